/*
 * fuzz_login.c - fuzz target for the login state machine (src/iscsi/
 * login.c with text.c's negotiation) on a real connection (fuzz_conn.h):
 * the input is a sequence of requests, mostly Login Requests with chosen
 * T/C/CSG/NSG bits, ISID, TSIH, ITT, CID and text keys, then maybe Text,
 * Logout, NOP-Out or a SCSI Command. The target's registry has a target
 * open to one initiator name only (FC_TARGET, ACL FC_ALLOWED), one whose
 * ACL holds a name of exactly 223 bytes (the longest iSCSI name, RFC
 * 7143 §4.2.7.1), and one open to all. Property, checked on the wire by
 * an observer that follows RFC 7143 and nothing of login.c:
 *
 * - during the login every PDU the target sends is a Login Response
 *   (§6.3), at most one per Login Request, in order; a request left
 *   unanswered means the connection closed;
 * - each Login Response carries the login's ISID (its first request's)
 *   and the request's ITT, has a status of
 *   §11.13.5 (class 0 detail 0, class 2 details 00-0B, class 3 details
 *   00-03), its CSG is the request's, T only when the request had T (and
 *   never with C), NSG never above the request's and never 2, the stage
 *   never goes back; after a failure status the connection closes and
 *   nothing more is answered;
 * - the TSIH is 0 in every response but the final one of a login that
 *   reaches the full feature phase (§11.13.4; issue 8 item 3);
 * - the full feature phase is reached only after a request asked for it
 *   (T=1, NSG=3), with InitiatorName declared and, for a Normal session,
 *   TargetName naming an existing target whose ACL admits that exact
 *   InitiatorName (so not a longer one that shares its first 223 bytes);
 *   a login whose InitiatorName, TargetName or SessionType was declared
 *   twice with different values never gets there (issue 8 item 4), nor
 *   one whose later requests carry another ISID or a TSIH: with
 *   InitiatorName and TargetName the ISID names the I_T nexus (§4.4.1,
 *   §6.3.5), and it too was fixed by the first request;
 * - once there, what was negotiated is within what the target offers
 *   (MaxBurstLength, FirstBurstLength <= MaxBurstLength, MaxOutstandingR2T,
 *   the MaxRecvDataSegmentLength it declared) and digests are on only
 *   when the initiator offered CRC32C;
 * - after a Logout Response the connection closes; the connection is
 *   freed when the initiator goes away, nothing leaks (LSan);
 * - issue 9: FC_CHAP requires CHAP (an incoming account bound) and, when
 *   bit 2 of byte 0 is set, discovery does too. The target's challenge
 *   is random, so no input can answer it: a login reaching the full
 *   feature phase on FC_CHAP, or a discovery session under discovery
 *   auth, got past authentication. Only an authentication failure
 *   (0x0201) may be answered late (after the fixed delay the observer
 *   lets pass when a request is still unanswered).
 *
 * Input: byte 0 chooses the target's limits (a table, bits 0-1) and
 * discovery auth (bit 2); then records of
 * [kind][flags][variant][len hi][len lo][len bytes of text]: kind 0-3 a
 * Login Request with byte 1 of the BHS = flags; 4 Text Request; 5 Logout
 * (reason flags & 3); 6 NOP-Out; 7 TEST UNIT READY; kind bit 3: the I
 * bit. Variant: bits 0-1 ISID, bit 2 a nonzero TSIH, bit 3 another ITT,
 * bit 4 another CID, bit 5 Version-min 1, bits 6-7 CmdSN skew. In text,
 * '\n' stands for the NUL that ends a key=value pair. FUZZ_TRACE=1
 * prints what the target sends (and its debug log).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "core/core.h"
#include "fuzz_conn.h"
#include "iscsi/iscsi_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FC_LONG "iqn.2024-01.org.ringtgt:long"
#define FC_CHAP "iqn.2024-01.org.ringtgt:chap"
#define MAX_RECS 24
#define TEXT_MAX 8192

static char long_name[224];	/* 223 bytes: the longest iSCSI name */

