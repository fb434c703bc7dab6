/* test_bzimage.c: bzimage_parse on synthetic boot headers (valid, truncated, foreign, too old), initrd placement,
 * and bzimage_load into real guest memory: payload, command line, zero page, initrd, E820, GDT, page tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/bootparams.h"
#include "firmware/e820.h"
#include "vmm/bzimage.h"
#include "vmm/gmem.h"
#include "vmm/layout.h"

#define MiB (1ULL << 20)

/* A synthetic bzImage: setup sectors, the boot header at 0x1f1, then a patterned protected-mode payload. */
struct spec {
	uint16_t version;
	uint8_t setup_sects;
	uint8_t jump_len; /* byte at 0x201: the header ends at 0x202 + this */
	uint16_t boot_flag;
	const char *magic;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint8_t relocatable;
	uint32_t initrd_addr_max, kernel_alignment, cmdline_size, init_size;
	uint64_t pref_address;
	uint32_t syssize; /* 0: payload_len / 16 */
	size_t payload_len;
};

#define DEFAULT_PAYLOAD 65536
#define DEFAULT_SETUP	((4 + 1) * 512)

static struct spec spec_215(void)
{
	return (struct spec){
	    .version = 0x020f,
	    .setup_sects = 4,
	    .jump_len = 0x6a, /* ends at 0x26c, as in Linux 5.x/6.x */
	    .boot_flag = 0xaa55,
	    .magic = "HdrS",
	    .loadflags = LOADED_HIGH,
	    .xloadflags = XLF_KERNEL_64,
	    .relocatable = 1,
	    .initrd_addr_max = 0x7fffffff,
	    .kernel_alignment = 0x200000,
	    .cmdline_size = 2047,
	    .init_size = 0x2000000,
	    .pref_address = 0x1000000,
	    .payload_len = DEFAULT_PAYLOAD,
	};
}

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 8) * 13 + 1);
}

static size_t setup_len(const struct spec *s)
{
	return ((size_t)(s->setup_sects ? s->setup_sects : 4) + 1) * 512;
}

static void put16(uint8_t *b, size_t off, uint16_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	memcpy(b + off, &v, sizeof(v));
}

/* malloc'd image of exactly *len bytes. */
static uint8_t *build(const struct spec *s, size_t *len)
{
	size_t setup = setup_len(s), n = setup + s->payload_len;
	uint8_t *b = malloc(n);

	assert_non_null(b);
	assert_true(n >= 0x300);
	/* Real-mode setup code: noise, so that nothing relies on zeros there. */
	for (size_t i = 0; i < setup; i++)
		b[i] = (uint8_t)(0x90 + i % 3);
	memset(b + 0x1f1, 0, 0x26c - 0x1f1);
	b[0x1f1] = s->setup_sects;
	put32(b, 0x1f4, s->syssize ? s->syssize : (uint32_t)(s->payload_len / 16));
	put16(b, 0x1fe, s->boot_flag);
	b[0x200] = 0xeb;
	b[0x201] = s->jump_len;
	memcpy(b + 0x202, s->magic, 4);
	put16(b, 0x206, s->version);
	b[0x211] = s->loadflags;
	put32(b, 0x22c, s->initrd_addr_max);
	put32(b, 0x230, s->kernel_alignment);
	b[0x234] = s->relocatable;
	put16(b, 0x236, s->xloadflags);
	put32(b, 0x238, s->cmdline_size);
	put64(b, 0x258, s->pref_address);
	put32(b, 0x260, s->init_size);
	for (size_t i = 0; i < s->payload_len; i++)
		b[setup + i] = payload_byte(i);
	*len = n;
	return b;
}

/* Parse from an exact-size copy of the first `len` bytes, so ASan catches any read past what we handed over. */
static int parse(struct bzimage *bz, const uint8_t *img, size_t len, uint64_t file_size, const char **why)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, img, len);
	*why = NULL;
	memset(bz, 0xa5, sizeof(*bz));
	r = bzimage_parse(bz, copy, len, file_size, why);
	free(copy);
	return r;
}

static const char *expect_error(const uint8_t *img, size_t len, uint64_t file_size)
{
	struct bzimage bz;
	const char *why;
	int r = parse(&bz, img, len, file_size, &why);

	assert_true(r < 0);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
	return why;
}

static void parse_ok(struct bzimage *bz, const struct spec *s)
{
	size_t len;
	uint8_t *img = build(s, &len);
	const char *why;

	assert_int_equal(parse(bz, img, len, len, &why), 0);
	free(img);
}

/* ---- bzimage_parse ---- */

