/*
 * tgtadm_run.c - what tgtadm asks ringtgtd: each tgt request (mode and
 * operation, parsed by tgtadm.c) becomes one or more control requests
 * (docs/control-protocol.md), and each refusal tgt's message for the same
 * case, with tgt's exit status. What ringtgtd cannot do is refused in
 * tgt's words, never ignored (docs/tgt-compat.md).
 *
 * tgt's facts come from its usr/mgmt.c and usr/target.c (what the daemon
 * answers to each request).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ringtgt/ctl.h"
#include "tgtadm.h"
#include "tgtadm_internal.h"

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

/* --- stat, every mode ----------------------------------------------------- */

/* `--op stat`: the counters of ringtgtd's session list, as tgt prints them */
static int tgtadm_stats(struct tgtadm_ctx *c)
{
	static const enum tgtadm_err refusal[] = {
		[TGTADM_STAT_NO_TARGET] = TGTADM_NO_TARGET,
		[TGTADM_STAT_NO_LUN] = TGTADM_NO_LUN,
		[TGTADM_STAT_NO_SESSION] = TGTADM_NO_SESSION,
		[TGTADM_STAT_NO_CONNECTION] = TGTADM_NO_CONNECTION,
		[TGTADM_STAT_UNSUPPORTED] = TGTADM_UNSUPPORTED_OPERATION,
	};
	json_object *targets = NULL, *sessions = NULL, *args;
	enum tgtadm_stat_rc st;
	int rc;

	rc = tgtadm_call(c, "target.list", NULL, &targets, NULL);
	if (rc)
		return rc;
	args = tgtadm_args();
	json_object_object_add(args, "stats", json_object_new_boolean(1));
	rc = tgtadm_call(c, "session.list", args, &sessions, NULL);
	if (rc) {
		json_object_put(targets);
		return rc;
	}
	st = tgtadm_stat_print(c->r, targets, sessions, c->out);
	json_object_put(targets);
	json_object_put(sessions);
	return st == TGTADM_STAT_OK ? 0 : tgtadm_refuse(c, refusal[st], NULL);
}

/* --- target mode --------------------------------------------------------- */

/*
 * --op update --name state --value offline|ready: tgt's
 * tgt_set_target_state(); any other value is an invalid request there.
 */
static int tgtadm_target_state(struct tgtadm_ctx *c, const char *iqn)
{
	static const struct tgtadm_errmap map[] = {
		{ EINVAL, TGTADM_INVALID_REQUEST }, { ENOENT, TGTADM_NO_TARGET },
		{ 0, 0 },
	};
	json_object *args;

	if (strcmp(c->r->value, "offline") && strcmp(c->r->value, "ready"))
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST, NULL);
	args = tgtadm_args();
	tgtadm_add_str(args, "iqn", iqn);
	tgtadm_add_str(args, "state", c->r->value);
	return tgtadm_call(c, "target.set_state", args, NULL, map);
}

/*
 * --op update --name K --value V: one of the target's iSCSI parameters
 * (tgt's iscsi_target_update(): an unknown name or a bad value is an
 * invalid request). A value ringtgtd cannot honour, which tgt would
 * store, is refused saying which and why, -d or not.
 */
static int tgtadm_target_param(struct tgtadm_ctx *c, const char *iqn)
{
	const struct tgtadm_req *r = c->r;
	json_object *args;
	char msg[512] = "";
	int rc;

	if (!strncasecmp(r->name, "Redirect", 8))
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION,
				     "login redirection is not implemented");
	args = tgtadm_args();
	tgtadm_add_str(args, "iqn", iqn);
	tgtadm_add_str(args, "name", r->name);
	tgtadm_add_str(args, "value", r->value);
	rc = ringtgt_ctl_call(c->fd, "target.set_param", args, NULL, msg,
			      sizeof(msg));
	json_object_put(args);
	if (rc == -EOPNOTSUPP) {
		fprintf(c->err, PROG ": %s\n",
			tgtadm_errmsg[TGTADM_UNSUPPORTED_OPERATION]);
		fprintf(c->err, PROG ": ringtgtd: %s\n", msg);
		return TGTADM_EXIT_INVAL;
	}
	return rc ? tgtadm_refuse(c, TGTADM_INVALID_REQUEST, msg) : 0;
}

