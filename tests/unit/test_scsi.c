/*
 * test_scsi.c - the SCSI layer driven through scsi_task_prepare/exec on
 * RAM-backed LUs (which complete synchronously), checking response bytes
 * and sense data against SPC-4 / SBC-3 layouts.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backing/bs.h"
#include "base/base.h"
#include "scsi/scsi.h"

#define TGT_NAME "iqn.2024-01.org.example:disk1"
#define BLOCKS 2048u	/* 1 MiB at 512 */

static struct scsi_target tgt;
static struct scsi_nexus nexus;
static struct scsi_lu *disk;	/* LUN 0 */
static int done_calls;
/* The nexus prep() puts in tasks (NULL: the default one, nexus). */
static struct scsi_nexus *cur_nexus;

static void task_done(struct scsi_task *t)
{
	(void)t;
	done_calls++;
}

static struct scsi_lu *ram_lu(uint64_t lun, uint64_t size, bool readonly,
			      uint32_t bsz)
{
	struct bs_open_args a = { .size = size };
	struct bs *bs = bs_open(&bs_ram_ops, NULL, &a);
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = lun, .bs = bs, .block_size = bsz,
		.target_name = TGT_NAME, .readonly = readonly,
	};

	cr_assert_not_null(bs);
	struct scsi_lu *lu = scsi_lu_new(&cfg);
	cr_assert_not_null(lu);
	return lu;
}

static void setup(void)
{
	scsi_target_init(&tgt, TGT_NAME);
	memset(&nexus, 0, sizeof(nexus));
	strcpy(nexus.initiator_port, "iqn.1994-05.com.redhat:x,i,0x1");
	nexus.rel_port_id = 1;
	nexus.target = &tgt;
	cur_nexus = NULL;
	disk = ram_lu(0, BLOCKS * 512ull, false, 512);
	cr_assert_eq(scsi_target_add_lu(&tgt, disk), 0);
	done_calls = 0;
}

static void teardown(void)
{
	scsi_target_destroy(&tgt);
}

static void nexus_swap(struct scsi_nexus *n)
{
	cur_nexus = n;
}

/* Prepares @t for @cdb on @lu; returns the prepare verdict. */
static enum sense_reason prep(struct scsi_task *t, struct scsi_lu *lu,
			      const uint8_t *cdb, size_t len, uint32_t exp_len)
{
	memset(t, 0, sizeof(*t));
	t->nexus = cur_nexus ? cur_nexus : &nexus;
	t->lu = lu;
	memcpy(t->cdb, cdb, len);
	t->exp_len = exp_len;
	t->done = task_done;
	return scsi_task_prepare(t);
}

/*
 * Runs one command the way a transport does: prepare, buffer of
 * MIN(exp_len, data_len), exec. Returns the status.
 */
static uint8_t run(struct scsi_task *t, struct scsi_lu *lu, const uint8_t *cdb,
		   size_t len, uint8_t *buf, uint32_t exp_len)
{
	int before = done_calls;

	if (prep(t, lu, cdb, len, exp_len) != SENSE_NONE)
		return t->status;
	t->buf = buf;
	t->buf_len = MIN(exp_len, t->data_len);
	scsi_task_exec(t);
	cr_assert_eq(done_calls, before + 1, "done called once");
	return t->status;
}

