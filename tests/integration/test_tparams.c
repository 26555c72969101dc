/*
 * test_tparams.c - a target's own iSCSI parameters (issue 12: tgt's
 * per-target session parameters, `tgtadm --mode target --op update --name
 * K --value V`), in process (inproc.h) over the raw initiator, on both
 * event loops:
 *
 *  - a login to the target after the change negotiates from the target's
 *    values, each key by its RFC 7143 §13 rule (min, max, OR, AND, the
 *    digest list, the declared MaxRecvDataSegmentLength);
 *  - a login to another target still gets the daemon's values;
 *  - a session logged in before the change keeps what it negotiated: the
 *    64 KiB of immediate data its FirstBurstLength allowed are still
 *    taken, while the new session's 4096 refuses 8 KiB (RFC 7143 §13.14,
 *    UNEXPECTED UNSOLICITED DATA);
 *  - MaxXmitDataSegmentLength caps the Data-In PDUs of a new session.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "core/core.h"
#include "inproc.h"
#include "iscsi/iscsi.h"

#define OTHER_IQN "iqn.2024-01.org.ringtgt:other"

/* What every login of this test offers (RFC 7143 §13 keys). */
#define OFFER(digest)                                                       \
	"HeaderDigest=" digest "\0DataDigest=None\0ImmediateData=Yes\0"     \
	"InitialR2T=No\0MaxRecvDataSegmentLength=262144\0"                  \
	"MaxBurstLength=262144\0FirstBurstLength=65536\0"                   \
	"MaxOutstandingR2T=8\0DefaultTime2Wait=2\0ErrorRecoveryLevel=0\0"   \
	"MaxConnections=1\0"

static void down(void)
{
	inproc_down();
}

static void set_param(const char *iqn, const char *name, const char *value)
{
	struct core_err err = { "" };

	cr_assert_eq(core_target_param_set(iqn, name, value, &err), 0,
		     "%s=%s: %s", name, value, err.msg);
}

/* Logs in to @iqn offering @kv; the response's keys into @out. */
static void login(struct ri *ri, const char *iqn, const char *kv, size_t len,
		  char *out, size_t cap)
{
	int rc;

	memset(ri, 0, sizeof(*ri));
	cr_assert_eq(ri_connect(ri, inproc.port), 0);
	rc = ri_login_offer(ri, iqn, INPROC_INITIATOR, kv, len, out, cap);
	cr_assert_eq(rc, 0, "login to %s: %d", iqn, rc);
}

static void expect_key(const char *keys, const char *line)
{
	char want[128];

	snprintf(want, sizeof(want), "\n%s\n", line);
	/* keys has one pair a line; look for the whole line */
	{
		char *all = NULL;

		cr_assert(asprintf(&all, "\n%s", keys) > 0);
		cr_expect(strstr(all, want), "want %s in the login response:\n%s",
			  line, keys);
		free(all);
	}
}

/* A WRITE(10) of @len bytes, all immediate, on LUN 1: its SAM status. */
static int write_immediate(struct ri *ri, uint32_t len, uint8_t *asc)
{
	static uint8_t buf[65536];
	struct ri_result res = { .status = -1 };
	uint8_t bhs[BHS_LEN], cdb[10];
	uint32_t itt;

	inproc_fill(buf, len, 7);
	ri_cdb_rw10(cdb, true, 0, (uint16_t)(len / INPROC_BLK));
	ri_build_scsi_cmd(ri, bhs, 1, cdb, 10, CMD_W, len);
	itt = get_be32(bhs + BHS_ITT);
	cr_assert_eq(ri_send(ri, bhs, buf, len), 0);
	cr_assert_eq(ri_wait_cmd(ri, itt, NULL, 0, &res, 5000, NULL), 0,
		     "no answer to the write");
	*asc = res.asc;
	return res.status;
}

