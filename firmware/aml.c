/* aml.c: encode the few AML constructs kvmini's DSDT needs: names, integers, scopes, methods, resources. */
#include "firmware/aml.h"

#include <errno.h>
#include <string.h>

/* Small resource descriptor tags (type 0, name << 3 | length) and large ones (type 1, 0x80 | name). */
#define RT_IRQ_NOFLAGS 0x22 /* IRQ descriptor, 2 bytes: the mask only */
#define RT_IO	       0x47 /* I/O port descriptor, 7 bytes */
#define RT_END_TAG     0x79 /* End Tag, 1 byte: the checksum */
#define RT_MEM32_FIXED 0x86 /* 32-bit fixed memory range, 9 bytes */
#define RT_EXT_IRQ     0x89 /* Extended Interrupt */

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->len = 0;
	a->cap = buf ? cap : 0;
	a->err = 0;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err || n == 0)
		return;
	if (n > a->cap - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

int aml_pkglen_encode(uint8_t out[4], size_t value)
{
	int n;

	/* 1 byte: bits 0-5. Else the lead byte holds the count of following bytes in bits 6-7 and the low 4 bits
	 * of the value in bits 0-3; each following byte carries 8 more bits. */
	if (value <= 0x3f) {
		out[0] = (uint8_t)value;
		return 1;
	}
	if (value <= 0xfff)
		n = 2;
	else if (value <= 0xfffff)
		n = 3;
	else if (value <= AML_PKGLEN_MAX)
		n = 4;
	else
		return -EINVAL;
	out[0] = (uint8_t)(((n - 1) << 6) | (value & 0xf));
	for (int i = 1; i < n; i++)
		out[i] = (uint8_t)(value >> (4 + 8 * (i - 1)));
	return n;
}

size_t aml_pkg_open(struct aml *a)
{
	size_t mark = a->len;

	aml_byte(a, 0); /* room for the 1-byte form; aml_close makes more if the body turns out longer */
	return mark;
}

void aml_close(struct aml *a, size_t mark)
{
	uint8_t enc[4];
	size_t body;
	int n;

	if (a->err)
		return;
	if (mark >= a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	body = a->len - mark - 1;
	/* The value counts the PkgLength's own bytes: try the short encodings first. */
	n = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
	if (aml_pkglen_encode(enc, body + (size_t)n) != n) {
		aml_fail(a, -EINVAL);
		return;
	}
	if ((size_t)n - 1 > a->cap - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memmove(a->buf + mark + n, a->buf + mark + 1, body);
	memcpy(a->buf + mark, enc, (size_t)n);
	a->len += (size_t)n - 1;
}

static bool name_lead(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return name_lead(c) || (c >= '0' && c <= '9');
}

/* Length of the segment at s (up to '.' or the end), or -EINVAL if it is not a valid NameSeg. */
static int seg_len(const char *s)
{
	int n = 0;

	if (!name_lead(s[0]))
		return -EINVAL;
	while (s[n] && s[n] != '.') {
		if (n == 4 || !name_char(s[n]))
			return -EINVAL;
		n++;
	}
	return n;
}

void aml_namestring(struct aml *a, const char *path)
{
	const char *p = path;
	unsigned nsegs = 0;

	if (!path) {
		aml_fail(a, -EINVAL);
		return;
	}
	if (*p == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			aml_byte(a, AML_PARENT_CHAR);
			p++;
		}
	}
	/* Validate and count the segments first: the prefix depends on the count. */
	for (const char *s = p; *s;) {
		int n = seg_len(s);

		if (n < 0 || nsegs == 255) {
			aml_fail(a, -EINVAL);
			return;
		}
		nsegs++;
		s += n;
		if (*s == '.' && !*++s) {
			aml_fail(a, -EINVAL); /* a trailing dot */
			return;
		}
	}
	if (nsegs == 0) {
		aml_byte(a, AML_NULL_NAME);
		return;
	}
	if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)nsegs);
	}
	while (*p) {
		char seg[4] = {'_', '_', '_', '_'};
		int n = seg_len(p);

		memcpy(seg, p, (size_t)n);
		aml_bytes(a, seg, sizeof(seg));
		p += n;
		if (*p == '.')
			p++;
	}
}

