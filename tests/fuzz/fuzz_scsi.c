/*
 * fuzz_scsi.c - fuzz target for CDB decoding and execution: a sequence of
 * commands run through the public SCSI API (scsi_task_prepare /
 * scsi_task_exec, src/scsi/scsi.h) against a RAM-backed disk, which
 * completes synchronously when the task has no reactor.
 *
 * Input: byte 0 picks the LU (bit 0: 4096-byte blocks, else 512; bit 1:
 * read-only; bits 2..7: 16 + n blocks), then records of
 *   flags (bit 0: no LU at the LUN; bit 1: expected length x 16; bit 2:
 *   the data is a pattern, not in the input),
 *   expected data transfer length (2 bytes, little endian),
 *   CDB (16 bytes), and for a command that writes (unless bit 2), as many
 *   data bytes as the command takes (short input is padded with the
 *   pattern, which differs from command to command).
 *
 * Properties, for every command:
 *   - prepare does not complete the task; when it refuses a command the
 *     status is not GOOD;
 *   - exec completes exactly once, synchronously, with a SAM status;
 *     sense_len <= SCSI_SENSE_MAX, CHECK CONDITION carries fixed or
 *     descriptor sense; for a read xfer_len <= buf_len <= data_len;
 *   - READ/WRITE 6/10/12/16 and WRITE AND VERIFY decode LBA and length as
 *     SBC-3 lays them out, an accepted range lies inside the medium and
 *     moves at most SCSI_MAX_XFER_BYTES (the bound scsi.h promises);
 *   - a shadow copy of the medium, updated by every GOOD write, predicts
 *     what a GOOD READ returns byte for byte, what VERIFY (BYTCHK=01b)
 *     and COMPARE AND WRITE decide, and what READ CAPACITY reports.
 * Blocks a command may have changed in ways the shadow does not model
 * (UNMAP, WRITE SAME with UNMAP/ANCHOR/NDOB, writes given less data than
 * the CDB asks for, unknown commands that succeed) become unknown and are
 * not compared until written again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backing/bs.h"
#include "base/base.h"
#include "scsi/scsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                     \
	do {                                                            \
		if (!(cond))                                            \
			fail(__LINE__, #cond);                          \
	} while (0)

#define TGT_NAME "iqn.2026-11.org.ringtgt:fuzz"
#define MAX_CMDS 64
#define REC_HDR 3
#define REC_CDB 16

/* SPC-4 / SBC-3 operation codes (spelled out: scsi_internal.h is private) */
enum {
	OP_TEST_UNIT_READY = 0x00, OP_READ_6 = 0x08, OP_WRITE_6 = 0x0a,
	OP_INQUIRY = 0x12, OP_MODE_SENSE_6 = 0x1a, OP_READ_CAPACITY_10 = 0x25,
	OP_READ_10 = 0x28, OP_WRITE_10 = 0x2a, OP_WRITE_VERIFY_10 = 0x2e,
	OP_VERIFY_10 = 0x2f, OP_PRE_FETCH_10 = 0x34, OP_SYNC_CACHE_10 = 0x35,
	OP_WRITE_SAME_10 = 0x41, OP_UNMAP = 0x42, OP_MODE_SENSE_10 = 0x5a,
	OP_READ_16 = 0x88, OP_COMPARE_AND_WRITE = 0x89, OP_WRITE_16 = 0x8a,
	OP_WRITE_VERIFY_16 = 0x8e, OP_VERIFY_16 = 0x8f, OP_PRE_FETCH_16 = 0x90,
	OP_SYNC_CACHE_16 = 0x91, OP_WRITE_SAME_16 = 0x93,
	OP_SERVICE_ACTION_IN_16 = 0x9e, OP_REPORT_LUNS = 0xa0,
	OP_MAINTENANCE_IN = 0xa3, OP_READ_12 = 0xa8, OP_WRITE_12 = 0xaa,
	OP_WRITE_VERIFY_12 = 0xae, OP_VERIFY_12 = 0xaf,
	OP_REQUEST_SENSE = 0x03,
};

