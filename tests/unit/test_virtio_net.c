/* test_virtio_net.c: virtio-net driven through its MMIO registers and rings over a fake backend: bad-inputs.md 3.5 rows N1-N12 and more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio_net.h"
#include "tests/unit/vq_helpers.h"

enum {
	R_DEVICE_ID = 0x008,
	R_DEV_FEATURES = 0x010,
	R_DEV_FEATURES_SEL = 0x014,
	R_INT_STATUS = 0x060,
	R_INT_ACK = 0x064,
	R_STATUS = 0x070,
	R_CONFIG_GEN = 0x0fc,
	R_CONFIG = 0x100,
};

#define QNUM	 256
#define RAM	 (8u << 20)
#define HEAP	 0x100000u
#define HDR	 VIRTIO_NET_HDR_SIZE
#define ALL_FEAT (~0ULL)
#define MAXQ	 512
#define BIT(x)	 (1ULL << (x))

/* ---- the fake backend: in-memory queues ---- */

struct frame {
	uint8_t *p;
	size_t len;
};

struct fake_be {
	bool vnet;
	struct frame in[MAXQ]; /* waiting for recv (with the vnet header when vnet) */
	unsigned in_head, in_tail;
	struct frame out[MAXQ]; /* what send got, header included when vnet */
	unsigned nout;
	unsigned recv_calls, send_calls, offload_calls;
	size_t last_recv_total;
	int recv_fail, send_fail; /* the next N calls fail with -EIO */
	int send_block;		  /* the next N sends would block */
	uint64_t offloads;
	bool hdr_in_guest; /* send saw a header pointing into guest RAM */
	const struct gmem *m;
};

static size_t iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

static ssize_t fake_send(void *opaque, const struct iovec *iov, int n)
{
	struct fake_be *b = opaque;
	size_t t = iov_total(iov, n), off = 0;
	uint8_t *p;

	b->send_calls++;
	if (b->send_block > 0) {
		b->send_block--;
		return 0;
	}
	if (b->send_fail > 0) {
		b->send_fail--;
		return -EIO;
	}
	if (b->vnet && (uint8_t *)iov[0].iov_base >= b->m->map &&
	    (uint8_t *)iov[0].iov_base < b->m->map + b->m->map_len)
		b->hdr_in_guest = true;
	p = malloc(t ? t : 1);
	assert_non_null(p);
	for (int i = 0; i < n; i++) {
		memcpy(p + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	assert_true(b->nout < MAXQ);
	b->out[b->nout++] = (struct frame){p, t};
	return (ssize_t)t;
}

/* Like tun: copies what fits, returns the whole frame's length. */
static ssize_t fake_recv(void *opaque, const struct iovec *iov, int n)
{
	struct fake_be *b = opaque;
	struct frame *f;
	size_t off = 0;

	b->recv_calls++;
	b->last_recv_total = iov_total(iov, n);
	if (b->recv_fail > 0) {
		b->recv_fail--;
		return -EIO;
	}
	if (b->in_head == b->in_tail)
		return 0;
	f = &b->in[b->in_head++ % MAXQ];
	for (int i = 0; i < n && off < f->len; i++) {
		size_t k = f->len - off < iov[i].iov_len ? f->len - off : iov[i].iov_len;

		memcpy(iov[i].iov_base, f->p + off, k);
		off += k;
	}
	free(f->p);
	return (ssize_t)f->len;
}

static int fake_offloads(void *opaque, uint64_t features)
{
	struct fake_be *b = opaque;

	b->offload_calls++;
	b->offloads = features;
	return 0;
}

static const struct net_backend_ops fake_ops = {.send = fake_send, .recv = fake_recv, .set_offloads = fake_offloads};

static uint8_t pat(unsigned seed, size_t i)
{
	return (uint8_t)(seed * 31 + i * 7 + i / 251);
}

/* Queue a frame of `len` Ethernet bytes for recv; with vnet, behind `hdr` (NULL: zeros). */
static void be_queue(struct fake_be *b, const uint8_t *hdr, size_t len, unsigned seed)
{
	size_t h = b->vnet ? HDR : 0;
	uint8_t *p = calloc(1, h + len + 1);

	assert_non_null(p);
	if (h && hdr)
		memcpy(p, hdr, HDR);
	for (size_t i = 0; i < len; i++)
		p[h + i] = pat(seed, i);
	assert_true(b->in_tail - b->in_head < MAXQ);
	b->in[b->in_tail++ % MAXQ] = (struct frame){p, h + len};
}

static unsigned be_waiting(const struct fake_be *b)
{
	return b->in_tail - b->in_head;
}

/* ---- fixture ---- */

struct rxb {
	uint64_t gpa;
	uint32_t len;
};

struct fx {
	struct gmem m;
	uint64_t heap;
	struct fake_be be;
	struct virtio_net n;
	bool up;
	struct irq_line irq;
	struct vqh rx, tx;
	struct rxb rxb[QNUM]; /* single-buffer RX chains by head */
	uint32_t poll;	      /* last set_poll */
	unsigned poll_calls, downs;
};

static void hook_poll(void *opaque, uint32_t ev)
{
	struct fx *f = opaque;

	f->poll = ev;
	f->poll_calls++;
}

static void hook_down(void *opaque)
{
	struct fx *f = opaque;

	f->downs++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || gmem_init(&f->m, RAM) < 0)
		return -1;
	f->heap = HEAP;
	f->be.m = &f->m;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->up)
		virtio_net_close(&f->n);
	while (f->be.in_head != f->be.in_tail)
		free(f->be.in[f->be.in_head++ % MAXQ].p);
	for (unsigned i = 0; i < f->be.nout; i++)
		free(f->be.out[i].p);
	gmem_destroy(&f->m);
	free(f);
	return 0;
}

static void *g(struct fx *f, uint64_t gpa, uint64_t len)
{
	void *p = gmem_ptr(&f->m, gpa, len);

	assert_non_null(p);
	return p;
}

static uint64_t galloc(struct fx *f, uint64_t len)
{
	uint64_t gpa = f->heap;

	f->heap = (f->heap + len + 15) & ~15ULL;
	assert_true(f->heap <= RAM);
	memset(g(f, gpa, len ? len : 1), 0, len);
	return gpa;
}

static uint32_t rd32(struct fx *f, uint64_t off)
{
	return vqh_rd32(&f->n.t, off);
}

static uint64_t offered(struct fx *f)
{
	vqh_wr32(&f->n.t, R_DEV_FEATURES_SEL, 0);
	uint64_t lo = rd32(f, R_DEV_FEATURES);
	vqh_wr32(&f->n.t, R_DEV_FEATURES_SEL, 1);
	return lo | (uint64_t)rd32(f, R_DEV_FEATURES) << 32;
}

