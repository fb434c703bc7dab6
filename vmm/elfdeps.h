/* elfdeps.h: put an x86-64 ELF program into an archive with its interpreter and shared libraries, found as ld.so would. */
#ifndef KVMINI_ELFDEPS_H
#define KVMINI_ELFDEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm/cpio.h"
#include "vmm/ldpath.h"

#define ELFDEPS_MAX_OBJS   4096 /* programs, interpreters and libraries in one archive */
#define ELFDEPS_MAX_NEEDED 1024 /* DT_NEEDED entries of one object */

/* What one object needs: parsed once, kept for every program that loads it. */
struct elfdeps_obj {
	char *guest;  /* absolute path in the guest; the host file is root + guest (the program: its own path) */
	char *soname; /* DT_SONAME, else the file name: what a later DT_NEEDED matches without a search */
	char *interp; /* PT_INTERP, NULL if none */
	char *rpath,
	    *runpath;  /* raw DT_RPATH (NULL when there is a DT_RUNPATH, as ld.so ignores it then), DT_RUNPATH */
	char **needed; /* DT_NEEDED names */
	unsigned nneeded;
	bool nodeflib; /* DF_1_NODEFLIB: no cache, no default directories */
	bool written;  /* its content is in the archive by us (not by an earlier --add) */
	dev_t dev;
	ino_t ino;
};

/* The state of one archive's worth of programs: the libraries found so far, the host's ld.so search data. */
struct elfdeps {
	struct cpio *c;
	struct ldpath lp; /* its root prefixes every host path looked up for libraries and ld.so's files */
	struct elfdeps_obj *obj;
	unsigned nobj, capobj;
};

/* Prepare to add programs to c; root may be NULL. Reads the cache (or ld.so.conf) now. 0 or -ENOMEM. */
int elfdeps_init(struct elfdeps *d, struct cpio *c, const char *root);
/* Add the ELF program at host path host to the archive at guest (absolute), with PT_INTERP and every DT_NEEDED
 * library, recursively; each file once. A library found in a directory the guest's ld.so would not search
 * (found through LD_LIBRARY_PATH, the cache or ld.so.conf) also gets a symlink in /usr/lib/x86_64-linux-gnu. 0, or
 * -errno with a reason in why ("not an ELF file", "libfoo.so.1 (needed by /usr/bin/x) not found", ...). */
int elfdeps_add(struct elfdeps *d, const char *host, const char *guest, char *why, size_t whylen);
void elfdeps_free(struct elfdeps *d);

#endif
