/* cmos.h: the MC146818 CMOS RTC at ports 0x70/0x71: the host's UTC time in BCD plus 128 bytes of RAM. */
#ifndef KVMINI_CMOS_H
#define KVMINI_CMOS_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "vmm/bus.h"

/*
 * Why it exists: Linux reads the RTC at boot (to set the system clock, and in rtc-cmos's probe); without the
 * "valid RAM and time" bit in register D it WARNs with a stack trace.
 *
 * Register it as one 2-port range: bus_add(pio, CMOS_PORT, CMOS_NR_PORTS, &cmos_bus_ops, c, "cmos").
 * Offset 0 (0x70) is the write-only index; bit 7 of it is the NMI-disable bit, so the index is masked with
 * 0x7f (and an index of 0xc0 selects byte 0x40). Reads of offset 0 return 0xff. Offset 1 (0x71) is the data.
 *
 * Reads: 0x00 seconds, 0x02 minutes, 0x04 hours (24 h), 0x06 day of week (1 = Sunday), 0x07 day of month,
 * 0x08 month, 0x09 year (2 digits), 0x32 century: all BCD, from the clock at the moment of the read.
 * Register A = 0x26 (UIP, bit 7, never set: the time is never mid-update), B = 0x02 (24 h, BCD, no
 * interrupts), C = 0x00 (no interrupt flags), D = 0x80 (valid RAM and time). The alarms (0x01/0x03/0x05)
 * read 0. Writes to 0x00-0x0D and 0x32 are ignored: the guest cannot set the host's clock, and A and B are
 * fixed because nothing behind them (divider, interrupts, binary mode) is emulated. Every other byte of the
 * 128 is plain RAM, zero at init.
 */
#define CMOS_PORT     0x70
#define CMOS_NR_PORTS 2
#define CMOS_RAM_SIZE 128

struct cmos {
	pthread_mutex_t lock; /* the index and the RAM are shared by all vCPUs */
	time_t (*now)(void);  /* the clock; never NULL after cmos_init */
	uint8_t index;	      /* already masked with 0x7f */
	uint8_t ram[CMOS_RAM_SIZE];
};

/* `now` NULL means the host clock, time(NULL); tests pass a fixed clock. */
void cmos_init(struct cmos *c, time_t (*now)(void));
void cmos_destroy(struct cmos *c);

extern const struct bus_ops cmos_bus_ops;

#endif
