/*
 * tgtadm_stat.c - tgt 1.0.85's `--op stat` tables, printed from
 * ringtgtd's target.list and session.list {"stats": true} results
 * (docs/control-protocol.md). tgt keeps one line of counters per I_T_L
 * nexus (usr/target.c tgt_stat_line()) and one per connection
 * (usr/iscsi/target.c _stat_iscsi_conn()); the columns, widths and the
 * order of the lines are tgt's:
 *   system, target: per LU in LUN order, its sessions in login order;
 *   logicalunit: that LU's line per session;
 *   session: its LUs, newest first (tgt adds each at the head of the
 *     nexus's list: highest LUN first), a blank line, its connections;
 *   conn: that connection.
 * Unlike tgt, Data-In and SCSI Response PDUs are counted (tgt counts
 * them by the request's opcode and shows 0), and a logicalunit request
 * shows only that LU.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tgtadm.h"
#include "tgtadm_internal.h"

static void stat_header(FILE *out)
{
	fprintf(out, "tgt lun sid rd_subm(bytes,cmds) rd_done(bytes,cmds) "
		"wr_subm(bytes,cmds) wr_done(bytes,cmds) errs\n");
}

static void stat_line(FILE *out, int64_t tid, json_object *session,
		      json_object *lu)
{
	fprintf(out, "%3" PRId64 " %3" PRId64 " %3" PRId64
		" %12" PRId64 " %6" PRId64 " %12" PRId64 " %6" PRId64
		" %12" PRId64 " %6" PRId64 " %12" PRId64 " %6" PRId64
		" %4" PRId64 "\n", tid, tgtadm_jint(lu, "lun"),
		tgtadm_jint(session, "tsih"),
		tgtadm_jint(lu, "read_submitted_bytes"),
		tgtadm_jint(lu, "read_submitted_cmds"),
		tgtadm_jint(lu, "read_done_bytes"),
		tgtadm_jint(lu, "read_done_cmds"),
		tgtadm_jint(lu, "write_submitted_bytes"),
		tgtadm_jint(lu, "write_submitted_cmds"),
		tgtadm_jint(lu, "write_done_bytes"),
		tgtadm_jint(lu, "write_done_cmds"),
		tgtadm_jint(lu, "errors"));
}

static void conn_header(FILE *out)
{
	fprintf(out, "sid cid rxdata_octets txdata_octets dataout_pdus "
		"datain_pdus cmd_pdus rsp_pdus\n");
}

static void conn_line(FILE *out, json_object *session, json_object *conn)
{
	fprintf(out, "%3" PRId64 " %3" PRId64 " %13" PRId64 " %13" PRId64
		" %12" PRId64 " %11" PRId64 " %8" PRId64 " %8" PRId64 "\n",
		tgtadm_jint(session, "tsih"), tgtadm_jint(conn, "cid"),
		tgtadm_jint(conn, "rx_octets"), tgtadm_jint(conn, "tx_octets"),
		tgtadm_jint(conn, "dataout_pdus"),
		tgtadm_jint(conn, "datain_pdus"), tgtadm_jint(conn, "cmd_pdus"),
		tgtadm_jint(conn, "rsp_pdus"));
}

static json_object *stats_of(json_object *session, const char *key)
{
	json_object *st;

	if (!json_object_object_get_ex(session, "stats", &st))
		return NULL;
	return tgtadm_jarr(st, key);
}

/* The counters of LUN @lun in @session's stats, NULL when it has none. */
static json_object *session_lu(json_object *session, int64_t lun)
{
	json_object *luns = stats_of(session, "luns");

	for (size_t i = 0; i < tgtadm_jlen(luns); i++) {
		json_object *l = json_object_array_get_idx(luns, i);

		if (tgtadm_jint(l, "lun") == lun)
			return l;
	}
	return NULL;
}

static bool is_normal(json_object *session)
{
	const char *type = tgtadm_jstr(session, "type");

	return type && !strcmp(type, "normal");
}