static const struct scsi_task *cur;	/* the command being checked */
static int done_calls;
static bool trace;	/* $FUZZ_TRACE: one line per executed command */
static unsigned cmd_no;	/* of the input, for the data pattern */

static void fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_scsi: line %d: %s\n", line, what);
	if (cur) {
		fprintf(stderr, "  cdb");
		for (int i = 0; i < 16; i++)
			fprintf(stderr, " %02x", cur->cdb[i]);
		fprintf(stderr, "\n  exp_len %u data_len %u buf_len %u xfer_len %u status %02x sense_len %u\n",
			cur->exp_len, cur->data_len, cur->buf_len,
			cur->xfer_len, cur->status, cur->sense_len);
	}
	abort();
}

static void task_done(struct scsi_task *t)
{
	(void)t;
	done_calls++;
}

struct shadow {
	uint8_t *bytes;
	bool *known;		/* per block */
	uint64_t blocks;
	uint32_t bsz;
};

/* [lba, lba + n) lies on the medium (without overflowing). */
static bool in_range(const struct shadow *s, uint64_t lba, uint64_t n)
{
	return lba <= s->blocks && n <= s->blocks - lba;
}

static void mark_unknown(struct shadow *s, uint64_t lba, uint64_t n)
{
	for (uint64_t b = lba; b < s->blocks && b - lba < n; b++)
		s->known[b] = false;
}

static bool all_known(const struct shadow *s, uint64_t lba, uint64_t n)
{
	for (uint64_t b = lba; b < lba + n; b++)
		if (!s->known[b])
			return false;
	return true;
}

static void shadow_write(struct shadow *s, uint64_t lba, const uint8_t *buf,
			 uint64_t n)
{
	memcpy(s->bytes + lba * s->bsz, buf, n * s->bsz);
	for (uint64_t b = lba; b < lba + n; b++)
		s->known[b] = true;
}

/* LBA and block count of the plain read/write layouts (SBC-3 §5). */
static bool rw_layout(const uint8_t *c, bool *write, uint64_t *lba,
		      uint64_t *n)
{
	switch (c[0]) {
	case OP_READ_6:
	case OP_WRITE_6:
		*write = c[0] == OP_WRITE_6;
		*lba = get_be24(c + 1) & 0x1fffff;
		*n = c[4] ? c[4] : 256;	/* SBC-3 §5.16: 0 means 256 */
		return true;
	case OP_READ_10:
	case OP_WRITE_10:
	case OP_WRITE_VERIFY_10:
		*write = c[0] != OP_READ_10;
		*lba = get_be32(c + 2);
		*n = get_be16(c + 7);
		return true;
	case OP_READ_12:
	case OP_WRITE_12:
	case OP_WRITE_VERIFY_12:
		*write = c[0] != OP_READ_12;
		*lba = get_be32(c + 2);
		*n = get_be32(c + 6);
		return true;
	case OP_READ_16:
	case OP_WRITE_16:
	case OP_WRITE_VERIFY_16:
		*write = c[0] != OP_READ_16;
		*lba = get_be64(c + 2);
		*n = get_be32(c + 10);
		return true;
	}
	return false;
}

/* Commands that never change the medium. */
static bool read_only_op(const uint8_t *c)
{
	switch (c[0]) {
	case OP_TEST_UNIT_READY: case OP_REQUEST_SENSE: case OP_READ_6:
	case OP_INQUIRY: case OP_MODE_SENSE_6: case OP_READ_CAPACITY_10:
	case OP_READ_10: case OP_VERIFY_10: case OP_PRE_FETCH_10:
	case OP_SYNC_CACHE_10: case OP_MODE_SENSE_10: case OP_READ_16:
	case OP_VERIFY_16: case OP_PRE_FETCH_16: case OP_SYNC_CACHE_16:
	case OP_SERVICE_ACTION_IN_16: case OP_REPORT_LUNS:
	case OP_MAINTENANCE_IN: case OP_READ_12: case OP_VERIFY_12:
		return true;
	}
	return false;
}

