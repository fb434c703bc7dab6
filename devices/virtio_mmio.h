/* virtio_mmio.h: the virtio-mmio transport (version 2, virtio 1.2 section 4.2), one register file for every device. */
#ifndef KVMINI_VIRTIO_MMIO_H
#define KVMINI_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtq.h"
#include "vmm/bus.h"
#include "vmm/gmem.h"
#include "vmm/irq.h"

#define VIRTIO_MMIO_SIZE	 0x1000 /* each device's window */
#define VIRTIO_MMIO_MAX_QUEUES	 8
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050 /* the register ioeventfds watch (4 bytes, value = queue index) */

/* Device status bits (virtio 1.2 section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1
#define VIRTIO_STATUS_DRIVER		 2
#define VIRTIO_STATUS_DRIVER_OK		 4
#define VIRTIO_STATUS_FEATURES_OK	 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED		 0x80

#define VIRTIO_F_VERSION_1 32

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING  1
#define VIRTIO_MMIO_INT_CONFIG 2

/*
 * What a device model gives the transport. Callbacks run with the transport's lock held (they must not call
 * virtio_mmio_* functions that take it, except those marked _locked).
 *  - features: what the device offers, without VIRTIO_F_VERSION_1 (the transport adds it and requires it).
 *  - cfg_read/cfg_write: config space at offsets 0..cfg_size-1, bounds already checked by the transport; a
 *    read must fill all `len` bytes.
 *  - activate: DRIVER_OK was set and every ready queue passed virtq_activate; the device may start. Returns 0,
 *    or -errno to refuse (the transport then sets DEVICE_NEEDS_RESET).
 *  - reset: the driver wrote 0 to Status (or the transport reset the device): stop using the queues and forget
 *    in-flight work; after it returns no guest memory may be touched.
 *  - notify: the driver kicked queue `q` (an index < nqueues of an active queue). Runs on the event-loop thread
 *    (ioeventfd), on the device's own thread (own_kick: it waits on the ioeventfd), or on a vCPU thread (a
 *    plain MMIO write when no ioeventfd is registered).
 */
struct virtio_dev_ops {
	uint32_t device_id;
	uint64_t features;
	unsigned nqueues; /* <= VIRTIO_MMIO_MAX_QUEUES */
	uint32_t cfg_size;
	void (*cfg_read)(void *dev, uint64_t off, uint8_t *data, unsigned len);
	void (*cfg_write)(void *dev, uint64_t off, const uint8_t *data, unsigned len); /* may be NULL: ignored */
	int (*activate)(void *dev);
	void (*reset)(void *dev);
	void (*notify)(void *dev, unsigned q);
	bool own_kick; /* the device's own thread waits on its queues' ioeventfds: the event loop leaves them alone */
};

struct virtio_mmio {
	pthread_mutex_t lock; /* guards every field below and the queues; taken by register accesses and by
			       * virtio_mmio_kick before the device's notify */
	const struct virtio_dev_ops *ops;
	void *dev;
	struct irq_line *irq;
	const struct gmem *mem;
	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint64_t drv_features; /* what the driver wrote; latched at FEATURES_OK */
	uint64_t features;     /* negotiated (valid once FEATURES_OK is set) */
	uint32_t isr;	       /* InterruptStatus */
	uint32_t config_gen;
	bool queue_ready[VIRTIO_MMIO_MAX_QUEUES];
	struct virtq q[VIRTIO_MMIO_MAX_QUEUES];
	uint64_t ignored; /* accesses ignored: wrong size, bad offset, invalid transition (counted, never fatal) */
};

void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_dev_ops *ops, void *dev, struct irq_line *irq,
		      const struct gmem *mem);
void virtio_mmio_destroy(struct virtio_mmio *t);

/* Register on the MMIO bus: bus_add(mmio, base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, t, name). */
extern const struct bus_ops virtio_mmio_ops;

/* The event loop saw queue q's ioeventfd: under the lock, call the device's notify if q is active. */
void virtio_mmio_kick(struct virtio_mmio *t, unsigned q);
/* Used buffers were added to queue q: if virtq_should_notify says so, set INT_VRING and raise the interrupt.
 * Call with the lock held (from the device's notify). */
void virtio_mmio_signal_used_locked(struct virtio_mmio *t, unsigned q);
/* A queue is broken (virtq_pop returned -EIO) or the device cannot go on: set DEVICE_NEEDS_RESET, INT_CONFIG and
 * raise the interrupt. Lock held. */
void virtio_mmio_needs_reset_locked(struct virtio_mmio *t);
/* The device changed its config space: bump the generation, INT_CONFIG, interrupt. Takes the lock. */
void virtio_mmio_config_changed(struct virtio_mmio *t);

#endif
