/* console.c: moves serial bytes between the UART and the host without ever blocking a vCPU on a slow reader. */
#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CTRL_A 0x01

/* A descriptor for stdout that we may make non-blocking without changing the caller's (shared) file
 * description: pipes, FIFOs and TTYs can be reopened through /proc; regular files never block. */
static int console_open_stdout(struct console *c)
{
	struct stat st;
	int fd;

	if (fstat(STDOUT_FILENO, &st) < 0)
		return -1; /* stdout closed: discard */
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return STDOUT_FILENO;
	fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		c->out_own = true;
		return fd;
	}
	/* A socket cannot be reopened: set O_NONBLOCK on it and put the flags back at exit. */
	int fl = fcntl(STDOUT_FILENO, F_GETFL);

	if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK) == 0)
		c->out_nonblock = true;
	return STDOUT_FILENO;
}

int console_init(struct console *c, struct evloop *loop, enum console_kind kind, const char *path, void (*quit)(void *),
		 void *quit_opaque, const char **why)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->loop = loop;
	c->quit = quit;
	c->quit_opaque = quit_opaque;
	c->out_fd = -1;
	c->in_fd = -1;
	if (kind == CONSOLE_FILE) {
		c->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
		if (c->out_fd < 0) {
			*why = "cannot open the console file";
			return -errno;
		}
		c->out_own = true;
	} else if (kind == CONSOLE_STDIO) {
		c->out_fd = console_open_stdout(c);
	}
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		*why = "eventfd";
		return -errno;
	}
	if (fcntl(STDIN_FILENO, F_GETFD) >= 0)
		c->in_fd = STDIN_FILENO;
	return 0;
}

/* Write out what the ring holds, as far as the reader takes it; watch EPOLLOUT only while bytes remain.
 * Called with c->lock held. A reader that is gone (EPIPE) marks the output broken. */
static void console_drain_locked(struct console *c)
{
	while (c->len && !c->out_broken) {
		size_t chunk = CONSOLE_RING - c->head < c->len ? CONSOLE_RING - c->head : c->len;
		ssize_t w = write(c->out_fd, c->ring + c->head, chunk);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			c->out_broken = true; /* EPIPE or a dead descriptor: the guest keeps running, output is lost */
			c->dropped += c->len;
			c->len = 0;
			break;
		}
		c->head = (c->head + (size_t)w) % CONSOLE_RING;
		c->len -= (size_t)w;
	}
	if (c->len == 0)
		c->head = 0;
	bool want = c->len && !c->out_broken;

	if (want != c->out_armed && evloop_mod(c->loop, c->out_fd, want ? EPOLLOUT : 0) == 0)
		c->out_armed = want;
}

static void console_on_writable(void *opaque, uint32_t events)
{
	struct console *c = opaque;

	(void)events;
	pthread_mutex_lock(&c->lock);
	console_drain_locked(c);
	pthread_mutex_unlock(&c->lock);
}

void console_uart_tx(void *opaque, uint8_t byte)
{
	struct console *c = opaque;
	enum tail_event ev;

	pthread_mutex_lock(&c->lock);
	if ((ev = tail_put(&c->tail, byte)) != TAIL_NONE && c->on_tail)
		c->on_tail(c->tail_opaque, ev);
	if (c->out_fd < 0) {
		/* discarded */
	} else if (c->out_broken) {
		c->dropped++;
	} else if (c->len == 0 && write(c->out_fd, &byte, 1) == 1) {
		/* fast path: nothing queued, the byte went straight out */
	} else if (!c->ring && !(c->ring = malloc(CONSOLE_RING))) {
		c->dropped++;
	} else if (c->len == CONSOLE_RING) {
		c->dropped++; /* the reader has stalled for a whole ring: drop rather than stall the vCPU */
	} else {
		c->ring[(c->head + c->len) % CONSOLE_RING] = byte;
		c->len++;
		console_drain_locked(c);
	}
	pthread_mutex_unlock(&c->lock);
}

void console_uart_rx_space(void *opaque)
{
	struct console *c = opaque;
	uint64_t one = 1;
	ssize_t r = write(c->wake_fd, &one, sizeof(one)); /* the UART lock is held: defer to the event loop */

	(void)r;
}

/* Hand buffered input to the UART; Ctrl-A x (on a TTY) quits, Ctrl-A Ctrl-A sends one Ctrl-A. */
static void console_push_input(struct console *c)
{
	while (c->in_off < c->in_len) {
		uint8_t b = c->in[c->in_off];

		if (c->in_tty && c->esc) {
			c->esc = false;
			if (b == 'x' || b == 'X') {
				c->in_off = c->in_len = 0;
				c->quit(c->quit_opaque);
				return;
			}
			if (b != CTRL_A && uart_rx(c->uart, (const uint8_t[]){CTRL_A}, 1) != 1) {
				c->esc = true; /* no room for the Ctrl-A itself: retry the pair later */
				break;
			}
		} else if (c->in_tty && b == CTRL_A) {
			c->esc = true;
			c->in_off++;
			continue;
		}
		if (uart_rx(c->uart, &b, 1) != 1)
			break;
		c->in_off++;
	}
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
}

