/* uart16550.h: a 16550A UART (COM1) register file with a 16-byte RX FIFO; the host side is a pair of callbacks. */
#ifndef KVMINI_UART16550_H
#define KVMINI_UART16550_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/irq.h"

#define UART_FIFO_SIZE 16
#define UART_NR_PORTS  8

/* The host side of the UART. Both callbacks run on the thread that touched the UART, with the UART's lock
 * held: they must not call back into uart_*(). Either may be NULL. */
struct uart_backend {
	void (*tx)(void *opaque, uint8_t byte); /* the guest transmitted a byte (not called in loopback) */
	void (*rx_space)(void *opaque);		/* the RX FIFO went from full to having room again */
	void *opaque;
};

struct uart {
	pthread_mutex_t lock;
	struct irq_line *irq;
	struct uart_backend be;
	/* registers */
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	/* RX FIFO (ring) */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
	/* a THR-empty interrupt is pending until IIR is read while it is the top source, or THR is written */
	int thre_pending;
	int irq_asserted; /* the last computed interrupt state, to trigger on rising edges only */
	uint64_t rx_overruns;
};

void uart_init(struct uart *u, struct irq_line *irq, const struct uart_backend *be);
void uart_destroy(struct uart *u);
/* Host input: queue up to the FIFO's free room; returns how many bytes were taken. Thread-safe. */
size_t uart_rx(struct uart *u, const uint8_t *buf, size_t len);
/* Free room in the RX FIFO now. Thread-safe. */
size_t uart_rx_room(struct uart *u);

/* Whether a THR write may be delayed and batched (KVM's coalesced PIO) without changing what the guest sees:
 * DLAB clear (offset 0 is THR, not the divisor latch), the THR-empty interrupt off (nothing waits for it) and
 * no loopback (the byte would come back as input). Linux's console writes run in exactly this state. The
 * delayed writes must still reach the UART, in order, before the next access to any UART register. */
bool uart_thr_coalescable(struct uart *u);

/* Register the UART on a bus at offsets 0..7 (base 0x3f8 for COM1). */
extern const struct bus_ops uart_bus_ops;

#endif
