/*
 * reactor_internal.h - what the loop shares with its two backends.
 */
#ifndef RINGTGT_REACTOR_INTERNAL_H
#define RINGTGT_REACTOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "reactor.h"

struct ev_backend {
	const char *name;
	int (*init)(struct reactor *r);
	void (*fini)(struct reactor *r);
	/* Called on the loop's thread before the first poll (may be NULL). */
	int (*thread_start)(struct reactor *r);
	/* Waits up to @timeout_ms for completions and dispatches them. */
	int (*poll)(struct reactor *r, int timeout_ms);
	int (*accept)(struct reactor *r, int fd, struct ev_op *op);
	int (*recv)(struct reactor *r, int fd, void *buf, size_t len,
		    struct ev_op *op);
	int (*sendmsg)(struct reactor *r, int fd, struct msghdr *msg,
		       struct ev_op *op);
	void (*socket_close)(struct reactor *r, int fd);
	int (*file_rw)(struct reactor *r, int fd, bool write,
		       const struct iovec *iov, int iovcnt, uint64_t off,
		       unsigned flags, struct ev_op *op);
	int (*file_fsync)(struct reactor *r, int fd, struct ev_op *op);
	int (*file_fallocate)(struct reactor *r, int fd, int mode,
			      uint64_t off, uint64_t len, struct ev_op *op);
};

/* reactor_post()'s message: a node carrying fn(arg), freed after it ran. */
struct post_msg {
	struct ev_post node;
	void (*fn)(void *arg);
	void *arg;
};

struct reactor {
	const struct ev_backend *be;
	enum ev_kind kind;
	int index;
	atomic_bool stopping;
	uint64_t now_ms;
	uint64_t next_tick_ms;
	void (*tick_fn)(void *arg);
	void *tick_arg;

	/* Cross-thread queue: producers lock, the loop swaps the list out. */
	pthread_mutex_t post_lock;
	struct ev_post *post_head, **post_tail;
	atomic_bool post_pending;
	int wake_fd;			/* eventfd */
	struct ev_op wake_op;		/* io_uring: the pending eventfd read */
	uint64_t wake_buf;
	bool wake_armed;

	void *be_priv;
};

extern const struct ev_backend ev_uring_backend;
extern const struct ev_backend ev_epoll_backend;

/* Runs posted messages; called by the backends when wake_fd fires. */
void reactor_drain_posts(struct reactor *r);
/*
 * Reads the clock into the cached reactor_now_ms(). Backends call it as
 * soon as their wait returns, before any completion runs: a handler must
 * not see the time from before a wait that may have lasted a whole tick
 * (a delay or timeout computed from it would end up to a tick early).
 */
void reactor_clock_update(struct reactor *r);

/* Worker pool for blocking file syscalls (epoll backend). */
struct wp_job {
	struct wp_job *next;
	struct reactor *r;
	struct ev_op *op;
	enum { WP_READ, WP_WRITE, WP_FSYNC, WP_FALLOCATE, WP_CALL } kind;
	struct ev_work *work;		/* WP_CALL */
	int fd;
	const struct iovec *iov;
	int iovcnt;
	uint64_t off, len;
	int mode;
	unsigned flags;
	int res;
};
int wp_submit(struct wp_job *job);
/* Called by the loop: completes jobs finished for @r. */
void wp_complete_for(struct reactor *r, struct wp_job *job);

#endif
