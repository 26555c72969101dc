/*
 * tgtadm.c - tgt 1.0.85's `tgtadm` for ringtgtd: the same options,
 * modes and operations, the same checks of which options each takes, the
 * same messages and exit statuses, the same `--op show` layouts, so
 * scripts written for tgt (OpenStack Cinder's TgtAdm helper, Debian's
 * tgt.service) drive ringtgtd unchanged. Each tgt request becomes one or
 * more control requests (docs/control-protocol.md); what ringtgtd cannot
 * do is refused with tgt's own message for it, never ignored.
 * docs/tgt-compat.md lists every mapping and every difference.
 *
 * tgt's facts come from its usr/tgtadm.c (options, checks, messages),
 * usr/mgmt.c and usr/target.c (what the daemon answers, the show layout).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ringtgt/ctl.h"
#include "tgtadm.h"

#define PROG "tgtadm"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* tgt's status for a usage error and for every refusal by the daemon */
#define TGTADM_EXIT_INVAL 22
/* tgt's status when no daemon answers (its write() after a failed connect) */
#define TGTADM_EXIT_NOTCONN 107

/* tgt's usr/tgtadm_error.h, and the words usr/tgtadm.c prints for each */
enum tgtadm_err {
	TGTADM_SUCCESS, TGTADM_UNKNOWN_ERR, TGTADM_NOMEM, TGTADM_NO_DRIVER,
	TGTADM_NO_TARGET, TGTADM_NO_LUN, TGTADM_NO_SESSION,
	TGTADM_NO_CONNECTION, TGTADM_NO_BINDING, TGTADM_TARGET_EXIST,
	TGTADM_LUN_EXIST, TGTADM_BINDING_EXIST, TGTADM_ACL_EXIST,
	TGTADM_ACL_NOEXIST, TGTADM_USER_EXIST, TGTADM_NO_USER,
	TGTADM_TOO_MANY_USER, TGTADM_INVALID_REQUEST, TGTADM_OUTACCOUNT_EXIST,
	TGTADM_TARGET_ACTIVE, TGTADM_LUN_ACTIVE, TGTADM_DRIVER_ACTIVE,
	TGTADM_UNSUPPORTED_OPERATION, TGTADM_UNKNOWN_PARAM,
	TGTADM_PREVENT_REMOVAL,
};

static const char *const tgtadm_errmsg[] = {
	[TGTADM_SUCCESS] = "success",
	[TGTADM_UNKNOWN_ERR] = "unknown error",
	[TGTADM_NOMEM] = "out of memory",
	[TGTADM_NO_DRIVER] = "can't find the driver",
	[TGTADM_NO_TARGET] = "can't find the target",
	[TGTADM_NO_LUN] = "can't find the logical unit",
	[TGTADM_NO_SESSION] = "can't find the session",
	[TGTADM_NO_CONNECTION] = "can't find the connection",
	[TGTADM_NO_BINDING] = "can't find the binding",
	[TGTADM_TARGET_EXIST] = "this target already exists",
	[TGTADM_LUN_EXIST] = "this logical unit number already exists",
	[TGTADM_BINDING_EXIST] = "this binding already exists",
	[TGTADM_ACL_EXIST] = "this access control rule already exists",
	[TGTADM_ACL_NOEXIST] = "this access control rule does not exist",
	[TGTADM_USER_EXIST] = "this account already exists",
	[TGTADM_NO_USER] = "can't find the account",
	[TGTADM_TOO_MANY_USER] = "too many accounts",
	[TGTADM_INVALID_REQUEST] = "invalid request",
	[TGTADM_OUTACCOUNT_EXIST] = "this target already has an outgoing account",
	[TGTADM_TARGET_ACTIVE] = "this target is still active",
	[TGTADM_LUN_ACTIVE] = "this logical unit is still active",
	[TGTADM_DRIVER_ACTIVE] = "this driver is busy",
	[TGTADM_UNSUPPORTED_OPERATION] = "this operation isn't supported",
	[TGTADM_UNKNOWN_PARAM] = "unknown parameter",
	[TGTADM_PREVENT_REMOVAL] = "this device has Prevent Removal set",
};

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
static int tgtadm_strtou(const char *s, uint64_t max, uint64_t *out)
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
			if (optopt && argv[optind - 1][1] != '-')
				fprintf(err, PROG ": invalid option -- '%c'\n", optopt);
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

/* --- show layouts (tgt's usr/target.c and usr/iscsi/) ---------------------- */

static const char *tgtadm_jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static int64_t tgtadm_jint(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	return json_object_get_int64(v);
}

static bool tgtadm_jbool(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && v &&
	       json_object_get_boolean(v);
}

static size_t tgtadm_jlen(json_object *arr)
{
	return arr && json_object_is_type(arr, json_type_array) ?
		       json_object_array_length(arr) : 0;
}

