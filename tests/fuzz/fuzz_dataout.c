/*
 * fuzz_dataout.c - fuzz target for write data collection (src/iscsi/
 * cmd.c: immediate data, unsolicited Data-Out, R2T and solicited
 * Data-Out; task.c's R2T generation) on a real connection logged in to a
 * RAM LU (fuzz_conn.h). The input chooses the session's InitialR2T,
 * ImmediateData, FirstBurstLength, MaxBurstLength and MaxOutstandingR2T
 * (1..16), the target's MaxRecvDataSegmentLength, then a sequence of
 * WRITE(10)s (up to 8 at once, with or without immediate data, F bit,
 * EDTL), Data-Outs (TTT, DataSN, offset, length and F bit right or
 * deliberately wrong), NOP-Outs and SNACKs. Property, checked by an
 * observer that follows RFC 7143 and reads the medium below the SCSI
 * layer:
 *
 * - an R2T names a write still collecting data, its TTT is not the
 *   reserved tag, its R2TSN counts from 0 per command (§11.8.3), its
 *   range lies inside the EDTL, is at most MaxBurstLength, and overlaps
 *   neither an earlier R2T of the command nor the unsolicited data the
 *   initiator already sent; the R2Ts outstanding (not yet answered with
 *   a final Data-Out) never exceed MaxOutstandingR2T (§11.8, issue 8
 *   item 7);
 * - every command ends at most once: one SCSI Response (or a Reject of
 *   the command) per command, none for a tag with no command, no R2T
 *   after it; at the end, a command the initiator followed the rules for
 *   has ended, or still waits for data the initiator owes (an R2T not
 *   fully answered, or an unsolicited burst not ended with F), or the
 *   connection closed;
 * - a write answered GOOD was given every byte of its transfer by the
 *   initiator, at most FirstBurstLength of them unsolicited (immediate
 *   data included), no immediate data when ImmediateData=No and no
 *   unsolicited Data-Out when InitialR2T=Yes (§13.10-13.14, issue 8
 *   item 9); its residual is the difference between the EDTL and the
 *   CDB's transfer (§11.4.5.1: overflow when the EDTL is shorter, then
 *   only the EDTL's whole blocks are written); and the medium then holds
 *   exactly the bytes sent, at the offsets they were sent at (a shadow
 *   copy of the medium);
 * - nothing else changes the medium: a write not answered GOOD writes
 *   nothing (only when the connection closes may a command that had all
 *   its data have run unanswered; its blocks are left out).
 *
 * Input: byte 0: bit 0 InitialR2T=Yes, bit 1 ImmediateData=Yes, bits
 * 2-3 the target's MaxRecvDataSegmentLength (512, 1024, 4096, 8192);
 * byte 1: FirstBurstLength = 512 * (1 + b % 32); byte 2: MaxBurstLength
 * = 512 * (1 + b % 32); byte 3: MaxOutstandingR2T = 1 + b % 16. Then
 * records of 4 bytes [kind][a][b][c], see run_record(). FUZZ_TRACE=1
 * prints every PDU.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "fuzz_conn.h"
#include "iscsi/pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSLOTS 8
#define MAX_BLOCKS 32
#define MAX_XFER (MAX_BLOCKS * FC_BLK)
#define MAX_R2T 64
#define MAX_RECORDS 64

struct r2t {
	uint32_t ttt, off, len;
	uint32_t sent;			/* bytes answered so far */
	uint32_t datasn;
	bool done;			/* final Data-Out sent */
};

struct cmd {
	bool active;
	uint32_t itt;
	uint32_t lba, blocks;
	uint32_t edtl;
	uint8_t buf[MAX_XFER];		/* what the initiator sent */
	uint8_t sent[MAX_XFER];		/* times each byte was sent */
	uint32_t unsol_bytes;		/* immediate + unsolicited Data-Out */
	bool unsol_dataout;		/* an unsolicited Data-Out was sent */
	bool immediate_data;
	bool final;			/* F on the command: no unsolicited Data-Out */
	bool unsol_final;		/* unsolicited burst ended with F */
	bool conforming;		/* the initiator kept every rule */
	uint32_t unsol_off, unsol_datasn;
	struct r2t r2t[MAX_R2T];
	int nr2t;
	uint32_t next_r2tsn;
};

