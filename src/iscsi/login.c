/*
 * login.c - the login phase (RFC 7143 §6.3, §11.12-13), text requests in
 * the full feature phase (§11.10, SendTargets in Appendix C), logout
 * (§11.14), and session set-up and tear-down.
 *
 * Login: every Login Request is answered by one Login Response. Keys are
 * negotiated by text.c; this file checks the stage transitions, finds
 * the target, applies the ACL, and turns a finished login into a session.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "chap.h"
#include "iscsi_internal.h"
#include "tparams.h"

#define LOGIN_TEXT_MAX 65536	/* a login's text, C-bit pieces joined */
#define TEXT_RSP_MAX 65536
/*
 * A SendTargets answer lists every visible target with every portal: a
 * storage node with a thousand volumes on four portals needs ~200 KB. It
 * may grow to this bound (the targets are the administrator's, not the
 * peer's); the initiator takes it in MaxRecvDataSegmentLength pieces
 * (RFC 7143 §11.10.2, the C bit).
 */
#define TEXT_SENDTARGETS_MAX (4u << 20)
/*
 * An authentication failure is answered this long after the request, so
 * a secret cannot be guessed at line rate (the connection reads nothing
 * meanwhile and closes after the answer).
 */
#define LOGIN_AUTH_DELAY_MS 1000

enum { STAGE_SECURITY = 0, STAGE_OPERATIONAL = 1, STAGE_FFP = 3 };

enum login_auth { AUTH_UNDECIDED, AUTH_NONE, AUTH_CHAP };

struct login_state {
	/* the last request, answered once reinstatement fenced the old session */
	struct bhs last;
	uint8_t last_flags;
	char *last_kv;
	size_t last_kv_len;
	bool waiting;			/* for fence_sessions() */
	uint8_t isid[6];
	uint16_t tsih;
	uint16_t cid;
	uint32_t itt;
	uint32_t cmdsn;
	int stage;
	bool first_done;		/* first request seen */
	bool tpgt_sent;
	bool security_done;
	/* authentication (RFC 7143 §12): what was agreed, and how far */
	enum login_auth auth;
	bool auth_ok;			/* AuthMethod=None allowed, or CHAP done */
	struct chap_ctx chap;
	/* a refused authentication, answered at delay_until_ms */
	bool delayed;
	uint32_t delayed_itt;
	uint64_t delay_until_ms;
	struct text_negot negot;
	bool target_limits;		/* the target's own keys are in c->limits */
	struct tgt_target *target;
	char *acc;			/* C-bit pieces */
	size_t acc_len;
};

void login_free(struct iscsi_conn *c)
{
	struct login_state *l = c->login;

	if (!l)
		return;
	if (l->target)
		core_target_put(l->target);
	chap_wipe(&l->chap);
	free(l->last_kv);
	free(l->acc);
	free(l);
	c->login = NULL;
}

static void login_respond(struct iscsi_conn *c, const struct bhs *h,
			  int status, uint8_t flags, const struct kvbuf *kv)
{
	struct login_state *l = c->login;
	void *data = NULL;
	struct ctl_pdu *p;

	if (kv && kv->len) {
		data = malloc(kv->len);
		if (data)
			memcpy(data, kv->data, kv->len);
	}
	p = conn_ctl_new(c, OP_LOGIN_RSP, flags, data, data ? (uint32_t)kv->len : 0);
	if (!p) {
		conn_close(c, "out of memory");
		return;
	}
	p->raw_sn = true;
	memcpy(p->bhs + BHS_ISID, l->isid, 6);
	put_be16(p->bhs + BHS_TSIH, status == LOGIN_OK ? l->tsih : 0);
	put_be32(p->bhs + BHS_ITT, h->itt);
	put_be32(p->bhs + BHS_CMDSN, c->statsn++);
	put_be32(p->bhs + BHS_EXPSTATSN, l->cmdsn);
	put_be32(p->bhs + BHS_MAXCMDSN, l->cmdsn + c->set->cmd_window - 1);
	p->bhs[BHS_DATASN] = (uint8_t)(status >> 8);
	p->bhs[BHS_DATASN + 1] = (uint8_t)status;
	if (status != LOGIN_OK)
		p->close_after = true;
	conn_kick_tx(c);
}

