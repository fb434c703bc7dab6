/* virtio_blk.c: the virtio-blk device: option parsing, config space, and checking and running each request. */
#include "devices/virtio_blk.h"

#include "devices/iov.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define HDR_SIZE 16 /* le32 type, le32 reserved (ioprio), le64 sector */
#define SEG_SIZE 16 /* discard / write-zeroes segment: le64 sector, le32 num_sectors, le32 flags */

/* ---- -d/--disk PATH[,ro][,snapshot][,serial=ID] ---- */

int virtio_blk_parse(const char *arg, struct virtio_blk_opts *o, char *err, size_t errlen)
{
	char *p;

	memset(o, 0, sizeof(*o));
	if (!arg || strlen(arg) >= sizeof(o->buf)) {
		snprintf(err, errlen, "disk argument is missing or too long");
		return -EINVAL;
	}
	strcpy(o->buf, arg);
	o->path = o->buf;
	p = strchr(o->buf, ',');
	if (p)
		*p++ = '\0';
	if (!*o->path) {
		snprintf(err, errlen, "disk '%s' has an empty path (expected PATH[,ro][,snapshot][,serial=ID])", arg);
		return -EINVAL;
	}
	while (p) {
		char *opt = p;

		p = strchr(p, ',');
		if (p)
			*p++ = '\0';
		if (!strcmp(opt, "ro") && !o->ro) {
			o->ro = true;
		} else if (!strcmp(opt, "snapshot") && !o->snapshot) {
			o->snapshot = true;
		} else if (!strncmp(opt, "serial=", 7) && !o->serial) {
			size_t n = strlen(opt + 7);

			for (size_t i = 0; i < n; i++) {
				if (opt[7 + i] <= ' ' || opt[7 + i] > '~') {
					n = 0;
					break;
				}
			}
			if (!n || n > VIRTIO_BLK_ID_BYTES) {
				snprintf(err, errlen, "disk '%s': serial must be 1 to %d printable ASCII characters",
					 arg, VIRTIO_BLK_ID_BYTES);
				return -EINVAL;
			}
			o->serial = opt + 7;
		} else {
			snprintf(err, errlen, "disk '%s': unknown or repeated option '%s' (ro, snapshot, serial=ID)",
				 arg, opt);
			return -EINVAL;
		}
	}
	if (o->ro && o->snapshot) {
		snprintf(err, errlen, "disk '%s': ro and snapshot exclude each other", arg);
		return -EINVAL;
	}
	return 0;
}

/* ---- open, config space, close ---- */

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* struct virtio_blk_config (section 5.2.4), little-endian, read-only for the driver. */
static void blk_build_config(struct virtio_blk *b)
{
	uint8_t *c = b->cfg;

	memset(c, 0, sizeof(b->cfg));
	put64(c + 0, b->sectors);	      /* capacity */
	put32(c + 8, VIRTIO_BLK_SIZE_MAX);    /* size_max */
	put32(c + 12, VIRTIO_BLK_SEG_MAX);    /* seg_max */
					      /* 16: geometry (not offered); 24: topology (not offered) */
	put32(c + 20, BLK_SECTOR_SIZE);	      /* blk_size */
					      /* 32: writeback (CONFIG_WCE not offered) */
	put16(c + 34, 1);		      /* num_queues (MQ not offered) */
	put32(c + 36, VIRTIO_BLK_MAX_ZERO);   /* max_discard_sectors */
	put32(c + 40, 1);		      /* max_discard_seg */
	put32(c + 44, VIRTIO_BLK_DISCARD_AL); /* discard_sector_alignment */
	put32(c + 48, VIRTIO_BLK_MAX_ZERO);   /* max_write_zeroes_sectors */
	put32(c + 52, 1);		      /* max_write_zeroes_seg */
	c[56] = 1;			      /* write_zeroes_may_unmap */
}

