/* vq_helpers.h: a header-only test "guest driver": builds split virtqueues in a gmem and drives virtio-mmio. */
#ifndef KVMINI_VQ_HELPERS_H
#define KVMINI_VQ_HELPERS_H

/*
 * For unit tests and fuzzers of anything that uses devices/virtq.h or devices/virtio_mmio.h. Nothing here asserts
 * (no cmocka dependency): functions return 0 / -1 (or a head >= 0) and the test checks. Rings and buffers live in
 * a real guest memory from gmem_init(), so every host access outside RAM hits a PROT_NONE guard page.
 *
 * The ring side (what a driver does in guest memory):
 *	struct gmem m;   gmem_init(&m, 2 << 20);
 *	struct vqh h;    vqh_init(&h, &m, 16, 0x10000);     rings for 16 entries laid out from gpa 0x10000
 *	struct vqh_seg s[] = {{0x20000, 16, 0}, {0x21000, 512, VQH_W}, {0x22000, 1, VQH_W}};
 *	int head = vqh_chain(&h, s, 3);                      3 linked descriptors, taken round-robin from the table
 *	vqh_post(&h, head);                                  avail.ring[] = head; avail.idx++ (release)
 *	... device runs ...
 *	uint32_t id, len;  vqh_get_used(&h, &id, &len) == 1  the next used element, in order
 * Lower level: vqh_place (rings at chosen, possibly bad, addresses), vqh_desc (one raw descriptor),
 * vqh_indirect (a table plus the descriptor naming it), vqh_set_avail_idx / vqh_put_avail (raw ring contents),
 * vqh_set_used_event / vqh_avail_event / vqh_set_avail_flags (notification suppression).
 *
 * The library side: vqh_to_virtq(&h, &q) copies num and the ring addresses into a struct virtq, as the transport
 * would, ready for virtq_activate().
 *
 * The transport side (what a driver does through the registers), for a struct virtio_mmio t:
 *	vqh_mmio_negotiate(&t, features)    reset, ACKNOWLEDGE, DRIVER, DriverFeatures (VERSION_1 added), FEATURES_OK;
 *	                                    0 if FEATURES_OK latched
 *	vqh_mmio_queue(&t, qi, &h)          QueueSel, QueueNum, the three addresses, QueueReady = 1
 *	vqh_mmio_driver_ok(&t)              sets DRIVER_OK; returns the Status read back
 *	vqh_mmio_notify(&t, qi)             a QueueNotify write (the MMIO-exit path; virtio_mmio_kick is the other)
 *	vqh_rd32/vqh_wr32(&t, off[, v])     any register, through virtio_mmio_ops as the bus would call it
 */

#include <stdint.h>
#include <string.h>

#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "vmm/gmem.h"

#define VQH_W VIRTQ_DESC_F_WRITE /* vqh_seg.flags: a device-writable buffer */

/* One buffer of a chain. flags: VQH_W, or raw descriptor flags (NEXT is added by vqh_chain as needed). */
struct vqh_seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

/* The driver's view of one queue. */
struct vqh {
	const struct gmem *m;
	uint16_t num;
	uint64_t desc, avail, used; /* ring addresses */
	uint16_t avail_idx;	    /* the driver's next avail.idx */
	uint16_t used_seen;	    /* used elements consumed by vqh_get_used */
	uint16_t next_free;	    /* next descriptor vqh_chain hands out (round-robin) */
};

/* Byte sizes with the EVENT_IDX fields (used_event, avail_event), which cost nothing when unused. */
static inline uint64_t vqh_desc_bytes(uint16_t num)
{
	return 16ULL * num;
}
static inline uint64_t vqh_avail_bytes(uint16_t num)
{
	return 6ULL + 2ULL * num;
}
static inline uint64_t vqh_used_bytes(uint16_t num)
{
	return 6ULL + 8ULL * num;
}

/* Rings at the given addresses; each one in RAM is zeroed (one outside RAM is left for the device to refuse).
 * Returns 0 when all three are in RAM, -1 otherwise. */
static inline int vqh_place(struct vqh *h, const struct gmem *m, uint16_t num, uint64_t desc, uint64_t avail,
			    uint64_t used)
{
	void *d = gmem_ptr(m, desc, vqh_desc_bytes(num)), *a = gmem_ptr(m, avail, vqh_avail_bytes(num)),
	     *u = gmem_ptr(m, used, vqh_used_bytes(num));

	memset(h, 0, sizeof(*h));
	h->m = m;
	h->num = num;
	h->desc = desc;
	h->avail = avail;
	h->used = used;
	if (d)
		memset(d, 0, vqh_desc_bytes(num));
	if (a)
		memset(a, 0, vqh_avail_bytes(num));
	if (u)
		memset(u, 0, vqh_used_bytes(num));
	return d && a && u ? 0 : -1;
}

