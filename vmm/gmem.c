/* gmem.c: guest RAM as one lazily-populated anonymous mapping between guard pages, and its checked accessor. */
#include "vmm/gmem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/layout.h"

#define PAGE 4096ULL
#define HUGE (2ULL << 20)

int gmem_layout(struct gmem_region *r, uint64_t size)
{
	if (size < (1ULL << 20) || size % PAGE || size > GUEST_MEM_MAX)
		return -EINVAL;
	r[0] = (struct gmem_region){.gpa = 0, .size = size < GUEST_MMIO_HOLE ? size : GUEST_MMIO_HOLE};
	if (size <= GUEST_MMIO_HOLE)
		return 1;
	r[1] = (struct gmem_region){.gpa = GUEST_MMIO_HOLE_END, .size = size - GUEST_MMIO_HOLE};
	return 2;
}

int gmem_init(struct gmem *m, uint64_t size)
{
	int n = gmem_layout(m->r, size);
	uint64_t off = 0;

	if (n < 0)
		return n;
	m->n = (unsigned)n;
	m->ram_size = size;
	/* MAP_NORESERVE + anonymous: untouched guest pages cost nothing. RAM starts on a 2 MiB boundary so the host
	 * can back it with transparent huge pages (asked for below): one nested-paging fault then maps 2 MiB
	 * instead of 4 KiB, which is most of the boot time under nested virtualization. Everything else in the
	 * reservation stays PROT_NONE: at least one guard page before RAM and 2 MiB after it turn a host-side
	 * overrun into a fault instead of silent corruption of a neighbouring mapping. */
	m->map_len = size + 2 * HUGE;
	m->map = mmap(NULL, m->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		return -ENOMEM;
	}
	m->ram = (uint8_t *)(((uintptr_t)m->map + PAGE + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
	if (mprotect(m->ram, size, PROT_READ | PROT_WRITE) < 0) {
		munmap(m->map, m->map_len);
		m->map = NULL;
		return -ENOMEM;
	}
	madvise(m->ram, size, MADV_HUGEPAGE); /* advice only: THP may be off, which is fine */
	for (unsigned i = 0; i < m->n; i++) {
		m->r[i].hva = m->ram + off;
		off += m->r[i].size;
	}
	return 0;
}

void gmem_destroy(struct gmem *m)
{
	if (m->map)
		munmap(m->map, m->map_len);
	memset(m, 0, sizeof(*m));
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	for (unsigned i = 0; i < m->n; i++) {
		const struct gmem_region *r = &m->r[i];

		/* [gpa, end) must lie within [r->gpa, r->gpa + r->size); written to avoid computing r->gpa + size
		 * beyond what the region check needs. */
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && end - r->gpa <= r->size)
			return r->hva ? r->hva + (gpa - r->gpa) : NULL;
	}
	return NULL;
}

int gmem_read(const struct gmem *m, void *dst, uint64_t gpa, size_t len)
{
	const void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gmem_write(const struct gmem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t gmem_low_end(const struct gmem *m)
{
	return m->n ? m->r[0].gpa + m->r[0].size : 0;
}

uint64_t gmem_resident(const struct gmem *m)
{
	unsigned char vec[4096];
	uint64_t pages = 0;
	size_t size = m->ram_size;

	if (!m->map)
		return 0;
	/* mincore() in chunks: a bounded stack buffer even for a terabyte guest. */
	for (size_t off = 0; off < size; off += sizeof(vec) * PAGE) {
		size_t len = size - off < sizeof(vec) * PAGE ? size - off : sizeof(vec) * PAGE;

		if (mincore(m->ram + off, len, vec) < 0)
			return 0;
		for (size_t i = 0; i < (len + PAGE - 1) / PAGE; i++)
			pages += vec[i] & 1;
	}
	return pages * PAGE;
}
