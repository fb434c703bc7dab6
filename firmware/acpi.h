/* acpi.h: build the guest's ACPI tables (RSDP, XSDT, FADT, MADT, DSDT) for a hardware-reduced machine. */
#ifndef KVMINI_ACPI_H
#define KVMINI_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS	  64
#define ACPI_MAX_VIRTIO	  256 /* DSDT names VR00..VRFF */
#define ACPI_IOAPIC_PINS  24  /* KVM's in-kernel IOAPIC: GSIs 0-23 */
#define ACPI_OEM_ID	  "KVMINI"
#define ACPI_RSDP_SIZE	  36  /* revision 2 */
#define ACPI_HDR_SIZE	  36  /* the common table header */
#define ACPI_FADT_SIZE	  276 /* revision 6 (ACPI 6.0 and later) */
#define ACPI_FADT_REV	  6
#define ACPI_FADT_MINOR	  3
#define ACPI_MADT_REV	  5
#define ACPI_DSDT_REV	  2    /* 64-bit AML integers */
#define ACPI_CENTURY_CMOS 0x32 /* devices/cmos.c keeps the century at this CMOS index */

/* The MADT's IOAPIC ID: the first APIC ID above the processors' 0..ncpus-1, so no ID is used twice. The MP
 * table uses the same one (mptable.h). */
#define ACPI_IOAPIC_ID(ncpus) ((uint8_t)(ncpus))

/* One virtio-mmio window: a DSDT device LNRO0005 with its registers and interrupt. The window must lie below
 * 4 GiB (Memory32Fixed). edge = false is level-triggered, active-high: what virtio-mmio's interrupt status
 * register implies (the line stays up until the driver acknowledges). */
struct acpi_mmio_dev {
	uint64_t base;
	uint32_t size;
	uint32_t gsi; /* < ACPI_IOAPIC_PINS */
	bool edge;
};

struct acpi_config {
	unsigned ncpus; /* 1..ACPI_MAX_CPUS */
	const struct acpi_mmio_dev *virtio;
	unsigned nvirtio; /* 0..ACPI_MAX_VIRTIO */
};

/* Fill buf, which the guest sees at physical address gpa (16-byte aligned, the whole of it below 4 GiB), with
 * the RSDP at offset 0, then XSDT, FADT, MADT and DSDT, each 16-byte aligned. Returns the number of bytes used,
 * or -ENOSPC (buf too small; bytes up to len may have been written) or -EINVAL (bad config or gpa). */
int acpi_build(uint8_t *buf, size_t len, uint64_t gpa, const struct acpi_config *c);

#endif
