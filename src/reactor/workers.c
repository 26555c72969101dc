/*
 * workers.c - a small pool of threads for blocking file syscalls, used by
 * the epoll backend for buffered files (libaio is only asynchronous with
 * O_DIRECT). Jobs come from reactor threads and go back to the submitting
 * reactor through wp_complete_for(). Started on first use.
 *
 * Both backends also hand it generic blocking work (reactor_work()):
 * such a job runs its function and goes back to its reactor as a post,
 * since only the epoll backend has a completion queue for wp_job; one
 * without a done function (a store's close) does not go back at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/base.h"
#include "base/log.h"
#include "reactor_internal.h"

#define WP_THREADS 4

static pthread_mutex_t wp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wp_cond = PTHREAD_COND_INITIALIZER;
static struct wp_job *wp_head, **wp_tail = &wp_head;
static int wp_started;

static void wp_run(struct wp_job *j)
{
	ssize_t n;

	switch (j->kind) {
	case WP_READ:
	case WP_WRITE: {
		/* Loop over short transfers: a file op completes in full. */
		struct iovec iov[64];
		int cnt = j->iovcnt < 64 ? j->iovcnt : 64;
		uint64_t off = j->off, total = 0;
		int flags = (j->flags & EV_RW_DSYNC) ? RWF_DSYNC : 0;
		int idx = 0;

		for (int i = 0; i < cnt; i++)
			iov[i] = j->iov[i];
		while (idx < cnt) {
			if (j->kind == WP_READ)
				n = preadv2(j->fd, iov + idx, cnt - idx,
					    (off_t)off, 0);
			else
				n = pwritev2(j->fd, iov + idx, cnt - idx,
					     (off_t)off, flags);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				j->res = -errno;
				return;
			}
			if (n == 0)
				break;	/* EOF */
			total += (uint64_t)n;
			off += (uint64_t)n;
			while (idx < cnt && (size_t)n >= iov[idx].iov_len) {
				n -= (ssize_t)iov[idx].iov_len;
				idx++;
			}
			if (idx < cnt) {
				iov[idx].iov_base = (char *)iov[idx].iov_base + n;
				iov[idx].iov_len -= (size_t)n;
			}
		}
		j->res = (int)total;
		return;
	}
	case WP_FSYNC:
		j->res = fdatasync(j->fd) < 0 ? -errno : 0;
		return;
	case WP_FALLOCATE:
		j->res = fallocate(j->fd, j->mode, (off_t)j->off,
				   (off_t)j->len) < 0 ? -errno : 0;
		return;
	case WP_CALL:
		j->work->fn(j->work);
		return;
	}
}

static void wp_work_done(struct ev_post *p)
{
	struct ev_work *w = container_of(p, struct ev_work, post);

	w->done(w);
}

static void *wp_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct wp_job *j;

		pthread_mutex_lock(&wp_lock);
		while (!wp_head)
			pthread_cond_wait(&wp_cond, &wp_lock);
		j = wp_head;
		wp_head = j->next;
		if (!wp_head)
			wp_tail = &wp_head;
		pthread_mutex_unlock(&wp_lock);
		if (j->kind == WP_CALL) {
			struct ev_work *w = j->work;
			/* no done: fn owns w and may have freed it */
			bool post = w->done != NULL;

			wp_run(j);
			free(j);
			if (post) {
				w->post.fn = wp_work_done;
				reactor_post_node(w->r, &w->post);
			}
			continue;
		}
		wp_run(j);
		wp_complete_for(j->r, j);
	}
	return NULL;
}

int wp_submit(struct wp_job *job)
{
	pthread_mutex_lock(&wp_lock);
	if (!wp_started) {
		for (int i = 0; i < WP_THREADS; i++) {
			pthread_t th;
			sigset_t all, old;

			/* workers never take the daemon's signals */
			sigfillset(&all);
			pthread_sigmask(SIG_BLOCK, &all, &old);
			if (pthread_create(&th, NULL, wp_main, NULL) == 0) {
				pthread_detach(th);
				wp_started++;
			}
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
		if (!wp_started) {
			pthread_mutex_unlock(&wp_lock);
			log_err("cannot start I/O worker threads");
			return -EAGAIN;
		}
	}
	job->next = NULL;
	*wp_tail = job;
	wp_tail = &job->next;
	pthread_cond_signal(&wp_cond);
	pthread_mutex_unlock(&wp_lock);
	return 0;
}

int reactor_work(struct reactor *r, struct ev_work *w)
{
	struct wp_job *j;
	int rc;

	w->r = r;
	if (!r) {
		void (*done)(struct ev_work *w) = w->done;

		w->fn(w);
		if (done)
			done(w);
		return 0;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->kind = WP_CALL;
	j->r = r;
	j->work = w;
	rc = wp_submit(j);
	if (rc)
		free(j);
	return rc;
}