static void assert_sense(const struct scsi_task *t, uint8_t key, uint8_t asc,
			 uint8_t ascq)
{
	cr_assert_eq(t->status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(t->sense_len, 18);
	cr_assert_eq(t->sense[0] & 0x7f, 0x70);	/* bit 7: VALID */
	cr_assert_eq(t->sense[2] & 0x0f, key, "key %x", t->sense[2]);
	cr_assert_eq(t->sense[7], 10);
	cr_assert_eq(t->sense[12], asc, "asc %02x", t->sense[12]);
	cr_assert_eq(t->sense[13], ascq, "ascq %02x", t->sense[13]);
}

static void cdb_rw10(uint8_t *c, uint8_t op, uint32_t lba, uint16_t n,
		     uint8_t flags)
{
	memset(c, 0, 10);
	c[0] = op;
	c[1] = flags;
	put_be32(c + 2, lba);
	put_be16(c + 7, n);
}

static void cdb_rw16(uint8_t *c, uint8_t op, uint64_t lba, uint32_t n,
		     uint8_t flags)
{
	memset(c, 0, 16);
	c[0] = op;
	c[1] = flags;
	put_be64(c + 2, lba);
	put_be32(c + 10, n);
}

TestSuite(scsi, .init = setup, .fini = teardown);

/* --- CDB decoding ------------------------------------------------------- */

struct decode_case {
	uint8_t cdb[16];
	enum sense_reason reason;
	enum scsi_dir dir;
	uint32_t data_len;
	uint64_t lba;
	uint32_t nblocks;
	unsigned fua;
};

ParameterizedTestParameters(scsi, decode)
{
	static struct decode_case cases[] = {
		/* READ(6): 21-bit LBA, length 0 = 256 blocks */
		{ { 0x08, 0x00, 0x00, 0x10, 0x00, 0 }, SENSE_NONE,
		  SCSI_DIR_READ, 256 * 512, 0x10, 256, 0 },
		{ { 0x08, 0x00, 0x07, 0x00, 0x08, 0 }, SENSE_NONE,
		  SCSI_DIR_READ, 8 * 512, 0x700, 8, 0 },
		{ { 0x0a, 0x00, 0x00, 0x01, 0x01, 0 }, SENSE_NONE,
		  SCSI_DIR_WRITE, 512, 1, 1, 0 },
		/* READ(6) of 256 blocks ending one past the end */
		{ { 0x08, 0x00, 0x07, 0x01, 0x00, 0 }, SENSE_LBA_OUT_OF_RANGE,
		  SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* READ(10) with DPO+FUA */
		{ { 0x28, 0x18, 0, 0, 0x01, 0x00, 0, 0x00, 0x10, 0 },
		  SENSE_NONE, SCSI_DIR_READ, 16 * 512, 0x100, 16, 1 },
		/* WRITE(10) FUA */
		{ { 0x2a, 0x08, 0, 0, 0, 0x05, 0, 0x00, 0x02, 0 }, SENSE_NONE,
		  SCSI_DIR_WRITE, 1024, 5, 2, 1 },
		/* transfer length 0: no data */
		{ { 0x28, 0x00, 0, 0, 0, 0x00, 0, 0, 0, 0 }, SENSE_NONE,
		  SCSI_DIR_READ, 0, 0, 0, 0 },
		/* LBA == capacity with 0 blocks is fine, +1 is not */
		{ { 0x28, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 0 }, SENSE_NONE,
		  SCSI_DIR_READ, 0, BLOCKS, 0, 0 },
		{ { 0x28, 0, 0, 0, 0x08, 0x01, 0, 0, 0, 0 },
		  SENSE_LBA_OUT_OF_RANGE, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* last block, then one past */
		{ { 0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 1, 0 }, SENSE_NONE,
		  SCSI_DIR_READ, 512, BLOCKS - 1, 1, 0 },
		{ { 0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0 },
		  SENSE_LBA_OUT_OF_RANGE, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* RDPROTECT != 0 */
		{ { 0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0 },
		  SENSE_INVALID_FIELD_IN_CDB, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* WRPROTECT != 0 on WRITE(16) */
		{ { 0x8a, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 },
		  SENSE_INVALID_FIELD_IN_CDB, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* READ(12) */
		{ { 0xa8, 0, 0, 0, 0, 0x20, 0, 0, 0, 0x04, 0, 0 }, SENSE_NONE,
		  SCSI_DIR_READ, 2048, 0x20, 4, 0 },
		/* READ(16) at LBA 2^63: overflow-proof bounds check */
		{ { 0x88, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 },
		  SENSE_LBA_OUT_OF_RANGE, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* READ(16) at LBA -1, 1 block */
		{ { 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0, 0, 0, 1, 0, 0 },
		  SENSE_LBA_OUT_OF_RANGE, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* 16385 blocks: out of range first (see max_transfer_length) */
		{ { 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x01, 0, 0 },
		  SENSE_LBA_OUT_OF_RANGE, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* SYNCHRONIZE CACHE(10): 0 blocks = to the end */
		{ { 0x35, 0, 0, 0, 0, 0x10, 0, 0, 0, 0 }, SENSE_NONE,
		  SCSI_DIR_NONE, 0, 0x10, 0, 0 },
		{ { 0x35, 0, 0, 0, 0x08, 0x01, 0, 0, 0, 0 },
		  SENSE_LBA_OUT_OF_RANGE, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* SYNCHRONIZE CACHE(16) range past the end */
		{ { 0x91, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0 },
		  SENSE_LBA_OUT_OF_RANGE, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* INQUIRY allocation length is the data length */
		{ { 0x12, 0, 0, 0x01, 0x00, 0 }, SENSE_NONE, SCSI_DIR_READ,
		  256, 0, 0, 0 },
		/* READ CAPACITY(16): allocation length 32 */
		{ { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0 },
		  SENSE_NONE, SCSI_DIR_READ, 32, 0, 0, 0 },
		/* SERVICE ACTION IN(16) with an unknown service action */
		{ { 0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0 },
		  SENSE_INVALID_FIELD_IN_CDB, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* unsupported opcodes */
		{ { 0x04, 0, 0, 0, 0, 0 }, SENSE_INVALID_OPCODE,
		  SCSI_DIR_NONE, 0, 0, 0, 0 },
		{ { 0xff, 0, 0, 0, 0, 0 }, SENSE_INVALID_OPCODE,
		  SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* NACA=1 in the control byte */
		{ { 0x00, 0, 0, 0, 0, 0x04 }, SENSE_INVALID_FIELD_IN_CDB,
		  SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* UNMAP: parameter list length is the data length */
		{ { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, SENSE_NONE,
		  SCSI_DIR_WRITE, 24, 0, 0, 0 },
		/* MODE SENSE saved values */
		{ { 0x1a, 0, 0xc8, 0, 0xff, 0 }, SENSE_SAVING_NOT_SUPPORTED,
		  SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* MODE SENSE(10) unsupported page 0x19 */
		{ { 0x5a, 0, 0x19, 0, 0, 0, 0, 0, 0xff, 0 },
		  SENSE_INVALID_FIELD_IN_CDB, SCSI_DIR_NONE, 0, 0, 0, 0 },
		/* REPORT LUNS allocation length < 16 */
		{ { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0 },
		  SENSE_INVALID_FIELD_IN_CDB, SCSI_DIR_NONE, 0, 0, 0, 0 },
		{ { 0xa0, 0, 0x03, 0, 0, 0, 0, 0, 0, 16, 0, 0 },
		  SENSE_INVALID_FIELD_IN_CDB, SCSI_DIR_NONE, 0, 0, 0, 0 },
	};
	return cr_make_param_array(struct decode_case, cases,
				   ARRAY_SIZE(cases));
}

ParameterizedTest(struct decode_case *c, scsi, decode)
{
	struct scsi_task t;
	enum sense_reason r = prep(&t, disk, c->cdb, 16, 0);

	cr_assert_eq(r, c->reason, "opcode %02x: reason %d, want %d",
		     c->cdb[0], r, c->reason);
	if (r != SENSE_NONE) {
		cr_assert_neq(t.status, SAM_STAT_GOOD);
		return;
	}
	cr_assert_eq(t.dir, c->dir, "opcode %02x dir", c->cdb[0]);
	cr_assert_eq(t.data_len, c->data_len, "opcode %02x data_len %u",
		     c->cdb[0], t.data_len);
	cr_assert_eq(t.lba, c->lba, "opcode %02x lba", c->cdb[0]);
	cr_assert_eq(t.nblocks, c->nblocks, "opcode %02x nblocks", c->cdb[0]);
	cr_assert_eq(t.fua, c->fua);
	cr_assert_eq(t.status, SAM_STAT_GOOD);
	cr_assert_eq(t.sense_len, 0);
}

Test(scsi, max_transfer_length)
{
	struct scsi_lu *big = ram_lu(1, 64ull << 20, false, 512);
	struct scsi_task t;
	uint8_t c[16];

	/* 16384 blocks = 8 MiB is the limit; one more is refused */
	cdb_rw16(c, 0x88, 0, 16384, 0);
	cr_assert_eq(prep(&t, big, c, 16, 0), SENSE_NONE);
	cr_assert_eq(t.data_len, 8u << 20);
	cdb_rw16(c, 0x88, 0, 16385, 0);
	cr_assert_eq(prep(&t, big, c, 16, 0), SENSE_INVALID_FIELD_IN_CDB);
	/* SKS: C/D=1, BPV=1, bit 7 of byte 10 (TRANSFER LENGTH) */
	cr_assert_eq(t.sense[15], 0xcf);
	cr_assert_eq(get_be16(t.sense + 16), 10);
	scsi_lu_put(big);
}

/* --- INQUIRY ------------------------------------------------------------ */

Test(scsi, inquiry_standard)
{
	uint8_t c[6] = { 0x12, 0, 0, 0x01, 0x00, 0 };
	uint8_t b[256];
	struct scsi_task t;

	memset(b, 0xee, sizeof(b));
	cr_assert_eq(run(&t, disk, c, 6, b, 256), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 96);
	cr_assert_eq(b[0], 0x00, "qualifier 0, direct access");
	cr_assert_eq(b[1], 0x00, "not removable");
	cr_assert_eq(b[2], 0x06, "SPC-4");
	cr_assert_eq(b[3], 0x12, "HiSup, response data format 2");
	cr_assert_eq(b[4], 91, "additional length");
	/* SPC-4 §6.4.2: TPGS=11b, implicit and explicit ALUA */
	cr_assert_eq(b[5], 0x30, "TPGS 11b, no 3PC, no PROTECT");
	cr_assert_eq(b[7], 0x02, "CmdQue");
	cr_assert_arr_eq(b + 8, "RINGTGT ", 8);
	cr_assert_arr_eq(b + 16, "VIRTUAL-DISK    ", 16);
	cr_assert_arr_eq(b + 32, "0.1 ", 4);
	cr_assert_eq(get_be16(b + 58), 0x00a0, "SAM-5");
	cr_assert_eq(get_be16(b + 60), 0x0960, "iSCSI");
	cr_assert_eq(get_be16(b + 62), 0x0460, "SPC-4");
	cr_assert_eq(get_be16(b + 64), 0x04c0, "SBC-3");
	cr_assert_eq(b[96], 0xee, "nothing written past the response");
}

Test(scsi, inquiry_alloc_truncation)
{
	uint8_t c[6] = { 0x12, 0, 0, 0, 10, 0 };
	uint8_t b[256];
	struct scsi_task t;

	memset(b, 0xee, sizeof(b));
	cr_assert_eq(run(&t, disk, c, 6, b, 255), SAM_STAT_GOOD);
	cr_assert_eq(t.data_len, 10);
	cr_assert_eq(t.xfer_len, 10);
	cr_assert_eq(b[4], 91, "length field describes the full data");
	cr_assert_eq(b[10], 0xee);

	/* expected length smaller than the allocation length */
	c[4] = 200;
	memset(b, 0xee, sizeof(b));
	cr_assert_eq(run(&t, disk, c, 6, b, 36), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 36);
	cr_assert_eq(b[36], 0xee);
}

Test(scsi, inquiry_invalid_fields)
{
	uint8_t c[6] = { 0x12, 0, 0x80, 0, 0xff, 0 };
	struct scsi_task t;

	/* EVPD=0 with a page code */
	cr_assert_eq(prep(&t, disk, c, 6, 255), SENSE_INVALID_FIELD_IN_CDB);
	assert_sense(&t, 5, 0x24, 0);
	cr_assert_eq(t.sense[15], 0xc0 | 0x08 | 7, "SKSV C/D BPV bit 7");
	cr_assert_eq(get_be16(t.sense + 16), 2, "field pointer byte 2");
	/* CMDDT */
	c[1] = 0x02;
	c[2] = 0;
	cr_assert_eq(prep(&t, disk, c, 6, 255), SENSE_INVALID_FIELD_IN_CDB);
	/* unknown VPD page */
	c[1] = 0x01;
	c[2] = 0x85;
	cr_assert_eq(prep(&t, disk, c, 6, 255), SENSE_INVALID_FIELD_IN_CDB);
	assert_sense(&t, 5, 0x24, 0);
}

static uint32_t vpd(uint8_t page, uint8_t *b, uint16_t alloc)
{
	uint8_t c[6] = { 0x12, 0x01, page, 0, 0, 0 };
	struct scsi_task t;

	put_be16(c + 3, alloc);
	memset(b, 0, alloc);
	cr_assert_eq(run(&t, disk, c, 6, b, alloc), SAM_STAT_GOOD,
		     "VPD %02x", page);
	cr_assert_eq(b[0], 0x00);
	cr_assert_eq(b[1], page);
	return t.xfer_len;
}

Test(scsi, vpd_supported_pages)
{
	uint8_t b[255];
	static const uint8_t want[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };

	cr_assert_eq(vpd(0x00, b, 255), 4 + sizeof(want));
	cr_assert_eq(get_be16(b + 2), sizeof(want));
	cr_assert_arr_eq(b + 4, want, sizeof(want));
}

Test(scsi, vpd_unit_serial)
{
	uint8_t b[255];
	const char *serial = scsi_lu_serial(disk);

	cr_assert_eq(strlen(serial), 16);
	for (int i = 0; i < 16; i++)
		cr_assert(strchr("0123456789abcdef", serial[i]) != NULL);
	cr_assert_eq(vpd(0x80, b, 255), 4 + 16);
	cr_assert_eq(get_be16(b + 2), 16);
	cr_assert_arr_eq(b + 4, serial, 16);
}

Test(scsi, vpd_device_identification)
{
	uint8_t b[255];
	const char *serial = scsi_lu_serial(disk);
	uint32_t len = vpd(0x83, b, 255);
	uint8_t *d = b + 4;

	cr_assert_eq(get_be16(b + 2), len - 4);
	/* NAA: binary, LU association, type 3, 16 bytes, NAA 6 + OUI */
	cr_assert_eq(d[0], 0x01);
	cr_assert_eq(d[1], 0x03);
	cr_assert_eq(d[3], 16);
	cr_assert_eq(d[4] >> 4, 6, "NAA IEEE Registered Extended");
	cr_assert_eq(((d[4] & 0xf) << 20 | d[5] << 12 | d[6] << 4 | d[7] >> 4),
		     0x001405);
	d += 4 + 16;
	/* T10 vendor ID: ASCII, LU, type 1: vendor + serial */
	cr_assert_eq(d[0], 0x02);
	cr_assert_eq(d[1], 0x01);
	cr_assert_eq(d[3], 8 + 16);
	cr_assert_arr_eq(d + 4, "RINGTGT ", 8);
	cr_assert_arr_eq(d + 12, serial, 16);
	d += 4 + 24;
	/* relative target port: iSCSI, PIV, target port association */
	cr_assert_eq(d[0], 0x51);
	cr_assert_eq(d[1], 0x94);
	cr_assert_eq(d[3], 4);
	cr_assert_eq(get_be16(d + 6), 1);
	d += 8;
	/* target port group (SPC-4 §7.8.6.6.8): type 5, port association */
	cr_assert_eq(d[0], 0x51);
	cr_assert_eq(d[1], 0x95);
	cr_assert_eq(d[3], 4);
	cr_assert_eq(get_be16(d + 6), 1, "group 1");
	d += 8;
	cr_assert_eq((uint32_t)(d - b), len);
}

static void naa_of(struct scsi_lu *lu, uint8_t out[16])
{
	uint8_t c[6] = { 0x12, 0x01, 0x83, 0, 0xff, 0 };
	uint8_t b[255];
	struct scsi_task t;

	cr_assert_eq(run(&t, lu, c, 6, b, 255), SAM_STAT_GOOD);
	memcpy(out, b + 8, 16);
}

static struct scsi_lu *named_lu(const char *target, uint64_t lun,
				const char *serial)
{
	struct bs_open_args a = { .size = 1 << 20 };
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = lun,
		.bs = bs_open(&bs_ram_ops, NULL, &a),
		.target_name = target, .serial = serial,
	};
	struct scsi_lu *lu = scsi_lu_new(&cfg);

	cr_assert_not_null(lu);
	return lu;
}

Test(scsi, identifiers_are_stable)
{
	struct scsi_lu *a = named_lu("iqn.2024-01.x:a", 3, NULL);
	struct scsi_lu *b = named_lu("iqn.2024-01.x:a", 3, NULL);
	struct scsi_lu *other_lun = named_lu("iqn.2024-01.x:a", 4, NULL);
	struct scsi_lu *other_tgt = named_lu("iqn.2024-01.x:b", 3, NULL);
	struct scsi_lu *serial = named_lu("iqn.2024-01.x:a", 3, "MYSERIAL01");
	uint8_t na[16], nb[16], nl[16], nt[16], ns[16];

	naa_of(a, na);
	naa_of(b, nb);
	naa_of(other_lun, nl);
	naa_of(other_tgt, nt);
	naa_of(serial, ns);
	cr_assert_arr_eq(na, nb, 16, "same name, same NAA");
	cr_assert_str_eq(scsi_lu_serial(a), scsi_lu_serial(b));
	cr_assert_arr_neq(na, nl, 16);
	cr_assert_arr_neq(na, nt, 16);
	cr_assert_arr_neq(na, ns, 16, "the serial is part of the identity");
	cr_assert_str_neq(scsi_lu_serial(a), scsi_lu_serial(other_lun));
	cr_assert_str_eq(scsi_lu_serial(serial), "MYSERIAL01");
	scsi_lu_put(a);
	scsi_lu_put(b);
	scsi_lu_put(other_lun);
	scsi_lu_put(other_tgt);
	scsi_lu_put(serial);
}

Test(scsi, identifiers_known_values)
{
	/*
	 * Pinned: a change here renames every exported disk. The values
	 * were computed independently with Python's uuid.uuid5() from the
	 * namespace in lu.c and the names "serial\n<target>\n<lun>\n" and
	 * "naa\n<target>\n<lun>\n<serial>".
	 */
	struct scsi_lu *lu = named_lu("iqn.2024-01.org.example:disk1", 0, NULL);
	static const uint8_t want_naa[16] = {
		0x60, 0x01, 0x40, 0x5b, 0x41, 0xd2, 0x11, 0x9d,
		0xfc, 0x0b, 0xf3, 0x6a, 0x5b, 0xf0, 0x42, 0xf3,
	};
	uint8_t naa[16];

	naa_of(lu, naa);
	cr_assert_str_eq(scsi_lu_serial(lu), "1f24fbf86d8e5a95");
	cr_assert_arr_eq(naa, want_naa, 16);
	scsi_lu_put(lu);
}

Test(scsi, vpd_block_limits)
{
	uint8_t b[255];

	cr_assert_eq(vpd(0xb0, b, 255), 64);
	cr_assert_eq(get_be16(b + 2), 0x3c);
	cr_assert_eq(get_be32(b + 8), (8u << 20) / 512, "max transfer");
	cr_assert_eq(get_be32(b + 12), (1u << 20) / 512, "optimal transfer");
	cr_assert_eq(get_be32(b + 20), 1u << 20, "max unmap LBA count");
	cr_assert_eq(get_be32(b + 24), 64, "max unmap descriptors");
	cr_assert_eq(get_be32(b + 28), 8, "unmap granularity: 4 KiB");
}

Test(scsi, vpd_bdc_and_lbp)
{
	uint8_t b[255];

	cr_assert_eq(vpd(0xb1, b, 255), 64);
	cr_assert_eq(get_be16(b + 4), 1, "non-rotating");
	cr_assert_eq(vpd(0xb2, b, 255), 8);
	cr_assert_eq(get_be16(b + 2), 4);
	cr_assert_eq(b[5] & 0x80, 0x80, "LBPU");
	cr_assert_eq(b[6] & 0x07, 2, "thin provisioned");
}

/* --- READ CAPACITY ------------------------------------------------------ */

Test(scsi, read_capacity10)
{
	uint8_t c[10] = { 0x25 };
	uint8_t b[8];
	struct scsi_task t;

	cr_assert_eq(run(&t, disk, c, 10, b, 8), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 8);
	cr_assert_eq(get_be32(b), BLOCKS - 1);
	cr_assert_eq(get_be32(b + 4), 512);
	/* LBA != 0 without PMI */
	c[5] = 1;
	cr_assert_eq(prep(&t, disk, c, 10, 8), SENSE_INVALID_FIELD_IN_CDB);
}

Test(scsi, read_capacity16)
{
	uint8_t c[16] = { 0x9e, 0x10 };
	uint8_t b[32];
	struct scsi_task t;
	struct scsi_lu *lu4k = ram_lu(2, 1 << 20, false, 4096);

	put_be32(c + 10, 32);
	cr_assert_eq(run(&t, disk, c, 16, b, 32), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 32);
	cr_assert_eq(get_be64(b), BLOCKS - 1);
	cr_assert_eq(get_be32(b + 8), 512);
	cr_assert_eq(b[12], 0, "no protection");
	cr_assert_eq(b[14] & 0x80, 0x80, "LBPME");

	cr_assert_eq(run(&t, lu4k, c, 16, b, 32), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b), 255);
	cr_assert_eq(get_be32(b + 8), 4096);

	/* allocation length 0..15 is not an error */
	for (uint32_t a = 0; a < 16; a++) {
		put_be32(c + 10, a);
		cr_assert_eq(run(&t, disk, c, 16, b, a), SAM_STAT_GOOD);
		cr_assert_eq(t.xfer_len, a);
	}
	scsi_lu_put(lu4k);
}

/* --- READ / WRITE --------------------------------------------------------- */

Test(scsi, write_then_read_back)
{
	uint8_t c[16];
	uint8_t w[4096], r[4096];
	struct scsi_task t;

	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 7 + 3);
	cdb_rw10(c, 0x2a, 100, 8, 0);
	cr_assert_eq(run(&t, disk, c, 10, w, 4096), SAM_STAT_GOOD);

	memset(r, 0, sizeof(r));
	cdb_rw16(c, 0x88, 100, 8, 0);
	cr_assert_eq(run(&t, disk, c, 16, r, 4096), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 4096);
	cr_assert_arr_eq(r, w, 4096);

	/* READ(6) of the second block of what was written */
	uint8_t c6[6] = { 0x08, 0, 0, 101, 1, 0 };
	memset(r, 0, sizeof(r));
	cr_assert_eq(run(&t, disk, c6, 6, r, 512), SAM_STAT_GOOD);
	cr_assert_arr_eq(r, w + 512, 512);

	/* the neighbours are untouched */
	cdb_rw10(c, 0x28, 99, 1, 0);
	memset(r, 0xaa, 512);
	cr_assert_eq(run(&t, disk, c, 10, r, 512), SAM_STAT_GOOD);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(r[i], 0);
}

Test(scsi, zero_length_transfer_does_no_io)
{
	uint8_t c[10];
	struct scsi_task t;

	bs_ram_hold(scsi_lu_bs(disk), true);
	cdb_rw10(c, 0x2a, 0, 0, 0);
	cr_assert_eq(run(&t, disk, c, 10, NULL, 0), SAM_STAT_GOOD);
	cr_assert_eq(bs_ram_held(scsi_lu_bs(disk)), 0);
	bs_ram_hold(scsi_lu_bs(disk), false);
}

Test(scsi, lba_out_of_range_sense)
{
	uint8_t c[10];
	uint8_t b[1024];
	struct scsi_task t;

	cdb_rw10(c, 0x28, BLOCKS - 1, 2, 0);
	cr_assert_eq(run(&t, disk, c, 10, b, 1024), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x21, 0x00);
	cr_assert_eq(t.xfer_len, 0);
	static const uint8_t want[18] = { 0x70, 0, 0x05, 0, 0, 0, 0, 0x0a,
					  0, 0, 0, 0, 0x21, 0x00, 0, 0, 0, 0 };
	cr_assert_arr_eq(t.sense, want, 18);
}

Test(scsi, invalid_opcode_sense)
{
	uint8_t c[6] = { 0xc0 };
	struct scsi_task t;

	cr_assert_eq(run(&t, disk, c, 6, NULL, 0), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x20, 0x00);
	/* exec after a failed prepare completes without touching status */
	scsi_task_exec(&t);
	assert_sense(&t, 0x5, 0x20, 0x00);
}

Test(scsi, readonly_write_protected)
{
	struct scsi_lu *ro = ram_lu(3, 1 << 20, true, 512);
	uint8_t c[10], b[512] = { 0 };
	struct scsi_task t;

	cdb_rw10(c, 0x2a, 0, 1, 0);
	cr_assert_eq(run(&t, ro, c, 10, b, 512), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x7, 0x27, 0x00);
	/* reads still work */
	cdb_rw10(c, 0x28, 0, 1, 0);
	cr_assert_eq(run(&t, ro, c, 10, b, 512), SAM_STAT_GOOD);
	/* MODE SENSE reports WP; UNMAP is refused */
	uint8_t ms[6] = { 0x1a, 0x08, 0x3f, 0, 0xff, 0 };
	uint8_t m[255];
	cr_assert_eq(run(&t, ro, ms, 6, m, 255), SAM_STAT_GOOD);
	cr_assert_eq(m[2] & 0x80, 0x80);
	uint8_t um[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
	cr_assert_eq(prep(&t, ro, um, 10, 24), SENSE_WRITE_PROTECTED);
	scsi_lu_put(ro);
}

/* A store that records what reaches it. */
static struct bs_io last_io;
static int spy_submits;

static int spy_open(struct bs *bs, const char *path,
		    const struct bs_open_args *args)
{
	bs->size = args->size;
	bs->write_cache = true;
	return 0;
}

static void spy_close(struct bs *bs)
{
}

static enum bs_status spy_submit(struct bs *bs, struct bs_io *io)
{
	last_io = *io;
	spy_submits++;
	io->result = io->op == BS_READ || io->op == BS_WRITE ? (int)io->len : 0;
	return BS_DONE;
}

static const struct bs_ops spy_ops = {
	.name = "spy", .open = spy_open, .close = spy_close,
	.submit = spy_submit,
};

static struct scsi_lu *spy_lu_sized(uint64_t size)
{
	struct bs_open_args a = { .size = size };
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 7,
		.bs = bs_open(&spy_ops, NULL, &a), .target_name = TGT_NAME,
	};

	cr_assert_not_null(cfg.bs);
	return scsi_lu_new(&cfg);
}

static struct scsi_lu *spy_lu(void)
{
	return spy_lu_sized(1 << 20);
}

/*
 * A store's medium geometry reaches the initiator: 512-byte logical
 * blocks on 4 KiB physical ones are LOGICAL BLOCKS PER PHYSICAL BLOCK
 * EXPONENT 3 in READ CAPACITY(16) (SBC-4 §5.20.2) and an optimal transfer
 * length granularity of 8 blocks in the Block Limits page (§6.6.4); a
 * store whose unmapped blocks read zeroes sets LBPRZ in both READ
 * CAPACITY(16) and the Logical Block Provisioning page (§6.6.6). A store
 * that does not promise zeroes (the RAM store by default) leaves it 0.
 */
Test(scsi, physical_block_and_lbprz)
{
	struct bs_open_args a = { .size = 1 << 20 };
	struct bs *bs = bs_open(&bs_ram_ops, NULL, &a);
	uint8_t c16[16] = { 0x9e, 0x10 }, inq[6] = { 0x12, 0x01, 0xb0, 0, 64, 0 };
	uint8_t b[64];
	struct scsi_task t;
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 3, .bs = bs, .block_size = 512,
		.target_name = TGT_NAME,
	};
	struct scsi_lu *lu;

	put_be32(c16 + 10, 32);
	cr_assert_eq(run(&t, disk, c16, 16, b, 32), SAM_STAT_GOOD);
	cr_assert_eq(b[13] & 0x0f, 0, "one logical block per physical block");
	cr_assert_eq(b[14] & 0x40, 0, "LBPRZ=0: the store promised nothing");

	cr_assert_not_null(bs);
	bs->logical_block = 512;
	bs->physical_block = 4096;
	bs->unmap_zeroes = true;
	lu = scsi_lu_new(&cfg);
	cr_assert_not_null(lu);
	cr_assert_eq(run(&t, lu, c16, 16, b, 32), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 8), 512);
	cr_assert_eq(b[13] & 0x0f, 3, "2^3 logical blocks per physical block");
	cr_assert_eq(b[14] & 0xc0, 0xc0, "LBPME and LBPRZ");
	cr_assert_eq(run(&t, lu, inq, 6, b, 64), SAM_STAT_GOOD);
	cr_assert_eq(get_be16(b + 6), 8, "optimal transfer length granularity");
	cr_assert_geq(get_be32(b + 28), 8, "unmap granularity: a physical block");
	inq[2] = 0xb2;
	cr_assert_eq(run(&t, lu, inq, 6, b, 64), SAM_STAT_GOOD);
	cr_assert_eq(b[5] & 0x1c, 0x04, "LBPRZ field 001b");
	scsi_lu_put(lu);

	/* an LU block smaller than the medium's logical block is refused */
	bs = bs_open(&bs_ram_ops, NULL, &a);
	cr_assert_not_null(bs);
	bs->logical_block = 4096;
	cfg.bs = bs;
	cr_assert_null(scsi_lu_new(&cfg));
	cr_assert_eq(errno, EINVAL);
	bs_close(bs);
}

Test(scsi, read_capacity_large)
{
	/* 3 TiB: more than 2^32 blocks of 512 */
	struct scsi_lu *lu = spy_lu_sized(3ull << 40);
	uint8_t c10[10] = { 0x25 }, c16[16] = { 0x9e, 0x10 };
	uint8_t b[32];
	struct scsi_task t;

	cr_assert_eq(run(&t, lu, c10, 10, b, 8), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 0xffffffffu);
	cr_assert_eq(get_be32(b + 4), 512);
	put_be32(c16 + 10, 32);
	cr_assert_eq(run(&t, lu, c16, 16, b, 32), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b), (3ull << 40) / 512 - 1);
	/* READ(16) near the end works; READ(10) cannot address it */
	uint8_t r[16];
	cdb_rw16(r, 0x88, (3ull << 40) / 512 - 1, 1, 0);
	cr_assert_eq(prep(&t, lu, r, 16, 512), SENSE_NONE);
	/* MODE SENSE short block descriptor saturates */
	uint8_t ms[6] = { 0x1a, 0, 0x08, 0, 0xff, 0 };
	cr_assert_eq(run(&t, lu, ms, 6, b, 32), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 0xffffffffu);
	scsi_lu_put(lu);
}

Test(scsi, fua_reaches_store)
{
	struct scsi_lu *lu = spy_lu();
	uint8_t c[16], b[1024] = { 0 };
	struct scsi_task t;

	cdb_rw10(c, 0x2a, 4, 2, 0x08);
	cr_assert_eq(run(&t, lu, c, 10, b, 1024), SAM_STAT_GOOD);
	cr_assert_eq(last_io.op, BS_WRITE);
	cr_assert_eq(last_io.flags & BS_IO_FUA, BS_IO_FUA);
	cr_assert_eq(last_io.offset, 4 * 512);
	cr_assert_eq(last_io.len, 1024);

	cdb_rw16(c, 0x8a, 4, 2, 0x10);	/* DPO only */
	cr_assert_eq(run(&t, lu, c, 16, b, 1024), SAM_STAT_GOOD);
	cr_assert_eq(last_io.flags & BS_IO_FUA, 0);

	cdb_rw10(c, 0x28, 4, 2, 0x08);	/* FUA on a read: no write flag */
	cr_assert_eq(run(&t, lu, c, 10, b, 1024), SAM_STAT_GOOD);
	cr_assert_eq(last_io.op, BS_READ);
	cr_assert_eq(last_io.flags & BS_IO_FUA, 0);

	uint8_t sc[10] = { 0x35 };
	cr_assert_eq(run(&t, lu, sc, 10, NULL, 0), SAM_STAT_GOOD);
	cr_assert_eq(last_io.op, BS_FLUSH);
	scsi_lu_put(lu);
}

Test(scsi, write_shorter_than_cdb)
{
	struct scsi_lu *lu = spy_lu();
	uint8_t c[10], b[1024] = { 0 };
	struct scsi_task t;

	/* 2 blocks asked, 1 block sent: write exactly that block */
	spy_submits = 0;
	cdb_rw10(c, 0x2a, 0, 2, 0);
	cr_assert_eq(run(&t, lu, c, 10, b, 512), SAM_STAT_GOOD);
	cr_assert_eq(spy_submits, 1);
	cr_assert_eq(last_io.len, 512);
	/* 1 block asked, 200 bytes sent: refused, nothing written */
	cdb_rw10(c, 0x2a, 0, 1, 0);
	cr_assert_eq(run(&t, lu, c, 10, b, 200), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x0e, 0x03);
	cr_assert_eq(spy_submits, 1);
	/* nothing sent at all: GOOD, nothing written */
	cr_assert_eq(run(&t, lu, c, 10, b, 0), SAM_STAT_GOOD);
	cr_assert_eq(spy_submits, 1);
	/* a read with a 200-byte buffer returns 200 bytes */
	cdb_rw10(c, 0x28, 0, 1, 0);
	cr_assert_eq(run(&t, lu, c, 10, b, 200), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 200);
	cr_assert_eq(last_io.len, 200);
	scsi_lu_put(lu);
}

Test(scsi, held_io_completes_on_release)
{
	struct bs *bs = scsi_lu_bs(disk);
	uint8_t c[10], b[512];
	struct scsi_task t;

	memset(b, 0x5a, sizeof(b));
	bs_ram_hold(bs, true);
	cdb_rw10(c, 0x2a, 9, 1, 0);
	cr_assert_eq(prep(&t, disk, c, 10, 512), SENSE_NONE);
	t.buf = b;
	t.buf_len = 512;
	scsi_task_exec(&t);
	cr_assert_eq(done_calls, 0, "still in flight");
	cr_assert_eq(bs_ram_held(bs), 1);
	bs_ram_hold(bs, false);
	cr_assert_eq(bs_ram_release(bs), 1);
	cr_assert_eq(done_calls, 1);
	cr_assert_eq(t.status, SAM_STAT_GOOD);

	uint8_t r[512] = { 0 };
	cdb_rw10(c, 0x28, 9, 1, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 512), SAM_STAT_GOOD);
	cr_assert_arr_eq(r, b, 512);
}

Test(scsi, unmap_zeroes_ram)
{
	uint8_t c[10], w[2048], p[24] = { 0 };
	struct scsi_task t;

	memset(w, 0x77, sizeof(w));
	cdb_rw10(c, 0x2a, 10, 4, 0);
	cr_assert_eq(run(&t, disk, c, 10, w, 2048), SAM_STAT_GOOD);

	uint8_t um[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
	put_be16(p, 22);
	put_be16(p + 2, 16);
	put_be64(p + 8, 11);
	put_be32(p + 16, 2);
	cr_assert_eq(run(&t, disk, um, 10, p, 24), SAM_STAT_GOOD);

	cdb_rw10(c, 0x28, 10, 4, 0);
	cr_assert_eq(run(&t, disk, c, 10, w, 2048), SAM_STAT_GOOD);
	for (int i = 0; i < 2048; i++)
		cr_assert_eq(w[i], (i < 512 || i >= 1536) ? 0x77 : 0,
			     "byte %d", i);

	/* a descriptor past the end fails the whole command */
	put_be64(p + 8, BLOCKS - 1);
	cr_assert_eq(run(&t, disk, um, 10, p, 24), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x21, 0x00);
	/* parameter list shorter than the header */
	um[8] = 4;
	cr_assert_eq(run(&t, disk, um, 10, p, 4), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x1a, 0x00);
	/* ANCHOR is not supported */
	um[1] = 0x01;
	cr_assert_eq(prep(&t, disk, um, 10, 4), SENSE_INVALID_FIELD_IN_CDB);
}

/* --- GET LBA STATUS, VERIFY, WRITE AND VERIFY, WRITE SAME, PRE-FETCH,
 *     COMPARE AND WRITE ------------------------------------------------- */

static void cdb_gls(uint8_t *c, uint64_t lba, uint32_t alloc)
{
	memset(c, 0, 16);
	c[0] = 0x9e;
	c[1] = 0x12;
	put_be64(c + 2, lba);
	put_be32(c + 10, alloc);
}

/* A file-backed LU of @size bytes in a fresh directory; *dir for rmdir. */
static struct scsi_lu *file_lu(char *dir, char *file, uint64_t size)
{
	struct bs_open_args a = { .size = size, .create = true };
	struct bs *bs;

	strcpy(dir, "/var/tmp/ringtgt-scsi-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	sprintf(file, "%s/lun.img", dir);
	bs = bs_open(&bs_file_ops, file, &a);
	cr_assert_not_null(bs);
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 5, .bs = bs,
		.target_name = TGT_NAME,
	};
	struct scsi_lu *lu = scsi_lu_new(&cfg);
	cr_assert_not_null(lu);
	return lu;
}

Test(scsi, get_lba_status_ram_all_mapped)
{
	uint8_t c[16], b[64];
	struct scsi_task t;

	cdb_gls(c, 10, 64);
	cr_assert_eq(run(&t, disk, c, 16, b, 64), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 24);
	cr_assert_eq(get_be32(b), 20, "parameter data length");
	cr_assert_eq(get_be64(b + 8), 10);
	cr_assert_eq(get_be32(b + 16), BLOCKS - 10);
	cr_assert_eq(b[20] & 0x0f, 0, "mapped");
	/* last block */
	cdb_gls(c, BLOCKS - 1, 24);
	cr_assert_eq(run(&t, disk, c, 16, b, 24), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 16), 1);
	/* beyond the end: LBA OUT OF RANGE (also at exactly the capacity) */
	uint64_t bad[] = { BLOCKS, BLOCKS + 1, 1ull << 63, UINT64_MAX };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cdb_gls(c, bad[i], 24);
		cr_assert_eq(run(&t, disk, c, 16, b, 24),
			     SAM_STAT_CHECK_CONDITION);
		assert_sense(&t, 0x5, 0x21, 0x00);
	}
	/* allocation length 0..23: truncated, never an error */
	for (uint32_t a = 0; a < 24; a++) {
		cdb_gls(c, 0, a);
		cr_assert_eq(run(&t, disk, c, 16, b, a), SAM_STAT_GOOD);
		cr_assert_eq(t.xfer_len, a);
	}
	/* REPORT TYPE other than 0 is not implemented */
	cdb_gls(c, 0, 24);
	c[14] = 1;
	cr_assert_eq(prep(&t, disk, c, 16, 24), SENSE_INVALID_FIELD_IN_CDB);
}

Test(scsi, get_lba_status_file_hole)
{
	char dir[64], file[96];
	struct scsi_lu *lu = file_lu(dir, file, 1 << 20);	/* 2048 blocks */
	uint8_t c[16], b[8 + 16 * 8];
	uint8_t *w = malloc(1 << 20);
	struct scsi_task t;

	/* fill the whole LU so it is all mapped */
	memset(w, 0x3c, 1 << 20);
	for (uint32_t lba = 0; lba < 2048; lba += 256) {
		cdb_rw10(c, 0x2a, lba, 256, 0);
		cr_assert_eq(run(&t, lu, c, 10, w + lba * 512, 128 << 10),
			     SAM_STAT_GOOD);
	}
	cdb_gls(c, 0, 24);
	cr_assert_eq(run(&t, lu, c, 16, b, 24), SAM_STAT_GOOD);
	cr_assert_eq(b[20] & 0x0f, 0);
	cr_assert_eq(get_be32(b + 16), 2048, "one mapped extent");

	/* UNMAP blocks 64..127 (32 KiB, 4 KiB aligned): a real hole */
	uint8_t um[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, p[24] = { 0 };
	put_be16(p, 22);
	put_be16(p + 2, 16);
	put_be64(p + 8, 64);
	put_be32(p + 16, 64);
	cr_assert_eq(run(&t, lu, um, 10, p, 24), SAM_STAT_GOOD);

	cdb_gls(c, 0, sizeof(b));
	cr_assert_eq(run(&t, lu, c, 16, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 4 + 3 * 16, "three descriptors");
	cr_assert_eq(get_be64(b + 8), 0);
	cr_assert_eq(get_be32(b + 16), 64);
	cr_assert_eq(b[20] & 0x0f, 0, "mapped");
	cr_assert_eq(get_be64(b + 24), 64);
	cr_assert_eq(get_be32(b + 32), 64);
	cr_assert_eq(b[36] & 0x0f, 1, "deallocated");
	cr_assert_eq(get_be64(b + 40), 128);
	cr_assert_eq(get_be32(b + 48), 2048 - 128);
	cr_assert_eq(b[52] & 0x0f, 0, "mapped");

	/* starting inside the hole */
	cdb_gls(c, 100, 24);
	cr_assert_eq(run(&t, lu, c, 16, b, 24), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 20, "room for one descriptor");
	cr_assert_eq(get_be64(b + 8), 100);
	cr_assert_eq(get_be32(b + 16), 28);
	cr_assert_eq(b[20] & 0x0f, 1);

	/* a single 512-byte block cannot be a hole on a 4 KiB file system:
	 * the block after it reads as mapped */
	put_be64(p + 8, 200);
	put_be32(p + 16, 1);
	cr_assert_eq(run(&t, lu, um, 10, p, 24), SAM_STAT_GOOD);
	cdb_gls(c, 201, 24);
	cr_assert_eq(run(&t, lu, c, 16, b, 24), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b + 8), 201);
	cr_assert_eq(b[20] & 0x0f, 0);

	free(w);
	scsi_lu_put(lu);
	unlink(file);
	rmdir(dir);
}

static const uint8_t *find_page(const uint8_t *b, uint32_t len, bool ten,
				 uint8_t page);

/*
 * A file LU opened with @a (size and create filled in here) and LU block
 * size @bsz, in a fresh directory of /var/tmp; *dir for rmdir.
 */
static struct scsi_lu *file_lu_with(char *dir, char *file, uint64_t size,
				    struct bs_open_args a, uint32_t bsz)
{
	struct bs_open_args c = { .size = size, .create = true };
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 6, .block_size = bsz,
		.target_name = TGT_NAME, .readonly = a.readonly,
	};
	struct bs *bs;
	struct scsi_lu *lu;

	strcpy(dir, "/var/tmp/ringtgt-scsi-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	sprintf(file, "%s/lun.img", dir);
	/* create it writable first: a read-only open never creates */
	bs = bs_open(&bs_file_ops, file, &c);
	cr_assert_not_null(bs, "create %s: %s", file, strerror(errno));
	bs_close(bs);
	bs = bs_open(&bs_file_ops, file, &a);
	cr_assert_not_null(bs, "open %s: %s", file, strerror(errno));
	cfg.bs = bs;
	lu = scsi_lu_new(&cfg);
	cr_assert_not_null(lu);
	return lu;
}

static void file_lu_free(struct scsi_lu *lu, const char *dir,
			 const char *file)
{
	scsi_lu_put(lu);
	unlink(file);
	rmdir(dir);
}

/*
 * A file LU's physical block is its file system's block (the unit of
 * allocation and of holes): READ CAPACITY(16) LOGICAL BLOCKS PER
 * PHYSICAL BLOCK EXPONENT (SBC-4 §5.20.2) is log2(f_bsize / LU block),
 * for 512- and 4096-byte LUs, and the Block Limits page's optimal
 * transfer length granularity (§6.6.4) is one such block.
 */
Test(scsi, file_lu_physical_block)
{
	static const uint32_t bszs[] = { 512, 4096 };
	uint8_t c16[16] = { 0x9e, 0x10 }, inq[6] = { 0x12, 0x01, 0xb0, 0, 64, 0 };
	char dir[64], file[96];
	struct statfs sfs;
	struct scsi_task t;
	uint8_t b[64];

	put_be32(c16 + 10, 32);
	for (size_t i = 0; i < ARRAY_SIZE(bszs); i++) {
		struct scsi_lu *lu = file_lu_with(dir, file, 1 << 20,
						  (struct bs_open_args){ 0 },
						  bszs[i]);
		unsigned exp = 0;

		cr_assert_eq(statfs(dir, &sfs), 0);
		if (sfs.f_bsize > bszs[i])
			exp = (unsigned)__builtin_ctzl((unsigned long)sfs.f_bsize) -
			      (unsigned)__builtin_ctz(bszs[i]);
		cr_assert_eq(run(&t, lu, c16, 16, b, 32), SAM_STAT_GOOD);
		cr_assert_eq(get_be32(b + 8), bszs[i]);
		cr_assert_eq(b[13] & 0x0f, exp,
			     "LU block %u on a file system of %ld-byte blocks: "
			     "exponent %u, not %u", bszs[i], (long)sfs.f_bsize,
			     exp, b[13] & 0x0f);
		cr_assert_eq(run(&t, lu, inq, 6, b, 64), SAM_STAT_GOOD);
		cr_assert_eq(get_be16(b + 6), 1u << exp,
			     "optimal transfer length granularity");
		file_lu_free(lu, dir, file);
	}
	/* the test means something only where the two differ */
	cr_assert_gt(sfs.f_bsize, 512, "/var/tmp has 512-byte blocks");
}

/*
 * The Caching mode page (SBC-4 §6.5.5) tells the truth about the file
 * store: WCE=1 by default (a completed write may be in the page cache),
 * WCE=0 with write_through (every write durable before GOOD). WCE is not
 * changeable (there is no MODE SELECT): the changeable mask is 0 either
 * way, and the default values are the current ones.
 */
Test(scsi, file_lu_write_cache)
{
	static const bool through[] = { false, true };
	uint8_t c[6] = { 0x1a, 0, 0x08, 0, 0xff, 0 };
	char dir[64], file[96];
	struct scsi_task t;
	const uint8_t *p;
	uint8_t b[255];

	for (size_t i = 0; i < ARRAY_SIZE(through); i++) {
		struct bs_open_args a = { .write_through = through[i] };
		struct scsi_lu *lu = file_lu_with(dir, file, 1 << 20, a, 512);
		uint8_t wce = through[i] ? 0 : 0x04;

		for (uint8_t pc = 0; pc < 3; pc++) {
			c[2] = (uint8_t)(pc << 6 | 0x08);
			cr_assert_eq(run(&t, lu, c, 6, b, 255), SAM_STAT_GOOD);
			p = find_page(b, t.xfer_len, false, 0x08);
			cr_assert_not_null(p);
			cr_assert_eq(p[2] & 0x04, pc == 1 ? 0 : wce,
				     "write_through=%d, page control %u: WCE "
				     "%d", through[i], pc, p[2] & 0x04);
		}
		file_lu_free(lu, dir, file);
	}
}

/*
 * A read-only file LU: every command that would change the medium ends
 * DATA PROTECT / WRITE PROTECTED (SBC-4 §4.11), the file is left as it
 * was, reads work, MODE SENSE reports WP, and no unmap is offered.
 */
Test(scsi, file_lu_readonly)
{
	struct bs_open_args a = { .readonly = true };
	char dir[64], file[96];
	struct scsi_lu *lu = file_lu_with(dir, file, 1 << 20, a, 512);
	uint8_t c[16], b[4096] = { 0 }, ms[6] = { 0x1a, 0x08, 0x3f, 0, 0xff, 0 };
	uint8_t um[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 }, p[24] = { 0 };
	uint8_t c16[16] = { 0x9e, 0x10 };
	struct scsi_task t;
	struct stat st;

	memset(b, 0x5a, sizeof(b));
	cdb_rw10(c, 0x2a, 0, 8, 0);		/* WRITE(10) */
	cr_assert_eq(run(&t, lu, c, 10, b, 4096), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x7, 0x27, 0x00);
	cdb_rw16(c, 0x8a, 8, 8, 0x08);		/* WRITE(16) FUA */
	cr_assert_eq(run(&t, lu, c, 16, b, 4096), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x7, 0x27, 0x00);
	cdb_rw16(c, 0x93, 0, 8, 0x08);		/* WRITE SAME(16) UNMAP */
	memset(b, 0, 512);
	cr_assert_eq(run(&t, lu, c, 16, b, 512), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x7, 0x27, 0x00);
	put_be16(p, 22);
	put_be16(p + 2, 16);
	put_be64(p + 8, 0);
	put_be32(p + 16, 8);
	cr_assert_eq(prep(&t, lu, um, 10, 24), SENSE_WRITE_PROTECTED);
	cr_assert_eq(stat(file, &st), 0);
	cr_assert_eq(st.st_blocks, 0, "nothing was written to the file");
	/* reads work; WP in the mode parameter header; no LBPME */
	cdb_rw10(c, 0x28, 0, 8, 0);
	cr_assert_eq(run(&t, lu, c, 10, b, 4096), SAM_STAT_GOOD);
	cr_assert_eq(b[0], 0);
	cr_assert_eq(run(&t, lu, ms, 6, b, 255), SAM_STAT_GOOD);
	cr_assert_eq(b[2] & 0x80, 0x80, "WP");
	put_be32(c16 + 10, 32);
	cr_assert_eq(run(&t, lu, c16, 16, b, 32), SAM_STAT_GOOD);
	cr_assert_eq(b[14] & 0x80, 0, "LBPME=0 on a read-only LU");
	file_lu_free(lu, dir, file);
}

Test(scsi, verify_bytchk)
{
	uint8_t c[16], w[4096], d[4096];
	struct scsi_task t;

	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 13 + 1);
	cdb_rw10(c, 0x2a, 40, 8, 0);
	cr_assert_eq(run(&t, disk, c, 10, w, 4096), SAM_STAT_GOOD);

	/* BYTCHK=0: range check only, no data */
	cdb_rw10(c, 0x2f, 40, 8, 0);
	cr_assert_eq(prep(&t, disk, c, 10, 0), SENSE_NONE);
	cr_assert_eq(t.dir, SCSI_DIR_NONE);
	cr_assert_eq(run(&t, disk, c, 10, NULL, 0), SAM_STAT_GOOD);
	cdb_rw10(c, 0x2f, BLOCKS - 1, 2, 0);
	cr_assert_eq(run(&t, disk, c, 10, NULL, 0), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x21, 0x00);
	cdb_rw10(c, 0x2f, BLOCKS + 1, 0, 0x02);
	cr_assert_eq(prep(&t, disk, c, 10, 0), SENSE_LBA_OUT_OF_RANGE);

	/* BYTCHK=1, equal: GOOD (10, 12 and 16-byte forms) */
	cdb_rw10(c, 0x2f, 40, 8, 0x02);
	cr_assert_eq(run(&t, disk, c, 10, w, 4096), SAM_STAT_GOOD);
	memset(c, 0, 16);
	c[0] = 0xaf;
	c[1] = 0x02;
	put_be32(c + 2, 40);
	put_be32(c + 6, 8);
	cr_assert_eq(run(&t, disk, c, 12, w, 4096), SAM_STAT_GOOD);
	cdb_rw16(c, 0x8f, 40, 8, 0x12);	/* with DPO */
	cr_assert_eq(run(&t, disk, c, 16, w, 4096), SAM_STAT_GOOD);

	/* one byte differs: MISCOMPARE, INFORMATION = its offset */
	memcpy(d, w, sizeof(d));
	d[2345] ^= 0x58;
	cdb_rw10(c, 0x2f, 40, 8, 0x02);
	cr_assert_eq(run(&t, disk, c, 10, d, 4096), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0xe, 0x1d, 0x00);
	cr_assert_eq(t.sense[0] & 0x80, 0x80, "VALID");
	cr_assert_eq(get_be32(t.sense + 3), 2345);
	/* BYTCHK=0 does not look at the data */
	cdb_rw10(c, 0x2f, 40, 8, 0);
	cr_assert_eq(run(&t, disk, c, 10, d, 0), SAM_STAT_GOOD);

	/* VRPROTECT != 0 and BYTCHK=10b: INVALID FIELD IN CDB */
	for (uint8_t p = 1; p < 8; p++) {
		cdb_rw10(c, 0x2f, 40, 1, (uint8_t)(p << 5) | 0x02);
		cr_assert_eq(prep(&t, disk, c, 10, 512),
			     SENSE_INVALID_FIELD_IN_CDB);
	}
	cdb_rw10(c, 0x2f, 40, 1, 0x04);
	cr_assert_eq(prep(&t, disk, c, 10, 512), SENSE_INVALID_FIELD_IN_CDB);

	/* BYTCHK=11b: one block compared with every block of the range */
	memset(d, 0x42, 512);
	cdb_rw10(c, 0x2a, 300, 4, 0);
	memset(w, 0x42, 2048);
	cr_assert_eq(run(&t, disk, c, 10, w, 2048), SAM_STAT_GOOD);
	cdb_rw10(c, 0x2f, 300, 4, 0x06);
	cr_assert_eq(prep(&t, disk, c, 10, 512), SENSE_NONE);
	cr_assert_eq(t.data_len, 512);
	cr_assert_eq(run(&t, disk, c, 10, d, 512), SAM_STAT_GOOD);
	cdb_rw10(c, 0x2f, 300, 5, 0x06);	/* block 304 is zeroes */
	cr_assert_eq(run(&t, disk, c, 10, d, 512), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0xe, 0x1d, 0x00);
	cr_assert_eq(get_be32(t.sense + 3), 4 * 512);
}

Test(scsi, write_and_verify)
{
	uint8_t c[16], w[2048], r[2048];
	struct scsi_task t;
	struct scsi_lu *lu = spy_lu();

	memset(w, 0x61, sizeof(w));
	cdb_rw10(c, 0x2e, 7, 4, 0x02);	/* BYTCHK=1: write, read back */
	cr_assert_eq(run(&t, disk, c, 10, w, 2048), SAM_STAT_GOOD);
	cdb_rw10(c, 0x28, 7, 4, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 2048), SAM_STAT_GOOD);
	cr_assert_arr_eq(r, w, 2048);

	/* the write is FUA */
	cdb_rw10(c, 0x2e, 7, 4, 0);
	cr_assert_eq(run(&t, lu, c, 10, w, 2048), SAM_STAT_GOOD);
	cr_assert_eq(last_io.op, BS_WRITE);
	cr_assert_eq(last_io.flags & BS_IO_FUA, BS_IO_FUA);
	/* a short Data-Out of whole blocks writes those */
	cdb_rw16(c, 0x8e, 7, 4, 0);
	cr_assert_eq(run(&t, lu, c, 16, w, 512), SAM_STAT_GOOD);
	cr_assert_eq(last_io.len, 512);
	/* errors */
	cdb_rw10(c, 0x2e, BLOCKS, 1, 0);
	cr_assert_eq(prep(&t, disk, c, 10, 512), SENSE_LBA_OUT_OF_RANGE);
	cdb_rw10(c, 0x2e, 0, 1, 0x20);
	cr_assert_eq(prep(&t, disk, c, 10, 512), SENSE_INVALID_FIELD_IN_CDB);
	struct scsi_lu *ro = ram_lu(3, 1 << 20, true, 512);
	cdb_rw10(c, 0x2e, 0, 1, 0);
	cr_assert_eq(prep(&t, ro, c, 10, 512), SENSE_WRITE_PROTECTED);
	scsi_lu_put(ro);
	scsi_lu_put(lu);
}

Test(scsi, write_same_replicates)
{
	uint8_t c[16], blk[512], r[8192];
	struct scsi_task t;

	for (int i = 0; i < 512; i++)
		blk[i] = (uint8_t)(i % 251 + 1);	/* never 0 */
	cdb_rw10(c, 0x41, 50, 16, 0);
	cr_assert_eq(prep(&t, disk, c, 10, 512), SENSE_NONE);
	cr_assert_eq(t.data_len, 512, "one block of Data-Out");
	cr_assert_eq(run(&t, disk, c, 10, blk, 512), SAM_STAT_GOOD);
	cdb_rw10(c, 0x28, 49, 16, 0);
	memset(r, 0xee, sizeof(r));
	cr_assert_eq(run(&t, disk, c, 10, r, 8192), SAM_STAT_GOOD);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(r[i], 0, "block 49 untouched");
	for (int b = 1; b < 16; b++)
		cr_assert_arr_eq(r + b * 512, blk, 512, "block %d", 49 + b);

	/* WRITE SAME(16) with UNMAP and a zero block: zeroes */
	memset(blk, 0, 512);
	cdb_rw16(c, 0x93, 52, 4, 0x08);
	cr_assert_eq(run(&t, disk, c, 16, blk, 512), SAM_STAT_GOOD);
	cdb_rw10(c, 0x28, 50, 8, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 4096), SAM_STAT_GOOD);
	for (int i = 0; i < 4096; i++)
		cr_assert_eq(r[i] == 0, i >= 1024 && i < 3072, "byte %d", i);

	/* NDOB: no Data-Out, zeroes */
	cdb_rw16(c, 0x93, 50, 2, 0x01);
	cr_assert_eq(prep(&t, disk, c, 16, 0), SENSE_NONE);
	cr_assert_eq(t.dir, SCSI_DIR_NONE);
	cr_assert_eq(run(&t, disk, c, 16, NULL, 0), SAM_STAT_GOOD);
	cdb_rw10(c, 0x28, 50, 2, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 1024), SAM_STAT_GOOD);
	for (int i = 0; i < 1024; i++)
		cr_assert_eq(r[i], 0);
}

Test(scsi, write_same_limits)
{
	uint8_t c[16], blk[512] = { 1 }, b[64];
	struct scsi_task t;
	struct scsi_lu *big = spy_lu_sized(64ull << 20);	/* 131072 blocks */
	uint32_t max = (16u << 20) / 512;

	/* Block Limits: WSNZ=1, MAXIMUM WRITE SAME LENGTH */
	uint8_t inq[6] = { 0x12, 0x01, 0xb0, 0, 64, 0 };
	cr_assert_eq(run(&t, big, inq, 6, b, 64), SAM_STAT_GOOD);
	cr_assert_eq(b[4] & 0x01, 1, "WSNZ");
	cr_assert_eq(get_be64(b + 36), max);

	cdb_rw16(c, 0x93, 0, max, 0);
	cr_assert_eq(prep(&t, big, c, 16, 512), SENSE_NONE);
	cdb_rw16(c, 0x93, 0, max + 1, 0);
	cr_assert_eq(prep(&t, big, c, 16, 512), SENSE_INVALID_FIELD_IN_CDB);
	/* a pattern longer than the bounce buffer is written in chunks */
	spy_submits = 0;
	cdb_rw16(c, 0x93, 0, max, 0);
	cr_assert_eq(run(&t, big, c, 16, blk, 512), SAM_STAT_GOOD);
	cr_assert_eq(spy_submits, 16);
	cr_assert_eq(last_io.op, BS_WRITE);
	cr_assert_eq(last_io.offset, 15u << 20);
	/* a zero block is one request */
	memset(blk, 0, 512);
	spy_submits = 0;
	cr_assert_eq(run(&t, big, c, 16, blk, 512), SAM_STAT_GOOD);
	cr_assert_eq(spy_submits, 1);
	cr_assert_eq(last_io.op, BS_WRITE_ZEROES);
	cr_assert_eq(last_io.len, 16u << 20);

	/* range errors */
	cdb_rw10(c, 0x41, BLOCKS, 1, 0);
	cr_assert_eq(prep(&t, disk, c, 10, 512), SENSE_LBA_OUT_OF_RANGE);
	cdb_rw10(c, 0x41, BLOCKS - 1, 2, 0);
	cr_assert_eq(prep(&t, disk, c, 10, 512), SENSE_LBA_OUT_OF_RANGE);
	cdb_rw16(c, 0x93, UINT64_MAX, 1, 0);
	cr_assert_eq(prep(&t, disk, c, 16, 512), SENSE_LBA_OUT_OF_RANGE);
	/* ANCHOR (ANC_SUP=0), WRPROTECT, the obsolete PBDATA/LBDATA */
	uint8_t badf[] = { 0x10, 0x18, 0x20, 0x02, 0x04 };
	for (size_t i = 0; i < ARRAY_SIZE(badf); i++) {
		cdb_rw10(c, 0x41, 0, 1, badf[i]);
		cr_assert_eq(prep(&t, disk, c, 10, 512),
			     SENSE_INVALID_FIELD_IN_CDB, "flags %x", badf[i]);
	}
	/* Data-Out shorter than a block */
	cdb_rw10(c, 0x41, 0, 1, 0);
	cr_assert_eq(run(&t, disk, c, 10, blk, 100), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x0e, 0x03);
	scsi_lu_put(big);
}

/*
 * WSNZ=1 (Block Limits VPD): NUMBER OF LOGICAL BLOCKS 0 is ILLEGAL
 * REQUEST / INVALID FIELD IN CDB for WRITE SAME(10) and (16), with the
 * field pointer at the field (SBC-4 WRITE SAME; SPC-4 §4.5.2.4.2), and
 * nothing is written: not the tail of the medium, not one block.
 */
Test(scsi, write_same_zero_blocks_refused)
{
	uint8_t c[16], ff[512], r[1024];
	struct scsi_task t;
	/* opcode, CDB length, byte 1 flags, first byte of the field */
	static const struct {
		uint8_t op, len, flags, field;
	} ws[] = {
		{ 0x41, 10, 0x00, 7 },	/* WRITE SAME(10) */
		{ 0x41, 10, 0x08, 7 },	/* WRITE SAME(10) UNMAP=1 */
		{ 0x93, 16, 0x00, 10 },	/* WRITE SAME(16) */
		{ 0x93, 16, 0x08, 10 },	/* WRITE SAME(16) UNMAP=1 */
		{ 0x93, 16, 0x01, 10 },	/* WRITE SAME(16) NDOB=1 */
	};

	memset(ff, 0xff, sizeof(ff));
	for (size_t i = 0; i < ARRAY_SIZE(ws); i++) {
		bool ndob = ws[i].flags & 0x01;

		/* the last two blocks hold 0x5a, then WRITE SAME of 0xff
		 * (zeroes with NDOB) "to the end" from the second last */
		memset(r, 0x5a, sizeof(r));
		cdb_rw10(c, 0x2a, BLOCKS - 2, 2, 0);
		cr_assert_eq(run(&t, disk, c, 10, r, 1024), SAM_STAT_GOOD);
		if (ws[i].len == 10)
			cdb_rw10(c, ws[i].op, BLOCKS - 2, 0, ws[i].flags);
		else
			cdb_rw16(c, ws[i].op, BLOCKS - 2, 0, ws[i].flags);
		cr_assert_eq(run(&t, disk, c, ws[i].len, ndob ? NULL : ff,
				 ndob ? 0 : 512), SAM_STAT_CHECK_CONDITION,
			     "case %zu", i);
		assert_sense(&t, 0x5, 0x24, 0x00);
		/* SKSV, C/D=1, BPV=1, bit 7 of the field's first byte */
		cr_assert_eq(t.sense[15], 0xc0 | 0x08 | 7, "case %zu", i);
		cr_assert_eq(get_be16(t.sense + 16), ws[i].field,
			     "case %zu field pointer", i);
		memset(r, 0xee, sizeof(r));
		cdb_rw10(c, 0x28, BLOCKS - 2, 2, 0);
		cr_assert_eq(run(&t, disk, c, 10, r, 1024), SAM_STAT_GOOD);
		for (int b = 0; b < 1024; b++)
			cr_assert_eq(r[b], 0x5a, "case %zu: byte %d written",
				     i, b);
	}
	/* at LBA 0 and past the end alike: the field, not the LBA */
	cdb_rw16(c, 0x93, 0, 0, 0);
	cr_assert_eq(prep(&t, disk, c, 16, 512), SENSE_INVALID_FIELD_IN_CDB);
	cdb_rw10(c, 0x41, BLOCKS + 1, 0, 0);
	cr_assert_eq(prep(&t, disk, c, 10, 512), SENSE_INVALID_FIELD_IN_CDB);
	/* one block is still a WRITE SAME */
	cdb_rw10(c, 0x41, BLOCKS - 1, 1, 0);
	cr_assert_eq(prep(&t, disk, c, 10, 512), SENSE_NONE);
	cr_assert_eq(t.nblocks, 1);
}

Test(scsi, prefetch)
{
	uint8_t c[16];
	struct scsi_task t;

	cdb_rw10(c, 0x34, 0, 16, 0x02);
	cr_assert_eq(run(&t, disk, c, 10, NULL, 0), SAM_STAT_GOOD);
	cdb_rw16(c, 0x90, BLOCKS - 1, 1, 0);
	cr_assert_eq(run(&t, disk, c, 16, NULL, 0), SAM_STAT_GOOD);
	cdb_rw10(c, 0x34, 0, 0, 0);
	cr_assert_eq(run(&t, disk, c, 10, NULL, 0), SAM_STAT_GOOD);
	cdb_rw10(c, 0x34, BLOCKS + 1, 0, 0);
	cr_assert_eq(run(&t, disk, c, 10, NULL, 0), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x21, 0x00);
	cdb_rw16(c, 0x90, BLOCKS - 1, 2, 0);
	cr_assert_eq(prep(&t, disk, c, 16, 0), SENSE_LBA_OUT_OF_RANGE);
}

static void cdb_caw(uint8_t *c, uint64_t lba, uint8_t n, uint8_t flags)
{
	memset(c, 0, 16);
	c[0] = 0x89;
	c[1] = flags;
	put_be64(c + 2, lba);
	c[13] = n;
}

Test(scsi, compare_and_write)
{
	uint8_t c[16], d[4096], r[2048];
	struct scsi_task t;

	memset(d, 'A', 2048);
	cdb_rw10(c, 0x2a, 20, 4, 0);
	cr_assert_eq(run(&t, disk, c, 10, d, 2048), SAM_STAT_GOOD);

	/* equal: the second half is written */
	memset(d + 2048, 'B', 2048);
	cdb_caw(c, 20, 4, 0x08);
	cr_assert_eq(prep(&t, disk, c, 16, 4096), SENSE_NONE);
	cr_assert_eq(t.data_len, 4096);
	cr_assert_eq(run(&t, disk, c, 16, d, 4096), SAM_STAT_GOOD);
	cdb_rw10(c, 0x28, 20, 4, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 2048), SAM_STAT_GOOD);
	cr_assert_arr_eq(r, d + 2048, 2048);

	/* different: MISCOMPARE at the offset, nothing written */
	memset(d, 'B', 2048);
	d[2048 - 27] = 'C';
	memset(d + 2048, 'Z', 2048);
	cdb_caw(c, 20, 4, 0);
	cr_assert_eq(run(&t, disk, c, 16, d, 4096), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0xe, 0x1d, 0x00);
	cr_assert_eq(get_be32(t.sense + 3), 2048 - 27);
	cdb_rw10(c, 0x28, 20, 4, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 2048), SAM_STAT_GOOD);
	for (int i = 0; i < 2048; i++)
		cr_assert_eq(r[i], 'B');

	/* 0 blocks: nothing; beyond the limit, the end, short Data-Out */
	cdb_caw(c, 20, 0, 0);
	cr_assert_eq(run(&t, disk, c, 16, NULL, 0), SAM_STAT_GOOD);
	/* ... but 0 blocks with data (256 wrapped to 0) is refused */
	cr_assert_eq(prep(&t, disk, c, 16, 256 * 1024),
		     SENSE_INVALID_FIELD_IN_CDB);
	uint8_t big[16] = { 0x89 };
	big[13] = 255;
	cr_assert_eq(prep(&t, disk, big, 16, 255 * 1024), SENSE_NONE);
	cdb_caw(c, BLOCKS - 1, 2, 0);
	cr_assert_eq(prep(&t, disk, c, 16, 2048), SENSE_LBA_OUT_OF_RANGE);
	cdb_caw(c, 20, 4, 0);
	cr_assert_eq(run(&t, disk, c, 16, d, 3072), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x0e, 0x03);

	/* Block Limits advertises the maximum */
	uint8_t inq[6] = { 0x12, 0x01, 0xb0, 0, 64, 0 }, b[64];
	cr_assert_eq(run(&t, disk, inq, 6, b, 64), SAM_STAT_GOOD);
	cr_assert_eq(b[5], 255);
}

/*
 * A Data-Out that is not what WRITE SAME (one block) or COMPARE AND
 * WRITE (2 * NUMBER OF LOGICAL BLOCKS) transfers is refused before any
 * transfer with INVALID FIELD IN COMMAND INFORMATION UNIT (FCP-4 §9.4.2
 * b), and the medium is untouched: half of a wrong-sized buffer is
 * neither the pattern nor the compare data.
 */
Test(scsi, data_out_size_mismatch_refused)
{
	static const uint32_t ws_sizes[] = { 256, 1024, 4096 };
	static const uint32_t caw_sizes[] = { 1024, 3072, 4096 };
	uint8_t c[16], d[8192], r[2048];
	struct scsi_task t;

	memset(d, 0x5a, sizeof(d));
	for (size_t i = 0; i < ARRAY_SIZE(ws_sizes); i++) {
		for (int sixteen = 0; sixteen < 2; sixteen++) {
			if (sixteen)
				cdb_rw16(c, 0x93, 60, 4, 0);
			else
				cdb_rw10(c, 0x41, 60, 4, 0);
			run(&t, disk, c, sixteen ? 16 : 10, d, ws_sizes[i]);
			assert_sense(&t, 0x5, 0x0e, 0x03);
		}
	}
	/* COMPARE AND WRITE of 2 blocks transfers 2048 bytes, no other size */
	for (size_t i = 0; i < ARRAY_SIZE(caw_sizes); i++) {
		cdb_caw(c, 60, 2, 0);
		run(&t, disk, c, 16, d, caw_sizes[i]);
		assert_sense(&t, 0x5, 0x0e, 0x03);
	}
	cdb_rw10(c, 0x28, 60, 4, 0);
	memset(r, 0xee, sizeof(r));
	cr_assert_eq(run(&t, disk, c, 10, r, 2048), SAM_STAT_GOOD);
	for (int i = 0; i < 2048; i++)
		cr_assert_eq(r[i], 0, "byte %d of blocks 60-63 was written", i);
}

Test(scsi, compare_and_write_serialised)
{
	struct bs *bs = scsi_lu_bs(disk);
	uint8_t d1[1024], d2[1024], r[512];
	uint8_t c[16];
	struct scsi_task t1, t2;

	/* block 30 is zeroes; CAW 1: 0 -> 'x'; CAW 2: 'x' -> 'y' */
	memset(d1, 0, 512);
	memset(d1 + 512, 'x', 512);
	memset(d2, 'x', 512);
	memset(d2 + 512, 'y', 512);
	bs_ram_hold(bs, true);
	cdb_caw(c, 30, 1, 0);
	cr_assert_eq(prep(&t1, disk, c, 16, 1024), SENSE_NONE);
	t1.buf = d1;
	t1.buf_len = 1024;
	scsi_task_exec(&t1);
	cr_assert_eq(prep(&t2, disk, c, 16, 1024), SENSE_NONE);
	t2.buf = d2;
	t2.buf_len = 1024;
	scsi_task_exec(&t2);
	/* only the first one's read reached the store */
	cr_assert_eq(bs_ram_held(bs), 1);
	cr_assert_eq(done_calls, 0);
	bs_ram_hold(bs, false);
	cr_assert_eq(bs_ram_release(bs), 1);
	/* the first finished, and handed over to the second (inline: no
	 * reactor), which compared with what the first wrote */
	cr_assert_eq(done_calls, 2);
	cr_assert_eq(t1.status, SAM_STAT_GOOD);
	cr_assert_eq(t2.status, SAM_STAT_GOOD);
	cdb_rw10(c, 0x28, 30, 1, 0);
	cr_assert_eq(run(&t1, disk, c, 10, r, 512), SAM_STAT_GOOD);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(r[i], 'y');
}

Test(scsi, vpd_lbp_write_same_bits)
{
	uint8_t b[255];

	cr_assert_eq(vpd(0xb2, b, 255), 8);
	cr_assert_eq(b[5] & 0xe0, 0xe0, "LBPU, LBPWS, LBPWS10");
}

/* --- MODE SENSE ----------------------------------------------------------- */

/* Finds mode page @page after header and block descriptors, or NULL. */
static const uint8_t *find_page(const uint8_t *b, uint32_t len, bool ten,
				uint8_t page)
{
	uint32_t off = ten ? 8u + get_be16(b + 6) : 4u + b[3];

	while (off + 2 <= len) {
		if ((b[off] & 0x3f) == page)
			return b + off;
		off += 2u + b[off + 1];
	}
	return NULL;
}

Test(scsi, mode_sense_caching_wce)
{
	uint8_t c[6] = { 0x1a, 0, 0x08, 0, 0xff, 0 };
	uint8_t b[255];
	struct scsi_task t;
	const uint8_t *p;

	/* RAM has no volatile cache: WCE=0 */
	cr_assert_eq(run(&t, disk, c, 6, b, 255), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 4 + 8 + 20);
	cr_assert_eq(b[0], t.xfer_len - 1, "mode data length");
	cr_assert_eq(b[2], 0x10, "DPOFUA, not WP");
	cr_assert_eq(b[3], 8, "block descriptor length");
	cr_assert_eq(get_be32(b + 4), BLOCKS);
	cr_assert_eq(get_be24(b + 9), 512);
	p = find_page(b, t.xfer_len, false, 0x08);
	cr_assert_not_null(p);
	cr_assert_eq(p[1], 0x12);
	cr_assert_eq(p[2] & 0x04, 0);

	/* a store with a write cache: WCE=1; changeable: nothing */
	struct scsi_lu *lu = spy_lu();
	cr_assert_eq(run(&t, lu, c, 6, b, 255), SAM_STAT_GOOD);
	p = find_page(b, t.xfer_len, false, 0x08);
	cr_assert_eq(p[2] & 0x04, 0x04);
	c[2] = 0x48;	/* changeable values */
	cr_assert_eq(run(&t, lu, c, 6, b, 255), SAM_STAT_GOOD);
	p = find_page(b, t.xfer_len, false, 0x08);
	cr_assert_eq(p[2], 0);
	c[2] = 0x88;	/* default values */
	cr_assert_eq(run(&t, lu, c, 6, b, 255), SAM_STAT_GOOD);
	p = find_page(b, t.xfer_len, false, 0x08);
	cr_assert_eq(p[2] & 0x04, 0x04);
	scsi_lu_put(lu);
}

Test(scsi, mode_sense_all_pages)
{
	uint8_t c[10] = { 0x5a, 0x08, 0x3f, 0, 0, 0, 0, 0x01, 0x00, 0 };
	uint8_t b[256];
	struct scsi_task t;

	/* MODE SENSE(10), DBD */
	cr_assert_eq(run(&t, disk, c, 10, b, 256), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 8 + 12 + 20 + 12);
	cr_assert_eq(get_be16(b), t.xfer_len - 2);
	cr_assert_eq(get_be16(b + 6), 0, "DBD");
	cr_assert_not_null(find_page(b, t.xfer_len, true, 0x01));
	cr_assert_not_null(find_page(b, t.xfer_len, true, 0x08));
	const uint8_t *ctl = find_page(b, t.xfer_len, true, 0x0a);
	cr_assert_not_null(ctl);
	cr_assert_eq(ctl[1], 0x0a);
	cr_assert_eq(ctl[2] & 0x04, 0, "D_SENSE=0: fixed format sense");
	cr_assert_eq(ctl[4] & 0x08, 0, "SWP=0");

	/* LLBAA: long block descriptor */
	c[1] = 0x10;
	cr_assert_eq(run(&t, disk, c, 10, b, 256), SAM_STAT_GOOD);
	cr_assert_eq(b[4] & 0x01, 1, "LONGLBA");
	cr_assert_eq(get_be16(b + 6), 16);
	cr_assert_eq(get_be64(b + 8), BLOCKS);
	cr_assert_eq(get_be32(b + 20), 512);
}

Test(scsi, mode_sense_truncation)
{
	uint8_t c[6] = { 0x1a, 0, 0x3f, 0, 4, 0 };
	uint8_t b[255];
	struct scsi_task t;

	memset(b, 0xee, sizeof(b));
	cr_assert_eq(run(&t, disk, c, 6, b, 255), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 4);
	cr_assert_eq(b[0], 4 + 8 + 12 + 20 + 12 - 1, "full length reported");
	cr_assert_eq(b[4], 0xee);
}

Test(scsi, mode_sense_saved)
{
	uint8_t c[6] = { 0x1a, 0, 0xc8, 0, 0xff, 0 };
	uint8_t b[255];
	struct scsi_task t;

	cr_assert_eq(run(&t, disk, c, 6, b, 255), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x39, 0x00);
}

/* --- REPORT LUNS, REQUEST SENSE, missing LUs ----------------------------- */

Test(scsi, report_luns)
{
	uint8_t c[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0, 0 };
	uint8_t b[256];
	struct scsi_task t;

	cr_assert_eq(scsi_target_add_lu(&tgt, ram_lu(5, 1 << 20, false, 512)),
		     0);
	cr_assert_eq(scsi_target_add_lu(&tgt, ram_lu(1, 1 << 20, false, 512)),
		     0);
	cr_assert_eq(run(&t, disk, c, 12, b, 256), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 8 + 3 * 8);
	cr_assert_eq(get_be32(b), 24);
	cr_assert_eq(get_be64(b + 8), 0);
	cr_assert_eq(get_be64(b + 16), 0x0001000000000000ull);
	cr_assert_eq(get_be64(b + 24), 0x0005000000000000ull);

	/* well-known LUs only: none */
	c[2] = 0x01;
	cr_assert_eq(run(&t, disk, c, 12, b, 256), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 0);

	/* allocation length 16: truncated, list length still complete */
	c[2] = 0;
	put_be32(c + 6, 16);
	cr_assert_eq(run(&t, disk, c, 12, b, 16), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 16);
	cr_assert_eq(get_be32(b), 24);

	/* works without an LU at the addressed LUN */
	put_be32(c + 6, 256);
	cr_assert_eq(run(&t, NULL, c, 12, b, 256), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 24);

	/* removal shows */
	cr_assert_eq(scsi_target_remove_lu(&tgt, 1), 0);
	cr_assert_eq(scsi_target_remove_lu(&tgt, 1), -ENOENT);
	cr_assert_eq(run(&t, disk, c, 12, b, 256), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 16);
}

Test(scsi, missing_lu)
{
	uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
	uint8_t tur[6] = { 0 };
	uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	uint8_t rd[10];
	uint8_t b[96];
	struct scsi_task t;

	cr_assert_eq(run(&t, NULL, inq, 6, b, 96), SAM_STAT_GOOD);
	cr_assert_eq(b[0], 0x7f, "qualifier 3, type 1fh");
	cr_assert_eq(t.xfer_len, 96);

	cr_assert_eq(run(&t, NULL, tur, 6, NULL, 0), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x25, 0x00);
	cdb_rw10(rd, 0x28, 0, 1, 0);
	cr_assert_eq(run(&t, NULL, rd, 10, b, 512), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x25, 0x00);
	/* even an unknown opcode: the LUN is the problem */
	uint8_t bad[6] = { 0xc0 };
	cr_assert_eq(run(&t, NULL, bad, 6, NULL, 0), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x25, 0x00);

	/* REQUEST SENSE: GOOD, the data says LUN NOT SUPPORTED */
	cr_assert_eq(run(&t, NULL, rs, 6, b, 18), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 18);
	cr_assert_eq(b[0], 0x70);
	cr_assert_eq(b[2], 0x05);
	cr_assert_eq(b[12], 0x25);
}

Test(scsi, request_sense)
{
	uint8_t c[6] = { 0x03, 0, 0, 0, 252, 0 };
	uint8_t b[252];
	struct scsi_task t;

	cr_assert_eq(run(&t, disk, c, 6, b, 252), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 18);
	cr_assert_eq(b[0], 0x70);
	cr_assert_eq(b[2], 0x00, "NO SENSE");
	cr_assert_eq(b[7], 10);
	cr_assert_eq(b[12], 0);
	c[1] = 0x01;	/* descriptor format */
	cr_assert_eq(run(&t, disk, c, 6, b, 252), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 8);
	cr_assert_eq(b[0], 0x72);
}

/* SAM-5 §5.14: a LOGICAL UNIT RESET gives every nexus that used the LU one
 * UNIT ATTENTION 29/03; INQUIRY and REPORT LUNS neither report nor clear
 * it, REQUEST SENSE returns it as data. */
Test(scsi, lu_reset_unit_attention)
{
	static struct scsi_nexus other, late;
	uint8_t tur[6] = { 0 };
	uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
	uint8_t rs[6] = { 0x03, 0, 0, 0, 252, 0 };
	uint8_t rl[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	uint8_t rd[10], b[512];
	struct scsi_task t;

	memset(&other, 0, sizeof(other));
	memset(&late, 0, sizeof(late));
	other.target = late.target = &tgt;

	/* a nexus meeting the LU for the first time gets no UA */
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_GOOD);
	nexus_swap(&other);
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_GOOD);
	nexus_swap(NULL);

	scsi_lu_reset(disk);

	/* INQUIRY and REPORT LUNS go through and keep it pending */
	cr_assert_eq(run(&t, disk, inq, 6, b, 96), SAM_STAT_GOOD);
	cr_assert_eq(run(&t, disk, rl, 12, b, 256), SAM_STAT_GOOD);
	/* a READ fails with the UA, once, without executing */
	cdb_rw10(rd, 0x28, 0, 1, 0);
	cr_assert_eq(prep(&t, disk, rd, 10, 512), SENSE_UA_LU_RESET);
	assert_sense(&t, 0x6, 0x29, 0x03);
	cr_assert_eq(run(&t, disk, rd, 10, b, 512), SAM_STAT_GOOD);
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_GOOD);

	/* the other nexus gets its own UA, through REQUEST SENSE */
	nexus_swap(&other);
	cr_assert_eq(run(&t, disk, rs, 6, b, 252), SAM_STAT_GOOD);
	cr_assert_eq(b[2] & 0x0f, 0x6);
	cr_assert_eq(b[12], 0x29);
	cr_assert_eq(b[13], 0x03);
	cr_assert_eq(run(&t, disk, rs, 6, b, 252), SAM_STAT_GOOD);
	cr_assert_eq(b[2], 0x00, "cleared");
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_GOOD);

	/* a nexus that first uses the LU after the reset gets none */
	nexus_swap(&late);
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_GOOD);

	/* a second reset: a new UA for everybody that has used the LU */
	scsi_lu_reset(disk);
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x6, 0x29, 0x03);
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_GOOD);
	nexus_swap(NULL);
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_GOOD);
}

