/*
 * bs_file.c - file backing store: a regular file (block devices have
 * their own store, bs_blk.c, which bs_type_pick() chooses for them).
 *
 * Opened O_RDWR|O_CLOEXEC (O_RDONLY for read-only LUs, O_DIRECT on
 * request, O_DSYNC without a write cache). A missing regular file is
 * created sparse with ftruncate when args->create is set (no block is
 * written or allocated), with any missing parent directories (mode
 * 0755), like a config file's create = true. The physical block reported
 * is the file system's block size (statfs f_bsize): the unit in which it
 * allocates and punches holes. All I/O goes through the submitting reactor
 * (reactor_file_rw / _fsync / _fallocate); with io->r == NULL (tools,
 * unit tests) requests run synchronously on the caller's thread.
 *
 * Mapping:
 *   BS_READ/BS_WRITE  positional readv/writev; BS_IO_FUA -> EV_RW_DSYNC
 *   BS_FLUSH          fdatasync semantics
 *   BS_UNMAP          fallocate(PUNCH_HOLE|KEEP_SIZE)
 *   BS_WRITE_ZEROES   fallocate(ZERO_RANGE|KEEP_SIZE), falling back to a
 *                     punched hole (which also reads back as zeroes)
 *   lba_status        lseek(SEEK_DATA / SEEK_HOLE)
 *   probe_size        fstat
 *   resize            ftruncate (a grown file is sparse)
 *
 * Without a write cache (args->write_through): the fd is O_DSYNC, so every
 * write on every path (io_uring, libaio, the worker pool, pwrite here)
 * is durable when it completes, as with RWF_DSYNC; fallocate is not
 * covered by O_DSYNC on every file system (ext4 ignores it), so UNMAP and
 * WRITE ZEROES are followed by an fdatasync before they complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backing/bs.h"
#include "base/base.h"
#include "base/log.h"

#define PUNCH_MODE (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
#define ZERO_MODE (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)

struct file_store {
	int fd;
	bool direct;
	bool memory;	/* tmpfs/ramfs: I/O is a memory copy, done inline */
	bool write_through;	/* O_DSYNC; fallocate followed by fdatasync */
};

/* The largest file system block reported as the physical block. */
#define FS_BLOCK_MAX 65536u

/* mkdir -p of @path's directory (mode 0755); 0 or -errno. */
static int make_parent_dirs(const char *path)
{
	char *dir = strdup(path), *slash;
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1; *p && !rc; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			if (mkdir(dir, 0755) < 0 && errno != EEXIST)
				rc = -errno;
			*p = '/';
		}
		if (!rc && mkdir(dir, 0755) < 0 && errno != EEXIST)
			rc = -errno;
	}
	free(dir);
	return rc;
}

static int file_open(struct bs *bs, const char *path,
		     const struct bs_open_args *args)
{
	struct file_store *f;
	struct stat st;
	int flags = O_CLOEXEC | (args->readonly ? O_RDONLY : O_RDWR);
	int fd, rc;

	if (!path || !*path)
		return -EINVAL;
	if (args->direct)
		flags |= O_DIRECT;
	if (args->write_through && !args->readonly)
		flags |= O_DSYNC;

	fd = open(path, flags);
	if (fd < 0 && errno == ENOENT && args->create && !args->readonly) {
		if (args->size == 0)
			return -EINVAL;	/* nothing to create */
		rc = make_parent_dirs(path);
		if (rc < 0)
			return rc;
		fd = open(path, flags | O_CREAT | O_EXCL, 0600);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto err_close;
	}

	f = calloc(1, sizeof(*f));
	if (!f) {
		rc = -ENOMEM;
		goto err_close;
	}
	f->fd = fd;
	f->direct = args->direct;
	f->write_through = args->write_through && !args->readonly;

	if (S_ISREG(st.st_mode)) {
		struct statfs sfs;

		/*
		 * tmpfs cannot do non-blocking reads, so io_uring would hand
		 * every request to a worker thread: a wakeup and a context
		 * switch per I/O for what is only a memory copy. Such files
		 * are read and written inline on the reactor instead (they
		 * have no disk to wait for).
		 */
		if (fstatfs(fd, &sfs) < 0) {
			rc = -errno;
			goto err_free;
		}
		if (!args->direct &&
		    (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC))
			f->memory = true;
		/*
		 * The file system allocates (and punches holes) in blocks of
		 * f_bsize: a write of less is a read-modify-write of its
		 * pages, an unmap of less leaves it allocated. SBC-4 §5.16.2
		 * LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT reports it;
		 * beyond FS_BLOCK_MAX (NFS reports its transfer size here)
		 * it is no block size and none is reported.
		 */
		if (sfs.f_bsize >= 512 && sfs.f_bsize <= FS_BLOCK_MAX &&
		    !(sfs.f_bsize & (sfs.f_bsize - 1)))
			bs->physical_block = (uint32_t)sfs.f_bsize;
		bs->size = (uint64_t)st.st_size;
		if (args->size > bs->size && !args->readonly) {
			/* Sparse extension; no blocks are allocated. */
			if (ftruncate(fd, (off_t)args->size) < 0) {
				rc = -errno;
				goto err_free;
			}
			bs->size = args->size;
		}
		bs->can_unmap = true;	/* verified on first use */
	} else {
		rc = -EINVAL;
		goto err_free;
	}

	bs->readonly = args->readonly;
	bs->direct = args->direct;
	/*
	 * Without O_DSYNC a completed write may sit in the page cache
	 * (buffered) or the device cache (O_DIRECT): WCE=1 is the truth, and
	 * SYNCHRONIZE CACHE / FUA do real work. With it every write is
	 * durable at completion: WCE=0 (SBC-4 §6.5.5, Caching mode page).
	 */
	bs->write_cache = !args->write_through;
	bs->priv = f;
	return 0;

err_free:
	free(f);
err_close:
	close(fd);
	return rc;
}

