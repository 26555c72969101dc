/*
 * test_tgtadm.c - tools/tgtadm.c against what tgt 1.0.85's own tgtadm
 * does, as captured from a real tgtd by tests/unit/data/tgt/capture.sh:
 * every usage error with its message and exit status (errors.tsv), the
 * `--op show --mode target` layout byte for byte (show-target.txt, fed
 * the same state as target.list / session.list results), tgt's size
 * rounding, and the parsed fields of the requests scripts make.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "../../tools/tgtadm.h"
#include "ringtgt/ctl.h"

#define DATA SOURCE_ROOT "/tests/unit/data/tgt/"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int ch;

	cr_assert_not_null(f, "cannot open %s", path);
	m = open_memstream(&buf, &len);
	while ((ch = fgetc(f)) != EOF)
		fputc(ch, m);
	fclose(m);
	fclose(f);
	return buf;
}

/* tgt ends "Backing store flags: " with a space; ours never trails one */
static char *strip_trailing_spaces(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r == '\n')
			while (w > s && w[-1] == ' ')
				w--;
		*w++ = *r;
	}
	*w = '\0';
	return s;
}

/*
 * Runs the parser on a command line split at spaces; its stderr in *err.
 * The request's strings point into the line's copy, kept until the next.
 */
static int parse_line(const char *line, struct tgtadm_req *r, char **err)
{
	static char copy[1024];
	char *save = NULL, *argv[64] = { "tgtadm" };
	char *out = NULL;
	size_t elen = 0, olen = 0;
	FILE *e = open_memstream(err, &elen), *o = open_memstream(&out, &olen);
	int argc = 1, rc;

	cr_assert_lt(strlen(line), sizeof(copy));
	strcpy(copy, line);
	for (char *w = strtok_r(copy, " ", &save); w && argc < 63;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	rc = tgtadm_parse(argc, argv, r, o, e);
	fclose(e);
	fclose(o);
	free(out);
	return rc;
}

/*
 * errors.tsv: "ARGS<TAB>STATUS<TAB>STDERR" (lines joined by '|'). The
 * rows after tgtd was stopped (the one with status 107) are refused by
 * tgtadm itself: ours must print the same and exit the same.
 */
Test(tgtadm, usage_errors_as_tgt)
{
	char *tsv = slurp(DATA "errors.tsv"), *save = NULL;
	bool own = false;
	int checked = 0;

	for (char *row = strtok_r(tsv, "\n", &save); row;
	     row = strtok_r(NULL, "\n", &save)) {
		char *args = row, *st = strchr(row, '\t'), *want, *got = NULL;
		struct tgtadm_req r;
		int rc;

		cr_assert_not_null(st);
		*st++ = '\0';
		want = strchr(st, '\t');
		cr_assert_not_null(want);
		*want++ = '\0';
		if (!own) {
			own = atoi(st) == 107;
			continue;
		}
		for (char *p = want; *p; p++)
			if (*p == '|')
				*p = '\n';
		rc = parse_line(args, &r, &got);
		cr_expect_eq(rc, atoi(st), "tgtadm %s: status %d, tgt's %d", args,
			     rc, atoi(st));
		/* tgt prints "-t argument value 'x' invalid" without the name */
		cr_expect_str_eq(got, want, "tgtadm %s: stderr\n%s\ntgt's\n%s", args,
				 got, want);
		free(got);
		checked++;
	}
	cr_assert_geq(checked, 38, "only %d rows of tgt's refusals checked", checked);
	free(tsv);
}

Test(tgtadm, parse_logicalunit_new)
{
	struct tgtadm_req r;
	char *err = NULL;

	cr_assert_eq(parse_line("--lld iscsi --op new --mode logicalunit --tid 7 "
				"--lun 1 -b /dev/vg/vol --bsoflags direct -y 4096",
				&r, &err), -1, "%s", err);
	cr_expect_str_eq(err, "");
	cr_expect_str_eq(r.lld, "iscsi");
	cr_expect_eq(r.op, TGTADM_OP_NEW);
	cr_expect_eq(r.mode, TGTADM_MODE_DEVICE);
	cr_expect_eq(r.tid, 7);
	cr_expect_eq(r.lun, 1);
	cr_expect_str_eq(r.path, "/dev/vg/vol");
	cr_expect_str_eq(r.bsoflags, "direct");
	cr_expect_str_eq(r.blocksize, "4096");
	free(err);
}

/* tgt's short letters, base-0 numbers, and the modes' short names */
Test(tgtadm, parse_short_forms)
{
	struct tgtadm_req r;
	char *err = NULL;

	cr_assert_eq(parse_line("-L iscsi -o bind -m account -t 0x10 -u alice --outgoing -C 3",
				&r, &err), -1, "%s", err);
	cr_expect_eq(r.tid, 16);
	cr_expect_str_eq(r.user, "alice");
	cr_expect(r.outgoing);
	cr_expect_eq(r.control_port, 3);
	free(err);
	cr_assert_eq(parse_line("-o update -m sys -n State -v offline", &r, &err),
		     -1, "%s", err);
	cr_expect_eq(r.mode, TGTADM_MODE_SYSTEM);
	cr_expect_str_eq(r.name, "State");
	cr_expect_str_eq(r.value, "offline");
	free(err);
	cr_assert_eq(parse_line("--op delete --mode tgt --tid 2 --force", &r, &err),
		     -1, "%s", err);
	cr_expect_eq(r.mode, TGTADM_MODE_TARGET);
	cr_expect(r.force);
	free(err);
	/* no --tid: an account binds to discovery (tgt's global target) */
	cr_assert_eq(parse_line("--op bind --mode account --user d", &r, &err),
		     -1, "%s", err);
	cr_expect_eq(r.tid, -1);
	free(err);
}

Test(tgtadm, help_and_version)
{
	struct tgtadm_req r;
	char *err = NULL;

	cr_expect_eq(parse_line("--help", &r, &err), 0);
	free(err);
	cr_expect_eq(parse_line("-V", &r, &err), 0);
	free(err);
}

/* tgt's print_disksize(): the values its captures show, and its rounding */
Test(tgtadm, disk_mb)
{
	cr_expect_eq(tgtadm_disk_mb(0), 0);
	cr_expect_eq(tgtadm_disk_mb(64ull << 20), 67);
	cr_expect_eq(tgtadm_disk_mb(10ull << 20), 10);
	/* 1 GiB: 2097152 sectors -> (2097152 - (3355 - 974)) / 1950 */
	cr_expect_eq(tgtadm_disk_mb(1ull << 30), 1074);
}

Test(tgtadm, socket_path)
{
	char p[256];

	setenv("RINGTGT_SOCKET", "/run/x/ctl.sock", 1);
	tgtadm_socket_path(0, p, sizeof(p));
	cr_expect_str_eq(p, "/run/x/ctl.sock");
	tgtadm_socket_path(4, p, sizeof(p));
	cr_expect_str_eq(p, "/run/x/ctl.sock.4");
	unsetenv("RINGTGT_SOCKET");
	tgtadm_socket_path(1, p, sizeof(p));
	cr_expect_str_eq(p, RINGTGT_CTL_DEFAULT_PATH ".1");
}

static char *show(json_object *targets, json_object *sessions)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	tgtadm_show_targets(targets, sessions, m);
	fclose(m);
	return buf;
}

