/*
 * fuzz_chap.c - fuzz target for the CHAP engine (chap.c): the binary
 * value decoder and whole exchanges through chap_step(). Properties:
 * chap_decode() stays inside its output, agrees with itself at any cap
 * and round-trips through hex and base64; chap_step() only says CHAP_OK
 * when the response is H(id || secret || challenge) for a known user
 * (computed here with EVP_Digest on one buffer), only answers a mutual
 * challenge after that, with the right value, never to a reflected
 * challenge; a failure is final, answers nothing and names no secret
 * (its sentence is printable); success keeps no challenge.
 *
 * Input: byte 0 is flags (bits 0-3 the allowed CHAP_A set, bit 4 mutual
 * required, bit 5 no outgoing account, bit 6 a 96-byte output buffer),
 * then lines "K=value" with K one of A N R I C (CHAP_A ... CHAP_C); an
 * empty line ends a request. "R=*" is the right response for the user
 * in N ("R=*b" in base64, "R=*x" off by one bit); "C=*" sends our own
 * challenge back ("C=*b" in base64).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "iscsi/chap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STEPS_MAX 8
#define VALUE_MAX 4096

struct account {
	const char *name, *secret;
};

static const struct account incoming[] = {
	{ "alice", "alice-secret-fz1" },
	{ "bob", "b0b-secret-fz22" },
};
static const struct account outgoing = { "tgt", "tgt-secret-fz333" };

struct fake {
	bool no_outgoing;
	int out_calls;
};

static const char *secret_of(const char *user)
{
	for (size_t i = 0; i < ARRAY_SIZE(incoming); i++)
		if (strcmp(user, incoming[i].name) == 0)
			return incoming[i].secret;
	return NULL;
}

static int fake_incoming(void *ctx, const char *user, uint8_t *secret,
			 size_t cap)
{
	const char *s = secret_of(user);

	(void)ctx;
	if (!s)
		return -ENOENT;
	if (strlen(s) > cap)
		abort();
	memcpy(secret, s, strlen(s));
	return (int)strlen(s);
}

static int fake_outgoing(void *ctx, char *user, size_t ucap, uint8_t *secret,
			 size_t cap)
{
	struct fake *f = ctx;

	f->out_calls++;
	if (f->no_outgoing)
		return -ENOENT;
	if (strlen(outgoing.name) >= ucap || strlen(outgoing.secret) > cap)
		abort();
	strcpy(user, outgoing.name);
	memcpy(secret, outgoing.secret, strlen(outgoing.secret));
	return (int)strlen(outgoing.secret);
}

/* H(id || secret || chal), one buffer, one EVP_Digest call */
static size_t ref_digest(int alg, uint8_t id, const char *secret,
			 const uint8_t *chal, size_t clen, uint8_t *out)
{
	static uint8_t msg[1 + 256 + CHAP_CHALLENGE_MAX];
	const EVP_MD *md = alg == 5 ? EVP_md5() : alg == 6 ? EVP_sha1()
			 : alg == 7 ? EVP_sha256() : EVP_sha3_256();
	size_t sl = strlen(secret);
	unsigned n = 0;

	msg[0] = id;
	memcpy(msg + 1, secret, sl);
	memcpy(msg + 1 + sl, chal, clen);
	if (!EVP_Digest(msg, 1 + sl + clen, out, &n, md, NULL))
		abort();
	return n;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* RFC 7143 §6.1 hex-constant, decoded the long way: -1 when malformed */
static long ref_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n, o = 0;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -1;
	s += 2;
	n = strlen(s);
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (hexval(s[i]) < 0)
			return -1;
	for (size_t i = 0; i < n; i++) {
		/* digit i from the end is the low nibble when even */
		size_t from_end = n - 1 - i;
		size_t byte = (n + 1) / 2 - 1 - from_end / 2;

		if (byte >= cap)
			return (long)((n + 1) / 2);
		if (from_end % 2)
			out[byte] = (uint8_t)(hexval(s[i]) << 4);
		else
			out[byte] |= (uint8_t)hexval(s[i]);
		o = byte + 1;
	}
	return (long)o;
}

