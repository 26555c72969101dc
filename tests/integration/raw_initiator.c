/*
 * raw_initiator.c - see raw_initiator.h. Blocking sockets and poll() for
 * timeouts; every field is put in place with put_be*() at the offsets of
 * pdu.h, so the test does not share the target's PDU builders.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/base.h"

#include "raw_initiator.h"

/*
 * How long a login or text step waits for the target's answer. A
 * functional bound, not a timing check: generous, because tests run
 * beside builds and sanitizer runs on two shared cores.
 */
#define RI_LOGIN_ANSWER_MS 20000

uint64_t ri_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ri_lun(uint64_t lun)
{
	return lun << 48;
}

int ri_connect(struct ri *ri, int port)
{
	return ri_connect_from(ri, port, NULL);
}

int ri_connect_from(struct ri *ri, int port, const char *src)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	struct sockaddr_in from = { .sin_family = AF_INET };
	int one = 1;

	memset(ri, 0, sizeof(*ri));
	ri->fd = -1;
	ri->tpgt = -1;
	ri->itt = 0x1000;
	ri->answer_pings = true;
	ri->rx_data = malloc(RI_DATA_MAX + 4);
	if (!ri->rx_data)
		return -ENOMEM;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ri->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ri->fd < 0)
		return -errno;
	setsockopt(ri->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	errno = 0;
	if (src && (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
		    bind(ri->fd, (struct sockaddr *)&from, sizeof(from)) < 0)) {
		int err = errno ? errno : EINVAL;

		close(ri->fd);
		ri->fd = -1;
		return -err;
	}
	if (connect(ri->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		close(ri->fd);
		ri->fd = -1;
		return -err;
	}
	return 0;
}

void ri_close(struct ri *ri)
{
	if (ri->fd >= 0)
		close(ri->fd);
	ri->fd = -1;
	free(ri->rx_data);
	ri->rx_data = NULL;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ri_send(struct ri *ri, const uint8_t bhs[BHS_LEN], const void *data,
	    uint32_t len)
{
	static const uint8_t zeros[4];
	uint8_t h[BHS_LEN];
	int rc;

	memcpy(h, bhs, BHS_LEN);
	put_be24(h + BHS_DSL, len);
	rc = write_all(ri->fd, h, BHS_LEN);
	if (rc == 0 && len)
		rc = write_all(ri->fd, data, len);
	if (rc == 0 && pdu_pad4(len) != len)
		rc = write_all(ri->fd, zeros, pdu_pad4(len) - len);
	return rc;
}

/* Reads exactly @len bytes before @deadline. */
static int read_all(int fd, void *buf, size_t len, uint64_t deadline)
{
	uint8_t *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = ri_now_ms();
		ssize_t n;
		int rc;

		if (now >= deadline)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void answer_ping(struct ri *ri, const struct ri_pdu *p)
{
	uint8_t b[BHS_LEN] = { 0 };

	/* RFC 7143 §11.18: ITT reserved, TTT and LUN echoed, immediate */
	b[BHS_OPCODE] = OP_NOP_OUT | BHS_I;
	b[BHS_FLAGS] = BHS_F;
	memcpy(b + BHS_LUN, p->bhs + BHS_LUN, 8);
	put_be32(b + BHS_ITT, RSVD_TAG);
	put_be32(b + BHS_TTT, get_be32(p->bhs + BHS_TTT));
	put_be32(b + BHS_CMDSN, ri->cmdsn);
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
	if (ri_send(ri, b, NULL, 0) == 0)
		ri->pings_answered++;
}

static void track_sn(struct ri *ri, const struct ri_pdu *p)
{
	uint32_t statsn = get_be32(p->bhs + BHS_CMDSN);
	bool has_status;

	switch (p->opcode) {
	case OP_SCSI_RSP:
	case OP_TMF_RSP:
	case OP_LOGIN_RSP:
	case OP_TEXT_RSP:
	case OP_LOGOUT_RSP:
	case OP_REJECT:
		has_status = true;
		break;
	case OP_DATA_IN:
		has_status = p->bhs[BHS_FLAGS] & DIN_S;
		break;
	case OP_NOP_IN:
		has_status = p->itt != RSVD_TAG;
		break;
	default:
		has_status = false;
	}
	if (has_status && sn_le(ri->expstatsn, statsn))
		ri->expstatsn = statsn + 1;
	if (p->opcode != OP_LOGIN_RSP)
		ri->max_cmdsn = get_be32(p->bhs + BHS_MAXCMDSN);
}

int ri_recv(struct ri *ri, struct ri_pdu *p, int timeout_ms)
{
	uint64_t deadline = ri_now_ms() + (uint64_t)timeout_ms;
	int rc;

	for (;;) {
		rc = read_all(ri->fd, p->bhs, BHS_LEN, deadline);
		if (rc)
			return rc;
		p->opcode = p->bhs[BHS_OPCODE] & 0x3f;
		p->itt = get_be32(p->bhs + BHS_ITT);
		p->dsl = get_be24(p->bhs + BHS_DSL);
		p->data = ri->rx_data;
		if (p->bhs[BHS_AHSLEN] || p->dsl > RI_DATA_MAX)
			return -EPROTO;
		/* the rest of a PDU follows at once: allow a little slack */
		rc = read_all(ri->fd, ri->rx_data, pdu_pad4(p->dsl),
			      MAX(deadline, ri_now_ms() + 2000));
		if (rc)
			return rc;
		track_sn(ri, p);
		if (p->opcode == OP_NOP_IN && p->itt == RSVD_TAG &&
		    get_be32(p->bhs + BHS_TTT) != RSVD_TAG) {
			ri->pings_seen++;
			if (ri->answer_pings) {
				answer_ping(ri, p);
				continue;
			}
		}
		return 0;
	}
}

/* Appends "key=value\0". */
static size_t kv_put(char *buf, size_t off, const char *key, const char *val)
{
	return off + (size_t)sprintf(buf + off, "%s=%s", key, val) + 1;
}

/* Finds @key in a key=value\0 segment; copies the value. */
static bool kv_find(const uint8_t *data, uint32_t len, const char *key,
		    char *val, size_t cap)
{
	size_t kl = strlen(key);
	uint32_t pos = 0;

	while (pos < len) {
		const char *s = (const char *)data + pos;
		size_t n = strnlen(s, len - pos);

		if (n > kl && strncmp(s, key, kl) == 0 && s[kl] == '=') {
			snprintf(val, cap, "%.*s", (int)(n - kl - 1), s + kl + 1);
			return true;
		}
		pos += (uint32_t)n + 1;
	}
	return false;
}

static int login_step(struct ri *ri, uint8_t flags, const char *kv,
		      size_t kvlen, struct ri_pdu *rsp)
{
	uint8_t b[BHS_LEN];
	int rc;

	ri_build_login(ri, b, flags);
	rc = ri_send(ri, b, kv, (uint32_t)kvlen);
	if (rc)
		return rc;
	rc = ri_recv(ri, rsp, RI_LOGIN_ANSWER_MS);
	if (rc)
		return rc;
	if (rsp->opcode != OP_LOGIN_RSP)
		return -EPROTO;
	{
		char val[16];

		if (kv_find(rsp->data, rsp->dsl, "TargetPortalGroupTag", val,
			    sizeof(val)))
			ri->tpgt = (int)strtol(val, NULL, 10);
	}
	return 0;
}

/*
 * One login request with T set from stage @csg to @nsg; returns the login
 * status (0 = success), -EPROTO when the response does not make that
 * transition, or -errno.
 */
static int login_stage(struct ri *ri, int csg, int nsg, const char *kv,
		       size_t n, struct ri_pdu *rsp)
{
	int rc = login_step(ri, (uint8_t)(LOGIN_T | (csg << 2) | nsg), kv, n, rsp);
	int status;

	if (rc)
		return rc;
	status = get_be16(rsp->bhs + BHS_DATASN);
	if (status)
		return status;
	if (!(rsp->bhs[BHS_FLAGS] & LOGIN_T) ||
	    (rsp->bhs[BHS_FLAGS] & 0x0f) != ((csg << 2) | nsg))
		return -EPROTO;
	return 0;
}

/*
 * Both login stages, offering the digests asked for; leaves the last
 * Login Response in @rsp. Returns the login status or -errno.
 */
/* H(id || secret || challenge) for CHAP_A @alg; the digest length. */
static int chap_hash(int alg, uint8_t id, const char *secret,
		     const uint8_t *chal, size_t clen, uint8_t *out)
{
	const EVP_MD *md = alg == 5 ? EVP_md5() : alg == 6 ? EVP_sha1() :
			   alg == 7 ? EVP_sha256() : alg == 8 ? EVP_sha3_256() :
			   NULL;
	EVP_MD_CTX *ctx;
	unsigned n = 0;

	if (!md || !(ctx = EVP_MD_CTX_new()))
		return -EINVAL;
	EVP_DigestInit_ex(ctx, md, NULL);
	EVP_DigestUpdate(ctx, &id, 1);
	EVP_DigestUpdate(ctx, secret, strlen(secret));
	EVP_DigestUpdate(ctx, chal, clen);
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
	return (int)n;
}

static void hex_put(char *dst, const uint8_t *b, size_t n)
{
	dst += sprintf(dst, "0x");
	for (size_t i = 0; i < n; i++)
		dst += sprintf(dst, "%02x", b[i]);
}

/* "0x..." into bytes; the count or -1. */
static int hex_get(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	if (strncmp(s, "0x", 2) && strncmp(s, "0X", 2))
		return -1;
	for (s += 2; s[0] && s[1] && n < cap; s += 2) {
		unsigned v;

		if (sscanf(s, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
	}
	return *s ? -1 : (int)n;
}

/*
 * The CHAP exchange of the security stage, ending with a request that
 * asks to go to the operational stage. The login status, -EPROTO for an
 * answer CHAP does not allow, or -errno.
 */
static int login_chap(struct ri *ri, const char *target,
		      const char *initiator, struct ri_pdu *rsp)
{
	struct ri_chap *ch = &ri->chap;
	char kv[4096], val[2200], tchal_hex[80];
	uint8_t chal[1100], dig[64], mychal[32];
	int clen, dlen, status, rc;
	unsigned id;
	size_t n = 0;

	n = kv_put(kv, n, "InitiatorName", initiator);
	if (target)
		n = kv_put(kv, n, "TargetName", target);
	n = kv_put(kv, n, "SessionType", target ? "Normal" : "Discovery");
	n = kv_put(kv, n, "AuthMethod", "CHAP,None");
	rc = login_step(ri, 0, kv, n, rsp);	/* CSG 0, no T */
	if (rc)
		return rc;
	if ((status = get_be16(rsp->bhs + BHS_DATASN)))
		return status;
	if (!kv_find(rsp->data, rsp->dsl, "AuthMethod", val, sizeof(val)) ||
	    strcmp(val, "CHAP"))
		return -EPROTO;
	ri->expstatsn = get_be32(rsp->bhs + BHS_CMDSN) + 1;

	n = kv_put(kv, 0, "CHAP_A", ch->algs ? ch->algs : "5");
	rc = login_step(ri, 0, kv, n, rsp);
	if (rc)
		return rc;
	if ((status = get_be16(rsp->bhs + BHS_DATASN)))
		return status;
	ri->expstatsn = get_be32(rsp->bhs + BHS_CMDSN) + 1;
	if (!kv_find(rsp->data, rsp->dsl, "CHAP_A", val, sizeof(val)))
		return -EPROTO;
	ch->alg = atoi(val);
	if (!kv_find(rsp->data, rsp->dsl, "CHAP_I", val, sizeof(val)))
		return -EPROTO;
	id = (unsigned)strtoul(val, NULL, 0);
	if (!kv_find(rsp->data, rsp->dsl, "CHAP_C", val, sizeof(val)) ||
	    (clen = hex_get(val, chal, sizeof(chal))) <= 0)
		return -EPROTO;
	ch->challenge_len = (size_t)clen;
	dlen = chap_hash(ch->alg, (uint8_t)id, ch->secret, chal, (size_t)clen,
			 dig);
	if (dlen < 0)
		return -EPROTO;
	n = kv_put(kv, 0, "CHAP_N", ch->user);
	if (ch->base64) {
		char b64[100] = "0b";

		EVP_EncodeBlock((unsigned char *)b64 + 2, dig, dlen);
		n = kv_put(kv, n, "CHAP_R", b64);
	} else {
		hex_put(val, dig, (size_t)dlen);
		n = kv_put(kv, n, "CHAP_R", val);
	}
	if (ch->target_user) {
		if (ch->reflect) {
			memcpy(mychal, chal, MIN((size_t)clen, sizeof(mychal)));
		} else {
			for (size_t i = 0; i < sizeof(mychal); i++)
				mychal[i] = (uint8_t)(rand() ^ (int)i);
		}
		n = kv_put(kv, n, "CHAP_I", "77");
		hex_put(tchal_hex, mychal, MIN((size_t)clen, sizeof(mychal)));
		n = kv_put(kv, n, "CHAP_C", tchal_hex);
	}
	rc = login_stage(ri, 0, 1, kv, n, rsp);
	if (rc)
		return rc;
	if (ch->target_user) {
		uint8_t want[64], got[64];
		int wl = chap_hash(ch->alg, 77, ch->target_secret, mychal,
				   MIN((size_t)clen, sizeof(mychal)), want);

		if (!kv_find(rsp->data, rsp->dsl, "CHAP_N", val, sizeof(val)) ||
		    strcmp(val, ch->target_user))
			return -EPROTO;
		if (!kv_find(rsp->data, rsp->dsl, "CHAP_R", val, sizeof(val)) ||
		    hex_get(val, got, sizeof(got)) != wl ||
		    memcmp(got, want, (size_t)wl))
			return -EPROTO;
		ch->mutual_ok = true;
	}
	ri->expstatsn = get_be32(rsp->bhs + BHS_CMDSN) + 1;
	return 0;
}

static int login_both_stages(struct ri *ri, const char *target,
			     const char *initiator, bool hd, bool dd,
			     struct ri_pdu *rsp)
{
	char kv[1024], val[64];
	size_t n = 0;
	int rc;

	ri->cmdsn = 1;
	/* security stage: CSG 0 → NSG 1 */
	if (ri->chap.user) {
		rc = login_chap(ri, target, initiator, rsp);
		if (rc)
			return rc;
	} else {
		n = kv_put(kv, n, "InitiatorName", initiator);
		if (target)
			n = kv_put(kv, n, "TargetName", target);
		n = kv_put(kv, n, "SessionType",
			   target ? "Normal" : "Discovery");
		n = kv_put(kv, n, "AuthMethod", "None");
		rc = login_stage(ri, 0, 1, kv, n, rsp);
		if (rc)
			return rc;
		if (!kv_find(rsp->data, rsp->dsl, "AuthMethod", val,
			     sizeof(val)) || strcmp(val, "None") != 0)
			return -EPROTO;
		ri->expstatsn = get_be32(rsp->bhs + BHS_CMDSN) + 1;
	}

	/* operational stage: CSG 1 → full feature phase (3) */
	n = 0;
	n = kv_put(kv, n, "HeaderDigest", hd ? "CRC32C" : "None");
	n = kv_put(kv, n, "DataDigest", dd ? "CRC32C" : "None");
	n = kv_put(kv, n, "ImmediateData", "Yes");
	n = kv_put(kv, n, "InitialR2T", "No");
	n = kv_put(kv, n, "MaxRecvDataSegmentLength", "262144");
	n = kv_put(kv, n, "MaxBurstLength", "262144");
	snprintf(val, sizeof(val), "%u", ri->first_burst ? ri->first_burst
							: 65536u);
	n = kv_put(kv, n, "FirstBurstLength", val);
	if (ri->max_r2t) {
		snprintf(val, sizeof(val), "%u", ri->max_r2t);
		n = kv_put(kv, n, "MaxOutstandingR2T", val);
	}
	n = kv_put(kv, n, "ErrorRecoveryLevel", "0");
	n = kv_put(kv, n, "MaxConnections", "1");
	if (ri->level2)
		n = kv_put(kv, n, "iSCSIProtocolLevel", "2");
	rc = login_stage(ri, 1, 3, kv, n, rsp);
	if (rc)
		return rc;
	ri->protocol_level = 1;
	if (kv_find(rsp->data, rsp->dsl, "iSCSIProtocolLevel", val, sizeof(val)))
		ri->protocol_level = (uint32_t)strtoul(val, NULL, 10);
	ri->tsih = get_be16(rsp->bhs + BHS_TSIH);
	if (!ri->tsih)
		return -EPROTO;
	if (!kv_find(rsp->data, rsp->dsl, "MaxRecvDataSegmentLength", val,
		     sizeof(val)))
		return -EPROTO;
	ri->tgt_mrdsl = (uint32_t)strtoul(val, NULL, 10);
	/* irrelevant in a discovery session (RFC 7143 §13) */
	if (target && (!kv_find(rsp->data, rsp->dsl, "ImmediateData", val,
				sizeof(val)) || strcmp(val, "Yes") != 0))
		return -EPROTO;
	ri->expstatsn = get_be32(rsp->bhs + BHS_CMDSN) + 1;
	ri->cmdsn = get_be32(rsp->bhs + BHS_EXPSTATSN);	/* ExpCmdSN */
	ri->max_cmdsn = get_be32(rsp->bhs + BHS_MAXCMDSN);
	ri->itt++;
	return 0;
}

int ri_login_offer(struct ri *ri, const char *target, const char *initiator,
		  const char *kv, size_t len, char *out, size_t cap)
{
	char sec[1024];
	struct ri_pdu rsp;
	size_t n = 0;
	int rc;

	ri->cmdsn = 1;
	n = kv_put(sec, n, "InitiatorName", initiator);
	n = kv_put(sec, n, "TargetName", target);
	n = kv_put(sec, n, "SessionType", "Normal");
	n = kv_put(sec, n, "AuthMethod", "None");
	rc = login_stage(ri, 0, 1, sec, n, &rsp);
	if (rc)
		return rc;
	ri->expstatsn = get_be32(rsp.bhs + BHS_CMDSN) + 1;
	rc = login_stage(ri, 1, 3, kv, len, &rsp);
	if (rc)
		return rc;
	if (rsp.dsl >= cap)
		return -ENOSPC;
	memcpy(out, rsp.data, rsp.dsl);
	out[rsp.dsl] = '\0';
	for (uint32_t i = 0; i < rsp.dsl; i++)	/* one pair a line */
		if (!out[i])
			out[i] = '\n';
	ri->tsih = get_be16(rsp.bhs + BHS_TSIH);
	ri->tgt_mrdsl = 8192;
	if (kv_find(rsp.data, rsp.dsl, "MaxRecvDataSegmentLength", sec,
		    sizeof(sec)))
		ri->tgt_mrdsl = (uint32_t)strtoul(sec, NULL, 10);
	ri->expstatsn = get_be32(rsp.bhs + BHS_CMDSN) + 1;
	ri->cmdsn = get_be32(rsp.bhs + BHS_EXPSTATSN);
	ri->max_cmdsn = get_be32(rsp.bhs + BHS_MAXCMDSN);
	ri->itt++;
	return 0;
}

int ri_send_targets(struct ri *ri, char *out, size_t cap)
{
	static const char kv[] = "SendTargets=All";
	uint8_t b[BHS_LEN] = { 0 };
	struct ri_pdu p;
	size_t n;
	int rc;

	b[0] = OP_TEXT_REQ | 0x40;	/* immediate */
	b[1] = BHS_F;
	put_be32(b + BHS_ITT, ri->itt++);
	put_be32(b + BHS_TTT, 0xffffffffu);
	put_be32(b + BHS_CMDSN, ri->cmdsn);
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
	rc = ri_send(ri, b, kv, sizeof(kv));
	if (!rc)
		rc = ri_recv(ri, &p, RI_LOGIN_ANSWER_MS);
	if (rc)
		return rc;
	if (p.opcode != OP_TEXT_RSP || !cap)
		return -EPROTO;
	n = MIN((size_t)p.dsl, cap - 1);
	memcpy(out, p.data, n);
	for (size_t i = 0; i < n; i++)
		if (!out[i])
			out[i] = '\n';
	out[n] = '\0';
	return 0;
}

int ri_text(struct ri *ri, const char *kv, size_t len, char *out,
	    size_t cap, unsigned *pieces, uint32_t *largest)
{
	uint32_t itt = ri->itt++, ttt = 0xffffffffu, big = 0;
	unsigned count = 0;
	size_t got = 0;
	int rc = cap ? 0 : -E2BIG;

	while (!rc) {
		uint8_t b[BHS_LEN] = { 0 };
		struct ri_pdu p;
		bool final, more;

		b[0] = OP_TEXT_REQ | 0x40;	/* immediate */
		b[1] = BHS_F;
		put_be32(b + BHS_ITT, itt);
		put_be32(b + BHS_TTT, ttt);
		put_be32(b + BHS_CMDSN, ri->cmdsn);
		put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
		/* a continuation request carries no keys */
		rc = ri_send(ri, b, count ? NULL : kv, count ? 0 : len);
		if (!rc)
			rc = ri_recv(ri, &p, RI_LOGIN_ANSWER_MS);
		if (rc)
			break;
		final = p.bhs[1] & BHS_F;
		more = p.bhs[1] & 0x40;		/* C */
		ttt = get_be32(p.bhs + BHS_TTT);
		/* §11.11: F and C never both; the last piece has no TTT */
		if (p.opcode != OP_TEXT_RSP || p.itt != itt || final == more ||
		    (final && ttt != 0xffffffffu) ||
		    (more && ttt == 0xffffffffu)) {
			rc = -EPROTO;
			break;
		}
		count++;
		big = MAX(big, p.dsl);
		if (got + p.dsl >= cap) {
			rc = -E2BIG;
			break;
		}
		for (uint32_t i = 0; i < p.dsl; i++)
			out[got++] = p.data[i] ? (char)p.data[i] : '\n';
		if (final)
			break;
	}
	if (cap)
		out[MIN(got, cap - 1)] = '\0';
	if (pieces)
		*pieces = count;
	if (largest)
		*largest = big;
	return rc;
}

int ri_login(struct ri *ri, const char *target, const char *initiator)
{
	struct ri_pdu rsp;

	return login_both_stages(ri, target, initiator, false, false, &rsp);
}

void ri_cdb_rw10(uint8_t cdb[10], bool write, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 10);
	cdb[0] = write ? 0x2a : 0x28;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, blocks);
}

uint32_t ri_scsi_cmd(struct ri *ri, uint64_t lun, const uint8_t *cdb,
		     int cdb_len, uint8_t flags, uint32_t edtl,
		     const void *data, uint32_t dlen, uint32_t *cmdsn)
{
	uint8_t b[BHS_LEN] = { 0 };
	uint32_t itt = ri->itt++;

	b[BHS_OPCODE] = OP_SCSI_CMD;
	b[BHS_FLAGS] = BHS_F | flags | 0x01;	/* simple task attribute */
	put_be64(b + BHS_LUN, ri_lun(lun));
	put_be32(b + BHS_ITT, itt);
	put_be32(b + BHS_TTT, edtl);
	put_be32(b + BHS_CMDSN, ri->cmdsn);
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
	memcpy(b + BHS_CDB, cdb, (size_t)MIN(cdb_len, 16));
	if (cmdsn)
		*cmdsn = ri->cmdsn;
	ri->cmdsn++;
	if (ri_send(ri, b, data, dlen))
		return RSVD_TAG;
	return itt;
}

uint32_t ri_tmf(struct ri *ri, uint8_t function, uint64_t lun, uint32_t rtt,
		uint32_t refcmdsn)
{
	uint8_t b[BHS_LEN] = { 0 };
	uint32_t itt = ri->itt++;

	b[BHS_OPCODE] = OP_TMF_REQ | BHS_I;
	b[BHS_FLAGS] = BHS_F | function;
	put_be64(b + BHS_LUN, ri_lun(lun));
	put_be32(b + BHS_ITT, itt);
	put_be32(b + BHS_TTT, rtt);
	put_be32(b + BHS_CMDSN, ri->cmdsn);	/* immediate: not advanced */
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
	put_be32(b + BHS_MAXCMDSN, refcmdsn);
	put_be32(b + BHS_DATASN, ri->cmdsn);	/* ExpDataSN: unused */
	if (ri_send(ri, b, NULL, 0))
		return RSVD_TAG;
	return itt;
}

uint32_t ri_ping(struct ri *ri)
{
	uint8_t b[BHS_LEN] = { 0 };
	uint32_t itt = ri->itt++;

	b[BHS_OPCODE] = OP_NOP_OUT | BHS_I;
	b[BHS_FLAGS] = BHS_F;
	put_be32(b + BHS_ITT, itt);
	put_be32(b + BHS_TTT, RSVD_TAG);
	put_be32(b + BHS_CMDSN, ri->cmdsn);
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
	if (ri_send(ri, b, "ping", 4))
		return RSVD_TAG;
	return itt;
}

static void parse_sense(const uint8_t *d, uint32_t len, struct ri_result *r)
{
	uint32_t slen;

	if (len < 2)
		return;
	slen = get_be16(d);
	d += 2;
	if (slen + 2 > len || slen < 3)
		return;
	if ((d[0] & 0x7f) == 0x72 || (d[0] & 0x7f) == 0x73) {
		r->sense_key = d[1] & 0x0f;
		r->asc = d[2];
		r->ascq = slen > 3 ? d[3] : 0;
	} else if (slen >= 14) {
		r->sense_key = d[2] & 0x0f;
		r->asc = d[12];
		r->ascq = d[13];
	}
}

/* ri_wait_cmd() over any receive function (plain, or with digests). */
static int wait_cmd(int (*recv)(void *ctx, struct ri_pdu *p, int ms),
		    void *ctx, uint32_t itt, void *buf, uint32_t cap,
		    struct ri_result *res, int timeout_ms, unsigned *others)
{
	uint64_t deadline = ri_now_ms() + (uint64_t)timeout_ms;
	struct ri_pdu p;

	memset(res, 0, sizeof(*res));
	res->status = -1;
	for (;;) {
		uint64_t now = ri_now_ms();
		int rc;

		if (now >= deadline)
			return -ETIMEDOUT;
		rc = recv(ctx, &p, (int)(deadline - now));
		if (rc)
			return rc;
		if (p.itt != itt) {
			if (others)
				(*others)++;
			continue;
		}
		if (p.opcode == OP_DATA_IN) {
			uint32_t off = get_be32(p.bhs + BHS_BUFOFF);

			if (buf && off < cap)
				memcpy((uint8_t *)buf + off, p.data,
				       MIN(p.dsl, cap - off));
			res->data_len += p.dsl;
			if (p.bhs[BHS_FLAGS] & DIN_S) {
				res->status = p.bhs[BHS_B3];
				res->resid = get_be32(p.bhs + BHS_RESID);
				res->rsp_flags = p.bhs[BHS_FLAGS];
				return 0;
			}
			continue;
		}
		if (p.opcode == OP_SCSI_RSP) {
			res->status = p.bhs[BHS_B3];
			res->resid = get_be32(p.bhs + BHS_RESID);
			res->rsp_flags = p.bhs[BHS_FLAGS];
			if (p.bhs[BHS_B2] != 0)
				return -EIO;	/* not "completed at target" */
			parse_sense(p.data, p.dsl, res);
			return 0;
		}
		return -EPROTO;		/* R2T, Reject, ... for this ITT */
	}
}

static int recv_plain(void *ctx, struct ri_pdu *p, int ms)
{
	return ri_recv(ctx, p, ms);
}

int ri_wait_cmd(struct ri *ri, uint32_t itt, void *buf, uint32_t cap,
		struct ri_result *res, int timeout_ms, unsigned *others)
{
	return wait_cmd(recv_plain, ri, itt, buf, cap, res, timeout_ms,
			others);
}

int ri_data_out(struct ri *ri, uint64_t lun, uint32_t itt, uint32_t ttt,
		uint32_t datasn, uint32_t off, const void *data, uint32_t len)
{
	uint8_t b[BHS_LEN] = { 0 };

	b[BHS_OPCODE] = OP_DATA_OUT;
	b[BHS_FLAGS] = BHS_F;
	put_be64(b + BHS_LUN, ri_lun(lun));
	put_be32(b + BHS_ITT, itt);
	put_be32(b + BHS_TTT, ttt);
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
	put_be32(b + BHS_DATASN, datasn);
	put_be32(b + BHS_BUFOFF, off);
	return ri_send(ri, b, data, len);
}

/* --- CRC32C digests ----------------------------------------------------- */

#include "iscsi/digest.h"

int ri_dg_login(struct ri_dg *d, int port, const char *target,
		const char *initiator, bool hd, bool dd)
{
	struct ri *ri = &d->ri;
	struct ri_pdu rsp;
	char val[64];
	int rc;

	d->hd = d->dd = false;
	rc = ri_connect(ri, port);
	if (rc)
		return rc;
	rc = login_both_stages(ri, target, initiator, hd, dd, &rsp);
	if (rc)
		return rc;
	/* RFC 7143 §13.1: the answer is one value of the offered list */
	if (!kv_find(rsp.data, rsp.dsl, "HeaderDigest", val, sizeof(val)) ||
	    strcmp(val, hd ? "CRC32C" : "None") != 0)
		return -EPROTO;
	d->hd = hd;
	if (!kv_find(rsp.data, rsp.dsl, "DataDigest", val, sizeof(val)) ||
	    strcmp(val, dd ? "CRC32C" : "None") != 0)
		return -EPROTO;
	d->dd = dd;
	return 0;
}

int ri_dg_send(struct ri_dg *d, const uint8_t bhs[BHS_LEN], const void *data,
	       uint32_t len, unsigned opts)
{
	static const uint8_t zeros[4];
	uint32_t pad = pdu_pad4(len) - len;
	uint8_t h[BHS_LEN + DIGEST_LEN], tail[4 + DIGEST_LEN];
	size_t hlen = BHS_LEN, tlen = pad;
	int rc;

	memcpy(h, bhs, BHS_LEN);
	put_be24(h + BHS_DSL, len);
	if (d->hd) {
		uint32_t crc = crc32c(h, BHS_LEN);

		digest_put(h + BHS_LEN, opts & RI_BAD_HDIGEST ? ~crc : crc);
		hlen += DIGEST_LEN;
	}
	memset(tail, 0, sizeof(tail));
	if (d->dd && len) {
		uint32_t crc = crc32c_update(crc32c_init(), data, len);

		crc = crc32c_final(crc32c_update(crc, zeros, pad));
		digest_put(tail + pad, opts & RI_BAD_DDIGEST ? ~crc : crc);
		tlen += DIGEST_LEN;
	}
	rc = write_all(d->ri.fd, h, hlen);
	if (rc == 0 && len)
		rc = write_all(d->ri.fd, data, len);
	if (rc == 0 && tlen)
		rc = write_all(d->ri.fd, tail, tlen);
	return rc;
}

int ri_dg_recv(struct ri_dg *d, struct ri_pdu *p, int timeout_ms)
{
	struct ri *ri = &d->ri;
	uint64_t deadline = ri_now_ms() + (uint64_t)timeout_ms;
	uint8_t dig[DIGEST_LEN];
	int rc;

	for (;;) {
		uint32_t padded;

		rc = read_all(ri->fd, p->bhs, BHS_LEN, deadline);
		if (rc)
			return rc;
		p->opcode = p->bhs[BHS_OPCODE] & 0x3f;
		p->itt = get_be32(p->bhs + BHS_ITT);
		p->dsl = get_be24(p->bhs + BHS_DSL);
		p->data = ri->rx_data;
		if (p->bhs[BHS_AHSLEN] || p->dsl > RI_DATA_MAX)
			return -EPROTO;
		deadline = MAX(deadline, ri_now_ms() + 2000);
		if (d->hd) {
			rc = read_all(ri->fd, dig, DIGEST_LEN, deadline);
			if (rc)
				return rc;
			if (digest_get(dig) != crc32c(p->bhs, BHS_LEN))
				return -EBADMSG;
		}
		padded = pdu_pad4(p->dsl);
		rc = read_all(ri->fd, ri->rx_data, padded, deadline);
		if (rc)
			return rc;
		if (d->dd && p->dsl) {
			rc = read_all(ri->fd, dig, DIGEST_LEN, deadline);
			if (rc)
				return rc;
			if (digest_get(dig) != crc32c(ri->rx_data, padded))
				return -EBADMSG;
		}
		track_sn(ri, p);
		if (p->opcode == OP_NOP_IN && p->itt == RSVD_TAG &&
		    get_be32(p->bhs + BHS_TTT) != RSVD_TAG) {
			uint8_t b[BHS_LEN] = { 0 };

			ri->pings_seen++;
			if (!ri->answer_pings)
				return 0;
			/* RFC 7143 §11.18, as answer_ping() */
			b[BHS_OPCODE] = OP_NOP_OUT | BHS_I;
			b[BHS_FLAGS] = BHS_F;
			memcpy(b + BHS_LUN, p->bhs + BHS_LUN, 8);
			put_be32(b + BHS_ITT, RSVD_TAG);
			put_be32(b + BHS_TTT, get_be32(p->bhs + BHS_TTT));
			put_be32(b + BHS_CMDSN, ri->cmdsn);
			put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
			if (ri_dg_send(d, b, NULL, 0, 0) == 0)
				ri->pings_answered++;
			continue;
		}
		return 0;
	}
}

void ri_build_scsi_cmd(struct ri *ri, uint8_t b[BHS_LEN], uint64_t lun,
		       const uint8_t *cdb, int cdb_len, uint8_t flags,
		       uint32_t edtl)
{
	memset(b, 0, BHS_LEN);
	b[BHS_OPCODE] = OP_SCSI_CMD;
	b[BHS_FLAGS] = BHS_F | flags | 0x01;	/* simple task attribute */
	put_be64(b + BHS_LUN, ri_lun(lun));
	put_be32(b + BHS_ITT, ri->itt++);
	put_be32(b + BHS_TTT, edtl);
	put_be32(b + BHS_CMDSN, ri->cmdsn++);
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
	memcpy(b + BHS_CDB, cdb, (size_t)MIN(cdb_len, 16));
}

void ri_build_data_out(struct ri *ri, uint8_t b[BHS_LEN], uint64_t lun,
		       uint32_t itt, uint32_t ttt, uint32_t datasn,
		       uint32_t off, bool final)
{
	memset(b, 0, BHS_LEN);
	b[BHS_OPCODE] = OP_DATA_OUT;
	b[BHS_FLAGS] = final ? BHS_F : 0;
	put_be64(b + BHS_LUN, ri_lun(lun));
	put_be32(b + BHS_ITT, itt);
	put_be32(b + BHS_TTT, ttt);
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
	put_be32(b + BHS_DATASN, datasn);
	put_be32(b + BHS_BUFOFF, off);
}

static int recv_digests(void *ctx, struct ri_pdu *p, int ms)
{
	return ri_dg_recv(ctx, p, ms);
}

int ri_dg_wait_cmd(struct ri_dg *d, uint32_t itt, void *buf, uint32_t cap,
		   struct ri_result *res, int timeout_ms, unsigned *others)
{
	return wait_cmd(recv_digests, d, itt, buf, cap, res, timeout_ms,
			others);
}

/* --- hostile peers --------------------------------------------------------- */

int ri_send_bytes(struct ri *ri, const void *buf, size_t len)
{
	return write_all(ri->fd, buf, len);
}

void ri_build_login(struct ri *ri, uint8_t b[BHS_LEN], uint8_t flags)
{
	memset(b, 0, BHS_LEN);
	b[BHS_OPCODE] = OP_LOGIN_REQ | BHS_I;
	b[BHS_FLAGS] = flags;
	/* ISID: type 2 (random), a fixed qualifier */
	b[BHS_ISID] = 0x80;
	b[BHS_ISID + 3] = 0x12;
	b[BHS_ISID + 5] = ri->isid_q ? ri->isid_q : (uint8_t)ri->fd;
	put_be32(b + BHS_ITT, ri->itt);
	put_be16(b + BHS_TTT, 0);		/* CID */
	put_be32(b + BHS_CMDSN, ri->cmdsn);
	put_be32(b + BHS_EXPSTATSN, ri->expstatsn);
}

size_t ri_login_keys(char *buf, size_t cap, const char *target,
		     const char *initiator)
{
	size_t n = 0;

	if (cap < strlen(target) + strlen(initiator) + 128)
		return 0;
	n = kv_put(buf, n, "InitiatorName", initiator);
	n = kv_put(buf, n, "TargetName", target);
	n = kv_put(buf, n, "SessionType", "Normal");
	n = kv_put(buf, n, "AuthMethod", "None");
	return n;
}

long ri_wait_closed(struct ri *ri, int timeout_ms)
{
	uint64_t t0 = ri_now_ms(), deadline = t0 + (uint64_t)timeout_ms;
	uint8_t sink[4096];

	for (;;) {
		struct pollfd pfd = { .fd = ri->fd, .events = POLLIN };
		uint64_t now = ri_now_ms();
		ssize_t n;
		int rc;

		if (now >= deadline)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		n = recv(ri->fd, sink, sizeof(sink), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
			return (long)(ri_now_ms() - t0);
		if (n < 0)
			return -errno;
	}
}
