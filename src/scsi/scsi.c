/*
 * scsi.c - command dispatch: the opcode table, scsi_task_prepare() (decode
 * and validate, no side effects) and scsi_task_exec() (run, complete
 * through t->done), plus SAM-5 LUN encoding.
 *
 * The table has one row per supported opcode, by designated initializer;
 * a missing row is INVALID COMMAND OPERATION CODE, and the same rows
 * answer REPORT SUPPORTED OPERATION CODES (spc.c).
 */
#include <stdlib.h>
#include <string.h>

#include "scsi/scsi_internal.h"

#define CTL 0x04 /* control byte: we look at NACA (and reject it) */
/* Allowed through a port in either inaccessible ALUA state */
#define OPF_ALUA_ANY (OPF_ALUA_STANDBY | OPF_ALUA_UNAVAILABLE)

static const struct scsi_opdesc sai16_ops[] = {
	{ .opcode = SERVICE_ACTION_IN_16, .sa = SAI_READ_CAPACITY_16,
	  .has_sa = true, .cdb_len = 16, .flags = OPF_DISK | OPF_PR_ALLOW,
	  .name = "READ CAPACITY(16)",
	  .parse = sbc_parse_read_capacity16, .exec = sbc_read_capacity16,
	  .usage = { SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 0, 0, 0, 0,
		     0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, CTL } },
	{ .opcode = SERVICE_ACTION_IN_16, .sa = SAI_GET_LBA_STATUS,
	  .has_sa = true, .cdb_len = 16, .flags = OPF_DISK | OPF_PR_READ,
	  .name = "GET LBA STATUS",
	  .parse = sbc_parse_get_lba_status, .exec = sbc_get_lba_status,
	  .usage = { SERVICE_ACTION_IN_16, SAI_GET_LBA_STATUS, 0xff, 0xff,
		     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		     0xff, 0, CTL } },
};

static const struct scsi_opdesc maint_in_ops[] = {
	{ .opcode = MAINTENANCE_IN, .sa = MI_REPORT_SUPPORTED_OPCODES,
	  .has_sa = true, .cdb_len = 12,
	  .flags = OPF_CTRL | OPF_DISK | OPF_PR_ALLOW | OPF_RES_OK,
	  .name = "REPORT SUPPORTED OPERATION CODES",
	  .parse = spc_parse_rsoc, .exec = spc_rsoc,
	  .usage = { MAINTENANCE_IN, MI_REPORT_SUPPORTED_OPCODES, 0x87, 0xff,
		     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, CTL } },
	{ .opcode = MAINTENANCE_IN, .sa = MI_REPORT_SUPPORTED_TMFS,
	  .has_sa = true, .cdb_len = 12,
	  .flags = OPF_CTRL | OPF_DISK | OPF_PR_ALLOW | OPF_RES_OK,
	  .name = "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS",
	  .parse = spc_parse_rstmf, .exec = spc_rstmf,
	  .usage = { MAINTENANCE_IN, MI_REPORT_SUPPORTED_TMFS, 0x80, 0, 0, 0,
		     0xff, 0xff, 0xff, 0xff, 0, CTL } },
	{ .opcode = MAINTENANCE_IN, .sa = MI_REPORT_TPGS,
	  .has_sa = true, .cdb_len = 12,
	  .flags = OPF_CTRL | OPF_DISK | OPF_ALUA_ANY | OPF_PR_ALLOW |
		   OPF_RES_OK,
	  .name = "REPORT TARGET PORT GROUPS",
	  .parse = spc_parse_rtpg, .exec = spc_rtpg,
	  .usage = { MAINTENANCE_IN, 0xe0 | MI_REPORT_TPGS, 0, 0, 0, 0,
		     0xff, 0xff, 0xff, 0xff, 0, CTL } },
};

