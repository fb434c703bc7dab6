/* test_cpio.c: the newc writer, checked by parsing its output here and, once, by extracting it with cpio(1). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/cpio.h"

struct ent {
	char name[4200];
	uint32_t ino, mode, uid, gid, nlink, mtime, size;
	const uint8_t *data;
};

static uint32_t hex8(const uint8_t *p)
{
	char s[9];
	char *end;
	unsigned long v;

	memcpy(s, p, 8);
	s[8] = '\0';
	v = strtoul(s, &end, 16);
	assert_true(end == s + 8);
	return (uint32_t)v;
}

/* Parse a whole archive as the kernel would, checking every field we promise; returns the entries before the
 * trailer. */
static unsigned parse(const struct cpio *c, struct ent *e, unsigned max)
{
	size_t off = 0;
	unsigned n = 0;

	assert_int_equal(c->len % 512, 0);
	for (;;) {
		struct ent x;
		uint32_t namesize;

		assert_true(off + 110 <= c->len);
		assert_memory_equal(c->buf + off, "070701", 6);
		x.ino = hex8(c->buf + off + 6);
		x.mode = hex8(c->buf + off + 14);
		x.uid = hex8(c->buf + off + 22);
		x.gid = hex8(c->buf + off + 30);
		x.nlink = hex8(c->buf + off + 38);
		x.mtime = hex8(c->buf + off + 46);
		x.size = hex8(c->buf + off + 54);
		for (int f = 7; f < 11; f++)
			assert_int_equal(hex8(c->buf + off + 6 + 8 * f), 0); /* dev and rdev */
		namesize = hex8(c->buf + off + 94);
		assert_int_equal(hex8(c->buf + off + 102), 0); /* check */
		assert_true(namesize >= 2 && namesize <= sizeof(x.name));
		assert_true(off + 110 + namesize <= c->len);
		assert_int_equal(c->buf[off + 110 + namesize - 1], 0);
		memcpy(x.name, c->buf + off + 110, namesize);
		assert_int_equal(strlen(x.name) + 1, namesize);
		off = (off + 110 + namesize + 3) & ~(size_t)3;
		x.data = c->buf + off;
		assert_true(off + x.size <= c->len);
		off = (off + x.size + 3) & ~(size_t)3;
		assert_int_equal(x.uid, 0);
		assert_int_equal(x.gid, 0);
		assert_int_equal(x.mtime, 0);
		if (!strcmp(x.name, "TRAILER!!!")) {
			for (size_t i = off; i < c->len; i++)
				assert_int_equal(c->buf[i], 0);
			return n;
		}
		assert_true(x.name[0] != '/');
		assert_int_equal(x.nlink, S_ISDIR(x.mode) ? 2 : 1);
		for (unsigned i = 0; i < n; i++)
			assert_int_not_equal(e[i].ino, x.ino);
		assert_true(n < max);
		e[n++] = x;
	}
}

static const struct ent *find(const struct ent *e, unsigned n, const char *name)
{
	const struct ent *r = NULL;

	for (unsigned i = 0; i < n; i++) {
		if (!strcmp(e[i].name, name))
			r = &e[i]; /* the last one: the one the unpacker keeps */
	}
	return r;
}

static unsigned count(const struct ent *e, unsigned n, const char *name)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		k += !strcmp(e[i].name, name);
	return k;
}

static void test_basic(void **state)
{
	struct cpio c;
	struct ent e[32];
	const struct ent *x;
	unsigned n;

	(void)state;
	cpio_init(&c);
	assert_int_equal(cpio_dir(&c, "/a/b/c", 0700), 0);
	assert_int_equal(cpio_file(&c, "/a/b/f", 0644, "hello", 5), 0);
	assert_int_equal(cpio_file(&c, "a//b/./g", 0600, "", 0), 0);
	assert_int_equal(cpio_symlink(&c, "l", "a/b/f"), 0);
	assert_int_equal(cpio_finish(&c), 0);
	n = parse(&c, e, 32);
	assert_int_equal(n, 6);
	/* parents first, each once, with 0755 */
	assert_string_equal(e[0].name, "a");
	assert_int_equal(e[0].mode, S_IFDIR | 0755);
	assert_string_equal(e[1].name, "a/b");
	assert_string_equal(e[2].name, "a/b/c");
	assert_int_equal(e[2].mode, S_IFDIR | 0700);
	x = find(e, n, "a/b/f");
	assert_non_null(x);
	assert_int_equal(x->mode, S_IFREG | 0644);
	assert_int_equal(x->size, 5);
	assert_memory_equal(x->data, "hello", 5);
	x = find(e, n, "a/b/g");
	assert_non_null(x);
	assert_int_equal(x->size, 0);
	x = find(e, n, "l");
	assert_non_null(x);
	assert_int_equal(x->mode, S_IFLNK | 0777);
	assert_int_equal(x->size, 5);
	assert_memory_equal(x->data, "a/b/f", 5);
	assert_int_equal(cpio_lookup(&c, "/a/b"), S_IFDIR | 0755);
	assert_int_equal(cpio_lookup(&c, "a/b/f"), S_IFREG | 0644);
	assert_int_equal(cpio_lookup(&c, "l"), S_IFLNK | 0777);
	assert_int_equal(cpio_lookup(&c, "nope"), 0);
	/* finished: a second finish does nothing, adding more is refused */
	n = (unsigned)c.len;
	assert_int_equal(cpio_finish(&c), 0);
	assert_int_equal(c.len, n);
	assert_int_equal(cpio_file(&c, "late", 0644, "x", 1), -EINVAL);
	assert_int_equal(cpio_finish(&c), -EINVAL);
	cpio_free(&c);
	assert_null(c.buf);
}

