/*
 * test_alua.c - asymmetric logical unit access (SPC-4 §5.15) through
 * scsi_task_prepare/exec on a RAM-backed LU: REPORT / SET TARGET PORT
 * GROUPS data, INQUIRY TPGS, the VPD 0x83 port designators, what each
 * state allows, and the ASYMMETRIC ACCESS STATE CHANGED unit attention.
 *
 * The target shares a table of two groups: 1 (active/optimized) and 2
 * (active/non-optimized); nexus a uses port 1, nexus b port 2.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backing/bs.h"
#include "base/base.h"
#include "scsi/scsi.h"

#define TGT_NAME "iqn.2024-01.org.example:alua"

static struct scsi_target tgt;
static struct scsi_port_groups groups;
static struct scsi_nexus na, nb;
static struct scsi_lu *disk;
static int done_calls;

static void task_done(struct scsi_task *t)
{
	(void)t;
	done_calls++;
}

static void nexus_init(struct scsi_nexus *n, uint16_t port)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->initiator_port, sizeof(n->initiator_port),
		 "iqn.1994-05.com.redhat:x,i,0x%u", port);
	n->rel_port_id = port;
	n->target = &tgt;
}

static void setup(void)
{
	struct bs_open_args a = { .size = 1 << 20 };
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 0,
		.bs = bs_open(&bs_ram_ops, NULL, &a), .target_name = TGT_NAME,
	};

	scsi_target_init(&tgt, TGT_NAME);
	scsi_port_groups_init(&groups);
	cr_assert_eq(scsi_port_groups_add(&groups, 1,
					  SCSI_ALUA_ACTIVE_OPTIMIZED), 0);
	cr_assert_eq(scsi_port_groups_add(&groups, 2,
					  SCSI_ALUA_ACTIVE_NON_OPTIMIZED), 0);
	tgt.port_groups = &groups;
	nexus_init(&na, 1);
	nexus_init(&nb, 2);
	cr_assert_not_null(cfg.bs);
	disk = scsi_lu_new(&cfg);
	cr_assert_not_null(disk);
	cr_assert_eq(scsi_target_add_lu(&tgt, disk), 0);
	done_calls = 0;
}

static void teardown(void)
{
	scsi_target_destroy(&tgt);
	scsi_port_groups_destroy(&groups);
}

static enum sense_reason prep(struct scsi_task *t, struct scsi_nexus *n,
			      const uint8_t *cdb, size_t len)
{
	memset(t, 0, sizeof(*t));
	t->nexus = n;
	t->lu = disk;
	memcpy(t->cdb, cdb, len);
	t->exp_len = 4096;
	t->done = task_done;
	return scsi_task_prepare(t);
}

/* prepare + exec with @buf of @buf_len bytes; returns the status */
static uint8_t run(struct scsi_task *t, struct scsi_nexus *n,
		   const uint8_t *cdb, size_t len, uint8_t *buf,
		   uint32_t buf_len)
{
	int before = done_calls;

	if (prep(t, n, cdb, len) != SENSE_NONE)
		return t->status;
	t->buf = buf;
	t->buf_len = MIN(buf_len, t->data_len);
	scsi_task_exec(t);
	cr_assert_eq(done_calls, before + 1, "done called once");
	return t->status;
}

