/* i8042.h: a PS/2 controller with nothing behind it, there only so Linux's probe and keyboard-reset reboot work. */
#ifndef KVMINI_I8042_H
#define KVMINI_I8042_H

#include <stdint.h>

#include "vmm/bus.h"

/*
 * The VMM registers one struct i8042 twice, as two 1-port ranges with the same `dev`:
 *   bus_add(pio, I8042_DATA_PORT, 1, &i8042_data_ops, k, "i8042-data");   (0x60, offset 0)
 *   bus_add(pio, I8042_CMD_PORT, 1, &i8042_cmd_ops, k, "i8042-cmd");      (0x64, offset 0)
 * (0x61-0x63 lie between them and belong to other devices, hence two ranges.)
 *
 * There is no keyboard. Port 0x64 always reads status 0x01: output buffer "full" (bit 0), input buffer empty
 * (bit 1 clear). Port 0x60 always reads 0xff. Why these values:
 *  - Linux's i8042 probe first flushes the output buffer: it reads 0x60 while status bit 0 is set, and gives up
 *    after 16 bytes with "i8042: No controller found". So the probe ends at once, without sending a command and
 *    waiting out its 500 ms time-outs (which an all-ones status, or a controller that never answers, would cost).
 *  - Linux's keyboard-controller reboot (reboot=k, and a fallback of the default) waits for status bit 1 == 0,
 *    then writes 0xFE ("pulse the reset line") to 0x64: bit 1 is always clear, so it proceeds immediately, and
 *    the 0xFE write calls the reset callback.
 * Every other write is dropped and counted.
 */
#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT	0x64

#define I8042_STATUS	0x01 /* OBF set, IBF clear */
#define I8042_DATA	0xff /* no device answers */
#define I8042_CMD_RESET 0xfe /* pulse output port bit 0: the CPU reset line */

struct i8042 {
	/* May be NULL. Runs on the vCPU thread that wrote 0xFE, with no lock held; it must be idempotent, as
	 * Linux writes 0xFE up to 10 times in a row, and other vCPUs may do so concurrently. */
	void (*reset)(void *opaque);
	void *opaque;
	uint64_t resets;	 /* 0xFE commands seen */
	uint64_t ignored_writes; /* every other write to 0x60 or 0x64 */
};

/* No resources held, so there is no destroy. */
void i8042_init(struct i8042 *k, void (*reset)(void *opaque), void *opaque);

extern const struct bus_ops i8042_data_ops; /* port 0x60, 1 byte long */
extern const struct bus_ops i8042_cmd_ops;  /* port 0x64, 1 byte long */

#endif
