/* test_kstats.c: the KVM binary-stats parser on synthetic files (header, id, descriptors, data) built here: values,
 * sums over vCPUs, peaks, histograms skipped, and hostile or truncated files rejected without reading past them. */
#include <errno.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/kstats.h"

#define NAME_SIZE 48 /* KVM_STATS_NAME_SIZE */
#define HDR	  24
#define DESC	  (16 + NAME_SIZE)

struct sdesc {
	const char *name;
	uint32_t flags;
	uint16_t size;	 /* items */
	uint64_t val[3]; /* up to 3 items */
};

static void put16(uint8_t *b, size_t off, uint16_t v)
{
	memcpy(b + off, &v, 2);
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
}

/* A file as KVM lays it out: header, id string, descriptors, then the data (each stat's items in order).
 * malloc'd, exactly *len bytes. */
static uint8_t *build(const struct sdesc *d, unsigned n, size_t *len)
{
	size_t id_off = HDR, desc_off = id_off + NAME_SIZE, data_off = desc_off + (size_t)n * DESC, data = 0;
	uint8_t *b;

	for (unsigned i = 0; i < n; i++)
		data += (size_t)d[i].size * 8;
	*len = data_off + data;
	b = calloc(1, *len);
	assert_non_null(b);
	put32(b, 0, 0);
	put32(b, 4, NAME_SIZE);
	put32(b, 8, n);
	put32(b, 12, (uint32_t)id_off);
	put32(b, 16, (uint32_t)desc_off);
	put32(b, 20, (uint32_t)data_off);
	strcpy((char *)b + id_off, "kvm-1234/vcpu-0");
	data = 0;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = b + desc_off + (size_t)i * DESC;

		put32(p, 0, d[i].flags);
		put16(p, 4, 0);
		put16(p, 6, d[i].size);
		put32(p, 8, (uint32_t)data);
		put32(p, 12, 0);
		strncpy((char *)p + 16, d[i].name, NAME_SIZE - 1);
		for (unsigned j = 0; j < d[i].size; j++)
			memcpy(b + data_off + data + j * 8, &d[i].val[j < 3 ? j : 2], 8);
		data += (size_t)d[i].size * 8;
	}
	return b;
}

static const struct sdesc sample[] = {
    {"exits", KVM_STATS_TYPE_CUMULATIVE, 1, {1000}},
    {"halt_exits", KVM_STATS_TYPE_CUMULATIVE, 1, {17}},
    {"halt_poll_success_hist", KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS, 3, {1, 2, 3}},
    {"irq_injections", KVM_STATS_TYPE_CUMULATIVE, 1, {42}},
    {"blocking", KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BOOLEAN, 1, {1}},
    {"max_mmu_page_hash_collisions", KVM_STATS_TYPE_PEAK, 1, {5}},
};
#define NSAMPLE (sizeof(sample) / sizeof(sample[0]))

/* Parse from an exact-size copy, so ASan catches any read past `len`. */
static int parse(const uint8_t *img, size_t len, struct kstats *ks)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, img, len);
	r = kstats_parse(copy, len, ks);
	free(copy);
	return r;
}

static void test_parse_sample(void **state)
{
	struct kstats *ks = calloc(1, sizeof(*ks));
	size_t len;
	uint8_t *img = build(sample, NSAMPLE, &len);
	int found;

	(void)state;
	assert_int_equal(parse(img, len, ks), 0);
	assert_int_equal(ks->files, 1);
	assert_int_equal(ks->n, NSAMPLE - 1); /* the histogram is skipped */
	assert_int_equal(kstats_get(ks, "exits", &found), 1000);
	assert_true(found);
	assert_int_equal(kstats_get(ks, "halt_exits", NULL), 17);
	assert_int_equal(kstats_get(ks, "irq_injections", NULL), 42);
	assert_int_equal(kstats_get(ks, "blocking", NULL), 1);
	assert_int_equal(kstats_get(ks, "max_mmu_page_hash_collisions", NULL), 5);
	assert_int_equal(kstats_get(ks, "halt_poll_success_hist", &found), 0);
	assert_false(found);
	assert_int_equal(kstats_get(ks, "nonexistent", &found), 0);
	assert_false(found);
	free(img);
	free(ks);
}

/* Two vCPUs: cumulative counters add up, peaks keep the larger. */
static void test_sum_over_vcpus(void **state)
{
	struct kstats *ks = calloc(1, sizeof(*ks));
	struct sdesc cpu1[NSAMPLE];
	size_t l0, l1;
	uint8_t *a, *b;

	(void)state;
	memcpy(cpu1, sample, sizeof(cpu1));
	cpu1[0].val[0] = 500;
	cpu1[5].val[0] = 9;
	a = build(sample, NSAMPLE, &l0);
	b = build(cpu1, NSAMPLE, &l1);
	assert_int_equal(parse(a, l0, ks), 0);
	assert_int_equal(parse(b, l1, ks), 0);
	assert_int_equal(ks->files, 2);
	assert_int_equal(kstats_get(ks, "exits", NULL), 1500);
	assert_int_equal(kstats_get(ks, "halt_exits", NULL), 34);
	assert_int_equal(kstats_get(ks, "max_mmu_page_hash_collisions", NULL), 9);
	free(a);
	free(b);
	free(ks);
}

