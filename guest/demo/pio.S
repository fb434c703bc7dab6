/* pio.S: kvmini demo pio — port I/O from the guest's side and from kvmini's: OUT, IN, and string OUT.
 *
 * x86 has a second address space besides memory: 65536 I/O ports, reached only with IN and OUT. KVM traps every
 * port access (the VMCS/VMCB I/O bitmaps say so); ports it emulates itself (the PIC, the PIT) never reach
 * kvmini; any other port makes KVM_RUN return KVM_EXIT_IO: port, size, direction, count, and the data in the
 * kvm_run page. kvmini dispatches on the port (vmm/bus.c): 0x3f8-0x3ff is its 16550 UART, 0xf4 its exit device.
 *  - OUT: the byte travels to kvmini in the exit; kvmini acts on it, then resumes the guest.
 *  - IN: the guest is stopped mid-instruction; kvmini writes the answer into the kvm_run page, and on the next
 *    KVM_RUN, KVM puts it in AL and lets the guest go on. Here: the UART's line status register (0x3fd) says
 *    0x60, "transmitter empty" — what a real driver polls before each byte. A port nobody claims reads 0xff,
 *    like a PC bus where nothing answers (kvmini counts those: --stats).
 *  - rep outsb: one instruction that writes ECX bytes from memory. It looks like one exit's worth of work, but
 *    KVM emulates string OUTs one element at a time: one exit to kvmini per byte. (kvmini run has a trick for
 *    the console, KVM's coalesced PIO ring, which batches UART writes without exits; kvmini demo turns it off
 *    so that every exit shows.)
 * With --trace, count the lines: one per character printed, one for each IN.
 */
#include "demo.h"

	.code16
	.globl _start
_start:
	START_PROTECTED pm32 /* as in protected.S */

	.code32
pm32:
	FLAT_DATA32
	mov $msg_out, %esi
	PUTS

	mov $msg_lsr, %esi
	PUTS
	mov $PORT_COM1 + 5, %dx
	in %dx, %al                /* one exit: kvmini's UART answers */
	call puthex8
	mov $msg_lsr2, %esi
	PUTS

	mov $msg_none, %esi
	PUTS
	in $0x99, %al              /* one exit: nobody claims port 0x99 */
	call puthex8
	mov $msg_none2, %esi
	PUTS

	mov $msg_rep, %esi
	mov $msg_rep_end - msg_rep, %ecx
	mov $PORT_COM1, %dx
	rep outsb                  /* one instruction, one exit per byte */
	DEMO_EXIT

	PUTHEX_FUNCS
	GDT
msg_out:	.asciz "pio: OUT: every character of this line is one OUT to port 0x3f8, one exit to kvmini\n"
msg_lsr:	.asciz "pio: IN from port 0x3fd (the UART's line status): 0x"
msg_lsr2:	.asciz ", transmitter empty; kvmini's UART answered (one exit)\n"
msg_none:	.asciz "pio: IN from port 0x99 (nothing there): 0x"
msg_none2:	.asciz ", all ones; kvmini answered for an empty bus (one exit)\n"
msg_rep:	.ascii "pio: this line is one rep outsb instruction, and still one exit per byte\n"
msg_rep_end:
