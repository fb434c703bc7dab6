/* runinit_blob.S: puts the static binary built from guest/runinit.c into kvmini itself, so `kvmini run -- CMD`
 * needs no file beside kvmini. The Makefile passes the binary's path as RUNINIT_PATH (a quoted string); C code
 * sees the bytes as [kvmini_runinit_start, kvmini_runinit_end) through vmm/runinit.h. */
	.section .rodata
	.balign 16
	.globl kvmini_runinit_start
	.globl kvmini_runinit_end
	.type kvmini_runinit_start, @object
	.type kvmini_runinit_end, @object
kvmini_runinit_start:
	.incbin RUNINIT_PATH
kvmini_runinit_end:
	.size kvmini_runinit_start, kvmini_runinit_end - kvmini_runinit_start
	.size kvmini_runinit_end, 0

/* No executable stack for kvmini because of this file. */
	.section .note.GNU-stack,"",@progbits
