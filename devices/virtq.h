/* virtq.h: the split virtqueue (virtio 1.2 section 2.7) as a device sees it, with every guest value checked. */
#ifndef KVMINI_VIRTQ_H
#define KVMINI_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/gmem.h"

/*
 * Life of a queue. The transport (virtio_mmio.c) writes num and the three ring addresses while the driver sets
 * the queue up, then calls virtq_activate() once, when the driver sets DRIVER_OK. Activation checks everything
 * that does not change afterwards: num a power of two <= VIRTQ_MAX_SIZE, each ring aligned (desc 16, avail 2,
 * used 4) and wholly inside one RAM region (including used_event/avail_event when EVENT_IDX is negotiated), and
 * maps the rings once through gmem_ptr. Later writes to num or the addresses do not touch an active queue.
 *
 * Requests. virtq_pop() takes the next available head, copies each descriptor once (the guest may rewrite the
 * ring behind our back: only the copy is used), follows the chain at most num hops (indirect tables: at most
 * their own length, no nesting), checks each buffer through gmem_ptr and returns it as an iovec: device-readable
 * buffers first (iov[0 .. nout)), then device-writable ones (iov[nout .. nout + nin)). A readable buffer after a
 * writable one is an error, as the spec requires that order. virtq_push() returns a head with the number of bytes
 * the device wrote.
 *
 * Errors, one policy:
 *  - a bad chain (next >= num, a loop, a buffer outside RAM or over the MMIO hole, a zero-length buffer, too many
 *    segments, lengths summing past 4 GiB, a bad indirect table): virtq_pop() returns -EINVAL with r->head set;
 *    the device returns that head with virtq_push(q, head, 0) and counts it (DROP);
 *  - a broken ring (avail.idx more than num ahead of what we consumed, a head >= num, a head popped again while
 *    still in flight): -EIO, and the queue is marked broken: every later call returns -EIO and touches no guest
 *    memory until virtq_reset(). The transport then sets DEVICE_NEEDS_RESET.
 * virtq_pop() counts each -EINVAL in q->dropped. An inactive queue has nothing to pop (0), pushes nothing
 * (-EINVAL) and never notifies. Activation also refuses rings that overlap each other. An indirect descriptor
 * (only if INDIRECT_DESC was negotiated) ends the chain it is in (INDIRECT with NEXT is a bad chain); its table
 * is 16-byte entries, 1..VIRTQ_MAX_SIZE of them, in RAM, and must not contain another indirect descriptor.
 *
 * A device's kick handler, with EVENT_IDX or without:
 *	do {
 *		while ((rc = virtq_pop(q, &r)) != 0) {
 *			if (rc == -EIO) { needs reset; return; }
 *			written = rc == 1 ? serve(&r) : 0;
 *			virtq_push(q, r.head, written);
 *		}
 *	} while (virtq_enable_notify(q));
 *	if (virtq_should_notify(q)) raise the interrupt;
 * virtq_next is that inner pop and the re-check in one call, for handlers that stop part-way (batches).
 */

#define VIRTQ_MAX_SIZE 256 /* QueueNumMax we offer; also bounds a chain */
#define VIRTQ_MAX_SEGS 258 /* iovecs in one request: a full chain, or an indirect table, plus header and status */

/* Feature bits this library understands (the device offers them through the transport). */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX	    29

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1 /* avail.flags: the driver asks for no used-buffer interrupts */

struct virtq {
	/* Written by the transport before activation (QueueNum, QueueDesc/Driver/Device). */
	uint16_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Set by virtq_activate from here on. */
	bool active, broken;
	bool event_idx, indirect; /* negotiated */
	const struct gmem *mem;
	struct virtq_desc *desc; /* host views of the rings, checked once at activation */
	uint8_t *avail, *used;	 /* raw: flags, idx, ring[num], (used_event|avail_event) */
	uint16_t last_avail;	 /* next avail entry to consume */
	uint16_t used_idx;	 /* our copy of used.idx */
	uint16_t signalled_used; /* used_idx at the last interrupt (EVENT_IDX) */
	bool signalled_valid;
	uint8_t inflight[VIRTQ_MAX_SIZE / 8]; /* heads popped and not yet pushed */
	uint64_t dropped;		      /* bad chains returned with length 0 */
};

struct virtq_req {
	uint16_t head;
	unsigned nout, nin;	  /* device-readable iovecs first, then device-writable */
	uint64_t out_len, in_len; /* byte totals of each part (each < 4 GiB) */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Clear a queue to its reset state (num 0, addresses 0, inactive, not broken). */
void virtq_reset(struct virtq *q);
/* Validate and map the rings with the negotiated `features` (VIRTIO_RING_F_* bits are looked at). 0, or -EINVAL
 * and the queue stays inactive. */
int virtq_activate(struct virtq *q, const struct gmem *m, uint64_t features);
/* 1: a request in *r; 0: nothing available; -EINVAL: a bad chain (r->head is valid: push it back with 0);
 * -EIO: the ring is broken (see above). */
int virtq_pop(struct virtq *q, struct virtq_req *r);
/* Return `head` to the driver with `written` bytes written into its device-writable buffers. A head that is not
 * in flight is ignored (returns -EINVAL). 0 on success. */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written);
/* After pushes: should the driver be interrupted? Honours VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with
 * EVENT_IDX. Updates the bookkeeping, so call it once per batch. */
bool virtq_should_notify(struct virtq *q);
/* Before going idle with EVENT_IDX: publish avail_event = last_avail so the driver kicks on its next buffer.
 * Returns true when more buffers arrived meanwhile (the device should pop again). Without EVENT_IDX, false. */
bool virtq_enable_notify(struct virtq *q);
/* virtq_pop, and when the ring looks empty, virtq_enable_notify and one more pop: 0 then means the device may
 * go idle (a buffer added meanwhile is found here, later ones come with a kick). Same returns as virtq_pop. */
int virtq_next(struct virtq *q, struct virtq_req *r);
/* One line of the queue's state for a person (kvmini --stats at a time-out): our indices and the driver's. */
int virtq_describe(const struct virtq *q, char *buf, size_t len);

#endif
