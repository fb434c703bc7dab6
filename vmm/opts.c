/* opts.c: command-line parsing for `kvmini run`: every value checked, every error one sentence. */
#include "vmm/opts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio_blk.h"
#include "vmm/layout.h"
#include "vmm/netdev.h"
#include "vmm/trace.h"

const char opts_usage[] =
    "usage: kvmini run -k KERNEL [-i INITRD] [-a CMDLINE] [-m SIZE] [options]\n"
    "       kvmini run -k KERNEL [options] -- CMD [ARGS...]\n"
    "       kvmini demo [NAME [--trace] [--step] [options]]   (a built-in teaching guest; no NAME: the list)\n"
    "       kvmini --help | --version\n"
    "\n"
    "Boot a Linux kernel in a KVM virtual machine with a serial console, ACPI and up to 64 CPUs.\n"
    "With -- CMD, kvmini's own init runs CMD in the guest (no root file system needed): CMD's stdout and\n"
    "stderr become kvmini's, the kernel's console goes to a file, and kvmini exits with CMD's status.\n"
    "\n"
    "  -k, --kernel PATH       the kernel: a bzImage (e.g. /boot/vmlinuz-*) or an ELF vmlinux with a PVH\n"
    "                          entry note; told apart by their magic\n"
    "  -i, --initrd PATH       an initramfs/initrd to hand the kernel\n"
    "  -a, --append CMDLINE    the kernel command line, used as given\n"
    "                          (default: \"" OPTS_DEFAULT_CMDLINE "\")\n"
    "  -m, --memory SIZE       guest RAM, with a K, M or G suffix; a bare number is MiB (default 512M)\n"
    "  -c, --cpus N            virtual CPUs, 1 to 64 (default 1)\n"
    "  -d, --disk PATH[,ro][,snapshot][,serial=ID]\n"
    "                          a raw disk image as a virtio-blk disk (vda, vdb, ... in order; up to 8).\n"
    "                          ro: read-only; snapshot: writes go to a private overlay, the image never\n"
    "                          changes; serial: the ID the guest reads (20 bytes at most)\n"
    "  -n, --net BACKEND[,mac=MAC]\n"
    "                          a virtio-net NIC (eth0, eth1, ... in order; default MAC stable per BACKEND):\n"
    "                          tap:IFNAME  host tap IFNAME (created if missing: needs CAP_NET_ADMIN)\n"
    "                          user        rootless: kvmini starts passt (DHCP, the host's network)\n"
    "                          stream:PATH a passt-compatible stream socket someone else started\n"
    "      --console KIND      where the guest's serial console goes: stdio (default), file:PATH, none;\n"
    "                          with a CMD: a file in $TMPDIR (kept when the run fails)\n"
    "      --timeout SECONDS   stop the guest after this long and exit with 124\n"
    "      --boot-timeout SECONDS  exit with 124 if the init has not said it is ready by then\n"
    "      --result FILE.json  at exit, write the exit reason, statuses, times and exit counts as JSON\n"
    "  With a CMD:\n"
    "      --add HOST[:GUEST]  copy a file or directory into the guest (GUEST: an absolute path; default:\n"
    "                          the same path); repeatable\n"
    "      --add-bin PATH      copy a program with its ELF interpreter and shared libraries; repeatable\n"
    "                          (CMD itself is found on this host's PATH and added this way if needed)\n"
    "      --modules DIR       kernel modules (e.g. /lib/modules/VERSION) the init loads: the power button,\n"
    "                          evdev, and virtio for -d and -n (a module not found is taken as built in)\n"
    "  Seeing what the hypervisor does:\n"
    "      --stats             at exit, print exit counts (by reason, port and MMIO address; KVM's own\n"
    "                          counters) and memory use to stderr\n"
    "      --trace[=KINDS]     one line per exit to kvmini on stderr: number, vCPU, kind, port or address,\n"
    "                          size, direction, data, RIP, CPU mode. KINDS: a comma list of io, mmio, hlt,\n"
    "                          shutdown, other (default: all). Turns off COM1's write batching\n"
    "      --trace-file PATH   write the trace lines to PATH instead (implies --trace)\n"
    "      --explain-boot      before the guest runs, print what the loader did: the kernel's header, where\n"
    "                          everything went in guest memory, the E820 map and vCPU 0's registers\n"
    "      --step              after each exit to kvmini, describe it on stderr and wait for Enter\n"
    "                          (c Enter: run on without stopping); stdin is then not the guest's\n"
    "  -h, --help              this text\n"
    "\n"
    "Console: the guest's ttyS0 is on stdout and reads stdin. On a terminal, stdin is put in raw mode and\n"
    "Ctrl-A x quits.\n"
    "\n"
    "Exit status:\n"
    "  0-122  the status the guest reported: CMD's, or a value written to the exit device (port 0xf4,\n"
    "       1 to 4 bytes; from a shell: printf '\\007' | dd of=/dev/port bs=1 seek=244). A reported\n"
    "       status of 123-255 becomes 1 (--result keeps the value)\n"
    "  0    without a CMD: the guest powered off, rebooted or reset (poweroff, reboot, ACPI or i8042 reset,\n"
    "       triple fault), or Ctrl-A x\n"
    "  123  with a CMD: the guest stopped without reporting a status\n"
    "  124  --timeout or --boot-timeout expired\n"
    "  125  kvmini could not start the guest (bad arguments, no /dev/kvm, unreadable or invalid kernel,\n"
    "       initrd too large); one line on stderr says why\n"
    "  126  the guest kernel panicked (seen on the console); its last lines are on stderr\n"
    "  127  KVM failed to run the guest (internal error, unexpected exit); vCPU registers on stderr\n"
    "  128+N  kvmini was stopped by signal N: SIGHUP, or a second SIGINT/SIGTERM\n"
    "\n"
    "Signals: the first SIGINT or SIGTERM presses the guest's ACPI power button (a guest that handles it shuts\n"
    "down in order and kvmini exits 0); a second one, or SIGHUP, stops the guest at once.\n";

