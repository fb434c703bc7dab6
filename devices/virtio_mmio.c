/* virtio_mmio.c: the virtio-mmio v2 register file: feature and status negotiation, queue set-up, interrupt status. */
#include "devices/virtio_mmio.h"

#include <endian.h>
#include <string.h>

#define MMIO_MAGIC   0x74726976 /* "virt" */
#define MMIO_VERSION 2
#define MMIO_VENDOR  0x494d564b /* "KVMI" in guest byte order */

/* Register offsets (virtio 1.2 section 4.2.2). Everything below REG_CONFIG is a 32-bit register. */
#define REG_MAGIC	     0x000
#define REG_VERSION	     0x004
#define REG_DEVICE_ID	     0x008
#define REG_VENDOR_ID	     0x00c
#define REG_DEV_FEATURES     0x010
#define REG_DEV_FEATURES_SEL 0x014
#define REG_DRV_FEATURES     0x020
#define REG_DRV_FEATURES_SEL 0x024
#define REG_QUEUE_SEL	     0x030
#define REG_QUEUE_NUM_MAX    0x034
#define REG_QUEUE_NUM	     0x038
#define REG_QUEUE_READY	     0x044
#define REG_QUEUE_NOTIFY     VIRTIO_MMIO_QUEUE_NOTIFY
#define REG_INT_STATUS	     0x060
#define REG_INT_ACK	     0x064
#define REG_STATUS	     0x070
#define REG_QUEUE_DESC_LO    0x080
#define REG_QUEUE_DESC_HI    0x084
#define REG_QUEUE_DRIVER_LO  0x090
#define REG_QUEUE_DRIVER_HI  0x094
#define REG_QUEUE_DEVICE_LO  0x0a0
#define REG_QUEUE_DEVICE_HI  0x0a4
#define REG_SHM_SEL	     0x0ac
#define REG_SHM_LEN_LO	     0x0b0
#define REG_SHM_LEN_HI	     0x0b4
#define REG_SHM_BASE_LO	     0x0b8
#define REG_SHM_BASE_HI	     0x0bc
#define REG_CONFIG_GEN	     0x0fc
#define REG_CONFIG	     0x100

static unsigned nqueues(const struct virtio_mmio *t)
{
	return t->ops->nqueues < VIRTIO_MMIO_MAX_QUEUES ? t->ops->nqueues : VIRTIO_MMIO_MAX_QUEUES;
}

static uint64_t offered(const struct virtio_mmio *t)
{
	return t->ops->features | (1ULL << VIRTIO_F_VERSION_1);
}

/* Set InterruptStatus bits; an edge goes out only for a bit that was clear (the guest reads ISR, then ACKs). */
static void raise_isr(struct virtio_mmio *t, uint32_t bits)
{
	uint32_t new_bits = bits & ~t->isr;

	t->isr |= bits;
	if (new_bits && t->irq)
		irq_line_trigger(t->irq);
}

static void reset_state(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		virtq_reset(&t->q[i]);
		t->queue_ready[i] = false;
	}
	t->status = 0;
	t->dev_features_sel = t->drv_features_sel = t->queue_sel = 0;
	t->drv_features = t->features = 0;
	t->isr = 0;
	/* config_gen is left alone: it only ever grows, so a driver never sees an old generation come back. */
}

void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_dev_ops *ops, void *dev, struct irq_line *irq,
		      const struct gmem *mem)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->ops = ops;
	t->dev = dev;
	t->irq = irq;
	t->mem = mem;
	reset_state(t);
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	pthread_mutex_destroy(&t->lock);
}

