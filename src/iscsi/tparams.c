/*
 * tparams.c - a target's own iSCSI parameters: tgt's per-target session
 * parameters (usr/iscsi/target.c, param.c), as ringtgt takes them.
 *
 * One row per key of tgt's list, in tgt's order (what `tgtadm --op show
 * --mode target --tid N` prints). A settable key's value becomes the
 * target's side of the negotiation (struct iscsi_limits), combined with
 * the initiator's offer by the key's rule in text.c (RFC 7143 §13: min
 * for MaxBurstLength, AND for ImmediateData, ...). A value ringtgt cannot
 * honour (a second connection, error recovery above 0, data out of
 * order, markers, iSER) is refused with the reason, never stored and
 * ignored. Discovery sessions keep the portal-wide values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iscsi_internal.h"
#include "tparams.h"

enum tp_kind {
	TP_NUM,		/* number in [min, max], honoured up to @most */
	TP_BOOL,	/* Yes or No; @most: 1 Yes honoured only, 0 No only */
	TP_ANYBOOL,	/* Yes or No, both honoured */
	TP_DIGEST,	/* None, CRC32C, or a list of them */
	TP_FIXED,	/* shown, never settable here: @why */
};

enum tp_id {
	TP_NOP_INTERVAL, TP_NOP_COUNT, TP_MRDSL, TP_HEADER_DIGEST,
	TP_DATA_DIGEST, TP_INITIAL_R2T, TP_MAX_R2T, TP_IMMEDIATE_DATA,
	TP_FIRST_BURST, TP_MAX_BURST, TP_PDU_IN_ORDER, TP_SEQ_IN_ORDER,
	TP_ERL, TP_IFMARKER, TP_OFMARKER, TP_TIME2WAIT, TP_TIME2RETAIN,
	TP_OFMARKINT, TP_IFMARKINT, TP_MAX_CONNECTIONS, TP_RDMA, TP_TARGET_RDSL,
	TP_INITIATOR_RDSL, TP_MAX_OUTST_PDU, TP_MXDSL, TP_MAX_QUEUE_CMD,
	TP_COUNT,
};

struct tp_key {
	const char *name;
	enum tp_kind kind;
	uint32_t min, max;	/* TP_NUM: RFC 7143 §13's range */
	uint32_t most;		/* see enum tp_kind */
	const char *why;	/* why other values cannot be honoured */
};

#define MARKERS "markers are not implemented (RFC 7143 §13.25 dropped them)"
#define ISER "iSER (RFC 7145) is not implemented"

static const struct tp_key tp_keys[TP_COUNT] = {
	[TP_NOP_INTERVAL] = { "nop_interval", TP_FIXED, .why =
		"NOP-In pings are set for all targets (nop_interval in "
		"ringtgt.conf, ringtgtd --nop-interval)" },
	[TP_NOP_COUNT] = { "nop_count", TP_FIXED, .why =
		"NOP-In pings are set for all targets (nop_timeout in "
		"ringtgt.conf, ringtgtd --nop-timeout)" },
	/* §13.12: declarative, 512 to 2^24-1 */
	[TP_MRDSL] = { "MaxRecvDataSegmentLength", TP_NUM, 512, 16777215,
		       16777215, NULL },
	/* §13.1: a list; CRC32C offered means either is taken */
	[TP_HEADER_DIGEST] = { "HeaderDigest", TP_DIGEST },
	[TP_DATA_DIGEST] = { "DataDigest", TP_DIGEST },
	[TP_INITIAL_R2T] = { "InitialR2T", TP_ANYBOOL },		/* §13.10 */
	/* §13.17; a task has at most TASK_MAX_R2T R2Ts outstanding */
	[TP_MAX_R2T] = { "MaxOutstandingR2T", TP_NUM, 1, 65535, TASK_MAX_R2T,
			 "a task has at most 16 R2Ts outstanding here" },
	[TP_IMMEDIATE_DATA] = { "ImmediateData", TP_ANYBOOL },	/* §13.11 */
	[TP_FIRST_BURST] = { "FirstBurstLength", TP_NUM, 512, 16777215,
			     16777215, NULL },				/* §13.14 */
	[TP_MAX_BURST] = { "MaxBurstLength", TP_NUM, 512, 16777215, 16777215,
			   NULL },					/* §13.13 */
	/* §13.18, §13.19: Data-Out PDUs and sequences are taken in order */
	[TP_PDU_IN_ORDER] = { "DataPDUInOrder", TP_BOOL, .most = 1, .why =
		"takes Data-Out PDUs in order only (DataPDUInOrder=Yes)" },
	[TP_SEQ_IN_ORDER] = { "DataSequenceInOrder", TP_BOOL, .most = 1,
		.why = "takes data sequences in order only "
		"(DataSequenceInOrder=Yes)" },
	/* §13.20: session recovery only */
	[TP_ERL] = { "ErrorRecoveryLevel", TP_NUM, 0, 2, 0,
		     "supports error recovery level 0 only" },
	[TP_IFMARKER] = { "IFMarker", TP_BOOL, .most = 0, .why = MARKERS },
	[TP_OFMARKER] = { "OFMarker", TP_BOOL, .most = 0, .why = MARKERS },
	[TP_TIME2WAIT] = { "DefaultTime2Wait", TP_NUM, 0, 3600, 3600,
			   NULL },					/* §13.15 */
	/* §13.16: at level 0 no task outlives its connection */
	[TP_TIME2RETAIN] = { "DefaultTime2Retain", TP_NUM, 0, 3600, 0,
			     "keeps no task after its connection is lost "
			     "(ErrorRecoveryLevel=0)" },
	[TP_OFMARKINT] = { "OFMarkInt", TP_FIXED, .why = MARKERS },
	[TP_IFMARKINT] = { "IFMarkInt", TP_FIXED, .why = MARKERS },
	/* §13.2: sessions have one connection */
	[TP_MAX_CONNECTIONS] = { "MaxConnections", TP_NUM, 1, 65535, 1,
				 "sessions have one connection" },
	[TP_RDMA] = { "RDMAExtensions", TP_BOOL, .most = 0, .why = ISER },
	[TP_TARGET_RDSL] = { "TargetRecvDataSegmentLength", TP_FIXED,
			     .why = ISER },
	[TP_INITIATOR_RDSL] = { "InitiatorRecvDataSegmentLength", TP_FIXED,
				.why = ISER },
	[TP_MAX_OUTST_PDU] = { "MaxOutstandingUnexpectedPDUs", TP_FIXED,
			       .why = ISER },
	/* tgt's own: the most data we put in one PDU */
	[TP_MXDSL] = { "MaxXmitDataSegmentLength", TP_NUM, 512, 16777215,
		       16777215, NULL },
	[TP_MAX_QUEUE_CMD] = { "MaxQueueCmd", TP_FIXED, .why =
		"the CmdSN window (128 commands) is the same for all targets" },
};