/* Create the device over the fake backend (vnet header or not, offering `offer`). */
static void net_make(struct fx *f, bool vnet, uint64_t offer)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	struct net_backend be = {.ops = &fake_ops, .be = &f->be, .fd = -1, .vnet_hdr = vnet, .offer = offer};
	struct virtio_net_hooks hooks = {.set_poll = hook_poll, .backend_down = hook_down, .opaque = f};

	f->be.vnet = vnet;
	assert_int_equal(virtio_net_init(&f->n, &be, mac, &hooks), 0);
	irq_line_init(&f->irq, 5, -1);
	virtio_net_attach(&f->n, &f->irq, &f->m);
	f->up = true;
}

/* Driver initialisation with offered & mask, both queues; the RX used ring at rx_used (0: right after avail). */
static void drv_init_at(struct fx *f, uint64_t mask, uint64_t rx_used)
{
	uint64_t feat = offered(f) & mask & ~BIT(VIRTIO_F_VERSION_1);

	if (rx_used)
		assert_int_equal(vqh_place(&f->rx, &f->m, QNUM, 0x10000, 0x11000, rx_used), 0);
	else
		assert_int_equal(vqh_init(&f->rx, &f->m, QNUM, 0x10000), 0);
	assert_int_equal(vqh_init(&f->tx, &f->m, QNUM, 0x20000), 0);
	assert_int_equal(vqh_mmio_negotiate(&f->n.t, feat), 0);
	vqh_mmio_queue(&f->n.t, VIRTIO_NET_RXQ, &f->rx);
	vqh_mmio_queue(&f->n.t, VIRTIO_NET_TXQ, &f->tx);
	assert_int_equal(vqh_mmio_driver_ok(&f->n.t) & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET),
			 VIRTIO_STATUS_DRIVER_OK);
}

static void drv_init(struct fx *f, uint64_t mask)
{
	drv_init_at(f, mask, 0);
}

static void net_up(struct fx *f, bool vnet, uint64_t offer, uint64_t mask)
{
	net_make(f, vnet, offer);
	drv_init(f, mask);
}

static bool has(struct fx *f, unsigned bit)
{
	return f->n.t.features & BIT(bit);
}

/* ---- TX side ---- */

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

static uint16_t post(struct fx *f, struct vqh *h, const struct seg *s, unsigned n, bool indirect)
{
	struct vqh_seg v[16];
	int head;

	assert_true(n <= 16);
	for (unsigned i = 0; i < n; i++)
		v[i] = (struct vqh_seg){s[i].gpa, s[i].len, s[i].w ? VQH_W : 0};
	head = indirect ? vqh_indirect(h, galloc(f, 16ULL * n), v, n) : vqh_chain(h, v, n);
	assert_true(head >= 0);
	vqh_post(h, (uint16_t)head);
	return (uint16_t)head;
}

/* A header + frame buffer in guest memory: header fields, then `len` pattern bytes. */
static uint64_t mkframe(struct fx *f, const uint8_t *hdr, uint32_t len, unsigned seed)
{
	uint64_t gpa = galloc(f, HDR + len);
	uint8_t *p = g(f, gpa, HDR + len);

	if (hdr)
		memcpy(p, hdr, HDR);
	for (uint32_t i = 0; i < len; i++)
		p[HDR + i] = pat(seed, i);
	return gpa;
}

static void set_hdr(uint8_t *h, uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size, uint16_t cs,
		    uint16_t co)
{
	memset(h, 0, HDR);
	h[0] = flags;
	h[1] = gso;
	memcpy(h + 2, &hdr_len, 2);
	memcpy(h + 4, &gso_size, 2);
	memcpy(h + 6, &cs, 2);
	memcpy(h + 8, &co, 2);
}

static void kick_tx(struct fx *f)
{
	vqh_mmio_notify(&f->n.t, VIRTIO_NET_TXQ);
}

static void kick_rx(struct fx *f)
{
	vqh_mmio_notify(&f->n.t, VIRTIO_NET_RXQ);
}

/* Post one TX chain, kick, and expect exactly it back with used.len 0. */
static void tx_chain(struct fx *f, const struct seg *s, unsigned n, bool indirect)
{
	uint16_t head = post(f, &f->tx, s, n, indirect);
	uint32_t id, len;

	kick_tx(f);
	assert_int_equal(vqh_get_used(&f->tx, &id, &len), 1);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(vqh_get_used(&f->tx, &id, &len), 0);
}

/* Send one frame (header and data in one buffer); returns whether the backend got it. */
static bool tx_one(struct fx *f, const uint8_t *hdr, uint32_t len, unsigned seed)
{
	unsigned before = f->be.nout;
	struct seg s = {mkframe(f, hdr, len, seed), HDR + len, false};

	tx_chain(f, &s, 1, false);
	return f->be.nout == before + 1;
}

static void check_sent(struct fx *f, unsigned i, const uint8_t *hdr, uint32_t len, unsigned seed)
{
	struct frame *o = &f->be.out[i];
	size_t h = f->be.vnet ? HDR : 0;

	assert_true(i < f->be.nout);
	assert_int_equal(o->len, h + len);
	if (h) {
		uint8_t z[HDR] = {0};

		assert_memory_equal(o->p, hdr ? hdr : z, HDR - 2);
	}
	for (uint32_t k = 0; k < len; k++)
		assert_int_equal(o->p[h + k], pat(seed, k));
}

/* ---- RX side ---- */

/* Post a single-buffer writable RX chain of `len` bytes. */
static uint16_t rx_post(struct fx *f, uint32_t len)
{
	uint64_t gpa = galloc(f, len);
	struct seg s = {gpa, len, true};
	uint16_t head;

	memset(g(f, gpa, len), 0xee, len);
	head = post(f, &f->rx, &s, 1, false);
	f->rxb[head] = (struct rxb){gpa, len};
	return head;
}

static void backend_in(struct fx *f)
{
	virtio_net_on_backend(&f->n, EPOLLIN);
}

static uint16_t hdr16(const uint8_t *h, unsigned off)
{
	uint16_t v;

	memcpy(&v, h + off, 2);
	return v;
}

/* Take the next frame off the used ring (single-buffer chains posted by rx_post): checks num_buffers, that all
 * buffers but the last are full, and the pattern. Returns the frame's length (header excluded), copies the header
 * to hdr_out if given. */
