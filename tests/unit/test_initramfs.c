/* test_initramfs.c: initramfs_build on real host binaries, fake library trees (the root hook, a fake ld.so.cache),
 * scripts, --add trees, broken ELF files, and fake kernel modules built here with objcopy. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/cpio.h"
#include "vmm/initramfs.h"

#define INTERP	"/lib64/ld-linux-x86-64.so.2"
#define LIBC	"/lib/x86_64-linux-gnu/libc.so.6"
#define MAX_ENT 4096

static const char init_bytes[] = "\177ELF fake init";

struct ent {
	const char *name;
	uint32_t mode, size;
	const uint8_t *data;
};

struct arc {
	struct cpio c;
	struct ent e[MAX_ENT];
	unsigned n;
	char why[512];
	char dir[64]; /* a scratch directory, removed by teardown */
};

static uint32_t hex8(const uint8_t *p)
{
	char s[9];

	memcpy(s, p, 8);
	s[8] = '\0';
	return (uint32_t)strtoul(s, NULL, 16);
}

static void parse(struct arc *a)
{
	size_t off = 0;

	a->n = 0;
	for (;;) {
		struct ent x;
		uint32_t namesize;

		assert_true(off + 110 <= a->c.len);
		assert_memory_equal(a->c.buf + off, "070701", 6);
		x.mode = hex8(a->c.buf + off + 14);
		x.size = hex8(a->c.buf + off + 54);
		namesize = hex8(a->c.buf + off + 94);
		assert_true(off + 110 + namesize <= a->c.len);
		assert_int_equal(a->c.buf[off + 110 + namesize - 1], 0);
		x.name = (const char *)a->c.buf + off + 110;
		off = (off + 110 + namesize + 3) & ~(size_t)3;
		x.data = a->c.buf + off;
		assert_true(off + x.size <= a->c.len);
		off = (off + x.size + 3) & ~(size_t)3;
		if (!strcmp(x.name, "TRAILER!!!"))
			return;
		assert_true(a->n < MAX_ENT);
		a->e[a->n++] = x;
	}
}

static const struct ent *find(const struct arc *a, const char *name)
{
	const struct ent *r = NULL;

	for (unsigned i = 0; i < a->n; i++) {
		if (!strcmp(a->e[i].name, name))
			r = &a->e[i];
	}
	return r;
}

static unsigned count_base(const struct arc *a, const char *base)
{
	unsigned k = 0;

	for (unsigned i = 0; i < a->n; i++) {
		const char *s = strrchr(a->e[i].name, '/');

		k += !strcmp(s ? s + 1 : a->e[i].name, base);
	}
	return k;
}

static const struct ent *find_base(const struct arc *a, const char *base)
{
	for (unsigned i = 0; i < a->n; i++) {
		const char *s = strrchr(a->e[i].name, '/');

		if (!strcmp(s ? s + 1 : a->e[i].name, base))
			return &a->e[i];
	}
	return NULL;
}

static unsigned count_regular(const struct arc *a)
{
	unsigned k = 0;

	for (unsigned i = 0; i < a->n; i++)
		k += S_ISREG(a->e[i].mode);
	return k;
}

static void assert_reg(const struct arc *a, const char *name)
{
	const struct ent *e = find(a, name);

	if (!e || !S_ISREG(e->mode))
		fail_msg("%s: not a regular file in the archive", name);
}

static void assert_elf(const struct arc *a, const char *name)
{
	const struct ent *e = find(a, name);

	assert_reg(a, name);
	assert_true(e->size > 64);
	assert_memory_equal(e->data, "\177ELF", 4);
}

static void assert_link(const struct arc *a, const char *name, const char *target)
{
	const struct ent *e = find(a, name);

	if (!e || !S_ISLNK(e->mode))
		fail_msg("%s: not a symlink in the archive", name);
	assert_int_equal(e->size, strlen(target));
	assert_memory_equal(e->data, target, e->size);
}

