/* test_runport.c: the run channel: exit device, ready marker, byte and page output, with hostile values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/runport.h"
#include "vmm/bus.h"
#include "vmm/gmem.h"
#include "vmm/layout.h"

#define RAM (4u << 20)

struct rec {
	uint32_t gone;
	int exits, readies;
	uint32_t status;
	uint8_t out[3][1 << 17];
	size_t len[3];
	unsigned calls;
};

static void rec_exit(void *o, uint32_t v)
{
	struct rec *r = o;

	r->exits++;
	r->status = v;
}

static void rec_ready(void *o)
{
	((struct rec *)o)->readies++;
}

static uint32_t rec_gone(void *o)
{
	return ((struct rec *)o)->gone;
}

static void rec_output(void *o, int stream, const uint8_t *d, size_t n)
{
	struct rec *r = o;

	assert_true(stream == 1 || stream == 2);
	assert_true(r->len[stream] + n <= sizeof(r->out[stream]));
	memcpy(r->out[stream] + r->len[stream], d, n);
	r->len[stream] += n;
	r->calls++;
}

struct fix {
	struct gmem m;
	struct runport p;
	struct bus pio;
	struct rec r;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct runport_hooks h = {.exit = rec_exit, .ready = rec_ready, .output = rec_output, .gone = rec_gone};

	if (!f || gmem_init(&f->m, RAM) < 0)
		return -1;
	h.opaque = &f->r;
	runport_init(&f->p, &h, &f->m);
	bus_init(&f->pio, "pio");
	if (bus_add(&f->pio, PORT_EXIT, 4, &runport_exit_ops, &f->p, "exit") ||
	    bus_add(&f->pio, PORT_READY, 1, &runport_ready_ops, &f->p, "ready") ||
	    bus_add(&f->pio, PORT_PROG_STDOUT, 2, &runport_output_ops, &f->p, "out") ||
	    bus_add(&f->pio, PORT_PROG_PAGES, 4, &runport_pages_ops, &f->p, "pages"))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	gmem_destroy(&f->m);
	free(f);
	return 0;
}

static void out32(struct fix *f, uint16_t port, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	bus_access(&f->pio, port, b, 4, true);
}

static void test_exit_values(void **state)
{
	struct fix *f = *state;
	uint8_t zero = 0, b = 200, w[2] = {0x34, 0x12};

	bus_access(&f->pio, PORT_EXIT, &zero, 1, true); /* 0 is a status like any other */
	assert_int_equal(f->r.exits, 1);
	assert_int_equal(f->r.status, 0);
	bus_access(&f->pio, PORT_EXIT, &b, 1, true);
	assert_int_equal(f->r.status, 200);
	bus_access(&f->pio, PORT_EXIT, w, 2, true);
	assert_int_equal(f->r.status, 0x1234);
	out32(f, PORT_EXIT, 0xdeadbeef);
	assert_int_equal(f->r.status, 0xdeadbeef);
	assert_int_equal(f->r.exits, 4);
	/* A byte at 0xf5..0xf7 is not a status. */
	bus_access(&f->pio, PORT_EXIT + 1, &b, 1, true);
	bus_access(&f->pio, PORT_EXIT + 3, &b, 1, true);
	assert_int_equal(f->r.exits, 4);
	assert_int_equal(f->p.ignored, 2);
}

static void test_ready(void **state)
{
	struct fix *f = *state;
	uint8_t v = READY_VALUE, other = 7;

	bus_access(&f->pio, PORT_READY, &other, 1, true);
	assert_int_equal(f->r.readies, 0);
	bus_access(&f->pio, PORT_READY, &v, 1, true);
	assert_int_equal(f->r.readies, 1);
	assert_int_equal(f->p.ignored, 1);
}

static void test_byte_output_and_strings(void **state)
{
	struct fix *f = *state;
	uint8_t s[300];

	for (unsigned i = 0; i < sizeof(s); i++)
		s[i] = (uint8_t)i; /* NUL, CR, LF: all bytes pass unchanged */
	bus_write_string(&f->pio, PORT_PROG_STDOUT, s, 1, sizeof(s));
	assert_int_equal(f->r.len[1], sizeof(s));
	assert_memory_equal(f->r.out[1], s, sizeof(s));
	assert_int_equal(f->r.calls, 1); /* one string write, one call */
	bus_access(&f->pio, PORT_PROG_STDERR, s + 65, 1, true);
	assert_int_equal(f->r.len[2], 1);
	assert_int_equal(f->r.out[2][0], 'A');
}

/* A transfer page at gpa `ctl` naming n data pages from gpa `data`; len bytes. */
static void put_xfer(struct fix *f, uint64_t ctl, uint32_t stream, uint32_t len, uint64_t data, unsigned n)
{
	uint8_t raw[8 + 8 * PROG_XFER_PAGES] = {0};

	memcpy(raw, &stream, 4);
	memcpy(raw + 4, &len, 4);
	for (unsigned i = 0; i < n; i++) {
		uint64_t g = data + 4096ull * (n - 1 - i); /* pages out of order: the list decides */

		memcpy(raw + 8 + 8 * i, &g, 8);
	}
	assert_int_equal(gmem_write(&f->m, ctl, raw, sizeof(raw)), 0);
}

