/*
 * bs_ram.c - RAM backing store: a calloc'ed buffer of args->size bytes.
 *
 * Every request completes synchronously (BS_DONE) unless the store is
 * held by the test hook bs_ram_hold(); held requests are queued and run
 * by bs_ram_release(), which completes each one on the reactor that
 * submitted it (reactor_post), or directly when io->r is NULL.
 *
 * Data accesses take only the read side of a rwlock (many at once, on
 * every reactor): like a disk, concurrent overlapping writes give
 * unspecified data, nothing worse. The write side is resize's: the buffer
 * moves (realloc) and its size changes while no request is inside it, and
 * a request that comes after a shrink and reaches beyond the new end
 * fails with -ERANGE instead of touching freed memory. The lock prefers
 * writers, so a stream of reads cannot starve a resize. The hold queue
 * has a mutex since tests call release from their own thread.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backing/bs.h"
#include "base/base.h"
#include "base/log.h"

struct ram_store {
	pthread_rwlock_t mem_lock;	/* read: I/O; write: resize */
	uint8_t *mem;			/* under mem_lock */
	uint64_t size;			/* under mem_lock; == bs->size */
	pthread_mutex_t lock;	/* protects the hold queue */
	atomic_bool hold;
	struct bs_io **held;
	int nheld;
	int held_cap;
	struct bs_ram_fault fault;	/* under lock; count 0: none */
	atomic_int fault_count;		/* cheap check of fault.count */
};

/* A rwlock whose writer (resize) is not starved by a stream of readers. */
static void mem_lock_init(pthread_rwlock_t *l)
{
	pthread_rwlockattr_t attr;

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(l, &attr);
	pthread_rwlockattr_destroy(&attr);
}

static int ram_open(struct bs *bs, const char *path,
		    const struct bs_open_args *args)
{
	struct ram_store *ram;

	if (args->size == 0)
		return -EINVAL;
	ram = calloc(1, sizeof(*ram));
	if (!ram)
		return -ENOMEM;
	ram->mem = calloc(1, args->size);
	if (!ram->mem) {
		free(ram);
		return -ENOMEM;
	}
	pthread_mutex_init(&ram->lock, NULL);
	mem_lock_init(&ram->mem_lock);
	ram->size = args->size;
	bs->priv = ram;
	bs->size = args->size;
	bs->readonly = args->readonly;
	bs->write_cache = false;	/* RAM is as durable as it gets */
	bs->can_unmap = true;
	return 0;
}

static void ram_close(struct bs *bs)
{
	struct ram_store *ram = bs->priv;

	pthread_mutex_destroy(&ram->lock);
	pthread_rwlock_destroy(&ram->mem_lock);
	free(ram->held);
	free(ram->mem);
	free(ram);
	bs->priv = NULL;
}

/* Copies between the store and io's iovecs; returns bytes or -errno. */
static int ram_copy(struct ram_store *ram, struct bs_io *io, bool write)
{
	uint8_t *p = ram->mem + io->offset;
	uint64_t left = io->len;

	for (int i = 0; i < io->iovcnt && left; i++) {
		size_t n = MIN((uint64_t)io->iov[i].iov_len, left);

		if (write)
			memcpy(p, io->iov[i].iov_base, n);
		else
			memcpy(io->iov[i].iov_base, p, n);
		p += n;
		left -= n;
	}
	if (left)
		return -EINVAL;	/* iovecs shorter than len */
	return (int)io->len;
}

#define NO_FAULT INT_MIN

/* An injected fault for @io: -errno, a short count, or NO_FAULT. */
static int ram_fault(struct ram_store *ram, struct bs_io *io)
{
	int rc = NO_FAULT;

	if (io->op != BS_READ && io->op != BS_WRITE)
		return NO_FAULT;
	pthread_mutex_lock(&ram->lock);
	if (ram->fault.count > 0 &&
	    (io->op == BS_READ ? ram->fault.reads : ram->fault.writes)) {
		ram->fault.count--;
		atomic_store(&ram->fault_count, ram->fault.count);
		rc = ram->fault.err ? -ram->fault.err : 0;
	}
	pthread_mutex_unlock(&ram->lock);
	if (rc == 0) {
		/* a short transfer: the first short_len bytes only */
		struct iovec one = { io->iov[0].iov_base,
				     MIN((uint64_t)ram->fault.short_len,
					 MIN(io->len, io->iov[0].iov_len)) };
		if (io->op == BS_WRITE)
			memcpy(ram->mem + io->offset, one.iov_base, one.iov_len);
		else
			memcpy(one.iov_base, ram->mem + io->offset, one.iov_len);
		return (int)one.iov_len;
	}
	return rc;
}

void bs_ram_fault(struct bs *bs, const struct bs_ram_fault *f)
{
	struct ram_store *ram = bs->priv;

	pthread_mutex_lock(&ram->lock);
	ram->fault = *f;
	atomic_store(&ram->fault_count, f->count);
	pthread_mutex_unlock(&ram->lock);
}