/* Build with spec (init filled in); on success parse the result. */
static int build(struct arc *a, struct initramfs_spec *s)
{
	int err;

	cpio_free(&a->c);
	cpio_init(&a->c);
	s->init = init_bytes;
	s->init_len = sizeof(init_bytes);
	a->why[0] = '\0';
	err = initramfs_build(s, &a->c, a->why, sizeof(a->why));
	if (err == 0)
		parse(a);
	else
		assert_true(strlen(a->why) > 0);
	return err;
}

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static void put(const char *path, const void *data, size_t len, mode_t mode)
{
	char dir[4096];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", path);
	sh("mkdir -p '%s'", dirname(dir));
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	struct arc *a = calloc(1, sizeof(*a));

	if (!a)
		return -1;
	strcpy(a->dir, "/tmp/test_initramfs.XXXXXX");
	if (!mkdtemp(a->dir))
		return -1;
	unsetenv("LD_LIBRARY_PATH");
	setenv("PATH", "/usr/bin:/bin", 1);
	*state = a;
	return 0;
}

static int teardown(void **state)
{
	struct arc *a = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
	if (system(cmd) != 0)
		return -1;
	cpio_free(&a->c);
	free(a);
	return 0;
}

static void test_base(void **state)
{
	struct arc *a = *state;
	struct initramfs_spec s = {0};
	const struct ent *e;

	assert_int_equal(build(a, &s), 0);
	assert_int_equal(a->c.len % 512, 0);
	for (const char *const *d = (const char *const[]){"dev", "proc", "sys", "run", "etc", "kvmini", NULL}; *d; d++)
		assert_true(S_ISDIR(find(a, *d)->mode));
	assert_int_equal(find(a, "tmp")->mode, S_IFDIR | 01777);
	e = find(a, "init");
	assert_non_null(e);
	assert_int_equal(e->mode, S_IFREG | 0755);
	assert_int_equal(e->size, sizeof(init_bytes));
	assert_memory_equal(e->data, init_bytes, sizeof(init_bytes));
	assert_null(find(a, "kvmini/cmd"));
	assert_null(find(a, "kvmini/modules"));
	assert_int_equal(count_regular(a), 1);
	/* no init: refused */
	cpio_free(&a->c);
	cpio_init(&a->c);
	assert_int_equal(initramfs_build(&s, &a->c, a->why, sizeof(a->why)), 0);
	s.init = NULL;
	cpio_free(&a->c);
	cpio_init(&a->c);
	s.init_len = 0;
	assert_int_equal(initramfs_build(&s, &a->c, a->why, sizeof(a->why)), -EINVAL);
}

/* A static program: just itself, and the command line as NUL-ended strings. */
static void test_cmd_static(void **state)
{
	struct arc *a = *state;
	char *argv[] = {"/bin/busybox", "sh", "-c", "exit 7"};
	struct initramfs_spec s = {.argv = argv, .argc = 4};
	static const char cmd[] = "/bin/busybox\0sh\0-c\0exit 7";
	const struct ent *e;

	if (access("/bin/busybox", X_OK))
		skip();
	assert_int_equal(build(a, &s), 0);
	e = find(a, "kvmini/cmd");
	assert_non_null(e);
	assert_int_equal(e->size, sizeof(cmd));
	assert_memory_equal(e->data, cmd, sizeof(cmd));
	assert_elf(a, "bin/busybox");
	assert_int_equal(find(a, "bin/busybox")->mode & 0111, 0111);
	assert_int_equal(count_regular(a), 3); /* init, cmd, busybox: no interpreter, no libraries */
}

/* A dynamically linked one: the interpreter at its PT_INTERP path, libc, each once. */
static void test_add_bin_dynamic(void **state)
{
	struct arc *a = *state;
	const char *bins[] = {"/usr/bin/env", "/usr/bin/env"};
	struct initramfs_spec s = {.bins = bins, .nbins = 2};
	const struct ent *libc;
	char host[4096];
	struct stat st;

	assert_int_equal(build(a, &s), 0);
	assert_elf(a, "usr/bin/env");
	assert_elf(a, INTERP + 1);
	assert_int_equal(count_base(a, "ld-linux-x86-64.so.2"), 1); /* libc's DT_NEEDED matched the interp's soname */
	assert_int_equal(count_base(a, "libc.so.6"), 1);
	assert_int_equal(count_base(a, "env"), 1);
	libc = find_base(a, "libc.so.6");
	assert_elf(a, libc->name);
	snprintf(host, sizeof(host), "/%s", libc->name);
	assert_int_equal(stat(host, &st), 0);
	assert_int_equal(libc->size, st.st_size);
	assert_int_equal(stat(INTERP, &st), 0);
	assert_int_equal(find(a, INTERP + 1)->size, st.st_size); /* the content behind the symlink */
}