static uint32_t rx_take(struct fx *f, unsigned seed, uint8_t *hdr_out)
{
	uint8_t *buf = malloc(VIRTIO_NET_MAX_TOTAL + 64);
	uint32_t id, len, total = 0, nb;

	assert_non_null(buf);
	assert_int_equal(vqh_get_used(&f->rx, &id, &len), 1);
	assert_true(id < QNUM && len >= HDR && len <= f->rxb[id].len);
	memcpy(buf, g(f, f->rxb[id].gpa, len), len);
	total = len;
	nb = hdr16(buf, 10);
	assert_true(nb >= 1);
	if (!has(f, VIRTIO_NET_F_MRG_RXBUF))
		assert_int_equal(nb, 1);
	for (uint32_t i = 1; i < nb; i++) {
		assert_int_equal(len, f->rxb[id].len); /* the previous one was filled */
		assert_int_equal(vqh_get_used(&f->rx, &id, &len), 1);
		assert_true(id < QNUM && len <= f->rxb[id].len && len > 0);
		assert_true(total + len <= VIRTIO_NET_MAX_TOTAL);
		memcpy(buf + total, g(f, f->rxb[id].gpa, len), len);
		total += len;
	}
	for (uint32_t i = HDR; i < total; i++)
		assert_int_equal(buf[i], pat(seed, i - HDR));
	if (hdr_out)
		memcpy(hdr_out, buf, HDR);
	free(buf);
	return total - HDR;
}

static bool used_none(struct vqh *h)
{
	return vqh_used_idx(h) == h->used_seen;
}

/* ---- tests ---- */

static void test_features_config(void **state)
{
	struct fx *f = *state;
	uint8_t b[8];
	uint64_t feat;
	uint16_t st;

	net_make(f, false, VIRTIO_NET_OFFLOADS);
	assert_int_equal(rd32(f, R_DEVICE_ID), VIRTIO_ID_NET);
	feat = offered(f);
	assert_true(feat & BIT(VIRTIO_NET_F_MAC));
	assert_true(feat & BIT(VIRTIO_NET_F_STATUS));
	assert_true(feat & BIT(VIRTIO_NET_F_MRG_RXBUF));
	assert_true(feat & BIT(VIRTIO_RING_F_EVENT_IDX));
	assert_true(feat & BIT(VIRTIO_RING_F_INDIRECT_DESC));
	assert_true(feat & BIT(VIRTIO_F_VERSION_1));
	assert_int_equal(feat & VIRTIO_NET_OFFLOADS, 0); /* no vnet header: no offloads, whatever it claims */
	assert_int_equal(feat & (BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_MQ)), 0);
	virtio_net_close(&f->n);

	net_make(f, true, VIRTIO_NET_OFFLOADS);
	assert_int_equal(offered(f) & VIRTIO_NET_OFFLOADS, VIRTIO_NET_OFFLOADS);
	virtio_net_close(&f->n);
	/* TSO without its checksum feature is never offered. */
	net_make(f, true, BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_GUEST_CSUM));
	feat = offered(f);
	assert_false(feat & BIT(VIRTIO_NET_F_HOST_TSO4));
	assert_true(feat & BIT(VIRTIO_NET_F_GUEST_TSO6));

	/* Config: mac, status LINK_UP, max_virtqueue_pairs 1, byte by byte and wider. */
	for (unsigned i = 0; i < 6; i++) {
		virtio_mmio_ops.read(&f->n.t, R_CONFIG + i, b, 1);
		assert_int_equal(b[0], ((const uint8_t[]){0x52, 0x54, 0x00, 0x12, 0x34, 0x56})[i]);
	}
	virtio_mmio_ops.read(&f->n.t, R_CONFIG + 6, (uint8_t *)&st, 2);
	assert_int_equal(st, VIRTIO_NET_S_LINK_UP);
	virtio_mmio_ops.read(&f->n.t, R_CONFIG + 8, (uint8_t *)&st, 2);
	assert_int_equal(st, 1);
	virtio_mmio_ops.read(&f->n.t, R_CONFIG + 12, b, 4); /* beyond the config: zeros */
	assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);

	/* N11: writes of every size are ignored; the generation does not move. */
	uint32_t gen = rd32(f, R_CONFIG_GEN);
	memset(b, 0xff, sizeof(b));
	for (unsigned sz = 1; sz <= 8; sz *= 2)
		for (unsigned off = 0; off + sz <= VIRTIO_NET_CFG_SIZE; off += sz)
			virtio_mmio_ops.write(&f->n.t, R_CONFIG + off, b, sz);
	assert_memory_equal(f->n.cfg, ((const uint8_t[]){0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0, 1, 0}), 10);
	virtio_mmio_ops.read(&f->n.t, R_CONFIG, b, 4);
	assert_memory_equal(b, ((const uint8_t[]){0x52, 0x54, 0x00, 0x12}), 4);
	assert_int_equal(rd32(f, R_CONFIG_GEN), gen);
}

static void test_mac_from_seed(void **state)
{
	uint8_t a[6], b[6], c[6];

	(void)state;
	virtio_net_mac_from_seed("vm1/net0", a);
	virtio_net_mac_from_seed("vm1/net0", b);
	virtio_net_mac_from_seed("vm1/net1", c);
	assert_memory_equal(a, b, 6);
	assert_memory_not_equal(a, c, 6);
	assert_int_equal(a[0] & 3, 2); /* locally administered, unicast */
	assert_int_equal(c[0] & 3, 2);
	virtio_net_mac_from_seed("", a);
	assert_int_equal(a[0] & 3, 2);
	virtio_net_mac_from_seed(NULL, b);
	assert_memory_equal(a, b, 6);
}

/* N12: features we did not offer do not latch. */
static void test_n12_unoffered(void **state)
{
	struct fx *f = *state;
	static const uint64_t bad[] = {
	    BIT(VIRTIO_NET_F_MQ),	  BIT(VIRTIO_NET_F_CTRL_VQ),
	    BIT(VIRTIO_NET_F_GUEST_CSUM), BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_CSUM),
	    BIT(VIRTIO_NET_F_MTU),	  BIT(VIRTIO_NET_F_GUEST_UFO)};

	net_make(f, false, VIRTIO_NET_OFFLOADS);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vqh_mmio_negotiate(&f->n.t, BIT(VIRTIO_NET_F_MAC) | bad[i]), -1);
	assert_int_equal(vqh_mmio_negotiate(&f->n.t, BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_MRG_RXBUF)), 0);
}

/* A frame each way, vnet header backend and bare backend, direct and indirect chains, split headers. */
static void test_tx_frames(void **state)
{
	struct fx *f = *state;

	for (int vnet = 0; vnet < 2; vnet++) {
		if (f->up)
			virtio_net_close(&f->n);
		f->be.nout = 0;
		net_up(f, vnet, VIRTIO_NET_OFFLOADS, ALL_FEAT);
		uint64_t irq = f->irq.count;
		assert_true(tx_one(f, NULL, 60, 1));
		check_sent(f, 0, NULL, 60, 1);
		assert_true(f->irq.count > irq);
		/* Header split over two buffers, frame over three, through an indirect table. */
		uint64_t fr = mkframe(f, NULL, 1000, 2);
		struct seg s[] = {{fr, 5, false},
				  {fr + 5, 7, false},
				  {fr + 12, 100, false},
				  {fr + 112, 1, false},
				  {fr + 113, 899, false}};
		tx_chain(f, s, 5, true);
		check_sent(f, 1, NULL, 1000, 2);
		tx_chain(f, s, 5, false);
		check_sent(f, 2, NULL, 1000, 2);
		assert_int_equal(f->n.st.tx_frames, 3);
		assert_int_equal(f->n.st.tx_bytes, 2060);
		assert_false(f->be.hdr_in_guest); /* the header sent is the device's checked copy */
		for (unsigned i = 0; i < f->be.nout; i++)
			free(f->be.out[i].p);
	}
	f->be.nout = 0;
}

