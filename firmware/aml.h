/* aml.h: a small ACPI Machine Language encoder (ACPI 6.x chapter 20) writing into a caller's byte buffer. */
#ifndef KVMINI_AML_H
#define KVMINI_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The writer. Errors are sticky: the first one (-ENOSPC when the buffer is full, -EINVAL for a bad name,
 * string or argument) is kept in `err`, and every later call does nothing. Check `err` once at the end.
 * Scopes (Scope, Device, Method, Package) are opened with an *_open call that returns a mark and closed with
 * aml_close(mark): the PkgLength is back-patched then (the body moves up if it needs more than one byte), so
 * a buffer exactly as large as the result is enough.
 */
struct aml {
	uint8_t *buf;
	size_t len, cap;
	int err;
};

#define AML_PKGLEN_MAX 0x0fffffff /* the largest PkgLength: 28 bits in the 4-byte encoding */

/* Opcodes the encoder emits (ACPI 6.x 20.2). */
#define AML_ZERO_OP	  0x00
#define AML_ONE_OP	  0x01
#define AML_NAME_OP	  0x08
#define AML_BYTE_PREFIX	  0x0a
#define AML_WORD_PREFIX	  0x0b
#define AML_DWORD_PREFIX  0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX  0x0e
#define AML_SCOPE_OP	  0x10
#define AML_BUFFER_OP	  0x11
#define AML_PACKAGE_OP	  0x12
#define AML_METHOD_OP	  0x14
#define AML_DUAL_NAME	  0x2e
#define AML_MULTI_NAME	  0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP	  0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR	  0x5c
#define AML_PARENT_CHAR	  0x5e
#define AML_NOTIFY_OP	  0x86
#define AML_ONES_OP	  0xff
#define AML_NULL_NAME	  0x00

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* Encode a PkgLength value (which counts its own bytes) into out: 1 byte up to 63, 2 up to 4095, 3 up to
 * 0xfffff, 4 up to AML_PKGLEN_MAX. Returns the byte count, or -EINVAL if the value is too large. */
int aml_pkglen_encode(uint8_t out[4], size_t value);
/* Reserve room for a PkgLength here; aml_close(mark) patches it to cover everything written since. */
size_t aml_pkg_open(struct aml *a);
void aml_close(struct aml *a, size_t mark);

/* NameString: "\\" root, "^" parent prefixes, then dot-separated segments of 1-4 characters ([A-Z_] then
 * [A-Z0-9_]), padded with '_'. One segment is a NameSeg, two a DualNamePath, more a MultiNamePath, none
 * (e.g. "\\") the NullName. */
void aml_namestring(struct aml *a, const char *path);
/* The smallest encoding: Zero, One, Ones (all 64 bits set), then Byte/Word/DWord/QWord prefixed. */
void aml_int(struct aml *a, uint64_t v);
/* A String: printable ASCII (1-0x7f), NUL-terminated in AML. */
void aml_string(struct aml *a, const char *s);
/* A compressed EISA ID ("PNP0501": three letters A-Z, four hex digits) as a 32-bit value, as iasl's EISAID()
 * computes it. aml_eisaid_value returns 0 or -EINVAL; aml_eisaid emits it as a DWord constant. */
int aml_eisaid_value(const char *id, uint32_t *out);
void aml_eisaid(struct aml *a, const char *id);

/* Name(name, ...): emits NameOp and the name; the caller emits the object next (aml_int, aml_string, ...). */
void aml_name(struct aml *a, const char *name);
size_t aml_scope_open(struct aml *a, const char *path);
size_t aml_device_open(struct aml *a, const char *name);
/* Method(name, nargs (0-7), Serialized or NotSerialized), sync level 0. */
size_t aml_method_open(struct aml *a, const char *name, unsigned nargs, bool serialized);
/* Package(nelems) { ... }: the caller emits exactly nelems elements (at most 255) before aml_close. */
size_t aml_package_open(struct aml *a, unsigned nelems);
/* Notify(path, value). */
void aml_notify(struct aml *a, const char *path, uint64_t value);
/* Buffer(n) { data }. */
void aml_buffer(struct aml *a, const void *data, size_t n);

/*
 * Resource templates: the descriptors go into their own writer `rt` (a small buffer of the caller's); after
 * aml_rt_end, aml_resource_template(a, rt) emits them as one Buffer and passes on any error rt has.
 */
#define AML_RT_IO_DECODE16 0x01 /* IO descriptor information byte: the device decodes 16 address bits */
#define AML_RT_MEM_RW	   0x01 /* Memory32Fixed information byte: read-write */
/* Extended Interrupt flags (ACPI 6.x 6.4.3.6), in their descriptor bit positions. */
#define AML_IRQ_CONSUMER   0x01
#define AML_IRQ_EDGE	   0x02 /* else level-triggered */
#define AML_IRQ_ACTIVE_LOW 0x04 /* else active-high */
#define AML_IRQ_SHARED	   0x08 /* else exclusive */

void aml_rt_io(struct aml *rt, uint8_t info, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_rt_irq_noflags(struct aml *rt, uint16_t mask); /* IRQNoFlags: bit n of mask is ISA IRQ n */
void aml_rt_mem32_fixed(struct aml *rt, uint8_t info, uint32_t base, uint32_t size);
void aml_rt_ext_irq(struct aml *rt, uint8_t flags, uint32_t gsi); /* one interrupt, no resource source */
/* End Tag: its checksum makes the bytes of the whole template, End Tag included, sum to zero. */
void aml_rt_end(struct aml *rt);
void aml_resource_template(struct aml *a, const struct aml *rt);

#endif
