/* test_opts.c: sizes, seconds and `kvmini run` argv parsing: every option in both forms, defaults, every error. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/netdev.h"
#include "vmm/opts.h"
#include "vmm/trace.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)

/* ---- opts_parse_size ---- */

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = 0xdeadbeef;

	print_message("size '%s'\n", s);
	assert_int_equal(opts_parse_size(s, &v), 0);
	assert_int_equal(v, want);
}

static void size_bad(const char *s)
{
	uint64_t v = 0xdeadbeef;

	print_message("size '%s'\n", s);
	assert_int_equal(opts_parse_size(s, &v), -EINVAL);
	assert_int_equal(v, 0xdeadbeef); /* untouched on error */
}

static void test_size_good(void **state)
{
	(void)state;
	size_ok("512M", 512 * MiB);
	size_ok("512m", 512 * MiB);
	size_ok("2G", 2 * GiB);
	size_ok("1g", 1 * GiB);
	size_ok("65536K", 64 * MiB);
	size_ok("65536k", 64 * MiB);
	size_ok("4096B", 4096);
	size_ok("4096b", 4096);
	size_ok("1024", 1024 * MiB); /* a bare number is MiB */
	size_ok("1", 1 * MiB);
	size_ok("1MiB", 1 * MiB);
	size_ok("1MB", 1 * MiB);
	size_ok("2GiB", 2 * GiB);
	size_ok("4KiB", 4 * KiB);
	size_ok("1T", 1 * TiB);
	size_ok("0", 0);
	size_ok("0M", 0);
	size_ok("1073741824B", 1 * GiB);
	size_ok("007M", 7 * MiB); /* decimal, not octal */
	size_ok("16777215T", 16777215 * TiB);
	size_ok("17592186044415M", 17592186044415ULL * MiB); /* the largest MiB count that fits */
}

static void test_size_bad(void **state)
{
	(void)state;
	size_bad("");
	size_bad("M");
	size_bad("G1");
	size_bad("12Q");
	size_bad("-1M");
	size_bad("-0");
	size_bad("+5M");
	size_bad("1.5G");
	size_bad(" 5M");
	size_bad("5M ");
	size_bad("5 M");
	size_bad("5MM");
	size_bad("5MiBB");
	size_bad("5Bi");
	size_bad("5iB");
	size_bad("0x10M");
	size_bad("1e3M");
	size_bad("99999999999999999999G");
	size_bad("18446744073709551616"); /* 2^64 */
	size_bad("18446744073709551616B");
	size_bad("18014398509481984M"); /* 2^54 MiB = 2^74 bytes */
	size_bad("17592186044416M");	/* 2^44 MiB = 2^64 bytes: one too many */
	size_bad("16777216T");
	size_bad(NULL);
}

/* Regression: opts_parse_size once rejected only a leading space (" 5M") while strtoull skips any whitespace,
 * so a tab or newline before the number is accepted: "\t5M" parses as 5 MiB. */
static void test_size_bad_leading_whitespace(void **state)
{
	(void)state;
	size_bad("\t5M");
	size_bad("\n5M");
}

/* ---- opts_parse_seconds ---- */

