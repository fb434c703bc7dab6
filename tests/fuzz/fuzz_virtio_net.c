/* fuzz_virtio_net.c: libFuzzer target: TX chains, RX buffers and backend frames of every shape against virtio-net. */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio_net.h"

/*
 * Input: one byte of options (vnet header, offloads offered, features declined, TX kick fd), then operations until
 * the input runs out: post a TX chain (header fields, frame length, split points, a writable buffer, indirect), post
 * an RX chain (segment sizes, a readable buffer, a zero-length one, indirect), queue a frame in the fake backend
 * (length up to past the maximum, header fields), kick either queue, deliver EPOLLIN/EPOLLOUT/EPOLLHUP, make the
 * backend block or fail, write or read config space, reset, corrupt a descriptor or avail.idx.
 * The harness is a correct driver (a descriptor free list, a buffer region per head), so it can check:
 *  - every frame the backend gets: 14..65550 bytes, a header allowed by what was negotiated, the bytes the guest
 *    wrote (a pattern);
 *  - every RX used entry: a head in flight, used.len within the chain's writable bytes, 0 exactly for the chains
 *    the device must refuse; each frame's num_buffers entries in a row, all but the last full, 1 without
 *    MRG_RXBUF, the backend's bytes in order and whole (frames delivered in the order received, some dropped,
 *    none truncated), the header sanitised;
 *  - polling: EPOLLOUT exactly while a TX frame is held; after an EPOLLIN event, EPOLLIN only while the device
 *    holds buffers and no frame is pending, and never off while the guest has unconsumed buffers (a lost wakeup).
 * Checks on contents are suspended from a raw corruption until the next reset.
 */

#define RAM	  (12u << 20)
#define QNUM	  64
#define RXD	  0x1000
#define RXA	  0x2000
#define RXU	  0x3000
#define TXD	  0x5000
#define TXA	  0x6000
#define TXU	  0x7000
#define RXIND	  0x10000 /* indirect tables: 256 bytes per head */
#define TXIND	  0x14000
#define SLOT	  0x11000 /* buffer bytes per head (> 65562 + 12) */
#define RXBUF	  0x20000
#define TXBUF	  (RXBUF + QNUM * SLOT)
#define MAXSEG	  4
#define BEQ	  96
#define MAX_BYTES 70000

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->n--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

struct chain {
	bool out;	/* posted and not returned */
	bool valid;	/* the device must accept it (RX) */
	unsigned ndesc; /* descriptors it took from the ring's table */
	uint16_t desc[MAXSEG];
	unsigned nseg;
	uint64_t gpa[MAXSEG];
	uint32_t len[MAXSEG];
	bool w[MAXSEG];
	uint64_t cap; /* writable bytes */
};

struct ring {
	uint64_t desc, avail, used, ind, buf;
	uint16_t avail_idx, used_seen;
	bool busy[QNUM]; /* descriptor in use */
	struct chain c[QNUM];
};

struct ctx {
	struct gmem m;
	struct irq_line irq;
	struct virtio_net n;
	bool vnet;
	uint64_t mask, feat;
	struct ring rx, tx;
	bool trust; /* no raw corruption since the last reset */
	int kick_fd;
	/* the fake backend */
	struct {
		uint8_t *p;
		size_t len;
	} q[BEQ];
	unsigned qh, qt;
	uint16_t next_id;
	uint32_t flen[65536]; /* length of each frame queued, by id */
	int last_id;	      /* id of the last frame delivered to the guest, -1 none */
	unsigned blocked;     /* sends that would block */
	unsigned fail_tx, fail_rx;
	uint32_t poll;
	bool down;
	uint8_t scratch[MAX_BYTES];
};

static void *gp(struct ctx *c, uint64_t gpa, uint64_t len)
{
	void *p = gmem_ptr(&c->m, gpa, len);

	if (!p)
		abort();
	return p;
}

static bool has(const struct ctx *c, unsigned bit)
{
	return c->n.t.features & (1ULL << bit);
}

static uint8_t pat(unsigned seed, size_t i)
{
	return (uint8_t)(seed * 13 + i * 7 + i / 253);
}

/* ---- the fake backend ---- */

static size_t gather(struct ctx *c, const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++) {
		if (t + iov[i].iov_len > sizeof(c->scratch))
			abort(); /* more than any frame may be */
		memcpy(c->scratch + t, iov[i].iov_base, iov[i].iov_len);
		t += iov[i].iov_len;
	}
	return t;
}

