/* explain.c: --explain-boot: the loader's work and vCPU 0's first state in words, read back from guest memory. */
#include "vmm/explain.h"

#include <ctype.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/layout.h"
#include "vmm/pvh.h"
#include "vmm/trace.h"
#include "vmm/vm.h"

#define ACPI_TABLE_MAX 0x10000 /* a table longer than this is not one of ours: stop reading */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* The names of the set bits of v, from names[bit] (NULL: print the bit number). */
static void put_flags(FILE *f, uint64_t v, const char *const *names, unsigned n)
{
	const char *sep = "";

	fputs(" (", f);
	for (unsigned b = 0; b < 64; b++) {
		if (!(v >> b & 1))
			continue;
		if (b < n && names[b])
			fprintf(f, "%s%s", sep, names[b]);
		else
			fprintf(f, "%sbit%u", sep, b);
		sep = " ";
	}
	fputs(*sep ? ")" : "none)", f);
}

static void explain_bzimage(FILE *f, const struct bzimage *bz)
{
	static const char *const lf[8] = {"LOADED_HIGH", "KASLR_FLAG",	  NULL,		 NULL, NULL,
					  "QUIET_FLAG",	 "KEEP_SEGMENTS", "CAN_USE_HEAP"};
	static const char *const xlf[7] = {"XLF_KERNEL_64",	  "XLF_CAN_BE_LOADED_ABOVE_4G",
					   "XLF_EFI_HANDOVER_32", "XLF_EFI_HANDOVER_64",
					   "XLF_EFI_KEXEC",	  "XLF_5LEVEL",
					   "XLF_5LEVEL_ENABLED"};
	const struct setup_header *h = &bz->hdr;

	fprintf(f, "  kernel: a bzImage, boot protocol %u.%02u; its setup header (Documentation/arch/x86/boot.rst):\n",
		bz->version >> 8, bz->version & 0xff);
	fprintf(f, "    setup_sects      %u: %llu bytes of real-mode setup code, skipped (no BIOS to run it for)\n",
		h->setup_sects, (unsigned long long)bz->setup_size);
	fprintf(f, "    loadflags        0x%02x", h->loadflags);
	put_flags(f, h->loadflags, lf, 8);
	fprintf(f, "\n    xloadflags       0x%04x", h->xloadflags);
	put_flags(f, h->xloadflags, xlf, 7);
	fprintf(f, "\n    pref_address     0x%llx: where the kernel would like to run\n",
		(unsigned long long)h->pref_address);
	fprintf(f, "    init_size        0x%x: RAM it needs from there while it decompresses itself\n", h->init_size);
	fprintf(f, "    kernel_alignment 0x%x, relocatable_kernel %u\n", h->kernel_alignment, h->relocatable_kernel);
	fprintf(f, "    cmdline_size     %u: the longest command line it takes\n", h->cmdline_size);
	fprintf(f, "    initrd_addr_max  0x%x: the initrd must end below this\n", h->initrd_addr_max);
	fprintf(f,
		"    payload          offset 0x%x, length 0x%x: the compressed kernel inside the protected-mode part\n",
		h->payload_offset, h->payload_length);
	fprintf(f, "  protected-mode kernel: file offset 0x%llx, %llu bytes, copied to 0x%llx; entered at its %s\n",
		(unsigned long long)bz->payload_off, (unsigned long long)bz->payload_size,
		(unsigned long long)GUEST_KERNEL_ADDR,
		bz->entry64 ? "64-bit entry (+0x200, XLF_KERNEL_64)" : "32-bit entry (its first byte)");
}

static void explain_pvh(FILE *f, const struct pvh_image *img)
{
	fprintf(f, "  kernel: an ELF vmlinux with a PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY) at 0x%llx\n",
		(unsigned long long)img->entry);
	for (unsigned i = 0; i < img->nseg; i++)
		fprintf(f,
			"    PT_LOAD %u: file offset 0x%llx, %llu bytes -> 0x%llx-0x%llx (%llu bytes in RAM, the rest "
			"zeroed)\n",
			i, (unsigned long long)img->seg[i].off, (unsigned long long)img->seg[i].filesz,
			(unsigned long long)img->seg[i].paddr,
			(unsigned long long)(img->seg[i].paddr + img->seg[i].memsz - 1),
			(unsigned long long)img->seg[i].memsz);
}

