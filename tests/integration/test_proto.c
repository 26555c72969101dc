/*
 * test_proto.c - in-process protocol tests of the iSCSI layer over the raw
 * initiator (inproc.h): receive-side digest checking at ErrorRecoveryLevel
 * 0, on both event loops. Sessions negotiate HeaderDigest=CRC32C and
 * DataDigest=CRC32C, and every PDU the target sends has its digests
 * verified (ri_dg_recv fails with -EBADMSG otherwise).
 *
 * What RFC 7143 requires (§7.8, Digest Errors):
 *   - "When a target or an initiator receives any iSCSI PDU with a header
 *     digest error, it MUST either discard the header and all data up to
 *     the beginning of a later PDU or close the connection." Without
 *     markers nothing tells where the next PDU starts (the length field
 *     is not trusted), so the target closes the connection; it must not
 *     act on the header.
 *   - "When a target receives any iSCSI PDU with a payload digest error,
 *     it MUST answer with a Reject PDU with a reason code of
 *     Data-Digest-Error and discard the PDU." (reason 0x02, §11.17.1:
 *     "original PDU can be resent"; the Reject's data segment is the
 *     header of the rejected PDU, its ITT is 0xffffffff, §11.17.)
 *       - a discarded command PDU (immediate data included) needs no
 *         further action: "the immediate data is implicitly recovered
 *         when the task is retried (see Section 7.2.1)" - the retry is the
 *         same PDU, same ITT and CmdSN, so that CmdSN must not have been
 *         acknowledged (ExpCmdSN);
 *       - a discarded Data-Out: the target MUST either (a) ask for the
 *         data again with a recovery R2T, or (b) end the task with CHECK
 *         CONDITION and the iSCSI condition "protocol service CRC error"
 *         (ABORTED COMMAND, ASC/ASCQ 47h/05h, §11.4.7.2) once all the
 *         data of the outstanding R2Ts has arrived (F bit). A recovery
 *         R2T is within-command recovery, ErrorRecoveryLevel 1 (§7.1.5):
 *         at the ErrorRecoveryLevel=0 these sessions negotiate, (b) it is.
 *   Retrying a command is within-connection recovery, also ERL 1: an
 *   ERL 0 initiator would rather recover the session. The retry below
 *   only shows that the Reject (reason 0x02: "original PDU can be
 *   resent", §11.17.1) left the session consistent.
 *   In no case may the data that failed its digest reach the medium.
 *   §7.8 also lets "either party detecting a digest error ... escalate
 *   the error to session recovery"; this target does not for data digest
 *   errors (conn.c answers Reject and carries on), so these tests hold it
 *   to the non-escalating rules above: after a data digest error the
 *   session goes on.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "core/core.h"
#include "inproc.h"
#include "scsi/scsi.h"

#define BLK INPROC_BLK

static const char *const loop_names[] = { "io_uring", "epoll" };

/* Fails unless no PDU (pings aside) arrives within @ms. */
static void expect_silence(struct ri_dg *d, int ms, const char *what)
{
	uint64_t end = ri_now_ms() + (uint64_t)ms;
	struct ri_pdu p;

	while (ri_now_ms() < end) {
		int rc = ri_dg_recv(d, &p, (int)(end - ri_now_ms()));

		if (rc == -ETIMEDOUT)
			return;
		cr_assert_eq(rc, 0, "%s: connection lost or bad digest (%d)",
			     what, rc);
		cr_assert_fail("%s: unexpected %s ITT 0x%x", what,
			       pdu_opcode_name(p.opcode), p.itt);
	}
}

/* Receives a Reject for @bad (the header as sent) with @reason. */
static void expect_reject(struct ri_dg *d, const uint8_t bad[BHS_LEN],
			  uint8_t reason)
{
	struct ri_pdu p;
	int rc = ri_dg_recv(d, &p, 3000);

	cr_assert_eq(rc, 0, "no Reject (%d)", rc);
	cr_assert_eq(p.opcode, OP_REJECT, "got %s ITT 0x%x instead of a Reject",
		     pdu_opcode_name(p.opcode), p.itt);
	cr_assert_eq(p.bhs[BHS_B2], reason, "Reject reason 0x%02x",
		     p.bhs[BHS_B2]);
	cr_assert(p.bhs[BHS_FLAGS] & BHS_F);
	cr_assert_eq(get_be32(p.bhs + BHS_ITT), RSVD_TAG);
	cr_assert_geq(p.dsl, (uint32_t)BHS_LEN);
	cr_assert_eq(memcmp(p.data, bad, BHS_LEN), 0,
		     "the Reject does not carry the rejected header");
}