static void test_seconds(void **state)
{
	double v;

	(void)state;
	assert_int_equal(opts_parse_seconds("5", &v), 0);
	assert_true(v == 5.0);
	assert_int_equal(opts_parse_seconds("0.5", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(opts_parse_seconds("120", &v), 0);
	assert_true(v == 120.0);
	assert_int_equal(opts_parse_seconds("0.001", &v), 0);
	assert_true(v == 0.001);

	static const char *const bad[] = {"",	 "0",	 "0.0", "-1",	    "-0.5",  "abc",   "5s", "1,5",
					  "inf", "-inf", "nan", "infinity", "1e100", "1e400", NULL};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42.0;
		print_message("seconds '%s'\n", bad[i] ? bad[i] : "(null)");
		assert_int_equal(opts_parse_seconds(bad[i], &v), -EINVAL);
		assert_true(v == 42.0);
	}
}

/* ---- opts_parse ---- */

#define ERRLEN 256

static int run_argv(struct opts *o, char *err, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	memset(o, 0xa5, sizeof(*o));
	err[0] = '\0';
	return opts_parse(o, argc, argv, err, ERRLEN);
}

/* A fresh, writable argv each time: getopt permutes it. */
#define PARSE(o, err, ...) run_argv(o, err, (char *[]){"run", __VA_ARGS__, NULL})

static void expect_err(int rc, const char *err, const char *mention)
{
	print_message("err: %s\n", err);
	assert_int_equal(rc, -EINVAL);
	assert_true(strlen(err) > 0);
	if (mention)
		assert_non_null(strstr(err, mention));
}

static void test_defaults(void **state)
{
	struct opts o;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(PARSE(&o, err, "-k", "bzImage"), 0);
	assert_string_equal(o.kernel, "bzImage");
	assert_null(o.initrd);
	assert_int_equal(o.mem, 512 * MiB);
	assert_int_equal(o.mem, OPTS_DEFAULT_MEM);
	assert_int_equal(o.cpus, 1);
	assert_string_equal(o.cmdline, "console=ttyS0 reboot=k");
	assert_int_equal(o.console, CONSOLE_STDIO);
	assert_null(o.console_path);
	assert_true(o.timeout == 0);
	assert_false(o.stats);
	assert_false(o.help);
}

static void test_short_forms(void **state)
{
	struct opts o;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(
	    PARSE(&o, err, "-k", "/boot/vmlinuz", "-i", "/tmp/initrd.gz", "-a", "console=ttyS0 quiet", "-m", "1G"), 0);
	assert_string_equal(o.kernel, "/boot/vmlinuz");
	assert_string_equal(o.initrd, "/tmp/initrd.gz");
	assert_string_equal(o.cmdline, "console=ttyS0 quiet");
	assert_int_equal(o.mem, 1 * GiB);
	assert_false(o.help);
	/* Values attached to the letter. */
	assert_int_equal(PARSE(&o, err, "-kK", "-iI", "-aA", "-m2G"), 0);
	assert_string_equal(o.kernel, "K");
	assert_string_equal(o.initrd, "I");
	assert_string_equal(o.cmdline, "A");
	assert_int_equal(o.mem, 2 * GiB);
	/* -h: help, no kernel needed. */
	assert_int_equal(PARSE(&o, err, "-h"), 0);
	assert_true(o.help);
}

static void test_long_forms(void **state)
{
	struct opts o;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--kernel", "k1", "--initrd", "i1", "--append", "a b c", "--memory", "256M",
			       "--console", "none", "--timeout", "2.5", "--stats"),
			 0);
	assert_string_equal(o.kernel, "k1");
	assert_string_equal(o.initrd, "i1");
	assert_string_equal(o.cmdline, "a b c");
	assert_int_equal(o.mem, 256 * MiB);
	assert_int_equal(o.console, CONSOLE_NONE);
	assert_true(o.timeout == 2.5);
	assert_true(o.stats);
	assert_false(o.help);
	/* --opt=value. */
	assert_int_equal(PARSE(&o, err, "--kernel=k2", "--initrd=i2", "--append=x=y", "--memory=128M",
			       "--console=file:/tmp/out", "--timeout=10"),
			 0);
	assert_string_equal(o.kernel, "k2");
	assert_string_equal(o.initrd, "i2");
	assert_string_equal(o.cmdline, "x=y");
	assert_int_equal(o.mem, 128 * MiB);
	assert_int_equal(o.console, CONSOLE_FILE);
	assert_string_equal(o.console_path, "/tmp/out");
	assert_true(o.timeout == 10);
	assert_false(o.stats);
	assert_int_equal(PARSE(&o, err, "--help"), 0);
	assert_true(o.help);
	/* Options after the kernel, in any order. */
	assert_int_equal(PARSE(&o, err, "--stats", "-m", "64M", "-k", "k3", "--console", "stdio"), 0);
	assert_string_equal(o.kernel, "k3");
	assert_int_equal(o.mem, 64 * MiB);
	assert_int_equal(o.console, CONSOLE_STDIO);
	assert_true(o.stats);
}

