/* test_evloop.c: dispatch to the right callback, stopping from a callback / another thread / a signal handler,
 * the table limit, unpollable fds, evloop_mod and evloop_del. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/evloop.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A pipe whose callback reads one byte per event and stops the loop after `stop_after` bytes. */
struct counter {
	struct evloop *l;
	int fd;
	unsigned calls, stop_after;
	uint32_t last_events;
	uint8_t last_byte;
};

static void count_cb(void *opaque, uint32_t events)
{
	struct counter *c = opaque;
	uint8_t b;

	c->calls++;
	c->last_events = events;
	if (events & EPOLLIN) {
		assert_int_equal(read(c->fd, &b, 1), 1);
		c->last_byte = b;
	}
	if (c->stop_after && c->calls == c->stop_after)
		evloop_stop(c->l);
}

/* A one-shot timerfd that stops the loop: the bound on how long a "nothing happens" test runs. */
struct stopper {
	struct evloop *l;
	int fd;
	unsigned fired;
};

static void stopper_cb(void *opaque, uint32_t events)
{
	struct stopper *s = opaque;
	uint64_t n;

	(void)events;
	assert_int_equal(read(s->fd, &n, sizeof(n)), sizeof(n));
	s->fired++;
	evloop_stop(s->l);
}

static void stopper_arm(struct stopper *s, struct evloop *l, long ms)
{
	struct itimerspec it = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}};

	s->l = l;
	s->fired = 0;
	s->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	assert_true(s->fd >= 0);
	assert_int_equal(timerfd_settime(s->fd, 0, &it, NULL), 0);
	assert_int_equal(evloop_add(l, s->fd, EPOLLIN, stopper_cb, s), 0);
}

static void stopper_close(struct stopper *s, struct evloop *l)
{
	evloop_del(l, s->fd);
	close(s->fd);
}

static void test_init_destroy(void **state)
{
	struct evloop l;

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	assert_true(l.epfd >= 0);
	assert_true(l.stop_fd >= 0);
	assert_true(l.epfd != l.stop_fd);
	for (unsigned i = 0; i < EVLOOP_MAX; i++)
		assert_int_equal(l.e[i].fd, -1);
	evloop_destroy(&l);
}

static void test_pipe_events_then_stop(void **state)
{
	struct evloop l;
	struct counter c = {0};
	char left[32];
	int p[2];

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	c = (struct counter){.l = &l, .fd = p[0], .stop_after = 5};
	assert_int_equal(evloop_add(&l, p[0], EPOLLIN, count_cb, &c), 0);
	/* Twenty bytes waiting; the callback consumes one per event and asks to stop after five. The loop returns
	 * with bytes left over (at most one more dispatch round: see test_no_dispatch_after_stop). */
	assert_int_equal(write(p[1], "abcdefghijklmnopqrst", 20), 20);
	assert_int_equal(evloop_run(&l), 0);
	assert_true(c.calls >= 5);
	assert_true(c.calls <= 6);
	assert_true(c.last_events & EPOLLIN);
	assert_int_equal(c.last_byte, 'a' + c.calls - 1);
	assert_int_equal(read(p[0], left, sizeof(left)), 20 - (ssize_t)c.calls);
	close(p[0]);
	close(p[1]);
	evloop_destroy(&l);
}

/* Regression: evloop_stop called from a callback must end the dispatching. Before the fix evloop_run went back to
 * epoll_wait, where a level-triggered fd that is still ready is reported before the stop eventfd (it was
 * re-queued first), so its callback runs once more after the stop. With 7 bytes in a pipe and a stop after the
 * 5th, the callback runs 6 times. */
static void test_no_dispatch_after_stop(void **state)
{
	struct evloop l;
	struct counter c = {0};
	int p[2];

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	assert_int_equal(pipe(p), 0);
	c = (struct counter){.l = &l, .fd = p[0], .stop_after = 5};
	assert_int_equal(evloop_add(&l, p[0], EPOLLIN, count_cb, &c), 0);
	assert_int_equal(write(p[1], "abcdefg", 7), 7);
	assert_int_equal(evloop_run(&l), 0);
	assert_int_equal(c.calls, 5);
	assert_int_equal(c.last_byte, 'e');
	close(p[0]);
	close(p[1]);
	evloop_destroy(&l);
}

static void eventfd_cb(void *opaque, uint32_t events)
{
	struct counter *c = opaque;
	uint64_t v;

	c->calls++;
	c->last_events = events;
	assert_int_equal(read(c->fd, &v, sizeof(v)), sizeof(v));
	c->last_byte = (uint8_t)v;
	if (c->calls == c->stop_after)
		evloop_stop(c->l);
}