static json_object *tgtadm_jarr(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o)
		json_object_object_get_ex(o, key, &v);
	return v;
}

/*
 * tgt's print_disksize(): its own rounding of sectors to "MB" (about
 * 10^6 bytes), kept as it is so sizes read the same in both.
 */
uint64_t tgtadm_disk_mb(uint64_t bytes)
{
	uint64_t s = bytes / 512;

	return (s - (s / 625 - 974)) / 1950;
}

/* "Label: value", the line ending without a trailing space. */
static void tgtadm_field(FILE *out, const char *indent, const char *label,
			 const char *value)
{
	fprintf(out, "%s%s:%s%s\n", indent, label, value && *value ? " " : "",
		value ? value : "");
}

static const char *tgtadm_yes(bool v)
{
	return v ? "Yes" : "No";
}

/* tgt's address without the port: "127.0.0.1", "::1" (getnameinfo). */
static void tgtadm_peer_ip(const char *peer, char *buf, size_t len)
{
	const char *colon = peer ? strrchr(peer, ':') : NULL;
	size_t n = colon ? (size_t)(colon - peer) : (peer ? strlen(peer) : 0);

	if (n && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	snprintf(buf, len, "%.*s", (int)n, peer ? peer : "");
}

/* An ACL rule naming an initiator rather than addresses. */
static bool tgtadm_rule_is_name(const char *rule)
{
	return !strncasecmp(rule, "iqn.", 4) || !strncasecmp(rule, "eui.", 4) ||
	       !strncasecmp(rule, "naa.", 4);
}

/*
 * tgt's Backing store type: its name for the store the LU reads and
 * writes through: a file or block device is tgt's default "rdwr", a
 * controller (no store) "null"; stores tgt has no name for keep ours.
 */
static const char *tgtadm_bs_name(json_object *l)
{
	const char *type = tgtadm_jstr(l, "type");
	const char *b = tgtadm_jstr(l, "bstype");

	if (b)
		return b;
	if (type && strcmp(type, "disk") != 0)
		return "null";
	b = tgtadm_jstr(l, "backing");
	if (!b || !strcmp(b, "file") || !strcmp(b, "blk"))
		return "rdwr";
	return b;
}

/* tgt's open_flags_to_str(): "sync", "direct", "sync:direct" or "". */
static void tgtadm_bs_flags(json_object *l, char *buf, size_t len)
{
	const char *f = tgtadm_jstr(l, "bsoflags");

	if (f) {
		snprintf(buf, len, "%s", f);
		return;
	}
	snprintf(buf, len, "%s%s%s", tgtadm_jbool(l, "sync") ? "sync" : "",
		 tgtadm_jbool(l, "sync") && tgtadm_jbool(l, "direct") ? ":" : "",
		 tgtadm_jbool(l, "direct") ? "direct" : "");
}

static void tgtadm_show_lun(json_object *l, FILE *out)
{
	static const char t3[] = "            ";
	const char *type = tgtadm_jstr(l, "type");
	bool disk = type && !strcmp(type, "disk");
	const char *sn = tgtadm_jstr(l, "scsi_sn");
	char buf[256];

	fprintf(out, "        LUN: %" PRId64 "\n", tgtadm_jint(l, "lun"));
	tgtadm_field(out, t3, "Type", disk ? "disk" : type ? type : "");
	tgtadm_field(out, t3, "SCSI ID", tgtadm_jstr(l, "scsi_id"));
	tgtadm_field(out, t3, "SCSI SN", sn ? sn : tgtadm_jstr(l, "serial"));
	/* a controller has no blocks: tgt shows its block size as 1 */
	fprintf(out, "%sSize: %" PRIu64 " MB, Block size: %" PRId64 "\n", t3,
		tgtadm_disk_mb((uint64_t)tgtadm_jint(l, "size")),
		disk ? tgtadm_jint(l, "block_size") : 1);
	tgtadm_field(out, t3, "Online", tgtadm_yes(
		!json_object_object_get_ex(l, "online", NULL) ||
		tgtadm_jbool(l, "online")));
	tgtadm_field(out, t3, "Removable media",
		     tgtadm_yes(tgtadm_jbool(l, "removable")));
	tgtadm_field(out, t3, "Prevent removal",
		     tgtadm_yes(tgtadm_jbool(l, "prevent_removal")));
	tgtadm_field(out, t3, "Readonly", tgtadm_yes(tgtadm_jbool(l, "readonly")));
	tgtadm_field(out, t3, "SWP", tgtadm_yes(tgtadm_jbool(l, "swp")));
	tgtadm_field(out, t3, "Thin-provisioning",
		     tgtadm_yes(tgtadm_jbool(l, "thin_provisioning")));
	tgtadm_field(out, t3, "Backing store type", tgtadm_bs_name(l));
	tgtadm_field(out, t3, "Backing store path",
		     tgtadm_jstr(l, "path") ? tgtadm_jstr(l, "path") : "None");
	tgtadm_bs_flags(l, buf, sizeof(buf));
	tgtadm_field(out, t3, "Backing store flags", buf);
}

/* tgt's session info (usr/iscsi/session.c): one I_T nexus per session. */
static void tgtadm_show_nexus(json_object *s, FILE *out)
{
	const char *alias = tgtadm_jstr(s, "alias");
	const char *name = tgtadm_jstr(s, "initiator");
	char ip[80];

	tgtadm_peer_ip(tgtadm_jstr(s, "peer"), ip, sizeof(ip));
	fprintf(out, "        I_T nexus: %" PRId64 "\n", tgtadm_jint(s, "tsih"));
	fprintf(out, "            Initiator: %s alias: %s\n", name ? name : "",
		alias && *alias ? alias : "none");
	fprintf(out, "            Connection: %" PRId64 "\n", tgtadm_jint(s, "cid"));
	fprintf(out, "                IP Address: %s\n", ip);
}

void tgtadm_show_targets(json_object *targets, json_object *sessions,
			 FILE *out)
{
	for (size_t i = 0; i < tgtadm_jlen(targets); i++) {
		json_object *t = json_object_array_get_idx(targets, i);
		json_object *luns = tgtadm_jarr(t, "luns");
		json_object *in = tgtadm_jarr(t, "incoming_accounts");
		json_object *acls = tgtadm_jarr(t, "acls");
		const char *outgoing = tgtadm_jstr(t, "outgoing_account");
		int64_t tid = tgtadm_jint(t, "tid");

		fprintf(out, "Target %" PRId64 ": %s\n", tid, tgtadm_jstr(t, "iqn"));
		fprintf(out, "    System information:\n");
		fprintf(out, "        Driver: iscsi\n");
		fprintf(out, "        State: ready\n");
		fprintf(out, "    I_T nexus information:\n");
		for (size_t j = 0; j < tgtadm_jlen(sessions); j++) {
			json_object *s = json_object_array_get_idx(sessions, j);

			if (tgtadm_jstr(s, "tid") && tgtadm_jint(s, "tid") == tid)
				tgtadm_show_nexus(s, out);
		}
		fprintf(out, "    LUN information:\n");
		for (size_t j = 0; j < tgtadm_jlen(luns); j++)
			tgtadm_show_lun(json_object_array_get_idx(luns, j), out);
		fprintf(out, "    Account information:\n");
		for (size_t j = 0; j < tgtadm_jlen(in); j++)
			fprintf(out, "        %s\n", json_object_get_string(
				json_object_array_get_idx(in, j)));
		if (outgoing)
			fprintf(out, "        %s (outgoing)\n", outgoing);
		/* tgt lists address rules, then initiator-name rules */
		fprintf(out, "    ACL information:\n");
		for (int names = 0; names < 2; names++)
			for (size_t j = 0; j < tgtadm_jlen(acls); j++) {
				const char *rule = json_object_get_string(
					json_object_array_get_idx(acls, j));

				if (tgtadm_rule_is_name(rule) == (bool)names)
					fprintf(out, "        %s\n", rule);
			}
	}
}

/* --- talking to ringtgtd ------------------------------------------------ */

void tgtadm_socket_path(int control_port, char *buf, size_t len)
{
	const char *base = getenv(RINGTGT_CTL_ENV);

	if (!base || !*base)
		base = RINGTGT_CTL_DEFAULT_PATH;
	if (control_port > 0)
		snprintf(buf, len, "%s.%d", base, control_port);
	else
		snprintf(buf, len, "%s", base);
}

struct tgtadm_ctx {
	const struct tgtadm_req *r;
	char path[4096];
	int fd;
	FILE *out, *err;
};

/* What a daemon errno means for one request, in tgt's words. */
struct tgtadm_errmap {
	int err;			/* positive errno; 0 ends the list */
	enum tgtadm_err code;
};

/* tgt's refusal: "tgtadm: <message>", status EINVAL. */
static int tgtadm_refuse(struct tgtadm_ctx *c, enum tgtadm_err code,
			 const char *detail)
{
	fprintf(c->err, PROG ": %s\n", tgtadm_errmsg[code]);
	/* ringtgtd's own sentence, with -d (tgt's --debug) */
	if (c->r->debug && detail && *detail)
		fprintf(c->err, PROG ": ringtgtd: %s\n", detail);
	return TGTADM_EXIT_INVAL;
}

static int tgtadm_connect(struct tgtadm_ctx *c)
{
	if (c->fd >= 0)
		return 0;
	c->fd = ringtgt_ctl_connect(c->path);
	if (c->fd >= 0)
		return 0;
	/* tgt's words for a daemon that is not there, and its status */
	fprintf(c->err, PROG ": failed to send request hdr to tgt daemon, "
		"Transport endpoint is not connected\n");
	if (c->r->debug)
		fprintf(c->err, PROG ": %s: %s\n", c->path, strerror(-c->fd));
	return TGTADM_EXIT_NOTCONN;
}

/*
 * One control request. Returns 0 (and *res, the caller's), or the exit
 * status after printing the refusal mapped through @map (an errno not
 * there: "invalid request"). @args is consumed.
 */
static int tgtadm_call(struct tgtadm_ctx *c, const char *op, json_object *args,
		       json_object **res, const struct tgtadm_errmap *map)
{
	char msg[512] = "";
	int rc;

	if (res)
		*res = NULL;
	rc = tgtadm_connect(c);
	if (rc) {
		json_object_put(args);
		return rc;
	}
	rc = ringtgt_ctl_call(c->fd, op, args, res, msg, sizeof(msg));
	json_object_put(args);
	if (rc == 0)
		return 0;
	for (; map && map->err; map++)
		if (map->err == -rc)
			return tgtadm_refuse(c, map->code, msg);
	return tgtadm_refuse(c, TGTADM_INVALID_REQUEST, msg);
}

static json_object *tgtadm_args(void)
{
	return json_object_new_object();
}

static void tgtadm_add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/*
 * tgt addresses targets by tid, ringtgtd's protocol by name: the IQN of
 * target @tid into @iqn, and its target.list entry into *@t (caller's,
 * may be NULL). Refuses with "can't find the target".
 */
static int tgtadm_target_by_tid(struct tgtadm_ctx *c, int tid, char *iqn,
				size_t len, json_object **t)
{
	json_object *all = NULL;
	int rc;

	if (t)
		*t = NULL;
	rc = tgtadm_call(c, "target.list", NULL, &all, NULL);
	if (rc)
		return rc;
	rc = -1;
	for (size_t i = 0; i < tgtadm_jlen(all); i++) {
		json_object *e = json_object_array_get_idx(all, i);

		if (tgtadm_jint(e, "tid") == tid) {
			snprintf(iqn, len, "%s", tgtadm_jstr(e, "iqn"));
			if (t)
				*t = json_object_get(e);
			rc = 0;
		}
	}
	json_object_put(all);
	return rc ? tgtadm_refuse(c, TGTADM_NO_TARGET, NULL) : 0;
}

/* --- target mode --------------------------------------------------------- */

static int tgtadm_target_new(struct tgtadm_ctx *c)
{
	static const struct tgtadm_errmap map[] = {
		{ EEXIST, TGTADM_TARGET_EXIST }, { 0, 0 },
	};
	const struct tgtadm_req *r = c->r;
	json_object *args = tgtadm_args(), *lun0;
	int rc;

	tgtadm_add_str(args, "iqn", r->targetname);
	json_object_object_add(args, "tid", json_object_new_int(r->tid));
	rc = tgtadm_call(c, "target.add", args, NULL, map);
	if (rc)
		return rc;
	/* tgt gives every target a LUN 0, a storage array controller */
	lun0 = tgtadm_args();
	tgtadm_add_str(lun0, "iqn", r->targetname);
	json_object_object_add(lun0, "lun", json_object_new_int(0));
	tgtadm_add_str(lun0, "type", "controller");
	rc = tgtadm_call(c, "lun.add", lun0, NULL, NULL);
	if (rc) {
		args = tgtadm_args();
		tgtadm_add_str(args, "iqn", r->targetname);
		ringtgt_ctl_call(c->fd, "target.remove", args, NULL, NULL, 0);
		json_object_put(args);
	}
	return rc;
}

static int tgtadm_target_delete(struct tgtadm_ctx *c, const char *iqn)
{
	static const struct tgtadm_errmap map[] = {
		{ ENOENT, TGTADM_NO_TARGET }, { EBUSY, TGTADM_TARGET_ACTIVE },
		{ 0, 0 },
	};
	json_object *args = tgtadm_args();

	tgtadm_add_str(args, "iqn", iqn);
	if (c->r->force)
		json_object_object_add(args, "force", json_object_new_boolean(1));
	return tgtadm_call(c, "target.remove", args, NULL, map);
}

static int tgtadm_target_show_all(struct tgtadm_ctx *c)
{
	json_object *targets = NULL, *sessions = NULL;
	int rc;

	rc = tgtadm_call(c, "target.list", NULL, &targets, NULL);
	if (!rc)
		rc = tgtadm_call(c, "session.list", NULL, &sessions, NULL);
	if (!rc)
		tgtadm_show_targets(targets, sessions, c->out);
	json_object_put(targets);
	json_object_put(sessions);
	return rc;
}

/* --initiator-address / --initiator-name: ACL rules */
static int tgtadm_target_bind(struct tgtadm_ctx *c, const char *iqn, bool bind)
{
	static const struct tgtadm_errmap bind_map[] = {
		{ EEXIST, TGTADM_ACL_EXIST }, { ENOENT, TGTADM_NO_TARGET },
		{ 0, 0 },
	};
	static const struct tgtadm_errmap unbind_map[] = {
		{ ENOENT, TGTADM_ACL_NOEXIST }, { 0, 0 },
	};
	const char *rules[2] = { c->r->address, c->r->iqnname };
	int rc = 0;

	/* -H/--host binds a kernel LLD's SCSI host: nothing here has one */
	if (!rules[0] && !rules[1])
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION,
				     "binding SCSI hosts (--host, --bus) is for "
				     "kernel drivers");
	for (int i = 0; !rc && i < 2; i++) {
		json_object *args;

		if (!rules[i])
			continue;
		args = tgtadm_args();
		tgtadm_add_str(args, "iqn", iqn);
		tgtadm_add_str(args, "rule", rules[i]);
		rc = tgtadm_call(c, bind ? "acl.add" : "acl.remove", args, NULL,
				 bind ? bind_map : unbind_map);
	}
	return rc;
}

