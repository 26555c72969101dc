/*
 * test_core_acl.c - ACL rule parsing and matching, iSCSI name checks.
 * Tables of (rule, initiator, peer, expected) run through the pure
 * functions in core_internal.h and through a registered target.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

#include "core/core.h"
#include "core/core_internal.h"

#define INIT_A "iqn.1993-08.org.debian:01:aaaa"
#define INIT_B "iqn.1993-08.org.debian:01:bbbb"

/*
 * Criterion re-executes the test binary for each test and copies the
 * parameters over, so pointers into .rodata would dangle: strings live
 * inside the structs. "" stands for NULL.
 */
struct acl_case {
	char rule[64];
	char initiator[64];
	char peer[48];		/* address literal, "" for no address */
	bool expect;
};

static const char *nz(const char *s)
{
	return s[0] ? s : NULL;
}

static socklen_t make_peer(const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return sizeof(struct sockaddr_in);
	}
	cr_assert_eq(inet_pton(AF_INET6, s,
			       &((struct sockaddr_in6 *)ss)->sin6_addr), 1,
		     "bad test address %s", s);
	ss->ss_family = AF_INET6;
	return sizeof(struct sockaddr_in6);
}

ParameterizedTestParameters(acl, match)
{
	static struct acl_case cases[] = {
		{ "ALL", INIT_A, "192.0.2.1", true },
		{ "all", "", "", true },
		{ "ALL", INIT_A, "2001:db8::1", true },
		/* IPv4 address and CIDR */
		{ "192.0.2.1", INIT_A, "192.0.2.1", true },
		{ "192.0.2.1", INIT_A, "192.0.2.2", false },
		{ "192.0.2.0/24", INIT_A, "192.0.2.200", true },
		{ "192.0.2.0/24", INIT_A, "192.0.3.1", false },
		{ "10.0.0.0/8", INIT_A, "10.255.1.2", true },
		{ "10.0.0.0/8", INIT_A, "11.0.0.1", false },
		{ "0.0.0.0/0", INIT_A, "203.0.113.9", true },
		{ "0.0.0.0/0", INIT_A, "2001:db8::1", false },
		{ "172.16.0.0/12", INIT_A, "172.31.255.255", true },
		{ "172.16.0.0/12", INIT_A, "172.32.0.0", false },
		/* IPv4-mapped IPv6 peers match IPv4 rules */
		{ "192.0.2.1", INIT_A, "::ffff:192.0.2.1", true },
		{ "192.0.2.0/24", INIT_A, "::ffff:192.0.2.77", true },
		{ "192.0.2.0/24", INIT_A, "::ffff:198.51.100.1", false },
		/* an IPv4-mapped rule is the IPv4 rule */
		{ "::ffff:192.0.2.0/120", INIT_A, "192.0.2.5", true },
		{ "::ffff:192.0.2.1", INIT_A, "::ffff:192.0.2.1", true },
		/* IPv6 address and CIDR */
		{ "2001:db8::1", INIT_A, "2001:db8::1", true },
		{ "2001:db8::1", INIT_A, "2001:db8::2", false },
		{ "[2001:db8::1]", INIT_A, "2001:db8::1", true },
		{ "2001:db8::/32", INIT_A, "2001:db8:ffff::1", true },
		{ "2001:db8::/32", INIT_A, "2001:db9::1", false },
		{ "fe80::/10", INIT_A, "febf::1", true },
		{ "fe80::/10", INIT_A, "fec0::1", false },
		{ "::/0", INIT_A, "2001:db8::1", true },
		{ "::1", INIT_A, "127.0.0.1", false },
		{ "2001:db8::/32", INIT_A, "192.0.2.1", false },
		/* initiator names, case-insensitive */
		{ INIT_A, INIT_A, "192.0.2.1", true },
		{ INIT_A, "IQN.1993-08.ORG.DEBIAN:01:AAAA", "192.0.2.1", true },
		{ INIT_A, INIT_B, "192.0.2.1", false },
		{ INIT_A, "", "192.0.2.1", false },
		{ "eui.0123456789abcdef", "eui.0123456789ABCDEF", "", true },
		/* address rules need an address */
		{ "192.0.2.1", INIT_A, "", false },
	};

	return cr_make_param_array(struct acl_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct acl_case *c, acl, match)
{
	struct sockaddr_storage ss;
	struct core_acl a;
	char why[256] = "";

	cr_assert_eq(core_acl_parse(c->rule, &a, why, sizeof(why)), 0,
		     "rule %s: %s", c->rule, why);
	if (nz(c->peer))
		make_peer(c->peer, &ss);
	cr_expect_eq(core_acl_match(&a, nz(c->initiator),
				    nz(c->peer) ? (struct sockaddr *)&ss : NULL),
		     c->expect, "rule %s, initiator %s, peer %s: expected %d",
		     c->rule, nz(c->initiator) ? c->initiator : "(none)",
		     nz(c->peer) ? c->peer : "(none)", c->expect);
}

struct canon_case {
	char rule[64];
	char text[64];
	enum core_acl_kind kind;
	unsigned prefix;
};

ParameterizedTestParameters(acl, canonical)
{
	static struct canon_case cases[] = {
		{ "all", "ALL", CORE_ACL_ALL, 0 },
		{ "10.0.0.1", "10.0.0.1", CORE_ACL_NET4, 32 },
		{ "10.0.0.1/32", "10.0.0.1", CORE_ACL_NET4, 32 },
		{ "10.0.0.0/8", "10.0.0.0/8", CORE_ACL_NET4, 8 },
		{ "2001:0db8:0000::0001", "2001:db8::1", CORE_ACL_NET6, 128 },
		{ "[2001:db8::]/48", "2001:db8::/48", CORE_ACL_NET6, 48 },
		{ "::ffff:10.0.0.0/104", "10.0.0.0/8", CORE_ACL_NET4, 8 },
		{ "IQN.2026-11.Org.Example:Host", "iqn.2026-11.org.example:host",
		  CORE_ACL_NAME, 0 },
	};

	return cr_make_param_array(struct canon_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct canon_case *c, acl, canonical)
{
	struct core_acl a;
	char why[256] = "";

	cr_assert_eq(core_acl_parse(c->rule, &a, why, sizeof(why)), 0, "%s", why);
	cr_expect_str_eq(a.text, c->text);
	cr_expect_eq(a.kind, c->kind);
	cr_expect_eq(a.prefix, c->prefix);
}

struct bad_case {
	char rule[64];
	char why_has[64];	/* a phrase the message must contain */
};

ParameterizedTestParameters(acl, bad)
{
	static struct bad_case cases[] = {
		{ "", "empty" },
		{ "10.0.0.1/33", "prefix" },
		{ "10.0.0.0/-1", "prefix" },
		{ "10.0.0.0/", "prefix" },
		{ "2001:db8::/129", "prefix" },
		{ "10.1.0.0/8", "did you mean 10.0.0.0/8" },
		{ "2001:db8::1/32", "did you mean 2001:db8::/32" },
		{ "300.1.1.1", "bad ACL rule" },
		{ "host.example.com", "bad ACL rule" },
		{ "iqn.bad", "iqn.YYYY-MM" },
		{ "eui.123", "16 hex" },
		{ "10.0.0.1 ", "bad ACL rule" },
		{ "fe80::1%eth0", "bad ACL rule" },
	};

	return cr_make_param_array(struct bad_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_case *c, acl, bad)
{
	struct core_acl a;
	char why[256] = "";

	cr_assert_eq(core_acl_parse(c->rule, &a, why, sizeof(why)), -EINVAL,
		     "rule '%s' was accepted", c->rule);
	cr_expect(strstr(why, c->why_has) != NULL, "rule '%s': message '%s'",
		  c->rule, why);
}

struct name_case {
	char name[64];
	int rc;
};

ParameterizedTestParameters(names, check)
{
	static struct name_case cases[] = {
		{ "iqn.2026-11.org.ringtgt:demo", 0 },
		{ "iqn.2026-11.org.ringtgt", 0 },
		{ "iqn.1993-08.org.debian:01:abc123", 0 },
		{ "eui.02004567A425678D", 0 },
		{ "naa.52004567BA64678D", 0 },
		{ "naa.62004567BA64678D0123456789ABCDEF", 0 },
		{ "iqn.2026-13.org.x", -EINVAL },
		{ "iqn.26-11.org.x", -EINVAL },
		{ "iqn.2026-11.", -EINVAL },
		{ "iqn.2026-11.:x", -EINVAL },
		{ "iqn.2026-11.org.x:has space", -EINVAL },
		{ "eui.02004567A425678", -EINVAL },
		{ "naa.1234", -EINVAL },
		{ "target1", -EINVAL },
		{ "", -EINVAL },
	};

	return cr_make_param_array(struct name_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct name_case *c, names, check)
{
	char why[256] = "";

	cr_expect_eq(core_name_check(c->name, why, sizeof(why)), c->rc,
		     "'%s': %s", c->name, why);
	if (c->rc)
		cr_expect_neq(why[0], '\0');
}

Test(names, too_long)
{
	char name[300];
	char why[256];

	memset(name, 'a', sizeof(name));
	memcpy(name, "iqn.2026-11.org.x:", 18);
	name[CORE_NAME_MAX] = '\0';
	cr_expect_eq(core_name_check(name, why, sizeof(why)), 0, "%s", why);
	name[CORE_NAME_MAX] = 'a';
	name[CORE_NAME_MAX + 1] = '\0';
	cr_expect_eq(core_name_check(name, why, sizeof(why)), -EINVAL);
	cr_expect(strstr(why, "224 bytes") != NULL, "%s", why);
}

/* The same rules through a registered target. */
Test(acl, target_rules)
{
	const char *iqn = "iqn.2026-11.org.ringtgt:acl";
	struct sockaddr_storage ss;
	struct core_err err = { { 0 } };
	struct tgt_target *t;

	core_init();
	cr_assert_eq(core_target_add(iqn, 0, NULL, &err), 0, "%s", err.msg);
	t = core_target_find(iqn);
	cr_assert_not_null(t);
	make_peer("192.0.2.1", &ss);
	/* No rule: nobody. */
	cr_expect_not(core_target_allows(t, INIT_A, (struct sockaddr *)&ss));
	cr_assert_eq(core_acl_add(iqn, "192.0.2.0/24", &err), 0, "%s", err.msg);
	cr_assert_eq(core_acl_add(iqn, INIT_B, &err), 0, "%s", err.msg);
	cr_expect(core_target_allows(t, INIT_A, (struct sockaddr *)&ss));
	make_peer("::ffff:192.0.2.9", &ss);
	cr_expect(core_target_allows(t, INIT_A, (struct sockaddr *)&ss));
	make_peer("198.51.100.1", &ss);
	cr_expect_not(core_target_allows(t, INIT_A, (struct sockaddr *)&ss));
	cr_expect(core_target_allows(t, INIT_B, (struct sockaddr *)&ss));

	/* Duplicates compare canonical forms. */
	cr_expect_eq(core_acl_add(iqn, "192.0.2.0/24", &err), -EEXIST);
	cr_expect(strstr(err.msg, "already has ACL rule 192.0.2.0/24"), "%s", err.msg);
	cr_expect_eq(core_acl_add(iqn, "::ffff:192.0.2.0/120", &err), -EEXIST);
	cr_expect_eq(core_acl_remove(iqn, "10.0.0.0/8", &err), -ENOENT);
	cr_expect(strstr(err.msg, "has no ACL rule 10.0.0.0/8"), "%s", err.msg);
	cr_expect_eq(core_acl_remove(iqn, INIT_B, &err), 0, "%s", err.msg);
	cr_expect_not(core_target_allows(t, INIT_B, (struct sockaddr *)&ss));
	cr_expect_eq(core_acl_add("iqn.2026-11.org.ringtgt:none", "ALL", &err),
		     -ENOENT);
	cr_expect_eq(core_acl_add(iqn, "nonsense", &err), -EINVAL);
	core_target_put(t);
	core_shutdown();
}

struct vis_ctx {
	char names[4][CORE_NAME_MAX + 1];
	int n;
};

static void collect(void *ctx, const char *iqn)
{
	struct vis_ctx *v = ctx;

	if (v->n < 4)
		strcpy(v->names[v->n], iqn);
	v->n++;
}

Test(acl, visible_targets_in_tid_order)
{
	struct core_err err = { { 0 } };
	struct sockaddr_storage ss;
	struct vis_ctx v = { .n = 0 };

	core_init();
	cr_assert_eq(core_target_add("iqn.2026-11.org.ringtgt:c", 3, NULL, &err), 0);
	cr_assert_eq(core_target_add("iqn.2026-11.org.ringtgt:a", 1, NULL, &err), 0);
	cr_assert_eq(core_target_add("iqn.2026-11.org.ringtgt:b", 2, NULL, &err), 0);
	cr_assert_eq(core_acl_add("iqn.2026-11.org.ringtgt:a", "ALL", &err), 0);
	cr_assert_eq(core_acl_add("iqn.2026-11.org.ringtgt:b", "10.0.0.0/8", &err), 0);
	cr_assert_eq(core_acl_add("iqn.2026-11.org.ringtgt:c", INIT_A, &err), 0);

	make_peer("10.1.1.1", &ss);
	core_targets_visible(INIT_A, (struct sockaddr *)&ss, collect, &v);
	cr_assert_eq(v.n, 3);
	cr_expect_str_eq(v.names[0], "iqn.2026-11.org.ringtgt:a");
	cr_expect_str_eq(v.names[1], "iqn.2026-11.org.ringtgt:b");
	cr_expect_str_eq(v.names[2], "iqn.2026-11.org.ringtgt:c");

	v.n = 0;
	make_peer("192.0.2.1", &ss);
	core_targets_visible(INIT_B, (struct sockaddr *)&ss, collect, &v);
	cr_assert_eq(v.n, 1);
	cr_expect_str_eq(v.names[0], "iqn.2026-11.org.ringtgt:a");
	core_shutdown();
}

/*
 * A target's decision over its whole rule set, as tgt 1.0.85 makes it
 * (usr/iscsi/iscsid.c login_start refuses only when ip_acl() and
 * iqn_acl() both fail; observed so on a real tgtd): admitted when the
 * address matches an address rule (ALL matches any) or the name matches a
 * name rule; no rule of a kind means that kind matches nothing.
 * Initiator INIT_A from 192.0.2.1 or 198.51.100.1, or INIT_B.
 */
struct decision_case {
	char rules[3][64];		/* "" ends */
	bool admit[2][2];		/* [192.0.2.1, 198.51.100.1][A, B] */
};

ParameterizedTestParameters(acl, decision)
{
	static struct decision_case c[] = {
		{ { "" }, { { false, false }, { false, false } } },
		{ { "192.0.2.1" }, { { true, true }, { false, false } } },
		{ { "192.0.2.0/24" }, { { true, true }, { false, false } } },
		{ { INIT_A }, { { true, false }, { true, false } } },
		{ { "192.0.2.1", INIT_A }, { { true, true }, { true, false } } },
		{ { INIT_A, "192.0.2.0/24" }, { { true, true }, { true, false } } },
		{ { "ALL" }, { { true, true }, { true, true } } },
		{ { "ALL", INIT_A }, { { true, true }, { true, true } } },
		{ { INIT_A, INIT_B }, { { true, true }, { true, true } } },
		{ { "198.51.100.0/24", INIT_B }, { { false, true }, { true, true } } },
		{ { "203.0.113.0/24", INIT_B }, { { false, true }, { false, true } } },
	};

	return cr_make_param_array(struct decision_case, c, sizeof(c) / sizeof(c[0]));
}

ParameterizedTest(struct decision_case *c, acl, decision)
{
	static const char *const peers[2] = { "192.0.2.1", "198.51.100.1" };
	static const char *const names[2] = { INIT_A, INIT_B };
	const char *iqn = "iqn.2026-11.org.ringtgt:decision";
	struct core_err err = { { 0 } };
	struct sockaddr_storage ss;
	struct tgt_target *t;

	core_init();
	cr_assert_eq(core_target_add(iqn, 0, NULL, &err), 0, "%s", err.msg);
	for (int i = 0; i < 3 && c->rules[i][0]; i++)
		cr_assert_eq(core_acl_add(iqn, c->rules[i], &err), 0, "%s",
			     err.msg);
	t = core_target_find(iqn);
	cr_assert_not_null(t);
	for (int p = 0; p < 2; p++) {
		make_peer(peers[p], &ss);
		for (int n = 0; n < 2; n++) {
			struct vis_ctx v = { .n = 0 };

			cr_expect_eq(core_target_allows(t, names[n],
							(struct sockaddr *)&ss),
				     c->admit[p][n],
				     "rules [%s, %s]: %s from %s", c->rules[0],
				     c->rules[1], names[n], peers[p]);
			/* SendTargets lists it to the same initiators */
			core_targets_visible(names[n], (struct sockaddr *)&ss,
					     collect, &v);
			cr_expect_eq(v.n, c->admit[p][n] ? 1 : 0,
				     "rules [%s, %s]: visible to %s from %s",
				     c->rules[0], c->rules[1], names[n],
				     peers[p]);
		}
	}
	core_target_put(t);
	core_shutdown();
}