/* The usual layout from `base` (16-aligned): descriptor table, avail ring, then the used ring 4-aligned. The
 * whole thing takes vqh_span(num) bytes. */
static inline uint64_t vqh_span(uint16_t num)
{
	return ((vqh_desc_bytes(num) + vqh_avail_bytes(num) + 3) & ~3ULL) + vqh_used_bytes(num);
}
static inline int vqh_init(struct vqh *h, const struct gmem *m, uint16_t num, uint64_t base)
{
	uint64_t avail = base + vqh_desc_bytes(num), used = (avail + vqh_avail_bytes(num) + 3) & ~3ULL;

	return vqh_place(h, m, num, base, avail, used);
}

/* Write descriptor `i` of a table at `table` (the ring's, or an indirect one). 0 / -1. */
static inline int vqh_desc_at(const struct gmem *m, uint64_t table, uint32_t i, uint64_t addr, uint32_t len,
			      uint16_t flags, uint16_t next)
{
	struct virtq_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};

	return gmem_write(m, table + 16ULL * i, &d, sizeof(d)) ? -1 : 0;
}
static inline int vqh_desc(struct vqh *h, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	return vqh_desc_at(h->m, h->desc, i, addr, len, flags, next);
}

/* Link n segments into descriptors next_free, next_free+1, ... (mod num). Returns the head, or -1. */
static inline int vqh_chain(struct vqh *h, const struct vqh_seg *s, unsigned n)
{
	uint16_t head = h->next_free, mask = (uint16_t)(h->num - 1);

	if (n == 0 || n > h->num)
		return -1;
	for (unsigned k = 0; k < n; k++) {
		uint16_t i = (uint16_t)((head + k) & mask), nx = (uint16_t)((head + k + 1) & mask);
		uint16_t fl = (uint16_t)(s[k].flags | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));

		if (vqh_desc(h, i, s[k].addr, s[k].len, fl, k + 1 < n ? nx : 0))
			return -1;
	}
	h->next_free = (uint16_t)((head + n) & mask);
	return head;
}

/* Write n linked segments as an indirect table at `table` and take one ring descriptor naming it. Returns the
 * head, or -1. */
static inline int vqh_indirect(struct vqh *h, uint64_t table, const struct vqh_seg *s, unsigned n)
{
	uint16_t head = h->next_free;

	for (unsigned k = 0; k < n; k++) {
		uint16_t fl = (uint16_t)(s[k].flags | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));

		if (vqh_desc_at(h->m, table, k, s[k].addr, s[k].len, fl, (uint16_t)(k + 1 < n ? k + 1 : 0)))
			return -1;
	}
	if (vqh_desc(h, head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0))
		return -1;
	h->next_free = (uint16_t)((head + 1) & (h->num - 1));
	return head;
}

