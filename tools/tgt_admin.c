/*
 * tgt_admin.c - tgt 1.0.85's `tgt-admin` (scripts/tgt-admin) for ringtgtd:
 * reads /etc/tgt/targets.conf (tgtconf.c) and makes the daemon
 * match it through the control socket. Options, their letters and the
 * messages tgt-admin prints are tgt's; what differs is documented in
 * docs/tgt-compat.md. The main one: tgt-admin can only delete a target and
 * create it again, so `--update IQN -f` drops the sessions of an attached
 * volume; here an update applies only the difference, live (a grown
 * backing device is an online resize, a changed tgt parameter a
 * lun.update), and a LUN whose store did not change keeps serving.
 *
 * The planner (tga_plan_*) turns a target of the file and the daemon's
 * target.list / account.list entries into control requests without doing
 * any I/O but through struct tga_env; tgt_admin_main() fetches the state,
 * plans, prints (-p, -v) and runs the requests, holding a lock beside
 * the control socket so that two runs at once do not plan from the same
 * state (run_lock()).
 *
 * Exit status: 0 done (also when a target in use was left alone, as tgt
 * does), 1 a refusal or a failed request, 2 a usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "ringtgt/ctl.h"
#include "tgt_admin.h"
#include "tgtadm.h"

#define PROG "tgt-admin"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* --- the command line ---------------------------------------------------- */

static void usage(FILE *f)
{
	/* tgt-admin's usage(), with its tabs */
	fprintf(f,
"Usage:\n"
"tgt-admin [OPTION]...\n"
"This tool configures tgt targets.\n"
"\n"
"  -e, --execute\t\t\tread " TGTCONF_DEFAULT_PATH " and execute tgtadm commands\n"
"      --delete <value>\t\tdelete all or selected targets\n"
"\t\t\t\t(see \"--delete help\" for more info)\n"
"      --offline <value>\t\tput all or selected targets in offline state\n"
"\t\t\t\t(see \"--offline help\" for more info)\n"
"      --ready <value>\t\tput all or selected targets in ready state\n"
"\t\t\t\t(see \"--ready help\" for more info)\n"
"      --update <value>\t\tupdate configuration for all or selected targets\n"
"\t\t\t\t(see \"--update help\" for more info)\n"
"  -s, --show\t\t\tshow all the targets\n"
"  -C, --control-port <NNNN>\tspecify the control port to connect to\n"
"  -c, --conf <conf file>\tspecify an alternative configuration file\n"
"      --ignore-errors\t\tcontinue even if tgtadm exits with non-zero code\n"
"  -f, --force\t\t\tforce some operations even if the target is in use\n"
"  -p, --pretend\t\t\tonly print tgtadm options\n"
"      --dump\t\t\tdump current tgtd configuration (note: does not\n"
"\t\t\t\tinclude detailed parameters, like write caching)\n"
"  -v, --verbose\t\t\tincrease verbosity (show tgtadm commands)\n"
"  -h, --help\t\t\tshow this help\n"
"\n");
}

enum {
	OPT_DELETE = 256, OPT_OFFLINE, OPT_READY, OPT_UPDATE,
	OPT_IGNORE_ERRORS, OPT_DUMP,
};