/* Every truncation of a good file: rejected, nothing added, nothing read past the end. */
static void test_truncated(void **state)
{
	struct kstats *ks = calloc(1, sizeof(*ks));
	size_t len;
	uint8_t *img = build(sample, NSAMPLE, &len);

	(void)state;
	for (size_t l = 0; l < len; l++) {
		assert_int_equal(parse(img, l, ks), -EBADMSG);
		assert_int_equal(ks->n, 0);
		assert_int_equal(ks->files, 0);
	}
	assert_int_equal(kstats_parse(NULL, 100, ks), -EBADMSG);
	free(img);
	free(ks);
}

static void expect_bad(uint8_t *img, size_t len)
{
	struct kstats *ks = calloc(1, sizeof(*ks));

	assert_int_equal(parse(img, len, ks), -EBADMSG);
	assert_int_equal(ks->n, 0);
	free(ks);
}

/* Lies in the header or a descriptor. */
static void test_hostile(void **state)
{
	size_t len;
	uint8_t *img = build(sample, NSAMPLE, &len), *b = malloc(len);
	size_t d0 = HDR + NAME_SIZE; /* the first descriptor */

	(void)state;
	assert_non_null(b);
#define MUTATE(stmt)                 \
	do {                         \
		memcpy(b, img, len); \
		stmt;                \
		expect_bad(b, len);  \
	} while (0)
	MUTATE(put32(b, 4, 0));			     /* name_size 0 */
	MUTATE(put32(b, 4, 0xffffffff));	     /* name_size huge */
	MUTATE(put32(b, 4, NAME_SIZE + 1));	     /* descriptors then run past the end */
	MUTATE(put32(b, 8, 0xffffffff));	     /* num_desc huge: no overflow, no overrun */
	MUTATE(put32(b, 8, NSAMPLE + 1));	     /* one descriptor too many */
	MUTATE(put32(b, 16, 0xffffffff));	     /* desc_offset beyond the file */
	MUTATE(put32(b, 16, (uint32_t)len - 8));     /* desc block past the end */
	MUTATE(put32(b, 20, 0xffffffff));	     /* data_offset beyond the file */
	MUTATE(put32(b, 20, (uint32_t)len - 4));     /* data past the end */
	MUTATE(put32(b, d0 + 8, 0xfffffff0));	     /* a stat's offset far out */
	MUTATE(put16(b, d0 + 6, 0xffff));	     /* a stat with 65535 items */
	MUTATE(put16(b, d0 + 6, 0));		     /* a stat with none */
	MUTATE(memset(b + d0 + 16, 'x', NAME_SIZE)); /* a name without its NUL */
	MUTATE(memset(b + d0 + 16, 0, NAME_SIZE));   /* an empty name */
#undef MUTATE
	/* Unknown header flags and types are tolerated: a newer kernel's file still parses. */
	{
		struct kstats *ks = calloc(1, sizeof(*ks));

		memcpy(b, img, len);
		put32(b, 0, 0x80);
		put32(b, d0, 0xf);
		assert_int_equal(parse(b, len, ks), 0);
		assert_int_equal(kstats_get(ks, "exits", NULL), 0); /* type 15: skipped */
		assert_int_equal(kstats_get(ks, "halt_exits", NULL), 17);
		free(ks);
	}
	free(b);
	free(img);
}

/* More names than a set holds: what fits is kept, -ENOSPC says the rest was dropped. */
static void test_too_many(void **state)
{
	struct kstats *ks = calloc(1, sizeof(*ks));
	struct sdesc *d = calloc(KSTATS_MAX + 3, sizeof(*d));
	char(*names)[16] = calloc(KSTATS_MAX + 3, 16);
	size_t len;
	uint8_t *img;

	(void)state;
	for (unsigned i = 0; i < KSTATS_MAX + 3; i++) {
		snprintf(names[i], 16, "stat%u", i);
		d[i] = (struct sdesc){names[i], KVM_STATS_TYPE_CUMULATIVE, 1, {i}};
	}
	img = build(d, KSTATS_MAX + 3, &len);
	assert_int_equal(parse(img, len, ks), -ENOSPC);
	assert_int_equal(ks->n, KSTATS_MAX);
	assert_int_equal(kstats_get(ks, "stat7", NULL), 7);
	free(img);
	free(names);
	free(d);
	free(ks);
}

/* The fd reader: to the end of the file, as from KVM's stats fd. */
static void test_read_fd(void **state)
{
	struct kstats *ks = calloc(1, sizeof(*ks));
	size_t len;
	uint8_t *img = build(sample, NSAMPLE, &len);
	int fd = memfd_create("kstats", 0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, img, len), (ssize_t)len);
	assert_int_equal(kstats_read_fd(fd, ks), 0);
	assert_int_equal(kstats_get(ks, "exits", NULL), 1000);
	assert_int_equal(ftruncate(fd, KSTATS_FILE_MAX + 1), 0);
	assert_int_equal(kstats_read_fd(fd, ks), -EFBIG);
	close(fd);
	assert_int_equal(kstats_read_fd(-1, ks), -EBADF);
	free(img);
	free(ks);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_sample), cmocka_unit_test(test_sum_over_vcpus),
	    cmocka_unit_test(test_truncated),	 cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_too_many),	 cmocka_unit_test(test_read_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
