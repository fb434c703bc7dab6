/* demo.c: kvmini demo on the host side: find and list the demos, serve the hypercall port, and --step. */
#include "vmm/demo.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm/layout.h"
#include "vmm/trace.h"
#include "vmm/vm.h"

const struct demo *demo_find(const struct demo *tab, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(tab[i].name, name))
			return &tab[i];
	return NULL;
}

void demo_list(FILE *f, const struct demo *tab, unsigned n)
{
	fputs("usage: kvmini demo NAME [--trace] [--step] [run options]\n"
	      "Tiny guests built into kvmini, each showing one thing a hypervisor does (sources: guest/demo/):\n",
	      f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "  %-10s %s\n", tab[i].name, tab[i].summary);
}

/* A real-mode segment as after reset: base = selector * 16, a 64 KiB limit. */
static void demo_seg_real(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){
	    .base = (uint64_t)sel << 4, .limit = 0xffff, .selector = sel, .type = type, .present = 1, .s = 1};
}

int demo_vcpu_setup(struct vcpu *v, uint64_t entry, const char **why)
{
	struct kvm_sregs s;
	struct kvm_regs r = {.rip = entry, .rsp = entry, .rflags = 0x2};

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		*why = "KVM_GET_SREGS failed";
		return -errno;
	}
	demo_seg_real(&s.cs, 0, 0xb); /* code, readable */
	demo_seg_real(&s.ds, 0, 0x3); /* data, writable */
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.idt = (struct kvm_dtable){.base = 0, .limit = 0x3ff}; /* the real-mode interrupt vector table */
	s.gdt = (struct kvm_dtable){.base = 0, .limit = 0xffff};
	s.cr0 = 1u << 4; /* CR0.ET only: PE, PG off */
	s.cr3 = s.cr4 = s.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0 || ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
		*why = "KVM_SET_SREGS / KVM_SET_REGS failed";
		return -errno;
	}
	return 0;
}

/* HYPERCALL_PRINT's text joins the serial console's byte stream, so it stays in order with the UART's output. */
static void demo_hcall_print(void *opaque, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		console_uart_tx(opaque, (uint8_t)s[i]);
}

static uint64_t demo_hcall_now(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int demo_hypercall_setup(struct vm *vm, const char **why)
{
	struct hypercall_hooks h = {.print = demo_hcall_print, .now_ns = demo_hcall_now, .opaque = &vm->con};
	int err;

	hypercall_init(&vm->demo.hcall, &h, &vm->mem);
	/* The bus only claims the port (writes ignored there); demo_hypercall does the work on the vCPU thread. */
	err = bus_add(&vm->pio, PORT_HYPERCALL, 1, &bus_sink_ops, NULL, "hypercall");
	if (err < 0) {
		*why = "device layout conflict (hypercall port)";
		return err;
	}
	vm->demo.hcall_on = true;
	return 0;
}

int demo_hypercall(struct vcpu *v)
{
	struct kvm_regs r;
	struct hypercall_regs h;
	/* The completing KVM_RUN below rewrites the exit fields; --trace and --step still want this exit's. */
	uint32_t reason = v->run->exit_reason;
	__typeof__(v->run->io) io = v->run->io;
	int err = 0;

	/* KVM finishes an `out` (RIP moves past it) only when KVM_RUN is entered again. With immediate_exit set,
	 * that entry completes it and returns EINTR before the guest runs another instruction (KVM's API
	 * documentation, "immediate_exit"). Registers set before that could be overwritten or the `out` replayed. */
	v->run->immediate_exit = 1;
	if (ioctl(v->fd, KVM_RUN, 0) == 0 || errno != EINTR)
		err = -EIO;
	v->run->immediate_exit = 0;
	if (!err && ioctl(v->fd, KVM_GET_REGS, &r) < 0)
		err = -errno;
	if (!err) {
		h = (struct hypercall_regs){.rax = r.rax, .rbx = r.rbx, .rdx = r.rdx};
		hypercall_handle(&v->vm->demo.hcall, &h);
		r.rax = h.rax;
		r.rdx = h.rdx;
		if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
			err = -errno;
	}
	v->run->exit_reason = reason;
	v->run->io = io;
	return err;
}

void demo_step_init(struct vm *vm)
{
	pthread_mutex_init(&vm->demo.step_lock, NULL);
	vm->demo.step = true;
}

void demo_step(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_regs r;
	struct kvm_sregs sr;
	bool regs, nl;
	char what[512], c, first = 0;
	ssize_t got;
	int n;

	if (!__atomic_load_n(&vm->demo.step, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&vm->exit_status, __ATOMIC_ACQUIRE) >= 0)
		return;
	regs = ioctl(v->fd, KVM_GET_REGS, &r) == 0 && ioctl(v->fd, KVM_GET_SREGS, &sr) == 0;
	pthread_mutex_lock(&vm->demo.step_lock); /* one prompt at a time when several vCPUs exit */
	vm->demo.nexits++;
	/* The same words as a --trace line (vmm/trace.c), numbered by this pause's count of exits. */
	n = trace_format(what, sizeof(what), vm->demo.nexits, v->id, v->run, (size_t)vm->run_size, regs ? &r.rip : NULL,
			 regs ? trace_cpu_mode(&sr, r.rflags) : NULL);
	if (n > 0 && (size_t)n < sizeof(what) && what[n - 1] == '\n')
		what[n - 1] = '\0';
	/* On a terminal, start below the guest's unfinished console line rather than at its end. */
	pthread_mutex_lock(&vm->con.lock);
	nl = vm->con.tail.curlen > 0;
	pthread_mutex_unlock(&vm->con.lock);
	fprintf(stderr, "%skvmini: step: %s  [Enter: next exit, c Enter: run on] ", nl ? "\n" : "", what);
	fflush(stderr);
	/* One line from stdin. A kick (the VM is ending) interrupts the read: then stop waiting. */
	for (;;) {
		got = read(STDIN_FILENO, &c, 1);
		if (got < 0 && errno == EINTR && __atomic_load_n(&vm->exit_status, __ATOMIC_ACQUIRE) < 0)
			continue;
		if (got <= 0 || c == '\n')
			break;
		if (!first && !isspace((unsigned char)c))
			first = c;
	}
	if (got <= 0 || !isatty(STDIN_FILENO))
		fputc('\n', stderr); /* no echoed Enter (EOF, the end, a pipe): the prompt's line still ends */
	if (got <= 0 || first == 'c')
		__atomic_store_n(&vm->demo.step, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->demo.step_lock);
}