static int tgtadm_mode_target(struct tgtadm_ctx *c)
{
	const struct tgtadm_req *r = c->r;
	char iqn[256];
	int rc;

	if (r->op == TGTADM_OP_NEW)
		return tgtadm_target_new(c);
	if (r->op == TGTADM_OP_SHOW && r->tid < 0)
		return tgtadm_target_show_all(c);
	rc = tgtadm_target_by_tid(c, r->tid, iqn, sizeof(iqn), NULL);
	if (rc)
		return rc;
	switch (r->op) {
	case TGTADM_OP_DELETE:
		return tgtadm_target_delete(c, iqn);
	case TGTADM_OP_BIND:
	case TGTADM_OP_UNBIND:
		return tgtadm_target_bind(c, iqn, r->op == TGTADM_OP_BIND);
	default:
		/*
		 * show --tid (tgt's negotiation parameters), update (per-target
		 * state, redirects, iSCSI parameters), stat: not here
		 */
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION,
				     "per-target parameters, state and "
				     "statistics are not kept by ringtgtd");
	}
}

/* --- logicalunit mode ----------------------------------------------------- */

/* tgt's --bsoflags: "sync", "direct", "sync:direct" (any order). */
static int tgtadm_parse_oflags(const char *s, bool *sync, bool *direct)
{
	char buf[64], *save = NULL;

	*sync = *direct = false;
	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	for (char *w = strtok_r(buf, ":", &save); w; w = strtok_r(NULL, ":", &save)) {
		if (!strcmp(w, "sync"))
			*sync = true;
		else if (!strcmp(w, "direct"))
			*direct = true;
		else
			return -EINVAL;
	}
	return 0;
}

