/* pagetables.h: identity page tables for entering a kernel in 64-bit mode. */
#ifndef KVMINI_PAGETABLES_H
#define KVMINI_PAGETABLES_H

#include <stddef.h>
#include <stdint.h>

/* PML4 + PDPT + 4 page directories: 6 pages. */
#define PAGETABLES_SIZE (6 * 4096)

/* Fill `buf` (PAGETABLES_SIZE bytes, to be placed at guest address `gpa`, 4 KiB aligned) with tables that map
 * the first 4 GiB of guest-physical memory 1:1 with 2 MiB pages. Returns the size used or -EINVAL. */
int pagetables_build(void *buf, size_t len, uint64_t gpa);

#endif
