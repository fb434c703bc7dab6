/* virtio_net_rx.c: virtio-net receive: frames from the backend straight into the guest's RX buffers. */
#include "devices/virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

/*
 * The device holds RX chains it popped (rx.buf, their writable iovecs back to back in rx.pool) until a frame
 * needs them. Without MRG_RXBUF it holds one chain, and a frame that does not fit it is dropped (the chain is
 * kept for the next one). With MRG_RXBUF it holds chains until they can take the largest frame (or the ring is
 * empty), and a frame uses as many as it needs, all but the last filled to their length. recv reads into the
 * held chains directly, followed by rx.spill for whatever does not fit: a frame longer than the chains held then
 * waits in the spill buffer (one frame, EPOLLIN off) for more chains, and goes into them as they come.
 * Before its chains are returned the frame's header is written with num_buffers (N8): nothing is written to a
 * chain after virtq_push.
 */

#define RX_LIMIT  (VIRTIO_NET_MAX_TOTAL + 1) /* bytes offered to recv: one more than the largest frame */
#define RX_BUDGET (2 * VIRTQ_MAX_SIZE)	     /* pops per call, so bad chains reposted in a loop cannot hold us */

static void rx_forget(struct virtio_net *n)
{
	n->rx.nbuf = n->rx.niov = 0;
	n->rx.cap = 0;
	n->rx.pending = n->rx.spill_len = n->rx.spill_off = 0;
}

void virtio_net_rx_reset(struct virtio_net *n)
{
	rx_forget(n);
	n->rx.errs = 0;
}

/* Room for one more chain of any shape. */
static bool rx_room(const struct virtio_net *n)
{
	return n->rx.nbuf < VIRTQ_MAX_SIZE && n->rx.niov + VIRTQ_MAX_SEGS <= VIRTIO_NET_RX_POOL;
}

static bool rx_wants_more(const struct virtio_net *n)
{
	if (!virtio_net_has(n, VIRTIO_NET_F_MRG_RXBUF))
		return n->rx.nbuf == 0;
	return rx_room(n) && (n->rx.pending || n->rx.cap < VIRTIO_NET_MAX_TOTAL);
}

/* Return the first k held chains for a frame of `total` bytes (header included): num_buffers into the header,
 * the header into the first chain, then the used entries. */
static void rx_finish(struct virtio_net *n, uint64_t total, unsigned *pushed)
{
	struct virtq *q = &n->t.q[VIRTIO_NET_RXQ];
	unsigned k = 0, iovs = 0;
	uint64_t sum = 0, left = total;
	uint16_t nb;

	while (sum < total) { /* total <= cap: the held chains cover it */
		sum += n->rx.buf[k].len;
		iovs += n->rx.buf[k].niov;
		k++;
	}
	nb = htole16((uint16_t)k);
	memcpy(n->rx.hdr + 10, &nb, 2);
	iov_copy_in(n->rx.pool, n->rx.buf[0].niov, 0, n->rx.hdr, VIRTIO_NET_HDR_SIZE);
	for (unsigned i = 0; i < k; i++) {
		uint32_t len = i + 1 < k ? n->rx.buf[i].len : (uint32_t)left;

		virtq_push(q, n->rx.buf[i].head, len);
		left -= len;
	}
	*pushed += k;
	n->rx.nbuf -= k;
	memmove(n->rx.buf, n->rx.buf + k, n->rx.nbuf * sizeof(n->rx.buf[0]));
	n->rx.niov -= iovs;
	memmove(n->rx.pool, n->rx.pool + iovs, n->rx.niov * sizeof(n->rx.pool[0]));
	n->rx.cap -= sum;
	n->st.rx_frames++;
	n->st.rx_bytes += total - VIRTIO_NET_HDR_SIZE;
}

/* Hold the chain in rx.req; while a frame is pending, fill it with the next part of that frame. */
static void rx_hold(struct virtio_net *n, unsigned *pushed)
{
	const struct virtq_req *r = &n->rx.req;
	struct virtio_net_rxbuf *b = &n->rx.buf[n->rx.nbuf++];
	struct iovec *iov = n->rx.pool + n->rx.niov;
	uint32_t take;

	*b = (struct virtio_net_rxbuf){.head = r->head, .niov = (uint16_t)r->nin, .len = (uint32_t)r->in_len};
	memcpy(iov, r->iov + r->nout, r->nin * sizeof(*iov));
	n->rx.niov += r->nin;
	n->rx.cap += r->in_len;
	if (!n->rx.pending)
		return;
	take = n->rx.spill_len - n->rx.spill_off < b->len ? n->rx.spill_len - n->rx.spill_off : b->len;
	iov_copy_in(iov, b->niov, 0, n->rx.spill + n->rx.spill_off, take);
	n->rx.spill_off += take;
	if (n->rx.spill_off == n->rx.spill_len) {
		rx_finish(n, n->rx.pending, pushed);
		n->rx.pending = 0;
	}
}

/* Take chains while the device wants more. A chain with a device-readable buffer or shorter than the header is
 * returned at once with used.len 0 (N6), as is a bad one. 0, or -EIO: the ring is broken. */
static int rx_fill(struct virtio_net *n, unsigned *pushed, unsigned *budget)
{
	struct virtq *q = &n->t.q[VIRTIO_NET_RXQ];
	struct virtq_req *r = &n->rx.req;

	while (*budget && rx_wants_more(n)) {
		int rc = virtq_pop(q, r);

		if (rc == 0 || rc == -EIO)
			return rc;
		(*budget)--;
		if (rc < 0 || r->nout || r->in_len < VIRTIO_NET_HDR_SIZE) {
			n->st.rx_malformed++;
			virtq_push(q, r->head, 0);
			(*pushed)++;
			continue;
		}
		rx_hold(n, pushed);
	}
	return 0;
}