static void test_parse_valid_215_64bit(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;

	(void)state;
	parse_ok(&bz, &s);
	assert_int_equal(bz.version, 0x020f);
	assert_int_equal(bz.hdr.version, 0x020f);
	assert_int_equal(bz.hdr_len, 0x26c - 0x1f1);
	assert_int_equal(bz.hdr.setup_sects, 4);
	assert_int_equal(bz.hdr.boot_flag, 0xaa55);
	assert_int_equal(bz.hdr.header, 0x53726448);
	assert_int_equal(bz.hdr.syssize, DEFAULT_PAYLOAD / 16);
	assert_int_equal(bz.hdr.init_size, 0x2000000);
	assert_int_equal(bz.hdr.pref_address, 0x1000000);
	assert_int_equal(bz.setup_size, DEFAULT_SETUP);
	assert_int_equal(bz.payload_off, DEFAULT_SETUP);
	assert_int_equal(bz.payload_size, DEFAULT_PAYLOAD);
	assert_true(bz.entry64);
	/* Relocatable, 2 MiB aligned, preferring 16 MiB: it decompresses at 16 MiB into init_size bytes. */
	assert_int_equal(bz.mem_end, 0x1000000 + 0x2000000);
	assert_int_equal(bz.cmdline_max, 2047);
	assert_int_equal(bz.initrd_max, 0x7fffffff);
}

static void test_parse_valid_210_32bit(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;

	(void)state;
	s.version = 0x020a;
	s.jump_len = 0x264 - 0x202; /* 2.10 ends after init_size */
	s.xloadflags = 0;
	s.kernel_alignment = 0x1000000;
	s.pref_address = 0;
	s.init_size = 0x1000000;
	parse_ok(&bz, &s);
	assert_int_equal(bz.version, 0x020a);
	assert_int_equal(bz.hdr_len, 0x264 - 0x1f1);
	assert_false(bz.entry64);
	/* Relocatable with 16 MiB alignment: the kernel runs at 16 MiB, so its footprint ends at 32 MiB. */
	assert_int_equal(bz.mem_end, 0x2000000);
	assert_int_equal(bz.payload_size, DEFAULT_PAYLOAD);
}

static void test_parse_xlf_needs_212(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;

	(void)state;
	/* xloadflags only exists from 2.12: a 2.11 kernel with that bit set is still a 32-bit entry. */
	s.version = 0x020b;
	parse_ok(&bz, &s);
	assert_false(bz.entry64);
	s.version = 0x020c;
	parse_ok(&bz, &s);
	assert_true(bz.entry64);
	s.xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G; /* 64-bit capable, but no 64-bit entry point */
	parse_ok(&bz, &s);
	assert_false(bz.entry64);
}

static void test_parse_mem_end(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;

	(void)state;
	/* Relocatable: the load address rounded up to kernel_alignment wins over a lower pref_address. */
	s.kernel_alignment = 0x1000000;
	s.pref_address = 0x200000;
	s.init_size = 0x800000;
	parse_ok(&bz, &s);
	assert_int_equal(bz.mem_end, 0x1000000 + 0x800000);
	/* Not relocatable: it runs at pref_address. */
	s.relocatable = 0;
	parse_ok(&bz, &s);
	assert_int_equal(bz.mem_end, 0x200000 + 0x800000);
	/* A tiny init_size never makes the footprint smaller than the file's payload at 1 MiB. */
	s.pref_address = 0;
	s.init_size = 0x1000;
	parse_ok(&bz, &s);
	assert_int_equal(bz.mem_end, GUEST_KERNEL_ADDR + DEFAULT_PAYLOAD);
}

static void test_parse_cmdline_max_capped(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;

	(void)state;
	s.cmdline_size = 0xffffffff;
	parse_ok(&bz, &s);
	assert_true(bz.cmdline_max > 2047);
	assert_true(bz.cmdline_max <= GUEST_CMDLINE_MAX - 1);
}

static void test_parse_reads_only_len(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;
	size_t len;
	uint8_t *img;
	const char *why;

	(void)state;
	s.payload_len = 1 << 20;
	img = build(&s, &len);
	/* The caller hands over the first 4 KiB of a 1 MiB + setup file: enough to parse, sizes from file_size. */
	assert_int_equal(parse(&bz, img, 4096, len, &why), 0);
	assert_int_equal(bz.payload_off, DEFAULT_SETUP);
	assert_int_equal(bz.payload_size, 1 << 20);
	free(img);
}

