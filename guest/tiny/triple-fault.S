/* triple-fault.S: an exception with no IDT (kvmini enters with an empty one): #UD cannot be delivered (#GP),
 * nor can that (#DF), so the CPU shuts down. On a PC that is a reset; KVM reports KVM_EXIT_SHUTDOWN and
 * kvmini exits 0 ("guest reset (triple fault)" with --stats). */
#include "bzimage.h"
	mov $0x3f8, %dx
	mov $'!', %al
	out %al, %dx
	ud2
	TINY_END
