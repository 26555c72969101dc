/*
 * test_config.c - the configuration file: good configs parse into the
 * right values, every bad one names the line and the problem, and
 * config_apply() builds (or rolls back) targets through core.h.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "base/log.h"
#include "config/config.h"
#include "core/core.h"
#include "iscsi/iscsi.h"

#define DEMO "iqn.2026-11.org.ringtgt:demo"

Test(config, example)
{
	const char *text =
		"portal = {\"127.0.0.1:3260\", \"[::1]:3261\"}\n"
		"nop_interval = 5\n"
		"nop_timeout = 0\n"
		"login_timeout = 30\n"
		"reactors = 2\n"
		"event_loop = \"epoll\"\n"
		"\n"
		"target \"" DEMO "\" {\n"
		"  controller = true\n"
		"  lun 1 { path = \"/var/lib/ringtgt/demo.img\" size = \"1G\" create = true }\n"
		"  lun 2 {\n"
		"    backing = \"ram\"\n"
		"    size = 64M\n"
		"    block_size = 4096\n"
		"    serial = \"RAM0001\"\n"
		"    readonly = true\n"
		"  }\n"
		"  acl = {\"ALL\", \"10.0.0.0/8\"}\n"
		"}\n"
		"target iqn.2026-11.org.ringtgt:two {\n"
		"  tid = 9\n"
		"  controller = false\n"
		"  lun 0 { path = \"/dev/sdx\" buffered = true shared = true }\n"
		"}\n";
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nportals, 2);
	cr_expect_str_eq(cfg.portals[0], "127.0.0.1:3260");
	cr_expect_str_eq(cfg.portals[1], "[::1]:3261");
	cr_expect_eq(cfg.nop_interval, 5);
	cr_expect_eq(cfg.nop_timeout, 0);
	cr_expect_eq(cfg.login_timeout, 30);
	cr_expect_eq(cfg.reactors, 2);
	cr_expect_str_eq(cfg.event_loop, "epoll");
	cr_assert_eq(cfg.ntargets, 2);

	struct config_target *t = &cfg.targets[0];
	cr_expect_str_eq(t->iqn, DEMO);
	cr_expect_eq(t->line, 8);
	cr_expect_eq(t->tid, 0);
	cr_expect(t->controller);
	cr_assert_eq(t->nluns, 2);
	cr_expect_eq(t->luns[0].lun, 1);
	cr_expect_eq(t->luns[0].line, 10);
	cr_expect_str_eq(t->luns[0].spec.path, "/var/lib/ringtgt/demo.img");
	cr_expect_str_eq(t->luns[0].spec.backing, "file");
	cr_expect_eq(t->luns[0].spec.size, 1ull << 30);
	cr_expect(t->luns[0].spec.create);
	cr_expect_not(t->luns[0].spec.readonly);
	cr_expect_eq(t->luns[0].spec.block_size, 0);	/* unset: the store's */
	cr_expect_null(t->luns[0].spec.serial);
	cr_expect_eq(t->luns[1].lun, 2);
	cr_expect_eq(t->luns[1].line, 11);
	cr_expect_str_eq(t->luns[1].spec.backing, "ram");
	cr_expect_eq(t->luns[1].spec.size, 64ull << 20);
	cr_expect_eq(t->luns[1].spec.block_size, 4096);
	cr_expect_str_eq(t->luns[1].spec.serial, "RAM0001");
	cr_expect(t->luns[1].spec.readonly);
	cr_assert_eq(t->nacls, 2);
	cr_expect_str_eq(t->acls[0], "ALL");
	cr_expect_str_eq(t->acls[1], "10.0.0.0/8");

	t = &cfg.targets[1];
	cr_expect_str_eq(t->iqn, "iqn.2026-11.org.ringtgt:two");
	cr_expect_eq(t->line, 20);
	cr_expect_eq(t->tid, 9);
	cr_expect_not(t->controller);
	cr_assert_eq(t->nluns, 1);
	cr_expect_eq(t->luns[0].lun, 0);
	cr_expect_not(t->luns[0].spec.direct);
	cr_expect(t->luns[0].spec.buffered);
	cr_expect(t->luns[0].spec.shared);
	cr_expect_not(cfg.targets[0].luns[0].spec.buffered);
	cr_expect_not(cfg.targets[0].luns[0].spec.shared);
	cr_expect_eq(t->nacls, 0);
	config_free(&cfg);
	cr_expect_eq(cfg.ntargets, 0);
}

Test(config, defaults)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf("# nothing but a comment\n", &cfg, err,
				      sizeof(err)), 0, "%s", err);
	/* no portal: the daemon's default, [::]:3260 (issue 9, item 5) */
	cr_expect_eq(cfg.nportals, 0);
	/* no control group: the control socket is root's only */
	cr_expect_null(cfg.control_group);
	/* no state_dir: the daemon's default (CONFIG_DEFAULT_STATE_DIR) */
	cr_expect_null(cfg.state_dir);
	cr_expect_eq(cfg.nop_interval, 10);
	cr_expect_eq(cfg.nop_timeout, 10);
	cr_expect_eq(cfg.login_timeout, 15);
	cr_expect_eq(cfg.reactors, 0);
	cr_expect_str_eq(cfg.event_loop, "auto");
	cr_expect_eq(cfg.ntargets, 0);
	config_free(&cfg);
}

Test(config, control_group)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf("control_group = \"ringtgt-adm_1.x\"\n",
				      &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(cfg.control_group, "ringtgt-adm_1.x");
	config_free(&cfg);
}

Test(config, state_dir)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf("state_dir = \"/srv/ringtgt/state\"\n",
				      &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(cfg.state_dir, "/srv/ringtgt/state");
	config_free(&cfg);
}

/* The shipped conf/ringtgt.conf parses and means what the docs say. */
Test(config, shipped_example)
{
	struct ringtgt_config cfg;
	char err[512] = "";
	char path[4096];
	const char *src = getenv("MESON_SOURCE_ROOT");

	snprintf(path, sizeof(path), "%s/conf/ringtgt.conf",
		 src ? src : SOURCE_ROOT);
	cr_assert_eq(config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nportals, 1);
	cr_expect_str_eq(cfg.portals[0], "127.0.0.1:3260");
	cr_assert_eq(cfg.ntargets, 1);
	cr_expect_str_eq(cfg.targets[0].iqn, DEMO);
	cr_expect(cfg.targets[0].controller);
	cr_assert_eq(cfg.targets[0].nluns, 1);
	cr_expect_eq(cfg.targets[0].luns[0].lun, 1);
	cr_expect_str_eq(cfg.targets[0].luns[0].spec.path, "/var/lib/ringtgt/demo.img");
	cr_expect_eq(cfg.targets[0].luns[0].spec.size, 1ull << 30);
	cr_expect(cfg.targets[0].luns[0].spec.create);
	cr_assert_eq(cfg.targets[0].nacls, 1);
	cr_expect_str_eq(cfg.targets[0].acls[0], "ALL");
	config_free(&cfg);
}

/* ringtgt-tgt.service's daemon settings: they load, and serve no target
 * of their own (targets come from targets.conf through tgt-admin). */
Test(config, shipped_tgt_settings)
{
	struct ringtgt_config cfg;
	char err[512] = "";
	char path[4096];
	const char *src = getenv("MESON_SOURCE_ROOT");

	snprintf(path, sizeof(path), "%s/conf/ringtgt-tgt.conf",
		 src ? src : SOURCE_ROOT);
	cr_assert_eq(config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg.ntargets, 0);
	cr_expect_eq(cfg.nportals, 0, "tgtd's default: every address");
	config_free(&cfg);
}

Test(config, load_missing_file)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_expect_eq(config_load("/nonexistent/ringtgt.conf", &cfg, err,
				 sizeof(err)), -ENOENT);
	cr_expect_str_eq(err, "cannot open /nonexistent/ringtgt.conf: No such file or directory");
}