struct obs {
	struct fc *f;
	bool logged_in, closed;
	/* negotiated, from the final Login Response */
	bool initial_r2t, immediate_data;
	uint32_t first_burst, max_burst, max_r2t;
	uint32_t mrdsl_tgt;
	struct cmd cmd[NSLOTS];
	uint32_t generation;
	uint8_t shadow[FC_LUN_SIZE];
	uint8_t unknown[FC_LUN_SIZE / FC_BLK];	/* blocks not predicted */
	uint32_t cmdsn;
	bool trace;
};

static struct obs *g;

static struct cmd *cmd_by_itt(struct obs *o, uint32_t itt)
{
	for (int i = 0; i < NSLOTS; i++)
		if (o->cmd[i].active && o->cmd[i].itt == itt)
			return &o->cmd[i];
	return NULL;
}

static uint32_t outstanding(const struct cmd *c)
{
	uint32_t n = 0;

	for (int i = 0; i < c->nr2t; i++)
		n += !c->r2t[i].done;
	return n;
}

static void parse_login(struct obs *o, const uint8_t *data, uint32_t dsl)
{
	size_t pos = 0;

	while (pos < dsl) {
		const char *k = (const char *)data + pos;
		size_t n = strnlen(k, dsl - pos);
		const char *eq = memchr(k, '=', n);

		pos += n + 1;
		if (!eq)
			continue;
		if (!strncmp(k, "InitialR2T=", 11))
			o->initial_r2t = !strcmp(eq + 1, "Yes");
		else if (!strncmp(k, "ImmediateData=", 14))
			o->immediate_data = !strcmp(eq + 1, "Yes");
		else if (!strncmp(k, "FirstBurstLength=", 17))
			o->first_burst = (uint32_t)strtoul(eq + 1, NULL, 10);
		else if (!strncmp(k, "MaxBurstLength=", 15))
			o->max_burst = (uint32_t)strtoul(eq + 1, NULL, 10);
		else if (!strncmp(k, "MaxOutstandingR2T=", 18))
			o->max_r2t = (uint32_t)strtoul(eq + 1, NULL, 10);
		else if (!strncmp(k, "MaxRecvDataSegmentLength=", 25))
			o->mrdsl_tgt = (uint32_t)strtoul(eq + 1, NULL, 10);
	}
}

static void on_r2t(struct obs *o, const uint8_t *bhs)
{
	uint32_t itt = get_be32(bhs + BHS_ITT), ttt = get_be32(bhs + BHS_TTT);
	uint32_t sn = get_be32(bhs + BHS_DATASN);
	uint32_t off = get_be32(bhs + BHS_BUFOFF), len = get_be32(bhs + BHS_RESID);
	struct cmd *c = cmd_by_itt(o, itt);

	if (!c)
		fc_fail("R2T for ITT 0x%x, no write collecting data", itt);
	if (ttt == RSVD_TAG)
		fc_fail("R2T with the reserved TTT");
	if (sn != c->next_r2tsn++)
		fc_fail("R2TSN %u, want %u", sn, c->next_r2tsn - 1);
	if (len == 0 || (uint64_t)off + len > c->edtl || len > o->max_burst)
		fc_fail("R2T [%u, +%u) for EDTL %u, MaxBurstLength %u", off,
			len, c->edtl, o->max_burst);
	for (int i = 0; i < c->nr2t; i++)
		if (off < c->r2t[i].off + c->r2t[i].len &&
		    c->r2t[i].off < off + len)
			fc_fail("R2T [%u, +%u) overlaps R2T [%u, +%u)", off,
				len, c->r2t[i].off, c->r2t[i].len);
	if (off < c->unsol_off)
		fc_fail("R2T at %u for data sent unsolicited (to %u)", off,
			c->unsol_off);
	if (c->nr2t == MAX_R2T)
		fc_fail("more than %d R2Ts for one write", MAX_R2T);
	c->r2t[c->nr2t++] = (struct r2t){ .ttt = ttt, .off = off, .len = len };
	if (outstanding(c) > o->max_r2t)
		fc_fail("%u R2Ts outstanding, MaxOutstandingR2T %u",
			outstanding(c), o->max_r2t);
}

