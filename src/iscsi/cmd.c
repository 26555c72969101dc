/*
 * cmd.c - the full feature phase: SCSI Command (RFC 7143 §11.3), Data-Out
 * and R2T (§11.7-8), Data-In and SCSI Response (§11.4, §11.7), NOP
 * (§11.18-19), Task Management (§11.5-6), and the CmdSN window (§4.2.2).
 *
 * An iscsi_task embeds the scsi_task it hands to the SCSI layer. Tasks
 * come from a per-connection pool sized to the CmdSN window, so the hot
 * path does not allocate; data buffers come from a per-thread cache.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
}

static unsigned itt_hash(uint32_t itt)
{
	return (itt ^ (itt >> 8)) & (TASK_HASH - 1);
}

static struct iscsi_task *task_find(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_task *t = c->hash[itt_hash(itt)];

	while (t && t->itt != itt)
		t = t->hnext;
	return t;
}

static void task_unhash(struct iscsi_conn *c, struct iscsi_task *t)
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

static struct iscsi_task *task_get(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_task *t = c->task_free;
	unsigned h;

	if (!t)
		return NULL;
	c->task_free = t->hnext;
	memset(&t->scsi, 0, offsetof(struct scsi_task, io));
	t->scsi.done = task_scsi_done;
	t->state = TASK_EXEC;
	t->aborted = t->immediate = false;
	t->itt = itt;
	t->received = t->next_r2t_off = t->r2t_outstanding = 0;
	t->r2t_pending = t->r2tsn = t->exp_datasn = t->seq_end = 0;
	t->datasn = t->tx_off = t->tx_len = t->tx_refs = 0;
	t->rsp_pending = false;
	t->buf = NULL;
	t->buf_cap = 0;
	h = itt_hash(itt);
	t->hnext = c->hash[h];
	c->hash[h] = t;
	t->in_hash = true;
	list_add_tail(&t->link, &c->active);
	return t;
}

static void task_put(struct iscsi_conn *c, struct iscsi_task *t)
{
	task_unhash(c, t);
	list_del(&t->link);
	if (t->item.queued) {
		list_del(&t->item.link);
		t->item.queued = false;
	}
	if (t->buf)
		iobuf_put(t->buf, t->buf_cap);
	t->buf = NULL;
	t->state = TASK_FREE;
	t->hnext = c->task_free;
	c->task_free = t;
}

/* Frees the task if nothing (SCSI layer, unsent PDUs) still holds it. */
static void task_release(struct iscsi_conn *c, struct iscsi_task *t)
{
	if (t->state == TASK_EXEC || t->tx_refs)
		return;
	task_put(c, t);
}

/* --- CmdSN ------------------------------------------------------------------ */

bool cmdsn_accept(struct iscsi_conn *c, const struct bhs *h)
{
	struct iscsi_session *s = c->sess;
	uint32_t max = s->exp_cmdsn + s->cmd_window - 1;

	/* RFC 7143 §4.2.2.1: outside [ExpCmdSN, MaxCmdSN] is ignored */
	if (sn_lt(h->cmdsn, s->exp_cmdsn) || sn_lt(max, h->cmdsn)) {
		log_debug("%s: CmdSN %u outside window [%u, %u]; ignored",
			  c->peer_str, h->cmdsn, s->exp_cmdsn, max);
		return false;
	}
	/*
	 * One connection delivers in order, so a gap means the initiator
	 * skipped a number: take the command and move on (ERL 0 has no way
	 * to ask for the missing one).
	 */
	s->exp_cmdsn = h->cmdsn + 1;
	return true;
}

/* --- responses ------------------------------------------------------------- */

static void task_respond(struct iscsi_conn *c, struct iscsi_task *t)
{
	struct scsi_task *st = &t->scsi;

	t->state = TASK_RESPOND;
	if (st->dir == SCSI_DIR_READ && st->status == SAM_STAT_GOOD)
		t->tx_len = MIN(st->xfer_len, t->edtl);
	else
		t->tx_len = 0;
	t->tx_off = 0;
	/* status rides in the last Data-In unless there is sense data */
	t->rsp_pending = !(t->tx_len && st->status == SAM_STAT_GOOD);
	conn_queue(c, &t->item);
	conn_kick_tx(c);
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
	else if (st->dir == SCSI_DIR_WRITE)
		moved = st->data_len;
	else
		moved = 0;
	if (moved < t->edtl) {
		*flags = RSP_U;
		*count = t->edtl - moved;
	}
}

