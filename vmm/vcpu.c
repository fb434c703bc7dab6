/* vcpu.c: create vCPUs (CPUID, MSRs, LAPIC), set boot registers, and run them: one thread each. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vmm/layout.h"
#include "vmm/vm.h"

#define SIG_VCPU_KICK SIGUSR1

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define CR0_PE	 (1ULL << 0)
#define CR0_MP	 (1ULL << 1)
#define CR0_ET	 (1ULL << 4)
#define CR0_NE	 (1ULL << 5)
#define CR0_WP	 (1ULL << 16)
#define CR0_PG	 (1ULL << 31)
#define CR4_PAE	 (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define APIC_LVT_LINT0	 0x350
#define APIC_LVT_LINT1	 0x360
#define APIC_MODE_EXTINT (7u << 8)
#define APIC_MODE_NMI	 (4u << 8)

/* The kvm_run of the vCPU running on this thread, so the kick signal can set immediate_exit: a kick that lands
 * just before KVM_RUN is entered is then not lost. */
static __thread struct kvm_run *this_run;

static void vcpu_kick_handler(int sig)
{
	(void)sig;
	if (this_run)
		this_run->immediate_exit = 1;
}

static int vcpu_get_cpuid(struct vm *vm)
{
	for (unsigned n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return -errno;
	}
	return -E2BIG;
}

/* Bits needed to number n things (ceil(log2 n)): the width of an APIC-ID field holding n CPUs. */
static unsigned id_bits(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/* The topology every vCPU reports: one package, one core per vCPU, no SMT, so the APIC ID is the core number.
 * The host's values would describe the host's sockets and threads instead and contradict our MADT. */
static void vcpu_cpuid_topology(struct kvm_cpuid_entry2 *e, unsigned id, unsigned n)
{
	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffffu) | (id << 24) | ((1u << id_bits(n)) << 16);
		if (n > 1)
			e->edx |= 1u << 28; /* HTT: the count in EBX[23:16] is valid */
		break;
	case 4: /* Intel: cores per package - 1 in EAX[31:26], for each cache level */
		if (e->eax & 0x1f)
			e->eax = (e->eax & 0x03ffffffu) | (((1u << id_bits(n)) - 1) << 26);
		break;
	case 0xb:
	case 0x1f:
		e->edx = id; /* x2APIC ID */
		if (e->index == 0) {
			e->eax = 0; /* no SMT bits */
			e->ebx = 1;
			e->ecx = (1u << 8) | 0;
		} else if (e->index == 1) {
			e->eax = id_bits(n);
			e->ebx = n;
			e->ecx = (2u << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index; /* level type 0: the list ends */
		}
		break;
	case 0x80000008: /* AMD: cores per package - 1 and the APIC-ID bits they use */
		e->ecx = (e->ecx & ~0xf0ffu) | (id_bits(n) << 12) | (n - 1);
		break;
	case 0x8000001e: /* AMD TOPOEXT: extended APIC ID, core ID, one thread per core, node 0 */
		e->eax = id;
		e->ebx = id & 0xff;
		e->ecx = 0;
		break;
	}
}

/* The host's supported CPUID, made true for this vCPU: its APIC ID and topology, the hypervisor bit, and
 * KVM's paravirt leaves (0x4000_0000 signature, 0x4000_0001 features) so the guest finds kvmclock and skips
 * calibration. */
static int vcpu_set_cpuid(struct vcpu *v)
{
	struct vm *vm = v->vm;
	size_t sz = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	bool have_kvm_leaf = false;
	int r;

	if (!c)
		return -ENOMEM;
	memcpy(c, vm->cpuid, sz);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		vcpu_cpuid_topology(e, v->id, vm->ncpus);
		if (e->function == 1)
			e->ecx |= 1u << 31; /* running under a hypervisor */
		if (e->function == 0x40000000)
			have_kvm_leaf = !memcmp(&e->ebx, "KVMKVMKVM\0\0\0", 12);
	}
	if (!have_kvm_leaf) {
		free(c);
		return -ENOTSUP;
	}
	r = ioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	return r < 0 ? -errno : 0;
}

static int vcpu_set_msrs(struct vcpu *v)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot[] = {
	    {MSR_IA32_SYSENTER_CS, 0},
	    {MSR_IA32_SYSENTER_ESP, 0},
	    {MSR_IA32_SYSENTER_EIP, 0},
	    {MSR_STAR, 0},
	    {MSR_CSTAR, 0},
	    {MSR_KERNEL_GS_BASE, 0},
	    {MSR_SYSCALL_MASK, 0},
	    {MSR_LSTAR, 0},
	    {MSR_IA32_MISC_ENABLE, 1},		 /* fast string operations on, as firmware leaves it */
	    {MSR_MTRR_DEF_TYPE, (1u << 11) | 6}, /* MTRRs on, default write-back: RAM is cacheable */
	};
	enum { N = sizeof(boot) / sizeof(boot[0]) };
	/* struct kvm_msrs ends in a flexible array: room for N entries after it, suitably aligned. */
	union {
		struct kvm_msrs h;
		uint8_t bytes[sizeof(struct kvm_msrs) + N * sizeof(struct kvm_msr_entry)];
	} m;
	unsigned n = N;

	memset(&m, 0, sizeof(m));
	m.h.nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		m.h.entries[i].index = boot[i].index;
		m.h.entries[i].data = boot[i].data;
	}
	int r = ioctl(v->fd, KVM_SET_MSRS, &m);

	return r == (int)n ? 0 : (r < 0 ? -errno : -EINVAL);
}

