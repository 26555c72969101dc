/*
 * test_tgt_admin.c - tgt-admin (tools/tgt_admin.c): its command line as
 * tgt 1.0.85's GetOptions takes it, and the planner: a targets.conf
 * target and the daemon's target.list / account.list entries (JSON, as
 * docs/control-protocol.md gives them) in, control requests out. What a
 * plan must hold comes from tgt-admin's semantics (issue 12): a target in
 * use is left alone without -f; with -f only the difference is applied,
 * a grown store is an online resize and nothing else; what ringtgt cannot
 * do is refused with the file and line, never ignored.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "tgtconf.h"
#include "tgt_admin.h"

#define UUID "0b7cbc6a-9dfd-4f5f-b4b8-16b1c1b77c8e"
#define IQN "iqn.2010-10.org.openstack:volume-" UUID
#define DEV "/dev/cinder-volumes/volume-" UUID
#define USER "Kx9sYq2Lm4Np6Rt8Vw0Z"
#define PASS "aB3dE5gH7jK9mN1p"

/* Cinder's per-volume file (cinder/volume/targets/tgt.py) */
#define CINDER_FILE                                     \
	"\n"                                            \
	"<target " IQN ">\n"                            \
	"    backing-store " DEV "\n"                   \
	"    driver iscsi\n"                            \
	"    incominguser " USER " " PASS "\n"          \
	"    \n"                                        \
	"    write-cache on\n"                          \
	"    scsi_sn volume-" UUID "\n"                 \
	"    scsi_id volume-" UUID "\n"                 \
	"</target>\n"

/* --- the command line ----------------------------------------------------- */

static int parse(struct tga_opts *o, char **out, char **err, ...)
{
	char *argv[32], *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	FILE *fo = open_memstream(&obuf, &olen), *fe = open_memstream(&ebuf, &elen);
	va_list ap;
	int argc = 0, rc;

	argv[argc++] = "tgt-admin";
	va_start(ap, err);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	rc = tga_parse_args(argc, argv, o, fo, fe);
	fclose(fo);
	fclose(fe);
	*out = obuf;
	*err = ebuf;
	return rc;
}

Test(tgt_admin_args, no_argument_prints_usage)
{
	struct tga_opts o;
	char *out, *err;

	cr_assert_eq(parse(&o, &out, &err, NULL), 0);
	cr_assert(!strncmp(out, "Usage:\ntgt-admin [OPTION]...\nThis tool configures tgt targets.\n", 62),
		  "%s", out);
	cr_assert(strstr(out, "  -C, --control-port <NNNN>\tspecify the control port to connect to\n"));
	cr_assert_str_eq(err, "");
	free(out);
	free(err);
	cr_assert_eq(parse(&o, &out, &err, "--help", NULL), 0);
	cr_assert(strstr(out, "  -p, --pretend\t\t\tonly print tgtadm options\n"));
	free(out);
	free(err);
}

Test(tgt_admin_args, every_option)
{
	struct tga_opts o;
	char *out, *err;

	cr_assert_eq(parse(&o, &out, &err, "-e", "-c", "/etc/x.conf", "-f", "-p",
			   "-v", "-C", "3", "--ignore-errors", "--dump", "-s",
			   NULL), -1, "%s", err);
	cr_assert(o.execute && o.force && o.pretend && o.verbose &&
		  o.ignore_errors && o.dump && o.show);
	cr_assert_str_eq(o.conf, "/etc/x.conf");
	cr_assert_eq(o.control_port, 3);
	free(out);
	free(err);
	cr_assert_eq(parse(&o, &out, &err, "--execute", "--conf=/a", "--force",
			   "--pretend", "--verbose", "--control-port", "0",
			   "--show", NULL), -1);
	cr_assert(o.execute && o.force && o.pretend && o.verbose && o.show);
	cr_assert_str_eq(o.conf, "/a");
	free(out);
	free(err);
	cr_assert_eq(parse(&o, &out, &err, "--update", IQN, "--delete", "tid=4",
			   "--offline", "ALL", "--ready=" IQN, NULL), -1);
	cr_assert_str_eq(o.update, IQN);
	cr_assert_str_eq(o.delete_, "tid=4");
	cr_assert_str_eq(o.offline, "ALL");
	cr_assert_str_eq(o.ready, IQN);
	cr_assert(!o.execute && !o.force);
	free(out);
	free(err);
	/* Getopt::Long takes unique abbreviations; so does getopt_long */
	cr_assert_eq(parse(&o, &out, &err, "--upd", "ALL", NULL), -1);
	cr_assert_str_eq(o.update, "ALL");
	free(out);
	free(err);
}

struct bad_args {
	char a1[40], a2[40];
	char msg[80];
};