Test(config, load_names_the_file)
{
	char path[] = "/tmp/ringtgt-conf-XXXXXX";
	struct ringtgt_config cfg;
	char err[512] = "", want[600];
	int fd = mkstemp(path);
	const char *text = "portal = {\"127.0.0.1:3260\"}\nbogus = 1\n";

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_expect_eq(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: unknown key 'bogus'", path);
	cr_expect_str_eq(err, want);
	unlink(path);
}

struct bad_conf {
	char text[256];
	char err[200];		/* the exact message */
};

ParameterizedTestParameters(config, errors)
{
	static struct bad_conf cases[] = {
		{ "portal = {\"127.0.0.1:3260\"}\nbogus = 1\n",
		  "<config>:2: unknown key 'bogus'" },
		{ "\n\ntarget \"" DEMO "\" {\n  lun 1 { path = \"/x\" colour = 1 }\n}\n",
		  "<config>:4: unknown key 'colour' in lun 1" },
		{ "portal = {\"127.0.0.1:3260\", \"1.2.3.4:99999\"}\n",
		  "<config>:1: bad portal '1.2.3.4:99999' (use ADDR:PORT or [ADDR6]:PORT, e.g. \"0.0.0.0:3260\")" },
		{ "\nportal = {\"::1:3260\"}\n",
		  "<config>:2: bad portal '::1:3260' (use ADDR:PORT or [ADDR6]:PORT, e.g. \"0.0.0.0:3260\")" },
		{ "portal = {}\n",
		  "<config>: no portal to listen on (portal = {...} is empty)" },
		{ "nop_interval = -1\n",
		  "<config>:1: nop_interval = -1 out of range 0..3600 seconds" },
		{ "\n\nlogin_timeout = abc\n",
		  "<config>:3: invalid integer value for option 'login_timeout'" },
		{ "reactors = 5000\n",
		  "<config>:1: reactors = 5000 out of range 0..1024 (0 = one per CPU)" },
		{ "event_loop = \"kqueue\"\n",
		  "<config>:1: event_loop = \"kqueue\": use \"auto\", \"io_uring\" or \"epoll\"" },
		{ "state_dir = \"var/lib/ringtgt\"\n",
		  "<config>:1: state_dir = \"var/lib/ringtgt\": expected an absolute directory name of at most 4000 characters" },
		{ "state_dir = \"\"\n",
		  "<config>:1: state_dir = \"\": expected an absolute directory name of at most 4000 characters" },
		{ "control_group = \"-x\"\n",
		  "<config>:1: control_group = \"-x\": expected a group name (1..32 letters, digits, '.', '_' or '-')" },
		{ "\ncontrol_group = \"adm ins\"\n",
		  "<config>:2: control_group = \"adm ins\": expected a group name (1..32 letters, digits, '.', '_' or '-')" },
		{ "control_group = \"\"\n",
		  "<config>:1: control_group = \"\": expected a group name (1..32 letters, digits, '.', '_' or '-')" },
		{ "# c\ntarget \"iqn.2026.bad\" {\n  acl = {\"ALL\"}\n}\n",
		  "<config>:2: bad target name: 'iqn.2026.bad': an iqn. name starts with iqn.YYYY-MM. (a date)" },
		{ "target \"disk1\" {\n}\n",
		  "<config>:1: bad target name: 'disk1' is not an iSCSI name (iqn.YYYY-MM.domain[:id], eui.HEX or naa.HEX)" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" size = \"1X\" }\n}\n",
		  "<config>:2: bad size '1X' (bytes, or a number with K, M, G or T, e.g. \"10G\")" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" }\n  lun 1 { path = \"/b\" }\n}\n",
		  "<config>:3: duplicate LUN '1'" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" }\n\n  lun 01 { path = \"/b\" }\n}\n",
		  "<config>:4: target " DEMO ": duplicate LUN 1" },
		{ "target \"" DEMO "\" {\n  lun 256 { path = \"/a\" }\n}\n",
		  "<config>:2: target " DEMO ": LUN '256' out of range 0..255" },
		{ "target \"" DEMO "\" {\n  lun x { path = \"/a\" }\n}\n",
		  "<config>:2: target " DEMO ": LUN 'x' out of range 0..255" },
		{ "target \"" DEMO "\" {\n  lun 0 { path = \"/a\" }\n}\n",
		  "<config>:2: target " DEMO ": LUN 0 is the controller; set controller = false to put a disk at LUN 0" },
		{ "target \"" DEMO "\" {\n\n  lun 3 {\n    backing = \"ram\"\n  }\n}\n",
		  "<config>:3: target " DEMO ": LUN 3: a ram LUN needs a size" },
		/* tgt's LU parameters: the parameter and the line named */
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\"\n    vendor_id = \"NINECHARS\" }\n}\n",
		  "<config>:3: vendor_id 'NINECHARS' must be at most 8 characters (it has 9)" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" scsi_id = \"0123456789012345678901234567890123456\" }\n}\n",
		  "<config>:2: scsi_id '0123456789012345678901234567890123456' must be at most 36 characters (it has 37)" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" mode_page = \"8:0:18\" }\n}\n",
		  "<config>:2: mode_page: page 08h needs 18 bytes, it has 0" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" lbppbe = 16 }\n}\n",
		  "<config>:2: target " DEMO ": LUN 1: lbppbe must be a decimal number 0..15, not '16'" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" mode_page = {\"8:0:18\"} }\n}\n",
		  "<config>:2: mode_page: page 08h needs 18 bytes, it has 0" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" sense_format = 1 }\n}\n",
		  "<config>:2: target " DEMO ": LUN 1: sense_format=1 (descriptor format sense data) is not supported; only 0 (fixed format)" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" online = false }\n}\n",
		  "<config>:2: target " DEMO ": LUN 1: online=0 (medium not present) is not supported; remove the LUN instead" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" serial = \"A\" scsi_sn = \"B\" }\n}\n",
		  "<config>:2: target " DEMO ": LUN 1: give serial or scsi_sn, not both" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" swp = 1 }\n}\n",
		  "<config>:2: unknown key 'swp' in lun 1" },
		{ "target \"" DEMO "\" {\n  lun 3 { backing = \"tape\" }\n}\n",
		  "<config>:2: backing = \"tape\": use \"file\" or \"ram\"" },
		{ "target \"" DEMO "\" {\n  lun 3 { size = \"1G\" }\n}\n",
		  "<config>:2: target " DEMO ": LUN 3: missing path" },
		{ "target \"" DEMO "\" {\n  lun 3 { path = \"/a\" create = true }\n}\n",
		  "<config>:2: target " DEMO ": LUN 3: create = true needs a size" },
		{ "target \"" DEMO "\" {\n  lun 3 { path = \"/a\" direct = true buffered = true }\n}\n",
		  "<config>:2: target " DEMO ": LUN 3: direct and buffered exclude each other" },
		{ "target \"" DEMO "\" {\n  lun 3 { path = \"/a\" block_size = 1024 }\n}\n",
		  "<config>:2: block_size = 1024: use 512 or 4096" },
		{ "target \"" DEMO "\" {\n  lun 3 { path = \"/a\" size = 1000 }\n}\n",
		  "<config>:2: target " DEMO ": LUN 3: size 1000 is not a multiple of the block size 512" },
		{ "target \"" DEMO "\" {\n  lun 3 { path = \"/a\" serial = \"a b\" }\n}\n",
		  "<config>:2: serial 'a b' has a character that is not printable ASCII" },
		{ "target \"" DEMO "\" {\n  acl = {\"ALL\", \"10.1.0.0/8\"}\n}\n",
		  "<config>:2: ACL rule '10.1.0.0/8' has host bits set; did you mean 10.0.0.0/8?" },
		{ "target \"" DEMO "\" {\n  controller = maybe\n}\n",
		  "<config>:2: invalid boolean value for option 'controller'" },
		{ "target \"" DEMO "\" {\n}\ntarget \"" DEMO "\" {\n}\n",
		  "<config>:3: duplicate target '" DEMO "'" },
		{ "target \"" DEMO "\" {\n}\ntarget \"IQN.2026-11.org.ringtgt:DEMO\" {\n}\n",
		  "<config>:3: duplicate target 'IQN.2026-11.org.ringtgt:DEMO'" },
		{ "target \"" DEMO "\" {\n  tid = 70000\n}\n",
		  "<config>:2: tid = 70000 out of range 1..65535" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" }\n",
		  "<config>:1: '{' is never closed (missing '}')" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" # }\n}\n",
		  "<config>:1: '{' is never closed (missing '}')" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/a\" }\n}\n}\n",
		  "<config>:4: unexpected closing brace" },
	};

	return cr_make_param_array(struct bad_conf, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_conf *c, config, errors)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf(c->text, &cfg, err, sizeof(err)), -EINVAL,
		     "accepted:\n%s", c->text);
	cr_expect_str_eq(err, c->err, "got \"%s\" for:\n%s", err, c->text);
	cr_expect_eq(cfg.ntargets, 0);
	cr_expect_null(cfg.portals);
}

