/* opts.h: the `kvmini run` options, parsed without side effects so tests can feed it argv. */
#ifndef KVMINI_OPTS_H
#define KVMINI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/console.h"

#define OPTS_DEFAULT_MEM     (512ULL << 20)
#define OPTS_MAX_CPUS	     64
#define OPTS_MAX_DISKS	     8 /* = GUEST_VIRTIO_MAX: every virtio device takes a slot */
#define OPTS_DEFAULT_CMDLINE "console=ttyS0 reboot=k"
/* With a CMD: the kernel log stays quiet (it goes to a file anyway) and a panic reboots at once. */
#define OPTS_CMD_CMDLINE "console=ttyS0 reboot=k panic=-1 quiet"
#define OPTS_MAX_FILES	 64

struct opts {
	const char *kernel, *initrd, *cmdline;
	uint64_t mem;
	unsigned cpus;			   /* 1..OPTS_MAX_CPUS */
	const char *disks[OPTS_MAX_DISKS]; /* -d specs, checked with virtio_blk_parse: vda, vdb, ... in order */
	unsigned ndisks;
	const char *nets[OPTS_MAX_DISKS]; /* -n specs, checked with netdev_parse: eth0, eth1, ... */
	unsigned nnets;
	enum console_kind console;
	const char *console_path;
	double timeout; /* seconds; 0 = none */
	bool stats;
	bool help;
	bool console_set; /* --console was given (a CMD otherwise sends the console to a file) */
	bool cmdline_set; /* -a was given */
	/* kvmini run ... -- CMD [ARGS...]: the built-in init runs CMD and reports its status */
	char **cmd;
	unsigned ncmd;
	const char *adds[OPTS_MAX_FILES]; /* --add HOST[:GUEST] */
	unsigned nadds;
	const char *bins[OPTS_MAX_FILES]; /* --add-bin PATH */
	unsigned nbins;
	const char *modules; /* --modules DIR */
	double boot_timeout; /* seconds until the init says it is ready; 0 = none */
	const char *result;  /* --result FILE.json */
	/* teaching mode */
	unsigned trace_kinds;	/* --trace[=KINDS]: TRACE_* bits (vmm/trace.h); 0: no trace */
	const char *trace_file; /* --trace-file PATH: trace lines there instead of stderr (implies --trace) */
	bool explain_boot;	/* --explain-boot: before the first KVM_RUN, say what the loader did */
	const char *demo;	/* kvmini demo NAME (--demo NAME): a built-in guest instead of -k (vmm/demo.h) */
	bool step;		/* --step: wait for Enter after each exit */
};

/* Parse `kvmini run` arguments (argv[0] is "run"). 0, or -EINVAL with a message in err (size errlen). */
int opts_parse(struct opts *o, int argc, char **argv, char *err, size_t errlen);
/* "512M", "2G", "65536K", "1073741824B"; a bare number means MiB (as in QEMU and kvmtool). 0 or -EINVAL. */
int opts_parse_size(const char *s, uint64_t *out);
/* Seconds, > 0, decimals allowed. 0 or -EINVAL. */
int opts_parse_seconds(const char *s, double *out);

extern const char opts_usage[];

#endif
