/*
 * core.c - the target registry. Targets live on one list in tid order,
 * each with its ACL rules and a struct scsi_target holding its LUN table;
 * live sessions live on a second list. One mutex (core_lock) guards both
 * lists, every target's ACLs and session count; it is held only for short,
 * non-blocking work because reactors take it at login. Administrative
 * changes (which may open files) are serialised by core_admin_lock and
 * never hold core_lock while doing I/O.
 *
 * Targets are reference counted: the registry holds one reference, every
 * core_target_find() caller one more. Removal unlinks the target and drops
 * the registry's reference; the last put destroys the LUN table.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "base/log.h"
#include "core.h"
#include "core_internal.h"

/* What the core remembers about a LUN beyond what scsi.h exposes. */
struct core_lun_meta {
	uint32_t block_size;
	bool direct;
	bool readonly;
};

struct tgt_target {
	struct list_head link;		/* core_targets, under core_lock */
	atomic_int refs;
	int tid;
	bool linked;			/* on core_targets */
	int nsessions;			/* under core_lock */
	atomic_uint admitted[CORE_ADMIT_KINDS];	/* core_target_admit() */
	struct core_acl *acls;		/* under core_lock */
	int nacls;
	struct core_lun_meta meta[SCSI_MAX_LUNS]; /* under core_admin_lock */
	struct core_target_auth auth;	/* auth.c, under core_lock */
	struct core_target_params params; /* params.c, under core_lock */
	char iqn[CORE_NAME_MAX + 1];
	struct scsi_target scsi;
};

pthread_mutex_t core_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t core_admin_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head core_targets = LIST_HEAD_INIT(core_targets);
static struct list_head core_sessions = LIST_HEAD_INIT(core_sessions);

int core_fail(struct core_err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return rc;
}

void core_init(void)
{
	/* The lists and locks are statically initialised. */
}

/* The APTPL state directory; empty: none. Under core_admin_lock. */
static char core_state_dir[4096];

int core_set_state_dir(const char *dir, struct core_err *err)
{
	struct stat st;
	int rc = 0;

	pthread_mutex_lock(&core_admin_lock);
	core_state_dir[0] = '\0';
	if (!dir)
		goto out;
	if (strlen(dir) >= sizeof(core_state_dir) - 64) {
		rc = core_fail(err, -ENAMETOOLONG, "state directory %s: name too long",
			       dir);
		goto out;
	}
	if (mkdir(dir, 0700) == 0) {
		log_info("state directory %s created", dir);
	} else if (errno != EEXIST) {
		rc = core_fail(err, -errno, "cannot create state directory %s: %s",
			       dir, strerror(errno));
		goto out;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		rc = core_fail(err, -ENOTDIR, "state directory %s is not a directory",
			       dir);
		goto out;
	}
	/* never chmod-ed: the admin may have reasons; but say so */
	if (st.st_mode & 0077)
		log_warn("state directory %s is mode %04o: group or others may access the persistent reservation state; chmod 0700 it",
			 dir, (unsigned)(st.st_mode & 07777));
	/* absolute: the daemon changes its directory to / after start */
	if (!realpath(dir, core_state_dir)) {
		rc = core_fail(err, -errno, "state directory %s: %s", dir,
			       strerror(errno));
		core_state_dir[0] = '\0';
	}
out:
	pthread_mutex_unlock(&core_admin_lock);
	return rc;
}

/* Caller holds core_lock. */
static struct tgt_target *target_lookup(const char *iqn)
{
	struct tgt_target *t;

	list_for_each_entry(t, &core_targets, link)
		if (strcasecmp(t->iqn, iqn) == 0)
			return t;
	return NULL;
}

struct tgt_target *core_target_lookup_locked(const char *iqn)
{
	return target_lookup(iqn);
}

struct tgt_target *core_target_next_locked(struct tgt_target *prev)
{
	struct list_head *n = prev ? prev->link.next : core_targets.next;

	return n == &core_targets ? NULL :
	       list_entry(n, struct tgt_target, link);
}

struct core_target_auth *core_target_auth_state(struct tgt_target *t)
{
	return &t->auth;
}

struct core_target_params *core_target_params_state(struct tgt_target *t)
{
	return &t->params;
}

/* Caller holds core_lock; asks every session on @t to go away. */
static void target_evict_sessions(struct tgt_target *t)
{
	struct core_session *s;

	list_for_each_entry(s, &core_sessions, link)
		if (s->target == t && s->evict)
			s->evict(s, "target removed");
}

static void target_free(struct tgt_target *t)
{
	scsi_target_destroy(&t->scsi);
	core_auth_target_free(&t->auth);
	free(t->acls);
	free(t);
}

void core_target_get(struct tgt_target *t)
{
	atomic_fetch_add(&t->refs, 1);
}

void core_target_put(struct tgt_target *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		target_free(t);
}

struct tgt_target *core_target_find(const char *iqn)
{
	struct tgt_target *t;

	if (!iqn)
		return NULL;
	pthread_mutex_lock(&core_lock);
	t = target_lookup(iqn);
	if (t)
		core_target_get(t);
	pthread_mutex_unlock(&core_lock);
	return t;
}

const char *core_target_iqn(const struct tgt_target *t)
{
	return t->iqn;
}

int core_target_tid(const struct tgt_target *t)
{
	return t->tid;
}

struct scsi_target *core_target_scsi(struct tgt_target *t)
{
	return &t->scsi;
}

bool core_target_offline(const struct tgt_target *t)
{
	return atomic_load_explicit(&t->scsi.offline, memory_order_relaxed);
}

int core_target_set_state(const char *iqn, bool offline, struct core_err *err)
{
	struct tgt_target *t;
	int rc = 0;

	pthread_mutex_lock(&core_lock);
	t = target_lookup(iqn);
	if (!t)
		rc = core_fail(err, -ENOENT, "no target %s", iqn);
	else if (atomic_exchange(&t->scsi.offline, offline) != offline)
		log_info("target %s (tid %d): state %s", t->iqn, t->tid,
			 offline ? "offline" : "ready");
	pthread_mutex_unlock(&core_lock);
	return rc;
}

int core_target_add(const char *iqn, int tid, int *tid_out,
		    struct core_err *err)
{
	char why[sizeof(err->msg)];
	struct tgt_target *t, *pos;
	struct list_head *before;
	int rc;

