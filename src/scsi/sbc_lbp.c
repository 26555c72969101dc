/*
 * sbc_lbp.c - logical block provisioning (SBC-3): GET LBA STATUS
 * and WRITE SAME(10/16), whose UNMAP bit is the other way (next to UNMAP,
 * in sbc.c) to deallocate blocks.
 *
 * GET LBA STATUS asks the store (bs_lba_status(): synchronous, a few
 * lseeks for files) and turns byte extents into block extents. A block
 * is deallocated only when all of it is; a store without the op reports
 * everything mapped, which is always a truthful answer for LBPRZ=0.
 *
 * WRITE SAME of a zero block becomes one BS_UNMAP (UNMAP=1) or
 * BS_WRITE_ZEROES request, whatever the length; any other pattern is
 * replicated into a bounce buffer (t->scratch) and written one chunk at
 * a time, t->pos bytes done so far.
 */
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_internal.h"

/* --- GET LBA STATUS (SBC-3 GET LBA STATUS; SBC-4 adds REPORT TYPE) ------ */

#define GLS_HDR 8
#define GLS_DESC 16
#define GLS_MAX_DESCS 64	/* per command: 1 KiB of descriptors */
#define GLS_MAPPED 0x0
#define GLS_DEALLOCATED 0x1
/* store queries merged into one mapped descriptor at most */
#define GLS_MAX_MERGE 16

enum sense_reason sbc_parse_get_lba_status(struct scsi_task *t)
{
	uint64_t lba = get_be64(t->cdb + 2);

	/* SBC-4 REPORT TYPE: only 0 (all LBAs) is implemented */
	if (t->cdb[14] & 0x07)
		return scsi_invalid_field(t, true, 14, 2);
	/* Unlike READ, an LBA equal to the capacity is out of range: there
	 * is no block there to describe. */
	if (lba >= scsi_lu_nblocks(t->lu))
		return SENSE_LBA_OUT_OF_RANGE;
	t->lba = lba;
	t->dir = SCSI_DIR_READ;
	t->data_len = get_be32(t->cdb + 10);
	return SENSE_NONE;
}

static uint64_t round_up(uint64_t v, uint32_t a)
{
	return (v + a - 1) & ~(uint64_t)(a - 1);
}

/*
 * The extent of blocks starting at @lba with one provisioning status.
 * Byte extents of the store need not be block aligned: a block with any
 * mapped byte is mapped, so a deallocated extent is rounded inwards and
 * a mapped one outwards (and merged with what follows it while that is
 * mapped or a hole shorter than a block).
 */
static int lba_extent(struct scsi_lu *lu, uint64_t cap, uint64_t lba,
		      uint64_t *n, bool *mapped)
{
	uint32_t bsz = lu->block_size;
	uint64_t off = lba << lu->block_shift;
	uint64_t end = cap << lu->block_shift;
	uint64_t len, cur;
	bool m;
	int rc;

	rc = bs_lba_status(lu->bs, off, &len, &m);
	if (rc < 0)
		return rc;
	if (!m && len >= bsz) {
		*mapped = false;
		*n = MIN(len >> lu->block_shift, cap - lba);
		return 0;
	}
	/* mapped, or a hole smaller than the block: the block is mapped */
	cur = m ? round_up(off + len, bsz) : off + bsz;
	for (int i = 0; i < GLS_MAX_MERGE && cur < end; i++) {
		rc = bs_lba_status(lu->bs, cur, &len, &m);
		if (rc < 0)
			return rc;
		if (!m && len >= bsz)
			break;
		cur = m ? round_up(cur + len, bsz) : cur + bsz;
	}
	*mapped = true;
	*n = (MIN(cur, end) - off) >> lu->block_shift;
	return 0;
}

