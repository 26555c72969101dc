/*
 * test_bs_blk.c - the block device store on real block devices: loop
 * devices over a sparse file in /var/tmp, with 512- and 4096-byte
 * sectors, driven on the synchronous path, io_uring and epoll (libaio and
 * the worker pool).
 *
 * What is checked, and how it is observed rather than assumed:
 * - size and block sizes are the device's (BLKGETSIZE64, and the loop's
 *   logical/physical block size as sysfs reports them);
 * - O_DIRECT: the store's fd (found through /proc/self/fd) has O_DIRECT
 *   in F_GETFL, and its I/O leaves no page of the device in the page
 *   cache (cachestat(2) on the device), on both event loops; buffered
 *   is the opposite;
 * - data written reads back, also from buffers O_DIRECT cannot take
 *   (unaligned addresses: the store bounces them) and for a read shorter
 *   than its blocks;
 * - UNMAP deallocates: the loop's backing file loses its blocks (st_blocks
 *   shrinks: the loop driver punches a hole) and the range reads zeroes
 *   (LBPRZ=1); WRITE ZEROES reads zeroes;
 * - O_EXCL: refused (EBUSY) while another fd holds the device exclusively,
 *   and the store's own hold keeps others out; shared opens anyway;
 * - errors: a missing path, a regular file given to the block store; the
 *   core's refusal of a block size below the device's and of a size that
 *   is not the device's, and its pick of the block store for a device;
 * - online resize: a size other than the device's is refused; after the
 *   loop's file grew or shrank and LOOP_SET_CAPACITY (losetup -c), a
 *   resize without a size takes the device's new size (a shrink only
 *   with force), and a nexus gets CAPACITY DATA HAS CHANGED.
 *
 * Needs root and loop devices: without them the binary exits 77 (meson
 * SKIP) saying which is missing. Loop devices are set up with
 * LO_FLAGS_AUTOCLEAR, so the kernel detaches them when the last fd closes
 * even if a test crashes; each test also detaches its own by name.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/loop.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backing/bs.h"
#include "base/base.h"
#include "core/core.h"
#include "reactor/reactor.h"

#ifndef SYS_cachestat
#define SYS_cachestat 451	/* the same number on every architecture */
#endif

#define MIB (1u << 20)
#define DEV_SIZE (16 * MIB)

/* --- loop devices --------------------------------------------------------- */

static char tmpdir[64], backing[128], loopdev[32];
static int loop_fd = -1;	/* keeps the autoclear loop alive */

/* Sets up a loop device over a new sparse file; sector size @sector. */
static void loop_up(unsigned sector)
{
	struct loop_config lc;
	int ctl, bfd, rc = -1;

	strcpy(tmpdir, "/var/tmp/ringtgt-blk-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(backing, sizeof(backing), "%s/disk.img", tmpdir);
	bfd = open(backing, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_geq(bfd, 0);
	cr_assert_eq(ftruncate(bfd, DEV_SIZE), 0);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	cr_assert_geq(ctl, 0, "/dev/loop-control: %s", strerror(errno));
	/* another program may take the free device first: try again */
	for (int i = 0; i < 20 && rc < 0; i++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);

		cr_assert_geq(n, 0, "LOOP_CTL_GET_FREE: %s", strerror(errno));
		snprintf(loopdev, sizeof(loopdev), "/dev/loop%d", n);
		loop_fd = open(loopdev, O_RDWR | O_CLOEXEC);
		if (loop_fd < 0)
			continue;
		memset(&lc, 0, sizeof(lc));
		lc.fd = (unsigned)bfd;
		lc.block_size = sector;
		lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		rc = ioctl(loop_fd, LOOP_CONFIGURE, &lc);
		if (rc < 0) {
			close(loop_fd);
			loop_fd = -1;
		}
	}
	close(ctl);
	close(bfd);
	cr_assert_eq(rc, 0, "LOOP_CONFIGURE: %s", strerror(errno));
}

static void loop_down(void)
{
	if (loop_fd >= 0) {
		ioctl(loop_fd, LOOP_CLR_FD, 0);
		close(loop_fd);
		loop_fd = -1;
	}
	if (backing[0])
		unlink(backing);
	if (tmpdir[0])
		rmdir(tmpdir);
	backing[0] = tmpdir[0] = '\0';
}

static void setup_512(void) { loop_up(512); }
static void setup_4k(void) { loop_up(4096); }

/* A number from the loop device's queue directory in sysfs. */
static unsigned long long sysfs_queue(const char *name)
{
	char p[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/sys/block/%s/queue/%s", loopdev + 5, name);
	f = fopen(p, "re");
	cr_assert_not_null(f, "%s: %s", p, strerror(errno));
	cr_assert_eq(fscanf(f, "%llu", &v), 1);
	fclose(f);
	return v;
}

/* The store's fd: the one of ours, other than loop_fd, open on loopdev. */
static int store_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char p[64], target[64];
		ssize_t n;
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == loop_fd || fd == dirfd(d))
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n = readlink(p, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, loopdev) == 0)
			found = fd;
	}
	closedir(d);
	cr_assert_geq(found, 0, "no fd of the store on %s", loopdev);
	return found;
}