int tga_parse_args(int argc, char **argv, struct tga_opts *o, FILE *out,
		   FILE *err)
{
	static const struct option lopts[] = {
		{ "execute", no_argument, NULL, 'e' },
		{ "delete", required_argument, NULL, OPT_DELETE },
		{ "offline", required_argument, NULL, OPT_OFFLINE },
		{ "ready", required_argument, NULL, OPT_READY },
		{ "update", required_argument, NULL, OPT_UPDATE },
		{ "show", no_argument, NULL, 's' },
		{ "conf", required_argument, NULL, 'c' },
		{ "ignore-errors", no_argument, NULL, OPT_IGNORE_ERRORS },
		{ "force", no_argument, NULL, 'f' },
		{ "pretend", no_argument, NULL, 'p' },
		{ "dump", no_argument, NULL, OPT_DUMP },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "control-port", required_argument, NULL, 'C' },
		{ 0 }
	};
	static const char shortopts[] = ":esc:fpvhC:";
	bool help = false;
	char *end;
	long v;
	int opt;

	memset(o, 0, sizeof(*o));
	optind = 0;	/* glibc: start afresh, no state from an earlier call */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shortopts, lopts, NULL)) != -1) {
		switch (opt) {
		case 'e': o->execute = true; break;
		case 's': o->show = true; break;
		case 'c': o->conf = optarg; break;
		case 'f': o->force = true; break;
		case 'p': o->pretend = true; break;
		case 'v': o->verbose = true; break;
		case 'h': help = true; break;
		case OPT_DELETE: o->delete_ = optarg; break;
		case OPT_OFFLINE: o->offline = optarg; break;
		case OPT_READY: o->ready = optarg; break;
		case OPT_UPDATE: o->update = optarg; break;
		case OPT_IGNORE_ERRORS: o->ignore_errors = true; break;
		case OPT_DUMP: o->dump = true; break;
		case 'C':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0 || v > 65535) {
				fprintf(err, PROG ": bad control port '%s'\n", optarg);
				return EXIT_USAGE;
			}
			o->control_port = (int)v;
			break;
		case ':':
			fprintf(err, PROG ": option %s requires an argument\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			/*
			 * An unknown letter inside "-xZ" leaves optind on that
			 * word or before it: name the letter (glibc's optopt is
			 * a plain char there, negative above 0x7f; ':' and ';'
			 * are never options); anything
			 * else (--bogus, --force=1) is the word getopt passed
			 */
			if (optopt && optopt < 256 &&
			    (optopt == ':' || optopt == ';' ||
			     !strchr(shortopts, optopt)))
				fprintf(err, PROG ": unknown option -%c\n",
					(unsigned char)optopt);
			else
				fprintf(err, PROG ": unknown option %s\n",
					argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(err, PROG ": unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	/* tgt-admin: usage when asked, or when there is no argument at all */
	if (help || argc < 2) {
		usage(out);
		return EXIT_OK;
	}
	return -1;
}

/* --- plans ---------------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EOPNOTSUPP;
}

static int act(struct tga_plan *p, const char *op, json_object *args)
{
	struct tga_action *na = realloc(p->acts, (p->nacts + 1) * sizeof(*na));

	if (!na || !args) {
		json_object_put(args);
		if (na)
			p->acts = na;
		return -ENOMEM;
	}
	p->acts = na;
	na[p->nacts].op = strdup(op);
	na[p->nacts].args = args;
	if (!na[p->nacts].op) {
		json_object_put(args);
		return -ENOMEM;
	}
	p->nacts++;
	return 0;
}

__attribute__((format(printf, 2, 3)))
static int note(struct tga_plan *p, const char *fmt, ...)
{
	char **nn = realloc(p->notes, (p->nnotes + 1) * sizeof(*nn));
	va_list ap;
	int rc;

	if (!nn)
		return -ENOMEM;
	p->notes = nn;
	va_start(ap, fmt);
	rc = vasprintf(&nn[p->nnotes], fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -ENOMEM;
	p->nnotes++;
	return 0;
}

void tga_plan_free(struct tga_plan *p)
{
	for (size_t i = 0; i < p->nacts; i++) {
		free(p->acts[i].op);
		json_object_put(p->acts[i].args);
	}
	free(p->acts);
	for (size_t i = 0; i < p->nnotes; i++)
		free(p->notes[i]);
	free(p->notes);
	memset(p, 0, sizeof(*p));
}

static json_object *args_iqn(const char *iqn)
{
	json_object *o = json_object_new_object();

	if (o)
		json_object_object_add(o, "iqn", json_object_new_string(iqn));
	return o;
}

static json_object *args_lun(const char *iqn, unsigned lun)
{
	json_object *o = args_iqn(iqn);

	if (o)
		json_object_object_add(o, "lun", json_object_new_int((int)lun));
	return o;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_string) ?
	       json_object_get_string(v) : NULL;
}

/* One LUN of the file, as lun.add arguments and what to compare. */
struct want_lun {
	const struct tgtconf_store *s;
	struct ringtgt_lu_params *params;
	uint32_t block_size;		/* 0: not given */
	bool direct, shared;
	bool no_write_cache;		/* write-cache off, bsoflags sync */
	bool null_store;		/* bs-type null: keeps nothing */
};

static const char *loc(const struct tgtconf_opt *o, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%d", o->file, o->line);
	return buf;
}

/* tgt's LU parameters given by directive (tgt-admin's add_params()). */
static const char *const lu_param_directives[] = {
	"scsi_id", "scsi_sn", "vendor_id", "product_id", "product_rev",
	"sense_format", "removable", "online", "readonly", "lbppbe", "la_lba",
	"optimal_xfer_gran", "optimal_xfer_len",
};

/*
 * Directives tgt-admin acts on that ringtgt has nothing for. Refused,
 * never ignored, with the reason.
 */
static const struct {
	const char *key, *why;
} unsupported[] = {
	{ "path", "tgt's path parameter (a second path) has no meaning in ringtgt" },
	{ "bsopts", "ringtgt's backing stores take no options string" },
	{ "state", "a target's state is set with tgt-admin --offline/--ready or tgtadm --name state, not in targets.conf" },
};

/*
 * tgt-admin's iSCSI parameter directives, each one `tgtadm --mode target
 * --op update --name K --value V` there: a target.set_param here, which
 * ringtgtd checks (a value it cannot honour is refused, saying why).
 */
static const char *const iscsi_param_directives[] = {
	"MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength", "HeaderDigest",
	"DataDigest", "InitialR2T", "MaxOutstandingR2T", "ImmediateData",
	"FirstBurstLength", "MaxBurstLength", "DataPDUInOrder",
	"DataSequenceInOrder", "ErrorRecoveryLevel", "IFMarker", "OFMarker",
	"DefaultTime2Wait", "DefaultTime2Retain", "OFMarkInt", "IFMarkInt",
	"MaxConnections",
};

static int check_unsupported(const struct tgtconf_opt *o, size_t n,
			     const char *iqn, char *err, size_t errlen)
{
	char l[300];

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof(unsupported) / sizeof(unsupported[0]); k++)
			if (!strcmp(o[i].key, unsupported[k].key))
				return refuse(err, errlen, "%s: target %s: %s is not supported by ringtgt: %s",
					      loc(&o[i], l, sizeof(l)), iqn,
					      o[i].key, unsupported[k].why);
	return 0;
}

/* One tgt LU parameter into @w; refusals name the line. */
static int lu_param(struct want_lun *w, const char *name, const char *value,
		    const struct tgtconf_opt *o, const char *iqn, char *err,
		    size_t errlen)
{
	char why[256], l[300];
	int rc = ringtgt_lu_params_set(w->params, name, value, 1, why,
				       sizeof(why));

	if (rc == -ENOENT)
		return refuse(err, errlen, "%s: target %s: params: unknown LU parameter '%s'",
			      loc(o, l, sizeof(l)), iqn, name);
	if (rc)
		return refuse(err, errlen, "%s: target %s: %s", loc(o, l, sizeof(l)),
			      iqn, why);
	return 0;
}

/* `params k=v,k=v` (tgtadm --params), every one of them. */
static int lu_params_line(struct want_lun *w, const struct tgtconf_opt *o,
			  const char *iqn, char *err, size_t errlen)
{
	char *copy = strdup(o->value), *save = NULL, *kv;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	for (kv = strtok_r(copy, ",", &save); kv && !rc;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '='), l[300];

		if (!eq) {
			rc = refuse(err, errlen, "%s: target %s: params '%s': KEY=VALUE expected",
				    loc(o, l, sizeof(l)), iqn, kv);
			break;
		}
		*eq = '\0';
		rc = lu_param(w, kv, eq + 1, o, iqn, err, errlen);
	}
	free(copy);
	return rc;
}

/*
 * direct-store: the device's vendor, product, revision and unit serial
 * number become the LU's, unless the file gives them (tgt-admin's
 * add_backing_direct() with sg_inq). A device without INQUIRY data (not
 * SCSI) gives none, as sg_inq's output then matches nothing in tgt-admin.
 * tgt-admin also copies the Block Limits and READ CAPACITY fields; ringtgt's
 * block device store reports the device's own.
 */
static int direct_params(const struct tgtconf_target *t,
			 const struct tgtconf_store *s, const struct tga_env *env,
			 struct want_lun *w, char *err, size_t errlen)
{
	struct tga_inquiry inq;
	const struct {
		const char *key, *value;
	} f[] = {
		{ "vendor_id", inq.vendor }, { "product_id", inq.product },
		{ "product_rev", inq.rev }, { "scsi_sn", inq.serial },
	};
	struct tgtconf_opt where = { .file = s->file, .line = s->line };
	int rc;

	memset(&inq, 0, sizeof(inq));
	if (!env->inquiry || env->inquiry(env->ctx, s->path, &inq))
		return 0;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!f[i].value[0] || tgtconf_store_opt(t, s, f[i].key))
			continue;
		rc = lu_param(w, f[i].key, f[i].value, &where, t->iqn, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* What the file asks of the LUN of @s, or a refusal. */
static int want_lun(const struct tgtconf_target *t, const struct tgtconf_store *s,
		    const struct tga_env *env, struct want_lun *w, char *err,
		    size_t errlen)
{
	const struct tgtconf_opt *o;
	char l[300];
	int rc;

	memset(w, 0, sizeof(*w));
	w->s = s;
	w->params = ringtgt_lu_params_new();
	if (!w->params)
		return -ENOMEM;
	rc = check_unsupported(s->opts, s->nopts, t->iqn, err, errlen);
	if (rc)
		return rc;
	if (s->lun == 0)
		return refuse(err, errlen, "%s:%d: target %s: %s: LUN 0 is the target's controller (as in tgt)",
			      s->file, s->line, t->iqn, s->path);
	if (s->lun >= RINGTGT_MAX_LUNS)
		return refuse(err, errlen, "%s:%d: target %s: %s: LUN %u: ringtgt serves LUNs 1..%d",
			      s->file, s->line, t->iqn, s->path, s->lun,
			      RINGTGT_MAX_LUNS - 1);
	o = tgtconf_store_opt(t, s, "device-type");
	if (o && strcmp(o->value, "disk"))
		return refuse(err, errlen, "%s: target %s: device-type %s: ringtgt serves disks only",
			      loc(o, l, sizeof(l)), t->iqn, o->value);
	o = tgtconf_store_opt(t, s, "bs-type");
	/* rdwr and aio are both "read and write the file or device":
	 * ringtgt's store; null is tgt's store that keeps nothing */
	if (o && strcmp(o->value, "rdwr") && strcmp(o->value, "aio") &&
	    strcmp(o->value, "null"))
		return refuse(err, errlen, "%s: target %s: bs-type %s: ringtgt has files and block devices (rdwr, aio) and the null store only",
			      loc(o, l, sizeof(l)), t->iqn, o->value);
	w->null_store = o && !strcmp(o->value, "null");
	/*
	 * write-cache off (tgt: WCE=0 in the Caching mode page) and bsoflags
	 * sync (tgt: the file opened O_SYNC) both ask that a write be on
	 * stable storage before GOOD: lun.add's write_cache false (WCE=0,
	 * O_DSYNC).
	 */
	o = tgtconf_store_opt(t, s, "write-cache");
	w->no_write_cache = o && !strcmp(o->value, "off");
	o = tgtconf_store_opt(t, s, "bsoflags");
	if (o) {
		w->no_write_cache |= strstr(o->value, "sync") != NULL;
		w->direct = strstr(o->value, "direct") != NULL;
	}
	o = tgtconf_store_opt(t, s, "block-size");
	if (o) {
		w->block_size = (uint32_t)atoi(o->value);
		if (w->block_size != 512 && w->block_size != 4096)
			return refuse(err, errlen, "%s: target %s: block-size %s: ringtgt serves 512 or 4096",
				      loc(o, l, sizeof(l)), t->iqn, o->value);
	}
	/*
	 * tgt-admin's in-use check (O_EXCL, lsof) is skipped with
	 * allow-in-use yes: ringtgt then opens the device without O_EXCL.
	 * -f skips it too in tgt-admin, but only because the device it is
	 * about to give again is held by tgtd itself; here the old LUN is
	 * removed before, so -f keeps O_EXCL.
	 */
	o = tgtconf_store_opt(t, s, "allow-in-use");
	w->shared = o && !strcmp(o->value, "yes");
	for (size_t i = 0; i < sizeof(lu_param_directives) / sizeof(*lu_param_directives); i++) {
		o = tgtconf_store_opt(t, s, lu_param_directives[i]);
		if (!o)
			continue;
		/* flags as tgt reads them: 0 or 1 (tgt's atoi() would read
		 * "yes" as 0; refused here) */
		rc = lu_param(w, o->key, o->value, o, t->iqn, err, errlen);
		if (rc)
			return rc;
	}
	/* every mode_page line, the store's then the target's, as tgt-admin
	 * runs them: a later one for the same page wins */
	for (size_t i = 0; i < s->nopts; i++)
		if (!strcmp(s->opts[i].key, "mode_page") &&
		    (rc = lu_param(w, "mode_page", s->opts[i].value, &s->opts[i],
				   t->iqn, err, errlen)))
			return rc;
	for (size_t i = 0; i < t->nopts; i++)
		if (!strcmp(t->opts[i].key, "mode_page") &&
		    (rc = lu_param(w, "mode_page", t->opts[i].value, &t->opts[i],
				   t->iqn, err, errlen)))
			return rc;
	if (s->direct) {
		rc = direct_params(t, s, env, w, err, errlen);
		if (rc)
			return rc;
	}
	/* params: the store's lines, then the target's (tgt-admin's order) */
	for (size_t i = 0; i < s->nopts; i++)
		if (!strcmp(s->opts[i].key, "params") &&
		    (rc = lu_params_line(w, &s->opts[i], t->iqn, err, errlen)))
			return rc;
	for (size_t i = 0; i < t->nopts; i++)
		if (!strcmp(t->opts[i].key, "params") &&
		    (rc = lu_params_line(w, &t->opts[i], t->iqn, err, errlen)))
			return rc;
	return 0;
}

static int add_lun(struct tga_plan *p, const char *iqn, const struct want_lun *w)
{
	json_object *a = args_lun(iqn, w->s->lun);

	if (!a)
		return -ENOMEM;
	json_object_object_add(a, "path", json_object_new_string(w->s->path));
	if (w->null_store)
		json_object_object_add(a, "backing", json_object_new_string("null"));
	if (w->block_size)
		json_object_object_add(a, "block_size",
				       json_object_new_int((int)w->block_size));
	if (w->direct)
		json_object_object_add(a, "direct", json_object_new_boolean(true));
	if (w->shared)
		json_object_object_add(a, "shared", json_object_new_boolean(true));
	if (w->no_write_cache)
		json_object_object_add(a, "write_cache", json_object_new_boolean(false));
	ringtgt_lu_params_to_json(w->params, a);
	return act(p, "lun.add", a);
}

/*
 * The tgt parameters of @w that the live LUN @cur has otherwise, as
 * lun.update arguments (NULL: none differ). *@recreate when one cannot be
 * changed live: scsi_id or scsi_sn set on the LUN but no longer in the
 * file (there is no "unset").
 */
static json_object *param_diff(const struct want_lun *w, json_object *cur,
			       bool *recreate)
{
	json_object *want = json_object_new_object(), *diff = NULL;

	if (!want)
		return NULL;
	ringtgt_lu_params_to_json(w->params, want);
	json_object_object_foreach(want, k, v) {
		json_object *c = jget(cur, k);

		if (c && json_object_equal(c, v))
			continue;
		if (!diff)
			diff = json_object_new_object();
		if (diff)
			json_object_object_add(diff, k, json_object_get(v));
	}
	json_object_put(want);
	if ((jstr(cur, "scsi_id") && !ringtgt_lu_params_has(w->params, "scsi_id")) ||
	    (jstr(cur, "scsi_sn") && !ringtgt_lu_params_has(w->params, "scsi_sn")))
		*recreate = true;
	return diff;
}

/* Whether the live LUN @cur is the store of @w with the same settings. */
static bool same_store(const struct want_lun *w, json_object *cur,
		       const struct tga_env *env)
{
	const char *path = jstr(cur, "path"), *type = jstr(cur, "type");
	json_object *v;

	if (!path || !type || strcmp(type, "disk"))
		return false;
	if (w->null_store != (jstr(cur, "backing") &&
			      !strcmp(jstr(cur, "backing"), "null")))
		return false;
	if (strcmp(path, w->s->path) &&
	    !(env->same && env->same(env->ctx, path, w->s->path)))
		return false;
	v = jget(cur, "block_size");
	if (w->block_size && (!v || json_object_get_int(v) != (int)w->block_size))
		return false;
	v = jget(cur, "direct");
	if (w->direct && !(v && json_object_get_boolean(v)))
		return false;
	/* the write cache setting is made when the LUN is */
	v = jget(cur, "write_cache");
	if (v && json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v) == w->no_write_cache)
		return false;
	return true;
}

/* ACL rules compare as the daemon stores them: no /32, /128 or [ ]. */
static void rule_canon(const char *r, char *out, size_t len)
{
	size_t n;

	snprintf(out, len, "%s", r[0] == '[' ? r + 1 : r);
	n = strlen(out);
	if (r[0] == '[' && n && out[n - 1] == ']')
		out[--n] = '\0';
	if (n > 3 && !strcmp(out + n - 3, "/32") && !strchr(out, ':'))
		out[n - 3] = '\0';
	else if (n > 4 && !strcmp(out + n - 4, "/128") && strchr(out, ':'))
		out[n - 4] = '\0';
}

static bool rule_eq(const char *a, const char *b)
{
	char ca[300], cb[300];

	rule_canon(a, ca, sizeof(ca));
	rule_canon(b, cb, sizeof(cb));
	return !strcasecmp(ca, cb);
}

static bool in_json_strings(json_object *arr, const char *s, bool rule)
{
	size_t n = arr && json_object_is_type(arr, json_type_array) ?
		   json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++) {
		const char *e = json_object_get_string(json_object_array_get_idx(arr, i));

		if (e && (rule ? rule_eq(e, s) : !strcmp(e, s)))
			return true;
	}
	return false;
}

