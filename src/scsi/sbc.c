/*
 * sbc.c - block commands (SBC-3): READ/WRITE(6/10/12/16), READ CAPACITY
 * (10/16), SYNCHRONIZE CACHE(10/16), UNMAP and PRE-FETCH(10/16), plus the
 * helpers the other sbc_*.c files share (range check, errno -> sense,
 * submission).
 *
 * Parsing decodes the LBA range and does the one bounds check; execution
 * turns the task into a struct bs_io on the task itself (no allocation)
 * and maps the store's -errno to sense on completion.
 *
 * Short data-out (the initiator sends less than the CDB asks, FCP-4 /
 * RFC 7143 §11.4.5.1 overflow): we write exactly what arrived when that
 * is whole blocks, and refuse with INVALID FIELD IN INFORMATION UNIT
 * (writing nothing) when it would end inside a block, since a block is
 * the unit of atomicity. libiscsi's iSCSIResiduals accepts both. A short
 * data-in buffer simply gets the first buf_len bytes.
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_internal.h"

/* READ/WRITE(10/12/16) byte 1 */
#define RW_PROTECT 0xe0
#define RW_DPO 0x10
#define RW_FUA 0x08

static bool is_write(uint8_t opcode)
{
	return opcode == WRITE_6 || opcode == WRITE_10 ||
	       opcode == WRITE_12 || opcode == WRITE_16;
}

/* The one bounds check: SBC-3 §4.5 (and §5.11 for transfer length 0). */
bool sbc_lba_range_ok(const struct scsi_lu *lu, uint64_t lba, uint64_t n)
{
	uint64_t cap = scsi_lu_nblocks(lu);	/* one value for both tests */

	return lba <= cap && n <= cap - lba;
}

/*
 * Common tail of the READ/WRITE parsers. @len_byte is where the
 * TRANSFER LENGTH field starts, for the sense field pointer.
 */
static enum sense_reason rw_setup(struct scsi_task *t, uint64_t lba,
				  uint32_t nblocks, uint8_t flags,
				  uint16_t len_byte)
{
	struct scsi_lu *lu = t->lu;
	bool write = is_write(t->cdb[0]);

	/* No protection information (PROTECT=0): SBC-3 §4.22.2 */
	if (flags & RW_PROTECT)
		return scsi_invalid_field(t, true, 1, 7);
	if (write && lu->readonly)
		return SENSE_WRITE_PROTECTED;
	if (!sbc_lba_range_ok(lu, lba, nblocks))
		return SENSE_LBA_OUT_OF_RANGE;
	/* SBC-3 §6.5.3: beyond MAXIMUM TRANSFER LENGTH */
	if ((uint64_t)nblocks << lu->block_shift > SCSI_MAX_XFER_BYTES)
		return scsi_invalid_field(t, true, len_byte, 7);

	t->lba = lba;
	t->nblocks = nblocks;
	t->fua = !!(flags & RW_FUA);	/* DPO is a hint we do not need */
	t->dir = write ? SCSI_DIR_WRITE : SCSI_DIR_READ;
	t->data_len = nblocks << lu->block_shift;
	return SENSE_NONE;
}

enum sense_reason sbc_parse_rw6(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;
	uint64_t lba = get_be24(cdb + 1) & 0x1fffff;
	/* SBC-3 §5.15: TRANSFER LENGTH 0 means 256 blocks for READ(6)
	 * and WRITE(6). */
	uint32_t n = cdb[4] ? cdb[4] : 256;

	return rw_setup(t, lba, n, 0, 4);
}

enum sense_reason sbc_parse_rw10(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;

	return rw_setup(t, get_be32(cdb + 2), get_be16(cdb + 7), cdb[1], 7);
}

enum sense_reason sbc_parse_rw12(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;

	return rw_setup(t, get_be32(cdb + 2), get_be32(cdb + 6), cdb[1], 6);
}

enum sense_reason sbc_parse_rw16(struct scsi_task *t)
{
	const uint8_t *cdb = t->cdb;

	return rw_setup(t, get_be64(cdb + 2), get_be32(cdb + 10), cdb[1], 10);
}

enum sense_reason sbc_errno_reason(int err, bool write)
{
	switch (err) {
	case -ENOSPC:
	case -EDQUOT:
		return SENSE_NO_SPACE;
	case -EROFS:
		return SENSE_WRITE_PROTECTED;
	case -ENOMEM:
	case -EAGAIN:
		return SENSE_NO_MEMORY;	/* TASK SET FULL: try again */
	case -ECANCELED:
		return SENSE_ABORTED_COMMAND;
	case -ERANGE:	/* beyond the end of a store that just shrank */
		return SENSE_LBA_OUT_OF_RANGE;
	default:
		return write ? SENSE_WRITE_ERROR : SENSE_READ_ERROR;
	}
}

