/*
 * lu_params.c - the LU parameters of tgt, by tgt's names: parsing from
 * the "name=value" strings tgtadm's --params and targets.conf carry, and
 * the checks every setter (control protocol, config file, tgtadm) shares.
 * A pure module: no LU, no allocation.
 *
 * tgt 1.0.85 (usr/spc.c, lu_config()) copies strings with snprintf into
 * fixed buffers, so a longer value is cut silently, and reads numbers
 * with atoi(), so "yes" is 0. Here a value tgt would change is refused,
 * naming the parameter; the parameters tgt has and ringtgt does not
 * implement are refused as such, never ignored.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "scsi/scsi.h"

static const char *const param_names[SCSI_LU_P_COUNT] = {
	[SCSI_LU_P_SCSI_ID] = "scsi_id",
	[SCSI_LU_P_SCSI_SN] = "scsi_sn",
	[SCSI_LU_P_VENDOR_ID] = "vendor_id",
	[SCSI_LU_P_PRODUCT_ID] = "product_id",
	[SCSI_LU_P_PRODUCT_REV] = "product_rev",
	[SCSI_LU_P_REMOVABLE] = "removable",
	[SCSI_LU_P_READONLY] = "readonly",
	[SCSI_LU_P_SENSE_FORMAT] = "sense_format",
	[SCSI_LU_P_ONLINE] = "online",
	[SCSI_LU_P_THIN_PROVISIONING] = "thin_provisioning",
};

/* tgt's other lu_config() parameters, which ringtgt does not implement. */
static const char *const params_unsupported[] = {
	"mode_page", "lbppbe", "la_lba", "optimal_xfer_gran",
	"optimal_xfer_len", "rotation_rate", "path", "bsopts", "bsoflags",
};

const char *scsi_lu_param_name(enum scsi_lu_param p)
{
	return (unsigned)p < SCSI_LU_P_COUNT ? param_names[p] : NULL;
}

