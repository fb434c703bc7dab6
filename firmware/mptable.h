/* mptable.h: build the Intel MultiProcessor Specification 1.4 table (floating pointer + configuration table). */
#ifndef KVMINI_MPTABLE_H
#define KVMINI_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#define MPTABLE_MAX_CPUS 64
#define MPTABLE_OEM_ID	 "KVMINI  " /* 8 bytes, space-padded */
/* The IOAPIC's ID: the first APIC ID after the processors' 0..ncpus-1. The MP spec wants it distinct from
 * them; the MADT uses the same (ACPI_IOAPIC_ID in acpi.h). */
#define MPTABLE_IOAPIC_ID(ncpus) ((uint8_t)(ncpus))
#define MPTABLE_LAPIC_VERSION	 0x14 /* an integrated xAPIC, as KVM's local APIC reports */
#define MPTABLE_IOAPIC_VERSION	 0x11 /* as KVM's IOAPIC reports */

/* Fill buf, which the guest sees at physical address gpa (16-byte aligned, below 4 GiB), with the 16-byte
 * floating pointer structure at offset 0 and the configuration table right after it: ncpus (1..64)
 * processors, an ISA bus, the IOAPIC, ISA IRQs 0-15 but 2 identity-mapped to its pins, and LINT0 ExtINT /
 * LINT1 NMI on every local APIC. Returns the bytes used, or -ENOSPC / -EINVAL. */
int mptable_build(uint8_t *buf, size_t len, uint64_t gpa, unsigned ncpus);

#endif