static void test_console(void **state)
{
	struct opts o;
	char err[ERRLEN];
	int rc;

	(void)state;
	assert_int_equal(PARSE(&o, err, "-k", "k", "--console", "file:/var/log/guest.log"), 0);
	assert_int_equal(o.console, CONSOLE_FILE);
	assert_string_equal(o.console_path, "/var/log/guest.log");
	assert_int_equal(PARSE(&o, err, "-k", "k", "--console", "none"), 0);
	assert_int_equal(o.console, CONSOLE_NONE);
	assert_int_equal(PARSE(&o, err, "-k", "k", "--console", "stdio"), 0);
	assert_int_equal(o.console, CONSOLE_STDIO);
	rc = PARSE(&o, err, "-k", "k", "--console", "serial");
	expect_err(rc, err, "serial");
	rc = PARSE(&o, err, "-k", "k", "--console", "file:");
	expect_err(rc, err, "file:");
	rc = PARSE(&o, err, "-k", "k", "--console", "file");
	expect_err(rc, err, NULL);
	rc = PARSE(&o, err, "-k", "k", "--console", "");
	expect_err(rc, err, NULL);
	rc = PARSE(&o, err, "-k", "k", "--console", "STDIO");
	expect_err(rc, err, NULL);
}

static void test_timeout(void **state)
{
	struct opts o;
	char err[ERRLEN];
	int rc;

	(void)state;
	assert_int_equal(PARSE(&o, err, "-k", "k", "--timeout", "30"), 0);
	assert_true(o.timeout == 30);
	assert_int_equal(PARSE(&o, err, "-k", "k", "--timeout", "0.25"), 0);
	assert_true(o.timeout == 0.25);
	rc = PARSE(&o, err, "-k", "k", "--timeout", "0");
	expect_err(rc, err, NULL);
	rc = PARSE(&o, err, "-k", "k", "--timeout", "-3");
	expect_err(rc, err, "-3");
	rc = PARSE(&o, err, "-k", "k", "--timeout", "soon");
	expect_err(rc, err, "soon");
	rc = PARSE(&o, err, "-k", "k", "--timeout", "nan");
	expect_err(rc, err, NULL);
}

static void test_memory_range(void **state)
{
	struct opts o;
	char err[ERRLEN];
	int rc;

	(void)state;
	/* The limits themselves are accepted. */
	assert_int_equal(PARSE(&o, err, "-k", "k", "-m", "64M"), 0);
	assert_int_equal(o.mem, 64 * MiB);
	assert_int_equal(PARSE(&o, err, "-k", "k", "-m", "1T"), 0);
	assert_int_equal(o.mem, 1 * TiB);
	assert_int_equal(PARSE(&o, err, "-k", "k", "-m", "3073"), 0); /* MiB: just above the hole */
	assert_int_equal(o.mem, 3073 * MiB);
	rc = PARSE(&o, err, "-k", "k", "-m", "32M");
	expect_err(rc, err, "32M");
	rc = PARSE(&o, err, "-k", "k", "-m", "67104768B"); /* 64 MiB - 4 KiB */
	expect_err(rc, err, NULL);
	rc = PARSE(&o, err, "-k", "k", "-m", "2T");
	expect_err(rc, err, "2T");
	rc = PARSE(&o, err, "-k", "k", "-m", "1025G");
	expect_err(rc, err, NULL);
	rc = PARSE(&o, err, "-k", "k", "-m", "0");
	expect_err(rc, err, NULL);
	rc = PARSE(&o, err, "-k", "k", "-m", "4097B");
	expect_err(rc, err, "4097B");
	rc = PARSE(&o, err, "-k", "k", "-m", "67112961B"); /* 64 MiB + 1 */
	expect_err(rc, err, NULL);
	rc = PARSE(&o, err, "-k", "k", "--memory", "lots");
	expect_err(rc, err, "lots");
	rc = PARSE(&o, err, "-k", "k", "-m", "99999999999999999999G");
	expect_err(rc, err, NULL);
}

