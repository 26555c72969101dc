/*
 * chap.c - the target's side of CHAP in the login's security stage
 * (RFC 7143 §12.1.3, RFC 1994): picks the algorithm, sends a fresh
 * challenge, checks the initiator's response against the incoming
 * account's secret and, when the initiator challenges us in turn,
 * answers with the outgoing account's secret (mutual CHAP).
 *
 * A pure state machine: the caller hands in one request's CHAP_ keys and
 * gets the answer's keys and a verdict; secrets come through the
 * caller's lookup functions and are wiped from our stack as soon as the
 * digest is computed. Digests, hex / base64 and the constant-time
 * comparison are libcrypto's; the randomness is getrandom()'s.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/base.h"
#include "chap.h"

/* How much of an initiator-supplied string goes into a log sentence. */
#define CHAP_WHY_QUOTE 64

static const EVP_MD *chap_md(int alg)
{
	switch (alg) {
	case CHAP_ALG_MD5:
		return EVP_md5();
	case CHAP_ALG_SHA1:
		return EVP_sha1();
	case CHAP_ALG_SHA256:
		return EVP_sha256();
	case CHAP_ALG_SHA3_256:
		return EVP_sha3_256();
	default:
		return NULL;
	}
}

size_t chap_digest_len(int alg)
{
	switch (alg) {
	case CHAP_ALG_MD5:
		return 16;
	case CHAP_ALG_SHA1:
		return 20;
	case CHAP_ALG_SHA256:
	case CHAP_ALG_SHA3_256:
		return 32;
	default:
		return 0;
	}
}

int chap_digest(int alg, uint8_t id, const uint8_t *secret, size_t slen,
		const uint8_t *chal, size_t clen, uint8_t *out)
{
	const EVP_MD *md = chap_md(alg);
	unsigned int len = 0;
	EVP_MD_CTX *ctx;
	int rc = -EIO;

	if (!md)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	/* RFC 1994 §4.1: the Identifier, the secret, then the challenge */
	if (EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, &id, 1) == 1 &&
	    EVP_DigestUpdate(ctx, secret, slen) == 1 &&
	    EVP_DigestUpdate(ctx, chal, clen) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &len) == 1 &&
	    len == chap_digest_len(alg))
		rc = (int)len;
	EVP_MD_CTX_free(ctx);	/* cleanses the digest state */
	return rc;
}

/* --- binary values (RFC 7143 §6.1) ------------------------------------- */

/* hex-constant: an odd digit count has an implied leading 0 */
static ssize_t chap_decode_hex(const char *p, uint8_t *out, size_t cap)
{
	size_t n = strlen(p), bytes = (n + 1) / 2;
	size_t i = 0, o = 0;

	if (n == 0)
		return -EINVAL;
	for (size_t k = 0; k < n; k++)
		if (OPENSSL_hexchar2int((unsigned char)p[k]) < 0)
			return -EINVAL;
	if (bytes > cap)
		return -E2BIG;
	if (n % 2)
		out[o++] = (uint8_t)OPENSSL_hexchar2int((unsigned char)p[i++]);
	for (; i < n; i += 2) {
		int hi = OPENSSL_hexchar2int((unsigned char)p[i]);
		int lo = OPENSSL_hexchar2int((unsigned char)p[i + 1]);

		out[o++] = (uint8_t)(hi << 4 | lo);
	}
	return (ssize_t)bytes;
}

/*
 * base64-constant (RFC 4648 §4). Padding is accepted and may be left out
 * (LIO's decoder stops at the first '=' too); whitespace, '=' inside and
 * a lone last character (6 bits, not a byte) are not. EVP_DecodeBlock()
 * decodes whole quanta only and counts pad characters as zero bytes, so
 * it is fed one 4-character quantum at a time and the exact byte count
 * comes from the characters that are not padding.
 */
static ssize_t chap_decode_b64(const char *p, uint8_t *out, size_t cap)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(p), body = n, bytes, o = 0;
	unsigned char tmp[3];

	while (body > 0 && n - body < 2 && p[body - 1] == '=')
		body--;
	if (body == 0 || strspn(p, alphabet) != body)
		return -EINVAL;
	if (body % 4 == 1 || (body < n && n % 4 != 0))
		return -EINVAL;
	bytes = body / 4 * 3 + (body % 4 ? body % 4 - 1 : 0);
	if (bytes > cap)
		return -E2BIG;
	for (size_t i = 0; i < body; i += 4) {
		unsigned char q[4] = { '=', '=', '=', '=' };
		size_t take = MIN(body - i, 4);

		memcpy(q, p + i, take);
		if (EVP_DecodeBlock(tmp, q, 4) != 3)
			return -EINVAL;
		/* a quantum of k characters carries k - 1 bytes (k > 1) */
		take = take == 4 ? 3 : take - 1;
		memcpy(out + o, tmp, take);
		o += take;
	}
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return (ssize_t)bytes;
}

