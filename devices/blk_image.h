/* blk_image.h: a raw disk image as 512-byte sectors: open and lock, vectored I/O, discard, flush, snapshot overlay. */
#ifndef KVMINI_BLK_IMAGE_H
#define KVMINI_BLK_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE	 (1u << BLK_SECTOR_SHIFT)

/*
 * An image is a regular file or a block device holding raw sectors; its format is never probed. It is opened
 * read-write with an exclusive OFD write lock on the whole file, or (ro, snapshot) read-only with a shared OFD
 * read lock, so a writer conflicts with every other user while readers share.
 *
 * Snapshot mode: the image is opened read-only and never written. Guest writes, discards and write-zeroes go to
 * an overlay, an unlinked sparse temporary file of the same size (O_TMPFILE in $TMPDIR, else /tmp), with one bit
 * per sector saying "this sector lives in the overlay". Reads take each run of sectors from wherever it lives.
 * The bitmap is calloc'd, so only the pages covering written areas become resident.
 *
 * Every call checks [sector, sector + n) against the capacity itself (overflow-checked), even though the
 * virtio layer has checked it already. Data goes straight between the file and the caller's iovecs.
 */
struct blk_image {
	int fd;		   /* the image; -1 when closed */
	bool is_open;	   /* set by a successful open: close on a zeroed struct touches no fd */
	bool ro;	   /* opened read-only without an overlay: every change fails with -EROFS */
	bool snapshot;	   /* changes go to the overlay */
	uint64_t sectors;  /* capacity: whole 512-byte sectors */
	uint32_t tail;	   /* bytes past the last whole sector, hidden from the guest (the caller warns) */
	uint64_t dev, ino; /* identity of the image (st_dev, st_ino; st_rdev for block devices) */
	/* Snapshot overlay. */
	int ovl_fd;	   /* -1 without a snapshot */
	uint64_t *ovl_map; /* one bit per sector */
	/* Durability. `sync` calls fdatasync(im->fd) unless a test replaced it (0, or -1 with errno). Once it has
	 * failed, the page cache may have dropped the data it could not write, so every later flush fails too. */
	int (*sync)(struct blk_image *im);
	bool sync_failed;
};

/* Open `path`. 0, or -errno with *why set to a short phrase for "disk PATH: <why>": "does not exist",
 * "is a directory", "is locked by another process", ... */
int blk_image_open(struct blk_image *im, const char *path, bool ro, bool snapshot, const char **why);
/* Flush a writable image (as blk_image_flush) and close everything. Returns the flush's result. Idempotent, and
 * harmless on a zeroed struct or after a failed open. */
int blk_image_close(struct blk_image *im);

/* Read/write n sectors at `sector` from/into iov[0..niov) (whose byte total must be n * 512). *done gets the
 * bytes transferred, also on failure. Short transfers are retried; 0, -EIO, -ENOSPC, -EROFS, -EINVAL (range). */
int blk_image_read(struct blk_image *im, uint64_t sector, uint64_t n, const struct iovec *iov, unsigned niov,
		   uint64_t *done);
int blk_image_write(struct blk_image *im, uint64_t sector, uint64_t n, const struct iovec *iov, unsigned niov,
		    uint64_t *done);
/* Deallocate n sectors (reads then return zeros on a filesystem that can punch holes, else old data). */
int blk_image_discard(struct blk_image *im, uint64_t sector, uint64_t n);
/* Make n sectors read as zeros; `unmap` allows deallocating them. Falls back to writing zeros. */
int blk_image_write_zeroes(struct blk_image *im, uint64_t sector, uint64_t n, bool unmap);
/* Everything written so far reaches stable storage before this returns 0. No-op on ro and snapshot images. */
int blk_image_flush(struct blk_image *im);

#endif
