/* irq.S: kvmini demo irq — a timer interrupt, from the programmed LAPIC to the guest's handler, with no exits.
 *
 * Each vCPU has a local APIC (kvmini asks KVM for in-kernel ones: KVM_CREATE_IRQCHIP). Its registers are
 * memory-mapped at 0xfee00000, but KVM emulates them itself: writing them is not an MMIO exit to kvmini, and
 * neither is the timer firing, the interrupt's delivery, HLT waiting for it, or the EOI. The steps:
 *  1. An Interrupt Descriptor Table: 256 gates at 0x1000, each pointing at a handler. Vector 0x20 goes to
 *     `tick`; every other vector to `unexpected`, which reports it and ends the demo with status 1. LIDT loads it.
 *  2. Mask the legacy 8259 PICs (0xff to ports 0x21 and 0xa1): they are KVM's too (no exits), and unprogrammed
 *     they could deliver on vectors that are CPU exceptions.
 *  3. LAPIC: software-enable it (spurious-vector register, 0xf0: bit 8), divide the timer's clock by 1 (0x3e0),
 *     make the timer one-shot on vector 0x20 (LVT timer, 0x320), and start it with an initial count (0x380):
 *     KVM's LAPIC counts at 1 GHz, so 10,000,000 is 10 ms.
 *  4. STI, then HLT in a loop: the vCPU sleeps inside KVM until the timer interrupt wakes it. The CPU pushes
 *     EFLAGS, CS and EIP and enters `tick` with interrupts off; `tick` prints, writes the LAPIC's EOI register
 *     (0xb0) so the next interrupt can be delivered, re-arms the one-shot timer for the next tick, and IRETs.
 *  5. The fifth tick does not re-arm it: the main loop sees five ticks, prints, and ends through the exit port.
 *     (One-shot rather than periodic: a periodic timer keeps firing while a slow handler prints, and one more
 *     tick could be pending by the time the loop stops.)
 * With --trace the only lines are the UART's characters and the exit port: the interrupts themselves never
 * leave KVM. (Unlike the other demos, a tick's timing is the host's: 10 ms of wall-clock time.)
 */
#include "demo.h"

#define IDT	    0x1000
#define LAPIC	    0xfee00000
#define LAPIC_EOI   (LAPIC + 0xb0)
#define LAPIC_SVR   (LAPIC + 0xf0)
#define LAPIC_TIMER (LAPIC + 0x320)
#define LAPIC_ICR   (LAPIC + 0x380) /* the timer's initial count */
#define LAPIC_DIV   (LAPIC + 0x3e0)
#define VEC_TIMER   0x20
#define TICKS	    5
#define PERIOD	    10000000 /* LAPIC timer counts: 10 ms at KVM's 1 GHz */

/* Write a 32-bit interrupt gate for `vector` at handler address EAX (uses EDX). */
.macro SET_GATE vector
	mov %eax, %edx
	and $0xffff, %edx
	or $SEL_CODE32 << 16, %edx      /* low dword: the code selector, handler bits 0-15 */
	mov %edx, IDT + \vector * 8
	mov %eax, %edx
	and $0xffff0000, %edx
	or $0x8e00, %edx                /* high dword: handler bits 16-31, present, DPL 0, 32-bit interrupt gate */
	mov %edx, IDT + \vector * 8 + 4
.endm

	.code16
	.globl _start
_start:
	START_PROTECTED pm32 /* as in protected.S */

	.code32
pm32:
	FLAT_DATA32
	mov $msg_start, %esi
	PUTS
	/* 1. every gate to `unexpected` first, then vector 0x20 to `tick` */
	mov $IDT, %edi
	mov $256, %ecx
4:	mov $unexpected, %eax
	mov %eax, %edx
	and $0xffff, %edx
	or $SEL_CODE32 << 16, %edx
	mov %edx, (%edi)
	mov %eax, %edx
	and $0xffff0000, %edx
	or $0x8e00, %edx
	mov %edx, 4(%edi)
	add $8, %edi
	loop 4b
	mov $tick, %eax
	SET_GATE VEC_TIMER
	lidt idt_desc
	/* 2. the legacy PICs: all lines masked */
	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1
	/* 3. the LAPIC timer: one-shot, vector 0x20, in 10 ms */
	movl $0x1ff, LAPIC_SVR
	movl $0xb, LAPIC_DIV
	movl $VEC_TIMER, LAPIC_TIMER
	movl $PERIOD, LAPIC_ICR
	/* 4. wait for interrupts */
	sti
5:	hlt
	cmpl $TICKS, ticks
	jb 5b
	/* 5. the last tick did not re-arm the timer: end */
	cli
	mov $msg_done, %esi
	PUTS
	DEMO_EXIT

tick:
	push %eax
	push %ecx
	push %edx
	push %esi
	incl ticks
	mov $msg_tick, %esi
	PUTS
	mov ticks, %eax
	add $'0', %al
	out %al, %dx                    /* PUTS left DX = the UART's port */
	mov $msg_tick2, %esi
	PUTS
	movl $0, LAPIC_EOI              /* end of interrupt: the LAPIC may deliver the next one */
	cmpl $TICKS, ticks
	jae 7f
	movl $PERIOD, LAPIC_ICR         /* re-arm: the next tick in 10 ms */
7:
	pop %esi
	pop %edx
	pop %ecx
	pop %eax
	iret

unexpected:
	mov $msg_bad, %esi
	PUTS
	mov $PORT_EXIT, %dx
	mov $1, %al
	out %al, %dx

	GDT
	.balign 4
ticks:	.long 0
idt_desc:
	.word 256 * 8 - 1
	.long IDT
msg_start:	.asciz "irq: IDT at 0x1000, PICs masked, LAPIC timer one-shot on vector 0x20 in 10 ms; STI; HLT\n"
msg_tick:	.asciz "irq: tick "
msg_tick2:	.asciz ": the handler ran, wrote the LAPIC's EOI, re-armed the timer, IRET\n"
msg_done:	.asciz "irq: five ticks: no exit for the timer, the interrupts, HLT or the LAPIC writes; done\n"
msg_bad:	.asciz "irq: an unexpected interrupt or exception\n"
