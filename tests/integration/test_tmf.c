/*
 * test_tmf.c - in-process integration tests of the iSCSI layer: the
 * daemon's core, SCSI layer and iSCSI server run inside the test process
 * on a free 127.0.0.1 port, and a raw initiator (raw_initiator.c) drives
 * them. The RAM store's hold hook (and, for the file store, a frozen
 * file system) keeps commands in flight so task management can be tested
 * at a chosen moment:
 *
 *   - ABORT TASK, ABORT TASK SET, LOGICAL UNIT RESET, TARGET WARM RESET
 *     and session reinstatement (RFC 7143 §11.5, §6.3.5; SAM-5 §7): no
 *     answer while an aborted command's I/O is in flight, "Function
 *     complete" once it is gone, no response ever for the aborted
 *     commands of the issuing session, TASK ABORTED for other sessions'
 *     (TAS=1), and a later write to the same blocks is what stays;
 *   - tmf_timeout: the LU answers NOT READY while the stuck I/O lasts;
 *   - short and failed store I/O; forced LUN removal under live tasks;
 *     allocation failures on the command and task management paths;
 *   - dead peer detection with NOP-In pings (§11.19);
 *   - a header no target may accept closes only its own connection
 *     (§7.1.3); an unsupported CDB gets INVALID COMMAND OPERATION CODE.
 *
 * Criterion runs each test in its own process, so each test starts its
 * own server (both event loops, where io_uring is available).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backing/bs.h"
#include "base/base.h"
#include "base/fault.h"
#include "base/log.h"
#include "core/core.h"
#include "inproc.h"
#include "iscsi/iscsi.h"
#include "raw_initiator.h"
#include "scsi/scsi.h"

#define IQN INPROC_IQN
#define INITIATOR INPROC_INITIATOR
#define MIB (1u << 20)
#define BLK 512

/* The in-process server of inproc.c (port, LUN 1's RAM store, settings). */
#define srv inproc
#define srv_up inproc_up
#define srv_down inproc_down

static void login(struct ri *ri)
{
	int rc;

	cr_assert_eq(ri_connect(ri, srv.port), 0);
	rc = ri_login(ri, IQN, INITIATOR);
	cr_assert_eq(rc, 0, "login: %d", rc);
	cr_assert_geq(ri->tgt_mrdsl, 512u);
}

static void fill(uint8_t *b, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

/*
 * WRITE(10) with all data immediate; waits for GOOD. A unit attention
 * (after a reset) is retried once.
 */
static void write_sync(struct ri *ri, uint32_t lba, const uint8_t *buf,
		       uint16_t blocks)
{
	uint8_t cdb[10];
	struct ri_result r;
	uint32_t itt;

	for (int attempt = 0; attempt < 2; attempt++) {
		ri_cdb_rw10(cdb, true, lba, blocks);
		itt = ri_scsi_cmd(ri, 1, cdb, 10, CMD_W, blocks * BLK, buf,
				  blocks * BLK, NULL);
		cr_assert_neq(itt, RSVD_TAG);
		cr_assert_eq(ri_wait_cmd(ri, itt, NULL, 0, &r, 5000, NULL), 0);
		if (attempt == 0 && r.status == 2 && r.sense_key == 6)
			continue;	/* UNIT ATTENTION */
		break;
	}
	cr_assert_eq(r.status, 0, "WRITE status 0x%x sense %x/%02x", r.status,
		     r.sense_key, r.asc);
}

/*
 * READ(10) and wait for the data. A unit attention (after a reset) is
 * retried once. Returns the SAM status.
 */
static int read_sync(struct ri *ri, uint64_t lun, uint32_t lba, uint8_t *buf,
		     uint16_t blocks)
{
	uint8_t cdb[10];
	struct ri_result r;

	for (int attempt = 0; attempt < 2; attempt++) {
		uint32_t itt;

		ri_cdb_rw10(cdb, false, lba, blocks);
		itt = ri_scsi_cmd(ri, lun, cdb, 10, CMD_R, blocks * BLK, NULL,
				  0, NULL);
		cr_assert_neq(itt, RSVD_TAG);
		cr_assert_eq(ri_wait_cmd(ri, itt, buf, blocks * BLK, &r, 5000,
					 NULL), 0, "READ ITT 0x%x: no answer", itt);
		if (r.status == 2 && r.sense_key == 6)
			continue;	/* UNIT ATTENTION */
		if (r.status == 0)
			cr_assert_eq(r.data_len, (uint32_t)blocks * BLK);
		return r.status;
	}
	return r.status;
}

/*
 * Reads for @ms, answering pings; fails on any PDU (nothing is due).
 */
static void expect_silence(struct ri *ri, int ms, const char *what)
{
	uint64_t end = ri_now_ms() + (uint64_t)ms;
	struct ri_pdu p;

	while (ri_now_ms() < end) {
		int rc = ri_recv(ri, &p, (int)(end - ri_now_ms()));

		if (rc == -ETIMEDOUT)
			return;
		cr_assert_eq(rc, 0, "%s: connection lost (%d)", what, rc);
		cr_assert_fail("%s: unexpected %s (opcode 0x%02x) ITT 0x%x",
			       what, pdu_opcode_name(p.opcode), p.opcode,
			       p.itt);
	}
}

/* Waits until the RAM store holds @n requests, answering pings. */
static void wait_held(struct ri *ri, int n)
{
	uint64_t end = ri_now_ms() + 3000;

	while (bs_ram_held(srv.bs) < n && ri_now_ms() < end)
		expect_silence(ri, 10, "waiting for held I/O");
	cr_assert_eq(bs_ram_held(srv.bs), n, "held %d, want %d",
		     bs_ram_held(srv.bs), n);
}

/*
 * After an abort: a NOP-Out ping must come back, and no PDU may name one
 * of the aborted ITTs before it or in the @settle_ms after it.
 */
static void sync_no_response(struct ri *ri, const uint32_t *itts, int n,
			     int settle_ms)
{
	struct ri_pdu p;
	uint32_t ping;

	expect_silence(ri, settle_ms, "after release");
	ping = ri_ping(ri);
	cr_assert_neq(ping, RSVD_TAG);
	for (;;) {
		int rc = ri_recv(ri, &p, 3000);

		cr_assert_eq(rc, 0, "no NOP-In for the ping (%d)", rc);
		for (int i = 0; i < n; i++)
			cr_assert_neq(p.itt, itts[i],
				      "%s for aborted ITT 0x%x",
				      pdu_opcode_name(p.opcode), itts[i]);
		if (p.opcode == OP_NOP_IN && p.itt == ping)
			break;
		cr_assert_fail("unexpected %s ITT 0x%x",
			       pdu_opcode_name(p.opcode), p.itt);
	}
	cr_assert_eq(p.dsl, 4u);
	cr_assert_eq(memcmp(p.data, "ping", 4), 0);
	expect_silence(ri, settle_ms, "after the ping");
}

/* Receives the TMF Response to @itt; returns its response code. */
static int tmf_response(struct ri *ri, uint32_t itt, const uint32_t *aborted,
			int n)
{
	struct ri_pdu p;
	int rc = ri_recv(ri, &p, 5000);

	cr_assert_eq(rc, 0, "no TMF Response (%d)", rc);
	for (int i = 0; i < n; i++)
		cr_assert_neq(p.itt, aborted[i], "%s for ITT 0x%x before the "
			      "TMF Response", pdu_opcode_name(p.opcode),
			      aborted[i]);
	cr_assert_eq(p.opcode, OP_TMF_RSP, "got %s",
		     pdu_opcode_name(p.opcode));
	cr_assert_eq(p.itt, itt);
	cr_assert(p.bhs[BHS_FLAGS] & BHS_F);
	return p.bhs[BHS_B2];
}

/*
 * One held WRITE (or READ + WRITE) on LUN 1, a task management function
 * about it from the same session: no TMF Response while the store holds
 * the I/O; "Function complete" once it is released; nothing ever for the
 * aborted commands; and a second WRITE to the same blocks is what a READ
 * returns (the aborted one landed before the answer, not after).
 */
struct tmf_case {
	enum ev_kind kind;
	uint8_t function;
};

ParameterizedTestParameters(tmf, waits_for_inflight_io)
{
	static struct tmf_case cases[] = {
		{ EV_IO_URING, TMF_ABORT_TASK }, { EV_EPOLL, TMF_ABORT_TASK },
		{ EV_IO_URING, TMF_ABORT_TASK_SET },
		{ EV_EPOLL, TMF_CLEAR_TASK_SET },
		{ EV_IO_URING, TMF_LUN_RESET }, { EV_EPOLL, TMF_LUN_RESET },
		{ EV_IO_URING, TMF_TARGET_WARM_RESET },
		{ EV_EPOLL, TMF_TARGET_WARM_RESET },
	};
	return cr_make_param_array(struct tmf_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct tmf_case *tc, tmf, waits_for_inflight_io,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t a[8 * BLK], b[8 * BLK], c2[8 * BLK], rd[8 * BLK], cdb[10];
	uint32_t x[2], xsn, tmf;
	int n = 0;
	struct ri ri;

	srv_up(tc->kind, 1, 1);
	login(&ri);
	fill(a, sizeof(a), 3);
	fill(b, sizeof(b), 77);
	fill(c2, sizeof(c2), 151);
	write_sync(&ri, 8, a, 8);

	bs_ram_hold(srv.bs, true);
	if (tc->function != TMF_ABORT_TASK) {
		ri_cdb_rw10(cdb, false, 8, 8);
		x[n++] = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_R, sizeof(rd), NULL,
				     0, NULL);
	}
	ri_cdb_rw10(cdb, true, 128, 8);
	x[n] = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_W, sizeof(b), b, sizeof(b),
			   &xsn);
	n++;
	wait_held(&ri, n);

	tmf = ri_tmf(&ri, tc->function, 1,
		     tc->function == TMF_ABORT_TASK ? x[0] : RSVD_TAG,
		     tc->function == TMF_ABORT_TASK ? xsn : 0);
	/* SAM-5 §7.1: complete only once the aborted tasks are gone */
	expect_silence(&ri, 600, "answer while the aborted I/O is in flight");
	cr_assert_eq(bs_ram_held(srv.bs), n);
	/* meanwhile the connection serves other LUNs (and NOP pings) */
	{
		static const uint8_t tur[6] = { 0 };
		unsigned others = 0;
		struct ri_result r0;
		uint32_t t0 = ri_scsi_cmd(&ri, 0, tur, 6, 0, 0, NULL, 0, NULL);

		cr_assert_eq(ri_wait_cmd(&ri, t0, NULL, 0, &r0, 5000, &others),
			     0, "LUN 0 not served while the TMF waits");
		cr_assert(r0.status == 0 || (r0.status == 2 &&
					     r0.sense_key == 6),
			  "LUN 0: status 0x%x", r0.status);
		cr_assert_eq(others, 0u, "a PDU before LUN 0's answer");
		{
			uint32_t ping = ri_ping(&ri);
			struct ri_pdu p;

			cr_assert_neq(ping, RSVD_TAG);
			cr_assert_eq(ri_recv(&ri, &p, 5000), 0);
			cr_assert(p.opcode == OP_NOP_IN && p.itt == ping,
				  "got %s ITT 0x%x instead of the ping's answer",
				  pdu_opcode_name(p.opcode), p.itt);
		}
	}

	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), n);
	cr_assert_eq(tmf_response(&ri, tmf, x, n), TMF_RSP_COMPLETE);
	sync_no_response(&ri, x, n, 300);

	/* newer data written after the answer is what stays */
	write_sync(&ri, 128, c2, 8);
	memset(rd, 0, sizeof(rd));
	cr_assert_eq(read_sync(&ri, 1, 128, rd, 8), 0);
	cr_assert_eq(memcmp(rd, c2, sizeof(c2)), 0,
		     "the aborted write landed after the TMF answer");
	cr_assert_eq(read_sync(&ri, 1, 8, rd, 8), 0);
	cr_assert_eq(memcmp(rd, a, sizeof(a)), 0);
	ri_close(&ri);
}

