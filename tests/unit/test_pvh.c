/* test_pvh.c: pvh_parse on crafted ELF files (valid, truncated, foreign, overlapping, misplaced, without the PVH
 * note) and pvh_load into real guest memory: segments, bss, command line, initrd, hvm_start_info, memmap, GDT. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/e820.h"
#include "vmm/gmem.h"
#include "vmm/layout.h"
#include "vmm/pvh.h"

#define MiB	 (1ULL << 20)
#define NOTE_OFF 0x800
#define MAX_LOAD (PVH_MAX_SEGS + 2)

/* A synthetic vmlinux: ELF header, program headers (PT_LOADs, then one PT_NOTE), notes at NOTE_OFF, segment bytes
 * patterned by file offset. */
struct spec {
	uint8_t class, data;
	uint16_t type, machine;
	unsigned nload;
	struct {
		uint64_t off, filesz, paddr, memsz;
	} load[MAX_LOAD];
	bool note;	      /* write the PT_NOTE with the PVH note */
	uint32_t note_type;   /* of the PVH note */
	uint32_t descsz;      /* its descriptor: 4 or 8 */
	uint64_t entry;	      /* its value */
	uint64_t truncate_to; /* cut the file to this many bytes (0: don't) */
	uint16_t phentsize;   /* 0: sizeof(Elf64_Phdr) */
	bool phnum_set;	      /* e_phnum = phnum, whatever the headers written */
	uint16_t phnum;
};

static struct spec good_spec(void)
{
	return (struct spec){
	    .class = ELFCLASS64,
	    .data = ELFDATA2LSB,
	    .type = ET_EXEC,
	    .machine = EM_X86_64,
	    .nload = 2,
	    /* text at 16 MiB (with 8 KiB of bss), data at 18 MiB, out of file order */
	    .load = {{.off = 0x1000, .filesz = 0x3000, .paddr = 16 * MiB, .memsz = 0x5000},
		     {.off = 0x4000, .filesz = 0x1800, .paddr = 18 * MiB, .memsz = 0x1800}},
	    .note = true,
	    .note_type = 18,
	    .descsz = 8,
	    .entry = 16 * MiB + 0x850,
	};
}

static uint8_t file_byte(uint64_t off)
{
	return (uint8_t)(off * 5 + (off >> 8) * 11 + 3);
}

/* One note: name, type, descriptor, each padded to 4 bytes. Returns the bytes written. */
static size_t put_note(uint8_t *p, const char *name, uint32_t type, const void *desc, uint32_t descsz)
{
	Elf64_Nhdr nh = {.n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = descsz, .n_type = type};
	size_t n = sizeof(nh);

	memcpy(p, &nh, sizeof(nh));
	memcpy(p + n, name, nh.n_namesz);
	n += (nh.n_namesz + 3) & ~3U;
	memcpy(p + n, desc, descsz);
	n += (descsz + 3) & ~3U;
	return n;
}

