/*
 * test_ctl_adm.c - ringtgtadm, the built binary ($RINGTGTADM), against a
 * ctl_server running in the test process: exit codes (0 ok, 1 refused,
 * 2 usage), messages on stderr, the human and JSON output.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "control/ctl.h"
#include "core/core.h"

#define IQN "iqn.2026-11.org.ringtgt:adm"

static char tmpdir[64];
static char sock_path[128];
static struct ctl_server *srv;
static char out[65536], err[65536];

static void start(void)
{
	strcpy(tmpdir, "/tmp/ringtgt-adm-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(sock_path, sizeof(sock_path), "%s/d.sock", tmpdir);
	core_init();
	cr_assert_eq(ctl_server_start(sock_path, &srv), 0);
	cr_assert_not_null(getenv("RINGTGTADM"), "run through meson test");
	setenv("RINGTGT_SOCKET", sock_path, 1);
}

static void stop(void)
{
	ctl_server_stop(srv);
	core_shutdown();
	rmdir(tmpdir);
}

TestSuite(adm, .init = start, .fini = stop);

/* Runs ringtgtadm with the NULL-terminated arguments; returns its status. */
static int adm(const char *arg, ...)
{
	const char *argv[32] = { "ringtgtadm" };
	int po[2], pe[2], n = 1, status;
	size_t lo = 0, le = 0;
	struct pollfd pfd[2];
	va_list ap;
	pid_t pid;

	va_start(ap, arg);
	for (; arg && n < 31; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe(pe), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execv(getenv("RINGTGTADM"), (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	pfd[0] = (struct pollfd){ .fd = po[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = pe[0], .events = POLLIN };
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		cr_assert_gt(poll(pfd, 2, 10000), 0, "ringtgtadm hangs");
		for (int i = 0; i < 2; i++) {
			char *buf = i ? err : out;
			size_t *len = i ? &le : &lo;
			ssize_t r;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			r = read(pfd[i].fd, buf + *len, sizeof(out) - 1 - *len);
			if (r <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
			} else {
				*len += (size_t)r;
			}
		}
	}
	out[lo] = '\0';
	err[le] = '\0';
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

Test(adm, usage_errors)
{
	cr_expect_eq(adm(NULL), 2);
	cr_expect(strstr(err, "ringtgtadm: no command given"), "%s", err);
	cr_expect_eq(adm("frob", NULL), 2);
	cr_expect(strstr(err, "unknown object 'frob'"), "%s", err);
	cr_expect_eq(adm("target", "frob", NULL), 2);
	cr_expect(strstr(err, "unknown command 'target frob'"), "%s", err);
	cr_expect_eq(adm("target", "add", NULL), 2);
	cr_expect(strstr(err, "ringtgtadm: missing argument\n"
			      "usage: ringtgtadm target add IQN [--tid N]\n"), "%s", err);
	cr_expect_eq(adm("target", "add", IQN, "extra", NULL), 2);
	cr_expect(strstr(err, "unexpected argument 'extra'"), "%s", err);
	cr_expect_eq(adm("target", "add", IQN, "--tid", "x", NULL), 2);
	cr_expect(strstr(err, "bad --tid 'x' (1..65535)"), "%s", err);
	cr_expect_eq(adm("target", "add", IQN, "--tid", NULL), 2);
	cr_expect(strstr(err, "option '--tid' needs a value"), "%s", err);
	cr_expect_eq(adm("target", "add", IQN, "--bogus", NULL), 2);
	cr_expect(strstr(err, "unknown option '--bogus'"), "%s", err);
	cr_expect_eq(adm("lun", "add", IQN, "1", NULL), 2);
	cr_expect(strstr(err, "--path FILE is required"), "%s", err);
	cr_expect_eq(adm("lun", "add", IQN, "300", "--path", "/x", NULL), 2);
	cr_expect(strstr(err, "bad LUN '300' (0..255)"), "%s", err);
	cr_expect_eq(adm("lun", "add", IQN, "1", "--path", "/x", "--size", "1Q", NULL), 2);
	cr_expect(strstr(err, "bad --size '1Q'"), "%s", err);
	cr_expect_eq(adm("lun", "add", IQN, "1", "--backing", "ram", NULL), 2);
	cr_expect(strstr(err, "--backing ram needs --size"), "%s", err);
	cr_expect_eq(adm("lun", "add", IQN, "1", "--path", "/x", "--create", NULL), 2);
	cr_expect(strstr(err, "--create needs --size"), "%s", err);
	cr_expect_eq(adm("lun", "add", IQN, "0", "--controller", "--path", "/x", NULL), 2);
	cr_expect(strstr(err, "--controller takes no --path"), "%s", err);
	cr_expect_eq(adm("lun", "add", IQN, "1", "--path", "/x", "--block-size", "1024", NULL), 2);
	cr_expect(strstr(err, "bad --block-size '1024' (512 or 4096)"), "%s", err);
	cr_expect_eq(adm("acl", "add", IQN, NULL), 2);
	cr_expect_eq(adm("--frob", NULL), 2);
	cr_expect(strstr(err, "unknown option '--frob'"), "%s", err);
	/* Nothing reached the daemon. */
	cr_expect_null(core_target_find(IQN));
}

Test(adm, help_on_every_level)
{
	cr_expect_eq(adm("--help", NULL), 0);
	cr_expect(strstr(out, "usage: ringtgtadm [OPTIONS] OBJECT COMMAND [ARGS]"), "%s", out);
	cr_expect(strstr(out, "lun add IQN LUN"), "%s", out);
	cr_expect_eq(adm("lun", "--help", NULL), 0);
	cr_expect(strstr(out, "ringtgtadm lun add IQN LUN"), "%s", out);
	cr_expect(strstr(out, "ringtgtadm lun remove IQN LUN [--force]"), "%s", out);
	cr_expect_eq(adm("lun", "add", "--help", NULL), 0);
	cr_expect(strstr(out, "--block-size N"), "%s", out);
	cr_expect_eq(adm("status", "--help", NULL), 0);
	cr_expect(strstr(out, "usage: ringtgtadm status"), "%s", out);
	cr_expect_eq(adm("--version", NULL), 0);
	cr_expect_str_eq(out, "ringtgtadm " RINGTGT_VERSION "\n");
}

Test(adm, cannot_connect)
{
	cr_expect_eq(adm("--control-socket", "/nonexistent/d.sock", "status", NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: cannot connect to /nonexistent/d.sock: "
			      "No such file or directory (is ringtgtd running?)\n");
	/* The option also works after the command. */
	cr_expect_eq(adm("target", "list", "-s", "/nonexistent/e.sock", NULL), 1);
	cr_expect(strstr(err, "/nonexistent/e.sock"), "%s", err);
}

Test(adm, manage_and_show)
{
	cr_assert_eq(adm("target", "add", IQN, "--tid", "3", NULL), 0, "%s", err);
	cr_expect_str_eq(out, "Target 3: " IQN "\n");
	cr_expect_eq(adm("target", "add", IQN, NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: target " IQN " already exists (tid 3)\n");
	cr_assert_eq(adm("lun", "add", IQN, "0", "--controller", NULL), 0, "%s", err);
	/* Options may follow or precede the operands. */
	cr_assert_eq(adm("lun", "add", "--backing", "ram", IQN, "1", "--size", "64M",
			 "--serial", "ADM1", NULL), 0, "%s", err);
	cr_expect_str_eq(out, "");
	cr_assert_eq(adm("acl", "add", IQN, "10.0.0.0/8", NULL), 0, "%s", err);
	cr_expect_eq(adm("acl", "add", IQN, "10.0.0.1/8", NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: ACL rule '10.0.0.1/8' has host bits set; "
			      "did you mean 10.0.0.0/8?\n");

	cr_assert_eq(adm("target", "show", IQN, NULL), 0, "%s", err);
	cr_expect_str_eq(out,
		"Target 3: " IQN "\n"
		"    Sessions: 0\n"
		"    LUNs:\n"
		"        LUN 0: controller\n"
		"        LUN 1: disk\n"
		"            Backing: ram\n"
		"            Size: 64 MiB (67108864 bytes), block size 512\n"
		"            Serial: ADM1\n"
		"            Read-only: no\n"
		"    ACL:\n"
		"        10.0.0.0/8\n");

	cr_assert_eq(adm("--json", "target", "list", NULL), 0, "%s", err);
	json_object *j = json_tokener_parse(out);
	cr_assert_not_null(j, "%s", out);
	cr_assert_eq(json_object_array_length(j), 1);
	cr_expect_str_eq(json_object_get_string(json_object_object_get(
		json_object_array_get_idx(j, 0), "iqn")), IQN);
	json_object_put(j);

	cr_expect_eq(adm("target", "show", "iqn.2026-11.org.ringtgt:nope", NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: no target iqn.2026-11.org.ringtgt:nope\n");

	cr_expect_eq(adm("session", "list", NULL), 0);
	cr_expect_str_eq(out, "No sessions.\n");
	cr_expect_eq(adm("status", "--json", NULL), 0);
	j = json_tokener_parse(out);
	cr_assert_not_null(j, "%s", out);
	cr_expect_eq(json_object_get_int(json_object_object_get(j, "targets")), 1);
	json_object_put(j);

	cr_expect_eq(adm("lun", "remove", IQN, "1", NULL), 0, "%s", err);
	cr_expect_eq(adm("lun", "remove", IQN, "1", NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: target " IQN " has no LUN 1\n");
	cr_expect_eq(adm("acl", "remove", IQN, "10.0.0.0/8", NULL), 0, "%s", err);
	cr_expect_eq(adm("target", "remove", IQN, NULL), 0, "%s", err);
	cr_expect_eq(adm("target", "list", NULL), 0);
	cr_expect_str_eq(out, "No targets.\n");
}

Test(adm, sessions_shown)
{
	struct core_session s = { .tsih = 7, .header_digest = true };

	cr_assert_eq(adm("target", "add", IQN, NULL), 0, "%s", err);
	s.target = core_target_find(IQN);
	strcpy(s.initiator, "iqn.1993-08.org.debian:01:abc");
	strcpy(s.isid, "23d000000001");
	strcpy(s.peer, "127.0.0.1:40000");
	core_session_register(&s);

	cr_expect_eq(adm("target", "remove", IQN, NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: target " IQN
			      " has 1 session; use --force to remove it anyway\n");
	cr_expect_eq(adm("session", "list", NULL), 0, "%s", err);
	cr_expect_str_eq(out,
		"TID  TARGET                       INITIATOR                      ISID          TSIH  PEER             DIGESTS\n"
		"1    " IQN "  iqn.1993-08.org.debian:01:abc  23d000000001  7     127.0.0.1:40000  header=CRC32C data=None\n");
	cr_expect_eq(adm("target", "show", IQN, NULL), 0, "%s", err);
	cr_expect(strstr(out, "    Sessions: 1\n        iqn.1993-08.org.debian:01:abc "
			      "(isid 23d000000001, tsih 7) from 127.0.0.1:40000, "
			      "digests header CRC32C data None\n"), "%s", out);
	cr_expect_eq(adm("target", "remove", IQN, "--force", NULL), 0, "%s", err);
	core_session_unregister(&s);
	core_target_put(s.target);
}