static int tp_lookup(const char *name)
{
	for (int i = 0; i < TP_COUNT; i++)
		if (strcasecmp(tp_keys[i].name, name) == 0)
			return i;
	return -1;
}

/* RFC 7143 §6.1: decimal or 0x-hex, no sign, no spaces. */
static bool tp_num(const char *v, uint32_t *out)
{
	unsigned long long x;
	char *end;

	if (!*v || *v == '-' || *v == '+' || *v == ' ')
		return false;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end || x > UINT32_MAX)
		return false;
	*out = (uint32_t)x;
	return true;
}

/* "None", "CRC32C" or a comma list of them: whether CRC32C is in it. */
static bool tp_digest(const char *v, bool *crc)
{
	const char *p = v;

	*crc = false;
	do {
		size_t n = strcspn(p, ",");

		if (n == 6 && strncmp(p, "CRC32C", 6) == 0)
			*crc = true;
		else if (!(n == 4 && strncmp(p, "None", 4) == 0))
			return false;
		p += n;
	} while (*p++ == ',');
	return true;
}

int tparam_check(const char *name, const char *value, struct core_param *out,
		 char *why, size_t whylen)
{
	int id = tp_lookup(name);
	const struct tp_key *k;
	uint32_t num;
	bool b;

	if (id < 0) {
		snprintf(why, whylen, "no iSCSI target parameter %s", name);
		return -ENOENT;
	}
	k = &tp_keys[id];
	snprintf(out->name, sizeof(out->name), "%s", k->name);
	out->value[0] = '\0';
	if (!value)
		return 0;
	switch (k->kind) {
	case TP_NUM:
		if (!tp_num(value, &num) || num < k->min || num > k->max) {
			snprintf(why, whylen, "%s=%s: not a number from %u to "
				 "%u (RFC 7143 §13)", k->name, value, k->min,
				 k->max);
			return -EINVAL;
		}
		if (num > k->most) {
			snprintf(why, whylen, "%s=%s: ringtgt %s", k->name,
				 value, k->why);
			return -EOPNOTSUPP;
		}
		snprintf(out->value, sizeof(out->value), "%u", num);
		return 0;
	case TP_BOOL:
	case TP_ANYBOOL:
		if (strcmp(value, "Yes") && strcmp(value, "No")) {
			snprintf(why, whylen, "%s=%s: not Yes or No", k->name,
				 value);
			return -EINVAL;
		}
		b = value[0] == 'Y';
		if (k->kind == TP_BOOL && b != (k->most == 1)) {
			snprintf(why, whylen, "%s=%s: ringtgt %s", k->name,
				 value, k->why);
			return -EOPNOTSUPP;
		}
		snprintf(out->value, sizeof(out->value), "%s", value);
		return 0;
	case TP_DIGEST:
		if (!tp_digest(value, &b)) {
			snprintf(why, whylen, "%s=%s: not None, CRC32C or a "
				 "list of them", k->name, value);
			return -EINVAL;
		}
		snprintf(out->value, sizeof(out->value), "%s",
			 b ? "CRC32C" : "None");
		return 0;
	case TP_FIXED:
		break;
	}
	snprintf(why, whylen, "%s=%s: %s", k->name, value, k->why);
	return -EOPNOTSUPP;
}

