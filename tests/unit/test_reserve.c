/*
 * test_reserve.c - SPC-2 RESERVE / RELEASE (6) and (10) through
 * scsi_task_prepare/exec on a RAM-backed LU (synchronous): who may reserve
 * and release, which commands other I_T nexuses may still run (SPC-2
 * §5.5.1, table 10), and what ends a reservation (I_T nexus loss, session
 * end, LOGICAL UNIT RESET, target reset).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backing/bs.h"
#include "base/base.h"
#include "scsi/scsi.h"

#define TGT_NAME "iqn.2024-01.org.example:disk1"
#define PORT_A "iqn.1994-05.com.redhat:a,i,0x23d000000001"
#define PORT_B "iqn.1994-05.com.redhat:b,i,0x23d000000001"

static struct scsi_target tgt;
static struct scsi_lu *disk;	/* LUN 0 */
/* A and B: two initiators; A2: A's nexus again (a second session object) */
static struct scsi_nexus na, na2, nb;
static int done_calls;

static void task_done(struct scsi_task *t)
{
	(void)t;
	done_calls++;
}

static void nexus_init(struct scsi_nexus *n, const char *port, uint16_t rel)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->initiator_port, sizeof(n->initiator_port), "%s", port);
	n->rel_port_id = rel;
	n->target = &tgt;
}

static void setup(void)
{
	struct bs_open_args a = { .size = 1 << 20 };
	struct bs *bs = bs_open(&bs_ram_ops, NULL, &a);
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 0, .bs = bs,
		.target_name = TGT_NAME,
	};

	cr_assert_not_null(bs);
	scsi_target_init(&tgt, TGT_NAME);
	disk = scsi_lu_new(&cfg);
	cr_assert_not_null(disk);
	cr_assert_eq(scsi_target_add_lu(&tgt, disk), 0);
	nexus_init(&na, PORT_A, 1);
	nexus_init(&na2, PORT_A, 1);
	nexus_init(&nb, PORT_B, 1);
	done_calls = 0;
}

static void teardown(void)
{
	scsi_target_destroy(&tgt);
}

TestSuite(reserve, .init = setup, .fini = teardown);

/* Runs @cdb from nexus @n as a transport does; returns the status. */
static uint8_t run_from(struct scsi_task *t, struct scsi_nexus *n,
			const uint8_t *cdb, size_t len, uint8_t *buf,
			uint32_t exp_len)
{
	int before = done_calls;

	memset(t, 0, sizeof(*t));
	t->nexus = n;
	t->lu = disk;
	memcpy(t->cdb, cdb, len);
	t->exp_len = exp_len;
	t->done = task_done;
	if (scsi_task_prepare(t) != SENSE_NONE)
		return t->status;
	t->buf = buf;
	t->buf_len = MIN(exp_len, t->data_len);
	scsi_task_exec(t);
	cr_assert_eq(done_calls, before + 1, "done called once");
	return t->status;
}

static const uint8_t reserve6[6] = { 0x16 };
static const uint8_t release6[6] = { 0x17 };
static const uint8_t reserve10[10] = { 0x56 };
static const uint8_t release10[10] = { 0x57 };
static const uint8_t tur[6] = { 0x00 };

static uint8_t cmd(struct scsi_nexus *n, const uint8_t *cdb, size_t len)
{
	struct scsi_task t;

	return run_from(&t, n, cdb, len, NULL, 0);
}

/* RESERVATION CONFLICT carries no sense data (SAM-5 §5.3.1) */
static void assert_conflict(struct scsi_nexus *n, const uint8_t *cdb,
			    size_t len)
{
	struct scsi_task t;

	cr_assert_eq(run_from(&t, n, cdb, len, NULL, 0),
		     SAM_STAT_RESERVATION_CONFLICT, "opcode %02x: status %02x",
		     cdb[0], t.status);
	cr_assert_eq(t.sense_len, 0);
}

/* SPC-2 §7.21.2, §7.23.2: one holder; RESERVE by it again is GOOD, by
 * another nexus a conflict; RELEASE by a non-holder is GOOD and changes
 * nothing. */
struct form { uint8_t res[10], rel[10]; size_t len; };

