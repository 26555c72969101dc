/*
 * lu.c - logical units and the LUN table of a target.
 *
 * An LU's identity (unit serial number, NAA designator) is derived only
 * from the target name, the LUN and the configured serial, through
 * name-based (SHA-1, RFC 4122 version 5) UUIDs. So the same configuration
 * gives the same /dev/disk/by-id names and multipath WWIDs after every
 * restart, on every host, with nothing stored on disk.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "base/log.h"
#include "scsi/scsi_internal.h"

/* Namespace of ringtgt's name-based UUIDs; never change it. */
static const uuid_t ringtgt_ns = {
	0xe5, 0xbc, 0x04, 0xec, 0xd2, 0x2c, 0x45, 0x32,
	0xa4, 0x1f, 0x5e, 0x50, 0x47, 0x3d, 0xee, 0xa4,
};

/* SHA-1 UUID of "<kind>\n<target>\n<lun>\n<serial>". */
static void lu_name_uuid(uuid_t out, const char *kind, const char *target,
			 uint64_t lun, const char *serial)
{
	char name[512];
	int n = snprintf(name, sizeof(name), "%s\n%s\n%" PRIu64 "\n%s", kind,
			 target ? target : "", lun, serial ? serial : "");

	if (n < 0)
		n = 0;
	uuid_generate_sha1(out, ringtgt_ns, name,
			   MIN((size_t)n, sizeof(name) - 1));
}

/*
 * NAA IEEE Registered Extended (SPC-4 §7.8.6.6.5): NAA=6, 24-bit OUI,
 * 100 bits vendor specific. Those bits come from the UUID, skipping its
 * version (byte 6) and variant (byte 8) bytes, which never vary.
 */
static void lu_make_naa(struct scsi_lu *lu, const char *target)
{
	uuid_t u;
	uint8_t src[14];
	uint8_t *d = lu->naa;

	lu_name_uuid(u, "naa", target, lu->lun, lu->serial);
	memcpy(src, u, 6);
	src[6] = u[7];
	memcpy(src + 7, u + 9, 7);

	d[0] = 0x60 | (uint8_t)(SCSI_NAA_OUI >> 20);
	d[1] = (uint8_t)(SCSI_NAA_OUI >> 12);
	d[2] = (uint8_t)(SCSI_NAA_OUI >> 4);
	d[3] = (uint8_t)((SCSI_NAA_OUI & 0xf) << 4) | (src[0] >> 4);
	for (int i = 4; i < 16; i++)
		d[i] = (uint8_t)(src[i - 4] << 4) | (src[i - 3] >> 4);
}

/*
 * Unit attention generations (SAM-5 §5.14). One counter for all LUs; a
 * nexus keeps, per LUN, the generation it last saw (0: never used it).
 * A nexus that first meets an LU takes its current generation without a
 * UA; an LU reset moves the LU to a new generation, and every nexus whose
 * recorded one is older but not older than the LU itself gets the UA.
 */
static _Atomic uint32_t ua_counter = 1;

static uint32_t ua_next(void)
{
	return atomic_fetch_add_explicit(&ua_counter, 1,
					 memory_order_relaxed) + 1;
}

/* Copies @s into @dst (at most @max chars), non-printables as '_'. */
static void lu_copy_ascii(char *dst, const char *s, size_t max)
{
	size_t i;

	for (i = 0; i < max && s[i]; i++)
		dst[i] = (s[i] >= 0x20 && s[i] <= 0x7e) ? s[i] : '_';
	dst[i] = '\0';
}

static bool lu_serial_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SCSI_SERIAL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

struct scsi_lu *scsi_lu_new(const struct scsi_lu_config *cfg)
{
	struct scsi_lu *lu;
	const char *v;
	int rc = -EINVAL;

	if (cfg->type != SCSI_LU_DISK && cfg->type != SCSI_LU_CONTROLLER)
		goto err;
	if (cfg->type == SCSI_LU_DISK && !cfg->bs)
		goto err;
	if (cfg->serial && !lu_serial_ok(cfg->serial))
		goto err;

	lu = calloc(1, sizeof(*lu));
	if (!lu) {
		rc = -ENOMEM;
		goto err;
	}
	atomic_init(&lu->refs, 1);
	atomic_init(&lu->aborted_inflight, 0);
	atomic_init(&lu->stalled, false);
	lu->tas = cfg->tas;
	lu->ua_base = ua_next();
	atomic_init(&lu->ua_gen, lu->ua_base);
	atomic_init(&lu->cap_gen, lu->ua_base);
	pthread_mutex_init(&lu->caw_lock, NULL);
	scsi_pr_init(lu);
	pthread_mutex_init(&lu->res_lock, NULL);
	lu->type = cfg->type;
	lu->lun = cfg->lun;

