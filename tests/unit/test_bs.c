/*
 * test_bs.c - backing stores: the RAM store (synchronous, hold/release),
 * the file store on the synchronous path (io->r == NULL), and both
 * through real reactors of each kind, where completions must arrive on
 * the reactor's own thread.
 *
 * A test that cannot run its subject here (io_uring cannot be set up,
 * the temp dir does not support O_DIRECT: both found by probing the
 * kernel directly, not through the code under test) is skipped with the
 * reason, and the binary then exits 77 so meson reports SKIP rather
 * than OK (Criterion itself exits 0 and prints nothing about skips).
 * The epoll loop has no such excuse: if it does not start, the test
 * fails. Every wait is bounded by WAIT_SECS.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "backing/bs.h"
#include "backing/bs_internal.h"	/* struct bs_fd: the store's fd */
#include "base/base.h"
#include "reactor/reactor.h"

#define MIB (1u << 20)
#define WAIT_SECS 10	/* bound of every wait for a reactor or a request */

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
	cr_assert_eq(bs_type_find("null"), &bs_null_ops);
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
	/* past the end: -ERANGE, LBA OUT OF RANGE to the SCSI layer (a
	 * request that raced a shrink, see bs.h) */
	cr_assert_eq(sync_io(bs, BS_READ, r, MIB - 512, 1024, 0), -ERANGE);
	bs_close(bs);

	a.size = 0;
	cr_assert_null(bs_open(&bs_ram_ops, NULL, &a));
	cr_assert_eq(errno, EINVAL);
}

/*
 * tgt's null store (usr/bs_null.c): 1 TiB (NULL_BS_DEV_SIZE) unless a
 * size is given, writes discarded with every byte "written", reads
 * zeroes (tgt leaves its buffer as it was), no write cache to flush.
 */
Test(bs_null, keeps_nothing)
{
	struct bs_open_args a = { 0 };
	struct bs *bs = bs_open(&bs_null_ops, "/dev/null", &a);
	uint8_t w[4096], r[4096];

	cr_assert_not_null(bs);
	cr_assert_eq(bs->size, 1ULL << 40);
	cr_assert_not(bs->write_cache);
	cr_assert_not(bs->can_unmap);
	memset(w, 0xab, sizeof(w));
	memset(r, 0xee, sizeof(r));
	cr_assert_eq(sync_io(bs, BS_WRITE, w, 8192, 4096, BS_IO_FUA), 4096);
	cr_assert_eq(sync_io(bs, BS_READ, r, 8192, 4096, 0), 4096);
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(r[i], 0, "byte %d of a read", i);
	cr_assert_eq(sync_io(bs, BS_FLUSH, NULL, 0, 0, 0), 0);
	cr_assert_eq(sync_io(bs, BS_WRITE_ZEROES, NULL, 0, 4096, 0), 0);
	cr_assert_eq(sync_io(bs, BS_READ, r, (1ULL << 40) - 512, 1024, 0),
		     -ERANGE);
	bs_close(bs);

	a.size = MIB;
	a.readonly = true;
	bs = bs_open(&bs_null_ops, NULL, &a);
	cr_assert_not_null(bs);
	cr_assert_eq(bs->size, MIB);
	cr_assert_eq(sync_io(bs, BS_WRITE, w, 0, 512, 0), -EROFS);
	cr_assert_eq(sync_io(bs, BS_READ, r, 0, 512, 0), 512);
	bs_close(bs);
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

/*
 * Why io_uring cannot be used in this process, straight from the kernel
 * (io_uring_queue_init, as reactor_uring_available does without its
 * RINGTGT_NO_IO_URING override), or NULL when it can.
 */
static const char *uring_unusable(char *buf, size_t n)
{
	struct io_uring ring;
	int rc = io_uring_queue_init(4, &ring, 0);

	if (rc < 0) {
		snprintf(buf, n, "io_uring_queue_init: %s (old kernel or "
			 "kernel.io_uring_disabled?)", strerror(-rc));
		return buf;
	}
	io_uring_queue_exit(&ring);
	return NULL;
}

/*
 * Why O_DIRECT does not work in @dir (an aligned write to a new file
 * opened O_DIRECT), or NULL when it does.
 */
static const char *direct_unusable(const char *dir, char *buf, size_t n)
{
	char probe[160];
	struct statfs sfs = { 0 };
	void *b = NULL;
	int fd, err = 0;

	snprintf(probe, sizeof(probe), "%s/odirect-probe", dir);
	cr_assert_eq(posix_memalign(&b, 4096, 4096), 0);
	memset(b, 0, 4096);
	fd = open(probe, O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0600);
	if (fd < 0)
		err = errno;
	else if (pwrite(fd, b, 4096, 0) != 4096)
		err = errno ? errno : EIO;
	if (fd >= 0) {
		close(fd);
		unlink(probe);
	}
	free(b);
	if (!err)
		return NULL;
	statfs(dir, &sfs);
	snprintf(buf, n, "O_DIRECT does not work in %s (filesystem magic "
		 "%#lx): %s", dir, (unsigned long)sfs.f_type, strerror(err));
	return buf;
}

/* Tests skipped in this run; main() turns any into exit status 77. */
static size_t skipped;

ReportHook(POST_TEST)(struct criterion_test_stats *st)
{
	if (st->test_status == CR_STATUS_SKIPPED)
		skipped++;
}

struct loop {
	enum ev_kind kind;
	struct reactor *r;
	int err;
	bool ready;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* on CLOCK_MONOTONIC */
	int completed;
	bool wrong_thread;
};

static struct timespec deadline_in(int secs)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += secs;
	return t;
}

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