ParameterizedTestParameters(tmf, abort_task)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/* ABORT TASK's answers for tasks that are not there (RFC 7143 §11.5.1). */
ParameterizedTest(enum ev_kind *kind, tmf, abort_task, .fini = srv_down,
		  .timeout = 60)
{
	uint8_t a[8 * BLK], rd[8 * BLK];
	struct ri ri;
	uint32_t tmf, xsn, x;
	struct ri_result r;
	uint8_t cdb[10];

	srv_up(*kind, 1, 1);
	login(&ri);
	fill(a, sizeof(a), 1);
	write_sync(&ri, 0, a, 8);
	ri_cdb_rw10(cdb, false, 0, 8);
	x = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_R, sizeof(rd), NULL, 0, &xsn);
	cr_assert_eq(ri_wait_cmd(&ri, x, rd, sizeof(rd), &r, 5000, NULL), 0);

	/* an unknown task whose RefCmdSN is outside the window */
	tmf = ri_tmf(&ri, TMF_ABORT_TASK, 1, 0x7777, ri.cmdsn + 50);
	cr_assert_eq(tmf_response(&ri, tmf, NULL, 0), TMF_RSP_NO_TASK);
	/* ... one already answered (RefCmdSN below ExpCmdSN) does not
	 * exist either: libiscsi's AbortTaskSimpleAsync expects exactly
	 * that when the WRITE completed first */
	tmf = ri_tmf(&ri, TMF_ABORT_TASK, 1, x, xsn);
	cr_assert_eq(tmf_response(&ri, tmf, NULL, 0), TMF_RSP_NO_TASK);
	/* ... one whose RefCmdSN is in the window and below the TMF's own
	 * CmdSN is taken as received: "complete" (the command was lost) */
	{
		uint32_t b[BHS_LEN / 4];
		uint8_t *q = (uint8_t *)b;

		memset(q, 0, BHS_LEN);
		q[BHS_OPCODE] = OP_TMF_REQ;	/* non-immediate */
		q[BHS_FLAGS] = BHS_F | TMF_ABORT_TASK;
		put_be64(q + BHS_LUN, ri_lun(1));
		put_be32(q + BHS_ITT, ri.itt);
		put_be32(q + BHS_TTT, 0x6666);		/* RTT */
		put_be32(q + BHS_CMDSN, ri.cmdsn + 1);	/* skips one */
		put_be32(q + BHS_EXPSTATSN, ri.expstatsn);
		put_be32(q + BHS_MAXCMDSN, ri.cmdsn);	/* RefCmdSN */
		cr_assert_eq(ri_send(&ri, q, NULL, 0), 0);
		cr_assert_eq(tmf_response(&ri, ri.itt++, NULL, 0),
			     TMF_RSP_COMPLETE);
		ri.cmdsn += 2;
	}
	/* a reset of a LUN that does not exist */
	tmf = ri_tmf(&ri, TMF_LUN_RESET, 9, RSVD_TAG, 0);
	cr_assert_eq(tmf_response(&ri, tmf, NULL, 0), TMF_RSP_NO_LUN);
	cr_assert_eq(read_sync(&ri, 1, 0, rd, 8), 0);
	cr_assert_eq(memcmp(rd, a, sizeof(a)), 0);
	ri_close(&ri);
}

ParameterizedTestParameters(tmf, dead_peer)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, tmf, dead_peer, .fini = srv_down,
		  .timeout = 60)
{
	const unsigned interval = 1, timeout = 1;
	struct ri ri;
	struct ri_pdu p;
	uint64_t t0, elapsed;
	int rc;

	srv_up(*kind, interval, timeout);
	login(&ri);
	t0 = ri_now_ms();
	ri.answer_pings = false;	/* a peer that has gone quiet */
	do {
		rc = ri_recv(&ri, &p, (int)(interval + timeout + 12) * 1000);
		if (rc == 0)
			cr_assert(p.opcode == OP_NOP_IN && p.itt == RSVD_TAG,
				  "unexpected %s", pdu_opcode_name(p.opcode));
	} while (rc == 0);
	elapsed = ri_now_ms() - t0;
	cr_assert(rc == -EPIPE || rc == -ECONNRESET,
		  "connection not closed after %llu ms (rc %d)",
		  (unsigned long long)elapsed, rc);
	cr_assert_geq(ri.pings_seen, 1u, "closed without a ping");
	cr_assert_geq(elapsed, 1000u, "closed too early: %llu ms",
		      (unsigned long long)elapsed);
	/* an eventual outcome, not a speed test: generous under load */
	cr_assert_leq(elapsed, (interval + timeout + 10) * 1000ull,
		      "closed late: %llu ms", (unsigned long long)elapsed);
	ri_close(&ri);
}

ParameterizedTestParameters(tmf, live_peer_kept)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/* The counterpart: a peer that answers the pings stays connected. */
ParameterizedTest(enum ev_kind *kind, tmf, live_peer_kept, .fini = srv_down,
		  .timeout = 60)
{
	uint8_t rd[BLK];
	struct ri ri;

	srv_up(*kind, 1, 1);
	login(&ri);
	expect_silence(&ri, 4500, "idle session");
	cr_assert_geq(ri.pings_answered, 2u, "only %u pings in 4.5 s",
		      ri.pings_answered);
	cr_assert_eq(read_sync(&ri, 1, 0, rd, 1), 0);
	ri_close(&ri);
}

struct bad_hdr {
	enum ev_kind kind;
	uint8_t byte0;
};

