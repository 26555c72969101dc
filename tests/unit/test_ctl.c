/*
 * test_ctl.c - the control socket in-process: a ctl_server on a temporary
 * path, the client API from include/ringtgt/ctl.h, raw protocol lines
 * (malformed JSON, bad versions, oversized requests), socket file rules,
 * and ringtgtadm (the built binary, from $RINGTGTADM) against the server.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control/ctl.h"
#include "core/core.h"
#include "iscsi/iscsi.h"
#include "ringtgt/ctl.h"

#define IQN "iqn.2026-11.org.ringtgt:ctl"

static char tmpdir[64];
static char sock_path[128];
static struct ctl_server *srv;

static void start(void)
{
	strcpy(tmpdir, "/tmp/ringtgt-ctl-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	/* A directory that does not exist yet: the server makes it. */
	snprintf(sock_path, sizeof(sock_path), "%s/run/ringtgtd.sock", tmpdir);
	core_init();
	cr_assert_eq(ctl_server_start(sock_path, &srv), 0);
}

static void stop(void)
{
	char dir[160];

	ctl_server_stop(srv);
	srv = NULL;
	core_shutdown();
	snprintf(dir, sizeof(dir), "%s/run", tmpdir);
	rmdir(dir);
	rmdir(tmpdir);
}

TestSuite(ctl, .init = start, .fini = stop);

static json_object *args_new(const char *k, ...)
{
	json_object *o = json_object_new_object();
	va_list ap;

	/* Pairs of key, json_object*; NULL ends. */
	va_start(ap, k);
	for (; k; k = va_arg(ap, const char *))
		json_object_object_add(o, k, va_arg(ap, json_object *));
	va_end(ap);
	return o;
}

static int call(const char *op, json_object *args, json_object **res,
		char *err, size_t errlen)
{
	int fd = ringtgt_ctl_connect(sock_path), rc;

	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	rc = ringtgt_ctl_call(fd, op, args, res, err, errlen);
	close(fd);
	json_object_put(args);
	return rc;
}

/* Sends raw bytes, returns the next reply line parsed (caller puts). */
static json_object *raw(int fd, const char *text)
{
	static char buf[1 << 16];
	static size_t have;
	char *nl;

	if (text)
		cr_assert_eq(send(fd, text, strlen(text), MSG_NOSIGNAL),
			     (ssize_t)strlen(text));
	while (!(nl = memchr(buf, '\n', have))) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have - 1, 0);

		cr_assert_gt(n, 0, "connection closed while waiting for a reply");
		have += (size_t)n;
	}
	*nl = '\0';
	json_object *o = json_tokener_parse(buf);
	cr_assert_not_null(o, "reply is not JSON: %s", buf);
	have -= (size_t)(nl + 1 - buf);
	memmove(buf, nl + 1, have);
	return o;
}

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, k, &v), "no key %s in %s", k,
		  json_object_to_json_string(o));
	return v;
}

static void expect_error(json_object *reply, int err, const char *msg)
{
	cr_expect_eq(json_object_get_int(jget(reply, "v")), 1);
	cr_expect_not(json_object_get_boolean(jget(reply, "ok")));
	cr_expect_eq(json_object_get_int(jget(reply, "errno")), err, "%s",
		     json_object_to_json_string(reply));
	cr_expect_str_eq(json_object_get_string(jget(reply, "error")), msg);
	json_object_put(reply);
}

Test(ctl, socket_file)
{
	struct stat st;
	char dir[160];

	cr_assert_eq(stat(sock_path, &st), 0);
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 0777, 0600);
	snprintf(dir, sizeof(dir), "%s/run", tmpdir);
	cr_assert_eq(stat(dir, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0755);
}

Test(ctl, second_daemon_refused)
{
	struct ctl_server *other = NULL;

	cr_expect_eq(ctl_server_start(sock_path, &other), -EADDRINUSE);
	cr_expect_null(other);
	/* The first one still answers. */
	cr_expect_eq(call("target.list", NULL, NULL, NULL, 0), 0);
}