static void test_cmd_lookup(void **state)
{
	struct arc *a = *state;
	char *argv[] = {"true"}, *sh_argv[] = {"sh", "-c", "exit 7"}, *nope[] = {"kvmini-no-such-program"};
	char *rel[] = {"./x"}, prog[128], *mine[] = {"kvmini-mine"}, path[256];
	struct initramfs_spec s = {.argv = argv, .argc = 1};

	assert_int_equal(build(a, &s), 0);
	assert_elf(a, "usr/bin/true");
	assert_non_null(find_base(a, "libc.so.6"));
	s.argv = sh_argv;
	s.argc = 3;
	assert_int_equal(build(a, &s), 0);
	assert_true(S_ISREG(find(a, "usr/bin/sh")->mode));
	s.argv = nope;
	s.argc = 1;
	assert_int_equal(build(a, &s), -ENOENT);
	assert_string_equal(a->why,
			    "CMD kvmini-no-such-program: not found on this host; add it with --add or --add-bin");
	s.argv = rel;
	assert_int_equal(build(a, &s), -EINVAL);
	/* found in a host PATH directory the guest's PATH lacks: a symlink in /usr/local/bin */
	if (access("/bin/busybox", X_OK))
		return;
	snprintf(prog, sizeof(prog), "%s/bin/kvmini-mine", a->dir);
	sh("mkdir -p %s/bin && cp /bin/busybox %s", a->dir, prog);
	snprintf(path, sizeof(path), "%s/bin:/usr/bin", a->dir);
	setenv("PATH", path, 1);
	s.argv = mine;
	assert_int_equal(build(a, &s), 0);
	assert_elf(a, prog + 1);
	assert_link(a, "usr/local/bin/kvmini-mine", prog);
}

/* CMD that --add or --add-bin already put where the guest's PATH finds it: nothing is looked up on the host. */
static void test_cmd_provided(void **state)
{
	struct arc *a = *state;
	char file[128], *argv[] = {"kvmini-fake"}, *abs[] = {"/opt/x/kvmini-fake"};
	struct initramfs_add adds[2];
	struct initramfs_spec s = {.argv = argv, .argc = 1, .adds = adds, .nadds = 1};

	snprintf(file, sizeof(file), "%s/kvmini-fake", a->dir);
	put(file, "#!/nonexistent\n", 15, 0755);
	adds[0] = (struct initramfs_add){file, "/usr/sbin/kvmini-fake"};
	adds[1] = (struct initramfs_add){a->dir, "/opt/x"};
	assert_int_equal(build(a, &s), 0);
	assert_reg(a, "usr/sbin/kvmini-fake");
	assert_int_equal(count_regular(a), 3);
	s.argv = abs;
	s.adds = adds + 1;
	assert_int_equal(build(a, &s), 0);
	assert_reg(a, "opt/x/kvmini-fake");
}

static void test_cmd_script(void **state)
{
	struct arc *a = *state;
	char s1[128], s2[128], s3[128], s4[128], line[256];
	char *argv[] = {s1};
	int n;
	struct initramfs_spec s = {.argv = argv, .argc = 1};

	snprintf(s1, sizeof(s1), "%s/s1", a->dir);
	snprintf(s2, sizeof(s2), "%s/s2", a->dir);
	snprintf(s3, sizeof(s3), "%s/s3", a->dir);
	snprintf(s4, sizeof(s4), "%s/s4", a->dir);
	put(s1, "#! /bin/sh -e\necho hi\n", 22, 0755);
	assert_int_equal(build(a, &s), 0);
	assert_reg(a, s1 + 1);
	assert_elf(a, "bin/sh");
	assert_non_null(find_base(a, "libc.so.6"));
	/* env: the program it runs is looked up too */
	put(s2, "#!/usr/bin/env true\n", 20, 0755);
	argv[0] = s2;
	assert_int_equal(build(a, &s), 0);
	assert_elf(a, "usr/bin/env");
	assert_elf(a, "usr/bin/true");
	/* a script run by a script */
	n = snprintf(line, sizeof(line), "#!%s\n", s1);
	put(s3, line, (size_t)n, 0755);
	argv[0] = s3;
	assert_int_equal(build(a, &s), 0);
	assert_reg(a, s3 + 1);
	assert_reg(a, s1 + 1);
	assert_elf(a, "bin/sh");
	/* a relative interpreter */
	put(s4, "#!sh\n", 5, 0755);
	argv[0] = s4;
	assert_int_equal(build(a, &s), -ENOEXEC);
	/* no #!: execvp hands it to /bin/sh */
	put(s4, "echo hi\n", 8, 0755);
	assert_int_equal(build(a, &s), 0);
	assert_reg(a, s4 + 1);
	assert_non_null(find_base(a, "sh"));
}

