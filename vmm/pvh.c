/* pvh.c: parse an ELF vmlinux with libelf and load it for its PVH entry; every size from the file is checked. */
#include "vmm/pvh.h"

#include <endian.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>

#include "firmware/e820.h"
#include "vmm/io.h"
#include "vmm/layout.h"

#define NOTE_SEG_MAX (64 * 1024) /* a PT_NOTE larger than this is not a kernel's (Linux: well under 4 KiB) */
#define PAGE	     4096ULL

_Static_assert(E820_TYPE_RAM == PVH_MEMMAP_RAM && E820_TYPE_RESERVED == PVH_MEMMAP_RESERVED, "same types");

/* The boot GDT, as bzimage_load writes it for a 32-bit entry (its table is private to bzimage.c, so these few
 * lines are repeated): 0x10 flat 32-bit code, 0x18 flat data, the selectors the vCPU setup loads. */
static const uint64_t pvh_gdt[4] = {0, 0, 0x00cf9b000000ffffULL, 0x00cf93000000ffffULL};

bool pvh_is_elf(const uint8_t *buf, size_t len)
{
	return len >= SELFMAG && !memcmp(buf, ELFMAG, SELFMAG);
}

static int fail(const char **why, const char *reason, int err)
{
	*why = reason;
	return err;
}

/* Whether [gpa, gpa + len) lies inside one RAM region, from the region list alone (no host mapping needed). */
static bool in_ram(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct gmem_region *r = &m->r[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return true;
	}
	return false;
}

/* The ELF header: the machine and kind of file we boot, and program headers that lie inside the file. */
static int check_ehdr(Elf *e, uint64_t file_size, size_t *phnum, const char **why)
{
	GElf_Ehdr eh;
	uint64_t size, end;

	if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh))
		return fail(why, "malformed ELF (libelf cannot read its header)", -ENOEXEC);
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(why, "not a PVH kernel: a big-endian ELF", -ENOEXEC);
	if (eh.e_machine != EM_X86_64)
		return fail(why, "not a PVH kernel: an ELF for another machine than x86-64", -ENOEXEC);
	if (eh.e_type != ET_EXEC)
		return fail(why, "not a PVH kernel: not an ELF executable (ET_EXEC)", -ENOEXEC);
	/* The raw count (PN_XNUM, for more than 65534, is above our limit too): elf_getphdrnum would quietly
	 * shorten a table cut off by the end of the file. */
	if (eh.e_phnum == 0)
		return fail(why, "not a PVH kernel: no program headers", -ENOEXEC);
	if (eh.e_phnum > PVH_MAX_PHDRS)
		return fail(why, "malformed ELF: too many program headers", -ENOEXEC);
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return fail(why, "malformed ELF: unexpected program header size", -ENOEXEC);
	if (__builtin_mul_overflow((uint64_t)eh.e_phnum, (uint64_t)sizeof(Elf64_Phdr), &size) ||
	    __builtin_add_overflow(eh.e_phoff, size, &end) || end > file_size)
		return fail(why, "truncated ELF: the file ends inside the program headers", -ENOEXEC);
	if (elf_getphdrnum(e, phnum) < 0 || *phnum != eh.e_phnum)
		return fail(why, "malformed ELF: bad program header table", -ENOEXEC);
	return 0;
}