/* Asserts every block of the store at @lba is @a's or @b's, never other. */
static void store_blocks_one_of(uint32_t lba, const uint8_t *a,
				const uint8_t *b, uint32_t blocks)
{
	uint8_t got[BLK];

	for (uint32_t i = 0; i < blocks; i++) {
		inproc_store_read((uint64_t)(lba + i) * BLK, got, BLK);
		cr_assert(memcmp(got, a + i * BLK, BLK) == 0 ||
			  memcmp(got, b + i * BLK, BLK) == 0,
			  "block %u on the medium is neither the old nor the "
			  "intended data: the corrupted PDU reached it", lba + i);
	}
}

ParameterizedTestParameters(proto, header_digest_error)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };

	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * A WRITE with immediate data and a wrong header digest: the connection
 * is closed, the command never runs, other sessions are unaffected.
 */
ParameterizedTest(enum ev_kind *kind, proto, header_digest_error,
		  .fini = inproc_down, .timeout = 60)
{
	uint8_t old[8 * BLK], neu[8 * BLK], rd[8 * BLK], bhs[BHS_LEN], cdb[10];
	struct ri_dg a, b, c;
	struct ri_pdu p;
	uint32_t itt;
	int rc;

	inproc_up(*kind, 0, 0);
	inproc_login(&a, true, true);
	inproc_login(&b, true, true);
	inproc_fill(old, sizeof(old), 1);
	inproc_fill(neu, sizeof(neu), 2);
	inproc_write(&b, 40, old, 8);
	/* the session with the bad PDU worked with good digests */
	cr_assert_eq(inproc_read(&a, 1, 40, rd, 8), 0);
	cr_assert_eq(memcmp(rd, old, sizeof(rd)), 0);

	ri_cdb_rw10(cdb, true, 40, 8);
	ri_build_scsi_cmd(&a.ri, bhs, 1, cdb, 10, CMD_W, sizeof(neu));
	itt = get_be32(bhs + BHS_ITT);
	cr_assert_eq(ri_dg_send(&a, bhs, neu, sizeof(neu), RI_BAD_HDIGEST), 0);
	a.ri.answer_pings = false;
	for (int i = 0; i < 16; i++) {
		rc = ri_dg_recv(&a, &p, 3000);
		if (rc)
			break;
		/* nothing may answer the untrusted header */
		cr_assert_neq(p.itt, itt, "%s: %s for the PDU with the bad "
			      "header digest", loop_names[*kind],
			      pdu_opcode_name(p.opcode));
		cr_assert(p.opcode == OP_REJECT || p.opcode == OP_NOP_IN,
			  "got %s", pdu_opcode_name(p.opcode));
	}
	cr_assert(rc == -EPIPE || rc == -ECONNRESET,
		  "%s: connection not closed after a header digest error (%d)",
		  loop_names[*kind], rc);
	ri_close(&a.ri);

	/* the command did not run; the other session goes on */
	memset(rd, 0, sizeof(rd));
	cr_assert_eq(inproc_read(&b, 1, 40, rd, 8), 0);
	cr_assert_eq(memcmp(rd, old, sizeof(rd)), 0,
		     "the WRITE with a bad header digest reached the medium");
	inproc_login(&c, true, true);
	cr_assert_eq(inproc_read(&c, 1, 40, rd, 8), 0);
	ri_close(&c.ri);
	ri_close(&b.ri);
}

ParameterizedTestParameters(proto, data_digest_immediate)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };

	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * A WRITE whose immediate data fails its digest: Reject (0x02) carrying
 * the command's header, no response, nothing written, CmdSN not
 * acknowledged; the retry (same PDU) then succeeds.
 */
