/*
 * ev_epoll.c - fallback backend for kernels without io_uring (or with it
 * disabled): epoll readiness for sockets, libaio for O_DIRECT files and a
 * worker pool for buffered files (libaio would block on those).
 *
 * Socket operations are tried at once; a result (anything but EAGAIN) is
 * queued as a completion and delivered from the loop, never from inside
 * the submitting call, so both backends call ->done at the same points.
 * Each fd is registered once, edge-triggered, and remembers at most one
 * pending recv (or accept) and one pending send.
 */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/base.h"
#include "base/log.h"
#include "reactor_internal.h"

#define AIO_DEPTH 256

enum sock_kind { SOCK_PEND_NONE, SOCK_PEND_RECV, SOCK_PEND_ACCEPT };

struct fd_slot {
	bool registered;
	enum sock_kind rkind;
	struct ev_op *rop;		/* pending recv/accept */
	void *rbuf;
	size_t rlen;
	struct ev_op *sop;		/* pending sendmsg */
	struct msghdr *smsg;
};

struct cq_ent {
	struct ev_op *op;
	int res;
};

struct epoll_priv {
	int epfd;
	struct fd_slot *fds;
	int nfds;
	struct cq_ent *cq;		/* ready completions, FIFO */
	size_t cq_len, cq_cap;
	io_context_t aio;
	int aio_efd;
	int aio_inflight;
	struct wp_job *free_jobs;	/* job storage, reused */
	pthread_mutex_t done_lock;	/* worker → loop hand-off */
	struct wp_job *done_jobs;
};

/* Per fd number: 0 unknown, 1 buffered, 2 O_DIRECT (see reactor_file_forget). */
static _Atomic unsigned char fd_direct[65536];

void reactor_file_forget(int fd)
{
	if (fd >= 0 && fd < (int)ARRAY_SIZE(fd_direct))
		atomic_store(&fd_direct[fd], 0);
}

static bool fd_is_direct(int fd)
{
	unsigned char v;

	if (fd < 0 || fd >= (int)ARRAY_SIZE(fd_direct))
		return false;
	v = atomic_load(&fd_direct[fd]);
	if (v == 0) {
		int fl = fcntl(fd, F_GETFL);

		v = fl >= 0 && (fl & O_DIRECT) ? 2 : 1;
		atomic_store(&fd_direct[fd], v);
	}
	return v == 2;
}

static struct epoll_priv *priv_of(struct reactor *r)
{
	return r->be_priv;
}

static int cq_push(struct epoll_priv *p, struct ev_op *op, int res)
{
	if (p->cq_len == p->cq_cap) {
		size_t cap = p->cq_cap ? p->cq_cap * 2 : 256;
		struct cq_ent *n = realloc(p->cq, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->cq = n;
		p->cq_cap = cap;
	}
	p->cq[p->cq_len++] = (struct cq_ent){ op, res };
	return 0;
}

static struct fd_slot *slot_get(struct epoll_priv *p, int fd)
{
	if (fd >= p->nfds) {
		int n = MAX(fd + 1, p->nfds * 2);
		struct fd_slot *s = realloc(p->fds, (size_t)n * sizeof(*s));

		if (!s)
			return NULL;
		memset(s + p->nfds, 0, (size_t)(n - p->nfds) * sizeof(*s));
		p->fds = s;
		p->nfds = n;
	}
	return &p->fds[fd];
}

static int slot_register(struct epoll_priv *p, int fd, struct fd_slot *s)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = (uint64_t)fd,
	};

	if (s->registered)
		return 0;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	s->registered = true;
	return 0;
}

static int aio_reap(struct reactor *r);

static int epoll_init(struct reactor *r)
{
	struct epoll_priv *p = calloc(1, sizeof(*p));
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	if (!p)
		return -ENOMEM;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		rc = -errno;
		goto err_free;
	}
	rc = io_setup(AIO_DEPTH, &p->aio);
	if (rc < 0)
		goto err_epoll;
	p->aio_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->aio_efd < 0) {
		rc = -errno;
		goto err_aio;
	}
	pthread_mutex_init(&p->done_lock, NULL);
	/* data.u64 above 2^32 marks our own fds, never a socket number */
	ev.data.u64 = 1ULL << 32;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, r->wake_fd, &ev) < 0)
		goto err_errno;
	ev.data.u64 = 2ULL << 32;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->aio_efd, &ev) < 0)
		goto err_errno;
	r->be_priv = p;
	return 0;

err_errno:
	rc = -errno;
	pthread_mutex_destroy(&p->done_lock);
	close(p->aio_efd);
err_aio:
	io_destroy(p->aio);
err_epoll:
	close(p->epfd);
err_free:
	free(p);
	return rc;
}

static void epoll_fini(struct reactor *r)
{
	struct epoll_priv *p = r->be_priv;
	struct wp_job *j, *next;

	if (!p)
		return;
	for (j = p->free_jobs; j; j = next) {
		next = j->next;
		free(j);
	}
	close(p->epfd);
	close(p->aio_efd);
	io_destroy(p->aio);
	pthread_mutex_destroy(&p->done_lock);
	free(p->fds);
	free(p->cq);
	free(p);
	r->be_priv = NULL;
}

