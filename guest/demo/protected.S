/* protected.S: kvmini demo protected — from 16-bit real mode to 32-bit protected mode, the way every PC OS does.
 *
 * The steps (the code is in ENTER_PROTECTED_MODE and GDT in demo.h, used by the later demos too):
 *  1. CLI: an interrupt arriving halfway would use the real-mode interrupt table with half-switched segments.
 *  2. LGDT: tell the CPU where the Global Descriptor Table is. In protected mode a segment register holds a
 *     selector, an index into this table; the descriptor there gives the segment's base, limit and type. Ours are
 *     flat: base 0, limit 4 GiB, so a 32-bit offset is the physical address (no paging yet).
 *  3. Set CR0.PE (bit 0). The CPU is now in protected mode, but CS still holds its real-mode contents, so it
 *     still decodes 16-bit instructions.
 *  4. A far jump (ljmp $0x08, $pm32) loads CS from GDT entry 1: a 32-bit code segment. From the target on, the
 *     CPU runs 32-bit code.
 *  5. Load DS, ES and SS with the data selector (0x10) and set up a stack.
 * None of this exits to kvmini: LGDT, MOV to CR0 and the far jump are handled by the CPU (with KVM's help for
 * CR0 where the hardware needs it). Only the `out`s that print leave the guest: compare the trace lines' mode=
 * field (real, then prot32) around the switch.
 */
#include "demo.h"

	.code16
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $GUEST_DEMO_ADDR, %sp
	cld
	mov $msg16, %si
	PUTS
	ENTER_PROTECTED_MODE pm32

	.code32
pm32:
	FLAT_DATA32
	mov $msg32, %esi
	PUTS
	DEMO_EXIT

	GDT
msg16:	.asciz "protected: real mode, 16-bit code; loading the GDT, setting CR0.PE, far jump to selector 0x08\n"
msg32:	.asciz "protected: now in 32-bit protected mode (CS = 0x08, flat 4 GiB segments, no paging)\n"