static const struct scsi_opdesc maint_out_ops[] = {
	{ .opcode = MAINTENANCE_OUT, .sa = MO_SET_TPGS,
	  .has_sa = true, .cdb_len = 12,
	  .flags = OPF_CTRL | OPF_DISK | OPF_ALUA_ANY,
	  .name = "SET TARGET PORT GROUPS",
	  .parse = spc_parse_stpg, .exec = spc_stpg,
	  .usage = { MAINTENANCE_OUT, MO_SET_TPGS, 0, 0, 0, 0,
		     0xff, 0xff, 0xff, 0xff, 0, CTL } },
};

/*
 * SPC-4 §6.15, §6.16; allowed under every reservation (table 46) and
 * through a port in standby (§5.15.2.4.4), not an unavailable one
 */
#define PR_IN_ROW(sa_, name_) \
	{ .opcode = PERSISTENT_RESERVE_IN, .sa = sa_, .has_sa = true, \
	  .cdb_len = 10, .flags = OPF_DISK | OPF_PR_ALLOW | OPF_ALUA_STANDBY, \
	  .name = name_, .parse = pr_parse_in, .exec = pr_in, \
	  .usage = { PERSISTENT_RESERVE_IN, sa_, 0, 0, 0, 0, 0, 0xff, 0xff, \
		     CTL } }
#define PR_OUT_ROW(sa_, name_) \
	{ .opcode = PERSISTENT_RESERVE_OUT, .sa = sa_, .has_sa = true, \
	  .cdb_len = 10, .flags = OPF_DISK | OPF_PR_ALLOW | OPF_ALUA_STANDBY, \
	  .name = name_, .parse = pr_parse_out, .exec = pr_out, \
	  .usage = { PERSISTENT_RESERVE_OUT, sa_, 0xff, 0, 0, 0xff, 0xff, \
		     0xff, 0xff, CTL } }

static const struct scsi_opdesc pr_in_ops[] = {
	PR_IN_ROW(PRI_READ_KEYS, "PERSISTENT RESERVE IN READ KEYS"),
	PR_IN_ROW(PRI_READ_RESERVATION, "PERSISTENT RESERVE IN READ RESERVATION"),
	PR_IN_ROW(PRI_REPORT_CAPABILITIES,
		  "PERSISTENT RESERVE IN REPORT CAPABILITIES"),
	PR_IN_ROW(PRI_READ_FULL_STATUS, "PERSISTENT RESERVE IN READ FULL STATUS"),
};

static const struct scsi_opdesc pr_out_ops[] = {
	PR_OUT_ROW(PRO_REGISTER, "PERSISTENT RESERVE OUT REGISTER"),
	PR_OUT_ROW(PRO_RESERVE, "PERSISTENT RESERVE OUT RESERVE"),
	PR_OUT_ROW(PRO_RELEASE, "PERSISTENT RESERVE OUT RELEASE"),
	PR_OUT_ROW(PRO_CLEAR, "PERSISTENT RESERVE OUT CLEAR"),
	PR_OUT_ROW(PRO_PREEMPT, "PERSISTENT RESERVE OUT PREEMPT"),
	PR_OUT_ROW(PRO_PREEMPT_ABORT,
		   "PERSISTENT RESERVE OUT PREEMPT AND ABORT"),
	PR_OUT_ROW(PRO_REGISTER_IGNORE,
		   "PERSISTENT RESERVE OUT REGISTER AND IGNORE EXISTING KEY"),
	PR_OUT_ROW(PRO_REGISTER_MOVE, "PERSISTENT RESERVE OUT REGISTER AND MOVE"),
};

/* READ/WRITE byte 1: RDPROTECT/WRPROTECT, DPO, FUA, FUA_NV */
#define RW_FLAGS 0xfa
/* byte 1 of VERIFY (DPO, BYTCHK), WRITE AND VERIFY (DPO, BYTCHK),
 * WRITE SAME (UNMAP; NDOB for 16), COMPARE AND WRITE (DPO, FUA) */
#define VFY_FLAGS 0x16
#define WRV_FLAGS 0x12
#define CAW_FLAGS 0x18

