/* test_bus.c: bus_add's layout checks, bus_find's lookup and bus_access's dispatch and unclaimed accounting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/bus.h"

/* A device that records the last access it saw, and answers reads with its id + offset. */
struct fake {
	uint8_t id;
	unsigned reads, writes;
	uint64_t off;
	unsigned len;
	uint8_t data[8];
};

static void fake_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct fake *f = dev;

	f->reads++;
	f->off = off;
	f->len = len;
	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(f->id + off + i);
}

static void fake_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct fake *f = dev;

	f->writes++;
	f->off = off;
	f->len = len;
	memcpy(f->data, data, len);
}

static const struct bus_ops fake_ops = {.read = fake_read, .write = fake_write};
static const struct bus_ops no_ops = {0};

static void test_init(void **state)
{
	struct bus b;

	(void)state;
	memset(&b, 0x5a, sizeof(b));
	bus_init(&b, "pio");
	assert_string_equal(b.name, "pio");
	assert_int_equal(b.n, 0);
	assert_int_equal(b.unclaimed_reads, 0);
	assert_int_equal(b.unclaimed_writes, 0);
	assert_null(bus_find(&b, 0));
}

static void test_overlap_rejected(void **state)
{
	struct bus b;
	struct fake d = {0};

	(void)state;
	bus_init(&b, "pio");
	assert_int_equal(bus_add(&b, 0x100, 0x10, &fake_ops, &d, "a"), 0);
	assert_int_equal(bus_add(&b, 0x100, 0x10, &fake_ops, &d, "same"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x100, 1, &fake_ops, &d, "first byte"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x10f, 1, &fake_ops, &d, "last byte"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x105, 2, &fake_ops, &d, "inside"), -EEXIST);
	assert_int_equal(bus_add(&b, 0xf0, 0x11, &fake_ops, &d, "ends on base"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x10f, 0x10, &fake_ops, &d, "starts on end"), -EEXIST);
	assert_int_equal(bus_add(&b, 0, 0x1000, &fake_ops, &d, "covers"), -EEXIST);
	assert_int_equal(bus_add(&b, 0, UINT64_MAX, &fake_ops, &d, "everything"), -EEXIST);
	assert_int_equal(b.n, 1);
	/* Touching edges is not overlapping. */
	assert_int_equal(bus_add(&b, 0xf0, 0x10, &fake_ops, &d, "below"), 0);
	assert_int_equal(bus_add(&b, 0x110, 0x10, &fake_ops, &d, "above"), 0);
	assert_int_equal(b.n, 3);
	/* A range filling a gap exactly is fine; one a byte too long on either side is not. */
	assert_int_equal(bus_add(&b, 0x200, 0x10, &fake_ops, &d, "far"), 0);
	assert_int_equal(bus_add(&b, 0x11f, 0xe2, &fake_ops, &d, "gap-1"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x120, 0xe1, &fake_ops, &d, "gap+1"), -EEXIST);
	assert_int_equal(bus_add(&b, 0x120, 0xe0, &fake_ops, &d, "gap"), 0);
	assert_int_equal(b.n, 5);
	/* The failed adds changed nothing. */
	assert_string_equal(bus_find(&b, 0x100)->name, "a");
	assert_string_equal(bus_find(&b, 0xff)->name, "below");
	assert_string_equal(bus_find(&b, 0x110)->name, "above");
	assert_string_equal(bus_find(&b, 0x1ff)->name, "gap");
	assert_string_equal(bus_find(&b, 0x200)->name, "far");
	assert_null(bus_find(&b, 0xef));
	assert_null(bus_find(&b, 0x210));
}

static void test_adjacent_ranges_dispatch(void **state)
{
	struct bus b;
	struct fake lo = {.id = 0x10}, hi = {.id = 0x80};
	uint8_t v;

	(void)state;
	bus_init(&b, "pio");
	assert_int_equal(bus_add(&b, 0x64, 1, &fake_ops, &hi, "hi"), 0);
	assert_int_equal(bus_add(&b, 0x60, 4, &fake_ops, &lo, "lo"), 0);
	assert_true(bus_access(&b, 0x63, &v, 1, false));
	assert_int_equal(lo.reads, 1);
	assert_int_equal(lo.off, 3);
	assert_int_equal(v, 0x13);
	assert_true(bus_access(&b, 0x64, &v, 1, false));
	assert_int_equal(hi.reads, 1);
	assert_int_equal(hi.off, 0);
	assert_int_equal(v, 0x80);
	/* An access spanning both is nobody's. */
	{
		uint8_t w[2] = {0, 0};

		assert_false(bus_access(&b, 0x63, w, 2, false));
		assert_int_equal(w[0], 0xff);
		assert_int_equal(w[1], 0xff);
	}
	assert_int_equal(lo.reads, 1);
	assert_int_equal(hi.reads, 1);
}

