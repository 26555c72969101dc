/*
 * ops.c - the control protocol's operations: request validation (version,
 * op, argument names and types), one handler per op in a table, and the
 * reply envelope. The protocol is described in docs/control-protocol.md.
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "core/core.h"
#include "ctl.h"
#include "ctl_internal.h"
#include "ringtgt/ctl.h"

struct ctl_req {
	struct ctl_server *server;
	json_object *args;		/* never NULL: {} when absent */
	json_object *result;		/* handler's, NULL for null */
	struct core_err err;
};

struct ctl_op {
	const char *name;
	/* Argument names the op accepts; anything else is an error. */
	const char *const *args;
	int (*fn)(struct ctl_req *r);
};

__attribute__((format(printf, 3, 4)))
static int req_fail(struct ctl_req *r, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err.msg, sizeof(r->err.msg), fmt, ap);
	va_end(ap);
	return rc;
}

/* --- argument helpers: 0, -ENOENT when absent and optional, -EINVAL --- */

static int arg_get(struct ctl_req *r, const char *key, bool required,
		   json_type type, const char *what, json_object **out)
{
	json_object *v;

	if (!json_object_object_get_ex(r->args, key, &v) || !v) {
		if (required)
			return req_fail(r, -EINVAL, "missing argument '%s'", key);
		return -ENOENT;
	}
	if (!json_object_is_type(v, type))
		return req_fail(r, -EINVAL, "argument '%s' must be %s", key, what);
	*out = v;
	return 0;
}

static int arg_str(struct ctl_req *r, const char *key, bool required,
		   const char **out)
{
	json_object *v = NULL;
	int rc = arg_get(r, key, required, json_type_string, "a string", &v);

	if (rc == 0)
		*out = json_object_get_string(v);
	return rc == -ENOENT ? 0 : rc;
}

static int arg_bool(struct ctl_req *r, const char *key, bool *out)
{
	json_object *v = NULL;
	int rc = arg_get(r, key, false, json_type_boolean, "true or false", &v);

	if (rc == 0)
		*out = json_object_get_boolean(v);
	return rc == -ENOENT ? 0 : rc;
}

static int arg_uint(struct ctl_req *r, const char *key, bool required,
		    uint64_t max, uint64_t *out)
{
	json_object *v = NULL;
	int64_t n;
	int rc = arg_get(r, key, required, json_type_int, "an integer", &v);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max)
		return req_fail(r, -ERANGE, "argument '%s' out of range 0..%llu",
				key, (unsigned long long)max);
	*out = (uint64_t)n;
	return 0;
}

/* A size is bytes (integer) or a string with a K/M/G/T suffix. */
static int arg_size(struct ctl_req *r, const char *key, uint64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(r->args, key, &v) || !v)
		return 0;
	if (json_object_is_type(v, json_type_int))
		return arg_uint(r, key, false, INT64_MAX, out);
	if (json_object_is_type(v, json_type_string) &&
	    ringtgt_parse_size(json_object_get_string(v), out) == 0)
		return 0;
	return req_fail(r, -EINVAL,
			"argument '%s' must be bytes or a size like \"10G\"", key);
}

/* --- handlers ------------------------------------------------------------ */

static int op_target_add(struct ctl_req *r)
{
	const char *iqn = NULL;
	uint64_t tid = 0;
	int rc, got;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_uint(r, "tid", false, INT32_MAX, &tid)))
		return rc;
	rc = core_target_add(iqn, (int)tid, &got, &r->err);
	if (rc)
		return rc;
	r->result = json_object_new_object();
	json_object_object_add(r->result, "tid", json_object_new_int(got));
	json_object_object_add(r->result, "iqn", json_object_new_string(iqn));
	return 0;
}

static int op_target_remove(struct ctl_req *r)
{
	const char *iqn = NULL;
	bool force = false;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_bool(r, "force", &force)))
		return rc;
	return core_target_remove(iqn, force, &r->err);
}

static int op_target_list(struct ctl_req *r)
{
	r->result = core_targets_json();
	return r->result ? 0 : req_fail(r, -ENOMEM, "out of memory");
}

