/*
 * params.c - a target's transport parameters: the overrides kept per
 * target as name=value strings, checked and listed by the transport that
 * registered (for iSCSI, its negotiation keys). The core only carries
 * them: what a key means, its range and what the transport can honour
 * are the transport's (iscsi/tparams.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "base/log.h"
#include "core.h"
#include "core_internal.h"

/* Set once at start, before the config is applied; read-only after. */
static const struct core_param_ops *param_ops;

void core_set_target_param_ops(const struct core_param_ops *ops)
{
	param_ops = ops;
}

int core_target_param_check(const char *name, const char *value,
			    struct core_err *err)
{
	struct core_param canon;
	char why[sizeof(err->msg)] = "";
	int rc;

	if (!param_ops)
		return core_fail(err, -EOPNOTSUPP, "no transport takes "
				 "per-target parameters");
	rc = param_ops->check(name, value, &canon, why, sizeof(why));
	return rc ? core_fail(err, rc, "%s", why) : 0;
}

/* Caller holds core_lock: the slot of @name in @tp, or -1. */
static int param_find(const struct core_target_params *tp, const char *name)
{
	for (size_t i = 0; i < tp->n; i++)
		if (strcmp(tp->p[i].name, name) == 0)
			return (int)i;
	return -1;
}

int core_target_param_set(const char *iqn, const char *name,
			  const char *value, struct core_err *err)
{
	struct core_target_params *tp;
	struct core_param canon;
	char why[sizeof(err->msg)] = "";
	struct tgt_target *t;
	int rc, i;

	if (!param_ops)
		return core_fail(err, -EOPNOTSUPP, "no transport takes "
				 "per-target parameters");
	/* a reset (@value NULL) checks the name only */
	rc = param_ops->check(name, value, &canon, why, sizeof(why));
	if (rc)
		return core_fail(err, rc, "%s", why);
	pthread_mutex_lock(&core_lock);
	t = core_target_lookup_locked(iqn);
	if (!t) {
		rc = core_fail(err, -ENOENT, "no target %s", iqn);
		goto out;
	}
	tp = core_target_params_state(t);
	i = param_find(tp, canon.name);
	if (!value) {
		if (i >= 0)
			tp->p[i] = tp->p[--tp->n];
	} else if (i >= 0) {
		tp->p[i] = canon;
	} else if (tp->n < CORE_PARAMS_MAX) {
		tp->p[tp->n++] = canon;
	} else {
		rc = core_fail(err, -ENOSPC, "target %s has %d parameters "
			       "set already", iqn, CORE_PARAMS_MAX);
		goto out;
	}
	log_info("target %s: %s %s%s (for the next login)", iqn, canon.name,
		 value ? "= " : "back to its default", value ? canon.value : "");
out:
	pthread_mutex_unlock(&core_lock);
	return rc;
}

size_t core_target_params_copy(struct tgt_target *t, struct core_param *out,
			       size_t cap)
{
	const struct core_target_params *tp = core_target_params_state(t);
	size_t n;

	pthread_mutex_lock(&core_lock);
	n = tp->n < cap ? tp->n : cap;
	memcpy(out, tp->p, n * sizeof(*out));
	pthread_mutex_unlock(&core_lock);
	return n;
}

void core_params_target_json(const struct core_target_params *tp,
			     json_object *o)
{
	json_object *p = json_object_new_object();

	for (size_t i = 0; i < tp->n; i++)
		json_object_object_add(p, tp->p[i].name,
				       json_object_new_string(tp->p[i].value));
	json_object_object_add(o, "params", p);
}

static void param_json_add(void *ctx, const char *name, const char *value)
{
	json_object_object_add(ctx, name, json_object_new_string(value));
}

json_object *core_target_params_json(const char *iqn, int *rc,
				     struct core_err *err)
{
	struct core_param over[CORE_PARAMS_MAX];
	json_object *res, *all;
	struct tgt_target *t;
	size_t n = 0;

	*rc = 0;
	if (!param_ops) {
		*rc = core_fail(err, -EOPNOTSUPP, "no transport takes "
				"per-target parameters");
		return NULL;
	}
	t = core_target_find(iqn);
	if (!t) {
		*rc = core_fail(err, -ENOENT, "no target %s", iqn);
		return NULL;
	}
	n = core_target_params_copy(t, over, CORE_PARAMS_MAX);
	core_target_put(t);
	res = json_object_new_object();
	all = json_object_new_object();
	param_ops->list(over, n, param_json_add, all);
	json_object_object_add(res, "params", all);
	all = json_object_new_object();
	for (size_t i = 0; i < n; i++)
		param_json_add(all, over[i].name, over[i].value);
	json_object_object_add(res, "overrides", all);
	return res;
}