Test(scsi, target_reset_unit_attention)
{
	uint8_t tur[6] = { 0 };
	struct scsi_task t;

	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_GOOD);
	scsi_target_reset(&tgt);
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x6, 0x29, 0x03);
	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_GOOD);
}

/* An LU replaced at the same LUN is new to every nexus: no stale UA. */
Test(scsi, lu_reset_ua_replaced_lu)
{
	uint8_t tur[6] = { 0 };
	struct scsi_task t;
	struct scsi_lu *lu;

	cr_assert_eq(run(&t, disk, tur, 6, NULL, 0), SAM_STAT_GOOD);
	scsi_lu_reset(disk);
	cr_assert_eq(scsi_target_remove_lu(&tgt, 0), 0);
	lu = ram_lu(0, BLOCKS * 512ull, false, 512);
	cr_assert_eq(scsi_target_add_lu(&tgt, lu), 0);
	cr_assert_eq(run(&t, lu, tur, 6, NULL, 0), SAM_STAT_GOOD);
	scsi_lu_reset(lu);
	cr_assert_eq(run(&t, lu, tur, 6, NULL, 0), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x6, 0x29, 0x03);
	disk = lu;
}

Test(scsi, controller_lu)
{
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_CONTROLLER, .lun = 9, .target_name = TGT_NAME,
	};
	struct scsi_lu *ctl = scsi_lu_new(&cfg);
	uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
	uint8_t tur[6] = { 0 };
	uint8_t b[512];
	uint8_t c[16];
	struct scsi_task t;

	cr_assert_not_null(ctl);
	cr_assert_eq(run(&t, ctl, inq, 6, b, 96), SAM_STAT_GOOD);
	cr_assert_eq(b[0], 0x0c);
	cr_assert_arr_eq(b + 16, "CONTROLLER      ", 16);
	cr_assert_eq(run(&t, ctl, tur, 6, NULL, 0), SAM_STAT_GOOD);

	uint8_t v0[6] = { 0x12, 1, 0, 0, 255, 0 };
	cr_assert_eq(run(&t, ctl, v0, 6, b, 255), SAM_STAT_GOOD);
	cr_assert_eq(get_be16(b + 2), 3, "00 80 83");
	v0[2] = 0xb0;
	cr_assert_eq(run(&t, ctl, v0, 6, b, 255), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x24, 0x00);

	cdb_rw10(c, 0x28, 0, 1, 0);
	cr_assert_eq(run(&t, ctl, c, 10, b, 512), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x20, 0x00);
	uint8_t rc[10] = { 0x25 };
	cr_assert_eq(run(&t, ctl, rc, 10, b, 8), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x20, 0x00);
	uint8_t ms[6] = { 0x1a, 0, 0x3f, 0, 0xff, 0 };
	cr_assert_eq(run(&t, ctl, ms, 6, b, 255), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x20, 0x00);
	scsi_lu_put(ctl);
}