static void test_dirs_once(void **state)
{
	struct cpio c;
	struct ent e[32];
	unsigned n;

	(void)state;
	cpio_init(&c);
	assert_int_equal(cpio_dir(&c, "x", 0755), 0);
	assert_int_equal(cpio_dir(&c, "x/", 0755), 0);
	assert_int_equal(cpio_file(&c, "x/y/z", 0644, "1", 1), 0);
	assert_int_equal(cpio_file(&c, "x/y/w", 0644, "2", 1), 0);
	assert_int_equal(cpio_dir(&c, "x/y", 0755), 0);
	/* a file written twice: both entries, the later wins in the unpacker */
	assert_int_equal(cpio_file(&c, "x/y/z", 0600, "3", 1), 0);
	/* another mode: written again, the unpacker chmods */
	assert_int_equal(cpio_dir(&c, "x", 01777), 0);
	/* a parent that is a symlink stays one */
	assert_int_equal(cpio_symlink(&c, "lib", "usr/lib"), 0);
	assert_int_equal(cpio_file(&c, "lib/libz.so", 0644, "z", 1), 0);
	assert_int_equal(cpio_finish(&c), 0);
	n = parse(&c, e, 32);
	assert_int_equal(count(e, n, "x"), 2);
	assert_int_equal(find(e, n, "x")->mode, S_IFDIR | 01777);
	assert_int_equal(count(e, n, "x/y"), 1);
	assert_int_equal(count(e, n, "x/y/z"), 2);
	assert_memory_equal(find(e, n, "x/y/z")->data, "3", 1);
	assert_int_equal(count(e, n, "lib"), 1);
	assert_int_equal(find(e, n, "lib")->mode, S_IFLNK | 0777);
	assert_non_null(find(e, n, "lib/libz.so"));
	cpio_free(&c);
}

static void expect_reject(const char *path, int err)
{
	struct cpio c;

	cpio_init(&c);
	assert_int_equal(cpio_file(&c, path, 0644, "x", 1), err);
	assert_int_equal(c.len, 0);
	/* sticky: nothing more is written, finish reports it too */
	assert_int_equal(cpio_dir(&c, "ok", 0755), err);
	assert_int_equal(cpio_finish(&c), err);
	assert_int_equal(c.len, 0);
	cpio_free(&c);
}

static void test_reject(void **state)
{
	char name[5000];
	struct cpio c;

	(void)state;
	expect_reject("", -EINVAL);
	expect_reject("/", -EINVAL);
	expect_reject("//./", -EINVAL);
	expect_reject("..", -EINVAL);
	expect_reject("/a/../b", -EINVAL);
	expect_reject("a/..", -EINVAL);
	memset(name, 'n', 256);
	name[256] = '\0';
	expect_reject(name, -ENAMETOOLONG);
	name[255] = '\0'; /* 255 is fine */
	cpio_init(&c);
	assert_int_equal(cpio_file(&c, name, 0644, "x", 1), 0);
	cpio_free(&c);
	/* a whole path over 4095 bytes */
	for (int i = 0; i < 4100; i++)
		name[i] = i % 100 == 99 ? '/' : 'p';
	name[4100] = '\0';
	expect_reject(name, -ENAMETOOLONG);
	/* "..." and ".x" are names like any other */
	cpio_init(&c);
	assert_int_equal(cpio_file(&c, "a/.../.x", 0644, "x", 1), 0);
	/* symlinks need a target; a file cannot be a parent */
	assert_int_equal(cpio_file(&c, "f", 0644, "x", 1), 0);
	assert_int_equal(cpio_file(&c, "f/g", 0644, "x", 1), -ENOTDIR);
	cpio_free(&c);
	cpio_init(&c);
	assert_int_equal(cpio_symlink(&c, "l", ""), -EINVAL);
	cpio_free(&c);
}