static void check_sense(const struct scsi_task *t)
{
	CHECK(t->sense_len <= SCSI_SENSE_MAX);
	switch (t->status) {
	case SAM_STAT_GOOD:
	case SAM_STAT_CONDITION_MET:
	case SAM_STAT_BUSY:
	case SAM_STAT_RESERVATION_CONFLICT:
	case SAM_STAT_TASK_SET_FULL:
	case SAM_STAT_TASK_ABORTED:
		break;
	case SAM_STAT_CHECK_CONDITION:
		/* SPC-4 §4.5: fixed (70h/71h, 18 bytes here) or descriptor */
		CHECK(t->sense_len >= 8);
		CHECK((t->sense[0] & 0x7f) >= 0x70 && (t->sense[0] & 0x7f) <= 0x73);
		if ((t->sense[0] & 0x7f) <= 0x71)
			CHECK(t->sense_len >= 18 &&
			      8u + t->sense[7] <= t->sense_len);
		break;
	default:
		CHECK(!"a SAM status");
	}
}

static bool sense_is(const struct scsi_task *t, uint8_t key, uint8_t asc)
{
	return t->status == SAM_STAT_CHECK_CONDITION &&
	       (t->sense[2] & 0x0f) == key && t->sense[12] == asc;
}

/* What the shadow predicts for a finished command; updates it. */
static void model(struct shadow *s, const struct scsi_task *t, bool has_lu)
{
	const uint8_t *c = t->cdb;
	uint64_t lba, n;
	bool write;

	if (!has_lu)
		return;
	if (rw_layout(c, &write, &lba, &n)) {
		if (t->status != SAM_STAT_GOOD)
			return;
		CHECK(in_range(s, lba, n));
		if (write && t->buf_len == n * s->bsz)
			shadow_write(s, lba, t->buf, n);
		else if (write)
			mark_unknown(s, lba, n);
		else if (all_known(s, lba, n))
			CHECK(memcmp(t->buf, s->bytes + lba * s->bsz,
				     t->xfer_len) == 0);
		if (!write)
			CHECK(t->xfer_len == t->buf_len);
		return;
	}
	switch (c[0]) {
	case OP_COMPARE_AND_WRITE:
		/* SBC-3 §5.2: compare n blocks, then write the next n */
		lba = get_be64(c + 2);
		n = c[13];
		if (t->status != SAM_STAT_GOOD && !sense_is(t, 0x0e, 0x1d))
			return;
		CHECK(in_range(s, lba, n));
		if (t->status == SAM_STAT_GOOD)
			CHECK(t->buf_len == 2 * n * s->bsz);
		else if (t->buf_len != 2 * n * s->bsz)
			return;
		if (all_known(s, lba, n))
			CHECK((memcmp(t->buf, s->bytes + lba * s->bsz,
				      n * s->bsz) == 0) ==
			      (t->status == SAM_STAT_GOOD));
		if (t->status == SAM_STAT_GOOD)
			shadow_write(s, lba, t->buf + n * s->bsz, n);
		return;
	case OP_VERIFY_10:
	case OP_VERIFY_16:
		/* SBC-3 §5.32: BYTCHK 01b compares the data with the medium */
		if (((c[1] >> 1) & 3) != 1)
			return;
		lba = c[0] == OP_VERIFY_10 ? get_be32(c + 2) : get_be64(c + 2);
		n = c[0] == OP_VERIFY_10 ? get_be16(c + 7) : get_be32(c + 10);
		if (t->status != SAM_STAT_GOOD && !sense_is(t, 0x0e, 0x1d))
			return;
		CHECK(in_range(s, lba, n));
		if (t->buf_len == n * s->bsz && all_known(s, lba, n))
			CHECK((memcmp(t->buf, s->bytes + lba * s->bsz,
				      n * s->bsz) == 0) ==
			      (t->status == SAM_STAT_GOOD));
		return;
	case OP_WRITE_SAME_10:
	case OP_WRITE_SAME_16:
		if (t->status != SAM_STAT_GOOD)
			return;
		lba = c[0] == OP_WRITE_SAME_10 ? get_be32(c + 2) : get_be64(c + 2);
		n = c[0] == OP_WRITE_SAME_10 ? get_be16(c + 7) : get_be32(c + 10);
		/* WSNZ=1: 0 blocks is INVALID FIELD IN CDB, never GOOD */
		CHECK(n != 0);
		CHECK(in_range(s, lba, n));
		if ((c[1] & 0x19) == 0 && t->buf_len == s->bsz) {
			for (uint64_t b = lba; b < lba + n; b++)
				shadow_write(s, b, t->buf, 1);
		} else {
			mark_unknown(s, lba, n);
		}
		return;
	case OP_UNMAP:
		if (t->status != SAM_STAT_GOOD)
			return;
		/* SBC-3 §5.28: 8-byte header, 16-byte block descriptors */
		for (uint32_t off = 8; off + 16 <= t->buf_len; off += 16)
			if (get_be64(t->buf + off) < s->blocks)
				mark_unknown(s, get_be64(t->buf + off),
					     get_be32(t->buf + off + 8));
		return;
	case OP_READ_CAPACITY_10:
		if (t->status == SAM_STAT_GOOD && t->xfer_len >= 8) {
			CHECK(get_be32(t->buf) == s->blocks - 1);
			CHECK(get_be32(t->buf + 4) == s->bsz);
		}
		return;
	case OP_SERVICE_ACTION_IN_16:
		if ((c[1] & 0x1f) == 0x10 && t->status == SAM_STAT_GOOD &&
		    t->xfer_len >= 12) {
			CHECK(get_be64(t->buf) == s->blocks - 1);
			CHECK(get_be32(t->buf + 8) == s->bsz);
		}
		return;
	}
	if (t->status == SAM_STAT_GOOD && !read_only_op(c))
		mark_unknown(s, 0, s->blocks);	/* not modelled: forget */
}