static const struct scsi_opdesc scsi_ops[256] = {
	[TEST_UNIT_READY] = {
		.opcode = TEST_UNIT_READY, .cdb_len = 6,
		.flags = OPF_CTRL | OPF_DISK | OPF_PR_ALLOW, .name = "TEST UNIT READY",
		.exec = spc_test_unit_ready,
		.usage = { TEST_UNIT_READY, 0, 0, 0, 0, CTL } },
	[REQUEST_SENSE] = {
		.opcode = REQUEST_SENSE, .cdb_len = 6,
		.flags = OPF_ANY | OPF_NO_UA | OPF_ALUA_ANY | OPF_PR_ALLOW | OPF_RES_OK,
		.name = "REQUEST SENSE",
		.parse = spc_parse_request_sense, .exec = spc_request_sense,
		.usage = { REQUEST_SENSE, 0x01, 0, 0, 0xff, CTL } },
	[READ_6] = {
		.opcode = READ_6, .cdb_len = 6, .flags = OPF_DISK | OPF_PR_READ,
		.name = "READ(6)", .parse = sbc_parse_rw6, .exec = sbc_rw,
		.usage = { READ_6, 0x1f, 0xff, 0xff, 0xff, CTL } },
	[WRITE_6] = {
		.opcode = WRITE_6, .cdb_len = 6, .flags = OPF_DISK | OPF_WRITES,
		.name = "WRITE(6)", .parse = sbc_parse_rw6, .exec = sbc_rw,
		.usage = { WRITE_6, 0x1f, 0xff, 0xff, 0xff, CTL } },
	[INQUIRY] = {
		.opcode = INQUIRY, .cdb_len = 6,
		.flags = OPF_ANY | OPF_NO_UA | OPF_ALUA_ANY | OPF_PR_ALLOW | OPF_RES_OK,
		.name = "INQUIRY",
		.parse = spc_parse_inquiry, .exec = spc_inquiry,
		.usage = { INQUIRY, 0x01, 0xff, 0xff, 0xff, CTL } },
	[RESERVE_6] = {
		.opcode = RESERVE_6, .cdb_len = 6, .flags = OPF_CTRL | OPF_DISK,
		.name = "RESERVE(6)",
		.parse = spc_parse_reserve, .exec = spc_reserve,
		.usage = { RESERVE_6, 0, 0, 0, 0, CTL } },
	[RELEASE_6] = {
		.opcode = RELEASE_6, .cdb_len = 6,
		.flags = OPF_CTRL | OPF_DISK | OPF_RES_OK,
		.name = "RELEASE(6)",
		.parse = spc_parse_reserve, .exec = spc_release,
		.usage = { RELEASE_6, 0, 0, 0, 0, CTL } },
	[MODE_SENSE_6] = {
		.opcode = MODE_SENSE_6, .cdb_len = 6,
		.flags = OPF_DISK | OPF_ALUA_STANDBY | OPF_PR_READ,
		.name = "MODE SENSE(6)",
		.parse = spc_parse_mode_sense, .exec = spc_mode_sense,
		.usage = { MODE_SENSE_6, 0x08, 0xff, 0xff, 0xff, CTL } },
	[READ_CAPACITY_10] = {
		.opcode = READ_CAPACITY_10, .cdb_len = 10, .flags = OPF_DISK | OPF_PR_ALLOW,
		.name = "READ CAPACITY(10)",
		.parse = sbc_parse_read_capacity10,
		.exec = sbc_read_capacity10,
		.usage = { READ_CAPACITY_10, 0, 0xff, 0xff, 0xff, 0xff, 0, 0,
			   0x01, CTL } },
	[READ_10] = {
		.opcode = READ_10, .cdb_len = 10, .flags = OPF_DISK | OPF_PR_READ,
		.name = "READ(10)", .parse = sbc_parse_rw10, .exec = sbc_rw,
		.usage = { READ_10, RW_FLAGS, 0xff, 0xff, 0xff, 0xff, 0,
			   0xff, 0xff, CTL } },
	[WRITE_10] = {
		.opcode = WRITE_10, .cdb_len = 10, .flags = OPF_DISK | OPF_WRITES,
		.name = "WRITE(10)", .parse = sbc_parse_rw10, .exec = sbc_rw,
		.usage = { WRITE_10, RW_FLAGS, 0xff, 0xff, 0xff, 0xff, 0,
			   0xff, 0xff, CTL } },
	[WRITE_VERIFY_10] = {
		.opcode = WRITE_VERIFY_10, .cdb_len = 10, .flags = OPF_DISK | OPF_WRITES,
		.name = "WRITE AND VERIFY(10)",
		.parse = sbc_parse_write_verify, .exec = sbc_write_verify,
		.usage = { WRITE_VERIFY_10, WRV_FLAGS, 0xff, 0xff, 0xff, 0xff,
			   0, 0xff, 0xff, CTL } },
	[VERIFY_10] = {
		.opcode = VERIFY_10, .cdb_len = 10, .flags = OPF_DISK | OPF_PR_READ,
		.name = "VERIFY(10)",
		.parse = sbc_parse_verify, .exec = sbc_verify,
		.usage = { VERIFY_10, VFY_FLAGS, 0xff, 0xff, 0xff, 0xff, 0,
			   0xff, 0xff, CTL } },
	[PRE_FETCH_10] = {
		.opcode = PRE_FETCH_10, .cdb_len = 10, .flags = OPF_DISK | OPF_PR_READ,
		.name = "PRE-FETCH(10)",
		.parse = sbc_parse_prefetch10, .exec = sbc_prefetch,
		.usage = { PRE_FETCH_10, 0x02, 0xff, 0xff, 0xff, 0xff, 0,
			   0xff, 0xff, CTL } },
	[SYNCHRONIZE_CACHE_10] = {
		.opcode = SYNCHRONIZE_CACHE_10, .cdb_len = 10,
		.flags = OPF_DISK, .name = "SYNCHRONIZE CACHE(10)",
		.parse = sbc_parse_sync_cache10, .exec = sbc_sync_cache,
		.usage = { SYNCHRONIZE_CACHE_10, 0x02, 0xff, 0xff, 0xff, 0xff,
			   0, 0xff, 0xff, CTL } },
	[WRITE_SAME_10] = {
		.opcode = WRITE_SAME_10, .cdb_len = 10, .flags = OPF_DISK | OPF_WRITES,
		.name = "WRITE SAME(10)",
		.parse = sbc_parse_write_same, .exec = sbc_write_same,
		.usage = { WRITE_SAME_10, 0x08, 0xff, 0xff, 0xff, 0xff, 0,
			   0xff, 0xff, CTL } },
	[UNMAP] = {
		.opcode = UNMAP, .cdb_len = 10, .flags = OPF_DISK | OPF_WRITES,
		.name = "UNMAP", .parse = sbc_parse_unmap, .exec = sbc_unmap,
		.usage = { UNMAP, 0x01, 0, 0, 0, 0, 0, 0xff, 0xff, CTL } },
	[RESERVE_10] = {
		.opcode = RESERVE_10, .cdb_len = 10, .flags = OPF_CTRL | OPF_DISK,
		.name = "RESERVE(10)",
		.parse = spc_parse_reserve, .exec = spc_reserve,
		.usage = { RESERVE_10, 0, 0, 0, 0, 0, 0, 0, 0, CTL } },
	[RELEASE_10] = {
		.opcode = RELEASE_10, .cdb_len = 10,
		.flags = OPF_CTRL | OPF_DISK | OPF_RES_OK,
		.name = "RELEASE(10)",
		.parse = spc_parse_reserve, .exec = spc_release,
		.usage = { RELEASE_10, 0, 0, 0, 0, 0, 0, 0, 0, CTL } },
	[MODE_SENSE_10] = {
		.opcode = MODE_SENSE_10, .cdb_len = 10,
		.flags = OPF_DISK | OPF_ALUA_STANDBY | OPF_PR_READ,
		.name = "MODE SENSE(10)",
		.parse = spc_parse_mode_sense, .exec = spc_mode_sense,
		.usage = { MODE_SENSE_10, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff,
			   CTL } },
	[PERSISTENT_RESERVE_IN] = {
		.opcode = PERSISTENT_RESERVE_IN, .cdb_len = 10,
		.flags = OPF_DISK, .name = "PERSISTENT RESERVE IN",
		.sa_ops = pr_in_ops, .n_sa = ARRAY_SIZE(pr_in_ops) },
	[PERSISTENT_RESERVE_OUT] = {
		.opcode = PERSISTENT_RESERVE_OUT, .cdb_len = 10,
		.flags = OPF_DISK, .name = "PERSISTENT RESERVE OUT",
		.sa_ops = pr_out_ops, .n_sa = ARRAY_SIZE(pr_out_ops) },
	[READ_16] = {
		.opcode = READ_16, .cdb_len = 16, .flags = OPF_DISK | OPF_PR_READ,
		.name = "READ(16)", .parse = sbc_parse_rw16, .exec = sbc_rw,
		.usage = { READ_16, RW_FLAGS, 0xff, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, CTL } },
	[COMPARE_AND_WRITE] = {
		.opcode = COMPARE_AND_WRITE, .cdb_len = 16, .flags = OPF_DISK,
		.name = "COMPARE AND WRITE",
		.parse = sbc_parse_caw, .exec = sbc_caw,
		.usage = { COMPARE_AND_WRITE, CAW_FLAGS, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0, CTL } },
	[WRITE_16] = {
		.opcode = WRITE_16, .cdb_len = 16, .flags = OPF_DISK | OPF_WRITES,
		.name = "WRITE(16)", .parse = sbc_parse_rw16, .exec = sbc_rw,
		.usage = { WRITE_16, RW_FLAGS, 0xff, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, CTL } },
	[WRITE_VERIFY_16] = {
		.opcode = WRITE_VERIFY_16, .cdb_len = 16, .flags = OPF_DISK | OPF_WRITES,
		.name = "WRITE AND VERIFY(16)",
		.parse = sbc_parse_write_verify, .exec = sbc_write_verify,
		.usage = { WRITE_VERIFY_16, WRV_FLAGS, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
			   CTL } },
	[VERIFY_16] = {
		.opcode = VERIFY_16, .cdb_len = 16, .flags = OPF_DISK | OPF_PR_READ,
		.name = "VERIFY(16)",
		.parse = sbc_parse_verify, .exec = sbc_verify,
		.usage = { VERIFY_16, VFY_FLAGS, 0xff, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, CTL } },
	[PRE_FETCH_16] = {
		.opcode = PRE_FETCH_16, .cdb_len = 16, .flags = OPF_DISK | OPF_PR_READ,
		.name = "PRE-FETCH(16)",
		.parse = sbc_parse_prefetch16, .exec = sbc_prefetch,
		.usage = { PRE_FETCH_16, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, CTL } },
	[SYNCHRONIZE_CACHE_16] = {
		.opcode = SYNCHRONIZE_CACHE_16, .cdb_len = 16,
		.flags = OPF_DISK, .name = "SYNCHRONIZE CACHE(16)",
		.parse = sbc_parse_sync_cache16, .exec = sbc_sync_cache,
		.usage = { SYNCHRONIZE_CACHE_16, 0x02, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
			   CTL } },
	[WRITE_SAME_16] = {
		.opcode = WRITE_SAME_16, .cdb_len = 16, .flags = OPF_DISK | OPF_WRITES,
		.name = "WRITE SAME(16)",
		.parse = sbc_parse_write_same, .exec = sbc_write_same,
		.usage = { WRITE_SAME_16, 0x09, 0xff, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, CTL } },
	[SERVICE_ACTION_IN_16] = {
		.opcode = SERVICE_ACTION_IN_16, .cdb_len = 16,
		.flags = OPF_DISK, .name = "SERVICE ACTION IN(16)",
		.sa_ops = sai16_ops, .n_sa = ARRAY_SIZE(sai16_ops) },
	[REPORT_LUNS] = {
		.opcode = REPORT_LUNS, .cdb_len = 12,
		.flags = OPF_ANY | OPF_NO_UA | OPF_ALUA_ANY | OPF_PR_ALLOW | OPF_RES_OK,
		.name = "REPORT LUNS",
		.parse = spc_parse_report_luns, .exec = spc_report_luns,
		.usage = { REPORT_LUNS, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff,
			   0xff, 0, CTL } },
	[MAINTENANCE_IN] = {
		.opcode = MAINTENANCE_IN, .cdb_len = 12,
		.flags = OPF_CTRL | OPF_DISK, .name = "MAINTENANCE IN",
		.sa_ops = maint_in_ops, .n_sa = ARRAY_SIZE(maint_in_ops) },
	[MAINTENANCE_OUT] = {
		.opcode = MAINTENANCE_OUT, .cdb_len = 12,
		.flags = OPF_CTRL | OPF_DISK, .name = "MAINTENANCE OUT",
		.sa_ops = maint_out_ops, .n_sa = ARRAY_SIZE(maint_out_ops) },
	[READ_12] = {
		.opcode = READ_12, .cdb_len = 12, .flags = OPF_DISK | OPF_PR_READ,
		.name = "READ(12)", .parse = sbc_parse_rw12, .exec = sbc_rw,
		.usage = { READ_12, RW_FLAGS, 0xff, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0, CTL } },
	[WRITE_12] = {
		.opcode = WRITE_12, .cdb_len = 12, .flags = OPF_DISK | OPF_WRITES,
		.name = "WRITE(12)", .parse = sbc_parse_rw12, .exec = sbc_rw,
		.usage = { WRITE_12, RW_FLAGS, 0xff, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0, CTL } },
	[WRITE_VERIFY_12] = {
		.opcode = WRITE_VERIFY_12, .cdb_len = 12, .flags = OPF_DISK | OPF_WRITES,
		.name = "WRITE AND VERIFY(12)",
		.parse = sbc_parse_write_verify, .exec = sbc_write_verify,
		.usage = { WRITE_VERIFY_12, WRV_FLAGS, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0xff, 0, CTL } },
	[VERIFY_12] = {
		.opcode = VERIFY_12, .cdb_len = 12, .flags = OPF_DISK | OPF_PR_READ,
		.name = "VERIFY(12)",
		.parse = sbc_parse_verify, .exec = sbc_verify,
		.usage = { VERIFY_12, VFY_FLAGS, 0xff, 0xff, 0xff, 0xff, 0xff,
			   0xff, 0xff, 0xff, 0, CTL } },
};