static void test_wrapping_and_empty(void **state)
{
	struct bus b;
	struct fake d = {.id = 1};
	uint8_t v = 0;

	(void)state;
	bus_init(&b, "mmio");
	assert_int_equal(bus_add(&b, 0x1000, 0, &fake_ops, &d, "empty"), -EINVAL);
	assert_int_equal(bus_add(&b, UINT64_MAX, 2, &fake_ops, &d, "wraps"), -EINVAL);
	assert_int_equal(bus_add(&b, 2, UINT64_MAX, &fake_ops, &d, "wraps"), -EINVAL);
	assert_int_equal(bus_add(&b, UINT64_MAX - 0xf, 0x11, &fake_ops, &d, "wraps"), -EINVAL);
	assert_int_equal(bus_add(&b, 0x1000, 0x10, NULL, &d, "no ops"), -EINVAL);
	assert_int_equal(b.n, 0);
	/* Ranges that end exactly at the top of the address space are valid. */
	assert_int_equal(bus_add(&b, UINT64_MAX - 0xf, 0x10, &fake_ops, &d, "top"), 0);
	assert_int_equal(bus_add(&b, 0, UINT64_MAX - 0xf, &fake_ops, &d, "rest"), 0);
	assert_int_equal(bus_add(&b, 0x5000, 1, &fake_ops, &d, "x"), -EEXIST);
	assert_true(bus_access(&b, UINT64_MAX, &v, 1, false));
	assert_int_equal(d.off, 0xf);
	assert_string_equal(bus_find(&b, UINT64_MAX - 0xf)->name, "top");
	assert_string_equal(bus_find(&b, UINT64_MAX - 0x10)->name, "rest");
	/* An access running past the top of the address space is unclaimed, not wrapped around. */
	{
		uint8_t w[4];

		d.reads = 0;
		assert_false(bus_access(&b, UINT64_MAX - 1, w, 4, false));
		assert_int_equal(d.reads, 0);
	}
}

static void test_table_full(void **state)
{
	struct bus b;
	struct fake d = {0};

	(void)state;
	bus_init(&b, "pio");
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_add(&b, 0x1000 + 0x10 * i, 0x10, &fake_ops, &d, "r"), 0);
	assert_int_equal(b.n, BUS_MAX_RANGES);
	assert_int_equal(bus_add(&b, 0, 0x10, &fake_ops, &d, "one too many"), -ENOSPC);
	assert_int_equal(bus_add(&b, 0x8000, 0x10, &fake_ops, &d, "one too many"), -ENOSPC);
	assert_int_equal(b.n, BUS_MAX_RANGES);
	assert_null(bus_find(&b, 0));
	assert_null(bus_find(&b, 0x8000));
	assert_non_null(bus_find(&b, 0x1000 + 0x10 * (BUS_MAX_RANGES - 1)));
}

static void test_dispatch_by_offset(void **state)
{
	struct bus b;
	struct fake d = {.id = 0x40};
	uint8_t w[4] = {1, 2, 3, 4}, r[4] = {0};

	(void)state;
	bus_init(&b, "pio");
	assert_int_equal(bus_add(&b, 0x3f8, 8, &fake_ops, &d, "uart"), 0);
	assert_true(bus_access(&b, 0x3fb, w, 1, true));
	assert_int_equal(d.writes, 1);
	assert_int_equal(d.off, 3);
	assert_int_equal(d.len, 1);
	assert_int_equal(d.data[0], 1);
	assert_true(bus_access(&b, 0x3fc, w, 4, true)); /* ends exactly at the end of the range */
	assert_int_equal(d.writes, 2);
	assert_int_equal(d.off, 4);
	assert_int_equal(d.len, 4);
	assert_memory_equal(d.data, w, 4);
	assert_true(bus_access(&b, 0x3f9, r, 2, false));
	assert_int_equal(d.reads, 1);
	assert_int_equal(d.off, 1);
	assert_int_equal(d.len, 2);
	assert_int_equal(r[0], 0x41);
	assert_int_equal(r[1], 0x42);
	assert_int_equal(b.unclaimed_reads, 0);
	assert_int_equal(b.unclaimed_writes, 0);
}