	rc = core_name_check(iqn, why, sizeof(why));
	if (rc)
		return core_fail(err, rc, "%s", why);
	if (tid < 0)
		return core_fail(err, -EINVAL, "bad tid %d (use 1 or more, or 0 to pick one)",
				 tid);
	t = calloc(1, sizeof(*t));
	if (!t)
		return core_fail(err, -ENOMEM, "out of memory");
	atomic_init(&t->refs, 1);
	core_auth_target_init(&t->auth);
	snprintf(t->iqn, sizeof(t->iqn), "%s", iqn);
	list_init(&t->link);

	pthread_mutex_lock(&core_admin_lock);
	pthread_mutex_lock(&core_lock);
	pos = target_lookup(iqn);
	if (pos) {
		rc = core_fail(err, -EEXIST, "target %s already exists (tid %d)",
			       pos->iqn, pos->tid);
		goto err_unlock;
	}
	if (tid == 0) {
		/* The lowest free tid: the list is in tid order. */
		tid = 1;
		list_for_each_entry(pos, &core_targets, link) {
			if (pos->tid != tid)
				break;
			tid++;
		}
	} else {
		list_for_each_entry(pos, &core_targets, link) {
			if (pos->tid == tid) {
				rc = core_fail(err, -EEXIST,
					       "tid %d is already used by %s",
					       tid, pos->iqn);
				goto err_unlock;
			}
		}
	}
	t->tid = tid;
	before = &core_targets;
	list_for_each_entry(pos, &core_targets, link) {
		if (pos->tid > tid) {
			before = &pos->link;
			break;
		}
	}
	scsi_target_init(&t->scsi, t->iqn);
	t->scsi.port_groups = core_port_groups();
	list_add_tail(&t->link, before);
	t->linked = true;
	pthread_mutex_unlock(&core_lock);
	pthread_mutex_unlock(&core_admin_lock);
	log_info("target %s added (tid %d)", t->iqn, tid);
	if (tid_out)
		*tid_out = tid;
	return 0;

err_unlock:
	pthread_mutex_unlock(&core_lock);
	pthread_mutex_unlock(&core_admin_lock);
	free(t);
	return rc;
}

/* Caller holds core_lock. Unlinks @t; the caller drops the registry ref. */
static void target_unlink(struct tgt_target *t)
{
	list_del(&t->link);
	t->linked = false;
	core_auth_target_unlinked(&t->auth);
	if (t->nsessions)
		target_evict_sessions(t);
}

int core_target_remove(const char *iqn, bool force, struct core_err *err)
{
	struct tgt_target *t;
	int n, tid;

	if (!iqn)
		return core_fail(err, -EINVAL, "no target name given");
	pthread_mutex_lock(&core_admin_lock);
	pthread_mutex_lock(&core_lock);
	t = target_lookup(iqn);
	if (!t) {
		pthread_mutex_unlock(&core_lock);
		pthread_mutex_unlock(&core_admin_lock);
		return core_fail(err, -ENOENT, "no target %s", iqn);
	}
	n = t->nsessions;
	if (n && !force) {
		pthread_mutex_unlock(&core_lock);
		pthread_mutex_unlock(&core_admin_lock);
		return core_fail(err, -EBUSY,
				 "target %s has %d session%s; use --force to remove it anyway",
				 iqn, n, n == 1 ? "" : "s");
	}
	tid = t->tid;
	target_unlink(t);
	pthread_mutex_unlock(&core_lock);
	pthread_mutex_unlock(&core_admin_lock);
	log_info("target %s removed (tid %d)%s", iqn, tid,
		 n ? ", closing its sessions" : "");
	/* deleted for good: the APTPL state of its LUs goes too */
	scsi_target_forget_state(&t->scsi);
	core_target_put(t);
	return 0;
}

void core_shutdown(void)
{
	struct tgt_target *t, *tmp;
	struct list_head gone = LIST_HEAD_INIT(gone);

	pthread_mutex_lock(&core_admin_lock);
	pthread_mutex_lock(&core_lock);
	list_for_each_entry_safe(t, tmp, &core_targets, link) {
		target_unlink(t);
		list_add_tail(&t->link, &gone);
	}
	pthread_mutex_unlock(&core_lock);
	pthread_mutex_unlock(&core_admin_lock);
	list_for_each_entry_safe(t, tmp, &gone, link) {
		list_del(&t->link);
		core_target_put(t);
	}
	/* closes handed to workers from reactor threads: on disk first */
	bs_close_drain();
	core_auth_shutdown();
}

/* --- LUNs ---------------------------------------------------------------- */

static int lun_check_spec(uint64_t lun,
			  const struct core_lun_spec *spec,
			  const struct bs_ops **ops_out, struct core_err *err)
{
	const char *backing = spec->backing ? spec->backing : "file";
	const struct bs_ops *ops;
	uint32_t bsz = spec->block_size ? spec->block_size : 512;

	*ops_out = NULL;
	if (spec->type == SCSI_LU_CONTROLLER)
		return 0;
	if (spec->type != SCSI_LU_DISK)
		return core_fail(err, -EINVAL, "LUN %llu: unknown LU type %d",
				 (unsigned long long)lun, (int)spec->type);
	ops = bs_type_pick(backing, spec->path);
	if (!ops)
		return core_fail(err, -EINVAL,
				 "LUN %llu: unknown backing store '%s' (use file or ram)",
				 (unsigned long long)lun, backing);
	if (strcmp(backing, "ram") == 0) {
		if (!spec->size)
			return core_fail(err, -EINVAL,
					 "LUN %llu: a ram LUN needs a size",
					 (unsigned long long)lun);
	} else if (strcmp(backing, "null") == 0) {
		/* tgt's null store: no path, 1 TiB unless a size is given */
	} else if (!spec->path || !*spec->path) {
		return core_fail(err, -EINVAL,
				 "LUN %llu: a %s LUN needs a path",
				 (unsigned long long)lun, backing);
	}
	if (bsz != 512 && bsz != 4096)
		return core_fail(err, -EINVAL,
				 "LUN %llu: block size %u not supported (512 or 4096)",
				 (unsigned long long)lun, bsz);
	if (spec->direct && spec->buffered)
		return core_fail(err, -EINVAL,
				 "LUN %llu: direct and buffered exclude each other",
				 (unsigned long long)lun);
	if (spec->size % bsz)
		return core_fail(err, -EINVAL,
				 "LUN %llu: size %llu is not a multiple of the block size %u",
				 (unsigned long long)lun,
				 (unsigned long long)spec->size, bsz);
	if (spec->serial) {
		size_t n = strlen(spec->serial);
		bool ok = n >= 1 && n <= CORE_SERIAL_MAX;

		for (size_t i = 0; ok && i < n; i++)
			ok = spec->serial[i] > 0x20 && spec->serial[i] < 0x7f;
		if (!ok)
			return core_fail(err, -EINVAL,
					 "LUN %llu: serial '%s' must be 1..%d printable characters without spaces",
					 (unsigned long long)lun, spec->serial,
					 CORE_SERIAL_MAX);
	}
	*ops_out = ops;
	return 0;
}

