/*
 * test_bs.c - backing stores: the RAM store (synchronous, hold/release),
 * the file store on the synchronous path (io->r == NULL), and both
 * through real reactors of each kind, where completions must arrive on
 * the reactor's own thread.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
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
#include "reactor/reactor.h"

#define MIB (1u << 20)

static char tmpdir[64];
static char path[128];

static void tmp_setup(void)
{
	strcpy(tmpdir, "/var/tmp/ringtgt-bs-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/lun.img", tmpdir);
}

static void tmp_teardown(void)
{
	unlink(path);
	rmdir(tmpdir);
}

/* Runs @io synchronously (io->r == NULL); returns io->result. */
static int sync_io(struct bs *bs, enum bs_opcode op, void *buf, uint64_t off,
		   uint64_t len, unsigned flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct bs_io io = {
		.op = op, .flags = flags, .offset = off, .len = len,
		.iov = buf ? &iov : NULL, .iovcnt = buf ? 1 : 0,
	};

	cr_assert_eq(bs_submit(bs, &io), BS_DONE);
	return io.result;
}

Test(bs, type_find)
{
	cr_assert_eq(bs_type_find("file"), &bs_file_ops);
	cr_assert_eq(bs_type_find("ram"), &bs_ram_ops);
	cr_assert_null(bs_type_find("rbd"));
	cr_assert_null(bs_type_find(NULL));
}

/* --- RAM ------------------------------------------------------------------ */

Test(bs_ram, open_and_rw)
{
	struct bs_open_args a = { .size = MIB };
	struct bs *bs = bs_open(&bs_ram_ops, NULL, &a);
	uint8_t w[4096], r[4096];

	cr_assert_not_null(bs);
	cr_assert_eq(bs->size, MIB);
	cr_assert(bs->can_unmap);
	cr_assert_not(bs->write_cache);
	memset(w, 0xab, sizeof(w));
	cr_assert_eq(sync_io(bs, BS_WRITE, w, 8192, 4096, 0), 4096);
	cr_assert_eq(sync_io(bs, BS_READ, r, 8192, 4096, 0), 4096);
	cr_assert_arr_eq(r, w, 4096);
	cr_assert_eq(sync_io(bs, BS_FLUSH, NULL, 0, 0, 0), 0);
	cr_assert_eq(sync_io(bs, BS_WRITE_ZEROES, NULL, 8192, 1024, 0), 0);
	cr_assert_eq(sync_io(bs, BS_UNMAP, NULL, 8192 + 3072, 1024, 0), 0);
	cr_assert_eq(sync_io(bs, BS_READ, r, 8192, 4096, 0), 4096);
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(r[i], (i >= 1024 && i < 3072) ? 0xab : 0);
	/* past the end */
	cr_assert_eq(sync_io(bs, BS_READ, r, MIB - 512, 1024, 0), -EINVAL);
	bs_close(bs);

	a.size = 0;
	cr_assert_null(bs_open(&bs_ram_ops, NULL, &a));
	cr_assert_eq(errno, EINVAL);
}

Test(bs_ram, readonly)
{
	struct bs_open_args a = { .size = MIB, .readonly = true };
	struct bs *bs = bs_open(&bs_ram_ops, NULL, &a);
	uint8_t b[512] = { 0 };

	cr_assert(bs->readonly);
	cr_assert_eq(sync_io(bs, BS_WRITE, b, 0, 512, 0), -EROFS);
	cr_assert_eq(sync_io(bs, BS_READ, b, 0, 512, 0), 512);
	bs_close(bs);
}

static int direct_done;

static void count_done(struct bs_io *io)
{
	direct_done++;
}