static int tgtadm_lu_new(struct tgtadm_ctx *c, const char *iqn)
{
	static const struct tgtadm_errmap map[] = {
		{ EEXIST, TGTADM_LUN_EXIST }, { 0, 0 },
	};
	const struct tgtadm_req *r = c->r;
	json_object *args;
	bool sync = false, direct = false;
	uint64_t bs = 0;

	/* what ringtgtd cannot make: tgt's answer for a bad LU request */
	if (r->dev_type != TGTADM_DEV_DISK)
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "only disk logical units (-Y disk)");
	if (r->bstype && strcmp(r->bstype, "rdwr"))
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "only the rdwr backing store type");
	if (r->bsopts)
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "no backing store takes --bsopts");
	if (r->bsoflags && (tgtadm_parse_oflags(r->bsoflags, &sync, &direct) ||
			    sync))
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "--bsoflags: only direct");
	if (r->blocksize && (tgtadm_strtou(r->blocksize, 4096, &bs) ||
			     (bs != 512 && bs != 4096)))
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "--blocksize: 512 or 4096");
	if (!r->path)
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "a disk needs --backing-store");
	args = tgtadm_args();
	tgtadm_add_str(args, "iqn", iqn);
	json_object_object_add(args, "lun", json_object_new_int64((int64_t)r->lun));
	tgtadm_add_str(args, "path", r->path);
	if (direct)
		json_object_object_add(args, "direct", json_object_new_boolean(1));
	if (bs)
		json_object_object_add(args, "block_size",
				       json_object_new_int((int)bs));
	return tgtadm_call(c, "lun.add", args, NULL, map);
}