ssize_t chap_decode(const char *s, uint8_t *out, size_t cap)
{
	if (!s || s[0] != '0')
		return -EINVAL;
	if (s[1] == 'x' || s[1] == 'X')
		return chap_decode_hex(s + 2, out, cap);
	if (s[1] == 'b' || s[1] == 'B')
		return chap_decode_b64(s + 2, out, cap);
	return -EINVAL;
}

/*
 * A numerical value (RFC 7143 §6.1): decimal-constant (no leading zero
 * but "0") or hex-constant, in @len bytes of @s. Returns 0 and the value
 * (saturated above UINT32_MAX), or -EINVAL.
 */
static int chap_number(const char *s, size_t len, uint64_t *v)
{
	bool hex = len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	size_t i = hex ? 2 : 0;
	uint64_t x = 0;

	if (len == 0 || (!hex && len > 1 && s[0] == '0'))
		return -EINVAL;
	for (; i < len; i++) {
		int d = hex ? OPENSSL_hexchar2int((unsigned char)s[i])
			    : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);

		if (d < 0)
			return -EINVAL;
		x = MIN(x * (hex ? 16 : 10) + (uint64_t)d,
			(uint64_t)UINT32_MAX + 1);
	}
	*v = x;
	return 0;
}

/* "0x" and the hex of @len bytes, uppercase (RFC 7143 §6.1: either case). */
static bool chap_hex(const uint8_t *b, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	if (cap < 3)
		return false;
	memcpy(out, "0x", 2);
	return OPENSSL_buf2hexstr_ex(out + 2, cap - 2, &n, b, len, '\0') == 1;
}

/* --- the exchange ------------------------------------------------------- */

/*
 * @s for a log sentence: printable ASCII, anything else as '?' (as acl.c
 * does), cut short. Never more than the initiator's own characters: an
 * escape such as \xNN would add hex digits that, next to the initiator's
 * text, could spell something it did not send (found by fuzz-chap).
 */
