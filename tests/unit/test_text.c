/*
 * test_text.c - text keys (RFC 7143 §6, §13): the key=value parser and
 * the per-key negotiation rules, checked on the exact bytes answered.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "iscsi/pdu.h"
#include "iscsi/text.h"

/* A literal with embedded NULs, and its length without the final one. */
#define KV(s) (s), (sizeof(s) - 1)

/* --- text_for_each ----------------------------------------------------- */

struct collect {
	int n;
	char keys[8][80];
	char vals[8][80];
	int stop_at;		/* return 99 on this pair (1-based), 0 never */
};

static int collect_fn(void *ctx, const char *key, const char *val)
{
	struct collect *c = ctx;

	if (c->n < 8) {
		snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", key);
		snprintf(c->vals[c->n], sizeof(c->vals[0]), "%.79s", val);
	}
	c->n++;
	return c->n == c->stop_at ? 99 : 0;
}

Test(text_parse, good)
{
	struct collect c = { 0 };

	cr_assert_eq(text_for_each(KV("A=1\0Bb=two\0Empty=\0C=x=y\0"),
				   collect_fn, &c), 0);
	cr_assert_eq(c.n, 4);
	cr_assert_str_eq(c.keys[0], "A");
	cr_assert_str_eq(c.vals[0], "1");
	cr_assert_str_eq(c.keys[1], "Bb");
	cr_assert_str_eq(c.vals[1], "two");
	cr_assert_str_eq(c.keys[2], "Empty");
	cr_assert_str_eq(c.vals[2], "");
	cr_assert_str_eq(c.keys[3], "C");
	cr_assert_str_eq(c.vals[3], "x=y");	/* split at the first '=' */
}

Test(text_parse, padding_nuls_skipped)
{
	struct collect c = { 0 };

	cr_assert_eq(text_for_each(KV("K=v\0\0\0\0"), collect_fn, &c), 0);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(text_for_each("", 0, collect_fn, &c), 0);
	cr_assert_eq(c.n, 1);
}

Test(text_parse, callback_stops)
{
	struct collect c = { .stop_at = 2 };

	cr_assert_eq(text_for_each(KV("A=1\0B=2\0C=3\0"), collect_fn, &c), 99);
	cr_assert_eq(c.n, 2);
}

/* Arrays, not pointers: Criterion runs each case in a fresh process. */
struct bad_text {
	char data[32];
	size_t len;
	char why[48];
};