/*
 * --op update --params k=v,...: tgt's LU parameters, all in one
 * lun.update (all or nothing), values cut to tgt's field sizes as tgt
 * cuts them. tgt's params string may end with a comma.
 */
static int tgtadm_lu_update(struct tgtadm_ctx *c, const char *iqn)
{
	static const struct tgtadm_errmap map[] = {
		{ ENOENT, TGTADM_NO_LUN }, { EOPNOTSUPP, TGTADM_UNSUPPORTED_OPERATION },
		{ 0, 0 },
	};
	const struct tgtadm_req *r = c->r;
	char *params, *save = NULL, msg[256] = "";
	json_object *args;
	int rc = 0;

	if (r->bsoflags || r->blocksize)
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION,
				     "--bsoflags and --blocksize are set when "
				     "the LU is made");
	if (!r->params)
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "nothing to update (--params k=v,...)");
	if (r->lun > 255)
		return tgtadm_refuse(c, TGTADM_NO_LUN, NULL);
	params = strdup(r->params);
	args = tgtadm_args();
	if (!params) {
		json_object_put(args);
		return tgtadm_refuse(c, TGTADM_NOMEM, NULL);
	}
	tgtadm_add_str(args, "iqn", iqn);
	json_object_object_add(args, "lun", json_object_new_int((int)r->lun));
	for (char *kv = strtok_r(params, ",", &save); !rc && kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq) {
			rc = tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
					   "--params takes name=value pairs");
			break;
		}
		*eq = '\0';
		rc = ringtgt_lu_param_add(args, kv, eq + 1, 1, msg, sizeof(msg));
		/* tgt: an unknown name is a bad request; a known one ringtgtd
		 * does not implement is an unsupported operation */
		if (rc)
			rc = tgtadm_refuse(c, rc == -EOPNOTSUPP ?
					   TGTADM_UNSUPPORTED_OPERATION :
					   TGTADM_INVALID_REQUEST, msg);
	}
	free(params);
	if (rc) {
		json_object_put(args);
		return rc;
	}
	return tgtadm_call(c, "lun.update", args, NULL, map);
}