static ssize_t be_send(void *opaque, const struct iovec *iov, int n)
{
	struct ctx *c = opaque;
	size_t t, h = c->vnet ? VIRTIO_NET_HDR_SIZE : 0, len;
	const uint8_t *f;

	if (c->down)
		abort(); /* a backend that is down is not used */
	if (c->blocked) {
		c->blocked--;
		return 0;
	}
	if (c->fail_tx) {
		c->fail_tx--;
		return -EIO;
	}
	t = gather(c, iov, n);
	if (t < h)
		abort();
	len = t - h;
	if (len < VIRTIO_NET_ETH_MIN || len > VIRTIO_NET_MAX_FRAME)
		abort();
	if (h) {
		const uint8_t *hd = c->scratch;
		uint16_t gso_size, cs, co, hdr_len;

		memcpy(&hdr_len, hd + 2, 2);
		memcpy(&gso_size, hd + 4, 2);
		memcpy(&cs, hd + 6, 2);
		memcpy(&co, hd + 8, 2);
		if (hd[0] & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
			abort();
		if ((hd[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		    (!has(c, VIRTIO_NET_F_CSUM) || (size_t)le16toh(cs) + le16toh(co) + 2 > len))
			abort();
		if (le16toh(hdr_len) > len)
			abort();
		if (hd[1] != VIRTIO_NET_HDR_GSO_NONE &&
		    !(hd[1] == VIRTIO_NET_HDR_GSO_TCPV4 && has(c, VIRTIO_NET_F_HOST_TSO4) && gso_size) &&
		    !(hd[1] == VIRTIO_NET_HDR_GSO_TCPV6 && has(c, VIRTIO_NET_F_HOST_TSO6) && gso_size))
			abort();
	}
	f = c->scratch + h;
	for (size_t i = 1; c->trust && i < len; i++)
		if (f[i] != pat(f[0], i))
			abort();
	return (ssize_t)t;
}

static ssize_t be_recv(void *opaque, const struct iovec *iov, int n)
{
	struct ctx *c = opaque;
	size_t off = 0, len, total = 0;
	uint8_t *p;

	if (c->down)
		abort();
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (total != (c->vnet ? VIRTIO_NET_MAX_TOTAL + 1 : VIRTIO_NET_MAX_FRAME + 1))
		abort(); /* the device always offers room for one byte more than the largest frame */
	if (c->fail_rx) {
		c->fail_rx--;
		return -EIO;
	}
	if (c->qh == c->qt)
		return 0;
	p = c->q[c->qh % BEQ].p;
	len = c->q[c->qh % BEQ].len;
	c->qh++;
	for (int i = 0; i < n && off < len; i++) {
		size_t k = len - off < iov[i].iov_len ? len - off : iov[i].iov_len;

		memcpy(iov[i].iov_base, p + off, k);
		off += k;
	}
	free(p);
	return (ssize_t)len;
}

static int be_offloads(void *opaque, uint64_t f)
{
	struct ctx *c = opaque;

	if (f != c->n.t.features)
		abort();
	return 0;
}

static const struct net_backend_ops ops = {.send = be_send, .recv = be_recv, .set_offloads = be_offloads};

static void hook_poll(void *opaque, uint32_t ev)
{
	struct ctx *c = opaque;

	if (ev == c->poll || (ev & ~(uint32_t)(EPOLLIN | EPOLLOUT)))
		abort(); /* called on changes only */
	c->poll = ev;
}

static void hook_down(void *opaque)
{
	struct ctx *c = opaque;

	if (c->down)
		abort();
	c->down = true;
}

/* ---- the driver ---- */

static void wr32(struct ctx *c, uint64_t off, uint32_t v)
{
	virtio_mmio_ops.write(&c->n.t, off, (const uint8_t *)&v, 4);
}

static uint32_t rd32(struct ctx *c, uint64_t off)
{
	uint32_t v = 0;

	virtio_mmio_ops.read(&c->n.t, off, (uint8_t *)&v, 4);
	return v;
}

static void ring_reset(struct ctx *c, struct ring *r)
{
	memset(gp(c, r->desc, 16 * QNUM), 0, 16 * QNUM);
	memset(gp(c, r->avail, 6 + 2 * QNUM), 0, 6 + 2 * QNUM);
	memset(gp(c, r->used, 6 + 8 * QNUM), 0, 6 + 8 * QNUM);
	r->avail_idx = r->used_seen = 0;
	memset(r->busy, 0, sizeof(r->busy));
	memset(r->c, 0, sizeof(r->c));
}

static void drv_init(struct ctx *c)
{
	uint64_t feat;
	const struct ring *rs[2] = {&c->rx, &c->tx};

	wr32(c, 0x070, 0);
	ring_reset(c, &c->rx);
	ring_reset(c, &c->tx);
	c->trust = true;
	wr32(c, 0x070, 1);
	wr32(c, 0x070, 3);
	wr32(c, 0x014, 0);
	feat = rd32(c, 0x010);
	wr32(c, 0x014, 1);
	feat |= (uint64_t)rd32(c, 0x010) << 32;
	feat &= c->mask;
	wr32(c, 0x024, 0);
	wr32(c, 0x020, (uint32_t)feat);
	wr32(c, 0x024, 1);
	wr32(c, 0x020, (uint32_t)(feat >> 32));
	wr32(c, 0x070, 11);
	for (unsigned i = 0; i < 2; i++) {
		wr32(c, 0x030, i);
		wr32(c, 0x038, QNUM);
		wr32(c, 0x080, (uint32_t)rs[i]->desc);
		wr32(c, 0x090, (uint32_t)rs[i]->avail);
		wr32(c, 0x0a0, (uint32_t)rs[i]->used);
		wr32(c, 0x044, 1);
	}
	wr32(c, 0x070, 15);
	if (c->n.t.features != feat)
		abort();
}

/* Post a chain of `nseg` segments (already in ch) on ring r. */
static void post(struct ctx *c, struct ring *r, struct chain *ch, bool indirect)
{
	uint16_t idx[MAXSEG];
	unsigned need = indirect ? 1 : ch->nseg, got = 0;
	struct virtq_desc *dt = gp(c, r->desc, 16 * QNUM);

	for (unsigned i = 0; i < QNUM && got < need; i++)
		if (!r->busy[i])
			idx[got++] = (uint16_t)i;
	if (got < need)
		return;
	uint16_t head = idx[0];
	struct virtq_desc *t = indirect ? gp(c, r->ind + 256ULL * head, 16 * MAXSEG) : NULL;
	for (unsigned i = 0; i < ch->nseg; i++) {
		bool last = i + 1 == ch->nseg;
		struct virtq_desc d = {
		    .addr = ch->gpa[i],
		    .len = ch->len[i],
		    .flags = (uint16_t)((ch->w[i] ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT)),
		    .next = (uint16_t)(last	  ? 0
				       : indirect ? i + 1
						  : idx[i + 1])};

		if (indirect)
			t[i] = d;
		else
			dt[idx[i]] = d;
	}
	if (indirect)
		dt[head] = (struct virtq_desc){
		    .addr = r->ind + 256ULL * head, .len = 16 * ch->nseg, .flags = VIRTQ_DESC_F_INDIRECT};
	if (indirect && !has(c, VIRTIO_RING_F_INDIRECT_DESC))
		ch->valid = false;
	ch->out = true;
	ch->ndesc = need;
	memcpy(ch->desc, idx, sizeof(idx[0]) * need);
	for (unsigned i = 0; i < need; i++)
		r->busy[idx[i]] = true;
	r->c[head] = *ch;
	uint8_t *av = gp(c, r->avail, 6 + 2 * QNUM);
	memcpy(av + 4 + 2 * (r->avail_idx % QNUM), &head, 2);
	r->avail_idx++;
	memcpy(av + 2, &r->avail_idx, 2);
}

static void release(struct ring *r, uint32_t id)
{
	struct chain *ch = &r->c[id];

	for (unsigned i = 0; i < ch->ndesc; i++)
		r->busy[ch->desc[i]] = false;
	ch->out = false;
}

static bool next_used(struct ctx *c, struct ring *r, uint32_t *id, uint32_t *len)
{
	uint8_t *u = gp(c, r->used, 6 + 8 * QNUM);
	uint16_t idx;

	memcpy(&idx, u + 2, 2);
	if (idx == r->used_seen)
		return false;
	memcpy(id, u + 4 + 8 * (r->used_seen % QNUM), 4);
	memcpy(len, u + 8 + 8 * (r->used_seen % QNUM), 4);
	r->used_seen++;
	if (*id >= QNUM || (c->trust && !r->c[*id].out))
		abort(); /* not a head in flight (after a corruption, replayed ring entries may return any head) */
	return true;
}

static void reap_tx(struct ctx *c)
{
	uint32_t id, len;

	while (next_used(c, &c->tx, &id, &len)) {
		if (len != 0)
			abort();
		release(&c->tx, id);
	}
}

/* Copy `len` bytes of chain ch's writable buffers to dst. */
static void chain_read(struct ctx *c, const struct chain *ch, uint8_t *dst, uint32_t len)
{
	for (unsigned i = 0; i < ch->nseg && len; i++) {
		uint32_t k;

		if (!ch->w[i])
			continue;
		k = ch->len[i] < len ? ch->len[i] : len;
		memcpy(dst, gp(c, ch->gpa[i], k), k);
		dst += k;
		len -= k;
	}
}

static void reap_rx(struct ctx *c)
{
	uint32_t id, len;

	while (next_used(c, &c->rx, &id, &len)) {
		struct chain *ch = &c->rx.c[id];
		uint32_t total = 0, nb, fid;
		uint16_t nb16;
		uint8_t *h = c->scratch;

		if (!c->trust) {
			release(&c->rx, id);
			continue;
		}
		if (len > ch->cap)
			abort();
		if (c->trust && ch->valid != (len > 0))
			abort(); /* a good chain returned empty, or a bad one used */
		release(&c->rx, id);
		if (len == 0)
			continue;
		chain_read(c, ch, c->scratch, len);
		total = len;
		memcpy(&nb16, h + 10, 2);
		nb = le16toh(nb16);
		if (nb == 0 || (!has(c, VIRTIO_NET_F_MRG_RXBUF) && nb != 1))
			abort();
		for (uint32_t i = 1; i < nb; i++) {
			if (len != ch->cap) /* all but the last are full */
				abort();
			if (!next_used(c, &c->rx, &id, &len))
				abort(); /* num_buffers entries in a row */
			ch = &c->rx.c[id];
			if (!ch->valid || len == 0 || len > ch->cap || total + len > VIRTIO_NET_MAX_TOTAL)
				abort();
			release(&c->rx, id);
			chain_read(c, ch, c->scratch + total, len);
			total += len;
		}
		if (total < VIRTIO_NET_HDR_SIZE + VIRTIO_NET_ETH_MIN)
			abort();
		if (!has(c, VIRTIO_NET_F_GUEST_CSUM)
			? h[0] != 0
			: (h[0] & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)))
			abort();
		if (h[1] != VIRTIO_NET_HDR_GSO_NONE &&
		    !(h[1] == VIRTIO_NET_HDR_GSO_TCPV4 && has(c, VIRTIO_NET_F_GUEST_TSO4)) &&
		    !(h[1] == VIRTIO_NET_HDR_GSO_TCPV6 && has(c, VIRTIO_NET_F_GUEST_TSO6)))
			abort();
		if (!c->vnet)
			for (unsigned i = 0; i < 10; i++)
				if (h[i])
					abort();
		const uint8_t *f = h + VIRTIO_NET_HDR_SIZE;
		fid = f[0] | (uint32_t)f[1] << 8;
		if ((int)fid <= c->last_id)
			abort(); /* out of order or twice */
		c->last_id = (int)fid;
		if (total - VIRTIO_NET_HDR_SIZE != c->flen[fid])
			abort(); /* truncated or padded */
		for (uint32_t i = 2; i < total - VIRTIO_NET_HDR_SIZE; i++)
			if (f[i] != pat(fid, i))
				abort();
	}
}

static uint32_t pick_len(struct in *in)
{
	static const uint32_t lens[] = {0,    1,    11,	  12,	13,    14,    60,    64,    1514,
					1526, 1536, 4000, 9000, 65549, 65550, 65551, 65562, 65563};
	unsigned k = (unsigned)take(in, 1);

	if (k < 128)
		return lens[k % (sizeof(lens) / sizeof(lens[0]))];
	return (uint32_t)take(in, 2) % (k & 1 ? 2048 : 66000);
}

static void put_hdr(struct in *in, uint8_t *h, bool wild)
{
	memset(h, 0, VIRTIO_NET_HDR_SIZE);
	if (!wild)
		return;
	for (unsigned i = 0; i < 10; i++)
		h[i] = (uint8_t)take(in, 1);
	h[0] &= 0x87;
	if (h[1] & 0x40)
		h[1] &= 0x85;
}

static void op_tx(struct ctx *c, struct in *in)
{
	unsigned sel = (unsigned)take(in, 1), seed = (unsigned)take(in, 1);
	uint32_t flen = pick_len(in), total;
	struct chain ch = {0};
	uint64_t base = TXBUF; /* per head; the head is unknown here: post() picks it, so use a scratch slot */
	uint8_t *p;
	unsigned free_head = QNUM;

	for (unsigned i = 0; i < QNUM; i++)
		if (!c->tx.busy[i]) {
			free_head = i;
			break;
		}
	if (free_head == QNUM)
		return;
	base = TXBUF + (uint64_t)free_head * SLOT;
	total = VIRTIO_NET_HDR_SIZE + flen;
	if (sel & 0x80) /* short of the header */
		total = flen % (VIRTIO_NET_HDR_SIZE + 1);
	p = gp(c, base, SLOT);
	put_hdr(in, p, sel & 0x40);
	for (uint32_t i = 0; i + VIRTIO_NET_HDR_SIZE < total; i++)
		p[VIRTIO_NET_HDR_SIZE + i] = pat(seed, i);
	if (total > VIRTIO_NET_HDR_SIZE)
		p[VIRTIO_NET_HDR_SIZE] = (uint8_t)seed;
	/* Split into 1..4 segments; sometimes a writable or an empty one. */
	unsigned nseg = 1 + sel % MAXSEG;
	uint32_t off = 0;
	for (unsigned i = 0; i < nseg; i++) {
		uint32_t left = total - off, k = i + 1 == nseg ? left : (uint32_t)take(in, 2) % (left + 1);

		ch.gpa[i] = base + off;
		ch.len[i] = k;
		ch.w[i] = (sel & 0x20) && i == nseg - 1;
		off += k;
	}
	ch.nseg = nseg;
	if (!(sel & 0x10)) { /* no empty descriptors unless asked: they make the chain bad */
		unsigned k = 0;

		for (unsigned i = 0; i < nseg; i++)
			if (ch.len[i]) {
				ch.gpa[k] = ch.gpa[i];
				ch.len[k] = ch.len[i];
				ch.w[k++] = ch.w[i];
			}
		if (!k)
			return;
		ch.nseg = k;
	}
	/* post() takes the lowest free descriptor as head: the one the slot was chosen for. */
	post(c, &c->tx, &ch, sel & 8);
}

static void op_rx(struct ctx *c, struct in *in)
{
	static const uint32_t sizes[] = {12, 64, 1526, 1536, 4096, 9000, 65562, 7};
	unsigned sel = (unsigned)take(in, 1), free_head = QNUM;
	struct chain ch = {0};
	uint64_t off = 0;

	for (unsigned i = 0; i < QNUM; i++)
		if (!c->rx.busy[i]) {
			free_head = i;
			break;
		}
	if (free_head == QNUM)
		return;
	ch.nseg = 1 + (sel & 3);
	ch.valid = true;
	for (unsigned i = 0; i < ch.nseg; i++) {
		unsigned k = (unsigned)take(in, 1);
		uint32_t len = k & 0x80 ? (uint32_t)take(in, 2) % 3000 : sizes[k % 8];

		if (off + len > SLOT)
			len = (uint32_t)(SLOT - off);
		ch.gpa[i] = RXBUF + (uint64_t)free_head * SLOT + off;
		ch.len[i] = len;
		ch.w[i] = !((sel & 0x20) && i == 0);
		off += len;
		if (ch.w[i])
			ch.cap += len;
		else
			ch.valid = false;
		if (!len)
			ch.valid = false;
	}
	if (ch.cap < VIRTIO_NET_HDR_SIZE)
		ch.valid = false;
	memset(gp(c, ch.gpa[0], off ? off : 1), 0xee, off ? off : 1);
	post(c, &c->rx, &ch, sel & 0x40);
}

static void queue_frame(struct ctx *c, struct in *in, bool wild, uint32_t len)
{
	size_t h = c->vnet ? VIRTIO_NET_HDR_SIZE : 0;
	uint16_t id;
	uint8_t *p;

	if (c->qt - c->qh >= BEQ)
		return;
	id = c->next_id++;
	c->flen[id] = len;
	p = malloc(h + len + 2);
	if (!p)
		abort();
	if (h)
		put_hdr(in, p, wild);
	for (uint32_t i = 0; i < len; i++)
		p[h + i] = pat(id, i);
	if (len >= 2) {
		p[h] = (uint8_t)id;
		p[h + 1] = (uint8_t)(id >> 8);
	}
	c->q[c->qt % BEQ].p = p;
	c->q[c->qt % BEQ].len = h + len;
	c->qt++;
}

static void op_frame(struct ctx *c, struct in *in)
{
	unsigned sel = (unsigned)take(in, 1);

	queue_frame(c, in, sel & 1, pick_len(in));
}

/* After an EPOLLIN event the device looked at everything: it polls only while it holds buffers and has no frame
 * waiting for more, and it stops only when the guest has no unconsumed buffers. */
static void check_rx_poll(struct ctx *c)
{
	const struct virtq *q = &c->n.t.q[VIRTIO_NET_RXQ];

	if (c->down || !q->active || q->broken)
		return;
	if (c->poll & EPOLLIN) {
		if (!c->n.rx.nbuf || c->n.rx.pending)
			abort();
	} else if (q->last_avail != c->rx.avail_idx) {
		abort();
	}
}

static void check_tx_poll(struct ctx *c)
{
	if (c->down ? c->poll != 0 : (bool)(c->poll & EPOLLOUT) != c->n.tx.held)
		abort();
}

/* Dense operations, so short inputs reach deep states: n single-buffer RX chains of one size and m frames of one
 * length, then EPOLLIN; or n valid TX frames of one length, then a kick. */
static void burst_rx(struct ctx *c, struct in *in)
{
	static const uint32_t sizes[] = {12, 64, 1526, 1536, 2048, 4096, 9000, 65562};
	unsigned b = (unsigned)take(in, 1);
	uint32_t size = sizes[(b >> 3) & 7], flen = pick_len(in);

	for (unsigned i = 0; i < (b & 7); i++) {
		unsigned head = 0;

		while (head < QNUM && c->rx.busy[head])
			head++;
		if (head == QNUM)
			break;
		struct chain ch = {.nseg = 1, .valid = size >= VIRTIO_NET_HDR_SIZE, .cap = size};
		ch.gpa[0] = RXBUF + (uint64_t)head * SLOT;
		ch.len[0] = size;
		ch.w[0] = true;
		post(c, &c->rx, &ch, false);
	}
	for (unsigned i = 0; i <= (b >> 6); i++)
		queue_frame(c, in, false, flen > 2 ? flen - i : flen);
}

static void burst_tx(struct ctx *c, struct in *in)
{
	unsigned b = (unsigned)take(in, 1);
	uint32_t flen = pick_len(in);

	for (unsigned i = 0; i <= (b & 7); i++) {
		unsigned head = 0;

		while (head < QNUM && c->tx.busy[head])
			head++;
		if (head == QNUM)
			break;
		uint64_t base = TXBUF + (uint64_t)head * SLOT;
		uint8_t *p = gp(c, base, SLOT);
		struct chain ch = {.nseg = 1};

		memset(p, 0, VIRTIO_NET_HDR_SIZE);
		for (uint32_t k = 0; k < flen; k++)
			p[VIRTIO_NET_HDR_SIZE + k] = pat(b + i, k);
		if (flen)
			p[VIRTIO_NET_HDR_SIZE] = (uint8_t)(b + i);
		ch.gpa[0] = base;
		ch.len[0] = VIRTIO_NET_HDR_SIZE + flen;
		post(c, &c->tx, &ch, b & 8);
	}
}

static void kick(struct ctx *c, unsigned q)
{
	uint64_t v;

	wr32(c, 0x050, q);
	/* What the event loop does with a self-kick: call again while it asks. */
	for (unsigned i = 0; i < 2 * QNUM && c->kick_fd >= 0 && read(c->kick_fd, &v, sizeof(v)) == sizeof(v); i++)
		wr32(c, 0x050, q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	unsigned opt = (unsigned)take(&in, 1);
	struct ctx *c = calloc(1, sizeof(*c));
	struct net_backend be = {.ops = &ops, .fd = -1};
	struct virtio_net_hooks hooks = {.set_poll = hook_poll, .backend_down = hook_down};
	static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};

	if (!c || gmem_init(&c->m, RAM) < 0)
		abort();
	c->vnet = opt & 1;
	c->rx = (struct ring){.desc = RXD, .avail = RXA, .used = RXU, .ind = RXIND};
	c->tx = (struct ring){.desc = TXD, .avail = TXA, .used = TXU, .ind = TXIND};
	c->last_id = -1;
	c->kick_fd = (opt & 0x40) ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
	be.be = c;
	be.vnet_hdr = c->vnet;
	be.offer = opt & 2 ? VIRTIO_NET_OFFLOADS : (opt & 4 ? (uint64_t)take(&in, 2) : 0);
	hooks.opaque = c;
	c->mask = ~0ULL;
	if (opt & 8)
		c->mask &= ~(1ULL << VIRTIO_NET_F_MRG_RXBUF);
	if (opt & 0x10)
		c->mask &= ~(1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	if (opt & 0x20)
		c->mask &= ~(uint64_t)take(&in, 2);
	if (virtio_net_init(&c->n, &be, mac, &hooks) < 0)
		abort();
	irq_line_init(&c->irq, 5, -1);
	virtio_net_attach(&c->n, &c->irq, &c->m);
	c->n.tx_kick_fd = c->kick_fd;
	drv_init(c);
	while (in.n) {
		unsigned op = (unsigned)take(&in, 1);

		switch (op % 16) {
		case 0:
		case 1:
			op_tx(c, &in);
			break;
		case 2:
		case 3:
			op_rx(c, &in);
			break;
		case 4:
		case 5:
			op_frame(c, &in);
			break;
		case 6:
			kick(c, VIRTIO_NET_TXQ);
			break;
		case 7:
			kick(c, VIRTIO_NET_RXQ);
			break;
		case 8:
		case 9:
			virtio_net_on_backend(&c->n, EPOLLIN);
			reap_rx(c);
			check_rx_poll(c);
			break;
		case 10:
			virtio_net_on_backend(&c->n, EPOLLOUT);
			break;
		case 11:
			c->blocked = op >> 4;
			c->fail_tx = (op >> 6) & 1;
			c->fail_rx = (op >> 7) * 3;
			break;
		case 12: { /* config space: writes ignored, reads in bounds */
			uint8_t b[8] = {0};
			unsigned at = (unsigned)take(&in, 1);

			virtio_mmio_ops.write(&c->n.t, 0x100 + at % 16, b, 1u << (at >> 6));
			virtio_mmio_ops.read(&c->n.t, 0x100 + at % 16, b, 1u << (at >> 6));
			if (memcmp(c->n.cfg, mac, 6))
				abort();
			break;
		}
		case 13:
			if (op == 13)
				drv_init(c);
			else if (op == 29)
				virtio_net_on_backend(&c->n, EPOLLHUP);
			else
				burst_tx(c, &in);
			kick(c, VIRTIO_NET_TXQ);
			break;
		case 14: { /* raw corruption: a descriptor field, or avail.idx */
			unsigned w = (unsigned)take(&in, 1);
			struct ring *r = w & 1 ? &c->tx : &c->rx;

			if (op & 0x80) {
				struct virtq_desc *d = gp(c, r->desc + 16 * ((w >> 1) % QNUM), 16);
				unsigned field = (w >> 7) | ((op >> 5) & 2);

				if (field == 0)
					d->addr = take(&in, 8) % (RAM + 0x1000);
				else if (field == 1)
					d->len = (uint32_t)take(&in, 4);
				else if (field == 2)
					d->flags = (uint16_t)take(&in, 1);
				else
					d->next = (uint16_t)take(&in, 1);
			} else {
				uint16_t v = (uint16_t)(r->avail_idx + take(&in, 1));

				memcpy(gp(c, r->avail + 2, 2), &v, 2);
				r->avail_idx = v;
			}
			c->trust = false;
			break;
		}
		default:
			burst_rx(c, &in);
			virtio_net_on_backend(&c->n, EPOLLIN);
			reap_rx(c);
			check_rx_poll(c);
			break;
		}
		reap_tx(c);
		check_tx_poll(c);
		if (c->trust)
			reap_rx(c);
		if (rd32(c, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
			if (c->trust)
				abort(); /* a correct driver never breaks a ring */
			drv_init(c);
		}
		if (!c->trust && (op & 0x30) == 0x30)
			drv_init(c); /* get back to checked ground now and then */
	}
	virtio_net_close(&c->n);
	while (c->qh != c->qt)
		free(c->q[c->qh++ % BEQ].p);
	if (c->kick_fd >= 0)
		close(c->kick_fd);
	gmem_destroy(&c->m);
	free(c);
	return 0;
}
