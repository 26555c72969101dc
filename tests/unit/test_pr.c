/*
 * test_pr.c - SCSI-3 persistent reservations (SPC-4 §5.13, §6.15, §6.16)
 * driven through scsi_task_prepare/exec on a RAM-backed LU, from several
 * I_T nexuses: every PR IN / PR OUT service action, the key and
 * PRgeneration rules, the access table (SPC-4 table 46, SBC-3 table 13)
 * for every command row × reservation type × holder / registrant /
 * other, the unit attentions each action raises and to whom, and the
 * registration that survives a relogin with the same ISID.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backing/bs.h"
#include "base/base.h"
#include "scsi/scsi.h"
#include "scsi/scsi_internal.h"

#define TGT_NAME "iqn.2024-01.org.example:disk1"
#define BLOCKS 2048u

/* PR OUT service actions and types (SPC-4 tables 207, 196) */
enum { REGISTER = 0, RESERVE = 1, RELEASE = 2, CLEAR = 3, PREEMPT = 4,
       PREEMPT_ABORT = 5, REGISTER_IGNORE = 6, REGISTER_MOVE = 7 };
enum { READ_KEYS = 0, READ_RESERVATION = 1, REPORT_CAPS = 2,
       READ_FULL_STATUS = 3 };
enum { WE = 1, EA = 3, WE_RO = 5, EA_RO = 6, WE_AR = 7, EA_AR = 8 };

static struct scsi_target tgt;
static struct scsi_lu *disk;
/* A and A2 share an initiator name but not the ISID; B, C others. */
static struct scsi_nexus na, na2, nb, nc;
/* an observer that never registers (reads PRgeneration, no UAs) */
static struct scsi_nexus nobs;

/* completions seen (PREEMPT AND ABORT completes later than exec) */
static atomic_int done_calls;

static void task_done(struct scsi_task *t)
{
	(void)t;
	atomic_fetch_add(&done_calls, 1);
}

static void nexus_init(struct scsi_nexus *n, const char *port)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->initiator_port, sizeof(n->initiator_port), "%s", port);
	n->rel_port_id = 1;
	n->target = &tgt;
}

static void setup(void)
{
	struct bs_open_args a = { .size = BLOCKS * 512ull };
	struct bs *bs = bs_open(&bs_ram_ops, NULL, &a);
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 0, .bs = bs, .block_size = 512,
		.target_name = TGT_NAME,
	};

	cr_assert_not_null(bs);
	scsi_target_init(&tgt, TGT_NAME);
	disk = scsi_lu_new(&cfg);
	cr_assert_not_null(disk);
	cr_assert_eq(scsi_target_add_lu(&tgt, disk), 0);
	nexus_init(&na, "iqn.1994-05.com.redhat:a,i,0x23d000000001");
	nexus_init(&na2, "iqn.1994-05.com.redhat:a,i,0x23d000000002");
	nexus_init(&nb, "iqn.1994-05.com.redhat:b,i,0x23d000000001");
	nexus_init(&nc, "iqn.1994-05.com.redhat:c,i,0x23d000000001");
	nexus_init(&nobs, "iqn.1994-05.com.redhat:obs,i,0x23d000000001");
}

static void teardown(void)
{
	scsi_target_destroy(&tgt);
}

TestSuite(pr, .init = setup, .fini = teardown);

/*
 * Runs @cdb from @n like a transport: prepare, a buffer of
 * MIN(exp_len, data_len) (@buf holds the data-out bytes), exec.
 */
static struct scsi_task task;

static uint8_t run(struct scsi_nexus *n, const uint8_t *cdb, size_t cdb_len,
		   uint8_t *buf, uint32_t exp_len)
{
	memset(&task, 0, sizeof(task));
	task.nexus = n;
	task.lu = disk;
	memcpy(task.cdb, cdb, cdb_len);
	task.exp_len = exp_len;
	task.done = task_done;
	if (scsi_task_prepare(&task) != SENSE_NONE)
		return task.status;
	task.buf = buf;
	task.buf_len = MIN(exp_len, task.data_len);
	scsi_task_exec(&task);
	return task.status;
}

static void assert_sense(uint8_t key, uint8_t asc, uint8_t ascq)
{
	cr_assert_eq(task.status, SAM_STAT_CHECK_CONDITION, "status %#x",
		     task.status);
	cr_assert_eq(task.sense[2] & 0x0f, key, "key %x", task.sense[2]);
	cr_assert_eq(task.sense[12], asc, "asc %02x", task.sense[12]);
	cr_assert_eq(task.sense[13], ascq, "ascq %02x", task.sense[13]);
}

/* PERSISTENT RESERVE OUT with a 24-byte parameter list (@len of it) */
static uint8_t pro_len(struct scsi_nexus *n, int sa, int type, uint64_t key,
		       uint64_t sa_key, uint8_t flags, uint32_t len)
{
	uint8_t c[10] = { 0x5f, (uint8_t)sa, (uint8_t)type };
	uint8_t p[32] = { 0 };

	put_be32(c + 5, len);
	put_be64(p, key);
	put_be64(p + 8, sa_key);
	p[20] = flags;
	return run(n, c, 10, p, MIN(len, sizeof(p)));
}

static uint8_t pro(struct scsi_nexus *n, int sa, int type, uint64_t key,
		   uint64_t sa_key)
{
	return pro_len(n, sa, type, key, sa_key, 0, 24);
}

/* PERSISTENT RESERVE IN into @buf; returns the status */
static uint8_t pri(struct scsi_nexus *n, int sa, uint8_t *buf, uint16_t alloc)
{
	uint8_t c[10] = { 0x5e, (uint8_t)sa };

	put_be16(c + 7, alloc);
	memset(buf, 0xee, alloc);
	return run(n, c, 10, buf, alloc);
}

static uint32_t generation(void)
{
	uint8_t b[8];

	cr_assert_eq(pri(&nobs, READ_KEYS, b, 8), SAM_STAT_GOOD);
	return get_be32(b);
}

static uint8_t tur(struct scsi_nexus *n)
{
	uint8_t c[6] = { 0 };

	return run(n, c, 6, NULL, 0);
}

/* READ(10) of block 0: conflicts under Exclusive Access for non-holders */
static uint8_t read1(struct scsi_nexus *n)
{
	static uint8_t b[512];
	uint8_t c[10] = { 0x28, [8] = 1 };

	return run(n, c, 10, b, sizeof(b));
}

/* The next command of @n reports @ascq (6/2a/ascq), then nothing more. */
static void expect_ua_once(struct scsi_nexus *n, uint8_t ascq)
{
	tur(n);
	assert_sense(0x6, 0x2a, ascq);
	cr_assert_eq(tur(n), SAM_STAT_GOOD, "reported once");
}

/* --- REGISTER, REGISTER AND IGNORE EXISTING KEY, READ KEYS -------------- */

Test(pr, register_read_keys_generation)
{
	uint8_t b[64];

	cr_assert_eq(generation(), 0);
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_KEYS, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 2, "PRgeneration +1 per REGISTER");
	cr_assert_eq(get_be32(b + 4), 16, "two keys");
	cr_assert_eq(task.xfer_len, 24);
	uint64_t k0 = get_be64(b + 8), k1 = get_be64(b + 16);
	cr_assert((k0 == 0xa1 && k1 == 0xb1) || (k0 == 0xb1 && k1 == 0xa1));

	/* SPC-4 §5.13.7: a registrant changes its key with its key */
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0xa2), SAM_STAT_GOOD);
	cr_assert_eq(generation(), 3);
	/* wrong key: RESERVATION CONFLICT, nothing changes */
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0xa3),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(generation(), 3, "a failed PR OUT leaves PRgeneration");
	/* unregistered nexus with a non-zero RESERVATION KEY: conflict */
	cr_assert_eq(pro(&nc, REGISTER, 0, 0x77, 0xc1),
		     SAM_STAT_RESERVATION_CONFLICT);
	/* unregistered, SERVICE ACTION RESERVATION KEY zero: GOOD, no-op */
	cr_assert_eq(pro(&nc, REGISTER, 0, 0, 0), SAM_STAT_GOOD);
	cr_assert_eq(generation(), 3);
	/* unregister with key zero */
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa2, 0), SAM_STAT_GOOD);
	cr_assert_eq(generation(), 4);
	cr_assert_eq(pri(&nc, READ_KEYS, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 8);
	cr_assert_eq(get_be64(b + 8), 0xb1);
}

Test(pr, register_and_ignore_existing_key)
{
	cr_assert_eq(pro(&na, REGISTER_IGNORE, 0, 0x999, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, REGISTER_IGNORE, 0, 0x999, 0xa2), SAM_STAT_GOOD);
	cr_assert_eq(generation(), 2);
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa2, 0), SAM_STAT_GOOD,
		     "the new key is the key");
}

Test(pr, read_keys_allocation_length)
{
	uint8_t b[64];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	/* SPC-4 §4.3.5.6: truncated, ADDITIONAL LENGTH still the full one */
	memset(b, 0xee, sizeof(b));
	cr_assert_eq(pri(&nc, READ_KEYS, b, 12), SAM_STAT_GOOD);
	cr_assert_eq(task.xfer_len, 12);
	cr_assert_eq(get_be32(b + 4), 16);
	cr_assert_eq(b[12], 0xee, "nothing beyond the allocation length");
	cr_assert_eq(pri(&nc, READ_KEYS, b, 0), SAM_STAT_GOOD);
	cr_assert_eq(task.xfer_len, 0);
}

/* --- RESERVE, RELEASE, READ RESERVATION --------------------------------- */

