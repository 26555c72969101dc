/*
 * tgt's LU parameters (src/scsi/lu_params.c, scsi_lu_update in lu.c):
 * parsing and refusals; the INQUIRY data and VPD pages 0x80 / 0x83 an LU
 * with scsi_id / scsi_sn returns, against bytes captured from a real
 * tgtd 1.0.85 (libiscsi INQUIRY, same parameters); the unit attentions
 * of a live change (SPC-4 §5.14).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "backing/bs.h"
#include "base/base.h"
#include "scsi/scsi.h"

#define TGT_NAME "iqn.2010-10.org.openstack:volume-5c1d7d6e-3b2a-4f0e-9c8d-1a2b3c4d5e6f"

static struct scsi_target tgt;
static struct scsi_nexus nexus;
static int done_calls;

static void task_done(struct scsi_task *t)
{
	(void)t;
	done_calls++;
}

static void setup(void)
{
	scsi_target_init(&tgt, TGT_NAME);
	memset(&nexus, 0, sizeof(nexus));
	strcpy(nexus.initiator_port, "iqn.1994-05.com.redhat:x,i,0x1");
	nexus.rel_port_id = 1;
	nexus.target = &tgt;
}

static void teardown(void)
{
	scsi_target_destroy(&tgt);
}

TestSuite(lu_params, .init = setup, .fini = teardown);

/* A RAM disk LU at @lun of the target with tgt's parameters @p. */
static struct scsi_lu *lu_with(uint64_t lun, const struct scsi_lu_params *p)
{
	struct bs_open_args a = { .size = 1 << 20 };
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = lun,
		.bs = bs_open(&bs_ram_ops, NULL, &a),
		.target_name = TGT_NAME, .params = p,
	};
	struct scsi_lu *lu;

	cr_assert_not_null(cfg.bs);
	lu = scsi_lu_new(&cfg);
	cr_assert_not_null(lu, "scsi_lu_new: %s", strerror(errno));
	cr_assert_eq(scsi_target_add_lu(&tgt, lu), 0);
	scsi_lu_get(lu);	/* the test's own reference */
	return lu;
}

/* Parses "k=v" pairs (tgtadm --params) into @p; every one must be good. */
static void params(struct scsi_lu_params *p, const char *const *kv)
{
	char why[200] = "";

	for (; *kv; kv += 2)
		cr_assert_eq(scsi_lu_param_parse(p, kv[0], kv[1], why,
						 sizeof(why)), 0,
			     "%s=%s: %s", kv[0], kv[1], why);
}

static uint8_t run(struct scsi_task *t, struct scsi_lu *lu, const uint8_t *cdb,
		   size_t len, uint8_t *buf, uint32_t exp_len)
{
	memset(t, 0, sizeof(*t));
	t->nexus = &nexus;
	t->lu = lu;
	t->lun = scsi_lu_lun(lu);
	memcpy(t->cdb, cdb, len);
	t->exp_len = exp_len;
	t->done = task_done;
	if (scsi_task_prepare(t) != SENSE_NONE)
		return t->status;
	t->buf = buf;
	t->buf_len = MIN(exp_len, t->data_len);
	scsi_task_exec(t);
	return t->status;
}

/* INQUIRY (EVPD @evpd, page @page) into @b; returns the bytes moved. */
static uint32_t inquiry(struct scsi_lu *lu, bool evpd, uint8_t page,
			uint8_t *b)
{
	uint8_t c[6] = { 0x12, evpd ? 1 : 0, page, 0, 0xff, 0 };
	struct scsi_task t;

	memset(b, 0xee, 255);
	cr_assert_eq(run(&t, lu, c, 6, b, 255), SAM_STAT_GOOD,
		     "INQUIRY %d/%02x", evpd, page);
	return t.xfer_len;
}

static void assert_bytes(const uint8_t *got, const uint8_t *want, size_t n,
			 const char *what)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i],
			     "%s: byte %zu is %02x, tgt has %02x", what, i,
			     got[i], want[i]);
}

/*
 * Captured from tgtd 1.0.85 with libiscsi (iscsi_inquiry_sync), LUN 1 of
 * TGT_NAME after `tgtadm --op update --mode logicalunit --params
 * scsi_id=volume-5c1d7d6e-3b2a-4f0e-9c8d-1a2b3c4d5e6f,scsi_sn=<same>`,
 * Cinder's values (tgt keeps 36 of the 43 characters).
 */
static const uint8_t cinder_vpd80[] = {
	0x00, 0x80, 0x00, 0x24, 0x76, 0x6f, 0x6c, 0x75, 0x6d, 0x65, 0x2d, 0x35,
	0x63, 0x31, 0x64, 0x37, 0x64, 0x36, 0x65, 0x2d, 0x33, 0x62, 0x32, 0x61,
	0x2d, 0x34, 0x66, 0x30, 0x65, 0x2d, 0x39, 0x63, 0x38, 0x64, 0x2d, 0x31,
	0x61, 0x32, 0x62, 0x33,
};
/* its VPD 0x83, LU designators: T10 vendor ID (36 bytes), NAA local
 * (tid 1, LUN 1: 30 00 00 01 00 00 00 01), NAA 6 */
static const uint8_t cinder_t10[] = {
	0x02, 0x01, 0x00, 0x24, 0x76, 0x6f, 0x6c, 0x75, 0x6d, 0x65, 0x2d, 0x35,
	0x63, 0x31, 0x64, 0x37, 0x64, 0x36, 0x65, 0x2d, 0x33, 0x62, 0x32, 0x61,
	0x2d, 0x34, 0x66, 0x30, 0x65, 0x2d, 0x39, 0x63, 0x38, 0x64, 0x2d, 0x31,
	0x61, 0x32, 0x62, 0x33,
};
static const uint8_t cinder_naa6[] = {
	0x01, 0x03, 0x00, 0x10, 0x6e, 0x05, 0xc1, 0xd7, 0xd6, 0xe0, 0x3b, 0x2a,
	0x04, 0xf0, 0xe0, 0x9c, 0x8d, 0x01, 0xa2, 0xb3,
};

