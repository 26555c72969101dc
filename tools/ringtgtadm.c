/*
 * ringtgtadm - change and inspect a running ringtgtd through its control
 * socket. Each subcommand becomes one request (docs/control-protocol.md);
 * the reply is printed for people, or as JSON with --json.
 *
 * Exit status: 0 done, 1 the daemon refused or could not be reached,
 * 2 usage error.
 *
 * Invoked as tgtadm, the binary is tgt's tool instead (tgtadm.c): main()
 * picks the personality by the name it was run under.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "ringtgt/ctl.h"
#include "image.h"
#include "tgtadm.h"
#include "tgt_admin.h"

#define PROG "ringtgtadm"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2 };

struct adm {
	const char *socket;
	bool json;
	const struct cmd *cmd;
	/* Positional arguments of the subcommand. */
	char **args;
	int nargs;
	/* Subcommand options. */
	long tid;
	bool force;
	const char *path, *backing, *serial;
	uint64_t size;
	bool have_size, create, readonly, direct, buffered, shared, controller;
	long block_size;
	int write_cache;		/* -1 unset, 0 off, 1 on */
	bool preallocate;		/* image create */
	/* account / discovery options */
	const char *secret;		/* "-": one line from stdin */
	bool random, show_secrets, outgoing;
	const char *accounts[16];	/* discovery auth --account */
	int naccounts;
	const char *outgoing_name;	/* discovery auth --outgoing */
	/* lun add / lun update --param NAME=VALUE (tgt's LU parameters) */
	const char *params[16];
	int nparams;
	long group;			/* portal add --group; 0: unset */
};

struct cmd {
	const char *object, *verb;	/* verb NULL: "status" */
	const char *synopsis;
	const char *help;		/* options and details */
	const char *shortopts;
	const struct option *longopts;
	int min_args, max_args;
	int (*run)(struct adm *a);
};

/* --- output helpers ------------------------------------------------------ */

__attribute__((format(printf, 1, 2)))
static void errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	return json_object_get_int64(v);
}

static bool jbool(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && v &&
	       json_object_get_boolean(v);
}

static void print_json(json_object *o)
{
	puts(o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						JSON_C_TO_STRING_SPACED |
						JSON_C_TO_STRING_NOSLASHESCAPE)
	       : "null");
}

/* "1 GiB", "1.5 GiB", "512 bytes". */
static void fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	int u = -1;
	double d = (double)v;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%llu bytes", (unsigned long long)v);
	else if (v % (1ull << (10 * (u + 1))) == 0)
		snprintf(buf, len, "%.0f %s", d, units[u]);
	else
		snprintf(buf, len, "%.1f %s", d, units[u]);
}

/* --- talking to the daemon ------------------------------------------- */

static const char *socket_path(const struct adm *a)
{
	const char *p = a->socket;

	if (!p || !*p)
		p = getenv(RINGTGT_CTL_ENV);
	return p && *p ? p : RINGTGT_CTL_DEFAULT_PATH;
}

/* One request; prints the error and returns EXIT_REFUSED on failure. */
static int call(struct adm *a, const char *op, json_object *args,
		json_object **result)
{
	const char *path = socket_path(a);
	char err[512];
	int fd, rc;

	fd = ringtgt_ctl_connect(path);
	if (fd < 0) {
		errmsg("cannot connect to %s: %s%s", path, strerror(-fd),
		       fd == -ENOENT || fd == -ECONNREFUSED ?
		       " (is ringtgtd running?)" :
		       fd == -EACCES ? " (run as root?)" : "");
		json_object_put(args);
		return EXIT_REFUSED;
	}
	rc = ringtgt_ctl_call(fd, op, args, result, err, sizeof(err));
	close(fd);
	json_object_put(args);
	if (rc) {
		errmsg("%s", err);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/*
 * For ops that list or show: the call, and with --json its reply printed
 * as it is (then *res is NULL). Without --json, on success, *res is the
 * reply for the caller to print as text and put.
 */
static int call_show(struct adm *a, const char *op, json_object *args,
		     json_object **res)
{
	int rc = call(a, op, args, res);

	if (rc == EXIT_OK && a->json) {
		print_json(*res);
		json_object_put(*res);
		*res = NULL;
	}
	return rc;
}

/* For ops whose reply carries nothing a person needs. */
static int call_simple(struct adm *a, const char *op, json_object *args)
{
	json_object *res = NULL;
	int rc = call_show(a, op, args, &res);

	json_object_put(res);
	return rc;
}

/* Tables of lists: at most TABLE_MAXCOL columns, a cell's text at most
 * TABLE_CELL bytes. */
enum { TABLE_MAXCOL = 8, TABLE_CELL = 2048 };

/* Fills @cell with one row's texts (NULL prints as nothing), formatting
 * what needs it into @buf. */
typedef void (*table_row_fn)(json_object *row, const char **cell,
			     char buf[][TABLE_CELL]);

/*
 * @ncol columns headed @cols, a row per element of the array @rows: each
 * column as wide as its widest cell, two spaces apart, the last one not
 * padded. Two passes: widths, then rows.
 */
static void print_table(const char *const *cols, int ncol, json_object *rows,
			table_row_fn fill)
{
	size_t n = rows ? json_object_array_length(rows) : 0;
	char buf[TABLE_MAXCOL][TABLE_CELL];
	const char *cell[TABLE_MAXCOL];
	int w[TABLE_MAXCOL];

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0) {
			for (int c = 0; c < ncol; c++)
				w[c] = (int)strlen(cols[c]);
		} else {
			for (int c = 0; c < ncol; c++)
				printf("%-*s%s", c == ncol - 1 ? 0 : w[c], cols[c],
				       c == ncol - 1 ? "\n" : "  ");
		}
		for (size_t i = 0; i < n; i++) {
			fill(json_object_array_get_idx(rows, i), cell, buf);
			for (int c = 0; c < ncol; c++) {
				const char *v = cell[c] ? cell[c] : "";

				if (pass == 0) {
					if ((int)strlen(v) > w[c])
						w[c] = (int)strlen(v);
				} else {
					printf("%-*s%s", c == ncol - 1 ? 0 : w[c], v,
					       c == ncol - 1 ? "\n" : "  ");
				}
			}
		}
	}
}

/* A request's arguments: {@key: @value}, more added by the caller */
static json_object *args_str(const char *key, const char *value)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, key, json_object_new_string(value));
	return o;
}

static json_object *args_iqn(const char *iqn)
{
	return args_str("iqn", iqn);
}

/* --- target -------------------------------------------------------------- */

static int run_target_add(struct adm *a)
{
	json_object *args = args_iqn(a->args[0]), *res = NULL;
	int rc;

	if (a->tid)
		json_object_object_add(args, "tid", json_object_new_int((int)a->tid));
	rc = call_show(a, "target.add", args, &res);
	if (rc == EXIT_OK && !a->json)
		printf("Target %lld: %s\n", (long long)jint(res, "tid"),
		       jstr(res, "iqn"));
	json_object_put(res);
	return rc;
}

static int run_target_remove(struct adm *a)
{
	json_object *args = args_iqn(a->args[0]);

	if (a->force)
		json_object_object_add(args, "force", json_object_new_boolean(1));
	return call_simple(a, "target.remove", args);
}

