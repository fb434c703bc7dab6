/* virtio_net.c: the virtio-net device: features, config space, event wiring, and checking and sending each TX frame. */
#include "devices/virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* ---- helpers shared with virtio_net_rx.c ---- */

bool virtio_net_has(const struct virtio_net *n, unsigned feature)
{
	return (n->t.features >> feature) & 1;
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

/* Turn EPOLLIN or EPOLLOUT on or off; tell the event loop only when the set changes. A backend that is down is
 * watched for nothing. */
void virtio_net_want(struct virtio_net *n, uint32_t events, bool on)
{
	uint32_t want = on ? n->poll | events : n->poll & ~events;

	if (n->st.backend_down)
		want = 0;
	if (want == n->poll)
		return;
	n->poll = want;
	if (n->hooks.set_poll)
		n->hooks.set_poll(n->hooks.opaque, want);
}

/* ---- MAC, config space ---- */

void virtio_net_mac_from_seed(const char *seed, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const char *p = seed ? seed : ""; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	mac[0] = (uint8_t)((mac[0] & ~1u) | 2u); /* unicast, locally administered */
}

static void net_cfg_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct virtio_net *n = dev;

	memset(data, 0, len);
	if (off < sizeof(n->cfg) && len <= sizeof(n->cfg) - off)
		memcpy(data, n->cfg + off, len);
}

/* The link went down: clear LINK_UP and send a config interrupt. The transport's virtio_mmio_config_changed
 * takes the lock we hold, so this does its two steps here. */
static void net_link_down_locked(struct virtio_net *n)
{
	n->cfg[6] &= (uint8_t)~VIRTIO_NET_S_LINK_UP;
	n->t.config_gen++;
	if (!(n->t.status & VIRTIO_STATUS_DRIVER_OK) || (n->t.isr & VIRTIO_MMIO_INT_CONFIG))
		return;
	n->t.isr |= VIRTIO_MMIO_INT_CONFIG;
	if (n->t.irq)
		irq_line_trigger(n->t.irq);
}

/* ---- TX ---- */

/*
 * The header of a frame of `len` bytes (header excluded). flags: none, or NEEDS_CSUM when CSUM was negotiated
 * with the checksum field inside the frame; gso_type: NONE, or TCPV4/TCPV6 when HOST_TSO4/6 was negotiated, with
 * a gso_size; hdr_len within the frame. Everything else (DATA_VALID, RSC_INFO, ECN, UDP) is refused.
 */
static bool tx_hdr_ok(const struct virtio_net *n, const uint8_t *h, uint32_t len)
{
	uint8_t flags = h[0], gso = h[1];
	uint32_t hdr_len = get16(h + 2), gso_size = get16(h + 4), start = get16(h + 6), off = get16(h + 8);

	if (flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	/* guest: csum_start and csum_offset are u16, so the sum cannot overflow */
	if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && (!virtio_net_has(n, VIRTIO_NET_F_CSUM) || start + off + 2 > len))
		return false;
	if (hdr_len > len)
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return virtio_net_has(n, VIRTIO_NET_F_HOST_TSO4) && gso_size;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return virtio_net_has(n, VIRTIO_NET_F_HOST_TSO6) && gso_size;
	}
	return false;
}

