/* acpi.c: the ACPI tables a hardware-reduced kvmini guest boots with: RSDP, XSDT, FADT, MADT and the DSDT. */
#include "firmware/acpi.h"

#include <errno.h>
#include <string.h>

#include "firmware/aml.h"
#include "firmware/le.h"
#include "vmm/layout.h"

#define OEM_TABLE_ID "KVMINI  "
#define OEM_REVISION 1
#define CREATOR_ID   "KVMI"
#define CREATOR_REV  1

/* RSDP (ACPI 6.x 5.2.5.3) field offsets. */
#define RSDP_CHECKSUM	  8 /* covers the first 20 bytes */
#define RSDP_OEMID	  9
#define RSDP_REVISION	  15
#define RSDP_LENGTH	  20
#define RSDP_XSDT	  24
#define RSDP_EXT_CHECKSUM 32 /* covers all 36 bytes */

#define HDR_LENGTH   4
#define HDR_CHECKSUM 9

/* FADT (5.2.9) field offsets. */
#define FADT_DSDT	     40
#define FADT_PM_PROFILE	     45
#define FADT_SCI_INT	     46
#define FADT_CENTURY	     108
#define FADT_IAPC_BOOT_ARCH  109
#define FADT_FLAGS	     112
#define FADT_RESET_REG	     116
#define FADT_RESET_VALUE     128
#define FADT_MINOR_VERSION   131
#define FADT_X_DSDT	     140
#define FADT_SLEEP_CTL_REG   244
#define FADT_SLEEP_STS_REG   256
#define FADT_HYPERVISOR_ID   268
#define FADT_F_WBINVD	     (1u << 0)
#define FADT_F_PROC_C1	     (1u << 2)
#define FADT_F_PWR_BUTTON    (1u << 4) /* set: no fixed-feature power button (ours is a PNP0C0C device) */
#define FADT_F_SLP_BUTTON    (1u << 5) /* set: no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED    (1u << 20)
#define IAPC_LEGACY_DEVICES  (1u << 0)
#define IAPC_NO_VGA	     (1u << 2)
#define GAS_SYSTEM_IO	     1
#define GAS_ACCESS_BYTE	     1

/* MADT (5.2.12) */
#define MADT_PCAT_COMPAT  1u
#define MADT_LAPIC	  0
#define MADT_IOAPIC	  1
#define MADT_ISO	  2
#define MADT_LAPIC_NMI	  4
#define MADT_LAPIC_LEN	  8
#define MADT_IOAPIC_LEN	  12
#define MADT_ISO_LEN	  10
#define MADT_NMI_LEN	  6
#define MPS_INTI_HIGH	  0x1 /* MPS INTI flags: polarity bits 0-1, trigger mode bits 2-3 */
#define MPS_INTI_LEVEL	  0xc
#define MADT_ALL_CPUS_UID 0xff

#define DSDT_MAX_RT 64 /* bytes of one _CRS resource template */
#define FOUR_GIB    (1ULL << 32)

/* Store the byte that makes p[0..n) sum to zero (mod 256) at p[at]. */
static void set_checksum(uint8_t *p, size_t n, size_t at)
{
	p[at] = 0;
	p[at] = le_checksum(p, n);
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	le_put32(t + HDR_LENGTH, len);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	le_put32(t + 24, OEM_REVISION);
	memcpy(t + 28, CREATOR_ID, 4);
	le_put32(t + 32, CREATOR_REV);
}

static void finish(uint8_t *t)
{
	uint32_t len = (uint32_t)t[HDR_LENGTH] | (uint32_t)t[HDR_LENGTH + 1] << 8 | (uint32_t)t[HDR_LENGTH + 2] << 16 |
		       (uint32_t)t[HDR_LENGTH + 3] << 24;

	set_checksum(t, len, HDR_CHECKSUM);
}

/* A Generic Address Structure for an 8-bit I/O port. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8; /* register bit width */
	g[2] = 0; /* bit offset */
	g[3] = GAS_ACCESS_BYTE;
	le_put64(g + 4, port);
}

