/* test_firmware.c: the E820 map, the identity page tables and the zero page, each built into a plain buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/bootparams.h"
#include "firmware/e820.h"
#include "firmware/pagetables.h"
#include "vmm/gmem.h"
#include "vmm/layout.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* ---- e820_build ---- */

static void assert_entry(const struct boot_e820_entry *e, uint64_t addr, uint64_t end, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, end - addr);
	assert_int_equal(e->type, type);
}

static void test_e820_one_region(void **state)
{
	struct gmem_region r[GMEM_MAX_REGIONS];
	struct boot_e820_entry t[8];

	(void)state;
	assert_int_equal(gmem_layout(r, 512 * MiB), 1);
	memset(t, 0xee, sizeof(t));
	assert_int_equal(e820_build(t, 8, r, 1), 3);
	assert_entry(&t[0], 0, 0x9fc00, E820_TYPE_RAM);
	assert_entry(&t[1], 0x9fc00, 0x100000, E820_TYPE_RESERVED);
	assert_entry(&t[2], 0x100000, 512 * MiB, E820_TYPE_RAM);
	/* Nothing past the count is written. */
	for (size_t i = 3 * sizeof(t[0]); i < sizeof(t); i++)
		assert_int_equal(((uint8_t *)t)[i], 0xee);
}

static void test_e820_two_regions(void **state)
{
	struct gmem_region r[GMEM_MAX_REGIONS];
	struct boot_e820_entry t[8];

	(void)state;
	assert_int_equal(gmem_layout(r, 4 * GiB), 2);
	assert_int_equal(e820_build(t, 8, r, 2), 4);
	assert_entry(&t[0], 0, 0x9fc00, E820_TYPE_RAM);
	assert_entry(&t[1], 0x9fc00, 0x100000, E820_TYPE_RESERVED);
	assert_entry(&t[2], 0x100000, 3 * GiB, E820_TYPE_RAM);
	assert_entry(&t[3], 4 * GiB, 5 * GiB, E820_TYPE_RAM);
	/* Nothing in the MMIO hole is RAM. */
	for (int i = 0; i < 4; i++)
		assert_true(t[i].addr + t[i].size <= 3 * GiB || t[i].addr >= 4 * GiB);
}

static void test_e820_exact_room(void **state)
{
	struct gmem_region r[GMEM_MAX_REGIONS];
	struct boot_e820_entry t[4];

	(void)state;
	assert_int_equal(gmem_layout(r, 64 * MiB), 1);
	assert_int_equal(e820_build(t, 3, r, 1), 3);
	assert_int_equal(gmem_layout(r, 8 * GiB), 2);
	assert_int_equal(e820_build(t, 4, r, 2), 4);
}

static void test_e820_enospc(void **state)
{
	struct gmem_region r[GMEM_MAX_REGIONS];
	struct boot_e820_entry t[8];

	(void)state;
	assert_int_equal(gmem_layout(r, 512 * MiB), 1);
	for (unsigned max = 0; max < 3; max++) {
		memset(t, 0xee, sizeof(t));
		assert_int_equal(e820_build(t, max, r, 1), -ENOSPC);
		/* Never a write past max. */
		for (size_t i = max * sizeof(t[0]); i < sizeof(t); i++)
			assert_int_equal(((uint8_t *)t)[i], 0xee);
	}
	assert_int_equal(gmem_layout(r, 4 * GiB), 2);
	memset(t, 0xee, sizeof(t));
	assert_int_equal(e820_build(t, 3, r, 2), -ENOSPC);
	for (size_t i = 3 * sizeof(t[0]); i < sizeof(t); i++)
		assert_int_equal(((uint8_t *)t)[i], 0xee);
}

static void test_e820_einval(void **state)
{
	struct gmem_region r[GMEM_MAX_REGIONS];
	struct boot_e820_entry t[8];

	(void)state;
	/* Not starting at 0. */
	r[0] = (struct gmem_region){.gpa = 0x1000, .size = 64 * MiB};
	assert_int_equal(e820_build(t, 8, r, 1), -EINVAL);
	r[0] = (struct gmem_region){.gpa = 4 * GiB, .size = 64 * MiB};
	assert_int_equal(e820_build(t, 8, r, 1), -EINVAL);
	/* No regions. */
	r[0] = (struct gmem_region){.gpa = 0, .size = 64 * MiB};
	assert_int_equal(e820_build(t, 8, r, 0), -EINVAL);
	/* Less than the first MiB. */
	r[0] = (struct gmem_region){.gpa = 0, .size = 512 * 1024};
	assert_int_equal(e820_build(t, 8, r, 1), -EINVAL);
}

