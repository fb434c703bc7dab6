/* test_uart.c: the 16550A's registers, IIR priorities, FIFO, loopback, interrupt edges and host callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/uart16550.h"

enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };
#define FCR IIR
#define DLL RBR
#define DLM IER

/* One UART with a count-only IRQ line and a backend that records what the UART told the host. */
struct fx {
	struct uart u;
	struct irq_line irq;
	uint8_t tx[256];
	size_t ntx;
	unsigned rx_space;
};

static void fx_tx(void *opaque, uint8_t byte)
{
	struct fx *f = opaque;

	if (f->ntx < sizeof(f->tx))
		f->tx[f->ntx] = byte;
	f->ntx++;
}

static void fx_rx_space(void *opaque)
{
	struct fx *f = opaque;

	f->rx_space++;
}

static void fx_init(struct fx *f)
{
	struct uart_backend be = {.tx = fx_tx, .rx_space = fx_rx_space, .opaque = f};

	memset(f, 0, sizeof(*f));
	irq_line_init(&f->irq, 4, -1);
	uart_init(&f->u, &f->irq, &be);
}

static int setup(void **state)
{
	struct fx *f = malloc(sizeof(*f));

	if (!f)
		return -1;
	fx_init(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	uart_destroy(&f->u);
	free(f);
	return 0;
}

static uint8_t rd(struct uart *u, uint64_t off)
{
	uint8_t v = 0;

	uart_bus_ops.read(u, off, &v, 1);
	return v;
}

static void wr(struct uart *u, uint64_t off, uint8_t v)
{
	uart_bus_ops.write(u, off, &v, 1);
}

static void rx_bytes(struct uart *u, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(uart_rx(u, (const uint8_t *)s, n), n);
}

static void test_init_state(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(&f->u, LSR), 0x60);
	assert_int_equal(rd(&f->u, MSR), 0xb0);
	assert_int_equal(rd(&f->u, IIR), 0x01);
	assert_int_equal(rd(&f->u, IER), 0x00);
	assert_int_equal(rd(&f->u, LCR), 0x00);
	assert_int_equal(rd(&f->u, MCR), 0x00);
	assert_int_equal(rd(&f->u, SCR), 0x00);
	assert_int_equal(uart_rx_room(&f->u), UART_FIFO_SIZE);
	assert_int_equal(f->irq.count, 0);
}

static void test_dlab_divisor_round_trip(void **state)
{
	struct fx *f = *state;

	wr(&f->u, IER, 0x05);
	wr(&f->u, LCR, 0x83);
	wr(&f->u, DLL, 0x0c);
	wr(&f->u, DLM, 0x01);
	assert_int_equal(rd(&f->u, DLL), 0x0c);
	assert_int_equal(rd(&f->u, DLM), 0x01);
	assert_int_equal(rd(&f->u, LCR), 0x83);
	assert_int_equal(f->ntx, 0); /* a DLL write is not a transmission */

	wr(&f->u, LCR, 0x03);
	assert_int_equal(rd(&f->u, IER), 0x05); /* the DLM write did not land in IER */
	wr(&f->u, RBR, 'x');
	assert_int_equal(f->ntx, 1);
	wr(&f->u, IER, 0x00);

	wr(&f->u, LCR, 0x80);
	assert_int_equal(rd(&f->u, DLL), 0x0c); /* THR and IER writes did not touch the divisor */
	assert_int_equal(rd(&f->u, DLM), 0x01);
}

static void test_dlab_hides_rbr(void **state)
{
	struct fx *f = *state;

	rx_bytes(&f->u, "Q");
	wr(&f->u, LCR, 0x80);
	assert_int_equal(rd(&f->u, DLL), 0x00); /* the divisor, not the queued byte */
	wr(&f->u, LCR, 0x00);
	assert_int_equal(rd(&f->u, RBR), 'Q');
}

static void test_ier_masks_to_4_bits(void **state)
{
	struct fx *f = *state;

	wr(&f->u, IER, 0xff);
	assert_int_equal(rd(&f->u, IER), 0x0f);
	wr(&f->u, IER, 0xf0);
	assert_int_equal(rd(&f->u, IER), 0x00);
	wr(&f->u, IER, 0x0a);
	assert_int_equal(rd(&f->u, IER), 0x0a);
}