/* --op show --tid N: tgt's list of the target's parameters */
static int tgtadm_target_show_params(struct tgtadm_ctx *c, const char *iqn)
{
	json_object *args = tgtadm_args(), *res = NULL, *all = NULL;
	int rc;

	tgtadm_add_str(args, "iqn", iqn);
	rc = tgtadm_call(c, "target.params", args, &res, NULL);
	if (rc)
		return rc;
	json_object_object_get_ex(res, "params", &all);
	json_object_object_foreach(all, k, v)
		fprintf(c->out, "%s=%s\n", k, json_object_get_string(v));
	json_object_put(res);
	return 0;
}

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
	if (r->op == TGTADM_OP_STATS)
		return tgtadm_stats(c);
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
	case TGTADM_OP_UPDATE:
		if (!strcmp(r->name, "state"))
			return tgtadm_target_state(c, iqn);
		return tgtadm_target_param(c, iqn);
	case TGTADM_OP_SHOW:
		return tgtadm_target_show_params(c, iqn);
	default:
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION, NULL);
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
	bool sync = false, direct = false, null_store;
	uint64_t bs = 0;

	/* what ringtgtd cannot make: tgt's answer for a bad LU request */
	if (r->dev_type != TGTADM_DEV_DISK)
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "only disk logical units (-Y disk)");
	/* tgt's aio (Linux AIO on the file) is what ringtgt's stores do
	 * anyway (io_uring or a worker): it is rdwr here, as in tgt-admin;
	 * null is the store that keeps nothing (bs_null.c). sg, bsg, ssc,
	 * smc, mmc, rbd, sheepdog, glfs: no such store in ringtgt */
	if (r->bstype && strcmp(r->bstype, "rdwr") && strcmp(r->bstype, "aio") &&
	    strcmp(r->bstype, "null"))
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "only the rdwr, aio and null backing store types");
	null_store = r->bstype && !strcmp(r->bstype, "null");
	if (r->bsopts)
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "no backing store takes --bsopts");
	if (r->bsoflags && tgtadm_parse_oflags(r->bsoflags, &sync, &direct))
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "--bsoflags: sync, direct or sync:direct");
	if (r->blocksize && (tgtadm_strtou(r->blocksize, 4096, &bs) ||
			     (bs != 512 && bs != 4096)))
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "--blocksize: 512 or 4096");
	if (!r->path && !null_store)
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "a disk needs --backing-store");
	args = tgtadm_args();
	tgtadm_add_str(args, "iqn", iqn);
	json_object_object_add(args, "lun", json_object_new_int64((int64_t)r->lun));
	if (r->path)	/* the null store keeps it for the show only */
		tgtadm_add_str(args, "path", r->path);
	if (null_store)
		tgtadm_add_str(args, "backing", "null");
	if (direct)
		json_object_object_add(args, "direct", json_object_new_boolean(1));
	/*
	 * tgt opens the file O_SYNC: every write is on stable storage before
	 * GOOD. ringtgt's equivalent is the write cache off (WCE=0, SBC-4
	 * §6.5.5), as tgt-admin's "bsoflags sync" maps it.
	 */
	if (sync)
		json_object_object_add(args, "write_cache",
				       json_object_new_boolean(0));
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

	if (r->op == TGTADM_OP_STATS)
		return tgtadm_stats(c);
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
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION, NULL);
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
	fprintf(c->out, "System:\n    State: %s\n    debug: %s\n",
		tgtadm_jstr(st, "state") ? tgtadm_jstr(st, "state") : "ready",
		tgtadm_jstr(st, "log_level") &&
		!strcmp(tgtadm_jstr(st, "log_level"), "debug") ? "on" : "off");
	fprintf(c->out, "LLDs:\n    iscsi: ready\n");
	fprintf(c->out, "Backing stores:\n    rdwr (bsoflags sync:direct)\n");
	fprintf(c->out, "Device types:\n    disk\n    controller\n");
	json_object_put(st);
	return 0;
}

/*
 * --name debug --value on|off: tgt's is_debug (usr/mgmt.c sys_mgmt, which
 * compares only the first 2 or 3 characters: "on..." / "off..."; other
 * values are an invalid request). ringtgtd's log level: on is debug; off
 * the level it started with (--log-level), info if that was debug.
 */
