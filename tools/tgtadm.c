/*
 * tgtadm.c - tgt 1.0.85's `tgtadm` for ringtgtd, its command line: the
 * same options, modes and operations, the same checks of which options
 * each takes, the same messages and exit statuses, so scripts written for
 * tgt (OpenStack Cinder's TgtAdm helper, Debian's tgt.service) drive
 * ringtgtd unchanged. tgtadm_run.c turns a parsed request into control
 * requests, tgtadm_show.c prints tgt's layouts; docs/tgt-compat.md lists
 * every mapping and every difference.
 *
 * tgt's facts come from its usr/tgtadm.c (options, checks, messages).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tgtadm.h"
#include "tgtadm_internal.h"

/* --- the command line (tgt's usr/tgtadm.c main()) ------------------------ */

static const struct option tgtadm_longopts[] = {
	{ "debug", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "lld", required_argument, NULL, 'L' },
	{ "op", required_argument, NULL, 'o' },
	{ "mode", required_argument, NULL, 'm' },
	{ "tid", required_argument, NULL, 't' },
	{ "sid", required_argument, NULL, 's' },
	{ "cid", required_argument, NULL, 'c' },
	{ "lun", required_argument, NULL, 'l' },
	{ "name", required_argument, NULL, 'n' },
	{ "value", required_argument, NULL, 'v' },
	{ "backing-store", required_argument, NULL, 'b' },
	{ "bstype", required_argument, NULL, 'E' },
	{ "bsopts", required_argument, NULL, 'S' },
	{ "bsoflags", required_argument, NULL, 'f' },
	{ "blocksize", required_argument, NULL, 'y' },
	{ "targetname", required_argument, NULL, 'T' },
	{ "initiator-address", required_argument, NULL, 'I' },
	{ "initiator-name", required_argument, NULL, 'Q' },
	{ "user", required_argument, NULL, 'u' },
	{ "password", required_argument, NULL, 'p' },
	{ "host", required_argument, NULL, 'H' },
	{ "force", no_argument, NULL, 'F' },
	{ "params", required_argument, NULL, 'P' },
	{ "bus", required_argument, NULL, 'B' },
	{ "device-type", required_argument, NULL, 'Y' },
	{ "outgoing", no_argument, NULL, 'O' },
	{ "control-port", required_argument, NULL, 'C' },
	{ NULL, 0, NULL, 0 },
};

/*
 * tgt's short options, letter for letter: -F and -O take a value there
 * (their long forms do not), so `-F` alone is a usage error as in tgt.
 * The leading ':' only makes getopt report a missing value as ':'.
 */
static const char tgtadm_shortopts[] =
	":dhVL:o:m:t:s:c:l:n:v:b:E:f:y:T:I:Q:u:p:H:F:P:B:Y:O:C:S:";