static bool account_exists(json_object *accounts, const char *name)
{
	json_object *arr = jget(accounts, "accounts");
	size_t n = arr && json_object_is_type(arr, json_type_array) ?
		   json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++) {
		const char *e = jstr(json_object_array_get_idx(arr, i), "name");

		if (e && !strcmp(e, name))
			return true;
	}
	return false;
}

/* "USER SECRET" split at the blanks (the parser checked there are two). */
static void userpass(const char *v, char *user, size_t ulen, const char **secret)
{
	size_t n = strcspn(v, " \t");

	snprintf(user, ulen, "%.*s", (int)n, v);
	*secret = v + n + strspn(v + n, " \t");
}

/*
 * The desired ACL rules: the file's initiator-address and initiator-name
 * lines, or ALL when it has neither (tgt-admin's -I ALL).
 *
 * tgt 1.0.85 (since 1.0.83, its commit 9fd4a25) admits an initiator when
 * its address matches an address rule OR its name matches a name rule
 * (usr/iscsi/iscsid.c login_start, target.c target_list_build), which is
 * what ringtgt's rules do: a target with both kinds gets both, and admits
 * whom tgt admits. With initiator-name lines alone tgt-admin binds -I ALL
 * too, which makes tgt admit everybody; ringtgt binds only the names, so
 * only those initiators get in (docs/tgt-compat.md, "ACL").
 */
static int want_rules(const struct tgtconf_target *t, const char ***rules,
		      size_t *n)
{
	static const char *all = "ALL";

	*n = 0;
	*rules = calloc(t->nopts + 1, sizeof(**rules));
	if (!*rules)
		return -ENOMEM;
	for (size_t i = 0; i < t->nopts; i++)
		if (!strcmp(t->opts[i].key, "initiator-address") ||
		    !strcmp(t->opts[i].key, "initiator-name"))
			(*rules)[(*n)++] = t->opts[i].value;
	if (*n == 0)
		(*rules)[(*n)++] = all;
	return 0;
}

/*
 * tgt-admin creates an account only when it does not exist; the account
 * is then noted in @accounts, so that a second target of the file (or
 * discovery) binds it without adding it again.
 */