static int gen_r2t(struct iscsi_conn *c, struct iscsi_task *t,
		   struct tx_slot *s)
{
	uint32_t len = MIN(c->params.max_burst, t->want - t->next_r2t_off);

	pdu_init(s->hdr, OP_R2T, BHS_F);
	put_be64(s->hdr + BHS_LUN, scsi_lun_encode(t->scsi.lun));
	put_be32(s->hdr + BHS_ITT, t->itt);
	t->cur_ttt = ++c->next_ttt & 0x7fffffffu;
	put_be32(s->hdr + BHS_TTT, t->cur_ttt);
	conn_fill_sn(c, s->hdr, false);
	put_be32(s->hdr + BHS_DATASN, t->r2tsn++);
	put_be32(s->hdr + BHS_BUFOFF, t->next_r2t_off);
	put_be32(s->hdr + BHS_RESID, len);
	t->next_r2t_off += len;
	t->r2t_outstanding++;
	t->r2t_pending--;
	return 0;
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
			conn_fill_sn(c, s->hdr, true);
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
	conn_fill_sn(c, s->hdr, true);
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

/* --- execution -------------------------------------------------------------- */

static void task_exec(struct iscsi_conn *c, struct iscsi_task *t)
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

static void task_scsi_done(struct scsi_task *st)
{
	struct iscsi_task *t = container_of(st, struct iscsi_task, scsi);
	struct iscsi_conn *c = t->conn;

	c->io_inflight--;
	t->state = TASK_RESPOND;
	if (t->aborted || c->state == CONN_CLOSING ||
	    c->state == CONN_LOGGED_OUT) {
		/* ABORT TASK / LU RESET / connection loss: no response */
		task_release(c, t);
		if (c->state == CONN_CLOSING)
			conn_maybe_free(c);
		return;
	}
	task_respond(c, t);
}

/* Fails a command before execution with the sense already in st. */
static void task_fail(struct iscsi_conn *c, struct iscsi_task *t)
{
	task_respond(c, t);
}

static struct scsi_lu *lu_lookup(struct iscsi_session *s, uint64_t lun)
{
	struct scsi_lu *lu;

