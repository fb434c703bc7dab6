/* test_legacy.c: the empty i8042 (probe and reset behaviour) and the CMOS RTC (BCD time, fixed registers, RAM). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "devices/cmos.h"
#include "devices/i8042.h"

/* ---- i8042 ---- */

struct reset_log {
	unsigned calls;
	void *opaque;
};

static void on_reset(void *opaque)
{
	struct reset_log *log = opaque;

	log->calls++;
	log->opaque = opaque;
}

static uint8_t k_rd(const struct bus_ops *ops, struct i8042 *k)
{
	uint8_t v = 0;

	ops->read(k, 0, &v, 1);
	return v;
}

static void k_wr(const struct bus_ops *ops, struct i8042 *k, uint8_t v)
{
	ops->write(k, 0, &v, 1);
}

static void test_i8042_reads(void **state)
{
	struct reset_log log = {0};
	struct i8042 k;

	(void)state;
	i8042_init(&k, on_reset, &log);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(k_rd(&i8042_cmd_ops, &k), 0x01);
		assert_int_equal(k_rd(&i8042_data_ops, &k), 0xff);
	}
	assert_int_equal(log.calls, 0);
}

/* Linux's i8042_flush(): read data while status.OBF, give up after 16 bytes ("No controller found"). */
static void test_i8042_linux_probe_gives_up(void **state)
{
	struct i8042 k;
	int count = 0, no_controller = 0;

	(void)state;
	i8042_init(&k, NULL, NULL);
	while (k_rd(&i8042_cmd_ops, &k) & 0x01) {
		if (count++ >= 16) {
			no_controller = 1;
			break;
		}
		assert_int_equal(k_rd(&i8042_data_ops, &k), 0xff);
	}
	assert_true(no_controller);
	assert_int_equal(count, 17);
	assert_int_equal(k.ignored_writes, 0);
}

/* Linux's keyboard reboot: kb_wait() until status bit 1 is clear, then 0xFE to 0x64. */
static void test_i8042_reset(void **state)
{
	struct reset_log log = {0};
	struct i8042 k;

	(void)state;
	i8042_init(&k, on_reset, &log);
	assert_int_equal(k_rd(&i8042_cmd_ops, &k) & 0x02, 0);
	k_wr(&i8042_cmd_ops, &k, 0xfe);
	assert_int_equal(log.calls, 1);
	assert_ptr_equal(log.opaque, &log);
	assert_int_equal(k.resets, 1);
	assert_int_equal(k.ignored_writes, 0);
}

static void test_i8042_other_writes_ignored(void **state)
{
	static const uint8_t cmds[] = {0x00, 0x20, 0x60, 0xa7, 0xaa, 0xad, 0xd1, 0xd4, 0xf0, 0xfd, 0xff};
	struct reset_log log = {0};
	struct i8042 k;

	(void)state;
	i8042_init(&k, on_reset, &log);
	for (unsigned i = 0; i < sizeof(cmds); i++)
		k_wr(&i8042_cmd_ops, &k, cmds[i]);
	k_wr(&i8042_data_ops, &k, 0xfe); /* 0xFE on the data port is a keyboard command, not a reset */
	k_wr(&i8042_data_ops, &k, 0xed);
	assert_int_equal(log.calls, 0);
	assert_int_equal(k.resets, 0);
	assert_int_equal(k.ignored_writes, sizeof(cmds) + 2);
	assert_int_equal(k_rd(&i8042_cmd_ops, &k), 0x01); /* nothing changed the status */
	assert_int_equal(k_rd(&i8042_data_ops, &k), 0xff);
}

static void test_i8042_wide_and_null(void **state)
{
	struct reset_log log = {0};
	struct i8042 k, k2;
	uint8_t r[4] = {0}, hi_fe[2] = {0x00, 0xfe}, lo_fe[2] = {0xfe, 0x00};

	(void)state;
	i8042_init(&k, on_reset, &log);
	i8042_cmd_ops.read(&k, 0, r, 4);
	assert_memory_equal(r, "\x01\xff\xff\xff", 4);
	i8042_data_ops.read(&k, 0, r, 2);
	assert_memory_equal(r, "\xff\xff", 2);
	i8042_cmd_ops.write(&k, 0, hi_fe, 2); /* only the low byte counts */
	assert_int_equal(log.calls, 0);
	i8042_cmd_ops.write(&k, 0, lo_fe, 2);
	assert_int_equal(log.calls, 1);
	/* No callback: the reset is counted and nothing crashes; the other instance is untouched. */
	i8042_init(&k2, NULL, NULL);
	k_wr(&i8042_cmd_ops, &k2, 0xfe);
	assert_int_equal(k2.resets, 1);
	assert_int_equal(k.resets, 1);
	assert_int_equal(log.calls, 1);
}