static void test_lcr_mcr_scr(void **state)
{
	struct fx *f = *state;

	wr(&f->u, LCR, 0x1b);
	assert_int_equal(rd(&f->u, LCR), 0x1b);
	wr(&f->u, MCR, 0xff);
	assert_int_equal(rd(&f->u, MCR), 0x1f);
	wr(&f->u, MCR, 0x0b);
	assert_int_equal(rd(&f->u, MCR), 0x0b);
	for (unsigned v = 0; v < 256; v += 0x33) {
		wr(&f->u, SCR, v);
		assert_int_equal(rd(&f->u, SCR), v);
	}
	assert_int_equal(f->irq.count, 0);
}

static void test_lsr_bits(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(&f->u, LSR), 0x60);
	rx_bytes(&f->u, "ab");
	assert_int_equal(rd(&f->u, LSR), 0x61);
	assert_int_equal(rd(&f->u, RBR), 'a');
	assert_int_equal(rd(&f->u, LSR), 0x61);
	assert_int_equal(rd(&f->u, RBR), 'b');
	assert_int_equal(rd(&f->u, LSR), 0x60);
	wr(&f->u, LSR, 0xff); /* read-only */
	assert_int_equal(rd(&f->u, LSR), 0x60);
	assert_int_equal(rd(&f->u, RBR), 0x00); /* an empty RBR reads something harmless */
}

static void test_msr_outside_loopback(void **state)
{
	struct fx *f = *state;

	wr(&f->u, MCR, 0x0f);
	assert_int_equal(rd(&f->u, MSR), 0xb0);
	wr(&f->u, MCR, 0x00);
	assert_int_equal(rd(&f->u, MSR), 0xb0);
	wr(&f->u, MSR, 0x00); /* read-only */
	assert_int_equal(rd(&f->u, MSR), 0xb0);
}

static void test_msr_loopback(void **state)
{
	struct fx *f = *state;

	/* Entering loopback drops CTS, DSR and DCD: their delta bits latch until MSR is read. */
	wr(&f->u, MCR, 0x10);
	assert_int_equal(rd(&f->u, MSR), 0x0b);
	assert_int_equal(rd(&f->u, MSR), 0x00);
	/* Linux's 8250 probe: RTS|OUT2 in loopback must read back as CTS|DCD. */
	wr(&f->u, MCR, 0x1a);
	assert_int_equal(rd(&f->u, MSR) & 0xf0, 0x90);
	wr(&f->u, MCR, 0x11); /* DTR -> DSR */
	assert_int_equal(rd(&f->u, MSR) & 0xf0, 0x20);
	wr(&f->u, MCR, 0x14); /* OUT1 -> RI; DSR fell (DDSR), but RI's leading edge sets no delta */
	assert_int_equal(rd(&f->u, MSR), 0x42);
	wr(&f->u, MCR, 0x10); /* RI's trailing edge sets TERI */
	assert_int_equal(rd(&f->u, MSR), 0x04);
	wr(&f->u, MCR, 0x1f);
	assert_int_equal(rd(&f->u, MSR) & 0xf0, 0xf0);
	wr(&f->u, MCR, 0x0f); /* leaving loopback: a connected line again */
	assert_int_equal(rd(&f->u, MSR) & 0xf0, 0xb0);
}

static void test_modem_status_irq(void **state)
{
	struct fx *f = *state;

	wr(&f->u, IER, 0x08);
	assert_int_equal(f->irq.count, 0);
	wr(&f->u, MCR, 0x10);
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(rd(&f->u, IIR), 0x00);
	assert_int_equal(rd(&f->u, IIR), 0x00); /* reading IIR does not acknowledge modem status */
	rd(&f->u, MSR);
	assert_int_equal(rd(&f->u, IIR), 0x01);
	assert_int_equal(f->irq.count, 1);
}