	if (lun >= SCSI_MAX_LUNS)
		return NULL;
	lu = s->lu_cache[lun];
	if (lu && !scsi_lu_removed(lu))
		return lu;
	if (lu) {
		/* removed (or replaced) under us: forget it */
		scsi_lu_put(lu);
		s->lu_cache[lun] = NULL;
	}
	lu = scsi_target_get_lu(s->nexus.target, lun);
	s->lu_cache[lun] = lu;	/* the cache holds the reference */
	return lu;
}

/* Queues as many R2Ts as MaxOutstandingR2T allows. */
static void task_solicit(struct iscsi_conn *c, struct iscsi_task *t)
{
	uint32_t room = c->params.max_outstanding_r2t - t->r2t_outstanding -
			t->r2t_pending;
	uint32_t left = t->want - t->next_r2t_off;
	uint32_t bursts = (left + c->params.max_burst - 1) / c->params.max_burst;

	if (t->next_r2t_off >= t->want)
		return;
	bursts -= MIN(bursts, t->r2t_pending);
	t->r2t_pending += MIN(room, bursts);
	if (t->r2t_pending) {
		conn_queue(c, &t->item);
		conn_kick_tx(c);
	}
}

/* Called when write data arrived: execute once everything is in. */
static void task_check_data(struct iscsi_conn *c, struct iscsi_task *t)
{
	uint32_t need = MAX(t->want, MIN(t->unsol_len, t->edtl));

	if (t->received >= need && !t->r2t_outstanding && !t->r2t_pending) {
		task_exec(c, t);
		return;
	}
	if (t->received >= t->unsol_len)
		task_solicit(c, t);
}

static void copy_in(struct iscsi_task *t, uint32_t off, const uint8_t *data,
		    uint32_t len)
{
	/* bytes beyond what the command needs are accepted and dropped */
	if (off < t->want)
		memcpy(t->buf + off, data, MIN(len, t->want - off));
}

void cmd_handle(struct iscsi_conn *c, const struct bhs *h,
		const uint8_t *data)
{
	struct iscsi_session *s = c->sess;
	struct iscsi_task *t;
	struct scsi_task *st;
	uint32_t alloc;

	if (!h->immediate && !cmdsn_accept(c, h))
		return;
	if (task_find(c, h->itt)) {
		/* RFC 7143 §11.17.1: tag in use */
		conn_send_reject(c, h->raw, REJECT_TASK_IN_PROGRESS);
		return;
	}
	t = task_get(c, h->itt);
	if (!t) {
		conn_send_reject(c, h->raw, h->immediate ?
				 REJECT_IMMEDIATE_CMD : REJECT_LONG_OP);
		return;
	}
	st = &t->scsi;
	t->immediate = h->immediate;
	t->hflags = h->flags;
	t->cmdsn = h->cmdsn;
	t->edtl = h->ttt;
	st->nexus = &s->nexus;
	st->lun = scsi_lun_decode(h->lun);
	st->lu = lu_lookup(s, st->lun);
	st->exp_len = t->edtl;
	st->r = c->r;
	memcpy(st->cdb, h->raw + BHS_CDB, 16);
	if (h->ahs_len) {
		/* extended CDB AHS (type 1): bytes 16.. of a long CDB */
		const uint8_t *ahs = h->raw + BHS_LEN;
		uint16_t alen = get_be16(ahs);

		if (ahs[2] == 1 && alen >= 1 && alen - 1u + 16 <= SCSI_CDB_MAX &&
		    alen + 3u <= h->ahs_len)
			memcpy(st->cdb + 16, ahs + 4, alen - 1u);
	}
	if (scsi_task_prepare(st) != SENSE_NONE) {
		task_fail(c, t);
		return;
	}
	if (st->data_len > MAX_DATA_XFER) {
		scsi_task_set_sense(st, SENSE_INVALID_FIELD_IN_CDB);
		task_fail(c, t);
		return;
	}
	if (st->dir == SCSI_DIR_WRITE && !(h->flags & CMD_W) && st->data_len) {
		/* a write CDB with no data announced: nothing to write */
		t->edtl = 0;
	}
	alloc = st->dir == SCSI_DIR_NONE ? 0 : MIN(st->data_len, t->edtl);
	if (alloc) {
		t->buf = iobuf_get(alloc, &t->buf_cap);
		if (!t->buf) {
			scsi_task_set_sense(st, SENSE_NO_MEMORY);
			task_fail(c, t);
			return;
		}
	}
	if (st->dir != SCSI_DIR_WRITE || !(h->flags & CMD_W) || t->edtl == 0) {
		/*
		 * Immediate data for a command that moves none (or reads) is
		 * dropped; the CDB decides what the command does and the
		 * residual tells the initiator (libiscsi iSCSIResiduals).
		 */
		task_exec(c, t);
		return;
	}
	/* write: immediate data, unsolicited Data-Out, then R2Ts */
	t->want = alloc;
	t->state = TASK_DATA_OUT;
	if (h->dsl > t->edtl ||
	    (h->dsl && !c->params.immediate_data)) {
		conn_send_reject(c, h->raw, REJECT_PROTOCOL_ERROR);
		task_put(c, t);
		return;
	}
	copy_in(t, 0, data, h->dsl);
	t->received = h->dsl;
	t->unsol_len = h->dsl;
	if (!c->params.initial_r2t && !h->final)
		t->unsol_len = MIN(c->params.first_burst, t->edtl);
	t->next_r2t_off = MAX(t->unsol_len, t->received);
	t->seq_end = t->unsol_len;
	t->exp_datasn = 0;
	t->cur_ttt = RSVD_TAG;
	if (t->next_r2t_off > t->want)
		t->next_r2t_off = t->want;
	task_check_data(c, t);
}

void data_out_handle(struct iscsi_conn *c, const struct bhs *h,
		     const uint8_t *data)
{
	struct iscsi_task *t = task_find(c, h->itt);
	uint32_t off = h->bufoff, len = h->dsl;

	if (!t || t->state != TASK_DATA_OUT || t->aborted) {
		/* data for an aborted or failed command: discard silently */
		return;
	}
	/* RFC 7143 §11.7: TTT is ours for solicited data, all-ones else */
	if (h->ttt != RSVD_TAG && h->ttt != t->cur_ttt) {
		conn_send_reject(c, h->raw, REJECT_INVALID_PDU_FIELD);
		conn_close(c, "Data-Out with unknown Target Transfer Tag");
		return;
	}
	/*
	 * DataPDUInOrder=Yes: offsets and DataSNs strictly follow on. At
	 * ERL 0 there is no recovery within the command (RFC 7143 §7.1.4.1):
	 * the command ends with CHECK CONDITION, ABORTED COMMAND / DATA
	 * PHASE ERROR (or DATA OFFSET ERROR), which initiators retry; the
	 * session and its other commands go on. Later Data-Outs for it are
	 * dropped.
	 */
	if (h->datasn != t->exp_datasn || off != t->received ||
	    (uint64_t)off + len > t->edtl) {
		log_warn("%s: Data-Out ITT 0x%x DataSN %u (expected %u) offset "
			 "%u (expected %u) length %u: command failed",
			 c->peer_str, h->itt, h->datasn, t->exp_datasn, off,
			 t->received, len);
		scsi_task_set_sense(&t->scsi, h->datasn != t->exp_datasn ?
				    SENSE_DATA_PHASE_ERROR :
				    SENSE_DATA_OFFSET_ERROR);
		t->r2t_pending = 0;
		if (t->item.queued) {
			list_del(&t->item.link);
			t->item.queued = false;
		}
		task_respond(c, t);
		return;
	}
	copy_in(t, off, data, len);
	t->received += len;
	t->exp_datasn++;
	if (h->final) {
		/* end of a sequence: an R2T's burst, or the unsolicited one */
		t->exp_datasn = 0;
		if (h->ttt != RSVD_TAG && t->r2t_outstanding)
			t->r2t_outstanding--;
		if (h->ttt == RSVD_TAG && t->received < t->unsol_len)
			t->unsol_len = t->received;	/* short burst */
	}
	task_check_data(c, t);
}

/* --- NOP ------------------------------------------------------------------------ */

void nop_out_handle(struct iscsi_conn *c, const struct bhs *h,
		    const uint8_t *data)
{
	struct ctl_pdu *p;
	uint8_t *copy = NULL;

	if (h->itt == RSVD_TAG) {
		/* an answer to our ping (TTT echoed), or a no-reply NOP */
		if (!h->immediate)
			cmdsn_accept(c, h);
		return;
	}
	if (!h->immediate && !cmdsn_accept(c, h))
		return;
	if (h->ttt != RSVD_TAG) {
		conn_send_reject(c, h->raw, REJECT_PROTOCOL_ERROR);
		return;
	}
	if (h->dsl) {
		uint32_t n = MIN(h->dsl, c->params.max_recv_dsl_init);

		copy = malloc(n);
		if (!copy)
			return;
		memcpy(copy, data, n);
	}
	/* RFC 7143 §11.19: echo the ping data, advance StatSN */
	p = conn_ctl_new(c, OP_NOP_IN, BHS_F, copy,
			 copy ? MIN(h->dsl, c->params.max_recv_dsl_init) : 0);
	if (!p)
		return;
	put_be64(p->bhs + BHS_LUN, h->lun);
	put_be32(p->bhs + BHS_ITT, h->itt);
	put_be32(p->bhs + BHS_TTT, RSVD_TAG);
	conn_kick_tx(c);
}

/* --- task management --------------------------------------------------------------- */

/* Aborts @t: no response will be sent for it. */
static void task_abort(struct iscsi_conn *c, struct iscsi_task *t)
{
	t->aborted = true;
	task_unhash(c, t);
	if (t->item.queued) {
		list_del(&t->item.link);
		t->item.queued = false;
	}
	if (t->state == TASK_DATA_OUT)
		t->state = TASK_RESPOND;
	/* executing tasks are freed when the SCSI layer completes them */
	task_release(c, t);
}

/*
 * SAM-5 §6.3: a LOGICAL UNIT RESET aborts the LU's tasks of every I_T
 * nexus. Other sessions may live on other reactors: each reactor gets a
 * message and aborts what its connections run on the LU. The message
 * holds an LU reference until the last reactor is done with it.
 */
struct lu_abort_msg {
	struct iscsi_server_thread *thr;
	struct iscsi_conn *except;
	struct scsi_lu *lu;
	atomic_int *left;
};

static void lu_abort_on_reactor(void *arg)
{
	struct lu_abort_msg *m = arg;
	struct iscsi_conn *c;

	list_for_each_entry(c, &m->thr->conns, link) {
		struct iscsi_task *t, *n;

		if (c == m->except || c->state != CONN_FFP)
			continue;
		list_for_each_entry_safe(t, n, &c->active, link)
			if (!t->aborted && t->scsi.lu == m->lu)
				task_abort(c, t);
	}
	if (atomic_fetch_sub(m->left, 1) == 1) {
		scsi_lu_put(m->lu);
		free(m->left);
	}
	free(m);
}

void tasks_abort_lu_everywhere(struct iscsi_conn *except, struct scsi_lu *lu)
{
	struct iscsi_server_thread *thr;
	atomic_int *left = malloc(sizeof(*left));
	int n = 0;

	if (!left)
		return;
	while (server_thread(n))
		n++;
	atomic_init(left, n);
	scsi_lu_get(lu);
	for (int i = 0; i < n; i++) {
		struct lu_abort_msg *m = malloc(sizeof(*m));

		thr = server_thread(i);
		if (m) {
			*m = (struct lu_abort_msg){ thr, except, lu, left };
			if (reactor_post(thr->r, lu_abort_on_reactor, m) == 0)
				continue;
			free(m);
		}
		/* could not post: account for it here */
		if (atomic_fetch_sub(left, 1) == 1) {
			scsi_lu_put(lu);
			free(left);
		}
	}
}

void tasks_abort_all(struct iscsi_conn *c)
{
	struct iscsi_task *t, *n;

	list_for_each_entry_safe(t, n, &c->active, link)
		task_abort(c, t);
}

static unsigned abort_matching(struct iscsi_conn *c, bool all_luns,
			       uint64_t lun, uint32_t below_cmdsn)
{
	struct iscsi_task *t, *n;
	unsigned count = 0;

	list_for_each_entry_safe(t, n, &c->active, link) {
		if (t->aborted || (!all_luns && t->scsi.lun != lun))
			continue;
		if (!t->immediate && !sn_lt(t->cmdsn, below_cmdsn))
			continue;
		task_abort(c, t);
		count++;
	}
	return count;
}

void tmf_handle(struct iscsi_conn *c, const struct bhs *h)
{
	struct iscsi_session *s = c->sess;
	uint8_t function = h->flags & 0x7f;
	uint64_t lun = scsi_lun_decode(h->lun);
	uint8_t response = TMF_RSP_COMPLETE;
	uint32_t cmdsn = h->cmdsn;
	struct ctl_pdu *p;

	if (!h->immediate && !cmdsn_accept(c, h))
		return;
	switch (function) {
	case TMF_ABORT_TASK: {
		struct iscsi_task *t = task_find(c, h->ttt);

		if (t && !t->aborted && t->scsi.lun == lun) {
			task_abort(c, t);
		} else if (!(sn_lt(h->f32, cmdsn) &&
			     sn_le(h->f32 + s->cmd_window, s->exp_cmdsn +
				   s->cmd_window))) {
			/* RFC 7143 §11.5.1: unknown task outside the
			 * window → "task does not exist" */
			response = TMF_RSP_NO_TASK;
		}
		break;
	}
	case TMF_ABORT_TASK_SET:
	case TMF_CLEAR_TASK_SET:
		abort_matching(c, false, lun, h->immediate ? s->exp_cmdsn :
							      cmdsn);
		break;
	case TMF_LUN_RESET: {
		struct scsi_lu *lu = lu_lookup(s, lun);

		if (!lu) {
			response = TMF_RSP_NO_LUN;
			break;
		}
		abort_matching(c, false, lun, s->exp_cmdsn + s->cmd_window);
		/* SAM-5 §6.3: every other I_T nexus loses its tasks on the
		 * LU and sees a unit attention */
		tasks_abort_lu_everywhere(c, lu);
		scsi_lu_reset(lu);
		log_info("%s: LOGICAL UNIT RESET of LUN %llu", c->peer_str,
			 (unsigned long long)lun);
		break;
	}
	case TMF_TARGET_WARM_RESET:
		abort_matching(c, true, 0, s->exp_cmdsn + s->cmd_window);
		scsi_target_reset(s->nexus.target);
		log_info("%s: TARGET WARM RESET", c->peer_str);
		break;
	case TMF_CLEAR_ACA:
	case TMF_TARGET_COLD_RESET:
	case TMF_TASK_REASSIGN:
	default:
		response = TMF_RSP_NOT_SUPPORTED;
		break;
	}
	p = conn_ctl_new(c, OP_TMF_RSP, BHS_F, NULL, 0);
	if (!p)
		return;
	p->bhs[BHS_B2] = response;
	put_be32(p->bhs + BHS_ITT, h->itt);
	conn_kick_tx(c);
}
