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
 * Mapping (FLUSH, UNMAP, WRITE ZEROES and the close in bs_fd.c):
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
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backing/bs_internal.h"
#include "base/base.h"
#include "base/log.h"

struct file_store {
	struct bs_fd base;	/* first: bs_fd.c finds it from io->bs */
	bool direct;
	bool memory;	/* tmpfs/ramfs: I/O is a memory copy, done inline */
};
static_assert(offsetof(struct file_store, base) == 0, "bs_fd first");

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
	f->base.fd = fd;
	f->base.write_through = args->write_through && !args->readonly;
	/* no ZERO_RANGE here (some file systems): a hole reads zeroes too */
	f->base.zero_fallback = BS_FD_PUNCH;
	f->direct = args->direct;

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

	bs->priv = NULL;
	bs_fd_close(bs, &f->base, f);
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
			ssize_t r = write ? pwrite(f->base.fd, p, n, (off_t)off)
					  : pread(f->base.fd, p, n, (off_t)off);
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
	    fdatasync(f->base.fd) < 0)
		return -errno;
	return (int)io->len;
}

static int file_exec_sync(struct file_store *f, struct bs_io *io)
{
	if (io->op == BS_READ || io->op == BS_WRITE)
		return file_rw_sync(f, io);
	return bs_fd_exec_sync(&f->base, io);
}

/* --- reactor path ---------------------------------------------------- */

static enum bs_status file_submit(struct bs *bs, struct bs_io *io)
{
	struct file_store *f = bs->priv;
	bool rw = io->op == BS_READ || io->op == BS_WRITE;
	unsigned fl = (io->flags & BS_IO_FUA) ? EV_RW_DSYNC : 0;
	int rc;

	if (bs_fd_refused(bs, io))
		return BS_DONE;
	if (!io->r || (f->memory && (rw || io->op == BS_FLUSH))) {
		io->result = file_exec_sync(f, io);
		return BS_DONE;
	}
	if (!rw)
		return bs_fd_submit(&f->base, io);
	io->ev.done = bs_fd_done;
	rc = reactor_file_rw(io->r, f->base.fd, io->op == BS_WRITE, io->iov,
			     io->iovcnt, io->offset, fl, &io->ev);
	return bs_fd_queued(io, rc);
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
	data = lseek(f->base.fd, (off_t)off, SEEK_DATA);
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
	hole = lseek(f->base.fd, (off_t)off, SEEK_HOLE);
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

	if (fstat(f->base.fd, &st) < 0)
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
		if (ftruncate(f->base.fd, (off_t)size) < 0)
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
