/* trace.h: what each exit to userspace was: one line per exit (--trace) and a tally by reason and port (--stats). */
#ifndef KVMINI_TRACE_H
#define KVMINI_TRACE_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/bus.h"

struct vcpu;

/* The exit kinds --trace=KINDS selects (a comma list of their names). */
enum {
	TRACE_IO = 1u << 0,	  /* port I/O: in, out, string (rep ins/outs) */
	TRACE_MMIO = 1u << 1,	  /* a read or write outside RAM: a device register */
	TRACE_HLT = 1u << 2,	  /* HLT reaching userspace (the in-kernel LAPIC normally keeps it in KVM) */
	TRACE_SHUTDOWN = 1u << 3, /* a triple fault */
	TRACE_OTHER = 1u << 4,	  /* system events, internal errors, failed entries, anything else */
	TRACE_ALL = (1u << 5) - 1,
};

/* The userspace exits --stats tallies by reason. */
enum trace_reason {
	TR_IO,
	TR_MMIO,
	TR_HLT,
	TR_SHUTDOWN,
	TR_SYSTEM_EVENT,
	TR_INTERNAL_ERROR,
	TR_FAIL_ENTRY,
	TR_INTR,
	TR_UNKNOWN,
	TR_NREASONS,
};

/* Exit counts per (address, direction), filled lock-free by the vCPU threads. Keys are (addr << 1 | is_write) + 1,
 * 0 marks a free slot; once claimed a slot keeps its key. */
#define TRACE_TALLY_SLOTS 256
struct trace_tally {
	uint64_t key[TRACE_TALLY_SLOTS];
	uint64_t count[TRACE_TALLY_SLOTS];
	uint64_t overflow; /* exits at addresses that found no free slot */
};

struct trace {
	FILE *out;	      /* NULL: no trace lines */
	bool own_out;	      /* out is a --trace-file kvmini opened */
	unsigned kinds;	      /* TRACE_* bits to print */
	bool tally;	      /* count exits by reason and address (--stats) */
	pthread_mutex_t lock; /* one line at a time, numbered in the order printed */
	uint64_t seq;	      /* exits seen so far, all kinds: the "#N" of the lines */
	uint64_t reasons[TR_NREASONS];
	struct trace_tally pio, mmio;
};

/* A comma list of io, mmio, hlt, shutdown, other (or all) into TRACE_* bits; NULL (a bare --trace) means all. 0, or
 * -EINVAL with a message naming the bad word in err. */
int trace_parse_kinds(const char *s, unsigned *kinds, char *err, size_t errlen);

/* Call once on a zeroed struct trace: no output, no tally. */
void trace_init(struct trace *t);
/* Print lines for `kinds` to `path` (created or truncated), or to stderr when path is NULL. 0 or -errno. */
int trace_open(struct trace *t, unsigned kinds, const char *path);
/* Flush and close the trace file; then the struct is as trace_init left it, minus the lock. */
void trace_destroy(struct trace *t);
/* Whether every exit should really exit (no batching behind KVM's back): trace lines are on. */
bool trace_wants_every_exit(const struct trace *t);

/* One exit of vCPU `v`, after kvmini handled it (so an IN or MMIO read shows the value the device returned):
 * counted when tallying, printed when its kind is selected. Cheap when both are off. */
void trace_exit(struct trace *t, struct vcpu *v);

/* The CPU mode from the segment registers: real, vm86, prot16, prot32, compat16, compat32, long. */
const char *trace_cpu_mode(const struct kvm_sregs *s, uint64_t rflags);

/* Format exit number `seq` of vCPU `cpu` from its kvm_run page (`run_size` bytes) into buf, with a newline; rip
 * and mode NULL print "?". Returns the length, as snprintf; the line is cut short, never overrun. */
int trace_format(char *buf, size_t len, uint64_t seq, unsigned cpu, const struct kvm_run *run, size_t run_size,
		 const __u64 *rip, const char *mode);

/* The tally as tables: exits by reason, then the top ports and MMIO addresses with the devices' names. */
void trace_print_tally(FILE *f, const struct trace *t, const struct bus *pio, const struct bus *mmio);

/* Count one access in a tally (exposed for tests). */
void trace_tally_add(struct trace_tally *tt, uint64_t addr, bool is_write);

#endif