Test(pr, reserve_release_read_reservation)
{
	uint8_t b[64];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 0, "no reservation");
	cr_assert_eq(task.xfer_len, 8);

	cr_assert_eq(pro(&na, RESERVE, WE_RO, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(generation(), 2, "RESERVE leaves PRgeneration");
	cr_assert_eq(pri(&nc, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 16);
	cr_assert_eq(get_be64(b + 8), 0xa1);
	cr_assert_eq(b[21], WE_RO, "scope LU (0), type");
	cr_assert_eq(task.xfer_len, 24);

	/* the holder again, same type: GOOD; another type: conflict */
	cr_assert_eq(pro(&na, RESERVE, WE_RO, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, EA, 0xa1, 0),
		     SAM_STAT_RESERVATION_CONFLICT);
	/* another registrant: conflict; not registered: conflict */
	cr_assert_eq(pro(&nb, RESERVE, WE_RO, 0xb1, 0),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(pro(&nc, RESERVE, WE_RO, 0, 0),
		     SAM_STAT_RESERVATION_CONFLICT);
	/* a non-holder's RELEASE: GOOD, reservation untouched */
	cr_assert_eq(pro(&nb, RELEASE, WE_RO, 0xb1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 16);
	/* the holder with the wrong type: INVALID RELEASE (5/26/04) */
	pro(&na, RELEASE, WE, 0xa1, 0);
	assert_sense(0x5, 0x26, 0x04);
	/* the holder with a wrong key: conflict */
	cr_assert_eq(pro(&na, RELEASE, WE_RO, 0xa9, 0),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(pro(&na, RELEASE, WE_RO, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 0);
	cr_assert_eq(get_be32(b), 2, "RELEASE leaves PRgeneration");
}

Test(pr, all_registrants_reservation_key_zero)
{
	uint8_t b[64];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, EA_AR, 0xa1, 0), SAM_STAT_GOOD);
	/* SPC-4 §6.15.3.2: key zero for all registrants types */
	cr_assert_eq(pri(&nc, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b + 8), 0);
	cr_assert_eq(b[21], EA_AR);
	/* every registrant is a holder: B may release it */
	cr_assert_eq(pro(&nb, RELEASE, EA_AR, 0xb1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 0);
	/* SPC-4 §5.13.11.2.2: the release of an all registrants type tells
	 * the other registrants */
	expect_ua_once(&na, 0x04);
	/* the reservation goes with the last registrant (§5.13.11.3) */
	cr_assert_eq(pro(&na, RESERVE, WE_AR, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 16, "B is still registered: kept");
	cr_assert_eq(pro(&nb, REGISTER, 0, 0xb1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 0, "last registrant gone: released");
}

Test(pr, holder_unregisters_releases)
{
	uint8_t b[64];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, EA, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 0);
}

struct field_case {
	int sa, type;
	uint8_t flags;
	uint32_t len;
	uint8_t key, asc, ascq;
};

/*
 * SPC-4 §6.16: bad type or scope -> INVALID FIELD IN CDB; length other
 * than 24 without SPEC_I_PT -> PARAMETER LIST LENGTH ERROR (with it, a list
 * too short for its TRANSPORTID PARAMETER DATA LENGTH; REGISTER AND MOVE
 * without room for a TransportID, §6.16.4); what we do not support
 * (PTPL_C = 0) -> INVALID FIELD IN PARAMETER LIST; service actions we have
 * no row for -> INVALID FIELD IN CDB.
 */
static struct field_case field_cases[] = {
	{ RESERVE, 0x2, 0, 24, 0x5, 0x24, 0x00 },	/* obsolete type */
	{ RESERVE, 0x4, 0, 24, 0x5, 0x24, 0x00 },
	{ RESERVE, 0x9, 0, 24, 0x5, 0x24, 0x00 },
	{ RESERVE, 0x11, 0, 24, 0x5, 0x24, 0x00 },	/* scope 1 */
	{ RESERVE, 0x21, 0, 24, 0x5, 0x24, 0x00 },	/* scope 2 (element) */
	{ REGISTER, 0, 0, 23, 0x5, 0x1a, 0x00 },
	{ REGISTER, 0, 0, 25, 0x5, 0x1a, 0x00 },
	{ RESERVE, WE, 0, 0, 0x5, 0x1a, 0x00 },
	{ REGISTER, 0, 0x01, 24, 0x5, 0x26, 0x00 },	/* APTPL */
	{ REGISTER_IGNORE, 0, 0x01, 24, 0x5, 0x26, 0x00 },
	{ REGISTER, 0, 0x08, 24, 0x5, 0x1a, 0x00 },	/* SPEC_I_PT */
	{ RESERVE, WE, 0x08, 24, 0x5, 0x26, 0x00 },	/* SPEC_I_PT */
	{ REGISTER_MOVE, WE, 0, 24, 0x5, 0x1a, 0x00 },
};

ParameterizedTestParameters(pr, refused_fields)
{
	return cr_make_param_array(struct field_case, field_cases,
				   ARRAY_SIZE(field_cases));
}

ParameterizedTest(struct field_case *c, pr, refused_fields)
{
	uint64_t key = c->sa == REGISTER || c->sa == REGISTER_IGNORE ? 0 : 0xa1;

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	pro_len(&na, c->sa, c->type, key, c->sa == REGISTER ? 0xa2 : 0,
		c->flags, c->len);
	assert_sense(c->key, c->asc, c->ascq);
	cr_assert_eq(generation(), 1, "nothing changed");
}

/* --- REPORT CAPABILITIES, READ FULL STATUS ------------------------------ */

Test(pr, report_capabilities)
{
	uint8_t b[16];

	cr_assert_eq(pri(&na, REPORT_CAPS, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(task.xfer_len, 8);
	cr_assert_eq(get_be16(b), 8);
	/* CRH (SPC-4 §5.13.3: RESERVE / RELEASE exceptions, reserve.c),
	 * SIP_C and ATP_C; RLR_C not implemented, PTPL_C without a state
	 * directory (test_aptpl.c) */
	cr_assert_eq(b[2], 0x10 | 0x08 | 0x04);
	cr_assert_eq(b[3] & 0x80, 0x80, "TMV");
	cr_assert_eq(b[3] & 0x01, 0, "PTPL_A");
	/* SPC-4 table 199: all six types */
	cr_assert_eq(b[4], 0x80 | 0x40 | 0x20 | 0x08 | 0x02);
	cr_assert_eq(b[5], 0x01);
}

Test(pr, read_full_status_transport_ids)
{
	uint8_t b[512];
	/* "<name>,i,0x<isid>" + NUL, padded to 4 (SPC-4 §7.6.4.6) */
	const char *port = na.initiator_port;
	uint32_t tid_len = 4 + (((uint32_t)strlen(port) + 1 + 3) & ~3u);

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_FULL_STATUS, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 1);
	cr_assert_eq(get_be32(b + 4), 24 + tid_len);
	cr_assert_eq(get_be64(b + 8), 0xa1);
	cr_assert_eq(b[8 + 12], 0x01, "R_HOLDER, ALL_TG_PT 0");
	cr_assert_eq(b[8 + 13], WE);
	cr_assert_eq(get_be16(b + 8 + 18), 1, "relative target port id");
	cr_assert_eq(get_be32(b + 8 + 20), tid_len);
	uint8_t *tid = b + 8 + 24;
	cr_assert_eq(tid[0], 0x45, "FORMAT CODE 01b, iSCSI");
	cr_assert_eq(get_be16(tid + 2), tid_len - 4);
	cr_assert_str_eq((char *)tid + 4, port);
	cr_assert_eq(tid_len % 4, 0);
	for (uint32_t i = 4 + strlen(port); i < tid_len; i++)
		cr_assert_eq(tid[i], 0, "NUL and pad");

	/* a second, non-holding registrant */
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_FULL_STATUS, b, sizeof(b)), SAM_STAT_GOOD);
	uint32_t total = get_be32(b + 4), seen = 0, holders = 0;
	for (uint32_t off = 8; off < 8 + total; seen++) {
		holders += b[off + 12] & 1;
		off += 24 + get_be32(b + off + 20);
	}
	cr_assert_eq(seen, 2);
	cr_assert_eq(holders, 1);
	/* truncated: the ADDITIONAL LENGTH still counts everything */
	cr_assert_eq(pri(&nc, READ_FULL_STATUS, b, 16), SAM_STAT_GOOD);
	cr_assert_eq(task.xfer_len, 16);
	cr_assert_eq(get_be32(b + 4), total);
}

/* --- CLEAR, PREEMPT and their unit attentions --------------------------- */

Test(pr, clear_preempts_everyone_else)
{
	uint8_t b[64];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, RESERVE, WE, 0xb1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nc, CLEAR, 0, 0, 0), SAM_STAT_RESERVATION_CONFLICT,
		     "not registered");
	cr_assert_eq(pro(&na, CLEAR, 0, 0xa9, 0), SAM_STAT_RESERVATION_CONFLICT,
		     "wrong key");
	cr_assert_eq(pro(&na, CLEAR, 0, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&nc, READ_KEYS, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 3, "CLEAR increments PRgeneration");
	cr_assert_eq(get_be32(b + 4), 0, "no keys");
	cr_assert_eq(pri(&nc, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 0);
	/* SPC-4 §5.13.11.2.6: RESERVATIONS PREEMPTED to the others only */
	cr_assert_eq(tur(&na), SAM_STAT_GOOD);
	cr_assert_eq(tur(&nc), SAM_STAT_GOOD);
	expect_ua_once(&nb, 0x03);
}

Test(pr, preempt_holder)
{
	uint8_t b[64];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nc, REGISTER, 0, 0, 0xc1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa1, 0), SAM_STAT_GOOD);
	/* B preempts A (the holder) and takes an EA reservation */
	cr_assert_eq(pro(&nb, PREEMPT, EA, 0xb1, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(generation(), 4, "PREEMPT increments PRgeneration");
	cr_assert_eq(pri(&nb, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b + 8), 0xb1);
	cr_assert_eq(b[21], EA);
	cr_assert_eq(pri(&nb, READ_KEYS, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 16, "A's registration is gone");
	cr_assert_eq(tur(&nb), SAM_STAT_GOOD);
	/* SPC-4 §5.13.11.4.4: REGISTRATIONS PREEMPTED to A; the type changed,
	 * so RESERVATIONS RELEASED to the registrants that stay (C) */
	expect_ua_once(&na, 0x05);
	expect_ua_once(&nc, 0x04);
	/* A is no longer registered: RESERVE conflicts */
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa1, 0),
		     SAM_STAT_RESERVATION_CONFLICT);
}

Test(pr, preempt_registrations_only)
{
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nc, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	/* no reservation: §5.13.11.4.3, key 0 is an invalid field */
	pro(&na, PREEMPT, WE, 0xa1, 0);
	assert_sense(0x5, 0x26, 0x00);
	/* a key nobody has: conflict */
	cr_assert_eq(pro(&na, PREEMPT, WE, 0xa1, 0x55),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(generation(), 3);
	cr_assert_eq(pro(&na, PREEMPT, WE, 0xa1, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(generation(), 4);
	expect_ua_once(&nb, 0x05);
	expect_ua_once(&nc, 0x05);
	cr_assert_eq(tur(&na), SAM_STAT_GOOD);
}

Test(pr, preempt_all_registrants_key_zero)
{
	uint8_t b[64];

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, RESERVE, WE_AR, 0xb1, 0), SAM_STAT_GOOD);
	/* SPC-4 §5.13.11.4.4: key 0 under an all registrants type removes
	 * every other registrant and reserves anew */
	cr_assert_eq(pro(&na, PREEMPT, WE, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pri(&na, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b + 8), 0xa1);
	cr_assert_eq(b[21], WE);
	cr_assert_eq(pri(&na, READ_KEYS, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 8);
	expect_ua_once(&nb, 0x05);
}

Test(pr, release_registrants_only_tells_registrants)
{
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, EA_RO, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RELEASE, EA_RO, 0xa1, 0), SAM_STAT_GOOD);
	/* SPC-4 §5.13.11.2.2: RESERVATIONS RELEASED to the other registrants */
	cr_assert_eq(tur(&na), SAM_STAT_GOOD);
	cr_assert_eq(tur(&nc), SAM_STAT_GOOD, "C is not registered");
	expect_ua_once(&nb, 0x04);
	/* a WRITE EXCLUSIVE release tells nobody */
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RELEASE, WE, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(tur(&nb), SAM_STAT_GOOD);
}

/* --- identity: relogin keeps the registration; the ISID matters --------- */

Test(pr, relogin_same_isid_keeps_registration)
{
	uint8_t b[64];
	struct scsi_nexus *again = calloc(1, sizeof(*again));

	cr_assert_not_null(again);
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, EA, 0xa1, 0), SAM_STAT_GOOD);
	/* the same initiator port on a new session object */
	nexus_init(again, na.initiator_port);
	cr_assert_eq(pri(again, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b + 8), 0xa1);
	cr_assert_eq(pro(again, REGISTER, 0, 0xa1, 0xa2), SAM_STAT_GOOD,
		     "the relogged-in nexus is the registrant");
	cr_assert_eq(read1(again), SAM_STAT_GOOD, "and the holder");
	/* same name, other ISID: another I_T nexus (SPC-4 §5.13.7) */
	cr_assert_eq(read1(&na2), SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(pro(&na2, REGISTER, 0, 0xa2, 0xa3),
		     SAM_STAT_RESERVATION_CONFLICT);
	/* same port, other relative target port: another I_T nexus too */
	again->rel_port_id = 2;
	cr_assert_eq(read1(again), SAM_STAT_RESERVATION_CONFLICT);
	free(again);
}

/* --- the access table --------------------------------------------------- */

/*
 * Command classes of SPC-4 table 46 and SBC-3 table 13, written from the
 * standard: ALLOW is "Allowed" in every column; READ is "Allowed" under
 * the Write Exclusive types and "Conflict" under Exclusive Access for a
 * non-registrant; WRITE is "Conflict" except for registrants under the
 * registrants only / all registrants types.
 */
enum cls { ALLOW, READ, WRITE };
enum role { HOLDER, REGISTRANT, OTHER };

struct cmd_row {
	const char *name;
	uint8_t cdb[16];
	uint8_t cdb_len;
	uint32_t out_len;	/* data-out bytes */
	uint32_t in_len;	/* allocation for data-in */
	enum cls cls;
};

static const struct cmd_row cmds[] = {
	{ "TEST UNIT READY", { 0x00 }, 6, 0, 0, ALLOW },
	{ "REQUEST SENSE", { 0x03, 0, 0, 0, 18 }, 6, 0, 18, ALLOW },
	{ "INQUIRY", { 0x12, 0, 0, 0, 36 }, 6, 0, 36, ALLOW },
	{ "READ CAPACITY(10)", { 0x25 }, 10, 0, 8, ALLOW },
	{ "READ CAPACITY(16)", { 0x9e, 0x10, [13] = 32 }, 16, 0, 32, ALLOW },
	{ "REPORT LUNS", { 0xa0, [9] = 64 }, 12, 0, 64, ALLOW },
	{ "REPORT SUPPORTED OPERATION CODES", { 0xa3, 0x0c, [9] = 255 }, 12,
	  0, 255, ALLOW },
	{ "REPORT SUPPORTED TMFS", { 0xa3, 0x0d, [9] = 4 }, 12, 0, 4, ALLOW },
	{ "PERSISTENT RESERVE IN", { 0x5e, 0x00, [8] = 64 }, 10, 0, 64, ALLOW },
	{ "MODE SENSE(6)", { 0x1a, 0, 0x3f, 0, 255 }, 6, 0, 255, READ },
	{ "MODE SENSE(10)", { 0x5a, 0, 0x3f, [8] = 255 }, 10, 0, 255, READ },
	{ "READ(6)", { 0x08, 0, 0, 0, 1 }, 6, 0, 512, READ },
	{ "READ(10)", { 0x28, [8] = 1 }, 10, 0, 512, READ },
	{ "READ(12)", { 0xa8, [9] = 1 }, 12, 0, 512, READ },
	{ "READ(16)", { 0x88, [13] = 1 }, 16, 0, 512, READ },
	{ "VERIFY(10)", { 0x2f, [8] = 1 }, 10, 0, 0, READ },
	{ "VERIFY(12)", { 0xaf, [9] = 1 }, 12, 0, 0, READ },
	{ "VERIFY(16)", { 0x8f, [13] = 1 }, 16, 0, 0, READ },
	{ "PRE-FETCH(10)", { 0x34, [8] = 1 }, 10, 0, 0, READ },
	{ "PRE-FETCH(16)", { 0x90, [13] = 1 }, 16, 0, 0, READ },
	{ "GET LBA STATUS", { 0x9e, 0x12, [13] = 32 }, 16, 0, 32, READ },
	{ "WRITE(6)", { 0x0a, 0, 0, 0, 1 }, 6, 512, 0, WRITE },
	{ "WRITE(10)", { 0x2a, [8] = 1 }, 10, 512, 0, WRITE },
	{ "WRITE(12)", { 0xaa, [9] = 1 }, 12, 512, 0, WRITE },
	{ "WRITE(16)", { 0x8a, [13] = 1 }, 16, 512, 0, WRITE },
	{ "WRITE AND VERIFY(10)", { 0x2e, [8] = 1 }, 10, 512, 0, WRITE },
	{ "WRITE AND VERIFY(12)", { 0xae, [9] = 1 }, 12, 512, 0, WRITE },
	{ "WRITE AND VERIFY(16)", { 0x8e, [13] = 1 }, 16, 512, 0, WRITE },
	{ "WRITE SAME(10)", { 0x41, [8] = 1 }, 10, 512, 0, WRITE },
	{ "WRITE SAME(16)", { 0x93, [13] = 1 }, 16, 512, 0, WRITE },
	{ "UNMAP", { 0x42 }, 10, 0, 0, WRITE },
	{ "COMPARE AND WRITE", { 0x89, [13] = 1 }, 16, 1024, 0, WRITE },
	{ "SYNCHRONIZE CACHE(10)", { 0x35 }, 10, 0, 0, WRITE },
	{ "SYNCHRONIZE CACHE(16)", { 0x91 }, 16, 0, 0, WRITE },
	{ "REPORT TARGET PORT GROUPS", { 0xa3, 0x0a, [9] = 64 }, 12, 0, 64,
	  ALLOW },
};

/*
 * Rows of the command table that cmds[] leaves out, each with the test
 * that covers its place in table 46 instead.
 */
static const struct {
	uint8_t opcode;
	int16_t sa;		/* -1: no service action */
	const char *covered_by;
} elsewhere[] = {
	/* PR OUT: allowed per service action, not per command */
	{ 0x5f, 0, "pr_out_from_non_registrant" },
	{ 0x5f, 1, "pr_out_from_non_registrant" },
	{ 0x5f, 2, "pr_out_from_non_registrant" },
	{ 0x5f, 3, "pr_out_from_non_registrant" },
	{ 0x5f, 4, "pr_out_from_non_registrant" },
	{ 0x5f, 5, "pr_out_from_non_registrant" },
	{ 0x5f, 6, "pr_out_from_non_registrant" },
	{ 0x5f, 7, "pr_out_from_non_registrant" },
	/* PR IN's other service actions: same row as READ KEYS */
	{ 0x5e, 1, "access_table (PERSISTENT RESERVE IN)" },
	{ 0x5e, 2, "access_table (PERSISTENT RESERVE IN)" },
	{ 0x5e, 3, "access_table (PERSISTENT RESERVE IN)" },
	/* SPC-4 §5.13.3: RESERVE / RELEASE under persistent reservations */
	{ 0x16, -1, "test_reserve.c" },
	{ 0x17, -1, "test_reserve.c" },
	{ 0x56, -1, "test_reserve.c" },
	{ 0x57, -1, "test_reserve.c" },
	/* needs port groups: the RAM LU here has none */
	{ 0xa4, 0x0a, "test_alua.c" },
};

/* The row of cmds[] or elsewhere[] for (@opcode, @sa); false if none. */
static bool classified(uint8_t opcode, int sa)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		const uint8_t *c = cmds[i].cdb;
		bool has_sa = c[0] == 0x9e || c[0] == 0xa3 || c[0] == 0x5e ||
			      c[0] == 0xa4;

		if (c[0] == opcode && (!has_sa || (c[1] & 0x1f) == sa))
			return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(elsewhere); i++)
		if (elsewhere[i].opcode == opcode &&
		    (elsewhere[i].sa < 0 || elsewhere[i].sa == sa))
			return true;
	return false;
}

/* SPC-4 table 46: may @role run a command of class @cls under @type? */
static bool table46_allowed(int type, enum role role, enum cls cls)
{
	bool registrants_type = type == WE_RO || type == EA_RO ||
				type == WE_AR || type == EA_AR;
	bool exclusive_access = type == EA || type == EA_RO || type == EA_AR;

	if (role == HOLDER || cls == ALLOW)
		return true;
	/* registrants of RO/AR types */
	if (role == REGISTRANT && registrants_type)
		return true;
	if (cls == READ)
		return !exclusive_access;
	return false;
}

static const int types[] = { WE, EA, WE_RO, EA_RO, WE_AR, EA_AR };

Test(pr, access_table)
{
	static uint8_t buf[4096];
	unsigned checked = 0;

	for (size_t ti = 0; ti < ARRAY_SIZE(types); ti++) {
		int type = types[ti];

		/* A holds, B is registered, C is not */
		cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
		cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
		cr_assert_eq(pro(&na, RESERVE, type, 0xa1, 0), SAM_STAT_GOOD);
		for (int role = HOLDER; role <= OTHER; role++) {
			struct scsi_nexus *n = role == HOLDER ? &na
					       : role == REGISTRANT ? &nb : &nc;

			for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
				const struct cmd_row *c = &cmds[i];
				bool want = table46_allowed(type, (enum role)role,
							    c->cls);
				uint32_t exp = c->out_len ? c->out_len : c->in_len;
				uint8_t st;

				memset(buf, 0, sizeof(buf));
				st = run(n, c->cdb, c->cdb_len, buf, exp);
				if (want)
					cr_assert_eq(st, SAM_STAT_GOOD,
						     "%s, type %d, role %d: status %#x (sense %x/%02x/%02x), want GOOD",
						     c->name, type, role, st,
						     task.sense[2] & 0xf,
						     task.sense[12],
						     task.sense[13]);
				else
					cr_assert_eq(st, SAM_STAT_RESERVATION_CONFLICT,
						     "%s, type %d, role %d: status %#x, want RESERVATION CONFLICT",
						     c->name, type, role, st);
				checked++;
			}
		}
		cr_assert_eq(pro(&na, CLEAR, 0, 0xa1, 0), SAM_STAT_GOOD);
		tur(&nb);	/* the RESERVATIONS PREEMPTED of the CLEAR */
	}
	cr_assert_eq(checked, ARRAY_SIZE(types) * 3 * ARRAY_SIZE(cmds));
}

/*
 * "Every command" of the access table means every command the LU
 * supports: each row REPORT SUPPORTED OPERATION CODES lists (all
 * commands, SPC-4 §6.35.2) is in cmds[] or names the test that covers it.
 * A new command added to scsi.c without a place in table 46 fails here.
 */
Test(pr, access_table_covers_every_command)
{
	static uint8_t buf[8192];
	uint8_t c[12] = { 0xa3, 0x0c };
	uint32_t len;
	unsigned rows = 0;

	put_be32(c + 6, sizeof(buf));
	cr_assert_eq(run(&na, c, 12, buf, sizeof(buf)), SAM_STAT_GOOD);
	len = get_be32(buf);
	cr_assert(len >= 8 && len + 4 <= task.xfer_len, "list of %u bytes", len);
	for (uint32_t off = 4; off + 8 <= len + 4; off += 8) {
		const uint8_t *d = buf + off;
		/* SERVACTV (SPC-4 table 316) */
		int sa = (d[5] & 0x01) ? get_be16(d + 2) : -1;

		cr_assert(classified(d[0], sa),
			  "opcode %02xh service action %d is not in the access table test",
			  d[0], sa);
		rows++;
	}
	cr_assert_gt(rows, 30, "RSOC listed only %u commands", rows);
}

/* Without a reservation, registrations alone restrict nothing. */
Test(pr, registrations_alone_allow_everything)
{
	static uint8_t buf[1024];
	uint8_t w[10] = { 0x2a, [8] = 1 };

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(run(&nc, w, 10, buf, 512), SAM_STAT_GOOD);
}

/* PR OUT from a non-registrant under a reservation: only REGISTER works */
Test(pr, pr_out_from_non_registrant)
{
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, EA, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nc, RELEASE, EA, 0, 0), SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(pro(&nc, PREEMPT, EA, 0, 0xa1),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(pro(&nc, REGISTER, 0, 0, 0xc1), SAM_STAT_GOOD);
	cr_assert_eq(read1(&nc), SAM_STAT_RESERVATION_CONFLICT,
		     "registered, still not a holder of EA");
}

/* --- PR OUTs from several sessions at once ------------------------------ */

#define RACE_THREADS 4
#define RACE_ROUNDS 20000

static pthread_barrier_t race_start;

struct racer {
	struct scsi_nexus n;
	int bad;		/* PR OUTs that did not return GOOD */
};

static void *race_thread(void *arg)
{
	struct racer *rc = arg;
	struct scsi_task t;
	uint8_t c[10] = { 0x5f, REGISTER_IGNORE };
	uint8_t p[24] = { 0 };

	put_be32(c + 5, 24);
	pthread_barrier_wait(&race_start);
	for (int i = 0; i < RACE_ROUNDS; i++) {
		/* register (key i + 1), then unregister (key 0) */
		put_be64(p + 8, i & 1 ? 0 : (uint64_t)i + 1);
		memset(&t, 0, sizeof(t));
		t.nexus = &rc->n;
		t.lu = disk;
		memcpy(t.cdb, c, sizeof(c));
		t.exp_len = 24;
		t.done = task_done;
		if (scsi_task_prepare(&t) == SENSE_NONE) {
			t.buf = p;
			t.buf_len = 24;
			scsi_task_exec(&t);
		}
		rc->bad += t.status != SAM_STAT_GOOD;
	}
	return NULL;
}

/*
 * The state is one per LU, shared by every reactor: concurrent REGISTER
 * AND IGNORE EXISTING KEY from four I_T nexuses lose no update (every one
 * increments PRgeneration) and leave no registration behind.
 */
Test(pr, concurrent_pr_out)
{
	struct racer r[RACE_THREADS];
	pthread_t th[RACE_THREADS];
	uint8_t b[64];

	pthread_barrier_init(&race_start, NULL, RACE_THREADS);
	for (int i = 0; i < RACE_THREADS; i++) {
		char port[64];

		snprintf(port, sizeof(port), "iqn.2024-01.x:r%d,i,0x1", i);
		memset(&r[i], 0, sizeof(r[i]));
		nexus_init(&r[i].n, port);
		cr_assert_eq(pthread_create(&th[i], NULL, race_thread, &r[i]), 0);
	}
	for (int i = 0; i < RACE_THREADS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(r[i].bad, 0);
	}
	pthread_barrier_destroy(&race_start);
	cr_assert_eq(pri(&nobs, READ_KEYS, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), RACE_THREADS * RACE_ROUNDS, "PRgeneration");
	cr_assert_eq(get_be32(b + 4), 0, "no registration left");
}

/* --- PREEMPT AND ABORT (SPC-4 §5.13.11.2.6) ----------------------------- */

/*
 * The transport's side (struct scsi_transport_ops), recorded: which I_T
 * nexuses the SCSI layer asks it to abort, and the continuation it is to
 * call once their commands are gone, which the tests call themselves.
 */
static struct {
	int prepares, aborts;		/* successful prepares; aborts */
	int prepare_rc;			/* what preempt_prepare returns */
	unsigned prepared_n;
	struct scsi_task *t;
	struct scsi_itn ids[8];
	unsigned n;
	void (*done)(struct scsi_task *t, bool expired);
} xp;

static int xp_prepare(struct scsi_task *t, unsigned n)
{
	(void)t;
	if (xp.prepare_rc == 0) {
		xp.prepares++;	/* successful ones: each one abort follows */
		xp.prepared_n = n;
	}
	return xp.prepare_rc;
}

static void xp_abort(struct scsi_task *t, const struct scsi_itn *ids,
		     unsigned n, void (*done)(struct scsi_task *t, bool expired))
{
	cr_assert_eq(xp.prepares, xp.aborts + 1, "abort without prepare");
	cr_assert_leq(n, xp.prepared_n, "more nexuses than prepared for");
	cr_assert_leq(n, ARRAY_SIZE(xp.ids));
	xp.aborts++;
	memcpy(xp.ids, ids, n * sizeof(*ids));
	xp.n = n;
	xp.t = t;
	xp.done = done;
}

static const struct scsi_transport_ops xp_ops = {
	.preempt_prepare = xp_prepare,
	.preempt_abort = xp_abort,
};

static void xp_init(void)
{
	memset(&xp, 0, sizeof(xp));
	na.ops = na2.ops = nb.ops = nc.ops = &xp_ops;
}

/*
 * PREEMPT AND ABORT from @n: the command must not complete inside exec
 * (its answer waits for the aborts); then the transport reports the
 * aborted commands gone (@expired) and it completes. Returns the status.
 */
static uint8_t pro_abort(struct scsi_nexus *n, int type, uint64_t key,
			 uint64_t sa_key, bool expired)
{
	int before = atomic_load(&done_calls), aborts = xp.aborts;

	pro(n, PREEMPT_ABORT, type, key, sa_key);
	cr_assert_eq(xp.aborts, aborts + 1, "the transport was not asked");
	cr_assert_eq(xp.t, &task);
	cr_assert_eq(atomic_load(&done_calls), before,
		     "completed before the aborted commands were gone");
	xp.done(xp.t, expired);
	cr_assert_eq(atomic_load(&done_calls), before + 1, "completed once");
	return task.status;
}

/* True when the transport was asked to abort the commands of @n. */
static bool xp_has(const struct scsi_nexus *n)
{
	for (unsigned i = 0; i < xp.n; i++)
		if (xp.ids[i].rel_port_id == n->rel_port_id &&
		    strcmp(xp.ids[i].initiator_port, n->initiator_port) == 0)
			return true;
	return false;
}

/* WRITE(10) of block 0 */
static uint8_t write1(struct scsi_nexus *n)
{
	static uint8_t b[512];
	uint8_t c[10] = { 0x2a, [8] = 1 };

	return run(n, c, 10, b, sizeof(b));
}

/*
 * fence_scsi's fencing: every node registers, one holds WRITE EXCLUSIVE,
 * REGISTRANTS ONLY; the survivor B preempts and aborts the victim's key,
 * registered through two I_T nexuses (A, A2). §5.13.11.2.5: the
 * registrations go, the reservation stays; both nexuses' commands are
 * aborted (c), B's are not; REGISTRATIONS PREEMPTED to A and A2 (d); A's
 * writes then conflict, B's run.
 */
Test(pr, preempt_abort_registrations)
{
	uint8_t b[64];

	xp_init();
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na2, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, RESERVE, WE_RO, 0xb1, 0), SAM_STAT_GOOD);
	cr_assert_eq(write1(&na), SAM_STAT_GOOD, "a registrant writes");

	cr_assert_eq(pro_abort(&nb, WE_RO, 0xb1, 0xa1, false), SAM_STAT_GOOD);
	cr_assert_eq(xp.n, 2, "A and A2, nobody else");
	cr_assert(xp_has(&na) && xp_has(&na2));
	cr_assert_eq(xp.prepared_n, 2);
	cr_assert_eq(generation(), 4, "PRgeneration +1");
	cr_assert_eq(pri(&nobs, READ_KEYS, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 8);
	cr_assert_eq(get_be64(b + 8), 0xb1);
	cr_assert_eq(pri(&nobs, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b + 8), 0xb1, "B still holds it");
	cr_assert_eq(b[21], WE_RO);

	expect_ua_once(&na, 0x05);
	expect_ua_once(&na2, 0x05);
	cr_assert_eq(write1(&na), SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(write1(&na2), SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(read1(&na), SAM_STAT_GOOD, "Write Exclusive: reads run");
	cr_assert_eq(write1(&nb), SAM_STAT_GOOD, "no UA, no conflict for B");
}

/*
 * §5.13.11.2.4.3 with §5.13.11.2.6: the holder's key preempts the
 * reservation too: B holds a new one of the type it asked for; A (the
 * old holder) is aborted and told REGISTRATIONS PREEMPTED; C, still
 * registered, is not aborted and learns of the type change (RESERVATIONS
 * RELEASED, §5.13.11.2.4.3 f).
 */
Test(pr, preempt_abort_holder)
{
	uint8_t b[64];

	xp_init();
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nc, REGISTER, 0, 0, 0xc1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa1, 0), SAM_STAT_GOOD);

	cr_assert_eq(pro_abort(&nb, EA_RO, 0xb1, 0xa1, false), SAM_STAT_GOOD);
	cr_assert_eq(xp.n, 1);
	cr_assert(xp_has(&na), "A's commands aborted");
	cr_assert_eq(pri(&nobs, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b + 8), 0xb1);
	cr_assert_eq(b[21], EA_RO);
	expect_ua_once(&na, 0x05);
	expect_ua_once(&nc, 0x04);
	cr_assert_eq(read1(&na), SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(read1(&nc), SAM_STAT_GOOD, "a registrant under EA_RO");
}

/*
 * §5.13.11.2.6, last paragraph: key zero under an all registrants
 * reservation aborts the commands of every other registered I_T nexus.
 */
Test(pr, preempt_abort_all_registrants_key_zero)
{
	uint8_t b[64];

	xp_init();
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nc, REGISTER, 0, 0, 0xc1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, WE_AR, 0xa1, 0), SAM_STAT_GOOD);

	cr_assert_eq(pro_abort(&nb, WE, 0xb1, 0, false), SAM_STAT_GOOD);
	cr_assert_eq(xp.n, 2);
	cr_assert(xp_has(&na) && xp_has(&nc) && !xp_has(&nb));
	cr_assert_eq(pri(&nobs, READ_KEYS, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 8);
	cr_assert_eq(pri(&nobs, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b + 8), 0xb1);
	cr_assert_eq(b[21], WE);
	expect_ua_once(&na, 0x05);
	expect_ua_once(&nc, 0x05);
}

