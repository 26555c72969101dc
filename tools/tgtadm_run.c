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
	case TGTADM_OP_UPDATE:
		if (!strcmp(r->name, "state"))
			return tgtadm_target_state(c, iqn);
		/* FALLTHROUGH */
	default:
		/*
		 * show --tid (tgt's negotiation parameters), update (redirects,
		 * iSCSI parameters), stat: not here
		 */
		return tgtadm_refuse(c, TGTADM_UNSUPPORTED_OPERATION,
				     "per-target parameters and statistics "
				     "are not kept by ringtgtd");
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
	fprintf(c->out, "Backing stores:\n    rdwr (bsoflags sync:direct)\n");
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
