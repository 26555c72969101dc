/*
 * session.c - an iSCSI session once its login is done: its identity (the
 * I_T nexus the SCSI layer sees), registration with the core registry,
 * the CmdSN window (RFC 7143 §4.2.2), the per-session cache of LUs, and
 * its end. Reinstatement (§6.3.5) is started by login.c through
 * fence_sessions() (tmf.c) before session_start() runs, so an old
 * session's I/O is gone before the new one exists.
 *
 * MaxConnections=1: a session has one connection and lives on its
 * reactor; nothing here is touched from another thread except through
 * the core registry's evict callback, which only posts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "iscsi_internal.h"

/*
 * Tasks beyond the CmdSN window, for immediate commands (RFC 7143 §3.2.2.1:
 * they do not take a CmdSN slot) and TMFs' targets of the same ITTs.
 */
#define IMMEDIATE_RESERVE 16

static void isid_hex(const uint8_t isid[6], char *out, size_t len)
{
	snprintf(out, len, "%02x%02x%02x%02x%02x%02x", isid[0], isid[1],
		 isid[2], isid[3], isid[4], isid[5]);
}

void session_port_name(const char *initiator, const uint8_t isid[6],
		       char *out, size_t len)
{
	char hex[16];

	isid_hex(isid, hex, sizeof(hex));
	snprintf(out, len, "%s,i,0x%s", initiator, hex);
}

static void evict_on_reactor(struct ev_post *p)
{
	struct iscsi_session *s = container_of(p, struct iscsi_session,
					       evict_post);
	struct iscsi_conn *c, *victim = NULL;
	/* read before a new evict may post (and write it) again */
	const char *why = s->evict_why;

	atomic_store(&s->evict_posted, false);
	if (s->zombie) {	/* freed while this post was queued */
		free(s);
		return;
	}
	/* MaxConnections=1: one connection */
	list_for_each_entry(c, &s->thr->conns, link) {
		if (c->sess == s) {
			victim = c;
			break;
		}
	}
	/*
	 * As on a connection loss: its tasks are aborted (those in the store
	 * finish there, answering nothing) and it is freed once they are
	 * gone, maybe inside this call, and the session with it: neither is
	 * touched afterwards.
	 */
	if (victim)
		conn_close(victim, why);
}

/*
 * Called by core with its registry lock held (the session is registered,
 * so alive, and stays so until its reactor has run the post: it is only
 * freed there): schedules the close on the session's own reactor, once.
 */
static void session_evict(struct core_session *info, const char *why)
{
	struct iscsi_session *s = container_of(info, struct iscsi_session, info);

	if (atomic_exchange(&s->evict_posted, true))
		return;		/* already on its way */
	s->evict_why = why;	/* read by the post, which the post orders */
	s->evict_post.fn = evict_on_reactor;
	reactor_post_node(s->thr->r, &s->evict_post);
}

int session_start(struct iscsi_conn *c, const uint8_t isid[6], uint16_t tsih,
		  uint32_t cmdsn, struct tgt_target *target,
		  const struct text_negot *n)
{
	struct iscsi_session *s = calloc(1, sizeof(*s));
	char hex[16];

	if (!s)
		return -ENOMEM;
	s->discovery = n->discovery;
	memcpy(s->isid, isid, 6);
	s->tsih = tsih;
	s->exp_cmdsn = cmdsn;
	s->cmd_window = c->set->cmd_window;
	s->max_cmdsn = cmdsn + s->cmd_window - 1;
	isid_hex(isid, hex, sizeof(hex));
	if (!s->discovery) {
		session_port_name(n->initiator_name, isid,
				  s->nexus.initiator_port,
				  sizeof(s->nexus.initiator_port));
		/* RFC 7143 §4.4.1: the SCSI target port is the portal group */
		s->nexus.rel_port_id = c->tpgt;
		s->nexus.target = core_target_scsi(target);
		s->sets = calloc(SCSI_MAX_LUNS, sizeof(*s->sets));
		s->lu_stats = calloc(SCSI_MAX_LUNS, sizeof(*s->lu_stats));
		if (!s->sets || !s->lu_stats ||
		    tasks_init(c, s->cmd_window + IMMEDIATE_RESERVE) < 0) {
			free(s->sets);
			free(s->lu_stats);
			free(s);
			return -ENOMEM;
		}
		s->target = target;	/* takes the login's reference */
		/* what tmf.c implements, for REPORT SUPPORTED TMFs */
		s->nexus.tmf_supported = SCSI_TMF_ATS | SCSI_TMF_ATSS |
					 SCSI_TMF_CTSS | SCSI_TMF_LURS |
					 SCSI_TMF_TRS;
		if (c->params.protocol_level >= 2)
			s->nexus.tmf_supported |= SCSI_TMF_QTS |
						  SCSI_TMF_QTSS |
						  SCSI_TMF_ITNRS |
						  SCSI_TMF_QAES;
		/* PREEMPT AND ABORT's reach into other sessions (tmf.c) */
		s->nexus.ops = &tmf_scsi_ops;
	}
	s->info.target = s->target;
	snprintf(s->info.initiator, sizeof(s->info.initiator), "%s",
		 n->initiator_name);
	snprintf(s->info.alias, sizeof(s->info.alias), "%s",
		 n->initiator_alias);
	snprintf(s->info.isid, sizeof(s->info.isid), "%s", hex);
	s->info.tsih = s->tsih;
	s->info.cid = c->cid;
	snprintf(s->info.peer, sizeof(s->info.peer), "%s", c->peer_str);
	snprintf(s->info.local, sizeof(s->info.local), "%s", c->local_str);
	s->info.reactor = reactor_index(c->r);
	s->info.evict = session_evict;
	s->info.lu_stats = s->lu_stats;
	s->info.conn_stats = &c->stats;
	s->thr = c->thr;
	s->info.connections = 1;
	s->info.header_digest = c->params.header_digest;
	s->info.data_digest = c->params.data_digest;
	/*
	 * An older session of this nexus was fenced and closed by login.c
	 * already; one still registered here is only waiting to be freed.
	 */
	if (core_session_register(&s->info) > 0)
		conn_info(c, "session %u reinstates the earlier session of "
			  "%s, ISID 0x%s", s->tsih, s->info.initiator, hex);
	s->registered = true;
	c->sess = s;
	conn_info(c, "%s session %u: %s from %s on %s%s%s%s", s->discovery ?
		  "discovery" : "login", s->tsih, n->initiator_name,
		  c->peer_str, s->discovery ? "" : "target ",
		  s->discovery ? c->local_str : core_target_iqn(s->target),
		  c->params.header_digest ? ", header digest" : "",
		  c->params.data_digest ? ", data digest" : "");
	return 0;
}