ParameterizedTestParameters(text_parse, malformed)
{
	static struct bad_text cases[] = {
		{ KV("NoEquals\0"), "missing '='" },
		{ KV("A=1\0NoEquals\0"), "missing '=' in 2nd pair" },
		{ KV("=value\0"), "empty key" },
		{ KV("A=1"), "no trailing NUL" },
		{ KV("A=1\0B=2"), "no trailing NUL on last pair" },
	};
	return cr_make_param_array(struct bad_text, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct bad_text *b, text_parse, malformed)
{
	struct collect c = { 0 };

	cr_assert_eq(text_for_each(b->data, b->len, collect_fn, &c), -EINVAL,
		     "%s", b->why);
}

/* Builds "key=<n times 'v'>\0" in a malloc'ed buffer. */
static char *long_pair(size_t keylen, size_t vallen, size_t *len)
{
	char *p = malloc(keylen + vallen + 2);

	cr_assert_not_null(p);
	memset(p, 'K', keylen);
	p[keylen] = '=';
	memset(p + keylen + 1, 'v', vallen);
	p[keylen + 1 + vallen] = '\0';
	*len = keylen + vallen + 2;
	return p;
}

Test(text_parse, value_limits)
{
	struct collect c = { 0 };
	size_t len;
	char *p;

	p = long_pair(3, 8192, &len);		/* longest value allowed */
	cr_assert_eq(text_for_each(p, len, collect_fn, &c), 0);
	cr_assert_eq(c.n, 1);
	free(p);
	p = long_pair(3, 8193, &len);		/* one too long */
	cr_assert_eq(text_for_each(p, len, collect_fn, &c), -EINVAL);
	cr_assert_eq(c.n, 1);
	free(p);
}

Test(text_parse, key_limits)
{
	struct collect c = { 0 };
	size_t len;
	char *p;

	p = long_pair(63, 1, &len);
	cr_assert_eq(text_for_each(p, len, collect_fn, &c), 0);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(strlen(c.keys[0]), 63);
	free(p);
	p = long_pair(64, 1, &len);
	cr_assert_eq(text_for_each(p, len, collect_fn, &c), -EINVAL);
	free(p);
}

/* --- kvbuf --------------------------------------------------------------- */

Test(kvbuf, add_and_overflow)
{
	char buf[16];
	struct kvbuf kv;

	kv_init(&kv, buf, sizeof(buf));
	kv_add(&kv, "A", "1");
	kv_addf(&kv, "Bc", "%u", 42u);
	cr_assert_eq(kv.len, 10);
	cr_assert_eq(memcmp(buf, "A=1\0Bc=42\0", 10), 0);
	cr_assert_not(kv.overflow);
	kv_add(&kv, "Long", "12");		/* 8 bytes: 18 > 16 */
	cr_assert(kv.overflow);
	cr_assert_eq(kv.len, 10);
	kv_init(&kv, buf, sizeof(buf));
	kv_add(&kv, "Key", "0123456789");	/* exactly 15 + NUL */
	cr_assert_not(kv.overflow);
	cr_assert_eq(kv.len, 15);
}

/* --- negotiation ------------------------------------------------------- */

struct negot_fx {
	struct iscsi_params p;
	struct iscsi_limits l;
	struct text_negot n;
	char out[4096];
	struct kvbuf kv;
};

static void fx_init(struct negot_fx *f, enum text_phase phase, bool discovery)
{
	memset(f, 0, sizeof(*f));
	text_params_default(&f->p);
	text_limits_default(&f->l);
	text_negot_init(&f->n, &f->p, &f->l, phase, discovery);
	kv_init(&f->kv, f->out, sizeof(f->out));
}

static void fx_run(struct negot_fx *f, const char *data, size_t len)
{
	text_negotiate(&f->n, data, len, &f->kv);
}

#define cr_assert_kv(f, exp)                                                  \
	do {                                                                  \
		static const char e_[] = exp;                                 \
		cr_assert_eq((f)->kv.len, sizeof(e_) - 1,                     \
			     "answer length %zu, want %zu: \"%.*s\"",         \
			     (f)->kv.len, sizeof(e_) - 1, (int)(f)->kv.len,   \
			     (f)->out);                                       \
		cr_assert_eq(memcmp((f)->out, e_, sizeof(e_) - 1), 0,         \
			     "answer \"%.*s\"", (int)(f)->kv.len, (f)->out);  \
	} while (0)

/* One key, one exact answer, no error: the table of rules. */
struct rule_case {
	char req[64];
	size_t req_len;
	char want[64];
	size_t want_len;
	enum text_phase phase;
	bool discovery;
};

#define RC(req, want, phase, disc) { KV(req), KV(want), phase, disc }

ParameterizedTestParameters(negot, rules)
{
	static struct rule_case cases[] = {
		/* list: our first choice among the offered values */
		RC("HeaderDigest=CRC32C,None\0", "HeaderDigest=CRC32C\0",
		   PHASE_OPERATIONAL, false),
		RC("HeaderDigest=None,CRC32C\0", "HeaderDigest=None\0",
		   PHASE_OPERATIONAL, false),
		RC("HeaderDigest=None\0", "HeaderDigest=None\0",
		   PHASE_OPERATIONAL, false),
		RC("DataDigest=CRC32C\0", "DataDigest=CRC32C\0",
		   PHASE_OPERATIONAL, false),
		RC("HeaderDigest=MD5\0", "HeaderDigest=Reject\0",
		   PHASE_OPERATIONAL, false),
		/* numeric min against our limits (1 MiB) */
		RC("MaxBurstLength=16777215\0", "MaxBurstLength=1048576\0",
		   PHASE_OPERATIONAL, false),
		RC("MaxBurstLength=65536\0", "MaxBurstLength=65536\0",
		   PHASE_OPERATIONAL, false),
		RC("MaxBurstLength=0x10000\0", "MaxBurstLength=65536\0",
		   PHASE_OPERATIONAL, false),
		RC("FirstBurstLength=16777215\0", "FirstBurstLength=262144\0",
		   PHASE_OPERATIONAL, false),
		RC("MaxOutstandingR2T=100\0", "MaxOutstandingR2T=16\0",
		   PHASE_OPERATIONAL, false),
		/* boolean OR / AND */
		RC("InitialR2T=No\0", "InitialR2T=No\0", PHASE_OPERATIONAL,
		   false),
		RC("InitialR2T=Yes\0", "InitialR2T=Yes\0", PHASE_OPERATIONAL,
		   false),
		RC("ImmediateData=Yes\0", "ImmediateData=Yes\0",
		   PHASE_OPERATIONAL, false),
		RC("ImmediateData=No\0", "ImmediateData=No\0",
		   PHASE_OPERATIONAL, false),
		/* numeric max */
		RC("DefaultTime2Wait=5\0", "DefaultTime2Wait=5\0",
		   PHASE_OPERATIONAL, false),
		RC("DefaultTime2Wait=0\0", "DefaultTime2Wait=0\0",
		   PHASE_OPERATIONAL, false),
		/* what ERL 0, one connection and in-order data force */
		RC("ErrorRecoveryLevel=2\0", "ErrorRecoveryLevel=0\0",
		   PHASE_OPERATIONAL, false),
		RC("MaxConnections=8\0", "MaxConnections=1\0",
		   PHASE_OPERATIONAL, false),
		RC("DataPDUInOrder=No\0", "DataPDUInOrder=Yes\0",
		   PHASE_OPERATIONAL, false),
		RC("DataSequenceInOrder=No\0", "DataSequenceInOrder=Yes\0",
		   PHASE_OPERATIONAL, false),
		RC("DefaultTime2Retain=20\0", "DefaultTime2Retain=0\0",
		   PHASE_OPERATIONAL, false),
		/* obsolete markers */
		RC("IFMarker=Yes\0", "IFMarker=No\0", PHASE_OPERATIONAL, false),
		RC("OFMarkInt=1~65535\0", "OFMarkInt=Irrelevant\0",
		   PHASE_OPERATIONAL, false),
		/* unknown keys, extension keys */
		RC("FooBar=1\0", "FooBar=NotUnderstood\0", PHASE_OPERATIONAL,
		   false),
		RC("X-com.foo=bar\0", "X-com.foo=NotUnderstood\0",
		   PHASE_OPERATIONAL, false),
		RC("X#org.example=1\0", "X#org.example=NotUnderstood\0",
		   PHASE_FFP, false),
		/* out of range and malformed values */
		RC("MaxBurstLength=511\0", "MaxBurstLength=Reject\0",
		   PHASE_OPERATIONAL, false),
		RC("MaxBurstLength=16777216\0", "MaxBurstLength=Reject\0",
		   PHASE_OPERATIONAL, false),
		RC("MaxBurstLength=abc\0", "MaxBurstLength=Reject\0",
		   PHASE_OPERATIONAL, false),
		RC("MaxBurstLength=-1\0", "MaxBurstLength=Reject\0",
		   PHASE_OPERATIONAL, false),
		RC("MaxBurstLength=\0", "MaxBurstLength=Reject\0",
		   PHASE_OPERATIONAL, false),
		RC("DefaultTime2Wait=3601\0", "DefaultTime2Wait=Reject\0",
		   PHASE_OPERATIONAL, false),
		RC("ErrorRecoveryLevel=3\0", "ErrorRecoveryLevel=Reject\0",
		   PHASE_OPERATIONAL, false),
		RC("MaxConnections=0\0", "MaxConnections=Reject\0",
		   PHASE_OPERATIONAL, false),
		RC("ImmediateData=yes\0", "ImmediateData=Reject\0",
		   PHASE_OPERATIONAL, false),
		RC("InitialR2T=1\0", "InitialR2T=Reject\0", PHASE_OPERATIONAL,
		   false),
		/* discovery sessions: session-wide data keys are irrelevant */
		RC("InitialR2T=Yes\0", "InitialR2T=Irrelevant\0",
		   PHASE_OPERATIONAL, true),
		RC("MaxBurstLength=65536\0", "MaxBurstLength=Irrelevant\0",
		   PHASE_OPERATIONAL, true),
		RC("SessionType=Discovery\0ImmediateData=Yes\0",
		   "ImmediateData=Irrelevant\0", PHASE_OPERATIONAL, false),
		RC("HeaderDigest=None\0", "HeaderDigest=None\0",
		   PHASE_OPERATIONAL, true),
		/* auth: answered by login.c in the security stage (it knows
		 * the target's policy); a security key after it (RFC 7143
		 * §13.2 "Use: ... Security Negotiation") */
		RC("AuthMethod=None\0", "AuthMethod=Reject\0",
		   PHASE_OPERATIONAL, false),
		/* phase rules */
		RC("SendTargets=All\0", "SendTargets=Irrelevant\0",
		   PHASE_OPERATIONAL, false),
		RC("MaxBurstLength=65536\0", "MaxBurstLength=Reject\0",
		   PHASE_FFP, false),
		/* declarations: no answer */
		RC("InitiatorName=iqn.2024-01.org.example:i\0", "",
		   PHASE_SECURITY, false),
		RC("SessionType=Normal\0", "", PHASE_SECURITY, false),
		RC("TargetName=iqn.2024-01.org.example:t\0", "",
		   PHASE_SECURITY, false),
	};
	return cr_make_param_array(struct rule_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct rule_case *c, negot, rules)
{
	struct negot_fx f;

	fx_init(&f, c->phase, c->discovery);
	fx_run(&f, c->req, c->req_len);
	cr_assert_eq(f.n.error, 0, "%.*s: error 0x%x (%s)", (int)c->req_len,
		     c->req, f.n.error, f.n.error_msg);
	cr_assert_eq(f.kv.len, c->want_len, "%s: answer \"%.*s\"", c->req,
		     (int)f.kv.len, f.out);
	cr_assert_eq(memcmp(f.out, c->want, c->want_len), 0,
		     "%s: answer \"%.*s\"", c->req, (int)f.kv.len, f.out);
	cr_assert_not(f.kv.overflow);
}

Test(negot, digest_results_land)
{
	struct negot_fx f;

	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("HeaderDigest=CRC32C,None\0DataDigest=None\0"));
	cr_assert_kv(&f, "HeaderDigest=CRC32C\0DataDigest=None\0");
	cr_assert(f.p.header_digest);
	cr_assert_not(f.p.data_digest);

	fx_init(&f, PHASE_OPERATIONAL, false);
	f.l.header_digest = f.l.data_digest = false;
	fx_run(&f, KV("HeaderDigest=CRC32C,None\0DataDigest=CRC32C\0"));
	cr_assert_kv(&f, "HeaderDigest=None\0DataDigest=Reject\0");
	cr_assert_not(f.p.header_digest);
	cr_assert_not(f.p.data_digest);
}

Test(negot, bursts_and_finish)
{
	struct negot_fx f;

	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("MaxBurstLength=65536\0FirstBurstLength=200000\0"));
	/* RFC 7143 §13.14: FirstBurstLength <= MaxBurstLength, answer too */
	cr_assert_kv(&f, "MaxBurstLength=65536\0FirstBurstLength=65536\0");
	cr_assert_eq(f.n.error, 0);
	cr_assert_eq(f.p.max_burst, 65536u);
	cr_assert_eq(f.p.first_burst, 65536u);
	text_negot_finish(&f.n);
	cr_assert_eq(f.p.first_burst, 65536u);
	cr_assert_eq(f.p.max_burst, 65536u);

	/* the other order: finish keeps the session consistent */
	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("FirstBurstLength=200000\0MaxBurstLength=65536\0"));
	text_negot_finish(&f.n);
	cr_assert_eq(f.p.first_burst, 65536u);

	/* already consistent: finish changes nothing */
	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("MaxBurstLength=2000000\0FirstBurstLength=4096\0"));
	cr_assert_kv(&f, "MaxBurstLength=1048576\0FirstBurstLength=4096\0");
	text_negot_finish(&f.n);
	cr_assert_eq(f.p.max_burst, 1048576u);
	cr_assert_eq(f.p.first_burst, 4096u);
}

