/*
 * pr.c - SCSI-3 persistent reservations (SPC-4 §5.13): PERSISTENT RESERVE
 * IN (§6.15) and OUT (§6.16), the access check every command passes
 * before it runs (SPC-4 §5.13.1 table 46, SBC-3 table 13), and the unit
 * attentions the PR OUT actions raise on other I_T nexuses.
 *
 * The state lives in the LU (struct scsi_pr) under its own mutex: PR OUT
 * commands of different sessions run on different reactors. A
 * registration belongs to an I_T nexus *identity* (initiator port name
 * "<iqn>,i,0x<isid>" + relative target port identifier), never to a
 * struct scsi_nexus: a relogin with the same ISID keeps its registration
 * (SPC-4 §5.13.7).
 *
 * APTPL (SPC-4 §5.13.5): with a state directory (scsi_lu_config), a
 * PR OUT that leaves the last valid APTPL bit at one has the state
 * written durably on a worker thread before it completes; one that sets
 * it to zero has the file removed (end of this file, pr_state.c).
 *
 * PREEMPT AND ABORT (§5.13.11.2.6) is PREEMPT plus the abort of every
 * command of the preempted I_T nexuses on the LU. Only the transport can
 * reach those commands: pr.c hands it the preempted nexus identities
 * (struct scsi_transport_ops of the issuing nexus) and completes the PR
 * OUT in a continuation once the transport says their store I/O is gone,
 * so a fenced node's write never lands after the GOOD status. With APTPL
 * the state is written after the abort and before the status.
 *
 * SPC-2 RESERVE / RELEASE meet persistent reservations as SPC-3 §5.6.3
 * says (scsi_pr_spc2_locked(), used by reserve.c); PERSISTENT RESERVE IN
 * and OUT conflict while an SPC-2 reservation exists (SPC-2 §5.5.1), and
 * REPORT CAPABILITIES sets CRH.
 *
 * SPEC_I_PT (TransportIDs of iSCSI initiator ports, transport_id.c),
 * ALL_TG_PT (every target port of the target: one per port group) and
 * REGISTER AND MOVE register several I_T nexuses at once, all or nothing;
 * an LU holds at most SCSI_PR_MAX_REGS registrations.
 *
 * Not implemented, and refused the SPC-4 way: APTPL=1 without a state
 * directory (INVALID FIELD IN PARAMETER LIST, PTPL_C = 0), iSCSI
 * TransportIDs of format 00b (name only) in a PR OUT parameter list
 * (INVALID FIELD IN PARAMETER LIST, which SPC-4 §7.6.4.6 allows: they
 * would name "all initiator ports known to the device server", which this
 * layer does not track).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "reactor/reactor.h"
#include "scsi/pr_state.h"
#include "scsi/scsi_internal.h"

/* PERSISTENT RESERVE OUT parameter list (SPC-4 §6.16.3, table 213) */
#define PRO_KEY 0
#define PRO_SA_KEY 8
#define PRO_FLAGS 20
#define PRO_LEN 24
#define PRO_SPEC_I_PT 0x08
#define PRO_ALL_TG_PT 0x04
#define PRO_APTPL 0x01

/* Reservation types (SPC-4 §6.15.3.4, table 196) */
#define PR_WR_EX 0x1
#define PR_EX_AC 0x3
#define PR_WR_EX_RO 0x5
#define PR_EX_AC_RO 0x6
#define PR_WR_EX_AR 0x7
#define PR_EX_AC_AR 0x8
#define PR_LU_SCOPE 0x0

struct pr_reg {
	struct pr_reg *next;
	uint64_t key;
	uint16_t rel_port_id;
	bool all_tg_pt;		/* registered with ALL_TG_PT=1 */
	char port[sizeof(((struct scsi_nexus *)0)->initiator_port)];
};

/* A unit attention waiting for the next command of one I_T nexus. */
struct pr_ua {
	struct pr_ua *next;
	enum sense_reason reason;
	uint16_t rel_port_id;
	char port[sizeof(((struct scsi_nexus *)0)->initiator_port)];
};

void scsi_pr_init(struct scsi_lu *lu)
{
	memset(&lu->pr, 0, sizeof(lu->pr));
	pthread_mutex_init(&lu->pr.lock, NULL);
	pthread_mutex_init(&lu->pr.file_lock, NULL);
}

void scsi_pr_destroy(struct scsi_lu *lu)
{
	struct pr_reg *r, *rn;
	struct pr_ua *u, *un;

	for (r = lu->pr.regs; r; r = rn) {
		rn = r->next;
		free(r);
	}
	for (u = lu->pr.uas; u; u = un) {
		un = u->next;
		free(u);
	}
	free(lu->pr.state_path);
	pthread_mutex_destroy(&lu->pr.file_lock);
	pthread_mutex_destroy(&lu->pr.lock);
}

static bool pr_is_nexus(const char *port, uint16_t rel,
			const struct scsi_nexus *n)
{
	/* iSCSI names compare case-insensitively (RFC 3722) */
	return rel == n->rel_port_id &&
	       strcasecmp(port, n->initiator_port) == 0;
}

static struct pr_reg *pr_find(struct scsi_pr *pr, const struct scsi_nexus *n)
{
	if (!n)
		return NULL;
	for (struct pr_reg *r = pr->regs; r; r = r->next)
		if (pr_is_nexus(r->port, r->rel_port_id, n))
			return r;
	return NULL;
}

static bool pr_all_registrants(uint8_t type)
{
	return type == PR_WR_EX_AR || type == PR_EX_AC_AR;
}

static bool pr_type_ok(uint8_t type)
{
	return type == PR_WR_EX || type == PR_EX_AC || type == PR_WR_EX_RO ||
	       type == PR_EX_AC_RO || type == PR_WR_EX_AR || type == PR_EX_AC_AR;
}

/* SPC-4 §5.13.10: with an all registrants type every registrant holds it. */
static bool pr_is_holder(const struct scsi_pr *pr, const struct pr_reg *r)
{
	if (!pr->reserved || !r)
		return false;
	return pr_all_registrants(pr->type) || pr->holder == r;
}

/* Queues @reason for the I_T nexus of @r (once; caller holds the lock). */
static void pr_ua_add(struct scsi_pr *pr, const struct pr_reg *r,
		      enum sense_reason reason)
{
	struct pr_ua *u, **tail = &pr->uas;