static void corrupt_copy(const char *from, const char *to, size_t cut, unsigned seed)
{
	FILE *f = fopen(from, "rb");
	uint8_t *b = malloc(1 << 20);
	size_t n;

	assert_non_null(f);
	n = fread(b, 1, 1 << 20, f);
	fclose(f);
	if (cut && cut < n)
		n = cut;
	for (unsigned i = 0; seed && i < 24; i++) {
		seed = seed * 1103515245 + 12345;
		b[(seed >> 8) % (n < 16384 ? n : 16384)] = (uint8_t)(seed >> 24);
	}
	put(to, b, n, 0755);
	free(b);
}

static void test_bad_elf(void **state)
{
	struct arc *a = *state;
	char p[128], expect[256];
	const char *bins[] = {p};
	struct initramfs_spec s = {.bins = bins, .nbins = 1};
	uint8_t elf32[64] = {0x7f, 'E', 'L', 'F', 1, 1, 1};

	snprintf(p, sizeof(p), "%s/text", a->dir);
	put(p, "hello world\n", 12, 0755);
	assert_int_equal(build(a, &s), -ENOEXEC);
	snprintf(expect, sizeof(expect), "--add-bin %s: not an ELF file", p);
	assert_string_equal(a->why, expect);
	put(p, elf32, sizeof(elf32), 0755);
	assert_int_equal(build(a, &s), -ENOEXEC);
	assert_non_null(strstr(a->why, "not an x86-64 ELF"));
	bins[0] = "/nope";
	assert_int_equal(build(a, &s), -ENOENT);
	assert_string_equal(a->why, "--add-bin /nope: No such file or directory");
	bins[0] = p;
	/* truncated at many lengths and corrupted at random: an error or a success, never a crash */
	for (size_t cut = 1; cut < 9000; cut += 397) {
		corrupt_copy("/usr/bin/env", p, cut, 0);
		assert_true(build(a, &s) < 0);
	}
	for (unsigned seed = 1; seed < 200; seed++) {
		corrupt_copy("/usr/bin/env", p, 0, seed);
		build(a, &s);
	}
}

static void test_add_tree(void **state)
{
	struct arc *a = *state;
	char t[128], f[128], expect[256];
	struct initramfs_add adds[3];
	struct initramfs_spec s = {.adds = adds, .nadds = 2};
	uint8_t bin[777];

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 13);
	snprintf(t, sizeof(t), "%s/tree", a->dir);
	snprintf(f, sizeof(f), "%s/tree/a.txt", a->dir);
	put(f, "A", 1, 0640);
	snprintf(f, sizeof(f), "%s/tree/sub/deeper/b.bin", a->dir);
	put(f, bin, sizeof(bin), 0600);
	sh("cd %s && ln -s a.txt link && ln -s . loop && ln -s /etc/passwd abs && mkfifo fifo", t);
	adds[0] = (struct initramfs_add){t, "/data"};
	adds[1] = (struct initramfs_add){f, NULL};
	assert_int_equal(build(a, &s), 0);
	assert_true(S_ISDIR(find(a, "data")->mode));
	assert_int_equal(find(a, "data/a.txt")->mode, S_IFREG | 0640);
	assert_memory_equal(find(a, "data/a.txt")->data, "A", 1);
	assert_int_equal(find(a, "data/sub/deeper/b.bin")->size, sizeof(bin));
	assert_memory_equal(find(a, "data/sub/deeper/b.bin")->data, bin, sizeof(bin));
	assert_link(a, "data/link", "a.txt");
	assert_link(a, "data/loop", ".");
	assert_link(a, "data/abs", "/etc/passwd");
	assert_null(find(a, "data/fifo"));
	assert_reg(a, f + 1); /* no GUEST: the host path */
	/* a later --add at the same path wins */
	adds[1] = (struct initramfs_add){f, "/data/a.txt"};
	assert_int_equal(build(a, &s), 0);
	assert_int_equal(find(a, "data/a.txt")->size, sizeof(bin));
	/* a directory as the guest's / */
	adds[0] = (struct initramfs_add){t, "/"};
	s.nadds = 1;
	assert_int_equal(build(a, &s), 0);
	assert_reg(a, "a.txt");
	assert_link(a, "loop", ".");
	/* errors */
	adds[0] = (struct initramfs_add){"/nope", NULL};
	assert_int_equal(build(a, &s), -ENOENT);
	assert_string_equal(a->why, "--add /nope: No such file or directory");
	adds[0] = (struct initramfs_add){f, "/"};
	assert_int_equal(build(a, &s), -EINVAL);
	adds[0] = (struct initramfs_add){f, "/x/../../y"};
	assert_int_equal(build(a, &s), -EINVAL);
	snprintf(f, sizeof(f), "%s/tree/fifo", a->dir);
	adds[0] = (struct initramfs_add){f, NULL};
	assert_int_equal(build(a, &s), -EINVAL);
	snprintf(expect, sizeof(expect), "--add %s: not a regular file or directory", f);
	assert_string_equal(a->why, expect);
}

