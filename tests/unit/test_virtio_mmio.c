/* test_virtio_mmio.c: the virtio-mmio transport with a fake device: bad-inputs.md 3.2 T1-T11, interrupts, kicks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/virtio_mmio.h"
#include "tests/unit/vq_helpers.h"

#define RAM  (2ULL << 20)
#define RING 0x10000ULL
#define BUF  0x40000ULL

#define R_MAGIC	       0x000
#define R_VERSION      0x004
#define R_DEVICE_ID    0x008
#define R_VENDOR_ID    0x00c
#define R_DEV_FEAT     0x010
#define R_DEV_FEAT_SEL 0x014
#define R_DRV_FEAT     0x020
#define R_DRV_FEAT_SEL 0x024
#define R_QSEL	       0x030
#define R_QNUM_MAX     0x034
#define R_QNUM	       0x038
#define R_QREADY       0x044
#define R_NOTIFY       0x050
#define R_ISR	       0x060
#define R_ACK	       0x064
#define R_STATUS       0x070
#define R_QDESC	       0x080
#define R_QDRIVER      0x090
#define R_QDEVICE      0x0a0
#define R_SHM_LEN_LO   0x0b0
#define R_CONFIG_GEN   0x0fc
#define R_CONFIG       0x100

#define S_ACK	VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV	VIRTIO_STATUS_DRIVER
#define S_FOK	VIRTIO_STATUS_FEATURES_OK
#define S_DOK	VIRTIO_STATUS_DRIVER_OK
#define S_NR	VIRTIO_STATUS_DEVICE_NEEDS_RESET
#define S_FAIL	VIRTIO_STATUS_FAILED
#define DEV_FEA ((1ULL << 5) | (1ULL << VIRTIO_RING_F_EVENT_IDX))

enum fake_mode { SERVE, HOLD }; /* notify: pop and push everything, or pop and keep the heads */

/* A device with two queues, 12 bytes of config space, counters for every callback. */
struct fake {
	struct virtio_mmio t;
	struct virtio_dev_ops ops;
	struct irq_line irq;
	struct gmem m;
	struct vqh h; /* queue 0, as the driver sees it */
	struct virtq_req r;
	enum fake_mode mode;
	int activate_ret;
	unsigned resets, activates, notifies[VIRTIO_MMIO_MAX_QUEUES], cfg_reads, cfg_writes;
	unsigned served, dropped, held;
	bool q0_active_at_reset;
	uint8_t cfg[12];
};

static void fake_cfg_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct fake *f = dev;

	assert_true(off + len <= sizeof(f->cfg));
	memcpy(data, f->cfg + off, len);
	f->cfg_reads++;
}

static void fake_cfg_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct fake *f = dev;

	assert_true(off + len <= sizeof(f->cfg));
	memcpy(f->cfg + off, data, len);
	f->cfg_writes++;
}

static int fake_activate(void *dev)
{
	struct fake *f = dev;

	f->activates++;
	return f->activate_ret;
}

static void fake_reset(void *dev)
{
	struct fake *f = dev;

	f->resets++;
	f->q0_active_at_reset = f->t.q[0].active;
	f->held = 0;
}

/* The kick handler of a real device, as virtq.h describes it. */
static void fake_notify(void *dev, unsigned qi)
{
	struct fake *f = dev;
	struct virtq *q = &f->t.q[qi];
	int rc;

	f->notifies[qi]++;
	do {
		while ((rc = virtq_pop(q, &f->r)) != 0) {
			if (rc == -EIO) {
				virtio_mmio_needs_reset_locked(&f->t);
				return;
			}
			if (f->mode == HOLD) {
				f->held++;
				continue;
			}
			if (rc == 1) {
				for (unsigned i = f->r.nout; i < f->r.nout + f->r.nin; i++)
					memset(f->r.iov[i].iov_base, 0xd0, f->r.iov[i].iov_len);
				f->served++;
			} else {
				f->dropped++;
			}
			virtq_push(q, f->r.head, rc == 1 ? (uint32_t)f->r.in_len : 0);
		}
	} while (virtq_enable_notify(q));
	virtio_mmio_signal_used_locked(&f->t, qi);
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f || gmem_init(&f->m, RAM) < 0) {
		free(f);
		return -1;
	}
	f->ops = (struct virtio_dev_ops){.device_id = 42,
					 .features = DEV_FEA,
					 .nqueues = 2,
					 .cfg_size = sizeof(f->cfg),
					 .cfg_read = fake_cfg_read,
					 .cfg_write = fake_cfg_write,
					 .activate = fake_activate,
					 .reset = fake_reset,
					 .notify = fake_notify};
	for (unsigned i = 0; i < sizeof(f->cfg); i++)
		f->cfg[i] = (uint8_t)(0x10 + i);
	irq_line_init(&f->irq, 16, -1);
	virtio_mmio_init(&f->t, &f->ops, f, &f->irq, &f->m);
	vqh_init(&f->h, &f->m, 16, RING);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	virtio_mmio_destroy(&f->t);
	gmem_destroy(&f->m);
	free(f);
	return 0;
}

