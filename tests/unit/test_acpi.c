/* test_acpi.c: the AML encoder against bytes iasl compiled, the ACPI tables' sums, lengths, pointers and contents,
 * and the MP table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/acpi.h"
#include "firmware/aml.h"
#include "firmware/mptable.h"
#include "vmm/layout.h"

#define countof(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Vectors: `iasl -on` (no namepath shortening) output, the DefinitionBlock header cut off. iasl writes 0 as
 * every End Tag checksum ("treated as valid"), so the tests zero ours before comparing.
 */

/* Name (I0, 0) ... Name (I9, 0xFFFFFFFFFFFFFFFF), Name (IA, 0xFFFFFFFFFFFFFFFE), Name (_S5, Package (4) {5, 5,
 * 0, 0}), Name (S0, "PNP0C0C"), Name (S1, ""), Name (E0, EisaId ("PNP0501")), E1 "PNP0C0C", E2 "ABC12EF". */
static const uint64_t names_ints_values[] = {0,	      1,	  2,	      0xff,	  0x100,	 0xffff,
					     0x10000, 0xffffffff, 1ULL << 32, UINT64_MAX, UINT64_MAX - 1};
static const uint8_t iasl_names_ints[] = {
    0x08, 0x49, 0x30, 0x5f, 0x5f, 0x00, 0x08, 0x49, 0x31, 0x5f, 0x5f, 0x01, 0x08, 0x49, 0x32, 0x5f, 0x5f, 0x0a,
    0x02, 0x08, 0x49, 0x33, 0x5f, 0x5f, 0x0a, 0xff, 0x08, 0x49, 0x34, 0x5f, 0x5f, 0x0b, 0x00, 0x01, 0x08, 0x49,
    0x35, 0x5f, 0x5f, 0x0b, 0xff, 0xff, 0x08, 0x49, 0x36, 0x5f, 0x5f, 0x0c, 0x00, 0x00, 0x01, 0x00, 0x08, 0x49,
    0x37, 0x5f, 0x5f, 0x0c, 0xff, 0xff, 0xff, 0xff, 0x08, 0x49, 0x38, 0x5f, 0x5f, 0x0e, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x08, 0x49, 0x39, 0x5f, 0x5f, 0xff, 0x08, 0x49, 0x41, 0x5f, 0x5f, 0x0e, 0xfe, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05,
    0x00, 0x00, 0x08, 0x53, 0x30, 0x5f, 0x5f, 0x0d, 0x50, 0x4e, 0x50, 0x30, 0x43, 0x30, 0x43, 0x00, 0x08, 0x53,
    0x31, 0x5f, 0x5f, 0x0d, 0x00, 0x08, 0x45, 0x30, 0x5f, 0x5f, 0x0c, 0x41, 0xd0, 0x05, 0x01, 0x08, 0x45, 0x31,
    0x5f, 0x5f, 0x0c, 0x41, 0xd0, 0x0c, 0x0c, 0x08, 0x45, 0x32, 0x5f, 0x5f, 0x0c, 0x04, 0x43, 0x12, 0xef,
};

/* Scope (\_SB) { Device (A) { Name (_ADR, 0) Device (B) { Name (_ADR, 0) Device (C) { Name (_ADR, 0)
 *   Method (M, 2, Serialized) { Notify (^^^B, 1) Notify (\_SB.A.B.C, 2) Notify (^^C, 3) Notify (^^^^A, Arg0)
 *   Notify (C, Arg1) Notify (\, 0x1234) } } } } } */
static const uint8_t iasl_paths[] = {
    0x10, 0x47, 0x07, 0x5c, 0x5f, 0x53, 0x42, 0x5f, 0x5b, 0x82, 0x4e, 0x06, 0x41, 0x5f, 0x5f, 0x5f, 0x08, 0x5f,
    0x41, 0x44, 0x52, 0x00, 0x5b, 0x82, 0x40, 0x06, 0x42, 0x5f, 0x5f, 0x5f, 0x08, 0x5f, 0x41, 0x44, 0x52, 0x00,
    0x5b, 0x82, 0x42, 0x05, 0x43, 0x5f, 0x5f, 0x5f, 0x08, 0x5f, 0x41, 0x44, 0x52, 0x00, 0x14, 0x45, 0x04, 0x4d,
    0x5f, 0x5f, 0x5f, 0x0a, 0x86, 0x5e, 0x5e, 0x5e, 0x42, 0x5f, 0x5f, 0x5f, 0x01, 0x86, 0x5c, 0x2f, 0x04, 0x5f,
    0x53, 0x42, 0x5f, 0x41, 0x5f, 0x5f, 0x5f, 0x42, 0x5f, 0x5f, 0x5f, 0x43, 0x5f, 0x5f, 0x5f, 0x0a, 0x02, 0x86,
    0x5e, 0x5e, 0x43, 0x5f, 0x5f, 0x5f, 0x0a, 0x03, 0x86, 0x5e, 0x5e, 0x5e, 0x5e, 0x41, 0x5f, 0x5f, 0x5f, 0x68,
    0x86, 0x43, 0x5f, 0x5f, 0x5f, 0x69, 0x86, 0x5c, 0x00, 0x0b, 0x34, 0x12,
};