ParameterizedTestParameters(tmf, malformed_pdu)
{
	static struct bad_hdr cases[] = {
		{ EV_IO_URING, OP_REJECT }, { EV_EPOLL, OP_REJECT },
		{ EV_EPOLL, OP_SCSI_RSP }, { EV_EPOLL, 0x80 | OP_NOP_OUT },
		{ EV_EPOLL, 0x07 }, { EV_IO_URING, 0x1f },
	};
	return cr_make_param_array(struct bad_hdr, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct bad_hdr *c, tmf, malformed_pdu, .fini = srv_down,
		  .timeout = 60)
{
	uint8_t bad[BHS_LEN] = { 0 }, a[BLK], rd[BLK];
	struct ri ra, rb, rc_;
	struct ri_pdu p;
	int rc;

	/* no NOP pings: only the bad header can close the connection */
	srv_up(c->kind, 0, 0);
	login(&ra);
	login(&rb);
	fill(a, sizeof(a), 5);
	write_sync(&rb, 3, a, 1);

	bad[BHS_OPCODE] = c->byte0;
	bad[BHS_FLAGS] = BHS_F;
	put_be32(bad + BHS_ITT, 0x4242);
	put_be32(bad + BHS_CMDSN, ra.cmdsn);
	cr_assert_eq(ri_send(&ra, bad, NULL, 0), 0);
	ra.answer_pings = false;
	do {
		rc = ri_recv(&ra, &p, 10000);
		/* a Reject may come first; nothing else */
		if (rc == 0)
			cr_assert(p.opcode == OP_REJECT ||
				  (p.opcode == OP_NOP_IN && p.itt == RSVD_TAG),
				  "got %s", pdu_opcode_name(p.opcode));
	} while (rc == 0);
	cr_assert(rc == -EPIPE || rc == -ECONNRESET,
		  "byte 0 = 0x%02x: connection not closed (rc %d)", c->byte0,
		  rc);
	ri_close(&ra);

	/* the other session is unaffected */
	memset(rd, 0, sizeof(rd));
	cr_assert_eq(read_sync(&rb, 1, 3, rd, 1), 0);
	cr_assert_eq(memcmp(rd, a, sizeof(a)), 0);
	/* and new sessions are accepted */
	login(&rc_);
	cr_assert_eq(read_sync(&rc_, 1, 3, rd, 1), 0);
	cr_assert_eq(memcmp(rd, a, sizeof(a)), 0);
	ri_close(&rc_);
	ri_close(&rb);
}

ParameterizedTestParameters(tmf, unsupported_cdb)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, tmf, unsupported_cdb, .fini = srv_down,
		  .timeout = 60)
{
	static const uint64_t luns[] = { 1, 0 };
	uint8_t cdb[16] = { 0xff }, rd[BLK];
	struct ri_result r;
	struct ri ri;

	srv_up(*kind, 1, 1);
	login(&ri);
	for (size_t i = 0; i < ARRAY_SIZE(luns); i++) {
		uint32_t itt = ri_scsi_cmd(&ri, luns[i], cdb, 16, 0, 0, NULL,
					   0, NULL);

		cr_assert_eq(ri_wait_cmd(&ri, itt, NULL, 0, &r, 3000, NULL), 0);
		cr_assert_eq(r.status, 0x02, "LUN %llu: status 0x%x",
			     (unsigned long long)luns[i], r.status);
		cr_assert_eq(r.sense_key, 0x5);		/* ILLEGAL REQUEST */
		cr_assert_eq(r.asc, 0x20);	/* INVALID COMMAND OPERATION CODE */
		cr_assert_eq(r.ascq, 0x00);
	}
	/* a read of 0xff... with data expected: still the same sense, and
	 * the residual covers everything */
	{
		uint32_t itt = ri_scsi_cmd(&ri, 1, cdb, 16, CMD_R, BLK, NULL, 0,
					   NULL);

		cr_assert_eq(ri_wait_cmd(&ri, itt, rd, sizeof(rd), &r, 3000,
					 NULL), 0);
		cr_assert_eq(r.status, 0x02);
		cr_assert_eq(r.sense_key, 0x5);
		cr_assert_eq(r.asc, 0x20);
		cr_assert_eq(r.data_len, 0u);
		cr_assert_eq(r.rsp_flags & RSP_U, RSP_U);
		cr_assert_eq(r.resid, (uint32_t)BLK);
	}
	cr_assert_eq(read_sync(&ri, 1, 0, rd, 1), 0);
	ri_close(&ri);
}

/* What a WRITE waiting for solicited data was asked for. */
struct r2t_seen {
	uint32_t itt, cmdsn, ttt, off, len;
};

/*
 * Sends a WRITE(10) of 16 blocks at @lba on LUN 1 from @data, with the
 * first block as immediate data (F set, so the rest comes by R2T), and
 * reads back the R2T.
 */
static struct r2t_seen write_awaiting_r2t(struct ri *ri, uint32_t lba,
					  const uint8_t *data)
{
	struct r2t_seen w;
	struct ri_pdu p;
	uint8_t cdb[10];

	ri_cdb_rw10(cdb, true, lba, 16);
	w.itt = ri_scsi_cmd(ri, 1, cdb, 10, CMD_W, 16 * BLK, data, BLK,
			    &w.cmdsn);
	cr_assert_eq(ri_recv(ri, &p, 3000), 0);
	cr_assert_eq(p.opcode, OP_R2T, "got %s", pdu_opcode_name(p.opcode));
	w.ttt = get_be32(p.bhs + BHS_TTT);
	w.off = get_be32(p.bhs + BHS_BUFOFF);
	w.len = get_be32(p.bhs + BHS_RESID);
	cr_assert_eq(p.itt, w.itt);
	return w;
}

ParameterizedTestParameters(tmf, abort_task_awaiting_data)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * ABORT TASK of a WRITE that waits for solicited data: the R2T's data
 * arriving after the abort is dropped, and no response follows.
 */
ParameterizedTest(enum ev_kind *kind, tmf, abort_task_awaiting_data,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t a[16 * BLK], rd[16 * BLK];
	struct r2t_seen w;
	struct ri ri;
	uint32_t tmf;

	srv_up(*kind, 1, 1);
	login(&ri);
	fill(a, sizeof(a), 11);
	write_sync(&ri, 256, a, 16);

	/* 8 KiB write, first 512 bytes immediate, F set: the rest by R2T */
	memset(rd, 0xee, sizeof(rd));
	w = write_awaiting_r2t(&ri, 256, rd);
	cr_assert_eq(w.off, (uint32_t)BLK);
	cr_assert_eq(w.len, sizeof(rd) - BLK);

	tmf = ri_tmf(&ri, TMF_ABORT_TASK, 1, w.itt, w.cmdsn);
	cr_assert_eq(tmf_response(&ri, tmf, &w.itt, 1), TMF_RSP_COMPLETE);

	/* the solicited data, now for a task that no longer exists */
	cr_assert_eq(ri_data_out(&ri, 1, w.itt, w.ttt, 0, w.off, rd + w.off,
				 w.len), 0);
	sync_no_response(&ri, &w.itt, 1, 200);

	/* nothing of the aborted write reached the store */
	memset(rd, 0, sizeof(rd));
	cr_assert_eq(read_sync(&ri, 1, 256, rd, 16), 0);
	cr_assert_eq(memcmp(rd, a, sizeof(a)), 0);
	ri_close(&ri);
}

ParameterizedTestParameters(tmf, data_out_out_of_sequence)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };

	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * A Data-Out with the wrong DataSN (ERL 0: no recovery within the command)
 * fails that command with ABORTED COMMAND / DATA PHASE ERROR; nothing of
 * it reaches the store, and the session goes on.
 */
ParameterizedTest(enum ev_kind *kind, tmf, data_out_out_of_sequence,
		  .fini = srv_down, .timeout = 30)
{
	uint8_t a[16 * BLK], rd[16 * BLK];
	struct ri ri = { .answer_pings = true };
	struct ri_result res;
	struct r2t_seen w;

	srv_up(*kind, 1, 1);
	login(&ri);
	fill(a, sizeof(a), 23);
	write_sync(&ri, 512, a, 16);

	memset(rd, 0x5a, sizeof(rd));
	w = write_awaiting_r2t(&ri, 512, rd);
	/* DataSN 27 where it must be 0 */
	cr_assert_eq(ri_data_out(&ri, 1, w.itt, w.ttt, 27, w.off, rd + w.off,
				 w.len), 0);
	cr_assert_eq(ri_wait_cmd(&ri, w.itt, NULL, 0, &res, 3000, NULL), 0);
	cr_assert_eq(res.status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(res.sense_key, 0x0b);
	cr_assert_eq(res.asc, 0x4b);
	cr_assert_eq(res.ascq, 0x00);

	/* the store still holds the old data and the session works */
	memset(rd, 0, sizeof(rd));
	cr_assert_eq(read_sync(&ri, 1, 512, rd, 16), 0);
	cr_assert_eq(memcmp(rd, a, sizeof(a)), 0);
	ri_close(&ri);
}

ParameterizedTestParameters(tmf, lun_removed_under_session)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };

	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * A LUN removed with force while a session uses it stops being served at
 * once (LOGICAL UNIT NOT SUPPORTED), and a new LU added at the same LUN is
 * the one the session then reaches.
 */