Test(negot, booleans_land)
{
	struct negot_fx f;

	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("InitialR2T=No\0ImmediateData=No\0DataPDUInOrder=No\0"
		      "ErrorRecoveryLevel=1\0MaxConnections=2\0"
		      "DefaultTime2Wait=7\0"));
	cr_assert_kv(&f, "InitialR2T=No\0ImmediateData=No\0DataPDUInOrder=Yes\0"
			 "ErrorRecoveryLevel=0\0MaxConnections=1\0"
			 "DefaultTime2Wait=7\0");
	cr_assert_not(f.p.initial_r2t);
	cr_assert_not(f.p.immediate_data);
	cr_assert(f.p.data_pdu_in_order);
	cr_assert_eq(f.p.erl, 0u);
	cr_assert_eq(f.p.max_connections, 1u);
	cr_assert_eq(f.p.default_time2wait, 7u);
}

/*
 * In the security stage the AuthMethod offer and the CHAP_ keys are
 * collected for login.c, which answers them by the target's policy; the
 * text layer answers nothing for them.
 */
Test(negot, auth_offer_and_chap_keys_are_collected)
{
	struct negot_fx f;

	fx_init(&f, PHASE_SECURITY, false);
	fx_run(&f, KV("InitiatorName=iqn.2024-01.org.example:i\0"
		      "AuthMethod=CHAP,None\0"));
	cr_assert_kv(&f, "");
	cr_assert_eq(f.n.error, 0);
	cr_assert(f.n.has_auth_offer);
	cr_assert_str_eq(f.n.auth_offer, "CHAP,None");
	cr_assert_null(f.n.chap_a);
	cr_assert_str_eq(f.n.initiator_name, "iqn.2024-01.org.example:i");

	fx_run(&f, KV("CHAP_N=alice\0CHAP_R=0x0102\0CHAP_I=7\0"
		      "CHAP_C=0b AQI=\0CHAP_A=5,7\0"));
	cr_assert_kv(&f, "");
	cr_assert_eq(f.n.error, 0);
	cr_assert_not(f.n.has_auth_offer, "an offer of an earlier request");
	cr_assert_str_eq(f.n.chap_n, "alice");
	cr_assert_str_eq(f.n.chap_r, "0x0102");
	cr_assert_str_eq(f.n.chap_i, "7");
	cr_assert_str_eq(f.n.chap_c, "0b AQI=");
	cr_assert_str_eq(f.n.chap_a, "5,7");
}