/* A fake /etc/ld.so.cache in the "glibc-ld.so.cache1.1" format: n entries of (flags, key, value). */
static void put_cache(const char *path, unsigned n, const int32_t *flags, const char *const *keys,
		      const char *const *vals)
{
	uint8_t b[4096] = {0};
	uint32_t str = 48 + 24 * n, nl = n;

	memcpy(b, "glibc-ld.so.cache1.1", 20);
	memcpy(b + 20, &nl, 4);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = b + 48 + 24 * i;
		uint32_t k = str, v;

		memcpy(b + str, keys[i], strlen(keys[i]) + 1);
		str += (uint32_t)strlen(keys[i]) + 1;
		v = str;
		memcpy(b + str, vals[i], strlen(vals[i]) + 1);
		str += (uint32_t)strlen(vals[i]) + 1;
		memcpy(e, &flags[i], 4);
		memcpy(e + 4, &k, 4);
		memcpy(e + 8, &v, 4);
	}
	put(path, b, str, 0644);
}

static void test_root_hook(void **state)
{
	struct arc *a = *state;
	const char *bins[] = {"/usr/bin/env"};
	struct initramfs_spec s = {.bins = bins, .nbins = 1};
	char r[128], p[256], llp[256];
	struct stat libc;

	if (stat(LIBC, &libc) || access(INTERP, R_OK))
		skip();
	/* 1: a cache naming an x86-64 libc in /opt/fake (and an i386 one first, to be passed over) */
	snprintf(r, sizeof(r), "%s/r1", a->dir);
	s.root = r;
	sh("mkdir -p %s/lib64 %s/opt/fake && cp %s %s/lib64/ && cp %s %s/opt/fake/", r, r, INTERP, r, LIBC, r);
	snprintf(p, sizeof(p), "%s/etc/ld.so.cache", r);
	put_cache(p, 3, (const int32_t[]){0x0003, 0x0303, 0x0303},
		  (const char *const[]){"libc.so.6", "libc.so.6", "libother.so"},
		  (const char *const[]){"/opt/wrong/libc.so.6", "/opt/fake/libc.so.6", "/opt/wrong/libother.so"});
	assert_int_equal(build(a, &s), 0);
	assert_elf(a, "usr/bin/env");
	assert_elf(a, INTERP + 1);
	assert_elf(a, "opt/fake/libc.so.6");
	assert_int_equal(find(a, "opt/fake/libc.so.6")->size, libc.st_size);
	assert_link(a, "usr/lib/x86_64-linux-gnu/libc.so.6", "/opt/fake/libc.so.6");
	assert_null(find(a, "opt/wrong"));
	assert_int_equal(count_base(a, "ld-linux-x86-64.so.2"), 1);
	/* 2: no cache: the default directories; a 32-bit libc.so.6 in the first is passed over */
	snprintf(r, sizeof(r), "%s/r2", a->dir);
	s.root = r;
	sh("mkdir -p %s/lib64 %s/lib/x86_64-linux-gnu %s/usr/lib/x86_64-linux-gnu && cp %s %s/lib64/ && "
	   "cp %s %s/usr/lib/x86_64-linux-gnu/",
	   r, r, r, INTERP, r, LIBC, r);
	snprintf(p, sizeof(p), "%s/lib/x86_64-linux-gnu/libc.so.6", r);
	put(p, (const uint8_t[64]){0x7f, 'E', 'L', 'F', 1, 1, 1}, 64, 0644);
	assert_int_equal(build(a, &s), 0);
	assert_elf(a, "usr/lib/x86_64-linux-gnu/libc.so.6");
	assert_null(find(a, "lib/x86_64-linux-gnu/libc.so.6"));
	assert_int_equal(count_base(a, "libc.so.6"), 1);
	/* 3: a cache in a format we do not know: ld.so.conf and its includes instead, plus a link */
	snprintf(r, sizeof(r), "%s/r3", a->dir);
	s.root = r;
	sh("mkdir -p %s/lib64 %s/opt/conf %s/etc/ld.so.conf.d && cp %s %s/lib64/ && cp %s %s/opt/conf/ && "
	   "echo 'ld.so-1.7.0 garbage' > %s/etc/ld.so.cache && "
	   "printf '# comment\\ninclude ld.so.conf.d/*.conf\\n' > %s/etc/ld.so.conf && "
	   "printf '/opt/conf  # here\\n' > %s/etc/ld.so.conf.d/a.conf",
	   r, r, r, INTERP, r, LIBC, r, r, r, r);
	assert_int_equal(build(a, &s), 0);
	assert_elf(a, "opt/conf/libc.so.6");
	assert_link(a, "usr/lib/x86_64-linux-gnu/libc.so.6", "/opt/conf/libc.so.6");
	/* 4: LD_LIBRARY_PATH comes before the cache and the default directories */
	snprintf(r, sizeof(r), "%s/r4", a->dir);
	s.root = r;
	sh("mkdir -p %s/lib64 %s/opt/llp %s/lib/x86_64-linux-gnu && cp %s %s/lib64/ && cp %s %s/opt/llp/ && "
	   "cp %s %s/lib/x86_64-linux-gnu/",
	   r, r, r, INTERP, r, LIBC, r, LIBC, r);
	snprintf(llp, sizeof(llp), "/nonexistent::/opt/llp");
	setenv("LD_LIBRARY_PATH", llp, 1);
	assert_int_equal(build(a, &s), 0);
	unsetenv("LD_LIBRARY_PATH");
	assert_elf(a, "opt/llp/libc.so.6");
	assert_null(find(a, "lib/x86_64-linux-gnu/libc.so.6"));
	/* 5: nowhere */
	snprintf(r, sizeof(r), "%s/r5", a->dir);
	s.root = r;
	sh("mkdir -p %s/lib64 && cp %s %s/lib64/", r, INTERP, r);
	assert_int_equal(build(a, &s), -ENOENT);
	assert_string_equal(a->why, "--add-bin /usr/bin/env: libc.so.6 (needed by /usr/bin/env) not found");
	/* 6: no interpreter either */
	snprintf(r, sizeof(r), "%s/r6", a->dir);
	s.root = r;
	assert_int_equal(build(a, &s), -ENOENT);
	assert_non_null(strstr(a->why, "interpreter " INTERP));
}