static int tgtadm_sys_debug(struct tgtadm_ctx *c)
{
	const char *v = c->r->value, *start;
	json_object *st = NULL, *args;
	char level[16] = "debug";
	int rc;

	if (!strncmp(v, "off", 3)) {
		rc = tgtadm_call(c, "daemon.status", NULL, &st, NULL);
		if (rc)
			return rc;
		start = tgtadm_jstr(st, "log_level_start");
		snprintf(level, sizeof(level), "%s",
			 start && strcmp(start, "debug") ? start : "info");
		json_object_put(st);
	} else if (strncmp(v, "on", 2)) {
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "debug is on or off");
	}
	args = tgtadm_args();
	tgtadm_add_str(args, "level", level);
	return tgtadm_call(c, "daemon.set_log_level", args, NULL, NULL);
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
			return tgtadm_sys_debug(c);
		/* tgt: iSNS settings or nothing known */
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "the system parameter is State");
	case TGTADM_OP_SHOW:
		return tgtadm_sys_show(c);
	case TGTADM_OP_DELETE:
		rc = tgtadm_call(c, "daemon.shutdown", NULL, NULL, shutdown_map);
		return rc ? rc : tgtadm_wait_gone(c);
	case TGTADM_OP_STATS:
		return tgtadm_stats(c);
	default:
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION, NULL);
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

/* One item's "ADDR[:PORT]" / "[IPV6][:PORT]" as ringtgtd's ADDR:PORT. */
static int tgtadm_portal_item(const char *item, size_t n, char *out,
			      size_t len)
{
	const char *host = item, *port = NULL, *end = item + n;
	size_t hlen;
	uint64_t pn = 3260;
	char num[8];
	bool v6 = false;

	if (n && item[0] == '[') {
		const char *close = memchr(item, ']', n);

		if (!close || (close + 1 < end && close[1] != ':'))
			return -EINVAL;
		host = item + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < end)
			port = close + 2;
		v6 = true;
	} else {
		const char *colon = memchr(item, ':', n);

		hlen = colon ? (size_t)(colon - item) : n;
		if (colon)
			port = colon + 1;
	}
	/* a bare IPv6 address ends here too (its host is empty) */
	if (!hlen || memchr(host, '[', hlen) || memchr(host, ']', hlen))
		return -EINVAL;
	if (port) {
		/* decimal digits only (tgt's atoi() would read "32x" as 32) */
		if (end - port <= 0 || (size_t)(end - port) >= sizeof(num) ||
		    strspn(port, "0123456789") < (size_t)(end - port))
			return -EINVAL;
		memcpy(num, port, (size_t)(end - port));
		num[end - port] = '\0';
		pn = strtoull(num, NULL, 10);
		if (pn == 0 || pn > 65535)
			return -EINVAL;
	}
	if ((size_t)snprintf(out, len, v6 ? "[%.*s]:%" PRIu64 : "%.*s:%" PRIu64,
			     (int)hlen, host, pn) >= len)
		return -EINVAL;
	return 0;
}

int tgtadm_portal_parse(const char *list, char (*out)[TGTADM_PORTAL_LEN],
			int max)
{
	static const char key[] = "portal=";
	int n = 0, rc = 0;

	/* tgt: usr/target.c tgt_portal_create() wants "portal=" somewhere */
	if (!strstr(list, key))
		return -EINVAL;
	while (*list && !rc) {
		size_t len = strcspn(list, ",");

		if (!strncmp(list, "nop_interval=", 13) ||
		    !strncmp(list, "nop_count=", 10))
			rc = -EOPNOTSUPP;
		else if (strncmp(list, key, sizeof(key) - 1) || n == max)
			rc = -EINVAL;
		else
			rc = tgtadm_portal_item(list + sizeof(key) - 1,
						len - (sizeof(key) - 1),
						out[n++], TGTADM_PORTAL_LEN);
		list += len;
		if (*list == ',')
			list++;
	}
	return rc ? rc : n;
}

/*
 * tgt's portal mode (usr/iscsi/iscsid.c iscsi_param_parse_portals()):
 * new / delete open or close each portal of the list in turn, the first
 * failure ends it with "invalid request" (those done before stay, as in
 * tgt); show lists them newest first, as tgt does.
 */