static void test_parse_truncated(void **state)
{
	struct spec s = spec_215();
	size_t len;
	uint8_t *img;
	static const size_t short_sizes[] = {
	    0,
	    1,
	    0x100,
	    0x1ff,
	    0x200,
	    0x205, /* no room for the magic or version */
	    0x206,
	    0x210,
	    0x230,
	    0x26b, /* inside the header the jump promises (to 0x26c) */
	    0x26c,
	    0x400,
	    DEFAULT_SETUP - 1, /* the header is whole, the setup code is not */
	    DEFAULT_SETUP,     /* setup code but no kernel */
	};

	(void)state;
	img = build(&s, &len);
	for (size_t i = 0; i < sizeof(short_sizes) / sizeof(short_sizes[0]); i++) {
		print_message("file size %#zx\n", short_sizes[i]);
		expect_error(img, short_sizes[i], short_sizes[i]);
	}
	/* The payload is shorter than syssize * 16. */
	expect_error(img, len / 2, len / 2);
	expect_error(img, len - 1, len - 1);
	expect_error(img, len - 16, len - 16);
	/* The same with the full first part of the file handed over but a smaller file_size. */
	expect_error(img, len, len - 1);
	/* syssize 0 (no promise about the payload): a file that ends right after the setup code still has no
	 * kernel. */
	put32(img, 0x1f4, 0);
	expect_error(img, DEFAULT_SETUP, DEFAULT_SETUP);
	expect_error(img, DEFAULT_SETUP - 1, DEFAULT_SETUP - 1);
	free(img);
}

static void test_parse_syssize_exact(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;
	size_t len;
	uint8_t *img;
	const char *why;

	(void)state;
	s.syssize = DEFAULT_PAYLOAD / 16;
	img = build(&s, &len);
	assert_int_equal(parse(&bz, img, len, len, &why), 0);
	free(img);
	/* One paragraph more than the file holds. */
	s.syssize = DEFAULT_PAYLOAD / 16 + 1;
	img = build(&s, &len);
	expect_error(img, len, len);
	free(img);
}

static void test_parse_not_bzimage(void **state)
{
	static const char text[] = "This is a plain text file, not a kernel. Lorem ipsum dolor sit amet. ";
	uint8_t buf[8192];
	struct spec s;
	size_t len;
	uint8_t *img;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)text[i % (sizeof(text) - 1)];
	expect_error(buf, sizeof(buf), sizeof(buf));
	memset(buf, 0, sizeof(buf));
	expect_error(buf, sizeof(buf), sizeof(buf));
	/* A boot sector signature but no HdrS, and HdrS but no boot sector signature. */
	s = spec_215();
	s.magic = "HdrT";
	img = build(&s, &len);
	expect_error(img, len, len);
	free(img);
	s = spec_215();
	s.boot_flag = 0xaa56;
	img = build(&s, &len);
	expect_error(img, len, len);
	free(img);
	s = spec_215();
	s.boot_flag = 0x55aa; /* byte-swapped */
	img = build(&s, &len);
	expect_error(img, len, len);
	free(img);
}

static void test_parse_elf(void **state)
{
	uint8_t buf[4096] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
	const char *why;

	(void)state;
	why = expect_error(buf, sizeof(buf), sizeof(buf));
	assert_non_null(strstr(why, "ELF"));
	/* Just an ELF header (64 bytes): still recognised as ELF rather than "too short". */
	why = expect_error(buf, 64, 64);
	assert_non_null(strstr(why, "ELF"));
}

static void test_parse_protocol_too_old(void **state)
{
	static const uint16_t old[] = {0x0000, 0x0100, 0x0200, 0x0204, 0x0205};
	struct spec s = spec_215();
	struct bzimage bz;
	size_t len;
	uint8_t *img;

	(void)state;
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		s.version = old[i];
		img = build(&s, &len);
		print_message("version %#x\n", old[i]);
		expect_error(img, len, len);
		free(img);
	}
	s.version = BZIMAGE_MIN_PROTOCOL;
	parse_ok(&bz, &s);
	assert_int_equal(bz.version, 0x0206);
	assert_false(bz.entry64);
}

static void test_parse_zimage(void **state)
{
	struct spec s = spec_215();
	size_t len;
	uint8_t *img;

	(void)state;
	s.loadflags = 0;
	img = build(&s, &len);
	expect_error(img, len, len);
	free(img);
	s.loadflags = CAN_USE_HEAP | KEEP_SEGMENTS; /* everything but LOADED_HIGH */
	img = build(&s, &len);
	expect_error(img, len, len);
	free(img);
}

static void test_parse_long_header(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;
	size_t len;
	uint8_t *img;
	const char *why;

	(void)state;
	/* A future kernel whose header runs to 0x301: more than struct setup_header holds. */
	s.jump_len = 0xff;
	img = build(&s, &len);
	memset(img + 0x26c, 0xcc, 0x301 - 0x26c);
	assert_int_equal(parse(&bz, img, len, len, &why), 0);
	assert_int_equal(bz.hdr_len, sizeof(struct setup_header));
	assert_int_equal(bz.hdr.version, 0x020f);
	assert_int_equal(bz.hdr.init_size, 0x2000000);
	/* The fields after hdr are not overwritten by the extra header bytes. */
	assert_int_equal(bz.version, 0x020f);
	assert_int_equal(bz.payload_size, DEFAULT_PAYLOAD);
	assert_true(bz.entry64);
	free(img);
}

