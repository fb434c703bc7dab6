/* kstats.c: read KVM's binary statistics files (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD) and print them. */
#include "vmm/kstats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/vm.h"

#define DESC_FIXED    16   /* struct kvm_stats_desc without its name: flags, exponent, size, offset, bucket_size */
#define NAME_SIZE_MAX 4096 /* header.name_size: KVM's is 48 */

_Static_assert(sizeof(struct kvm_stats_desc) == DESC_FIXED, "kvm_stats_desc is 16 bytes before its name");

struct desc {
	uint32_t flags;
	int16_t exponent;
	uint16_t size;
	uint32_t offset;
	const char *name;
	uint64_t value; /* the first item */
};

/* Descriptor i, checked: a NUL-terminated name inside the block, data items inside the buffer. */
static int desc_get(const uint8_t *buf, size_t len, const struct kvm_stats_header *h, size_t i, struct desc *d)
{
	const uint8_t *p = buf + h->desc_offset + i * (DESC_FIXED + (size_t)h->name_size);
	uint64_t at;

	memcpy(&d->flags, p, 4);
	memcpy(&d->exponent, p + 4, 2);
	memcpy(&d->size, p + 6, 2);
	memcpy(&d->offset, p + 8, 4);
	d->name = (const char *)p + DESC_FIXED;
	if (!memchr(d->name, '\0', h->name_size) || !d->name[0] || d->size == 0)
		return -EBADMSG;
	/* All u32/u16 operands: no overflow in 64 bits. */
	at = (uint64_t)h->data_offset + d->offset;
	if (at + (uint64_t)d->size * 8 > len)
		return -EBADMSG;
	memcpy(&d->value, buf + at, 8);
	return 0;
}

static void kstats_add(struct kstats *acc, const struct desc *d, int *err)
{
	unsigned type = d->flags & KVM_STATS_TYPE_MASK;
	struct kstat *s = NULL;

	for (unsigned i = 0; i < acc->n && !s; i++)
		if (!strcmp(acc->s[i].name, d->name))
			s = &acc->s[i];
	if (!s) {
		if (acc->n == KSTATS_MAX || strlen(d->name) >= KSTATS_NAME_MAX) {
			*err = -ENOSPC;
			return;
		}
		s = &acc->s[acc->n++];
		memset(s, 0, sizeof(*s));
		strcpy(s->name, d->name);
		s->flags = d->flags;
		s->exponent = d->exponent;
	}
	if (type == KVM_STATS_TYPE_PEAK)
		s->value = d->value > s->value ? d->value : s->value;
	else
		s->value += d->value;
}

int kstats_parse(const uint8_t *buf, size_t len, struct kstats *acc)
{
	struct kvm_stats_header h;
	size_t dsize;
	int err = 0;

	if (!buf || len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.name_size == 0 || h.name_size > NAME_SIZE_MAX || h.desc_offset > len || h.data_offset > len)
		return -EBADMSG;
	dsize = DESC_FIXED + (size_t)h.name_size;
	if (h.num_desc > (len - h.desc_offset) / dsize)
		return -EBADMSG;
	/* Check everything first, so a bad file adds nothing. */
	for (size_t i = 0; i < h.num_desc; i++) {
		struct desc d;

		if (desc_get(buf, len, &h, i, &d) < 0)
			return -EBADMSG;
	}
	for (size_t i = 0; i < h.num_desc; i++) {
		struct desc d;
		unsigned type;

		desc_get(buf, len, &h, i, &d);
		type = d.flags & KVM_STATS_TYPE_MASK;
		/* Histograms have many items; the counters a student reads are single values. */
		if (d.size == 1 && (type == KVM_STATS_TYPE_CUMULATIVE || type == KVM_STATS_TYPE_INSTANT ||
				    type == KVM_STATS_TYPE_PEAK))
			kstats_add(acc, &d, &err);
	}
	acc->files++;
	return err;
}

