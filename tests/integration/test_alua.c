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

/* A port that was free a moment ago. */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	cr_assert_geq(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Starts the server and opens portal 127.0.0.1:port2 in group 2. */
static int up_two_groups(enum ev_kind kind)
{
	struct core_err err = { "" };
	char addr[32], why[256];
	int port2;

	inproc_up(kind, 0, 0);
	/* after inproc_up: its port is taken, so this one differs */
	port2 = free_port();
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
	uint32_t itt = ri_scsi_cmd(ri, ri_lun(lun), cdb, len,
				   cap ? CMD_R : 0, cap, NULL, 0, NULL);

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
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
	cr_assert_lt(iscsi_portal_add_group(addr, 7, why, sizeof(why)), 0);
	cr_assert(strstr(why, "no portal group 7"), "%s", why);
}
