/*
 * test_tgtconf.c - the targets.conf parser from strings (tools/
 * tgtconf.c): Cinder's per-volume file byte for byte, every directive
 * tgt-admin knows, Config::General's lexical rules, LUN numbering as
 * tgt-admin does it, includes (globs, directories, nesting, loops) through
 * an in-memory file system, and errors that name the file and line.
 * The expected meanings come from tgt 1.0.85's scripts/tgt-admin and
 * Config::General 2.65 (the parser tgt-admin uses), not from this code.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tgtconf.h"

/* An in-memory file system: path -> contents. */
struct memfile {
	const char *path;
	const char *text;
};

struct memfs {
	const struct memfile *files;
	size_t n;
	int reads;
};

static int mem_read(void *ctx, const char *path, char **text, char **id)
{
	struct memfs *fs = ctx;
	size_t pl = strlen(path);

	fs->reads++;
	for (size_t i = 0; i < fs->n; i++)
		if (!strcmp(fs->files[i].path, path)) {
			/* text NULL: listed by a glob, gone when read */
			if (!fs->files[i].text)
				return -ENOENT;
			*text = strdup(fs->files[i].text);
			*id = strdup(path);
			return 0;
		}
	for (size_t i = 0; i < fs->n; i++)
		if (!strncmp(fs->files[i].path, path, pl) &&
		    fs->files[i].path[pl] == '/')
			return -EISDIR;
	return -ENOENT;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int mem_expand(void *ctx, const char *pattern, bool dir, char ***paths,
		      size_t *n)
{
	struct memfs *fs = ctx;
	size_t pl = strlen(pattern);

	*paths = calloc(fs->n + 1, sizeof(char *));
	*n = 0;
	for (size_t i = 0; i < fs->n; i++) {
		const char *f = fs->files[i].path;
		bool match = dir ? !strncmp(f, pattern, pl) && f[pl] == '/' &&
				   !strchr(f + pl + 1, '/')
				 : !fnmatch(pattern, f, FNM_PATHNAME | FNM_PERIOD);

		if (match)
			(*paths)[(*n)++] = strdup(f);
	}
	qsort(*paths, *n, sizeof(char *), cmp);
	return 0;
}

#define FS(...)                                                          \
	static const struct memfile files_[] = { __VA_ARGS__ };          \
	struct memfs fs_ = { files_, sizeof(files_) / sizeof(files_[0]), 0 }; \
	struct tgtconf_io io_ = { &fs_, mem_read, mem_expand }

/* A second file system in the same test. */
#define FS2(...)                                                         \
	static const struct memfile files2_[] = { __VA_ARGS__ };         \
	struct memfs fs2_ = { files2_, sizeof(files2_) / sizeof(files2_[0]), 0 }; \
	struct tgtconf_io io2_ = { &fs2_, mem_read, mem_expand }

static char err[4096];

static struct tgtconf *parse_ok(const char *text, const struct tgtconf_io *io)
{
	struct tgtconf *c = NULL;
	static const struct tgtconf_io none = { NULL, mem_read, mem_expand };
	struct memfs empty = { NULL, 0, 0 };
	struct tgtconf_io e = none;

	e.ctx = &empty;
	int rc = tgtconf_parse("targets.conf", text, io ? io : &e, &c, err,
			       sizeof(err));
	cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
	cr_assert_not_null(c);
	return c;
}

static void parse_err(const char *text, const struct tgtconf_io *io, int want,
		      const char *where, const char *what)
{
	struct memfs empty = { NULL, 0, 0 };
	struct tgtconf_io e = { &empty, mem_read, mem_expand };
	struct tgtconf *c = (void *)1;
	int rc = tgtconf_parse("targets.conf", text, io ? io : &e, &c, err,
			       sizeof(err));

	cr_assert_eq(rc, want, "rc %d (want %d): %s\n--\n%s", rc, want, err, text);
	cr_assert_null(c);
	cr_assert(!strncmp(err, where, strlen(where)) &&
		  err[strlen(where)] == ' ',
		  "error '%s' does not start with '%s '", err, where);
	cr_assert(strstr(err, what), "error '%s' lacks '%s'", err, what);
}

static const char *topt(const struct tgtconf_target *t, const char *k)
{
	const struct tgtconf_opt *o = tgtconf_target_opt(t, k);

	return o ? o->value : NULL;
}

static const char *sopt(const struct tgtconf_target *t, size_t i, const char *k)
{
	const struct tgtconf_opt *o = tgtconf_store_opt(t, &t->stores[i], k);

	return o ? o->value : NULL;
}

#define UUID "0b7cbc6a-9dfd-4f5f-b4b8-16b1c1b77c8e"
#define CINDER_IQN "iqn.2010-10.org.openstack:volume-" UUID

/*
 * cinder/volume/targets/tgt.py's VOLUME_CONF_WITH_CHAP_AUTH, formatted as
 * Cinder does: the template starts with a newline, and the CHAP line and
 * the flags line are four spaces when absent.
 */
Test(tgtconf, cinder_volume_file)
{
	const char *text =
		"\n"
		"<target " CINDER_IQN ">\n"
		"    backing-store /dev/cinder-volumes/volume-" UUID "\n"
		"    driver iscsi\n"
		"    incominguser Kx9sYq2Lm4Np6Rt8Vw0Z aB3dE5gH7jK9mN1p\n"
		"    \n"
		"    write-cache on\n"
		"    scsi_sn volume-" UUID "\n"
		"    scsi_id volume-" UUID "\n"
		"</target>\n";
	struct tgtconf *c = parse_ok(text, NULL);
	const struct tgtconf_target *t;

	cr_assert_eq(c->ntargets, 1);
	t = &c->targets[0];
	cr_assert_str_eq(t->iqn, CINDER_IQN);
	cr_assert_eq(t->line, 2);
	cr_assert_eq(t->nstores, 1);
	cr_assert_str_eq(t->stores[0].path, "/dev/cinder-volumes/volume-" UUID);
	cr_assert_eq(t->stores[0].direct, false);
	cr_assert_eq(t->stores[0].lun, 1);
	cr_assert_str_eq(topt(t, "driver"), "iscsi");
	cr_assert_str_eq(topt(t, "incominguser"),
			 "Kx9sYq2Lm4Np6Rt8Vw0Z aB3dE5gH7jK9mN1p");
	cr_assert_str_eq(sopt(t, 0, "write-cache"), "on");
	cr_assert_str_eq(sopt(t, 0, "scsi_sn"), "volume-" UUID);
	cr_assert_str_eq(sopt(t, 0, "scsi_id"), "volume-" UUID);
	cr_assert_eq(t->nopts, 5);
	cr_assert_null(c->default_driver);
	cr_assert_eq(c->nwarnings, 0);
	tgtconf_free(c);
}

/* Older Cinder: no CHAP (four spaces), no scsi_sn/scsi_id. */
Test(tgtconf, cinder_volume_file_without_chap)
{
	const char *text =
		"\n"
		"<target " CINDER_IQN ">\n"
		"    backing-store /dev/cinder-volumes/volume-" UUID "\n"
		"    driver iscsi\n"
		"    \n"
		"    \n"
		"    write-cache on\n"
		"</target>\n";
	struct tgtconf *c = parse_ok(text, NULL);

	cr_assert_eq(c->ntargets, 1);
	cr_assert_null(topt(&c->targets[0], "incominguser"));
	cr_assert_eq(c->targets[0].nopts, 2);
	tgtconf_free(c);
}

/*
 * Cinder's Kilo-era template: the Python string keeps its source
 * indentation, and its last line is spaces only.
 */
Test(tgtconf, cinder_volume_file_indented)
{
	const char *text =
		"\n"
		"                                <target " CINDER_IQN ">\n"
		"                                    backing-store /dev/cinder-volumes/volume-" UUID "\n"
		"                                    driver iscsi\n"
		"                                    incominguser Kx9sYq2Lm4Np6Rt8Vw0Z aB3dE5gH7jK9mN1p\n"
		"                                    write-cache on\n"
		"                                </target>\n"
		"                                 ";
	struct tgtconf *c = parse_ok(text, NULL);

	cr_assert_eq(c->ntargets, 1);
	cr_assert_str_eq(c->targets[0].iqn, CINDER_IQN);
	cr_assert_eq(c->targets[0].stores[0].lun, 1);
	cr_assert_str_eq(topt(&c->targets[0], "write-cache"), "on");
	cr_assert_eq(tgtconf_target_opt(&c->targets[0], "write-cache")->line, 6);
	tgtconf_free(c);
}

/* Every target-level directive of tgt-admin, with its value. */
Test(tgtconf, every_target_directive)
{
	static const char *const kv[][2] = {
		{ "allow-in-use", "yes" },
		{ "bs-type", "aio" },
		{ "bsopts", "path=/x" },
		{ "bsoflags", "sync:direct" },
		{ "controller_tid", "10" },
		{ "device-type", "disk" },
		{ "driver", "iscsi" },
		{ "incominguser", "user1 secretpass12" },
		{ "outgoinguser", "userA secretpassA12" },
		{ "initiator-address", "192.168.100.1" },
		{ "initiator-name", "iqn.1993-08.org.debian:01:abc" },
		{ "lun", "10" },
		{ "write-cache", "off" },
		{ "scsi_id", "IET 00010001" },
		{ "scsi_sn", "multipath-10" },
		{ "vendor_id", "MyCompany Inc." },
		{ "product_id", "VIRTUAL-DISK" },
		{ "product_rev", "0001" },
		{ "sense_format", "1" },
		{ "removable", "1" },
		{ "online", "1" },
		{ "path", "/dev/sdx" },
		{ "readonly", "1" },
		{ "lbppbe", "3" },
		{ "la_lba", "0" },
		{ "optimal_xfer_gran", "8" },
		{ "optimal_xfer_len", "128" },
		{ "mode_page", "8:0:18:0x10:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0" },
		{ "params", "thin_provisioning=1" },
		{ "MaxRecvDataSegmentLength", "8192" },
		{ "HeaderDigest", "None" },
		{ "MaxConnections", "1" },
		/* the other iSCSI parameters tgt-admin passes to tgtadm */
		{ "MaxXmitDataSegmentLength", "65536" },
		{ "DataDigest", "CRC32C,None" },
		{ "InitialR2T", "No" },
		{ "MaxOutstandingR2T", "4" },
		{ "ImmediateData", "Yes" },
		{ "FirstBurstLength", "65536" },
		{ "MaxBurstLength", "262144" },
		{ "DataPDUInOrder", "Yes" },
		{ "DataSequenceInOrder", "Yes" },
		{ "ErrorRecoveryLevel", "0" },
		{ "IFMarker", "No" },
		{ "OFMarker", "No" },
		{ "DefaultTime2Wait", "2" },
		{ "DefaultTime2Retain", "0" },
		{ "OFMarkInt", "2048" },
		{ "IFMarkInt", "2048" },
	};
	char text[8192];
	size_t n = 0;
	struct tgtconf *c;
	const struct tgtconf_target *t;

	n += (size_t)snprintf(text + n, sizeof(text) - n,
			      "<target iqn.2008-09.com.example:t>\n"
			      "backing-store /dev/LVM/somedevice\n");
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "\t%s %s\n",
				      kv[i][0], kv[i][1]);
	snprintf(text + n, sizeof(text) - n, "</target>\n");
	c = parse_ok(text, NULL);
	t = &c->targets[0];
	cr_assert_eq(t->nopts, sizeof(kv) / sizeof(kv[0]));
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		cr_assert_str_eq(topt(t, kv[i][0]), kv[i][1], "%s", kv[i][0]);
		cr_assert_eq(tgtconf_target_opt(t, kv[i][0])->line, (int)i + 3);
	}
	/* a target-level lun applies to its one store */
	cr_assert_eq(t->stores[0].lun, 10);
	tgtconf_free(c);
}