ParameterizedTest(enum ev_kind *kind, tmf, lun_removed_under_session,
		  .fini = srv_down, .timeout = 30)
{
	struct core_lun_spec ram = { .type = SCSI_LU_DISK, .backing = "ram",
				     .size = 8 * MIB };
	uint8_t a[4 * BLK], rd[4 * BLK], cdb[10];
	struct ri ri = { .answer_pings = true };
	struct core_err err = { "" };
	struct ri_result res;
	uint32_t itt;

	srv_up(*kind, 1, 1);
	login(&ri);
	fill(a, sizeof(a), 31);
	write_sync(&ri, 8, a, 4);
	cr_assert_eq(read_sync(&ri, 1, 8, rd, 4), 0);

	cr_assert_eq(core_lun_remove(IQN, 1, true, &err), 0, "%s", err.msg);
	ri_cdb_rw10(cdb, false, 8, 4);
	itt = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_R, sizeof(rd), NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&ri, itt, rd, sizeof(rd), &res, 3000, NULL), 0);
	cr_assert_eq(res.status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(res.sense_key, 0x05);
	cr_assert_eq(res.asc, 0x25, "asc 0x%02x", res.asc);

	/* a fresh (zeroed) RAM LU at the same LUN is what the session sees */
	cr_assert_eq(core_lun_add(IQN, 1, &ram, &err), 0, "%s", err.msg);
	memset(rd, 0xff, sizeof(rd));
	cr_assert_eq(read_sync(&ri, 1, 8, rd, 4), 0);
	for (size_t i = 0; i < sizeof(rd); i++)
		cr_assert_eq(rd[i], 0, "byte %zu of the new LU is 0x%02x", i, rd[i]);
	ri_close(&ri);
}

/* --- other sessions, other reactors ---------------------------------------- */

/* The reactor a session of @initiator_port's ISID runs on, from core. */
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

/* The response to @itt (status only), within 5 s. */
static struct ri_result wait_result(struct ri *ri, uint32_t itt)
{
	struct ri_result r;

	cr_assert_eq(ri_wait_cmd(ri, itt, NULL, 0, &r, 5000, NULL), 0,
		     "no response for ITT 0x%x", itt);
	return r;
}

ParameterizedTestParameters(tmf, reset_from_other_session)
{
	static struct tmf_case cases[] = {
		{ EV_IO_URING, TMF_LUN_RESET }, { EV_EPOLL, TMF_LUN_RESET },
		{ EV_IO_URING, TMF_TARGET_WARM_RESET },
		{ EV_EPOLL, TMF_TARGET_WARM_RESET },
	};
	return cr_make_param_array(struct tmf_case, cases, ARRAY_SIZE(cases));
}

/*
 * SAM-5 §6.3 / §7: a reset from session B aborts session A's task on the
 * LU (A on the other reactor): B's answer waits for A's I/O; A's command
 * then ends with TASK ABORTED (TAS=1), and A sees the reset's unit
 * attention; B's newer write is what stays.
 */
ParameterizedTest(struct tmf_case *tc, tmf, reset_from_other_session,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t b[8 * BLK], c2[8 * BLK], rd[8 * BLK], cdb[10];
	struct ri ra, rb;
	struct ri_result r;
	uint32_t x, tmf;

	srv_up(tc->kind, 1, 1);
	login(&ra);
	login(&rb);
	cr_assert_neq(session_reactor(ra.tsih), session_reactor(rb.tsih),
		      "the two sessions share a reactor");
	fill(b, sizeof(b), 41);
	fill(c2, sizeof(c2), 42);

	bs_ram_hold(srv.bs, true);
	ri_cdb_rw10(cdb, true, 300, 8);
	x = ri_scsi_cmd(&ra, 1, cdb, 10, CMD_W, sizeof(b), b, sizeof(b), NULL);
	wait_held(&ra, 1);

	tmf = ri_tmf(&rb, tc->function, 1, RSVD_TAG, 0);
	expect_silence(&rb, 600, "reset answered while A's write is in flight");
	expect_silence(&ra, 100, "A told before its write completed");

	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	cr_assert_eq(tmf_response(&rb, tmf, NULL, 0), TMF_RSP_COMPLETE);
	r = wait_result(&ra, x);
	cr_assert_eq(r.status, SAM_STAT_TASK_ABORTED, "A's status 0x%x",
		     r.status);

	write_sync(&rb, 300, c2, 8);
	/* A: the reset's unit attention first (29/03), then the new data */
	ri_cdb_rw10(cdb, false, 300, 8);
	x = ri_scsi_cmd(&ra, 1, cdb, 10, CMD_R, sizeof(rd), NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&ra, x, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(r.sense_key, 0x6);
	cr_assert_eq(r.asc, 0x29);
	cr_assert_eq(read_sync(&ra, 1, 300, rd, 8), 0);
	cr_assert_eq(memcmp(rd, c2, sizeof(c2)), 0);
	ri_close(&ra);
	ri_close(&rb);
}

/* --- session reinstatement ------------------------------------------------- */

struct login_job {
	struct ri *ri;
	int port;
	int rc;
	atomic_bool done;
};

static void *login_thread(void *arg)
{
	struct login_job *j = arg;

	j->rc = ri_login(j->ri, IQN, INITIATOR);
	atomic_store(&j->done, true);
	return NULL;
}

ParameterizedTestParameters(tmf, reinstatement_waits)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * RFC 7143 §6.3.5: a login with the same InitiatorName and ISID (TSIH 0)
 * reinstates the session. Its answer waits until the old session's held
 * write is gone; then the old connection is closed and data written on
 * the new session is what stays.
 */
ParameterizedTest(enum ev_kind *kind, tmf, reinstatement_waits,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t b[8 * BLK], c2[8 * BLK], rd[8 * BLK], cdb[10];
	struct login_job job = { 0 };
	struct ri ra, rn;
	struct ri_pdu p;
	pthread_t th;
	int rc;

	srv_up(*kind, 1, 1);
	cr_assert_eq(ri_connect(&ra, srv.port), 0);
	ra.isid_q = 0x5a;
	cr_assert_eq(ri_login(&ra, IQN, INITIATOR), 0);
	fill(b, sizeof(b), 61);
	fill(c2, sizeof(c2), 62);

	bs_ram_hold(srv.bs, true);
	ri_cdb_rw10(cdb, true, 400, 8);
	ri_scsi_cmd(&ra, 1, cdb, 10, CMD_W, sizeof(b), b, sizeof(b), NULL);
	wait_held(&ra, 1);

	cr_assert_eq(ri_connect(&rn, srv.port), 0);
	rn.isid_q = 0x5a;
	job.ri = &rn;
	cr_assert_eq(pthread_create(&th, NULL, login_thread, &job), 0);
	usleep(800 * 1000);
	cr_assert(!atomic_load(&job.done),
		  "reinstating login answered while the old write is in flight");
	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	pthread_join(th, NULL);
	cr_assert_eq(job.rc, 0, "reinstating login: %d", job.rc);

	/* the old connection is gone, without an answer for its write */
	ra.answer_pings = false;
	do
		rc = ri_recv(&ra, &p, 5000);
	while (rc == 0 && p.opcode == OP_NOP_IN);
	cr_assert(rc == -EPIPE || rc == -ECONNRESET,
		  "old connection still open (rc %d, %s)", rc,
		  rc == 0 ? pdu_opcode_name(p.opcode) : "-");
	ri_close(&ra);

	write_sync(&rn, 400, c2, 8);
	cr_assert_eq(read_sync(&rn, 1, 400, rd, 8), 0);
	cr_assert_eq(memcmp(rd, c2, sizeof(c2)), 0);
	ri_close(&rn);
}

/* --- tmf_timeout ----------------------------------------------------------- */

ParameterizedTestParameters(tmf, timeout_stalls_lu)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * The aborted write stays stuck past tmf_timeout: the LU answers NOT
 * READY from then on, the TMF is answered FUNCTION REJECTED (never
 * "complete" while the write can still land), and the LU serves again
 * once the write completed.
 */
ParameterizedTest(enum ev_kind *kind, tmf, timeout_stalls_lu,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t b[8 * BLK], rd[8 * BLK], cdb[10];
	struct ri_result r;
	uint32_t x, xsn, tmf, itt;
	struct ri ri;

	srv.tmf_timeout = 1;
	srv_up(*kind, 1, 1);
	login(&ri);
	fill(b, sizeof(b), 71);
	bs_ram_hold(srv.bs, true);
	ri_cdb_rw10(cdb, true, 500, 8);
	x = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_W, sizeof(b), b, sizeof(b), &xsn);
	wait_held(&ri, 1);
	tmf = ri_tmf(&ri, TMF_ABORT_TASK, 1, x, xsn);
	cr_assert_eq(tmf_response(&ri, tmf, &x, 1), TMF_RSP_REJECTED);

	ri_cdb_rw10(cdb, false, 500, 8);
	itt = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_R, sizeof(rd), NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&ri, itt, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(r.sense_key, 0x2, "sense key %x", r.sense_key);
	cr_assert_eq(r.asc, 0x04);
	cr_assert_eq(r.data_len, 0u);

	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	sync_no_response(&ri, &x, 1, 200);
	cr_assert_eq(read_sync(&ri, 1, 500, rd, 8), 0);
	ri_close(&ri);
}

static uint32_t cmd_attr(struct ri *ri, bool write, uint32_t lba,
			 const uint8_t *blk, uint8_t attr);

/* --- forced LUN removal ------------------------------------------------------ */

struct remove_job {
	int rc;
	atomic_bool done;
	char msg[256];
};

static void *remove_thread(void *arg)
{
	struct remove_job *j = arg;
	struct core_err err = { "" };

	j->rc = core_lun_remove(IQN, 1, true, &err);
	snprintf(j->msg, sizeof(j->msg), "%s", err.msg);
	atomic_store(&j->done, true);
	return NULL;
}