/* The default serial: "kvmini-" and 13 hex digits of an FNV-1a hash of the image's device and inode numbers. */
static void blk_default_id(struct virtio_blk *b)
{
	uint64_t h = 0xcbf29ce484222325ULL, v[2] = {b->img.dev, b->img.ino};
	const uint8_t *p = (const uint8_t *)v;
	char s[VIRTIO_BLK_ID_BYTES + 1];

	for (size_t i = 0; i < sizeof(v); i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	snprintf(s, sizeof(s), "kvmini-%013llx", (unsigned long long)(h & ((1ULL << 52) - 1)));
	memcpy(b->id, s, VIRTIO_BLK_ID_BYTES);
}

int virtio_blk_open(struct virtio_blk *b, const struct virtio_blk_opts *o, const char **why)
{
	int r;

	memset(b, 0, sizeof(*b));
	b->kick_fd = b->stop_fd = -1;
	r = blk_image_open(&b->img, o->path, o->ro, o->snapshot, why);
	if (r < 0)
		return r;
	b->ro = b->img.ro;
	b->snapshot = b->img.snapshot;
	b->sectors = b->img.sectors;
	b->tail = b->img.tail;
	if (o->serial)
		memcpy(b->id, o->serial, strnlen(o->serial, sizeof(b->id))); /* zero-padded, unterminated at 20 */
	else
		blk_default_id(b);
	blk_build_config(b);
	return 0;
}

int virtio_blk_close(struct virtio_blk *b)
{
	if (b->io_running && virtio_blk_stop(b, 5000) < 0)
		return -EBUSY; /* its thread is still inside a request: leave the image to it */
	if (b->attached) {
		virtio_mmio_destroy(&b->t);
		b->attached = false;
	}
	return blk_image_close(&b->img);
}

/* ---- transport callbacks ---- */

static void blk_cfg_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct virtio_blk *b = dev;

	memset(data, 0, len);
	if (off < sizeof(b->cfg) && len <= sizeof(b->cfg) - off)
		memcpy(data, b->cfg + off, len);
}

static int blk_activate(void *dev)
{
	(void)dev;
	return 0;
}

static void blk_reset(void *dev)
{
	struct virtio_blk *b = dev;

	/* A request the I/O thread is running now will not be completed into the old queue. Its data may still land
	 * in the guest's buffers (a read): waiting for it here would stall the vCPU behind a stalled back-end. */
	b->epoch++;
}

static bool blk_has(const struct virtio_blk *b, unsigned feature)
{
	return (b->t.features >> feature) & 1;
}

/* ---- requests ---- */

/* [sector, sector + n) lies within the capacity (the exact last sector included), and its byte offset fits. */
static bool blk_range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t n)
{
	uint64_t end, off;

	return !__builtin_add_overflow(sector, n, &end) && end <= b->sectors &&
	       !__builtin_mul_overflow(sector, (uint64_t)BLK_SECTOR_SIZE, &off);
}

/* Without FLUSH negotiated the driver treats the disk as write-through: make each change durable before the
 * guest sees it complete. */
static uint8_t blk_write_through(struct virtio_blk *b)
{
	if (blk_has(b, VIRTIO_BLK_F_FLUSH))
		return VIRTIO_BLK_S_OK;
	return blk_image_flush(&b->img) == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
}