/* A memfd holding the image; *len is its length before any truncation. */
static int build(const struct spec *s, uint8_t **out, size_t *len)
{
	uint64_t n = 0x6000; /* the good segments' data ends at 0x5800 */
	Elf64_Ehdr eh = {0};
	unsigned nph = s->nload + (s->note ? 1 : 0);
	uint8_t *b;
	size_t notes = 0;
	int fd;

	b = calloc(1, n);
	assert_non_null(b);
	for (uint64_t i = 0x1000; i < n; i++)
		b[i] = file_byte(i);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = s->class;
	eh.e_ident[EI_DATA] = s->data;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = s->type;
	eh.e_machine = s->machine;
	eh.e_version = EV_CURRENT;
	eh.e_entry = 0xffffffff81000000ULL; /* virtual: must not be used */
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = s->phentsize ? s->phentsize : sizeof(Elf64_Phdr);
	eh.e_phnum = s->phnum_set ? s->phnum : (uint16_t)nph;
	memcpy(b, &eh, sizeof(eh));
	if (s->note) {
		static const char linux_name[8] = "linux";
		static const uint8_t build_id[20] = {1, 2, 3};
		uint64_t e64 = s->entry;
		uint32_t e32 = (uint32_t)s->entry;

		/* Other notes first, some with the same owner: only name "Xen" + type 18 counts. */
		notes += put_note(b + NOTE_OFF + notes, "Xen", 6, linux_name, 6);
		notes += put_note(b + NOTE_OFF + notes, "GNU", 3, build_id, sizeof(build_id));
		notes += put_note(b + NOTE_OFF + notes, "Xe", 18, &e64, 8);
		notes += put_note(b + NOTE_OFF + notes, "Xen", s->note_type, s->descsz == 4 ? (void *)&e32 : &e64,
				  s->descsz);
	}
	for (unsigned i = 0; i < nph; i++) {
		Elf64_Phdr ph = {.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_align = 0x1000};

		if (i < s->nload) {
			ph.p_offset = s->load[i].off;
			ph.p_filesz = s->load[i].filesz;
			ph.p_paddr = s->load[i].paddr;
			ph.p_vaddr = 0xffffffff80000000ULL + s->load[i].paddr; /* not what we load by */
			ph.p_memsz = s->load[i].memsz;
		} else {
			ph = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = NOTE_OFF, .p_filesz = notes, .p_align = 4};
		}
		assert_true(sizeof(eh) + (i + 1) * sizeof(ph) <= NOTE_OFF);
		memcpy(b + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
	}
	fd = memfd_create("test-pvh", 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	if (s->truncate_to)
		assert_int_equal(ftruncate(fd, (off_t)s->truncate_to), 0);
	*out = b;
	*len = n;
	return fd;
}

static uint64_t file_len(int fd)
{
	off_t n = lseek(fd, 0, SEEK_END);

	assert_true(n >= 0);
	return (uint64_t)n;
}

static int parse_spec(const struct spec *s, const struct gmem *m, struct pvh_image *img, const char **why)
{
	uint8_t *b;
	size_t len;
	int fd = build(s, &b, &len), r;

	*why = NULL;
	memset(img, 0xa5, sizeof(*img));
	r = pvh_parse(img, fd, file_len(fd), m, why);
	close(fd);
	free(b);
	return r;
}

struct fixture {
	struct gmem m;
};

static int setup_ram(void **state, uint64_t ram)
{
	struct fixture *f = calloc(1, sizeof(*f));

	*state = f;
	return f && gmem_init(&f->m, ram) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	return setup_ram(state, 256 * MiB);
}

static int setup_big(void **state)
{
	return setup_ram(state, GUEST_MMIO_HOLE + 64 * MiB);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f)
		gmem_destroy(&f->m);
	free(f);
	return 0;
}

/* ---- pvh_is_elf, pvh_parse ---- */

static void test_is_elf(void **state)
{
	(void)state;
	assert_true(pvh_is_elf((const uint8_t *)"\177ELF\2\1", 6));
	assert_true(pvh_is_elf((const uint8_t *)"\177ELF", 4));
	assert_false(pvh_is_elf((const uint8_t *)"\177EL", 3));
	assert_false(pvh_is_elf((const uint8_t *)"MZ\0\0", 4));
	assert_false(pvh_is_elf((const uint8_t *)"", 0));
}

static void test_parse_good(void **state)
{
	struct fixture *f = *state;
	struct spec s = good_spec();
	struct pvh_image img;
	const char *why;

	assert_int_equal(parse_spec(&s, &f->m, &img, &why), 0);
	assert_int_equal(img.entry, 16 * MiB + 0x850);
	assert_int_equal(img.nseg, 2);
	assert_int_equal(img.seg[0].off, 0x1000);
	assert_int_equal(img.seg[0].filesz, 0x3000);
	assert_int_equal(img.seg[0].paddr, 16 * MiB);
	assert_int_equal(img.seg[0].memsz, 0x5000);
	assert_int_equal(img.seg[1].paddr, 18 * MiB);
	assert_int_equal(img.lo, 16 * MiB);
	assert_int_equal(img.hi, 18 * MiB + 0x1800);
	/* A 4-byte descriptor works too; a segment that is all bss and an empty segment are fine. */
	s.descsz = 4;
	s.nload = 4;
	s.load[2] = (typeof(s.load[2])){.off = 0, .filesz = 0, .paddr = 20 * MiB, .memsz = 0x10000};
	s.load[3] = (typeof(s.load[3])){.off = 0x1000, .filesz = 0, .paddr = 0, .memsz = 0};
	assert_int_equal(parse_spec(&s, &f->m, &img, &why), 0);
	assert_int_equal(img.entry, 16 * MiB + 0x850);
	assert_int_equal(img.nseg, 3);
	assert_int_equal(img.hi, 20 * MiB + 0x10000);
	/* Segments that touch but do not overlap; the entry at the first and the last byte of file data. */
	s = good_spec();
	s.load[1].paddr = 16 * MiB + 0x5000;
	s.entry = 16 * MiB;
	assert_int_equal(parse_spec(&s, &f->m, &img, &why), 0);
	s.entry = 16 * MiB + 0x5000 + 0x17ff;
	assert_int_equal(parse_spec(&s, &f->m, &img, &why), 0);
	/* The last page of RAM. */
	s = good_spec();
	s.load[1].paddr = 256 * MiB - 0x1800;
	assert_int_equal(parse_spec(&s, &f->m, &img, &why), 0);
}