const struct scsi_opdesc *scsi_opdesc_row(uint8_t opcode)
{
	return scsi_ops[opcode].cdb_len ? &scsi_ops[opcode] : NULL;
}

const struct scsi_opdesc *scsi_opdesc_find(uint8_t opcode, uint16_t sa)
{
	const struct scsi_opdesc *row = &scsi_ops[opcode];

	if (!row->cdb_len)
		return NULL;
	if (!row->sa_ops)
		return row;
	for (unsigned i = 0; i < row->n_sa; i++)
		if (row->sa_ops[i].sa == sa)
			return &row->sa_ops[i];
	return NULL;
}

void scsi_opdesc_foreach(void (*fn)(const struct scsi_opdesc *d, void *arg),
			 void *arg)
{
	for (unsigned op = 0; op < ARRAY_SIZE(scsi_ops); op++) {
		const struct scsi_opdesc *row = &scsi_ops[op];

		if (!row->cdb_len)
			continue;
		if (!row->sa_ops) {
			fn(row, arg);
			continue;
		}
		for (unsigned i = 0; i < row->n_sa; i++)
			fn(&row->sa_ops[i], arg);
	}
}

bool scsi_opdesc_allowed(const struct scsi_opdesc *d,
			 const struct scsi_lu *lu)
{
	if (!lu)
		return d->flags & OPF_NO_LU;
	if (lu->type == SCSI_LU_CONTROLLER)
		return d->flags & OPF_CTRL;
	return d->flags & OPF_DISK;
}

