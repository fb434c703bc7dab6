/* cpio.c: a cpio "newc" archive writer: checked paths, parents made once, reproducible headers, a growing buffer. */
#include "vmm/cpio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vmm/io.h"

#define HDR_LEN	 110 /* "070701" and 13 fields of 8 hex digits */
#define TRAILER	 "TRAILER!!!"
#define PERM	 07777U
#define DIR_MODE 0755U

void cpio_init(struct cpio *c)
{
	memset(c, 0, sizeof(*c));
}

void cpio_free(struct cpio *c)
{
	for (size_t i = 0; i < c->names_cap; i++)
		free(c->names[i].path);
	free(c->names);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

static int fail(struct cpio *c, int err)
{
	if (!c->err)
		c->err = err;
	return c->err;
}

/* The archive form of path: no leading '/', no empty or "." components. ".." is refused rather than resolved: an
 * archive path must not depend on what the unpacker already has on disk. */
static int path_norm(const char *in, char *out)
{
	size_t n = 0;

	while (*in) {
		const char *end;
		size_t clen;

		while (*in == '/')
			in++;
		end = strchrnul(in, '/');
		clen = (size_t)(end - in);
		if (clen == 0 || (clen == 1 && in[0] == '.')) {
			in = end;
			continue;
		}
		if (clen == 2 && in[0] == '.' && in[1] == '.')
			return -EINVAL;
		if (clen > CPIO_NAME_MAX)
			return -ENAMETOOLONG;
		if (n + (n ? 1 : 0) + clen > CPIO_PATH_MAX)
			return -ENAMETOOLONG;
		if (n)
			out[n++] = '/';
		memcpy(out + n, in, clen);
		n += clen;
		in = end;
	}
	out[n] = '\0';
	return n ? 0 : -EINVAL;
}

static uint32_t path_hash(const char *s)
{
	uint32_t h = 2166136261U; /* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619U;
	return h;
}

static struct cpio_name *name_slot(const struct cpio *c, const char *path, uint32_t h)
{
	size_t mask = c->names_cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct cpio_name *n = &c->names[i];

		if (!n->path || (n->hash == h && !strcmp(n->path, path)))
			return n;
	}
}

static int name_grow(struct cpio *c)
{
	size_t cap = c->names_cap ? c->names_cap * 2 : 64;
	struct cpio_name *old = c->names, *t = calloc(cap, sizeof(*t));
	size_t ocap = c->names_cap;

	if (!t)
		return -ENOMEM;
	c->names = t;
	c->names_cap = cap;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i].path)
			*name_slot(c, old[i].path, old[i].hash) = old[i];
	}
	free(old);
	return 0;
}

/* Record (or update) what the archive holds at a normalized path. */
static int name_set(struct cpio *c, const char *path, uint32_t mode)
{
	uint32_t h = path_hash(path);
	struct cpio_name *n;

	if ((c->nnames + 1) * 2 > c->names_cap && name_grow(c) < 0)
		return -ENOMEM;
	n = name_slot(c, path, h);
	if (!n->path) {
		n->path = strdup(path);
		if (!n->path)
			return -ENOMEM;
		n->hash = h;
		c->nnames++;
	}
	n->mode = mode;
	return 0;
}

static uint32_t name_get(const struct cpio *c, const char *path)
{
	struct cpio_name *n;

	if (!c->names_cap)
		return 0;
	n = name_slot(c, path, path_hash(path));
	return n->path ? n->mode : 0;
}

uint32_t cpio_lookup(const struct cpio *c, const char *path)
{
	char p[CPIO_PATH_MAX + 1];

	if (path_norm(path, p) < 0)
		return 0;
	return name_get(c, p);
}

static int reserve(struct cpio *c, size_t more)
{
	size_t need, cap;
	uint8_t *b;

	if (__builtin_add_overflow(c->len, more, &need))
		return -ENOMEM;
	if (need <= c->cap)
		return 0;
	cap = c->cap ? c->cap : 4096;
	while (cap < need) {
		if (__builtin_mul_overflow(cap, 2, &cap))
			return -ENOMEM;
	}
	b = realloc(c->buf, cap);
	if (!b)
		return -ENOMEM;
	c->buf = b;
	c->cap = cap;
	return 0;
}

static void pad4(struct cpio *c)
{
	while (c->len & 3)
		c->buf[c->len++] = 0;
}

/* Header and name of one entry; the caller appends size bytes of data and pads. Reserves room for them too. */
static int put_header(struct cpio *c, const char *name, uint32_t ino, uint32_t mode, uint32_t nlink, uint64_t size)
{
	size_t nlen = strlen(name) + 1;
	char hdr[HDR_LEN + 1];
	int err;

	if (size > CPIO_SIZE_MAX)
		return -EFBIG;
	if ((err = reserve(c, HDR_LEN + nlen + 3 + (size_t)size + 3)) < 0)
		return err;
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0U, 0U,
		 nlink, 0U, (uint32_t)size, 0U, 0U, 0U, 0U, (uint32_t)nlen, 0U);
	memcpy(c->buf + c->len, hdr, HDR_LEN);
	memcpy(c->buf + c->len + HDR_LEN, name, nlen);
	c->len += HDR_LEN + nlen;
	pad4(c);
	return 0;
}

/* One complete entry with in-memory data, recorded in the name table. */
static int put_entry(struct cpio *c, const char *path, uint32_t mode, const void *data, size_t size)
{
	size_t start = c->len;
	int err = put_header(c, path, c->ino + 1, mode, S_ISDIR(mode) ? 2 : 1, size);

	if (err < 0)
		return err;
	if (size)
		memcpy(c->buf + c->len, data, size);
	c->len += size;
	pad4(c);
	if ((err = name_set(c, path, mode)) < 0) {
		c->len = start;
		return err;
	}
	c->ino++;
	return 0;
}

/* Directories for every missing parent of a normalized path. One that exists as a symlink is kept (it may point
 * at a directory: merged /usr); one that exists as a regular file cannot hold anything. */
static int make_parents(struct cpio *c, char *path)
{
	for (char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		uint32_t m;
		int err = 0;

		*s = '\0';
		m = name_get(c, path);
		if (m && !S_ISDIR(m) && !S_ISLNK(m))
			err = -ENOTDIR;
		else if (!m)
			err = put_entry(c, path, S_IFDIR | DIR_MODE, NULL, 0);
		*s = '/';
		if (err < 0)
			return err;
	}
	return 0;
}

/* The common start of every add: sticky error, finished archive, path check, parents. */
static int begin(struct cpio *c, const char *path, char *p)
{
	int err;

	if (c->err)
		return c->err;
	if (c->done)
		return fail(c, -EINVAL);
	if ((err = path_norm(path, p)) < 0)
		return fail(c, err);
	if ((err = make_parents(c, p)) < 0)
		return fail(c, err);
	return 0;
}

int cpio_dir(struct cpio *c, const char *path, uint32_t mode)
{
	char p[CPIO_PATH_MAX + 1];
	int err = begin(c, path, p);

	if (err < 0)
		return err;
	mode = S_IFDIR | (mode & PERM);
	/* Already there with the same mode: nothing to do. With another mode, the entry is written again: the
	 * kernel's unpacker chmods an existing directory to the later entry's mode. */
	if (name_get(c, p) == mode)
		return 0;
	if ((err = put_entry(c, p, mode, NULL, 0)) < 0)
		return fail(c, err);
	return 0;
}

int cpio_file(struct cpio *c, const char *path, uint32_t mode, const void *data, size_t len)
{
	char p[CPIO_PATH_MAX + 1];
	int err;

	if (len > CPIO_SIZE_MAX && !c->err)
		return fail(c, -EFBIG);
	if ((err = begin(c, path, p)) < 0)
		return err;
	if ((err = put_entry(c, p, S_IFREG | (mode & PERM), data, len)) < 0)
		return fail(c, err);
	return 0;
}

int cpio_file_fd(struct cpio *c, const char *path, uint32_t mode, int fd, uint64_t len)
{
	char p[CPIO_PATH_MAX + 1];
	size_t start;
	int err;

	if (len > CPIO_SIZE_MAX && !c->err)
		return fail(c, -EFBIG);
	if ((err = begin(c, path, p)) < 0)
		return err;
	start = c->len;
	mode = S_IFREG | (mode & PERM);
	if ((err = put_header(c, p, c->ino + 1, mode, 1, len)) < 0)
		return fail(c, err);
	/* put_header reserved room for the data: read straight into the archive. */
	if ((err = io_pread_full(fd, c->buf + c->len, len, 0)) < 0) {
		c->len = start;
		return fail(c, err);
	}
	c->len += (size_t)len;
	pad4(c);
	if ((err = name_set(c, p, mode)) < 0) {
		c->len = start;
		return fail(c, err);
	}
	c->ino++;
	return 0;
}

int cpio_symlink(struct cpio *c, const char *path, const char *target)
{
	char p[CPIO_PATH_MAX + 1];
	size_t tlen = strlen(target);
	int err;

	if ((tlen == 0 || tlen > CPIO_PATH_MAX) && !c->err)
		return fail(c, tlen ? -ENAMETOOLONG : -EINVAL);
	if ((err = begin(c, path, p)) < 0)
		return err;
	if ((err = put_entry(c, p, S_IFLNK | 0777, target, tlen)) < 0)
		return fail(c, err);
	return 0;
}

int cpio_finish(struct cpio *c)
{
	int err;

	if (c->err)
		return c->err;
	if (c->done)
		return 0;
	if ((err = put_header(c, TRAILER, 0, 0, 1, 0)) < 0 || (err = reserve(c, 512)) < 0)
		return fail(c, err);
	/* Padding to a 512-byte block, as cpio(1) does: the kernel skips zeros between archives. */
	while (c->len % 512)
		c->buf[c->len++] = 0;
	c->done = true;
	return 0;
}
