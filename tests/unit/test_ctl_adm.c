/*
 * test_ctl_adm.c - ringtgtadm, the built binary ($RINGTGTADM), against a
 * ctl_server running in the test process: exit codes (0 ok, 1 refused,
 * 2 usage), messages on stderr, the human and JSON output.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/log.h"
#include "control/ctl.h"
#include "core/core.h"

#define IQN "iqn.2026-11.org.ringtgt:adm"

static char tmpdir[64];
static char sock_path[128];
static struct ctl_server *srv;
static char out[65536], err[65536];
/* When set, the next adm() feeds it to ringtgtadm's standard input. */
static const char *adm_stdin;
/* argv[0] of the next adm() (the binary picks its tool by this name). */
static const char *adm_argv0 = "ringtgtadm";

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
	const char *argv[32] = { adm_argv0 };
	int po[2], pe[2], pi[2] = { -1, -1 }, n = 1, status;
	size_t lo = 0, le = 0;
	struct pollfd pfd[2];
	va_list ap;
	pid_t pid;

	va_start(ap, arg);
	for (; arg && n < 31; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	adm_argv0 = "ringtgtadm";
	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe(pe), 0);
	if (adm_stdin) {
		/* Small enough for the pipe buffer: written before the fork. */
		cr_assert_eq(pipe(pi), 0);
		cr_assert_eq(write(pi[1], adm_stdin, strlen(adm_stdin)),
			     (ssize_t)strlen(adm_stdin));
		close(pi[1]);
		adm_stdin = NULL;
	}
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		if (pi[0] >= 0)
			dup2(pi[0], 0);
		close(po[0]);
		close(pe[0]);
		execv(getenv("RINGTGTADM"), (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	if (pi[0] >= 0)
		close(pi[0]);
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
	cr_expect_eq(adm("image", "create", "--help", NULL), 0);
	cr_expect(strstr(out, "image create FILE --size SIZE [--preallocate]"),
		  "%s", out);
	cr_expect(strstr(out, "--force"), "%s", out);
	cr_expect_eq(adm("lun", "add", "--help", NULL), 0);
	cr_expect(strstr(out, "--write-cache on|off"), "%s", out);
	/* image create needs a size, and no daemon */
	cr_expect_eq(adm("image", "create", "/nonexistent/x.img", NULL), 2);
	cr_expect(strstr(err, "--size is required"), "%s", err);
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
		"    State: ready\n"
		"    Sessions: 0\n"
		"    LUNs:\n"
		"        LUN 0: controller\n"
		"        LUN 1: disk\n"
		"            Backing: ram\n"
		"            Size: 64 MiB (67108864 bytes), block size 512\n"
		"            Serial: ADM1\n"
		"            Read-only: no\n"
		"            Write cache: off\n"
		"    ACL:\n"
		"        10.0.0.0/8\n"
		"    CHAP:\n"
		"        Incoming accounts: (none: CHAP not required)\n"
		"        Outgoing account: -\n"
		"        Algorithms: MD5,SHA1,SHA256,SHA3-256\n");

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

/*
 * lun add --write-cache off reaches the store (no write cache: WCE=0) and
 * shows in target show and the JSON; the default is on; anything but
 * on/off is a usage error that reaches nothing.
 */
Test(adm, write_cache)
{
	char a_img[160], b_img[160];
	struct tgt_target *t;
	struct scsi_lu *lu;
	json_object *j, *luns;

	snprintf(a_img, sizeof(a_img), "%s/a.img", tmpdir);
	snprintf(b_img, sizeof(b_img), "%s/b.img", tmpdir);
	cr_assert_eq(adm("target", "add", IQN, NULL), 0, "%s", err);
	cr_expect_eq(adm("lun", "add", IQN, "1", "--path", a_img, "--size", "1M",
			 "--create", "--write-cache", "maybe", NULL), 2);
	cr_expect(strstr(err, "bad --write-cache 'maybe' (on or off)"), "%s", err);
	cr_assert_eq(adm("lun", "add", IQN, "1", "--path", a_img, "--size", "1M",
			 "--create", "--write-cache", "off", NULL), 0, "%s", err);
	cr_assert_eq(adm("lun", "add", IQN, "2", "--path", b_img, "--size", "1M",
			 "--create", NULL), 0, "%s", err);

	t = core_target_find(IQN);
	cr_assert_not_null(t);
	lu = scsi_target_get_lu(core_target_scsi(t), 1);
	cr_assert_not_null(lu);
	cr_expect_not(scsi_lu_bs(lu)->write_cache, "LUN 1: write cache off");
	scsi_lu_put(lu);
	lu = scsi_target_get_lu(core_target_scsi(t), 2);
	cr_assert_not_null(lu);
	cr_expect(scsi_lu_bs(lu)->write_cache, "LUN 2: write cache on");
	scsi_lu_put(lu);
	core_target_put(t);

	cr_assert_eq(adm("target", "show", IQN, NULL), 0, "%s", err);
	cr_expect(strstr(out, "        LUN 1: disk\n"), "%s", out);
	char *l1 = strstr(out, "LUN 1:"), *l2 = strstr(out, "LUN 2:");
	cr_assert(l1 && l2 && l1 < l2, "%s", out);
	cr_expect(strstr(l1, "Write cache: off") &&
		  strstr(l1, "Write cache: off") < l2, "%s", out);
	cr_expect(strstr(l2, "Write cache: on"), "%s", out);

	cr_assert_eq(adm("--json", "target", "list", NULL), 0, "%s", err);
	j = json_tokener_parse(out);
	cr_assert_not_null(j, "%s", out);
	luns = json_object_object_get(json_object_array_get_idx(j, 0), "luns");
	cr_assert_not_null(luns, "%s", out);
	int seen = 0;

	for (size_t i = 0; i < json_object_array_length(luns); i++) {
		json_object *l = json_object_array_get_idx(luns, i);
		int n = json_object_get_int(json_object_object_get(l, "lun"));

		seen += n == 1 || n == 2;
		if (n == 1 || n == 2)
			cr_expect_eq(json_object_get_boolean(
				json_object_object_get(l, "write_cache")), n == 2,
				"LUN %d: %s", n, out);
	}
	cr_expect_eq(seen, 2, "%s", out);
	json_object_put(j);

	cr_expect_eq(adm("target", "remove", IQN, NULL), 0, "%s", err);
	unlink(a_img);
	unlink(b_img);
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

/* --- accounts (issue 9) ------------------------------------------------ */

#define ADM_SECRET "adm-secret-0123456789"
#define STDIN_SECRET "stdin-secret-abcdef"
#define TGT_SECRET "adm-target-secret-xyz"

/* The secret core holds for @user bound incoming to @iqn (NULL: discovery). */
static void expect_incoming(const char *iqn, const char *user, const char *want)
{
	struct tgt_target *t = iqn ? core_target_find(iqn) : NULL;
	uint8_t s[CORE_SECRET_MAX];
	int n = core_auth_incoming(t, user, s, sizeof(s));

	core_target_put(t);
	cr_assert_eq(n, (int)strlen(want), "%s: %d", user, n);
	cr_expect_arr_eq(s, want, (size_t)n);
}

/* No output of ringtgtadm may hold a secret without --show-secrets. */
static void expect_no_secret(const char *what, const char *random_secret)
{
	const char *secrets[] = { ADM_SECRET, STDIN_SECRET, TGT_SECRET, random_secret };

	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		cr_expect_null(strstr(out, secrets[i]), "%s prints a secret: %s", what, out);
		cr_expect_null(strstr(err, secrets[i]), "%s prints a secret: %s", what, err);
	}
}

Test(adm, account_usage_errors)
{
	cr_expect_eq(adm("account", "add", "x", NULL), 2);
	cr_expect(strstr(err, "give --secret S, --secret - or --random"), "%s", err);
	cr_expect_eq(adm("account", "add", "x", "--secret", "s", "--random", NULL), 2);
	cr_expect(strstr(err, "give --secret S, --secret - or --random"), "%s", err);
	cr_expect_eq(adm("account", "add", "x", "--secret", NULL), 2);
	cr_expect(strstr(err, "option '--secret' needs a value"), "%s", err);
	cr_expect_eq(adm("account", "bind", IQN, NULL), 2);
	cr_expect_eq(adm("discovery", "auth", "sometimes", NULL), 2);
	cr_expect(strstr(err, "bad mode 'sometimes' (none, chap or mutual)"), "%s", err);
	cr_expect_eq(adm("discovery", "auth", NULL), 2);
	cr_expect_eq(adm("target", "chap-algorithms", IQN, NULL), 2);
	cr_expect_eq(adm("account", "list", "extra", NULL), 2);
	/* Nothing reached the daemon. */
	json_object *j = core_accounts_json(false);

	cr_expect_eq(json_object_array_length(json_object_object_get(j, "accounts")), 0);
	json_object_put(j);
	cr_expect_eq(adm("account", "--help", NULL), 0);
	cr_expect(strstr(out, "ringtgtadm account add NAME (--secret S | --secret - | --random)"),
		  "%s", out);
	cr_expect_eq(adm("--help", NULL), 0);
	cr_expect(strstr(out, "discovery auth none|chap|mutual [--account NAME]... [--outgoing NAME]"),
		  "%s", out);
}

Test(adm, accounts)
{
	char random_secret[64] = "", second[64] = "";
	json_object *j;

	cr_assert_eq(adm("target", "add", IQN, NULL), 0, "%s", err);

	/* --secret S: silent; --secret -: one line from stdin. */
	cr_expect_eq(adm("account", "add", "alice", "--secret", ADM_SECRET, NULL), 0, "%s", err);
	cr_expect_str_eq(out, "");
	cr_expect_str_eq(err, "");
	adm_stdin = STDIN_SECRET "\nsecond line\n";
	cr_expect_eq(adm("account", "add", "carol", "--secret", "-", NULL), 0, "%s", err);
	cr_expect_str_eq(out, "");
	cr_expect_eq(adm("account", "add", "tgt", "--secret", TGT_SECRET, NULL), 0, "%s", err);
	/* A short secret works, with a warning on stderr. */
	cr_expect_eq(adm("account", "add", "shorty", "--secret", "qz9", NULL), 0, "%s", err);
	cr_expect_str_eq(err, "ringtgtadm: warning: account shorty: the secret is "
			      "shorter than 12 bytes; 12 or more are recommended\n");
	cr_expect_str_eq(out, "");
	/* --random prints the secret, once, on stdout. */
	cr_expect_eq(adm("account", "add", "rnd", "--random", NULL), 0, "%s", err);
	cr_assert_eq(sscanf(out, "%63s", random_secret), 1, "%s", out);
	cr_expect_eq(strlen(out), strlen(random_secret) + 1, "more than the secret: %s", out);
	cr_expect_geq(strlen(random_secret), 16);
	cr_expect_eq(adm("account", "add", "rnd2", "--random", NULL), 0, "%s", err);
	cr_assert_eq(sscanf(out, "%63s", second), 1, "%s", out);
	cr_expect_str_neq(random_secret, second);
	cr_expect_eq(adm("account", "add", "alice", "--secret", ADM_SECRET, NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: account alice already exists\n");

	/* Binding. */
	cr_expect_eq(adm("account", "bind", IQN, "alice", NULL), 0, "%s", err);
	cr_expect_eq(adm("account", "bind", IQN, "carol", NULL), 0, "%s", err);
	cr_expect_eq(adm("account", "bind", IQN, "rnd", NULL), 0, "%s", err);
	cr_expect_eq(adm("account", "bind", IQN, "tgt", "--outgoing", NULL), 0, "%s", err);
	cr_expect_eq(adm("account", "bind", IQN, "shorty", "--outgoing", NULL), 1);
	cr_expect(strstr(err, "tgt is the outgoing account"), "%s", err);
	cr_expect_eq(adm("account", "bind", IQN, "nobody", NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: no account nobody\n");
	expect_incoming(IQN, "alice", ADM_SECRET);
	expect_incoming(IQN, "carol", STDIN_SECRET);
	expect_incoming(IQN, "rnd", random_secret);

	/* Discovery: binds the accounts, then sets the mode. */
	cr_expect_eq(adm("discovery", "auth", "mutual", NULL), 1);
	cr_expect(strstr(err, "needs an incoming account"), "%s", err);
	cr_expect_eq(adm("discovery", "auth", "chap", "--account", "alice",
			 "--account", "carol", NULL), 0, "%s", err);
	cr_expect_eq(core_discovery_auth(), CORE_DISC_AUTH_CHAP);
	expect_incoming(NULL, "alice", ADM_SECRET);
	expect_incoming(NULL, "carol", STDIN_SECRET);
	/* Again, with accounts already bound, plus an outgoing one. */
	cr_expect_eq(adm("discovery", "auth", "mutual", "--account", "alice",
			 "--outgoing", "tgt", NULL), 0, "%s", err);
	cr_expect_eq(core_discovery_auth(), CORE_DISC_AUTH_MUTUAL);
	cr_expect_eq(adm("target", "chap-algorithms", IQN, "sha-256,SHA3-256", NULL), 0,
		     "%s", err);
	cr_expect_eq(adm("target", "chap-algorithms", IQN, "SHA512", NULL), 1);
	cr_expect(strstr(err, "unknown CHAP algorithm 'SHA512'"), "%s", err);

	/* Never a secret without --show-secrets. */
	cr_expect_eq(adm("account", "list", NULL), 0, "%s", err);
	expect_no_secret("account list", random_secret);
	cr_expect(strstr(out, "NAME    INCOMING"), "%s", out);
	cr_expect(strstr(out, "\nalice   " IQN "  -  "), "%s", out);
	cr_expect(strstr(out, "Discovery auth: mutual (incoming: alice, carol; outgoing: tgt)"),
		  "%s", out);
	cr_expect_eq(adm("account", "list", "--json", NULL), 0, "%s", err);
	expect_no_secret("account list --json", random_secret);
	j = json_tokener_parse(out);
	cr_assert_not_null(j, "%s", out);
	cr_expect_eq(json_object_array_length(json_object_object_get(j, "accounts")), 6);
	json_object_put(j);
	cr_expect_eq(adm("target", "show", IQN, NULL), 0, "%s", err);
	expect_no_secret("target show", random_secret);
	cr_expect(strstr(out, "    CHAP:\n        Incoming accounts: alice, carol, rnd\n"
			      "        Outgoing account: tgt\n"
			      "        Algorithms: SHA256,SHA3-256\n"), "%s", out);
	cr_expect_eq(adm("target", "show", IQN, "--json", NULL), 0, "%s", err);
	expect_no_secret("target show --json", random_secret);
	cr_expect_eq(adm("target", "list", NULL), 0, "%s", err);
	expect_no_secret("target list", random_secret);
	cr_expect_eq(adm("status", NULL), 0, "%s", err);
	expect_no_secret("status", random_secret);

	/* --show-secrets shows them, in the table and in JSON. */
	cr_expect_eq(adm("account", "list", "--show-secrets", NULL), 0, "%s", err);
	cr_expect(strstr(out, "SECRET"), "%s", out);
	cr_expect(strstr(out, ADM_SECRET), "%s", out);
	cr_expect(strstr(out, random_secret), "%s", out);
	cr_expect_eq(adm("account", "list", "--json", "--show-secrets", NULL), 0, "%s", err);
	cr_expect(strstr(out, "\"secret\": \"" STDIN_SECRET "\""), "%s", out);

	/* Removal: refused while bound, --force unbinds everywhere. */
	cr_expect_eq(adm("account", "remove", "alice", NULL), 1);
	cr_expect(strstr(err, "account alice is bound 2 times; unbind it or use --force"),
		  "%s", err);
	cr_expect_eq(adm("account", "unbind", IQN, "carol", NULL), 0, "%s", err);
	cr_expect_eq(adm("account", "unbind", IQN, "carol", NULL), 1);
	cr_expect_eq(adm("account", "unbind", IQN, "tgt", "--outgoing", NULL), 0, "%s", err);
	cr_expect_eq(adm("account", "remove", "alice", "--force", NULL), 0, "%s", err);
	cr_expect_eq(adm("target", "show", IQN, NULL), 0, "%s", err);
	cr_expect(strstr(out, "Incoming accounts: rnd\n        Outgoing account: -\n"),
		  "%s", out);
	cr_expect_eq(adm("discovery", "auth", "none", NULL), 0, "%s", err);
	cr_expect_eq(core_discovery_auth(), CORE_DISC_AUTH_NONE);
}

/* lun resize: its usage errors, help, and what it prints (docs/backing-stores.md) */
Test(adm, lun_resize)
{
	cr_expect_eq(adm("lun", "resize", IQN, NULL), 2);
	cr_expect(strstr(err, "missing argument\nusage: ringtgtadm lun resize IQN LUN [--size SIZE] [--force]\n"),
		  "%s", err);
	cr_expect_eq(adm("lun", "resize", IQN, "256", NULL), 2);
	cr_expect(strstr(err, "bad LUN '256' (0..255)"), "%s", err);
	cr_expect_eq(adm("lun", "resize", IQN, "1", "--size", "1Q", NULL), 2);
	cr_expect(strstr(err, "bad --size '1Q'"), "%s", err);
	cr_expect_eq(adm("lun", "resize", IQN, "1", "--path", "/x", NULL), 2);
	cr_expect(strstr(err, "unknown option '--path'"), "%s", err);
	cr_expect_eq(adm("lun", "resize", "--help", NULL), 0);
	cr_expect(strstr(out, "--force       allow a shrink"), "%s", out);
	cr_expect_eq(adm("lun", "--help", NULL), 0);
	cr_expect(strstr(out, "ringtgtadm lun resize IQN LUN [--size SIZE] [--force]"),
		  "%s", out);

	cr_assert_eq(adm("target", "add", IQN, NULL), 0, "%s", err);
	cr_assert_eq(adm("lun", "add", IQN, "1", "--backing", "ram", "--size", "4M",
			 NULL), 0, "%s", err);
	cr_assert_eq(adm("lun", "resize", IQN, "1", "--size", "8M", NULL), 0, "%s", err);
	cr_expect_str_eq(out, "LUN 1: 4194304 -> 8388608 bytes\n");
	cr_expect_eq(adm("lun", "resize", IQN, "1", "--size", "2M", NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: LUN 1 of " IQN ": shrinking it from "
			      "8388608 to 2097152 bytes cuts off the last 6291456 "
			      "bytes; use --force\n");
	cr_assert_eq(adm("lun", "resize", IQN, "1", "--size", "2M", "--force", NULL),
		     0, "%s", err);
	cr_expect_str_eq(out, "LUN 1: 8388608 -> 2097152 bytes\n");
	cr_assert_eq(adm("lun", "resize", IQN, "1", NULL), 0, "%s", err);
	cr_expect_str_eq(out, "LUN 1: 2097152 bytes, unchanged\n");
	cr_assert_eq(adm("--json", "lun", "resize", IQN, "1", "--size", "3M", NULL),
		     0, "%s", err);
	cr_expect(strstr(out, "\"old_size\": 2097152") && strstr(out, "\"size\": 3145728"),
		  "%s", out);
}

/* tgt's LU parameters: lun add --param, lun update, show, refusals. */
Test(adm, lun_params)
{
	json_object *j, *l;

	cr_assert_eq(adm("target", "add", IQN, NULL), 0, "%s", err);
	cr_assert_eq(adm("lun", "add", IQN, "1", "--backing", "ram", "--size", "1M",
			 "--param", "scsi_id=volume-1", "--param", "scsi_sn=SN1",
			 NULL), 0, "%s", err);
	cr_assert_eq(adm("lun", "update", IQN, "1", "--param", "vendor_id=IET",
			 "--param", "removable=1", NULL), 0, "%s", err);
	cr_expect_str_eq(out, "");
	cr_assert_eq(adm("target", "show", IQN, NULL), 0, "%s", err);
	cr_expect(strstr(out, "            Serial: SN1\n"
			      "            SCSI ID: volume-1\n"), "%s", out);
	cr_assert_eq(adm("--json", "target", "list", NULL), 0, "%s", err);
	j = json_tokener_parse(out);
	cr_assert_not_null(j, "%s", out);
	l = json_object_array_get_idx(json_object_object_get(
		json_object_array_get_idx(j, 0), "luns"), 0);
	cr_expect_str_eq(json_object_get_string(json_object_object_get(l, "vendor_id")),
			 "IET");
	cr_expect(json_object_get_boolean(json_object_object_get(l, "removable")));
	json_object_put(j);

	/* refusals: usage errors name the parameter; the daemon's too */
	cr_expect_eq(adm("lun", "update", IQN, "1", NULL), 2);
	cr_expect(strstr(err, "give at least one --param NAME=VALUE"), "%s", err);
	cr_expect_eq(adm("lun", "update", IQN, "1", "--param", "vendor_id", NULL), 2);
	cr_expect(strstr(err, "bad --param 'vendor_id' (NAME=VALUE, e.g. scsi_id=vol1)"),
		  "%s", err);
	cr_expect_eq(adm("lun", "update", IQN, "1", "--param", "mode_page=8:0:18",
			 NULL), 2);
	cr_expect_str_eq(err, "ringtgtadm: --param mode_page: page 08h needs 18 bytes, it has 0\n");
	cr_expect_eq(adm("lun", "update", IQN, "1", "--param", "product_rev=12345",
			 NULL), 2);
	cr_expect_str_eq(err, "ringtgtadm: --param product_rev '12345' must be at most 4 characters (it has 5)\n");
	cr_expect_eq(adm("lun", "update", IQN, "1", "--param", "readonly=1",
			 "--param", "online=1", NULL), 0, "%s", err);
	cr_expect_eq(adm("lun", "update", IQN, "1", "--param", "online=0",
			 NULL), 2);
	cr_expect_str_eq(err, "ringtgtadm: --param online=0 (medium not present) is not supported; remove the LUN instead\n");
	cr_expect_eq(adm("lun", "update", IQN, "2", "--param", "removable=0", NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: target " IQN " has no LUN 2\n");
}

/* ringtgtadm daemon set-state: tgt's system state, shown by status */
Test(adm, daemon_set_state)
{
	cr_expect_eq(adm("daemon", "set-state", "down", NULL), 2);
	cr_expect(strstr(err, "bad state 'down' (ready or offline)"), "%s", err);
	cr_expect_eq(adm("daemon", "set-state", "offline", NULL), 0, "%s", err);
	cr_expect_eq(core_system_state(), CORE_SYSTEM_OFFLINE);
	cr_expect_eq(adm("status", NULL), 0, "%s", err);
	cr_expect(strstr(out, "state: offline\n"), "%s", out);
	cr_expect_eq(adm("daemon", "set-state", "ready", NULL), 0, "%s", err);
	cr_expect_eq(core_system_state(), CORE_SYSTEM_READY);
}

/*
 * The binary is tgtadm when invoked under that name (any directory), and
 * ringtgtadm under any other: tgt's syntax, tgt's LUN 0, tgt's layout.
 */
Test(adm, invoked_as_tgtadm)
{
	adm_argv0 = "/usr/sbin/tgtadm";
	cr_expect_eq(adm("--lld", "iscsi", "--op", "new", "--mode", "target",
			 "--tid", "4", "-T", IQN, NULL), 0, "%s", err);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--lld", "iscsi", "--op", "show", "--mode", "target",
			 NULL), 0, "%s", err);
	cr_expect(strstr(out, "Target 4: " IQN "\n    System information:\n"),
		  "%s", out);
	cr_expect(strstr(out, "        LUN: 0\n            Type: controller\n"),
		  "%s", out);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "delete", "--mode", "target", "--tid", "5",
			 NULL), 22);
	cr_expect_str_eq(err, "tgtadm: can't find the target\n");
	/* another name: ringtgtadm, which knows no --op */
	adm_argv0 = "tgtadm2";
	cr_expect_eq(adm("--op", "show", "--mode", "target", NULL), 2);
	cr_expect(strstr(err, "ringtgtadm: unknown option"), "%s", err);
}

/* The write cache and O_DIRECT of @iqn's LUN @lun, as the LU has them. */
static void lu_flags(unsigned lun, bool *write_cache, bool *direct)
{
	struct tgt_target *t = core_target_find(IQN);
	struct scsi_lu *lu;

	cr_assert_not_null(t);
	lu = scsi_target_get_lu(core_target_scsi(t), lun);
	cr_assert_not_null(lu, "LUN %u", lun);
	*write_cache = scsi_lu_bs(lu)->write_cache;
	*direct = scsi_lu_bs(lu)->direct;
	scsi_lu_put(lu);
	core_target_put(t);
}

/*
 * tgtadm --bsoflags, as tgt-admin maps "bsoflags": sync (tgt opens the
 * file O_SYNC: every write durable before GOOD) is the write cache off,
 * direct is O_DIRECT, sync:direct both; another flag is tgt's "invalid
 * request" and adds nothing.
 */
Test(adm, tgtadm_bsoflags)
{
	static const struct {
		const char *flags;
		bool write_cache, direct;
	} cases[] = {
		{ "sync", false, false }, { "direct", true, true },
		{ "direct:sync", false, true }, { NULL, true, false },
	};
	char img[160], lun[8];
	bool wc, direct;
	int fd;

	snprintf(img, sizeof(img), "%s/s.img", tmpdir);
	fd = open(img, O_CREAT | O_RDWR, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	adm_argv0 = "tgtadm";
	cr_assert_eq(adm("--op", "new", "--mode", "target", "--tid", "1",
			 "-T", IQN, NULL), 0, "%s", err);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(lun, sizeof(lun), "%u", i + 1);
		adm_argv0 = "tgtadm";
		if (cases[i].flags)
			cr_assert_eq(adm("--op", "new", "--mode", "logicalunit",
					 "--tid", "1", "--lun", lun, "-b", img,
					 "--bsoflags", cases[i].flags, NULL),
				     0, "%s: %s", cases[i].flags, err);
		else
			cr_assert_eq(adm("--op", "new", "--mode", "logicalunit",
					 "--tid", "1", "--lun", lun, "-b", img,
					 NULL), 0, "%s", err);
		lu_flags(i + 1, &wc, &direct);
		cr_expect_eq(wc, cases[i].write_cache, "--bsoflags %s: write cache %d",
			     cases[i].flags, wc);
		cr_expect_eq(direct, cases[i].direct, "--bsoflags %s: direct %d",
			     cases[i].flags, direct);
	}
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "new", "--mode", "logicalunit", "--tid", "1",
			 "--lun", "9", "-b", img, "--bsoflags", "sync:nocache",
			 NULL), 22);
	cr_expect_str_eq(err, "tgtadm: invalid request\n");
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "show", "--mode", "sys", NULL), 0, "%s", err);
	cr_expect(strstr(out, "Backing stores:\n    rdwr (bsoflags sync:direct)\n"),
		  "%s", out);
	cr_assert_eq(adm("target", "remove", IQN, NULL), 0, "%s", err);
	unlink(img);
}

