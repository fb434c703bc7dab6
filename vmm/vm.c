/* vm.c: talk to /dev/kvm: capability checks, the VM with its in-kernel irqchip and PIT, RAM slots, devices. */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/layout.h"

struct kvm_cap_need {
	int cap;
	const char *name;
};

/* Each capability the VMM relies on, with the name a user can search for. */
static const struct kvm_cap_need needed_caps[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP (in-kernel PIC/IOAPIC/LAPIC)"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2 (in-kernel PIT)"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
};

int vm_open_kvm(struct vm *vm, const char **why)
{
	int api;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int err = -errno;

		if (err == -ENOENT)
			*why = "/dev/kvm does not exist (no KVM here: load kvm_intel or kvm_amd, or enable "
			       "virtualization)";
		else if (err == -EACCES || err == -EPERM)
			*why = "no permission to open /dev/kvm (add your user to the 'kvm' group)";
		else
			*why = "cannot open /dev/kvm";
		return err;
	}
	api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		*why = "unsupported KVM API version (need 12)";
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0) {
			*why = needed_caps[i].name; /* main prints "KVM lacks <name>" */
			return -ENOTSUP;
		}
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS) < GMEM_MAX_REGIONS) {
		*why = "KVM_CAP_NR_MEMSLOTS (2 memory slots)";
		return -ENOTSUP;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run)) {
		*why = "KVM_GET_VCPU_MMAP_SIZE";
		return -ENOTSUP;
	}
	return 0;
}

int vm_create(struct vm *vm, uint64_t mem_size, const char **why)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t idmap = GUEST_KVM_IDMAP;
	int err;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		*why = "KVM_CREATE_VM failed";
		return -errno;
	}
	/* Intel VMX needs these pages to run real-mode code; they sit in the MMIO hole, away from RAM. */
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)GUEST_KVM_TSS) < 0) {
		*why = "KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR failed";
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		*why = "KVM_CREATE_IRQCHIP failed";
		return -errno;
	}
	/* SPEAKER_DUMMY: KVM answers port 0x61 itself, so the kernel's PIT calibration never exits to us. */
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		*why = "KVM_CREATE_PIT2 failed";
		return -errno;
	}
	err = gmem_init(&vm->mem, mem_size);
	if (err < 0) {
		*why = err == -EINVAL ? "bad guest memory size" : "cannot reserve address space for guest memory";
		return err;
	}
	for (unsigned i = 0; i < vm->mem.n; i++) {
		struct kvm_userspace_memory_region r = {
		    .slot = i,
		    .guest_phys_addr = vm->mem.r[i].gpa,
		    .memory_size = vm->mem.r[i].size,
		    .userspace_addr = (uint64_t)(uintptr_t)vm->mem.r[i].hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			*why = "KVM_SET_USER_MEMORY_REGION failed";
			return -errno;
		}
	}
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	return 0;
}

/* An irqfd: writing the eventfd makes KVM raise `gsi` on the in-kernel irqchip with no exit to userspace. */
static int vm_irqfd(struct vm *vm, struct irq_line *l, unsigned gsi)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct kvm_irqfd req = {.gsi = gsi};

	if (fd < 0)
		return -errno;
	req.fd = (uint32_t)fd;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &req) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	irq_line_init(l, gsi, fd);
	return 0;
}

static void vm_on_reset(void *opaque)
{
	vm_guest_stopped(opaque, "guest reset through the i8042 controller");
}

static void vm_on_acpi(void *opaque, enum acpi_pm_event ev)
{
	vm_guest_stopped(opaque, ev == ACPI_PM_POWEROFF ? "guest powered off (ACPI S5)"
							: "guest reset through the ACPI reset register");
}

void vm_coalesce_setup(struct vm *vm)
{
	long page = sysconf(_SC_PAGESIZE);
	int off = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	void *ring = NULL;

	/* The ring page sits `off` pages into every vCPU's mapping; vCPU 0's will do. */
	/* No batching while --trace is on: every COM1 write must be a real exit, or it would be missing from the
	 * trace (KVM queues batched writes without an exit). */
	if (off > 0 && ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0 && vm->vcpus[0].run &&
	    (off + 1) * page <= vm->run_size && !trace_wants_every_exit(&vm->trace))
		ring = (char *)vm->vcpus[0].run + off * page;
	coalesce_init(&vm->coal, ring, (size_t)page);
}

