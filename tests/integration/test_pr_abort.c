/*
 * test_pr_abort.c - PERSISTENT RESERVE OUT with PREEMPT AND ABORT (SPC-4
 * §5.13.11.2.6) through the iSCSI layer, in process (inproc.c), on both
 * event loops and with TAS=1 and TAS=0: the fencing that Pacemaker's
 * fence_scsi does. Nexus A registers, B registers and reserves WRITE
 * EXCLUSIVE, REGISTRANTS ONLY; A has writes in the store (held by the RAM
 * store's hook) and one waiting for its solicited data; B preempts and
 * aborts A's key. Then:
 *
 *   - B's GOOD status comes only once A's writes have left the store,
 *     never while they can still land;
 *   - A's commands end as a CLEAR TASK SET from another I_T nexus ends
 *     them (SAM-5: TASK ABORTED with TAS=1, no response with TAS=0);
 *   - A's write that had not reached the store never lands (its data,
 *     sent after the preemption, is dropped), and B's newer data is what
 *     stays;
 *   - A sees REGISTRATIONS PREEMPTED, then RESERVATION CONFLICT for its
 *     writes (its data never lands); B's writes run;
 *   - past tmf_timeout the LU is stalled before the GOOD goes out; no
 *     memory for the fence: TASK SET FULL, nothing changed.
 *
 * Criterion runs each test in its own process with its own server.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "backing/bs.h"
#include "base/base.h"
#include "base/fault.h"
#include "core/core.h"
#include "inproc.h"
#include "raw_initiator.h"
#include "scsi/scsi.h"

#define BLK INPROC_BLK
#define LUN 1

/* PR OUT service actions and types (SPC-4 tables 213, 196) */
enum { PRO_REGISTER = 0, PRO_RESERVE = 1, PRO_PREEMPT_ABORT = 5 };
enum { WE_RO = 5 };
#define KEY_A 0xa1a1ull
#define KEY_B 0xb1b1ull

static void login(struct ri *ri)
{
	int rc;

	cr_assert_eq(ri_connect(ri, inproc.port), 0);
	rc = ri_login(ri, INPROC_IQN, INPROC_INITIATOR);
	cr_assert_eq(rc, 0, "login: %d", rc);
	cr_assert_geq(ri->tgt_mrdsl, 8u * BLK);
}

/* The reactor index of session @tsih (the core's session list). */
static int session_reactor(uint16_t tsih)
{
	json_object *all = core_sessions_json(), *o, *v;
	int r = -1;

	for (size_t i = 0; i < json_object_array_length(all); i++) {
		o = json_object_array_get_idx(all, i);
		if (json_object_object_get_ex(o, "tsih", &v) &&
		    json_object_get_int(v) == tsih &&
		    json_object_object_get_ex(o, "reactor", &v))
			r = json_object_get_int(v);
	}
	json_object_put(all);
	return r;
}

/* Sends PERSISTENT RESERVE OUT (24 bytes of immediate data); its ITT. */
static uint32_t pro_send(struct ri *ri, int sa, int type, uint64_t key,
			 uint64_t sa_key)
{
	uint8_t cdb[10] = { 0x5f, (uint8_t)sa, (uint8_t)type, [8] = 24 };
	uint8_t p[24] = { 0 };
	uint32_t itt;

	put_be64(p, key);
	put_be64(p + 8, sa_key);
	itt = ri_scsi_cmd(ri, LUN, cdb, 10, CMD_W, 24, p, 24, NULL);
	cr_assert_neq(itt, RSVD_TAG);
	return itt;
}

/* The answer to @itt within 5 s; no other PDU may come first. */
static struct ri_result result(struct ri *ri, uint32_t itt, void *buf,
			       uint32_t cap)
{
	struct ri_result r;
	unsigned others = 0;

	cr_assert_eq(ri_wait_cmd(ri, itt, buf, cap, &r, 5000, &others), 0,
		     "no answer to ITT 0x%x", itt);
	cr_assert_eq(others, 0u, "another PDU before the answer to 0x%x", itt);
	return r;
}