struct decl {
	char v[TEXT_MAX + 1];
	bool set;
	bool changed;
};

struct obs {
	struct fc *f;
	struct iscsi_settings set;
	bool ffp, failed, logged_out;
	int stage;			/* the highest CSG answered */
	/* the request being answered */
	bool req_login, req_answered;
	bool delayed;			/* the clock moved on for the answer */
	bool disc_auth;			/* discovery auth on for this input */
	uint8_t req_flags;
	uint8_t login_isid[6];		/* the first request's */
	bool have_isid, isid_changed;
	uint32_t req_itt;
	bool asked_ffp;			/* some request had T=1, NSG=3 */
	struct decl iname, tname, stype;
	char acc[65536 + TEXT_MAX];	/* C-bit pieces joined */
	size_t acc_len;
	bool offered_hd, offered_dd;	/* CRC32C offered */
	uint32_t responses;
};

static void decl_see(struct decl *d, const char *val)
{
	if (d->set && strcmp(d->v, val) != 0)
		d->changed = true;
	if (!d->set) {
		snprintf(d->v, sizeof(d->v), "%s", val);
		d->set = true;
	}
}

/* The request's keys as the target will read them once complete. */
static void obs_keys(struct obs *o)
{
	size_t pos = 0;

	while (pos < o->acc_len) {
		const char *k = o->acc + pos;
		size_t n = strnlen(k, o->acc_len - pos);
		const char *eq = memchr(k, '=', n);
		char val[TEXT_MAX + 1];

		if (n == o->acc_len - pos)
			break;	/* unterminated: the target fails it */
		pos += n + 1;
		if (!eq || (size_t)(k + n - eq - 1) > TEXT_MAX)
			continue;
		memcpy(val, eq + 1, (size_t)(k + n - eq - 1));
		val[k + n - eq - 1] = '\0';
#define KEY(name) ((size_t)(eq - k) == strlen(name) && !memcmp(k, name, strlen(name)))
		if (KEY("InitiatorName"))
			decl_see(&o->iname, val);
		else if (KEY("TargetName"))
			decl_see(&o->tname, val);
		else if (KEY("SessionType"))
			decl_see(&o->stype, val);
		else if (KEY("HeaderDigest") && strstr(val, "CRC32C"))
			o->offered_hd = true;
		else if (KEY("DataDigest") && strstr(val, "CRC32C"))
			o->offered_dd = true;
#undef KEY
	}
	o->acc_len = 0;
}

static bool acl_admits(const struct obs *o)
{
	if (strcasecmp(o->tname.v, FC_OPEN) == 0)
		return true;
	if (strcasecmp(o->tname.v, FC_TARGET) == 0)
		return strcasecmp(o->iname.v, FC_ALLOWED) == 0;
	if (strcasecmp(o->tname.v, FC_LONG) == 0)
		return strcasecmp(o->iname.v, long_name) == 0;
	if (strcasecmp(o->tname.v, FC_CHAP) == 0)
		return true;
	return false;
}

