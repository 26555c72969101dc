/*
 * test_tparams.c - a target's own iSCSI parameters (iscsi/tparams.c):
 * which names and values are taken, which refused and why (RFC 7143 §13
 * ranges; what ringtgt cannot honour), tgt's list in tgt's order, and the
 * negotiation (text.c) with the target's side of each key: every key's
 * result by its RFC 7143 rule against a target's values.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "iscsi/pdu.h"
#include "iscsi/text.h"
#include "iscsi/tparams.h"

#define KV(s) s, sizeof(s) - 1

/* --- tparam_check ---------------------------------------------------------- */

/* arrays, not pointers: Criterion runs each case in a new process */
struct check_case {
	char name[40], value[24];
	int rc;
	char canon_name[40], canon_value[24];	/* when rc == 0 */
};

ParameterizedTestParameters(tparams, check)
{
	static struct check_case cases[] = {
		{ "MaxRecvDataSegmentLength", "65536", 0,
		  "MaxRecvDataSegmentLength", "65536" },
		{ "maxburstlength", "0x10000", 0, "MaxBurstLength", "65536" },
		{ "MaxBurstLength", "511", -EINVAL, "", "" },		/* §13.13 */
		{ "MaxBurstLength", "16777216", -EINVAL, "", "" },
		{ "MaxBurstLength", "abc", -EINVAL, "", "" },
		{ "MaxBurstLength", "-1", -EINVAL, "", "" },
		{ "FirstBurstLength", "512", 0, "FirstBurstLength", "512" },
		{ "HeaderDigest", "CRC32C", 0, "HeaderDigest", "CRC32C" },
		{ "HeaderDigest", "None,CRC32C", 0, "HeaderDigest", "CRC32C" },
		{ "DataDigest", "None", 0, "DataDigest", "None" },
		{ "DataDigest", "crc32c", -EINVAL, "", "" },
		{ "DataDigest", "None,", -EINVAL, "", "" },
		{ "InitialR2T", "No", 0, "InitialR2T", "No" },
		{ "InitialR2T", "yes", -EINVAL, "", "" },
		{ "ImmediateData", "No", 0, "ImmediateData", "No" },
		{ "MaxOutstandingR2T", "16", 0, "MaxOutstandingR2T", "16" },
		{ "MaxOutstandingR2T", "17", -EOPNOTSUPP, "", "" },
		{ "MaxOutstandingR2T", "0", -EINVAL, "", "" },		/* §13.17 */
		{ "DefaultTime2Wait", "3600", 0, "DefaultTime2Wait", "3600" },
		{ "DefaultTime2Wait", "3601", -EINVAL, "", "" },	/* §13.15 */
		{ "DefaultTime2Retain", "0", 0, "DefaultTime2Retain", "0" },
		{ "DefaultTime2Retain", "20", -EOPNOTSUPP, "", "" },
		{ "ErrorRecoveryLevel", "0", 0, "ErrorRecoveryLevel", "0" },
		{ "ErrorRecoveryLevel", "1", -EOPNOTSUPP, "", "" },
		{ "ErrorRecoveryLevel", "3", -EINVAL, "", "" },		/* §13.20 */
		{ "MaxConnections", "1", 0, "MaxConnections", "1" },
		{ "MaxConnections", "2", -EOPNOTSUPP, "", "" },
		{ "DataPDUInOrder", "Yes", 0, "DataPDUInOrder", "Yes" },
		{ "DataPDUInOrder", "No", -EOPNOTSUPP, "", "" },
		{ "DataSequenceInOrder", "No", -EOPNOTSUPP, "", "" },
		{ "IFMarker", "No", 0, "IFMarker", "No" },
		{ "OFMarker", "Yes", -EOPNOTSUPP, "", "" },
		{ "OFMarkInt", "2048", -EOPNOTSUPP, "", "" },
		{ "RDMAExtensions", "No", 0, "RDMAExtensions", "No" },
		{ "RDMAExtensions", "Yes", -EOPNOTSUPP, "", "" },
		{ "TargetRecvDataSegmentLength", "8192", -EOPNOTSUPP, "", "" },
		{ "MaxXmitDataSegmentLength", "4096", 0,
		  "MaxXmitDataSegmentLength", "4096" },
		{ "MaxQueueCmd", "64", -EOPNOTSUPP, "", "" },
		{ "nop_interval", "5", -EOPNOTSUPP, "", "" },
		{ "NoSuchKey", "1", -ENOENT, "", "" },
		{ "TargetName", "iqn.x", -ENOENT, "", "" },
	};
	return cr_make_param_array(struct check_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct check_case *c, tparams, check)
{
	struct core_param out;
	char why[256] = "";
	int rc = tparam_check(c->name, c->value, &out, why, sizeof(why));

	cr_assert_eq(rc, c->rc, "%s=%s: %d (%s), want %d", c->name, c->value,
		     rc, why, c->rc);
	if (rc == 0) {
		cr_expect_str_eq(out.name, c->canon_name);
		cr_expect_str_eq(out.value, c->canon_value);
	} else if (rc != -ENOENT) {
		/* the refusal names the key and the value */
		cr_expect(strstr(why, c->value), "%s", why);
		cr_expect(strcasestr(why, c->name), "%s", why);
	}
}

/* tgt's list (usr/iscsi/target.c show_nop_info + param.c session_keys) */
struct list_fx {
	char text[2048];
	size_t len;
};

static void list_line(void *ctx, const char *name, const char *value)
{
	struct list_fx *f = ctx;

	f->len += (size_t)snprintf(f->text + f->len, sizeof(f->text) - f->len,
				   "%s=%s\n", name, value);
}

Test(tparams, list_in_tgt_order)
{
	struct iscsi_settings s;
	struct core_param over[] = {
		{ "MaxBurstLength", "65536" }, { "InitialR2T", "Yes" },
		{ "HeaderDigest", "None" }, { "DataDigest", "None" },
		{ "MaxRecvDataSegmentLength", "8192" },
		{ "MaxOutstandingR2T", "1" }, { "FirstBurstLength", "65536" },
		{ "DefaultTime2Wait", "2" },
		{ "MaxXmitDataSegmentLength", "8192" },
	};
	struct list_fx f = { "", 0 };

	iscsi_settings_default(&s);
	s.nop_interval = 5;
	s.nop_timeout = 12;
	tparams_list(&s, over, ARRAY_SIZE(over), list_line, &f);
	/* tgt 1.0.85's order and spelling, captured from tgtd */
	cr_assert_str_eq(f.text,
		"nop_interval=5\n"
		"nop_count=3\n"
		"MaxRecvDataSegmentLength=8192\n"
		"HeaderDigest=None\n"
		"DataDigest=None\n"
		"InitialR2T=Yes\n"
		"MaxOutstandingR2T=1\n"
		"ImmediateData=Yes\n"
		"FirstBurstLength=65536\n"
		"MaxBurstLength=65536\n"
		"DataPDUInOrder=Yes\n"
		"DataSequenceInOrder=Yes\n"
		"ErrorRecoveryLevel=0\n"
		"IFMarker=No\n"
		"OFMarker=No\n"
		"DefaultTime2Wait=2\n"
		"DefaultTime2Retain=0\n"
		"OFMarkInt=Reject\n"
		"IFMarkInt=Reject\n"
		"MaxConnections=1\n"
		"RDMAExtensions=No\n"
		"TargetRecvDataSegmentLength=262144\n"
		"InitiatorRecvDataSegmentLength=262144\n"
		"MaxOutstandingUnexpectedPDUs=0\n"
		"MaxXmitDataSegmentLength=8192\n"
		"MaxQueueCmd=128\n");
}

Test(tparams, base_is_the_settings)
{
	struct iscsi_settings s;
	struct iscsi_limits l;

	iscsi_settings_default(&s);
	s.max_recv_dsl = 65536;
	s.max_burst = 131072;
	s.first_burst = 32768;
	s.max_outstanding_r2t = 64;	/* above what a task holds */
	tparams_base(&s, &l);
	cr_expect_eq(l.max_recv_dsl, 65536u);
	cr_expect_eq(l.max_burst, 131072u);
	cr_expect_eq(l.first_burst, 32768u);
	cr_expect_eq(l.max_outstanding_r2t, 16u);
	cr_expect(l.header_digest && l.data_digest && l.immediate_data);
	cr_expect_not(l.initial_r2t);
}

/* --- the negotiation with a target's values ------------------------------ */

struct negot_case {
	/* the target's override */
	char name[40], value[24];
	/* the initiator's offer and the exact answer (RFC 7143 §13) */
	char req[80];
	size_t req_len;
	char want[80];
	size_t want_len;
};

/* A login's operational stage against a target whose override is
 * NAME=VALUE (as tparam_check takes it): the settings' defaults, then the
 * override, the session's defaults, the answers going into kv */
struct negot_fx {
	struct iscsi_settings s;
	struct iscsi_params p;
	struct iscsi_limits l;
	struct text_negot n;
	struct core_param over;
	char out[512];
	struct kvbuf kv;
};

static void negot_start(struct negot_fx *f, const char *name,
			const char *value)
{
	char why[256];

	cr_assert_eq(tparam_check(name, value, &f->over, why, sizeof(why)), 0,
		     "%s=%s: %s", name, value, why);
	iscsi_settings_default(&f->s);
	tparams_base(&f->s, &f->l);
	tparams_apply(&f->l, &f->over, 1);
	text_params_default(&f->p);
	text_negot_init(&f->n, &f->p, &f->l, PHASE_OPERATIONAL, false);
	kv_init(&f->kv, f->out, sizeof(f->out));
}

#define NC(name, value, req, want) { name, value, KV(req), KV(want) }

ParameterizedTestParameters(tparams, negotiate)
{
	static struct negot_case cases[] = {
		/* §13.13, §13.14, §13.17: the smaller of the two */
		NC("MaxBurstLength", "65536", "MaxBurstLength=262144\0",
		   "MaxBurstLength=65536\0"),
		NC("MaxBurstLength", "65536", "MaxBurstLength=16384\0",
		   "MaxBurstLength=16384\0"),
		NC("FirstBurstLength", "4096", "FirstBurstLength=65536\0",
		   "FirstBurstLength=4096\0"),
		/* §13.14: FirstBurstLength never above MaxBurstLength */
		NC("MaxBurstLength", "65536", "FirstBurstLength=262144\0",
		   "FirstBurstLength=65536\0"),
		NC("MaxBurstLength", "131072",
		   "MaxBurstLength=16384\0FirstBurstLength=65536\0",
		   "MaxBurstLength=16384\0FirstBurstLength=16384\0"),
		NC("MaxOutstandingR2T", "2", "MaxOutstandingR2T=8\0",
		   "MaxOutstandingR2T=2\0"),
		NC("MaxOutstandingR2T", "8", "MaxOutstandingR2T=3\0",
		   "MaxOutstandingR2T=3\0"),
		/* §13.15: the larger */
		NC("DefaultTime2Wait", "5", "DefaultTime2Wait=2\0",
		   "DefaultTime2Wait=5\0"),
		NC("DefaultTime2Wait", "5", "DefaultTime2Wait=9\0",
		   "DefaultTime2Wait=9\0"),
		/* §13.10 InitialR2T: OR */
		NC("InitialR2T", "Yes", "InitialR2T=No\0", "InitialR2T=Yes\0"),
		NC("InitialR2T", "No", "InitialR2T=No\0", "InitialR2T=No\0"),
		NC("InitialR2T", "No", "InitialR2T=Yes\0", "InitialR2T=Yes\0"),
		/* §13.11 ImmediateData: AND */
		NC("ImmediateData", "No", "ImmediateData=Yes\0",
		   "ImmediateData=No\0"),
		NC("ImmediateData", "Yes", "ImmediateData=No\0",
		   "ImmediateData=No\0"),
		NC("ImmediateData", "Yes", "ImmediateData=Yes\0",
		   "ImmediateData=Yes\0"),
		/* §13.1: the initiator's first choice the target takes */
		NC("HeaderDigest", "None", "HeaderDigest=CRC32C,None\0",
		   "HeaderDigest=None\0"),
		NC("HeaderDigest", "None", "HeaderDigest=CRC32C\0",
		   "HeaderDigest=Reject\0"),
		NC("DataDigest", "CRC32C", "DataDigest=CRC32C,None\0",
		   "DataDigest=CRC32C\0"),
		NC("DataDigest", "CRC32C", "DataDigest=None,CRC32C\0",
		   "DataDigest=None\0"),
		NC("DataDigest", "None", "HeaderDigest=CRC32C\0",
		   "HeaderDigest=CRC32C\0"),
		/* §13.12: declared, whatever the initiator declares */
		NC("MaxRecvDataSegmentLength", "16384",
		   "MaxRecvDataSegmentLength=262144\0",
		   "MaxRecvDataSegmentLength=16384\0"),
	};
	return cr_make_param_array(struct negot_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct negot_case *c, tparams, negotiate)
{
	struct negot_fx f;

	negot_start(&f, c->name, c->value);
	text_negotiate(&f.n, c->req, c->req_len, &f.kv);
	cr_assert_eq(f.n.error, 0, "%s", f.n.error_msg);
	cr_assert_eq(f.kv.len, c->want_len, "%s=%s: answer \"%.*s\"", c->name,
		     c->value, (int)f.kv.len, f.out);
	cr_assert_eq(memcmp(f.out, c->want, c->want_len), 0,
		     "%s=%s: answer \"%.*s\"", c->name, c->value,
		     (int)f.kv.len, f.out);
}

/* tgt's MaxXmitDataSegmentLength: what we send stays below it */
Test(tparams, max_xmit_caps_what_we_send)
{
	struct negot_fx f;

	negot_start(&f, "MaxXmitDataSegmentLength", "4096");
	text_negotiate(&f.n, KV("MaxRecvDataSegmentLength=65536\0"), &f.kv);
	text_negot_finish(&f.n);
	cr_expect_eq(f.p.max_recv_dsl_init, 4096u);
	/* nothing declared: the 8192 default, below the cap too */
	text_params_default(&f.p);
	text_negot_init(&f.n, &f.p, &f.l, PHASE_OPERATIONAL, false);
	text_negot_finish(&f.n);
	cr_expect_eq(f.p.max_recv_dsl_init, 4096u);
}
