/* demo.h: what every kvmini demo shares: the ports, printing in 16-, 32- and 64-bit code, the way out, and the
 * switch from real mode to 32-bit protected mode (explained step by step in protected.S, reused by others).
 *
 * A demo is a flat binary: kvmini copies it to 0x7c00 (GUEST_DEMO_ADDR) and starts the CPU there in real mode,
 * CS:IP = 0000:7c00, as a BIOS starts a boot sector. There is no BIOS here: no INT 10h, no INT 13h. Everything
 * a demo shows, it does with the hardware kvmini emulates: the 16550 UART at port 0x3f8 (COM1), and kvmini's
 * exit device at port 0xf4, which ends kvmini with the status written there.
 *
 * Printing: each character is one `out` to the UART's transmit register (COM1 + 0). Real hardware wants the
 * program to wait for "transmitter empty" (bit 5 of the line status register, COM1 + 5) before each byte;
 * kvmini's UART is never busy, so the demos skip the wait. Every `out` is one exit from the guest to kvmini.
 */
#include "vmm/layout.h"

/* Segment selectors of the GDT below: byte offsets into it. */
#define SEL_CODE32 0x08
#define SEL_DATA32 0x10
#define SEL_CODE64 0x18

/* Print the NUL-terminated string at %si (16-bit code) or %esi (32-/64-bit code): one `out` per byte. Uses the
 * same instructions in every mode (lodsb reads DS:SI, DS:ESI or RSI as the mode says). */
.macro PUTS
	mov $PORT_COM1, %dx
1:	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp 1b
2:
.endm

/* End the demo: kvmini exits with status 0. Nothing after the `out` runs: kvmini stops the vCPU. */
.macro DEMO_EXIT
	mov $PORT_EXIT, %dx
	xor %al, %al
	out %al, %dx
3:	hlt
	jmp 3b
.endm

/* The Global Descriptor Table: a null entry, then flat (base 0, limit 4 GiB) 32-bit code and data segments, and
 * a 64-bit code segment for long.S. Each descriptor packs base, limit, type and flags into 8 bytes. */
.macro GDT
	.balign 8
gdt:
	.quad 0                    /* 0x00: the null descriptor (selector 0 is never usable) */
	.quad 0x00cf9a000000ffff   /* 0x08: code, base 0, limit 0xfffff pages, 32-bit (D=1), readable */
	.quad 0x00cf92000000ffff   /* 0x10: data, base 0, limit 0xfffff pages, writable */
	.quad 0x00af9a000000ffff   /* 0x18: code, 64-bit (L=1, D=0): only meaningful in long mode */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1    /* the limit: size - 1 */
	.long gdt                  /* the linear address of the table */
.endm

/* Real mode -> 32-bit protected mode; continues at `target` (32-bit code) with flat DS/ES/SS and a stack. */
.macro ENTER_PROTECTED_MODE target
	cli                        /* no interrupt may arrive halfway through the switch */
	lgdt gdt_desc
	mov %cr0, %eax
	or $1, %eax                /* CR0.PE: protection enable */
	mov %eax, %cr0
	ljmp $SEL_CODE32, $\target /* reload CS from the GDT: from here the CPU decodes 32-bit code */
.endm

/* The first instructions of 32-bit code after ENTER_PROTECTED_MODE: the data segments from the GDT too. */
/* The start every demo after `protected` shares: what protected.S does step by step, in one line. Interrupts off,
 * DS = SS = 0, a stack below the code, then protected mode at `target` (.code32). */
.macro START_PROTECTED target
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $GUEST_DEMO_ADDR, %sp
	cld
	ENTER_PROTECTED_MODE \target
.endm

.macro FLAT_DATA32
	mov $SEL_DATA32, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $GUEST_DEMO_ADDR, %esp /* the stack grows down from where the demo starts */
.endm

/* 32-bit code: puthex32 prints EAX as 8 hex digits, puthex8 prints AL as 2 (both use EAX, ECX, EDX). */
.macro PUTHEX_FUNCS
puthex8:
	push %ebx
	shl $24, %eax              /* the byte to the top: it comes out first */
	mov $2, %bl
	jmp 0f
puthex32:
	push %ebx
	mov $8, %bl
0:	mov %eax, %ecx
1:	rol $4, %ecx               /* the next digit into the low 4 bits */
	mov %ecx, %eax
	and $0xf, %al
	add $'0', %al
	cmp $'9', %al
	jbe 2f
	add $'a' - '9' - 1, %al
2:	mov $PORT_COM1, %dx
	out %al, %dx
	dec %bl
	jnz 1b
	pop %ebx
	ret
.endm
