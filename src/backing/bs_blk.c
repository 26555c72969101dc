/*
 * bs_blk.c - block device store: a disk, partition, LVM logical volume,
 * loop or any other block device, read and written where it lies.
 *
 * Opened O_DIRECT (args->buffered: through the page cache) and O_EXCL
 * (args->shared: without), so a mounted or otherwise claimed device is
 * refused with EBUSY instead of being written under its user. The size
 * comes from BLKGETSIZE64, the logical and physical block sizes from
 * BLKSSZGET and BLKPBSZGET; the SCSI layer reports them (READ CAPACITY
 * (16), Block Limits VPD page) and never issues I/O that is not a
 * multiple of the logical block size.
 *
 * All I/O goes through the submitting reactor (io_uring; libaio or the
 * worker pool on epoll), none blocks a reactor thread; with io->r == NULL
 * (tools, unit tests) requests run synchronously on the caller's thread.
 * O_DIRECT wants buffers aligned to the logical block size: the
 * transport's data buffers are page aligned (src/iscsi/buf.c) and go
 * straight to the device; anything else (the SCSI layer's malloc'ed
 * bounce buffers for WRITE SAME or VERIFY) is copied through an aligned
 * buffer of our own.
 *
 * Mapping (FLUSH, UNMAP, WRITE ZEROES and the close in bs_fd.c):
 *   BS_READ/BS_WRITE  readv/writev; BS_IO_FUA -> RWF_DSYNC (REQ_FUA)
 *   BS_FLUSH          fdatasync (a cache flush of the device)
 *   BS_UNMAP          fallocate(PUNCH_HOLE|KEEP_SIZE)
 *   BS_WRITE_ZEROES   fallocate(ZERO_RANGE|KEEP_SIZE)
 *   lba_status        none: every block is reported mapped
 *   probe_size        BLKGETSIZE64, after the device was resized by its
 *                     own tools (lvextend, losetup -c, a SAN rescan)
 *   resize            takes the size the device holds, refuses any other
 *                     (-EINVAL): we never resize a device ourselves
 *
 * Without a write cache (args->write_through) the device is opened
 * O_DSYNC: every write is a FUA write (REQ_FUA with O_DIRECT), and UNMAP
 * and WRITE ZEROES are followed by a flush of the device before they
 * complete.
 *
 * Why PUNCH_HOLE for UNMAP: on a block device it is a REQ_OP_WRITE_ZEROES
 * that may deallocate (blkdev_fallocate -> blkdev_issue_zeroout with
 * BLKDEV_ZERO_NOFALLBACK), so the range reads back zeroes afterwards and
 * LBPRZ=1 is the truth (SBC-4 §4.7.4.5). A plain discard (BLKDISCARD)
 * promises nothing about what is read back (discard_zeroes_data is 0
 * since Linux 4.12). Punch hole fails with EOPNOTSUPP on a device
 * without write-zeroes support, so UNMAP is offered only when the device
 * can both deallocate (discard_max_bytes) and write zeroes
 * (write_zeroes_max_bytes), read from sysfs at open; should it fail all
 * the same, the range is zeroed with ZERO_RANGE, which the kernel
 * emulates with plain writes where the device cannot.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backing/bs_internal.h"
#include "base/base.h"
#include "base/log.h"

/* bounce buffers are page aligned: enough for any logical block size */
#define BOUNCE_ALIGN 4096u

struct blk_store {
	struct bs_fd base;	/* first: bs_fd.c finds it from io->bs */
	uint32_t align;	/* O_DIRECT: buffer address and length alignment */
};
static_assert(offsetof(struct blk_store, base) == 0, "bs_fd first");

/* A READ or WRITE whose buffers O_DIRECT cannot take as they are. */
struct blk_bounce {
	struct ev_op ev;
	struct bs_io *io;
	struct iovec iov;	/* the aligned copy */
};

static uint64_t round_up(uint64_t v, uint32_t a)
{
	return (v + a - 1) / a * a;
}

/*
 * Reads a number from the device's request queue in sysfs; a partition
 * has none of its own, its disk's (one directory up) applies. 0 when
 * neither can be read.
 */
static unsigned long long queue_attr(dev_t rdev, const char *name)
{
	unsigned long long v = 0;
	char p[128];

	for (int up = 0; up < 2; up++) {
		FILE *f;

		snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/%squeue/%s",
			 major(rdev), minor(rdev), up ? "../" : "", name);
		f = fopen(p, "re");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
		break;
	}
	return v;
}