struct bad {
	const char *what;
	bool uniq; /* its reason differs from every other uniq case's */
	struct spec s;
	int err;
};

static void test_parse_rejects(void **state)
{
	struct fixture *f = *state;
	struct bad bad[40];
	const char *whys[40];
	unsigned nb = 0;

#define BAD(uniq_, name, errno_, ...)                                                          \
	do {                                                                                   \
		struct spec s_ = good_spec();                                                  \
		__VA_ARGS__;                                                                   \
		assert_true(nb < sizeof(bad) / sizeof(bad[0]));                                \
		bad[nb++] = (struct bad){.what = name, .uniq = uniq_, .s = s_, .err = errno_}; \
	} while (0)
	BAD(1, "overlap", -ENOEXEC, s_.load[1].paddr = 16 * MiB + 0x4fff);
	BAD(0, "overlap reversed", -ENOEXEC, s_.load[0].paddr = 18 * MiB + 0x17ff);
	BAD(1, "beyond file", -ENOEXEC, s_.load[1].filesz = 0x100000; s_.load[1].memsz = 0x100000);
	BAD(0, "offset overflow", -ENOEXEC, s_.load[1].off = UINT64_MAX - 0x10);
	BAD(0, "truncated segment", -ENOEXEC, s_.truncate_to = 0x5000);
	BAD(1, "filesz > memsz", -ENOEXEC, s_.load[0].memsz = 0x2fff);
	BAD(1, "outside RAM", -ENOSPC, s_.load[1].paddr = 256 * MiB - 0x1000);
	BAD(0, "far outside RAM", -ENOSPC, s_.load[1].paddr = 5ULL << 40);
	BAD(1, "in the MMIO hole", -ENOEXEC, s_.load[1].paddr = GUEST_MMIO_HOLE + 0x1000);
	BAD(0, "over the MMIO hole", -ENOEXEC, s_.load[1].paddr = GUEST_MMIO_HOLE - 0x1000);
	BAD(1, "below 1 MiB", -ENOEXEC, s_.load[1].paddr = 0x80000);
	BAD(0, "at 0", -ENOEXEC, s_.load[1].paddr = 0);
	BAD(1, "wraps", -ENOEXEC, s_.load[1].paddr = UINT64_MAX - 0x1000);
	BAD(1, "no PVH note", -ENOEXEC, s_.note = false);
	BAD(0, "other note type", -ENOEXEC, s_.note_type = 17);
	BAD(1, "32-bit class", -ENOEXEC, s_.class = ELFCLASS32);
	BAD(1, "big-endian", -ENOEXEC, s_.data = ELFDATA2MSB);
	BAD(1, "wrong machine", -ENOEXEC, s_.machine = EM_AARCH64);
	BAD(0, "i386", -ENOEXEC, s_.machine = EM_386);
	BAD(1, "not ET_EXEC", -ENOEXEC, s_.type = ET_DYN);
	BAD(1, "entry outside segments", -ENOEXEC, s_.entry = 17 * MiB);
	BAD(0, "entry in bss", -ENOEXEC, s_.entry = 16 * MiB + 0x3000);
	BAD(0, "entry below segments", -ENOEXEC, s_.entry = 0x1000);
	BAD(1, "entry above 4 GiB", -ENOEXEC, s_.entry = (1ULL << 32) + 16 * MiB);
	BAD(1, "entry 2 bytes", -ENOEXEC, s_.descsz = 2);
	BAD(1, "truncated phdrs", -ENOEXEC, s_.truncate_to = 100);
	BAD(0, "truncated phdrs by one", -ENOEXEC, s_.truncate_to = 64 + 3 * 56 - 1);
	BAD(1, "truncated ehdr", -ENOEXEC, s_.truncate_to = 40);
	BAD(1, "phentsize", -ENOEXEC, s_.phentsize = 32);
	BAD(1, "no phdrs", -ENOEXEC, s_.phnum_set = true; s_.phnum = 0);
	BAD(1, "too many phdrs", -ENOEXEC, s_.phnum_set = true; s_.phnum = 0xffff);
	BAD(1, "no segments", -ENOEXEC, s_.nload = 0);
	BAD(
	    1, "too many segments", -ENOEXEC, s_.nload = PVH_MAX_SEGS + 1; for (unsigned i = 2; i < s_.nload; i++) {
		    s_.load[i] =
			(typeof(s_.load[i])){.off = 0x1000, .filesz = 0x10, .paddr = (20 + i) * MiB, .memsz = 0x10};
	    });
#undef BAD
	for (unsigned i = 0; i < nb; i++) {
		struct pvh_image img;
		const char *why;
		int r = parse_spec(&bad[i].s, &f->m, &img, &why);

		if (r != bad[i].err || !why || !*why)
			fail_msg("%s: got %d (%s), want %d", bad[i].what, r, why ? why : "no reason", bad[i].err);
		whys[i] = why;
	}
	for (unsigned a = 0; a < nb; a++)
		for (unsigned b = a + 1; b < nb; b++)
			if (bad[a].uniq && bad[b].uniq && !strcmp(whys[a], whys[b]))
				fail_msg("%s and %s share \"%s\"", bad[a].what, bad[b].what, whys[a]);
}

