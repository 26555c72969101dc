/*
 * text.c - text key negotiation (RFC 7143 §6.2, keys in §13).
 *
 * Each known key has one row: its negotiation rule, its range, the
 * phases where it may appear, and where the result goes. The answer for
 * a key follows its rule: list (first value both sides support), boolean
 * AND / OR, numeric min / max, or a declaration. Unknown keys are
 * answered NotUnderstood, keys out of their phase Reject or Irrelevant.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "pdu.h"
#include "text.h"

#define KEY_MAX 63
#define VALUE_MAX 8192

void text_params_default(struct iscsi_params *p)
{
	*p = (struct iscsi_params){
		.max_connections = 1,
		.initial_r2t = true,
		.immediate_data = true,
		.max_recv_dsl_init = 8192,
		.max_recv_dsl_tgt = 8192,
		.max_burst = 262144,
		.first_burst = 65536,
		.default_time2wait = 2,
		.default_time2retain = 20,
		.max_outstanding_r2t = 1,
		.data_pdu_in_order = true,
		.data_seq_in_order = true,
		.erl = 0,
		.protocol_level = 1,
	};
}

void text_limits_default(struct iscsi_limits *l)
{
	*l = (struct iscsi_limits){
		.max_recv_dsl = 262144,
		.max_xmit_dsl = 16777215,	/* no cap of our own */
		.max_burst = 1048576,
		.first_burst = 262144,
		.max_outstanding_r2t = 16,
		.default_time2wait = 0,		/* the initiator's */
		.header_digest = true,
		.data_digest = true,
		.initial_r2t = false,		/* the initiator's */
		.immediate_data = true,
	};
}

void kv_init(struct kvbuf *b, char *data, size_t cap)
{
	b->data = data;
	b->len = 0;
	b->cap = cap;
	b->overflow = false;
}

void kv_add(struct kvbuf *b, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value);

	if (b->len + kl + vl + 2 > b->cap) {
		b->overflow = true;
		return;
	}
	memcpy(b->data + b->len, key, kl);
	b->data[b->len + kl] = '=';
	memcpy(b->data + b->len + kl + 1, value, vl);
	b->data[b->len + kl + 1 + vl] = '\0';
	b->len += kl + vl + 2;
}