/* tgt's per-target state: "offline" refuses logins, BUSY for commands. */
static int op_target_set_state(struct ctl_req *r)
{
	const char *iqn = NULL, *state = NULL;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_str(r, "state", true, &state)))
		return rc;
	if (strcmp(state, "ready") && strcmp(state, "offline"))
		return req_fail(r, -EINVAL, "bad state '%s' (ready or offline)",
				state);
	return core_target_set_state(iqn, !strcmp(state, "offline"), &r->err);
}

/*
 * A target's own iSCSI parameter (tgt's per-target session parameters),
 * for the next logins: "value" null puts it back to the default.
 */
static int op_target_set_param(struct ctl_req *r)
{
	const char *iqn = NULL, *name = NULL, *value = NULL;
	json_object *v = NULL;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_str(r, "name", true, &name)))
		return rc;
	if (!json_object_object_get_ex(r->args, "value", &v))
		return req_fail(r, -EINVAL, "missing \"value\" (a string, "
				"or null for the default)");
	if (v && (rc = arg_str(r, "value", true, &value)))
		return rc;
	return core_target_param_set(iqn, name, value, &r->err);
}

/* The values a login to the target starts from, and its own overrides. */
static int op_target_params(struct ctl_req *r)
{
	const char *iqn = NULL;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)))
		return rc;
	r->result = core_target_params_json(iqn, &rc, &r->err);
	return rc;
}

static int op_lun_add(struct ctl_req *r)
{
	struct core_lun_spec spec = { .type = SCSI_LU_DISK };
	struct scsi_lu_params params = { 0 };
	const char *iqn = NULL, *type = NULL;
	uint64_t lun = 0, bsz = 0;
	bool write_cache = true;	/* WCE=1 unless "write_cache": false */
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_uint(r, "lun", true, SCSI_MAX_LUNS - 1, &lun)) ||
	    (rc = arg_str(r, "type", false, &type)) ||
	    (rc = arg_str(r, "backing", false, &spec.backing)) ||
	    (rc = arg_str(r, "path", false, &spec.path)) ||
	    (rc = arg_size(r, "size", &spec.size)) ||
	    (rc = arg_bool(r, "create", &spec.create)) ||
	    (rc = arg_bool(r, "readonly", &spec.readonly)) ||
	    (rc = arg_bool(r, "direct", &spec.direct)) ||
	    (rc = arg_bool(r, "buffered", &spec.buffered)) ||
	    (rc = arg_bool(r, "shared", &spec.shared)) ||
	    (rc = arg_uint(r, "block_size", false, 65536, &bsz)) ||
	    (rc = arg_str(r, "serial", false, &spec.serial)) ||
	    (rc = arg_bool(r, "write_cache", &write_cache)))
		return rc;
	spec.no_write_cache = !write_cache;
	rc = core_lun_params_from_json(r->args, &params, &r->err);
	if (rc)
		return rc;
	if (params.set)
		spec.params = &params;
	if (type && strcmp(type, "controller") == 0)
		spec.type = SCSI_LU_CONTROLLER;
	else if (type && strcmp(type, "disk") != 0)
		return req_fail(r, -EINVAL,
				"argument 'type' must be \"disk\" or \"controller\"");
	spec.block_size = (uint32_t)bsz;
	rc = core_lun_add(iqn, lun, &spec, &r->err);
	if (rc)
		return rc;
	r->result = json_object_new_object();
	json_object_object_add(r->result, "iqn", json_object_new_string(iqn));
	json_object_object_add(r->result, "lun", json_object_new_uint64(lun));
	return 0;
}

static int op_lun_update(struct ctl_req *r)
{
	struct scsi_lu_params params = { 0 };
	const char *iqn = NULL;
	uint64_t lun = 0;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_uint(r, "lun", true, SCSI_MAX_LUNS - 1, &lun)) ||
	    (rc = core_lun_params_from_json(r->args, &params, &r->err)))
		return rc;
	rc = core_lun_update(iqn, lun, &params, &r->err);
	if (rc)
		return rc;
	r->result = json_object_new_object();
	json_object_object_add(r->result, "iqn", json_object_new_string(iqn));
	json_object_object_add(r->result, "lun", json_object_new_uint64(lun));
	return 0;
}

static int op_lun_remove(struct ctl_req *r)
{
	const char *iqn = NULL;
	uint64_t lun = 0;
	bool force = false;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_uint(r, "lun", true, SCSI_MAX_LUNS - 1, &lun)) ||
	    (rc = arg_bool(r, "force", &force)))
		return rc;
	return core_lun_remove(iqn, lun, force, &r->err);
}

