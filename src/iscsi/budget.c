/*
 * budget.c - how much data-buffer memory commands may hold, and the
 * commands that wait for it (issue 8: a peer that sends READs and never
 * reads the answers must not pin unbounded memory).
 *
 * Every command buffer (buf.c) is charged to its connection and to the
 * reactor thread the connection lives on. A command whose buffer would
 * take either past its bound waits (TASK_WAIT_BUF) in its connection's
 * FIFO; connections with waiting commands wait in the thread's FIFO. Both
 * are served in arrival order whenever buffers are given back, from a
 * post to the thread itself (never inside the callback that freed the
 * buffer). While a connection has a command waiting its CmdSN window
 * does not open (session_max_cmdsn()), so the initiator is held back
 * through MaxCmdSN: a command inside the window is never answered BUSY or
 * TASK SET FULL for lack of memory.
 *
 * A write whose unsolicited data arrives while it waits gets a buffer for
 * that data only (at most FirstBurstLength), never refused: the initiator
 * was allowed to send it (the window times FirstBurstLength bounds it).
 * Its full buffer comes when the budget allows, before any R2T.
 *
 * Progress: a command is always granted when its connection holds no
 * buffer and the thread's budget has room, or when the thread holds no
 * buffer at all; buffers held are given back once their responses are
 * sent or their connection closes (tx_stall_timeout bounds a peer that
 * never reads).
 *
 * Everything here runs on the connection's reactor thread: the
 * per-thread state is thread-local, like the buffer cache.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/fault.h"
#include "base/log.h"
#include "iscsi_internal.h"

#define MIB (1ull << 20)

static _Thread_local struct {
	bool init;
	uint64_t used;			/* bytes held by this thread's tasks */
	uint64_t held;			/* of which unsolicited data held */
	uint64_t max;			/* this thread's share of the total */
	bool starved;			/* waiting connections found no room */
	struct list_head conns;		/* connections with waiting tasks */
	struct ev_post post;		/* budget_run() queued */
	bool posted;
} thr_budget;

static void budget_run(struct ev_post *p);

static uint64_t thr_max(const struct iscsi_settings *set);

static void thr_budget_init(const struct iscsi_settings *set)
{
	if (likely(thr_budget.init))
		return;
	thr_budget.init = true;
	thr_budget.max = thr_max(set);	/* settings do not change */
	list_init(&thr_budget.conns);
	thr_budget.post.fn = budget_run;
}

uint64_t budget_conn_max(const struct iscsi_settings *set)
{
	return set->buf_conn_max ? set->buf_conn_max : BUDGET_CONN_DEFAULT;
}

uint64_t budget_total_max(const struct iscsi_settings *set)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	uint64_t v;

	if (set->buf_total_max)
		return set->buf_total_max;
	/* a quarter of the machine's memory, at most 1 GiB, at least 64 MiB */
	v = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz / 4 :
				   1024 * MIB;
	return MAX(MIN(v, 1024 * MIB), 64 * MIB);
}

/* This thread's share of the total. */
static uint64_t thr_max(const struct iscsi_settings *set)
{
	int n = iscsi_reactor_count();

	return budget_total_max(set) / (uint64_t)(n > 0 ? n : 1);
}

/*
 * Would @cap more bytes stay within both bounds (or may they anyway)?
 * The unsolicited data held for waiting writes does not count here: it
 * is bounded by the window and FirstBurstLength, and counting it would
 * let the waiting writes shut themselves out.
 */
static bool thr_fits(uint32_t cap)
{
	uint64_t used = thr_budget.used - thr_budget.held;

	return !used || used + cap <= thr_budget.max;
}

static bool budget_fits(const struct iscsi_conn *c, uint32_t cap)
{
	uint64_t used = c->buf_bytes - c->buf_held;

	return (!used || used + cap <= budget_conn_max(c->set)) &&
	       thr_fits(cap);
}

int task_buf_alloc(struct iscsi_conn *c, struct iscsi_task *t, uint32_t size,
		   enum buf_mode mode)
{
	uint32_t cap = iobuf_cap(size);
	uint8_t *buf;