/* --- REPORT SUPPORTED OPERATION CODES ------------------------------------ */

Test(scsi, rsoc_all_and_one)
{
	uint8_t c[12] = { 0xa3, 0x0c, 0x00, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0 };
	uint8_t b[4096];
	struct scsi_task t;
	bool seen_rc16 = false, seen_read10 = false;

	cr_assert_eq(run(&t, disk, c, 12, b, 4096), SAM_STAT_GOOD);
	uint32_t len = get_be32(b);
	cr_assert_eq(len % 8, 0);
	cr_assert_eq(t.xfer_len, len + 4);
	for (uint32_t off = 4; off < len + 4; off += 8) {
		if (b[off] == 0x9e) {
			uint16_t sa = get_be16(b + off + 2);

			cr_assert(sa == 0x10 || sa == 0x12, "sa %x", sa);
			cr_assert_eq(b[off + 5] & 0x01, 1, "SERVACTV");
			seen_rc16 |= sa == 0x10;
		}
		if (b[off] == 0x28) {
			cr_assert_eq(get_be16(b + off + 6), 10);
			seen_read10 = true;
		}
	}
	cr_assert(seen_rc16 && seen_read10);

	/* one command: READ(10) with DPO/FUA in the usage data */
	c[2] = 0x01;
	c[3] = 0x28;
	cr_assert_eq(run(&t, disk, c, 12, b, 4096), SAM_STAT_GOOD);
	cr_assert_eq(b[1] & 0x07, 0x03, "supported");
	cr_assert_eq(get_be16(b + 2), 10);
	cr_assert_eq(b[4], 0x28);
	cr_assert_eq(b[5] & 0x18, 0x18);
	cr_assert_eq(t.xfer_len, 14);

	/* option 1 on an opcode with service actions */
	c[3] = 0x9e;
	cr_assert_eq(run(&t, disk, c, 12, b, 4096), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x24, 0x00);
	/* option 2 for it */
	c[2] = 0x02;
	put_be16(c + 4, 0x10);
	cr_assert_eq(run(&t, disk, c, 12, b, 4096), SAM_STAT_GOOD);
	cr_assert_eq(b[1] & 0x07, 0x03);
	cr_assert_eq(b[4], 0x9e);
	cr_assert_eq(b[5], 0x10);
	/* unsupported opcode */
	c[2] = 0x01;
	c[3] = 0xc0;
	cr_assert_eq(run(&t, disk, c, 12, b, 4096), SAM_STAT_GOOD);
	cr_assert_eq(b[1] & 0x07, 0x01, "not supported");
}