/* ---- pagetables_build ---- */

#define PTE_P  1ULL
#define PTE_RW 2ULL
#define PTE_PS 0x80ULL

/* Walk the tables in `buf` (placed at guest address `base`) for virtual address `va`; returns the physical
 * address or UINT64_MAX when not mapped. */
static uint64_t walk(const uint64_t *buf, uint64_t base, uint64_t va)
{
	uint64_t e = buf[(va >> 39) & 511], tab;

	if (!(e & PTE_P))
		return UINT64_MAX;
	tab = (e & 0x000ffffffffff000ULL) - base;
	assert_true(tab + 4096 <= PAGETABLES_SIZE);
	e = buf[tab / 8 + ((va >> 30) & 511)];
	if (!(e & PTE_P))
		return UINT64_MAX;
	assert_false(e & PTE_PS); /* no 1 GiB pages: not every CPU has them */
	tab = (e & 0x000ffffffffff000ULL) - base;
	assert_true(tab + 4096 <= PAGETABLES_SIZE);
	e = buf[tab / 8 + ((va >> 21) & 511)];
	if (!(e & PTE_P))
		return UINT64_MAX;
	assert_true(e & PTE_PS);
	assert_true(e & PTE_RW);
	return (e & 0x000fffffffe00000ULL) + (va & 0x1fffff);
}

static void test_pagetables_entries(void **state)
{
	static const uint64_t bases[] = {0x9000, 0x0, 0x100000, 0x7ffff000};
	static const uint64_t vas[] = {0,	   0x1000,     0x100000,   0x1234567,  0x7000,
				       0x3fffffff, 0x40000000, 0xc0000000, 0xfee00000, 0xffffffff};
	size_t len = PAGETABLES_SIZE + 4096;
	uint64_t *buf = malloc(len);

	(void)state;
	assert_non_null(buf);
	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		uint64_t base = bases[b];

		memset(buf, 0xff, len);
		assert_int_equal(pagetables_build(buf, len, base), PAGETABLES_SIZE);
		/* PML4: one entry pointing to the page after it. */
		assert_int_equal(buf[0], (base + 0x1000) | PTE_P | PTE_RW);
		for (unsigned i = 1; i < 512; i++)
			assert_int_equal(buf[i], 0);
		/* PDPT: four entries, one per GiB, pointing at consecutive PDs. */
		for (unsigned i = 0; i < 4; i++)
			assert_int_equal(buf[512 + i], (base + 0x2000 + 0x1000 * i) | PTE_P | PTE_RW);
		for (unsigned i = 4; i < 512; i++)
			assert_int_equal(buf[512 + i], 0);
		/* PDs: 2048 2 MiB pages, identity. */
		for (uint64_t i = 0; i < 2048; i++)
			assert_int_equal(buf[1024 + i], (i << 21) | PTE_P | PTE_RW | PTE_PS);
		for (size_t i = 0; i < sizeof(vas) / sizeof(vas[0]); i++)
			assert_int_equal(walk(buf, base, vas[i]), vas[i]);
		assert_int_equal(walk(buf, base, 0x100000000ULL), UINT64_MAX);
		assert_int_equal(walk(buf, base, 0x8000000000ULL), UINT64_MAX);
		/* Past PAGETABLES_SIZE: untouched. */
		for (size_t i = PAGETABLES_SIZE / 8; i < len / 8; i++)
			assert_int_equal(buf[i], UINT64_MAX);
	}
	free(buf);
}