static void test_iir_priorities(void **state)
{
	struct fx *f = *state;

	wr(&f->u, MCR, 0x10); /* loopback: THR feeds RX, and the modem deltas latch */
	wr(&f->u, IER, 0x0f);
	for (int i = 0; i < UART_FIFO_SIZE + 1; i++)
		wr(&f->u, RBR, 'a' + i); /* the 17th byte overruns */

	assert_int_equal(rd(&f->u, IIR), 0x06); /* line status beats everything */
	assert_int_equal(rd(&f->u, IIR), 0x06);
	assert_int_equal(rd(&f->u, LSR) & 0x03, 0x03); /* OE|DR; reading clears OE */
	assert_int_equal(rd(&f->u, IIR), 0x04);	       /* then received data */
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		assert_int_equal(rd(&f->u, RBR), 'a' + i);
	assert_int_equal(rd(&f->u, IIR), 0x02); /* then THR empty, acknowledged by this read */
	assert_int_equal(rd(&f->u, IIR), 0x00); /* then modem status */
	rd(&f->u, MSR);
	assert_int_equal(rd(&f->u, IIR), 0x01);
}

static void test_iir_masked_sources_hidden(void **state)
{
	struct fx *f = *state;

	rx_bytes(&f->u, "z");
	wr(&f->u, MCR, 0x10);
	assert_int_equal(rd(&f->u, IIR), 0x01); /* pending but not enabled */
	wr(&f->u, IER, 0x01);
	assert_int_equal(rd(&f->u, IIR), 0x04);
	wr(&f->u, IER, 0x08);
	assert_int_equal(rd(&f->u, IIR), 0x00);
	assert_int_equal(f->irq.count, 1); /* one rising edge: the switch of source left no gap */
}

static void test_thre_not_acked_when_not_reported(void **state)
{
	struct fx *f = *state;

	rx_bytes(&f->u, "r");
	wr(&f->u, IER, 0x03);
	assert_int_equal(rd(&f->u, IIR), 0x04); /* RX data hides THRE, so this read must not acknowledge it */
	assert_int_equal(rd(&f->u, RBR), 'r');
	assert_int_equal(rd(&f->u, IIR), 0x02);
	assert_int_equal(rd(&f->u, IIR), 0x01);
}

static void test_iir_fifo_bits(void **state)
{
	struct fx *f = *state;

	wr(&f->u, FCR, 0x01);
	assert_int_equal(rd(&f->u, IIR), 0xc1);
	wr(&f->u, IER, 0x01);
	rx_bytes(&f->u, "x");
	assert_int_equal(rd(&f->u, IIR), 0xc4);
	wr(&f->u, FCR, 0xc7); /* write-only: offset 2 still reads IIR, not this value */
	assert_int_equal(rd(&f->u, IIR), 0xc1);
	wr(&f->u, FCR, 0x00);
	assert_int_equal(rd(&f->u, IIR), 0x01);
}

static void test_lcr_write_keeps_fifo(void **state)
{
	struct fx *f = *state;

	rx_bytes(&f->u, "hello");
	wr(&f->u, LCR, 0x03); /* kvmtool's bug: treating this as an FCR write would clear the FIFO */
	assert_int_equal(rd(&f->u, LSR) & 0x01, 0x01);
	assert_int_equal(uart_rx_room(&f->u), UART_FIFO_SIZE - 5);
	wr(&f->u, FCR, 0x01); /* enabling the FIFO alone does not clear it */
	assert_int_equal(uart_rx_room(&f->u), UART_FIFO_SIZE - 5);
	assert_int_equal(rd(&f->u, RBR), 'h');
	wr(&f->u, FCR, 0x03); /* bit 1 does */
	assert_int_equal(rd(&f->u, LSR), 0x60);
	assert_int_equal(uart_rx_room(&f->u), UART_FIFO_SIZE);
	rx_bytes(&f->u, "k");
	wr(&f->u, FCR, 0x05); /* bit 2 clears TX only */
	assert_int_equal(rd(&f->u, RBR), 'k');
}

static void test_rx_short_count_at_16(void **state)
{
	struct fx *f = *state;
	uint8_t buf[20];

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = i;
	assert_int_equal(uart_rx(&f->u, buf, sizeof(buf)), UART_FIFO_SIZE);
	assert_int_equal(uart_rx_room(&f->u), 0);
	assert_int_equal(uart_rx(&f->u, buf, 1), 0);
	assert_int_equal(uart_rx(&f->u, buf, 0), 0);
	/* Refused host input is not lost (the host keeps it), so it is not an overrun. */
	assert_int_equal(rd(&f->u, LSR), 0x61);
	assert_int_equal(f->u.rx_overruns, 0);
	for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
		assert_int_equal(rd(&f->u, RBR), i);
	assert_int_equal(rd(&f->u, LSR), 0x60);
}

