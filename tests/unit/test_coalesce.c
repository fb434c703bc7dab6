/* test_coalesce.c: delivering KVM's coalesced-write ring: order, wrap-around, and a ring that lies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/coalesce.h"

#define PAGE 4096

struct rec {
	uint64_t off[512];
	uint8_t val[512];
	unsigned n;
};

static void rec_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	(void)dev;
	(void)off;
	memset(data, 0xff, len);
}

static void rec_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct rec *r = dev;

	(void)len;
	if (r->n < 512) {
		r->off[r->n] = off;
		r->val[r->n++] = data[0];
	}
}

static const struct bus_ops rec_ops = {.read = rec_read, .write = rec_write};

struct fx {
	struct coalesce c;
	struct bus pio, mmio;
	struct rec port, mem;
	void *page;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->page = calloc(1, PAGE);
	assert_non_null(f->page);
	coalesce_init(&f->c, f->page, PAGE);
	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	assert_int_equal(bus_add(&f->pio, 0x3f8, 8, &rec_ops, &f->port, "com1"), 0);
	assert_int_equal(bus_add(&f->mmio, 0xd0000000, 0x1000, &rec_ops, &f->mem, "dev"), 0);
}

static void fx_free(struct fx *f)
{
	coalesce_destroy(&f->c);
	free(f->page);
}

/* What KVM does when the guest writes a registered port: fill the slot at `last`, then advance it. */
static void kvm_push(struct fx *f, uint64_t addr, uint8_t byte, uint32_t len, uint32_t pio)
{
	struct kvm_coalesced_mmio_ring *r = f->c.ring;
	struct kvm_coalesced_mmio *e = &r->coalesced_mmio[r->last];

	e->phys_addr = addr;
	e->len = len;
	e->pio = pio;
	memset(e->data, 0, sizeof(e->data));
	e->data[0] = byte;
	r->last = (r->last + 1) % f->c.max;
}

static void test_ring_size(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	/* (4096 - 8) / 24 entries on x86-64 */
	assert_int_equal(f.c.max, (PAGE - sizeof(struct kvm_coalesced_mmio_ring)) / sizeof(struct kvm_coalesced_mmio));
	assert_true(f.c.max > 100);
	fx_free(&f);
}

static void test_in_order_with_wrap(void **state)
{
	struct fx f;
	unsigned total = 0;

	(void)state;
	fx_init(&f);
	/* Four rounds of max-1 entries (a full ring) make the indices wrap three times. */
	for (int round = 0; round < 4; round++) {
		for (unsigned i = 0; i + 1 < f.c.max; i++)
			kvm_push(&f, 0x3f8, (uint8_t)(total + i), 1, 1);
		coalesce_drain(&f.c, &f.pio, &f.mmio);
		total += f.c.max - 1;
		assert_int_equal(f.c.ring->first, f.c.ring->last);
	}
	assert_int_equal(f.c.delivered, total);
	assert_int_equal(f.port.n, 512); /* the recorder keeps the first 512 */
	for (unsigned i = 0; i < 512; i++) {
		assert_int_equal(f.port.off[i], 0);
		assert_int_equal(f.port.val[i], (uint8_t)i);
	}
	fx_free(&f);
}

static void test_pio_and_mmio_entries(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	kvm_push(&f, 0x3f9, 'a', 1, 1);
	kvm_push(&f, 0xd0000010, 'b', 4, 0);
	kvm_push(&f, 0x3f8, 'c', 1, 1);
	coalesce_drain(&f.c, &f.pio, &f.mmio);
	assert_int_equal(f.port.n, 2);
	assert_int_equal(f.port.off[0], 1);
	assert_int_equal(f.port.val[0], 'a');
	assert_int_equal(f.port.val[1], 'c');
	assert_int_equal(f.mem.n, 1);
	assert_int_equal(f.mem.off[0], 0x10);
	fx_free(&f);
}

/* A zero or oversized length is skipped, not used to read past the entry's 8 data bytes. */
static void test_bad_lengths_skipped(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	kvm_push(&f, 0x3f8, 'x', 0, 1);
	kvm_push(&f, 0x3f8, 'y', 9, 1);
	kvm_push(&f, 0x3f8, 'z', 0xffffffffu, 1);
	kvm_push(&f, 0x3f8, 'k', 1, 1);
	coalesce_drain(&f.c, &f.pio, &f.mmio);
	assert_int_equal(f.port.n, 1);
	assert_int_equal(f.port.val[0], 'k');
	assert_int_equal(f.c.ring->first, 4);
	fx_free(&f);
}

/* Indices past the ring's end (a corrupted page) end the drain instead of indexing out of bounds. */
static void test_indices_out_of_range(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	f.c.ring->first = f.c.max + 5;
	f.c.ring->last = 0;
	coalesce_drain(&f.c, &f.pio, &f.mmio);
	assert_int_equal(f.port.n, 0);
	f.c.ring->first = 0;
	f.c.ring->last = 0xffffffffu;
	coalesce_drain(&f.c, &f.pio, &f.mmio); /* `last` out of range: nothing is read, and the drain ends */
	assert_int_equal(f.port.n, 0);
	assert_int_equal(f.c.ring->first, 0);
	fx_free(&f);
}

/* No ring (KVM without coalesced PIO): everything is a no-op; a failing registration turns coalescing off but
 * still delivers what is waiting. */
static void test_no_ring_and_failure(void **state)
{
	struct coalesce none;
	struct fx f;

	(void)state;
	coalesce_init(&none, NULL, PAGE);
	assert_null(none.ring);
	coalesce_drain(&none, NULL, NULL);
	assert_int_equal(coalesce_set_port(&none, -1, 0x3f8, true, NULL, NULL), 0);
	coalesce_destroy(&none);

	fx_init(&f);
	kvm_push(&f, 0x3f8, 'q', 1, 1);
	assert_true(coalesce_set_port(&f.c, -1, 0x3f8, true, &f.pio, &f.mmio) < 0);
	assert_true(f.c.failed);
	assert_false(f.c.zone_on);
	assert_int_equal(f.port.n, 1);
	assert_int_equal(coalesce_set_port(&f.c, -1, 0x3f8, true, &f.pio, &f.mmio), 0); /* stays off, no retry */
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ring_size),
	    cmocka_unit_test(test_in_order_with_wrap),
	    cmocka_unit_test(test_pio_and_mmio_entries),
	    cmocka_unit_test(test_bad_lengths_skipped),
	    cmocka_unit_test(test_indices_out_of_range),
	    cmocka_unit_test(test_no_ring_and_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
