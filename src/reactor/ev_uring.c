/*
 * ev_uring.c - io_uring backend: sockets and files on one ring per loop.
 *
 * user_data is the struct ev_op pointer; the loop's own eventfd read uses
 * r->wake_op. Submission is batched: SQEs are queued as the handlers run
 * and submitted together when the loop waits (submit_and_wait).
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/base.h"
#include "base/log.h"
#include "reactor_internal.h"

#define URING_ENTRIES 1024

struct uring_priv {
	struct io_uring ring;
};

static struct io_uring *ring_of(struct reactor *r)
{
	return &((struct uring_priv *)r->be_priv)->ring;
}

bool reactor_uring_available(void)
{
	struct io_uring ring;
	const char *off = getenv("RINGTGT_NO_IO_URING");

	/* lets tests and operators exercise the automatic epoll fallback */
	if (off && *off && strcmp(off, "0") != 0)
		return false;
	if (io_uring_queue_init(4, &ring, 0) < 0)
		return false;
	io_uring_queue_exit(&ring);
	return true;
}

/* Never fails: when the SQ is full, submit what is queued and retry. */
static struct io_uring_sqe *get_sqe(struct reactor *r)
{
	struct io_uring *ring = ring_of(r);
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(ring)))
		io_uring_submit(ring);
	return sqe;
}

static void wake_arm(struct reactor *r);

static void wake_done(struct ev_op *op, int res)
{
	struct reactor *r = container_of(op, struct reactor, wake_op);

	(void)res;
	reactor_drain_posts(r);
	if (!atomic_load(&r->stopping))
		wake_arm(r);
}

static void wake_arm(struct reactor *r)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_read(sqe, r->wake_fd, &r->wake_buf, sizeof(r->wake_buf), 0);
	io_uring_sqe_set_data(sqe, &r->wake_op);
}

static int uring_init(struct reactor *r)
{
	/* Try the cheapest completion mode first, fall back for older kernels. */
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct uring_priv *p = calloc(1, sizeof(*p));
	int rc = -ENOSYS;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(flag_sets); i++) {
		struct io_uring_params params = { .flags = flag_sets[i] };

		/*
		 * SINGLE_ISSUER binds the ring to the thread that enables it:
		 * create it disabled, enable it on the loop's own thread.
		 */
		if (params.flags & IORING_SETUP_SINGLE_ISSUER)
			params.flags |= IORING_SETUP_R_DISABLED;
		params.flags |= IORING_SETUP_CQSIZE;
		params.cq_entries = URING_ENTRIES * 4;
		rc = io_uring_queue_init_params(URING_ENTRIES, &p->ring, &params);
		if (rc == 0)
			break;
	}
	if (rc < 0) {
		free(p);
		return rc;
	}
	r->be_priv = p;
	r->wake_op.done = wake_done;
	return 0;
}

static void uring_fini(struct reactor *r)
{
	struct uring_priv *p = r->be_priv;

	if (!p)
		return;
	io_uring_queue_exit(&p->ring);
	free(p);
	r->be_priv = NULL;
}

static int uring_thread_start(struct reactor *r)
{
	struct io_uring *ring = ring_of(r);

	/* liburing 2.3 declares io_uring_enable_rings() but does not export it */
	if ((ring->flags & IORING_SETUP_R_DISABLED) &&
	    syscall(__NR_io_uring_register, ring->ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}

static int uring_poll(struct reactor *r, int timeout_ms)
{
	struct io_uring *ring = ring_of(r);
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int rc;

	if (!r->wake_armed) {	/* first turn; wake_done re-arms after */
		r->wake_armed = true;
		wake_arm(r);
	}
	rc = io_uring_submit_and_wait_timeout(ring, &cqe, 1,
					      timeout_ms >= 0 ? &ts : NULL, NULL);
	if (rc < 0 && rc != -ETIME && rc != -EINTR)
		return rc;
	reactor_clock_update(r);
	/*
	 * Handlers may queue new SQEs (and even submit when the SQ is full);
	 * that never moves the CQ head, so iterating here is safe.
	 */
	io_uring_for_each_cqe(ring, head, cqe) {
		struct ev_op *op = io_uring_cqe_get_data(cqe);

		seen++;
		if (op)
			op->done(op, cqe->res);
	}
	io_uring_cq_advance(ring, seen);
	return 0;
}

static int uring_accept(struct reactor *r, int fd, struct ev_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

static int uring_recv(struct reactor *r, int fd, void *buf, size_t len,
		      struct ev_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_recv(sqe, fd, buf, len, 0);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

static int uring_sendmsg(struct reactor *r, int fd, struct msghdr *msg,
			 struct ev_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

static void uring_socket_close(struct reactor *r, int fd)
{
	(void)r;
	close(fd);
}

static int uring_file_rw(struct reactor *r, int fd, bool write,
			 const struct iovec *iov, int iovcnt, uint64_t off,
			 unsigned flags, struct ev_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	if (write)
		io_uring_prep_writev(sqe, fd, iov, (unsigned)iovcnt, off);
	else
		io_uring_prep_readv(sqe, fd, iov, (unsigned)iovcnt, off);
	if (flags & EV_RW_DSYNC)
		sqe->rw_flags = RWF_DSYNC;
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

static int uring_file_fsync(struct reactor *r, int fd, struct ev_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

static int uring_file_fallocate(struct reactor *r, int fd, int mode,
				uint64_t off, uint64_t len, struct ev_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(r);

	io_uring_prep_fallocate(sqe, fd, mode, off, len);
	io_uring_sqe_set_data(sqe, op);
	return 0;
}

const struct ev_backend ev_uring_backend = {
	.name = "io_uring",
	.init = uring_init,
	.fini = uring_fini,
	.thread_start = uring_thread_start,
	.poll = uring_poll,
	.accept = uring_accept,
	.recv = uring_recv,
	.sendmsg = uring_sendmsg,
	.socket_close = uring_socket_close,
	.file_rw = uring_file_rw,
	.file_fsync = uring_file_fsync,
	.file_fallocate = uring_file_fallocate,
};