static void login_fail(struct iscsi_conn *c, const struct bhs *h, int status,
		       const char *why)
{
	struct login_state *l = c->login;
	const char *tn = l && l->negot.target_name[0] ?
		l->negot.target_name : l && l->negot.discovery ?
		"discovery" : "?";

	/* once per refused login; conn_warn limits the lines per source */
	conn_warn(c, "login from %s (%s) to %s refused: %s (status 0x%04x)",
		  c->peer_str, l && l->negot.initiator_name[0] ?
			  l->negot.initiator_name : "?", tn, why, status);
	/* no further requests are read; the response closes the connection */
	conn_logged_out(c);
	if (status == LOGIN_AUTH_FAILED && l) {
		/* answered by login_tick(), after LOGIN_AUTH_DELAY_MS */
		l->delayed = true;
		l->delayed_itt = h->itt;
		l->delay_until_ms = reactor_now_ms(c->r) + LOGIN_AUTH_DELAY_MS;
		reactor_tick_within(c->r, LOGIN_AUTH_DELAY_MS);
		return;
	}
	login_respond(c, h, status, 0, NULL);
}

bool login_tick(struct iscsi_conn *c, uint64_t now)
{
	struct login_state *l = c->login;
	struct bhs h;

	if (!l || !l->delayed)
		return false;
	if (now >= l->delay_until_ms) {
		memset(&h, 0, sizeof(h));
		h.itt = l->delayed_itt;
		l->delayed = false;
		login_respond(c, &h, LOGIN_AUTH_FAILED, 0, NULL);
		/* the wait for the answer to be taken starts now */
		c->logged_out_ms = now;
	}
	return true;
}

/* --- authentication (RFC 7143 §12) ------------------------------------------- */

static int auth_incoming(void *ctx, const char *user, uint8_t *secret,
			 size_t cap)
{
	return core_auth_incoming(ctx, user, secret, cap);
}

static int auth_outgoing(void *ctx, char *user, size_t ucap, uint8_t *secret,
			 size_t cap)
{
	return core_auth_outgoing(ctx, user, ucap, secret, cap);
}

/* The policy of what this login is for: its target, or discovery. */
static void login_policy(struct login_state *l, struct core_auth_policy *p)
{
	core_auth_policy(l->negot.discovery ? NULL : l->target, p);
}

/* Picks the first offered method we take (RFC 7143 §6.2 list rule). */
static enum login_auth auth_pick(const char *offer, bool chap_required)
{
	static const char *const chap[] = { "CHAP", NULL };
	static const char *const none[] = { "None", NULL };

	if (!text_pick_list(offer, chap_required ? chap : none))
		return AUTH_UNDECIDED;
	return chap_required ? AUTH_CHAP : AUTH_NONE;
}

/*
 * The security stage's part of a request: answers AuthMethod and runs
 * CHAP. False when the login failed. @transit is cleared when the
 * initiator asked to leave the stage before CHAP is done (the target
 * answers T=0 and the exchange goes on, RFC 7143 §11.13.1).
 */
static bool login_auth_step(struct iscsi_conn *c, const struct bhs *h,
			    struct kvbuf *kv, bool *transit)
{
	struct login_state *l = c->login;
	struct text_negot *n = &l->negot;
	bool keys = n->chap_a || n->chap_n || n->chap_r || n->chap_i ||
		    n->chap_c, chose_now = false;
	struct core_auth_policy pol;
	char why[200];

