/*
 * alua.c - asymmetric logical unit access (SPC-4 §5.15): the target port
 * groups and their states, REPORT TARGET PORT GROUPS, SET TARGET PORT
 * GROUPS, what a command may do through a port in each state, and the
 * ASYMMETRIC ACCESS STATE CHANGED unit attention.
 *
 * A group's state applies to every LU of the targets that share the table
 * (the group is target-wide, as a target portal group is). Both implicit
 * (ringtgtadm) and explicit (SET TARGET PORT GROUPS) changes are supported,
 * so INQUIRY reports TPGS=11b (spc.c).
 */
#include <errno.h>
#include <string.h>

#include "scsi/scsi_internal.h"

/* REPORT TARGET PORT GROUPS (SPC-4 §6.37) */
#define RTPG_FMT_SHIFT 5		/* CDB byte 1 bits 7-5 */
#define RTPG_FMT_LENGTH 0x0
#define RTPG_FMT_EXTENDED 0x1
#define RTPG_HDR 4
#define RTPG_EXT_HDR 8
#define RTPG_DESC 8
#define RTPG_PORT_DESC 4
/* byte 1 of a descriptor: the states a group supports (all four of ours) */
#define RTPG_SUP_U 0x08
#define RTPG_SUP_S 0x04
#define RTPG_SUP_AN 0x02
#define RTPG_SUP_AO 0x01
#define RTPG_SUPPORTED (RTPG_SUP_U | RTPG_SUP_S | RTPG_SUP_AN | RTPG_SUP_AO)
/* IMPLICIT TRANSITION TIME of the extended header: changes are immediate */
#define RTPG_TRANSITION_SECS 0
/* STATUS CODE of a descriptor: the last change came from ... */
#define RTPG_STATUS_BY_STPG 0x01	/* SET TARGET PORT GROUPS */
#define RTPG_STATUS_IMPLICIT 0x02	/* the target (ringtgtadm) */

/* SET TARGET PORT GROUPS (SPC-4 §6.42) */
#define STPG_HDR 4
#define STPG_DESC 4

static const char *const alua_names[] = {
	[SCSI_ALUA_ACTIVE_OPTIMIZED] = "active/optimized",
	[SCSI_ALUA_ACTIVE_NON_OPTIMIZED] = "active/non-optimized",
	[SCSI_ALUA_STANDBY] = "standby",
	[SCSI_ALUA_UNAVAILABLE] = "unavailable",
};

const char *scsi_alua_state_name(enum scsi_alua_state state)
{
	if ((unsigned)state >= ARRAY_SIZE(alua_names))
		return NULL;
	return alua_names[state];
}