ParameterizedTestParameters(tgt_admin_args, refused)
{
	static struct bad_args bad[] = {
		{ "--update", "", "tgt-admin: option --update requires an argument\n" },
		{ "-C", "x", "tgt-admin: bad control port 'x'\n" },
		{ "-C", "70000", "tgt-admin: bad control port '70000'\n" },
		{ "-x", "", "tgt-admin: unknown option -x\n" },
		{ "--frob", "", "tgt-admin: unknown option --frob\n" },
		{ "-e", "stray", "tgt-admin: unexpected argument 'stray'\n" },
	};

	return cr_make_param_array(struct bad_args, bad, sizeof(bad) / sizeof(bad[0]));
}

ParameterizedTest(struct bad_args *b, tgt_admin_args, refused)
{
	struct tga_opts o;
	char *out, *err;

	cr_assert_eq(parse(&o, &out, &err, b->a1, b->a2[0] ? b->a2 : NULL, NULL), 2);
	cr_assert_str_eq(err, b->msg);
	free(out);
	free(err);
}

/* --- plans ----------------------------------------------------------------- */

static uint64_t fake_size = 1073741824;

static int size_of(void *ctx, const char *path, uint64_t *bytes)
{
	*bytes = fake_size;
	return 0;
}

static struct tgtconf *conf_of(const char *text)
{
	static struct tgtconf_io none;
	struct tgtconf *c = NULL;
	char err[1024];

	cr_assert_eq(tgtconf_parse("vol.conf", text, &none, &c, err, sizeof(err)),
		     0, "%s", err);
	return c;
}

/* The plan as "op {json}" lines, secrets masked. */
static char *plan_text(const struct tga_plan *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (size_t i = 0; i < p->nacts; i++)
		tga_action_print(&p->acts[i], f);
	fclose(f);
	return buf;
}

static void plan(const char *text, const char *cur_json, const char *accounts,
		 bool force, int want_rc, const char *want)
{
	struct tgtconf *c = conf_of(text);
	json_object *cur = cur_json ? json_tokener_parse(cur_json) : NULL;
	json_object *acc = json_tokener_parse(accounts ? accounts :
					      "{\"accounts\": []}");
	struct tga_env env = { .size = size_of, .force = force };
	struct tga_plan p;
	char err[2048], *got;
	int rc;

	cr_assert(!cur_json || cur, "bad JSON in the test");
	rc = tga_plan_target(c, &c->targets[0], cur, acc, &env, &p, err,
			     sizeof(err));
	cr_assert_eq(rc, want_rc, "rc %d: %s", rc, err);
	if (rc) {
		cr_assert_str_eq(err, want);
	} else {
		got = plan_text(&p);
		cr_assert_str_eq(got, want);
		free(got);
		tga_plan_free(&p);
	}
	json_object_put(cur);
	json_object_put(acc);
	tgtconf_free(c);
}

/* A target as target.list shows it. */
#define CUR(sessions, luns, acls, inc)                                       \
	"{\"tid\": 1, \"iqn\": \"" IQN "\", \"sessions\": " #sessions ","      \
	" \"acls\": [" acls "], \"incoming_accounts\": [" inc "],"             \
	" \"outgoing_account\": null, \"luns\": [{\"lun\": 0, \"type\":"       \
	" \"controller\", \"path\": null, \"size\": 0}" luns "]}"

/*
 * A new volume: the target, LUN 0 as tgt makes it, the LUN with tgt's
 * identifiers (scsi_id cut to tgt's 36 characters, as tgt does), the
 * CHAP account and its binding, then the ACL.
 */
Test(tgt_admin_plan, cinder_new_volume)
{
	plan(CINDER_FILE, NULL, NULL, false, 0,
	     "target.add {\"iqn\":\"" IQN "\"}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":0,\"type\":\"controller\"}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":1,\"path\":\"" DEV "\","
	     "\"scsi_id\":\"volume-0b7cbc6a-9dfd-4f5f-b4b8-16b1c\","
	     "\"scsi_sn\":\"volume-0b7cbc6a-9dfd-4f5f-b4b8-16b1c\"}\n"
	     "account.add {\"name\":\"" USER "\",\"secret\":\"***\"}\n"
	     "account.bind {\"iqn\":\"" IQN "\",\"name\":\"" USER "\"}\n"
	     "acl.add {\"iqn\":\"" IQN "\",\"rule\":\"ALL\"}\n");
}

