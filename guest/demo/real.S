/* real.S: kvmini demo real — the CPU as it comes out of reset: 16-bit real mode, port I/O to the UART, done.
 *
 * What to look at:
 *  - kvmini started the vCPU in real mode: CR0.PE = 0, no paging, 16-bit code, CS:IP = 0000:7c00. An address is
 *    segment * 16 + offset: below, DS = 0x07c0 and SI = the message's offset from the start of this file, so
 *    DS:SI = 0x7c00 + offset, the same byte as 0000:(0x7c00 + offset). Two ways to name one place.
 *  - Every `out %al, %dx` to port 0x3f8 (COM1) leaves the guest: the CPU stops running guest code, KVM sees the
 *    port is not one it emulates itself, and KVM_RUN returns to kvmini with exit reason KVM_EXIT_IO, the port,
 *    the direction and the byte. kvmini hands the byte to its 16550 UART model, which writes it to stdout, and
 *    re-enters the guest. `kvmini demo real --trace` shows one line per exit; --step stops at each.
 *  - The end: an `out` to kvmini's exit device (port 0xf4) makes kvmini exit with that status.
 *
 * Why not just HLT? A halted CPU with interrupts off never wakes up, so HLT looks like a natural end. But kvmini
 * gives the VM an in-kernel interrupt controller (a LAPIC per vCPU), and then KVM handles HLT itself: the vCPU
 * thread sleeps inside KVM_RUN waiting for an interrupt that cannot come. kvmini would never hear of it and
 * would wait forever. So every demo ends through the exit port; the HLT after it is never reached.
 */
#include "demo.h"

	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov $GUEST_DEMO_ADDR, %sp  /* a stack below the code: SS:SP = 0000:7c00, growing down */
	mov $GUEST_DEMO_ADDR >> 4, %ax
	mov %ax, %ds               /* DS = 0x07c0: segment base 0x7c00 */
	mov $msg - _start, %si     /* the message's offset from 0x7c00 */
	cld
	PUTS
	xor %ax, %ax
	mov %ax, %ds               /* back to DS = 0: now an offset is an address */
	mov $msg2, %si
	PUTS
	DEMO_EXIT

msg:	.asciz "real: hello from 16-bit real mode (CS:IP = 0000:7c00, this line read through DS = 07c0)\n"
msg2:	.asciz "real: each character was one OUT to port 0x3f8, one exit to kvmini; now OUT 0 to port 0xf4 ends it\n"