static void tgtadm_usage(FILE *out)
{
	fprintf(out,
"Linux SCSI Target administration utility, version %s (ringtgt)\n\n"
"Usage: " PROG " [OPTION]\n"
"--lld <driver> --mode target --op new --tid <id> --targetname <name>\n"
"\tadd a new target with <id> and <name>. <id> must not be zero.\n"
"--lld <driver> --mode target --op delete [--force] --tid <id>\n"
"\tdelete the specific target with <id>.\n"
"\tWith force option, the specific target is deleted\n"
"\teven if there is an activity.\n"
"--lld <driver> --mode target --op show\n"
"\tshow all the targets.\n"
"--lld <driver> --mode target --op bind --tid <id> --initiator-address <address>\n"
"--lld <driver> --mode target --op bind --tid <id> --initiator-name <name>\n"
"\tenable the target to accept the specific initiators.\n"
"--lld <driver> --mode target --op unbind --tid <id> --initiator-address <address>\n"
"--lld <driver> --mode target --op unbind --tid <id> --initiator-name <name>\n"
"\tdisable the specific permitted initiators.\n"
"--lld <driver> --mode logicalunit --op new --tid <id> --lun <lun>\n"
"  --backing-store <path> --bstype <type> --bsoflags <options>\n"
"\tadd a new logical unit with <lun> to the specific\n"
"\ttarget with <id>. The logical unit is offered\n"
"\tto the initiators. <path> must be block device files\n"
"\t(including LVM and RAID devices) or regular files.\n"
"\tbstype option is optional.\n"
"\tbsoflags supported options are sync and direct\n"
"\t(sync:direct for both).\n"
"--lld <driver> --mode logicalunit --op update --tid <id> --lun <lun>\n"
"  --params <name>=<value>[,<name>=<value>...]\n"
"\tchange the parameters of a logical unit (scsi_id, scsi_sn,\n"
"\tvendor_id, product_id, product_rev, readonly, removable, ...).\n"
"--lld <driver> --mode logicalunit --op delete --tid <id> --lun <lun>\n"
"\tdelete the specific logical unit with <lun> that\n"
"\tthe target with <id> has.\n"
"--lld <driver> --mode account --op new --user <name> --password <pass>\n"
"\tadd a new account with <name> and <pass>.\n"
"--lld <driver> --mode account --op delete --user <name>\n"
"\tdelete the specific account having <name>.\n"
"--lld <driver> --mode account --op bind --tid <id> --user <name> [--outgoing]\n"
"\tadd the specific account having <name> to\n"
"\tthe specific target with <id>.\n"
"\t<user> could be <IncomingUser> or <OutgoingUser>.\n"
"\tIf you use --outgoing option, the account will\n"
"\tbe added as an outgoing account.\n"
"--lld <driver> --mode account --op unbind --tid <id> --user <name> [--outgoing]\n"
"\tdelete the specific account having <name> from specific\n"
"\ttarget. The --outgoing option must be added if you\n"
"\tdelete an outgoing account.\n"
"--lld <driver> --mode sys --op update --name State --value offline|ready\n"
"\trefuse new connections (offline) or serve them again (ready).\n"
"--lld <driver> --mode sys --op delete\n"
"\tstop the daemon when it has no targets left.\n"
"--control-port <port> use control port <port>\n"
"--help\n"
"\tdisplay this help and exit\n\n"
"See docs/tgt-compat.md for what ringtgtd does differently.\n",
		RINGTGT_VERSION);
}

/* tgt's usage(1): a hint, status EINVAL. */
static int tgtadm_usage_error(FILE *err)
{
	fprintf(err, "Try `" PROG " --help' for more information.\n");
	return TGTADM_EXIT_INVAL;
}

/*
 * tgt's str_to_int(): strtoull with base 0; nothing parsed or
 * ULLONG_MAX ("-1") is EINVAL, a value the field cannot hold ERANGE.
 * Trailing characters are accepted, as tgt accepts them.
 */
int tgtadm_strtou(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	v = strtoull(s, &end, 0);
	if (v == ULLONG_MAX || end == s)
		return EINVAL;
	if (v > max)
		return ERANGE;
	*out = v;
	return 0;
}

/* tgt's str_to_int() into an int field: a value above INT_MAX wraps
 * negative there and fails its ">= 0" check: ERANGE. */
static int tgtadm_int_arg(int ch, const char *arg, uint64_t max,
			  uint64_t *out, FILE *err)
{
	int rc = tgtadm_strtou(arg, max, out);

	if (rc)
		fprintf(err, "-%c argument value '%s' %s\n", ch, arg,
			rc == ERANGE ? "out of range" : "invalid");
	return rc;
}

static int tgtadm_str_to_mode(const char *s)
{
	static const struct { const char *a, *b; int mode; } modes[] = {
		{ "system", "sys", TGTADM_MODE_SYSTEM },
		{ "target", "tgt", TGTADM_MODE_TARGET },
		{ "logicalunit", "lu", TGTADM_MODE_DEVICE },
		{ "portal", "pt", TGTADM_MODE_PORTAL },
		{ "session", "sess", TGTADM_MODE_SESSION },
		{ "connection", "conn", TGTADM_MODE_CONNECTION },
		{ "account", NULL, TGTADM_MODE_ACCOUNT },
		{ "lld", NULL, TGTADM_MODE_LLD },
	};

	for (size_t i = 0; i < ARRAY_LEN(modes); i++)
		if (!strcmp(s, modes[i].a) || (modes[i].b && !strcmp(s, modes[i].b)))
			return modes[i].mode;
	return -1;
}