ParameterizedTestParameters(tmf, forced_lun_removal)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * `lun remove --force` with one task in the store and one waiting for its
 * Data-Out: the removal waits for the store I/O, both tasks end TASK
 * ABORTED, late data for the second is dropped, the LUN then answers
 * LOGICAL UNIT NOT SUPPORTED and LUN 0 is unaffected. (ASan: no use of the
 * freed LU.)
 */
ParameterizedTest(enum ev_kind *kind, tmf, forced_lun_removal,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t b[16 * BLK], rd[BLK], cdb[10];
	uint8_t tur[6] = { 0 };
	struct remove_job job = { 0 };
	struct ri_result r;
	struct r2t_seen w;
	struct ri ri;
	uint32_t x, q, itt;
	pthread_t th;

	srv_up(*kind, 1, 1);
	login(&ri);
	fill(b, sizeof(b), 81);
	w = write_awaiting_r2t(&ri, 600, b);
	bs_ram_hold(srv.bs, true);
	ri_cdb_rw10(cdb, true, 700, 8);
	x = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_W, 8 * BLK, b, 8 * BLK, NULL);
	wait_held(&ri, 1);
	/* and an ORDERED write queued behind it (dormant, data in) */
	q = cmd_attr(&ri, true, 800, b, 2);
	expect_silence(&ri, 200, "the ORDERED write ran");
	cr_assert_eq(bs_ram_held(srv.bs), 1);

	cr_assert_eq(pthread_create(&th, NULL, remove_thread, &job), 0);
	/* the tasks with no I/O (waiting for data, or dormant): TASK
	 * ABORTED at once */
	r = wait_result(&ri, w.itt);
	cr_assert_eq(r.status, SAM_STAT_TASK_ABORTED);
	r = wait_result(&ri, q);
	cr_assert_eq(r.status, SAM_STAT_TASK_ABORTED);
	usleep(500 * 1000);
	cr_assert(!atomic_load(&job.done),
		  "LUN removed while a write to it is in the store");
	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	pthread_join(th, NULL);
	cr_assert_eq(job.rc, 0, "%s", job.msg);
	r = wait_result(&ri, x);
	cr_assert_eq(r.status, SAM_STAT_TASK_ABORTED);

	/* the R2T's data, for a task that is gone */
	cr_assert_eq(ri_data_out(&ri, 1, w.itt, w.ttt, 0, w.off, b + w.off,
				 w.len), 0);
	itt = ri_scsi_cmd(&ri, 1, (uint8_t[10]){ 0x28, 0, 0, 0, 0, 1, 0, 0, 1 },
			  10, CMD_R, BLK, NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&ri, itt, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(r.asc, 0x25, "asc 0x%02x", r.asc);
	itt = ri_scsi_cmd(&ri, 0, tur, 6, 0, 0, NULL, 0, NULL);
	r = wait_result(&ri, itt);
	cr_assert_eq(r.status, 0, "LUN 0: status 0x%x", r.status);
	ri_close(&ri);
}

/* --- short and failed store I/O, end to end ---------------------------------- */

struct short_case {
	enum ev_kind kind;
	char dir[16];		/* where the LUN's file lives (a copy:
				 * Criterion re-executes for each case) */
};

ParameterizedTestParameters(tmf, file_shrunk_under_lun)
{
	static struct short_case cases[] = {
		{ EV_IO_URING, "/var/tmp" }, { EV_EPOLL, "/var/tmp" },
		{ EV_IO_URING, "/dev/shm" }, { EV_EPOLL, "/dev/shm" },
	};
	return cr_make_param_array(struct short_case, cases, ARRAY_SIZE(cases));
}

/*
 * A file LUN whose file shrinks under it (truncated by someone else): a
 * READ past the new end is a MEDIUM ERROR with no data (never GOOD with
 * what a recycled buffer held), a READ before it still returns the data.
 * On both loops, and on tmpfs (the inline path).
 */
ParameterizedTest(struct short_case *sc, tmf, file_shrunk_under_lun,
		  .fini = srv_down, .timeout = 60)
{
	struct core_lun_spec spec = { .type = SCSI_LU_DISK, .create = true,
				      .size = 4 * MIB };
	uint8_t a[8 * BLK], rd[8 * BLK], cdb[10];
	struct core_err err = { "" };
	struct ri_result r;
	char path[128];
	uint32_t itt;
	struct ri ri;

	snprintf(path, sizeof(path), "%s/ringtgt-shrink-%d.img", sc->dir,
		 (int)getpid());
	spec.path = path;
	srv_up(sc->kind, 1, 1);
	cr_assert_eq(core_lun_add(IQN, 2, &spec, &err), 0, "%s", err.msg);
	login(&ri);
	fill(a, sizeof(a), 91);
	/* fill the buffer cache with recognisable bytes first */
	for (uint32_t lba = 0; lba < 8192; lba += 8 * 16) {
		uint8_t cdbw[10];
		struct ri_result rw;

		ri_cdb_rw10(cdbw, true, lba, 8);
		itt = ri_scsi_cmd(&ri, 2, cdbw, 10, CMD_W, sizeof(a), a,
				  sizeof(a), NULL);
		cr_assert_eq(ri_wait_cmd(&ri, itt, NULL, 0, &rw, 5000, NULL), 0);
		cr_assert_eq(rw.status, 0);
	}
	cr_assert_eq(truncate(path, 1 * MIB), 0);

	ri_cdb_rw10(cdb, false, 4096, 8);	/* at 2 MiB: past the end */
	itt = ri_scsi_cmd(&ri, 2, cdb, 10, CMD_R, sizeof(rd), NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&ri, itt, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, SAM_STAT_CHECK_CONDITION, "status 0x%x",
		     r.status);
	cr_assert_eq(r.sense_key, 0x3);
	cr_assert_eq(r.asc, 0x11);
	cr_assert_eq(r.data_len, 0u, "Data-In for a failed read");

	ri_cdb_rw10(cdb, false, 0, 8);
	itt = ri_scsi_cmd(&ri, 2, cdb, 10, CMD_R, sizeof(rd), NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&ri, itt, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(memcmp(rd, a, sizeof(a)), 0);
	ri_close(&ri);
	unlink(path);
}

/* --- allocation failures ------------------------------------------------------ */

ParameterizedTestParameters(tmf, allocation_failures)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * Each exceptional path has a defined outcome and the session goes on:
 * no task or no buffer for a command -> TASK SET FULL; no memory for a
 * task management function -> FUNCTION REJECTED (nothing aborted); a
 * connection hand-off that cannot be posted -> that connection closes,
 * the next one works.
 */
ParameterizedTest(enum ev_kind *kind, tmf, allocation_failures,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t a[8 * BLK], rd[8 * BLK], cdb[10];
	struct ri_result r;
	uint32_t itt, tmf;
	struct ri ri, rx;

	srv_up(*kind, 1, 1);
	login(&ri);
	fill(a, sizeof(a), 101);
	write_sync(&ri, 0, a, 8);

	for (int site = 0; site < 2; site++) {
		fault_arm(site == 0 ? FAULT_TASK_GET : FAULT_IOBUF_ALLOC, 1);
		ri_cdb_rw10(cdb, false, 0, 8);
		itt = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_R, sizeof(rd), NULL, 0,
				  NULL);
		cr_assert_eq(ri_wait_cmd(&ri, itt, rd, sizeof(rd), &r, 5000,
					 NULL), 0);
		cr_assert_eq(r.status, SAM_STAT_TASK_SET_FULL,
			     "site %d: status 0x%x", site, r.status);
		cr_assert_eq(read_sync(&ri, 1, 0, rd, 8), 0);
		cr_assert_eq(memcmp(rd, a, sizeof(a)), 0);
	}

	fault_arm(FAULT_TMF_ALLOC, 1);
	tmf = ri_tmf(&ri, TMF_LUN_RESET, 1, RSVD_TAG, 0);
	cr_assert_eq(tmf_response(&ri, tmf, NULL, 0), TMF_RSP_REJECTED);
	/* nothing was reset: no unit attention */
	ri_cdb_rw10(cdb, false, 0, 8);
	itt = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_R, sizeof(rd), NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&ri, itt, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, 0, "status 0x%x key %x", r.status, r.sense_key);

	fault_arm(FAULT_POST_ALLOC, 1);
	cr_assert_eq(ri_connect(&rx, srv.port), 0);
	cr_assert_neq(ri_login(&rx, IQN, INITIATOR), 0,
		      "login on a connection that was never handed over");
	ri_close(&rx);
	login(&rx);
	cr_assert_eq(read_sync(&rx, 1, 0, rd, 8), 0);
	ri_close(&rx);
	ri_close(&ri);
}

/* --- the file store on a frozen file system ----------------------------------- */

static struct {
	char dir[64], img[96], mnt[96], lun[128];
	bool mounted, frozen;
	pthread_t watchdog;
	bool watchdog_on;
} frz;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void thaw(void)
{
	if (frz.frozen && sh("fsfreeze -u %s", frz.mnt) == 0)
		frz.frozen = false;
}

/* Whatever happens to the test, the file system is thawed within 30 s. */
static void *watchdog_main(void *arg)
{
	(void)arg;
	sleep(30);
	if (frz.frozen)
		sh("fsfreeze -u %s", frz.mnt);
	return NULL;
}