ParameterizedTest(enum ev_kind *kind, proto, data_digest_immediate,
		  .fini = inproc_down, .timeout = 60)
{
	uint8_t old[8 * BLK], neu[8 * BLK], bad[8 * BLK], rd[8 * BLK];
	uint8_t bhs[BHS_LEN], cdb[10];
	struct ri_result res;
	uint32_t itt, cmdsn;
	struct ri_dg a;
	struct ri_pdu p;

	inproc_up(*kind, 0, 0);
	inproc_login(&a, true, true);
	inproc_fill(old, sizeof(old), 3);
	inproc_fill(neu, sizeof(neu), 4);
	memcpy(bad, neu, sizeof(bad));
	bad[700] ^= 0x5a;	/* what a flipped bit on the wire gives */
	inproc_write(&a, 80, old, 8);

	ri_cdb_rw10(cdb, true, 80, 8);
	ri_build_scsi_cmd(&a.ri, bhs, 1, cdb, 10, CMD_W, sizeof(neu));
	put_be24(bhs + BHS_DSL, sizeof(neu));
	itt = get_be32(bhs + BHS_ITT);
	cmdsn = get_be32(bhs + BHS_CMDSN);
	cr_assert_eq(ri_dg_send(&a, bhs, bad, sizeof(bad), RI_BAD_DDIGEST), 0);

	cr_assert_eq(ri_dg_recv(&a, &p, 3000), 0);
	cr_assert_eq(p.opcode, OP_REJECT, "%s: got %s ITT 0x%x",
		     loop_names[*kind], pdu_opcode_name(p.opcode), p.itt);
	cr_assert_eq(p.bhs[BHS_B2], REJECT_DATA_DIGEST, "reason 0x%02x",
		     p.bhs[BHS_B2]);
	cr_assert_eq(get_be32(p.bhs + BHS_ITT), RSVD_TAG);
	cr_assert_geq(p.dsl, (uint32_t)BHS_LEN);
	cr_assert_eq(memcmp(p.data, bhs, BHS_LEN), 0);
	/* the discarded command is not acknowledged: ExpCmdSN stays at it,
	 * so its retry is inside the window (§7.2.1, §4.2.2.1) */
	cr_assert_eq(get_be32(p.bhs + BHS_EXPSTATSN), cmdsn,
		     "ExpCmdSN %u after discarding CmdSN %u",
		     get_be32(p.bhs + BHS_EXPSTATSN), cmdsn);
	expect_silence(&a, 300, "after the Reject of a discarded command");
	store_blocks_one_of(80, old, old, 8);

	/* the connection is alive: an immediate ping (no CmdSN ordering) */
	{
		uint32_t ping = a.ri.itt++;
		uint8_t nop[BHS_LEN] = { OP_NOP_OUT | BHS_I, BHS_F };

		put_be32(nop + BHS_ITT, ping);
		put_be32(nop + BHS_TTT, RSVD_TAG);
		put_be32(nop + BHS_CMDSN, a.ri.cmdsn);
		put_be32(nop + BHS_EXPSTATSN, a.ri.expstatsn);
		cr_assert_eq(ri_dg_send(&a, nop, "ping", 4, 0), 0);
		cr_assert_eq(ri_dg_recv(&a, &p, 3000), 0);
		cr_assert_eq(p.opcode, OP_NOP_IN, "got %s",
			     pdu_opcode_name(p.opcode));
		cr_assert_eq(p.itt, ping);
		cr_assert_eq(p.dsl, 4u);
		cr_assert_eq(memcmp(p.data, "ping", 4), 0);
	}

	/* the retry: the very same PDU, with good digests */
	cr_assert_eq(ri_dg_send(&a, bhs, neu, sizeof(neu), 0), 0);
	cr_assert_eq(ri_dg_wait_cmd(&a, itt, NULL, 0, &res, 3000, NULL), 0,
		     "no response to the retried command");
	cr_assert_eq(res.status, 0, "retry: status 0x%x sense %x/%02x/%02x",
		     res.status, res.sense_key, res.asc, res.ascq);
	memset(rd, 0, sizeof(rd));
	cr_assert_eq(inproc_read(&a, 1, 80, rd, 8), 0);
	cr_assert_eq(memcmp(rd, neu, sizeof(rd)), 0);
	ri_close(&a.ri);
}

