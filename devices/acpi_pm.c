/* acpi_pm.c: ACPI sleep control (poweroff), reset register and power button for a hardware-reduced machine. */
#include "devices/acpi_pm.h"

#include <string.h>

void acpi_pm_init(struct acpi_pm *pm, struct irq_line *button, uint8_t s5_typ, uint8_t reset_value,
		  void (*event)(void *opaque, enum acpi_pm_event ev), void *opaque)
{
	memset(pm, 0, sizeof(*pm));
	pm->button = button;
	pm->s5_typ = s5_typ;
	pm->reset_value = reset_value;
	pm->event = event;
	pm->opaque = opaque;
}

void acpi_pm_press_button(struct acpi_pm *pm)
{
	__atomic_add_fetch(&pm->presses, 1, __ATOMIC_RELAXED);
	irq_line_trigger(pm->button);
}

/* The registers are 8 bits wide; a wider read gets the value in byte 0 and zeroes above it. */
static void acpi_pm_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	(void)dev;
	memset(data, 0, len);
	if (len && off == ACPI_PM_SLEEP_STS)
		data[0] = ACPI_WAK_STS;
}

static void acpi_pm_fire(struct acpi_pm *pm, enum acpi_pm_event ev)
{
	if (pm->event)
		pm->event(pm->opaque, ev);
}

static void acpi_pm_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct acpi_pm *pm = dev;
	uint8_t v = len ? data[0] : 0;

	if (len && off == ACPI_PM_SLEEP_CTL && (v & ACPI_SLP_EN) &&
	    ((v & ACPI_SLP_TYP_MASK) >> ACPI_SLP_TYP_SHIFT) == pm->s5_typ) {
		acpi_pm_fire(pm, ACPI_PM_POWEROFF);
		return;
	}
	if (len && off == ACPI_PM_RESET && v == pm->reset_value) {
		acpi_pm_fire(pm, ACPI_PM_RESET_REQ);
		return;
	}
	if (off != ACPI_PM_SLEEP_STS) /* clearing WAK_STS is expected; anything else is noted */
		__atomic_add_fetch(&pm->ignored_writes, 1, __ATOMIC_RELAXED);
}

const struct bus_ops acpi_pm_ops = {
    .read = acpi_pm_read,
    .write = acpi_pm_write,
};