static void frz_down(void)
{
	thaw();
	srv_down();
	if (frz.mounted)
		sh("umount %s", frz.mnt);
	if (frz.dir[0])
		sh("rm -rf %s", frz.dir);
}

/* An ext4 file system on a loop device with LUN 2's file on it. */
static void frz_up(void)
{
	struct core_lun_spec spec = { .type = SCSI_LU_DISK, .create = true,
				      .size = 16 * MIB };
	struct core_err err = { "" };

	snprintf(frz.dir, sizeof(frz.dir), "/var/tmp/ringtgt-frz-XXXXXX");
	cr_assert_not_null(mkdtemp(frz.dir));
	snprintf(frz.img, sizeof(frz.img), "%s/fs.img", frz.dir);
	snprintf(frz.mnt, sizeof(frz.mnt), "%s/mnt", frz.dir);
	snprintf(frz.lun, sizeof(frz.lun), "%s/lun.img", frz.mnt);
	cr_assert_eq(sh("truncate -s 64M %s && mkfs.ext4 -q -F %s >/dev/null "
			"&& mkdir %s", frz.img, frz.img, frz.mnt), 0,
		     "cannot make an ext4 image (mkfs.ext4 from e2fsprogs)");
	cr_assert_eq(sh("mount -o loop,noatime %s %s", frz.img, frz.mnt), 0,
		     "cannot loop-mount %s (needs root and /dev/loop*)",
		     frz.img);
	frz.mounted = true;
	spec.path = frz.lun;
	cr_assert_eq(core_lun_add(IQN, 2, &spec, &err), 0, "%s", err.msg);
	cr_assert_eq(pthread_create(&frz.watchdog, NULL, watchdog_main, NULL),
		     0);
	pthread_detach(frz.watchdog);
}

ParameterizedTestParameters(tmf, frozen_file_store)
{
	static struct tmf_case cases[] = {
		{ EV_IO_URING, TMF_ABORT_TASK }, { EV_EPOLL, TMF_ABORT_TASK },
		{ EV_IO_URING, TMF_LUN_RESET }, { EV_EPOLL, TMF_LUN_RESET },
	};
	return cr_make_param_array(struct tmf_case, cases, ARRAY_SIZE(cases));
}

/*
 * The issue as a user met it: a WRITE held in the kernel (its file on a
 * frozen ext4). No answer to ABORT TASK / LU RESET while it is stuck;
 * "complete" soon after the thaw; and the write sent after the answer is
 * what the blocks hold.
 */
ParameterizedTest(struct tmf_case *tc, tmf, frozen_file_store,
		  .fini = frz_down, .timeout = 90)
{
	uint8_t a[8 * BLK], b[8 * BLK], c2[8 * BLK], rd[8 * BLK], cdb[10];
	struct ri_result r;
	uint32_t x, xsn, tmf, itt;
	struct ri ri;

	srv_up(tc->kind, 1, 1);
	frz_up();
	login(&ri);
	fill(a, sizeof(a), 111);
	fill(b, sizeof(b), 112);
	fill(c2, sizeof(c2), 113);
	ri_cdb_rw10(cdb, true, 64, 8);
	itt = ri_scsi_cmd(&ri, 2, cdb, 10, CMD_W, sizeof(a), a, sizeof(a), NULL);
	r = wait_result(&ri, itt);
	cr_assert_eq(r.status, 0);

	cr_assert_eq(sh("fsfreeze -f %s", frz.mnt), 0, "fsfreeze -f failed");
	frz.frozen = true;
	x = ri_scsi_cmd(&ri, 2, cdb, 10, CMD_W, sizeof(b), b, sizeof(b), &xsn);
	expect_silence(&ri, 500, "a write to a frozen file system finished");
	tmf = ri_tmf(&ri, tc->function, 2,
		     tc->function == TMF_ABORT_TASK ? x : RSVD_TAG,
		     tc->function == TMF_ABORT_TASK ? xsn : 0);
	expect_silence(&ri, 800, "answer while the write is stuck in the kernel");

	thaw();
	cr_assert(!frz.frozen, "fsfreeze -u failed");
	cr_assert_eq(tmf_response(&ri, tmf, &x, 1), TMF_RSP_COMPLETE);
	sync_no_response(&ri, &x, 1, 200);

	for (int attempt = 0; attempt < 2; attempt++) {
		itt = ri_scsi_cmd(&ri, 2, cdb, 10, CMD_W, sizeof(c2), c2,
				  sizeof(c2), NULL);
		r = wait_result(&ri, itt);
		if (!(r.status == 2 && r.sense_key == 6))
			break;	/* retried once after the reset's UA */
	}
	cr_assert_eq(r.status, 0);
	ri_cdb_rw10(cdb, false, 64, 8);
	itt = ri_scsi_cmd(&ri, 2, cdb, 10, CMD_R, sizeof(rd), NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&ri, itt, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(memcmp(rd, c2, sizeof(c2)), 0,
		     "the aborted write landed after the answer");
	ri_close(&ri);
}

/* --- the CmdSN window -------------------------------------------------------- */

/* A non-immediate WRITE(10) of one block with an explicit CmdSN. */
static uint32_t write_at_cmdsn(struct ri *ri, uint32_t lba, const uint8_t *blk,
			       uint32_t cmdsn, bool immediate)
{
	uint8_t b[BHS_LEN] = { 0 }, cdb[10];
	uint32_t itt = ri->itt++;

	ri_cdb_rw10(cdb, true, lba, 1);
	b[BHS_OPCODE] = OP_SCSI_CMD | (immediate ? BHS_I : 0);
	b[BHS_FLAGS] = BHS_F | CMD_W | 0x01;
	put_be64(b + BHS_LUN, ri_lun(1));
	put_be32(b + BHS_ITT, itt);
	put_be32(b + BHS_TTT, BLK);
	put_be32(b + BHS_CMDSN, cmdsn);
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
	memcpy(b + BHS_CDB, cdb, 10);
	cr_assert_eq(ri_send(ri, b, blk, BLK), 0);
	return itt;
}

ParameterizedTestParameters(tmf, cmdsn_window)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * RFC 7143 §4.2.2.1 with a window of 4: a command beyond MaxCmdSN and one
 * below ExpCmdSN are never executed; an immediate command is, even with
 * the window full; the window moves on as the held commands are answered
 * (MaxCmdSN grows once their tasks are free, never before).
 */
ParameterizedTest(enum ev_kind *kind, tmf, cmdsn_window, .fini = srv_down,
		  .timeout = 60)
{
	uint8_t blk[BLK], old[BLK], rd[BLK];
	uint32_t held[4], n0, beyond, below, imm;
	struct ri_result r;
	struct ri ri;

	srv.cmd_window = 4;
	srv_up(*kind, 1, 1);
	login(&ri);
	n0 = ri.cmdsn;
	cr_assert_eq(ri.max_cmdsn, n0 + 3, "MaxCmdSN %u for ExpCmdSN %u",
		     ri.max_cmdsn, n0);
	memset(old, 0x11, sizeof(old));
	for (uint32_t lba = 800; lba < 803; lba++) {
		write_at_cmdsn(&ri, lba, old, ri.cmdsn, false);
		ri.cmdsn++;
		cr_assert_eq(ri_wait_cmd(&ri, ri.itt - 1, NULL, 0, &r, 5000,
					 NULL), 0);
	}
	n0 = ri.cmdsn;

	bs_ram_hold(srv.bs, true);
	memset(blk, 0x22, sizeof(blk));
	for (int i = 0; i < 4; i++)
		held[i] = write_at_cmdsn(&ri, 900 + i, blk, n0 + i, false);
	wait_held(&ri, 4);
	{
		/* a ping's answer carries the current MaxCmdSN */
		uint32_t ping = ri_ping(&ri);
		struct ri_pdu p;

		cr_assert_eq(ri_recv(&ri, &p, 5000), 0);
		cr_assert(p.opcode == OP_NOP_IN && p.itt == ping);
	}
	cr_assert(sn_lt(ri.max_cmdsn, n0 + 4), "MaxCmdSN %u opened before "
		  "any task was free", ri.max_cmdsn);

	memset(blk, 0x33, sizeof(blk));
	beyond = write_at_cmdsn(&ri, 800, blk, n0 + 4, false);
	below = write_at_cmdsn(&ri, 801, blk, n0 - 2, false);
	/* immediate: carries the next CmdSN and does not take it */
	imm = write_at_cmdsn(&ri, 802, blk, n0 + 4, true);
	wait_held(&ri, 5);

	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 5);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(ri_wait_cmd(&ri, held[i], NULL, 0, &r, 5000, NULL),
			     0);
		cr_assert_eq(r.status, 0);
	}
	cr_assert_eq(ri_wait_cmd(&ri, imm, NULL, 0, &r, 5000, NULL), 0);
	cr_assert_eq(r.status, 0);
	/* the window opened as the tasks were freed (maybe by a NOP-In) */
	{
		uint64_t end = ri_now_ms() + 5000;

		while (sn_lt(ri.max_cmdsn, n0 + 4 + 3) && ri_now_ms() < end) {
			struct ri_pdu p;
			int rc = ri_recv(&ri, &p, 100);

			if (rc == -ETIMEDOUT)
				continue;
			cr_assert_eq(rc, 0);
			/* only a window update (RFC 7143 §11.19) may come */
			cr_assert(p.opcode == OP_NOP_IN && p.itt == RSVD_TAG,
				  "unexpected %s ITT 0x%x",
				  pdu_opcode_name(p.opcode), p.itt);
		}
	}
	cr_assert_eq(ri.max_cmdsn, n0 + 4 + 3, "MaxCmdSN %u, want %u",
		     ri.max_cmdsn, n0 + 7);
	(void)beyond;
	(void)below;
	ri.cmdsn = n0 + 4;
	cr_assert_eq(read_sync(&ri, 1, 800, rd, 1), 0);
	cr_assert_eq(memcmp(rd, old, BLK), 0, "a command beyond MaxCmdSN ran");
	cr_assert_eq(read_sync(&ri, 1, 801, rd, 1), 0);
	cr_assert_eq(memcmp(rd, old, BLK), 0, "a command below ExpCmdSN ran");
	cr_assert_eq(read_sync(&ri, 1, 802, rd, 1), 0);
	cr_assert_eq(memcmp(rd, blk, BLK), 0, "the immediate command did not run");
	ri_close(&ri);
}

