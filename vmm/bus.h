/* bus.h: one address-range dispatcher shared by port I/O and MMIO; handlers see offsets into their own range. */
#ifndef KVMINI_BUS_H
#define KVMINI_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* A device's handlers. `off` is relative to the start of the device's range; `len` is 1, 2, 4 or 8.
 * A handler must fill all `len` bytes of `data` on a read. */
struct bus_ops {
	void (*read)(void *dev, uint64_t off, uint8_t *data, unsigned len);
	void (*write)(void *dev, uint64_t off, const uint8_t *data, unsigned len);
	/* Optional: a string write (rep outs) of `count` items of `len` bytes at one port, as one call. Without it,
	 * the bus calls write once per item. Port I/O only. */
	void (*write_string)(void *dev, uint64_t off, const uint8_t *data, unsigned len, unsigned count);
};

struct bus_range {
	uint64_t base, len;
	const struct bus_ops *ops;
	void *dev;
	const char *name;
};

#define BUS_MAX_RANGES 32

struct bus {
	const char *name;		    /* "pio" or "mmio", for messages */
	struct bus_range r[BUS_MAX_RANGES]; /* sorted by base, never overlapping */
	unsigned n;
	/* Accesses nobody claimed: reads return all-ones, writes are dropped. Counted, never fatal. */
	uint64_t unclaimed_reads, unclaimed_writes;
};

void bus_init(struct bus *b, const char *name);
/* 0, -EINVAL (empty or wrapping range), -EEXIST (overlaps an existing range), -ENOSPC (table full). */
int bus_add(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops, void *dev, const char *name);
/* The range holding addr, or NULL. */
const struct bus_range *bus_find(const struct bus *b, uint64_t addr);
/* Dispatch one access; returns true when a device claimed it. An access that straddles the end of a range
 * is unclaimed (a device never sees an offset+len beyond its range). */
bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, unsigned len, bool is_write);

/* A string write (rep outs): `count` items of `len` bytes to one address, in order; true when claimed. */
bool bus_write_string(struct bus *b, uint64_t addr, const uint8_t *data, unsigned len, unsigned count);

/* A claimed range that reads as all-ones and ignores writes (port 0x80, the POST/delay port). */
extern const struct bus_ops bus_sink_ops;

#endif
