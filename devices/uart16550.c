/* uart16550.c: a 16550A UART register file (COM1) with an instant transmitter and a 16-byte RX FIFO. */
#include "devices/uart16550.h"

#include <string.h>

/* Register offsets. With LCR.DLAB set, offsets 0 and 1 are the divisor latch (DLL/DLM) instead. */
#define UART_RBR 0 /* read: receive buffer;  write: THR */
#define UART_IER 1
#define UART_IIR 2 /* read: interrupt identification; write: FCR */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI  0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK  0x0f

#define IIR_NO_INT 0x01
#define IIR_MSI	   0x00
#define IIR_THRI   0x02
#define IIR_RDI	   0x04
#define IIR_RLSI   0x06
#define IIR_FIFO   0xc0 /* both bits read as 1 while FCR.FE is set (a 16550A, not a 16550) */

#define FCR_FE	  0x01 /* FIFO enable */
#define FCR_CLRRX 0x02 /* self-clearing: empty the RX FIFO */
#define FCR_CLRTX 0x04 /* self-clearing: empty the TX FIFO (ours is always empty) */
#define FCR_KEEP  0xc9 /* bits that stick: FE, DMA mode, RX trigger level */

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR	   0x01
#define LSR_OE	   0x02
#define LSR_ERRORS 0x1e /* OE, PE, FE, BI: cleared by reading LSR */
#define LSR_THRE   0x20
#define LSR_TEMT   0x40

#define MSR_DCTS  0x01
#define MSR_DDSR  0x02
#define MSR_TERI  0x04
#define MSR_DDCD  0x08
#define MSR_DELTA 0x0f
#define MSR_CTS	  0x10
#define MSR_DSR	  0x20
#define MSR_RI	  0x40
#define MSR_DCD	  0x80
#define MSR_IDLE  (MSR_DCD | MSR_DSR | MSR_CTS) /* a connected line with nothing ringing */

/* The highest-priority enabled interrupt source, as IIR bits 3:0 (IIR_NO_INT when none). */
static uint8_t uart_irq_source(const struct uart *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr & LSR_ERRORS))
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_count)
		return IIR_RDI;
	if ((u->ier & IER_ETBEI) && u->thre_pending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTA))
		return IIR_MSI;
	return IIR_NO_INT;
}

/*
 * The line is an irqfd, i.e. an edge: one pulse per interrupt. The rule is:
 *  - pulse when "some enabled source is pending" goes from false to true (sources that stay pending do not
 *    pulse again: the guest's handler loops on IIR until it reads "no interrupt", so it sees them), and
 *  - pulse on every new THRE event (`new_thre`, after a THR write with ETBEI set), even if the previous one
 *    was never acknowledged: the guest may be waiting for exactly that edge, and without it its TX stalls.
 * An extra pulse costs the guest one IIR read; a missing one can hang it, so we err on the side of pulsing.
 *
 * MCR.OUT2 gates the UART's interrupt onto the ISA bus on a real PC. We deliberately ignore it, as Firecracker
 * and kvmtool do: Linux's 8250 driver sets OUT2 itself, and gating on it would only add ways to lose IRQs.
 */
static void uart_update_irq(struct uart *u, int new_thre)
{
	int pending = uart_irq_source(u) != IIR_NO_INT;

	if (pending && (!u->irq_asserted || new_thre))
		irq_line_trigger(u->irq);
	u->irq_asserted = pending;
}

/* LSR.DR mirrors "the RX FIFO is not empty"; THRE and TEMT are always set because TX is instant. */
static void uart_sync_lsr(struct uart *u)
{
	u->lsr = (u->lsr & ~LSR_DR) | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
}

/* The modem status inputs (MSR 7:4): wired to MCR's outputs in loopback, else a connected line. */
static uint8_t uart_modem_inputs(const struct uart *u)
{
	if (!(u->mcr & MCR_LOOP))
		return MSR_IDLE;
	return ((u->mcr & MCR_DTR) << 5) | ((u->mcr & MCR_RTS) << 3) | ((u->mcr & MCR_OUT1) << 4) |
	       ((u->mcr & MCR_OUT2) << 4);
}

/* Recompute MSR's inputs after an MCR write, latching the delta bits as the chip would. */
static void uart_update_msr(struct uart *u)
{
	uint8_t old = u->msr & 0xf0, now = uart_modem_inputs(u), changed = old ^ now, delta = 0;

	if (changed & MSR_CTS)
		delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(now & MSR_RI)) /* trailing edge only */
		delta |= MSR_TERI;
	if (changed & MSR_DCD)
		delta |= MSR_DDCD;
	u->msr = now | (u->msr & MSR_DELTA) | delta;
}

/* Append one byte to the RX FIFO, or flag an overrun and drop it when the FIFO is full. */
static void uart_fifo_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count == UART_FIFO_SIZE) {
		u->lsr |= LSR_OE;
		u->rx_overruns++;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
	u->rx_count++;
	uart_sync_lsr(u);
}

/* The host may have been holding input back because the FIFO was full: tell it there is room now. */
static void uart_notify_space(struct uart *u, unsigned was_count)
{
	if (was_count == UART_FIFO_SIZE && u->rx_count < UART_FIFO_SIZE && u->be.rx_space)
		u->be.rx_space(u->be.opaque);
}

static uint8_t uart_fifo_pop(struct uart *u)
{
	unsigned was = u->rx_count;
	uint8_t byte;

	if (!u->rx_count)
		return 0; /* reading an empty RBR is harmless; real chips return stale data */
	byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	uart_sync_lsr(u);
	uart_notify_space(u, was);
	return byte;
}