static void test_pagetables_einval(void **state)
{
	uint8_t *buf = malloc(PAGETABLES_SIZE), *small = malloc(PAGETABLES_SIZE - 1);

	(void)state;
	assert_non_null(buf);
	assert_non_null(small);
	/* Exact-size short buffers: ASan catches a write past them. */
	assert_int_equal(pagetables_build(small, PAGETABLES_SIZE - 1, 0x9000), -EINVAL);
	assert_int_equal(pagetables_build(small, 4096, 0x9000), -EINVAL);
	assert_int_equal(pagetables_build(small, 0, 0x9000), -EINVAL);
	free(small);
	memset(buf, 0x5a, PAGETABLES_SIZE);
	assert_int_equal(pagetables_build(buf, PAGETABLES_SIZE, 0x9001), -EINVAL);
	assert_int_equal(pagetables_build(buf, PAGETABLES_SIZE, 0x9800), -EINVAL);
	assert_int_equal(pagetables_build(buf, PAGETABLES_SIZE, 0x8), -EINVAL);
	/* Rejections leave the buffer alone. */
	for (size_t i = 0; i < PAGETABLES_SIZE; i++)
		assert_int_equal(buf[i], 0x5a);
	/* Exactly the size is enough. */
	assert_int_equal(pagetables_build(buf, PAGETABLES_SIZE, 0x9000), PAGETABLES_SIZE);
	free(buf);
}

/* ---- bootparams_build ---- */

#define HDR_OFF 0x1f1

static void fill_hdr(struct setup_header *h)
{
	uint8_t *p = (uint8_t *)h;

	for (size_t i = 0; i < sizeof(*h); i++)
		p[i] = (uint8_t)(0x11 + i);
	h->loadflags = LOADED_HIGH | CAN_USE_HEAP | KEEP_SEGMENTS;
}

static struct boot_e820_entry e820_sample[3] = {
    {.addr = 0, .size = 0x9fc00, .type = E820_TYPE_RAM},
    {.addr = 0x9fc00, .size = 0x100000 - 0x9fc00, .type = E820_TYPE_RESERVED},
    {.addr = 0x100000, .size = 255 * MiB, .type = E820_TYPE_RAM},
};

static void test_bootparams_basic(void **state)
{
	struct setup_header h;
	struct boot_params *bp = malloc(sizeof(*bp));
	struct bootparams_args a = {.cmdline_addr = 0x20000,
				    .cmdline_len = 20,
				    .initrd_addr = 0x0f000000,
				    .initrd_size = 0x123456,
				    .e820 = e820_sample,
				    .e820_entries = 3};

	(void)state;
	assert_non_null(bp);
	fill_hdr(&h);
	memset(bp, 0xaa, sizeof(*bp));
	assert_int_equal(bootparams_build(bp, &h, sizeof(h), &a), 0);
	assert_int_equal(bp->hdr.type_of_loader, BOOTPARAMS_LOADER_ID);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.cmd_line_ptr, 0x20000);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_int_equal(bp->hdr.ramdisk_image, 0x0f000000);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0x123456);
	assert_int_equal(bp->ext_ramdisk_size, 0);
	/* The kernel's own fields come through. */
	assert_int_equal(bp->hdr.setup_sects, h.setup_sects);
	assert_int_equal(bp->hdr.syssize, h.syssize);
	assert_int_equal(bp->hdr.version, h.version);
	assert_int_equal(bp->hdr.initrd_addr_max, h.initrd_addr_max);
	assert_int_equal(bp->hdr.kernel_alignment, h.kernel_alignment);
	assert_int_equal(bp->hdr.xloadflags, h.xloadflags);
	assert_int_equal(bp->hdr.cmdline_size, h.cmdline_size);
	assert_int_equal(bp->hdr.pref_address, h.pref_address);
	assert_int_equal(bp->hdr.init_size, h.init_size);
	assert_int_equal(bp->hdr.kernel_info_offset, h.kernel_info_offset);
	/* loadflags: LOADED_HIGH kept, the real-mode-only bits cleared. */
	assert_true(bp->hdr.loadflags & LOADED_HIGH);
	assert_false(bp->hdr.loadflags & CAN_USE_HEAP);
	assert_false(bp->hdr.loadflags & KEEP_SEGMENTS);
	/* E820. */
	assert_int_equal(bp->e820_entries, 3);
	assert_memory_equal(bp->e820_table, e820_sample, sizeof(e820_sample));
	for (size_t i = 3 * sizeof(bp->e820_table[0]); i < sizeof(bp->e820_table); i++)
		assert_int_equal(((uint8_t *)bp->e820_table)[i], 0);
	/* Everything before the header that the loader does not own is zero. */
	for (size_t i = 0; i < offsetof(struct boot_params, ext_ramdisk_image); i++)
		assert_int_equal(((uint8_t *)bp)[i], 0);
	assert_int_equal(bp->e820_entries, 3);
	/* And after the header up to the E820 table. */
	for (size_t i = HDR_OFF + sizeof(struct setup_header); i < offsetof(struct boot_params, e820_table); i++)
		assert_int_equal(((uint8_t *)bp)[i], 0);
	free(bp);
}