static void test_overrun_sets_oe(void **state)
{
	struct fx *f = *state;

	wr(&f->u, MCR, 0x10);
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		wr(&f->u, RBR, i);
	assert_int_equal(rd(&f->u, LSR), 0x61);
	wr(&f->u, RBR, 0xee); /* no room: dropped */
	assert_int_equal(f->u.rx_overruns, 1);
	assert_int_equal(rd(&f->u, LSR), 0x63);
	assert_int_equal(rd(&f->u, LSR), 0x61); /* the read cleared OE */
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		assert_int_equal(rd(&f->u, RBR), i);
	assert_int_equal(rd(&f->u, LSR), 0x60);
}

static void test_line_status_irq(void **state)
{
	struct fx *f = *state;

	wr(&f->u, MCR, 0x10);
	wr(&f->u, IER, 0x04);
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		wr(&f->u, RBR, i);
	assert_int_equal(f->irq.count, 0);
	wr(&f->u, RBR, 0);
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(rd(&f->u, IIR), 0x06);
	rd(&f->u, LSR);
	assert_int_equal(rd(&f->u, IIR), 0x01);
}

static void test_thre_irq_on_enabling_etbei(void **state)
{
	struct fx *f = *state;

	wr(&f->u, IER, 0x02);
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(rd(&f->u, IIR), 0x02);
	assert_int_equal(rd(&f->u, IIR), 0x01); /* the read acknowledged it */
	wr(&f->u, IER, 0x02);			/* 1 -> 1 is not an enable */
	assert_int_equal(rd(&f->u, IIR), 0x01);
	assert_int_equal(f->irq.count, 1);
	/* Linux's startup THRE test: toggling ETBEI must re-raise THRE. */
	wr(&f->u, IER, 0x00);
	wr(&f->u, IER, 0x02);
	assert_int_equal(f->irq.count, 2);
	assert_int_equal(rd(&f->u, IIR), 0x02);
	assert_int_equal(rd(&f->u, IIR), 0x01);
}

static void test_thr_write_pulses_thre(void **state)
{
	struct fx *f = *state;

	wr(&f->u, RBR, 'a'); /* ETBEI off: no interrupt */
	assert_int_equal(f->irq.count, 0);
	assert_int_equal(rd(&f->u, IIR), 0x01);
	wr(&f->u, IER, 0x02);
	assert_int_equal(f->irq.count, 1);
	/* Every THR write is a new THRE event, acknowledged or not. */
	wr(&f->u, RBR, 'b');
	assert_int_equal(f->irq.count, 2);
	wr(&f->u, RBR, 'c');
	wr(&f->u, RBR, 'd');
	assert_int_equal(f->irq.count, 4);
	assert_int_equal(rd(&f->u, IIR), 0x02);
	assert_int_equal(rd(&f->u, IIR), 0x01);
	wr(&f->u, RBR, 'e');
	assert_int_equal(f->irq.count, 5);
	assert_int_equal(rd(&f->u, IIR), 0x02);
	assert_int_equal(f->ntx, 5);
}

static void test_rx_irq_edges(void **state)
{
	struct fx *f = *state;

	rx_bytes(&f->u, "1"); /* not enabled: no edge */
	assert_int_equal(f->irq.count, 0);
	wr(&f->u, IER, 0x01); /* enabling with data queued is a rising edge */
	assert_int_equal(f->irq.count, 1);
	rx_bytes(&f->u, "2"); /* still pending: no new edge */
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(rd(&f->u, RBR), '1');
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(rd(&f->u, RBR), '2');
	assert_int_equal(rd(&f->u, IIR), 0x01);
	rx_bytes(&f->u, "3"); /* pending again after a gap: a new edge */
	assert_int_equal(f->irq.count, 2);
	assert_int_equal(uart_rx(&f->u, (const uint8_t *)"", 0), 0);
	assert_int_equal(f->irq.count, 2);
}