Test(ctl, target_lun_acl_round_trip)
{
	json_object *res = NULL, *t, *l;
	char err[256] = "";

	cr_assert_eq(call("target.add", args_new("iqn", json_object_new_string(IQN),
						 "tid", json_object_new_int(12), NULL),
			  &res, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(json_object_get_int(jget(res, "tid")), 12);
	cr_expect_str_eq(json_object_get_string(jget(res, "iqn")), IQN);
	json_object_put(res);

	cr_assert_eq(call("lun.add", args_new("iqn", json_object_new_string(IQN),
					      "lun", json_object_new_int(0),
					      "type", json_object_new_string("controller"),
					      NULL), NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(call("lun.add", args_new("iqn", json_object_new_string(IQN),
					      "lun", json_object_new_int(1),
					      "backing", json_object_new_string("ram"),
					      "size", json_object_new_string("32M"),
					      "serial", json_object_new_string("S1"),
					      "readonly", json_object_new_boolean(1),
					      NULL), NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(call("acl.add", args_new("iqn", json_object_new_string(IQN),
					      "rule", json_object_new_string("192.0.2.0/24"),
					      NULL), NULL, err, sizeof(err)), 0, "%s", err);

	cr_assert_eq(call("target.list", NULL, &res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(json_object_array_length(res), 1);
	t = json_object_array_get_idx(res, 0);
	cr_expect_eq(json_object_get_int(jget(t, "tid")), 12);
	cr_assert_eq(json_object_array_length(jget(t, "luns")), 2);
	l = json_object_array_get_idx(jget(t, "luns"), 1);
	cr_expect_eq(json_object_get_int64(jget(l, "size")), 32 << 20);
	cr_expect_str_eq(json_object_get_string(jget(l, "serial")), "S1");
	cr_expect(json_object_get_boolean(jget(l, "readonly")));
	cr_expect_str_eq(json_object_get_string(
		json_object_array_get_idx(jget(t, "acls"), 0)), "192.0.2.0/24");
	json_object_put(res);

	/* Refusals carry the core's message and errno. */
	cr_expect_eq(call("lun.add", args_new("iqn", json_object_new_string(IQN),
					      "lun", json_object_new_int(1),
					      "backing", json_object_new_string("ram"),
					      "size", json_object_new_int(1 << 20),
					      NULL), NULL, err, sizeof(err)), -EEXIST);
	cr_expect_str_eq(err, "target " IQN " already has LUN 1");
	cr_expect_eq(call("acl.remove", args_new("iqn", json_object_new_string(IQN),
						 "rule", json_object_new_string("ALL"),
						 NULL), NULL, err, sizeof(err)), -ENOENT);
	cr_expect_str_eq(err, "target " IQN " has no ACL rule ALL");

	cr_expect_eq(call("lun.remove", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(call("acl.remove", args_new("iqn", json_object_new_string(IQN),
						 "rule", json_object_new_string("192.0.2.0/24"),
						 NULL), NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(call("target.remove", args_new("iqn", json_object_new_string(IQN),
						    NULL), NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_null(core_target_find(IQN));
}

Test(ctl, remove_refused_with_sessions)
{
	struct core_session s = { .tsih = 1 };
	char err[256] = "";

	cr_assert_eq(call("target.add", args_new("iqn", json_object_new_string(IQN), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	s.target = core_target_find(IQN);
	strcpy(s.initiator, "iqn.1993-08.org.debian:01:x");
	strcpy(s.isid, "23d000000001");
	core_session_register(&s);

	cr_expect_eq(call("target.remove", args_new("iqn", json_object_new_string(IQN), NULL),
			  NULL, err, sizeof(err)), -EBUSY);
	cr_expect_str_eq(err, "target " IQN " has 1 session; use --force to remove it anyway");

	json_object *res = NULL;
	cr_assert_eq(call("session.list", NULL, &res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(json_object_array_length(res), 1);
	cr_expect_str_eq(json_object_get_string(jget(json_object_array_get_idx(res, 0),
						      "isid")), "23d000000001");
	json_object_put(res);

	cr_expect_eq(call("target.remove", args_new("iqn", json_object_new_string(IQN),
						    "force", json_object_new_boolean(1), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	core_session_unregister(&s);
	core_target_put(s.target);
}

/* portal_group.list / set_state (docs/control-protocol.md) */
Test(ctl, portal_groups)
{
	struct core_err e = { "" };
	json_object *res = NULL, *g;
	enum scsi_alua_state st;
	char err[256] = "";

	cr_assert_eq(core_port_group_define(2, SCSI_ALUA_ACTIVE_NON_OPTIMIZED,
					    &e), 0, "%s", e.msg);
	cr_assert_eq(core_port_group_portal(2, "127.0.0.1:3262", &e), 0);
	cr_assert_eq(call("portal_group.list", NULL, &res, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(json_object_array_length(res), 2);
	g = json_object_array_get_idx(res, 0);
	cr_expect_eq(json_object_get_int(jget(g, "tag")), 1);
	cr_expect_str_eq(json_object_get_string(jget(g, "state")),
			 "active/optimized");
	g = json_object_array_get_idx(res, 1);
	cr_expect_eq(json_object_get_int(jget(g, "tag")), 2);
	cr_expect_str_eq(json_object_get_string(jget(g, "state")),
			 "active/non-optimized");
	cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(
				 jget(g, "portals"), 0)), "127.0.0.1:3262");
	json_object_put(res);

	cr_assert_eq(call("portal_group.set_state",
			  args_new("tag", json_object_new_int(2), "state",
				   json_object_new_string("standby"), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(scsi_port_groups_get_state(core_port_groups(), 2, &st), 0);
	cr_expect_eq(st, SCSI_ALUA_STANDBY);
	cr_expect_eq(call("portal_group.set_state",
			  args_new("tag", json_object_new_int(9), "state",
				   json_object_new_string("standby"), NULL),
			  NULL, err, sizeof(err)), -ENOENT);
	cr_expect_str_eq(err, "no portal group 9");
	cr_expect_eq(call("portal_group.set_state",
			  args_new("tag", json_object_new_int(2), "state",
				   json_object_new_string("offline"), NULL),
			  NULL, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "bad state 'offline'"), "%s", err);
	cr_expect_eq(call("portal_group.set_state",
			  args_new("tag", json_object_new_int(2), NULL),
			  NULL, err, sizeof(err)), -EINVAL);
}

/* target.set_param / target.params (docs/control-protocol.md) */
Test(ctl, target_params)
{
	struct iscsi_settings set;
	json_object *res = NULL;
	char err[256] = "";

	iscsi_settings_default(&set);
	iscsi_target_params_register(&set);
	cr_assert_eq(call("target.add", args_new("iqn", json_object_new_string(IQN), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(call("target.set_param",
			  args_new("iqn", json_object_new_string(IQN), "name",
				   json_object_new_string("maxburstlength"), "value",
				   json_object_new_string("0x10000"), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(call("target.params",
			  args_new("iqn", json_object_new_string(IQN), NULL),
			  &res, err, sizeof(err)), 0, "%s", err);
	/* every key of tgt's list, the override in it and in overrides */
	cr_expect_eq(json_object_object_length(jget(res, "params")), 26);
	cr_expect_str_eq(json_object_get_string(jget(jget(res, "params"),
						     "MaxBurstLength")), "65536");
	cr_expect_str_eq(json_object_get_string(jget(jget(res, "params"),
						     "FirstBurstLength")), "262144");
	cr_expect_eq(json_object_object_length(jget(res, "overrides")), 1);
	cr_expect_str_eq(json_object_get_string(jget(jget(res, "overrides"),
						     "MaxBurstLength")), "65536");
	json_object_put(res);
	/* null: back to the default */
	cr_assert_eq(call("target.set_param",
			  args_new("iqn", json_object_new_string(IQN), "name",
				   json_object_new_string("MaxBurstLength"), "value",
				   NULL, NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(call("target.params",
			  args_new("iqn", json_object_new_string(IQN), NULL),
			  &res, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_object_get_string(jget(jget(res, "params"),
						     "MaxBurstLength")), "1048576");
	cr_expect_eq(json_object_object_length(jget(res, "overrides")), 0);
	json_object_put(res);
	cr_expect_eq(call("target.set_param",
			  args_new("iqn", json_object_new_string(IQN), "name",
				   json_object_new_string("ErrorRecoveryLevel"), "value",
				   json_object_new_string("1"), NULL),
			  NULL, err, sizeof(err)), -EOPNOTSUPP);
	cr_expect(strstr(err, "ErrorRecoveryLevel=1"), "%s", err);
	cr_expect_eq(call("target.set_param",
			  args_new("iqn", json_object_new_string(IQN), "name",
				   json_object_new_string("MaxBurstLength"), NULL),
			  NULL, err, sizeof(err)), -EINVAL);
	cr_expect_eq(call("target.set_param",
			  args_new("iqn", json_object_new_string("iqn.2026-11.x:none"),
				   "name", json_object_new_string("MaxBurstLength"),
				   "value", json_object_new_string("65536"), NULL),
			  NULL, err, sizeof(err)), -ENOENT);
	cr_expect_eq(call("target.params",
			  args_new("iqn", json_object_new_string("iqn.2026-11.x:none"),
				   NULL), &res, err, sizeof(err)), -ENOENT);
}

Test(ctl, daemon_status)
{
	json_object *res = NULL, *info = json_object_new_object();
	char err[256] = "";

	json_object_object_add(info, "reactors", json_object_new_int(4));
	json_object_object_add(info, "event_loop", json_object_new_string("epoll"));
	ctl_server_set_status(srv, info);
	cr_assert_eq(call("target.add", args_new("iqn", json_object_new_string(IQN), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);

	cr_assert_eq(call("daemon.status", NULL, &res, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_object_get_string(jget(res, "version")), RINGTGT_VERSION);
	cr_expect_eq(json_object_get_int(jget(res, "pid")), getpid());
	cr_expect_eq(json_object_get_int(jget(res, "reactors")), 4);
	cr_expect_str_eq(json_object_get_string(jget(res, "event_loop")), "epoll");
	cr_expect_eq(json_object_get_int(jget(res, "targets")), 1);
	cr_expect_eq(json_object_get_int(jget(res, "sessions")), 0);
	cr_expect_str_eq(json_object_get_string(jget(res, "control_socket")), sock_path);
	cr_expect_geq(json_object_get_double(jget(res, "uptime")), 0.0);
	json_object_put(res);
}

/*
 * tgt's system state: daemon.set_state takes ready / offline only, the
 * portals see it (core_system_state), daemon.status shows it; a shutdown
 * is refused while a target is left (tgt's delete --mode system).
 */
Test(ctl, daemon_state_and_shutdown)
{
	json_object *res = NULL;
	char err[256] = "";

	cr_assert_eq(call("daemon.set_state", args_new("state",
			  json_object_new_string("offline"), NULL), NULL, err,
			  sizeof(err)), 0, "%s", err);
	cr_expect_eq(core_system_state(), CORE_SYSTEM_OFFLINE);
	cr_assert_eq(call("daemon.status", NULL, &res, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_object_get_string(jget(res, "state")), "offline");
	json_object_put(res);
	cr_expect_eq(call("daemon.set_state", args_new("state",
			  json_object_new_string("down"), NULL), NULL, err,
			  sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "ready or offline"), "%s", err);
	cr_expect_eq(core_system_state(), CORE_SYSTEM_OFFLINE);
	cr_assert_eq(call("daemon.set_state", args_new("state",
			  json_object_new_string("ready"), NULL), NULL, err,
			  sizeof(err)), 0, "%s", err);
	cr_expect_eq(core_system_state(), CORE_SYSTEM_READY);

	cr_assert_eq(call("target.add", args_new("iqn", json_object_new_string(IQN), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(call("daemon.shutdown", NULL, NULL, err, sizeof(err)), -EBUSY);
	cr_expect(strstr(err, "1 target is still defined"), "%s", err);
}

static int shutdowns;

static void count_shutdown(void *arg)
{
	cr_expect_eq(arg, &shutdowns);
	shutdowns++;
}

/*
 * With no target left, daemon.shutdown stops the daemon through the hook
 * the daemon set (ringtgtd: SIGTERM to itself); a server without one (an
 * embedded server, the fuzzer's) refuses it and stops nothing.
 */
Test(ctl, shutdown_through_the_hook)
{
	char err[256] = "";

	cr_expect_eq(call("daemon.shutdown", NULL, NULL, err, sizeof(err)),
		     -EOPNOTSUPP);
	cr_expect(strstr(err, "cannot stop"), "%s", err);
	ctl_server_set_shutdown(srv, count_shutdown, &shutdowns);
	cr_assert_eq(call("target.add", args_new("iqn", json_object_new_string(IQN), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(call("daemon.shutdown", NULL, NULL, err, sizeof(err)), -EBUSY);
	cr_expect_eq(shutdowns, 0, "stopped with a target left");
	cr_assert_eq(call("target.remove", args_new("iqn", json_object_new_string(IQN), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(call("daemon.shutdown", NULL, NULL, err, sizeof(err)), 0,
		     "%s", err);
	cr_expect_eq(shutdowns, 1);
}

/*
 * tgt's per-target state: target.set_state {iqn, state} takes ready /
 * offline only, the iSCSI layer sees it (core_target_offline) and
 * target.list shows it; an unknown target is -ENOENT.
 */
Test(ctl, target_set_state)
{
	json_object *res = NULL;
	struct tgt_target *t;
	char err[256] = "";

	cr_assert_eq(call("target.add", args_new("iqn", json_object_new_string(IQN), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	t = core_target_find(IQN);
	cr_assert_not_null(t);
	cr_expect_not(core_target_offline(t));
	cr_assert_eq(call("target.set_state", args_new("iqn",
			  json_object_new_string(IQN), "state",
			  json_object_new_string("offline"), NULL), NULL, err,
			  sizeof(err)), 0, "%s", err);
	cr_expect(core_target_offline(t));
	cr_assert_eq(call("target.list", NULL, &res, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_object_get_string(jget(
		json_object_array_get_idx(res, 0), "state")), "offline");
	json_object_put(res);
	cr_expect_eq(call("target.set_state", args_new("iqn",
			  json_object_new_string(IQN), "state",
			  json_object_new_string("down"), NULL), NULL, err,
			  sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "ready or offline"), "%s", err);
	cr_expect(core_target_offline(t));
	cr_expect_eq(call("target.set_state", args_new("iqn",
			  json_object_new_string("iqn.2024-01.org.example:none"),
			  "state", json_object_new_string("ready"), NULL), NULL,
			  err, sizeof(err)), -ENOENT);
	cr_assert_eq(call("target.set_state", args_new("iqn",
			  json_object_new_string(IQN), "state",
			  json_object_new_string("ready"), NULL), NULL, err,
			  sizeof(err)), 0, "%s", err);
	cr_expect_not(core_target_offline(t));
	cr_assert_eq(call("target.list", NULL, &res, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_object_get_string(jget(
		json_object_array_get_idx(res, 0), "state")), "ready");
	json_object_put(res);
	core_target_put(t);
}

Test(ctl, protocol_errors_keep_the_connection)
{
	int fd = ringtgt_ctl_connect(sock_path);
	json_object *r;

	cr_assert_geq(fd, 0);
	expect_error(raw(fd, "{not json\n"), EPROTO,
		     "malformed JSON at byte 1: quoted object property name expected");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"target.list\"} {}\n"), EPROTO,
		     "malformed JSON: extra data at byte 27 (one request per line)");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"target.list\"\n"), EPROTO,
		     "malformed JSON: unexpected end of request");
	expect_error(raw(fd, "[1,2]\n"), EPROTO, "a request is a JSON object");
	expect_error(raw(fd, "{\"op\":\"target.list\"}\n"), EPROTO,
		     "missing protocol version (\"v\": 1)");
	expect_error(raw(fd, "{\"v\":2,\"op\":\"target.list\"}\n"), EPROTONOSUPPORT,
		     "protocol version 2 not supported (this daemon speaks 1)");
	expect_error(raw(fd, "{\"v\":1}\n"), EPROTO, "missing \"op\" (a string)");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"target.frobnicate\"}\n"), EOPNOTSUPP,
		     "unknown op 'target.frobnicate'");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"target.list\",\"args\":[]}\n"), EINVAL,
		     "\"args\" must be an object");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"target.add\",\"args\":{\"iqn\":\"" IQN
			     "\",\"tdi\":3}}\n"), EINVAL,
		     "target.add: unknown argument 'tdi'");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"target.add\",\"args\":{}}\n"), EINVAL,
		     "missing argument 'iqn'");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"target.add\",\"args\":{\"iqn\":5}}\n"),
		     EINVAL, "argument 'iqn' must be a string");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"lun.add\",\"args\":{\"iqn\":\"" IQN
			     "\",\"lun\":256}}\n"), ERANGE,
		     "argument 'lun' out of range 0..255");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"lun.add\",\"args\":{\"iqn\":\"" IQN
			     "\",\"lun\":1,\"size\":\"big\"}}\n"), EINVAL,
		     "argument 'size' must be bytes or a size like \"10G\"");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"lun.add\",\"args\":{\"iqn\":\"" IQN
			     "\",\"lun\":1,\"type\":\"tape\"}}\n"), EINVAL,
		     "argument 'type' must be \"disk\" or \"controller\"");
	expect_error(raw(fd, "{\"v\":1,\"op\":\"target.remove\",\"args\":{\"iqn\":\"" IQN
			     "\",\"force\":\"yes\"}}\n"), EINVAL,
		     "argument 'force' must be true or false");

	/* Blank lines are ignored; the id is echoed; still connected. */
	r = raw(fd, "\n{\"v\":1,\"op\":\"target.list\",\"id\":\"abc\"}\r\n");
	cr_expect(json_object_get_boolean(jget(r, "ok")));
	cr_expect_str_eq(json_object_get_string(jget(r, "id")), "abc");
	cr_expect_eq(json_object_array_length(jget(r, "result")), 0);
	json_object_put(r);

	/* Two requests in one write get two replies, in order. */
	r = raw(fd, "{\"v\":1,\"op\":\"target.add\",\"args\":{\"iqn\":\"" IQN "\"}}\n"
		    "{\"v\":1,\"op\":\"target.list\"}\n");
	cr_expect(json_object_get_boolean(jget(r, "ok")));
	json_object_put(r);
	r = raw(fd, NULL);
	cr_expect_eq(json_object_array_length(jget(r, "result")), 1);
	json_object_put(r);
	close(fd);
}

Test(ctl, oversized_request_closes)
{
	int fd = ringtgt_ctl_connect(sock_path);
	size_t len = CTL_MAX_REQUEST + 4096;
	char *big = malloc(len + 1), c;
	json_object *r;

	cr_assert_geq(fd, 0);
	memset(big, ' ', len);
	big[0] = '{';
	big[len] = '\0';
	/* The server replies and closes before reading it all. */
	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, big + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(big);
	r = raw(fd, NULL);
	expect_error(r, E2BIG, "request longer than 1048576 bytes");
	cr_expect_eq(recv(fd, &c, 1, 0), 0, "connection closed");
	close(fd);
}

Test(ctl, client_errors)
{
	char err[256] = "";
	int fd;

	cr_expect_eq(ringtgt_ctl_connect("/nonexistent/ringtgtd.sock"), -ENOENT);
	setenv(RINGTGT_CTL_ENV, sock_path, 1);
	fd = ringtgt_ctl_connect(NULL);
	cr_assert_geq(fd, 0, "connect via $" RINGTGT_CTL_ENV);
	cr_expect_eq(ringtgt_ctl_call(fd, "no.such", NULL, NULL, err, sizeof(err)),
		     -EOPNOTSUPP);
	cr_expect_str_eq(err, "unknown op 'no.such'");
	close(fd);
}

/* --- accounts (issue 9) ------------------------------------------------ */

#define CTL_SECRET "ctl-secret-0123456789"

static json_object *jstr_new(const char *s)
{
	return json_object_new_string(s);
}

/* account.add {name, random: true}: the generated secret, checked. */
static char *random_account(const char *name)
{
	json_object *res = NULL;
	char err[256] = "", *secret;
	const char *s;
	size_t n;

	cr_assert_eq(call("account.add", args_new("name", jstr_new(name),
						  "random", json_object_new_boolean(1),
						  NULL), &res, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_object_get_string(jget(res, "name")), name);
	s = json_object_get_string(jget(res, "secret"));
	n = strlen(s);
	/* Issue 9: at least 16 printable characters, 96 random bits or more. */
	cr_expect_geq(n, 16, "'%s' is shorter than 16", s);
	for (size_t i = 0; i < n; i++)
		cr_expect(s[i] > 0x20 && s[i] < 0x7f, "'%s': byte %zu not printable", s, i);
	/* 64 letters carry 6 bits each. */
	cr_expect_geq(n * 6, 96, "'%s' holds fewer than 96 bits", s);
	cr_expect_eq(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			       "0123456789-_"), n, "'%s': outside the alphabet", s);
	cr_expect_not(json_object_object_get_ex(res, "warning", NULL),
		      "a generated secret is short enough to warn about");
	secret = strdup(s);
	json_object_put(res);
	return secret;
}

Test(ctl, account_random_secret)
{
	uint8_t got[CORE_SECRET_MAX];
	char *a = random_account("r1"), *b = random_account("r2");
	struct tgt_target *t;
	int n;

	cr_expect_str_neq(a, b, "two random secrets are equal");
	/* The secret shown is the one the account holds. */
	cr_assert_eq(core_target_add(IQN, 0, NULL, NULL), 0);
	cr_assert_eq(core_account_bind(IQN, "r1", false, NULL), 0);
	t = core_target_find(IQN);
	n = core_auth_incoming(t, "r1", got, sizeof(got));
	core_target_put(t);
	cr_assert_eq(n, (int)strlen(a));
	cr_expect_arr_eq(got, a, (size_t)n);
	free(a);
	free(b);
}

Test(ctl, account_ops)
{
	json_object *res = NULL, *acc;
	char err[256] = "";
	const char *text;

	cr_assert_eq(call("target.add", args_new("iqn", jstr_new(IQN), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	/* A given secret is not echoed back; a short one draws a warning. */
	cr_assert_eq(call("account.add", args_new("name", jstr_new("alice"),
						  "secret", jstr_new(CTL_SECRET), NULL),
			  &res, err, sizeof(err)), 0, "%s", err);
	text = json_object_to_json_string(res);
	cr_expect_null(strstr(text, CTL_SECRET), "%s", text);
	cr_expect_not(json_object_object_get_ex(res, "warning", NULL), "%s", text);
	json_object_put(res);
	cr_assert_eq(call("account.add", args_new("name", jstr_new("shorty"),
						  "secret", jstr_new("short"), NULL),
			  &res, err, sizeof(err)), 0, "%s", err);
	cr_expect(strstr(json_object_get_string(jget(res, "warning")),
			 "shorter than 12"), "%s", json_object_to_json_string(res));
	cr_expect_null(strstr(json_object_to_json_string(res), "\"short\""));
	json_object_put(res);

	/* Argument errors. */
	cr_expect_eq(call("account.add", args_new("name", jstr_new("x"), NULL),
			  NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "give either 'secret' or 'random': true");
	cr_expect_eq(call("account.add", args_new("name", jstr_new("x"),
						  "secret", jstr_new(CTL_SECRET),
						  "random", json_object_new_boolean(1), NULL),
			  NULL, err, sizeof(err)), -EINVAL);
	cr_expect_eq(call("account.add", args_new("name", jstr_new("alice"),
						  "secret", jstr_new(CTL_SECRET), NULL),
			  NULL, err, sizeof(err)), -EEXIST);
	cr_expect_str_eq(err, "account alice already exists");

	cr_assert_eq(call("account.bind", args_new("iqn", jstr_new(IQN),
						   "name", jstr_new("alice"), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	/* No iqn: discovery. */
	cr_assert_eq(call("account.bind", args_new("name", jstr_new("shorty"), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(call("discovery.auth", args_new("mode", jstr_new("mutual"), NULL),
			  NULL, err, sizeof(err)), -EINVAL);
	cr_expect_eq(call("discovery.auth", args_new("mode", jstr_new("CHAP!"), NULL),
			  NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "argument 'mode' must be \"none\", \"chap\" or \"mutual\"");
	cr_assert_eq(call("discovery.auth", args_new("mode", jstr_new("chap"), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(core_discovery_auth(), CORE_DISC_AUTH_CHAP);
	cr_assert_eq(call("target.chap_algorithms", args_new("iqn", jstr_new(IQN),
			  "algorithms", jstr_new("sha-256,SHA3-256"), NULL),
			  &res, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_object_get_string(jget(res, "chap_algorithms")),
			 "SHA256,SHA3-256");
	json_object_put(res);
	cr_expect_eq(call("target.chap_algorithms", args_new("iqn", jstr_new(IQN),
			  "algorithms", jstr_new("SHA512"), NULL),
			  NULL, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "unknown CHAP algorithm 'SHA512'"), "%s", err);

	/* account.list: no secret unless show_secrets. */
	cr_assert_eq(call("account.list", NULL, &res, err, sizeof(err)), 0, "%s", err);
	text = json_object_to_json_string(res);
	cr_expect_null(strstr(text, CTL_SECRET), "%s", text);
	cr_expect_null(strstr(text, "\"secret\""), "%s", text);
	acc = json_object_array_get_idx(jget(res, "accounts"), 0);
	cr_expect_str_eq(json_object_get_string(jget(acc, "name")), "alice");
	cr_expect_str_eq(json_object_get_string(
		json_object_array_get_idx(jget(acc, "incoming"), 0)), IQN);
	cr_expect_str_eq(json_object_get_string(jget(jget(res, "discovery"), "auth")),
			 "chap");
	json_object_put(res);
	cr_assert_eq(call("account.list", args_new("show_secrets",
						   json_object_new_boolean(1), NULL),
			  &res, err, sizeof(err)), 0, "%s", err);
	acc = json_object_array_get_idx(jget(res, "accounts"), 0);
	cr_expect_str_eq(json_object_get_string(jget(acc, "secret")), CTL_SECRET);
	json_object_put(res);
	/* target.list names the accounts, never their secrets. */
	cr_assert_eq(call("target.list", NULL, &res, err, sizeof(err)), 0, "%s", err);
	text = json_object_to_json_string(res);
	cr_expect_null(strstr(text, CTL_SECRET), "%s", text);
	acc = json_object_array_get_idx(res, 0);
	cr_expect_str_eq(json_object_get_string(
		json_object_array_get_idx(jget(acc, "incoming_accounts"), 0)), "alice");
	cr_expect_str_eq(json_object_get_string(jget(acc, "chap_algorithms")),
			 "SHA256,SHA3-256");
	json_object_put(res);

	cr_expect_eq(call("account.remove", args_new("name", jstr_new("alice"), NULL),
			  NULL, err, sizeof(err)), -EBUSY);
	cr_expect(strstr(err, "--force"), "%s", err);
	cr_expect_eq(call("account.unbind", args_new("iqn", jstr_new(IQN),
						     "name", jstr_new("alice"),
						     "outgoing", json_object_new_boolean(1),
						     NULL), NULL, err, sizeof(err)), -ENOENT);
	cr_expect_eq(call("account.unbind", args_new("iqn", jstr_new(IQN),
						     "name", jstr_new("alice"), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(call("account.remove", args_new("name", jstr_new("alice"), NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(call("account.remove", args_new("name", jstr_new("shorty"),
						     "force", json_object_new_boolean(1),
						     NULL), NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(call("account.list", args_new("bogus", json_object_new_int(1), NULL),
			  NULL, err, sizeof(err)), -EINVAL);
}

/* --- socket file handling without a fixture ----------------------------- */

static int call_path_ok(const char *path)
{
	int fd = ringtgt_ctl_connect(path), rc;

	if (fd < 0)
		return fd;
	rc = ringtgt_ctl_call(fd, "target.list", NULL, NULL, NULL, 0);
	close(fd);
	return rc;
}

Test(ctl_socket, stale_and_foreign_files)
{
	char dir[] = "/tmp/ringtgt-ctls-XXXXXX", path[128];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_server *s = NULL;
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.sock", dir);

	/* A socket nobody listens on (a dead daemon's) is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	cr_assert_eq(ctl_server_start(path, &s), 0);
	cr_expect_eq(call_path_ok(path), 0);
	ctl_server_stop(s);
	cr_expect_neq(access(path, F_OK), 0, "stop removes the socket");

	/* A regular file is not ours to delete. */
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	s = NULL;
	cr_expect_eq(ctl_server_start(path, &s), -EEXIST);
	cr_expect_null(s);
	cr_expect_eq(access(path, F_OK), 0, "the file is still there");
	unlink(path);
	rmdir(dir);
}

/* --- sizes ----------------------------------------------------------- */

struct size_case {
	char text[32];
	int rc;
	uint64_t value;
};

ParameterizedTestParameters(size, parse)
{
	static struct size_case cases[] = {
		{ "0", 0, 0 },
		{ "512", 0, 512 },
		{ "512B", 0, 512 },
		{ "4K", 0, 4096 },
		{ "4k", 0, 4096 },
		{ "4KiB", 0, 4096 },
		{ "4KB", 0, 4096 },
		{ "64M", 0, 64ull << 20 },
		{ "1G", 0, 1ull << 30 },
		{ "2T", 0, 2ull << 40 },
		{ "1P", 0, 1ull << 50 },
		{ "16383P", 0, 16383ull << 50 },
		{ "16384P", -ERANGE, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "G", -EINVAL, 0 },
		{ "-1G", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
		{ "1X", -EINVAL, 0 },
		{ "1GG", -EINVAL, 0 },
		{ " 1G", -EINVAL, 0 },
		{ "1G ", -EINVAL, 0 },
	};

	return cr_make_param_array(struct size_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct size_case *c, size, parse)
{
	uint64_t v = 12345;

	cr_expect_eq(ringtgt_parse_size(c->text, &v), c->rc, "'%s'", c->text);
	if (c->rc == 0)
		cr_expect_eq(v, c->value, "'%s': %llu", c->text,
			     (unsigned long long)v);
	else
		cr_expect_eq(v, 12345, "untouched on error");
}

/* lun.resize: its result, its argument checking, the core's refusals */
Test(ctl, lun_resize)
{
	json_object *res = NULL;
	char err[256] = "";

	cr_assert_eq(call("target.add", args_new("iqn", json_object_new_string(IQN),
						 NULL), NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(call("lun.add", args_new("iqn", json_object_new_string(IQN),
					      "lun", json_object_new_int(1),
					      "backing", json_object_new_string("ram"),
					      "size", json_object_new_string("1M"),
					      NULL), NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(call("lun.resize", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "size", json_object_new_string("2M"),
						 NULL), &res, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_object_get_string(jget(res, "iqn")), IQN);
	cr_expect_eq(json_object_get_int(jget(res, "lun")), 1);
	cr_expect_eq(json_object_get_int64(jget(res, "old_size")), 1 << 20);
	cr_expect_eq(json_object_get_int64(jget(res, "size")), 2 << 20);
	json_object_put(res);

	cr_expect_eq(call("lun.resize", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "size", json_object_new_int(1 << 20),
						 NULL), NULL, err, sizeof(err)), -EPERM);
	cr_expect_str_eq(err, "LUN 1 of " IQN ": shrinking it from 2097152 to "
			      "1048576 bytes cuts off the last 1048576 bytes; use --force");
	cr_expect_eq(call("lun.resize", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "size", json_object_new_int(1 << 20),
						 "force", json_object_new_boolean(1),
						 NULL), NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(call("lun.resize", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "size", json_object_new_string("1X"),
						 NULL), NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "argument 'size' must be bytes or a size like \"10G\"");
	cr_expect_eq(call("lun.resize", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "path", json_object_new_string("/x"),
						 NULL), NULL, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "unknown argument 'path'"), "%s", err);
	cr_expect_eq(call("lun.resize", args_new("iqn", json_object_new_string(IQN),
						 NULL), NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "missing argument 'lun'");
}

/* The LUN of IQN in target.list (caller puts *list). */
static json_object *list_lun(int lun, json_object **list)
{
	char err[256] = "";

	cr_assert_eq(call("target.list", NULL, list, err, sizeof(err)), 0,
		     "%s", err);
	for (size_t i = 0; i < json_object_array_length(*list); i++) {
		json_object *t = json_object_array_get_idx(*list, i);
		json_object *luns = jget(t, "luns");

		if (strcmp(json_object_get_string(jget(t, "iqn")), IQN))
			continue;
		for (size_t j = 0; j < json_object_array_length(luns); j++) {
			json_object *l = json_object_array_get_idx(luns, j);

			if (json_object_get_int(jget(l, "lun")) == lun)
				return l;
		}
	}
	cr_assert_fail("no LUN %d in %s", lun,
		       json_object_to_json_string(*list));
	return NULL;
}

/*
 * tgt's LU parameters (docs/control-protocol.md, "LU parameters"): set
 * at lun.add, changed by lun.update, shown by target.list with tgt's
 * names; bad values refused naming the parameter, and nothing changes.
 */
Test(ctl, lun_params)
{
	json_object *list = NULL, *l;
	char err[256] = "";

	cr_assert_eq(call("target.add", args_new("iqn", json_object_new_string(IQN),
						 NULL), NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(call("lun.add", args_new("iqn", json_object_new_string(IQN),
					      "lun", json_object_new_int(1),
					      "backing", json_object_new_string("ram"),
					      "size", json_object_new_string("1M"),
					      "scsi_id", json_object_new_string("volume-abc"),
					      "scsi_sn", json_object_new_string("SN-1"),
					      "vendor_id", json_object_new_string("IET"),
					      "removable", json_object_new_boolean(1),
					      NULL), NULL, err, sizeof(err)), 0, "%s", err);
	l = list_lun(1, &list);
	cr_expect_str_eq(json_object_get_string(jget(l, "scsi_id")), "volume-abc");
	cr_expect_str_eq(json_object_get_string(jget(l, "scsi_sn")), "SN-1");
	cr_expect_str_eq(json_object_get_string(jget(l, "serial")), "SN-1");
	cr_expect_str_eq(json_object_get_string(jget(l, "vendor_id")), "IET");
	cr_expect_str_eq(json_object_get_string(jget(l, "product_id")), "VIRTUAL-DISK");
	cr_expect(json_object_get_boolean(jget(l, "removable")));
	cr_expect_not(json_object_get_boolean(jget(l, "readonly")));
	cr_expect(json_object_get_boolean(jget(l, "online")));
	cr_expect_eq(json_object_get_int(jget(l, "sense_format")), 0);
	json_object_put(list);

	cr_assert_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "product_id", json_object_new_string("DISK2"),
						 "readonly", json_object_new_boolean(1),
						 NULL), NULL, err, sizeof(err)), 0, "%s", err);
	l = list_lun(1, &list);
	cr_expect_str_eq(json_object_get_string(jget(l, "product_id")), "DISK2");
	cr_expect(json_object_get_boolean(jget(l, "readonly")));
	cr_expect_str_eq(json_object_get_string(jget(l, "scsi_id")), "volume-abc");
	json_object_put(list);

	/* refusals name the parameter; all or nothing */
	cr_expect_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "product_id", json_object_new_string("DISK3"),
						 "vendor_id", json_object_new_string("NINECHARS"),
						 NULL), NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "vendor_id 'NINECHARS' must be at most 8 characters (it has 9)");
	l = list_lun(1, &list);
	cr_expect_str_eq(json_object_get_string(jget(l, "product_id")), "DISK2");
	json_object_put(list);
	cr_expect_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "scsi_id", json_object_new_string(
							 "0123456789012345678901234567890123456"),
						 NULL), NULL, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "scsi_id"), "%s", err);
	cr_expect_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "sense_format", json_object_new_int(1),
						 NULL), NULL, err, sizeof(err)), -EOPNOTSUPP);
	cr_expect(strstr(err, "sense_format=1"), "%s", err);
	cr_expect_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "online", json_object_new_boolean(0),
						 NULL), NULL, err, sizeof(err)), -EOPNOTSUPP);
	cr_expect(strstr(err, "online=0"), "%s", err);
	cr_expect_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "removable", json_object_new_string("1"),
						 NULL), NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "argument 'removable' must be true or false");
	cr_expect_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "mode_page", json_object_new_string("8:0:18"),
						 NULL), NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "argument 'mode_page' must be an array of strings");
	/* lbppbe, la_lba, optimal_xfer_*, mode_page: integers and an array
	 * of tgt's page strings, shown back as target.list has them */
	{
		json_object *pages = json_object_new_array();

		json_object_array_add(pages, json_object_new_string(
			"0x01:0:10:0:7:0:0:0:0:7:0:0:0"));
		cr_assert_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
							 "lun", json_object_new_int(1),
							 "lbppbe", json_object_new_int(3),
							 "la_lba", json_object_new_int(2),
							 "optimal_xfer_len", json_object_new_int(4096),
							 "mode_page", pages,
							 NULL), NULL, err, sizeof(err)), 0, "%s", err);
		l = list_lun(1, &list);
		cr_expect_eq(json_object_get_int(jget(l, "lbppbe")), 3);
		cr_expect_eq(json_object_get_int(jget(l, "la_lba")), 2);
		cr_expect_eq(json_object_get_int(jget(l, "optimal_xfer_len")), 4096);
		cr_expect_eq(json_object_get_int(jget(l, "optimal_xfer_gran")), 1,
			     "the store's physical block, unchanged");
		cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(
					 jget(l, "mode_page"), 0)),
				 "1:0:10:0x00:0x07:0x00:0x00:0x00:0x00:0x07:0x00:0x00:0x00");
		json_object_put(list);
	}
	cr_expect_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "lbppbe", json_object_new_int(16),
						 NULL), NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "lbppbe must be a decimal number 0..15, not '16'");
	cr_expect_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1),
						 "la_lba", json_object_new_int(8),
						 NULL), NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "LUN 1: la_lba 8 must be below 8, the logical blocks per physical block (lbppbe 3)");
	cr_expect_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(1), NULL),
			  NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "LUN 1: no parameter to change");
	cr_expect_eq(call("lun.update", args_new("iqn", json_object_new_string(IQN),
						 "lun", json_object_new_int(2),
						 "vendor_id", json_object_new_string("X"),
						 NULL), NULL, err, sizeof(err)), -ENOENT);
	/* serial and scsi_sn name the same thing: not both */
	cr_expect_eq(call("lun.add", args_new("iqn", json_object_new_string(IQN),
					      "lun", json_object_new_int(3),
					      "backing", json_object_new_string("ram"),
					      "size", json_object_new_string("1M"),
					      "serial", json_object_new_string("A"),
					      "scsi_sn", json_object_new_string("B"),
					      NULL), NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "LUN 3: give serial or scsi_sn, not both");
}

/*
 * portal.add / portal.remove / portal.list: the arguments reach the
 * iSCSI layer's hooks (a stub here: this process serves no iSCSI) as
 * given, group 1 by default, out-of-range groups and unknown arguments
 * refused before; the hooks' refusals come back with their errno and
 * sentence; without hooks, EOPNOTSUPP.
 */
static struct {
	char addr[64];
	int group;
	int adds, removes;
	int rc;
} stub;

static int stub_add(const char *addr, uint16_t group, char *err, size_t len)
{
	snprintf(stub.addr, sizeof(stub.addr), "%s", addr);
	stub.group = group;
	stub.adds++;
	if (stub.rc)
		snprintf(err, len, "portal %s is already open", addr);
	return stub.rc;
}

static int stub_remove(const char *addr, char *err, size_t len)
{
	snprintf(stub.addr, sizeof(stub.addr), "%s", addr);
	stub.removes++;
	if (stub.rc)
		snprintf(err, len, "no portal %s", addr);
	return stub.rc;
}

static const struct core_portal_ops stub_ops = { stub_add, stub_remove };

static json_object *portal_args(const char *addr, json_object *group)
{
	return group ? args_new("portal", json_object_new_string(addr),
				"group", group, NULL)
		     : args_new("portal", json_object_new_string(addr), NULL);
}

Test(ctl, portal_ops)
{
	json_object *res = NULL, *p;
	char err[256] = "";

	cr_expect_eq(call("portal.add", portal_args("127.0.0.1:3261", NULL),
			  NULL, err, sizeof(err)), -EOPNOTSUPP);
	cr_expect(strstr(err, "portals cannot be opened"), "%s", err);
	core_set_portal_ops(&stub_ops);

	cr_assert_eq(call("portal.add", portal_args("127.0.0.1:3261", NULL),
			  &res, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(stub.addr, "127.0.0.1:3261");
	cr_expect_eq(stub.group, 1, "a new portal joins group 1");
	cr_expect_str_eq(json_object_get_string(jget(res, "portal")),
			 "127.0.0.1:3261");
	cr_expect_eq(json_object_get_int(jget(res, "group")), 1);
	json_object_put(res);
	cr_assert_eq(call("portal.add", portal_args("[::1]:3262",
			  json_object_new_int(2)), NULL, err, sizeof(err)), 0,
		     "%s", err);
	cr_expect_str_eq(stub.addr, "[::1]:3262");
	cr_expect_eq(stub.group, 2);
	cr_assert_eq(call("portal.add", portal_args("[::1]:3262",
			  json_object_new_int(65535)), NULL, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(stub.group, 65535);

	/* refused before the hook */
	cr_expect_eq(call("portal.add", portal_args("127.0.0.1:3263",
			  json_object_new_int(0)), NULL, err, sizeof(err)),
		     -ERANGE);
	cr_expect_str_eq(err, "argument 'group' out of range 1..65535");
	cr_expect_eq(call("portal.add", portal_args("127.0.0.1:3263",
			  json_object_new_int(65536)), NULL, err, sizeof(err)),
		     -ERANGE);
	cr_expect_eq(call("portal.add", portal_args("127.0.0.1:3263",
			  json_object_new_string("2")), NULL, err, sizeof(err)),
		     -EINVAL);
	cr_expect_str_eq(err, "argument 'group' must be an integer");
	cr_expect_eq(call("portal.add", args_new("group",
			  json_object_new_int(1), NULL), NULL, err,
			  sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "missing argument 'portal'");
	cr_expect_eq(call("portal.add", args_new("portal",
			  json_object_new_int(3260), NULL), NULL, err,
			  sizeof(err)), -EINVAL);
	cr_expect_eq(call("portal.remove", portal_args("127.0.0.1:3261",
			  json_object_new_int(1)), NULL, err, sizeof(err)),
		     -EINVAL);
	cr_expect_str_eq(err, "portal.remove: unknown argument 'group'");
	cr_expect_eq(stub.adds, 3, "a refused request reached the hook");
	cr_expect_eq(stub.removes, 0);

	cr_assert_eq(call("portal.remove", portal_args("127.0.0.1:3261", NULL),
			  NULL, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(stub.addr, "127.0.0.1:3261");
	cr_expect_eq(stub.removes, 1);

	/* the hook's refusal, errno and sentence */
	stub.rc = -EEXIST;
	cr_expect_eq(call("portal.add", portal_args("127.0.0.1:3261", NULL),
			  NULL, err, sizeof(err)), -EEXIST);
	cr_expect_str_eq(err, "portal 127.0.0.1:3261 is already open");
	stub.rc = -ENOENT;
	cr_expect_eq(call("portal.remove", portal_args("127.0.0.1:3999", NULL),
			  NULL, err, sizeof(err)), -ENOENT);
	cr_expect_str_eq(err, "no portal 127.0.0.1:3999");

	/* portal.list: the core's record, in the order opened */
	cr_assert_eq(core_port_group_define(2, SCSI_ALUA_STANDBY, NULL), 0);
	cr_assert_eq(core_port_group_portal(1, "127.0.0.1:3260", NULL), 0);
	cr_assert_eq(core_port_group_portal(2, "[::1]:3262", NULL), 0);
	cr_assert_eq(core_port_group_portal(1, "127.0.0.1:3261", NULL), 0);
	core_port_group_portal_forget("[::1]:3262");
	cr_assert_eq(call("portal.list", NULL, &res, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(json_object_array_length(res), 2, "%s",
		     json_object_to_json_string(res));
	p = json_object_array_get_idx(res, 0);
	cr_expect_str_eq(json_object_get_string(jget(p, "portal")),
			 "127.0.0.1:3260");
	cr_expect_eq(json_object_get_int(jget(p, "group")), 1);
	p = json_object_array_get_idx(res, 1);
	cr_expect_str_eq(json_object_get_string(jget(p, "portal")),
			 "127.0.0.1:3261");
	json_object_put(res);
	core_set_portal_ops(NULL);
}