	login_policy(l, &pol);
	if (n->has_auth_offer) {
		enum login_auth pick = auth_pick(n->auth_offer,
						 pol.chap_required);

		if (l->auth != AUTH_UNDECIDED) {
			login_fail(c, h, LOGIN_AUTH_FAILED,
				   "AuthMethod offered again");
			return false;
		}
		if (pick == AUTH_UNDECIDED) {
			snprintf(why, sizeof(why), pol.chap_required ?
				 "CHAP is required; the initiator offered "
				 "AuthMethod=%.64s" :
				 "the initiator offered AuthMethod=%.64s; the "
				 "target has no CHAP account", n->auth_offer);
			kv_add(kv, "AuthMethod", "Reject");
			login_fail(c, h, LOGIN_AUTH_FAILED, why);
			return false;
		}
		l->auth = pick;
		chose_now = true;
		kv_add(kv, "AuthMethod", pick == AUTH_CHAP ? "CHAP" : "None");
		snprintf(n->auth_method, sizeof(n->auth_method), "%s",
			 pick == AUTH_CHAP ? "CHAP" : "None");
		if (pick == AUTH_NONE)
			l->auth_ok = true;
		else
			chap_init(&l->chap, pol.algs, pol.mutual_required);
	}
	if (keys && l->auth != AUTH_CHAP) {
		login_fail(c, h, LOGIN_AUTH_FAILED,
			   "CHAP keys without AuthMethod=CHAP agreed");
		return false;
	}
	/* a request without CHAP keys after CHAP_OK only goes on */
	if (l->auth == AUTH_CHAP && (keys || (!chose_now && !l->auth_ok))) {
		struct chap_keys in = { n->chap_a, n->chap_n, n->chap_r,
					n->chap_i, n->chap_c };
		struct chap_lookup lk = {
			.ctx = n->discovery ? NULL : l->target,
			.incoming = auth_incoming,
			.outgoing = auth_outgoing,
		};

		why[0] = '\0';
		switch (chap_step(&l->chap, &in, &lk, kv, why, sizeof(why))) {
		case CHAP_FAIL:
			login_fail(c, h, LOGIN_AUTH_FAILED,
				   why[0] ? why : "CHAP failed");
			return false;
		case CHAP_OK:
			l->auth_ok = true;
			conn_info(c, "%s: %s authenticated as \"%s\" by CHAP "
				  "(CHAP_A=%d%s)", c->peer_str,
				  n->initiator_name, l->chap.user, l->chap.alg,
				  l->chap.mutual ? ", mutual" : "");
			break;
		case CHAP_CONTINUE:
			break;
		}
	}
	if (*transit && l->auth == AUTH_CHAP && !l->auth_ok)
		*transit = false;	/* not yet: the exchange goes on */
	return true;
}

/*
 * Nothing past the security stage without the authentication the policy
 * asks for: checked when a request leaves it or starts beyond it, and
 * again (the accounts may have changed) before the session exists.
 */
static bool login_auth_gate(struct iscsi_conn *c, const struct bhs *h)
{
	struct login_state *l = c->login;
	struct core_auth_policy pol;

	login_policy(l, &pol);
	if (!pol.chap_required || (l->auth == AUTH_CHAP && l->auth_ok &&
				   (!pol.mutual_required || l->chap.mutual)))
		return true;
	login_fail(c, h, LOGIN_AUTH_FAILED, l->auth == AUTH_UNDECIDED ?
		   "CHAP is required; the login skipped the security stage" :
		   "CHAP is required and was not completed");
	return false;
}