/*
 * Completion of every store request of the SBC commands. A read or write
 * that moved fewer bytes than asked is resumed for the rest (the kernel
 * may return short counts: signals, a file shrunk under us, ENOSPC
 * reached mid-way); one that moved nothing fails with EIO, so a command
 * is never GOOD for data that did not move and a Data-In never carries
 * bytes the store did not produce. The caller's callback then sees the
 * request as submitted, with result = the full length or -errno.
 */
static void sbc_io_done(struct bs_io *io)
{
	struct scsi_task *t = container_of(io, struct scsi_task, io);
	bool rw = io->op == BS_READ || io->op == BS_WRITE;

	if (rw && io->result >= 0 && (uint64_t)io->result < io->len) {
		if (io->result == 0) {
			/* nothing moved: past the end of a file that a resize
			 * shrank under this command (LBA OUT OF RANGE), else
			 * an I/O error */
			io->result = io->offset >= scsi_lu_nblocks(t->lu)
						    << t->lu->block_shift
					     ? -ERANGE : -EIO;
		} else {
			uint64_t n = (uint64_t)io->result;

			t->io_moved += n;
			t->iov.iov_base = (uint8_t *)t->iov.iov_base + n;
			t->iov.iov_len -= n;
			io->offset += n;
			io->len -= n;
			if (bs_submit(t->lu->bs, io) == BS_DONE)
				sbc_io_done(io);
			return;
		}
	}
	if (rw) {
		if (io->result >= 0)
			io->result = (int)(t->io_moved + (uint64_t)io->result);
		t->iov.iov_base = t->io_base0;
		t->iov.iov_len = t->io_len0;
		io->offset = t->io_off0;
		io->len = t->io_len0;
	}
	t->io_finish(io);
}

void sbc_submit_io(struct scsi_task *t, void (*finish)(struct bs_io *io))
{
	t->io.r = t->r;
	t->io.done = sbc_io_done;
	t->io_finish = finish;
	t->io_off0 = t->io.offset;
	t->io_len0 = t->io.len;
	t->io_base0 = t->iov.iov_base;
	t->io_moved = 0;
	if (bs_submit(t->lu->bs, &t->io) == BS_DONE)
		sbc_io_done(&t->io);
}

void sbc_submit_chunk(struct scsi_task *t, enum bs_opcode op, uint32_t n,
		      void (*finish)(struct bs_io *io))
{
	struct scsi_lu *lu = t->lu;

	t->iov.iov_base = t->scratch;
	t->iov.iov_len = n;
	t->io.op = op;
	t->io.flags = 0;
	t->io.iov = &t->iov;
	t->io.iovcnt = 1;
	t->io.offset = (t->lba << lu->block_shift) + t->pos;
	t->io.len = n;
	sbc_submit_io(t, finish);
}

static void rw_done(struct bs_io *io)
{
	struct scsi_task *t = container_of(io, struct scsi_task, io);

	if (io->result < 0) {
		scsi_task_fail(t, sbc_errno_reason(io->result,
					       io->op == BS_WRITE));
		return;
	}
	if (io->op == BS_READ)
		t->xfer_len = (uint32_t)io->len;
	scsi_task_complete(t);
}

void sbc_rw(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	bool write = t->dir == SCSI_DIR_WRITE;
	uint32_t n = t->buf ? MIN(t->data_len, t->buf_len) : 0;

	if (write && n < t->data_len && (n & (lu->block_size - 1))) {
		scsi_task_fail(t, SENSE_INVALID_FIELD_IN_IU);
		return;
	}
	if (n == 0) {	/* TRANSFER LENGTH 0, or nothing expected */
		scsi_task_complete(t);
		return;
	}
	t->iov.iov_base = t->buf;
	t->iov.iov_len = n;
	t->io.op = write ? BS_WRITE : BS_READ;
	t->io.flags = write && t->fua ? BS_IO_FUA : 0;
	t->io.iov = &t->iov;
	t->io.iovcnt = 1;
	t->io.offset = t->lba << lu->block_shift;
	t->io.len = n;
	sbc_submit_io(t, rw_done);
}

/* --- READ CAPACITY -------------------------------------------------------- */

