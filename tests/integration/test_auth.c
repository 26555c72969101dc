/*
 * test_auth.c - issue 9: CHAP logins end to end against the in-process
 * server, on both event loops. The initiator side is the raw initiator,
 * whose CHAP responses are computed with libcrypto in the test, not with
 * the target's code. Covers one-way CHAP with each algorithm, the
 * target's allowed set, mutual CHAP, every refusal the issue names
 * (0x0201 after a delay, 0x0202 for the ACL), the security stage that
 * cannot be skipped, accounts that belong to one target only, and
 * discovery with CHAP (SendTargets lists only what the initiator may use).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "core/core.h"
#include "inproc.h"
#include "iscsi/pdu.h"
#include "raw_initiator.h"

#define USER "alice"
#define SECRET "correct-horse-battery"
#define OUT_USER "target-side"
#define OUT_SECRET "another-long-secret"
#define OTHER_IQN "iqn.2024-01.org.ringtgt:auth-other"
#define OTHER_INITIATOR "iqn.2024-01.org.ringtgt:not-in-the-acl"
/* RFC 7143 §11.13.5 */
#define ST_AUTH 0x0201
#define ST_FORBIDDEN 0x0202

static void ok(int rc, struct core_err *err)
{
	cr_assert_eq(rc, 0, "%s", err->msg);
}

/* Account USER bound as incoming to the inproc target. */
static void protect(const char *iqn)
{
	struct core_err err = { "" };

	core_account_add(USER, SECRET, &err);	/* may exist already */
	ok(core_account_bind(iqn, USER, false, &err), &err);
}

static void add_outgoing(const char *iqn)
{
	struct core_err err = { "" };

	ok(core_account_add(OUT_USER, OUT_SECRET, &err), &err);
	ok(core_account_bind(iqn, OUT_USER, true, &err), &err);
}

static void chap_as(struct ri *ri, const char *user, const char *secret)
{
	ri->chap.user = user;
	ri->chap.secret = secret;
}

/* A READ of LUN 1 works: the session is in the full feature phase. */
static void read_works(struct ri *ri)
{
	uint8_t cdb[10], buf[INPROC_BLK];
	struct ri_result res;
	uint32_t itt;

	ri_cdb_rw10(cdb, false, 0, 1);
	itt = ri_scsi_cmd(ri, 1, cdb, 10, CMD_R, INPROC_BLK, NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(ri, itt, buf, sizeof(buf), &res, 5000,
				 NULL), 0, "no answer to a READ");
	/* GOOD, or the power-on unit attention of a new I_T nexus */
	cr_assert(res.status == 0 || res.status == 2, "READ status 0x%x",
		  res.status);
}

static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };

ParameterizedTestParameters(auth, one_way_chap_each_algorithm)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * One-way CHAP with each CHAP_A the issue names (5 MD5, 6 SHA-1,
 * 7 SHA-256, 8 SHA3-256): the challenge is at least the digest's size,
 * and the session reaches the full feature phase. A base64 CHAP_R
 * (RFC 7143 §6.1 "0b") works as well as hex.
 */
ParameterizedTest(enum ev_kind *kind, auth, one_way_chap_each_algorithm,
		  .fini = inproc_down, .timeout = 60)
{
	static const struct { const char *a; size_t min_chal; } algs[] = {
		{ "5", 16 }, { "6", 20 }, { "7", 32 }, { "8", 32 },
	};

	inproc_up(*kind, 0, 0);
	protect(INPROC_IQN);
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++) {
		for (int b64 = 0; b64 < 2; b64++) {
			struct ri ri;
			int rc;

			cr_assert_eq(ri_connect(&ri, inproc.port), 0);
			ri.isid_q = (uint8_t)(0x40 + i * 2 + b64);
			chap_as(&ri, USER, SECRET);
			ri.chap.algs = algs[i].a;
			ri.chap.base64 = b64;
			rc = ri_login(&ri, INPROC_IQN, INPROC_INITIATOR);
			cr_assert_eq(rc, 0, "CHAP_A=%s%s: login %d (0x%x)",
				     algs[i].a, b64 ? " base64" : "", rc, rc);
			cr_assert_eq(ri.chap.alg, atoi(algs[i].a));
			cr_assert_geq(ri.chap.challenge_len, algs[i].min_chal,
				      "CHAP_A=%s: a %zu-byte challenge",
				      algs[i].a, ri.chap.challenge_len);
			read_works(&ri);
			ri_close(&ri);
		}
	}
}

ParameterizedTestParameters(auth, allowed_algorithms_are_the_targets)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * RFC 7143 §12.1.3 / the issue: the target picks the first value of the
 * initiator's CHAP_A list that it allows; when it allows none of them
 * the login fails with 0x0201.
 */
