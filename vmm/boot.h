/* boot.h: load the kernel the user gave (a bzImage or an ELF vmlinux with a PVH note) and the firmware tables. */
#ifndef KVMINI_BOOT_H
#define KVMINI_BOOT_H

#include <stdint.h>

#include "vmm/bzimage.h"
#include "vmm/pvh.h"

struct vm;

enum kernel_kind { KERNEL_BZIMAGE, KERNEL_PVH };

struct kernel_image {
	enum kernel_kind kind;
	struct bzimage bz;    /* KERNEL_BZIMAGE */
	struct pvh_image pvh; /* KERNEL_PVH */
	uint32_t cmdline_max; /* longest command line this kernel accepts, without the NUL */
};

/* Tell the format apart by its magic and parse it; `m` is the guest memory the kernel must fit in. Reads the
 * file only. 0 or -errno with *why set to a fragment for the user ("not a bzImage: ..."). */
int boot_probe(struct kernel_image *k, int kfd, uint64_t ksize, const struct gmem *m, const char **why);

/* Load the kernel, initrd (ifd < 0: none) and command line into the VM's memory, then the ACPI tables (RSDP at
 * GUEST_ACPI_ADDR) and the MP table for vm->ncpus CPUs; fill vm->plan. 0 or -errno with *why set. */
int boot_load(struct vm *vm, const struct kernel_image *k, int kfd, int ifd, uint64_t isize, const char *cmdline,
	      const char **why);

#endif