static int blk_open(struct bs *bs, const char *path,
		    const struct bs_open_args *args)
{
	struct blk_store *b;
	struct stat st;
	int flags = O_CLOEXEC | (args->readonly ? O_RDONLY : O_RDWR);
	int lbs = 0;
	unsigned int pbs = 0;
	uint64_t size;
	int fd, rc;

	if (!path || !*path)
		return -EINVAL;
	/* O_EXCL without O_CREAT claims a block device, means nothing on a
	 * file: tell them apart first. */
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode))
		return -ENOTBLK;
	if (!args->buffered)
		flags |= O_DIRECT;
	if (!args->shared)
		flags |= O_EXCL;
	if (args->write_through && !args->readonly)
		flags |= O_DSYNC;
	fd = open(path, flags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto err_close;
	}
	if (!S_ISBLK(st.st_mode)) {	/* replaced since the stat above */
		rc = -ENOTBLK;
		goto err_close;
	}
	if (ioctl(fd, BLKGETSIZE64, &size) < 0 ||
	    ioctl(fd, BLKSSZGET, &lbs) < 0 ||
	    ioctl(fd, BLKPBSZGET, &pbs) < 0) {
		rc = -errno;
		goto err_close;
	}
	if (lbs < 512 || (lbs & (lbs - 1))) {
		rc = -EINVAL;
		goto err_close;
	}

	b = calloc(1, sizeof(*b));
	if (!b) {
		rc = -ENOMEM;
		goto err_close;
	}
	b->base.fd = fd;
	b->base.write_through = args->write_through && !args->readonly;
	/* a punch refused after all: zeroes all the same (LBPRZ=1) */
	b->base.unmap_fallback = BS_FD_ZERO;
	b->align = args->buffered ? 1 : (uint32_t)lbs;
	/* The epoll backend caches O_DIRECT per fd number: start afresh. */
	reactor_file_forget(fd);

	bs->size = size;
	bs->logical_block = (uint32_t)lbs;
	bs->physical_block = pbs >= (unsigned int)lbs ? pbs : (uint32_t)lbs;
	bs->readonly = args->readonly;
	bs->direct = !args->buffered;
	/* see the file comment: punch hole needs both */
	bs->can_unmap = queue_attr(st.st_rdev, "discard_max_bytes") > 0 &&
			queue_attr(st.st_rdev, "write_zeroes_max_bytes") > 0;
	bs->unmap_zeroes = bs->can_unmap;
	/*
	 * A completed O_DIRECT write may sit in the device's volatile cache,
	 * a buffered one in the page cache: WCE=1 is the truth, and
	 * SYNCHRONIZE CACHE / FUA do real work. O_DSYNC: WCE=0.
	 */
	bs->write_cache = !args->write_through;
	bs->priv = b;
	return 0;

err_close:
	close(fd);
	return rc;
}

static void blk_close(struct bs *bs)
{
	struct blk_store *b = bs->priv;

	bs->priv = NULL;
	bs_fd_close(bs, &b->base, b);
}

/* --- alignment --------------------------------------------------------- */

/* True when O_DIRECT can take io's buffers as they are. */
static bool iov_aligned(const struct blk_store *b, const struct bs_io *io)
{
	uint64_t left = io->len;

	if (b->align == 1)
		return true;
	for (int i = 0; i < io->iovcnt && left; i++) {
		size_t n = MIN((uint64_t)io->iov[i].iov_len, left);

		if (((uintptr_t)io->iov[i].iov_base | n) & (b->align - 1))
			return false;
		left -= n;
	}
	return true;
}

/* Copies between io's iovecs and @buf (@n bytes at most). */
static void iov_copy(const struct bs_io *io, uint8_t *buf, uint64_t n,
		     bool to_iov)
{
	for (int i = 0; i < io->iovcnt && n; i++) {
		size_t c = MIN((uint64_t)io->iov[i].iov_len, n);

		if (to_iov)
			memcpy(io->iov[i].iov_base, buf, c);
		else
			memcpy(buf, io->iov[i].iov_base, c);
		buf += c;
		n -= c;
	}
}

/*
 * An aligned copy of io's data (for a WRITE) or room for it (READ);
 * NULL on ENOMEM. A WRITE is a multiple of the logical block size (the
 * SCSI layer refuses partial blocks); a READ may be shorter than its
 * blocks (an initiator's expected length below the transfer length, RFC
 * 7143 §11.4.5.2): the whole blocks are read, io->len bytes handed on.
 */
static struct blk_bounce *bounce_new(struct bs_io *io, uint32_t align)
{
	struct blk_bounce *bb = calloc(1, sizeof(*bb));
	uint64_t len = round_up(io->len, align);
	void *buf;