static void print_lun(json_object *l)
{
	const char *type = jstr(l, "type"), *backing = jstr(l, "backing");
	const char *path = jstr(l, "path");
	char size[32];

	if (!type || strcmp(type, "disk") != 0) {
		printf("        LUN %lld: %s\n", (long long)jint(l, "lun"),
		       type ? type : "?");
		return;
	}
	fmt_size((uint64_t)jint(l, "size"), size, sizeof(size));
	printf("        LUN %lld: disk\n", (long long)jint(l, "lun"));
	printf("            Backing: %s%s%s\n", backing ? backing : "?",
	       path ? " " : "", path ? path : "");
	printf("            Size: %s (%lld bytes), block size %lld\n", size,
	       (long long)jint(l, "size"), (long long)jint(l, "block_size"));
	printf("            Serial: %s\n", jstr(l, "serial") ? jstr(l, "serial") : "-");
	if (jstr(l, "scsi_id"))
		printf("            SCSI ID: %s\n", jstr(l, "scsi_id"));
	printf("            Read-only: %s%s\n", jbool(l, "readonly") ? "yes" : "no",
	       jbool(l, "direct") ? ", O_DIRECT" : "");
	json_object *wc;

	if (json_object_object_get_ex(l, "write_cache", &wc) && wc)
		printf("            Write cache: %s\n",
		       jbool(l, "write_cache") ? "on" : "off");
}

static void print_session_line(json_object *s, const char *indent)
{
	printf("%s%s (isid %s, tsih %lld) from %s, digests header %s data %s\n",
	       indent, jstr(s, "initiator"), jstr(s, "isid"),
	       (long long)jint(s, "tsih"), jstr(s, "peer"),
	       jstr(s, "header_digest"), jstr(s, "data_digest"));
}

/* Names a JSON array of strings holds, comma-separated ("" when empty). */
static void join_names(json_object *arr, char *buf, size_t len)
{
	size_t n = arr && json_object_is_type(arr, json_type_array) ?
		   json_object_array_length(arr) : 0, used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 json_object_get_string(
					 json_object_array_get_idx(arr, i)));

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* The accounts bound to a target: names only, never secrets. */
static void print_target_chap(json_object *t)
{
	json_object *in = NULL;
	const char *out = jstr(t, "outgoing_account");
	const char *algs = jstr(t, "chap_algorithms");
	char names[4096];

	json_object_object_get_ex(t, "incoming_accounts", &in);
	join_names(in, names, sizeof(names));
	printf("    CHAP:\n");
	printf("        Incoming accounts: %s\n",
	       names[0] ? names : "(none: CHAP not required)");
	printf("        Outgoing account: %s\n", out ? out : "-");
	printf("        Algorithms: %s\n", algs ? algs : "-");
}

static void print_target(json_object *t, json_object *sessions)
{
	json_object *luns, *acls;
	const char *iqn = jstr(t, "iqn");
	size_t n;

	printf("Target %lld: %s\n", (long long)jint(t, "tid"), iqn);
	printf("    State: %s\n", jstr(t, "state") ? jstr(t, "state") : "ready");
	printf("    Sessions: %lld\n", (long long)jint(t, "sessions"));
	n = sessions ? json_object_array_length(sessions) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(sessions, i);
		const char *st = jstr(s, "target");

		if (st && iqn && strcmp(st, iqn) == 0)
			print_session_line(s, "        ");
	}
	printf("    LUNs:\n");
	if (json_object_object_get_ex(t, "luns", &luns) && luns) {
		n = json_object_array_length(luns);
		if (n == 0)
			printf("        (none)\n");
		for (size_t i = 0; i < n; i++)
			print_lun(json_object_array_get_idx(luns, i));
	}
	printf("    ACL:\n");
	if (json_object_object_get_ex(t, "acls", &acls) && acls) {
		n = json_object_array_length(acls);
		if (n == 0)
			printf("        (none: no initiator may log in)\n");
		for (size_t i = 0; i < n; i++)
			printf("        %s\n", json_object_get_string(
				json_object_array_get_idx(acls, i)));
	}
	print_target_chap(t);
}

/* target list / target show [IQN] */
static int run_target_list(struct adm *a)
{
	const char *want = a->nargs ? a->args[0] : NULL;
	json_object *targets = NULL, *sessions = NULL, *sel;
	size_t n;
	int rc;

	rc = call(a, "target.list", NULL, &targets);
	if (rc)
		return rc;
	if (!a->json) {
		rc = call(a, "session.list", NULL, &sessions);
		if (rc)
			goto out;
	}
	n = targets ? json_object_array_length(targets) : 0;
	sel = want ? NULL : json_object_get(targets);
	for (size_t i = 0; want && i < n; i++) {
		json_object *t = json_object_array_get_idx(targets, i);

		if (strcasecmp(jstr(t, "iqn"), want) == 0)
			sel = json_object_get(t);
	}
	if (want && !sel) {
		errmsg("no target %s", want);
		rc = EXIT_REFUSED;
		goto out;
	}
	if (a->json) {
		print_json(sel);
	} else if (want) {
		print_target(sel, sessions);
	} else if (n == 0) {
		printf("No targets.\n");
	} else {
		for (size_t i = 0; i < n; i++)
			print_target(json_object_array_get_idx(targets, i),
				     sessions);
	}
	json_object_put(sel);
out:
	json_object_put(targets);
	json_object_put(sessions);
	return rc;
}

/* --- lun ----------------------------------------------------------------- */

/* LUN numbers: decimal 0..255. */
static bool parse_lun(const char *s, long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtol(s, &end, 10);
	return !errno && !*end && *out >= 0 && *out <= 255;
}

/* {"iqn": IQN, "lun": LUN} from the command's first two arguments, the
 * LUN in @lun; NULL (the usage error said) for a bad LUN */
static json_object *args_iqn_lun(struct adm *a, long *lun)
{
	json_object *args;

	if (!parse_lun(a->args[1], lun)) {
		errmsg("bad LUN '%s' (0..255)", a->args[1]);
		return NULL;
	}
	args = args_iqn(a->args[0]);
	json_object_object_add(args, "lun", json_object_new_int((int)*lun));
	return args;
}

/*
 * The --param NAME=VALUE options into @args, typed as the protocol wants
 * (ringtgt_lu_param_add); a bad one is a usage error naming it.
 */
