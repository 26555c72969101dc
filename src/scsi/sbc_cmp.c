/*
 * sbc_cmp.c - commands that compare data with the medium (SBC-3 / SBC-4):
 * VERIFY(10/12/16), WRITE AND VERIFY(10/12/16) and COMPARE AND WRITE.
 *
 * All three share one compare engine: the range [t->lba, t->lba +
 * t->nblocks) is read into a bounce buffer (t->scratch, at most
 * SCSI_BOUNCE_BYTES, freed by scsi_task_complete) one chunk at a time and
 * compared with the Data-Out buffer; t->pos is how far it got. A
 * difference ends the command with MISCOMPARE DURING VERIFY OPERATION and
 * the INFORMATION field set to the offset of the first differing byte
 * from the start of the Data-Out buffer. These commands are not the hot
 * path, so the bounce buffer is allocated per command.
 *
 * COMPARE AND WRITE must be atomic (SBC-4 §5.3), against every other write
 * to its blocks from any session (VMware ATS relies on it). The file
 * store completes I/O later on io_uring, so no lock can be held across
 * the read-compare-write; instead one CAW per LU runs at a time (the
 * others wait in a FIFO, struct scsi_lu.caw_*, each resumed on its own
 * reactor), and the one running closes the LU's write gate (lu.c): it
 * starts once the writes in flight are done, and writes arriving while
 * it runs wait until it ends. The gate covers the whole LU, not only the
 * CAW's blocks: simpler, and a CAW is one short read and write.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "scsi/scsi_internal.h"

/* byte 1 of VERIFY, WRITE AND VERIFY, COMPARE AND WRITE */
#define CMP_PROTECT 0xe0	/* VRPROTECT / WRPROTECT */
#define CMP_FUA 0x08		/* COMPARE AND WRITE only */
#define BYTCHK_SHIFT 1		/* SBC-4: 2 bits; SBC-3: bit 1 only */
#define BYTCHK_NONE 0		/* verify the medium only */
#define BYTCHK_DATA 1		/* compare with the Data-Out buffer */
#define BYTCHK_SAME 3		/* SBC-4: one block, compared with each */

/* t->step: what the compare engine does when the range compares equal */
enum cmp_next {
	CMP_THEN_COMPLETE,	/* VERIFY, WRITE AND VERIFY */
	CMP_THEN_WRITE,		/* COMPARE AND WRITE: write the second half */
};

static unsigned bytchk(const struct scsi_task *t)
{
	return (t->cdb[1] >> BYTCHK_SHIFT) & 0x3;
}

/* LBA and length of the 10/12/16-byte forms; @len_byte for SKS. */
static void decode_range(const struct scsi_task *t, uint64_t *lba,
			 uint32_t *n, uint16_t *len_byte)
{
	const uint8_t *cdb = t->cdb;

	switch (cdb[0]) {
	case VERIFY_10:
	case WRITE_VERIFY_10:
		*lba = get_be32(cdb + 2);
		*n = get_be16(cdb + 7);
		*len_byte = 7;
		break;
	case VERIFY_12:
	case WRITE_VERIFY_12:
		*lba = get_be32(cdb + 2);
		*n = get_be32(cdb + 6);
		*len_byte = 6;
		break;
	default:	/* the 16-byte forms */
		*lba = get_be64(cdb + 2);
		*n = get_be32(cdb + 10);
		*len_byte = 10;
		break;
	}
}

/* --- COMPARE AND WRITE serialisation ------------------------------------ */

static void cmp_start(struct scsi_task *t);

static void caw_resume(struct ev_post *p)
{
	scsi_lu_gate_close(container_of(p, struct scsi_task, post), cmp_start);
}

/* Takes the LU's CAW slot for @t; false: @t was queued behind another. */
static bool caw_acquire(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	bool got;

	pthread_mutex_lock(&lu->caw_lock);
	got = !lu->caw_busy;
	if (got) {
		lu->caw_busy = true;
	} else {
		scsi_task_fifo_push(&lu->caw_head, &lu->caw_tail, t);
	}
	pthread_mutex_unlock(&lu->caw_lock);
	return got;
}

/* Passes the slot to the next waiter (returned) or frees it (NULL). */
static struct scsi_task *caw_release(struct scsi_lu *lu)
{
	struct scsi_task *next;