Test(bs_ram, hold_release_without_reactor)
{
	struct bs_open_args a = { .size = MIB };
	struct bs *bs = bs_open(&bs_ram_ops, NULL, &a);
	uint8_t w[512], r[512] = { 0 };
	struct iovec wi = { w, 512 }, ri = { r, 512 };
	struct bs_io wio = { .op = BS_WRITE, .iov = &wi, .iovcnt = 1,
			     .offset = 512, .len = 512, .done = count_done };
	struct bs_io rio = { .op = BS_READ, .iov = &ri, .iovcnt = 1,
			     .offset = 512, .len = 512, .done = count_done };

	memset(w, 0x3c, sizeof(w));
	direct_done = 0;
	bs_ram_hold(bs, true);
	cr_assert_eq(bs_submit(bs, &wio), BS_QUEUED);
	cr_assert_eq(bs_submit(bs, &rio), BS_QUEUED);
	cr_assert_eq(bs_ram_held(bs), 2);
	cr_assert_eq(direct_done, 0);
	/* held I/O has not happened yet */
	uint8_t peek[512];
	bs_ram_hold(bs, false);
	cr_assert_eq(sync_io(bs, BS_READ, peek, 512, 512, 0), 512);
	cr_assert_eq(peek[0], 0);
	/* released in submission order */
	cr_assert_eq(bs_ram_release(bs), 2);
	cr_assert_eq(direct_done, 2);
	cr_assert_eq(wio.result, 512);
	cr_assert_eq(rio.result, 512);
	cr_assert_arr_eq(r, w, 512);
	cr_assert_eq(bs_ram_held(bs), 0);
	cr_assert_eq(bs_ram_release(bs), 0);
	bs_close(bs);
}

/* --- file, synchronous path ----------------------------------------------- */

TestSuite(bs_file, .init = tmp_setup, .fini = tmp_teardown);

Test(bs_file, missing_without_create)
{
	struct bs_open_args a = { .size = MIB };

	cr_assert_null(bs_open(&bs_file_ops, path, &a));
	cr_assert_eq(errno, ENOENT);
}

Test(bs_file, create_sparse_and_rw)
{
	struct bs_open_args a = { .size = 64 * MIB, .create = true };
	struct bs *bs = bs_open(&bs_file_ops, path, &a);
	struct stat st;
	uint8_t w[8192], r[8192];

	cr_assert_not_null(bs, "open: %s", strerror(errno));
	cr_assert_str_eq(bs->path, path);
	cr_assert_eq(bs->size, 64 * MIB);
	cr_assert(bs->write_cache);
	cr_assert(bs->can_unmap);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 64 * MIB);
	cr_assert_lt(st.st_blocks * 512, MIB, "sparse");

	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i ^ (i >> 8));
	cr_assert_eq(sync_io(bs, BS_WRITE, w, MIB, 8192, BS_IO_FUA), 8192);
	cr_assert_eq(sync_io(bs, BS_FLUSH, NULL, 0, 0, 0), 0);
	cr_assert_eq(sync_io(bs, BS_READ, r, MIB, 8192, 0), 8192);
	cr_assert_arr_eq(r, w, 8192);

	/* punch the first 4 KiB, zero the second: both read as zeroes */
	cr_assert_eq(sync_io(bs, BS_UNMAP, NULL, MIB, 4096, 0), 0);
	cr_assert_eq(sync_io(bs, BS_WRITE_ZEROES, NULL, MIB + 4096, 2048, 0), 0);
	cr_assert_eq(sync_io(bs, BS_READ, r, MIB, 8192, 0), 8192);
	for (int i = 0; i < 8192; i++)
		cr_assert_eq(r[i], i < 6144 ? 0 : w[i], "byte %d", i);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 64 * MIB, "KEEP_SIZE");
	bs_close(bs);

	/* reopen: the data is there, size from the file */
	a.size = 0;
	a.create = false;
	bs = bs_open(&bs_file_ops, path, &a);
	cr_assert_not_null(bs);
	cr_assert_eq(bs->size, 64 * MIB);
	cr_assert_eq(sync_io(bs, BS_READ, r, MIB + 6144, 2048, 0), 2048);
	cr_assert_arr_eq(r, w + 6144, 2048);
	bs_close(bs);

	/* a larger size extends it */
	a.size = 128 * MIB;
	bs = bs_open(&bs_file_ops, path, &a);
	cr_assert_eq(bs->size, 128 * MIB);
	bs_close(bs);
}