/* Every directive a <backing-store PATH> block takes; its own wins. */
Test(tgtconf, every_store_directive)
{
	const char *text =
		"<target iqn.2008-09.com.example:t>\n"
		"  write-cache off\n"
		"  vendor_id TARGETWIDE\n"
		"  scsi_sn SN-T\n"
		"  params a=1\n"
		"  <backing-store /dev/sdb1>\n"
		"    lun 3\n"
		"    allow-in-use yes\n"
		"    write-cache on\n"
		"    scsi_id ID1\n"
		"    scsi_sn SN1\n"
		"    vendor_id back1\n"
		"    product_id PROD\n"
		"    product_rev 0.1\n"
		"    readonly 1\n"
		"    device-type disk\n"
		"    bs-type rdwr\n"
		"    bsoflags direct\n"
		"    block-size 4096\n"
		"    params b=2\n"
		"    params c=3\n"
		"    mode_page 8:0:18\n"
		"  </backing-store>\n"
		"  <direct-store /dev/sdd>\n"
		"    lun 1\n"
		"  </direct-store>\n"
		"</target>\n";
	struct tgtconf *c = parse_ok(text, NULL);
	const struct tgtconf_target *t = &c->targets[0];
	const struct tgtconf_store *s;

	cr_assert_eq(t->nstores, 2);
	s = &t->stores[0];
	cr_assert_str_eq(s->path, "/dev/sdb1");
	cr_assert(s->block && !s->direct);
	cr_assert_eq(s->lun, 3);
	cr_assert_eq(s->nopts, 16);
	cr_assert_str_eq(sopt(t, 0, "write-cache"), "on");
	cr_assert_str_eq(sopt(t, 0, "vendor_id"), "back1");
	cr_assert_str_eq(sopt(t, 0, "scsi_sn"), "SN1");
	cr_assert_str_eq(sopt(t, 0, "block-size"), "4096");
	cr_assert_str_eq(sopt(t, 0, "bsoflags"), "direct");
	cr_assert_str_eq(sopt(t, 0, "allow-in-use"), "yes");
	cr_assert_eq(tgtconf_store_opt(t, s, "params")->line, 20);
	s = &t->stores[1];
	cr_assert_str_eq(s->path, "/dev/sdd");
	cr_assert(s->direct && s->block);
	cr_assert_eq(s->lun, 1);
	/* nothing of its own: the target's */
	cr_assert_str_eq(sopt(t, 1, "write-cache"), "off");
	cr_assert_str_eq(sopt(t, 1, "vendor_id"), "TARGETWIDE");
	cr_assert_eq(tgtconf_store_opt(t, s, "vendor_id")->line, 3);
	tgtconf_free(c);
}