	for (u = pr->uas; u; u = u->next) {
		if (u->reason == reason && u->rel_port_id == r->rel_port_id &&
		    strcmp(u->port, r->port) == 0)
			return;
		tail = &u->next;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return;	/* a lost UA is better than a failed PR OUT */
	u->reason = reason;
	u->rel_port_id = r->rel_port_id;
	memcpy(u->port, r->port, sizeof(u->port));
	*tail = u;
	atomic_fetch_add(&pr->n_uas, 1);
}

/* The same UA to every registrant except @except. */
static void pr_ua_all(struct scsi_pr *pr, const struct pr_reg *except,
		      enum sense_reason reason)
{
	for (struct pr_reg *r = pr->regs; r; r = r->next)
		if (r != except)
			pr_ua_add(pr, r, reason);
}

enum sense_reason scsi_pr_ua_check(struct scsi_lu *lu, struct scsi_nexus *n,
				   bool clear)
{
	struct scsi_pr *pr = &lu->pr;
	enum sense_reason reason = SENSE_NONE;
	struct pr_ua **pp;

	if (likely(atomic_load_explicit(&pr->n_uas, memory_order_relaxed) == 0))
		return SENSE_NONE;
	pthread_mutex_lock(&pr->lock);
	for (pp = &pr->uas; *pp; pp = &(*pp)->next) {
		struct pr_ua *u = *pp;

		if (!pr_is_nexus(u->port, u->rel_port_id, n))
			continue;
		reason = u->reason;
		if (clear) {
			*pp = u->next;
			free(u);
			atomic_fetch_sub(&pr->n_uas, 1);
		}
		break;
	}
	pthread_mutex_unlock(&pr->lock);
	return reason;
}

static void pr_release(struct scsi_pr *pr)
{
	pr->reserved = false;
	pr->holder = NULL;
	pr->type = 0;
	atomic_store(&pr->any_reservation, false);
}

static void pr_reserve(struct scsi_pr *pr, struct pr_reg *holder, uint8_t type)
{
	pr->reserved = true;
	pr->holder = holder;
	pr->type = type;
	atomic_store(&pr->any_reservation, true);
}

/*
 * Removes registration @r (SPC-4 §5.13.11.3): a holder of a single-holder
 * reservation releases it; the last registrant of an all registrants one
 * too. Releasing a registrants only reservation this way tells the other
 * registrants (RESERVATIONS RELEASED, §5.13.11.2).
 */
static void pr_unregister(struct scsi_pr *pr, struct pr_reg *r)
{
	struct pr_reg **pp;

	for (pp = &pr->regs; *pp != r; pp = &(*pp)->next)
		;
	*pp = r->next;
	if (pr->reserved) {
		if (pr_all_registrants(pr->type)) {
			if (!pr->regs)
				pr_release(pr);
		} else if (pr->holder == r) {
			if (pr->type == PR_WR_EX_RO || pr->type == PR_EX_AC_RO)
				pr_ua_all(pr, NULL,
					  SENSE_UA_RESERVATIONS_RELEASED);
			pr_release(pr);
		}
	}
	free(r);
}

/* --- the access check (SPC-4 §5.13.1 table 46, SBC-3 table 13) --------- */

/*
 * Called by scsi_task_prepare() for every command on an LU, after the
 * unit attention check. Rows flagged OPF_PR_ALLOW are allowed in every
 * column of the table; OPF_PR_READ rows are the reads ("Allowed" for Write
 * Exclusive types, "Conflict" for Exclusive Access ones); every other row
 * is treated as a write ("Conflict" except for registrants under the
 * registrants only / all registrants types), the table's safe default.
 */
bool scsi_pr_conflict(struct scsi_lu *lu, const struct scsi_nexus *n,
		      const struct scsi_opdesc *op)
{
	struct scsi_pr *pr = &lu->pr;
	struct pr_reg *r;
	bool conflict = false;

	if (likely(!atomic_load_explicit(&pr->any_reservation,
					 memory_order_acquire)))
		return false;
	if (op->flags & OPF_PR_ALLOW)
		return false;
	pthread_mutex_lock(&pr->lock);
	r = pr_find(pr, n);
	if (!pr->reserved || pr_is_holder(pr, r))
		goto out;
	switch (pr->type) {
	case PR_WR_EX:
		conflict = !(op->flags & OPF_PR_READ);
		break;
	case PR_EX_AC:
		conflict = true;
		break;
	case PR_WR_EX_RO:
	case PR_WR_EX_AR:
		conflict = !r && !(op->flags & OPF_PR_READ);
		break;
	case PR_EX_AC_RO:
	case PR_EX_AC_AR:
		conflict = !r;
		break;
	}
out:
	pthread_mutex_unlock(&pr->lock);
	return conflict;
}

/* --- SPC-2 RESERVE and RELEASE (SPC-3 §5.6.3, SPC-4 §5.13.3) ----------- */

enum scsi_pr_spc2 scsi_pr_spc2_locked(struct scsi_lu *lu,
				      const struct scsi_nexus *n)
{
	struct scsi_pr *pr = &lu->pr;
	struct pr_reg *r;

	if (!pr->regs)
		return SCSI_PR_SPC2_APPLIES;
	/*
	 * GOOD, no reservation established or released, when received from
	 * a) a persistent reservation holder, or b) a registrant while a
	 * registrants only or all registrants reservation is present.
	 */
	r = pr_find(pr, n);
	if (r && pr->reserved && (pr_is_holder(pr, r) ||
				  pr->type == PR_WR_EX_RO ||
				  pr->type == PR_EX_AC_RO))
		return SCSI_PR_SPC2_NOOP;
	/* "in all other cases ... as defined in SPC-2": SPC-2 §5.5.1, with a
	 * registration present every RESERVE and RELEASE conflicts */
	return SCSI_PR_SPC2_CONFLICT;
}

/* --- PERSISTENT RESERVE IN (SPC-4 §6.15) ------------------------------- */

enum sense_reason pr_parse_in(struct scsi_task *t)
{
	t->data_len = get_be16(t->cdb + 7);
	t->dir = SCSI_DIR_READ;
	return SENSE_NONE;
}

/* SPC-4 §6.15.2 */
static uint32_t pr_read_keys(struct scsi_pr *pr, uint8_t *b, uint32_t cap)
{
	uint32_t len = 8;

	for (struct pr_reg *r = pr->regs; r; r = r->next) {
		if (len + 8 <= cap)
			put_be64(b + len, r->key);
		len += 8;
	}
	put_be32(b, pr->generation);
	put_be32(b + 4, len - 8);
	return len;
}

/* SPC-4 §6.15.3 */
static uint32_t pr_read_reservation(struct scsi_pr *pr, uint8_t *b)
{
	put_be32(b, pr->generation);
	if (!pr->reserved) {
		put_be32(b + 4, 0);
		return 8;
	}
	put_be32(b + 4, 16);
	memset(b + 8, 0, 16);
	/* §6.15.3.2: all registrants types report key zero */
	if (!pr_all_registrants(pr->type))
		put_be64(b + 8, pr->holder->key);
	b[21] = (uint8_t)(PR_LU_SCOPE << 4 | pr->type);
	return 24;
}

/* SPC-4 §6.15.4, table 198: only what this file implements. */
static uint32_t pr_report_capabilities(uint8_t *b)
{
	memset(b, 0, 8);
	put_be16(b, 8);
	/* byte 2: CRH (SPC-4 §5.13.3), SIP_C, ATP_C; RLR_C zero */
	b[2] = 0x10 | 0x08 | 0x04;
	b[3] = 0x80;	/* TMV: the type mask is valid; PTPL_A = 0 */
	b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; /* WR_EX_AR EX_AC_RO
						  * WR_EX_RO EX_AC WR_EX */
	b[5] = 0x01;	/* EX_AC_AR */
	return 8;
}

/*
 * SPC-4 §6.15.4, table 198: PTPL_C (byte 2 bit 0) when the LU can
 * persist (a state directory), PTPL_A (byte 3 bit 0) when the last valid
 * APTPL bit received was one.
 */
static void pr_report_ptpl(const struct scsi_pr *pr, uint8_t *b)
{
	if (pr->state_path)
		b[2] |= 0x01;
	if (pr->aptpl)
		b[3] |= 0x01;
}

/*
 * An iSCSI TransportID with the ISID, FORMAT CODE 01b (SPC-4 §7.6.4.6,
 * table 508): "<name>,i,0x<isid>", NUL terminated, padded to a multiple
 * of 4 bytes, at least 24 bytes in all.
 */
static uint32_t pr_transport_id(const struct pr_reg *r, uint8_t *b,
				uint32_t cap)
{
	return scsi_tid_encode(r->port, b, cap);
}

/* SPC-4 §6.15.5 */
static uint32_t pr_read_full_status(struct scsi_pr *pr, uint8_t *b,
				    uint32_t cap)
{
	uint32_t len = 8;

	for (struct pr_reg *r = pr->regs; r; r = r->next) {
		uint8_t *d = b + len;
		uint32_t tid;

		tid = pr_transport_id(r, d + 24,
				      len + 24 <= cap ? cap - len - 24 : 0);
		if (len + 24 + tid <= cap) {
			memset(d, 0, 24);
			put_be64(d, r->key);
			if (pr_is_holder(pr, r)) {
				d[12] = 0x01;	/* R_HOLDER */
				d[13] = (uint8_t)(PR_LU_SCOPE << 4 | pr->type);
			}
			if (r->all_tg_pt)
				d[12] |= 0x02;	/* ALL_TG_PT */
			put_be16(d + 18, r->rel_port_id);
			put_be32(d + 20, tid);
		}
		len += 24 + tid;
	}
	put_be32(b, pr->generation);
	put_be32(b + 4, len - 8);
	return len;
}

void pr_in(struct scsi_task *t)
{
	struct scsi_pr *pr = &t->lu->pr;
	uint32_t cap = 8, len = 0;
	uint8_t *b;

	/* SPC-2 §5.5.1: conflicts under RESERVE, from its holder too (the
	 * other nexuses' PR IN already failed in scsi_task_prepare()) */
	if (scsi_lu_res_held(t->lu)) {
		scsi_task_fail(t, SENSE_RESERVATION_CONFLICT);
		return;
	}

	/* room for everything, so the lengths are exact (SPC-4 §4.3.5.6) */
	pthread_mutex_lock(&pr->lock);
	for (struct pr_reg *r = pr->regs; r; r = r->next)
		cap += 24 + 4 + sizeof(r->port) + 4;
	cap = MAX(cap, 24u);
	b = calloc(1, cap);
	if (b) {
		switch (t->op->sa) {
		case PRI_READ_KEYS:
			len = pr_read_keys(pr, b, cap);
			break;
		case PRI_READ_RESERVATION:
			len = pr_read_reservation(pr, b);
			break;
		case PRI_REPORT_CAPABILITIES:
			len = pr_report_capabilities(b);
			pr_report_ptpl(pr, b);
			break;
		case PRI_READ_FULL_STATUS:
			len = pr_read_full_status(pr, b, cap);
			break;
		}
	}
	pthread_mutex_unlock(&pr->lock);
	if (!b) {
		scsi_task_fail(t, SENSE_NO_MEMORY);
		return;
	}
	scsi_task_data_in(t, b, len);
	free(b);
	scsi_task_complete(t);
}

/* --- PERSISTENT RESERVE OUT (SPC-4 §6.16, §5.13.5-5.13.11) ------------- */

enum sense_reason pr_parse_out(struct scsi_task *t)
{
	t->data_len = get_be32(t->cdb + 5);
	t->dir = SCSI_DIR_WRITE;
	return SENSE_NONE;
}

struct pr_out {
	struct scsi_task *t;
	struct scsi_pr *pr;
	struct pr_reg *me;	/* registration of the issuing nexus, or NULL */
	uint64_t key, sa_key;
	uint8_t flags, type, scope;
	/* PREEMPT AND ABORT: the transport was prepared for these nexuses */
	bool fenced;
	struct scsi_itn *victims;
	unsigned nvictims;
};

/* APTPL (end of this file) */
struct pr_persist;
static struct pr_persist *pr_persist_take(struct pr_out *o, uint8_t sa,
					  enum sense_reason *reason);
static void pr_persist_submit(struct scsi_task *t, struct pr_persist *p);

/* --- several I_T nexuses at once: SPEC_I_PT, ALL_TG_PT, REGISTER AND MOVE */

/* the additional parameter data of SPEC_I_PT (SPC-4 §6.16.3, table 215) */
#define PRO_TPDL 24
#define PRO_TIDS 28
/* REGISTER AND MOVE parameter list (SPC-4 §6.16.4, table 217) */
#define PRM_KEY 0
#define PRM_SA_KEY 8
#define PRM_RSVD 16
#define PRM_FLAGS 17
#define PRM_UNREG 0x02
#define PRM_APTPL 0x01
#define PRM_RTPI 18
#define PRM_TID_LEN 20
#define PRM_TID 24

static unsigned pr_count(const struct scsi_pr *pr)
{
	unsigned n = 0;

	for (const struct pr_reg *r = pr->regs; r; r = r->next)
		n++;
	return n;
}

/* The registration of initiator port @port on target port @rel, or NULL. */
static struct pr_reg *pr_find_port(struct pr_reg *list, const char *port,
				   uint16_t rel)
{
	for (struct pr_reg *r = list; r; r = r->next)
		if (r->rel_port_id == rel && strcasecmp(r->port, port) == 0)
			return r;
	return NULL;
}

/*
 * The relative target port identifiers a registration through @n applies
 * to: @n's own; with @all, every target port of the SCSI target device
 * too (SPC-4 §6.16.3 ALL_TG_PT), i.e. one per port group (a group holds
 * one target port whose identifier is the group's tag, alua.c). Returns
 * how many were written to @ports (room for SCSI_MAX_PORT_GROUPS + 1).
 */
static unsigned pr_target_ports(const struct scsi_nexus *n, bool all,
				uint16_t *ports)
{
	struct scsi_port_groups *pg = n->target ? n->target->port_groups : NULL;
	unsigned cnt = 0, ng;

	ports[cnt++] = n->rel_port_id;
	if (!all || !pg)
		return cnt;
	ng = atomic_load_explicit(&pg->n, memory_order_acquire);
	for (unsigned i = 0; i < ng && i < SCSI_MAX_PORT_GROUPS; i++)
		if (pg->g[i].tag != n->rel_port_id)
			ports[cnt++] = pg->g[i].tag;
	return cnt;
}

static bool pr_is_target_port(const struct scsi_nexus *n, uint16_t rel)
{
	uint16_t ports[SCSI_MAX_PORT_GROUPS + 1];
	unsigned cnt = pr_target_ports(n, true, ports);

	for (unsigned i = 0; i < cnt; i++)
		if (ports[i] == rel)
			return true;
	return false;
}

/*
 * Prepends a new registration of (@port, @rel) to *@list, unless the LU
 * would then hold more than SCSI_PR_MAX_REGS (@held already, *@nnew new
 * ones so far). SENSE_NONE, or INSUFFICIENT REGISTRATION RESOURCES (SPC-4
 * §5.13.7), also when memory runs out.
 */
static enum sense_reason pr_new_reg(struct pr_reg **list, unsigned held,
				    unsigned *nnew, const char *port,
				    uint16_t rel, uint64_t key, bool all_tg_pt)
{
	struct pr_reg *r;

	if (held + *nnew >= SCSI_PR_MAX_REGS)
		return SENSE_INSUFFICIENT_REG_RESOURCES;
	r = calloc(1, sizeof(*r));
	if (!r)
		return SENSE_INSUFFICIENT_REG_RESOURCES;
	r->key = key;
	r->rel_port_id = rel;
	r->all_tg_pt = all_tg_pt;
	snprintf(r->port, sizeof(r->port), "%s", port);
	r->next = *list;
	*list = r;
	(*nnew)++;
	return SENSE_NONE;
}

static void pr_free_list(struct pr_reg *r)
{
	struct pr_reg *next;

	for (; r; r = next) {
		next = r->next;
		free(r);
	}
}

/* The sense of a TransportID that scsi_tid_parse() refused with @rc. */
static enum sense_reason pr_tid_reason(struct scsi_task *t, int rc,
				       uint32_t off)
{
	if (rc == -EMSGSIZE)
		return SENSE_PARAM_LIST_LENGTH;	/* truncated */
	return scsi_invalid_field(t, false, (uint16_t)MIN(off, 0xffffu), -1);
}

/*
 * Checks the TransportIDs of a REGISTER with SPEC_I_PT=1 (SPC-4 §6.16.3),
 * before the state is looked at: the list must lie within the parameter
 * list (PARAMETER LIST LENGTH ERROR) and hold only iSCSI initiator port
 * TransportIDs (format 01b) that parse (INVALID FIELD IN PARAMETER LIST,
 * sense filled). Bytes after the list are ignored.
 */
static enum sense_reason pr_tids_check(struct scsi_task *t)
{
	uint32_t end, off;
	struct scsi_tid tid;
	int rc;