static void file_close(struct bs *bs)
{
	struct file_store *f = bs->priv;

	/* The epoll backend caches per fd number whether it is O_DIRECT. */
	reactor_file_forget(f->fd);
	/* what the initiators wrote is on stable storage before we go */
	if (!bs->readonly && fdatasync(f->fd) < 0)
		log_warn("%s: fdatasync at close: %s", bs->path ? bs->path : "?",
			 strerror(errno));
	close(f->fd);
	free(f);
	bs->priv = NULL;
}

/* --- synchronous path (no reactor) ----------------------------------- */

static int file_rw_sync(struct file_store *f, struct bs_io *io)
{
	bool write = io->op == BS_WRITE;
	uint64_t off = io->offset, left = io->len;

	for (int i = 0; i < io->iovcnt && left; i++) {
		uint8_t *p = io->iov[i].iov_base;
		size_t n = MIN((uint64_t)io->iov[i].iov_len, left);

		while (n) {
			ssize_t r = write ? pwrite(f->fd, p, n, (off_t)off)
					  : pread(f->fd, p, n, (off_t)off);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			if (r == 0)	/* past EOF: the file shrank under us */
				return (int)(io->len - left);
			p += r;
			off += (uint64_t)r;
			n -= (size_t)r;
			left -= (uint64_t)r;
		}
	}
	if (left)
		return (int)(io->len - left);	/* iovecs shorter than len */
	if (write && (io->flags & BS_IO_FUA) &&
	    fdatasync(f->fd) < 0)
		return -errno;
	return (int)io->len;
}

/* fallocate(@mode), made durable when there is no write cache. */
static int file_fallocate_sync(struct file_store *f, int mode,
			       const struct bs_io *io)
{
	if (fallocate(f->fd, mode, (off_t)io->offset, (off_t)io->len) < 0)
		return -errno;
	if (f->write_through && fdatasync(f->fd) < 0)
		return -errno;
	return 0;
}

static int file_exec_sync(struct file_store *f, struct bs_io *io)
{
	int rc;

	switch (io->op) {
	case BS_READ:
	case BS_WRITE:
		return file_rw_sync(f, io);
	case BS_FLUSH:
		return fdatasync(f->fd) < 0 ? -errno : 0;
	case BS_UNMAP:
		return file_fallocate_sync(f, PUNCH_MODE, io);
	case BS_WRITE_ZEROES:
		rc = file_fallocate_sync(f, ZERO_MODE, io);
		if (rc != -EOPNOTSUPP)
			return rc;
		return file_fallocate_sync(f, PUNCH_MODE, io);
	}
	return -EOPNOTSUPP;
}

/* --- reactor path ---------------------------------------------------- */

static void file_done(struct ev_op *op, int res)
{
	struct bs_io *io = container_of(op, struct bs_io, ev);

	io->result = res;
	io->done(io);
}

/*
 * A fallocate finished: without a write cache, the change reaches stable
 * storage before the request completes (O_DSYNC does not cover
 * fallocate everywhere).
 */
