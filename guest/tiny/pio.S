/* pio.S: port I/O seen from both sides. The guest writes "tiny: pio ok" to COM1 with one `rep outsb`
 * (a string instruction: a single exit carrying all the bytes, which kvmini hands to its 16550 model one
 * by one), reads one port nobody claimed (port 0x99: reads as 0xff) and writes one (port 0x98: ignored),
 * then resets the machine through the i8042 (0xFE to port 0x64): kvmini exits 0. The e2e case checks the
 * console text, the exit status, and that --stats counts exactly 1 unclaimed read and 1 unclaimed write. */
#include "bzimage.h"
	mov $0x3f8, %dx
	lea msg(%rip), %rsi
	mov $msg_end - msg, %ecx
	cld
	rep outsb
	in $0x99, %al       /* unclaimed: all-ones */
	cmp $0xff, %al
	jne 1f
	out %al, $0x98      /* unclaimed: dropped */
	mov $0xfe, %al
	out %al, $0x64      /* i8042: pulse the reset line */
1:	hlt
	jmp 1b
msg:	.ascii "tiny: pio ok\n"
msg_end:
	TINY_END
