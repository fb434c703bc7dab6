/* mmio.S: kvmini demo mmio — memory that is not memory: a store where the guest has no RAM exits to kvmini.
 *
 * KVM gives the guest RAM through memory slots: guest-physical ranges backed by kvmini's own memory (this demo
 * has 2 MiB at address 0). A load or store there is an ordinary memory access: the CPU does it, no exit, however
 * often. An address outside every slot is where a device's registers would be (memory-mapped I/O): the
 * CPU's second-level page tables (EPT/NPT) have no mapping, the access faults into KVM, KVM decodes the
 * instruction and returns KVM_EXIT_MMIO to kvmini: address, size, direction, data. kvmini looks the address up
 * on its MMIO bus (virtio devices live at 0xd0000000 and up). 0xc0000000, the start of the PC's "MMIO hole"
 * below 4 GiB, belongs to nobody: kvmini drops the write and answers the read with all ones (--stats counts
 * both). So: the same two instructions, a store and a load, cost nothing on RAM and two exits here.
 * The demo runs in 32-bit protected mode, since real mode cannot reach addresses above 1 MiB.
 */
#include "demo.h"

#define RAM_ADDR 0x20000

	.code16
	.globl _start
_start:
	START_PROTECTED pm32 /* as in protected.S */

	.code32
pm32:
	FLAT_DATA32
	movl $0x12345678, RAM_ADDR         /* RAM: no exit */
	mov $msg_ram, %esi
	PUTS
	mov RAM_ADDR, %eax                 /* RAM: no exit */
	call puthex32
	mov $msg_ram2, %esi
	PUTS

	movl $0x12345678, GUEST_DEMO_MMIO  /* no RAM: an MMIO write exit */
	mov $msg_mmio, %esi
	PUTS
	mov GUEST_DEMO_MMIO, %eax          /* no RAM: an MMIO read exit */
	call puthex32
	mov $msg_mmio2, %esi
	PUTS
	DEMO_EXIT

	PUTHEX_FUNCS
	GDT
msg_ram:	.asciz "mmio: stored 0x12345678 at 0x20000 (RAM) and loaded back 0x"
msg_ram2:	.asciz ": plain memory, no exit\n"
msg_mmio:	.asciz "mmio: stored 0x12345678 at 0xc0000000 (no RAM) and loaded back 0x"
msg_mmio2:	.asciz ": two MMIO exits, nobody there\n"