/* The lines of target @t: per LU (or only @only_lun), per session. */
static void stat_target(FILE *out, json_object *t, json_object *sessions,
			int64_t only_lun)
{
	json_object *luns = tgtadm_jarr(t, "luns");
	int64_t tid = tgtadm_jint(t, "tid");

	for (size_t i = 0; i < tgtadm_jlen(luns); i++) {
		int64_t lun = tgtadm_jint(json_object_array_get_idx(luns, i),
					  "lun");

		if (only_lun >= 0 && lun != only_lun)
			continue;
		for (size_t k = 0; k < tgtadm_jlen(sessions); k++) {
			json_object *s = json_object_array_get_idx(sessions, k);
			json_object *l;

			if (!is_normal(s) || tgtadm_jint(s, "tid") != tid)
				continue;
			l = session_lu(s, lun);
			if (l)
				stat_line(out, tid, s, l);
		}
	}
}

static json_object *target_by_tid(json_object *targets, int64_t tid)
{
	for (size_t i = 0; i < tgtadm_jlen(targets); i++) {
		json_object *t = json_object_array_get_idx(targets, i);

		if (tgtadm_jint(t, "tid") == tid)
			return t;
	}
	return NULL;
}

/* tgt looks a session up by its TSIH alone, whatever --tid says. */
static json_object *session_by_sid(json_object *sessions, uint64_t sid)
{
	for (size_t i = 0; i < tgtadm_jlen(sessions); i++) {
		json_object *s = json_object_array_get_idx(sessions, i);

		if (is_normal(s) && (uint64_t)tgtadm_jint(s, "tsih") == sid)
			return s;
	}
	return NULL;
}

enum tgtadm_stat_rc tgtadm_stat_print(const struct tgtadm_req *r,
				      json_object *targets,
				      json_object *sessions, FILE *out)
{
	json_object *t, *s, *luns, *conns;

	switch (r->mode) {
	case TGTADM_MODE_SYSTEM:
		stat_header(out);
		for (size_t i = 0; i < tgtadm_jlen(targets); i++)
			stat_target(out, json_object_array_get_idx(targets, i),
				    sessions, -1);
		return TGTADM_STAT_OK;
	case TGTADM_MODE_TARGET:
	case TGTADM_MODE_DEVICE:
		t = target_by_tid(targets, r->tid);
		if (!t)
			return TGTADM_STAT_NO_TARGET;
		if (r->mode == TGTADM_MODE_DEVICE) {
			bool found = false;

			luns = tgtadm_jarr(t, "luns");
			for (size_t i = 0; i < tgtadm_jlen(luns); i++)
				found |= (uint64_t)tgtadm_jint(
					json_object_array_get_idx(luns, i),
					"lun") == r->lun;
			if (!found)
				return TGTADM_STAT_NO_LUN;
		}
		stat_header(out);
		stat_target(out, t, sessions, r->mode == TGTADM_MODE_DEVICE ?
			    (int64_t)r->lun : -1);
		return TGTADM_STAT_OK;
	case TGTADM_MODE_SESSION:
		s = session_by_sid(sessions, r->sid);
		if (!s)
			return TGTADM_STAT_NO_SESSION;
		stat_header(out);
		luns = stats_of(s, "luns");
		for (size_t i = tgtadm_jlen(luns); i > 0; i--)
			stat_line(out, tgtadm_jint(s, "tid"), s,
				  json_object_array_get_idx(luns, i - 1));
		conns = stats_of(s, "connections");
		if (tgtadm_jlen(conns)) {
			fprintf(out, "\n");
			conn_header(out);
		}
		for (size_t i = 0; i < tgtadm_jlen(conns); i++)
			conn_line(out, s, json_object_array_get_idx(conns, i));
		return TGTADM_STAT_OK;
	case TGTADM_MODE_CONNECTION:
		s = session_by_sid(sessions, r->sid);
		if (!s)
			return TGTADM_STAT_NO_SESSION;
		conns = stats_of(s, "connections");
		for (size_t i = 0; i < tgtadm_jlen(conns); i++) {
			json_object *c = json_object_array_get_idx(conns, i);

			if ((uint64_t)tgtadm_jint(c, "cid") != r->cid)
				continue;
			conn_header(out);
			conn_line(out, s, c);
			return TGTADM_STAT_OK;
		}
		return TGTADM_STAT_NO_CONNECTION;
	default:
		return TGTADM_STAT_UNSUPPORTED;
	}
}
