/* runport.c: the run channel's ports: exit status, boot-ready marker, program output (see runport.h). */
#include "devices/runport.h"

#include <endian.h>
#include <string.h>

#include "vmm/layout.h"

void runport_init(struct runport *p, const struct runport_hooks *h, const struct gmem *mem)
{
	memset(p, 0, sizeof(*p));
	p->h = *h;
	p->mem = mem;
}

static void runport_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	(void)dev;
	(void)off;
	memset(data, 0xff, len);
}

static void exit_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct runport *p = dev;
	uint32_t v = 0;

	/* guest: only a whole value at the first port counts; outb to 0xf5 is noise, not a status. */
	if (off != 0 || (len != 1 && len != 2 && len != 4)) {
		p->ignored++;
		return;
	}
	for (unsigned i = 0; i < len; i++)
		v |= (uint32_t)data[i] << (8 * i);
	if (p->h.exit)
		p->h.exit(p->h.opaque, v);
}

static void ready_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct runport *p = dev;

	if (off != 0 || len != 1 || data[0] != READY_VALUE) {
		p->ignored++;
		return;
	}
	if (p->h.ready)
		p->h.ready(p->h.opaque);
}

static void output_string(void *dev, uint64_t off, const uint8_t *data, unsigned len, unsigned count)
{
	struct runport *p = dev;

	/* off is 0 or 1: the bus keeps every access inside the 2-port range. */
	if (p->h.output)
		p->h.output(p->h.opaque, off == 0 ? 1 : 2, data, (size_t)len * count);
}

static void output_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	output_string(dev, off, data, len, 1);
}

#define XFER_PAGE 4096u

/* The transfer page's fields, copied out of guest memory once: the guest may change them while we look. */
struct xfer {
	uint32_t stream, len;
	uint64_t gpa[PROG_XFER_PAGES];
};

static void pages_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct runport *p = dev;
	uint32_t v = p->h.gone ? p->h.gone(p->h.opaque) : 0;

	memset(data, 0, len);
	for (unsigned i = 0; i < len && off == 0 && i < 4; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

static void pages_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct runport *p = dev;
	uint8_t raw[8 + 8 * PROG_XFER_PAGES];
	const uint8_t *src[PROG_XFER_PAGES];
	struct xfer x;
	uint32_t pfn;
	unsigned n;

	if (off != 0 || len != 4 || !p->mem) {
		p->ignored++;
		return;
	}
	memcpy(&pfn, data, 4);
	pfn = le32toh(pfn);
	/* guest: pfn, stream, len and every gpa are checked here, where they enter; gmem_ptr bounds each page. */
	if (gmem_read(p->mem, raw, (uint64_t)pfn * XFER_PAGE, sizeof(raw)) < 0) {
		p->ignored++;
		return;
	}
	memcpy(&x.stream, raw, 4);
	memcpy(&x.len, raw + 4, 4);
	x.stream = le32toh(x.stream);
	x.len = le32toh(x.len);
	if ((x.stream != 1 && x.stream != 2) || x.len > PROG_XFER_PAGES * XFER_PAGE) {
		p->ignored++;
		return;
	}
	n = (x.len + XFER_PAGE - 1) / XFER_PAGE;
	for (unsigned i = 0; i < n; i++) {
		uint32_t chunk = i + 1 < n ? XFER_PAGE : x.len - i * XFER_PAGE;

		memcpy(&x.gpa[i], raw + 8 + 8 * i, 8);
		x.gpa[i] = le64toh(x.gpa[i]);
		if ((x.gpa[i] & (XFER_PAGE - 1)) || !(src[i] = gmem_ptr(p->mem, x.gpa[i], chunk))) {
			p->ignored++;
			return;
		}
	}
	/* All checked: now send, in order. The bytes are read where they are (the guest's own buffer). */
	for (unsigned i = 0; i < n && p->h.output; i++)
		p->h.output(p->h.opaque, (int)x.stream, src[i], i + 1 < n ? XFER_PAGE : x.len - i * XFER_PAGE);
}

const struct bus_ops runport_exit_ops = {.read = runport_read, .write = exit_write};
const struct bus_ops runport_ready_ops = {.read = runport_read, .write = ready_write};
const struct bus_ops runport_output_ops = {.read = runport_read, .write = output_write, .write_string = output_string};
const struct bus_ops runport_pages_ops = {.read = pages_read, .write = pages_write};
