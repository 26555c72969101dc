/*
 * test_acl_conn.c - issue 12, in process (inproc.h) over the raw
 * initiator, on both event loops:
 *
 *  - ACLs with real logins from two source addresses (127.0.0.2 and
 *    127.0.0.3) and two initiator names. tgt 1.0.85 admits an initiator
 *    when its address matches an address rule or its name matches a name
 *    rule (usr/iscsi/iscsid.c login_start: refused only when ip_acl and
 *    iqn_acl both fail; seen so on a real tgtd), and lists a target in
 *    SendTargets to the same initiators (usr/iscsi/target.c
 *    target_list_build). ringtgt does the same; a refused login gets
 *    0x0202, authorization failure (RFC 7143 §11.13.5: "the initiator is
 *    not allowed access to the given target"); a target without rules
 *    admits nobody.
 *  - Closing one connection (core_connection_close: what control's
 *    connection.close and `tgtadm --op delete --mode conn` ask for): the
 *    initiator sees its connection closed, also with a WRITE waiting for
 *    its data; the target's other session goes on; the same initiator
 *    logs in again. Unknown sessions and connections are -ENOENT.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "core/core.h"
#include "inproc.h"
#include "iscsi/iscsi.h"

#define ST_FORBIDDEN 0x0202		/* RFC 7143 §11.13.5 */
#define ACL_IQN "iqn.2024-01.org.ringtgt:acl"
#define NAMED "iqn.2024-01.org.ringtgt:named"
#define STRANGER "iqn.2024-01.org.ringtgt:stranger"

static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };

static void ok(int rc, const struct core_err *err)
{
	cr_assert_eq(rc, 0, "%s", err->msg);
}

/* A login to @target (NULL: discovery) from @src as @name: its status. */
static int login_from(struct ri *ri, const char *src, const char *target,
		      const char *name)
{
	cr_assert_eq(ri_connect_from(ri, inproc.port, src), 0);
	return ri_login(ri, target, name);
}

/* Whether SendTargets from @src as @name lists ACL_IQN. */
static bool listed(const char *src, const char *name)
{
	char text[4096];
	struct ri ri;
	bool seen;

	cr_assert_eq(login_from(&ri, src, NULL, name), 0,
		     "discovery from %s as %s", src, name);
	cr_assert_eq(ri_send_targets(&ri, text, sizeof(text)), 0,
		     "no SendTargets answer");
	/* the inproc target is open to all: the answer is never empty */
	cr_assert(strstr(text, "TargetName=" INPROC_IQN), "%s", text);
	seen = strstr(text, "TargetName=" ACL_IQN) != NULL;
	ri_close(&ri);
	return seen;
}

struct acl_case {
	const char *rules[2];		/* ACL_IQN's rules; NULL ends */
	bool admit[2][2];		/* [127.0.0.2, .3][NAMED, STRANGER] */
};

/*
 * The decision table with real logins: each rule set × source address ×
 * initiator name, the login's status and SendTargets agreeing.
 */
static void acl_table(enum ev_kind kind)
{
	static const struct acl_case cases[] = {
		/* an address and a name: either admits (tgt 1.0.85) */
		{ { "127.0.0.2", NAMED }, { { true, true }, { true, false } } },
		/* a network */
		{ { "127.0.0.2/32" }, { { true, true }, { false, false } } },
		/* a name alone: only that name, from anywhere */
		{ { NAMED }, { { true, false }, { true, false } } },
		/* ALL and a name: everybody, as tgt with -I ALL -Q NAME */
		{ { "ALL", NAMED }, { { true, true }, { true, true } } },
		/* no rule: nobody */
		{ { NULL }, { { false, false }, { false, false } } },
	};
	static const char *const srcs[2] = { "127.0.0.2", "127.0.0.3" };
	static const char *const names[2] = { NAMED, STRANGER };
	struct core_lun_spec ram = { .type = SCSI_LU_DISK, .backing = "ram",
				     .size = 1 << 20 };
	struct core_err err = { "" };

	inproc_up(kind, 0, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct acl_case *c = &cases[i];

		ok(core_target_add(ACL_IQN, 0, NULL, &err), &err);
		ok(core_lun_add(ACL_IQN, 1, &ram, &err), &err);
		for (int r = 0; r < 2 && c->rules[r]; r++)
			ok(core_acl_add(ACL_IQN, c->rules[r], &err), &err);
		for (int s = 0; s < 2; s++) {
			for (int n = 0; n < 2; n++) {
				struct ri ri;
				int st = login_from(&ri, srcs[s], ACL_IQN,
						    names[n]);

				ri_close(&ri);
				cr_expect_eq(st, c->admit[s][n] ? 0 : ST_FORBIDDEN,
					     "rules %s %s, login from %s as %s: "
					     "status 0x%04x",
					     c->rules[0] ? c->rules[0] : "(none)",
					     c->rules[1] ? c->rules[1] : "",
					     srcs[s], names[n], (unsigned)st);
				cr_expect_eq(listed(srcs[s], names[n]),
					     c->admit[s][n],
					     "rules %s %s: SendTargets from %s "
					     "as %s disagrees with the login",
					     c->rules[0] ? c->rules[0] : "(none)",
					     c->rules[1] ? c->rules[1] : "",
					     srcs[s], names[n]);
			}
		}
		ok(core_target_remove(ACL_IQN, true, &err), &err);
	}
}