static int plan_account_add(struct tga_plan *p, json_object *accounts,
			    const char *user, const char *secret)
{
	json_object *a, *arr, *e;
	int rc;

	if (account_exists(accounts, user))
		return 0;
	a = json_object_new_object();
	if (!a)
		return -ENOMEM;
	json_object_object_add(a, "name", json_object_new_string(user));
	json_object_object_add(a, "secret", json_object_new_string(secret));
	rc = act(p, "account.add", a);
	arr = jget(accounts, "accounts");
	if (!rc && arr) {
		e = json_object_new_object();
		if (!e)
			return -ENOMEM;
		json_object_object_add(e, "name", json_object_new_string(user));
		json_object_array_add(arr, e);
	}
	return rc;
}

static int plan_accounts(struct tga_plan *p, const struct tgtconf_target *t,
			 json_object *cur, json_object *accounts)
{
	const struct tgtconf_opt *out = tgtconf_target_opt(t, "outgoinguser");
	json_object *inc = jget(cur, "incoming_accounts");
	const char *cur_out = jstr(cur, "outgoing_account");
	char user[256];
	const char *secret;
	json_object *a;
	int rc = 0;

	for (size_t i = 0; i < t->nopts && !rc; i++) {
		bool outgoing = !strcmp(t->opts[i].key, "outgoinguser");

		if (!outgoing && strcmp(t->opts[i].key, "incominguser"))
			continue;
		userpass(t->opts[i].value, user, sizeof(user), &secret);
		rc = plan_account_add(p, accounts, user, secret);
		if (rc)
			return rc;
		if (outgoing) {
			if (cur_out && !strcmp(cur_out, user))
				continue;
			if (cur_out) {
				a = args_iqn(t->iqn);
				json_object_object_add(a, "name", json_object_new_string(cur_out));
				json_object_object_add(a, "outgoing", json_object_new_boolean(true));
				rc = act(p, "account.unbind", a);
				if (rc)
					return rc;
				cur_out = NULL;
			}
		} else if (in_json_strings(inc, user, false)) {
			continue;
		}
		a = args_iqn(t->iqn);
		if (!a)
			return -ENOMEM;
		json_object_object_add(a, "name", json_object_new_string(user));
		if (outgoing)
			json_object_object_add(a, "outgoing", json_object_new_boolean(true));
		rc = act(p, "account.bind", a);
	}
	/* bindings the file no longer has */
	for (size_t i = 0; !rc && inc && i < json_object_array_length(inc); i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(inc, i));
		bool keep = false;

		for (size_t j = 0; j < t->nopts && !keep; j++)
			if (!strcmp(t->opts[j].key, "incominguser")) {
				userpass(t->opts[j].value, user, sizeof(user), &secret);
				keep = !strcmp(user, name);
			}
		if (keep)
			continue;
		a = args_iqn(t->iqn);
		json_object_object_add(a, "name", json_object_new_string(name));
		rc = act(p, "account.unbind", a);
	}
	if (!rc && cur_out && !out) {
		a = args_iqn(t->iqn);
		json_object_object_add(a, "name", json_object_new_string(cur_out));
		json_object_object_add(a, "outgoing", json_object_new_boolean(true));
		rc = act(p, "account.unbind", a);
	}
	return rc;
}

static int plan_acls(struct tga_plan *p, const char *iqn, const char **rules,
		     size_t nrules, json_object *cur)
{
	json_object *acls = jget(cur, "acls"), *a;
	int rc = 0;

	for (size_t i = 0; i < nrules && !rc; i++) {
		if (in_json_strings(acls, rules[i], true))
			continue;
		a = args_iqn(iqn);
		if (!a)
			return -ENOMEM;
		json_object_object_add(a, "rule", json_object_new_string(rules[i]));
		rc = act(p, "acl.add", a);
	}
	for (size_t i = 0; !rc && acls && i < json_object_array_length(acls); i++) {
		const char *r = json_object_get_string(json_object_array_get_idx(acls, i));
		bool keep = false;

		for (size_t j = 0; j < nrules && !keep; j++)
			keep = rule_eq(r, rules[j]);
		if (keep)
			continue;
		a = args_iqn(iqn);
		if (!a)
			return -ENOMEM;
		json_object_object_add(a, "rule", json_object_new_string(r));
		rc = act(p, "acl.remove", a);
	}
	return rc;
}

/*
 * The target's iSCSI parameters as the file gives them: set what differs
 * from what the target has (@cur NULL: a new target), and put back to
 * the default what the file no longer gives (tgt re-creates the target).
 * For the logins after it: sessions already up keep what they agreed.
 */
static int plan_params(struct tga_plan *p, const struct tgtconf_target *t,
		       json_object *cur)
{
	json_object *have = jget(cur, "params");
	int rc = 0;

	for (size_t i = 0; !rc && i < sizeof(iscsi_param_directives) /
					     sizeof(iscsi_param_directives[0]); i++) {
		const char *name = iscsi_param_directives[i];
		const struct tgtconf_opt *o = tgtconf_target_opt(t, name);
		const char *now = jstr(have, name);
		json_object *a;

		if (o ? now && !strcmp(now, o->value) : !now)
			continue;
		a = args_iqn(t->iqn);
		if (a) {
			json_object_object_add(a, "name", json_object_new_string(name));
			json_object_object_add(a, "value", o ?
					       json_object_new_string(o->value) : NULL);
		}
		rc = act(p, "target.set_param", a);
	}
	return rc;
}

static json_object *cur_lun(json_object *cur, unsigned lun)
{
	json_object *luns = jget(cur, "luns");
	size_t n = luns && json_object_is_type(luns, json_type_array) ?
		   json_object_array_length(luns) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *l = json_object_array_get_idx(luns, i);
		json_object *v = jget(l, "lun");

		if (v && json_object_get_int(v) == (int)lun)
			return l;
	}
	return NULL;
}

/* The LUNs of an existing target: keep, resize, update, or replace. */
static int plan_luns(struct tga_plan *p, const struct tgtconf_target *t,
		     const struct want_lun *w, json_object *cur,
		     const struct tga_env *env)
{
	json_object *luns = jget(cur, "luns"), *a;
	size_t n = luns ? json_object_array_length(luns) : 0;
	int rc = 0;

	/* LUNs the file no longer has (LUN 0, the controller, stays) */
	for (size_t i = 0; i < n && !rc; i++) {
		json_object *l = json_object_array_get_idx(luns, i);
		int lun = json_object_get_int(jget(l, "lun"));
		bool keep = lun == 0;

		for (size_t j = 0; j < t->nstores && !keep; j++)
			keep = (int)w[j].s->lun == lun && same_store(&w[j], l, env);
		if (keep)
			continue;
		a = args_lun(t->iqn, (unsigned)lun);
		if (!a)
			return -ENOMEM;
		json_object_object_add(a, "force", json_object_new_boolean(true));
		rc = act(p, "lun.remove", a);
	}
	for (size_t j = 0; j < t->nstores && !rc; j++) {
		json_object *l = cur_lun(cur, w[j].s->lun), *diff;
		bool recreate = false;
		uint64_t bytes;

		if (!l || !same_store(&w[j], l, env)) {
			rc = add_lun(p, t->iqn, &w[j]);
			continue;
		}
		diff = param_diff(&w[j], l, &recreate);
		if (recreate) {
			json_object_put(diff);
			a = args_lun(t->iqn, w[j].s->lun);
			if (!a)
				return -ENOMEM;
			json_object_object_add(a, "force", json_object_new_boolean(true));
			rc = act(p, "lun.remove", a);
			if (!rc)
				rc = add_lun(p, t->iqn, &w[j]);
			continue;
		}
		if (diff) {
			json_object_object_add(diff, "iqn", json_object_new_string(t->iqn));
			json_object_object_add(diff, "lun", json_object_new_int((int)w[j].s->lun));
			rc = act(p, "lun.update", diff);
			if (rc)
				return rc;
		}
		/*
		 * A grown (or shrunk) backing store: an online resize, the
		 * initiators get CAPACITY DATA HAS CHANGED. tgt-admin would
		 * delete the target and make it again.
		 */
		if (!w[j].null_store && env->size &&
		    !env->size(env->ctx, w[j].s->path, &bytes) &&
		    bytes != (uint64_t)json_object_get_int64(jget(l, "size"))) {
			a = args_lun(t->iqn, w[j].s->lun);
			if (!a)
				return -ENOMEM;
			if (bytes < (uint64_t)json_object_get_int64(jget(l, "size")))
				json_object_object_add(a, "force", json_object_new_boolean(true));
			rc = act(p, "lun.resize", a);
		}
	}
	return rc;
}