enum sense_reason sbc_parse_read_capacity10(struct scsi_task *t)
{
	/* SBC-3 §5.16: with PMI=0 the LBA field must be zero */
	if (!(t->cdb[8] & 0x01) && get_be32(t->cdb + 2))
		return scsi_invalid_field(t, true, 2, 7);
	t->dir = SCSI_DIR_READ;
	t->data_len = 8;
	return SENSE_NONE;
}

void sbc_read_capacity10(struct scsi_task *t)
{
	const struct scsi_lu *lu = t->lu;
	uint64_t last = scsi_lu_nblocks(lu) - 1;
	uint8_t b[8];

	/* 0xffffffff tells the initiator to use READ CAPACITY(16) */
	put_be32(b, last > 0xfffffffeULL ? 0xffffffffu : (uint32_t)last);
	put_be32(b + 4, lu->block_size);
	scsi_task_data_in(t, b, sizeof(b));
	scsi_task_complete(t);
}

enum sense_reason sbc_parse_read_capacity16(struct scsi_task *t)
{
	t->dir = SCSI_DIR_READ;
	t->data_len = get_be32(t->cdb + 10);
	return SENSE_NONE;
}

/* SBC-3 §5.17 */
void sbc_read_capacity16(struct scsi_task *t)
{
	const struct scsi_lu *lu = t->lu;
	uint32_t geom = atomic_load_explicit(&lu->geom, memory_order_relaxed);
	uint8_t b[32];

	memset(b, 0, sizeof(b));
	put_be64(b, scsi_lu_nblocks(lu) - 1);
	put_be32(b + 8, lu->block_size);
	/* LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (byte 13 bits 3:0) and
	 * LOWEST ALIGNED LOGICAL BLOCK ADDRESS (14 bits, bytes 14-15):
	 * SBC-4 §5.20.2; the store's, or tgt's lbppbe / la_lba */
	b[13] = (uint8_t)((geom >> 16) & 0x0f);
	put_be16(b + 14, (uint16_t)(geom & SCSI_LU_LA_LBA_MAX));
	if (scsi_lu_lbp(lu) && !lu->readonly) {
		b[14] |= 0x80;	/* LBPME: logical block provisioning */
		/* LBPRZ: an unmapped block reads back zeroes (SBC-4 §4.7.4.5) */
		if (lu->bs->unmap_zeroes)
			b[14] |= 0x40;
	}
	scsi_task_data_in(t, b, sizeof(b));
	scsi_task_complete(t);
}

/* --- SYNCHRONIZE CACHE (SBC-3 §5.22, §5.23) ------------------------------ */

/* SYNCHRONIZE CACHE and PRE-FETCH: a range where 0 blocks means "to the
 * end of the medium". */
static enum sense_reason lba_range_setup(struct scsi_task *t, uint64_t lba,
					 uint32_t n)
{
	if (!sbc_lba_range_ok(t->lu, lba, n))
		return SENSE_LBA_OUT_OF_RANGE;
	t->lba = lba;
	t->nblocks = n;
	return SENSE_NONE;
}

enum sense_reason sbc_parse_sync_cache10(struct scsi_task *t)
{
	return lba_range_setup(t, get_be32(t->cdb + 2), get_be16(t->cdb + 7));
}

enum sense_reason sbc_parse_sync_cache16(struct scsi_task *t)
{
	return lba_range_setup(t, get_be64(t->cdb + 2), get_be32(t->cdb + 10));
}

static void flush_done(struct bs_io *io)
{
	struct scsi_task *t = container_of(io, struct scsi_task, io);

	if (io->result < 0) {
		scsi_task_fail(t, sbc_errno_reason(io->result, true));
		return;
	}
	scsi_task_complete(t);
}

/* The whole store is flushed: stores have no range flush. IMMED is
 * honoured by simply finishing when the data is durable. */
void sbc_sync_cache(struct scsi_task *t)
{
	memset(&t->io, 0, sizeof(t->io));
	t->io.op = BS_FLUSH;
	sbc_submit_io(t, flush_done);
}

/* --- UNMAP (SBC-3 §5.28) ---------------------------------------------- */

#define UNMAP_HDR 8
#define UNMAP_DESC 16

enum sense_reason sbc_parse_unmap(struct scsi_task *t)
{
	const struct scsi_lu *lu = t->lu;