/* RFC 7143 §12.1.3: CHAP keys belong to the security stage, once each. */
Test(negot, chap_keys_out_of_place_fail)
{
	static const struct {
		const char *kv;
		size_t len;
		enum text_phase phase;
	} bad[] = {
		{ KV("CHAP_A=5\0"), PHASE_OPERATIONAL },
		{ KV("CHAP_N=a\0CHAP_R=0x00\0"), PHASE_OPERATIONAL },
		{ KV("CHAP_A=5\0"), PHASE_FFP },
		{ KV("CHAP_A=5\0CHAP_A=7\0"), PHASE_SECURITY },
		{ KV("CHAP_X=1\0"), PHASE_SECURITY },
		{ KV("CHAP_=1\0"), PHASE_SECURITY },
		{ KV("CHAP_NN=1\0"), PHASE_SECURITY },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct negot_fx f;

		fx_init(&f, bad[i].phase, false);
		fx_run(&f, bad[i].kv, bad[i].len);
		cr_assert_eq(f.n.error, LOGIN_AUTH_FAILED, "case %zu: %d", i,
			     f.n.error);
	}
}

Test(negot, key_twice_is_error)
{
	struct negot_fx f;

	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("InitialR2T=Yes\0InitialR2T=No\0"));
	cr_assert_eq(f.n.error, LOGIN_INITIATOR_ERROR);
	cr_assert_kv(&f, "InitialR2T=Yes\0");

	/* across two requests of the same login as well */
	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("MaxBurstLength=65536\0"));
	cr_assert_eq(f.n.error, 0);
	fx_run(&f, KV("MaxBurstLength=65536\0"));
	cr_assert_eq(f.n.error, LOGIN_INITIATOR_ERROR);
}