/* The globals. */
Test(tgtconf, globals)
{
	struct tgtconf *c = parse_ok("default-driver iscsi\n"
				     "ignore-errors yes\n"
				     "control-port 7\n"
				     "incomingdiscoveryuser disc secretsecret1\n"
				     "outgoingdiscoveryuser tgtdisc secretsecret2\n", NULL);

	cr_assert_str_eq(c->discovery_in->value, "disc secretsecret1");
	cr_assert_eq(c->discovery_in->line, 4);
	cr_assert_str_eq(c->discovery_out->value, "tgtdisc secretsecret2");
	cr_assert_str_eq(c->default_driver, "iscsi");
	cr_assert(c->ignore_errors);
	cr_assert_eq(c->control_port, 7);
	cr_assert_eq(c->ntargets, 0);
	tgtconf_free(c);
	c = parse_ok("ignore-errors no\n", NULL);
	cr_assert(!c->ignore_errors);
	cr_assert_eq(c->control_port, -1);
	tgtconf_free(c);
}

/*
 * targets.conf.example: "backing-store /dev/sdc # Becomes LUN 1" ...
 * backing-stores first, each kind in path order (tgt-admin sorts the
 * hash keys), whatever order the lines are in.
 */
Test(tgtconf, lun_numbering_as_tgt_admin)
{
	const char *text =
		"<target iqn.2008-09.com.example:server.target4>\n"
		"    direct-store /dev/sdb\t# Becomes LUN 3\n"
		"    backing-store /dev/sdc\t# Becomes LUN 1\n"
		"    direct-store /dev/sdd\t# Becomes LUN 4\n"
		"    backing-store /dev/sde\t# Becomes LUN 2\n"
		"</target>\n"
		"<target iqn.2008-09.com.example:server.target5>\n"
		"    <direct-store /dev/sdd>\n"
		"\tvendor_id VENDOR1\n"
		"\tlun 1\n"
		"    </direct-store>\n"
		"    <direct-store /dev/sda>\n"
		"\tlun 2\n"
		"    </direct-store>\n"
		"    <backing-store /dev/sdb1>\n"
		"\t# lun 3\t\t# allocated automatically\n"
		"    </backing-store>\n"
		"    <backing-store /dev/sdd1>\n"
		"\tlun 15\n"
		"    </backing-store>\n"
		"</target>\n";
	struct tgtconf *c = parse_ok(text, NULL);
	const struct tgtconf_target *t = &c->targets[0];

	cr_assert_str_eq(t->iqn, "iqn.2008-09.com.example:server.target4");
	cr_assert_eq(t->nstores, 4);
	cr_assert_str_eq(t->stores[0].path, "/dev/sdc");
	cr_assert_eq(t->stores[0].lun, 1);
	cr_assert_str_eq(t->stores[1].path, "/dev/sde");
	cr_assert_eq(t->stores[1].lun, 2);
	cr_assert_str_eq(t->stores[2].path, "/dev/sdb");
	cr_assert_eq(t->stores[2].lun, 3);
	cr_assert_str_eq(t->stores[3].path, "/dev/sdd");
	cr_assert_eq(t->stores[3].lun, 4);
	t = &c->targets[1];
	cr_assert_eq(t->nstores, 4);
	cr_assert_str_eq(t->stores[0].path, "/dev/sdb1");
	cr_assert_eq(t->stores[0].lun, 3);
	cr_assert_str_eq(t->stores[1].path, "/dev/sdd1");
	cr_assert_eq(t->stores[1].lun, 15);
	cr_assert_str_eq(t->stores[2].path, "/dev/sda");
	cr_assert_eq(t->stores[2].lun, 2);
	cr_assert_str_eq(t->stores[3].path, "/dev/sdd");
	cr_assert_eq(t->stores[3].lun, 1);
	tgtconf_free(c);
}