	if (t->data_len < PRO_TIDS || t->buf_len < PRO_TIDS)
		return SENSE_PARAM_LIST_LENGTH;
	end = get_be32(t->buf + PRO_TPDL);
	if (end > t->buf_len - PRO_TIDS || end > t->data_len - PRO_TIDS)
		return SENSE_PARAM_LIST_LENGTH;
	end += PRO_TIDS;
	for (off = PRO_TIDS; off < end; off += tid.len) {
		rc = scsi_tid_parse(t->buf + off, end - off, &tid);
		if (rc == 0 && tid.format != SCSI_TID_PORT)
			rc = -EINVAL;	/* 00b: "may be rejected", §7.6.4.6 */
		if (rc < 0)
			return pr_tid_reason(t, rc, off);
	}
	return SENSE_NONE;
}

/*
 * REGISTER / REGISTER AND IGNORE EXISTING KEY with SPEC_I_PT or ALL_TG_PT
 * (SPC-4 §5.13.7 tables 67-69, §6.16.3). The issuer's initiator port is
 * checked on every target port it applies to "as if the same registration
 * request had been received individually through each target port"; the
 * initiator ports of the TransportIDs (already checked by pr_tids_check)
 * must be unregistered on each. All of it happens, or nothing: new
 * registrations are built aside and linked in last.
 */
static enum sense_reason pr_register_ports(struct pr_out *o, bool ignore)
{
	struct scsi_pr *pr = o->pr;
	struct scsi_task *t = o->t;
	const struct scsi_nexus *n = t->nexus;
	bool spec = o->flags & PRO_SPEC_I_PT, all = o->flags & PRO_ALL_TG_PT;
	uint16_t ports[SCSI_MAX_PORT_GROUPS + 1];
	unsigned nports = pr_target_ports(n, all, ports);
	unsigned held = pr_count(pr), nnew = 0, nmine = 0;
	struct pr_reg *fresh = NULL, *r;
	enum sense_reason reason = SENSE_NONE;
	char port[sizeof(r->port)];
	struct scsi_tid tid;