Test(negot, declarations_may_repeat)
{
	struct negot_fx f;

	fx_init(&f, PHASE_SECURITY, false);
	/* the same value again; another one fails the login (see
	 * identity_keys_cannot_change_within_a_login) */
	fx_run(&f, KV("InitiatorName=iqn.a:1\0InitiatorName=iqn.a:1\0"));
	cr_assert_eq(f.n.error, 0);
	cr_assert_str_eq(f.n.initiator_name, "iqn.a:1");
	cr_assert_eq(f.kv.len, 0);
}

Test(negot, mrdsl_declared_back_once)
{
	struct negot_fx f;

	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("MaxRecvDataSegmentLength=65536\0"));
	cr_assert_kv(&f, "MaxRecvDataSegmentLength=262144\0");
	cr_assert(f.n.declared_mrdsl);
	cr_assert_eq(f.p.max_recv_dsl_init, 65536u);
	cr_assert_eq(f.p.max_recv_dsl_tgt, 262144u);
	/* a second declaration updates theirs; ours is not repeated */
	fx_run(&f, KV("MaxRecvDataSegmentLength=16384\0"));
	cr_assert_eq(f.n.error, 0);
	cr_assert_kv(&f, "MaxRecvDataSegmentLength=262144\0");
	cr_assert_eq(f.p.max_recv_dsl_init, 16384u);
	/* out of range: Reject, value kept */
	fx_run(&f, KV("MaxRecvDataSegmentLength=100\0"));
	cr_assert_kv(&f, "MaxRecvDataSegmentLength=262144\0"
			 "MaxRecvDataSegmentLength=Reject\0");
	cr_assert_eq(f.p.max_recv_dsl_init, 16384u);
}