static int tgtadm_str_to_op(const char *s)
{
	static const char *const ops[] = {
		[TGTADM_OP_NEW] = "new", [TGTADM_OP_DELETE] = "delete",
		[TGTADM_OP_SHOW] = "show", [TGTADM_OP_BIND] = "bind",
		[TGTADM_OP_UNBIND] = "unbind", [TGTADM_OP_UPDATE] = "update",
		[TGTADM_OP_STATS] = "stat", [TGTADM_OP_START] = "start",
		[TGTADM_OP_STOP] = "stop",
	};

	for (size_t i = 0; i < ARRAY_LEN(ops); i++)
		if (!strcmp(s, ops[i]))
			return (int)i;
	return -1;
}

static int tgtadm_str_to_dev_type(const char *s)
{
	static const struct { const char *name; int type; } types[] = {
		{ "disk", TGTADM_DEV_DISK }, { "tape", TGTADM_DEV_TAPE },
		{ "cd", TGTADM_DEV_CD }, { "changer", TGTADM_DEV_CHANGER },
		{ "osd", TGTADM_DEV_OSD }, { "ssc", TGTADM_DEV_TAPE },
		{ "pt", TGTADM_DEV_PT },
	};

	for (size_t i = 0; i < ARRAY_LEN(types); i++)
		if (!strcmp(s, types[i].name))
			return types[i].type;
	return -1;
}

/*
 * tgt's verify_mode_params(): the first option given that is not in
 * @allowed (nor -d), or 0. A second pass over argv, as tgt makes it.
 */
static int tgtadm_first_disallowed(int argc, char **argv, const char *allowed)
{
	int ch, bad = 0;

	optind = 0;
	opterr = 0;
	while (!bad && (ch = getopt_long(argc, argv, tgtadm_shortopts,
					 tgtadm_longopts, NULL)) >= 0)
		if (ch != ':' && ch != '?' && !strchr(allowed, ch) && ch != 'd')
			bad = ch;
	return bad;
}

/* One row per mode and operation: the options tgt allows there. */
struct tgtadm_rule {
	int mode, op;
	const char *allowed;		/* NULL: anything */
	const char *what;		/* tgt's message: "<what>'-X'<tail>" */
	const char *tail;		/* NULL: " is not allowed/supported" */
};

