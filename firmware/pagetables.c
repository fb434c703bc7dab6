/* pagetables.c: 1:1 page tables for the first 4 GiB (2 MiB pages), what the Linux 64-bit entry point expects. */
#include "firmware/pagetables.h"

#include <errno.h>
#include <string.h>

#define PTE_P  (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_PS (1ULL << 7) /* 2 MiB page in a page directory entry */

int pagetables_build(void *buf, size_t len, uint64_t gpa)
{
	uint64_t *pml4 = buf, *pdpt = pml4 + 512, *pd = pdpt + 512;

	if (len < PAGETABLES_SIZE || gpa % 4096 || gpa > (1ULL << 32) - PAGETABLES_SIZE)
		return -EINVAL;
	memset(buf, 0, PAGETABLES_SIZE);
	pml4[0] = (gpa + 4096) | PTE_P | PTE_RW;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (gpa + 2 * 4096 + i * 4096ULL) | PTE_P | PTE_RW;
	/* The boot protocol only asks for the kernel, zero page and command line to be mapped; mapping all of the
	 * first 4 GiB covers them wherever they are and costs four pages. */
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return PAGETABLES_SIZE;
}