/*
 * Issue 8: an unterminated comment, string or section is an error naming
 * the line where it starts, never a silently shorter config.
 */
ParameterizedTestParameters(config, unterminated)
{
	static struct bad_conf cases[] = {
		/* the daemon used to start with no targets */
		{ "portal = {\"127.0.0.1:3260\"}\n/* the demo target\ntarget \"" DEMO "\" {\n  acl = {\"ALL\"}\n}\n",
		  "<config>:2: '/*' comment is never closed (missing '*/')" },
		{ "target \"" DEMO "\" {\n  acl = {\"ALL\"}\n}\n/*/\nnop_interval = 1\n",
		  "<config>:4: '/*' comment is never closed (missing '*/')" },
		{ "target \"" DEMO "\" { /* lun 1 { path = \"/a\" }\n}\n",
		  "<config>:1: '/*' comment is never closed (missing '*/')" },
		/* libconfuse ended the file inside the string, silently */
		{ "portal = {\"127.0.0.1:3260\"}\n\"nop_interval = 5\n",
		  "<config>:2: string is never closed (missing '\"' on the line it starts)" },
		{ "nop_interval = 5\n\nevent_loop = \"epoll\n",
		  "<config>:3: string is never closed (missing '\"' on the line it starts)" },
		{ "target \"" DEMO "\" {\n  lun 1 { path = \"/srv/a.img }\n  lun 2 { path = \"/srv/b.img\" }\n}\n",
		  "<config>:2: string is never closed (missing '\"' on the line it starts)" },
		{ "event_loop = 'epoll\n",
		  "<config>:1: string is never closed (missing \"'\" on the line it starts)" },
		/* missing '}' of a list and of a section */
		{ "portal = {\"127.0.0.1:3260\"\n",
		  "<config>:1: '{' is never closed (missing '}')" },
		{ "target \"" DEMO "\" {\n  acl = {\"ALL\"}\n  lun 1 {\n    path = \"/a\"\n",
		  "<config>:3: '{' is never closed (missing '}')" },
		{ "target \"" DEMO "\" {\n  acl = {\"ALL\",\n",
		  "<config>:2: '{' is never closed (missing '}')" },
	};

	return cr_make_param_array(struct bad_conf, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_conf *c, config, unterminated)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf(c->text, &cfg, err, sizeof(err)), -EINVAL,
		     "accepted:\n%s", c->text);
	cr_expect_str_eq(err, c->err, "got \"%s\" for:\n%s", err, c->text);
	cr_expect_eq(cfg.ntargets, 0);
}

/* The daemon reads files: the message names the file and the line. */
Test(config, unterminated_comment_in_file)
{
	char path[] = "/tmp/ringtgt-conf-XXXXXX";
	struct ringtgt_config cfg;
	char err[512] = "", want[600];
	int fd = mkstemp(path);
	const char *text = "portal = {\"127.0.0.1:3260\"}\n\n/* targets\n"
			   "target \"" DEMO "\" {\n  acl = {\"ALL\"}\n}\n";

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_expect_eq(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:3: '/*' comment is never closed (missing '*/')", path);
	cr_expect_str_eq(err, want);
	unlink(path);
}

/* A section's line is where it opens, not where a comment mentions it. */
Test(config, commented_out_section_is_not_its_line)
{
	const char *text =
		"/* target \"" DEMO "\" {\n"
		"   lun 1 { path = \"/old\" } */\n"
		"target \"" DEMO "\" {\n"
		"  lun 1 { path = \"/new\" }\n"
		"}\n";
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.ntargets, 1);
	cr_expect_eq(cfg.targets[0].line, 3);
	cr_assert_eq(cfg.targets[0].nluns, 1);
	cr_expect_eq(cfg.targets[0].luns[0].line, 4);
	config_free(&cfg);
}

/* libconfuse's lexer echoed a '\' at the end of the file inside a string. */
Test(config, unterminated_string_prints_nothing, .init = cr_redirect_stdout)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf("event_loop = \"epoll\\", &cfg, err,
				      sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "<config>:1: string is never closed (missing '\"' on the line it starts)");
	fflush(stdout);
	cr_expect_stdout_eq_str("");
}

/* An error after comments names its own line (libconfuse's count drifts). */
ParameterizedTestParameters(config, lines_after_comments)
{
	static struct bad_conf cases[] = {
		{ "# one\nbogus = 1\n", "<config>:2: unknown key 'bogus'" },
		{ "// one\n// two\nbogus = 1\n", "<config>:3: unknown key 'bogus'" },
		{ "/* one */\nbogus = 1\n", "<config>:2: unknown key 'bogus'" },
		{ "/* one\n   two */ /* three */\n\nbogus = 1\n",
		  "<config>:4: unknown key 'bogus'" },
		{ "nop_interval = 1 # one\nnop_timeout = 2 // two\nreactors = -1\n",
		  "<config>:3: reactors = -1 out of range 0..1024 (0 = one per CPU)" },
	};

	return cr_make_param_array(struct bad_conf, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_conf *c, config, lines_after_comments)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf(c->text, &cfg, err, sizeof(err)), -EINVAL,
		     "accepted:\n%s", c->text);
	cr_expect_str_eq(err, c->err, "got \"%s\" for:\n%s", err, c->text);
}

/* What only looks like a comment or a brace is not one. */
Test(config, comment_lookalikes)
{
	const char *text =
		"# a comment with { and \" in it\n"
		"target \"" DEMO "\" { // }\n"
		"  acl = {\"ALL\"}  /* } \" ' */\n"
		"  lun 1 { path = /srv/a//b.img }\n"
		"  lun 2 { path = \"/srv/c/*.img\" serial = 'x}y' }\n"
		"}\n";
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.ntargets, 1);
	cr_assert_eq(cfg.targets[0].nluns, 2);
	cr_expect_eq(cfg.targets[0].line, 2);
	cr_expect_str_eq(cfg.targets[0].luns[0].spec.path, "/srv/a//b.img");
	cr_expect_eq(cfg.targets[0].luns[0].line, 4);
	cr_expect_str_eq(cfg.targets[0].luns[1].spec.path, "/srv/c/*.img");
	cr_expect_str_eq(cfg.targets[0].luns[1].spec.serial, "x}y");
	cr_assert_eq(cfg.targets[0].nacls, 1);
	config_free(&cfg);
}

struct portal_case {
	char text[64];
	int rc;
	int family;
	char addr[48];
	int port;
};

ParameterizedTestParameters(config, portals)
{
	static struct portal_case cases[] = {
		{ "127.0.0.1:3260", 0, AF_INET, "127.0.0.1", 3260 },
		{ "0.0.0.0", 0, AF_INET, "0.0.0.0", 3260 },
		{ "10.1.2.3:1", 0, AF_INET, "10.1.2.3", 1 },
		{ "[::1]:3261", 0, AF_INET6, "::1", 3261 },
		{ "[::]", 0, AF_INET6, "::", 3260 },
		{ "[fe80::1]:65535", 0, AF_INET6, "fe80::1", 65535 },
		{ "::1", -EINVAL, 0, "", 0 },
		{ "[::1", -EINVAL, 0, "", 0 },
		{ "[::1]3260", -EINVAL, 0, "", 0 },
		{ "1.2.3.4:0", -EINVAL, 0, "", 0 },
		{ "1.2.3.4:65536", -EINVAL, 0, "", 0 },
		{ "1.2.3.4:", -EINVAL, 0, "", 0 },
		{ "host:3260", -EINVAL, 0, "", 0 },
		{ "[1.2.3.4]:3260", -EINVAL, 0, "", 0 },
		{ "", -EINVAL, 0, "", 0 },
	};

	return cr_make_param_array(struct portal_case, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct portal_case *c, config, portals)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char buf[INET6_ADDRSTRLEN];

	cr_assert_eq(config_portal_parse(c->text, &ss, &len), c->rc, "'%s'", c->text);
	if (c->rc)
		return;
	cr_assert_eq(ss.ss_family, c->family);
	if (c->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		cr_expect_eq(len, sizeof(*sin));
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		cr_expect_eq(ntohs(sin->sin_port), c->port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		cr_expect_eq(len, sizeof(*sin6));
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		cr_expect_eq(ntohs(sin6->sin6_port), c->port);
	}
	cr_expect_str_eq(buf, c->addr);
}

/* --- config_apply -------------------------------------------------------- */

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, k, &v), "no key %s", k);
	return v;
}