/* tgt's parameters of a new LUN: valid, and not in conflict with the
 * spec's own fields. */
static int lun_check_params(uint64_t lun, const struct core_lun_spec *spec,
			    struct core_err *err)
{
	const struct scsi_lu_params *p = spec->params;
	char why[200];
	int rc;

	if (!p)
		return 0;
	rc = scsi_lu_params_check(p, why, sizeof(why));
	if (rc)
		return core_fail(err, rc, "LUN %llu: %s",
				 (unsigned long long)lun, why);
	if (spec->serial && *spec->serial &&
	    (p->set & (1u << SCSI_LU_P_SCSI_SN)))
		return core_fail(err, -EINVAL,
				 "LUN %llu: give serial or scsi_sn, not both",
				 (unsigned long long)lun);
	if ((p->set & (1u << SCSI_LU_P_THIN_PROVISIONING)) &&
	    p->thin_provisioning && spec->type == SCSI_LU_CONTROLLER)
		return core_fail(err, -EOPNOTSUPP,
				 "LUN %llu: thin_provisioning: a controller has no medium",
				 (unsigned long long)lun);
	if ((p->set & (1u << SCSI_LU_P_READONLY)) && p->readonly &&
	    spec->type == SCSI_LU_CONTROLLER)
		return core_fail(err, -EINVAL,
				 "LUN %llu: readonly: a controller has no medium",
				 (unsigned long long)lun);
	return 0;
}

/*
 * What only the opened store can tell: a block device's size and logical
 * block size against the spec. Sets *bsz to the LU's block size: the
 * configured one, else the device's logical block size (512 for files).
 */
static int lun_check_store(uint64_t lun, const struct core_lun_spec *spec,
			   const struct bs *bs, uint32_t *bsz,
			   struct core_err *err)
{
	*bsz = spec->block_size ? spec->block_size
	       : bs->logical_block ? bs->logical_block : 512;
	if (bs->logical_block && *bsz < bs->logical_block)
		return core_fail(err, -EINVAL,
				 "LUN %llu: block size %u is smaller than the logical block size %u of %s; use %u or leave it unset",
				 (unsigned long long)lun, *bsz,
				 bs->logical_block, bs->path, bs->logical_block);
	if (bs->logical_block && *bsz % bs->logical_block)
		return core_fail(err, -EINVAL,
				 "LUN %llu: block size %u is not a multiple of the logical block size %u of %s",
				 (unsigned long long)lun, *bsz,
				 bs->logical_block, bs->path);
	if (bs->ops == &bs_blk_ops && spec->size && spec->size != bs->size)
		return core_fail(err, -EINVAL,
				 "LUN %llu: %s holds %llu bytes, not the configured size %llu; leave size unset for a block device",
				 (unsigned long long)lun, bs->path,
				 (unsigned long long)bs->size,
				 (unsigned long long)spec->size);
	return 0;
}

/* Read-only by the spec's own flag or tgt's readonly=1. */
static bool lun_readonly(const struct core_lun_spec *spec)
{
	const struct scsi_lu_params *p = spec->params;

	return spec->readonly ||
	       (p && (p->set & (1u << SCSI_LU_P_READONLY)) && p->readonly);
}

int core_lun_add(const char *iqn, uint64_t lun,
		 const struct core_lun_spec *spec, struct core_err *err)
{
	struct scsi_lu_config cfg = { 0 };
	const struct bs_ops *ops;
	struct tgt_target *t;
	struct scsi_lu *lu;
	struct bs *bs = NULL;
	char why[256] = "";
	int rc;

	if (lun >= SCSI_MAX_LUNS)
		return core_fail(err, -ERANGE, "LUN %llu out of range 0..%d",
				 (unsigned long long)lun, SCSI_MAX_LUNS - 1);
	t = core_target_find(iqn);
	if (!t)
		return core_fail(err, -ENOENT, "no target %s", iqn ? iqn : "");
	rc = lun_check_spec(lun, spec, &ops, err);
	if (rc == 0)
		rc = lun_check_params(lun, spec, err);
	if (rc)
		goto out_put;

	pthread_mutex_lock(&core_admin_lock);
	/* Removed since we found it? (linked changes under the admin lock) */
	if (!t->linked) {
		rc = core_fail(err, -ENOENT, "no target %s", t->iqn);
		goto out_unlock;
	}
	lu = scsi_target_get_lu(&t->scsi, lun);
	if (lu) {
		scsi_lu_put(lu);
		rc = core_fail(err, -EEXIST, "target %s already has LUN %llu",
			       t->iqn, (unsigned long long)lun);
		goto out_unlock;
	}
	if (ops) {
		struct bs_open_args args = {
			.size = spec->size,
			.create = spec->create,
			.readonly = lun_readonly(spec),
			.direct = spec->direct,
			.buffered = spec->buffered,
			.shared = spec->shared,
			.write_through = spec->no_write_cache,
		};

		errno = 0;
		bs = bs_open(ops, spec->path, &args);
		if (!bs) {
			rc = errno ? -errno : -EIO;
			rc = core_fail(err, rc, "LUN %llu: cannot open %s: %s",
				       (unsigned long long)lun,
				       spec->path ? spec->path : ops->name,
				       bs_open_strerror(ops, -rc));
			goto out_unlock;
		}
		rc = lun_check_store(lun, spec, bs, &cfg.block_size, err);
		if (rc) {
			bs_close(bs);
			goto out_unlock;
		}
		if (bs->size < cfg.block_size) {
			rc = core_fail(err, -EINVAL,
				       "LUN %llu: %s holds %llu bytes, less than one block; give a size",
				       (unsigned long long)lun,
				       spec->path ? spec->path : ops->name,
				       (unsigned long long)bs->size);
			bs_close(bs);
			goto out_unlock;
		}
	}
	cfg.type = spec->type;
	cfg.lun = lun;
	cfg.bs = bs;
	if (!cfg.block_size)	/* a controller, or a store without one */
		cfg.block_size = spec->block_size ? spec->block_size : 512;
	cfg.target_name = t->iqn;
	cfg.serial = spec->serial && *spec->serial ? spec->serial : NULL;
	cfg.readonly = lun_readonly(spec);
	cfg.params = spec->params;
	/* TASK ABORTED to other initiators by default, as LIO does */
	cfg.tas = !spec->no_tas;
	cfg.state_dir = core_state_dir[0] ? core_state_dir : NULL;
	cfg.why = why;
	cfg.whylen = sizeof(why);
	errno = 0;
	lu = scsi_lu_new(&cfg);
	if (!lu) {
		rc = errno ? -errno : -ENOMEM;
		/* scsi_lu_new() takes the store only when it succeeds. */
		if (bs)
			bs_close(bs);
		rc = core_fail(err, rc, "LUN %llu: cannot create the logical unit: %s",
			       (unsigned long long)lun,
			       why[0] ? why : strerror(-rc));
		goto out_unlock;
	}
	rc = scsi_target_add_lu(&t->scsi, lu);
	if (rc) {
		scsi_lu_put(lu);
		rc = core_fail(err, rc, "cannot add LUN %llu to %s: %s",
			       (unsigned long long)lun, t->iqn, strerror(-rc));
		goto out_unlock;
	}
	t->meta[lun] = (struct core_lun_meta){
		.block_size = cfg.block_size,
		.direct = bs ? bs->direct : false,
		.readonly = lun_readonly(spec),
	};
	log_info("target %s: LUN %llu added (%s%s%s)", t->iqn,
		 (unsigned long long)lun,
		 spec->type == SCSI_LU_CONTROLLER ? "controller" : ops->name,
		 bs && bs->path ? " " : "", bs && bs->path ? bs->path : "");
out_unlock:
	pthread_mutex_unlock(&core_admin_lock);
out_put:
	core_target_put(t);
	return rc;
}

