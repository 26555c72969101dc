/*
 * reactor.c - the backend-independent part of the event loop: creation,
 * the run loop with its once-a-second tick, and the cross-thread post
 * queue (a mutex-protected list plus an eventfd to wake the loop).
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "base/fault.h"
#include "base/log.h"
#include "reactor_internal.h"

static _Thread_local struct reactor *tls_reactor;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct reactor *reactor_new(enum ev_kind kind, int index)
{
	struct reactor *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return NULL;
	r->kind = kind;
	r->index = index;
	r->be = kind == EV_IO_URING ? &ev_uring_backend : &ev_epoll_backend;
	pthread_mutex_init(&r->post_lock, NULL);
	r->post_tail = &r->post_head;
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->wake_fd < 0)
		goto err_free;
	r->now_ms = mono_ms();
	r->next_tick_ms = r->now_ms + 1000;
	rc = r->be->init(r);
	if (rc < 0) {
		errno = -rc;
		goto err_close;
	}
	return r;

err_close:
	close(r->wake_fd);
err_free:
	pthread_mutex_destroy(&r->post_lock);
	free(r);
	return NULL;
}

static void post_msg_run(struct ev_post *p)
{
	struct post_msg *m = container_of(p, struct post_msg, node);

	m->fn(m->arg);
	free(m);
}

void reactor_free(struct reactor *r)
{
	struct ev_post *p, *next;

	if (!r)
		return;
	r->be->fini(r);
	close(r->wake_fd);
	/* messages never run: free reactor_post()'s own, leave embedded ones */
	for (p = r->post_head; p; p = next) {
		next = p->next;
		if (p->fn == post_msg_run)
			free(container_of(p, struct post_msg, node));
	}
	pthread_mutex_destroy(&r->post_lock);
	free(r);
}

enum ev_kind reactor_kind(const struct reactor *r)
{
	return r->kind;
}

int reactor_index(const struct reactor *r)
{
	return r->index;
}

struct reactor *reactor_current(void)
{
	return tls_reactor;
}

uint64_t reactor_now_ms(struct reactor *r)
{
	return r->now_ms;
}

void reactor_clock_update(struct reactor *r)
{
	r->now_ms = mono_ms();
}

void reactor_tick_within(struct reactor *r, uint64_t ms)
{
	if (r->now_ms + ms < r->next_tick_ms)
		r->next_tick_ms = r->now_ms + ms;
}

void reactor_set_tick(struct reactor *r, void (*fn)(void *arg), void *arg)
{
	r->tick_fn = fn;
	r->tick_arg = arg;
}

static void reactor_wake(struct reactor *r)
{
	uint64_t one = 1;
	ssize_t n = write(r->wake_fd, &one, sizeof(one));

	(void)n; /* EAGAIN: counter saturated, the loop wakes anyway */
}

void reactor_stop(struct reactor *r)
{
	atomic_store(&r->stopping, true);
	reactor_wake(r);
}

void reactor_post_node(struct reactor *r, struct ev_post *p)
{
	p->next = NULL;
	pthread_mutex_lock(&r->post_lock);
	*r->post_tail = p;
	r->post_tail = &p->next;
	pthread_mutex_unlock(&r->post_lock);
	if (!atomic_exchange(&r->post_pending, true))
		reactor_wake(r);
}

int reactor_post(struct reactor *r, void (*fn)(void *arg), void *arg)
{
	struct post_msg *m = fault_hit(FAULT_POST_ALLOC) ? NULL
							 : malloc(sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->node.fn = post_msg_run;
	m->fn = fn;
	m->arg = arg;
	reactor_post_node(r, &m->node);
	return 0;
}

void reactor_drain_posts(struct reactor *r)
{
	struct ev_post *p, *next;

	atomic_store(&r->post_pending, false);
	pthread_mutex_lock(&r->post_lock);
	p = r->post_head;
	r->post_head = NULL;
	r->post_tail = &r->post_head;
	pthread_mutex_unlock(&r->post_lock);
	for (; p; p = next) {
		next = p->next;	/* fn may free or repost the node */
		p->fn(p);
	}
}

int reactor_run(struct reactor *r)
{
	int rc = 0;

	tls_reactor = r;
	if (r->be->thread_start) {
		rc = r->be->thread_start(r);
		if (rc < 0) {
			log_err("reactor %d: cannot start %s: %s", r->index,
				r->be->name, strerror(-rc));
			return rc;
		}
	}
	while (!atomic_load(&r->stopping)) {
		int timeout;

		r->now_ms = mono_ms();
		if (r->now_ms >= r->next_tick_ms) {
			r->next_tick_ms = r->now_ms + 1000;
			if (r->tick_fn)
				r->tick_fn(r->tick_arg);
		}
		timeout = (int)(r->next_tick_ms - r->now_ms);
		rc = r->be->poll(r, timeout);
		if (rc < 0 && rc != -EINTR && rc != -ETIME) {
			log_err("reactor %d: %s poll failed: %s", r->index,
				r->be->name, strerror(-rc));
			break;
		}
		rc = 0;
		if (atomic_load(&r->post_pending))
			reactor_drain_posts(r);
	}
	tls_reactor = NULL;
	return rc;
}

/* Thin dispatchers: one indirection, chosen once at reactor_new(). */

int reactor_accept(struct reactor *r, int fd, struct ev_op *op)
{
	return r->be->accept(r, fd, op);
}

int reactor_recv(struct reactor *r, int fd, void *buf, size_t len,
		 struct ev_op *op)
{
	return r->be->recv(r, fd, buf, len, op);
}

int reactor_sendmsg(struct reactor *r, int fd, struct msghdr *msg,
		    struct ev_op *op)
{
	return r->be->sendmsg(r, fd, msg, op);
}

void reactor_socket_shutdown(struct reactor *r, int fd)
{
	(void)r;
	shutdown(fd, SHUT_RDWR);
}

void reactor_socket_close(struct reactor *r, int fd)
{
	r->be->socket_close(r, fd);
}

int reactor_file_rw(struct reactor *r, int fd, bool write,
		    const struct iovec *iov, int iovcnt, uint64_t off,
		    unsigned flags, struct ev_op *op)
{
	return r->be->file_rw(r, fd, write, iov, iovcnt, off, flags, op);
}

int reactor_file_fsync(struct reactor *r, int fd, struct ev_op *op)
{
	return r->be->file_fsync(r, fd, op);
}

int reactor_file_fallocate(struct reactor *r, int fd, int mode, uint64_t off,
			   uint64_t len, struct ev_op *op)
{
	return r->be->file_fallocate(r, fd, mode, off, len, op);
}
