/*
 * test_alua.c - portal groups and ALUA end to end, in process: the server
 * of inproc.c (its portal in group 1, active/optimized) gets a second
 * portal on another 127.0.0.1 port in group 2 (active/non-optimized), and
 * a raw initiator checks, per portal, the login's TargetPortalGroupTag
 * (RFC 7143 §13.9), SendTargets' TargetAddress=ADDR,TAG of both portals
 * through either (Appendix C),
 * REPORT TARGET PORT GROUPS and the VPD 0x83 port designators (SPC-4
 * §6.37, §7.8.6), then a state change (what ringtgtadm portal-group
 * set-state does): ASYMMETRIC ACCESS STATE CHANGED on both sessions, and
 * NOT READY / TARGET PORT IN STANDBY STATE through the standby portal.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/base.h"
#include "core/core.h"
#include "inproc.h"
#include "iscsi/iscsi.h"
#include "raw_initiator.h"

static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };

/* Starts the server and opens portal 127.0.0.1:port2 in group 2. */
static int up_two_groups(enum ev_kind kind)
{
	struct core_err err = { "" };
	char addr[32], why[256];
	int port2;

	inproc_up(kind, 0, 0);
	/* after inproc_up: its port is taken, so this one differs */
	port2 = inproc_free_port();
	cr_assert_eq(core_port_group_define(2, SCSI_ALUA_ACTIVE_NON_OPTIMIZED,
					    &err), 0, "%s", err.msg);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port2);
	cr_assert_eq(iscsi_portal_add_group(addr, 2, why, sizeof(why)), 0,
		     "%s", why);
	return port2;
}

/* One CDB on @lun with up to @cap bytes of data in; the result. */
static struct ri_result cmd(struct ri *ri, uint64_t lun, const uint8_t *cdb,
			    int len, uint8_t *buf, uint32_t cap)
{
	struct ri_result res;
	uint32_t itt = ri_scsi_cmd(ri, lun, cdb, len, cap ? CMD_R : 0, cap,
				   NULL, 0, NULL);

	cr_assert_eq(ri_wait_cmd(ri, itt, buf, cap, &res, 5000, NULL), 0);
	return res;
}

static void tur_expect(struct ri *ri, int status, uint8_t key, uint8_t asc,
		       uint8_t ascq, const char *who)
{
	uint8_t tur[6] = { 0 };
	struct ri_result r = cmd(ri, 1, tur, 6, NULL, 0);

	cr_assert_eq(r.status, status, "%s: status %#x", who, r.status);
	if (status == SAM_STAT_CHECK_CONDITION)
		cr_assert(r.sense_key == key && r.asc == asc && r.ascq == ascq,
			  "%s: sense %x/%02x/%02x, want %x/%02x/%02x", who,
			  r.sense_key, r.asc, r.ascq, key, asc, ascq);
}