static int add_params(struct adm *a, json_object *args)
{
	char name[64], why[256];

	for (int i = 0; i < a->nparams; i++) {
		const char *eq = strchr(a->params[i], '=');
		size_t n = eq ? (size_t)(eq - a->params[i]) : 0;
		int rc;

		if (!eq || n == 0 || n >= sizeof(name)) {
			errmsg("bad --param '%s' (NAME=VALUE, e.g. scsi_id=vol1)",
			       a->params[i]);
			return EXIT_USAGE;
		}
		memcpy(name, a->params[i], n);
		name[n] = '\0';
		rc = ringtgt_lu_param_add(args, name, eq + 1, 0, why,
					  sizeof(why));
		if (rc) {
			errmsg("--param %s", why);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

static int run_lun_add(struct adm *a)
{
	long lun;
	json_object *args = args_iqn_lun(a, &lun);

	if (!args)
		return EXIT_USAGE;
	if (a->controller)
		json_object_object_add(args, "type",
				       json_object_new_string("controller"));
	if (a->backing)
		json_object_object_add(args, "backing",
				       json_object_new_string(a->backing));
	if (a->path)
		json_object_object_add(args, "path", json_object_new_string(a->path));
	if (a->have_size)
		json_object_object_add(args, "size",
				       json_object_new_int64((int64_t)a->size));
	if (a->create)
		json_object_object_add(args, "create", json_object_new_boolean(1));
	if (a->readonly)
		json_object_object_add(args, "readonly", json_object_new_boolean(1));
	if (a->direct)
		json_object_object_add(args, "direct", json_object_new_boolean(1));
	if (a->buffered)
		json_object_object_add(args, "buffered", json_object_new_boolean(1));
	if (a->shared)
		json_object_object_add(args, "shared", json_object_new_boolean(1));
	if (a->block_size)
		json_object_object_add(args, "block_size",
				       json_object_new_int((int)a->block_size));
	if (a->serial)
		json_object_object_add(args, "serial",
				       json_object_new_string(a->serial));
	if (a->write_cache >= 0)
		json_object_object_add(args, "write_cache",
				       json_object_new_boolean(a->write_cache));
	if (add_params(a, args) != EXIT_OK) {
		json_object_put(args);
		return EXIT_USAGE;
	}
	return call_simple(a, "lun.add", args);
}

static int run_lun_update(struct adm *a)
{
	long lun;
	json_object *args = args_iqn_lun(a, &lun);

	if (!args)
		return EXIT_USAGE;
	if (add_params(a, args) != EXIT_OK) {
		json_object_put(args);
		return EXIT_USAGE;
	}
	return call_simple(a, "lun.update", args);
}

/* image create: local, no daemon (tools/image.c) */
static int run_image_create(struct adm *a)
{
	struct image_spec s = {
		.path = a->args[0],
		.size = a->size,
		.block_size = a->block_size ? (uint32_t)a->block_size : 512,
		.preallocate = a->preallocate,
		.force = a->force,
	};
	char err[512];

	if (image_create(&s, stderr, err, sizeof(err)) < 0) {
		errmsg("%s", err);
		return EXIT_REFUSED;
	}
	if (a->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "path", json_object_new_string(s.path));
		json_object_object_add(o, "size", json_object_new_uint64(s.size));
		json_object_object_add(o, "preallocated",
				       json_object_new_boolean(s.preallocate));
		print_json(o);
		json_object_put(o);
	}
	return EXIT_OK;
}

static int run_lun_remove(struct adm *a)
{
	long lun;
	json_object *args = args_iqn_lun(a, &lun);

	if (!args)
		return EXIT_USAGE;
	if (a->force)
		json_object_object_add(args, "force", json_object_new_boolean(1));
	return call_simple(a, "lun.remove", args);
}

static int run_lun_resize(struct adm *a)
{
	json_object *args, *res = NULL;
	long lun;
	int rc;

	args = args_iqn_lun(a, &lun);
	if (!args)
		return EXIT_USAGE;
	if (a->have_size)
		json_object_object_add(args, "size",
				       json_object_new_int64((int64_t)a->size));
	if (a->force)
		json_object_object_add(args, "force", json_object_new_boolean(1));
	rc = call_show(a, "lun.resize", args, &res);
	if (rc == EXIT_OK && !a->json) {
		if (jint(res, "old_size") == jint(res, "size"))
			printf("LUN %ld: %lld bytes, unchanged\n", lun,
			       (long long)jint(res, "size"));
		else
			printf("LUN %ld: %lld -> %lld bytes\n", lun,
			       (long long)jint(res, "old_size"),
			       (long long)jint(res, "size"));
	}
	json_object_put(res);
	return rc;
}

/* --- acl, session, status ----------------------------------------------- */

static int run_acl(struct adm *a, const char *op)
{
	json_object *args = args_iqn(a->args[0]);

	json_object_object_add(args, "rule", json_object_new_string(a->args[1]));
	return call_simple(a, op, args);
}

static int run_acl_add(struct adm *a)
{
	return run_acl(a, "acl.add");
}

static int run_acl_remove(struct adm *a)
{
	return run_acl(a, "acl.remove");
}

static int run_portal_group_list(struct adm *a)
{
	json_object *res = NULL;
	size_t n;
	int rc;

	rc = call_show(a, "portal_group.list", NULL, &res);
	if (rc || a->json)
		return rc;
	n = res ? json_object_array_length(res) : 0;
	printf("%-5s  %-20s  %s\n", "TAG", "STATE", "PORTALS");
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(res, i), *p = NULL;
		size_t np;

		printf("%-5lld  %-20s  ", (long long)jint(g, "tag"),
		       jstr(g, "state"));
		json_object_object_get_ex(g, "portals", &p);
		np = p ? json_object_array_length(p) : 0;
		for (size_t j = 0; j < np; j++)
			printf("%s%s", j ? " " : "", json_object_get_string(
				json_object_array_get_idx(p, j)));
		printf("%s\n", np ? "" : "-");
	}
	json_object_put(res);
	return 0;
}

static int run_portal_group_set_state(struct adm *a)
{
	json_object *args = json_object_new_object();
	char *end;
	long tag = strtol(a->args[0], &end, 10);

	if (*end || end == a->args[0] || tag < 1 || tag > 65535) {
		errmsg("bad portal group tag '%s' (1..65535)", a->args[0]);
		json_object_put(args);
		return EXIT_USAGE;
	}
	json_object_object_add(args, "tag", json_object_new_int((int)tag));
	json_object_object_add(args, "state",
			       json_object_new_string(a->args[1]));
	return call_simple(a, "portal_group.set_state", args);
}

/* portal add ADDR [--group N]: opened at once, in group 1 by default */
static int run_portal_add(struct adm *a)
{
	json_object *args = json_object_new_object(), *res = NULL;
	int rc;

	json_object_object_add(args, "portal",
			       json_object_new_string(a->args[0]));
	if (a->group)
		json_object_object_add(args, "group",
				       json_object_new_int((int)a->group));
	rc = call_show(a, "portal.add", args, &res);
	if (rc == EXIT_OK && !a->json)
		printf("Portal %s open (portal group %lld)\n", jstr(res, "portal"),
		       (long long)jint(res, "group"));
	json_object_put(res);
	return rc;
}

static int run_portal_remove(struct adm *a)
{
	return call_simple(a, "portal.remove", args_str("portal", a->args[0]));
}

static int run_portal_list(struct adm *a)
{
	json_object *res = NULL;
	size_t n;
	int rc;

	rc = call_show(a, "portal.list", NULL, &res);
	if (rc || a->json)
		return rc;
	n = res ? json_object_array_length(res) : 0;
	printf("%-46s  %s\n", "PORTAL", "GROUP");
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(res, i);

		printf("%-46s  %lld\n", jstr(p, "portal"),
		       (long long)jint(p, "group"));
	}
	json_object_put(res);
	return 0;
}

/* session list: a row's cells */
static void session_row(json_object *s, const char **cell,
			char buf[][TABLE_CELL])
{
	if (jstr(s, "target"))
		snprintf(buf[0], TABLE_CELL, "%lld", (long long)jint(s, "tid"));
	else
		snprintf(buf[0], TABLE_CELL, "-");
	snprintf(buf[4], TABLE_CELL, "%lld", (long long)jint(s, "tsih"));
	snprintf(buf[6], TABLE_CELL, "header=%s data=%s",
		 jstr(s, "header_digest"), jstr(s, "data_digest"));
	cell[0] = buf[0];
	cell[1] = jstr(s, "target") ? jstr(s, "target") : "(discovery)";
	cell[2] = jstr(s, "initiator");
	cell[3] = jstr(s, "isid");
	cell[4] = buf[4];
	cell[5] = jstr(s, "peer");
	cell[6] = buf[6];
}

static int run_session_list(struct adm *a)
{
	static const char *const cols[] = {
		"TID", "TARGET", "INITIATOR", "ISID", "TSIH", "PEER", "DIGESTS",
	};
	json_object *res = NULL;
	int rc;

	rc = call_show(a, "session.list", NULL, &res);
	if (rc || a->json)
		return rc;
	if (!res || json_object_array_length(res) == 0)
		printf("No sessions.\n");
	else
		print_table(cols, 7, res, session_row);
	json_object_put(res);
	return EXIT_OK;
}