/* First request: identity checks (RFC 7143 §6.3.1, §11.12). */
static bool login_first(struct iscsi_conn *c, const struct bhs *h)
{
	struct login_state *l = c->login;

	memcpy(l->isid, h->raw + BHS_ISID, 6);
	l->tsih = get_be16(h->raw + BHS_TSIH);
	l->cid = get_be16(h->raw + BHS_TTT);
	l->itt = h->itt;
	l->cmdsn = h->cmdsn;
	c->cid = l->cid;
	c->statsn = h->expstatsn;	/* any start value works; follow theirs */
	if (h->b3 > 0) {		/* Version-min above what we speak */
		login_fail(c, h, LOGIN_BAD_VERSION, "unsupported version");
		return false;
	}
	if (l->tsih != 0) {
		/*
		 * Adding a connection to a session (RFC 7143 §11.13.5):
		 * sessions here have MaxConnections=1, so a live one has
		 * too many (0x0206); an unknown TSIH names none (0x020a).
		 */
		if (core_tsih_live(l->tsih))
			login_fail(c, h, LOGIN_TOO_MANY_CONNS,
				   "sessions have one connection "
				   "(MaxConnections=1)");
		else
			login_fail(c, h, LOGIN_NO_SESSION,
				   "no session with that TSIH");
		return false;
	}
	/* a TSIH only for a session that reaches the FFP (login_enter_ffp) */
	l->tsih = 0;
	l->first_done = true;
	return true;
}

/*
 * A normal session's keys start from its target's own values (tparams.c,
 * tgt's per-target parameters), taken when the login names the target:
 * before any key of that request is negotiated, so that keys sent with
 * TargetName see them too. A session already up keeps what it agreed.
 */
static void login_target_limits(struct iscsi_conn *c)
{
	struct login_state *l = c->login;
	struct core_param over[CORE_PARAMS_MAX];
	const char *name, *type;
	struct tgt_target *t;
	size_t n;

	if (l->target_limits || l->negot.discovery)
		return;
	name = text_find(l->acc, l->acc_len, "TargetName");
	type = text_find(l->acc, l->acc_len, "SessionType");
	if (!name || (type && strcmp(type, "Normal")))
		return;
	t = core_target_find(name);
	if (!t)
		return;		/* login_identify() refuses it */
	n = core_target_params_copy(t, over, CORE_PARAMS_MAX);
	core_target_put(t);
	tparams_base(c->set, &c->limits);
	tparams_apply(&c->limits, over, n);
	c->rx_full = pdu_rx_buf_size(MAX(c->limits.max_recv_dsl, 8192));
	l->target_limits = true;
}

/* After the first request's keys: who is it, and what does it want. */
static bool login_identify(struct iscsi_conn *c, const struct bhs *h)
{
	struct login_state *l = c->login;
	struct text_negot *n = &l->negot;

	if (!n->initiator_name[0]) {
		login_fail(c, h, LOGIN_MISSING_PARAM, "no InitiatorName");
		return false;
	}
	if (n->discovery)
		return true;
	if (!n->target_name[0]) {
		login_fail(c, h, LOGIN_MISSING_PARAM, "no TargetName");
		return false;
	}
	l->target = core_target_find(n->target_name);
	if (!l->target) {
		login_fail(c, h, LOGIN_NOT_FOUND, "no such target");
		return false;
	}
	/*
	 * tgt's target state offline (checked before the ACL, as tgt does):
	 * RFC 7143 §11.13.5 0x0300 target error, "may re-try later".
	 */
	if (core_target_offline(l->target)) {
		login_fail(c, h, LOGIN_TARGET_ERROR, "the target is offline");
		return false;
	}
	if (!core_target_allows(l->target, n->initiator_name,
				(const struct sockaddr *)&c->peer)) {
		login_fail(c, h, LOGIN_FORBIDDEN, "not allowed by the ACL");
		return false;
	}
	/*
	 * Limits: RFC 7143 §11.13.5 class 3 (target error): "currently
	 * incapable of fulfilling the request", the initiator "may re-try
	 * the same Login Request later". 0x0206 (too many connections) is an
	 * initiator error about one session's connections, not retried.
	 */
	if (!server_admit(c, l->target, CORE_ADMIT_CONN)) {
		login_fail(c, h, LOGIN_NO_RESOURCES, "the target has "
			   "max_connections_per_target connections");
		return false;
	}
	return true;
}