	if (cfg->type == SCSI_LU_DISK) {
		uint32_t bsz = cfg->block_size ? cfg->block_size : 512;

		if (bsz < 512 || bsz > 4096 || (bsz & (bsz - 1)))
			goto err_free;
		/* the store cannot address less than its logical block */
		if (cfg->bs->logical_block > bsz)
			goto err_free;
		lu->block_size = bsz;
		lu->block_shift = (unsigned)__builtin_ctz(bsz);
		if (cfg->bs->physical_block > bsz &&
		    !(cfg->bs->physical_block & (cfg->bs->physical_block - 1)))
			lu->phys_exp = (unsigned)__builtin_ctz(
				cfg->bs->physical_block) - lu->block_shift;
		atomic_init(&lu->nblocks, cfg->bs->size >> lu->block_shift);
		if (scsi_lu_nblocks(lu) == 0)
			goto err_free;
		if (cfg->bs->size & (bsz - 1))
			log_warn("LUN %" PRIu64 ": size is not a multiple of %u; "
				 "the tail is not exported", cfg->lun, bsz);
		lu->readonly = cfg->readonly || cfg->bs->readonly;
	}

	lu_copy_ascii(lu->vendor, cfg->vendor ? cfg->vendor : "RINGTGT",
		      SCSI_VENDOR_LEN);
	v = cfg->product ? cfg->product
	    : cfg->type == SCSI_LU_DISK ? "VIRTUAL-DISK" : "CONTROLLER";
	lu_copy_ascii(lu->product, v, SCSI_PRODUCT_LEN);
	/* PRODUCT REVISION LEVEL: "major.minor" of the release */
	{
		const char *ver = RINGTGT_VERSION;
		size_t n = strcspn(ver, ".");

		if (ver[n] == '.')
			n += 1 + strcspn(ver + n + 1, ".");
		lu_copy_ascii(lu->revision, ver, MIN(n, SCSI_REVISION_LEN));
	}

	if (cfg->serial) {
		snprintf(lu->serial, sizeof(lu->serial), "%s", cfg->serial);
	} else {
		uuid_t u;

		lu_name_uuid(u, "serial", cfg->target_name, cfg->lun, NULL);
		for (int i = 0; i < 8; i++)
			snprintf(lu->serial + 2 * i, 3, "%02x", u[i]);
	}
	lu_make_naa(lu, cfg->target_name);
	/* keyed by the NAA designator: after it is known */
	scsi_pr_state_attach(lu, cfg->state_dir);

	lu->bs = cfg->bs;	/* ownership passes only on success */
	return lu;

err_free:
	scsi_pr_destroy(lu);
	pthread_mutex_destroy(&lu->res_lock);
	pthread_mutex_destroy(&lu->caw_lock);
	free(lu);
err:
	errno = -rc;
	return NULL;
}

void scsi_lu_get(struct scsi_lu *lu)
{
	atomic_fetch_add_explicit(&lu->refs, 1, memory_order_relaxed);
}

void scsi_lu_put(struct scsi_lu *lu)
{
	if (!lu)
		return;
	if (atomic_fetch_sub_explicit(&lu->refs, 1, memory_order_acq_rel) != 1)
		return;
	bs_close(lu->bs);
	scsi_pr_destroy(lu);
	pthread_mutex_destroy(&lu->res_lock);
	pthread_mutex_destroy(&lu->caw_lock);
	free(lu);
}

uint64_t scsi_lu_lun(const struct scsi_lu *lu)
{
	return lu->lun;
}

enum scsi_lu_type scsi_lu_type(const struct scsi_lu *lu)
{
	return lu->type;
}

struct bs *scsi_lu_bs(const struct scsi_lu *lu)
{
	return lu->bs;
}

const char *scsi_lu_serial(const struct scsi_lu *lu)
{
	return lu->serial;
}

bool scsi_lu_tas(const struct scsi_lu *lu)
{
	return lu->tas;
}

unsigned scsi_lu_aborted_inflight(const struct scsi_lu *lu)
{
	return atomic_load(&lu->aborted_inflight);
}

void scsi_lu_stall(struct scsi_lu *lu)
{
	atomic_store(&lu->stalled, true);
	/* the last aborted I/O may have finished meanwhile: see scsi.c */
	if (atomic_load(&lu->aborted_inflight) == 0)
		atomic_store(&lu->stalled, false);
}

bool scsi_lu_stalled(const struct scsi_lu *lu)
{
	return atomic_load_explicit(&lu->stalled, memory_order_relaxed);
}