/* One target.set_state, printed with -p/-v as tgt-admin prints tgtadm. */
static int plan_state(struct tga_plan *p, const char *iqn, const char *state)
{
	json_object *a = args_iqn(iqn);

	if (a)
		json_object_object_add(a, "state", json_object_new_string(state));
	return act(p, "target.set_state", a);
}

int tga_plan_target(const struct tgtconf *conf, const struct tgtconf_target *t,
		    json_object *cur, json_object *accounts,
		    const struct tga_env *env, struct tga_plan *p,
		    char *err, size_t errlen)
{
	const struct tgtconf_opt *o;
	struct want_lun *w = NULL;
	const char **rules = NULL;
	const char *driver, *s;
	size_t nrules = 0;
	char l[300];
	int rc;

	memset(p, 0, sizeof(*p));
	if (err && errlen)
		err[0] = '\0';
	if (cur && json_object_get_int(jget(cur, "sessions")) > 0 && !env->force)
		return note(p, "# Target with tid %d (%s) is in use, it won't be updated.",
			    json_object_get_int(jget(cur, "tid")), t->iqn);
	o = tgtconf_target_opt(t, "driver");
	driver = o ? o->value : conf->default_driver ? conf->default_driver : "iscsi";
	if (strcmp(driver, "iscsi"))
		return refuse(err, errlen, "%s:%d: target %s: driver %s: ringtgt serves iscsi only",
			      o ? o->file : t->file, o ? o->line : t->line, t->iqn,
			      driver);
	rc = check_unsupported(t->opts, t->nopts, t->iqn, err, errlen);
	if (rc)
		return rc;
	w = calloc(t->nstores + 1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < t->nstores; i++) {
		rc = want_lun(t, &t->stores[i], env, &w[i], err, errlen);
		if (rc)
			goto out;
	}
	rc = want_rules(t, &rules, &nrules);
	if (rc)
		goto out;
	if (!cur) {
		json_object *a = args_iqn(t->iqn);

		p->adds_target = true;
		rc = note(p, "# Adding target: %s", t->iqn);
		p->nquiet = p->nnotes;
		o = tgtconf_target_opt(t, "controller_tid");
		if (a && o)
			json_object_object_add(a, "tid", json_object_new_int(atoi(o->value)));
		else if (a && env->tid > 0)
			json_object_object_add(a, "tid", json_object_new_int(env->tid));
		if (!rc)
			rc = act(p, "target.add", a);
		/* tgt gives every target LUN 0, a controller */
		a = args_lun(t->iqn, 0);
		if (a)
			json_object_object_add(a, "type", json_object_new_string("controller"));
		if (!rc)
			rc = act(p, "lun.add", a);
		/* before the LUNs: a refused value leaves nothing half made */
		if (!rc)
			rc = plan_params(p, t, NULL);
		for (size_t i = 0; i < t->nstores && !rc; i++)
			rc = add_lun(p, t->iqn, &w[i]);
	} else {
		o = tgtconf_target_opt(t, "controller_tid");
		if (o && atoi(o->value) != json_object_get_int(jget(cur, "tid"))) {
			rc = refuse(err, errlen, "%s: target %s: controller_tid %s, but it is tid %d: --delete it first",
				    loc(o, l, sizeof(l)), t->iqn, o->value,
				    json_object_get_int(jget(cur, "tid")));
			goto out;
		}
		rc = note(p, "# Updating target: %s", t->iqn);
		p->nquiet = p->nnotes;
		if (!rc)
			rc = plan_params(p, t, cur);
		if (!rc)
			rc = plan_luns(p, t, w, cur, env);
	}
	if (!rc)
		rc = plan_accounts(p, t, cur, accounts);
	/* the ACL last: nobody logs in before the LUNs and CHAP are there */
	if (!rc)
		rc = plan_acls(p, t->iqn, rules, nrules, cur);
	/*
	 * tgt-admin updates a target by making it again, and a new target is
	 * ready: an offline one comes back (Debian's ExecReload after
	 * --offline). The file has no state to keep.
	 */
	if (!rc && cur && (s = jstr(cur, "state")) && strcmp(s, "ready"))
		rc = plan_state(p, t->iqn, "ready");
out:
	free(rules);
	for (size_t i = 0; i < t->nstores; i++)
		ringtgt_lu_params_free(w[i].params);
	free(w);
	if (rc)
		tga_plan_free(p);
	return rc;
}

int tga_plan_discovery(const struct tgtconf *conf, json_object *accounts,
		       struct tga_plan *p)
{
	json_object *disc = jget(accounts, "discovery"), *a;
	const struct tgtconf_opt *o[2] = { conf->discovery_in, conf->discovery_out };
	const char *auth = jstr(disc, "auth"), *secret;
	char user[256];
	int rc = 0;

	memset(p, 0, sizeof(*p));
	for (int i = 0; i < 2 && !rc; i++) {
		bool outgoing = i == 1;
		const char *cur_out = jstr(disc, "outgoing");

		if (!o[i])
			continue;
		userpass(o[i]->value, user, sizeof(user), &secret);
		rc = plan_account_add(p, accounts, user, secret);
		if (rc)
			break;
		if (outgoing ? cur_out && !strcmp(cur_out, user) :
			       in_json_strings(jget(disc, "incoming"), user, false))
			continue;
		if (outgoing && cur_out) {
			a = json_object_new_object();
			if (!a)
				return -ENOMEM;
			json_object_object_add(a, "name", json_object_new_string(cur_out));
			json_object_object_add(a, "outgoing", json_object_new_boolean(true));
			rc = act(p, "account.unbind", a);
			if (rc)
				break;
		}
		a = json_object_new_object();
		if (!a)
			return -ENOMEM;
		json_object_object_add(a, "name", json_object_new_string(user));
		if (outgoing)
			json_object_object_add(a, "outgoing", json_object_new_boolean(true));
		rc = act(p, "account.bind", a);
	}
	/* tgt asks discovery sessions for CHAP once an account is bound */
	if (!rc && conf->discovery_in && (!auth || !strcmp(auth, "none"))) {
		a = json_object_new_object();
		if (!a)
			return -ENOMEM;
		json_object_object_add(a, "mode", json_object_new_string("chap"));
		rc = act(p, "discovery.auth", a);
	}
	if (rc)
		tga_plan_free(p);
	return rc;
}

int tga_plan_delete(const char *name, json_object *cur, bool force,
		    bool update, struct tga_plan *p)
{
	json_object *a;
	int rc;

	memset(p, 0, sizeof(*p));
	if (!cur)
		return note(p, "# Target with name %s does not exist!", name);
	if (json_object_get_int(jget(cur, "sessions")) > 0 && !force)
		return note(p, "# Target with tid %d (%s) is in use, it won't be %s.",
			    json_object_get_int(jget(cur, "tid")), name,
			    update ? "updated" : "deleted");
	rc = note(p, "# Removing target: %s", name);
	p->nquiet = p->nnotes;
	a = args_iqn(name);
	if (a && force)
		json_object_object_add(a, "force", json_object_new_boolean(true));
	if (!rc)
		rc = act(p, "target.remove", a);
	else
		json_object_put(a);
	return rc;
}