/* The header the backend wrote, for a frame of `len` bytes: offloads only as negotiated. DATA_VALID is cleared
 * without GUEST_CSUM (a hint the guest cannot take); anything else the guest did not ask for drops the frame. */
static bool rx_hdr_ok(struct virtio_net *n, uint64_t len)
{
	uint8_t *h = n->rx.hdr;
	bool csum = virtio_net_has(n, VIRTIO_NET_F_GUEST_CSUM);
	uint16_t start, off;

	memcpy(&start, h + 6, 2);
	memcpy(&off, h + 8, 2);
	if ((h[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) && (!csum || (uint64_t)le16toh(start) + le16toh(off) + 2 > len))
		return false;
	h[0] &= csum ? VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID : 0;
	switch (h[1]) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return virtio_net_has(n, VIRTIO_NET_F_GUEST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return virtio_net_has(n, VIRTIO_NET_F_GUEST_TSO6);
	}
	return false;
}

/* Receive one frame into the held chains (and the spill buffer). 1: a frame was delivered, dropped or left
 * pending; 0: nothing is waiting; -1: the backend failed. */
static int rx_recv(struct virtio_net *n, unsigned *pushed)
{
	uint64_t gcap = n->rx.cap < RX_LIMIT ? n->rx.cap : RX_LIMIT, skip = n->be.vnet_hdr ? 0 : VIRTIO_NET_HDR_SIZE;
	uint64_t total;
	unsigned k;
	ssize_t r;

	/* The header is in the first chain (>= 12 bytes); without vnet_hdr the device writes it, recv skips it. */
	k = iov_slice(n->rx.pool, n->rx.niov, skip, gcap - skip, n->rx.iov);
	if (gcap < RX_LIMIT)
		n->rx.iov[k++] = (struct iovec){.iov_base = n->rx.spill, .iov_len = RX_LIMIT - gcap};
	r = n->be.ops->recv(n->be.be, n->rx.iov, (int)k);
	if (r == 0)
		return 0;
	if (r < 0) {
		n->st.rx_errors++; /* N10 */
		if (++n->rx.errs >= VIRTIO_NET_RX_ERR_LIMIT)
			virtio_net_down(n);
		return -1;
	}
	n->rx.errs = 0;
	total = (uint64_t)r + skip;
	if (total > VIRTIO_NET_MAX_TOTAL) {
		n->st.rx_too_big++;
		return 1;
	}
	if (total < VIRTIO_NET_HDR_SIZE + VIRTIO_NET_ETH_MIN) {
		n->st.rx_short++;
		return 1;
	}
	if (!n->be.vnet_hdr) {
		memset(n->rx.hdr, 0, sizeof(n->rx.hdr));
	} else {
		iov_copy_out(n->rx.pool, n->rx.buf[0].niov, 0, n->rx.hdr, VIRTIO_NET_HDR_SIZE);
		if (!rx_hdr_ok(n, total - VIRTIO_NET_HDR_SIZE)) {
			n->st.rx_bad_hdr++;
			return 1;
		}
	}
	if (total <= gcap) {
		rx_finish(n, total, pushed);
	} else if (!virtio_net_has(n, VIRTIO_NET_F_MRG_RXBUF)) {
		n->st.rx_too_big++; /* N6, N7: never truncated */
	} else {
		n->rx.pending = (uint32_t)total;
		n->rx.spill_len = (uint32_t)(total - gcap);
		n->rx.spill_off = 0;
	}
	return 1;
}

/*
 * Move frames from the backend to the guest: at most VIRTIO_NET_BATCH per call, then one interrupt. Polling
 * (EPOLLIN) stays on while the device holds buffers or the backend may have more; it goes off when the guest has
 * no buffers left (N9), and the next RX kick calls this again.
 */
void virtio_net_rx_run(struct virtio_net *n)
{
	struct virtq *q = &n->t.q[VIRTIO_NET_RXQ];
	unsigned pushed = 0, frames = 0, budget = RX_BUDGET;
	bool poll = false, broken = false;

	while (q->active && !n->st.backend_down) {
		if (rx_fill(n, &pushed, &budget) < 0) {
			rx_forget(n);
			broken = true;
			break;
		}
		if (!budget) {
			poll = true; /* go on at the next event */
			break;
		}
		if (n->rx.pending && !rx_room(n)) {
			n->st.rx_too_big++; /* more than the device can hold at once */
			n->rx.pending = 0;
			frames++;
			continue;
		}
		if (n->rx.pending || !n->rx.nbuf) {
			/* The ring is empty: with EVENT_IDX ask for a kick, and look once more. */
			if (virtq_enable_notify(q))
				continue;
			n->st.rx_stalls++;
			break;
		}
		if (frames >= VIRTIO_NET_BATCH) {
			poll = true;
			break;
		}
		int rc = rx_recv(n, &pushed);

		if (rc <= 0) {
			poll = rc == 0 || !n->st.backend_down;
			break;
		}
		frames++;
	}
	virtio_net_want(n, EPOLLIN, poll);
	if (pushed)
		virtio_mmio_signal_used_locked(&n->t, VIRTIO_NET_RXQ);
	if (broken)
		virtio_mmio_needs_reset_locked(&n->t);
}
