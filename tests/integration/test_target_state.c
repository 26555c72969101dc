/*
 * test_target_state.c - tgt's per-target state (issue 12), in process
 * (inproc.h) over the raw initiator, on both event loops. While the
 * target is offline (core_target_set_state, what `tgtadm --mode target
 * --op update --name state -v offline` asks for):
 *
 *  - a new login to it fails with status 0x0300, target error (RFC 7143
 *    §11.13.5: "the initiator may re-try the same Login Request later"),
 *    as tgt's iscsid.c answers;
 *  - a session logged in before keeps its connection; each of its
 *    commands ends with BUSY (SAM-5 §5.3.1) and is not executed: a WRITE
 *    leaves the store as it was (tgt drops such a command unanswered;
 *    docs/tgt-compat.md says why ringtgt answers instead).
 *
 * Once ready again, logins and commands are served as before.
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

#define LOGIN_TARGET_ERROR_STATUS 0x0300	/* RFC 7143 §11.13.5 */
#define SAM_BUSY 0x08				/* SAM-5 §5.3.1 */

static void down(void)
{
	inproc_down();
}

static void set_state(bool offline)
{
	struct core_err err = { "" };

	cr_assert_eq(core_target_set_state(INPROC_IQN, offline, &err), 0,
		     "%s", err.msg);
}

/* One command on @d's session: its SAM status (-1: no answer in 5 s). */
static int command(struct ri_dg *d, const uint8_t *cdb, int len, uint8_t flags,
		   const void *data, uint32_t dlen)
{
	struct ri_result res = { .status = -1 };
	uint8_t bhs[BHS_LEN];
	uint32_t itt;

	ri_build_scsi_cmd(&d->ri, bhs, 1, cdb, len, flags, dlen);
	itt = get_be32(bhs + BHS_ITT);
	cr_assert_eq(ri_dg_send(d, bhs, data, dlen, 0), 0);
	if (ri_dg_wait_cmd(d, itt, NULL, 0, &res, 5000, NULL))
		return -1;
	return res.status;
}

ParameterizedTestParameters(target_state, offline_then_ready)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, target_state, offline_then_ready,
		  .fini = down, .timeout = 60)
{
	static uint8_t before[INPROC_BLK], pattern[INPROC_BLK], now[INPROC_BLK];
	const uint8_t tur[6] = { 0 };
	uint8_t w10[10];
	struct ri_dg old, fresh;

	inproc_up(*kind, 0, 0);
	inproc_login(&old, false, false);
	inproc_fill(before, sizeof(before), 1);
	inproc_write(&old, 8, before, 1);

	set_state(true);
	cr_assert_eq(ri_dg_login(&fresh, inproc.port, INPROC_IQN,
				 INPROC_INITIATOR, false, false),
		     LOGIN_TARGET_ERROR_STATUS,
		     "a login to an offline target: 0x0300, target error");
	ri_close(&fresh.ri);

	cr_expect_eq(command(&old, tur, sizeof(tur), 0, NULL, 0), SAM_BUSY,
		     "TEST UNIT READY on an offline target: BUSY");
	inproc_fill(pattern, sizeof(pattern), 2);
	ri_cdb_rw10(w10, true, 8, 1);
	cr_expect_eq(command(&old, w10, sizeof(w10), CMD_W, pattern,
			     sizeof(pattern)), SAM_BUSY,
		     "WRITE on an offline target: BUSY");
	inproc_store_read(8 * INPROC_BLK, now, sizeof(now));
	cr_expect(memcmp(now, before, sizeof(now)) == 0,
		  "the WRITE answered BUSY was executed");

	set_state(false);
	cr_expect_eq(command(&old, tur, sizeof(tur), 0, NULL, 0), 0,
		     "the session logged in before: GOOD once ready");
	cr_assert_eq(ri_dg_login(&fresh, inproc.port, INPROC_IQN,
				 INPROC_INITIATOR, false, false), 0,
		     "a login once the target is ready again");
	inproc_write(&fresh, 8, pattern, 1);
	inproc_store_read(8 * INPROC_BLK, now, sizeof(now));
	cr_expect(memcmp(now, pattern, sizeof(now)) == 0);
	ri_close(&fresh.ri);
	ri_close(&old.ri);
}

/* core_target_set_state() on a target that does not exist: -ENOENT. */
Test(target_state, unknown_target)
{
	struct core_err err = { "" };

	cr_expect_eq(core_target_set_state("iqn.2024-01.org.ringtgt:none", true,
					   &err), -ENOENT);
	cr_expect(strstr(err.msg, "no target"), "%s", err.msg);
}