/* A decimal number 0..@max, else -1. */
static long arg_number(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	return errno || *end || v > max ? -1 : (long)v;
}

static int run_connection_close(struct adm *a)
{
	json_object *args = args_iqn(a->args[0]);

	json_object_object_add(args, "tsih",
		json_object_new_int((int)arg_number(a->args[1], 65535)));
	json_object_object_add(args, "cid",
		json_object_new_int((int)arg_number(a->args[2], 65535)));
	return call_simple(a, "connection.close", args);
}

static int run_daemon_set_log_level(struct adm *a)
{
	return call_simple(a, "daemon.set_log_level",
			   args_str("level", a->args[0]));
}

static int run_daemon_set_state(struct adm *a)
{
	return call_simple(a, "daemon.set_state", args_str("state", a->args[0]));
}

static int run_target_set_state(struct adm *a)
{
	json_object *args = args_iqn(a->args[0]);

	json_object_object_add(args, "state", json_object_new_string(a->args[1]));
	return call_simple(a, "target.set_state", args);
}

/* target set-param IQN NAME VALUE, target unset-param IQN NAME */
static int run_target_set_param(struct adm *a)
{
	json_object *args = args_iqn(a->args[0]);

	json_object_object_add(args, "name", json_object_new_string(a->args[1]));
	json_object_object_add(args, "value", a->nargs > 2 ?
			       json_object_new_string(a->args[2]) : NULL);
	return call_simple(a, "target.set_param", args);
}

/* target params IQN: every key with the value a login starts from */
static int run_target_params(struct adm *a)
{
	json_object *res = NULL, *all = NULL, *own = NULL;
	int rc = call_show(a, "target.params", args_iqn(a->args[0]), &res);

	if (rc || a->json)
		return rc;
	json_object_object_get_ex(res, "params", &all);
	json_object_object_get_ex(res, "overrides", &own);
	json_object_object_foreach(all, k, v)
		printf("%s=%s%s\n", k, json_object_get_string(v),
		       json_object_object_get_ex(own, k, NULL) ?
		       " (this target's)" : "");
	json_object_put(res);
	return EXIT_OK;
}

static int run_status(struct adm *a)
{
	json_object *res = NULL;
	int rc = call_show(a, "daemon.status", NULL, &res);

	if (rc)
		return rc;
	if (res) {
		double up = json_object_get_double(
			json_object_object_get(res, "uptime"));
		long s = (long)up;

		printf("ringtgtd %s, pid %lld, up %ldd %02ld:%02ld:%02ld\n",
		       jstr(res, "version"), (long long)jint(res, "pid"),
		       s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
		json_object_object_foreach(res, key, val) {
			if (!strcmp(key, "version") || !strcmp(key, "pid") ||
			    !strcmp(key, "uptime"))
				continue;
			printf("%s: %s\n", key, json_object_is_type(val, json_type_string) ?
			       json_object_get_string(val) :
			       json_object_to_json_string_ext(val,
					JSON_C_TO_STRING_PLAIN |
					JSON_C_TO_STRING_NOSLASHESCAPE));
		}
	}
	json_object_put(res);
	return EXIT_OK;
}

/* --- account, discovery ------------------------------------------------- */

/* --secret -: one line from stdin, without its line end. */
static int read_secret_line(char *buf, size_t len)
{
	size_t n;

	if (!fgets(buf, (int)len, stdin)) {
		errmsg("--secret -: no secret on standard input");
		return EXIT_USAGE;
	}
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1 && !feof(stdin)) {
		OPENSSL_cleanse(buf, len);
		errmsg("--secret -: the line is too long");
		return EXIT_USAGE;
	}
	buf[n] = '\0';
	return EXIT_OK;
}

static int run_account_add(struct adm *a)
{
	json_object *args = args_str("name", a->args[0]), *res = NULL;
	char line[1024];
	int rc;

	if (a->random) {
		json_object_object_add(args, "random", json_object_new_boolean(1));
	} else if (strcmp(a->secret, "-") == 0) {
		rc = read_secret_line(line, sizeof(line));
		if (rc) {
			json_object_put(args);
			return rc;
		}
		json_object_object_add(args, "secret", json_object_new_string(line));
		OPENSSL_cleanse(line, sizeof(line));
	} else {
		json_object_object_add(args, "secret",
				       json_object_new_string(a->secret));
	}
	rc = call(a, "account.add", args, &res);
	if (rc == EXIT_OK) {
		/* A short secret works but deserves a word (RFC 7143 §12.1.3). */
		if (jstr(res, "warning"))
			errmsg("warning: %s", jstr(res, "warning"));
		if (a->json)
			print_json(res);
		else if (jstr(res, "secret"))
			printf("%s\n", jstr(res, "secret"));
	}
	json_object_put(res);
	return rc;
}

static int run_account_remove(struct adm *a)
{
	json_object *args = args_str("name", a->args[0]);

	if (a->force)
		json_object_object_add(args, "force", json_object_new_boolean(1));
	return call_simple(a, "account.remove", args);
}

/* account list: a row's cells (the secret's only with --show-secrets) */
static void account_row(json_object *o, const char **cell,
			char buf[][TABLE_CELL])
{
	json_object *v = NULL;

	json_object_object_get_ex(o, "incoming", &v);
	join_names(v, buf[1], TABLE_CELL);
	json_object_object_get_ex(o, "outgoing", &v);
	join_names(v, buf[2], TABLE_CELL);
	cell[0] = jstr(o, "name");
	cell[1] = buf[1][0] ? buf[1] : "-";
	cell[2] = buf[2][0] ? buf[2] : "-";
	cell[3] = jstr(o, "discovery") ? jstr(o, "discovery") : "-";
	cell[4] = jstr(o, "secret");
}

static int run_account_list(struct adm *a)
{
	static const char *const cols[] = {
		"NAME", "INCOMING", "OUTGOING", "DISCOVERY", "SECRET",
	};
	json_object *args = json_object_new_object(), *res = NULL, *accs = NULL;
	json_object *disc = NULL, *v = NULL;
	char names[4096];
	int rc;

	if (a->show_secrets)
		json_object_object_add(args, "show_secrets",
				       json_object_new_boolean(1));
	rc = call_show(a, "account.list", args, &res);
	if (rc || a->json)
		return rc;
	json_object_object_get_ex(res, "accounts", &accs);
	json_object_object_get_ex(res, "discovery", &disc);
	if (!accs || json_object_array_length(accs) == 0)
		printf("No accounts.\n");
	else
		print_table(cols, a->show_secrets ? 5 : 4, accs, account_row);
	if (disc) {
		json_object_object_get_ex(disc, "incoming", &v);
		join_names(v, names, sizeof(names));
		printf("Discovery auth: %s (incoming: %s; outgoing: %s)\n",
		       jstr(disc, "auth") ? jstr(disc, "auth") : "?",
		       names[0] ? names : "-",
		       jstr(disc, "outgoing") ? jstr(disc, "outgoing") : "-");
	}
	json_object_put(res);
	return EXIT_OK;
}

static int run_account_binding(struct adm *a, const char *op)
{
	json_object *args = args_iqn(a->args[0]);

	json_object_object_add(args, "name", json_object_new_string(a->args[1]));
	if (a->outgoing)
		json_object_object_add(args, "outgoing", json_object_new_boolean(1));
	return call_simple(a, op, args);
}