	pthread_mutex_lock(&lu->caw_lock);
	next = lu->caw_head;
	if (next) {
		lu->caw_head = next->caw_next;
		if (!lu->caw_head)
			lu->caw_tail = NULL;
		next->caw_next = NULL;
	} else {
		lu->caw_busy = false;
	}
	pthread_mutex_unlock(&lu->caw_lock);
	return next;
}

/* Runs @next, which now owns the slot, on its own reactor thread. */
static void caw_wake(struct scsi_task *next)
{
	if (!next->r) {
		scsi_lu_gate_close(next, cmp_start);
		return;
	}
	next->post.fn = caw_resume;
	reactor_post_node(next->r, &next->post);
}

/*
 * Every command of this file ends here (status and sense already set).
 * A COMPARE AND WRITE hands its slot on first: the next waiter holds its
 * own LU reference, so the LU outlives t->done() when there is one.
 */
static void cmp_end(struct scsi_task *t)
{
	struct scsi_task *next = NULL;

	if (t->cdb[0] == COMPARE_AND_WRITE && t->nblocks) {
		scsi_lu_gate_open(t->lu);
		next = caw_release(t->lu);
	}
	scsi_task_complete(t);
	if (next)
		caw_wake(next);
}

static void cmp_fail(struct scsi_task *t, enum sense_reason reason)
{
	scsi_task_set_sense(t, reason);
	t->xfer_len = 0;
	cmp_end(t);
}

/* --- compare engine ------------------------------------------------------- */

/*
 * Offset of the first byte of @got (medium at range offset t->pos) that
 * differs from the Data-Out buffer, or UINT32_MAX. With BYTCHK=11b the
 * buffer holds one block that every block of the range is compared with.
 */
static uint32_t cmp_chunk(const struct scsi_task *t, const uint8_t *got,
			  uint32_t len)
{
	uint32_t bsz = t->lu->block_size;
	bool verify = t->cdb[0] == VERIFY_10 || t->cdb[0] == VERIFY_12 ||
		      t->cdb[0] == VERIFY_16;
	bool same = verify && bytchk(t) == BYTCHK_SAME;

	for (uint32_t off = 0; off < len; off += bsz) {
		const uint8_t *want = same ? t->buf : t->buf + t->pos + off;
		uint32_t n = MIN(bsz, len - off);

		if (memcmp(got + off, want, n) == 0)
			continue;
		for (uint32_t i = 0; i < n; i++)
			if (got[off + i] != want[i])
				return t->pos + off + i;
	}
	return UINT32_MAX;
}

static void cmp_read_next(struct scsi_task *t);
static void caw_write(struct scsi_task *t);

static void cmp_read_done(struct bs_io *io)
{
	struct scsi_task *t = container_of(io, struct scsi_task, io);
	uint32_t miss;

	if (io->result < 0) {
		cmp_fail(t, sbc_errno_reason(io->result, false));
		return;
	}
	miss = cmp_chunk(t, t->scratch, (uint32_t)io->len);
	if (miss != UINT32_MAX) {
		scsi_task_set_sense_info(t, SENSE_MISCOMPARE, miss);
		cmp_end(t);
		return;
	}
	t->pos += (uint32_t)io->len;
	cmp_read_next(t);
}

static void cmp_read_next(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	uint32_t total = t->nblocks << lu->block_shift;
	uint32_t n = MIN(total - t->pos, SCSI_BOUNCE_BYTES);

	if (t->pos == total) {
		if (t->step == CMP_THEN_WRITE)
			caw_write(t);
		else
			cmp_end(t);
		return;
	}
	sbc_submit_chunk(t, BS_READ, n, cmp_read_done);
}

/* Compares the range with t->buf; then what t->step says. */
static void cmp_start(struct scsi_task *t)
{
	uint32_t total = t->nblocks << t->lu->block_shift;

	/* a shrink since parse (scsi_lu_set_capacity waits for a running
	 * COMPARE AND WRITE, not for one that has yet to start) */
	if (!sbc_lba_range_ok(t->lu, t->lba, t->nblocks)) {
		cmp_fail(t, SENSE_LBA_OUT_OF_RANGE);
		return;
	}
	t->pos = 0;
	if (!t->scratch)
		t->scratch = malloc(MIN(total, SCSI_BOUNCE_BYTES));
	if (!t->scratch) {
		cmp_fail(t, SENSE_NO_MEMORY);
		return;
	}
	cmp_read_next(t);
}