/* --- LUN encoding ---------------------------------------------------------- */

Test(scsi_lun, encode_decode)
{
	cr_assert_eq(scsi_lun_encode(0), 0);
	cr_assert_eq(scsi_lun_encode(5), 0x0005000000000000ull);
	cr_assert_eq(scsi_lun_encode(255), 0x00ff000000000000ull);
	cr_assert_eq(scsi_lun_encode(256), 0x4100000000000000ull);
	cr_assert_eq(scsi_lun_encode(0x3fff), 0x7fff000000000000ull);
	for (uint64_t l = 0; l < 0x4000; l++)
		cr_assert_eq(scsi_lun_decode(scsi_lun_encode(l)), l);
	cr_assert_eq(scsi_lun_decode(0x0105000000000000ull), UINT64_MAX,
		     "bus 1");
	cr_assert_eq(scsi_lun_decode(0x0005000100000000ull), UINT64_MAX,
		     "second level");
	cr_assert_eq(scsi_lun_decode(0xc000000000000000ull), UINT64_MAX,
		     "extended");
}

Test(scsi_lu, refcount_and_table)
{
	struct scsi_target t;
	struct scsi_lu *lu = ram_lu(4, 1 << 20, false, 512);
	struct scsi_lu *dup = ram_lu(4, 1 << 20, false, 512);
	struct scsi_lu *far = ram_lu(300, 1 << 20, false, 512);
	uint64_t luns[4];

	scsi_target_init(&t, "iqn.x");
	cr_assert_eq(scsi_target_add_lu(&t, lu), 0);
	cr_assert_eq(scsi_target_add_lu(&t, dup), -EEXIST);
	cr_assert_eq(scsi_target_add_lu(&t, far), -ERANGE);
	scsi_lu_put(dup);
	scsi_lu_put(far);

	struct scsi_lu *got = scsi_target_get_lu(&t, 4);
	cr_assert_eq(got, lu);
	cr_assert_null(scsi_target_get_lu(&t, 3));
	cr_assert_eq(scsi_target_list_luns(&t, luns, 4), 1);
	cr_assert_eq(luns[0], 4);
	/* removal drops the table's reference; ours keeps the LU alive */
	cr_assert_eq(scsi_target_remove_lu(&t, 4), 0);
	cr_assert_eq(scsi_lu_lun(got), 4);
	cr_assert_eq(scsi_lu_type(got), SCSI_LU_DISK);
	scsi_lu_put(got);
	scsi_target_destroy(&t);
}