/* Name (R0, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveLow, Shared) {0x12345678} })
 * Name (R1, ResourceTemplate () { Interrupt (ResourceProducer, Edge, ActiveLow, Exclusive) {7} })
 * Name (R2, ResourceTemplate () { Memory32Fixed (ReadOnly, 0x12345678, 0x9ABCDEF0)
 *                                IO (Decode16, 0x1234, 0x5678, 0x02, 0xBC) IRQNoFlags () {0, 15} }) */
static const uint8_t iasl_templates[] = {
    0x08, 0x52, 0x30, 0x5f, 0x5f, 0x11, 0x0e, 0x0a, 0x0b, 0x89, 0x06, 0x00, 0x0d, 0x01, 0x78, 0x56, 0x34, 0x12, 0x79,
    0x00, 0x08, 0x52, 0x31, 0x5f, 0x5f, 0x11, 0x0e, 0x0a, 0x0b, 0x89, 0x06, 0x00, 0x06, 0x01, 0x07, 0x00, 0x00, 0x00,
    0x79, 0x00, 0x08, 0x52, 0x32, 0x5f, 0x5f, 0x11, 0x1c, 0x0a, 0x19, 0x86, 0x09, 0x00, 0x00, 0x78, 0x56, 0x34, 0x12,
    0xf0, 0xde, 0xbc, 0x9a, 0x47, 0x01, 0x34, 0x12, 0x78, 0x56, 0x02, 0xbc, 0x22, 0x01, 0x80, 0x79, 0x00,
};

/* The DSDT body kvmini means to build, with two virtio devices, compiled from this ASL:
 *   Scope (\_SB) {
 *     Device (COM1) { Name (_HID, EisaId ("PNP0501")) Name (_UID, Zero) Name (_CRS, ResourceTemplate () {
 *       IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08) IRQNoFlags () {4} }) }
 *     Device (RTC0) { Name (_HID, EisaId ("PNP0B00")) Name (_CRS, ResourceTemplate () {
 *       IO (Decode16, 0x0070, 0x0070, 0x01, 0x02) }) }
 *     Device (PWRB) { Name (_HID, "PNP0C0C") Name (_UID, Zero) }
 *     Device (GED0) { Name (_HID, "ACPI0013") Name (_UID, Zero) Name (_CRS, ResourceTemplate () {
 *       Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) {5} })
 *       Method (_EVT, 1, NotSerialized) { Notify (\_SB.PWRB, 0x80) } }
 *     Device (VR00) { Name (_HID, "LNRO0005") Name (_UID, 0) Name (_CRS, ResourceTemplate () {
 *       Memory32Fixed (ReadWrite, 0xD0000000, 0x200) Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) {16} }) }
 *     Device (VR01) { ... _UID 1, Memory32Fixed (ReadWrite, 0xFEB00000, 0x1000), Interrupt (..., Edge, ...) {23} }
 *   }
 *   Name (_S5, Package (4) {5, 5, 0, 0}) */
static const uint8_t iasl_dsdt_body[] = {
    0x10, 0x40, 0x13, 0x5c, 0x5f, 0x53, 0x42, 0x5f, 0x5b, 0x82, 0x2b, 0x43, 0x4f, 0x4d, 0x31, 0x08, 0x5f, 0x48, 0x49,
    0x44, 0x0c, 0x41, 0xd0, 0x05, 0x01, 0x08, 0x5f, 0x55, 0x49, 0x44, 0x00, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x10,
    0x0a, 0x0d, 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00, 0x5b, 0x82, 0x22, 0x52,
    0x54, 0x43, 0x30, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x0b, 0x00, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11,
    0x0d, 0x0a, 0x0a, 0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02, 0x79, 0x00, 0x5b, 0x82, 0x19, 0x50, 0x57, 0x52,
    0x42, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x50, 0x4e, 0x50, 0x30, 0x43, 0x30, 0x43, 0x00, 0x08, 0x5f, 0x55, 0x49,
    0x44, 0x00, 0x5b, 0x82, 0x43, 0x04, 0x47, 0x45, 0x44, 0x30, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x41, 0x43, 0x50,
    0x49, 0x30, 0x30, 0x31, 0x33, 0x00, 0x08, 0x5f, 0x55, 0x49, 0x44, 0x00, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x0e,
    0x0a, 0x0b, 0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x00, 0x14, 0x13, 0x5f, 0x45, 0x56, 0x54,
    0x01, 0x86, 0x5c, 0x2e, 0x5f, 0x53, 0x42, 0x5f, 0x50, 0x57, 0x52, 0x42, 0x0a, 0x80, 0x5b, 0x82, 0x3a, 0x56, 0x52,
    0x30, 0x30, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x4c, 0x4e, 0x52, 0x4f, 0x30, 0x30, 0x30, 0x35, 0x00, 0x08, 0x5f,
    0x55, 0x49, 0x44, 0x00, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1a, 0x0a, 0x17, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00,
    0x00, 0xd0, 0x00, 0x02, 0x00, 0x00, 0x89, 0x06, 0x00, 0x01, 0x01, 0x10, 0x00, 0x00, 0x00, 0x79, 0x00, 0x5b, 0x82,
    0x3a, 0x56, 0x52, 0x30, 0x31, 0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x4c, 0x4e, 0x52, 0x4f, 0x30, 0x30, 0x30, 0x35,
    0x00, 0x08, 0x5f, 0x55, 0x49, 0x44, 0x01, 0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1a, 0x0a, 0x17, 0x86, 0x09, 0x00,
    0x01, 0x00, 0x00, 0xb0, 0xfe, 0x00, 0x10, 0x00, 0x00, 0x89, 0x06, 0x00, 0x03, 0x01, 0x17, 0x00, 0x00, 0x00, 0x79,
    0x00, 0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00,
};

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* End a template the way iasl does: our End Tag checksum must make it sum to 0; then zero it like iasl. */
static void rt_end_iasl(struct aml *rt)
{
	aml_rt_end(rt);
	assert_int_equal(rt->err, 0);
	assert_int_equal(rt->buf[rt->len - 2], 0x79);
	assert_int_equal(sum8(rt->buf, rt->len), 0);
	rt->buf[rt->len - 1] = 0;
}