static void check_ffp(struct obs *o, const uint8_t *bhs)
{
	struct iscsi_conn *c = fc_conn(o->f);
	bool discovery = o->stype.set && strcmp(o->stype.v, "Discovery") == 0;

	if (!o->asked_ffp)
		fc_fail("full feature phase without a request for it");
	if (!(o->req_flags & 0x80) || (o->req_flags & 3) != 3)
		fc_fail("final response to a request without T=1 NSG=3");
	if (!o->iname.set || !o->iname.v[0])
		fc_fail("full feature phase without InitiatorName");
	if (o->iname.changed || o->tname.changed || o->stype.changed ||
	    o->isid_changed)
		fc_fail("full feature phase after an identity key changed "
			"(InitiatorName \"%.60s\")", o->iname.v);
	if (!discovery && strcasecmp(o->tname.v, FC_CHAP) == 0)
		fc_fail("the full feature phase on %s without CHAP", FC_CHAP);
	if (discovery && o->disc_auth)
		fc_fail("a discovery session without CHAP under discovery auth");
	if (!discovery && (!o->tname.set || !acl_admits(o)))
		fc_fail("initiator \"%.240s\" (%zu bytes) reached the full "
			"feature phase on \"%.80s\"", o->iname.v,
			strlen(o->iname.v), o->tname.v);
	if (get_be16(bhs + BHS_TSIH) == 0)
		fc_fail("final Login Response with TSIH 0");
	if (!c)
		return;	/* closed meanwhile: nothing negotiated to check */
	const struct iscsi_params *p = &c->params;
	uint32_t r2t_max = MIN(o->set.max_outstanding_r2t, (uint32_t)TASK_MAX_R2T);

	if (p->max_burst > o->set.max_burst || p->max_burst < 512 ||
	    p->first_burst > o->set.first_burst ||
	    p->first_burst > p->max_burst ||
	    p->max_outstanding_r2t < 1 || p->max_outstanding_r2t > r2t_max ||
	    p->max_recv_dsl_tgt != o->set.max_recv_dsl)
		fc_fail("negotiated MaxBurst %u FirstBurst %u MaxR2T %u "
			"MRDSL %u beyond the target's %u/%u/%u/%u",
			p->max_burst, p->first_burst, p->max_outstanding_r2t,
			p->max_recv_dsl_tgt, o->set.max_burst,
			o->set.first_burst, r2t_max, o->set.max_recv_dsl);
	if ((p->header_digest && !o->offered_hd) ||
	    (p->data_digest && !o->offered_dd))
		fc_fail("digest on that the initiator did not offer");
}

static void on_pdu(void *ctx, const uint8_t bhs[48], const uint8_t *data,
		   uint32_t dsl)
{
	struct obs *o = ctx;
	uint8_t op = bhs[0] & 0x3f, flags = bhs[1];
	uint8_t sclass = bhs[36], sdetail = bhs[37];
	int csg = (flags >> 2) & 3, nsg = flags & 3;
	int req_csg = (o->req_flags >> 2) & 3, req_nsg = o->req_flags & 3;

	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "login: target sends 0x%02x flags 0x%02x status "
			"%02x%02x TSIH 0x%04x: %.*s\n", op, flags, sclass, sdetail,
			get_be16(bhs + BHS_TSIH), (int)MIN(dsl, 200u),
			(const char *)data);
	if (o->failed)
		fc_fail("PDU 0x%02x after a failed login", op);
	if (o->logged_out)
		fc_fail("PDU 0x%02x after the Logout Response", op);
	if (op == OP_LOGOUT_RSP) {
		if (!o->ffp)
			fc_fail("Logout Response during the login");
		if (bhs[2] == 0)
			o->logged_out = true;
		return;
	}
	if (o->ffp) {
		if (op == OP_LOGIN_RSP)
			fc_fail("Login Response in the full feature phase");
		return;
	}
	if (op != OP_LOGIN_RSP)
		fc_fail("PDU 0x%02x during the login", op);
	if (!o->req_login || o->req_answered)
		fc_fail("Login Response to no Login Request");
	o->req_answered = true;
	o->responses++;
	if (memcmp(bhs + BHS_ISID, o->login_isid, 6) ||
	    get_be32(bhs + BHS_ITT) != o->req_itt)
		fc_fail("Login Response with another ISID or ITT");
	if (!((sclass == 0 && sdetail == 0) || (sclass == 2 && sdetail <= 0x0b) ||
	      (sclass == 3 && sdetail <= 0x03)))
		fc_fail("Login status %02x%02x not in RFC 7143 §11.13.5",
			sclass, sdetail);
	/* issue 9: only authentication failures are answered late */
	if (o->delayed && !(sclass == 2 && sdetail == 1))
		fc_fail("Login status %02x%02x answered after a delay",
			sclass, sdetail);
	if (sclass) {
		if (get_be16(bhs + BHS_TSIH))
			fc_fail("failed Login Response with a TSIH");
		o->failed = true;
		return;
	}
	if (csg != req_csg)
		fc_fail("response CSG %d to a request in CSG %d", csg, req_csg);
	if ((flags & 0x80) && (flags & 0x40))
		fc_fail("Login Response with T and C");
	if ((flags & 0x80) && !(o->req_flags & 0x80))
		fc_fail("T=1 answering a request with T=0");
	if ((flags & 0x80) && (nsg > req_nsg || nsg == 2 || nsg <= csg))
		fc_fail("response NSG %d (CSG %d) to a request for NSG %d",
			nsg, csg, req_nsg);
	if (csg < o->stage)
		fc_fail("login stage went back from %d to %d", o->stage, csg);
	o->stage = csg;
	if ((flags & 0x80) && nsg == 3) {
		check_ffp(o, bhs);
		o->ffp = true;
		return;
	}
	if (flags & 0x80)
		o->stage = nsg;
	if (get_be16(bhs + BHS_TSIH))
		fc_fail("TSIH 0x%04x before the full feature phase",
			get_be16(bhs + BHS_TSIH));
}