static void test_tx_in_order(void **state)
{
	struct fx *f = *state;
	const char *msg = "Linux version 6.x\r\n";

	for (const char *p = msg; *p; p++)
		wr(&f->u, RBR, *p);
	assert_int_equal(f->ntx, strlen(msg));
	assert_memory_equal(f->tx, msg, strlen(msg));
	assert_int_equal(rd(&f->u, LSR), 0x60); /* nothing echoed into RX */
}

static void test_loopback_goes_to_rx_not_tx(void **state)
{
	struct fx *f = *state;

	wr(&f->u, MCR, 0x10);
	wr(&f->u, RBR, 'a');
	wr(&f->u, RBR, 'b');
	assert_int_equal(f->ntx, 0);
	assert_int_equal(rd(&f->u, LSR), 0x61);
	assert_int_equal(rd(&f->u, RBR), 'a');
	assert_int_equal(rd(&f->u, RBR), 'b');
	wr(&f->u, MCR, 0x00);
	wr(&f->u, RBR, 'c');
	assert_int_equal(f->ntx, 1);
	assert_int_equal(f->tx[0], 'c');
	assert_int_equal(rd(&f->u, LSR), 0x60);
}

/* THR writes may be batched only while nothing observes them one by one: DLAB, ETBEI or loopback each forbid it. */
static void test_thr_coalescable(void **state)
{
	struct fx *f = *state;

	assert_true(uart_thr_coalescable(&f->u));
	wr(&f->u, IER, 0x01); /* RX interrupts only: still fine, a THR write does not touch them */
	assert_true(uart_thr_coalescable(&f->u));
	wr(&f->u, IER, 0x03);
	assert_false(uart_thr_coalescable(&f->u));
	wr(&f->u, IER, 0x00);
	wr(&f->u, LCR, 0x83);
	assert_false(uart_thr_coalescable(&f->u));
	wr(&f->u, LCR, 0x03);
	wr(&f->u, MCR, 0x10);
	assert_false(uart_thr_coalescable(&f->u));
	wr(&f->u, MCR, 0x0b);
	assert_true(uart_thr_coalescable(&f->u));
}

static void test_rx_space_on_drain_from_full(void **state)
{
	struct fx *f = *state;
	uint8_t buf[UART_FIFO_SIZE] = {0};

	rx_bytes(&f->u, "abc");
	rd(&f->u, RBR); /* never full: no call */
	assert_int_equal(f->rx_space, 0);
	assert_int_equal(uart_rx(&f->u, buf, sizeof(buf)), UART_FIFO_SIZE - 2);
	assert_int_equal(f->rx_space, 0);
	rd(&f->u, RBR);
	assert_int_equal(f->rx_space, 1);
	rd(&f->u, RBR); /* not full -> not full: no call */
	assert_int_equal(f->rx_space, 1);
	assert_int_equal(uart_rx(&f->u, buf, 2), 2);
	wr(&f->u, FCR, 0x02); /* a FIFO reset also makes room */
	assert_int_equal(f->rx_space, 2);
	wr(&f->u, FCR, 0x02);
	assert_int_equal(f->rx_space, 2);
}

static void test_wide_accesses(void **state)
{
	struct fx *f = *state;
	static const unsigned lens[] = {2, 4, 8};

	wr(&f->u, SCR, 0x5a);
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		unsigned len = lens[i];

		/* Every offset, even where the bus would refuse off + len > 8: the handler must not care. */
		for (uint64_t off = 0; off < UART_NR_PORTS; off++) {
			uint8_t *buf = malloc(len); /* exactly len bytes, so ASan catches any overrun */

			assert_non_null(buf);
			memset(buf, 0, len);
			uart_bus_ops.read(&f->u, off, buf, len);
			for (unsigned b = 1; b < len; b++)
				assert_int_equal(buf[b], 0xff);
			if (off == SCR)
				assert_int_equal(buf[0], 0x5a);
			if (off == LSR)
				assert_int_equal(buf[0], 0x60);
			free(buf);
		}
	}
	/* Wide writes use the low byte only. */
	{
		uint8_t *w = malloc(4);

		assert_non_null(w);
		memcpy(w, "\x11\x22\x33\x44", 4);
		uart_bus_ops.write(&f->u, SCR, w, 2);
		assert_int_equal(rd(&f->u, SCR), 0x11);
		uart_bus_ops.write(&f->u, RBR, w, 4);
		assert_int_equal(f->ntx, 1);
		assert_int_equal(f->tx[0], 0x11);
		assert_int_equal(rd(&f->u, IER), 0x00); /* the 0x22 did not spill into IER */
		free(w);
	}
}