/*
 * Data-Out shorter than the CDB asks (see sbc.c): whole blocks are used,
 * a partial block is refused. Returns the usable byte count, or
 * UINT32_MAX after failing the task.
 */
static uint32_t data_out_len(struct scsi_task *t)
{
	uint32_t n = t->buf ? MIN(t->data_len, t->buf_len) : 0;

	if (n < t->data_len && (n & (t->lu->block_size - 1))) {
		cmp_fail(t, SENSE_INVALID_FIELD_IN_IU);
		return UINT32_MAX;
	}
	return n;
}

/* --- VERIFY (SBC-3 VERIFY(10/12/16); SBC-4 adds BYTCHK=11b) ------------- */

enum sense_reason sbc_parse_verify(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	uint64_t lba;
	uint32_t n;
	uint16_t len_byte;

	decode_range(t, &lba, &n, &len_byte);
	/* No protection information: VRPROTECT must be 0 */
	if (t->cdb[1] & CMP_PROTECT)
		return scsi_invalid_field(t, true, 1, 7);
	if (bytchk(t) == 2)	/* reserved */
		return scsi_invalid_field(t, true, 1, 2);
	if (!sbc_lba_range_ok(lu, lba, n))
		return SENSE_LBA_OUT_OF_RANGE;
	t->lba = lba;
	t->nblocks = n;		/* 0: nothing to verify, not an error */
	if (bytchk(t) == BYTCHK_NONE || n == 0)
		return SENSE_NONE;
	/* The compare reads the medium: same limit as READ */
	if ((uint64_t)n << lu->block_shift > SCSI_MAX_XFER_BYTES)
		return scsi_invalid_field(t, true, len_byte, 7);
	t->dir = SCSI_DIR_WRITE;
	t->data_len = bytchk(t) == BYTCHK_SAME ? lu->block_size
					       : n << lu->block_shift;
	return SENSE_NONE;
}

/*
 * BYTCHK=0: nothing to compare with, and a medium that cannot be read
 * already fails the READs; the range check is the verification. DPO is
 * a hint we do not need.
 */
void sbc_verify(struct scsi_task *t)
{
	uint32_t n;

	if (t->nblocks == 0 || bytchk(t) == BYTCHK_NONE) {
		scsi_task_complete(t);
		return;
	}
	n = data_out_len(t);
	if (n == UINT32_MAX)
		return;
	if (bytchk(t) == BYTCHK_SAME) {
		if (n < t->lu->block_size) {
			cmp_fail(t, SENSE_INVALID_FIELD_IN_IU);
			return;
		}
	} else {
		/* short Data-Out: verify the blocks that arrived */
		t->nblocks = n >> t->lu->block_shift;
		if (t->nblocks == 0) {
			scsi_task_complete(t);
			return;
		}
	}
	t->step = CMP_THEN_COMPLETE;
	cmp_start(t);
}

/* --- WRITE AND VERIFY (SBC-3 WRITE AND VERIFY(10/12/16)) --------------- */

enum sense_reason sbc_parse_write_verify(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	uint64_t lba;
	uint32_t n;
	uint16_t len_byte;

	decode_range(t, &lba, &n, &len_byte);
	if (t->cdb[1] & CMP_PROTECT)
		return scsi_invalid_field(t, true, 1, 7);
	/* BYTCHK 10b and 11b are reserved for WRITE AND VERIFY */
	if (bytchk(t) > BYTCHK_DATA)
		return scsi_invalid_field(t, true, 1, 2);
	if (lu->readonly)
		return SENSE_WRITE_PROTECTED;
	if (!sbc_lba_range_ok(lu, lba, n))
		return SENSE_LBA_OUT_OF_RANGE;
	if ((uint64_t)n << lu->block_shift > SCSI_MAX_XFER_BYTES)
		return scsi_invalid_field(t, true, len_byte, 7);
	t->lba = lba;
	t->nblocks = n;
	t->dir = SCSI_DIR_WRITE;
	t->data_len = n << lu->block_shift;
	return SENSE_NONE;
}

static void write_verify_done(struct bs_io *io)
{
	struct scsi_task *t = container_of(io, struct scsi_task, io);

	if (io->result < 0) {
		cmp_fail(t, sbc_errno_reason(io->result, true));
		return;
	}
	if (bytchk(t) == BYTCHK_NONE) {
		cmp_end(t);
		return;
	}
	t->step = CMP_THEN_COMPLETE;
	cmp_start(t);
}

