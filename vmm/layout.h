/* layout.h: the guest machine at a glance: where everything sits in guest memory, and every port and IRQ. */
#ifndef KVMINI_LAYOUT_H
#define KVMINI_LAYOUT_H

/*
 * Guest physical memory (what the E820 map tells the kernel):
 *
 *   0x0000_0000  0x0000_04ff   real-mode IVT and BIOS data area (RAM, unused)
 *   0x0000_0500  0x0000_051f   boot GDT (null, null, code, data): the boot protocol's __BOOT_CS = 0x10, __BOOT_DS = 0x18
 *   0x0000_6000  0x0000_6fff   PVH boot only: hvm_start_info, its E820 map and module list, handed over in EBX
 *   0x0000_7000  0x0000_7fff   zero page (struct boot_params), handed to the kernel in RSI
 *   0x0000_7c00  0x0001_7bff   kvmini demo only (no kernel, no zero page): the demo's flat binary, like a boot sector
 *   0x0000_9000  0x0000_dfff   identity page tables for the 64-bit entry: PML4, PDPT, 4 PDs (first 4 GiB, 2 MiB pages)
 *   0x0002_0000  0x0002_ffff   kernel command line (the kernel's cmdline_size caps it further)
 *   0x0009_fc00  0x0009_ffff   reserved (EBDA, empty)
 *   0x000a_0000  0x000f_ffff   reserved: VGA hole and BIOS ROM area, no RAM reported; inside it
 *   0x000e_0000  0x000e_ffff     ACPI tables, RSDP first (where the kernel's legacy RSDP scan looks too)
 *   0x000f_0000  0x000f_ffff     MP table (floating pointer, then the configuration table)
 *   0x0010_0000  ...           the protected-mode kernel (loaded at 1 MiB), then free RAM; the initrd sits at the top
 *                              of RAM below 3 GiB (and below the kernel's initrd_addr_max)
 *   0xc000_0000  0xffff_ffff   32-bit MMIO hole: no RAM; virtio-mmio windows from 0xd000_0000 (4 KiB each),
 *                              IOAPIC 0xfec0_0000, LAPIC 0xfee0_0000, KVM's TSS and identity-map pages just
 *                              below 4 GiB
 *   0x1_0000_0000 ...          RAM beyond 3 GiB continues here (guests of more than 3 GiB)
 */
#define GUEST_GDT_ADDR	    0x500ULL
#define GUEST_PVH_INFO	    0x6000ULL
#define GUEST_ZERO_PAGE	    0x7000ULL
#define GUEST_PML4_ADDR	    0x9000ULL
#define GUEST_PDPT_ADDR	    0xa000ULL
#define GUEST_PD_ADDR	    0xb000ULL /* 4 pages: 0xb000..0xefff */
#define GUEST_CMDLINE_ADDR  0x20000ULL
#define GUEST_CMDLINE_MAX   0x10000ULL
#define GUEST_EBDA_START    0x9fc00ULL
#define GUEST_ACPI_ADDR	    0xe0000ULL /* RSDP here, the other tables follow */
#define GUEST_ACPI_SIZE	    0x10000ULL
#define GUEST_MPTABLE_ADDR  0xf0000ULL
#define GUEST_MPTABLE_SIZE  0x10000ULL
#define GUEST_HIMEM_START   0x100000ULL /* 1 MiB: where the protected-mode kernel goes */
#define GUEST_KERNEL_ADDR   GUEST_HIMEM_START
#define GUEST_MMIO_HOLE	    0xc0000000ULL /* 3 GiB */
#define GUEST_MMIO_HOLE_END 0x100000000ULL
#define GUEST_VIRTIO_BASE   0xd0000000ULL /* device i's registers at GUEST_VIRTIO_BASE + i * 0x1000 */
#define GUEST_VIRTIO_MAX    8
#define GUEST_IOAPIC_ADDR   0xfec00000ULL
#define GUEST_LAPIC_ADDR    0xfee00000ULL
#define GUEST_KVM_IDMAP	    0xfffbc000ULL /* one page KVM needs for real mode on Intel (KVM_SET_IDENTITY_MAP_ADDR) */
#define GUEST_KVM_TSS	    0xfffbd000ULL /* three pages for the same reason (KVM_SET_TSS_ADDR) */
#define GUEST_MEM_MIN	    (64ULL << 20)
#define GUEST_MEM_MAX	    (1ULL << 40)