static int tgtadm_mode_device(struct tgtadm_ctx *c)
{
	static const struct tgtadm_errmap delete_map[] = {
		{ ENOENT, TGTADM_NO_LUN }, { 0, 0 },
	};
	const struct tgtadm_req *r = c->r;
	json_object *args;
	char iqn[256];
	int rc;

	rc = tgtadm_target_by_tid(c, r->tid, iqn, sizeof(iqn), NULL);
	if (rc)
		return rc;
	switch (r->op) {
	case TGTADM_OP_NEW:
		return tgtadm_lu_new(c, iqn);
	case TGTADM_OP_DELETE:
		/* tgt: LUN 0 goes only with its target */
		if (r->lun == 0)
			return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
					     "LUN 0 is removed with its target");
		if (r->lun > 255)
			return tgtadm_refuse(c, TGTADM_NO_LUN, NULL);
		args = tgtadm_args();
		tgtadm_add_str(args, "iqn", iqn);
		json_object_object_add(args, "lun",
				       json_object_new_int((int)r->lun));
		/* tgt removes a LU while sessions are logged in */
		json_object_object_add(args, "force", json_object_new_boolean(1));
		return tgtadm_call(c, "lun.remove", args, NULL, delete_map);
	case TGTADM_OP_UPDATE:
		return tgtadm_lu_update(c, iqn);
	default:
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION,
				     "logical unit statistics are not kept");
	}
}

/* --- account mode ---------------------------------------------------------- */

static int tgtadm_account_bind(struct tgtadm_ctx *c)
{
	static const struct tgtadm_errmap map[] = {
		{ ENOENT, TGTADM_NO_USER }, { EEXIST, TGTADM_USER_EXIST },
		{ 0, 0 },
	};
	const struct tgtadm_req *r = c->r;
	bool bind = r->op == TGTADM_OP_BIND;
	json_object *t = NULL, *args;
	char iqn[256];
	int rc = 0;

	/* no --tid: discovery (tgt's global target) */
	if (r->tid >= 0) {
		rc = tgtadm_target_by_tid(c, r->tid, iqn, sizeof(iqn), &t);
		if (rc)
			return rc;
	}
	if (bind && r->outgoing && t && tgtadm_jstr(t, "outgoing_account")) {
		json_object_put(t);
		return tgtadm_refuse(c, TGTADM_OUTACCOUNT_EXIST, NULL);
	}
	json_object_put(t);
	args = tgtadm_args();
	if (r->tid >= 0)
		tgtadm_add_str(args, "iqn", iqn);
	tgtadm_add_str(args, "name", r->user);
	if (r->outgoing)
		json_object_object_add(args, "outgoing", json_object_new_boolean(1));
	return tgtadm_call(c, bind ? "account.bind" : "account.unbind", args,
			   NULL, map);
}

