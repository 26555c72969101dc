/*
 * bs_null.c - the null store, tgt's "null" backing store type
 * (usr/bs_null.c): a medium that keeps nothing, for measuring the
 * target without storage underneath.
 *
 * tgt's answers every command GOOD without touching its buffer and has a
 * fixed size of 1 TiB. Here: the size is args->size, 1 TiB when none is
 * given; a WRITE is discarded and completes with all its bytes; a READ
 * returns zeroes (tgt sends whatever its buffer held: never memory of
 * another command here); FLUSH and WRITE ZEROES succeed at once. The
 * store is write-through (WCE=0: there is nothing to flush) and cannot
 * deallocate. Data written is lost: never put a file system on it.
 */
#include <errno.h>
#include <string.h>

#include "backing/bs.h"
#include "base/base.h"

#define NULL_STORE_SIZE (1ULL << 40)	/* tgt's NULL_BS_DEV_SIZE */

static int null_open(struct bs *bs, const char *path,
		     const struct bs_open_args *args)
{
	(void)path;	/* tgt ignores it too */
	bs->size = args->size ? args->size : NULL_STORE_SIZE;
	bs->readonly = args->readonly;
	bs->write_cache = false;
	bs->can_unmap = false;
	return 0;
}

static void null_close(struct bs *bs)
{
	(void)bs;
}

/* Bytes @io moves, or -errno; nothing is kept. */
static int null_exec(struct bs *bs, struct bs_io *io)
{
	uint64_t left = io->len;

	if (io->offset > bs_size(bs) || io->len > bs_size(bs) - io->offset)
		return -ERANGE;
	switch (io->op) {
	case BS_READ:
		for (int i = 0; i < io->iovcnt && left; i++) {
			size_t n = MIN((uint64_t)io->iov[i].iov_len, left);

			memset(io->iov[i].iov_base, 0, n);
			left -= n;
		}
		return left ? -EINVAL : (int)io->len;
	case BS_WRITE:
		return bs->readonly ? -EROFS : (int)io->len;
	case BS_FLUSH:
		return 0;
	case BS_WRITE_ZEROES:
		return bs->readonly ? -EROFS : 0;
	case BS_UNMAP:	/* can_unmap is false: never asked */
		break;
	}
	return -EOPNOTSUPP;
}

static enum bs_status null_submit(struct bs *bs, struct bs_io *io)
{
	io->result = null_exec(bs, io);
	return BS_DONE;
}

const struct bs_ops bs_null_ops = {
	.name = "null",
	.open = null_open,
	.close = null_close,
	.submit = null_submit,
};