int core_lun_update(const char *iqn, uint64_t lun,
		    const struct scsi_lu_params *p, struct core_err *err)
{
	struct tgt_target *t;
	struct scsi_lu *lu = NULL;
	char why[200];
	int rc = 0;

	t = core_target_find(iqn);
	if (!t)
		return core_fail(err, -ENOENT, "no target %s", iqn ? iqn : "");
	pthread_mutex_lock(&core_admin_lock);
	if (t->linked && lun < SCSI_MAX_LUNS)
		lu = scsi_target_get_lu(&t->scsi, lun);
	if (!lu) {
		rc = core_fail(err, -ENOENT, "target %s has no LUN %llu",
			       t->iqn, (unsigned long long)lun);
		goto out;
	}
	if (!p->set) {
		rc = core_fail(err, -EINVAL,
			       "LUN %llu: no parameter to change",
			       (unsigned long long)lun);
		goto out;
	}
	rc = scsi_lu_update(lu, p, why, sizeof(why));
	if (rc) {
		rc = core_fail(err, rc, "LUN %llu: %s",
			       (unsigned long long)lun, why);
		goto out;
	}
	if (p->set & (1u << SCSI_LU_P_READONLY))
		t->meta[lun].readonly = p->readonly;
	log_info("target %s: LUN %llu parameters updated", t->iqn,
		 (unsigned long long)lun);
out:
	scsi_lu_put(lu);
	pthread_mutex_unlock(&core_admin_lock);
	core_target_put(t);
	return rc;
}

/* The JSON type of each of tgt's parameters. */
static json_type lun_param_type(enum scsi_lu_param k)
{
	switch (k) {
	case SCSI_LU_P_REMOVABLE:
	case SCSI_LU_P_READONLY:
	case SCSI_LU_P_ONLINE:
	case SCSI_LU_P_THIN_PROVISIONING:
		return json_type_boolean;
	case SCSI_LU_P_SENSE_FORMAT:
	case SCSI_LU_P_LBPPBE:
	case SCSI_LU_P_LA_LBA:
	case SCSI_LU_P_OPTIMAL_XFER_GRAN:
	case SCSI_LU_P_OPTIMAL_XFER_LEN:
		return json_type_int;
	case SCSI_LU_P_MODE_PAGE:	/* tgt's strings, one a page */
		return json_type_array;
	default:
		return json_type_string;
	}
}

int core_lun_params_from_json(json_object *args, struct scsi_lu_params *p,
			      struct core_err *err)
{
	static const char *const what[] = {
		[json_type_boolean] = "true or false",
		[json_type_int] = "an integer",
		[json_type_string] = "a string",
		[json_type_array] = "an array of strings",
	};

	for (unsigned k = 0; k < SCSI_LU_P_COUNT; k++) {
		const char *name = scsi_lu_param_name((enum scsi_lu_param)k);
		json_type type = lun_param_type((enum scsi_lu_param)k);
		char val[64], why[200];
		json_object *v;
		int rc;

		if (!json_object_object_get_ex(args, name, &v) || !v)
			continue;
		if (!json_object_is_type(v, type))
			return core_fail(err, -EINVAL,
					 "argument '%s' must be %s", name,
					 what[type]);
		if (type == json_type_boolean) {
			snprintf(val, sizeof(val), "%d",
				 json_object_get_boolean(v) ? 1 : 0);
		} else if (type == json_type_int) {
			/* the parser says what range the parameter has */
			snprintf(val, sizeof(val), "%" PRId64,
				 json_object_get_int64(v));
		} else if (type == json_type_array) {
			size_t n = json_object_array_length(v);

			for (size_t i = 0; i < n; i++) {
				json_object *e = json_object_array_get_idx(v, i);

				if (!json_object_is_type(e, json_type_string))
					return core_fail(err, -EINVAL,
							 "argument '%s' must be %s",
							 name, what[type]);
				rc = scsi_lu_param_parse(p, name,
							 json_object_get_string(e),
							 why, sizeof(why));
				if (rc)
					return core_fail(err, rc, "%s", why);
			}
			continue;
		}
		rc = scsi_lu_param_parse(p, name, type == json_type_string
					 ? json_object_get_string(v) : val,
					 why, sizeof(why));
		if (rc)
			return core_fail(err, rc, "%s", why);
	}
	return 0;
}

