/*
 * bs_fd.c - the part of the file and block stores that is just an fd:
 * FLUSH, UNMAP and WRITE ZEROES, synchronously or through the reactor,
 * and the close (see bs_internal.h).
 *
 *   BS_FLUSH         fdatasync
 *   BS_UNMAP         fallocate(PUNCH_HOLE|KEEP_SIZE), then the store's
 *                    unmap_fallback mode if that is refused (EOPNOTSUPP)
 *   BS_WRITE_ZEROES  fallocate(ZERO_RANGE|KEEP_SIZE), then zero_fallback
 *
 * Without a write cache (write_through) the fd is O_DSYNC, which does
 * not cover fallocate on every file system (ext4 ignores it) nor a
 * device's write-zeroes, so a successful fallocate is followed by an
 * fdatasync before the request completes.
 *
 * The close's fdatasync (and close() itself: the last close of a block
 * device writes back its page cache) may take seconds; called on a
 * reactor thread, it is handed to a worker (reactor_work()) and counted
 * until done, so that shutdown can wait for it (bs_close_drain()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backing/bs_internal.h"
#include "base/base.h"
#include "base/log.h"

/* A close handed to a worker; owns the fd, the store's struct, a path. */
struct fd_closing {
	struct ev_work work;
	int fd;
	bool sync;
	char *path;
	void *priv;
};

/* Closes handed to workers and not finished yet. */
static atomic_int fd_closing_n;

/* How long bs_close_drain() waits, in 10 ms steps: 60 s. */
#define DRAIN_STEPS 6000

bool bs_fd_refused(const struct bs *bs, struct bs_io *io)
{
	if ((io->op == BS_WRITE || io->op == BS_UNMAP ||
	     io->op == BS_WRITE_ZEROES) && bs->readonly) {
		io->result = -EROFS;
		return true;
	}
	if (io->op == BS_UNMAP && !bs->can_unmap) {
		io->result = -EOPNOTSUPP;
		return true;
	}
	return false;
}

static struct bs_fd *fd_of(const struct bs_io *io)
{
	return io->bs->priv;	/* struct bs_fd comes first in it */
}

/* The fallocate mode of @io, or its fallback (0: none). */
static int fd_mode(const struct bs_fd *f, const struct bs_io *io,
		   bool fallback)
{
	if (io->op == BS_UNMAP)
		return fallback ? f->unmap_fallback : BS_FD_PUNCH;
	return fallback ? f->zero_fallback : BS_FD_ZERO;
}

/* --- synchronous path ---------------------------------------------------- */

/* fallocate(@mode), made durable when there is no write cache. */
static int fd_fallocate_sync(const struct bs_fd *f, int mode,
			     const struct bs_io *io)
{
	if (fallocate(f->fd, mode, (off_t)io->offset, (off_t)io->len) < 0)
		return -errno;
	if (f->write_through && fdatasync(f->fd) < 0)
		return -errno;
	return 0;
}

int bs_fd_exec_sync(const struct bs_fd *f, const struct bs_io *io)
{
	int rc;

	switch (io->op) {
	case BS_FLUSH:
		return fdatasync(f->fd) < 0 ? -errno : 0;
	case BS_UNMAP:
	case BS_WRITE_ZEROES:
		rc = fd_fallocate_sync(f, fd_mode(f, io, false), io);
		if (rc == -EOPNOTSUPP && fd_mode(f, io, true))
			rc = fd_fallocate_sync(f, fd_mode(f, io, true), io);
		return rc;
	default:
		return -EOPNOTSUPP;	/* READ/WRITE are the store's */
	}
}

/* --- reactor path -------------------------------------------------------- */

void bs_fd_done(struct ev_op *op, int res)
{
	struct bs_io *io = container_of(op, struct bs_io, ev);

	io->result = res;
	io->done(io);
}

enum bs_status bs_fd_queued(struct bs_io *io, int rc)
{
	if (rc < 0) {
		io->result = rc;
		return BS_DONE;
	}
	return BS_QUEUED;
}