static void test_parse_not_elf(void **state)
{
	struct fixture *f = *state;
	struct pvh_image img;
	const char *why = NULL;
	uint8_t buf[4096];
	int fd = memfd_create("test-pvh", 0);

	assert_true(fd >= 0);
	/* A bzImage-like file: boot sector signature and HdrS. */
	memset(buf, 0x90, sizeof(buf));
	buf[0x1fe] = 0x55;
	buf[0x1ff] = 0xaa;
	memcpy(buf + 0x202, "HdrS", 4);
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	assert_int_equal(pvh_parse(&img, fd, sizeof(buf), &f->m, &why), -ENOEXEC);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
	/* Empty, and three bytes of the magic. */
	assert_int_equal(ftruncate(fd, 0), 0);
	why = NULL;
	assert_int_equal(pvh_parse(&img, fd, 0, &f->m, &why), -ENOEXEC);
	assert_non_null(why);
	assert_int_equal(pwrite(fd, "\177EL", 3, 0), 3);
	why = NULL;
	assert_int_equal(pvh_parse(&img, fd, 3, &f->m, &why), -ENOEXEC);
	assert_non_null(why);
	close(fd);
}

static void test_parse_big_ram(void **state)
{
	struct fixture *f = *state;
	struct spec s = good_spec();
	struct pvh_image img;
	const char *why;

	/* Up to the hole is fine, into it is not, and RAM above 4 GiB takes segments too. */
	s.load[1].paddr = GUEST_MMIO_HOLE - 0x1800;
	assert_int_equal(parse_spec(&s, &f->m, &img, &why), 0);
	s.load[1].paddr = GUEST_MMIO_HOLE - 0x1000;
	assert_int_equal(parse_spec(&s, &f->m, &img, &why), -ENOEXEC);
	assert_non_null(why);
	s.load[1].paddr = GUEST_MMIO_HOLE_END - 0x1000;
	assert_int_equal(parse_spec(&s, &f->m, &img, &why), -ENOEXEC);
	s.load[1].paddr = GUEST_MMIO_HOLE_END;
	assert_int_equal(parse_spec(&s, &f->m, &img, &why), 0);
	s.load[1].paddr = GUEST_MMIO_HOLE_END + 64 * MiB - 0x1000;
	assert_int_equal(parse_spec(&s, &f->m, &img, &why), -ENOSPC);
}