	thr_budget_init(c->set);
	if (!cap)
		return -ENOMEM;
	/*
	 * Behind its own waiting commands, behind other connections that
	 * wait for the thread's room, or over budget: wait.
	 */
	if (mode == BUF_NEW &&
	    (c->bw_head || thr_budget.starved || !budget_fits(c, cap)))
		return -EAGAIN;
	buf = unlikely(fault_hit(FAULT_IOBUF_ALLOC)) ? NULL :
	      iobuf_get(size, &cap);
	if (!buf)
		return -ENOMEM;
	if (t->buf) {
		/* a write's unsolicited data, held while it waited */
		memcpy(buf, t->buf, MIN(t->received, t->buf_cap));
		task_buf_free(c, t);
	}
	c->buf_bytes += cap;
	thr_budget.used += cap;
	if (mode == BUF_HOLD) {
		c->buf_held += cap;
		thr_budget.held += cap;
	}
	t->buf = buf;
	t->buf_cap = cap;
	t->buf_held = mode == BUF_HOLD;
	return 0;
}

static void budget_kick(void)
{
	struct reactor *r;

	if (thr_budget.posted || list_empty(&thr_budget.conns))
		return;
	r = reactor_current();
	if (!r)
		return;
	thr_budget.posted = true;
	reactor_post_node(r, &thr_budget.post);
}

void task_buf_free(struct iscsi_conn *c, struct iscsi_task *t)
{
	if (!t->buf)
		return;
	iobuf_put(t->buf, t->buf_cap);
	c->buf_bytes -= t->buf_cap;
	thr_budget.used -= t->buf_cap;
	if (t->buf_held) {
		c->buf_held -= t->buf_cap;
		thr_budget.held -= t->buf_cap;
		t->buf_held = false;
	}
	t->buf = NULL;
	t->buf_cap = 0;
	budget_kick();
}

void budget_wait(struct iscsi_conn *c, struct iscsi_task *t, uint32_t need)
{
	thr_budget_init(c->set);
	t->state = TASK_WAIT_BUF;
	t->bufwait = true;
	t->bw_need = need;
	t->bwnext = NULL;
	if (c->bw_tail)
		c->bw_tail->bwnext = t;
	else
		c->bw_head = t;
	c->bw_tail = t;
	if (!c->bw_listed) {
		list_add_tail(&c->bw_link, &thr_budget.conns);
		c->bw_listed = true;
	}
	/* the budget may have room already (a grant queued behind others) */
	budget_kick();
}

void budget_cancel(struct iscsi_conn *c, struct iscsi_task *t)
{
	struct iscsi_task **pp = &c->bw_head, *prev = NULL;

	if (!t->bufwait)
		return;
	while (*pp && *pp != t) {
		prev = *pp;
		pp = &(*pp)->bwnext;
	}
	if (*pp)
		*pp = t->bwnext;
	if (c->bw_tail == t)
		c->bw_tail = prev;
	t->bufwait = false;
	t->bwnext = NULL;
	if (!c->bw_head && c->bw_listed) {
		list_del(&c->bw_link);
		c->bw_listed = false;
	}
}

/*
 * Grants what fits to @c's waiting tasks, oldest first. Returns false
 * when the thread's budget is what stopped it (no other connection can
 * be served either).
 */
static bool budget_grant(struct iscsi_conn *c)
{
	struct iscsi_task *t;

	while ((t = c->bw_head) && c->state == CONN_FFP) {
		uint32_t cap = iobuf_cap(t->bw_need);
		int rc;

		if (!budget_fits(c, cap))
			return thr_fits(cap);
		budget_cancel(c, t);
		rc = task_buf_alloc(c, t, t->bw_need, BUF_GRANT);
		cmd_buf_granted(c, t, rc);
	}
	return true;
}

static void budget_run(struct ev_post *p)
{
	struct list_head done;
	bool more = true;

	(void)p;
	thr_budget.posted = false;
	list_init(&done);
	while (!list_empty(&thr_budget.conns)) {
		struct iscsi_conn *c = list_first_entry(&thr_budget.conns,
							struct iscsi_conn,
							bw_link);

		list_del(&c->bw_link);
		c->bw_listed = false;
		/* a grant may close the connection: free it only afterwards */
		c->holds++;
		more = budget_grant(c);
		if (c->bw_head && !c->bw_listed) {
			list_add_tail(&c->bw_link, &done);
			c->bw_listed = true;
		}
		c->holds--;
		if (c->state == CONN_CLOSING)
			conn_maybe_free(c);
		if (!more)
			break;
	}
	thr_budget.starved = !more;
	/* those still waiting go first next time, in their order */
	list_splice_tail(&thr_budget.conns, &done);
	list_splice_tail(&done, &thr_budget.conns);
}

uint64_t budget_thread_used(void)
{
	return thr_budget.used;
}