/* ---- AML encoder ---- */

static void test_pkglen_encode(void **state)
{
	static const struct {
		size_t v;
		int n;
		uint8_t b[4];
	} c[] = {
	    {0, 1, {0x00}},
	    {63, 1, {0x3f}},
	    {64, 2, {0x40, 0x04}},
	    {4095, 2, {0x4f, 0xff}},
	    {4096, 3, {0x80, 0x00, 0x01}},
	    {0xfffff, 3, {0x8f, 0xff, 0xff}},
	    {0x100000, 4, {0xc0, 0x00, 0x00, 0x01}},
	    {AML_PKGLEN_MAX, 4, {0xcf, 0xff, 0xff, 0xff}},
	};
	uint8_t out[4];

	(void)state;
	for (size_t i = 0; i < countof(c); i++) {
		memset(out, 0xee, sizeof(out));
		assert_int_equal(aml_pkglen_encode(out, c[i].v), c[i].n);
		assert_memory_equal(out, c[i].b, (size_t)c[i].n);
	}
	assert_int_equal(aml_pkglen_encode(out, AML_PKGLEN_MAX + 1), -EINVAL);
}

/* aml_close picks the encoding that fits the body plus the PkgLength itself, and moves the body up to fit. */
static void test_pkg_close_boundaries(void **state)
{
	static const struct {
		size_t body;
		int n;
		size_t value;
	} c[] = {{0, 1, 1}, {62, 1, 63}, {63, 2, 65}, {4093, 2, 4095}, {4094, 3, 4097}};
	uint8_t buf[8192], body[8192];
	struct aml a;
	uint8_t enc[4];

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < countof(c); i++) {
		aml_init(&a, buf, sizeof(buf));
		size_t m = aml_pkg_open(&a);
		aml_bytes(&a, body, c[i].body);
		aml_close(&a, m);
		assert_int_equal(a.err, 0);
		assert_int_equal(a.len, (size_t)c[i].n + c[i].body);
		assert_int_equal(aml_pkglen_encode(enc, c[i].value), c[i].n);
		assert_memory_equal(buf, enc, (size_t)c[i].n);
		assert_memory_equal(buf + c[i].n, body, c[i].body);
	}
}

/* Buffers whose PkgLength lands on 63 / 65 (2 bytes) / 4095 / 4097 (3 bytes), as iasl encodes them. */
static void test_buffer_pkglen_vs_iasl(void **state)
{
	static const struct {
		size_t n;
		uint8_t head[8];
		size_t head_len;
	} c[] = {{60, {0x11, 0x3f, 0x0a, 0x3c}, 4},
		 {61, {0x11, 0x41, 0x04, 0x0a, 0x3d}, 5},
		 {4090, {0x11, 0x4f, 0xff, 0x0b, 0xfa, 0x0f}, 6},
		 {4091, {0x11, 0x81, 0x00, 0x01, 0x0b, 0xfb, 0x0f}, 7}};
	uint8_t buf[8192], data[4096];
	struct aml a;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	for (size_t i = 0; i < countof(c); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_buffer(&a, data, c[i].n);
		assert_int_equal(a.err, 0);
		assert_int_equal(a.len, c[i].head_len + c[i].n);
		assert_memory_equal(buf, c[i].head, c[i].head_len);
		assert_memory_equal(buf + c[i].head_len, data, c[i].n);
	}
}

