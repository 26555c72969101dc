/*
 * task.c - the life of one SCSI command on a connection: the task pool,
 * execution in the SCSI layer, completion, and the PDUs that answer it
 * (R2T, Data-In, SCSI Response: RFC 7143 §11.4, §11.7, §11.8).
 *
 * An iscsi_task embeds the scsi_task it hands to the SCSI layer. Tasks
 * come from a per-connection pool sized to the CmdSN window, so the hot
 * path does not allocate; data buffers come from a per-thread cache.
 * A task is owned by its connection from task_get() to task_put(); who
 * may free it at each moment is in docs/architecture.md (task lifecycle).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/fault.h"
#include "base/log.h"
#include "iscsi_internal.h"

static void task_scsi_done(struct scsi_task *st);
static int task_gen(struct iscsi_conn *c, struct tx_item *it,
		    struct tx_slot *s, bool *more);
static void task_sent(struct iscsi_conn *c, struct tx_item *it, bool last);

int tasks_init(struct iscsi_conn *c, uint32_t count)
{
	c->task_pool = calloc(count, sizeof(*c->task_pool));
	if (!c->task_pool)
		return -ENOMEM;
	c->task_count = count;
	c->tasks_idle = count;
	for (uint32_t i = 0; i < count; i++) {
		struct iscsi_task *t = &c->task_pool[i];

		t->conn = c;
		t->item.gen = task_gen;
		t->item.sent = task_sent;
		t->scsi.done = task_scsi_done;
		list_init(&t->link);
		t->hnext = c->task_free;
		c->task_free = t;
	}
	return 0;
}

void tasks_free(struct iscsi_conn *c)
{
	free(c->task_pool);
	c->task_pool = NULL;
	c->task_free = NULL;
	c->tasks_idle = 0;
}

static unsigned itt_hash(uint32_t itt)
{
	return (itt ^ (itt >> 8)) & (TASK_HASH - 1);
}

struct iscsi_task *task_find(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_task *t = c->hash[itt_hash(itt)];

	while (t && t->itt != itt)
		t = t->hnext;
	return t;
}

void task_unhash(struct iscsi_conn *c, struct iscsi_task *t)
{
	struct iscsi_task **pp = &c->hash[itt_hash(t->itt)];

	if (!t->in_hash)
		return;
	while (*pp && *pp != t)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = t->hnext;
	t->in_hash = false;
}

struct iscsi_task *task_get(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_task *t = c->task_free;
	unsigned h;

	if (!t || unlikely(fault_hit(FAULT_TASK_GET)))
		return NULL;
	c->task_free = t->hnext;
	c->tasks_idle--;
	memset(&t->scsi, 0, offsetof(struct scsi_task, io));
	t->scsi.done = task_scsi_done;
	t->state = TASK_EXEC;
	t->aborted = t->tas = t->immediate = false;
	t->enabled = t->dormant = false;
	t->attr = TASK_ATTR_SIMPLE;
	t->onext = NULL;
	t->fences = NULL;
	t->itt = itt;
	t->received = t->next_r2t_off = t->r2t_outstanding = 0;
	t->r2t_pending = t->r2tsn = t->exp_datasn = t->seq_end = 0;
	t->datasn = t->tx_off = t->tx_len = t->tx_refs = 0;
	t->rsp_pending = false;
	t->r2t_head = 0;
	t->buf = NULL;
	t->buf_cap = 0;
	t->bufwait = t->buf_short = t->buf_held = false;
	h = itt_hash(itt);
	t->hnext = c->hash[h];
	c->hash[h] = t;
	t->in_hash = true;
	list_add_tail(&t->link, &c->active);
	return t;
}

void task_dequeue(struct iscsi_task *t)
{
	if (t->item.queued) {
		list_del(&t->item.link);
		t->item.queued = false;
	}
}

void task_put(struct iscsi_conn *c, struct iscsi_task *t)
{
	task_order_end(c, t);	/* failed or aborted before completing */
	task_unhash(c, t);
	list_del(&t->link);
	task_dequeue(t);
	budget_cancel(c, t);
	task_buf_free(c, t);
	/* the task's own LU reference (cmd_handle) */
	scsi_lu_put(t->scsi.lu);
	t->scsi.lu = NULL;
	t->state = TASK_FREE;
	t->hnext = c->task_free;
	c->task_free = t;
	c->tasks_idle++;
}

void task_release(struct iscsi_conn *c, struct iscsi_task *t)
{
	if (t->state == TASK_EXEC || t->tx_refs)
		return;
	task_put(c, t);
}

/* --- counters (core.h struct core_lu_stats; tgtadm --op stat) -------------- */