Test(negot, session_type)
{
	struct negot_fx f;

	fx_init(&f, PHASE_SECURITY, false);
	fx_run(&f, KV("SessionType=Discovery\0"));
	cr_assert(f.n.discovery);
	cr_assert_str_eq(f.n.session_type, "Discovery");
	cr_assert_eq(f.kv.len, 0);

	fx_init(&f, PHASE_SECURITY, false);
	fx_run(&f, KV("SessionType=Bogus\0"));
	cr_assert_kv(&f, "SessionType=Reject\0");
	cr_assert_eq(f.n.error, LOGIN_BAD_SESSION_TYPE);
}

Test(negot, target_only_key_fails)
{
	struct negot_fx f;

	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("TargetPortalGroupTag=1\0"));
	cr_assert_kv(&f, "TargetPortalGroupTag=Reject\0");
	cr_assert_eq(f.n.error, LOGIN_INITIATOR_ERROR);
}

Test(negot, malformed_segment_fails)
{
	struct negot_fx f;

	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("ImmediateData=Yes\0Broken\0"));
	cr_assert_eq(f.n.error, LOGIN_INITIATOR_ERROR);
	cr_assert_kv(&f, "ImmediateData=Yes\0");
}

Test(negot, ffp_send_targets)
{
	struct negot_fx f;

	fx_init(&f, PHASE_FFP, true);
	fx_run(&f, KV("SendTargets=All\0"));
	cr_assert_eq(f.n.error, 0);
	cr_assert(f.n.has_send_targets);
	cr_assert_str_eq(f.n.send_targets, "All");
	cr_assert_eq(f.kv.len, 0);
}