void virtio_mmio_needs_reset_locked(struct virtio_mmio *t)
{
	t->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	raise_isr(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_signal_used_locked(struct virtio_mmio *t, unsigned q)
{
	if (q < nqueues(t) && virtq_should_notify(&t->q[q]))
		raise_isr(t, VIRTIO_MMIO_INT_VRING);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	t->config_gen++;
	raise_isr(t, VIRTIO_MMIO_INT_CONFIG);
	pthread_mutex_unlock(&t->lock);
}

/* A kick, from QueueNotify or its ioeventfd: only an active queue reaches the device. */
static void notify_locked(struct virtio_mmio *t, uint32_t q)
{
	if (q < nqueues(t) && t->q[q].active && t->ops->notify) /* guest: index checked against nqueues */
		t->ops->notify(t->dev, q);
	else
		t->ignored++;
}

void virtio_mmio_kick(struct virtio_mmio *t, unsigned q)
{
	pthread_mutex_lock(&t->lock);
	notify_locked(t, q);
	pthread_mutex_unlock(&t->lock);
}

static void deactivate_queues(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		t->q[i].active = false;
}

/* DRIVER_OK: activate every ready queue with what the driver wrote, then the device. Any failure leaves every
 * queue inactive and asks the driver for a reset. */
static void driver_ok(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < nqueues(t); i++) {
		if (t->queue_ready[i] && virtq_activate(&t->q[i], t->mem, t->features) < 0) {
			deactivate_queues(t);
			virtio_mmio_needs_reset_locked(t);
			return;
		}
	}
	if (t->ops->activate && t->ops->activate(t->dev) < 0) {
		deactivate_queues(t);
		virtio_mmio_needs_reset_locked(t);
	}
}

/* Status 0: the device forgets everything. The device model stops first, so nothing touches the rings after. */
static void device_reset(struct virtio_mmio *t)
{
	if (t->ops->reset)
		t->ops->reset(t->dev);
	reset_state(t);
}

/*
 * A Status write. Bits are only ever added, one initialisation step at a time in order, or FAILED at any time;
 * anything else (skipped or cleared steps, unknown bits, DEVICE_NEEDS_RESET set by the driver) is ignored, as is
 * everything after FAILED until a reset. FEATURES_OK latches only for features we offered, VERSION_1 included.
 */
static void status_write(struct virtio_mmio *t, uint32_t v)
{
	uint32_t s = t->status, added, next;

	if (v == 0) {
		device_reset(t);
		return;
	}
	if (s & VIRTIO_STATUS_FAILED)
		goto ignore;
	if ((v & VIRTIO_STATUS_DEVICE_NEEDS_RESET) && !(s & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		goto ignore;
	v |= s & VIRTIO_STATUS_DEVICE_NEEDS_RESET; /* only a reset clears it */
	if (v == s)
		return;
	if ((v & s) != s)
		goto ignore;
	added = v & ~s;
	if (added == VIRTIO_STATUS_FAILED) {
		t->status = v;
		return;
	}
	/* The first missing step, in protocol order (which is not bit order). */
	if (!(s & VIRTIO_STATUS_ACKNOWLEDGE))
		next = VIRTIO_STATUS_ACKNOWLEDGE;
	else if (!(s & VIRTIO_STATUS_DRIVER))
		next = VIRTIO_STATUS_DRIVER;
	else if (!(s & VIRTIO_STATUS_FEATURES_OK))
		next = VIRTIO_STATUS_FEATURES_OK;
	else if (!(s & VIRTIO_STATUS_DRIVER_OK))
		next = VIRTIO_STATUS_DRIVER_OK;
	else
		next = 0;
	if (!next || added != next)
		goto ignore;
	if (next == VIRTIO_STATUS_FEATURES_OK) {
		if ((t->drv_features & ~offered(t)) || !(t->drv_features & (1ULL << VIRTIO_F_VERSION_1)))
			goto ignore; /* reads back without FEATURES_OK */
		t->features = t->drv_features;
	}
	if (next == VIRTIO_STATUS_DRIVER_OK && (s & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		goto ignore;
	t->status = v;
	if (next == VIRTIO_STATUS_DRIVER_OK)
		driver_ok(t);
	return;
ignore:
	t->ignored++;
}

/* The selected queue, when its set-up registers may still be written: it exists, is not ready, and the driver
 * has not set DRIVER_OK. NULL otherwise (the write is ignored). */
static struct virtq *writable_queue(struct virtio_mmio *t)
{
	if (t->queue_sel >= nqueues(t) || t->queue_ready[t->queue_sel] || (t->status & VIRTIO_STATUS_DRIVER_OK))
		return NULL;
	return &t->q[t->queue_sel];
}

static void set_half(uint64_t *r, bool high, uint32_t v)
{
	if (high)
		*r = (*r & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*r = (*r & ~0xffffffffULL) | v;
}

/* Returns false when the write was ignored. */
static bool queue_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q;

	if (off == REG_QUEUE_READY) {
		if (t->queue_sel >= nqueues(t) || (t->status & VIRTIO_STATUS_DRIVER_OK) || v > 1)
			return false;
		t->queue_ready[t->queue_sel] = v;
		return true;
	}
	q = writable_queue(t);
	if (!q)
		return false;
	switch (off) {
	case REG_QUEUE_NUM: /* guest: any value is stored; activation checks it (a u16 never truncates to valid) */
		q->num = v > UINT16_MAX ? 0 : (uint16_t)v;
		return true;
	case REG_QUEUE_DESC_LO:
	case REG_QUEUE_DESC_HI:
		set_half(&q->desc_gpa, off == REG_QUEUE_DESC_HI, v);
		return true;
	case REG_QUEUE_DRIVER_LO:
	case REG_QUEUE_DRIVER_HI:
		set_half(&q->avail_gpa, off == REG_QUEUE_DRIVER_HI, v);
		return true;
	case REG_QUEUE_DEVICE_LO:
	case REG_QUEUE_DEVICE_HI:
		set_half(&q->used_gpa, off == REG_QUEUE_DEVICE_HI, v);
		return true;
	}
	return false;
}

static bool reg_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	switch (off) {
	case REG_DEV_FEATURES_SEL:
		t->dev_features_sel = v;
		return true;
	case REG_DRV_FEATURES:
		if ((t->status & VIRTIO_STATUS_FEATURES_OK) || t->drv_features_sel > 1)
			return false;
		set_half(&t->drv_features, t->drv_features_sel == 1, v);
		return true;
	case REG_DRV_FEATURES_SEL:
		t->drv_features_sel = v;
		return true;
	case REG_QUEUE_SEL:
		t->queue_sel = v; /* guest: checked against nqueues at every use */
		return true;
	case REG_QUEUE_NUM:
	case REG_QUEUE_READY:
	case REG_QUEUE_DESC_LO:
	case REG_QUEUE_DESC_HI:
	case REG_QUEUE_DRIVER_LO:
	case REG_QUEUE_DRIVER_HI:
	case REG_QUEUE_DEVICE_LO:
	case REG_QUEUE_DEVICE_HI:
		return queue_write(t, off, v);
	case REG_QUEUE_NOTIFY:
		notify_locked(t, v);
		return true;
	case REG_INT_ACK:
		t->isr &= ~v;
		return true;
	case REG_STATUS:
		status_write(t, v);
		return true;
	case REG_SHM_SEL: /* no shared memory regions: every one reads as absent */
		return true;
	}
	return false;
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
	unsigned sel = t->queue_sel;

	switch (off) {
	case REG_MAGIC:
		return MMIO_MAGIC;
	case REG_VERSION:
		return MMIO_VERSION;
	case REG_DEVICE_ID:
		return t->ops->device_id;
	case REG_VENDOR_ID:
		return MMIO_VENDOR;
	case REG_DEV_FEATURES:
		return t->dev_features_sel > 1 ? 0 : (uint32_t)(offered(t) >> (32 * t->dev_features_sel));
	case REG_QUEUE_NUM_MAX:
		return sel < nqueues(t) ? VIRTQ_MAX_SIZE : 0;
	case REG_QUEUE_READY:
		return sel < nqueues(t) && t->queue_ready[sel];
	case REG_INT_STATUS:
		return t->isr;
	case REG_STATUS:
		return t->status;
	case REG_SHM_LEN_LO:
	case REG_SHM_LEN_HI:
	case REG_SHM_BASE_LO:
	case REG_SHM_BASE_HI:
		return 0xffffffff; /* length -1: no such region */
	case REG_CONFIG_GEN:
		return t->config_gen;
	}
	return 0; /* write-only and reserved registers */
}

/* Config space: offsets 0..cfg_size-1 behind REG_CONFIG, 1/2/4/8-byte accesses wholly inside it. */
static bool cfg_access_ok(const struct virtio_mmio *t, uint64_t off, unsigned len)
{
	uint64_t c = off - REG_CONFIG; /* off >= REG_CONFIG here */

	if (len != 1 && len != 2 && len != 4 && len != 8)
		return false;
	return c <= t->ops->cfg_size && len <= t->ops->cfg_size - c; /* guest: offset and length, no overflow */
}

static void mmio_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct virtio_mmio *t = dev;
	uint32_t v;

	memset(data, 0, len);
	pthread_mutex_lock(&t->lock);
	if (off >= REG_CONFIG) {
		if (cfg_access_ok(t, off, len) && t->ops->cfg_read)
			t->ops->cfg_read(t->dev, off - REG_CONFIG, data, len);
		else
			t->ignored++;
	} else if (len != 4 || off % 4) {
		t->ignored++;
	} else {
		v = htole32(reg_read(t, off));
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
}

static void mmio_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct virtio_mmio *t = dev;
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	if (off >= REG_CONFIG) {
		if (cfg_access_ok(t, off, len) && t->ops->cfg_write)
			t->ops->cfg_write(t->dev, off - REG_CONFIG, data, len);
		else
			t->ignored++;
	} else if (len != 4 || off % 4) {
		t->ignored++;
	} else {
		memcpy(&v, data, 4);
		if (!reg_write(t, off, le32toh(v)))
			t->ignored++;
	}
	pthread_mutex_unlock(&t->lock);
}

const struct bus_ops virtio_mmio_ops = {
    .read = mmio_read,
    .write = mmio_write,
};