static void test_errors(void **state)
{
	struct opts o;
	char err[ERRLEN];
	int rc;

	(void)state;
	/* No kernel. */
	rc = run_argv(&o, err, (char *[]){"run", NULL});
	expect_err(rc, err, NULL);
	rc = PARSE(&o, err, "-i", "initrd", "-m", "1G");
	expect_err(rc, err, NULL);
	/* Unknown options. */
	rc = PARSE(&o, err, "-k", "k", "--bogus");
	expect_err(rc, err, "--bogus");
	rc = PARSE(&o, err, "-k", "k", "-x");
	expect_err(rc, err, "-x");
	rc = PARSE(&o, err, "--kernal", "k");
	expect_err(rc, err, "--kernal");
	rc = PARSE(&o, err, "-k", "k", "--stats=yes"); /* a flag given a value */
	expect_err(rc, err, NULL);
	/* Missing values. */
	rc = PARSE(&o, err, "-k");
	expect_err(rc, err, "-k");
	rc = PARSE(&o, err, "--kernel");
	expect_err(rc, err, "--kernel");
	rc = PARSE(&o, err, "-k", "k", "-m");
	expect_err(rc, err, "-m");
	rc = PARSE(&o, err, "-k", "k", "--console");
	expect_err(rc, err, "--console");
	rc = PARSE(&o, err, "-k", "k", "--timeout");
	expect_err(rc, err, "--timeout");
	rc = PARSE(&o, err, "-k", "k", "-i");
	expect_err(rc, err, "-i");
	rc = PARSE(&o, err, "-k", "k", "-a");
	expect_err(rc, err, "-a");
	/* Stray positional arguments, wherever they are. */
	rc = PARSE(&o, err, "-k", "k", "extra");
	expect_err(rc, err, "extra");
	rc = PARSE(&o, err, "stray", "-k", "k");
	expect_err(rc, err, "stray");
}

/* kvmini run -k K [options] -- CMD: everything after -- is CMD's, options included. */
static void test_cmd(void **state)
{
	struct opts o;
	char err[ERRLEN];
	int rc;

	(void)state;
	rc = PARSE(&o, err, "-k", "k", "--add", "a:/b", "--add-bin", "/usr/bin/env", "--modules", "/m", "--", "sh",
		   "-c", "exit 7", "-m");
	assert_int_equal(rc, 0);
	assert_int_equal(o.ncmd, 4);
	assert_string_equal(o.cmd[0], "sh");
	assert_string_equal(o.cmd[1], "-c");
	assert_string_equal(o.cmd[3], "-m");
	assert_int_equal(o.nadds, 1);
	assert_string_equal(o.adds[0], "a:/b");
	assert_int_equal(o.nbins, 1);
	assert_string_equal(o.modules, "/m");
	assert_string_equal(o.cmdline, OPTS_CMD_CMDLINE); /* quiet and panic=-1 unless -a says otherwise */
	assert_false(o.console_set);
	rc = PARSE(&o, err, "-k", "k", "-a", "console=ttyS0", "--console", "none", "--", "true");
	assert_int_equal(rc, 0);
	assert_string_equal(o.cmdline, "console=ttyS0");
	assert_true(o.console_set);
	/* Without a CMD nothing changes. */
	rc = PARSE(&o, err, "-k", "k");
	assert_int_equal(rc, 0);
	assert_int_equal(o.ncmd, 0);
	assert_string_equal(o.cmdline, OPTS_DEFAULT_CMDLINE);
	/* The combinations that cannot work, each named. */
	rc = PARSE(&o, err, "-k", "k", "-i", "initrd", "--", "true");
	expect_err(rc, err, "-i");
	rc = PARSE(&o, err, "-k", "k", "--add", "x");
	expect_err(rc, err, "--add");
	rc = PARSE(&o, err, "-k", "k", "--add", "", "--", "true");
	expect_err(rc, err, "--add");
	rc = PARSE(&o, err, "-k", "k", "--boot-timeout", "0", "--", "true");
	expect_err(rc, err, "--boot-timeout");
	rc = PARSE(&o, err, "-k", "k", "--result", "", "--", "true");
	expect_err(rc, err, "--result");
	rc = PARSE(&o, err, "-k", "k", "--boot-timeout", "2.5", "--result", "r.json", "--", "true");
	assert_int_equal(rc, 0);
	assert_true(o.boot_timeout > 2.4 && o.boot_timeout < 2.6);
	assert_string_equal(o.result, "r.json");
}