static void test_two_fds_dispatch(void **state)
{
	struct evloop l;
	struct counter a, b;
	uint64_t one = 1, three = 3;
	int efd;
	int p[2];

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	efd = eventfd(0, EFD_NONBLOCK);
	assert_true(efd >= 0);
	assert_int_equal(pipe(p), 0);
	a = (struct counter){.l = &l, .fd = efd, .stop_after = 1};
	b = (struct counter){.l = &l, .fd = p[0]};
	assert_int_equal(evloop_add(&l, efd, EPOLLIN, eventfd_cb, &a), 0);
	assert_int_equal(evloop_add(&l, p[0], EPOLLIN, count_cb, &b), 0);
	/* Only the pipe has data, twice; then the eventfd, whose callback stops the loop. */
	assert_int_equal(write(p[1], "xy", 2), 2);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(write(efd, &three, sizeof(three)), sizeof(three));
	assert_int_equal(evloop_run(&l), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.last_byte, 4); /* the counter's sum, read by the eventfd callback */
	assert_true(a.last_events & EPOLLIN);
	/* The pipe callback got its own opaque: it read bytes from the pipe, not the eventfd. */
	assert_true(b.calls <= 2);
	if (b.calls)
		assert_true(b.last_byte == 'x' || b.last_byte == 'y');
	close(efd);
	close(p[0]);
	close(p[1]);
	evloop_destroy(&l);
}

static void test_epollout_and_hup(void **state)
{
	struct evloop l;
	struct counter w, r;
	int p[2];

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	assert_int_equal(pipe(p), 0);
	/* An empty pipe's write end is writable. */
	w = (struct counter){.l = &l, .fd = p[1], .stop_after = 1};
	assert_int_equal(evloop_add(&l, p[1], EPOLLOUT, count_cb, &w), 0);
	assert_int_equal(evloop_run(&l), 0);
	assert_true(w.calls >= 1);
	assert_true(w.last_events & EPOLLOUT);
	assert_int_equal(evloop_del(&l, p[1]), 0);
	/* The read end sees EPOLLHUP once the writer is gone, even when only EPOLLIN was asked for. */
	r = (struct counter){.l = &l, .fd = p[0], .stop_after = 1};
	assert_int_equal(evloop_add(&l, p[0], EPOLLIN, count_cb, &r), 0);
	close(p[1]);
	/* A stop left pending by the previous run would end this one early: drain it first. */
	{
		uint64_t v;
		ssize_t n = read(l.stop_fd, &v, sizeof(v));

		(void)n;
	}
	assert_int_equal(evloop_run(&l), 0);
	assert_true(r.calls >= 1);
	assert_true(r.last_events & EPOLLHUP);
	close(p[0]);
	evloop_destroy(&l);
}

struct stop_arg {
	struct evloop *l;
	useconds_t delay;
};

static void *stop_thread(void *opaque)
{
	struct stop_arg *a = opaque;

	usleep(a->delay);
	evloop_stop(a->l);
	return NULL;
}

static void test_stop_from_thread(void **state)
{
	struct evloop l;
	struct stop_arg a = {.l = &l, .delay = 100000};
	pthread_t t;
	double t0;
	int efd;

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	/* Something to watch that never fires. */
	efd = eventfd(0, EFD_NONBLOCK);
	assert_true(efd >= 0);
	assert_int_equal(evloop_add(&l, efd, EPOLLIN, count_cb, NULL), 0);
	t0 = now();
	assert_int_equal(pthread_create(&t, NULL, stop_thread, &a), 0);
	assert_int_equal(evloop_run(&l), 0);
	/* It really was blocked until the other thread stopped it. */
	assert_true(now() - t0 >= 0.09);
	assert_int_equal(pthread_join(t, NULL), 0);
	close(efd);
	evloop_destroy(&l);
}

static void test_stop_before_run(void **state)
{
	struct evloop l;
	double t0;

	(void)state;
	/* A stop requested before the loop runs (a signal during setup) is not lost. */
	assert_int_equal(evloop_init(&l), 0);
	evloop_stop(&l);
	evloop_stop(&l);
	t0 = now();
	assert_int_equal(evloop_run(&l), 0);
	assert_true(now() - t0 < 1.0);
	evloop_destroy(&l);
}

static struct evloop *sig_loop;

static void on_sigusr1(int sig)
{
	(void)sig;
	evloop_stop(sig_loop);
}

static void *kill_thread(void *opaque)
{
	pthread_t *target = opaque;

	usleep(100000);
	pthread_kill(*target, SIGUSR1);
	return NULL;
}