/* Page-cache pages of the device in [off, off+len). */
static uint64_t cached_pages(uint64_t off, uint64_t len)
{
	struct { uint64_t off, len; } r = { off, len };
	struct { uint64_t cache, dirty, wb, ev, rev; } cs;

	memset(&cs, 0, sizeof(cs));
	cr_assert_eq(syscall(SYS_cachestat, loop_fd, &r, &cs, 0), 0,
		     "cachestat: %s", strerror(errno));
	return cs.cache;
}

/* --- event loops (as in test_flush.c) ------------------------------------- */

enum path { PATH_SYNC, PATH_URING, PATH_EPOLL };

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

struct req {
	struct bs_io io;
	struct iovec iov;
	struct bs *bs;
	struct loop *l;
	bool done;
};

static void req_done(struct bs_io *io)
{
	struct req *q = container_of(io, struct req, io);

	pthread_mutex_lock(&q->l->lock);
	q->done = true;
	pthread_cond_broadcast(&q->l->cond);
	pthread_mutex_unlock(&q->l->lock);
}

static void req_submit(void *arg)
{
	struct req *q = arg;

	q->io.r = q->l->r;
	q->io.done = req_done;
	if (bs_submit(q->bs, &q->io) == BS_DONE)
		req_done(&q->io);
}

/* One request on @l's thread (or here); returns io.result. */
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
	if (!l->r)
		req_submit(&q);
	else
		cr_assert_eq(reactor_post(l->r, req_submit, &q), 0);
	pthread_mutex_lock(&l->lock);
	while (!q.done)
		pthread_cond_wait(&l->cond, &l->lock);
	pthread_mutex_unlock(&l->lock);
	return q.io.result;
}

