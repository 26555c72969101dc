/*
 * test_core_auth.c - CHAP accounts (core/auth.c): adding and removing
 * accounts, binding them to targets and to discovery, the policy a login
 * follows (issue 9: a target with incoming accounts requires CHAP; the
 * discovery modes), secret lookup only where an account is bound, secrets
 * kept out of JSON, error sentences and the log, the short-secret warning
 * (RFC 7143 §12.1.3) and the CHAP_A algorithm lists.
 * Criterion forks per test, so each test starts with an empty registry.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "base/log.h"
#include "core/core.h"

#define IQN_A "iqn.2026-11.org.ringtgt:auth-a"
#define IQN_B "iqn.2026-11.org.ringtgt:auth-b"
#define SECRET_ALICE "alice-secret-0123456789"
#define SECRET_BOB "bob-secret-9876543210"
#define SECRET_TGT "target-secret-abcdefgh"

static struct core_err err;
static char logbuf[16384];

static void log_to_buf(void *arg, enum log_level lvl, const char *line)
{
	size_t n = strlen(logbuf);

	(void)arg;
	snprintf(logbuf + n, sizeof(logbuf) - n, "<%d>%s\n", (int)lvl, line);
}

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	logbuf[0] = '\0';
	log_threshold = LOG_LVL_DEBUG;
	log_set_writer(log_to_buf, NULL);
	core_init();
	cr_assert_eq(core_target_add(IQN_A, 0, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(core_target_add(IQN_B, 0, NULL, &err), 0, "%s", err.msg);
}

static void teardown(void)
{
	core_shutdown();
	log_set_writer(NULL, NULL);
}

TestSuite(auth, .init = setup, .fini = teardown);

static void add(const char *name, const char *secret)
{
	cr_assert_eq(core_account_add(name, secret, &err), 0, "%s", err.msg);
}

static void bind_ok(const char *iqn, const char *name, bool outgoing)
{
	cr_assert_eq(core_account_bind(iqn, name, outgoing, &err), 0, "%s",
		     err.msg);
}

static struct core_auth_policy policy_of(const char *iqn)
{
	struct core_auth_policy p;
	struct tgt_target *t = iqn ? core_target_find(iqn) : NULL;

	if (iqn)
		cr_assert_not_null(t);
	memset(&p, 0xa5, sizeof(p));
	core_auth_policy(t, &p);
	core_target_put(t);
	return p;
}

/* core_auth_incoming() on target @iqn (NULL: discovery). */
static int incoming(const char *iqn, const char *user, uint8_t *secret,
		    size_t cap)
{
	struct tgt_target *t = iqn ? core_target_find(iqn) : NULL;
	int rc;

	if (iqn)
		cr_assert_not_null(t);
	rc = core_auth_incoming(t, user, secret, cap);
	core_target_put(t);
	return rc;
}

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, k, &v), "no key %s in %s", k,
		  json_object_to_json_string(o));
	return v;
}

/* The target @iqn in core_targets_json() (caller puts @all). */
static json_object *target_json(json_object *all, const char *iqn)
{
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *t = json_object_array_get_idx(all, i);

		if (strcmp(json_object_get_string(jget(t, "iqn")), iqn) == 0)
			return t;
	}
	cr_assert_fail("no target %s in %s", iqn, json_object_to_json_string(all));
	return NULL;
}

Test(auth, add_and_remove)
{
	add("alice", SECRET_ALICE);
	cr_expect_str_eq(err.msg, "", "no warning for a long secret");
	cr_expect_eq(core_account_add("alice", SECRET_BOB, &err), -EEXIST);
	cr_expect_str_eq(err.msg, "account alice already exists");
	cr_expect_eq(core_account_remove("nobody", false, &err), -ENOENT);
	cr_expect_str_eq(err.msg, "no account nobody");
	cr_expect_eq(core_account_remove("alice", false, &err), 0, "%s", err.msg);
	cr_expect_eq(core_account_remove("alice", false, &err), -ENOENT);
	/* The name is free again. */
	add("alice", SECRET_BOB);
}

