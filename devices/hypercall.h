/* hypercall.h: the demo hypercall device: a guest asks kvmini for a service with its registers and one `out`. */
#ifndef KVMINI_HYPERCALL_H
#define KVMINI_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/gmem.h"

/*
 * The ABI (kvmini demo hypercall; the port is PORT_HYPERCALL in vmm/layout.h):
 *   the guest loads RAX with a call number and RBX with its argument, then writes any byte to the port.
 *   kvmini reads the registers, performs the call, writes the result to RAX (and RDX) and resumes the guest
 *   after the `out`. Every other register is left as it was.
 *     HYPERCALL_PRINT (1): print the NUL-terminated string at guest-physical address RBX (at most
 *                          HYPERCALL_PRINT_MAX bytes before the NUL) on the console. RAX = its length, or
 *                          -EFAULT (as a 64-bit two's complement) when it is not all in RAM or has no NUL.
 *     HYPERCALL_TIME  (2): the host's wall clock: RAX = seconds since 1970, RDX = nanoseconds.
 *     anything else:       RAX = -ENOSYS.
 * This device never talks to KVM: the vCPU layer (vmm/demo.c) moves the registers in and out, so it can be
 * tested with plain structs.
 */
enum { HYPERCALL_PRINT = 1, HYPERCALL_TIME = 2 };
#define HYPERCALL_PRINT_MAX 4096

/* The registers a call reads and writes, as KVM_GET_REGS gives them. */
struct hypercall_regs {
	uint64_t rax, rbx, rdx;
};

struct hypercall_hooks {
	void (*print)(void *opaque, const char *s, size_t len);
	uint64_t (*now_ns)(void *opaque); /* wall-clock time, ns since 1970 */
	void *opaque;
};

struct hypercall {
	struct hypercall_hooks h;
	const struct gmem *mem; /* where PRINT's strings are read from, through gmem_ptr only */
	uint64_t calls, failed; /* performed, and of those answered with an error */
};

void hypercall_init(struct hypercall *hc, const struct hypercall_hooks *h, const struct gmem *mem);
/* Perform the call in `r` and put its result into `r`. */
void hypercall_handle(struct hypercall *hc, struct hypercall_regs *r);

#endif