static ssize_t decode_guarded(const char *v, uint8_t *out, size_t cap)
{
	static uint8_t buf[CHAP_CHALLENGE_MAX + 16];
	ssize_t n;

	memset(buf, 0xa5, sizeof(buf));
	n = chap_decode(v, buf, cap);
	for (size_t i = cap; i < cap + 16; i++)
		if (buf[i] != 0xa5)
			abort();	/* wrote past its cap */
	if (n != -EINVAL && n != -E2BIG && (n < 1 || (size_t)n > cap))
		abort();
	if (n > 0)
		memcpy(out, buf, (size_t)n);
	return n;
}

static void check_decode(const char *v)
{
	static uint8_t a[CHAP_CHALLENGE_MAX], b[CHAP_CHALLENGE_MAX];
	static uint8_t ref[CHAP_CHALLENGE_MAX];
	static char enc[2 * CHAP_CHALLENGE_MAX + 8];
	ssize_t n = decode_guarded(v, a, CHAP_CHALLENGE_MAX), m;
	long r;

	/* the same answer at smaller caps */
	for (size_t cap = 1; cap <= 33; cap += 8) {
		m = decode_guarded(v, b, cap);
		bool fits = n > 0 && (size_t)n <= cap;

		if (fits ? m != n || memcmp(a, b, (size_t)n)
			 : m != (n > 0 ? -E2BIG : n))
			abort();
	}
	if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		memset(ref, 0, sizeof(ref));
		r = ref_hex(v, ref, sizeof(ref));
		if (r < 0 ? n != -EINVAL
		    : r > CHAP_CHALLENGE_MAX ? n != -E2BIG
		    : n != r || memcmp(a, ref, (size_t)r))
			abort();
	}
	if (n <= 0)
		return;
	/* round trips: hex and base64 of the bytes decode to the bytes */
	enc[0] = '0';
	enc[1] = 'x';
	for (ssize_t i = 0; i < n; i++)
		sprintf(enc + 2 + 2 * i, "%02X", a[i]);
	if (decode_guarded(enc, b, CHAP_CHALLENGE_MAX) != n ||
	    memcmp(a, b, (size_t)n))
		abort();
	enc[1] = 'b';
	EVP_EncodeBlock((unsigned char *)enc + 2, a, (int)n);
	if (decode_guarded(enc, b, CHAP_CHALLENGE_MAX) != n ||
	    memcmp(a, b, (size_t)n))
		abort();
}

/* One request as parsed from the input. */
struct req {
	char *v[5];		/* A N R I C, NULL when absent */
};

static char *dupv(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		abort();
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* numbers the way RFC 7143 §6.1 writes them (decimal-constant,
 * hex-constant); big ones stop growing past 2^40 */
static bool ref_number(const char *s, size_t len, unsigned long long *v)
{
	bool hex = len > 2 && s[0] == '0' && (s[1] | 0x20) == 'x';
	unsigned long long x = 0;

	if (len == 0 || (!hex && s[0] == '0' && len > 1))
		return false;
	for (size_t i = hex ? 2 : 0; i < len; i++) {
		int d = hex ? hexval(s[i])
			    : s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1;

		if (d < 0)
			return false;
		if (x < 1ull << 40)
			x = x * (hex ? 16 : 10) + (unsigned)d;
	}
	*v = x;
	return true;
}

/* The first CHAP_A value the initiator lists that @allowed has. */
static int ref_pick(const char *list, unsigned allowed)
{
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, ",");
		unsigned long long v;

		if (ref_number(p, len, &v) && v >= 5 && v <= 8 &&
		    (allowed & (1u << (v - 5))))
			return (int)v;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/*
 * A secret in @s that the initiator did not send itself (a sentence may
 * quote the initiator's values: fine when it typed the secret there).
 */
static const uint8_t *input;
static size_t input_len;

static bool leaks(const char *s, const char *secret)
{
	return strstr(s, secret) &&
	       !memmem(input, input_len, secret, strlen(secret));
}

static bool has_secret(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(incoming); i++)
		if (leaks(s, incoming[i].secret))
			return true;
	return leaks(s, outgoing.secret);
}

