/* bootparams.c: fill the zero page: the kernel's own setup header plus what the loader decided. */
#include "firmware/bootparams.h"

#include <errno.h>
#include <string.h>

int bootparams_build(struct boot_params *bp, const struct setup_header *hdr, size_t hdr_len,
		     const struct bootparams_args *a)
{
	if (hdr_len > sizeof(*hdr) || a->e820_entries > E820_MAX_ENTRIES_ZEROPAGE)
		return -EINVAL;
	memset(bp, 0, sizeof(*bp));
	/* The boot protocol asks the loader to pass the header back as the kernel wrote it, then patch fields. */
	memcpy(&bp->hdr, hdr, hdr_len);
	bp->hdr.type_of_loader = BOOTPARAMS_LOADER_ID;
	/* We enter in 32/64-bit mode: the real-mode heap and KEEP_SEGMENTS do not apply; keep LOADED_HIGH. */
	bp->hdr.loadflags = (uint8_t)((bp->hdr.loadflags & ~(CAN_USE_HEAP | KEEP_SEGMENTS)) | LOADED_HIGH);
	bp->hdr.cmd_line_ptr = (uint32_t)a->cmdline_addr;
	bp->ext_cmd_line_ptr = (uint32_t)(a->cmdline_addr >> 32);
	bp->hdr.ramdisk_image = (uint32_t)a->initrd_addr;
	bp->ext_ramdisk_image = (uint32_t)(a->initrd_addr >> 32);
	bp->hdr.ramdisk_size = (uint32_t)a->initrd_size;
	bp->ext_ramdisk_size = (uint32_t)(a->initrd_size >> 32);
	if (a->acpi_rsdp && bp->hdr.version >= 0x020e)
		bp->acpi_rsdp_addr = a->acpi_rsdp;
	bp->hdr.vid_mode = 0xffff; /* "normal": no video mode switch was asked for */
	memcpy(bp->e820_table, a->e820, a->e820_entries * sizeof(a->e820[0]));
	bp->e820_entries = (uint8_t)a->e820_entries;
	return 0;
}
