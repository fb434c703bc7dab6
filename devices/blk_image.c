/* blk_image.c: raw disk images: open with OFD locks, vectored sector I/O, hole punching, sticky flush, overlay. */
#include "devices/blk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IOV_CHUNK 64 /* iovecs handed to one preadv/pwritev */

/* Written from by the zero-filling fallback; never written to (pwritev only reads iov_base). */
static const uint8_t zero_page[4096];

/* ---- sector bitmap of the snapshot overlay ---- */

static bool map_get(const uint64_t *m, uint64_t s)
{
	return (m[s >> 6] >> (s & 63)) & 1;
}

/* The number of sectors from `s` on (at most `max`, >= 1) that share the state of sector s, which goes to *in. */
static uint64_t map_run(const uint64_t *m, uint64_t s, uint64_t max, bool *in)
{
	uint64_t n = 0;

	*in = map_get(m, s);
	while (n < max) {
		uint64_t i = s + n, diff = (m[i >> 6] ^ (*in ? ~0ULL : 0)) >> (i & 63);

		if (diff) {
			n += (uint64_t)__builtin_ctzll(diff);
			break;
		}
		n += 64 - (i & 63);
	}
	return n < max ? n : max;
}

static void map_set(uint64_t *m, uint64_t s, uint64_t n)
{
	while (n) {
		unsigned bit = s & 63;
		uint64_t take = 64 - bit < n ? 64 - bit : n;
		uint64_t mask = take == 64 ? ~0ULL : ((1ULL << take) - 1) << bit;

		m[s >> 6] |= mask;
		s += take;
		n -= take;
	}
}

/* ---- open and close ---- */

static int image_fdatasync(struct blk_image *im)
{
	return fdatasync(im->fd);
}

static const char *open_why(int err, bool rdonly)
{
	switch (err) {
	case ENOENT:
		return "does not exist";
	case EACCES:
	case EPERM:
		return rdonly ? "is not readable (permission denied)"
			      : "is not writable (permission denied; add ,ro or ,snapshot to use it read-only)";
	case EROFS:
		return "is on a read-only filesystem (add ,ro or ,snapshot)";
	case EISDIR:
		return "is a directory";
	case ENOTDIR:
		return "has a path component that is not a directory";
	default:
		return strerror(err);
	}
}

/* The unlinked, sparse overlay of a snapshot: O_TMPFILE where the filesystem has it, else mkstemp + unlink. */
static int overlay_open(struct blk_image *im)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[PATH_MAX];
	uint64_t words = im->sectors / 64 + 1;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		if (snprintf(tmpl, sizeof(tmpl), "%s/kvmini-snapshot-XXXXXX", dir) >= (int)sizeof(tmpl))
			return -ENAMETOOLONG;
		fd = mkostemp(tmpl, O_CLOEXEC);
		if (fd >= 0)
			unlink(tmpl);
	}
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)(im->sectors << BLK_SECTOR_SHIFT)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	im->ovl_map = calloc(words, sizeof(uint64_t));
	if (!im->ovl_map) {
		close(fd);
		return -ENOMEM;
	}
	im->ovl_fd = fd;
	return 0;
}

int blk_image_open(struct blk_image *im, const char *path, bool ro, bool snapshot, const char **why)
{
	bool rdonly = ro || snapshot;
	struct flock fl = {.l_type = rdonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	struct stat st;
	off_t size;
	int fd, flags, r;

	memset(im, 0, sizeof(*im));
	im->fd = im->ovl_fd = -1;
	im->sync = image_fdatasync;
	im->ro = ro;
	im->snapshot = snapshot && !ro;
	/* O_NONBLOCK so that a FIFO cannot block the open; it is cleared again once we know what we have. */
	fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		*why = open_why(-r, rdonly);
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		*why = strerror(-r);
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		*why = "is a directory";
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		r = -EINVAL;
		*why = "is not a regular file or a block device";
		goto fail;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		r = -errno;
		*why = strerror(-r);
		goto fail;
	}
	/* OFD locks belong to this open file description: two opens in one process conflict as two processes do. */
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		r = -errno;
		if (r == -EAGAIN || r == -EACCES) {
			r = -EAGAIN;
			*why = rdonly ? "is locked for writing by another process" : "is locked by another process";
		} else {
			*why = "cannot be locked (the filesystem does not support OFD locks)";
		}
		goto fail;
	}
	size = S_ISREG(st.st_mode) ? st.st_size : lseek(fd, 0, SEEK_END);
	if (size < 0) {
		r = -errno;
		*why = strerror(-r);
		goto fail;
	}
	if (size < (off_t)BLK_SECTOR_SIZE) {
		r = -EINVAL;
		*why = "is smaller than one 512-byte sector";
		goto fail;
	}
	im->fd = fd;
	im->is_open = true;
	im->sectors = (uint64_t)size >> BLK_SECTOR_SHIFT;
	im->tail = (uint32_t)((uint64_t)size & (BLK_SECTOR_SIZE - 1));
	im->dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
	im->ino = S_ISBLK(st.st_mode) ? 0 : st.st_ino;
	if (im->snapshot) {
		r = overlay_open(im);
		if (r < 0) {
			*why = "cannot have its snapshot overlay created in $TMPDIR or /tmp";
			im->fd = -1;
			im->is_open = false;
			goto fail;
		}
	}
	return 0;
