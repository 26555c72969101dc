/*
 * test_flush.c - durability: BS_FLUSH and BS_IO_FUA on the file store
 * really make the data durable, on every path a request can take (the
 * synchronous one with io->r == NULL, io_uring, and epoll's worker pool),
 * and SYNCHRONIZE CACHE(10/16) and FUA writes get there from the SCSI
 * layer (SBC-4 §5.24-25: SYNCHRONIZE CACHE makes the cached data durable;
 * §4.15 / the FUA bit: the write reaches the medium before GOOD).
 *
 * "Durable" is observed, not assumed: cachestat(2) (Linux 6.5) reports
 * for a range of a file how many of its page-cache pages are dirty or
 * under writeback, i.e. not yet on the device. A buffered write leaves
 * them dirty (checked first, so the test can see an unflushed write);
 * fdatasync, an io_uring IORING_FSYNC_DATASYNC or a RWF_DSYNC write
 * leaves none. A store that skipped the fsync would leave them dirty for
 * the kernel's 30-second expiry. The file lives in /var/tmp (a disk file
 * system: on tmpfs the store works inline and pages are never "clean").
 *
 * A counting wrapper store around the file store also checks that each
 * SYNCHRONIZE CACHE is exactly one BS_FLUSH and each FUA write carries
 * BS_IO_FUA (and a plain write does not).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>

#include "backing/bs.h"
#include "base/base.h"
#include "reactor/reactor.h"
#include "scsi/scsi.h"

#ifndef SYS_cachestat
#define SYS_cachestat 451	/* the same number on every architecture */
#endif

#define MIB (1u << 20)
#define KIB 1024u
#define TGT_NAME "iqn.2024-01.org.example:flush"

struct cs_range {
	uint64_t off, len;
};

struct cs_stat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted,
		 nr_recently_evicted;
};

static char tmpdir[64];
static char path[128];

static void tmp_setup(void)
{
	struct statfs sfs;

	strcpy(tmpdir, "/var/tmp/ringtgt-flush-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/lun.img", tmpdir);
	cr_assert_eq(statfs(tmpdir, &sfs), 0);
	if (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC) {
		rmdir(tmpdir);
		cr_skip_test("/var/tmp is a memory file system: no writeback");
	}
}

static void tmp_teardown(void)
{
	unlink(path);
	rmdir(tmpdir);
}

/* Pages of [off, off+len) of @path not yet on the device (len 0: all). */
static uint64_t unsynced_pages(uint64_t off, uint64_t len)
{
	struct cs_range r = { off, len };
	struct cs_stat cs;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long rc;

	cr_assert_geq(fd, 0);
	memset(&cs, 0, sizeof(cs));
	rc = syscall(SYS_cachestat, fd, &r, &cs, 0);
	close(fd);
	if (rc < 0 && (errno == ENOSYS || errno == EPERM))
		cr_skip_test("cachestat(2) unavailable: %s", strerror(errno));
	cr_assert_eq(rc, 0, "cachestat: %s", strerror(errno));
	return cs.nr_dirty + cs.nr_writeback;
}

/* --- a counting store around the file store ------------------------------- */

static int flushes, fua_writes, plain_writes;

static int count_open(struct bs *bs, const char *p,
		      const struct bs_open_args *args)
{
	struct bs *inner = bs_open(&bs_file_ops, p, args);

	if (!inner)
		return -errno;
	bs->size = inner->size;
	bs->write_cache = inner->write_cache;
	bs->can_unmap = inner->can_unmap;
	bs->readonly = inner->readonly;
	bs->priv = inner;
	return 0;
}

static void count_close(struct bs *bs)
{
	bs_close(bs->priv);
}

static enum bs_status count_submit(struct bs *bs, struct bs_io *io)
{
	if (io->op == BS_FLUSH)
		__atomic_add_fetch(&flushes, 1, __ATOMIC_SEQ_CST);
	if (io->op == BS_WRITE)
		__atomic_add_fetch(io->flags & BS_IO_FUA ? &fua_writes :
				   &plain_writes, 1, __ATOMIC_SEQ_CST);
	return bs_submit(bs->priv, io);
}

static const struct bs_ops count_ops = {
	.name = "count", .open = count_open, .close = count_close,
	.submit = count_submit,
};

static struct bs *store_open(void)
{
	struct bs_open_args a = { .size = 8 * MIB, .create = true };
	struct bs *bs = bs_open(&count_ops, path, &a);

