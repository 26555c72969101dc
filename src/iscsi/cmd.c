/*
 * cmd.c - the full feature phase requests that carry a command or its
 * data: SCSI Command (RFC 7143 §11.3) with immediate and unsolicited
 * data, Data-Out answering our R2Ts (§11.7-8), and NOP-Out (§11.18).
 *
 * A command becomes a task (task.c) as soon as its CmdSN is accepted;
 * a write's task collects its data here and is executed once all of it
 * arrived.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/fault.h"
#include "base/log.h"
#include "iscsi_internal.h"

/*
 * No task for a command the window admitted: only when a fault hits (the
 * window never promises more commands than free tasks), or an initiator
 * sends more immediate commands than the reserve. The command ends with
 * TASK SET FULL (SAM-5 §5.3.1), answered without a task; if even that
 * cannot be queued the connection closes, so nothing is left hanging.
 */
static void cmd_task_set_full(struct iscsi_conn *c, const struct bhs *h)
{
	struct ctl_pdu *p = conn_ctl_new(c, OP_SCSI_RSP, BHS_F, NULL, 0);

	conn_warn(c, "%s: no free task for ITT 0x%x: TASK SET FULL",
		  c->peer_str, h->itt);
	if (!p) {
		conn_close(c, "out of memory");
		return;
	}
	if (h->ttt) {	/* nothing moved of the expected transfer */
		p->bhs[BHS_FLAGS] |= RSP_U;
		put_be32(p->bhs + BHS_RESID, h->ttt);
	}
	p->bhs[BHS_B3] = SAM_STAT_TASK_SET_FULL;
	put_be32(p->bhs + BHS_ITT, h->itt);
	conn_kick_tx(c);
}

/*
 * Ends a write still collecting its data (ERL 0: no recovery within the
 * command): no more R2Ts, its answer carries @reason, and Data-Outs still
 * arriving for it are dropped (it is no longer TASK_DATA_OUT).
 */
static void data_out_fail(struct iscsi_conn *c, struct iscsi_task *t,
			  enum sense_reason reason)
{
	scsi_task_set_sense(&t->scsi, reason);
	t->r2t_pending = 0;
	task_dequeue(t);
	task_respond(c, t);
}

/* A write that takes data from the initiator (else it runs as it is). */
static bool cmd_collects_data(const struct iscsi_task *t)
{
	return t->scsi.dir == SCSI_DIR_WRITE && (t->hflags & CMD_W) &&
	       t->edtl != 0;
}

/* Fails a command before execution with the sense already in st. */
static void task_fail(struct iscsi_conn *c, struct iscsi_task *t)
{
	task_respond(c, t);
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
	if (t->received < t->unsol_len)
		return;
	if (t->buf_short) {
		/* the unsolicited data is in: now the whole buffer */
		if (!t->bufwait)
			budget_wait(c, t, t->want);
		return;
	}
	task_solicit(c, t);
}

static void copy_in(struct iscsi_task *t, uint32_t off, const uint8_t *data,
		    uint32_t len)
{
	/* bytes beyond what the command needs are accepted and dropped */
	uint32_t end = MIN(t->want, t->buf_cap);

	if (len && off < end)
		memcpy(t->buf + off, data, MIN(len, end - off));
}