	/* tables 67 and 68 on each I_T nexus of the issuer's port */
	for (unsigned i = 0; i < nports; i++) {
		r = pr_find_port(pr->regs, n->initiator_port, ports[i]);
		if (!ignore && o->key != (r ? r->key : 0))
			return SENSE_RESERVATION_CONFLICT;
		if (r && spec)	/* table 67 footnote c */
			return scsi_invalid_field(t, false, PRO_FLAGS, 3);
		nmine += r != NULL;
	}
	if (o->sa_key == 0) {
		/* unregister where registered; nowhere: "do nothing" */
		if (nmine == 0)
			return SENSE_NONE;
		for (unsigned i = 0; i < nports; i++) {
			r = pr_find_port(pr->regs, n->initiator_port, ports[i]);
			if (r)
				pr_unregister(pr, r);
		}
		pr->generation++;
		return SENSE_NONE;
	}
	for (unsigned i = 0; i < nports && reason == SENSE_NONE; i++)
		if (!pr_find_port(pr->regs, n->initiator_port, ports[i]))
			reason = pr_new_reg(&fresh, held, &nnew,
					    n->initiator_port, ports[i],
					    o->sa_key, all);
	/* each TransportID's initiator port, unregistered, named once */
	if (spec) {
		uint32_t end = PRO_TIDS + get_be32(t->buf + PRO_TPDL);

		for (uint32_t off = PRO_TIDS; off < end && reason == SENSE_NONE;
		     off += tid.len) {
			uint16_t at = (uint16_t)MIN(off, 0xffffu);

			if (scsi_tid_parse(t->buf + off, end - off, &tid) < 0 ||
			    scsi_tid_port_name(&tid, port, sizeof(port)) < 0) {
				reason = scsi_invalid_field(t, false, at, -1);
				break;
			}
			for (unsigned i = 0; i < nports && reason == SENSE_NONE;
			     i++) {
				/* footnote b: registered; or a duplicate */
				if (pr_find_port(pr->regs, port, ports[i]) ||
				    pr_find_port(fresh, port, ports[i]))
					reason = scsi_invalid_field(t, false,
								    at, -1);
				else
					reason = pr_new_reg(&fresh, held, &nnew,
							    port, ports[i],
							    o->sa_key, all);
			}
		}
	}
	if (reason != SENSE_NONE) {
		pr_free_list(fresh);
		return reason;
	}
	for (unsigned i = 0; i < nports; i++) {
		r = pr_find_port(pr->regs, n->initiator_port, ports[i]);
		if (r) {
			r->key = o->sa_key;
			r->all_tg_pt = all;
		}
	}
	while (fresh) {
		r = fresh;
		fresh = r->next;
		r->next = pr->regs;
		pr->regs = r;
	}
	pr->generation++;
	return SENSE_NONE;
}

/* Ends a PR OUT: GOOD, the sense already filled in, or @reason's. */
static void pr_out_end(struct scsi_task *t, enum sense_reason reason)
{
	if (reason == SENSE_NONE || t->status != SAM_STAT_GOOD)
		scsi_task_complete(t);
	else
		scsi_task_fail(t, reason);
}

/*
 * SPC-4 §5.13.8 (table 70), §6.16.4: REGISTER AND MOVE. The holder of a
 * reservation registers the I_T nexus named by the TransportID and the
 * RELATIVE TARGET PORT IDENTIFIER with the SERVICE ACTION RESERVATION KEY,
 * and the reservation moves there, same scope and type (the CDB's SCOPE
 * and TYPE are ignored); with UNREG the issuer is unregistered after.
 */
static enum sense_reason pr_move(struct scsi_task *t,
				 const struct scsi_tid *tid)
{
	struct scsi_pr *pr = &t->lu->pr;
	uint64_t key = get_be64(t->buf + PRM_KEY);
	uint64_t sa_key = get_be64(t->buf + PRM_SA_KEY);
	uint16_t rel = get_be16(t->buf + PRM_RTPI);
	struct pr_reg *me = pr_find(pr, t->nexus), *dst, *fresh = NULL;
	char port[sizeof(me->port)];
	unsigned nnew = 0;
	enum sense_reason reason;

	if (!me || key != me->key)
		return SENSE_RESERVATION_CONFLICT;
	if (!pr->reserved)
		return SENSE_INVALID_FIELD_IN_CDB;	/* §5.13.8 */
	if (pr_all_registrants(pr->type) || pr->holder != me)
		return SENSE_RESERVATION_CONFLICT;
	if (sa_key == 0)
		return scsi_invalid_field(t, false, PRM_SA_KEY, -1);
	if (scsi_tid_port_name(tid, port, sizeof(port)) < 0 ||
	    strcasecmp(port, t->nexus->initiator_port) == 0)
		return scsi_invalid_field(t, false, PRM_TID, -1);  /* self */
	if (!pr_is_target_port(t->nexus, rel))
		return scsi_invalid_field(t, false, PRM_RTPI, -1);
	dst = pr_find_port(pr->regs, port, rel);
	if (!dst) {
		reason = pr_new_reg(&fresh, pr_count(pr), &nnew, port, rel,
				    sa_key, false);
		if (reason != SENSE_NONE)
			return reason;
		dst = fresh;
		dst->next = pr->regs;
		pr->regs = dst;
	}
	/* "not an error ... already registered with ... a different key" */
	dst->key = sa_key;
	pr->holder = dst;
	if (t->buf[PRM_FLAGS] & PRM_UNREG)
		pr_unregister(pr, me);	/* no longer the holder: no release */
	pr->generation++;
	return SENSE_NONE;
}

static void pr_register_move(struct scsi_task *t)
{
	struct scsi_pr *pr = &t->lu->pr;
	struct pr_persist *persist = NULL;
	enum sense_reason reason = SENSE_NONE;
	struct scsi_tid tid;
	uint32_t tid_len;
	int rc;

	/* §6.16.4: the list must hold the whole TransportID */
	if (t->data_len < PRM_TID || t->buf_len < PRM_TID || !t->buf) {
		pr_out_end(t, SENSE_PARAM_LIST_LENGTH);
		return;
	}
	tid_len = get_be32(t->buf + PRM_TID_LEN);
	if (t->buf[PRM_RSVD] || (t->buf[PRM_FLAGS] & ~(PRM_UNREG | PRM_APTPL)))
		reason = scsi_invalid_field(t, false, t->buf[PRM_RSVD] ?
					    PRM_RSVD : PRM_FLAGS, -1);
	else if ((t->buf[PRM_FLAGS] & PRM_APTPL) && !pr->state_path)
		reason = scsi_invalid_field(t, false, PRM_FLAGS, 0); /* PTPL_C=0 */
	else if (tid_len > t->data_len - PRM_TID ||
		 tid_len > t->buf_len - PRM_TID)
		reason = SENSE_PARAM_LIST_LENGTH;
	if (reason != SENSE_NONE) {
		pr_out_end(t, reason);
		return;
	}
	rc = scsi_tid_parse(t->buf + PRM_TID, tid_len, &tid);
	if (rc == 0 && (tid.format != SCSI_TID_PORT || tid.len != tid_len))
		rc = -EINVAL;	/* 00b, or TRANSPORTID LENGTH disagrees */
	if (rc < 0) {
		pr_out_end(t, pr_tid_reason(t, rc, PRM_TID));
		return;
	}
	pthread_mutex_lock(&pr->lock);
	reason = pr_move(t, &tid);
	if (reason == SENSE_NONE) {
		/* §6.16.4: its APTPL bit counts as a REGISTER's does */
		struct pr_out o = {
			.t = t, .pr = pr,
			.flags = (t->buf[PRM_FLAGS] & PRM_APTPL) ? PRO_APTPL : 0,
		};

		persist = pr_persist_take(&o, PRO_REGISTER_MOVE, &reason);
	}
	pthread_mutex_unlock(&pr->lock);
	if (persist) {
		/* SPC-4 §5.13.5: on disk before the command completes */
		pr_persist_submit(t, persist);
		return;
	}
	pr_out_end(t, reason);
}

/* SPC-4 §5.13.7: REGISTER and REGISTER AND IGNORE EXISTING KEY */
static enum sense_reason pr_register(struct pr_out *o, bool ignore)
{
	struct scsi_pr *pr = o->pr;
	const struct scsi_nexus *n = o->t->nexus;
	struct pr_reg *r;