	cr_assert_not_null(bs, "open %s: %s", path, strerror(errno));
	cr_assert(bs->write_cache, "the file store caches writes (WCE=1)");
	flushes = fua_writes = plain_writes = 0;
	return bs;
}

/* --- the three paths ------------------------------------------------------ */

enum path { PATH_SYNC, PATH_URING, PATH_EPOLL };

static const char *const path_names[] = { "synchronous", "io_uring",
					  "epoll" };

struct loop {
	struct reactor *r;	/* NULL: the synchronous path */
	int err;
	bool ready;
	enum ev_kind kind;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int completed;
};

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	struct reactor *r = reactor_new(l->kind, 0);

	pthread_mutex_lock(&l->lock);
	l->r = r;
	l->err = r ? 0 : errno;
	l->ready = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	if (r)
		reactor_run(r);
	return NULL;
}

static void loop_start(struct loop *l, enum path p)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	if (p == PATH_SYNC)
		return;
	if (p == PATH_URING && !reactor_uring_available())
		cr_skip_test("io_uring unavailable");
	l->kind = p == PATH_URING ? EV_IO_URING : EV_EPOLL;
	cr_assert_eq(pthread_create(&l->thread, NULL, loop_main, l), 0);
	pthread_mutex_lock(&l->lock);
	while (!l->ready)
		pthread_cond_wait(&l->cond, &l->lock);
	pthread_mutex_unlock(&l->lock);
	cr_assert_not_null(l->r, "reactor_new: %s", strerror(l->err));
}

static void loop_stop(struct loop *l)
{
	if (l->r) {
		reactor_stop(l->r);
		pthread_join(l->thread, NULL);
		reactor_free(l->r);
	}
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
}

static void loop_signal(struct loop *l)
{
	pthread_mutex_lock(&l->lock);
	l->completed++;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* Runs fn(arg) on the loop's thread (or here) and waits for @n signals. */
static void loop_call(struct loop *l, void (*fn)(void *), void *arg)
{
	int want = l->completed + 1;

	if (!l->r) {
		fn(arg);
	} else {
		cr_assert_eq(reactor_post(l->r, fn, arg), 0);
	}
	pthread_mutex_lock(&l->lock);
	while (l->completed < want)
		pthread_cond_wait(&l->cond, &l->lock);
	pthread_mutex_unlock(&l->lock);
}

/* --- store requests ----------------------------------------------------- */

struct req {
	struct bs_io io;
	struct iovec iov;
	struct bs *bs;
	struct loop *l;
};

static void req_done(struct bs_io *io)
{
	struct req *q = container_of(io, struct req, io);

	loop_signal(q->l);
}

static void req_submit(void *arg)
{
	struct req *q = arg;

	q->io.r = q->l->r;
	q->io.done = req_done;
	if (bs_submit(q->bs, &q->io) == BS_DONE)
		req_done(&q->io);
}

static int store_io(struct loop *l, struct bs *bs, enum bs_opcode op,
		    void *buf, uint64_t off, uint64_t len, unsigned flags)
{
	struct req q = {
		.io = { .op = op, .flags = flags, .offset = off, .len = len },
		.iov = { buf, len }, .bs = bs, .l = l,
	};

	if (buf) {
		q.io.iov = &q.iov;
		q.io.iovcnt = 1;
	}
	loop_call(l, req_submit, &q);
	return q.io.result;
}

static uint8_t *pattern(size_t len, uint8_t seed)
{
	uint8_t *b = malloc(len);

	cr_assert_not_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed + i * 31 + (i >> 12));
	return b;
}

/*
 * A buffered write of @len at @off; asserts it left dirty pages, which
 * shows the measurement can see data that is not durable yet. Rewrites
 * a few times should the kernel's flusher have been faster than us.
 */
static void dirty_write(struct loop *l, struct bs *bs, uint64_t off,
			uint64_t len)
{
	uint8_t *b = pattern(len, (uint8_t)off);
	uint64_t unsynced = 0;

	for (int i = 0; i < 3 && !unsynced; i++) {
		b[0]++;
		cr_assert_eq(store_io(l, bs, BS_WRITE, b, off, len, 0),
			     (int)len);
		unsynced = unsynced_pages(off, len);
	}
	cr_assert_gt(unsynced, 0u, "a buffered write left no dirty page");
	free(b);
}