Test(config, apply_builds_targets)
{
	char dir[] = "/tmp/ringtgt-apply-XXXXXX", text[1024], img[128];
	struct ringtgt_config cfg;
	struct core_err cerr = { { 0 } };
	char err[512] = "";
	json_object *arr, *t, *luns;
	struct stat st;

	cr_assert_not_null(mkdtemp(dir));
	/* create = true also makes the image's missing directories. */
	snprintf(img, sizeof(img), "%s/sub/dir/demo.img", dir);
	snprintf(text, sizeof(text),
		 "target \"" DEMO "\" {\n"
		 "  lun 1 { path = \"%s\" size = \"8M\" create = true }\n"
		 "  lun 2 { backing = \"ram\" size = \"4M\" }\n"
		 "  acl = {\"ALL\"}\n"
		 "}\n"
		 "target \"iqn.2026-11.org.ringtgt:bare\" {\n"
		 "  tid = 7\n"
		 "  controller = false\n"
		 "  lun 0 { backing = \"ram\" size = \"1M\" }\n"
		 "}\n", img);
	core_init();
	cr_assert_eq(config_parse_buf(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_apply(&cfg, &cerr), 0, "%s", cerr.msg);
	cr_assert_eq(stat(img, &st), 0);
	cr_expect_eq(st.st_size, 8 << 20);
	cr_expect_lt(st.st_blocks * 512, 8 << 20, "sparse");

	arr = core_targets_json();
	cr_assert_eq(json_object_array_length(arr), 2);
	t = json_object_array_get_idx(arr, 0);
	cr_expect_eq(json_object_get_int(jget(t, "tid")), 1);
	luns = jget(t, "luns");
	cr_assert_eq(json_object_array_length(luns), 3);
	cr_expect_str_eq(json_object_get_string(jget(json_object_array_get_idx(luns, 0), "type")),
			 "controller");
	cr_expect_str_eq(json_object_get_string(jget(json_object_array_get_idx(luns, 1), "path")),
			 img);
	cr_expect_str_eq(json_object_get_string(jget(json_object_array_get_idx(luns, 2), "backing")),
			 "ram");
	cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(jget(t, "acls"), 0)),
			 "ALL");
	t = json_object_array_get_idx(arr, 1);
	cr_expect_eq(json_object_get_int(jget(t, "tid")), 7);
	luns = jget(t, "luns");
	cr_assert_eq(json_object_array_length(luns), 1);
	cr_expect_str_eq(json_object_get_string(jget(json_object_array_get_idx(luns, 0), "type")),
			 "disk");
	json_object_put(arr);
	config_free(&cfg);
	core_shutdown();
	unlink(img);
	*strrchr(img, '/') = '\0';
	rmdir(img);			/* sub/dir */
	*strrchr(img, '/') = '\0';
	rmdir(img);			/* sub */
	rmdir(dir);
}