static const uint8_t *rsp_data;	/* the SCSI Response's data segment */
static uint32_t rsp_dsl;

/* Byte @i of the fixed-format sense data behind the SenseLength field. */
static unsigned dsl_sense(const uint8_t *bhs, uint32_t i)
{
	(void)bhs;
	return rsp_dsl >= 2 + i + 1 ? rsp_data[2 + i] & (i == 2 ? 0x0f : 0xff)
				    : 0;
}

static void on_status(struct obs *o, const uint8_t *bhs)
{
	uint32_t itt = get_be32(bhs + BHS_ITT);
	struct cmd *c = cmd_by_itt(o, itt);
	uint8_t status = bhs[3];

	if (!c)
		fc_fail("SCSI Response for ITT 0x%x: no such command (or a "
			"second response)", itt);
	c->active = false;
	if (o->trace)
		fprintf(stderr, "dataout: ITT 0x%x ended, status %02x sense "
			"%x/%02x/%02x\n", itt, status, dsl_sense(bhs, 2),
			dsl_sense(bhs, 12), dsl_sense(bhs, 13));
	if (status != 0 || bhs[2] != 0)
		return;
	/*
	 * GOOD: the transfer is the CDB's, cut at the EDTL (RFC 7143
	 * §11.4.5.1: the residual tells by how much) and every byte of it
	 * was sent, within the unsolicited rules
	 */
	uint32_t xfer = c->blocks * FC_BLK, n = MIN(xfer, c->edtl);
	uint32_t resid = get_be32(bhs + BHS_RESID);

	if (xfer > c->edtl ? !(bhs[1] & RSP_O) || resid != xfer - c->edtl :
	    xfer < c->edtl ? !(bhs[1] & RSP_U) || resid != c->edtl - xfer :
			     (bhs[1] & (RSP_O | RSP_U)) != 0)
		fc_fail("WRITE ITT 0x%x of %u bytes, EDTL %u: flags 0x%02x "
			"residual %u", itt, xfer, c->edtl, bhs[1], resid);
	if (n % FC_BLK)
		fc_fail("WRITE ITT 0x%x GOOD with %u bytes, not whole blocks",
			itt, n);
	for (uint32_t i = 0; i < n; i++)
		if (!c->sent[i])
			fc_fail("WRITE ITT 0x%x GOOD, byte %u never sent", itt, i);
	if (c->unsol_bytes > o->first_burst)
		fc_fail("WRITE GOOD with %u unsolicited bytes, FirstBurstLength "
			"%u", c->unsol_bytes, o->first_burst);
	if (c->immediate_data && !o->immediate_data)
		fc_fail("WRITE GOOD with immediate data, ImmediateData=No");
	if (c->unsol_dataout && o->initial_r2t)
		fc_fail("WRITE GOOD with unsolicited Data-Out, InitialR2T=Yes");
	memcpy(o->shadow + c->lba * FC_BLK, c->buf, n);
	for (uint32_t b = 0; b < n / FC_BLK; b++)
		o->unknown[c->lba + b] = 0;
}

static void on_pdu(void *ctx, const uint8_t bhs[48], const uint8_t *data,
		   uint32_t dsl)
{
	struct obs *o = ctx;
	uint8_t op = bhs[0] & 0x3f;

	if (o->trace)
		fprintf(stderr, "dataout: <- 0x%02x ITT 0x%x TTT 0x%x status "
			"%02x/%02x off %u len %u\n", op, get_be32(bhs + BHS_ITT),
			get_be32(bhs + BHS_TTT), bhs[2], bhs[3],
			get_be32(bhs + BHS_BUFOFF), get_be32(bhs + BHS_RESID));
	switch (op) {
	case OP_LOGIN_RSP:
		if (o->trace) {
			for (uint32_t i = 0; i < dsl; i++)
				fputc(data[i] ? data[i] : ' ', stderr);
			fputc('\n', stderr);
		}
		if (bhs[36] == 0 && (bhs[1] & 0x83) == 0x83) {
			parse_login(o, data, dsl);
			o->logged_in = true;
		}
		break;
	case OP_R2T:
		on_r2t(o, bhs);
		break;
	case OP_SCSI_RSP:
		rsp_data = data;
		rsp_dsl = dsl;
		on_status(o, bhs);
		break;
	case OP_REJECT:
		/* a rejected SCSI Command is not executed: it has ended */
		if (dsl >= 48 && (data[0] & 0x3f) == OP_SCSI_CMD) {
			struct cmd *c = cmd_by_itt(o, get_be32(data + BHS_ITT));

			if (c)
				c->active = false;
		}
		break;
	case OP_DATA_IN:
		fc_fail("Data-In for a write");
		break;
	default:
		break;	/* NOP-In, Reject */
	}
}