void aml_int(struct aml *a, uint64_t v)
{
	if (v == 0)
		aml_byte(a, AML_ZERO_OP);
	else if (v == 1)
		aml_byte(a, AML_ONE_OP);
	else if (v == UINT64_MAX)
		aml_byte(a, AML_ONES_OP); /* all ones in a revision 2 (64-bit) definition block */
	else if (v <= UINT8_MAX) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= UINT16_MAX) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= UINT32_MAX) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	if (!s) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p > 0x7f) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int aml_eisaid_value(const char *id, uint32_t *out)
{
	uint16_t vendor = 0, product = 0;

	if (!id || strlen(id) != 7)
		return -EINVAL;
	/* Three letters, 5 bits each ('A' is 1), in bits 14-0 of a big-endian word; then four hex digits, also
	 * big-endian. The two words read as a little-endian dword give the integer AML stores. */
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return -EINVAL;
		vendor = (uint16_t)(vendor << 5 | (id[i] - 'A' + 1));
	}
	for (int i = 3; i < 7; i++) {
		int d = hex_digit(id[i]);

		if (d < 0)
			return -EINVAL;
		product = (uint16_t)(product << 4 | d);
	}
	*out = (uint32_t)(vendor >> 8) | (uint32_t)(vendor & 0xff) << 8 | (uint32_t)(product >> 8) << 16 |
	       (uint32_t)(product & 0xff) << 24;
	return 0;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v;
	int err = aml_eisaid_value(id, &v);

	if (err) {
		aml_fail(a, err);
		return;
	}
	aml_byte(a, AML_DWORD_PREFIX); /* always a DWord, whatever its value */
	aml_le(a, v, 4);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

size_t aml_scope_open(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_SCOPE_OP);
	mark = aml_pkg_open(a);
	aml_namestring(a, path);
	return mark;
}

size_t aml_device_open(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	mark = aml_pkg_open(a);
	aml_namestring(a, name);
	return mark;
}

size_t aml_method_open(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
	size_t mark;

	if (nargs > 7)
		aml_fail(a, -EINVAL);
	aml_byte(a, AML_METHOD_OP);
	mark = aml_pkg_open(a);
	aml_namestring(a, name);
	/* MethodFlags: bits 0-2 ArgCount, bit 3 SerializeFlag, bits 4-7 SyncLevel (0). */
	aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return mark;
}

size_t aml_package_open(struct aml *a, unsigned nelems)
{
	size_t mark;

	if (nelems > 255)
		aml_fail(a, -EINVAL);
	aml_byte(a, AML_PACKAGE_OP);
	mark = aml_pkg_open(a);
	aml_byte(a, (uint8_t)nelems);
	return mark;
}

void aml_notify(struct aml *a, const char *path, uint64_t value)
{
	aml_byte(a, AML_NOTIFY_OP);
	aml_namestring(a, path);
	aml_int(a, value);
}

void aml_buffer(struct aml *a, const void *data, size_t n)
{
	size_t mark;

	aml_byte(a, AML_BUFFER_OP);
	mark = aml_pkg_open(a);
	aml_int(a, n);
	aml_bytes(a, data, n);
	aml_close(a, mark);
}

void aml_rt_io(struct aml *rt, uint8_t info, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(rt, RT_IO);
	aml_byte(rt, info);
	aml_le(rt, min, 2);
	aml_le(rt, max, 2);
	aml_byte(rt, align);
	aml_byte(rt, len);
}

void aml_rt_irq_noflags(struct aml *rt, uint16_t mask)
{
	aml_byte(rt, RT_IRQ_NOFLAGS);
	aml_le(rt, mask, 2);
}

void aml_rt_mem32_fixed(struct aml *rt, uint8_t info, uint32_t base, uint32_t size)
{
	aml_byte(rt, RT_MEM32_FIXED);
	aml_le(rt, 9, 2); /* large descriptor: the length of what follows */
	aml_byte(rt, info);
	aml_le(rt, base, 4);
	aml_le(rt, size, 4);
}

void aml_rt_ext_irq(struct aml *rt, uint8_t flags, uint32_t gsi)
{
	if (flags & ~(AML_IRQ_CONSUMER | AML_IRQ_EDGE | AML_IRQ_ACTIVE_LOW | AML_IRQ_SHARED))
		aml_fail(rt, -EINVAL);
	aml_byte(rt, RT_EXT_IRQ);
	aml_le(rt, 6, 2); /* flags, the table length (1) and one 32-bit interrupt number */
	aml_byte(rt, flags);
	aml_byte(rt, 1);
	aml_le(rt, gsi, 4);
}

void aml_rt_end(struct aml *rt)
{
	uint8_t sum = RT_END_TAG;

	if (rt->err)
		return;
	for (size_t i = 0; i < rt->len; i++)
		sum = (uint8_t)(sum + rt->buf[i]);
	aml_byte(rt, RT_END_TAG);
	aml_byte(rt, (uint8_t)-sum);
}

void aml_resource_template(struct aml *a, const struct aml *rt)
{
	if (rt->err) {
		aml_fail(a, rt->err);
		return;
	}
	aml_buffer(a, rt->buf, rt->len);
}
