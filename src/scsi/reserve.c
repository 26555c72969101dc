/*
 * reserve.c - SPC-2 reservations: RESERVE(6) / RELEASE(6) (SPC-2 §7.21,
 * §7.23) and RESERVE(10) / RELEASE(10) (SPC-2 §7.22, §7.24).
 *
 * Only logical unit reservations exist here: extents and third-party
 * reservations are obsolete or optional in SPC-2 and refused with INVALID
 * FIELD IN CDB. A reservation belongs to an I_T nexus identity (initiator
 * port name + relative target port), so a second session of the same
 * nexus, e.g. a reinstated one, holds it too. It ends with RELEASE from
 * the holder, the holder's I_T nexus loss (session end, I_T NEXUS RESET)
 * and a LOGICAL UNIT RESET or target reset (SPC-2 §5.5.1, SAM-5 §6.3).
 *
 * While an LU is reserved, commands from other nexuses end in RESERVATION
 * CONFLICT unless their table row carries OPF_RES_OK (scsi.c).
 *
 * Persistent reservations (pr.c) and these exclude each other (SPC-2
 * §5.5.1): while any registration exists, RESERVE and RELEASE conflict,
 * except that from a persistent reservation holder, or from a registrant
 * under a registrants only / all registrants reservation, they complete
 * GOOD and change nothing (SPC-3 §5.6.3 "Exceptions to SPC-2 RESERVE and
 * RELEASE behavior"; SPC-4 §5.13.3 keeps the RELEASE half). While the LU
 * is reserved, every PERSISTENT RESERVE IN / OUT conflicts, the holder's
 * too (pr.c). Both decisions are taken under the PR lock, so a RESERVE
 * and a REGISTER racing on two reactors never both succeed.
 */
#include <stdio.h>
#include <string.h>

#include "scsi/scsi_internal.h"

/* RESERVE / RELEASE CDB byte 1 (SPC-2 §7.21-7.24) */
#define RES_3RDPTY 0x10
#define RES_LONGID 0x02		/* (10) forms only */
#define RES_EXTENT 0x01		/* obsolete: extent reservations */

/* True when @n is the I_T nexus of the reservation (under res_lock). */
static bool res_is_holder(const struct scsi_lu *lu, const struct scsi_nexus *n)
{
	return lu->res_nexus && n && n->rel_port_id == lu->res_rel_port &&
	       strcmp(n->initiator_port, lu->res_port) == 0;
}

bool scsi_lu_res_conflict(struct scsi_lu *lu, const struct scsi_nexus *n)
{
	bool conflict;

	if (!lu || likely(!atomic_load_explicit(&lu->reserved,
						memory_order_acquire)))
		return false;
	pthread_mutex_lock(&lu->res_lock);
	conflict = lu->res_nexus && !res_is_holder(lu, n);
	pthread_mutex_unlock(&lu->res_lock);
	return conflict;
}

bool scsi_lu_res_held(struct scsi_lu *lu)
{
	return atomic_load_explicit(&lu->reserved, memory_order_acquire);
}

void scsi_lu_res_clear(struct scsi_lu *lu)
{
	pthread_mutex_lock(&lu->res_lock);
	lu->res_nexus = NULL;
	atomic_store_explicit(&lu->reserved, false, memory_order_release);
	pthread_mutex_unlock(&lu->res_lock);
}

/*
 * The reservation ends with the holder's I_T nexus. Only the nexus object
 * that took (or last renewed) it releases it: a reinstated session of the
 * same nexus may already hold it anew when the old one is freed.
 */
static void res_nexus_gone(struct scsi_lu *lu, const struct scsi_nexus *n)
{
	pthread_mutex_lock(&lu->res_lock);
	if (lu->res_nexus == n && res_is_holder(lu, n)) {
		lu->res_nexus = NULL;
		atomic_store_explicit(&lu->reserved, false,
				      memory_order_release);
	}
	pthread_mutex_unlock(&lu->res_lock);
}