ParameterizedTestParameters(alua, portal_groups)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, alua, portal_groups,
		  .fini = inproc_down, .timeout = 60)
{
	int port2 = up_two_groups(*kind);
	uint8_t rtpg[12] = { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	uint8_t inq83[6] = { 0x12, 0x01, 0x83, 0, 255, 0 };
	uint8_t b[256];
	char text[1024], want[256];
	struct ri d1, d2, s1, s2;
	struct ri_result r;
	int rel = -1, tpg = -1;

	/* discovery through each portal lists both portals with their tags */
	snprintf(want, sizeof(want), "TargetName=%s\n"
		 "TargetAddress=127.0.0.1:%d,1\nTargetAddress=127.0.0.1:%d,2\n",
		 INPROC_IQN, inproc.port, port2);
	cr_assert_eq(ri_connect(&d1, inproc.port), 0);
	cr_assert_eq(ri_login(&d1, NULL, INPROC_INITIATOR), 0);
	cr_assert_eq(ri_send_targets(&d1, text, sizeof(text)), 0,
		     "no SendTargets answer");
	cr_assert_str_eq(text, want, "via group 1: %s", text);
	cr_assert_eq(ri_connect(&d2, port2), 0);
	cr_assert_eq(ri_login(&d2, NULL, INPROC_INITIATOR), 0);
	cr_assert_eq(ri_send_targets(&d2, text, sizeof(text)), 0,
		     "no SendTargets answer");
	cr_assert_str_eq(text, want, "via group 2: %s", text);
	ri_close(&d1);
	ri_close(&d2);

	/* RFC 7143 §13.9: the login answers the portal's group tag */
	cr_assert_eq(ri_connect(&s1, inproc.port), 0);
	cr_assert_eq(ri_login(&s1, INPROC_IQN, INPROC_INITIATOR), 0);
	cr_assert_eq(s1.tpgt, 1, "TargetPortalGroupTag %d", s1.tpgt);
	s2 = (struct ri){ 0 };
	cr_assert_eq(ri_connect(&s2, port2), 0);
	s2.isid_q = 0x22;
	cr_assert_eq(ri_login(&s2, INPROC_IQN, INPROC_INITIATOR), 0);
	cr_assert_eq(s2.tpgt, 2, "TargetPortalGroupTag %d", s2.tpgt);

	/* the SCSI target port of a session is its portal group */
	r = cmd(&s2, 1, inq83, 6, b, 255);
	cr_assert_eq(r.status, SAM_STAT_GOOD);
	for (uint32_t off = 4; off + 8 <= 4u + get_be16(b + 2);
	     off += 4 + b[off + 3]) {
		if ((b[off + 1] & 0x3f) == 0x14)
			rel = get_be16(b + off + 6);
		if ((b[off + 1] & 0x3f) == 0x15)
			tpg = get_be16(b + off + 6);
	}
	cr_assert_eq(rel, 2, "relative target port %d", rel);
	cr_assert_eq(tpg, 2, "target port group %d", tpg);

	/* REPORT TARGET PORT GROUPS: both groups with their states */
	r = cmd(&s1, 1, rtpg, 12, b, 256);
	cr_assert_eq(r.status, SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b), 24, "two groups of one port each");
	cr_assert_eq(get_be16(b + 4 + 2), 1);
	cr_assert_eq(b[4] & 0x0f, SCSI_ALUA_ACTIVE_OPTIMIZED);
	cr_assert_eq(get_be16(b + 16 + 2), 2);
	cr_assert_eq(b[16] & 0x0f, SCSI_ALUA_ACTIVE_NON_OPTIMIZED);

	/* both sessions have used the LU; then group 2 goes to standby */
	tur_expect(&s1, SAM_STAT_GOOD, 0, 0, 0, "s1 before");
	tur_expect(&s2, SAM_STAT_GOOD, 0, 0, 0, "s2 before");
	cr_assert_eq(core_port_group_set_state(2, SCSI_ALUA_STANDBY, NULL), 0);
	tur_expect(&s1, SAM_STAT_CHECK_CONDITION, 0x6, 0x2a, 0x06, "s1 UA");
	tur_expect(&s1, SAM_STAT_GOOD, 0, 0, 0, "s1 after");
	tur_expect(&s2, SAM_STAT_CHECK_CONDITION, 0x6, 0x2a, 0x06, "s2 UA");
	tur_expect(&s2, SAM_STAT_CHECK_CONDITION, 0x2, 0x04, 0x0b,
		   "s2 standby");
	/* REPORT TARGET PORT GROUPS still works through the standby port */
	r = cmd(&s2, 1, rtpg, 12, b, 256);
	cr_assert_eq(r.status, SAM_STAT_GOOD);
	cr_assert_eq(b[16] & 0x0f, SCSI_ALUA_STANDBY);
	ri_close(&s1);
	ri_close(&s2);
}