/* The last login response: the session exists and the FFP starts. */
static void login_enter_ffp(struct iscsi_conn *c, const struct bhs *h,
			    uint8_t flags, const struct kvbuf *kv)
{
	struct login_state *l = c->login;

	if (!login_auth_gate(c, h))
		return;
	/* after reinstatement: the session it replaces gave its place back */
	if (!l->negot.discovery &&
	    !server_admit(c, l->target, CORE_ADMIT_SESSION)) {
		login_fail(c, h, LOGIN_NO_RESOURCES, "the target has "
			   "max_sessions_per_target sessions");
		return;
	}
	l->tsih = server_next_tsih();
	if (!l->tsih) {
		login_fail(c, h, LOGIN_NO_RESOURCES, "no free session id");
		return;
	}
	if (session_start(c, l->isid, l->tsih, l->cmdsn, l->target,
			  &l->negot) < 0) {
		login_fail(c, h, LOGIN_NO_RESOURCES, "out of memory");
		return;
	}
	l->target = NULL;	/* the session holds the reference now */
	login_respond(c, h, LOGIN_OK, flags, kv);
	login_free(c);
	c->state = CONN_FFP;
	c->last_rx_ms = reactor_now_ms(c->r);
}

/* fence_sessions() is done: the old session's I/O is gone. */
static void login_resume(struct iscsi_conn *c, bool expired)
{
	struct login_state *l = c->login;
	struct kvbuf kv;

	if (!l || !l->waiting)
		return;
	l->waiting = false;
	if (expired)
		/* its LUs answer NOT READY until that I/O is gone */
		conn_warn(c, "%s: the reinstated session's I/O is still in "
			  "flight after tmf_timeout; its LUs are not ready "
			  "until it completes", c->peer_str);
	kv_init(&kv, l->last_kv, l->last_kv_len ? l->last_kv_len : 1);
	kv.len = l->last_kv_len;
	login_enter_ffp(c, &l->last, l->last_flags, &kv);
	if (c->state == CONN_FFP)
		conn_kick_tx(c);
}