fail:
	close(fd);
	return r;
}

int blk_image_close(struct blk_image *im)
{
	int r = 0;

	if (!im->is_open)
		return 0;
	im->is_open = false;
	if (im->fd >= 0) {
		r = blk_image_flush(im);
		close(im->fd);
		im->fd = -1;
	}
	if (im->ovl_fd >= 0) {
		close(im->ovl_fd);
		im->ovl_fd = -1;
	}
	free(im->ovl_map);
	im->ovl_map = NULL;
	return r;
}

/* ---- vectored transfers ---- */

/* A position inside an iovec array. */
struct iov_cur {
	const struct iovec *iov;
	unsigned n;
	size_t off; /* into iov[0] */
};

/* Take up to `len` bytes (and at most `max` iovecs) from the cursor into dst; *got = bytes taken. */
static unsigned iov_take(struct iov_cur *c, uint64_t len, struct iovec *dst, unsigned max, uint64_t *got)
{
	unsigned k = 0;

	*got = 0;
	while (len && c->n && k < max) {
		size_t avail = c->iov->iov_len - c->off, take = avail < len ? avail : (size_t)len;

		if (take) {
			dst[k].iov_base = (uint8_t *)c->iov->iov_base + c->off;
			dst[k].iov_len = take;
			k++;
		}
		*got += take;
		len -= take;
		c->off += take;
		if (c->off == c->iov->iov_len) {
			c->iov++;
			c->n--;
			c->off = 0;
		}
	}
	return k;
}

