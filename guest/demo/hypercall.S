/* hypercall.S: kvmini demo hypercall — the guest asks the hypervisor for a service, the way a paravirtual
 * driver does.
 *
 * kvmini's hypercall ABI (devices/hypercall.h; the port is PORT_HYPERCALL, 0x6f8, in vmm/layout.h):
 *   RAX = the call number, RBX = its argument; then an OUT of any byte to port 0x6f8.
 *   1 PRINT: print the NUL-terminated string at guest-physical address RBX; RAX = its length (or -EFAULT).
 *   2 TIME:  RAX = the host's wall clock in seconds since 1970, RDX = nanoseconds.
 *   other:   RAX = -ENOSYS (-38).
 * How kvmini serves it: the OUT exits (KVM_EXIT_IO). kvmini lets KVM finish the OUT (KVM_RUN with immediate_exit
 * set), reads the registers (KVM_GET_REGS), performs the call (reading the string only through its checked
 * guest-memory accessor: a bad address cannot make it read outside the guest's RAM), writes RAX (and RDX)
 * back (KVM_SET_REGS) and resumes the guest, which finds the result in RAX after its OUT.
 * Why an OUT and not an IN: for an IN, KVM itself writes the port's value into AL/AX/EAX when the guest resumes,
 * over whatever kvmini put in RAX.
 * Why not VMCALL, the instruction made for this? KVM handles VMCALL itself: it is KVM's own paravirtual
 * interface (KVM_HC_* calls such as kicking a halted vCPU), and an unknown call number gets -KVM_ENOSYS (-1000)
 * in RAX without kvmini ever hearing of it. The last step below shows exactly that.
 */
#include "demo.h"

#define HC_PRINT 1
#define HC_TIME	 2
#define Y2020	 1577836800 /* 2020-01-01 00:00:00 UTC, in seconds since 1970 */

	.code16
	.globl _start
_start:
	START_PROTECTED pm32 /* as in protected.S */

	.code32
pm32:
	FLAT_DATA32
	/* PRINT: kvmini prints the string; one exit for the whole line */
	mov $HC_PRINT, %eax
	mov $msg_hello, %ebx
	mov $PORT_HYPERCALL, %dx
	out %al, %dx
	push %eax
	mov $msg_len, %esi
	PUTS
	pop %eax
	call puthex32
	mov $msg_len2, %esi
	PUTS

	/* TIME: the host's clock, in a register the guest never set */
	mov $HC_TIME, %eax
	mov $PORT_HYPERCALL, %dx
	out %al, %dx
	mov $msg_time_bad, %esi
	cmp $Y2020, %eax
	jb 6f
	mov $msg_time, %esi
6:	PUTS

	/* an unknown call */
	mov $99, %eax
	mov $PORT_HYPERCALL, %dx
	out %al, %dx
	push %eax
	mov $msg_nosys, %esi
	PUTS
	pop %eax
	call puthex32
	mov $msg_nosys2, %esi
	PUTS

	/* VMCALL: KVM's, not kvmini's */
	mov $99, %eax
	vmcall
	push %eax
	mov $msg_vmcall, %esi
	PUTS
	pop %eax
	call puthex32
	mov $msg_vmcall2, %esi
	PUTS
	DEMO_EXIT

	PUTHEX_FUNCS
	GDT
msg_hello:	.asciz "hypercall: this line was printed by kvmini: PRINT with its address in RBX, one OUT\n"
msg_len:	.asciz "hypercall: PRINT returned RAX = 0x"
msg_len2:	.asciz " (the line's length, written by kvmini with KVM_SET_REGS)\n"
msg_time:	.asciz "hypercall: TIME returned the host's clock in RAX: after 2020, as it should be\n"
msg_time_bad:	.asciz "hypercall: TIME returned a clock before 2020?\n"
msg_nosys:	.asciz "hypercall: call 99 returned RAX = 0x"
msg_nosys2:	.asciz " (-ENOSYS: kvmini has no call 99)\n"
msg_vmcall:	.asciz "hypercall: VMCALL with RAX = 99 returned RAX = 0x"
msg_vmcall2:	.asciz " (-1000, -KVM_ENOSYS: KVM answered it; kvmini saw no exit)\n"