/* --- task attributes ------------------------------------------------------------ */

/* A non-immediate one-block command on LUN 1 with task attribute @attr. */
static uint32_t cmd_attr(struct ri *ri, bool write, uint32_t lba,
			 const uint8_t *blk, uint8_t attr)
{
	uint8_t b[BHS_LEN] = { 0 }, cdb[10];
	uint32_t itt = ri->itt++;

	ri_cdb_rw10(cdb, write, lba, 1);
	b[BHS_OPCODE] = OP_SCSI_CMD;
	b[BHS_FLAGS] = BHS_F | (write ? CMD_W : CMD_R) | attr;
	put_be64(b + BHS_LUN, ri_lun(1));
	put_be32(b + BHS_ITT, itt);
	put_be32(b + BHS_TTT, BLK);
	put_be32(b + BHS_CMDSN, ri->cmdsn++);
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
	memcpy(b + BHS_CDB, cdb, 10);
	cr_assert_eq(ri_send(ri, b, write ? blk : NULL, write ? BLK : 0), 0);
	return itt;
}

ParameterizedTestParameters(tmf, task_attributes)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * SAM-5 §8.6 with the store holding every request: an ORDERED task waits
 * for the SIMPLE one before it and holds back the SIMPLE one after it; a
 * HEAD OF QUEUE task starts at once. Watched at the store: what reaches
 * it, in which order.
 */