static struct form forms[] = {
	{ { 0x16 }, { 0x17 }, 6 },
	{ { 0x56 }, { 0x57 }, 10 },
};

ParameterizedTestParameters(reserve, holder_and_other)
{
	return cr_make_param_array(struct form, forms, ARRAY_SIZE(forms));
}

ParameterizedTest(struct form *f, reserve, holder_and_other)
{
	cr_assert_eq(cmd(&na, f->res, f->len), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&na, f->res, f->len), SAM_STAT_GOOD, "holder again");
	/* the same I_T nexus through another session object is the holder */
	cr_assert_eq(cmd(&na2, f->res, f->len), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&na2, tur, 6), SAM_STAT_GOOD);

	assert_conflict(&nb, f->res, f->len);
	cr_assert_eq(cmd(&nb, f->rel, f->len), SAM_STAT_GOOD, "no-op release");
	assert_conflict(&nb, tur, 6);		/* still A's */
	assert_conflict(&nb, f->res, f->len);
	cr_assert_eq(cmd(&na, tur, 6), SAM_STAT_GOOD);

	cr_assert_eq(cmd(&na, f->rel, f->len), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&nb, tur, 6), SAM_STAT_GOOD, "released");
	cr_assert_eq(cmd(&nb, f->res, f->len), SAM_STAT_GOOD);
	assert_conflict(&na, tur, 6);
	cr_assert_eq(cmd(&nb, f->rel, f->len), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&na, tur, 6), SAM_STAT_GOOD);
}

/* The 6- and 10-byte forms act on the same reservation. */
Test(reserve, six_and_ten_mix)
{
	cr_assert_eq(cmd(&na, reserve6, 6), SAM_STAT_GOOD);
	assert_conflict(&nb, reserve10, 10);
	cr_assert_eq(cmd(&na, reserve10, 10), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&na, release10, 10), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&nb, reserve10, 10), SAM_STAT_GOOD);
	assert_conflict(&na, reserve6, 6);
	cr_assert_eq(cmd(&nb, release6, 6), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&na, reserve6, 6), SAM_STAT_GOOD);
}

/* The I_T nexus is initiator port (name + ISID) and target port: another
 * ISID of the same initiator, or another target port, is another nexus. */
Test(reserve, nexus_identity)
{
	static struct scsi_nexus isid2, port2;

	nexus_init(&isid2, "iqn.1994-05.com.redhat:a,i,0x23d000000002", 1);
	nexus_init(&port2, PORT_A, 2);
	cr_assert_eq(cmd(&na, reserve6, 6), SAM_STAT_GOOD);
	assert_conflict(&isid2, tur, 6);
	assert_conflict(&port2, tur, 6);
	cr_assert_eq(cmd(&na2, tur, 6), SAM_STAT_GOOD);
}

/*
 * SPC-2 §5.5.1 table 10, logical unit reservation column: what another
 * I_T nexus may still run. Allowed: INQUIRY, REQUEST SENSE, REPORT LUNS,
 * RELEASE; REPORT SUPPORTED OPERATION CODES and REPORT SUPPORTED TASK
 * MANAGEMENT FUNCTIONS (SPC-3 on) only describe the device server, as
 * INQUIRY does. Everything that reads, writes or senses the medium or
 * its modes conflicts, TEST UNIT READY and MODE SENSE included.
 */
struct access_case {
	char name[40];	/* arrays only: parameters cross a process boundary */
	uint8_t cdb[16];
	uint8_t len;
	uint32_t exp_len;
	bool allowed;
};