void scsi_lu_reset(struct scsi_lu *lu)
{
	/* SPC-2 §5.5.1: a reset releases the SPC-2 reservation */
	scsi_lu_res_clear(lu);
	atomic_store_explicit(&lu->ua_gen, ua_next(), memory_order_release);
}

uint32_t scsi_lu_block_size(const struct scsi_lu *lu)
{
	return lu->type == SCSI_LU_DISK ? lu->block_size : 0;
}

uint64_t scsi_lu_capacity(const struct scsi_lu *lu)
{
	if (lu->type != SCSI_LU_DISK)
		return 0;
	return scsi_lu_nblocks(lu) << lu->block_shift;
}

/* True once no medium-changing command runs (see scsi_lu_set_capacity). */
static bool lu_writes_idle(struct scsi_lu *lu)
{
	/* seq_cst, against scsi_lu_write_enter() and the CAW gate */
	return atomic_load(&lu->writers) == 0 && !atomic_load(&lu->caw_active);
}

int scsi_lu_set_capacity(struct scsi_lu *lu, uint64_t nblocks,
			 unsigned wait_ms)
{
	uint64_t old;

	if (lu->type != SCSI_LU_DISK || nblocks == 0)
		return -EINVAL;
	/*
	 * seq_cst store, then the writers count: a write that entered the
	 * gate before the store is counted here and waited for; one that
	 * enters after it checks its range against the new capacity
	 * (scsi_task_exec, cmp_start). Reads need no wait: the store fails
	 * them beyond its end (-ERANGE, or nothing read: LBA OUT OF RANGE).
	 */
	old = atomic_exchange(&lu->nblocks, nblocks);
	if (nblocks >= old)
		return 0;
	for (unsigned ms = 0; !lu_writes_idle(lu); ms++) {
		struct timespec one = { 0, 1000000 };

		if (ms >= wait_ms) {
			atomic_store(&lu->nblocks, old);
			return -EBUSY;
		}
		nanosleep(&one, NULL);
	}
	return 0;
}

void scsi_lu_capacity_changed(struct scsi_lu *lu)
{
	atomic_store_explicit(&lu->cap_gen, ua_next(), memory_order_release);
}

static enum sense_reason lu_reset_ua(struct scsi_lu *lu, struct scsi_nexus *n,
				     bool clear);
static enum sense_reason lu_cap_ua(struct scsi_lu *lu, struct scsi_nexus *n,
				   bool clear);
static void lu_cap_meet(struct scsi_lu *lu, struct scsi_nexus *n);

enum sense_reason scsi_lu_ua_check(struct scsi_lu *lu, struct scsi_nexus *n,
				   bool clear)
{
	enum sense_reason reason;

	if (!lu || !n || lu->lun >= SCSI_MAX_LUNS)
		return SENSE_NONE;
	/* a first command records the capacity seen, even if it fails
	 * with another unit attention */
	if (clear)
		lu_cap_meet(lu, n);
	reason = lu_reset_ua(lu, n, clear);
	if (reason != SENSE_NONE)
		return reason;
	if (n->ua_nexus_loss[lu->lun]) {
		if (clear)
			n->ua_nexus_loss[lu->lun] = false;
		return SENSE_UA_NEXUS_LOSS;
	}
	reason = lu_cap_ua(lu, n, clear);
	if (reason != SENSE_NONE)
		return reason;
	reason = scsi_pr_ua_check(lu, n, clear);
	if (reason != SENSE_NONE)
		return reason;
	return scsi_alua_ua_check(lu, n, clear);
}

enum sense_reason scsi_ua_pending(struct scsi_lu *lu, struct scsi_nexus *n)
{
	return scsi_lu_ua_check(lu, n, false);
}

void scsi_nexus_loss(struct scsi_nexus *n)
{
	for (int i = 0; i < SCSI_MAX_LUNS; i++)
		n->ua_nexus_loss[i] = true;
	/* SPC-2 §5.5.1: I_T nexus loss releases the nexus's reservations */
	scsi_nexus_res_release(n);
}

/* True when @seen was recorded before @lu existed (or never). */
static bool lu_seen_before(const struct scsi_lu *lu, uint32_t seen)
{
	/* Unsigned differences: correct across counter wrap-around. */
	return seen == 0 || (int32_t)(seen - lu->ua_base) < 0;
}

/*
 * A generation unit attention (see above): @reason when the nexus's
 * @seen is older than the LU's @gen but not older than the LU itself;
 * when @clear, @seen catches up (so it is reported once).
 */