/* ---- pvh_load ---- */

static int initrd_fd(size_t len, uint8_t **data)
{
	uint8_t *b = malloc(len);
	int fd = memfd_create("test-pvh-initrd", 0);

	assert_non_null(b);
	assert_true(fd >= 0);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(0xff - i * 3 - (i >> 9));
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	*data = b;
	return fd;
}

static void assert_flat_desc(uint64_t d, bool code)
{
	assert_int_equal(d & 0xffff, 0xffff);
	assert_int_equal((d >> 48) & 0xf, 0xf);
	assert_int_equal((d >> 16) & 0xffffff, 0);
	assert_int_equal(d >> 56, 0);
	assert_true(d & (1ULL << 47));		      /* present */
	assert_true(d & (1ULL << 44));		      /* code/data */
	assert_true(d & (1ULL << 55));		      /* 4 KiB granularity */
	assert_true(d & (1ULL << 54));		      /* 32-bit */
	assert_false(d & (1ULL << 53));		      /* not 64-bit */
	assert_int_equal(!!(d & (1ULL << 43)), code); /* executable */
	assert_true(d & (1ULL << 41));		      /* readable / writable */
	assert_int_equal((d >> 45) & 3, 0);	      /* DPL 0 */
}

static void check_memmap(const struct gmem *m, const struct pvh_start_info *si)
{
	struct boot_e820_entry e[8];
	int n = e820_build(e, 8, m->r, m->n);

	assert_true(n > 0);
	assert_int_equal(si->memmap_entries, n);
	assert_int_equal(si->memmap_paddr, GUEST_PVH_INFO + PVH_MEMMAP_OFF);
	for (int i = 0; i < n; i++) {
		struct pvh_memmap_entry me;

		assert_int_equal(gmem_read(m, &me, si->memmap_paddr + (uint64_t)i * sizeof(me), sizeof(me)), 0);
		assert_int_equal(me.addr, e[i].addr);
		assert_int_equal(me.size, e[i].size);
		assert_int_equal(me.type, e[i].type);
		assert_int_equal(me.reserved, 0);
	}
}