Test(scsi_lu, config_validation)
{
	struct scsi_lu_config cfg = { .type = SCSI_LU_DISK, .lun = 0 };

	cr_assert_null(scsi_lu_new(&cfg), "disk without a store");
	cr_assert_eq(errno, EINVAL);
	struct bs_open_args a = { .size = 1 << 20 };
	cfg.bs = bs_open(&bs_ram_ops, NULL, &a);
	cfg.block_size = 1000;
	cr_assert_null(scsi_lu_new(&cfg), "block size");
	cfg.block_size = 512;
	cfg.serial = "has space";
	cr_assert_null(scsi_lu_new(&cfg), "serial");
	cfg.serial = NULL;
	struct scsi_lu *lu = scsi_lu_new(&cfg);
	cr_assert_not_null(lu, "caller still owned the store after failures");
	scsi_lu_put(lu);
}

/* --- short and failed store I/O (SBC-4 §4.18 medium errors) -------------- */

/*
 * A store that moves only part of a request: the rest is asked for again
 * and the command completes GOOD with exactly the stored bytes.
 */
Test(scsi, short_read_is_resumed)
{
	struct bs_ram_fault f = { .count = 3, .reads = true, .short_len = 700 };
	uint8_t c[10], w[4096], r[4096];
	struct scsi_task t;

	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 13 + 1);
	cdb_rw10(c, 0x2a, 40, 8, 0);
	cr_assert_eq(run(&t, disk, c, 10, w, 4096), SAM_STAT_GOOD);
	bs_ram_fault(scsi_lu_bs(disk), &f);
	memset(r, 0xee, sizeof(r));
	cdb_rw10(c, 0x28, 40, 8, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 4096), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 4096u);
	cr_assert_arr_eq(r, w, 4096);
}