static uint32_t rd(struct fake *f, uint64_t off)
{
	return vqh_rd32(&f->t, off);
}

static void wr(struct fake *f, uint64_t off, uint32_t v)
{
	vqh_wr32(&f->t, off, v);
}

/* Negotiate, give queue 0 the rings of f->h, DRIVER_OK. */
static void bring_up(struct fake *f, uint64_t features)
{
	vqh_init(&f->h, &f->m, 16, RING);
	assert_int_equal(vqh_mmio_negotiate(&f->t, features), 0);
	vqh_mmio_queue(&f->t, 0, &f->h);
	assert_int_equal(vqh_mmio_driver_ok(&f->t), S_ACK | S_DRV | S_FOK | S_DOK);
	assert_true(f->t.q[0].active);
}

/* Post one request (16 readable bytes, 4 writable) on queue 0. */
static void post_req(struct fake *f)
{
	struct vqh_seg s[] = {{BUF, 16, 0}, {BUF + 0x100, 4, VQH_W}};

	vqh_post(&f->h, (uint16_t)vqh_chain(&f->h, s, 2));
}

static void test_identity(void **state)
{
	struct fake *f = *state;

	assert_int_equal(rd(f, R_MAGIC), 0x74726976);
	assert_int_equal(rd(f, R_VERSION), 2);
	assert_int_equal(rd(f, R_DEVICE_ID), 42);
	assert_int_equal(rd(f, R_VENDOR_ID), 0x494d564b);
	wr(f, R_DEV_FEAT_SEL, 0);
	assert_int_equal(rd(f, R_DEV_FEAT), (uint32_t)DEV_FEA);
	wr(f, R_DEV_FEAT_SEL, 1);
	assert_int_equal(rd(f, R_DEV_FEAT), 1); /* VERSION_1, bit 32 */
	wr(f, R_DEV_FEAT_SEL, 2);
	assert_int_equal(rd(f, R_DEV_FEAT), 0);
	wr(f, R_DEV_FEAT_SEL, 0xffffffff);
	assert_int_equal(rd(f, R_DEV_FEAT), 0);
	wr(f, R_QSEL, 1);
	assert_int_equal(rd(f, R_QNUM_MAX), VIRTQ_MAX_SIZE);
	assert_int_equal(rd(f, R_QREADY), 0);
	assert_int_equal(rd(f, R_STATUS), 0);
	assert_int_equal(rd(f, R_ISR), 0);
	assert_int_equal(rd(f, R_CONFIG_GEN), 0);
	assert_int_equal(rd(f, R_SHM_LEN_LO), 0xffffffff); /* no shared memory region */
	assert_int_equal(rd(f, R_QDESC), 0);		   /* write-only */
	assert_int_equal(f->t.ignored, 0);
}

/* T1: only aligned 32-bit accesses reach the registers below 0x100. */
static void test_t1_access_width(void **state)
{
	struct fake *f = *state;
	uint8_t b[8];
	uint64_t ign = 0;

	for (uint64_t off = 0; off < R_CONFIG; off++) {
		for (unsigned len = 1; len <= 8; len *= 2) {
			if (len == 4 && off % 4 == 0)
				continue;
			memset(b, 0xaa, sizeof(b));
			virtio_mmio_ops.read(&f->t, off, b, len);
			for (unsigned i = 0; i < len; i++)
				assert_int_equal(b[i], 0);
			ign++;
			/* A write of the value that would start the device: never takes effect. */
			memset(b, 0, sizeof(b));
			b[0] = S_ACK;
			virtio_mmio_ops.write(&f->t, off, b, len);
			ign++;
			assert_int_equal(f->t.ignored, ign);
		}
	}
	assert_int_equal(rd(f, R_STATUS), 0);
	assert_int_equal(f->t.queue_sel, 0);
	assert_int_equal(f->t.q[0].desc_gpa, 0);
	assert_int_equal(f->resets, 0);
}