static const char *kv_find(const struct kvbuf *kv, size_t from,
			   const char *key, int *count)
{
	const char *hit = NULL;
	size_t kl = strlen(key);

	*count = 0;
	for (size_t p = from; p < kv->len; p += strlen(kv->data + p) + 1) {
		(*count)++;
		if (!strncmp(kv->data + p, key, kl) && kv->data[p + kl] == '=')
			hit = kv->data + p + kl + 1;
	}
	return hit;
}

/* Replaces the "*" values with what only the harness can compute. */
static void resolve(struct req *q, const struct chap_ctx *c)
{
	uint8_t d[CHAP_DIGEST_MAX];
	static char buf[2 * CHAP_DIGEST_MAX + 8];
	const char *sec;
	size_t n;

	if (q->v[2] && q->v[2][0] == '*' && q->v[1] &&
	    c->state == CHAP_WAIT_R) {
		sec = secret_of(q->v[1]);
		n = ref_digest(c->alg, c->id, sec ? sec : "x", c->challenge,
			       c->challenge_len, d);
		if (q->v[2][1] == 'x')
			d[n - 1] ^= 0x80;
		if (q->v[2][1] == 'b') {
			strcpy(buf, "0b");
			EVP_EncodeBlock((unsigned char *)buf + 2, d, (int)n);
		} else {
			strcpy(buf, "0x");
			for (size_t i = 0; i < n; i++)
				sprintf(buf + 2 + 2 * i, "%02x", d[i]);
		}
		free(q->v[2]);
		q->v[2] = dupv(buf, strlen(buf));
	}
	if (q->v[4] && q->v[4][0] == '*' && c->challenge_len) {
		if (q->v[4][1] == 'b') {
			strcpy(buf, "0b");
			EVP_EncodeBlock((unsigned char *)buf + 2, c->challenge,
					(int)c->challenge_len);
		} else {
			strcpy(buf, "0x");
			for (size_t i = 0; i < c->challenge_len; i++)
				sprintf(buf + 2 + 2 * i, "%02x",
					c->challenge[i]);
		}
		free(q->v[4]);
		q->v[4] = dupv(buf, strlen(buf));
	}
}

static void check_continue(const struct chap_ctx *c, const struct req *q,
			   const struct kvbuf *kv, size_t from,
			   unsigned allowed)
{
	static uint8_t b[CHAP_CHALLENGE_MAX];
	int cnt;
	const char *a = kv_find(kv, from, "CHAP_A", &cnt);
	const char *i = kv_find(kv, from, "CHAP_I", &cnt);
	const char *ch = kv_find(kv, from, "CHAP_C", &cnt);
	int want = q->v[0] ? ref_pick(q->v[0], allowed) : 0;

	if (q->v[1] || q->v[2] || q->v[3] || q->v[4])
		abort();	/* a challenge to anything but CHAP_A alone */
	if (cnt != 3 || !a || !i || !ch || c->state != CHAP_WAIT_R)
		abort();
	if (want == 0 || atoi(a) != want || c->alg != want)
		abort();	/* not the first allowed of the list */
	if (strtol(i, NULL, 10) != c->id)
		abort();
	if (decode_guarded(ch, b, CHAP_CHALLENGE_MAX) !=
	    (ssize_t)chap_digest_len(want) || c->challenge_len !=
	    chap_digest_len(want) || memcmp(b, c->challenge, c->challenge_len))
		abort();
}