ParameterizedTest(enum ev_kind *kind, auth, allowed_algorithms_are_the_targets,
		  .fini = inproc_down, .timeout = 60)
{
	struct core_err err = { "" };
	struct ri ri;

	inproc_up(*kind, 0, 0);
	protect(INPROC_IQN);
	ok(core_target_chap_algs(INPROC_IQN, CORE_CHAP_SHA256 |
				 CORE_CHAP_SHA3_256, &err), &err);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	chap_as(&ri, USER, SECRET);
	ri.chap.algs = "5,6,8,7";
	cr_assert_eq(ri_login(&ri, INPROC_IQN, INPROC_INITIATOR), 0);
	cr_assert_eq(ri.chap.alg, 8, "picked CHAP_A=%d, not the first "
		     "allowed of the initiator's list", ri.chap.alg);
	ri_close(&ri);

	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	chap_as(&ri, USER, SECRET);
	ri.chap.algs = "5,6";
	cr_assert_eq(ri_login(&ri, INPROC_IQN, INPROC_INITIATOR), ST_AUTH);
	ri_close(&ri);
}

ParameterizedTestParameters(auth, refusals)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * Every way in without the secret fails with 0x0201, answered no sooner
 * than the fixed delay (so secrets cannot be guessed at line rate), and
 * the connection is closed after the answer: a wrong secret, an unknown
 * user, AuthMethod=None against a protected target, and an account that
 * exists but is bound to another target.
 */
ParameterizedTest(enum ev_kind *kind, auth, refusals, .fini = inproc_down,
		  .timeout = 90)
{
	struct core_lun_spec ram = { .type = SCSI_LU_DISK, .backing = "ram",
				     .size = 1 << 20 };
	struct core_err err = { "" };
	struct {
		const char *what, *user, *secret, *target;
	} cases[] = {
		{ "a wrong secret", USER, "correct-horse-batterz", INPROC_IQN },
		{ "an unknown user", "mallory", SECRET, INPROC_IQN },
		{ "AuthMethod=None", NULL, NULL, INPROC_IQN },
		{ "another target's account", "bob", "bobs-own-long-secret",
		  INPROC_IQN },
	};

	inproc_up(*kind, 0, 0);
	protect(INPROC_IQN);
	ok(core_target_add(OTHER_IQN, 0, NULL, &err), &err);
	ok(core_lun_add(OTHER_IQN, 1, &ram, &err), &err);
	ok(core_acl_add(OTHER_IQN, "ALL", &err), &err);
	ok(core_account_add("bob", "bobs-own-long-secret", &err), &err);
	ok(core_account_bind(OTHER_IQN, "bob", false, &err), &err);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t t0;
		struct ri ri;
		int rc;

		cr_assert_eq(ri_connect(&ri, inproc.port), 0);
		if (cases[i].user)
			chap_as(&ri, cases[i].user, cases[i].secret);
		t0 = ri_now_ms();
		rc = ri_login(&ri, cases[i].target, INPROC_INITIATOR);
		cr_assert_eq(rc, ST_AUTH, "%s: login gave %d (0x%x), not "
			     "0x0201", cases[i].what, rc, rc);
		cr_assert_geq(ri_now_ms() - t0, 900, "%s: refused after "
			      "%llu ms, without the delay", cases[i].what,
			      (unsigned long long)(ri_now_ms() - t0));
		cr_assert_geq(ri_wait_closed(&ri, 5000), 0,
			      "%s: the connection stayed open", cases[i].what);
		ri_close(&ri);
	}
	/* bob is good for his own target */
	{
		struct ri ri;

		cr_assert_eq(ri_connect(&ri, inproc.port), 0);
		chap_as(&ri, "bob", "bobs-own-long-secret");
		cr_assert_eq(ri_login(&ri, OTHER_IQN, INPROC_INITIATOR), 0);
		ri_close(&ri);
	}
}

/* Sends one Login Request and returns the response's status (or -errno). */
static int login_raw(struct ri *ri, uint8_t flags, const char *kv, size_t n,
		     struct ri_pdu *rsp)
{
	uint8_t b[BHS_LEN];
	int rc;

	ri_build_login(ri, b, flags);
	rc = ri_send(ri, b, kv, (uint32_t)n);
	if (!rc)
		rc = ri_recv(ri, rsp, 5000);
	if (rc)
		return rc;
	cr_assert_eq(rsp->opcode, OP_LOGIN_RSP);
	ri->expstatsn = get_be32(rsp->bhs + BHS_CMDSN) + 1;
	return get_be16(rsp->bhs + BHS_DATASN);
}

static size_t put(char *buf, size_t off, const char *kv)
{
	return off + (size_t)sprintf(buf + off, "%s", kv) + 1;
}