/* The fallocate that counts finished: flushed first without a cache. */
static void fd_alloc_done(struct ev_op *op, int res)
{
	struct bs_io *io = container_of(op, struct bs_io, ev);
	struct bs_fd *f = fd_of(io);

	if (res == 0 && f->write_through) {
		io->ev.done = bs_fd_done;
		res = reactor_file_fsync(io->r, f->fd, &io->ev);
		if (res == 0)
			return;
	}
	io->result = res;
	io->done(io);
}

/* The first fallocate finished: refused, the fallback mode is tried. */
static void fd_alloc_first_done(struct ev_op *op, int res)
{
	struct bs_io *io = container_of(op, struct bs_io, ev);
	struct bs_fd *f = fd_of(io);
	int mode = fd_mode(f, io, true);

	if (res != -EOPNOTSUPP || !mode) {
		fd_alloc_done(op, res);
		return;
	}
	io->ev.done = fd_alloc_done;
	res = reactor_file_fallocate(io->r, f->fd, mode, io->offset, io->len,
				     &io->ev);
	if (res == 0)
		return;
	io->result = res;
	io->done(io);
}

enum bs_status bs_fd_submit(struct bs_fd *f, struct bs_io *io)
{
	int rc;

	switch (io->op) {
	case BS_FLUSH:
		io->ev.done = bs_fd_done;
		rc = reactor_file_fsync(io->r, f->fd, &io->ev);
		break;
	case BS_UNMAP:
	case BS_WRITE_ZEROES:
		io->ev.done = fd_alloc_first_done;
		rc = reactor_file_fallocate(io->r, f->fd, fd_mode(f, io, false),
					    io->offset, io->len, &io->ev);
		break;
	default:
		rc = -EOPNOTSUPP;	/* READ/WRITE are the store's */
		break;
	}
	return bs_fd_queued(io, rc);
}

/* --- close --------------------------------------------------------------- */

static void fd_close_now(int fd, bool sync, const char *path)
{
	/* what the initiators wrote is on stable storage before we go */
	if (sync && fdatasync(fd) < 0)
		log_warn("%s: fdatasync at close: %s", path, strerror(errno));
	close(fd);
}

/* Worker thread; nothing comes back to the reactor (no done). */
static void fd_close_work(struct ev_work *w)
{
	struct fd_closing *c = container_of(w, struct fd_closing, work);

	fd_close_now(c->fd, c->sync, c->path ? c->path : "?");
	free(c->path);
	free(c->priv);
	free(c);
	atomic_fetch_sub(&fd_closing_n, 1);
}

void bs_fd_close(struct bs *bs, struct bs_fd *f, void *priv)
{
	struct reactor *r = reactor_current();
	const char *path = bs->path ? bs->path : "?";
	struct fd_closing *c;

	/* The epoll backend caches per fd number whether it is O_DIRECT. */
	reactor_file_forget(f->fd);
	if (r && (c = calloc(1, sizeof(*c)))) {
		c->fd = f->fd;
		c->sync = !bs->readonly;
		c->path = strdup(path);
		c->priv = priv;
		c->work.fn = fd_close_work;
		atomic_fetch_add(&fd_closing_n, 1);
		if (reactor_work(r, &c->work) == 0)
			return;
		atomic_fetch_sub(&fd_closing_n, 1);
		free(c->path);
		free(c);
		log_warn("%s: no worker for the close; closing on the event loop",
			 path);
	}
	fd_close_now(f->fd, !bs->readonly, path);
	free(priv);
}

void bs_close_drain(void)
{
	int n;

	for (int i = 0; i < DRAIN_STEPS && atomic_load(&fd_closing_n) > 0; i++)
		usleep(10000);
	n = atomic_load(&fd_closing_n);
	if (n > 0)
		log_warn("%d backing store(s) still closing (fdatasync) after %d s",
			 n, DRAIN_STEPS / 100);
}
