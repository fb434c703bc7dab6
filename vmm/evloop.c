/* evloop.c: a small epoll dispatcher: (fd, callback, opaque) entries and a stop eventfd. */
#include "vmm/evloop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int evloop_init(struct evloop *l)
{
	memset(l, 0, sizeof(*l));
	for (unsigned i = 0; i < EVLOOP_MAX; i++)
		l->e[i].fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stop_fd < 0) {
		int err = -errno;

		close(l->epfd);
		return err;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &ev) < 0)
		return -errno;
	return 0;
}

void evloop_destroy(struct evloop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	l->epfd = l->stop_fd = -1;
}

int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_cb cb, void *opaque)
{
	for (unsigned i = 0; i < EVLOOP_MAX; i++) {
		struct evloop_entry *e = &l->e[i];
		struct epoll_event ev = {.events = events, .data.ptr = e};

		if (e->fd >= 0)
			continue;
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		*e = (struct evloop_entry){.fd = fd, .cb = cb, .opaque = opaque};
		return 0;
	}
	return -ENOSPC;
}

static struct evloop_entry *evloop_find(struct evloop *l, int fd)
{
	for (unsigned i = 0; i < EVLOOP_MAX; i++)
		if (l->e[i].fd == fd)
			return &l->e[i];
	return NULL;
}

int evloop_mod(struct evloop *l, int fd, uint32_t events)
{
	struct evloop_entry *e = evloop_find(l, fd);
	struct epoll_event ev = {.events = events, .data.ptr = e};

	if (!e)
		return -ENOENT;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int evloop_del(struct evloop *l, int fd)
{
	struct evloop_entry *e = evloop_find(l, fd);

	if (!e)
		return -ENOENT;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	e->fd = -1;
	return 0;
}

void evloop_stop(struct evloop *l)
{
	uint64_t one = 1;
	ssize_t r;

	__atomic_store_n(&l->stopped, true, __ATOMIC_RELEASE);
	r = write(l->stop_fd, &one, sizeof(one));

	(void)r; /* the only failure is a saturated counter, which means a stop is already pending */
}

int evloop_run(struct evloop *l)
{
	struct epoll_event ev[16];

	for (;;) {
		int n = epoll_wait(l->epfd, ev, 16, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct evloop_entry *e = ev[i].data.ptr;

			if (!e)
				return 0; /* the stop eventfd: leave it signalled so a second run returns at once */
			if (e->fd >= 0 && e->cb)
				e->cb(e->opaque, ev[i].events);
			/* a callback may have stopped the loop: dispatch nothing more after that */
			if (__atomic_load_n(&l->stopped, __ATOMIC_ACQUIRE))
				return 0;
		}
	}
}