void tga_action_print(const struct tga_action *a, FILE *out)
{
	json_object *copy = NULL;

	/* never a secret on the screen */
	if (jget(a->args, "secret") && !json_object_deep_copy(a->args, &copy, NULL))
		json_object_object_add(copy, "secret", json_object_new_string("***"));
	fprintf(out, "%s %s\n", a->op, json_object_to_json_string_ext(
		copy ? copy : a->args,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(copy);
}

/* --- running ------------------------------------------------------------- */

struct run {
	struct tga_opts o;
	int fd;
	char sock[4200];
	struct tgtconf *conf;
	json_object *targets;		/* target.list */
	json_object *accounts;		/* account.list */
	bool ignore_errors;
	bool failed;
	/* run_lock()'s: the -C socket's, then control-port's when it differs */
	int lock_fd[2];
	int nlocks;
	bool conf_missing;		/* -c FILE does not exist */
	int max_tid;			/* the largest tid seen in this run */
};

static int call(struct run *r, const char *op, json_object *args,
		json_object **res)
{
	char err[1024];
	int rc;

	if (r->fd < 0) {
		r->fd = ringtgt_ctl_connect(r->sock);
		if (r->fd < 0) {
			fprintf(stderr, PROG ": cannot reach ringtgtd at %s: %s\n",
				r->sock, strerror(-r->fd));
			return r->fd;
		}
	}
	rc = ringtgt_ctl_call(r->fd, op, args, res, err, sizeof(err));
	if (rc)
		fprintf(stderr, PROG ": %s: %s\n", op, err);
	return rc;
}

static int fetch_state(struct run *r)
{
	json_object *args = json_object_new_object();
	int rc;

	json_object_put(r->targets);
	json_object_put(r->accounts);
	r->targets = r->accounts = NULL;
	rc = call(r, "target.list", NULL, &r->targets);
	if (!rc)
		rc = call(r, "account.list", args, &r->accounts);
	json_object_put(args);
	if (!rc && !json_object_is_type(r->targets, json_type_array))
		rc = -EPROTO;
	/* tgt-admin numbers a new target from the largest tid it saw */
	for (size_t i = 0; !rc && i < json_object_array_length(r->targets); i++) {
		json_object *t = json_object_array_get_idx(r->targets, i);
		int tid = json_object_get_int(jget(t, "tid"));

		if (tid > r->max_tid)
			r->max_tid = tid;
	}
	return rc;
}

static json_object *find_cur(struct run *r, const char *iqn)
{
	size_t n = json_object_array_length(r->targets);

	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(r->targets, i);
		const char *name = jstr(t, "iqn");

		if (name && !strcasecmp(name, iqn))
			return t;
	}
	return NULL;
}

static json_object *find_tid(struct run *r, int tid)
{
	size_t n = json_object_array_length(r->targets);

	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(r->targets, i);

		if (json_object_get_int(jget(t, "tid")) == tid)
			return t;
	}
	return NULL;
}

/* Prints and (unless -p) runs @p; a new target is removed on failure. */
static int run_plan(struct run *r, struct tga_plan *p, const char *iqn)
{
	int rc = 0;

	for (size_t i = 0; i < p->nnotes; i++)
		if (r->o.pretend || r->o.verbose || i >= p->nquiet)
			printf("%s\n", p->notes[i]);
	for (size_t i = 0; i < p->nacts; i++) {
		if (r->o.pretend || r->o.verbose)
			tga_action_print(&p->acts[i], stdout);
		if (r->o.pretend)
			continue;
		rc = call(r, p->acts[i].op, p->acts[i].args, NULL);
		if (rc && p->adds_target && i > 0) {
			json_object *a = args_iqn(iqn);

			json_object_object_add(a, "force", json_object_new_boolean(true));
			fprintf(stderr, PROG ": %s: removing the target again\n", iqn);
			call(r, "target.remove", a, NULL);
			json_object_put(a);
		}
		if (rc)
			break;
	}
	fflush(stdout);
	if (rc) {
		r->failed = true;
		return r->ignore_errors ? 0 : rc;
	}
	return 0;
}

static int file_size(void *ctx, const char *path, uint64_t *bytes)
{
	struct stat st;
	int fd, rc = 0;

	if (stat(path, &st))
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*bytes = (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISBLK(st.st_mode))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKGETSIZE64, bytes))
		rc = -errno;
	close(fd);
	return rc;
}

static bool file_same(void *ctx, const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/*
 * One sysfs attribute (the kernel prints the INQUIRY field and a newline);
 * "" when absent. Trailing blanks go: INQUIRY pads these fields with spaces
 * anyway. Leading blanks go only when @lead: tgt-admin's pattern keeps a
 * vendor's (one space after "Vendor identification:") and drops those of
 * the other fields (\s+).
 */
static void sysfs_attr(const char *dir, const char *name, bool lead, char *out,
		       size_t len)
{
	char path[512], buf[256];
	const char *src;
	size_t n = 0;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	/* cut to @len, as the INQUIRY field sizes cut it */
	src = buf + (lead ? strspn(buf, " ") : 0);
	n = strnlen(src, len - 1);
	memcpy(out, src, n);
	out[n] = '\0';
}

/*
 * The unit serial number as sg_inq prints it from VPD page 0x80 (SPC-4
 * §7.8.16: PAGE LENGTH bytes from byte 4): up to the first NUL, other
 * non-printable bytes as spaces; tgt-admin's pattern then drops the
 * leading blanks and keeps the trailing ones, which tgt lays out in its
 * own VPD 0x80 (right-aligned in 36 bytes, so they stay last).
 */
static void vpd80_serial(const unsigned char *pg, size_t n, char *out,
			 size_t len)
{
	size_t plen, i = 4, k = 0;

	out[0] = '\0';
	if (n <= 4 || pg[1] != 0x80)
		return;
	plen = (size_t)pg[2] << 8 | pg[3];
	if (plen > n - 4)
		plen = n - 4;
	while (i < 4 + plen && pg[i] == ' ')
		i++;
	for (; i < 4 + plen && pg[i] && k + 1 < len; i++)
		out[k++] = isprint(pg[i]) ? (char)pg[i] : ' ';
	out[k] = '\0';
}

/*
 * What sg_inq would show for a SCSI disk (tgt-admin reads it so), from
 * sysfs: the kernel keeps the standard INQUIRY fields (vendor, model, rev,
 * made printable at the scan as sg_inq makes them) and the VPD pages it
 * read. A partition answers for its disk, as sg_inq does.
 */
static int file_inquiry(void *ctx, const char *path, struct tga_inquiry *out)
{
	char dir[256], attr[300];
	unsigned char pg[260];
	struct stat st;
	size_t n;
	FILE *f;

	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return -ENODATA;
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/device",
		 major(st.st_rdev), minor(st.st_rdev));
	if (access(dir, F_OK))
		snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/../device",
			 major(st.st_rdev), minor(st.st_rdev));
	/* a SCSI device has a SCSI level (virtio-blk has a "vendor" too) */
	snprintf(attr, sizeof(attr), "%s/scsi_level", dir);
	if (access(attr, F_OK))
		return -ENODATA;
	sysfs_attr(dir, "vendor", false, out->vendor, sizeof(out->vendor));
	sysfs_attr(dir, "model", true, out->product, sizeof(out->product));
	sysfs_attr(dir, "rev", true, out->rev, sizeof(out->rev));
	if (!out->vendor[0] && !out->product[0])
		return -ENODATA;
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/vpd_pg80");
	f = fopen(dir, "re");
	if (f) {
		n = fread(pg, 1, sizeof(pg), f);
		fclose(f);
		vpd80_serial(pg, n, out->serial, sizeof(out->serial));
	}
	return 0;
}

static int update_one(struct run *r, const char *iqn, bool update)
{
	const struct tgtconf_target *t = tgtconf_find(r->conf, iqn);
	json_object *cur = find_cur(r, iqn);
	struct tga_env env = {
		.inquiry = file_inquiry, .size = file_size, .same = file_same,
		.force = r->o.force, .tid = r->max_tid + 1,
	};
	struct tga_plan p;
	char err[2048];
	int rc;

	if (!t && !cur) {
		printf("Target %s is currently not configured\n"
		       "and does not exist in the config file - can't continue!\n",
		       iqn);
		return -ENOENT;
	}
	if (!t)
		rc = tga_plan_delete(iqn, cur, r->o.force, update, &p);
	else
		rc = tga_plan_target(r->conf, t, cur, r->accounts, &env, &p,
				     err, sizeof(err));
	if (rc == -ENOMEM) {
		fprintf(stderr, PROG ": out of memory\n");
		return rc;
	}
	if (rc) {
		fprintf(stderr, PROG ": %s\n", err);
		r->failed = true;
		return r->ignore_errors ? 0 : rc;
	}
	rc = run_plan(r, &p, t ? t->iqn : iqn);
	if (!rc && p.adds_target) {
		/* tgt-admin counts the tid it gave (target.add, the first
		 * request) for the next target */
		int tid = json_object_get_int(jget(p.acts[0].args, "tid"));

		if (tid > r->max_tid)
			r->max_tid = tid;
	}
	tga_plan_free(&p);
	return rc;
}

