/* explain.h: --explain-boot: what the loader did and how vCPU 0 will start, told before the first KVM_RUN. */
#ifndef KVMINI_EXPLAIN_H
#define KVMINI_EXPLAIN_H

#include <linux/kvm.h>
#include <stdio.h>

#include "vmm/boot.h"
#include "vmm/gmem.h"

struct vm;

/*
 * Print to f: the kernel's header fields (bzImage) or entry point and segments (PVH vmlinux); where the kernel,
 * initrd, command line, zero page or hvm_start_info, page tables, GDT, ACPI tables and MP table went; the memory
 * map as the guest will read it; and, when regs and sregs are given, vCPU 0's first registers. The tables and the
 * map are read back from guest memory `m`, each access bounds-checked, so the text shows what the guest will see.
 */
void explain_boot(FILE *f, const struct kernel_image *k, const struct boot_plan *p, const struct gmem *m,
		  const struct kvm_regs *regs, const struct kvm_sregs *sregs);

/* explain_boot for a VM whose vCPU 0 is set up (its registers read with KVM_GET_REGS/SREGS). */
void explain_boot_vm(FILE *f, struct vm *vm, const struct kernel_image *k);

#endif