	/* APTPL needs a state directory (PTPL_C); ALL_TG_PT: ATP_C = 0 */
	if ((o->flags & PRO_APTPL) && !pr->state_path)
		return scsi_invalid_field(o->t, false, PRO_FLAGS, 0);
	if (o->flags & (PRO_SPEC_I_PT | PRO_ALL_TG_PT))
		return pr_register_ports(o, ignore);
	if (!o->me) {
		if (!ignore && o->key != 0)
			return SENSE_RESERVATION_CONFLICT;
		if (o->sa_key == 0)
			return SENSE_NONE;	/* nothing to do */
		if (pr_count(pr) >= SCSI_PR_MAX_REGS)
			return SENSE_INSUFFICIENT_REG_RESOURCES;
		r = calloc(1, sizeof(*r));
		if (!r)
			return SENSE_NO_MEMORY;
		r->key = o->sa_key;
		r->rel_port_id = n->rel_port_id;
		memcpy(r->port, n->initiator_port, sizeof(r->port));
		r->next = pr->regs;
		pr->regs = r;
	} else {
		if (!ignore && o->key != o->me->key)
			return SENSE_RESERVATION_CONFLICT;
		if (o->sa_key == 0)
			pr_unregister(pr, o->me);
		else
			o->me->key = o->sa_key;
	}
	pr->generation++;
	return SENSE_NONE;
}

/* SPC-4 §5.13.9 */
static enum sense_reason pr_reserve_sa(struct pr_out *o)
{
	struct scsi_pr *pr = o->pr;

