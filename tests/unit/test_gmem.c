/* test_gmem.c: the RAM layout around the MMIO hole, gmem_ptr's bounds and overflow checks, the copy helpers,
 * the guard pages and residency accounting. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/gmem.h"
#include "vmm/layout.h"

#define KiB  (1ULL << 10)
#define MiB  (1ULL << 20)
#define GiB  (1ULL << 30)
#define HOLE 0xc0000000ULL

/* ---- gmem_layout ---- */

static void test_layout_below_hole(void **state)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	(void)state;
	memset(r, 0xa5, sizeof(r));
	assert_int_equal(gmem_layout(r, 64 * MiB), 1);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, 64 * MiB);
	assert_null(r[0].hva);
	assert_int_equal(gmem_layout(r, 1 * MiB), 1); /* the smallest */
	assert_int_equal(r[0].size, 1 * MiB);
	assert_int_equal(gmem_layout(r, HOLE - 4096), 1);
	assert_int_equal(r[0].size, HOLE - 4096);
}

static void test_layout_at_hole(void **state)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	(void)state;
	assert_int_equal(gmem_layout(r, HOLE), 1);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, HOLE);
	assert_null(r[0].hva);
}

static void test_layout_above_hole(void **state)
{
	struct gmem_region r[GMEM_MAX_REGIONS];

	(void)state;
	memset(r, 0xa5, sizeof(r));
	assert_int_equal(gmem_layout(r, HOLE + 4096), 2);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, HOLE);
	assert_int_equal(r[1].gpa, 4 * GiB);
	assert_int_equal(r[1].size, 4096);
	assert_null(r[0].hva);
	assert_null(r[1].hva);
	assert_int_equal(gmem_layout(r, 4 * GiB), 2);
	assert_int_equal(r[0].size, HOLE);
	assert_int_equal(r[1].gpa, 4 * GiB);
	assert_int_equal(r[1].size, 1 * GiB);
	assert_int_equal(gmem_layout(r, 64 * GiB), 2);
	assert_int_equal(r[1].gpa, 4 * GiB);
	assert_int_equal(r[1].size, 61 * GiB);
	assert_int_equal(r[0].size + r[1].size, 64 * GiB);
}

static void test_layout_invalid(void **state)
{
	static const uint64_t bad[] = {
	    0,	      1,	  4095, 4096, 512 * KiB, 1 * MiB - 4096, 1 * MiB + 1, 1 * MiB + 2048, 64 * MiB + 512,
	    HOLE + 1, 4 * GiB - 1};
	struct gmem_region r[GMEM_MAX_REGIONS];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("size %#" PRIx64 "\n", bad[i]);
		assert_int_equal(gmem_layout(r, bad[i]), -EINVAL);
	}
}

/* ---- gmem_init, gmem_ptr ---- */

struct fx {
	struct gmem m;
};

static int setup_64m(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	*state = f;
	return f && gmem_init(&f->m, 64 * MiB) == 0 ? 0 : -1;
}

/* More than 3 GiB: MAP_NORESERVE and untouched, so this costs nothing. */
static int setup_big(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	*state = f;
	return f && gmem_init(&f->m, HOLE + 64 * MiB) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f)
		gmem_destroy(&f->m);
	free(f);
	return 0;
}

static void test_init_64m(void **state)
{
	struct fx *f = *state;
	struct gmem *m = &f->m;

	assert_int_equal(m->n, 1);
	assert_int_equal(m->ram_size, 64 * MiB);
	assert_int_equal(m->r[0].gpa, 0);
	assert_int_equal(m->r[0].size, 64 * MiB);
	assert_non_null(m->r[0].hva);
	assert_int_equal((uintptr_t)m->r[0].hva % 4096, 0);
	/* RAM on a 2 MiB boundary (so THP can back it) inside a PROT_NONE reservation, with at least one guard page
	 * before it and one after it. */
	assert_ptr_equal(m->ram, m->r[0].hva);
	assert_int_equal((uintptr_t)m->ram % (2 * MiB), 0);
	assert_true(m->ram >= m->map + 4096);
	assert_true(m->ram + 64 * MiB + 4096 <= m->map + m->map_len);
	assert_int_equal(gmem_low_end(m), 64 * MiB);
	/* Fresh anonymous memory reads as zero. */
	assert_int_equal(m->r[0].hva[0], 0);
	assert_int_equal(m->r[0].hva[64 * MiB - 1], 0);
}

