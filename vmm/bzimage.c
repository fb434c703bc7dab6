/* bzimage.c: parse and load a bzImage per the Linux x86 boot protocol; every size from the file is checked. */
#include "vmm/bzimage.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "firmware/bootparams.h"
#include "firmware/e820.h"
#include "firmware/pagetables.h"
#include "vmm/io.h"
#include "vmm/layout.h"

#define HDR_OFF	   0x1f1      /* struct setup_header starts here in the file and in the zero page */
#define HDRS_MAGIC 0x53726448 /* "HdrS" */

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int bzimage_parse(struct bzimage *bz, const uint8_t *buf, size_t len, uint64_t file_size, const char **why)
{
	size_t end;

	memset(bz, 0, sizeof(*bz));
	if (len > file_size)
		len = file_size;
	if (len >= 4 && !memcmp(buf, "\177ELF", 4)) {
		*why = "an ELF file, not a bzImage";
		return -ENOEXEC;
	}
	if (len < 0x206) {
		*why = "not a bzImage (too short for a Linux boot header)";
		return -ENOEXEC;
	}
	if (buf[0x1fe] != 0x55 || buf[0x1ff] != 0xaa || memcmp(buf + 0x202, "HdrS", 4)) {
		*why = "not a bzImage (no Linux boot header signature)";
		return -ENOEXEC;
	}
	/* The header ends where the jump at 0x200 lands: 0x202 + its 8-bit displacement. */
	end = 0x202 + buf[0x201];
	if (end > len) {
		*why = "truncated bzImage (file ends inside the boot header)";
		return -ENOEXEC;
	}
	bz->hdr_len = end - HDR_OFF;
	if (bz->hdr_len > sizeof(bz->hdr))
		bz->hdr_len = sizeof(bz->hdr); /* a newer kernel's longer header: we only need the fields we know */
	memcpy(&bz->hdr, buf + HDR_OFF, bz->hdr_len);
	bz->version = bz->hdr.version;
	if (bz->version < BZIMAGE_MIN_PROTOCOL) {
		*why = "boot protocol too old (kvmini needs 2.06 or later)";
		return -ENOEXEC;
	}
	if (!(bz->hdr.loadflags & LOADED_HIGH)) {
		*why = "a zImage (loaded below 1 MiB), not a bzImage";
		return -ENOEXEC;
	}
	bz->setup_size = ((uint64_t)(bz->hdr.setup_sects ? bz->hdr.setup_sects : 4) + 1) * 512;
	if (bz->setup_size >= file_size) {
		*why = "truncated bzImage (no kernel after the setup code)";
		return -ENOEXEC;
	}
	bz->payload_off = bz->setup_size;
	bz->payload_size = file_size - bz->setup_size;
	/* syssize counts 16-byte paragraphs of protected-mode code: a shorter file was cut off. */
	if ((uint64_t)bz->hdr.syssize * 16 > bz->payload_size) {
		*why = "truncated bzImage (the header promises more kernel than the file holds)";
		return -ENOEXEC;
	}
	if (bz->payload_size > GUEST_MEM_MAX) {
		*why = "kernel image too large";
		return -EINVAL;
	}
	bz->cmdline_max = bz->hdr.cmdline_size;
	if (bz->cmdline_max > GUEST_CMDLINE_MAX - 1)
		bz->cmdline_max = GUEST_CMDLINE_MAX - 1;
	bz->initrd_max = bz->hdr.initrd_addr_max ? bz->hdr.initrd_addr_max : 0x37ffffff;
	bz->entry64 = bz->version >= 0x020c && (bz->hdr.xloadflags & XLF_KERNEL_64);

	/* Footprint: the file payload at 1 MiB, and (2.10+) init_size bytes from where the kernel will decompress
	 * itself: a relocatable kernel moves up to an aligned address no lower than pref_address. */
	bz->mem_end = GUEST_KERNEL_ADDR + bz->payload_size;
	if (bz->version >= 0x020a) {
		uint64_t base = GUEST_KERNEL_ADDR, a = bz->hdr.kernel_alignment;

		if (bz->hdr.relocatable_kernel && a && !(a & (a - 1)) && a <= (1ULL << 30))
			base = align_up(base, a);
		if (bz->hdr.pref_address > base && bz->hdr.pref_address < GUEST_MMIO_HOLE)
			base = bz->hdr.pref_address;
		if (base + bz->hdr.init_size > bz->mem_end)
			bz->mem_end = base + bz->hdr.init_size;
	}
	return 0;
}

