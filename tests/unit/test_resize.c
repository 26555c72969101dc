/*
 * test_resize.c - online resize (core_lun_resize) of RAM and file LUNs,
 * observed the way an initiator observes it: through SCSI commands on
 * two I_T nexuses (scsi_task_prepare / exec on the LU the registry
 * serves).
 *
 * What is checked:
 * - grow and shrink change READ CAPACITY (10) / (16) (SBC-4 §5.20, §5.21)
 *   and the LBA range check; data below the new end survives; a grown
 *   RAM LUN reads zeroes beyond its old end;
 * - every nexus that used the LU gets CAPACITY DATA HAS CHANGED (6h/2Ah/
 *   09h, SBC-4 §4.6) on its next command exactly once, then GOOD;
 *   REQUEST SENSE does not lose it (SPC-4 §5.14);
 * - refusals change nothing and raise no UA: a shrink without force
 *   (the message says how many bytes it cuts), a size that is not a
 *   multiple of the block size, a controller LUN, a missing LUN;
 * - a shrink racing a write whose range was checked before it: the write
 *   ends LBA OUT OF RANGE, never lands beyond the new end (and the RAM
 *   store refuses an access beyond it with -ERANGE);
 * - file LUNs: --size ftruncates the file (sparse when grown), no size
 *   re-reads a file that was extended underneath; an unaligned file size
 *   is refused.
 * Block devices (a size other than the device's is refused, losetup -c
 * is picked up) are in test_bs_blk.c, which has the loop devices.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing/bs.h"
#include "base/base.h"
#include "core/core.h"
#include "scsi/scsi.h"

#define IQN "iqn.2026-12.org.ringtgt:resize"
#define MIB (1u << 20)

static struct core_err err;
static struct scsi_nexus na, nb;
static int done_calls;
static char tmpdir[64], file[128];

static void task_done(struct scsi_task *t)
{
	(void)t;
	done_calls++;
}

static void nexus_init(struct scsi_nexus *n, struct scsi_target *st,
		       uint16_t port)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->initiator_port, sizeof(n->initiator_port),
		 "iqn.1994-05.com.redhat:x,i,0x%u", port);
	n->rel_port_id = port;
	n->target = st;
}

static struct scsi_target *scsi_tgt(void)
{
	struct tgt_target *t = core_target_find(IQN);
	struct scsi_target *st;

	cr_assert_not_null(t);
	st = core_target_scsi(t);
	core_target_put(t);	/* the registry keeps it while the test runs */
	return st;
}

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	core_init();
	cr_assert_eq(core_target_add(IQN, 0, NULL, &err), 0, "%s", err.msg);
	nexus_init(&na, scsi_tgt(), 1);
	nexus_init(&nb, scsi_tgt(), 1);
	snprintf(nb.initiator_port, sizeof(nb.initiator_port),
		 "iqn.1994-05.com.redhat:y,i,0x1");
	done_calls = 0;
	file[0] = tmpdir[0] = '\0';
}

static void teardown(void)
{
	core_shutdown();
	if (file[0])
		unlink(file);
	if (tmpdir[0])
		rmdir(tmpdir);
}

TestSuite(resize, .init = setup, .fini = teardown);

static void add_ram(uint64_t lun, uint64_t size, uint32_t bsz)
{
	struct core_lun_spec s = {
		.type = SCSI_LU_DISK, .backing = "ram", .size = size,
		.block_size = bsz,
	};

	cr_assert_eq(core_lun_add(IQN, lun, &s, &err), 0, "%s", err.msg);
}