/* The layout, line for line, against tgtd's own (show-target.txt). */
Test(tgtadm, show_target_as_tgt)
{
	json_object *state = json_object_from_file(DATA "show-target.json");
	json_object *targets, *sessions;
	char *want = strip_trailing_spaces(slurp(DATA "show-target.txt"));
	char *got;

	cr_assert_not_null(state, "show-target.json: %s", json_util_get_last_err());
	cr_assert(json_object_object_get_ex(state, "targets", &targets));
	cr_assert(json_object_object_get_ex(state, "sessions", &sessions));
	got = show(targets, sessions);
	cr_expect_str_eq(got, want, "ours:\n%s\ntgt's:\n%s", got, want);
	cr_expect_null(strstr(got, " \n"), "a trailing space");
	free(got);
	free(want);
	json_object_put(state);
}

Test(tgtadm, show_target_empty_as_tgt)
{
	json_object *none = json_object_new_array();
	char *want = slurp(DATA "show-target-empty.txt");
	char *got = show(none, none);

	cr_expect_str_eq(got, want);
	free(got);
	free(want);
	json_object_put(none);
}

/*
 * --- `--op stat`, against tgtd 1.0.85's own tables (stat-*.txt) ---------
 *
 * The captures are of a tgtd on a test port with target 1 (LUN 0, the
 * controller, and LUN 1, a file) and one session (TSIH 1) running
 * iscsi-perf; each was taken a moment after the other, so each test
 * gives the counters of its own capture. tgt counts no Data-In or SCSI
 * Response PDUs (it counts them by the request's opcode), so those are 0
 * here too.
 */