/*
 * tgtadm --mode target --op update --name state: offline / ready as tgtd
 * answers them (status 0; another value "invalid request", an unknown
 * tid "can't find the target", both 22), the state kept by the core and
 * shown under "System information" as tgtd shows it.
 */
Test(adm, tgtadm_target_state)
{
	struct tgt_target *t;

	adm_argv0 = "tgtadm";
	cr_assert_eq(adm("--lld", "iscsi", "--op", "new", "--mode", "target",
			 "--tid", "3", "-T", IQN, NULL), 0, "%s", err);
	t = core_target_find(IQN);
	cr_assert_not_null(t);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--lld", "iscsi", "--op", "update", "--mode", "target",
			 "--tid", "3", "--name", "state", "--value", "offline",
			 NULL), 0, "%s", err);
	cr_expect(core_target_offline(t));
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "show", "--mode", "target", NULL), 0, "%s", err);
	cr_expect(strstr(out, "Target 3: " IQN "\n    System information:\n"
			 "        Driver: iscsi\n        State: offline\n"),
		  "%s", out);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "update", "--mode", "target", "--tid", "3",
			 "-n", "state", "-v", "bogus", NULL), 22);
	cr_expect_str_eq(err, "tgtadm: invalid request\n");
	cr_expect(core_target_offline(t));
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "update", "--mode", "target", "--tid", "9",
			 "-n", "state", "-v", "ready", NULL), 22);
	cr_expect_str_eq(err, "tgtadm: can't find the target\n");
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "update", "--mode", "target", "--tid", "3",
			 "-n", "state", "-v", "ready", NULL), 0, "%s", err);
	cr_expect_not(core_target_offline(t));
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "show", "--mode", "target", NULL), 0, "%s", err);
	cr_expect(strstr(out, "        Driver: iscsi\n        State: ready\n"),
		  "%s", out);
	/* ringtgtadm's own */
	cr_expect_eq(adm("target", "set-state", IQN, "down", NULL), 2);
	cr_expect(strstr(err, "bad state 'down' (ready or offline)"), "%s", err);
	cr_expect_eq(adm("target", "set-state", IQN, "offline", NULL), 0, "%s", err);
	cr_expect(core_target_offline(t));
	cr_expect_eq(adm("target", "show", IQN, NULL), 0, "%s", err);
	cr_expect(strstr(out, "    State: offline\n"), "%s", out);
	core_target_put(t);
}