static int run_account_bind(struct adm *a)
{
	return run_account_binding(a, "account.bind");
}

static int run_account_unbind(struct adm *a)
{
	return run_account_binding(a, "account.unbind");
}

/* True when the JSON array @arr holds the string @s. */
static bool jarray_has(json_object *arr, const char *s)
{
	size_t n = arr && json_object_is_type(arr, json_type_array) ?
		   json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(json_object_get_string(
			json_object_array_get_idx(arr, i)), s) == 0)
			return true;
	return false;
}

/* Binds one account to discovery (no iqn) unless it already is. */
static int discovery_bind(struct adm *a, const char *name, bool outgoing,
			  bool bound)
{
	json_object *args;

	if (bound)
		return EXIT_OK;
	args = args_str("name", name);
	if (outgoing)
		json_object_object_add(args, "outgoing", json_object_new_boolean(1));
	return call(a, "account.bind", args, NULL);
}

/* discovery auth MODE [--account NAME]... [--outgoing NAME] */
static int run_discovery_auth(struct adm *a)
{
	json_object *res = NULL, *disc = NULL, *in = NULL, *args;
	const char *cur_out;
	int rc = EXIT_OK;

	if (a->naccounts || a->outgoing_name) {
		rc = call(a, "account.list", NULL, &res);
		if (rc)
			return rc;
		json_object_object_get_ex(res, "discovery", &disc);
		json_object_object_get_ex(disc, "incoming", &in);
		cur_out = jstr(disc, "outgoing");
		for (int i = 0; rc == EXIT_OK && i < a->naccounts; i++)
			rc = discovery_bind(a, a->accounts[i], false,
					    jarray_has(in, a->accounts[i]));
		if (rc == EXIT_OK && a->outgoing_name)
			rc = discovery_bind(a, a->outgoing_name, true,
					    cur_out && !strcmp(cur_out,
							       a->outgoing_name));
		json_object_put(res);
		if (rc)
			return rc;
	}
	args = args_str("mode", a->args[0]);
	return call_simple(a, "discovery.auth", args);
}

static int run_target_chap_algs(struct adm *a)
{
	json_object *args = args_iqn(a->args[0]);

	json_object_object_add(args, "algorithms",
			       json_object_new_string(a->args[1]));
	return call_simple(a, "target.chap_algorithms", args);
}

/* --- command table ------------------------------------------------------- */

enum {
	OPT_TID = 0x100, OPT_FORCE, OPT_PATH, OPT_SIZE, OPT_CREATE,
	OPT_READONLY, OPT_DIRECT, OPT_CONTROLLER, OPT_BACKING, OPT_BLOCK_SIZE,
	OPT_SERIAL, OPT_SECRET, OPT_RANDOM, OPT_SHOW_SECRETS, OPT_OUTGOING,
	OPT_ACCOUNT, OPT_OUTGOING_NAME, OPT_BUFFERED, OPT_SHARED, OPT_PARAM,
	OPT_WRITE_CACHE, OPT_PREALLOCATE, OPT_GROUP,
};

#define COMMON_OPTS                                                        \
	{ "help", no_argument, NULL, 'h' },                                \
	{ "json", no_argument, NULL, 'j' },                                \
	{ "control-socket", required_argument, NULL, 's' }

static const struct option opts_common[] = { COMMON_OPTS, { 0 } };
static const struct option opts_target_add[] = {
	COMMON_OPTS, { "tid", required_argument, NULL, OPT_TID }, { 0 }
};
static const struct option opts_force[] = {
	COMMON_OPTS, { "force", no_argument, NULL, OPT_FORCE }, { 0 }
};
static const struct option opts_lun_add[] = {
	COMMON_OPTS,
	{ "path", required_argument, NULL, OPT_PATH },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "create", no_argument, NULL, OPT_CREATE },
	{ "readonly", no_argument, NULL, OPT_READONLY },
	{ "direct", no_argument, NULL, OPT_DIRECT },
	{ "buffered", no_argument, NULL, OPT_BUFFERED },
	{ "shared", no_argument, NULL, OPT_SHARED },
	{ "controller", no_argument, NULL, OPT_CONTROLLER },
	{ "backing", required_argument, NULL, OPT_BACKING },
	{ "block-size", required_argument, NULL, OPT_BLOCK_SIZE },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "write-cache", required_argument, NULL, OPT_WRITE_CACHE },
	{ "param", required_argument, NULL, OPT_PARAM },
	{ 0 }
};

static const struct option opts_lun_update[] = {
	COMMON_OPTS,
	{ "param", required_argument, NULL, OPT_PARAM },
	{ 0 }
};
static const struct option opts_image_create[] = {
	COMMON_OPTS,
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "preallocate", no_argument, NULL, OPT_PREALLOCATE },
	{ "block-size", required_argument, NULL, OPT_BLOCK_SIZE },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ 0 }
};

static const struct option opts_lun_resize[] = {
	COMMON_OPTS,
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ 0 }
};

static const struct option opts_account_add[] = {
	COMMON_OPTS,
	{ "secret", required_argument, NULL, OPT_SECRET },
	{ "random", no_argument, NULL, OPT_RANDOM },
	{ 0 }
};
static const struct option opts_account_list[] = {
	COMMON_OPTS, { "show-secrets", no_argument, NULL, OPT_SHOW_SECRETS }, { 0 }
};
static const struct option opts_account_bind[] = {
	COMMON_OPTS, { "outgoing", no_argument, NULL, OPT_OUTGOING }, { 0 }
};
static const struct option opts_discovery_auth[] = {
	COMMON_OPTS,
	{ "account", required_argument, NULL, OPT_ACCOUNT },
	{ "outgoing", required_argument, NULL, OPT_OUTGOING_NAME },
	{ 0 }
};

static const struct option opts_portal_add[] = {
	COMMON_OPTS, { "group", required_argument, NULL, OPT_GROUP }, { 0 }
};

