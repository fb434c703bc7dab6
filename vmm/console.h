/* console.h: the host end of the serial console: guest output to stdout/a file, stdin to the guest, Ctrl-A x. */
#ifndef KVMINI_CONSOLE_H
#define KVMINI_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "devices/uart16550.h"
#include "vmm/evloop.h"
#include "vmm/tail.h"

#define CONSOLE_RING (1u << 20) /* guest output held while the reader is slow; beyond it, bytes are dropped */

enum console_kind { CONSOLE_STDIO, CONSOLE_FILE, CONSOLE_NONE };

struct console {
	pthread_mutex_t lock;
	struct evloop *loop;
	struct uart *uart;
	/* output */
	int out_fd;	   /* -1: discard */
	bool out_own;	   /* we opened out_fd and must close it */
	bool out_nonblock; /* set O_NONBLOCK on a descriptor we share: restore it at exit */
	bool out_armed;	   /* EPOLLOUT is being watched */
	bool out_broken;   /* the reader went away (EPIPE): discard from now on */
	uint8_t *ring;	   /* allocated on first need */
	size_t head, len;
	uint64_t dropped;
	/* input */
	int in_fd;	/* -1: none */
	bool in_poll;	/* in_fd is in the epoll set (regular files and /dev/null are not pollable) */
	bool in_paused; /* the UART's FIFO is full: stop reading until it drains */
	bool in_tty;	/* raw mode is on for tty_fd and must be restored */
	int tty_fd;	/* the terminal whose settings we changed (stdin); kept even after input EOF */
	bool esc;	/* the previous byte was Ctrl-A */
	struct termios saved;
	uint8_t in[256];
	size_t in_off, in_len;
	int wake_fd; /* eventfd: the UART has room again */
	void (*quit)(void *opaque);
	void *quit_opaque;
	/* every byte, whatever the output: the last lines for reports, a kernel panic seen at once */
	struct tail tail;
	void (*on_tail)(void *opaque, enum tail_event ev); /* called with the lock held, on the vCPU thread */
	void *tail_opaque;
};

/* Set up output (`path` for CONSOLE_FILE) and input (stdin unless `no_input`). The `quit` callback runs on the
 * event-loop thread when the user types Ctrl-A x on a TTY. 0 or -errno (with *why set). */
int console_init(struct console *c, struct evloop *loop, enum console_kind kind, const char *path, void (*quit)(void *),
		 void *quit_opaque, const char **why);
/* Connect the UART and start watching stdin. */
int console_attach(struct console *c, struct uart *u);
/* The UART backend callbacks (opaque = struct console *). */
void console_uart_tx(void *opaque, uint8_t byte);
void console_uart_rx_space(void *opaque);
/* Write out what is still buffered, waiting at most `ms` for a slow reader; restore the TTY and fd flags. */
void console_finish(struct console *c, int ms);
/* Restore the terminal only: async-signal-safe, for fatal-signal paths. */
void console_restore_tty(const struct console *c);

#endif