/*
 * tgtadm --op show --mode account byte for byte against tgt's capture
 * (tests/unit/data/tgt/show-account.txt: alice, then bob, created):
 * tgt lists the newest first.
 */
Test(adm, tgtadm_show_account_as_tgt)
{
	FILE *f = fopen(SOURCE_ROOT "/tests/unit/data/tgt/show-account.txt", "r");
	char want[256] = "";
	size_t n;

	cr_assert_not_null(f);
	n = fread(want, 1, sizeof(want) - 1, f);
	want[n] = '\0';
	fclose(f);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "new", "--mode", "account", "--user", "alice",
			 "--password", "secret12345678", NULL), 0, "%s", err);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "new", "--mode", "account", "--user", "bob",
			 "--password", "secret8765432100", NULL), 0, "%s", err);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "show", "--mode", "account", NULL), 0, "%s", err);
	cr_expect_str_eq(out, want);
}

/*
 * ringtgtadm portal add|remove|list and tgtadm --mode portal against a
 * stub of the iSCSI layer's portal hooks (this process serves no iSCSI;
 * it-portal and it-tgtadm open real ones): what reaches the daemon, the
 * output, the exit codes.
 */
static struct {
	char calls[512];	/* "+ADDR/GROUP -ADDR ..." in order */
	const char *refuse;	/* an address the stub refuses */
} pstub;

