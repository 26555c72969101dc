/*
 * bs.h - backing stores: where a logical unit's blocks live.
 *
 * A store sees byte offsets and iovecs, never CDBs or sense data. The
 * SCSI layer turns commands into struct bs_io requests, submits them with
 * bs_submit() from a reactor thread, and maps the result (-errno) to sense.
 *
 * struct bs_ops, for each implementation:
 *   open    required; opens @path (or makes a RAM store), sets size and
 *           flags. Called from the control/config thread.
 *   close   required; closes what open made. No I/O is in flight. May
 *           be called on a reactor thread (the last reference to an LU
 *           can go there) and must not block it: the file and block
 *           stores hand their fdatasync and close to a worker.
 *   submit  required; starts @io. Returns BS_QUEUED when io->done will be
 *           called later on io->r's thread, or BS_DONE when the request
 *           finished at once (io->result set, io->done NOT called).
 *           A READ or WRITE may move fewer bytes than asked (result
 *           < len, 0 past the end of a file that shrank): the caller
 *           resumes it or fails the command; it never counts as done.
 *           Ops a store does not support finish with -EOPNOTSUPP.
 *   lba_status  optional (NULL: every byte is mapped). Synchronous and
 *           cheap (a few syscalls, never waits for the medium), so it is
 *           called on the reactor thread. For @off < size, sets *len to the
 *           length of the extent starting at @off whose bytes are all
 *           mapped (*mapped = true) or all deallocated, i.e. read back as
 *           zeroes without using space (false), at most size - off; the
 *           extent may end anywhere, not only on a block boundary.
 *           Returns 0 or -errno.
 *   probe_size  optional (NULL: the medium's size is bs->size). What the
 *           medium holds now, in bytes: a file's length (fstat), a block
 *           device's BLKGETSIZE64, which may differ from bs->size after
 *           the file or device was resized underneath. Changes nothing.
 *           Control thread (it may block). 0 or -errno.
 *   resize  optional (NULL: the store cannot change its size). Makes the
 *           medium @size bytes (@size > 0) and sets bs->size (through
 *           bs_size_set(), readers are on other threads): a file is
 *           ftruncate'd (sparse when it grows), the RAM store's buffer is
 *           reallocated, a block device only takes @size when it is what
 *           the device holds (-EINVAL otherwise: a device is resized by
 *           its own tools). Control thread, while I/O may be in flight:
 *           the caller has already stopped any I/O beyond @size when
 *           shrinking; a store must stay safe for a request that still
 *           comes (the RAM store fails it with -ERANGE). 0 or -errno.
 */
#ifndef RINGTGT_BS_H
#define RINGTGT_BS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "reactor/reactor.h"

struct bs;

enum bs_status { BS_QUEUED, BS_DONE };

enum bs_opcode {
	BS_READ,
	BS_WRITE,
	BS_FLUSH,	/* make all completed writes durable */
	BS_UNMAP,	/* deallocate [offset, offset+len); reads return zeroes */
	BS_WRITE_ZEROES,
};

#define BS_IO_FUA 0x1u /* BS_WRITE: durable before completion */

struct bs_io {
	enum bs_opcode op;
	unsigned flags;
	const struct iovec *iov; /* READ/WRITE */
	int iovcnt;
	uint64_t offset;	/* bytes */
	uint64_t len;		/* bytes */
	struct reactor *r;	/* the submitting reactor */
	int result;		/* bytes done or -errno */
	void (*done)(struct bs_io *io);
	struct ev_op ev;	/* for the store's own use */
	struct ev_post post;	/* for the store's own use (cross-thread) */
	struct bs *bs;		/* set by bs_submit() */
};

struct bs_open_args {
	uint64_t size;		/* create/extend to this size if nonzero
				 * (the block store ignores it) */
	bool create;		/* create the file when missing */
	bool readonly;
	bool direct;		/* file store: O_DIRECT */
	bool buffered;		/* block store: the page cache, not O_DIRECT */
	bool shared;		/* block store: no O_EXCL (others may hold
				 * the device open) */
	bool write_through;	/* file and block stores: no write cache;
				 * every write, unmap and zeroing is durable
				 * before it completes (O_DSYNC, and a
				 * flush after fallocate); bs->write_cache
				 * is then false */
};

struct bs_ops {
	const char *name;
	int (*open)(struct bs *bs, const char *path,
		    const struct bs_open_args *args);
	void (*close)(struct bs *bs);
	enum bs_status (*submit)(struct bs *bs, struct bs_io *io);
	int (*lba_status)(struct bs *bs, uint64_t off, uint64_t *len,
			  bool *mapped);
	int (*probe_size)(struct bs *bs, uint64_t *size);
	int (*resize)(struct bs *bs, uint64_t size);
};

