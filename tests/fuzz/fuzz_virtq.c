/* fuzz_virtq.c: libFuzzer target: the input is a hostile driver's rings, descriptors and queue set-up for virtq.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtq.h"
#include "vmm/gmem.h"

/*
 * Input layout (every byte is optional; missing ones read as 0):
 *   [0]      num: low 4 bits n < 9 give num = 1 << n, else num is bytes [10..11] (bad sizes too)
 *   [1]      bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 rings counted down from the top of RAM,
 *            bit 3 tame the descriptor table (addresses into RAM, short lengths), bit 4 push in reverse order
 *   [2..7]   desc, avail, used ring offsets (u16 each): from gpa 0, or back from the end of RAM (bit 2)
 *   [8]      rounds (low 3 bits): each round the "guest" moves avail.idx on and the device drains the queue
 *   [9]      used_event value low byte (garbage welcome)
 *   [10..11] raw num
 *   [12..19] per round: how far avail.idx moves (u8)
 *   [20..]   guest memory image: copied both to gpa 0 and to the top of RAM
 * Invariants checked: each returned buffer lies inside guest RAM, segment counts and totals add up and stay
 * within VIRTQ_MAX_SEGS and 4 GiB, each request is exactly its chain re-walked independently, a ring more than
 * num ahead breaks the queue, no more than num requests are taken per round without a push, every popped
 * head is pushed back exactly once (a second push is refused), a broken queue stays broken, a reset one is idle.
 */

#define RAM (1ULL << 20) /* the smallest gmem: no huge page to clear on every run */
#define HDR 20
#define FAIL(...)                                            \
	do {                                                 \
		fprintf(stderr, "fuzz_virtq: " __VA_ARGS__); \
		fputc('\n', stderr);                         \
		__builtin_trap();                            \
	} while (0)

struct run {
	struct gmem m;
	struct virtq q;
	struct virtq_req r;
	uint16_t heads[VIRTQ_MAX_SIZE];
};

static uint8_t byte_at(const uint8_t *d, size_t n, size_t i)
{
	return i < n ? d[i] : 0;
}

static uint16_t u16_at(const uint8_t *d, size_t n, size_t i)
{
	return (uint16_t)(byte_at(d, n, i) | byte_at(d, n, i + 1) << 8);
}

static void check_req(const struct run *x)
{
	const struct virtq_req *r = &x->r;
	const uint8_t *ram = x->m.ram;
	uint64_t out = 0, in = 0;

	if (r->head >= x->q.num)
		FAIL("head %u >= num %u", r->head, x->q.num);
	if (r->nout + r->nin == 0 || r->nout + r->nin > VIRTQ_MAX_SEGS)
		FAIL("segments %u + %u", r->nout, r->nin);
	for (unsigned i = 0; i < r->nout + r->nin; i++) {
		const uint8_t *b = r->iov[i].iov_base;
		size_t len = r->iov[i].iov_len;

		if (len == 0 || b < ram || b > ram + RAM || len > (size_t)(ram + RAM - b))
			FAIL("iov %u outside guest RAM", i);
		*(volatile uint8_t *)b; /* touch both ends: a guard page would fault */
		*(volatile uint8_t *)(b + len - 1);
		if (i < r->nout)
			out += len;
		else
			in += len;
	}
	if (out != r->out_len || in != r->in_len || out + in > UINT32_MAX)
		FAIL("lengths %llu/%llu vs %llu/%llu", (unsigned long long)out, (unsigned long long)in,
		     (unsigned long long)r->out_len, (unsigned long long)r->in_len);
}

/* An independent re-walk of the (unchanging, single-threaded) guest memory: each returned segment must be the
 * next descriptor of a chain that starts at the head, stays inside its table and follows the flags. */
static void check_chain(const struct run *x)
{
	const struct virtq_req *r = &x->r;
	const uint8_t *table = (const uint8_t *)x->q.desc;
	uint32_t n = x->q.num, i = r->head, hops = 0;
	unsigned k = 0;
	bool nested = false;
	struct virtq_desc d;

	for (;;) {
		if (i >= n || hops++ >= n)
			FAIL("segment %u: index %u not in a table of %u (hop %u)", k, i, n, hops);
		memcpy(&d, table + 16ULL * i, sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (nested || !x->q.indirect || (d.flags & VIRTQ_DESC_F_NEXT) || d.len % 16 || !d.len)
				FAIL("accepted a bad indirect descriptor");
			table = gmem_ptr(&x->m, d.addr, d.len);
			if (!table)
				FAIL("accepted an indirect table outside RAM");
			n = d.len / 16;
			i = hops = 0;
			nested = true;
			continue;
		}
		if (k >= r->nout + r->nin)
			FAIL("chain longer than the %u segments returned", k);
		if (r->iov[k].iov_base != gmem_ptr(&x->m, d.addr, d.len) || r->iov[k].iov_len != d.len)
			FAIL("segment %u is not descriptor %u", k, i);
		if (!!(d.flags & VIRTQ_DESC_F_WRITE) != (k >= r->nout))
			FAIL("segment %u on the wrong side", k);
		k++;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		i = d.next;
	}
	if (k != r->nout + r->nin)
		FAIL("chain of %u segments, %u returned", k, r->nout + r->nin);
}