static void test_rx_frames(void **state)
{
	struct fx *f = *state;
	uint8_t h[HDR];

	for (int vnet = 0; vnet < 2; vnet++) {
		for (int mrg = 0; mrg < 2; mrg++) {
			if (f->up)
				virtio_net_close(&f->n);
			net_up(f, vnet, 0, mrg ? ALL_FEAT : ~BIT(VIRTIO_NET_F_MRG_RXBUF));
			assert_int_equal(f->poll, EPOLLIN); /* DRIVER_OK: look at the backend */
			rx_post(f, 1526);
			be_queue(&f->be, NULL, 60, 3);
			uint64_t irq = f->irq.count;
			backend_in(f);
			assert_int_equal(rx_take(f, 3, h), 60);
			assert_int_equal(hdr16(h, 10), 1);
			assert_int_equal(h[0] | h[1], 0);
			assert_true(f->irq.count > irq);
			assert_int_equal(f->be.last_recv_total,
					 vnet ? VIRTIO_NET_MAX_TOTAL + 1 : VIRTIO_NET_MAX_FRAME + 1);
			/* A chain whose header is split over descriptors. */
			uint64_t a = galloc(f, 4), b = galloc(f, 2000);
			struct seg s[] = {{a, 4, true}, {b, 2000, true}};
			uint16_t head = post(f, &f->rx, s, 2, false);
			be_queue(&f->be, NULL, 1500, 4);
			backend_in(f);
			uint32_t id, len;
			assert_int_equal(vqh_get_used(&f->rx, &id, &len), 1);
			assert_int_equal(id, head);
			assert_int_equal(len, HDR + 1500);
			assert_int_equal(hdr16(g(f, b, 8), 6), 1); /* num_buffers at bytes 10-11 of the header */
			for (unsigned i = 0; i < 1500; i++)
				assert_int_equal(*(uint8_t *)g(f, b + 8 + i, 1), pat(4, i));
			assert_int_equal(f->n.st.rx_frames, 2);
			assert_int_equal(f->n.st.rx_bytes, 1560);
		}
	}
}

/* N1: a TX chain over 65562 bytes (header included) is dropped; exactly 65562 goes. */
static void test_n1_tx_too_big(void **state)
{
	struct fx *f = *state;

	net_up(f, true, 0, ALL_FEAT);
	uint64_t fr = mkframe(f, NULL, VIRTIO_NET_MAX_FRAME + 1, 5);
	struct seg s[] = {{fr, 40000, false}, {fr + 40000, VIRTIO_NET_MAX_TOTAL + 1 - 40000, false}};
	tx_chain(f, s, 2, false);
	assert_int_equal(f->be.nout, 0);
	assert_int_equal(f->n.st.tx_malformed, 1);
	s[1].len--;
	tx_chain(f, s, 2, false);
	check_sent(f, 0, NULL, VIRTIO_NET_MAX_FRAME, 5);
	/* Many small buffers adding up past the limit. */
	struct seg m[16];
	for (unsigned i = 0; i < 16; i++)
		m[i] = (struct seg){fr, 4200, false};
	tx_chain(f, m, 16, true);
	assert_int_equal(f->n.st.tx_malformed, 2);
	assert_int_equal(f->be.nout, 1);
}

/* N2: shorter than the 12-byte header, in one buffer or several. */
static void test_n2_tx_no_header(void **state)
{
	struct fx *f = *state;

	net_up(f, true, 0, ALL_FEAT);
	uint64_t fr = mkframe(f, NULL, 0, 0);
	for (uint32_t len = 1; len < HDR; len++) {
		struct seg s = {fr, len, false};

		tx_chain(f, &s, 1, false);
	}
	struct seg s2[] = {{fr, 6, false}, {fr + 6, 5, false}};
	tx_chain(f, s2, 2, false);
	assert_int_equal(f->n.st.tx_malformed, HDR);
	assert_int_equal(f->be.send_calls, 0);
}

/* N3: device-writable descriptors in a TX chain. */
static void test_n3_tx_writable(void **state)
{
	struct fx *f = *state;

	net_up(f, false, 0, ALL_FEAT);
	uint64_t fr = mkframe(f, NULL, 100, 6);
	uint8_t before[HDR + 100];
	memcpy(before, g(f, fr, sizeof(before)), sizeof(before));
	struct seg a[] = {{fr, HDR + 50, false}, {fr + HDR + 50, 50, true}};
	tx_chain(f, a, 2, false);
	struct seg b[] = {{fr, HDR + 100, true}};
	tx_chain(f, b, 1, false);
	assert_int_equal(f->n.st.tx_malformed, 2);
	assert_int_equal(f->be.send_calls, 0);
	assert_memory_equal(g(f, fr, sizeof(before)), before, sizeof(before)); /* nothing written either */
}

/* N4: empty and short frames after the header are dropped; 14 bytes go. */
static void test_n4_tx_short(void **state)
{
	struct fx *f = *state;

	net_up(f, false, 0, ALL_FEAT);
	assert_false(tx_one(f, NULL, 0, 7));
	assert_false(tx_one(f, NULL, 13, 7));
	assert_int_equal(f->n.st.tx_short, 2);
	assert_true(tx_one(f, NULL, 14, 7));
	check_sent(f, 0, NULL, 14, 7);
}

