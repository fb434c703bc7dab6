/*
 * trace.c: --trace prints one line per exit to userspace; --stats tallies them by reason and by port/address.
 *
 * A line, fields always in this order (README.md "Tracing exits"):
 *
 *   #N cpuC KIND DETAILS rip=0xRIP mode=MODE
 *
 *   N       the exit's number: one sequence for all vCPUs and all kinds (a --trace=io line keeps the number it
 *           has in a full trace), so a one-vCPU guest gives the same lines on every run
 *   KIND    io, mmio, hlt, shutdown or other
 *   DETAILS io:    in|out port=0xP size=S [count=K] data=0xD[,0xD...]  (count only for string I/O; 16 items shown)
 *           mmio:  read|write addr=0xA size=S data=0xD                  (little-endian value, 2*S hex digits)
 *           other: reason=NAME [type=T | suberror=E | hw_reason=0xH]
 *   MODE    real, vm86, prot16, prot32, compat16, compat32 or long (CR0.PE, RFLAGS.VM, EFER.LMA, CS.L, CS.D)
 *
 * The line is written after kvmini handled the exit, so reads show the value the device returned. No time
 * stamps, no host addresses: two runs of the same guest diff clean. KVM_RUN returning EINTR (kvmini's own kicks)
 * is not an exit of the guest's making and gets no line or number.
 */
#include "vmm/trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/vm.h"

#define TRACE_ITEMS_MAX 16 /* string I/O: the data items shown before "..." */
#define TALLY_ROWS	16 /* rows per table in --stats */

static const struct {
	const char *name;
	unsigned bit;
} kind_names[] = {
    {"io", TRACE_IO},	    {"mmio", TRACE_MMIO}, {"hlt", TRACE_HLT}, {"shutdown", TRACE_SHUTDOWN},
    {"other", TRACE_OTHER}, {"all", TRACE_ALL},
};

int trace_parse_kinds(const char *s, unsigned *kinds, char *err, size_t errlen)
{
	unsigned k = 0;

	if (!s) {
		*kinds = TRACE_ALL;
		return 0;
	}
	do {
		size_t n = strcspn(s, ",");
		size_t i;

		for (i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
			if (strlen(kind_names[i].name) == n && !strncmp(s, kind_names[i].name, n))
				break;
		if (i == sizeof(kind_names) / sizeof(kind_names[0])) {
			snprintf(err, errlen, "bad --trace kind '%.*s' (io, mmio, hlt, shutdown, other or all)", (int)n,
				 s);
			return -EINVAL;
		}
		k |= kind_names[i].bit;
		s += n;
		if (*s == ',' && !*++s) {
			snprintf(err, errlen, "bad --trace kinds: empty word after ','");
			return -EINVAL;
		}
	} while (*s);
	*kinds = k;
	return 0;
}

void trace_init(struct trace *t)
{
	t->out = NULL;
	t->own_out = false;
	t->kinds = 0;
	pthread_mutex_init(&t->lock, NULL);
}

int trace_open(struct trace *t, unsigned kinds, const char *path)
{
	FILE *f = stderr;

	if (path) {
		if (!(f = fopen(path, "we")))
			return -errno;
		/* A student may watch it with tail -f: whole lines, as they happen. */
		setvbuf(f, NULL, _IOLBF, 0);
		t->own_out = true;
	}
	t->out = f;
	t->kinds = kinds ? kinds : TRACE_ALL;
	return 0;
}

void trace_destroy(struct trace *t)
{
	if (t->out && t->own_out)
		fclose(t->out);
	t->out = NULL;
	t->own_out = false;
	pthread_mutex_destroy(&t->lock);
}

bool trace_wants_every_exit(const struct trace *t)
{
	return t->out != NULL;
}

const char *trace_cpu_mode(const struct kvm_sregs *s, uint64_t rflags)
{
	if (!(s->cr0 & 1)) /* CR0.PE */
		return "real";
	if (s->efer & (1ULL << 10)) /* EFER.LMA: long mode active; CS.L picks 64-bit or compatibility code */
		return s->cs.l ? "long" : s->cs.db ? "compat32" : "compat16";
	if (rflags & (1ULL << 17)) /* RFLAGS.VM */
		return "vm86";
	return s->cs.db ? "prot32" : "prot16";
}

/* snprintf that appends, keeping the would-be length like snprintf does. */
struct line {
	char *b;
	size_t len;
	int pos;
};

static void __attribute__((format(printf, 2, 3))) put(struct line *l, const char *fmt, ...)
{
	size_t at = (size_t)l->pos < l->len ? (size_t)l->pos : l->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(l->len ? l->b + at : NULL, l->len - at, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->pos += n;
}

/* A little-endian value of `size` (1-8) bytes, zero-padded to its width. */
static void put_value(struct line *l, const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	memcpy(&v, p, size); /* x86 hosts only: the guest's byte order is ours */
	put(l, "0x%0*llx", (int)size * 2, (unsigned long long)v);
}

static const char *exit_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_UNKNOWN:
		return "unknown";
	case KVM_EXIT_EXCEPTION:
		return "exception";
	case KVM_EXIT_HYPERCALL:
		return "hypercall";
	case KVM_EXIT_DEBUG:
		return "debug";
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return "irq_window_open";
	case KVM_EXIT_FAIL_ENTRY:
		return "fail_entry";
	case KVM_EXIT_INTR:
		return "intr";
	case KVM_EXIT_INTERNAL_ERROR:
		return "internal_error";
	case KVM_EXIT_SYSTEM_EVENT:
		return "system_event";
	default:
		return NULL;
	}
}

