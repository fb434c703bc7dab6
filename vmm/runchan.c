/* runchan.c: the host end of the run channel: the guest's status, readiness and program output; panics. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vmm/vm.h"

#define PANIC_GRACE_S 2 /* a panic report that never prints its end line still ends the VM this much later */

static void runchan_exit(void *opaque, uint32_t v)
{
	struct vm *vm = opaque;

	/* The first status wins, like the first exit request. A status beyond 122 would collide with kvmini's own
	 * codes (123-127) or with "killed by a signal": it becomes 1, a plain failure; the JSON keeps the value. */
	int64_t none = -1;

	__atomic_compare_exchange_n(&vm->run.guest_status, &none, (int64_t)v, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	vm_request_exit(vm, v <= EXIT_STATUS_MAX ? (int)v : 1, "the guest reported its status");
}

static void runchan_ready(void *opaque)
{
	struct vm *vm = opaque;
	uint64_t zero = 0;

	__atomic_compare_exchange_n(&vm->stats.t_ready_ns, &zero, vm_now_ns(), false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
}

/*
 * The program's bytes, straight to kvmini's stdout or stderr from the vCPU thread: a slow reader slows the
 * guest's program down (it blocks in its write, as it would on a pipe) and nothing is buffered or lost. Only a
 * reader that went away (EPIPE) loses the rest, counted. A VM that is ending stops waiting.
 */
static void runchan_output(void *opaque, int stream, const uint8_t *data, size_t len)
{
	struct vm *vm = opaque;
	struct vm_runchan *rc = &vm->run;
	int fd = rc->out_fd[stream];

	while (len) {
		ssize_t n;

		if (rc->out_broken[stream] || __atomic_load_n(&vm->exit_status, __ATOMIC_ACQUIRE) >= 0) {
			rc->out_dropped[stream] += len;
			return;
		}
		n = write(fd, data, len);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			rc->out_bytes[stream] += (uint64_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};

			poll(&p, 1, 100); /* a shared, non-blocking descriptor (the console on stdio too) */
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			rc->out_broken[stream] = true;
		}
	}
}

static uint32_t runchan_gone(void *opaque)
{
	struct vm *vm = opaque;

	return (vm->run.out_broken[1] ? 1u : 0u) | (vm->run.out_broken[2] ? 2u : 0u);
}

static void runchan_on_panic_timer(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t n;

	(void)events;
	if (read(vm->run.panic_timer, &n, sizeof(n)) == sizeof(n))
		vm_request_exit(vm, EXIT_PANIC, "guest kernel panic");
}

/* Console lines, on the vCPU thread that printed them (console lock held). */
static void runchan_on_tail(void *opaque, enum tail_event ev)
{
	struct vm *vm = opaque;
	struct itimerspec its = {.it_value = {.tv_sec = PANIC_GRACE_S}};

	if (ev == TAIL_PANIC_END)
		vm_request_exit(vm, EXIT_PANIC, "guest kernel panic");
	else if (ev == TAIL_PANIC && vm->run.panic_timer >= 0)
		timerfd_settime(vm->run.panic_timer, 0, &its, NULL); /* let the rest of the report arrive */
}

int vm_runchan_setup(struct vm *vm, const char **why)
{
	struct runport_hooks h = {
	    .exit = runchan_exit, .ready = runchan_ready, .output = runchan_output, .gone = runchan_gone, .opaque = vm};
	int err;

	runport_init(&vm->run.port, &h, &vm->mem);
	err = bus_add(&vm->pio, PORT_EXIT, 4, &runport_exit_ops, &vm->run.port, "exit");
	if (!err)
		err = bus_add(&vm->pio, PORT_READY, 1, &runport_ready_ops, &vm->run.port, "ready");
	if (!err)
		err = bus_add(&vm->pio, PORT_PROG_STDOUT, 2, &runport_output_ops, &vm->run.port, "program-output");
	if (!err)
		err = bus_add(&vm->pio, PORT_PROG_PAGES, 4, &runport_pages_ops, &vm->run.port, "program-pages");
	if (err < 0) {
		*why = "device layout conflict";
		return err;
	}
	vm->run.panic_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vm->run.panic_timer < 0 ||
	    (err = evloop_add(&vm->loop, vm->run.panic_timer, EPOLLIN, runchan_on_panic_timer, vm)) < 0) {
		*why = "cannot create a timer";
		return vm->run.panic_timer < 0 ? -errno : err;
	}
	vm->con.on_tail = runchan_on_tail;
	vm->con.tail_opaque = vm;
	return 0;
}

void vm_runchan_destroy(struct vm *vm)
{
	if (vm->run.panic_timer >= 0)
		close(vm->run.panic_timer);
	vm->run.panic_timer = -1;
}