static void test_bootparams_hdr_len(void **state)
{
	struct setup_header h;
	struct boot_params *bp = malloc(sizeof(*bp));
	struct bootparams_args a = {.cmdline_addr = 0x20000, .e820 = e820_sample, .e820_entries = 1};
	/* The header ends right before type_of_loader (0x210): a 2.0x-sized header. */
	size_t len = 0x210 - HDR_OFF;

	(void)state;
	assert_non_null(bp);
	fill_hdr(&h);
	memset(bp, 0xaa, sizeof(*bp));
	assert_int_equal(bootparams_build(bp, &h, len, &a), 0);
	/* Copied: */
	assert_int_equal(bp->hdr.setup_sects, h.setup_sects);
	assert_int_equal(bp->hdr.syssize, h.syssize);
	assert_int_equal(bp->hdr.boot_flag, h.boot_flag);
	assert_int_equal(bp->hdr.header, h.header);
	assert_int_equal(bp->hdr.version, h.version);
	assert_int_equal(bp->hdr.kernel_version, h.kernel_version);
	/* Not copied (past len) and not loader-owned: zero. */
	assert_int_equal(bp->hdr.code32_start, 0);
	assert_int_equal(bp->hdr.initrd_addr_max, 0);
	assert_int_equal(bp->hdr.kernel_alignment, 0);
	assert_int_equal(bp->hdr.relocatable_kernel, 0);
	assert_int_equal(bp->hdr.xloadflags, 0);
	assert_int_equal(bp->hdr.cmdline_size, 0);
	assert_int_equal(bp->hdr.pref_address, 0);
	assert_int_equal(bp->hdr.init_size, 0);
	assert_int_equal(bp->hdr.handover_offset, 0);
	assert_int_equal(bp->hdr.kernel_info_offset, 0);
	/* Loader-owned, filled anyway. */
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_true(bp->hdr.loadflags & LOADED_HIGH);
	assert_int_equal(bp->hdr.cmd_line_ptr, 0x20000);

	/* Length 0: nothing of the header. */
	assert_int_equal(bootparams_build(bp, &h, 0, &a), 0);
	assert_int_equal(bp->hdr.setup_sects, 0);
	assert_int_equal(bp->hdr.version, 0);
	assert_int_equal(bp->hdr.init_size, 0);
	assert_true(bp->hdr.loadflags & LOADED_HIGH);

	/* Longer than struct setup_header: rejected. */
	assert_int_equal(bootparams_build(bp, &h, sizeof(h) + 1, &a), -EINVAL);
	free(bp);
}

/* The RSDP address is a zero-page field from protocol 2.14 on; older kernels must not get it (they scan). */
static void test_bootparams_acpi_rsdp(void **state)
{
	struct setup_header h;
	struct boot_params *bp = malloc(sizeof(*bp));
	struct bootparams_args a = {.e820 = e820_sample, .e820_entries = 3, .acpi_rsdp = 0xe0000};

	(void)state;
	assert_non_null(bp);
	fill_hdr(&h);
	h.version = 0x020e;
	assert_int_equal(bootparams_build(bp, &h, sizeof(h), &a), 0);
	assert_int_equal(bp->acpi_rsdp_addr, 0xe0000);
	h.version = 0x020d;
	assert_int_equal(bootparams_build(bp, &h, sizeof(h), &a), 0);
	assert_int_equal(bp->acpi_rsdp_addr, 0);
	h.version = 0x020f;
	a.acpi_rsdp = 0;
	assert_int_equal(bootparams_build(bp, &h, sizeof(h), &a), 0);
	assert_int_equal(bp->acpi_rsdp_addr, 0);
	free(bp);
}