/* N5: header fields against what was negotiated. */
static void test_n5_tx_header(void **state)
{
	struct fx *f = *state;
	uint8_t h[HDR];

	/* No offloads negotiated (the backend offers them): flags and gso must be zero. */
	net_up(f, true, VIRTIO_NET_OFFLOADS, ~VIRTIO_NET_OFFLOADS);
	set_hdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 14, 2);
	assert_false(tx_one(f, h, 100, 8));
	set_hdr(h, 0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 0, 0);
	assert_false(tx_one(f, h, 100, 8));
	set_hdr(h, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	assert_false(tx_one(f, h, 100, 8));
	set_hdr(h, 0, 0, 0, 0, 0xffff, 0xffff); /* csum fields unused without NEEDS_CSUM */
	assert_true(tx_one(f, h, 100, 8));
	assert_int_equal(f->n.st.tx_bad_hdr, 3);
	virtio_net_close(&f->n);

	/* CSUM and HOST_TSO4 negotiated, HOST_TSO6 not. */
	net_up(f, true, VIRTIO_NET_OFFLOADS, ~BIT(VIRTIO_NET_F_HOST_TSO6));
	static const struct {
		uint8_t flags, gso;
		uint16_t hdr_len, gso_size, cs, co;
		bool ok;
	} c[] = {
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16, true},			      /* inside */
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 82, 16, true},			      /* ends at len */
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 83, 16, false},			      /* one past */
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 0xffff, 0xffff, false},		      /* wraps in u16 */
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM | 4, 0, 0, 0, 34, 16, false},			      /* RSC_INFO */
	    {0x80, 0, 0, 0, 0, 0, false},						      /* unknown */
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, true},  /* TSO4 */
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 0, 34, 16, false},    /* gso_size 0 */
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 74, 1428, 54, 16, false}, /* not acked */
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 54, 1448, 34, 16, false},
	    {0, 3, 42, 1472, 0, 0, false},						       /* UDP (UFO) */
	    {0, 5, 42, 1472, 0, 0, false},						       /* UDP_L4 */
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 101, 1448, 34, 16, false}, /* hdr_len > len */
	};
	unsigned sent = f->be.nout, bad = 0;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		set_hdr(h, c[i].flags, c[i].gso, c[i].hdr_len, c[i].gso_size, c[i].cs, c[i].co);
		assert_int_equal(tx_one(f, h, 100, 9), c[i].ok);
		if (c[i].ok)
			check_sent(f, sent++, h, 100, 9);
		else
			bad++;
	}
	assert_int_equal(f->n.st.tx_bad_hdr, bad);
	assert_false(f->be.hdr_in_guest);
}

/* N6: RX chains with readable buffers or shorter than the header go back unused; a frame larger than the chain
 * (no MRG_RXBUF) is dropped, never truncated, and the chain serves the next frame. */
static void test_n6_rx_chains(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	net_up(f, false, 0, ~BIT(VIRTIO_NET_F_MRG_RXBUF));
	uint64_t a = galloc(f, 2000);
	struct seg ro[] = {{a, 12, false}, {a + 12, 1500, true}};
	uint16_t h1 = post(f, &f->rx, ro, 2, false);
	struct seg tiny[] = {{a + 1600, 11, true}};
	uint16_t h2 = post(f, &f->rx, tiny, 1, false);
	struct seg tiny2[] = {{a + 1700, 6, true}, {a + 1706, 5, true}};
	uint16_t h3 = post(f, &f->rx, tiny2, 2, true);
	uint16_t good = rx_post(f, HDR + 100);
	be_queue(&f->be, NULL, 101, 10); /* one byte too many */
	be_queue(&f->be, NULL, 100, 11);
	backend_in(f);
	uint16_t exp[] = {h1, h2, h3};
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(vqh_get_used(&f->rx, &id, &len), 1);
		assert_int_equal(id, exp[i]);
		assert_int_equal(len, 0);
	}
	assert_int_equal(f->n.st.rx_malformed, 3);
	assert_int_equal(f->n.st.rx_too_big, 1);
	assert_int_equal(vqh_get_used(&f->rx, &id, &len), 1);
	assert_int_equal(id, good);
	assert_int_equal(len, HDR + 100);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(*(uint8_t *)g(f, f->rxb[good].gpa + HDR + i, 1), pat(11, i));
	assert_true(used_none(&f->rx));
}

/* N7: 64 KiB frames against MTU-sized buffers: dropped and counted without MRG_RXBUF; spread over buffers with. */
static void test_n7_rx_big_frame(void **state)
{
	struct fx *f = *state;
	uint8_t h[HDR];

	net_up(f, true, 0, ~BIT(VIRTIO_NET_F_MRG_RXBUF));
	for (unsigned i = 0; i < 8; i++)
		rx_post(f, 1526);
	be_queue(&f->be, NULL, 65536, 12);
	be_queue(&f->be, NULL, VIRTIO_NET_MAX_FRAME + 1, 12); /* larger than any frame may be */
	be_queue(&f->be, NULL, 1514, 13);
	backend_in(f);
	assert_int_equal(f->n.st.rx_too_big, 2);
	assert_int_equal(rx_take(f, 13, NULL), 1514);
	assert_true(used_none(&f->rx));
	virtio_net_close(&f->n);

	net_up(f, true, 0, ALL_FEAT);
	for (unsigned i = 0; i < 60; i++)
		rx_post(f, 1536);
	be_queue(&f->be, NULL, VIRTIO_NET_MAX_FRAME, 14);
	be_queue(&f->be, NULL, VIRTIO_NET_MAX_FRAME + 1, 14);
	be_queue(&f->be, NULL, 1000, 15);
	backend_in(f);
	assert_int_equal(rx_take(f, 14, h), VIRTIO_NET_MAX_FRAME);
	assert_int_equal(hdr16(h, 10), (VIRTIO_NET_MAX_TOTAL + 1535) / 1536);
	assert_int_equal(rx_take(f, 15, NULL), 1000);
	assert_int_equal(f->n.st.rx_too_big, 1);
	assert_true(used_none(&f->rx));
}

/* MRG_RXBUF: one frame over several buffers, num_buffers right, all but the last full; the next frame starts in
 * the next buffer. Mixed buffer sizes. */
static void test_mrg_rxbuf(void **state)
{
	struct fx *f = *state;
	uint8_t h[HDR];
	uint32_t id, len;

	net_up(f, false, 0, ALL_FEAT);
	uint16_t b[5];
	uint32_t sz[5] = {1500, 700, 1500, 3000, 64};
	for (unsigned i = 0; i < 5; i++)
		b[i] = rx_post(f, sz[i]);
	be_queue(&f->be, NULL, 4000, 16); /* 4012 bytes: 1500 + 700 + 1500 + 312 */
	be_queue(&f->be, NULL, 100, 17);  /* the rest of the 3000-byte buffer is not used: the 64-byte one is */
	backend_in(f);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(vqh_get_used(&f->rx, &id, &len), 1);
		assert_int_equal(id, b[i]);
		assert_int_equal(len, i < 3 ? sz[i] : 312);
	}
	assert_int_equal(hdr16(g(f, f->rxb[b[0]].gpa, HDR), 10), 4);
	f->rx.used_seen -= 4;
	assert_int_equal(rx_take(f, 16, h), 4000);
	assert_int_equal(hdr16(h, 10), 4);
	/* 100 + 12 does not fit the 64-byte buffer: it spans nothing else, so it waits for one more buffer. */
	assert_true(used_none(&f->rx));
	assert_int_equal(f->poll, 0);
	rx_post(f, 1000);
	kick_rx(f);
	assert_int_equal(rx_take(f, 17, h), 100);
	assert_int_equal(hdr16(h, 10), 2);
}