/* One PT_LOAD segment: inside the file, not overlapping the others, in RAM at or above 1 MiB, not in the hole. */
static int add_segment(struct pvh_image *img, const GElf_Phdr *ph, uint64_t file_size, const struct gmem *m,
		       const char **why)
{
	uint64_t fend, end;

	if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &fend) || fend > file_size)
		return fail(why, "truncated ELF: a segment's data lies beyond the end of the file", -ENOEXEC);
	if (ph->p_filesz > ph->p_memsz)
		return fail(why, "malformed ELF: a segment is larger in the file than in memory", -ENOEXEC);
	if (ph->p_memsz == 0)
		return 0;
	if (img->nseg == PVH_MAX_SEGS)
		return fail(why, "malformed ELF: too many loadable segments", -ENOEXEC);
	if (__builtin_add_overflow(ph->p_paddr, ph->p_memsz, &end))
		return fail(why, "malformed ELF: a segment's physical address range wraps around", -ENOEXEC);
	if (ph->p_paddr < GUEST_HIMEM_START)
		return fail(why, "kernel segment below 1 MiB, where kvmini's boot data lives", -ENOEXEC);
	if (ph->p_paddr < GUEST_MMIO_HOLE_END && end > GUEST_MMIO_HOLE)
		return fail(why, "kernel segment in the MMIO hole (3 GiB to 4 GiB)", -ENOEXEC);
	if (m && !in_ram(m, ph->p_paddr, ph->p_memsz))
		return fail(why, "kernel segment beyond guest RAM (raise -m)", -ENOSPC);
	for (unsigned i = 0; i < img->nseg; i++) {
		/* Both ranges are known not to wrap: [a, a + as) and [b, b + bs) meet iff a < b + bs && b < a + as. */
		if (ph->p_paddr < img->seg[i].paddr + img->seg[i].memsz && img->seg[i].paddr < end)
			return fail(why, "malformed ELF: loadable segments overlap", -ENOEXEC);
	}
	img->seg[img->nseg].off = ph->p_offset;
	img->seg[img->nseg].filesz = ph->p_filesz;
	img->seg[img->nseg].paddr = ph->p_paddr;
	img->seg[img->nseg].memsz = ph->p_memsz;
	if (img->nseg == 0 || ph->p_paddr < img->lo)
		img->lo = ph->p_paddr;
	if (end > img->hi)
		img->hi = end;
	img->nseg++;
	return 0;
}

/* Look for the Xen PHYS32_ENTRY note in one PT_NOTE segment. 0 with *found set when it is there. */
static int find_entry(Elf *e, const GElf_Phdr *ph, uint64_t file_size, uint64_t *entry, bool *found, const char **why)
{
	uint64_t fend;
	Elf_Data *d;
	GElf_Nhdr nh;
	size_t pos = 0, next, name_off, desc_off, nend, dend;

	if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &fend) || fend > file_size)
		return fail(why, "truncated ELF: a note segment lies beyond the end of the file", -ENOEXEC);
	if (ph->p_filesz > NOTE_SEG_MAX)
		return fail(why, "malformed ELF: a note segment is too large", -ENOEXEC);
	if (ph->p_filesz == 0)
		return 0;
	d = elf_getdata_rawchunk(e, (int64_t)ph->p_offset, ph->p_filesz, ph->p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
	if (!d || !d->d_buf)
		return fail(why, "malformed ELF: cannot read a note segment", -ENOEXEC);
	while ((next = gelf_getnote(d, pos, &nh, &name_off, &desc_off)) > 0) {
		const uint8_t *b = d->d_buf;

		pos = next;
		/* gelf_getnote bounds both against the chunk; checked again here, it costs nothing. */
		if (__builtin_add_overflow(name_off, (size_t)nh.n_namesz, &nend) || nend > d->d_size ||
		    __builtin_add_overflow(desc_off, (size_t)nh.n_descsz, &dend) || dend > d->d_size)
			return fail(why, "malformed ELF: a note runs past its segment", -ENOEXEC);
		if (nh.n_type != PVH_NOTE_PHYS32_ENTRY || nh.n_namesz != sizeof(PVH_NOTE_NAME) ||
		    memcmp(b + name_off, PVH_NOTE_NAME, sizeof(PVH_NOTE_NAME)))
			continue;
		if (nh.n_descsz == 4) {
			uint32_t v;

			memcpy(&v, b + desc_off, sizeof(v));
			*entry = le32toh(v);
		} else if (nh.n_descsz == 8) {
			uint64_t v;

			memcpy(&v, b + desc_off, sizeof(v));
			*entry = le64toh(v);
			if (*entry > UINT32_MAX)
				return fail(why, "malformed PVH note: the 32-bit entry point is above 4 GiB", -ENOEXEC);
		} else {
			return fail(why, "malformed PVH note: the entry point is not 4 or 8 bytes", -ENOEXEC);
		}
		*found = true;
		return 0;
	}
	return 0;
}