static void login(struct obs *o, const uint8_t *p)
{
	char text[512];
	uint8_t b[48] = { 0 };
	int n;

	n = snprintf(text, sizeof(text),
		     "InitiatorName=%s%cTargetName=%s%cSessionType=Normal%c"
		     "InitialR2T=%s%cImmediateData=%s%cFirstBurstLength=%u%c"
		     "MaxBurstLength=%u%cMaxOutstandingR2T=%u%c"
		     "MaxRecvDataSegmentLength=262144%c",
		     FC_ALLOWED, 0, FC_TARGET, 0, 0,
		     p[0] & 1 ? "Yes" : "No", 0, p[0] & 2 ? "Yes" : "No", 0,
		     /* §13.14: FirstBurstLength <= MaxBurstLength */
		     512u * (1 + MIN(p[1] % 32, p[2] % 32)), 0,
		     512u * (1 + p[2] % 32), 0,
		     1u + p[3] % 16, 0, 0);
	b[0] = OP_LOGIN_REQ | BHS_I;
	b[1] = 0x80 | (1 << 2) | 3;	/* T, operational stage to FFP */
	b[BHS_ISID] = 0x80;
	put_be16(b + BHS_TTT, 1);
	put_be32(b + BHS_ITT, 1);
	put_be32(b + BHS_CMDSN, 1);
	/* defaults when the target leaves a key out (RFC 7143 §13) */
	o->initial_r2t = true;
	o->immediate_data = true;
	o->first_burst = 65536;
	o->max_burst = 262144;
	o->max_r2t = 1;
	fc_send_pdu(o->f, b, text, (uint32_t)n);
	fc_run(o->f);
	o->cmdsn = 1;
}

static void fill(struct cmd *c, uint32_t off, uint32_t len, uint8_t salt)
{
	for (uint32_t i = 0; i < len; i++)
		c->buf[off + i] = (uint8_t)(c->itt * 31 + (off + i) * 7 + salt);
}

/* Sends @len bytes of @c's data at @off (bytes past the transfer: 0xee). */
static void send_data_out(struct obs *o, struct cmd *c, uint32_t ttt,
			  uint32_t datasn, uint32_t off, uint32_t len, bool final,
			  uint8_t salt)
{
	static uint8_t payload[65536];
	uint8_t b[48] = { 0 };

	len = MIN(len, (uint32_t)sizeof(payload));
	if (off < MAX_XFER)
		fill(c, off, MIN(len, MAX_XFER - off), salt);
	for (uint32_t i = 0; i < len; i++)
		payload[i] = (uint64_t)off + i < MAX_XFER ? c->buf[off + i] : 0xee;
	b[0] = OP_DATA_OUT;
	b[1] = final ? BHS_F : 0;
	put_be64(b + BHS_LUN, 0x0001000000000000ull);
	put_be32(b + BHS_ITT, c->itt);
	put_be32(b + BHS_TTT, ttt);
	put_be32(b + BHS_DATASN, datasn);
	put_be32(b + BHS_BUFOFF, off);
	/* counted as sent: a byte the target took twice is not "sent once" */
	for (uint32_t i = 0; i < len && (uint64_t)off + i < MAX_XFER; i++)
		if (c->sent[off + i] < 255)
			c->sent[off + i]++;
	if (ttt == RSVD_TAG) {
		c->unsol_bytes += len;
		c->unsol_dataout |= len > 0;	/* an empty one carries none */
		if (off == c->unsol_off)
			c->unsol_off += len;
	}
	if (o->trace)
		fprintf(stderr, "dataout: -> Data-Out ITT 0x%x TTT 0x%x DataSN %u "
			"off %u len %u%s\n", c->itt, ttt, datasn, off, len,
			final ? " F" : "");
	fc_send_pdu(o->f, b, payload, len);
}

