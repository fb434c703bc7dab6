/* initramfs.h: build the initramfs of `kvmini run -- CMD` in memory: the built-in init, CMD and the files asked for. */
#ifndef KVMINI_INITRAMFS_H
#define KVMINI_INITRAMFS_H

#include <stddef.h>

#include "vmm/cpio.h"

#define INITRAMFS_MAX_ENTRIES 65536 /* archive entries all --add directory walks together may write */
#define INITRAMFS_MAX_DEPTH   64    /* directory nesting in an --add walk */
#define INITRAMFS_CMD	      "/kvmini/cmd"
/* The guest's PATH (the init's): CMD's program goes where a search of it finds the program. */
#define INITRAMFS_GUEST_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* --add HOST[:GUEST]: guest NULL = the host path made absolute. A directory is copied recursively: regular files,
 * directories and symlinks (as symlinks; device nodes, fifos and sockets are left out). */
struct initramfs_add {
	const char *host, *guest;
};

struct initramfs_spec {
	const void *init; /* the built-in init: written to /init, mode 0755 */
	size_t init_len;
	char *const *argv; /* CMD: written to INITRAMFS_CMD as argv strings, each ended by NUL; argc 0: no file */
	unsigned argc;
	const struct initramfs_add *adds;
	unsigned nadds;
	const char *const *bins; /* --add-bin PATH: the program, its ELF interpreter and DT_NEEDED libraries */
	unsigned nbins;
	const char *moddir;	    /* --modules DIR (lib/modules/VERSION of a kernel package), or NULL */
	const char *const *modules; /* module names wanted: "virtio_blk", "evdev", ... */
	unsigned nmodules;
	const char *root; /* test hook: prefix of every host path looked up for libraries, ld.so.cache, ld.so.conf */
};

/*
 * Build the archive into out (cpio_init'ed by the caller) and finish it (cpio_finish: out->buf[0..out->len) is a
 * complete archive). In order: /dev /proc /sys /tmp /run /etc /kvmini, /init, INITRAMFS_CMD, every --add (a later
 * one wins over an earlier one at the same path), every --add-bin, then CMD's program unless those provided it: it
 * is looked up like execvp does (PATH for a bare name), added like --add-bin at its host path (a #! script with its
 * interpreter, and for "#!/usr/bin/env NAME" NAME too), with a symlink in /usr/local/bin when its directory is not
 * in INITRAMFS_GUEST_PATH. Then the modules (vmm/kmod.h), if moddir is set. 0, or -errno with a one-line reason in
 * why ("--add /nope: No such file or directory", "CMD foo: not found on this host; ...").
 */
int initramfs_build(const struct initramfs_spec *s, struct cpio *out, char *why, size_t whylen);

#endif