static int load_conf(struct run *r)
{
	char err[4200];
	int rc = tgtconf_load(r->o.conf, &tgtconf_io_files, &r->conf, err,
			      sizeof(err));

	if (rc == -ENOENT && r->o.conf && access(r->o.conf, F_OK)) {
		/* tgt-admin's parse_configs() says so and dies with errno
		 * ENOENT: exit status 2 */
		fprintf(stderr, "Config file %s not found. Exiting...\n",
			r->o.conf);
		r->conf_missing = true;
		return rc;
	}
	if (rc) {
		fprintf(stderr, PROG ": %s\n", err);
		return rc;
	}
	for (size_t i = 0; i < r->conf->nwarnings; i++)
		fprintf(stderr, PROG ": %s\n", r->conf->warnings[i]);
	if (r->conf->ignore_errors)
		r->ignore_errors = true;
	if (r->conf->control_port >= 0 && !r->o.control_port)
		r->o.control_port = r->conf->control_port;
	if (r->o.conf && (r->o.verbose || r->o.pretend))
		printf("# Using %s as configuration file\n", r->o.conf);
	return 0;
}

/* tgt's -C N: the same socket tgtadm -C N talks to */
static void socket_path(struct run *r)
{
	tgtadm_socket_path(r->o.control_port, r->sock, sizeof(r->sock));
}

/*
 * One tgt-admin at a time per daemon. A run reads the daemon's state,
 * plans from it and applies the plan; two runs at once (OpenStack Cinder
 * updates several volumes in parallel) would plan from the same state
 * and race: both adding the same CHAP account, one deleting what the
 * other just made under --update ALL. tgt-admin has the same race
 * against tgtd; here each run takes an exclusive flock(2) on
 * "<socket>" TGA_LOCK_SUFFIX for its whole life (the fd closes at
 * exit), waiting at most TGA_LOCK_TIMEOUT_ENV seconds (default
 * TGA_LOCK_TIMEOUT_S) and then failing with a message naming the lock.
 * Without the socket's directory there is no daemon to protect: the run
 * goes on and fails to reach it. Who may use the socket but not create
 * files beside it (its group) locks the file read-only, once root made it.
 */
#define TGA_LOCK_SUFFIX ".tgt-admin.lock"
#define TGA_LOCK_TIMEOUT_ENV "RINGTGT_TGT_ADMIN_LOCK_TIMEOUT"
#define TGA_LOCK_TIMEOUT_S 60
#define TGA_LOCK_POLL_NS (20 * 1000 * 1000)

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) +
	       (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static int run_lock(struct run *r)
{
	const struct timespec poll = { 0, TGA_LOCK_POLL_NS };
	const char *env = getenv(TGA_LOCK_TIMEOUT_ENV);
	double timeout = env && *env ? strtod(env, NULL) : TGA_LOCK_TIMEOUT_S;
	char path[sizeof(r->sock) + sizeof(TGA_LOCK_SUFFIX)];
	struct timespec t0;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s" TGA_LOCK_SUFFIX, r->sock);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && (errno == EACCES || errno == EROFS))
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, PROG ": cannot open the lock %s: %s\n", path,
			strerror(-rc));
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			rc = -errno;
			fprintf(stderr, PROG ": cannot lock %s: %s\n", path,
				strerror(-rc));
			break;
		}
		if (seconds_since(&t0) >= timeout) {
			rc = -ETIMEDOUT;
			fprintf(stderr, PROG ": another tgt-admin is running (it holds %s); gave up waiting after %g s\n",
				path, timeout);
			break;
		}
		nanosleep(&poll, NULL);
	}
	if (rc)
		close(fd);
	else
		r->lock_fd[r->nlocks++] = fd;
	return rc;
}

/* -e: every target of the file that is not defined, then the others go. */
static int do_execute(struct run *r)
{
	int rc = 0;

	for (size_t i = 0; i < r->conf->ntargets && !rc; i++) {
		if (find_cur(r, r->conf->targets[i].iqn)) {
			if (r->o.verbose || r->o.pretend)
				printf("# Target %s already exists!\n",
				       r->conf->targets[i].iqn);
			continue;
		}
		rc = update_one(r, r->conf->targets[i].iqn, false);
		/* a later target of the file may bind the same account */
		if (!rc && !r->o.pretend)
			rc = fetch_state(r);
	}
	/* remove_targets(): targets the file does not have */
	for (size_t i = 0; !rc && i < json_object_array_length(r->targets); i++) {
		const char *iqn = jstr(json_object_array_get_idx(r->targets, i), "iqn");
		struct tga_plan p;

		if (!iqn || tgtconf_find(r->conf, iqn))
			continue;
		rc = tga_plan_delete(iqn, json_object_array_get_idx(r->targets, i),
				     r->o.force, false, &p);
		if (!rc)
			rc = run_plan(r, &p, iqn);
		tga_plan_free(&p);
	}
	return rc;
}

static int do_update(struct run *r)
{
	const char *which = r->o.update;
	int rc = 0;

	if (!strcmp(which, "help")) {
		printf(
"      --update <value>\t\tupdate all or selected targets\n"
"\t\t\t\tThe target will be updated only if it's not used\n"
"\t\t\t\t(no initiator is connected to it).\n"
"\t\t\t\tIf you want to update targets which are in use,\n"
"\t\t\t\tyou have to add \"--force\" flag.\n"
"\n"
"Example usage:\n"
"      --update help\t      - display this help\n"
"      --update ALL\t      - update all targets\n"
"      --update tid=4\t      - update target 4 (target with tid 4)\n"
"      --update iqn.2008-08.com.example:some.target - update this target\n"
"\n");
		return 0;
	}
	if (!strcmp(which, "ALL")) {
		size_t n = json_object_array_length(r->targets);
		char **names = calloc(n + r->conf->ntargets + 1, sizeof(*names));
		size_t k = 0;

		if (!names)
			return -ENOMEM;
		/* tgt-admin's combine_targets(): the daemon's, then the file's */
		for (size_t i = 0; i < n; i++) {
			const char *iqn = jstr(json_object_array_get_idx(r->targets, i), "iqn");

			if (iqn && !tgtconf_find(r->conf, iqn))
				names[k++] = strdup(iqn);
		}
		for (size_t i = 0; i < r->conf->ntargets; i++)
			names[k++] = strdup(r->conf->targets[i].iqn);
		for (size_t i = 0; i < k && !rc; i++) {
			rc = names[i] ? update_one(r, names[i], true) : -ENOMEM;
			if (!rc && !r->o.pretend)
				rc = fetch_state(r);
		}
		for (size_t i = 0; i < k; i++)
			free(names[i]);
		free(names);
		return rc;
	}
	if (!strncmp(which, "tid=", 4)) {
		json_object *t = find_tid(r, atoi(which + 4));

		if (!t) {
			printf("There is no target with tid %s, can't continue!\n",
			       which + 4);
			return -ENOENT;
		}
		return update_one(r, jstr(t, "iqn"), true);
	}
	return update_one(r, which, true);
}

static int do_delete(struct run *r)
{
	const char *which = r->o.delete_;
	struct tga_plan p;
	int rc = 0;

	if (!strcmp(which, "help")) {
		printf(
"      --delete <value>\t\tdelete all or selected targets\n"
"\t\t\t\tThe target will be deleted only if it's not used\n"
"\t\t\t\t(no initiator is connected to it).\n"
"\t\t\t\tIf you want to delete targets which are in use,\n"
"\t\t\t\tyou have to add \"--force\" flag.\n"
"\n"
"Example usage:\n"
"      --delete help\t      - display this help\n"
"      --delete ALL\t      - delete all targets\n"
"      --delete tid=4\t      - delete target 4 (target with tid 4)\n"
"      --delete iqn.2008-08.com.example:some.target - delete this target\n"
"\n");
		return 0;
	}
	if (!strcmp(which, "ALL")) {
		size_t n = json_object_array_length(r->targets);

		for (size_t i = 0; i < n && !rc; i++) {
			json_object *t = json_object_array_get_idx(r->targets, i);

			rc = tga_plan_delete(jstr(t, "iqn"), t, r->o.force, false, &p);
			if (!rc)
				rc = run_plan(r, &p, jstr(t, "iqn"));
			tga_plan_free(&p);
		}
		return rc;
	}
	if (!strncmp(which, "tid=", 4)) {
		json_object *t = find_tid(r, atoi(which + 4));

		if (!t) {
			printf("# Target with tid %s does not exist!\n", which + 4);
			return 0;
		}
		rc = tga_plan_delete(jstr(t, "iqn"), t, r->o.force, false, &p);
	} else {
		rc = tga_plan_delete(which, find_cur(r, which), r->o.force, false, &p);
	}
	if (!rc)
		rc = run_plan(r, &p, which);
	tga_plan_free(&p);
	return rc;
}

