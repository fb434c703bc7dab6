/* bootparams.h: the zero page (struct boot_params) a 32/64-bit boot-protocol loader hands the kernel. */
#ifndef KVMINI_BOOTPARAMS_H
#define KVMINI_BOOTPARAMS_H

#include <asm/bootparam.h>
#include <stddef.h>
#include <stdint.h>

struct bootparams_args {
	uint64_t cmdline_addr;
	uint32_t cmdline_len; /* without the NUL */
	uint64_t initrd_addr, initrd_size;
	const struct boot_e820_entry *e820;
	unsigned e820_entries;
	uint64_t acpi_rsdp; /* 0: none; else told to kernels of protocol 2.14+ (older ones scan 0xe0000 for it) */
};

#define BOOTPARAMS_LOADER_ID 0xff /* type_of_loader: "undefined loader" per the boot protocol */

/* Zero `bp`, copy the kernel's setup header (hdr_len bytes as found in the file), and fill in what a loader
 * owns: loader type, command line, initrd (split into low/ext halves), E820 map. 0 or -EINVAL. */
int bootparams_build(struct boot_params *bp, const struct setup_header *hdr, size_t hdr_len,
		     const struct bootparams_args *a);

#endif