/* ---- CMOS ---- */

enum { CMOS_INDEX, CMOS_DATA };

static time_t clock_2026(void)
{
	return 1795791845; /* Friday 2026-11-27 15:04:05 UTC */
}

static time_t clock_1999(void)
{
	return 946684799; /* Friday 1999-12-31 23:59:59 UTC */
}

static uint8_t c_rd(struct cmos *c, uint8_t index)
{
	uint8_t v = 0;

	cmos_bus_ops.write(c, CMOS_INDEX, &index, 1);
	cmos_bus_ops.read(c, CMOS_DATA, &v, 1);
	return v;
}

static void c_wr(struct cmos *c, uint8_t index, uint8_t v)
{
	cmos_bus_ops.write(c, CMOS_INDEX, &index, 1);
	cmos_bus_ops.write(c, CMOS_DATA, &v, 1);
}

static void test_cmos_bcd_time(void **state)
{
	struct cmos c;

	(void)state;
	cmos_init(&c, clock_2026);
	assert_int_equal(c_rd(&c, 0x00), 0x05);
	assert_int_equal(c_rd(&c, 0x02), 0x04);
	assert_int_equal(c_rd(&c, 0x04), 0x15); /* 24-hour: 3 pm is 15 */
	assert_int_equal(c_rd(&c, 0x06), 0x06); /* Friday, with Sunday = 1 */
	assert_int_equal(c_rd(&c, 0x07), 0x27);
	assert_int_equal(c_rd(&c, 0x08), 0x11);
	assert_int_equal(c_rd(&c, 0x09), 0x26);
	assert_int_equal(c_rd(&c, 0x32), 0x20);
	cmos_destroy(&c);

	cmos_init(&c, clock_1999);
	assert_int_equal(c_rd(&c, 0x00), 0x59);
	assert_int_equal(c_rd(&c, 0x02), 0x59);
	assert_int_equal(c_rd(&c, 0x04), 0x23);
	assert_int_equal(c_rd(&c, 0x07), 0x31);
	assert_int_equal(c_rd(&c, 0x08), 0x12);
	assert_int_equal(c_rd(&c, 0x09), 0x99);
	assert_int_equal(c_rd(&c, 0x32), 0x19);
	cmos_destroy(&c);
}

static void test_cmos_status_registers(void **state)
{
	struct cmos c;

	(void)state;
	cmos_init(&c, clock_2026);
	assert_int_equal(c_rd(&c, 0x0a), 0x26);
	assert_int_equal(c_rd(&c, 0x0a) & 0x80, 0); /* UIP never set */
	assert_int_equal(c_rd(&c, 0x0b), 0x02);
	assert_int_equal(c_rd(&c, 0x0c), 0x00);
	assert_int_equal(c_rd(&c, 0x0d), 0x80);
	/* The guest cannot change the time or the fixed registers. */
	c_wr(&c, 0x00, 0x33);
	c_wr(&c, 0x09, 0x01);
	c_wr(&c, 0x0a, 0xa0);
	c_wr(&c, 0x0b, 0x86);
	c_wr(&c, 0x0d, 0x00);
	c_wr(&c, 0x32, 0x21);
	assert_int_equal(c_rd(&c, 0x00), 0x05);
	assert_int_equal(c_rd(&c, 0x09), 0x26);
	assert_int_equal(c_rd(&c, 0x0a), 0x26);
	assert_int_equal(c_rd(&c, 0x0b), 0x02);
	assert_int_equal(c_rd(&c, 0x0d), 0x80);
	assert_int_equal(c_rd(&c, 0x32), 0x20);
	cmos_destroy(&c);
}

static void test_cmos_nmi_bit_masked(void **state)
{
	struct cmos c;

	(void)state;
	cmos_init(&c, clock_2026);
	assert_int_equal(c_rd(&c, 0x80 | 0x0d), 0x80); /* NMI disabled, register D */
	assert_int_equal(c_rd(&c, 0x80 | 0x04), 0x15);
	assert_int_equal(c.index, 0x04);
	cmos_destroy(&c);
}