static void chap_quote(const char *s, char *out, size_t cap)
{
	size_t o = 0, i;

	for (i = 0; s[i] && i < CHAP_WHY_QUOTE && o + 5 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	if (s[i] && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static enum chap_result chap_fail(struct chap_ctx *c, char *why,
				  size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Every failure ends here: the exchange is over for this connection. */
static enum chap_result chap_fail(struct chap_ctx *c, char *why,
				  size_t whylen, const char *fmt, ...)
{
	va_list ap;

	c->state = CHAP_FAILED;
	OPENSSL_cleanse(c->challenge, sizeof(c->challenge));
	c->challenge_len = 0;
	c->mutual = false;
	c->user[0] = '\0';
	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return CHAP_FAIL;
}

/* getrandom() or nothing: no weaker source behind it (CVE-2024-45751). */
static int chap_random(uint8_t *buf, size_t len)
{
	size_t got = 0;

	for (int tries = 0; got < len && tries < 8; tries++) {
		ssize_t n = getrandom(buf + got, len - got, 0);

		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno != EINTR)
			return -errno;
	}
	return got == len ? 0 : -EAGAIN;
}

/*
 * First request: CHAP_A=<A1,A2,...>. RFC 7143 §12.1.3: the target
 * answers CHAP_A=<A> with A one of the initiator's values (we take the
 * first it lists that we allow), CHAP_I=<I> and CHAP_C=<C>.
 */
static enum chap_result chap_step_a(struct chap_ctx *c,
				    const struct chap_keys *in,
				    struct kvbuf *out, char *why, size_t whylen)
{
	uint8_t rnd[CHAP_DIGEST_MAX + 1];
	char hex[2 * CHAP_DIGEST_MAX + 3], q[4 * CHAP_WHY_QUOTE + 4];
	const char *p = in->a;
	enum chap_result res;
	size_t dlen;
	int alg = 0;

	if (in->n || in->r || in->i || in->c)
		return chap_fail(c, why, whylen, "CHAP_N/CHAP_R/CHAP_I/CHAP_C "
				 "before the challenge");
	if (!p)
		return chap_fail(c, why, whylen, "missing CHAP_A");
	while (!alg) {
		size_t len = strcspn(p, ",");
		uint64_t v;

		/* values that are not numbers are skipped, like unknown ones */
		if (chap_number(p, len, &v) == 0 && v <= 255 &&
		    (CHAP_ALG_BIT(v) & c->allowed) && chap_digest_len((int)v))
			alg = (int)v;
		if (!p[len])
			break;
		p += len + 1;
	}
	if (!alg) {
		chap_quote(in->a, q, sizeof(q));
		return chap_fail(c, why, whylen,
				 "no allowed algorithm in CHAP_A=%s", q);
	}
	/* RFC 7143 §12.1.3: the challenge is at least the digest's size */
	dlen = chap_digest_len(alg);
	if (chap_random(rnd, dlen + 1) < 0) {
		res = chap_fail(c, why, whylen,
				"getrandom failed: no CHAP challenge");
		goto out;
	}
	c->alg = alg;
	c->id = rnd[dlen];
	memcpy(c->challenge, rnd, dlen);
	c->challenge_len = dlen;
	if (!chap_hex(c->challenge, dlen, hex, sizeof(hex))) {
		res = chap_fail(c, why, whylen, "cannot encode the challenge");
		goto out;
	}
	kv_addf(out, "CHAP_A", "%d", alg);
	kv_addf(out, "CHAP_I", "%u", (unsigned)c->id);
	kv_add(out, "CHAP_C", hex);
	c->state = CHAP_WAIT_R;
	res = CHAP_CONTINUE;
out:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(hex, sizeof(hex));
	return res;
}

/*
 * Mutual CHAP (RFC 7143 §12.1.3): the initiator's CHAP_I / CHAP_C came
 * with its response, which has been verified already; answer with the
 * outgoing account's CHAP_N and H(I' || secret || C').
 */
static enum chap_result chap_mutual(struct chap_ctx *c,
				    const struct chap_keys *in,
				    const struct chap_lookup *lk,
				    struct kvbuf *out, char *why, size_t whylen)
{
	uint8_t chal[CHAP_CHALLENGE_MAX], secret[CHAP_SECRET_MAX];
	uint8_t resp[CHAP_DIGEST_MAX];
	char name[CHAP_NAME_MAX + 1], hex[2 * CHAP_DIGEST_MAX + 3];
	enum chap_result res;
	ssize_t clen;
	uint64_t id;
	int slen, dlen;

	memset(name, 0, sizeof(name));
	if (chap_number(in->i, strlen(in->i), &id) < 0 || id > 255) {
		res = chap_fail(c, why, whylen,
				"CHAP_I is not a number from 0 to 255");
		goto out;
	}
	clen = chap_decode(in->c, chal, sizeof(chal));
	if (clen < 0) {
		res = chap_fail(c, why, whylen, "%s CHAP_C",
				clen == -E2BIG ? "oversized" : "malformed");
		goto out;
	}
	/* RFC 7143 §12.1.3: our own challenge sent back is a reflection */
	if ((size_t)clen == c->challenge_len &&
	    CRYPTO_memcmp(chal, c->challenge, c->challenge_len) == 0) {
		res = chap_fail(c, why, whylen,
				"mutual CHAP_C equals the target's challenge");
		goto out;
	}
	slen = lk->outgoing ? lk->outgoing(lk->ctx, name, sizeof(name), secret,
					    sizeof(secret)) : -ENOENT;
	name[sizeof(name) - 1] = '\0';
	if (slen == -ENOENT) {
		res = chap_fail(c, why, whylen,
				"mutual CHAP asked for, no outgoing account");
		goto out;
	}
	if (slen <= 0 || (size_t)slen > sizeof(secret) || !name[0]) {
		res = chap_fail(c, why, whylen,
				"the outgoing account could not be read");
		goto out;
	}
	dlen = chap_digest(c->alg, (uint8_t)id, secret, (size_t)slen, chal,
			   (size_t)clen, resp);
	if (dlen < 0 || !chap_hex(resp, (size_t)dlen, hex, sizeof(hex))) {
		res = chap_fail(c, why, whylen, "cannot compute the response");
		goto out;
	}
	kv_add(out, "CHAP_N", name);
	kv_add(out, "CHAP_R", hex);
	c->mutual = true;
	res = CHAP_OK;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(resp, sizeof(resp));
	OPENSSL_cleanse(hex, sizeof(hex));
	return res;
}

/* Second request: CHAP_N / CHAP_R, and CHAP_I / CHAP_C for mutual. */
static enum chap_result chap_step_r(struct chap_ctx *c,
				    const struct chap_keys *in,
				    const struct chap_lookup *lk,
				    struct kvbuf *out, char *why, size_t whylen)
{
	uint8_t secret[CHAP_SECRET_MAX], want[CHAP_DIGEST_MAX];
	uint8_t got[CHAP_DIGEST_MAX];
	char q[4 * CHAP_WHY_QUOTE + 4];
	size_t dlen = chap_digest_len(c->alg);
	enum chap_result res;
	ssize_t rlen;
	int slen = -ENOENT;

	if (in->a) {
		res = chap_fail(c, why, whylen, "CHAP_A after the challenge");
		goto out;
	}
	if (!in->r || !in->n) {
		res = chap_fail(c, why, whylen, "missing %s",
				in->r ? "CHAP_N" : "CHAP_R");
		goto out;
	}
	chap_quote(in->n, q, sizeof(q));
	if (!in->i != !in->c) {
		res = chap_fail(c, why, whylen, "mutual CHAP needs both CHAP_I "
				"and CHAP_C, user \"%s\" sent one", q);
		goto out;
	}
	if (c->mutual_required && !in->c) {
		res = chap_fail(c, why, whylen, "mutual CHAP required, user "
				"\"%s\" did not challenge the target", q);
		goto out;
	}
	if (!in->n[0] || strlen(in->n) > CHAP_NAME_MAX) {
		res = chap_fail(c, why, whylen, "CHAP_N is empty or too long");
		goto out;
	}
	rlen = chap_decode(in->r, got, sizeof(got));
	if (rlen < 0 && rlen != -E2BIG) {
		res = chap_fail(c, why, whylen, "malformed CHAP_R from user "
				"\"%s\"", q);
		goto out;
	}
	if (rlen != (ssize_t)dlen) {
		res = chap_fail(c, why, whylen, "CHAP_R from user \"%s\" is "
				"not %zu bytes long", q, dlen);
		goto out;
	}
	slen = lk->incoming ? lk->incoming(lk->ctx, in->n, secret,
					    sizeof(secret)) : -ENOENT;
	if (slen == -ENOENT) {
		res = chap_fail(c, why, whylen, "unknown CHAP user \"%s\"", q);
		goto out;
	}
	if (slen <= 0 || (size_t)slen > sizeof(secret) ||
	    chap_digest(c->alg, c->id, secret, (size_t)slen, c->challenge,
			c->challenge_len, want) != (int)dlen) {
		res = chap_fail(c, why, whylen, "cannot verify the response of "
				"user \"%s\"", q);
		goto out;
	}
	if (CRYPTO_memcmp(want, got, dlen) != 0) {
		res = chap_fail(c, why, whylen, "wrong CHAP_R from user \"%s\"",
				q);
		goto out;
	}
	/* authenticated: only now may we answer its challenge */
	snprintf(c->user, sizeof(c->user), "%s", in->n);
	res = in->c ? chap_mutual(c, in, lk, out, why, whylen) : CHAP_OK;
	if (res == CHAP_OK) {
		c->state = CHAP_DONE;
		OPENSSL_cleanse(c->challenge, sizeof(c->challenge));
		c->challenge_len = 0;
	}
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(want, sizeof(want));
	return res;
}

void chap_init(struct chap_ctx *c, unsigned allowed, bool mutual_required)
{
	memset(c, 0, sizeof(*c));
	c->state = CHAP_WAIT_A;
	c->allowed = allowed & CHAP_ALGS_ALL;
	c->mutual_required = mutual_required;
}

enum chap_result chap_step(struct chap_ctx *c, const struct chap_keys *in,
			   const struct chap_lookup *lk, struct kvbuf *out,
			   char *why, size_t whylen)
{
	size_t len0 = out->len;
	bool overflow0 = out->overflow;
	enum chap_result res;

	if (why && whylen)
		why[0] = '\0';
	out->overflow = false;	/* so we see whether our own keys fit */
	switch (c->state) {
	case CHAP_WAIT_A:
		res = chap_step_a(c, in, out, why, whylen);
		break;
	case CHAP_WAIT_R:
		res = chap_step_r(c, in, lk, out, why, whylen);
		break;
	case CHAP_DONE:
		res = chap_fail(c, why, whylen, "CHAP keys after "
				"authentication: a second attempt");
		break;
	default:
		res = chap_fail(c, why, whylen,
				"CHAP keys after a failed attempt");
		break;
	}
	if (res != CHAP_FAIL && out->overflow)
		res = chap_fail(c, why, whylen, "the CHAP answer does not fit");
	if (res == CHAP_FAIL) {
		/* a failed step answers nothing */
		OPENSSL_cleanse(out->data + len0, out->len - len0);
		out->len = len0;
	}
	out->overflow = overflow0;
	return res;
}

void chap_wipe(struct chap_ctx *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
	/* a wiped context authenticates nobody */
	c->state = CHAP_FAILED;
}
