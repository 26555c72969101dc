/*
 * tmf.c - task management (RFC 7143 §11.5-6, SAM-5 §7) and the fence that
 * makes it safe: a task management function, a session reinstatement or
 * a forced LUN removal is answered only once every task it aborted has
 * no store I/O left in flight, on every reactor. Otherwise an initiator
 * told "the task is gone" retries or fails over, writes newer data, and
 * the stale write lands on top of it.
 *
 * A fence counts what it waits for (pending): one hold by its builder,
 * one per reactor it was posted to until that reactor has looked at its
 * connections, and one per aborted task whose I/O is in flight (the task
 * links to the fence and drops it when the SCSI layer completes it).
 * When pending reaches zero the fence fires on its home reactor (or wakes
 * the control thread that waits for it) and is freed there.
 *
 * A fence not fired after tmf_timeout expires: every LU of the target
 * that still has aborted I/O in flight is stalled (NOT READY until that
 * I/O completed, scsi_lu_stall), and only then is the waiter answered
 * (FUNCTION REJECTED for a TMF). The fence itself lives on until it fires.
 *
 * Task sets are per I_T nexus (Control mode page TST=001b): ABORT TASK
 * SET and CLEAR TASK SET touch the issuing session only; LOGICAL UNIT
 * RESET and TARGET WARM/COLD RESET reach every session, on every reactor.
 *
 * PERSISTENT RESERVE OUT with PREEMPT AND ABORT (SPC-4 §5.13.11.2.6) uses
 * the same fence for the SCSI layer (struct scsi_transport_ops): the
 * tasks on its LU of every session whose I_T nexus was preempted, on
 * every reactor, are aborted as a CLEAR TASK SET from another nexus
 * would, and the PR OUT completes when the fence fires.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/fault.h"
#include "base/log.h"
#include "iscsi_internal.h"

enum fence_scope {
	FENCE_LOCAL,		/* only what the builder attached itself */
	FENCE_LU,		/* every task on lu, every session */
	FENCE_TARGET,		/* every task of every session of target */
	FENCE_NEXUS,		/* the sessions of one initiator port */
	FENCE_PREEMPT,		/* tasks on lu of the sessions of itns */
};

struct fence_fan {
	struct ev_post post;
	struct fence *f;
	struct iscsi_server_thread *thr;
};

struct fence {
	atomic_int pending;
	enum fence_scope scope;
	struct iscsi_conn *origin;	/* skipped by the fan-out; may be NULL */
	struct scsi_target *target;	/* LU, TARGET, NEXUS scopes */
	struct scsi_lu *lu;		/* LU, PREEMPT scopes (reference held) */
	char initiator_port[256];	/* NEXUS scope */
	struct scsi_itn *itns;		/* PREEMPT scope: the I_T nexuses */
	unsigned nitns;
	bool close_sessions;		/* close the sessions it reaches */

	/* the waiter: a connection's reactor, or a thread on cond */
	struct iscsi_server_thread *home;
	void (*done)(struct fence *f, bool expired);
	bool answered;
	uint64_t deadline_ms;
	struct list_head link;		/* home->fences */
	struct ev_post fire;
	pthread_mutex_t lock;		/* thread waiter only */
	pthread_cond_t cond;
	bool fired, abandoned;

	/* what the done callback needs */
	uint32_t itt;
	uint8_t function;
	uint8_t response;
	void (*resume)(struct iscsi_conn *c, bool expired);
	/* PREEMPT AND ABORT: the PR OUT and the SCSI layer's continuation */
	struct iscsi_task *task;
	void (*task_done)(struct scsi_task *t, bool expired);

	int nfan;
	struct fence_fan fan[];
};

static unsigned tmf_timeout_ms(const struct iscsi_settings *set)
{
	return (set->tmf_timeout ? set->tmf_timeout : 30) * 1000u;
}

/*
 * A fence lives until the I/O it waits for is gone, which a stuck store
 * can delay without end: a peer may have at most FENCES_PER_CONN waiting
 * and a reactor at most FENCES_PER_REACTOR alive; beyond that the
 * function is refused at once (nothing aborted).
 */
#define FENCES_PER_CONN 16
#define FENCES_PER_REACTOR 1024

static bool fence_room(const struct iscsi_conn *c)
{
	return c->fences_waiting < FENCES_PER_CONN &&
	       c->thr->nfences < FENCES_PER_REACTOR;
}

static struct fence *fence_new(enum fence_scope scope, int nfan)
{
	struct fence *f;