	if (!scsi_lu_lbp(lu))
		return SENSE_INVALID_OPCODE;
	if (t->cdb[1] & 0x01)	/* ANCHOR, and ANC_SUP=0 */
		return scsi_invalid_field(t, true, 1, 0);
	if (lu->readonly)
		return SENSE_WRITE_PROTECTED;
	t->dir = SCSI_DIR_WRITE;
	t->data_len = get_be16(t->cdb + 7);
	return SENSE_NONE;
}

static void unmap_next(struct scsi_task *t);

static void unmap_done(struct bs_io *io)
{
	struct scsi_task *t = container_of(io, struct scsi_task, io);

	/* Deallocation is advisory (LBPRZ=0): a store that cannot punch
	 * holes has still done what UNMAP promises. */
	if (io->result < 0 && io->result != -EOPNOTSUPP) {
		scsi_task_fail(t, sbc_errno_reason(io->result, true));
		return;
	}
	unmap_next(t);
}

/* Issues the descriptors one after another; t->step is the next one. */
static void unmap_next(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	uint32_t ndesc = (uint32_t)t->nblocks;	/* set by sbc_unmap() */

	while (t->step < ndesc) {
		const uint8_t *d = t->buf + UNMAP_HDR + UNMAP_DESC * t->step++;
		uint64_t lba = get_be64(d);
		uint32_t cnt = get_be32(d + 8);

		if (!cnt)
			continue;
		t->io.op = BS_UNMAP;
		t->io.flags = 0;
		t->io.iov = NULL;
		t->io.iovcnt = 0;
		t->io.offset = lba << lu->block_shift;
		t->io.len = (uint64_t)cnt << lu->block_shift;
		t->io.r = t->r;
		t->io.done = unmap_done;
		if (bs_submit(lu->bs, &t->io) == BS_QUEUED)
			return;
		if (t->io.result < 0 && t->io.result != -EOPNOTSUPP) {
			scsi_task_fail(t, sbc_errno_reason(t->io.result, true));
			return;
		}
	}
	scsi_task_complete(t);
}

void sbc_unmap(struct scsi_task *t)
{
	const struct scsi_lu *lu = t->lu;
	uint32_t n = t->buf ? MIN(t->data_len, t->buf_len) : 0;
	uint64_t total = 0;
	uint32_t ndesc;

	if (t->data_len == 0) {	/* not an error: nothing to do */
		scsi_task_complete(t);
		return;
	}
	if (n < UNMAP_HDR) {
		scsi_task_fail(t, SENSE_PARAM_LIST_LENGTH);
		return;
	}
	/* A trailing partial descriptor is ignored. */
	ndesc = MIN((uint32_t)get_be16(t->buf + 2), n - UNMAP_HDR) / UNMAP_DESC;
	if (ndesc > SCSI_MAX_UNMAP_DESCS) {
		scsi_invalid_field(t, false, 2, 7);
		scsi_task_complete(t);
		return;
	}
	/* Validate everything before unmapping anything. */
	for (uint32_t i = 0; i < ndesc; i++) {
		const uint8_t *d = t->buf + UNMAP_HDR + UNMAP_DESC * i;
		uint64_t lba = get_be64(d);
		uint32_t cnt = get_be32(d + 8);

		if (!sbc_lba_range_ok(lu, lba, cnt)) {
			scsi_task_fail(t, SENSE_LBA_OUT_OF_RANGE);
			return;
		}
		total += cnt;
		if (total > SCSI_MAX_UNMAP_BLOCKS) {
			scsi_invalid_field(t, false,
					   (uint16_t)(UNMAP_HDR +
						      UNMAP_DESC * i + 8), 7);
			scsi_task_complete(t);
			return;
		}
	}
	t->nblocks = ndesc;	/* UNMAP has no LBA range of its own */
	t->step = 0;
	unmap_next(t);
}

/* --- PRE-FETCH (SBC-3 §5.9, PRE-FETCH(10) / (16)) ------------------------ */

enum sense_reason sbc_parse_prefetch10(struct scsi_task *t)
{
	return lba_range_setup(t, get_be32(t->cdb + 2), get_be16(t->cdb + 7));
}

enum sense_reason sbc_parse_prefetch16(struct scsi_task *t)
{
	return lba_range_setup(t, get_be64(t->cdb + 2), get_be32(t->cdb + 10));
}

/*
 * We keep no cache of our own (the page cache belongs to the kernel), so
 * the blocks are never known to be "placed in the cache": CONDITION MET
 * would be a lie, and GOOD is what SBC-3 asks for when the device server
 * cannot promise that (with IMMED=0 and IMMED=1 alike).
 */
void sbc_prefetch(struct scsi_task *t)
{
	scsi_task_complete(t);
}
