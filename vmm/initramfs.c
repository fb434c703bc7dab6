/* initramfs.c: the in-memory initramfs of `kvmini run`: init, CMD, --add trees, --add-bin programs, modules. */
#include "vmm/initramfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/elfdeps.h"
#include "vmm/io.h"
#include "vmm/kmod.h"
#include "vmm/ldpath.h"

#define MAX_INTERP_NEST 4   /* #! scripts run by #! scripts: Linux allows as many */
#define SHEBANG_MAX	256 /* the kernel reads this much of a #! line (BINPRM_BUF_SIZE) */
#define LINK_BIN	"/usr/local/bin"

struct build {
	const struct initramfs_spec *s;
	struct cpio *c;
	struct elfdeps d;
	unsigned entries; /* written by --add walks */
	char *why;
	size_t whylen;
};

static int say(struct build *b, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(struct build *b, int err, const char *fmt, ...)
{
	va_list ap;

	if (b->why && b->whylen) {
		va_start(ap, fmt);
		vsnprintf(b->why, b->whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* A host path made absolute (against the cwd) and clean, which is also where it goes in the guest. */
static int abs_path(const char *in, char *out, size_t len)
{
	char tmp[PATH_MAX], cwd[PATH_MAX];

	if (in[0] == '/')
		return ldpath_clean(in, out, len);
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", cwd, in) >= sizeof(tmp))
		return -ENAMETOOLONG;
	return ldpath_clean(tmp, out, len);
}

/* A regular file, read straight into the archive. nofollow: inside a walk, where a symlink is stored as one. */
static int add_file(struct build *b, const char *host, const char *guest, bool nofollow)
{
	struct stat st;
	int fd, err;

	fd = open(host, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	else
		err = cpio_file_fd(b->c, guest, st.st_mode & 07777, fd, (uint64_t)st.st_size);
	close(fd);
	return err;
}

static int join(char *out, size_t len, const char *dir, const char *name)
{
	bool root = !strcmp(dir, "/");

	return (size_t)snprintf(out, len, "%s%s%s", dir, root ? "" : "/", name) < len ? 0 : -ENAMETOOLONG;
}

/* One directory of an --add tree: symlinks are stored, never followed, so a link loop cannot trap the walk;
 * nesting (bind mounts) and the number of entries are bounded. */
static int add_tree(struct build *b, const char *top, const char *host, const char *guest, uint32_t mode,
		    unsigned depth)
{
	struct dirent **list;
	int n, err = 0;

	if (depth > INITRAMFS_MAX_DEPTH)
		return say(b, -ELOOP, "--add %s: %s: directories nested deeper than %d", top, host,
			   INITRAMFS_MAX_DEPTH);
	if (strcmp(guest, "/") && (err = cpio_dir(b->c, guest, mode)) < 0)
		return say(b, err, "--add %s: %s: %s", top, guest, strerror(-err));
	if ((n = scandir(host, &list, NULL, alphasort)) < 0)
		return say(b, -errno, "--add %s: %s: %s", top, host, strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *f = list[i]->d_name;
		char h[PATH_MAX], g[PATH_MAX], target[PATH_MAX];
		struct stat st;
		ssize_t tl;

		if (err || !strcmp(f, ".") || !strcmp(f, ".."))
			continue;
		if (++b->entries > INITRAMFS_MAX_ENTRIES) {
			err = say(b, -E2BIG, "--add %s: more than %d files", top, INITRAMFS_MAX_ENTRIES);
			continue;
		}
		if ((err = join(h, sizeof(h), host, f)) < 0 || (err = join(g, sizeof(g), guest, f)) < 0) {
			err = say(b, err, "--add %s: %s/%s: path too long", top, host, f);
			continue;
		}
		if (lstat(h, &st) < 0)
			err = -errno;
		else if (S_ISDIR(st.st_mode))
			err = add_tree(b, top, h, g, st.st_mode, depth + 1);
		else if (S_ISREG(st.st_mode))
			err = add_file(b, h, g, true);
		else if (S_ISLNK(st.st_mode) && (tl = readlink(h, target, sizeof(target) - 1)) < 0)
			err = -errno;
		else if (S_ISLNK(st.st_mode))
			err = cpio_symlink(b->c, g, (target[tl] = '\0', target));
		/* device nodes, fifos, sockets: left out (the init mounts devtmpfs on /dev) */
		if (err < 0 && !(b->why && b->why[0]))
			say(b, err, "--add %s: %s: %s", top, h, strerror(-err));
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return err;
}

static int add_one(struct build *b, const struct initramfs_add *a)
{
	char host[PATH_MAX], guest[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int err;

	if ((err = abs_path(a->host, host, sizeof(host))) < 0)
		return say(b, err, "--add %s: %s", a->host, strerror(-err));
	if (a->guest &&
	    (size_t)snprintf(tmp, sizeof(tmp), "%s%s", a->guest[0] == '/' ? "" : "/", a->guest) >= sizeof(tmp))
		return say(b, -ENAMETOOLONG, "--add %s: guest path too long", a->host);
	if ((err = ldpath_clean(a->guest ? tmp : host, guest, sizeof(guest))) < 0)
		return say(b, err, "--add %s: bad guest path %s", a->host, a->guest ? a->guest : host);
	/* The path named on the command line is followed if it is a symlink: the user meant what it points at. */
	if (stat(host, &st) < 0)
		return say(b, -errno, "--add %s: %s", a->host, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return add_tree(b, a->host, host, guest, st.st_mode, 0);
	if (!S_ISREG(st.st_mode))
		return say(b, -EINVAL, "--add %s: not a regular file or directory", a->host);
	if (!strcmp(guest, "/"))
		return say(b, -EINVAL, "--add %s: a file cannot be the guest's /", a->host);
	if ((err = add_file(b, host, guest, false)) < 0)
		return say(b, err, "--add %s: %s", a->host, strerror(-err));
	return 0;
}

static int add_bin(struct build *b, const char *label, const char *path, const char *host)
{
	char reason[PATH_MAX + 256] = "";
	int err = elfdeps_add(&b->d, host, host, reason, sizeof(reason));

	return err < 0 ? say(b, err, "%s %s: %s", label, path, reason) : 0;
}

/* Whether the archive has something runnable (a file or a symlink) at guest. */
static bool provided(const struct build *b, const char *guest)
{
	uint32_t m = cpio_lookup(b->c, guest);

	return S_ISREG(m) || S_ISLNK(m);
}

/* Where execvp finds name on the host: the first regular, executable file along PATH (absolute entries only: a
 * relative one depends on kvmini's cwd, which the guest does not share). */
static int host_which(const char *name, char *out, size_t len, char *dir, size_t dirlen)
{
	const char *path = getenv("PATH") ? getenv("PATH") : "/bin:/usr/bin";

	while (*path) {
		const char *end = strchrnul(path, ':');
		char cand[PATH_MAX];
		struct stat st;

		if (path[0] == '/' &&
		    (size_t)snprintf(cand, sizeof(cand), "%.*s/%s", (int)(end - path), path, name) < sizeof(cand) &&
		    ldpath_clean(cand, out, len) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0) {
			snprintf(dir, dirlen, "%.*s", (int)(end - path), path);
			return ldpath_clean(dir, dir, dirlen);
		}
		path = *end ? end + 1 : end;
	}
	return -ENOENT;
}

static int add_program(struct build *b, const char *label, const char *host, unsigned depth);

/* A bare program name, as CMD or as a "#!/usr/bin/env NAME" script gives it: nothing to do if one of the guest's
 * PATH directories already has it; otherwise the host's, at its host path. */
static int add_by_name(struct build *b, const char *label, const char *name, unsigned depth)
{
	char host[PATH_MAX], dir[PATH_MAX], g[PATH_MAX], lnk[PATH_MAX];
	const char *gp = INITRAMFS_GUEST_PATH;
	bool in_guest_path = false;
	int err;

	for (const char *end; *gp; gp = *end ? end + 1 : end) {
		end = strchrnul(gp, ':');
		if ((size_t)snprintf(g, sizeof(g), "%.*s/%s", (int)(end - gp), gp, name) < sizeof(g) && provided(b, g))
			return 0;
	}
	if (host_which(name, host, sizeof(host), dir, sizeof(dir)) < 0)
		return say(b, -ENOENT, "%s %s: not found on this host; add it with --add or --add-bin", label, name);
	if ((err = add_program(b, label, host, depth)) < 0)
		return err;
	gp = INITRAMFS_GUEST_PATH;
	for (const char *end; *gp && !in_guest_path; gp = *end ? end + 1 : end) {
		end = strchrnul(gp, ':');
		in_guest_path = strlen(dir) == (size_t)(end - gp) && !strncmp(dir, gp, (size_t)(end - gp));
	}
	if (in_guest_path || join(lnk, sizeof(lnk), LINK_BIN, name) < 0 || provided(b, lnk))
		return 0;
	if ((err = cpio_symlink(b->c, lnk, host)) < 0)
		return say(b, err, "%s %s: %s", label, name, strerror(-err));
	return 0;
}

/* The interpreter of a #! script: "#!/bin/sh -e" gives /bin/sh; "#!/usr/bin/env python3" gives env, then python3. */
static int add_interp(struct build *b, const char *label, const char *script, const char *line, unsigned depth)
{
	char interp[SHEBANG_MAX], arg[SHEBANG_MAX], host[PATH_MAX];
	int n = 0, err;

	arg[0] = '\0';
	if (sscanf(line + 2, " %255[^ \t\n] %255[^ \t\n]%n", interp, arg, &n) < 1)
		return say(b, -ENOEXEC, "%s %s: a #! line without an interpreter", label, script);
	if (interp[0] != '/' || ldpath_clean(interp, host, sizeof(host)) < 0)
		return say(b, -ENOEXEC, "%s %s: interpreter %s is not an absolute path", label, script, interp);
	if ((err = add_program(b, label, host, depth + 1)) < 0)
		return err;
	if (!strcmp(strrchr(host, '/'), "/env") && arg[0] && arg[0] != '-' && !strchr(arg, '/'))
		return add_by_name(b, label, arg, depth + 1);
	return 0;
}

/* A program at an absolute host path, to the same guest path: an ELF (with what it needs), a #! script (with its
 * interpreter), or what execvp would hand to /bin/sh. */
static int add_program(struct build *b, const char *label, const char *host, unsigned depth)
{
	char head[SHEBANG_MAX + 1] = "";
	ssize_t n = 0;
	int fd, err;

	if (depth > MAX_INTERP_NEST)
		return say(b, -ELOOP, "%s %s: #! interpreters nested too deep", label, host);
	if (provided(b, host))
		return 0;
	if ((fd = open(host, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return say(b, -errno, "%s %s: %s", label, host, strerror(errno));
	while ((n = pread(fd, head, SHEBANG_MAX, 0)) < 0 && errno == EINTR)
		;
	close(fd);
	if (n < 0)
		return say(b, -errno, "%s %s: %s", label, host, strerror(errno));
	head[n] = '\0';
	if (n >= 4 && !memcmp(head, "\177ELF", 4))
		return add_bin(b, label, host, host);
	if ((err = add_file(b, host, host, false)) < 0)
		return say(b, err, "%s %s: %s", label, host, strerror(-err));
	if (n >= 2 && head[0] == '#' && head[1] == '!') {
		if (!memchr(head, '\n', (size_t)n) && n == SHEBANG_MAX)
			return say(b, -ENOEXEC, "%s %s: #! line too long", label, host);
		return add_interp(b, label, host, head, depth);
	}
	return add_by_name(b, label, "sh", depth + 1);
}

static int add_cmd(struct build *b)
{
	const char *name = b->s->argv[0];
	char host[PATH_MAX];

	if (!name || !name[0])
		return say(b, -EINVAL, "CMD: an empty program name");
	if (!strchr(name, '/'))
		return add_by_name(b, "CMD", name, 0);
	if (name[0] != '/' || ldpath_clean(name, host, sizeof(host)) < 0)
		return say(b, -EINVAL, "CMD %s: a relative path; give an absolute one or a name to look up in PATH",
			   name);
	return add_program(b, "CMD", host, 0);
}

/* What the init needs before anything else: its mount points, itself, and the command line it runs. */
static int add_base(struct build *b)
{
	static const struct {
		const char *path;
		uint32_t mode;
	} dirs[] = {{"dev", 0755}, {"proc", 0555}, {"sys", 0555},   {"tmp", 01777},
		    {"run", 0755}, {"etc", 0755},  {"kvmini", 0755}};
	const struct initramfs_spec *s = b->s;
	size_t len = 0, off = 0;
	char *cmd;
	int err = 0;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		cpio_dir(b->c, dirs[i].path, dirs[i].mode);
	if (!s->init || !s->init_len)
		return say(b, -EINVAL, "no built-in init");
	cpio_file(b->c, "init", 0755, s->init, s->init_len);
	if (!s->argc)
		return b->c->err ? say(b, b->c->err, "cannot write the base files: %s", strerror(-b->c->err)) : 0;
	for (unsigned i = 0; i < s->argc; i++)
		len += strlen(s->argv[i]) + 1;
	if (!(cmd = malloc(len)))
		return say(b, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < s->argc; i++) {
		size_t l = strlen(s->argv[i]) + 1;

		memcpy(cmd + off, s->argv[i], l);
		off += l;
	}
	if ((err = cpio_file(b->c, INITRAMFS_CMD, 0644, cmd, len)) < 0)
		say(b, err, "cannot write the base files: %s", strerror(-err));
	free(cmd);
	return err;
}

int initramfs_build(const struct initramfs_spec *s, struct cpio *out, char *why, size_t whylen)
{
	struct build b = {.s = s, .c = out, .why = why, .whylen = whylen};
	char host[PATH_MAX];
	int err;

	if (why && whylen)
		why[0] = '\0';
	if ((err = elfdeps_init(&b.d, out, s->root)) < 0)
		return say(&b, err, "out of memory");
	err = add_base(&b);
	for (unsigned i = 0; i < s->nadds && !err; i++)
		err = add_one(&b, &s->adds[i]);
	for (unsigned i = 0; i < s->nbins && !err; i++) {
		if ((err = abs_path(s->bins[i], host, sizeof(host))) < 0)
			say(&b, err, "--add-bin %s: %s", s->bins[i], strerror(-err));
		else
			err = add_bin(&b, "--add-bin", s->bins[i], host);
	}
	if (!err && s->argc)
		err = add_cmd(&b);
	if (!err && s->moddir)
		err = kmod_add(out, s->moddir, s->modules, s->nmodules, why, whylen);
	if (!err && (err = cpio_finish(out)) < 0)
		say(&b, err, "cannot finish the archive: %s", strerror(-err));
	elfdeps_free(&b.d);
	return err;
}
