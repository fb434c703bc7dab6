/* kvm-probe: exit 0 when /dev/kvm is really usable for e2e tests: it opens, creates a VM, and runs guest code
 * at hardware speed. Prints one line saying what worked or failed; run.sh uses it to choose host or nested mode.
 * Why the speed check: some sandboxes offer a /dev/kvm that works but emulates every guest instruction (seen:
 * 1.3 us per loop iteration, ~1000x slower than hardware), where a kernel boot takes many minutes.
 * kvm-probe --hold: create a VM with an in-kernel irqchip and one vCPU that never runs, and wait for a signal.
 * The nested testbed keeps one in L1 so that the kernel's KVM static keys (preempt notifiers, the LAPIC's
 * "software disabled" key) never drop to zero between test VMs: each drop or rise live-patches L1's kernel
 * text, and TCG has been seen stuck at such a patch site in __schedule. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define LOOPS     200000u /* well under 1 ms on hardware virtualization */
#define SLOW_MS   150.0 /* hardware, or nested under a loaded TCG L1: 10-60 ms; emulated: 290 ms and up */

/* The --hold VM: 0 and then blocks until a signal ends the process; 1 with a line on failure. */
static int hold(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm = -1;

	if (kvm < 0 || (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm, KVM_CREATE_VCPU, 0) < 0) {
		printf("kvm-probe --hold: cannot create the VM: %s\n", strerror(errno));
		return 1;
	}
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--hold"))
		return hold();
	const char *path = argc > 1 ? argv[1] : "/dev/kvm";
	/* 16-bit guest: mov ecx, LOOPS; 1: dec ecx; jnz 1b; out 0x10, al; hlt */
	uint8_t code[] = {0x66, 0xb9, 0, 0, 0, 0, 0x66, 0x49, 0x75, 0xfc, 0xe6, 0x10, 0xf4};
	uint32_t loops = LOOPS;
	struct timespec t0, t1;
	double ms;
	int kvm = open(path, O_RDWR | O_CLOEXEC);

	if (kvm < 0) {
		printf("cannot open %s read-write: %s\n", path, strerror(errno));
		return 1;
	}
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		printf("%s: KVM_GET_API_VERSION gave %d (want %d)\n", path, api, KVM_API_VERSION);
		return 1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		printf("%s: KVM_CREATE_VM failed: %s\n", path, strerror(errno));
		return 1;
	}
	uint8_t *mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct kvm_userspace_memory_region r = {.memory_size = 0x10000, .userspace_addr = (uintptr_t)mem};
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mem == MAP_FAILED || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0 || vcpu < 0 || run_size <= 0) {
		printf("%s: cannot set up a test vCPU: %s\n", path, strerror(errno));
		return 1;
	}
	memcpy(code + 2, &loops, 4);
	memcpy(mem + 0x1000, code, sizeof(code));
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	struct kvm_sregs s;
	struct kvm_regs g = {.rip = 0x1000, .rflags = 2};
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
		return 1;
	s.cs.base = 0;
	s.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(vcpu, KVM_SET_REGS, &g) < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_IO) {
		printf("%s: the test guest did not run (exit reason %u)\n", path, run->exit_reason);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (ms > SLOW_MS) {
		printf("%s works but runs guest code emulated (%u loop iterations took %.0f ms; hardware: under 1 ms)\n",
		       path, loops, ms);
		return 2;
	}
	printf("%s: API %d, a test guest ran %u loop iterations in %.1f ms\n", path, api, loops, ms);
	return 0;
}
