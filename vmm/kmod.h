/* kmod.h: pick kernel modules and what they depend on out of a modules directory, in an order they can be loaded. */
#ifndef KVMINI_KMOD_H
#define KVMINI_KMOD_H

#include <stddef.h>

#include "vmm/cpio.h"

#define KMOD_MAX_FILES 65536 /* directory entries looked at under the modules directory */
#define KMOD_MAX_DEPTH 64    /* directory nesting, and the longest chain of dependencies */
#define KMOD_LIST      "/kvmini/modules"
#define KMOD_GUEST_DIR "/lib/modules"

/*
 * Copy the wanted modules (names as modprobe takes them: '-' and '_' alike) and everything they depend on
 * ("depends=" in each .modinfo section) from moddir, searched recursively for uncompressed *.ko files, into the
 * archive at KMOD_GUEST_DIR/<file name>, and write KMOD_LIST: their guest paths, one a line, each after everything
 * it depends on. A module that moddir does not have is taken as built into the kernel and skipped, but a wanted
 * one that a modules.builtin file in moddir does not list either is an error (a typo, most likely). 0, or -errno
 * with a reason in why (a dependency cycle, a malformed module, ...).
 */
int kmod_add(struct cpio *c, const char *moddir, const char *const *names, unsigned n, char *why, size_t whylen);

#endif
