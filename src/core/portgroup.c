/*
 * portgroup.c - the target portal groups of the daemon (SPC-4 §5.15,
 * RFC 7143 §4.4.1): one table shared by every target's SCSI ports, the
 * ALUA state of each group, and the portals that belong to it (for
 * `ringtgtadm portal-group list`). Group 1 always exists
 * (active/optimized): the portals of `--portal` and of the config's
 * `portal` list are in it. Groups are added at start, never removed;
 * states change at run time (core_port_group_set_state). Portals are
 * opened at start and also opened and closed at run time (portal.add,
 * portal.remove): the iSCSI layer owns the sockets and lends core the
 * functions that do it (core_set_portal_ops), so control reaches them
 * through core like everything else.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "base/log.h"
#include "core/core.h"
#include "core/core_internal.h"

/* At most this many portal names are remembered, over all groups. */
#define PG_MAX_PORTALS 64

static struct scsi_port_groups pg_table = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.n = 1,
	.g = { { .tag = 1, .state = SCSI_ALUA_ACTIVE_OPTIMIZED } },
	.gen = 1,
};

/* the portals opened so far: name and group, under pg_lock */
static pthread_mutex_t pg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char name[80];
	uint16_t tag;
} pg_portals[PG_MAX_PORTALS];
static unsigned pg_nportals;

struct scsi_port_groups *core_port_groups(void)
{
	return &pg_table;
}

int core_port_group_define(uint16_t tag, enum scsi_alua_state state,
			   struct core_err *err)
{
	enum scsi_alua_state old;
	int rc;

	if (scsi_port_groups_get_state(&pg_table, tag, &old) == 0)
		rc = scsi_port_groups_set_state(&pg_table, tag, state);
	else
		rc = scsi_port_groups_add(&pg_table, tag, state);
	if (rc == -ENOSPC)
		return core_fail(err, rc, "too many portal groups (at most %d)",
				 SCSI_MAX_PORT_GROUPS);
	if (rc)
		return core_fail(err, rc, "portal group %u: bad tag or state",
				 tag);
	return 0;
}

int core_port_group_set_state(uint16_t tag, enum scsi_alua_state state,
			      struct core_err *err)
{
	int rc = scsi_port_groups_set_state(&pg_table, tag, state);

	if (rc == -ENOENT)
		return core_fail(err, rc, "no portal group %u", tag);
	if (rc)
		return core_fail(err, rc, "bad ALUA state");
	log_info("portal group %u: ALUA state %s", tag,
		 scsi_alua_state_name(state));
	return 0;
}

int core_port_group_portal(uint16_t tag, const char *name,
			   struct core_err *err)
{
	enum scsi_alua_state st;

	if (scsi_port_groups_get_state(&pg_table, tag, &st) < 0)
		return core_fail(err, -ENOENT, "no portal group %u", tag);
	pthread_mutex_lock(&pg_lock);
	/* the name is only for the listing: past the limit it is left out */
	if (pg_nportals < PG_MAX_PORTALS) {
		snprintf(pg_portals[pg_nportals].name,
			 sizeof(pg_portals[0].name), "%s", name);
		pg_portals[pg_nportals++].tag = tag;
	}
	pthread_mutex_unlock(&pg_lock);
	return 0;
}

void core_port_group_portal_forget(const char *name)
{
	pthread_mutex_lock(&pg_lock);
	for (unsigned i = 0; i < pg_nportals; i++) {
		if (strcmp(pg_portals[i].name, name) != 0)
			continue;
		/* keep the rest in the order they were opened */
		memmove(&pg_portals[i], &pg_portals[i + 1],
			(pg_nportals - i - 1) * sizeof(pg_portals[0]));
		pg_nportals--;
		break;
	}
	pthread_mutex_unlock(&pg_lock);
}

struct json_object *core_portals_json(void)
{
	json_object *arr = json_object_new_array();

	if (!arr)
		return NULL;
	pthread_mutex_lock(&pg_lock);
	for (unsigned i = 0; i < pg_nportals; i++) {
		json_object *o = json_object_new_object();

		if (!o) {
			json_object_put(arr);
			arr = NULL;
			break;
		}
		json_object_object_add(o, "portal",
				       json_object_new_string(pg_portals[i].name));
		json_object_object_add(o, "group",
				       json_object_new_int(pg_portals[i].tag));
		json_object_array_add(arr, o);
	}
	pthread_mutex_unlock(&pg_lock);
	return arr;
}

/* set by the iSCSI layer while it runs; read by the control thread */
static _Atomic(const struct core_portal_ops *) portal_ops;

void core_set_portal_ops(const struct core_portal_ops *ops)
{
	atomic_store(&portal_ops, ops);
}

int core_portal_add(const char *addr, uint16_t group, struct core_err *err)
{
	const struct core_portal_ops *ops = atomic_load(&portal_ops);
	char msg[sizeof(err->msg)] = "";
	int rc;

	if (!ops)
		return core_fail(err, -EOPNOTSUPP, "no iSCSI service runs in "
				 "this process: portals cannot be opened");
	rc = ops->add(addr, group, msg, sizeof(msg));
	return rc ? core_fail(err, rc, "%s", msg) : 0;
}

int core_portal_remove(const char *addr, struct core_err *err)
{
	const struct core_portal_ops *ops = atomic_load(&portal_ops);
	char msg[sizeof(err->msg)] = "";
	int rc;

	if (!ops)
		return core_fail(err, -EOPNOTSUPP, "no iSCSI service runs in "
				 "this process: portals cannot be closed");
	rc = ops->remove(addr, msg, sizeof(msg));
	return rc ? core_fail(err, rc, "%s", msg) : 0;
}

struct json_object *core_port_groups_json(void)
{
	json_object *arr = json_object_new_array();
	unsigned n = atomic_load(&pg_table.n);

	if (!arr)
		return NULL;
	pthread_mutex_lock(&pg_lock);
	for (unsigned i = 0; i < n; i++) {
		const struct scsi_port_group *g = &pg_table.g[i];
		json_object *o = json_object_new_object();
		json_object *portals = json_object_new_array();

		if (!o || !portals) {
			json_object_put(o);
			json_object_put(portals);
			json_object_put(arr);
			arr = NULL;
			break;
		}
		for (unsigned p = 0; p < pg_nportals; p++)
			if (pg_portals[p].tag == g->tag)
				json_object_array_add(portals,
					json_object_new_string(pg_portals[p].name));
		json_object_object_add(o, "tag", json_object_new_int(g->tag));
		json_object_object_add(o, "state", json_object_new_string(
			scsi_alua_state_name(atomic_load(&g->state))));
		json_object_object_add(o, "portals", portals);
		json_object_array_add(arr, o);
	}
	pthread_mutex_unlock(&pg_lock);
	return arr;
}