/* Targets come out in name order, as tgt-admin walks them. */
Test(tgtconf, targets_sorted_and_merged)
{
	const char *text =
		"<target iqn.b>\nbacking-store /b1\n</target>\n"
		"<target iqn.a>\nbacking-store /a\n</target>\n"
		"<target iqn.b>\nbacking-store /b0\ninitiator-address 10.0.0.1\n</target>\n";
	struct tgtconf *c = parse_ok(text, NULL);

	cr_assert_eq(c->ntargets, 2);
	cr_assert_str_eq(c->targets[0].iqn, "iqn.a");
	cr_assert_str_eq(c->targets[1].iqn, "iqn.b");
	/* MergeDuplicateBlocks: one target with both stores */
	cr_assert_eq(c->targets[1].nstores, 2);
	cr_assert_str_eq(c->targets[1].stores[0].path, "/b0");
	cr_assert_eq(c->targets[1].stores[0].lun, 1);
	cr_assert_eq(c->targets[1].stores[1].lun, 2);
	cr_assert_str_eq(topt(&c->targets[1], "initiator-address"), "10.0.0.1");
	cr_assert_eq(c->targets[1].line, 1);
	tgtconf_free(c);
}

/* Repeated multi-valued keys keep every value, in order. */
Test(tgtconf, repeated_keys)
{
	const char *text =
		"<target iqn.x>\n"
		"initiator-address 192.168.100.1\n"
		"initiator-address 192.168.200.5\n"
		"initiator-name iqn.1993-08.org.debian:01:a\n"
		"incominguser user1 secretpass12\n"
		"incominguser user2 secretpass23\n"
		"backing-store /x\n"
		"backing-store /x\n"
		"</target>\n";
	struct tgtconf *c = parse_ok(text, NULL);
	const struct tgtconf_target *t = &c->targets[0];
	int addr = 0, users = 0;

	for (size_t i = 0; i < t->nopts; i++) {
		if (!strcmp(t->opts[i].key, "initiator-address"))
			cr_assert_str_eq(t->opts[i].value, addr++ ?
					 "192.168.200.5" : "192.168.100.1");
		if (!strcmp(t->opts[i].key, "incominguser"))
			cr_assert_str_eq(t->opts[i].value, users++ ?
					 "user2 secretpass23" : "user1 secretpass12");
	}
	cr_assert_eq(addr, 2);
	cr_assert_eq(users, 2);
	/* the same path twice is one LUN (a hash key in tgt-admin) */
	cr_assert_eq(t->nstores, 1);
	tgtconf_free(c);
}