/* The boot CPU's LAPIC as firmware leaves it: through-PIC interrupts (the "virtual wire") reach it via LINT0 as
 * ExtINT; LINT1 carries NMIs. Application processors keep KVM's reset state until the guest starts them. */
static int vcpu_set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t *lint0, *lint1;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	lint0 = (uint32_t *)(void *)(l.regs + APIC_LVT_LINT0);
	lint1 = (uint32_t *)(void *)(l.regs + APIC_LVT_LINT1);
	*lint0 = (*lint0 & ~0x700u) | APIC_MODE_EXTINT;
	*lint1 = (*lint1 & ~0x700u) | APIC_MODE_NMI;
	return ioctl(v->fd, KVM_SET_LAPIC, &l) < 0 ? -errno : 0;
}

int vcpu_create(struct vm *vm, unsigned id, const char **why)
{
	struct vcpu *v = &vm->vcpus[id];
	int err;

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		*why = "KVM_CREATE_VCPU failed";
		return -errno;
	}
	v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		*why = "cannot map the vCPU's kvm_run";
		return -errno;
	}
	if (!vm->cpuid && (err = vcpu_get_cpuid(vm)) < 0) {
		*why = "KVM_GET_SUPPORTED_CPUID failed";
		return err;
	}
	if ((err = vcpu_set_cpuid(v)) < 0) {
		*why = err == -ENOTSUP ? "KVM offers no paravirt CPUID leaves" : "KVM_SET_CPUID2 failed";
		return err;
	}
	if ((err = vcpu_set_msrs(v)) < 0) {
		*why = "KVM_SET_MSRS failed";
		return err;
	}
	if (id == 0 && (err = vcpu_set_lapic(v)) < 0) {
		*why = "KVM_GET/SET_LAPIC failed";
		return err;
	}
	return 0;
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){.base = 0,
				  .limit = 0xffffffff,
				  .selector = sel,
				  .type = type,
				  .present = 1,
				  .dpl = 0,
				  .db = code64 ? 0 : 1,
				  .s = 1,
				  .l = code64 ? 1 : 0,
				  .g = 1};
}

int vcpu_setup_boot(struct vcpu *v, const struct boot_plan *p, const char **why)
{
	struct kvm_sregs s;
	struct kvm_regs r = {0};

	if (v->vm->boot_real_mode)
		return demo_vcpu_setup(v, p->entry, why); /* kvmini demo: real mode */
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		*why = "KVM_GET_SREGS failed";
		return -errno;
	}
	/* Boot protocol: __BOOT_CS = 0x10 and __BOOT_DS = 0x18, flat, interrupts off; our GDT holds the same. */
	seg_flat(&s.cs, 0x10, 0xb, p->long_mode);
	seg_flat(&s.ds, 0x18, 0x3, false);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.tr = (struct kvm_segment){.limit = 0xfffff, .type = 0xb, .present = 1}; /* a busy 32-bit TSS */
	s.ldt = (struct kvm_segment){.limit = 0xffff, .type = 0x2, .present = 1};
	s.gdt.base = GUEST_GDT_ADDR;
	s.gdt.limit = 4 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = CR0_PE | CR0_ET;
	if (p->long_mode) {
		s.cr0 |= CR0_MP | CR0_NE | CR0_WP | CR0_PG;
		s.cr3 = GUEST_PML4_ADDR;
		s.cr4 = CR4_PAE;
		s.efer = EFER_LME | EFER_LMA;
	} else {
		s.cr4 = 0;
		s.efer = 0;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0) {
		*why = "KVM_SET_SREGS failed";
		return -errno;
	}
	r.rip = p->entry;
	r.rsi = p->zero_page;  /* bzImage: struct boot_params */
	r.rbx = p->start_info; /* PVH: struct hvm_start_info */
	r.rflags = 0x2;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
		*why = "KVM_SET_REGS failed";
		return -errno;
	}
	return 0;
}

void vcpu_dump(struct vcpu *v, const char *what)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	fprintf(stderr, "kvmini: vCPU %u: %s\n", v->id, what);
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return;
	fprintf(stderr,
		"  rip %016llx rsp %016llx rflags %016llx\n"
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rbp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
		"  cs %04x base %llx l %u db %u  ss %04x  ds %04x\n"
		"  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\n",
		r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8, r.r9, r.r10, r.r11,
		r.r12, r.r13, r.r14, r.r15, s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.ss.selector, s.ds.selector,
		s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
}