/* T2: config space: in-bounds accesses of 1/2/4/8 bytes reach the device, anything else reads 0. */
static void test_t2_config_bounds(void **state)
{
	struct fake *f = *state;
	uint8_t b[8];
	const struct {
		uint64_t off;
		unsigned len;
		bool ok;
	} c[] = {
	    {0, 1, true},  {0, 2, true},      {0, 4, true},	 {0, 8, true},	    {4, 8, true},   {11, 1, true},
	    {10, 2, true}, {8, 4, true},      {5, 8, false},	 {9, 4, false},	    {11, 2, false}, {12, 1, false},
	    {0, 3, false}, {0x100, 4, false}, {0xef8, 8, false}, {0xeff, 1, false},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		unsigned reads = f->cfg_reads, writes = f->cfg_writes;
		uint64_t ign = f->t.ignored;

		memset(b, 0xaa, sizeof(b));
		virtio_mmio_ops.read(&f->t, R_CONFIG + c[i].off, b, c[i].len);
		for (unsigned k = 0; k < c[i].len; k++)
			assert_int_equal(b[k], c[i].ok ? 0x10 + c[i].off + k : 0);
		virtio_mmio_ops.write(&f->t, R_CONFIG + c[i].off, b, c[i].len);
		assert_int_equal(f->cfg_reads, reads + c[i].ok);
		assert_int_equal(f->cfg_writes, writes + c[i].ok);
		assert_int_equal(f->t.ignored, ign + 2 * !c[i].ok);
	}
	/* Offsets near 2^64 (the bus never sends them, but the arithmetic must not wrap). */
	virtio_mmio_ops.read(&f->t, UINT64_MAX - 1, b, 2);
	virtio_mmio_ops.read(&f->t, UINT64_MAX - 7, b, 8);
	virtio_mmio_ops.write(&f->t, UINT64_MAX, b, 1);
	assert_int_equal(f->cfg_reads + f->cfg_writes, 16);
	/* A device without cfg_write: writes are ignored. */
	f->ops.cfg_write = NULL;
	virtio_mmio_ops.write(&f->t, R_CONFIG, b, 4);
	assert_int_equal(f->cfg_writes, 8);
	/* And one with no config space at all. */
	f->ops.cfg_size = 0;
	virtio_mmio_ops.read(&f->t, R_CONFIG, b, 1);
	assert_int_equal(f->cfg_reads, 8);
}