static void test_names_ints_vs_iasl(void **state)
{
	static const char *const eisa[] = {"PNP0501", "PNP0C0C", "ABC12EF"};
	uint8_t buf[512];
	struct aml a;
	size_t m;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	for (size_t i = 0; i < countof(names_ints_values); i++) {
		char name[3] = {'I', (char)(i < 10 ? '0' + i : 'A' + i - 10), 0};

		aml_name(&a, name);
		aml_int(&a, names_ints_values[i]);
	}
	aml_name(&a, "_S5");
	m = aml_package_open(&a, 4);
	aml_int(&a, 5);
	aml_int(&a, 5);
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_close(&a, m);
	aml_name(&a, "S0");
	aml_string(&a, "PNP0C0C");
	aml_name(&a, "S1");
	aml_string(&a, "");
	for (size_t i = 0; i < countof(eisa); i++) {
		char name[3] = {'E', (char)('0' + i), 0};

		aml_name(&a, name);
		aml_eisaid(&a, eisa[i]);
	}
	assert_int_equal(a.err, 0);
	assert_int_equal(a.len, sizeof(iasl_names_ints));
	assert_memory_equal(buf, iasl_names_ints, sizeof(iasl_names_ints));
}

/* Root, parent, single, dual and multi-segment NameStrings, nested scopes, a serialized method. */
static void test_paths_vs_iasl(void **state)
{
	uint8_t buf[512];
	struct aml a;
	size_t sb, da, db, dc, m;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	sb = aml_scope_open(&a, "\\_SB");
	da = aml_device_open(&a, "A");
	aml_name(&a, "_ADR");
	aml_int(&a, 0);
	db = aml_device_open(&a, "B");
	aml_name(&a, "_ADR");
	aml_int(&a, 0);
	dc = aml_device_open(&a, "C");
	aml_name(&a, "_ADR");
	aml_int(&a, 0);
	m = aml_method_open(&a, "M", 2, true);
	aml_notify(&a, "^^^B", 1);
	aml_notify(&a, "\\_SB.A.B.C", 2);
	aml_notify(&a, "^^C", 3);
	aml_byte(&a, AML_NOTIFY_OP);
	aml_namestring(&a, "^^^^A");
	aml_byte(&a, 0x68); /* Arg0 */
	aml_byte(&a, AML_NOTIFY_OP);
	aml_namestring(&a, "C");
	aml_byte(&a, 0x69); /* Arg1 */
	aml_notify(&a, "\\", 0x1234);
	aml_close(&a, m);
	aml_close(&a, dc);
	aml_close(&a, db);
	aml_close(&a, da);
	aml_close(&a, sb);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.len, sizeof(iasl_paths));
	assert_memory_equal(buf, iasl_paths, sizeof(iasl_paths));
}

static void test_templates_vs_iasl(void **state)
{
	uint8_t buf[256], rtbuf[64];
	struct aml a, rt;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	aml_name(&a, "R0");
	aml_init(&rt, rtbuf, sizeof(rtbuf));
	aml_rt_ext_irq(&rt, AML_IRQ_CONSUMER | AML_IRQ_ACTIVE_LOW | AML_IRQ_SHARED, 0x12345678);
	rt_end_iasl(&rt);
	aml_resource_template(&a, &rt);
	aml_name(&a, "R1");
	aml_init(&rt, rtbuf, sizeof(rtbuf));
	aml_rt_ext_irq(&rt, AML_IRQ_EDGE | AML_IRQ_ACTIVE_LOW, 7);
	rt_end_iasl(&rt);
	aml_resource_template(&a, &rt);
	aml_name(&a, "R2");
	aml_init(&rt, rtbuf, sizeof(rtbuf));
	aml_rt_mem32_fixed(&rt, 0, 0x12345678, 0x9abcdef0);
	aml_rt_io(&rt, AML_RT_IO_DECODE16, 0x1234, 0x5678, 2, 0xbc);
	aml_rt_irq_noflags(&rt, 1u << 0 | 1u << 15);
	rt_end_iasl(&rt);
	aml_resource_template(&a, &rt);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.len, sizeof(iasl_templates));
	assert_memory_equal(buf, iasl_templates, sizeof(iasl_templates));
}

static void test_namestring_forms(void **state)
{
	static const struct {
		const char *path;
		const char *aml;
		size_t len;
	} ok[] = {
	    {"_SB", "_SB_", 4},
	    {"\\", "\\\0", 2},
	    {"", "\0", 1},
	    {"^^X1", "^^X1__", 6},
	    {"\\_SB.PWRB", "\\._SB_PWRB", 10},
	    {"A.B.C.D", "/\004A___B___C___D___", 18},
	};
	static const char *const bad[] = {"abcd", "ABCDE", "1ABC", "A..B", "A.", ".A", "\\^A", "A^", "A-B", "\\\\A"};
	uint8_t buf[64];
	struct aml a;

	(void)state;
	for (size_t i = 0; i < countof(ok); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_namestring(&a, ok[i].path);
		assert_int_equal(a.err, 0);
		assert_int_equal(a.len, ok[i].len);
		assert_memory_equal(buf, ok[i].aml, ok[i].len);
	}
	for (size_t i = 0; i < countof(bad); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_namestring(&a, bad[i]);
		assert_int_equal(a.err, -EINVAL);
		/* Sticky: nothing more is written. */
		size_t len = a.len;
		aml_int(&a, 7);
		assert_int_equal(a.len, len);
	}
}