/* A portal in a group that does not exist is refused. */
ParameterizedTestParameters(alua, unknown_group)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, alua, unknown_group,
		  .fini = inproc_down, .timeout = 30)
{
	char addr[32], why[256] = "";

	inproc_up(*kind, 0, 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", inproc_free_port());
	cr_assert_lt(iscsi_portal_add_group(addr, 7, why, sizeof(why)), 0);
	cr_assert(strstr(why, "no portal group 7"), "%s", why);
}

/* One CDB on @lun with @len bytes of data out (immediate); the result. */
static struct ri_result cmd_out(struct ri *ri, uint64_t lun,
				const uint8_t *cdb, const void *data,
				uint32_t len)
{
	struct ri_result res;
	uint32_t itt = ri_scsi_cmd(ri, lun, cdb, 10, CMD_W, len, data, len,
				   NULL);

	cr_assert_eq(ri_wait_cmd(ri, itt, NULL, 0, &res, 5000, NULL), 0);
	return res;
}

/* PERSISTENT RESERVE OUT @sa with the @len-byte parameter list @p */
static int pr_out(struct ri *ri, uint8_t sa, uint8_t type, const uint8_t *p,
		  uint32_t len)
{
	uint8_t cdb[10] = { 0x5f, sa, type };
	struct ri_result r;

	put_be32(cdb + 5, len);
	r = cmd_out(ri, 1, cdb, p, len);
	if (r.status != SAM_STAT_GOOD)
		cr_log_error("PR OUT %#x: status %#x sense %x/%02x/%02x", sa,
			     r.status, r.sense_key, r.asc, r.ascq);
	return r.status;
}

/* The ISID ri_build_login() gives a session with qualifier @q, as hex */
#define RI_ISID_HEX(q) "8000001200" q

ParameterizedTestParameters(alua, register_and_move)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * REGISTER AND MOVE across portal groups (SPC-4 §5.13.8, §6.16.4): a
 * session through group 1 registers and takes a Write Exclusive
 * reservation, then moves it, with UNREG, to the initiator port of a
 * session through group 2 on relative target port 2, named by an iSCSI
 * TransportID of format 01b (§7.6.4.6, built here byte by byte). The
 * second session may then write and the first may not; READ FULL STATUS
 * shows one registration, the holder, on port 2, with that TransportID.
 */
ParameterizedTest(enum ev_kind *kind, alua, register_and_move,
		  .fini = inproc_down, .timeout = 60)
{
	const char *dst = INPROC_INITIATOR ",i,0x" RI_ISID_HEX("32");
	int port2 = up_two_groups(*kind);
	uint8_t p[24 + 64] = { 0 }, w10[10], rfs[10] = { 0x5e, 0x03 };
	static uint8_t block[512], b[256];
	uint32_t tid_len = (uint32_t)((strlen(dst) + 1 + 3) & ~3u);
	struct ri s1 = { 0 }, s2 = { 0 };
	struct ri_result r;

	cr_assert_leq(4 + tid_len, sizeof(p) - 24);
	cr_assert_eq(ri_connect(&s1, inproc.port), 0);
	s1.isid_q = 0x31;
	cr_assert_eq(ri_login(&s1, INPROC_IQN, INPROC_INITIATOR), 0);
	cr_assert_eq(ri_connect(&s2, port2), 0);
	s2.isid_q = 0x32;
	cr_assert_eq(ri_login(&s2, INPROC_IQN, INPROC_INITIATOR), 0);
	cr_assert_eq(s2.tpgt, 2);
	/* the power-on unit attentions */
	for (int i = 0; i < 3; i++) {
		uint8_t tur[6] = { 0 };

		cmd(&s1, 1, tur, 6, NULL, 0);
		cmd(&s2, 1, tur, 6, NULL, 0);
	}
	/* s1: REGISTER key a1, RESERVE Write Exclusive */
	put_be64(p + 8, 0xa1);
	cr_assert_eq(pr_out(&s1, 0x00, 0, p, 24), SAM_STAT_GOOD);
	memset(p, 0, sizeof(p));
	put_be64(p, 0xa1);
	cr_assert_eq(pr_out(&s1, 0x01, 0x01, p, 24), SAM_STAT_GOOD);
	/* REGISTER AND MOVE to s2 on port 2 with key b1, UNREG */
	put_be64(p + 8, 0xb1);
	p[17] = 0x02;
	put_be16(p + 18, 2);
	put_be32(p + 20, 4 + tid_len);
	p[24] = 0x40 | 0x05;	/* FORMAT CODE 01b, iSCSI */
	put_be16(p + 26, (uint16_t)tid_len);
	memcpy(p + 28, dst, strlen(dst));
	cr_assert_eq(pr_out(&s1, 0x07, 0, p, 24 + 4 + tid_len),
		     SAM_STAT_GOOD);
	/* the holder is s2's I_T nexus */
	ri_cdb_rw10(w10, true, 0, 1);
	r = cmd_out(&s2, 1, w10, block, sizeof(block));
	cr_assert_eq(r.status, SAM_STAT_GOOD, "s2 writes: %#x", r.status);
	r = cmd_out(&s1, 1, w10, block, sizeof(block));
	cr_assert_eq(r.status, SAM_STAT_RESERVATION_CONFLICT,
		     "s1 (unregistered) may not: %#x", r.status);
	put_be16(rfs + 7, sizeof(b));
	r = cmd(&s1, 1, rfs, 10, b, sizeof(b));
	cr_assert_eq(r.status, SAM_STAT_GOOD);
	cr_assert_eq(get_be32(b + 4), 24 + 4 + tid_len, "one registration");
	cr_assert_eq(get_be64(b + 8), 0xb1);
	cr_assert_eq(b[8 + 12] & 0x01, 0x01, "R_HOLDER");
	cr_assert_eq(b[8 + 13], 0x01, "Write Exclusive, scope LU");
	cr_assert_eq(get_be16(b + 8 + 18), 2, "RELATIVE TARGET PORT ID");
	cr_assert_eq(b[8 + 24], 0x45);
	cr_assert_str_eq((char *)b + 8 + 28, dst);
	ri_close(&s1);
	ri_close(&s2);
}
