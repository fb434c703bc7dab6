/* virtio_net.h: a virtio network device (virtio 1.2 section 5.1) over a pluggable packet backend, on virtio-mmio. */
#ifndef KVMINI_VIRTIO_NET_H
#define KVMINI_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "devices/iov.h"
#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "vmm/gmem.h"
#include "vmm/irq.h"

#define VIRTIO_ID_NET 1

/* Feature bits (virtio 1.2 section 5.1.3). */
#define VIRTIO_NET_F_CSUM	     0
#define VIRTIO_NET_F_GUEST_CSUM	     1
#define VIRTIO_NET_F_CTRL_GUEST_OFFL 2
#define VIRTIO_NET_F_MTU	     3
#define VIRTIO_NET_F_MAC	     5
#define VIRTIO_NET_F_GUEST_TSO4	     7
#define VIRTIO_NET_F_GUEST_TSO6	     8
#define VIRTIO_NET_F_GUEST_ECN	     9
#define VIRTIO_NET_F_GUEST_UFO	     10
#define VIRTIO_NET_F_HOST_TSO4	     11
#define VIRTIO_NET_F_HOST_TSO6	     12
#define VIRTIO_NET_F_HOST_ECN	     13
#define VIRTIO_NET_F_HOST_UFO	     14
#define VIRTIO_NET_F_MRG_RXBUF	     15
#define VIRTIO_NET_F_STATUS	     16
#define VIRTIO_NET_F_CTRL_VQ	     17
#define VIRTIO_NET_F_MQ		     22
/* The offloads a backend may carry (net_backend.offer); anything else in offer is ignored. */
#define VIRTIO_NET_OFFLOADS                                                                              \
	(1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_GUEST_CSUM | 1ULL << VIRTIO_NET_F_GUEST_TSO4 | \
	 1ULL << VIRTIO_NET_F_GUEST_TSO6 | 1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO6)

/* struct virtio_net_hdr_v1 (section 5.1.6): u8 flags, u8 gso_type, le16 hdr_len, gso_size, csum_start,
 * csum_offset, num_buffers. With VERSION_1 it is always 12 bytes, MRG_RXBUF or not. */
#define VIRTIO_NET_HDR_SIZE	    12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE	    0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN	    0x80
#define VIRTIO_NET_S_LINK_UP	    1
#define VIRTIO_NET_CFG_SIZE	    10	  /* mac[6], le16 status, le16 max_virtqueue_pairs (1) */
#define VIRTIO_NET_ETH_MIN	    14	  /* an Ethernet header: shorter frames are dropped */
#define VIRTIO_NET_MAX_FRAME	    65550 /* largest frame either way, header excluded */
#define VIRTIO_NET_MAX_TOTAL	    (VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME) /* 65562: TX chain limit */
#define VIRTIO_NET_BATCH	    64 /* frames per call and direction, then interrupt (and re-kick TX) */
#define VIRTIO_NET_RX_ERR_LIMIT	    64 /* consecutive recv errors that mean the backend is gone */
#define VIRTIO_NET_RX_POOL	    (2 * VIRTQ_MAX_SEGS) /* iovecs of the RX buffers the device holds */
#define VIRTIO_NET_RXQ		    0
#define VIRTIO_NET_TXQ		    1