static void test_load_good(void **state)
{
	struct fixture *f = *state;
	struct spec s = good_spec();
	struct pvh_image img;
	struct boot_plan plan;
	struct pvh_start_info si;
	struct pvh_modlist_entry mod;
	const char *why = NULL, *cmdline = "console=ttyS0 rdinit=/init";
	uint8_t *file, *rd;
	size_t len, rd_len = 100000; /* not a page multiple */
	int fd = build(&s, &file, &len), ifd = initrd_fd(rd_len, &rd);
	uint64_t gdt[4];
	const uint8_t *p;

	assert_int_equal(pvh_parse(&img, fd, len, &f->m, &why), 0);
	/* Garbage where the loader writes: it must clear the bss and what it owns. */
	memset(gmem_ptr(&f->m, 16 * MiB, 0x5000), 0xcc, 0x5000);
	memset(gmem_ptr(&f->m, GUEST_PVH_INFO, 4096), 0xee, 4096);
	memset(gmem_ptr(&f->m, GUEST_CMDLINE_ADDR, 4096), 0xff, 4096);
	memset(&plan, 0xa5, sizeof(plan));
	assert_int_equal(pvh_load(&img, &f->m, fd, ifd, rd_len, cmdline, &plan, &why), 0);

	/* The plan. */
	assert_int_equal(plan.entry, 16 * MiB + 0x850);
	assert_false(plan.long_mode);
	assert_int_equal(plan.zero_page, 0);
	assert_int_equal(plan.start_info, GUEST_PVH_INFO);
	assert_int_equal(plan.kernel_addr, 16 * MiB);
	assert_int_equal(plan.kernel_end, 18 * MiB + 0x1800);
	assert_int_equal(plan.cmdline_addr, GUEST_CMDLINE_ADDR);
	assert_int_equal(plan.initrd_size, rd_len);
	assert_int_equal(plan.initrd_addr % 4096, 0);
	assert_true(plan.initrd_addr >= plan.kernel_end);
	assert_true(plan.initrd_addr + rd_len <= 256 * MiB);
	assert_true(plan.initrd_addr + rd_len > 256 * MiB - 4096); /* as high as it goes */
	assert_int_equal(plan.e820_entries, 3);

	/* Segments byte-exact at their physical addresses, the bss zeroed. */
	p = gmem_ptr(&f->m, 16 * MiB, 0x5000);
	assert_memory_equal(p, file + 0x1000, 0x3000);
	for (size_t i = 0x3000; i < 0x5000; i++)
		assert_int_equal(p[i], 0);
	assert_memory_equal(gmem_ptr(&f->m, 18 * MiB, 0x1800), file + 0x4000, 0x1800);

	/* Initrd and command line. */
	assert_memory_equal(gmem_ptr(&f->m, plan.initrd_addr, rd_len), rd, rd_len);
	assert_memory_equal(gmem_ptr(&f->m, GUEST_CMDLINE_ADDR, strlen(cmdline) + 1), cmdline, strlen(cmdline) + 1);

	/* hvm_start_info, its module list and memory map. */
	assert_int_equal(gmem_read(&f->m, &si, GUEST_PVH_INFO, sizeof(si)), 0);
	assert_int_equal(si.magic, 0x336ec578);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.flags, 0);
	assert_int_equal(si.nr_modules, 1);
	assert_int_equal(si.cmdline_paddr, GUEST_CMDLINE_ADDR);
	assert_int_equal(si.rsdp_paddr, GUEST_ACPI_ADDR);
	assert_int_equal(si.reserved, 0);
	assert_true(si.modlist_paddr >= GUEST_PVH_INFO + sizeof(si) &&
		    si.modlist_paddr + sizeof(mod) <= GUEST_PVH_INFO + 4096);
	assert_int_equal(gmem_read(&f->m, &mod, si.modlist_paddr, sizeof(mod)), 0);
	assert_int_equal(mod.paddr, plan.initrd_addr);
	assert_int_equal(mod.size, rd_len);
	assert_int_equal(mod.cmdline_paddr, 0);
	assert_int_equal(mod.reserved, 0);
	check_memmap(&f->m, &si);
	{
		struct pvh_memmap_entry me;

		assert_int_equal(gmem_read(&f->m, &me, si.memmap_paddr + 2 * sizeof(me), sizeof(me)), 0);
		assert_int_equal(me.addr, 1 * MiB);
		assert_int_equal(me.size, 255 * MiB);
		assert_int_equal(me.type, 1);
		assert_int_equal(gmem_read(&f->m, &me, si.memmap_paddr + 1 * sizeof(me), sizeof(me)), 0);
		assert_int_equal(me.type, 2);
		/* Nothing stale after the last entry. */
		assert_int_equal(gmem_read(&f->m, &me, si.memmap_paddr + 3 * sizeof(me), sizeof(me)), 0);
		assert_int_equal(me.addr | me.size | me.type, 0);
	}

	/* The boot GDT: 0x10 flat 32-bit code, 0x18 flat data. */
	assert_int_equal(gmem_read(&f->m, gdt, GUEST_GDT_ADDR, sizeof(gdt)), 0);
	assert_int_equal(gdt[0], 0);
	assert_flat_desc(gdt[2], true);
	assert_flat_desc(gdt[3], false);

	close(fd);
	close(ifd);
	free(file);
	free(rd);
}

static void test_load_no_initrd(void **state)
{
	struct fixture *f = *state;
	struct spec s = good_spec();
	struct pvh_image img;
	struct boot_plan plan;
	struct pvh_start_info si;
	const char *why = NULL;
	uint8_t *file;
	size_t len;
	int fd = build(&s, &file, &len);

	assert_int_equal(pvh_parse(&img, fd, len, &f->m, &why), 0);
	assert_int_equal(pvh_load(&img, &f->m, fd, -1, 0, "", &plan, &why), 0);
	assert_int_equal(plan.initrd_addr, 0);
	assert_int_equal(plan.initrd_size, 0);
	assert_int_equal(gmem_read(&f->m, &si, GUEST_PVH_INFO, sizeof(si)), 0);
	assert_int_equal(si.magic, 0x336ec578);
	assert_int_equal(si.nr_modules, 0);
	assert_int_equal(si.modlist_paddr, 0);
	assert_int_equal(*(const char *)gmem_ptr(&f->m, GUEST_CMDLINE_ADDR, 1), '\0');
	check_memmap(&f->m, &si);
	close(fd);
	free(file);
}