/* Session 1's stats with these LUN 1 counters (LUN 0 all zero). */
static json_object *stat_sessions(const char *lun1, const char *conn)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "[{\"target\": \"iqn.2026-12.test:t1\", \"tid\": 1,"
		 " \"type\": \"normal\", \"tsih\": 1, \"cid\": 0,"
		 " \"stats\": {\"luns\": [{\"lun\": 0,"
		 " \"read_submitted_bytes\": 0, \"read_submitted_cmds\": 0,"
		 " \"read_done_bytes\": 0, \"read_done_cmds\": 0,"
		 " \"write_submitted_bytes\": 0, \"write_submitted_cmds\": 0,"
		 " \"write_done_bytes\": 0, \"write_done_cmds\": 0,"
		 " \"errors\": 0}, {\"lun\": 1, %s}],"
		 " \"connections\": [{\"cid\": 0, %s}]}},"
		 " {\"target\": null, \"tid\": null, \"type\": \"discovery\","
		 " \"tsih\": 2, \"cid\": 0}]", lun1, conn);
	return json_tokener_parse(text);
}

static json_object *stat_targets(void)
{
	return json_tokener_parse(
		"[{\"tid\": 1, \"iqn\": \"iqn.2026-12.test:t1\","
		" \"luns\": [{\"lun\": 0}, {\"lun\": 1}]},"
		" {\"tid\": 2, \"iqn\": \"iqn.2026-12.test:t2\","
		" \"luns\": [{\"lun\": 0}]}]");
}

#define LUN1(rsb, rsc, rdb, rdc) \
	"\"read_submitted_bytes\": " #rsb ", \"read_submitted_cmds\": " #rsc \
	", \"read_done_bytes\": " #rdb ", \"read_done_cmds\": " #rdc \
	", \"write_submitted_bytes\": 0, \"write_submitted_cmds\": 0," \
	" \"write_done_bytes\": 0, \"write_done_cmds\": 0, \"errors\": 1"
#define CONN(rx, tx, cmds) \
	"\"rx_octets\": " #rx ", \"tx_octets\": " #tx ", \"cmd_pdus\": " \
	#cmds ", \"dataout_pdus\": 0, \"datain_pdus\": 0, \"rsp_pdus\": 0"

/* --op stat with @argv (after "tgtadm"), printed from the fixtures. */
static char *stat_run(const char *line, json_object *sessions,
		      enum tgtadm_stat_rc want_rc)
{
	json_object *targets = stat_targets();
	struct tgtadm_req r;
	char *buf = NULL, *err = NULL;
	size_t len = 0;
	FILE *m;

	cr_assert_eq(parse_line(line, &r, &err), -1, "%s: %s", line, err);
	free(err);
	m = open_memstream(&buf, &len);
	cr_assert_eq(tgtadm_stat_print(&r, targets, sessions, m), want_rc,
		     "%s", line);
	fclose(m);
	json_object_put(targets);
	json_object_put(sessions);
	return buf;
}

static void stat_as_tgt(const char *line, const char *capture,
			json_object *sessions)
{
	char *want = slurp(capture);
	char *got = stat_run(line, sessions, TGTADM_STAT_OK);

	cr_expect_str_eq(got, want, "%s\nours:\n%s\ntgt's:\n%s", line, got,
			 want);
	free(got);
	free(want);
}

Test(tgtadm, stat_target_as_tgt)
{
	stat_as_tgt("--lld iscsi --op stat --mode target --tid 1",
		    DATA "stat-target.txt",
		    stat_sessions(LUN1(298770464, 72943, 298766368, 72942),
				  CONN(0, 0, 0)));
}

/* system: every target's lines; target 2 has no session, so none */
Test(tgtadm, stat_system_as_tgt)
{
	stat_as_tgt("--lld iscsi --op stat --mode sys", DATA "stat-target.txt",
		    stat_sessions(LUN1(298770464, 72943, 298766368, 72942),
				  CONN(0, 0, 0)));
}

Test(tgtadm, stat_logicalunit_as_tgt)
{
	stat_as_tgt("--lld iscsi --op stat --mode logicalunit --tid 1 --lun 1",
		    DATA "stat-lu.txt",
		    stat_sessions(LUN1(298893344, 72973, 298885152, 72971),
				  CONN(0, 0, 0)));
}

/* session: its LUs highest first, then its connections */
Test(tgtadm, stat_session_as_tgt)
{
	stat_as_tgt("--lld iscsi --op stat --mode session --tid 1 --sid 1",
		    DATA "stat-session.txt",
		    stat_sessions(LUN1(299040800, 73009, 299040800, 73009),
				  CONN(3504988, 302537408, 73011)));
}

Test(tgtadm, stat_conn_as_tgt)
{
	stat_as_tgt("--lld iscsi --op stat --mode conn --tid 1 --sid 1 --cid 0",
		    DATA "stat-conn.txt",
		    stat_sessions(LUN1(0, 0, 0, 0),
				  CONN(3505324, 302574704, 73018)));
}

/* what tgtd answers "can't find ..." to (its captures: errors printed by
 * the caller, tgtadm_run.c) */
