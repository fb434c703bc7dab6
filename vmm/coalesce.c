/* coalesce.c: drain KVM's coalesced-PIO ring into the bus, oldest write first. */
#include "vmm/coalesce.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

void coalesce_init(struct coalesce *c, void *page, size_t page_size)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	if (!page || page_size <= sizeof(*c->ring))
		return;
	c->ring = page;
	c->max = (unsigned)((page_size - sizeof(*c->ring)) / sizeof(c->ring->coalesced_mmio[0]));
}

void coalesce_destroy(struct coalesce *c)
{
	pthread_mutex_destroy(&c->lock);
}

static void coalesce_drain_locked(struct coalesce *c, struct bus *pio, struct bus *mmio)
{
	struct kvm_coalesced_mmio_ring *r = c->ring;
	uint32_t first = r->first;

	/* KVM keeps both indices below max. A ring that says otherwise is not trusted: nothing is read past its
	 * end, and one drain delivers at most a ring's worth, so it always ends. */
	for (unsigned n = 0; n < c->max && first < c->max; n++) {
		uint32_t last = __atomic_load_n(&r->last, __ATOMIC_ACQUIRE);
		struct kvm_coalesced_mmio e;

		if (first == last || last >= c->max)
			break;
		e = r->coalesced_mmio[first]; /* one copy: KVM may reuse the slot once `first` moves */
		if (e.len && e.len <= sizeof(e.data))
			bus_access(e.pio ? pio : mmio, e.phys_addr, e.data, e.len, true);
		first = (first + 1) % c->max;
		__atomic_store_n(&r->first, first, __ATOMIC_RELEASE);
		c->delivered++;
	}
}

void coalesce_drain(struct coalesce *c, struct bus *pio, struct bus *mmio)
{
	struct kvm_coalesced_mmio_ring *r = c->ring;

	if (!r || __atomic_load_n(&r->first, __ATOMIC_RELAXED) == __atomic_load_n(&r->last, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&c->lock);
	coalesce_drain_locked(c, pio, mmio);
	pthread_mutex_unlock(&c->lock);
}

int coalesce_set_port(struct coalesce *c, int vm_fd, uint64_t port, bool on, struct bus *pio, struct bus *mmio)
{
	struct kvm_coalesced_mmio_zone z = {.addr = port, .size = 1, .pio = 1};
	int err = 0;

	if (!c->ring)
		return 0;
	pthread_mutex_lock(&c->lock);
	if (c->failed)
		on = false;
	if (on != c->zone_on) {
		if (ioctl(vm_fd, on ? KVM_REGISTER_COALESCED_MMIO : KVM_UNREGISTER_COALESCED_MMIO, &z) == 0) {
			c->zone_on = on;
		} else {
			err = -errno;
			c->failed = true;
		}
	}
	/* After an unregistration no new entry can appear: deliver the rest now. */
	if (!c->zone_on)
		coalesce_drain_locked(c, pio, mmio);
	pthread_mutex_unlock(&c->lock);
	return err;
}