/* Regression: for an unknown letter inside a group of short options ("-Zk vmlinuz"), the message used to name
 * argv[optind - 1], which is the previous argument ("run") while getopt is still inside the group, instead of
 * the unknown option. */
static void test_unknown_option_in_group_named(void **state)
{
	struct opts o;
	char err[ERRLEN];
	int rc;

	(void)state;
	rc = PARSE(&o, err, "-Zk", "vmlinuz");
	expect_err(rc, err, "Z");
	assert_null(strstr(err, "'run'"));
}

static void test_repeated_calls(void **state)
{
	struct opts o;
	char err[ERRLEN];
	int rc;

	(void)state;
	/* An error in the middle of one call must not leave getopt state behind for the next. */
	for (int i = 0; i < 3; i++) {
		rc = PARSE(&o, err, "-k", "k", "-m", "12Q", "-i", "i");
		expect_err(rc, err, "12Q");
		rc = PARSE(&o, err, "-kK", "-x", "-i", "i");
		expect_err(rc, err, NULL);
		assert_int_equal(PARSE(&o, err, "-k", "a", "-m", "128M"), 0);
		assert_string_equal(o.kernel, "a");
		assert_int_equal(o.mem, 128 * MiB);
		assert_null(o.initrd);
		assert_int_equal(PARSE(&o, err, "-k", "b"), 0);
		assert_string_equal(o.kernel, "b");
		assert_int_equal(o.mem, 512 * MiB); /* back to the default */
		rc = PARSE(&o, err, "-h");
		assert_int_equal(rc, 0);
		assert_true(o.help);
		assert_int_equal(PARSE(&o, err, "--kernel", "c", "--stats"), 0);
		assert_false(o.help);
		assert_true(o.stats);
		/* Calls that end in the middle of a group of short options (-h returns at once; an unknown letter
		 * fails): the rest of the group must not leak into the next call. */
		assert_int_equal(PARSE(&o, err, "-hkX"), 0);
		assert_true(o.help);
		assert_int_equal(PARSE(&o, err, "-k", "d"), 0);
		assert_false(o.help);
		assert_string_equal(o.kernel, "d");
		rc = PARSE(&o, err, "-Zm32M", "-k", "k");
		expect_err(rc, err, NULL);
		assert_int_equal(PARSE(&o, err, "-k", "e"), 0);
		assert_string_equal(o.kernel, "e");
		assert_int_equal(o.mem, 512 * MiB);
	}
}

static void test_cpus(void **state)
{
	static const char *bad[] = {"0", "65", "-1", "+2", " 2", "2x", "", "4294967297", "0x4", "1.5"};
	struct opts o;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(PARSE(&o, err, "-k", "k", "-c", "2"), 0);
	assert_int_equal(o.cpus, 2);
	assert_int_equal(PARSE(&o, err, "-k", "k", "--cpus", "64"), 0);
	assert_int_equal(o.cpus, 64);
	assert_int_equal(PARSE(&o, err, "-k", "k", "--cpus=1"), 0);
	assert_int_equal(o.cpus, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("cpus '%s'\n", bad[i]);
		expect_err(PARSE(&o, err, "-k", "k", "-c", (char *)bad[i]), err, "CPU count");
	}
	expect_err(PARSE(&o, err, "-k", "k", "-c"), err, "-c");
}