static int parse_elf(struct pvh_image *img, Elf *e, uint64_t file_size, const struct gmem *m, const char **why)
{
	size_t phnum;
	bool found = false;
	int err;

	if ((err = check_ehdr(e, file_size, &phnum, why)) < 0)
		return err;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph))
			return fail(why, "malformed ELF: cannot read a program header", -ENOEXEC);
		if (ph.p_type == PT_LOAD)
			err = add_segment(img, &ph, file_size, m, why);
		else if (ph.p_type == PT_NOTE && !found)
			err = find_entry(e, &ph, file_size, &img->entry, &found, why);
		if (err < 0)
			return err;
	}
	if (img->nseg == 0)
		return fail(why, "not a PVH kernel: no loadable segments", -ENOEXEC);
	if (!found)
		return fail(why, "not a PVH kernel: no XEN_ELFNOTE_PHYS32_ENTRY note (needs CONFIG_PVH=y)", -ENOEXEC);
	for (unsigned i = 0; i < img->nseg; i++) {
		if (img->entry >= img->seg[i].paddr && img->entry - img->seg[i].paddr < img->seg[i].filesz)
			return 0;
	}
	return fail(why, "malformed PVH kernel: the entry point is not inside a loaded segment", -ENOEXEC);
}

int pvh_parse(struct pvh_image *img, int fd, uint64_t file_size, const struct gmem *m, const char **why)
{
	unsigned char ident[EI_NIDENT];
	Elf *e;
	int err;

	memset(img, 0, sizeof(*img));
	/* Look at the identification ourselves first: libelf reads a whole non-ELF file into memory. */
	if (file_size < sizeof(ident) || io_pread_full(fd, ident, sizeof(ident), 0) < 0 || !pvh_is_elf(ident, SELFMAG))
		return fail(why, "not an ELF file", -ENOEXEC);
	if (ident[EI_CLASS] != ELFCLASS64)
		return fail(why, "not a PVH kernel: a 32-bit ELF (kvmini boots x86-64 kernels)", -ENOEXEC);
	if (file_size < sizeof(Elf64_Ehdr))
		return fail(why, "truncated ELF: the file ends inside the ELF header", -ENOEXEC);
	if (elf_version(EV_CURRENT) == EV_NONE)
		return fail(why, "libelf refuses to work (version mismatch)", -EINVAL);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e)
		return fail(why, "malformed or truncated ELF (libelf cannot open it)", -ENOEXEC);
	err = parse_elf(img, e, file_size, m, why);
	elf_end(e);
	if (err < 0)
		memset(img, 0, sizeof(*img));
	return err;
}

/* The initrd's address: page-aligned, as high as RAM below the MMIO hole allows, above the kernel. */
static int place_initrd(const struct pvh_image *img, uint64_t low_ram_end, uint64_t size, uint64_t *addr)
{
	uint64_t top = (low_ram_end < GUEST_MMIO_HOLE ? low_ram_end : GUEST_MMIO_HOLE) & ~(PAGE - 1);
	uint64_t floor = (img->hi + PAGE - 1) & ~(PAGE - 1); /* hi is below the hole: no overflow */

	if (size > top || ((top - size) & ~(PAGE - 1)) < floor)
		return -ENOSPC;
	*addr = (top - size) & ~(PAGE - 1);
	return 0;
}