/*
 * --offline / --ready ALL|tid=N|IQN (tgt-admin's ready_offline_targets):
 * the target's state (tgtadm --mode target --op update --name state).
 */
static int do_state(struct run *r, const char *state, const char *which)
{
	struct tga_plan p = { 0 };
	int rc = 0;

	if (!strcmp(which, "help")) {
		printf(
"      --%s <value>\t\t%s all or selected targets\n"
"\n"
"Example usage:\n"
"      --%s help\t      - display this help\n"
"      --%s ALL\t      - %s all targets\n"
"      --%s tid=4\t      - %s target 4 (target with tid 4)\n"
"      --%s iqn.2008-08.com.example:some.target - %s this target\n"
"\n", state, state, state, state, state, state, state, state, state);
		return 0;
	}
	if (!strcmp(which, "ALL")) {
		size_t n = json_object_array_length(r->targets);

		for (size_t i = 0; i < n && !rc; i++)
			rc = plan_state(&p, jstr(json_object_array_get_idx(
						r->targets, i), "iqn"), state);
	} else if (!strncmp(which, "tid=", 4)) {
		json_object *t = find_tid(r, atoi(which + 4));

		if (!t) {
			/* tgt: tgtadm's "can't find the target", exit 22 */
			fprintf(stderr, PROG ": there is no target with tid %s\n",
				which + 4);
			return -ENOENT;
		}
		rc = plan_state(&p, jstr(t, "iqn"), state);
	} else {
		json_object *t = find_cur(r, which);

		if (!t) {
			printf("There is no target with name \"%s\", can't %s it!\n",
			       which, state);
			return -ENOENT;
		}
		rc = plan_state(&p, jstr(t, "iqn"), state);
	}
	if (!rc)
		rc = run_plan(r, &p, NULL);
	tga_plan_free(&p);
	return rc;
}

/* --dump: the daemon's targets as a targets.conf (tgt-admin's dump_config) */
static void do_dump(struct run *r)
{
	size_t n = json_object_array_length(r->targets);

	if (n)
		printf("default-driver iscsi\n\n");
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(r->targets, i);
		json_object *luns = jget(t, "luns"), *inc = jget(t, "incoming_accounts");
		json_object *acls = jget(t, "acls");
		const char *out = jstr(t, "outgoing_account");

		printf("<target %s>\n", jstr(t, "iqn"));
		for (size_t j = 0; luns && j < json_object_array_length(luns); j++) {
			const char *path = jstr(json_object_array_get_idx(luns, j), "path");

			if (path)
				printf("\tbacking-store %s\n", path);
		}
		for (size_t j = 0; inc && j < json_object_array_length(inc); j++)
			printf("\tincominguser %s PLEASE_CORRECT_THE_PASSWORD\n",
			       json_object_get_string(json_object_array_get_idx(inc, j)));
		if (out)
			printf("\toutgoinguser %s PLEASE_CORRECT_THE_PASSWORD\n", out);
		if (acls && !(json_object_array_length(acls) == 1 &&
			      !strcmp(json_object_get_string(json_object_array_get_idx(acls, 0)), "ALL")))
			for (size_t j = 0; j < json_object_array_length(acls); j++) {
				const char *a = json_object_get_string(json_object_array_get_idx(acls, j));

				printf("\t%s %s\n", !strncasecmp(a, "iqn.", 4) ||
				       !strncasecmp(a, "eui.", 4) || !strncasecmp(a, "naa.", 4) ?
				       "initiator-name" : "initiator-address", a);
			}
		printf("</target>\n\n");
	}
}

/*
 * -s: tgt-admin runs `tgtadm --op show --mode target`; this runs the
 * tgtadm beside this binary (ringtgtadm is tgtadm too, and the links are
 * made side by side), found through /proc/self/exe so that a tgt-admin
 * run from $PATH does not pick tgt's own tgtadm; else the one beside
 * argv[0], else $PATH's.
 */
static int do_show(struct run *r, const char *argv0)
{
	char port[16], exe[4096], path[4200];
	const char *dirs[2] = { NULL, NULL };
	char *copy = strdup(argv0);
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (!copy)
		return EXIT_FAILED;
	if (n > 0) {
		exe[n] = '\0';
		dirs[0] = dirname(exe);
	}
	if (strchr(argv0, '/'))
		dirs[1] = dirname(copy);
	snprintf(port, sizeof(port), "%d", r->o.control_port);
	fflush(stdout);
	for (size_t i = 0; i < 2; i++) {
		if (!dirs[i])
			continue;
		snprintf(path, sizeof(path), "%s/tgtadm", dirs[i]);
		if (!access(path, X_OK))
			execl(path, "tgtadm", "-C", port, "--op", "show", "--mode",
			      "target", (char *)NULL);
	}
	execlp("tgtadm", "tgtadm", "-C", port, "--op", "show", "--mode", "target",
	       (char *)NULL);
	fprintf(stderr, PROG ": cannot run tgtadm: %s\n", strerror(errno));
	free(copy);
	return EXIT_FAILED;
}

int tgt_admin_main(int argc, char **argv)
{
	struct run r = { .fd = -1 };
	bool help;
	int rc;

	rc = tga_parse_args(argc, argv, &r.o, stdout, stderr);
	if (rc >= 0)
		return rc;
	r.ignore_errors = r.o.ignore_errors;
	socket_path(&r);
	if (r.o.show)
		return do_show(&r, argv[0]);
	if (!r.o.execute && !r.o.delete_ && !r.o.update && !r.o.dump &&
	    !r.o.offline && !r.o.ready) {
		printf("No action specified.\n");
		return EXIT_OK;
	}
	if (r.o.offline || r.o.ready) {
		if (r.o.offline && r.o.ready) {
			printf("Invalid value (you can't use both ready and offline)!\n");
			return EXIT_FAILED;
		}
	}
	help = !r.o.execute && ((r.o.delete_ && !strcmp(r.o.delete_, "help")) ||
				(r.o.update && !strcmp(r.o.update, "help")) ||
				(r.o.offline && !strcmp(r.o.offline, "help")) ||
				(r.o.ready && !strcmp(r.o.ready, "help")));
	/* the file is read under the lock too: a run sees what the last made */
	if (!help) {
		rc = run_lock(&r);
		if (rc)
			goto out;
	}
	if ((r.o.execute || r.o.update) && !(r.o.update && !strcmp(r.o.update, "help"))) {
		char before[sizeof(r.sock)];

		rc = load_conf(&r);
		if (rc)
			goto out;
		memcpy(before, r.sock, sizeof(before));
		socket_path(&r);
		/* the file's control-port: that daemon's lock too */
		if (strcmp(before, r.sock)) {
			rc = run_lock(&r);
			if (rc)
				goto out;
		}
	}
	if (!help) {
		rc = fetch_state(&r);
		if (rc)
			goto out;
	}
	/* tgt-admin's add_targets(): the discovery accounts first */
	if (r.conf && (r.o.execute || (r.o.update && strcmp(r.o.update, "help")))) {
		struct tga_plan p;
		bool changed;

		rc = tga_plan_discovery(r.conf, r.accounts, &p);
		changed = !rc && p.nacts;
		if (!rc)
			rc = run_plan(&r, &p, NULL);
		tga_plan_free(&p);
		if (!rc && changed && !r.o.pretend)
			rc = fetch_state(&r);
		if (rc)
			goto out;
	}
	/* tgt-admin's order: execute, delete, update, dump */
	if (r.o.execute)
		rc = do_execute(&r);
	else if (r.o.delete_)
		rc = do_delete(&r);
	else if (r.o.update)
		rc = do_update(&r);
	else if (r.o.dump)
		do_dump(&r);
	else if (r.o.offline)
		rc = do_state(&r, "offline", r.o.offline);
	else
		rc = do_state(&r, "ready", r.o.ready);
out:
	json_object_put(r.targets);
	json_object_put(r.accounts);
	tgtconf_free(r.conf);
	if (r.fd >= 0)
		close(r.fd);
	while (r.nlocks)
		close(r.lock_fd[--r.nlocks]);
	if (rc == -ENOMEM)
		fprintf(stderr, PROG ": out of memory\n");
	if (r.conf_missing)
		return EXIT_USAGE;
	return rc || (r.failed && !r.ignore_errors) ? EXIT_FAILED : EXIT_OK;
}
