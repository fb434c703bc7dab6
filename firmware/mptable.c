/* mptable.c: the MP table, for guests that find their processors and interrupt routing without ACPI. */
#include "firmware/mptable.h"

#include "firmware/le.h"

#include <errno.h>
#include <string.h>

#include "vmm/layout.h"

#define MPF_SIZE     16 /* floating pointer structure */
#define MPC_HDR_SIZE 44 /* configuration table header */
#define MP_SPEC_REV  4	/* version 1.4 */

/* Entry types and sizes (MP spec 4.3). */
#define MP_PROCESSOR	 0
#define MP_BUS		 1
#define MP_IOAPIC	 2
#define MP_INTSRC	 3
#define MP_LINTSRC	 4
#define MP_PROC_SIZE	 20
#define MP_ENTRY_SIZE	 8 /* every other entry */
#define MP_CPU_ENABLED	 0x01
#define MP_CPU_BSP	 0x02
#define MP_IOAPIC_EN	 0x01
#define MP_INT_INT	 0 /* vectored interrupt */
#define MP_INT_NMI	 1
#define MP_INT_EXTINT	 3
#define MP_ALL_LAPICS	 0xff
#define MP_ISA_BUS_ID	 0
#define MP_ISA_IRQS	 16
#define MP_CASCADE_IRQ	 2
#define MP_FIXED_ENTRIES (1 + 1 + (MP_ISA_IRQS - 1) + 2) /* bus, IOAPIC, ISA IRQs but 2, LINT0 + LINT1 */

/* A plausible processor: family 6, model 0x3a, stepping 9; features FPU (bit 0) and APIC (bit 9). */
#define MP_CPU_SIGNATURE 0x000006a9
#define MP_CPU_FEATURES	 0x00000201

/* An 8-byte interrupt entry (I/O or local): type, interrupt type, flags 0 (conforming to the bus), bus, IRQ,
 * destination and its pin. */
static uint8_t *int_entry(uint8_t *e, uint8_t type, uint8_t itype, uint8_t irq, uint8_t dst, uint8_t pin)
{
	e[0] = type;
	e[1] = itype;
	le_put16(e + 2, 0);
	e[4] = MP_ISA_BUS_ID;
	e[5] = irq;
	e[6] = dst;
	e[7] = pin;
	return e + MP_ENTRY_SIZE;
}

int mptable_build(uint8_t *buf, size_t len, uint64_t gpa, unsigned ncpus)
{
	size_t table_len = MPC_HDR_SIZE + ncpus * MP_PROC_SIZE + MP_FIXED_ENTRIES * MP_ENTRY_SIZE;
	uint8_t ioapic_id = MPTABLE_IOAPIC_ID(ncpus);
	uint8_t *mpf = buf, *mpc = buf + MPF_SIZE, *e;

	if (!buf || ncpus < 1 || ncpus > MPTABLE_MAX_CPUS || gpa % 16 || gpa + MPF_SIZE + table_len > (1ULL << 32))
		return -EINVAL;
	if (len < MPF_SIZE + table_len)
		return -ENOSPC;
	memset(buf, 0, MPF_SIZE + table_len);

	/* Floating pointer: feature byte 1 = 0 (a configuration table follows, no default configuration), byte 2
	 * bit 7 (IMCRP) = 0: virtual wire mode, as there is no IMCR at ports 0x22/0x23. */
	memcpy(mpf, "_MP_", 4);
	le_put32(mpf + 4, (uint32_t)(gpa + MPF_SIZE));
	mpf[8] = 1; /* length in 16-byte units */
	mpf[9] = MP_SPEC_REV;
	mpf[10] = le_checksum(mpf, MPF_SIZE);

	memcpy(mpc, "PCMP", 4);
	le_put16(mpc + 4, (uint16_t)table_len);
	mpc[6] = MP_SPEC_REV;
	memcpy(mpc + 8, MPTABLE_OEM_ID, 8);
	memcpy(mpc + 16, "KVMINI      ", 12); /* product ID */
	le_put16(mpc + 34, (uint16_t)(ncpus + MP_FIXED_ENTRIES));
	le_put32(mpc + 36, (uint32_t)GUEST_LAPIC_ADDR);
	/* No OEM table, no extended entries: their pointers, lengths and checksum stay 0. */

	e = mpc + MPC_HDR_SIZE;
	for (unsigned i = 0; i < ncpus; i++, e += MP_PROC_SIZE) {
		e[0] = MP_PROCESSOR;
		e[1] = (uint8_t)i; /* local APIC ID: KVM gives vCPU i APIC ID i */
		e[2] = MPTABLE_LAPIC_VERSION;
		e[3] = (uint8_t)(MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0));
		le_put32(e + 4, MP_CPU_SIGNATURE);
		le_put32(e + 8, MP_CPU_FEATURES);
	}
	e[0] = MP_BUS;
	e[1] = MP_ISA_BUS_ID;
	memcpy(e + 2, "ISA   ", 6);
	e += MP_ENTRY_SIZE;
	e[0] = MP_IOAPIC;
	e[1] = ioapic_id;
	e[2] = MPTABLE_IOAPIC_VERSION;
	e[3] = MP_IOAPIC_EN;
	le_put32(e + 4, (uint32_t)GUEST_IOAPIC_ADDR);
	e += MP_ENTRY_SIZE;
	/* ISA IRQ n is IOAPIC pin n (KVM's default GSI routing, IRQ 0 included), edge and active-high as ISA
	 * conforms. IRQ 2 is left out: it is the 8259 cascade, no device raises it. */
	for (uint8_t irq = 0; irq < MP_ISA_IRQS; irq++) {
		if (irq != MP_CASCADE_IRQ)
			e = int_entry(e, MP_INTSRC, MP_INT_INT, irq, ioapic_id, irq);
	}
	/* Virtual wire: the 8259s reach every local APIC's LINT0 as ExtINT; NMIs come in on LINT1. */
	e = int_entry(e, MP_LINTSRC, MP_INT_EXTINT, 0, MP_ALL_LAPICS, 0);
	int_entry(e, MP_LINTSRC, MP_INT_NMI, 0, MP_ALL_LAPICS, 1);
	mpc[7] = le_checksum(mpc, table_len);
	return (int)(MPF_SIZE + table_len);
}