/* Attempts the pending read side of @s; true when it finished. */
static bool try_read_side(struct epoll_priv *p, int fd, struct fd_slot *s)
{
	ssize_t n;

	if (s->rkind == SOCK_PEND_ACCEPT)
		n = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	else
		n = recv(fd, s->rbuf, s->rlen, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return false;
	if (n < 0 && errno == EINTR)
		return false;
	cq_push(p, s->rop, n < 0 ? -errno : (int)n);
	s->rkind = SOCK_PEND_NONE;
	s->rop = NULL;
	return true;
}

static bool try_send_side(struct epoll_priv *p, int fd, struct fd_slot *s)
{
	ssize_t n = sendmsg(fd, s->smsg, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	cq_push(p, s->sop, n < 0 ? -errno : (int)n);
	s->sop = NULL;
	s->smsg = NULL;
	return true;
}

static int arm_read(struct reactor *r, int fd, enum sock_kind kind, void *buf,
		    size_t len, struct ev_op *op)
{
	struct epoll_priv *p = priv_of(r);
	struct fd_slot *s = slot_get(p, fd);
	int rc;

	if (!s)
		return -ENOMEM;
	if (s->rop)
		return -EBUSY;
	rc = slot_register(p, fd, s);
	if (rc < 0)
		return rc;
	s->rkind = kind;
	s->rop = op;
	s->rbuf = buf;
	s->rlen = len;
	try_read_side(p, fd, s);
	return 0;
}

static int epoll_accept(struct reactor *r, int fd, struct ev_op *op)
{
	return arm_read(r, fd, SOCK_PEND_ACCEPT, NULL, 0, op);
}

static int epoll_recv(struct reactor *r, int fd, void *buf, size_t len,
		      struct ev_op *op)
{
	return arm_read(r, fd, SOCK_PEND_RECV, buf, len, op);
}

static int epoll_sendmsg(struct reactor *r, int fd, struct msghdr *msg,
			 struct ev_op *op)
{
	struct epoll_priv *p = priv_of(r);
	struct fd_slot *s = slot_get(p, fd);
	int rc;

	if (!s)
		return -ENOMEM;
	if (s->sop)
		return -EBUSY;
	rc = slot_register(p, fd, s);
	if (rc < 0)
		return rc;
	s->sop = op;
	s->smsg = msg;
	try_send_side(p, fd, s);
	return 0;
}

static void epoll_socket_close(struct reactor *r, int fd)
{
	struct epoll_priv *p = priv_of(r);

	if (fd < p->nfds) {
		struct fd_slot *s = &p->fds[fd];

		if (s->registered)
			epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
		memset(s, 0, sizeof(*s));
	}
	close(fd);
}

/* --- files -------------------------------------------------------------- */

static struct wp_job *job_get(struct epoll_priv *p)
{
	struct wp_job *j = p->free_jobs;

	if (j) {
		p->free_jobs = j->next;
		memset(j, 0, sizeof(*j));
		return j;
	}
	return calloc(1, sizeof(*j));
}

static void job_put(struct epoll_priv *p, struct wp_job *j)
{
	j->next = p->free_jobs;
	p->free_jobs = j;
}

/* libaio keeps the iocb next to the job so the event leads back to it. */
struct aio_job {
	struct iocb cb;
	struct ev_op *op;
	struct aio_job *next_free;
};

static int aio_submit_rw(struct reactor *r, int fd, bool write,
			 const struct iovec *iov, int iovcnt, uint64_t off,
			 unsigned flags, struct ev_op *op)
{
	struct epoll_priv *p = priv_of(r);
	struct aio_job *aj = calloc(1, sizeof(*aj));
	struct iocb *cbs[1];
	int rc;

	if (!aj)
		return -ENOMEM;
	if (write)
		io_prep_pwritev(&aj->cb, fd, iov, iovcnt, (long long)off);
	else
		io_prep_preadv(&aj->cb, fd, iov, iovcnt, (long long)off);
	if (flags & EV_RW_DSYNC)
		aj->cb.aio_rw_flags = RWF_DSYNC;
	io_set_eventfd(&aj->cb, p->aio_efd);
	aj->cb.data = aj;
	aj->op = op;
	cbs[0] = &aj->cb;
	rc = io_submit(p->aio, 1, cbs);
	if (rc != 1) {
		free(aj);
		return rc < 0 ? rc : -EAGAIN;
	}
	p->aio_inflight++;
	return 0;
}

static int aio_reap(struct reactor *r)
{
	struct epoll_priv *p = priv_of(r);
	struct io_event evs[64];
	uint64_t cnt;
	int n;

	if (read(p->aio_efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		return -errno;
	while (p->aio_inflight > 0) {
		struct timespec zero = { 0, 0 };

		n = io_getevents(p->aio, 0, ARRAY_SIZE(evs), evs, &zero);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			struct aio_job *aj = evs[i].data;

			p->aio_inflight--;
			cq_push(p, aj->op, (int)(long)evs[i].res);
			free(aj);
		}
	}
	return 0;
}

static int wp_file_job(struct reactor *r, struct wp_job *j)
{
	j->r = r;
	return wp_submit(j);
}

static int epoll_file_rw(struct reactor *r, int fd, bool write,
			 const struct iovec *iov, int iovcnt, uint64_t off,
			 unsigned flags, struct ev_op *op)
{
	struct epoll_priv *p = priv_of(r);
	struct wp_job *j;

	if (fd_is_direct(fd))
		return aio_submit_rw(r, fd, write, iov, iovcnt, off, flags, op);
	j = job_get(p);
	if (!j)
		return -ENOMEM;
	j->kind = write ? WP_WRITE : WP_READ;
	j->fd = fd;
	j->iov = iov;
	j->iovcnt = iovcnt;
	j->off = off;
	j->flags = flags;
	j->op = op;
	return wp_file_job(r, j);
}

static int epoll_file_fsync(struct reactor *r, int fd, struct ev_op *op)
{
	struct wp_job *j = job_get(priv_of(r));

	if (!j)
		return -ENOMEM;
	j->kind = WP_FSYNC;
	j->fd = fd;
	j->op = op;
	return wp_file_job(r, j);
}

static int epoll_file_fallocate(struct reactor *r, int fd, int mode,
				uint64_t off, uint64_t len, struct ev_op *op)
{
	struct wp_job *j = job_get(priv_of(r));

	if (!j)
		return -ENOMEM;
	j->kind = WP_FALLOCATE;
	j->fd = fd;
	j->mode = mode;
	j->off = off;
	j->len = len;
	j->op = op;
	return wp_file_job(r, j);
}

/* Called on a worker thread: queue for the loop and wake it. */
void wp_complete_for(struct reactor *r, struct wp_job *job)
{
	struct epoll_priv *p = priv_of(r);
	uint64_t one = 1;

	pthread_mutex_lock(&p->done_lock);
	job->next = p->done_jobs;
	p->done_jobs = job;
	pthread_mutex_unlock(&p->done_lock);
	if (write(r->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("reactor %d: eventfd write: %s", r->index,
			 strerror(errno));
}

static void collect_worker_done(struct reactor *r)
{
	struct epoll_priv *p = priv_of(r);
	struct wp_job *j, *next, *rev = NULL;

	pthread_mutex_lock(&p->done_lock);
	j = p->done_jobs;
	p->done_jobs = NULL;
	pthread_mutex_unlock(&p->done_lock);
	for (; j; j = next) {	/* restore submission order */
		next = j->next;
		j->next = rev;
		rev = j;
	}
	for (j = rev; j; j = next) {
		next = j->next;
		cq_push(p, j->op, j->res);
		job_put(p, j);
	}
}

static int epoll_poll(struct reactor *r, int timeout_ms)
{
	struct epoll_priv *p = priv_of(r);
	struct epoll_event evs[128];
	int n;

	if (p->cq_len)
		timeout_ms = 0;
	n = epoll_wait(p->epfd, evs, ARRAY_SIZE(evs), timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	reactor_clock_update(r);
	for (int i = 0; i < n; i++) {
		uint64_t key = evs[i].data.u64;

		if (key == 1ULL << 32) {
			uint64_t cnt;

			if (read(r->wake_fd, &cnt, sizeof(cnt)) < 0 &&
			    errno != EAGAIN)
				return -errno;
			collect_worker_done(r);
			reactor_drain_posts(r);
		} else if (key == 2ULL << 32) {
			aio_reap(r);
		} else {
			int fd = (int)key;
			struct fd_slot *s = fd < p->nfds ? &p->fds[fd] : NULL;

			if (!s)
				continue;
			if (s->rop && (evs[i].events &
				       (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
				try_read_side(p, fd, s);
			if (s->sop && (evs[i].events &
				       (EPOLLOUT | EPOLLHUP | EPOLLERR)))
				try_send_side(p, fd, s);
		}
	}
	/*
	 * Deliver completions in order. Handlers may queue more (a send
	 * that finishes at once): those are delivered in this same pass.
	 */
	for (size_t i = 0; i < p->cq_len; i++) {
		struct cq_ent e = p->cq[i];

		e.op->done(e.op, e.res);
	}
	p->cq_len = 0;
	return 0;
}

const struct ev_backend ev_epoll_backend = {
	.name = "epoll",
	.init = epoll_init,
	.fini = epoll_fini,
	.poll = epoll_poll,
	.accept = epoll_accept,
	.recv = epoll_recv,
	.sendmsg = epoll_sendmsg,
	.socket_close = epoll_socket_close,
	.file_rw = epoll_file_rw,
	.file_fsync = epoll_file_fsync,
	.file_fallocate = epoll_file_fallocate,
};