/* Config::General's lexical rules. */
Test(tgtconf, lexical)
{
	const char *text =
		"# a comment\n"
		"   /* a C comment\n"
		"      over lines <target nope> */\n"
		"<target iqn.lex>   # trailing comment\n"
		"  vendor_id = My Vendor  \n"          /* key = value */
		"  product_id=\"Quoted Prod\"\n"       /* quotes go */
		"  scsi_sn sn\\#1 # the rest goes\n"   /* \# stays a # */
		"  scsi_id a /* inline */ b\n"
		"  initiator-name \\\n"
		"      iqn.1993-08.org.debian:01:cont\n" /* continuation */
		"  backing-store \"/dev/with space\"\r\n"
		"  product_rev \\$1\n"
		"</target>\n"
		"<target iqn.empty/>\n";
	struct tgtconf *c = parse_ok(text, NULL);
	const struct tgtconf_target *t = &c->targets[1];

	cr_assert_eq(c->ntargets, 2);
	cr_assert_str_eq(c->targets[0].iqn, "iqn.empty");
	cr_assert_eq(c->targets[0].nstores, 0);
	cr_assert_str_eq(t->iqn, "iqn.lex");
	cr_assert_eq(t->line, 4);
	cr_assert_str_eq(topt(t, "vendor_id"), "My Vendor");
	cr_assert_str_eq(topt(t, "product_id"), "Quoted Prod");
	cr_assert_str_eq(topt(t, "scsi_sn"), "sn#1");
	cr_assert_str_eq(topt(t, "scsi_id"), "ab");
	cr_assert_str_eq(topt(t, "initiator-name"),
			 "iqn.1993-08.org.debian:01:cont");
	cr_assert_eq(tgtconf_target_opt(t, "initiator-name")->line, 9);
	cr_assert_str_eq(t->stores[0].path, "/dev/with space");
	cr_assert_eq(t->stores[0].line, 11);
	cr_assert_str_eq(topt(t, "product_rev"), "$1");
	tgtconf_free(c);
}

/* include: a glob, in strcmp order; includes nest; a directory. */
Test(tgtconf, include_glob_nested_dir)
{
	FS({ "/etc/tgt/conf.d/cinder.conf", "include /var/lib/cinder/volumes/*\n" },
	   { "/etc/tgt/conf.d/b.conf", "<target iqn.b>\nbacking-store /b\n</target>\n" },
	   { "/etc/tgt/conf.d/a.conf", "default-driver iscsi\n" },
	   { "/etc/tgt/conf.d/skip.txt", "garbage\n" },
	   { "/var/lib/cinder/volumes/volume-1", "\n<target iqn.v1>\n    backing-store /dev/v1\n</target>\n" },
	   { "/var/lib/cinder/volumes/volume-2", "\n<target iqn.v2>\n    backing-store /dev/v2\n</target>\n" },
	   { "/srv/d/x", "<target iqn.d>\n</target>\n" },
	   { "/srv/d/.y", "<target iqn.dot>\n</target>\n" });
	struct tgtconf *c = parse_ok("include /etc/tgt/conf.d/*.conf\n"
				     "Include /srv/d\n", &io_);

	cr_assert_eq(c->ntargets, 5);
	cr_assert_str_eq(c->targets[0].iqn, "iqn.b");
	cr_assert_str_eq(c->targets[1].iqn, "iqn.d");
	cr_assert_str_eq(c->targets[2].iqn, "iqn.dot");
	cr_assert_str_eq(c->targets[3].iqn, "iqn.v1");
	cr_assert_str_eq(c->targets[3].file, "/var/lib/cinder/volumes/volume-1");
	cr_assert_eq(c->targets[3].line, 2);
	cr_assert_str_eq(c->targets[4].stores[0].path, "/dev/v2");
	cr_assert_str_eq(c->default_driver, "iscsi");
	tgtconf_free(c);
}