/*
 * Starts a reactor of @kind on its own thread. Skips the test when io_uring
 * is wanted and the kernel refuses it; any other failure fails the test.
 */
static void loop_start(struct loop *l, enum ev_kind kind)
{
	const char *kname = kind == EV_IO_URING ? "io_uring" : "epoll";
	struct timespec until = deadline_in(WAIT_SECS);
	pthread_condattr_t ca;
	const char *why;
	char buf[160];
	int rc = 0;

	memset(l, 0, sizeof(*l));
	if (kind == EV_IO_URING && (why = uring_unusable(buf, sizeof(buf))))
		cr_skip_test("io_uring loop not tested: %s", why);
	l->kind = kind;
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	cr_assert_eq(pthread_create(&l->thread, NULL, loop_main, l), 0);
	pthread_mutex_lock(&l->lock);
	while (!l->ready && rc == 0)
		rc = pthread_cond_timedwait(&l->cond, &l->lock, &until);
	pthread_mutex_unlock(&l->lock);
	cr_assert(l->ready, "the %s reactor thread did not report within %d s "
		  "whether reactor_new() succeeded", kname, WAIT_SECS);
	cr_assert_not_null(l->r, "the %s loop did not start: reactor_new: %s",
			   kname, strerror(l->err));
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

/* Waits up to WAIT_SECS for @n completions on @l; fails the test if not. */
static void wait_completed(struct loop *l, int n)
{
	struct timespec until = deadline_in(WAIT_SECS);
	int rc = 0, got;

	pthread_mutex_lock(&l->lock);
	while (l->completed < n && rc == 0)
		rc = pthread_cond_timedwait(&l->cond, &l->lock, &until);
	got = l->completed;
	pthread_mutex_unlock(&l->lock);
	cr_assert_geq(got, n, "%d of %d requests completed within %d s on the "
		      "%s loop", got, n, WAIT_SECS,
		      l->kind == EV_IO_URING ? "io_uring" : "epoll");
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

/*
 * The daemon's automatic epoll fallback asks reactor_uring_available(): it
 * must say yes exactly when the kernel sets up an io_uring and
 * RINGTGT_NO_IO_URING does not say otherwise.
 */
Test(reactor, uring_available_matches_kernel)
{
	const char *off = getenv("RINGTGT_NO_IO_URING");
	bool forced_off = off && *off && strcmp(off, "0") != 0;
	char buf[160];
	const char *why = uring_unusable(buf, sizeof(buf));

	cr_assert_eq(reactor_uring_available(), !why && !forced_off,
		     "reactor_uring_available() = %d; kernel: %s; "
		     "RINGTGT_NO_IO_URING=%s", reactor_uring_available(),
		     why ? why : "io_uring works", off ? off : "(unset)");
}

static void file_roundtrip(struct loop *l, bool direct)
{
	struct bs_open_args a = { .size = 16 * MIB, .create = true,
				  .direct = direct };
	struct bs *bs = bs_open(&bs_file_ops, path, &a);
	uint8_t *w = NULL, *r = NULL;

	cr_assert_not_null(bs, "open%s: %s", direct ? " (O_DIRECT)" : "",
			   strerror(errno));
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

ParameterizedTestParameters(bs_loop, file)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, bs_loop, file, .init = tmp_setup,
		  .fini = tmp_teardown)
{
	struct loop l;

	loop_start(&l, *kind);
	file_roundtrip(&l, false);
	loop_stop(&l);
}

ParameterizedTestParameters(bs_loop, file_direct)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/* O_DIRECT: io_uring, or libaio under epoll (docs/architecture.md). */
ParameterizedTest(enum ev_kind *kind, bs_loop, file_direct,
		  .init = tmp_setup, .fini = tmp_teardown)
{
	struct loop l;
	char buf[256];
	const char *why = direct_unusable(tmpdir, buf, sizeof(buf));

	if (why)
		cr_skip_test("O_DIRECT file store not tested: %s", why);
	loop_start(&l, *kind);
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
	struct bs *bs;
	uint8_t w[512];
	struct req q = {
		.io = { .op = BS_WRITE, .offset = 0, .len = 512 },
		.iov = { w, 512 },
	};
	struct loop l;

	loop_start(&l, *kind);
	bs = bs_open(&bs_ram_ops, NULL, &a);
	cr_assert_not_null(bs);
	q.bs = bs;
	q.l = &l;
	q.io.iov = &q.iov;
	q.io.iovcnt = 1;
	memset(w, 1, sizeof(w));
	bs_ram_hold(bs, true);
	cr_assert_eq(reactor_post(l.r, req_submit, &q), 0);
	for (int ms = 0; bs_ram_held(bs) == 0; ms++) {
		cr_assert_lt(ms, WAIT_SECS * 1000, "the write posted to the "
			     "loop was not held by the RAM store within %d s",
			     WAIT_SECS);
		usleep(1000);
	}
	/* released from this (non-reactor) thread, completed on the loop */
	cr_assert_eq(bs_ram_release(bs), 1);
	wait_completed(&l, 1);
	cr_assert_eq(q.st, BS_QUEUED);	/* set before done could run */
	cr_assert_not(l.wrong_thread);
	cr_assert_eq(q.io.result, 512);
	loop_stop(&l);
	bs_close(bs);
}

/*
 * fdatasync() of this binary (the library's calls bind to it): the real
 * one, counting the calls on the fd under watch by whether they ran on
 * a reactor thread.
 */
static atomic_int sync_watch_fd = -1;
static atomic_int sync_on_reactor, sync_off_reactor;

int fdatasync(int fd)
{
	if (fd >= 0 && fd == atomic_load(&sync_watch_fd))
		atomic_fetch_add(reactor_current() ? &sync_on_reactor
						   : &sync_off_reactor, 1);
	return (int)syscall(SYS_fdatasync, fd);
}

struct close_req {
	struct bs *bs;
	struct loop *l;
};

/* The last reference to an LU dropped on a reactor thread closes it. */
static void close_on_loop(void *arg)
{
	struct close_req *c = arg;
	struct loop *l = c->l;

	bs_close(c->bs);
	pthread_mutex_lock(&l->lock);
	l->completed++;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

ParameterizedTestParameters(bs_loop, close_fdatasync_off_loop)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * A file store closed on a reactor thread still makes what was written
 * durable before its fd goes (fdatasync), but on a worker thread: the
 * reactor serves every other connection and never waits for a disk.
 * bs_close_drain() returns once that is done. A read-only store has
 * nothing to sync; its fd is closed all the same.
 */
ParameterizedTest(enum ev_kind *kind, bs_loop, close_fdatasync_off_loop,
		  .init = tmp_setup, .fini = tmp_teardown)
{
	struct bs_open_args a = { .size = MIB, .create = true };
	struct bs_open_args ro = { .readonly = true };
	uint8_t w[4096];
	struct close_req c;
	struct loop l;
	struct bs *bs;
	int fd;

	loop_start(&l, *kind);
	bs = bs_open(&bs_file_ops, path, &a);
	cr_assert_not_null(bs, "bs_open: %s", strerror(errno));
	memset(w, 0x6b, sizeof(w));
	cr_assert_eq(sync_io(bs, BS_WRITE, w, 0, sizeof(w), 0), 4096);
	fd = ((struct bs_fd *)bs->priv)->fd;
	atomic_store(&sync_watch_fd, fd);
	c = (struct close_req){ bs, &l };
	cr_assert_eq(reactor_post(l.r, close_on_loop, &c), 0);
	wait_completed(&l, 1);
	bs_close_drain();
	cr_assert_eq(atomic_load(&sync_on_reactor), 0,
		     "fdatasync at close ran on the reactor thread");
	cr_assert_eq(atomic_load(&sync_off_reactor), 1,
		     "one fdatasync at close, on a worker, before the drain "
		     "returned");
	errno = 0;
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "the store's fd is closed");
	cr_assert_eq(errno, EBADF);

	bs = bs_open(&bs_file_ops, path, &ro);
	cr_assert_not_null(bs, "bs_open read-only: %s", strerror(errno));
	fd = ((struct bs_fd *)bs->priv)->fd;
	atomic_store(&sync_watch_fd, fd);
	atomic_store(&sync_off_reactor, 0);
	c = (struct close_req){ bs, &l };
	cr_assert_eq(reactor_post(l.r, close_on_loop, &c), 0);
	wait_completed(&l, 2);
	bs_close_drain();
	cr_assert_eq(atomic_load(&sync_on_reactor) +
		     atomic_load(&sync_off_reactor), 0,
		     "no fdatasync for a read-only store");
	errno = 0;
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "the read-only fd is closed");
	cr_assert_eq(errno, EBADF);
	loop_stop(&l);
}

/*
 * Criterion's own main exits 0 when tests were skipped (and does not even
 * count them); this one exits 77, meson's SKIP, so a skip is never an OK.
 */
int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	int ok = 1;

	if (criterion_handle_args(argc, argv, true))
		ok = criterion_run_all_tests(tests);
	criterion_finalize(tests);
	if (!ok)
		return 1;
	return skipped ? 77 : 0;
}