/* Claim `size` zeroed bytes at the next 16-byte boundary from *off; NULL if they do not fit. */
static uint8_t *claim(uint8_t *buf, size_t len, size_t *off, size_t size)
{
	size_t at = (*off + 15) & ~(size_t)15;

	if (at > len || size > len - at)
		return NULL;
	memset(buf + *off, 0, at + size - *off); /* the padding too: the output depends on nothing but the config */
	*off = at + size;
	return buf + at;
}

static void build_fadt(uint8_t *t, uint64_t dsdt)
{
	header(t, "FACP", ACPI_FADT_SIZE, ACPI_FADT_REV);
	/* No FACS: hardware-reduced machines have no global lock or firmware waking vector to offer. */
	le_put32(t + FADT_DSDT, (uint32_t)dsdt);
	t[FADT_PM_PROFILE] = 0; /* unspecified */
	le_put16(t + FADT_SCI_INT, IRQ_SCI);
	t[FADT_CENTURY] = ACPI_CENTURY_CMOS;
	/* IAPC_BOOT_ARCH: LEGACY_DEVICES, since COM1 and the RTC sit at their ISA ports; 8042 clear, so Linux
	 * skips probing a keyboard controller we only stub (the reset port still works); VGA Not Present, so
	 * nothing probes a VGA we lack; CMOS RTC Not Present clear: the RTC at 0x70 is real; MSI and ASPM clear:
	 * there is no PCI bus to apply them to. */
	le_put16(t + FADT_IAPC_BOOT_ARCH, IAPC_LEGACY_DEVICES | IAPC_NO_VGA);
	le_put32(t + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON |
				     FADT_F_RESET_REG_SUP | FADT_F_HW_REDUCED);
	gas_io8(t + FADT_RESET_REG, PORT_ACPI_RESET);
	t[FADT_RESET_VALUE] = ACPI_RESET_VALUE;
	t[FADT_MINOR_VERSION] = ACPI_FADT_MINOR;
	le_put64(t + FADT_X_DSDT, dsdt);
	gas_io8(t + FADT_SLEEP_CTL_REG, PORT_ACPI_SLEEP_CTL);
	gas_io8(t + FADT_SLEEP_STS_REG, PORT_ACPI_SLEEP_STS);
	memcpy(t + FADT_HYPERVISOR_ID, "KVMINI\0\0", 8);
	finish(t);
}

static size_t madt_size(unsigned ncpus)
{
	return ACPI_HDR_SIZE + 8 + ncpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN + MADT_ISO_LEN + MADT_NMI_LEN;
}

static void build_madt(uint8_t *t, unsigned ncpus)
{
	uint8_t *e = t + ACPI_HDR_SIZE + 8;

	header(t, "APIC", (uint32_t)madt_size(ncpus), ACPI_MADT_REV);
	le_put32(t + ACPI_HDR_SIZE, (uint32_t)GUEST_LAPIC_ADDR);
	/* PCAT_COMPAT: KVM's in-kernel irqchip does have the two 8259s; the guest must mask them. */
	le_put32(t + ACPI_HDR_SIZE + 4, MADT_PCAT_COMPAT);
	for (unsigned i = 0; i < ncpus; i++, e += MADT_LAPIC_LEN) {
		e[0] = MADT_LAPIC;
		e[1] = MADT_LAPIC_LEN;
		e[2] = (uint8_t)i;  /* ACPI processor UID */
		e[3] = (uint8_t)i;  /* APIC ID: KVM gives vCPU i APIC ID i */
		le_put32(e + 4, 1); /* enabled */
	}
	/* The IOAPIC ID only matters on a serial APIC bus, which an xAPIC machine lacks; still, keep it apart from
	 * every processor's, as the MP spec demands, and equal to the MP table's. GSI base 0: pins are GSIs. */
	e[0] = MADT_IOAPIC;
	e[1] = MADT_IOAPIC_LEN;
	e[2] = ACPI_IOAPIC_ID(ncpus);
	le_put32(e + 4, (uint32_t)GUEST_IOAPIC_ADDR);
	le_put32(e + 8, 0);
	e += MADT_IOAPIC_LEN;
	/* The SCI is level-triggered, active-high on GSI 9. ISA IRQ 0 needs no override: KVM's default routing
	 * sends GSI 0 to IOAPIC pin 0, so every ISA IRQ is its own GSI, edge, active-high. */
	e[0] = MADT_ISO;
	e[1] = MADT_ISO_LEN;
	e[2] = 0; /* bus: ISA */
	e[3] = IRQ_SCI;
	le_put32(e + 4, IRQ_SCI);
	le_put16(e + 8, MPS_INTI_HIGH | MPS_INTI_LEVEL);
	e += MADT_ISO_LEN;
	/* NMI arrives on LINT1 of every processor; flags 0: conforming (edge, active-high for LINT1). */
	e[0] = MADT_LAPIC_NMI;
	e[1] = MADT_NMI_LEN;
	e[2] = MADT_ALL_CPUS_UID;
	le_put16(e + 3, 0);
	e[5] = 1; /* LINT1 */
	finish(t);
}