static enum sense_reason lu_gen_ua(struct scsi_lu *lu, _Atomic uint32_t *seen,
				   _Atomic uint32_t *genp,
				   enum sense_reason reason, bool clear)
{
	uint32_t gen, old;

	gen = atomic_load_explicit(genp, memory_order_acquire);
	old = atomic_load_explicit(seen, memory_order_relaxed);
	for (;;) {
		bool before_lu = lu_seen_before(lu, old);

		if (old == gen)
			return SENSE_NONE;
		if (!before_lu && !clear)
			return reason;
		if (atomic_compare_exchange_weak_explicit(
			    seen, &old, gen, memory_order_relaxed,
			    memory_order_relaxed))
			return before_lu ? SENSE_NONE : reason;
	}
}

/* The LU reset unit attention (generations, see above). */
static enum sense_reason lu_reset_ua(struct scsi_lu *lu, struct scsi_nexus *n,
				     bool clear)
{
	return lu_gen_ua(lu, &n->ua_seen[lu->lun], &lu->ua_gen,
			 SENSE_UA_LU_RESET, clear);
}

/* CAPACITY DATA HAS CHANGED (SBC-4 §4.6), by generations too. */
static enum sense_reason lu_cap_ua(struct scsi_lu *lu, struct scsi_nexus *n,
				   bool clear)
{
	return lu_gen_ua(lu, &n->cap_seen[lu->lun], &lu->cap_gen,
			 SENSE_UA_CAPACITY_CHANGED, clear);
}

/* A nexus meeting the LU takes its capacity generation without a UA. */
static void lu_cap_meet(struct scsi_lu *lu, struct scsi_nexus *n)
{
	_Atomic uint32_t *seen = &n->cap_seen[lu->lun];
	uint32_t old = atomic_load_explicit(seen, memory_order_relaxed);

	if (lu_seen_before(lu, old))
		atomic_compare_exchange_strong(
			seen, &old,
			atomic_load_explicit(&lu->cap_gen, memory_order_acquire));
}

/* --- the write gate of COMPARE AND WRITE ------------------------------------ */

static void write_resume(struct ev_post *p);
static void caw_drain_wake(struct scsi_task *t);

/* Runs @fn(t) on t's reactor (or now, without one: tools and tests). */
static void run_on_reactor(struct scsi_task *t, void (*fn)(struct ev_post *))
{
	if (!t->r) {
		t->post.fn = fn;
		fn(&t->post);
		return;
	}
	t->post.fn = fn;
	reactor_post_node(t->r, &t->post);
}

/* One writer less; the last one lets a draining CAW go. */
static void writer_leave(struct scsi_lu *lu)
{
	struct scsi_task *caw;

	if (atomic_fetch_sub(&lu->writers, 1) != 1 ||
	    !atomic_load(&lu->caw_active))
		return;
	pthread_mutex_lock(&lu->caw_lock);
	caw = atomic_load(&lu->writers) == 0 ? lu->caw_drain : NULL;
	if (caw)
		lu->caw_drain = NULL;
	pthread_mutex_unlock(&lu->caw_lock);
	if (caw)
		caw_drain_wake(caw);	/* on the CAW's own reactor */
}

bool scsi_lu_write_enter(struct scsi_task *t)
{
	struct scsi_lu *lu = t->lu;

	for (;;) {
		/* seq_cst pairs with the CAW's store of caw_active */
		atomic_fetch_add(&lu->writers, 1);
		if (likely(!atomic_load(&lu->caw_active))) {
			t->gated = true;
			return true;
		}
		writer_leave(lu);
		pthread_mutex_lock(&lu->caw_lock);
		if (atomic_load(&lu->caw_active)) {
			scsi_task_fifo_push(&lu->blocked_head,
					    &lu->blocked_tail, t);
			pthread_mutex_unlock(&lu->caw_lock);
			return false;
		}
		pthread_mutex_unlock(&lu->caw_lock);
	}
}

void scsi_lu_write_exit(struct scsi_task *t)
{
	t->gated = false;
	writer_leave(t->lu);
}

/* A write that waited for a CAW runs now (or ends, if it was aborted). */
static void write_resume(struct ev_post *p)
{
	struct scsi_task *t = container_of(p, struct scsi_task, post);

	if (t->aborted) {
		/* aborted before any of its data reached the store */
		scsi_task_fail(t, SENSE_ABORTED_COMMAND);
		return;
	}
	if (scsi_lu_write_enter(t))
		t->op->exec(t);
}

static void caw_drained(struct ev_post *p)
{
	struct scsi_task *t = container_of(p, struct scsi_task, post);

	t->gate_run(t);
}

