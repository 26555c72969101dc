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
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "scsi/scsi.h"
#include "scsi/scsi_internal.h"

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
	[SCSI_LU_P_LBPPBE] = "lbppbe",
	[SCSI_LU_P_LA_LBA] = "la_lba",
	[SCSI_LU_P_OPTIMAL_XFER_GRAN] = "optimal_xfer_gran",
	[SCSI_LU_P_OPTIMAL_XFER_LEN] = "optimal_xfer_len",
	[SCSI_LU_P_MODE_PAGE] = "mode_page",
};

/* tgt's other lu_config() parameters, which ringtgt does not implement. */
static const char *const params_unsupported[] = {
	"rotation_rate", "path", "bsopts", "bsoflags",
};

/* The mode pages ringtgt serves: code and length, header included. */
static const struct {
	uint8_t code, len;
} mode_pages[SCSI_LU_MP_COUNT] = {
	[SCSI_LU_MP_RW_RECOVERY] = { 0x01, 12 },	/* SBC-4 §6.5.9 */
	[SCSI_LU_MP_CACHING] = { 0x08, 20 },		/* SBC-4 §6.5.5 */
	[SCSI_LU_MP_CONTROL] = { 0x0a, 12 },		/* SPC-4 §7.5.8 */
};

unsigned scsi_lu_mode_page_len(enum scsi_lu_mode_page mp, uint8_t *code)
{
	if ((unsigned)mp >= SCSI_LU_MP_COUNT)
		return 0;
	if (code)
		*code = mode_pages[mp].code;
	return mode_pages[mp].len;
}

int scsi_lu_mode_page_format(const struct scsi_lu_params *p,
			     enum scsi_lu_mode_page mp, char *out, size_t len)
{
	const uint8_t *pg = p->mode[mp];
	unsigned n = scsi_lu_mode_page_len(mp, NULL);
	int w, at;

	/* tgt's order: page, subpage, size, then the page's values */
	at = snprintf(out, len, "%u:0:%u", pg[0] & 0x3f, n - 2);
	for (unsigned i = 2; i < n && at >= 0; i++) {
		w = snprintf(out + ((size_t)at < len ? (size_t)at : len),
			     (size_t)at < len ? len - (size_t)at : 0,
			     ":0x%02x", pg[i]);
		at = w < 0 ? w : at + w;
	}
	return at;
}

const char *scsi_lu_param_name(enum scsi_lu_param p)
{
	return (unsigned)p < SCSI_LU_P_COUNT ? param_names[p] : NULL;
}

int scsi_fail_why(int rc, char *why, size_t whylen, const char *fmt, ...)
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
		return scsi_fail_why(-EINVAL, why, whylen,
				  "%s '%s' must be %zu..%zu characters (it has %zu)",
				  name, v, min, max, n);
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return scsi_fail_why(-EINVAL, why, whylen,
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
			return scsi_fail_why(-EOPNOTSUPP, why, whylen,
					  "sense_format=1 (descriptor format sense data) is not supported; only 0 (fixed format)");
		if (p->sense_format != 0)
			return scsi_fail_why(-EINVAL, why, whylen,
					  "sense_format must be 0 (fixed) or 1 (descriptor)");
		return 0;
	case SCSI_LU_P_ONLINE:
		if (!p->online)
			return scsi_fail_why(-EOPNOTSUPP, why, whylen,
					  "online=0 (medium not present) is not supported; remove the LUN instead");
		return 0;
	case SCSI_LU_P_LBPPBE:
		/* SBC-4 §5.20.2: 4 bits; a physical block is 2^lbppbe
		 * logical blocks, so always a power-of-two multiple */
		if (p->lbppbe > SCSI_LU_LBPPBE_MAX)
			return scsi_fail_why(-EINVAL, why, whylen,
					  "lbppbe must be 0..%d (the exponent of logical blocks per physical block)",
					  SCSI_LU_LBPPBE_MAX);
		return 0;
	case SCSI_LU_P_LA_LBA:
		if (p->la_lba > SCSI_LU_LA_LBA_MAX)	/* a 14-bit field */
			return scsi_fail_why(-EINVAL, why, whylen,
					  "la_lba must be 0..%d",
					  SCSI_LU_LA_LBA_MAX);
		return 0;
	case SCSI_LU_P_MODE_PAGE:
		for (unsigned mp = 0; mp < SCSI_LU_MP_COUNT; mp++)
			if ((p->mode_set & (1u << mp)) &&
			    (p->mode[mp][0] != mode_pages[mp].code ||
			     p->mode[mp][1] != mode_pages[mp].len - 2))
				return scsi_fail_why(-EINVAL, why, whylen,
						  "mode_page: page %02Xh is not laid out as ringtgt serves it",
						  mode_pages[mp].code);
		return 0;
	case SCSI_LU_P_REMOVABLE:
	case SCSI_LU_P_READONLY:
	case SCSI_LU_P_THIN_PROVISIONING:
	case SCSI_LU_P_OPTIMAL_XFER_GRAN:	/* the struct holds the field */
	case SCSI_LU_P_OPTIMAL_XFER_LEN:
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
		return scsi_fail_why(-EINVAL, why, whylen,
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
		return scsi_fail_why(-EINVAL, why, whylen,
				  "%s must be %s, not '%s'", name,
				  max == 1 ? "0 or 1" : "a number 0..9", v);
	*out = (unsigned)(v[0] - '0');
	return 0;
}

/* A decimal number 0..@max (tgt: atoi, so "0x10" is 0 there). */
static int param_number(const char *name, const char *v, uint32_t max,
			uint32_t *out, char *why, size_t whylen)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; v[i] >= '0' && v[i] <= '9' && n <= max; i++)
		n = n * 10 + (uint64_t)(v[i] - '0');
	if (i == 0 || v[i] || n > max)
		return scsi_fail_why(-EINVAL, why, whylen,
				  "%s must be a decimal number 0..%" PRIu32 ", not '%s'",
				  name, max, v);
	*out = (uint32_t)n;
	return 0;
}