static void region(FILE *f, uint64_t addr, uint64_t size, const char *what)
{
	fprintf(f, "    0x%08llx-0x%08llx  %s\n", (unsigned long long)addr,
		(unsigned long long)(size ? addr + size - 1 : addr), what);
}

/* The 4-character signature, printable or '?'. */
static void sig4(const uint8_t *p, char out[5])
{
	for (int i = 0; i < 4; i++)
		out[i] = isprint(p[i]) ? (char)p[i] : '?';
	out[4] = '\0';
}

/* One ACPI table by its header: signature, address, length. The length, or 0 when the header is unreadable. */
static uint32_t acpi_table(FILE *f, const struct gmem *m, uint64_t addr, const char *via)
{
	const uint8_t *h = gmem_ptr(m, addr, 36);
	char sig[5];
	uint32_t len;

	if (!addr)
		return 0;
	if (!h) {
		fprintf(f, "      ????  at 0x%llx: outside RAM (%s)\n", (unsigned long long)addr, via);
		return 0;
	}
	sig4(h, sig);
	len = rd32(h + 4);
	fprintf(f, "      %s  0x%08llx  %5u bytes  (%s)\n", sig, (unsigned long long)addr, len, via);
	return len >= 36 && len <= ACPI_TABLE_MAX && gmem_ptr(m, addr, len) ? len : 0;
}

/* Walk the tables as the kernel will: RSDP -> XSDT -> each table, and the FADT's DSDT. */
static void explain_acpi(FILE *f, const struct gmem *m, uint64_t rsdp)
{
	const uint8_t *r = gmem_ptr(m, rsdp, 36);
	uint64_t xsdt;
	uint32_t len;
	const uint8_t *x;

	if (!r || memcmp(r, "RSD PTR ", 8)) {
		fprintf(f, "      no RSDP at 0x%llx\n", (unsigned long long)rsdp);
		return;
	}
	xsdt = r[15] >= 2 ? rd64(r + 24) : rd32(r + 16);
	fprintf(f,
		"      RSDP  0x%08llx  %5u bytes  (revision %u; the kernel is told its address, so it need not scan)\n",
		(unsigned long long)rsdp, r[15] >= 2 ? rd32(r + 20) : 20, r[15]);
	if (!(len = acpi_table(f, m, xsdt, r[15] >= 2 ? "the RSDP's XSDT address" : "the RSDP's RSDT address")))
		return;
	x = gmem_ptr(m, xsdt, len);
	for (uint32_t off = 36, step = r[15] >= 2 ? 8 : 4; off + step <= len; off += step) {
		uint64_t t = step == 8 ? rd64(x + off) : rd32(x + off);
		uint32_t tl = acpi_table(f, m, t, "listed in the XSDT");
		const uint8_t *fadt = tl ? gmem_ptr(m, t, tl) : NULL;

		if (fadt && !memcmp(fadt, "FACP", 4))
			acpi_table(f, m, tl >= 148 && rd64(fadt + 140) ? rd64(fadt + 140) : rd32(fadt + 40),
				   "the FADT's DSDT address");
	}
}

static void explain_mptable(FILE *f, const struct gmem *m, uint64_t addr)
{
	const uint8_t *fp = gmem_ptr(m, addr, 16), *c;

	if (!fp || memcmp(fp, "_MP_", 4)) {
		fprintf(f, "      no MP floating pointer at 0x%llx\n", (unsigned long long)addr);
		return;
	}
	fprintf(f, "      _MP_  0x%08llx     16 bytes  (floating pointer, spec 1.%u)\n", (unsigned long long)addr,
		fp[9]);
	c = gmem_ptr(m, rd32(fp + 4), 44);
	if (!c || memcmp(c, "PCMP", 4)) {
		fprintf(f, "      no configuration table at 0x%x\n", rd32(fp + 4));
		return;
	}
	fprintf(f, "      PCMP  0x%08x  %5u bytes  (configuration table: %u entries: CPUs, bus, IOAPIC, interrupts)\n",
		rd32(fp + 4), rd16(c + 4), rd16(c + 34));
}

