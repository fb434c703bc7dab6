/* mmio-exec.S: jump into the MMIO hole (3 GiB), where there is no memory to fetch instructions from. KVM
 * cannot emulate that and stops the vCPU with KVM_EXIT_INTERNAL_ERROR; kvmini prints the vCPU registers
 * (RIP = 0xd0000000) and exits 127. */
#include "bzimage.h"
	movabs $0xd0000000, %rax
	jmp *%rax
	TINY_END