/* DT_RPATH and DT_RUNPATH with $ORIGIN, on programs compiled here. */
static void test_rpath(void **state)
{
	struct arc *a = *state;
	char p[256], lib[256], abs[256];
	const char *bins[] = {p};
	struct initramfs_spec s = {.bins = bins, .nbins = 1};
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p lib bin && echo 'int kt(void){return 3;}' > l.c && "
		 "cc -shared -fPIC -o lib/libkt.so l.c && echo 'int kt(void); int main(void){return kt();}' > m.c && "
		 "cc -o bin/rpath m.c -Llib -lkt -Wl,--disable-new-dtags,-rpath,'$ORIGIN/../lib' && "
		 "cc -o bin/runpath m.c -Llib -lkt -Wl,--enable-new-dtags,-rpath,'${ORIGIN}/../lib' && "
		 "cc -o bin/none m.c -Llib -lkt",
		 a->dir);
	if (system(cmd) != 0)
		skip();
	snprintf(abs, sizeof(abs), "%s/lib/libkt.so", a->dir);
	snprintf(lib, sizeof(lib), "%s", abs + 1);
	snprintf(p, sizeof(p), "%s/bin/rpath", a->dir);
	assert_int_equal(build(a, &s), 0);
	assert_elf(a, lib);
	assert_non_null(find_base(a, "libc.so.6"));
	snprintf(p, sizeof(p), "%s/bin/runpath", a->dir);
	assert_int_equal(build(a, &s), 0);
	assert_elf(a, lib);
	snprintf(p, sizeof(p), "%s/bin/none", a->dir);
	assert_int_equal(build(a, &s), -ENOENT);
	assert_non_null(strstr(a->why, "libkt.so (needed by"));
	/* the same library through LD_LIBRARY_PATH: found, and linked where the guest's ld.so looks */
	snprintf(cmd, sizeof(cmd), "%s/lib", a->dir);
	setenv("LD_LIBRARY_PATH", cmd, 1);
	assert_int_equal(build(a, &s), 0);
	unsetenv("LD_LIBRARY_PATH");
	assert_link(a, "usr/lib/x86_64-linux-gnu/libkt.so", abs);
}