/* LUN 2: scsi_id=abc,scsi_sn=SN42,vendor_id=ACME,product_id=BLOCK,
 * product_rev=1.2,removable=1 */
static const uint8_t short_std[36] = {
	0x00, 0x80, 0x05, 0x12, 0x3d, 0x00, 0x00, 0x02, 0x41, 0x43, 0x4d, 0x45,
	0x20, 0x20, 0x20, 0x20, 0x42, 0x4c, 0x4f, 0x43, 0x4b, 0x20, 0x20, 0x20,
	0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x31, 0x2e, 0x32, 0x20,
};
static const uint8_t short_vpd80[] = {
	0x00, 0x80, 0x00, 0x24, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
	0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
	0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
	0x53, 0x4e, 0x34, 0x32,
};
static const uint8_t short_t10[] = {
	0x02, 0x01, 0x00, 0x24, 0x61, 0x62, 0x63, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
};
static const uint8_t short_naa6[] = {
	0x01, 0x03, 0x00, 0x10, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0xbc,
};

/* LUN 3: scsi_id=360000000000000000e00000000010001 (33 hex digits:
 * the first one falls off the 128 bits) */
static const uint8_t hex_naa6[] = {
	0x01, 0x03, 0x00, 0x10, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01,
};

/*
 * VPD 0x83 of an LU with scsi_id: tgt's T10 and NAA 6 designators first
 * (tgt's NAA locally assigned one, made of the tid, is not reproduced),
 * then ringtgt's port designators; the page length covers them all.
 */
static void assert_vpd83(struct scsi_lu *lu, const uint8_t *t10,
			 const uint8_t *naa6, const char *what)
{
	uint8_t b[255];
	uint32_t len = inquiry(lu, true, 0x83, b);

	cr_assert_eq(b[1], 0x83);
	cr_assert_eq(get_be16(b + 2), len - 4);
	assert_bytes(b + 4, t10, 40, what);
	assert_bytes(b + 44, naa6, 20, what);
	/* relative target port designator follows (SPC-4 §7.8.6.6.7) */
	cr_assert_eq(b[64 + 1] & 0x3f, 0x14, "%s: then the relative port", what);
}

Test(lu_params, tgt_vectors_cinder)
{
	static const char *const kv[] = {
		"scsi_id", "volume-5c1d7d6e-3b2a-4f0e-9c8d-1a2b3",
		"scsi_sn", "volume-5c1d7d6e-3b2a-4f0e-9c8d-1a2b3", NULL,
	};
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *lu;
	uint8_t b[255];

	params(&p, kv);
	lu = lu_with(1, &p);
	cr_assert_eq(inquiry(lu, true, 0x80, b), sizeof(cinder_vpd80));
	assert_bytes(b, cinder_vpd80, sizeof(cinder_vpd80), "VPD 0x80");
	assert_vpd83(lu, cinder_t10, cinder_naa6, "VPD 0x83");
	scsi_lu_put(lu);
}