	if (o->scope != PR_LU_SCOPE)
		return scsi_invalid_field(o->t, true, 2, 7);
	if (!pr_type_ok(o->type))
		return scsi_invalid_field(o->t, true, 2, 3);
	if (pr->reserved) {
		/* §5.13.9: the holder may reserve again with the same type */
		if (pr_is_holder(pr, o->me) && pr->type == o->type)
			return SENSE_NONE;
		return SENSE_RESERVATION_CONFLICT;
	}
	pr_reserve(pr, o->me, o->type);
	return SENSE_NONE;
}

/* SPC-4 §5.13.11.2 */
static enum sense_reason pr_release_sa(struct pr_out *o)
{
	struct scsi_pr *pr = o->pr;
	uint8_t type = pr->type;

	if (!pr_is_holder(pr, o->me))
		return SENSE_NONE;	/* no reservation, or not ours */
	if (o->scope != PR_LU_SCOPE || o->type != type)
		return SENSE_INVALID_RELEASE;
	pr_release(pr);
	/* registrants lose access they had only under the reservation */
	if (type != PR_WR_EX && type != PR_EX_AC)
		pr_ua_all(pr, o->me, SENSE_UA_RESERVATIONS_RELEASED);
	return SENSE_NONE;
}

/* SPC-4 §5.13.11.2.6: CLEAR */
static enum sense_reason pr_clear(struct pr_out *o)
{
	struct scsi_pr *pr = o->pr;
	struct pr_reg *r, *next;

	pr_ua_all(pr, o->me, SENSE_UA_RESERVATIONS_PREEMPTED);
	pr_release(pr);
	for (r = pr->regs; r; r = next) {
		next = r->next;
		free(r);
	}
	pr->regs = NULL;
	pr->generation++;
	return SENSE_NONE;
}

/*
 * Removes every registration with key @key except the issuer's, telling
 * each REGISTRATIONS PREEMPTED; returns how many went.
 */
static unsigned pr_remove_key(struct pr_out *o, uint64_t key)
{
	struct scsi_pr *pr = o->pr;
	struct pr_reg *r, *next;
	unsigned n = 0;

	for (r = pr->regs; r; r = next) {
		next = r->next;
		if (r->key != key || r == o->me)
			continue;
		pr_ua_add(pr, r, SENSE_UA_REGISTRATIONS_PREEMPTED);
		pr_unregister(pr, r);
		n++;
	}
	return n;
}

/* SPC-4 §5.13.11.4: PREEMPT */
static enum sense_reason pr_preempt(struct pr_out *o)
{
	struct scsi_pr *pr = o->pr;
	bool all_reg = pr->reserved && pr_all_registrants(pr->type);
	bool holder_key = pr->reserved && !all_reg && pr->holder->key == o->sa_key;
	uint8_t old_type = pr->type;
	struct pr_reg *r, *next;
	unsigned removed;

	if (!pr->reserved || (!all_reg && !holder_key) ||
	    (all_reg && o->sa_key != 0)) {
		/* §5.13.11.4.3: preempt registrations only */
		if (o->sa_key == 0)
			return scsi_invalid_field(o->t, false, PRO_SA_KEY, -1);
		removed = pr_remove_key(o, o->sa_key);
		if (removed == 0 && !(o->me->key == o->sa_key))
			return SENSE_RESERVATION_CONFLICT;
		pr->generation++;
		return SENSE_NONE;
	}
	/* §5.13.11.4.4: preempt the reservation (and registrations) */
	if (o->scope != PR_LU_SCOPE)
		return scsi_invalid_field(o->t, true, 2, 7);
	if (!pr_type_ok(o->type))
		return scsi_invalid_field(o->t, true, 2, 3);
	/* released first, so removing the holder raises no RELEASED UA */
	pr_release(pr);
	if (all_reg) {
		/* sa_key 0: every other registrant goes */
		for (r = pr->regs; r; r = next) {
			next = r->next;
			if (r == o->me)
				continue;
			pr_ua_add(pr, r, SENSE_UA_REGISTRATIONS_PREEMPTED);
			pr_unregister(pr, r);
		}
	} else {
		pr_remove_key(o, o->sa_key);
	}
	pr_reserve(pr, o->me, o->type);
	/* §5.13.11.4.4 e): the survivors learn of a changed type */
	if (o->type != old_type)
		pr_ua_all(pr, o->me, SENSE_UA_RESERVATIONS_RELEASED);
	pr->generation++;
	return SENSE_NONE;
}


/*
 * SPC-4 §5.13.11.2.6: PREEMPT, after the transport was made ready to
 * abort the commands of every I_T nexus the PREEMPT removes (caller holds
 * the lock). They are the registrations pr_preempt() removes: those with
 * the SERVICE ACTION RESERVATION KEY, or every other one when it is zero
 * under an all registrants reservation (§5.13.11.2.4.3 b); never the
 * issuer's. Nothing changes when the transport cannot take it.
 */
static enum sense_reason pr_preempt_abort(struct pr_out *o)
{
	const struct scsi_transport_ops *ops = o->t->nexus->ops;
	struct scsi_pr *pr = o->pr;
	bool all = pr->reserved && pr_all_registrants(pr->type) &&
		   o->sa_key == 0;
	struct pr_reg *r;
	unsigned n = 0;