void sbc_get_lba_status(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	uint8_t b[GLS_HDR + GLS_DESC * GLS_MAX_DESCS];
	uint32_t max = t->data_len > GLS_HDR + GLS_DESC
			       ? (t->data_len - GLS_HDR) / GLS_DESC : 1;
	uint32_t nd = 0;
	uint64_t lba = t->lba;
	/* the capacity may have shrunk since parse: one value throughout */
	uint64_t cap = scsi_lu_nblocks(lu);

	/* Only the descriptors the initiator has room for are looked up;
	 * at least one, so the PARAMETER DATA LENGTH is never 4. */
	max = MIN(max, GLS_MAX_DESCS);
	memset(b, 0, GLS_HDR);
	if (lba >= cap) {
		scsi_task_fail(t, SENSE_LBA_OUT_OF_RANGE);
		return;
	}
	while (nd < max && lba < cap) {
		uint8_t *d = b + GLS_HDR + GLS_DESC * nd;
		uint64_t n;
		bool mapped;
		int rc = lba_extent(lu, cap, lba, &n, &mapped);

		if (rc < 0) {
			scsi_task_fail(t, sbc_errno_reason(rc, false));
			return;
		}
		n = MIN(n, UINT32_MAX);
		memset(d, 0, GLS_DESC);
		put_be64(d, lba);
		put_be32(d + 8, (uint32_t)n);
		d[12] = mapped ? GLS_MAPPED : GLS_DEALLOCATED;
		lba += n;
		nd++;
	}
	/* PARAMETER DATA LENGTH: the bytes that follow it */
	put_be32(b, GLS_HDR - 4 + GLS_DESC * nd);
	scsi_task_data_in(t, b, GLS_HDR + GLS_DESC * nd);
	scsi_task_complete(t);
}

/* --- WRITE SAME (SBC-3 WRITE SAME(10) / (16)) ---------------------------- */

/* byte 1 */
#define WS_PROTECT 0xe0
#define WS_ANCHOR 0x10
#define WS_UNMAP 0x08
#define WS_OBSOLETE 0x06	/* PBDATA, LBDATA */
#define WS_NDOB 0x01		/* WRITE SAME(16) only (SBC-4) */

uint32_t sbc_max_write_same(const struct scsi_lu *lu)
{
	return SCSI_MAX_WS_BYTES >> lu->block_shift;
}

static bool ws_ndob(const struct scsi_task *t)
{
	return t->cdb[0] == WRITE_SAME_16 && (t->cdb[1] & WS_NDOB);
}

enum sense_reason sbc_parse_write_same(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	const uint8_t *cdb = t->cdb;
	bool sixteen = cdb[0] == WRITE_SAME_16;
	uint64_t lba = sixteen ? get_be64(cdb + 2) : get_be32(cdb + 2);
	uint64_t n = sixteen ? get_be32(cdb + 10) : get_be16(cdb + 7);
	uint16_t len_byte = sixteen ? 10 : 7;

	if (cdb[1] & WS_PROTECT)
		return scsi_invalid_field(t, true, 1, 7);
	/* ANC_SUP=0: ANCHOR=1 is invalid with or without UNMAP */
	if (cdb[1] & WS_ANCHOR)
		return scsi_invalid_field(t, true, 1, 4);
	if (cdb[1] & WS_OBSOLETE)
		return scsi_invalid_field(t, true, 1, 2);
	/*
	 * SBC-4 WRITE SAME(10) / (16), NUMBER OF LOGICAL BLOCKS: with the
	 * WSNZ bit of the Block Limits VPD page set to one (we set it), a
	 * zero there is refused with ILLEGAL REQUEST, INVALID FIELD IN CDB;
	 * the field pointer names the field's first byte and bit (SPC-4
	 * §4.5.2.4.2). With WSNZ=0, 0 would mean "to the last block", and
	 * an UNMAP=1 request with a non-zero block on an LBPRZ=1 LU would be
	 * a write of the whole tail (SBC-4 §4.7.3.4.4). LIO refuses it too.
	 */
	if (n == 0)
		return scsi_invalid_field(t, true, len_byte, 7);
	if (lu->readonly)
		return SENSE_WRITE_PROTECTED;
	if (!sbc_lba_range_ok(lu, lba, n))
		return SENSE_LBA_OUT_OF_RANGE;
	if (n > sbc_max_write_same(lu))
		return scsi_invalid_field(t, true, len_byte, 7);
	t->lba = lba;
	t->nblocks = (uint32_t)n;
	if (!ws_ndob(t)) {
		t->dir = SCSI_DIR_WRITE;
		t->data_len = lu->block_size;
		/*
		 * The Data-Out is exactly one block: a shorter or longer one
		 * is refused before any transfer, FCP-4 §9.4.2 b) (the
		 * transport still reports the residual, RFC 7143 §11.4.5.2).
		 */
		if (t->exp_len != t->data_len)
			return SENSE_INVALID_FIELD_IN_IU;
	}
	return SENSE_NONE;
}

