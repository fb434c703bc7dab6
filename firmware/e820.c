/* e820.c: the E820 map: which guest-physical ranges are RAM and which the kernel must leave alone. */
#include "firmware/e820.h"

#include <errno.h>

#include "vmm/layout.h"

static int e820_add(struct boot_e820_entry *t, unsigned max, unsigned *n, uint64_t addr, uint64_t size, uint32_t type)
{
	if (size == 0)
		return 0;
	if (*n == max)
		return -ENOSPC;
	t[*n] = (struct boot_e820_entry){.addr = addr, .size = size, .type = type};
	(*n)++;
	return 0;
}

int e820_build(struct boot_e820_entry *t, unsigned max, const struct gmem_region *r, unsigned nr)
{
	unsigned n = 0;
	int err = 0;

	/* Region 0 must start at 0 and cover at least the first MiB: the kernel, zero page and tables live there. */
	if (nr == 0 || nr > GMEM_MAX_REGIONS || r[0].gpa != 0 || r[0].size < GUEST_HIMEM_START)
		return -EINVAL;
	err |= e820_add(t, max, &n, 0, GUEST_EBDA_START, E820_TYPE_RAM);
	/* EBDA (MP table later) and the legacy VGA/BIOS window: reserved, as on a PC, so no driver pokes there. */
	err |= e820_add(t, max, &n, GUEST_EBDA_START, GUEST_HIMEM_START - GUEST_EBDA_START, E820_TYPE_RESERVED);
	err |= e820_add(t, max, &n, GUEST_HIMEM_START, r[0].size - GUEST_HIMEM_START, E820_TYPE_RAM);
	for (unsigned i = 1; i < nr; i++)
		err |= e820_add(t, max, &n, r[i].gpa, r[i].size, E820_TYPE_RAM);
	return err ? -ENOSPC : (int)n;
}
