/* test_hypercall.c: the demo hypercall device: PRINT, TIME, unknown calls, and hostile string addresses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/hypercall.h"
#include "vmm/gmem.h"
#include "vmm/layout.h"

#define RAM (2u << 20)

struct fix {
	struct gmem m;
	struct hypercall hc;
	char out[2 * HYPERCALL_PRINT_MAX];
	size_t len;
	unsigned prints;
};

static void rec_print(void *o, const char *s, size_t n)
{
	struct fix *f = o;

	assert_true(f->len + n <= sizeof(f->out));
	memcpy(f->out + f->len, s, n);
	f->len += n;
	f->prints++;
}

static uint64_t fake_now(void *o)
{
	(void)o;
	return 1700000000ULL * 1000000000ULL + 123456789ULL;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct hypercall_hooks h = {.print = rec_print, .now_ns = fake_now};

	if (!f || gmem_init(&f->m, RAM) < 0)
		return -1;
	h.opaque = f;
	hypercall_init(&f->hc, &h, &f->m);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	gmem_destroy(&f->m);
	free(f);
	return 0;
}

static struct hypercall_regs call(struct fix *f, uint64_t nr, uint64_t arg)
{
	struct hypercall_regs r = {.rax = nr, .rbx = arg, .rdx = 0x5555};

	hypercall_handle(&f->hc, &r);
	return r;
}

static void test_print(void **state)
{
	struct fix *f = *state;
	static const char s[] = "hello from the guest\n";
	struct hypercall_regs r;

	assert_int_equal(gmem_write(&f->m, 0x8000, s, sizeof(s)), 0);
	r = call(f, HYPERCALL_PRINT, 0x8000);
	assert_int_equal(r.rax, strlen(s));
	assert_int_equal(r.rbx, 0x8000); /* arguments are left alone */
	assert_int_equal(f->len, strlen(s));
	assert_memory_equal(f->out, s, strlen(s));
	/* the empty string: printed as nothing, length 0 */
	assert_int_equal(gmem_write(&f->m, 0x9000, "", 1), 0);
	r = call(f, HYPERCALL_PRINT, 0x9000);
	assert_int_equal(r.rax, 0);
	assert_int_equal(f->hc.calls, 2);
	assert_int_equal(f->hc.failed, 0);
}

/* The longest string allowed, and one byte more. */
static void test_print_limit(void **state)
{
	struct fix *f = *state;
	char *buf = malloc(HYPERCALL_PRINT_MAX + 2);
	struct hypercall_regs r;

	assert_non_null(buf);
	memset(buf, 'x', HYPERCALL_PRINT_MAX + 2);
	buf[HYPERCALL_PRINT_MAX] = '\0';
	assert_int_equal(gmem_write(&f->m, 0x10000, buf, HYPERCALL_PRINT_MAX + 1), 0);
	r = call(f, HYPERCALL_PRINT, 0x10000);
	assert_int_equal(r.rax, HYPERCALL_PRINT_MAX);
	buf[HYPERCALL_PRINT_MAX] = 'x';
	buf[HYPERCALL_PRINT_MAX + 1] = '\0';
	assert_int_equal(gmem_write(&f->m, 0x10000, buf, HYPERCALL_PRINT_MAX + 2), 0);
	f->len = 0;
	r = call(f, HYPERCALL_PRINT, 0x10000);
	assert_int_equal((int64_t)r.rax, -EFAULT);
	assert_int_equal(f->len, 0); /* nothing printed: refused as a whole */
	assert_int_equal(f->hc.failed, 1);
	free(buf);
}

/* Strings at the end of RAM, in the MMIO hole, and addresses that would overflow. */
static void test_print_hostile(void **state)
{
	struct fix *f = *state;
	static const uint64_t bad[] = {RAM, GUEST_DEMO_MMIO, GUEST_LAPIC_ADDR, UINT64_MAX, UINT64_MAX - 10, 1ULL << 63};
	struct hypercall_regs r;

	/* "ab\0" as the last three bytes of RAM: found, though a full window would cross the end */
	assert_int_equal(gmem_write(&f->m, RAM - 3, "ab", 3), 0);
	r = call(f, HYPERCALL_PRINT, RAM - 3);
	assert_int_equal(r.rax, 2);
	assert_memory_equal(f->out, "ab", 2);
	/* no NUL before the end of RAM */
	assert_int_equal(gmem_write(&f->m, RAM - 4, "abcd", 4), 0);
	r = call(f, HYPERCALL_PRINT, RAM - 4);
	assert_int_equal((int64_t)r.rax, -EFAULT);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = call(f, HYPERCALL_PRINT, bad[i]);
		assert_int_equal((int64_t)r.rax, -EFAULT);
	}
	assert_int_equal(f->prints, 1);
}

static void test_time_and_unknown(void **state)
{
	struct fix *f = *state;
	struct hypercall_regs r = call(f, HYPERCALL_TIME, 0);

	assert_int_equal(r.rax, 1700000000ULL);
	assert_int_equal(r.rdx, 123456789ULL);
	r = call(f, 0, 0);
	assert_int_equal((int64_t)r.rax, -ENOSYS);
	assert_int_equal(r.rdx, 0x5555); /* untouched by a failed call */
	r = call(f, UINT64_MAX, 0);
	assert_int_equal((int64_t)r.rax, -ENOSYS);
	assert_int_equal(f->hc.calls, 3);
	assert_int_equal(f->hc.failed, 2);
	assert_int_equal(f->prints, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_print, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_print_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_print_hostile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_time_and_unknown, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