/*
 * The holder preempting its own key (§5.13.11.2.4.3, last paragraph):
 * a new reservation, its registration kept, nobody's commands aborted
 * (its own are not preempted commands).
 */
Test(pr, preempt_abort_self)
{
	uint8_t b[64];

	xp_init();
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, RESERVE, WE, 0xb1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro_abort(&nb, EA, 0xb1, 0xb1, false), SAM_STAT_GOOD);
	cr_assert_eq(xp.n, 0);
	cr_assert_eq(pri(&nobs, READ_RESERVATION, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be64(b + 8), 0xb1);
	cr_assert_eq(b[21], EA);
}

/*
 * What PREEMPT refuses, PREEMPT AND ABORT refuses the same way
 * (§5.13.11.2.6: "identical ... responses"), nothing changed and nobody
 * aborted: a key nobody holds (RESERVATION CONFLICT), key zero without
 * an all registrants reservation (INVALID FIELD IN PARAMETER LIST), a
 * bad type when preempting the reservation (INVALID FIELD IN CDB).
 */
Test(pr, preempt_abort_refused)
{
	xp_init();
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa1, 0), SAM_STAT_GOOD);

	cr_assert_eq(pro_abort(&nb, WE, 0xb1, 0x55, false),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(xp.n, 0, "aborted commands of a failed preempt");
	pro_abort(&nb, WE, 0xb1, 0, false);
	assert_sense(0x5, 0x26, 0x00);
	cr_assert_eq(xp.n, 0);
	pro_abort(&nb, 0x2, 0xb1, 0xa1, false);
	assert_sense(0x5, 0x24, 0x00);
	cr_assert_eq(xp.n, 0);
	cr_assert_eq(generation(), 2, "nothing changed");
	cr_assert_eq(write1(&na), SAM_STAT_GOOD, "A still holds it");

	/* not registered, or the wrong key: conflict, nothing asked */
	cr_assert_eq(pro(&nc, PREEMPT_ABORT, WE, 0, 0xa1),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(pro(&nb, PREEMPT_ABORT, WE, 0xb9, 0xa1),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(xp.prepares, 3);
}

/*
 * The transport cannot take the abort now (memory, too many waiting):
 * TASK SET FULL before anything changed; it is not asked to abort.
 */
Test(pr, preempt_abort_transport_busy)
{
	xp_init();
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	xp.prepare_rc = -ENOMEM;
	cr_assert_eq(pro(&nb, PREEMPT_ABORT, WE, 0xb1, 0xa1),
		     SAM_STAT_TASK_SET_FULL);
	cr_assert_eq(xp.aborts, 0);
	cr_assert_eq(generation(), 2, "nothing changed");
	cr_assert_eq(tur(&na), SAM_STAT_GOOD, "no UA: A was not preempted");
	xp.prepare_rc = 0;
	cr_assert_eq(pro_abort(&nb, WE, 0xb1, 0xa1, false), SAM_STAT_GOOD);
	cr_assert(xp_has(&na));
}

/*
 * The transport gave up waiting (tmf_timeout; it stalled the LU): the
 * preemption stands and the command reports it.
 */
Test(pr, preempt_abort_expired)
{
	xp_init();
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro_abort(&nb, WE, 0xb1, 0xa1, true), SAM_STAT_GOOD);
	expect_ua_once(&na, 0x05);
}

/* A transport that cannot abort commands does not offer it. */
Test(pr, preempt_abort_needs_transport)
{
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	pro(&nb, PREEMPT_ABORT, WE, 0xb1, 0xa1);
	assert_sense(0x5, 0x24, 0x00);
	cr_assert_eq(generation(), 2, "nothing changed");
}

/* SPC-4 §6.35: REPORT SUPPORTED OPERATION CODES lists it. */
Test(pr, preempt_abort_reported)
{
	uint8_t c[12] = { 0xa3, 0x0c, 0x02, 0x5f, 0, PREEMPT_ABORT, 0, 0,
			  0, 64 };
	uint8_t b[64];

	memset(b, 0, sizeof(b));
	cr_assert_eq(run(&na, c, 12, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(b[1] & 0x07, 0x03, "supported, as the standard says");
	cr_assert_eq(get_be16(b + 2), 10);
	cr_assert_eq(b[4], 0x5f);
	cr_assert_eq(b[5], PREEMPT_ABORT);
}

/* --- iSCSI TransportIDs (SPC-4 §7.6.4.6) -------------------------------- */

/*
 * One TransportID: header byte 0 and 1, @body (@body_len bytes, or up to
 * and with its NUL when 0) padded with NULs to ADDITIONAL LENGTH @addlen
 * (-1: the body rounded up to 4, at least 20); the parser is given @avail
 * bytes (0: all of it).
 */
struct tid_case {
	char what[48];
	uint8_t b0, b1;
	int addlen;
	char body[240];
	size_t body_len;
	size_t avail;
	int rc;
	int fmt;
	char name[240];
	uint64_t isid;
};

/* 24 + 199 bytes: the longest iSCSI name (RFC 7143 §4.2.7.1) */
#define N223 "iqn.2024-01.org.example:" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* a TransportID that parses into @fmt_, @name_, @isid_ */
#define TID_OK(what_, b0_, add_, body_, blen_, fmt_, name_, isid_) \
	{ .what = what_, .b0 = b0_, .addlen = add_, .body = body_, \
	  .body_len = blen_, .fmt = fmt_, .name = name_, .isid = isid_ }
/* one that is refused with @rc_ when the parser has @avail_ bytes */
#define TID_BAD(what_, b0_, b1_, add_, body_, blen_, avail_, rc_) \
	{ .what = what_, .b0 = b0_, .b1 = b1_, .addlen = add_, \
	  .body = body_, .body_len = blen_, .avail = avail_, .rc = rc_ }

static struct tid_case tid_cases[] = {
	TID_OK("port", 0x45, -1, "iqn.1994-05.com.redhat:a,i,0x23d000000001",
	       0, SCSI_TID_PORT, "iqn.1994-05.com.redhat:a", 0x23d000000001),
	TID_OK("device", 0x05, -1, "iqn.1994-05.com.redhat:a", 0,
	       SCSI_TID_DEVICE, "iqn.1994-05.com.redhat:a", 0),
	TID_OK("upper-case ISID, few digits", 0x45, -1, "iqn.x:y,i,0xABC", 0,
	       SCSI_TID_PORT, "iqn.x:y", 0xabc),
	TID_OK("eui name", 0x45, -1, "eui.0123456789ABCDEF,i,0x1", 0,
	       SCSI_TID_PORT, "eui.0123456789ABCDEF", 1),
	TID_OK("naa 16", 0x05, -1, "naa.52004567BA64678D", 0, SCSI_TID_DEVICE,
	       "naa.52004567BA64678D", 0),
	TID_OK("naa 32", 0x05, -1, "naa.62004567BA64678D0123456789ABCDEF", 0,
	       SCSI_TID_DEVICE, "naa.62004567BA64678D0123456789ABCDEF", 0),
	TID_OK("shortest: ADDITIONAL LENGTH 20", 0x05, 20, "iqn.a", 0,
	       SCSI_TID_DEVICE, "iqn.a", 0),
	TID_OK("longer ADDITIONAL LENGTH, NUL padded", 0x45, 64,
	       "iqn.x:y,i,0x1", 0, SCSI_TID_PORT, "iqn.x:y", 1),
	TID_OK("bytes after the NUL are not looked at", 0x05, 20,
	       "iqn.a\0garbage,,,", 16, SCSI_TID_DEVICE, "iqn.a", 0),
	TID_OK("223-byte name", 0x05, -1, N223, 0, SCSI_TID_DEVICE, N223, 0),
	TID_OK("UTF-8 name", 0x05, -1, "iqn.2024-01.x:\xc3\xa9t\xc3\xa9", 0,
	       SCSI_TID_DEVICE, "iqn.2024-01.x:\xc3\xa9t\xc3\xa9", 0),
	TID_BAD("SAS protocol", 0x06, 0, -1, "iqn.a", 0, 0, -EPROTONOSUPPORT),
	TID_BAD("FC protocol", 0x00, 0, -1, "iqn.a", 0, 0, -EPROTONOSUPPORT),
	TID_BAD("format 10b", 0x85, 0, -1, "iqn.a", 0, 0, -EINVAL),
	TID_BAD("format 11b", 0xc5, 0, -1, "iqn.a", 0, 0, -EINVAL),
	TID_BAD("reserved bits of byte 0", 0x15, 0, -1, "iqn.a", 0, 0, -EINVAL),
	TID_BAD("reserved byte 1", 0x05, 1, -1, "iqn.a", 0, 0, -EINVAL),
	TID_BAD("ADDITIONAL LENGTH 16", 0x05, 0, 16, "iqn.a", 0, 0, -EINVAL),
	TID_BAD("ADDITIONAL LENGTH not a multiple of 4", 0x05, 0, 22, "iqn.a",
		0, 0, -EINVAL),
	TID_BAD("no NUL", 0x05, 0, 20, "iqn.aaaaaaaaaaaaaaaa", 20, 0, -EINVAL),
	TID_BAD("header cut", 0x05, 0, -1, "iqn.a", 0, 3, -EMSGSIZE),
	TID_BAD("ADDITIONAL LENGTH past the data", 0x05, 0, -1, "iqn.a", 0, 20,
		-EMSGSIZE),
	TID_BAD("port without separator", 0x45, 0, -1, "iqn.x:y", 0, 0,
		-EINVAL),
	TID_BAD("device with separator", 0x05, 0, -1, "iqn.x:y,i,0x1", 0, 0,
		-EINVAL),
	TID_BAD("separator upper case", 0x45, 0, -1, "iqn.x:y,I,0X1", 0, 0,
		-EINVAL),
	TID_BAD("separator cut", 0x45, 0, -1, "iqn.x:y,i,0", 0, 0, -EINVAL),
	TID_BAD("no ISID digits", 0x45, 0, -1, "iqn.x:y,i,0x", 0, 0, -EINVAL),
	TID_BAD("13 ISID digits", 0x45, 0, -1, "iqn.x:y,i,0x1234567890123", 0,
		0, -EINVAL),
	TID_BAD("ISID not hex", 0x45, 0, -1, "iqn.x:y,i,0x12g", 0, 0, -EINVAL),
	TID_BAD("ISID with a sign", 0x45, 0, -1, "iqn.x:y,i,0x-1", 0, 0,
		-EINVAL),
	TID_BAD("empty name", 0x45, 0, -1, ",i,0x1", 0, 0, -EINVAL),
	TID_BAD("empty device name", 0x05, 0, 20, "", 0, 0, -EINVAL),
	TID_BAD("unknown name type", 0x05, 0, -1, "iqx.1994-05.com.redhat:a", 0,
		0, -EINVAL),
	TID_BAD("space in the name", 0x05, 0, -1, "iqn.x:a b", 0, 0, -EINVAL),
	TID_BAD("control byte in the name", 0x05, 0, -1, "iqn.x:a\x01", 0, 0,
		-EINVAL),
	TID_BAD("comma in a device name", 0x05, 0, -1, "iqn.x:a,b", 0, 0,
		-EINVAL),
	TID_BAD("eui with 15 digits", 0x05, 0, -1, "eui.0123456789ABCDE", 0, 0,
		-EINVAL),
	TID_BAD("eui not hex", 0x05, 0, -1, "eui.0123456789ABCDEG", 0, 0,
		-EINVAL),
	TID_BAD("naa with 20 digits", 0x05, 0, -1, "naa.0123456789abcdef0123", 0,
		0, -EINVAL),
	TID_BAD("224-byte name", 0x05, 0, -1, N223 "a", 0, 0, -EINVAL),
	TID_BAD("overlong UTF-8", 0x05, 0, -1, "iqn.x:\xc0\xaf", 0, 0, -EINVAL),
	TID_BAD("UTF-8 surrogate", 0x05, 0, -1, "iqn.x:\xed\xa0\x80", 0, 0,
		-EINVAL),
	TID_BAD("UTF-8 cut", 0x05, 0, -1, "iqn.x:\xe2\x82", 0, 0, -EINVAL),
};

/* Writes the TransportID of @c into @b; returns its length. */
static size_t tid_build(const struct tid_case *c, uint8_t *b, size_t cap)
{
	size_t body = c->body_len ? c->body_len : strlen(c->body) + 1;
	size_t add = c->addlen >= 0 ? (size_t)c->addlen
				    : MAX((body + 3) & ~(size_t)3, (size_t)20);

	cr_assert_leq(4 + MAX(add, body), cap);
	memset(b, 0, cap);
	b[0] = c->b0;
	b[1] = c->b1;
	put_be16(b + 2, (uint16_t)add);
	memcpy(b + 4, c->body, MIN(body, add));
	return 4 + add;
}

ParameterizedTestParameters(pr, transport_id_parse)
{
	return cr_make_param_array(struct tid_case, tid_cases,
				   ARRAY_SIZE(tid_cases));
}

ParameterizedTest(struct tid_case *c, pr, transport_id_parse)
{
	uint8_t b[512];
	size_t len = tid_build(c, b, sizeof(b));
	struct scsi_tid tid;
	int rc = scsi_tid_parse(b, c->avail ? c->avail : len, &tid);

	cr_assert_eq(rc, c->rc, "%s: rc %d, want %d", c->what, rc, c->rc);
	if (rc != 0)
		return;
	cr_assert_eq(tid.len, len, "%s", c->what);
	cr_assert_eq((int)tid.format, c->fmt, "%s", c->what);
	cr_assert_str_eq(tid.name, c->name, "%s", c->what);
	cr_assert_eq(tid.isid, c->isid, "%s", c->what);
}

/* READ FULL STATUS's encoder and the parser agree (SPC-4 table 506). */
Test(pr, transport_id_round_trip)
{
	uint8_t b[300];
	struct scsi_tid tid;
	char port[256];
	uint32_t len = scsi_tid_encode(na.initiator_port, b, sizeof(b));

	cr_assert_eq(len % 4, 0);
	cr_assert_eq(scsi_tid_parse(b, len, &tid), 0);
	cr_assert_eq(tid.len, len);
	cr_assert_eq(tid.format, SCSI_TID_PORT);
	cr_assert_eq(scsi_tid_port_name(&tid, port, sizeof(port)), 0);
	cr_assert_str_eq(port, na.initiator_port);
	/* a short ISID comes back in session.c's twelve-digit spelling */
	len = scsi_tid_encode("iqn.x:y,i,0x1", b, sizeof(b));
	cr_assert_eq(len, 24, "ADDITIONAL LENGTH at least 20");
	cr_assert_eq(scsi_tid_parse(b, len, &tid), 0);
	cr_assert_eq(scsi_tid_port_name(&tid, port, sizeof(port)), 0);
	cr_assert_str_eq(port, "iqn.x:y,i,0x000000000001");
	/* a device TransportID names no port */
	len = scsi_tid_encode("iqn.x:y", b, sizeof(b));
	cr_assert_eq(scsi_tid_parse(b, len, &tid), 0);
	cr_assert_eq(tid.format, SCSI_TID_DEVICE);
	cr_assert_eq(scsi_tid_port_name(&tid, port, sizeof(port)), -EINVAL);
}

/* --- SPEC_I_PT (SPC-4 §5.13.7 tables 67, 69; §6.16.3) ------------------- */

/* PERSISTENT RESERVE OUT with the @len-byte parameter list @p */
static uint8_t pro_list(struct scsi_nexus *n, int sa, int type, uint8_t *p,
			uint32_t len)
{
	uint8_t c[10] = { 0x5f, (uint8_t)sa, (uint8_t)type };

	put_be32(c + 5, len);
	return run(n, c, 10, p, len);
}

/*
 * A REGISTER parameter list with SPEC_I_PT and the TransportIDs of the
 * initiator ports @ports (NULL-terminated) into @p; returns its length.
 */
static uint32_t spec_list(uint8_t *p, size_t cap, uint64_t key,
			  uint64_t sa_key, uint8_t flags,
			  const char *const *ports)
{
	uint32_t off = 28;

	memset(p, 0, cap);
	put_be64(p, key);
	put_be64(p + 8, sa_key);
	p[20] = 0x08 | flags;
	for (; *ports; ports++)
		off += scsi_tid_encode(*ports, p + off, (uint32_t)(cap - off));
	cr_assert_leq(off, cap);
	put_be32(p + 24, off - 28);
	return off;
}

/* The number of registered keys, READ KEYS */
static uint32_t nkeys(void)
{
	static uint8_t b[16384];

	cr_assert_eq(pri(&nobs, READ_KEYS, b, sizeof(b)), SAM_STAT_GOOD);
	return get_be32(b + 4) / 8;
}

Test(pr, spec_i_pt_registers_each_port)
{
	uint8_t p[512];
	const char *const ports[] = { nb.initiator_port, nc.initiator_port,
				      NULL };
	uint32_t len = spec_list(p, sizeof(p), 0, 0xa1, 0, ports);

	cr_assert_eq(pro_list(&na, REGISTER, 0, p, len), SAM_STAT_GOOD);
	cr_assert_eq(nkeys(), 3, "the issuer and both TransportIDs");
	cr_assert_eq(generation(), 1, "one PR OUT, one increment");
	/* B and C are registrants with the key, on the receiving port */
	cr_assert_eq(pro(&nb, RESERVE, WE, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nc, REGISTER, 0, 0xa1, 0xc1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0xa2), SAM_STAT_GOOD);
	/* same name, other ISID: not named, not registered */
	cr_assert_eq(pro(&na2, REGISTER, 0, 0xa1, 0xa3),
		     SAM_STAT_RESERVATION_CONFLICT);
}

/* iSCSI names compare case-insensitively (RFC 3722) */
Test(pr, spec_i_pt_name_case)
{
	uint8_t p[512];
	const char *const ports[] = {
		"IQN.1994-05.COM.REDHAT:B,i,0x23D000000001", NULL };
	uint32_t len = spec_list(p, sizeof(p), 0, 0xa1, 0, ports);

	cr_assert_eq(pro_list(&na, REGISTER, 0, p, len), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0xa1, 0xb1), SAM_STAT_GOOD,
		     "B's nexus is the one named");
}

struct spec_case {
	char what[48];
	char ports[3][64];
	uint32_t cut;		/* bytes taken off TRANSPORTID PARAMETER DATA
				 * LENGTH (> 0) or the CDB length (< 0 as
				 * 0x80000000 | n) */
	int sa;
	uint8_t key, asc, ascq;
};

#define PORT_A "iqn.1994-05.com.redhat:a,i,0x23d000000001"
#define PORT_B "iqn.1994-05.com.redhat:b,i,0x23d000000001"
#define PORT_OBS "iqn.1994-05.com.redhat:obs,i,0x23d000000001"

/*
 * All or nothing: each list below is refused, and neither the issuer (A)
 * nor any TransportID gets registered. C is registered beforehand.
 */
static struct spec_case spec_cases[] = {
	{ "malformed second", { PORT_B, "iqn.x:y,i,0xzz" }, 0, REGISTER,
	  0x5, 0x26, 0x00 },
	{ "duplicate", { PORT_B, PORT_B }, 0, REGISTER, 0x5, 0x26, 0x00 },
	{ "duplicate, other case", { PORT_B,
	  "iqn.1994-05.com.redhat:B,i,0x23d000000001" }, 0, REGISTER, 0x5,
	  0x26, 0x00 },
	{ "the issuer itself", { PORT_B, PORT_A }, 0, REGISTER, 0x5, 0x26,
	  0x00 },
	{ "already registered", { PORT_B,
	  "iqn.1994-05.com.redhat:c,i,0x23d000000001" }, 0, REGISTER, 0x5,
	  0x26, 0x00 },
	{ "format 00b", { PORT_B, "iqn.1994-05.com.redhat:obs" }, 0, REGISTER,
	  0x5, 0x26, 0x00 },
	{ "REGISTER AND IGNORE EXISTING KEY", { PORT_B }, 0, REGISTER_IGNORE,
	  0x5, 0x26, 0x00 },
	{ "TransportID cut by its length", { PORT_B, PORT_OBS }, 4, REGISTER,
	  0x5, 0x1a, 0x00 },
	{ "list shorter than its length", { PORT_B }, 0x80000004u, REGISTER,
	  0x5, 0x1a, 0x00 },
};

ParameterizedTestParameters(pr, spec_i_pt_all_or_nothing)
{
	return cr_make_param_array(struct spec_case, spec_cases,
				   ARRAY_SIZE(spec_cases));
}

ParameterizedTest(struct spec_case *c, pr, spec_i_pt_all_or_nothing)
{
	uint8_t p[1024];
	const char *ports[4] = { NULL };
	uint32_t len;
	uint8_t cdb[10] = { 0x5f, (uint8_t)c->sa };

	for (int i = 0; i < 3 && c->ports[i][0]; i++)
		ports[i] = c->ports[i];
	len = spec_list(p, sizeof(p), 0, 0xa1, 0, ports);

	cr_assert_eq(pro(&nc, REGISTER, 0, 0, 0xc1), SAM_STAT_GOOD);
	if (c->cut && !(c->cut & 0x80000000u))
		put_be32(p + 24, get_be32(p + 24) - c->cut);
	put_be32(cdb + 5, len - (c->cut & 0x80000000u ? c->cut & 0xffff : 0));
	run(&na, cdb, 10, p, get_be32(cdb + 5));
	assert_sense(c->key, c->asc, c->ascq);
	cr_assert_eq(nkeys(), 1, "%s: only C's registration", c->what);
	cr_assert_eq(generation(), 1, "%s", c->what);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0xa1, 0xb2),
		     SAM_STAT_RESERVATION_CONFLICT, "%s: B not registered",
		     c->what);
}