enum sense_reason scsi_task_prepare(struct scsi_task *t)
{
	const struct scsi_opdesc *row = &scsi_ops[t->cdb[0]];
	const struct scsi_opdesc *op = NULL;
	enum sense_reason reason = SENSE_NONE;

	t->dir = SCSI_DIR_NONE;
	t->data_len = 0;
	t->op = NULL;
	t->lba = 0;
	t->nblocks = 0;
	t->fua = 0;
	t->status = SAM_STAT_GOOD;
	t->sense_len = 0;
	t->xfer_len = 0;
	t->step = 0;
	t->pos = 0;
	t->scratch = NULL;	/* freed by the last scsi_task_complete() */
	t->caw_next = NULL;

	if (row->cdb_len)
		op = row->sa_ops ? scsi_opdesc_find(t->cdb[0], t->cdb[1] & 0x1f)
				 : row;

	/* SPC-4 §8.2: without an LU only a few commands make sense. */
	if (!t->lu && !(op && (op->flags & OPF_NO_LU))) {
		reason = SENSE_LUN_NOT_SUPPORTED;
		goto fail;
	}
	/* For service action opcodes the row's flags cover all actions. */
	if (!row->cdb_len || !scsi_opdesc_allowed(row, t->lu)) {
		reason = SENSE_INVALID_OPCODE;
		goto fail;
	}
	if (!op) {	/* unknown service action: SPC-4 §4.3.4 */
		reason = scsi_invalid_field(t, true, 1, 4);
		goto fail;
	}
	if (!scsi_opdesc_allowed(op, t->lu)) {
		reason = SENSE_INVALID_OPCODE;
		goto fail;
	}
	/* SAM-5 §5.2: we do not support NACA=1 (control byte bit 2). */
	if (t->cdb[op->cdb_len - 1] & 0x04) {
		reason = scsi_invalid_field(t, true, op->cdb_len - 1, 2);
		goto fail;
	}
	/*
	 * A task management function timed out waiting for aborted I/O that
	 * may still land: nothing touches the medium until it has.
	 */
	if (t->lu && unlikely(scsi_lu_stalled(t->lu)) &&
	    !(op->flags & OPF_NO_UA)) {
		reason = SENSE_NOT_READY;
		goto fail;
	}
	/*
	 * SAM-5 §5.14: a pending unit attention fails the command (and is
	 * thereby reported and cleared), except for INQUIRY, REPORT LUNS and
	 * REQUEST SENSE.
	 */
	if (!(op->flags & OPF_NO_UA)) {
		reason = scsi_lu_ua_check(t->lu, t->nexus, true);
		if (reason != SENSE_NONE)
			goto fail;
	}
	/* SPC-4 §5.15.2.4: what the port's ALUA state allows */
	reason = scsi_alua_check(t, op);
	if (reason != SENSE_NONE)
		goto fail;
	/*
	 * SPC-4 §5.13.1: the persistent reservation access table, for every
	 * command, here in prepare rather than in exec so that a conflicting
	 * write fails before the transport asks for its data, and after the
	 * unit attention check (SAM-5 §5.14: the UA is reported first).
	 */
	if (t->lu && scsi_pr_conflict(t->lu, t->nexus, op)) {
		reason = SENSE_RESERVATION_CONFLICT;
		goto fail;
	}
	/*
	 * SPC-2 §5.5.1: an LU reserved by another I_T nexus runs only the
	 * commands of SPC-2 table 10 (OPF_RES_OK). Checked again at exec, for
	 * a RESERVE that arrives while this command waits for its data.
	 */
	if (!(op->flags & OPF_RES_OK) && scsi_lu_res_conflict(t->lu, t->nexus)) {
		reason = SENSE_RESERVATION_CONFLICT;
		goto fail;
	}
	t->op = op;
	if (op->parse) {
		reason = op->parse(t);
		if (reason != SENSE_NONE)
			goto fail;
	}
	return SENSE_NONE;

fail:
	t->op = NULL;
	t->dir = SCSI_DIR_NONE;
	t->data_len = 0;
	/* scsi_invalid_field() already filled the sense (with SKS). */
	if (t->status == SAM_STAT_GOOD)
		scsi_task_set_sense(t, reason);
	return reason;
}