static void test_pages(void **state)
{
	struct fix *f = *state;
	const unsigned n = PROG_XFER_PAGES;
	uint32_t len = 4096 * (n - 1) + 123;
	uint8_t *want = malloc(len);

	assert_non_null(want);
	/* Fill data page j (in list order) with its own pattern at its place in the list's order. */
	for (uint32_t i = 0; i < len; i++)
		want[i] = (uint8_t)(i * 7 + i / 4096);
	for (unsigned k = 0; k < n; k++) {
		uint32_t chunk = k + 1 < n ? 4096 : len - 4096 * k;

		assert_int_equal(gmem_write(&f->m, 0x100000 + 4096ull * (n - 1 - k), want + 4096 * k, chunk), 0);
	}
	put_xfer(f, 0x80000, 1, len, 0x100000, n);
	out32(f, PORT_PROG_PAGES, 0x80000 / 4096);
	assert_int_equal(f->p.ignored, 0);
	assert_int_equal(f->r.len[1], len);
	assert_memory_equal(f->r.out[1], want, len);
	/* len 0: nothing, and not an error */
	put_xfer(f, 0x80000, 2, 0, 0x100000, 0);
	out32(f, PORT_PROG_PAGES, 0x80000 / 4096);
	assert_int_equal(f->r.len[2], 0);
	assert_int_equal(f->p.ignored, 0);
	free(want);
}

static void test_pages_hostile(void **state)
{
	struct fix *f = *state;
	uint64_t bad = 0x100001; /* not page-aligned */
	uint8_t raw[8 + 8 * PROG_XFER_PAGES] = {0};
	uint32_t one = 1, len = 100;
	uint64_t ignored = 0;

	/* control page outside RAM, at the last page (its list runs past the end), far beyond */
	out32(f, PORT_PROG_PAGES, RAM / 4096);
	out32(f, PORT_PROG_PAGES, 0xffffffff);
	assert_int_equal(f->p.ignored, ignored += 2);
	/* bad stream, len too big */
	put_xfer(f, 0x80000, 3, 10, 0x100000, 1);
	out32(f, PORT_PROG_PAGES, 0x80);
	put_xfer(f, 0x80000, 1, 4096 * PROG_XFER_PAGES + 1, 0x100000, PROG_XFER_PAGES);
	out32(f, PORT_PROG_PAGES, 0x80);
	assert_int_equal(f->p.ignored, ignored += 2);
	/* a data page not aligned, one outside RAM, one straddling its end */
	memcpy(raw, &one, 4);
	memcpy(raw + 4, &len, 4);
	memcpy(raw + 8, &bad, 8);
	gmem_write(&f->m, 0x80000, raw, sizeof(raw));
	out32(f, PORT_PROG_PAGES, 0x80);
	bad = RAM;
	memcpy(raw + 8, &bad, 8);
	gmem_write(&f->m, 0x80000, raw, sizeof(raw));
	out32(f, PORT_PROG_PAGES, 0x80);
	bad = 0xfffffffffffff000ull;
	memcpy(raw + 8, &bad, 8);
	gmem_write(&f->m, 0x80000, raw, sizeof(raw));
	out32(f, PORT_PROG_PAGES, 0x80);
	assert_int_equal(f->p.ignored, ignored += 3);
	/* the second page bad: nothing at all is sent, not even the first */
	put_xfer(f, 0x80000, 1, 5000, 0x100000, 2);
	bad = RAM + 4096;
	memcpy(raw, &one, 4);
	len = 5000;
	memcpy(raw + 4, &len, 4);
	gmem_read(&f->m, raw, 0x80000, sizeof(raw));
	memcpy(raw + 16, &bad, 8);
	gmem_write(&f->m, 0x80000, raw, sizeof(raw));
	out32(f, PORT_PROG_PAGES, 0x80);
	assert_int_equal(f->p.ignored, ignored += 1);
	/* wrong widths */
	bus_access(&f->pio, PORT_PROG_PAGES, raw, 1, true);
	bus_access(&f->pio, PORT_PROG_PAGES, raw, 2, true);
	assert_int_equal(f->p.ignored, ignored += 2);
	assert_int_equal(f->r.len[1] + f->r.len[2], 0);
}

/* A read of the pages port says which streams lost their reader. */
static void test_gone(void **state)
{
	struct fix *f = *state;
	uint8_t v[4];

	bus_access(&f->pio, PORT_PROG_PAGES, v, 4, false);
	assert_int_equal(v[0], 0);
	f->r.gone = 2;
	bus_access(&f->pio, PORT_PROG_PAGES, v, 4, false);
	assert_int_equal(v[0], 2);
	assert_int_equal(v[1] | v[2] | v[3], 0);
	f->r.gone = 3;
	bus_access(&f->pio, PORT_PROG_PAGES, v, 1, false);
	assert_int_equal(v[0], 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_exit_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ready, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_byte_output_and_strings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pages_hostile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gone, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