static void test_parse_short_header_fields_zero(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;
	size_t len;
	uint8_t *img;
	const char *why;

	(void)state;
	/* The header ends at 0x236, before xloadflags, cmdline_size, pref_address and init_size, which hold values
	 * in the file: they belong to the setup code, not the header, and must read as 0. */
	s.jump_len = 0x236 - 0x202;
	img = build(&s, &len);
	assert_int_equal(parse(&bz, img, len, len, &why), 0);
	assert_int_equal(bz.hdr_len, 0x236 - 0x1f1);
	assert_int_equal(bz.hdr.xloadflags, 0);
	assert_int_equal(bz.hdr.cmdline_size, 0);
	assert_int_equal(bz.hdr.pref_address, 0);
	assert_int_equal(bz.hdr.init_size, 0);
	assert_false(bz.entry64);
	assert_int_equal(bz.cmdline_max, 0);
	free(img);
}

static void test_parse_setup_sects(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;
	size_t len;
	uint8_t *img;
	const char *why;

	(void)state;
	/* setup_sects 0 means 4. */
	s.setup_sects = 0;
	parse_ok(&bz, &s);
	assert_int_equal(bz.setup_size, 5 * 512);
	assert_int_equal(bz.payload_off, 5 * 512);
	/* The largest setup area, 255 + 1 sectors, with a kernel behind it: fine. */
	s.setup_sects = 255;
	s.payload_len = 4096;
	img = build(&s, &len);
	assert_int_equal(len, 256 * 512 + 4096);
	assert_int_equal(parse(&bz, img, BZIMAGE_HDR_MAX, len, &why), 0);
	assert_int_equal(bz.setup_size, 256 * 512);
	assert_int_equal(bz.payload_off, 256 * 512);
	assert_int_equal(bz.payload_size, 4096);
	free(img);
	/* 255 sectors claimed by a 64 KiB file. */
	s = spec_215();
	img = build(&s, &len);
	img[0x1f1] = 255;
	expect_error(img, len, len);
	free(img);
}

/* ---- bzimage_place_initrd ---- */

static void test_place_initrd_top_of_ram(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;
	uint64_t addr = 0;

	(void)state;
	parse_ok(&bz, &s);
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, 0x1000, &addr), 0);
	assert_int_equal(addr, 256 * MiB - 0x1000);
	/* Not a page multiple: the start is page-aligned, the end within RAM, and no higher page would do. */
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, 1000, &addr), 0);
	assert_int_equal(addr, 256 * MiB - 4096);
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, 12345678, &addr), 0);
	assert_int_equal(addr % 4096, 0);
	assert_true(addr + 12345678 <= 256 * MiB);
	assert_true(addr + 4096 + 12345678 > 256 * MiB);
	/* RAM whose end is not page aligned (not produced by gmem, but the function is pure). */
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB + 100, 0x1000, &addr), 0);
	assert_int_equal(addr, 256 * MiB - 0x1000);
}

static void test_place_initrd_addr_max(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;
	uint64_t addr = 0;

	(void)state;
	s.initrd_addr_max = 0x0fffffff; /* 256 MiB - 1, with 512 MiB of RAM */
	parse_ok(&bz, &s);
	assert_int_equal(bzimage_place_initrd(&bz, 512 * MiB, 0x10000, &addr), 0);
	assert_int_equal(addr, 0x10000000 - 0x10000);
	/* initrd_addr_max is inclusive and need not be page-aligned minus one. */
	s.initrd_addr_max = 0x0ffff7ff;
	parse_ok(&bz, &s);
	assert_int_equal(bzimage_place_initrd(&bz, 512 * MiB, 0x800, &addr), 0);
	assert_true(addr + 0x800 - 1 <= 0x0ffff7ff);
	assert_int_equal(addr % 4096, 0);
	assert_int_equal(addr, 0x0ffff000 - 0x1000);
	/* A 3 GiB low region with the default-ish 2 GiB limit. */
	s.initrd_addr_max = 0x7fffffff;
	parse_ok(&bz, &s);
	assert_int_equal(bzimage_place_initrd(&bz, 3ULL << 30, 0x100000, &addr), 0);
	assert_int_equal(addr, 0x80000000 - 0x100000);
	/* A limit above RAM changes nothing. */
	s.initrd_addr_max = 0xffffffff;
	parse_ok(&bz, &s);
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, 0x1000, &addr), 0);
	assert_int_equal(addr, 256 * MiB - 0x1000);
}