static void pro_sync(struct ri *ri, int sa, int type, uint64_t key,
		     uint64_t sa_key)
{
	struct ri_result r = result(ri, pro_send(ri, sa, type, key, sa_key),
				    NULL, 0);

	cr_assert_eq(r.status, SAM_STAT_GOOD, "PR OUT %d: status 0x%x", sa,
		     r.status);
}

/* WRITE(10) of @blocks at @lba, all data immediate; the SAM status. */
static int write_st(struct ri *ri, uint32_t lba, const uint8_t *buf,
		    uint16_t blocks, struct ri_result *r)
{
	uint8_t cdb[10];
	uint32_t itt;

	ri_cdb_rw10(cdb, true, lba, blocks);
	itt = ri_scsi_cmd(ri, LUN, cdb, 10, CMD_W, blocks * BLK, buf,
			  blocks * BLK, NULL);
	cr_assert_neq(itt, RSVD_TAG);
	*r = result(ri, itt, NULL, 0);
	return r->status;
}

/* READ(10) of @blocks at @lba into @buf; the SAM status. */
static int read_st(struct ri *ri, uint32_t lba, uint8_t *buf,
		   uint16_t blocks, struct ri_result *r)
{
	uint8_t cdb[10];
	uint32_t itt;

	ri_cdb_rw10(cdb, false, lba, blocks);
	itt = ri_scsi_cmd(ri, LUN, cdb, 10, CMD_R, blocks * BLK, NULL, 0,
			  NULL);
	cr_assert_neq(itt, RSVD_TAG);
	*r = result(ri, itt, buf, blocks * BLK);
	if (r->status == SAM_STAT_GOOD)
		cr_assert_eq(r->data_len, (uint32_t)blocks * BLK);
	return r->status;
}

/* Reads for @ms; fails on any PDU (nothing is due). */
static void expect_silence(struct ri *ri, int ms, const char *what)
{
	uint64_t end = ri_now_ms() + (uint64_t)ms;
	struct ri_pdu p;

	while (ri_now_ms() < end) {
		int rc = ri_recv(ri, &p, (int)(end - ri_now_ms()));

		if (rc == -ETIMEDOUT)
			return;
		cr_assert_eq(rc, 0, "%s: connection lost (%d)", what, rc);
		cr_assert_fail("%s: %s (opcode 0x%02x) ITT 0x%x", what,
			       pdu_opcode_name(p.opcode), p.opcode, p.itt);
	}
}

/* Waits (at most 3 s) until the RAM store holds @n requests. */
static void wait_held(struct ri *ri, int n)
{
	uint64_t end = ri_now_ms() + 3000;

	while (bs_ram_held(inproc.bs) < n && ri_now_ms() < end)
		expect_silence(ri, 10, "waiting for held I/O");
	cr_assert_eq(bs_ram_held(inproc.bs), n, "held %d, want %d",
		     bs_ram_held(inproc.bs), n);
}

/*
 * A NOP-Out ping comes back, and no PDU names one of @itts before it or
 * within @settle_ms after it.
 */
static void sync_no_response(struct ri *ri, const uint32_t *itts, int n,
			     int settle_ms)
{
	uint32_t ping = ri_ping(ri);
	struct ri_pdu p;

	cr_assert_neq(ping, RSVD_TAG);
	for (;;) {
		cr_assert_eq(ri_recv(ri, &p, 3000), 0, "no answer to the ping");
		for (int i = 0; i < n; i++)
			cr_assert_neq(p.itt, itts[i], "%s for aborted ITT 0x%x",
				      pdu_opcode_name(p.opcode), itts[i]);
		if (p.opcode == OP_NOP_IN && p.itt == ping)
			break;
		cr_assert_fail("unexpected %s ITT 0x%x",
			       pdu_opcode_name(p.opcode), p.itt);
	}
	expect_silence(ri, settle_ms, "after the ping");
}

/* A WRITE(10) of 16 blocks waiting for its solicited data. */
struct r2t_seen {
	uint32_t itt, ttt, off, len;
};

