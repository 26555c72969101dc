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
#include <stdarg.h>
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
static void lu_make_naa(uint8_t d[16], const char *target, uint64_t lun,
			const char *serial)
{
	uuid_t u;
	uint8_t src[14];

	lu_name_uuid(u, "naa", target, lun, serial);
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

/* One character of a tgt scsi_id as tgt reads it: strtoul() of it alone
 * in base 16, so anything but a hex digit counts 0. */
static unsigned lu_tgt_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (unsigned)(c - 'A' + 10);
	return 0;
}

/*
 * The NAA designator tgt derives from scsi_id (tgt usr/spc.c,
 * update_vpd_83): every character is one hex digit of a 128-bit number,
 * right-aligned (the last 32 characters count), whose first nibble is
 * then replaced by NAA 6 (IEEE Registered Extended). The NAA number is
 * what udev and multipath take as the WWID, so it must be the same bits.
 */
static void lu_tgt_naa(uint8_t d[16], const char *scsi_id)
{
	uint64_t hi = 0, lo = 0;

	for (const char *c = scsi_id; *c; c++) {
		hi = hi << 4 | lo >> 60;
		lo = lo << 4 | lu_tgt_nibble(*c);
	}
	for (int i = 0; i < 8; i++) {
		d[i] = (uint8_t)(hi >> (56 - 8 * i));
		d[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
	d[0] = (uint8_t)(0x60 | (d[0] & 0x0f));
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

/*
 * tgt's thin_provisioning: 0 turns logical block provisioning off; 1
 * turns it on where the store can deallocate, and says so where it
 * cannot (tgt would advertise UNMAP and fail it). True when LBP changes.
 */
static bool lu_set_thin(struct scsi_lu *lu, bool thin)
{
	if (thin && !(lu->bs && lu->bs->can_unmap))
		log_warn("LUN %" PRIu64 ": thin_provisioning=1, but %s cannot deallocate: no logical block provisioning",
			 lu->lun, lu->bs && lu->bs->path ? lu->bs->path
							 : "its store");
	return atomic_exchange(&lu->no_lbp, !thin) != !thin &&
	       lu->bs && lu->bs->can_unmap;
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

/*
 * Applies tgt's parameters in @p to the identity @id, then derives what
 * follows from them: a serial when none is configured, and the NAA
 * designator (tgt's from scsi_id, else ringtgt's from target, LUN and
 * serial).
 */
static void lu_ident_apply(struct scsi_lu_ident *id,
			   const struct scsi_lu_params *p, const char *target,
			   uint64_t lun)
{
	unsigned set = p ? p->set : 0;

	if (set & (1u << SCSI_LU_P_VENDOR_ID))
		lu_copy_ascii(id->vendor, p->vendor_id, SCSI_VENDOR_LEN);
	if (set & (1u << SCSI_LU_P_PRODUCT_ID))
		lu_copy_ascii(id->product, p->product_id, SCSI_PRODUCT_LEN);
	if (set & (1u << SCSI_LU_P_PRODUCT_REV))
		lu_copy_ascii(id->revision, p->product_rev, SCSI_REVISION_LEN);
	if (set & (1u << SCSI_LU_P_REMOVABLE))
		id->removable = p->removable;
	if (set & (1u << SCSI_LU_P_SCSI_SN)) {
		lu_copy_ascii(id->serial, p->scsi_sn, SCSI_LU_SCSI_SN_MAX);
		id->tgt_sn = true;
		id->serial_set = true;
	}
	if (set & (1u << SCSI_LU_P_SCSI_ID)) {
		lu_copy_ascii(id->scsi_id, p->scsi_id, SCSI_LU_SCSI_ID_MAX);
		id->tgt_id = true;
	}
	if (!id->serial_set) {
		uuid_t u;

		lu_name_uuid(u, "serial", target, lun, NULL);
		for (int i = 0; i < 8; i++)
			snprintf(id->serial + 2 * i, 3, "%02x", u[i]);
	}
	if (id->tgt_id)
		lu_tgt_naa(id->naa, id->scsi_id);
	else
		lu_make_naa(id->naa, target, lun, id->serial);
}

/*
 * What a disk LU reports of its geometry and its mode pages, which
 * tgt's lbppbe, la_lba, optimal_xfer_gran / _len and mode_page set.
 * lu_disk_apply() computes them from @p over the LU's present ones.
 */
struct lu_disk {
	uint32_t geom;			/* as scsi_lu.geom */
	uint64_t xfer;			/* as scsi_lu.xfer */
	unsigned mode_set;
	uint8_t mode[SCSI_LU_MP_COUNT][SCSI_LU_MODE_PAGE_MAX];
};

/*
 * A wrong lbppbe, la_lba or optimal_xfer_* only makes initiators align
 * and size their I/O badly (slower, never wrong data); what the fields
 * cannot hold is refused. 0 or -EINVAL with a sentence in @why.
 */
static int lu_disk_apply(const struct scsi_lu *lu,
			 const struct scsi_lu_params *p, struct lu_disk *d,
			 char *why, size_t whylen)
{
	static const enum scsi_lu_param disk_only[] = {
		SCSI_LU_P_LBPPBE, SCSI_LU_P_LA_LBA,
		SCSI_LU_P_OPTIMAL_XFER_GRAN, SCSI_LU_P_OPTIMAL_XFER_LEN,
		SCSI_LU_P_MODE_PAGE,
	};
	uint32_t exp = d->geom >> 16, la = d->geom & SCSI_LU_LA_LBA_MAX;
	uint64_t gran = d->xfer >> 32, len = d->xfer & UINT32_MAX;
	uint32_t max_len;
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(disk_only); i++)
		if ((p->set & (1u << disk_only[i])) &&
		    lu->type != SCSI_LU_DISK)
			return scsi_fail_why(-EINVAL, why, whylen,
				       "%s: LUN %" PRIu64 " is a controller, not a disk",
				       scsi_lu_param_name(disk_only[i]),
				       lu->lun);
	if (p->set & (1u << SCSI_LU_P_LBPPBE))
		exp = p->lbppbe;
	if (p->set & (1u << SCSI_LU_P_LA_LBA))
		la = p->la_lba;
	if (p->set & (1u << SCSI_LU_P_OPTIMAL_XFER_GRAN))
		gran = p->optimal_xfer_gran;
	if (p->set & (1u << SCSI_LU_P_OPTIMAL_XFER_LEN))
		len = p->optimal_xfer_len;
	/* SBC-4 §5.20.2: the first LBA at the start of a physical block */
	if (la >= (1u << exp))
		return scsi_fail_why(-EINVAL, why, whylen,
			       "la_lba %" PRIu32 " must be below %u, the logical blocks per physical block (lbppbe %" PRIu32 ")",
			       la, 1u << exp, exp);
	/* SBC-4 §6.6.4: OPTIMAL TRANSFER LENGTH <= MAXIMUM TRANSFER LENGTH */
	max_len = SCSI_MAX_XFER_BYTES >> lu->block_shift;
	if (len > max_len)
		return scsi_fail_why(-EINVAL, why, whylen,
			       "optimal_xfer_len %" PRIu64 " is above the maximum transfer length, %" PRIu32 " blocks of %" PRIu32 " bytes",
			       len, max_len, lu->block_size);
	d->geom = exp << 16 | la;
	d->xfer = gran << 32 | len;
	for (unsigned mp = 0; mp < SCSI_LU_MP_COUNT; mp++) {
		if (!(p->set & (1u << SCSI_LU_P_MODE_PAGE)) ||
		    !(p->mode_set & (1u << mp)))
			continue;
		rc = scsi_mode_page_check(lu, (enum scsi_lu_mode_page)mp,
					  p->mode[mp], why, whylen);
		if (rc)
			return rc;
		memcpy(d->mode[mp], p->mode[mp], sizeof(d->mode[mp]));
		d->mode_set |= 1u << mp;
	}
	return 0;
}

/* The identity of a new LU from its configuration. */
static void lu_ident_init(struct scsi_lu_ident *id,
			  const struct scsi_lu_config *cfg)
{
	const char *v;

	memset(id, 0, sizeof(*id));
	lu_copy_ascii(id->vendor, cfg->vendor ? cfg->vendor : "RINGTGT",
		      SCSI_VENDOR_LEN);
	v = cfg->product ? cfg->product
	    : cfg->type == SCSI_LU_DISK ? "VIRTUAL-DISK" : "CONTROLLER";
	lu_copy_ascii(id->product, v, SCSI_PRODUCT_LEN);
	/* PRODUCT REVISION LEVEL: "major.minor" of the release */
	{
		const char *ver = RINGTGT_VERSION;
		size_t n = strcspn(ver, ".");

		if (ver[n] == '.')
			n += 1 + strcspn(ver + n + 1, ".");
		lu_copy_ascii(id->revision, ver, MIN(n, SCSI_REVISION_LEN));
	}
	if (cfg->serial) {
		snprintf(id->serial, sizeof(id->serial), "%s", cfg->serial);
		id->serial_set = true;
	}
	lu_ident_apply(id, cfg->params, cfg->target_name, cfg->lun);
}

struct scsi_lu *scsi_lu_new(const struct scsi_lu_config *cfg)
{
	const struct scsi_lu_params *p = cfg->params;
	struct scsi_lu *lu;
	int rc = -EINVAL;

	if (cfg->type != SCSI_LU_DISK && cfg->type != SCSI_LU_CONTROLLER)
		goto err;
	if (cfg->type == SCSI_LU_DISK && !cfg->bs)
		goto err;
	if (cfg->serial && !lu_serial_ok(cfg->serial))
		goto err;
	if (p && scsi_lu_params_check(p, NULL, 0))
		goto err;
	if (p && cfg->serial && (p->set & (1u << SCSI_LU_P_SCSI_SN)))
		goto err;
	if (p && (p->set & (1u << SCSI_LU_P_READONLY)) && !p->readonly &&
	    cfg->bs && cfg->bs->readonly)
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
	atomic_init(&lu->inq_gen, lu->ua_base);
	atomic_init(&lu->mode_gen, lu->ua_base);
	pthread_mutex_init(&lu->caw_lock, NULL);
	pthread_mutex_init(&lu->id_lock, NULL);
	scsi_pr_init(lu);
	pthread_mutex_init(&lu->res_lock, NULL);
	lu->type = cfg->type;
	lu->lun = cfg->lun;
	atomic_init(&lu->readonly, false);
	atomic_init(&lu->no_lbp, false);

	if (cfg->type == SCSI_LU_DISK) {
		uint32_t bsz = cfg->block_size ? cfg->block_size : 512;
		bool ro = cfg->readonly;

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
		atomic_init(&lu->geom, lu->phys_exp << 16);
		atomic_init(&lu->xfer, (uint64_t)(1u << lu->phys_exp) << 32 |
				       SCSI_OPT_XFER_BYTES >> lu->block_shift);
		atomic_init(&lu->nblocks, cfg->bs->size >> lu->block_shift);
		if (scsi_lu_nblocks(lu) == 0)
			goto err_free;
		if (cfg->bs->size & (bsz - 1))
			log_warn("LUN %" PRIu64 ": size is not a multiple of %u; "
				 "the tail is not exported", cfg->lun, bsz);
		if (p && (p->set & (1u << SCSI_LU_P_READONLY)))
			ro = p->readonly;
		atomic_init(&lu->readonly, ro || cfg->bs->readonly);
	}

	snprintf(lu->target_name, sizeof(lu->target_name), "%s",
		 cfg->target_name ? cfg->target_name : "");
	lu_ident_init(&lu->id, cfg);
	if (p) {
		struct lu_disk d = { .geom = lu->geom, .xfer = lu->xfer };

		lu->bs = cfg->bs;	/* the mode pages read its cache */
		rc = lu_disk_apply(lu, p, &d, cfg->why, cfg->whylen);
		lu->bs = NULL;
		if (rc)
			goto err_free;
		atomic_store(&lu->geom, d.geom);
		atomic_store(&lu->xfer, d.xfer);
		lu->mode_set = d.mode_set;
		memcpy(lu->mode, d.mode, sizeof(lu->mode));
	}
	if (p && (p->set & (1u << SCSI_LU_P_THIN_PROVISIONING))) {
		atomic_store(&lu->no_lbp, !p->thin_provisioning);
		if (p->thin_provisioning && !(cfg->bs && cfg->bs->can_unmap))
			log_warn("LUN %" PRIu64 ": thin_provisioning=1, but %s cannot deallocate: no logical block provisioning",
				 cfg->lun, cfg->bs && cfg->bs->path
					   ? cfg->bs->path : "its store");
	}
	memcpy(lu->naa, lu->id.naa, sizeof(lu->naa));
	memcpy(lu->serial0, lu->id.serial, sizeof(lu->serial0));
	/* keyed by the NAA designator: after it is known */
	scsi_pr_state_attach(lu, cfg->state_dir);

	lu->bs = cfg->bs;	/* ownership passes only on success */
	return lu;

err_free:
	scsi_pr_destroy(lu);
	pthread_mutex_destroy(&lu->res_lock);
	pthread_mutex_destroy(&lu->id_lock);
	pthread_mutex_destroy(&lu->caw_lock);
	free(lu);
err:
	errno = -rc;
	return NULL;
}

void scsi_lu_ident(struct scsi_lu *lu, struct scsi_lu_ident *out)
{
	pthread_mutex_lock(&lu->id_lock);
	*out = lu->id;
	pthread_mutex_unlock(&lu->id_lock);
}

/* Logical block provisioning is on (VPD 0xB2, UNMAP, WRITE SAME UNMAP). */
static bool lu_thin(const struct scsi_lu *lu)
{
	return scsi_lu_lbp(lu) && !atomic_load(&lu->readonly);
}

void scsi_lu_params_get(struct scsi_lu *lu, struct scsi_lu_params *out)
{
	struct scsi_lu_ident id;

	scsi_lu_ident(lu, &id);
	memset(out, 0, sizeof(*out));
	out->set = (1u << SCSI_LU_P_COUNT) - 1;
	if (id.tgt_id)
		snprintf(out->scsi_id, sizeof(out->scsi_id), "%s", id.scsi_id);
	else
		out->set &= ~(1u << SCSI_LU_P_SCSI_ID);
	if (id.tgt_sn)
		snprintf(out->scsi_sn, sizeof(out->scsi_sn), "%s", id.serial);
	else
		out->set &= ~(1u << SCSI_LU_P_SCSI_SN);
	snprintf(out->vendor_id, sizeof(out->vendor_id), "%s", id.vendor);
	snprintf(out->product_id, sizeof(out->product_id), "%s", id.product);
	snprintf(out->product_rev, sizeof(out->product_rev), "%s",
		 id.revision);
	out->removable = id.removable;
	out->readonly = atomic_load(&lu->readonly);
	out->sense_format = 0;
	out->online = true;
	out->thin_provisioning = lu_thin(lu);
	out->lbppbe = (uint8_t)(atomic_load(&lu->geom) >> 16);
	out->la_lba = (uint16_t)(atomic_load(&lu->geom) & SCSI_LU_LA_LBA_MAX);
	out->optimal_xfer_gran = (uint16_t)(atomic_load(&lu->xfer) >> 32);
	out->optimal_xfer_len = (uint32_t)atomic_load(&lu->xfer);
	/* the pages mode_page set, as given (MODE SENSE serves them) */
	pthread_mutex_lock(&lu->id_lock);
	out->mode_set = lu->mode_set;
	memcpy(out->mode, lu->mode, sizeof(out->mode));
	pthread_mutex_unlock(&lu->id_lock);
	if (!out->mode_set)
		out->set &= ~(1u << SCSI_LU_P_MODE_PAGE);
	if (lu->type != SCSI_LU_DISK)
		out->set &= ~(1u << SCSI_LU_P_LBPPBE | 1u << SCSI_LU_P_LA_LBA |
			      1u << SCSI_LU_P_OPTIMAL_XFER_GRAN |
			      1u << SCSI_LU_P_OPTIMAL_XFER_LEN);
}

/* APTPL state is kept (or being written) under the LU's creation NAA. */
static bool lu_aptpl_kept(struct scsi_lu *lu)
{
	bool kept;

	pthread_mutex_lock(&lu->pr.lock);
	kept = lu->pr.state_path && (lu->pr.aptpl || lu->pr.on_disk);
	pthread_mutex_unlock(&lu->pr.lock);
	return kept;
}

int scsi_lu_update(struct scsi_lu *lu, const struct scsi_lu_params *p,
		   char *why, size_t whylen)
{
	struct scsi_lu_ident id;
	struct lu_disk d;
	bool ro = atomic_load(&lu->readonly), inq_changed, mode_changed;
	int rc;

	rc = scsi_lu_params_check(p, why, whylen);
	if (rc)
		return rc;
	d.geom = atomic_load(&lu->geom);
	d.xfer = atomic_load(&lu->xfer);
	pthread_mutex_lock(&lu->id_lock);
	d.mode_set = lu->mode_set;
	memcpy(d.mode, lu->mode, sizeof(d.mode));
	pthread_mutex_unlock(&lu->id_lock);
	rc = lu_disk_apply(lu, p, &d, why, whylen);
	if (rc)
		return rc;
	if ((p->set & (1u << SCSI_LU_P_READONLY))) {
		if (!p->readonly && lu->bs && lu->bs->readonly) {
			snprintf(why, whylen,
				 "readonly=0: the backing store %s is read-only",
				 lu->bs->path ? lu->bs->path : "");
			return -EINVAL;
		}
		if (lu->type != SCSI_LU_DISK && p->readonly) {
			snprintf(why, whylen,
				 "readonly: LUN %" PRIu64 " is a controller, not a disk",
				 lu->lun);
			return -EINVAL;
		}
		ro = p->readonly;
	}
	if ((p->set & (1u << SCSI_LU_P_THIN_PROVISIONING)) &&
	    p->thin_provisioning && lu->type != SCSI_LU_DISK) {
		snprintf(why, whylen,
			 "thin_provisioning: LUN %" PRIu64 " is a controller, not a disk",
			 lu->lun);
		return -EINVAL;
	}

	pthread_mutex_lock(&lu->id_lock);
	id = lu->id;
	lu_ident_apply(&id, p, lu->target_name, lu->lun);
	if (memcmp(id.naa, lu->naa, sizeof(id.naa)) != 0 &&
	    lu_aptpl_kept(lu)) {
		pthread_mutex_unlock(&lu->id_lock);
		snprintf(why, whylen,
			 "%s: LUN %" PRIu64 " keeps persistent reservations (APTPL) under its NAA designator, which this would change; clear them first",
			 (p->set & (1u << SCSI_LU_P_SCSI_ID)) ? "scsi_id"
							     : "scsi_sn",
			 lu->lun);
		return -EBUSY;
	}
	inq_changed = memcmp(&id, &lu->id, sizeof(id)) != 0;
	lu->id = id;
	mode_changed = d.mode_set != lu->mode_set ||
		       memcmp(d.mode, lu->mode, sizeof(d.mode)) != 0;
	lu->mode_set = d.mode_set;
	memcpy(lu->mode, d.mode, sizeof(lu->mode));
	pthread_mutex_unlock(&lu->id_lock);
	/* VPD 0xB0 */
	if (atomic_exchange(&lu->xfer, d.xfer) != d.xfer)
		inq_changed = true;
	/* READ CAPACITY(16) parameter data (SBC-4 §4.6) */
	if (atomic_exchange(&lu->geom, d.geom) != d.geom)
		scsi_lu_capacity_changed(lu);
	if (mode_changed)
		atomic_store_explicit(&lu->mode_gen, ua_next(),
				      memory_order_release);
	/* VPD 0xB0 / 0xB2 (and READ CAPACITY's LBPME) follow it */
	if ((p->set & (1u << SCSI_LU_P_THIN_PROVISIONING)) &&
	    lu_set_thin(lu, p->thin_provisioning))
		inq_changed = true;

	/* SPC-4 §5.14 table 42 (SAM-5 §5.14): what each change reports */
	if (ro != atomic_load(&lu->readonly)) {
		atomic_store(&lu->readonly, ro);
		/* WP of the mode parameter header (SBC-3 §6.4.1) */
		atomic_store_explicit(&lu->mode_gen, ua_next(),
				      memory_order_release);
		/* and VPD 0xB0 / 0xB2 follow it */
		if (scsi_lu_lbp(lu))
			inq_changed = true;
	}
	if (inq_changed)
		atomic_store_explicit(&lu->inq_gen, ua_next(),
				      memory_order_release);
	return 0;
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
	pthread_mutex_destroy(&lu->id_lock);
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
	return lu->serial0;
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
static void lu_gen_meet(struct scsi_lu *lu, _Atomic uint32_t *seen,
			_Atomic uint32_t *genp);
static enum sense_reason lu_gen_ua(struct scsi_lu *lu, _Atomic uint32_t *seen,
				   _Atomic uint32_t *genp,
				   enum sense_reason reason, bool clear);

enum sense_reason scsi_lu_ua_check(struct scsi_lu *lu, struct scsi_nexus *n,
				   bool clear)
{
	enum sense_reason reason;

	if (!lu || !n || lu->lun >= SCSI_MAX_LUNS)
		return SENSE_NONE;
	/* a first command records the capacity seen, even if it fails
	 * with another unit attention */
	if (clear) {
		lu_gen_meet(lu, &n->cap_seen[lu->lun], &lu->cap_gen);
		lu_gen_meet(lu, &n->inq_seen[lu->lun], &lu->inq_gen);
		lu_gen_meet(lu, &n->mode_seen[lu->lun], &lu->mode_gen);
	}
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
	/* scsi_lu_update(): SPC-4 §5.14 */
	reason = lu_gen_ua(lu, &n->mode_seen[lu->lun], &lu->mode_gen,
			   SENSE_UA_MODE_CHANGED, clear);
	if (reason != SENSE_NONE)
		return reason;
	reason = lu_gen_ua(lu, &n->inq_seen[lu->lun], &lu->inq_gen,
			   SENSE_UA_INQUIRY_CHANGED, clear);
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

/*
 * A nexus meeting the LU takes its capacity (INQUIRY data, mode
 * parameter) generation without a UA: it reads the data as they are.
 */
static void lu_gen_meet(struct scsi_lu *lu, _Atomic uint32_t *seen,
			_Atomic uint32_t *genp)
{
	uint32_t old = atomic_load_explicit(seen, memory_order_relaxed);

	if (lu_seen_before(lu, old))
		atomic_compare_exchange_strong(
			seen, &old,
			atomic_load_explicit(genp, memory_order_acquire));
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
	atomic_init(&t->offline, false);
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