static void new_write(struct obs *o, int slot, uint8_t a, uint8_t b, uint8_t x)
{
	struct cmd *c = &o->cmd[slot];
	uint8_t h[48] = { 0 };
	uint32_t imm, blocks = 1 + (b & 31);
	uint32_t lba = (uint32_t)a * 2;
	static const uint32_t imm_frac[4] = { 0, 1, 2, 4 };

	if (c->active)
		return;	/* the tag is in use: the fuzzer keeps tags unique */
	memset(c, 0, sizeof(*c));
	c->active = true;
	c->conforming = true;
	c->final = b & 0x80;
	c->itt = (uint32_t)slot | ++o->generation << 8;
	c->lba = lba;
	c->blocks = blocks;
	c->edtl = blocks * FC_BLK;
	if (x & 0x40)	/* an EDTL other than the CDB's transfer */
		c->edtl = (uint32_t)(x & 0x3f) * 256;
	/* immediate data: none, a quarter, half, all of the EDTL, or more */
	imm = c->edtl * imm_frac[(b >> 5) & 3] / 4;
	if (x & 0x80)
		imm = MIN(c->edtl + 512, (uint32_t)(x & 0x3f) * 512);
	imm = MIN(imm, o->mrdsl_tgt);
	if (x & 0xc0 || imm > MIN(o->first_burst, c->edtl) ||
	    (imm && !o->immediate_data) || (!c->final && o->initial_r2t))
		c->conforming = false;	/* §13.10-13.14 broken on purpose */
	h[0] = OP_SCSI_CMD | ((x & 0x20) && !(x & 0x40) ? BHS_I : 0);
	h[1] = (b & 0x80 ? BHS_F : 0) | CMD_W | 1;	/* SIMPLE */
	put_be64(h + BHS_LUN, 0x0001000000000000ull);
	put_be32(h + BHS_ITT, c->itt);
	put_be32(h + BHS_TTT, c->edtl);
	put_be32(h + BHS_CMDSN, o->cmdsn);
	if (!(h[0] & BHS_I))
		o->cmdsn++;
	h[BHS_CDB] = 0x2a;	/* WRITE(10) */
	put_be32(h + BHS_CDB + 2, lba);
	put_be16(h + BHS_CDB + 7, (uint16_t)blocks);
	if (imm) {
		static uint8_t payload[MAX_XFER + 512];

		imm = MIN(imm, (uint32_t)sizeof(payload));
		fill(c, 0, MIN(imm, (uint32_t)MAX_XFER), x);
		for (uint32_t i = 0; i < imm; i++) {
			payload[i] = i < MAX_XFER ? c->buf[i] : 0xee;
			if (i < MAX_XFER)
				c->sent[i] = 1;
		}
		c->unsol_bytes = imm;
		c->unsol_off = imm;
		c->immediate_data = true;
		if (o->trace)
			fprintf(stderr, "dataout: -> WRITE ITT 0x%x lba %u blocks "
				"%u EDTL %u imm %u%s\n", c->itt, lba, blocks,
				c->edtl, imm, h[1] & BHS_F ? " F" : "");
		fc_send_pdu(o->f, h, payload, imm);
		return;
	}
	if (o->trace)
		fprintf(stderr, "dataout: -> WRITE ITT 0x%x lba %u blocks %u "
			"EDTL %u%s\n", c->itt, lba, blocks, c->edtl,
			h[1] & BHS_F ? " F" : "");
	fc_send_pdu(o->f, h, NULL, 0);
}

/* The oldest R2T of @c not answered yet, or NULL. */
static struct r2t *oldest_r2t(struct cmd *c)
{
	for (int i = 0; i < c->nr2t; i++)
		if (!c->r2t[i].done)
			return &c->r2t[i];
	return NULL;
}

/*
 * A Data-Out: @a = slot (bits 0-2), TTT choice (bits 3-4: the oldest
 * open R2T, unsolicited, the newest R2T, a made-up tag), wrong DataSN
 * (bit 5), wrong offset (bit 6), F inverted (bit 7); @b, @x the length.
 */