/* Sends it with the first block immediate (F set) and reads the R2T. */
static struct r2t_seen write_awaiting_r2t(struct ri *ri, uint32_t lba,
					  const uint8_t *data)
{
	struct r2t_seen w;
	struct ri_pdu p;
	uint8_t cdb[10];

	ri_cdb_rw10(cdb, true, lba, 16);
	w.itt = ri_scsi_cmd(ri, LUN, cdb, 10, CMD_W, 16 * BLK, data, BLK,
			    NULL);
	cr_assert_eq(ri_recv(ri, &p, 3000), 0);
	cr_assert_eq(p.opcode, OP_R2T, "got %s", pdu_opcode_name(p.opcode));
	cr_assert_eq(p.itt, w.itt);
	w.ttt = get_be32(p.bhs + BHS_TTT);
	w.off = get_be32(p.bhs + BHS_BUFOFF);
	w.len = get_be32(p.bhs + BHS_RESID);
	return w;
}

struct pa_case {
	enum ev_kind kind;
	bool tas;
};

ParameterizedTestParameters(pr_abort, fences_inflight_writes)
{
	static struct pa_case cases[] = {
		{ EV_IO_URING, true }, { EV_EPOLL, true },
		{ EV_IO_URING, false }, { EV_EPOLL, false },
	};
	return cr_make_param_array(struct pa_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct pa_case *pc, pr_abort, fences_inflight_writes,
		  .fini = inproc_down, .timeout = 60)
{
	static uint8_t old[16 * BLK], mine[16 * BLK], newer[8 * BLK],
		       rd[16 * BLK];
	struct ri ra, rb;
	struct ri_result r;
	struct r2t_seen w;
	uint32_t x[2], pa;

	inproc.no_tas = !pc->tas;
	inproc_up(pc->kind, 0, 0);
	login(&ra);
	login(&rb);
	cr_assert_neq(session_reactor(ra.tsih), session_reactor(rb.tsih),
		      "A and B share a reactor");
	inproc_fill(old, sizeof(old), 1);
	inproc_fill(mine, sizeof(mine), 90);
	inproc_fill(newer, sizeof(newer), 180);
	for (uint32_t lba = 100; lba <= 500; lba += 100)
		cr_assert_eq(write_st(&rb, lba, old, 16, &r), SAM_STAT_GOOD);

	/* fence_scsi: both register, B reserves WE, REGISTRANTS ONLY */
	pro_sync(&ra, PRO_REGISTER, 0, 0, KEY_A);
	pro_sync(&rb, PRO_REGISTER, 0, 0, KEY_B);
	pro_sync(&rb, PRO_RESERVE, WE_RO, KEY_B, 0);
	cr_assert_eq(write_st(&ra, 400, mine, 8, &r), SAM_STAT_GOOD,
		     "a registrant writes");

	/* A: two writes in the store, one waiting for its data */
	bs_ram_hold(inproc.bs, true);
	{
		uint8_t cdb[10];

		ri_cdb_rw10(cdb, true, 100, 8);
		x[0] = ri_scsi_cmd(&ra, LUN, cdb, 10, CMD_W, 8 * BLK, mine,
				   8 * BLK, NULL);
		ri_cdb_rw10(cdb, true, 200, 8);
		x[1] = ri_scsi_cmd(&ra, LUN, cdb, 10, CMD_W, 8 * BLK, mine,
				   8 * BLK, NULL);
	}
	wait_held(&ra, 2);
	w = write_awaiting_r2t(&ra, 300, mine);

	/* B preempts and aborts A's key */
	pa = pro_send(&rb, PRO_PREEMPT_ABORT, WE_RO, KEY_B, KEY_A);
	/* SPC-4 §5.13.11.2.6 c): not answered while A's writes can land */
	expect_silence(&rb, 600, "PREEMPT AND ABORT answered while A's "
		       "writes are in the store");
	cr_assert_eq(bs_ram_held(inproc.bs), 2);
	if (pc->tas) {
		/* SAM-5 §7.3: the one that never started, TASK ABORTED now */
		r = result(&ra, w.itt, NULL, 0);
		cr_assert_eq(r.status, SAM_STAT_TASK_ABORTED, "status 0x%x",
			     r.status);
	}
	expect_silence(&ra, 100, "A told of held writes before they ended");

	bs_ram_hold(inproc.bs, false);
	cr_assert_eq(bs_ram_release(inproc.bs), 2);
	r = result(&rb, pa, NULL, 0);
	cr_assert_eq(r.status, SAM_STAT_GOOD, "PREEMPT AND ABORT: 0x%x",
		     r.status);

	if (pc->tas) {
		/* ... and the two in the store once their I/O ended */
		for (int i = 0; i < 2; i++) {
			r = result(&ra, x[i], NULL, 0);
			cr_assert_eq(r.status, SAM_STAT_TASK_ABORTED);
		}
	}
	/* the data A's R2T asked for, now for a task that is gone */
	cr_assert_eq(ri_data_out(&ra, LUN, w.itt, w.ttt, 0, w.off,
				 mine + w.off, w.len), 0);
	{
		uint32_t gone[3] = { x[0], x[1], w.itt };

		/* TAS=0: no response for any of them, ever */
		sync_no_response(&ra, gone, pc->tas ? 0 : 3, 200);
	}

	/* B's newer data is what stays; A's unstarted write never landed */
	cr_assert_eq(write_st(&rb, 100, newer, 8, &r), SAM_STAT_GOOD,
		     "B's write: 0x%x", r.status);
	cr_assert_eq(read_st(&rb, 100, rd, 8, &r), SAM_STAT_GOOD);
	cr_assert_eq(memcmp(rd, newer, 8 * BLK), 0,
		     "an aborted write landed after the PREEMPT AND ABORT");
	cr_assert_eq(read_st(&rb, 300, rd, 16, &r), SAM_STAT_GOOD);
	cr_assert_eq(memcmp(rd, old, 16 * BLK), 0,
		     "A's write that had not started landed");

	/* A: REGISTRATIONS PREEMPTED (6/2A/05) once, then conflicts */
	cr_assert_eq(write_st(&ra, 500, mine, 8, &r), SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(r.sense_key, 0x6);
	cr_assert_eq(r.asc, 0x2a);
	cr_assert_eq(r.ascq, 0x05);
	cr_assert_eq(write_st(&ra, 500, mine, 8, &r),
		     SAM_STAT_RESERVATION_CONFLICT, "A's write: 0x%x",
		     r.status);
	/* Write Exclusive: A still reads, and sees B's data */
	cr_assert_eq(read_st(&ra, 100, rd, 8, &r), SAM_STAT_GOOD);
	cr_assert_eq(memcmp(rd, newer, 8 * BLK), 0);
	cr_assert_eq(read_st(&rb, 500, rd, 16, &r), SAM_STAT_GOOD);
	cr_assert_eq(memcmp(rd, old, 16 * BLK), 0, "A's refused write landed");
	/* nothing more for B: no unit attention, its writes run */
	cr_assert_eq(write_st(&rb, 500, newer, 8, &r), SAM_STAT_GOOD);
	ri_close(&ra);
	ri_close(&rb);
}

ParameterizedTestParameters(pr_abort, no_room_changes_nothing)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * No memory for the fence (FAULT_TMF_ALLOC): TASK SET FULL before
 * anything changed (A keeps its registration and hears of nothing); the
 * initiator's retry then preempts.
 */
ParameterizedTest(enum ev_kind *kind, pr_abort, no_room_changes_nothing,
		  .fini = inproc_down, .timeout = 60)
{
	uint8_t cdb[10] = { 0x5e, 0x00, [8] = 64 }, b[64];
	static uint8_t data[8 * BLK];
	struct ri ra, rb;
	struct ri_result r;
	uint32_t itt;

	inproc_up(*kind, 0, 0);
	login(&ra);
	login(&rb);
	pro_sync(&ra, PRO_REGISTER, 0, 0, KEY_A);
	pro_sync(&rb, PRO_REGISTER, 0, 0, KEY_B);
	pro_sync(&rb, PRO_RESERVE, WE_RO, KEY_B, 0);

	fault_arm(FAULT_TMF_ALLOC, 1);
	r = result(&rb, pro_send(&rb, PRO_PREEMPT_ABORT, WE_RO, KEY_B, KEY_A),
		   NULL, 0);
	cr_assert_eq(r.status, SAM_STAT_TASK_SET_FULL, "status 0x%x",
		     r.status);
	itt = ri_scsi_cmd(&rb, LUN, cdb, 10, CMD_R, sizeof(b), NULL, 0, NULL);
	r = result(&rb, itt, b, sizeof(b));
	cr_assert_eq(r.status, SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 16, "both keys still registered");
	cr_assert_eq(write_st(&ra, 100, data, 8, &r), SAM_STAT_GOOD,
		     "A was preempted: 0x%x", r.status);

	r = result(&rb, pro_send(&rb, PRO_PREEMPT_ABORT, WE_RO, KEY_B, KEY_A),
		   NULL, 0);
	cr_assert_eq(r.status, SAM_STAT_GOOD);
	cr_assert_eq(write_st(&ra, 100, data, 8, &r), SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(r.asc, 0x2a);
	cr_assert_eq(r.ascq, 0x05);
	ri_close(&ra);
	ri_close(&rb);
}

ParameterizedTestParameters(pr_abort, timeout_stalls_lu)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * A's write stays in the store past tmf_timeout (1 s): the LU is stalled
 * (NOT READY until that write completed), and only then is B's PREEMPT
 * AND ABORT answered GOOD, so nothing newer reaches the medium before the
 * stale write does; once it completed, B's newer data is what stays.
 */
ParameterizedTest(enum ev_kind *kind, pr_abort, timeout_stalls_lu,
		  .fini = inproc_down, .timeout = 60)
{
	static uint8_t mine[8 * BLK], newer[8 * BLK], rd[8 * BLK];
	struct ri ra, rb;
	struct ri_result r;
	uint8_t cdb[10];
	uint32_t x, pa;

	inproc.tmf_timeout = 1;
	inproc_up(*kind, 0, 0);
	login(&ra);
	login(&rb);
	inproc_fill(mine, sizeof(mine), 90);
	inproc_fill(newer, sizeof(newer), 180);
	pro_sync(&ra, PRO_REGISTER, 0, 0, KEY_A);
	pro_sync(&rb, PRO_REGISTER, 0, 0, KEY_B);
	pro_sync(&rb, PRO_RESERVE, WE_RO, KEY_B, 0);

	bs_ram_hold(inproc.bs, true);
	ri_cdb_rw10(cdb, true, 100, 8);
	x = ri_scsi_cmd(&ra, LUN, cdb, 10, CMD_W, sizeof(mine), mine,
			sizeof(mine), NULL);
	wait_held(&ra, 1);
	pa = pro_send(&rb, PRO_PREEMPT_ABORT, WE_RO, KEY_B, KEY_A);
	r = result(&rb, pa, NULL, 0);
	cr_assert_eq(r.status, SAM_STAT_GOOD, "status 0x%x", r.status);
	cr_assert_eq(bs_ram_held(inproc.bs), 1, "answered, write still held");
	/* the stale write can still land: the LU takes nothing new */
	cr_assert_eq(write_st(&rb, 100, newer, 8, &r),
		     SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(r.sense_key, 0x2, "sense key %x", r.sense_key);
	cr_assert_eq(r.asc, 0x04);
	cr_assert_eq(bs_ram_held(inproc.bs), 1, "B's write reached the store");

	bs_ram_hold(inproc.bs, false);
	cr_assert_eq(bs_ram_release(inproc.bs), 1);
	r = result(&ra, x, NULL, 0);
	cr_assert_eq(r.status, SAM_STAT_TASK_ABORTED);
	cr_assert_eq(write_st(&rb, 100, newer, 8, &r), SAM_STAT_GOOD,
		     "the LU still stalled: 0x%x", r.status);
	cr_assert_eq(read_st(&rb, 100, rd, 8, &r), SAM_STAT_GOOD);
	cr_assert_eq(memcmp(rd, newer, sizeof(newer)), 0);
	ri_close(&ra);
	ri_close(&rb);
}
