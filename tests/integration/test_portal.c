/*
 * test_portal.c - portals opened and closed while the daemon runs (issue
 * 12: tgtadm --mode portal --op new/delete, ringtgtadm portal add/remove),
 * in process on both event loops, through the control socket as the
 * tools send them (portal.add / portal.remove / portal.list): the server
 * of inproc.c with its portal in group 1 and a control server beside it.
 *
 * Added on another 127.0.0.1 port, a portal accepts logins (in group 1
 * unless a group is given: TargetPortalGroupTag, RFC 7143 §13.9) and
 * SendTargets through either portal lists both with their tags (RFC 7143
 * App. C, docs/clusters.md). Removed, it refuses new connections
 * (ECONNREFUSED), SendTargets no longer lists it, and a session that came
 * in through it stays and is served (tgt 1.0.85 keeps it too: its
 * iscsi_delete_portal() closes only the listening socket). A portal that
 * listens already, one that is not there, an address in use by another
 * socket and one this host does not have are refused with their errno,
 * nothing left open; a closed portal's address can be opened again.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/base.h"
#include "control/ctl.h"
#include "core/core.h"
#include "inproc.h"
#include "iscsi/iscsi.h"
#include "raw_initiator.h"
#include "ringtgt/ctl.h"

static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };

static char tmpdir[64];
static char sock_path[128];
static struct ctl_server *ctl;

static void up(enum ev_kind kind)
{
	inproc_up(kind, 0, 0);
	strcpy(tmpdir, "/tmp/ringtgt-portal-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", tmpdir);
	cr_assert_eq(ctl_server_start(sock_path, &ctl), 0);
}

static void down(void)
{
	if (ctl) {
		ctl_server_stop(ctl);
		ctl = NULL;
		rmdir(tmpdir);
	}
	inproc_down();
}

/* One control request; -errno of the reply (0: ok), its sentence in err. */
static int call(const char *op, const char *portal, int group,
		json_object **res, char *err, size_t errlen)
{
	json_object *args = NULL;
	int fd = ringtgt_ctl_connect(sock_path), rc;

	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	if (portal) {
		args = json_object_new_object();
		json_object_object_add(args, "portal",
				       json_object_new_string(portal));
		if (group)
			json_object_object_add(args, "group",
					       json_object_new_int(group));
	}
	err[0] = '\0';
	rc = ringtgt_ctl_call(fd, op, args, res, err, errlen);
	close(fd);
	json_object_put(args);
	return rc;
}

/* portal.list as "ADDR,GROUP ADDR,GROUP ..." */
static void portal_list(char *out, size_t len)
{
	json_object *res = NULL;
	char err[256];
	size_t used = 0;

	cr_assert_eq(call("portal.list", NULL, 0, &res, err, sizeof(err)), 0,
		     "%s", err);
	out[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(res); i++) {
		json_object *p = json_object_array_get_idx(res, i), *a, *g;

		cr_assert(json_object_object_get_ex(p, "portal", &a));
		cr_assert(json_object_object_get_ex(p, "group", &g));
		used += (size_t)snprintf(out + used, len - used, "%s%s,%d",
					 used ? " " : "",
					 json_object_get_string(a),
					 json_object_get_int(g));
		cr_assert_lt(used, len);
	}
	json_object_put(res);
}

/* SendTargets=All in a discovery session through @port: the answer. */
static void discover(int port, char *text, size_t len)
{
	struct ri d = { 0 };

	cr_assert_eq(ri_connect(&d, port), 0, "discovery connect to %d", port);
	cr_assert_eq(ri_login(&d, NULL, INPROC_INITIATOR), 0,
		     "discovery login through %d", port);
	cr_assert_eq(ri_send_targets(&d, text, len), 0,
		     "no SendTargets answer through %d", port);
	ri_close(&d);
}