static void check_ok(const struct chap_ctx *before, const struct chap_ctx *c,
		     const struct req *q, const struct kvbuf *kv, size_t from,
		     bool mutual_required, bool no_outgoing)
{
	static uint8_t got[CHAP_CHALLENGE_MAX], want[CHAP_DIGEST_MAX];
	static uint8_t chal[CHAP_CHALLENGE_MAX];
	const char *sec = q->v[1] ? secret_of(q->v[1]) : NULL;
	ssize_t n, cl;
	size_t dl;
	int cnt;

	/* authenticated: a known user with H(id || secret || challenge) */
	if (before->state != CHAP_WAIT_R || q->v[0] || !sec || !q->v[2])
		abort();
	dl = ref_digest(before->alg, before->id, sec, before->challenge,
			before->challenge_len, want);
	n = decode_guarded(q->v[2], got, CHAP_CHALLENGE_MAX);
	if (n != (ssize_t)dl || memcmp(got, want, dl))
		abort();
	if (c->state != CHAP_DONE || strcmp(c->user, q->v[1]))
		abort();
	/* the challenge is not kept once the exchange is over */
	if (c->challenge_len)
		abort();
	for (size_t i = 0; i < sizeof(c->challenge); i++)
		if (c->challenge[i])
			abort();
	if (!q->v[4]) {
		if (q->v[3] || mutual_required || c->mutual ||
		    kv->len != from)
			abort();
		return;
	}
	/* mutual: both keys, not our challenge, the outgoing account */
	cl = decode_guarded(q->v[4], chal, CHAP_CHALLENGE_MAX);
	if (!q->v[3] || no_outgoing || !c->mutual || cl <= 0 ||
	    ((size_t)cl == before->challenge_len &&
	     !memcmp(chal, before->challenge, (size_t)cl)))
		abort();
	{
		const char *rn = kv_find(kv, from, "CHAP_N", &cnt);
		const char *rr = kv_find(kv, from, "CHAP_R", &cnt);
		unsigned long long id;

		if (cnt != 2 || !rn || !rr || strcmp(rn, outgoing.name))
			abort();
		if (!ref_number(q->v[3], strlen(q->v[3]), &id) || id > 255)
			abort();
		dl = ref_digest(before->alg, (uint8_t)id, outgoing.secret, chal,
				(size_t)cl, want);
		if (decode_guarded(rr, got, CHAP_CHALLENGE_MAX) !=
		    (ssize_t)dl || memcmp(got, want, dl))
			abort();
	}
}

