/* blkbench: guest-side disk benchmark for make bench: sequential write/read MB/s and 4 KiB random-read IOPS. */
/*
 * usage: blkbench DEVICE [SECONDS]
 *
 * Runs inside the guest (linked statically into the test initramfs) against a virtio disk, with O_DIRECT so
 * the guest's page cache does not answer for the device:
 *   1. sequential write: 1 MiB blocks from the start of DEVICE, until SECONDS (default 3) or the end, then
 *      fdatasync (counted in the time);
 *   2. sequential read of what was written, 1 MiB blocks;
 *   3. random 4 KiB reads at 4 KiB-aligned offsets inside what was written, for SECONDS (one request at a
 *      time: queue depth 1, as busybox tools would do).
 * Prints one line: "BLKBENCH seq_write_mbs=N seq_read_mbs=N rand_read_iops=N bytes=N". Exit 1 on an error.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLKGETSIZE64 _IOR(0x12, 114, size_t)
#define BIG	     (1u << 20)
#define SMALL	     4096u

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 3.0, t0, t, wmbs, rmbs;
	uint64_t size = 0, done = 0, ios = 0, rng = 88172645463325252ULL;
	void *buf;
	int fd;

	if (argc < 2 || secs <= 0) {
		fprintf(stderr, "usage: blkbench DEVICE [SECONDS]\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd >= 0 && ioctl(fd, BLKGETSIZE64, &size) < 0) { /* a regular file (trying it out on a host) */
		struct stat st;

		size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	if (fd < 0 || size < BIG || posix_memalign(&buf, 4096, BIG)) {
		perror(argv[1]);
		return 1;
	}
	memset(buf, 0x5a, BIG);
	t0 = now();
	while (done + BIG <= size && now() - t0 < secs) {
		if (pwrite(fd, buf, BIG, (off_t)done) != (ssize_t)BIG) {
			perror("write");
			return 1;
		}
		done += BIG;
	}
	if (fdatasync(fd) < 0) {
		perror("fdatasync");
		return 1;
	}
	t = now() - t0;
	wmbs = (double)done / (1 << 20) / t;
	t0 = now();
	for (uint64_t off = 0; off < done; off += BIG)
		if (pread(fd, buf, BIG, (off_t)off) != (ssize_t)BIG) {
			perror("read");
			return 1;
		}
	t = now() - t0;
	rmbs = (double)done / (1 << 20) / t;
	t0 = now();
	while (now() - t0 < secs) {
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift: any spread will do */
		if (pread(fd, buf, SMALL, (off_t)((rng % (done / SMALL)) * SMALL)) != (ssize_t)SMALL) {
			perror("random read");
			return 1;
		}
		ios++;
	}
	t = now() - t0;
	printf("BLKBENCH seq_write_mbs=%.0f seq_read_mbs=%.0f rand_read_iops=%.0f bytes=%llu\n", wmbs, rmbs,
	       (double)ios / t, (unsigned long long)done);
	return 0;
}
