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
};

/* Parse `kvmini run` arguments (argv[0] is "run"). 0, or -EINVAL with a message in err (size errlen). */
int opts_parse(struct opts *o, int argc, char **argv, char *err, size_t errlen);
/* "512M", "2G", "65536K", "1073741824B"; a bare number means MiB (as in QEMU and kvmtool). 0 or -EINVAL. */
int opts_parse_size(const char *s, uint64_t *out);
/* Seconds, > 0, decimals allowed. 0 or -EINVAL. */
int opts_parse_seconds(const char *s, double *out);

extern const char opts_usage[];

#endif