static int tgtadm_mode_account(struct tgtadm_ctx *c)
{
	static const struct tgtadm_errmap new_map[] = {
		{ EEXIST, TGTADM_USER_EXIST }, { 0, 0 },
	};
	static const struct tgtadm_errmap delete_map[] = {
		{ ENOENT, TGTADM_NO_USER }, { 0, 0 },
	};
	const struct tgtadm_req *r = c->r;
	json_object *args, *res = NULL, *accts;
	size_t n;
	int rc;

	switch (r->op) {
	case TGTADM_OP_NEW:
		args = tgtadm_args();
		tgtadm_add_str(args, "name", r->user);
		tgtadm_add_str(args, "secret", r->password);
		return tgtadm_call(c, "account.add", args, NULL, new_map);
	case TGTADM_OP_DELETE:
		/* tgt unbinds it from every target first */
		args = tgtadm_args();
		tgtadm_add_str(args, "name", r->user);
		json_object_object_add(args, "force", json_object_new_boolean(1));
		return tgtadm_call(c, "account.remove", args, NULL, delete_map);
	case TGTADM_OP_SHOW:
		rc = tgtadm_call(c, "account.list", NULL, &res, NULL);
		if (rc)
			return rc;
		accts = tgtadm_jarr(res, "accounts");
		n = tgtadm_jlen(accts);
		if (n)
			fprintf(c->out, "Account list:\n");
		/* tgt lists the newest first */
		while (n--)
			fprintf(c->out, "    %s\n", tgtadm_jstr(
				json_object_array_get_idx(accts, n), "name"));
		json_object_put(res);
		return 0;
	default:
		return tgtadm_account_bind(c);
	}
}

/* --- system, lld, portal, session, connection ------------------------------ */

/* The daemon has gone when its socket no longer answers (tgt waits too). */
static int tgtadm_wait_gone(struct tgtadm_ctx *c)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };

	close(c->fd);
	c->fd = -1;
	for (int i = 0; i < 600; i++) {
		int fd = ringtgt_ctl_connect(c->path);

		if (fd < 0)
			return 0;
		close(fd);
		nanosleep(&pause, NULL);
	}
	fprintf(c->err, PROG ": ringtgtd still answers on %s after 60 s\n",
		c->path);
	return TGTADM_EXIT_INVAL;
}

static int tgtadm_sys_show(struct tgtadm_ctx *c)
{
	json_object *st = NULL;
	int rc = tgtadm_call(c, "daemon.status", NULL, &st, NULL);

	if (rc)
		return rc;
	fprintf(c->out, "System:\n    State: %s\n    debug: off\n",
		tgtadm_jstr(st, "state") ? tgtadm_jstr(st, "state") : "ready");
	fprintf(c->out, "LLDs:\n    iscsi: ready\n");
	fprintf(c->out, "Backing stores:\n    rdwr (bsoflags direct)\n");
	fprintf(c->out, "Device types:\n    disk\n    controller\n");
	json_object_put(st);
	return 0;
}

static int tgtadm_mode_system(struct tgtadm_ctx *c)
{
	static const struct tgtadm_errmap shutdown_map[] = {
		{ EBUSY, TGTADM_INVALID_REQUEST }, { 0, 0 },
	};
	const struct tgtadm_req *r = c->r;
	json_object *args;
	int rc;

	switch (r->op) {
	case TGTADM_OP_UPDATE:
		if (!strcmp(r->name, "State")) {
			args = tgtadm_args();
			tgtadm_add_str(args, "state", r->value);
			return tgtadm_call(c, "daemon.set_state", args, NULL, NULL);
		}
		if (!strcmp(r->name, "debug"))
			return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION,
					     "the log level is set at start "
					     "(ringtgtd --log-level)");
		/* tgt: iSNS settings or nothing known */
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "the system parameter is State");
	case TGTADM_OP_SHOW:
		return tgtadm_sys_show(c);
	case TGTADM_OP_DELETE:
		rc = tgtadm_call(c, "daemon.shutdown", NULL, NULL, shutdown_map);
		return rc ? rc : tgtadm_wait_gone(c);
	default:
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION,
				     "statistics are not kept");
	}
}

static int tgtadm_mode_lld(struct tgtadm_ctx *c)
{
	json_object *targets = NULL;
	int rc = tgtadm_call(c, "target.list", NULL, &targets, NULL);
	size_t n = tgtadm_jlen(targets);

	if (rc)
		return rc;
	if (c->r->op == TGTADM_OP_SHOW) {
		fprintf(c->out, "LLDs:\n    iscsi: ready\n");
		for (size_t i = 0; i < n; i++) {
			json_object *t = json_object_array_get_idx(targets, i);

			fprintf(c->out, "        Target %" PRId64 ": %s\n",
				tgtadm_jint(t, "tid"), tgtadm_jstr(t, "iqn"));
		}
	} else if (c->r->op == TGTADM_OP_STOP) {
		rc = tgtadm_refuse(c, n ? TGTADM_DRIVER_ACTIVE :
				   TGTADM_UNSUPPORTED_OPERATION,
				   "the iscsi driver stops with the daemon");
	}
	/* start: the iscsi driver runs already, as tgt answers then */
	json_object_put(targets);
	return rc;
}