/* Arrays, not pointers: Criterion copies parameters to the test's process. */
struct bad_account {
	char name[16], secret[32], why[40];
};

ParameterizedTestParameters(auth, bad_accounts)
{
	static struct bad_account v[] = {
		{ "", SECRET_ALICE, "empty name" },
		{ "al ice", SECRET_ALICE, "space in the name" },
		{ "al,ice", SECRET_ALICE, "comma in the name" },
		{ "al\tice", SECRET_ALICE, "tab in the name" },
		{ "al\xc3\xa9", SECRET_ALICE, "non-ASCII name" },
		{ "alice", "", "empty secret" },
		{ "alice", "line1\nline2-0123456", "control character in the secret" },
	};

	return cr_make_param_array(struct bad_account, v,
				   sizeof(v) / sizeof(v[0]));
}

ParameterizedTest(struct bad_account *b, auth, bad_accounts)
{
	cr_expect_eq(core_account_add(b->name, b->secret, &err), -EINVAL,
		     "%s accepted", b->why);
	cr_expect_neq(err.msg[0], '\0', "%s: no sentence", b->why);
	if (b->secret[0])
		cr_expect_null(strstr(err.msg, b->secret),
			       "%s: the secret is in the message: %s", b->why,
			       err.msg);
}

Test(auth, name_and_secret_lengths)
{
	cr_expect_eq(core_account_add(NULL, SECRET_ALICE, &err), -EINVAL);
	cr_expect_eq(core_account_add("alice", NULL, &err), -EINVAL);

	char name[CORE_ACCOUNT_NAME_MAX + 2], secret[CORE_SECRET_MAX + 2];

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_expect_eq(core_account_add(name, SECRET_ALICE, &err), -EINVAL,
		     "a %zu-byte name accepted", strlen(name));
	name[CORE_ACCOUNT_NAME_MAX] = '\0';
	add(name, SECRET_ALICE);

	memset(secret, 's', sizeof(secret) - 1);
	secret[sizeof(secret) - 1] = '\0';
	cr_expect_eq(core_account_add("long", secret, &err), -EINVAL,
		     "a %zu-byte secret accepted", strlen(secret));
	secret[CORE_SECRET_MAX] = '\0';
	add("long", secret);
	/* Names are CHAP_N octets: case matters, '~' and '@' are fine. */
	add("Alice@example~1", SECRET_ALICE);
	add("alice@example~1", SECRET_ALICE);
}