/* MRG_RXBUF with tiny buffers: a frame that needs more chains than the device can hold at once is dropped (not
 * waited for: no buffer could ever come), and the chains serve the next frames. */
static void test_mrg_exhausted(void **state)
{
	struct fx *f = *state;
	uint8_t h[HDR];

	net_up(f, false, 0, ALL_FEAT);
	for (unsigned i = 0; i < QNUM; i++)
		rx_post(f, HDR);
	be_queue(&f->be, NULL, 4000, 41); /* 4012 bytes: 335 chains of 12 */
	be_queue(&f->be, NULL, 100, 42);  /* 112 bytes: 10 chains */
	backend_in(f);
	assert_int_equal(f->n.st.rx_too_big, 1);
	assert_int_equal(rx_take(f, 42, h), 100);
	assert_int_equal(hdr16(h, 10), 10);
	assert_true(used_none(&f->rx));
	assert_int_equal(f->poll, EPOLLIN); /* it still holds 246 chains */
}

/* N8: with MRG_RXBUF, a frame larger than the buffers posted waits for more, then completes; num_buffers is
 * right and no buffer is written after it was returned. */
static void test_n8_mrg_pending(void **state)
{
	struct fx *f = *state;
	uint8_t h[HDR];

	net_up(f, true, 0, ALL_FEAT);
	rx_post(f, 1000);
	be_queue(&f->be, NULL, 500, 18);
	backend_in(f);
	assert_int_equal(rx_take(f, 18, NULL), 500);
	/* The driver reuses the returned buffer's memory: the device must not touch it again. */
	uint32_t id, len;
	vqh_used_elem(&f->rx, (uint16_t)(f->rx.used_seen - 1), &id, &len);
	memset(g(f, f->rxb[id].gpa, 1000), 0xa5, 1000);

	rx_post(f, 1500);
	rx_post(f, 1500);
	be_queue(&f->be, NULL, 4000, 19);
	be_queue(&f->be, NULL, 200, 20);
	backend_in(f);
	assert_true(used_none(&f->rx)); /* 4012 > 3000: waiting, nothing returned */
	assert_int_equal(f->poll, 0);	/* and not reading on */
	assert_int_equal(be_waiting(&f->be), 1);
	rx_post(f, 600);
	kick_rx(f);
	assert_true(used_none(&f->rx)); /* 3600: still short */
	rx_post(f, 2000);
	kick_rx(f);
	assert_int_equal(rx_take(f, 19, h), 4000);
	assert_int_equal(hdr16(h, 10), 4);
	assert_true(used_none(&f->rx)); /* the rest of the 2000-byte buffer is not reused: the next frame waits */
	rx_post(f, 300);
	kick_rx(f);
	assert_int_equal(rx_take(f, 20, NULL), 200);
	for (unsigned i = 0; i < 1000; i++)
		assert_int_equal(*(uint8_t *)g(f, f->rxb[id].gpa + i, 1), 0xa5);
}

/* N8, the order itself: the page of the RX used ring is read-only while the device runs; its first store there
 * (the first used entry of the frame) faults, and the handler snapshots the frame's header before letting the
 * store through. num_buffers must already be in it. */
static struct {
	uint8_t *page, *hdr;
	uint8_t snap[HDR];
	unsigned faults;
} n8;

static void n8_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if ((uint8_t *)si->si_addr < n8.page || (uint8_t *)si->si_addr >= n8.page + 4096) {
		signal(sig, SIG_DFL); /* a real crash: fault again and die */
		return;
	}
	memcpy(n8.snap, n8.hdr, HDR);
	n8.faults++;
	mprotect(n8.page, 4096, PROT_READ | PROT_WRITE);
}

static void n8_arm(struct fx *f, uint16_t first_head)
{
	n8.page = g(f, 0x30000, 4096);
	n8.hdr = g(f, f->rxb[first_head].gpa, HDR);
	memset(n8.snap, 0, HDR);
	n8.faults = 0;
	assert_int_equal(mprotect(n8.page, 4096, PROT_READ), 0);
}

static void test_n8_order(void **state)
{
	struct fx *f = *state;
	struct sigaction sa = {.sa_sigaction = n8_segv, .sa_flags = SA_SIGINFO}, old;
	uint16_t first;

	assert_int_equal(sigaction(SIGSEGV, &sa, &old), 0);
	for (int vnet = 0; vnet < 2; vnet++) {
		if (f->up)
			virtio_net_close(&f->n);
		net_make(f, vnet, 0);
		drv_init_at(f, ALL_FEAT, 0x30000);
		/* A frame over three buffers, all posted. */
		first = rx_post(f, 1000);
		rx_post(f, 1000);
		rx_post(f, 1000);
		be_queue(&f->be, NULL, 2500, 39);
		n8_arm(f, first);
		backend_in(f);
		mprotect(n8.page, 4096, PROT_READ | PROT_WRITE);
		assert_int_equal(n8.faults, 1);
		assert_int_equal(hdr16(n8.snap, 10), 3);
		assert_int_equal(rx_take(f, 39, NULL), 2500);
		/* A frame that waited for buffers (MRG pending), completed by a kick. */
		first = rx_post(f, 1000);
		be_queue(&f->be, NULL, 1500, 40);
		backend_in(f);
		assert_true(used_none(&f->rx));
		rx_post(f, 1000);
		n8_arm(f, first);
		kick_rx(f);
		mprotect(n8.page, 4096, PROT_READ | PROT_WRITE);
		assert_int_equal(n8.faults, 1);
		assert_int_equal(hdr16(n8.snap, 10), 2);
		assert_int_equal(rx_take(f, 40, NULL), 1500);
	}
	sigaction(SIGSEGV, &old, NULL);
}