ParameterizedTestParameters(flush, store)
{
	static enum path paths[] = { PATH_SYNC, PATH_URING, PATH_EPOLL };

	return cr_make_param_array(enum path, paths, ARRAY_SIZE(paths));
}

/* BS_FLUSH leaves nothing of the file dirty; a FUA write leaves its range
 * clean at completion. */
ParameterizedTest(enum path *p, flush, store, .init = tmp_setup,
		  .fini = tmp_teardown, .timeout = 60)
{
	struct loop l;
	struct bs *bs;
	uint8_t *b;

	loop_start(&l, *p);
	bs = store_open();

	dirty_write(&l, bs, 1 * MIB, 256 * KIB);
	dirty_write(&l, bs, 5 * MIB, 64 * KIB);
	cr_assert_eq(store_io(&l, bs, BS_FLUSH, NULL, 0, 0, 0), 0);
	cr_assert_eq(flushes, 1);
	cr_assert_eq(unsynced_pages(0, 0), 0u,
		     "%s: BS_FLUSH completed with dirty pages left",
		     path_names[*p]);

	/* FUA: durable at completion, without a flush */
	b = pattern(128 * KIB, 7);
	cr_assert_eq(store_io(&l, bs, BS_WRITE, b, 2 * MIB, 128 * KIB,
			      BS_IO_FUA), (int)(128 * KIB));
	cr_assert_eq(unsynced_pages(2 * MIB, 128 * KIB), 0u,
		     "%s: FUA write completed with dirty pages",
		     path_names[*p]);
	cr_assert_eq(fua_writes, 1);
	free(b);

	bs_close(bs);
	loop_stop(&l);
}

/* --- from the SCSI layer ---------------------------------------------------- */

struct cmd {
	struct scsi_task t;
	struct loop *l;
};

static void cmd_done(struct scsi_task *t)
{
	struct cmd *c = container_of(t, struct cmd, t);

	loop_signal(c->l);
}

static void cmd_exec(void *arg)
{
	struct cmd *c = arg;

	c->t.r = c->l->r;
	scsi_task_exec(&c->t);
}

/* Runs @cdb on @lu through the path of @l; returns the SAM status. */
static uint8_t scsi_run(struct loop *l, struct scsi_lu *lu,
			const uint8_t *cdb, size_t len, uint8_t *buf,
			uint32_t exp_len)
{
	static struct scsi_nexus nexus;
	struct cmd *c = calloc(1, sizeof(*c));
	uint8_t status;

	cr_assert_not_null(c);
	nexus.rel_port_id = 1;
	c->l = l;
	c->t.nexus = &nexus;
	c->t.lu = lu;
	memcpy(c->t.cdb, cdb, len);
	c->t.exp_len = exp_len;
	c->t.done = cmd_done;
	cr_assert_eq(scsi_task_prepare(&c->t), SENSE_NONE,
		     "CDB 0x%02x rejected", cdb[0]);
	c->t.buf = buf;
	c->t.buf_len = MIN(exp_len, c->t.data_len);
	loop_call(l, cmd_exec, c);
	status = c->t.status;
	free(c);
	return status;
}

static void cdb_write(uint8_t *c, uint8_t op, uint64_t lba, uint32_t n,
		      bool fua)
{
	memset(c, 0, 16);
	c[0] = op;
	c[1] = fua ? 0x08 : 0;
	switch (op) {
	case 0x2a:		/* WRITE(10) */
		put_be32(c + 2, (uint32_t)lba);
		put_be16(c + 7, (uint16_t)n);
		break;
	case 0xaa:		/* WRITE(12) */
		put_be32(c + 2, (uint32_t)lba);
		put_be32(c + 6, n);
		break;
	default:		/* WRITE(16) */
		put_be64(c + 2, lba);
		put_be32(c + 10, n);
		break;
	}
}

ParameterizedTestParameters(flush, scsi)
{
	static enum path paths[] = { PATH_SYNC, PATH_URING, PATH_EPOLL };

	return cr_make_param_array(enum path, paths, ARRAY_SIZE(paths));
}

