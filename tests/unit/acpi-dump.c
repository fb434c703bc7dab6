/* acpi-dump.c: build kvmini's ACPI tables for a few machine shapes and write each table to a file for iasl. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "firmware/acpi.h"
#include "vmm/layout.h"

struct shape {
	const char *name;
	unsigned ncpus, nvirtio;
};

static const struct shape shapes[] = {
    {"cpu1", 1, 0},
    {"cpu4-virtio2", 4, 2},
    {"cpu64-virtio8", 64, 8},
};

static uint64_t get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Write the table at guest address `at` (its length from its header, or `fixed` if nonzero) to dir/file. */
static int dump(const uint8_t *buf, size_t used, uint64_t at, size_t fixed, const char *dir, const char *file)
{
	char path[512];
	size_t off, len;
	FILE *f;

	if (at < GUEST_ACPI_ADDR || at - GUEST_ACPI_ADDR + 8 > used) {
		fprintf(stderr, "acpi-dump: %s: address 0x%llx is outside the tables\n", file, (unsigned long long)at);
		return -1;
	}
	off = (size_t)(at - GUEST_ACPI_ADDR);
	len = fixed ? fixed : (size_t)get(buf + off + 4, 4);
	if (len > used - off) {
		fprintf(stderr, "acpi-dump: %s: length %zu runs past the end\n", file, len);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "wb");
	if (!f || fwrite(buf + off, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "acpi-dump: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int dump_shape(const struct shape *s, const char *outdir)
{
	uint8_t buf[GUEST_ACPI_SIZE];
	struct acpi_mmio_dev virtio[8];
	struct acpi_config c = {.ncpus = s->ncpus, .virtio = virtio, .nvirtio = s->nvirtio};
	char dir[400];
	uint64_t xsdt, fadt = 0, madt = 0;
	int used, rc = 0;

	for (unsigned i = 0; i < s->nvirtio; i++)
		virtio[i] = (struct acpi_mmio_dev){
		    .base = 0xd0000000 + 0x1000 * i, .size = 0x200, .gsi = 16 + i, .edge = i == 7};
	used = acpi_build(buf, sizeof(buf), GUEST_ACPI_ADDR, &c);
	if (used < 0) {
		fprintf(stderr, "acpi-dump: %s: acpi_build: %s\n", s->name, strerror(-used));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/%s", outdir, s->name);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "acpi-dump: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	xsdt = get(buf + 24, 8);
	rc |= dump(buf, (size_t)used, GUEST_ACPI_ADDR, ACPI_RSDP_SIZE, dir, "rsdp.dat");
	rc |= dump(buf, (size_t)used, xsdt, 0, dir, "xsdt.dat");
	if (rc)
		return -1;
	/* Follow the XSDT's pointers by signature, as a guest would. */
	for (size_t p = xsdt - GUEST_ACPI_ADDR + ACPI_HDR_SIZE;
	     p + 8 <= xsdt - GUEST_ACPI_ADDR + get(buf + xsdt - GUEST_ACPI_ADDR + 4, 4); p += 8) {
		uint64_t t = get(buf + p, 8);

		if (t < GUEST_ACPI_ADDR || t - GUEST_ACPI_ADDR + 4 > (uint64_t)used)
			return -1;
		if (!memcmp(buf + t - GUEST_ACPI_ADDR, "FACP", 4))
			fadt = t;
		else if (!memcmp(buf + t - GUEST_ACPI_ADDR, "APIC", 4))
			madt = t;
	}
	if (!fadt || !madt) {
		fprintf(stderr, "acpi-dump: %s: the XSDT lacks the FADT or the MADT\n", s->name);
		return -1;
	}
	rc |= dump(buf, (size_t)used, fadt, 0, dir, "facp.dat");
	rc |= dump(buf, (size_t)used, madt, 0, dir, "apic.dat");
	rc |= dump(buf, (size_t)used, get(buf + fadt - GUEST_ACPI_ADDR + 140, 8), 0, dir, "dsdt.dat");
	if (!rc)
		printf("acpi-dump: %s: %d bytes of tables\n", s->name, used);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
		return 2;
	}
	if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "acpi-dump: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		rc |= dump_shape(&shapes[i], argv[1]);
	return rc ? 1 : 0;
}
