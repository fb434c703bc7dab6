/* acpi_pm.h: the hardware-reduced ACPI power registers (sleep control/status, reset) and the power button. */
#ifndef KVMINI_ACPI_PM_H
#define KVMINI_ACPI_PM_H

#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/irq.h"

/*
 * Three 8-bit I/O registers, registered as one range of ACPI_PM_NR_PORTS at PORT_ACPI_SLEEP_CTL (layout.h):
 *   offset 0  sleep control: the guest writes (SLP_TYP << 2) | SLP_EN (bit 5) to enter a sleep state. SLP_TYP
 *             5 (our \_S5 value) is soft-off: the poweroff callback runs. Other states (S1-S4) are not offered
 *             in the DSDT; a request for one is counted and ignored.
 *   offset 1  sleep status: reads WAK_STS (bit 7) set, so a guest polling for wake-up never spins; writes
 *             (write-1-to-clear) are accepted and ignored.
 *   offset 2  reset: writing the FADT's RESET_VALUE runs the reset callback; other values are ignored.
 * The power button is the Generic Event Device's interrupt: acpi_pm_press_button raises an edge on it and
 * the DSDT's GED _EVT method turns it into Notify(PWRB, 0x80), which Linux reports as KEY_POWER.
 */
#define ACPI_PM_NR_PORTS   3
#define ACPI_PM_SLEEP_CTL  0
#define ACPI_PM_SLEEP_STS  1
#define ACPI_PM_RESET	   2
#define ACPI_SLP_EN	   (1u << 5)
#define ACPI_SLP_TYP_SHIFT 2
#define ACPI_SLP_TYP_MASK  (7u << ACPI_SLP_TYP_SHIFT)
#define ACPI_WAK_STS	   (1u << 7)

enum acpi_pm_event { ACPI_PM_POWEROFF, ACPI_PM_RESET_REQ };

struct acpi_pm {
	struct irq_line *button; /* the GED interrupt line */
	uint8_t s5_typ, reset_value;
	/* Runs on the vCPU thread that wrote the register, no lock held; must be idempotent (several vCPUs may
	 * write at once). May be NULL. */
	void (*event)(void *opaque, enum acpi_pm_event ev);
	void *opaque;
	uint64_t presses, ignored_writes;
};

void acpi_pm_init(struct acpi_pm *pm, struct irq_line *button, uint8_t s5_typ, uint8_t reset_value,
		  void (*event)(void *opaque, enum acpi_pm_event ev), void *opaque);
/* Press the power button: one edge on the GED line. Safe from any thread. */
void acpi_pm_press_button(struct acpi_pm *pm);

extern const struct bus_ops acpi_pm_ops;

#endif
