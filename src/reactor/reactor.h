/*
 * reactor.h - one run-to-completion event loop per thread.
 *
 * Every asynchronous operation embeds a struct ev_op; when it finishes the
 * loop calls op->done(op, res) on the reactor's own thread, where res is
 * what the syscall would have returned (bytes, or -errno). The owner gets
 * back to its object with container_of(). At most one operation per ev_op
 * may be in flight.
 *
 * Two backends, chosen at start: io_uring (sockets and file I/O on one
 * ring) and epoll (readiness for sockets; libaio for O_DIRECT files, a
 * small worker pool for buffered ones). The choice is hidden behind one
 * table of function pointers (struct ev_backend in reactor_internal.h).
 *
 * Socket operations complete once with whatever the kernel gave (a short
 * send or recv is the caller's to continue). File reads and writes may
 * complete short too (0 at end of file); callers resume or fail them.
 */
#ifndef RINGTGT_REACTOR_H
#define RINGTGT_REACTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct reactor;

struct ev_op {
	void (*done)(struct ev_op *op, int res);
};

enum ev_kind { EV_IO_URING, EV_EPOLL };

/* Flags for reactor_file_rw(). */
#define EV_RW_DSYNC 0x1u /* write through: durable before completion (FUA) */

/* Creates a loop of @kind; returns NULL and sets errno on failure. */
struct reactor *reactor_new(enum ev_kind kind, int index);
void reactor_free(struct reactor *r);
enum ev_kind reactor_kind(const struct reactor *r);
int reactor_index(const struct reactor *r);
/* True when io_uring can be set up here (kernel support, not disabled). */
bool reactor_uring_available(void);
/* The reactor running on the calling thread, or NULL. */
struct reactor *reactor_current(void);

/* Runs until reactor_stop(); returns 0 or -errno. */
int reactor_run(struct reactor *r);
/* Thread-safe: asks the loop to return from reactor_run(). */
void reactor_stop(struct reactor *r);

/*
 * Thread-safe: runs fn(arg) on @r's thread soon. Returns 0 or -ENOMEM.
 * This is how other threads (acceptor, control) hand work to a reactor.
 */
int reactor_post(struct reactor *r, void (*fn)(void *arg), void *arg);

/*
 * A post that cannot fail: the caller embeds the node in its own object
 * and sets fn; @r runs p->fn(p) on its thread soon. The node must stay
 * valid until fn runs and may not be posted again before that. For the
 * paths where a lost message would lose a completion (task management
 * fan-out, cross-reactor completions).
 */
struct ev_post {
	struct ev_post *next;
	void (*fn)(struct ev_post *p);
};
void reactor_post_node(struct reactor *r, struct ev_post *p);

/* Calls fn(arg) about once per second on the loop thread (timeouts, NOPs). */
void reactor_set_tick(struct reactor *r, void (*fn)(void *arg), void *arg);
/*
 * Runs the tick within @ms (at the latest), then once a second again:
 * for deadlines shorter than a second. Loop thread only.
 */
void reactor_tick_within(struct reactor *r, uint64_t ms);
/* Monotonic seconds, cached per loop turn. */
uint64_t reactor_now_ms(struct reactor *r);

/* Socket operations: @fd must be non-blocking for the epoll backend. */
int reactor_accept(struct reactor *r, int fd, struct ev_op *op);
int reactor_recv(struct reactor *r, int fd, void *buf, size_t len,
		 struct ev_op *op);
/* @msg (and what it points to) must live until completion. */
int reactor_sendmsg(struct reactor *r, int fd, struct msghdr *msg,
		    struct ev_op *op);
/*
 * Shuts @fd down both ways: its pending recv completes with 0 and its
 * pending send with an error, so the owner can wait for its operations
 * and then call reactor_socket_close().
 */
void reactor_socket_shutdown(struct reactor *r, int fd);
/* Closes @fd; no operation on it may be in flight. */
void reactor_socket_close(struct reactor *r, int fd);

/* File operations on @fd at byte offset @off; @iov must live until done. */
int reactor_file_rw(struct reactor *r, int fd, bool write,
		    const struct iovec *iov, int iovcnt, uint64_t off,
		    unsigned flags, struct ev_op *op);
int reactor_file_fsync(struct reactor *r, int fd, struct ev_op *op);
/* fallocate(2) on the worker side (punch hole, zero range). */
int reactor_file_fallocate(struct reactor *r, int fd, int mode, uint64_t off,
			   uint64_t len, struct ev_op *op);

/*
 * Blocking work off the loop (a file written, fsync-ed and renamed):
 * w->fn(w) runs on a worker thread of workers.c, then w->done(w) on
 * @r's thread. The caller embeds the struct in its own object, which
 * must stay valid until done runs; one submission per struct at a time.
 * With @r NULL (tools, unit tests: no loop) both run now, on the
 * calling thread. Returns 0, or -ENOMEM / -EAGAIN (nothing will run).
 * With done NULL nothing comes back to @r: fn owns the struct (and may
 * free it), and may still be running when @r is stopped and freed.
 */
struct ev_work {
	void (*fn)(struct ev_work *w);		/* worker thread */
	void (*done)(struct ev_work *w);	/* @r's thread */
	struct reactor *r;			/* private */
	struct ev_post post;			/* private */
};
int reactor_work(struct reactor *r, struct ev_work *w);

/*
 * The epoll backend uses libaio for files opened with O_DIRECT (checked
 * once per fd) and a small worker pool for buffered ones, since libaio
 * blocks on buffered files. Tell it when an fd number is closed, so the
 * cached answer is dropped. No effect on io_uring.
 */
void reactor_file_forget(int fd);

#endif
