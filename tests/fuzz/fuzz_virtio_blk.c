/* fuzz_virtio_blk.c: libFuzzer target: request chains of every shape against virtio-blk over a small memfd image. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio_blk.h"

/*
 * Input: one byte of disk options, one of image size, then requests until the input runs out. Each request is a
 * mostly-valid chain (header, data segments, status) whose type, sector, lengths, directions, split points,
 * indirect placement and status buffer come from the input, plus optional raw corruption of one descriptor or of
 * avail.idx. After every input: nothing crashed (ASan/UBSan), the image kept its size, the bytes past the
 * capacity (the hidden tail) were never written, a ro or snapshot image was not written at all, and every used.len
 * stayed within the writable bytes of its (uncorrupted) chain.
 */

#define RAM	  (2u << 20)
#define QNUM	  64
#define DESC	  0x1000
#define AVAIL	  0x2000
#define USED	  0x3000
#define IND	  0x4000 /* indirect tables: 256 bytes (16 entries) per head */
#define BUFS	  0x10000
#define BUFS_END  RAM
#define MAX_SEGS  12
#define MAX_BATCH 4

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

struct ctx {
	struct gmem m;
	struct irq_line irq;
	struct virtio_blk b;
	uint64_t heap;
	uint16_t avail_idx, used_seen, next_desc;
	uint64_t wlen[QNUM]; /* writable bytes of the chain posted at each head; UINT64_MAX: corrupted */
};

static void *gp(struct ctx *c, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(&c->m, gpa, len);
}

static uint64_t galloc(struct ctx *c, uint64_t len)
{
	uint64_t gpa = c->heap;

	if (len > BUFS_END - BUFS)
		len = BUFS_END - BUFS;
	if (c->heap + len > BUFS_END)
		gpa = c->heap = BUFS; /* wrap: old buffers are reused, which is fine for a fuzzer */
	c->heap = (gpa + len + 15) & ~15ULL;
	return gpa;
}

static void wr32(struct ctx *c, uint64_t off, uint32_t v)
{
	virtio_mmio_ops.write(&c->b.t, off, (const uint8_t *)&v, 4);
}

static uint32_t rd32(struct ctx *c, uint64_t off)
{
	uint32_t v = 0;

	virtio_mmio_ops.read(&c->b.t, off, (uint8_t *)&v, 4);
	return v;
}