/* hvm_start_info, then (same page) the module list and the memory map. Returns the memory map's entry count. */
static int write_start_info(struct gmem *m, const struct boot_plan *plan, const char **why)
{
	struct boot_e820_entry e820[PVH_MEMMAP_MAX];
	struct pvh_start_info si = {0};
	void *page = gmem_ptr(m, GUEST_PVH_INFO, PAGE);
	int n = e820_build(e820, PVH_MEMMAP_MAX, m->r, m->n);

	if (n < 0)
		return fail(why, "cannot build the memory map", n);
	if (!page)
		return fail(why, "no room for the PVH start info", -ENOSPC);
	memset(page, 0, PAGE);
	for (int i = 0; i < n; i++) {
		struct pvh_memmap_entry me = {.addr = e820[i].addr, .size = e820[i].size, .type = e820[i].type};

		if (gmem_write(m, GUEST_PVH_INFO + PVH_MEMMAP_OFF + (uint64_t)i * sizeof(me), &me, sizeof(me)) < 0)
			return fail(why, "no room for the PVH memory map", -ENOSPC);
	}
	if (plan->initrd_addr) {
		struct pvh_modlist_entry mod = {.paddr = plan->initrd_addr, .size = plan->initrd_size};

		if (gmem_write(m, GUEST_PVH_INFO + PVH_MODLIST_OFF, &mod, sizeof(mod)) < 0)
			return fail(why, "no room for the PVH module list", -ENOSPC);
		si.nr_modules = 1;
		si.modlist_paddr = GUEST_PVH_INFO + PVH_MODLIST_OFF;
	}
	si.magic = PVH_START_MAGIC;
	si.version = PVH_START_VERSION;
	si.cmdline_paddr = plan->cmdline_addr;
	si.rsdp_paddr = GUEST_ACPI_ADDR;
	si.memmap_paddr = GUEST_PVH_INFO + PVH_MEMMAP_OFF;
	si.memmap_entries = (uint32_t)n;
	if (gmem_write(m, GUEST_PVH_INFO, &si, sizeof(si)) < 0)
		return fail(why, "no room for the PVH start info", -ENOSPC);
	return n;
}

int pvh_load(const struct pvh_image *img, struct gmem *m, int kfd, int ifd, uint64_t initrd_size, const char *cmdline,
	     struct boot_plan *plan, const char **why)
{
	size_t clen = strlen(cmdline);
	uint8_t *dst;
	int n, err;

	memset(plan, 0, sizeof(*plan));
	if (img->nseg == 0 || img->nseg > PVH_MAX_SEGS)
		return fail(why, "no parsed kernel to load", -EINVAL);
	if (clen > GUEST_CMDLINE_MAX - 1)
		return fail(why, "kernel command line too long (64 KiB at most)", -E2BIG);
	for (unsigned i = 0; i < img->nseg; i++) {
		dst = gmem_ptr(m, img->seg[i].paddr, img->seg[i].memsz);
		if (!dst || img->seg[i].filesz > img->seg[i].memsz)
			return fail(why, "kernel segment beyond guest RAM (raise -m)", -ENOSPC);
		err = io_pread_full(kfd, dst, img->seg[i].filesz, img->seg[i].off);
		if (err < 0)
			return fail(why, err == -EIO ? "truncated kernel (the file shrank)" : "cannot read the kernel",
				    err);
		memset(dst + img->seg[i].filesz, 0, img->seg[i].memsz - img->seg[i].filesz);
	}
	if (ifd >= 0) {
		if (place_initrd(img, gmem_low_end(m), initrd_size, &plan->initrd_addr) < 0)
			return fail(why, "initrd does not fit in guest memory beside the kernel (raise -m)", -ENOSPC);
		dst = gmem_ptr(m, plan->initrd_addr, initrd_size);
		if (!dst)
			return fail(why, "initrd does not fit in guest memory beside the kernel (raise -m)", -ENOSPC);
		err = io_pread_full(ifd, dst, initrd_size, 0);
		if (err < 0)
			return fail(why,
				    err == -EIO ? "truncated initrd (shorter than its size)" : "cannot read the initrd",
				    err);
		plan->initrd_size = initrd_size;
	}
	if (gmem_write(m, GUEST_CMDLINE_ADDR, cmdline, clen + 1) < 0)
		return fail(why, "no room for the command line", -ENOSPC);
	plan->cmdline_addr = GUEST_CMDLINE_ADDR;
	plan->cmdline_size = clen + 1;
	if ((n = write_start_info(m, plan, why)) < 0)
		return n;
	if (gmem_write(m, GUEST_GDT_ADDR, pvh_gdt, sizeof(pvh_gdt)) < 0)
		return fail(why, "cannot write the boot GDT", -EINVAL);
	plan->entry = img->entry;
	plan->long_mode = false;
	plan->zero_page = 0;
	plan->start_info = GUEST_PVH_INFO;
	plan->kernel_addr = img->lo;
	plan->kernel_end = img->hi;
	plan->e820_entries = (unsigned)n;
	plan->gdt_addr = GUEST_GDT_ADDR;
	plan->gdt_size = sizeof(pvh_gdt);
	return 0;
}