/* A fake module: an ELF relocatable with the given .modinfo bytes. */
static void put_ko(const char *dir, const char *file, const char *info, size_t len)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/info.bin", dir);
	put(p, info, len, 0644);
	sh("cd %s && mkdir -p $(dirname '%s') && objcopy --add-section .modinfo=info.bin "
	   "--set-section-flags .modinfo=alloc,readonly base.o '%s'",
	   dir, file, file);
}

#define KO(dir, file, info) put_ko(dir, file, info, sizeof(info))

static void lines_equal(const struct arc *a, const char *expect)
{
	const struct ent *e = find(a, "kvmini/modules");

	assert_non_null(e);
	assert_int_equal(e->size, strlen(expect));
	assert_memory_equal(e->data, expect, e->size);
}

static void test_modules(void **state)
{
	struct arc *a = *state;
	char m[128], p[256];
	const char *want[] = {"a", "d-e", "builtin_only"};
	struct initramfs_spec s = {.modules = want, .nmodules = 3};

	snprintf(m, sizeof(m), "%s/mods", a->dir);
	s.moddir = m;
	sh("mkdir -p %s && cd %s && echo 'int x;' > e.c && cc -c e.c -o base.o", m, m);
	KO(m, "kernel/a/a.ko", "license=GPL\0depends=b,c,not_here\0name=a");
	KO(m, "kernel/b/b.ko", "depends=c\0name=b");
	KO(m, "kernel/c.ko", "name=c\0depends=");
	KO(m, "extra/d-e.ko", "depends=c");
	KO(m, "kernel/z.ko.xz", "depends=");
	KO(m, "kernel/unused.ko", "depends=nothing");
	assert_int_equal(build(a, &s), 0);
	lines_equal(a, "/lib/modules/c.ko\n/lib/modules/b.ko\n/lib/modules/a.ko\n/lib/modules/d-e.ko\n");
	assert_elf(a, "lib/modules/a.ko");
	assert_elf(a, "lib/modules/d-e.ko");
	assert_null(find(a, "lib/modules/unused.ko"));
	assert_int_equal(count_regular(a), 6); /* init and the list, 4 modules */
	/* compressed modules are not taken: z counts as built in */
	want[0] = "z";
	s.nmodules = 1;
	assert_int_equal(build(a, &s), 0);
	lines_equal(a, "");
	/* with modules.builtin, a wanted module that is neither there nor a file is an error */
	snprintf(p, sizeof(p), "%s/modules.builtin", m);
	put(p, "kernel/drivers/builtin-only.ko\n", 31, 0644);
	want[0] = "builtin_only";
	assert_int_equal(build(a, &s), 0);
	want[0] = "typo";
	assert_int_equal(build(a, &s), -ENOENT);
	assert_non_null(strstr(a->why, "typo"));
	/* no moddir: no list */
	s.moddir = NULL;
	assert_int_equal(build(a, &s), 0);
	assert_null(find(a, "kvmini/modules"));
}