static void explain_layout(FILE *f, const struct boot_plan *p, const struct gmem *m)
{
	char what[160];
	const char *cmd = p->cmdline_size ? gmem_ptr(m, p->cmdline_addr, p->cmdline_size) : NULL;

	fprintf(f, "  guest memory:\n");
	if (p->gdt_size)
		region(f, p->gdt_addr, p->gdt_size, "boot GDT: null, null, 0x10 flat code, 0x18 flat data");
	if (p->start_info)
		region(f, p->start_info, 4096,
		       "hvm_start_info (EBX points here), then the module list (the initrd) and the memory map");
	if (p->zero_page)
		region(f, p->zero_page, 4096, "zero page, struct boot_params (RSI points here): header, E820, initrd");
	if (p->pagetables_size)
		region(f, p->pagetables_addr, p->pagetables_size,
		       "identity page tables: PML4, PDPT, 4 page directories (first 4 GiB in 2 MiB pages)");
	if (p->cmdline_size) {
		snprintf(what, sizeof(what), "command line, %llu bytes: \"%.100s%s\"",
			 (unsigned long long)p->cmdline_size - 1, cmd && memchr(cmd, 0, p->cmdline_size) ? cmd : "?",
			 p->cmdline_size > 101 ? "..." : "");
		region(f, p->cmdline_addr, p->cmdline_size, what);
	}
	if (p->acpi_size) {
		region(f, p->acpi_addr, p->acpi_size, "ACPI tables, in the BIOS area (E820: reserved):");
		explain_acpi(f, m, p->acpi_addr);
	}
	if (p->mptable_size) {
		region(f, p->mptable_addr, p->mptable_size, "MP table, for kernels without ACPI:");
		explain_mptable(f, m, p->mptable_addr);
	}
	if (p->kernel_end > p->kernel_addr)
		region(f, p->kernel_addr, p->kernel_end - p->kernel_addr,
		       "kernel, with the room it needs to decompress and set itself up");
	if (p->initrd_size)
		region(f, p->initrd_addr, p->initrd_size, "initrd, as high in low RAM as the kernel allows");
}

static void explain_map_entry(FILE *f, uint64_t addr, uint64_t size, uint32_t type)
{
	fprintf(f, "    0x%016llx-0x%016llx  %s\n", (unsigned long long)addr, (unsigned long long)(addr + size - 1),
		type == 1   ? "RAM"
		: type == 2 ? "reserved"
		: type == 3 ? "ACPI data"
			    : "other");
}

/* The memory map where the kernel will read it: the zero page's E820 table, or hvm_start_info's memmap. */
static void explain_e820(FILE *f, const struct boot_plan *p, const struct gmem *m)
{
	if (p->zero_page) {
		const struct boot_params *bp = gmem_ptr(m, p->zero_page, sizeof(*bp));

		if (!bp)
			return;
		fprintf(f, "  E820 memory map (in the zero page, %u entries):\n", bp->e820_entries);
		for (unsigned i = 0; i < bp->e820_entries && i < E820_MAX_ENTRIES_ZEROPAGE; i++)
			explain_map_entry(f, bp->e820_table[i].addr, bp->e820_table[i].size, bp->e820_table[i].type);
	} else if (p->start_info) {
		const struct pvh_start_info *si = gmem_ptr(m, p->start_info, sizeof(*si));
		const struct pvh_memmap_entry *e;

		if (!si)
			return;
		fprintf(f, "  memory map (hvm_start_info's, %u entries):\n", si->memmap_entries);
		e = gmem_ptr(m, si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(*e));
		for (unsigned i = 0; e && i < si->memmap_entries; i++)
			explain_map_entry(f, e[i].addr, e[i].size, e[i].type);
	} else {
		fprintf(f, "  memory map: none handed over (no zero page, no hvm_start_info)\n");
	}
}