	if (unlikely(fault_hit(FAULT_TMF_ALLOC)))
		return NULL;
	f = calloc(1, sizeof(*f) + (size_t)nfan * sizeof(f->fan[0]));
	if (!f)
		return NULL;
	atomic_init(&f->pending, 1);	/* the builder's hold */
	f->scope = scope;
	f->nfan = nfan;
	list_init(&f->link);
	return f;
}

static void fence_free(struct fence *f)
{
	if (f->lu)
		scsi_lu_put(f->lu);
	free(f->itns);
	if (!f->home) {
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->lock);
	}
	free(f);
}

/* On the home reactor: everything the fence waited for is gone. */
static void fence_fired(struct ev_post *p)
{
	struct fence *f = container_of(p, struct fence, fire);

	list_del(&f->link);
	f->home->nfences--;
	if (!f->answered) {
		f->answered = true;
		f->done(f, false);
	}
	fence_free(f);
}

static void fence_put(struct fence *f)
{
	if (atomic_fetch_sub(&f->pending, 1) != 1)
		return;
	if (f->home) {
		f->fire.fn = fence_fired;
		reactor_post_node(f->home->r, &f->fire);
		return;
	}
	pthread_mutex_lock(&f->lock);
	f->fired = true;
	if (f->abandoned) {
		pthread_mutex_unlock(&f->lock);
		fence_free(f);
		return;
	}
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* Makes @f wait for @t's store I/O (the task is executing). */
static void fence_attach(struct fence *f, struct iscsi_task *t)
{
	struct fence_link *l;

	if (!t->fences) {
		l = &t->flink;
	} else {
		l = malloc(sizeof(*l));
		if (!l) {
			/*
			 * Cannot link: the fence cannot see this task end,
			 * so it may only expire (the LU is then stalled until
			 * the I/O is gone): never answered early.
			 */
			log_err("%s: out of memory fencing ITT 0x%x",
				t->conn->peer_str, t->itt);
			atomic_fetch_add(&f->pending, 1);
			return;
		}
	}
	atomic_fetch_add(&f->pending, 1);
	l->f = f;
	l->next = t->fences;
	t->fences = l;
}

void task_fences_put(struct iscsi_task *t)
{
	struct fence_link *l = t->fences, *next;

	t->fences = NULL;
	for (; l; l = next) {
		next = l->next;
		fence_put(l->f);
		if (l != &t->flink)
			free(l);
	}
}

/* Accepted, not yet handed to the SCSI layer: nothing in flight. */
static bool task_not_started(const struct iscsi_task *t)
{
	return t->state == TASK_WAIT_BUF || t->state == TASK_DATA_OUT ||
	       t->state == TASK_QUEUED;
}

void task_abort(struct iscsi_conn *c, struct iscsi_task *t, struct fence *f,
		bool other_nexus)
{
	bool tas = other_nexus && t->scsi.lu && scsi_lu_tas(t->scsi.lu);

	if (t->state == TASK_FREE)
		return;
	if (t->state == TASK_EXEC) {
		/* its I/O goes on; the answer waits for it */
		scsi_task_abort(&t->scsi);
		if (f)
			fence_attach(f, t);
		/*
		 * It stays hashed while it runs: a later ABORT TASK for it
		 * finds it and waits too, and its ITT is not reused.
		 */
		if (!t->aborted) {
			t->aborted = true;
			t->tas = tas;
		}
		return;
	}
	if (t->aborted)
		return;
	t->aborted = true;
	task_dequeue(t);
	budget_cancel(c, t);
	/* nothing in flight: it leaves its task set now */
	task_order_end(c, t);
	if (task_not_started(t) && tas && c->state == CONN_FFP) {
		/* nothing in flight: TASK ABORTED at once (SAM-5 §7.3) */
		task_respond_aborted(c, t);
		return;
	}
	task_unhash(c, t);
	if (task_not_started(t))
		t->state = TASK_RESPOND;
	task_release(c, t);
}

/* --- fan-out ------------------------------------------------------------ */

static bool conn_in_scope(const struct fence *f, const struct iscsi_conn *c)
{
	const struct iscsi_session *s = c->sess;

	if (c == f->origin || !s || s->discovery || !c->task_pool)
		return false;
	switch (f->scope) {
	case FENCE_LU:
		return true;	/* tasks are matched on their LU */
	case FENCE_TARGET:
		return s->nexus.target == f->target;
	case FENCE_NEXUS:
		return s->nexus.target == f->target &&
		       strcasecmp(s->nexus.initiator_port,
				  f->initiator_port) == 0;
	case FENCE_PREEMPT:
		/* the identity registrations keep (pr.c compares the same) */
		for (unsigned i = 0; i < f->nitns; i++)
			if (s->nexus.rel_port_id == f->itns[i].rel_port_id &&
			    strcmp(s->nexus.initiator_port,
				   f->itns[i].initiator_port) == 0)
				return true;
		return false;
	case FENCE_LOCAL:
		break;
	}
	return false;
}

/* The fence covers @t of a connection in scope. */
static bool task_in_scope(const struct fence *f, const struct iscsi_task *t)
{
	if (f->scope == FENCE_LU || f->scope == FENCE_PREEMPT)
		return t->scsi.lu == f->lu;
	return true;
}

/* On each reactor: abort what the fence covers, attach it to their I/O. */
static void fence_fan_run(struct ev_post *p)
{
	struct fence_fan *fan = container_of(p, struct fence_fan, post);
	struct fence *f = fan->f;
	struct iscsi_conn *c, *cn;

	list_for_each_entry_safe(c, cn, &fan->thr->conns, link) {
		struct iscsi_task *t, *n;

		if (!conn_in_scope(f, c))
			continue;
		if (f->close_sessions && c->state != CONN_CLOSING)
			conn_close(c, f->scope == FENCE_NEXUS ?
				   "session reinstated" : "target cold reset");
		list_for_each_entry_safe(t, n, &c->active, link)
			if (task_in_scope(f, t))
				task_abort(c, t, f, true);
	}
	fence_put(f);
}

/* Posts @f to every reactor, then drops the builder's hold. */
static void fence_launch(struct fence *f)
{
	for (int i = 0; i < f->nfan; i++) {
		f->fan[i].f = f;
		f->fan[i].thr = server_thread(i);
		f->fan[i].post.fn = fence_fan_run;
		atomic_fetch_add(&f->pending, 1);
		reactor_post_node(f->fan[i].thr->r, &f->fan[i].post);
	}
	fence_put(f);
}

/* Homes @f on @c's reactor; @c is not freed before done has run. */
static void fence_home(struct fence *f, struct iscsi_conn *c,
		       void (*done)(struct fence *f, bool expired))
{
	f->home = c->thr;
	f->origin = c;
	f->done = done;
	f->deadline_ms = reactor_now_ms(c->r) + tmf_timeout_ms(c->set);
	c->fences_waiting++;
	c->thr->nfences++;
	list_add_tail(&f->link, &c->thr->fences);
}

/* The waiter is done with @f: lets its connection go. */
static void fence_unhome(struct fence *f)
{
	struct iscsi_conn *c = f->origin;

	f->origin = NULL;
	c->fences_waiting--;
	conn_maybe_free(c);
}

/*
 * tmf_timeout passed: nothing new may reach the media that a stale
 * aborted write could still land on.
 */
static void fence_stall(struct fence *f)
{
	uint64_t luns[SCSI_MAX_LUNS];
	int n;

	if (f->lu) {
		scsi_lu_stall(f->lu);
		return;
	}
	if (!f->target)
		return;
	n = scsi_target_list_luns(f->target, luns, SCSI_MAX_LUNS);
	for (int i = 0; i < n; i++) {
		struct scsi_lu *lu = scsi_target_get_lu(f->target, luns[i]);

		if (lu) {
			scsi_lu_stall(lu);
			scsi_lu_put(lu);
		}
	}
}

void fences_tick(struct iscsi_server_thread *thr, uint64_t now_ms)
{
	struct fence *f, *n;

	list_for_each_entry_safe(f, n, &thr->fences, link) {
		if (f->answered || now_ms < f->deadline_ms)
			continue;
		log_warn("%s: aborted I/O still in flight after %u s; its LUs "
			 "answer NOT READY until it completes",
			 f->origin ? f->origin->peer_str : "?",
			 tmf_timeout_ms(thr->set) / 1000);
		fence_stall(f);
		f->answered = true;
		f->done(f, true);
	}
}

/* --- task management functions ----------------------------------------- */

static void tmf_answer(struct fence *f, bool expired)
{
	struct iscsi_conn *c = f->origin;
	struct ctl_pdu *p;

	if (c->state == CONN_FFP) {
		p = conn_ctl_new(c, OP_TMF_RSP, BHS_F, NULL, 0);
		if (p) {
			/* RFC 7143 §11.6.1: never "complete" while it may land */
			p->bhs[BHS_B2] = expired ? TMF_RSP_REJECTED : f->response;
			put_be32(p->bhs + BHS_ITT, f->itt);
			/* §11.5.1: a cold reset closes all connections */
			if (f->function == TMF_TARGET_COLD_RESET && !expired)
				p->close_after = true;
			conn_kick_tx(c);
		} else {
			conn_close(c, "out of memory");
		}
	}
	fence_unhome(f);
}

/*
 * Answers at once; @info: RFC 7144 Additional Response Information
 * (bytes 8-10, QUERY ASYNCHRONOUS EVENT) or NULL.
 */
static void tmf_respond_info(struct iscsi_conn *c, const struct bhs *h,
			     uint8_t response, const uint8_t info[3])
{
	struct ctl_pdu *p = conn_ctl_new(c, OP_TMF_RSP, BHS_F, NULL, 0);

	if (!p) {
		conn_close(c, "out of memory");
		return;
	}
	p->bhs[BHS_B2] = response;
	if (info)
		memcpy(p->bhs + 8, info, 3);
	put_be32(p->bhs + BHS_ITT, h->itt);
	conn_kick_tx(c);
}

static void tmf_respond_now(struct iscsi_conn *c, const struct bhs *h,
			    uint8_t response)
{
	tmf_respond_info(c, h, response, NULL);
}

/* In its task set: not completed, not aborted (SAM-5 QUERY TASK). */
static bool task_pending(const struct iscsi_task *t, uint64_t lun)
{
	return t->scsi.lun == lun && !t->aborted &&
	       (task_not_started(t) || t->state == TASK_EXEC);
}

/*
 * RFC 7144 §6 / SAM-5 §7.8-7.10: the QUERY functions answer FUNCTION
 * SUCCEEDED when they find what they ask about, FUNCTION COMPLETE when
 * not; they change nothing.
 */
static void tmf_query(struct iscsi_conn *c, const struct bhs *h,
		      uint8_t function, uint64_t lun)
{
	struct iscsi_session *s = c->sess;
	struct scsi_lu *lu = session_lu(s, lun);
	uint8_t response = TMF_RSP_COMPLETE, info[3] = { 0 };
	struct iscsi_task *t;

	if (!lu) {
		tmf_respond_now(c, h, TMF_RSP_NO_LUN);
		return;
	}
	switch (function) {
	case TMF_QUERY_TASK:
		t = task_find(c, h->ttt);
		if (t && task_pending(t, lun))
			response = TMF_RSP_SUCCEEDED;
		break;
	case TMF_QUERY_TASK_SET:
		list_for_each_entry(t, &c->active, link)
			if (task_pending(t, lun))
				response = TMF_RSP_SUCCEEDED;
		break;
	case TMF_QUERY_ASYNC_EVENT: {
		enum sense_reason r = scsi_ua_pending(lu, &s->nexus);
		uint8_t key;

		if (r != SENSE_NONE) {
			/* UADE DEPTH 01b (one reported), key, ASC, ASCQ */
			scsi_sense_code(r, &key, &info[1], &info[2]);
			info[0] = 0x10 | (key & 0x0f);
			response = TMF_RSP_SUCCEEDED;
		}
		break;
	}
	}
	tmf_respond_info(c, h, response, info);
}

/* Aborts the issuing session's tasks that match; @f waits for them. */
static void abort_matching(struct iscsi_conn *c, struct fence *f,
			   bool all_luns, uint64_t lun, uint32_t below_cmdsn)
{
	struct iscsi_task *t, *n;

	list_for_each_entry_safe(t, n, &c->active, link) {
		if (!all_luns && t->scsi.lun != lun)
			continue;
		/* SAM-5 §7: only tasks received before the function */
		if (!t->immediate && !sn_lt(t->cmdsn, below_cmdsn))
			continue;
		task_abort(c, t, f, false);
	}
}

void tmf_handle(struct iscsi_conn *c, const struct bhs *h,
		const uint8_t *data)
{
	struct iscsi_session *s = c->sess;
	uint8_t function = h->flags & 0x7f;
	uint64_t lun = scsi_lun_decode(h->lun);
	uint32_t cmdsn = h->cmdsn, end = s->exp_cmdsn + s->cmd_window;
	enum fence_scope scope = FENCE_LOCAL;
	struct scsi_lu *lu = NULL;
	struct fence *f;

	uint32_t exp_before = s->exp_cmdsn;	/* the window it was sent in */

	(void)data;
	if (!h->immediate && !cmdsn_accept(c, h))
		return;
	switch (function) {
	case TMF_ABORT_TASK:
	case TMF_ABORT_TASK_SET:
	case TMF_CLEAR_TASK_SET:
		break;
	case TMF_LUN_RESET:
		lu = session_lu(s, lun);
		if (!lu) {
			tmf_respond_now(c, h, TMF_RSP_NO_LUN);
			return;
		}
		scope = FENCE_LU;
		break;
	case TMF_TARGET_WARM_RESET:
	case TMF_TARGET_COLD_RESET:
		scope = FENCE_TARGET;
		break;
	case TMF_QUERY_TASK:
	case TMF_QUERY_TASK_SET:
	case TMF_QUERY_ASYNC_EVENT:
	case TMF_IT_NEXUS_RESET:
		/* RFC 7144 functions need iSCSIProtocolLevel=2 */
		if (c->params.protocol_level < 2) {
			tmf_respond_now(c, h, TMF_RSP_NOT_SUPPORTED);
			return;
		}
		if (function != TMF_IT_NEXUS_RESET) {
			tmf_query(c, h, function, lun);
			return;
		}
		break;
	case TMF_CLEAR_ACA:
	case TMF_TASK_REASSIGN:
	default:
		tmf_respond_now(c, h, TMF_RSP_NOT_SUPPORTED);
		return;
	}
	f = fence_room(c) ? fence_new(scope, scope == FENCE_LOCAL ? 0 :
				      server_thread_count()) : NULL;
	if (!f) {
		/* nothing was aborted yet: the initiator may try again */
		conn_warn(c, "%s: task management refused: %s", c->peer_str,
			  fence_room(c) ? "out of memory"
				        : "too many waiting for stuck I/O");
		tmf_respond_now(c, h, TMF_RSP_REJECTED);
		return;
	}
	fence_home(f, c, tmf_answer);
	f->itt = h->itt;
	f->function = function;
	f->response = TMF_RSP_COMPLETE;
	f->target = s->nexus.target;

	switch (function) {
	case TMF_ABORT_TASK: {
		struct iscsi_task *t = task_find(c, h->ttt);

		if (t && t->scsi.lun == lun && t->state != TASK_RESPOND) {
			task_abort(c, t, f, false);
		} else if (t && t->state == TASK_RESPOND && !t->aborted) {
			/* completed: its response is on its way; nothing to
			 * abort (the initiator sees it and "does not exist") */
			f->response = TMF_RSP_NO_TASK;
		} else if (!t && !(sn_le(exp_before, h->f32) &&
				   sn_le(h->f32, s->max_cmdsn) &&
				   sn_lt(h->f32, cmdsn))) {
			/*
			 * RFC 7143 §11.5.1: an unknown task is taken as
			 * received and aborted ("complete") only when its
			 * RefCmdSN is in the window [ExpCmdSN, MaxCmdSN] and
			 * below the function's own CmdSN (a command still on
			 * its way); otherwise it does not exist (done, or
			 * never sent).
			 */
			f->response = TMF_RSP_NO_TASK;
		}
		break;
	}
	case TMF_ABORT_TASK_SET:
	case TMF_CLEAR_TASK_SET:
		abort_matching(c, f, false, lun, h->immediate ? s->exp_cmdsn :
							       cmdsn);
		break;
	case TMF_LUN_RESET:
		scsi_lu_get(lu);
		f->lu = lu;
		abort_matching(c, f, false, lun, end);
		/* SAM-5 §6.3: every I_T nexus sees 29/03 on its next command */
		scsi_lu_reset(lu);
		conn_info(c, "%s: LOGICAL UNIT RESET of LUN %llu", c->peer_str,
			  (unsigned long long)lun);
		break;
	case TMF_IT_NEXUS_RESET:
		/*
		 * SAM-5 §7.6: this nexus's tasks on every LU end, and each LU
		 * reports I_T NEXUS LOSS OCCURRED to it; the session stays.
		 */
		abort_matching(c, f, true, 0, end);
		scsi_nexus_loss(&s->nexus);
		conn_info(c, "%s: I_T NEXUS RESET", c->peer_str);
		break;
	case TMF_TARGET_COLD_RESET:
		f->close_sessions = true;
		/* fall through */
	case TMF_TARGET_WARM_RESET:
		abort_matching(c, f, true, 0, end);
		scsi_target_reset(s->nexus.target);
		conn_info(c, "%s: TARGET %s RESET", c->peer_str,
			  function == TMF_TARGET_COLD_RESET ? "COLD" : "WARM");
		break;
	}
	fence_launch(f);
}

/* --- reinstatement ------------------------------------------------------- */

static void nexus_resume(struct fence *f, bool expired)
{
	struct iscsi_conn *c = f->origin;

	if (c->state == CONN_LOGIN)
		f->resume(c, expired);
	fence_unhome(f);
}

int fence_sessions(struct iscsi_conn *c, struct scsi_target *target,
		   const char *initiator_port,
		   void (*resume)(struct iscsi_conn *c, bool expired))
{
	struct fence *f = fence_room(c) ?
		fence_new(FENCE_NEXUS, server_thread_count()) : NULL;

	if (!f)
		return -ENOMEM;
	fence_home(f, c, nexus_resume);
	f->target = target;
	f->close_sessions = true;
	f->resume = resume;
	snprintf(f->initiator_port, sizeof(f->initiator_port), "%s",
		 initiator_port);
	fence_launch(f);
	return 0;
}

/* --- PREEMPT AND ABORT (for the SCSI layer) ------------------------------ */

/* On the PR OUT's reactor: the preempted tasks' I/O is gone (or expired). */
static void preempt_answer(struct fence *f, bool expired)
{
	struct iscsi_task *t = f->task;

	f->task = NULL;
	f->task_done(&t->scsi, expired);	/* completes the PR OUT */
	fence_unhome(f);
}

/* struct scsi_transport_ops: a fence homed on the PR OUT's connection */
static int preempt_prepare(struct scsi_task *st, unsigned n)
{
	struct iscsi_task *t = container_of(st, struct iscsi_task, scsi);
	struct iscsi_conn *c = t->conn;
	struct fence *f;

	if (!fence_room(c))
		return -EBUSY;
	f = fence_new(FENCE_PREEMPT, server_thread_count());
	if (!f)
		return -ENOMEM;
	f->itns = calloc(MAX(n, 1u), sizeof(*f->itns));
	if (!f->itns) {
		fence_free(f);
		return -ENOMEM;
	}
	fence_home(f, c, preempt_answer);
	t->preempt_fence = f;
	return 0;
}

static void preempt_abort(struct scsi_task *st, const struct scsi_itn *ids,
			  unsigned n,
			  void (*done)(struct scsi_task *t, bool expired))
{
	struct iscsi_task *t = container_of(st, struct iscsi_task, scsi);
	struct fence *f = t->preempt_fence;

	t->preempt_fence = NULL;
	memcpy(f->itns, ids, n * sizeof(*ids));
	f->nitns = n;
	f->task = t;
	f->task_done = done;
	scsi_lu_get(st->lu);
	f->lu = st->lu;
	if (n == 0)
		f->nfan = 0;	/* nobody to abort: it fires at once */
	else
		conn_info(t->conn, "%s: PREEMPT AND ABORT of %u I_T nexus(es) "
			  "on LUN %llu", t->conn->peer_str, n,
			  (unsigned long long)st->lun);
	fence_launch(f);
}

const struct scsi_transport_ops tmf_scsi_ops = {
	.preempt_prepare = preempt_prepare,
	.preempt_abort = preempt_abort,
};

/* --- forced LUN removal (control thread) --------------------------------- */

static void fence_wake(struct fence *f, bool expired)
{
	(void)f;
	(void)expired;
}

/*
 * Aborts every task on @lu, on every reactor, and waits until their I/O
 * is gone, at most tmf_timeout; then stalls the LU if some is still in
 * flight. For the control thread (it blocks); returns 0 or -ETIMEDOUT,
 * -ENOMEM.
 */
int iscsi_fence_lu(struct scsi_lu *lu)
{
	int n = server_thread_count();
	struct fence *f;
	struct timespec ts;
	int rc = 0;

	if (n == 0)
		return 0;
	f = fence_new(FENCE_LU, n);
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->done = fence_wake;
	scsi_lu_get(lu);
	f->lu = lu;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += tmf_timeout_ms(server_thread(0)->set) / 1000;
	fence_launch(f);
	pthread_mutex_lock(&f->lock);
	while (!f->fired && rc == 0)
		rc = pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	if (!f->fired) {
		/* the last task's completion frees it */
		f->abandoned = true;
		pthread_mutex_unlock(&f->lock);
		scsi_lu_stall(lu);
		return -ETIMEDOUT;
	}
	pthread_mutex_unlock(&f->lock);
	fence_free(f);
	return 0;
}