/* The guest cannot go on: say why with the registers, and end the VM with EXIT_VMM_FAILURE. */
static void vcpu_fail(struct vcpu *v, const char *what, const char *reason)
{
	vcpu_dump(v, what);
	vm_request_exit(v->vm, EXIT_VMM_FAILURE, reason);
}

/* One port-I/O exit: `count` repetitions for string instructions (rep outsb arrives as one exit). */
static int vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;

	/* KVM fills these; still, never index outside the kvm_run page because of them. */
	if ((size != 1 && size != 2 && size != 4) ||
	    run->io.data_offset + (uint64_t)size * run->io.count > (uint64_t)v->vm->run_size)
		return -EINVAL;
	if (run->io.direction == KVM_EXIT_IO_OUT)
		bus_write_string(&v->vm->pio, run->io.port, data, size, run->io.count);
	else
		for (uint32_t i = 0; i < run->io.count; i++)
			bus_access(&v->vm->pio, run->io.port, data + i * size, size, false);
	/* IER, LCR or MCR may have changed whether COM1's THR writes can be batched. */
	if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port > PORT_COM1 && run->io.port < PORT_COM1 + 8)
		vm_coalesce_update(v->vm);
	__atomic_add_fetch(&v->vm->stats.exits_io, 1, __ATOMIC_RELAXED);
	/* kvmini demo: a hypercall reads and writes the guest's registers, done by vmm/demo.c. */
	if (run->io.port == PORT_HYPERCALL && run->io.direction == KVM_EXIT_IO_OUT && v->vm->demo.hcall_on)
		return demo_hypercall(v);
	return 0;
}

/* One exit to userspace, handled: true to run the guest on, false when the vCPU stops. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct vm *vm = v->vm;
	char what[96];

	switch (v->run->exit_reason) {
	case KVM_EXIT_IO:
		if (vcpu_handle_io(v) == 0)
			return true;
		vcpu_fail(v, "malformed port I/O exit", "malformed port I/O exit");
		break;
	case KVM_EXIT_MMIO:
		__atomic_add_fetch(&vm->stats.exits_mmio, 1, __ATOMIC_RELAXED);
		if (v->run->mmio.len <= 8) {
			bus_access(&vm->mmio, v->run->mmio.phys_addr, v->run->mmio.data, v->run->mmio.len,
				   v->run->mmio.is_write);
			return true;
		}
		vcpu_fail(v, "malformed MMIO exit", "malformed MMIO exit");
		break;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault: how a PC resets when nothing else works (reboot=t). */
		vm_guest_stopped(vm, "guest reset (triple fault)");
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (v->run->system_event.type == KVM_SYSTEM_EVENT_RESET ||
		    v->run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			vm_guest_stopped(vm, "guest reset or shutdown (system event)");
			break;
		}
		/* a crash report or anything newer: not a clean end */
		snprintf(what, sizeof(what), "system event %u", v->run->system_event.type);
		vcpu_fail(v, what, "unexpected system event");
		break;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error, suberror %u", v->run->internal.suberror);
		vcpu_fail(v, what, "KVM internal error");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed, hardware reason 0x%llx",
			 (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
		vcpu_fail(v, what, "VM entry failed");
		break;
	default:
		snprintf(what, sizeof(what), "unexpected exit reason %u", v->run->exit_reason);
		vcpu_fail(v, what, "unexpected KVM exit");
		break;
	}
	__atomic_add_fetch(&vm->stats.exits_other, 1, __ATOMIC_RELAXED);
	return false;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;
	char what[96];

	this_run = v->run;
	sigemptyset(&set);
	sigaddset(&set, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (v->id == 0)
		vm->stats.t_first_run_ns = vm_now_ns();
	while (__atomic_load_n(&vm->exit_status, __ATOMIC_ACQUIRE) < 0) {
		int r = ioctl(v->fd, KVM_RUN, 0);
		bool go_on;

		/* Batched writes happened before this exit: deliver them first, in order. */
		coalesce_drain(&vm->coal, &vm->pio, &vm->mmio);
		if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
			v->run->immediate_exit = 0;
			continue;
		}
		if (r < 0) {
			snprintf(what, sizeof(what), "KVM_RUN failed: %s", strerror(errno));
			vcpu_fail(v, what, "KVM_RUN failed");
			break;
		}
		go_on = vcpu_handle_exit(v);
		/* --trace and --stats see each exit after its handling, so a read shows what the device answered. */
		trace_exit(&vm->trace, v);
		if (!go_on)
			break;
		demo_step(v); /* --step: wait for Enter before the guest runs on */
	}
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};
	int err;

	/* No SA_RESTART: the kick must make KVM_RUN return EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIG_VCPU_KICK, &sa, NULL);
	err = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (err)
		return -err;
	v->started = true;
	return 0;
}

void vcpus_stop(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->started)
			continue;
		v->run->immediate_exit = 1;
		pthread_kill(v->thread, SIG_VCPU_KICK);
	}
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = false;
	}
}