static const struct tgtadm_rule tgtadm_rules[] = {
	{ TGTADM_MODE_SYSTEM, TGTADM_OP_UPDATE, "LmonvC",
	  "system mode: option ", NULL },
	{ TGTADM_MODE_SYSTEM, TGTADM_OP_SHOW, NULL, NULL, NULL },
	{ TGTADM_MODE_SYSTEM, TGTADM_OP_DELETE, NULL, NULL, NULL },
	{ TGTADM_MODE_SYSTEM, TGTADM_OP_STATS, NULL, NULL, NULL },
	{ TGTADM_MODE_TARGET, TGTADM_OP_NEW, "LmotTC",
	  "target mode: option ", NULL },
	{ TGTADM_MODE_TARGET, TGTADM_OP_DELETE, "LmotCF",
	  "target mode: option ", NULL },
	{ TGTADM_MODE_TARGET, TGTADM_OP_SHOW, "LmotC",
	  "target mode: option ", NULL },
	{ TGTADM_MODE_TARGET, TGTADM_OP_STATS, "LmotC",
	  "target mode: option ", NULL },
	{ TGTADM_MODE_TARGET, TGTADM_OP_BIND, "LmotIQBHC",
	  "target mode: option ", NULL },
	{ TGTADM_MODE_TARGET, TGTADM_OP_UNBIND, "LmotIQBHC",
	  "target mode: option ", NULL },
	{ TGTADM_MODE_TARGET, TGTADM_OP_UPDATE, "LmotnvC",
	  "target mode: option ", NULL },
	{ TGTADM_MODE_ACCOUNT, TGTADM_OP_NEW, "LmoupfC",
	  "account mode: option ", NULL },
	{ TGTADM_MODE_ACCOUNT, TGTADM_OP_SHOW, "LmoC",
	  "account mode: option ", NULL },
	{ TGTADM_MODE_ACCOUNT, TGTADM_OP_DELETE, "LmouC",
	  "account mode: option ", NULL },
	{ TGTADM_MODE_ACCOUNT, TGTADM_OP_BIND, "LmotuOC",
	  "account mode: option ", NULL },
	{ TGTADM_MODE_ACCOUNT, TGTADM_OP_UNBIND, "LmotuOC",
	  "account mode: option ", NULL },
	{ TGTADM_MODE_DEVICE, TGTADM_OP_NEW, "LmofytlbEYCS",
	  "logicalunit mode: option ", NULL },
	{ TGTADM_MODE_DEVICE, TGTADM_OP_DELETE, "LmotlC",
	  "logicalunit mode: option ", NULL },
	{ TGTADM_MODE_DEVICE, TGTADM_OP_STATS, "LmotlC",
	  "logicalunit mode: option ", NULL },
	{ TGTADM_MODE_DEVICE, TGTADM_OP_UPDATE, "LmofytlPC",
	  "option ", " not supported in logicalunit mode" },
	{ TGTADM_MODE_PORTAL, TGTADM_OP_NEW, "LmoCP",
	  "portal mode: option ", NULL },
	{ TGTADM_MODE_PORTAL, TGTADM_OP_DELETE, "LmoCP",
	  "portal mode: option ", NULL },
	{ TGTADM_MODE_PORTAL, TGTADM_OP_SHOW, "LmoC",
	  "option ", " not supported in portal mode" },
	{ TGTADM_MODE_LLD, TGTADM_OP_START, "LmoC",
	  "lld mode: option ", NULL },
	{ TGTADM_MODE_LLD, TGTADM_OP_STOP, "LmoC",
	  "lld mode: option ", NULL },
	{ TGTADM_MODE_LLD, TGTADM_OP_SHOW, "LmoC",
	  "lld mode: option ", NULL },
};

static const char *const tgtadm_mode_words[] = {
	[TGTADM_MODE_SYSTEM] = "system", [TGTADM_MODE_TARGET] = "target",
	[TGTADM_MODE_DEVICE] = "logicalunit", [TGTADM_MODE_PORTAL] = "portal",
	[TGTADM_MODE_ACCOUNT] = "account",
};

__attribute__((format(printf, 2, 3)))
static int tgtadm_fail(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fprintf(err, PROG ": ");
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	return TGTADM_EXIT_INVAL;
}

