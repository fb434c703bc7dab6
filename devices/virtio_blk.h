/* virtio_blk.h: a virtio block device (virtio 1.2 section 5.2) over a raw image, on the virtio-mmio transport. */
#ifndef KVMINI_VIRTIO_BLK_H
#define KVMINI_VIRTIO_BLK_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/blk_image.h"
#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "vmm/gmem.h"
#include "vmm/irq.h"

#define VIRTIO_ID_BLOCK 2

/* Feature bits (virtio 1.2 section 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (section 5.2.6). */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK		  0
#define VIRTIO_BLK_S_IOERR	  1
#define VIRTIO_BLK_S_UNSUPP	  2
#define VIRTIO_BLK_WZ_F_UNMAP	  1 /* discard/write-zeroes segment flag */

#define VIRTIO_BLK_ID_BYTES   20	 /* GET_ID answer; also the longest serial= */
#define VIRTIO_BLK_CFG_SIZE   60	 /* config space up to and including write_zeroes_may_unmap and its padding */
#define VIRTIO_BLK_SIZE_MAX   (1u << 20) /* largest data segment we advertise (SIZE_MAX) */
#define VIRTIO_BLK_SEG_MAX    (VIRTQ_MAX_SIZE - 2) /* data segments: header + data + status fit one queue */
#define VIRTIO_BLK_MAX_ZERO   (1u << 22)	   /* max_discard_sectors, max_write_zeroes_sectors: 2 GiB */
#define VIRTIO_BLK_DISCARD_AL 8			   /* discard_sector_alignment: 4 KiB, a filesystem block */
#define VIRTIO_BLK_BATCH      (VIRTQ_MAX_SIZE / 2) /* requests per notify call when kick_fd is set */

/* -d/--disk PATH[,ro][,snapshot][,serial=ID]. path and serial point into buf: parse into the struct you keep. */
struct virtio_blk_opts {
	const char *path;
	bool ro, snapshot;
	const char *serial; /* NULL: derived from the image (see virtio_blk_open) */
	char buf[PATH_MAX + 64];
};

struct virtio_blk_stats {
	uint64_t reads, writes, flushes, discards, write_zeroes, get_ids;
	uint64_t read_bytes, written_bytes;
	uint64_t ioerr, unsupp; /* requests answered with IOERR / UNSUPP */
	uint64_t dropped;	/* malformed chains returned with used.len 0 (DROP) */
	uint64_t cancelled;	/* requests the driver reset the device under (not completed) */
};

struct virtio_blk {
	struct virtio_mmio t;	   /* put &t on the MMIO bus with virtio_mmio_ops */
	struct virtio_dev_ops ops; /* features depend on ro */
	struct blk_image img;	   /* img.sync may be replaced (tests) before the guest runs */
	uint64_t sectors;	   /* capacity seen by the guest */
	uint32_t tail;		   /* bytes of the image past the last whole sector: hidden; the caller warns */
	bool ro, snapshot, attached;
	/* The queue's ioeventfd, or -1 (virtio_blk_open's default). virtio_blk_start gives it to the I/O thread. */
	int kick_fd;
	/* The I/O thread (virtio_blk_start). It waits on kick_fd and runs the requests with t.lock dropped around
	 * each one's syscalls, so an image whose back-end stalls (a hung NFS or FUSE server) holds up only this
	 * disk's queue: never a vCPU (register accesses take t.lock) nor the event loop (signals, console, other
	 * devices). Without it (unit tests, fuzzers) a notify runs the requests itself, under t.lock. */
	pthread_t io;
	bool io_running;
	int stop_fd;	   /* eventfd: virtio_blk_stop wakes the I/O thread */
	_Atomic bool stop; /* the I/O thread returns at its next request */
	uint64_t epoch;	   /* bumped by a reset (under t.lock): a request running meanwhile is not completed */
	char id[VIRTIO_BLK_ID_BYTES]; /* GET_ID answer, zero-padded */
	uint8_t cfg[VIRTIO_BLK_CFG_SIZE];
	struct virtio_blk_stats st;
	/* Scratch for one request: used by one thread at a time (the I/O thread, or a notify under t.lock). */
	struct virtq_req req;
	struct iovec data[VIRTQ_MAX_SEGS];
};

/* Parse "PATH[,ro][,snapshot][,serial=ID]" into *o (pure). 0, or -EINVAL with one sentence in err. */
int virtio_blk_parse(const char *arg, struct virtio_blk_opts *o, char *err, size_t errlen);

/* Open and lock the image. 0, or -errno with *why a phrase completing "disk PATH ...": "does not exist", "is a
 * directory", "is locked by another process", ... On success b->tail > 0 means the size is not a multiple of 512
 * and the last b->tail bytes are hidden from the guest (print a warning).
 * Without serial=, GET_ID answers "kvmini-" and 13 hex digits of a hash of the image's device and inode numbers:
 * stable across runs for the same file, and (short of a 52-bit hash collision) unique per file. */
int virtio_blk_open(struct virtio_blk *b, const struct virtio_blk_opts *o, const char **why);
/* Set up the transport (virtio_mmio_init with this device's ops); then bus_add(mmio, base, VIRTIO_MMIO_SIZE,
 * &virtio_mmio_ops, &b->t, name). */
void virtio_blk_attach(struct virtio_blk *b, struct irq_line *irq, const struct gmem *mem);
/* Start the I/O thread on b->kick_fd (set it first), with every signal blocked. 0 or -errno. */
int virtio_blk_start(struct virtio_blk *b);
/* Stop the I/O thread: it finishes its current request and returns. 0, or -ETIMEDOUT when that request has not
 * finished within timeout_ms (a stalled back-end): then do not call virtio_blk_close (the thread still uses the
 * image); the process may exit. Stop the vCPUs first. */
int virtio_blk_stop(struct virtio_blk *b, unsigned timeout_ms);
/* Make every write durable (fdatasync, unless ro/snapshot) and close. 0, or -EIO when that flush failed (say so:
 * acknowledged writes may not be on disk). Stop the vCPUs and the event loop first. */
int virtio_blk_close(struct virtio_blk *b);

#endif
