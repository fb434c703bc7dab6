/* test_tail.c: the console's last lines, panic detection, and the --result JSON built from them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/runcmd.h"
#include "vmm/tail.h"
#include "vmm/vm.h"

static enum tail_event put_str(struct tail *t, const char *s)
{
	enum tail_event last = TAIL_NONE, ev;

	for (; *s; s++)
		if ((ev = tail_put(t, (uint8_t)*s)) != TAIL_NONE)
			last = ev;
	return last;
}

static void test_last_lines(void **state)
{
	struct tail *t = malloc(sizeof(*t));
	const char *l[TAIL_LINES + 1];
	char line[64];
	unsigned n;

	(void)state;
	tail_init(t);
	assert_int_equal(tail_lines(t, l, TAIL_LINES + 1), 0);
	for (int i = 0; i < 30; i++) {
		snprintf(line, sizeof(line), "line %d\r\n", i); /* CR dropped */
		put_str(t, line);
	}
	put_str(t, "partial");
	n = tail_lines(t, l, TAIL_LINES + 1);
	assert_int_equal(n, TAIL_LINES + 1);
	assert_string_equal(l[0], "line 10"); /* the oldest kept */
	assert_string_equal(l[TAIL_LINES - 1], "line 29");
	assert_string_equal(l[TAIL_LINES], "partial");
	/* max smaller than what is kept: the oldest first, cut */
	assert_int_equal(tail_lines(t, l, 3), 3);
	assert_string_equal(l[0], "line 10");
	free(t);
}

static void test_long_line_and_controls(void **state)
{
	struct tail *t = malloc(sizeof(*t));
	const char *l[2];

	(void)state;
	tail_init(t);
	for (int i = 0; i < 1000; i++)
		tail_put(t, 'x');
	tail_put(t, 0x1b); /* escape sequences lose their control bytes */
	tail_put(t, '\t');
	tail_put(t, '\n');
	assert_int_equal(tail_lines(t, l, 2), 1);
	assert_int_equal(strlen(l[0]), TAIL_COLS);
	free(t);
}

static void test_panic(void **state)
{
	struct tail *t = malloc(sizeof(*t));

	(void)state;
	tail_init(t);
	assert_int_equal(put_str(t, "[ 1.0] sysrq: Trigger a crash\n"), TAIL_NONE);
	/* the event comes with the end of the line, once */
	assert_int_equal(put_str(t, "[ 1.1] Kernel panic - not syncing: sysrq triggered crash"), TAIL_NONE);
	assert_int_equal(tail_put(t, '\n'), TAIL_PANIC);
	assert_true(t->panicked);
	assert_string_equal(t->panic, "[ 1.1] Kernel panic - not syncing: sysrq triggered crash");
	assert_int_equal(put_str(t, "[ 1.2] Kernel panic - not syncing: again\n"), TAIL_NONE);
	assert_int_equal(put_str(t, "[ 1.3] Kernel Offset: disabled\n"), TAIL_NONE);
	assert_int_equal(put_str(t, "[ 1.4] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\n"),
			 TAIL_PANIC_END);
	assert_string_equal(t->panic, "[ 1.1] Kernel panic - not syncing: sysrq triggered crash"); /* the first */
	/* an end line without a panic before it means nothing */
	tail_init(t);
	assert_int_equal(put_str(t, "---[ end Kernel panic ]---\n"), TAIL_NONE);
	assert_false(t->panicked);
	free(t);
}

/* The --result JSON: python3's json module must parse it, with every field, escapes included. */
static void test_result_json(void **state)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	char path[] = "/tmp/kvmini-test-result-XXXXXX", cmd[1024], buf[4096];
	int fd = mkstemp(path);
	FILE *p;
	size_t n;

	(void)state;
	assert_non_null(vm);
	assert_true(fd >= 0);
	close(fd);
	vm_init(vm);
	vm->exit_status = EXIT_PANIC;
	vm->exit_reason = "guest kernel panic";
	vm->run.guest_status = 200;
	vm->stats.t_start_ns = 1000000;
	vm->stats.t_first_run_ns = 3500000;
	vm->stats.t_end_ns = 901000000;
	vm->stats.exits_io = 5;
	put_str(&vm->con.tail, "a \"quoted\" \\ line\twith tab\n[ 2.0] Kernel panic - not syncing: x\n");
	assert_int_equal(runcmd_result(vm, path, "/tmp/con \"x\".log"), 0);
	snprintf(
	    cmd, sizeof(cmd),
	    "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
	    "print(d[\"exit_code\"], d[\"guest_status\"], d[\"times_ms\"][\"kernel_entry\"], "
	    "d[\"times_ms\"][\"init_ready\"], "
	    "d[\"times_ms\"][\"end\"], d[\"panic\"][\"line\"], len(d[\"panic\"][\"last_lines\"]), d[\"console_log\"], "
	    "d[\"exits\"][\"io\"], d[\"timed_out\"])' %s",
	    path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_string_equal(
	    buf, "126 200 2.5 None 900.0 [ 2.0] Kernel panic - not syncing: x 2 /tmp/con \"x\".log 5 False\n");
	/* python3 -m json.tool, as a user would check it */
	snprintf(cmd, sizeof(cmd), "python3 -m json.tool %s >/dev/null", path);
	assert_int_equal(system(cmd), 0);
	unlink(path);
	free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_last_lines),
	    cmocka_unit_test(test_long_line_and_controls),
	    cmocka_unit_test(test_panic),
	    cmocka_unit_test(test_result_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