static void test_ptr_bounds(void **state)
{
	struct fx *f = *state;
	struct gmem *m = &f->m;
	uint8_t *hva = m->r[0].hva;
	const uint64_t size = 64 * MiB;
	void *p;

	assert_ptr_equal(gmem_ptr(m, 0, 1), hva);
	assert_ptr_equal(gmem_ptr(m, 0, size), hva);
	assert_ptr_equal(gmem_ptr(m, 0x1234, 100), hva + 0x1234);
	assert_ptr_equal(gmem_ptr(m, 0, 0), hva);
	/* End-exact. */
	assert_ptr_equal(gmem_ptr(m, size - 1, 1), hva + size - 1);
	assert_ptr_equal(gmem_ptr(m, size - 16, 16), hva + size - 16);
	assert_ptr_equal(gmem_ptr(m, size - 4096, 4096), hva + size - 4096);
	/* One byte more. */
	assert_null(gmem_ptr(m, size - 16, 17));
	assert_null(gmem_ptr(m, 0, size + 1));
	assert_null(gmem_ptr(m, size, 1));
	assert_null(gmem_ptr(m, size - 1, 2));
	assert_null(gmem_ptr(m, size + 4096, 1));
	/* Zero length: at the end it names no byte outside RAM (either answer is safe, but it must not be some
	 * other address); past the end it is outside RAM. */
	p = gmem_ptr(m, size, 0);
	assert_true(p == NULL || p == hva + size);
	assert_null(gmem_ptr(m, size + 1, 0));
	assert_null(gmem_ptr(m, size + 4096, 0));
	assert_null(gmem_ptr(m, HOLE, 0));
	assert_null(gmem_ptr(m, UINT64_MAX, 0));
	/* Overflow of gpa + len. */
	assert_null(gmem_ptr(m, UINT64_MAX - 1, 4));
	assert_null(gmem_ptr(m, UINT64_MAX, 1));
	assert_null(gmem_ptr(m, 1, UINT64_MAX));
	assert_null(gmem_ptr(m, 0, UINT64_MAX));
	assert_null(gmem_ptr(m, size - 1, UINT64_MAX));
	assert_null(gmem_ptr(m, 4096, UINT64_MAX - 4095)); /* end wraps to exactly 0 */
	assert_null(gmem_ptr(m, UINT64_MAX - 4095, 8192));
	assert_null(gmem_ptr(m, UINT64_MAX, UINT64_MAX));
	/* In the MMIO hole (no RAM there with a 64 MiB guest either). */
	assert_null(gmem_ptr(m, HOLE, 4));
	assert_null(gmem_ptr(m, GUEST_IOAPIC_ADDR, 4));
	assert_null(gmem_ptr(m, GUEST_LAPIC_ADDR, 4));
	assert_null(gmem_ptr(m, 4 * GiB, 1));
}

static void test_read_write(void **state)
{
	struct fx *f = *state;
	struct gmem *m = &f->m;
	const uint64_t size = 64 * MiB;
	uint8_t buf[256], back[256];
	uint8_t edge[4] = {1, 2, 3, 4};

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i ^ 0x5c);
	/* Round trips, including across a page boundary and at the very end. */
	static const uint64_t at[] = {0, 0x7000, 4096 - 100, 32 * MiB + 1, 64 * MiB - 256};

	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		memset(back, 0, sizeof(back));
		assert_int_equal(gmem_write(m, at[i], buf, sizeof(buf)), 0);
		assert_int_equal(gmem_read(m, back, at[i], sizeof(back)), 0);
		assert_memory_equal(back, buf, sizeof(buf));
		/* Through the host pointer too. */
		assert_memory_equal(m->r[0].hva + at[i], buf, sizeof(buf));
	}
	/* Zero-length copies inside RAM are fine. */
	assert_int_equal(gmem_write(m, 0x1000, buf, 0), 0);
	assert_int_equal(gmem_read(m, back, 0x1000, 0), 0);
	/* Outside RAM: -EFAULT, and nothing written to what lies inside. */
	memset(back, 0x77, sizeof(back));
	assert_int_equal(gmem_write(m, size - 2, edge, 4), -EFAULT);
	assert_int_equal(m->r[0].hva[size - 2], buf[254]);
	assert_int_equal(m->r[0].hva[size - 1], buf[255]);
	assert_int_equal(gmem_read(m, back, size - 2, 4), -EFAULT);
	assert_int_equal(gmem_write(m, size, edge, 1), -EFAULT);
	assert_int_equal(gmem_read(m, back, size, 1), -EFAULT);
	assert_int_equal(gmem_write(m, HOLE, edge, 4), -EFAULT);
	assert_int_equal(gmem_read(m, back, GUEST_LAPIC_ADDR, 4), -EFAULT);
	assert_int_equal(gmem_write(m, UINT64_MAX - 1, edge, 4), -EFAULT);
	assert_int_equal(gmem_read(m, back, UINT64_MAX - 1, 4), -EFAULT);
	assert_int_equal(gmem_read(m, back, 0, SIZE_MAX), -EFAULT);
	for (size_t i = 0; i < sizeof(back); i++)
		assert_int_equal(back[i], 0x77);
}