static void test_place_initrd_enospc(void **state)
{
	struct spec s = spec_215();
	struct bzimage bz;
	uint64_t addr = 0x1234, room;

	(void)state;
	parse_ok(&bz, &s);
	assert_int_equal(bz.mem_end, 48 * MiB);
	room = 256 * MiB - 48 * MiB;
	/* Exactly the room between the kernel's footprint and the top of RAM fits, one byte more does not. */
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, room, &addr), 0);
	assert_int_equal(addr, 48 * MiB);
	addr = 0x1234;
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, room + 1, &addr), -ENOSPC);
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, 256 * MiB, &addr), -ENOSPC);
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, 256 * MiB + 1, &addr), -ENOSPC);
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, 1ULL << 40, &addr), -ENOSPC);
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, UINT64_MAX, &addr), -ENOSPC);
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, UINT64_MAX - 4095, &addr), -ENOSPC);
	/* RAM that ends inside the kernel's footprint has no room at all. */
	assert_int_equal(bzimage_place_initrd(&bz, 32 * MiB, 4096, &addr), -ENOSPC);
	assert_int_equal(addr, 0x1234);
	/* initrd_addr_max below the kernel's footprint. */
	s.initrd_addr_max = 40 * MiB - 1;
	parse_ok(&bz, &s);
	assert_int_equal(bzimage_place_initrd(&bz, 256 * MiB, 4096, &addr), -ENOSPC);
}

/* ---- bzimage_load ---- */

struct fixture {
	struct gmem m;
	uint8_t *img;
	size_t img_len;
	uint8_t *rd;
	size_t rd_len;
	int kfd, ifd;
};