static int op_lun_resize(struct ctl_req *r)
{
	const char *iqn = NULL;
	uint64_t lun = 0, size = 0, old = 0, now = 0;
	bool force = false;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_uint(r, "lun", true, SCSI_MAX_LUNS - 1, &lun)) ||
	    (rc = arg_size(r, "size", &size)) ||
	    (rc = arg_bool(r, "force", &force)))
		return rc;
	rc = core_lun_resize(iqn, lun, size, force, &old, &now, &r->err);
	if (rc)
		return rc;
	r->result = json_object_new_object();
	json_object_object_add(r->result, "iqn", json_object_new_string(iqn));
	json_object_object_add(r->result, "lun", json_object_new_uint64(lun));
	json_object_object_add(r->result, "old_size", json_object_new_uint64(old));
	json_object_object_add(r->result, "size", json_object_new_uint64(now));
	return 0;
}

static int op_acl_add(struct ctl_req *r)
{
	const char *iqn = NULL, *rule = NULL;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_str(r, "rule", true, &rule)))
		return rc;
	return core_acl_add(iqn, rule, &r->err);
}

static int op_acl_remove(struct ctl_req *r)
{
	const char *iqn = NULL, *rule = NULL;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_str(r, "rule", true, &rule)))
		return rc;
	return core_acl_remove(iqn, rule, &r->err);
}

static int op_session_list(struct ctl_req *r)
{
	bool stats = false;
	int rc = arg_bool(r, "stats", &stats);

	if (rc)
		return rc;
	r->result = stats ? core_sessions_stats_json() : core_sessions_json();
	return r->result ? 0 : req_fail(r, -ENOMEM, "out of memory");
}

/* tgtadm --op delete --mode conn: closes one connection of a session. */
static int op_connection_close(struct ctl_req *r)
{
	const char *iqn = NULL;
	uint64_t tsih = 0, cid = 0;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_uint(r, "tsih", true, UINT16_MAX, &tsih)) ||
	    (rc = arg_uint(r, "cid", true, UINT16_MAX, &cid)))
		return rc;
	return core_connection_close(iqn, (uint16_t)tsih, (uint16_t)cid,
				     &r->err);
}

static int op_portal_group_list(struct ctl_req *r)
{
	r->result = core_port_groups_json();
	return r->result ? 0 : req_fail(r, -ENOMEM, "out of memory");
}

static int op_portal_group_set_state(struct ctl_req *r)
{
	enum scsi_alua_state st;
	const char *state = NULL;
	uint64_t tag = 0;
	int rc;

	if ((rc = arg_uint(r, "tag", true, 65535, &tag)) ||
	    (rc = arg_str(r, "state", true, &state)))
		return rc;
	if (scsi_alua_state_parse(state, &st))
		return req_fail(r, -EINVAL, "bad state '%s' (active/optimized, "
				"active/non-optimized, standby, unavailable)",
				state);
	return core_port_group_set_state((uint16_t)tag, st, &r->err);
}

/*
 * portal.add: opens ADDR:PORT at run time in portal group "group" (1
 * when absent: the group of --portal and the config's portal list).
 */
static int op_portal_add(struct ctl_req *r)
{
	const char *portal = NULL;
	uint64_t group = 1;
	int rc;

	if ((rc = arg_str(r, "portal", true, &portal)) ||
	    (rc = arg_uint(r, "group", false, 65535, &group)))
		return rc;
	if (group == 0)
		return req_fail(r, -ERANGE, "argument 'group' out of range "
				"1..65535");
	rc = core_portal_add(portal, (uint16_t)group, &r->err);
	if (rc)
		return rc;
	r->result = json_object_new_object();
	json_object_object_add(r->result, "portal",
			       json_object_new_string(portal));
	json_object_object_add(r->result, "group",
			       json_object_new_int((int)group));
	return 0;
}

/* portal.remove: no new connections through it; its connections stay. */
static int op_portal_remove(struct ctl_req *r)
{
	const char *portal = NULL;
	int rc;

	if ((rc = arg_str(r, "portal", true, &portal)))
		return rc;
	return core_portal_remove(portal, &r->err);
}