Test(negot, full_login_operational)
{
	struct negot_fx f;

	fx_init(&f, PHASE_OPERATIONAL, false);
	fx_run(&f, KV("HeaderDigest=None\0DataDigest=None\0"
		      "InitialR2T=No\0ImmediateData=Yes\0"
		      "MaxRecvDataSegmentLength=262144\0"
		      "MaxBurstLength=262144\0FirstBurstLength=65536\0"
		      "DefaultTime2Wait=2\0DefaultTime2Retain=0\0"
		      "MaxOutstandingR2T=1\0ErrorRecoveryLevel=0\0"
		      "X-com.vendor.Opt=1\0"));
	cr_assert_eq(f.n.error, 0);
	cr_assert_kv(&f, "HeaderDigest=None\0DataDigest=None\0"
			 "InitialR2T=No\0ImmediateData=Yes\0"
			 "MaxRecvDataSegmentLength=262144\0"
			 "MaxBurstLength=262144\0FirstBurstLength=65536\0"
			 "DefaultTime2Wait=2\0DefaultTime2Retain=0\0"
			 "MaxOutstandingR2T=1\0ErrorRecoveryLevel=0\0"
			 "X-com.vendor.Opt=NotUnderstood\0");
	text_negot_finish(&f.n);
	cr_assert_eq(f.p.first_burst, 65536u);
	cr_assert_eq(f.p.max_burst, 262144u);
	cr_assert_eq(f.p.max_outstanding_r2t, 1u);
	cr_assert_not(f.p.initial_r2t);
	cr_assert(f.p.immediate_data);
}

