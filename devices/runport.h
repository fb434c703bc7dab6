/* runport.h: the run channel's ports: the exit device, the boot-ready marker and the program's output streams. */
#ifndef KVMINI_RUNPORT_H
#define KVMINI_RUNPORT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/gmem.h"

/*
 * Three small port devices (addresses in vmm/layout.h), the guest half of `kvmini run -- CMD`:
 *   exit   (PORT_EXIT, 4 ports): a 1-, 2- or 4-byte write at offset 0 of value v ends the VM with status v.
 *          From a shell: printf '\007' | dd of=/dev/port bs=1 seek=244 (0xf4) ends kvmini with status 7.
 *   ready  (PORT_READY, 1 port): a byte write of READY_VALUE says the guest's init is up (--boot-timeout).
 *   output (PORT_PROG_STDOUT and PORT_PROG_STDERR): every byte written goes to kvmini's stdout or stderr,
 *          unchanged. Simple, but KVM turns `rep outsb` into one exit per byte.
 *   pages  (PORT_PROG_PAGES, 4 ports): a 4-byte write of a page frame number: that page holds
 *          {le32 stream (1 or 2), le32 len, le64 gpa[PROG_XFER_PAGES]}; the len bytes are in those pages, in
 *          order, 4 KiB from each (the last one partly). One exit moves up to 64 KiB. Every field is checked:
 *          a bad transfer is ignored (counted), never partly sent. A 4-byte read returns which streams
 *          lost their reader (bit 0 stdout, bit 1 stderr), so the init can close CMD's pipe: CMD then gets
 *          SIGPIPE as it would in a host pipeline (kvmini run -- yes | head -1 ends).
 * Reads return all-ones. Anything else (another offset, another value) is ignored and counted.
 */
struct runport_hooks {
	void (*exit)(void *opaque, uint32_t status);
	void (*ready)(void *opaque);
	void (*output)(void *opaque, int stream, const uint8_t *data, size_t len); /* stream 1 or 2 */
	uint32_t (*gone)(void *opaque); /* bit 0: stdout's reader went away, bit 1: stderr's */
	void *opaque;
};

struct runport {
	struct runport_hooks h;
	const struct gmem *mem; /* where transfer pages are read from */
	uint64_t ignored;	/* writes that meant nothing */
};

void runport_init(struct runport *p, const struct runport_hooks *h, const struct gmem *mem);

extern const struct bus_ops runport_exit_ops;	/* PORT_EXIT, length 4 */
extern const struct bus_ops runport_ready_ops;	/* PORT_READY, length 1 */
extern const struct bus_ops runport_output_ops; /* PORT_PROG_STDOUT, length 2: stdout at 0, stderr at 1 */
extern const struct bus_ops runport_pages_ops;	/* PORT_PROG_PAGES, length 4 */

#endif