static inline void vqh_st16(const struct vqh *h, uint64_t gpa, uint16_t v)
{
	uint16_t *p = gmem_ptr(h->m, gpa, 2);

	if (p)
		__atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint16_t vqh_ld16(const struct vqh *h, uint64_t gpa)
{
	uint16_t *p = gmem_ptr(h->m, gpa, 2);

	return p ? __atomic_load_n(p, __ATOMIC_ACQUIRE) : 0;
}

/* Raw avail ring contents: entry `slot` (taken mod num) and avail.idx. */
static inline void vqh_put_avail(struct vqh *h, uint16_t slot, uint16_t head)
{
	vqh_st16(h, h->avail + 4 + 2ULL * (slot & (h->num - 1)), head);
}
static inline void vqh_set_avail_idx(struct vqh *h, uint16_t idx)
{
	h->avail_idx = idx;
	vqh_st16(h, h->avail + 2, idx);
}
/* Make `head` available: the ring entry first, then avail.idx (release). */
static inline void vqh_post(struct vqh *h, uint16_t head)
{
	vqh_put_avail(h, h->avail_idx, head);
	vqh_set_avail_idx(h, (uint16_t)(h->avail_idx + 1));
}

static inline void vqh_set_avail_flags(struct vqh *h, uint16_t flags)
{
	vqh_st16(h, h->avail, flags);
}
static inline void vqh_set_used_event(struct vqh *h, uint16_t v)
{
	vqh_st16(h, h->avail + 4 + 2ULL * h->num, v);
}
static inline uint16_t vqh_avail_event(const struct vqh *h)
{
	return vqh_ld16(h, h->used + 4 + 8ULL * h->num);
}
static inline uint16_t vqh_used_idx(const struct vqh *h)
{
	return vqh_ld16(h, h->used + 2);
}

/* Used element `n` (mod num). */
static inline void vqh_used_elem(const struct vqh *h, uint16_t n, uint32_t *id, uint32_t *len)
{
	uint32_t e[2] = {0xffffffff, 0xffffffff};

	gmem_read(h->m, e, h->used + 4 + 8ULL * (n & (h->num - 1)), sizeof(e));
	*id = e[0];
	*len = e[1];
}
/* The next used element the driver has not consumed yet: 1 and the element, or 0 when there is none. */
static inline int vqh_get_used(struct vqh *h, uint32_t *id, uint32_t *len)
{
	if (vqh_used_idx(h) == h->used_seen)
		return 0;
	vqh_used_elem(h, h->used_seen, id, len);
	h->used_seen++;
	return 1;
}

/* Hand the rings to a struct virtq as the transport would (the queue is reset first). */
static inline void vqh_to_virtq(const struct vqh *h, struct virtq *q)
{
	virtq_reset(q);
	q->num = h->num;
	q->desc_gpa = h->desc;
	q->avail_gpa = h->avail;
	q->used_gpa = h->used;
}

/* ---- the transport, through its registers ---- */

static inline uint32_t vqh_rd32(struct virtio_mmio *t, uint64_t off)
{
	uint8_t b[4];
	uint32_t v;

	virtio_mmio_ops.read(t, off, b, 4);
	memcpy(&v, b, 4);
	return v;
}
static inline void vqh_wr32(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	uint8_t b[4];

	memcpy(b, &v, 4);
	virtio_mmio_ops.write(t, off, b, 4);
}

#define VQH_REG_DRV_FEATURES	 0x020
#define VQH_REG_DRV_FEATURES_SEL 0x024
#define VQH_REG_QUEUE_SEL	 0x030
#define VQH_REG_QUEUE_NUM	 0x038
#define VQH_REG_QUEUE_READY	 0x044
#define VQH_REG_STATUS		 0x070
#define VQH_REG_QUEUE_DESC	 0x080 /* low; high at +4 */
#define VQH_REG_QUEUE_DRIVER	 0x090
#define VQH_REG_QUEUE_DEVICE	 0x0a0

static inline void vqh_wr64(struct virtio_mmio *t, uint64_t off, uint64_t v)
{
	vqh_wr32(t, off, (uint32_t)v);
	vqh_wr32(t, off + 4, (uint32_t)(v >> 32));
}

/* Reset, then ACKNOWLEDGE, DRIVER, the features (VERSION_1 added) and FEATURES_OK. 0 if FEATURES_OK latched. */
static inline int vqh_mmio_negotiate(struct virtio_mmio *t, uint64_t features)
{
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE;

	features |= 1ULL << VIRTIO_F_VERSION_1;
	vqh_wr32(t, VQH_REG_STATUS, 0);
	vqh_wr32(t, VQH_REG_STATUS, s);
	vqh_wr32(t, VQH_REG_STATUS, s |= VIRTIO_STATUS_DRIVER);
	vqh_wr32(t, VQH_REG_DRV_FEATURES_SEL, 0);
	vqh_wr32(t, VQH_REG_DRV_FEATURES, (uint32_t)features);
	vqh_wr32(t, VQH_REG_DRV_FEATURES_SEL, 1);
	vqh_wr32(t, VQH_REG_DRV_FEATURES, (uint32_t)(features >> 32));
	vqh_wr32(t, VQH_REG_STATUS, s | VIRTIO_STATUS_FEATURES_OK);
	return vqh_rd32(t, VQH_REG_STATUS) & VIRTIO_STATUS_FEATURES_OK ? 0 : -1;
}

/* Give queue qi the rings of h and mark it ready. */
static inline void vqh_mmio_queue(struct virtio_mmio *t, unsigned qi, const struct vqh *h)
{
	vqh_wr32(t, VQH_REG_QUEUE_SEL, qi);
	vqh_wr32(t, VQH_REG_QUEUE_NUM, h->num);
	vqh_wr64(t, VQH_REG_QUEUE_DESC, h->desc);
	vqh_wr64(t, VQH_REG_QUEUE_DRIVER, h->avail);
	vqh_wr64(t, VQH_REG_QUEUE_DEVICE, h->used);
	vqh_wr32(t, VQH_REG_QUEUE_READY, 1);
}

/* Set DRIVER_OK; returns Status as read back (DEVICE_NEEDS_RESET in it means activation failed). */
static inline uint32_t vqh_mmio_driver_ok(struct virtio_mmio *t)
{
	vqh_wr32(t, VQH_REG_STATUS, vqh_rd32(t, VQH_REG_STATUS) | VIRTIO_STATUS_DRIVER_OK);
	return vqh_rd32(t, VQH_REG_STATUS);
}

static inline void vqh_mmio_notify(struct virtio_mmio *t, unsigned qi)
{
	vqh_wr32(t, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

#endif
