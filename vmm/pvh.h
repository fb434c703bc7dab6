/* pvh.h: the PVH boot ABI: parse an ELF vmlinux (with libelf), place its segments in RAM, hand it hvm_start_info. */
#ifndef KVMINI_PVH_H
#define KVMINI_PVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/bzimage.h"
#include "vmm/gmem.h"

/*
 * The PVH start-of-day structures, as the PVH ABI documents them: the boot loader enters the kernel at the
 * physical address of its XEN_ELFNOTE_PHYS32_ENTRY note in 32-bit protected mode, paging off, with EBX holding
 * the guest-physical address of a struct hvm_start_info. All fields are little-endian; addresses are physical.
 */
#define PVH_START_MAGIC	      0x336ec578U /* hvm_start_info.magic */
#define PVH_START_VERSION     1		  /* version 1 adds the memory map (memmap_paddr, memmap_entries) */
#define PVH_NOTE_NAME	      "Xen"	  /* ELF note owner */
#define PVH_NOTE_PHYS32_ENTRY 18	  /* XEN_ELFNOTE_PHYS32_ENTRY: descriptor = 32-bit physical entry point */
#define PVH_MEMMAP_RAM	      1		  /* hvm_memmap_table_entry.type: same values as E820 */
#define PVH_MEMMAP_RESERVED   2

struct pvh_start_info {
	uint32_t magic;		 /* PVH_START_MAGIC */
	uint32_t version;	 /* PVH_START_VERSION */
	uint32_t flags;		 /* SIF_* flags; 0 */
	uint32_t nr_modules;	 /* entries at modlist_paddr (the initrd is module 0) */
	uint64_t modlist_paddr;	 /* struct pvh_modlist_entry[nr_modules] */
	uint64_t cmdline_paddr;	 /* NUL-terminated kernel command line */
	uint64_t rsdp_paddr;	 /* ACPI RSDP */
	uint64_t memmap_paddr;	 /* struct pvh_memmap_entry[memmap_entries] (version >= 1) */
	uint32_t memmap_entries; /* (version >= 1) */
	uint32_t reserved;	 /* must be 0 */
};

struct pvh_modlist_entry {
	uint64_t paddr;		/* module start */
	uint64_t size;		/* module size in bytes */
	uint64_t cmdline_paddr; /* module command line, 0 for none */
	uint64_t reserved;
};

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* PVH_MEMMAP_RAM, PVH_MEMMAP_RESERVED, ... (E820 types) */
	uint32_t reserved;
};

_Static_assert(sizeof(struct pvh_start_info) == 56, "hvm_start_info is 56 bytes");
_Static_assert(offsetof(struct pvh_start_info, nr_modules) == 12, "hvm_start_info.nr_modules at 12");
_Static_assert(offsetof(struct pvh_start_info, modlist_paddr) == 16, "hvm_start_info.modlist_paddr at 16");
_Static_assert(offsetof(struct pvh_start_info, cmdline_paddr) == 24, "hvm_start_info.cmdline_paddr at 24");
_Static_assert(offsetof(struct pvh_start_info, rsdp_paddr) == 32, "hvm_start_info.rsdp_paddr at 32");
_Static_assert(offsetof(struct pvh_start_info, memmap_paddr) == 40, "hvm_start_info.memmap_paddr at 40");
_Static_assert(offsetof(struct pvh_start_info, memmap_entries) == 48, "hvm_start_info.memmap_entries at 48");
_Static_assert(sizeof(struct pvh_modlist_entry) == 32, "hvm_modlist_entry is 32 bytes");
_Static_assert(sizeof(struct pvh_memmap_entry) == 24, "hvm_memmap_table_entry is 24 bytes");
_Static_assert(offsetof(struct pvh_memmap_entry, type) == 16, "hvm_memmap_table_entry.type at 16");

/* Where pvh_load puts them: one page at GUEST_PVH_INFO (vmm/layout.h). */
#define PVH_MODLIST_OFF 64  /* offset of the module list (the initrd) in that page */
#define PVH_MEMMAP_OFF	128 /* offset of the memory map */
#define PVH_MEMMAP_MAX	128 /* memory map entries that fit */
_Static_assert(PVH_MODLIST_OFF >= sizeof(struct pvh_start_info), "modlist after start_info");
_Static_assert(PVH_MEMMAP_OFF >= PVH_MODLIST_OFF + sizeof(struct pvh_modlist_entry), "memmap after modlist");
_Static_assert(PVH_MEMMAP_OFF + PVH_MEMMAP_MAX * sizeof(struct pvh_memmap_entry) <= 4096, "one page");

#define PVH_MAX_SEGS  16  /* PT_LOAD segments we accept (Linux has 4) */
#define PVH_MAX_PHDRS 256 /* program headers we look at */

/* A parsed ELF vmlinux: its PVH entry and the loadable segments by physical address, checked against RAM. */
struct pvh_image {
	uint64_t entry; /* physical, from the PHYS32_ENTRY note; < 4 GiB and inside a segment's file bytes */
	unsigned nseg;
	struct {
		uint64_t off, filesz, paddr, memsz; /* file offset and size; physical address and size in RAM */
	} seg[PVH_MAX_SEGS];
	uint64_t lo, hi; /* the kernel's footprint: [lowest paddr, highest paddr + memsz) */
};

/* Whether the first `len` bytes of a file start like an ELF file (so -k can take a bzImage or a vmlinux). */
bool pvh_is_elf(const uint8_t *buf, size_t len);

/* Parse the ELF file `fd` of `file_size` bytes with libelf: a 64-bit little-endian x86-64 ET_EXEC with a Xen
 * PHYS32_ENTRY note, whose PT_LOAD segments lie in the file, do not overlap, and fit in the RAM of `m` at or
 * above 1 MiB and outside the MMIO hole. 0, or -ENOEXEC / -EINVAL / -ENOSPC (RAM too small) with *why set to a
 * sentence fragment for the user. Reads the file; writes no guest memory. With m == NULL (no VM yet), the RAM
 * size is not checked; pvh_load checks it again anyway. */
int pvh_parse(struct pvh_image *img, int fd, uint64_t file_size, const struct gmem *m, const char **why);

/* Load a parsed image from `kfd` into guest memory (each segment's file bytes, the rest zeroed), the initrd from
 * `ifd` (or none when ifd < 0) at the top of RAM below the MMIO hole, the command line, hvm_start_info with its
 * memory map and module list at GUEST_PVH_INFO, and the boot GDT. Fills `plan` for a 32-bit protected-mode entry
 * with EBX = plan->start_info. 0 or -errno with *why set. */
int pvh_load(const struct pvh_image *img, struct gmem *m, int kfd, int ifd, uint64_t initrd_size, const char *cmdline,
	     struct boot_plan *plan, const char **why);

#endif