void login_handle(struct iscsi_conn *c, const struct bhs *h,
		  const uint8_t *data)
{
	struct login_state *l = c->login;
	bool transit = h->flags & LOGIN_T, cont = h->flags & LOGIN_C;
	int csg = (h->flags >> 2) & 3, nsg = h->flags & 3;
	char out[8192], port[256];
	struct kvbuf kv;
	uint8_t flags;

	if (l && l->waiting) {
		/* nothing may come before the answer to the last request */
		conn_close(c, "login request while the previous one is pending");
		return;
	}
	if (!l) {
		l = c->login = calloc(1, sizeof(*l));
		if (!l) {
			conn_close(c, "out of memory");
			return;
		}
		text_negot_init(&l->negot, &c->params, &c->limits,
				PHASE_SECURITY, false);
		l->stage = csg;
		if (!login_first(c, h))
			return;
	}
	/* RFC 7143 §11.12.4: T and C together are a protocol error */
	if ((transit && cont) || csg == 2 || (transit && (nsg == 2 ||
							  nsg <= csg))) {
		login_fail(c, h, LOGIN_INITIATOR_ERROR, "bad stage flags");
		return;
	}
	if (csg != l->stage && !(l->stage == STAGE_SECURITY &&
				 csg == STAGE_OPERATIONAL && l->security_done)) {
		login_fail(c, h, LOGIN_INITIATOR_ERROR, "unexpected stage");
		return;
	}
	l->stage = csg;
	/* the ISID names the I_T nexus with InitiatorName (RFC 7143 §4.4.1) */
	if (h->itt != l->itt || get_be16(h->raw + BHS_TTT) != l->cid ||
	    memcmp(h->raw + BHS_ISID, l->isid, 6) ||
	    get_be16(h->raw + BHS_TSIH) != 0) {
		login_fail(c, h, LOGIN_INITIATOR_ERROR,
			   "ISID, TSIH, ITT or CID changed");
		return;
	}
	/* Collect C-bit pieces; each is acknowledged by an empty response. */
	if (h->dsl) {
		char *n2;

		if (l->acc_len + h->dsl > LOGIN_TEXT_MAX) {
			login_fail(c, h, LOGIN_INITIATOR_ERROR, "login text too long");
			return;
		}
		n2 = realloc(l->acc, l->acc_len + h->dsl);
		if (!n2) {
			login_fail(c, h, LOGIN_NO_RESOURCES, "out of memory");
			return;
		}
		l->acc = n2;
		memcpy(l->acc + l->acc_len, data, h->dsl);
		l->acc_len += h->dsl;
	}
	if (cont) {
		login_respond(c, h, LOGIN_OK, (uint8_t)(csg << 2), NULL);
		return;
	}
	kv_init(&kv, out, sizeof(out));
	l->negot.phase = csg == STAGE_SECURITY ? PHASE_SECURITY :
						 PHASE_OPERATIONAL;
	login_target_limits(c);
	text_negotiate(&l->negot, l->acc, l->acc_len, &kv);
	l->acc_len = 0;
	if (l->negot.error) {
		login_fail(c, h, l->negot.error, l->negot.error_msg);
		return;
	}
	if (!l->target && !l->negot.discovery && !l->tpgt_sent &&
	    !login_identify(c, h))
		return;
	if (l->negot.discovery && !l->negot.initiator_name[0]) {
		login_fail(c, h, LOGIN_MISSING_PARAM, "no InitiatorName");
		return;
	}
	if (!l->tpgt_sent && !l->negot.discovery) {
		/* RFC 7143 §13.9: in the first response of a Normal session */
		/* the group of the portal the connection came in on */
		kv_addf(&kv, "TargetPortalGroupTag", "%u", c->tpgt);
		l->tpgt_sent = true;
	}
	if (csg == STAGE_SECURITY) {
		if (!login_auth_step(c, h, &kv, &transit))
			return;
		if (l->auth == AUTH_UNDECIDED && transit) {
			/* the initiator must offer AuthMethod in this stage */
			login_fail(c, h, LOGIN_AUTH_FAILED,
				   "no AuthMethod offered");
			return;
		}
		l->security_done = l->auth_ok;
	} else if (!login_auth_gate(c, h)) {
		return;
	}
	flags = (uint8_t)(csg << 2);
	if (transit) {
		if (csg == STAGE_SECURITY && (!l->security_done ||
					      !login_auth_gate(c, h))) {
			if (!l->security_done)
				login_fail(c, h, LOGIN_AUTH_FAILED,
					   "authentication incomplete");
			return;
		}
		flags |= LOGIN_T | (uint8_t)nsg;
		if (nsg == STAGE_FFP) {
			if (!l->negot.declared_mrdsl) {
				c->params.max_recv_dsl_tgt = c->limits.max_recv_dsl;
				kv_addf(&kv, "MaxRecvDataSegmentLength", "%u",
					c->limits.max_recv_dsl);
				l->negot.declared_mrdsl = true;
			}
			text_negot_finish(&l->negot);
		} else {
			l->stage = nsg;
		}
	}
	if (kv.overflow) {
		login_fail(c, h, LOGIN_TARGET_ERROR, "response too long");
		return;
	}
	if (transit && nsg == STAGE_FFP) {
		if (l->negot.discovery) {
			login_enter_ffp(c, h, flags, &kv);
			return;
		}
		/*
		 * RFC 7143 §6.3.5: a login with the I_T nexus of a live
		 * session reinstates it. The old session's tasks must be
		 * gone, their I/O included, before the new one exists: the
		 * answer waits for the fence (the connection reads nothing
		 * meanwhile but is not blocked).
		 */
		l->last = *h;
		l->last.raw = NULL;	/* the receive buffer moves on */
		l->last_flags = flags;
		l->last_kv = malloc(kv.len ? kv.len : 1);
		if (!l->last_kv) {
			login_fail(c, h, LOGIN_NO_RESOURCES, "out of memory");
			return;
		}
		memcpy(l->last_kv, kv.data, kv.len);
		l->last_kv_len = kv.len;
		session_port_name(l->negot.initiator_name, l->isid, port,
				  sizeof(port));
		l->waiting = true;
		if (fence_sessions(c, core_target_scsi(l->target), port,
				   login_resume) < 0) {
			l->waiting = false;
			login_fail(c, h, LOGIN_NO_RESOURCES, "out of memory");
		}
		return;
	}
	login_respond(c, h, LOGIN_OK, flags, &kv);
}

