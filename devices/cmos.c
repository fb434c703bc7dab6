/* cmos.c: a read-only MC146818 RTC reporting the host's UTC time in BCD, with the rest of its RAM as storage. */
#include "devices/cmos.h"

#include <string.h>

#define CMOS_INDEX_MASK 0x7f /* bit 7 of the index port disables NMIs; it does not select a register */

#define RTC_SECONDS	0x00
#define RTC_MINUTES	0x02
#define RTC_HOURS	0x04
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY		0x07
#define RTC_MONTH	0x08
#define RTC_YEAR	0x09
#define RTC_REG_A	0x0a
#define RTC_REG_B	0x0b
#define RTC_REG_C	0x0c
#define RTC_REG_D	0x0d
#define RTC_CENTURY	0x32

#define RTC_A_VALUE 0x26 /* 32.768 kHz divider, 1024 Hz periodic rate; UIP (bit 7) clear */
#define RTC_B_VALUE 0x02 /* 24-hour mode; BCD (bit 2 clear); no interrupts, no DST */
#define RTC_D_VALUE 0x80 /* VRT: RAM and time are valid */

static time_t cmos_host_now(void)
{
	return time(NULL);
}

void cmos_init(struct cmos *c, time_t (*now)(void))
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->now = now ? now : cmos_host_now;
}

void cmos_destroy(struct cmos *c)
{
	pthread_mutex_destroy(&c->lock);
}

/* Two BCD digits; anything past 99 keeps its last two digits rather than producing a non-BCD byte. */
static uint8_t cmos_bcd(int v)
{
	if (v < 0)
		v = 0;
	return (uint8_t)((((v / 10) % 10) << 4) | (v % 10));
}

/* Registers 0x00-0x0D and 0x32 are synthesized; every other byte is RAM. */
static int cmos_is_rtc_reg(uint8_t idx)
{
	return idx <= RTC_REG_D || idx == RTC_CENTURY;
}

static uint8_t cmos_read_rtc(struct cmos *c, uint8_t idx)
{
	time_t t;
	struct tm tm;

	switch (idx) {
	case RTC_REG_A:
		return RTC_A_VALUE;
	case RTC_REG_B:
		return RTC_B_VALUE;
	case RTC_REG_C:
		return 0;
	case RTC_REG_D:
		return RTC_D_VALUE;
	}
	t = c->now();
	if (!gmtime_r(&t, &tm)) {
		t = 0; /* a clock beyond struct tm's range: report the epoch rather than garbage */
		gmtime_r(&t, &tm);
	}
	switch (idx) {
	case RTC_SECONDS:
		return cmos_bcd(tm.tm_sec);
	case RTC_MINUTES:
		return cmos_bcd(tm.tm_min);
	case RTC_HOURS:
		return cmos_bcd(tm.tm_hour);
	case RTC_DAY_OF_WEEK:
		return cmos_bcd(tm.tm_wday + 1);
	case RTC_DAY:
		return cmos_bcd(tm.tm_mday);
	case RTC_MONTH:
		return cmos_bcd(tm.tm_mon + 1);
	case RTC_YEAR:
		return cmos_bcd((tm.tm_year + 1900) % 100);
	case RTC_CENTURY:
		return cmos_bcd((tm.tm_year + 1900) / 100);
	}
	return 0; /* the alarms: no alarm interrupt exists, so they hold nothing */
}

/* Both ports are 8 bits wide: a wider read gets the value in byte 0 and 0xff above it. */
static void cmos_bus_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct cmos *c = dev;

	if (!len)
		return;
	memset(data, 0xff, len);
	if (off != 1)
		return; /* the index port is write-only */
	pthread_mutex_lock(&c->lock);
	data[0] = cmos_is_rtc_reg(c->index) ? cmos_read_rtc(c, c->index) : c->ram[c->index];
	pthread_mutex_unlock(&c->lock);
}

/* A wider write only writes its low byte to the port at `off`. */
static void cmos_bus_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct cmos *c = dev;

	if (!len || off > 1)
		return;
	pthread_mutex_lock(&c->lock);
	if (off == 0)
		c->index = data[0] & CMOS_INDEX_MASK;
	else if (!cmos_is_rtc_reg(c->index))
		c->ram[c->index] = data[0];
	pthread_mutex_unlock(&c->lock);
}

const struct bus_ops cmos_bus_ops = {
    .read = cmos_bus_read,
    .write = cmos_bus_write,
};
