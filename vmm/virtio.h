/* virtio.h: put virtio-mmio devices on the machine: window, interrupt (irqfd), queue kicks (ioeventfd), DSDT entry. */
#ifndef KVMINI_VIRTIO_H
#define KVMINI_VIRTIO_H

#include "devices/virtio_mmio.h"
#include "vmm/irq.h"

struct vm;

/* One slot of the machine's virtio-mmio area (layout.h: GUEST_VIRTIO_BASE + i * 4 KiB, GSI IRQ_VIRTIO + i). */
struct vm_virtio {
	struct virtio_mmio *t;
	struct vm *vm;
	unsigned index;
	uint64_t base;
	struct irq_line irq;
	struct vm_virtio_kick {
		struct vm_virtio *slot;
		unsigned q;
		int fd; /* eventfd KVM signals on a QueueNotify write of q: no exit to userspace */
	} kick[VIRTIO_MMIO_MAX_QUEUES];
};

/* Give transport `t` (initialised by its device with irq = the slot's line, see vm_virtio_irq) the next slot:
 * MMIO window on the bus, irqfd, one ioeventfd per queue watched by the event loop. Returns the slot, or NULL
 * with *why and *err set. Call before the firmware tables are built (the DSDT lists every slot). */
struct vm_virtio *vm_virtio_add(struct vm *vm, struct virtio_mmio *t, const char *name, int *err, const char **why);
/* The interrupt line the next vm_virtio_add will use: devices need it when their transport is initialised.
 * NULL when every slot is taken. */
struct irq_line *vm_virtio_next_irq(struct vm *vm, int *err);
void vm_virtio_destroy(struct vm *vm);

#endif