static void test_cmos_ram(void **state)
{
	struct cmos c;

	(void)state;
	cmos_init(&c, clock_2026);
	assert_int_equal(c_rd(&c, 0x40), 0x00);
	c_wr(&c, 0x40, 0xa5);
	assert_int_equal(c_rd(&c, 0x40), 0xa5);
	assert_int_equal(c_rd(&c, 0x41), 0x00);
	assert_int_equal(c_rd(&c, 0xc0), 0xa5); /* 0xc0 & 0x7f == 0x40 */
	c_wr(&c, 0xff, 0x5a);
	assert_int_equal(c_rd(&c, 0x7f), 0x5a);
	c_wr(&c, 0x0e, 0x11); /* the first byte after the RTC registers is RAM */
	assert_int_equal(c_rd(&c, 0x0e), 0x11);
	cmos_destroy(&c);
}

static void test_cmos_ports(void **state)
{
	struct cmos c;
	uint8_t r[4], w[2] = {0x40, 0x99};

	(void)state;
	cmos_init(&c, clock_2026);
	c_wr(&c, 0x40, 0x77);
	cmos_bus_ops.read(&c, CMOS_INDEX, r, 1); /* the index port is write-only */
	assert_int_equal(r[0], 0xff);
	/* Wide accesses: the low byte only, no spill into the data port. */
	cmos_bus_ops.write(&c, CMOS_INDEX, w, 2);
	assert_int_equal(c.index, 0x40);
	memset(r, 0, sizeof(r));
	cmos_bus_ops.read(&c, CMOS_DATA, r, 4);
	assert_memory_equal(r, "\x77\xff\xff\xff", 4);
	/* Out-of-range offsets (the bus never sends them) are harmless. */
	cmos_bus_ops.write(&c, 2, w, 1);
	cmos_bus_ops.read(&c, 5, r, 2);
	assert_int_equal(r[0], 0xff);
	assert_int_equal(c_rd(&c, 0x40), 0x77);
	cmos_destroy(&c);
}

static void test_cmos_every_index(void **state)
{
	struct cmos c;

	(void)state;
	cmos_init(&c, clock_2026);
	for (unsigned i = 0; i < 256; i++) {
		c_wr(&c, i, (uint8_t)i);
		assert_true(c.index < CMOS_RAM_SIZE);
		c_rd(&c, i);
	}
	/* Every RAM byte (not an RTC register) kept the last value written through either alias. */
	for (unsigned i = 0x0e; i < CMOS_RAM_SIZE; i++)
		if (i != 0x32)
			assert_int_equal(c_rd(&c, i), i | 0x80);
	cmos_destroy(&c);
}

static void test_cmos_host_clock(void **state)
{
	struct cmos c;
	time_t t = time(NULL);
	struct tm tm;
	int year;

	(void)state;
	assert_non_null(gmtime_r(&t, &tm));
	year = (tm.tm_year + 1900) % 100;
	cmos_init(&c, NULL);
	assert_int_equal(c_rd(&c, 0x09), ((year / 10) << 4) | (year % 10));
	assert_int_equal(c_rd(&c, 0x32), 0x20);
	assert_int_equal(c_rd(&c, 0x0d), 0x80);
	cmos_destroy(&c);
}

static void test_cmos_two_instances(void **state)
{
	struct cmos a, b;

	(void)state;
	cmos_init(&a, clock_2026);
	cmos_init(&b, clock_1999);
	c_wr(&a, 0x50, 0xaa);
	assert_int_equal(c_rd(&b, 0x50), 0x00);
	assert_int_equal(c_rd(&a, 0x09), 0x26);
	assert_int_equal(c_rd(&b, 0x09), 0x99);
	{
		uint8_t idx = 0x50, v = 0;

		cmos_bus_ops.write(&a, CMOS_INDEX, &idx, 1);
		idx = 0x09;
		cmos_bus_ops.write(&b, CMOS_INDEX, &idx, 1);
		cmos_bus_ops.read(&a, CMOS_DATA, &v, 1); /* a's index survived b's write */
		assert_int_equal(v, 0xaa);
	}
	cmos_destroy(&a);
	cmos_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_i8042_reads),
	    cmocka_unit_test(test_i8042_linux_probe_gives_up),
	    cmocka_unit_test(test_i8042_reset),
	    cmocka_unit_test(test_i8042_other_writes_ignored),
	    cmocka_unit_test(test_i8042_wide_and_null),
	    cmocka_unit_test(test_cmos_bcd_time),
	    cmocka_unit_test(test_cmos_status_registers),
	    cmocka_unit_test(test_cmos_nmi_bit_masked),
	    cmocka_unit_test(test_cmos_ram),
	    cmocka_unit_test(test_cmos_ports),
	    cmocka_unit_test(test_cmos_every_index),
	    cmocka_unit_test(test_cmos_host_clock),
	    cmocka_unit_test(test_cmos_two_instances),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