void kv_addf(struct kvbuf *b, const char *key, const char *fmt, ...)
{
	char v[VALUE_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	kv_add(b, key, v);
}

int text_for_each(const char *data, size_t len,
		  int (*fn)(void *ctx, const char *key, const char *val),
		  void *ctx)
{
	size_t pos = 0;

	while (pos < len) {
		const char *p = data + pos;
		size_t n = strnlen(p, len - pos);
		char key[KEY_MAX + 1];
		const char *eq;
		char *val;
		int rc;

		if (n == 0) {		/* stray NUL (padding): skip */
			pos++;
			continue;
		}
		if (n == len - pos)	/* RFC 7143 §6.1: every pair ends in NUL */
			return -EINVAL;
		eq = memchr(p, '=', n);
		if (!eq || eq == p || (size_t)(eq - p) > KEY_MAX)
			return -EINVAL;
		if (n - (size_t)(eq - p) - 1 > VALUE_MAX)
			return -EINVAL;
		memcpy(key, p, (size_t)(eq - p));
		key[eq - p] = '\0';
		val = (char *)eq + 1;	/* NUL-terminated within data */
		rc = fn(ctx, key, val);
		if (rc)
			return rc;
		pos += n + 1;
	}
	return 0;
}

enum rule {
	R_LIST,		/* comma-separated choices; we pick */
	R_AND,		/* boolean AND */
	R_OR,		/* boolean OR */
	R_MIN,		/* numeric, result is the smaller */
	R_MAX,		/* numeric, result is the larger */
	R_DECL,		/* declarative: no negotiation */
};

enum key_id {
	K_HEADER_DIGEST, K_DATA_DIGEST, K_MAX_CONNECTIONS, K_SEND_TARGETS,
	K_TARGET_NAME, K_INITIATOR_NAME, K_TARGET_ALIAS, K_INITIATOR_ALIAS,
	K_TARGET_ADDRESS, K_TARGET_PORTAL_GROUP_TAG, K_INITIAL_R2T,
	K_IMMEDIATE_DATA, K_MAX_RECV_DSL, K_MAX_BURST, K_FIRST_BURST,
	K_DEFAULT_TIME2WAIT, K_DEFAULT_TIME2RETAIN, K_MAX_OUTSTANDING_R2T,
	K_DATA_PDU_IN_ORDER, K_DATA_SEQ_IN_ORDER, K_ERL, K_SESSION_TYPE,
	K_AUTH_METHOD, K_IFMARKER, K_OFMARKER, K_OFMARKINT, K_IFMARKINT,
	K_TASK_REPORTING, K_PROTOCOL_LEVEL, K_COUNT,
};

/* Where a key may appear. */
#define IN_LOGIN 0x1	/* login, either stage */
#define IN_FFP 0x2	/* text request in full feature phase */
#define LEADING 0x4	/* only on the leading connection's login (LO) */
#define DISC_IRR 0x8	/* irrelevant in discovery sessions */
#define TGT_ONLY 0x10	/* only a target may send it */

struct key_def {
	const char *name;
	enum rule rule;
	uint32_t min, max;	/* numeric range */
	unsigned where;
};

static const struct key_def keys[K_COUNT] = {
	[K_HEADER_DIGEST] = { "HeaderDigest", R_LIST, 0, 0, IN_LOGIN },
	[K_DATA_DIGEST] = { "DataDigest", R_LIST, 0, 0, IN_LOGIN },
	[K_MAX_CONNECTIONS] = { "MaxConnections", R_MIN, 1, 65535,
				IN_LOGIN | LEADING | DISC_IRR },
	[K_SEND_TARGETS] = { "SendTargets", R_DECL, 0, 0, IN_FFP },
	[K_TARGET_NAME] = { "TargetName", R_DECL, 0, 0, IN_LOGIN | LEADING },
	[K_INITIATOR_NAME] = { "InitiatorName", R_DECL, 0, 0,
			       IN_LOGIN | LEADING },
	[K_TARGET_ALIAS] = { "TargetAlias", R_DECL, 0, 0, TGT_ONLY },
	[K_INITIATOR_ALIAS] = { "InitiatorAlias", R_DECL, 0, 0,
				IN_LOGIN | IN_FFP },
	[K_TARGET_ADDRESS] = { "TargetAddress", R_DECL, 0, 0, TGT_ONLY },
	[K_TARGET_PORTAL_GROUP_TAG] = { "TargetPortalGroupTag", R_DECL, 0, 0,
					TGT_ONLY },
	[K_INITIAL_R2T] = { "InitialR2T", R_OR, 0, 0,
			    IN_LOGIN | LEADING | DISC_IRR },
	[K_IMMEDIATE_DATA] = { "ImmediateData", R_AND, 0, 0,
			       IN_LOGIN | LEADING | DISC_IRR },
	[K_MAX_RECV_DSL] = { "MaxRecvDataSegmentLength", R_DECL, 512,
			     16777215, IN_LOGIN | IN_FFP },
	[K_MAX_BURST] = { "MaxBurstLength", R_MIN, 512, 16777215,
			  IN_LOGIN | LEADING | DISC_IRR },
	[K_FIRST_BURST] = { "FirstBurstLength", R_MIN, 512, 16777215,
			    IN_LOGIN | LEADING | DISC_IRR },
	[K_DEFAULT_TIME2WAIT] = { "DefaultTime2Wait", R_MAX, 0, 3600,
				  IN_LOGIN | LEADING },
	[K_DEFAULT_TIME2RETAIN] = { "DefaultTime2Retain", R_MIN, 0, 3600,
				    IN_LOGIN | LEADING },
	[K_MAX_OUTSTANDING_R2T] = { "MaxOutstandingR2T", R_MIN, 1, 65535,
				    IN_LOGIN | LEADING | DISC_IRR },
	[K_DATA_PDU_IN_ORDER] = { "DataPDUInOrder", R_OR, 0, 0,
				  IN_LOGIN | LEADING | DISC_IRR },
	[K_DATA_SEQ_IN_ORDER] = { "DataSequenceInOrder", R_OR, 0, 0,
				  IN_LOGIN | LEADING | DISC_IRR },
	[K_ERL] = { "ErrorRecoveryLevel", R_MIN, 0, 2, IN_LOGIN | LEADING },
	[K_SESSION_TYPE] = { "SessionType", R_DECL, 0, 0, IN_LOGIN | LEADING },
	[K_AUTH_METHOD] = { "AuthMethod", R_LIST, 0, 0, IN_LOGIN },
	/* RFC 7143 §13.25 obsoletes markers; answer as a 3720 target would */
	[K_IFMARKER] = { "IFMarker", R_AND, 0, 0, IN_LOGIN },
	[K_OFMARKER] = { "OFMarker", R_AND, 0, 0, IN_LOGIN },
	[K_OFMARKINT] = { "OFMarkInt", R_DECL, 0, 0, IN_LOGIN },
	[K_IFMARKINT] = { "IFMarkInt", R_DECL, 0, 0, IN_LOGIN },
	[K_TASK_REPORTING] = { "TaskReporting", R_LIST, 0, 0,
			       IN_LOGIN | LEADING },
	[K_PROTOCOL_LEVEL] = { "iSCSIProtocolLevel", R_MIN, 0, 31,
			       IN_LOGIN | LEADING },
};

static int key_lookup(const char *name)
{
	for (int i = 0; i < K_COUNT; i++)
		if (strcmp(keys[i].name, name) == 0)
			return i;
	return -1;
}

static bool parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "Yes") == 0)
		*out = true;
	else if (strcmp(v, "No") == 0)
		*out = false;
	else
		return false;
	return true;
}