static void test_big_guest(void **state)
{
	struct fx *f = *state;
	struct gmem *m = &f->m;
	uint8_t a = 0xa1, b = 0xb2, c = 0xc3, v = 0;
	void *p;

	assert_int_equal(m->n, 2);
	assert_int_equal(m->ram_size, HOLE + 64 * MiB);
	assert_int_equal(m->r[0].gpa, 0);
	assert_int_equal(m->r[0].size, HOLE);
	assert_int_equal(m->r[1].gpa, 4 * GiB);
	assert_int_equal(m->r[1].size, 64 * MiB);
	assert_non_null(m->r[0].hva);
	assert_non_null(m->r[1].hva);
	assert_int_equal(gmem_low_end(m), HOLE);
	/* Above 4 GiB is reachable, end-exact. */
	assert_ptr_equal(gmem_ptr(m, 4 * GiB, 1), m->r[1].hva);
	assert_ptr_equal(gmem_ptr(m, 4 * GiB, 64 * MiB), m->r[1].hva);
	assert_ptr_equal(gmem_ptr(m, 4 * GiB + 64 * MiB - 1, 1), m->r[1].hva + 64 * MiB - 1);
	assert_null(gmem_ptr(m, 4 * GiB + 64 * MiB, 1));
	assert_null(gmem_ptr(m, 4 * GiB, 64 * MiB + 1));
	p = gmem_ptr(m, 4 * GiB + 64 * MiB, 0);
	assert_true(p == NULL || p == m->r[1].hva + 64 * MiB);
	assert_null(gmem_ptr(m, 4 * GiB + 64 * MiB + 1, 0));
	/* Below the hole. */
	assert_ptr_equal(gmem_ptr(m, HOLE - 1, 1), m->r[0].hva + HOLE - 1);
	/* In the hole, and across it. */
	assert_null(gmem_ptr(m, HOLE, 1));
	assert_null(gmem_ptr(m, HOLE + 1, 0));
	assert_null(gmem_ptr(m, GUEST_IOAPIC_ADDR, 4));
	assert_null(gmem_ptr(m, GUEST_LAPIC_ADDR, 4));
	assert_null(gmem_ptr(m, GUEST_KVM_TSS, 4096));
	assert_null(gmem_ptr(m, 4 * GiB - 1, 1));
	assert_null(gmem_ptr(m, 4 * GiB - 1, 2));
	assert_null(gmem_ptr(m, HOLE - 1, 2));
	assert_null(gmem_ptr(m, HOLE - 1, 4 * GiB - HOLE + 2)); /* 3G-1 .. 4G */
	assert_null(gmem_ptr(m, 0, 4 * GiB + 1));
	assert_null(gmem_ptr(m, 0, HOLE + 64 * MiB));
	/* The two regions are distinct memory: the last low byte, the first high byte. */
	assert_int_equal(gmem_write(m, HOLE - 1, &a, 1), 0);
	assert_int_equal(gmem_write(m, 4 * GiB, &b, 1), 0);
	assert_int_equal(gmem_write(m, 4 * GiB + 64 * MiB - 1, &c, 1), 0);
	assert_int_equal(gmem_read(m, &v, HOLE - 1, 1), 0);
	assert_int_equal(v, 0xa1);
	assert_int_equal(gmem_read(m, &v, 4 * GiB, 1), 0);
	assert_int_equal(v, 0xb2);
	assert_int_equal(gmem_read(m, &v, 4 * GiB + 64 * MiB - 1, 1), 0);
	assert_int_equal(v, 0xc3);
	assert_int_equal(gmem_read(m, &v, 0, 1), 0);
	assert_int_equal(v, 0);
	assert_int_equal(gmem_write(m, HOLE, &a, 1), -EFAULT);
	assert_int_equal(gmem_read(m, &v, 4 * GiB - 1, 1), -EFAULT);
	assert_int_equal(gmem_write(m, 4 * GiB + 64 * MiB, &a, 1), -EFAULT);
}

static void test_init_invalid(void **state)
{
	struct gmem m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(gmem_init(&m, 0), -EINVAL);
	assert_int_equal(gmem_init(&m, 4097), -EINVAL);
	assert_int_equal(gmem_init(&m, 64 * MiB + 1), -EINVAL);
	assert_int_equal(gmem_init(&m, 512 * KiB), -EINVAL);
	/* Destroying a gmem that init refused is harmless. */
	memset(&m, 0, sizeof(m));
	gmem_destroy(&m);
	assert_int_equal(gmem_resident(&m), 0);
	assert_null(gmem_ptr(&m, 0, 1));
}