static void crs_open(struct aml *rt, uint8_t *buf)
{
	aml_init(rt, buf, DSDT_MAX_RT);
}

static void crs_close(struct aml *a, struct aml *rt)
{
	aml_rt_end(rt);
	aml_name(a, "_CRS");
	aml_resource_template(a, rt);
}

static void dsdt_aml(struct aml *a, const struct acpi_config *c)
{
	uint8_t rtbuf[DSDT_MAX_RT];
	static const char hexdig[] = "0123456789ABCDEF";
	struct aml rt;
	size_t sb, dev, m, pkg;

	sb = aml_scope_open(a, "\\_SB");

	dev = aml_device_open(a, "COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501"); /* 16550A-compatible UART */
	aml_name(a, "_UID");
	aml_int(a, 0);
	crs_open(&rt, rtbuf);
	aml_rt_io(&rt, AML_RT_IO_DECODE16, PORT_COM1, PORT_COM1, 1, 8);
	aml_rt_irq_noflags(&rt, 1u << IRQ_COM1);
	crs_close(a, &rt);
	aml_close(a, dev);

	/* The CMOS clock: without it Linux's rtc_cmos finds no device (HW-reduced ACPI registers no legacy one). No
	 * interrupt: devices/cmos.c raises none, so the driver runs without alarms rather than wait on IRQ 8. */
	dev = aml_device_open(a, "RTC0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0B00"); /* AT real-time clock */
	crs_open(&rt, rtbuf);
	aml_rt_io(&rt, AML_RT_IO_DECODE16, PORT_CMOS, PORT_CMOS, 1, 2);
	crs_close(a, &rt);
	aml_close(a, dev);

	dev = aml_device_open(a, "PWRB");
	aml_name(a, "_HID");
	aml_string(a, "PNP0C0C"); /* control-method power button */
	aml_name(a, "_UID");
	aml_int(a, 0);
	aml_close(a, dev);

	/* The Generic Event Device: its one interrupt is the power button, raised as an edge (acpi_pm.h). */
	dev = aml_device_open(a, "GED0");
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_name(a, "_UID");
	aml_int(a, 0);
	crs_open(&rt, rtbuf);
	aml_rt_ext_irq(&rt, AML_IRQ_CONSUMER | AML_IRQ_EDGE, IRQ_GED);
	crs_close(a, &rt);
	m = aml_method_open(a, "_EVT", 1, false); /* Arg0: the GSI; there is only one */
	aml_notify(a, "\\_SB.PWRB", 0x80);	  /* 0x80: the button was pressed */
	aml_close(a, m);
	aml_close(a, dev);

	for (unsigned i = 0; i < c->nvirtio; i++) { /* i < 256: names VR00..VRFF */
		const struct acpi_mmio_dev *d = &c->virtio[i];
		char name[5] = {'V', 'R', hexdig[(i >> 4) & 0xf], hexdig[i & 0xf], 0};

		dev = aml_device_open(a, name);
		aml_name(a, "_HID");
		aml_string(a, "LNRO0005"); /* virtio-mmio */
		aml_name(a, "_UID");
		aml_int(a, i);
		crs_open(&rt, rtbuf);
		aml_rt_mem32_fixed(&rt, AML_RT_MEM_RW, (uint32_t)d->base, d->size);
		aml_rt_ext_irq(&rt, AML_IRQ_CONSUMER | (d->edge ? AML_IRQ_EDGE : 0), d->gsi);
		crs_close(a, &rt);
		aml_close(a, dev);
	}
	aml_close(a, sb);

	/* Soft-off: SLP_TYPa, SLP_TYPb and two reserved elements. */
	aml_name(a, "_S5");
	pkg = aml_package_open(a, 4);
	aml_int(a, ACPI_SLP_TYP_S5);
	aml_int(a, ACPI_SLP_TYP_S5);
	aml_int(a, 0);
	aml_int(a, 0);
	aml_close(a, pkg);
}