static void ws_write_next(struct scsi_task *t);
static void ws_pattern(struct scsi_task *t);

static void ws_write_done(struct bs_io *io)
{
	struct scsi_task *t = container_of(io, struct scsi_task, io);

	if (io->result < 0) {
		scsi_task_fail(t, sbc_errno_reason(io->result, true));
		return;
	}
	t->pos += (uint32_t)io->len;
	ws_write_next(t);
}

static void ws_write_next(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	uint32_t total = t->nblocks << lu->block_shift;
	uint32_t n = MIN(total - t->pos, SCSI_BOUNCE_BYTES);

	if (t->pos == total) {
		scsi_task_complete(t);
		return;
	}
	sbc_submit_chunk(t, BS_WRITE, n, ws_write_done);
}

/* Writes the block (zeroes with NDOB) into every block of the range. */
static void ws_pattern(struct scsi_task *t)
{
	uint32_t bsz = t->lu->block_size;
	uint32_t size = MIN(t->nblocks << t->lu->block_shift,
			    SCSI_BOUNCE_BYTES);

	t->scratch = ws_ndob(t) ? calloc(1, size) : malloc(size);
	if (!t->scratch) {
		scsi_task_fail(t, SENSE_NO_MEMORY);
		return;
	}
	if (!ws_ndob(t))
		for (uint32_t off = 0; off < size; off += bsz)
			memcpy(t->scratch + off, t->buf, bsz);
	t->pos = 0;
	ws_write_next(t);
}

static void ws_zero_done(struct bs_io *io)
{
	struct scsi_task *t = container_of(io, struct scsi_task, io);

	if (io->result == -EOPNOTSUPP) {
		/* Deallocation is advisory; zeroes must still be written. */
		if (io->op == BS_UNMAP) {
			io->op = BS_WRITE_ZEROES;
			sbc_submit_io(t, ws_zero_done);
		} else {
			ws_pattern(t);
		}
		return;
	}
	if (io->result < 0) {
		scsi_task_fail(t, sbc_errno_reason(io->result, true));
		return;
	}
	scsi_task_complete(t);
}

static bool all_zero(const uint8_t *p, uint32_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/*
 * SBC-3 WRITE SAME, UNMAP bit: the blocks may be deallocated when that
 * reads back as the data sent. Our stores' deallocated blocks (punched
 * holes) read as zeroes, so a zero block is unmapped and anything else
 * written. Without UNMAP a zero block still takes the cheap zero-range
 * path, which allocates (ZERO_RANGE) where the store can.
 */
void sbc_write_same(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	bool zero;

	if (t->nblocks == 0) {	/* LBA == capacity with length 0 */
		scsi_task_complete(t);
		return;
	}
	if (!ws_ndob(t) && (!t->buf || t->buf_len < lu->block_size)) {
		scsi_task_fail(t, SENSE_INVALID_FIELD_IN_IU);
		return;
	}
	zero = ws_ndob(t) || all_zero(t->buf, lu->block_size);
	if (!zero) {
		ws_pattern(t);
		return;
	}
	memset(&t->io, 0, sizeof(t->io));
	t->io.op = (t->cdb[1] & WS_UNMAP) && scsi_lu_lbp(lu)
			   ? BS_UNMAP : BS_WRITE_ZEROES;
	t->io.offset = t->lba << lu->block_shift;
	t->io.len = (uint64_t)t->nblocks << lu->block_shift;
	sbc_submit_io(t, ws_zero_done);
}