static void test_destroy(void **state)
{
	struct gmem m;
	uint8_t v;

	(void)state;
	assert_int_equal(gmem_init(&m, 2 * MiB), 0);
	assert_int_equal(gmem_write(&m, 0, "x", 1), 0);
	gmem_destroy(&m);
	/* Nothing reachable any more. */
	assert_null(m.map);
	assert_int_equal(m.n, 0);
	assert_null(gmem_ptr(&m, 0, 1));
	assert_int_equal(gmem_read(&m, &v, 0, 1), -EFAULT);
	assert_int_equal(gmem_resident(&m), 0);
	assert_int_equal(gmem_low_end(&m), 0);
}

/* ---- guard pages ---- */

/* The permissions ("rw-p", "---p"...) of the mapping holding addr, from /proc/self/maps; "" if unmapped. */
static void perms_of(const void *addr, char perms[5])
{
	FILE *fp = fopen("/proc/self/maps", "r");
	char line[512];
	uintptr_t a = (uintptr_t)addr;

	assert_non_null(fp);
	perms[0] = '\0';
	while (fgets(line, sizeof(line), fp)) {
		unsigned long lo, hi;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && a >= lo && a < hi) {
			memcpy(perms, p, 5);
			break;
		}
	}
	fclose(fp);
}

static void check_guards(const struct gmem *m)
{
	char p[5];
	const struct gmem_region *last = &m->r[m->n - 1];

	perms_of(m->r[0].hva - 1, p);
	assert_string_equal(p, "---p");
	perms_of(m->r[0].hva - 4096, p);
	assert_string_equal(p, "---p");
	perms_of(m->r[0].hva, p);
	assert_string_equal(p, "rw-p");
	perms_of(last->hva + last->size - 1, p);
	assert_string_equal(p, "rw-p");
	perms_of(last->hva + last->size, p);
	assert_string_equal(p, "---p");
	perms_of(last->hva + last->size + 4095, p);
	assert_string_equal(p, "---p");
}

static void test_guard_pages_64m(void **state)
{
	struct fx *f = *state;

	check_guards(&f->m);
}

static void test_guard_pages_big(void **state)
{
	struct fx *f = *state;

	check_guards(&f->m);
}

/* ---- gmem_resident ---- */

static void test_resident(void **state)
{
	struct fx *f = *state;
	struct gmem *m = &f->m;
	uint64_t before = gmem_resident(m), after;
	uint8_t one = 1;

	/* A fresh mapping: nothing touched yet. */
	assert_true(before <= 4 * 4096);
	for (uint64_t i = 0; i < 20; i++)
		assert_int_equal(gmem_write(m, i * 1 * MiB + 4096, &one, 1), 0);
	after = gmem_resident(m);
	assert_true(after >= before + 20 * 4096);
	/* Not the whole 64 MiB either: only what was touched (allowing for transparent huge pages). */
	assert_true(after <= before + 20 * 2 * MiB);
	assert_true(after <= m->ram_size);
}

static void test_resident_big(void **state)
{
	struct fx *f = *state;
	struct gmem *m = &f->m;
	uint64_t before = gmem_resident(m), after;
	uint8_t one = 1;

	assert_true(before < 64 * MiB);
	/* Pages above 4 GiB count too. */
	for (uint64_t i = 0; i < 8; i++)
		assert_int_equal(gmem_write(m, 4 * GiB + i * 4 * MiB, &one, 1), 0);
	after = gmem_resident(m);
	assert_true(after >= before + 8 * 4096);
	assert_true(after < 64 * MiB);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_below_hole),
	    cmocka_unit_test(test_layout_at_hole),
	    cmocka_unit_test(test_layout_above_hole),
	    cmocka_unit_test(test_layout_invalid),
	    cmocka_unit_test_setup_teardown(test_init_64m, setup_64m, teardown),
	    cmocka_unit_test_setup_teardown(test_ptr_bounds, setup_64m, teardown),
	    cmocka_unit_test_setup_teardown(test_read_write, setup_64m, teardown),
	    cmocka_unit_test_setup_teardown(test_big_guest, setup_big, teardown),
	    cmocka_unit_test(test_init_invalid),
	    cmocka_unit_test(test_destroy),
	    cmocka_unit_test_setup_teardown(test_guard_pages_64m, setup_64m, teardown),
	    cmocka_unit_test_setup_teardown(test_guard_pages_big, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_resident, setup_64m, teardown),
	    cmocka_unit_test_setup_teardown(test_resident_big, setup_big, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