static void file_alloc_done(struct ev_op *op, int res)
{
	struct bs_io *io = container_of(op, struct bs_io, ev);
	struct file_store *f = io->bs->priv;

	if (res == 0 && f->write_through) {
		io->ev.done = file_done;
		res = reactor_file_fsync(io->r, f->fd, &io->ev);
		if (res == 0)
			return;
	}
	io->result = res;
	io->done(io);
}

static void file_zero_done(struct ev_op *op, int res)
{
	struct bs_io *io = container_of(op, struct bs_io, ev);
	struct file_store *f = io->bs->priv;
	int rc;

	if (res != -EOPNOTSUPP) {
		file_alloc_done(op, res);
		return;
	}
	/* No ZERO_RANGE here (some file systems, some devices): punch. */
	io->ev.done = file_alloc_done;
	rc = reactor_file_fallocate(io->r, f->fd, PUNCH_MODE, io->offset,
				    io->len, &io->ev);
	if (rc == 0)
		return;
	io->result = rc;
	io->done(io);
}

static enum bs_status file_submit(struct bs *bs, struct bs_io *io)
{
	struct file_store *f = bs->priv;
	int rc;

	if ((io->op == BS_WRITE || io->op == BS_UNMAP ||
	     io->op == BS_WRITE_ZEROES) && bs->readonly) {
		io->result = -EROFS;
		return BS_DONE;
	}
	if (!io->r || (f->memory && io->op != BS_WRITE_ZEROES &&
			io->op != BS_UNMAP)) {
		io->result = file_exec_sync(f, io);
		return BS_DONE;
	}
	io->ev.done = file_done;
	switch (io->op) {
	case BS_READ:
	case BS_WRITE:
		rc = reactor_file_rw(io->r, f->fd, io->op == BS_WRITE, io->iov,
				     io->iovcnt, io->offset,
				     (io->flags & BS_IO_FUA) ? EV_RW_DSYNC : 0,
				     &io->ev);
		break;
	case BS_FLUSH:
		rc = reactor_file_fsync(io->r, f->fd, &io->ev);
		break;
	case BS_UNMAP:
		io->ev.done = file_alloc_done;
		rc = reactor_file_fallocate(io->r, f->fd, PUNCH_MODE,
					    io->offset, io->len, &io->ev);
		break;
	case BS_WRITE_ZEROES:
		io->ev.done = file_zero_done;
		rc = reactor_file_fallocate(io->r, f->fd, ZERO_MODE,
					    io->offset, io->len, &io->ev);
		break;
	default:
		rc = -EOPNOTSUPP;
		break;
	}
	if (rc < 0) {
		io->result = rc;
		return BS_DONE;
	}
	return BS_QUEUED;
}

/*
 * SEEK_DATA / SEEK_HOLE answer from the file system's extent map without
 * touching data. The fd's file position moves, but all I/O is positional.
 * File systems without hole support report the whole file as data, which
 * is the right answer for them.
 */
static int file_lba_status(struct bs *bs, uint64_t off, uint64_t *len,
			   bool *mapped)
{
	struct file_store *f = bs->priv;
	off_t data, hole;

	uint64_t size = bs_size(bs);

	if (off >= size)
		return -EINVAL;
	*mapped = true;
	*len = size - off;
	data = lseek(f->fd, (off_t)off, SEEK_DATA);
	if (data < 0) {
		if (errno == ENXIO) {	/* only a hole up to EOF */
			*mapped = false;
			return 0;
		}
		return errno == EINVAL ? 0 : -errno;
	}
	if ((uint64_t)data > off) {
		*mapped = false;
		*len = MIN((uint64_t)data, size) - off;
		return 0;
	}
	hole = lseek(f->fd, (off_t)off, SEEK_HOLE);
	if (hole < 0)
		return -errno;
	if ((uint64_t)hole > off)
		*len = MIN((uint64_t)hole, size) - off;
	return 0;
}

static int file_probe_size(struct bs *bs, uint64_t *size)
{
	struct file_store *f = bs->priv;
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Control thread; ftruncate may block, which no reactor may. */
static int file_resize(struct bs *bs, uint64_t size)
{
	struct file_store *f = bs->priv;
	uint64_t now;
	int rc;

	rc = file_probe_size(bs, &now);
	if (rc < 0)
		return rc;
	if (size != now) {
		if (bs->readonly)
			return -EROFS;
		if (ftruncate(f->fd, (off_t)size) < 0)
			return -errno;
	}
	bs_size_set(bs, size);
	return 0;
}

const struct bs_ops bs_file_ops = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.submit = file_submit,
	.lba_status = file_lba_status,
	.probe_size = file_probe_size,
	.resize = file_resize,
};
