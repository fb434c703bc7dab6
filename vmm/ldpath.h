/* ldpath.h: what glibc's ld.so searches besides a program's own paths: ld.so.cache (or ld.so.conf), clean paths. */
#ifndef KVMINI_LDPATH_H
#define KVMINI_LDPATH_H

#include <stddef.h>
#include <stdint.h>

/* The host's library search data, read once below a root prefix ("" normally). */
struct ldpath {
	const char *root;
	uint8_t *cache; /* root/etc/ld.so.cache in the "glibc-ld.so.cache1.1" format, or NULL */
	size_t cache_len;
	uint32_t cache_n; /* its entries */
	char **conf;	  /* without a usable cache: the directories of root/etc/ld.so.conf (and its includes) */
	unsigned nconf;
};

/* Read root/etc/ld.so.cache; when it is absent or in a format we do not know, read root/etc/ld.so.conf instead
 * (the directories ldconfig would have cached). Neither is required: 0, or -ENOMEM. */
int ldpath_init(struct ldpath *p, const char *root);
/* The cache's path for library name: an x86-64 libc6 entry, preferably not a glibc-hwcaps one. NULL if none. */
const char *ldpath_cache_find(const struct ldpath *p, const char *name);
void ldpath_free(struct ldpath *p);

/* Lexically clean an absolute path: "/a/./b//../c" -> "/a/c". -EINVAL if in is relative or ".." climbs out of
 * "/", -ENAMETOOLONG if out (len bytes) is too small. */
int ldpath_clean(const char *in, char *out, size_t len);

#endif