/* A glob that matches nothing is fine; a missing file is not. */
Test(tgtconf, include_missing)
{
	FS({ "/etc/x", "" });
	struct tgtconf *c = parse_ok("include /etc/tgt/conf.d/*.conf\n"
				     "includeoptional /nonexistent\n", &io_);

	cr_assert_eq(c->ntargets, 0);
	tgtconf_free(c);
	parse_err("\n\ninclude /nonexistent.conf\n", &io_, -ENOENT,
		  "targets.conf:3:", "/nonexistent.conf: the file does not exist");
}

/*
 * OpenStack Cinder writes a volume's file as a temp file in the included
 * directory (tempfile, prefix the volume's name), then renames it
 * (cinder/utils.py robust_file_write). A file the glob listed that is
 * gone when read was renamed away: the glob reads as the directory is
 * now. A temp file read half written does not parse: the whole file is
 * refused, naming it, so that no target is made from half a block
 * (Cinder retries tgt-admin --update).
 */
Test(tgtconf, include_glob_writer_temp_files)
{
	FS({ "/etc/tgt/conf.d/cinder.conf", "include /var/lib/cinder/volumes/*\n" },
	   { "/var/lib/cinder/volumes/volume-1", "\n<target iqn.v1>\n    backing-store /dev/v1\n</target>\n" },
	   { "/var/lib/cinder/volumes/volume-2", "\n<target iqn.v2>\n    backing-store /dev/v2\n</target>\n" },
	   { "/var/lib/cinder/volumes/volume-2k7_xq9ab", NULL });
	struct tgtconf *c = parse_ok("include /etc/tgt/conf.d/*.conf\n", &io_);

	cr_assert_eq(c->ntargets, 2);
	cr_assert_str_eq(c->targets[1].iqn, "iqn.v2");
	tgtconf_free(c);

	FS2({ "/var/lib/cinder/volumes/volume-1", "\n<target iqn.v1>\n    backing-store /dev/v1\n</target>\n" },
	    { "/var/lib/cinder/volumes/volume-2k7_xq9ab", "\n<target iqn.v2>\n    backing-store /dev/v2\n    driver isc" });
	parse_err("include /var/lib/cinder/volumes/*\n", &io2_, -EINVAL,
		  "/var/lib/cinder/volumes/volume-2k7_xq9ab:2:",
		  "<target> is not closed before the end of the file");
}

/* Loops are refused, naming the line of the include that closes it. */
Test(tgtconf, include_loop)
{
	FS({ "/a.conf", "# a\ninclude /b.conf\n" },
	   { "/b.conf", "<target iqn.b>\n</target>\ninclude /a.conf\n" },
	   { "/self.conf", "include /self.conf\n" });

	parse_err("include /a.conf\n", &io_, -ELOOP, "/b.conf:3:",
		  "include /a.conf: an include loop");
	parse_err("include /self.conf\n", &io_, -ELOOP, "/self.conf:1:",
		  "include loop");
}

/* One file reached twice (not a loop) is read once, with a warning. */
Test(tgtconf, include_twice_warns)
{
	FS({ "/d/a.conf", "<target iqn.a>\nbacking-store /a\n</target>\n" });
	struct tgtconf *c = parse_ok("include /d/a.conf\ninclude /d/*.conf\n",
				     &io_);

	cr_assert_eq(c->ntargets, 1);
	cr_assert_eq(c->targets[0].nstores, 1);
	cr_assert_eq(c->nwarnings, 1);
	cr_assert(strstr(c->warnings[0], "targets.conf:2: /d/a.conf was read already"),
		  "%s", c->warnings[0]);
	tgtconf_free(c);
}

/* Nesting is bounded. */
Test(tgtconf, include_depth_bounded)
{
	FS({ "/0", "include /1\n" }, { "/1", "include /2\n" },
	   { "/2", "include /3\n" }, { "/3", "include /4\n" },
	   { "/4", "include /5\n" }, { "/5", "include /6\n" },
	   { "/6", "include /7\n" }, { "/7", "include /8\n" },
	   { "/8", "include /9\n" }, { "/9", "include /10\n" },
	   { "/10", "include /11\n" }, { "/11", "include /12\n" },
	   { "/12", "include /13\n" }, { "/13", "include /14\n" },
	   { "/14", "include /15\n" }, { "/15", "include /16\n" },
	   { "/16", "" });

	parse_err("include /0\n", &io_, -ELOOP, "/14:1:", "nested deeper than 16");
}