int scsi_alua_state_parse(const char *name, enum scsi_alua_state *state)
{
	for (unsigned i = 0; i < ARRAY_SIZE(alua_names); i++) {
		if (name && strcmp(name, alua_names[i]) == 0) {
			*state = (enum scsi_alua_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool alua_state_valid(unsigned state)
{
	return state < ARRAY_SIZE(alua_names);
}

void scsi_port_groups_init(struct scsi_port_groups *pg)
{
	memset(pg->g, 0, sizeof(pg->g));
	pthread_mutex_init(&pg->lock, NULL);
	atomic_init(&pg->n, 0);
	atomic_init(&pg->gen, 1);
}

void scsi_port_groups_destroy(struct scsi_port_groups *pg)
{
	pthread_mutex_destroy(&pg->lock);
}

/* The group of @tag, or NULL. Lock-free: entries below n are complete. */
static struct scsi_port_group *pg_find(struct scsi_port_groups *pg,
				       uint16_t tag)
{
	unsigned n = atomic_load_explicit(&pg->n, memory_order_acquire);

	for (unsigned i = 0; i < n; i++)
		if (pg->g[i].tag == tag)
			return &pg->g[i];
	return NULL;
}

int scsi_port_groups_add(struct scsi_port_groups *pg, uint16_t tag,
			 enum scsi_alua_state state)
{
	int rc = 0;
	unsigned n;

	if (tag == 0 || !alua_state_valid(state))
		return -EINVAL;
	pthread_mutex_lock(&pg->lock);
	n = atomic_load_explicit(&pg->n, memory_order_relaxed);
	if (pg_find(pg, tag)) {
		rc = -EEXIST;
	} else if (n == SCSI_MAX_PORT_GROUPS) {
		rc = -ENOSPC;
	} else {
		pg->g[n].tag = tag;
		atomic_store_explicit(&pg->g[n].state, (uint8_t)state,
				      memory_order_relaxed);
		atomic_store_explicit(&pg->g[n].status, 0,
				      memory_order_relaxed);
		atomic_store_explicit(&pg->n, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&pg->lock);
	return rc;
}

/* Sets the state of @g; bumps the generation when it changed. Locked. */
static void pg_change(struct scsi_port_groups *pg, struct scsi_port_group *g,
		      enum scsi_alua_state state, uint8_t status)
{
	if (atomic_load(&g->state) == state)
		return;
	atomic_store(&g->state, (uint8_t)state);
	atomic_store(&g->status, status);
	atomic_fetch_add_explicit(&pg->gen, 1, memory_order_release);
}

int scsi_port_groups_set_state(struct scsi_port_groups *pg, uint16_t tag,
			       enum scsi_alua_state state)
{
	struct scsi_port_group *g;
	int rc = 0;

	if (!alua_state_valid(state))
		return -EINVAL;
	pthread_mutex_lock(&pg->lock);
	g = pg_find(pg, tag);
	if (!g)
		rc = -ENOENT;
	else
		pg_change(pg, g, state, RTPG_STATUS_IMPLICIT);
	pthread_mutex_unlock(&pg->lock);
	return rc;
}

int scsi_port_groups_get_state(struct scsi_port_groups *pg, uint16_t tag,
			       enum scsi_alua_state *state)
{
	struct scsi_port_group *g = pg_find(pg, tag);

	if (!g)
		return -ENOENT;
	*state = (enum scsi_alua_state)atomic_load(&g->state);
	return 0;
}

/* The port group table of @n's target, or NULL. */
static struct scsi_port_groups *nexus_groups(const struct scsi_nexus *n)
{
	return n && n->target ? n->target->port_groups : NULL;
}

const struct scsi_port_group *scsi_alua_group(const struct scsi_nexus *n)
{
	struct scsi_port_groups *pg = nexus_groups(n);

	return pg ? pg_find(pg, n->rel_port_id) : NULL;
}

/*
 * SPC-4 §5.15.2.4.4-5: through a port in standby or unavailable state
 * only the commands the spec lists may run (OPF_ALUA_STANDBY and
 * OPF_ALUA_UNAVAILABLE in the opcode table); the others fail with NOT
 * READY, LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY (04h/0Bh) or
 * UNAVAILABLE (04h/0Ch) STATE. Both active states allow every command.
 */
enum sense_reason scsi_alua_check(const struct scsi_task *t,
				  const struct scsi_opdesc *op)
{
	const struct scsi_port_group *g = scsi_alua_group(t->nexus);
	enum sense_reason reason = SENSE_NONE;

	if (!g || !t->lu)
		return SENSE_NONE;
	switch (atomic_load(&g->state)) {
	case SCSI_ALUA_STANDBY:
		if (!(op->flags & OPF_ALUA_STANDBY))
			reason = SENSE_ALUA_STANDBY;
		break;
	case SCSI_ALUA_UNAVAILABLE:
		if (!(op->flags & OPF_ALUA_UNAVAILABLE))
			reason = SENSE_ALUA_UNAVAILABLE;
		break;
	default:
		break;
	}
	return reason;
}

enum sense_reason scsi_alua_ua_check(struct scsi_lu *lu, struct scsi_nexus *n,
				     bool clear)
{
	struct scsi_port_groups *pg = nexus_groups(n);
	_Atomic uint32_t *seen;
	uint32_t gen, old;

	if (!pg || !lu || lu->lun >= SCSI_MAX_LUNS)
		return SENSE_NONE;
	seen = &n->alua_seen[lu->lun];
	gen = atomic_load_explicit(&pg->gen, memory_order_acquire);
	old = atomic_load_explicit(seen, memory_order_relaxed);
	for (;;) {
		/* 0: the nexus meets the LU now, after any change */
		if (old == gen)
			return SENSE_NONE;
		if (old != 0 && !clear)
			return SENSE_UA_ALUA_CHANGED;
		if (atomic_compare_exchange_weak_explicit(
			    seen, &old, gen, memory_order_relaxed,
			    memory_order_relaxed))
			return old ? SENSE_UA_ALUA_CHANGED : SENSE_NONE;
	}
}

/* --- REPORT TARGET PORT GROUPS ------------------------------------------ */

enum sense_reason spc_parse_rtpg(struct scsi_task *t)
{
	unsigned fmt = t->cdb[1] >> RTPG_FMT_SHIFT;

	if (fmt != RTPG_FMT_LENGTH && fmt != RTPG_FMT_EXTENDED)
		return scsi_invalid_field(t, true, 1, 7);
	t->dir = SCSI_DIR_READ;
	t->data_len = get_be32(t->cdb + 6);
	return SENSE_NONE;
}

void spc_rtpg(struct scsi_task *t)
{
	struct scsi_port_groups *pg = nexus_groups(t->nexus);
	uint8_t b[RTPG_EXT_HDR +
		  SCSI_MAX_PORT_GROUPS * (RTPG_DESC + RTPG_PORT_DESC)];
	bool ext = (t->cdb[1] >> RTPG_FMT_SHIFT) == RTPG_FMT_EXTENDED;
	uint32_t off = ext ? RTPG_EXT_HDR : RTPG_HDR;
	unsigned n = pg ? atomic_load_explicit(&pg->n, memory_order_acquire)
			: 0;

	memset(b, 0, sizeof(b));
	if (ext) {
		b[4] = RTPG_FMT_EXTENDED << 4;	/* FORMAT TYPE */
		b[5] = RTPG_TRANSITION_SECS;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct scsi_port_group *g = &pg->g[i];
		uint8_t *d = b + off;

		d[0] = atomic_load(&g->state);	/* PREF=0 */
		d[1] = RTPG_SUPPORTED;
		put_be16(d + 2, g->tag);
		d[5] = atomic_load(&g->status);
		d[7] = 1;			/* TARGET PORT COUNT */
		/* the group's one port: relative target port id = tag */
		put_be16(d + RTPG_DESC + 2, g->tag);
		off += RTPG_DESC + RTPG_PORT_DESC;
	}
	put_be32(b, off - 4);		/* RETURN DATA LENGTH */
	scsi_task_data_in(t, b, off);
	scsi_task_complete(t);
}

/* --- SET TARGET PORT GROUPS ----------------------------------------------- */

enum sense_reason spc_parse_stpg(struct scsi_task *t)
{
	t->dir = SCSI_DIR_WRITE;
	t->data_len = get_be32(t->cdb + 6);
	return SENSE_NONE;
}

/*
 * SPC-4 §6.42: every descriptor is checked before any state changes; an
 * unknown group or a state we cannot enter (transitioning, offline, ...)
 * is INVALID FIELD IN PARAMETER LIST. The I_T nexus that sent the command
 * gets no unit attention for its own change (§5.15.2.3).
 */
void spc_stpg(struct scsi_task *t)
{
	struct scsi_port_groups *pg = nexus_groups(t->nexus);
	uint32_t n = t->buf ? MIN(t->data_len, t->buf_len) : 0;
	enum sense_reason reason = SENSE_NONE;
	uint32_t ndesc, gen0, gen;

	if (t->data_len == 0)	/* SPC-4 §6.42: not an error */
		goto out;
	if (n < STPG_HDR || (n - STPG_HDR) % STPG_DESC) {
		reason = SENSE_PARAM_LIST_LENGTH;
		goto out;
	}
	if (!pg) {
		reason = scsi_invalid_field(t, false, STPG_HDR + 2, 7);
		goto out;
	}
	ndesc = (n - STPG_HDR) / STPG_DESC;
	pthread_mutex_lock(&pg->lock);
	for (uint32_t i = 0; i < ndesc; i++) {
		const uint8_t *d = t->buf + STPG_HDR + STPG_DESC * i;
		uint32_t at = STPG_HDR + STPG_DESC * i;

		if (!alua_state_valid(d[0] & 0x0f) || (d[0] & 0xf0)) {
			reason = scsi_invalid_field(t, false, (uint16_t)at, 3);
			break;
		}
		if (!pg_find(pg, get_be16(d + 2))) {
			reason = scsi_invalid_field(t, false,
						    (uint16_t)(at + 2), 7);
			break;
		}
	}
	gen0 = atomic_load(&pg->gen);
	for (uint32_t i = 0; reason == SENSE_NONE && i < ndesc; i++) {
		const uint8_t *d = t->buf + STPG_HDR + STPG_DESC * i;

		pg_change(pg, pg_find(pg, get_be16(d + 2)), d[0] & 0x0f,
			  RTPG_STATUS_BY_STPG);
	}
	gen = atomic_load(&pg->gen);
	pthread_mutex_unlock(&pg->lock);
	/* The sender has seen its own change on every LU it has used. */
	if (gen != gen0) {
		for (int l = 0; l < SCSI_MAX_LUNS; l++) {
			uint32_t old = gen0;

			atomic_compare_exchange_strong(&t->nexus->alua_seen[l],
						       &old, gen);
		}
	}
out:
	if (reason != SENSE_NONE)
		scsi_task_fail(t, reason);
	else
		scsi_task_complete(t);
}