ParameterizedTest(enum path *p, flush, scsi, .init = tmp_setup,
		  .fini = tmp_teardown, .timeout = 60)
{
	static const uint8_t write_ops[] = { 0x2a, 0xaa, 0x8a };
	uint8_t cdb[16], *b = pattern(64 * KIB, 3);
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 1, .block_size = 512,
		.target_name = TGT_NAME,
	};
	struct scsi_lu *lu;
	struct loop l;

	loop_start(&l, *p);
	cfg.bs = store_open();
	lu = scsi_lu_new(&cfg);
	cr_assert_not_null(lu);

	/* SYNCHRONIZE CACHE(10) and (16), whole medium (0 blocks) and a
	 * range: each one flush, and nothing dirty afterwards */
	for (int i = 0; i < 4; i++) {
		uint8_t sc[16] = { 0 };
		int len = i < 2 ? 10 : 16;

		sc[0] = len == 10 ? 0x35 : 0x91;
		if (i % 2 == 1) {	/* LBA 2048, 128 blocks */
			if (len == 10) {
				put_be32(sc + 2, 2048);
				put_be16(sc + 7, 128);
			} else {
				put_be64(sc + 2, 2048);
				put_be32(sc + 10, 128);
			}
		}
		/* a plain WRITE leaves dirty pages (retried should the
		 * kernel's flusher have been faster than us) */
		for (int k = 0; k < 3; k++) {
			b[0]++;
			cdb_write(cdb, 0x2a, 2048, 128, false);
			cr_assert_eq(scsi_run(&l, lu, cdb, 10, b, 64 * KIB),
				     SAM_STAT_GOOD);
			if (unsynced_pages(1 * MIB, 64 * KIB))
				break;
		}
		cr_assert_gt(unsynced_pages(1 * MIB, 64 * KIB), 0u,
			     "a WRITE without FUA left nothing dirty");
		cr_assert_eq(scsi_run(&l, lu, sc, (size_t)len, NULL, 0),
			     SAM_STAT_GOOD);
		cr_assert_eq(flushes, i + 1, "SYNCHRONIZE CACHE(%d) #%d: %d "
			     "flushes", len, i, flushes);
		cr_assert_eq(unsynced_pages(0, 0), 0u,
			     "%s: SYNCHRONIZE CACHE(%d) left dirty pages",
			     path_names[*p], len);
	}

	/* WRITE(10/12/16) with FUA: durable when GOOD comes back */
	for (size_t i = 0; i < ARRAY_SIZE(write_ops); i++) {
		uint64_t lba = 4096 + 256 * i;
		int before = fua_writes;

		cdb_write(cdb, write_ops[i], lba, 128, true);
		cr_assert_eq(scsi_run(&l, lu, cdb, 16, b, 64 * KIB),
			     SAM_STAT_GOOD);
		cr_assert_eq(fua_writes, before + 1, "WRITE 0x%02x FUA",
			     write_ops[i]);
		cr_assert_eq(unsynced_pages(lba * 512, 64 * KIB), 0u,
			     "%s: WRITE 0x%02x FUA completed with dirty pages",
			     path_names[*p], write_ops[i]);
	}
	cr_assert_eq(flushes, 4, "FUA writes are not flushes");

	scsi_lu_put(lu);
	free(b);
	loop_stop(&l);
}

/* --- without a write cache ------------------------------------------------- */

/*
 * write_cache = off (args->write_through): the Caching mode page says
 * WCE=0 (SBC-4 §6.5.5), so every write must be on stable storage before
 * it completes, on every I/O path, with neither FUA nor a flush from the
 * initiator: a plain write leaves no dirty page. UNMAP and WRITE ZEROES
 * are made durable too (fallocate is not covered by O_DSYNC on ext4):
 * the store flushes the file after them, which shows as pages dirtied
 * beforehand through another fd being clean when they complete.
 */
static struct bs *store_open_through(void)
{
	struct bs_open_args a = { .size = 8 * MIB, .create = true,
				  .write_through = true };
	struct bs *bs = bs_open(&count_ops, path, &a);

	cr_assert_not_null(bs, "open %s: %s", path, strerror(errno));
	cr_assert_not(bs->write_cache, "write_through: WCE=0");
	flushes = fua_writes = plain_writes = 0;
	return bs;
}

/* Dirties [off, off+len) through an fd of our own; asserts it shows. */
static void dirty_behind(uint64_t off, uint64_t len)
{
	uint8_t *b = pattern(len, 9);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	uint64_t unsynced = 0;

	cr_assert_geq(fd, 0);
	for (int i = 0; i < 3 && !unsynced; i++) {
		b[0]++;
		cr_assert_eq(pwrite(fd, b, len, (off_t)off), (ssize_t)len);
		unsynced = unsynced_pages(off, len);
	}
	cr_assert_gt(unsynced, 0u, "a plain pwrite left no dirty page");
	close(fd);
	free(b);
}