static void test_disks(void **state)
{
	struct opts o;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(PARSE(&o, err, "-k", "k"), 0);
	assert_int_equal(o.ndisks, 0);
	assert_int_equal(
	    PARSE(&o, err, "-k", "k", "-d", "a.img", "--disk", "b.img,ro,serial=xyz", "-d", "c.img,snapshot"), 0);
	assert_int_equal(o.ndisks, 3);
	assert_string_equal(o.disks[0], "a.img");
	assert_string_equal(o.disks[1], "b.img,ro,serial=xyz");
	assert_string_equal(o.disks[2], "c.img,snapshot");
	expect_err(PARSE(&o, err, "-k", "k", "-d", "a.img,bogus"), err, "bogus");
	expect_err(PARSE(&o, err, "-k", "k", "-d", ""), err, NULL);
	expect_err(PARSE(&o, err, "-k", "k", "-d", "a.img,serial=123456789012345678901"), err, NULL);
	expect_err(PARSE(&o, err, "-k", "k", "-d", "a,ro,snapshot"), err, NULL);
	/* Eight disks fit (vda..vdh); a ninth is refused. */
	assert_int_equal(PARSE(&o, err, "-k", "k", "-d", "1", "-d", "2", "-d", "3", "-d", "4", "-d", "5", "-d", "6",
			       "-d", "7", "-d", "8"),
			 0);
	assert_int_equal(o.ndisks, 8);
	expect_err(PARSE(&o, err, "-k", "k", "-d", "1", "-d", "2", "-d", "3", "-d", "4", "-d", "5", "-d", "6", "-d",
			 "7", "-d", "8", "-d", "9"),
		   err, "too many disks");
}

static void test_nets(void **state)
{
	struct opts o;
	char err[ERRLEN], arg[NETDEV_ARG_MAX];
	enum netdev_kind kind;
	uint8_t mac[6], mac2[6];

	(void)state;
	assert_int_equal(PARSE(&o, err, "-k", "k", "-n", "tap:tap0", "--net", "user", "-n", "stream:/run/p.sock"), 0);
	assert_int_equal(o.nnets, 3);
	assert_int_equal(netdev_parse("tap:tap0,mac=52:54:00:12:34:56", &kind, arg, mac, err, ERRLEN), 0);
	assert_int_equal(kind, NETDEV_TAP);
	assert_string_equal(arg, "tap0");
	assert_int_equal(mac[0], 0x52);
	assert_int_equal(mac[5], 0x56);
	assert_int_equal(netdev_parse("stream:/run/p.sock", &kind, arg, mac, err, ERRLEN), 0);
	assert_int_equal(kind, NETDEV_STREAM);
	assert_string_equal(arg, "/run/p.sock");
	/* The default MAC: stable for a spec, locally administered and unicast, different for another spec. */
	assert_int_equal(netdev_parse("user", &kind, arg, mac, err, ERRLEN), 0);
	assert_int_equal(kind, NETDEV_USER);
	assert_int_equal(netdev_parse("user", &kind, arg, mac2, err, ERRLEN), 0);
	assert_memory_equal(mac, mac2, 6);
	assert_int_equal(mac[0] & 3, 2);
	assert_int_equal(netdev_parse("tap:other", &kind, arg, mac2, err, ERRLEN), 0);
	assert_memory_not_equal(mac, mac2, 6);
	expect_err(PARSE(&o, err, "-k", "k", "-n", "tap:"), err, "interface name");
	expect_err(PARSE(&o, err, "-k", "k", "-n", "tap:sixteen-characters"), err, "interface name");
	expect_err(PARSE(&o, err, "-k", "k", "-n", "slirp"), err, "tap:IFNAME, user or stream:PATH");
	expect_err(PARSE(&o, err, "-k", "k", "-n", "user,mac=01:00:00:00:00:01"), err, "unicast");
	expect_err(PARSE(&o, err, "-k", "k", "-n", "user,mac=52:54:00:12:34"), err, "mac=");
	expect_err(PARSE(&o, err, "-k", "k", "-n", "user,mac=52:54:00:12:34:56:78"), err, "mac=");
	expect_err(PARSE(&o, err, "-k", "k", "-n", "users"), err, NULL);
}

