/* coalesce.h: KVM's coalesced-PIO ring for COM1's transmit register: console bytes without an exit each. */
#ifndef KVMINI_COALESCE_H
#define KVMINI_COALESCE_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/bus.h"

/*
 * Linux's serial console polls LSR before every byte and then writes THR: two exits per byte, most of a
 * verbose boot's exits. KVM can instead append writes to a registered port to a ring shared with userspace
 * and let the guest run on. kvmini registers COM1's THR port while the UART says that is invisible to the
 * guest (uart_thr_coalescable) and delivers the ring's writes, in order, before it handles any other exit:
 * the next LSR poll sees them done. One byte then costs one exit.
 */
struct coalesce {
	struct kvm_coalesced_mmio_ring *ring; /* NULL: KVM has no coalesced PIO; every write exits as usual */
	unsigned max;			      /* entries the ring holds */
	pthread_mutex_t lock;		      /* one drainer at a time; guards zone_on */
	bool zone_on;			      /* the port is registered */
	bool failed;			      /* KVM refused a (un)registration: coalescing stays off */
	uint64_t delivered;		      /* writes delivered through the ring */
};

/* `page` is the ring page KVM maps at KVM_COALESCED_MMIO_PAGE_OFFSET of a vCPU's mmap, `page_size` long; NULL
 * disables coalescing. */
void coalesce_init(struct coalesce *c, void *page, size_t page_size);
void coalesce_destroy(struct coalesce *c);
/* Deliver every write waiting in the ring to `pio` (or `mmio`), oldest first. Cheap when the ring is empty.
 * Entries are copied once and checked (length at most 8) before use. */
void coalesce_drain(struct coalesce *c, struct bus *pio, struct bus *mmio);

/* Register (on) or unregister the one-byte port `port` on the VM `vm_fd`. Turning it off delivers what is left in
 * the ring afterwards, so no write is held back past this call. 0 or -errno (then coalescing stays off). */
int coalesce_set_port(struct coalesce *c, int vm_fd, uint64_t port, bool on, struct bus *pio, struct bus *mmio);

#endif