static void tur_good(struct ri *ri, const char *who)
{
	uint8_t tur[6] = { 0 };
	struct ri_result r;
	uint32_t itt = ri_scsi_cmd(ri, 1, tur, 6, 0, 0, NULL, 0, NULL);

	cr_assert_eq(ri_wait_cmd(ri, itt, NULL, 0, &r, 5000, NULL), 0,
		     "%s: no answer to TEST UNIT READY", who);
	/* the first command of a session may see the power-on attention */
	if (r.status == SAM_STAT_CHECK_CONDITION && r.sense_key == 6) {
		itt = ri_scsi_cmd(ri, 1, tur, 6, 0, 0, NULL, 0, NULL);
		cr_assert_eq(ri_wait_cmd(ri, itt, NULL, 0, &r, 5000, NULL), 0);
	}
	cr_assert_eq(r.status, SAM_STAT_GOOD, "%s: status %#x", who, r.status);
}

ParameterizedTestParameters(portal, add_remove)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, portal, add_remove, .fini = down,
		  .timeout = 60)
{
	char p2[32], text[1024], want[256], list[256], err[256];
	struct ri s2 = { 0 }, probe = { 0 };
	json_object *res = NULL, *v;
	int port2;

	up(*kind);
	port2 = inproc_free_port();
	snprintf(p2, sizeof(p2), "127.0.0.1:%d", port2);

	/* a new portal joins group 1 and answers at once */
	cr_assert_eq(call("portal.add", p2, 0, &res, err, sizeof(err)), 0,
		     "portal.add %s: %s", p2, err);
	cr_assert(json_object_object_get_ex(res, "group", &v));
	cr_expect_eq(json_object_get_int(v), 1);
	json_object_put(res);
	snprintf(want, sizeof(want), "127.0.0.1:%d,1 %s,1", inproc.port, p2);
	portal_list(list, sizeof(list));
	cr_expect_str_eq(list, want);

	/* RFC 7143 App. C: every portal of the target, through either */
	snprintf(want, sizeof(want), "TargetName=%s\n"
		 "TargetAddress=127.0.0.1:%d,1\nTargetAddress=%s,1\n",
		 INPROC_IQN, inproc.port, p2);
	discover(port2, text, sizeof(text));
	cr_assert_str_eq(text, want, "through the new portal: %s", text);
	discover(inproc.port, text, sizeof(text));
	cr_assert_str_eq(text, want, "through the first portal: %s", text);

	/* a session through the new portal, in group 1 (§13.9) */
	cr_assert_eq(ri_connect(&s2, port2), 0);
	s2.isid_q = 0x22;
	cr_assert_eq(ri_login(&s2, INPROC_IQN, INPROC_INITIATOR), 0);
	cr_assert_eq(s2.tpgt, 1, "TargetPortalGroupTag %d", s2.tpgt);
	tur_good(&s2, "session through the new portal");

	/* refusals: nothing changes */
	cr_expect_eq(call("portal.add", p2, 0, NULL, err, sizeof(err)),
		     -EEXIST);
	snprintf(want, sizeof(want), "portal %s is already open", p2);
	cr_expect_str_eq(err, want);
	snprintf(want, sizeof(want), "127.0.0.1:%d", inproc_free_port());
	cr_expect_eq(call("portal.remove", want, 0, NULL, err, sizeof(err)),
		     -ENOENT);
	cr_expect(strstr(err, "no portal 127.0.0.1:"), "%s", err);

	/* removed: no new connection, not listed, the session stays */
	cr_assert_eq(call("portal.remove", p2, 0, NULL, err, sizeof(err)), 0,
		     "portal.remove %s: %s", p2, err);
	cr_expect_eq(ri_connect(&probe, port2), -ECONNREFUSED,
		     "a connection to the removed portal was not refused");
	snprintf(want, sizeof(want), "127.0.0.1:%d,1", inproc.port);
	portal_list(list, sizeof(list));
	cr_expect_str_eq(list, want);
	snprintf(want, sizeof(want), "TargetName=%s\n"
		 "TargetAddress=127.0.0.1:%d,1\n", INPROC_IQN, inproc.port);
	discover(inproc.port, text, sizeof(text));
	cr_assert_str_eq(text, want, "after the removal: %s", text);
	tur_good(&s2, "session through the removed portal");
	cr_assert_eq(ri_send_targets(&s2, text, sizeof(text)), 0);
	cr_assert_str_eq(text, want, "the old session's SendTargets: %s",
			 text);
	cr_expect_eq(call("portal.remove", p2, 0, NULL, err, sizeof(err)),
		     -ENOENT, "removed twice");
	ri_close(&s2);

	/* the same address can be opened again */
	cr_assert_eq(call("portal.add", p2, 0, NULL, err, sizeof(err)), 0,
		     "portal.add %s again: %s", p2, err);
	discover(port2, text, sizeof(text));
	cr_assert(strstr(text, p2), "%s", text);
	cr_assert_eq(call("portal.remove", p2, 0, NULL, err, sizeof(err)), 0,
		     "%s", err);
}