int bzimage_place_initrd(const struct bzimage *bz, uint64_t low_ram_end, uint64_t size, uint64_t *addr)
{
	uint64_t top = low_ram_end;

	if (bz->initrd_max < top - 1)
		top = bz->initrd_max + 1;
	top &= ~4095ULL;
	if (size > top || ((top - size) & ~4095ULL) < align_up(bz->mem_end, 4096))
		return -ENOSPC;
	*addr = (top - size) & ~4095ULL;
	return 0;
}

static const uint64_t boot_gdt[4] = {
    0, 0, 0x00af9b000000ffffULL, /* 0x10: code; L=1 for 64-bit entry (vcpu setup picks the 32-bit form when needed) */
    0x00cf93000000ffffULL,	 /* 0x18: flat 4 GiB data */
};

int bzimage_load(const struct bzimage *bz, struct gmem *m, int kfd, int ifd, uint64_t initrd_size, const char *cmdline,
		 struct boot_plan *plan, const char **why)
{
	struct boot_e820_entry e820[E820_MAX_ENTRIES_ZEROPAGE];
	struct bootparams_args args = {0};
	uint64_t gdt[4];
	size_t clen = strlen(cmdline);
	void *dst;
	int n, err;

	memset(plan, 0, sizeof(*plan));
	if (bz->mem_end > gmem_low_end(m)) {
		*why = "guest memory too small for this kernel (raise -m)";
		return -ENOSPC;
	}
	if (clen > bz->cmdline_max) {
		*why = "kernel command line too long for this kernel";
		return -E2BIG;
	}
	dst = gmem_ptr(m, GUEST_KERNEL_ADDR, bz->payload_size);
	if (!dst || (err = io_pread_full(kfd, dst, bz->payload_size, bz->payload_off)) < 0) {
		*why = "cannot read the kernel image";
		return dst ? err : -ENOSPC;
	}
	if (ifd >= 0) {
		if (bzimage_place_initrd(bz, gmem_low_end(m), initrd_size, &plan->initrd_addr) < 0) {
			*why = "initrd does not fit in guest memory beside the kernel (raise -m)";
			return -ENOSPC;
		}
		dst = gmem_ptr(m, plan->initrd_addr, initrd_size);
		if (!dst || (err = io_pread_full(ifd, dst, initrd_size, 0)) < 0) {
			*why = "cannot read the initrd";
			return dst ? err : -ENOSPC;
		}
		plan->initrd_size = initrd_size;
	}
	if (gmem_write(m, GUEST_CMDLINE_ADDR, cmdline, clen + 1) < 0) {
		*why = "no room for the command line";
		return -ENOSPC;
	}
	n = e820_build(e820, E820_MAX_ENTRIES_ZEROPAGE, m->r, m->n);
	if (n < 0) {
		*why = "cannot build the E820 map";
		return n;
	}
	args = (struct bootparams_args){.cmdline_addr = GUEST_CMDLINE_ADDR,
					.cmdline_len = (uint32_t)clen,
					.initrd_addr = plan->initrd_addr,
					.initrd_size = plan->initrd_size,
					.e820 = e820,
					.e820_entries = (unsigned)n,
					.acpi_rsdp = GUEST_ACPI_ADDR};
	dst = gmem_ptr(m, GUEST_ZERO_PAGE, sizeof(struct boot_params));
	if (!dst || bootparams_build(dst, &bz->hdr, bz->hdr_len, &args) < 0) {
		*why = "cannot build the zero page";
		return -EINVAL;
	}
	memcpy(gdt, boot_gdt, sizeof(gdt));
	if (!bz->entry64)
		gdt[2] = 0x00cf9b000000ffffULL; /* 32-bit flat code */
	dst = gmem_ptr(m, GUEST_PML4_ADDR, PAGETABLES_SIZE);
	if (gmem_write(m, GUEST_GDT_ADDR, gdt, sizeof(gdt)) < 0 || !dst ||
	    pagetables_build(dst, PAGETABLES_SIZE, GUEST_PML4_ADDR) < 0) {
		*why = "cannot write the boot GDT and page tables";
		return -EINVAL;
	}
	plan->long_mode = bz->entry64;
	plan->entry = bz->entry64 ? GUEST_KERNEL_ADDR + 0x200 : GUEST_KERNEL_ADDR;
	plan->zero_page = GUEST_ZERO_PAGE;
	plan->kernel_addr = GUEST_KERNEL_ADDR;
	plan->kernel_end = bz->mem_end;
	plan->cmdline_addr = GUEST_CMDLINE_ADDR;
	plan->cmdline_size = clen + 1;
	plan->e820_entries = (unsigned)n;
	plan->gdt_addr = GUEST_GDT_ADDR;
	plan->gdt_size = sizeof(gdt);
	plan->pagetables_addr = GUEST_PML4_ADDR;
	plan->pagetables_size = PAGETABLES_SIZE;
	return 0;
}