static void drv_init(struct ctx *c, uint64_t mask)
{
	uint64_t feat;

	wr32(c, 0x070, 0);
	wr32(c, 0x070, 1);
	wr32(c, 0x070, 3);
	wr32(c, 0x014, 0);
	feat = rd32(c, 0x010);
	wr32(c, 0x014, 1);
	feat |= (uint64_t)rd32(c, 0x010) << 32;
	feat &= mask;
	wr32(c, 0x024, 0);
	wr32(c, 0x020, (uint32_t)feat);
	wr32(c, 0x024, 1);
	wr32(c, 0x020, (uint32_t)(feat >> 32));
	wr32(c, 0x070, 11);
	wr32(c, 0x030, 0);
	wr32(c, 0x038, QNUM);
	wr32(c, 0x080, DESC);
	wr32(c, 0x090, AVAIL);
	wr32(c, 0x0a0, USED);
	wr32(c, 0x044, 1);
	wr32(c, 0x070, 15);
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

/* Build one request from the input and post it (no kick). */
static void post_one(struct ctx *c, struct in *in, uint64_t sectors)
{
	static const uint32_t types[] = {VIRTIO_BLK_T_IN,     VIRTIO_BLK_T_OUT,	    VIRTIO_BLK_T_FLUSH,
					 VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES,
					 VIRTIO_BLK_T_IN,     VIRTIO_BLK_T_OUT};
	struct seg s[MAX_SEGS + 3];
	unsigned n = 0, kind = (unsigned)take(in, 1), mode = (unsigned)take(in, 1), layout = (unsigned)take(in, 1);
	uint32_t type = kind < 8 ? types[kind] : (kind < 250 ? types[kind % 8] : (uint32_t)take(in, 4));
	bool writable_data = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	uint64_t sector, hdr, small = take(in, 1), wlen = 0;
	uint16_t head = c->next_desc, first = head;
	bool indirect = layout & 0x80;

	switch (mode % 5) {
	case 0:
		sector = small % (sectors + 4);
		break;
	case 1:
		sector = sectors - 1 - small % (sectors < 8 ? sectors : 8);
		break;
	case 2:
		sector = take(in, 8);
		break;
	case 3:
		sector = UINT64_MAX - small;
		break;
	default:
		sector = (1ULL << 55) - small;
		break;
	}
	hdr = galloc(c, 16 + 4096);
	memcpy(gp(c, hdr, 4), &type, 4);
	memcpy(gp(c, hdr + 8, 8), &sector, 8);
	/* Header: whole, split, short, or followed directly by data in the same buffer. */
	switch (layout & 3) {
	case 0:
		s[n++] = (struct seg){hdr, 16, false};
		break;
	case 1: {
		uint32_t k = 1 + (uint32_t)take(in, 1) % 15;

		s[n++] = (struct seg){hdr, k, false};
		s[n++] = (struct seg){hdr + k, 16 - k, false};
		break;
	}
	case 2:
		s[n++] = (struct seg){hdr, (uint32_t)take(in, 1) % 17, (layout & 4) != 0};
		break;
	default:
		s[n++] = (struct seg){hdr, 16 + 512 * (uint32_t)(take(in, 1) % 8), false};
		break;
	}
	/* Data segments. */
	unsigned nd = (layout >> 3) % (MAX_SEGS - 1);
	for (unsigned i = 0; i < nd; i++) {
		unsigned sel = (unsigned)take(in, 1);
		uint32_t len = sel & 1 ? (uint32_t)take(in, 2) : 512 * ((sel >> 1) % 9);
		uint64_t gpa;

		if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES)
			len = sel & 1 ? len % 48 : 16;
		gpa = galloc(c, len);
		if ((type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) && len >= 16) {
			uint64_t ss = (sel & 0x10) ? take(in, 8) : take(in, 1) % (sectors + 2);
			uint32_t num = (sel & 0x20) ? (uint32_t)take(in, 4) : (uint32_t)take(in, 1) % 16;
			uint32_t fl = (sel & 0x40) ? (uint32_t)take(in, 4) : (sel >> 7);

			memcpy(gp(c, gpa, 8), &ss, 8);
			memcpy(gp(c, gpa + 8, 4), &num, 4);
			memcpy(gp(c, gpa + 12, 4), &fl, 4);
		}
		s[n++] = (struct seg){gpa, len, (sel & 0x80 ? !writable_data : writable_data)};
	}
	/* Status: usually one writable byte; sometimes longer, empty, read-only, or missing. */
	unsigned st = (unsigned)take(in, 1);
	if (st % 16) {
		uint32_t len = st % 16 < 12 ? 1 : st % 16 - 10;

		s[n++] = (struct seg){galloc(c, len), len, st % 16 != 15};
		if (len)
			memset(gp(c, s[n - 1].gpa, len), 0xee, len);
	}
	/* Write the chain. Data beyond RAM is clamped by the heap: lengths past it produce out-of-RAM buffers, which
	 * virtq must reject. */
	uint64_t table = IND + 256ULL * head;
	struct virtq_desc *t = gp(c, indirect ? table : DESC, (indirect ? 16 : QNUM) * 16ULL);
	unsigned base = indirect ? 0 : first;
	if (!indirect && n > QNUM - 1)
		n = QNUM - 1;
	for (unsigned i = 0; i < n; i++) {
		unsigned at = indirect ? i : (base + i) % QNUM, next = indirect ? i + 1 : (base + i + 1) % QNUM;

		t[at] = (struct virtq_desc){
		    .addr = s[i].gpa,
		    .len = s[i].len,
		    .flags = (uint16_t)((s[i].w ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
		    .next = (uint16_t)next};
		if (s[i].w)
			wlen += s[i].len;
	}
	struct virtq_desc *dt = gp(c, DESC, QNUM * 16);
	if (indirect)
		dt[head] = (struct virtq_desc){.addr = table, .len = n * 16, .flags = VIRTQ_DESC_F_INDIRECT};
	c->next_desc = (uint16_t)((head + (indirect ? 1 : (n ? n : 1))) % QNUM);
	/* Rare raw corruption of one descriptor field. */
	if ((layout & 0x60) == 0x60) {
		unsigned which = (unsigned)take(in, 1), field = (unsigned)take(in, 1) % 4;
		struct virtq_desc *d = indirect && (which & 1) ? &t[(which >> 1) % (n ? n : 1)] : &dt[which % QNUM];

		if (field == 0)
			d->addr = take(in, 8);
		else if (field == 1)
			d->len = (uint32_t)take(in, 4);
		else if (field == 2)
			d->flags = (uint16_t)take(in, 2);
		else
			d->next = (uint16_t)take(in, 2);
		wlen = UINT64_MAX;
		for (unsigned k = 0; k < QNUM; k++) /* the descriptor may belong to any pending chain */
			c->wlen[k] = UINT64_MAX;
	}
	/* A later chain may reuse these descriptors: only the newest chain per head is tracked, so mark overlapped
	 * heads as unknown. */
	for (unsigned i = 1; i < (indirect ? 1u : n); i++)
		c->wlen[(first + i) % QNUM] = UINT64_MAX;
	c->wlen[head] = wlen;
	uint8_t *av = gp(c, AVAIL, 4 + 2 * QNUM + 2);
	memcpy(av + 4 + 2 * (c->avail_idx % QNUM), &head, 2);
	c->avail_idx++;
	memcpy(av + 2, &c->avail_idx, 2);
}

/* Check what came back. */
static void reap(struct ctx *c)
{
	uint8_t *u = gp(c, USED, 4 + 8 * QNUM + 2);
	uint16_t idx;

	memcpy(&idx, u + 2, 2);
	while (c->used_seen != idx) {
		uint32_t id, len;

		memcpy(&id, u + 4 + 8 * (c->used_seen % QNUM), 4);
		memcpy(&len, u + 8 + 8 * (c->used_seen % QNUM), 4);
		c->used_seen++;
		if (id >= QNUM)
			abort();
		if (c->wlen[id] != UINT64_MAX && len > c->wlen[id]) { /* used.len beyond the writable bytes */
			fprintf(stderr, "head %u: used.len %u > %llu\n", id, len, (unsigned long long)c->wlen[id]);
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	unsigned opt = (unsigned)take(&in, 1), sz = (unsigned)take(&in, 1);
	uint64_t sectors = 1 + sz % 32, tail = (sz >> 5) * 61, bytes = sectors * 512 + tail;
	struct virtio_blk_opts o;
	char path[64], err[128];
	const char *why;
	struct ctx *c;
	uint8_t *img, *after;
	struct stat st;
	int fd;

	c = calloc(1, sizeof(*c));
	img = malloc(bytes);
	after = malloc(bytes);
	if (!c || !img || !after || gmem_init(&c->m, RAM) < 0)
		abort();
	for (uint64_t i = 0; i < bytes; i++)
		img[i] = (uint8_t)(i * 31 + i / 512 + 7);
	fd = memfd_create("fuzz-blk", MFD_CLOEXEC);
	if (fd < 0 || pwrite(fd, img, bytes, 0) != (ssize_t)bytes)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d%s", fd, opt & 1 ? ",ro" : (opt & 2 ? ",snapshot" : ""));
	if (virtio_blk_parse(path, &o, err, sizeof(err)) < 0 || virtio_blk_open(&c->b, &o, &why) < 0)
		abort();
	irq_line_init(&c->irq, 5, -1);
	virtio_blk_attach(&c->b, &c->irq, &c->m);
	uint64_t mask = ~0ULL;
	if (opt & 0x04)
		mask &= ~(1ULL << VIRTIO_BLK_F_FLUSH);
	if (opt & 0x08)
		mask &= ~(1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	if (opt & 0x10)
		mask &= ~(1ULL << VIRTIO_RING_F_EVENT_IDX);
	if (opt & 0x20)
		mask &= ~(1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	drv_init(c, mask);
	c->heap = BUFS;
	for (unsigned i = 0; i < QNUM; i++)
		c->wlen[i] = UINT64_MAX;
	while (in.n) {
		unsigned batch = 1 + (unsigned)take(&in, 1) % MAX_BATCH;

		for (unsigned i = 0; i < batch && in.n; i++)
			post_one(c, &in, sectors);
		if ((opt & 0xc0) == 0xc0 && in.n && take(&in, 1) == 0x5a) { /* rare: a bogus avail.idx */
			uint16_t bogus = (uint16_t)take(&in, 2);

			memcpy(gp(c, AVAIL + 2, 2), &bogus, 2);
			c->avail_idx = bogus;
			for (unsigned k = 0; k < QNUM; k++) /* old ring slots get replayed: heads unknown */
				c->wlen[k] = UINT64_MAX;
		}
		if ((opt & 0xc0) == 0x40 && in.n) { /* a config-space read of any offset and size */
			uint8_t cfg[8];
			unsigned at = (unsigned)take(&in, 1);

			virtio_mmio_ops.read(&c->b.t, 0x100 + at / 4, cfg, 1u << (at % 4));
		}
		wr32(c, 0x050, 0);
		reap(c);
		if (rd32(c, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
			wr32(c, 0x070, 0); /* reset and go on, as a driver would */
			memset(gp(c, 0, BUFS), 0, BUFS);
			drv_init(c, mask);
			c->avail_idx = c->used_seen = c->next_desc = 0;
		}
	}
	virtio_blk_close(&c->b);
	/* The image: same size, tail untouched, and untouched altogether when ro or snapshot. */
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != bytes)
		abort();
	if (pread(fd, after, bytes, 0) != (ssize_t)bytes)
		abort();
	if (memcmp(after + sectors * 512, img + sectors * 512, tail))
		abort();
	if ((opt & 3) && memcmp(after, img, bytes))
		abort();
	close(fd);
	gmem_destroy(&c->m);
	free(after);
	free(img);
	free(c);
	return 0;
}