static void test_eisaid(void **state)
{
	static const char *const bad[] = {"PNP050", "PNP05011", "pNP0501", "PNP0G01", "P@P0501", ""};
	uint32_t v;

	(void)state;
	assert_int_equal(aml_eisaid_value("PNP0501", &v), 0);
	assert_int_equal(v, 0x0105d041);
	assert_int_equal(aml_eisaid_value("PNP0C0C", &v), 0);
	assert_int_equal(v, 0x0c0cd041);
	assert_int_equal(aml_eisaid_value("ZZZffff", &v), 0);
	assert_int_equal(v, 0xffff5a6b);
	for (size_t i = 0; i < countof(bad); i++)
		assert_int_equal(aml_eisaid_value(bad[i], &v), -EINVAL);
}

/* A device with a resource template around a 4091-byte buffer: three nested scopes, the inner ones growing
 * their PkgLength to 2 and 3 bytes when they close. */
static void build_sample(struct aml *a, const struct aml *rt, const uint8_t *data)
{
	size_t d = aml_device_open(a, "DEV0");

	aml_name(a, "_CRS");
	aml_resource_template(a, rt);
	aml_name(a, "BUF0");
	aml_buffer(a, data, 4091);
	aml_close(a, d);
}

/* Every buffer smaller than the result fails with -ENOSPC, never writing past its end (ASan watches each
 * exact-size heap copy); one exactly large enough succeeds. */
static void test_aml_enospc(void **state)
{
	uint8_t rtbuf[64], full[4200], data[4091] = {1, 2, 3};
	struct aml a, rt;
	size_t need;

	(void)state;
	aml_init(&rt, rtbuf, sizeof(rtbuf));
	aml_rt_mem32_fixed(&rt, AML_RT_MEM_RW, 0x1000, 0x200);
	aml_rt_end(&rt);
	aml_init(&a, full, sizeof(full));
	build_sample(&a, &rt, data);
	assert_int_equal(a.err, 0);
	need = a.len;
	for (size_t cap = 0; cap <= need; cap++) {
		uint8_t *p = malloc(cap ? cap : 1);

		assert_non_null(p);
		aml_init(&a, p, cap);
		build_sample(&a, &rt, data);
		assert_true(a.len <= cap);
		assert_int_equal(a.err, cap < need ? -ENOSPC : 0);
		if (cap == need)
			assert_memory_equal(p, full, need);
		free(p);
	}
	/* A full resource template writer passes its error on. */
	aml_init(&rt, rtbuf, 3);
	aml_rt_io(&rt, AML_RT_IO_DECODE16, 1, 1, 1, 1);
	aml_init(&a, full, sizeof(full));
	aml_resource_template(&a, &rt);
	assert_int_equal(a.err, -ENOSPC);
}