void core_lun_params_to_json(const struct scsi_lu_params *p, json_object *o)
{
	for (unsigned k = 0; k < SCSI_LU_P_COUNT; k++) {
		const char *name = scsi_lu_param_name((enum scsi_lu_param)k);
		json_object *v = NULL;

		if (!(p->set & (1u << k)))
			continue;
		switch ((enum scsi_lu_param)k) {
		case SCSI_LU_P_SCSI_ID:
			v = json_object_new_string(p->scsi_id);
			break;
		case SCSI_LU_P_SCSI_SN:
			v = json_object_new_string(p->scsi_sn);
			break;
		case SCSI_LU_P_VENDOR_ID:
			v = json_object_new_string(p->vendor_id);
			break;
		case SCSI_LU_P_PRODUCT_ID:
			v = json_object_new_string(p->product_id);
			break;
		case SCSI_LU_P_PRODUCT_REV:
			v = json_object_new_string(p->product_rev);
			break;
		case SCSI_LU_P_REMOVABLE:
			v = json_object_new_boolean(p->removable);
			break;
		case SCSI_LU_P_READONLY:
			v = json_object_new_boolean(p->readonly);
			break;
		case SCSI_LU_P_SENSE_FORMAT:
			v = json_object_new_int(p->sense_format);
			break;
		case SCSI_LU_P_ONLINE:
			v = json_object_new_boolean(p->online);
			break;
		case SCSI_LU_P_THIN_PROVISIONING:
			v = json_object_new_boolean(p->thin_provisioning);
			break;
		case SCSI_LU_P_LBPPBE:
			v = json_object_new_int(p->lbppbe);
			break;
		case SCSI_LU_P_LA_LBA:
			v = json_object_new_int(p->la_lba);
			break;
		case SCSI_LU_P_OPTIMAL_XFER_GRAN:
			v = json_object_new_int(p->optimal_xfer_gran);
			break;
		case SCSI_LU_P_OPTIMAL_XFER_LEN:
			v = json_object_new_int64(p->optimal_xfer_len);
			break;
		case SCSI_LU_P_MODE_PAGE:
			v = json_object_new_array();
			for (unsigned mp = 0; v && mp < SCSI_LU_MP_COUNT; mp++) {
				char s[128];

				if (!(p->mode_set & (1u << mp)))
					continue;
				scsi_lu_mode_page_format(p,
							 (enum scsi_lu_mode_page)mp,
							 s, sizeof(s));
				json_object_array_add(v, json_object_new_string(s));
			}
			break;
		case SCSI_LU_P_COUNT:
			break;
		}
		json_object_object_add(o, name, v);
	}
}

static int (*lu_fence)(struct scsi_lu *lu);

void core_set_lu_fence(int (*fence)(struct scsi_lu *lu))
{
	lu_fence = fence;
}

int core_lun_remove(const char *iqn, uint64_t lun, bool force,
		    struct core_err *err)
{
	struct scsi_lu *lu;
	struct tgt_target *t;
	int rc, n;

	if (lun >= SCSI_MAX_LUNS)
		return core_fail(err, -ERANGE, "LUN %llu out of range 0..%d",
				 (unsigned long long)lun, SCSI_MAX_LUNS - 1);
	t = core_target_find(iqn);
	if (!t)
		return core_fail(err, -ENOENT, "no target %s", iqn ? iqn : "");
	pthread_mutex_lock(&core_admin_lock);
	n = core_target_sessions(t);
	if (n && !force) {
		rc = core_fail(err, -EBUSY,
			       "target %s has %d session%s; use --force to remove LUN %llu anyway",
			       t->iqn, n, n == 1 ? "" : "s",
			       (unsigned long long)lun);
		goto out;
	}
	lu = scsi_target_get_lu(&t->scsi, lun);
	rc = scsi_target_remove_lu(&t->scsi, lun);
	if (rc == 0 && lu && n && lu_fence) {
		/*
		 * Live sessions: their tasks on the LU are aborted and their
		 * store I/O waited for before the LUN counts as removed.
		 */
		int frc = lu_fence(lu);

		if (frc == -ETIMEDOUT)
			log_warn("target %s: LUN %llu removed with I/O still in "
				 "flight", t->iqn, (unsigned long long)lun);
	}
	/* deleted for good: its APTPL state goes too (not at shutdown) */
	if (rc == 0 && lu)
		scsi_lu_forget_state(lu);
	scsi_lu_put(lu);
	if (rc == -ENOENT)
		rc = core_fail(err, rc, "target %s has no LUN %llu", t->iqn,
			       (unsigned long long)lun);
	else if (rc)
		rc = core_fail(err, rc, "cannot remove LUN %llu from %s: %s",
			       (unsigned long long)lun, t->iqn, strerror(-rc));
	else
		log_info("target %s: LUN %llu removed", t->iqn,
			 (unsigned long long)lun);
out:
	pthread_mutex_unlock(&core_admin_lock);
	core_target_put(t);
	return rc;
}

/*
 * How long a shrink waits for the writes in flight to finish: ordinary
 * commands, so seconds are plenty; beyond that something is stuck.
 */
#define RESIZE_DRAIN_MS 10000u

/*
 * The size a resize gives @lu: @size, or what the medium holds now; 0 or
 * -errno with the reason in @err. Refuses what cannot be a capacity.
 */
static int lun_resize_target(struct tgt_target *t, uint64_t lun,
			     struct scsi_lu *lu, uint64_t *size,
			     struct core_err *err)
{
	struct bs *bs = scsi_lu_bs(lu);
	const char *name = bs->path ? bs->path : bs->ops->name;
	uint32_t bsz = scsi_lu_block_size(lu);
	uint64_t medium;
	int rc;

	rc = bs_probe_size(bs, &medium);
	if (rc < 0)
		return core_fail(err, rc, "LUN %llu of %s: cannot read the size of %s: %s",
				 (unsigned long long)lun, t->iqn, name,
				 strerror(-rc));
	if (!*size) {
		*size = medium;
	} else if (bs->ops == &bs_blk_ops && *size != medium) {
		return core_fail(err, -EINVAL,
				 "LUN %llu: %s holds %llu bytes, not %llu; resize the device with its own tools (lvextend, losetup -c), then resize the LUN without a size",
				 (unsigned long long)lun, name,
				 (unsigned long long)medium,
				 (unsigned long long)*size);
	}
	if (*size == 0 || *size % bsz)
		return core_fail(err, -EINVAL,
				 "LUN %llu: %llu bytes%s is not a positive multiple of the block size %u",
				 (unsigned long long)lun,
				 (unsigned long long)*size,
				 *size == medium ? " (the size of the medium)" : "",
				 bsz);
	return 0;
}

int core_lun_resize(const char *iqn, uint64_t lun, uint64_t size, bool force,
		    uint64_t *old_size, uint64_t *new_size,
		    struct core_err *err)
{
	struct tgt_target *t;
	struct scsi_lu *lu = NULL;
	struct bs *bs;
	uint64_t old;
	uint32_t bsz;
	int rc;