/* The checks tgt makes after parsing, in its order; -1 when all pass. */
static int tgtadm_check(int argc, char **argv, struct tgtadm_req *r, FILE *err)
{
	const struct tgtadm_rule *rule = NULL;
	int bad;

	if (r->mode == TGTADM_MODE_TARGET && r->tid <= 0 &&
	    r->op != TGTADM_OP_SHOW)
		return tgtadm_fail(err, r->tid == 0 ? "'tid' cannot be 0" :
				   "'tid' option is necessary");
	if (r->mode == TGTADM_MODE_DEVICE) {
		if (r->tid <= 0)
			return tgtadm_fail(err, r->tid == 0 ?
					   "'tid' must not be 0" :
					   "'tid' option is necessary");
		if (r->lun == UINT64_MAX)
			return tgtadm_fail(err, "'lun' option is necessary");
	}
	for (size_t i = 0; i < ARRAY_LEN(tgtadm_rules); i++)
		if (tgtadm_rules[i].mode == r->mode && tgtadm_rules[i].op == r->op)
			rule = &tgtadm_rules[i];
	if (!rule && r->mode == TGTADM_MODE_LLD) {
		fprintf(err, PROG ": option %d not supported in lld mode\n", r->op);
		return TGTADM_EXIT_INVAL;
	}
	if (!rule && r->mode != TGTADM_MODE_SESSION &&
	    r->mode != TGTADM_MODE_CONNECTION)
		return tgtadm_fail(err, "operation %s not supported in %s mode",
				   r->op_name, tgtadm_mode_words[r->mode]);
	if (rule && rule->allowed &&
	    (bad = tgtadm_first_disallowed(argc, argv, rule->allowed))) {
		fprintf(err, PROG ": %s'-%c'%s\n", rule->what, bad,
			rule->tail ? rule->tail : " is not allowed/supported");
		return TGTADM_EXIT_INVAL;
	}
	if (!rule)
		return -1;
	switch (r->mode * 16 + r->op) {
	case TGTADM_MODE_SYSTEM * 16 + TGTADM_OP_UPDATE:
	case TGTADM_MODE_TARGET * 16 + TGTADM_OP_UPDATE:
		if (!r->name || !r->value)
			return tgtadm_fail(err, "update operation requires 'name' "
					   "and 'value' options");
		break;
	case TGTADM_MODE_TARGET * 16 + TGTADM_OP_NEW:
		if (!r->targetname)
			return tgtadm_fail(err, "creating new target requires a "
					   "name, use --targetname");
		break;
	case TGTADM_MODE_TARGET * 16 + TGTADM_OP_BIND:
	case TGTADM_MODE_TARGET * 16 + TGTADM_OP_UNBIND:
		if (!r->address && !r->iqnname && !r->hostno)
			/* sic: tgt's message lacks a space */
			return tgtadm_fail(err, "%s operation requires initiator-"
					   "address, initiator-nameor bus",
					   r->op_name);
		break;
	case TGTADM_MODE_ACCOUNT * 16 + TGTADM_OP_NEW:
		if (!r->user || !r->password)
			return tgtadm_fail(err, "'user' and 'password' options "
					   "are required");
		break;
	case TGTADM_MODE_ACCOUNT * 16 + TGTADM_OP_BIND:
	case TGTADM_MODE_ACCOUNT * 16 + TGTADM_OP_UNBIND:
		if (!r->user)
			return tgtadm_fail(err, "'user' option is necessary");
		break;
	case TGTADM_MODE_DEVICE * 16 + TGTADM_OP_NEW:
		if (!r->path && r->dev_type != TGTADM_DEV_CD &&
		    r->dev_type != TGTADM_DEV_TAPE && r->dev_type != TGTADM_DEV_DISK)
			return tgtadm_fail(err, "'backing-store' option is necessary");
		break;
	case TGTADM_MODE_PORTAL * 16 + TGTADM_OP_NEW:
	case TGTADM_MODE_PORTAL * 16 + TGTADM_OP_DELETE:
		if (!r->portal_params)
			return tgtadm_fail(err, "you must specify --param "
					   "portal=<portal>");
		break;
	default:
		break;
	}
	return -1;
}