static void test_out_of_range_offsets(void **state)
{
	struct fx *f = *state;
	uint8_t v[2] = {0x12, 0x34};

	/* The bus never sends these, but a handler must not trust that. */
	uart_bus_ops.read(&f->u, UART_NR_PORTS, v, 2);
	assert_int_equal(v[0], 0xff);
	assert_int_equal(v[1], 0xff);
	uart_bus_ops.write(&f->u, ~0ull, v, 1);
	uart_bus_ops.write(&f->u, RBR, v, 0);
	uart_bus_ops.read(&f->u, RBR, v, 0);
	assert_int_equal(f->ntx, 0);
}

/* The guest is hostile: every value at every offset, in every DLAB/loopback state, keeps the invariants. */
static void test_every_value_everywhere(void **state)
{
	struct fx *f = *state;

	for (unsigned lcr = 0; lcr < 2; lcr++) {
		for (unsigned off = 0; off < UART_NR_PORTS; off++) {
			for (unsigned v = 0; v < 256; v++) {
				wr(&f->u, LCR, lcr ? 0x80 : 0x03);
				wr(&f->u, off, v);
				for (unsigned r = 0; r < UART_NR_PORTS; r++)
					rd(&f->u, r);
				assert_true(f->u.rx_count <= UART_FIFO_SIZE);
				assert_true(f->u.rx_head < UART_FIFO_SIZE);
				assert_int_equal(rd(&f->u, LSR) & 0x60, 0x60);
				wr(&f->u, LCR, 0x03); /* with DLAB clear, offset 1 is IER again */
				assert_int_equal(rd(&f->u, IER) & 0xf0, 0x00);
			}
		}
	}
}

static void test_two_instances_independent(void **state)
{
	struct fx *a = *state, *b = malloc(sizeof(*b));

	assert_non_null(b);
	fx_init(b);
	wr(&a->u, SCR, 0xaa);
	wr(&b->u, SCR, 0xbb);
	wr(&a->u, IER, 0x01);
	wr(&b->u, IER, 0x01);
	wr(&b->u, LCR, 0x80);
	rx_bytes(&a->u, "A");
	assert_int_equal(a->irq.count, 1);
	assert_int_equal(b->irq.count, 0);
	assert_int_equal(rd(&b->u, LSR), 0x60);
	assert_int_equal(rd(&a->u, LCR), 0x00);
	wr(&a->u, RBR, 'x');
	assert_int_equal(a->ntx, 1);
	assert_int_equal(b->ntx, 0);
	assert_int_equal(rd(&a->u, SCR), 0xaa);
	assert_int_equal(rd(&b->u, SCR), 0xbb);
	assert_int_equal(rd(&a->u, RBR), 'A');
	uart_destroy(&b->u);
	free(b);
}

static void test_null_backend(void **state)
{
	struct irq_line irq;
	struct uart u;

	(void)state;
	irq_line_init(&irq, 4, -1);
	uart_init(&u, &irq, NULL);
	wr(&u, IER, 0x02);
	wr(&u, RBR, 'x'); /* no tx callback: dropped */
	assert_int_equal(irq.count, 2);
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		rx_bytes(&u, "y");
	assert_int_equal(rd(&u, RBR), 'y'); /* no rx_space callback: fine */
	uart_destroy(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_init_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dlab_divisor_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dlab_hides_rbr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ier_masks_to_4_bits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lcr_mcr_scr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lsr_bits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msr_outside_loopback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msr_loopback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modem_status_irq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_iir_priorities, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_iir_masked_sources_hidden, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thre_not_acked_when_not_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_iir_fifo_bits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lcr_write_keeps_fifo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_short_count_at_16, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overrun_sets_oe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_line_status_irq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thre_irq_on_enabling_etbei, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thr_write_pulses_thre, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_irq_edges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tx_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback_goes_to_rx_not_tx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rx_space_on_drain_from_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wide_accesses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_range_offsets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_value_everywhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_instances_independent, setup, teardown),
	    cmocka_unit_test(test_null_backend),
	    cmocka_unit_test_setup_teardown(test_thr_coalescable, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
