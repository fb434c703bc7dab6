/* test_acpi_pm.c: the ACPI sleep/reset registers as Linux drives them, and the power button's interrupt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/acpi_pm.h"
#include "vmm/bus.h"
#include "vmm/layout.h"

struct log {
	unsigned poweroffs, resets;
};

static void on_event(void *opaque, enum acpi_pm_event ev)
{
	struct log *l = opaque;

	if (ev == ACPI_PM_POWEROFF)
		l->poweroffs++;
	else
		l->resets++;
}

struct fx {
	struct bus pio;
	struct irq_line ged;
	struct acpi_pm pm;
	struct log log;
};

static void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	bus_init(&f->pio, "pio");
	irq_line_init(&f->ged, IRQ_GED, -1);
	acpi_pm_init(&f->pm, &f->ged, ACPI_SLP_TYP_S5, ACPI_RESET_VALUE, on_event, &f->log);
	assert_int_equal(bus_add(&f->pio, PORT_ACPI_SLEEP_CTL, ACPI_PM_NR_PORTS, &acpi_pm_ops, &f->pm, "acpi"), 0);
}

static void outb(struct fx *f, uint16_t port, uint8_t v)
{
	assert_true(bus_access(&f->pio, port, &v, 1, true));
}

/* Linux's acpi_hw_extended_sleep(): clear WAK_STS, then write SLP_TYP << 2 | SLP_EN. */
static void test_poweroff_as_linux_does(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	outb(&f, PORT_ACPI_SLEEP_STS, ACPI_WAK_STS);
	assert_int_equal(f.log.poweroffs, 0);
	outb(&f, PORT_ACPI_SLEEP_CTL, (uint8_t)((ACPI_SLP_TYP_S5 << 2) | ACPI_SLP_EN));
	assert_int_equal(f.log.poweroffs, 1);
	assert_int_equal(f.log.resets, 0);
	assert_int_equal(f.pm.ignored_writes, 0);
}

/* SLP_TYP without SLP_EN, or a sleep state we do not offer (S1, S3): nothing happens, and it is counted. */
static void test_other_sleep_writes_ignored(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	outb(&f, PORT_ACPI_SLEEP_CTL, ACPI_SLP_TYP_S5 << 2);
	outb(&f, PORT_ACPI_SLEEP_CTL, (1 << 2) | ACPI_SLP_EN);
	outb(&f, PORT_ACPI_SLEEP_CTL, (3 << 2) | ACPI_SLP_EN);
	assert_int_equal(f.log.poweroffs, 0);
	assert_int_equal(f.pm.ignored_writes, 3);
}

static void test_reset_register(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	outb(&f, PORT_ACPI_RESET, (uint8_t)(ACPI_RESET_VALUE + 1));
	assert_int_equal(f.log.resets, 0);
	outb(&f, PORT_ACPI_RESET, ACPI_RESET_VALUE);
	outb(&f, PORT_ACPI_RESET, ACPI_RESET_VALUE); /* idempotent from the device's side: each write reports */
	assert_int_equal(f.log.resets, 2);
	assert_int_equal(f.log.poweroffs, 0);
}

/* Reads: the status register says "woken" so a polling guest never spins; the others read 0; a 4-byte read at
 * the last register straddles the range end and is not claimed (bus rule), so no stale bytes leak. */
static void test_reads(void **state)
{
	struct fx f;
	uint8_t v[4];

	(void)state;
	fx_init(&f);
	memset(v, 0x55, sizeof(v));
	assert_true(bus_access(&f.pio, PORT_ACPI_SLEEP_STS, v, 1, false));
	assert_int_equal(v[0], ACPI_WAK_STS);
	assert_true(bus_access(&f.pio, PORT_ACPI_SLEEP_CTL, v, 1, false));
	assert_int_equal(v[0], 0);
	memset(v, 0x55, sizeof(v));
	assert_true(bus_access(&f.pio, PORT_ACPI_SLEEP_CTL, v, 2, false));
	assert_int_equal(v[0], 0);
	assert_int_equal(v[1], 0);
	assert_false(bus_access(&f.pio, PORT_ACPI_RESET, v, 4, false));
}

static void test_button_raises_ged(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	acpi_pm_press_button(&f.pm);
	acpi_pm_press_button(&f.pm);
	assert_int_equal(f.ged.count, 2);
	assert_int_equal(f.pm.presses, 2);
	assert_int_equal(f.log.poweroffs, 0);
}

/* No callback installed: writes must still be safe. */
static void test_no_callback(void **state)
{
	struct irq_line ged;
	struct acpi_pm pm;
	uint8_t v = (uint8_t)((ACPI_SLP_TYP_S5 << 2) | ACPI_SLP_EN);

	(void)state;
	irq_line_init(&ged, IRQ_GED, -1);
	acpi_pm_init(&pm, &ged, ACPI_SLP_TYP_S5, ACPI_RESET_VALUE, NULL, NULL);
	acpi_pm_ops.write(&pm, ACPI_PM_SLEEP_CTL, &v, 1);
	v = ACPI_RESET_VALUE;
	acpi_pm_ops.write(&pm, ACPI_PM_RESET, &v, 1);
	assert_int_equal(pm.ignored_writes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_poweroff_as_linux_does), cmocka_unit_test(test_other_sleep_writes_ignored),
	    cmocka_unit_test(test_reset_register),	   cmocka_unit_test(test_reads),
	    cmocka_unit_test(test_button_raises_ged),	   cmocka_unit_test(test_no_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