static void fill(uint8_t *b, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* Reads the device through a buffered fd of our own. */
static void dev_read(void *buf, uint64_t off, size_t len)
{
	int fd = open(loopdev, O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	/* what the page cache holds of the device is not what we ask */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	cr_assert_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static struct bs *open_blk(const struct bs_open_args *a)
{
	struct bs *bs = bs_open(&bs_blk_ops, loopdev, a);

	cr_assert_not_null(bs, "open %s: %s", loopdev, strerror(errno));
	return bs;
}

/* --- tests ---------------------------------------------------------------- */

struct geo {
	unsigned sector;
	enum path path;
};

static struct geo geos[] = {
	{ 512, PATH_SYNC }, { 512, PATH_URING }, { 512, PATH_EPOLL },
	{ 4096, PATH_SYNC }, { 4096, PATH_URING }, { 4096, PATH_EPOLL },
};

static void geo_setup(struct geo *g, struct loop *l)
{
	loop_up(g->sector);
	loop_start(l, g->path);
}

/* Size and block sizes are the device's. */
Test(bs_blk, geometry_512, .init = setup_512, .fini = loop_down)
{
	struct bs_open_args a = { 0 };
	struct bs *bs = open_blk(&a);

	cr_assert_eq(bs->size, DEV_SIZE);
	cr_assert_eq(bs->logical_block, 512);
	cr_assert_eq(bs->logical_block, sysfs_queue("logical_block_size"));
	cr_assert_eq(bs->physical_block, sysfs_queue("physical_block_size"));
	cr_assert(bs->write_cache, "O_DIRECT data may sit in the device cache");
	bs_close(bs);
}

Test(bs_blk, geometry_4096, .init = setup_4k, .fini = loop_down)
{
	struct bs_open_args a = { 0 };
	struct bs *bs = open_blk(&a);

	cr_assert_eq(bs->size, DEV_SIZE);
	cr_assert_eq(bs->logical_block, 4096);
	cr_assert_eq(bs->physical_block, sysfs_queue("physical_block_size"));
	cr_assert_geq(bs->physical_block, 4096);
	bs_close(bs);
}

ParameterizedTestParameters(bs_blk, direct)
{
	return cr_make_param_array(struct geo, geos, ARRAY_SIZE(geos));
}

/*
 * O_DIRECT by default, on every path: the flag is on the fd, and reads
 * and writes leave no page of the device cached. With buffered = true
 * the flag is off and the same I/O goes through the page cache (which
 * shows the measurement can see it).
 */
ParameterizedTest(struct geo *g, bs_blk, direct, .fini = loop_down,
		  .timeout = 60)
{
	const uint64_t off = 4 * MIB, len = 256 * 1024;
	struct bs_open_args a = { 0 };
	struct loop l;
	struct bs *bs;
	uint8_t *b;

	geo_setup(g, &l);
	cr_assert_eq(posix_memalign((void **)&b, 4096, len), 0);
	fill(b, len, 1);
	posix_fadvise(loop_fd, 0, 0, POSIX_FADV_DONTNEED);

	bs = open_blk(&a);
	cr_assert(bs->direct);
	cr_assert(fcntl(store_fd(), F_GETFL) & O_DIRECT, "O_DIRECT not set");
	cr_assert_eq(store_io(&l, bs, BS_WRITE, b, off, len, 0), (int)len);
	cr_assert_eq(store_io(&l, bs, BS_READ, b, off, len, 0), (int)len);
	cr_assert_eq(cached_pages(off, len), 0,
		     "O_DIRECT I/O left pages in the page cache");
	bs_close(bs);

	a.buffered = true;
	bs = open_blk(&a);
	cr_assert_not(bs->direct);
	cr_assert_not(fcntl(store_fd(), F_GETFL) & O_DIRECT);
	cr_assert_eq(store_io(&l, bs, BS_WRITE, b, off, len, 0), (int)len);
	cr_assert_eq(store_io(&l, bs, BS_READ, b, off, len, 0), (int)len);
	cr_assert_gt(cached_pages(off, len), 0,
		     "buffered I/O left no page in the page cache");
	bs_close(bs);
	free(b);
	loop_stop(&l);
}

ParameterizedTestParameters(bs_blk, round_trip)
{
	return cr_make_param_array(struct geo, geos, ARRAY_SIZE(geos));
}

/*
 * Writes read back, from aligned buffers, from buffers at an odd address
 * (O_DIRECT would refuse them with EINVAL: the store bounces), and a
 * read shorter than a block; FUA writes and FLUSH succeed.
 */
ParameterizedTest(struct geo *g, bs_blk, round_trip, .fini = loop_down,
		  .timeout = 60)
{
	const uint64_t len = 64 * 1024;
	struct bs_open_args a = { 0 };
	uint8_t *raw = malloc(len + 1), *odd = raw + 1, *check = malloc(len);
	uint8_t *al;
	struct loop l;
	struct bs *bs;

	geo_setup(g, &l);
	cr_assert_eq(posix_memalign((void **)&al, 4096, len), 0);
	bs = open_blk(&a);

	fill(al, len, 3);
	cr_assert_eq(store_io(&l, bs, BS_WRITE, al, 1 * MIB, len, 0), (int)len);
	dev_read(check, 1 * MIB, len);
	cr_assert_arr_eq(check, al, len, "aligned write did not land");

	fill(odd, len, 9);
	cr_assert_eq(store_io(&l, bs, BS_WRITE, odd, 2 * MIB, len, BS_IO_FUA),
		     (int)len, "unaligned FUA write");
	dev_read(check, 2 * MIB, len);
	cr_assert_arr_eq(check, odd, len, "unaligned write did not land");

	memset(odd, 0, len);
	cr_assert_eq(store_io(&l, bs, BS_READ, odd, 1 * MIB, len, 0), (int)len,
		     "unaligned read");
	cr_assert_arr_eq(odd, al, len, "unaligned read got other data");

	/* 100 bytes of a block: the whole block is read, 100 handed on */
	memset(odd, 0xee, 200);
	cr_assert_eq(store_io(&l, bs, BS_READ, odd, 1 * MIB, 100, 0), 100);
	cr_assert_arr_eq(odd, al, 100);
	cr_assert_eq(odd[100], 0xee, "read past the length asked for");

	cr_assert_eq(store_io(&l, bs, BS_FLUSH, NULL, 0, 0, 0), 0);
	bs_close(bs);
	free(al);
	free(raw);
	free(check);
	loop_stop(&l);
}

ParameterizedTestParameters(bs_blk, unmap)
{
	return cr_make_param_array(struct geo, geos, ARRAY_SIZE(geos));
}

/*
 * UNMAP deallocates on the device: the loop passes the punched hole to
 * its backing file, whose allocation shrinks by the range; the range
 * reads zeroes, as LBPRZ=1 promises. WRITE ZEROES reads zeroes too.
 */
ParameterizedTest(struct geo *g, bs_blk, unmap, .fini = loop_down,
		  .timeout = 60)
{
	const uint64_t len = 2 * MIB;
	struct bs_open_args a = { 0 };
	struct loop l;
	struct stat st;
	struct bs *bs;
	blkcnt_t before;
	uint8_t *b;

	geo_setup(g, &l);
	cr_assert_eq(posix_memalign((void **)&b, 4096, len), 0);
	bs = open_blk(&a);
	cr_assert(bs->can_unmap, "a loop device over a file can discard");
	cr_assert(bs->unmap_zeroes, "punch hole reads back zeroes: LBPRZ=1");

	fill(b, len, 5);
	cr_assert_eq(store_io(&l, bs, BS_WRITE, b, 4 * MIB, len, 0), (int)len);
	cr_assert_eq(store_io(&l, bs, BS_WRITE, b, 8 * MIB, len, 0), (int)len);
	cr_assert_eq(store_io(&l, bs, BS_FLUSH, NULL, 0, 0, 0), 0);
	cr_assert_eq(stat(backing, &st), 0);
	before = st.st_blocks;
	cr_assert_geq((uint64_t)before * 512, 2 * len,
		      "the writes allocated the backing file");

	cr_assert_eq(store_io(&l, bs, BS_UNMAP, NULL, 4 * MIB, len, 0), 0);
	cr_assert_eq(stat(backing, &st), 0);
	cr_assert_leq((uint64_t)st.st_blocks * 512,
		      (uint64_t)before * 512 - len,
		      "UNMAP did not deallocate: %lld blocks before, %lld after",
		      (long long)before, (long long)st.st_blocks);
	dev_read(b, 4 * MIB, len);
	cr_assert(all_zero(b, len), "unmapped range does not read zeroes");

	cr_assert_eq(store_io(&l, bs, BS_WRITE_ZEROES, NULL, 8 * MIB, len, 0),
		     0);
	dev_read(b, 8 * MIB, len);
	cr_assert(all_zero(b, len), "zeroed range does not read zeroes");
	memset(b, 0xff, len);
	cr_assert_eq(store_io(&l, bs, BS_READ, b, 8 * MIB, len, 0), (int)len);
	cr_assert(all_zero(b, len), "the store reads back no zeroes");
	bs_close(bs);
	free(b);
	loop_stop(&l);
}

/* Dirty or under-writeback pages of the device in [off, off+len). */
static uint64_t unsynced_pages(uint64_t off, uint64_t len)
{
	struct { uint64_t off, len; } r = { off, len };
	struct { uint64_t cache, dirty, wb, ev, rev; } cs;

	memset(&cs, 0, sizeof(cs));
	cr_assert_eq(syscall(SYS_cachestat, loop_fd, &r, &cs, 0), 0,
		     "cachestat: %s", strerror(errno));
	return cs.dirty + cs.wb;
}

ParameterizedTestParameters(bs_blk, write_through)
{
	return cr_make_param_array(struct geo, geos, ARRAY_SIZE(geos));
}

/*
 * write_cache = off on a block device: WCE=0 and the device opened
 * O_DSYNC, so a plain write (no FUA) is durable at completion. Observed
 * through the page cache with buffered = true: the write leaves no
 * dirty page of the device, and UNMAP / WRITE ZEROES complete only after
 * a flush (pages dirtied through another fd are clean by then). With
 * O_DIRECT the flag is on the fd all the same.
 */
ParameterizedTest(struct geo *g, bs_blk, write_through, .fini = loop_down,
		  .timeout = 60)
{
	const uint64_t len = 256 * 1024;
	struct bs_open_args a = { .write_through = true };
	struct loop l;
	struct bs *bs;
	uint8_t *b;

	geo_setup(g, &l);
	cr_assert_eq(posix_memalign((void **)&b, 4096, len), 0);
	fill(b, len, 7);

	bs = open_blk(&a);
	cr_assert_not(bs->write_cache, "WCE=0");
	cr_assert(fcntl(store_fd(), F_GETFL) & O_DSYNC, "O_DSYNC not set");
	cr_assert_eq(store_io(&l, bs, BS_WRITE, b, 4 * MIB, len, 0), (int)len);
	bs_close(bs);

	a.buffered = true;
	bs = open_blk(&a);
	cr_assert(fcntl(store_fd(), F_GETFL) & O_DSYNC, "O_DSYNC not set");
	for (int i = 0; i < 3; i++) {
		b[0]++;
		cr_assert_eq(store_io(&l, bs, BS_WRITE, b, (4 + i) * MIB, len,
				      0), (int)len);
		cr_assert_eq(unsynced_pages((4 + i) * MIB, len), 0,
			     "a write completed with dirty pages, no write "
			     "cache");
	}
	for (int op = 0; op < 2; op++) {
		uint64_t dirty = 0;

		for (int i = 0; i < 3 && !dirty; i++) {
			b[0]++;
			cr_assert_eq(pwrite(loop_fd, b, len, 12 * MIB),
				     (ssize_t)len);
			dirty = unsynced_pages(12 * MIB, len);
		}
		cr_assert_gt(dirty, 0, "a plain pwrite left no dirty page");
		cr_assert_eq(store_io(&l, bs, op ? BS_WRITE_ZEROES : BS_UNMAP,
				      NULL, 8 * MIB, len, 0), 0);
		cr_assert_eq(unsynced_pages(0, DEV_SIZE), 0,
			     "%s completed without a flush",
			     op ? "WRITE ZEROES" : "UNMAP");
	}
	bs_close(bs);

	/* the default: no O_DSYNC, WCE=1 */
	a.write_through = false;
	bs = open_blk(&a);
	cr_assert(bs->write_cache);
	cr_assert_not(fcntl(store_fd(), F_GETFL) & O_DSYNC);
	bs_close(bs);
	free(b);
	loop_stop(&l);
}

/* O_EXCL: nobody else may hold the device, and while the store holds
 * it nobody else gets it exclusively; shared = true opens anyway. */
Test(bs_blk, exclusive, .init = setup_512, .fini = loop_down)
{
	struct bs_open_args a = { 0 };
	int other = open(loopdev, O_RDWR | O_EXCL | O_CLOEXEC);
	struct bs *bs;

	cr_assert_geq(other, 0, "%s", strerror(errno));
	errno = 0;
	cr_assert_null(bs_open(&bs_blk_ops, loopdev, &a));
	cr_assert_eq(errno, EBUSY, "%s", strerror(errno));
	cr_assert(strstr(bs_open_strerror(&bs_blk_ops, EBUSY), "in use"));
	a.shared = true;
	bs = open_blk(&a);
	bs_close(bs);
	close(other);

	a.shared = false;
	bs = open_blk(&a);
	other = open(loopdev, O_RDWR | O_EXCL | O_CLOEXEC);
	cr_assert_lt(other, 0, "the store does not hold the device exclusively");
	cr_assert_eq(errno, EBUSY);
	bs_close(bs);
}

/* What is not a block device is refused with the cause. */
Test(bs_blk, errors)
{
	char dir[] = "/var/tmp/ringtgt-blk-XXXXXX", file[64], missing[64];
	struct bs_open_args a = { 0 };
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/f.img", dir);
	snprintf(missing, sizeof(missing), "%s/none", dir);
	fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, MIB), 0);
	close(fd);

	errno = 0;
	cr_assert_null(bs_open(&bs_blk_ops, missing, &a));
	cr_assert_eq(errno, ENOENT);
	cr_assert_str_eq(bs_open_strerror(&bs_blk_ops, ENOENT), "no such device");
	errno = 0;
	cr_assert_null(bs_open(&bs_blk_ops, file, &a));
	cr_assert_eq(errno, ENOTBLK);
	cr_assert_str_eq(bs_open_strerror(&bs_blk_ops, ENOTBLK),
			 "not a block device");
	/* the file store stays for files; a missing path is not a device */
	cr_assert_eq(bs_type_pick("file", file), &bs_file_ops);
	cr_assert_eq(bs_type_pick(NULL, missing), &bs_file_ops);
	cr_assert_eq(bs_type_pick("ram", NULL), &bs_ram_ops);
	/* under /dev/, missing is a missing device: nothing is created */
	cr_assert_eq(bs_type_pick("file", "/dev/ringtgt-no-such-vg/lv"),
		     &bs_blk_ops);
	cr_assert_eq(bs_type_pick(NULL, "/dev/null"), &bs_blk_ops);
	/* files in /dev/shm may be created */
	cr_assert_eq(bs_type_pick(NULL, "/dev/shm/ringtgt-no-such.img"),
		     &bs_file_ops);
	unlink(file);
	rmdir(dir);
}

/* --- through the core: what a config LUN, --export and ringtgtadm get ---- */

#define IQN "iqn.2026-11.org.ringtgt:blk"

static void core_setup_4k(void)
{
	struct core_err err;

	loop_up(4096);
	core_init();
	cr_assert_eq(core_target_add(IQN, 0, NULL, &err), 0, "%s", err.msg);
}

static void core_teardown(void)
{
	core_shutdown();
	loop_down();
}

/* The registry's JSON of the target, as `ringtgtadm target show` gets it. */
static char *targets_json(void)
{
	struct json_object *targets = core_targets_json();
	char *s;

	cr_assert_not_null(targets);
	s = strdup(json_object_to_json_string(targets));
	json_object_put(targets);
	return s;
}

/* A block device path gets the block store; the LU block size is the
 * device's logical block size unless the config sets a larger one. */
Test(bs_blk, core_picks_block_store, .init = core_setup_4k,
     .fini = core_teardown)
{
	struct core_lun_spec spec = { .type = SCSI_LU_DISK, .path = loopdev };
	struct core_err err = { "" };
	char *js;

	cr_assert_eq(bs_type_pick("file", loopdev), &bs_blk_ops);
	cr_assert_eq(bs_type_pick(NULL, loopdev), &bs_blk_ops);

	cr_assert_eq(core_lun_add(IQN, 1, &spec, &err), 0, "%s", err.msg);
	js = targets_json();
	cr_assert(strstr(js, "\"backing\": \"blk\""), "%s", js);
	cr_assert(strstr(js, "\"block_size\": 4096"), "%s", js);
	free(js);
}

/* Item 5: one clear sentence naming the device and the cause. */
Test(bs_blk, core_refusals, .init = core_setup_4k, .fini = core_teardown)
{
	struct core_lun_spec spec = { .type = SCSI_LU_DISK, .path = loopdev,
				      .block_size = 512 };
	struct core_err err = { "" };
	int other;

	cr_assert_eq(core_lun_add(IQN, 1, &spec, &err), -EINVAL);
	cr_assert(strstr(err.msg, "block size 512 is smaller than the logical block size 4096"),
		  "%s", err.msg);
	cr_assert(strstr(err.msg, loopdev), "%s", err.msg);

	spec.block_size = 0;
	spec.size = DEV_SIZE / 2;
	cr_assert_eq(core_lun_add(IQN, 1, &spec, &err), -EINVAL);
	cr_assert(strstr(err.msg, "not the configured size"), "%s", err.msg);

	spec.size = 0;
	spec.direct = spec.buffered = true;
	cr_assert_eq(core_lun_add(IQN, 1, &spec, &err), -EINVAL);
	cr_assert(strstr(err.msg, "direct and buffered"), "%s", err.msg);

	spec.direct = false;
	other = open(loopdev, O_RDWR | O_EXCL | O_CLOEXEC);
	cr_assert_geq(other, 0);
	cr_assert_eq(core_lun_add(IQN, 1, &spec, &err), -EBUSY);
	cr_assert(strstr(err.msg, loopdev) && strstr(err.msg, "in use"),
		  "%s", err.msg);
	spec.shared = true;
	cr_assert_eq(core_lun_add(IQN, 1, &spec, &err), 0, "%s", err.msg);
	close(other);

	spec.path = "/dev/ringtgt-no-such-vg/lv";
	cr_assert_eq(core_lun_add(IQN, 2, &spec, &err), -ENOENT);
	cr_assert(strstr(err.msg, "cannot open /dev/ringtgt-no-such-vg/lv: no such device"),
		  "%s", err.msg);
	spec.path = "/dev/null";
	cr_assert_eq(core_lun_add(IQN, 2, &spec, &err), -ENOTBLK);
	cr_assert(strstr(err.msg, "/dev/null: not a block device"), "%s", err.msg);
}

static void task_done(struct scsi_task *t)
{
	(void)t;
}

/* TEST UNIT READY on LUN 1 from @n: 0 (GOOD) or the ASC/ASCQ */
static unsigned tur(struct scsi_nexus *n)
{
	struct scsi_task t;

	memset(&t, 0, sizeof(t));
	t.nexus = n;
	t.lun = 1;
	t.lu = scsi_target_get_lu(n->target, 1);
	t.done = task_done;
	scsi_task_prepare(&t);
	scsi_task_exec(&t);
	scsi_lu_put(t.lu);
	if (t.status == SAM_STAT_GOOD)
		return 0;
	cr_assert_eq(t.status, SAM_STAT_CHECK_CONDITION);
	return (unsigned)t.sense[12] << 8 | t.sense[13];
}

/* The loop's file becomes @size bytes and the device follows
 * (losetup -c: LOOP_SET_CAPACITY). */
static void loop_file_resize(uint64_t size)
{
	cr_assert_eq(truncate(backing, (off_t)size), 0, "%s", strerror(errno));
	cr_assert_eq(ioctl(loop_fd, LOOP_SET_CAPACITY, 0), 0,
		     "LOOP_SET_CAPACITY: %s", strerror(errno));
}

Test(bs_blk, core_resize, .init = core_setup_4k, .fini = core_teardown)
{
	struct core_lun_spec spec = { .type = SCSI_LU_DISK, .path = loopdev };
	struct core_err err = { "" };
	struct tgt_target *t = core_target_find(IQN);
	struct scsi_nexus n;
	struct scsi_lu *lu;
	uint64_t old = 0, now = 0;

	cr_assert_not_null(t);
	memset(&n, 0, sizeof(n));
	strcpy(n.initiator_port, "iqn.1994-05.com.redhat:x,i,0x1");
	n.rel_port_id = 1;
	n.target = core_target_scsi(t);
	core_target_put(t);
	cr_assert_eq(core_lun_add(IQN, 1, &spec, &err), 0, "%s", err.msg);
	cr_assert_eq(tur(&n), 0);
	lu = scsi_target_get_lu(n.target, 1);

	/* we never resize a device: a size other than its own is refused */
	cr_assert_eq(core_lun_resize(IQN, 1, 2 * DEV_SIZE, false, &old, &now,
				     &err), -EINVAL);
	cr_assert(strstr(err.msg, "holds 16777216 bytes, not 33554432") &&
		  strstr(err.msg, "losetup -c") && strstr(err.msg, loopdev),
		  "%s", err.msg);
	cr_assert_eq(scsi_lu_capacity(lu), DEV_SIZE);
	cr_assert_eq(tur(&n), 0, "a refusal raises no unit attention");

	loop_file_resize(2 * DEV_SIZE);
	cr_assert_eq(core_lun_resize(IQN, 1, 0, false, &old, &now, &err), 0,
		     "%s", err.msg);
	cr_assert_eq(old, DEV_SIZE);
	cr_assert_eq(now, 2 * DEV_SIZE);
	cr_assert_eq(scsi_lu_capacity(lu), 2 * DEV_SIZE);
	cr_assert_eq(tur(&n), 0x2a09, "CAPACITY DATA HAS CHANGED");
	cr_assert_eq(tur(&n), 0, "once");
	/* the device's own size given explicitly is fine too */
	cr_assert_eq(core_lun_resize(IQN, 1, 2 * DEV_SIZE, false, &old, &now,
				     &err), 0, "%s", err.msg);

	loop_file_resize(DEV_SIZE / 2);
	cr_assert_eq(core_lun_resize(IQN, 1, 0, false, &old, &now, &err),
		     -EPERM);
	cr_assert(strstr(err.msg, "cuts off the last 25165824 bytes"), "%s",
		  err.msg);
	cr_assert_eq(core_lun_resize(IQN, 1, 0, true, &old, &now, &err), 0,
		     "%s", err.msg);
	cr_assert_eq(scsi_lu_capacity(lu), DEV_SIZE / 2);
	cr_assert_eq(tur(&n), 0x2a09);
	scsi_lu_put(lu);
}

/* --- skip without root or loop devices ------------------------------------ */

int main(int argc, char *argv[])
{
	struct criterion_test_set *tests;
	int rc = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: loop devices need root\n");
		return 77;
	}
	if (access("/dev/loop-control", F_OK) != 0) {
		fprintf(stderr, "SKIP: no /dev/loop-control (no loop device support)\n");
		return 77;
	}
	tests = criterion_initialize();
	if (criterion_handle_args(argc, argv, true))
		rc = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return rc;
}