/* N9: no RX buffers while the backend has frames: polling stops, nothing is read; a kick resumes. */
static void test_n9_no_buffers(void **state)
{
	struct fx *f = *state;

	net_up(f, false, 0, ~BIT(VIRTIO_NET_F_MRG_RXBUF));
	for (unsigned i = 0; i < 300; i++)
		be_queue(&f->be, NULL, 60, i);
	assert_int_equal(f->poll, EPOLLIN);
	backend_in(f);
	assert_int_equal(f->poll, 0);
	assert_int_equal(f->be.recv_calls, 0);
	assert_int_equal(f->n.st.rx_stalls, 1);
	assert_int_equal(vqh_avail_event(&f->rx), f->rx.avail_idx); /* EVENT_IDX: kick me on the next buffer */
	kick_rx(f);						    /* a kick with nothing new: still stopped */
	assert_int_equal(f->poll, 0);
	for (unsigned i = 0; i < 4; i++)
		rx_post(f, 1526);
	kick_rx(f);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(rx_take(f, i, NULL), 60);
	assert_int_equal(f->be.recv_calls, 4);
	assert_int_equal(f->poll, 0);
	/* Plenty of buffers: one call takes a batch and leaves EPOLLIN on for the rest. */
	for (unsigned i = 0; i < 200; i++)
		rx_post(f, 1526);
	kick_rx(f);
	assert_int_equal(f->be.recv_calls, 4 + VIRTIO_NET_BATCH);
	assert_int_equal(f->poll, EPOLLIN);
	uint64_t irq = f->irq.count;
	vqh_set_used_event(&f->rx, vqh_used_idx(&f->rx)); /* interrupt me on the next used buffer */
	vqh_wr32(&f->n.t, R_INT_ACK, rd32(f, R_INT_STATUS));
	backend_in(f);
	assert_int_equal(f->be.recv_calls, 4 + 2 * VIRTIO_NET_BATCH);
	assert_int_equal(f->irq.count, irq + 1); /* one interrupt per batch */
	backend_in(f);
	assert_int_equal(f->n.st.rx_frames, 4 + 3 * VIRTIO_NET_BATCH);
	assert_int_equal(f->poll, EPOLLIN);
	backend_in(f);
	assert_int_equal(f->n.st.rx_frames, 204);
	assert_int_equal(f->poll, 0); /* out of buffers again */
	for (unsigned i = 4; i < 204; i++)
		assert_int_equal(rx_take(f, i, NULL), 60);
}

