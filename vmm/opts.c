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

const char opts_usage[] =
    "usage: kvmini run -k KERNEL [-i INITRD] [-a CMDLINE] [-m SIZE] [options]\n"
    "       kvmini --help | --version\n"
    "\n"
    "Boot a Linux kernel in a KVM virtual machine with a serial console, ACPI and up to 64 CPUs.\n"
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
    "      --console KIND      where the guest's serial console goes: stdio (default), file:PATH, none\n"
    "      --timeout SECONDS   stop the guest after this long and exit with 124\n"
    "      --stats             at exit, print VM exit counts and memory use to stderr\n"
    "  -h, --help              this text\n"
    "\n"
    "Console: the guest's ttyS0 is on stdout and reads stdin. On a terminal, stdin is put in raw mode and\n"
    "Ctrl-A x quits.\n"
    "\n"
    "Exit status:\n"
    "  0    the guest powered off, rebooted or reset (poweroff, reboot, ACPI or i8042 reset, triple fault),\n"
    "       or Ctrl-A x\n"
    "  124  --timeout expired\n"
    "  125  kvmini could not start the guest (bad arguments, no /dev/kvm, unreadable or invalid kernel,\n"
    "       initrd too large); one line on stderr says why\n"
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

enum { OPT_CONSOLE = 256, OPT_TIMEOUT, OPT_STATS };

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
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){
	    .mem = OPTS_DEFAULT_MEM, .cmdline = OPTS_DEFAULT_CMDLINE, .cpus = 1, .console = CONSOLE_STDIO};
	optind = 0; /* GNU getopt: 0 re-initialises, so opts_parse can run more than once (tests) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:i:a:m:c:d:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->kernel = optarg;
			break;
		case 'i':
			o->initrd = optarg;
			break;
		case 'a':
			o->cmdline = optarg;
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
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!o->kernel) {
		snprintf(err, errlen, "no kernel given (-k KERNEL)");
		return -EINVAL;
	}
	return 0;
}