static const struct cmd cmds[] = {
	{ "target", "add", "target add IQN [--tid N]",
	  "Creates a target with no LUNs and no ACL rules (nobody may log in\n"
	  "until an ACL rule is added).\n"
	  "  --tid N     target id (default: the lowest free one)\n",
	  "", opts_target_add, 1, 1, run_target_add },
	{ "target", "remove", "target remove IQN [--force]",
	  "Removes a target. Refused while initiators are logged in, unless\n"
	  "--force, which also closes their sessions.\n",
	  "", opts_force, 1, 1, run_target_remove },
	{ "target", "list", "target list",
	  "Shows every target with its LUNs, ACL rules and sessions.\n",
	  "", opts_common, 0, 0, run_target_list },
	{ "target", "show", "target show [IQN]",
	  "Shows one target (or all) with its LUNs, ACL rules, sessions and the\n"
	  "names of its CHAP accounts (never their secrets).\n",
	  "", opts_common, 0, 1, run_target_list },
	{ "target", "chap-algorithms", "target chap-algorithms IQN LIST",
	  "Sets the CHAP algorithms a target accepts, in the order of the\n"
	  "initiator's preference: LIST is any of MD5, SHA1, SHA256, SHA3-256,\n"
	  "comma-separated (default: all four).\n",
	  "", opts_common, 2, 2, run_target_chap_algs },
	{ "target", "set-state", "target set-state IQN ready|offline",
	  "Sets a target's state (tgt's per-target state). offline: logins to\n"
	  "it fail (status 0x0300, target error) and the commands of its\n"
	  "sessions end with BUSY, unexecuted. ready: served again.\n",
	  "", opts_common, 2, 2, run_target_set_state },
	{ "target", "set-param", "target set-param IQN NAME VALUE",
	  "Sets one of a target's own iSCSI parameters (tgt's per-target\n"
	  "session parameters: MaxRecvDataSegmentLength, MaxXmitDataSegmentLength,\n"
	  "HeaderDigest, DataDigest, InitialR2T, ImmediateData, FirstBurstLength,\n"
	  "MaxBurstLength, MaxOutstandingR2T, DefaultTime2Wait, ...). Logins to\n"
	  "the target after it negotiate from it; sessions already up keep what\n"
	  "they agreed. Values ringtgt cannot honour are refused.\n",
	  "", opts_common, 3, 3, run_target_set_param },
	{ "target", "unset-param", "target unset-param IQN NAME",
	  "Puts a target's iSCSI parameter back to the daemon's value.\n",
	  "", opts_common, 2, 2, run_target_set_param },
	{ "target", "params", "target params IQN",
	  "Shows every iSCSI parameter in tgt's order with the value a login to\n"
	  "the target starts from; the target's own are marked.\n",
	  "", opts_common, 1, 1, run_target_params },
	{ "lun", "add",
	  "lun add IQN LUN (--path FILE | --backing ram --size SIZE | --controller) [OPTIONS]",
	  "Adds a logical unit at LUN (0..255).\n"
	  "  --path FILE        file or block device to export\n"
	  "  --size SIZE        size in bytes or with K/M/G/T (binary); with --create,\n"
	  "                     the size of the new file; required for --backing ram\n"
	  "  --create           create FILE (sparse, with missing parent\n"
	  "                     directories) when it does not exist\n"
	  "  --readonly         export write-protected\n"
	  "  --direct           open a file with O_DIRECT (bypass the page cache;\n"
	  "                     block devices always are, unless --buffered)\n"
	  "  --buffered         a block device through the page cache, not O_DIRECT\n"
	  "  --shared           open a block device without O_EXCL, although\n"
	  "                     something else (a mount, LVM) may be using it\n"
	  "  --controller       a storage array controller LU instead of a disk\n"
	  "  --backing TYPE     file (default; block devices get the block store)\n"
	  "                     or ram\n"
	  "  --block-size N     logical block size, 512 or 4096 (default: the block\n"
	  "                     device's logical block size, 512 for files)\n"
	  "  --serial S         unit serial number (default: derived from IQN and LUN)\n"
	  "  --write-cache on|off  off: every write is on stable storage before\n"
	  "                     GOOD (Caching mode page WCE=0); on (default): until\n"
	  "                     SYNCHRONIZE CACHE or FUA it may be in a volatile cache\n"
	  "  --param NAME=VALUE one of tgt's LU parameters (repeatable): scsi_id,\n"
	  "                     scsi_sn, vendor_id, product_id, product_rev,\n"
	  "                     removable, readonly, sense_format, online,\n"
	  "                     thin_provisioning; see lun update --help\n",
	  "", opts_lun_add, 2, 2, run_lun_add },
	{ "lun", "update", "lun update IQN LUN --param NAME=VALUE...",
	  "Changes tgt's LU parameters of a live LUN (tgtadm --op update --mode\n"
	  "logicalunit --params); sessions stay. All or nothing.\n"
	  "  --param NAME=VALUE  repeatable; values as tgt writes them:\n"
	  "    scsi_id=S       VPD 0x83 as tgt derives it (1..36 characters)\n"
	  "    scsi_sn=S       unit serial, VPD 0x80 as tgt lays it out (1..36)\n"
	  "    vendor_id=S     INQUIRY vendor (at most 8 characters)\n"
	  "    product_id=S    INQUIRY product (at most 16)\n"
	  "    product_rev=S   INQUIRY revision (at most 4)\n"
	  "    removable=0|1   readonly=0|1   sense_format=0   online=1\n"
	  "    thin_provisioning=0|1 (only the value the LUN has)\n"
	  "Initiators get INQUIRY DATA HAS CHANGED (identity) or MODE PARAMETERS\n"
	  "CHANGED (readonly) on their next command. Changing scsi_id changes\n"
	  "the WWID hosts see.\n",
	  "", opts_lun_update, 2, 2, run_lun_update },
	{ "lun", "remove", "lun remove IQN LUN [--force]",
	  "Removes a LUN. Refused while the target has sessions, unless --force.\n",
	  "", opts_force, 2, 2, run_lun_remove },
	{ "lun", "resize", "lun resize IQN LUN [--size SIZE] [--force]",
	  "Changes a disk LUN's capacity while initiators stay logged in; each\n"
	  "of them gets CAPACITY DATA HAS CHANGED on its next command and reads\n"
	  "the new size (Linux: echo 1 > /sys/class/scsi_device/H:C:T:L/device/rescan).\n"
	  "  --size SIZE   the new size in bytes or with K/M/G/T (binary), a\n"
	  "                multiple of the LU's block size: a file is extended\n"
	  "                (sparse) or truncated, a RAM LUN reallocated. Without\n"
	  "                it, the size the file or block device has now is taken\n"
	  "                (after truncate, lvextend, losetup -c ...). A block\n"
	  "                device is never resized here: a SIZE other than its\n"
	  "                own is refused.\n"
	  "  --force       allow a shrink (the blocks beyond the new end are\n"
	  "                lost; refused without it, saying how many bytes)\n",
	  "", opts_lun_resize, 2, 2, run_lun_resize },
	{ "acl", "add", "acl add IQN RULE",
	  "Admits initiators to a target. RULE is ALL, an IPv4 or IPv6 address,\n"
	  "a CIDR network (10.0.0.0/8, fd00::/8) or an initiator name (iqn....).\n",
	  "", opts_common, 2, 2, run_acl_add },
	{ "acl", "remove", "acl remove IQN RULE",
	  "Removes an ACL rule (sessions already logged in stay).\n",
	  "", opts_common, 2, 2, run_acl_remove },
	{ "account", "add", "account add NAME (--secret S | --secret - | --random)",
	  "Adds a CHAP account (NAME: printable, no spaces or commas).\n"
	  "  --secret S    the secret (visible to other users in the process list;\n"
	  "                prefer --secret - or --random)\n"
	  "  --secret -    read the secret as one line from standard input\n"
	  "  --random      generate a secret of 24 characters (144 random bits) and\n"
	  "                print it, once, on standard output\n"
	  "Secrets shorter than 12 characters work but draw a warning.\n",
	  "", opts_account_add, 1, 1, run_account_add },
	{ "account", "remove", "account remove NAME [--force]",
	  "Removes an account and wipes its secret. Refused while it is bound to\n"
	  "a target or to discovery, unless --force, which unbinds it first.\n",
	  "", opts_force, 1, 1, run_account_remove },
	{ "account", "list", "account list [--show-secrets]",
	  "Lists the accounts, where they are bound, and discovery auth.\n"
	  "  --show-secrets  also print the secrets (in the table and with --json);\n"
	  "                  without it no output ever contains a secret\n",
	  "", opts_account_list, 0, 0, run_account_list },
	{ "account", "bind", "account bind IQN NAME [--outgoing]",
	  "Binds an account to a target. An incoming account lets an initiator\n"
	  "log in with CHAP; a target with any is closed to logins without CHAP.\n"
	  "  --outgoing  bind it as the target's own account for mutual CHAP\n"
	  "              (at most one per target)\n",
	  "", opts_account_bind, 2, 2, run_account_bind },
	{ "account", "unbind", "account unbind IQN NAME [--outgoing]",
	  "Unbinds an account from a target (sessions logged in stay).\n",
	  "", opts_account_bind, 2, 2, run_account_unbind },
	{ "discovery", "auth",
	  "discovery auth none|chap|mutual [--account NAME]... [--outgoing NAME]",
	  "Sets the authentication of discovery sessions (SendTargets).\n"
	  "  --account NAME   bind NAME to discovery as incoming first (repeatable)\n"
	  "  --outgoing NAME  bind NAME as discovery's outgoing account first\n"
	  "chap needs an incoming discovery account, mutual an outgoing one too.\n",
	  "", opts_discovery_auth, 1, 1, run_discovery_auth },
	{ "session", "list", "session list",
	  "Lists logged-in sessions (normal and discovery).\n",
	  "", opts_common, 0, 0, run_session_list },
	{ "connection", "close", "connection close IQN TSIH CID",
	  "Closes connection CID of the session with TSIH on target IQN (as\n"
	  "'session list' shows them; tgtadm --op delete --mode conn). Its\n"
	  "commands end as on a connection loss; a session has one connection,\n"
	  "so the session ends. The initiator may log in again.\n",
	  "", opts_common, 3, 3, run_connection_close },
	{ "portal-group", "list", "portal-group list",
	  "Lists the target portal groups: tag, ALUA state and portals.\n",
	  "", opts_common, 0, 0, run_portal_group_list },
	{ "portal-group", "set-state", "portal-group set-state TAG STATE",
	  "Sets the ALUA state of a portal group (SPC-4 §5.15). STATE is\n"
	  "active/optimized, active/non-optimized, standby or unavailable.\n"
	  "Every initiator gets ASYMMETRIC ACCESS STATE CHANGED on its next\n"
	  "command to each LU.\n",
	  "", opts_common, 2, 2, run_portal_group_set_state },
	{ "portal", "add", "portal add ADDR[:PORT] [--group N]",
	  "Opens a portal now: ADDR:PORT, [IPV6]:PORT (port 3260 if none).\n"
	  "  --group N   its target portal group (default 1; the group must be\n"
	  "              defined in the config). Not written to the config.\n"
	  "Refused when a portal listens there already, or with the bind error\n"
	  "(address in use, not an address of this host); nothing is left open.\n",
	  "", opts_portal_add, 1, 1, run_portal_add },
	{ "portal", "remove", "portal remove ADDR[:PORT]",
	  "Closes a portal: new connections to it are refused and discovery\n"
	  "(SendTargets) no longer lists it. Sessions that came in through it\n"
	  "stay logged in (as with tgt).\n",
	  "", opts_common, 1, 1, run_portal_remove },
	{ "portal", "list", "portal list",
	  "Lists the open portals and their portal groups, oldest first.\n",
	  "", opts_common, 0, 0, run_portal_list },
	{ "daemon", "set-state", "daemon set-state ready|offline",
	  "Sets the daemon's state (tgt's system State). offline: every new\n"
	  "connection is closed as soon as it is accepted (logins and discovery);\n"
	  "sessions logged in go on. ready: connections are served again.\n"
	  "'" PROG " status' shows the state.\n",
	  "", opts_common, 1, 1, run_daemon_set_state },
	{ "daemon", "set-log-level", "daemon set-log-level error|warn|info|debug",
	  "Sets the log level from now on (ringtgtd --log-level sets it at\n"
	  "start). '" PROG " status' shows it.\n",
	  "", opts_common, 1, 1, run_daemon_set_log_level },
	{ "image", "create",
	  "image create FILE --size SIZE [--preallocate] [--block-size N] [--force]",
	  "Creates an image file for a file LUN, here (no daemon needed), mode\n"
	  "0600. The image is a flat file: no header, block N at byte N * block\n"
	  "size; the LUN's block size is set when it is added (lun add --block-size).\n"
	  "  --size SIZE     bytes or with K/M/G/T (binary), a multiple of the block size\n"
	  "  --preallocate   allocate every block now (fallocate; a line of progress\n"
	  "                  per percent on stderr); refused where the file system\n"
	  "                  cannot. Default: sparse, nothing allocated or written\n"
	  "  --block-size N  512 (default) or 4096: the size must be a multiple\n"
	  "  --force         replace FILE if it exists (default: refused)\n"
	  "On any failure nothing is left behind and an existing FILE is untouched.\n",
	  "", opts_image_create, 1, 1, run_image_create },
	{ "status", NULL, "status",
	  "Shows the daemon's version, pid, uptime, event loop and counts.\n",
	  "", opts_common, 0, 0, run_status },
};

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [OPTIONS] OBJECT COMMAND [ARGS]\n"
		"\n"
		"Changes and inspects a running ringtgtd.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s\n", cmds[i].synopsis);
	fprintf(f,
		"\n"
		"Options (also accepted after the command):\n"
		"  -s, --control-socket PATH  daemon socket (default: $" RINGTGT_CTL_ENV ",\n"
		"                             else " RINGTGT_CTL_DEFAULT_PATH ")\n"
		"  -j, --json                 print the daemon's reply as JSON\n"
		"  -h, --help                 this help; '" PROG " OBJECT --help',\n"
		"                             '" PROG " OBJECT COMMAND --help' for more\n"
		"  -V, --version              print the version\n"
		"\n"
		"Exit status: 0 done, 1 refused by or cannot reach the daemon, 2 usage error.\n");
}

