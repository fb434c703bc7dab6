/* bzimage.h: the smallest valid bzImage around a few lines of 64-bit code: a boot-protocol 2.15 header,
 * one setup sector, and a 1 KiB protected-mode "kernel" whose 64-bit entry (offset 0x200) is the guest.
 * Include it at the top of a tiny guest's .S file, then write the guest's code; end with TINY_END.
 * kvmini loads the payload at 1 MiB and jumps to 1 MiB + 0x200 in long mode with paging on (identity
 * map of the first 4 GiB), interrupts off, RSI = zero page. Field offsets: Documentation/arch/x86/boot.rst. */

#define TINY_PAYLOAD 0x400 /* bytes of protected-mode code, a multiple of 16 */

	.section .text
	.code64
	.globl _start
_start:
	.org 0x1f1
	.byte 1                        /* setup_sects: the boot sector plus 1 sector of setup (skipped) */
	.word 0                        /* root_flags */
	.long TINY_PAYLOAD / 16        /* syssize, in 16-byte paragraphs */
	.org 0x1fe
	.word 0xaa55                   /* boot_flag */
	.byte 0xeb, 0x268 - 0x202      /* jump over the header: its end gives the header's length */
	.ascii "HdrS"
	.word 0x020f                   /* boot protocol 2.15 */
	.org 0x211
	.byte 0x01                     /* loadflags: LOADED_HIGH (a bzImage) */
	.org 0x214
	.long 0x100000                 /* code32_start */
	.org 0x22c
	.long 0x7fffffff               /* initrd_addr_max */
	.long 0x200000                 /* kernel_alignment */
	.byte 0                        /* relocatable_kernel */
	.byte 0                        /* min_alignment */
	.word 0x0001                   /* xloadflags: XLF_KERNEL_64, a 64-bit entry at +0x200 */
	.long 255                      /* cmdline_size */
	.org 0x258
	.quad 0x100000                 /* pref_address */
	.long 0x10000                  /* init_size: what the "kernel" needs in RAM */
	.org 0x400                     /* end of setup: the payload (loaded at 1 MiB) starts here */
payload:
	hlt                            /* the 32-bit entry: unused */
	.org 0x600                     /* payload + 0x200: the 64-bit entry */
entry64:

#define TINY_END .org 0x400 + TINY_PAYLOAD
