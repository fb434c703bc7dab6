/* test_virtq.c: the split virtqueue against a hostile driver: bad-inputs.md 3.2 T4/T5 and 3.3 Q1-Q14, happy paths. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <cmocka.h>

#include "devices/virtq.h"
#include "tests/unit/vq_helpers.h"
#include "vmm/gmem.h"

#define MiB  (1ULL << 20)
#define GiB  (1ULL << 30)
#define HOLE 0xc0000000ULL
#define RAM  (2 * MiB) /* the small guest: one region [0, RAM) between guard pages */
#define RING 0x10000ULL
#define BUF  0x40000ULL
#define TBL  0x80000ULL /* indirect tables */
#define W    VQH_W

#define F_INDIRECT (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT	   (1ULL << VIRTIO_RING_F_EVENT_IDX)

struct fx {
	struct gmem m;
	struct vqh h;
	struct virtq q;
	struct virtq_req r;
};

static int setup_ram(void **state, uint64_t ram)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || gmem_init(&f->m, ram) < 0) {
		free(f);
		return -1;
	}
	if (vqh_init(&f->h, &f->m, 16, RING) < 0)
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_ram(state, RAM);
}

/* 4 GiB of RAM: [0, 3 GiB) and [4 GiB, 5 GiB) around the MMIO hole. MAP_NORESERVE: untouched pages are free. */
static int setup_big(void **state)
{
	return setup_ram(state, HOLE + GiB);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	gmem_destroy(&f->m);
	free(f);
	return 0;
}

static int activate(struct fx *f, uint64_t features)
{
	vqh_to_virtq(&f->h, &f->q);
	return virtq_activate(&f->q, &f->m, features);
}

static uint8_t *hva(struct fx *f, uint64_t gpa)
{
	return gmem_ptr(&f->m, gpa, 1);
}

/* Post a one-segment request and pop it: the virtq_pop result. */
static int post_one(struct fx *f, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct vqh_seg s = {addr, len, flags};
	int head = vqh_chain(&f->h, &s, 1);

	assert_true(head >= 0);
	vqh_post(&f->h, (uint16_t)head);
	return virtq_pop(&f->q, &f->r);
}

/* A bad chain: -EINVAL with the head set, returned with length 0, counted; the queue goes on working. */
static void expect_drop(struct fx *f, uint16_t head)
{
	uint64_t dropped = f->q.dropped;
	uint32_t id, len;

	assert_int_equal(virtq_pop(&f->q, &f->r), -EINVAL);
	assert_int_equal(f->r.head, head);
	assert_int_equal(f->r.nout + f->r.nin, 0);
	assert_int_equal(f->q.dropped, dropped + 1);
	assert_int_equal(virtq_push(&f->q, head, 0), 0);
	vqh_used_elem(&f->h, (uint16_t)(vqh_used_idx(&f->h) - 1), &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_false(f->q.broken);
	assert_int_equal(post_one(f, BUF, 8, 0), 1); /* still usable */
	assert_int_equal(virtq_push(&f->q, f->r.head, 8), 0);
	vqh_used_elem(&f->h, (uint16_t)(vqh_used_idx(&f->h) - 1), &id, &len);
	assert_int_equal(len, 8);
	f->h.used_seen = vqh_used_idx(&f->h);
}

/* ---- happy paths ---- */

static void test_three_desc_chain(void **state)
{
	struct fx *f = *state;
	struct vqh_seg s[] = {{BUF, 16, 0}, {BUF + 0x1000, 100, 0}, {BUF + 0x2000, 1, W}};
	uint32_t id, len;
	int head;

	assert_int_equal(activate(f, 0), 0);
	assert_int_equal(virtq_pop(&f->q, &f->r), 0); /* empty */
	head = vqh_chain(&f->h, s, 3);
	vqh_post(&f->h, (uint16_t)head);
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_int_equal(f->r.head, head);
	assert_int_equal(f->r.nout, 2);
	assert_int_equal(f->r.nin, 1);
	assert_int_equal(f->r.out_len, 116);
	assert_int_equal(f->r.in_len, 1);
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(f->r.iov[i].iov_base, hva(f, s[i].addr));
		assert_int_equal(f->r.iov[i].iov_len, s[i].len);
	}
	*(uint8_t *)f->r.iov[2].iov_base = 0x5a;
	assert_int_equal(virtq_pop(&f->q, &f->r), 0);
	assert_int_equal(virtq_push(&f->q, (uint16_t)head, 1), 0);
	assert_int_equal(vqh_used_idx(&f->h), 1);
	assert_int_equal(vqh_get_used(&f->h, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 1);
	assert_int_equal(*hva(f, BUF + 0x2000), 0x5a);
	assert_int_equal(f->q.dropped, 0);
}

/* Q11: 70000 requests in batches of 5 on a 16-entry ring: both 16-bit indices wrap, entries stay in order. */
static void test_index_wrap_70000(void **state)
{
	struct fx *f = *state;
	uint16_t heads[5];
	uint32_t id, len, done = 0;

	assert_int_equal(activate(f, F_EVENT), 0);
	while (done < 70000) {
		for (int k = 0; k < 5; k++) {
			struct vqh_seg s[] = {{BUF + 64 * k, 16, 0}, {BUF + 0x1000 + k, 1, W}};
			int head = vqh_chain(&f->h, s, 2);

			assert_true(head >= 0);
			vqh_post(&f->h, (uint16_t)head);
		}
		for (int k = 0; k < 5; k++) {
			assert_int_equal(virtq_pop(&f->q, &f->r), 1);
			assert_int_equal(f->r.nout, 1);
			assert_int_equal(f->r.nin, 1);
			assert_ptr_equal(f->r.iov[0].iov_base, hva(f, BUF + 64 * k));
			heads[k] = f->r.head;
		}
		assert_int_equal(virtq_pop(&f->q, &f->r), 0);
		for (int k = 0; k < 5; k++)
			assert_int_equal(virtq_push(&f->q, heads[k], (done + k) & 0xffff), 0);
		for (int k = 0; k < 5; k++) {
			assert_int_equal(vqh_get_used(&f->h, &id, &len), 1);
			assert_int_equal(id, heads[k]);
			assert_int_equal(len, (done + k) & 0xffff);
		}
		done += 5;
		assert_int_equal(vqh_used_idx(&f->h), (uint16_t)done);
		assert_int_equal(f->q.last_avail, (uint16_t)done);
	}
	assert_false(f->q.broken);
}

/* EVENT_IDX, device to driver: an interrupt only when used.idx steps past used_event. */
static void test_event_idx_used_event(void **state)
{
	struct fx *f = *state;
	int fired = 0;

	assert_int_equal(activate(f, F_EVENT), 0);
	assert_false(virtq_should_notify(&f->q)); /* nothing used yet */
	vqh_set_used_event(&f->h, 5);		  /* "interrupt me when entry 5 is used", i.e. used.idx goes 5 -> 6 */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(post_one(f, BUF, 8, 0), 1);
		assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
		if (virtq_should_notify(&f->q)) {
			assert_int_equal(f->q.used_idx, 6);
			fired++;
		}
	}
	assert_int_equal(fired, 1);
	/* A batch that jumps over used_event interrupts once. */
	vqh_set_used_event(&f->h, 11);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(post_one(f, BUF, 8, 0), 1);
		assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	}
	assert_true(virtq_should_notify(&f->q)); /* 10 -> 13 crosses 11 */
	/* used_event behind us: no interrupt until it is moved (the driver's business, not a device fault). */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(post_one(f, BUF, 8, 0), 1);
		assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
		assert_false(virtq_should_notify(&f->q));
	}
}

