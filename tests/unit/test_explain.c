/* test_explain.c: --explain-boot's text for a synthetic bzImage and a PVH image loaded into real guest memory (header
 * fields, placements, ACPI and MP tables read back, E820, registers), and for tables that are missing or lie. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/acpi.h"
#include "firmware/mptable.h"
#include "vmm/boot.h"
#include "vmm/explain.h"
#include "vmm/gmem.h"
#include "vmm/layout.h"

#define MiB	(1ULL << 20)
#define SETUP	((4 + 1) * 512)
#define PAYLOAD 8192

static void put16(uint8_t *b, size_t off, uint16_t v)
{
	memcpy(b + off, &v, 2);
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, 8);
}

/* A protocol 2.15 bzImage with 4 setup sectors and a patterned payload, in a memfd. */
static int bzimage_fd(size_t *len)
{
	static uint8_t b[SETUP + PAYLOAD];
	int fd = memfd_create("bzimage", 0);

	assert_true(fd >= 0);
	memset(b, 0x90, sizeof(b));
	memset(b + 0x1f1, 0, 0x26c - 0x1f1);
	b[0x1f1] = 4;
	put32(b, 0x1f4, PAYLOAD / 16);
	put16(b, 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = 0x6a;
	memcpy(b + 0x202, "HdrS", 4);
	put16(b, 0x206, 0x020f);
	b[0x211] = LOADED_HIGH | CAN_USE_HEAP;
	put32(b, 0x22c, 0x7fffffff);
	put32(b, 0x230, 0x200000);
	b[0x234] = 1;
	put16(b, 0x236, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	put32(b, 0x238, 2047);
	put32(b, 0x248, 0x3a8);	 /* payload_offset */
	put32(b, 0x24c, 0x1234); /* payload_length */
	put64(b, 0x258, 0x1000000);
	put32(b, 0x260, 0x2000000);
	assert_int_equal(write(fd, b, sizeof(b)), (ssize_t)sizeof(b));
	*len = sizeof(b);
	return fd;
}

/* ACPI and MP tables as boot_load writes them, with the plan's record of them. */
static void firmware(struct gmem *m, struct boot_plan *p)
{
	struct acpi_config ac = {.ncpus = 2};
	int n = acpi_build(gmem_ptr(m, GUEST_ACPI_ADDR, GUEST_ACPI_SIZE), GUEST_ACPI_SIZE, GUEST_ACPI_ADDR, &ac);

	assert_true(n > 0);
	p->acpi_addr = GUEST_ACPI_ADDR;
	p->acpi_size = (uint64_t)n;
	n = mptable_build(gmem_ptr(m, GUEST_MPTABLE_ADDR, GUEST_MPTABLE_SIZE), GUEST_MPTABLE_SIZE, GUEST_MPTABLE_ADDR,
			  2);
	assert_true(n > 0);
	p->mptable_addr = GUEST_MPTABLE_ADDR;
	p->mptable_size = (uint64_t)n;
}

static char *explain(const struct kernel_image *k, const struct boot_plan *p, const struct gmem *m,
		     const struct kvm_regs *r, const struct kvm_sregs *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	explain_boot(f, k, p, m, r, s);
	fclose(f);
	return text;
}

static void has(const char *text, const char *want)
{
	if (!strstr(text, want)) {
		fputs(text, stderr); /* cmocka cuts long messages: the whole text goes first */
		fail_msg("missing \"%s\" in the explanation above", want);
	}
}

static void test_bzimage(void **state)
{
	struct kernel_image *k = calloc(1, sizeof(*k));
	struct gmem m;
	struct boot_plan p;
	struct kvm_regs r = {.rip = 0x100200, .rsi = 0x7000, .rflags = 2};
	struct kvm_sregs s = {.cr0 = 0x80050033, .cr3 = 0x9000, .cr4 = 0x20, .efer = 0x500};
	const char *why = NULL;
	size_t len;
	int kfd = bzimage_fd(&len), ifd = memfd_create("initrd", 0);
	uint8_t hdr[SETUP];
	char *text;

	(void)state;
	assert_non_null(k);
	assert_true(ifd >= 0);
	assert_int_equal(ftruncate(ifd, 100000), 0);
	assert_int_equal(pread(kfd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	assert_int_equal(bzimage_parse(&k->bz, hdr, sizeof(hdr), len, &why), 0);
	k->kind = KERNEL_BZIMAGE;
	assert_int_equal(gmem_init(&m, 128 * MiB), 0);
	assert_int_equal(bzimage_load(&k->bz, &m, kfd, ifd, 100000, "console=ttyS0 quiet", &p, &why), 0);
	firmware(&m, &p);
	s.cs = (struct kvm_segment){.selector = 0x10, .limit = 0xffffffff, .type = 0xb, .l = 1, .present = 1};
	s.ds = (struct kvm_segment){.selector = 0x18, .limit = 0xffffffff, .type = 0x3, .db = 1, .present = 1};
	s.gdt.base = 0x500;
	s.gdt.limit = 0x1f;
	text = explain(k, &p, &m, &r, &s);
	/* The header fields, as read. */
	has(text, "a bzImage, boot protocol 2.15");
	has(text, "setup_sects      4: 2560 bytes of real-mode setup code");
	has(text, "loadflags        0x81 (LOADED_HIGH CAN_USE_HEAP)");
	has(text, "xloadflags       0x0003 (XLF_KERNEL_64 XLF_CAN_BE_LOADED_ABOVE_4G)");
	has(text, "pref_address     0x1000000");
	has(text, "init_size        0x2000000");
	has(text, "kernel_alignment 0x200000, relocatable_kernel 1");
	has(text, "cmdline_size     2047");
	has(text, "initrd_addr_max  0x7fffffff");
	has(text, "payload          offset 0x3a8, length 0x1234");
	has(text, "file offset 0xa00, 8192 bytes, copied to 0x100000; entered at its 64-bit entry");
	/* Where things went. */
	has(text, "0x00000500-0x0000051f  boot GDT");
	has(text, "0x00007000-0x00007fff  zero page");
	has(text, "0x00009000-0x0000efff  identity page tables");
	has(text, "0x00020000-0x00020013  command line, 19 bytes: \"console=ttyS0 quiet\"");
	has(text, "RSDP  0x000e0000     36 bytes  (revision 2");
	has(text, "XSDT  0x000e");
	has(text, "FACP  0x000e");
	has(text, "APIC  0x000e");
	has(text, "DSDT  0x000e");
	has(text, "_MP_  0x000f0000     16 bytes");
	has(text, "PCMP  0x000f0010");
	has(text, "0x00100000-0x02ffffff  kernel"); /* init_size bytes from pref_address */
	has(text, "initrd, as high in low RAM");
	/* The map the kernel reads, and the registers. */
	has(text, "E820 memory map (in the zero page, 3 entries)");
	has(text, "0x0000000000100000-0x0000000007ffffff  RAM");
	has(text, "vCPU 0 starts in long mode");
	has(text, "rip 0x100200  rsi 0x7000");
	has(text, "cr0 0x80050033 (PE MP ET NE WP AM PG)  cr3 0x9000  cr4 0x20 (PAE)  efer 0x500 (LME LMA)");
	has(text, "cs  0x0010 base 0x0 limit 0xffffffff type 0xb l 1 db 0");
	has(text, "gdt base 0x500 limit 0x1f");
	free(text);

	/* Without registers (no vCPU yet): the rest is the same, no register block. */
	text = explain(k, &p, &m, NULL, NULL);
	has(text, "a bzImage");
	assert_null(strstr(text, "vCPU 0"));
	free(text);
	gmem_destroy(&m);
	close(kfd);
	close(ifd);
	free(k);
}

static void test_pvh(void **state)
{
	struct kernel_image *k = calloc(1, sizeof(*k));
	struct gmem m;
	struct boot_plan p;
	const char *why = NULL;
	int kfd = memfd_create("vmlinux", 0);
	char *text;

	(void)state;
	assert_non_null(k);
	assert_int_equal(ftruncate(kfd, 8192), 0);
	k->kind = KERNEL_PVH;
	k->pvh.entry = 0x1000010;
	k->pvh.nseg = 1;
	k->pvh.seg[0].off = 0;
	k->pvh.seg[0].filesz = 8192;
	k->pvh.seg[0].paddr = 0x1000000;
	k->pvh.seg[0].memsz = 0x10000;
	k->pvh.lo = 0x1000000;
	k->pvh.hi = 0x1010000;
	assert_int_equal(gmem_init(&m, 64 * MiB), 0);
	assert_int_equal(pvh_load(&k->pvh, &m, kfd, -1, 0, "console=ttyS0", &p, &why), 0);
	firmware(&m, &p);
	text = explain(k, &p, &m, NULL, NULL);
	has(text, "an ELF vmlinux with a PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY) at 0x1000010");
	has(text, "PT_LOAD 0: file offset 0x0, 8192 bytes -> 0x1000000-0x100ffff (65536 bytes in RAM");
	has(text, "0x00006000-0x00006fff  hvm_start_info (EBX points here)");
	has(text, "memory map (hvm_start_info's, 3 entries)");
	has(text, "0x0000000000100000-0x0000000003ffffff  RAM");
	assert_null(strstr(text, "zero page"));
	assert_null(strstr(text, "page tables"));
	free(text);
	gmem_destroy(&m);
	close(kfd);
	free(k);
}

/* Tables that are missing or lie: said so, and nothing is read outside guest RAM. */
static void test_bad_tables(void **state)
{
	struct kernel_image *k = calloc(1, sizeof(*k));
	struct gmem m;
	struct boot_plan p = {0};
	uint8_t *rsdp, *xsdt;
	char *text;

	(void)state;
	assert_non_null(k);
	k->kind = KERNEL_FLAT;
	assert_int_equal(gmem_init(&m, 64 * MiB), 0);
	p.kernel_addr = 0x7c00;
	p.kernel_end = 0x7c00 + 512;
	p.acpi_addr = GUEST_ACPI_ADDR;
	p.acpi_size = 64;
	p.mptable_addr = GUEST_MPTABLE_ADDR;
	p.mptable_size = 16;
	text = explain(k, &p, &m, NULL, NULL);
	has(text, "a flat binary, 512 bytes at 0x7c00");
	has(text, "no RSDP at 0xe0000");
	has(text, "no MP floating pointer at 0xf0000");
	has(text, "memory map: none handed over");
	free(text);

	/* An RSDP whose XSDT is in the MMIO hole; then an XSDT that lists a table beyond RAM and claims a huge
	 * length. */
	rsdp = gmem_ptr(&m, GUEST_ACPI_ADDR, 36);
	memcpy(rsdp, "RSD PTR ", 8);
	rsdp[15] = 2;
	put64(rsdp, 24, GUEST_MMIO_HOLE);
	text = explain(k, &p, &m, NULL, NULL);
	has(text, "at 0xc0000000: outside RAM");
	free(text);
	put64(rsdp, 24, GUEST_ACPI_ADDR + 0x40);
	xsdt = gmem_ptr(&m, GUEST_ACPI_ADDR + 0x40, 52);
	memcpy(xsdt, "XSDT", 4);
	put32(xsdt, 4, 52);
	put64(xsdt, 36, 1ULL << 40);
	put64(xsdt, 44, GUEST_ACPI_ADDR + 0x40); /* itself */
	text = explain(k, &p, &m, NULL, NULL);
	has(text, "at 0x10000000000: outside RAM");
	free(text);
	put32(xsdt, 4, 0xfffffff0);
	text = explain(k, &p, &m, NULL, NULL);
	has(text, "XSDT  0x000e0040  4294967280 bytes");
	free(text);
	gmem_destroy(&m);
	free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bzimage),
	    cmocka_unit_test(test_pvh),
	    cmocka_unit_test(test_bad_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