static int tgtadm_mode_portal(struct tgtadm_ctx *c)
{
	char portals[8][TGTADM_PORTAL_LEN];
	json_object *list = NULL, *args;
	int n, rc = 0;

	if (c->r->op == TGTADM_OP_SHOW) {
		rc = tgtadm_call(c, "portal.list", NULL, &list, NULL);
		if (rc)
			return rc;
		for (size_t i = tgtadm_jlen(list); i-- > 0;) {
			json_object *p = json_object_array_get_idx(list, i);

			fprintf(c->out, "Portal: %s,%" PRId64 "\n",
				tgtadm_jstr(p, "portal"),
				tgtadm_jint(p, "group"));
		}
		json_object_put(list);
		return 0;
	}
	if (c->r->op != TGTADM_OP_NEW && c->r->op != TGTADM_OP_DELETE)
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST, NULL);
	n = tgtadm_portal_parse(c->r->portal_params, portals,
				(int)ARRAY_LEN(portals));
	if (n == -EOPNOTSUPP)
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION,
				     "nop_interval and nop_count are set at "
				     "start (ringtgtd --nop-interval)");
	if (n < 0)
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST,
				     "expected portal=ADDR[:PORT] or "
				     "portal=[IPV6][:PORT], comma-separated");
	for (int i = 0; i < n && !rc; i++) {
		args = tgtadm_args();
		tgtadm_add_str(args, "portal", portals[i]);
		/* every refusal is tgt's "invalid request" (usr/target.c) */
		rc = tgtadm_call(c, c->r->op == TGTADM_OP_NEW ? "portal.add" :
				 "portal.remove", args, NULL, NULL);
	}
	return rc;
}

/*
 * --op delete --sid S --cid C: tgt's conn_close_admin() (usr/iscsi/conn.c):
 * the session whose TSIH is S (what --op show --mode conn calls Session),
 * then its connection C; "can't find the session" / "can't find the
 * connection" otherwise. @sessions: session.list.
 */
static int tgtadm_conn_delete(struct tgtadm_ctx *c, const char *iqn,
			      json_object *sessions)
{
	static const struct tgtadm_errmap map[] = {
		{ ENOENT, TGTADM_NO_SESSION }, { 0, 0 },	/* gone meanwhile */
	};
	const struct tgtadm_req *r = c->r;
	bool session = false, conn = false;
	json_object *args;

	for (size_t i = 0; i < tgtadm_jlen(sessions); i++) {
		json_object *s = json_object_array_get_idx(sessions, i);

		if (!tgtadm_jstr(s, "tid") || tgtadm_jint(s, "tid") != r->tid ||
		    (uint64_t)tgtadm_jint(s, "tsih") != r->sid)
			continue;
		session = true;
		if ((uint64_t)tgtadm_jint(s, "cid") == r->cid)
			conn = true;
	}
	if (!conn)
		return tgtadm_refuse(c, session ? TGTADM_NO_CONNECTION :
				     TGTADM_NO_SESSION, NULL);
	args = tgtadm_args();
	tgtadm_add_str(args, "iqn", iqn);
	json_object_object_add(args, "tsih", json_object_new_int((int)r->sid));
	json_object_object_add(args, "cid", json_object_new_int((int)r->cid));
	return tgtadm_call(c, "connection.close", args, NULL, map);
}

/* tgt's connection list of one target (usr/iscsi/target.c), and delete */
static int tgtadm_mode_connection(struct tgtadm_ctx *c)
{
	json_object *sessions = NULL;
	char iqn[256], ip[80];
	const char *name;
	int rc;

	/* tgt finds the connection by session and CID, whatever --tid says */
	if (c->r->op == TGTADM_OP_STATS)
		return tgtadm_stats(c);
	rc = tgtadm_target_by_tid(c, c->r->tid, iqn, sizeof(iqn), NULL);
	if (rc)
		return rc;
	if (c->r->op != TGTADM_OP_SHOW && c->r->op != TGTADM_OP_DELETE)
		return tgtadm_refuse(c, TGTADM_INVALID_REQUEST, NULL);
	rc = tgtadm_call(c, "session.list", NULL, &sessions, NULL);
	if (rc)
		return rc;
	if (c->r->op == TGTADM_OP_DELETE) {
		rc = tgtadm_conn_delete(c, iqn, sessions);
		json_object_put(sessions);
		return rc;
	}
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
		/* session mode: tgt 1.0.85 knows only stat there; the rest
		 * it refuses so (usr/mgmt.c session_mgmt(): the driver's
		 * update() knows no session) */
		rc = r.op == TGTADM_OP_STATS ? tgtadm_stats(&c) :
		     tgtadm_refuse(&c, TGTADM_INVALID_REQUEST, NULL);
		break;
	}
out:
	if (c.fd >= 0)
		close(c.fd);
	return rc;
}