ParameterizedTestParameters(proto, data_digest_data_out)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };

	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * A WRITE's solicited data in two Data-Outs, the first with a data digest
 * error: Reject (0x02) carrying the Data-Out's header, then, once the
 * final Data-Out is in, CHECK CONDITION / PROTOCOL SERVICE CRC ERROR; the
 * corrupted bytes never reach the medium and the session goes on.
 */
ParameterizedTest(enum ev_kind *kind, proto, data_digest_data_out,
		  .fini = inproc_down, .timeout = 60)
{
	uint8_t old[16 * BLK], neu[16 * BLK], bad[16 * BLK], rd[16 * BLK];
	uint8_t bhs[BHS_LEN], d1[BHS_LEN], d2[BHS_LEN], cdb[10];
	uint8_t key, asc, ascq;
	const uint8_t *sense;
	uint32_t itt, ttt;
	struct ri_dg a;
	struct ri_pdu p;
	bool desc;

	inproc_up(*kind, 0, 0);
	inproc_login(&a, true, true);
	inproc_fill(old, sizeof(old), 5);
	inproc_fill(neu, sizeof(neu), 6);
	memcpy(bad, neu, sizeof(bad));
	bad[1000] ^= 0x01;
	inproc_write(&a, 160, old, 16);

	/* 16 blocks, the first immediate, F set: the rest by R2T */
	ri_cdb_rw10(cdb, true, 160, 16);
	ri_build_scsi_cmd(&a.ri, bhs, 1, cdb, 10, CMD_W, sizeof(neu));
	itt = get_be32(bhs + BHS_ITT);
	cr_assert_eq(ri_dg_send(&a, bhs, neu, BLK, 0), 0);
	cr_assert_eq(ri_dg_recv(&a, &p, 3000), 0);
	cr_assert_eq(p.opcode, OP_R2T, "got %s", pdu_opcode_name(p.opcode));
	cr_assert_eq(p.itt, itt);
	ttt = get_be32(p.bhs + BHS_TTT);
	cr_assert_eq(get_be32(p.bhs + BHS_BUFOFF), BLK);
	cr_assert_eq(get_be32(p.bhs + BHS_RESID), sizeof(neu) - BLK);

	/* [512, 4096) with a bad data digest, then [4096, 8192) final */
	ri_build_data_out(&a.ri, d1, 1, itt, ttt, 0, BLK, false);
	put_be24(d1 + BHS_DSL, 4096 - BLK);
	cr_assert_eq(ri_dg_send(&a, d1, bad + BLK, 4096 - BLK,
				RI_BAD_DDIGEST), 0);
	ri_build_data_out(&a.ri, d2, 1, itt, ttt, 1, 4096, true);
	cr_assert_eq(ri_dg_send(&a, d2, neu + 4096, 4096, 0), 0);

	expect_reject(&a, d1, REJECT_DATA_DIGEST);
	cr_assert_eq(ri_dg_recv(&a, &p, 3000), 0, "%s: the WRITE whose "
		     "Data-Out was rejected never concluded", loop_names[*kind]);
	cr_assert_eq(p.itt, itt, "got %s ITT 0x%x", pdu_opcode_name(p.opcode),
		     p.itt);
	/* (b): the task ends with PROTOCOL SERVICE CRC ERROR */
	cr_assert_eq(p.opcode, OP_SCSI_RSP, "%s: got %s instead of the SCSI "
		     "Response", loop_names[*kind], pdu_opcode_name(p.opcode));
	cr_assert_eq(p.bhs[BHS_B2], 0, "response 0x%02x", p.bhs[BHS_B2]);
	cr_assert_eq(p.bhs[BHS_B3], SAM_STAT_CHECK_CONDITION,
		     "status 0x%02x", p.bhs[BHS_B3]);
	cr_assert_geq(p.dsl, 2u + 14u, "no sense data");
	sense = p.data + 2;
	desc = (sense[0] & 0x7f) >= 0x72;
	key = (desc ? sense[1] : sense[2]) & 0x0f;
	asc = desc ? sense[2] : sense[12];
	ascq = desc ? sense[3] : sense[13];
	cr_assert(key == 0x0b && asc == 0x47 && ascq == 0x05,
		  "%s: sense %x/%02x/%02x, RFC 7143 §7.8 wants ABORTED "
		  "COMMAND / PROTOCOL SERVICE CRC ERROR (b/47/05)",
		  loop_names[*kind], key, asc, ascq);
	store_blocks_one_of(160, old, neu, 16);

	/* the session goes on */
	expect_silence(&a, 200, "after the WRITE concluded");
	inproc_write(&a, 400, neu, 16);
	memset(rd, 0, sizeof(rd));
	cr_assert_eq(inproc_read(&a, 1, 400, rd, 16), 0);
	cr_assert_eq(memcmp(rd, neu, sizeof(rd)), 0);
	ri_close(&a.ri);
}

