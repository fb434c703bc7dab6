/* exit42.S: the exit device (port 0xf4, vmm/layout.h PORT_EXIT): one `out` of 42 ends kvmini with status 42.
 * Status 0 is just as exact: see exit0.S. */
#include "bzimage.h"
	mov $0xf4, %dx
	mov $42, %eax
	out %eax, %dx
	ud2 /* not reached: a triple fault would end kvmini with 0 */
	TINY_END