int tgtadm_parse(int argc, char **argv, struct tgtadm_req *r, FILE *out,
		 FILE *err)
{
	uint64_t v;
	int ch;

	memset(r, 0, sizeof(*r));
	r->op = r->mode = r->tid = -1;
	r->lun = UINT64_MAX;
	r->dev_type = TGTADM_DEV_DISK;
	optind = 0;	/* glibc: start afresh (tests parse many lines) */
	opterr = 0;	/* the messages below name the tool "tgtadm" */
	while ((ch = getopt_long(argc, argv, tgtadm_shortopts, tgtadm_longopts,
				 NULL)) >= 0) {
		switch (ch) {
		case 'L':
			r->lld = optarg;
			break;
		case 'o':
			r->op = tgtadm_str_to_op(optarg);
			r->op_name = optarg;
			if (r->op < 0) {
				fprintf(err, PROG ": unknown operation: %s\n", optarg);
				return 1;
			}
			break;
		case 'm':
			r->mode = tgtadm_str_to_mode(optarg);
			if (r->mode < 0) {
				fprintf(err, PROG ": unknown mode: %s\n", optarg);
				return 1;
			}
			break;
		case 't':
			if (tgtadm_int_arg(ch, optarg, INT_MAX, &v, err))
				return tgtadm_usage_error(err);
			r->tid = (int)v;
			break;
		case 's':
			if (tgtadm_int_arg(ch, optarg, UINT64_MAX, &v, err))
				return tgtadm_usage_error(err);
			r->sid = v;
			break;
		case 'c':
			if (tgtadm_int_arg(ch, optarg, UINT32_MAX, &v, err))
				return tgtadm_usage_error(err);
			r->cid = (uint32_t)v;
			break;
		case 'l':
			if (tgtadm_int_arg(ch, optarg, UINT64_MAX, &v, err))
				return tgtadm_usage_error(err);
			r->lun = v;
			break;
		case 'H':
			if (tgtadm_int_arg(ch, optarg, INT_MAX, &v, err))
				return tgtadm_usage_error(err);
			r->hostno = (uint32_t)v;
			break;
		case 'C':
			if (tgtadm_int_arg(ch, optarg, SHRT_MAX, &v, err))
				return tgtadm_usage_error(err);
			r->control_port = (int)v;
			break;
		case 'P':
			/* as tgt: --params names a portal in portal mode only
			 * when --mode came first */
			if (r->mode == TGTADM_MODE_PORTAL)
				r->portal_params = optarg;
			else
				r->params = optarg;
			break;
		case 'n': r->name = optarg; break;
		case 'v': r->value = optarg; break;
		case 'b': r->path = optarg; break;
		case 'T': r->targetname = optarg; break;
		case 'I': r->address = optarg; break;
		case 'Q': r->iqnname = optarg; break;
		case 'u': r->user = optarg; break;
		case 'p': r->password = optarg; break;
		case 'f': r->bsoflags = optarg; break;
		case 'y': r->blocksize = optarg; break;
		case 'E': r->bstype = optarg; break;
		case 'S': r->bsopts = optarg; break;
		case 'F': r->force = true; break;
		case 'O': r->outgoing = true; break;
		case 'd': r->debug = true; break;
		case 'B':
			/* a SCSI host by bus: kernel LLDs only */
			fprintf(err, PROG ": can't find bus: %s\n", optarg);
			return TGTADM_EXIT_INVAL;
		case 'Y': {
			int t = tgtadm_str_to_dev_type(optarg);

			if (t < 0) {
				fprintf(err, PROG ": unknown target type: %s\n",
					optarg);
				return TGTADM_EXIT_INVAL;
			}
			r->dev_type = (enum tgtadm_dev_type)t;
			break;
		}
		case 'V':
			fprintf(out, "%s\n", RINGTGT_VERSION);
			return 0;
		case 'h':
			tgtadm_usage(out);
			return 0;
		case ':':
			/* glibc's words, as tgt (opterr on) prints them */
			if (argv[optind - 1][0] == '-' && argv[optind - 1][1] == '-')
				fprintf(err, PROG ": option '%s' requires an "
					"argument\n", argv[optind - 1]);
			else
				fprintf(err, PROG ": option requires an argument "
					"-- '%c'\n", optopt);
			return tgtadm_usage_error(err);
		default:
			/*
			 * An unknown letter (inside "-dZ" optind stays on that
			 * word or before it, so the word cannot tell; glibc's
			 * optopt is a plain char, ':' and ';' never options)
			 */
			if (optopt && optopt < 256 &&
			    (optopt == ':' || optopt == ';' ||
			     !strchr(tgtadm_shortopts + 1, optopt)))
				fprintf(err, PROG ": invalid option -- '%c'\n",
					(unsigned char)optopt);
			else if (optopt)
				fprintf(err, PROG ": option '%s' doesn't allow an "
					"argument\n", argv[optind - 1]);
			else
				fprintf(err, PROG ": unrecognized option '%s'\n",
					argv[optind - 1]);
			return tgtadm_usage_error(err);
		}
	}
	if (optind < argc) {
		fprintf(err, PROG ": unrecognized option '%s'\n", argv[optind]);
		return tgtadm_usage_error(err);
	}
	if (r->op < 0)
		return tgtadm_fail(err, "specify the operation type");
	if (r->mode < 0)
		return tgtadm_fail(err, "specify the mode");
	return tgtadm_check(argc, argv, r, err);
}