void session_free(struct iscsi_session *s)
{
	/* the I_T nexus ends with the session (SPC-2 reservations go) */
	if (s->target)
		scsi_nexus_end(&s->nexus);
	if (s->registered)
		core_session_unregister(&s->info);
	for (int i = 0; i < SCSI_MAX_LUNS; i++)
		if (s->lu_cache[i])
			scsi_lu_put(s->lu_cache[i]);
	if (s->target)
		core_target_put(s->target);
	free(s->sets);
	s->sets = NULL;
	free(s->lu_stats);
	s->lu_stats = NULL;
	/*
	 * Unregistered: core posts no new evict. One already queued on this
	 * reactor still names the session; it frees it instead.
	 */
	if (atomic_load(&s->evict_posted)) {
		s->zombie = true;
		return;
	}
	free(s);
}

/* --- CmdSN ------------------------------------------------------------------ */

bool cmdsn_accept(struct iscsi_conn *c, const struct bhs *h)
{
	struct iscsi_session *s = c->sess;

	/* RFC 7143 §4.2.2.1: outside [ExpCmdSN, MaxCmdSN] is ignored */
	if (sn_lt(h->cmdsn, s->exp_cmdsn) || sn_lt(s->max_cmdsn, h->cmdsn)) {
		log_debug("%s: CmdSN %u outside window [%u, %u]; ignored",
			  c->peer_str, h->cmdsn, s->exp_cmdsn, s->max_cmdsn);
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

uint32_t session_max_cmdsn(struct iscsi_conn *c, unsigned freeing)
{
	struct iscsi_session *s = c->sess;
	uint32_t room, max;

	if (!s)
		return 0;
	if (s->discovery || !c->task_pool) {
		room = s->cmd_window;
	} else if (c->bw_head) {
		/* commands wait for buffers (budget.c): admit no more */
		room = 0;
	} else {
		/*
		 * Each command in [ExpCmdSN, MaxCmdSN] will need a task:
		 * offer no more than are free beyond the immediate reserve.
		 */
		uint32_t idle = c->tasks_idle + freeing;

		room = idle > IMMEDIATE_RESERVE ? idle - IMMEDIATE_RESERVE : 0;
		room = MIN(room, s->cmd_window);
	}
	max = s->exp_cmdsn + room - 1;
	/* never lower it: initiators ignore a smaller MaxCmdSN anyway */
	if (sn_lt(s->max_cmdsn, max))
		s->max_cmdsn = max;
	return s->max_cmdsn;
}

bool session_window_update_due(struct iscsi_conn *c)
{
	struct iscsi_session *s = c->sess;
	uint32_t sent, now;

	if (!s || s->discovery || c->state != CONN_FFP)
		return false;
	sent = s->max_cmdsn;
	/* only when the initiator has (nearly) run out of window */
	if (s->max_cmdsn - s->exp_cmdsn + 1 > s->cmd_window / 4)
		return false;
	now = session_max_cmdsn(c, 0);
	return now != sent;
}

/* --- LU cache --------------------------------------------------------------- */

struct scsi_lu *session_lu(struct iscsi_session *s, uint64_t lun)
{
	struct scsi_lu *lu;

	if (lun >= SCSI_MAX_LUNS)
		return NULL;
	lu = s->lu_cache[lun];
	if (lu && !scsi_lu_removed(lu))
		return lu;
	if (lu) {
		/*
		 * Removed (or replaced) under us: forget it. Tasks still on
		 * it hold references of their own.
		 */
		scsi_lu_put(lu);
		s->lu_cache[lun] = NULL;
	}
	lu = scsi_target_get_lu(s->nexus.target, lun);
	s->lu_cache[lun] = lu;	/* the cache holds the reference */
	return lu;
}