void tparams_base(const struct iscsi_settings *s, struct iscsi_limits *l)
{
	text_limits_default(l);
	l->max_recv_dsl = s->max_recv_dsl;
	l->max_burst = s->max_burst;
	l->first_burst = s->first_burst;
	l->max_outstanding_r2t = MIN(s->max_outstanding_r2t,
				     (uint32_t)TASK_MAX_R2T);
}

void tparams_apply(struct iscsi_limits *l, const struct core_param *over,
		   size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = over[i].value;
		uint32_t num = 0;
		bool yes = strcmp(v, "Yes") == 0, crc = strcmp(v, "CRC32C") == 0;

		tp_num(v, &num);
		switch (tp_lookup(over[i].name)) {
		case TP_MRDSL:
			l->max_recv_dsl = num;
			break;
		case TP_MXDSL:
			l->max_xmit_dsl = num;
			break;
		case TP_HEADER_DIGEST:
			l->header_digest = crc;
			break;
		case TP_DATA_DIGEST:
			l->data_digest = crc;
			break;
		case TP_INITIAL_R2T:
			l->initial_r2t = yes;
			break;
		case TP_IMMEDIATE_DATA:
			l->immediate_data = yes;
			break;
		case TP_MAX_R2T:
			l->max_outstanding_r2t = num;
			break;
		case TP_FIRST_BURST:
			l->first_burst = num;
			break;
		case TP_MAX_BURST:
			l->max_burst = num;
			break;
		case TP_TIME2WAIT:
			l->default_time2wait = num;
			break;
		default:
			/* the values ringtgt honours are its only ones */
			break;
		}
	}
}

void tparams_list(const struct iscsi_settings *s,
		  const struct core_param *over, size_t n,
		  void (*fn)(void *ctx, const char *name, const char *value),
		  void *ctx)
{
	struct iscsi_limits l;
	uint32_t v[TP_COUNT] = { 0 };
	const char *str[TP_COUNT] = { NULL };
	char buf[16];

	tparams_base(s, &l);
	tparams_apply(&l, over, n);
	v[TP_NOP_INTERVAL] = s->nop_interval;
	/*
	 * tgt closes a connection after nop_count unanswered pings sent
	 * nop_interval apart; ringtgt once a ping went unanswered for
	 * nop_timeout seconds: the count that takes as long.
	 */
	v[TP_NOP_COUNT] = s->nop_interval ?
		MAX(1u, (s->nop_timeout + s->nop_interval - 1) /
			s->nop_interval) : 0;
	v[TP_MRDSL] = l.max_recv_dsl;
	str[TP_HEADER_DIGEST] = l.header_digest ? "CRC32C" : "None";
	str[TP_DATA_DIGEST] = l.data_digest ? "CRC32C" : "None";
	str[TP_INITIAL_R2T] = l.initial_r2t ? "Yes" : "No";
	v[TP_MAX_R2T] = l.max_outstanding_r2t;
	str[TP_IMMEDIATE_DATA] = l.immediate_data ? "Yes" : "No";
	v[TP_FIRST_BURST] = l.first_burst;
	v[TP_MAX_BURST] = l.max_burst;
	str[TP_PDU_IN_ORDER] = str[TP_SEQ_IN_ORDER] = "Yes";
	v[TP_ERL] = 0;
	str[TP_IFMARKER] = str[TP_OFMARKER] = "No";
	v[TP_TIME2WAIT] = l.default_time2wait;
	v[TP_TIME2RETAIN] = 0;
	/* what tgt shows for markers never agreed */
	str[TP_OFMARKINT] = str[TP_IFMARKINT] = "Reject";
	v[TP_MAX_CONNECTIONS] = 1;
	str[TP_RDMA] = "No";
	/* iSER only, never negotiated here: tgt's values, for its layout */
	v[TP_TARGET_RDSL] = v[TP_INITIATOR_RDSL] = 262144;
	v[TP_MAX_OUTST_PDU] = 0;
	v[TP_MXDSL] = l.max_xmit_dsl;
	v[TP_MAX_QUEUE_CMD] = s->cmd_window;
	for (int i = 0; i < TP_COUNT; i++) {
		if (!str[i]) {
			snprintf(buf, sizeof(buf), "%u", v[i]);
			fn(ctx, tp_keys[i].name, buf);
		} else {
			fn(ctx, tp_keys[i].name, str[i]);
		}
	}
}

/* --- registration with the core ------------------------------------------- */

/* Written before the reactors and the control thread start; read after. */
static struct iscsi_settings tp_settings;

static void tp_ops_list(const struct core_param *over, size_t n,
			void (*fn)(void *ctx, const char *name,
				   const char *value),
			void *ctx)
{
	tparams_list(&tp_settings, over, n, fn, ctx);
}

static const struct core_param_ops tp_ops = {
	.check = tparam_check,
	.list = tp_ops_list,
};

void iscsi_target_params_register(const struct iscsi_settings *s)
{
	tp_settings = *s;
	core_set_target_param_ops(&tp_ops);
}