	if (lun >= SCSI_MAX_LUNS)
		return core_fail(err, -ERANGE, "LUN %llu out of range 0..%d",
				 (unsigned long long)lun, SCSI_MAX_LUNS - 1);
	t = core_target_find(iqn);
	if (!t)
		return core_fail(err, -ENOENT, "no target %s", iqn ? iqn : "");
	/* one resize (or add, or remove) at a time */
	pthread_mutex_lock(&core_admin_lock);
	lu = scsi_target_get_lu(&t->scsi, lun);
	if (!lu) {
		rc = core_fail(err, -ENOENT, "target %s has no LUN %llu", t->iqn,
			       (unsigned long long)lun);
		goto out;
	}
	bs = scsi_lu_bs(lu);
	if (scsi_lu_type(lu) != SCSI_LU_DISK || !bs) {
		rc = core_fail(err, -EINVAL,
			       "LUN %llu of %s is a controller; only a disk has a capacity",
			       (unsigned long long)lun, t->iqn);
		goto out;
	}
	bsz = scsi_lu_block_size(lu);
	old = scsi_lu_capacity(lu);
	rc = lun_resize_target(t, lun, lu, &size, err);
	if (rc)
		goto out;
	*old_size = old;
	*new_size = size;
	if (size == old)	/* nothing changes: no unit attention */
		goto out;
	if (size < old && !force) {
		rc = core_fail(err, -EPERM,
			       "LUN %llu of %s: shrinking it from %llu to %llu bytes cuts off the last %llu bytes; use --force",
			       (unsigned long long)lun, t->iqn,
			       (unsigned long long)old, (unsigned long long)size,
			       (unsigned long long)(old - size));
		goto out;
	}
	if (size > old) {
		/* the medium first: no command may see blocks it lacks */
		rc = bs_resize(bs, size);
		if (rc == 0)
			rc = scsi_lu_set_capacity(lu, size / bsz, 0);
	} else {
		/* the capacity first: nothing writes beyond it any more */
		rc = scsi_lu_set_capacity(lu, size / bsz, RESIZE_DRAIN_MS);
		if (rc == -EBUSY) {
			rc = core_fail(err, rc,
				       "LUN %llu of %s: the writes in flight did not finish within %u s; nothing changed, try again",
				       (unsigned long long)lun, t->iqn,
				       RESIZE_DRAIN_MS / 1000);
			goto out;
		}
		if (rc == 0) {
			rc = bs_resize(bs, size);
			if (rc < 0)	/* put back what the medium still holds */
				scsi_lu_set_capacity(lu, old / bsz, 0);
		}
	}
	if (rc < 0) {
		rc = core_fail(err, rc, "LUN %llu of %s: cannot resize %s to %llu bytes: %s",
			       (unsigned long long)lun, t->iqn,
			       bs->path ? bs->path : bs->ops->name,
			       (unsigned long long)size, strerror(-rc));
		goto out;
	}
	/* SBC-4 §4.6: every I_T nexus learns of it on its next command */
	scsi_lu_capacity_changed(lu);
	log_info("target %s: LUN %llu resized from %llu to %llu bytes", t->iqn,
		 (unsigned long long)lun, (unsigned long long)old,
		 (unsigned long long)size);
out:
	pthread_mutex_unlock(&core_admin_lock);
	scsi_lu_put(lu);
	core_target_put(t);
	return rc;
}

/* --- ACLs ---------------------------------------------------------------- */