	/* a transport that cannot abort commands does not offer it */
	if (!ops || !ops->preempt_prepare || !ops->preempt_abort)
		return scsi_invalid_field(o->t, true, 1, 4);
	for (r = pr->regs; r; r = r->next)
		if (r != o->me && (all || r->key == o->sa_key))
			n++;
	o->victims = calloc(MAX(n, 1u), sizeof(*o->victims));
	if (!o->victims)
		return SENSE_NO_MEMORY;
	n = 0;
	for (r = pr->regs; r; r = r->next) {
		if (r == o->me || !(all || r->key == o->sa_key))
			continue;
		memcpy(o->victims[n].initiator_port, r->port, sizeof(r->port));
		o->victims[n++].rel_port_id = r->rel_port_id;
	}
	if (ops->preempt_prepare(o->t, n) != 0) {
		free(o->victims);
		o->victims = NULL;
		return SENSE_NO_MEMORY;	/* TASK SET FULL: nothing changed */
	}
	o->fenced = true;
	o->nvictims = n;
	return pr_preempt(o);
}

/*
 * The continuation of PREEMPT AND ABORT: the preempted commands are
 * gone (§5.13.11.2.6 c), their store I/O done. On @expired the LU is
 * stalled until it is (the transport did it), so nothing newer reaches
 * the medium first: the preemption stands and is reported.
 */
static void pr_preempt_aborted(struct scsi_task *t, bool expired)
{
	struct pr_persist *persist = t->pr_persist;

	(void)expired;
	t->pr_persist = NULL;
	if (persist) {
		/* SPC-4 §5.13.5: on disk before the command completes */
		pr_persist_submit(t, persist);
		return;
	}
	scsi_task_complete(t);	/* GOOD, or the sense of a failed PREEMPT */
}

void pr_out(struct scsi_task *t)
{
	struct pr_out o = { .t = t, .pr = &t->lu->pr };
	struct pr_persist *persist = NULL;
	enum sense_reason reason;
	uint8_t sa = t->op->sa;

	if (sa == PRO_REGISTER_MOVE) {
		pr_register_move(t);	/* its own parameter list (§6.16.4) */
		return;
	}
	/* SPC-4 §6.16.3: 24 bytes unless SPEC_I_PT */
	if (t->data_len < PRO_LEN || t->buf_len < PRO_LEN || !t->buf) {
		scsi_task_fail(t, SENSE_PARAM_LIST_LENGTH);
		return;
	}
	o.key = get_be64(t->buf + PRO_KEY);
	o.sa_key = get_be64(t->buf + PRO_SA_KEY);
	o.flags = t->buf[PRO_FLAGS];
	o.scope = t->cdb[2] >> 4;
	o.type = t->cdb[2] & 0x0f;
	if (o.flags & PRO_SPEC_I_PT) {
		/* §6.16.3: only REGISTER takes TransportIDs */
		reason = sa == PRO_REGISTER ? pr_tids_check(t)
			 : scsi_invalid_field(t, false, PRO_FLAGS, 3);
		if (reason != SENSE_NONE) {
			pr_out_end(t, reason);
			return;
		}
	} else if (t->data_len != PRO_LEN) {
		scsi_task_fail(t, SENSE_PARAM_LIST_LENGTH);
		return;
	}

	pthread_mutex_lock(&o.pr->lock);
	o.me = pr_find(o.pr, t->nexus);
	if (scsi_lu_res_held(t->lu)) {
		/* SPC-2 §5.5.1: every PR OUT conflicts under RESERVE */
		reason = SENSE_RESERVATION_CONFLICT;
	} else if (sa == PRO_REGISTER || sa == PRO_REGISTER_IGNORE) {
		reason = pr_register(&o, sa == PRO_REGISTER_IGNORE);
	} else if (!o.me || o.key != o.me->key) {
		/* §5.13.5: only a registrant, with its key, may do the rest */
		reason = SENSE_RESERVATION_CONFLICT;
	} else if (sa == PRO_RESERVE) {
		reason = pr_reserve_sa(&o);
	} else if (sa == PRO_RELEASE) {
		reason = pr_release_sa(&o);
	} else if (sa == PRO_CLEAR) {
		reason = pr_clear(&o);
	} else if (sa == PRO_PREEMPT_ABORT) {
		reason = pr_preempt_abort(&o);
	} else {
		reason = pr_preempt(&o);
	}
	if (reason == SENSE_NONE)
		persist = pr_persist_take(&o, sa, &reason);
	pthread_mutex_unlock(&o.pr->lock);

	if (o.fenced) {
		/*
		 * answered by pr_preempt_aborted(), after the abort (and the
		 * APTPL write); nothing to abort if the PREEMPT failed
		 */
		if (reason != SENSE_NONE && t->status == SAM_STAT_GOOD)
			scsi_task_set_sense(t, reason);
		t->pr_persist = persist;
		t->nexus->ops->preempt_abort(t, o.victims, reason == SENSE_NONE ?
					     o.nvictims : 0,
					     pr_preempt_aborted);
		free(o.victims);
		return;
	}
	if (persist) {
		/* SPC-4 §5.13.5: on disk before the command completes */
		pr_persist_submit(t, persist);
		return;
	}
	if (reason == SENSE_NONE)
		scsi_task_complete(t);
	else if (t->status != SAM_STAT_GOOD)
		scsi_task_complete(t);	/* scsi_invalid_field() filled it */
	else
		scsi_task_fail(t, reason);
}

/* --- APTPL: the state file (SPC-4 §5.13.5, §6.16.3) --------------------- */

/*
 * One snapshot on its way to the disk, owned by the PR OUT that took it.
 * Snapshots of one LU are numbered (pr->seq) under the PR lock; the
 * writer, under file_lock, skips one older than what the file already
 * holds, so the disk never goes back to an older state, whatever order
 * the worker threads run them in.
 */
struct pr_persist {
	struct ev_work work;
	struct scsi_task *t;
	struct scsi_pr *pr;
	uint64_t seq;
	char *text;		/* the file's new content; NULL: remove it */
	int rc;
};

/* The state under pr->lock as a value. 0 or -ENOMEM. */
static int pr_snapshot(struct scsi_lu *lu, struct scsi_pr_state *s)
{
	struct scsi_pr *pr = &lu->pr;
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	memcpy(s->naa, lu->naa, sizeof(s->naa));
	s->aptpl = pr->aptpl;
	s->generation = pr->generation;
	s->holder = -1;
	for (struct pr_reg *r = pr->regs; r; r = r->next)
		n++;
	s->regs = n ? calloc(n, sizeof(*s->regs)) : NULL;
	if (n && !s->regs)
		return -ENOMEM;
	for (struct pr_reg *r = pr->regs; r; r = r->next) {
		struct scsi_pr_state_reg *d = &s->regs[s->n_regs];

		static_assert(sizeof(d->port) == sizeof(r->port), "");
		d->key = r->key;
		d->rel_port_id = r->rel_port_id;
		d->all_tg_pt = r->all_tg_pt;
		memcpy(d->port, r->port, sizeof(d->port));
		if (pr->reserved && pr->holder == r &&
		    !pr_all_registrants(pr->type))
			s->holder = (int)s->n_regs;
		s->n_regs++;
	}
	s->reserved = pr->reserved;
	s->type = pr->reserved ? pr->type : 0;
	s->scope = PR_LU_SCOPE;
	return 0;
}

/*
 * After a PR OUT of service action @sa succeeded, under pr->lock: records
 * the APTPL bit of a REGISTER or REGISTER AND MOVE and returns the
 * snapshot to persist, or NULL when nothing is to be written (no state
 * directory; APTPL zero and no file). When the snapshot cannot be made,
 * *reason becomes HARDWARE ERROR (the change stays, see docs/clusters.md).
 */
static struct pr_persist *pr_persist_take(struct pr_out *o, uint8_t sa,
					  enum sense_reason *reason)
{
	struct scsi_pr *pr = o->pr;
	struct scsi_pr_state s;
	struct pr_persist *p;

