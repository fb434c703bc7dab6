/* test_console.c: the console never blocks a vCPU on a stalled reader, survives a departed one, and feeds input
 * to the UART without losing bytes when the FIFO fills. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/console.h"

static void noop_quit(void *opaque)
{
	(*(int *)opaque)++;
}

/* Point the console's stdout at a pipe's write end: stdout is what CONSOLE_STDIO reopens. */
static int redirect_stdout(int fd)
{
	int saved = dup(STDOUT_FILENO);

	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	return saved;
}

static void restore_stdout(int saved)
{
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
}

/* A reader that never reads: 3 MiB of guest output must neither block nor grow without bound. */
static void test_stalled_reader_never_blocks(void **state)
{
	struct evloop loop;
	struct console c;
	int p[2], saved, quits = 0;
	const char *why = NULL;

	(void)state;
	assert_int_equal(pipe(p), 0);
	saved = redirect_stdout(p[1]);
	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(console_init(&c, &loop, CONSOLE_STDIO, NULL, noop_quit, &quits, &why), 0);
	c.in_fd = -1;		/* no input in this test */
	assert_true(c.out_own); /* a pipe is reopened, so O_NONBLOCK does not leak to the shared description */
	assert_int_equal(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
	for (unsigned i = 0; i < 3u << 20; i++)
		console_uart_tx(&c, (uint8_t)i);
	/* pipe buffer (64 KiB by default) + ring (1 MiB) held; the rest dropped and counted */
	assert_true(c.len <= CONSOLE_RING);
	assert_true(c.dropped >= (3u << 20) - CONSOLE_RING - (1u << 20));
	console_finish(&c, 10);
	restore_stdout(saved);
	close(p[0]);
	close(p[1]);
	evloop_destroy(&loop);
}

/* Bytes come out in order and complete when the reader keeps up. */
static void test_output_in_order(void **state)
{
	struct evloop loop;
	struct console c;
	int p[2], saved, quits = 0;
	const char *why = NULL;
	const char msg[] = "Linux version 6.1\r\nKVMINI_INIT_OK\r\n";
	char buf[128] = {0};

	(void)state;
	assert_int_equal(pipe(p), 0);
	saved = redirect_stdout(p[1]);
	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(console_init(&c, &loop, CONSOLE_STDIO, NULL, noop_quit, &quits, &why), 0);
	c.in_fd = -1;
	for (size_t i = 0; i < sizeof(msg) - 1; i++)
		console_uart_tx(&c, (uint8_t)msg[i]);
	console_finish(&c, 100);
	restore_stdout(saved);
	close(p[1]);
	assert_int_equal(read(p[0], buf, sizeof(buf)), (ssize_t)(sizeof(msg) - 1));
	assert_string_equal(buf, msg);
	assert_int_equal(c.dropped, 0);
	close(p[0]);
	evloop_destroy(&loop);
}

/* The reader went away: writes fail with EPIPE (SIGPIPE ignored, as main does), nothing crashes. */
static void test_departed_reader(void **state)
{
	struct evloop loop;
	struct console c;
	int p[2], saved, quits = 0;
	const char *why = NULL;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pipe(p), 0);
	saved = redirect_stdout(p[1]);
	close(p[0]);
	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(console_init(&c, &loop, CONSOLE_STDIO, NULL, noop_quit, &quits, &why), 0);
	c.in_fd = -1;
	for (int i = 0; i < 1000; i++)
		console_uart_tx(&c, 'x');
	assert_true(c.out_broken);
	assert_true(c.dropped > 0);
	console_finish(&c, 10);
	restore_stdout(saved);
	close(p[1]);
	evloop_destroy(&loop);
}