static void add_file(uint64_t lun, uint64_t size)
{
	struct core_lun_spec s = {
		.type = SCSI_LU_DISK, .path = file, .size = size,
		.create = true,
	};

	strcpy(tmpdir, "/tmp/ringtgt-resize-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(file, sizeof(file), "%s/lun.img", tmpdir);
	cr_assert_eq(core_lun_add(IQN, lun, &s, &err), 0, "%s", err.msg);
}

/* prepare + exec of @cdb on LUN @lun from @n; returns the status */
static uint8_t run(struct scsi_task *t, struct scsi_nexus *n, uint64_t lun,
		   const uint8_t *cdb, size_t len, uint8_t *buf,
		   uint32_t buf_len)
{
	int before = done_calls;

	memset(t, 0, sizeof(*t));
	t->nexus = n;
	t->lun = lun;
	t->lu = scsi_target_get_lu(n->target, lun);
	memcpy(t->cdb, cdb, len);
	t->exp_len = buf_len;
	t->done = task_done;
	if (scsi_task_prepare(t) == SENSE_NONE) {
		t->buf = buf;
		t->buf_len = MIN(buf_len, t->data_len);
	}
	scsi_task_exec(t);
	cr_assert_eq(done_calls, before + 1, "done called once");
	scsi_lu_put(t->lu);
	return t->status;
}

static void assert_sense(const struct scsi_task *t, uint8_t key, uint8_t asc,
			 uint8_t ascq)
{
	cr_assert_eq(t->status, SAM_STAT_CHECK_CONDITION, "status %02x",
		     t->status);
	cr_assert_eq(t->sense[2] & 0x0f, key, "key %x", t->sense[2] & 0x0f);
	cr_assert_eq(t->sense[12], asc, "asc %02x", t->sense[12]);
	cr_assert_eq(t->sense[13], ascq, "ascq %02x", t->sense[13]);
}

static uint8_t tur(struct scsi_task *t, struct scsi_nexus *n, uint64_t lun)
{
	static const uint8_t c[6] = { 0x00 };

	return run(t, n, lun, c, 6, NULL, 0);
}

/* READ CAPACITY (16): the number of blocks (last LBA + 1) */
static uint64_t read_capacity16(struct scsi_nexus *n, uint64_t lun,
				uint32_t *bsz)
{
	uint8_t c[16] = { 0x9e, 0x10 }, b[32];
	struct scsi_task t;

	put_be32(c + 10, sizeof(b));
	memset(b, 0xee, sizeof(b));
	cr_assert_eq(run(&t, n, lun, c, 16, b, sizeof(b)), SAM_STAT_GOOD,
		     "READ CAPACITY (16): status %02x", t.status);
	if (bsz)
		*bsz = get_be32(b + 8);
	return get_be64(b) + 1;
}

static uint64_t read_capacity10(struct scsi_nexus *n, uint64_t lun)
{
	uint8_t c[10] = { 0x25 }, b[8];
	struct scsi_task t;

	cr_assert_eq(run(&t, n, lun, c, 10, b, sizeof(b)), SAM_STAT_GOOD);
	return (uint64_t)get_be32(b) + 1;
}

/* READ(10) / WRITE(10) of @nblocks blocks at @lba */
static uint8_t rw10(struct scsi_task *t, struct scsi_nexus *n, uint64_t lun,
		    bool write, uint32_t lba, uint16_t nblocks, uint8_t *buf,
		    uint32_t len)
{
	uint8_t c[10] = { write ? 0x2a : 0x28 };

	put_be32(c + 2, lba);
	put_be16(c + 7, nblocks);
	return run(t, n, lun, c, 10, buf, len);
}

/* Both nexuses have used LUN @lun (so both are owed the next UA). */
static void both_use(uint64_t lun)
{
	struct scsi_task t;

	cr_assert_eq(tur(&t, &na, lun), SAM_STAT_GOOD);
	cr_assert_eq(tur(&t, &nb, lun), SAM_STAT_GOOD);
}

/* @n gets CAPACITY DATA HAS CHANGED once, then GOOD. */
static void assert_ua_once(struct scsi_nexus *n, uint64_t lun)
{
	struct scsi_task t;

	tur(&t, n, lun);
	assert_sense(&t, 0x6, 0x2a, 0x09);
	cr_assert_eq(tur(&t, n, lun), SAM_STAT_GOOD, "the UA is reported once");
}

static void assert_no_ua(struct scsi_nexus *n, uint64_t lun)
{
	struct scsi_task t;

	cr_assert_eq(tur(&t, n, lun), SAM_STAT_GOOD, "status %02x asc %02x",
		     t.status, t.sense[12]);
}

static int resize(uint64_t lun, uint64_t size, bool force, uint64_t *now)
{
	uint64_t old = 0, n = 0;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = core_lun_resize(IQN, lun, size, force, &old, &n, &err);
	if (now)
		*now = n;
	return rc;
}

Test(resize, ram_grow)
{
	uint8_t b[512], z[512];
	struct scsi_task t;
	uint32_t bsz = 0;
	uint64_t now = 0;

	add_ram(0, 1 * MIB, 512);
	both_use(0);
	cr_assert_eq(read_capacity16(&na, 0, &bsz), 2048);
	memset(b, 0x5a, sizeof(b));
	cr_assert_eq(rw10(&t, &na, 0, true, 2047, 1, b, 512), SAM_STAT_GOOD);
	/* LBA 2048 is beyond the end before the resize */
	rw10(&t, &na, 0, false, 2048, 1, b, 512);
	assert_sense(&t, 0x5, 0x21, 0x00);

	cr_assert_eq(resize(0, 4 * MIB, false, &now), 0, "%s", err.msg);
	cr_assert_eq(now, 4 * MIB);

	assert_ua_once(&na, 0);
	assert_ua_once(&nb, 0);
	cr_assert_eq(read_capacity16(&na, 0, &bsz), 8192);
	cr_assert_eq(bsz, 512, "the block size does not change");
	cr_assert_eq(read_capacity10(&nb, 0), 8192);
	/* the old last block kept its data, the new blocks read zeroes */
	memset(b, 0, sizeof(b));
	cr_assert_eq(rw10(&t, &na, 0, false, 2047, 1, b, 512), SAM_STAT_GOOD);
	memset(z, 0x5a, sizeof(z));
	cr_assert_eq(memcmp(b, z, 512), 0);
	memset(b, 0xff, sizeof(b));
	memset(z, 0, sizeof(z));
	cr_assert_eq(rw10(&t, &nb, 0, false, 8191, 1, b, 512), SAM_STAT_GOOD);
	cr_assert_eq(memcmp(b, z, 512), 0);
	cr_assert_eq(rw10(&t, &nb, 0, true, 8191, 1, b, 512), SAM_STAT_GOOD);
	rw10(&t, &nb, 0, true, 8192, 1, b, 512);
	assert_sense(&t, 0x5, 0x21, 0x00);
}

Test(resize, ram_shrink_needs_force)
{
	struct scsi_task t;
	uint8_t b[4096];

	add_ram(0, 4 * MIB, 4096);
	both_use(0);
	cr_assert_eq(resize(0, 1 * MIB, false, NULL), -EPERM);
	cr_assert(strstr(err.msg, "cuts off the last 3145728 bytes") &&
		  strstr(err.msg, "--force"), "%s", err.msg);
	/* refused: nothing changed, nobody is told anything */
	assert_no_ua(&na, 0);
	assert_no_ua(&nb, 0);
	cr_assert_eq(read_capacity16(&na, 0, NULL), 1024);

	cr_assert_eq(resize(0, 1 * MIB, true, NULL), 0, "%s", err.msg);
	assert_ua_once(&na, 0);
	assert_ua_once(&nb, 0);
	cr_assert_eq(read_capacity16(&nb, 0, NULL), 256);
	rw10(&t, &na, 0, false, 256, 1, b, sizeof(b));
	assert_sense(&t, 0x5, 0x21, 0x00);
	rw10(&t, &na, 0, true, 255, 2, b, sizeof(b));
	assert_sense(&t, 0x5, 0x21, 0x00);
	cr_assert_eq(rw10(&t, &na, 0, true, 255, 1, b, sizeof(b)),
		     SAM_STAT_GOOD);
}

Test(resize, refusals)
{
	struct core_lun_spec ctl = { .type = SCSI_LU_CONTROLLER };

	add_ram(1, 1 * MIB, 4096);
	cr_assert_eq(core_lun_add(IQN, 0, &ctl, &err), 0, "%s", err.msg);
	both_use(1);

	cr_assert_eq(resize(1, 2 * MIB + 512, false, NULL), -EINVAL);
	cr_assert(strstr(err.msg, "not a positive multiple of the block size 4096"),
		  "%s", err.msg);
	cr_assert_eq(resize(0, 2 * MIB, false, NULL), -EINVAL);
	cr_assert(strstr(err.msg, "controller"), "%s", err.msg);
	cr_assert_eq(resize(7, 2 * MIB, false, NULL), -ENOENT);
	cr_assert(strstr(err.msg, "has no LUN 7"), "%s", err.msg);
	cr_assert_eq(core_lun_resize("iqn.2026-12.org.ringtgt:none", 1,
				     2 * MIB, false, &(uint64_t){ 0 },
				     &(uint64_t){ 0 }, &err), -ENOENT);
	/* the same size again: nothing changes, no UA */
	cr_assert_eq(resize(1, 1 * MIB, false, NULL), 0, "%s", err.msg);
	/* no size on a RAM LUN: nothing to re-read, nothing changes */
	cr_assert_eq(resize(1, 0, false, NULL), 0, "%s", err.msg);
	assert_no_ua(&na, 1);
	assert_no_ua(&nb, 1);
	cr_assert_eq(read_capacity16(&na, 1, NULL), 256);
}

/*
 * A UA already pending is reported first, the capacity one after it; the
 * capacity UA is per LUN: another LUN of the same nexus gets none.
 */
Test(resize, ua_per_lun_and_after_reset)
{
	struct scsi_lu *lu;
	struct scsi_task t;

	add_ram(0, 1 * MIB, 512);
	add_ram(1, 1 * MIB, 512);
	both_use(0);
	both_use(1);
	lu = scsi_target_get_lu(na.target, 0);
	scsi_lu_reset(lu);
	scsi_lu_put(lu);
	cr_assert_eq(resize(0, 2 * MIB, false, NULL), 0, "%s", err.msg);

	/* the reset's first (SAM-5: 29h/03h), then the capacity's */
	tur(&t, &na, 0);
	assert_sense(&t, 0x6, 0x29, 0x03);
	tur(&t, &nb, 0);
	assert_sense(&t, 0x6, 0x29, 0x03);
	assert_ua_once(&na, 0);
	assert_ua_once(&nb, 0);
	assert_no_ua(&na, 1);
	assert_no_ua(&nb, 1);
}

/* REQUEST SENSE returns the UA as its data and clears it (SPC-4 §5.14). */
Test(resize, request_sense_reports_it)
{
	uint8_t c[6] = { 0x03, 0, 0, 0, 252 }, b[252];
	struct scsi_task t;

	add_ram(0, 1 * MIB, 512);
	both_use(0);
	cr_assert_eq(resize(0, 2 * MIB, false, NULL), 0, "%s", err.msg);
	cr_assert_eq(run(&t, &na, 0, c, 6, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(b[2] & 0x0f, 0x6);
	cr_assert_eq(b[12], 0x2a);
	cr_assert_eq(b[13], 0x09);
	assert_no_ua(&na, 0);
	assert_ua_once(&nb, 0);
}

/*
 * A write whose range was checked (prepare) before a shrink and that runs
 * (exec, once its data is in) after it must not land beyond the new end.
 */
Test(resize, shrink_races_a_write)
{
	struct scsi_lu *lu;
	struct scsi_task t;
	uint8_t c[10] = { 0x2a }, b[512];
	struct bs_io io = { .op = BS_READ };
	struct iovec iov = { b, sizeof(b) };
	int before;

	add_ram(0, 2 * MIB, 512);
	both_use(0);
	lu = scsi_target_get_lu(na.target, 0);
	memset(&t, 0, sizeof(t));
	t.nexus = &na;
	t.lun = 0;
	t.lu = lu;
	put_be32(c + 2, 3000);	/* beyond 1 MiB, within 2 MiB */
	put_be16(c + 7, 1);
	memcpy(t.cdb, c, sizeof(c));
	t.exp_len = sizeof(b);
	t.done = task_done;
	cr_assert_eq(scsi_task_prepare(&t), SENSE_NONE);

	cr_assert_eq(resize(0, 1 * MIB, true, NULL), 0, "%s", err.msg);

	memset(b, 0x77, sizeof(b));
	t.buf = b;
	t.buf_len = sizeof(b);
	before = done_calls;
	scsi_task_exec(&t);
	cr_assert_eq(done_calls, before + 1);
	assert_sense(&t, 0x5, 0x21, 0x00);

	/* the store itself refuses what is beyond its end now */
	io.iov = &iov;
	io.iovcnt = 1;
	io.offset = 3000 * 512;
	io.len = 512;
	cr_assert_eq(bs_submit(scsi_lu_bs(lu), &io), BS_DONE);
	cr_assert_eq(io.result, -ERANGE);
	cr_assert_eq(bs_size(scsi_lu_bs(lu)), 1 * MIB);
	scsi_lu_put(lu);
}

static uint64_t file_size(void)
{
	struct stat st;

	cr_assert_eq(stat(file, &st), 0);
	return (uint64_t)st.st_size;
}

Test(resize, file_grow_shrink_reread)
{
	struct scsi_task t;
	uint8_t b[512];
	int fd;

	add_file(0, 1 * MIB);
	both_use(0);

	cr_assert_eq(resize(0, 8 * MIB, false, NULL), 0, "%s", err.msg);
	cr_assert_eq(file_size(), 8 * MIB, "the file was extended");
	assert_ua_once(&na, 0);
	assert_ua_once(&nb, 0);
	cr_assert_eq(read_capacity16(&na, 0, NULL), 16384);
	memset(b, 0x3c, sizeof(b));
	cr_assert_eq(rw10(&t, &na, 0, true, 16383, 1, b, 512), SAM_STAT_GOOD);

	cr_assert_eq(resize(0, 2 * MIB, false, NULL), -EPERM);
	cr_assert(strstr(err.msg, "cuts off the last 6291456 bytes"), "%s",
		  err.msg);
	cr_assert_eq(file_size(), 8 * MIB, "a refused shrink cuts nothing");
	cr_assert_eq(resize(0, 2 * MIB, true, NULL), 0, "%s", err.msg);
	cr_assert_eq(file_size(), 2 * MIB, "the file was truncated");
	assert_ua_once(&na, 0);
	assert_ua_once(&nb, 0);
	cr_assert_eq(read_capacity16(&nb, 0, NULL), 4096);
	rw10(&t, &na, 0, false, 4096, 1, b, 512);
	assert_sense(&t, 0x5, 0x21, 0x00);

	/* extended underneath; no size: the file's is taken */
	fd = open(file, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 3 * MIB), 0);
	cr_assert_eq(resize(0, 0, false, NULL), 0, "%s", err.msg);
	assert_ua_once(&na, 0);
	assert_ua_once(&nb, 0);
	cr_assert_eq(read_capacity16(&na, 0, NULL), 6144);

	/* a file size that is not whole blocks is not a capacity */
	cr_assert_eq(ftruncate(fd, 3 * MIB + 100), 0);
	close(fd);
	cr_assert_eq(resize(0, 0, false, NULL), -EINVAL);
	cr_assert(strstr(err.msg, "(the size of the medium)"), "%s", err.msg);
	assert_no_ua(&na, 0);
	cr_assert_eq(read_capacity16(&na, 0, NULL), 6144);
}

/*
 * The same race on a file LUN, where nothing in the store would stop it:
 * a write beyond the end of a file extends the file. The check at exec
 * must fail it, and the file keeps its new size.
 */
Test(resize, file_shrink_races_a_write)
{
	struct scsi_task t;
	uint8_t c[10] = { 0x2a }, b[512];
	int before;

	add_file(0, 2 * MIB);
	both_use(0);
	memset(&t, 0, sizeof(t));
	t.nexus = &na;
	t.lun = 0;
	t.lu = scsi_target_get_lu(na.target, 0);
	put_be32(c + 2, 3000);
	put_be16(c + 7, 1);
	memcpy(t.cdb, c, sizeof(c));
	t.exp_len = sizeof(b);
	t.done = task_done;
	cr_assert_eq(scsi_task_prepare(&t), SENSE_NONE);

	cr_assert_eq(resize(0, 1 * MIB, true, NULL), 0, "%s", err.msg);

	memset(b, 0x77, sizeof(b));
	t.buf = b;
	t.buf_len = sizeof(b);
	before = done_calls;
	scsi_task_exec(&t);
	cr_assert_eq(done_calls, before + 1);
	assert_sense(&t, 0x5, 0x21, 0x00);
	cr_assert_eq(file_size(), 1 * MIB, "nothing was written beyond the end");
	scsi_lu_put(t.lu);
}

/*
 * The RAM store's buffer moves (realloc) while other threads read and
 * write it, as reactors do: every request either completes whole or, when
 * it reaches beyond the size of the moment, fails with -ERANGE; never a
 * touch of freed memory (which the ASan build reports).
 */
struct hammer {
	struct bs *bs;
	unsigned done, beyond, bad;
	unsigned seed;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	uint8_t buf[8192];
	struct iovec iov = { buf, sizeof(buf) };

	memset(buf, 0x42, sizeof(buf));
	for (int i = 0; i < 20000; i++) {
		struct bs_io io = {
			.op = (i & 1) ? BS_WRITE : BS_READ,
			.iov = &iov, .iovcnt = 1, .len = sizeof(buf),
		};

		/* anywhere in 0..4 MiB: beyond 1 MiB only while grown */
		io.offset = (uint64_t)(rand_r(&h->seed) % 512) * sizeof(buf);
		cr_assert_eq(bs_submit(h->bs, &io), BS_DONE);
		if (io.result == (int)sizeof(buf))
			h->done++;
		else if (io.result == -ERANGE)
			h->beyond++;
		else
			h->bad++;
	}
	return NULL;
}

Test(resize, ram_realloc_under_io)
{
	struct bs_open_args a = { .size = 4 * MIB };
	struct bs *bs = bs_open(&bs_ram_ops, NULL, &a);
	struct hammer h[2] = { { .bs = bs, .seed = 1 }, { .bs = bs, .seed = 2 } };
	pthread_t th[2];

	cr_assert_not_null(bs);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
	for (int i = 0; i < 400; i++)
		cr_assert_eq(bs_resize(bs, (i & 1) ? 4 * MIB : 1 * MIB), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(h[i].bad, 0, "%u requests neither whole nor -ERANGE",
			     h[i].bad);
		cr_assert_eq(h[i].done + h[i].beyond, 20000);
	}
	cr_assert_eq(bs_size(bs), 4 * MIB);	/* the last one, i = 399 */
	bs_close(bs);
}
