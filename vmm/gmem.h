/* gmem.h: guest RAM and the one overflow-checked guest-physical-address accessor everything uses. */
#ifndef KVMINI_GMEM_H
#define KVMINI_GMEM_H

#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 2

/* A contiguous run of guest-physical RAM backed by host memory. */
struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct gmem {
	struct gmem_region r[GMEM_MAX_REGIONS]; /* sorted by gpa; at most one below and one above the MMIO hole */
	unsigned n;
	uint64_t ram_size; /* total RAM */
	/* The host reservation [map, map + map_len) is PROT_NONE but for RAM at [ram, ram + ram_size), which starts
	 * on a 2 MiB boundary with guard pages on both sides. */
	uint8_t *map, *ram;
	size_t map_len;
};

/* Map `size` bytes of guest RAM (a multiple of 4 KiB, >= 1 MiB) split around the 32-bit MMIO hole.
 * 0, -EINVAL (bad size), -ENOMEM. */
int gmem_init(struct gmem *m, uint64_t size);
void gmem_destroy(struct gmem *m);

/* Build the region list for `size` bytes of RAM without mapping anything (hva = NULL); used by gmem_init and
 * by tests. Returns the region count, or -EINVAL. */
int gmem_layout(struct gmem_region *r, uint64_t size);

/* The host address of [gpa, gpa + len) when that whole range lies in one RAM region; NULL otherwise
 * (including len == 0 ranges outside RAM, overflow of gpa + len, and ranges crossing the MMIO hole).
 * This is the only way from a guest address to host memory. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);
/* Copy out of / into guest memory through gmem_ptr: 0 or -EFAULT. */
int gmem_read(const struct gmem *m, void *dst, uint64_t gpa, size_t len);
int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, size_t len);
/* Highest end address (exclusive) of RAM below 4 GiB. */
uint64_t gmem_low_end(const struct gmem *m);
/* Bytes of guest RAM currently resident in host memory (touched by the guest or the loader). */
uint64_t gmem_resident(const struct gmem *m);

#endif
