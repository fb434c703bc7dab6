/* ldpath.c: read the host's ld.so.cache (glibc's "1.1" format) or, without one, ld.so.conf; clean paths. */
#include "vmm/ldpath.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/io.h"

#define MAX_CONF    64 /* directories taken from ld.so.conf */
#define CACHE_MAGIC "glibc-ld.so.cache1.1"
#define CACHE_HDR   48 /* magic, version, nlibs, len_strings, flags, padding, extension offset, unused[3] */
#define CACHE_ENT   24 /* flags, key, value, osversion, hwcap */
#define CACHE_MAX   (64 << 20)
#define FLAG_LIBC6  0x0003 /* FLAG_ELF_LIBC6 in the type byte */
#define FLAG_X86_64 0x0300 /* FLAG_X8664_LIB64 in the required byte */

int ldpath_clean(const char *in, char *out, size_t len)
{
	size_t n = 0;

	if (in[0] != '/' || len < 2)
		return in[0] != '/' ? -EINVAL : -ENAMETOOLONG;
	while (*in) {
		const char *end;
		size_t clen;

		while (*in == '/')
			in++;
		end = strchrnul(in, '/');
		clen = (size_t)(end - in);
		if (clen == 2 && in[0] == '.' && in[1] == '.') {
			if (n == 0)
				return -EINVAL;
			while (n > 0 && out[n] != '/')
				n--;
		} else if (clen && !(clen == 1 && in[0] == '.')) {
			if (n + 1 + clen + 1 > len)
				return -ENAMETOOLONG;
			out[n++] = '/';
			memcpy(out + n, in, clen);
			n += clen;
		}
		in = end;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

/* The best ld.so.cache entry for name: an x86-64 libc6 one, preferably not for a glibc-hwcaps subdirectory. */
const char *ldpath_cache_find(const struct ldpath *d, const char *name)
{
	const char *best = NULL;

	for (uint32_t i = 0; i < d->cache_n && d->cache; i++) {
		const uint8_t *p = d->cache + CACHE_HDR + (size_t)i * CACHE_ENT;
		int32_t flags;
		uint32_t key, val;
		uint64_t hwcap;

		memcpy(&flags, p, 4);
		memcpy(&key, p + 4, 4);
		memcpy(&val, p + 8, 4);
		memcpy(&hwcap, p + 16, 8);
		if ((flags & 0xff) != FLAG_LIBC6 || (flags & 0xff00) != FLAG_X86_64 || key >= d->cache_len ||
		    val >= d->cache_len || !memchr(d->cache + key, 0, d->cache_len - key) ||
		    !memchr(d->cache + val, 0, d->cache_len - val) || strcmp((const char *)d->cache + key, name))
			continue;
		if (!best)
			best = (const char *)d->cache + val;
		if (!hwcap)
			return (const char *)d->cache + val;
	}
	return best;
}

static void dir_of(const char *path, char *out, size_t len)
{
	const char *s = strrchr(path, '/');
	size_t n = s && s != path ? (size_t)(s - path) : 1;

	snprintf(out, len, "%.*s", (int)n, path);
}

static int conf_include(struct ldpath *d, const char *conf, const char *pattern, unsigned depth);

/* ld.so.conf and its includes (depth-limited), used only when there is no cache to read: its directories are what
 * ldconfig would have put into one. */
static int conf_read(struct ldpath *d, const char *path, unsigned depth)
{
	char host[PATH_MAX], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int err = 0;

	if (depth > 8 || (size_t)snprintf(host, sizeof(host), "%s%s", d->root, path) >= sizeof(host) ||
	    !(f = fopen(host, "re")))
		return 0;
	while (!err && getline(&line, &cap, f) > 0) {
		char *s = line + strspn(line, " \t"), **n;

		s[strcspn(s, "#\r\n")] = '\0';
		for (size_t l = strlen(s); l && (s[l - 1] == ' ' || s[l - 1] == '\t'); l--)
			s[l - 1] = '\0';
		if (!strncmp(s, "include", 7) && (s[7] == ' ' || s[7] == '\t')) {
			err = conf_include(d, path, s + 8 + strspn(s + 8, " \t"), depth);
		} else if (s[0] == '/' && d->nconf < MAX_CONF) {
			s[strcspn(s, "=")] = '\0'; /* the old "dir=type" form */
			if (!(n = realloc(d->conf, (d->nconf + 1) * sizeof(*n))) || !(n[d->nconf] = strdup(s)))
				err = -ENOMEM;
			if (n)
				d->conf = n;
			if (!err)
				d->nconf++;
		}
	}
	free(line);
	fclose(f);
	return err;
}

/* "include PATTERN": a glob, relative to the including file's directory unless absolute. */
static int conf_include(struct ldpath *d, const char *conf, const char *pattern, unsigned depth)
{
	char dir[PATH_MAX], pat[PATH_MAX];
	size_t rlen = strlen(d->root);
	glob_t g;
	int err = 0;

	dir_of(conf, dir, sizeof(dir));
	if ((size_t)snprintf(pat, sizeof(pat), "%s%s%s%s", d->root, pattern[0] == '/' ? "" : dir,
			     pattern[0] == '/' ? "" : "/", pattern) >= sizeof(pat))
		return 0;
	if (glob(pat, 0, NULL, &g))
		return 0;
	for (size_t k = 0; k < g.gl_pathc && !err; k++) {
		if (strlen(g.gl_pathv[k]) > rlen)
			err = conf_read(d, g.gl_pathv[k] + rlen, depth + 1);
	}
	globfree(&g);
	return err;
}

/* The cache, if it is one we can read: "glibc-ld.so.cache1.1" at offset 0 (what glibc 2.32 and later write). */
static void cache_read(struct ldpath *d)
{
	char host[PATH_MAX];
	struct stat st;
	uint32_t n;
	int fd;

	if ((size_t)snprintf(host, sizeof(host), "%s/etc/ld.so.cache", d->root) >= sizeof(host))
		return;
	if ((fd = open(host, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= CACHE_HDR && st.st_size <= CACHE_MAX &&
	    (d->cache = malloc((size_t)st.st_size)) && io_pread_full(fd, d->cache, (uint64_t)st.st_size, 0) == 0 &&
	    !memcmp(d->cache, CACHE_MAGIC, sizeof(CACHE_MAGIC) - 1)) {
		memcpy(&n, d->cache + sizeof(CACHE_MAGIC) - 1, 4);
		if (n <= ((size_t)st.st_size - CACHE_HDR) / CACHE_ENT) {
			d->cache_len = (size_t)st.st_size;
			d->cache_n = n;
		}
	}
	close(fd);
	if (!d->cache_len) {
		free(d->cache);
		d->cache = NULL;
	}
}

int ldpath_init(struct ldpath *d, const char *root)
{
	memset(d, 0, sizeof(*d));
	d->root = root ? root : "";
	cache_read(d);
	if (!d->cache)
		return conf_read(d, "/etc/ld.so.conf", 0);
	return 0;
}

void ldpath_free(struct ldpath *d)
{
	for (unsigned i = 0; i < d->nconf; i++)
		free(d->conf[i]);
	free(d->conf);
	free(d->cache);
	memset(d, 0, sizeof(*d));
}