void scsi_nexus_res_release(struct scsi_nexus *n)
{
	struct scsi_target *tgt = n->target;

	if (!tgt)
		return;
	pthread_mutex_lock(&tgt->lock);
	for (int i = 0; i < SCSI_MAX_LUNS; i++)
		if (tgt->lus[i])
			res_nexus_gone(tgt->lus[i], n);
	pthread_mutex_unlock(&tgt->lock);
}

void scsi_nexus_end(struct scsi_nexus *n)
{
	/* SPC-2 §5.5.1: a reservation does not outlive its I_T nexus */
	scsi_nexus_res_release(n);
}

/*
 * SPC-2 §7.21.2 / §7.22.2: no third-party (3RDPTY, LONGID) and no extent
 * reservations; without LONGID the (10) forms carry no parameter data.
 */
enum sense_reason spc_parse_reserve(struct scsi_task *t)
{
	bool ten = t->cdb[0] == RESERVE_10 || t->cdb[0] == RELEASE_10;

	if (t->cdb[1] & RES_3RDPTY)
		return scsi_invalid_field(t, true, 1, 4);
	if (ten && (t->cdb[1] & RES_LONGID))
		return scsi_invalid_field(t, true, 1, 1);
	if (t->cdb[1] & RES_EXTENT)
		return scsi_invalid_field(t, true, 1, 0);
	if (ten && get_be16(t->cdb + 7))
		return scsi_invalid_field(t, true, 7, -1);
	return SENSE_NONE;
}

void spc_reserve(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	enum sense_reason r = SENSE_NONE;

	if (unlikely(!t->nexus)) {	/* no I_T nexus to hold it */
		scsi_task_fail(t, SENSE_HARDWARE_ERROR);
		return;
	}
	pthread_mutex_lock(&lu->pr.lock);
	switch (scsi_pr_spc2_locked(lu, t->nexus)) {
	case SCSI_PR_SPC2_NOOP:
		goto out;	/* SPC-3 §5.6.3: GOOD, nothing established */
	case SCSI_PR_SPC2_CONFLICT:
		r = SENSE_RESERVATION_CONFLICT;
		goto out;
	case SCSI_PR_SPC2_APPLIES:
		break;
	}
	pthread_mutex_lock(&lu->res_lock);
	if (lu->res_nexus && !res_is_holder(lu, t->nexus)) {
		/* SPC-2 §7.21.2: reserved by another initiator */
		r = SENSE_RESERVATION_CONFLICT;
	} else {
		/* a new reservation, or the holder's again (same nexus) */
		lu->res_nexus = t->nexus;
		snprintf(lu->res_port, sizeof(lu->res_port), "%s",
			 t->nexus->initiator_port);
		lu->res_rel_port = t->nexus->rel_port_id;
		atomic_store_explicit(&lu->reserved, true,
				      memory_order_release);
	}
	pthread_mutex_unlock(&lu->res_lock);
out:
	pthread_mutex_unlock(&lu->pr.lock);
	if (r != SENSE_NONE)
		scsi_task_fail(t, r);
	else
		scsi_task_complete(t);
}

void spc_release(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;
	enum scsi_pr_spc2 pr;

	pthread_mutex_lock(&lu->pr.lock);
	pr = scsi_pr_spc2_locked(lu, t->nexus);
	if (pr == SCSI_PR_SPC2_APPLIES) {
		/* SPC-2 §7.23.2: from any other nexus, GOOD, nothing changes */
		pthread_mutex_lock(&lu->res_lock);
		if (res_is_holder(lu, t->nexus)) {
			lu->res_nexus = NULL;
			atomic_store_explicit(&lu->reserved, false,
					      memory_order_release);
		}
		pthread_mutex_unlock(&lu->res_lock);
	}
	pthread_mutex_unlock(&lu->pr.lock);
	/* SCSI_PR_SPC2_NOOP: GOOD, the persistent reservation stays */
	if (pr == SCSI_PR_SPC2_CONFLICT)
		scsi_task_fail(t, SENSE_RESERVATION_CONFLICT);
	else
		scsi_task_complete(t);
}