/* Called from writer_leave() on any thread: hop to the CAW's reactor. */
static void caw_drain_wake(struct scsi_task *t)
{
	run_on_reactor(t, caw_drained);
}

void scsi_lu_gate_close(struct scsi_task *t, void (*run)(struct scsi_task *t))
{
	struct scsi_lu *lu = t->lu;

	atomic_store(&lu->caw_active, true);
	pthread_mutex_lock(&lu->caw_lock);
	if (atomic_load(&lu->writers) == 0) {
		pthread_mutex_unlock(&lu->caw_lock);
		run(t);
		return;
	}
	/* the last writer to finish runs it (writer_leave) */
	t->gate_run = run;
	lu->caw_drain = t;
	pthread_mutex_unlock(&lu->caw_lock);
}

void scsi_lu_gate_open(struct scsi_lu *lu)
{
	struct scsi_task *t, *next;

	pthread_mutex_lock(&lu->caw_lock);
	atomic_store(&lu->caw_active, false);
	t = lu->blocked_head;
	lu->blocked_head = lu->blocked_tail = NULL;
	pthread_mutex_unlock(&lu->caw_lock);
	for (; t; t = next) {
		next = t->caw_next;
		t->caw_next = NULL;
		run_on_reactor(t, write_resume);
	}
}

/* --- LUN table ---------------------------------------------------------- */

void scsi_target_init(struct scsi_target *t, const char *name)
{
	memset(t->lus, 0, sizeof(t->lus));
	pthread_mutex_init(&t->lock, NULL);
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
	/* one port group, 1, holding relative target port 1 */
	scsi_port_groups_init(&t->own_groups);
	scsi_port_groups_add(&t->own_groups, 1, SCSI_ALUA_ACTIVE_OPTIMIZED);
	t->port_groups = &t->own_groups;
}

void scsi_target_destroy(struct scsi_target *t)
{
	for (int i = 0; i < SCSI_MAX_LUNS; i++) {
		scsi_lu_put(t->lus[i]);
		t->lus[i] = NULL;
	}
	pthread_mutex_destroy(&t->lock);
	scsi_port_groups_destroy(&t->own_groups);
}

int scsi_target_add_lu(struct scsi_target *t, struct scsi_lu *lu)
{
	int rc = 0;

	if (lu->lun >= SCSI_MAX_LUNS)
		return -ERANGE;
	pthread_mutex_lock(&t->lock);
	if (t->lus[lu->lun])
		rc = -EEXIST;
	else
		t->lus[lu->lun] = lu;
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int scsi_target_remove_lu(struct scsi_target *t, uint64_t lun)
{
	struct scsi_lu *lu = NULL;

	if (lun >= SCSI_MAX_LUNS)
		return -ENOENT;
	pthread_mutex_lock(&t->lock);
	lu = t->lus[lun];
	t->lus[lun] = NULL;
	pthread_mutex_unlock(&t->lock);
	if (!lu)
		return -ENOENT;
	atomic_store(&lu->removed, true);
	scsi_lu_put(lu);
	return 0;
}

bool scsi_lu_removed(const struct scsi_lu *lu)
{
	return atomic_load(&lu->removed);
}

struct scsi_lu *scsi_target_get_lu(struct scsi_target *t, uint64_t lun)
{
	struct scsi_lu *lu;

	if (lun >= SCSI_MAX_LUNS)
		return NULL;
	pthread_mutex_lock(&t->lock);
	lu = t->lus[lun];
	if (lu)
		scsi_lu_get(lu);
	pthread_mutex_unlock(&t->lock);
	return lu;
}

void scsi_target_reset(struct scsi_target *t)
{
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < SCSI_MAX_LUNS; i++)
		if (t->lus[i])
			scsi_lu_reset(t->lus[i]);
	pthread_mutex_unlock(&t->lock);
}

void scsi_target_forget_state(struct scsi_target *t)
{
	struct scsi_lu *lus[SCSI_MAX_LUNS];
	int n = 0;

	/* file I/O outside the table lock */
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < SCSI_MAX_LUNS; i++)
		if (t->lus[i]) {
			scsi_lu_get(t->lus[i]);
			lus[n++] = t->lus[i];
		}
	pthread_mutex_unlock(&t->lock);
	for (int i = 0; i < n; i++) {
		scsi_lu_forget_state(lus[i]);
		scsi_lu_put(lus[i]);
	}
}

int scsi_target_list_luns(struct scsi_target *t, uint64_t *luns, int max)
{
	int n = 0;

	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < SCSI_MAX_LUNS && n < max; i++)
		if (t->lus[i])
			luns[n++] = (uint64_t)i;
	pthread_mutex_unlock(&t->lock);
	return n;
}
