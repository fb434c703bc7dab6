/* runinit_out.c: the built-in init's output path: CMD's bytes to kvmini in pages, or byte by byte. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest/runinit.h"
#include "vmm/layout.h"

/*
 * Why pages: KVM hands `rep outsb` to the VMM one byte per exit, and an exit costs microseconds (much more
 * when nested), so a MiB of output would take seconds to minutes. Instead the init keeps a transfer area
 * locked in RAM: a control page and PROG_XFER_PAGES data pages. It learns their physical addresses from
 * /proc/self/pagemap (PID 1 has CAP_SYS_ADMIN, which that needs), reads CMD's output straight into the data
 * pages, writes {stream, len, gpa[]} into the control page, and one `outl` of the control page's frame number
 * makes kvmini copy the bytes out: 64 KiB per exit. Locked pages are not swapped; the init also tells the
 * kernel not to move them while compacting memory, so the addresses stay true.
 */
#define PAGE 4096u

struct xfer_ctl {
	uint32_t stream, len;
	uint64_t gpa[PROG_XFER_PAGES];
};

static struct xfer_ctl *ctl;
static unsigned char *data;
static uint32_t ctl_pfn;
static unsigned char bytes[PAGE * PROG_XFER_PAGES] __attribute__((aligned(PAGE))); /* without pages */

/* The physical frame behind a locked, present page of ours, or 0. */
static uint64_t frame_of(int fd, const void *va)
{
	uint64_t e = 0;
	off_t at = (off_t)((uintptr_t)va / PAGE * sizeof(e));

	if (pread(fd, &e, sizeof(e), at) != (ssize_t)sizeof(e) || !(e >> 63)) /* bit 63: present */
		return 0;
	return e & ((1ULL << 55) - 1); /* bits 0-54; 0 when the caller may not see frames */
}

bool out_pages_init(void)
{
	size_t size = PAGE * (1 + PROG_XFER_PAGES);
	int fd = open("/proc/sys/vm/compact_unevictable_allowed", O_WRONLY | O_CLOEXEC);
	unsigned char *area;
	uint64_t f;

	if (fd >= 0) {
		if (write(fd, "0", 1) < 0)
			(void)0; /* an older kernel: compaction may move the pages, which only costs a wrong copy */
		close(fd);
	}
	area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
	if (area == MAP_FAILED)
		return false;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	f = frame_of(fd, area);
	if (!f || f > UINT32_MAX)
		goto fail_fd;
	ctl = (struct xfer_ctl *)area;
	ctl_pfn = (uint32_t)f;
	data = area + PAGE;
	for (unsigned i = 0; i < PROG_XFER_PAGES; i++) {
		if (!(f = frame_of(fd, data + i * PAGE)))
			goto fail_fd;
		ctl->gpa[i] = f * PAGE;
	}
	close(fd);
	return true;
fail_fd:
	close(fd);
fail:
	munmap(area, size);
	ctl = NULL;
	data = NULL;
	return false;
}

unsigned char *out_buffer(size_t *cap)
{
	*cap = PAGE * PROG_XFER_PAGES;
	return data ? data : bytes;
}

bool out_gone(int stream, bool have_ports)
{
	if (!data || !have_ports)
		return false;
	return inl(PORT_PROG_PAGES) & (stream == 1 ? 1u : 2u);
}

void out_send(int stream, size_t n, bool have_ports)
{
	const unsigned char *p = bytes;

	if (data && have_ports) {
		ctl->stream = (uint32_t)stream;
		ctl->len = (uint32_t)n;
		outl(ctl_pfn, PORT_PROG_PAGES); /* kvmini has copied the bytes when this returns */
		return;
	}
	if (data)
		p = data;
	while (n > 0) {
		/* One page at most per rep outsb, as KVM's string I/O wants; it still exits per byte. */
		size_t chunk = n < PAGE ? n : PAGE;

		n -= chunk;
		if (!have_ports) { /* not under kvmini: keep the bytes on the console rather than lose them */
			if (write(2, p, chunk) < 0)
				return;
			p += chunk;
			continue;
		}
		asm volatile("rep outsb"
			     : "+S"(p), "+c"(chunk)
			     : "d"((unsigned short)(stream == 1 ? PORT_PROG_STDOUT : PORT_PROG_STDERR))
			     : "memory");
	}
}