static void test_aml_bad_args(void **state)
{
	uint8_t buf[64];
	struct aml a;

	(void)state;
	aml_init(&a, buf, sizeof(buf));
	aml_method_open(&a, "M", 8, false);
	assert_int_equal(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_package_open(&a, 256);
	assert_int_equal(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_rt_ext_irq(&a, 0x10, 5);
	assert_int_equal(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "caf\xc3\xa9");
	assert_int_equal(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_close(&a, 0); /* no scope was opened */
	assert_int_equal(a.err, -EINVAL);
}

/* ---- ACPI tables ---- */

#define GPA GUEST_ACPI_ADDR

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
};

/* A table at guest address `at`: inside [0, used), its length inside too, its checksum right, its signature. */
static const uint8_t *table_at(const uint8_t *buf, int used, uint64_t at, const char *sig)
{
	const uint8_t *t;

	assert_true(at >= GPA && at - GPA + ACPI_HDR_SIZE <= (uint64_t)used);
	assert_int_equal(at % 16, 0);
	t = buf + (at - GPA);
	assert_memory_equal(t, sig, 4);
	assert_true(le(t + 4, 4) >= ACPI_HDR_SIZE && at - GPA + le(t + 4, 4) <= (uint64_t)used);
	assert_int_equal(sum8(t, le(t + 4, 4)), 0);
	assert_memory_equal(t + 10, "KVMINI", 6);
	return t;
}

/* Build for (ncpus, virtio) and follow the pointers the way a guest does, checking each table on the way. */
static int build(uint8_t *buf, size_t len, unsigned ncpus, const struct acpi_mmio_dev *v, unsigned nv, struct tables *t)
{
	struct acpi_config c = {.ncpus = ncpus, .virtio = v, .nvirtio = nv};
	int used = acpi_build(buf, len, GPA, &c);

	assert_true(used > 0 && (size_t)used <= len);
	t->rsdp = buf;
	assert_memory_equal(buf, "RSD PTR ", 8);
	assert_int_equal(sum8(buf, 20), 0);
	assert_int_equal(sum8(buf, ACPI_RSDP_SIZE), 0);
	assert_int_equal(buf[15], 2);
	assert_int_equal(le(buf + 20, 4), ACPI_RSDP_SIZE);
	assert_memory_equal(buf + 9, "KVMINI", 6);
	t->xsdt = table_at(buf, used, le(buf + 24, 8), "XSDT");
	assert_int_equal(le(t->xsdt + 4, 4), ACPI_HDR_SIZE + 2 * 8);
	t->fadt = table_at(buf, used, le(t->xsdt + ACPI_HDR_SIZE, 8), "FACP");
	t->madt = table_at(buf, used, le(t->xsdt + ACPI_HDR_SIZE + 8, 8), "APIC");
	t->dsdt = table_at(buf, used, le(t->fadt + 140, 8), "DSDT");
	/* The last table ends exactly where the used bytes do. */
	assert_int_equal(t->dsdt - buf + (long)le(t->dsdt + 4, 4), used);
	return used;
}

static void assert_gas_io8(const uint8_t *g, uint16_t port)
{
	static const uint8_t head[4] = {1, 8, 0, 1}; /* SystemIO, 8 bits, offset 0, byte access */

	assert_memory_equal(g, head, 4);
	assert_int_equal(le(g + 4, 8), port);
}

static void test_acpi_fadt(void **state)
{
	uint8_t buf[GUEST_ACPI_SIZE];
	struct tables t;
	const uint8_t *f;

	(void)state;
	build(buf, sizeof(buf), 1, NULL, 0, &t);
	f = t.fadt;
	assert_int_equal(le(f + 4, 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(le(f + 36, 4), 0);  /* no FACS */
	assert_int_equal(le(f + 132, 8), 0); /* nor X_FIRMWARE_CTRL */
	assert_int_equal(le(f + 40, 4), le(f + 140, 8));
	assert_int_equal(le(f + 46, 2), IRQ_SCI);
	uint32_t flags = (uint32_t)le(f + 112, 4);
	assert_true(flags & (1u << 20)); /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
	assert_true(flags & (1u << 4));	 /* no fixed power button: ours is PNP0C0C */
	uint16_t boot = (uint16_t)le(f + 109, 2);
	assert_false(boot & (1u << 1)); /* no 8042 */
	assert_true(boot & (1u << 2));	/* no VGA */
	assert_false(boot & (1u << 5)); /* the CMOS RTC exists */
	assert_int_equal(f[108], 0x32); /* century register */
	assert_gas_io8(f + 116, PORT_ACPI_RESET);
	assert_int_equal(f[128], ACPI_RESET_VALUE);
	assert_gas_io8(f + 244, PORT_ACPI_SLEEP_CTL);
	assert_gas_io8(f + 256, PORT_ACPI_SLEEP_STS);
	/* Hardware-reduced: no PM1/GPE/PM timer blocks, legacy or extended. */
	for (size_t i = 56; i < 96; i++)
		assert_int_equal(f[i], 0);
	for (size_t i = 148; i < 244; i++)
		assert_int_equal(f[i], 0);
}

static void check_madt(unsigned ncpus)
{
	uint8_t buf[GUEST_ACPI_SIZE];
	unsigned count[8] = {0}, ioapic_id = 0;
	struct tables t;
	const uint8_t *m, *e, *end;

	build(buf, sizeof(buf), ncpus, NULL, 0, &t);
	m = t.madt;
	assert_int_equal(le(m + 4, 4), 44 + 8 * ncpus + 12 + 10 + 6);
	assert_int_equal(le(m + 36, 4), GUEST_LAPIC_ADDR);
	assert_int_equal(le(m + 40, 4), 1); /* PCAT_COMPAT */
	end = m + le(m + 4, 4);
	for (e = m + 44; e < end; e += e[1]) {
		assert_true(e[1] >= 2 && e + e[1] <= end);
		assert_true(e[0] < 8);
		count[e[0]]++;
		switch (e[0]) {
		case 0: /* processor local APIC: UID and APIC ID i, in order, enabled */
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], count[0] - 1);
			assert_int_equal(e[3], count[0] - 1);
			assert_int_equal(le(e + 4, 4), 1);
			break;
		case 1:
			assert_int_equal(e[1], 12);
			ioapic_id = e[2];
			assert_int_equal(le(e + 4, 4), GUEST_IOAPIC_ADDR);
			assert_int_equal(le(e + 8, 4), 0);
			break;
		case 2: /* the SCI: ISA IRQ 9 = GSI 9, level, active-high */
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0);
			assert_int_equal(e[3], IRQ_SCI);
			assert_int_equal(le(e + 4, 4), IRQ_SCI);
			assert_int_equal(le(e + 8, 2), 0xd);
			break;
		case 4: /* NMI on LINT1 of all processors */
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(e[5], 1);
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	assert_ptr_equal(e, end);
	assert_int_equal(count[0], ncpus);
	assert_int_equal(count[1], 1);
	assert_int_equal(count[2], 1);
	assert_int_equal(count[4], 1);
	assert_true(ioapic_id >= ncpus && ioapic_id < 0xff); /* no processor has its ID */
}

static void test_acpi_madt(void **state)
{
	(void)state;
	check_madt(1);
	check_madt(4);
	check_madt(64);
}

/* The DSDT's AML for two virtio devices equals iasl's compilation of the same ASL, End Tag checksums aside. */
static void test_acpi_dsdt_vs_iasl(void **state)
{
	static const struct acpi_mmio_dev v[2] = {{0xd0000000, 0x200, 16, false}, {0xfeb00000, 0x1000, 23, true}};
	uint8_t buf[GUEST_ACPI_SIZE];
	uint8_t aml[sizeof(iasl_dsdt_body)];
	struct tables t;
	size_t len, crs = 0;

	(void)state;
	build(buf, sizeof(buf), 2, v, 2, &t);
	assert_int_equal(t.dsdt[8], 2);
	len = le(t.dsdt + 4, 4) - ACPI_HDR_SIZE;
	assert_int_equal(len, sizeof(iasl_dsdt_body));
	memcpy(aml, t.dsdt + ACPI_HDR_SIZE, len);
	/* Each _CRS: 08 _CRS 11 PkgLength(1 byte here) 0A n <n bytes>; the bytes sum to 0, End Tag last. */
	for (size_t i = 0; i + 4 <= len; i++) {
		if (memcmp(aml + i, "_CRS", 4))
			continue;
		assert_int_equal(aml[i + 4], AML_BUFFER_OP);
		assert_int_equal(aml[i + 6], AML_BYTE_PREFIX);
		uint8_t *rt = aml + i + 8;
		size_t n = aml[i + 7];
		assert_true(i + 8 + n <= len);
		assert_int_equal(rt[n - 2], 0x79);
		assert_int_equal(sum8(rt, n), 0);
		rt[n - 1] = 0;
		crs++;
	}
	assert_int_equal(crs, 5); /* COM1, RTC0, GED0, VR00, VR01 */
	assert_memory_equal(aml, iasl_dsdt_body, len);
}

static void test_acpi_dsdt_virtio_count(void **state)
{
	uint8_t buf[GUEST_ACPI_SIZE];
	struct acpi_mmio_dev v[ACPI_MAX_VIRTIO];
	struct tables t;

	(void)state;
	for (unsigned i = 0; i < ACPI_MAX_VIRTIO; i++)
		v[i] = (struct acpi_mmio_dev){.base = 0xd0000000 + 0x200ULL * i, .size = 0x200, .gsi = 16 + i % 8};
	for (unsigned nv = 0; nv <= ACPI_MAX_VIRTIO; nv += 85) {
		build(buf, sizeof(buf), 64, v, nv, &t);
		unsigned found = 0;
		size_t len = le(t.dsdt + 4, 4);
		for (size_t i = 0; i + 9 <= len; i++)
			found += !memcmp(t.dsdt + i, "LNRO0005", 9);
		assert_int_equal(found, nv);
	}
}

/* Too small a buffer: -ENOSPC, and nothing written past its end (ASan watches each exact-size copy). */
static void test_acpi_enospc(void **state)
{
	uint8_t buf[GUEST_ACPI_SIZE];
	struct acpi_mmio_dev v[8];
	struct acpi_config c = {.ncpus = 64, .virtio = v, .nvirtio = 8};
	struct tables t;
	int used;

	(void)state;
	for (unsigned i = 0; i < 8; i++)
		v[i] = (struct acpi_mmio_dev){.base = 0xd0000000 + 0x1000ULL * i, .size = 0x200, .gsi = 16 + i};
	used = build(buf, sizeof(buf), 64, v, 8, &t);
	for (int len = 0; len <= used; len++) {
		uint8_t *p = malloc(len ? (size_t)len : 1);

		assert_non_null(p);
		int r = acpi_build(p, (size_t)len, GPA, &c);

		assert_int_equal(r, len < used ? -ENOSPC : used);
		if (r > 0)
			assert_memory_equal(p, buf, (size_t)used);
		free(p);
	}
}

static void test_acpi_einval(void **state)
{
	uint8_t buf[GUEST_ACPI_SIZE];
	struct acpi_mmio_dev v = {0xd0000000, 0x200, 16, false};
	struct acpi_config c = {.ncpus = 0};

	(void)state;
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, &c), -EINVAL);
	c.ncpus = ACPI_MAX_CPUS + 1;
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, &c), -EINVAL);
	c.ncpus = 1;
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, NULL), -EINVAL);
	assert_int_equal(acpi_build(NULL, sizeof(buf), GPA, &c), -EINVAL);
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA + 8, &c), -EINVAL);
	assert_int_equal(acpi_build(buf, sizeof(buf), 0xffffff00, &c), -EINVAL); /* would cross 4 GiB */
	c.nvirtio = 1;
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, &c), -EINVAL); /* virtio NULL */
	c.virtio = &v;
	assert_true(acpi_build(buf, sizeof(buf), GPA, &c) > 0);
	v.gsi = ACPI_IOAPIC_PINS;
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, &c), -EINVAL);
	v.gsi = 16;
	v.base = 0xfffff000;
	v.size = 0x2000;
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, &c), -EINVAL);
	v.size = 0;
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, &c), -EINVAL);
}