void cmd_handle(struct iscsi_conn *c, const struct bhs *h,
		const uint8_t *data)
{
	struct iscsi_session *s = c->sess;
	struct iscsi_task *t;
	struct scsi_task *st;
	bool waiting = false;
	uint32_t alloc;
	int rc;

	if (!h->immediate && !cmdsn_accept(c, h))
		return;
	if (task_find(c, h->itt)) {
		/* RFC 7143 §11.17.1: tag in use */
		conn_send_reject(c, h->raw, REJECT_TASK_IN_PROGRESS);
		return;
	}
	t = task_get(c, h->itt);
	if (!t) {
		cmd_task_set_full(c, h);
		return;
	}
	st = &t->scsi;
	t->immediate = h->immediate;
	t->hflags = h->flags;
	t->cmdsn = h->cmdsn;
	t->edtl = h->ttt;
	st->nexus = &s->nexus;
	st->lun = scsi_lun_decode(h->lun);
	task_stats_received(c, t);
	/* the task's own reference: a LUN removed meanwhile stays valid */
	st->lu = session_lu(s, st->lun);
	if (st->lu)
		scsi_lu_get(st->lu);
	st->exp_len = t->edtl;
	st->r = c->r;
	memcpy(st->cdb, h->raw + BHS_CDB, 16);
	if (h->ahs_len) {
		/* RFC 7143 §11.2.2: inconsistent lengths are a format error */
		struct pdu_ahs ahs;

		if (pdu_parse_ahs(h->raw + BHS_LEN, h->ahs_len, &ahs) < 0 ||
		    (ahs.ext_cdb && 16u + ahs.ext_cdb_len > SCSI_CDB_MAX)) {
			conn_warn(c, "%s: SCSI Command ITT 0x%x with malformed "
				  "AHS: rejected", c->peer_str, h->itt);
			conn_send_reject(c, h->raw, REJECT_INVALID_PDU_FIELD);
			task_put(c, t);
			return;
		}
		if (ahs.ext_cdb)
			memcpy(st->cdb + 16, ahs.ext_cdb, ahs.ext_cdb_len);
	}
	if (scsi_task_prepare(st) != SENSE_NONE) {
		task_fail(c, t);
		return;
	}
	/*
	 * A data-in command's length is an allocation length (SPC-4 §4.2.5.6:
	 * no upper limit; READs are bounded by the SCSI layer): its buffer
	 * is capped and the answer truncated. Data-out needs all its bytes.
	 */
	if (st->data_len > MAX_DATA_XFER && st->dir != SCSI_DIR_READ) {
		scsi_task_set_sense(st, SENSE_INVALID_FIELD_IN_CDB);
		task_fail(c, t);
		return;
	}
	if (st->dir == SCSI_DIR_WRITE && !(h->flags & CMD_W) && st->data_len) {
		/* a write CDB with no data announced: nothing to write */
		t->edtl = 0;
	}
	alloc = st->dir == SCSI_DIR_NONE ? 0 : MIN(st->data_len, t->edtl);
	alloc = MIN(alloc, MAX_DATA_XFER);
	if (alloc) {
		/* over the budget it waits (budget.c), in the window */
		rc = task_buf_alloc(c, t, alloc, BUF_NEW);
		if (rc == -ENOMEM) {
			scsi_task_set_sense(st, SENSE_NO_MEMORY);
			task_fail(c, t);
			return;
		}
		waiting = rc == -EAGAIN;
	}
	task_admit(c, t, h->flags & 0x07);
	if (!cmd_collects_data(t)) {
		/*
		 * Immediate data for a command that moves none (or reads) is
		 * dropped; the CDB decides what the command does and the
		 * residual tells the initiator (libiscsi iSCSIResiduals).
		 */
		if (waiting)
			budget_wait(c, t, alloc);
		else
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
	if (h->dsl > c->params.first_burst) {
		/*
		 * RFC 7143 §13.14: unsolicited data (immediate included)
		 * stops at FirstBurstLength. §11.4.7.2: the command ends with
		 * ABORTED COMMAND, UNEXPECTED UNSOLICITED DATA; nothing of it
		 * is written.
		 */
		conn_warn(c, "%s: %u bytes of immediate data exceed "
			  "FirstBurstLength %u", c->peer_str, h->dsl,
			  c->params.first_burst);
		scsi_task_set_sense(st, SENSE_UNSOLICITED_DATA);
		task_order_end(c, t);
		task_respond(c, t);
		return;
	}
	t->unsol_len = h->dsl;
	if (!c->params.initial_r2t && !h->final)
		t->unsol_len = MIN(c->params.first_burst, t->edtl);
	if (waiting && t->unsol_len) {
		/*
		 * Over budget, but unsolicited data comes now: hold it (at
		 * most FirstBurstLength); the rest of the buffer waits.
		 */
		uint32_t hold = MIN(alloc, t->unsol_len);

		if (task_buf_alloc(c, t, hold, hold < alloc ? BUF_HOLD :
						BUF_FORCE) < 0) {
			scsi_task_set_sense(st, SENSE_NO_MEMORY);
			task_order_end(c, t);
			task_respond(c, t);
			return;
		}
		t->buf_short = hold < alloc;
	}
	copy_in(t, 0, data, h->dsl);
	t->received = h->dsl;
	t->next_r2t_off = MAX(t->unsol_len, t->received);
	t->seq_end = t->unsol_len;
	t->exp_datasn = 0;
	if (t->next_r2t_off > t->want)
		t->next_r2t_off = t->want;
	if (!t->buf) {
		budget_wait(c, t, alloc);	/* no data before our R2Ts */
		return;
	}
	task_check_data(c, t);
}

void cmd_buf_granted(struct iscsi_conn *c, struct iscsi_task *t, int rc)
{
	if (rc < 0) {
		scsi_task_set_sense(&t->scsi, SENSE_NO_MEMORY);
		task_order_end(c, t);
		task_respond(c, t);
		return;
	}
	t->buf_short = false;
	if (!cmd_collects_data(t)) {
		task_exec(c, t);
		return;
	}
	t->state = TASK_DATA_OUT;
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
	/*
	 * RFC 7143 §11.7: TTT is ours for solicited data, all-ones else;
	 * sequences come in order, so it is the oldest outstanding R2T's.
	 */
	if (h->ttt != RSVD_TAG &&
	    (!t->r2t_outstanding || h->ttt != t->r2t_ttt[t->r2t_head])) {
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
	if (h->ttt == RSVD_TAG && (uint64_t)off + len > t->unsol_len) {
		/* RFC 7143 §11.4.7.2: more unsolicited data than allowed */
		conn_warn(c, "%s: unsolicited Data-Out ITT 0x%x beyond "
			  "FirstBurstLength: command failed", c->peer_str,
			  h->itt);
		data_out_fail(c, t, SENSE_UNSOLICITED_DATA);
		return;
	}
	if (h->datasn != t->exp_datasn || off != t->received ||
	    (uint64_t)off + len > t->edtl) {
		conn_warn(c, "%s: Data-Out ITT 0x%x DataSN %u (expected %u) "
			  "offset %u (expected %u) length %u: command failed",
			  c->peer_str, h->itt, h->datasn, t->exp_datasn, off,
			  t->received, len);
		data_out_fail(c, t, h->datasn != t->exp_datasn ?
				    SENSE_DATA_PHASE_ERROR :
				    SENSE_DATA_OFFSET_ERROR);
		return;
	}
	copy_in(t, off, data, len);
	t->received += len;
	t->exp_datasn++;
	if (h->final) {
		/* end of a sequence: an R2T's burst, or the unsolicited one */
		t->exp_datasn = 0;
		if (h->ttt != RSVD_TAG && t->r2t_outstanding) {
			t->r2t_outstanding--;
			t->r2t_head = (t->r2t_head + 1) % TASK_MAX_R2T;
		}
		if (h->ttt == RSVD_TAG && t->received < t->unsol_len) {
			/* short burst (RFC 7143 §13.14: "up to"
			 * FirstBurstLength): R2Ts ask for the rest */
			t->unsol_len = t->received;
			t->next_r2t_off = MIN(t->next_r2t_off, t->received);
		}
	}
	task_check_data(c, t);
}

/*
 * RFC 7143 §7.8: a Data-Out whose data digest failed was discarded (and
 * Rejected by conn.c). At ErrorRecoveryLevel 0 the target cannot ask for
 * the data again (that is a recovery R2T, ERL 1), so the command ends
 * with CHECK CONDITION, ABORTED COMMAND / PROTOCOL SERVICE CRC ERROR
 * (§11.4.7.2); its later Data-Outs are dropped.
 */
void data_out_digest_error(struct iscsi_conn *c, const struct bhs *h)
{
	struct iscsi_task *t = task_find(c, h->itt);

	if (!t || t->state != TASK_DATA_OUT || t->aborted)
		return;
	data_out_fail(c, t, SENSE_CRC_ERROR);
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