static void data_out(struct obs *o, uint8_t a, uint8_t b, uint8_t x)
{
	struct cmd *c = &o->cmd[a & 7];
	uint32_t len = ((uint32_t)b << 8 | x) % (o->mrdsl_tgt + 1);
	uint32_t ttt, off, sn;
	bool final;
	struct r2t *r;

	if (!c->active)
		return;
	switch ((a >> 3) & 3) {
	case 0:
		r = oldest_r2t(c);
		if (!r || r->sent == r->len)
			return;
		ttt = r->ttt;
		off = r->off + r->sent;
		len = MIN(len ? len : r->len - r->sent, r->len - r->sent);
		sn = r->datasn++;
		r->sent += len;
		final = r->sent == r->len;
		break;
	case 1:
		ttt = RSVD_TAG;
		off = c->unsol_off;
		sn = c->unsol_datasn++;
		final = off + len >= MIN(o->first_burst, c->edtl);
		break;
	case 2:
		r = c->nr2t ? &c->r2t[c->nr2t - 1] : NULL;
		if (!r)
			return;
		ttt = r->ttt;
		off = r->off + r->sent;
		len = MIN(len, r->len - r->sent);
		sn = r->datasn++;
		r->sent += len;
		final = r->sent >= r->len;
		break;
	default:
		ttt = 0x12345u + x;
		off = 0;
		sn = 0;
		final = true;
		r = NULL;
		break;
	}
	/* ending an unsolicited burst early with F is allowed (§13.14) */
	if (((a >> 3) & 3) >= 2 || (a & 0x60) ||
	    ((a & 0x80) && ((a >> 3) & 3) != 1) ||
	    (((a >> 3) & 3) == 1 && (c->final || o->initial_r2t ||
				     off + len > MIN(o->first_burst, c->edtl))))
		c->conforming = false;
	if (a & 0x20)
		sn += 1 + (x & 3);
	if (a & 0x40)
		off += 512;
	if (a & 0x80)
		final = !final;
	if (((a >> 3) & 3) == 1 && final)
		c->unsol_final = true;
	if (final && ((a >> 3) & 3) != 1 && ((a >> 3) & 3) != 3) {
		/* the R2T counts as answered once its final Data-Out is out */
		for (int i = 0; i < c->nr2t; i++)
			if (c->r2t[i].ttt == ttt)
				c->r2t[i].done = true;
	}
	send_data_out(o, c, ttt, sn, off, len, final, x);
}

/* Answers every open R2T of a slot in order, in PDUs of @pdu bytes. */
static void answer_all(struct obs *o, uint8_t a, uint32_t pdu)
{
	struct cmd *c = &o->cmd[a & 7];
	struct r2t *r;

	pdu = MAX(pdu, 1u);
	for (int guard = 0; c->active && (r = oldest_r2t(c)) && guard < 256;
	     guard++) {
		uint32_t len = MIN(pdu, MIN(o->mrdsl_tgt, r->len - r->sent));
		uint32_t off = r->off + r->sent;

		r->sent += len;
		if (r->sent == r->len)
			r->done = true;
		send_data_out(o, c, r->ttt, r->datasn++, off, len, r->done, a);
		fc_run(o->f);
	}
}