ParameterizedTestParameters(auth, security_stage_cannot_be_skipped)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * A login to a target that requires CHAP may not reach the operational
 * stage or the full feature phase without it: starting in the
 * operational stage (CSG=1), or sending CHAP keys after the transit,
 * fails with 0x0201 (the spdk#3417 kind of bypass). CHAP keys before
 * AuthMethod=CHAP is agreed fail too.
 */
ParameterizedTest(enum ev_kind *kind, auth, security_stage_cannot_be_skipped,
		  .fini = inproc_down, .timeout = 60)
{
	char kv[1024];
	struct ri_pdu rsp;
	struct ri ri;
	size_t n;

	inproc_up(*kind, 0, 0);
	protect(INPROC_IQN);

	/* straight to the operational stage, then to the FFP */
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	ri.cmdsn = 1;
	n = put(kv, 0, "InitiatorName=" INPROC_INITIATOR);
	n = put(kv, n, "TargetName=" INPROC_IQN);
	n = put(kv, n, "SessionType=Normal");
	cr_assert_eq(login_raw(&ri, LOGIN_T | 1 << 2 | 3, kv, n, &rsp),
		     ST_AUTH, "a login without a security stage was let in");
	ri_close(&ri);

	/* CHAP keys with AuthMethod=None offered */
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	ri.cmdsn = 1;
	n = put(kv, 0, "InitiatorName=" INPROC_INITIATOR);
	n = put(kv, n, "TargetName=" INPROC_IQN);
	n = put(kv, n, "AuthMethod=None");
	n = put(kv, n, "CHAP_N=" USER);
	n = put(kv, n, "CHAP_R=0x00112233445566778899aabbccddeeff");
	cr_assert_eq(login_raw(&ri, LOGIN_T | 0 << 2 | 1, kv, n, &rsp),
		     ST_AUTH);
	ri_close(&ri);

	/* an unprotected target: None, transit, then CHAP keys later */
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	{
		struct core_err err = { "" };

		ok(core_account_unbind(INPROC_IQN, USER, false, &err), &err);
	}
	ri.cmdsn = 1;
	n = put(kv, 0, "InitiatorName=" INPROC_INITIATOR);
	n = put(kv, n, "TargetName=" INPROC_IQN);
	n = put(kv, n, "AuthMethod=None");
	cr_assert_eq(login_raw(&ri, LOGIN_T | 0 << 2 | 1, kv, n, &rsp), 0);
	n = put(kv, 0, "CHAP_A=5");
	cr_assert_eq(login_raw(&ri, 1 << 2, kv, n, &rsp), ST_AUTH,
		     "CHAP keys after the transit were taken");
	ri_close(&ri);
}

ParameterizedTestParameters(auth, mutual_chap)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * Mutual CHAP: the target answers the initiator's challenge with its
 * outgoing account (checked here with libcrypto), for every algorithm.
 * A challenge equal to the target's own (reflection) and a challenge to
 * a target without an outgoing account fail with 0x0201.
 */
ParameterizedTest(enum ev_kind *kind, auth, mutual_chap, .fini = inproc_down,
		  .timeout = 60)
{
	static const char *const algs[] = { "5", "6", "7", "8" };
	struct ri ri;

	inproc_up(*kind, 0, 0);
	protect(INPROC_IQN);

	/* no outgoing account yet */
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	chap_as(&ri, USER, SECRET);
	ri.chap.target_user = OUT_USER;
	ri.chap.target_secret = OUT_SECRET;
	cr_assert_eq(ri_login(&ri, INPROC_IQN, INPROC_INITIATOR), ST_AUTH);
	ri_close(&ri);

	add_outgoing(INPROC_IQN);
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++) {
		cr_assert_eq(ri_connect(&ri, inproc.port), 0);
		ri.isid_q = (uint8_t)(0x60 + i);
		chap_as(&ri, USER, SECRET);
		ri.chap.algs = algs[i];
		ri.chap.target_user = OUT_USER;
		ri.chap.target_secret = OUT_SECRET;
		cr_assert_eq(ri_login(&ri, INPROC_IQN, INPROC_INITIATOR), 0,
			     "mutual CHAP_A=%s", algs[i]);
		cr_assert(ri.chap.mutual_ok);
		read_works(&ri);
		ri_close(&ri);
	}

	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	chap_as(&ri, USER, SECRET);
	ri.chap.target_user = OUT_USER;
	ri.chap.target_secret = OUT_SECRET;
	ri.chap.reflect = true;
	cr_assert_eq(ri_login(&ri, INPROC_IQN, INPROC_INITIATOR), ST_AUTH,
		     "a reflected challenge was answered");
	ri_close(&ri);

	/* a wrong response: no mutual answer is given before the check */
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	chap_as(&ri, USER, "not-the-secret-at-all");
	ri.chap.target_user = OUT_USER;
	ri.chap.target_secret = OUT_SECRET;
	cr_assert_eq(ri_login(&ri, INPROC_IQN, INPROC_INITIATOR), ST_AUTH);
	cr_assert_not(ri.chap.mutual_ok);
	ri_close(&ri);
}