static void test_modules_broken(void **state)
{
	struct arc *a = *state;
	char m[128], p[256], info[64];
	const char *want[] = {"x"};
	struct initramfs_spec s = {.modules = want, .nmodules = 1};
	int n;

	snprintf(m, sizeof(m), "%s/mods", a->dir);
	s.moddir = m;
	sh("mkdir -p %s && cd %s && echo 'int x;' > e.c && cc -c e.c -o base.o", m, m);
	/* a cycle */
	KO(m, "x.ko", "depends=y");
	KO(m, "y.ko", "depends=w");
	KO(m, "w.ko", "depends=x");
	assert_int_equal(build(a, &s), -ELOOP);
	assert_non_null(strstr(a->why, "cycle"));
	/* a self-dependency */
	want[0] = "self";
	KO(m, "self.ko", "depends=self");
	assert_int_equal(build(a, &s), -ELOOP);
	/* a chain longer than the depth bound */
	for (int i = 0; i < 70; i++) {
		n = snprintf(info, sizeof(info), "depends=c%d", i + 1);
		snprintf(p, sizeof(p), "chain/c%d.ko", i);
		put_ko(m, p, info, (size_t)n + 1);
	}
	want[0] = "c0";
	assert_int_equal(build(a, &s), -ELOOP);
	want[0] = "c10"; /* 60 deep: fine */
	assert_int_equal(build(a, &s), 0);
	assert_non_null(find(a, "lib/modules/c69.ko"));
	assert_null(find(a, "lib/modules/c70.ko")); /* no such file: taken as built in */
	/* not an ELF, a truncated one, an executable instead of a relocatable */
	want[0] = "bad";
	snprintf(p, sizeof(p), "%s/bad.ko", m);
	put(p, "not a module", 12, 0644);
	assert_int_equal(build(a, &s), -ENOEXEC);
	assert_non_null(strstr(a->why, "not an ELF file"));
	sh("head -c 100 %s/x.ko > %s", m, p);
	assert_int_equal(build(a, &s), -ENOEXEC);
	sh("cp /usr/bin/env %s", p);
	assert_int_equal(build(a, &s), -ENOEXEC);
	assert_non_null(strstr(a->why, "relocatable"));
	/* a .modinfo without a final NUL, with empty names in depends */
	want[0] = "tail";
	put_ko(m, "tail.ko", "depends=,c69,,", 14);
	assert_int_equal(build(a, &s), 0);
	lines_equal(a, "/lib/modules/c69.ko\n/lib/modules/tail.ko\n");
	/* a directory that does not exist */
	s.moddir = "/nonexistent";
	assert_int_equal(build(a, &s), -ENOENT);
}

/* The proof: extract what CMD "sh -c 'exit 7'" plus --add-bin env gave with cpio(1) and run both in a chroot there
 * (root only). Every library they need must be in the archive, where the guest's ld.so finds it without a cache. */
static void test_runs_in_chroot(void **state)
{
	struct arc *a = *state;
	char *argv[] = {"sh", "-c", "exit 7"}, p[256];
	const char *bins[] = {"/usr/bin/env"};
	struct initramfs_spec s = {.argv = argv, .argc = 3, .bins = bins, .nbins = 1};
	FILE *f;
	int st;

	if (geteuid() != 0 || access("/usr/sbin/chroot", X_OK) || system("/usr/sbin/chroot / /bin/true"))
		skip();
	assert_int_equal(build(a, &s), 0);
	snprintf(p, sizeof(p), "%s/root.cpio", a->dir);
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(a->c.buf, 1, a->c.len, f), a->c.len);
	fclose(f);
	sh("mkdir %s/root && cd %s/root && cpio -idm --quiet < %s", a->dir, a->dir, p);
	snprintf(p, sizeof(p), "/usr/sbin/chroot %s/root /usr/bin/sh -c 'exit 7'", a->dir);
	st = system(p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 7);
	snprintf(p, sizeof(p), "/usr/sbin/chroot %s/root /usr/bin/env -i /usr/bin/sh -c 'exit 3'", a->dir);
	st = system(p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_base, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cmd_static, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_bin_dynamic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cmd_lookup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cmd_provided, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cmd_script, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_elf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_hook, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rpath, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modules_broken, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_runs_in_chroot, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