/* N10: backend errors: counted, the guest carries on; persistent failure or a hang-up takes the link down. */
static void test_n10_backend_errors(void **state)
{
	struct fx *f = *state;
	uint16_t st;

	net_up(f, false, 0, ALL_FEAT);
	f->be.send_fail = 1;
	assert_false(tx_one(f, NULL, 60, 21));
	assert_int_equal(f->n.st.tx_errors, 1);
	assert_true(tx_one(f, NULL, 60, 21));
	rx_post(f, 1526);
	f->be.recv_fail = 3;
	be_queue(&f->be, NULL, 60, 22);
	backend_in(f);
	backend_in(f);
	backend_in(f);
	assert_int_equal(f->n.st.rx_errors, 3);
	assert_int_equal(f->poll, EPOLLIN);
	backend_in(f);
	assert_int_equal(rx_take(f, 22, NULL), 60);
	/* A backend that keeps failing (the TAP link was deleted). */
	f->be.recv_fail = 1000;
	rx_post(f, 1526);
	uint32_t gen = rd32(f, R_CONFIG_GEN);
	vqh_wr32(&f->n.t, R_INT_ACK, rd32(f, R_INT_STATUS));
	for (unsigned i = 0; i < 2 * VIRTIO_NET_RX_ERR_LIMIT && !f->downs; i++)
		backend_in(f);
	assert_int_equal(f->downs, 1);
	assert_true(f->n.st.backend_down);
	assert_int_equal(f->n.st.rx_errors, 3 + VIRTIO_NET_RX_ERR_LIMIT);
	assert_int_equal(f->poll, 0);
	virtio_mmio_ops.read(&f->n.t, R_CONFIG + 6, (uint8_t *)&st, 2);
	assert_int_equal(st, 0); /* link down */
	assert_true(rd32(f, R_CONFIG_GEN) != gen);
	assert_true(rd32(f, R_INT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_false(rd32(f, R_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	unsigned sends = f->be.send_calls;
	assert_false(tx_one(f, NULL, 60, 23)); /* dropped, counted, returned */
	assert_int_equal(f->be.send_calls, sends);
	assert_int_equal(f->n.st.tx_errors, 2);
	backend_in(f);
	assert_int_equal(f->be.recv_calls, 4 + VIRTIO_NET_RX_ERR_LIMIT);
	virtio_net_close(&f->n);

	/* EPOLLHUP (a passt that went away), with a frame waiting for EPOLLOUT: it is released. */
	f->downs = 0;
	net_up(f, false, 0, ALL_FEAT);
	f->be.send_block = 100;
	struct seg s = {mkframe(f, NULL, 60, 24), HDR + 60, false};
	post(f, &f->tx, &s, 1, false);
	kick_tx(f);
	assert_true(used_none(&f->tx));
	assert_int_equal(f->poll, EPOLLIN | EPOLLOUT);
	virtio_net_on_backend(&f->n, EPOLLHUP);
	assert_int_equal(f->downs, 1);
	assert_int_equal(f->poll, 0);
	assert_false(used_none(&f->tx));
	assert_int_equal(f->n.st.tx_errors, 1);
}

/* EAGAIN on TX: the chain is kept (not lost, not returned), EPOLLOUT requested, order kept; writable retries. */
static void test_tx_eagain(void **state)
{
	struct fx *f = *state;

	net_up(f, true, 0, ALL_FEAT);
	f->be.send_block = 2;
	struct seg a = {mkframe(f, NULL, 80, 25), HDR + 80, false};
	struct seg b = {mkframe(f, NULL, 90, 26), HDR + 90, false};
	uint16_t ha = post(f, &f->tx, &a, 1, false);
	kick_tx(f);
	assert_true(used_none(&f->tx));
	assert_int_equal(f->poll, EPOLLIN | EPOLLOUT);
	assert_int_equal(f->n.st.tx_eagain, 1);
	uint16_t hb = post(f, &f->tx, &b, 1, false);
	kick_tx(f); /* retries the first one only */
	assert_int_equal(f->be.send_calls, 2);
	assert_true(used_none(&f->tx));
	assert_int_equal(f->be.nout, 0);
	virtio_net_on_backend(&f->n, EPOLLOUT);
	assert_int_equal(f->poll, EPOLLIN);
	assert_int_equal(f->be.nout, 2);
	check_sent(f, 0, NULL, 80, 25);
	check_sent(f, 1, NULL, 90, 26);
	uint32_t id, len;
	assert_int_equal(vqh_get_used(&f->tx, &id, &len), 1);
	assert_int_equal(id, ha);
	assert_int_equal(vqh_get_used(&f->tx, &id, &len), 1);
	assert_int_equal(id, hb);
	assert_int_equal(f->n.st.tx_frames, 2);
	/* A reset forgets a held frame. */
	f->be.send_block = 1;
	post(f, &f->tx, &a, 1, false);
	kick_tx(f);
	assert_int_equal(f->poll, EPOLLIN | EPOLLOUT);
	vqh_wr32(&f->n.t, R_STATUS, 0);
	assert_int_equal(f->poll, 0);
	assert_false(f->n.tx.held);
}

/* Offloads: set_offloads gets what the driver negotiated; RX headers are held to it. */
static void test_offloads(void **state)
{
	struct fx *f = *state;
	uint8_t h[HDR], out[HDR];

	net_up(f, true, VIRTIO_NET_OFFLOADS, ~(BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_HOST_TSO6)));
	assert_int_equal(f->be.offload_calls, 1);
	assert_true(f->be.offloads & BIT(VIRTIO_NET_F_GUEST_CSUM));
	assert_true(f->be.offloads & BIT(VIRTIO_NET_F_GUEST_TSO4));
	assert_false(f->be.offloads & BIT(VIRTIO_NET_F_GUEST_TSO6));
	for (unsigned i = 0; i < 4; i++)
		rx_post(f, 1526);
	set_hdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16);
	be_queue(&f->be, h, 1400, 27);
	set_hdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV6, 74, 1428, 54, 16);
	be_queue(&f->be, h, 1400, 28); /* TSO6 not negotiated: dropped */
	set_hdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 1390, 16);
	be_queue(&f->be, h, 1400, 29); /* checksum field beyond the frame: dropped */
	set_hdr(h, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	be_queue(&f->be, h, 1400, 30);
	backend_in(f);
	assert_int_equal(rx_take(f, 27, out), 1400);
	assert_int_equal(out[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(out[1], VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(hdr16(out, 4), 1448);
	assert_int_equal(rx_take(f, 30, out), 1400);
	assert_int_equal(out[0], VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(f->n.st.rx_bad_hdr, 2);
	/* Renegotiated without offloads: set_offloads again; DATA_VALID cleared, NEEDS_CSUM dropped. */
	drv_init(f, ~VIRTIO_NET_OFFLOADS);
	assert_int_equal(f->be.offload_calls, 2);
	assert_int_equal(f->be.offloads & VIRTIO_NET_OFFLOADS, 0);
	rx_post(f, 1526);
	rx_post(f, 1526);
	set_hdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16);
	be_queue(&f->be, h, 100, 31);
	set_hdr(h, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	be_queue(&f->be, h, 100, 32);
	backend_in(f);
	assert_int_equal(rx_take(f, 32, out), 100);
	assert_int_equal(out[0], 0);
	assert_int_equal(f->n.st.rx_bad_hdr, 3);
}

/* TX batching: with a kick fd, a batch per call and a self-kick; without, a drain with an interrupt per batch. */
static void test_tx_batch(void **state)
{
	struct fx *f = *state;
	enum { N = VIRTIO_NET_BATCH + 20 };
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t cnt;
	uint32_t id, len;
	unsigned got;

	assert_true(efd >= 0);
	net_up(f, false, 0, ALL_FEAT);
	uint64_t fr = mkframe(f, NULL, 60, 33);
	struct seg s = {fr, HDR + 60, false};
	for (int round = 0; round < 2; round++) {
		f->n.tx_kick_fd = round == 0 ? efd : -1;
		for (unsigned i = 0; i < N; i++)
			post(f, &f->tx, &s, 1, true);
		kick_tx(f);
		for (got = 0; vqh_get_used(&f->tx, &id, &len); got++)
			;
		if (round == 0) {
			assert_int_equal(got, VIRTIO_NET_BATCH);
			assert_int_equal(read(efd, &cnt, sizeof(cnt)), sizeof(cnt));
			kick_tx(f);
			for (got = 0; vqh_get_used(&f->tx, &id, &len); got++)
				;
			assert_int_equal(got, N - VIRTIO_NET_BATCH);
			assert_int_equal(read(efd, &cnt, sizeof(cnt)), -1);
		} else {
			assert_int_equal(got, N);
		}
	}
	assert_int_equal(f->be.nout, 2 * N);
	close(efd);
}

/* Ring errors: a broken RX or TX ring sets DEVICE_NEEDS_RESET and is left alone; a bad chain is just dropped;
 * a reset recovers. */
static void test_ring_errors(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	net_up(f, false, 0, ALL_FEAT);
	/* A TX chain with next >= num. */
	struct seg s[] = {{mkframe(f, NULL, 60, 34), HDR, false}, {mkframe(f, NULL, 60, 34) + HDR, 60, false}};
	uint16_t head = post(f, &f->tx, s, 2, false);
	struct virtq_desc *d = g(f, f->tx.desc, QNUM * 16);
	d[head].next = 999;
	kick_tx(f);
	assert_int_equal(vqh_get_used(&f->tx, &id, &len), 1);
	assert_int_equal(f->n.st.tx_malformed, 1);
	/* RX: avail.idx jumps past num. */
	rx_post(f, 1526);
	be_queue(&f->be, NULL, 60, 35);
	vqh_set_avail_idx(&f->rx, (uint16_t)(f->rx.avail_idx + QNUM + 1));
	backend_in(f);
	assert_true(rd32(f, R_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(f->poll, 0);
	assert_int_equal(f->be.recv_calls, 0);
	kick_rx(f);
	backend_in(f);
	assert_int_equal(f->be.recv_calls, 0);
	assert_true(tx_one(f, NULL, 60, 36)); /* TX is its own queue */
	/* TX: a head out of range. */
	vqh_put_avail(&f->tx, f->tx.avail_idx, QNUM + 3);
	vqh_set_avail_idx(&f->tx, (uint16_t)(f->tx.avail_idx + 1));
	kick_tx(f);
	assert_true(used_none(&f->tx));
	drv_init(f, ALL_FEAT);
	memset(f->rxb, 0, sizeof(f->rxb));
	rx_post(f, 1526);
	kick_rx(f);
	backend_in(f);
	assert_int_equal(rx_take(f, 35, NULL), 60);
	assert_true(tx_one(f, NULL, 60, 37));
}

/* Frames arriving before DRIVER_OK, or after a reset, are not read. */
static void test_inactive(void **state)
{
	struct fx *f = *state;

	net_make(f, false, 0);
	be_queue(&f->be, NULL, 60, 38);
	backend_in(f);
	virtio_net_on_backend(&f->n, EPOLLOUT);
	assert_int_equal(f->be.recv_calls, 0);
	assert_int_equal(f->poll, 0);
	drv_init(f, ALL_FEAT);
	rx_post(f, 1526);
	vqh_wr32(&f->n.t, R_STATUS, 0);
	backend_in(f);
	assert_int_equal(f->be.recv_calls, 0);
	drv_init(f, ALL_FEAT);
	memset(f->rxb, 0, sizeof(f->rxb));
	rx_post(f, 1526);
	backend_in(f);
	assert_int_equal(rx_take(f, 38, NULL), 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_features_config, setup, teardown),
	    cmocka_unit_test(test_mac_from_seed),
	    cmocka_unit_test_setup_teardown(test_n12_unoffered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tx_frames, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_frames, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n1_tx_too_big, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n2_tx_no_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n3_tx_writable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n4_tx_short, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n5_tx_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n6_rx_chains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n7_rx_big_frame, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mrg_rxbuf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mrg_exhausted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n8_mrg_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n8_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n9_no_buffers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_n10_backend_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tx_eagain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_offloads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tx_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inactive, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