static void test_straddling_end_unclaimed(void **state)
{
	struct bus b;
	struct fake d = {0};
	uint8_t r[8];

	(void)state;
	bus_init(&b, "pio");
	assert_int_equal(bus_add(&b, 0x3f8, 8, &fake_ops, &d, "uart"), 0);
	memset(r, 0, sizeof(r));
	assert_false(bus_access(&b, 0x3ff, r, 2, false));
	assert_false(bus_access(&b, 0x3fd, r, 4, false));
	assert_false(bus_access(&b, 0x3f9, r, 8, false));
	assert_false(bus_access(&b, 0x3f7, r, 2, false)); /* straddles the start */
	assert_false(bus_access(&b, 0x3fe, r, 4, true));
	assert_int_equal(d.reads, 0);
	assert_int_equal(d.writes, 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(r[i], 0xff);
	assert_int_equal(b.unclaimed_reads, 4);
	assert_int_equal(b.unclaimed_writes, 1);
	/* Longer than the whole range. */
	assert_int_equal(bus_add(&b, 0x60, 1, &fake_ops, &d, "tiny"), 0);
	assert_false(bus_access(&b, 0x60, r, 4, false));
	assert_false(bus_access(&b, 0x60, r, 2, true));
	assert_int_equal(d.reads, 0);
	assert_int_equal(d.writes, 0);
}

static void test_unclaimed_accounting(void **state)
{
	struct bus b;
	struct fake d = {0};
	uint8_t r[8], w[8] = {0};

	(void)state;
	bus_init(&b, "pio");
	assert_false(bus_access(&b, 0x80, r, 1, false)); /* an empty bus */
	assert_int_equal(bus_add(&b, 0x70, 2, &fake_ops, &d, "cmos"), 0);
	memset(r, 0, sizeof(r));
	assert_false(bus_access(&b, 0x80, r, 1, false));
	assert_int_equal(r[0], 0xff);
	assert_int_equal(r[1], 0x00); /* only len bytes are filled */
	assert_false(bus_access(&b, 0x6f, r, 8, false));
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(r[i], 0xff);
	assert_int_equal(b.unclaimed_reads, 3);
	assert_int_equal(b.unclaimed_writes, 0);
	assert_false(bus_access(&b, 0x72, w, 1, true));
	assert_false(bus_access(&b, 0, w, 4, true));
	assert_int_equal(b.unclaimed_writes, 2);
	assert_int_equal(b.unclaimed_reads, 3);
	assert_int_equal(d.reads + d.writes, 0);
}

static void test_missing_handlers(void **state)
{
	struct bus b;
	uint8_t r[2] = {0, 0}, w[2] = {7, 7};

	(void)state;
	bus_init(&b, "pio");
	assert_int_equal(bus_add(&b, 0x80, 2, &no_ops, NULL, "sink"), 0);
	assert_true(bus_access(&b, 0x80, r, 2, false)); /* claimed, reads all-ones */
	assert_int_equal(r[0], 0xff);
	assert_int_equal(r[1], 0xff);
	assert_true(bus_access(&b, 0x81, w, 1, true)); /* claimed, dropped */
	assert_int_equal(b.unclaimed_reads, 0);
	assert_int_equal(b.unclaimed_writes, 0);
}

/* A small deterministic PRNG, so a failure reproduces. */
static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_many_ranges_random_order(void **state)
{
	static struct fake devs[BUS_MAX_RANGES];
	static char names[BUS_MAX_RANGES][8];
	uint64_t base[BUS_MAX_RANGES], len[BUS_MAX_RANGES], seed = 0x9e3779b97f4a7c15ull, at = 0;
	unsigned order[BUS_MAX_RANGES];

	(void)state;
	for (unsigned round = 0; round < 50; round++) {
		struct bus b;

		bus_init(&b, "mmio");
		at = xorshift(&seed) % 16;
		/* Sorted, non-overlapping ranges with random lengths; some adjacent, some with gaps. */
		for (unsigned i = 0; i < BUS_MAX_RANGES; i++) {
			base[i] = at;
			len[i] = 1 + xorshift(&seed) % 64;
			at += len[i] + (xorshift(&seed) % 3 ? xorshift(&seed) % 32 : 0);
			order[i] = i;
			devs[i].id = (uint8_t)i;
			snprintf(names[i], sizeof(names[i]), "r%u", i);
		}
		for (unsigned i = BUS_MAX_RANGES - 1; i > 0; i--) {
			unsigned j = xorshift(&seed) % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (unsigned k = 0; k < BUS_MAX_RANGES; k++) {
			unsigned i = order[k];

			assert_int_equal(bus_add(&b, base[i], len[i], &fake_ops, &devs[i], names[i]), 0);
		}
		for (unsigned i = 1; i < b.n; i++)
			assert_true(b.r[i - 1].base + b.r[i - 1].len <= b.r[i].base);
		/* Every address from 0 to past the last range resolves to the right range or to nobody. */
		for (uint64_t addr = 0; addr < at + 4; addr++) {
			const struct bus_range *r = bus_find(&b, addr);
			int want = -1;

			for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
				if (addr >= base[i] && addr < base[i] + len[i])
					want = (int)i;
			if (want < 0) {
				assert_null(r);
			} else {
				assert_non_null(r);
				assert_ptr_equal(r->dev, &devs[want]);
				assert_int_equal(r->base, base[want]);
				assert_int_equal(r->len, len[want]);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init),
	    cmocka_unit_test(test_overlap_rejected),
	    cmocka_unit_test(test_adjacent_ranges_dispatch),
	    cmocka_unit_test(test_wrapping_and_empty),
	    cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_dispatch_by_offset),
	    cmocka_unit_test(test_straddling_end_unclaimed),
	    cmocka_unit_test(test_unclaimed_accounting),
	    cmocka_unit_test(test_missing_handlers),
	    cmocka_unit_test(test_many_ranges_random_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