/* One number of a mode_page value, as tgt's strtol(p, NULL, 0) reads it,
 * but all of it and at most @max. */
static int mode_number(const char **s, unsigned long max, unsigned long *out)
{
	const char *v = *s;
	char *end;

	if (*v < '0' || *v > '9')	/* no sign, no blank */
		return -EINVAL;
	errno = 0;
	*out = strtoul(v, &end, 0);
	if (errno || end == v || *out > max || (*end && *end != ':'))
		return -EINVAL;
	*s = *end ? end + 1 : end;
	return 0;
}

/*
 * tgt's mode_page value "PAGE:SUBPAGE:SIZE:BYTE:BYTE..." (usr/spc.c,
 * add_mode_page()): SIZE is the page length (SPC-4 §7.5.7: the bytes
 * after the page header), then the page's values. tgt adds a page it
 * does not have, pads missing bytes with zeroes and takes a byte above
 * 255 modulo 256; here only the pages ringtgt serves, every byte given,
 * each 0..255.
 */
static int param_mode_page(struct scsi_lu_params *t, const char *v,
			   char *why, size_t whylen)
{
	unsigned long code, sub, size, b;
	uint8_t pg[SCSI_LU_MODE_PAGE_MAX] = { 0 };
	unsigned mp, n;
	const char *s = v;

	if (mode_number(&s, 0x3f, &code) || mode_number(&s, 0xff, &sub) ||
	    mode_number(&s, 0xffff, &size))
		return scsi_fail_why(-EINVAL, why, whylen,
				  "mode_page '%s': PAGE:SUBPAGE:SIZE:BYTE... expected (page 0..0x3f, subpage 0..0xff, size 0..0xffff)",
				  v);
	for (mp = 0; mp < SCSI_LU_MP_COUNT; mp++)
		if (mode_pages[mp].code == code)
			break;
	if (mp == SCSI_LU_MP_COUNT || sub != 0)
		return scsi_fail_why(-EOPNOTSUPP, why, whylen,
				  "mode_page: ringtgt serves mode pages 01h (Read-Write Error Recovery), 08h (Caching) and 0Ah (Control), without subpages; not page %02lXh subpage %02lXh",
				  code, sub);
	n = mode_pages[mp].len;
	if (size != n - 2)
		return scsi_fail_why(-EINVAL, why, whylen,
				  "mode_page: page %02lXh has %u bytes after its header, not %lu",
				  code, n - 2, size);
	for (unsigned i = 2; i < n; i++) {
		if (!*s)
			return scsi_fail_why(-EINVAL, why, whylen,
					  "mode_page: page %02lXh needs %u bytes, it has %u",
					  code, n - 2, i - 2);
		if (mode_number(&s, 0xff, &b))
			return scsi_fail_why(-EINVAL, why, whylen,
					  "mode_page: byte %u of page %02lXh must be a number 0..255",
					  i, code);
		pg[i] = (uint8_t)b;
	}
	if (*s)
		return scsi_fail_why(-EINVAL, why, whylen,
				  "mode_page: page %02lXh has %u bytes after its header; more were given",
				  code, n - 2);
	pg[0] = (uint8_t)code;
	pg[1] = (uint8_t)(n - 2);
	memcpy(t->mode[mp], pg, sizeof(pg));
	t->mode_set |= 1u << mp;
	return 0;
}

int scsi_lu_param_parse(struct scsi_lu_params *p, const char *name,
			const char *value, char *why, size_t whylen)
{
	struct scsi_lu_params t = *p;
	unsigned k, n = 0;
	uint32_t u = 0;
	int rc = 0;

	for (k = 0; k < SCSI_LU_P_COUNT; k++)
		if (strcmp(name, param_names[k]) == 0)
			break;
	if (k == SCSI_LU_P_COUNT) {
		for (size_t i = 0; i < ARRAY_SIZE(params_unsupported); i++)
			if (strcmp(name, params_unsupported[i]) == 0)
				return scsi_fail_why(-EOPNOTSUPP, why, whylen,
						  "LU parameter %s is not supported by ringtgt",
						  name);
		return scsi_fail_why(-ENOENT, why, whylen,
				  "unknown LU parameter '%s'", name);
	}
	if (!value)
		return scsi_fail_why(-EINVAL, why, whylen, "%s needs a value",
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
	case SCSI_LU_P_LBPPBE:
		rc = param_number(name, value, SCSI_LU_LBPPBE_MAX, &u, why,
				  whylen);
		t.lbppbe = (uint8_t)u;
		break;
	case SCSI_LU_P_LA_LBA:
		rc = param_number(name, value, SCSI_LU_LA_LBA_MAX, &u, why,
				  whylen);
		t.la_lba = (uint16_t)u;
		break;
	case SCSI_LU_P_OPTIMAL_XFER_GRAN:	/* SBC-4 §6.6.4: 16 bits */
		rc = param_number(name, value, UINT16_MAX, &u, why, whylen);
		t.optimal_xfer_gran = (uint16_t)u;
		break;
	case SCSI_LU_P_OPTIMAL_XFER_LEN:	/* ... 32 bits */
		rc = param_number(name, value, UINT32_MAX, &u, why, whylen);
		t.optimal_xfer_len = u;
		break;
	case SCSI_LU_P_MODE_PAGE:
		rc = param_mode_page(&t, value, why, whylen);
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