/* One preadv/pwritev of v[0..k) (total `len` bytes) at `off`, repeated until all of it is done. */
static int xfer_all(int fd, bool wr, struct iovec *v, unsigned k, uint64_t len, uint64_t off, uint64_t *done)
{
	while (len) {
		ssize_t r = wr ? pwritev(fd, v, (int)k, (off_t)off) : preadv(fd, v, (int)k, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EFBIG || errno == ENOSPC || errno == EDQUOT ? -ENOSPC : -EIO;
		if (r == 0)
			return -EIO; /* end of file inside the capacity: the image shrank under us */
		*done += (uint64_t)r;
		len -= (uint64_t)r;
		off += (uint64_t)r;
		while (r > 0) { /* drop what was transferred from the front of v */
			if ((size_t)r >= v->iov_len) {
				r -= (ssize_t)v->iov_len;
				v++;
				k--;
			} else {
				v->iov_base = (uint8_t *)v->iov_base + r;
				v->iov_len -= (size_t)r;
				r = 0;
			}
		}
	}
	return 0;
}

/* Move `len` bytes between fd at `off` and the cursor's buffers. */
static int xfer(int fd, bool wr, struct iov_cur *c, uint64_t len, uint64_t off, uint64_t *done)
{
	while (len) {
		struct iovec v[IOV_CHUNK];
		uint64_t got;
		unsigned k = iov_take(c, len, v, IOV_CHUNK, &got);
		int r;

		if (!got)
			return -EINVAL; /* the iovecs hold fewer bytes than the caller said */
		r = xfer_all(fd, wr, v, k, got, off, done);
		if (r < 0)
			return r;
		len -= got;
		off += got;
	}
	return 0;
}

static bool range_ok(const struct blk_image *im, uint64_t sector, uint64_t n)
{
	uint64_t end;

	return im->fd >= 0 && !__builtin_add_overflow(sector, n, &end) && end <= im->sectors;
}

int blk_image_read(struct blk_image *im, uint64_t sector, uint64_t n, const struct iovec *iov, unsigned niov,
		   uint64_t *done)
{
	struct iov_cur c = {.iov = iov, .n = niov};

	*done = 0;
	if (!range_ok(im, sector, n))
		return -EINVAL;
	if (!im->snapshot)
		return xfer(im->fd, false, &c, n << BLK_SECTOR_SHIFT, sector << BLK_SECTOR_SHIFT, done);
	while (n) {
		bool in;
		uint64_t run = map_run(im->ovl_map, sector, n, &in);
		int r = xfer(in ? im->ovl_fd : im->fd, false, &c, run << BLK_SECTOR_SHIFT, sector << BLK_SECTOR_SHIFT,
			     done);

		if (r < 0)
			return r;
		sector += run;
		n -= run;
	}
	return 0;
}

int blk_image_write(struct blk_image *im, uint64_t sector, uint64_t n, const struct iovec *iov, unsigned niov,
		    uint64_t *done)
{
	struct iov_cur c = {.iov = iov, .n = niov};
	int r;

	*done = 0;
	if (im->ro)
		return -EROFS;
	if (!range_ok(im, sector, n))
		return -EINVAL;
	r = xfer(im->snapshot ? im->ovl_fd : im->fd, true, &c, n << BLK_SECTOR_SHIFT, sector << BLK_SECTOR_SHIFT, done);
	if (r == 0 && im->snapshot)
		map_set(im->ovl_map, sector, n);
	return r;
}

/* ---- discard, write zeroes, flush ---- */

static int write_zero_bytes(int fd, uint64_t off, uint64_t len)
{
	const uint64_t max = IOV_CHUNK * sizeof(zero_page);
	uint64_t done = 0;

	while (len) {
		struct iovec v[IOV_CHUNK];
		uint64_t chunk = len < max ? len : max;
		unsigned k = 0;
		int r;

		for (uint64_t left = chunk; left; k++) {
			size_t take = left < sizeof(zero_page) ? (size_t)left : sizeof(zero_page);

			v[k] = (struct iovec){.iov_base = (void *)zero_page, .iov_len = take};
			left -= take;
		}
		r = xfer_all(fd, true, v, k, chunk, off, &done);
		if (r < 0)
			return r;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

static int fallocate_errno(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EFBIG ? -ENOSPC : -EIO;
}

/* Make [off, off + len) of fd read as zeros: a hole when `unmap`, else allocated zeros, else written zeros. */
static int zero_range(int fd, uint64_t off, uint64_t len, bool unmap)
{
	if (unmap && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (unmap && errno != EOPNOTSUPP && errno != ENOSYS)
		return fallocate_errno(errno);
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return fallocate_errno(errno);
	return write_zero_bytes(fd, off, len);
}

int blk_image_discard(struct blk_image *im, uint64_t sector, uint64_t n)
{
	uint64_t off = sector << BLK_SECTOR_SHIFT, len = n << BLK_SECTOR_SHIFT;

	if (im->ro)
		return -EROFS;
	if (!range_ok(im, sector, n))
		return -EINVAL;
	if (!n)
		return 0;
	if (im->snapshot) {
		/* The overlay must hide the image's old data: the range reads as zeros from now on. */
		int r = zero_range(im->ovl_fd, off, len, true);

		if (r == 0)
			map_set(im->ovl_map, sector, n);
		return r;
	}
	if (fallocate(im->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	/* Discard is a hint: a filesystem that cannot punch holes keeps the data, which the spec allows. */
	return errno == EOPNOTSUPP || errno == ENOSYS ? 0 : fallocate_errno(errno);
}

int blk_image_write_zeroes(struct blk_image *im, uint64_t sector, uint64_t n, bool unmap)
{
	int r;

	if (im->ro)
		return -EROFS;
	if (!range_ok(im, sector, n))
		return -EINVAL;
	if (!n)
		return 0;
	r = zero_range(im->snapshot ? im->ovl_fd : im->fd, sector << BLK_SECTOR_SHIFT, n << BLK_SECTOR_SHIFT, unmap);
	if (r == 0 && im->snapshot)
		map_set(im->ovl_map, sector, n);
	return r;
}

int blk_image_flush(struct blk_image *im)
{
	if (im->fd < 0 || im->ro || im->snapshot)
		return 0; /* nothing of ours to make durable: the overlay is thrown away at exit */
	if (im->sync_failed)
		return -EIO;
	if (im->sync(im) < 0) {
		im->sync_failed = true;
		return -EIO;
	}
	return 0;
}
