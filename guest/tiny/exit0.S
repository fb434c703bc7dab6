/* exit0.S: writes 0 to the exit device (port 0xf4) as one byte, then halts with interrupts off forever: only
 * the exit device can end this guest, so kvmini exiting 0 before --timeout proves the port's 0 is exact. */
#include "bzimage.h"
	mov $0xf4, %dx
	xor %al, %al
	out %al, %dx
1:	cli
	hlt
	jmp 1b
	TINY_END
