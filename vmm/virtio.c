/* virtio.c: wire a virtio-mmio transport to the VM: bus window, irqfd, and an ioeventfd per queue in the event loop. */
#include "vmm/virtio.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/layout.h"
#include "vmm/vm.h"

/* The event loop saw a queue's eventfd: the driver wrote QueueNotify. Clear it, then let the device run. */
static void vm_virtio_on_kick(void *opaque, uint32_t events)
{
	struct vm_virtio_kick *k = opaque;
	uint64_t n;

	(void)events;
	if (read(k->fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	virtio_mmio_kick(k->slot->t, k->q);
}

struct irq_line *vm_virtio_next_irq(struct vm *vm, int *err)
{
	struct vm_virtio *s;
	int fd;

	if (vm->nvirtio >= GUEST_VIRTIO_MAX) {
		*err = -ENOSPC;
		return NULL;
	}
	s = &vm->virtio[vm->nvirtio];
	if (s->irq.fd >= 0)
		return &s->irq;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	struct kvm_irqfd req = {.fd = (uint32_t)fd, .gsi = IRQ_VIRTIO + vm->nvirtio};
	if (ioctl(vm->vm_fd, KVM_IRQFD, &req) < 0) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	irq_line_init(&s->irq, IRQ_VIRTIO + vm->nvirtio, fd);
	return &s->irq;
}

struct vm_virtio *vm_virtio_add(struct vm *vm, struct virtio_mmio *t, const char *name, int *err, const char **why)
{
	struct vm_virtio *s;

	if (!vm_virtio_next_irq(vm, err)) {
		*why = *err == -ENOSPC ? "too many virtio devices" : "KVM_IRQFD failed";
		return NULL;
	}
	s = &vm->virtio[vm->nvirtio];
	s->t = t;
	s->vm = vm;
	s->index = vm->nvirtio;
	s->base = GUEST_VIRTIO_BASE + (uint64_t)s->index * VIRTIO_MMIO_SIZE;
	if ((*err = bus_add(&vm->mmio, s->base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, t, name)) < 0) {
		*why = "virtio window conflicts with another device";
		return NULL;
	}
	for (unsigned q = 0; q < t->ops->nqueues && q < VIRTIO_MMIO_MAX_QUEUES; q++) {
		struct vm_virtio_kick *k = &s->kick[q];
		struct kvm_ioeventfd io = {
		    .datamatch = q,
		    .addr = s->base + VIRTIO_MMIO_QUEUE_NOTIFY,
		    .len = 4,
		    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};

		k->slot = s;
		k->q = q;
		k->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (k->fd < 0) {
			*err = -errno;
			*why = "eventfd failed";
			return NULL;
		}
		io.fd = k->fd;
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
			*err = -errno;
			*why = "KVM_IOEVENTFD failed";
			return NULL;
		}
		if (!t->ops->own_kick && (*err = evloop_add(&vm->loop, k->fd, EPOLLIN, vm_virtio_on_kick, k)) < 0) {
			*why = "cannot watch a queue's eventfd";
			return NULL;
		}
	}
	vm->nvirtio++;
	return s;
}

void vm_virtio_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < GUEST_VIRTIO_MAX; i++) {
		struct vm_virtio *s = &vm->virtio[i];

		for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
			if (s->kick[q].fd >= 0)
				close(s->kick[q].fd);
		if (s->irq.fd >= 0)
			close(s->irq.fd);
	}
}