static void seg(FILE *f, const char *name, const struct kvm_segment *s)
{
	fprintf(f, "    %-3s 0x%04x base 0x%llx limit 0x%x type 0x%x l %u db %u\n", name, s->selector,
		(unsigned long long)s->base, s->limit, s->type, s->l, s->db);
}

static void explain_regs(FILE *f, const struct kvm_regs *r, const struct kvm_sregs *s)
{
	static const char *const cr0[32] = {[0] = "PE",	 [1] = "MP",  [2] = "EM",  [3] = "TS",	[4] = "ET", [5] = "NE",
					    [16] = "WP", [18] = "AM", [29] = "NW", [30] = "CD", [31] = "PG"};
	static const char *const cr4[22] = {
	    [4] = "PSE", [5] = "PAE", [7] = "PGE", [9] = "OSFXSR", [10] = "OSXMMEXCPT", [12] = "LA57", [21] = "SMAP"};
	static const char *const efer[12] = {[0] = "SCE", [8] = "LME", [10] = "LMA", [11] = "NXE"};

	fprintf(f, "  vCPU 0 starts in %s mode:\n", trace_cpu_mode(s, r->rflags));
	fprintf(f, "    rip 0x%llx  rsi 0x%llx  rbx 0x%llx  rsp 0x%llx  rflags 0x%llx\n", (unsigned long long)r->rip,
		(unsigned long long)r->rsi, (unsigned long long)r->rbx, (unsigned long long)r->rsp,
		(unsigned long long)r->rflags);
	fprintf(f, "    cr0 0x%llx", (unsigned long long)s->cr0);
	put_flags(f, s->cr0, cr0, 32);
	fprintf(f, "  cr3 0x%llx  cr4 0x%llx", (unsigned long long)s->cr3, (unsigned long long)s->cr4);
	put_flags(f, s->cr4, cr4, 22);
	fprintf(f, "  efer 0x%llx", (unsigned long long)s->efer);
	put_flags(f, s->efer, efer, 12);
	fputc('\n', f);
	seg(f, "cs", &s->cs);
	seg(f, "ds", &s->ds);
	seg(f, "ss", &s->ss);
	fprintf(f, "    gdt base 0x%llx limit 0x%x; idt base 0x%llx limit 0x%x (none yet: interrupts stay off)\n",
		(unsigned long long)s->gdt.base, s->gdt.limit, (unsigned long long)s->idt.base, s->idt.limit);
}

void explain_boot(FILE *f, const struct kernel_image *k, const struct boot_plan *p, const struct gmem *m,
		  const struct kvm_regs *regs, const struct kvm_sregs *sregs)
{
	fprintf(f, "kvmini: --explain-boot: what the loader did, before the first KVM_RUN\n");
	switch (k->kind) {
	case KERNEL_BZIMAGE:
		explain_bzimage(f, &k->bz);
		break;
	case KERNEL_PVH:
		explain_pvh(f, &k->pvh);
		break;
	default:
		fprintf(f, "  kernel: a flat binary, %llu bytes at 0x%llx, run from its first byte\n",
			(unsigned long long)(p->kernel_end - p->kernel_addr), (unsigned long long)p->kernel_addr);
		break;
	}
	explain_layout(f, p, m);
	explain_e820(f, p, m);
	if (regs && sregs)
		explain_regs(f, regs, sregs);
	fprintf(f, "kvmini: --explain-boot: end\n");
}

void explain_boot_vm(FILE *f, struct vm *vm, const struct kernel_image *k)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	bool have = ioctl(vm->vcpus[0].fd, KVM_GET_REGS, &r) == 0 && ioctl(vm->vcpus[0].fd, KVM_GET_SREGS, &s) == 0;

	explain_boot(f, k, &vm->plan, &vm->mem, have ? &r : NULL, have ? &s : NULL);
	fflush(f);
}