/* EVENT_IDX: exactly 2^16 used entries between two checks bring used.idx back to the value last signalled; the
 * driver must still be interrupted. */
static void test_event_idx_full_wrap(void **state)
{
	struct fx *f = *state;

	assert_int_equal(activate(f, F_EVENT), 0);
	vqh_set_used_event(&f->h, 0);
	for (unsigned i = 0; i < 65536; i++) {
		assert_int_equal(post_one(f, BUF, 8, 0), 1);
		assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	}
	assert_int_equal(f->q.used_idx, 0);
	assert_true(virtq_should_notify(&f->q));
	assert_false(virtq_should_notify(&f->q));
}

/* virtq_next: a buffer, or 0 only after avail_event is published (the driver then kicks for its next one). */
static void test_next(void **state)
{
	struct fx *f = *state;

	assert_int_equal(activate(f, F_EVENT), 0);
	assert_int_equal(virtq_next(&f->q, &f->r), 0);
	assert_int_equal(vqh_avail_event(&f->h), 0);
	for (int i = 0; i < 2; i++)
		vqh_post(&f->h, (uint16_t)vqh_chain(&f->h, &(struct vqh_seg){BUF, 8, 0}, 1));
	assert_int_equal(virtq_next(&f->q, &f->r), 1);
	assert_int_equal(vqh_avail_event(&f->h), 0); /* not empty yet: nothing published */
	assert_int_equal(virtq_next(&f->q, &f->r), 1);
	assert_int_equal(virtq_next(&f->q, &f->r), 0);
	assert_int_equal(vqh_avail_event(&f->h), 2);
}

/* EVENT_IDX, driver to device: enable_notify publishes avail_event and reports buffers that raced in. */
static void test_event_idx_avail_event(void **state)
{
	struct fx *f = *state;

	assert_int_equal(activate(f, F_EVENT), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(post_one(f, BUF, 8, 0), 1);
		assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	}
	assert_false(virtq_enable_notify(&f->q));
	assert_int_equal(vqh_avail_event(&f->h), 3);
	vqh_post(&f->h, (uint16_t)vqh_chain(&f->h, &(struct vqh_seg){BUF, 8, 0}, 1));
	assert_true(virtq_enable_notify(&f->q)); /* one arrived: pop again before sleeping */
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_false(virtq_enable_notify(&f->q));
	assert_int_equal(vqh_avail_event(&f->h), 4);
}