/* RFC 7143 §6.1: decimal or 0x-hex numbers, no sign, no spaces. */
static bool parse_num(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long x;

	if (!*v || *v == '-' || *v == '+' || *v == ' ')
		return false;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end || x < min || x > max)
		return false;
	*out = (uint32_t)x;
	return true;
}

struct find_ctx {
	const char *key;
	const char *val;
};

static int find_one(void *ctx, const char *key, const char *val)
{
	struct find_ctx *f = ctx;

	if (strcmp(key, f->key))
		return 0;
	f->val = val;
	return 1;
}

const char *text_find(const char *data, size_t len, const char *key)
{
	struct find_ctx f = { key, NULL };

	if (!len || text_for_each(data, len, find_one, &f) < 0)
		return NULL;
	return f.val;
}

const char *text_pick_list(const char *offer, const char *const *supported)
{
	const char *p = offer;

	while (*p) {
		size_t n = strcspn(p, ",");

		for (int i = 0; supported[i]; i++)
			if (strlen(supported[i]) == n &&
			    strncmp(p, supported[i], n) == 0)
				return supported[i];
		p += n;
		if (*p == ',')
			p++;
	}
	return NULL;
}

static void negot_fail(struct text_negot *n, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void negot_fail(struct text_negot *n, int status, const char *fmt, ...)
{
	va_list ap;

	if (n->error)
		return;
	n->error = status;
	va_start(ap, fmt);
	vsnprintf(n->error_msg, sizeof(n->error_msg), fmt, ap);
	va_end(ap);
}

struct negot_ctx {
	struct text_negot *n;
	struct kvbuf *out;
};

static void copy_decl(char *dst, size_t cap, const char *v)
{
	snprintf(dst, cap, "%s", v);
}

/*
 * The keys that say who logs in to what (and were checked against the
 * ACL on their first declaration) may not change within a login: a
 * different value fails it (issue: identity changed after the ACL check).
 */
static bool decl_changed(struct text_negot *n, const char *key,
			 const char *have, const char *val)
{
	/*
	 * RFC 7143 §4.2.7.1: an iSCSI name has at most 223 bytes. A longer
	 * one would be cut to fit and then pass for a name it only starts
	 * with (an ACL entry, a target).
	 */
	if (strlen(val) >= ISCSI_NAME_MAX) {
		negot_fail(n, LOGIN_INITIATOR_ERROR, "%s longer than %d bytes",
			   key, ISCSI_NAME_MAX - 1);
		return true;
	}
	if (!have[0] || strcmp(have, val) == 0)
		return false;
	negot_fail(n, LOGIN_INITIATOR_ERROR, "%s changed during the login "
		   "(\"%s\", then \"%s\")", key, have, val);
	return true;
}

static void negotiate_known(struct text_negot *n, int id, const char *val,
			    struct kvbuf *out)
{
	static const char *const digests_all[] = { "CRC32C", "None", NULL };
	static const char *const digests_none[] = { "None", NULL };
	static const char *const task_reporting[] = { "RFC3720", NULL };
	const struct key_def *k = &keys[id];
	struct iscsi_params *p = n->params;
	const struct iscsi_limits *l = n->limits;
	const char *pick;
	uint32_t num;
	bool b;

	switch (k->rule) {
	case R_LIST: {
		const char *const *sup = NULL;

		if (id == K_HEADER_DIGEST)
			sup = l->header_digest ? digests_all : digests_none;
		else if (id == K_DATA_DIGEST)
			sup = l->data_digest ? digests_all : digests_none;
		else
			sup = task_reporting;
		pick = text_pick_list(val, sup);
		if (!pick) {
			kv_add(out, k->name, "Reject");
			return;
		}
		kv_add(out, k->name, pick);
		if (id == K_HEADER_DIGEST)
			p->header_digest = strcmp(pick, "CRC32C") == 0;
		else if (id == K_DATA_DIGEST)
			p->data_digest = strcmp(pick, "CRC32C") == 0;
		return;
	}
	case R_AND:
	case R_OR:
		if (!parse_bool(val, &b)) {
			kv_add(out, k->name, "Reject");
			return;
		}
		if (id == K_IFMARKER || id == K_OFMARKER) {
			kv_add(out, k->name, "No");
			return;
		}
		/* RFC 7143 §13.10 AND, §13.11 OR, with the target's value */
		if (id == K_IMMEDIATE_DATA)
			b = p->immediate_data = b && l->immediate_data;
		else if (id == K_INITIAL_R2T)
			b = p->initial_r2t = b || l->initial_r2t;
		else if (id == K_DATA_PDU_IN_ORDER)
			b = p->data_pdu_in_order = true;	/* we need Yes */
		else if (id == K_DATA_SEQ_IN_ORDER)
			b = p->data_seq_in_order = true;
		kv_add(out, k->name, b ? "Yes" : "No");
		return;
	case R_MIN:
	case R_MAX:
		if (!parse_num(val, k->min, k->max, &num)) {
			kv_add(out, k->name, "Reject");
			return;
		}
		switch (id) {
		case K_MAX_CONNECTIONS:
			num = p->max_connections = 1;
			break;
		case K_MAX_BURST:
			num = p->max_burst = MIN(num, l->max_burst);
			break;
		case K_FIRST_BURST: {
			/* §13.14: not above MaxBurstLength, ours or agreed */
			uint32_t lim = MIN(l->first_burst, l->max_burst);

			if (n->seen & (1ULL << K_MAX_BURST))
				lim = MIN(lim, p->max_burst);
			num = p->first_burst = MIN(num, lim);
			break;
		}
		case K_DEFAULT_TIME2WAIT:	/* RFC 7143 §13.15: max */
			num = p->default_time2wait =
				MAX(num, l->default_time2wait);
			break;
		case K_DEFAULT_TIME2RETAIN:
			num = p->default_time2retain = 0; /* ERL 0 */
			break;
		case K_MAX_OUTSTANDING_R2T:
			num = p->max_outstanding_r2t =
				MIN(num, l->max_outstanding_r2t);
			break;
		case K_ERL:
			num = p->erl = 0;
			break;
		case K_PROTOCOL_LEVEL:
			/* RFC 7144 (QUERY TASK & co.) is level 2 */
			num = p->protocol_level = MIN(num, 2);
			break;
		}
		kv_addf(out, k->name, "%u", num);
		return;
	case R_DECL:
		switch (id) {
		case K_MAX_RECV_DSL:
			if (!parse_num(val, k->min, k->max, &num)) {
				kv_add(out, k->name, "Reject");
				return;
			}
			/* what we send: theirs, below our own cap */
			p->max_recv_dsl_init = MIN(num, l->max_xmit_dsl);
			if (!n->declared_mrdsl) {
				n->declared_mrdsl = true;
				p->max_recv_dsl_tgt = l->max_recv_dsl;
				kv_addf(out, k->name, "%u", l->max_recv_dsl);
			}
			return;
		case K_TARGET_NAME:
			if (decl_changed(n, k->name, n->target_name, val))
				return;
			copy_decl(n->target_name, sizeof(n->target_name), val);
			return;
		case K_INITIATOR_NAME:
			if (decl_changed(n, k->name, n->initiator_name, val))
				return;
			copy_decl(n->initiator_name, sizeof(n->initiator_name),
				  val);
			return;
		case K_INITIATOR_ALIAS:
			copy_decl(n->initiator_alias,
				  sizeof(n->initiator_alias), val);
			return;
		case K_SESSION_TYPE:
			if (strcmp(val, "Discovery") && strcmp(val, "Normal")) {
				kv_add(out, k->name, "Reject");
				negot_fail(n, LOGIN_BAD_SESSION_TYPE,
					   "unknown SessionType \"%s\"", val);
				return;
			}
			if (decl_changed(n, k->name, n->session_type, val))
				return;
			copy_decl(n->session_type, sizeof(n->session_type), val);
			n->discovery = strcmp(val, "Discovery") == 0;
			return;
		case K_SEND_TARGETS:
			copy_decl(n->send_targets, sizeof(n->send_targets), val);
			n->has_send_targets = true;
			return;
		case K_OFMARKINT:
		case K_IFMARKINT:
			kv_add(out, k->name, "Irrelevant");
			return;
		}
		return;
	}
}

/*
 * RFC 7143 §12.1.3: CHAP keys belong to the security stage, where login.c
 * runs the exchange; here they are only collected. Anywhere else, or
 * twice in one request, they fail the login.
 */
static int chap_key(struct text_negot *n, const char *key, const char *val)
{
	static const char names[] = "ANRIC";
	const char **slot[] = { &n->chap_a, &n->chap_n, &n->chap_r,
				&n->chap_i, &n->chap_c };
	const char *pos = key[5] && !key[6] ? strchr(names, key[5]) : NULL;

	if (n->phase != PHASE_SECURITY) {
		negot_fail(n, LOGIN_AUTH_FAILED, "%.16s outside the security "
			   "stage", key);
		return 0;
	}
	if (!pos) {
		negot_fail(n, LOGIN_AUTH_FAILED, "unknown CHAP key %.16s", key);
		return 0;
	}
	if (*slot[pos - names]) {
		negot_fail(n, LOGIN_AUTH_FAILED, "%s sent twice", key);
		return 0;
	}
	*slot[pos - names] = val;
	return 0;
}

static int negotiate_one(void *ctx, const char *key, const char *val)
{
	struct negot_ctx *c = ctx;
	struct text_negot *n = c->n;
	int id = key_lookup(key);
	const struct key_def *k;
	unsigned where;

	if (strncmp(key, "CHAP_", 5) == 0)
		return chap_key(n, key, val);
	if (id < 0) {
		/* RFC 7143 §6.2: unknown keys, X- and X# extensions alike */
		kv_add(c->out, key, "NotUnderstood");
		return 0;
	}
	k = &keys[id];
	where = n->phase == PHASE_FFP ? IN_FFP : IN_LOGIN;
	if (k->where & TGT_ONLY) {
		negot_fail(n, LOGIN_INITIATOR_ERROR,
			   "initiator sent target-only key %s", key);
		kv_add(c->out, key, "Reject");
		return 0;
	}
	if (id == K_SEND_TARGETS && n->phase != PHASE_FFP) {
		kv_add(c->out, key, "Irrelevant");
		return 0;
	}
	if (!(k->where & where)) {
		kv_add(c->out, key, "Reject");
		return 0;
	}
	if (id == K_AUTH_METHOD && n->phase != PHASE_SECURITY) {
		kv_add(c->out, key, "Reject");
		return 0;
	}
	/* A key is negotiated once per login (§6.2); the declarations may
	 * repeat harmlessly. */
	if (k->rule != R_DECL && (n->seen & (1ULL << id))) {
		negot_fail(n, LOGIN_INITIATOR_ERROR,
			   "key %s negotiated twice", key);
		return 0;
	}
	n->seen |= 1ULL << id;
	if (id == K_AUTH_METHOD) {
		/* the answer depends on the target: login.c gives it */
		if (strlen(val) >= sizeof(n->auth_offer)) {
			negot_fail(n, LOGIN_AUTH_FAILED, "AuthMethod list "
				   "longer than %zu bytes",
				   sizeof(n->auth_offer) - 1);
			return 0;
		}
		copy_decl(n->auth_offer, sizeof(n->auth_offer), val);
		n->has_auth_offer = true;
		return 0;
	}
	if (n->discovery && (k->where & DISC_IRR)) {
		kv_add(c->out, key, "Irrelevant");
		return 0;
	}
	negotiate_known(n, id, val, c->out);
	return 0;
}

void text_negot_init(struct text_negot *n, struct iscsi_params *params,
		     const struct iscsi_limits *limits, enum text_phase phase,
		     bool discovery)
{
	memset(n, 0, sizeof(*n));
	n->params = params;
	n->limits = limits;
	n->phase = phase;
	n->discovery = discovery;
}

void text_negotiate(struct text_negot *n, const char *data, size_t len,
		    struct kvbuf *out)
{
	struct negot_ctx c = { n, out };

	n->has_auth_offer = false;
	n->auth_offer[0] = '\0';
	n->chap_a = n->chap_n = n->chap_r = n->chap_i = n->chap_c = NULL;

	/* SessionType decides which keys are irrelevant: look at it first */
	if (n->phase != PHASE_FFP && len) {	/* no text: data may be NULL */
		const char *st = memmem(data, len, "SessionType=Discovery", 21);

		if (st && (st == data || st[-1] == '\0'))
			n->discovery = true;
	}
	if (text_for_each(data, len, negotiate_one, &c) < 0)
		negot_fail(n, LOGIN_INITIATOR_ERROR, "malformed text segment");
}

void text_negot_finish(struct text_negot *n)
{
	struct iscsi_params *p = n->params;

	/* RFC 7143 §13.14: FirstBurstLength MUST NOT exceed MaxBurstLength */
	if (p->first_burst > p->max_burst)
		p->first_burst = p->max_burst;
	/* the 8192-byte default too, when the initiator declared nothing */
	p->max_recv_dsl_init = MIN(p->max_recv_dsl_init,
				   n->limits->max_xmit_dsl);
}