Test(auth, bind_errors)
{
	add("alice", SECRET_ALICE);
	add("bob", SECRET_BOB);
	add("tgt", SECRET_TGT);
	add("tgt2", SECRET_TGT "-2");

	cr_expect_eq(core_account_bind(IQN_A, "nobody", false, &err), -ENOENT);
	cr_expect_str_eq(err.msg, "no account nobody");
	cr_expect_eq(core_account_bind("iqn.2026-11.org.ringtgt:none", "alice",
				       false, &err), -ENOENT);
	cr_expect_str_eq(err.msg, "no target iqn.2026-11.org.ringtgt:none");

	bind_ok(IQN_A, "alice", false);
	cr_expect_eq(core_account_bind(IQN_A, "alice", false, &err), -EEXIST);
	cr_expect(strstr(err.msg, "already bound"), "%s", err.msg);
	bind_ok(IQN_A, "bob", false);
	bind_ok(IQN_B, "alice", false);

	/* At most one outgoing account. */
	bind_ok(IQN_A, "tgt", true);
	cr_expect_eq(core_account_bind(IQN_A, "tgt2", true, &err), -EEXIST);
	cr_expect(strstr(err.msg, "tgt is the outgoing account"), "%s", err.msg);
	cr_expect_eq(core_account_bind(IQN_A, "tgt", true, &err), -EEXIST);
	bind_ok(IQN_B, "tgt2", true);

	cr_expect_eq(core_account_unbind(IQN_B, "bob", false, &err), -ENOENT);
	cr_expect(strstr(err.msg, "not bound"), "%s", err.msg);
	cr_expect_eq(core_account_unbind(IQN_A, "alice", true, &err), -ENOENT,
		     "alice is incoming, not outgoing");
	cr_expect_eq(core_account_unbind(IQN_A, "nobody", false, &err), -ENOENT);
	cr_expect_eq(core_account_unbind(IQN_A, "alice", false, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(core_account_unbind(IQN_A, "alice", false, &err), -ENOENT);
	cr_expect_eq(core_account_unbind(IQN_A, "tgt", true, &err), 0, "%s",
		     err.msg);
	/* The outgoing slot is free again. */
	bind_ok(IQN_A, "tgt2", true);
}

/*
 * RFC 7143 §12.1.3: a CHAP secret that authenticates initiators must not
 * be configured to authenticate a target, and the other way round.
 */
Test(auth, one_secret_one_direction)
{
	add("alice", SECRET_ALICE);
	add("alice-twin", SECRET_ALICE);
	add("tgt", SECRET_TGT);

	bind_ok(IQN_A, "alice", false);
	cr_expect_eq(core_account_bind(IQN_B, "alice", true, &err), -EINVAL,
		     "an incoming account became outgoing");
	cr_expect(strstr(err.msg, "RFC 7143"), "%s", err.msg);
	cr_expect_eq(core_account_bind(NULL, "alice-twin", true, &err), -EINVAL,
		     "an incoming account's secret became outgoing");
	cr_expect_null(strstr(err.msg, SECRET_ALICE), "%s", err.msg);
	bind_ok(IQN_B, "tgt", true);
	cr_expect_eq(core_account_bind(IQN_A, "tgt", false, &err), -EINVAL,
		     "an outgoing account became incoming");
}

Test(auth, remove_bound_needs_force)
{
	struct core_auth_policy p;
	json_object *all;

	add("alice", SECRET_ALICE);
	add("tgt", SECRET_TGT);
	bind_ok(IQN_A, "alice", false);
	bind_ok(IQN_B, "alice", false);
	bind_ok(IQN_A, "tgt", true);
	bind_ok(NULL, "alice", false);

	cr_expect_eq(core_account_remove("alice", false, &err), -EBUSY);
	cr_expect(strstr(err.msg, "--force"), "%s", err.msg);
	cr_expect_eq(core_account_remove("tgt", false, &err), -EBUSY);
	p = policy_of(IQN_A);
	cr_expect(p.chap_required, "a refused removal unbound the account");

	cr_expect_eq(core_account_remove("alice", true, &err), 0, "%s", err.msg);
	p = policy_of(IQN_A);
	cr_expect_not(p.chap_required, "alice is gone: no incoming account");
	cr_expect(p.has_outgoing);
	cr_expect_not(policy_of(IQN_B).chap_required);
	all = core_targets_json();
	cr_expect_eq(json_object_array_length(
		jget(target_json(all, IQN_A), "incoming_accounts")), 0);
	json_object_put(all);
	all = core_accounts_json(false);
	cr_expect_eq(json_object_array_length(
		jget(jget(all, "discovery"), "incoming")), 0);
	json_object_put(all);

	cr_expect_eq(core_account_remove("tgt", true, &err), 0, "%s", err.msg);
	cr_expect_not(policy_of(IQN_A).has_outgoing);
}

Test(auth, target_removal_drops_bindings)
{
	uint8_t s[CORE_SECRET_MAX];

	add("alice", SECRET_ALICE);
	add("tgt", SECRET_TGT);
	bind_ok(IQN_A, "alice", false);
	bind_ok(IQN_A, "tgt", true);
	cr_assert_eq(core_target_remove(IQN_A, false, &err), 0, "%s", err.msg);

	/* Nothing holds the accounts any more. */
	cr_expect_eq(core_account_remove("tgt", false, &err), 0, "%s", err.msg);
	json_object *all = core_accounts_json(false);
	json_object *acc = json_object_array_get_idx(jget(all, "accounts"), 0);

	cr_expect_str_eq(json_object_get_string(jget(acc, "name")), "alice");
	cr_expect_eq(json_object_array_length(jget(acc, "incoming")), 0,
		     "%s", json_object_to_json_string(acc));
	json_object_put(all);

	/* A new target of the same name starts with no bindings. */
	cr_assert_eq(core_target_add(IQN_A, 0, NULL, &err), 0, "%s", err.msg);
	cr_expect_not(policy_of(IQN_A).chap_required);
	cr_expect_eq(incoming(IQN_A, "alice", s, sizeof(s)), -ENOENT);
	cr_expect_eq(core_account_remove("alice", false, &err), 0, "%s", err.msg);
}

Test(auth, removed_target_fails_closed)
{
	struct core_auth_policy p;
	uint8_t s[CORE_SECRET_MAX];
	struct tgt_target *t;

	add("alice", SECRET_ALICE);
	bind_ok(IQN_A, "alice", false);
	/* A login holds a reference while the target is removed. */
	t = core_target_find(IQN_A);
	cr_assert_not_null(t);
	cr_assert_eq(core_target_remove(IQN_A, false, &err), 0, "%s", err.msg);
	core_auth_policy(t, &p);
	cr_expect(p.chap_required,
		  "a removed target with CHAP lets logins in without it");
	cr_expect_eq(core_auth_incoming(t, "alice", s, sizeof(s)), -ENOENT);
	core_target_put(t);
}

Test(auth, policy_of_targets)
{
	struct core_auth_policy p = policy_of(IQN_A);

	cr_expect_not(p.chap_required, "no account: AuthMethod=None allowed");
	cr_expect_not(p.mutual_required);
	cr_expect_not(p.has_outgoing);
	cr_expect_eq(p.algs, CORE_CHAP_ALL, "default: all four algorithms");

	add("alice", SECRET_ALICE);
	add("tgt", SECRET_TGT);
	/* An outgoing account alone does not demand CHAP of the initiator. */
	bind_ok(IQN_A, "tgt", true);
	p = policy_of(IQN_A);
	cr_expect_not(p.chap_required);
	cr_expect(p.has_outgoing);
	bind_ok(IQN_A, "alice", false);
	p = policy_of(IQN_A);
	cr_expect(p.chap_required, "incoming account bound: CHAP required");
	cr_expect_not(p.mutual_required);
	cr_expect_not(policy_of(IQN_B).chap_required,
		      "binding to A changed B");
	cr_expect_not(policy_of(NULL).chap_required,
		      "binding to A changed discovery");

	cr_expect_eq(core_target_chap_algs(IQN_A, CORE_CHAP_SHA256 |
					   CORE_CHAP_SHA3_256, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(policy_of(IQN_A).algs, CORE_CHAP_SHA256 | CORE_CHAP_SHA3_256);
	cr_expect_eq(policy_of(IQN_B).algs, CORE_CHAP_ALL);
	cr_expect_eq(core_target_chap_algs(IQN_A, 0, &err), -EINVAL);
	cr_expect_eq(core_target_chap_algs(IQN_A, 1u << 4, &err), -EINVAL);
	cr_expect_eq(core_target_chap_algs("iqn.2026-11.org.ringtgt:none",
					   CORE_CHAP_MD5, &err), -ENOENT);
	cr_expect_eq(policy_of(IQN_A).algs, CORE_CHAP_SHA256 | CORE_CHAP_SHA3_256);

	cr_assert_eq(core_account_unbind(IQN_A, "alice", false, &err), 0);
	cr_expect_not(policy_of(IQN_A).chap_required);
}

Test(auth, discovery_modes)
{
	struct core_auth_policy p;

	cr_expect_eq(core_discovery_auth(), CORE_DISC_AUTH_NONE);
	p = policy_of(NULL);
	cr_expect_not(p.chap_required);
	cr_expect_not(p.mutual_required);

	cr_expect_eq(core_discovery_auth_set(CORE_DISC_AUTH_CHAP, &err), -EINVAL,
		     "CHAP without an incoming discovery account");
	cr_expect(strstr(err.msg, "incoming account"), "%s", err.msg);
	cr_expect_eq(core_discovery_auth(), CORE_DISC_AUTH_NONE);

	add("disc", SECRET_ALICE);
	add("disc-out", SECRET_TGT);
	bind_ok(NULL, "disc", false);
	/* Binding alone changes nothing: the mode decides. */
	cr_expect_not(policy_of(NULL).chap_required);
	cr_expect_eq(core_discovery_auth_set(CORE_DISC_AUTH_MUTUAL, &err), -EINVAL,
		     "mutual without an outgoing discovery account");
	cr_expect(strstr(err.msg, "outgoing account"), "%s", err.msg);
	cr_assert_eq(core_discovery_auth_set(CORE_DISC_AUTH_CHAP, &err), 0, "%s",
		     err.msg);
	cr_expect_eq(core_discovery_auth(), CORE_DISC_AUTH_CHAP);
	p = policy_of(NULL);
	cr_expect(p.chap_required);
	cr_expect_not(p.mutual_required);
	cr_expect_not(p.has_outgoing);
	cr_expect_not(policy_of(IQN_A).chap_required,
		      "discovery auth changed a target's policy");

	bind_ok(NULL, "disc-out", true);
	cr_assert_eq(core_discovery_auth_set(CORE_DISC_AUTH_MUTUAL, &err), 0, "%s",
		     err.msg);
	p = policy_of(NULL);
	cr_expect(p.chap_required);
	cr_expect(p.mutual_required);
	cr_expect(p.has_outgoing);

	/* Unbinding the last account keeps discovery closed, not open. */
	cr_assert_eq(core_account_unbind(NULL, "disc", false, &err), 0);
	cr_expect(policy_of(NULL).chap_required);
	cr_expect(strstr(logbuf, "discovery logins will fail"), "%s", logbuf);

	cr_assert_eq(core_discovery_auth_set(CORE_DISC_AUTH_NONE, &err), 0);
	cr_expect_not(policy_of(NULL).chap_required);
	cr_expect_eq(core_discovery_auth_set((enum core_disc_auth)7, &err), -EINVAL);
}

/* Security-critical: an account authenticates only where it is bound. */
Test(auth, incoming_only_where_bound)
{
	uint8_t s[CORE_SECRET_MAX];
	int n;

	add("alice", SECRET_ALICE);
	add("bob", SECRET_BOB);
	bind_ok(IQN_A, "alice", false);
	bind_ok(IQN_B, "bob", false);

	n = incoming(IQN_A, "alice", s, sizeof(s));
	cr_assert_eq(n, (int)strlen(SECRET_ALICE));
	cr_expect_arr_eq(s, SECRET_ALICE, (size_t)n);
	cr_expect_eq(incoming(IQN_B, "alice", s, sizeof(s)), -ENOENT,
		     "alice, bound to A, authenticates to B");
	cr_expect_eq(incoming(IQN_A, "bob", s, sizeof(s)), -ENOENT,
		     "bob, bound to B, authenticates to A");
	cr_expect_eq(incoming(NULL, "alice", s, sizeof(s)), -ENOENT,
		     "alice, bound to A, authenticates to discovery");
	cr_expect_eq(incoming(IQN_A, "nobody", s, sizeof(s)), -ENOENT);
	cr_expect_eq(incoming(IQN_A, NULL, s, sizeof(s)), -ENOENT);
	cr_expect_eq(incoming(IQN_A, "ALICE", s, sizeof(s)), -ENOENT,
		     "CHAP_N compared without case");
	cr_expect_eq(incoming(IQN_A, "alice", s, 4), -ENOSPC,
		     "a secret longer than the buffer was copied");

	bind_ok(NULL, "bob", false);
	n = incoming(NULL, "bob", s, sizeof(s));
	cr_assert_eq(n, (int)strlen(SECRET_BOB));
	cr_expect_arr_eq(s, SECRET_BOB, (size_t)n);

	cr_assert_eq(core_account_unbind(IQN_A, "alice", false, &err), 0);
	cr_expect_eq(incoming(IQN_A, "alice", s, sizeof(s)), -ENOENT,
		     "an unbound account still authenticates");
	/* An outgoing account is no incoming one. */
	add("tgt", SECRET_TGT);
	bind_ok(IQN_A, "tgt", true);
	cr_expect_eq(incoming(IQN_A, "tgt", s, sizeof(s)), -ENOENT);
}

Test(auth, outgoing)
{
	struct tgt_target *a = core_target_find(IQN_A);
	uint8_t s[CORE_SECRET_MAX];
	char user[CORE_ACCOUNT_NAME_MAX + 1];
	int n;

	cr_assert_not_null(a);
	cr_expect_eq(core_auth_outgoing(a, user, sizeof(user), s, sizeof(s)),
		     -ENOENT);
	add("tgt", SECRET_TGT);
	add("disc-out", SECRET_BOB);
	bind_ok(IQN_A, "tgt", true);
	bind_ok(NULL, "disc-out", true);
	n = core_auth_outgoing(a, user, sizeof(user), s, sizeof(s));
	cr_assert_eq(n, (int)strlen(SECRET_TGT));
	cr_expect_str_eq(user, "tgt");
	cr_expect_arr_eq(s, SECRET_TGT, (size_t)n);
	n = core_auth_outgoing(NULL, user, sizeof(user), s, sizeof(s));
	cr_assert_eq(n, (int)strlen(SECRET_BOB));
	cr_expect_str_eq(user, "disc-out");
	cr_expect_arr_eq(s, SECRET_BOB, (size_t)n);
	core_target_put(a);
	a = core_target_find(IQN_B);
	cr_expect_eq(core_auth_outgoing(a, user, sizeof(user), s, sizeof(s)),
		     -ENOENT, "A's outgoing account answers for B");
	core_target_put(a);
}

Test(auth, secrets_stay_inside)
{
	json_object *o;
	const char *text;

	add("alice", SECRET_ALICE);
	add("tgt", SECRET_TGT);
	bind_ok(IQN_A, "alice", false);
	bind_ok(IQN_A, "tgt", true);
	bind_ok(NULL, "alice", false);
	cr_assert_eq(core_discovery_auth_set(CORE_DISC_AUTH_CHAP, &err), 0);
	/* Failures that know the account: their sentences carry no secret. */
	cr_expect_eq(core_account_add("alice", SECRET_ALICE, &err), -EEXIST);
	cr_expect_null(strstr(err.msg, SECRET_ALICE), "%s", err.msg);
	cr_expect_eq(core_account_remove("alice", false, &err), -EBUSY);
	cr_expect_null(strstr(err.msg, SECRET_ALICE), "%s", err.msg);
	cr_expect_eq(core_account_bind(IQN_A, "tgt", false, &err), -EINVAL);
	cr_expect_null(strstr(err.msg, SECRET_TGT), "%s", err.msg);

	o = core_accounts_json(false);
	text = json_object_to_json_string(o);
	cr_expect_null(strstr(text, SECRET_ALICE), "%s", text);
	cr_expect_null(strstr(text, SECRET_TGT), "%s", text);
	cr_expect_null(strstr(text, "\"secret\""), "%s", text);
	json_object_put(o);

	o = core_targets_json();
	text = json_object_to_json_string(o);
	cr_expect_null(strstr(text, SECRET_ALICE), "%s", text);
	cr_expect_null(strstr(text, SECRET_TGT), "%s", text);
	json_object_put(o);

	/* Asked for: the secrets are there, each with its account. */
	o = core_accounts_json(true);
	json_object *accs = jget(o, "accounts");

	cr_assert_eq(json_object_array_length(accs), 2);
	cr_expect_str_eq(json_object_get_string(jget(
		json_object_array_get_idx(accs, 0), "secret")), SECRET_ALICE);
	cr_expect_str_eq(json_object_get_string(jget(
		json_object_array_get_idx(accs, 1), "secret")), SECRET_TGT);
	json_object_put(o);

	cr_expect_eq(core_account_remove("alice", true, &err), 0);
	cr_expect_eq(core_account_remove("tgt", true, &err), 0);
	cr_expect(strstr(logbuf, "alice"), "the log saw nothing: %s", logbuf);
	cr_expect_null(strstr(logbuf, SECRET_ALICE), "%s", logbuf);
	cr_expect_null(strstr(logbuf, SECRET_TGT), "%s", logbuf);
}

Test(auth, accounts_json_shape)
{
	json_object *o, *accs, *a, *d;

	add("alice", SECRET_ALICE);
	add("tgt", SECRET_TGT);
	add("disc-out", SECRET_BOB);
	bind_ok(IQN_A, "alice", false);
	bind_ok(IQN_B, "alice", false);
	bind_ok(IQN_B, "tgt", true);
	bind_ok(NULL, "disc-out", true);
	bind_ok(NULL, "alice", false);
	cr_assert_eq(core_discovery_auth_set(CORE_DISC_AUTH_MUTUAL, &err), 0);

	o = core_accounts_json(false);
	accs = jget(o, "accounts");
	cr_assert_eq(json_object_array_length(accs), 3);
	a = json_object_array_get_idx(accs, 0);
	cr_expect_str_eq(json_object_get_string(jget(a, "name")), "alice");
	cr_expect_str_eq(json_object_to_json_string_ext(jget(a, "incoming"),
			 JSON_C_TO_STRING_PLAIN),
			 "[\"" IQN_A "\",\"" IQN_B "\"]");
	cr_expect_eq(json_object_array_length(jget(a, "outgoing")), 0);
	cr_expect_str_eq(json_object_get_string(jget(a, "discovery")), "incoming");
	a = json_object_array_get_idx(accs, 1);
	cr_expect_str_eq(json_object_to_json_string_ext(jget(a, "outgoing"),
			 JSON_C_TO_STRING_PLAIN), "[\"" IQN_B "\"]");
	cr_expect_null(jget(a, "discovery"));
	a = json_object_array_get_idx(accs, 2);
	cr_expect_str_eq(json_object_get_string(jget(a, "discovery")), "outgoing");
	d = jget(o, "discovery");
	cr_expect_str_eq(json_object_get_string(jget(d, "auth")), "mutual");
	cr_expect_str_eq(json_object_to_json_string_ext(jget(d, "incoming"),
			 JSON_C_TO_STRING_PLAIN), "[\"alice\"]");
	cr_expect_str_eq(json_object_get_string(jget(d, "outgoing")), "disc-out");
	json_object_put(o);

	o = core_targets_json();
	a = target_json(o, IQN_B);
	cr_expect_str_eq(json_object_to_json_string_ext(jget(a,
			 "incoming_accounts"), JSON_C_TO_STRING_PLAIN),
			 "[\"alice\"]");
	cr_expect_str_eq(json_object_get_string(jget(a, "outgoing_account")), "tgt");
	cr_expect_str_eq(json_object_get_string(jget(a, "chap_algorithms")),
			 "MD5,SHA1,SHA256,SHA3-256");
	a = target_json(o, IQN_A);
	cr_expect_null(jget(a, "outgoing_account"));
	json_object_put(o);
}

Test(auth, short_secret_warns)
{
	/* 11 bytes: one short of RFC 7143 §12.1.3's 12. */
	cr_assert_eq(core_account_add("short", "0123456789a", &err), 0, "%s",
		     err.msg);
	cr_expect(strstr(err.msg, "shorter than 12"), "no warning: '%s'", err.msg);
	cr_expect_null(strstr(err.msg, "0123456789a"), "%s", err.msg);
	cr_expect(strstr(logbuf, "<1>"), "no warning logged: %s", logbuf);
	cr_expect(strstr(logbuf, "short"), "%s", logbuf);
	cr_expect_null(strstr(logbuf, "0123456789a"), "%s", logbuf);

	/* Exactly 12: no warning, and a stale sentence is cleared. */
	logbuf[0] = '\0';
	cr_assert_eq(core_account_add("exact", "0123456789ab", &err), 0);
	cr_expect_str_eq(err.msg, "");
	cr_expect_null(strstr(logbuf, "<1>"), "%s", logbuf);

	/* The short account works like any other. */
	uint8_t s[CORE_SECRET_MAX];

	bind_ok(IQN_A, "short", false);
	cr_expect_eq(incoming(IQN_A, "short", s, sizeof(s)), 11);
}

struct alg_case {
	char list[32];
	int rc;
	unsigned bits;
};

ParameterizedTestParameters(auth, algs_parse)
{
	static struct alg_case v[] = {
		{ "MD5,SHA1,SHA256,SHA3-256", 0, CORE_CHAP_ALL },
		{ "md5", 0, CORE_CHAP_MD5 },
		{ "SHA-1", 0, CORE_CHAP_SHA1 },
		{ "sha1", 0, CORE_CHAP_SHA1 },
		{ "Sha-256 sha3-256", 0, CORE_CHAP_SHA256 | CORE_CHAP_SHA3_256 },
		{ "SHA256,,  MD5,", 0, CORE_CHAP_SHA256 | CORE_CHAP_MD5 },
		{ "SHA3-256,SHA3-256", 0, CORE_CHAP_SHA3_256 },
		{ "", -EINVAL, 0 },
		{ " , ", -EINVAL, 0 },
		{ "SHA512", -EINVAL, 0 },
		{ "MD5,SHA3", -EINVAL, 0 },
		{ "SHA", -EINVAL, 0 },
		{ "MD5x", -EINVAL, 0 },
		{ "5", -EINVAL, 0 },
	};

	return cr_make_param_array(struct alg_case, v, sizeof(v) / sizeof(v[0]));
}

ParameterizedTest(struct alg_case *c, auth, algs_parse)
{
	char why[128] = "";
	unsigned bits = 0xdead;

	cr_expect_eq(core_chap_algs_parse(c->list, &bits, why, sizeof(why)),
		     c->rc, "'%s': %s", c->list, why);
	if (c->rc == 0)
		cr_expect_eq(bits, c->bits, "'%s' gave %#x", c->list, bits);
	else
		cr_expect_neq(why[0], '\0', "'%s': no sentence", c->list);
}

Test(auth, algs_format)
{
	char buf[64];
	unsigned bits;

	core_chap_algs_format(CORE_CHAP_ALL, buf, sizeof(buf));
	cr_expect_str_eq(buf, "MD5,SHA1,SHA256,SHA3-256");
	core_chap_algs_format(CORE_CHAP_SHA3_256 | CORE_CHAP_SHA1, buf, sizeof(buf));
	cr_expect_str_eq(buf, "SHA1,SHA3-256");
	core_chap_algs_format(CORE_CHAP_BIT(7), buf, sizeof(buf));
	cr_expect_str_eq(buf, "SHA256");
	core_chap_algs_format(0, buf, sizeof(buf));
	cr_expect_str_eq(buf, "");
	/* Every set survives a round trip. */
	for (unsigned b = 1; b <= CORE_CHAP_ALL; b++) {
		core_chap_algs_format(b, buf, sizeof(buf));
		cr_assert_eq(core_chap_algs_parse(buf, &bits, NULL, 0), 0, "%s", buf);
		cr_expect_eq(bits, b, "%#x -> '%s' -> %#x", b, buf, bits);
	}
	/* A short buffer is cut, never overrun. */
	memset(buf, 'x', sizeof(buf));
	core_chap_algs_format(CORE_CHAP_ALL, buf, 6);
	cr_expect_str_eq(buf, "MD5,S");
	cr_expect_eq(buf[6], 'x');
}