static int ram_exec_locked(struct bs *bs, struct bs_io *io)
{
	struct ram_store *ram = bs->priv;

	/* beyond the end: after a shrink that raced this request */
	if (io->offset > ram->size || io->len > ram->size - io->offset)
		return -ERANGE;
	if (unlikely(atomic_load_explicit(&ram->fault_count,
					  memory_order_relaxed) > 0)) {
		int rc = ram_fault(ram, io);

		if (rc != NO_FAULT)
			return rc;
	}
	switch (io->op) {
	case BS_READ:
		return ram_copy(ram, io, false);
	case BS_WRITE:
		if (bs->readonly)
			return -EROFS;
		return ram_copy(ram, io, true);
	case BS_FLUSH:
		return 0;
	case BS_UNMAP:
	case BS_WRITE_ZEROES:
		if (bs->readonly)
			return -EROFS;
		memset(ram->mem + io->offset, 0, io->len);
		return 0;
	}
	return -EOPNOTSUPP;
}

static int ram_exec(struct bs *bs, struct bs_io *io)
{
	struct ram_store *ram = bs->priv;
	int rc;

	pthread_rwlock_rdlock(&ram->mem_lock);
	rc = ram_exec_locked(bs, io);
	pthread_rwlock_unlock(&ram->mem_lock);
	return rc;
}

static enum bs_status ram_submit(struct bs *bs, struct bs_io *io)
{
	struct ram_store *ram = bs->priv;

	/* Cheap unlocked peek; the decision is re-made under the lock. */
	if (unlikely(atomic_load_explicit(&ram->hold, memory_order_relaxed))) {
		pthread_mutex_lock(&ram->lock);
		if (atomic_load_explicit(&ram->hold, memory_order_relaxed)) {
			if (ram->nheld == ram->held_cap) {
				int cap = ram->held_cap ? ram->held_cap * 2 : 16;
				struct bs_io **n = realloc(ram->held,
							   cap * sizeof(*n));
				if (!n) {
					pthread_mutex_unlock(&ram->lock);
					io->result = -ENOMEM;
					return BS_DONE;
				}
				ram->held = n;
				ram->held_cap = cap;
			}
			ram->held[ram->nheld++] = io;
			pthread_mutex_unlock(&ram->lock);
			return BS_QUEUED;
		}
		pthread_mutex_unlock(&ram->lock);
	}
	io->result = ram_exec(bs, io);
	return BS_DONE;
}

void bs_ram_hold(struct bs *bs, bool hold)
{
	struct ram_store *ram = bs->priv;

	pthread_mutex_lock(&ram->lock);
	atomic_store(&ram->hold, hold);
	pthread_mutex_unlock(&ram->lock);
}

static void ram_complete(struct ev_post *p)
{
	struct bs_io *io = container_of(p, struct bs_io, post);

	io->done(io);
}

int bs_ram_release(struct bs *bs)
{
	struct ram_store *ram = bs->priv;
	struct bs_io **list;
	int n;

	pthread_mutex_lock(&ram->lock);
	list = ram->held;
	n = ram->nheld;
	ram->held = NULL;
	ram->nheld = ram->held_cap = 0;
	pthread_mutex_unlock(&ram->lock);

	for (int i = 0; i < n; i++) {
		struct bs_io *io = list[i];

		io->result = ram_exec(bs, io);
		/* Completions run on the submitting reactor's thread. */
		if (io->r) {
			io->post.fn = ram_complete;
			reactor_post_node(io->r, &io->post);
			continue;
		}
		io->done(io);
	}
	free(list);
	return n;
}

int bs_ram_held(struct bs *bs)
{
	struct ram_store *ram = bs->priv;
	int n;

	pthread_mutex_lock(&ram->lock);
	n = ram->nheld;
	pthread_mutex_unlock(&ram->lock);
	return n;
}

/*
 * Control thread. Waits (write lock) for the requests inside the buffer,
 * which are memory copies, never for the medium. A grown buffer reads
 * back zeroes beyond the old end, as a grown sparse file does.
 */
static int ram_resize(struct bs *bs, uint64_t size)
{
	struct ram_store *ram = bs->priv;
	uint8_t *mem;
	int rc = 0;

	if (size > SIZE_MAX)
		return -ENOMEM;
	pthread_rwlock_wrlock(&ram->mem_lock);
	mem = realloc(ram->mem, (size_t)size);
	if (!mem) {
		rc = -ENOMEM;
		goto out;
	}
	if (size > ram->size)
		memset(mem + ram->size, 0, (size_t)(size - ram->size));
	ram->mem = mem;
	ram->size = size;
	bs_size_set(bs, size);
out:
	pthread_rwlock_unlock(&ram->mem_lock);
	return rc;
}

const struct bs_ops bs_ram_ops = {
	.name = "ram",
	.open = ram_open,
	.close = ram_close,
	.submit = ram_submit,
	.resize = ram_resize,
};