/* A missing /etc/tgt/targets.conf reads as Debian's default file. */
Test(tgtconf, default_file_missing_is_debian_default)
{
	FS({ "/etc/tgt/conf.d/v.conf", "<target iqn.v>\nbacking-store /v\n</target>\n" });
	struct tgtconf *c = NULL;

	cr_assert_eq(tgtconf_load(NULL, &io_, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c->ntargets, 1);
	cr_assert_str_eq(c->targets[0].iqn, "iqn.v");
	tgtconf_free(c);
	/* a file named with -c must exist */
	cr_assert_eq(tgtconf_load("/etc/tgt/targets.conf", &io_, &c, err,
				  sizeof(err)), -ENOENT);
	cr_assert_null(c);
	cr_assert_str_eq(err, "/etc/tgt/targets.conf: the config file does not exist");
}

/* The real files: a directory of includes, /dev/null. */
Test(tgtconf, real_files)
{
	char dir[] = "/tmp/tgtconf-XXXXXX", path[256], conf[256];
	struct tgtconf *c = NULL;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vols", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/vols/volume-1", dir);
	f = fopen(path, "w");
	fputs("\n<target iqn.r1>\n    backing-store /dev/r1\n</target>\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/vols/sub", dir);
	cr_assert_eq(mkdir(path, 0700), 0);	/* not a file: skipped */
	snprintf(conf, sizeof(conf), "%s/targets.conf", dir);
	f = fopen(conf, "w");
	fprintf(f, "include %s/vols/*\ninclude %s/vols\n", dir, dir);
	fclose(f);
	cr_assert_eq(tgtconf_load(conf, &tgtconf_io_files, &c, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(c->ntargets, 1);
	cr_assert_eq(c->nwarnings, 1);	/* the directory reached it again */
	tgtconf_free(c);
	cr_assert_eq(tgtconf_load("/dev/null", &tgtconf_io_files, &c, err,
				  sizeof(err)), 0, "%s", err);
	cr_assert_eq(c->ntargets, 0);
	tgtconf_free(c);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	cr_assert_eq(system(path), 0);
}

/* Bad files: the error names the file and line, and the problem. */
/* arrays, not pointers: Criterion hands the cases to another process */
struct bad {
	char text[160];
	int rc;
	char where[40];
	char what[96];
};

ParameterizedTestParameters(tgtconf, errors)
{
	static struct bad bad[] = {
		{ "<target iqn.x>\n  bstype aio\n</target>\n", -EINVAL,
		  "targets.conf:2:", "unknown directive 'bstype' (did you mean 'bs-type'?)" },
		{ "\n<target iqn.x>\n  frobnicate 1\n</target>\n", -EINVAL,
		  "targets.conf:3:", "unknown directive 'frobnicate'" },
		{ "<target iqn.x>\n  scsi_sn\n</target>\n", -EINVAL,
		  "targets.conf:2:", "scsi_sn has a missing value" },
		{ "<target iqn.x>\n  write-cache maybe\n</target>\n", -EINVAL,
		  "targets.conf:2:", "write-cache 'maybe': 'on' or 'off' expected" },
		{ "<target iqn.x>\n  scsi_sn a\n  scsi_sn b\n</target>\n", -EINVAL,
		  "targets.conf:3:", "scsi_sn given twice (also at targets.conf:2)" },
		{ "<target iqn.x>\nbacking-store /a\n</target>\n<target iqn.x>\nlun 2\n</target>\n"
		  "<target iqn.x>\nlun 3\n</target>\n", -EINVAL,
		  "targets.conf:8:", "lun given twice (also at targets.conf:5)" },
		{ "<target iqn.x>\n  backing-store /a\n", -EINVAL,
		  "targets.conf:1:", "<target> is not closed" },
		{ "</target>\n", -EINVAL, "targets.conf:1:", "</target> without" },
		{ "<target iqn.x>\n<backing-store /a>\n</target>\n", -EINVAL,
		  "targets.conf:3:", "</target> closes <backing-store> (opened at targets.conf:2)" },
		{ "<target iqn.x>\n<target iqn.y>\n", -EINVAL,
		  "targets.conf:2:", "<target> inside <target>" },
		{ "<Target iqn.x>\n</Target>\n", -EINVAL,
		  "targets.conf:1:", "<Target>: only <target NAME> blocks" },
		{ "<target>\n</target>\n", -EINVAL, "targets.conf:1:", "<target> needs a name" },
		{ "backing-store /a\n", -EINVAL, "targets.conf:1:", "backing-store outside a <target> block" },
		{ "<target iqn.x>\n default-driver iscsi\n</target>\n", -EINVAL,
		  "targets.conf:2:", "default-driver stands only outside <target> blocks" },
		{ "<target iqn.x>\n block-size 4096\n</target>\n", -EINVAL,
		  "targets.conf:2:", "block-size stands only inside <backing-store PATH>" },
		{ "<target iqn.x>\n<backing-store /a>\n incominguser u p12345678901\n</backing-store>\n</target>\n",
		  -EINVAL, "targets.conf:3:", "incominguser cannot stand inside <backing-store>" },
		{ "<target iqn.x>\n<backing-store /a>\n block-size 1000\n</backing-store>\n</target>\n",
		  -EINVAL, "targets.conf:3:", "block-size '1000': a power of two" },
		{ "<target iqn.x>\n incominguser onlyuser\n</target>\n", -EINVAL,
		  "targets.conf:2:", "incominguser takes a user name and a secret" },
		{ "<target iqn.x>\n outgoinguser u pass with space\n</target>\n", -EINVAL,
		  "targets.conf:2:", "outgoinguser takes a user name and a secret" },
		{ "<target iqn.x>\n bsoflags async\n</target>\n", -EINVAL,
		  "targets.conf:2:", "bsoflags 'async'" },
		{ "<target iqn.x>\n lun one\n</target>\n", -EINVAL,
		  "targets.conf:2:", "lun 'one': a LUN number" },
		{ "<target iqn.x>\n allow-in-use sure\n</target>\n", -EINVAL,
		  "targets.conf:2:", "allow-in-use 'sure': 'yes' or 'no' expected" },
		{ "<target iqn.x>\nbacking-store /a\nbacking-store /b\nlun 4\n</target>\n", -EINVAL,
		  "targets.conf:4:", "lun 4 at target level, but target iqn.x has 2 stores" },
		{ "<target iqn.x>\n<backing-store /a>\nlun 2\n</backing-store>\n"
		  "<backing-store /b>\nlun 2\n</backing-store>\n</target>\n", -EINVAL,
		  "targets.conf:6:", "lun 2 given to two stores of iqn.x" },
		{ "<target iqn.x>\n<backing-store /a>\n</backing-store>\nbacking-store /b\n</target>\n",
		  -EINVAL, "targets.conf:4:", "cannot be mixed" },
		/* the same path as a line, then as a block (found by fuzz-tgtconf) */
		{ "<target iqn.x>\ndirect-store /d\n<direct-store /d>\nlun 1\n</direct-store>\n</target>\n",
		  -EINVAL, "targets.conf:3:", "cannot be mixed" },
		{ "<target iqn.x>\nbacking-store /a\ndirect-store /a\n</target>\n", -EINVAL,
		  "targets.conf:3:", "/a is both a backing-store and a direct-store" },
		{ "default-driver iscsi\ndefault-driver iser\n", -EINVAL,
		  "targets.conf:2:", "default-driver given twice" },
		{ "incomingdiscoveryuser a secretsecret1\nincomingdiscoveryuser b secretsecret2\n",
		  -EINVAL, "targets.conf:2:", "incomingdiscoveryuser given twice (also at targets.conf:1)" },
		{ "outgoingdiscoveryuser a\n", -EINVAL, "targets.conf:1:",
		  "outgoingdiscoveryuser takes a user name and a secret" },
		{ "iSNSServerIP 192.168.111.222\n", -EINVAL,
		  "targets.conf:1:", "iSNSServerIP: not supported by ringtgt" },
		{ "<target iqn.x>\n  vendor_id <<EOF\nX\nEOF\n</target>\n", -EINVAL,
		  "targets.conf:2:", "here documents" },
		{ "\n/* never closed\n", -EINVAL, "targets.conf:2:", "comment is not closed" },
		{ "<target iqn.x>\n  <lun 1>\n  </lun>\n</target>\n", -EINVAL,
		  "targets.conf:2:", "<lun> inside <target>" },
		{ "<target iqn.x>\n<backing-store /a>\n<x y>\n</x>\n</backing-store>\n</target>\n",
		  -EINVAL, "targets.conf:3:", "<x> inside <backing-store>: no block" },
		{ "<target iqn.x>\n<backing-store>\n</backing-store>\n</target>\n", -EINVAL,
		  "targets.conf:2:", "<backing-store> needs a path" },
		{ "control-port x\n", -EINVAL, "targets.conf:1:", "control-port 'x': a number" },
	};

	return cr_make_param_array(struct bad, bad, sizeof(bad) / sizeof(bad[0]));
}

ParameterizedTest(struct bad *b, tgtconf, errors)
{
	parse_err(b->text, NULL, b->rc, b->where, b->what);
}

/* Errors inside an included file name that file; blocks stay per file. */
Test(tgtconf, errors_in_included_file)
{
	FS({ "/etc/tgt/conf.d/ok.conf", "<target iqn.ok>\n</target>\n" },
	   { "/etc/tgt/conf.d/zz-bad.conf", "\n\n<target iqn.bad>\n  incominguser x\n</target>\n" },
	   { "/open.conf", "<target iqn.open>\n" },
	   { "/close.conf", "</target>\n" });

	parse_err("include /etc/tgt/conf.d/*.conf\n", &io_, -EINVAL,
		  "/etc/tgt/conf.d/zz-bad.conf:4:", "incominguser takes");
	parse_err("include /open.conf\n", &io_, -EINVAL,
		  "/open.conf:1:", "<target> is not closed before the end of the file");
	parse_err("<target iqn.x>\ninclude /close.conf\n</target>\n", &io_, -EINVAL,
		  "/close.conf:1:", "closes a block opened in another file (targets.conf:1)");
}

/* An include inside a target adds to it (Config::General is textual). */
Test(tgtconf, include_inside_target)
{
	FS({ "/luns.conf", "backing-store /dev/x\nwrite-cache off\n" });
	struct tgtconf *c = parse_ok("<target iqn.x>\n  include /luns.conf\n</target>\n",
				     &io_);

	cr_assert_eq(c->targets[0].nstores, 1);
	cr_assert_str_eq(sopt(&c->targets[0], 0, "write-cache"), "off");
	cr_assert_str_eq(c->targets[0].stores[0].file, "/luns.conf");
	tgtconf_free(c);
}
