/* i8042.c: an empty PS/2 controller: fixed status/data reads, and 0xFE on the command port resets the VM. */
#include "devices/i8042.h"

#include <string.h>

void i8042_init(struct i8042 *k, void (*reset)(void *opaque), void *opaque)
{
	memset(k, 0, sizeof(*k));
	k->reset = reset;
	k->opaque = opaque;
}

/* Both ports are 8 bits wide: a wider read gets the value in byte 0 and 0xff above it. */
static void i8042_fill(uint8_t *data, unsigned len, uint8_t val)
{
	if (!len)
		return;
	memset(data, 0xff, len);
	data[0] = val;
}

static void i8042_data_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	(void)dev;
	(void)off;
	i8042_fill(data, len, I8042_DATA);
}

static void i8042_cmd_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	(void)dev;
	(void)off;
	i8042_fill(data, len, I8042_STATUS);
}

/* Counters are bumped atomically: several vCPUs may poke the ports at once and we hold no lock. */
static void i8042_data_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;

	(void)off;
	(void)data;
	(void)len;
	__atomic_add_fetch(&k->ignored_writes, 1, __ATOMIC_RELAXED);
}

static void i8042_cmd_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;

	if (len && off == 0 && data[0] == I8042_CMD_RESET) {
		__atomic_add_fetch(&k->resets, 1, __ATOMIC_RELAXED);
		if (k->reset)
			k->reset(k->opaque);
		return;
	}
	__atomic_add_fetch(&k->ignored_writes, 1, __ATOMIC_RELAXED);
}

const struct bus_ops i8042_data_ops = {
    .read = i8042_data_read,
    .write = i8042_data_write,
};

const struct bus_ops i8042_cmd_ops = {
    .read = i8042_cmd_read,
    .write = i8042_cmd_write,
};
