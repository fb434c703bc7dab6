/* boot.c: pick the loader by the kernel file's magic, load it, and write the tables a BIOS would leave. */
#include "vmm/boot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/acpi.h"
#include "firmware/mptable.h"
#include "vmm/layout.h"
#include "vmm/vm.h"

int boot_probe(struct kernel_image *k, int kfd, uint64_t ksize, const struct gmem *m, const char **why)
{
	uint8_t *hdr = malloc(BZIMAGE_HDR_MAX);
	ssize_t got;
	int err;

	if (!hdr) {
		*why = "out of memory";
		return -ENOMEM;
	}
	got = pread(kfd, hdr, BZIMAGE_HDR_MAX, 0);
	if (got < 0) {
		err = -errno;
		free(hdr);
		*why = "cannot read it";
		return err;
	}
	if (pvh_is_elf(hdr, (size_t)got)) {
		k->kind = KERNEL_PVH;
		k->cmdline_max = GUEST_CMDLINE_MAX - 1;
		err = pvh_parse(&k->pvh, kfd, ksize, m, why);
	} else {
		k->kind = KERNEL_BZIMAGE;
		err = bzimage_parse(&k->bz, hdr, (size_t)got, ksize, why);
		k->cmdline_max = k->bz.cmdline_max;
	}
	free(hdr);
	return err;
}

int boot_probe_flat(struct kernel_image *k, const uint8_t *bytes, size_t len, const char **why)
{
	if (!len || len > GUEST_DEMO_MAX) {
		*why = "the demo binary is empty or larger than 64 KiB";
		return -EFBIG;
	}
	memset(k, 0, sizeof(*k));
	k->kind = KERNEL_FLAT;
	k->flat = bytes;
	k->flat_len = len;
	k->cmdline_max = GUEST_CMDLINE_MAX - 1; /* nobody reads it */
	return 0;
}

/* A flat binary goes where a BIOS puts a boot sector and runs from its first byte, in real mode: what a PC does
 * before any operating system, the start of every demo. */
static int boot_load_flat(struct vm *vm, const struct kernel_image *k, const char **why)
{
	if (gmem_write(&vm->mem, GUEST_DEMO_ADDR, k->flat, k->flat_len) < 0) {
		*why = "the demo does not fit in guest memory";
		return -ENOSPC;
	}
	vm->plan = (struct boot_plan){.entry = GUEST_DEMO_ADDR, .kernel_addr = GUEST_DEMO_ADDR};
	vm->plan.kernel_end = GUEST_DEMO_ADDR + k->flat_len;
	vm->boot_real_mode = true;
	return 0;
}

/* ACPI for every kernel (the Debian cloud kernel finds CPUs only there), and an MP table for kernels built
 * without ACPI. Both live in the BIOS area, which the E820 map reports as reserved. */
static int boot_firmware(struct vm *vm, const char **why)
{
	struct acpi_mmio_dev virtio[GUEST_VIRTIO_MAX];
	struct acpi_config ac = {.ncpus = vm->ncpus, .virtio = virtio, .nvirtio = vm->nvirtio};
	uint8_t *p = gmem_ptr(&vm->mem, GUEST_ACPI_ADDR, GUEST_ACPI_SIZE);
	int n;

	/* Each virtio-mmio slot becomes a DSDT device LNRO0005, so virtio_mmio.ko finds it with no command line. */
	for (unsigned i = 0; i < vm->nvirtio; i++)
		virtio[i] = (struct acpi_mmio_dev){
		    .base = vm->virtio[i].base, .size = VIRTIO_MMIO_SIZE, .gsi = vm->virtio[i].irq.gsi, .edge = true};

	if (!p || (n = acpi_build(p, GUEST_ACPI_SIZE, GUEST_ACPI_ADDR, &ac)) < 0) {
		*why = "cannot build the ACPI tables";
		return p ? n : -EFAULT;
	}
	vm->plan.acpi_addr = GUEST_ACPI_ADDR;
	vm->plan.acpi_size = (uint64_t)n;
	p = gmem_ptr(&vm->mem, GUEST_MPTABLE_ADDR, GUEST_MPTABLE_SIZE);
	if (!p || (n = mptable_build(p, GUEST_MPTABLE_SIZE, GUEST_MPTABLE_ADDR, vm->ncpus)) < 0) {
		*why = "cannot build the MP table";
		return p ? n : -EFAULT;
	}
	vm->plan.mptable_addr = GUEST_MPTABLE_ADDR;
	vm->plan.mptable_size = (uint64_t)n;
	return 0;
}

int boot_load(struct vm *vm, const struct kernel_image *k, int kfd, int ifd, uint64_t isize, const char *cmdline,
	      const char **why)
{
	int err;

	if (k->kind == KERNEL_FLAT)
		err = boot_load_flat(vm, k, why);
	else if (k->kind == KERNEL_PVH)
		err = pvh_load(&k->pvh, &vm->mem, kfd, ifd, isize, cmdline, &vm->plan, why);
	else
		err = bzimage_load(&k->bz, &vm->mem, kfd, ifd, isize, cmdline, &vm->plan, why);
	if (err < 0)
		return err;
	return boot_firmware(vm, why);
}
