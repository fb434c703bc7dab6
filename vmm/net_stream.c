/* net_stream.c: frames over a stream socket, each behind its 4-byte big-endian length (passt's protocol). */
#include "vmm/net_stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define STREAM_WAIT_MS 1000 /* the rest of a frame the peer started to send, or room to send one */

/* Move all of iov[0..n) through the socket (read or write), waiting for the peer when it is slow. */
static int stream_full(int fd, struct iovec *iov, int n, bool out)
{
	while (n > 0) {
		ssize_t r = out ? writev(fd, iov, n) : readv(fd, iov, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = fd, .events = out ? POLLOUT : POLLIN};

			if (poll(&p, 1, STREAM_WAIT_MS) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

static ssize_t stream_send(void *be, const struct iovec *iov, int iovcnt)
{
	struct net_stream *s = be;
	struct iovec v[VIRTQ_MAX_SEGS + 2];
	uint32_t len = 0, be32;
	int err;

	if (iovcnt < 0 || iovcnt > VIRTQ_MAX_SEGS + 1)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		v[i + 1] = iov[i];
		len += (uint32_t)iov[i].iov_len;
	}
	be32 = htonl(len);
	v[0] = (struct iovec){.iov_base = &be32, .iov_len = sizeof(be32)};
	/* A frame is sent whole or the stream is out of step for good: wait for room rather than stop halfway. */
	err = stream_full(s->fd, v, iovcnt + 1, true);
	return err < 0 ? err : (ssize_t)len;
}

/* A frame only once its length has arrived; then the rest, which the peer sends right behind it. */
static ssize_t stream_recv(void *be, const struct iovec *iov, int iovcnt)
{
	struct net_stream *s = be;
	struct iovec v[VIRTIO_NET_RX_POOL + 2];
	uint32_t be32;
	size_t len, left;
	int avail = 0, n = 0, err;
	uint8_t sink[512];

	if (ioctl(s->fd, FIONREAD, &avail) < 0)
		return -errno;
	if (avail < (int)sizeof(be32)) {
		/* Nothing, or a peer that closed: a read tells them apart. */
		if (avail == 0 && recv(s->fd, &be32, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			return -EPIPE;
		return 0;
	}
	struct iovec h = {.iov_base = &be32, .iov_len = sizeof(be32)};
	if ((err = stream_full(s->fd, &h, 1, false)) < 0)
		return err;
	len = ntohl(be32);
	left = len;
	for (int i = 0; i < iovcnt && left && n < VIRTIO_NET_RX_POOL + 1; i++, n++) {
		v[n] = iov[i];
		if (v[n].iov_len > left)
			v[n].iov_len = left;
		left -= v[n].iov_len;
	}
	if (n && (err = stream_full(s->fd, v, n, false)) < 0)
		return err;
	while (left) { /* more than the buffers hold: read and drop the rest, the stream stays in step */
		struct iovec k = {.iov_base = sink, .iov_len = left < sizeof(sink) ? left : sizeof(sink)};

		left -= k.iov_len;
		if ((err = stream_full(s->fd, &k, 1, false)) < 0)
			return err;
	}
	return (ssize_t)len;
}

static const struct net_backend_ops stream_ops = {.send = stream_send, .recv = stream_recv};

static void stream_backend(struct net_stream *s, struct net_backend *be)
{
	/* No virtio-net header on this protocol, so no offloads: the device adds and strips the header. */
	*be = (struct net_backend){.ops = &stream_ops, .be = s, .fd = s->fd, .vnet_hdr = false, .offer = 0};
}

int net_stream_connect(struct net_stream *s, const char *path, struct net_backend *be, const char **why)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int err;

	s->child = 0;
	if (strlen(path) >= sizeof(a.sun_path)) {
		*why = "has a socket path that is too long";
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    fcntl(s->fd, F_SETFL, O_NONBLOCK) < 0) {
		err = -errno;
		*why = err == -ENOENT	      ? "cannot connect to its socket: no such file"
		       : err == -ECONNREFUSED ? "cannot connect to its socket: nobody listens on it"
		       : err == -EACCES	      ? "cannot connect to its socket: permission denied"
					      : "cannot connect to its socket";
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		return err;
	}
	stream_backend(s, be);
	return 0;
}

/* Is `name` an executable somewhere in $PATH? (So a missing passt is a clear setup error, not a dead link.) */
static bool in_path(const char *name)
{
	const char *p = getenv("PATH");
	char buf[4096];

	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n && n + strlen(name) + 2 <= sizeof(buf)) {
			memcpy(buf, p, n);
			buf[n] = '/';
			memcpy(buf + n + 1, name, strlen(name) + 1);
			if (access(buf, X_OK) == 0)
				return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

int net_stream_passt(struct net_stream *s, struct net_backend *be, const char **why)
{
	int sv[2], err;
	char fdarg[16];

	s->fd = -1;
	s->child = 0;
	if (!in_path("passt")) {
		*why = "needs passt, which is not installed (apt-get install passt)";
		return -ENOENT;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		*why = "cannot make a socket pair for passt";
		return -errno;
	}
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
	s->child = fork();
	if (s->child < 0) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		s->child = 0;
		*why = "cannot fork passt";
		return err;
	}
	if (s->child == 0) {
		/* passt inherits its end (no CLOEXEC on it) and ends when kvmini does, however kvmini ends. */
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fcntl(sv[1], F_SETFD, 0);
		execlp("passt", "passt", "--foreground", "--quiet", "--one-off", "--fd", fdarg, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	s->fd = sv[0];
	if (fcntl(s->fd, F_SETFL, O_NONBLOCK) < 0) {
		err = -errno;
		net_stream_close(s);
		*why = "cannot set up the passt socket";
		return err;
	}
	stream_backend(s, be);
	return 0;
}

void net_stream_close(struct net_stream *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->child > 0) {
		kill(s->child, SIGTERM);
		waitpid(s->child, NULL, 0);
	}
	s->child = 0;
}
