/* irq.h: an interrupt line as devices see it: an eventfd that KVM turns into a guest interrupt (irqfd). */
#ifndef KVMINI_IRQ_H
#define KVMINI_IRQ_H

#include <stdint.h>

/* fd < 0 means "count only": unit tests use a line with no eventfd behind it. */
struct irq_line {
	unsigned gsi;
	int fd;
	uint64_t count; /* times triggered; unit tests read it */
};

void irq_line_init(struct irq_line *l, unsigned gsi, int fd);
/* Raise an edge on the line (the in-kernel irqchip latches it). Safe from any thread. */
void irq_line_trigger(struct irq_line *l);

#endif