/* IN: the writable bytes before the status byte receive `wlen / 512` sectors. */
static uint8_t blk_in(struct virtio_blk *b, const struct virtq_req *r, uint64_t sector, uint64_t wlen,
		      uint64_t *written)
{
	uint64_t n = wlen / BLK_SECTOR_SIZE;
	unsigned k;
	int e;

	if (r->out_len > HDR_SIZE || wlen % BLK_SECTOR_SIZE || !blk_range_ok(b, sector, n))
		return VIRTIO_BLK_S_IOERR;
	k = iov_slice(r->iov + r->nout, r->nin, 0, wlen, b->data);
	e = blk_image_read(&b->img, sector, n, b->data, k, written);
	b->st.reads++;
	b->st.read_bytes += *written;
	return e ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* OUT: the readable bytes after the header go to `rlen / 512` sectors. */
static uint8_t blk_out(struct virtio_blk *b, const struct virtq_req *r, uint64_t sector, uint64_t wlen)
{
	uint64_t rlen = r->out_len - HDR_SIZE, n = rlen / BLK_SECTOR_SIZE, done;
	unsigned k;
	int e;

	if (wlen || rlen % BLK_SECTOR_SIZE || b->ro || !blk_range_ok(b, sector, n))
		return VIRTIO_BLK_S_IOERR;
	k = iov_slice(r->iov, r->nout, HDR_SIZE, rlen, b->data);
	e = blk_image_write(&b->img, sector, n, b->data, k, &done);
	b->st.writes++;
	b->st.written_bytes += done;
	return e ? VIRTIO_BLK_S_IOERR : blk_write_through(b);
}

/* DISCARD and WRITE_ZEROES: exactly one segment (max_*_seg is 1) in the readable bytes after the header. */
static uint8_t blk_zero(struct virtio_blk *b, const struct virtq_req *r, uint32_t type, uint64_t wlen)
{
	bool discard = type == VIRTIO_BLK_T_DISCARD;
	uint8_t seg[SEG_SIZE];
	uint64_t sector;
	uint32_t n, flags;
	int e;

	if (!blk_has(b, discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES))
		return VIRTIO_BLK_S_UNSUPP;
	if (wlen || r->out_len != HDR_SIZE + SEG_SIZE || !iov_copy_out(r->iov, r->nout, HDR_SIZE, seg, SEG_SIZE))
		return VIRTIO_BLK_S_IOERR;
	memcpy(&sector, seg, 8);
	memcpy(&n, seg + 8, 4);
	memcpy(&flags, seg + 12, 4);
	sector = le64toh(sector);
	n = le32toh(n);
	flags = le32toh(flags);
	/* Unknown flags, and unmap on a discard, are UNSUPP (section 5.2.6.2). */
	if ((flags & ~(uint32_t)VIRTIO_BLK_WZ_F_UNMAP) || (discard && (flags & VIRTIO_BLK_WZ_F_UNMAP)))
		return VIRTIO_BLK_S_UNSUPP;
	if (b->ro || n > VIRTIO_BLK_MAX_ZERO || !blk_range_ok(b, sector, n))
		return VIRTIO_BLK_S_IOERR;
	if (discard) {
		b->st.discards++;
		e = blk_image_discard(&b->img, sector, n);
	} else {
		b->st.write_zeroes++;
		e = blk_image_write_zeroes(&b->img, sector, n, flags & VIRTIO_BLK_WZ_F_UNMAP);
	}
	return e ? VIRTIO_BLK_S_IOERR : blk_write_through(b);
}

/* GET_ID: up to 20 bytes of the serial into the writable bytes before the status (a shorter buffer truncates). */
static uint8_t blk_get_id(struct virtio_blk *b, const struct virtq_req *r, uint64_t wlen, uint64_t *written)
{
	uint64_t len = wlen < VIRTIO_BLK_ID_BYTES ? wlen : VIRTIO_BLK_ID_BYTES;
	unsigned k = iov_slice(r->iov + r->nout, r->nin, 0, len, b->data);
	const uint8_t *src = (const uint8_t *)b->id;

	for (unsigned i = 0; i < k; i++) {
		memcpy(b->data[i].iov_base, src, b->data[i].iov_len);
		src += b->data[i].iov_len;
	}
	*written = len;
	b->st.get_ids++;
	return VIRTIO_BLK_S_OK;
}

/*
 * One request: header (16 bytes at the start of the readable buffers, however they are split), data, and the
 * status byte, which is the last byte of the last writable buffer (any layout: the bytes before it in the writable
 * part are IN/GET_ID data). Returns used.len (data bytes written + the status byte), or -1 for a chain with no
 * room for a status or a header (DROP: returned with used.len 0, nothing written).
 */
static int64_t blk_request(struct virtio_blk *b, const struct virtq_req *r)
{
	const struct iovec *last;
	uint8_t hdr[HDR_SIZE], status;
	uint64_t sector, wlen, written = 0;
	uint32_t type;

	if (!r->nin || r->out_len < HDR_SIZE || !iov_copy_out(r->iov, r->nout, 0, hdr, HDR_SIZE))
		return -1;
	last = &r->iov[r->nout + r->nin - 1];
	if (!last->iov_len || !r->in_len)
		return -1;
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	type = le32toh(type);
	sector = le64toh(sector);
	wlen = r->in_len - 1;
	switch (type) {
	case VIRTIO_BLK_T_IN:
		status = blk_in(b, r, sector, wlen, &written);
		break;
	case VIRTIO_BLK_T_OUT:
		status = blk_out(b, r, sector, wlen);
		break;
	case VIRTIO_BLK_T_FLUSH:
		/* Served even when FLUSH was not negotiated (B9: OK); extra buffers are ignored. */
		b->st.flushes++;
		status = blk_image_flush(&b->img) == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID:
		status = blk_get_id(b, r, wlen, &written);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = blk_zero(b, r, type, wlen);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (status == VIRTIO_BLK_S_IOERR)
		b->st.ioerr++;
	else if (status == VIRTIO_BLK_S_UNSUPP)
		b->st.unsupp++;
	((uint8_t *)last->iov_base)[last->iov_len - 1] = status;
	return (int64_t)written + 1;
}

/* Wake the I/O thread: one write to the eventfd it waits on. */
static void blk_wake(int fd)
{
	uint64_t one = 1;

	while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/*
 * Run the queue's requests, completing each before the next (a request is acknowledged only after its syscalls
 * returned), with an interrupt every VIRTIO_BLK_BATCH completions and at the end. t.lock is held; when the I/O
 * thread runs (blk_notify calls this only on it then) the lock is dropped around each request's syscalls, and a
 * reset meanwhile (a new epoch) means that request is not completed: the queue it came from is gone.
 */
static void blk_run(struct virtio_blk *b)
{
	struct virtq *q = &b->t.q[0];
	uint64_t epoch = b->epoch;
	bool threaded = b->io_running;
	unsigned batch = 0;

	while (!(threaded && b->stop)) {
		int r = virtq_next(q, &b->req);
		int64_t len = 0;

		if (r == -EIO) {
			if (batch)
				virtio_mmio_signal_used_locked(&b->t, 0);
			virtio_mmio_needs_reset_locked(&b->t);
			return;
		}
		if (r == 0)
			break; /* empty, and with EVENT_IDX the driver will kick for its next buffer */
		if (r > 0 && threaded) {
			pthread_mutex_unlock(&b->t.lock);
			len = blk_request(b, &b->req);
			pthread_mutex_lock(&b->t.lock);
			if (b->epoch != epoch) {
				b->st.cancelled++;
				return;
			}
		} else if (r > 0) {
			len = blk_request(b, &b->req);
		}
		if (r < 0 || len < 0)
			b->st.dropped++;
		virtq_push(q, b->req.head, len < 0 ? 0 : (uint32_t)len);
		if (++batch == VIRTIO_BLK_BATCH) {
			virtio_mmio_signal_used_locked(&b->t, 0);
			batch = 0;
		}
	}
	if (batch)
		virtio_mmio_signal_used_locked(&b->t, 0);
}

/* The driver kicked the queue (t.lock held). With an I/O thread, only that thread runs requests: a kick from
 * elsewhere (a QueueNotify write that no ioeventfd caught) wakes it. */
static void blk_notify(void *dev, unsigned qi)
{
	struct virtio_blk *b = dev;

	if (qi != 0)
		return;
	if (b->io_running && !pthread_equal(pthread_self(), b->io))
		blk_wake(b->kick_fd);
	else
		blk_run(b);
}

/* The I/O thread: wait for a kick (the queue's ioeventfd) or a stop, then run the queue through the transport,
 * which checks that the queue is active. */
static void *blk_io_main(void *arg)
{
	struct virtio_blk *b = arg;
	struct pollfd p[2] = {{.fd = b->kick_fd, .events = POLLIN}, {.fd = b->stop_fd, .events = POLLIN}};
	uint64_t n;

	while (!b->stop) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (b->stop)
			break;
		if (read(b->kick_fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
			virtio_mmio_kick(&b->t, 0);
	}
	return NULL;
}

int virtio_blk_start(struct virtio_blk *b)
{
	sigset_t all, old;
	int err;

	if (b->kick_fd < 0 || b->io_running)
		return -EINVAL;
	b->stop = false;
	if ((b->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return -errno;
	/* Signals belong to the event loop's signalfd: the thread starts with all of them blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	b->io_running = true; /* before the thread exists: a kick from now on wakes it */
	err = pthread_create(&b->io, NULL, blk_io_main, b);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		b->io_running = false;
		close(b->stop_fd);
		b->stop_fd = -1;
		return -err;
	}
	return 0;
}

int virtio_blk_stop(struct virtio_blk *b, unsigned timeout_ms)
{
	struct timespec ts;
	int err;

	if (!b->io_running)
		return 0;
	b->stop = true;
	blk_wake(b->stop_fd);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if ((err = pthread_timedjoin_np(b->io, NULL, &ts)) != 0)
		return -err; /* ETIMEDOUT: the thread is inside a request's syscall */
	b->io_running = false;
	close(b->stop_fd);
	b->stop_fd = -1;
	return 0;
}

void virtio_blk_attach(struct virtio_blk *b, struct irq_line *irq, const struct gmem *mem)
{
	uint64_t f = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
		     1ULL << VIRTIO_BLK_F_FLUSH | 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES |
		     1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_RING_F_INDIRECT_DESC;

	if (b->ro)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	b->ops = (struct virtio_dev_ops){
	    .device_id = VIRTIO_ID_BLOCK,
	    .features = f,
	    .nqueues = 1,
	    .cfg_size = VIRTIO_BLK_CFG_SIZE,
	    .cfg_read = blk_cfg_read,
	    .cfg_write = NULL, /* config space is read-only: writes ignored */
	    .activate = blk_activate,
	    .reset = blk_reset,
	    .notify = blk_notify,
	    .own_kick = true, /* the I/O thread waits on the queue's ioeventfd */
	};
	virtio_mmio_init(&b->t, &b->ops, b, irq, mem);
	b->attached = true;
}
