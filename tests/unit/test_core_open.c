/*
 * test_core_open.c - core_targets_open(): the targets the daemon warns
 * about at start when a portal other hosts can reach serves them (issue
 * 9, item 5): an ALL rule in the ACL and no CHAP required. A target
 * restricted by address or name, or with an incoming account bound, is
 * not open; an outgoing account alone does not make CHAP required.
 * Criterion forks per test, so each test starts with an empty registry.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

#define PFX "iqn.2026-11.org.ringtgt:"

static struct core_err err;

static void setup(void)
{
	memset(&err, 0, sizeof(err));
	core_init();
}

static void teardown(void)
{
	core_shutdown();
}

TestSuite(core_open, .init = setup, .fini = teardown);

/* The IQNs core_targets_open() reported, space-separated, in order. */
static char seen[1024];

static void collect(void *ctx, const char *iqn)
{
	size_t n = strlen(seen);

	cr_assert_eq(ctx, seen);
	snprintf(seen + n, sizeof(seen) - n, "%s%s", n ? " " : "", iqn);
}

static void target(const char *name, const char *rule1, const char *rule2)
{
	char iqn[128];

	snprintf(iqn, sizeof(iqn), PFX "%s", name);
	cr_assert_eq(core_target_add(iqn, 0, NULL, &err), 0, "%s", err.msg);
	if (rule1)
		cr_assert_eq(core_acl_add(iqn, rule1, &err), 0, "%s", err.msg);
	if (rule2)
		cr_assert_eq(core_acl_add(iqn, rule2, &err), 0, "%s", err.msg);
}

Test(core_open, all_without_chap)
{
	target("open", "ALL", NULL);
	target("mixed", "10.0.0.0/8", "ALL");	/* ALL anywhere in the ACL */
	target("net", "10.0.0.0/8", "::1");
	target("name", "iqn.1993-08.org.debian:01:host", NULL);
	target("none", NULL, NULL);		/* admits nobody */

	seen[0] = '\0';
	core_targets_open(collect, seen);
	cr_expect_str_eq(seen, PFX "open " PFX "mixed");
}

Test(core_open, incoming_account_closes_it)
{
	target("chap", "ALL", NULL);
	target("mutual-only", "ALL", NULL);
	target("plain", "ALL", NULL);
	cr_assert_eq(core_account_add("alice", "alice-secret-16b", &err), 0,
		     "%s", err.msg);
	cr_assert_eq(core_account_add("tgt", "target-secret-16", &err), 0,
		     "%s", err.msg);
	cr_assert_eq(core_account_bind(PFX "chap", "alice", false, &err), 0,
		     "%s", err.msg);
	/* an outgoing account alone: anybody still logs in without CHAP */
	cr_assert_eq(core_account_bind(PFX "mutual-only", "tgt", true, &err), 0,
		     "%s", err.msg);

	seen[0] = '\0';
	core_targets_open(collect, seen);
	cr_expect_str_eq(seen, PFX "mutual-only " PFX "plain");

	/* unbound again: open again */
	cr_assert_eq(core_account_unbind(PFX "chap", "alice", false, &err), 0,
		     "%s", err.msg);
	seen[0] = '\0';
	core_targets_open(collect, seen);
	cr_expect_str_eq(seen, PFX "chap " PFX "mutual-only " PFX "plain");
}

/* Discovery authentication does not protect a target's logins. */
Test(core_open, discovery_chap_does_not_close_it)
{
	target("open", "ALL", NULL);
	cr_assert_eq(core_account_add("disc", "discovery-secret", &err), 0,
		     "%s", err.msg);
	cr_assert_eq(core_account_bind(NULL, "disc", false, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(core_discovery_auth_set(CORE_DISC_AUTH_CHAP, &err), 0,
		     "%s", err.msg);

	seen[0] = '\0';
	core_targets_open(collect, seen);
	cr_expect_str_eq(seen, PFX "open");
}