static int write_tmp(const void *data, size_t len)
{
	char path[] = "/tmp/kvmini-test-bzimage-XXXXXX";
	int fd = mkstemp(path);
	const uint8_t *p = data;

	if (fd < 0)
		return -1;
	unlink(path);
	while (len) {
		ssize_t r = write(fd, p, len);

		if (r <= 0) {
			close(fd);
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return fd;
}

static int fixture_setup_spec(void **state, const struct spec *s, uint64_t ram)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->kfd = f->ifd = -1;
	*state = f;
	if (gmem_init(&f->m, ram) < 0)
		return -1;
	f->img = build(s, &f->img_len);
	f->kfd = write_tmp(f->img, f->img_len);
	f->rd_len = 100000; /* not a page multiple */
	f->rd = malloc(f->rd_len);
	if (!f->rd)
		return -1;
	for (size_t i = 0; i < f->rd_len; i++)
		f->rd[i] = (uint8_t)(0xff - i * 3 - (i >> 9));
	f->ifd = write_tmp(f->rd, f->rd_len);
	return f->kfd >= 0 && f->ifd >= 0 ? 0 : -1;
}

static int setup(void **state)
{
	struct spec s = spec_215();

	return fixture_setup_spec(state, &s, 256 * MiB);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	gmem_destroy(&f->m);
	if (f->kfd >= 0)
		close(f->kfd);
	if (f->ifd >= 0)
		close(f->ifd);
	free(f->img);
	free(f->rd);
	free(f);
	return 0;
}

static void parse_fixture(struct fixture *f, struct bzimage *bz)
{
	const char *why = NULL;

	assert_int_equal(bzimage_parse(bz, f->img, f->img_len, f->img_len, &why), 0);
}

static uint64_t rd64(const struct gmem *m, uint64_t gpa)
{
	uint64_t v;

	assert_int_equal(gmem_read(m, &v, gpa, sizeof(v)), 0);
	return v;
}

/* A flat (base 0, 4 GiB limit, 4 KiB granularity), present, code/data descriptor. */
static void assert_flat_desc(uint64_t d)
{
	assert_int_equal(d & 0xffff, 0xffff);	   /* limit 15:0 */
	assert_int_equal((d >> 48) & 0xf, 0xf);	   /* limit 19:16 */
	assert_int_equal((d >> 16) & 0xffffff, 0); /* base 23:0 */
	assert_int_equal(d >> 56, 0);		   /* base 31:24 */
	assert_true(d & (1ULL << 47));		   /* present */
	assert_true(d & (1ULL << 44));		   /* code/data, not system */
	assert_true(d & (1ULL << 55));		   /* 4 KiB granularity */
	assert_int_equal((d >> 45) & 3, 0);	   /* DPL 0 */
}

static void test_load_64bit(void **state)
{
	struct fixture *f = *state;
	struct bzimage bz;
	struct boot_plan plan;
	const char *why = NULL;
	const char *cmdline = "console=ttyS0 root=/dev/ram0 quiet";
	const struct boot_params *bp;
	uint64_t placed, gdt[4];
	const uint8_t *p;

	parse_fixture(f, &bz);
	memset(&plan, 0xa5, sizeof(plan));
	/* Garbage where the command line and zero page go: the loader must terminate and clear what it owns. */
	memset(gmem_ptr(&f->m, GUEST_CMDLINE_ADDR, 4096), 0xff, 4096);
	memset(gmem_ptr(&f->m, GUEST_ZERO_PAGE, 4096), 0xee, 4096);
	memset(gmem_ptr(&f->m, GUEST_PML4_ADDR, 6 * 4096), 0xdd, 6 * 4096);
	assert_int_equal(bzimage_load(&bz, &f->m, f->kfd, f->ifd, f->rd_len, cmdline, &plan, &why), 0);

	/* The plan. */
	assert_true(plan.long_mode);
	assert_int_equal(plan.entry, GUEST_KERNEL_ADDR + 0x200);
	assert_int_equal(plan.zero_page, GUEST_ZERO_PAGE);
	assert_int_equal(plan.kernel_addr, GUEST_KERNEL_ADDR);
	assert_int_equal(plan.kernel_end, bz.mem_end);
	assert_int_equal(plan.cmdline_addr, GUEST_CMDLINE_ADDR);
	assert_int_equal(plan.initrd_size, f->rd_len);
	assert_int_equal(bzimage_place_initrd(&bz, gmem_low_end(&f->m), f->rd_len, &placed), 0);
	assert_int_equal(plan.initrd_addr, placed);
	assert_int_equal(plan.initrd_addr % 4096, 0);
	assert_true(plan.initrd_addr >= bz.mem_end);
	assert_true(plan.initrd_addr + f->rd_len <= 256 * MiB);
	assert_int_equal(plan.e820_entries, 3);

	/* The payload, byte-exact at 1 MiB, and nothing of the setup code. */
	p = gmem_ptr(&f->m, GUEST_KERNEL_ADDR, DEFAULT_PAYLOAD);
	assert_non_null(p);
	assert_memory_equal(p, f->img + DEFAULT_SETUP, DEFAULT_PAYLOAD);

	/* The initrd. */
	p = gmem_ptr(&f->m, plan.initrd_addr, f->rd_len);
	assert_non_null(p);
	assert_memory_equal(p, f->rd, f->rd_len);

	/* The command line, NUL-terminated. */
	p = gmem_ptr(&f->m, GUEST_CMDLINE_ADDR, strlen(cmdline) + 1);
	assert_non_null(p);
	assert_memory_equal(p, cmdline, strlen(cmdline) + 1);

	/* The zero page. */
	bp = gmem_ptr(&f->m, GUEST_ZERO_PAGE, sizeof(*bp));
	assert_non_null(bp);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.cmd_line_ptr, GUEST_CMDLINE_ADDR);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_int_equal(bp->hdr.ramdisk_image, plan.initrd_addr);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, f->rd_len);
	assert_int_equal(bp->ext_ramdisk_size, 0);
	assert_true(bp->hdr.loadflags & LOADED_HIGH);
	/* The setup header as in the file. */
	assert_int_equal(bp->hdr.setup_sects, 4);
	assert_int_equal(bp->hdr.syssize, DEFAULT_PAYLOAD / 16);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.jump, 0x6aeb);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.initrd_addr_max, 0x7fffffff);
	assert_int_equal(bp->hdr.kernel_alignment, 0x200000);
	assert_int_equal(bp->hdr.relocatable_kernel, 1);
	assert_int_equal(bp->hdr.xloadflags, XLF_KERNEL_64);
	assert_int_equal(bp->hdr.cmdline_size, 2047);
	assert_int_equal(bp->hdr.pref_address, 0x1000000);
	assert_int_equal(bp->hdr.init_size, 0x2000000);
	/* The E820 map. */
	assert_int_equal(bp->e820_entries, 3);
	assert_int_equal(bp->e820_table[0].addr, 0);
	assert_int_equal(bp->e820_table[0].size, GUEST_EBDA_START);
	assert_int_equal(bp->e820_table[0].type, E820_TYPE_RAM);
	assert_int_equal(bp->e820_table[1].addr, GUEST_EBDA_START);
	assert_int_equal(bp->e820_table[1].size, 0x100000 - GUEST_EBDA_START);
	assert_int_equal(bp->e820_table[1].type, E820_TYPE_RESERVED);
	assert_int_equal(bp->e820_table[2].addr, 0x100000);
	assert_int_equal(bp->e820_table[2].size, 256 * MiB - 0x100000);
	assert_int_equal(bp->e820_table[2].type, E820_TYPE_RAM);

	/* The page tables: PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs, 2 MiB identity pages up to 4 GiB. */
	assert_int_equal(rd64(&f->m, GUEST_PML4_ADDR) & ~0xfffULL, GUEST_PDPT_ADDR);
	assert_int_equal(rd64(&f->m, GUEST_PML4_ADDR) & 3, 3);
	for (unsigned i = 1; i < 512; i++)
		assert_int_equal(rd64(&f->m, GUEST_PML4_ADDR + 8 * i), 0);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t e = rd64(&f->m, GUEST_PDPT_ADDR + 8 * i);

		assert_int_equal(e & ~0xfffULL, GUEST_PD_ADDR + 4096 * i);
		assert_int_equal(e & 3, 3);
		assert_int_equal(e & 0x80, 0);
	}
	assert_int_equal(rd64(&f->m, GUEST_PDPT_ADDR + 8 * 4), 0);
	{
		static const unsigned idx[] = {0, 1, 2, 511, 512, 1000, 1536, 2047};

		for (size_t k = 0; k < sizeof(idx) / sizeof(idx[0]); k++) {
			uint64_t e = rd64(&f->m, GUEST_PD_ADDR + 8ULL * idx[k]);

			assert_int_equal(e & ~0xfffULL, (uint64_t)idx[k] << 21);
			assert_int_equal(e & 0x83, 0x83); /* P, RW, PS */
		}
	}

	/* The boot GDT: __BOOT_CS = 0x10 64-bit code, __BOOT_DS = 0x18 data. */
	assert_int_equal(gmem_read(&f->m, gdt, GUEST_GDT_ADDR, sizeof(gdt)), 0);
	assert_int_equal(gdt[0], 0);
	assert_flat_desc(gdt[2]);
	assert_true(gdt[2] & (1ULL << 43));  /* executable */
	assert_true(gdt[2] & (1ULL << 53));  /* L */
	assert_false(gdt[2] & (1ULL << 54)); /* D must be 0 with L */
	assert_flat_desc(gdt[3]);
	assert_false(gdt[3] & (1ULL << 43)); /* data */
	assert_true(gdt[3] & (1ULL << 41));  /* writable */
	assert_true(gdt[3] & (1ULL << 54));  /* 32-bit */

	/* The payload was not overwritten by anything written after it. */
	assert_memory_equal(gmem_ptr(&f->m, GUEST_KERNEL_ADDR, DEFAULT_PAYLOAD), f->img + DEFAULT_SETUP,
			    DEFAULT_PAYLOAD);
}