/* Watch a pollable stdin only while the UART can take more: a full FIFO pauses reading (no busy loop, no
 * unbounded buffer); the UART's rx_space wake-up resumes it. */
static void console_update_pause(struct console *c)
{
	bool pause = c->in_len != 0;

	if (c->in_poll && c->in_fd >= 0 && pause != c->in_paused &&
	    evloop_mod(c->loop, c->in_fd, pause ? 0 : EPOLLIN) == 0)
		c->in_paused = pause;
}

/* Read more input and hand it on. For a pollable fd this runs only when it is readable, so read() never blocks
 * the event loop; a regular file or /dev/null is always readable. */
static void console_read_input(struct console *c)
{
	for (;;) {
		if (c->in_len == 0) {
			ssize_t r = read(c->in_fd, c->in, sizeof(c->in));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) { /* EOF (or an error): no more input, the guest runs on */
				if (c->in_poll)
					evloop_del(c->loop, c->in_fd);
				c->in_fd = -1;
				return;
			}
			c->in_len = (size_t)r;
		}
		console_push_input(c);
		if (c->in_len || c->in_fd < 0 || c->in_poll)
			break; /* the FIFO is full, or a pollable fd: wait for the next event */
	}
	console_update_pause(c);
}

static void console_on_input(void *opaque, uint32_t events)
{
	struct console *c = opaque;

	(void)events;
	if (c->in_fd >= 0)
		console_read_input(c);
}

static void console_on_wake(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	uint64_t v;
	ssize_t r = read(c->wake_fd, &v, sizeof(v));

	(void)events;
	(void)r;
	if (c->in_len)
		console_push_input(c);
	if (c->in_fd < 0)
		return;
	if (c->in_poll)
		console_update_pause(c); /* resume watching stdin once the held-back bytes are in */
	else
		console_read_input(c);
}

int console_attach(struct console *c, struct uart *u)
{
	int err;

	c->uart = u;
	/* Registered with no events until output backs up. A regular file cannot be polled (the add fails): its
	 * writes never wait, so the ring only fills after an error, and that marks the output broken. */
	if (c->out_fd >= 0)
		evloop_add(c->loop, c->out_fd, 0, console_on_writable, c);
	err = evloop_add(c->loop, c->wake_fd, EPOLLIN, console_on_wake, c);
	if (err < 0)
		return err;
	if (c->in_fd < 0)
		return 0;
	if (isatty(c->in_fd) && tcgetattr(c->in_fd, &c->saved) == 0) {
		struct termios raw = c->saved;

		cfmakeraw(&raw);
		if (tcsetattr(c->in_fd, TCSANOW, &raw) == 0) {
			c->in_tty = true;
			c->tty_fd = c->in_fd;
			fprintf(stderr, "kvmini: console on this terminal; press Ctrl-A x to quit\r\n");
		}
	}
	err = evloop_add(c->loop, c->in_fd, EPOLLIN, console_on_input, c);
	if (err == 0) {
		c->in_poll = true;
		return 0;
	}
	if (err != -EPERM)
		return err;
	/* Regular file or /dev/null: always readable, so feed it whenever the FIFO has room (wake_fd). */
	console_uart_rx_space(c);
	return 0;
}

void console_restore_tty(const struct console *c)
{
	if (c->in_tty)
		tcsetattr(c->tty_fd, TCSANOW, &c->saved);
}

void console_finish(struct console *c, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&c->lock);
	while (c->len && !c->out_broken) {
		struct pollfd p = {.fd = c->out_fd, .events = POLLOUT};
		long left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		console_drain_locked(c);
	}
	c->dropped += c->len;
	c->len = 0;
	pthread_mutex_unlock(&c->lock);
	if (c->in_tty) {
		tcsetattr(c->tty_fd, TCSANOW, &c->saved);
		c->in_tty = false;
	}
	if (c->out_nonblock) {
		int fl = fcntl(STDOUT_FILENO, F_GETFL);

		if (fl >= 0)
			fcntl(STDOUT_FILENO, F_SETFL, fl & ~O_NONBLOCK);
		c->out_nonblock = false;
	}
	if (c->dropped)
		fprintf(stderr, "kvmini: console: %llu bytes of guest output dropped (the reader stalled or left)\n",
			(unsigned long long)c->dropped);
	if (c->out_own && c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
	free(c->ring);
	c->ring = NULL;
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	c->wake_fd = -1;
}