Test(scsi, short_write_is_resumed)
{
	struct bs_ram_fault f = { .count = 2, .writes = true, .short_len = 512 };
	uint8_t c[10], w[4096], r[4096];
	struct scsi_task t;

	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 5 + 9);
	bs_ram_fault(scsi_lu_bs(disk), &f);
	cdb_rw10(c, 0x2a, 80, 8, 0);
	cr_assert_eq(run(&t, disk, c, 10, w, 4096), SAM_STAT_GOOD);
	cdb_rw10(c, 0x28, 80, 8, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 4096), SAM_STAT_GOOD);
	cr_assert_arr_eq(r, w, 4096);
}

/* A read that moves nothing (end of a shrunk file): MEDIUM ERROR, no data. */
Test(scsi, read_that_moves_nothing_is_a_medium_error)
{
	struct bs_ram_fault f = { .count = 100, .reads = true, .short_len = 0 };
	uint8_t c[10], r[4096];
	struct scsi_task t;

	bs_ram_fault(scsi_lu_bs(disk), &f);
	cdb_rw10(c, 0x28, 0, 8, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 4096), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x03, 0x11, 0x00);	/* UNRECOVERED READ ERROR */
	cr_assert_eq(t.xfer_len, 0u);
}

Test(scsi, write_errors_map_to_sense)
{
	static const struct {
		int err;
		uint8_t key, asc, ascq;
	} cases[] = {
		{ EIO, 0x03, 0x0c, 0x00 },	/* MEDIUM ERROR, WRITE ERROR */
		{ ENOSPC, 0x07, 0x27, 0x07 },	/* DATA PROTECT, SPACE ALLOC FAILED */
	};
	uint8_t c[10], w[4096] = { 1 };
	struct scsi_task t;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct bs_ram_fault f = { .count = 1, .writes = true,
					  .err = cases[i].err };

		bs_ram_fault(scsi_lu_bs(disk), &f);
		cdb_rw10(c, 0x2a, 8, 8, 0);
		cr_assert_eq(run(&t, disk, c, 10, w, 4096),
			     SAM_STAT_CHECK_CONDITION);
		assert_sense(&t, cases[i].key, cases[i].asc, cases[i].ascq);
	}
	{
		struct bs_ram_fault f = { .count = 1, .reads = true, .err = EIO };

		bs_ram_fault(scsi_lu_bs(disk), &f);
		cdb_rw10(c, 0x28, 8, 8, 0);
		cr_assert_eq(run(&t, disk, c, 10, w, 4096),
			     SAM_STAT_CHECK_CONDITION);
		assert_sense(&t, 0x03, 0x11, 0x00);
		cr_assert_eq(t.xfer_len, 0u);
	}
}

