/* boot.h: load the kernel the user gave (a bzImage or an ELF vmlinux with a PVH note) and the firmware tables. */
#ifndef KVMINI_BOOT_H
#define KVMINI_BOOT_H

#include <stdint.h>

#include "vmm/bzimage.h"
#include "vmm/pvh.h"

struct vm;

enum kernel_kind { KERNEL_BZIMAGE, KERNEL_PVH, KERNEL_FLAT };

struct kernel_image {
	enum kernel_kind kind;
	struct bzimage bz;    /* KERNEL_BZIMAGE */
	struct pvh_image pvh; /* KERNEL_PVH */
	const uint8_t *flat;  /* KERNEL_FLAT (kvmini demo): a flat binary entered in real mode at 0:GUEST_DEMO_ADDR */
	size_t flat_len;
	uint32_t cmdline_max; /* longest command line this kernel accepts, without the NUL */
};

/* Tell the format apart by its magic and parse it; `m` is the guest memory the kernel must fit in. Reads the
 * file only. 0 or -errno with *why set to a fragment for the user ("not a bzImage: ..."). */
int boot_probe(struct kernel_image *k, int kfd, uint64_t ksize, const struct gmem *m, const char **why);

/* A built-in demo's flat binary (bytes owned by the caller) as the "kernel". 0 or -EFBIG with *why set. */
int boot_probe_flat(struct kernel_image *k, const uint8_t *bytes, size_t len, const char **why);

/* Load the kernel, initrd (ifd < 0: none) and command line into the VM's memory, then the ACPI tables (RSDP at
 * GUEST_ACPI_ADDR) and the MP table for vm->ncpus CPUs; fill vm->plan. 0 or -errno with *why set. */
int boot_load(struct vm *vm, const struct kernel_image *k, int kfd, int ifd, uint64_t isize, const char *cmdline,
	      const char **why);

#endif
