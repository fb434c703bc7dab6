/* virtq.c: the split virtqueue, device side: checked activation, pop/push, indirect tables, notification suppression. */
#include "devices/virtq.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Byte offsets inside the driver area (avail ring) and the device area (used ring), virtio 1.2 section 2.7. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX   2
#define AVAIL_RING  4 /* u16 ring[num], then u16 used_event */
#define USED_IDX    2
#define USED_RING   4 /* struct { u32 id; u32 len; } ring[num], then u16 avail_event */
#define USED_ELEM   8
#define DESC_SIZE   16

_Static_assert(sizeof(struct virtq_desc) == DESC_SIZE, "virtq_desc must match the ring layout");
_Static_assert(VIRTQ_MAX_SIZE <= 32768 && (VIRTQ_MAX_SIZE & (VIRTQ_MAX_SIZE - 1)) == 0, "bad VIRTQ_MAX_SIZE");

static uint64_t avail_bytes(uint16_t num, bool event_idx)
{
	return AVAIL_RING + 2ULL * num + (event_idx ? 2 : 0);
}

static uint64_t used_bytes(uint16_t num, bool event_idx)
{
	return USED_RING + (uint64_t)USED_ELEM * num + (event_idx ? 2 : 0);
}

/* Loads and stores of ring fields. The rings were checked at activation to be aligned (avail 2, used 4) and in
 * RAM, so these accesses are aligned and in bounds; the guest writes them concurrently from other CPUs, hence
 * atomics (plain loads could be torn or fetched twice by the compiler). */
static uint16_t load16(const uint8_t *p, int order)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, order));
}

static void store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)p, htole16(v), order);
}

static void store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

static bool inflight_test(const struct virtq *q, uint16_t head)
{
	return q->inflight[head / 8] & (1u << (head % 8));
}

static void inflight_set(struct virtq *q, uint16_t head, bool on)
{
	if (on)
		q->inflight[head / 8] |= (uint8_t)(1u << (head % 8));
	else
		q->inflight[head / 8] &= (uint8_t) ~(1u << (head % 8));
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen; /* no overflow: both ranges passed gmem_ptr */
}

int virtq_activate(struct virtq *q, const struct gmem *m, uint64_t features)
{
	bool event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	uint16_t num = q->num;
	uint64_t dlen, alen, ulen;
	void *desc, *avail, *used;

	q->active = false;
	if (num == 0 || num > VIRTQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		return -EINVAL;
	dlen = (uint64_t)DESC_SIZE * num;
	alen = avail_bytes(num, event_idx);
	ulen = used_bytes(num, event_idx);
	/* guest: each whole ring, event fields included, checked by gmem_ptr (one RAM region, no wrap) */
	desc = gmem_ptr(m, q->desc_gpa, dlen);
	avail = gmem_ptr(m, q->avail_gpa, alen);
	used = gmem_ptr(m, q->used_gpa, ulen);
	if (!desc || !avail || !used)
		return -EINVAL;
	if (overlap(q->desc_gpa, dlen, q->avail_gpa, alen) || overlap(q->desc_gpa, dlen, q->used_gpa, ulen) ||
	    overlap(q->avail_gpa, alen, q->used_gpa, ulen))
		return -EINVAL;
	q->mem = m;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->event_idx = event_idx;
	q->indirect = features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_valid = true; /* "signalled at used.idx 0": the driver's used_event starts at 0 too */
	memset(q->inflight, 0, sizeof(q->inflight));
	q->broken = false;
	q->active = true;
	return 0;
}

static int virtq_break(struct virtq *q)
{
	q->broken = true;
	return -EIO;
}

/* Take one copy of a descriptor out of guest memory; only the copy is looked at from here on. The fence stops
 * the compiler from re-reading guest memory in place of the copy (the guest may be rewriting it right now). */
static void desc_fetch(struct virtq_desc *d, const void *guest)
{
	memcpy(d, guest, sizeof(*d));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Append one buffer to the request: in RAM, non-empty, readable ones before writable ones, bounded count and
 * total. */
static int req_add(const struct virtq *q, struct virtq_req *r, const struct virtq_desc *d)
{
	unsigned n = r->nout + r->nin;
	void *p;

	if (d->len == 0 || n == VIRTQ_MAX_SEGS)
		return -EINVAL;
	p = gmem_ptr(q->mem, d->addr, d->len); /* guest: addr/len checked by gmem_ptr */
	if (!p)
		return -EINVAL;
	if (r->out_len + r->in_len + d->len > UINT32_MAX)
		return -EINVAL;
	r->iov[n] = (struct iovec){.iov_base = p, .iov_len = d->len};
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		r->nin++;
		r->in_len += d->len;
		return 0;
	}
	if (r->nin) /* a device-readable buffer after a device-writable one */
		return -EINVAL;
	r->nout++;
	r->out_len += d->len;
	return 0;
}

/* Follow an indirect table: at most as many hops as it has entries, no nesting. */
static int walk_indirect(const struct virtq *q, struct virtq_req *r, const struct virtq_desc *ind)
{
	const uint8_t *table;
	struct virtq_desc d;
	uint32_t n, i = 0;
	int err;

	if (!q->indirect || (ind->flags & VIRTQ_DESC_F_NEXT))
		return -EINVAL;
	if (ind->len == 0 || ind->len % DESC_SIZE || ind->len / DESC_SIZE > VIRTQ_MAX_SIZE)
		return -EINVAL;
	n = ind->len / DESC_SIZE;
	table = gmem_ptr(q->mem, ind->addr, ind->len); /* guest: the whole table checked by gmem_ptr */
	if (!table)
		return -EINVAL;
	for (uint32_t hops = 0; hops < n; hops++) {
		desc_fetch(&d, table + (size_t)i * DESC_SIZE);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return -EINVAL;
		err = req_add(q, r, &d);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n) /* guest: index checked against the table length */
			return -EINVAL;
		i = d.next;
	}
	return -EINVAL; /* more hops than entries: a loop */
}