/*
 * The target's limits (struct iscsi_settings). None is below the RFC
 * 7143 §13 default of its key: the target only answers keys, so a key
 * the initiator does not offer keeps its default (the daemon's limits
 * are fixed and above them).
 */
static const struct {
	uint32_t mrdsl, max_burst, first_burst, r2t;
} limits[4] = {
	{ 262144, 1048576, 262144, 16 },
	{ 8192, 262144, 65536, 1 },
	{ 512, 262144, 262144, 4 },
	{ 65536, 16777215, 16777215, 64 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t text[TEXT_MAX];
	struct obs *o;
	size_t pos = 1;
	uint32_t cmdsn = 1;

	if (size < 1)
		return 0;
	fc_init("fuzz_login");
	if (!long_name[0]) {
		struct core_err err = { "" };

		snprintf(long_name, sizeof(long_name), "%s", "iqn.2024-01.org.ringtgt:");
		memset(long_name + strlen(long_name), 'x', 223 - strlen(long_name));
		long_name[223] = '\0';
		if (core_target_add(FC_LONG, 0, NULL, &err) < 0 ||
		    core_acl_add(FC_LONG, long_name, &err) < 0)
			fc_fail("%s", err.msg);
		/* issue 9: a target and discovery that require CHAP */
		if (core_target_add(FC_CHAP, 0, NULL, &err) < 0 ||
		    core_acl_add(FC_CHAP, "ALL", &err) < 0 ||
		    core_account_add("fuzz", "fuzz-secret-0123", &err) < 0 ||
		    core_account_bind(FC_CHAP, "fuzz", false, &err) < 0 ||
		    core_account_add("fuzz-out", "fuzz-out-secret-0", &err) < 0 ||
		    core_account_bind(FC_CHAP, "fuzz-out", true, &err) < 0 ||
		    core_account_add("disc", "disc-secret-01234", &err) < 0 ||
		    core_account_bind(NULL, "disc", false, &err) < 0)
			fc_fail("%s", err.msg);
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		abort();
	iscsi_settings_default(&o->set);
	o->set.max_recv_dsl = limits[data[0] & 3].mrdsl;
	o->set.max_burst = limits[data[0] & 3].max_burst;
	o->set.first_burst = limits[data[0] & 3].first_burst;
	o->set.max_outstanding_r2t = limits[data[0] & 3].r2t;
	o->disc_auth = data[0] & 4;
	{
		struct core_err err = { "" };

		if (core_discovery_auth_set(o->disc_auth ? CORE_DISC_AUTH_CHAP :
					    CORE_DISC_AUTH_NONE, &err) < 0)
			fc_fail("%s", err.msg);
	}
	o->f = fc_open(&o->set, on_pdu, o);

	for (int n = 0; n < MAX_RECS && pos + 5 <= size; n++) {
		uint8_t kind = data[pos], flags = data[pos + 1];
		uint8_t var = data[pos + 2], b[48] = { 0 };
		size_t len = (size_t)data[pos + 3] << 8 | data[pos + 4];

		pos += 5;
		len = MIN(len, MIN(size - pos, (size_t)TEXT_MAX));
		for (size_t i = 0; i < len; i++)
			text[i] = data[pos + i] == '\n' ? 0 : data[pos + i];
		pos += len;
		put_be32(b + BHS_ITT, var & 0x08 ? 0x1000 + (uint32_t)n : 7);
		put_be32(b + BHS_CMDSN, cmdsn + (var >> 6));
		put_be32(b + BHS_EXPSTATSN, 0);
		o->req_login = false;
		switch (kind & 7) {
		case 0: case 1: case 2: case 3:
			b[0] = OP_LOGIN_REQ | BHS_I;
			b[1] = flags;
			b[3] = var & 0x20 ? 1 : 0;	/* Version-min */
			b[BHS_ISID] = 0x80;		/* random qualifier */
			b[BHS_ISID + 5] = var & 3;
			if (var & 0x04)
				put_be16(b + BHS_TSIH, 0x1234);
			put_be16(b + BHS_TTT, var & 0x10 ? 9 : 1);	/* CID */
			if (!o->ffp) {
				o->req_login = true;
				o->req_answered = false;
				o->req_flags = flags;
				if (!o->have_isid)
					memcpy(o->login_isid, b + BHS_ISID, 6);
				else if (memcmp(o->login_isid, b + BHS_ISID, 6) ||
					 (var & 0x04))
					o->isid_changed = true;
				o->have_isid = true;
				o->req_itt = get_be32(b + BHS_ITT);
				if (!(flags & 0x40) || (flags & 0x80)) {
					/* the pieces end: keys are read */
					if (o->acc_len + len <= sizeof(o->acc)) {
						memcpy(o->acc + o->acc_len, text, len);
						o->acc_len += len;
					}
					obs_keys(o);
				} else if (o->acc_len + len <= sizeof(o->acc)) {
					memcpy(o->acc + o->acc_len, text, len);
					o->acc_len += len;
				}
				if ((flags & 0x80) && (flags & 3) == 3)
					o->asked_ffp = true;
			}
			break;
		case 4:
			b[0] = OP_TEXT_REQ;
			b[1] = BHS_F;
			put_be32(b + BHS_TTT, RSVD_TAG);
			break;
		case 5:
			b[0] = OP_LOGOUT_REQ;
			b[1] = 0x80 | (flags & 3);
			put_be16(b + BHS_TTT, 1);
			break;
		case 6:
			b[0] = OP_NOP_OUT;
			b[1] = BHS_F;
			put_be32(b + BHS_TTT, RSVD_TAG);
			break;
		case 7:
			b[0] = OP_SCSI_CMD;
			b[1] = BHS_F;
			put_be64(b + BHS_LUN, 0);
			break;
		}
		if (kind & 8)
			b[0] |= BHS_I;
		else if ((kind & 7) >= 4)
			cmdsn++;
		fc_send_pdu(o->f, b, text, (uint32_t)len);
		fc_run(o->f);
		if (o->req_login && !o->req_answered && !fc_target_closed(o->f) &&
		    fc_live()) {
			/* only an authentication failure waits (1 s) */
			o->delayed = true;
			fc_advance(o->f, 1000);
			o->delayed = false;
		}
		if (o->req_login && !o->req_answered && !fc_target_closed(o->f) &&
		    fc_live())
			fc_fail("Login Request %d unanswered, connection open", n);
		if (fc_target_closed(o->f))
			break;
	}
	fc_run(o->f);
	if ((o->failed || o->logged_out) && !fc_target_closed(o->f))
		fc_fail("connection still open after a %s",
			o->failed ? "failed login" : "logout");
	fc_close(o->f);
	free(o);
	return 0;
}