/*
 * The write is FUA: "verify the medium" means, for us, that the data is
 * durable when GOOD is returned. With BYTCHK=1 the blocks are also read
 * back and compared with what was sent.
 */
void sbc_write_verify(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	uint32_t n = data_out_len(t);

	if (n == UINT32_MAX)
		return;
	if (n == 0) {
		scsi_task_complete(t);
		return;
	}
	t->nblocks = n >> lu->block_shift;
	t->iov.iov_base = t->buf;
	t->iov.iov_len = n;
	t->io.op = BS_WRITE;
	t->io.flags = BS_IO_FUA;
	t->io.iov = &t->iov;
	t->io.iovcnt = 1;
	t->io.offset = t->lba << lu->block_shift;
	t->io.len = n;
	sbc_submit_io(t, write_verify_done);
}

/* --- COMPARE AND WRITE (SBC-3 COMPARE AND WRITE) ------------------------- */

enum sense_reason sbc_parse_caw(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	uint64_t lba = get_be64(t->cdb + 2);
	uint32_t n = t->cdb[13];

	if (t->cdb[1] & CMP_PROTECT)
		return scsi_invalid_field(t, true, 1, 7);
	/* Block Limits VPD MAXIMUM COMPARE AND WRITE LENGTH */
	if (n > SCSI_MAX_CAW_BLOCKS)
		return scsi_invalid_field(t, true, 13, 7);
	/*
	 * 0 blocks means no transfer. An initiator that sends data with it
	 * has most likely let 256 wrap around in this one-byte field
	 * (libiscsi's CompareAndWrite tests do): answering GOOD would report
	 * a compare and write that never happened.
	 */
	if (n == 0 && t->exp_len)
		return scsi_invalid_field(t, true, 13, 7);
	if (lu->readonly)
		return SENSE_WRITE_PROTECTED;
	if (!sbc_lba_range_ok(lu, lba, n))
		return SENSE_LBA_OUT_OF_RANGE;
	t->lba = lba;
	t->nblocks = n;	/* 0: no read, no write, not an error */
	t->fua = !!(t->cdb[1] & CMP_FUA);
	t->dir = SCSI_DIR_WRITE;
	/* Data-Out: the compare blocks, then the write blocks */
	t->data_len = 2 * (n << lu->block_shift);
	/*
	 * Half of a Data-Out that is not 2 * NUMBER OF LOGICAL BLOCKS is
	 * no compare data and no write data: refused before any transfer,
	 * FCP-4 §9.4.2 b) (the transport still reports the residual, RFC 7143
	 * §11.4.5.2), as LIO, tgt and SPDK do.
	 */
	if (t->exp_len != t->data_len)
		return SENSE_INVALID_FIELD_IN_IU;
	return SENSE_NONE;
}

static void caw_write_done(struct bs_io *io)
{
	struct scsi_task *t = container_of(io, struct scsi_task, io);

	if (io->result < 0)
		scsi_task_set_sense(t, sbc_errno_reason(io->result, true));
	cmp_end(t);
}

/* The first half compared equal: write the second half, still locked. */
static void caw_write(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	uint32_t half = t->nblocks << lu->block_shift;

	if (t->aborted) {
		/* aborted while it waited or compared: nothing is written */
		cmp_fail(t, SENSE_ABORTED_COMMAND);
		return;
	}

	t->iov.iov_base = t->buf + half;
	t->iov.iov_len = half;
	t->io.op = BS_WRITE;
	t->io.flags = t->fua ? BS_IO_FUA : 0;
	t->io.iov = &t->iov;
	t->io.iovcnt = 1;
	t->io.offset = t->lba << lu->block_shift;
	t->io.len = half;
	sbc_submit_io(t, caw_write_done);
}

void sbc_caw(struct scsi_task *t)
{
	if (t->nblocks == 0) {
		scsi_task_complete(t);
		return;
	}
	/* Both halves are needed: a short Data-Out writes nothing. */
	if (!t->buf || t->buf_len < t->data_len) {
		t->nblocks = 0;	/* holds no slot */
		cmp_fail(t, SENSE_INVALID_FIELD_IN_IU);
		return;
	}
	t->step = CMP_THEN_WRITE;
	/* the slot, then the write gate: no other write runs meanwhile */
	if (caw_acquire(t))
		scsi_lu_gate_close(t, cmp_start);
}
