/* iov.h: copy to, from and within scatter lists, bounded by what the iovecs hold. */
#ifndef KVMINI_IOV_H
#define KVMINI_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Copy `len` bytes found `off` bytes into iov[0..n) to dst. False when the iovecs hold fewer. */
bool iov_copy_out(const struct iovec *iov, unsigned n, uint64_t off, void *dst, size_t len);
/* Copy `len` bytes from src to `off` bytes into iov[0..n). False when the iovecs hold fewer. */
bool iov_copy_in(const struct iovec *iov, unsigned n, uint64_t off, const void *src, size_t len);
/* Describe bytes [off, off + len) of iov[0..n) as iovecs in dst (at most n entries), without copying data.
 * Returns how many entries it wrote. */
unsigned iov_slice(const struct iovec *iov, unsigned n, uint64_t off, uint64_t len, struct iovec *dst);

#endif