void scsi_task_exec(struct scsi_task *t)
{
	if (unlikely(!t->op)) {
		/* Prepare failed; the status and sense are already set. */
		if (t->status == SAM_STAT_GOOD)
			scsi_task_set_sense(t, SENSE_HARDWARE_ERROR);
		t->done(t);
		return;
	}
	t->executing = true;
	t->aborted = false;
	t->gated = false;
	/*
	 * An offline target (tgt's target state) runs nothing: SAM-5 §5.3.1
	 * BUSY, "issue the command again later", which initiators retry.
	 */
	if (unlikely(t->nexus && t->nexus->target &&
		     atomic_load_explicit(&t->nexus->target->offline,
					  memory_order_relaxed))) {
		scsi_task_fail(t, SENSE_BUSY);
		return;
	}
	if (unlikely(!(t->op->flags & OPF_RES_OK) &&
		     scsi_lu_res_conflict(t->lu, t->nexus))) {
		scsi_task_fail(t, SENSE_RESERVATION_CONFLICT);	/* see prepare */
		return;
	}
	/* COMPARE AND WRITE is atomic against every write (SBC-4 §5.3) */
	if ((t->op->flags & OPF_WRITES) && t->lu && !scsi_lu_write_enter(t))
		return;
	/*
	 * The range was checked at prepare; a shrink (scsi_lu_set_capacity)
	 * may have come since, while the data arrived. Inside the write gate
	 * the check is final: the shrink waits for the writers it did not
	 * stop here (SBC-4 §4.5: LBA OUT OF RANGE).
	 */
	if ((t->op->flags & OPF_WRITES) && t->nblocks &&
	    unlikely(!sbc_lba_range_ok(t->lu, t->lba, t->nblocks))) {
		scsi_task_fail(t, SENSE_LBA_OUT_OF_RANGE);
		return;
	}
	t->op->exec(t);
}

