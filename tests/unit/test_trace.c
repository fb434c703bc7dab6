/* test_trace.c: --trace kinds, CPU modes, the exact trace lines for each exit kind, numbering and filtering through
 * trace_exit, the exit tally (lock-free slots, overflow) and its --stats tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/bus.h"
#include "vmm/trace.h"
#include "vmm/vm.h"

#define RUN_SIZE 4096

/* ---- trace_parse_kinds ---- */

static void test_kinds(void **state)
{
	unsigned k = 0;
	char err[160] = "";

	(void)state;
	assert_int_equal(trace_parse_kinds(NULL, &k, err, sizeof(err)), 0);
	assert_int_equal(k, TRACE_ALL);
	assert_int_equal(trace_parse_kinds("io", &k, err, sizeof(err)), 0);
	assert_int_equal(k, TRACE_IO);
	assert_int_equal(trace_parse_kinds("mmio,hlt,shutdown,other", &k, err, sizeof(err)), 0);
	assert_int_equal(k, TRACE_MMIO | TRACE_HLT | TRACE_SHUTDOWN | TRACE_OTHER);
	assert_int_equal(trace_parse_kinds("io,all", &k, err, sizeof(err)), 0);
	assert_int_equal(k, TRACE_ALL);

	k = 7;
	assert_int_equal(trace_parse_kinds("io,bogus", &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'bogus'"));
	assert_int_equal(k, 7); /* untouched */
	assert_int_equal(trace_parse_kinds("IO", &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'IO'"));
	assert_int_equal(trace_parse_kinds("iox", &k, err, sizeof(err)), -EINVAL);
	assert_int_equal(trace_parse_kinds("i", &k, err, sizeof(err)), -EINVAL);
	assert_int_equal(trace_parse_kinds("", &k, err, sizeof(err)), -EINVAL); /* --trace= */
	assert_int_equal(trace_parse_kinds("io,,mmio", &k, err, sizeof(err)), -EINVAL);
	assert_int_equal(trace_parse_kinds(",io", &k, err, sizeof(err)), -EINVAL);
	assert_int_equal(trace_parse_kinds("io,", &k, err, sizeof(err)), -EINVAL);
	assert_int_equal(k, 7);
}

/* ---- trace_cpu_mode ---- */

static void test_cpu_mode(void **state)
{
	struct kvm_sregs s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_string_equal(trace_cpu_mode(&s, 2), "real");
	s.cr0 = 1;
	assert_string_equal(trace_cpu_mode(&s, 2), "prot16");
	assert_string_equal(trace_cpu_mode(&s, 2 | 1u << 17), "vm86");
	s.cs.db = 1;
	assert_string_equal(trace_cpu_mode(&s, 2), "prot32");
	s.efer = 0x500;
	assert_string_equal(trace_cpu_mode(&s, 2), "compat32");
	s.cs.db = 0;
	assert_string_equal(trace_cpu_mode(&s, 2), "compat16");
	s.cs.l = 1;
	assert_string_equal(trace_cpu_mode(&s, 2), "long");
	s.cr0 = 0; /* PE off wins over everything */
	assert_string_equal(trace_cpu_mode(&s, 2), "real");
}

/* ---- trace_format ---- */

static struct kvm_run *new_run(void)
{
	struct kvm_run *run = calloc(1, RUN_SIZE);

	assert_non_null(run);
	return run;
}

static void io_exit(struct kvm_run *run, uint8_t dir, uint16_t port, uint8_t size, uint32_t count, const void *data)
{
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = dir;
	run->io.port = port;
	run->io.size = size;
	run->io.count = count;
	run->io.data_offset = 1024;
	memcpy((uint8_t *)run + 1024, data, (size_t)size * count);
}

static void expect_line(const struct kvm_run *run, uint64_t seq, unsigned cpu, const __u64 *rip, const char *mode,
			const char *want)
{
	char buf[512];
	int n = trace_format(buf, sizeof(buf), seq, cpu, run, RUN_SIZE, rip, mode);

	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_format_io(void **state)
{
	struct kvm_run *run = new_run();
	__u64 rip = 0x7c0e;
	uint8_t b = 0x48;
	uint16_t w = 0xbeef;
	uint32_t l = 0x12345678;
	uint8_t s[20];

	(void)state;
	io_exit(run, KVM_EXIT_IO_OUT, 0x3f8, 1, 1, &b);
	expect_line(run, 12, 0, &rip, "real", "#12 cpu0 io out port=0x3f8 size=1 data=0x48 rip=0x7c0e mode=real\n");
	io_exit(run, KVM_EXIT_IO_IN, 0x71, 2, 1, &w);
	expect_line(run, 1, 3, &rip, "prot32", "#1 cpu3 io in port=0x71 size=2 data=0xbeef rip=0x7c0e mode=prot32\n");
	io_exit(run, KVM_EXIT_IO_OUT, 0xf4, 4, 1, &l);
	expect_line(run, 2, 0, NULL, NULL, "#2 cpu0 io out port=0xf4 size=4 data=0x12345678 rip=? mode=?\n");
	/* A string instruction: a count, and the first 16 items. */
	for (unsigned i = 0; i < sizeof(s); i++)
		s[i] = (uint8_t)('a' + i);
	io_exit(run, KVM_EXIT_IO_OUT, 0x3f8, 1, 3, s);
	expect_line(run, 5, 0, &rip, "long",
		    "#5 cpu0 io out port=0x3f8 size=1 count=3 data=0x61,0x62,0x63 rip=0x7c0e mode=long\n");
	io_exit(run, KVM_EXIT_IO_OUT, 0x3f8, 1, 20, s);
	expect_line(run, 6, 0, &rip, "long",
		    "#6 cpu0 io out port=0x3f8 size=1 count=20 data=0x61,0x62,0x63,0x64,0x65,0x66,0x67,0x68,0x69,0x6a,"
		    "0x6b,0x6c,0x6d,0x6e,0x6f,0x70,... rip=0x7c0e mode=long\n");
	/* Lies from the kvm_run page: never read outside it. */
	run->io.count = 1;
	run->io.data_offset = RUN_SIZE - 1;
	run->io.size = 4;
	expect_line(run, 7, 0, &rip, "long", "#7 cpu0 io out port=0x3f8 size=4 data=? rip=0x7c0e mode=long\n");
	run->io.data_offset = 0xffffffff;
	run->io.size = 1;
	expect_line(run, 8, 0, &rip, "long", "#8 cpu0 io out port=0x3f8 size=1 data=? rip=0x7c0e mode=long\n");
	run->io.data_offset = 1024;
	run->io.size = 3;
	expect_line(run, 9, 0, &rip, "long", "#9 cpu0 io out port=0x3f8 size=3 data=? rip=0x7c0e mode=long\n");
	run->io.size = 1;
	run->io.count = 0x10000; /* 64 KiB from offset 1024: past the page */
	expect_line(run, 10, 0, &rip, "long",
		    "#10 cpu0 io out port=0x3f8 size=1 count=65536 data=? rip=0x7c0e mode=long\n");
	free(run);
}

static void test_format_mmio_and_others(void **state)
{
	struct kvm_run *run = new_run();
	__u64 rip = 0xffffffff81234567ULL;
	uint32_t v = 0xf;
	uint64_t q = 0x0102030405060708ULL;

	(void)state;
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = 0xd0000070;
	run->mmio.len = 4;
	run->mmio.is_write = 1;
	memcpy(run->mmio.data, &v, 4);
	expect_line(run, 40, 0, &rip, "long",
		    "#40 cpu0 mmio write addr=0xd0000070 size=4 data=0x0000000f rip=0xffffffff81234567 mode=long\n");
	run->mmio.len = 8;
	run->mmio.is_write = 0;
	memcpy(run->mmio.data, &q, 8);
	expect_line(
	    run, 41, 1, &rip, "long",
	    "#41 cpu1 mmio read addr=0xd0000070 size=8 data=0x0102030405060708 rip=0xffffffff81234567 mode=long\n");
	run->mmio.len = 9;
	expect_line(run, 42, 1, &rip, "long",
		    "#42 cpu1 mmio read addr=0xd0000070 size=9 data=? rip=0xffffffff81234567 mode=long\n");

	rip = 0x100;
	run->exit_reason = KVM_EXIT_HLT;
	expect_line(run, 1, 0, &rip, "real", "#1 cpu0 hlt rip=0x100 mode=real\n");
	run->exit_reason = KVM_EXIT_SHUTDOWN;
	expect_line(run, 2, 0, &rip, "real", "#2 cpu0 shutdown rip=0x100 mode=real\n");
	run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	expect_line(run, 3, 0, &rip, "real", "#3 cpu0 other reason=system_event type=reset rip=0x100 mode=real\n");
	run->system_event.type = 99;
	expect_line(run, 3, 0, &rip, "real", "#3 cpu0 other reason=system_event type=99 rip=0x100 mode=real\n");
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = 1;
	expect_line(run, 4, 0, &rip, "real", "#4 cpu0 other reason=internal_error suberror=1 rip=0x100 mode=real\n");
	run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_entry_failure_reason = 0x21;
	expect_line(run, 5, 0, &rip, "real", "#5 cpu0 other reason=fail_entry hw_reason=0x21 rip=0x100 mode=real\n");
	run->exit_reason = 1000;
	expect_line(run, 6, 0, &rip, "real", "#6 cpu0 other reason=1000 rip=0x100 mode=real\n");
	free(run);
}

/* A short buffer: cut, NUL-terminated, never overrun; the return value is the full length, as snprintf's. */
static void test_format_truncates(void **state)
{
	struct kvm_run *run = new_run();
	const char *full = "#12 cpu0 io out port=0x3f8 size=1 data=0x48 rip=0x7c0e mode=real\n";
	__u64 rip = 0x7c0e;
	uint8_t b = 0x48;

	(void)state;
	io_exit(run, KVM_EXIT_IO_OUT, 0x3f8, 1, 1, &b);
	for (size_t len = 0; len <= strlen(full) + 1; len++) {
		char *buf = malloc(len ? len : 1); /* exact size: ASan sees any overrun */

		assert_non_null(buf);
		assert_int_equal(trace_format(len ? buf : NULL, len, 12, 0, run, RUN_SIZE, &rip, "real"),
				 (int)strlen(full));
		if (len) {
			assert_int_equal(strlen(buf), len - 1 < strlen(full) ? len - 1 : strlen(full));
			assert_memory_equal(buf, full, strlen(buf));
		}
		free(buf);
	}
	free(run);
}

/* ---- trace_exit: numbering, filtering, tally ---- */

struct fixture {
	struct vm *vm;
	char *text;
	size_t len;
};

static struct fixture *fixture_new(unsigned kinds, bool tally)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->vm = calloc(1, sizeof(*fx->vm));
	assert_non_null(fx->vm);
	vm_init(fx->vm);
	fx->vm->run_size = RUN_SIZE;
	fx->vm->ncpus = 1;
	fx->vm->vcpus[0].vm = fx->vm;
	fx->vm->vcpus[0].fd = -1; /* no KVM: the registers read as unknown */
	fx->vm->vcpus[0].run = new_run();
	fx->vm->trace.tally = tally;
	if (kinds) {
		fx->vm->trace.out = open_memstream(&fx->text, &fx->len);
		assert_non_null(fx->vm->trace.out);
		fx->vm->trace.own_out = true;
		fx->vm->trace.kinds = kinds;
	}
	return fx;
}

static void fixture_free(struct fixture *fx)
{
	trace_destroy(&fx->vm->trace); /* closes the memstream: fx->text is final */
	free(fx->vm->vcpus[0].run);
	free(fx->vm);
	free(fx->text);
	free(fx);
}

static void test_exit_numbering(void **state)
{
	struct fixture *fx = fixture_new(TRACE_MMIO | TRACE_SHUTDOWN, true);
	struct vcpu *v = &fx->vm->vcpus[0];
	uint8_t b = 0x41;

	(void)state;
	assert_true(trace_wants_every_exit(&fx->vm->trace));
	io_exit(v->run, KVM_EXIT_IO_OUT, 0x3f8, 1, 1, &b); /* #1: not printed, still numbered */
	trace_exit(&fx->vm->trace, v);
	v->run->exit_reason = KVM_EXIT_MMIO; /* #2 */
	v->run->mmio.phys_addr = 0xd0000050;
	v->run->mmio.len = 4;
	v->run->mmio.is_write = 1;
	memset(v->run->mmio.data, 0, 8);
	trace_exit(&fx->vm->trace, v);
	v->run->exit_reason = KVM_EXIT_INTR; /* kvmini's own: no number, no line */
	trace_exit(&fx->vm->trace, v);
	v->run->exit_reason = KVM_EXIT_SHUTDOWN; /* #3 */
	trace_exit(&fx->vm->trace, v);
	assert_int_equal(fx->vm->trace.reasons[TR_IO], 1);
	assert_int_equal(fx->vm->trace.reasons[TR_MMIO], 1);
	assert_int_equal(fx->vm->trace.reasons[TR_INTR], 1);
	assert_int_equal(fx->vm->trace.reasons[TR_SHUTDOWN], 1);
	fflush(fx->vm->trace.out);
	assert_string_equal(fx->text, "#2 cpu0 mmio write addr=0xd0000050 size=4 data=0x00000000 rip=? mode=?\n"
				      "#3 cpu0 shutdown rip=? mode=?\n");
	fixture_free(fx);
}

static void test_exit_off(void **state)
{
	struct fixture *fx = fixture_new(0, false);
	struct vcpu *v = &fx->vm->vcpus[0];
	uint8_t b = 1;

	(void)state;
	assert_false(trace_wants_every_exit(&fx->vm->trace));
	io_exit(v->run, KVM_EXIT_IO_OUT, 0x80, 1, 1, &b);
	trace_exit(&fx->vm->trace, v);
	assert_int_equal(fx->vm->trace.reasons[TR_IO], 0);
	assert_int_equal(fx->vm->trace.seq, 0);
	fixture_free(fx);
}

static void test_trace_open_file(void **state)
{
	struct trace t;
	char path[] = "/tmp/kvmini-test-trace-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	memset(&t, 0, sizeof(t));
	trace_init(&t);
	assert_int_equal(trace_open(&t, 0, path), 0);
	assert_int_equal(t.kinds, TRACE_ALL);
	assert_true(trace_wants_every_exit(&t));
	trace_destroy(&t);
	unlink(path);
	memset(&t, 0, sizeof(t));
	trace_init(&t);
	assert_int_equal(trace_open(&t, TRACE_IO, "/nonexistent-dir/trace"), -ENOENT);
	assert_false(trace_wants_every_exit(&t));
	trace_destroy(&t);
}

/* ---- the tally and its tables ---- */

static void nop_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	(void)dev, (void)off, (void)data, (void)len;
}

static void nop_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	(void)dev, (void)off;
	memset(data, 0, len);
}

static const struct bus_ops nop_ops = {.read = nop_read, .write = nop_write};

static void test_tally_tables(void **state)
{
	struct trace *t = calloc(1, sizeof(*t));
	struct bus pio, mmio;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(t);
	assert_non_null(f);
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	assert_int_equal(bus_add(&pio, 0x3f8, 8, &nop_ops, NULL, "com1"), 0);
	assert_int_equal(bus_add(&mmio, 0xd0000000, 0x1000, &nop_ops, NULL, "vda"), 0);
	for (int i = 0; i < 5; i++)
		trace_tally_add(&t->pio, 0x3fd, false);
	for (int i = 0; i < 3; i++)
		trace_tally_add(&t->pio, 0x3f8, true);
	trace_tally_add(&t->pio, 0x99, false);
	trace_tally_add(&t->mmio, 0xd0000050, true);
	t->reasons[TR_IO] = 9;
	t->reasons[TR_MMIO] = 1;
	t->reasons[TR_SHUTDOWN] = 1;
	trace_print_tally(f, t, &pio, &mmio);
	fclose(f);
	assert_non_null(strstr(text, "by reason (11 in all)"));
	assert_non_null(strstr(text, "shutdown (triple fault)"));
	assert_null(strstr(text, "system event")); /* zero rows beyond io and mmio are left out */
	assert_non_null(strstr(text, "port I/O exits by port (3 distinct)"));
	/* Sorted by count: LSR polls first, then THR writes, then the unclaimed port. */
	assert_non_null(strstr(text, "0x03fd  in    com1                  5\n"));
	assert_true(strstr(text, "0x03fd") < strstr(text, "0x03f8"));
	assert_true(strstr(text, "0x03f8  out   com1                  3\n") < strstr(text, "0x0099"));
	assert_non_null(strstr(text, "0x0099  in    (unclaimed)"));
	assert_non_null(strstr(text, "0xd0000050  write vda                   1  (+0x50)"));
	free(text);
	free(t);
}

/* More distinct addresses than slots: every access still counted (the rest as overflow); the table shows 16 rows
 * and sums the others. */
static void test_tally_overflow(void **state)
{
	struct trace *t = calloc(1, sizeof(*t));
	struct bus pio, mmio;
	uint64_t sum = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	unsigned rows = 0;

	(void)state;
	assert_non_null(t);
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	for (unsigned a = 0; a < TRACE_TALLY_SLOTS + 44; a++)
		trace_tally_add(&t->mmio, 0xd0000000 + 4ULL * a, a & 1);
	for (unsigned i = 0; i < TRACE_TALLY_SLOTS; i++)
		sum += t->mmio.count[i];
	assert_int_equal(sum, TRACE_TALLY_SLOTS);
	assert_int_equal(t->mmio.overflow, 44);
	trace_print_tally(f, t, &pio, &mmio);
	fclose(f);
	for (const char *p = text; (p = strstr(p, "  0xd")); p++)
		rows++;
	assert_int_equal(rows, 16);
	assert_non_null(strstr(text, "(all others)                     284\n"));
	free(text);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kinds),
	    cmocka_unit_test(test_cpu_mode),
	    cmocka_unit_test(test_format_io),
	    cmocka_unit_test(test_format_mmio_and_others),
	    cmocka_unit_test(test_format_truncates),
	    cmocka_unit_test(test_exit_numbering),
	    cmocka_unit_test(test_exit_off),
	    cmocka_unit_test(test_trace_open_file),
	    cmocka_unit_test(test_tally_tables),
	    cmocka_unit_test(test_tally_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