static void test_efbig(void **state)
{
	struct cpio c;
	int fd = memfd_create("cpio", 0);

	(void)state;
	assert_true(fd >= 0);
	cpio_init(&c);
	/* the size is checked before the data is touched */
	assert_int_equal(cpio_file(&c, "big", 0644, "", 0x100000000ULL), -EFBIG);
	assert_int_equal(c.len, 0);
	cpio_free(&c);
	cpio_init(&c);
	assert_int_equal(cpio_file_fd(&c, "big", 0644, fd, 0x100000000ULL), -EFBIG);
	cpio_free(&c);
	close(fd);
}

static void test_file_fd(void **state)
{
	struct cpio c;
	struct ent e[8];
	uint8_t data[10007];
	int fd = memfd_create("cpio", 0);
	size_t before;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	cpio_init(&c);
	assert_int_equal(cpio_file_fd(&c, "/d/f", 0755, fd, sizeof(data)), 0);
	assert_int_equal(cpio_finish(&c), 0);
	assert_int_equal(parse(&c, e, 8), 2);
	assert_int_equal(e[1].mode, S_IFREG | 0755);
	assert_int_equal(e[1].size, sizeof(data));
	assert_memory_equal(e[1].data, data, sizeof(data));
	cpio_free(&c);
	/* a file shorter than promised (it shrank): -EIO, its entry is gone */
	cpio_init(&c);
	assert_int_equal(cpio_dir(&c, "d", 0755), 0);
	before = c.len;
	assert_int_equal(cpio_file_fd(&c, "d/f", 0644, fd, sizeof(data) + 1), -EIO);
	assert_int_equal(c.len, before);
	assert_int_equal(cpio_lookup(&c, "d/f"), 0);
	cpio_free(&c);
	close(fd);
}

static void build_sample(struct cpio *c, const uint8_t *bin, size_t binlen)
{
	cpio_init(c);
	assert_int_equal(cpio_dir(c, "etc", 0755), 0);
	assert_int_equal(cpio_file(c, "etc/hostname", 0644, "guest\n", 6), 0);
	assert_int_equal(cpio_file(c, "usr/bin/prog", 0755, bin, binlen), 0);
	assert_int_equal(cpio_symlink(c, "bin", "usr/bin"), 0);
	assert_int_equal(cpio_symlink(c, "etc/abs", "/etc/hostname"), 0);
	assert_int_equal(cpio_dir(c, "tmp", 01777), 0);
	assert_int_equal(cpio_file(c, "empty", 0600, NULL, 0), 0);
	assert_int_equal(cpio_finish(c), 0);
}

static void check_file(const char *dir, const char *name, mode_t mode, const void *data, size_t len)
{
	char path[512];
	struct stat st;
	uint8_t *buf = malloc(len + 1);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode, mode);
	assert_int_equal(st.st_size, len);
	assert_int_equal(st.st_mtime, 0); /* -m kept our mtime */
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, len + 1, f), len);
	fclose(f);
	assert_memory_equal(buf, data, len);
	free(buf);
}

/* The real cpio(1) agrees with our reading of the format. */
static void test_extract(void **state)
{
	char dir[] = "/tmp/test_cpio.XXXXXX", path[512], cmd[1024], target[64];
	uint8_t bin[3001];
	struct cpio c, c2;
	struct stat st;
	ssize_t n;
	FILE *f;

	(void)state;
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i ^ (i >> 3));
	build_sample(&c, bin, sizeof(bin));
	/* reproducible: the same calls give the same bytes */
	build_sample(&c2, bin, sizeof(bin));
	assert_int_equal(c.len, c2.len);
	assert_memory_equal(c.buf, c2.buf, c.len);
	cpio_free(&c2);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s.cpio", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(c.buf, 1, c.len, f), c.len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && umask 0 && cpio -idm --quiet < %s", dir, path);
	assert_int_equal(system(cmd), 0);
	check_file(dir, "etc/hostname", S_IFREG | 0644, "guest\n", 6);
	check_file(dir, "usr/bin/prog", S_IFREG | 0755, bin, sizeof(bin));
	check_file(dir, "empty", S_IFREG | 0600, "", 0);
	snprintf(path, sizeof(path), "%s/bin", dir);
	n = readlink(path, target, sizeof(target));
	assert_int_equal(n, 7);
	assert_memory_equal(target, "usr/bin", 7);
	snprintf(path, sizeof(path), "%s/etc/abs", dir);
	n = readlink(path, target, sizeof(target));
	assert_int_equal(n, 13);
	assert_memory_equal(target, "/etc/hostname", 13);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode, S_IFDIR | 01777);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s.cpio", dir, dir);
	assert_int_equal(system(cmd), 0);
	cpio_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic), cmocka_unit_test(test_dirs_once), cmocka_unit_test(test_reject),
	    cmocka_unit_test(test_efbig), cmocka_unit_test(test_file_fd),   cmocka_unit_test(test_extract),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
