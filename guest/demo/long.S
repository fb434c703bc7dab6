/* long.S: kvmini demo long — on from 32-bit protected mode to 64-bit long mode.
 *
 * Long mode needs paging: every address goes through page tables. Here they map the first 2 MiB of memory to
 * itself (an identity map), so addresses mean the same before and after paging is on. Four levels, each a 4 KiB
 * table of 512 8-byte entries; this demo needs one entry in three of them:
 *   PML4 (0x10000) entry 0 -> PDPT (0x11000) entry 0 -> PD (0x12000) entry 0: one 2 MiB page at address 0
 *   (bit 7, PS: "this entry is a page", so no fourth level). Bits 0 and 1: present, writable.
 * The switch, in the order the architecture demands:
 *  1. CR4.PAE (bit 5): the 64-bit page-table format.
 *  2. CR3 = the PML4's physical address.
 *  3. EFER.LME (bit 8 of the MSR 0xc0000080), with WRMSR: long mode enable.
 *  4. CR0.PG (bit 31): paging on. With LME set, the CPU activates long mode (EFER.LMA becomes 1), still running
 *     32-bit code in "compatibility mode".
 *  5. A far jump to a code segment with the L bit (GDT entry 3, selector 0x18): 64-bit mode.
 * WRMSR to EFER and the CR writes are handled by the CPU and KVM; kvmini sees no exit. The trace's mode= field
 * goes real -> prot32 -> long.
 */
#include "demo.h"

#define PML4 0x10000
#define PDPT 0x11000
#define PD   0x12000

	.code16
	.globl _start
_start:
	START_PROTECTED pm32 /* as in protected.S */

	.code32
pm32:
	FLAT_DATA32
	mov $msg32, %esi
	PUTS
	/* Zero the three tables (3 * 4 KiB), then link them: PML4[0] -> PDPT, PDPT[0] -> PD, PD[0] = 2 MiB page 0. */
	mov $PML4, %edi
	xor %eax, %eax
	mov $3 * 4096 / 4, %ecx
	rep stosl
	movl $PDPT | 3, PML4
	movl $PD | 3, PDPT
	movl $0 | 0x83, PD         /* present, writable, PS (a 2 MiB page) */
	mov %cr4, %eax
	or $1 << 5, %eax           /* CR4.PAE */
	mov %eax, %cr4
	mov $PML4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx      /* the EFER MSR */
	rdmsr
	or $1 << 8, %eax           /* EFER.LME */
	wrmsr
	mov %cr0, %eax
	or $1 << 31, %eax          /* CR0.PG: paging on, and with LME, long mode */
	mov %eax, %cr0
	ljmp $SEL_CODE64, $lm64

	.code64
lm64:
	mov $msg64, %esi
	PUTS
	mov %cr3, %rax             /* a 64-bit register: only possible here */
	DEMO_EXIT

	GDT
msg32:	.asciz "long: in 32-bit protected mode; building page tables at 0x10000, then PAE, EFER.LME, CR0.PG\n"
msg64:	.asciz "long: now in 64-bit long mode (CS = 0x18 with L = 1; the first 2 MiB identity-mapped)\n"