/* The secret goes to the daemon (only its printing is masked). */
Test(tgt_admin_plan, secret_sent)
{
	struct tgtconf *c = conf_of(CINDER_FILE);
	json_object *acc = json_tokener_parse("{\"accounts\": []}"), *v;
	struct tga_env env = { .size = size_of };
	struct tga_plan p;
	char err[512];

	cr_assert_eq(tga_plan_target(c, &c->targets[0], NULL, acc, &env, &p,
				     err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(p.acts[3].op, "account.add");
	cr_assert(json_object_object_get_ex(p.acts[3].args, "secret", &v));
	cr_assert_str_eq(json_object_get_string(v), PASS);
	cr_assert_eq(p.adds_target, true);
	tga_plan_free(&p);
	json_object_put(acc);
	tgtconf_free(c);
}

#define SCSI_ID36 "\"scsi_id\": \"volume-0b7cbc6a-9dfd-4f5f-b4b8-16b1c\""

/* Nothing changed: nothing to do (the daemon shows the cut identifiers). */
Test(tgt_admin_plan, unchanged)
{
	plan(CINDER_FILE,
	     "{\"tid\": 1, \"iqn\": \"" IQN "\", \"sessions\": 1, \"acls\": [\"ALL\"],"
	     " \"incoming_accounts\": [\"" USER "\"], \"outgoing_account\": null,"
	     " \"luns\": [{\"lun\": 0, \"type\": \"controller\"},"
	     " {\"lun\": 1, \"type\": \"disk\", \"path\": \"" DEV "\", \"size\": 1073741824,"
	     " \"block_size\": 512, \"direct\": true, " SCSI_ID36 ","
	     " \"scsi_sn\": \"volume-0b7cbc6a-9dfd-4f5f-b4b8-16b1c\", \"readonly\": false}]}",
	     "{\"accounts\": [{\"name\": \"" USER "\"}]}", true, 0, "");
}

#define CUR_CINDER(sessions, size)                                           \
	"{\"tid\": 1, \"iqn\": \"" IQN "\", \"sessions\": " #sessions ","      \
	" \"acls\": [\"ALL\"], \"incoming_accounts\": [\"" USER "\"],"         \
	" \"outgoing_account\": null, \"luns\": [{\"lun\": 0, \"type\":"       \
	" \"controller\"}, {\"lun\": 1, \"type\": \"disk\", \"path\": \""      \
	DEV "\", \"size\": " #size ", \"block_size\": 512, \"direct\": true, " \
	SCSI_ID36 ", \"scsi_sn\": \"volume-0b7cbc6a-9dfd-4f5f-b4b8-16b1c\","   \
	" \"readonly\": false}]}"
#define ACCOUNTS "{\"accounts\": [{\"name\": \"" USER "\"}]}"

/* tgt: --update without -f leaves a target with sessions alone. */
Test(tgt_admin_plan, in_use_without_force_left_alone)
{
	struct tgtconf *c = conf_of(CINDER_FILE);
	json_object *cur = json_tokener_parse(CUR_CINDER(1, 536870912));
	json_object *acc = json_tokener_parse(ACCOUNTS);
	struct tga_env env = { .size = size_of, .force = false };
	struct tga_plan p;
	char err[512];

	cr_assert_eq(tga_plan_target(c, &c->targets[0], cur, acc, &env, &p, err,
				     sizeof(err)), 0);
	cr_assert_eq(p.nacts, 0);
	cr_assert_eq(p.nnotes, 1);
	cr_assert_eq(p.nquiet, 0);
	cr_assert_str_eq(p.notes[0], "# Target with tid 1 (" IQN ") is in use, it won't be updated.");
	tga_plan_free(&p);
	json_object_put(cur);
	json_object_put(acc);
	tgtconf_free(c);
}

/*
 * Cinder's extend: lvextend, then --update IQN -f. The session stays: one
 * lun.resize, no lun.remove / target.remove.
 */
Test(tgt_admin_plan, grown_store_is_a_resize)
{
	plan(CINDER_FILE, CUR_CINDER(1, 536870912), ACCOUNTS, true, 0,
	     "lun.resize {\"iqn\":\"" IQN "\",\"lun\":1}\n");
}

Test(tgt_admin_plan, shrunk_store_is_a_forced_resize)
{
	plan(CINDER_FILE, CUR_CINDER(1, 2147483648), ACCOUNTS, true, 0,
	     "lun.resize {\"iqn\":\"" IQN "\",\"lun\":1,\"force\":true}\n");
}

/* Without sessions, no -f is needed; the plan is the same difference. */
Test(tgt_admin_plan, not_in_use_no_force)
{
	plan(CINDER_FILE, CUR_CINDER(0, 536870912), ACCOUNTS, false, 0,
	     "lun.resize {\"iqn\":\"" IQN "\",\"lun\":1}\n");
}

/* Another store behind LUN 1: that LUN is replaced, nothing else. */
Test(tgt_admin_plan, changed_path_replaces_the_lun)
{
	char text[2048];

	snprintf(text, sizeof(text), "%s", CINDER_FILE);
	memcpy(strstr(text, DEV), "/dev/cinder-volumes/VOLUME-", 27);
	plan(text, CUR_CINDER(1, 1073741824), ACCOUNTS, true, 0,
	     "lun.remove {\"iqn\":\"" IQN "\",\"lun\":1,\"force\":true}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":1,\"path\":\"/dev/cinder-volumes/VOLUME-" UUID "\","
	     "\"scsi_id\":\"volume-0b7cbc6a-9dfd-4f5f-b4b8-16b1c\","
	     "\"scsi_sn\":\"volume-0b7cbc6a-9dfd-4f5f-b4b8-16b1c\"}\n");
}

/* A changed tgt parameter is a lun.update, live. */
Test(tgt_admin_plan, changed_param_is_an_update)
{
	plan("<target " IQN ">\n backing-store " DEV "\n scsi_sn volume-" UUID "\n"
	     " scsi_id volume-" UUID "\n vendor_id ACME\n readonly 1\n"
	     " incominguser " USER " " PASS "\n</target>\n",
	     CUR_CINDER(1, 1073741824), ACCOUNTS, true, 0,
	     "lun.update {\"vendor_id\":\"ACME\",\"readonly\":true,\"iqn\":\"" IQN "\",\"lun\":1}\n");
}

/*
 * tgt's geometry and mode_page directives (tgt-admin's add_params()): on
 * the new LUN; every mode_page line, the store's before the target's, a
 * later one for the same page winning; params mode_page=... too.
 */
Test(tgt_admin_plan, geometry_and_mode_pages)
{
	plan("<target " IQN ">\n <backing-store " DEV ">\n  lbppbe 3\n  la_lba 1\n"
	     "  optimal_xfer_gran 8\n  optimal_xfer_len 2048\n"
	     "  mode_page 1:0:10:0:1:0:0:0:0:1:0:0:0\n"
	     "  params mode_page=0x0a:0:10:0x22:0x10:0:0x40:0:0:0xff:0xff:0:5\n"
	     " </backing-store>\n mode_page 1:0:10:0:2:0:0:0:0:2:0:0:0\n</target>\n",
	     NULL, NULL, false, 0,
	     "target.add {\"iqn\":\"" IQN "\"}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":0,\"type\":\"controller\"}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":1,\"path\":\"" DEV "\","
	     "\"lbppbe\":3,\"la_lba\":1,\"optimal_xfer_gran\":8,"
	     "\"optimal_xfer_len\":2048,\"mode_page\":["
	     "\"1:0:10:0x00:0x02:0x00:0x00:0x00:0x00:0x02:0x00:0x00:0x00\","
	     "\"10:0:10:0x22:0x10:0x00:0x40:0x00:0x00:0xff:0xff:0x00:0x05\"]}\n"
	     "acl.add {\"iqn\":\"" IQN "\",\"rule\":\"ALL\"}\n");
}

/* bs-type null: tgt's store that keeps nothing; never resized. */
Test(tgt_admin_plan, null_store)
{
	plan("<target " IQN ">\n <backing-store /dev/null>\n  bs-type null\n"
	     " </backing-store>\n</target>\n",
	     NULL, NULL, false, 0,
	     "target.add {\"iqn\":\"" IQN "\"}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":0,\"type\":\"controller\"}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":1,\"path\":\"/dev/null\","
	     "\"backing\":\"null\"}\n"
	     "acl.add {\"iqn\":\"" IQN "\",\"rule\":\"ALL\"}\n");
	/* live and the same: nothing to do (fake_size differs: no resize) */
	plan("<target " IQN ">\n <backing-store /dev/null>\n  bs-type null\n"
	     " </backing-store>\n</target>\n",
	     "{\"tid\": 1, \"iqn\": \"" IQN "\", \"sessions\": 0, \"acls\": [\"ALL\"],"
	     " \"incoming_accounts\": [], \"outgoing_account\": null, \"luns\":"
	     " [{\"lun\": 0, \"type\": \"controller\"}, {\"lun\": 1, \"type\":"
	     " \"disk\", \"backing\": \"null\", \"path\": \"/dev/null\","
	     " \"size\": 1099511627776}]}",
	     NULL, true, 0, "");
}

/* A live LUN whose mode page differs: lun.update with the file's page. */
Test(tgt_admin_plan, changed_mode_page_is_an_update)
{
	plan("<target " IQN ">\n backing-store " DEV "\n scsi_sn volume-" UUID "\n"
	     " scsi_id volume-" UUID "\n mode_page 1:0:10:0:3:0:0:0:0:3:0:0:0\n"
	     " incominguser " USER " " PASS "\n</target>\n",
	     CUR_CINDER(1, 1073741824), ACCOUNTS, true, 0,
	     "lun.update {\"mode_page\":[\"1:0:10:0x00:0x03:0x00:0x00:0x00:0x00:0x03:0x00:0x00:0x00\"],"
	     "\"iqn\":\"" IQN "\",\"lun\":1}\n");
}

/* scsi_sn gone from the file: it cannot be unset live, the LUN is remade. */
Test(tgt_admin_plan, dropped_identifier_replaces_the_lun)
{
	plan("<target " IQN ">\n backing-store " DEV "\n scsi_id volume-" UUID "\n"
	     " incominguser " USER " " PASS "\n</target>\n",
	     CUR_CINDER(1, 1073741824), ACCOUNTS, true, 0,
	     "lun.remove {\"iqn\":\"" IQN "\",\"lun\":1,\"force\":true}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":1,\"path\":\"" DEV "\","
	     "\"scsi_id\":\"volume-0b7cbc6a-9dfd-4f5f-b4b8-16b1c\"}\n");
}

/*
 * write-cache off and bsoflags sync: lun.add's write_cache false; a LUN
 * whose write cache setting differs from the file's is made again.
 */
Test(tgt_admin_plan, write_cache)
{
	plan("<target " IQN ">\n backing-store /dev/b\n write-cache off\n</target>\n",
	     CUR(0, "", "\"ALL\"", ""), NULL, false, 0,
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":1,\"path\":\"/dev/b\",\"write_cache\":false}\n");
	plan("<target " IQN ">\n<backing-store /dev/b>\n bsoflags sync:direct\n</backing-store>\n"
	     " write-cache on\n</target>\n",
	     CUR(0, "", "\"ALL\"", ""), NULL, false, 0,
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":1,\"path\":\"/dev/b\",\"direct\":true,\"write_cache\":false}\n");
	/* on (the default) where the LUN has it off: made again */
	plan("<target " IQN ">\n backing-store /dev/b\n write-cache on\n</target>\n",
	     CUR(1, ", {\"lun\": 1, \"type\": \"disk\", \"path\": \"/dev/b\", \"size\": 1073741824,"
		    " \"write_cache\": false}", "\"ALL\"", ""), NULL, true, 0,
	     "lun.remove {\"iqn\":\"" IQN "\",\"lun\":1,\"force\":true}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":1,\"path\":\"/dev/b\"}\n");
	/* the same setting: nothing to do */
	plan("<target " IQN ">\n backing-store /dev/b\n write-cache off\n</target>\n",
	     CUR(1, ", {\"lun\": 1, \"type\": \"disk\", \"path\": \"/dev/b\", \"size\": 1073741824,"
		    " \"write_cache\": false}", "\"ALL\"", ""), NULL, true, 0, "");
}

/* LUNs the file does not have go (LUN 0 stays); new ones come. */
Test(tgt_admin_plan, luns_added_and_removed)
{
	plan("<target " IQN ">\n backing-store /dev/b\n backing-store /dev/c\n</target>\n",
	     CUR(0, ", {\"lun\": 1, \"type\": \"disk\", \"path\": \"/dev/a\", \"size\": 1073741824},"
		    " {\"lun\": 2, \"type\": \"disk\", \"path\": \"/dev/c\", \"size\": 1073741824}",
		 "\"ALL\"", ""),
	     NULL, false, 0,
	     "lun.remove {\"iqn\":\"" IQN "\",\"lun\":1,\"force\":true}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":1,\"path\":\"/dev/b\"}\n");
}

/* ACL: the file's rules; a rule the daemon stores canonically matches. */
Test(tgt_admin_plan, acls_follow_the_file)
{
	plan("<target " IQN ">\n initiator-address 10.0.0.1/32\n"
	     " initiator-address 192.168.0.0/16\n</target>\n",
	     CUR(0, "", "\"ALL\", \"10.0.0.1\"", ""), NULL, false, 0,
	     "acl.add {\"iqn\":\"" IQN "\",\"rule\":\"192.168.0.0/16\"}\n"
	     "acl.remove {\"iqn\":\"" IQN "\",\"rule\":\"ALL\"}\n");
	/* initiator-name alone: only the names (tgt-admin would add -I ALL,
	 * with which tgt 1.0.85 admits everybody: ringtgt admits less) */
	plan("<target " IQN ">\n initiator-name iqn.1993-08.org.debian:01:a\n</target>\n",
	     CUR(0, "", "\"ALL\"", ""), NULL, false, 0,
	     "acl.add {\"iqn\":\"" IQN "\",\"rule\":\"iqn.1993-08.org.debian:01:a\"}\n"
	     "acl.remove {\"iqn\":\"" IQN "\",\"rule\":\"ALL\"}\n");
	/*
	 * Both kinds: both rules, no ALL. tgt 1.0.85 admits an initiator
	 * whose address OR name matches (usr/iscsi/iscsid.c login_start),
	 * as ringtgt's rules do.
	 */
	plan("<target " IQN ">\n initiator-address 10.0.0.1\n"
	     " initiator-name iqn.1993-08.org.debian:01:a\n"
	     " initiator-address 192.168.0.0/16\n</target>\n",
	     CUR(0, "", "\"ALL\", \"10.0.0.1\"", ""), NULL, false, 0,
	     "acl.add {\"iqn\":\"" IQN "\",\"rule\":\"iqn.1993-08.org.debian:01:a\"}\n"
	     "acl.add {\"iqn\":\"" IQN "\",\"rule\":\"192.168.0.0/16\"}\n"
	     "acl.remove {\"iqn\":\"" IQN "\",\"rule\":\"ALL\"}\n");
}

/* CHAP: an account is made only when missing; bindings follow the file. */
Test(tgt_admin_plan, accounts_follow_the_file)
{
	plan("<target " IQN ">\n incominguser alice secretsecret1\n"
	     " incominguser bob secretsecret2\n outgoinguser tgt secretsecret3\n</target>\n",
	     CUR(0, "", "\"ALL\"", "\"alice\", \"carol\""),
	     "{\"accounts\": [{\"name\": \"alice\"}, {\"name\": \"carol\"}, {\"name\": \"tgt\"}]}",
	     false, 0,
	     "account.add {\"name\":\"bob\",\"secret\":\"***\"}\n"
	     "account.bind {\"iqn\":\"" IQN "\",\"name\":\"bob\"}\n"
	     "account.bind {\"iqn\":\"" IQN "\",\"name\":\"tgt\",\"outgoing\":true}\n"
	     "account.unbind {\"iqn\":\"" IQN "\",\"name\":\"carol\"}\n");
}

/*
 * tgt-admin's iSCSI parameter directives: each one a target.set_param
 * (tgt: tgtadm --mode target --op update --name K --value V), before the
 * LUNs of a new target.
 */
Test(tgt_admin_plan, iscsi_params_new_target)
{
	plan("<target " IQN ">\n MaxBurstLength 65536\n HeaderDigest CRC32C\n"
	     " ImmediateData No\n</target>\n", NULL, NULL, false, 0,
	     "target.add {\"iqn\":\"" IQN "\"}\n"
	     "lun.add {\"iqn\":\"" IQN "\",\"lun\":0,\"type\":\"controller\"}\n"
	     "target.set_param {\"iqn\":\"" IQN "\",\"name\":\"HeaderDigest\",\"value\":\"CRC32C\"}\n"
	     "target.set_param {\"iqn\":\"" IQN "\",\"name\":\"ImmediateData\",\"value\":\"No\"}\n"
	     "target.set_param {\"iqn\":\"" IQN "\",\"name\":\"MaxBurstLength\",\"value\":\"65536\"}\n"
	     "acl.add {\"iqn\":\"" IQN "\",\"rule\":\"ALL\"}\n");
}

/*
 * --update -f on a target with a session: a changed value is set (for the
 * next logins; the session stays), one the file dropped goes back to the
 * default, an unchanged one is left.
 */
Test(tgt_admin_plan, iscsi_params_update)
{
	plan("<target " IQN ">\n MaxBurstLength 131072\n InitialR2T Yes\n"
	     "</target>\n",
	     "{\"tid\": 1, \"iqn\": \"" IQN "\", \"sessions\": 1, \"acls\": [\"ALL\"],"
	     " \"incoming_accounts\": [], \"outgoing_account\": null,"
	     " \"luns\": [{\"lun\": 0, \"type\": \"controller\"}],"
	     " \"params\": {\"MaxBurstLength\": \"65536\", \"InitialR2T\": \"Yes\","
	     " \"FirstBurstLength\": \"4096\"}}", NULL, true, 0,
	     "target.set_param {\"iqn\":\"" IQN "\",\"name\":\"FirstBurstLength\",\"value\":null}\n"
	     "target.set_param {\"iqn\":\"" IQN "\",\"name\":\"MaxBurstLength\",\"value\":\"131072\"}\n");
}

/* What ringtgt cannot do refuses the target, naming the line. */
struct refusal {
	char text[200];
	char err[300];
};

ParameterizedTestParameters(tgt_admin_plan, refused)
{
	static struct refusal r[] = {
		{ "<target iqn.x>\n backing-store /a\n device-type tape\n</target>\n",
		  "vol.conf:3: target iqn.x: device-type tape: ringtgt serves disks only" },
		{ "<target iqn.x>\n backing-store /a\n bs-type rbd\n</target>\n",
		  "vol.conf:3: target iqn.x: bs-type rbd: ringtgt has files and block devices (rdwr, aio) and the null store only" },
		{ "<target iqn.x>\n<backing-store /a>\n mode_page 0x1c:0:10:8:0:0:0:0:0:0:0:0:0\n</backing-store>\n</target>\n",
		  "vol.conf:3: target iqn.x: mode_page: ringtgt serves mode pages 01h (Read-Write Error Recovery), 08h (Caching) and 0Ah (Control), without subpages; not page 1Ch subpage 00h" },
		{ "<target iqn.x>\n state offline\n</target>\n",
		  "vol.conf:2: target iqn.x: state is not supported by ringtgt" },
		{ "\n<target iqn.x>\n driver iser\n</target>\n",
		  "vol.conf:3: target iqn.x: driver iser: ringtgt serves iscsi only" },
		{ "<target iqn.x>\n backing-store /a\n params frob=1\n</target>\n",
		  "vol.conf:3: target iqn.x: params: unknown LU parameter 'frob'" },
		{ "<target iqn.x>\n backing-store /a\n lbppbe 16\n</target>\n",
		  "vol.conf:3: target iqn.x: lbppbe must be a decimal number 0..15, not '16'" },
		{ "<target iqn.x>\n backing-store /a\n mode_page 8:0:18:0x10\n</target>\n",
		  "vol.conf:3: target iqn.x: mode_page: page 08h needs 18 bytes, it has 1" },
		{ "<target iqn.x>\n backing-store /a\n params sense_format=1\n</target>\n",
		  "vol.conf:3: target iqn.x: sense_format" },
		{ "<target iqn.x>\n<backing-store /a>\n block-size 1024\n</backing-store>\n</target>\n",
		  "vol.conf:3: target iqn.x: block-size 1024: ringtgt serves 512 or 4096" },
		{ "<target iqn.x>\n backing-store /a\n lun 0\n</target>\n",
		  "vol.conf:2: target iqn.x: /a: LUN 0 is the target's controller (as in tgt)" },
		{ "<target iqn.x>\n backing-store /a\n lun 300\n</target>\n",
		  "vol.conf:2: target iqn.x: /a: LUN 300: ringtgt serves LUNs 1..255" },
		{ "<target iqn.x>\n backing-store /a\n readonly yes\n</target>\n",
		  "vol.conf:3: target iqn.x: readonly" },
	};

	return cr_make_param_array(struct refusal, r, sizeof(r) / sizeof(r[0]));
}

ParameterizedTest(struct refusal *r, tgt_admin_plan, refused)
{
	struct tgtconf *c = conf_of(r->text);
	json_object *acc = json_tokener_parse("{\"accounts\": []}");
	struct tga_env env = { .size = size_of };
	struct tga_plan p;
	char err[1024];
	int rc = tga_plan_target(c, &c->targets[0], NULL, acc, &env, &p, err,
				 sizeof(err));

	cr_assert_eq(rc, -EOPNOTSUPP, "rc %d for %s", rc, r->text);
	cr_assert(!strncmp(err, r->err, strlen(r->err)), "'%s' does not start with '%s'",
		  err, r->err);
	cr_assert_eq(p.nacts, 0);
	json_object_put(acc);
	tgtconf_free(c);
}

/* A SATA disk as sg_inq shows it (fake sysfs). */
static int inquiry_of(void *ctx, const char *path, struct tga_inquiry *out)
{
	if (strcmp(path, "/dev/sdb"))
		return -ENODATA;	/* not a SCSI device: a loop device */
	snprintf(out->vendor, sizeof(out->vendor), "ATA");
	snprintf(out->product, sizeof(out->product), "Samsung SSD 860");
	snprintf(out->rev, sizeof(out->rev), "1B6Q");
	snprintf(out->serial, sizeof(out->serial), "S3Z9NB0K123456X");
	return 0;
}

static char *plan_direct(const char *text)
{
	struct tgtconf *c = conf_of(text);
	json_object *acc = json_tokener_parse("{\"accounts\": []}");
	struct tga_env env = { .inquiry = inquiry_of, .size = size_of };
	struct tga_plan p;
	char err[1024], *t;

	cr_assert_eq(tga_plan_target(c, &c->targets[0], NULL, acc, &env, &p, err,
				     sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.nacts, 4);
	t = plan_text(&p);
	/* only the LUN's line */
	memmove(t, strstr(t, "\nlun.add {\"iqn\":\"iqn.x\",\"lun\":1") + 1,
		strlen(strstr(t, "\nlun.add {\"iqn\":\"iqn.x\",\"lun\":1")));
	*strchr(t, '\n') = '\0';
	tga_plan_free(&p);
	json_object_put(acc);
	tgtconf_free(c);
	return t;
}

/*
 * direct-store: the device's vendor, product, revision and serial become
 * the LU's (tgt-admin with sg_inq), unless the file gives them; a device
 * without INQUIRY data is a plain LUN (tgt-admin's regex then matches
 * nothing).
 */
Test(tgt_admin_plan, direct_store)
{
	char *t = plan_direct("<target iqn.x>\n direct-store /dev/sdb\n</target>\n");

	cr_assert_str_eq(t, "lun.add {\"iqn\":\"iqn.x\",\"lun\":1,\"path\":\"/dev/sdb\","
			 "\"scsi_sn\":\"S3Z9NB0K123456X\",\"vendor_id\":\"ATA\","
			 "\"product_id\":\"Samsung SSD 860\",\"product_rev\":\"1B6Q\"}");
	free(t);
	t = plan_direct("<target iqn.x>\n direct-store /dev/sdb\n vendor_id MyCorp\n</target>\n");
	cr_assert_str_eq(t, "lun.add {\"iqn\":\"iqn.x\",\"lun\":1,\"path\":\"/dev/sdb\","
			 "\"scsi_sn\":\"S3Z9NB0K123456X\",\"vendor_id\":\"MyCorp\","
			 "\"product_id\":\"Samsung SSD 860\",\"product_rev\":\"1B6Q\"}");
	free(t);
	t = plan_direct("<target iqn.x>\n direct-store /dev/loop7\n</target>\n");
	cr_assert_str_eq(t, "lun.add {\"iqn\":\"iqn.x\",\"lun\":1,\"path\":\"/dev/loop7\"}");
	free(t);
}

static char *plan_disc(const char *text, const char *accounts)
{
	struct tgtconf *c = conf_of(text);
	json_object *acc = json_tokener_parse(accounts);
	struct tga_plan p;
	char *t;

	cr_assert_not_null(acc);
	cr_assert_eq(tga_plan_discovery(c, acc, &p), 0);
	t = plan_text(&p);
	tga_plan_free(&p);
	json_object_put(acc);
	tgtconf_free(c);
	return t;
}

/*
 * incomingdiscoveryuser / outgoingdiscoveryuser: tgt-admin's account new
 * (when missing) and bind without a target; discovery then asks for CHAP.
 */
Test(tgt_admin_plan, discovery_users)
{
	char *t = plan_disc("incomingdiscoveryuser disc secretsecret1\n"
			    "outgoingdiscoveryuser tdisc secretsecret2\n",
			    "{\"accounts\": [], \"discovery\": {\"auth\": \"none\","
			    " \"incoming\": [], \"outgoing\": null}}");

	cr_assert_str_eq(t, "account.add {\"name\":\"disc\",\"secret\":\"***\"}\n"
			 "account.bind {\"name\":\"disc\"}\n"
			 "account.add {\"name\":\"tdisc\",\"secret\":\"***\"}\n"
			 "account.bind {\"name\":\"tdisc\",\"outgoing\":true}\n"
			 "discovery.auth {\"mode\":\"chap\"}\n");
	free(t);
	/* all there already: nothing */
	t = plan_disc("incomingdiscoveryuser disc secretsecret1\n",
		      "{\"accounts\": [{\"name\": \"disc\"}], \"discovery\":"
		      " {\"auth\": \"chap\", \"incoming\": [\"disc\"], \"outgoing\": null}}");
	cr_assert_str_eq(t, "");
	free(t);
	/* none in the file: nothing, whatever the daemon has */
	t = plan_disc("default-driver iscsi\n",
		      "{\"accounts\": [], \"discovery\": {\"auth\": \"none\","
		      " \"incoming\": [], \"outgoing\": null}}");
	cr_assert_str_eq(t, "");
	free(t);
}

/* --delete: tgt's notes; -f removes a target in use (its sessions go). */
Test(tgt_admin_plan, delete)
{
	json_object *used = json_tokener_parse(CUR(2, "", "\"ALL\"", ""));
	json_object *idle = json_tokener_parse(CUR(0, "", "\"ALL\"", ""));
	struct tga_plan p;
	char *t;

	cr_assert_eq(tga_plan_delete(IQN, NULL, true, false, &p), 0);
	cr_assert_eq(p.nacts, 0);
	cr_assert_str_eq(p.notes[0], "# Target with name " IQN " does not exist!");
	tga_plan_free(&p);
	cr_assert_eq(tga_plan_delete(IQN, used, false, false, &p), 0);
	cr_assert_eq(p.nacts, 0);
	cr_assert_str_eq(p.notes[0], "# Target with tid 1 (" IQN ") is in use, it won't be deleted.");
	tga_plan_free(&p);
	cr_assert_eq(tga_plan_delete(IQN, used, true, false, &p), 0);
	t = plan_text(&p);
	cr_assert_str_eq(t, "target.remove {\"iqn\":\"" IQN "\",\"force\":true}\n");
	free(t);
	tga_plan_free(&p);
	cr_assert_eq(tga_plan_delete(IQN, idle, false, true, &p), 0);
	t = plan_text(&p);
	cr_assert_str_eq(t, "target.remove {\"iqn\":\"" IQN "\"}\n");
	free(t);
	tga_plan_free(&p);
	json_object_put(used);
	json_object_put(idle);
}