static void test_load_big_ram_initrd_below_hole(void **state)
{
	struct fixture *f = *state;
	struct spec s = good_spec();
	struct pvh_image img;
	struct boot_plan plan;
	struct pvh_start_info si;
	const char *why = NULL;
	uint8_t *file, *rd;
	size_t len, rd_len = 12345;
	int fd = build(&s, &file, &len), ifd = initrd_fd(rd_len, &rd);

	assert_int_equal(pvh_parse(&img, fd, len, &f->m, &why), 0);
	assert_int_equal(pvh_load(&img, &f->m, fd, ifd, rd_len, "x", &plan, &why), 0);
	assert_int_equal(plan.initrd_addr % 4096, 0);
	assert_true(plan.initrd_addr + rd_len <= GUEST_MMIO_HOLE);
	assert_true(plan.initrd_addr + rd_len > GUEST_MMIO_HOLE - 4096);
	assert_memory_equal(gmem_ptr(&f->m, plan.initrd_addr, rd_len), rd, rd_len);
	assert_int_equal(plan.e820_entries, 4);
	assert_int_equal(gmem_read(&f->m, &si, GUEST_PVH_INFO, sizeof(si)), 0);
	check_memmap(&f->m, &si);
	close(fd);
	close(ifd);
	free(file);
	free(rd);
}

static void test_load_errors(void **state)
{
	struct fixture *f = *state;
	struct spec s = good_spec();
	struct pvh_image img;
	struct boot_plan plan;
	const char *why;
	uint8_t *file, *rd;
	size_t len, rd_len = 8192;
	int fd = build(&s, &file, &len), ifd = initrd_fd(rd_len, &rd);
	char *cmd;

	why = NULL;
	assert_int_equal(pvh_parse(&img, fd, len, &f->m, &why), 0);
	/* The initrd file is shorter than the size we were told. */
	why = NULL;
	assert_int_equal(pvh_load(&img, &f->m, fd, ifd, rd_len + 1, "x", &plan, &why), -EIO);
	assert_non_null(why);
	/* It does not fit between the kernel and the top of RAM. */
	why = NULL;
	assert_int_equal(pvh_load(&img, &f->m, fd, ifd, 256 * MiB - 18 * MiB, "x", &plan, &why), -ENOSPC);
	assert_non_null(why);
	why = NULL;
	assert_int_equal(pvh_load(&img, &f->m, fd, ifd, UINT64_MAX, "x", &plan, &why), -ENOSPC);
	assert_non_null(why);
	/* One that fits loads again. */
	why = NULL;
	assert_int_equal(pvh_load(&img, &f->m, fd, ifd, rd_len, "x", &plan, &why), 0);
	/* Command line: 64 KiB - 1 characters fit, one more does not. */
	cmd = malloc(GUEST_CMDLINE_MAX + 1);
	assert_non_null(cmd);
	memset(cmd, 'c', GUEST_CMDLINE_MAX);
	cmd[GUEST_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(pvh_load(&img, &f->m, fd, -1, 0, cmd, &plan, &why), 0);
	cmd[GUEST_CMDLINE_MAX - 1] = 'c';
	cmd[GUEST_CMDLINE_MAX] = '\0';
	why = NULL;
	assert_int_equal(pvh_load(&img, &f->m, fd, -1, 0, cmd, &plan, &why), -E2BIG);
	assert_non_null(why);
	free(cmd);
	/* The kernel file shrank after parsing. */
	assert_int_equal(ftruncate(fd, 0x4000 + 0x17ff), 0);
	why = NULL;
	assert_int_equal(pvh_load(&img, &f->m, fd, -1, 0, "x", &plan, &why), -EIO);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
	close(fd);
	close(ifd);
	free(file);
	free(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_is_elf),
	    cmocka_unit_test_setup_teardown(test_parse_good, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parse_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parse_not_elf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_parse_big_ram, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_load_good, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_no_initrd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_big_ram_initrd_below_hole, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