static int tgtadm_mode_portal(struct tgtadm_ctx *c)
{
	json_object *groups = NULL;
	int rc;

	if (c->r->op != TGTADM_OP_SHOW)
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION,
				     "portals are set at start (--portal, "
				     "the config's portal)");
	rc = tgtadm_call(c, "portal_group.list", NULL, &groups, NULL);
	if (rc)
		return rc;
	for (size_t i = 0; i < tgtadm_jlen(groups); i++) {
		json_object *g = json_object_array_get_idx(groups, i);
		json_object *p = tgtadm_jarr(g, "portals");

		for (size_t j = 0; j < tgtadm_jlen(p); j++)
			fprintf(c->out, "Portal: %s,%" PRId64 "\n",
				json_object_get_string(json_object_array_get_idx(p, j)),
				tgtadm_jint(g, "tag"));
	}
	json_object_put(groups);
	return 0;
}

/* tgt's connection list of one target (usr/iscsi/target.c) */
static int tgtadm_mode_connection(struct tgtadm_ctx *c)
{
	json_object *sessions = NULL;
	char iqn[256], ip[80];
	const char *name;
	int rc;

	rc = tgtadm_target_by_tid(c, c->r->tid, iqn, sizeof(iqn), NULL);
	if (rc)
		return rc;
	if (c->r->op != TGTADM_OP_SHOW)
		return tgtadm_refuse(c, c->r->op == TGTADM_OP_DELETE ?
				     TGTADM_UNSUPPORTED_OPERATION :
				     TGTADM_INVALID_REQUEST,
				     "closing one connection is not supported");
	rc = tgtadm_call(c, "session.list", NULL, &sessions, NULL);
	if (rc)
		return rc;
	for (size_t i = 0; i < tgtadm_jlen(sessions); i++) {
		json_object *s = json_object_array_get_idx(sessions, i);

		if (!tgtadm_jstr(s, "tid") || tgtadm_jint(s, "tid") != c->r->tid)
			continue;
		tgtadm_peer_ip(tgtadm_jstr(s, "peer"), ip, sizeof(ip));
		name = tgtadm_jstr(s, "initiator");
		fprintf(c->out, "Session: %" PRId64 "\n    Connection: %" PRId64
			"\n        Initiator: %s\n        IP Address: %s\n",
			tgtadm_jint(s, "tsih"), tgtadm_jint(s, "cid"),
			name ? name : "", ip);
	}
	json_object_put(sessions);
	return 0;
}

int tgtadm_main(int argc, char **argv)
{
	struct tgtadm_req r;
	struct tgtadm_ctx c = { .r = &r, .fd = -1, .out = stdout, .err = stderr };
	int rc;

	rc = tgtadm_parse(argc, argv, &r, stdout, stderr);
	if (rc >= 0)
		return rc;
	tgtadm_socket_path(r.control_port, c.path, sizeof(c.path));
	rc = tgtadm_connect(&c);
	if (rc)
		return rc;
	/* tgt's daemon knows the drivers iscsi and iser; iser has no RDMA */
	if (r.lld && strcmp(r.lld, "iscsi")) {
		rc = tgtadm_refuse(&c, TGTADM_NO_DRIVER, NULL);
		goto out;
	}
	switch (r.mode) {
	case TGTADM_MODE_SYSTEM:
		rc = tgtadm_mode_system(&c);
		break;
	case TGTADM_MODE_TARGET:
		rc = tgtadm_mode_target(&c);
		break;
	case TGTADM_MODE_DEVICE:
		rc = tgtadm_mode_device(&c);
		break;
	case TGTADM_MODE_ACCOUNT:
		rc = tgtadm_mode_account(&c);
		break;
	case TGTADM_MODE_LLD:
		rc = tgtadm_mode_lld(&c);
		break;
	case TGTADM_MODE_PORTAL:
		rc = tgtadm_mode_portal(&c);
		break;
	case TGTADM_MODE_CONNECTION:
		rc = tgtadm_mode_connection(&c);
		break;
	default:
		/* tgt 1.0.85 answers every session request so (usr/mgmt.c
		 * session_mgmt(): the driver's update() knows no session) */
		rc = tgtadm_refuse(&c, r.op == TGTADM_OP_STATS ?
				   TGTADM_UNSUPPORTED_OPERATION :
				   TGTADM_INVALID_REQUEST, NULL);
		break;
	}
out:
	if (c.fd >= 0)
		close(c.fd);
	return rc;
}