static void put_io(struct line *l, const struct kvm_run *run, size_t run_size)
{
	unsigned size = run->io.size, count = run->io.count;
	const uint8_t *data = (const uint8_t *)run + run->io.data_offset;

	put(l, " io %s port=0x%x size=%u", run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", run->io.port, size);
	if (count != 1)
		put(l, " count=%u", count);
	/* KVM fills these; still, never read outside the kvm_run page because of them. */
	if ((size != 1 && size != 2 && size != 4) || !count ||
	    run->io.data_offset + (uint64_t)size * count > (uint64_t)run_size) {
		put(l, " data=?");
		return;
	}
	put(l, " data=");
	for (unsigned i = 0; i < count && i < TRACE_ITEMS_MAX; i++) {
		if (i)
			put(l, ",");
		put_value(l, data + (size_t)i * size, size);
	}
	if (count > TRACE_ITEMS_MAX)
		put(l, ",...");
}

int trace_format(char *buf, size_t len, uint64_t seq, unsigned cpu, const struct kvm_run *run, size_t run_size,
		 const __u64 *rip, const char *mode)
{
	struct line l = {.b = buf, .len = len};
	const char *name;

	if (len)
		buf[0] = '\0';
	put(&l, "#%llu cpu%u", (unsigned long long)seq, cpu);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		put_io(&l, run, run_size);
		break;
	case KVM_EXIT_MMIO:
		put(&l, " mmio %s addr=0x%llx size=%u data=", run->mmio.is_write ? "write" : "read",
		    (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		if (run->mmio.len >= 1 && run->mmio.len <= 8)
			put_value(&l, run->mmio.data, run->mmio.len);
		else
			put(&l, "?");
		break;
	case KVM_EXIT_HLT:
		put(&l, " hlt");
		break;
	case KVM_EXIT_SHUTDOWN:
		put(&l, " shutdown");
		break;
	default:
		if ((name = exit_name(run->exit_reason)))
			put(&l, " other reason=%s", name);
		else
			put(&l, " other reason=%u", run->exit_reason);
		if (run->exit_reason == KVM_EXIT_SYSTEM_EVENT) {
			static const char *const types[] = {NULL, "shutdown", "reset", "crash"};
			uint32_t ty = run->system_event.type;

			if (ty < sizeof(types) / sizeof(types[0]) && types[ty])
				put(&l, " type=%s", types[ty]);
			else
				put(&l, " type=%u", ty);
		} else if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
			put(&l, " suberror=%u", run->internal.suberror);
		} else if (run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
			put(&l, " hw_reason=0x%llx", (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		}
		break;
	}
	if (rip)
		put(&l, " rip=0x%llx", (unsigned long long)*rip);
	else
		put(&l, " rip=?");
	put(&l, " mode=%s\n", mode ? mode : "?");
	return l.pos;
}

static enum trace_reason reason_of(uint32_t exit_reason)
{
	switch (exit_reason) {
	case KVM_EXIT_IO:
		return TR_IO;
	case KVM_EXIT_MMIO:
		return TR_MMIO;
	case KVM_EXIT_HLT:
		return TR_HLT;
	case KVM_EXIT_SHUTDOWN:
		return TR_SHUTDOWN;
	case KVM_EXIT_SYSTEM_EVENT:
		return TR_SYSTEM_EVENT;
	case KVM_EXIT_INTERNAL_ERROR:
		return TR_INTERNAL_ERROR;
	case KVM_EXIT_FAIL_ENTRY:
		return TR_FAIL_ENTRY;
	case KVM_EXIT_INTR:
		return TR_INTR;
	default:
		return TR_UNKNOWN;
	}
}

static unsigned kind_of(enum trace_reason r)
{
	switch (r) {
	case TR_IO:
		return TRACE_IO;
	case TR_MMIO:
		return TRACE_MMIO;
	case TR_HLT:
		return TRACE_HLT;
	case TR_SHUTDOWN:
		return TRACE_SHUTDOWN;
	default:
		return TRACE_OTHER;
	}
}

void trace_tally_add(struct trace_tally *tt, uint64_t addr, bool is_write)
{
	uint64_t key = ((addr << 1) | is_write) + 1;
	/* Fibonacci hashing: neighbouring registers land in different slots. */
	unsigned h = (unsigned)((key * 0x9e3779b97f4a7c15ULL) >> 56) % TRACE_TALLY_SLOTS;

	for (unsigned n = 0; n < TRACE_TALLY_SLOTS; n++, h = (h + 1) % TRACE_TALLY_SLOTS) {
		uint64_t k = __atomic_load_n(&tt->key[h], __ATOMIC_ACQUIRE);

		if (!k) {
			uint64_t zero = 0;

			/* Claim the free slot; another vCPU may get there first, with this key or another. */
			if (__atomic_compare_exchange_n(&tt->key[h], &zero, key, false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE))
				k = key;
			else
				k = zero;
		}
		if (k == key) {
			__atomic_add_fetch(&tt->count[h], 1, __ATOMIC_RELAXED);
			return;
		}
	}
	__atomic_add_fetch(&tt->overflow, 1, __ATOMIC_RELAXED);
}

void trace_exit(struct trace *t, struct vcpu *v)
{
	struct kvm_run *run = v->run;
	enum trace_reason r = reason_of(run->exit_reason);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	bool have_regs;
	char line[512];
	uint64_t seq;

	if (t->tally) {
		__atomic_add_fetch(&t->reasons[r], 1, __ATOMIC_RELAXED);
		if (r == TR_IO)
			trace_tally_add(&t->pio, run->io.port, run->io.direction == KVM_EXIT_IO_OUT);
		else if (r == TR_MMIO)
			trace_tally_add(&t->mmio, run->mmio.phys_addr, run->mmio.is_write);
	}
	if (!t->out || r == TR_INTR)
		return;
	if (!(t->kinds & kind_of(r))) {
		__atomic_add_fetch(&t->seq, 1, __ATOMIC_RELAXED); /* numbered all the same */
		return;
	}
	/* The registers are this vCPU's own, read outside the lock; only the numbering and the write need it. */
	have_regs = ioctl(v->fd, KVM_GET_REGS, &regs) == 0 && ioctl(v->fd, KVM_GET_SREGS, &sregs) == 0;
	pthread_mutex_lock(&t->lock);
	seq = __atomic_add_fetch(&t->seq, 1, __ATOMIC_RELAXED);
	trace_format(line, sizeof(line), seq, v->id, run, (size_t)v->vm->run_size, have_regs ? &regs.rip : NULL,
		     have_regs ? trace_cpu_mode(&sregs, regs.rflags) : NULL);
	fputs(line, t->out); /* one call per line: vCPUs never interleave */
	pthread_mutex_unlock(&t->lock);
}

/* ---- --stats tables ---- */

struct row {
	uint64_t key, count;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

static void print_table(FILE *f, const char *title, const struct trace_tally *tt, const struct bus *b, bool pio)
{
	struct row rows[TRACE_TALLY_SLOTS];
	unsigned n = 0;
	uint64_t rest = tt->overflow;

	for (unsigned i = 0; i < TRACE_TALLY_SLOTS; i++)
		if (tt->key[i] && tt->count[i])
			rows[n++] = (struct row){tt->key[i] - 1, tt->count[i]};
	if (!n && !rest)
		return;
	qsort(rows, n, sizeof(rows[0]), row_cmp);
	fprintf(f, "kvmini: %s (%u distinct):\n", title, n);
	for (unsigned i = 0; i < n; i++) {
		uint64_t addr = rows[i].key >> 1;
		bool wr = rows[i].key & 1;
		const struct bus_range *br = bus_find(b, addr);

		if (i >= TALLY_ROWS) {
			rest += rows[i].count;
			continue;
		}
		if (pio)
			fprintf(f, "kvmini:   0x%04llx  %-5s %-12s %10llu\n", (unsigned long long)addr,
				wr ? "out" : "in", br ? br->name : "(unclaimed)", (unsigned long long)rows[i].count);
		else
			fprintf(f, "kvmini:   0x%08llx  %-5s %-12s %10llu  (+0x%llx)\n", (unsigned long long)addr,
				wr ? "write" : "read", br ? br->name : "(unclaimed)", (unsigned long long)rows[i].count,
				(unsigned long long)(br ? addr - br->base : 0));
	}
	if (rest)
		fprintf(f, "kvmini:   %-25s %10llu\n", "(all others)", (unsigned long long)rest);
}

void trace_print_tally(FILE *f, const struct trace *t, const struct bus *pio, const struct bus *mmio)
{
	static const char *const names[TR_NREASONS] = {
	    [TR_IO] = "io",
	    [TR_MMIO] = "mmio",
	    [TR_HLT] = "hlt",
	    [TR_SHUTDOWN] = "shutdown (triple fault)",
	    [TR_SYSTEM_EVENT] = "system event",
	    [TR_INTERNAL_ERROR] = "internal error",
	    [TR_FAIL_ENTRY] = "failed entry",
	    [TR_INTR] = "interrupted (intr)",
	    [TR_UNKNOWN] = "other",
	};
	uint64_t total = 0;

	for (unsigned i = 0; i < TR_NREASONS; i++)
		total += t->reasons[i];
	fprintf(f, "kvmini: exits to kvmini by reason (%llu in all):\n", (unsigned long long)total);
	for (unsigned i = 0; i < TR_NREASONS; i++)
		if (t->reasons[i] || i <= TR_MMIO)
			fprintf(f, "kvmini:   %-25s %10llu\n", names[i], (unsigned long long)t->reasons[i]);
	print_table(f, "port I/O exits by port", &t->pio, pio, true);
	print_table(f, "MMIO exits by address", &t->mmio, mmio, false);
}
