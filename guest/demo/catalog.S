/* catalog.S: every demo's flat binary inside kvmini (.incbin), with its name and one-line summary: the table
 * vmm/demo.h declares as kvmini_demos (struct demo: name, summary, start, end; four pointers each). The Makefile
 * puts the directory of the built binaries on the assembler's include path (-Wa,-I) and links this into
 * build/kvmini only. */
.macro DEMO name, summary
	.section .rodata
	.balign 16
\name\()_bin:
	.incbin "\name\().bin"
\name\()_end:
\name\()_name:
	.asciz "\name"
\name\()_summary:
	.asciz "\summary"
	.section .data.rel.ro, "aw"
	.quad \name\()_name, \name\()_summary, \name\()_bin, \name\()_end
.endm

	.section .data.rel.ro, "aw"
	.balign 8
	.globl kvmini_demos
	.type kvmini_demos, @object
kvmini_demos:
DEMO real, "16-bit real mode as after reset: OUT to the UART (COM1), one exit per character"
DEMO protected, "real mode to 32-bit protected mode: a GDT, CR0.PE, a far jump; print from there"
DEMO long, "on to 64-bit long mode: page tables, CR4.PAE, EFER.LME, CR0.PG; print from there"
DEMO pio, "port I/O: OUT, IN, an unclaimed port, and rep outsb (still one exit per byte)"
DEMO mmio, "a store to guest-physical memory with no RAM is an MMIO exit; a store to RAM is not"
DEMO irq, "LAPIC timer interrupts: an IDT, the timer, STI; HLT; five ticks, no exits for any of it"
DEMO hypercall, "the guest asks kvmini for a service: registers + OUT to port 0x6f8; why not VMCALL"
kvmini_demos_end:
	.size kvmini_demos, kvmini_demos_end - kvmini_demos

	.section .rodata
	.balign 4
	.globl kvmini_ndemos
	.type kvmini_ndemos, @object
kvmini_ndemos:
	.long (kvmini_demos_end - kvmini_demos) / 32
	.size kvmini_ndemos, 4

/* No executable stack for kvmini because of this file. */
	.section .note.GNU-stack,"",@progbits