/* ---- MP table ---- */

static void check_mptable(unsigned ncpus)
{
	uint8_t buf[GUEST_MPTABLE_SIZE];
	unsigned count[5] = {0}, irqs = 0, ioapic_id;
	const uint8_t *c, *e, *end;
	int used;

	memset(buf, 0xee, sizeof(buf));
	used = mptable_build(buf, sizeof(buf), GUEST_MPTABLE_ADDR, ncpus);
	assert_true(used > 16 && used <= (int)GUEST_MPTABLE_SIZE);
	assert_int_equal(buf[used], 0xee);
	assert_memory_equal(buf, "_MP_", 4);
	assert_int_equal(sum8(buf, 16), 0);
	assert_int_equal(buf[8], 1);
	assert_int_equal(buf[9], 4);
	assert_int_equal(buf[12], 0); /* IMCRP clear: virtual wire */
	assert_int_equal(le(buf + 4, 4), GUEST_MPTABLE_ADDR + 16);
	c = buf + 16;
	assert_memory_equal(c, "PCMP", 4);
	assert_int_equal(16 + le(c + 4, 2), used);
	assert_int_equal(sum8(c, le(c + 4, 2)), 0);
	assert_memory_equal(c + 8, "KVMINI  ", 8);
	assert_int_equal(le(c + 36, 4), GUEST_LAPIC_ADDR);
	ioapic_id = MPTABLE_IOAPIC_ID(ncpus);
	end = c + le(c + 4, 2);
	for (e = c + 44; e < end; e += e[0] == 0 ? 20 : 8) {
		assert_true(e[0] <= 4);
		count[e[0]]++;
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], count[0] - 1);
			assert_int_equal(e[3], count[0] == 1 ? 3 : 1); /* enabled, BSP first */
			break;
		case 1:
			assert_memory_equal(e + 2, "ISA   ", 6);
			break;
		case 2:
			assert_int_equal(e[1], ioapic_id);
			assert_int_equal(e[3], 1);
			assert_int_equal(le(e + 4, 4), GUEST_IOAPIC_ADDR);
			break;
		case 3: /* ISA IRQ n to pin n, conforming, never the cascade */
			assert_int_equal(e[1], 0);
			assert_int_equal(e[4], 0);
			assert_int_equal(e[6], ioapic_id);
			assert_int_equal(e[5], e[7]);
			assert_true(e[5] < 16 && e[5] != 2);
			irqs |= 1u << e[5];
			break;
		case 4: /* ExtINT on LINT0, NMI on LINT1, all local APICs */
			assert_int_equal(e[6], 0xff);
			assert_int_equal(e[1], e[7] == 0 ? 3 : 1);
			break;
		}
	}
	assert_ptr_equal(e, end);
	assert_int_equal(le(c + 34, 2), ncpus + 19);
	assert_int_equal(count[0], ncpus);
	assert_int_equal(count[1], 1);
	assert_int_equal(count[2], 1);
	assert_int_equal(count[3], 15);
	assert_int_equal(count[4], 2);
	assert_int_equal(irqs, 0xfffb);
	assert_true(ioapic_id >= ncpus && ioapic_id < 0xff);
}