/* Check the chain in tx.req and describe the frame to send in tx.iov. False: dropped (counted). */
static bool tx_prepare(struct virtio_net *n)
{
	const struct virtq_req *r = &n->tx.req;
	unsigned k = 0;

	if (r->nin || r->out_len < VIRTIO_NET_HDR_SIZE || r->out_len > VIRTIO_NET_MAX_TOTAL) {
		n->st.tx_malformed++; /* N3, N2, N1 */
		return false;
	}
	n->tx.len = (uint32_t)r->out_len - VIRTIO_NET_HDR_SIZE;
	if (n->tx.len < VIRTIO_NET_ETH_MIN) {
		n->st.tx_short++; /* N4 */
		return false;
	}
	iov_copy_out(r->iov, r->nout, 0, n->tx.hdr, VIRTIO_NET_HDR_SIZE); /* one copy, then checked */
	if (!tx_hdr_ok(n, n->tx.hdr, n->tx.len)) {
		n->st.tx_bad_hdr++; /* N5 */
		return false;
	}
	if (n->be.vnet_hdr) {
		memset(n->tx.hdr + 10, 0, 2); /* num_buffers: meaningless on TX */
		n->tx.iov[k++] = (struct iovec){.iov_base = n->tx.hdr, .iov_len = VIRTIO_NET_HDR_SIZE};
	}
	k += iov_slice(r->iov, r->nout, VIRTIO_NET_HDR_SIZE, n->tx.len, n->tx.iov + k);
	n->tx.iovcnt = (int)k;
	return true;
}

/* Send the prepared frame. False when the backend would block (the frame stays prepared); true when it is done
 * with, sent or dropped. */
static bool tx_send(struct virtio_net *n)
{
	ssize_t r;

	if (n->st.backend_down) {
		n->st.tx_errors++;
		return true;
	}
	r = n->be.ops->send(n->be.be, n->tx.iov, n->tx.iovcnt);
	if (r == 0)
		return false;
	if (r < 0) {
		n->st.tx_errors++; /* N10 */
		return true;
	}
	n->st.tx_frames++;
	n->st.tx_bytes += n->tx.len;
	return true;
}