void scsi_task_abort(struct scsi_task *t)
{
	if (!t->executing || t->aborted || !t->lu)
		return;
	t->aborted = true;
	atomic_fetch_add(&t->lu->aborted_inflight, 1);
}

void scsi_task_complete(struct scsi_task *t)
{
	free(t->scratch);
	t->scratch = NULL;
	t->executing = false;
	if (t->gated)
		scsi_lu_write_exit(t);
	if (unlikely(t->aborted)) {
		/* the last aborted I/O of a stalled LU is gone: it serves again */
		if (atomic_fetch_sub(&t->lu->aborted_inflight, 1) == 1)
			atomic_store(&t->lu->stalled, false);
		t->aborted = false;
	}
	/* The transport's reference keeps the LU alive across done(). */
	t->done(t);
}

void scsi_task_fail(struct scsi_task *t, enum sense_reason reason)
{
	scsi_task_set_sense(t, reason);
	t->xfer_len = 0;
	scsi_task_complete(t);
}

void scsi_task_data_in(struct scsi_task *t, const void *data, uint32_t len)
{
	uint32_t n = MIN(len, t->data_len);

	n = t->buf ? MIN(n, t->buf_len) : 0;
	if (n)
		memcpy(t->buf, data, n);
	t->xfer_len = n;
}

/*
 * SAM-5 §4.7.7: single level LUNs. Peripheral device addressing (method
 * 00b, bus 0) below 256, flat space addressing (01b) up to 16383.
 */
uint64_t scsi_lun_encode(uint64_t lun)
{
	if (lun < 256)
		return lun << 48;
	return (0x4000 | (lun & 0x3fff)) << 48;
}

uint64_t scsi_lun_decode(uint64_t wire)
{
	uint16_t first = (uint16_t)(wire >> 48);

	/* Multi-level LUNs are not ours; report them as not present. */
	if (wire & 0xffffffffffffULL)
		return UINT64_MAX;
	switch (first >> 14) {
	case 0:	/* peripheral: bus identifier must be 0 */
		return (first & 0x3f00) ? UINT64_MAX : (first & 0xff);
	case 1:	/* flat space */
		return first & 0x3fff;
	default:
		return UINT64_MAX;
	}
}