ParameterizedTestParameters(flush, write_through)
{
	static enum path paths[] = { PATH_SYNC, PATH_URING, PATH_EPOLL };

	return cr_make_param_array(enum path, paths, ARRAY_SIZE(paths));
}

ParameterizedTest(enum path *p, flush, write_through, .init = tmp_setup,
		  .fini = tmp_teardown, .timeout = 60)
{
	static const uint64_t sizes[] = { 4 * KIB, 64 * KIB, 256 * KIB };
	struct loop l;
	struct bs *bs;

	loop_start(&l, *p);
	bs = store_open_through();

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint64_t off = (1 + i) * MIB;
		uint8_t *b = pattern(sizes[i], (uint8_t)i);

		cr_assert_eq(store_io(&l, bs, BS_WRITE, b, off, sizes[i], 0),
			     (int)sizes[i]);
		cr_assert_eq(unsynced_pages(off, sizes[i]), 0u,
			     "%s: a write without FUA completed with dirty "
			     "pages and no write cache", path_names[*p]);
		free(b);
	}
	cr_assert_eq(fua_writes, 0, "the writes carried no FUA");
	cr_assert_eq(flushes, 0, "nor were they flushed");

	dirty_behind(6 * MIB, 64 * KIB);
	cr_assert_eq(store_io(&l, bs, BS_UNMAP, NULL, 1 * MIB, 64 * KIB, 0), 0);
	cr_assert_eq(unsynced_pages(0, 0), 0u,
		     "%s: UNMAP completed without a flush", path_names[*p]);
	dirty_behind(6 * MIB, 64 * KIB);
	cr_assert_eq(store_io(&l, bs, BS_WRITE_ZEROES, NULL, 2 * MIB, 64 * KIB,
			      0), 0);
	cr_assert_eq(unsynced_pages(0, 0), 0u,
		     "%s: WRITE ZEROES completed without a flush",
		     path_names[*p]);

	/* SYNCHRONIZE CACHE still works (and has nothing left to do) */
	cr_assert_eq(store_io(&l, bs, BS_FLUSH, NULL, 0, 0, 0), 0);
	bs_close(bs);
	loop_stop(&l);
}

/* The same from the SCSI layer: MODE SENSE says WCE=0, a WRITE(10)
 * without FUA is durable at GOOD, SYNCHRONIZE CACHE is still GOOD. */
ParameterizedTestParameters(flush, scsi_write_through)
{
	static enum path paths[] = { PATH_SYNC, PATH_URING, PATH_EPOLL };

	return cr_make_param_array(enum path, paths, ARRAY_SIZE(paths));
}

ParameterizedTest(enum path *p, flush, scsi_write_through, .init = tmp_setup,
		  .fini = tmp_teardown, .timeout = 60)
{
	uint8_t cdb[16], ms[6] = { 0x1a, 0x08, 0x08, 0, 0xff, 0 };
	uint8_t sc[10] = { 0x35 }, m[255], *b = pattern(64 * KIB, 5);
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 1, .block_size = 512,
		.target_name = TGT_NAME,
	};
	struct scsi_lu *lu;
	struct loop l;

	loop_start(&l, *p);
	cfg.bs = store_open_through();
	lu = scsi_lu_new(&cfg);
	cr_assert_not_null(lu);

	cr_assert_eq(scsi_run(&l, lu, ms, 6, m, 255), SAM_STAT_GOOD);
	/* DBD: header, then the Caching page; byte 2 bit 2 is WCE */
	cr_assert_eq(m[4] & 0x3f, 0x08);
	cr_assert_eq(m[4 + 2] & 0x04, 0, "WCE=0 without a write cache");

	for (int i = 0; i < 3; i++) {
		cdb_write(cdb, 0x2a, 2048 + 128 * (uint64_t)i, 128, false);
		cr_assert_eq(scsi_run(&l, lu, cdb, 10, b, 64 * KIB),
			     SAM_STAT_GOOD);
		cr_assert_eq(unsynced_pages((2048 + 128 * (uint64_t)i) * 512,
					    64 * KIB), 0u,
			     "%s: WRITE(10) GOOD with dirty pages, WCE=0",
			     path_names[*p]);
	}
	cr_assert_eq(scsi_run(&l, lu, sc, 10, NULL, 0), SAM_STAT_GOOD);
	cr_assert_eq(flushes, 1);

	scsi_lu_put(lu);
	free(b);
	loop_stop(&l);
}