static void tx_rekick(struct virtio_net *n)
{
	uint64_t one = 1;

	while (write(n->tx_kick_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/*
 * Send frames from the TX queue, each one checked, in order. A frame the backend cannot take yet is kept (with
 * its chain) and the device asks for EPOLLOUT; nothing else is sent before it. At most VIRTIO_NET_BATCH frames
 * per call when tx_kick_fd is set (then a self-kick), an interrupt per batch.
 */
static void tx_run(struct virtio_net *n)
{
	struct virtq *q = &n->t.q[VIRTIO_NET_TXQ];
	unsigned batch = 0;

	if (!q->active)
		return;
	if (n->tx.held) {
		if (!tx_send(n))
			return;
		n->tx.held = false;
		virtio_net_want(n, EPOLLOUT, false);
		virtq_push(q, n->tx.req.head, 0);
		batch++;
	}
	for (;;) {
		int r = virtq_next(q, &n->tx.req);

		if (r == -EIO) {
			if (batch)
				virtio_mmio_signal_used_locked(&n->t, VIRTIO_NET_TXQ);
			virtio_mmio_needs_reset_locked(&n->t);
			return;
		}
		if (r == 0)
			break;
		if (r < 0) {
			n->st.tx_malformed++;
		} else if (tx_prepare(n) && !tx_send(n)) {
			n->tx.held = true;
			n->st.tx_eagain++;
			virtio_net_want(n, EPOLLOUT, true);
			break;
		}
		virtq_push(q, n->tx.req.head, 0); /* TX buffers are only read: used.len 0 */
		if (++batch == VIRTIO_NET_BATCH) {
			virtio_mmio_signal_used_locked(&n->t, VIRTIO_NET_TXQ);
			batch = 0;
			if (n->tx_kick_fd >= 0) {
				tx_rekick(n);
				return;
			}
		}
	}
	if (batch)
		virtio_mmio_signal_used_locked(&n->t, VIRTIO_NET_TXQ);
}

/* ---- backend state ---- */

/* The backend is gone: stop watching it, tell the guest the link is down, and release a frame waiting to be sent
 * (it and every later one are dropped and counted). */
void virtio_net_down(struct virtio_net *n)
{
	if (n->st.backend_down)
		return;
	n->st.backend_down = true;
	virtio_net_want(n, EPOLLIN | EPOLLOUT, false);
	if (n->hooks.backend_down)
		n->hooks.backend_down(n->hooks.opaque);
	net_link_down_locked(n);
	tx_run(n);
}

void virtio_net_on_backend(void *opaque, uint32_t events)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->t.lock);
	if (events & EPOLLIN)
		virtio_net_rx_run(n);
	if (events & EPOLLOUT)
		tx_run(n);
	if (events & (EPOLLERR | EPOLLHUP))
		virtio_net_down(n);
	pthread_mutex_unlock(&n->t.lock);
}

/* ---- transport callbacks ---- */

static int net_activate(void *dev)
{
	struct virtio_net *n = dev;

	if (n->be.ops->set_offloads && n->be.ops->set_offloads(n->be.be, n->t.features) < 0)
		n->st.offload_errors++;
	n->rx.errs = 0;
	/* Look at the backend once: buffers posted before DRIVER_OK come with no kick. */
	virtio_net_want(n, EPOLLIN, n->t.q[VIRTIO_NET_RXQ].active);
	return 0;
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	n->tx.held = false;
	virtio_net_rx_reset(n);
	virtio_net_want(n, EPOLLIN | EPOLLOUT, false);
}

static void net_notify(void *dev, unsigned qi)
{
	struct virtio_net *n = dev;

	if (qi == VIRTIO_NET_TXQ)
		tx_run(n);
	else if (qi == VIRTIO_NET_RXQ && !(n->poll & EPOLLIN))
		virtio_net_rx_run(n); /* new buffers after a stall: resume (while polling, the fd drives RX) */
}

int virtio_net_init(struct virtio_net *n, const struct net_backend *be, const uint8_t mac[6],
		    const struct virtio_net_hooks *hooks)
{
	memset(n, 0, sizeof(*n));
	n->rx.spill = malloc(VIRTIO_NET_MAX_TOTAL + 1);
	if (!n->rx.spill)
		return -ENOMEM;
	n->be = *be;
	if (hooks)
		n->hooks = *hooks;
	n->tx_kick_fd = -1;
	memcpy(n->cfg, mac, 6);
	n->cfg[6] = VIRTIO_NET_S_LINK_UP; /* le16 status */
	n->cfg[8] = 1;			  /* le16 max_virtqueue_pairs (MQ not offered) */
	return 0;
}

void virtio_net_attach(struct virtio_net *n, struct irq_line *irq, const struct gmem *mem)
{
	uint64_t f = 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS | 1ULL << VIRTIO_NET_F_MRG_RXBUF |
		     1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	uint64_t off = n->be.vnet_hdr ? n->be.offer & VIRTIO_NET_OFFLOADS : 0;

	/* Never offer a feature without the one it depends on (section 5.1.3.1). */
	if (!(off & 1ULL << VIRTIO_NET_F_CSUM))
		off &= ~(1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO6);
	if (!(off & 1ULL << VIRTIO_NET_F_GUEST_CSUM))
		off &= ~(1ULL << VIRTIO_NET_F_GUEST_TSO4 | 1ULL << VIRTIO_NET_F_GUEST_TSO6);
	n->ops = (struct virtio_dev_ops){
	    .device_id = VIRTIO_ID_NET,
	    .features = f | off,
	    .nqueues = 2,
	    .cfg_size = VIRTIO_NET_CFG_SIZE,
	    .cfg_read = net_cfg_read,
	    .cfg_write = NULL, /* config space is read-only: writes ignored (N11) */
	    .activate = net_activate,
	    .reset = net_reset,
	    .notify = net_notify,
	};
	virtio_mmio_init(&n->t, &n->ops, n, irq, mem);
	n->attached = true;
}

void virtio_net_close(struct virtio_net *n)
{
	if (n->attached) {
		virtio_mmio_destroy(&n->t);
		n->attached = false;
	}
	free(n->rx.spill);
	n->rx.spill = NULL;
}
