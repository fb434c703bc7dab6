/* iov.c: copy to, from and within scatter lists (the iovecs a virtqueue request maps guest buffers to). */
#include "devices/iov.h"

#include <stdint.h>
#include <string.h>

/* Copy `len` bytes found `off` bytes into iov[0..n) to dst. False when the iovecs hold fewer. */
bool iov_copy_out(const struct iovec *iov, unsigned n, uint64_t off, void *dst, size_t len)
{
	uint8_t *d = dst;

	for (unsigned i = 0; i < n && len; i++) {
		size_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - off < len ? iov[i].iov_len - (size_t)off : len;
		memcpy(d, (const uint8_t *)iov[i].iov_base + off, take);
		d += take;
		len -= take;
		off = 0;
	}
	return len == 0;
}

/* Copy `len` bytes from src to `off` bytes into iov[0..n). False when the iovecs hold fewer. */
bool iov_copy_in(const struct iovec *iov, unsigned n, uint64_t off, const void *src, size_t len)
{
	const uint8_t *s = src;

	for (unsigned i = 0; i < n && len; i++) {
		size_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - off < len ? iov[i].iov_len - (size_t)off : len;
		memcpy((uint8_t *)iov[i].iov_base + off, s, take);
		s += take;
		len -= take;
		off = 0;
	}
	return len == 0;
}

/* Describe bytes [off, off + len) of iov[0..n) as iovecs in dst (at most n entries), without copying data. */
unsigned iov_slice(const struct iovec *iov, unsigned n, uint64_t off, uint64_t len, struct iovec *dst)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		size_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - off < len ? iov[i].iov_len - (size_t)off : (size_t)len;
		dst[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		dst[k].iov_len = take;
		k++;
		len -= take;
		off = 0;
	}
	return k;
}
