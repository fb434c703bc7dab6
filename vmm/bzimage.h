/* bzimage.h: the Linux x86 boot protocol (Documentation/arch/x86/boot.rst): parse a bzImage, place it in RAM. */
#ifndef KVMINI_BZIMAGE_H
#define KVMINI_BZIMAGE_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/gmem.h"

/* How much of the file start bzimage_parse needs: the largest setup area (255 + 1 sectors) is below this. */
#define BZIMAGE_HDR_MAX	     (256 * 512)
#define BZIMAGE_MIN_PROTOCOL 0x0206 /* 2.06: cmdline_size exists (Linux 2.6.22, 2007) */

struct bzimage {
	struct setup_header hdr; /* as in the file; fields past the file's header length read as 0 */
	size_t hdr_len;		 /* bytes of the header present in the file, from offset 0x1f1 */
	uint16_t version;
	uint64_t setup_size;   /* real-mode setup code, skipped: we enter in 32- or 64-bit mode */
	uint64_t payload_off;  /* = setup_size: the protected-mode kernel starts here in the file */
	uint64_t payload_size; /* bytes of protected-mode kernel in the file */
	uint64_t mem_end;      /* the kernel's in-RAM footprint ends here (load address + what it decompresses into) */
	uint32_t cmdline_max;  /* longest command line the kernel accepts, without the NUL */
	uint64_t initrd_max;   /* highest address the initrd may occupy (inclusive) */
	bool entry64;	       /* protocol >= 2.12 with XLF_KERNEL_64: enter at load address + 0x200 in long mode */
};

/* Where the loader put things, and how to enter. */
struct boot_plan {
	uint64_t entry;	    /* RIP */
	bool long_mode;	    /* enter in 64-bit mode on identity page tables, else in 32-bit protected mode */
	uint64_t zero_page; /* RSI */
	uint64_t kernel_addr, kernel_end, cmdline_addr, initrd_addr, initrd_size;
	unsigned e820_entries;
	uint64_t start_info; /* PVH: hvm_start_info address, passed in EBX (0 for bzImage) */
	/* For --explain-boot (vmm/explain.c): what else went where; 0 when not written. */
	uint64_t cmdline_size;			   /* bytes with the NUL */
	uint64_t gdt_addr, gdt_size;		   /* the boot GDT */
	uint64_t pagetables_addr, pagetables_size; /* identity page tables */
	uint64_t acpi_addr, acpi_size;		   /* boot_load: ACPI tables, RSDP first (bytes used) */
	uint64_t mptable_addr, mptable_size;	   /* boot_load: the MP table (bytes used) */
};

/* Parse the first `len` bytes of a file of `file_size` bytes. 0, or -ENOEXEC / -EINVAL with *why set to a
 * sentence fragment for the user ("not a bzImage: ..."). Pure: no I/O. */
int bzimage_parse(struct bzimage *bz, const uint8_t *buf, size_t len, uint64_t file_size, const char **why);

/* Where an initrd of `size` bytes goes: as high as RAM below the MMIO hole and the kernel's initrd_addr_max
 * allow, above the kernel's footprint. 0 with *addr set, or -ENOSPC. Pure. */
int bzimage_place_initrd(const struct bzimage *bz, uint64_t low_ram_end, uint64_t size, uint64_t *addr);

/* Load a parsed bzImage from `kfd` into guest memory, the initrd from `ifd` (or none when ifd < 0, size 0),
 * write the command line, the zero page (with the E820 map) and page tables. Sizes are checked against RAM.
 * 0 or -errno with *why set. */
int bzimage_load(const struct bzimage *bz, struct gmem *m, int kfd, int ifd, uint64_t initrd_size, const char *cmdline,
		 struct boot_plan *plan, const char **why);

#endif