/* Follow the chain from `head`: at most num hops, every next < num. */
static int walk_chain(const struct virtq *q, struct virtq_req *r, uint16_t head)
{
	struct virtq_desc d;
	uint16_t i = head;
	int err;

	for (unsigned hops = 0; hops < q->num; hops++) {
		desc_fetch(&d, &q->desc[i]);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return walk_indirect(q, r, &d);
		err = req_add(q, r, &d);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= q->num) /* guest: index checked against num */
			return -EINVAL;
		i = d.next;
	}
	return -EINVAL; /* more hops than descriptors: a loop */
}

int virtq_pop(struct virtq *q, struct virtq_req *r)
{
	uint16_t avail_idx, pending, head;

	if (q->broken)
		return -EIO;
	if (!q->active)
		return 0;
	/* Acquire: the ring entry and descriptors the driver wrote before bumping idx are visible after this. */
	avail_idx = load16(q->avail + AVAIL_IDX, __ATOMIC_ACQUIRE);
	pending = (uint16_t)(avail_idx - q->last_avail); /* guest: checked against num just below */
	if (pending == 0)
		return 0;
	if (pending > q->num)
		return virtq_break(q);
	head = load16(q->avail + AVAIL_RING + 2 * (q->last_avail & (q->num - 1)), __ATOMIC_RELAXED);
	if (head >= q->num || inflight_test(q, head)) /* guest: head checked against num and the in-flight set */
		return virtq_break(q);
	q->last_avail++;
	inflight_set(q, head, true);
	r->head = head;
	r->nout = r->nin = 0;
	r->out_len = r->in_len = 0;
	if (walk_chain(q, r, head) < 0) {
		r->nout = r->nin = 0;
		r->out_len = r->in_len = 0;
		q->dropped++;
		return -EINVAL;
	}
	return 1;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	uint8_t *elem;

	if (q->broken)
		return -EIO;
	if (!q->active || head >= q->num || !inflight_test(q, head))
		return -EINVAL;
	inflight_set(q, head, false);
	elem = q->used + USED_RING + USED_ELEM * (q->used_idx & (q->num - 1));
	store32(elem, head);
	store32(elem + 4, written);
	q->used_idx++;
	/* Release: the element is visible to the driver before the index that publishes it. */
	store16(q->used + USED_IDX, q->used_idx, __ATOMIC_RELEASE);
	if (q->used_idx == q->signalled_used) /* went a full 2^16 round since the last check: the mark is stale */
		q->signalled_valid = false;
	return 0;
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx, event;
	bool valid = q->signalled_valid;

	if (!q->active || q->broken)
		return false;
	q->signalled_used = now;
	q->signalled_valid = true;
	if (valid && old == now) /* nothing used since the last check */
		return false;
	/* Our used.idx store must be visible before we read the driver's suppression state (store-load order):
	 * the driver writes that state, then re-reads used.idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load16(q->avail + AVAIL_FLAGS, __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	/* guest: used_event may hold anything; it only enters this u16 arithmetic (vring_need_event). */
	event = load16(q->avail + AVAIL_RING + 2 * q->num, __ATOMIC_RELAXED);
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->active || q->broken || !q->event_idx)
		return false;
	store16(q->used + USED_RING + USED_ELEM * q->num, q->last_avail, __ATOMIC_RELAXED);
	/* avail_event must be visible before we look at avail.idx again, or a kick could be missed. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(q->avail + AVAIL_IDX, __ATOMIC_ACQUIRE) != q->last_avail;
}

int virtq_next(struct virtq *q, struct virtq_req *r)
{
	int rc = virtq_pop(q, r);

	if (rc == 0 && virtq_enable_notify(q))
		rc = virtq_pop(q, r);
	return rc;
}

int virtq_describe(const struct virtq *q, char *buf, size_t len)
{
	if (!q->active)
		return snprintf(buf, len, "inactive%s", q->broken ? " (broken)" : "");
	/* The driver's fields are read as they are now: a snapshot for a person, never acted on. */
	return snprintf(buf, len,
			"size=%u avail.idx=%u last_avail=%u used.idx=%u avail.flags=%u used_event=%u avail_event=%u "
			"signalled=%u%s",
			q->num, load16(q->avail + AVAIL_IDX, __ATOMIC_ACQUIRE), q->last_avail, q->used_idx,
			load16(q->avail + AVAIL_FLAGS, __ATOMIC_RELAXED),
			q->event_idx ? load16(q->avail + AVAIL_RING + 2 * q->num, __ATOMIC_RELAXED) : 0,
			q->event_idx ? load16(q->used + USED_RING + USED_ELEM * q->num, __ATOMIC_RELAXED) : 0,
			q->signalled_used, q->broken ? " broken" : "");
}