/*
 * A packet backend: an fd plus ops; the device knows nothing else about it (TAP, a passt stream...). Every op is
 * called with the device lock held, on the event-loop thread or a vCPU thread, and must not block (the fd is
 * non-blocking).
 *  - send: one frame, given as an iovec starting with the 12-byte struct virtio_net_hdr_v1 when vnet_hdr is true
 *    (a copy the device validated, never guest memory), else the bare Ethernet frame (the device skipped the
 *    header without copying the frame). The frame goes whole or not at all: bytes sent (> 0), 0 when it would
 *    block (EAGAIN: the device keeps the chain, asks for EPOLLOUT and retries), or -errno (dropped, counted).
 *  - recv: one frame into iov, same header rule (with vnet_hdr the 12-byte header comes first: TUNSETVNETHDRSZ
 *    12). Returns the frame's length, which may exceed the iovec total when the frame did not fit (as tun does;
 *    the excess is discarded), 0 when nothing is waiting, or -errno. iov always holds VIRTIO_NET_MAX_TOTAL + 1
 *    bytes (vnet_hdr) or VIRTIO_NET_MAX_FRAME + 1, so a longer return means an oversized frame.
 *  - set_offloads: the driver reached DRIVER_OK with `guest_features` negotiated: enable the GUEST_* offloads in
 *    it (TAP: TUNSETOFFLOAD), and only those. May be NULL. A failure is counted; the device then drops any frame
 *    whose header needs an offload the guest did not take.
 * offer: the VIRTIO_NET_OFFLOADS bits the backend can carry; ignored unless vnet_hdr (a backend without the
 * header offers none). A TSO bit without its CSUM bit (HOST_TSO* needs CSUM, GUEST_TSO* needs GUEST_CSUM) is not
 * offered.
 */
struct net_backend_ops {
	ssize_t (*send)(void *be, const struct iovec *iov, int iovcnt);
	ssize_t (*recv)(void *be, const struct iovec *iov, int iovcnt);
	int (*set_offloads)(void *be, uint64_t guest_features);
};

struct net_backend {
	const struct net_backend_ops *ops;
	void *be;
	int fd;
	bool vnet_hdr;
	uint64_t offer;
};

/*
 * How the device tells the event loop what to watch on the backend's fd. Both run with the device lock held (do
 * not call virtio_net_* from them) and may run on a vCPU thread.
 *  - set_poll: the events wanted on be.fd changed: EPOLLIN (the driver posted RX buffers), EPOLLOUT (a frame
 *    waits for the fd to become writable), both, or 0: evloop_mod(loop, fd, events). Starts at 0 (add the fd
 *    with no events); no EPOLLIN while the guest has no RX buffers, so a flood never spins the loop.
 *  - backend_down: the backend failed for good (EPOLLERR/EPOLLHUP, or VIRTIO_NET_RX_ERR_LIMIT recv errors in a
 *    row): stop watching the fd (evloop_del), as epoll reports those conditions even with no events. The guest
 *    sees the link go down; its frames are dropped and counted from then on. May be NULL.
 */
struct virtio_net_hooks {
	void (*set_poll)(void *opaque, uint32_t events);
	void (*backend_down)(void *opaque);
	void *opaque;
};

struct virtio_net_stats {
	uint64_t tx_frames, tx_bytes, rx_frames, rx_bytes; /* delivered, Ethernet bytes (headers excluded) */
	uint64_t tx_malformed; /* chain with a writable buffer, shorter than the header, > MAX_TOTAL, or bad (DROP) */
	uint64_t tx_short;     /* frame < 14 bytes after the header (DROP) */
	uint64_t tx_bad_hdr;   /* header flags, gso_type, gso_size, hdr_len or csum fields not allowed (DROP) */
	uint64_t tx_errors;    /* the backend failed or is down: frame dropped */
	uint64_t tx_eagain;    /* the backend would block: the frame waited for EPOLLOUT (not lost) */
	uint64_t rx_malformed; /* RX chain with a readable buffer, shorter than the header, or bad (DROP) */
	uint64_t rx_too_big;   /* frame larger than the chain (no MRG_RXBUF), than the buffers the device can
				* hold, or than VIRTIO_NET_MAX_FRAME: dropped, never truncated */
	uint64_t rx_short;     /* frame < 14 bytes */
	uint64_t rx_bad_hdr;   /* header asks for an offload the guest did not negotiate */
	uint64_t rx_errors;    /* recv returned -errno */
	uint64_t rx_stalls;    /* times RX polling stopped for want of buffers */
	uint64_t offload_errors;
	bool backend_down;
};

/* A chain the device holds on the RX queue: its writable iovecs are rx.pool[first .. first + niov). */
struct virtio_net_rxbuf {
	uint16_t head;
	uint16_t niov;
	uint32_t len;
};

