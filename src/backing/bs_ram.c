/*
 * bs_ram.c - RAM backing store: a calloc'ed buffer of args->size bytes.
 *
 * Every request completes synchronously (BS_DONE) unless the store is
 * held by the test hook bs_ram_hold(); held requests are queued and run
 * by bs_ram_release(), which completes each one on the reactor that
 * submitted it (reactor_post), or directly when io->r is NULL.
 *
 * Data accesses take no lock: like a disk, concurrent overlapping writes
 * give unspecified data, nothing worse. The hold queue has a mutex since
 * tests call release from their own thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backing/bs.h"
#include "base/base.h"
#include "base/log.h"

struct ram_store {
	uint8_t *mem;
	pthread_mutex_t lock;	/* protects the hold queue */
	atomic_bool hold;
	struct bs_io **held;
	int nheld;
	int held_cap;
};

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

static int ram_exec(struct bs *bs, struct bs_io *io)
{
	struct ram_store *ram = bs->priv;

	if (io->offset > bs->size || io->len > bs->size - io->offset)
		return -EINVAL;
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

static void ram_complete(void *arg)
{
	struct bs_io *io = arg;

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
		if (io->r && reactor_post(io->r, ram_complete, io) == 0)
			continue;
		if (io->r)
			log_err("bs_ram: cannot post completion; completing inline");
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

const struct bs_ops bs_ram_ops = {
	.name = "ram",
	.open = ram_open,
	.close = ram_close,
	.submit = ram_submit,
};