static void run_record(struct obs *o, const uint8_t *r)
{
	uint8_t b[48] = { 0 };

	switch (r[0] & 7) {
	case 0: case 1:		/* WRITE(10): slot, lba/2, blocks and more */
		new_write(o, r[0] >> 3 & 7, r[1], r[2], r[3]);
		break;
	case 2: case 3:
		data_out(o, r[1], r[2], r[3]);
		break;
	case 4:
		answer_all(o, r[1], (uint32_t)r[2] << 4 | (r[3] & 15));
		break;
	case 5:			/* all unsolicited data the burst allows */
		if (o->cmd[r[1] & 7].active) {
			struct cmd *c = &o->cmd[r[1] & 7];
			uint32_t end = MIN(o->first_burst, c->edtl);

			for (int i = 0; i < 64 && c->unsol_off < end; i++) {
				uint32_t len = MIN(end - c->unsol_off,
						   MIN(o->mrdsl_tgt, 512u * (1 + (r[2] & 7))));

				if (c->unsol_off + len == end)
					c->unsol_final = true;
				if (c->final || o->initial_r2t)
					c->conforming = false;
				send_data_out(o, c, RSVD_TAG, c->unsol_datasn++,
					      c->unsol_off, len,
					      c->unsol_off + len == end, r[3]);
			}
		}
		break;
	case 6:			/* NOP-Out ping */
		b[0] = OP_NOP_OUT | BHS_I;
		b[1] = BHS_F;
		put_be32(b + BHS_ITT, 0x7000000u | r[1]);
		put_be32(b + BHS_TTT, RSVD_TAG);
		put_be32(b + BHS_CMDSN, o->cmdsn);
		fc_send_pdu(o->f, b, r + 2, r[2] & 1 ? 2 : 0);
		break;
	case 7:			/* SNACK (none at ERL 0) */
		b[0] = OP_SNACK;
		b[1] = BHS_F | (r[1] & 3);
		put_be32(b + BHS_ITT, o->cmd[r[2] & 7].itt);
		put_be32(b + BHS_TTT, RSVD_TAG);
		fc_send_pdu(o->f, b, NULL, 0);
		break;
	}
	fc_run(o->f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t mrdsl[4] = { 512, 1024, 4096, 8192 };
	struct iscsi_settings set;
	struct obs *o;
	uint8_t *store;

	if (size < 4)
		return 0;
	fc_init("fuzz_dataout");
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			abort();
	}
	o = g;
	memset(o->cmd, 0, sizeof(o->cmd));
	memset(o->unknown, 0, sizeof(o->unknown));
	o->logged_in = o->closed = false;
	o->trace = getenv("FUZZ_TRACE") != NULL;
	fc_store_rw(false, 0, o->shadow, FC_LUN_SIZE);

	iscsi_settings_default(&set);
	set.max_recv_dsl = mrdsl[(data[0] >> 2) & 3];
	o->mrdsl_tgt = set.max_recv_dsl;
	o->f = fc_open(&set, on_pdu, o);
	login(o, data);
	if (!o->logged_in)
		fc_fail("login failed");
	if (o->first_burst > o->max_burst || o->max_r2t < 1 || o->max_r2t > 16)
		fc_fail("negotiated FirstBurstLength %u MaxBurstLength %u "
			"MaxOutstandingR2T %u", o->first_burst, o->max_burst,
			o->max_r2t);
	for (size_t pos = 4, n = 0; pos + 4 <= size && n < MAX_RECORDS &&
	     !fc_target_closed(o->f); pos += 4, n++)
		run_record(o, data + pos);
	fc_run(o->f);

	for (int i = 0; i < NSLOTS && !fc_target_closed(o->f); i++) {
		struct cmd *c = &o->cmd[i];
		bool owed = outstanding(c) ||
			    (!c->final && !o->initial_r2t && !c->unsol_final &&
			     c->unsol_off < MIN(o->first_burst, c->edtl));

		if (c->active && c->conforming && !owed)
			fc_fail("WRITE ITT 0x%x waits, but the initiator owes "
				"it no data (%u R2Ts, %u bytes unsolicited)",
				c->itt, c->nr2t, c->unsol_off);
	}
	if (fc_target_closed(o->f)) {
		/* a command with all its data may have run unanswered */
		for (int i = 0; i < NSLOTS; i++)
			if (o->cmd[i].active)
				for (uint32_t b = 0; b < o->cmd[i].blocks &&
				     o->cmd[i].lba + b < FC_LUN_SIZE / FC_BLK; b++)
					o->unknown[o->cmd[i].lba + b] = 1;
	}
	fc_close(o->f);
	store = malloc(FC_LUN_SIZE);
	if (!store)
		abort();
	fc_store_rw(false, 0, store, FC_LUN_SIZE);
	for (uint32_t b = 0; b < FC_LUN_SIZE / FC_BLK; b++)
		if (!o->unknown[b] && memcmp(store + b * FC_BLK,
					     o->shadow + b * FC_BLK, FC_BLK))
			fc_fail("block %u holds other bytes than the GOOD writes "
				"sent", b);
	free(store);
	return 0;
}