ParameterizedTest(enum ev_kind *kind, tmf, task_attributes, .fini = srv_down,
		  .timeout = 60)
{
	uint8_t blk[BLK], rd[BLK];
	uint32_t a, b, c3, d;
	struct ri_result r;
	struct ri ri;

	srv_up(*kind, 1, 1);
	login(&ri);
	memset(blk, 0x44, sizeof(blk));
	bs_ram_hold(srv.bs, true);
	a = cmd_attr(&ri, true, 1000, blk, 1);		/* SIMPLE */
	b = cmd_attr(&ri, true, 1001, blk, 2);		/* ORDERED */
	c3 = cmd_attr(&ri, false, 1000, NULL, 1);	/* SIMPLE */
	wait_held(&ri, 1);			/* only A reached the store */
	expect_silence(&ri, 300, "ORDERED started beside an older task");
	cr_assert_eq(bs_ram_held(srv.bs), 1);
	d = cmd_attr(&ri, false, 1003, NULL, 3);	/* HEAD OF QUEUE */
	wait_held(&ri, 2);

	/* A (and D) complete: B starts, C still waits for it */
	cr_assert_eq(bs_ram_release(srv.bs), 2);
	r = wait_result(&ri, a);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(ri_wait_cmd(&ri, d, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, 0);
	wait_held(&ri, 1);			/* B */
	expect_silence(&ri, 300, "a SIMPLE task passed an ORDERED one");
	cr_assert_eq(bs_ram_held(srv.bs), 1);

	/* B completes: C starts */
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	r = wait_result(&ri, b);
	cr_assert_eq(r.status, 0);
	wait_held(&ri, 1);			/* C */
	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	cr_assert_eq(ri_wait_cmd(&ri, c3, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, 0);
	cr_assert_eq(memcmp(rd, blk, BLK), 0);

	/* a SIMPLE task after a HEAD OF QUEUE one waits for it */
	bs_ram_hold(srv.bs, true);
	d = cmd_attr(&ri, false, 1003, NULL, 3);
	wait_held(&ri, 1);
	a = cmd_attr(&ri, false, 1004, NULL, 1);
	expect_silence(&ri, 300, "SIMPLE started beside an older HEAD OF QUEUE");
	cr_assert_eq(bs_ram_held(srv.bs), 1);
	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	cr_assert_eq(ri_wait_cmd(&ri, d, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(ri_wait_cmd(&ri, a, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, 0);
	ri_close(&ri);
}

/* --- RFC 7144 task management: QUERY TASK & co. ------------------------------ */

/* REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS on LUN 1: bytes 0-1. */
static uint16_t rstmf(struct ri *ri)
{
	uint8_t cdb[12] = { 0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0 };
	uint8_t d[4] = { 0 };
	struct ri_result r;
	uint32_t itt = ri_scsi_cmd(ri, 1, cdb, 12, CMD_R, 4, NULL, 0, NULL);

	cr_assert_eq(ri_wait_cmd(ri, itt, d, sizeof(d), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, 0, "REPORT SUPPORTED TMFs: status 0x%x", r.status);
	cr_assert_eq(r.data_len, 4u);
	return (uint16_t)(d[0] << 8 | d[1]);
}

/* The TMF Response to @itt: its response code and bytes 8-10. */
static int tmf_response_info(struct ri *ri, uint32_t itt, uint8_t info[3])
{
	struct ri_pdu p;
	int rc = ri_recv(ri, &p, 5000);

	cr_assert_eq(rc, 0, "no TMF Response (%d)", rc);
	cr_assert_eq(p.opcode, OP_TMF_RSP, "got %s", pdu_opcode_name(p.opcode));
	cr_assert_eq(p.itt, itt);
	memcpy(info, p.bhs + 8, 3);
	return p.bhs[BHS_B2];
}

ParameterizedTestParameters(tmf, rfc7144_functions)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * iSCSIProtocolLevel=2 (RFC 7144): QUERY TASK / QUERY TASK SET find a
 * held command (FUNCTION SUCCEEDED) and nothing once it is done;
 * QUERY ASYNCHRONOUS EVENT reports a pending unit attention without
 * clearing it; I_T NEXUS RESET waits for the held write and leaves
 * 29h/07h behind. At level 1 none of them is offered, and REPORT
 * SUPPORTED TASK MANAGEMENT FUNCTIONS says so in both cases.
 */
ParameterizedTest(enum ev_kind *kind, tmf, rfc7144_functions,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t b[8 * BLK], rd[8 * BLK], cdb[10], info[3];
	uint32_t x, xsn, tmf, itt;
	struct ri_result r;
	struct ri r1, r2, rb;

	srv_up(*kind, 1, 1);
	login(&r1);
	cr_assert_eq(r1.protocol_level, 1u);
	cr_assert_eq(rstmf(&r1), 0xda00, "level 1: 0x%04x", rstmf(&r1));
	tmf = ri_tmf(&r1, TMF_QUERY_TASK, 1, 0x1234, r1.cmdsn);
	cr_assert_eq(tmf_response(&r1, tmf, NULL, 0), TMF_RSP_NOT_SUPPORTED);

	cr_assert_eq(ri_connect(&r2, srv.port), 0);
	r2.level2 = true;
	cr_assert_eq(ri_login(&r2, IQN, INITIATOR), 0);
	cr_assert_eq(r2.protocol_level, 2u);
	/* + QTS (byte 0), QAES, QTSS, ITNRS (byte 1) */
	cr_assert_eq(rstmf(&r2), 0xde07, "level 2: 0x%04x", rstmf(&r2));

	fill(b, sizeof(b), 121);
	bs_ram_hold(srv.bs, true);
	ri_cdb_rw10(cdb, true, 1100, 8);
	x = ri_scsi_cmd(&r2, 1, cdb, 10, CMD_W, sizeof(b), b, sizeof(b), &xsn);
	wait_held(&r2, 1);
	tmf = ri_tmf(&r2, TMF_QUERY_TASK, 1, x, xsn);
	cr_assert_eq(tmf_response_info(&r2, tmf, info), TMF_RSP_SUCCEEDED);
	tmf = ri_tmf(&r2, TMF_QUERY_TASK, 1, 0x4321, xsn);
	cr_assert_eq(tmf_response_info(&r2, tmf, info), TMF_RSP_COMPLETE);
	tmf = ri_tmf(&r2, TMF_QUERY_TASK_SET, 1, RSVD_TAG, 0);
	cr_assert_eq(tmf_response_info(&r2, tmf, info), TMF_RSP_SUCCEEDED);
	tmf = ri_tmf(&r2, TMF_QUERY_TASK_SET, 0, RSVD_TAG, 0);
	cr_assert_eq(tmf_response_info(&r2, tmf, info), TMF_RSP_COMPLETE,
		     "LUN 0 has no task");
	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	r = wait_result(&r2, x);
	cr_assert_eq(r.status, 0);
	tmf = ri_tmf(&r2, TMF_QUERY_TASK_SET, 1, RSVD_TAG, 0);
	cr_assert_eq(tmf_response_info(&r2, tmf, info), TMF_RSP_COMPLETE);
	tmf = ri_tmf(&r2, TMF_QUERY_TASK, 9, x, xsn);
	cr_assert_eq(tmf_response_info(&r2, tmf, info), TMF_RSP_NO_LUN);

	/* a LU reset from another session leaves a unit attention pending */
	login(&rb);
	tmf = ri_tmf(&rb, TMF_LUN_RESET, 1, RSVD_TAG, 0);
	cr_assert_eq(tmf_response(&rb, tmf, NULL, 0), TMF_RSP_COMPLETE);
	tmf = ri_tmf(&r2, TMF_QUERY_ASYNC_EVENT, 1, RSVD_TAG, 0);
	cr_assert_eq(tmf_response_info(&r2, tmf, info), TMF_RSP_SUCCEEDED);
	cr_assert_eq(info[0], 0x16, "UADE depth / sense key 0x%02x", info[0]);
	cr_assert_eq(info[1], 0x29);
	cr_assert_eq(info[2], 0x03);
	/* ... still pending: the next command reports it */
	ri_cdb_rw10(cdb, false, 1100, 8);
	itt = ri_scsi_cmd(&r2, 1, cdb, 10, CMD_R, sizeof(rd), NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&r2, itt, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(r.asc, 0x29);
	tmf = ri_tmf(&r2, TMF_QUERY_ASYNC_EVENT, 1, RSVD_TAG, 0);
	cr_assert_eq(tmf_response_info(&r2, tmf, info), TMF_RSP_COMPLETE);

	/* I_T NEXUS RESET waits for the nexus's held write */
	bs_ram_hold(srv.bs, true);
	ri_cdb_rw10(cdb, true, 1200, 8);
	x = ri_scsi_cmd(&r2, 1, cdb, 10, CMD_W, sizeof(b), b, sizeof(b), NULL);
	wait_held(&r2, 1);
	tmf = ri_tmf(&r2, TMF_IT_NEXUS_RESET, 0, RSVD_TAG, 0);
	expect_silence(&r2, 600, "I_T NEXUS RESET answered with I/O in flight");
	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	cr_assert_eq(tmf_response(&r2, tmf, &x, 1), TMF_RSP_COMPLETE);
	itt = ri_scsi_cmd(&r2, 1, cdb, 10, CMD_R, 8 * BLK, NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&r2, itt, rd, sizeof(rd), &r, 5000, NULL), 0);
	cr_assert_eq(r.status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(r.sense_key, 0x6);
	cr_assert_eq(r.asc, 0x29);
	cr_assert_eq(r.ascq, 0x07, "ascq 0x%02x", r.ascq);
	/* the other sessions were not touched */
	cr_assert_eq(read_sync(&r1, 1, 1100, rd, 8), 0);
	ri_close(&rb);
	ri_close(&r2);
	ri_close(&r1);
}

ParameterizedTestParameters(tmf, target_cold_reset)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * TARGET COLD RESET (RFC 7143 §11.5.1): like a warm reset it waits for the
 * aborted I/O of every session; then the target closes all connections of
 * the target, the issuing one after its response.
 */
ParameterizedTest(enum ev_kind *kind, tmf, target_cold_reset,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t b[8 * BLK], rd[8 * BLK], cdb[10];
	struct ri ra, rb, rc_;
	struct ri_pdu p;
	uint32_t tmf;
	int rc;

	srv_up(*kind, 1, 1);
	login(&ra);
	login(&rb);
	fill(b, sizeof(b), 131);
	bs_ram_hold(srv.bs, true);
	ri_cdb_rw10(cdb, true, 1300, 8);
	ri_scsi_cmd(&ra, 1, cdb, 10, CMD_W, sizeof(b), b, sizeof(b), NULL);
	wait_held(&ra, 1);
	tmf = ri_tmf(&rb, TMF_TARGET_COLD_RESET, 0, RSVD_TAG, 0);
	expect_silence(&rb, 600, "cold reset answered with I/O in flight");
	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	cr_assert_eq(tmf_response(&rb, tmf, NULL, 0), TMF_RSP_COMPLETE);
	for (int i = 0; i < 2; i++) {
		struct ri *r = i ? &rb : &ra;

		r->answer_pings = false;
		do
			rc = ri_recv(r, &p, 5000);
		while (rc == 0);
		cr_assert(rc == -EPIPE || rc == -ECONNRESET,
			  "session %d still connected after a cold reset (%d)",
			  i, rc);
	}
	ri_close(&ra);
	ri_close(&rb);
	/* the target serves new sessions */
	login(&rc_);
	cr_assert_eq(read_sync(&rc_, 1, 1300, rd, 8), 0);
	ri_close(&rc_);
}

ParameterizedTestParameters(tmf, caw_atomic_across_sessions)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * COMPARE AND WRITE from session B (one reactor) while session A (the
 * other reactor) has a WRITE to the same block in the store: the CAW does
 * not start until that write is done, so it compares with A's data.
 */
ParameterizedTest(enum ev_kind *kind, tmf, caw_atomic_across_sessions,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t a[BLK], caw[2 * BLK], rd[BLK], cdb[16] = { 0x89 };
	struct ri_result r;
	struct ri ra, rb;
	uint32_t x, c;

	srv_up(*kind, 1, 1);
	login(&ra);
	login(&rb);
	cr_assert_neq(session_reactor(ra.tsih), session_reactor(rb.tsih));
	memset(a, 'A', sizeof(a));
	write_sync(&ra, 1400, a, 1);

	bs_ram_hold(srv.bs, true);
	memset(a, 'B', sizeof(a));
	x = cmd_attr(&ra, true, 1400, a, 1);
	wait_held(&ra, 1);
	memset(caw, 'B', BLK);		/* compare with B ... */
	memset(caw + BLK, 'C', BLK);	/* ... then write C */
	put_be64(cdb + 2, 1400);
	cdb[13] = 1;
	c = ri_scsi_cmd(&rb, 1, cdb, 16, CMD_W, sizeof(caw), caw, sizeof(caw),
			NULL);
	expect_silence(&rb, 400, "COMPARE AND WRITE beside a write in flight");
	cr_assert_eq(bs_ram_held(srv.bs), 1, "the CAW's read started");
	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	r = wait_result(&ra, x);
	cr_assert_eq(r.status, 0);
	r = wait_result(&rb, c);
	cr_assert_eq(r.status, 0, "CAW status 0x%x key %x asc %02x", r.status,
		     r.sense_key, r.asc);
	cr_assert_eq(read_sync(&ra, 1, 1400, rd, 1), 0);
	for (size_t i = 0; i < sizeof(rd); i++)
		cr_assert_eq(rd[i], 'C');
	ri_close(&ra);
	ri_close(&rb);
}

ParameterizedTestParameters(tmf, waiting_tmfs_are_bounded)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * A peer repeating ABORT TASK for a write stuck in the store cannot make
 * the target hold a waiting function for each: beyond 16 per connection
 * they are refused at once (FUNCTION REJECTED); the waiting ones are
 * answered once the write is gone.
 */
ParameterizedTest(enum ev_kind *kind, tmf, waiting_tmfs_are_bounded,
		  .fini = srv_down, .timeout = 60)
{
	uint8_t b[8 * BLK], cdb[10];
	uint32_t x, xsn, tmf[20];
	unsigned rejected = 0, complete = 0;
	struct ri_pdu p;
	struct ri ri;

	srv_up(*kind, 1, 1);
	login(&ri);
	fill(b, sizeof(b), 141);
	bs_ram_hold(srv.bs, true);
	ri_cdb_rw10(cdb, true, 1500, 8);
	x = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_W, sizeof(b), b, sizeof(b), &xsn);
	wait_held(&ri, 1);
	for (int i = 0; i < 20; i++)
		tmf[i] = ri_tmf(&ri, TMF_ABORT_TASK, 1, x, xsn);
	/* the 4 beyond the bound come back at once, the rest wait */
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(ri_recv(&ri, &p, 5000), 0, "only %d refused", i);
		cr_assert_eq(p.opcode, OP_TMF_RSP);
		cr_assert_eq(p.bhs[BHS_B2], TMF_RSP_REJECTED);
		rejected++;
	}
	expect_silence(&ri, 500, "a waiting ABORT TASK answered early");
	bs_ram_hold(srv.bs, false);
	cr_assert_eq(bs_ram_release(srv.bs), 1);
	while (complete < 16) {
		cr_assert_eq(ri_recv(&ri, &p, 5000), 0, "%u answered", complete);
		cr_assert_eq(p.opcode, OP_TMF_RSP);
		cr_assert_eq(p.bhs[BHS_B2], TMF_RSP_COMPLETE);
		complete++;
	}
	(void)tmf;
	cr_assert_eq(rejected + complete, 20u);
	ri_close(&ri);
}