/*
 * The I_T_L nexus's counters, NULL for a LUN out of range. A command's
 * direction is its PDU's (RFC 7143 §11.3.1 R and W bits), as tgt
 * counts it; bytes submitted are its expected data transfer length.
 */
static struct core_lu_stats *task_stats(struct iscsi_conn *c,
					const struct iscsi_task *t)
{
	struct iscsi_session *s = c->sess;

	if (!s || !s->lu_stats || t->scsi.lun >= SCSI_MAX_LUNS)
		return NULL;
	return &s->lu_stats[t->scsi.lun];
}

void task_stats_received(struct iscsi_conn *c, const struct iscsi_task *t)
{
	struct core_lu_stats *ls = task_stats(c, t);

	if (!ls)
		return;
	if (t->hflags & CMD_W) {
		core_stat_add(&ls->wr_subm_cmds, 1);
		core_stat_add(&ls->wr_subm_bytes, t->edtl);
	} else if (t->hflags & CMD_R) {
		core_stat_add(&ls->rd_subm_cmds, 1);
		core_stat_add(&ls->rd_subm_bytes, t->edtl);
	}
}

/* Answered: the bytes that moved (none on failure), and failures. */
static void task_stats_answered(struct iscsi_conn *c,
				const struct iscsi_task *t)
{
	struct core_lu_stats *ls = task_stats(c, t);
	const struct scsi_task *st = &t->scsi;
	bool good = st->status == SAM_STAT_GOOD;

	if (!ls)
		return;
	if (t->hflags & CMD_W) {
		core_stat_add(&ls->wr_done_cmds, 1);
		if (good)
			core_stat_add(&ls->wr_done_bytes, st->buf_len);
	} else if (t->hflags & CMD_R) {
		core_stat_add(&ls->rd_done_cmds, 1);
		core_stat_add(&ls->rd_done_bytes, t->tx_len);
	}
	if (!good)
		core_stat_add(&ls->errors, 1);
}

/* --- responses ------------------------------------------------------------- */

void task_respond(struct iscsi_conn *c, struct iscsi_task *t)
{
	struct scsi_task *st = &t->scsi;

	t->state = TASK_RESPOND;
	if (st->dir == SCSI_DIR_READ && st->status == SAM_STAT_GOOD)
		t->tx_len = MIN(st->xfer_len, t->edtl);
	else
		t->tx_len = 0;
	task_stats_answered(c, t);
	t->tx_off = 0;
	/* status rides in the last Data-In unless there is sense data */
	t->rsp_pending = !(t->tx_len && st->status == SAM_STAT_GOOD);
	conn_queue(c, &t->item);
	conn_kick_tx(c);
}

void task_respond_aborted(struct iscsi_conn *c, struct iscsi_task *t)
{
	/* SAM-5 §7.3: TASK ABORTED status, no sense, no data */
	t->scsi.status = SAM_STAT_TASK_ABORTED;
	t->scsi.sense_len = 0;
	t->scsi.xfer_len = 0;
	t->aborted = false;
	task_respond(c, t);
}

/*
 * Residual per RFC 7143 §11.4.5.1, against the expected data transfer
 * length: overflow when the CDB asked for more than the initiator
 * expected, underflow when less moved than it expected.
 */
static void residual(struct iscsi_task *t, uint8_t *flags, uint32_t *count)
{
	struct scsi_task *st = &t->scsi;
	uint32_t moved;

	*flags = 0;
	*count = 0;
	if (st->data_len > t->edtl) {
		*flags = RSP_O;
		*count = st->data_len - t->edtl;
		return;
	}
	if (st->dir == SCSI_DIR_READ)
		moved = t->tx_len;	/* 0 when the command failed */
	else if (st->dir == SCSI_DIR_WRITE && st->status == SAM_STAT_GOOD)
		moved = st->data_len;
	else
		moved = 0;
	if (moved < t->edtl) {
		*flags = RSP_U;
		*count = t->edtl - moved;
	}
}

static void gen_r2t(struct iscsi_conn *c, struct iscsi_task *t,
		    struct tx_slot *s)
{
	uint32_t len = MIN(c->params.max_burst, t->want - t->next_r2t_off);
	uint32_t ttt;

	pdu_init(s->hdr, OP_R2T, BHS_F);
	put_be64(s->hdr + BHS_LUN, scsi_lun_encode(t->scsi.lun));
	put_be32(s->hdr + BHS_ITT, t->itt);
	ttt = ++c->next_ttt & 0x7fffffffu;
	t->r2t_ttt[(t->r2t_head + t->r2t_outstanding) % TASK_MAX_R2T] = ttt;
	put_be32(s->hdr + BHS_TTT, ttt);
	conn_fill_sn(c, s->hdr, false);
	put_be32(s->hdr + BHS_DATASN, t->r2tsn++);
	put_be32(s->hdr + BHS_BUFOFF, t->next_r2t_off);
	put_be32(s->hdr + BHS_RESID, len);
	t->next_r2t_off += len;
	t->r2t_outstanding++;
	t->r2t_pending--;
}