/* --- text requests in the full feature phase ------------------------------ */

struct st_ctx {
	struct iscsi_conn *c;
	struct kvbuf *kv;
};

static void st_addr(void *ctx, const char *addr, uint16_t tpgt)
{
	struct st_ctx *s = ctx;

	kv_addf(s->kv, "TargetAddress", "%s,%u", addr, tpgt);
}

static void st_add(void *ctx, const char *iqn)
{
	struct st_ctx *s = ctx;

	kv_add(s->kv, "TargetName", iqn);
	/*
	 * RFC 7143 App. C: every portal of the target with its group tag,
	 * so that an initiator finds all paths (dm-multipath) from one.
	 * Every portal serves every target; the ACL decided who sees it.
	 */
	server_portal_addresses(s->c, st_addr, s);
}

static void send_targets(struct iscsi_conn *c, const char *what,
			 struct kvbuf *kv)
{
	struct iscsi_session *s = c->sess;
	struct st_ctx ctx = { c, kv };
	const char *initiator = s->info.initiator;
	const struct sockaddr *peer = (const struct sockaddr *)&c->peer;

	if (s->discovery && strcmp(what, "All") == 0) {
		core_targets_visible(initiator, peer, st_add, &ctx);
		return;
	}
	if (!s->discovery && (what[0] == '\0' || strcmp(what, "All") == 0)) {
		/* RFC 7143 App. C: a Normal session reports its own target */
		st_add(&ctx, core_target_iqn(s->target));
		return;
	}
	{
		struct tgt_target *t = core_target_find(what);

		if (t && core_target_allows(t, initiator, peer))
			st_add(&ctx, core_target_iqn(t));
		if (t)
			core_target_put(t);
	}
}

static void text_send_piece(struct iscsi_conn *c, uint32_t itt, char *buf,
			    size_t len, size_t *off, uint32_t *ttt_io)
{
	size_t max = c->params.max_recv_dsl_init;
	size_t n = MIN(len - *off, max);
	bool final = *off + n == len;
	uint8_t *data = NULL;
	struct ctl_pdu *p;

	if (n) {
		data = malloc(n);
		if (!data)
			return;
		memcpy(data, buf + *off, n);
	}
	p = conn_ctl_new(c, OP_TEXT_RSP, final ? BHS_F : TEXT_C, data,
			 (uint32_t)n);
	if (!p)
		return;
	*off += n;
	put_be32(p->bhs + BHS_ITT, itt);
	if (final) {
		put_be32(p->bhs + BHS_TTT, RSVD_TAG);
	} else {
		if (*ttt_io == RSVD_TAG)
			*ttt_io = ++c->next_ttt & 0x7fffffffu;
		put_be32(p->bhs + BHS_TTT, *ttt_io);
	}
	conn_kick_tx(c);
}