/* What tgtadm / tgt-admin do with Cinder's 43 characters: cut as tgt. */
Test(lu_params, tgt_cut_gives_the_same_identifiers)
{
	static const char id[] = "volume-5c1d7d6e-3b2a-4f0e-9c8d-1a2b3c4d5e6f";
	struct scsi_lu_params p = { 0 };
	char why[200] = "";
	struct scsi_lu *lu;
	uint8_t b[255];

	cr_assert_eq(scsi_lu_param_parse(&p, "scsi_id", id, why, sizeof(why)),
		     -EINVAL, "the native parser refuses what tgt would cut");
	cr_assert_str_eq(why, "scsi_id 'volume-5c1d7d6e-3b2a-4f0e-9c8d-1a2b3c4d5e6f' must be at most 36 characters (it has 43)");
	cr_assert_eq(scsi_lu_param_parse_tgt(&p, "scsi_id", id, why,
					     sizeof(why)), 0, "%s", why);
	cr_assert_eq(scsi_lu_param_parse_tgt(&p, "scsi_sn", id, why,
					     sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(p.scsi_id, "volume-5c1d7d6e-3b2a-4f0e-9c8d-1a2b3");
	lu = lu_with(1, &p);
	cr_assert_eq(inquiry(lu, true, 0x80, b), sizeof(cinder_vpd80));
	assert_bytes(b, cinder_vpd80, sizeof(cinder_vpd80), "VPD 0x80");
	assert_vpd83(lu, cinder_t10, cinder_naa6, "VPD 0x83");
	scsi_lu_put(lu);
}

Test(lu_params, tgt_vectors_short_values)
{
	static const char *const kv[] = {
		"scsi_id", "abc", "scsi_sn", "SN42", "vendor_id", "ACME",
		"product_id", "BLOCK", "product_rev", "1.2", "removable", "1",
		NULL,
	};
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *lu;
	uint8_t b[255];

	params(&p, kv);
	lu = lu_with(2, &p);
	inquiry(lu, false, 0, b);
	cr_assert_eq(b[1], short_std[1], "RMB");
	assert_bytes(b + 8, short_std + 8, 28, "vendor, product, revision");
	cr_assert_eq(inquiry(lu, true, 0x80, b), sizeof(short_vpd80));
	assert_bytes(b, short_vpd80, sizeof(short_vpd80), "VPD 0x80");
	assert_vpd83(lu, short_t10, short_naa6, "VPD 0x83");
	scsi_lu_put(lu);
}

Test(lu_params, tgt_vectors_hex_scsi_id)
{
	static const char *const kv[] = {
		"scsi_id", "360000000000000000e00000000010001", NULL,
	};
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *lu;
	uint8_t b[255];

	params(&p, kv);
	lu = lu_with(3, &p);
	inquiry(lu, true, 0x83, b);
	assert_bytes(b + 44, hex_naa6, sizeof(hex_naa6), "NAA 6");
	/* no scsi_sn: ringtgt's own serial, never tgt's "beaf<tid><lun>" */
	cr_assert_eq(inquiry(lu, true, 0x80, b), 4 + 16);
	cr_assert_arr_eq(b + 4, scsi_lu_serial(lu), 16);
	scsi_lu_put(lu);
}

/* Without scsi_id / scsi_sn the identifiers are ringtgt's, unchanged. */
Test(lu_params, own_identifiers_without_them)
{
	static const char *const kv[] = { "vendor_id", "IET", NULL };
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *plain = lu_with(4, NULL), *lu;
	uint8_t a[255], b[255];

	params(&p, kv);
	scsi_target_remove_lu(&tgt, 4);
	lu = lu_with(4, &p);
	inquiry(plain, true, 0x83, a);
	inquiry(lu, true, 0x83, b);
	cr_assert_eq(a[5] & 0x0f, 0x03, "NAA first");
	assert_bytes(b + 4, a + 4, 20, "the same NAA designator");
	cr_assert_arr_eq(b + 24 + 4, "IET     ", 8, "T10 vendor = vendor_id");
	scsi_lu_put(plain);
	scsi_lu_put(lu);
}

struct bad {
	const char *name, *value;
	int rc;
	const char *why;
};

Test(lu_params, parse_refusals)
{
	static const struct bad bad[] = {
		{ "vendor_id", "NINECHARS", -EINVAL,
		  "vendor_id 'NINECHARS' must be at most 8 characters (it has 9)" },
		{ "product_id", "SEVENTEEN-CHARS-X", -EINVAL,
		  "product_id 'SEVENTEEN-CHARS-X' must be at most 16 characters (it has 17)" },
		{ "product_rev", "1.2.3", -EINVAL,
		  "product_rev '1.2.3' must be at most 4 characters (it has 5)" },
		{ "scsi_sn", "", -EINVAL,
		  "scsi_sn '' must be 1..36 characters (it has 0)" },
		{ "scsi_id", "a\tb", -EINVAL,
		  "scsi_id has a character that is not printable ASCII (byte 2)" },
		{ "removable", "yes", -EINVAL, "removable must be 0 or 1, not 'yes'" },
		{ "readonly", "2", -EINVAL, "readonly must be 0 or 1, not '2'" },
		{ "sense_format", "1", -EOPNOTSUPP,
		  "sense_format=1 (descriptor format sense data) is not supported; only 0 (fixed format)" },
		{ "online", "0", -EOPNOTSUPP,
		  "online=0 (medium not present) is not supported; remove the LUN instead" },
		{ "lbppbe", "16", -EINVAL,
		  "lbppbe must be a decimal number 0..15, not '16'" },
		{ "lbppbe", "0x3", -EINVAL,
		  "lbppbe must be a decimal number 0..15, not '0x3'" },
		{ "la_lba", "16384", -EINVAL,
		  "la_lba must be a decimal number 0..16383, not '16384'" },
		{ "optimal_xfer_gran", "65536", -EINVAL,
		  "optimal_xfer_gran must be a decimal number 0..65535, not '65536'" },
		{ "optimal_xfer_len", "4294967296", -EINVAL,
		  "optimal_xfer_len must be a decimal number 0..4294967295, not '4294967296'" },
		{ "optimal_xfer_len", "-1", -EINVAL,
		  "optimal_xfer_len must be a decimal number 0..4294967295, not '-1'" },
		{ "optimal_xfer_len", "", -EINVAL,
		  "optimal_xfer_len must be a decimal number 0..4294967295, not ''" },
		/* tgt adds any page; ringtgt serves three, without subpages */
		{ "mode_page", "0x1c:0:10:8:0:0:0:0:0:0:0:0:0", -EOPNOTSUPP,
		  "mode_page: ringtgt serves mode pages 01h (Read-Write Error Recovery), 08h (Caching) and 0Ah (Control), without subpages; not page 1Ch subpage 00h" },
		{ "mode_page", "0x0a:1:0x1c:0x04:0x00:0x00", -EOPNOTSUPP,
		  "mode_page: ringtgt serves mode pages 01h (Read-Write Error Recovery), 08h (Caching) and 0Ah (Control), without subpages; not page 0Ah subpage 01h" },
		/* SPC-4 §7.5.7: the PAGE LENGTH of the page, every byte */
		{ "mode_page", "8:0:17:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0", -EINVAL,
		  "mode_page: page 08h has 18 bytes after its header, not 17" },
		{ "mode_page", "8:0:18:0x10", -EINVAL,
		  "mode_page: page 08h needs 18 bytes, it has 1" },
		{ "mode_page", "1:0:10:0:0:0:0:0:0:0:0:0:0:0", -EINVAL,
		  "mode_page: page 01h has 10 bytes after its header; more were given" },
		{ "mode_page", "1:0:10:0:256:0:0:0:0:0:0:0:0", -EINVAL,
		  "mode_page: byte 3 of page 01h must be a number 0..255" },
		{ "mode_page", "1:0:10:0:08:0:0:0:0:0:0:0:0", -EINVAL,
		  "mode_page: byte 3 of page 01h must be a number 0..255" },
		{ "mode_page", "1:0:10:0:x:0:0:0:0:0:0:0:0", -EINVAL,
		  "mode_page: byte 3 of page 01h must be a number 0..255" },
		{ "mode_page", "caching", -EINVAL,
		  "mode_page 'caching': PAGE:SUBPAGE:SIZE:BYTE... expected (page 0..0x3f, subpage 0..0xff, size 0..0xffff)" },
		{ "rotation_rate", "1", -EOPNOTSUPP,
		  "LU parameter rotation_rate is not supported by ringtgt" },
		{ "swp", "1", -ENOENT, "unknown LU parameter 'swp'" },
		{ "serial", "x", -ENOENT, "unknown LU parameter 'serial'" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct scsi_lu_params p = { 0 };
		char why[200] = "";

		cr_expect_eq(scsi_lu_param_parse(&p, bad[i].name, bad[i].value,
						 why, sizeof(why)), bad[i].rc,
			     "%s=%s", bad[i].name, bad[i].value);
		cr_expect_str_eq(why, bad[i].why);
		cr_expect_eq(p.set, 0u, "%s: nothing set", bad[i].name);
	}
}

Test(lu_params, parse_values)
{
	static const char *const kv[] = {
		"vendor_id", "", "product_id", "0123456789abcdef",
		"product_rev", "0001", "readonly", "1", "removable", "0",
		"sense_format", "0", "online", "1", "thin_provisioning", "1",
		"scsi_id", "IET     00010001", NULL,
	};
	struct scsi_lu_params p = { 0 };

	params(&p, kv);
	cr_expect_eq(p.set, (1u << SCSI_LU_P_LBPPBE) - 1 -
				    (1u << SCSI_LU_P_SCSI_SN));
	cr_expect_str_eq(p.vendor_id, "");
	cr_expect_str_eq(p.product_id, "0123456789abcdef");
	cr_expect_str_eq(p.scsi_id, "IET     00010001");
	cr_expect(p.readonly && !p.removable && p.online && p.thin_provisioning);
	cr_expect_str_eq(scsi_lu_param_name(SCSI_LU_P_THIN_PROVISIONING),
			 "thin_provisioning");
	cr_expect_null(scsi_lu_param_name(SCSI_LU_P_COUNT));
}

/* TEST UNIT READY; its status, sense in *t. */
static uint8_t tur(struct scsi_task *t, struct scsi_lu *lu)
{
	static const uint8_t c[6] = { 0 };

	return run(t, lu, c, 6, NULL, 0);
}

static void assert_ua(struct scsi_task *t, uint8_t asc, uint8_t ascq)
{
	cr_assert_eq(t->status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(t->sense[2] & 0x0f, 0x6, "UNIT ATTENTION");
	cr_assert_eq(t->sense[12], asc, "asc %02x", t->sense[12]);
	cr_assert_eq(t->sense[13], ascq, "ascq %02x", t->sense[13]);
}

/*
 * SPC-4 §5.14: a change of the INQUIRY data is reported once, as
 * INQUIRY DATA HAS CHANGED, to each nexus that had used the LU; INQUIRY
 * itself already returns the new data and does not report it.
 */
Test(lu_params, update_reports_inquiry_data_changed)
{
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *lu = lu_with(1, NULL);
	struct scsi_task t;
	char why[200] = "";
	uint8_t b[255];

	cr_assert_eq(tur(&t, lu), SAM_STAT_GOOD);
	cr_assert_eq(scsi_lu_param_parse(&p, "scsi_sn", "NEWSN", why,
					 sizeof(why)), 0);
	cr_assert_eq(scsi_lu_update(lu, &p, why, sizeof(why)), 0, "%s", why);

	cr_assert_eq(inquiry(lu, true, 0x80, b), 4 + 36);
	cr_assert_arr_eq(b + 4 + 31, "NEWSN", 5, "INQUIRY shows the new serial");
	tur(&t, lu);
	assert_ua(&t, 0x3f, 0x03);
	cr_assert_eq(tur(&t, lu), SAM_STAT_GOOD, "reported once");

	/* the same value again changes nothing: no unit attention */
	cr_assert_eq(scsi_lu_update(lu, &p, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(tur(&t, lu), SAM_STAT_GOOD);
	scsi_lu_put(lu);
}

/* A nexus that meets the LU after the change reads the new data: no UA. */
Test(lu_params, update_no_ua_for_a_new_nexus)
{
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *lu = lu_with(1, NULL);
	struct scsi_task t;
	char why[200] = "";

	cr_assert_eq(scsi_lu_param_parse(&p, "product_id", "OTHER", why,
					 sizeof(why)), 0);
	cr_assert_eq(scsi_lu_update(lu, &p, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(tur(&t, lu), SAM_STAT_GOOD);
	scsi_lu_put(lu);
}

/* readonly changes WP (SBC-3 §6.4.1): MODE PARAMETERS CHANGED, and
 * writes fail DATA PROTECT from then on. */
Test(lu_params, update_readonly)
{
	static const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	static const uint8_t ms6[6] = { 0x1a, 0, 0x3f, 0, 0xff, 0 };
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *lu = lu_with(1, NULL);
	struct scsi_task t;
	char why[200] = "";
	uint8_t blk[512] = { 0 }, b[255];

	cr_assert_eq(run(&t, lu, w10, 10, blk, 512), SAM_STAT_GOOD);
	cr_assert_eq(scsi_lu_param_parse(&p, "readonly", "1", why,
					 sizeof(why)), 0);
	cr_assert_eq(scsi_lu_update(lu, &p, why, sizeof(why)), 0, "%s", why);
	tur(&t, lu);
	assert_ua(&t, 0x2a, 0x01);
	/* RAM stores deallocate: the provisioning pages changed too */
	tur(&t, lu);
	assert_ua(&t, 0x3f, 0x03);
	cr_assert_eq(run(&t, lu, w10, 10, blk, 512), SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(t.sense[2] & 0x0f, 0x7, "DATA PROTECT");
	cr_assert_eq(t.sense[12], 0x27);
	cr_assert_eq(run(&t, lu, ms6, 6, b, 255), SAM_STAT_GOOD);
	cr_assert_eq(b[2] & 0x80, 0x80, "WP");
	scsi_lu_put(lu);
}

/* All or nothing: one bad value, nothing changes and nothing is raised. */
Test(lu_params, update_all_or_nothing)
{
	struct bs_open_args a = { .size = 1 << 20, .readonly = true };
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 1,
		.bs = bs_open(&bs_ram_ops, NULL, &a), .target_name = TGT_NAME,
	};
	struct scsi_lu_params p = { 0 }, now;
	struct scsi_lu *lu;
	struct scsi_task t;
	char why[200] = "";

	cr_assert_not_null(cfg.bs);
	lu = scsi_lu_new(&cfg);
	cr_assert_not_null(lu);
	cr_assert_eq(tur(&t, lu), SAM_STAT_GOOD);
	cr_assert_eq(scsi_lu_param_parse(&p, "product_id", "NEW", why,
					 sizeof(why)), 0);
	cr_assert_eq(scsi_lu_param_parse(&p, "readonly", "0", why,
					 sizeof(why)), 0);
	cr_assert_eq(scsi_lu_update(lu, &p, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "readonly=0: the backing store"), "%s", why);
	scsi_lu_params_get(lu, &now);
	cr_assert_str_eq(now.product_id, "VIRTUAL-DISK");
	cr_assert(now.readonly);
	cr_assert_eq(tur(&t, lu), SAM_STAT_GOOD);
	scsi_lu_put(lu);
}

/*
 * thin_provisioning=0 turns logical block provisioning off on a store
 * that can deallocate (tgt's default): no LBPU in VPD 0xB2, no LBPME in
 * READ CAPACITY (16), UNMAP not supported; the change is INQUIRY data
 * (SPC-4 §5.14). thin_provisioning=1 turns it back on.
 */
Test(lu_params, update_thin_provisioning)
{
	static const uint8_t unmap[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0 };
	static const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0,
					  0, 0, 0, 0, 0, 32, 0, 0 };
	struct scsi_lu_params off = { 0 }, on = { 0 }, now;
	struct scsi_lu *lu = lu_with(1, NULL);
	struct scsi_task t;
	char why[200] = "";
	uint8_t b[255];

	cr_assert_eq(scsi_lu_param_parse(&off, "thin_provisioning", "0", why,
					 sizeof(why)), 0);
	cr_assert_eq(scsi_lu_param_parse(&on, "thin_provisioning", "1", why,
					 sizeof(why)), 0);
	inquiry(lu, true, 0xb2, b);
	cr_assert_eq(b[5] & 0x80, 0x80, "LBPU: RAM stores deallocate");
	cr_assert_eq(tur(&t, lu), SAM_STAT_GOOD);

	cr_assert_eq(scsi_lu_update(lu, &off, why, sizeof(why)), 0, "%s", why);
	tur(&t, lu);
	assert_ua(&t, 0x3f, 0x03);
	inquiry(lu, true, 0xb2, b);
	cr_assert_eq(b[5] & 0x80, 0, "no LBPU");
	cr_assert_eq(run(&t, lu, rc16, 16, b, 32), SAM_STAT_GOOD);
	cr_assert_eq(b[14] & 0x80, 0, "no LBPME");
	run(&t, lu, unmap, 10, b, 24);
	cr_assert_eq(t.status, SAM_STAT_CHECK_CONDITION);
	cr_assert_eq(t.sense[12], 0x20, "UNMAP: INVALID COMMAND OPERATION CODE");
	scsi_lu_params_get(lu, &now);
	cr_assert_not(now.thin_provisioning);

	cr_assert_eq(scsi_lu_update(lu, &on, why, sizeof(why)), 0, "%s", why);
	tur(&t, lu);
	assert_ua(&t, 0x3f, 0x03);
	inquiry(lu, true, 0xb2, b);
	cr_assert_eq(b[5] & 0x80, 0x80, "LBPU again");
	scsi_lu_put(lu);
}

/*
 * A LUN tgt served without scsi_id / scsi_sn had tgt's defaults, made of
 * the tid (tid 2, LUN 1 here: "IET     00020001", "beaf21"); given as
 * scsi_id / scsi_sn with tgt's vendor, product and revision, the LU
 * answers as tgt did (docs/migrating-from-tgt.md). Captured from tgtd
 * 1.0.85 with no parameters set.
 */
Test(lu_params, tgt_vectors_pinned_defaults)
{
	static const char *const kv[] = {
		"scsi_id", "IET     00020001", "scsi_sn", "beaf21",
		"vendor_id", "IET", "product_id", "VIRTUAL-DISK",
		"product_rev", "0001", NULL,
	};
	static const uint8_t std[36] = {
		0x00, 0x00, 0x05, 0x12, 0x3d, 0x00, 0x00, 0x02, 0x49, 0x45, 0x54, 0x20,
		0x20, 0x20, 0x20, 0x20, 0x56, 0x49, 0x52, 0x54, 0x55, 0x41, 0x4c, 0x2d,
		0x44, 0x49, 0x53, 0x4b, 0x20, 0x20, 0x20, 0x20, 0x30, 0x30, 0x30, 0x31,
	};
	static const uint8_t vpd80[] = {
		0x00, 0x80, 0x00, 0x24, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
		0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
		0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x62, 0x65,
		0x61, 0x66, 0x32, 0x31,
	};
	static const uint8_t t10[] = {
		0x02, 0x01, 0x00, 0x24, 0x49, 0x45, 0x54, 0x20, 0x20, 0x20, 0x20, 0x20,
		0x30, 0x30, 0x30, 0x32, 0x30, 0x30, 0x30, 0x31, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t naa6[] = {
		0x01, 0x03, 0x00, 0x10, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x0e, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01,
	};
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *lu;
	uint8_t b[255];

	params(&p, kv);
	lu = lu_with(1, &p);
	inquiry(lu, false, 0, b);
	assert_bytes(b + 8, std + 8, 28, "vendor, product, revision");
	cr_assert_eq(inquiry(lu, true, 0x80, b), sizeof(vpd80));
	assert_bytes(b, vpd80, sizeof(vpd80), "VPD 0x80");
	assert_vpd83(lu, t10, naa6, "VPD 0x83");
	scsi_lu_put(lu);
}

/*
 * A nexus whose first command to the LU ended with another unit
 * attention (here I_T NEXUS LOSS) has used the LU: a later change is
 * still reported to it.
 */
Test(lu_params, update_reported_after_another_ua)
{
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *lu = lu_with(1, NULL);
	struct scsi_task t;
	char why[200] = "";

	scsi_nexus_loss(&nexus);
	tur(&t, lu);
	assert_ua(&t, 0x29, 0x07);
	cr_assert_eq(scsi_lu_param_parse(&p, "vendor_id", "OTHER", why,
					 sizeof(why)), 0);
	cr_assert_eq(scsi_lu_update(lu, &p, why, sizeof(why)), 0, "%s", why);
	tur(&t, lu);
	assert_ua(&t, 0x3f, 0x03);
	scsi_lu_put(lu);
}

/* --- lbppbe, la_lba, optimal_xfer_gran / _len, mode_page --------------- */

Test(lu_params, parse_geometry_and_mode_page)
{
	static const char *const kv[] = {
		"lbppbe", "3", "la_lba", "7", "optimal_xfer_gran", "65535",
		"optimal_xfer_len", "4294967295",
		/* tgt-admin's "write-cache off" page (scripts/tgt-admin) */
		"mode_page", "8:0:18:0x10:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0",
		"mode_page", "10:0:10:0x22:0x10:0:0x40:0:0:0xff:0xff:0:060",
		NULL,
	};
	static const uint8_t caching[20] = {
		0x08, 0x12, 0x10, 0, 0xff, 0xff, 0, 0, 0xff, 0xff,
		0xff, 0xff, 0x80, 0x14, 0, 0, 0, 0, 0, 0,
	};
	struct scsi_lu_params p = { 0 };
	char s[128];

	params(&p, kv);
	cr_expect_eq(p.set, 1u << SCSI_LU_P_LBPPBE | 1u << SCSI_LU_P_LA_LBA |
			    1u << SCSI_LU_P_OPTIMAL_XFER_GRAN |
			    1u << SCSI_LU_P_OPTIMAL_XFER_LEN |
			    1u << SCSI_LU_P_MODE_PAGE);
	cr_expect_eq(p.lbppbe, 3);
	cr_expect_eq(p.la_lba, 7);
	cr_expect_eq(p.optimal_xfer_gran, 65535);
	cr_expect_eq(p.optimal_xfer_len, 4294967295u);
	cr_expect_eq(p.mode_set, 1u << SCSI_LU_MP_CACHING | 1u << SCSI_LU_MP_CONTROL);
	assert_bytes(p.mode[SCSI_LU_MP_CACHING], caching, 20, "caching page");
	/* page 10 decimal is 0Ah; 060 is octal, as tgt's strtol reads it */
	cr_expect_eq(p.mode[SCSI_LU_MP_CONTROL][0], 0x0a);
	cr_expect_eq(p.mode[SCSI_LU_MP_CONTROL][1], 10);
	cr_expect_eq(p.mode[SCSI_LU_MP_CONTROL][11], 060);
	/* written back in tgt's format, which parses to the same page */
	scsi_lu_mode_page_format(&p, SCSI_LU_MP_CACHING, s, sizeof(s));
	cr_expect_str_eq(s, "8:0:18:0x10:0x00:0xff:0xff:0x00:0x00:0xff:0xff:0xff:0xff:0x80:0x14:0x00:0x00:0x00:0x00:0x00:0x00");
	{
		struct scsi_lu_params q = { 0 };
		const char *const again[] = { "mode_page", s, NULL };

		params(&q, again);
		assert_bytes(q.mode[SCSI_LU_MP_CACHING], caching, 20, "again");
	}
}

/* READ CAPACITY(16) parameter data into @b (32 bytes). */
static void read_capacity16(struct scsi_lu *lu, uint8_t *b)
{
	uint8_t c[16] = { 0x9e, 0x10 };
	struct scsi_task t;

	c[13] = 32;
	memset(b, 0xee, 32);
	cr_assert_eq(run(&t, lu, c, 16, b, 32), SAM_STAT_GOOD,
		     "READ CAPACITY(16)");
}

/* MODE SENSE(6) of @page with page control @pc into @b; its length. */
static uint32_t mode_sense6(struct scsi_lu *lu, uint8_t pc, uint8_t page,
			    uint8_t *b)
{
	uint8_t c[6] = { 0x1a, 0x08, (uint8_t)(pc << 6 | page), 0, 0xff, 0 };
	struct scsi_task t;

	memset(b, 0xee, 255);
	cr_assert_eq(run(&t, lu, c, 6, b, 255), SAM_STAT_GOOD,
		     "MODE SENSE(6) %d/%02x", pc, page);
	return t.xfer_len;
}

/*
 * SBC-4 §5.20.2 table 67: LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT in
 * byte 13 bits 3:0, LOWEST ALIGNED LOGICAL BLOCK ADDRESS in bytes 14-15
 * bits 13:0 (tgt's sbc_service_action: lbppbe << 16 | la_lba at 12).
 */
Test(lu_params, lbppbe_la_lba_in_read_capacity16)
{
	static const char *const kv[] = {
		"lbppbe", "15", "la_lba", "4660", NULL,	/* 0x1234 */
	};
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *lu;
	uint8_t b[32];

	read_capacity16(lu = lu_with(1, NULL), b);
	cr_expect_eq(b[13], 0, "a RAM store: one logical block per physical");
	/* a RAM store deallocates: LBPME */
	cr_expect_eq(b[14], 0x80);
	cr_expect_eq(b[15], 0);
	scsi_lu_put(lu);

	params(&p, kv);
	read_capacity16(lu = lu_with(2, &p), b);
	cr_expect_eq(b[13], 0x0f);
	cr_expect_eq(b[14], 0x80 | 0x12, "LBPME and the LBA's top bits");
	cr_expect_eq(b[15], 0x34);
	cr_expect_eq(get_be32(b + 8), 512);
	scsi_lu_put(lu);
}

/* LOWEST ALIGNED LBA is a block inside the first physical block. */
Test(lu_params, la_lba_beyond_the_physical_block)
{
	static const char *const kv[] = { "lbppbe", "2", "la_lba", "4", NULL };
	struct bs_open_args a = { .size = 1 << 20 };
	struct scsi_lu_params p = { 0 }, q = { 0 };
	char why[256] = "";
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_DISK, .lun = 1, .target_name = TGT_NAME,
		.params = &p, .why = why, .whylen = sizeof(why),
	};
	struct scsi_lu *lu;
	uint8_t b[32];

	params(&p, kv);
	cfg.bs = bs_open(&bs_ram_ops, NULL, &a);
	cr_assert_not_null(cfg.bs);
	cr_assert_null(scsi_lu_new(&cfg));
	cr_expect_eq(errno, EINVAL);
	cr_expect_str_eq(why, "la_lba 4 must be below 4, the logical blocks per physical block (lbppbe 2)");
	bs_close(cfg.bs);

	/* live: la_lba=3 fits lbppbe=2; then lbppbe=1 alone does not */
	p.la_lba = 3;
	lu = lu_with(1, &p);
	cr_assert_eq(scsi_lu_param_parse(&q, "lbppbe", "1", why, sizeof(why)), 0);
	cr_expect_eq(scsi_lu_update(lu, &q, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "la_lba 3 must be below 2, the logical blocks per physical block (lbppbe 1)");
	read_capacity16(lu, b);
	cr_expect_eq(b[13], 2, "unchanged");
	cr_expect_eq(b[15], 3, "unchanged");
	scsi_lu_put(lu);
}

/*
 * SBC-4 §6.6.4 (Block Limits VPD page): OPTIMAL TRANSFER LENGTH
 * GRANULARITY at bytes 6-7, OPTIMAL TRANSFER LENGTH at 12-15, no larger
 * than the MAXIMUM TRANSFER LENGTH at 8-11.
 */
Test(lu_params, optimal_xfer_in_block_limits)
{
	static const char *const kv[] = {
		"optimal_xfer_gran", "8", "optimal_xfer_len", "2048", NULL,
	};
	struct scsi_lu_params p = { 0 }, q = { 0 };
	struct scsi_lu *lu;
	char why[256] = "";
	uint8_t b[255];

	params(&p, kv);
	lu = lu_with(1, &p);
	cr_assert_eq(inquiry(lu, true, 0xb0, b), 64);
	cr_expect_eq(get_be16(b + 6), 8);
	cr_expect_eq(get_be32(b + 12), 2048);
	cr_expect_eq(get_be32(b + 8), 16384, "8 MiB of 512-byte blocks");
	/* the maximum itself is fine, one more is not */
	cr_assert_eq(scsi_lu_param_parse(&q, "optimal_xfer_len", "16384", why,
					 sizeof(why)), 0);
	cr_expect_eq(scsi_lu_update(lu, &q, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(scsi_lu_param_parse(&q, "optimal_xfer_len", "16385", why,
					 sizeof(why)), 0);
	cr_expect_eq(scsi_lu_update(lu, &q, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "optimal_xfer_len 16385 is above the maximum transfer length, 16384 blocks of 512 bytes");
	inquiry(lu, true, 0xb0, b);
	cr_expect_eq(get_be32(b + 12), 16384);
	scsi_lu_put(lu);
}

/*
 * mode_page sets the page MODE SENSE returns (SPC-4 §6.11, current and
 * default values; tgt's build_mode_page serves its one copy for both);
 * the changeable values stay zero: there is no MODE SELECT, and tgt's
 * add_mode_page() clears the page's mask too.
 */
Test(lu_params, mode_page_in_mode_sense)
{
	/* the Caching page tgt-admin sets for "write-cache off": WCE=0, as
	 * a RAM store serves it (bs_ram: no write cache) */
	static const char *const kv[] = {
		"mode_page", "8:0:18:0x10:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0",
		NULL,
	};
	static const uint8_t caching[20] = {
		0x08, 0x12, 0x10, 0, 0xff, 0xff, 0, 0, 0xff, 0xff,
		0xff, 0xff, 0x80, 0x14, 0, 0, 0, 0, 0, 0,
	};
	static const uint8_t zero[18] = { 0 };
	struct scsi_lu_params p = { 0 };
	struct scsi_lu *lu;
	uint8_t b[255];

	params(&p, kv);
	lu = lu_with(1, &p);
	/* header (4) + the page; DBD set: no block descriptor */
	cr_assert_eq(mode_sense6(lu, 0, 0x08, b), 24);
	cr_expect_eq(b[0], 23, "MODE DATA LENGTH");
	cr_expect_eq(b[3], 0, "BLOCK DESCRIPTOR LENGTH");
	assert_bytes(b + 4, caching, 20, "current");
	mode_sense6(lu, 2, 0x08, b);
	assert_bytes(b + 4, caching, 20, "default");
	mode_sense6(lu, 1, 0x08, b);
	cr_expect_eq(b[4], 0x08);
	cr_expect_eq(b[5], 0x12);
	assert_bytes(b + 6, zero, 18, "changeable");
	/* in the all-pages list, in its place */
	cr_assert_eq(mode_sense6(lu, 0, 0x3f, b), 4 + 12 + 20 + 12);
	assert_bytes(b + 4 + 12, caching, 20, "3Fh");
	scsi_lu_put(lu);
}

/* A page must not claim what ringtgt does not do (mode.c). */
Test(lu_params, mode_page_refuses_what_ringtgt_does_not_do)
{
	static const struct {
		const char *page, *why;
	} bad[] = {
		/* tgt's own default Caching page says WCE=1 */
		{ "8:0:18:0x14:0:0xff:0xff:0:0:0xff:0xff:0xff:0xff:0x80:0x14:0:0:0:0:0:0",
		  "mode_page: Caching page 08h byte 2 is 14h, but ringtgt serves 00h in bits 04h: WCE (byte 2 bit 2): it follows the store's write cache (write-cache / write_cache)" },
		{ "8:0:18:0x01:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0",
		  "mode_page: Caching page 08h byte 2 is 01h, but ringtgt serves 00h in bits 01h: RCD (byte 2 bit 0): reads may come from the host's page cache" },
		/* tgt's default Control page: TST=000b, one task set for all */
		{ "0x0a:0:10:2:0x10:0:0:0:0:0:0:2:0",
		  "mode_page: Control page 0Ah byte 2 is 02h, but ringtgt serves 22h in bits FFh: byte 2 (TST TMF_ONLY DPICZ D_SENSE GLTSD RLEC): the task set, sense format and logging ringtgt has" },
		{ "0x0a:0:10:0x22:0x10:0x08:0x40:0:0:0xff:0xff:0:0",
		  "mode_page: Control page 0Ah byte 4 is 08h, but ringtgt serves 00h in bits FFh: byte 4 (VS RAC UA_INTLCK_CTRL SWP): SWP is readonly=1" },
		{ "1:0:10:0x80:0:0:0:0:0:0:0:0:0",
		  "mode_page: Read-Write Error Recovery page 01h byte 2 is 80h, but ringtgt serves 00h in bits FFh: the error recovery bits (AWRE ARRE TB RC EER PER DTE DCR): the stores do no medium error recovery" },
	};
	struct bs_open_args a = { .size = 1 << 20 };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct scsi_lu_params p = { 0 };
		char why[400] = "";
		struct scsi_lu_config cfg = {
			.type = SCSI_LU_DISK, .lun = 1, .target_name = TGT_NAME,
			.params = &p, .why = why, .whylen = sizeof(why),
			.tas = true,
		};

		cr_assert_eq(scsi_lu_param_parse(&p, "mode_page", bad[i].page,
						 why, sizeof(why)), 0, "%s", why);
		cfg.bs = bs_open(&bs_ram_ops, NULL, &a);
		cr_assert_not_null(cfg.bs);
		cr_expect_null(scsi_lu_new(&cfg), "%s", bad[i].page);
		cr_expect_str_eq(why, bad[i].why);
		bs_close(cfg.bs);
	}
}

/*
 * Live changes and their unit attentions (SPC-4 §5.14 table 42 / SBC-4
 * §4.6): a mode page, MODE PARAMETERS CHANGED (2Ah/01h); lbppbe,
 * CAPACITY DATA HAS CHANGED (2Ah/09h); optimal_xfer_len, INQUIRY DATA
 * HAS CHANGED (3Fh/03h). Each to the nexus that used the LU, once.
 */
Test(lu_params, update_geometry_and_mode_page_ua)
{
	static const struct {
		const char *name, *value;
		uint8_t asc, ascq;
	} step[] = {
		{ "mode_page", "1:0:10:0:5:0:0:0:0:5:0:0:0x64", 0x2a, 0x01 },
		{ "lbppbe", "3", 0x2a, 0x09 },
		{ "optimal_xfer_len", "1024", 0x3f, 0x03 },
	};
	struct scsi_lu *lu = lu_with(1, NULL);
	struct scsi_task t;
	uint8_t b[255];
	char why[256] = "";

	cr_assert_eq(tur(&t, lu), SAM_STAT_GOOD);
	for (size_t i = 0; i < ARRAY_SIZE(step); i++) {
		struct scsi_lu_params p = { 0 };

		cr_assert_eq(scsi_lu_param_parse(&p, step[i].name,
						 step[i].value, why,
						 sizeof(why)), 0, "%s", why);
		cr_assert_eq(scsi_lu_update(lu, &p, why, sizeof(why)), 0,
			     "%s", why);
		tur(&t, lu);
		assert_ua(&t, step[i].asc, step[i].ascq);
		cr_assert_eq(tur(&t, lu), SAM_STAT_GOOD, "once");
		/* the same value again changes nothing */
		cr_assert_eq(scsi_lu_update(lu, &p, why, sizeof(why)), 0);
		cr_assert_eq(tur(&t, lu), SAM_STAT_GOOD, "%s again", step[i].name);
	}
	mode_sense6(lu, 0, 0x01, b);
	cr_expect_eq(b[4 + 3], 5, "READ RETRY COUNT");
	cr_expect_eq(b[4 + 8], 5, "WRITE RETRY COUNT");
	cr_expect_eq(get_be16(b + 4 + 10), 100, "RECOVERY TIME LIMIT");
	scsi_lu_put(lu);
}

/* What a controller has no medium for. */
Test(lu_params, geometry_not_on_a_controller)
{
	struct scsi_lu_config cfg = {
		.type = SCSI_LU_CONTROLLER, .lun = 0, .target_name = TGT_NAME,
	};
	struct scsi_lu_params p = { 0 }, got;
	struct scsi_lu *lu = scsi_lu_new(&cfg);
	char why[256] = "";

	cr_assert_not_null(lu);
	cr_assert_eq(scsi_lu_param_parse(&p, "lbppbe", "1", why, sizeof(why)), 0);
	cr_expect_eq(scsi_lu_update(lu, &p, why, sizeof(why)), -EINVAL);
	cr_expect_str_eq(why, "lbppbe: LUN 0 is a controller, not a disk");
	scsi_lu_params_get(lu, &got);
	cr_expect_eq(got.set & (1u << SCSI_LU_P_LBPPBE | 1u << SCSI_LU_P_MODE_PAGE), 0);
	scsi_lu_put(lu);
}