/*
 * scsi_lu_stall(): while aborted I/O is in flight after a timed-out task
 * management function, commands get NOT READY; INQUIRY still answers;
 * once the aborted I/O completes the LU serves again.
 */
Test(scsi, stalled_lu_is_not_ready_until_aborted_io_completes)
{
	uint8_t c[10], w[4096] = { 7 }, inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	uint8_t ib[36];
	struct scsi_task held, t;

	bs_ram_hold(scsi_lu_bs(disk), true);
	cdb_rw10(c, 0x2a, 8, 8, 0);
	cr_assert_eq(prep(&held, disk, c, 10, 4096), SENSE_NONE);
	held.buf = w;
	held.buf_len = 4096;
	scsi_task_exec(&held);
	cr_assert_eq(bs_ram_held(scsi_lu_bs(disk)), 1);
	scsi_task_abort(&held);
	cr_assert_eq(scsi_lu_aborted_inflight(disk), 1u);
	scsi_lu_stall(disk);

	cdb_rw10(c, 0x28, 8, 8, 0);
	cr_assert_eq(run(&t, disk, c, 10, w, 4096), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x02, 0x04, 0x00);
	cr_assert_eq(run(&t, disk, inq, 6, ib, 36), SAM_STAT_GOOD);

	bs_ram_hold(scsi_lu_bs(disk), false);
	cr_assert_eq(bs_ram_release(scsi_lu_bs(disk)), 1);
	cr_assert_eq(scsi_lu_aborted_inflight(disk), 0u);
	cr_assert_eq(run(&t, disk, c, 10, w, 4096), SAM_STAT_GOOD);

	/* with nothing aborted in flight, a stall has no effect */
	scsi_lu_stall(disk);
	cr_assert_eq(run(&t, disk, c, 10, w, 4096), SAM_STAT_GOOD);
}

/*
 * Control mode page (SPC-4 §7.5.8): TST=001b (a task set per I_T nexus,
 * which is how task management scopes ABORT/CLEAR TASK SET) and TAS as
 * configured per LU.
 */
Test(scsi, control_page_tst_and_tas)
{
	uint8_t ms[6] = { 0x1a, 0x08, 0x0a, 0, 0xff, 0 }, b[255];
	struct scsi_lu *with_tas;
	struct scsi_task t;
	struct bs_open_args a = { .size = 1 << 20 };
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 7, .block_size = 512,
		.target_name = TGT_NAME, .tas = false,
	};

	cr_assert_eq(run(&t, disk, ms, 6, b, sizeof(b)), SAM_STAT_GOOD);
	/* header (4) then the page: code 0x0a, length 10 */
	cr_assert_eq(b[4] & 0x3f, 0x0a);
	cr_assert_eq(b[4 + 2] >> 5, 1, "TST 0x%x", b[4 + 2] >> 5);
	cr_assert_eq(b[4 + 5] & 0x40, 0x00, "ram_lu() makes TAS=0");

	cfg.bs = bs_open(&bs_ram_ops, NULL, &a);
	cfg.tas = true;
	with_tas = scsi_lu_new(&cfg);
	cr_assert_not_null(with_tas);
	cr_assert_eq(run(&t, with_tas, ms, 6, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(b[4 + 5] & 0x40, 0x40, "TAS=1 not reported");
	scsi_lu_put(with_tas);
}

/* REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-4 §6.36). */
Test(scsi, report_supported_tmfs)
{
	uint8_t c[12] = { 0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0 };
	uint8_t b[16];
	struct scsi_task t;

	nexus.tmf_supported = SCSI_TMF_ATS | SCSI_TMF_LURS | SCSI_TMF_QAES;
	memset(b, 0xee, sizeof(b));
	cr_assert_eq(run(&t, disk, c, 12, b, 4), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 4u);
	cr_assert_eq(b[0], 0x88);
	cr_assert_eq(b[1], 0x04);
	cr_assert_eq(b[3], 0x00);
	/* REPD: the 16-byte form, ADDITIONAL DATA LENGTH 0Ch */
	c[2] = 0x80;
	c[9] = 16;
	cr_assert_eq(run(&t, disk, c, 12, b, 16), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 16u);
	cr_assert_eq(b[0], 0x88);
	cr_assert_eq(b[3], 0x0c);
	/* allocation length below 4: INVALID FIELD IN CDB */
	c[9] = 3;
	cr_assert_eq(run(&t, disk, c, 12, b, 3), SAM_STAT_CHECK_CONDITION);
	assert_sense(&t, 0x5, 0x24, 0x00);
	/* listed by REPORT SUPPORTED OPERATION CODES (one-command form) */
	{
		uint8_t rs[12] = { 0xa3, 0x0c, 0x02, 0xa3, 0, 0x0d, 0, 0, 0, 64 };
		uint8_t d[64];

		cr_assert_eq(run(&t, disk, rs, 12, d, 64), SAM_STAT_GOOD);
		cr_assert_eq(d[1] & 0x07, 0x03, "SUPPORT %u", d[1] & 7);
	}
}

/* Starts a one-block WRITE(10) of @fill at @lba on disk; the store may hold it. */
static void write_start(struct scsi_task *t, uint8_t *buf, uint32_t lba,
			uint8_t fill)
{
	uint8_t c[10];

	memset(buf, fill, 512);
	cdb_rw10(c, 0x2a, lba, 1, 0);
	cr_assert_eq(prep(t, disk, c, 10, 512), SENSE_NONE);
	t->buf = buf;
	t->buf_len = 512;
	scsi_task_exec(t);
}

/*
 * SBC-4 §5.3: COMPARE AND WRITE is atomic against every write, not only
 * other CAWs. With a WRITE in the store, a CAW waits for it (its read
 * does not start), and a WRITE that arrives while the CAW runs waits for
 * the CAW. So the CAW compares with the first write's data, and the
 * second write is what stays. An aborted waiting write writes nothing.
 */
Test(scsi, compare_and_write_atomic_against_writes)
{
	struct bs *bs = scsi_lu_bs(disk);
	uint8_t w1[512], w2[512], d[1024], r[512], c[16];
	struct scsi_task t1, t2, tc, t;

	write_start(&t, w1, 50, 'A');
	cr_assert_eq(t.status, SAM_STAT_GOOD);
	bs_ram_hold(bs, true);
	write_start(&t1, w1, 50, 'B');
	memset(d, 'B', 512);
	memset(d + 512, 'C', 512);
	cdb_caw(c, 50, 1, 0);
	cr_assert_eq(prep(&tc, disk, c, 16, 1024), SENSE_NONE);
	tc.buf = d;
	tc.buf_len = 1024;
	scsi_task_exec(&tc);
	write_start(&t2, w2, 50, 'D');
	cr_assert_eq(bs_ram_held(bs), 1, "the CAW or the later write started "
		     "beside a write in flight (%d held)", bs_ram_held(bs));
	bs_ram_hold(bs, false);
	cr_assert_eq(bs_ram_release(bs), 1);
	cr_assert_eq(done_calls, 4);
	cr_assert_eq(t1.status, SAM_STAT_GOOD);
	cr_assert_eq(tc.status, SAM_STAT_GOOD, "CAW did not see the first write");
	cr_assert_eq(t2.status, SAM_STAT_GOOD);
	cdb_rw10(c, 0x28, 50, 1, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 512), SAM_STAT_GOOD);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(r[i], 'D', "byte %d is %c", i, r[i]);

	/* a write aborted while it waits for the CAW writes nothing */
	bs_ram_hold(bs, true);
	memset(d, 'D', 512);
	memset(d + 512, 'E', 512);
	cdb_caw(c, 50, 1, 0);
	cr_assert_eq(prep(&tc, disk, c, 16, 1024), SENSE_NONE);
	tc.buf = d;
	tc.buf_len = 1024;
	scsi_task_exec(&tc);		/* its read is held */
	write_start(&t2, w2, 50, 'F');
	scsi_task_abort(&t2);
	cr_assert_eq(bs_ram_held(bs), 1);
	bs_ram_hold(bs, false);
	cr_assert_eq(bs_ram_release(bs), 1);
	cr_assert_eq(tc.status, SAM_STAT_GOOD);
	cr_assert_eq(t2.status, SAM_STAT_CHECK_CONDITION);
	cdb_rw10(c, 0x28, 50, 1, 0);
	cr_assert_eq(run(&t, disk, c, 10, r, 512), SAM_STAT_GOOD);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(r[i], 'E', "byte %d is %c", i, r[i]);
}