static int op_portal_list(struct ctl_req *r)
{
	r->result = core_portals_json();
	return r->result ? 0 : req_fail(r, -ENOMEM, "out of memory");
}

static int op_daemon_status(struct ctl_req *r)
{
	json_object *o = json_object_new_object();
	json_object *targets = core_targets_json();
	json_object *sessions = core_sessions_json();
	json_object *info = ctl_server_status_info(r->server);

	json_object_object_add(o, "version", json_object_new_string(RINGTGT_VERSION));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(o, "uptime",
		json_object_new_double(ctl_server_uptime(r->server)));
	json_object_object_add(o, "control_socket",
		json_object_new_string(ctl_server_path(r->server)));
	json_object_object_add(o, "targets", json_object_new_int(
		(int)json_object_array_length(targets)));
	json_object_object_add(o, "sessions", json_object_new_int(
		(int)json_object_array_length(sessions)));
	json_object_object_add(o, "state", json_object_new_string(
		core_system_state_name(core_system_state())));
	json_object_object_add(o, "log_level", json_object_new_string(
		log_level_name(log_threshold)));
	json_object_object_add(o, "log_level_start", json_object_new_string(
		log_level_name(log_start_level())));
	json_object_put(targets);
	json_object_put(sessions);
	if (info) {
		json_object_object_foreach(info, k, v)
			json_object_object_add(o, k, json_object_get(v));
		json_object_put(info);
	}
	r->result = o;
	return 0;
}

/* The log level from now on (tgtadm --mode sys --name debug). */
static int op_daemon_set_log_level(struct ctl_req *r)
{
	const char *level = NULL;
	int rc, lvl;

	if ((rc = arg_str(r, "level", true, &level)))
		return rc;
	lvl = log_level_parse(level);
	if (lvl < 0)
		return req_fail(r, -EINVAL, "bad log level '%s' (error, warn, "
				"info or debug)", level);
	log_set_level((enum log_level)lvl);
	return 0;
}

/* tgt's system state: "offline" refuses new connections (core/system.c). */
static int op_daemon_set_state(struct ctl_req *r)
{
	enum core_system_state st;
	const char *state = NULL;
	int rc;

	if ((rc = arg_str(r, "state", true, &state)))
		return rc;
	if (core_system_state_parse(state, &st))
		return req_fail(r, -EINVAL, "bad state '%s' (ready or offline)",
				state);
	core_system_set_state(st);
	return 0;
}

/*
 * tgtadm --op delete --mode system: the daemon stops, but only when it
 * serves no target (tgt's is_system_inactive()), through the hook the
 * daemon set (SIGTERM to itself); the reply goes out before the main
 * thread, woken by it, closes this socket.
 */
static int op_daemon_shutdown(struct ctl_req *r)
{
	json_object *targets = core_targets_json();
	size_t n = targets ? json_object_array_length(targets) : 0;

	json_object_put(targets);
	if (!targets)
		return req_fail(r, -ENOMEM, "out of memory");
	if (n)
		return req_fail(r, -EBUSY, "%zu target%s still defined; remove "
				"them first", n, n == 1 ? " is" : "s are");
	if (ctl_server_shutdown(r->server) < 0)
		return req_fail(r, -EOPNOTSUPP, "this server cannot stop its "
				"process");
	log_info("shutdown asked for over the control socket");
	return 0;
}

/* --- accounts and authentication (issue 9) ------------------------------ */

/*
 * A generated secret: 24 characters of a 64-letter alphabet, each from one
 * random byte (256 is a multiple of 64, so no letter is favoured): 144
 * bits, more than the 96 asked for and over twice RFC 7143 §12.1.3's 12
 * bytes. Letters, digits, '-' and '_' survive URLs, shells and configs.
 */
#define CTL_RANDOM_SECRET_LEN 24

