/* evloop.h: the one epoll thread that serves every host-side event (console, timers, signals, later devices). */
#ifndef KVMINI_EVLOOP_H
#define KVMINI_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

#define EVLOOP_MAX 32

typedef void (*evloop_cb)(void *opaque, uint32_t events);

struct evloop_entry {
	int fd;
	evloop_cb cb;
	void *opaque;
};

struct evloop {
	int epfd;
	int stop_fd;  /* eventfd: any thread (or a signal handler) may stop the loop */
	bool stopped; /* set by evloop_stop, so no callback runs after it even if its fd is still ready */
	struct evloop_entry e[EVLOOP_MAX];
};

int evloop_init(struct evloop *l);
void evloop_destroy(struct evloop *l);
/* Watch fd for `events` (EPOLLIN, EPOLLOUT...). 0, -ENOSPC, or epoll_ctl's -errno (-EPERM: fd not pollable). */
int evloop_add(struct evloop *l, int fd, uint32_t events, evloop_cb cb, void *opaque);
int evloop_mod(struct evloop *l, int fd, uint32_t events);
int evloop_del(struct evloop *l, int fd);
/* Ask evloop_run to return. Async-signal-safe and thread-safe. */
void evloop_stop(struct evloop *l);
/* Dispatch until evloop_stop. 0 or -errno. */
int evloop_run(struct evloop *l);

#endif