__attribute__((format(printf, 4, 5)))
static int param_fail(int rc, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/*
 * An ASCII data field (SPC-4 §4.3.1: 20h..7Eh) of @min..@max characters;
 * the identifiers need at least one.
 */
static int param_ascii(const char *name, const char *v, size_t min,
		       size_t max, char *why, size_t whylen)
{
	size_t n = strlen(v);

	if (n < min || n > max)
		return param_fail(-EINVAL, why, whylen,
				  "%s '%s' must be %zu..%zu characters (it has %zu)",
				  name, v, min, max, n);
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return param_fail(-EINVAL, why, whylen,
					  "%s has a character that is not printable ASCII (byte %zu)",
					  name, i + 1);
	return 0;
}

static int param_check_one(const struct scsi_lu_params *p,
			   enum scsi_lu_param k, char *why, size_t whylen)
{
	const char *name = param_names[k];

	switch (k) {
	case SCSI_LU_P_SCSI_ID:
		return param_ascii(name, p->scsi_id, 1, SCSI_LU_SCSI_ID_MAX,
				   why, whylen);
	case SCSI_LU_P_SCSI_SN:
		return param_ascii(name, p->scsi_sn, 1, SCSI_LU_SCSI_SN_MAX,
				   why, whylen);
	case SCSI_LU_P_VENDOR_ID:
		return param_ascii(name, p->vendor_id, 0, SCSI_LU_VENDOR_MAX,
				   why, whylen);
	case SCSI_LU_P_PRODUCT_ID:
		return param_ascii(name, p->product_id, 0, SCSI_LU_PRODUCT_MAX,
				   why, whylen);
	case SCSI_LU_P_PRODUCT_REV:
		return param_ascii(name, p->product_rev, 0, SCSI_LU_REV_MAX,
				   why, whylen);
	case SCSI_LU_P_SENSE_FORMAT:
		/* tgt: 0 fixed, 1 descriptor (SPC-4 §4.5); we send fixed */
		if (p->sense_format == 1)
			return param_fail(-EOPNOTSUPP, why, whylen,
					  "sense_format=1 (descriptor format sense data) is not supported; only 0 (fixed format)");
		if (p->sense_format != 0)
			return param_fail(-EINVAL, why, whylen,
					  "sense_format must be 0 (fixed) or 1 (descriptor)");
		return 0;
	case SCSI_LU_P_ONLINE:
		if (!p->online)
			return param_fail(-EOPNOTSUPP, why, whylen,
					  "online=0 (medium not present) is not supported; remove the LUN instead");
		return 0;
	case SCSI_LU_P_REMOVABLE:
	case SCSI_LU_P_READONLY:
	case SCSI_LU_P_THIN_PROVISIONING:
	case SCSI_LU_P_COUNT:
		break;
	}
	return 0;
}

int scsi_lu_params_check(const struct scsi_lu_params *p, char *why,
			 size_t whylen)
{
	for (unsigned k = 0; k < SCSI_LU_P_COUNT; k++) {
		int rc;

		if (!(p->set & (1u << k)))
			continue;
		rc = param_check_one(p, (enum scsi_lu_param)k, why, whylen);
		if (rc)
			return rc;
	}
	return 0;
}

/* A string parameter into its buffer of @size bytes (so the check sees
 * a longer value as too long rather than cut). */
static int param_copy(char *dst, size_t size, const char *name,
		      const char *v, size_t max, char *why, size_t whylen)
{
	if (strlen(v) >= size)
		return param_fail(-EINVAL, why, whylen,
				  "%s '%s' must be at most %zu characters (it has %zu)",
				  name, v, max, strlen(v));
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* tgt's flags and numbers: "0" or "1" here (tgt: atoi, any text). */
static int param_flag(const char *name, const char *v, unsigned max,
		      unsigned *out, char *why, size_t whylen)
{
	if (v[0] < '0' || v[0] > '9' || v[1] || (unsigned)(v[0] - '0') > max)
		return param_fail(-EINVAL, why, whylen,
				  "%s must be %s, not '%s'", name,
				  max == 1 ? "0 or 1" : "a number 0..9", v);
	*out = (unsigned)(v[0] - '0');
	return 0;
}

int scsi_lu_param_parse(struct scsi_lu_params *p, const char *name,
			const char *value, char *why, size_t whylen)
{
	struct scsi_lu_params t = *p;
	unsigned k, n = 0;
	int rc = 0;

	for (k = 0; k < SCSI_LU_P_COUNT; k++)
		if (strcmp(name, param_names[k]) == 0)
			break;
	if (k == SCSI_LU_P_COUNT) {
		for (size_t i = 0; i < ARRAY_SIZE(params_unsupported); i++)
			if (strcmp(name, params_unsupported[i]) == 0)
				return param_fail(-EOPNOTSUPP, why, whylen,
						  "LU parameter %s is not supported by ringtgt",
						  name);
		return param_fail(-ENOENT, why, whylen,
				  "unknown LU parameter '%s'", name);
	}
	if (!value)
		return param_fail(-EINVAL, why, whylen, "%s needs a value",
				  name);

	switch ((enum scsi_lu_param)k) {
	case SCSI_LU_P_SCSI_ID:
		rc = param_copy(t.scsi_id, sizeof(t.scsi_id), name, value,
				SCSI_LU_SCSI_ID_MAX, why, whylen);
		break;
	case SCSI_LU_P_SCSI_SN:
		rc = param_copy(t.scsi_sn, sizeof(t.scsi_sn), name, value,
				SCSI_LU_SCSI_SN_MAX, why, whylen);
		break;
	case SCSI_LU_P_VENDOR_ID:
		rc = param_copy(t.vendor_id, sizeof(t.vendor_id), name, value,
				SCSI_LU_VENDOR_MAX, why, whylen);
		break;
	case SCSI_LU_P_PRODUCT_ID:
		rc = param_copy(t.product_id, sizeof(t.product_id), name,
				value, SCSI_LU_PRODUCT_MAX, why, whylen);
		break;
	case SCSI_LU_P_PRODUCT_REV:
		rc = param_copy(t.product_rev, sizeof(t.product_rev), name,
				value, SCSI_LU_REV_MAX, why, whylen);
		break;
	case SCSI_LU_P_REMOVABLE:
		rc = param_flag(name, value, 1, &n, why, whylen);
		t.removable = n;
		break;
	case SCSI_LU_P_READONLY:
		rc = param_flag(name, value, 1, &n, why, whylen);
		t.readonly = n;
		break;
	case SCSI_LU_P_SENSE_FORMAT:
		rc = param_flag(name, value, 1, &n, why, whylen);
		t.sense_format = (uint8_t)n;
		break;
	case SCSI_LU_P_ONLINE:
		rc = param_flag(name, value, 1, &n, why, whylen);
		t.online = n;
		break;
	case SCSI_LU_P_THIN_PROVISIONING:
		rc = param_flag(name, value, 1, &n, why, whylen);
		t.thin_provisioning = n;
		break;
	case SCSI_LU_P_COUNT:
		break;
	}
	if (rc == 0)
		rc = param_check_one(&t, (enum scsi_lu_param)k, why, whylen);
	if (rc == 0) {
		t.set |= 1u << k;
		*p = t;
	}
	return rc;
}

int scsi_lu_param_parse_tgt(struct scsi_lu_params *p, const char *name,
			    const char *value, char *why, size_t whylen)
{
	static const struct {
		enum scsi_lu_param k;
		size_t max;
	} fields[] = {
		{ SCSI_LU_P_SCSI_ID, SCSI_LU_SCSI_ID_MAX },
		{ SCSI_LU_P_SCSI_SN, SCSI_LU_SCSI_SN_MAX },
		{ SCSI_LU_P_VENDOR_ID, SCSI_LU_VENDOR_MAX },
		{ SCSI_LU_P_PRODUCT_ID, SCSI_LU_PRODUCT_MAX },
		{ SCSI_LU_P_PRODUCT_REV, SCSI_LU_REV_MAX },
	};
	char cut[SCSI_LU_SCSI_ID_MAX + 1];

	for (size_t i = 0; value && i < ARRAY_SIZE(fields); i++) {
		if (strcmp(name, param_names[fields[i].k]) != 0 ||
		    strlen(value) <= fields[i].max)
			continue;
		memcpy(cut, value, fields[i].max);
		cut[fields[i].max] = '\0';
		return scsi_lu_param_parse(p, name, cut, why, whylen);
	}
	return scsi_lu_param_parse(p, name, value, why, whylen);
}