static void test_mptable(void **state)
{
	(void)state;
	check_mptable(1);
	check_mptable(4);
	check_mptable(64);
}

static void test_mptable_errors(void **state)
{
	uint8_t buf[2048];
	int need = mptable_build(buf, sizeof(buf), GUEST_MPTABLE_ADDR, 64);

	(void)state;
	assert_true(need > 0);
	for (int len = 0; len < need; len++) {
		uint8_t *p = malloc(len ? (size_t)len : 1);

		assert_non_null(p);
		assert_int_equal(mptable_build(p, (size_t)len, GUEST_MPTABLE_ADDR, 64), -ENOSPC);
		free(p);
	}
	assert_int_equal(mptable_build(buf, sizeof(buf), GUEST_MPTABLE_ADDR, 0), -EINVAL);
	assert_int_equal(mptable_build(buf, sizeof(buf), GUEST_MPTABLE_ADDR, 65), -EINVAL);
	assert_int_equal(mptable_build(buf, sizeof(buf), GUEST_MPTABLE_ADDR + 4, 1), -EINVAL);
	assert_int_equal(mptable_build(NULL, sizeof(buf), GUEST_MPTABLE_ADDR, 1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pkglen_encode),
	    cmocka_unit_test(test_pkg_close_boundaries),
	    cmocka_unit_test(test_buffer_pkglen_vs_iasl),
	    cmocka_unit_test(test_names_ints_vs_iasl),
	    cmocka_unit_test(test_paths_vs_iasl),
	    cmocka_unit_test(test_templates_vs_iasl),
	    cmocka_unit_test(test_namestring_forms),
	    cmocka_unit_test(test_eisaid),
	    cmocka_unit_test(test_aml_enospc),
	    cmocka_unit_test(test_aml_bad_args),
	    cmocka_unit_test(test_acpi_fadt),
	    cmocka_unit_test(test_acpi_madt),
	    cmocka_unit_test(test_acpi_dsdt_vs_iasl),
	    cmocka_unit_test(test_acpi_dsdt_virtio_count),
	    cmocka_unit_test(test_acpi_enospc),
	    cmocka_unit_test(test_acpi_einval),
	    cmocka_unit_test(test_mptable),
	    cmocka_unit_test(test_mptable_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