static int task_gen(struct iscsi_conn *c, struct tx_item *it,
		    struct tx_slot *s, bool *more)
{
	struct iscsi_task *t = container_of(it, struct iscsi_task, item);
	struct scsi_task *st = &t->scsi;
	uint8_t rflags;
	uint32_t rcount;

	t->tx_refs++;
	if (t->state == TASK_DATA_OUT) {
		gen_r2t(c, t, s);
		*more = t->r2t_pending > 0;
		return 0;
	}
	if (t->tx_off < t->tx_len) {
		uint32_t n = MIN(t->tx_len - t->tx_off,
				 c->params.max_recv_dsl_init);
		bool last = t->tx_off + n == t->tx_len;
		uint8_t flags = 0;

		/* F ends each Data-In sequence: at MaxBurstLength, and last */
		if (last || (t->tx_off + n) % c->params.max_burst == 0)
			flags |= BHS_F;
		pdu_init(s->hdr, OP_DATA_IN, flags);
		put_be64(s->hdr + BHS_LUN, scsi_lun_encode(st->lun));
		put_be32(s->hdr + BHS_ITT, t->itt);
		put_be32(s->hdr + BHS_TTT, RSVD_TAG);
		put_be32(s->hdr + BHS_DATASN, t->datasn++);
		put_be32(s->hdr + BHS_BUFOFF, t->tx_off);
		if (last && !t->rsp_pending) {
			residual(t, &rflags, &rcount);
			s->hdr[BHS_FLAGS] |= DIN_S | rflags;
			s->hdr[BHS_B3] = st->status;
			put_be32(s->hdr + BHS_RESID, rcount);
			conn_fill_sn_last(c, s->hdr);
		} else {
			conn_fill_sn(c, s->hdr, false);
			put_be32(s->hdr + BHS_CMDSN, 0);
		}
		s->data = t->buf + t->tx_off;
		s->data_len = n;
		t->tx_off += n;
		*more = !last || t->rsp_pending;
		return 0;
	}
	/* SCSI Response */
	residual(t, &rflags, &rcount);
	pdu_init(s->hdr, OP_SCSI_RSP, BHS_F | rflags);
	s->hdr[BHS_B2] = 0;	/* command completed at target */
	s->hdr[BHS_B3] = st->status;
	put_be32(s->hdr + BHS_ITT, t->itt);
	put_be32(s->hdr + BHS_TTT, 0);		/* SNACK tag */
	conn_fill_sn_last(c, s->hdr);
	put_be32(s->hdr + BHS_DATASN, t->datasn ? t->datasn : 0);
	put_be32(s->hdr + BHS_RESID, rcount);
	if (st->status == SAM_STAT_CHECK_CONDITION && st->sense_len) {
		put_be16(t->rspdata, st->sense_len);
		memcpy(t->rspdata + 2, st->sense, st->sense_len);
		s->data = t->rspdata;
		s->data_len = 2u + st->sense_len;
	}
	t->rsp_pending = false;
	*more = false;
	return 0;
}

/* A PDU of ours is on the wire (or the connection is gone). */
static void task_sent(struct iscsi_conn *c, struct tx_item *it, bool last)
{
	struct iscsi_task *t = container_of(it, struct iscsi_task, item);

	if (t->tx_refs)
		t->tx_refs--;
	if (t->state != TASK_RESPOND || t->item.queued)
		return;		/* R2Ts out: waiting for data, or running */
	if (last || t->aborted)
		task_release(c, t);
}

/* --- task set ordering (SAM-5 §8.6) ------------------------------------------ */

static struct task_set *task_set_of(struct iscsi_conn *c,
				    const struct iscsi_task *t)
{
	struct iscsi_session *s = c->sess;

	if (!s || !s->sets || t->scsi.lun >= SCSI_MAX_LUNS)
		return NULL;
	return &s->sets[t->scsi.lun];
}

/* May the dormant head @t be enabled now? */
static bool task_set_may_enable(const struct task_set *ts,
				const struct iscsi_task *t)
{
	/*
	 * ORDERED: after every older task; SIMPLE: after every older
	 * ORDERED and HEAD OF QUEUE task.
	 */
	if (t->attr == TASK_ATTR_ORDERED)
		return ts->enabled == 0;
	return ts->barriers == 0;
}

static void task_set_enable(struct task_set *ts, struct iscsi_task *t)
{
	t->enabled = true;
	ts->enabled++;
	if (t->attr != TASK_ATTR_SIMPLE)
		ts->barriers++;
}