int kstats_read_fd(int fd, struct kstats *acc)
{
	size_t cap = 16384, len = 0;
	uint8_t *buf = malloc(cap);
	int err;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t got;

		if (len == cap) {
			uint8_t *nb;

			if (cap >= KSTATS_FILE_MAX) {
				free(buf);
				return -EFBIG;
			}
			if (!(nb = realloc(buf, cap * 2))) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		got = pread(fd, buf + len, cap - len, (off_t)len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			free(buf);
			return err;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	err = kstats_parse(buf, len, acc);
	free(buf);
	return err;
}

uint64_t kstats_get(const struct kstats *ks, const char *name, int *found)
{
	for (unsigned i = 0; i < ks->n; i++) {
		if (!strcmp(ks->s[i].name, name)) {
			if (found)
				*found = 1;
			return ks->s[i].value;
		}
	}
	if (found)
		*found = 0;
	return 0;
}

/* What each counter means, for the ones worth a student's attention, in the order printed. */
struct stat_doc {
	const char *name, *what;
};

static const struct stat_doc vcpu_stats[] = {
    {"exits", "exits from guest mode, any reason; most never leave the kernel"},
    {"io_exits", "port I/O exits, KVM's own devices (PIC, PIT) included"},
    {"mmio_exits", "MMIO accesses KVM passed to userspace"},
    {"halt_exits", "HLT: the guest had nothing to do"},
    {"halt_wakeup", "woken from HLT by an interrupt"},
    {"halt_successful_poll", "halts ended by polling, before sleeping"},
    {"irq_exits", "exits because a host interrupt arrived"},
    {"irq_window_exits", "exits to wait until the guest can take an interrupt"},
    {"nmi_window_exits", "the same for NMIs"},
    {"request_irq_exits", "returns for userspace to inject an interrupt"},
    {"signal_exits", "KVM_RUN interrupted by a signal (kvmini's kicks)"},
    {"irq_injections", "interrupts injected into the guest"},
    {"nmi_injections", "NMIs injected into the guest"},
    {"insn_emulation", "instructions KVM emulated in software"},
    {"insn_emulation_fail", "instructions KVM could not emulate"},
    {"hypercalls", "hypercalls (VMCALL/VMMCALL)"},
    {"pf_fixed", "EPT/NPT faults KVM fixed by mapping guest RAM"},
    {"tlb_flush", "guest TLB flushes"},
    {"host_state_reload", "host state reloads (userspace returns, preemption)"},
};

static const struct stat_doc vm_stats[] = {
    {"remote_tlb_flush", "TLB flushes sent to all vCPUs"},
    {"pages_4k", "guest RAM mapped with 4 KiB pages, now"},
    {"pages_2m", "... with 2 MiB pages"},
    {"pages_1g", "... with 1 GiB pages"},
    {"mmu_shadow_zapped", "shadow page-table pages thrown away"},
};

static void print_set(FILE *f, const struct kstats *ks, const char *title, const struct stat_doc *docs, size_t n)
{
	int found;

	fprintf(f, "kvmini: %s:\n", title);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = kstats_get(ks, docs[i].name, &found);

		if (found)
			fprintf(f, "kvmini:   %-22s %12llu  %s\n", docs[i].name, (unsigned long long)v, docs[i].what);
	}
}

/* The open stats fd of a VM or vCPU fd, read into acc. */
static int read_stats_of(int kfd, struct kstats *acc)
{
	int fd = ioctl(kfd, KVM_GET_STATS_FD, 0);
	int err;

	if (fd < 0)
		return -errno;
	err = kstats_read_fd(fd, acc);
	close(fd);
	return err;
}

void kstats_print_vm(FILE *f, struct vm *vm)
{
	struct kstats *cpu = calloc(1, sizeof(*cpu)), *whole = calloc(1, sizeof(*whole));
	char title[96];
	int err = 0;

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) <= 0) {
		fprintf(f, "kvmini: KVM's counters: this kernel lacks KVM_CAP_BINARY_STATS_FD (Linux 5.14 or later)\n");
		goto out;
	}
	if (!cpu || !whole)
		goto out;
	for (unsigned i = 0; i < vm->ncpus && !err; i++)
		if (vm->vcpus[i].fd >= 0)
			err = read_stats_of(vm->vcpus[i].fd, cpu);
	if (!err)
		err = read_stats_of(vm->vm_fd, whole);
	if (err && err != -ENOSPC) {
		fprintf(f, "kvmini: KVM's counters: cannot read them: %s\n", strerror(-err));
		goto out;
	}
	snprintf(title, sizeof(title), "KVM's counters, %u vCPU%s summed (KVM_GET_STATS_FD)", cpu->files,
		 cpu->files == 1 ? "" : "s");
	print_set(f, cpu, title, vcpu_stats, sizeof(vcpu_stats) / sizeof(vcpu_stats[0]));
	print_set(f, whole, "KVM's counters for the VM", vm_stats, sizeof(vm_stats) / sizeof(vm_stats[0]));
out:
	free(cpu);
	free(whole);
}