Test(config, apply_rolls_back)
{
	struct ringtgt_config cfg;
	struct core_err cerr = { { 0 } };
	char err[512] = "";
	json_object *arr;
	const char *text =
		"target \"iqn.2026-11.org.ringtgt:first\" {\n"
		"  lun 1 { backing = \"ram\" size = \"1M\" }\n"
		"}\n"
		"target \"" DEMO "\" {\n"
		"  lun 1 { backing = \"ram\" size = \"1M\" }\n"
		"  lun 2 { path = \"/nonexistent/dir/x.img\" }\n"
		"}\n";

	core_init();
	cr_assert_eq(config_parse_buf(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(config_apply(&cfg, &cerr), -ENOENT);
	cr_expect_str_eq(cerr.msg, "<config>:6: target " DEMO
			 ": LUN 2: cannot open /nonexistent/dir/x.img: No such file or directory");
	arr = core_targets_json();
	cr_expect_eq(json_object_array_length(arr), 0, "rolled back: %s",
		     json_object_to_json_string(arr));
	json_object_put(arr);
	config_free(&cfg);

	/* A target that already exists is an error too, and nothing stays. */
	cr_assert_eq(core_target_add(DEMO, 0, NULL, &cerr), 0);
	cr_assert_eq(config_parse_buf(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(config_apply(&cfg, &cerr), -EEXIST);
	cr_expect_str_eq(cerr.msg, "<config>:4: target " DEMO " already exists (tid 1)");
	cr_expect_null(core_target_find("iqn.2026-11.org.ringtgt:first"));
	config_free(&cfg);
	core_shutdown();
}

/*
 * A target's own iSCSI parameters (iscsi_params = {"Key=Value"}): set
 * when the config is applied; a malformed pair fails the parse, a value
 * ringtgt cannot honour the apply, naming the line, key and value.
 */
Test(config, iscsi_params)
{
	struct ringtgt_config cfg;
	struct iscsi_settings set;
	struct core_err cerr = { { 0 } };
	char err[512] = "";
	json_object *arr, *p;

	iscsi_settings_default(&set);
	core_init();
	iscsi_target_params_register(&set);
	cr_assert_eq(config_parse_buf(
		"target \"" DEMO "\" {\n"
		"  iscsi_params = {\"MaxBurstLength=65536\", \"ImmediateData=No\"}\n"
		"}\n", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_apply(&cfg, &cerr), 0, "%s", cerr.msg);
	arr = core_targets_json();
	p = jget(json_object_array_get_idx(arr, 0), "params");
	cr_expect_str_eq(json_object_get_string(jget(p, "MaxBurstLength")), "65536");
	cr_expect_str_eq(json_object_get_string(jget(p, "ImmediateData")), "No");
	json_object_put(arr);
	config_free(&cfg);
	cr_assert_eq(core_target_remove(DEMO, true, &cerr), 0);

	cr_expect_eq(config_parse_buf(
		"target \"" DEMO "\" {\n"
		"  iscsi_params = {\"MaxBurstLength\"}\n"
		"}\n", &cfg, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "\"MaxBurstLength\" is not Key=Value"), "%s", err);

	cr_assert_eq(config_parse_buf(
		"target \"" DEMO "\" {\n"
		"  iscsi_params = {\"ErrorRecoveryLevel=2\"}\n"
		"}\n", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(config_apply(&cfg, &cerr), -EOPNOTSUPP);
	cr_expect_str_eq(cerr.msg, "<config>:1: target " DEMO ": iscsi_params: "
			 "ErrorRecoveryLevel=2: ringtgt supports error recovery "
			 "level 0 only");
	cr_expect_null(core_target_find(DEMO), "rolled back");
	config_free(&cfg);
	core_shutdown();
}

/* tmf_timeout / tx_stall_timeout and a LUN's tas: defaults and values. */
Test(config, task_management_settings)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf("", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg.tmf_timeout, 30);
	cr_expect_eq(cfg.tx_stall_timeout, 30);
	config_free(&cfg);
	cr_assert_eq(config_parse_buf(
		"tmf_timeout = 45\ntx_stall_timeout = 5\n"
		"target \"" DEMO "\" {\n"
		"  lun 1 { backing = \"ram\" size = 1M }\n"
		"  lun 2 { backing = \"ram\" size = 1M tas = false }\n"
		"  acl = {\"ALL\"}\n}\n", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg.tmf_timeout, 45);
	cr_expect_eq(cfg.tx_stall_timeout, 5);
	cr_assert_eq(cfg.ntargets, 1);
	cr_assert_eq(cfg.targets[0].nluns, 2);
	cr_expect(!cfg.targets[0].luns[0].spec.no_tas, "tas defaults to true");
	cr_expect(cfg.targets[0].luns[1].spec.no_tas);
	config_free(&cfg);
	cr_assert_neq(config_parse_buf("tmf_timeout = 4000\n", &cfg, err,
				       sizeof(err)), 0);
	cr_expect(strstr(err, ":1:") && strstr(err, "tmf_timeout"), "%s", err);
}

/* write_cache: on by default; "false" / "off" turn it off; not a bool is
 * an error naming the line. */
Test(config, write_cache)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf(
		"target \"" DEMO "\" {\n"
		"  lun 1 { path = \"/srv/a.img\" }\n"
		"  lun 2 { path = \"/srv/b.img\" write_cache = false }\n"
		"  lun 3 { path = \"/srv/c.img\" write_cache = off }\n"
		"  lun 4 { path = \"/srv/d.img\" write_cache = on }\n"
		"  acl = {\"ALL\"}\n}\n", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.targets[0].nluns, 4);
	cr_expect(!cfg.targets[0].luns[0].spec.no_write_cache, "default on");
	cr_expect(cfg.targets[0].luns[1].spec.no_write_cache);
	cr_expect(cfg.targets[0].luns[2].spec.no_write_cache);
	cr_expect(!cfg.targets[0].luns[3].spec.no_write_cache);
	config_free(&cfg);
	cr_assert_neq(config_parse_buf(
		"target \"" DEMO "\" {\n"
		"  lun 1 { path = \"/srv/a.img\" write_cache = sometimes }\n"
		"}\n", &cfg, err, sizeof(err)), 0);
	cr_expect(strstr(err, ":2:") && strstr(err, "write_cache"), "%s", err);
}

/* Connection and session limits: defaults, values, range 1..65536. */
Test(config, limits)
{
	static const char *const bad[] = {
		"max_connections = 0\n",
		"\nmax_connections_per_source = 65537\n",
		"max_connections_per_target = -1\n",
		"max_sessions_per_target = 0\n",
	};
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf("", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg.max_connections, 4096);
	cr_expect_eq(cfg.max_conns_per_source, 2048);
	cr_expect_eq(cfg.max_conns_per_target, 2048);
	cr_expect_eq(cfg.max_sessions_per_target, 1024);
	config_free(&cfg);
	cr_assert_eq(config_parse_buf(
		"max_connections = 65536\nmax_connections_per_source = 1\n"
		"max_connections_per_target = 7\nmax_sessions_per_target = 3\n",
		&cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg.max_connections, 65536);
	cr_expect_eq(cfg.max_conns_per_source, 1);
	cr_expect_eq(cfg.max_conns_per_target, 7);
	cr_expect_eq(cfg.max_sessions_per_target, 3);
	config_free(&cfg);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *key = bad[i] + (bad[i][0] == '\n');
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(key, " "), key);
		cr_assert_neq(config_parse_buf(bad[i], &cfg, err, sizeof(err)), 0,
			      "%s accepted", bad[i]);
		cr_expect(strstr(err, name) && strstr(err, "1..65536") &&
			  strstr(err, bad[i][0] == '\n' ? ":2:" : ":1:"),
			  "%s", err);
	}
}

/* buffer_per_connection / buffer_total (issue 8 item 2): sizes, checked. */
Test(config, buffer_budgets)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf("", &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg.buffer_per_connection, 0, "unset: the default");
	cr_expect_eq(cfg.buffer_total, 0, "unset: the default");
	config_free(&cfg);
	cr_assert_eq(config_parse_buf(
		"buffer_per_connection = 16M\nbuffer_total = \"2G\"\n", &cfg,
		err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg.buffer_per_connection, 16ull << 20);
	cr_expect_eq(cfg.buffer_total, 2ull << 30);
	config_free(&cfg);
	cr_assert_neq(config_parse_buf("\nbuffer_per_connection = 4K\n", &cfg,
				       err, sizeof(err)), 0);
	cr_expect(strstr(err, ":2:") && strstr(err, "buffer_per_connection"),
		  "%s", err);
	cr_assert_neq(config_parse_buf("buffer_total = lots\n", &cfg, err,
				       sizeof(err)), 0);
	cr_expect(strstr(err, ":1:") && strstr(err, "buffer_total"), "%s", err);
}

/* --- CHAP accounts and discovery authentication (issue 9) ---------------- */

#define SECRET "Sup3r-S3cret-42"	/* must appear in no message */
#define SECRET2 "An0ther-S3cret-7"
#define TWO "iqn.2026-11.org.ringtgt:two"

Test(config, accounts)
{
	const char *text =
		"account alice { secret = \"" SECRET "\" }\n"
		"account \"bob@host\" {\n"
		"  secret = '" SECRET2 "'\n"
		"}\n"
		"account tgt { secret = \"T4rget-S3cret-9\" }\n"
		"account disc { secret = \"D1scovery-S3cret\" }\n"
		"account dout { secret = \"D1scovery-0ut-S3c\" }\n"
		"discovery_auth = mutual\n"
		"discovery_incoming = {\"disc\"}\n"
		"discovery_outgoing = \"dout\"\n"
		"target \"" DEMO "\" {\n"
		"  acl = {\"ALL\"}\n"
		"  incoming = {\"alice\", \"bob@host\"}\n"
		"  outgoing = \"tgt\"\n"
		"  chap_algorithms = \"SHA256, sha3-256\"\n"
		"}\n"
		"target \"" TWO "\" {\n"
		"  incoming = {\"alice\"}\n"
		"}\n";
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.naccounts, 5);
	cr_expect_str_eq(cfg.accounts[0].name, "alice");
	cr_expect_str_eq(cfg.accounts[0].secret, SECRET);
	cr_expect_eq(cfg.accounts[0].line, 1);
	cr_expect_str_eq(cfg.accounts[1].name, "bob@host");
	cr_expect_str_eq(cfg.accounts[1].secret, SECRET2);
	cr_expect_eq(cfg.accounts[1].line, 2);
	cr_expect_str_eq(cfg.accounts[4].name, "dout");
	cr_expect_eq(cfg.accounts[4].line, 7);
	cr_expect_eq(cfg.discovery_auth, CORE_DISC_AUTH_MUTUAL);
	cr_expect_eq(cfg.discovery_line, 8);
	cr_assert_eq(cfg.ndiscovery_incoming, 1);
	cr_expect_str_eq(cfg.discovery_incoming[0], "disc");
	cr_expect_str_eq(cfg.discovery_outgoing, "dout");
	cr_assert_eq(cfg.ntargets, 2);
	cr_assert_eq(cfg.targets[0].nincoming, 2);
	cr_expect_str_eq(cfg.targets[0].incoming[0], "alice");
	cr_expect_str_eq(cfg.targets[0].incoming[1], "bob@host");
	cr_expect_str_eq(cfg.targets[0].outgoing, "tgt");
	cr_expect_eq(cfg.targets[0].chap_algs,
		     CORE_CHAP_SHA256 | CORE_CHAP_SHA3_256);
	cr_assert_eq(cfg.targets[1].nincoming, 1);
	cr_expect_null(cfg.targets[1].outgoing);
	cr_expect_eq(cfg.targets[1].chap_algs, CORE_CHAP_ALL,
		     "all four algorithms by default");
	config_free(&cfg);
	cr_expect_eq(cfg.naccounts, 0);
}

Test(config, auth_defaults)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf("target \"" DEMO "\" {\n}\n", &cfg, err,
				      sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg.naccounts, 0);
	cr_expect_eq(cfg.discovery_auth, CORE_DISC_AUTH_NONE);
	cr_expect_eq(cfg.ndiscovery_incoming, 0);
	cr_expect_null(cfg.discovery_outgoing);
	cr_assert_eq(cfg.ntargets, 1);
	cr_expect_eq(cfg.targets[0].nincoming, 0);
	cr_expect_null(cfg.targets[0].outgoing);
	cr_expect_eq(cfg.targets[0].chap_algs, CORE_CHAP_ALL);
	config_free(&cfg);
	/* one-way discovery CHAP needs no outgoing account */
	cr_assert_eq(config_parse_buf(
		"account d { secret = \"" SECRET "\" }\n"
		"discovery_auth = chap\ndiscovery_incoming = {\"d\"}\n",
		&cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg.discovery_auth, CORE_DISC_AUTH_CHAP);
	config_free(&cfg);
}

struct bad_auth {
	char text[400];
	char err[300];		/* the exact message */
};

#define S16 "0123456789abcdef"
#define S256 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16
#define ACC "account alice { secret = \"" SECRET "\" }\n"
#define ACC2 "account bob { secret = \"" SECRET2 "\" }\n"

ParameterizedTestParameters(config, auth_errors)
{
	static struct bad_auth cases[] = {
		/* an account that is not defined */
		{ ACC "target \"" DEMO "\" {\n  acl = {\"ALL\"}\n  incoming = {\"alice\", \"carol\"}\n}\n",
		  "<config>:4: target " DEMO ": incoming account 'carol' is not defined (no account carol { ... } section)" },
		{ ACC "target \"" DEMO "\" {\n  incoming = {\"alice\"}\n\n  outgoing = \"tgt\"\n}\n",
		  "<config>:5: target " DEMO ": outgoing account 'tgt' is not defined (no account tgt { ... } section)" },
		{ ACC "discovery_auth = chap\ndiscovery_incoming = {\"bob\"}\n",
		  "<config>:3: discovery: incoming account 'bob' is not defined (no account bob { ... } section)" },
		{ ACC ACC2 "discovery_auth = mutual\ndiscovery_incoming = {\"alice\"}\ndiscovery_outgoing = \"x\"\n",
		  "<config>:5: discovery: outgoing account 'x' is not defined (no account x { ... } section)" },
		/* duplicate accounts and names */
		{ ACC "\naccount alice {\n  secret = \"" SECRET2 "\"\n}\n",
		  "<config>:3: duplicate account 'alice'" },
		{ ACC "target \"" DEMO "\" {\n}\ntarget \"" DEMO "\" {\n}\n",
		  "<config>:4: duplicate target '" DEMO "'" },
		{ ACC "target \"" DEMO "\" {\n  incoming = {\"alice\", \"alice\"}\n}\n",
		  "<config>:3: target " DEMO ": account 'alice' is listed twice in incoming" },
		{ "account \"a b\" { secret = \"" SECRET "\" }\n",
		  "<config>:1: bad account name 'a b': use 1..255 printable ASCII characters, no spaces or commas" },
		{ "\naccount \"a,b\" { secret = \"" SECRET "\" }\n",
		  "<config>:2: bad account name 'a,b': use 1..255 printable ASCII characters, no spaces or commas" },
		{ ACC "target \"" DEMO "\" {\n  incoming = {\"alice\", \"x y\"}\n}\n",
		  "<config>:3: bad account name 'x y': use 1..255 printable ASCII characters, no spaces or commas" },
		/* secrets: empty, missing, control characters */
		{ "account alice {\n  secret = \"\"\n}\n",
		  "<config>:2: account alice: the secret is empty" },
		{ "account alice {\n}\n",
		  "<config>:1: account alice has no secret (secret = \"...\")" },
		{ "account alice { secret = \"" S256 "\" }\n",
		  "<config>:1: account alice: the secret is longer than 255 bytes" },
		{ "account alice { secret = \"" SECRET "\\x01\" }\n",
		  "<config>:1: account alice: the secret contains a control character" },
		/* libconfuse would quote the text: it may be the secret */
		{ "account alice {\n  \"" SECRET "\"\n}\n",
		  "<config>:2: account alice: unexpected text (not shown, it may be the secret); an account holds only secret = \"...\"" },
		{ "account alice { secret = \"" SECRET "\" \"" SECRET "\" }\n",
		  "<config>:1: account alice: unexpected text (not shown, it may be the secret); an account holds only secret = \"...\"" },
		{ "account alice { secret = " SECRET " = }\n",
		  "<config>:1: account alice: unexpected text (not shown, it may be the secret); an account holds only secret = \"...\"" },
		/* outgoing: one, and only with incoming */
		{ ACC ACC2 "target \"" DEMO "\" {\n  incoming = {\"alice\"}\n  outgoing = {\"bob\", \"alice\"}\n}\n",
		  "<config>:5: outgoing lists 2 accounts; there is at most one outgoing account" },
		{ ACC ACC2 "discovery_outgoing = {\"bob\", \"alice\"}\n",
		  "<config>:3: discovery_outgoing lists 2 accounts; there is at most one outgoing account" },
		{ ACC2 "target \"" DEMO "\" {\n  acl = {\"ALL\"}\n  outgoing = \"bob\"\n}\n",
		  "<config>:4: target " DEMO ": outgoing account 'bob' without incoming accounts (mutual CHAP needs incoming = {...})" },
		/* discovery */
		{ ACC "\ndiscovery_auth = chap\n",
		  "<config>:3: discovery_auth = chap needs discovery_incoming = {\"NAME\", ...}" },
		{ ACC "discovery_auth = mutual\ndiscovery_incoming = {\"alice\"}\n",
		  "<config>:2: discovery_auth = mutual needs discovery_outgoing = \"NAME\"" },
		{ ACC "discovery_incoming = {\"alice\"}\n",
		  "<config>:2: discovery_incoming is set but discovery_auth is none; set discovery_auth = chap (or mutual)" },
		{ ACC "discovery_auth = none\n\ndiscovery_outgoing = \"alice\"\n",
		  "<config>:4: discovery_outgoing is set but discovery_auth is none; set discovery_auth = chap (or mutual)" },
		/* the line of the key, wherever libconfuse allows the '=' */
		{ ACC "discovery_auth\n  = chap\n",
		  "<config>:2: discovery_auth = chap needs discovery_incoming = {\"NAME\", ...}" },
		{ ACC "target \"" DEMO "\" {\n  incoming\n    = {\"carol\"}\n}\n",
		  "<config>:3: target " DEMO ": incoming account 'carol' is not defined (no account carol { ... } section)" },
		{ ACC "target \"" DEMO "\" { acl = {\"ALL\"} incoming += {\"carol\"} }\n",
		  "<config>:2: target " DEMO ": incoming account 'carol' is not defined (no account carol { ... } section)" },
		{ "discovery_auth = CHAP1\n",
		  "<config>:1: discovery_auth = \"CHAP1\": use \"none\", \"chap\" or \"mutual\"" },
		/* algorithm lists */
		{ "target \"" DEMO "\" {\n  chap_algorithms = \"SHA256,SHA512\"\n}\n",
		  "<config>:2: chap_algorithms = \"SHA256,SHA512\": unknown CHAP algorithm 'SHA512' (use MD5, SHA1, SHA256, SHA3-256)" },
		{ "target \"" DEMO "\" {\n\n  chap_algorithms = \"\"\n}\n",
		  "<config>:3: chap_algorithms = \"\": no CHAP algorithm given (use MD5, SHA1, SHA256, SHA3-256)" },
		/* RFC 7143 §12.1.3: one secret, one direction */
		{ ACC "target \"" DEMO "\" {\n  incoming = {\"alice\"}\n  outgoing = \"alice\"\n}\n",
		  "<config>:4: account 'alice' is bound both as incoming and as outgoing; RFC 7143 §12.1.3: a secret that authenticates initiators must not authenticate targets" },
		{ ACC "account bob { secret = \"" SECRET "\" }\n"
		  "target \"" DEMO "\" {\n  incoming = {\"alice\"}\n}\n"
		  "discovery_auth = mutual\ndiscovery_incoming = {\"alice\"}\ndiscovery_outgoing = \"bob\"\n",
		  "<config>:8: accounts 'alice' (incoming) and 'bob' (outgoing) have the same secret; RFC 7143 §12.1.3: a secret that authenticates initiators must not authenticate targets" },
	};

	return cr_make_param_array(struct bad_auth, cases,
				   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_auth *c, config, auth_errors)
{
	struct ringtgt_config cfg;
	char err[512] = "";

	cr_assert_eq(config_parse_buf(c->text, &cfg, err, sizeof(err)), -EINVAL,
		     "accepted:\n%s", c->text);
	cr_expect_str_eq(err, c->err, "got \"%s\" for:\n%s", err, c->text);
	cr_expect_null(strstr(err, SECRET), "the secret is in \"%s\"", err);
	cr_expect_null(strstr(err, SECRET2), "the secret is in \"%s\"", err);
	cr_expect_eq(cfg.naccounts, 0);
	cr_expect_null(cfg.accounts);
}

/* Lines the test hook saw; checked for warnings and for secrets. */
static char logged[8192];

static void log_collect(void *arg, enum log_level lvl, const char *line)
{
	(void)arg;
	(void)lvl;
	strncat(logged, line, sizeof(logged) - strlen(logged) - 2);
	strcat(logged, "\n");
}

static const char apply_text[] =
	"account alice { secret = \"" SECRET "\" }\n"
	"account bob { secret = \"" SECRET2 "\" }\n"
	"account tgt { secret = \"T4rget-S3cret-9\" }\n"
	"account disc { secret = \"D1scovery-S3cret\" }\n"
	"account dout { secret = \"D1scovery-0ut-S3c\" }\n"
	"discovery_auth = mutual\n"
	"discovery_incoming = {\"disc\"}\n"
	"discovery_outgoing = \"dout\"\n"
	"target \"" DEMO "\" {\n"
	"  lun 1 { backing = \"ram\" size = \"1M\" }\n"
	"  acl = {\"ALL\"}\n"
	"  incoming = {\"alice\", \"bob\"}\n"
	"  outgoing = \"tgt\"\n"
	"  chap_algorithms = \"SHA256,SHA3-256\"\n"
	"}\n"
	"target \"" TWO "\" {\n"
	"  acl = {\"ALL\"}\n"
	"}\n";

/* @user's secret as bound incoming to @t (NULL: discovery), or "". */
static void incoming_secret(struct tgt_target *t, const char *user,
			    char *out, size_t cap)
{
	int n = core_auth_incoming(t, user, (uint8_t *)out, cap - 1);

	out[n > 0 ? n : 0] = '\0';
}

Test(config, apply_accounts)
{
	struct ringtgt_config cfg;
	struct core_err cerr = { { 0 } };
	struct core_auth_policy p;
	struct tgt_target *t;
	char err[512] = "", sec[64], user[64];

	core_init();
	cr_assert_eq(config_parse_buf(apply_text, &cfg, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(config_apply(&cfg, &cerr), 0, "%s", cerr.msg);

	t = core_target_find(DEMO);
	cr_assert_not_null(t);
	memset(&p, 0, sizeof(p));
	core_auth_policy(t, &p);
	cr_expect(p.chap_required, "incoming accounts bound: CHAP required");
	cr_expect(p.has_outgoing);
	cr_expect_eq(p.algs, CORE_CHAP_SHA256 | CORE_CHAP_SHA3_256);
	incoming_secret(t, "alice", sec, sizeof(sec));
	cr_expect_str_eq(sec, SECRET);
	incoming_secret(t, "bob", sec, sizeof(sec));
	cr_expect_str_eq(sec, SECRET2);
	cr_expect_eq(core_auth_incoming(t, "disc", (uint8_t *)sec, sizeof(sec)),
		     -ENOENT, "disc is bound to discovery only");
	cr_assert_eq(core_auth_outgoing(t, user, sizeof(user), (uint8_t *)sec,
					sizeof(sec) - 1), 15);
	cr_expect_str_eq(user, "tgt");
	core_target_put(t);

	t = core_target_find(TWO);
	cr_assert_not_null(t);
	memset(&p, 0, sizeof(p));
	core_auth_policy(t, &p);
	cr_expect_not(p.chap_required, "no account bound: no CHAP");
	cr_expect_eq(p.algs, CORE_CHAP_ALL);
	cr_expect_eq(core_auth_incoming(t, "alice", (uint8_t *)sec, sizeof(sec)),
		     -ENOENT);
	core_target_put(t);

	cr_expect_eq(core_discovery_auth(), CORE_DISC_AUTH_MUTUAL);
	memset(&p, 0, sizeof(p));
	core_auth_policy(NULL, &p);
	cr_expect(p.chap_required);
	cr_expect(p.mutual_required);
	incoming_secret(NULL, "disc", sec, sizeof(sec));
	cr_expect_str_eq(sec, "D1scovery-S3cret");
	cr_expect_eq(core_auth_incoming(NULL, "alice", (uint8_t *)sec,
					sizeof(sec)), -ENOENT);
	cr_assert_gt(core_auth_outgoing(NULL, user, sizeof(user), (uint8_t *)sec,
					sizeof(sec) - 1), 0);
	cr_expect_str_eq(user, "dout");
	config_free(&cfg);
	core_shutdown();
}

/* Every stage that can fail undoes what the call created, and only that. */
Test(config, apply_accounts_rolls_back)
{
	struct ringtgt_config cfg;
	struct core_err cerr = { { 0 } };
	char err[512] = "";
	json_object *accs;

	core_init();
	cr_assert_eq(config_parse_buf(apply_text, &cfg, err, sizeof(err)), 0,
		     "%s", err);

	/* an account that exists: nothing of the file stays */
	cr_assert_eq(core_account_add("tgt", "Pr3-existing-S3c", &cerr), 0);
	cr_expect_eq(config_apply(&cfg, &cerr), -EEXIST);
	cr_expect_str_eq(cerr.msg, "<config>:3: account tgt already exists");
	accs = core_accounts_json(false);
	cr_expect_eq(json_object_array_length(jget(accs, "accounts")), 1,
		     "only the account that was there: %s",
		     json_object_to_json_string(accs));
	json_object_put(accs);
	cr_expect_eq(core_account_remove("tgt", false, &cerr), 0, "%s", cerr.msg);

	/* the discovery stage fails: targets and accounts go again */
	cr_assert_eq(core_account_add("other", "Pr3-existing-S3c", &cerr), 0);
	cr_assert_eq(core_account_bind(NULL, "other", true, &cerr), 0, "%s",
		     cerr.msg);
	cr_expect_eq(config_apply(&cfg, &cerr), -EEXIST);
	cr_expect_str_eq(cerr.msg, "<config>:6: discovery: account other is the outgoing account; unbind it first");
	cr_expect_null(core_target_find(DEMO));
	cr_expect_null(core_target_find(TWO));
	accs = core_accounts_json(false);
	cr_expect_eq(json_object_array_length(jget(accs, "accounts")), 1,
		     "only the account that was there: %s",
		     json_object_to_json_string(accs));
	cr_expect_null(strstr(json_object_to_json_string(accs), "\"alice\""));
	json_object_put(accs);
	cr_expect_eq(core_discovery_auth(), CORE_DISC_AUTH_NONE);
	cr_expect_null(strstr(cerr.msg, SECRET));
	cr_expect_eq(core_account_remove("other", true, &cerr), 0);

	/* and the same file applies cleanly afterwards */
	cr_expect_eq(config_apply(&cfg, &cerr), 0, "%s", cerr.msg);
	config_free(&cfg);
	core_shutdown();
}

/* A short secret works, with a warning naming the line, not the secret. */
Test(config, apply_short_secret_warns)
{
	struct ringtgt_config cfg;
	struct core_err cerr = { { 0 } };
	char err[512] = "";

	core_init();
	cr_assert_eq(config_parse_buf("\naccount alice { secret = \"sh0rt\" }\n",
				      &cfg, err, sizeof(err)), 0, "%s", err);
	logged[0] = '\0';
	log_set_writer(log_collect, NULL);
	cr_expect_eq(config_apply(&cfg, &cerr), 0, "%s", cerr.msg);
	log_set_writer(NULL, NULL);
	cr_expect(strstr(logged, "<config>:2: account alice: the secret is shorter than 12 bytes"),
		  "%s", logged);
	cr_expect_null(strstr(logged, "sh0rt"), "%s", logged);
	config_free(&cfg);
	core_shutdown();
}

/* Writes @text to a new file of mode @mode; returns its path in @path. */
static void write_conf(char *path, const char *text, mode_t mode)
{
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Issue 9: a file with secrets that every user may read is refused. */
Test(config, secrets_file_mode)
{
	static const char text[] = "portal = {\"127.0.0.1:3260\"}\n" ACC;
	char path[] = "/tmp/ringtgt-conf-XXXXXX", want[600], err[512] = "";
	struct ringtgt_config cfg;

	write_conf(path, text, 0644);
	cr_expect_eq(config_load(path, &cfg, err, sizeof(err)), -EACCES);
	snprintf(want, sizeof(want),
		 "%s holds CHAP secrets and every user may read it (mode 0644); run: chmod 600 %s",
		 path, path);
	cr_expect_str_eq(err, want);
	cr_expect_null(strstr(err, SECRET));
	cr_expect_eq(cfg.naccounts, 0);
	cr_expect_null(cfg.accounts);

	cr_assert_eq(chmod(path, 0604), 0);
	cr_expect_eq(config_load(path, &cfg, err, sizeof(err)), -EACCES);

	cr_assert_eq(chmod(path, 0600), 0);
	cr_expect_eq(config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg.naccounts, 1);
	config_free(&cfg);

	/* group-readable: loaded, with a warning naming the fix */
	cr_assert_eq(chmod(path, 0640), 0);
	logged[0] = '\0';
	log_set_writer(log_collect, NULL);
	cr_expect_eq(config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
	log_set_writer(NULL, NULL);
	cr_expect(strstr(logged, "may read it (mode 0640); chmod 600"), "%s",
		  logged);
	cr_expect(strstr(logged, path), "%s", logged);
	cr_expect_null(strstr(logged, SECRET));
	config_free(&cfg);
	unlink(path);
}

/* Without secrets (the shipped demo config) the mode does not matter. */
Test(config, no_secrets_any_mode)
{
	static const char text[] =
		"portal = {\"127.0.0.1:3260\"}\ntarget \"" DEMO "\" {\n  acl = {\"ALL\"}\n}\n";
	char path[] = "/tmp/ringtgt-conf-XXXXXX", err[512] = "";
	struct ringtgt_config cfg;

	write_conf(path, text, 0644);
	cr_expect_eq(config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
	config_free(&cfg);
	unlink(path);
}

/*
 * portal_group TAG { portal = {...} alua_state = ... }: the top-level
 * portal list stays group 1; a group's state defaults to active/optimized;
 * tags are 1..65535 and states the four of SPC-4 §5.15; applying defines
 * the groups in core.
 */
Test(config, portal_groups)
{
	static const char *const bad[][2] = {
		{ "portal_group 0 { portal = {\"127.0.0.1:3261\"} }\n", "tag" },
		{ "portal_group 65536 { }\n", "tag" },
		{ "portal_group x2 { }\n", "tag" },
		{ "\nportal_group 2 { alua_state = \"offline\" }\n",
		  "alua_state" },
		{ "portal_group 2 { portal = {\"1.2.3.4:x\"} }\n", "portal" },
	};
	struct ringtgt_config cfg;
	struct core_err e = { "" };
	enum scsi_alua_state st;
	char err[512] = "";

	cr_assert_eq(config_parse_buf(
		"portal = {\"127.0.0.1:3260\"}\n"
		"portal_group 2 {\n"
		"  portal = {\"127.0.0.1:3262\", \"[::1]:3262\"}\n"
		"  alua_state = \"standby\"\n"
		"}\n"
		"portal_group 3 { portal = {\"127.0.0.1:3263\"} }\n",
		&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nportals, 1);
	cr_assert_eq(cfg.ngroups, 2);
	cr_expect_eq(cfg.groups[0].tag, 2);
	cr_expect_eq(cfg.groups[0].state, SCSI_ALUA_STANDBY);
	cr_assert_eq(cfg.groups[0].nportals, 2);
	cr_expect_str_eq(cfg.groups[0].portals[1], "[::1]:3262");
	cr_expect_eq(cfg.groups[0].line, 2);
	cr_expect_eq(cfg.groups[1].tag, 3);
	cr_expect_eq(cfg.groups[1].state, SCSI_ALUA_ACTIVE_OPTIMIZED);
	core_init();
	cr_assert_eq(config_apply(&cfg, &e), 0, "%s", e.msg);
	cr_assert_eq(scsi_port_groups_get_state(core_port_groups(), 2, &st), 0);
	cr_expect_eq(st, SCSI_ALUA_STANDBY);
	cr_assert_eq(scsi_port_groups_get_state(core_port_groups(), 3, &st), 0);
	cr_expect_eq(st, SCSI_ALUA_ACTIVE_OPTIMIZED);
	core_shutdown();
	config_free(&cfg);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cr_assert_neq(config_parse_buf(bad[i][0], &cfg, err,
					       sizeof(err)), 0, "%s", bad[i][0]);
		cr_expect(strstr(err, bad[i][1]), "%s: %s", bad[i][0], err);
	}
}

/* tgt's LU parameters in a lun section reach the LU (target.list). */
Test(config, lu_params)
{
	static const char text[] =
		"target \"" DEMO "\" {\n"
		"  lun 1 {\n"
		"    backing = \"ram\" size = \"1M\"\n"
		"    scsi_id = \"volume-1\" scsi_sn = \"SN-1\"\n"
		"    vendor_id = \"IET\" product_id = \"VIRTUAL-DISK\"\n"
		"    product_rev = \"0001\" removable = true sense_format = 0\n"
		"    online = true thin_provisioning = true\n"
		"    lbppbe = 3 la_lba = 1 optimal_xfer_gran = 8\n"
		"    optimal_xfer_len = 2048\n"
		"    mode_page = {\"1:0:10:0:4:0:0:0:0:4:0:0:0\",\n"
		"                 \"10:0:10:0x22:0x10:0:0x40:0:0:0xff:0xff:0:9\"}\n"
		"  }\n"
		"  lun 2 { backing = \"ram\" size = \"1M\" }\n"
		"}\n";
	struct ringtgt_config cfg;
	struct core_err cerr = { { 0 } };
	char err[512] = "";
	json_object *arr, *l;

	core_init();
	cr_assert_eq(config_parse_buf(text, &cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(config_apply(&cfg, &cerr), 0, "%s", cerr.msg);
	arr = core_targets_json();
	l = json_object_array_get_idx(jget(json_object_array_get_idx(arr, 0),
					   "luns"), 1);
	cr_expect_str_eq(json_object_get_string(jget(l, "scsi_id")), "volume-1");
	cr_expect_str_eq(json_object_get_string(jget(l, "scsi_sn")), "SN-1");
	cr_expect_str_eq(json_object_get_string(jget(l, "vendor_id")), "IET");
	cr_expect_str_eq(json_object_get_string(jget(l, "product_rev")), "0001");
	cr_expect(json_object_get_boolean(jget(l, "removable")));
	cr_expect(json_object_get_boolean(jget(l, "thin_provisioning")));
	cr_expect_eq(json_object_get_int(jget(l, "lbppbe")), 3);
	cr_expect_eq(json_object_get_int(jget(l, "la_lba")), 1);
	cr_expect_eq(json_object_get_int(jget(l, "optimal_xfer_gran")), 8);
	cr_expect_eq(json_object_get_int(jget(l, "optimal_xfer_len")), 2048);
	cr_expect_eq(json_object_array_length(jget(l, "mode_page")), 2);
	cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(
				 jget(l, "mode_page"), 1)),
			 "10:0:10:0x22:0x10:0x00:0x40:0x00:0x00:0xff:0xff:0x00:0x09");
	/* LUN 2 has none of them: ringtgt's own identity */
	l = json_object_array_get_idx(jget(json_object_array_get_idx(arr, 0),
					   "luns"), 2);
	cr_expect(json_object_is_type(jget(l, "scsi_id"), json_type_null));
	cr_expect_str_eq(json_object_get_string(jget(l, "vendor_id")), "RINGTGT");
	cr_expect_not(json_object_get_boolean(jget(l, "removable")));
	json_object_put(arr);
	config_free(&cfg);
	core_shutdown();
}