/* T3: a queue index beyond nqueues: QueueNumMax 0, set-up writes and notifies ignored. */
static void test_t3_queue_sel_out_of_range(void **state)
{
	struct fake *f = *state;
	const uint32_t sel[] = {2, 7, 8, 0x80000000, 0xffffffff};

	bring_up(f, 0);
	for (size_t i = 0; i < sizeof(sel) / sizeof(sel[0]); i++) {
		uint64_t ign = f->t.ignored;

		wr(f, R_QSEL, sel[i]);
		assert_int_equal(rd(f, R_QNUM_MAX), 0);
		assert_int_equal(rd(f, R_QREADY), 0);
		wr(f, R_QNUM, 16);
		wr(f, R_QDESC, 0x1000);
		wr(f, R_QREADY, 1);
		wr(f, R_NOTIFY, sel[i]);
		virtio_mmio_kick(&f->t, sel[i]);
		assert_int_equal(f->t.ignored, ign + 5);
	}
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		assert_int_equal(f->notifies[i], 0);
	for (unsigned i = 1; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		assert_false(f->t.q[i].active || f->t.queue_ready[i] || f->t.q[i].num);
	/* Same before DRIVER_OK. */
	wr(f, R_STATUS, 0);
	wr(f, R_QSEL, 2);
	wr(f, R_QNUM, 16);
	wr(f, R_QREADY, 1);
	assert_false(f->t.queue_ready[2]);
	assert_int_equal(f->t.q[2].num, 0);
}

/* T4: a bad QueueNum makes activation fail: DEVICE_NEEDS_RESET, a config interrupt, the device never started. */
static void test_t4_bad_queue_num(void **state)
{
	struct fake *f = *state;
	const uint32_t nums[] = {0, 3, 100, 257, 512, 0x10010 /* 16 if truncated to u16 */, 0xffffffff};

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		uint64_t irqs = f->irq.count;

		assert_int_equal(vqh_mmio_negotiate(&f->t, 0), 0);
		vqh_mmio_queue(&f->t, 0, &f->h);
		wr(f, R_QREADY, 0); /* un-ready to rewrite the size */
		wr(f, R_QNUM, nums[i]);
		wr(f, R_QREADY, 1);
		assert_int_equal(vqh_mmio_driver_ok(&f->t), S_ACK | S_DRV | S_FOK | S_DOK | S_NR);
		assert_false(f->t.q[0].active);
		assert_int_equal(rd(f, R_ISR), VIRTIO_MMIO_INT_CONFIG);
		assert_int_equal(f->irq.count, irqs + 1);
		assert_int_equal(f->activates, 0);
		wr(f, R_NOTIFY, 0);
		assert_int_equal(f->notifies[0], 0);
		/* The driver cannot clear NEEDS_RESET except by resetting. */
		wr(f, R_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
		assert_true(rd(f, R_STATUS) & S_NR);
	}
}

/* T5 through the transport (test_virtq.c covers every placement): a bad ring never activates. */
static void test_t5_bad_rings(void **state)
{
	struct fake *f = *state;
	const uint64_t bad[][3] = {
	    {RING + 8, RING + 0x1000, RING + 0x2000}, /* misaligned */
	    {RING, RING + 0x1001, RING + 0x2000},
	    {RING, RING + 0x1000, RING + 0x2002},
	    {RAM - 16, RING + 0x1000, RING + 0x2000}, /* past the end of RAM */
	    {RING, RING + 0x1000, 0xfffffffffffffffcULL},
	    {RING, RING + 0x1000, RAM - 132}, /* fits, but not with avail_event (EVENT_IDX is negotiated) */
	    {RING, RING, RING + 0x2000},      /* overlapping */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(vqh_mmio_negotiate(&f->t, 1ULL << VIRTIO_RING_F_EVENT_IDX), 0);
		vqh_place(&f->h, &f->m, 16, bad[i][0], bad[i][1], bad[i][2]);
		vqh_mmio_queue(&f->t, 0, &f->h);
		assert_true(vqh_mmio_driver_ok(&f->t) & S_NR);
		assert_false(f->t.q[0].active);
		assert_int_equal(f->activates, 0);
	}
}

/* T6: queue registers are latched at DRIVER_OK; later writes change nothing. Also once a queue is ready. */
static void test_t6_rewrite_after_driver_ok(void **state)
{
	struct fake *f = *state;
	uint32_t id, len;
	uint64_t ign;

	bring_up(f, 0);
	ign = f->t.ignored;
	wr(f, R_QSEL, 0);
	wr(f, R_QNUM, 4);
	vqh_wr64(&f->t, R_QDESC, RAM - 16);
	vqh_wr64(&f->t, R_QDRIVER, 0xfffffffffffffff0ULL);
	vqh_wr64(&f->t, R_QDEVICE, 0x1000);
	wr(f, R_QREADY, 0);
	assert_int_equal(f->t.ignored, ign + 8);
	assert_int_equal(rd(f, R_QREADY), 1);
	assert_int_equal(f->t.q[0].num, 16);
	assert_int_equal(f->t.q[0].desc_gpa, RING);
	assert_int_equal(f->t.q[0].avail_gpa, f->h.avail);
	assert_int_equal(f->t.q[0].used_gpa, f->h.used);
	post_req(f);
	wr(f, R_NOTIFY, 0);
	assert_int_equal(f->served, 1);
	assert_int_equal(vqh_get_used(&f->h, &id, &len), 1);
	assert_int_equal(len, 4);

	/* Before DRIVER_OK, a ready queue's set-up is frozen too; un-readying it unfreezes it. */
	assert_int_equal(vqh_mmio_negotiate(&f->t, 0), 0);
	vqh_mmio_queue(&f->t, 0, &f->h);
	wr(f, R_QNUM, 8);
	assert_int_equal(f->t.q[0].num, 16);
	wr(f, R_QREADY, 0);
	wr(f, R_QNUM, 8);
	assert_int_equal(f->t.q[0].num, 8);
	wr(f, R_QREADY, 2); /* only 0 and 1 mean something */
	assert_int_equal(rd(f, R_QREADY), 0);
}

/* T7: feature negotiation. */
static void test_t7_features(void **state)
{
	struct fake *f = *state;

	/* Not offered (bit 6), or without VERSION_1: FEATURES_OK does not latch. */
	assert_int_equal(vqh_mmio_negotiate(&f->t, 1ULL << 6), -1);
	assert_int_equal(rd(f, R_STATUS), S_ACK | S_DRV);
	assert_int_equal(vqh_mmio_negotiate(&f->t, 1ULL << 40), -1);
	wr(f, R_STATUS, 0);
	wr(f, R_STATUS, S_ACK);
	wr(f, R_STATUS, S_ACK | S_DRV);
	wr(f, R_DRV_FEAT_SEL, 0);
	wr(f, R_DRV_FEAT, 1 << 5);
	wr(f, R_STATUS, S_ACK | S_DRV | S_FOK);
	assert_int_equal(rd(f, R_STATUS), S_ACK | S_DRV);
	/* A subset with VERSION_1 latches; afterwards feature writes are ignored. */
	assert_int_equal(vqh_mmio_negotiate(&f->t, 1ULL << 5), 0);
	assert_int_equal(f->t.features, (1ULL << 5) | (1ULL << VIRTIO_F_VERSION_1));
	wr(f, R_DRV_FEAT_SEL, 0);
	wr(f, R_DRV_FEAT, 0xffffffff);
	wr(f, R_DRV_FEAT_SEL, 1);
	wr(f, R_DRV_FEAT, 0);
	assert_int_equal(f->t.drv_features, (1ULL << 5) | (1ULL << VIRTIO_F_VERSION_1));
	assert_int_equal(f->t.features, (1ULL << 5) | (1ULL << VIRTIO_F_VERSION_1));
	/* DriverFeaturesSel beyond the 64 bits we have: ignored. */
	wr(f, R_STATUS, 0);
	wr(f, R_DRV_FEAT_SEL, 2);
	wr(f, R_DRV_FEAT, 0xffffffff);
	assert_int_equal(f->t.drv_features, 0);
	/* A reset forgets what was negotiated. */
	assert_int_equal(f->t.features, 0);
}

/* The status values a driver can reach: a prefix of the four steps, perhaps FAILED and NEEDS_RESET. */
static bool status_valid(uint32_t s)
{
	uint32_t core = s & ~(uint32_t)(S_FAIL | S_NR);
	const uint32_t ok[] = {0, S_ACK, S_ACK | S_DRV, S_ACK | S_DRV | S_FOK, S_ACK | S_DRV | S_FOK | S_DOK};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (core == ok[i])
			return true;
	return false;
}

/* T8: invalid transitions are ignored, FAILED sticks until a reset. */
static void test_t8_status_machine(void **state)
{
	struct fake *f = *state;
	const uint32_t steps[] = {S_ACK, S_ACK | S_DRV, S_ACK | S_DRV | S_FOK, S_ACK | S_DRV | S_FOK | S_DOK};
	uint32_t seed = 12345;

	/* skipped steps */
	wr(f, R_STATUS, S_DRV);
	wr(f, R_STATUS, S_ACK | S_DRV);
	wr(f, R_STATUS, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(rd(f, R_STATUS), 0);
	wr(f, R_STATUS, S_ACK);
	wr(f, R_STATUS, S_ACK | S_FOK);
	wr(f, R_STATUS, S_ACK | S_DRV | S_FOK);
	assert_int_equal(rd(f, R_STATUS), S_ACK);
	wr(f, R_STATUS, S_ACK | S_DRV);
	wr(f, R_STATUS, S_ACK | S_DRV | S_DOK); /* DRIVER_OK without FEATURES_OK */
	assert_int_equal(rd(f, R_STATUS), S_ACK | S_DRV);
	/* cleared bits, unknown bits, NEEDS_RESET from the driver */
	wr(f, R_STATUS, S_ACK);
	wr(f, R_STATUS, S_DRV);
	wr(f, R_STATUS, S_ACK | S_DRV | 0x10);
	wr(f, R_STATUS, S_ACK | S_DRV | 0x20);
	wr(f, R_STATUS, S_ACK | S_DRV | 0x100);
	wr(f, R_STATUS, S_ACK | S_DRV | S_NR);
	assert_int_equal(rd(f, R_STATUS), S_ACK | S_DRV);
	wr(f, R_STATUS, S_ACK | S_DRV); /* the same value again: no change */
	assert_int_equal(rd(f, R_STATUS), S_ACK | S_DRV);
	assert_int_equal(f->activates, 0);

	/* FAILED from every state sticks until 0. */
	for (size_t i = 0; i < 4; i++) {
		wr(f, R_STATUS, 0);
		for (size_t k = 0; k <= i; k++) {
			if (k == 2) {
				wr(f, R_DRV_FEAT_SEL, 1);
				wr(f, R_DRV_FEAT, 1);
			}
			wr(f, R_STATUS, steps[k]);
		}
		assert_int_equal(rd(f, R_STATUS), steps[i]);
		wr(f, R_STATUS, steps[i] | S_FAIL);
		assert_int_equal(rd(f, R_STATUS), steps[i] | S_FAIL);
		for (size_t k = 0; k < 4; k++) {
			wr(f, R_STATUS, steps[k] | S_FAIL);
			wr(f, R_STATUS, steps[k]);
		}
		wr(f, R_STATUS, 0xff);
		assert_int_equal(rd(f, R_STATUS), steps[i] | S_FAIL);
	}
	wr(f, R_STATUS, 0);
	assert_int_equal(rd(f, R_STATUS), 0);

	/* Random bytes and words: the status only ever takes valid values, and the device starts only at DRIVER_OK. */
	for (int i = 0; i < 100000; i++) {
		uint32_t v, before = rd(f, R_STATUS);

		seed = seed * 1103515245 + 12345;
		v = (seed >> 16) & 0xff;
		if (i % 7 == 0)
			v = steps[(seed >> 8) % 4] | (before & S_NR);
		if (i % 11 == 0)
			v = seed;
		if (i % 5000 == 0)
			v = 0;
		wr(f, R_DRV_FEAT_SEL, 1);
		wr(f, R_DRV_FEAT, 1);
		wr(f, R_STATUS, v);
		uint32_t after = rd(f, R_STATUS);

		assert_true(status_valid(after));
		if (v) /* bits are only ever added */
			assert_int_equal(after & before, before);
		if (before & S_FAIL && v)
			assert_int_equal(after, before);
	}
}

/* T9: reset with a request in flight: the device stops first, then the queues go; nothing is written after. */
static void test_t9_reset_in_flight(void **state)
{
	struct fake *f = *state;
	uint16_t head;

	bring_up(f, 0);
	f->mode = HOLD;
	post_req(f);
	wr(f, R_NOTIFY, 0);
	assert_int_equal(f->held, 1);
	head = f->r.head;
	wr(f, R_STATUS, 0);
	assert_int_equal(f->resets, 2);	    /* bring_up reset it once */
	assert_true(f->q0_active_at_reset); /* ops->reset ran before the queues were torn down */
	assert_false(f->t.q[0].active);
	assert_int_equal(virtq_push(&f->t.q[0], head, 4), -EINVAL); /* a late completion goes nowhere */
	assert_int_equal(vqh_used_idx(&f->h), 0);
	assert_int_equal(rd(f, R_STATUS), 0);
	assert_int_equal(rd(f, R_ISR), 0);
	assert_int_equal(rd(f, R_QREADY), 0);
	assert_int_equal(f->t.features, 0);
	wr(f, R_NOTIFY, 0);
	virtio_mmio_kick(&f->t, 0);
	assert_int_equal(f->notifies[0], 1);
}

/* T9: 1000 reset/init cycles, each serving a request: the same state every time (ASan watches for leaks). */
static void test_t9_reset_cycles(void **state)
{
	struct fake *f = *state;
	uint32_t id, len, gen = rd(f, R_CONFIG_GEN);

	for (int i = 0; i < 1000; i++) {
		bring_up(f, (i & 1) ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0);
		post_req(f);
		if (i & 2)
			virtio_mmio_kick(&f->t, 0);
		else
			vqh_mmio_notify(&f->t, 0);
		assert_int_equal(vqh_get_used(&f->h, &id, &len), 1);
		assert_int_equal(len, 4);
		assert_int_equal(rd(f, R_ISR), VIRTIO_MMIO_INT_VRING);
		wr(f, R_ACK, VIRTIO_MMIO_INT_VRING);
		wr(f, R_STATUS, 0);
	}
	assert_int_equal(f->served, 1000);
	assert_int_equal(f->activates, 1000);
	assert_int_equal(f->resets, 2000); /* bring_up resets too */
	assert_int_equal(f->irq.count, 1000);
	assert_int_equal(rd(f, R_CONFIG_GEN), gen);
}

/* T10: kicks before DRIVER_OK or on a queue that is not ready reach nobody. */
static void test_t10_early_notify(void **state)
{
	struct fake *f = *state;

	wr(f, R_NOTIFY, 0);
	virtio_mmio_kick(&f->t, 0);
	assert_int_equal(vqh_mmio_negotiate(&f->t, 0), 0);
	vqh_mmio_queue(&f->t, 0, &f->h);
	post_req(f);
	wr(f, R_NOTIFY, 0);
	virtio_mmio_kick(&f->t, 0);
	assert_int_equal(f->notifies[0], 0);
	assert_int_equal(vqh_used_idx(&f->h), 0);
	assert_int_equal(vqh_mmio_driver_ok(&f->t), S_ACK | S_DRV | S_FOK | S_DOK);
	wr(f, R_NOTIFY, 1); /* queue 1 exists but was never made ready */
	virtio_mmio_kick(&f->t, 1);
	assert_int_equal(f->notifies[1], 0);
	wr(f, R_NOTIFY, 0); /* the request posted early is served on the first real kick */
	assert_int_equal(f->served, 1);
}

/* T11: InterruptACK clears exactly the bits written; ConfigGeneration only grows. */
static void test_t11_isr_ack_and_generation(void **state)
{
	struct fake *f = *state;

	bring_up(f, 0);
	virtio_mmio_config_changed(&f->t);
	assert_int_equal(rd(f, R_CONFIG_GEN), 1);
	post_req(f);
	wr(f, R_NOTIFY, 0);
	assert_int_equal(rd(f, R_ISR), VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	wr(f, R_ACK, 0);
	wr(f, R_ACK, 0xfffffffc);
	assert_int_equal(rd(f, R_ISR), 3);
	wr(f, R_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(f, R_ISR), VIRTIO_MMIO_INT_CONFIG);
	wr(f, R_ACK, 0xffffffff);
	assert_int_equal(rd(f, R_ISR), 0);
	for (int i = 0; i < 10; i++)
		virtio_mmio_config_changed(&f->t);
	wr(f, R_STATUS, 0);
	assert_int_equal(rd(f, R_CONFIG_GEN), 11); /* a reset does not roll it back */
	virtio_mmio_config_changed(&f->t);
	assert_int_equal(rd(f, R_CONFIG_GEN), 12);
}

/* T12 in miniature: a million kicks on an empty ring cost a pop each: no interrupt, no write to the guest. */
static void test_t12_notify_storm(void **state)
{
	struct fake *f = *state;

	bring_up(f, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	for (int i = 0; i < 1000000; i++) {
		if (i & 1)
			virtio_mmio_kick(&f->t, 0);
		else
			vqh_mmio_notify(&f->t, 0);
	}
	assert_int_equal(f->notifies[0], 1000000);
	assert_int_equal(f->served + f->dropped, 0);
	assert_int_equal(vqh_used_idx(&f->h), 0);
	assert_int_equal(f->irq.count, 0);
	assert_false(f->t.status & S_NR);
}

/* Edges: one per newly set ISR bit; none while the bit is still set; none when the driver suppressed them. */
static void test_interrupt_edges(void **state)
{
	struct fake *f = *state;

	bring_up(f, 0);
	post_req(f);
	wr(f, R_NOTIFY, 0);
	assert_int_equal(f->irq.count, 1);
	post_req(f);
	wr(f, R_NOTIFY, 0);
	assert_int_equal(f->irq.count, 1); /* VRING still pending: the guest's handler will see both */
	wr(f, R_ACK, VIRTIO_MMIO_INT_VRING);
	post_req(f);
	virtio_mmio_kick(&f->t, 0);
	assert_int_equal(f->irq.count, 2);
	virtio_mmio_config_changed(&f->t); /* a different bit: its own edge */
	assert_int_equal(f->irq.count, 3);
	wr(f, R_ACK, 3);
	vqh_set_avail_flags(&f->h, VIRTQ_AVAIL_F_NO_INTERRUPT);
	post_req(f);
	wr(f, R_NOTIFY, 0);
	assert_int_equal(f->served, 4);
	assert_int_equal(rd(f, R_ISR), 0);
	assert_int_equal(f->irq.count, 3);
}

/* A broken ring found in notify: DEVICE_NEEDS_RESET, a config interrupt, and later kicks touch nothing. */
static void test_broken_ring_needs_reset(void **state)
{
	struct fake *f = *state;

	bring_up(f, 0);
	vqh_set_avail_idx(&f->h, 100);
	wr(f, R_NOTIFY, 0);
	assert_true(rd(f, R_STATUS) & S_NR);
	assert_int_equal(rd(f, R_ISR), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(f->irq.count, 1);
	assert_true(f->t.q[0].broken);
	wr(f, R_NOTIFY, 0);
	assert_int_equal(f->irq.count, 1);
	assert_int_equal(vqh_used_idx(&f->h), 0);
	/* The driver resets and starts again: all is well. */
	bring_up(f, 0);
	post_req(f);
	wr(f, R_NOTIFY, 0);
	assert_int_equal(f->served, 1);
}

/* The device refuses to start: DEVICE_NEEDS_RESET and no queue is left active. */
static void test_activate_refused(void **state)
{
	struct fake *f = *state;

	f->activate_ret = -ENOMEM;
	assert_int_equal(vqh_mmio_negotiate(&f->t, 0), 0);
	vqh_mmio_queue(&f->t, 0, &f->h);
	assert_true(vqh_mmio_driver_ok(&f->t) & S_NR);
	assert_int_equal(f->activates, 1);
	assert_false(f->t.q[0].active);
	post_req(f);
	wr(f, R_NOTIFY, 0);
	assert_int_equal(f->notifies[0], 0);
}

/* The whole path with EVENT_IDX: requests served, used entries in order, avail_event kept up to date. */
static void test_happy_path_event_idx(void **state)
{
	struct fake *f = *state;
	uint32_t id, len;

	bring_up(f, (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << 5));
	assert_int_equal(f->activates, 1);
	for (int i = 0; i < 40; i++) {
		post_req(f);
		post_req(f);
		vqh_set_used_event(&f->h, (uint16_t)(2 * i + 1));
		virtio_mmio_kick(&f->t, 0);
		assert_int_equal(vqh_avail_event(&f->h), (uint16_t)(2 * i + 2));
		for (int k = 0; k < 2; k++) {
			assert_int_equal(vqh_get_used(&f->h, &id, &len), 1);
			assert_int_equal(len, 4);
		}
		assert_int_equal(rd(f, R_ISR), VIRTIO_MMIO_INT_VRING);
		wr(f, R_ACK, VIRTIO_MMIO_INT_VRING);
	}
	assert_int_equal(f->irq.count, 40);
	assert_int_equal(*(uint8_t *)gmem_ptr(&f->m, BUF + 0x100, 1), 0xd0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t1_access_width, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t2_config_bounds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t3_queue_sel_out_of_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t4_bad_queue_num, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t5_bad_rings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t6_rewrite_after_driver_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t7_features, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t8_status_machine, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t9_reset_in_flight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t9_reset_cycles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t10_early_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t11_isr_ack_and_generation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_t12_notify_storm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupt_edges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_ring_needs_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_activate_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_happy_path_event_idx, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