static int setup_32(void **state)
{
	struct spec s = spec_215();

	s.version = 0x020a;
	s.jump_len = 0x264 - 0x202;
	s.xloadflags = 0;
	return fixture_setup_spec(state, &s, 256 * MiB);
}

static void test_load_32bit_no_initrd(void **state)
{
	struct fixture *f = *state;
	struct bzimage bz;
	struct boot_plan plan;
	const char *why = NULL;
	const struct boot_params *bp;
	uint64_t gdt[4];

	parse_fixture(f, &bz);
	assert_false(bz.entry64);
	memset(gmem_ptr(&f->m, GUEST_CMDLINE_ADDR, 16), 'g', 16);
	assert_int_equal(bzimage_load(&bz, &f->m, f->kfd, -1, 0, "", &plan, &why), 0);
	assert_false(plan.long_mode);
	assert_int_equal(plan.entry, GUEST_KERNEL_ADDR);
	assert_int_equal(plan.initrd_addr, 0);
	assert_int_equal(plan.initrd_size, 0);
	assert_memory_equal(gmem_ptr(&f->m, GUEST_KERNEL_ADDR, DEFAULT_PAYLOAD), f->img + DEFAULT_SETUP,
			    DEFAULT_PAYLOAD);
	bp = gmem_ptr(&f->m, GUEST_ZERO_PAGE, sizeof(*bp));
	assert_non_null(bp);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
	assert_int_equal(bp->hdr.version, 0x020a);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.cmd_line_ptr, GUEST_CMDLINE_ADDR);
	assert_int_equal(*(const char *)gmem_ptr(&f->m, GUEST_CMDLINE_ADDR, 1), '\0');
	/* The header ended at 0x264: nothing after it in the zero page's header. */
	assert_int_equal(bp->hdr.handover_offset, 0);
	assert_int_equal(bp->hdr.kernel_info_offset, 0);
	/* 32-bit code segment: D set, L clear. */
	assert_int_equal(gmem_read(&f->m, gdt, GUEST_GDT_ADDR, sizeof(gdt)), 0);
	assert_flat_desc(gdt[2]);
	assert_true(gdt[2] & (1ULL << 43));
	assert_false(gdt[2] & (1ULL << 53));
	assert_true(gdt[2] & (1ULL << 54));
}