Test(bs_file, create_makes_parent_dirs)
{
	struct bs_open_args a = { .size = MIB, .create = true };
	char deep[192], d1[160], d2[176];
	struct stat st;
	struct bs *bs;

	snprintf(d1, sizeof(d1), "%s/new", tmpdir);
	snprintf(d2, sizeof(d2), "%s/new/er", tmpdir);
	snprintf(deep, sizeof(deep), "%s/new/er/lun.img", tmpdir);
	/* without create the missing directory is ENOENT, and not made */
	a.create = false;
	cr_assert_null(bs_open(&bs_file_ops, deep, &a));
	cr_assert_eq(errno, ENOENT);
	cr_assert_neq(stat(d1, &st), 0);
	a.create = true;
	bs = bs_open(&bs_file_ops, deep, &a);
	cr_assert_not_null(bs, "open: %s", strerror(errno));
	cr_assert_eq(bs->size, MIB);
	bs_close(bs);
	cr_assert_eq(stat(d2, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	mode_t um = umask(0);

	umask(um);
	cr_assert_eq(st.st_mode & 0777, 0755 & ~um, "mode %o", st.st_mode);
	cr_assert_eq(unlink(deep), 0);
	cr_assert_eq(rmdir(d2), 0);
	cr_assert_eq(rmdir(d1), 0);
}

Test(bs_file, lba_status_holes)
{
	struct bs_open_args a = { .size = 4 * MIB, .create = true };
	struct bs *bs = bs_open(&bs_file_ops, path, &a);
	uint8_t *w = malloc(MIB);
	uint64_t len;
	bool mapped;

	cr_assert_not_null(bs);
	cr_assert_not_null(bs->ops->lba_status);
	/* a new sparse file is one hole */
	cr_assert_eq(bs_lba_status(bs, 0, &len, &mapped), 0);
	cr_assert_not(mapped);
	cr_assert_eq(len, 4 * MIB);
	/* data in the second MiB, a 64 KiB hole punched in its middle */
	memset(w, 0x11, MIB);
	cr_assert_eq(sync_io(bs, BS_WRITE, w, MIB, MIB, 0), (int)MIB);
	cr_assert_eq(sync_io(bs, BS_UNMAP, NULL, MIB + 256 * 1024, 65536, 0),
		     0);
	cr_assert_eq(bs_lba_status(bs, 0, &len, &mapped), 0);
	cr_assert_not(mapped);
	cr_assert_eq(len, MIB);
	cr_assert_eq(bs_lba_status(bs, MIB, &len, &mapped), 0);
	cr_assert(mapped);
	cr_assert_eq(len, 256 * 1024);
	cr_assert_eq(bs_lba_status(bs, MIB + 256 * 1024 + 512, &len, &mapped),
		     0);
	cr_assert_not(mapped);
	cr_assert_eq(len, 65536 - 512);
	cr_assert_eq(bs_lba_status(bs, MIB + 320 * 1024, &len, &mapped), 0);
	cr_assert(mapped);
	cr_assert_eq(len, MIB - 320 * 1024);
	/* the tail up to the end is a hole; past the end is an error */
	cr_assert_eq(bs_lba_status(bs, 3 * MIB, &len, &mapped), 0);
	cr_assert_not(mapped);
	cr_assert_eq(len, MIB);
	cr_assert_eq(bs_lba_status(bs, 4 * MIB, &len, &mapped), -EINVAL);
	bs_close(bs);
	free(w);
}

Test(bs_ram, lba_status_all_mapped)
{
	struct bs_open_args a = { .size = MIB };
	struct bs *bs = bs_open(&bs_ram_ops, NULL, &a);
	uint64_t len;
	bool mapped = false;

	cr_assert_not_null(bs);
	cr_assert_eq(bs_lba_status(bs, 4096, &len, &mapped), 0);
	cr_assert(mapped);
	cr_assert_eq(len, MIB - 4096);
	bs_close(bs);
}

Test(bs_file, readonly)
{
	struct bs_open_args a = { .size = MIB, .create = true };
	struct bs *bs = bs_open(&bs_file_ops, path, &a);
	uint8_t b[512] = { 0 };

	cr_assert_not_null(bs);
	bs_close(bs);
	a.readonly = true;
	a.create = false;
	bs = bs_open(&bs_file_ops, path, &a);
	cr_assert_not_null(bs);
	cr_assert(bs->readonly);
	cr_assert_eq(sync_io(bs, BS_WRITE, b, 0, 512, 0), -EROFS);
	cr_assert_eq(sync_io(bs, BS_UNMAP, NULL, 0, 512, 0), -EROFS);
	cr_assert_eq(sync_io(bs, BS_READ, b, 0, 512, 0), 512);
	bs_close(bs);
}

Test(bs_file, not_a_file)
{
	struct bs_open_args a = { 0 };

	cr_assert_null(bs_open(&bs_file_ops, tmpdir, &a));
	cr_assert_null(bs_open(&bs_file_ops, NULL, &a));
	cr_assert_eq(errno, EINVAL);
}

/* --- through reactors ------------------------------------------------------ */

struct loop {
	enum ev_kind kind;
	struct reactor *r;
	int err;
	bool ready;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int completed;
	bool wrong_thread;
};

/*
 * The reactor is created on the thread that runs it: an io_uring set up
 * with SINGLE_ISSUER belongs to its creating task.
 */
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

static bool loop_start(struct loop *l, enum ev_kind kind)
{
	memset(l, 0, sizeof(*l));
	if (kind == EV_IO_URING && !reactor_uring_available())
		return false;
	l->kind = kind;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	cr_assert_eq(pthread_create(&l->thread, NULL, loop_main, l), 0);
	pthread_mutex_lock(&l->lock);
	while (!l->ready)
		pthread_cond_wait(&l->cond, &l->lock);
	pthread_mutex_unlock(&l->lock);
	cr_assert_not_null(l->r, "reactor_new: %s", strerror(l->err));
	return true;
}

static void loop_stop(struct loop *l)
{
	reactor_stop(l->r);
	pthread_join(l->thread, NULL);
	reactor_free(l->r);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
}

struct req {
	struct bs_io io;
	struct iovec iov;
	struct bs *bs;
	struct loop *l;
	enum bs_status st;
};

static void req_done(struct bs_io *io)
{
	struct req *q = container_of(io, struct req, io);
	struct loop *l = q->l;

	pthread_mutex_lock(&l->lock);
	if (reactor_current() != l->r)
		l->wrong_thread = true;
	l->completed++;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* Runs on the reactor thread, like the SCSI layer does. */
static void req_submit(void *arg)
{
	struct req *q = arg;

	q->io.r = q->l->r;
	q->io.done = req_done;
	q->st = bs_submit(q->bs, &q->io);
	if (q->st == BS_DONE)
		req_done(&q->io);
}

static void wait_completed(struct loop *l, int n)
{
	pthread_mutex_lock(&l->lock);
	while (l->completed < n)
		pthread_cond_wait(&l->cond, &l->lock);
	pthread_mutex_unlock(&l->lock);
}

/* Submits one request on the loop and waits for it; returns result. */
static int loop_io(struct loop *l, struct bs *bs, enum bs_opcode op,
		   void *buf, uint64_t off, uint64_t len, unsigned flags)
{
	struct req q = {
		.io = { .op = op, .flags = flags, .offset = off, .len = len },
		.iov = { buf, len }, .bs = bs, .l = l,
	};
	int before = l->completed;

	if (buf) {
		q.io.iov = &q.iov;
		q.io.iovcnt = 1;
	}
	cr_assert_eq(reactor_post(l->r, req_submit, &q), 0);
	wait_completed(l, before + 1);
	cr_assert_not(l->wrong_thread, "completion on the reactor thread");
	return q.io.result;
}

ParameterizedTestParameters(bs_loop, file)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

static void file_roundtrip(struct loop *l, bool direct)
{
	struct bs_open_args a = { .size = 16 * MIB, .create = true,
				  .direct = direct };
	struct bs *bs = bs_open(&bs_file_ops, path, &a);
	uint8_t *w = NULL, *r = NULL;

	if (!bs && direct && errno == EINVAL) {
		cr_log_warn("O_DIRECT unsupported here; skipped");
		return;
	}
	cr_assert_not_null(bs, "open: %s", strerror(errno));
	cr_assert_eq(posix_memalign((void **)&w, 4096, 65536), 0);
	cr_assert_eq(posix_memalign((void **)&r, 4096, 65536), 0);
	for (int i = 0; i < 65536; i++)
		w[i] = (uint8_t)(i * 13);
	cr_assert_eq(loop_io(l, bs, BS_WRITE, w, 4 * MIB, 65536, 0), 65536);
	cr_assert_eq(loop_io(l, bs, BS_WRITE, w, 8 * MIB, 4096, BS_IO_FUA),
		     4096);
	cr_assert_eq(loop_io(l, bs, BS_FLUSH, NULL, 0, 0, 0), 0);
	memset(r, 0, 65536);
	cr_assert_eq(loop_io(l, bs, BS_READ, r, 4 * MIB, 65536, 0), 65536);
	cr_assert_arr_eq(r, w, 65536);
	cr_assert_eq(loop_io(l, bs, BS_UNMAP, NULL, 4 * MIB, 8192, 0), 0);
	cr_assert_eq(loop_io(l, bs, BS_WRITE_ZEROES, NULL, 4 * MIB + 8192,
			     8192, 0), 0);
	cr_assert_eq(loop_io(l, bs, BS_READ, r, 4 * MIB, 65536, 0), 65536);
	for (int i = 0; i < 65536; i++)
		cr_assert_eq(r[i], i < 16384 ? 0 : w[i], "byte %d", i);
	free(w);
	free(r);
	bs_close(bs);
	unlink(path);
}

ParameterizedTest(enum ev_kind *kind, bs_loop, file, .init = tmp_setup,
		  .fini = tmp_teardown)
{
	struct loop l;

	if (!loop_start(&l, *kind)) {
		cr_log_warn("io_uring unavailable; skipped");
		return;
	}
	file_roundtrip(&l, false);
	file_roundtrip(&l, true);
	loop_stop(&l);
}

ParameterizedTestParameters(bs_loop, ram_release_posts)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, bs_loop, ram_release_posts)
{
	struct bs_open_args a = { .size = MIB };
	struct bs *bs = bs_open(&bs_ram_ops, NULL, &a);
	uint8_t w[512];
	struct req q = {
		.io = { .op = BS_WRITE, .offset = 0, .len = 512 },
		.iov = { w, 512 }, .bs = bs,
	};
	struct loop l;

	if (!loop_start(&l, *kind)) {
		cr_log_warn("io_uring unavailable; skipped");
		bs_close(bs);
		return;
	}
	q.l = &l;
	q.io.iov = &q.iov;
	q.io.iovcnt = 1;
	memset(w, 1, sizeof(w));
	bs_ram_hold(bs, true);
	cr_assert_eq(reactor_post(l.r, req_submit, &q), 0);
	while (bs_ram_held(bs) == 0)
		usleep(1000);
	/* released from this (non-reactor) thread, completed on the loop */
	cr_assert_eq(bs_ram_release(bs), 1);
	wait_completed(&l, 1);
	cr_assert_eq(q.st, BS_QUEUED);	/* set before done could run */
	cr_assert_not(l.wrong_thread);
	cr_assert_eq(q.io.result, 512);
	loop_stop(&l);
	bs_close(bs);
}