int opts_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 20;

	if (!s || !*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'b':
	case 'B':
		shift = 0;
		end++;
		break;
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && shift)
		end++; /* accept "MiB"-style suffixes too */
	if ((*end == 'B' || *end == 'b') && shift)
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int opts_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 1e8)
		return -EINVAL;
	*out = v;
	return 0;
}

enum {
	OPT_CONSOLE = 256,
	OPT_TIMEOUT,
	OPT_STATS,
	OPT_ADD,
	OPT_ADD_BIN,
	OPT_MODULES,
	OPT_BOOT_TIMEOUT,
	OPT_RESULT,
	OPT_TRACE,
	OPT_TRACE_FILE,
	OPT_EXPLAIN_BOOT,
	OPT_DEMO,
	OPT_STEP,
};

/* A repeatable option that collects its values. */
static int opts_collect(const char **list, unsigned *n, const char *v, const char *name, char *err, size_t errlen)
{
	if (!*v) {
		snprintf(err, errlen, "option '%s' needs a value", name);
		return -EINVAL;
	}
	if (*n >= OPTS_MAX_FILES) {
		snprintf(err, errlen, "too many %s options (at most %d)", name, OPTS_MAX_FILES);
		return -EINVAL;
	}
	list[(*n)++] = v;
	return 0;
}

/* After the options: nothing, or `--` and the CMD. Then the combinations that cannot work. */
static int opts_check(struct opts *o, int argc, char **argv, char *err, size_t errlen)
{
	if (optind < argc && strcmp(argv[optind - 1], "--") != 0) {
		snprintf(err, errlen, "unexpected argument '%s' (a command to run in the guest goes after --)",
			 argv[optind]);
		return -EINVAL;
	}
	if (optind < argc) {
		o->cmd = argv + optind;
		o->ncmd = (unsigned)(argc - optind);
	}
	if (o->demo && (o->kernel || o->initrd || o->ncmd)) {
		snprintf(err, errlen, "a demo is its own guest: no -k, -i or command with it");
		return -EINVAL;
	}
	if (!o->kernel && !o->demo) {
		snprintf(err, errlen, "no kernel given (-k KERNEL)");
		return -EINVAL;
	}
	if (o->ncmd && o->initrd) {
		snprintf(err, errlen,
			 "-i and a command after -- exclude each other: the command needs kvmini's own "
			 "init, -i brings yours");
		return -EINVAL;
	}
	if (!o->ncmd && (o->nadds || o->nbins || o->modules)) {
		snprintf(err, errlen,
			 "--add, --add-bin and --modules go with a command to run (kvmini run -k K ... -- "
			 "CMD)");
		return -EINVAL;
	}
	if (o->ncmd && !o->cmdline_set)
		o->cmdline = OPTS_CMD_CMDLINE;
	if (o->trace_file && !o->trace_kinds)
		o->trace_kinds = TRACE_ALL;
	return 0;
}