ParameterizedTestParameters(portal, group_and_bind_errors)
{
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, portal, group_and_bind_errors,
		  .fini = down, .timeout = 60)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char addr[48], list[256], want[256], err[256];
	struct ri s = { 0 }, probe = { 0 };
	socklen_t sl = sizeof(sa);
	int busy, port;

	up(*kind);
	snprintf(want, sizeof(want), "127.0.0.1:%d,1", inproc.port);

	/* a port another socket listens on: the bind error, nothing open */
	busy = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(busy, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(bind(busy, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(busy, 1), 0);
	cr_assert_eq(getsockname(busy, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	cr_expect_eq(call("portal.add", addr, 0, NULL, err, sizeof(err)),
		     -EADDRINUSE);
	cr_expect(strstr(err, "Address already in use"), "%s", err);
	close(busy);
	/* an address this host does not have (TEST-NET-1, RFC 5737) */
	port = inproc_free_port();
	snprintf(addr, sizeof(addr), "192.0.2.1:%d", port);
	cr_expect_eq(call("portal.add", addr, 0, NULL, err, sizeof(err)),
		     -EADDRNOTAVAIL);
	cr_expect(strstr(err, "Cannot assign requested address"), "%s", err);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	cr_expect_eq(call("portal.add", addr, 7, NULL, err, sizeof(err)),
		     -ENOENT);
	cr_expect_str_eq(err, "no portal group 7");
	cr_expect_eq(call("portal.add", "127.0.0.1:99999", 0, NULL, err,
			  sizeof(err)), -EINVAL);
	portal_list(list, sizeof(list));
	cr_expect_str_eq(list, want, "a refused portal is listed");
	cr_expect_eq(ri_connect(&probe, port), -ECONNREFUSED,
		     "a refused portal listens");

	/* a group given: logins through it answer its tag */
	cr_assert_eq(core_port_group_define(2, SCSI_ALUA_ACTIVE_NON_OPTIMIZED,
					    NULL), 0);
	cr_assert_eq(call("portal.add", addr, 2, NULL, err, sizeof(err)), 0,
		     "%s", err);
	snprintf(want, sizeof(want), "127.0.0.1:%d,1 %s,2", inproc.port, addr);
	portal_list(list, sizeof(list));
	cr_expect_str_eq(list, want);
	cr_assert_eq(ri_connect(&s, port), 0);
	cr_assert_eq(ri_login(&s, INPROC_IQN, INPROC_INITIATOR), 0);
	cr_expect_eq(s.tpgt, 2, "TargetPortalGroupTag %d", s.tpgt);
	cr_assert_eq(call("portal.remove", addr, 0, NULL, err, sizeof(err)), 0,
		     "%s", err);
	tur_good(&s, "session through the removed group 2 portal");
	ri_close(&s);
}