static int pstub_add(const char *addr, uint16_t group, char *e, size_t len)
{
	size_t n = strlen(pstub.calls);

	snprintf(pstub.calls + n, sizeof(pstub.calls) - n, "+%s/%u ", addr,
		 group);
	if (pstub.refuse && !strcmp(addr, pstub.refuse)) {
		snprintf(e, len, "portal %s is already open", addr);
		return -EEXIST;
	}
	core_port_group_portal(group, addr, NULL);
	return 0;
}

static int pstub_remove(const char *addr, char *e, size_t len)
{
	size_t n = strlen(pstub.calls);

	snprintf(pstub.calls + n, sizeof(pstub.calls) - n, "-%s ", addr);
	if (pstub.refuse && !strcmp(addr, pstub.refuse)) {
		snprintf(e, len, "no portal %s", addr);
		return -ENOENT;
	}
	core_port_group_portal_forget(addr);
	return 0;
}

static const struct core_portal_ops pstub_ops = { pstub_add, pstub_remove };

Test(adm, portal)
{
	core_set_portal_ops(&pstub_ops);
	cr_assert_eq(core_port_group_define(2, SCSI_ALUA_STANDBY, NULL), 0);

	cr_expect_eq(adm("portal", "add", "127.0.0.1:3261", NULL), 0, "%s", err);
	cr_expect_str_eq(out, "Portal 127.0.0.1:3261 open (portal group 1)\n");
	cr_expect_eq(adm("portal", "add", "[::1]:3262", "--group", "2", NULL),
		     0, "%s", err);
	cr_expect_eq(adm("portal", "add", "127.0.0.1:3263", "--group", "0",
			 NULL), 2);
	cr_expect(strstr(err, "bad --group '0' (1..65535)"), "%s", err);
	cr_expect_eq(adm("portal", "add", NULL), 2);
	cr_expect_eq(adm("portal", "list", NULL), 0, "%s", err);
	cr_expect_str_eq(out, "PORTAL                                          GROUP\n"
			 "127.0.0.1:3261                                  1\n"
			 "[::1]:3262                                      2\n");
	cr_expect_eq(adm("portal", "remove", "127.0.0.1:3261", NULL), 0, "%s",
		     err);
	pstub.refuse = "127.0.0.1:3999";
	cr_expect_eq(adm("portal", "remove", "127.0.0.1:3999", NULL), 1);
	cr_expect_str_eq(err, "ringtgtadm: no portal 127.0.0.1:3999\n");
	cr_expect_str_eq(pstub.calls, "+127.0.0.1:3261/1 +[::1]:3262/2 "
			 "-127.0.0.1:3261 -127.0.0.1:3999 ");

	/* tgtadm: each portal of the list in turn, group 1, newest first */
	pstub.calls[0] = '\0';
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--lld", "iscsi", "--op", "new", "--mode", "portal",
			 "--param", "portal=127.0.0.1,portal=[::1]:3264", NULL),
		     0, "%s", err);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--lld", "iscsi", "--op", "show", "--mode", "portal",
			 NULL), 0, "%s", err);
	cr_expect_str_eq(out, "Portal: [::1]:3264,1\nPortal: 127.0.0.1:3260,1\n"
			 "Portal: [::1]:3262,2\n");
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--lld", "iscsi", "--op", "new", "--mode", "portal",
			 "--param", "portal=127.0.0.1:3999,portal=127.0.0.1:3265",
			 NULL), 22);
	cr_expect_str_eq(err, "tgtadm: invalid request\n");
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--lld", "iscsi", "--op", "delete", "--mode", "portal",
			 "--param", "portal=127.0.0.1:3260", NULL), 0, "%s", err);
	cr_expect_str_eq(pstub.calls, "+127.0.0.1:3260/1 +[::1]:3264/1 "
			 "+127.0.0.1:3999/1 -127.0.0.1:3260 ");
	core_set_portal_ops(NULL);
}

