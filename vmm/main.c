/* main.c: the kvmini command line: parse options, build the VM, run it, and turn how it ended into a status. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "vmm/boot.h"
#include "vmm/explain.h"
#include "vmm/kstats.h"
#include "vmm/layout.h"
#include "vmm/opts.h"
#include "vmm/runcmd.h"
#include "vmm/runinit.h"
#include "vmm/vm.h"

#ifndef KVMINI_VERSION
#define KVMINI_VERSION "0.1"
#endif

/* Only for paths that end the process abruptly (die, fatal signals): restore the terminal first. */
static struct vm *fatal_vm;

/* The one place kvmini dies: a setup error, reported once, with the status CI scripts test for. */
static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	if (fatal_vm)
		console_restore_tty(&fatal_vm->con);
	fputs("kvmini: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_SETUP);
}

static void on_fatal_signal(int sig)
{
	if (fatal_vm)
		console_restore_tty(&fatal_vm->con);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_quit(void *opaque)
{
	vm_request_exit(opaque, EXIT_GUEST_DONE, "quit by Ctrl-A x");
}

static void on_timeout(void *opaque, uint32_t events)
{
	(void)events;
	vm_request_exit(opaque, EXIT_TIMEOUT, "time-out (--timeout)");
}

static void on_boot_timeout(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;

	(void)events;
	if (!__atomic_load_n(&vm->stats.t_ready_ns, __ATOMIC_ACQUIRE))
		vm_request_exit(vm, EXIT_TIMEOUT,
				"boot time-out (--boot-timeout): the guest's init never said it was ready");
}

struct sigctx {
	struct vm *vm;
	int fd;
	bool pressed; /* the power button was pressed once already */
};

/* Signals arrive here through a signalfd. SIGTERM or SIGINT presses the ACPI power button once: a guest that
 * handles it shuts down in order and kvmini exits 0. A second one, or SIGHUP (the terminal went away), stops
 * the VM at once and kvmini exits 128+N. */
static void on_signal(void *opaque, uint32_t events)
{
	struct sigctx *sc = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(sc->fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo != SIGHUP && !sc->pressed) {
		sc->pressed = true;
		fprintf(stderr, "kvmini: %s: pressed the power button (send it again to stop at once)\n",
			strsignal((int)si.ssi_signo));
		vm_press_power_button(sc->vm);
		return;
	}
	vm_request_exit(sc->vm, 128 + (int)si.ssi_signo, "stopped by a signal");
}

static int open_input(const char *path, const char *what, uint64_t *size)
{
	struct stat st;
	/* O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever; it changes nothing for the regular
	 * files we accept. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		die("%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0)
		die("%s %s: %s", what, path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		die("%s %s: is a directory", what, path);
	if (!S_ISREG(st.st_mode))
		die("%s %s: not a regular file", what, path);
	*size = (uint64_t)st.st_size;
	return fd;
}

static void print_stats(struct vm *vm)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long hwm = 0, guest = gmem_resident(&vm->mem) / 1024;

	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "VmHWM: %llu kB", &hwm);
	if (f)
		fclose(f);
	fprintf(stderr,
		"kvmini: exits: io=%llu mmio=%llu other=%llu; batched console writes=%llu; unclaimed pio reads=%llu "
		"writes=%llu\n",
		(unsigned long long)vm->stats.exits_io, (unsigned long long)vm->stats.exits_mmio,
		(unsigned long long)vm->stats.exits_other, (unsigned long long)vm->coal.delivered,
		(unsigned long long)vm->pio.unclaimed_reads, (unsigned long long)vm->pio.unclaimed_writes);
	fprintf(stderr, "kvmini: memory: peak-rss=%llu KiB guest-resident=%llu KiB vmm=%llu KiB\n", hwm, guest,
		hwm > guest ? hwm - guest : 0);
	for (unsigned i = 0; i < vm->nnets; i++) {
		const struct virtio_net_stats *n = &vm->net[i]->dev.st;

		fprintf(stderr,
			"kvmini: eth%u: tx frames=%llu bytes=%llu dropped: malformed=%llu short=%llu bad-header=%llu "
			"errors=%llu; waited=%llu; rx frames=%llu bytes=%llu dropped: malformed=%llu too-big=%llu "
			"short=%llu bad-header=%llu errors=%llu; stalls=%llu\n",
			i, (unsigned long long)n->tx_frames, (unsigned long long)n->tx_bytes,
			(unsigned long long)n->tx_malformed, (unsigned long long)n->tx_short,
			(unsigned long long)n->tx_bad_hdr, (unsigned long long)n->tx_errors,
			(unsigned long long)n->tx_eagain, (unsigned long long)n->rx_frames,
			(unsigned long long)n->rx_bytes, (unsigned long long)n->rx_malformed,
			(unsigned long long)n->rx_too_big, (unsigned long long)n->rx_short,
			(unsigned long long)n->rx_bad_hdr, (unsigned long long)n->rx_errors,
			(unsigned long long)n->rx_stalls);
	}
	if (vm->stats.t_first_run_ns > vm->stats.t_start_ns)
		fprintf(stderr, "kvmini: time: start to first KVM_RUN %.1f ms, to exit %.1f ms\n",
			(double)(vm->stats.t_first_run_ns - vm->stats.t_start_ns) / 1e6,
			(double)(vm_now_ns() - vm->stats.t_start_ns) / 1e6);
	trace_print_tally(stderr, &vm->trace, &vm->pio, &vm->mmio);
	kstats_print_vm(stderr, vm);
}

/* At a time-out: where each vCPU and each virtqueue stood (a guest waiting on a device shows up here). */
static void dump_stuck(struct vm *vm)
{
	char q[256];

	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_dump(&vm->vcpus[i], "state at time-out");
	for (unsigned i = 0; i < vm->nvirtio; i++) {
		struct virtio_mmio *t = vm->virtio[i].t;

		pthread_mutex_lock(&t->lock);
		fprintf(stderr, "kvmini: virtio slot %u: status=0x%x isr=0x%x\n", i, t->status, t->isr);
		for (unsigned j = 0; j < t->ops->nqueues && j < VIRTIO_MMIO_MAX_QUEUES; j++) {
			virtq_describe(&t->q[j], q, sizeof(q));
			fprintf(stderr, "kvmini:   queue %u: %s\n", j, q);
		}
		pthread_mutex_unlock(&t->lock);
	}
	for (unsigned i = 0; i < vm->nnets; i++) {
		const struct virtio_net *n = &vm->net[i]->dev;

		fprintf(stderr, "kvmini: eth%u: polling%s%s; rx: %u chains held, %u bytes pending; tx: %s\n", i,
			n->poll & EPOLLIN ? " in" : "", n->poll & EPOLLOUT ? " out" : "", n->rx.nbuf, n->rx.pending,
			n->tx.held ? "a frame held" : "none held");
	}
}

static int arm_timer(struct vm *vm, double seconds, evloop_cb cb)
{
	struct itimerspec its = {0};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	its.it_value.tv_sec = (time_t)seconds;
	its.it_value.tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(fd, 0, &its, NULL) < 0)
		return -errno;
	return evloop_add(&vm->loop, fd, EPOLLIN, cb, vm);
}

/* Each opened disk, then each NIC, gets a virtio-mmio slot: interrupt, window, queue kicks (layout.h), in order. */
static int attach_disks(struct vm *vm, const char **why)
{
	static const char *const names[GUEST_VIRTIO_MAX] = {"vda", "vdb", "vdc", "vdd", "vde", "vdf", "vdg", "vdh"};
	static const char *const nics[GUEST_VIRTIO_MAX] = {"eth0", "eth1", "eth2", "eth3",
							   "eth4", "eth5", "eth6", "eth7"};
	int err = 0;

	for (unsigned i = 0; i < vm->ndisks; i++) {
		struct irq_line *irq = vm_virtio_next_irq(vm, &err);
		struct vm_virtio *slot;

		if (!irq) {
			*why = "cannot wire a disk's interrupt";
			return err;
		}
		virtio_blk_attach(vm->disk[i], irq, &vm->mem);
		if (!(slot = vm_virtio_add(vm, &vm->disk[i]->t, names[i], &err, why)))
			return err;
		vm->disk[i]->kick_fd = slot->kick[0].fd;
	}
	for (unsigned i = 0; i < vm->nnets; i++)
		if ((err = netdev_attach(vm->net[i], vm, nics[i] /* a bus label only */, why)) < 0)
			return err;
	return 0;
}

/* Close the NICs; flush and close every disk: what the guest wrote reaches the image even if it never flushed.
 * A disk whose I/O thread is still inside a request after 2 s (a stalled back-end) is left open, and the result is
 * false: then exit without tearing the VM down, since that thread still uses the disk and guest memory (what the
 * guest flushed was made durable before it was acknowledged, so nothing acknowledged is lost). */
static bool close_disks(struct vm *vm)
{
	bool all = true;

	for (unsigned i = 0; i < vm->nnets; i++) {
		netdev_close(vm->net[i]);
		free(vm->net[i]);
		vm->net[i] = NULL;
	}
	vm->nnets = 0;
	for (unsigned i = 0; i < vm->ndisks; i++) {
		if (virtio_blk_stop(vm->disk[i], 2000) < 0) {
			fprintf(stderr,
				"kvmini: disk vd%c: a request is still running after 2 s (the image's storage "
				"stalls?): not waiting for it\n",
				'a' + i);
			vm->disk[i] = NULL; /* its thread may still use it */
			all = false;
			continue;
		}
		if (virtio_blk_close(vm->disk[i]) < 0)
			fprintf(stderr, "kvmini: disk vd%c: the final flush failed: writes may not be on disk\n",
				'a' + i);
		free(vm->disk[i]);
		vm->disk[i] = NULL;
	}
	vm->ndisks = 0;
	return all;
}

static int cmd_run(int argc, char **argv)
{
	struct vm *vm = calloc(1, sizeof(*vm)); /* sized for 64 vCPUs: keep it off the stack */
	struct opts o;
	struct kernel_image *kimg = calloc(1, sizeof(*kimg));
	struct sigctx sc = {.vm = vm};
	char err[512], console_file[4200];
	bool console_tmp = false, disks_closed;
	const char *why = "";
	uint64_t ksize, isize = 0;
	int kfd, ifd = -1, r;
	sigset_t sigs;

	if (opts_parse(&o, argc, argv, err, sizeof(err)) < 0)
		die("%s", err);
	if (o.help) {
		fputs(opts_usage, stdout);
		return 0;
	}

	/* Host input first: a bad kernel or initrd is reported the same way with or without /dev/kvm. */
	if (!vm || !kimg)
		die("out of memory");
	vm->stats.t_start_ns = vm_now_ns();
	if (o.demo) {
		const struct demo *d = demo_find(kvmini_demos, kvmini_ndemos, o.demo);

		if (!d)
			die("no demo '%s' (kvmini demo lists them)", o.demo);
		kfd = -1;
		if (boot_probe_flat(kimg, d->start, (size_t)(d->end - d->start), &why) < 0)
			die("demo %s: %s", o.demo, why);
	} else {
		kfd = open_input(o.kernel, "kernel", &ksize);
		/* No guest memory yet: RAM-size checks wait for the load, which reports them the same way. */
		if (boot_probe(kimg, kfd, ksize, NULL, &why) < 0)
			die("kernel %s: %s", o.kernel, why);
	}
	if (o.ncmd) {
		/* The kernel's messages go to a file unless --console says otherwise: stdout is the program's. */
		if (!o.console_set) {
			const char *tmp = getenv("TMPDIR");

			snprintf(console_file, sizeof(console_file), "%s/kvmini-console-%d.log",
				 tmp && *tmp ? tmp : "/tmp", (int)getpid());
			o.console = CONSOLE_FILE;
			o.console_path = console_file;
			console_tmp = true;
		}
		if (runcmd_initrd(&o, kvmini_runinit_start, (size_t)(kvmini_runinit_end - kvmini_runinit_start), &ifd,
				  &isize, err, sizeof(err)) < 0)
			die("%s", err);
		if (isize >= o.mem)
			die("the generated initramfs (%llu MiB) does not fit in %llu MiB of guest memory (raise -m)",
			    (unsigned long long)(isize >> 20), (unsigned long long)(o.mem >> 20));
	} else if (o.initrd) {
		ifd = open_input(o.initrd, "initrd", &isize);
		if (isize >= o.mem)
			die("initrd %s: %llu MiB does not fit in %llu MiB of guest memory (raise -m)", o.initrd,
			    (unsigned long long)(isize >> 20), (unsigned long long)(o.mem >> 20));
	}
	for (unsigned i = 0; i < o.ndisks; i++) {
		struct virtio_blk_opts bo;
		char e[160];

		if (!(vm->disk[i] = calloc(1, sizeof(*vm->disk[i]))))
			die("out of memory");
		if (virtio_blk_parse(o.disks[i], &bo, e, sizeof(e)) < 0) /* opts_parse checked it already */
			die("bad --disk '%s': %s", o.disks[i], e);
		if ((r = virtio_blk_open(vm->disk[i], &bo, &why)) < 0)
			die("disk %s %s", bo.path, why);
		vm->ndisks++;
		if (vm->disk[i]->tail)
			fprintf(
			    stderr,
			    "kvmini: warning: disk %s: size is not a multiple of 512; the last %u bytes are hidden\n",
			    bo.path, vm->disk[i]->tail);
	}
	for (unsigned i = 0; i < o.nnets; i++) {
		if (!(vm->net[i] = calloc(1, sizeof(*vm->net[i]))))
			die("out of memory");
		if ((r = netdev_open(vm->net[i], o.nets[i], &why)) < 0)
			die("network %s %s", o.nets[i], why);
		vm->nnets++;
	}
	if (strlen(o.cmdline) > kimg->cmdline_max)
		die("kernel command line is %zu bytes; this kernel accepts at most %u", strlen(o.cmdline),
		    kimg->cmdline_max);

	vm_init(vm);
	vm->run.want_status = o.ncmd > 0;
	vm->trace.tally = o.stats;
	if (o.trace_kinds && (r = trace_open(&vm->trace, o.trace_kinds, o.trace_file)) < 0)
		die("--trace-file %s: %s", o.trace_file, strerror(-r));
	vm->ncpus = o.cpus;
	if ((r = vm_open_kvm(vm, &why)) < 0) {
		if (r == -ENOTSUP && strncmp(why, "KVM_CAP", 7) == 0)
			die("KVM lacks %s", why);
		die("%s", why);
	}
	if ((r = evloop_init(&vm->loop)) < 0)
		die("event loop: %s", strerror(-r));
	if ((r = vm_create(vm, o.mem, &why)) < 0)
		die("%s: %s", why, strerror(-r));
	if ((r = console_init(&vm->con, &vm->loop, o.console, o.console_path, on_quit, vm, &why)) < 0)
		die("console %s: %s: %s", o.console_path ? o.console_path : "", why, strerror(-r));
	if ((r = vm_add_legacy_devices(vm, &why)) < 0 || (r = vm_runchan_setup(vm, &why)) < 0)
		die("%s: %s", why, strerror(-r));
	if (o.demo && (r = demo_hypercall_setup(vm, &why)) < 0)
		die("%s: %s", why, strerror(-r));
	if (o.step) {
		vm->con.in_fd = -1; /* stdin carries --step's Enter, not the guest's input */
		demo_step_init(vm);
	}
	if ((r = attach_disks(vm, &why)) < 0)
		die("%s: %s", why, strerror(-r));
	if ((r = boot_load(vm, kimg, kfd, ifd, isize, o.cmdline, &why)) < 0)
		die("%s", why);
	if (kfd >= 0)
		close(kfd);
	if (ifd >= 0)
		close(ifd);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if ((r = vcpu_create(vm, i, &why)) < 0)
			die("vCPU %u: %s: %s", i, why, strerror(-r));
	if ((r = vcpu_setup_boot(&vm->vcpus[0], &vm->plan, &why)) < 0)
		die("%s: %s", why, strerror(-r));
	if (o.explain_boot)
		explain_boot_vm(stderr, vm, kimg);
	free(kimg);
	if (o.demo || o.step)
		coalesce_init(&vm->coal, NULL, 0); /* teaching: every COM1 write is a real exit, none batched */
	else
		vm_coalesce_setup(vm);

	/* Signals: the event loop reads them; vCPU threads inherit the mask and only unblock their kick. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigdelset(&sigs, SIGUSR1);
	sc.fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sc.fd < 0 || evloop_add(&vm->loop, sc.fd, EPOLLIN, on_signal, &sc) < 0)
		die("signalfd: %s", strerror(errno));
	if (o.timeout > 0 && (r = arm_timer(vm, o.timeout, on_timeout)) < 0)
		die("timer: %s", strerror(-r));
	if (o.boot_timeout > 0 && (r = arm_timer(vm, o.boot_timeout, on_boot_timeout)) < 0)
		die("timer: %s", strerror(-r));
	fatal_vm = vm;
	if ((r = console_attach(&vm->con, &vm->com1)) < 0)
		die("console: %s", strerror(-r));
	vm_coalesce_update(vm);
	for (unsigned i = 0; i < vm->ndisks; i++)
		if ((r = virtio_blk_start(vm->disk[i])) < 0)
			die("cannot start disk vd%c's I/O thread: %s", 'a' + i, strerror(-r));
	for (unsigned i = 0; i < vm->ncpus; i++)
		if ((r = vcpu_start(&vm->vcpus[i])) < 0)
			die("cannot start vCPU thread: %s", strerror(-r));

	r = evloop_run(&vm->loop);
	vcpus_stop(vm);
	coalesce_drain(&vm->coal, &vm->pio, &vm->mmio); /* the guest's last console bytes */
	console_finish(&vm->con, 2000);
	fatal_vm = NULL;
	if (r < 0 && vm->exit_status < 0)
		vm_request_exit(vm, EXIT_VMM_FAILURE, "event loop failed");
	vm->stats.t_end_ns = vm_now_ns();
	if (vm->exit_status == EXIT_TIMEOUT || vm->exit_status == EXIT_PANIC) {
		/* On stdio the console's lines are right above: only the reason then. */
		if (o.console == CONSOLE_STDIO)
			fprintf(stderr, "kvmini: %s\n", vm->exit_reason);
		else
			runcmd_report(vm, o.console == CONSOLE_FILE ? o.console_path : NULL);
		if (o.stats && vm->exit_status == EXIT_TIMEOUT) /* where was it stuck? */
			dump_stuck(vm);
	}
	if (o.stats) {
		fprintf(stderr, "kvmini: exit: %s (status %d)\n", vm->exit_reason, vm->exit_status);
		print_stats(vm);
	}
	disks_closed = close_disks(vm);
	if (o.result && (r = runcmd_result(vm, o.result, o.console == CONSOLE_FILE ? o.console_path : NULL)) < 0)
		fprintf(stderr, "kvmini: cannot write %s: %s\n", o.result, strerror(-r));
	/* A console file kvmini chose itself is kept only when it may be needed: a failure, or --result names it. */
	if (console_tmp && vm->exit_status <= EXIT_STATUS_MAX && !o.result)
		unlink(o.console_path);
	r = vm->exit_status;
	if (!disks_closed) {
		fflush(NULL);
		_exit(r); /* a disk's I/O thread is stuck in a syscall and still holds guest memory: no teardown */
	}
	vm_destroy(vm);
	free(vm);
	return r;
}

/* kvmini demo NAME [options] is kvmini run --demo NAME [options]; no NAME (or --help): the list. */
static int cmd_demo(int argc, char **argv)
{
	char **args;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		demo_list(stdout, kvmini_demos, kvmini_ndemos);
		return 0;
	}
	if (argv[1][0] == '-')
		die("kvmini demo NAME [options]: the demo's name comes first (kvmini demo lists them)");
	if (!(args = calloc((size_t)argc + 3, sizeof(*args))))
		die("out of memory");
	args[0] = "run";
	args[1] = "--demo";
	memcpy(args + 2, argv + 1, (size_t)(argc - 1) * sizeof(*args));
	return cmd_run(argc + 1, args);
}

int main(int argc, char **argv)
{
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};

	/* A closed stdout pipe must not kill the VMM: writes then fail with EPIPE and output is dropped. */
	signal(SIGPIPE, SIG_IGN);
	/* A disk image past RLIMIT_FSIZE: the write fails with EFBIG (an I/O error for the guest), no signal. */
	signal(SIGXFSZ, SIG_IGN);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], on_fatal_signal);
	if (argc < 2)
		die("no command (try: kvmini run -k KERNEL, or kvmini --help)");
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("kvmini %s\n", KVMINI_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(opts_usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "demo"))
		return cmd_demo(argc - 1, argv + 1);
	die("unknown command '%s' (try: kvmini --help)", argv[1]);
}