static void uart_fifo_clear(struct uart *u)
{
	unsigned was = u->rx_count;

	u->rx_head = 0;
	u->rx_count = 0;
	uart_sync_lsr(u);
	uart_notify_space(u, was);
}

void uart_init(struct uart *u, struct irq_line *irq, const struct uart_backend *be)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->irq = irq;
	if (be)
		u->be = *be;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_IDLE;
}

void uart_destroy(struct uart *u)
{
	pthread_mutex_destroy(&u->lock);
}

/*
 * Host input never overruns: we take only what fits and the host keeps the rest until rx_space() says there
 * is room, so no byte is lost. Overruns (LSR.OE) come only from bytes that cannot wait: loopback writes.
 */
size_t uart_rx(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	for (n = 0; n < len && u->rx_count < UART_FIFO_SIZE; n++)
		uart_fifo_push(u, buf[n]);
	if (n)
		uart_update_irq(u, 0);
	pthread_mutex_unlock(&u->lock);
	return n;
}

size_t uart_rx_room(struct uart *u)
{
	size_t room;

	pthread_mutex_lock(&u->lock);
	room = UART_FIFO_SIZE - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return room;
}

static uint8_t uart_read_reg(struct uart *u, uint64_t off)
{
	uint8_t v, src;

	switch (off) {
	case UART_RBR:
		return (u->lcr & LCR_DLAB) ? u->dll : uart_fifo_pop(u);
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		src = uart_irq_source(u);
		/* Reading IIR acknowledges a THRE interrupt, but only when it is the one being reported. */
		if (src == IIR_THRI)
			u->thre_pending = 0;
		return src | ((u->fcr & FCR_FE) ? IIR_FIFO : 0);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = u->lsr;
		u->lsr &= ~LSR_ERRORS;
		return v;
	case UART_MSR:
		v = u->msr;
		u->msr &= ~MSR_DELTA;
		return v;
	case UART_SCR:
		return u->scr;
	}
	return 0xff;
}

/* The guest wrote THR: the byte leaves at once (or loops back), so THR is empty again straight away. */
static void uart_write_thr(struct uart *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP)
		uart_fifo_push(u, byte);
	else if (u->be.tx)
		u->be.tx(u->be.opaque, byte);
	u->thre_pending = !!(u->ier & IER_ETBEI);
}

static void uart_write_ier(struct uart *u, uint8_t val)
{
	uint8_t old = u->ier;

	u->ier = val & IER_MASK;
	/*
	 * Turning ETBEI on while THR is empty raises THRE even if an earlier one was acknowledged (Linux's
	 * startup THRE test and Windows rely on it); turning it off forgets the pending event.
	 */
	if ((old ^ u->ier) & IER_ETBEI)
		u->thre_pending = !!(u->ier & IER_ETBEI);
}

static void uart_write_fcr(struct uart *u, uint8_t val)
{
	/*
	 * Only bit 1 empties the RX FIFO (toggling FE does too on a real chip; Linux always sets bit 1 when it
	 * means it). The RX FIFO stays 16 deep even with FE clear: emulating the 1-byte 16450 mode buys nothing.
	 */
	if (val & FCR_CLRRX)
		uart_fifo_clear(u);
	/* FCR_CLRTX: nothing to do, the transmitter never holds a byte. */
	u->fcr = val & FCR_KEEP;
}

/* Returns 1 when the write generated a new THRE event (see uart_update_irq). */
static int uart_write_reg(struct uart *u, uint64_t off, uint8_t val)
{
	switch (off) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB) {
			u->dll = val;
			return 0;
		}
		uart_write_thr(u, val);
		return u->thre_pending;
	case UART_IER:
		if (u->lcr & LCR_DLAB)
			u->dlm = val;
		else
			uart_write_ier(u, val);
		break;
	case UART_IIR:
		uart_write_fcr(u, val);
		break;
	case UART_LCR:
		u->lcr = val; /* only DLAB matters to us; the line format is meaningless without a wire */
		break;
	case UART_MCR:
		u->mcr = val & MCR_MASK;
		uart_update_msr(u);
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only on a 16550A (writes are factory test hooks) */
	case UART_SCR:
		u->scr = val;
		break;
	}
	return 0;
}

/* Every register is 8 bits wide: a wider read gets the register in byte 0 and 0xff above it. */
static void uart_bus_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct uart *u = dev;

	if (!len)
		return;
	memset(data, 0xff, len);
	if (off >= UART_NR_PORTS)
		return;
	pthread_mutex_lock(&u->lock);
	data[0] = uart_read_reg(u, off);
	uart_update_irq(u, 0);
	pthread_mutex_unlock(&u->lock);
}

/* A wider write only writes its low byte to the register at `off`. */
static void uart_bus_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct uart *u = dev;
	int new_thre;

	if (!len || off >= UART_NR_PORTS)
		return;
	pthread_mutex_lock(&u->lock);
	new_thre = uart_write_reg(u, off, data[0]);
	uart_update_irq(u, new_thre);
	pthread_mutex_unlock(&u->lock);
}

bool uart_thr_coalescable(struct uart *u)
{
	bool ok;

	pthread_mutex_lock(&u->lock);
	ok = !(u->lcr & LCR_DLAB) && !(u->ier & IER_ETBEI) && !(u->mcr & MCR_LOOP);
	pthread_mutex_unlock(&u->lock);
	return ok;
}

const struct bus_ops uart_bus_ops = {
    .read = uart_bus_read,
    .write = uart_bus_write,
};
