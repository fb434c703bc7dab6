/* test_demo.c: kvmini demo's catalog lookup and list, on a table of our own (the real one is in kvmini only). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/demo.h"
#include "vmm/layout.h"
#include "vmm/opts.h"

static const uint8_t code[] = {0xf4};
static const struct demo tab[] = {
    {"real", "first summary", code, code + 1},
    {"realer", "second summary", code, code + 1},
    {"irq", "third summary", code, code + 1},
};

static void test_find(void **state)
{
	(void)state;
	assert_ptr_equal(demo_find(tab, 3, "real"), &tab[0]);
	assert_ptr_equal(demo_find(tab, 3, "realer"), &tab[1]);
	assert_ptr_equal(demo_find(tab, 3, "irq"), &tab[2]);
	assert_null(demo_find(tab, 3, "rea")); /* no prefix matching */
	assert_null(demo_find(tab, 3, "IRQ")); /* names are exact */
	assert_null(demo_find(tab, 3, ""));
	assert_null(demo_find(tab, 2, "irq")); /* only the first n entries */
	assert_null(demo_find(tab, 0, "real"));
}

static void test_list(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned lines = 0;

	(void)state;
	assert_non_null(f);
	demo_list(f, tab, 3);
	fclose(f);
	assert_non_null(strstr(buf, "kvmini demo NAME"));
	assert_non_null(strstr(buf, "  real       first summary\n"));
	assert_non_null(strstr(buf, "  realer     second summary\n"));
	assert_non_null(strstr(buf, "  irq        third summary\n"));
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2 + 3); /* usage, a heading, one line per demo */
	free(buf);
}

/* kvmini demo NAME [options] reaches the run parser as run --demo NAME [options]. */
static void test_opts(void **state)
{
	char *a1[] = {"run", "--demo", "real", "--step", NULL};
	char *a2[] = {"run", "--demo", "irq", "-m", "128M", NULL};
	char *a3[] = {"run", "--demo", "real", "-k", "bzImage", NULL};
	char *a4[] = {"run", "--demo", "real", "--", "true", NULL};
	char *a5[] = {"run", "--step", NULL};
	struct opts o;
	char err[256];

	(void)state;
	assert_int_equal(opts_parse(&o, 4, a1, err, sizeof(err)), 0);
	assert_string_equal(o.demo, "real");
	assert_true(o.step);
	assert_int_equal(o.mem, GUEST_DEMO_MEM); /* a demo's small default */
	assert_int_equal(opts_parse(&o, 5, a2, err, sizeof(err)), 0);
	assert_int_equal(o.mem, 128ULL << 20); /* -m still wins */
	assert_false(o.step);
	assert_int_equal(opts_parse(&o, 5, a3, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "demo"));
	assert_int_equal(opts_parse(&o, 5, a4, err, sizeof(err)), -EINVAL);
	assert_int_equal(opts_parse(&o, 2, a5, err, sizeof(err)), -EINVAL); /* neither a kernel nor a demo */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