void text_handle(struct iscsi_conn *c, const struct bhs *h,
		 const uint8_t *data)
{
	struct iscsi_params tmp;
	struct text_negot n;
	struct kvbuf kv;
	char *out;

	if (!h->immediate && !cmdsn_accept(c, h))
		return;
	if (h->ttt != RSVD_TAG) {
		/* the initiator asks for the next piece of a long response */
		if (c->text_buf && c->text_ttt == h->ttt) {
			text_send_piece(c, h->itt, c->text_buf, c->text_len,
					&c->text_off, &c->text_ttt);
			if (c->text_off == c->text_len) {
				free(c->text_buf);
				c->text_buf = NULL;
			}
			return;
		}
		conn_send_reject(c, h->raw, REJECT_INVALID_PDU_FIELD);
		return;
	}
	if (h->flags & TEXT_C) {
		/* request split over PDUs: not needed by any initiator for
		 * the keys we take; acknowledge with an empty response */
		conn_send_reject(c, h->raw, REJECT_CMD_NOT_SUPPORTED);
		return;
	}
	for (size_t cap = TEXT_RSP_MAX;; cap *= 4) {
		out = malloc(cap);
		if (!out) {
			conn_send_reject(c, h->raw, REJECT_LONG_OP);
			return;
		}
		/* negotiation is pure: a retry with more room starts over */
		tmp = c->params;
		kv_init(&kv, out, cap);
		text_negot_init(&n, &tmp, &c->limits, PHASE_FFP,
				c->sess->discovery);
		n.declared_mrdsl = true;
		text_negotiate(&n, (const char *)data, h->dsl, &kv);
		if (n.error) {
			free(out);
			conn_send_reject(c, h->raw, REJECT_PROTOCOL_ERROR);
			return;
		}
		if (n.has_send_targets)
			send_targets(c, n.send_targets, &kv);
		if (!kv.overflow || !n.has_send_targets ||
		    cap >= TEXT_SENDTARGETS_MAX)
			break;
		free(out);
	}
	if (kv.overflow) {
		/*
		 * RFC 7143 §6.2 wants every key answered: rather than drop
		 * some (10,000 unknown keys need ~190 KB of NotUnderstood),
		 * refuse the request, negotiating nothing.
		 */
		free(out);
		conn_send_reject(c, h->raw, REJECT_LONG_OP);
		return;
	}
	c->params.max_recv_dsl_init = tmp.max_recv_dsl_init;
	if (kv.len <= c->params.max_recv_dsl_init) {
		size_t off = 0;
		uint32_t ttt = RSVD_TAG;

		text_send_piece(c, h->itt, out, kv.len, &off, &ttt);
		free(out);
		return;
	}
	/* longer than one PDU: the rest goes out as the initiator asks */
	free(c->text_buf);
	c->text_buf = out;
	c->text_len = kv.len;
	c->text_off = 0;
	c->text_ttt = RSVD_TAG;
	text_send_piece(c, h->itt, out, kv.len, &c->text_off, &c->text_ttt);
}

/* --- logout ------------------------------------------------------------------ */

void logout_handle(struct iscsi_conn *c, const struct bhs *h,
		   const uint8_t *data)
{
	uint8_t reason = h->flags & 0x7f;
	struct ctl_pdu *p;
	uint8_t response = 0;

	(void)data;
	if (!h->immediate && !cmdsn_accept(c, h))
		return;
	if (reason == 2) {
		response = 2;	/* connection recovery: not at ERL 0 */
	} else if (reason == 1 && get_be16(h->raw + BHS_TTT) != c->cid) {
		response = 1;	/* CID not found */
	}
	p = conn_ctl_new(c, OP_LOGOUT_RSP, BHS_F, NULL, 0);
	if (!p) {
		conn_close(c, "out of memory");
		return;
	}
	p->bhs[BHS_B2] = response;
	put_be32(p->bhs + BHS_ITT, h->itt);
	if (response == 0) {
		p->close_after = true;
		conn_logged_out(c);
		conn_info(c, "%s: logout (reason %u)", c->peer_str, reason);
	}
	conn_kick_tx(c);
}
