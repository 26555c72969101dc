/*
 * test_pdu.c - the BHS decoder (RFC 7143 §11): every initiator opcode
 * decodes with its fields in place; headers no target may accept are
 * refused with -EPROTO; RFC 1982 serial number compares across the wrap;
 * the 4-byte data segment padding.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "iscsi/pdu.h"

/* Fills a header with distinct values in every common field. */
static void fill_common(uint8_t b[BHS_LEN], uint8_t byte0, uint8_t flags)
{
	memset(b, 0, BHS_LEN);
	b[BHS_OPCODE] = byte0;
	b[BHS_FLAGS] = flags;
	b[BHS_B2] = 0x12;
	b[BHS_B3] = 0x34;
	put_be24(b + BHS_DSL, 0x012345);
	put_be64(b + BHS_LUN, 0x0001000000000000ull);
	put_be32(b + BHS_ITT, 0xdeadbeef);
	put_be32(b + BHS_TTT, 0x00100000);
	put_be32(b + BHS_CMDSN, 0xfffffff0);
	put_be32(b + BHS_EXPSTATSN, 0x77);
	put_be32(b + BHS_MAXCMDSN, 0x01020304);
	put_be32(b + BHS_DATASN, 0x0a0b0c0d);
	put_be32(b + BHS_BUFOFF, 0x11223344);
}

static void check_common(const uint8_t *b, const struct bhs *h, uint8_t op)
{
	cr_assert_eq(h->opcode, op);
	cr_assert_eq(h->b2, 0x12);
	cr_assert_eq(h->b3, 0x34);
	cr_assert_eq(h->dsl, 0x012345u);
	cr_assert_eq(h->lun, 0x0001000000000000ull);
	cr_assert_eq(h->itt, 0xdeadbeefu);
	cr_assert_eq(h->ttt, 0x00100000u);
	cr_assert_eq(h->cmdsn, 0xfffffff0u);
	cr_assert_eq(h->expstatsn, 0x77u);
	cr_assert_eq(h->f32, 0x01020304u);
	cr_assert_eq(h->datasn, 0x0a0b0c0du);
	cr_assert_eq(h->bufoff, 0x11223344u);
	cr_assert_eq(h->raw, b);
}

struct op_case {
	uint8_t op;
	uint8_t flags;
	bool immediate;
};