	if (!pr->state_path)
		return NULL;
	/* §6.16.3, §6.16.4: the APTPL bit is valid in these three only */
	if (sa == PRO_REGISTER || sa == PRO_REGISTER_IGNORE ||
	    sa == PRO_REGISTER_MOVE)
		pr->aptpl = (o->flags & PRO_APTPL) != 0;
	if (!pr->aptpl && !pr->on_disk && !atomic_exchange(&pr->file_stale,
							   false))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto err;
	if (pr->aptpl) {
		if (pr_snapshot(o->t->lu, &s) < 0)
			goto err;
		p->text = scsi_pr_state_encode(&s);
		scsi_pr_state_free(&s);
		if (!p->text)
			goto err;
	}
	p->t = o->t;
	p->pr = pr;
	p->seq = ++pr->seq;
	pr->on_disk = pr->aptpl;
	return p;
err:
	free(p);
	atomic_store(&pr->file_stale, true);
	*reason = SENSE_HARDWARE_ERROR;
	return NULL;
}

/* Worker thread: the file write or removal, in snapshot order. */
static void pr_persist_run(struct ev_work *w)
{
	struct pr_persist *p = container_of(w, struct pr_persist, work);
	struct scsi_pr *pr = p->pr;

	pthread_mutex_lock(&pr->file_lock);
	if (!pr->forgotten && p->seq > pr->file_seq) {
		p->rc = p->text ? scsi_pr_state_write(pr->state_path, p->text)
				: scsi_pr_state_remove(pr->state_path);
		if (p->rc == 0) {
			pr->file_seq = p->seq;
		} else {
			atomic_store(&pr->file_stale, true);
			log_err("%s: cannot %s the persistent reservation state: %s",
				pr->state_path, p->text ? "write" : "remove",
				strerror(-p->rc));
		}
	}
	pthread_mutex_unlock(&pr->file_lock);
}

/* The task's reactor: the PR OUT completes. */
static void pr_persist_done(struct ev_work *w)
{
	struct pr_persist *p = container_of(w, struct pr_persist, work);
	struct scsi_task *t = p->t;
	int rc = p->rc;

	free(p->text);
	free(p);
	/*
	 * LIO answers LOGICAL UNIT COMMUNICATION FAILURE here; INTERNAL
	 * TARGET FAILURE says the same without inviting a blind retry.
	 */
	if (rc)
		scsi_task_fail(t, SENSE_HARDWARE_ERROR);
	else
		scsi_task_complete(t);
}

static void pr_persist_submit(struct scsi_task *t, struct pr_persist *p)
{
	p->work.fn = pr_persist_run;
	p->work.done = pr_persist_done;
	if (reactor_work(t->r, &p->work) < 0) {
		atomic_store(&p->pr->file_stale, true);
		p->rc = -EAGAIN;
		pr_persist_done(&p->work);
	}
}

/* Builds the registrations of @s on @pr (empty); 0 or -ENOMEM. */
static int pr_restore(struct scsi_pr *pr, const struct scsi_pr_state *s)
{
	struct pr_reg *holder = NULL;

	/* regs is newest first, as the snapshot lists them */
	for (size_t i = s->n_regs; i-- > 0;) {
		struct pr_reg *r = calloc(1, sizeof(*r));

		if (!r)
			return -ENOMEM;
		r->key = s->regs[i].key;
		r->rel_port_id = s->regs[i].rel_port_id;
		r->all_tg_pt = s->regs[i].all_tg_pt;
		memcpy(r->port, s->regs[i].port, sizeof(r->port));
		r->next = pr->regs;
		pr->regs = r;
		if ((int)i == s->holder)
			holder = r;
	}
	pr->generation = s->generation;
	if (s->reserved)
		pr_reserve(pr, holder, s->type);
	pr->aptpl = true;
	pr->on_disk = true;
	return 0;
}

void scsi_pr_state_attach(struct scsi_lu *lu, const char *dir)
{
	struct scsi_pr *pr = &lu->pr;
	struct scsi_pr_state s = { .holder = -1 };
	char path[4096], why[200];
	char *text = NULL;
	size_t len;
	int rc;

	if (!dir)
		return;
	if (scsi_pr_state_path(dir, lu->naa, path, sizeof(path)) < 0 ||
	    !(pr->state_path = strdup(path))) {
		log_err("LUN %" PRIu64 ": no APTPL state file under %s: %s",
			lu->lun, dir, "path too long or out of memory");
		return;
	}
	rc = scsi_pr_state_read(path, &text, &len);
	if (rc == -ENOENT)
		return;
	snprintf(why, sizeof(why), "out of memory");
	if (rc == 0)
		rc = scsi_pr_state_decode(text, len, &s, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "cannot read it: %s", strerror(-rc));
	if (rc == 0 && memcmp(s.naa, lu->naa, sizeof(s.naa)) != 0) {
		snprintf(why, sizeof(why), "it belongs to another LU (naa)");
		rc = -EINVAL;
	}
	if (rc == 0 && !s.aptpl) {
		snprintf(why, sizeof(why), "its aptpl is false");
		rc = -EINVAL;
	}
	if (rc == 0) {
		pthread_mutex_lock(&pr->lock);
		rc = pr_restore(pr, &s);
		pthread_mutex_unlock(&pr->lock);
		if (rc)
			snprintf(why, sizeof(why), "out of memory");
	}
	if (rc) {
		/* partial registrations go; the file stays for the admin */
		for (struct pr_reg *r = pr->regs, *n; r; r = n) {
			n = r->next;
			free(r);
		}
		pr->regs = NULL;
		pr_release(pr);
		pr->generation = 0;
		pr->aptpl = false;
		pr->on_disk = false;
		log_err("%s: persistent reservation state refused: %s; LUN %"
			PRIu64 " starts without it", path, why, lu->lun);
	} else {
		log_info("%s: LUN %" PRIu64 ": restored %zu registration%s%s "
			 "(APTPL)", path, lu->lun, s.n_regs,
			 s.n_regs == 1 ? "" : "s",
			 s.reserved ? " and the reservation" : "");
	}
	scsi_pr_state_free(&s);
	free(text);
}

void scsi_lu_forget_state(struct scsi_lu *lu)
{
	struct scsi_pr *pr = &lu->pr;
	int rc;

	if (!pr->state_path)
		return;
	pthread_mutex_lock(&pr->file_lock);
	pr->forgotten = true;
	rc = scsi_pr_state_remove(pr->state_path);
	pthread_mutex_unlock(&pr->file_lock);
	if (rc)
		log_warn("%s: cannot remove: %s", pr->state_path,
			 strerror(-rc));
}