static int check_config(const struct acpi_config *c)
{
	if (!c || c->ncpus < 1 || c->ncpus > ACPI_MAX_CPUS || c->nvirtio > ACPI_MAX_VIRTIO ||
	    (c->nvirtio && !c->virtio))
		return -EINVAL;
	for (unsigned i = 0; i < c->nvirtio; i++) {
		const struct acpi_mmio_dev *d = &c->virtio[i];

		if (d->size == 0 || d->base > FOUR_GIB || d->size > FOUR_GIB - d->base || d->gsi >= ACPI_IOAPIC_PINS)
			return -EINVAL;
	}
	return 0;
}

int acpi_build(uint8_t *buf, size_t len, uint64_t gpa, const struct acpi_config *c)
{
	uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
	size_t off = 0, xsdt_len = ACPI_HDR_SIZE + 2 * 8;
	struct aml a;
	int err = check_config(c);

	if (err)
		return err;
	if (!buf || gpa % 16 || gpa >= FOUR_GIB)
		return -EINVAL;
	if (!(rsdp = claim(buf, len, &off, ACPI_RSDP_SIZE)) || !(xsdt = claim(buf, len, &off, xsdt_len)) ||
	    !(fadt = claim(buf, len, &off, ACPI_FADT_SIZE)) || !(madt = claim(buf, len, &off, madt_size(c->ncpus))) ||
	    !(dsdt = claim(buf, len, &off, ACPI_HDR_SIZE)))
		return -ENOSPC;

	aml_init(&a, dsdt + ACPI_HDR_SIZE, len - off);
	dsdt_aml(&a, c);
	if (a.err)
		return a.err;
	off += a.len;
	/* Every pointer below is 32 bits somewhere (the FADT's DSDT): all of it must sit below 4 GiB. */
	if (off > FOUR_GIB - gpa)
		return -EINVAL;
	header(dsdt, "DSDT", (uint32_t)(ACPI_HDR_SIZE + a.len), ACPI_DSDT_REV);
	finish(dsdt);

	build_madt(madt, c->ncpus);
	build_fadt(fadt, gpa + (uint64_t)(dsdt - buf));

	header(xsdt, "XSDT", (uint32_t)xsdt_len, 1);
	le_put64(xsdt + ACPI_HDR_SIZE, gpa + (uint64_t)(fadt - buf));
	le_put64(xsdt + ACPI_HDR_SIZE + 8, gpa + (uint64_t)(madt - buf));
	finish(xsdt);

	/* RSDP revision 2: no RSDT (its address stays 0), the XSDT has every table. */
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + RSDP_OEMID, ACPI_OEM_ID, 6);
	rsdp[RSDP_REVISION] = 2;
	le_put32(rsdp + RSDP_LENGTH, ACPI_RSDP_SIZE);
	le_put64(rsdp + RSDP_XSDT, gpa + (uint64_t)(xsdt - buf));
	set_checksum(rsdp, 20, RSDP_CHECKSUM);
	set_checksum(rsdp, ACPI_RSDP_SIZE, RSDP_EXT_CHECKSUM);
	return (int)off;
}