static void assert_sense(const struct scsi_task *t, uint8_t key, uint8_t asc,
			 uint8_t ascq)
{
	cr_assert_eq(t->status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(t->sense[2] & 0x0f, key, "key %x", t->sense[2]);
	cr_assert_eq(t->sense[12], asc, "asc %02x", t->sense[12]);
	cr_assert_eq(t->sense[13], ascq, "ascq %02x", t->sense[13]);
}

/* REPORT TARGET PORT GROUPS, parameter data format @fmt */
static uint8_t rtpg(struct scsi_task *t, struct scsi_nexus *n, uint8_t fmt,
		    uint8_t *b, uint32_t alloc)
{
	uint8_t c[12] = { 0xa3, (uint8_t)(fmt << 5 | 0x0a) };

	put_be32(c + 6, alloc);
	return run(t, n, c, 12, b, alloc);
}

/* SET TARGET PORT GROUPS with @plen bytes of @param */
static uint8_t stpg(struct scsi_task *t, struct scsi_nexus *n,
		    uint8_t *param, uint32_t plen)
{
	uint8_t c[12] = { 0xa4, 0x0a };

	put_be32(c + 6, plen);
	return run(t, n, c, 12, param, plen);
}

static uint8_t tur(struct scsi_task *t, struct scsi_nexus *n)
{
	uint8_t c[6] = { 0 };

	return run(t, n, c, 6, NULL, 0);
}

/* The RTPG descriptor of group @tag in @b (length-only format), or NULL. */
static const uint8_t *rtpg_group(const uint8_t *b, uint16_t tag)
{
	uint32_t end = 4 + get_be32(b);

	for (uint32_t off = 4; off + 8 <= end; off += 8 + 4 * b[off + 7])
		if (get_be16(b + off + 2) == tag)
			return b + off;
	return NULL;
}

TestSuite(alua, .init = setup, .fini = teardown);

/* SPC-4 §6.4.2: TPGS=11b (implicit and explicit ALUA) */
Test(alua, inquiry_tpgs)
{
	uint8_t c[6] = { 0x12, 0, 0, 0, 96, 0 };
	uint8_t b[96];
	struct scsi_task t;

	cr_assert_eq(run(&t, &na, c, 6, b, 96), SAM_STAT_GOOD);
	cr_assert_eq((b[5] >> 4) & 3, 3, "TPGS %x", b[5]);
}

/* SPC-4 §7.8.6.6.7-8: the port designators name the nexus's port */
Test(alua, vpd83_port_designators)
{
	uint8_t c[6] = { 0x12, 0x01, 0x83, 0, 255, 0 };
	uint8_t b[255];
	struct scsi_task t;
	int rel = -1, tpg = -1;

	cr_assert_eq(run(&t, &nb, c, 6, b, 255), SAM_STAT_GOOD);
	for (uint32_t off = 4; off + 4 <= 4u + get_be16(b + 2);
	     off += 4 + b[off + 3]) {
		const uint8_t *d = b + off;

		if ((d[1] & 0x30) != 0x10)	/* target port association */
			continue;
		cr_assert_eq(d[0] & 0x0f, 1, "binary code set");
		cr_assert_eq(d[3], 4);
		if ((d[1] & 0x0f) == 4)
			rel = get_be16(d + 6);
		if ((d[1] & 0x0f) == 5)
			tpg = get_be16(d + 6);
	}
	cr_assert_eq(rel, 2, "relative target port %d", rel);
	cr_assert_eq(tpg, 2, "target port group %d", tpg);
}

/* SPC-4 §6.37, length-only header: every group, state, supported states,
 * its relative target ports */
Test(alua, rtpg_length_only)
{
	uint8_t b[256];
	struct scsi_task t;
	const uint8_t *g1, *g2;

	memset(b, 0xee, sizeof(b));
	cr_assert_eq(rtpg(&t, &na, 0, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 2 * 12, "RETURN DATA LENGTH");
	cr_assert_eq(t.xfer_len, 4 + 2 * 12);
	g1 = rtpg_group(b, 1);
	g2 = rtpg_group(b, 2);
	cr_assert_not_null(g1);
	cr_assert_not_null(g2);
	cr_assert_eq(g1[0] & 0x0f, 0x0, "active/optimized");
	cr_assert_eq(g2[0] & 0x0f, 0x1, "active/non-optimized");
	/* T_SUP=0 O_SUP=0 U_SUP S_SUP AN_SUP AO_SUP */
	cr_assert_eq(g1[1], 0x0f);
	cr_assert_eq(g2[1], 0x0f);
	cr_assert_eq(g1[7], 1, "target port count");
	cr_assert_eq(get_be16(g1 + 10), 1, "relative target port of group 1");
	cr_assert_eq(get_be16(g2 + 10), 2, "relative target port of group 2");
	cr_assert_eq(b[4 + 24], 0xee, "nothing past the data");
}

/* SPC-4 §6.37, extended header: FORMAT TYPE 001b, the return data length
 * counts the four header bytes after it */
Test(alua, rtpg_extended)
{
	uint8_t b[256];
	struct scsi_task t;

	cr_assert_eq(rtpg(&t, &na, 1, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 4 + 2 * 12);
	cr_assert_eq((b[4] >> 4) & 7, 1, "FORMAT TYPE");
	cr_assert_eq(t.xfer_len, 8 + 2 * 12);
	cr_assert_eq(get_be16(b + 8 + 2), 1);
	cr_assert_eq(get_be16(b + 8 + 12 + 2), 2);
}

Test(alua, rtpg_truncated_and_bad_format)
{
	uint8_t b[256];
	struct scsi_task t;

	cr_assert_eq(rtpg(&t, &na, 0, b, 4), SAM_STAT_GOOD);
	cr_assert_eq(t.xfer_len, 4);
	cr_assert_eq(get_be32(b), 24, "full length even when truncated");
	/* formats 010b-111b are reserved */
	rtpg(&t, &na, 2, b, sizeof(b));
	assert_sense(&t, 0x5, 0x24, 0x00);
}

/* SPC-4 §6.42 and §5.15.2.3: the change shows in RTPG (STATUS CODE 01h),
 * the sender gets no UA, every other nexus that used the LU gets 2A/06
 * once, a nexus that meets the LU later gets none */
Test(alua, stpg_changes_state_and_raises_ua)
{
	uint8_t p[8] = { 0, 0, 0, 0, SCSI_ALUA_STANDBY, 0, 0, 2 };
	uint8_t b[256];
	struct scsi_task t;
	static struct scsi_nexus late;
	enum scsi_alua_state st;

	cr_assert_eq(tur(&t, &na), SAM_STAT_GOOD);
	cr_assert_eq(tur(&t, &nb), SAM_STAT_GOOD);
	cr_assert_eq(stpg(&t, &na, p, sizeof(p)), SAM_STAT_GOOD);
	cr_assert_eq(scsi_port_groups_get_state(&groups, 2, &st), 0);
	cr_assert_eq(st, SCSI_ALUA_STANDBY);

	cr_assert_eq(rtpg(&t, &na, 0, b, sizeof(b)), SAM_STAT_GOOD);
	cr_assert_eq(rtpg_group(b, 2)[0] & 0x0f, SCSI_ALUA_STANDBY);
	cr_assert_eq(rtpg_group(b, 2)[5], 0x01, "altered by STPG");

	cr_assert_eq(tur(&t, &na), SAM_STAT_GOOD, "no UA for the sender");
	tur(&t, &nb);
	assert_sense(&t, 0x6, 0x2a, 0x06);
	/* reported once; then nb's port is in standby */
	tur(&t, &nb);
	assert_sense(&t, 0x2, 0x04, 0x0b);

	nexus_init(&late, 1);
	cr_assert_eq(tur(&t, &late), SAM_STAT_GOOD);
}

/* SPC-4 §6.42: any bad descriptor fails the command and changes nothing */
Test(alua, stpg_invalid)
{
	/* a valid descriptor, then group 9 which does not exist */
	uint8_t unknown[12] = { 0, 0, 0, 0, SCSI_ALUA_STANDBY, 0, 0, 1,
				SCSI_ALUA_STANDBY, 0, 0, 9 };
	/* 0xe: offline, a state we do not support */
	uint8_t offline[8] = { 0, 0, 0, 0, 0x0e, 0, 0, 1 };
	uint8_t partial[6] = { 0, 0, 0, 0, 1, 0 };
	struct scsi_task t;
	enum scsi_alua_state st;

	stpg(&t, &na, unknown, sizeof(unknown));
	assert_sense(&t, 0x5, 0x26, 0x00);
	stpg(&t, &na, offline, sizeof(offline));
	assert_sense(&t, 0x5, 0x26, 0x00);
	stpg(&t, &na, partial, sizeof(partial));
	assert_sense(&t, 0x5, 0x1a, 0x00);
	cr_assert_eq(scsi_port_groups_get_state(&groups, 1, &st), 0);
	cr_assert_eq(st, SCSI_ALUA_ACTIVE_OPTIMIZED, "group 1 unchanged");
	/* an empty parameter list is not an error (SPC-4 §6.42) */
	cr_assert_eq(stpg(&t, &na, NULL, 0), SAM_STAT_GOOD);
}

/* An implicit change (ringtgtadm) raises the UA on every nexus, also on
 * the group that did not change; setting the same state raises none */
Test(alua, implicit_change_ua)
{
	struct scsi_task t;

	cr_assert_eq(tur(&t, &na), SAM_STAT_GOOD);
	cr_assert_eq(tur(&t, &nb), SAM_STAT_GOOD);
	cr_assert_eq(scsi_port_groups_set_state(&groups, 2,
					SCSI_ALUA_ACTIVE_NON_OPTIMIZED), 0);
	cr_assert_eq(tur(&t, &na), SAM_STAT_GOOD, "no change, no UA");
	cr_assert_eq(scsi_port_groups_set_state(&groups, 1,
						SCSI_ALUA_UNAVAILABLE), 0);
	tur(&t, &na);
	assert_sense(&t, 0x6, 0x2a, 0x06);
	tur(&t, &nb);
	assert_sense(&t, 0x6, 0x2a, 0x06);
	cr_assert_eq(tur(&t, &nb), SAM_STAT_GOOD);
	tur(&t, &na);
	assert_sense(&t, 0x2, 0x04, 0x0c);
	cr_assert_eq(scsi_port_groups_set_state(&groups, 7,
						SCSI_ALUA_STANDBY), -ENOENT);
	cr_assert_eq(scsi_port_groups_set_state(&groups, 1, 9), -EINVAL);
}

/* INQUIRY neither reports nor clears the UA; REQUEST SENSE returns it */
Test(alua, ua_inquiry_request_sense)
{
	uint8_t inq[6] = { 0x12, 0, 0, 0, 96, 0 };
	uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	uint8_t b[96];
	struct scsi_task t;

	cr_assert_eq(tur(&t, &na), SAM_STAT_GOOD);
	cr_assert_eq(scsi_port_groups_set_state(&groups, 2,
						SCSI_ALUA_STANDBY), 0);
	cr_assert_eq(run(&t, &na, inq, 6, b, 96), SAM_STAT_GOOD);
	cr_assert_eq(run(&t, &na, rs, 6, b, 18), SAM_STAT_GOOD);
	cr_assert_eq(b[2] & 0x0f, 0x6);
	cr_assert_eq(b[12], 0x2a);
	cr_assert_eq(b[13], 0x06);
	cr_assert_eq(tur(&t, &na), SAM_STAT_GOOD, "cleared by REQUEST SENSE");
}

/*
 * SPC-4 §5.15.2.4.4 (standby) and §5.15.2.4.5 (unavailable): which of
 * our commands run through a port in each state. Both active states
 * allow everything.
 */
/* no pointers: Criterion copies the parameters into the test's process */
struct access_case {
	char name[32];
	uint8_t cdb[16];
	uint8_t len;
	bool standby;		/* allowed in standby */
	bool unavailable;	/* allowed in unavailable */
};

static struct access_case access_cases[] = {
	{ "TEST UNIT READY", { 0x00 }, 6, false, false },
	{ "READ(10)", { 0x28, 0, 0, 0, 0, 0, 0, 0, 1 }, 10, false, false },
	{ "WRITE(10)", { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1 }, 10, false, false },
	{ "READ CAPACITY(10)", { 0x25 }, 10, false, false },
	{ "SYNCHRONIZE CACHE(10)", { 0x35 }, 10, false, false },
	{ "REPORT SUPPORTED OPCODES", { 0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 2 },
	  12, false, false },
	{ "MODE SENSE(6)", { 0x1a, 0, 0x3f, 0, 0xff }, 6, true, false },
	{ "MODE SENSE(10)", { 0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 0xff }, 10,
	  true, false },
	{ "INQUIRY", { 0x12, 0, 0, 0, 96 }, 6, true, true },
	{ "REPORT LUNS", { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1 }, 12, true, true },
	{ "REQUEST SENSE", { 0x03, 0, 0, 0, 18 }, 6, true, true },
	{ "REPORT TARGET PORT GROUPS", { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1 },
	  12, true, true },
	{ "SET TARGET PORT GROUPS", { 0xa4, 0x0a }, 12, true, true },
};

ParameterizedTestParameters(alua, access_by_state)
{
	return cr_make_param_array(struct access_case, access_cases,
				   ARRAY_SIZE(access_cases));
}

ParameterizedTest(struct access_case *c, alua, access_by_state)
{
	static const enum scsi_alua_state states[] = {
		SCSI_ALUA_ACTIVE_OPTIMIZED, SCSI_ALUA_ACTIVE_NON_OPTIMIZED,
		SCSI_ALUA_STANDBY, SCSI_ALUA_UNAVAILABLE,
	};
	uint8_t rs[6] = { 0x03, 0, 0, 0, 18, 0 };
	uint8_t b[18];
	struct scsi_task t;

	for (unsigned i = 0; i < ARRAY_SIZE(states); i++) {
		enum sense_reason want = SENSE_NONE, got;

		cr_assert_eq(scsi_port_groups_set_state(&groups, 1,
							states[i]), 0);
		/* REQUEST SENSE consumes the state change UA */
		cr_assert_eq(run(&t, &na, rs, 6, b, 18), SAM_STAT_GOOD);
		cr_assert_eq(scsi_ua_pending(disk, &na), SENSE_NONE);
		if (states[i] == SCSI_ALUA_STANDBY && !c->standby)
			want = SENSE_ALUA_STANDBY;
		if (states[i] == SCSI_ALUA_UNAVAILABLE && !c->unavailable)
			want = SENSE_ALUA_UNAVAILABLE;
		got = prep(&t, &na, c->cdb, c->len);
		cr_assert_eq(got, want, "%s in state %s: reason %d, want %d",
			     c->name, scsi_alua_state_name(states[i]), got,
			     want);
		if (want == SENSE_ALUA_STANDBY)
			assert_sense(&t, 0x2, 0x04, 0x0b);
		if (want == SENSE_ALUA_UNAVAILABLE)
			assert_sense(&t, 0x2, 0x04, 0x0c);
	}
}

Test(alua, state_names)
{
	enum scsi_alua_state st;

	for (unsigned s = 0; s < 4; s++) {
		cr_assert_eq(scsi_alua_state_parse(scsi_alua_state_name(s),
						   &st), 0);
		cr_assert_eq(st, s);
	}
	cr_assert_eq(scsi_alua_state_parse("offline", &st), -EINVAL);
	cr_assert_eq(scsi_port_groups_add(&groups, 2, SCSI_ALUA_STANDBY),
		     -EEXIST);
	cr_assert_eq(scsi_port_groups_add(&groups, 0, SCSI_ALUA_STANDBY),
		     -EINVAL);
}