static struct access_case access_cases[] = {
	{ "INQUIRY", { 0x12, 0, 0, 0, 96 }, 6, 96, true },
	{ "REQUEST SENSE", { 0x03, 0, 0, 0, 18 }, 6, 18, true },
	{ "REPORT LUNS", { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 12, 256, true },
	{ "RELEASE(6)", { 0x17 }, 6, 0, true },
	{ "RELEASE(10)", { 0x57 }, 10, 0, true },
	{ "REPORT SUPPORTED OPERATION CODES",
	  { 0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 4, 0 }, 12, 1024, true },
	{ "REPORT SUPPORTED TMFS",
	  { 0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 16 }, 12, 16, true },
	{ "TEST UNIT READY", { 0x00 }, 6, 0, false },
	{ "RESERVE(6)", { 0x16 }, 6, 0, false },
	{ "RESERVE(10)", { 0x56 }, 10, 0, false },
	{ "MODE SENSE(6)", { 0x1a, 0, 0x3f, 0, 255 }, 6, 255, false },
	{ "MODE SENSE(10)", { 0x5a, 0, 0x3f, 0, 0, 0, 0, 1, 0 }, 10, 256,
	  false },
	{ "READ CAPACITY(10)", { 0x25 }, 10, 8, false },
	{ "READ CAPACITY(16)", { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				 32 }, 16, 32, false },
	{ "READ(6)", { 0x08, 0, 0, 0, 1 }, 6, 512, false },
	{ "READ(10)", { 0x28, 0, 0, 0, 0, 0, 0, 0, 1 }, 10, 512, false },
	{ "WRITE(10)", { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1 }, 10, 512, false },
	{ "WRITE(16)", { 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 16,
	  512, false },
	{ "VERIFY(10)", { 0x2f, 0, 0, 0, 0, 0, 0, 0, 1 }, 10, 0, false },
	{ "SYNCHRONIZE CACHE(10)", { 0x35 }, 10, 0, false },
	{ "UNMAP", { 0x42, 0, 0, 0, 0, 0, 0, 0, 24 }, 10, 24, false },
	{ "WRITE SAME(16)", { 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	  16, 512, false },
	{ "COMPARE AND WRITE", { 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	  16, 1024, false },
	{ "PRE-FETCH(10)", { 0x34 }, 10, 0, false },
	{ "GET LBA STATUS", { 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			      32 }, 16, 32, false },
};

ParameterizedTestParameters(reserve, access_table)
{
	return cr_make_param_array(struct access_case, access_cases,
				   ARRAY_SIZE(access_cases));
}

ParameterizedTest(struct access_case *c, reserve, access_table)
{
	static uint8_t buf[4096];
	struct scsi_task t;
	uint8_t st;

	cr_assert_eq(cmd(&na, reserve6, 6), SAM_STAT_GOOD);
	memset(buf, 0, sizeof(buf));
	st = run_from(&t, &nb, c->cdb, c->len, buf, c->exp_len);
	if (c->allowed)
		cr_assert_neq(st, SAM_STAT_RESERVATION_CONFLICT,
			      "%s from another nexus: conflict", c->name);
	else
		cr_assert_eq(st, SAM_STAT_RESERVATION_CONFLICT,
			     "%s from another nexus: status %02x", c->name,
			     st);
	/* the holder is never in conflict with itself */
	memset(buf, 0, sizeof(buf));
	st = run_from(&t, &na, c->cdb, c->len, buf, c->exp_len);
	cr_assert_neq(st, SAM_STAT_RESERVATION_CONFLICT,
		      "%s from the holder: conflict", c->name);
}

/* A command from another nexus received before the RESERVE but run after
 * it (e.g. waiting for its data) is checked again. */
Test(reserve, checked_again_at_exec)
{
	uint8_t w[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1 };
	static uint8_t buf[512];
	struct scsi_task t;

	memset(&t, 0, sizeof(t));
	t.nexus = &nb;
	t.lu = disk;
	memcpy(t.cdb, w, sizeof(w));
	t.exp_len = 512;
	t.done = task_done;
	cr_assert_eq(scsi_task_prepare(&t), SENSE_NONE);
	cr_assert_eq(cmd(&na, reserve6, 6), SAM_STAT_GOOD);
	t.buf = buf;
	t.buf_len = 512;
	scsi_task_exec(&t);
	cr_assert_eq(t.status, SAM_STAT_RESERVATION_CONFLICT);
}

/* SPC-2 §5.5.1: I_T nexus loss (I_T NEXUS RESET) of the holder ends the
 * reservation; that of another nexus does not. */
Test(reserve, released_on_nexus_loss)
{
	struct scsi_task t;

	cr_assert_eq(cmd(&na, reserve6, 6), SAM_STAT_GOOD);
	scsi_nexus_loss(&nb);
	/* B first hears of its own nexus loss (29/07), then the conflict */
	cr_assert_eq(run_from(&t, &nb, tur, 6, NULL, 0),
		     SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(t.sense[12], 0x29);
	cr_assert_eq(t.sense[13], 0x07);
	assert_conflict(&nb, reserve6, 6);
	scsi_nexus_loss(&na);
	cr_assert_eq(cmd(&nb, reserve6, 6), SAM_STAT_GOOD);
}

/* The session ended (logout, connection loss): the same. */
Test(reserve, released_on_session_end)
{
	cr_assert_eq(cmd(&na, reserve10, 10), SAM_STAT_GOOD);
	scsi_nexus_end(&nb);
	assert_conflict(&nb, tur, 6);
	scsi_nexus_end(&na);
	cr_assert_eq(cmd(&nb, tur, 6), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&nb, reserve10, 10), SAM_STAT_GOOD);
}

/* Session reinstatement: the new session of A's nexus renews the
 * reservation before the old session's end is processed; that late end
 * must not drop the reservation the new session holds. */
Test(reserve, late_end_of_reinstated_session)
{
	cr_assert_eq(cmd(&na, reserve6, 6), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&na2, reserve6, 6), SAM_STAT_GOOD);
	scsi_nexus_end(&na);
	assert_conflict(&nb, tur, 6);
	scsi_nexus_end(&na2);
	cr_assert_eq(cmd(&nb, tur, 6), SAM_STAT_GOOD);
}

/* SAM-5 §6.3, SPC-2 §5.5.1: LOGICAL UNIT RESET and target resets release
 * the reservation (the holder then sees the reset's unit attention). */
Test(reserve, released_on_lu_reset)
{
	cr_assert_eq(cmd(&na, reserve6, 6), SAM_STAT_GOOD);
	scsi_lu_reset(disk);
	cr_assert_eq(cmd(&nb, reserve6, 6), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&na, tur, 6), SAM_STAT_CHECK_CONDITION, "29/03 UA");
	assert_conflict(&na, tur, 6);
}

Test(reserve, released_on_target_reset)
{
	cr_assert_eq(cmd(&na, reserve10, 10), SAM_STAT_GOOD);
	scsi_target_reset(&tgt);
	cr_assert_eq(cmd(&nb, reserve10, 10), SAM_STAT_GOOD);
}

/* SPC-2 §7.21-7.24: no third-party (3RDPTY, LONGID) and no extent
 * reservations: INVALID FIELD IN CDB, with the field pointer, and the LU
 * stays unreserved. */
struct bad_case {
	uint8_t cdb[10];
	uint8_t len;
	uint8_t byte;		/* field pointer */
	int bit;		/* -1: none */
};

static struct bad_case bad_cases[] = {
	{ { 0x16, 0x10 }, 6, 1, 4 },		/* RESERVE(6) 3RDPTY */
	{ { 0x16, 0x01 }, 6, 1, 0 },		/* RESERVE(6) EXTENT */
	{ { 0x17, 0x10 }, 6, 1, 4 },		/* RELEASE(6) 3RDPTY */
	{ { 0x17, 0x01 }, 6, 1, 0 },		/* RELEASE(6) EXTENT */
	{ { 0x56, 0x10 }, 10, 1, 4 },		/* RESERVE(10) 3RDPTY */
	{ { 0x56, 0x02 }, 10, 1, 1 },		/* RESERVE(10) LONGID */
	{ { 0x56, 0, 0, 0, 0, 0, 0, 0, 8 }, 10, 7, -1 },  /* parameter data */
	{ { 0x57, 0x10 }, 10, 1, 4 },		/* RELEASE(10) 3RDPTY */
	{ { 0x57, 0x02 }, 10, 1, 1 },		/* RELEASE(10) LONGID */
	{ { 0x57, 0, 0, 0, 0, 0, 0, 0, 8 }, 10, 7, -1 },
	{ { 0x16, 0, 0, 0, 0, 0x04 }, 6, 5, 2 },	/* NACA */
};

ParameterizedTestParameters(reserve, invalid_fields)
{
	return cr_make_param_array(struct bad_case, bad_cases,
				   ARRAY_SIZE(bad_cases));
}

ParameterizedTest(struct bad_case *c, reserve, invalid_fields)
{
	struct scsi_task t;

	cr_assert_eq(run_from(&t, &na, c->cdb, c->len, NULL, 0),
		     SAM_STAT_CHECK_CONDITION, "opcode %02x byte 1 %02x",
		     c->cdb[0], c->cdb[1]);
	cr_assert_eq(t.sense[2] & 0x0f, 0x5);
	cr_assert_eq(t.sense[12], 0x24);
	cr_assert_eq(t.sense[13], 0x00);
	/* sense-key specific: SKSV, C/D=1, BPV, bit pointer, field pointer */
	cr_assert_eq(t.sense[15], 0x80 | 0x40 |
		     (c->bit >= 0 ? 0x08 | c->bit : 0), "SKS %02x",
		     t.sense[15]);
	cr_assert_eq(get_be16(t.sense + 16), c->byte);
	cr_assert_eq(cmd(&nb, tur, 6), SAM_STAT_GOOD, "not reserved");
}

/* SPC-4 §6.35: the four commands are reported, with their CDB size. */
Test(reserve, reported_by_rsoc)
{
	static const uint8_t ops[] = { 0x16, 0x17, 0x56, 0x57 };
	uint8_t b[64];
	struct scsi_task t;

	for (unsigned i = 0; i < ARRAY_SIZE(ops); i++) {
		uint8_t c[12] = { 0xa3, 0x0c, 0x01, ops[i], 0, 0, 0, 0, 0,
				  64 };

		memset(b, 0, sizeof(b));
		cr_assert_eq(run_from(&t, &na, c, 12, b, 64), SAM_STAT_GOOD);
		cr_assert_eq(b[1] & 0x07, 0x03, "%02x supported", ops[i]);
		cr_assert_eq(get_be16(b + 2), ops[i] < 0x20 ? 6 : 10);
		cr_assert_eq(b[4], ops[i], "usage data opcode");
	}
}

/* --- with persistent reservations (SPC-2 §5.5.1, SPC-3 §5.6.3) ---------- */

enum { PR_REGISTER = 0, PR_RESERVE = 1, PR_RELEASE = 2 };
enum { PR_WE = 1, PR_WE_RO = 5, PR_EA_AR = 8 };

/* PERSISTENT RESERVE OUT (24-byte parameter list) from @n */
static uint8_t pro(struct scsi_nexus *n, int sa, int type, uint64_t key,
		   uint64_t sa_key)
{
	uint8_t c[10] = { 0x5f, (uint8_t)sa, (uint8_t)type, [8] = 24 };
	uint8_t p[24] = { 0 };
	struct scsi_task t;

	put_be64(p, key);
	put_be64(p + 8, sa_key);
	return run_from(&t, n, c, 10, p, 24);
}

/* PERSISTENT RESERVE IN READ RESERVATION: the holder's key (0: none) */
static uint64_t pr_holder_key(struct scsi_nexus *n)
{
	uint8_t c[10] = { 0x5e, 0x01, [8] = 24 };
	uint8_t b[24];
	struct scsi_task t;

	memset(b, 0, sizeof(b));
	cr_assert_eq(run_from(&t, n, c, 10, b, 24), SAM_STAT_GOOD);
	return get_be32(b + 4) ? get_be64(b + 8) : 0;
}

/* WRITE(10) of one block, no data yet: refused at prepare if at all */
static const uint8_t write10[10] = { 0x2a, [8] = 1 };

/* READ(10) of block 0 */
static uint8_t read1(struct scsi_nexus *n)
{
	static uint8_t b[512];
	uint8_t c[10] = { 0x28, [8] = 1 };
	struct scsi_task t;

	return run_from(&t, n, c, 10, b, sizeof(b));
}

/*
 * SPC-2 §5.5.1: while an I_T nexus is registered, every RESERVE and
 * RELEASE conflicts, whoever sends it, with or without a persistent
 * reservation, unless an exception below applies.
 */
ParameterizedTestParameters(reserve, registrations_conflict)
{
	return cr_make_param_array(struct form, forms, ARRAY_SIZE(forms));
}

ParameterizedTest(struct form *f, reserve, registrations_conflict)
{
	cr_assert_eq(pro(&na, PR_REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	assert_conflict(&na, f->res, f->len);	/* the registrant */
	assert_conflict(&nb, f->res, f->len);	/* anyone else */
	assert_conflict(&na, f->rel, f->len);
	assert_conflict(&nb, f->rel, f->len);
	/* the RESERVE established nothing */
	cr_assert_eq(cmd(&nb, tur, 6), SAM_STAT_GOOD);
	/* registered through another I_T nexus under Write Exclusive, not
	 * the holder: no exception */
	cr_assert_eq(pro(&nb, PR_REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, PR_RESERVE, PR_WE, 0xa1, 0), SAM_STAT_GOOD);
	assert_conflict(&nb, f->res, f->len);
	assert_conflict(&nb, f->rel, f->len);
	/* the last registration gone: SPC-2 applies again */
	cr_assert_eq(pro(&nb, PR_REGISTER, 0, 0xb1, 0), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, PR_REGISTER, 0, 0xa1, 0), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&nb, f->res, f->len), SAM_STAT_GOOD);
	assert_conflict(&na, tur, 6);
}

/*
 * SPC-3 §5.6.3 (SPC-4 §5.13.3 for RELEASE): from a) the persistent
 * reservation holder or b) a registrant under a registrants only / all
 * registrants reservation, RESERVE and RELEASE complete GOOD, establish
 * no reservation and release no persistent reservation.
 */
struct exc_case {
	struct form f;
	int type;
	bool from_holder;	/* else from B, a registrant */
};

static struct exc_case exc_cases[] = {
	{ { { 0x16 }, { 0x17 }, 6 }, PR_WE, true },
	{ { { 0x56 }, { 0x57 }, 10 }, PR_WE, true },
	{ { { 0x16 }, { 0x17 }, 6 }, PR_WE_RO, true },
	{ { { 0x16 }, { 0x17 }, 6 }, PR_WE_RO, false },
	{ { { 0x56 }, { 0x57 }, 10 }, PR_WE_RO, false },
	{ { { 0x56 }, { 0x57 }, 10 }, PR_EA_AR, false },
};

ParameterizedTestParameters(reserve, pr_exceptions)
{
	return cr_make_param_array(struct exc_case, exc_cases,
				   ARRAY_SIZE(exc_cases));
}

ParameterizedTest(struct exc_case *c, reserve, pr_exceptions)
{
	static struct scsi_nexus nc;
	struct scsi_nexus *from = c->from_holder ? &na : &nb;

	nexus_init(&nc, "iqn.1994-05.com.redhat:c,i,0x23d000000001", 1);
	cr_assert_eq(pro(&na, PR_REGISTER, 0, 0, 0xa1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, PR_REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(pro(&na, PR_RESERVE, c->type, 0xa1, 0), SAM_STAT_GOOD);

	cr_assert_eq(cmd(from, c->f.res, c->f.len), SAM_STAT_GOOD);
	/* no SPC-2 reservation: C (not registered) still reads under the
	 * Write Exclusive types, and PR IN still answers it */
	if (c->type != PR_EA_AR)
		cr_assert_eq(read1(&nc), SAM_STAT_GOOD, "RESERVE took effect");
	cr_assert_eq(pr_holder_key(&nc), c->type == PR_EA_AR ? 0 : 0xa1);
	cr_assert_eq(cmd(from, c->f.rel, c->f.len), SAM_STAT_GOOD);
	cr_assert_eq(cmd(&na, c->f.rel, c->f.len), SAM_STAT_GOOD);
	/* the persistent reservation is still there */
	cr_assert_eq(read1(&nc), c->type == PR_EA_AR ?
		     SAM_STAT_RESERVATION_CONFLICT : SAM_STAT_GOOD);
	cr_assert_eq(cmd(&nc, write10, 10), SAM_STAT_RESERVATION_CONFLICT,
		     "the persistent reservation was released");
	/* a nexus the exceptions do not cover: conflict (SPC-2 §5.5.1) */
	assert_conflict(&nc, c->f.res, c->f.len);
	assert_conflict(&nc, c->f.rel, c->f.len);
}

/*
 * SPC-2 §5.5.1: while the LU is reserved with RESERVE, every PERSISTENT
 * RESERVE IN and OUT conflicts, regardless of initiator or service
 * action: the holder's too. Released, they work.
 */
Test(reserve, pr_commands_conflict)
{
	uint8_t in[10] = { 0x5e, 0x00, [8] = 8 };
	uint8_t caps[10] = { 0x5e, 0x02, [8] = 8 };
	uint8_t b[8];
	struct scsi_task t;

	cr_assert_eq(cmd(&na, reserve6, 6), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, PR_REGISTER, 0, 0, 0xb1),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(pro(&na, PR_REGISTER, 0, 0, 0xa1),
		     SAM_STAT_RESERVATION_CONFLICT, "the holder's PR OUT");
	cr_assert_eq(run_from(&t, &na, in, 10, b, 8),
		     SAM_STAT_RESERVATION_CONFLICT, "the holder's PR IN");
	cr_assert_eq(run_from(&t, &nb, caps, 10, b, 8),
		     SAM_STAT_RESERVATION_CONFLICT);
	cr_assert_eq(cmd(&na, release6, 6), SAM_STAT_GOOD);
	cr_assert_eq(pro(&nb, PR_REGISTER, 0, 0, 0xb1), SAM_STAT_GOOD);
	cr_assert_eq(run_from(&t, &na, caps, 10, b, 8), SAM_STAT_GOOD);
	/* SPC-4 §6.15.4: CRH, the exceptions above are ours */
	cr_assert_eq(b[2] & 0x10, 0x10, "CRH");
}

/*
 * RESERVE and REGISTER racing on two threads, in loops: the two kinds
 * exclude each other (SPC-2 §5.5.1), so each thread always undoes what
 * it got (RELEASE, unregister). Were both to succeed at once, each undo
 * would conflict from then on.
 */
#define RR_MS 500		/* how long each thread loops */

static void rr_done(struct scsi_task *t)
{
	(void)t;
}

/* Runs @cdb from @n on this thread (run_from() counts completions in a
 * variable of the main thread); returns the status. */
static uint8_t rr_run(struct scsi_nexus *n, const uint8_t *cdb, size_t len,
		      uint8_t *buf, uint32_t exp_len)
{
	struct scsi_task t;

	memset(&t, 0, sizeof(t));
	t.nexus = n;
	t.lu = disk;
	memcpy(t.cdb, cdb, len);
	t.exp_len = exp_len;
	t.done = rr_done;
	if (scsi_task_prepare(&t) != SENSE_NONE)
		return t.status;
	t.buf = buf;
	t.buf_len = MIN(exp_len, t.data_len);
	scsi_task_exec(&t);
	return t.status;
}

static uint64_t rr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* RESERVE, and RELEASE when it was granted; the number of failed RELEASEs */
static void *rr_reserver(void *arg)
{
	uint64_t end = rr_now_ms() + RR_MS;
	int *bad = arg;

	while (rr_now_ms() < end)
		if (rr_run(&na, reserve6, 6, NULL, 0) == SAM_STAT_GOOD &&
		    rr_run(&na, release6, 6, NULL, 0) != SAM_STAT_GOOD)
			(*bad)++;
	return NULL;
}

Test(reserve, races_register, .timeout = 60)
{
	uint8_t c[10] = { 0x5f, PR_REGISTER, [8] = 24 };
	uint8_t reg[24] = { 0 }, unreg[24] = { 0 };
	int bad_release = 0, bad_unregister = 0;
	uint64_t end = rr_now_ms() + RR_MS;
	pthread_t th;

	put_be64(reg + 8, 0xb1);
	put_be64(unreg, 0xb1);
	cr_assert_eq(pthread_create(&th, NULL, rr_reserver, &bad_release), 0);
	while (rr_now_ms() < end)
		if (rr_run(&nb, c, 10, reg, 24) == SAM_STAT_GOOD &&
		    rr_run(&nb, c, 10, unreg, 24) != SAM_STAT_GOOD)
			bad_unregister++;
	pthread_join(th, NULL);
	cr_assert_eq(bad_release + bad_unregister, 0,
		     "RESERVE and REGISTER both held: %d RELEASE and %d "
		     "unregister refused", bad_release, bad_unregister);
}