Test(tgtadm, stat_refusals)
{
	static const struct {
		const char *line;
		enum tgtadm_stat_rc rc;
	} rows[] = {
		{ "--lld iscsi --op stat --mode target --tid 4", TGTADM_STAT_NO_TARGET },
		{ "--lld iscsi --op stat --mode logicalunit --tid 1 --lun 9", TGTADM_STAT_NO_LUN },
		{ "--lld iscsi --op stat --mode logicalunit --tid 4 --lun 1", TGTADM_STAT_NO_TARGET },
		{ "--lld iscsi --op stat --mode session --tid 1 --sid 7", TGTADM_STAT_NO_SESSION },
		/* TSIH 2 is a discovery session: no I_T nexus, as in tgt */
		{ "--lld iscsi --op stat --mode session --tid 1 --sid 2", TGTADM_STAT_NO_SESSION },
		{ "--lld iscsi --op stat --mode conn --tid 1 --sid 7 --cid 0", TGTADM_STAT_NO_SESSION },
		{ "--lld iscsi --op stat --mode conn --tid 1 --sid 1 --cid 3", TGTADM_STAT_NO_CONNECTION },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *out = stat_run(rows[i].line,
				     stat_sessions(LUN1(0, 0, 0, 0),
						   CONN(0, 0, 0)), rows[i].rc);

		cr_expect_str_eq(out, "", "%s printed something", rows[i].line);
		free(out);
	}
}

/*
 * --mode portal --param: tgt's list (usr/iscsi/iscsid.c
 * iscsi_param_parse_portals()) as ringtgtd's portal addresses: port 3260
 * when none, IPv6 in brackets, several items in order; what tgt refuses
 * (no "portal=") and what ringtgt refuses on top (another item, a bad
 * port, a bare IPv6 address), and tgt's NOP items, unsupported.
 */
struct portal_case {
	const char *list;
	int rc;			/* count, or -errno */
	const char *want[3];
};

Test(tgtadm, portal_parse)
{
	static const struct portal_case cases[] = {
		{ "portal=127.0.0.1:3261", 1, { "127.0.0.1:3261" } },
		{ "portal=127.0.0.1", 1, { "127.0.0.1:3260" } },
		{ "portal=0.0.0.0:3262", 1, { "0.0.0.0:3262" } },
		{ "portal=[::1]:3263", 1, { "[::1]:3263" } },
		{ "portal=[::1]", 1, { "[::1]:3260" } },
		{ "portal=[fe80::1%eth0]:3264", 1, { "[fe80::1%eth0]:3264" } },
		{ "portal=127.0.0.1:3261,portal=[::1]:3262", 2,
		  { "127.0.0.1:3261", "[::1]:3262" } },
		{ "portal=127.0.0.1:3261,", 1, { "127.0.0.1:3261" } },
		{ "foo=bar", -EINVAL, { NULL } },
		{ "", -EINVAL, { NULL } },
		{ "portal=", -EINVAL, { NULL } },
		{ "portal=127.0.0.1:", -EINVAL, { NULL } },
		{ "portal=127.0.0.1:0", -EINVAL, { NULL } },
		{ "portal=127.0.0.1:65536", -EINVAL, { NULL } },
		{ "portal=127.0.0.1:32x", -EINVAL, { NULL } },
		{ "portal=127.0.0.1:03261", 1, { "127.0.0.1:3261" } },
		{ "portal=127.0.0.1:0x10", -EINVAL, { NULL } },
		{ "portal=::1", -EINVAL, { NULL } },
		{ "portal=[::1", -EINVAL, { NULL } },
		{ "portal=[::1]3260", -EINVAL, { NULL } },
		{ "portal=1.2.3.4]:3260", -EINVAL, { NULL } },
		{ "portal=[[::1]:3260", -EINVAL, { NULL } },
		{ "portal=127.0.0.1:3261,foo=bar", -EINVAL, { NULL } },
		{ "portals=127.0.0.1:3261", -EINVAL, { NULL } },
		{ "portal=127.0.0.1:3261,nop_interval=5", -EOPNOTSUPP, { NULL } },
		{ "nop_count=3,portal=127.0.0.1:3261", -EOPNOTSUPP, { NULL } },
		{ "portal=a:1,portal=b:2,portal=c:3,portal=d:4", -EINVAL,
		  { NULL } },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct portal_case *c = &cases[k];
		char out[3][TGTADM_PORTAL_LEN];
		int rc = tgtadm_portal_parse(c->list, out, 3);

		cr_assert_eq(rc, c->rc, "\"%s\": %d, want %d", c->list, rc,
			     c->rc);
		for (int i = 0; i < rc; i++)
			cr_expect_str_eq(out[i], c->want[i], "\"%s\" item %d",
					 c->list, i);
	}
}