/*
 * The log level at run time: ringtgtadm daemon set-log-level, shown by
 * status; tgtadm --mode sys --name debug on / off (tgt's is_debug: "on"
 * and "off" only, "invalid request" else), shown by --op show --mode sys
 * as tgt shows it. off is the level the process started with (info here:
 * the test never called log_init).
 */
Test(adm, log_level)
{
	cr_expect_eq(adm("daemon", "set-log-level", "loud", NULL), 2);
	cr_expect(strstr(err, "bad log level 'loud'"), "%s", err);
	cr_expect_eq(log_threshold, LOG_LVL_INFO, "a usage error changed it");
	cr_expect_eq(adm("daemon", "set-log-level", "warn", NULL), 0, "%s", err);
	cr_expect_eq(log_threshold, LOG_LVL_WARN);
	cr_expect_eq(adm("status", NULL), 0, "%s", err);
	cr_expect(strstr(out, "log_level: warn\n"), "%s", out);

	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "update", "--mode", "sys", "--name", "debug",
			 "--value", "on", NULL), 0, "%s", err);
	cr_expect_eq(log_threshold, LOG_LVL_DEBUG);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "show", "--mode", "sys", NULL), 0, "%s", err);
	cr_expect(strstr(out, "System:\n    State: ready\n    debug: on\n"),
		  "%s", out);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "update", "--mode", "sys", "--name", "debug",
			 "-v", "ON", NULL), 22);
	cr_expect_str_eq(err, "tgtadm: invalid request\n");
	cr_expect_eq(log_threshold, LOG_LVL_DEBUG);
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "update", "--mode", "sys", "--name", "debug",
			 "-v", "off", NULL), 0, "%s", err);
	cr_expect_eq(log_threshold, LOG_LVL_INFO, "off: the start level");
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "show", "--mode", "sys", NULL), 0, "%s", err);
	cr_expect(strstr(out, "    debug: off\n"), "%s", out);
}