struct bs {
	const struct bs_ops *ops;
	uint64_t size;		/* bytes; changed by resize while reactors
				 * read it: use bs_size() / bs_size_set() */
	bool readonly;
	bool write_cache;	/* writes are buffered; FLUSH makes them durable */
	bool can_unmap;
	bool unmap_zeroes;	/* BS_UNMAP'ed bytes read back as zeroes
				 * (SBC-4 LBPRZ=1); only with can_unmap */
	bool direct;		/* opened O_DIRECT */
	/*
	 * The medium's logical and physical block sizes in bytes (a block
	 * device's; the file store has no logical block and gives its file
	 * system's block size as the physical one; 0: none). I/O is always
	 * a multiple of the logical block size, at offsets aligned to it.
	 */
	uint32_t logical_block;
	uint32_t physical_block;
	char *path;
	void *priv;
};

/* Finds a store type by name ("file", "blk", "ram"); NULL if unknown. */
const struct bs_ops *bs_type_find(const char *name);

/*
 * The store type for @name ("file" or NULL: the default) and @path: the
 * block store when @path is a block device, or anything under /dev/ but a
 * regular file or /dev/shm (a missing /dev/vg0/lv is a missing device, not
 * a file to create), so a config LUN, --export and ringtgtadm lun add all serve
 * block devices through it; else bs_type_find(@name). NULL if @name is
 * unknown.
 */
const struct bs_ops *bs_type_pick(const char *name, const char *path);

/*
 * A sentence on why bs_open() of @type failed with -@err (positive errno),
 * naming the cause where the store knows more than strerror() (a block
 * device in use, a regular file given to the block store).
 */
const char *bs_open_strerror(const struct bs_ops *type, int err);

/*
 * Opens a store of @type on @path; returns NULL and sets errno. The RAM
 * store takes args->size and ignores @path.
 */
struct bs *bs_open(const struct bs_ops *type, const char *path,
		   const struct bs_open_args *args);
void bs_close(struct bs *bs);
/*
 * Waits (up to 60 s) until the closes that stores handed to a worker
 * thread (fdatasync, close) are done: at shutdown, once no reactor runs.
 */
void bs_close_drain(void);

static inline enum bs_status bs_submit(struct bs *bs, struct bs_io *io)
{
	io->bs = bs;
	return bs->ops->submit(bs, io);
}

/* bs->size, read on any thread while the control thread may resize. */
static inline uint64_t bs_size(const struct bs *bs)
{
	return __atomic_load_n(&bs->size, __ATOMIC_ACQUIRE);
}

static inline void bs_size_set(struct bs *bs, uint64_t size)
{
	__atomic_store_n(&bs->size, size, __ATOMIC_RELEASE);
}

/*
 * The size the medium has now (see probe_size above): bs->size for a
 * store without probe_size. 0 or -errno.
 */
int bs_probe_size(struct bs *bs, uint64_t *size);
/* Resizes the store to @size bytes (see resize above); -EOPNOTSUPP when
 * the store cannot. */
int bs_resize(struct bs *bs, uint64_t size);

/*
 * Provisioning status of the extent at @off (see lba_status above); a
 * store without lba_status reports everything mapped.
 */
static inline int bs_lba_status(struct bs *bs, uint64_t off, uint64_t *len,
				bool *mapped)
{
	uint64_t size = bs_size(bs);

	if (off >= size)
		return -EINVAL;
	if (!bs->ops->lba_status) {
		*len = size - off;
		*mapped = true;
		return 0;
	}
	return bs->ops->lba_status(bs, off, len, mapped);
}

extern const struct bs_ops bs_file_ops;
extern const struct bs_ops bs_blk_ops;
extern const struct bs_ops bs_ram_ops;
/* tgt's null store: keeps nothing, reads zeroes (bs_null.c) */
extern const struct bs_ops bs_null_ops;

/*
 * Test hook of the RAM store: while held, submitted I/O stays queued until
 * bs_ram_release() completes it (on the submitting reactors). Lets tests
 * keep a command in flight for task management.
 */
void bs_ram_hold(struct bs *bs, bool hold);
/* Completes all held I/O; returns how many were completed. */
int bs_ram_release(struct bs *bs);
/* Number of requests currently held. */
int bs_ram_held(struct bs *bs);

/*
 * Test hook of the RAM store: the next @count READs (@reads) and/or
 * WRITEs (@writes) fail with -@err, or, when @err is 0, move only the
 * first @short_len bytes and return that count (a short transfer).
 */
struct bs_ram_fault {
	int count;
	bool reads, writes;
	int err;
	uint32_t short_len;
};
void bs_ram_fault(struct bs *bs, const struct bs_ram_fault *f);

#endif