ParameterizedTestParameters(pdu, decode_each_opcode)
{
	static struct op_case cases[] = {
		{ OP_NOP_OUT, BHS_F, true },
		{ OP_SCSI_CMD, BHS_F | CMD_R, false },
		{ OP_SCSI_CMD, CMD_W, true },
		{ OP_TMF_REQ, BHS_F | TMF_ABORT_TASK, true },
		{ OP_LOGIN_REQ, LOGIN_T | 0x07, true },
		{ OP_TEXT_REQ, BHS_F, false },
		{ OP_DATA_OUT, BHS_F, false },
		{ OP_LOGOUT_REQ, BHS_F, true },
		{ OP_SNACK, BHS_F | 1, false },
	};
	return cr_make_param_array(struct op_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct op_case *c, pdu, decode_each_opcode)
{
	uint8_t b[BHS_LEN];
	struct bhs h;

	fill_common(b, (uint8_t)(c->op | (c->immediate ? BHS_I : 0)), c->flags);
	memset(&h, 0xa5, sizeof(h));
	cr_assert_eq(pdu_decode_bhs(b, &h), 0, "opcode 0x%02x", c->op);
	check_common(b, &h, c->op);
	cr_assert_eq(h.immediate, c->immediate);
	cr_assert_eq(h.flags, c->flags);
	cr_assert_eq(h.final, (c->flags & BHS_F) != 0);
	cr_assert_eq(h.ahs_len, 0);
	cr_assert(pdu_opcode_valid_initiator(c->op));
}

Test(pdu, decode_scsi_cmd_fields)
{
	uint8_t b[BHS_LEN] = { 0 };
	struct bhs h;

	b[BHS_OPCODE] = OP_SCSI_CMD;
	b[BHS_FLAGS] = BHS_F | CMD_W | 0x01;	/* simple task attribute */
	b[BHS_AHSLEN] = 5;			/* 5 words = 20 bytes */
	put_be24(b + BHS_DSL, 4096);
	put_be64(b + BHS_LUN, 0x0003000000000000ull);
	put_be32(b + BHS_ITT, 42);
	put_be32(b + BHS_TTT, 65536);		/* EDTL */
	put_be32(b + BHS_CMDSN, 7);
	put_be32(b + BHS_EXPSTATSN, 3);
	b[BHS_CDB] = 0x2a;			/* WRITE(10) */
	b[BHS_CDB + 8] = 8;

	cr_assert_eq(pdu_decode_bhs(b, &h), 0);
	cr_assert_eq(h.opcode, OP_SCSI_CMD);
	cr_assert_not(h.immediate);
	cr_assert(h.final);
	cr_assert_eq(h.flags & CMD_W, CMD_W);
	cr_assert_eq(h.flags & CMD_R, 0);
	cr_assert_eq(h.ahs_len, 20);
	cr_assert_eq(h.dsl, 4096u);
	cr_assert_eq(h.lun, 0x0003000000000000ull);
	cr_assert_eq(h.itt, 42u);
	cr_assert_eq(h.ttt, 65536u);
	cr_assert_eq(h.cmdsn, 7u);
	cr_assert_eq(h.expstatsn, 3u);
	cr_assert_eq(h.raw[BHS_CDB], 0x2a);
	cr_assert_eq(h.raw[BHS_CDB + 8], 8);
}

Test(pdu, decode_ahs_len_max)
{
	uint8_t b[BHS_LEN] = { OP_SCSI_CMD, BHS_F };
	struct bhs h;

	b[BHS_AHSLEN] = 63;	/* 252 bytes still fits the uint8_t */
	cr_assert_eq(pdu_decode_bhs(b, &h), 0);
	cr_assert_eq(h.ahs_len, 252);
}

Test(pdu, decode_login_isid_tsih)
{
	uint8_t b[BHS_LEN] = { OP_LOGIN_REQ | BHS_I, LOGIN_T | (1 << 2) | 3 };
	struct bhs h;

	b[BHS_ISID] = 0x80;
	b[BHS_ISID + 5] = 0x01;
	put_be16(b + BHS_TSIH, 0x1234);
	put_be16(b + BHS_TTT, 9);		/* CID */
	put_be32(b + BHS_ITT, 7);
	cr_assert_eq(pdu_decode_bhs(b, &h), 0);
	cr_assert_eq(h.opcode, OP_LOGIN_REQ);
	cr_assert(h.immediate);
	cr_assert_eq(h.flags & LOGIN_T, LOGIN_T);
	cr_assert_eq((h.flags >> 2) & 3, 1);
	cr_assert_eq(h.flags & 3, 3);
	cr_assert_eq(h.itt, 7u);
	cr_assert_eq(h.ttt >> 16, 9u);
	/* ISID and TSIH share the LUN field */
	cr_assert_eq(h.lun, 0x8000000000011234ull);
}

Test(pdu, decode_tmf_fields)
{
	uint8_t b[BHS_LEN] = { OP_TMF_REQ | BHS_I, BHS_F | TMF_LUN_RESET };
	struct bhs h;

	put_be32(b + BHS_ITT, 100);
	put_be32(b + BHS_TTT, 55);		/* RTT */
	put_be32(b + BHS_CMDSN, 12);
	put_be32(b + BHS_MAXCMDSN, 11);		/* RefCmdSN */
	cr_assert_eq(pdu_decode_bhs(b, &h), 0);
	cr_assert_eq(h.flags & 0x7f, TMF_LUN_RESET);
	cr_assert_eq(h.ttt, 55u);
	cr_assert_eq(h.f32, 11u);
	cr_assert_eq(h.cmdsn, 12u);
}

/* Headers no target may accept. */
struct bad_case {
	uint8_t byte0;
	uint8_t ahs_words;
	char why[40];	/* an array: each case runs in a fresh process */
};

ParameterizedTestParameters(pdu, malformed)
{
	static struct bad_case cases[] = {
		/* target-only opcodes */
		{ OP_NOP_IN, 0, "NOP-In" },
		{ OP_SCSI_RSP, 0, "SCSI Response" },
		{ OP_TMF_RSP, 0, "TMF Response" },
		{ OP_LOGIN_RSP, 0, "Login Response" },
		{ OP_TEXT_RSP, 0, "Text Response" },
		{ OP_DATA_IN, 0, "Data-In" },
		{ OP_LOGOUT_RSP, 0, "Logout Response" },
		{ OP_R2T, 0, "R2T" },
		{ OP_ASYNC, 0, "Async" },
		{ OP_REJECT, 0, "Reject" },
		{ 0x3c, 0, "vendor target opcode 0x3c" },
		{ 0x2f, 0, "reserved target opcode 0x2f" },
		{ OP_NOP_IN | BHS_I, 0, "NOP-In with I bit" },
		/* reserved bit 7 of byte 0 */
		{ 0x80 | OP_NOP_OUT, 0, "reserved bit, NOP-Out" },
		{ 0x80 | OP_SCSI_CMD, 0, "reserved bit, SCSI Command" },
		{ 0x80 | BHS_I | OP_LOGIN_REQ, 0, "reserved bit, Login" },
		/* unknown initiator-range opcodes */
		{ 0x07, 0, "0x07" },
		{ 0x08, 0, "0x08" },
		{ 0x0f, 0, "0x0f" },
		{ 0x11, 0, "0x11" },
		{ 0x1c, 0, "vendor 0x1c" },
		{ 0x1f, 0, "0x1f" },
		/* AHS on opcodes that never carry one */
		{ OP_NOP_OUT, 1, "AHS on NOP-Out" },
		{ OP_TMF_REQ | BHS_I, 2, "AHS on TMF" },
		{ OP_LOGIN_REQ | BHS_I, 1, "AHS on Login" },
		{ OP_TEXT_REQ, 1, "AHS on Text" },
		{ OP_DATA_OUT, 4, "AHS on Data-Out" },
		{ OP_LOGOUT_REQ, 1, "AHS on Logout" },
		{ OP_SNACK, 255, "AHS on SNACK" },
	};
	return cr_make_param_array(struct bad_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct bad_case *c, pdu, malformed)
{
	uint8_t b[BHS_LEN] = { 0 };
	struct bhs h;

	b[BHS_OPCODE] = c->byte0;
	b[BHS_FLAGS] = BHS_F;
	b[BHS_AHSLEN] = c->ahs_words;
	put_be32(b + BHS_ITT, 1);
	cr_assert_eq(pdu_decode_bhs(b, &h), -EPROTO, "%s accepted", c->why);
}

Test(pdu, valid_initiator_table)
{
	int n = 0;

	for (int op = 0; op < 0x40; op++)
		if (pdu_opcode_valid_initiator((uint8_t)op))
			n++;
	cr_assert_eq(n, 8);
	cr_assert_not(pdu_opcode_valid_initiator(OP_NOP_IN));
	cr_assert_not(pdu_opcode_valid_initiator(0x07));
	cr_assert_str_eq(pdu_opcode_name(OP_TMF_REQ), "Task Management Request");
	cr_assert_str_eq(pdu_opcode_name(OP_REJECT), "Reject");
	cr_assert_str_eq(pdu_opcode_name(0x07), "unknown");
}

Test(pdu, set_dsl)
{
	uint8_t b[BHS_LEN];

	pdu_init(b, OP_DATA_IN, BHS_F);
	cr_assert_eq(b[0], OP_DATA_IN);
	cr_assert_eq(b[1], BHS_F);
	pdu_set_dsl(b, 0xabcdef);
	cr_assert_eq(b[BHS_AHSLEN], 0);
	cr_assert_eq(b[5], 0xab);
	cr_assert_eq(b[6], 0xcd);
	cr_assert_eq(b[7], 0xef);
	cr_assert_eq(b[8], 0);
}

/* RFC 1982 serial number arithmetic, SERIAL_BITS = 32. */
struct sn_case {
	uint32_t a, b;
	bool lt, le;
};

ParameterizedTestParameters(pdu, serial)
{
	static struct sn_case cases[] = {
		{ 0, 0, false, true },
		{ 1, 2, true, true },
		{ 2, 1, false, false },
		{ 0xffffffff, 0, true, true },		/* across the wrap */
		{ 0, 0xffffffff, false, false },
		{ 0xfffffff0, 0x10, true, true },
		{ 0x10, 0xfffffff0, false, false },
		{ 0x7ffffffe, 0x7fffffff, true, true },
		{ 0x7fffffff, 0x80000000, true, true },
		{ 0x80000000, 0x7fffffff, false, false },
		{ 0, 0x7fffffff, true, true },		/* largest forward step */
		{ 0x7fffffff, 0, false, false },
		{ 5, 5, false, true },
		{ 0xffffffff, 0xffffffff, false, true },
	};
	return cr_make_param_array(struct sn_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct sn_case *c, pdu, serial)
{
	cr_assert_eq(sn_lt(c->a, c->b), c->lt, "sn_lt(0x%x, 0x%x)", c->a, c->b);
	cr_assert_eq(sn_le(c->a, c->b), c->le, "sn_le(0x%x, 0x%x)", c->a, c->b);
}

Test(pdu, serial_antisymmetric)
{
	/* exactly one of a<b, b<a, a==b for distances other than 2^31 */
	static const uint32_t v[] = { 0, 1, 0x7fffffff, 0x80000001,
				      0xfffffffe, 0xffffffff, 12345 };

	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		for (size_t j = 0; j < ARRAY_SIZE(v); j++) {
			int n = sn_lt(v[i], v[j]) + sn_lt(v[j], v[i]) +
				(v[i] == v[j]);

			if (v[i] - v[j] == 0x80000000u)
				continue;
			cr_assert_eq(n, 1, "0x%x vs 0x%x", v[i], v[j]);
		}
}

Test(pdu, pad4)
{
	static const uint32_t in[] = { 0, 1, 2, 3, 4, 5, 8191, 8192,
				       0xfffff9, 0xfffffc };
	static const uint32_t out[] = { 0, 4, 4, 4, 4, 8, 8192, 8192,
					0xfffffc, 0xfffffc };

	for (size_t i = 0; i < ARRAY_SIZE(in); i++)
		cr_assert_eq(pdu_pad4(in[i]), out[i], "pad4(%u)", in[i]);
}

/* RFC 7143 §11.2.2: AHSs, each AHSLength + 3 bytes padded to 4. */
struct ahs_case {
	uint8_t b[16];
	size_t len;
	int rc;
	uint16_t ext_len;
};

ParameterizedTestParameters(pdu, parse_ahs)
{
	static struct ahs_case cases[] = {
		/* extended CDB of 4 more bytes: AHSLength 5, padded to 8 */
		{ { 0, 5, 1, 0, 0xa, 0xb, 0xc, 0xd }, 8, 0, 4 },
		/* bidi read length: AHSLength 5 */
		{ { 0, 5, 2, 0, 0, 0, 1, 0 }, 8, 0, 0 },
		/* claims 65535 in one word */
		{ { 0xff, 0xff, 1, 0 }, 4, -EPROTO, 0 },
		/* claims 9 bytes in 8 */
		{ { 0, 9, 1, 0, 1, 2, 3, 4 }, 8, -EPROTO, 0 },
		/* AHSLength 0 */
		{ { 0, 0, 1, 0 }, 4, -EPROTO, 0 },
		/* bidi with the wrong length */
		{ { 0, 1, 2, 0 }, 4, -EPROTO, 0 },
		/* two extended CDBs */
		{ { 0, 1, 1, 0, 0, 1, 1, 0 }, 8, -EPROTO, 0 },
		/* a reserved type is skipped */
		{ { 0, 1, 0x7f, 0 }, 4, 0, 0 },
	};
	return cr_make_param_array(struct ahs_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ahs_case *c, pdu, parse_ahs)
{
	struct pdu_ahs a;

	cr_assert_eq(pdu_parse_ahs(c->b, c->len, &a), c->rc);
	if (c->rc == 0) {
		cr_assert_eq(a.ext_cdb_len, c->ext_len);
		if (c->ext_len)
			cr_assert_eq(a.ext_cdb, c->b + 4);
	}
}
