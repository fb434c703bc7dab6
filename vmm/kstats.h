/* kstats.h: KVM's own counters through its binary statistics interface (KVM_GET_STATS_FD on the VM and vCPUs). */
#ifndef KVMINI_KSTATS_H
#define KVMINI_KSTATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vm;

#define KSTATS_NAME_MAX 64	   /* longest name kept (KVM's are under 48 bytes with the NUL) */
#define KSTATS_MAX	256	   /* distinct counters kept per set */
#define KSTATS_FILE_MAX (4u << 20) /* a stats file larger than this is not KVM's */

/* One counter, combined over the files added to its set: cumulative and instant values are summed (over vCPUs),
 * peaks take the largest. */
struct kstat {
	char name[KSTATS_NAME_MAX];
	uint32_t flags; /* KVM_STATS_TYPE_* | KVM_STATS_UNIT_* | KVM_STATS_BASE_* */
	int16_t exponent;
	uint64_t value;
};

struct kstats {
	struct kstat s[KSTATS_MAX];
	unsigned n;
	unsigned files; /* stats files added */
};

/*
 * Parse the image of one stats file, `len` bytes: a struct kvm_stats_header, the descriptors (each a struct
 * kvm_stats_desc followed by header.name_size bytes of NUL-terminated name) and the data (u64 items at
 * data_offset + desc.offset). Every single-item counter is added to `acc` by name; histograms are skipped. The
 * image comes from the kernel but is checked as if hostile: every offset, size and name is bounded by `len`.
 * 0, or -EBADMSG (malformed; acc unchanged) or -ENOSPC (more than KSTATS_MAX names; the rest dropped).
 */
int kstats_parse(const uint8_t *buf, size_t len, struct kstats *acc);

/* Read a stats fd to its end (at most KSTATS_FILE_MAX bytes) and kstats_parse it. 0 or -errno. */
int kstats_read_fd(int fd, struct kstats *acc);

/* A counter's value by name; 0 with *found false when the set lacks it (found may be NULL). */
uint64_t kstats_get(const struct kstats *ks, const char *name, int *found);

/* Print KVM's counters for the VM (the VM fd's, and the vCPUs' summed) to f: the ones worth knowing with a word on
 * each. One line instead when the kernel lacks KVM_CAP_BINARY_STATS_FD (Linux before 5.14). */
void kstats_print_vm(FILE *f, struct vm *vm);

#endif