ParameterizedTestParameters(auth, discovery)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * Discovery: with discovery auth on, a discovery session needs CHAP with
 * a discovery account (a target's account is not one); SendTargets then
 * lists only the targets whose ACL admits the initiator, and a login to
 * a target whose ACL leaves the initiator out fails with 0x0202.
 */
ParameterizedTest(enum ev_kind *kind, auth, discovery, .fini = inproc_down,
		  .timeout = 60)
{
	struct core_lun_spec ram = { .type = SCSI_LU_DISK, .backing = "ram",
				     .size = 1 << 20 };
	struct core_err err = { "" };
	char text[4096];
	struct ri ri;

	inproc_up(*kind, 0, 0);
	ok(core_target_add(OTHER_IQN, 0, NULL, &err), &err);
	ok(core_lun_add(OTHER_IQN, 1, &ram, &err), &err);
	ok(core_acl_add(OTHER_IQN, INPROC_INITIATOR, &err), &err);

	/* without discovery auth: both visible to INPROC_INITIATOR */
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	cr_assert_eq(ri_login(&ri, NULL, INPROC_INITIATOR), 0);
	cr_assert_eq(ri_send_targets(&ri, text, sizeof(text)), 0,
		     "no SendTargets answer");
	cr_assert(strstr(text, "TargetName=" OTHER_IQN), "%s", text);
	cr_assert(strstr(text, "TargetName=" INPROC_IQN), "%s", text);
	ri_close(&ri);
	/* OTHER_INITIATOR: outside OTHER_IQN's ACL */
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	cr_assert_eq(ri_login(&ri, NULL, OTHER_INITIATOR), 0);
	cr_assert_eq(ri_send_targets(&ri, text, sizeof(text)), 0,
		     "no SendTargets answer");
	cr_assert_null(strstr(text, OTHER_IQN), "listed outside its ACL: %s",
		       text);
	cr_assert(strstr(text, "TargetName=" INPROC_IQN), "%s", text);
	ri_close(&ri);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	cr_assert_eq(ri_login(&ri, OTHER_IQN, OTHER_INITIATOR), ST_FORBIDDEN);
	ri_close(&ri);

	/* discovery auth on */
	ok(core_account_add("disco", "discovery-secret-1", &err), &err);
	ok(core_account_bind(NULL, "disco", false, &err), &err);
	ok(core_discovery_auth_set(CORE_DISC_AUTH_CHAP, &err), &err);
	protect(INPROC_IQN);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	cr_assert_eq(ri_login(&ri, NULL, INPROC_INITIATOR), ST_AUTH,
		     "discovery without CHAP was let in");
	ri_close(&ri);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	chap_as(&ri, USER, SECRET);	/* a target's account */
	cr_assert_eq(ri_login(&ri, NULL, INPROC_INITIATOR), ST_AUTH,
		     "a target's account opened a discovery session");
	ri_close(&ri);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	chap_as(&ri, "disco", "discovery-secret-1");
	cr_assert_eq(ri_login(&ri, NULL, OTHER_INITIATOR), 0);
	cr_assert_eq(ri_send_targets(&ri, text, sizeof(text)), 0,
		     "no SendTargets answer");
	cr_assert(strstr(text, "TargetName=" INPROC_IQN), "%s", text);
	cr_assert_null(strstr(text, OTHER_IQN), "%s", text);
	ri_close(&ri);

	/* mutual discovery: the initiator must challenge the target too */
	ok(core_account_add(OUT_USER, OUT_SECRET, &err), &err);
	ok(core_account_bind(NULL, OUT_USER, true, &err), &err);
	ok(core_discovery_auth_set(CORE_DISC_AUTH_MUTUAL, &err), &err);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	chap_as(&ri, "disco", "discovery-secret-1");
	cr_assert_eq(ri_login(&ri, NULL, INPROC_INITIATOR), ST_AUTH,
		     "mutual discovery without the initiator's challenge");
	ri_close(&ri);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	chap_as(&ri, "disco", "discovery-secret-1");
	ri.chap.target_user = OUT_USER;
	ri.chap.target_secret = OUT_SECRET;
	cr_assert_eq(ri_login(&ri, NULL, INPROC_INITIATOR), 0);
	cr_assert(ri.chap.mutual_ok);
	ri_close(&ri);
}