static void run_one(struct scsi_target *tgt, struct scsi_nexus *nx,
		    struct scsi_lu *lu, struct shadow *s, const uint8_t **pp,
		    const uint8_t *end)
{
	static struct scsi_task t;
	const uint8_t *p = *pp;
	uint8_t flags = p[0];
	uint32_t exp_len = (uint32_t)p[1] | (uint32_t)p[2] << 8;
	enum sense_reason why;
	bool has_lu = !(flags & 1);
	uint64_t lba, n;
	bool write;
	uint8_t *buf;

	if (flags & 2)
		exp_len <<= 4;
	memset(&t, 0, sizeof(t));
	t.nexus = nx;
	t.lu = has_lu ? lu : NULL;
	t.lun = has_lu ? 0 : 5;
	memcpy(t.cdb, p + REC_HDR, REC_CDB);
	t.exp_len = exp_len;
	t.r = NULL;		/* the RAM store completes at once */
	t.done = task_done;
	p += REC_HDR + REC_CDB;
	cur = &t;
	(void)tgt;

	done_calls = 0;
	why = scsi_task_prepare(&t);
	CHECK(done_calls == 0);
	if (why != SENSE_NONE) {
		if (trace)
			fprintf(stderr, "cdb %02x %02x refused: status %02x\n",
				t.cdb[0], t.cdb[1], t.status);
		CHECK(t.status != SAM_STAT_GOOD);
		check_sense(&t);
		*pp = p;
		return;
	}
	CHECK(t.dir == SCSI_DIR_NONE || t.dir == SCSI_DIR_READ ||
	      t.dir == SCSI_DIR_WRITE);
	if (has_lu && rw_layout(t.cdb, &write, &lba, &n)) {
		CHECK(t.lba == lba && t.nblocks == n);
		CHECK(t.data_len == n * s->bsz);
		CHECK(t.data_len <= SCSI_MAX_XFER_BYTES);
		if (n)
			CHECK(t.dir == (write ? SCSI_DIR_WRITE : SCSI_DIR_READ));
		CHECK(in_range(s, lba, n));
	}
	t.buf_len = MIN(t.exp_len, t.data_len);
	buf = malloc(t.buf_len ? t.buf_len : 1);
	CHECK(buf);
	if (t.dir == SCSI_DIR_WRITE) {
		size_t have = flags & 4 ? 0 :
			      MIN((size_t)(end - p), (size_t)t.buf_len);

		memcpy(buf, p, have);
		for (size_t i = have; i < t.buf_len; i++)
			buf[i] = (uint8_t)(i * 31 + 7 + 101 * cmd_no);
		p += have;
	} else {
		memset(buf, 0xcc, t.buf_len ? t.buf_len : 1);
	}
	t.buf = buf;
	scsi_task_exec(&t);
	CHECK(done_calls == 1);	/* synchronous, exactly once */
	check_sense(&t);
	if (t.dir == SCSI_DIR_READ)
		CHECK(t.xfer_len <= t.buf_len && t.xfer_len <= t.data_len);
	model(s, &t, has_lu);
	if (trace)
		fprintf(stderr, "cdb %02x %02x lba %llu n %u exp %u data %u xfer %u status %02x key %x asc %02x\n",
			t.cdb[0], t.cdb[1], (unsigned long long)t.lba, t.nblocks,
			t.exp_len, t.data_len, t.xfer_len, t.status,
			t.sense_len ? t.sense[2] & 0xf : 0,
			t.sense_len ? t.sense[12] : 0);
	free(buf);
	*pp = p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scsi_target tgt;
	static struct scsi_nexus nx;
	struct bs_open_args a = { 0 };
	struct scsi_lu_config lc = { .type = SCSI_LU_DISK, .lun = 0,
				     .target_name = TGT_NAME };
	struct shadow s = { 0 };
	const uint8_t *p = data, *end = data + size;
	struct scsi_lu *lu;
	struct bs *bs;

	if (size < 1)
		return 0;
	trace = getenv("FUZZ_TRACE") != NULL;
	s.bsz = data[0] & 1 ? 4096 : 512;
	s.blocks = 16 + (data[0] >> 2);
	lc.readonly = data[0] & 2;
	lc.block_size = s.bsz;
	p++;

	a.size = s.blocks * s.bsz;
	bs = bs_open(&bs_ram_ops, NULL, &a);
	CHECK(bs);
	lc.bs = bs;
	lu = scsi_lu_new(&lc);
	CHECK(lu);
	scsi_target_init(&tgt, TGT_NAME);
	CHECK(scsi_target_add_lu(&tgt, lu) == 0);	/* takes our reference */
	memset(&nx, 0, sizeof(nx));
	snprintf(nx.initiator_port, sizeof(nx.initiator_port),
		 "iqn.2026-11.org.ringtgt:fuzz-init,i,0x1");
	nx.rel_port_id = 1;
	nx.target = &tgt;

	/* A new RAM store reads as zeroes. */
	s.bytes = calloc(s.blocks, s.bsz);
	s.known = malloc(s.blocks * sizeof(*s.known));
	CHECK(s.bytes && s.known);
	for (uint64_t b = 0; b < s.blocks; b++)
		s.known[b] = true;

	for (cmd_no = 0; cmd_no < MAX_CMDS && end - p >= REC_HDR + REC_CDB;
	     cmd_no++)
		run_one(&tgt, &nx, lu, &s, &p, end);

	scsi_target_destroy(&tgt);
	free(s.bytes);
	free(s.known);
	return 0;
}