/* RFC 7143 §13.24 (Minimum): we speak level 2 (RFC 7144) and no more. */
Test(text, protocol_level_is_the_minimum_of_the_offers)
{
	static const struct { const char *offer, *answer; uint32_t level; }
		cases[] = { { "1", "1", 1 }, { "2", "2", 2 }, { "31", "2", 2 },
			    { "0", "0", 0 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iscsi_params p;
		struct iscsi_limits l;
		struct text_negot n;
		char in[64], out[256], want[64];
		struct kvbuf kv;
		int len;

		text_params_default(&p);
		text_limits_default(&l);
		cr_assert_eq(p.protocol_level, 1u, "default level");
		text_negot_init(&n, &p, &l, PHASE_OPERATIONAL, false);
		kv_init(&kv, out, sizeof(out));
		len = snprintf(in, sizeof(in), "iSCSIProtocolLevel=%s",
			       cases[i].offer) + 1;
		text_negotiate(&n, in, (size_t)len, &kv);
		cr_assert_eq(n.error, 0);
		snprintf(want, sizeof(want), "iSCSIProtocolLevel=%s",
			 cases[i].answer);
		cr_assert_eq(kv.len, strlen(want) + 1);
		cr_assert_str_eq(out, want);
		cr_assert_eq(p.protocol_level, cases[i].level);
	}
}

/*
 * Issue 8 item 4: InitiatorName, TargetName and SessionType identify the
 * login (the ACL was checked on the first declaration): a second request
 * of the same login declaring another value fails it (initiator error);
 * the same value again is fine.
 */
Test(text, identity_keys_cannot_change_within_a_login)
{
	static const char *const keys[] = { "InitiatorName", "TargetName",
					     "SessionType" };
	static const char *const first[] = { "iqn.2024-01.a:x",
					      "iqn.2024-01.t:y", "Normal" };
	static const char *const second[] = { "iqn.2024-01.a:other",
					       "iqn.2024-01.t:z", "Discovery" };

	for (size_t i = 0; i < 3; i++) {
		struct iscsi_params p;
		struct iscsi_limits l;
		struct text_negot n;
		char in[128], out[256];
		struct kvbuf kv;
		int len;

		text_params_default(&p);
		text_limits_default(&l);
		text_negot_init(&n, &p, &l, PHASE_SECURITY, false);
		kv_init(&kv, out, sizeof(out));
		len = snprintf(in, sizeof(in), "%s=%s", keys[i], first[i]) + 1;
		text_negotiate(&n, in, (size_t)len, &kv);
		cr_assert_eq(n.error, 0);
		/* the same value again: accepted */
		text_negotiate(&n, in, (size_t)len, &kv);
		cr_assert_eq(n.error, 0, "%s re-declared unchanged", keys[i]);
		len = snprintf(in, sizeof(in), "%s=%s", keys[i], second[i]) + 1;
		text_negotiate(&n, in, (size_t)len, &kv);
		cr_assert_eq(n.error, LOGIN_INITIATOR_ERROR, "%s changed: %d",
			     keys[i], n.error);
	}
}

/*
 * RFC 7143 §4.2.7.1: iSCSI names have at most 223 bytes. A longer
 * InitiatorName or TargetName fails the login; it used to be cut to 223
 * bytes and so passed for the name it starts with (an ACL entry of 223
 * bytes admitted every longer name with that prefix; found by
 * fuzz-login).
 */
Test(text, names_longer_than_223_bytes_fail_the_login)
{
	static const char *const keys[] = { "InitiatorName", "TargetName" };

	for (size_t i = 0; i < 2; i++) {
		for (size_t nlen = 222; nlen <= 225; nlen++) {
			struct iscsi_params p;
			struct iscsi_limits l;
			struct text_negot n;
			char in[512], out[256];
			struct kvbuf kv;
			int len;

			text_params_default(&p);
			text_limits_default(&l);
			text_negot_init(&n, &p, &l, PHASE_SECURITY, false);
			kv_init(&kv, out, sizeof(out));
			len = snprintf(in, sizeof(in), "%s=iqn.2024-01.a:", keys[i]);
			memset(in + len, 'x', nlen - strlen("iqn.2024-01.a:"));
			len += (int)(nlen - strlen("iqn.2024-01.a:"));
			in[len++] = '\0';
			text_negotiate(&n, in, (size_t)len, &kv);
			if (nlen <= 223)
				cr_assert_eq(n.error, 0, "%s of %zu bytes: %d",
					     keys[i], nlen, n.error);
			else
				cr_assert_eq(n.error, LOGIN_INITIATOR_ERROR,
					     "%s of %zu bytes accepted (as \"...%s\")",
					     keys[i], nlen,
					     (i ? n.target_name : n.initiator_name) + 200);
		}
	}
}

/* A Login Request without text: no data at all (found by fuzz-login
 * under UBSan: memmem() was given a NULL haystack). */
Test(negot, empty_text_without_a_buffer)
{
	struct negot_fx f;

	fx_init(&f, PHASE_SECURITY, false);
	fx_run(&f, NULL, 0);
	cr_assert_eq(f.n.error, 0);
	cr_assert_eq(f.kv.len, 0);
}