int opts_parse(struct opts *o, int argc, char **argv, char *err, size_t errlen)
{
	static const struct option longopts[] = {
	    {"kernel", required_argument, NULL, 'k'},
	    {"initrd", required_argument, NULL, 'i'},
	    {"append", required_argument, NULL, 'a'},
	    {"memory", required_argument, NULL, 'm'},
	    {"cpus", required_argument, NULL, 'c'},
	    {"disk", required_argument, NULL, 'd'},
	    {"net", required_argument, NULL, 'n'},
	    {"console", required_argument, NULL, OPT_CONSOLE},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"stats", no_argument, NULL, OPT_STATS},
	    {"add", required_argument, NULL, OPT_ADD},
	    {"add-bin", required_argument, NULL, OPT_ADD_BIN},
	    {"modules", required_argument, NULL, OPT_MODULES},
	    {"boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT},
	    {"result", required_argument, NULL, OPT_RESULT},
	    {"trace", optional_argument, NULL, OPT_TRACE},
	    {"trace-file", required_argument, NULL, OPT_TRACE_FILE},
	    {"explain-boot", no_argument, NULL, OPT_EXPLAIN_BOOT},
	    {"demo", required_argument, NULL, OPT_DEMO}, /* what `kvmini demo NAME` becomes (vmm/main.c) */
	    {"step", no_argument, NULL, OPT_STEP},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	bool mem_set = false;

	*o = (struct opts){
	    .mem = OPTS_DEFAULT_MEM, .cmdline = OPTS_DEFAULT_CMDLINE, .cpus = 1, .console = CONSOLE_STDIO};
	optind = 0; /* GNU getopt: 0 re-initialises, so opts_parse can run more than once (tests) */
	opterr = 0;
	/* "+": stop at the first non-option, so a CMD's own options are never taken for ours. */
	while ((c = getopt_long(argc, argv, "+:k:i:a:m:c:d:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->kernel = optarg;
			break;
		case 'i':
			o->initrd = optarg;
			break;
		case 'a':
			o->cmdline = optarg;
			o->cmdline_set = true;
			break;
		case 'm':
			if (opts_parse_size(optarg, &o->mem) < 0 || o->mem % 4096) {
				snprintf(err, errlen, "bad memory size '%s' (examples: 512M, 2G)", optarg);
				return -EINVAL;
			}
			if (o->mem < GUEST_MEM_MIN || o->mem > GUEST_MEM_MAX) {
				snprintf(err, errlen, "memory size '%s' out of range (64M to 1T)", optarg);
				return -EINVAL;
			}
			mem_set = true;
			break;
		case 'c': {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || !isdigit((unsigned char)*optarg) || n < 1 ||
			    n > OPTS_MAX_CPUS) {
				snprintf(err, errlen, "bad CPU count '%s' (1 to %d)", optarg, OPTS_MAX_CPUS);
				return -EINVAL;
			}
			o->cpus = (unsigned)n;
			break;
		}
		case 'd': {
			struct virtio_blk_opts bo;
			char why[160];

			if (o->ndisks + o->nnets >= OPTS_MAX_DISKS) {
				snprintf(err, errlen, "too many disks (at most %d disks and NICs in all)",
					 OPTS_MAX_DISKS);
				return -EINVAL;
			}
			if (virtio_blk_parse(optarg, &bo, why, sizeof(why)) < 0) {
				snprintf(err, errlen, "%s", why);
				return -EINVAL;
			}
			o->disks[o->ndisks++] = optarg;
			break;
		}
		case 'n': {
			char arg[NETDEV_ARG_MAX];
			enum netdev_kind kind;
			uint8_t mac[6];

			if (o->ndisks + o->nnets >= OPTS_MAX_DISKS) {
				snprintf(err, errlen, "too many disks and NICs (at most %d in all)", OPTS_MAX_DISKS);
				return -EINVAL;
			}
			if (netdev_parse(optarg, &kind, arg, mac, err, errlen) < 0)
				return -EINVAL;
			o->nets[o->nnets++] = optarg;
			break;
		}
		case OPT_CONSOLE:
			o->console_set = true;
			if (!strcmp(optarg, "stdio")) {
				o->console = CONSOLE_STDIO;
			} else if (!strcmp(optarg, "none")) {
				o->console = CONSOLE_NONE;
			} else if (!strncmp(optarg, "file:", 5) && optarg[5]) {
				o->console = CONSOLE_FILE;
				o->console_path = optarg + 5;
			} else {
				snprintf(err, errlen, "bad --console '%s' (stdio, file:PATH or none)", optarg);
				return -EINVAL;
			}
			break;
		case OPT_TIMEOUT:
			if (opts_parse_seconds(optarg, &o->timeout) < 0) {
				snprintf(err, errlen, "bad --timeout '%s' (seconds, more than 0)", optarg);
				return -EINVAL;
			}
			break;
		case OPT_STATS:
			o->stats = true;
			break;
		case OPT_ADD:
			if (opts_collect(o->adds, &o->nadds, optarg, "--add", err, errlen) < 0)
				return -EINVAL;
			break;
		case OPT_ADD_BIN:
			if (opts_collect(o->bins, &o->nbins, optarg, "--add-bin", err, errlen) < 0)
				return -EINVAL;
			break;
		case OPT_MODULES:
			o->modules = optarg;
			break;
		case OPT_BOOT_TIMEOUT:
			if (opts_parse_seconds(optarg, &o->boot_timeout) < 0) {
				snprintf(err, errlen, "bad --boot-timeout '%s' (seconds, more than 0)", optarg);
				return -EINVAL;
			}
			break;
		case OPT_RESULT:
			if (!*optarg) {
				snprintf(err, errlen, "option '--result' needs a file name");
				return -EINVAL;
			}
			o->result = optarg;
			break;
		case OPT_TRACE:
			/* Only --trace=KINDS takes a value: "--trace io" would be a stray argument. */
			if (trace_parse_kinds(optarg, &o->trace_kinds, err, errlen) < 0)
				return -EINVAL;
			break;
		case OPT_TRACE_FILE:
			if (!*optarg) {
				snprintf(err, errlen, "option '--trace-file' needs a file name");
				return -EINVAL;
			}
			o->trace_file = optarg;
			break;
		case OPT_EXPLAIN_BOOT:
			o->explain_boot = true;
			break;
		case OPT_DEMO:
			o->demo = optarg;
			break;
		case OPT_STEP:
			o->step = true;
			break;
		case 'h':
			o->help = true;
			return 0;
		case ':':
		default: {
			/* Name the option as typed: a long one is argv[optind - 1]; a short one is optopt, since
			 * inside a group like -Zk optind has not moved past it yet (getopt also sets optopt for
			 * long options, so the "--" test comes first). */
			const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
			bool is_long = !strncmp(arg, "--", 2);
			const char *what = c == ':' ? "needs a value" : "is unknown (see kvmini --help)";

			if (is_long || !optopt)
				snprintf(err, errlen, "option '%s' %s", arg, what);
			else
				snprintf(err, errlen, "option '-%c' %s", optopt, what);
			return -EINVAL;
		}
		}
	}
	if (o->demo && !mem_set)
		o->mem = GUEST_DEMO_MEM; /* a demo needs a few pages, not a kernel's RAM */
	return opts_check(o, argc, argv, err, errlen);
}