/* Bit 3: make the descriptor table mostly valid so the fuzzer gets past the buffer checks quickly. */
static void tame(struct run *x, uint64_t desc_gpa, uint16_t num)
{
	struct virtq_desc *d = gmem_ptr(&x->m, desc_gpa, 16ULL * num);

	if (!d || desc_gpa % 16) /* a misaligned table is refused at activation anyway */
		return;
	for (unsigned i = 0; i < num; i++) {
		d[i].addr %= RAM;
		d[i].len &= 0xfff;
		if (d[i].addr + d[i].len > RAM)
			d[i].addr = RAM - d[i].len;
	}
}

/* One round: drain the queue, then give everything back. Returns false once the queue is broken. */
static bool drain(struct run *x, bool reverse, uint8_t used_event)
{
	uint16_t pending = (uint16_t)(*(uint16_t *)(x->q.avail + 2) - x->q.last_avail);
	unsigned n = 0;
	int rc;

	while ((rc = virtq_pop(&x->q, &x->r)) != 0) {
		if (pending > x->q.num && rc != -EIO)
			FAIL("avail.idx %u ahead of us, num %u, and not broken", pending, x->q.num);
		if (rc == -EIO)
			break;
		if (n == x->q.num)
			FAIL("more than num=%u requests without a push", x->q.num);
		if (rc == 1) {
			check_req(x);
			check_chain(x);
		} else if (rc != -EINVAL || x->r.head >= x->q.num || x->r.nout + x->r.nin)
			FAIL("pop returned %d (head %u)", rc, x->r.head);
		x->heads[n++] = x->r.head;
	}
	if (rc == -EIO && !x->q.broken)
		FAIL("-EIO without the broken latch");
	for (unsigned i = 0; i < n; i++) {
		uint16_t h = x->heads[reverse ? n - 1 - i : i];
		int p = virtq_push(&x->q, h, h * 7u);

		if (p != (x->q.broken ? -EIO : 0))
			FAIL("push of head %u returned %d", h, p);
	}
	if (n && virtq_push(&x->q, x->heads[0], 0) != (x->q.broken ? -EIO : -EINVAL))
		FAIL("second push of head %u accepted", x->heads[0]);
	if (!x->q.broken && x->q.event_idx) {
		uint8_t *ue = x->q.avail + 4 + 2 * x->q.num;
		ue[0] = used_event;
	}
	(void)virtq_should_notify(&x->q);
	(void)virtq_enable_notify(&x->q);
	if (x->q.broken && virtq_pop(&x->q, &x->r) != -EIO)
		FAIL("broken queue popped");
	return !x->q.broken;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run *x = calloc(1, sizeof(*x));
	uint8_t sel = byte_at(data, size, 0), mode = byte_at(data, size, 1);
	uint64_t features = 0, gpa[3];
	uint16_t num;

	if (!x)
		return 0;
	if (gmem_init(&x->m, RAM) < 0) {
		free(x);
		return 0;
	}
	if (size > HDR) {
		size_t img = size - HDR < RAM ? size - HDR : RAM;

		memcpy(x->m.ram, data + HDR, img);
		memcpy(x->m.ram + RAM - img, data + HDR, img);
	}
	num = (sel & 15) < 9 ? (uint16_t)(1u << (sel & 15)) : u16_at(data, size, 10);
	if (mode & 1)
		features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (mode & 2)
		features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	for (int i = 0; i < 3; i++) {
		uint16_t off = u16_at(data, size, 2 + 2 * i);

		gpa[i] = mode & 4 ? RAM - off : off;
	}
	if (mode & 8)
		tame(x, gpa[0], num);
	virtq_reset(&x->q);
	x->q.num = num;
	x->q.desc_gpa = gpa[0];
	x->q.avail_gpa = gpa[1];
	x->q.used_gpa = gpa[2];
	if (virtq_activate(&x->q, &x->m, features) == 0) {
		unsigned rounds = (byte_at(data, size, 8) & 7) + 1;

		if (!x->q.active || x->q.num != num)
			FAIL("activation state");
		for (unsigned r = 0; r < rounds; r++) {
			uint16_t *idx = (uint16_t *)(x->q.avail + 2);

			if (r) /* the guest publishes more (or fewer, or absurdly many) entries */
				*idx = (uint16_t)(*idx + byte_at(data, size, 12 + r));
			if (!drain(x, mode & 16, byte_at(data, size, 9)))
				break;
		}
	} else if (x->q.active) {
		FAIL("failed activation left the queue active");
	}
	virtq_reset(&x->q);
	if (virtq_pop(&x->q, &x->r) != 0 || virtq_push(&x->q, 0, 0) != -EINVAL || virtq_should_notify(&x->q))
		FAIL("a reset queue is not idle");
	gmem_destroy(&x->m);
	free(x);
	return 0;
}