/* --console file:PATH writes everything to the file; a path that cannot be opened is an error. */
static void test_console_file(void **state)
{
	struct evloop loop;
	struct console c;
	char path[] = "/tmp/kvmini-console-XXXXXX";
	int fd = mkstemp(path), quits = 0;
	const char *why = NULL;
	char buf[8] = {0};

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(console_init(&c, &loop, CONSOLE_FILE, path, noop_quit, &quits, &why), 0);
	c.in_fd = -1;
	console_uart_tx(&c, 'o');
	console_uart_tx(&c, 'k');
	console_finish(&c, 100);
	assert_int_equal(read(fd, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "ok");
	close(fd);
	unlink(path);
	why = NULL;
	assert_true(console_init(&c, &loop, CONSOLE_FILE, "/nonexistent-dir/x", noop_quit, &quits, &why) < 0);
	assert_non_null(why);
	close(c.wake_fd);
	evloop_destroy(&loop);
}

/* One pass of what evloop_run does, waiting at most 10 ms: dispatch the ready entries. */
static void pump(struct evloop *l)
{
	struct epoll_event ev[16];
	int n = epoll_wait(l->epfd, ev, 16, 10); /* a pty delivers asynchronously: allow it a moment */

	for (int i = 0; i < n; i++) {
		struct evloop_entry *e = ev[i].data.ptr;

		if (e && e->fd >= 0)
			e->cb(e->opaque, ev[i].events);
	}
}

/* Input larger than the 16-byte FIFO: the console keeps the rest and delivers it as the guest reads. */
static void test_input_waits_for_fifo_room(void **state)
{
	struct evloop loop;
	struct console c;
	struct irq_line irq;
	struct uart u;
	struct uart_backend be = {.tx = console_uart_tx, .rx_space = console_uart_rx_space, .opaque = &c};
	int p[2], quits = 0;
	const char *why = NULL;
	const char line[] = "hello-from-the-host-0123456789\n";
	char got[64] = {0};
	size_t n = 0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(console_init(&c, &loop, CONSOLE_NONE, NULL, noop_quit, &quits, &why), 0);
	c.in_fd = p[0];
	irq_line_init(&irq, 4, -1);
	uart_init(&u, &irq, &be);
	assert_int_equal(console_attach(&c, &u), 0);
	assert_int_equal(write(p[1], line, sizeof(line) - 1), (ssize_t)(sizeof(line) - 1));
	/* The guest drains the FIFO byte by byte (LSR.DR at offset 5, RBR at 0) while the loop refills it. */
	for (int round = 0; round < 100 && n < sizeof(line) - 1; round++) {
		uint8_t lsr, b;

		pump(&loop);
		for (;;) {
			uart_bus_ops.read(&u, 5, &lsr, 1);
			if (!(lsr & 1))
				break;
			uart_bus_ops.read(&u, 0, &b, 1);
			got[n++] = (char)b;
		}
	}
	assert_int_equal(n, sizeof(line) - 1);
	assert_string_equal(got, line);
	assert_int_equal(u.rx_overruns, 0);
	uart_destroy(&u);
	close(p[1]);
	console_finish(&c, 10);
	evloop_destroy(&loop);
}

/* On a terminal: raw mode while running, Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A, other bytes pass, and
 * console_finish puts the terminal back exactly as it was. A pty stands in for the user's terminal. */
static void test_tty_raw_mode_and_escape(void **state)
{
	struct evloop loop;
	struct console c;
	struct irq_line irq;
	struct uart u;
	struct uart_backend be = {.tx = console_uart_tx, .rx_space = console_uart_rx_space, .opaque = &c};
	struct termios before, during, after;
	int master, slave, quits = 0;
	const char *why = NULL;
	uint8_t b, lsr;

	(void)state;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, &before), 0);
	assert_true(before.c_lflag & ICANON);

	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(console_init(&c, &loop, CONSOLE_NONE, NULL, noop_quit, &quits, &why), 0);
	c.in_fd = slave;
	irq_line_init(&irq, 4, -1);
	uart_init(&u, &irq, &be);
	assert_int_equal(console_attach(&c, &u), 0);
	assert_true(c.in_tty);
	assert_int_equal(tcgetattr(slave, &during), 0);
	assert_false(during.c_lflag & (ICANON | ECHO | ISIG));

	/* "a", Ctrl-A Ctrl-A (one Ctrl-A reaches the guest), "b", then Ctrl-A x */
	assert_int_equal(write(master, "a\001\001b", 4), 4);
	for (int i = 0; i < 20; i++)
		pump(&loop);
	const uint8_t want[] = {'a', 0x01, 'b'};
	for (size_t i = 0; i < sizeof(want); i++) {
		uart_bus_ops.read(&u, 5, &lsr, 1);
		assert_true(lsr & 1);
		uart_bus_ops.read(&u, 0, &b, 1);
		assert_int_equal(b, want[i]);
	}
	uart_bus_ops.read(&u, 5, &lsr, 1);
	assert_false(lsr & 1);
	assert_int_equal(quits, 0);
	assert_int_equal(write(master, "\001x", 2), 2);
	for (int i = 0; i < 20 && !quits; i++)
		pump(&loop);
	assert_int_equal(quits, 1);
	uart_bus_ops.read(&u, 5, &lsr, 1);
	assert_false(lsr & 1); /* the escape itself never reaches the guest */

	console_finish(&c, 10);
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_int_equal(after.c_iflag, before.c_iflag);
	assert_int_equal(after.c_oflag, before.c_oflag);
	uart_destroy(&u);
	close(slave);
	close(master);
	evloop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stalled_reader_never_blocks),
	    cmocka_unit_test(test_output_in_order),
	    cmocka_unit_test(test_departed_reader),
	    cmocka_unit_test(test_console_file),
	    cmocka_unit_test(test_input_waits_for_fifo_room),
	    cmocka_unit_test(test_tty_raw_mode_and_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