static void test_load_cmdline_too_long(void **state)
{
	struct fixture *f = *state;
	struct bzimage bz;
	struct boot_plan plan;
	const char *why;
	char *cmd;

	parse_fixture(f, &bz);
	assert_int_equal(bz.cmdline_max, 2047);
	cmd = malloc(4096);
	assert_non_null(cmd);
	memset(cmd, 'x', 4096);
	/* Exactly cmdline_size characters fit. */
	cmd[2047] = '\0';
	why = NULL;
	assert_int_equal(bzimage_load(&bz, &f->m, f->kfd, -1, 0, cmd, &plan, &why), 0);
	assert_memory_equal(gmem_ptr(&f->m, GUEST_CMDLINE_ADDR, 2048), cmd, 2048);
	/* One more does not. */
	cmd[2047] = 'y';
	cmd[2048] = '\0';
	why = NULL;
	assert_int_equal(bzimage_load(&bz, &f->m, f->kfd, -1, 0, cmd, &plan, &why), -E2BIG);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
	/* Way over the 64 KiB area. */
	free(cmd);
	cmd = malloc(GUEST_CMDLINE_MAX * 2);
	assert_non_null(cmd);
	memset(cmd, 'z', GUEST_CMDLINE_MAX * 2 - 1);
	cmd[GUEST_CMDLINE_MAX * 2 - 1] = '\0';
	why = NULL;
	assert_int_equal(bzimage_load(&bz, &f->m, f->kfd, -1, 0, cmd, &plan, &why), -E2BIG);
	assert_non_null(why);
	free(cmd);
}

static int setup_small_ram(void **state)
{
	struct spec s = spec_215(); /* footprint ends at 48 MiB */

	return fixture_setup_spec(state, &s, 32 * MiB);
}

static void test_load_ram_too_small(void **state)
{
	struct fixture *f = *state;
	struct bzimage bz;
	struct boot_plan plan;
	const char *why = NULL;

	parse_fixture(f, &bz);
	assert_true(bz.mem_end > 32 * MiB);
	assert_true(bzimage_load(&bz, &f->m, f->kfd, -1, 0, "console=ttyS0", &plan, &why) < 0);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
}

static void test_load_kernel_file_shrank(void **state)
{
	struct fixture *f = *state;
	struct bzimage bz;
	struct boot_plan plan;
	const char *why = NULL;

	parse_fixture(f, &bz);
	/* The file is cut in half between parsing and loading. */
	assert_int_equal(ftruncate(f->kfd, (off_t)(f->img_len / 2)), 0);
	assert_true(bzimage_load(&bz, &f->m, f->kfd, f->ifd, f->rd_len, "x", &plan, &why) < 0);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
	/* Cut by just one byte. */
	assert_int_equal(ftruncate(f->kfd, 0), 0);
	assert_int_equal(pwrite(f->kfd, f->img, f->img_len - 1, 0), (ssize_t)(f->img_len - 1));
	why = NULL;
	assert_true(bzimage_load(&bz, &f->m, f->kfd, -1, 0, "x", &plan, &why) < 0);
	assert_non_null(why);
}

static void test_load_initrd_errors(void **state)
{
	struct fixture *f = *state;
	struct bzimage bz;
	struct boot_plan plan;
	const char *why;

	parse_fixture(f, &bz);
	/* The initrd file is shorter than the size we were told. */
	why = NULL;
	assert_true(bzimage_load(&bz, &f->m, f->kfd, f->ifd, f->rd_len + 1, "x", &plan, &why) < 0);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
	/* Larger than RAM. */
	why = NULL;
	assert_int_equal(bzimage_load(&bz, &f->m, f->kfd, f->ifd, 512 * MiB, "x", &plan, &why), -ENOSPC);
	assert_non_null(why);
	/* Does not fit above the kernel's footprint (48 MiB) in 256 MiB. */
	why = NULL;
	assert_int_equal(bzimage_load(&bz, &f->m, f->kfd, f->ifd, 256 * MiB - 40 * MiB, "x", &plan, &why), -ENOSPC);
	assert_non_null(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid_215_64bit),
	    cmocka_unit_test(test_parse_valid_210_32bit),
	    cmocka_unit_test(test_parse_xlf_needs_212),
	    cmocka_unit_test(test_parse_mem_end),
	    cmocka_unit_test(test_parse_cmdline_max_capped),
	    cmocka_unit_test(test_parse_reads_only_len),
	    cmocka_unit_test(test_parse_truncated),
	    cmocka_unit_test(test_parse_syssize_exact),
	    cmocka_unit_test(test_parse_not_bzimage),
	    cmocka_unit_test(test_parse_elf),
	    cmocka_unit_test(test_parse_protocol_too_old),
	    cmocka_unit_test(test_parse_zimage),
	    cmocka_unit_test(test_parse_long_header),
	    cmocka_unit_test(test_parse_short_header_fields_zero),
	    cmocka_unit_test(test_parse_setup_sects),
	    cmocka_unit_test(test_place_initrd_top_of_ram),
	    cmocka_unit_test(test_place_initrd_addr_max),
	    cmocka_unit_test(test_place_initrd_enospc),
	    cmocka_unit_test_setup_teardown(test_load_64bit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_32bit_no_initrd, setup_32, teardown),
	    cmocka_unit_test_setup_teardown(test_load_cmdline_too_long, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_ram_too_small, setup_small_ram, teardown),
	    cmocka_unit_test_setup_teardown(test_load_kernel_file_shrank, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_initrd_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