/*
 * A storage node with many volumes: the SendTargets answer of a discovery
 * session outgrows 64 KiB. RFC 7143 §11.10.2 / §11.11: a Text Response
 * longer than the initiator's MaxRecvDataSegmentLength goes out in pieces
 * with the C bit, each asked for with the Target Transfer Tag; the
 * answer is the whole list, nothing dropped or cut, nothing refused.
 */
#define MANY_TARGETS 1500

ParameterizedTestParameters(proto, send_targets_past_64k)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };

	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, proto, send_targets_past_64k,
		  .fini = inproc_down, .timeout = 60)
{
	static const char ask[] = "MaxRecvDataSegmentLength=8192\0"
				  "SendTargets=All";
	size_t cap = 1u << 20, len = 0;
	char *want = malloc(cap), *got = malloc(cap);
	struct core_err err = { "" };
	unsigned pieces = 0;
	uint32_t largest = 0;
	struct ri ri;
	int rc;

	cr_assert(want && got);
	inproc_up(*kind, 0, 0);
	/* tid order: the inproc target first, then Cinder-like volumes */
	len += (size_t)snprintf(want + len, cap - len,
				"TargetName=%s\nTargetAddress=127.0.0.1:%d,1\n",
				INPROC_IQN, inproc.port);
	for (unsigned i = 0; i < MANY_TARGETS; i++) {
		char iqn[128];

		snprintf(iqn, sizeof(iqn), "iqn.2010-10.org.openstack:volume-"
			 "%08x-5a3c-4e1f-9b2d-%012x", i, i * 7919u);
		cr_assert_eq(core_target_add(iqn, 0, NULL, &err), 0, "%s",
			     err.msg);
		cr_assert_eq(core_acl_add(iqn, "ALL", &err), 0, "%s", err.msg);
		len += (size_t)snprintf(want + len, cap - len,
					"TargetName=%s\nTargetAddress="
					"127.0.0.1:%d,1\n", iqn, inproc.port);
	}
	cr_assert_gt(len, 65536u, "the answer must outgrow 64 KiB");

	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	cr_assert_eq(ri_login(&ri, NULL, INPROC_INITIATOR), 0);
	/* the declared 8192 counts from this request on (§13.12) */
	rc = ri_text(&ri, ask, sizeof(ask), got, cap, &pieces, &largest);
	cr_assert_eq(rc, 0, "%s: SendTargets of %zu bytes: %d",
		     loop_names[*kind], len, rc);
	cr_assert_leq(largest, 8192u, "a piece of %u bytes past the "
		      "initiator's MaxRecvDataSegmentLength", largest);
	cr_assert_geq(pieces, (unsigned)((len + 8191) / 8192),
		      "%u pieces for %zu bytes", pieces, len);
	/* a declaration is not answered (§6.2): the list is all there is */
	cr_assert(strcmp(got, want) == 0, "%s: the joined answer (%zu "
		  "bytes) differs from the %zu expected", loop_names[*kind],
		  strlen(got), len);
	ri_close(&ri);
	free(want);
	free(got);
}