static int random_secret(char out[CTL_RANDOM_SECRET_LEN + 1])
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t b[CTL_RANDOM_SECRET_LEN];
	ssize_t n;

	static_assert(sizeof(alphabet) - 1 == 64, "one letter per 6 bits");
	do
		n = getrandom(b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return n < 0 ? -errno : -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		out[i] = alphabet[b[i] & 63];
	out[CTL_RANDOM_SECRET_LEN] = '\0';
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

static int op_account_add(struct ctl_req *r)
{
	char generated[CTL_RANDOM_SECRET_LEN + 1];
	const char *name = NULL, *secret = NULL;
	bool random = false;
	int rc;

	if ((rc = arg_str(r, "name", true, &name)) ||
	    (rc = arg_str(r, "secret", false, &secret)) ||
	    (rc = arg_bool(r, "random", &random)))
		return rc;
	if (!secret == !random)
		return req_fail(r, -EINVAL,
				"give either 'secret' or 'random': true");
	if (random) {
		rc = random_secret(generated);
		if (rc)
			return req_fail(r, rc, "cannot generate a secret: %s",
					strerror(-rc));
		secret = generated;
	}
	rc = core_account_add(name, secret, &r->err);
	if (rc == 0) {
		r->result = json_object_new_object();
		json_object_object_add(r->result, "name",
				       json_object_new_string(name));
		/* The only time a generated secret is shown. */
		if (random)
			json_object_object_add(r->result, "secret",
					       json_object_new_string(generated));
		if (r->err.msg[0])
			json_object_object_add(r->result, "warning",
				json_object_new_string(r->err.msg));
	}
	OPENSSL_cleanse(generated, sizeof(generated));
	return rc;
}

static int op_account_remove(struct ctl_req *r)
{
	const char *name = NULL;
	bool force = false;
	int rc;

	if ((rc = arg_str(r, "name", true, &name)) ||
	    (rc = arg_bool(r, "force", &force)))
		return rc;
	return core_account_remove(name, force, &r->err);
}

static int op_account_list(struct ctl_req *r)
{
	bool show = false;
	int rc;

	if ((rc = arg_bool(r, "show_secrets", &show)))
		return rc;
	r->result = core_accounts_json(show);
	return r->result ? 0 : req_fail(r, -ENOMEM, "out of memory");
}

/* account.bind / account.unbind: "iqn" absent means discovery. */
static int account_binding(struct ctl_req *r, bool bind)
{
	const char *iqn = NULL, *name = NULL;
	bool outgoing = false;
	int rc;

	if ((rc = arg_str(r, "iqn", false, &iqn)) ||
	    (rc = arg_str(r, "name", true, &name)) ||
	    (rc = arg_bool(r, "outgoing", &outgoing)))
		return rc;
	return bind ? core_account_bind(iqn, name, outgoing, &r->err) :
		      core_account_unbind(iqn, name, outgoing, &r->err);
}

static int op_account_bind(struct ctl_req *r)
{
	return account_binding(r, true);
}

static int op_account_unbind(struct ctl_req *r)
{
	return account_binding(r, false);
}

static int op_discovery_auth(struct ctl_req *r)
{
	static const char *const modes[] = {
		[CORE_DISC_AUTH_NONE] = "none",
		[CORE_DISC_AUTH_CHAP] = "chap",
		[CORE_DISC_AUTH_MUTUAL] = "mutual",
	};
	const char *mode = NULL;
	size_t i;
	int rc;

	if ((rc = arg_str(r, "mode", true, &mode)))
		return rc;
	for (i = 0; i < ARRAY_SIZE(modes); i++)
		if (strcmp(mode, modes[i]) == 0)
			break;
	if (i == ARRAY_SIZE(modes))
		return req_fail(r, -EINVAL,
				"argument 'mode' must be \"none\", \"chap\" or \"mutual\"");
	return core_discovery_auth_set((enum core_disc_auth)i, &r->err);
}

static int op_target_chap_algs(struct ctl_req *r)
{
	const char *iqn = NULL, *list = NULL;
	char algs[64];
	unsigned bits = 0;
	int rc;

	if ((rc = arg_str(r, "iqn", true, &iqn)) ||
	    (rc = arg_str(r, "algorithms", true, &list)))
		return rc;
	rc = core_chap_algs_parse(list, &bits, r->err.msg, sizeof(r->err.msg));
	if (rc)
		return rc;
	rc = core_target_chap_algs(iqn, bits, &r->err);
	if (rc)
		return rc;
	core_chap_algs_format(bits, algs, sizeof(algs));
	r->result = json_object_new_object();
	json_object_object_add(r->result, "iqn", json_object_new_string(iqn));
	json_object_object_add(r->result, "chap_algorithms",
			       json_object_new_string(algs));
	return 0;
}

static const char *const args_none[] = { NULL };
static const char *const args_target_add[] = { "iqn", "tid", NULL };
static const char *const args_iqn_force[] = { "iqn", "force", NULL };
static const char *const args_lun_add[] = {
	"iqn", "lun", "type", "backing", "path", "size", "create", "readonly",
	"direct", "buffered", "shared", "block_size", "serial", "write_cache",
	/* tgt's LU parameters (core_lun_params_from_json) */
	"scsi_id", "scsi_sn", "vendor_id", "product_id", "product_rev",
	"removable", "sense_format", "online", "thin_provisioning", "lbppbe",
	"la_lba", "optimal_xfer_gran", "optimal_xfer_len", "mode_page", NULL
};
static const char *const args_lun_update[] = {
	"iqn", "lun", "scsi_id", "scsi_sn", "vendor_id", "product_id",
	"product_rev", "removable", "readonly", "sense_format", "online",
	"thin_provisioning", "lbppbe", "la_lba", "optimal_xfer_gran",
	"optimal_xfer_len", "mode_page", NULL
};
static const char *const args_lun_remove[] = { "iqn", "lun", "force", NULL };
static const char *const args_lun_resize[] = {
	"iqn", "lun", "size", "force", NULL
};
static const char *const args_acl[] = { "iqn", "rule", NULL };
static const char *const args_account_add[] = { "name", "secret", "random", NULL };
static const char *const args_account_remove[] = { "name", "force", NULL };
static const char *const args_account_list[] = { "show_secrets", NULL };
static const char *const args_account_bind[] = { "iqn", "name", "outgoing", NULL };
static const char *const args_discovery_auth[] = { "mode", NULL };
static const char *const args_chap_algs[] = { "iqn", "algorithms", NULL };
static const char *const args_pg_state[] = { "tag", "state", NULL };
static const char *const args_portal_add[] = { "portal", "group", NULL };
static const char *const args_portal[] = { "portal", NULL };
static const char *const args_state[] = { "state", NULL };
static const char *const args_session_list[] = { "stats", NULL };
static const char *const args_target_state[] = { "iqn", "state", NULL };
static const char *const args_target_param[] = { "iqn", "name", "value", NULL };
static const char *const args_iqn[] = { "iqn", NULL };
static const char *const args_conn_close[] = { "iqn", "tsih", "cid", NULL };
static const char *const args_log_level[] = { "level", NULL };

static const struct ctl_op ctl_ops[] = {
	{ "target.add", args_target_add, op_target_add },
	{ "target.remove", args_iqn_force, op_target_remove },
	{ "target.list", args_none, op_target_list },
	{ "target.set_state", args_target_state, op_target_set_state },
	{ "target.set_param", args_target_param, op_target_set_param },
	{ "target.params", args_iqn, op_target_params },
	{ "lun.add", args_lun_add, op_lun_add },
	{ "lun.remove", args_lun_remove, op_lun_remove },
	{ "lun.resize", args_lun_resize, op_lun_resize },
	{ "lun.update", args_lun_update, op_lun_update },
	{ "acl.add", args_acl, op_acl_add },
	{ "acl.remove", args_acl, op_acl_remove },
	{ "account.add", args_account_add, op_account_add },
	{ "account.remove", args_account_remove, op_account_remove },
	{ "account.list", args_account_list, op_account_list },
	{ "account.bind", args_account_bind, op_account_bind },
	{ "account.unbind", args_account_bind, op_account_unbind },
	{ "discovery.auth", args_discovery_auth, op_discovery_auth },
	{ "target.chap_algorithms", args_chap_algs, op_target_chap_algs },
	{ "session.list", args_session_list, op_session_list },
	{ "connection.close", args_conn_close, op_connection_close },
	{ "portal_group.list", args_none, op_portal_group_list },
	{ "portal_group.set_state", args_pg_state, op_portal_group_set_state },
	{ "portal.add", args_portal_add, op_portal_add },
	{ "portal.remove", args_portal, op_portal_remove },
	{ "portal.list", args_none, op_portal_list },
	{ "daemon.status", args_none, op_daemon_status },
	{ "daemon.set_state", args_state, op_daemon_set_state },
	{ "daemon.set_log_level", args_log_level, op_daemon_set_log_level },
	{ "daemon.shutdown", args_none, op_daemon_shutdown },
};

/* --- envelope ------------------------------------------------------------ */

static json_object *reply_new(bool ok)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "v", json_object_new_int(CTL_PROTO_VERSION));
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	return o;
}

