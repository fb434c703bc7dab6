/* vm.h: struct vm, the root of everything one virtual machine owns; two VMs can live in one process. */
#ifndef KVMINI_VM_H
#define KVMINI_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/acpi_pm.h"
#include "devices/cmos.h"
#include "devices/i8042.h"
#include "devices/runport.h"
#include "devices/uart16550.h"
#include "devices/virtio_blk.h"
#include "vmm/bus.h"
#include "vmm/coalesce.h"
#include "vmm/demo.h"
#include "vmm/bzimage.h"
#include "vmm/console.h"
#include "vmm/evloop.h"
#include "vmm/gmem.h"
#include "vmm/irq.h"
#include "vmm/netdev.h"
#include "vmm/layout.h"
#include "vmm/trace.h"
#include "vmm/virtio.h"

#define VM_MAX_VCPUS 64

/* kvmini's exit statuses (README "Exit status"). */
enum {
	EXIT_GUEST_DONE = 0,	/* the guest powered off, reset or rebooted, or the user quit */
	EXIT_STATUS_MAX = 122,	/* 0-122: the status the guest wrote to the exit device (123-255 become 1) */
	EXIT_NO_STATUS = 123,	/* a CMD was given and the guest stopped without reporting a status */
	EXIT_TIMEOUT = 124,	/* --timeout or --boot-timeout expired */
	EXIT_SETUP = 125,	/* kvmini could not start the guest */
	EXIT_PANIC = 126,	/* the guest kernel panicked */
	EXIT_VMM_FAILURE = 127, /* KVM internal error or an exit kvmini cannot handle: registers on stderr */
};

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm_stats {
	uint64_t exits_io, exits_mmio, exits_other;
	uint64_t t_start_ns, t_first_run_ns; /* CLOCK_MONOTONIC: kvmini's main(), vCPU 0's first KVM_RUN */
	uint64_t t_ready_ns, t_end_ns;	     /* the init's ready marker (0: none), the VM's end */
};

/* The host end of the run channel (devices/runport.h): status, readiness, the program's output, panics. */
struct vm_runchan {
	struct runport port;
	bool want_status;     /* a CMD runs: a guest that stops without a status ends with EXIT_NO_STATUS */
	int64_t guest_status; /* the raw value written to the exit device; -1: none */
	int out_fd[3];	      /* [1] and [2]: where the program's stdout and stderr go */
	bool out_broken[3];   /* the reader went away: the rest is dropped (counted) */
	uint64_t out_bytes[3], out_dropped[3];
	int panic_timer; /* a panic whose report never ends still ends the VM, 2 s later */
};

struct vm {
	int kvm_fd, vm_fd;
	int run_size;
	unsigned ncpus;
	struct vcpu vcpus[VM_MAX_VCPUS];
	struct kvm_cpuid2 *cpuid; /* what the host supports, adjusted per vCPU at setup */
	struct gmem mem;
	struct bus pio, mmio;
	struct evloop loop;
	struct boot_plan plan;
	bool boot_real_mode; /* kvmini demo: vCPU 0 starts in real mode at 0:plan.entry (set by boot.c) */
	/* devices */
	struct console con;
	struct irq_line com1_irq;
	struct uart com1;
	struct i8042 kbc;
	struct cmos rtc;
	struct irq_line ged_irq;
	struct acpi_pm pm;
	struct coalesce coal; /* COM1's THR writes batched through KVM's ring */
	struct vm_runchan run;
	struct vm_demo demo; /* kvmini demo: the hypercall port and --step (vmm/demo.h) */
	struct vm_virtio virtio[GUEST_VIRTIO_MAX];
	unsigned nvirtio;
	struct virtio_blk *disk[GUEST_VIRTIO_MAX]; /* vda, vdb, ... */
	unsigned ndisks;
	struct netdev *net[GUEST_VIRTIO_MAX]; /* eth0, eth1, ... */
	unsigned nnets;
	/* ending */
	int exit_status; /* -1 while running; the first vm_request_exit wins */
	const char *exit_reason;
	struct vm_stats stats;
	struct trace trace; /* --trace lines and the --stats tally of exits (vmm/trace.h) */
};

/* Every fd field to -1 and the exit status to "running": call first, on a zeroed struct vm. */
void vm_init(struct vm *vm);
/* Open /dev/kvm and check every capability kvmini needs. 0 or -errno with *why set. */
int vm_open_kvm(struct vm *vm, const char **why);
/* Create the VM: irqchip (PIC + IOAPIC + LAPIC), PIT, TSS and identity-map pages, guest RAM slots. */
int vm_create(struct vm *vm, uint64_t mem_size, const char **why);
/* Register the legacy PC devices on the buses and wire COM1's interrupt through an irqfd. */
int vm_add_legacy_devices(struct vm *vm, const char **why);
/* Map KVM's coalesced-PIO ring (after vCPU 0 exists) when KVM offers it; without it nothing changes. */
void vm_coalesce_setup(struct vm *vm);
/* Batch COM1's THR writes exactly while the UART's state allows it (after each write to its other registers). */
void vm_coalesce_update(struct vm *vm);
/* The power button (SIGTERM/SIGINT): the guest decides what to do; safe from any thread. */
void vm_press_power_button(struct vm *vm);
/* End the VM with `status` (first caller wins); safe from any thread. */
void vm_request_exit(struct vm *vm, int status, const char *reason);
/* The guest stopped itself (poweroff, reset, triple fault): EXIT_PANIC after a panic, EXIT_NO_STATUS when a CMD
 * gave none, else EXIT_GUEST_DONE. */
void vm_guest_stopped(struct vm *vm, const char *reason);

/* runchan.c: put the exit, ready and output ports on the bus and watch the console for panics. */
int vm_runchan_setup(struct vm *vm, const char **why);
void vm_runchan_destroy(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Now, CLOCK_MONOTONIC, in nanoseconds. */
uint64_t vm_now_ns(void);

/* vcpu.c */
int vcpu_create(struct vm *vm, unsigned id, const char **why);
int vcpu_setup_boot(struct vcpu *v, const struct boot_plan *plan, const char **why);
int vcpu_start(struct vcpu *v);
/* Interrupt every vCPU out of KVM_RUN and join the threads. */
void vcpus_stop(struct vm *vm);
/* Print a vCPU's registers to stderr, headed by `what`. */
void vcpu_dump(struct vcpu *v, const char *what);

#endif
