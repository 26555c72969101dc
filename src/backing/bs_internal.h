/*
 * bs_internal.h - what the stores of src/backing share inside the layer.
 *
 * The file store (bs_file.c) and the block store (bs_blk.c) are both one
 * fd with positional I/O. Their reads and writes differ (O_DIRECT
 * alignment and bounce buffers on a device, inline I/O on tmpfs); the
 * rest is the same and lives in bs_fd.c: the read-only refusal, FLUSH as
 * fdatasync, UNMAP and WRITE ZEROES as fallocate (with a fallback mode
 * when the first is refused, and an fdatasync after it without a write
 * cache), on the caller's thread or through the reactor, and the close.
 *
 * A store using them puts a struct bs_fd first in its private struct
 * (bs->priv), so a completion gets back to it from io->bs.
 */
#ifndef RINGTGT_BS_INTERNAL_H
#define RINGTGT_BS_INTERNAL_H

#include <linux/falloc.h>

#include "backing/bs.h"

#define BS_FD_PUNCH (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
#define BS_FD_ZERO (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)

struct bs_fd {
	int fd;
	bool write_through;	/* O_DSYNC: fallocate followed by fdatasync */
	/* fallocate modes tried when BS_UNMAP's PUNCH / BS_WRITE_ZEROES'
	 * ZERO is refused with EOPNOTSUPP; 0: none, the error stands */
	int unmap_fallback;
	int zero_fallback;
};

/*
 * True when @io is refused before it starts (io->result set): a write,
 * unmap or zeroing on a read-only store (-EROFS), an unmap on a store
 * without can_unmap (-EOPNOTSUPP).
 */
bool bs_fd_refused(const struct bs *bs, struct bs_io *io);

/* BS_FLUSH, BS_UNMAP, BS_WRITE_ZEROES on the calling thread (no reactor,
 * or a store whose medium is memory): 0 or -errno. */
int bs_fd_exec_sync(const struct bs_fd *f, const struct bs_io *io);

/* The same through io->r: BS_QUEUED, or BS_DONE with io->result set. */
enum bs_status bs_fd_submit(struct bs_fd *f, struct bs_io *io);

/* The completion of a single request: io->result = res, io->done(). For
 * the stores' own reads and writes too. */
void bs_fd_done(struct ev_op *op, int res);

/* What a submission's return (0 or -errno) means for bs_submit(). */
enum bs_status bs_fd_queued(struct bs_io *io, int rc);

/*
 * Closes @f->fd (and frees @priv, the store's struct holding it) after an
 * fdatasync when the store is writable: what initiators wrote is on
 * stable storage before the fd goes. On a reactor thread (the last
 * reference to an LU can be dropped there) this runs on a worker,
 * never blocking the loop; bs_close_drain() waits for it.
 */
void bs_fd_close(struct bs *bs, struct bs_fd *f, void *priv);

#endif