static int closed_tsih;
static const char *closed_why;

static void evict(struct core_session *s, const char *why)
{
	closed_tsih = s->tsih;
	closed_why = why;
}

/*
 * One connection closed: ringtgtadm connection close IQN TSIH CID and
 * tgtadm --op delete --mode conn --tid N --sid TSIH --cid CID, each
 * reaching the session's evict (the transport's close); tgt's refusals
 * for a missing target, session or connection (captured from tgtd
 * 1.0.85), ringtgtd's sentences for ringtgtadm.
 */
Test(adm, connection_close)
{
	struct core_session s = { .tsih = 7, .cid = 2, .evict = evict,
				  .isid = "800000000001",
				  .initiator = "iqn.1993-08.org.debian:01:a" };

	adm_argv0 = "tgtadm";
	cr_assert_eq(adm("--lld", "iscsi", "--op", "new", "--mode", "target",
			 "--tid", "3", "-T", IQN, NULL), 0, "%s", err);
	s.target = core_target_find(IQN);
	cr_assert_not_null(s.target);
	core_session_register(&s);

	cr_expect_eq(adm("connection", "close", IQN, "7", "x", NULL), 2);
	cr_expect(strstr(err, "TSIH and CID are numbers"), "%s", err);
	cr_expect_eq(adm("connection", "close", IQN, "8", "2", NULL), 1);
	cr_expect(strstr(err, "target " IQN " has no session 8"), "%s", err);
	cr_expect_eq(adm("connection", "close", IQN, "7", "0", NULL), 1);
	cr_expect(strstr(err, "session 7 of target " IQN " has no connection 0"),
		  "%s", err);
	cr_expect_eq(closed_tsih, 0, "a refused close reached the session");
	cr_expect_eq(adm("connection", "close", IQN, "7", "2", NULL), 0, "%s", err);
	cr_expect_eq(closed_tsih, 7);
	cr_expect(closed_why && strstr(closed_why, "connection.close"));

	closed_tsih = 0;
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "delete", "--mode", "conn", "--tid", "4",
			 "--sid", "7", "--cid", "2", NULL), 22);
	cr_expect_str_eq(err, "tgtadm: can't find the target\n");
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "delete", "--mode", "conn", "--tid", "3",
			 "--sid", "8", "--cid", "2", NULL), 22);
	cr_expect_str_eq(err, "tgtadm: can't find the session\n");
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "delete", "--mode", "conn", "--tid", "3",
			 "--sid", "7", "--cid", "0", NULL), 22);
	cr_expect_str_eq(err, "tgtadm: can't find the connection\n");
	cr_expect_eq(closed_tsih, 0, "a refused delete reached the session");
	adm_argv0 = "tgtadm";
	cr_expect_eq(adm("--op", "delete", "--mode", "conn", "--tid", "3",
			 "--sid", "7", "--cid", "2", NULL), 0, "%s", err);
	cr_expect_eq(closed_tsih, 7);

	core_session_unregister(&s);
	core_target_put(s.target);
}