static void test_stop_from_signal_handler(void **state)
{
	struct evloop l;
	struct sigaction sa = {0}, old;
	pthread_t self = pthread_self(), t;

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	sig_loop = &l;
	sa.sa_handler = on_sigusr1; /* no SA_RESTART: epoll_wait fails with EINTR, which the loop must retry */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	assert_int_equal(pthread_create(&t, NULL, kill_thread, &self), 0);
	assert_int_equal(evloop_run(&l), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
	evloop_destroy(&l);
}

static void test_table_full(void **state)
{
	struct evloop l;
	int fds[EVLOOP_MAX + 1];
	struct counter c = {0};

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	for (unsigned i = 0; i <= EVLOOP_MAX; i++) {
		fds[i] = eventfd(0, EFD_NONBLOCK);
		assert_true(fds[i] >= 0);
	}
	for (unsigned i = 0; i < EVLOOP_MAX; i++)
		assert_int_equal(evloop_add(&l, fds[i], EPOLLIN, count_cb, &c), 0);
	assert_int_equal(evloop_add(&l, fds[EVLOOP_MAX], EPOLLIN, count_cb, &c), -ENOSPC);
	assert_int_equal(evloop_add(&l, fds[EVLOOP_MAX], EPOLLIN, count_cb, &c), -ENOSPC);
	/* Deleting one frees a slot. */
	assert_int_equal(evloop_del(&l, fds[7]), 0);
	assert_int_equal(evloop_add(&l, fds[EVLOOP_MAX], EPOLLIN, count_cb, &c), 0);
	assert_int_equal(evloop_add(&l, fds[7], EPOLLIN, count_cb, &c), -ENOSPC);
	for (unsigned i = 0; i <= EVLOOP_MAX; i++)
		close(fds[i]);
	evloop_destroy(&l);
}

static void test_unpollable_fd(void **state)
{
	struct evloop l;
	char path[] = "/tmp/kvmini-test-evloop-XXXXXX";
	int fd, fds[EVLOOP_MAX];
	struct counter c = {0};

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(evloop_add(&l, fd, EPOLLIN, count_cb, &c), -EPERM);
	assert_int_equal(evloop_add(&l, fd, EPOLLOUT, count_cb, &c), -EPERM);
	/* A bad descriptor. */
	assert_int_equal(evloop_add(&l, -1, EPOLLIN, count_cb, &c), -EBADF);
	/* Failed adds took no slot: the table still holds EVLOOP_MAX entries. */
	for (unsigned i = 0; i < EVLOOP_MAX; i++) {
		fds[i] = eventfd(0, EFD_NONBLOCK);
		assert_true(fds[i] >= 0);
		assert_int_equal(evloop_add(&l, fds[i], EPOLLIN, count_cb, &c), 0);
	}
	for (unsigned i = 0; i < EVLOOP_MAX; i++)
		close(fds[i]);
	close(fd);
	evloop_destroy(&l);
}

static void test_add_twice(void **state)
{
	struct evloop l;
	int efd;
	struct counter c = {0};

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	efd = eventfd(0, EFD_NONBLOCK);
	assert_true(efd >= 0);
	assert_int_equal(evloop_add(&l, efd, EPOLLIN, count_cb, &c), 0);
	assert_int_equal(evloop_add(&l, efd, EPOLLIN, count_cb, &c), -EEXIST);
	close(efd);
	evloop_destroy(&l);
}

static void test_mod_to_zero(void **state)
{
	struct evloop l;
	struct counter c;
	struct stopper s;
	uint64_t one = 1;
	int efd;

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	efd = eventfd(0, EFD_NONBLOCK);
	assert_true(efd >= 0);
	c = (struct counter){.l = &l, .fd = efd, .stop_after = 1};
	assert_int_equal(evloop_add(&l, efd, EPOLLIN, eventfd_cb, &c), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	/* Readable, but not watched for anything: no callback, until the timer stops the loop. */
	assert_int_equal(evloop_mod(&l, efd, 0), 0);
	stopper_arm(&s, &l, 100);
	assert_int_equal(evloop_run(&l), 0);
	assert_int_equal(s.fired, 1);
	assert_int_equal(c.calls, 0);
	stopper_close(&s, &l);
	/* Watched again: the pending event is delivered. Drain the stop first. */
	{
		uint64_t v;
		ssize_t n = read(l.stop_fd, &v, sizeof(v));

		(void)n;
	}
	assert_int_equal(evloop_mod(&l, efd, EPOLLIN), 0);
	assert_int_equal(evloop_run(&l), 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.last_byte, 1);
	/* Not in the loop. */
	assert_true(evloop_mod(&l, 12345, EPOLLIN) < 0);
	close(efd);
	evloop_destroy(&l);
}

static void test_del(void **state)
{
	struct evloop l;
	struct counter c;
	struct stopper s;
	uint64_t one = 1;
	int efd;

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	efd = eventfd(0, EFD_NONBLOCK);
	assert_true(efd >= 0);
	c = (struct counter){.l = &l, .fd = efd, .stop_after = 1};
	assert_int_equal(evloop_add(&l, efd, EPOLLIN, eventfd_cb, &c), 0);
	assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(evloop_del(&l, efd), 0);
	for (unsigned i = 0; i < EVLOOP_MAX; i++)
		assert_true(l.e[i].fd != efd);
	stopper_arm(&s, &l, 100);
	assert_int_equal(evloop_run(&l), 0);
	assert_int_equal(s.fired, 1);
	assert_int_equal(c.calls, 0);
	stopper_close(&s, &l);
	/* Deleting again, or an fd never added: an error, nothing else changes. */
	assert_true(evloop_del(&l, efd) < 0);
	assert_true(evloop_del(&l, 12345) < 0);
	/* Re-adding works and delivers the event that was pending all along. */
	{
		uint64_t v;
		ssize_t n = read(l.stop_fd, &v, sizeof(v));

		(void)n;
	}
	assert_int_equal(evloop_add(&l, efd, EPOLLIN, eventfd_cb, &c), 0);
	assert_int_equal(evloop_run(&l), 0);
	assert_int_equal(c.calls, 1);
	close(efd);
	evloop_destroy(&l);
}

/* A callback that deletes another entry whose event is in the same epoll_wait batch: that entry's callback
 * must not run. */
struct del_other {
	struct evloop *l;
	int self_fd, other_fd;
	unsigned *other_calls;
	unsigned calls;
};

static void del_other_cb(void *opaque, uint32_t events)
{
	struct del_other *d = opaque;
	uint64_t v;

	(void)events;
	assert_int_equal(read(d->self_fd, &v, sizeof(v)), sizeof(v));
	d->calls++;
	if (d->other_fd >= 0) {
		assert_int_equal(evloop_del(d->l, d->other_fd), 0);
		d->other_fd = -1;
	}
	evloop_stop(d->l);
}

static void test_del_from_callback(void **state)
{
	struct evloop l;
	struct del_other a, b;
	uint64_t one = 1;
	int fa, fb;
	unsigned dummy = 0;

	(void)state;
	assert_int_equal(evloop_init(&l), 0);
	fa = eventfd(0, EFD_NONBLOCK);
	fb = eventfd(0, EFD_NONBLOCK);
	assert_true(fa >= 0 && fb >= 0);
	/* Each deletes the other: whichever runs first, the second must not. */
	a = (struct del_other){.l = &l, .self_fd = fa, .other_fd = fb, .other_calls = &dummy};
	b = (struct del_other){.l = &l, .self_fd = fb, .other_fd = fa, .other_calls = &dummy};
	assert_int_equal(evloop_add(&l, fa, EPOLLIN, del_other_cb, &a), 0);
	assert_int_equal(evloop_add(&l, fb, EPOLLIN, del_other_cb, &b), 0);
	assert_int_equal(write(fa, &one, sizeof(one)), sizeof(one));
	assert_int_equal(write(fb, &one, sizeof(one)), sizeof(one));
	assert_int_equal(evloop_run(&l), 0);
	assert_int_equal(a.calls + b.calls, 1);
	close(fa);
	close(fb);
	evloop_destroy(&l);
}

/* Regression: evloop_destroy used to close only descriptors > 0, so when stdin was closed and epoll_create1 got
 * fd 0, the epoll fd leaks (and stays open as "stdin"). */
static void test_destroy_closes_fd0(void **state)
{
	struct evloop l;
	int saved = dup(0);
	int epfd_was_0, still_open;

	(void)state;
	assert_true(saved >= 0);
	close(0);
	assert_int_equal(evloop_init(&l), 0);
	epfd_was_0 = l.epfd == 0;
	evloop_destroy(&l);
	still_open = fcntl(0, F_GETFD) >= 0;
	/* Put stdin back before asserting. */
	if (still_open)
		close(0);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	assert_true(epfd_was_0);
	assert_false(still_open);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_destroy),
	    cmocka_unit_test(test_pipe_events_then_stop),
	    cmocka_unit_test(test_no_dispatch_after_stop),
	    cmocka_unit_test(test_two_fds_dispatch),
	    cmocka_unit_test(test_epollout_and_hup),
	    cmocka_unit_test(test_stop_from_thread),
	    cmocka_unit_test(test_stop_before_run),
	    cmocka_unit_test(test_stop_from_signal_handler),
	    cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_unpollable_fd),
	    cmocka_unit_test(test_add_twice),
	    cmocka_unit_test(test_mod_to_zero),
	    cmocka_unit_test(test_del),
	    cmocka_unit_test(test_del_from_callback),
	    cmocka_unit_test(test_destroy_closes_fd0),
	};

	/* A hung loop fails the run instead of blocking it forever. */
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