struct virtio_net {
	struct virtio_mmio t; /* put &t on the MMIO bus with virtio_mmio_ops */
	struct virtio_dev_ops ops;
	struct net_backend be;
	struct virtio_net_hooks hooks;
	uint8_t cfg[VIRTIO_NET_CFG_SIZE];
	bool attached;
	/* The TX queue's ioeventfd, or -1 (the default). When set, one call sends at most VIRTIO_NET_BATCH frames
	 * and then writes 1 to it to be called again; when -1, a call drains the queue. */
	int tx_kick_fd;
	uint32_t poll; /* events last passed to set_poll */
	struct virtio_net_stats st;
	/* Everything below is used only under t.lock. */
	struct {
		struct virtq_req req; /* the chain being sent, kept while the backend would block */
		bool held;
		uint8_t hdr[VIRTIO_NET_HDR_SIZE]; /* the validated copy that is sent */
		struct iovec iov[VIRTQ_MAX_SEGS + 1];
		int iovcnt;
		uint32_t len;
	} tx;
	struct {
		struct virtq_req req; /* scratch for virtq_pop */
		struct virtio_net_rxbuf buf[VIRTQ_MAX_SIZE];
		unsigned nbuf, niov; /* chains held, iovecs of pool in use */
		uint64_t cap;	     /* bytes the held chains can take */
		struct iovec pool[VIRTIO_NET_RX_POOL];
		struct iovec iov[VIRTIO_NET_RX_POOL + 1]; /* what recv gets */
		uint8_t *spill;	  /* VIRTIO_NET_MAX_TOTAL + 1 bytes: what did not fit the held chains */
		uint32_t pending; /* MRG_RXBUF: total length of a frame waiting for more buffers, or 0 */
		uint32_t spill_len, spill_off;
		uint8_t hdr[VIRTIO_NET_HDR_SIZE]; /* the frame's header, checked; written before the chains return */
		unsigned errs;			  /* recv errors in a row */
	} rx;
};

/*
 * Life cycle (the caller owns the backend and its fd):
 *	virtio_net_init(n, &be, mac, &hooks);                 // -ENOMEM
 *	virtio_net_attach(n, irq, &vm->mem);                  // transport; then vm_virtio_add(vm, &n->t, ...)
 *	n->tx_kick_fd = slot->kick[VIRTIO_NET_TXQ].fd;
 *	evloop_add(loop, be.fd, 0, virtio_net_on_backend, n); // events come from hooks.set_poll
 *	... evloop_run ...; then, with the vCPUs and the loop stopped:
 *	virtio_net_close(n);
 * Queue kicks arrive through the transport (virtio_mmio_kick / QueueNotify) as for every device.
 */
int virtio_net_init(struct virtio_net *n, const struct net_backend *be, const uint8_t mac[6],
		    const struct virtio_net_hooks *hooks);
void virtio_net_attach(struct virtio_net *n, struct irq_line *irq, const struct gmem *mem);
void virtio_net_close(struct virtio_net *n);
/* The event loop's callback for be.fd (an evloop_cb): EPOLLIN receives, EPOLLOUT retries a held frame and goes
 * on sending, EPOLLERR/EPOLLHUP take the backend down. Takes the device lock. */
void virtio_net_on_backend(void *opaque, uint32_t events);
/* A stable MAC for a name (e.g. the VM's name and the NIC index): a locally administered unicast address from an
 * FNV-1a hash of `seed`, the same for the same string on every run and host. */
void virtio_net_mac_from_seed(const char *seed, uint8_t mac[6]);

/* ---- internal to virtio_net.c and virtio_net_rx.c ---- */
void virtio_net_rx_run(struct virtio_net *n);
void virtio_net_rx_reset(struct virtio_net *n);
void virtio_net_want(struct virtio_net *n, uint32_t events, bool on);
void virtio_net_down(struct virtio_net *n);
bool virtio_net_has(const struct virtio_net *n, unsigned feature);

#endif