int core_acl_add(const char *iqn, const char *rule, struct core_err *err)
{
	char why[sizeof(err->msg)];
	struct core_acl a, *n;
	struct tgt_target *t;
	int rc;

	rc = core_acl_parse(rule, &a, why, sizeof(why));
	if (rc)
		return core_fail(err, rc, "%s", why);
	pthread_mutex_lock(&core_lock);
	t = iqn ? target_lookup(iqn) : NULL;
	if (!t) {
		rc = core_fail(err, -ENOENT, "no target %s", iqn ? iqn : "");
		goto out;
	}
	for (int i = 0; i < t->nacls; i++) {
		if (strcmp(t->acls[i].text, a.text) == 0) {
			rc = core_fail(err, -EEXIST,
				       "target %s already has ACL rule %s",
				       t->iqn, a.text);
			goto out;
		}
	}
	n = realloc(t->acls, (size_t)(t->nacls + 1) * sizeof(*n));
	if (!n) {
		rc = core_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	t->acls = n;
	t->acls[t->nacls++] = a;
out:
	pthread_mutex_unlock(&core_lock);
	return rc;
}

int core_acl_remove(const char *iqn, const char *rule, struct core_err *err)
{
	char why[sizeof(err->msg)];
	struct tgt_target *t;
	struct core_acl a;
	int rc;

	rc = core_acl_parse(rule, &a, why, sizeof(why));
	if (rc)
		return core_fail(err, rc, "%s", why);
	pthread_mutex_lock(&core_lock);
	t = iqn ? target_lookup(iqn) : NULL;
	if (!t) {
		rc = core_fail(err, -ENOENT, "no target %s", iqn ? iqn : "");
		goto out;
	}
	rc = core_fail(err, -ENOENT, "target %s has no ACL rule %s", t->iqn,
		       a.text);
	for (int i = 0; i < t->nacls; i++) {
		if (strcmp(t->acls[i].text, a.text) == 0) {
			memmove(&t->acls[i], &t->acls[i + 1],
				(size_t)(t->nacls - i - 1) * sizeof(a));
			t->nacls--;
			rc = 0;
			break;
		}
	}
out:
	pthread_mutex_unlock(&core_lock);
	return rc;
}

/* Caller holds core_lock. */
static bool target_allows_locked(const struct tgt_target *t,
				 const char *initiator,
				 const struct sockaddr *peer)
{
	for (int i = 0; i < t->nacls; i++)
		if (core_acl_match(&t->acls[i], initiator, peer))
			return true;
	return false;
}

bool core_target_allows(struct tgt_target *t, const char *initiator,
			const struct sockaddr *peer)
{
	bool ok;

	pthread_mutex_lock(&core_lock);
	ok = target_allows_locked(t, initiator, peer);
	pthread_mutex_unlock(&core_lock);
	return ok;
}

void core_targets_visible(const char *initiator, const struct sockaddr *peer,
			  void (*cb)(void *ctx, const char *iqn), void *ctx)
{
	struct tgt_target **v = NULL, *t;
	int n = 0, cap = 0;

	/* Collect references, then call back without the lock held. */
	pthread_mutex_lock(&core_lock);
	list_for_each_entry(t, &core_targets, link) {
		if (!target_allows_locked(t, initiator, peer))
			continue;
		if (n == cap) {
			int ncap = cap ? cap * 2 : 16;
			struct tgt_target **nv =
				realloc(v, (size_t)ncap * sizeof(*nv));

			if (!nv)
				break;
			v = nv;
			cap = ncap;
		}
		core_target_get(t);
		v[n++] = t;
	}
	pthread_mutex_unlock(&core_lock);
	for (int i = 0; i < n; i++) {
		cb(ctx, v[i]->iqn);
		core_target_put(v[i]);
	}
	free(v);
}

struct open_ctx {
	void (*cb)(void *ctx, const char *iqn);
	void *ctx;
};

static void open_one(void *arg, const char *iqn)
{
	struct open_ctx *o = arg;
	struct tgt_target *t = core_target_find(iqn);
	struct core_auth_policy p;

	if (!t)
		return;		/* removed meanwhile */
	core_auth_policy(t, &p);
	if (!p.chap_required)
		o->cb(o->ctx, iqn);
	core_target_put(t);
}

void core_targets_open(void (*cb)(void *ctx, const char *iqn), void *ctx)
{
	struct open_ctx o = { cb, ctx };

	/* no initiator name, no address: only an ALL rule admits that */
	core_targets_visible(NULL, NULL, open_one, &o);
}

/* --- admission counts ---------------------------------------------------- */

bool core_target_admit(struct tgt_target *t, enum core_admit what,
		       unsigned limit)
{
	unsigned n = atomic_load(&t->admitted[what]);

	do {
		if (n >= limit)
			return false;
	} while (!atomic_compare_exchange_weak(&t->admitted[what], &n, n + 1));
	return true;
}

void core_target_release(struct tgt_target *t, enum core_admit what)
{
	atomic_fetch_sub(&t->admitted[what], 1);
}

unsigned core_target_admitted(struct tgt_target *t, enum core_admit what)
{
	return atomic_load(&t->admitted[what]);
}

/* --- sessions ------------------------------------------------------------ */

int core_session_register(struct core_session *s)
{
	struct core_session *o;
	int reinstated = 0;

	pthread_mutex_lock(&core_lock);
	/*
	 * RFC 7143 §6.3.5: a new session with the I_T nexus of a live one
	 * (same initiator name, ISID and target) replaces it.
	 */
	if (s->target) {
		list_for_each_entry(o, &core_sessions, link) {
			if (o->target == s->target && o->evict &&
			    strcmp(o->isid, s->isid) == 0 &&
			    strcasecmp(o->initiator, s->initiator) == 0) {
				o->evict(o, "reinstated by a new session");
				reinstated++;
			}
		}
	}
	list_add_tail(&s->link, &core_sessions);
	if (s->target) {
		s->target->nsessions++;
		/* Lost a race with a forced removal: ask it to leave. */
		if (!s->target->linked && s->evict)
			s->evict(s, "target removed");
	}
	pthread_mutex_unlock(&core_lock);
	return reinstated;
}

bool core_tsih_live(uint16_t tsih)
{
	struct core_session *o;
	bool live = false;

	pthread_mutex_lock(&core_lock);
	list_for_each_entry(o, &core_sessions, link)
		if (o->tsih == tsih)
			live = true;
	pthread_mutex_unlock(&core_lock);
	return live;
}

void core_session_unregister(struct core_session *s)
{
	pthread_mutex_lock(&core_lock);
	list_del(&s->link);
	if (s->target)
		s->target->nsessions--;
	pthread_mutex_unlock(&core_lock);
}

int core_connection_close(const char *iqn, uint16_t tsih, uint16_t cid,
			  struct core_err *err)
{
	struct core_session *s, *found = NULL;
	struct tgt_target *t;
	int rc = 0;

	pthread_mutex_lock(&core_lock);
	t = iqn ? target_lookup(iqn) : NULL;
	if (!t) {
		rc = core_fail(err, -ENOENT, "no target %s", iqn ? iqn : "");
		goto out;
	}
	list_for_each_entry(s, &core_sessions, link)
		if (s->target == t && s->tsih == tsih)
			found = s;
	if (!found) {
		rc = core_fail(err, -ENOENT, "target %s has no session %u",
			       t->iqn, tsih);
		goto out;
	}
	/* MaxConnections=1: a session's one connection has its CID */
	if (found->cid != cid || !found->evict) {
		rc = core_fail(err, -ENOENT,
			       "session %u of target %s has no connection %u",
			       tsih, t->iqn, cid);
		goto out;
	}
	found->evict(found, "closed by the administrator (connection.close)");
	log_info("target %s: connection %u of session %u (%s from %s) closed by the administrator",
		 t->iqn, cid, tsih, found->initiator, found->peer);
out:
	pthread_mutex_unlock(&core_lock);
	return rc;
}

int core_target_sessions(struct tgt_target *t)
{
	int n;

	pthread_mutex_lock(&core_lock);
	n = t->nsessions;
	pthread_mutex_unlock(&core_lock);
	return n;
}

/* --- JSON snapshots ------------------------------------------------------ */

static void jadd(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static json_object *jstr_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* Caller holds core_lock (so the target and its metadata are stable). */
static json_object *lun_json(struct tgt_target *t, struct scsi_lu *lu)
{
	json_object *o = json_object_new_object();
	uint64_t lun = scsi_lu_lun(lu);
	const struct core_lun_meta *m = lun < SCSI_MAX_LUNS ? &t->meta[lun] : NULL;
	struct bs *bs = scsi_lu_bs(lu);
	bool disk = scsi_lu_type(lu) == SCSI_LU_DISK;

	jadd(o, "lun", json_object_new_uint64(lun));
	jadd(o, "type", json_object_new_string(disk ? "disk" : "controller"));
	jadd(o, "backing", bs ? jstr_or_null(bs->ops->name) : NULL);
	jadd(o, "path", bs && bs->ops != &bs_ram_ops ? jstr_or_null(bs->path) : NULL);
	jadd(o, "size", json_object_new_uint64(bs ? bs_size(bs) : 0));
	jadd(o, "block_size", !disk ? NULL : json_object_new_int(
		m && m->block_size ? (int)m->block_size : 512));
	struct scsi_lu_params p;

	scsi_lu_params_get(lu, &p);
	jadd(o, "serial", jstr_or_null(p.set & (1u << SCSI_LU_P_SCSI_SN)
				       ? p.scsi_sn : scsi_lu_serial(lu)));
	jadd(o, "direct", json_object_new_boolean(m && m->direct));
	/* tgt's parameters, every one: scsi_id / scsi_sn null when unset */
	jadd(o, "scsi_id", NULL);
	jadd(o, "scsi_sn", NULL);
	core_lun_params_to_json(&p, o);
	/* what the Caching mode page says (WCE) */
	jadd(o, "write_cache", !disk ? NULL :
	     json_object_new_boolean(bs && bs->write_cache));
	return o;
}

json_object *core_targets_json(void)
{
	json_object *arr = json_object_new_array();
	struct tgt_target *t;
	uint64_t luns[SCSI_MAX_LUNS];

	/*
	 * core_admin_lock keeps the LUN metadata steady; core_lock the list.
	 * Lock order everywhere: admin, core, scsi target.
	 */
	pthread_mutex_lock(&core_admin_lock);
	pthread_mutex_lock(&core_lock);
	list_for_each_entry(t, &core_targets, link) {
		json_object *o = json_object_new_object();
		json_object *jl = json_object_new_array();
		json_object *ja = json_object_new_array();
		int n = scsi_target_list_luns(&t->scsi, luns, SCSI_MAX_LUNS);

		for (int i = 0; i < n; i++) {
			struct scsi_lu *lu = scsi_target_get_lu(&t->scsi, luns[i]);

			if (!lu)
				continue;
			json_object_array_add(jl, lun_json(t, lu));
			scsi_lu_put(lu);
		}
		for (int i = 0; i < t->nacls; i++)
			json_object_array_add(ja,
				json_object_new_string(t->acls[i].text));
		jadd(o, "tid", json_object_new_int(t->tid));
		jadd(o, "iqn", json_object_new_string(t->iqn));
		jadd(o, "luns", jl);
		jadd(o, "acls", ja);
		jadd(o, "sessions", json_object_new_int(t->nsessions));
		jadd(o, "state", json_object_new_string(
			core_target_offline(t) ? "offline" : "ready"));
		core_auth_target_json(&t->auth, o);
		core_params_target_json(&t->params, o);
		json_object_array_add(arr, o);
	}
	pthread_mutex_unlock(&core_lock);
	pthread_mutex_unlock(&core_admin_lock);
	return arr;
}

static uint64_t stat_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* The counters of @s: per LU of its target now, and per connection. */
static json_object *session_stats_json(const struct core_session *s)
{
	static const struct {
		const char *name;
		size_t off;
	} lu_fields[] = {
#define F(n, f) { n, offsetof(struct core_lu_stats, f) }
		F("read_submitted_bytes", rd_subm_bytes),
		F("read_submitted_cmds", rd_subm_cmds),
		F("read_done_bytes", rd_done_bytes),
		F("read_done_cmds", rd_done_cmds),
		F("write_submitted_bytes", wr_subm_bytes),
		F("write_submitted_cmds", wr_subm_cmds),
		F("write_done_bytes", wr_done_bytes),
		F("write_done_cmds", wr_done_cmds),
		F("errors", errors),
#undef F
	}, conn_fields[] = {
#define F(n, f) { n, offsetof(struct core_conn_stats, f) }
		F("rx_octets", rx_octets), F("tx_octets", tx_octets),
		F("cmd_pdus", cmd_pdus), F("dataout_pdus", dataout_pdus),
		F("datain_pdus", datain_pdus), F("rsp_pdus", rsp_pdus),
#undef F
	};
	json_object *o = json_object_new_object();
	json_object *jl = json_object_new_array();
	json_object *jc = json_object_new_array();
	uint64_t luns[SCSI_MAX_LUNS];
	int n = 0;

	if (s->target && s->lu_stats)
		n = scsi_target_list_luns(&s->target->scsi, luns, SCSI_MAX_LUNS);
	for (int i = 0; i < n; i++) {
		const struct core_lu_stats *st = &s->lu_stats[luns[i]];
		json_object *l = json_object_new_object();

		jadd(l, "lun", json_object_new_uint64(luns[i]));
		for (size_t k = 0; k < ARRAY_SIZE(lu_fields); k++)
			jadd(l, lu_fields[k].name, json_object_new_uint64(
			     stat_get((const _Atomic uint64_t *)
				      ((const char *)st + lu_fields[k].off))));
		json_object_array_add(jl, l);
	}
	if (s->conn_stats) {
		json_object *c = json_object_new_object();

		jadd(c, "cid", json_object_new_int(s->cid));
		for (size_t k = 0; k < ARRAY_SIZE(conn_fields); k++)
			jadd(c, conn_fields[k].name, json_object_new_uint64(
			     stat_get((const _Atomic uint64_t *)
				      ((const char *)s->conn_stats +
				       conn_fields[k].off))));
		json_object_array_add(jc, c);
	}
	jadd(o, "luns", jl);
	jadd(o, "connections", jc);
	return o;
}

static json_object *sessions_json(bool stats)
{
	json_object *arr = json_object_new_array();
	struct core_session *s;

	pthread_mutex_lock(&core_lock);
	list_for_each_entry(s, &core_sessions, link) {
		json_object *o = json_object_new_object();

		jadd(o, "target", s->target ?
			json_object_new_string(s->target->iqn) : NULL);
		jadd(o, "tid", s->target ? json_object_new_int(s->target->tid) :
					   NULL);
		jadd(o, "type", json_object_new_string(s->target ? "normal" :
							       "discovery"));
		jadd(o, "initiator", json_object_new_string(s->initiator));
		jadd(o, "alias", s->alias[0] ?
			json_object_new_string(s->alias) : NULL);
		jadd(o, "isid", json_object_new_string(s->isid));
		jadd(o, "tsih", json_object_new_int(s->tsih));
		jadd(o, "cid", json_object_new_int(s->cid));
		jadd(o, "peer", json_object_new_string(s->peer));
		jadd(o, "local", json_object_new_string(s->local));
		jadd(o, "reactor", json_object_new_int(s->reactor));
		jadd(o, "connections", json_object_new_int(s->connections));
		jadd(o, "header_digest", json_object_new_string(
			s->header_digest ? "CRC32C" : "None"));
		jadd(o, "data_digest", json_object_new_string(
			s->data_digest ? "CRC32C" : "None"));
		if (stats)
			jadd(o, "stats", session_stats_json(s));
		json_object_array_add(arr, o);
	}
	pthread_mutex_unlock(&core_lock);
	return arr;
}

json_object *core_sessions_json(void)
{
	return sessions_json(false);
}

json_object *core_sessions_stats_json(void)
{
	return sessions_json(true);
}