static void run_exchange(const uint8_t *data, size_t size)
{
	static char outbuf[8192];
	struct req reqs[STEPS_MAX];
	int nreq = 0;
	uint8_t flags = size ? data[0] : 0;
	unsigned allowed = flags & 0xf;
	bool mreq = flags & 0x10, failed = false;
	struct fake f = { .no_outgoing = flags & 0x20 };
	struct chap_lookup lk = { &f, fake_incoming, fake_outgoing };
	const char *p = (const char *)data + 1;
	const char *end = (const char *)data + size;
	struct chap_ctx c;

	if (size < 1)
		return;
	memset(reqs, 0, sizeof(reqs));
	/* parse: lines, blank line ends a request */
	while (p < end && nreq < STEPS_MAX) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		static const char keys[] = "ANRIC";
		const char *k;

		if (len == 0) {
			nreq++;
		} else if (len >= 2 && p[1] == '=' && p[0] &&
			   (k = strchr(keys, p[0])) && len - 2 <= VALUE_MAX &&
			   !memchr(p, '\0', len)) {
			int idx = (int)(k - keys);

			free(reqs[nreq].v[idx]);
			reqs[nreq].v[idx] = dupv(p + 2, len - 2);
			check_decode(reqs[nreq].v[idx]);
		}
		p += len + 1;
	}
	if (nreq < STEPS_MAX)
		nreq++;

	chap_init(&c, allowed, mreq);
	for (int s = 0; s < nreq; s++) {
		struct req *q = &reqs[s];
		struct chap_ctx before;
		struct chap_keys k;
		struct kvbuf kv;
		char why[128];
		size_t pre;
		enum chap_result r;

		resolve(q, &c);
		k = (struct chap_keys){ q->v[0], q->v[1], q->v[2], q->v[3],
					q->v[4] };
		kv_init(&kv, outbuf, (flags & 0x40) ? 96 : sizeof(outbuf));
		kv_add(&kv, "AuthMethod", "CHAP");	/* the caller's keys */
		pre = kv.len;
		before = c;
		f.out_calls = 0;
		memset(why, 'Z', sizeof(why));
		r = chap_step(&c, &k, &lk, &kv, why, sizeof(why));
		if (!memchr(why, '\0', sizeof(why)) || has_secret(why) ||
		    has_secret(c.user))
			abort();
		for (const char *w = why; *w; w++)
			if (*w < 0x20 || *w > 0x7e)
				abort();	/* no raw bytes in a log */
		if (kv.len < pre || kv.overflow ||
		    memcmp(kv.data, "AuthMethod=CHAP", 16))
			abort();
		if (r == CHAP_FAIL) {
			if (c.state != CHAP_FAILED || kv.len != pre ||
			    !why[0] || c.user[0] || c.mutual)
				abort();
			failed = true;
		} else if (failed || before.state == CHAP_DONE) {
			abort();	/* failure and success are final */
		} else if (r == CHAP_CONTINUE) {
			check_continue(&c, q, &kv, pre, allowed);
		} else if (r == CHAP_OK) {
			check_ok(&before, &c, q, &kv, pre, mreq,
				 f.no_outgoing);
		} else {
			abort();
		}
		/* the outgoing secret only for an authenticated initiator */
		if (f.out_calls && r != CHAP_OK &&
		    before.state == CHAP_WAIT_R) {
			const char *sec = q->v[1] ? secret_of(q->v[1]) : NULL;
			uint8_t want[CHAP_DIGEST_MAX], got[CHAP_CHALLENGE_MAX];
			size_t dl;

			if (!sec || !q->v[2])
				abort();
			dl = ref_digest(before.alg, before.id, sec,
					before.challenge, before.challenge_len,
					want);
			if (decode_guarded(q->v[2], got, CHAP_CHALLENGE_MAX) !=
			    (ssize_t)dl || memcmp(got, want, dl))
				abort();
		}
		/* a well-formed right answer is accepted */
		if (before.state == CHAP_WAIT_R && !q->v[0] && q->v[1] &&
		    secret_of(q->v[1]) && q->v[2] && q->v[2][0] == '0' &&
		    !q->v[3] && !q->v[4] && !mreq && r != CHAP_OK) {
			uint8_t want[CHAP_DIGEST_MAX], got[CHAP_CHALLENGE_MAX];
			size_t dl = ref_digest(before.alg, before.id,
					       secret_of(q->v[1]),
					       before.challenge,
					       before.challenge_len, want);

			if (decode_guarded(q->v[2], got, CHAP_CHALLENGE_MAX) ==
			    (ssize_t)dl && !memcmp(got, want, dl))
				abort();	/* refused the right response */
		}
	}
	chap_wipe(&c);
	if (c.challenge_len || c.user[0] || c.state != CHAP_FAILED)
		abort();
	for (int s = 0; s < STEPS_MAX; s++)
		for (int i = 0; i < 5; i++)
			free(reqs[s].v[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char str[VALUE_MAX + 1];
	size_t n = MIN(size, VALUE_MAX);

	input = data;
	input_len = size;
	/* the whole input as one value, too */
	memcpy(str, data, n);
	str[n] = '\0';
	check_decode(str);
	run_exchange(data, size);
	return 0;
}