void vm_coalesce_update(struct vm *vm)
{
	coalesce_set_port(&vm->coal, vm->vm_fd, PORT_COM1, uart_thr_coalescable(&vm->com1), &vm->pio, &vm->mmio);
}

void vm_press_power_button(struct vm *vm)
{
	acpi_pm_press_button(&vm->pm);
}

int vm_add_legacy_devices(struct vm *vm, const char **why)
{
	struct uart_backend be = {.tx = console_uart_tx, .rx_space = console_uart_rx_space, .opaque = &vm->con};
	int err;

	err = vm_irqfd(vm, &vm->com1_irq, IRQ_COM1);
	if (!err)
		err = vm_irqfd(vm, &vm->ged_irq, IRQ_GED);
	if (err < 0) {
		*why = "KVM_IRQFD failed";
		return err;
	}
	uart_init(&vm->com1, &vm->com1_irq, &be);
	i8042_init(&vm->kbc, vm_on_reset, vm);
	cmos_init(&vm->rtc, NULL);
	acpi_pm_init(&vm->pm, &vm->ged_irq, ACPI_SLP_TYP_S5, ACPI_RESET_VALUE, vm_on_acpi, vm);
	err = bus_add(&vm->pio, PORT_COM1, UART_NR_PORTS, &uart_bus_ops, &vm->com1, "com1");
	if (!err)
		err = bus_add(&vm->pio, PORT_I8042_DATA, 1, &i8042_data_ops, &vm->kbc, "i8042-data");
	if (!err)
		err = bus_add(&vm->pio, PORT_I8042_CMD, 1, &i8042_cmd_ops, &vm->kbc, "i8042-cmd");
	if (!err)
		err = bus_add(&vm->pio, PORT_CMOS, 2, &cmos_bus_ops, &vm->rtc, "cmos");
	if (!err)
		err = bus_add(&vm->pio, PORT_POST, 1, &bus_sink_ops, NULL, "post");
	if (!err)
		err = bus_add(&vm->pio, PORT_ACPI_SLEEP_CTL, ACPI_PM_NR_PORTS, &acpi_pm_ops, &vm->pm, "acpi-pm");
	if (err < 0) {
		*why = "device layout conflict";
		return err;
	}
	return 0;
}

void vm_init(struct vm *vm)
{
	vm->kvm_fd = vm->vm_fd = -1;
	vm->com1_irq.fd = vm->ged_irq.fd = -1;
	vm->exit_status = -1;
	vm->run.guest_status = -1;
	vm->run.panic_timer = -1;
	vm->run.out_fd[1] = 1;
	vm->run.out_fd[2] = 2;
	trace_init(&vm->trace);
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < GUEST_VIRTIO_MAX; i++) {
		vm->virtio[i].irq.fd = -1;
		for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
			vm->virtio[i].kick[q].fd = -1;
	}
}

uint64_t vm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void vm_request_exit(struct vm *vm, int status, const char *reason)
{
	int expected = -1;

	if (__atomic_compare_exchange_n(&vm->exit_status, &expected, status, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		vm->exit_reason = reason;
	evloop_stop(&vm->loop);
}

void vm_guest_stopped(struct vm *vm, const char *reason)
{
	if (vm->con.tail.panicked)
		vm_request_exit(vm, EXIT_PANIC, "guest kernel panic");
	else if (vm->run.want_status)
		vm_request_exit(vm, EXIT_NO_STATUS, reason);
	else
		vm_request_exit(vm, EXIT_GUEST_DONE, reason);
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, (size_t)vm->run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	if (vm->com1_irq.fd >= 0) {
		uart_destroy(&vm->com1);
		cmos_destroy(&vm->rtc);
		close(vm->com1_irq.fd);
	}
	if (vm->ged_irq.fd >= 0)
		close(vm->ged_irq.fd);
	vm_virtio_destroy(vm);
	vm_runchan_destroy(vm);
	coalesce_destroy(&vm->coal);
	trace_destroy(&vm->trace);
	gmem_destroy(&vm->mem);
	free(vm->cpuid);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}