/* kvmini demo (no ULL on the demo's addresses: guest/demo's assembly includes this file) */
#define GUEST_DEMO_ADDR 0x7c00	     /* the flat binary starts here, in real mode at CS:IP 0000:7c00 */
#define GUEST_DEMO_MAX	0x10000ULL   /* its largest size (it ends below the EBDA) */
#define GUEST_DEMO_MEM	(2ULL << 20) /* a demo's RAM unless -m says otherwise */
#define GUEST_DEMO_MMIO 0xc0000000   /* the mmio demo's address: in the hole, below the virtio slots, unclaimed */

/* Port I/O map. Anything else reads as all-ones and ignores writes (counted; see --stats). */
#define PORT_I8042_DATA	 0x60  /* keyboard controller data: no keyboard */
#define PORT_PIT_SPEAKER 0x61  /* handled inside KVM (KVM_PIT_SPEAKER_DUMMY) */
#define PORT_I8042_CMD	 0x64  /* keyboard controller command: 0xFE resets the machine (kvmini exits 0) */
#define PORT_CMOS	 0x70  /* CMOS index 0x70 and data 0x71: a read-only real-time clock */
#define PORT_POST	 0x80  /* POST code / I/O delay port: writes ignored */
#define PORT_COM1	 0x3f8 /* 16550A UART, 8 ports: the guest's ttyS0 */
/* ACPI (hardware-reduced): the FADT points at these. Writing SLP_TYP=5 with SLP_EN powers off; the reset value to
 * the reset register reboots. Both end kvmini with status 0. */
#define PORT_ACPI_SLEEP_CTL 0x600
#define PORT_ACPI_SLEEP_STS 0x601
#define PORT_ACPI_RESET	    0x602
#define ACPI_RESET_VALUE    0x01
#define ACPI_SLP_TYP_S5	    5 /* the \_S5 package's value; SLP_TYP sits in bits 2-4 of the sleep control register */
/* The run channel (kvmini run -- CMD): how a guest reports back. Documented in README.md ("Exit status"). */
#define PORT_EXIT	 0xf4  /* exit device: a 1-4 byte write of v ends kvmini with status v (0 included) */
#define PORT_READY	 0x3f0 /* boot-ready marker: the init writes READY_VALUE once it runs (Firecracker's) */
#define READY_VALUE	 123
#define PORT_PROG_STDOUT 0x6f0 /* the built-in init relays the program's stdout here, byte string writes */
#define PORT_PROG_STDERR 0x6f1 /* ... and its stderr: never mixed with the kernel's console (COM1) */
/* Output in bulk: outl(PFN of a transfer page) hands kvmini {u32 stream (1 or 2), u32 len, u64 gpa[16]}: len bytes
 * in up to 16 pages (each gpa[i] 4 KiB-aligned), so 64 KiB cost one exit, where KVM splits rep outsb per byte. */
#define PORT_PROG_PAGES 0x6f4
#define PROG_XFER_PAGES 16
/* kvmini demo only: the hypercall port. An `out` of any byte here asks kvmini for a service: it reads the registers
 * (RAX = call number, RBX = argument), performs the call and writes the result to RAX (devices/hypercall.h). */
#define PORT_HYPERCALL 0x6f8
/* The PIC (0x20, 0xa0), PIT (0x40-0x43) and ELCR (0x4d0) are emulated inside KVM: kvmini never sees them. */

/* Interrupt lines (GSIs of the in-kernel IOAPIC, same numbers on the PIC). */
#define IRQ_COM1   4
#define IRQ_GED	   5  /* ACPI Generic Event Device (edge): its _EVT notifies the power button (SIGTERM to kvmini) */
#define IRQ_SCI	   9  /* ACPI SCI, named in the FADT; a hardware-reduced machine never raises it */
#define IRQ_VIRTIO 16 /* virtio-mmio device i raises GSI 16 + i (edge), up to 23: IOAPIC pins, no ISA sharing */

#endif