static void usage_object(FILE *f, const char *object)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].object, object) == 0)
			fprintf(f, "  " PROG " %s\n", cmds[i].synopsis);
	fprintf(f, "\n'" PROG " %s COMMAND --help' describes a command.\n", object);
}

static void usage_cmd(FILE *f, const struct cmd *c)
{
	fprintf(f, "usage: " PROG " %s\n\n%s", c->synopsis, c->help);
	fprintf(f, "\nCommon options: --json, --control-socket PATH, --help\n");
}

static bool object_known(const char *object)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].object, object) == 0)
			return true;
	return false;
}

__attribute__((format(printf, 2, 3)))
static int usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (c)
		fprintf(stderr, "\nusage: " PROG " %s\nTry '" PROG " %s%s%s --help'.\n",
			c->synopsis, c->object, c->verb ? " " : "",
			c->verb ? c->verb : "");
	else
		fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return EXIT_USAGE;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtol(s, &end, 10);
	return !errno && !*end && *out >= min && *out <= max;
}

/* Parses the subcommand's options and arguments (argv[0] is the verb). */
static int parse_cmd(struct adm *a, const struct cmd *c, int argc, char **argv)
{
	int opt;

	optind = 0;	/* glibc: start over (a second getopt pass) */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hjs:", c->longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_cmd(stdout, c);
			exit(EXIT_OK);
		case 'j':
			a->json = true;
			break;
		case 's':
			a->socket = optarg;
			break;
		case OPT_TID:
			if (!parse_long(optarg, 1, 65535, &a->tid))
				return usage_error(c, "bad --tid '%s' (1..65535)", optarg);
			break;
		case OPT_FORCE:
			a->force = true;
			break;
		case OPT_GROUP:
			if (!parse_long(optarg, 1, 65535, &a->group))
				return usage_error(c, "bad --group '%s' (1..65535)", optarg);
			break;
		case OPT_PATH:
			a->path = optarg;
			break;
		case OPT_SIZE:
			if (ringtgt_parse_size(optarg, &a->size))
				return usage_error(c, "bad --size '%s' (bytes, or with K/M/G/T, e.g. 10G)",
						   optarg);
			a->have_size = true;
			break;
		case OPT_CREATE:
			a->create = true;
			break;
		case OPT_READONLY:
			a->readonly = true;
			break;
		case OPT_DIRECT:
			a->direct = true;
			break;
		case OPT_BUFFERED:
			a->buffered = true;
			break;
		case OPT_SHARED:
			a->shared = true;
			break;
		case OPT_CONTROLLER:
			a->controller = true;
			break;
		case OPT_BACKING:
			if (strcmp(optarg, "file") && strcmp(optarg, "ram"))
				return usage_error(c, "bad --backing '%s' (file or ram)",
						   optarg);
			a->backing = optarg;
			break;
		case OPT_BLOCK_SIZE:
			if (!parse_long(optarg, 512, 4096, &a->block_size) ||
			    (a->block_size != 512 && a->block_size != 4096))
				return usage_error(c, "bad --block-size '%s' (512 or 4096)",
						   optarg);
			break;
		case OPT_SERIAL:
			a->serial = optarg;
			break;
		case OPT_PARAM:
			if (a->nparams == (int)ARRAY_LEN(a->params))
				return usage_error(c, "at most %d --param options",
						   (int)ARRAY_LEN(a->params));
			a->params[a->nparams++] = optarg;
			break;
		case OPT_WRITE_CACHE:
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				return usage_error(c, "bad --write-cache '%s' (on or off)",
						   optarg);
			a->write_cache = strcmp(optarg, "on") == 0;
			break;
		case OPT_PREALLOCATE:
			a->preallocate = true;
			break;
		case OPT_SECRET:
			a->secret = optarg;
			break;
		case OPT_RANDOM:
			a->random = true;
			break;
		case OPT_SHOW_SECRETS:
			a->show_secrets = true;
			break;
		case OPT_OUTGOING:
			a->outgoing = true;
			break;
		case OPT_ACCOUNT:
			if (a->naccounts == (int)ARRAY_LEN(a->accounts))
				return usage_error(c, "at most %d --account options",
						   (int)ARRAY_LEN(a->accounts));
			a->accounts[a->naccounts++] = optarg;
			break;
		case OPT_OUTGOING_NAME:
			a->outgoing_name = optarg;
			break;
		case ':':
			return usage_error(c, "option '%s' needs a value",
					   argv[optind - 1]);
		default:
			return usage_error(c, "unknown option '%s'", argv[optind - 1]);
		}
	}
	/* GNU getopt has moved the operands to the end. */
	for (; optind < argc; optind++) {
		if (a->nargs < 8)
			a->args[a->nargs] = argv[optind];
		a->nargs++;
	}
	if (a->nargs < c->min_args)
		return usage_error(c, "missing argument%s",
				   c->min_args - a->nargs > 1 ? "s" : "");
	if (a->nargs > c->max_args)
		return usage_error(c, "unexpected argument '%s'",
				   a->args[c->max_args]);
	if (c->run == run_lun_add) {
		if (a->controller && (a->path || a->backing || a->have_size))
			return usage_error(c, "--controller takes no --path, --backing or --size");
		if (!a->controller && (!a->backing || !strcmp(a->backing, "file")) &&
		    !a->path)
			return usage_error(c, "--path FILE is required (or --backing ram, or --controller)");
		if (a->backing && !strcmp(a->backing, "ram") && !a->have_size)
			return usage_error(c, "--backing ram needs --size");
		if (a->create && !a->have_size)
			return usage_error(c, "--create needs --size");
		if (a->direct && a->buffered)
			return usage_error(c, "--direct and --buffered exclude each other");
	}
	if (c->run == run_lun_update && a->nparams == 0)
		return usage_error(c, "give at least one --param NAME=VALUE");
	if (c->run == run_image_create && !a->have_size)
		return usage_error(c, "--size is required");
	if (c->run == run_account_add && !a->secret == !a->random)
		return usage_error(c, "give --secret S, --secret - or --random");
	if (c->run == run_daemon_set_state && strcmp(a->args[0], "ready") &&
	    strcmp(a->args[0], "offline"))
		return usage_error(c, "bad state '%s' (ready or offline)",
				   a->args[0]);
	if (c->run == run_connection_close &&
	    (arg_number(a->args[1], 65535) < 0 ||
	     arg_number(a->args[2], 65535) < 0))
		return usage_error(c, "TSIH and CID are numbers 0..65535");
	if (c->run == run_daemon_set_log_level && strcmp(a->args[0], "error") &&
	    strcmp(a->args[0], "warn") && strcmp(a->args[0], "info") &&
	    strcmp(a->args[0], "debug"))
		return usage_error(c, "bad log level '%s' (error, warn, info or debug)",
				   a->args[0]);
	if (c->run == run_target_set_state && strcmp(a->args[1], "ready") &&
	    strcmp(a->args[1], "offline"))
		return usage_error(c, "bad state '%s' (ready or offline)",
				   a->args[1]);
	if (c->run == run_discovery_auth && strcmp(a->args[0], "none") &&
	    strcmp(a->args[0], "chap") && strcmp(a->args[0], "mutual"))
		return usage_error(c, "bad mode '%s' (none, chap or mutual)",
				   a->args[0]);
	return -1;
}