/* Without EVENT_IDX: VIRTQ_AVAIL_F_NO_INTERRUPT suppresses; enable_notify is a no-op that writes nothing. */
static void test_no_interrupt_flag(void **state)
{
	struct fx *f = *state;
	uint16_t *avail_event = gmem_ptr(&f->m, f->h.used + 4 + 8 * 16, 2);

	assert_int_equal(activate(f, 0), 0);
	assert_false(virtq_should_notify(&f->q)); /* nothing used yet */
	vqh_set_avail_flags(&f->h, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(post_one(f, BUF, 8, 0), 1);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_false(virtq_should_notify(&f->q));
	vqh_set_avail_flags(&f->h, 0);
	assert_int_equal(post_one(f, BUF, 8, 0), 1);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_true(virtq_should_notify(&f->q));
	assert_false(virtq_should_notify(&f->q));
	*avail_event = 0xabcd;
	assert_false(virtq_enable_notify(&f->q));
	assert_int_equal(*avail_event, 0xabcd);
}

static void test_indirect_chains(void **state)
{
	struct fx *f = *state;
	struct vqh_seg s[] = {{BUF, 16, 0}, {BUF + 0x100, 512, W}, {BUF + 0x400, 1, W}};
	struct vqh_seg big[256];
	int head;

	assert_int_equal(activate(f, F_INDIRECT), 0);
	head = vqh_indirect(&f->h, TBL, s, 3);
	vqh_post(&f->h, (uint16_t)head);
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_int_equal(f->r.head, head);
	assert_int_equal(f->r.nout, 1);
	assert_int_equal(f->r.nin, 2);
	assert_int_equal(f->r.in_len, 513);
	assert_ptr_equal(f->r.iov[1].iov_base, hva(f, BUF + 0x100));
	assert_int_equal(virtq_push(&f->q, (uint16_t)head, 513), 0);

	/* A direct descriptor, then an indirect one ending the chain. */
	vqh_desc(&f->h, 5, BUF + 0x800, 4, VIRTQ_DESC_F_NEXT, 6);
	vqh_desc(&f->h, 6, TBL, 3 * 16, VIRTQ_DESC_F_INDIRECT | W /* ignored on an indirect descriptor */, 0);
	vqh_post(&f->h, 5);
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_int_equal(f->r.nout, 2);
	assert_int_equal(f->r.nin, 2);
	assert_ptr_equal(f->r.iov[0].iov_base, hva(f, BUF + 0x800));
	assert_int_equal(virtq_push(&f->q, 5, 0), 0);

	/* The largest table, VIRTQ_MAX_SIZE entries. */
	for (int i = 0; i < 256; i++)
		big[i] = (struct vqh_seg){BUF + i, 1, (uint16_t)(i >= 128 ? W : 0)};
	head = vqh_indirect(&f->h, TBL, big, 256);
	vqh_post(&f->h, (uint16_t)head);
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_int_equal(f->r.nout, 128);
	assert_int_equal(f->r.nin, 128);
	assert_int_equal(virtq_push(&f->q, (uint16_t)head, 0), 0);
	/* Three direct segments plus a full table: more than VIRTQ_MAX_SEGS iovecs. */
	vqh_desc(&f->h, 8, BUF, 1, VIRTQ_DESC_F_NEXT, 9);
	vqh_desc(&f->h, 9, BUF, 1, VIRTQ_DESC_F_NEXT, 10);
	vqh_desc(&f->h, 10, BUF, 1, VIRTQ_DESC_F_NEXT, 11);
	vqh_desc(&f->h, 11, TBL, 256 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	vqh_post(&f->h, 8);
	expect_drop(f, 8);
}

/* ---- T4, T5: activation ---- */

static void test_t4_queue_num(void **state)
{
	struct fx *f = *state;
	const uint16_t bad[] = {0, 3, 6, 100, 255, 257, 384, 512, 1024, 32768, 0xffff};
	const uint16_t good[] = {1, 2, 4, 128, 256};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vqh_to_virtq(&f->h, &f->q);
		f->q.num = bad[i];
		assert_int_equal(virtq_activate(&f->q, &f->m, 0), -EINVAL);
		assert_false(f->q.active);
		assert_int_equal(virtq_pop(&f->q, &f->r), 0);
		assert_int_equal(virtq_push(&f->q, 0, 0), -EINVAL);
		assert_false(virtq_should_notify(&f->q));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		vqh_init(&f->h, &f->m, good[i], RING);
		assert_int_equal(activate(f, F_EVENT), 0);
		assert_true(f->q.active);
	}
}

static int try_rings(struct fx *f, uint16_t num, uint64_t d, uint64_t a, uint64_t u, uint64_t features)
{
	virtq_reset(&f->q);
	f->q.num = num;
	f->q.desc_gpa = d;
	f->q.avail_gpa = a;
	f->q.used_gpa = u;
	return virtq_activate(&f->q, &f->m, features);
}

static void test_t5_ring_placement(void **state)
{
	struct fx *f = *state;
	const uint64_t d = RING, a = RING + 0x1000, u = RING + 0x2000, end = RAM;

	assert_int_equal(try_rings(f, 16, d, a, u, F_EVENT), 0);
	/* misaligned: desc 16, avail 2, used 4 */
	assert_int_equal(try_rings(f, 16, d + 8, a, u, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, d, a + 1, u, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, d, a, u + 2, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, d + 16, a + 2, u + 4, 0), 0);
	/* outside RAM, straddling its end, wrapping u64 */
	assert_int_equal(try_rings(f, 16, end, a, u, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, end - 16 * 15, a, u, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, end - 16 * 16, a, u, 0), 0); /* ends exactly at the end of RAM */
	assert_int_equal(try_rings(f, 16, d, end - 34, u, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, d, a, end - 128, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, UINT64_MAX - 15, a, u, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, d, UINT64_MAX - 1, u, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, d, a, UINT64_MAX - 3, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, 0xfffffffffffff000ULL, a, u, 0), -EINVAL);
	/* the event fields count: avail (36 + 2) and used (132 + 2) ending exactly at the end of RAM */
	assert_int_equal(try_rings(f, 16, d, end - 36, u, 0), 0);
	assert_int_equal(try_rings(f, 16, d, end - 36, u, F_EVENT), -EINVAL);
	assert_int_equal(try_rings(f, 16, d, a, end - 132, 0), 0);
	assert_int_equal(try_rings(f, 16, d, a, end - 132, F_EVENT), -EINVAL);
	/* overlapping each other */
	assert_int_equal(try_rings(f, 16, d, d + 16 * 15, u, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, d, a, d + 128, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, d, a, a + 36, F_EVENT), -EINVAL); /* on used_event only */
	assert_int_equal(try_rings(f, 16, d, a, a + 36, 0), 0);
	assert_int_equal(try_rings(f, 16, d, d, d, 0), -EINVAL);
	/* ring at gpa 0 is legal RAM */
	assert_int_equal(try_rings(f, 16, 0, 0x100, 0x200, F_EVENT), 0);
	assert_false(f->q.broken);
}

/* T5 and Q6 across the MMIO hole: rings and buffers may sit in high RAM, never over the hole. */
static void test_t5_q6_mmio_hole(void **state)
{
	struct fx *f = *state;
	const uint64_t hi = 4 * GiB;
	struct vqh_seg s[] = {{hi + 0x100000, 64, 0}, {HOLE - 64, 64, W}};
	uint32_t id, len;
	int head;

	assert_int_equal(try_rings(f, 16, HOLE - 16 * 8, RING, RING + 0x1000, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, RING, HOLE - 20, RING + 0x1000, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, RING, RING + 0x1000, HOLE, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, hi - 0x100, RING, RING + 0x1000, 0), -EINVAL);
	assert_int_equal(try_rings(f, 16, hi + GiB - 0x80, RING, RING + 0x1000, 0), -EINVAL); /* past the top */

	/* Rings in high RAM, one buffer there and one ending exactly at the hole. */
	assert_int_equal(vqh_init(&f->h, &f->m, 16, hi + 0x10000), 0);
	assert_int_equal(activate(f, F_EVENT), 0);
	head = vqh_chain(&f->h, s, 2);
	vqh_post(&f->h, (uint16_t)head);
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_ptr_equal(f->r.iov[0].iov_base, f->m.r[1].hva + 0x100000);
	assert_ptr_equal(f->r.iov[1].iov_base, f->m.r[0].hva + HOLE - 64);
	memset(f->r.iov[1].iov_base, 0xee, 64);
	assert_int_equal(virtq_push(&f->q, (uint16_t)head, 64), 0);
	assert_int_equal(vqh_get_used(&f->h, &id, &len), 1);
	/* Buffers that reach into the hole, start in it, or span both regions (adjacent on the host side). */
	assert_int_equal(post_one(f, HOLE - 8, 16, W), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(post_one(f, HOLE, 1, 0), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(post_one(f, HOLE - 1, (uint32_t)(hi - HOLE + 2), 0), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(post_one(f, hi - 1, 2, 0), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(post_one(f, hi + GiB - 8, 16, 0), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(f->q.dropped, 5);
}

/* ---- Q1, Q2, Q9, Q13: a broken ring latches and then touches nothing ---- */

/* Make the page holding the rings inaccessible: any access by the library would now fault. */
static void rings_protect(struct fx *f, int prot)
{
	assert_int_equal(mprotect(hva(f, RING), 4096, prot), 0);
}

static void expect_broken_latched(struct fx *f)
{
	assert_true(f->q.broken);
	rings_protect(f, PROT_NONE);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(virtq_pop(&f->q, &f->r), -EIO);
		assert_int_equal(virtq_push(&f->q, 0, 0), -EIO);
		assert_false(virtq_should_notify(&f->q));
		assert_false(virtq_enable_notify(&f->q));
	}
	rings_protect(f, PROT_READ | PROT_WRITE);
	/* Only a reset and a new activation bring it back. */
	vqh_init(&f->h, &f->m, 16, RING);
	assert_int_equal(activate(f, F_EVENT), 0);
	assert_false(f->q.broken);
	assert_int_equal(post_one(f, BUF, 8, 0), 1);
}

static void test_q1_avail_idx_jump(void **state)
{
	struct fx *f = *state;

	assert_int_equal(activate(f, F_EVENT), 0);
	vqh_set_avail_idx(&f->h, 17); /* num + 1 ahead */
	assert_int_equal(virtq_pop(&f->q, &f->r), -EIO);
	expect_broken_latched(f);

	vqh_init(&f->h, &f->m, 16, RING);
	assert_int_equal(activate(f, F_EVENT), 0);
	vqh_set_avail_idx(&f->h, 0xffff); /* "behind" us, i.e. 65535 ahead */
	assert_int_equal(virtq_pop(&f->q, &f->r), -EIO);
	expect_broken_latched(f);
}

/* Q1 across the 16-bit wrap: exactly num ahead is a full ring (fine), num + 1 is broken. */
static void test_q1_jump_across_wrap(void **state)
{
	struct fx *f = *state;
	uint16_t heads[16];

	assert_int_equal(activate(f, 0), 0);
	for (unsigned i = 0; i < 65530; i++) { /* bring last_avail to 65530 the honest way */
		assert_int_equal(post_one(f, BUF, 8, 0), 1);
		assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	}
	assert_int_equal(f->q.last_avail, 65530);
	for (uint16_t i = 0; i < 16; i++) {
		vqh_desc(&f->h, i, BUF, 8, 0, 0);
		vqh_put_avail(&f->h, (uint16_t)(65530 + i), i);
	}
	vqh_set_avail_idx(&f->h, (uint16_t)(65530 + 16)); /* == 10 after the wrap */
	for (int i = 0; i < 16; i++) {
		assert_int_equal(virtq_pop(&f->q, &f->r), 1);
		heads[i] = f->r.head;
	}
	assert_int_equal(virtq_pop(&f->q, &f->r), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(virtq_push(&f->q, heads[i], 0), 0);
	assert_int_equal(f->q.last_avail, 10);
	vqh_set_avail_idx(&f->h, 10 + 17);
	assert_int_equal(virtq_pop(&f->q, &f->r), -EIO);
	expect_broken_latched(f);
}

static void test_q2_head_out_of_range(void **state)
{
	struct fx *f = *state;
	const uint16_t bad[] = {16, 17, 255, 256, 0xffff};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vqh_init(&f->h, &f->m, 16, RING);
		assert_int_equal(activate(f, 0), 0);
		vqh_post(&f->h, bad[i]);
		assert_int_equal(virtq_pop(&f->q, &f->r), -EIO);
		expect_broken_latched(f);
	}
}

static void test_q9_head_reposted_in_flight(void **state)
{
	struct fx *f = *state;
	uint16_t head;

	assert_int_equal(activate(f, 0), 0);
	assert_int_equal(post_one(f, BUF, 8, 0), 1);
	head = f->r.head;
	vqh_post(&f->h, head); /* again, while the device still owns it */
	assert_int_equal(virtq_pop(&f->q, &f->r), -EIO);
	expect_broken_latched(f);

	/* After the push the same head may come back. */
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	head = f->r.head;
	vqh_post(&f->h, head);
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_int_equal(f->r.head, head);
}

/* Q13: at most num requests in flight; the device can never be made to hold more. */
static void test_q13_inflight_bounded(void **state)
{
	struct fx *f = *state;

	assert_int_equal(activate(f, 0), 0);
	for (uint16_t i = 0; i < 16; i++) {
		vqh_desc(&f->h, i, BUF, 8, 0, 0);
		vqh_post(&f->h, i);
	}
	for (int i = 0; i < 16; i++)
		assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_int_equal(virtq_pop(&f->q, &f->r), 0);
	vqh_post(&f->h, 7); /* a 17th: any head is in flight now */
	assert_int_equal(virtq_pop(&f->q, &f->r), -EIO);
	assert_true(f->q.broken);
}

/* A push of a head the device does not hold is refused and writes nothing. */
static void test_push_not_in_flight(void **state)
{
	struct fx *f = *state;

	assert_int_equal(activate(f, 0), 0);
	assert_int_equal(virtq_push(&f->q, 0, 0), -EINVAL);
	assert_int_equal(virtq_push(&f->q, 16, 0), -EINVAL);
	assert_int_equal(virtq_push(&f->q, 0xffff, 0), -EINVAL);
	assert_int_equal(post_one(f, BUF, 8, 0), 1);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), -EINVAL); /* twice */
	assert_int_equal(vqh_used_idx(&f->h), 1);
	assert_false(f->q.broken);
	virtq_reset(&f->q);
	assert_int_equal(f->q.num, 0);
	assert_false(f->q.active);
	assert_int_equal(virtq_pop(&f->q, &f->r), 0);
}

/* ---- Q3-Q8: bad chains are dropped, the queue goes on ---- */

static void test_q3_next_out_of_range(void **state)
{
	struct fx *f = *state;

	/* Rings apart, and the memory after the table full of good descriptors: an unchecked next would find one. */
	vqh_place(&f->h, &f->m, 16, RING, RING + 0x2000, RING + 0x3000);
	for (uint32_t i = 16; i < 0x2000 / 16; i++)
		vqh_desc_at(&f->m, RING, i, BUF, 8, 0, 0);
	assert_int_equal(activate(f, 0), 0);
	vqh_desc(&f->h, 2, BUF, 8, VIRTQ_DESC_F_NEXT, 16);
	vqh_post(&f->h, 2);
	expect_drop(f, 2);
	vqh_desc(&f->h, 3, BUF, 8, VIRTQ_DESC_F_NEXT, 0xffff);
	vqh_post(&f->h, 3);
	expect_drop(f, 3);
}

static void test_q4_loops(void **state)
{
	struct fx *f = *state;

	assert_int_equal(activate(f, 0), 0);
	vqh_desc(&f->h, 4, BUF, 8, VIRTQ_DESC_F_NEXT, 4); /* self */
	vqh_post(&f->h, 4);
	expect_drop(f, 4);
	vqh_desc(&f->h, 5, BUF, 8, VIRTQ_DESC_F_NEXT, 6); /* 2-cycle */
	vqh_desc(&f->h, 6, BUF, 8, VIRTQ_DESC_F_NEXT, 5);
	vqh_post(&f->h, 5);
	expect_drop(f, 5);
	for (uint16_t i = 0; i < 16; i++) /* a cycle through all of them, entered at 9 */
		vqh_desc(&f->h, i, BUF, 8, VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) % 16));
	vqh_post(&f->h, 9);
	expect_drop(f, 9);
	vqh_desc(&f->h, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 15); /* a tail loop: 9 .. 15 -> 0 -> 15 */
	vqh_post(&f->h, 9);
	expect_drop(f, 9);
}

static void test_q5_chain_of_num(void **state)
{
	struct fx *f = *state;
	struct vqh_seg s[256];

	for (int i = 0; i < 256; i++)
		s[i] = (struct vqh_seg){BUF + 8 * i, 8, (uint16_t)(i >= 200 ? W : 0)};
	vqh_init(&f->h, &f->m, 256, RING);
	assert_int_equal(activate(f, 0), 0);
	f->h.next_free = 77;
	assert_int_equal(vqh_chain(&f->h, s, 256), 77); /* exactly num descriptors, wrapping in the table */
	vqh_post(&f->h, 77);
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_int_equal(f->r.nout, 200);
	assert_int_equal(f->r.nin, 56);
	assert_ptr_equal(f->r.iov[255].iov_base, hva(f, BUF + 8 * 255));
	assert_int_equal(virtq_push(&f->q, 77, 0), 0);
	/* num + 1 hops can only be a loop: the last one links back to the first. */
	vqh_desc(&f->h, 76, BUF, 8, VIRTQ_DESC_F_NEXT, 77);
	vqh_post(&f->h, 77);
	assert_int_equal(virtq_pop(&f->q, &f->r), -EINVAL);
	assert_int_equal(virtq_push(&f->q, 77, 0), 0);
}

static void test_q6_buffer_outside_ram(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	assert_int_equal(activate(f, 0), 0);
	assert_int_equal(post_one(f, UINT64_MAX - 10, 100, 0), -EINVAL); /* addr + len wraps */
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(post_one(f, UINT64_MAX, 1, W), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(post_one(f, RAM - 8, 16, W), -EINVAL); /* partly outside */
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(post_one(f, RAM, 1, 0), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(post_one(f, 1ULL << 40, 1, 0), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	/* Ending exactly at the end of RAM is fine: the device writes it all (the guard page would catch more). */
	assert_int_equal(post_one(f, RAM - 16, 16, W), 1);
	memset(f->r.iov[0].iov_base, 0x11, f->r.iov[0].iov_len);
	assert_int_equal(virtq_push(&f->q, f->r.head, 16), 0);
	assert_int_equal(f->q.dropped, 5);
	for (int i = 0; i < 6; i++)
		assert_int_equal(vqh_get_used(&f->h, &id, &len), 1);
	assert_int_equal(len, 16);
}

static void test_q7_lengths(void **state)
{
	struct fx *f = *state;
	struct vqh_seg s[] = {{BUF, 8, 0}, {BUF, 0, W}};

	assert_int_equal(activate(f, 0), 0);
	assert_int_equal(post_one(f, BUF, 0, 0), -EINVAL); /* len 0 */
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	vqh_post(&f->h, (uint16_t)vqh_chain(&f->h, s, 2)); /* len 0 after a good one */
	assert_int_equal(virtq_pop(&f->q, &f->r), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	assert_int_equal(post_one(f, 0, 0xffffffff, W), -EINVAL); /* larger than RAM */
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
}

/* Q7: the sum of the lengths past 4 GiB, each buffer in RAM (3 GiB below the hole). */
static void test_q7_sum_past_4g(void **state)
{
	struct fx *f = *state;
	struct vqh_seg over[] = {{0, 0xc0000000, 0}, {0, 0x40000000, W}};
	struct vqh_seg max[] = {{0, 0xc0000000, 0}, {0, 0x3fffffff, W}};

	assert_int_equal(activate(f, 0), 0);
	vqh_post(&f->h, (uint16_t)vqh_chain(&f->h, over, 2));
	assert_int_equal(virtq_pop(&f->q, &f->r), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	vqh_post(&f->h, (uint16_t)vqh_chain(&f->h, max, 2)); /* 4 GiB - 1 in total: fine */
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_int_equal(f->r.out_len + f->r.in_len, 0xffffffffULL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
}

/* Q8: readable buffers are iov[0 .. nout), writable ones after; a readable one after a writable one is refused,
 * so a device writing only into iov[nout ..) never writes a device-readable buffer. */
static void test_q8_readable_after_writable(void **state)
{
	struct fx *f = *state;
	struct vqh_seg s[] = {{BUF, 16, 0}, {BUF + 0x100, 16, W}, {BUF + 0x200, 16, 0}};

	assert_int_equal(activate(f, 0), 0);
	vqh_post(&f->h, (uint16_t)vqh_chain(&f->h, s, 3));
	assert_int_equal(virtq_pop(&f->q, &f->r), -EINVAL);
	assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
	vqh_post(&f->h, (uint16_t)vqh_chain(&f->h, s, 2));
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_int_equal(f->r.nout, 1);
	assert_int_equal(f->r.nin, 1);
	assert_ptr_equal(f->r.iov[f->r.nout].iov_base, hva(f, BUF + 0x100));
}

/* ---- Q10: double fetch ---- */

static void test_q10_rewrite_after_pop(void **state)
{
	struct fx *f = *state;
	struct vqh_seg s[] = {{BUF, 16, 0}, {BUF + 0x100, 32, W}};
	struct virtq_req copy;
	int head;

	assert_int_equal(activate(f, 0), 0);
	head = vqh_chain(&f->h, s, 2);
	vqh_post(&f->h, (uint16_t)head);
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	memcpy(&copy, &f->r, sizeof(copy));
	/* The guest now points both descriptors elsewhere, huge and outside RAM. */
	vqh_desc(&f->h, (uint16_t)head, UINT64_MAX - 4, 0xffffffff, VIRTQ_DESC_F_NEXT | W, 12);
	vqh_desc(&f->h, (uint16_t)(head + 1), RAM - 1, 0xffffffff, 0, 0);
	assert_memory_equal(&copy, &f->r, offsetof(struct virtq_req, iov) + 2 * sizeof(struct iovec));
	assert_int_equal(virtq_push(&f->q, (uint16_t)head, 32), 0);
}

struct flipper {
	uint32_t *len; /* descriptor 0's len, in guest memory */
	volatile int stop;
};

/* A "guest CPU" flipping descriptor 0 {RAM - 16, len} between len 16 (in RAM) and len RAM (far outside). A
 * device that checked one fetch and used another would hand out a buffer running off the end of RAM. */
static void *flip(void *arg)
{
	struct flipper *fl = arg;

	while (!fl->stop) {
		__atomic_store_n(fl->len, 16, __ATOMIC_RELAXED);
		__atomic_store_n(fl->len, (uint32_t)RAM, __ATOMIC_RELAXED);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Pop for a second while the flipper runs, and until both outcomes were seen often (so the race really ran),
 * at most 10 s. */
static void test_q10_concurrent_rewrite(void **state)
{
	struct fx *f = *state;
	struct flipper fl = {.len = (uint32_t *)(hva(f, RING) + 8)};
	unsigned long ok = 0, bad = 0, wrong = 0, n = 0;
	double start = now_s();
	pthread_t th;

	assert_int_equal(activate(f, 0), 0);
	vqh_desc(&f->h, 0, RAM - 16, 16, W, 0);
	assert_int_equal(pthread_create(&th, NULL, flip, &fl), 0);
	for (;;) {
		vqh_post(&f->h, 0);
		int rc = virtq_pop(&f->q, &f->r);

		/* No assert while the flipper runs: a failing one would unmap guest memory under its feet. */
		if (rc == 1 && f->r.iov[0].iov_len == 16 && f->r.iov[0].iov_base == hva(f, RAM - 16))
			ok++;
		else if (rc == -EINVAL)
			bad++;
		else
			wrong++;
		if (virtq_push(&f->q, 0, 0) != 0 || wrong)
			break;
		if (++n % 4096 == 0 && (now_s() - start > 10 || (now_s() - start > 1 && ok > 1000 && bad > 1000)))
			break;
	}
	fl.stop = 1;
	pthread_join(th, NULL);
	print_message("q10: %lu pops, %lu with len 16, %lu refused\n", n, ok, bad);
	assert_int_equal(wrong, 0);
	assert_int_equal(f->q.dropped, bad);
	assert_true(ok > 0 && bad > 0);
}

/* ---- Q12: EVENT_IDX fields at the very top of RAM, garbage in them ---- */

static void test_q12_event_fields_at_top(void **state)
{
	struct fx *f = *state;
	/* used_event is the last two bytes of RAM (a 4-aligned used ring cannot end exactly there with num 16) */
	const uint64_t avail = RAM - 38, used = avail - 134;
	const uint16_t garbage[] = {0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x1234};

	vqh_place(&f->h, &f->m, 16, RING, avail, used);
	assert_int_equal(activate(f, F_EVENT), 0);
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		vqh_set_used_event(&f->h, garbage[i]);
		assert_int_equal(post_one(f, BUF, 8, 0), 1);
		assert_int_equal(virtq_push(&f->q, f->r.head, 0), 0);
		(void)virtq_should_notify(&f->q); /* any answer: only the guest suffers from a wrong used_event */
		assert_false(virtq_enable_notify(&f->q));
		assert_int_equal(vqh_avail_event(&f->h), f->q.last_avail);
		assert_ptr_equal(hva(f, RAM - 2), f->q.avail + 4 + 2 * 16);
	}
	assert_false(f->q.broken);
}

/* ---- Q14: indirect tables ---- */

static void test_q14_indirect_bad(void **state)
{
	struct fx *f = *state;
	struct vqh_seg s[] = {{BUF, 16, 0}, {BUF + 0x100, 16, W}};

	/* Not negotiated. */
	assert_int_equal(activate(f, 0), 0);
	vqh_post(&f->h, (uint16_t)vqh_indirect(&f->h, TBL, s, 2));
	expect_drop(f, (uint16_t)(f->h.next_free - 1));

	assert_int_equal(activate(f, F_INDIRECT), 0);
	f->h.avail_idx = 0;
	f->h.used_seen = 0;
	vqh_indirect(&f->h, TBL, s, 2); /* a good table at TBL for the cases below */
	struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
	} bad[] = {
	    {TBL, 2 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT}, /* with NEXT */
	    {TBL, 0, VIRTQ_DESC_F_INDIRECT},			      /* empty */
	    {TBL, 2 * 16 + 8, VIRTQ_DESC_F_INDIRECT},		      /* not a multiple of 16 */
	    {TBL, 15, VIRTQ_DESC_F_INDIRECT},
	    {TBL, 257 * 16, VIRTQ_DESC_F_INDIRECT}, /* more than VIRTQ_MAX_SIZE entries */
	    {TBL, 0xfffffff0, VIRTQ_DESC_F_INDIRECT},
	    {RAM - 16, 2 * 16, VIRTQ_DESC_F_INDIRECT}, /* table partly outside RAM */
	    {UINT64_MAX - 15, 2 * 16, VIRTQ_DESC_F_INDIRECT},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vqh_desc(&f->h, 3, bad[i].addr, bad[i].len, bad[i].flags, 4);
		vqh_desc(&f->h, 4, BUF, 8, 0, 0);
		vqh_post(&f->h, 3);
		expect_drop(f, 3);
	}
	/* Bad contents: nested, next beyond the table, a loop, a buffer outside RAM, len 0, W then R. */
	const struct virtq_desc inner[][2] = {
	    {{BUF, 16, VIRTQ_DESC_F_NEXT, 1}, {TBL, 32, VIRTQ_DESC_F_INDIRECT, 0}},
	    {{BUF, 16, VIRTQ_DESC_F_NEXT, 2}, {BUF, 16, 0, 0}},
	    {{BUF, 16, VIRTQ_DESC_F_NEXT, 1}, {BUF, 16, VIRTQ_DESC_F_NEXT, 0}},
	    {{BUF, 16, VIRTQ_DESC_F_NEXT, 1}, {RAM - 8, 16, W, 0}},
	    {{BUF, 16, VIRTQ_DESC_F_NEXT, 1}, {BUF, 0, W, 0}},
	    {{BUF, 16, W | VIRTQ_DESC_F_NEXT, 1}, {BUF, 16, 0, 0}},
	};
	for (size_t i = 0; i < sizeof(inner) / sizeof(inner[0]); i++) {
		assert_int_equal(gmem_write(&f->m, TBL, inner[i], sizeof(inner[i])), 0);
		vqh_desc(&f->h, 3, TBL, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
		vqh_post(&f->h, 3);
		expect_drop(f, 3);
	}
	/* Two tables in one chain: INDIRECT with NEXT on to another indirect descriptor. */
	vqh_indirect(&f->h, TBL, s, 2);
	vqh_desc(&f->h, 2, TBL, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 3);
	vqh_desc(&f->h, 3, TBL, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vqh_post(&f->h, 2);
	expect_drop(f, 2);
	vqh_post(&f->h, (uint16_t)vqh_indirect(&f->h, TBL, s, 2)); /* a good table still works */
	assert_int_equal(virtq_pop(&f->q, &f->r), 1);
	assert_int_equal(f->r.nout + f->r.nin, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_three_desc_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_index_wrap_70000, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_idx_used_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_idx_full_wrap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_idx_avail_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_next, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_chains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t4_queue_num, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t5_ring_placement, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t5_q6_mmio_hole, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_q1_avail_idx_jump, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q1_jump_across_wrap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q2_head_out_of_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q9_head_reposted_in_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q13_inflight_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_not_in_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q3_next_out_of_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q4_loops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q5_chain_of_num, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q6_buffer_outside_ram, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q7_lengths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q7_sum_past_4g, setup_big, teardown),
	    cmocka_unit_test_setup_teardown(test_q8_readable_after_writable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q10_rewrite_after_pop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q10_concurrent_rewrite, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q12_event_fields_at_top, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_q14_indirect_bad, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