void task_admit(struct iscsi_conn *c, struct iscsi_task *t, uint8_t attr)
{
	struct task_set *ts = task_set_of(c, t);

	/* untagged and ACA (NACA=0, no ACA condition) are treated as simple */
	t->attr = attr == TASK_ATTR_ORDERED || attr == TASK_ATTR_HOQ ?
			  attr : TASK_ATTR_SIMPLE;
	if (!ts)
		return;
	/* HEAD OF QUEUE: enabled at once, ahead of every dormant task */
	if (t->attr == TASK_ATTR_HOQ ||
	    (!ts->head && task_set_may_enable(ts, t))) {
		task_set_enable(ts, t);
		return;
	}
	t->dormant = true;
	t->onext = NULL;
	if (ts->tail)
		ts->tail->onext = t;
	else
		ts->head = t;
	ts->tail = t;
}

static void task_run(struct iscsi_conn *c, struct iscsi_task *t);

/* Enables the dormant tasks that may run now, in order, then runs them. */
static void task_set_drain(struct iscsi_conn *c, struct task_set *ts)
{
	struct iscsi_task *run = NULL, **tail = &run;

	while (ts->head && task_set_may_enable(ts, ts->head)) {
		struct iscsi_task *t = ts->head;

		ts->head = t->onext;
		if (!ts->head)
			ts->tail = NULL;
		t->dormant = false;
		t->onext = NULL;
		task_set_enable(ts, t);
		*tail = t;
		tail = &t->onext;
	}
	/* run after the FIFO is consistent: a run may complete at once */
	while (run) {
		struct iscsi_task *t = run;

		run = t->onext;
		t->onext = NULL;
		if (t->state == TASK_QUEUED)
			task_run(c, t);
	}
}

void task_order_end(struct iscsi_conn *c, struct iscsi_task *t)
{
	struct task_set *ts = task_set_of(c, t);

	if (!ts)
		return;
	if (t->dormant) {
		struct iscsi_task **pp = &ts->head, *prev = NULL;

		while (*pp && *pp != t) {
			prev = *pp;
			pp = &(*pp)->onext;
		}
		if (*pp)
			*pp = t->onext;
		if (ts->tail == t)
			ts->tail = prev;
		t->dormant = false;
		t->onext = NULL;
		return;
	}
	if (!t->enabled)
		return;
	t->enabled = false;
	ts->enabled--;
	if (t->attr != TASK_ATTR_SIMPLE)
		ts->barriers--;
	if (ts->head && c->state == CONN_FFP)
		task_set_drain(c, ts);
}

/* --- execution -------------------------------------------------------------- */

void task_exec(struct iscsi_conn *c, struct iscsi_task *t)
{
	if (t->dormant) {
		t->state = TASK_QUEUED;
		return;
	}
	task_run(c, t);
}

static void task_run(struct iscsi_conn *c, struct iscsi_task *t)
{
	struct scsi_task *st = &t->scsi;

	t->state = TASK_EXEC;
	st->buf = t->buf;
	if (st->dir == SCSI_DIR_WRITE)
		st->buf_len = MIN(t->received, t->want);
	else
		st->buf_len = t->buf ? t->buf_cap : 0;
	if (st->dir == SCSI_DIR_READ)
		st->buf_len = MIN(st->buf_len, MIN(st->data_len, t->edtl));
	c->io_inflight++;
	scsi_task_exec(st);
}

/*
 * The SCSI layer is done with the task: its store I/O, if any, has
 * completed. Only now may the task be answered, freed, or counted as gone
 * by a task management function waiting for it.
 */
static void task_scsi_done(struct scsi_task *st)
{
	struct iscsi_task *t = container_of(st, struct iscsi_task, scsi);
	struct iscsi_conn *c = t->conn;

	c->io_inflight--;
	t->state = TASK_RESPOND;
	if (t->fences)
		task_fences_put(t);
	if (c->state == CONN_CLOSING || c->state == CONN_LOGGED_OUT) {
		task_release(c, t);
		if (c->state == CONN_CLOSING)
			conn_maybe_free(c);
		return;
	}
	if (t->aborted && !t->tas) {
		/* ABORT TASK / LU RESET / reinstatement: no response */
		task_release(c, t);
		return;
	}
	if (t->aborted)
		task_respond_aborted(c, t);	/* another nexus's, TAS=1 */
	else
		task_respond(c, t);
	/*
	 * SAM-5 §8.6: completed; dormant tasks behind it may start (after
	 * its response is queued, so the answers keep their order).
	 */
	task_order_end(c, t);
}

void tasks_abort_all(struct iscsi_conn *c)
{
	struct iscsi_task *t, *n;

	list_for_each_entry_safe(t, n, &c->active, link)
		task_abort(c, t, NULL, false);
}