/*
 * The tools this binary is, by the name it is invoked under
 * (basename(argv[0])); any other name is ringtgtadm.
 */
static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} personalities[] = {
	{ "tgtadm", tgtadm_main },
	{ "tgt-admin", tgt_admin_main },
};

static int ringtgtadm_main(int argc, char **argv);

int main(int argc, char **argv)
{
	const char *slash = argv[0] ? strrchr(argv[0], '/') : NULL;
	const char *name = slash ? slash + 1 : argv[0] ? argv[0] : "";

	for (size_t i = 0; i < ARRAY_LEN(personalities); i++)
		if (!strcmp(name, personalities[i].name))
			return personalities[i].main(argc, argv);
	return ringtgtadm_main(argc, argv);
}

static int ringtgtadm_main(int argc, char **argv)
{
	static const struct option gopts[] = {
		COMMON_OPTS,
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	char *args[8];
	struct adm a = { .args = args, .write_cache = -1 };
	const struct cmd *c = NULL;
	const char *object, *verb;
	int opt, rc;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:hjs:V", gopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_main(stdout);
			return EXIT_OK;
		case 'V':
			printf(PROG " %s\n", RINGTGT_VERSION);
			return EXIT_OK;
		case 'j':
			a.json = true;
			break;
		case 's':
			a.socket = optarg;
			break;
		case ':':
			return usage_error(NULL, "option '%s' needs a value",
					   argv[optind - 1]);
		default:
			return usage_error(NULL, "unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error(NULL, "no command given");
	object = argv[optind++];
	if (!object_known(object))
		return usage_error(NULL, "unknown object '%s' (target, lun, acl, account, discovery, session, connection, portal, portal-group, image, daemon, status)",
				   object);
	if (strcmp(object, "status") == 0) {
		c = &cmds[sizeof(cmds) / sizeof(cmds[0]) - 1];
		/* argv[optind - 1] stands in for the verb. */
		rc = parse_cmd(&a, c, argc - optind + 1, argv + optind - 1);
		return rc >= 0 ? rc : c->run(&a);
	}
	if (optind >= argc) {
		usage_object(stderr, object);
		return EXIT_USAGE;
	}
	verb = argv[optind];
	if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		usage_object(stdout, object);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].object, object) && cmds[i].verb &&
		    !strcmp(cmds[i].verb, verb))
			c = &cmds[i];
	if (!c) {
		fprintf(stderr, PROG ": unknown command '%s %s'\n", object, verb);
		usage_object(stderr, object);
		return EXIT_USAGE;
	}
	rc = parse_cmd(&a, c, argc - optind, argv + optind);
	return rc >= 0 ? rc : c->run(&a);
}