json_object *ctl_reply_error(int err, const char *fmt, ...)
{
	json_object *o = reply_new(false);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "errno", json_object_new_int(err));
	return o;
}

static const struct ctl_op *op_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctl_ops); i++)
		if (strcmp(ctl_ops[i].name, name) == 0)
			return &ctl_ops[i];
	return NULL;
}

static const char *unknown_arg(const struct ctl_op *op, json_object *args)
{
	json_object_object_foreach(args, key, val) {
		size_t i;

		(void)val;
		for (i = 0; op->args[i]; i++)
			if (strcmp(op->args[i], key) == 0)
				break;
		if (!op->args[i])
			return key;
	}
	return NULL;
}

/* Parses the line as exactly one JSON value (nothing after it). */
static json_object *parse_line(const char *line, size_t len, char *why,
			       size_t whylen)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	enum json_tokener_error jerr;
	json_object *o;
	size_t used;

	if (!tok) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
		       line[len - 1] == '\t'))
		len--;
	o = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		snprintf(why, whylen, "malformed JSON: unexpected end of request");
	} else if (jerr != json_tokener_success) {
		snprintf(why, whylen, "malformed JSON at byte %zu: %s", used,
			 json_tokener_error_desc(jerr));
	} else if (used != len) {
		snprintf(why, whylen,
			 "malformed JSON: extra data at byte %zu (one request per line)",
			 used);
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

json_object *ctl_handle_line(struct ctl_server *s, const char *line,
			     size_t len)
{
	struct ctl_req r = { .server = s };
	const struct ctl_op *op;
	json_object *req, *v, *reply;
	const char *name, *bad;
	char why[256];
	int rc;

	req = parse_line(line, len, why, sizeof(why));
	if (!req)
		return ctl_reply_error(EPROTO, "%s", why);
	if (!json_object_is_type(req, json_type_object)) {
		reply = ctl_reply_error(EPROTO, "a request is a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(req, "v", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		reply = ctl_reply_error(EPROTO,
			"missing protocol version (\"v\": %d)", CTL_PROTO_VERSION);
		goto out;
	}
	if (json_object_get_int64(v) != CTL_PROTO_VERSION) {
		reply = ctl_reply_error(EPROTONOSUPPORT,
			"protocol version %lld not supported (this daemon speaks %d)",
			(long long)json_object_get_int64(v), CTL_PROTO_VERSION);
		goto out;
	}
	if (!json_object_object_get_ex(req, "op", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		reply = ctl_reply_error(EPROTO, "missing \"op\" (a string)");
		goto out;
	}
	name = json_object_get_string(v);
	op = op_find(name);
	if (!op) {
		reply = ctl_reply_error(EOPNOTSUPP, "unknown op '%s'", name);
		goto out;
	}
	if (json_object_object_get_ex(req, "args", &r.args) && r.args &&
	    !json_object_is_type(r.args, json_type_object)) {
		reply = ctl_reply_error(EINVAL, "\"args\" must be an object");
		goto out;
	}
	if (!r.args)
		r.args = json_object_new_object();
	else
		json_object_get(r.args);
	bad = unknown_arg(op, r.args);
	if (bad) {
		reply = ctl_reply_error(EINVAL, "%s: unknown argument '%s'",
					name, bad);
		json_object_put(r.args);
		goto out;
	}

	rc = op->fn(&r);
	json_object_put(r.args);
	if (rc) {
		json_object_put(r.result);
		if (!r.err.msg[0])
			snprintf(r.err.msg, sizeof(r.err.msg), "%s", strerror(-rc));
		reply = ctl_reply_error(-rc, "%s", r.err.msg);
		goto out;
	}
	reply = reply_new(true);
	json_object_object_add(reply, "result", r.result);
out:
	/* Echo a client's request id so pipelining clients can match. */
	if (json_object_is_type(req, json_type_object) &&
	    json_object_object_get_ex(req, "id", &v))
		json_object_object_add(reply, "id", json_object_get(v));
	json_object_put(req);
	return reply;
}
