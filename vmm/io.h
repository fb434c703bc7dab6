/* io.h: read exactly what a file promises, for the loaders (a file that ends early is an error, not a short read). */
#ifndef KVMINI_IO_H
#define KVMINI_IO_H

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

/* Read exactly len bytes at off into dst: 0, -errno, or -EIO when the file ends first (it is shorter than its
 * header said, or it shrank under us). Large reads go in 1 GiB pieces. */
static inline int io_pread_full(int fd, void *dst, uint64_t len, uint64_t off)
{
	uint8_t *p = dst;

	while (len) {
		ssize_t r = pread(fd, p, len > (1 << 30) ? (1 << 30) : len, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p += r;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

#endif