static void test_small_err_buffer(void **state)
{
	struct opts o;
	char err[16];
	char *argv[] = {"run", "-k", "k", "--console", "a-very-long-and-wrong-console-kind", NULL};

	(void)state;
	memset(err, 'Z', sizeof(err));
	assert_int_equal(opts_parse(&o, 5, argv, err, 8), -EINVAL);
	/* Truncated, terminated, and nothing written past errlen. */
	assert_int_equal(strlen(err), 7);
	for (size_t i = 8; i < sizeof(err); i++)
		assert_int_equal(err[i], 'Z');
}

/* Teaching mode: --trace[=KINDS], --trace-file, --explain-boot. */
static void test_teaching(void **state)
{
	struct opts o;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(PARSE(&o, err, "-k", "k"), 0);
	assert_int_equal(o.trace_kinds, 0);
	assert_null(o.trace_file);
	assert_false(o.explain_boot);
	assert_int_equal(PARSE(&o, err, "-k", "k", "--trace"), 0);
	assert_int_equal(o.trace_kinds, TRACE_ALL);
	assert_int_equal(PARSE(&o, err, "-k", "k", "--trace=io,mmio"), 0);
	assert_int_equal(o.trace_kinds, TRACE_IO | TRACE_MMIO);
	assert_int_equal(PARSE(&o, err, "--trace=hlt,shutdown,other", "-k", "k", "--explain-boot"), 0);
	assert_int_equal(o.trace_kinds, TRACE_HLT | TRACE_SHUTDOWN | TRACE_OTHER);
	assert_true(o.explain_boot);
	/* --trace-file alone traces everything; with --trace=KINDS it keeps the kinds. */
	assert_int_equal(PARSE(&o, err, "-k", "k", "--trace-file", "/tmp/t.txt"), 0);
	assert_string_equal(o.trace_file, "/tmp/t.txt");
	assert_int_equal(o.trace_kinds, TRACE_ALL);
	assert_int_equal(PARSE(&o, err, "-k", "k", "--trace-file=t", "--trace=mmio"), 0);
	assert_int_equal(o.trace_kinds, TRACE_MMIO);
	/* The bad word is named. */
	expect_err(PARSE(&o, err, "-k", "k", "--trace=io,bogus"), err, "'bogus'");
	expect_err(PARSE(&o, err, "-k", "k", "--trace=io,,mmio"), err, "--trace");
	expect_err(PARSE(&o, err, "-k", "k", "--trace=io,"), err, "--trace");
	expect_err(PARSE(&o, err, "-k", "k", "--trace="), err, NULL);
	expect_err(PARSE(&o, err, "-k", "k", "--trace-file"), err, "--trace-file");
	expect_err(PARSE(&o, err, "-k", "k", "--trace-file="), err, "--trace-file");
	expect_err(PARSE(&o, err, "-k", "k", "--explain-boot=yes"), err, "--explain-boot");
	/* Only --trace=KINDS takes a value: a separate word is a stray argument. */
	expect_err(PARSE(&o, err, "-k", "k", "--trace", "io"), err, "'io'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_size_good),
	    cmocka_unit_test(test_size_bad),
	    cmocka_unit_test(test_size_bad_leading_whitespace),
	    cmocka_unit_test(test_seconds),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_short_forms),
	    cmocka_unit_test(test_long_forms),
	    cmocka_unit_test(test_console),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_memory_range),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_cmd),
	    cmocka_unit_test(test_unknown_option_in_group_named),
	    cmocka_unit_test(test_repeated_calls),
	    cmocka_unit_test(test_small_err_buffer),
	    cmocka_unit_test(test_cpus),
	    cmocka_unit_test(test_disks),
	    cmocka_unit_test(test_nets),
	    cmocka_unit_test(test_teaching),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
