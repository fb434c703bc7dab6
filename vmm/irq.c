/* irq.c: trigger a guest interrupt by writing to its irqfd eventfd; devices never call KVM directly. */
#include "vmm/irq.h"

#include <errno.h>
#include <unistd.h>

void irq_line_init(struct irq_line *l, unsigned gsi, int fd)
{
	l->gsi = gsi;
	l->fd = fd;
	l->count = 0;
}

void irq_line_trigger(struct irq_line *l)
{
	uint64_t one = 1;

	__atomic_add_fetch(&l->count, 1, __ATOMIC_RELAXED);
	if (l->fd < 0)
		return;
	/* An eventfd write only fails when the counter would overflow (it cannot here: KVM drains it)
	 * or on EINTR; retry the latter so no interrupt is lost. */
	while (write(l->fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}