static void test_bootparams_high_addresses(void **state)
{
	struct setup_header h;
	struct boot_params *bp = malloc(sizeof(*bp));
	struct bootparams_args a = {.cmdline_addr = 0x123456000ULL,
				    .cmdline_len = 5,
				    .initrd_addr = 0x1abcde000ULL,
				    .initrd_size = 0x200001000ULL,
				    .e820 = e820_sample,
				    .e820_entries = 3};

	(void)state;
	assert_non_null(bp);
	fill_hdr(&h);
	assert_int_equal(bootparams_build(bp, &h, sizeof(h), &a), 0);
	assert_int_equal(bp->hdr.ramdisk_image, 0xabcde000);
	assert_int_equal(bp->ext_ramdisk_image, 0x1);
	assert_int_equal(bp->hdr.ramdisk_size, 0x00001000);
	assert_int_equal(bp->ext_ramdisk_size, 0x2);
	assert_int_equal(bp->hdr.cmd_line_ptr, 0x23456000);
	assert_int_equal(bp->ext_cmd_line_ptr, 0x1);
	free(bp);
}

static void test_bootparams_e820_limits(void **state)
{
	struct setup_header h;
	struct boot_params *bp = malloc(sizeof(*bp));
	struct boot_e820_entry *many = calloc(E820_MAX_ENTRIES_ZEROPAGE + 1, sizeof(*many));
	struct bootparams_args a = {.cmdline_addr = 0x20000, .e820 = many};

	(void)state;
	assert_non_null(bp);
	assert_non_null(many);
	assert_int_equal(E820_MAX_ENTRIES_ZEROPAGE, 128);
	for (unsigned i = 0; i <= E820_MAX_ENTRIES_ZEROPAGE; i++)
		many[i] = (struct boot_e820_entry){.addr = i * 0x100000ULL, .size = 0x100000, .type = 1 + i % 2};
	fill_hdr(&h);
	a.e820_entries = E820_MAX_ENTRIES_ZEROPAGE;
	assert_int_equal(bootparams_build(bp, &h, sizeof(h), &a), 0);
	assert_int_equal(bp->e820_entries, 128);
	assert_memory_equal(bp->e820_table, many, 128 * sizeof(*many));
	a.e820_entries = E820_MAX_ENTRIES_ZEROPAGE + 1;
	assert_int_equal(bootparams_build(bp, &h, sizeof(h), &a), -EINVAL);
	a.e820_entries = 1000;
	assert_int_equal(bootparams_build(bp, &h, sizeof(h), &a), -EINVAL);
	a.e820_entries = 0;
	assert_int_equal(bootparams_build(bp, &h, sizeof(h), &a), 0);
	assert_int_equal(bp->e820_entries, 0);
	free(many);
	free(bp);
}

static void test_bootparams_loadflags(void **state)
{
	struct setup_header h;
	struct boot_params *bp = malloc(sizeof(*bp));
	struct bootparams_args a = {.cmdline_addr = 0x20000, .e820 = e820_sample, .e820_entries = 3};
	static const uint8_t in[] = {
	    0, LOADED_HIGH, CAN_USE_HEAP, KEEP_SEGMENTS, LOADED_HIGH | CAN_USE_HEAP | KEEP_SEGMENTS, 0xff};

	(void)state;
	assert_non_null(bp);
	for (size_t i = 0; i < sizeof(in); i++) {
		fill_hdr(&h);
		h.loadflags = in[i];
		assert_int_equal(bootparams_build(bp, &h, sizeof(h), &a), 0);
		print_message("loadflags in %#x out %#x\n", in[i], bp->hdr.loadflags);
		assert_true(bp->hdr.loadflags & LOADED_HIGH);
		assert_false(bp->hdr.loadflags & CAN_USE_HEAP);
		assert_false(bp->hdr.loadflags & KEEP_SEGMENTS);
	}
	free(bp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_e820_one_region),	 cmocka_unit_test(test_e820_two_regions),
	    cmocka_unit_test(test_e820_exact_room),	 cmocka_unit_test(test_e820_enospc),
	    cmocka_unit_test(test_e820_einval),		 cmocka_unit_test(test_pagetables_entries),
	    cmocka_unit_test(test_pagetables_einval),	 cmocka_unit_test(test_bootparams_basic),
	    cmocka_unit_test(test_bootparams_hdr_len),	 cmocka_unit_test(test_bootparams_high_addresses),
	    cmocka_unit_test(test_bootparams_acpi_rsdp), cmocka_unit_test(test_bootparams_e820_limits),
	    cmocka_unit_test(test_bootparams_loadflags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
