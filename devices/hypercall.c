/* hypercall.c: the demo hypercall device: PRINT a guest string, read the host's TIME; registers in, result out. */
#include "devices/hypercall.h"

#include <errno.h>
#include <string.h>

void hypercall_init(struct hypercall *hc, const struct hypercall_hooks *h, const struct gmem *mem)
{
	memset(hc, 0, sizeof(*hc));
	hc->h = *h;
	hc->mem = mem;
}

/* The guest's string, found through the checked accessor: the longest window of RAM from gpa (up to the limit and
 * the NUL), then a NUL inside it. A string that runs off the end of RAM or past the limit is refused whole. */
static int64_t hypercall_print(struct hypercall *hc, uint64_t gpa)
{
	uint64_t lo = 0, hi = HYPERCALL_PRINT_MAX + 1;
	const char *s, *nul;

	/* Binary search for the largest n with [gpa, gpa + n) in RAM: near the end of RAM the window is shorter. */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;

		if (gmem_ptr(hc->mem, gpa, mid))
			lo = mid;
		else
			hi = mid - 1;
	}
	s = lo ? gmem_ptr(hc->mem, gpa, lo) : NULL;
	if (!s || !(nul = memchr(s, 0, lo)))
		return -EFAULT;
	if (hc->h.print)
		hc->h.print(hc->h.opaque, s, (size_t)(nul - s));
	return nul - s;
}

void hypercall_handle(struct hypercall *hc, struct hypercall_regs *r)
{
	int64_t ret;

	hc->calls++;
	switch (r->rax) {
	case HYPERCALL_PRINT:
		ret = hypercall_print(hc, r->rbx);
		break;
	case HYPERCALL_TIME: {
		uint64_t ns = hc->h.now_ns ? hc->h.now_ns(hc->h.opaque) : 0;

		r->rdx = ns % 1000000000u;
		ret = (int64_t)(ns / 1000000000u);
		break;
	}
	default:
		ret = -ENOSYS;
		break;
	}
	if (ret < 0)
		hc->failed++;
	r->rax = (uint64_t)ret;
}