ParameterizedTestParameters(tparams, next_login_only)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, tparams, next_login_only,
		  .fini = down, .timeout = 60)
{
	static const char plain[] = OFFER("None");
	static const char crc[] = OFFER("CRC32C,None");
	struct core_lun_spec ctl = { .type = SCSI_LU_CONTROLLER };
	struct core_err err = { "" };
	struct ri old, fresh, other;
	char keys[4096];
	uint8_t asc = 0;

	inproc_up(*kind, 0, 0);
	cr_assert_eq(core_target_add(OTHER_IQN, 0, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(core_lun_add(OTHER_IQN, 0, &ctl, &err), 0, "%s", err.msg);
	cr_assert_eq(core_acl_add(OTHER_IQN, "ALL", &err), 0, "%s", err.msg);

	/* before any change: the daemon's values */
	login(&old, INPROC_IQN, plain, sizeof(plain) - 1, keys, sizeof(keys));
	expect_key(keys, "FirstBurstLength=65536");
	expect_key(keys, "InitialR2T=No");

	set_param(INPROC_IQN, "FirstBurstLength", "4096");
	set_param(INPROC_IQN, "MaxBurstLength", "16384");
	set_param(INPROC_IQN, "InitialR2T", "Yes");
	set_param(INPROC_IQN, "ImmediateData", "Yes");
	set_param(INPROC_IQN, "HeaderDigest", "None");
	set_param(INPROC_IQN, "MaxRecvDataSegmentLength", "16384");
	set_param(INPROC_IQN, "MaxOutstandingR2T", "2");
	set_param(INPROC_IQN, "DefaultTime2Wait", "5");
	set_param(INPROC_IQN, "maxxmitdatasegmentlength", "4096");

	/* the next login to the target: each key by its rule */
	login(&fresh, INPROC_IQN, crc, sizeof(crc) - 1, keys, sizeof(keys));
	expect_key(keys, "FirstBurstLength=4096");	/* §13.14 min */
	expect_key(keys, "MaxBurstLength=16384");	/* §13.13 min */
	expect_key(keys, "InitialR2T=Yes");		/* §13.10 OR */
	expect_key(keys, "ImmediateData=Yes");		/* §13.11 AND */
	expect_key(keys, "HeaderDigest=None");		/* §13.1 list */
	expect_key(keys, "MaxRecvDataSegmentLength=16384"); /* §13.12 */
	expect_key(keys, "MaxOutstandingR2T=2");	/* §13.17 min */
	expect_key(keys, "DefaultTime2Wait=5");		/* §13.15 max */
	cr_expect_eq(fresh.tgt_mrdsl, 16384u);

	/* another target: the daemon's values */
	login(&other, OTHER_IQN, crc, sizeof(crc) - 1, keys, sizeof(keys));
	expect_key(keys, "FirstBurstLength=65536");
	expect_key(keys, "MaxBurstLength=262144");
	expect_key(keys, "InitialR2T=No");
	expect_key(keys, "HeaderDigest=CRC32C");
	expect_key(keys, "MaxRecvDataSegmentLength=262144");
	expect_key(keys, "MaxOutstandingR2T=8");
	expect_key(keys, "DefaultTime2Wait=2");
	ri_close(&other);

	/* the session from before keeps its FirstBurstLength of 65536 */
	cr_expect_eq(write_immediate(&old, 65536, &asc), 0,
		     "64 KiB of immediate data on the older session");
	cr_expect_eq(write_immediate(&old, 8192, &asc), 0);
	/* the new one has 4096: 8 KiB of immediate data is too much */
	cr_expect_eq(write_immediate(&fresh, 8192, &asc), 0x02,
		     "8 KiB of immediate data beyond FirstBurstLength 4096");
	cr_expect_eq(asc, 0x0c);

	/* MaxXmitDataSegmentLength 4096: no Data-In PDU above it */
	{
		struct ri_pdu p;
		uint8_t bhs[BHS_LEN], cdb[10];
		uint32_t itt, got = 0, most = 0;

		ri_cdb_rw10(cdb, false, 0, 32);		/* 16 KiB */
		ri_build_scsi_cmd(&fresh, bhs, 1, cdb, 10, CMD_R, 16384);
		itt = get_be32(bhs + BHS_ITT);
		cr_assert_eq(ri_send(&fresh, bhs, NULL, 0), 0);
		for (int i = 0; i < 64 && got < 16384; i++) {
			cr_assert_eq(ri_recv(&fresh, &p, 5000), 0);
			if (p.itt != itt || p.opcode != OP_DATA_IN)
				continue;
			got += p.dsl;
			most = MAX(most, p.dsl);
		}
		cr_expect_eq(got, 16384u);
		cr_expect_eq(most, 4096u, "largest Data-In PDU %u", most);
	}
	ri_close(&old);
	ri_close(&fresh);
}

/* A value ringtgt cannot honour is refused, naming key and value. */
Test(tparams, refused, .fini = down, .timeout = 30)
{
	struct core_err err = { "" };

	inproc_up(EV_EPOLL, 0, 0);
	cr_expect_eq(core_target_param_set(INPROC_IQN, "ErrorRecoveryLevel",
					   "2", &err), -EOPNOTSUPP);
	cr_expect(strstr(err.msg, "ErrorRecoveryLevel=2"), "%s", err.msg);
	cr_expect_eq(core_target_param_set(INPROC_IQN, "MaxConnections", "4",
					   &err), -EOPNOTSUPP);
	cr_expect(strstr(err.msg, "MaxConnections=4"), "%s", err.msg);
	cr_expect_eq(core_target_param_set(INPROC_IQN, "DataPDUInOrder", "No",
					   &err), -EOPNOTSUPP);
	cr_expect_eq(core_target_param_set(INPROC_IQN, "MaxBurstLength", "100",
					   &err), -EINVAL);
	cr_expect_eq(core_target_param_set(INPROC_IQN, "NoSuchKey", "1",
					   &err), -ENOENT);
	cr_expect_eq(core_target_param_set("iqn.2024-01.org.ringtgt:none",
					   "MaxBurstLength", "65536", &err),
		     -ENOENT);
}
