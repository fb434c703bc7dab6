/* demo.h: kvmini demo: the built-in teaching guests, their catalog, the hypercall port and --step. */
#ifndef KVMINI_DEMO_H
#define KVMINI_DEMO_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/hypercall.h"

/* One built-in demo: a flat binary from guest/demo/NAME.S, entered in real mode at 0:GUEST_DEMO_ADDR. */
struct demo {
	const char *name, *summary;
	const uint8_t *start, *end;
};

/*
 * The catalog, written in guest/demo/catalog.S (which .incbin's every demo) and linked into build/kvmini only,
 * like vmm/runinit.h: library code takes a table as a parameter, and only vmm/main.c names these symbols.
 */
extern const struct demo kvmini_demos[];
extern const uint32_t kvmini_ndemos;

/* The demo called `name` in tab[0..n), or NULL. */
const struct demo *demo_find(const struct demo *tab, unsigned n, const char *name);
/* `kvmini demo` with no NAME: one line per demo. */
void demo_list(FILE *f, const struct demo *tab, unsigned n);

/* What a demo VM has beyond `kvmini run`'s machine (a member of struct vm). */
struct vm_demo {
	bool hcall_on;		/* the hypercall port is served (demo VMs only) */
	struct hypercall hcall; /* devices/hypercall.h: the service itself */
	bool step;		/* --step: pause after kvmini handled each exit */
	pthread_mutex_t step_lock;
	uint64_t nexits; /* exits to userspace so far, numbered for the --step prompt */
};

struct vm;
struct vcpu;

/* vCPU 0 of a demo as a BIOS leaves the CPU for a boot sector: real mode (CR0.PE = 0), CS:IP = 0000:entry, the
 * real-mode interrupt table at 0, interrupts off, the stack just below the code. 0 or -errno with *why set. */
int demo_vcpu_setup(struct vcpu *v, uint64_t entry, const char **why);
/* Serve PORT_HYPERCALL (claimed on the port bus, so it is never "unclaimed"). 0 or -errno with *why set. */
int demo_hypercall_setup(struct vm *vm, const char **why);
/* After the bus saw an `out` to PORT_HYPERCALL: finish the `out`, read the registers, perform the call, write
 * the result back (KVM_GET_REGS / KVM_SET_REGS). 0 or -errno. */
int demo_hypercall(struct vcpu *v);
/* Turn --step on: stdin is now read for Enter (the console must not read it). */
void demo_step_init(struct vm *vm);
/* --step: after kvmini handled an exit: describe it (as --trace would) on stderr and wait for Enter; 'c' + Enter
 * or EOF on stdin: stop stepping. */
void demo_step(struct vcpu *v);

#endif