	if (!bb)
		return NULL;
	if (posix_memalign(&buf, BOUNCE_ALIGN, len ? len : 1)) {
		free(bb);
		return NULL;
	}
	bb->io = io;
	bb->iov = (struct iovec){ buf, len };
	if (io->op == BS_WRITE)
		iov_copy(io, buf, io->len, false);
	return bb;
}

static void bounce_free(struct blk_bounce *bb)
{
	free(bb->iov.iov_base);
	free(bb);
}

/* --- synchronous path (no reactor) -------------------------------------- */

static int blk_rw_sync(struct blk_store *b, struct bs_io *io)
{
	bool write = io->op == BS_WRITE;
	struct blk_bounce *bb = NULL;
	uint8_t *p;
	uint64_t done = 0;
	int rc;

	if (write && io->len % b->align)
		return -EINVAL;
	bb = bounce_new(io, b->align);
	if (!bb)
		return -ENOMEM;
	p = bb->iov.iov_base;
	while (done < bb->iov.iov_len) {
		struct iovec v = { p + done, bb->iov.iov_len - done };
		int fl = write && (io->flags & BS_IO_FUA) ? RWF_DSYNC : 0;
		ssize_t n = write ? pwritev2(b->base.fd, &v, 1,
					     (off_t)(io->offset + done), fl)
				  : preadv2(b->base.fd, &v, 1,
					    (off_t)(io->offset + done), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)	/* the device shrank under us */
			break;
		done += (uint64_t)n;
	}
	done = MIN(done, io->len);
	if (!write)
		iov_copy(io, p, done, true);
	rc = (int)done;
out:
	bounce_free(bb);
	return rc;
}

/* --- reactor path -------------------------------------------------------- */

static void bounce_done(struct ev_op *op, int res)
{
	struct blk_bounce *bb = container_of(op, struct blk_bounce, ev);
	struct bs_io *io = bb->io;

	if (res > 0 && (uint64_t)res > io->len)	/* the rounded-up tail */
		res = (int)io->len;
	if (io->op == BS_READ && res > 0)
		iov_copy(io, bb->iov.iov_base, (uint64_t)res, true);
	bounce_free(bb);
	io->result = res;
	io->done(io);
}

static int blk_submit_rw(struct blk_store *b, struct bs_io *io)
{
	bool write = io->op == BS_WRITE;
	unsigned fl = write && (io->flags & BS_IO_FUA) ? EV_RW_DSYNC : 0;
	struct blk_bounce *bb;
	int rc;

	if (iov_aligned(b, io)) {
		io->ev.done = bs_fd_done;
		return reactor_file_rw(io->r, b->base.fd, write, io->iov,
				       io->iovcnt, io->offset, fl, &io->ev);
	}
	if (write && io->len % b->align)
		return -EINVAL;
	bb = bounce_new(io, b->align);
	if (!bb)
		return -ENOMEM;
	bb->ev.done = bounce_done;
	rc = reactor_file_rw(io->r, b->base.fd, write, &bb->iov, 1, io->offset,
			     fl, &bb->ev);
	if (rc < 0)
		bounce_free(bb);
	return rc;
}

static enum bs_status blk_submit(struct bs *bs, struct bs_io *io)
{
	struct blk_store *b = bs->priv;

	if (bs_fd_refused(bs, io))
		return BS_DONE;
	if (!io->r) {
		io->result = io->op == BS_READ || io->op == BS_WRITE
				     ? blk_rw_sync(b, io)
				     : bs_fd_exec_sync(&b->base, io);
		return BS_DONE;
	}
	if (io->op == BS_READ || io->op == BS_WRITE)
		return bs_fd_queued(io, blk_submit_rw(b, io));
	return bs_fd_submit(&b->base, io);
}

static int blk_probe_size(struct bs *bs, uint64_t *size)
{
	struct blk_store *b = bs->priv;

	return ioctl(b->base.fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
}

/* Control thread: the ioctl is cheap but is still a syscall we keep off
 * the reactors. */
static int blk_resize(struct bs *bs, uint64_t size)
{
	uint64_t now;
	int rc = blk_probe_size(bs, &now);

	if (rc < 0)
		return rc;
	if (size != now)
		return -EINVAL;
	bs_size_set(bs, size);
	return 0;
}

const struct bs_ops bs_blk_ops = {
	.name = "blk",
	.open = blk_open,
	.close = blk_close,
	.submit = blk_submit,
	.probe_size = blk_probe_size,
	.resize = blk_resize,
};
