/* bus.c: a sorted table of non-overlapping ranges; port I/O and MMIO each get one, handlers get offsets. */
#include "vmm/bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
}

int bus_add(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops, void *dev, const char *name)
{
	uint64_t end;
	unsigned i;

	if (len == 0 || __builtin_add_overflow(base, len - 1, &end) || !ops)
		return -EINVAL;
	if (b->n == BUS_MAX_RANGES)
		return -ENOSPC;
	/* Find the insertion point, rejecting any overlap with a neighbour: layout bugs fail at start-up. */
	for (i = 0; i < b->n; i++) {
		const struct bus_range *r = &b->r[i];
		uint64_t r_end = r->base + (r->len - 1);

		if (base <= r_end && r->base <= end)
			return -EEXIST;
		if (base < r->base)
			break;
	}
	memmove(&b->r[i + 1], &b->r[i], (b->n - i) * sizeof(b->r[0]));
	b->r[i] = (struct bus_range){.base = base, .len = len, .ops = ops, .dev = dev, .name = name};
	b->n++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *b, uint64_t addr)
{
	unsigned lo = 0, hi = b->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->r[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, unsigned len, bool is_write)
{
	const struct bus_range *r = bus_find(b, addr);
	uint64_t off;

	/* The whole access must fall inside the range: a device never sees bytes beyond its end. */
	if (r && len && (off = addr - r->base) <= r->len - len && len <= r->len) {
		if (is_write) {
			if (r->ops->write)
				r->ops->write(r->dev, off, data, len);
		} else if (r->ops->read) {
			r->ops->read(r->dev, off, data, len);
		} else {
			memset(data, 0xff, len);
		}
		return true;
	}
	if (is_write) {
		__atomic_add_fetch(&b->unclaimed_writes, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_add_fetch(&b->unclaimed_reads, 1, __ATOMIC_RELAXED);
		memset(data, 0xff, len);
	}
	return false;
}

bool bus_write_string(struct bus *b, uint64_t addr, const uint8_t *data, unsigned len, unsigned count)
{
	const struct bus_range *r = bus_find(b, addr);
	uint64_t off;

	if (count > 1 && r && r->ops->write_string && len && (off = addr - r->base) <= r->len - len && len <= r->len) {
		r->ops->write_string(r->dev, off, data, len, count);
		return true;
	}
	bool claimed = true;

	for (unsigned i = 0; i < count; i++)
		claimed = bus_access(b, addr, (uint8_t *)data + (size_t)i * len, len, true) && claimed;
	return claimed;
}

static void bus_sink_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	(void)dev;
	(void)off;
	memset(data, 0xff, len);
}

static void bus_sink_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	(void)dev;
	(void)off;
	(void)data;
	(void)len;
}

const struct bus_ops bus_sink_ops = {.read = bus_sink_read, .write = bus_sink_write};