/* Table 67: SPEC_I_PT from a registered I_T nexus */
Test(pr, spec_i_pt_from_registrant)
{
	uint8_t p[512];
	const char *const ports[] = { PORT_B, NULL };
	uint32_t len;

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	len = spec_list(p, sizeof(p), 0xa1, 0xa2, 0, ports);
	pro_list(&na, REGISTER, 0, p, len);
	assert_sense(0x5, 0x26, 0x00);
	/* with the wrong key it is a conflict first */
	len = spec_list(p, sizeof(p), 0xa9, 0xa2, 0, ports);
	cr_assert_eq(pro_list(&na, REGISTER, 0, p, len),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(nkeys(), 1);
	cr_assert_eq(generation(), 1);
	/* unregistered with a non-zero RESERVATION KEY: conflict */
	len = spec_list(p, sizeof(p), 0x5, 0xc1, 0, ports);
	cr_assert_eq(pro_list(&nc, REGISTER, 0, p, len),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(nkeys(), 1);
}

/* --- ALL_TG_PT (SPC-4 §6.16.3, table 69) -------------------------------- */

/* Adds port group 2 to the target; *@n2 is @n through its port */
static void second_port(struct scsi_nexus *n2, const struct scsi_nexus *n)
{
	cr_assert_eq(scsi_port_groups_add(tgt.port_groups, 2,
					  SCSI_ALUA_ACTIVE_OPTIMIZED), 0);
	nexus_init(n2, n->initiator_port);
	n2->rel_port_id = 2;
}

/* The descriptors of READ FULL STATUS: (rel port, flags byte 12) of each */
static unsigned full_status(uint16_t *rel, uint8_t *flags, uint64_t *key,
			    unsigned max)
{
	static uint8_t b[16384];
	uint32_t total, off;
	unsigned n = 0;

	cr_assert_eq(pri(&nobs, READ_FULL_STATUS, b, sizeof(b)),
		     SAM_STAT_GOOD);
	total = get_be32(b + 4);
	for (off = 8; off < 8 + total && n < max; n++) {
		key[n] = get_be64(b + off);
		flags[n] = b[off + 12];
		rel[n] = get_be16(b + off + 18);
		off += 24 + get_be32(b + off + 20);
	}
	return n;
}

Test(pr, all_tg_pt_two_port_groups)
{
	struct scsi_nexus a2;
	uint16_t rel[8];
	uint8_t fl[8];
	uint64_t key[8];
	unsigned n;

	second_port(&a2, &na);
	cr_assert_eq(pro_len(&na, REGISTER, 0, 0, 0xa1, 0x04, 24),
		     SAM_STAT_GOOD);
	cr_assert_eq(generation(), 1);
	n = full_status(rel, fl, key, 8);
	cr_assert_eq(n, 2, "one I_T nexus per target port");
	cr_assert(rel[0] + rel[1] == 3 && rel[0] != rel[1], "ports 1 and 2");
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(fl[i] & 0x02, 0x02, "ALL_TG_PT");
		cr_assert_eq(key[i], 0xa1);
	}
	/* A through port 2 is registered: it may reserve with the key */
	cr_assert_eq(pro(&a2, RESERVE, EA, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(read1(&a2), SAM_STAT_GOOD, "the holder");
	cr_assert_eq(read1(&na), SAM_STAT_RESERVATION_CONFLICT,
		     "port 1 is another I_T nexus, not the holder");
	cr_assert_eq(pro(&a2, RELEASE, EA, 0xa1, 0), SAM_STAT_GOOD);
	/* a key change with ALL_TG_PT reaches both */
	cr_assert_eq(pro_len(&na, REGISTER, 0, 0xa1, 0xa2, 0x04, 24),
		     SAM_STAT_GOOD);
	cr_assert_eq(pro(&a2, REGISTER, 0, 0xa2, 0xa2), SAM_STAT_GOOD);
	/* and unregistering with it removes both */
	cr_assert_eq(pro_len(&na, REGISTER_IGNORE, 0, 0, 0, 0x04, 24),
		     SAM_STAT_GOOD);
	cr_assert_eq(nkeys(), 0);
	/* without ALL_TG_PT only the receiving port */
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	n = full_status(rel, fl, key, 8);
	cr_assert_eq(n, 1);
	cr_assert_eq(rel[0], 1);
	cr_assert_eq(fl[0] & 0x02, 0, "ALL_TG_PT 0");
}

/* "as if received individually through each target port": all or nothing */
Test(pr, all_tg_pt_conflict_on_another_port)
{
	struct scsi_nexus a2;

	second_port(&a2, &na);
	cr_assert_eq(pro(&a2, REGISTER, 0, 0, 0xa7), SAM_STAT_GOOD);
	/* unregistered on port 1, registered with 0xa7 on port 2 */
	cr_assert_eq(pro_len(&na, REGISTER, 0, 0, 0xa1, 0x04, 24),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(nkeys(), 1);
	cr_assert_eq(generation(), 1);
	/* REGISTER AND IGNORE EXISTING KEY sets it on both */
	cr_assert_eq(pro_len(&na, REGISTER_IGNORE, 0, 0, 0xa1, 0x04, 24),
		     SAM_STAT_GOOD);
	cr_assert_eq(nkeys(), 2);
	cr_assert_eq(pro(&a2, REGISTER, 0, 0xa1, 0xa1), SAM_STAT_GOOD);
}

/* SPEC_I_PT and ALL_TG_PT: each TransportID on each target port */
Test(pr, spec_i_pt_all_tg_pt)
{
	struct scsi_nexus b2;
	uint8_t p[512];
	const char *const ports[] = { PORT_B, NULL };
	uint32_t len = spec_list(p, sizeof(p), 0, 0xa1, 0x04, ports);

	second_port(&b2, &nb);
	cr_assert_eq(pro_list(&na, REGISTER, 0, p, len), SAM_STAT_GOOD);
	cr_assert_eq(nkeys(), 4);
	cr_assert_eq(pro(&b2, REGISTER, 0, 0xa1, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0xa1, 0xb1), SAM_STAT_GOOD);
}

/* --- REGISTER AND MOVE (SPC-4 §5.13.8, §6.16.4) ------------------------- */

/*
 * PR OUT REGISTER AND MOVE from @n: the I_T nexus of initiator port
 * @port on target port @rtpi, @flags in byte 17.
 */
static uint8_t move(struct scsi_nexus *n, uint64_t key, uint64_t sa_key,
		    uint8_t flags, uint16_t rtpi, const char *port)
{
	uint8_t p[300] = { 0 };
	uint32_t tl;

	put_be64(p, key);
	put_be64(p + 8, sa_key);
	p[17] = flags;
	put_be16(p + 18, rtpi);
	tl = scsi_tid_encode(port, p + 24, sizeof(p) - 24);
	put_be32(p + 20, tl);
	return pro_list(n, REGISTER_MOVE, 0, p, 24 + tl);
}

static uint64_t holder_key(uint8_t *type)
{
	uint8_t b[24];

	cr_assert_eq(pri(&nobs, READ_RESERVATION, b, sizeof(b)),
		     SAM_STAT_GOOD);
	*type = get_be32(b + 4) ? b[21] : 0;
	return get_be32(b + 4) ? get_be64(b + 8) : 0;
}

Test(pr, register_and_move)
{
	static uint8_t w[512];
	uint8_t cw[10] = { 0x2a, [8] = 1 }, type;

	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa1, 0), SAM_STAT_GOOD);
	/* SCOPE and TYPE of the CDB are ignored: the type stays WE */
	cr_assert_eq(move(&na, 0xa1, 0xb1, 0, 1, PORT_B), SAM_STAT_GOOD);
	cr_assert_eq(generation(), 2, "REGISTER AND MOVE increments it");
	cr_assert_eq(holder_key(&type), 0xb1);
	cr_assert_eq(type, WE);
	cr_assert_eq(run(&nb, cw, 10, w, 512), SAM_STAT_GOOD, "B holds it");
	cr_assert_eq(run(&na, cw, 10, w, 512), SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(nkeys(), 2, "UNREG 0: A stays registered");
	cr_assert_eq(pro(&na, REGISTER, 0, 0xa1, 0xa1), SAM_STAT_GOOD);
	/* B moves it back with UNREG: B's registration goes, A holds */
	cr_assert_eq(move(&nb, 0xb1, 0xa5, 0x02, 1, PORT_A), SAM_STAT_GOOD);
	cr_assert_eq(holder_key(&type), 0xa5,
		     "an already registered destination takes the new key");
	cr_assert_eq(nkeys(), 1);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0xb1, 0),
		     SAM_STAT_RESERVATION_CONFLICT, "B is unregistered");
	cr_assert_eq(run(&na, cw, 10, w, 512), SAM_STAT_GOOD);
	/* no unit attention for anybody */
	cr_assert_eq(tur(&na), SAM_STAT_GOOD);
	cr_assert_eq(tur(&nb), SAM_STAT_GOOD);
}

/* The destination I_T nexus may be on another target port. */
Test(pr, register_and_move_to_other_port)
{
	struct scsi_nexus b2;
	uint16_t rel[4];
	uint8_t fl[4];
	uint64_t key[4];
	unsigned n;

	second_port(&b2, &nb);
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, EA, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(move(&na, 0xa1, 0xb1, 0x02, 2, PORT_B), SAM_STAT_GOOD);
	cr_assert_eq(read1(&b2), SAM_STAT_GOOD, "B through port 2 holds it");
	cr_assert_eq(read1(&nb), SAM_STAT_RESERVATION_CONFLICT,
		     "B through port 1 does not");
	n = full_status(rel, fl, key, 4);
	cr_assert_eq(n, 1);
	cr_assert_eq(rel[0], 2, "RELATIVE TARGET PORT IDENTIFIER");
	cr_assert_eq(fl[0] & 0x01, 0x01, "R_HOLDER");
	cr_assert_eq(key[0], 0xb1);
}

struct move_case {
	char what[56];
	int setup;		/* 0: A holds WE; 1: no reservation; 2: A
				 * holds WE_AR; 3: B holds WE */
	char from;		/* 'a', 'b', 'c' */
	uint64_t key, sa_key;
	uint8_t flags, rsvd;
	uint16_t rtpi;
	char port[64];
	int tl_delta;		/* added to TRANSPORTID LENGTH */
	int len_delta;		/* added to the PARAMETER LIST LENGTH */
	uint8_t status, key_, asc, ascq;
};

static struct move_case move_cases[] = {
	{ "unregistered issuer", 0, 'c', 0, 0xc1, 0, 0, 1, PORT_B, 0, 0,
	  SAM_STAT_RESERVATION_CONFLICT, 0, 0, 0 },
	{ "wrong key", 0, 'a', 0xa9, 0xb1, 0, 0, 1, PORT_B, 0, 0,
	  SAM_STAT_RESERVATION_CONFLICT, 0, 0, 0 },
	{ "no reservation", 1, 'a', 0xa1, 0xb1, 0, 0, 1, PORT_B, 0, 0,
	  SAM_STAT_CHECK_CONDITION, 0x5, 0x24, 0x00 },
	{ "not the holder", 3, 'a', 0xa1, 0xc1, 0, 0, 1, PORT_OBS, 0, 0,
	  SAM_STAT_RESERVATION_CONFLICT, 0, 0, 0 },
	{ "all registrants type", 2, 'a', 0xa1, 0xc1, 0, 0, 1, PORT_OBS, 0, 0,
	  SAM_STAT_RESERVATION_CONFLICT, 0, 0, 0 },
	{ "SERVICE ACTION RESERVATION KEY zero", 0, 'a', 0xa1, 0, 0, 0, 1,
	  PORT_B, 0, 0, SAM_STAT_CHECK_CONDITION, 0x5, 0x26, 0x00 },
	{ "to the issuer's own port", 0, 'a', 0xa1, 0xa2, 0, 0, 1, PORT_A, 0, 0,
	  SAM_STAT_CHECK_CONDITION, 0x5, 0x26, 0x00 },
	{ "to the issuer's port on another target port", 0, 'a', 0xa1, 0xa2, 0,
	  0, 2, PORT_A, 0, 0, SAM_STAT_CHECK_CONDITION, 0x5, 0x26, 0x00 },
	{ "unknown relative target port", 0, 'a', 0xa1, 0xb1, 0, 0, 99, PORT_B,
	  0, 0, SAM_STAT_CHECK_CONDITION, 0x5, 0x26, 0x00 },
	{ "format 00b TransportID", 0, 'a', 0xa1, 0xb1, 0, 0, 1,
	  "iqn.1994-05.com.redhat:b", 0, 0, SAM_STAT_CHECK_CONDITION, 0x5,
	  0x26, 0x00 },
	{ "malformed TransportID", 0, 'a', 0xa1, 0xb1, 0, 0, 1,
	  "iqn.1994-05.com.redhat:b,i,0xno", 0, 0, SAM_STAT_CHECK_CONDITION,
	  0x5, 0x26, 0x00 },
	{ "APTPL", 0, 'a', 0xa1, 0xb1, 0x01, 0, 1, PORT_B, 0, 0,
	  SAM_STAT_CHECK_CONDITION, 0x5, 0x26, 0x00 },
	{ "bit 2 of byte 17 (reserved; ALL_TG_PT elsewhere)", 0, 'a', 0xa1,
	  0xb1, 0x04, 0, 1, PORT_B, 0, 0, SAM_STAT_CHECK_CONDITION, 0x5, 0x26,
	  0x00 },
	{ "reserved byte 16", 0, 'a', 0xa1, 0xb1, 0, 0x80, 1, PORT_B, 0, 0,
	  SAM_STAT_CHECK_CONDITION, 0x5, 0x26, 0x00 },
	{ "TRANSPORTID LENGTH cuts the TransportID", 0, 'a', 0xa1, 0xb1, 0, 0,
	  1, PORT_B, -4, -4, SAM_STAT_CHECK_CONDITION, 0x5, 0x1a, 0x00 },
	{ "TRANSPORTID LENGTH past the list", 0, 'a', 0xa1, 0xb1, 0, 0, 1,
	  PORT_B, 4, 0, SAM_STAT_CHECK_CONDITION, 0x5, 0x1a, 0x00 },
	{ "TRANSPORTID LENGTH longer than the TransportID", 0, 'a', 0xa1, 0xb1,
	  0, 0, 1, PORT_B, 4, 4, SAM_STAT_CHECK_CONDITION, 0x5, 0x26, 0x00 },
	{ "list shorter than 24", 0, 'a', 0xa1, 0xb1, 0, 0, 1, PORT_B, 0, -60,
	  SAM_STAT_CHECK_CONDITION, 0x5, 0x1a, 0x00 },
};

ParameterizedTestParameters(pr, register_and_move_refused)
{
	return cr_make_param_array(struct move_case, move_cases,
				   ARRAY_SIZE(move_cases));
}

ParameterizedTest(struct move_case *c, pr, register_and_move_refused)
{
	struct scsi_nexus a2;
	uint8_t p[300] = { 0 }, type, want_type;
	uint64_t want_holder;
	uint32_t tl, gen;

	second_port(&a2, &na);
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	if (c->setup != 1)
		cr_assert_eq(pro(c->setup == 3 ? &nb : &na, RESERVE,
				 c->setup == 2 ? WE_AR : WE,
				 c->setup == 3 ? 0xb1 : 0xa1, 0),
			     SAM_STAT_GOOD);
	want_holder = holder_key(&want_type);
	gen = generation();
	put_be64(p, c->key);
	put_be64(p + 8, c->sa_key);
	p[16] = c->rsvd;
	p[17] = c->flags;
	put_be16(p + 18, c->rtpi);
	tl = scsi_tid_encode(c->port, p + 24, sizeof(p) - 24);
	put_be32(p + 20, (uint32_t)((int)tl + c->tl_delta));
	pro_list(c->from == 'a' ? &na : c->from == 'b' ? &nb : &nc,
		 REGISTER_MOVE, 0, p,
		 (uint32_t)(24 + (int)tl + c->len_delta));
	cr_assert_eq(task.status, c->status, "%s: status %#x", c->what,
		     task.status);
	if (c->status == SAM_STAT_CHECK_CONDITION)
		assert_sense(c->key_, c->asc, c->ascq);
	cr_assert_eq(generation(), gen, "%s: nothing changed", c->what);
	cr_assert_eq(nkeys(), 2, "%s", c->what);
	cr_assert_eq(holder_key(&type), want_holder, "%s", c->what);
	cr_assert_eq(type, want_type, "%s", c->what);
}

/* REPORT SUPPORTED OPERATION CODES lists REGISTER AND MOVE (SPC-4 §6.35) */
Test(pr, rsoc_register_and_move)
{
	uint8_t c[12] = { 0xa3, 0x0c, 0x02, 0x5f, 0x00, 0x07, [9] = 32 };
	uint8_t b[32];

	cr_assert_eq(run(&na, c, 12, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(b[1] & 0x07, 0x03, "SUPPORT 011b: supported");
	cr_assert_eq(b[4], 0x5f);
	cr_assert_eq(b[5], 0x07);
}

/* --- the registration cap ----------------------------------------------- */

/*
 * Past SCSI_PR_MAX_REGS registrations, REGISTER, SPEC_I_PT and REGISTER
 * AND MOVE answer INSUFFICIENT REGISTRATION RESOURCES (5/55/04, SPC-4
 * §5.13.7, §5.13.8) and change nothing.
 */
Test(pr, registration_cap)
{
	static struct scsi_nexus many;
	uint8_t p[512];
	const char *const ports[] = { PORT_B, NULL };
	uint32_t len, gen;

	for (unsigned i = 0; i < SCSI_PR_MAX_REGS - 2; i++) {
		char port[80];

		snprintf(port, sizeof(port), "iqn.2024-01.x:h%u,i,0x1", i);
		nexus_init(&many, port);
		cr_assert_eq(pro(&many, REGISTER, 0, 0, i + 1), SAM_STAT_GOOD,
			     "registration %u", i);
	}
	cr_assert_eq(pro(&na, REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, RESERVE, WE, 0xa1, 0), SAM_STAT_GOOD);
	gen = generation();
	/* one left: A's SPEC_I_PT for B needs two (A is registered: use C) */
	len = spec_list(p, sizeof(p), 0, 0xc1, 0, ports);
	pro_list(&nc, REGISTER, 0, p, len);
	assert_sense(0x5, 0x55, 0x04);
	cr_assert_eq(generation(), gen);
	cr_assert_eq(nkeys(), SCSI_PR_MAX_REGS - 1);
	/* the last one */
	cr_assert_eq(pro(&nb, REGISTER_IGNORE, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(nkeys(), SCSI_PR_MAX_REGS);
	pro(&nc, REGISTER, 0, 0, 0xc1);
	assert_sense(0x5, 0x55, 0x04);
	pro(&nc, REGISTER_IGNORE, 0, 0, 0xc1);
	assert_sense(0x5, 0x55, 0x04);
	move(&na, 0xa1, 0xc1, 0, 1, nc.initiator_port);
	assert_sense(0x5, 0x55, 0x04);
	cr_assert_eq(nkeys(), SCSI_PR_MAX_REGS);
	cr_assert_eq(generation(), gen + 1);
	/* changing a key or unregistering still works at the cap */
	cr_assert_eq(pro(&nb, REGISTER, 0, 0xb1, 0xb2), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, REGISTER, 0, 0xb2, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nc, REGISTER, 0, 0, 0xc1), SAM_STAT_GOOD);
}

/* SPC-4 §4.5.2.4.2: the field pointer names the refused TransportID */
Test(pr, spec_i_pt_field_pointer)
{
	uint8_t p[512];
	const char *const ports[] = { PORT_B, "iqn.x:y,i,0xzz", NULL };
	uint32_t len = spec_list(p, sizeof(p), 0, 0xa1, 0, ports);
	uint32_t first = 4 + (((uint32_t)strlen(PORT_B) + 1 + 3) & ~3u);

	pro_list(&na, REGISTER, 0, p, len);
	assert_sense(0x5, 0x26, 0x00);
	cr_assert_eq(task.sense[15] & 0xc0, 0x80, "SKSV, C/D 0 (parameter)");
	cr_assert_eq(get_be16(task.sense + 16), 28 + first,
		     "the second TransportID's first byte");
}