ParameterizedTestParameters(acl, logins)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, acl, logins, .fini = inproc_down,
		  .timeout = 120)
{
	acl_table(*kind);
}

/* One TEST UNIT READY on @d's session: its SAM status (-1: none in 5 s). */
static int tur(struct ri_dg *d)
{
	const uint8_t cdb[6] = { 0 };
	struct ri_result res = { .status = -1 };
	uint8_t bhs[BHS_LEN];
	uint32_t itt;

	ri_build_scsi_cmd(&d->ri, bhs, 1, cdb, sizeof(cdb), 0, 0);
	itt = get_be32(bhs + BHS_ITT);
	if (ri_dg_send(d, bhs, NULL, 0, 0))
		return -1;
	if (ri_dg_wait_cmd(d, itt, NULL, 0, &res, 5000, NULL))
		return -1;
	return res.status;
}

/* Reads until the target closes @ri's connection: true within 5 s. */
static bool sees_close(struct ri *ri)
{
	struct ri_pdu p;
	uint64_t end = ri_now_ms() + 5000;

	while (ri_now_ms() < end) {
		int rc = ri_recv(ri, &p, 500);

		if (rc == -EPIPE || rc == -ECONNRESET)
			return true;
		if (rc && rc != -ETIMEDOUT)
			return false;
	}
	return false;
}

ParameterizedTestParameters(conn, close)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, conn, close, .fini = inproc_down,
		  .timeout = 60)
{
	struct core_err err = { "" };
	struct ri_dg victim, other, again;
	uint8_t w10[10];
	uint32_t itt;

	inproc_up(*kind, 0, 0);
	inproc_login(&victim, false, false);
	inproc_login(&other, false, false);
	cr_assert_neq(victim.ri.tsih, other.ri.tsih);

	/* the refusals first: nothing closes */
	cr_expect_eq(core_connection_close(INPROC_IQN, victim.ri.tsih, 1, &err),
		     -ENOENT, "a CID the session does not have");
	cr_expect(strstr(err.msg, "no connection 1"), "%s", err.msg);
	cr_expect_eq(core_connection_close(INPROC_IQN, 0xfff0, 0, &err),
		     -ENOENT, "a TSIH no session has");
	cr_expect(strstr(err.msg, "no session"), "%s", err.msg);
	cr_expect_eq(core_connection_close("iqn.2024-01.org.ringtgt:none",
					   victim.ri.tsih, 0, &err), -ENOENT);
	cr_expect(strstr(err.msg, "no target"), "%s", err.msg);
	cr_assert_eq(tur(&victim), 0, "the session after refused closes");

	/*
	 * A WRITE of 8 blocks without immediate data waits for its Data-Out
	 * (an R2T is out): the connection closes under that task.
	 */
	ri_cdb_rw10(w10, true, 16, 8);
	itt = ri_scsi_cmd(&victim.ri, 1, w10, sizeof(w10), CMD_W,
			  8 * INPROC_BLK, NULL, 0, NULL);
	(void)itt;
	ok(core_connection_close(INPROC_IQN, victim.ri.tsih, 0, &err), &err);
	cr_expect(sees_close(&victim.ri),
		  "the initiator did not see its connection closed");
	ri_close(&victim.ri);

	cr_expect_eq(tur(&other), 0, "the target's other session after the close");
	cr_expect_eq(core_connection_close(INPROC_IQN, victim.ri.tsih, 0, &err),
		     -ENOENT, "the closed session is gone");
	inproc_login(&again, false, false);
	cr_expect_eq(tur(&again), 0, "a new login after the close");
	cr_expect_eq(tur(&other), 0);
	ri_close(&again.ri);
	ri_close(&other.ri);
}
