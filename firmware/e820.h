/* e820.h: build the BIOS E820 memory map the kernel reads from the zero page. */
#ifndef KVMINI_E820_H
#define KVMINI_E820_H

#include <asm/bootparam.h>

#include "vmm/gmem.h"

#define E820_TYPE_RAM	   1
#define E820_TYPE_RESERVED 2

/* Fill `t` (room for `max` entries) from the RAM regions: low RAM below the EBDA, the EBDA and BIOS area
 * reserved, RAM from 1 MiB to the MMIO hole, and RAM above 4 GiB. Returns the entry count or -ENOSPC / -EINVAL. */
int e820_build(struct boot_e820_entry *t, unsigned max, const struct gmem_region *r, unsigned nr);

#endif
