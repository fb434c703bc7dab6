/* cpio.h: write a cpio "newc" (070701) archive, the format the kernel unpacks as an initramfs, into a heap buffer. */
#ifndef KVMINI_CPIO_H
#define KVMINI_CPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPIO_NAME_MAX 255	  /* one path component */
#define CPIO_PATH_MAX 4095	  /* a whole path: the kernel's unpacker takes PATH_MAX bytes with the NUL */
#define CPIO_SIZE_MAX 0xffffffffU /* newc stores sizes in 8 hex digits */

/* One path already in the archive: parents are written once, and callers can ask what a path holds. */
struct cpio_name {
	char *path; /* normalized: no leading '/', no "." or empty components */
	uint32_t mode;
	uint32_t hash;
};

/*
 * The archive: buf[0..len) is the data written so far. err is the first error, sticky: once set, every call
 * returns it and writes nothing more. Every entry has uid/gid 0 and mtime 0, so the same input gives the same
 * bytes. Zero-initialized or cpio_init'ed; cpio_free releases it.
 */
struct cpio {
	uint8_t *buf;
	size_t len, cap;
	uint32_t ino;		 /* the last inode number given out */
	int err;		 /* first error, sticky */
	bool done;		 /* the trailer is written */
	struct cpio_name *names; /* open-addressing hash table of every path written */
	size_t nnames, names_cap;
};

void cpio_init(struct cpio *c);
/* A directory (mode: permission bits, 0755 for example); parents are made as needed with 0755, each once. A
 * directory already in the archive is not written again. */
int cpio_dir(struct cpio *c, const char *path, uint32_t mode);
/* A regular file of len bytes (mode: permission bits). A parent that exists as a symlink is left alone (the
 * kernel follows it), so a tree can hold merged-/usr links. Writing a path twice: the later entry wins. */
int cpio_file(struct cpio *c, const char *path, uint32_t mode, const void *data, size_t len);
/* Like cpio_file, with the content read from fd at offset 0: exactly len bytes, or -EIO if the file ends first
 * (the archive is then unchanged apart from parent directories). Saves a copy of large files. */
int cpio_file_fd(struct cpio *c, const char *path, uint32_t mode, int fd, uint64_t len);
/* A symbolic link to target (any string but the empty one; stored as is). */
int cpio_symlink(struct cpio *c, const char *path, const char *target);
/* Appends TRAILER!!! and pads to 512 bytes: buf is then a complete archive. A second call does nothing. */
int cpio_finish(struct cpio *c);
void cpio_free(struct cpio *c);

/* The mode (S_IFDIR | 0755, ...) of what the archive holds at path, or 0 when it holds nothing there. */
uint32_t cpio_lookup(const struct cpio *c, const char *path);

#endif
