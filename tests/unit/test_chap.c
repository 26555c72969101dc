/*
 * test_chap.c - the CHAP engine (RFC 7143 §12.1.3, RFC 1994 §4.1):
 * responses against vectors computed with the openssl command line, the
 * binary-value decoder (RFC 7143 §6.1), and scripted exchanges through
 * chap_step() with an initiator written here that computes its responses
 * through EVP_Digest() on one concatenated buffer (not chap_digest()).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "base/base.h"
#include "iscsi/chap.h"

/*
 * The challenges the vectors use, as files for the openssl commands:
 *   printf '\x01\x23\x45\x67\x89\xab\xcd\xef\xfe\xdc\xba\x98\x76\x54\x32\x10' \
 *     > c16.bin
 *   python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(1, 21)))' \
 *     > c20.bin
 *   python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(0xa0, 0xc0)))' \
 *     > c32.bin
 */
static const uint8_t c16[16] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};
#define C16_HEX "0x0123456789abcdeffedcba9876543210"
#define C16_B64 "0bASNFZ4mrze/+3LqYdlQyEA=="	/* base64 c16.bin */

static void seq(uint8_t *b, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(first + i);
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(sscanf(s + 2 * i, "%2hhx", &out[i]), 1);
}

/* --- chap_digest against the openssl CLI ---------------------------------- */

Test(chap, digest_md5)
{
	uint8_t want[16], got[CHAP_DIGEST_MAX];
	const char *sec = "alice-secret-1";

	/* printf '\x2a%s' alice-secret-1 | cat - c16.bin | openssl dgst -md5 */
	unhex("a8a355b76506b325345f81a50be077cd", want, 16);
	cr_assert_eq(chap_digest(CHAP_ALG_MD5, 0x2a, (const uint8_t *)sec,
				 strlen(sec), c16, 16, got), 16);
	cr_assert_arr_eq(got, want, 16);
}

Test(chap, digest_sha1)
{
	uint8_t want[20], got[CHAP_DIGEST_MAX], c20[20];
	const char *sec = "alice-secret-1";

	seq(c20, 20, 0x01);	/* c20.bin */
	/* printf '\x07%s' alice-secret-1 | cat - c20.bin | openssl dgst -sha1 */
	unhex("5729805af472f747e9ec0f13e5c5052c0a2bd846", want, 20);
	cr_assert_eq(chap_digest(CHAP_ALG_SHA1, 0x07, (const uint8_t *)sec,
				 strlen(sec), c20, 20, got), 20);
	cr_assert_arr_eq(got, want, 20);
}

Test(chap, digest_sha256)
{
	uint8_t want[32], got[CHAP_DIGEST_MAX], c32[32];
	const char *sec = "alice-secret-1";

	seq(c32, 32, 0xa0);	/* c32.bin */
	/* printf '\xc8%s' alice-secret-1 | cat - c32.bin | openssl dgst -sha256 */
	unhex("6a6a6e72f75fb6a327a76d634b9687d6"
	      "48e0dbe0f17b75ce70c8c22e462f963f", want, 32);
	cr_assert_eq(chap_digest(CHAP_ALG_SHA256, 0xc8, (const uint8_t *)sec,
				 strlen(sec), c32, 32, got), 32);
	cr_assert_arr_eq(got, want, 32);
}

Test(chap, digest_sha3_256)
{
	uint8_t want[32], got[CHAP_DIGEST_MAX], c32[32];
	const char *sec = "alice-secret-1";

	seq(c32, 32, 0xa0);
	/* printf '\xff%s' alice-secret-1 | cat - c32.bin | openssl dgst -sha3-256 */
	unhex("55081389ab255a07d3aed19fb6c1f8c2"
	      "d22935b5caec095d6048e7a62d909936", want, 32);
	cr_assert_eq(chap_digest(CHAP_ALG_SHA3_256, 0xff, (const uint8_t *)sec,
				 strlen(sec), c32, 32, got), 32);
	cr_assert_arr_eq(got, want, 32);
	/* the identifier 0 is a byte too, not an empty string:
	 * printf '\x00%s' alice-secret-1 | cat - c32.bin | openssl dgst -sha3-256 */
	unhex("8dc46c47cf3b27cb3ae8a188463150e5"
	      "63bf6f770d4114d9261a6a80e9797b99", want, 32);
	cr_assert_eq(chap_digest(CHAP_ALG_SHA3_256, 0x00, (const uint8_t *)sec,
				 strlen(sec), c32, 32, got), 32);
	cr_assert_arr_eq(got, want, 32);
}

Test(chap, digest_unknown_alg)
{
	uint8_t out[CHAP_DIGEST_MAX];

	cr_assert_eq(chap_digest(4, 1, (const uint8_t *)"s", 1, c16, 16, out),
		     -EINVAL);
	cr_assert_eq(chap_digest(9, 1, (const uint8_t *)"s", 1, c16, 16, out),
		     -EINVAL);
	cr_assert_eq(chap_digest_len(CHAP_ALG_MD5), 16);
	cr_assert_eq(chap_digest_len(CHAP_ALG_SHA1), 20);
	cr_assert_eq(chap_digest_len(CHAP_ALG_SHA256), 32);
	cr_assert_eq(chap_digest_len(CHAP_ALG_SHA3_256), 32);
	cr_assert_eq(chap_digest_len(0), 0);
}

/* --- chap_decode (RFC 7143 §6.1 binary values) -------------------------- */

/* Decodes @s into a buffer with a canary after @cap bytes. */
static ssize_t decode(const char *s, uint8_t *out, size_t cap)
{
	uint8_t buf[CHAP_CHALLENGE_MAX + 8];
	ssize_t n;

	cr_assert(cap <= CHAP_CHALLENGE_MAX);
	memset(buf, 0xee, sizeof(buf));
	n = chap_decode(s, buf, cap);
	for (size_t i = cap; i < cap + 8; i++)
		cr_assert_eq(buf[i], 0xee, "\"%.40s\": wrote past cap %zu", s,
			     cap);
	if (n > 0)
		memcpy(out, buf, (size_t)n);
	return n;
}

Test(chap, decode_hex)
{
	uint8_t b[64];

	cr_assert_eq(decode("0x0a1b", b, 64), 2);
	cr_assert_eq(b[0], 0x0a);
	cr_assert_eq(b[1], 0x1b);
	/* odd digit count: an implied leading 0 */
	cr_assert_eq(decode("0xabc", b, 64), 2);
	cr_assert_eq(b[0], 0x0a);
	cr_assert_eq(b[1], 0xbc);
	cr_assert_eq(decode("0x5", b, 64), 1);
	cr_assert_eq(b[0], 0x05);
	/* either case, in the prefix and in the digits */
	cr_assert_eq(decode("0XABcdEF", b, 64), 3);
	cr_assert_eq(b[0], 0xab);
	cr_assert_eq(b[1], 0xcd);
	cr_assert_eq(b[2], 0xef);
	cr_assert_eq(decode(C16_HEX, b, 64), 16);
	cr_assert_arr_eq(b, c16, 16);
	cr_assert_eq(decode("0X0123456789ABCDEFFEDCBA9876543210", b, 64), 16);
	cr_assert_arr_eq(b, c16, 16);
}

Test(chap, decode_base64)
{
	uint8_t b[64];

	/* the same bytes as C16_HEX (base64 c16.bin) */
	cr_assert_eq(decode(C16_B64, b, 64), 16);
	cr_assert_arr_eq(b, c16, 16);
	cr_assert_eq(decode("0BASNFZ4mrze/+3LqYdlQyEA==", b, 64), 16);
	cr_assert_arr_eq(b, c16, 16);
	/* printf abc | base64: no padding needed */
	cr_assert_eq(decode("0bYWJj", b, 64), 3);
	cr_assert_arr_eq(b, "abc", 3);
	/* printf abcd | base64 = YWJjZA==; printf abcde | base64 = YWJjZGU= */
	cr_assert_eq(decode("0bYWJjZA==", b, 64), 4);
	cr_assert_arr_eq(b, "abcd", 4);
	cr_assert_eq(decode("0bYWJjZGU=", b, 64), 5);
	cr_assert_arr_eq(b, "abcde", 5);
	/* the same without the padding characters */
	cr_assert_eq(decode("0bYWJjZA", b, 64), 4);
	cr_assert_arr_eq(b, "abcd", 4);
	cr_assert_eq(decode("0bYWJjZGU", b, 64), 5);
	cr_assert_arr_eq(b, "abcde", 5);
	/* printf '\xfb\xff' | base64: '+' and '/' */
	cr_assert_eq(decode("0b+/8=", b, 64), 2);
	cr_assert_eq(b[0], 0xfb);
	cr_assert_eq(b[1], 0xff);
}

static const char *bad_values[] = {
	"", "0", "0x", "0X", "0b", "0B", "x12", "12", "0y12", "00x12",
	"0xg1", "0x12g", "0x 12", "0x12 ", " 0x12", "0x-1", "0x+1",
	"0b=", "0b====", "0bY", "0bYWJjZ", "0bYQ=", "0bYQ===", "0bYW=J",
	"0bYW Jj", "0bYWJj\n", "0bYWJj\t", "0b YWJj", "0bYW-j", "0bYW_j",
	"0bYWJjZA=", "0bYWJ=ZA==",
};

Test(chap, decode_bad)
{
	uint8_t b[64];

	for (size_t i = 0; i < ARRAY_SIZE(bad_values); i++)
		cr_assert_eq(decode(bad_values[i], b, 64), -EINVAL,
			     "\"%s\" accepted", bad_values[i]);
	cr_assert_eq(chap_decode(NULL, b, 64), -EINVAL);
}

Test(chap, decode_too_long)
{
	static char big[2 * CHAP_CHALLENGE_MAX + 8];
	uint8_t b[CHAP_CHALLENGE_MAX];

	cr_assert_eq(decode("0x01020304", b, 4), 4);
	cr_assert_eq(decode("0x0102030405", b, 4), -E2BIG);
	cr_assert_eq(decode("0x102030405", b, 4), -E2BIG);	/* 9 digits */
	cr_assert_eq(decode("0bYWJjZA==", b, 4), 4);
	cr_assert_eq(decode("0bYWJjZA==", b, 3), -E2BIG);
	cr_assert_eq(decode("0bYWJjZGU", b, 4), -E2BIG);
	/* RFC 7143 §12.1.3: a challenge is at most 1024 bytes */
	memcpy(big, "0x", 2);
	memset(big + 2, 'a', 2 * CHAP_CHALLENGE_MAX);
	cr_assert_eq(decode(big, b, CHAP_CHALLENGE_MAX), CHAP_CHALLENGE_MAX);
	big[2 + 2 * CHAP_CHALLENGE_MAX] = 'b';
	cr_assert_eq(decode(big, b, CHAP_CHALLENGE_MAX), -E2BIG);
}

/* --- scripted exchanges -------------------------------------------------- */

struct account {
	const char *name, *secret;
};

/* The fake account store the lookups read. */
struct fake {
	struct account in[2];
	struct account out;		/* .name NULL: no outgoing account */
	int in_calls, out_calls;
};

static int fake_incoming(void *ctx, const char *user, uint8_t *secret,
			 size_t cap)
{
	struct fake *f = ctx;

	f->in_calls++;
	for (size_t i = 0; i < ARRAY_SIZE(f->in); i++) {
		size_t n = f->in[i].name ? strlen(f->in[i].secret) : 0;

		if (f->in[i].name && strcmp(user, f->in[i].name) == 0) {
			cr_assert(n <= cap);
			memcpy(secret, f->in[i].secret, n);
			return (int)n;
		}
	}
	return -ENOENT;
}

static int fake_outgoing(void *ctx, char *user, size_t ucap, uint8_t *secret,
			 size_t cap)
{
	struct fake *f = ctx;
	size_t n;

	f->out_calls++;
	if (!f->out.name)
		return -ENOENT;
	n = strlen(f->out.secret);
	cr_assert(n <= cap && strlen(f->out.name) < ucap);
	strcpy(user, f->out.name);
	memcpy(secret, f->out.secret, n);
	return (int)n;
}

#define ALICE "alice"
#define ALICE_SECRET "alice-secret-1"
#define TARGET_USER "iqn.2026-12.org.ringtgt:me"
#define TARGET_SECRET "target-secret-9"

/* One test's exchange: the target, its accounts, the last answer. */
struct ex {
	struct chap_ctx c;
	struct fake f;
	struct chap_lookup lk;
	char buf[4096];
	struct kvbuf out;
	char why[256];
	/* what the last CHAP_CONTINUE answered */
	int alg, id;
	uint8_t chal[CHAP_DIGEST_MAX];
	size_t chal_len;
	char chal_str[128];
};

static void ex_init(struct ex *e, unsigned allowed, bool mutual_required)
{
	memset(e, 0, sizeof(*e));
	chap_init(&e->c, allowed, mutual_required);
	e->f.in[0] = (struct account){ ALICE, ALICE_SECRET };
	e->f.in[1] = (struct account){ "bob", "bob-secret-22" };
	e->f.out = (struct account){ TARGET_USER, TARGET_SECRET };
	e->lk = (struct chap_lookup){ &e->f, fake_incoming, fake_outgoing };
}

/* The value of @key in the last answer, or NULL. */
static const char *ex_get(const struct ex *e, const char *key)
{
	size_t kl = strlen(key);

	for (size_t p = 0; p < e->out.len; p += strlen(e->buf + p) + 1)
		if (!strncmp(e->buf + p, key, kl) && e->buf[p + kl] == '=')
			return e->buf + p + kl + 1;
	return NULL;
}

static int ex_count(const struct ex *e)
{
	int n = 0;

	for (size_t p = 0; p < e->out.len; p += strlen(e->buf + p) + 1)
		n++;
	return n;
}

static enum chap_result ex_step(struct ex *e, const char *a, const char *n,
				const char *r, const char *i, const char *c)
{
	struct chap_keys k = { .a = a, .n = n, .r = r, .i = i, .c = c };

	kv_init(&e->out, e->buf, sizeof(e->buf));
	e->why[0] = '\0';
	return chap_step(&e->c, &k, &e->lk, &e->out, e->why, sizeof(e->why));
}

/* Our own reading of the answer to CHAP_A (RFC 7143 §12.1.3). */
static void ex_read_challenge(struct ex *e)
{
	const char *a = ex_get(e, "CHAP_A"), *i = ex_get(e, "CHAP_I");
	const char *c = ex_get(e, "CHAP_C");
	size_t hexlen;
	char *end;
	long v;

	cr_assert_eq(ex_count(e), 3, "answer has %d keys", ex_count(e));
	cr_assert(a && i && c, "CHAP_A, CHAP_I and CHAP_C answered");
	e->alg = atoi(a);
	v = strtol(i, &end, 10);
	cr_assert(*i && !*end && v >= 0 && v <= 255, "CHAP_I=%s", i);
	e->id = (int)v;
	cr_assert(c[0] == '0' && (c[1] == 'x' || c[1] == 'X'), "CHAP_C=%s", c);
	hexlen = strlen(c + 2);
	cr_assert(hexlen % 2 == 0 && hexlen / 2 <= sizeof(e->chal));
	e->chal_len = hexlen / 2;
	unhex(c + 2, e->chal, e->chal_len);
	snprintf(e->chal_str, sizeof(e->chal_str), "%s", c);
}

/* The initiator: H(id || secret || challenge) in one EVP_Digest call. */
static size_t initiator_response(int alg, int id, const char *secret,
				 const uint8_t *chal, size_t clen,
				 uint8_t *out)
{
	const EVP_MD *md = alg == 5 ? EVP_md5() : alg == 6 ? EVP_sha1()
			 : alg == 7 ? EVP_sha256() : EVP_sha3_256();
	uint8_t msg[1 + 256 + CHAP_CHALLENGE_MAX];
	size_t sl = strlen(secret);
	unsigned n = 0;

	cr_assert(alg >= 5 && alg <= 8);
	msg[0] = (uint8_t)id;
	memcpy(msg + 1, secret, sl);
	memcpy(msg + 1 + sl, chal, clen);
	cr_assert(EVP_Digest(msg, 1 + sl + clen, out, &n, md, NULL));
	return n;
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	out += sprintf(out, "0x");
	for (size_t i = 0; i < n; i++)
		out += sprintf(out, "%02x", b[i]);
}

/* The initiator's CHAP_R for the last challenge with @secret, as hex. */
static void ex_response(struct ex *e, const char *secret, char *hex)
{
	uint8_t r[CHAP_DIGEST_MAX];

	to_hex(r, initiator_response(e->alg, e->id, secret, e->chal,
				     e->chal_len, r), hex);
}

static void assert_failed(struct ex *e, const char *what)
{
	cr_assert_eq(e->c.state, CHAP_FAILED, "%s: state %d", what,
		     e->c.state);
	cr_assert_eq(e->out.len, 0, "%s: a failed step answers nothing", what);
	cr_assert(e->why[0], "%s: no reason given", what);
	cr_assert_null(strstr(e->why, ALICE_SECRET), "secret in \"%s\"",
		       e->why);
	cr_assert_null(strstr(e->why, TARGET_SECRET), "secret in \"%s\"",
		       e->why);
	cr_assert_eq(e->c.user[0], '\0', "%s: user kept after failure", what);
}

static void ex_challenge(struct ex *e, const char *list)
{
	cr_assert_eq(ex_step(e, list, NULL, NULL, NULL, NULL), CHAP_CONTINUE,
		     "CHAP_A=%s: %s", list, e->why);
	cr_assert_eq(e->c.state, CHAP_WAIT_R);
	ex_read_challenge(e);
}

static const int all_algs[] = { CHAP_ALG_MD5, CHAP_ALG_SHA1, CHAP_ALG_SHA256,
				CHAP_ALG_SHA3_256 };

ParameterizedTestParameters(chap, one_way)
{
	return cr_make_param_array(int, (int *)all_algs, ARRAY_SIZE(all_algs));
}

ParameterizedTest(int *alg, chap, one_way)
{
	struct ex e;
	char list[8], r[128];

	ex_init(&e, CHAP_ALGS_ALL, false);
	snprintf(list, sizeof(list), "%d", *alg);
	ex_challenge(&e, list);
	cr_assert_eq(e.alg, *alg);
	cr_assert_eq(e.chal_len, chap_digest_len(*alg));
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_OK,
		     "%s", e.why);
	cr_assert_eq(e.c.state, CHAP_DONE);
	cr_assert_str_eq(e.c.user, ALICE);
	cr_assert_not(e.c.mutual);
	cr_assert_eq(e.out.len, 0, "one-way: nothing to answer");
	cr_assert_eq(e.f.out_calls, 0);
}

Test(chap, first_allowed_of_list)
{
	struct ex e;

	/* the first value the initiator lists that the target allows */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "8,7,6,5");
	cr_assert_eq(e.alg, 8);
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "6,5");
	cr_assert_eq(e.alg, 6);
	cr_assert_eq(e.chal_len, 20);
	/* values that are not numbers, unknown ones, and empty ones skipped */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "x,,99,-5,05,0x7,5");
	cr_assert_eq(e.alg, 7, "0x7 is a hex-constant (RFC 7143 §6.1)");
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "x,,99,5");
	cr_assert_eq(e.alg, 5);
}

Test(chap, allowed_set)
{
	struct ex e;

	ex_init(&e, CHAP_ALG_BIT(CHAP_ALG_SHA256) |
		CHAP_ALG_BIT(CHAP_ALG_SHA3_256), false);
	cr_assert_eq(ex_step(&e, "5,6", NULL, NULL, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "MD5 and SHA-1 only, target allows neither");
	ex_init(&e, CHAP_ALG_BIT(CHAP_ALG_SHA256) |
		CHAP_ALG_BIT(CHAP_ALG_SHA3_256), false);
	ex_challenge(&e, "5,6,7,8");
	cr_assert_eq(e.alg, 7);
	ex_init(&e, CHAP_ALG_BIT(CHAP_ALG_MD5), false);
	ex_challenge(&e, "8,7,6,5");
	cr_assert_eq(e.alg, 5);
}

Test(chap, unsupported_only)
{
	struct ex e;

	ex_init(&e, CHAP_ALGS_ALL, false);
	cr_assert_eq(ex_step(&e, "1,2,3,4,9,255,256", NULL, NULL, NULL, NULL),
		     CHAP_FAIL);
	assert_failed(&e, "unsupported CHAP_A");
	cr_assert_not_null(strstr(e.why, "CHAP_A"), "%s", e.why);
	/* FAILED stays FAILED */
	cr_assert_eq(ex_step(&e, "5", NULL, NULL, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "after failure");
}

Test(chap, wrong_secret)
{
	struct ex e;
	char r[128];

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, "alice-secret-2", r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "wrong secret");
	/* bob's secret is not alice's */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "5");
	ex_response(&e, "bob-secret-22", r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "another user's secret");
}

/* A response that differs from the right one in its last byte only. */
Test(chap, wrong_last_byte)
{
	struct ex e;
	uint8_t rb[CHAP_DIGEST_MAX];
	char r[128];
	size_t n;

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "8");
	n = initiator_response(e.alg, e.id, ALICE_SECRET, e.chal, e.chal_len,
			       rb);
	rb[n - 1] ^= 1;
	to_hex(rb, n, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "last byte wrong");
}

Test(chap, wrong_length)
{
	struct ex e;
	char r[128];

	/* the right response, one hex byte short */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	r[strlen(r) - 2] = '\0';
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "short response");
	/* the right response with one byte more */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "5");
	ex_response(&e, ALICE_SECRET, r);
	strcat(r, "00");
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "long response");
	/* an MD5-sized response to a SHA-256 challenge */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	e.alg = CHAP_ALG_MD5;
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "MD5 response to SHA-256");
	cr_assert_eq(e.f.in_calls, 0, "the length is checked first");
}

Test(chap, base64_response)
{
	struct ex e;
	uint8_t rb[CHAP_DIGEST_MAX];
	unsigned char b64[64];
	char r[80];
	size_t n;

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "6");
	n = initiator_response(e.alg, e.id, ALICE_SECRET, e.chal, e.chal_len,
			       rb);
	cr_assert(EVP_EncodeBlock(b64, rb, (int)n) > 0);
	snprintf(r, sizeof(r), "0b%s", b64);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_OK, "%s: %s",
		     r, e.why);
	cr_assert_str_eq(e.c.user, ALICE);
}

Test(chap, unknown_user)
{
	struct ex e;
	char r[128];

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, "mallory", r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "unknown user");
	cr_assert_not_null(strstr(e.why, "mallory"), "%s", e.why);
}

Test(chap, user_in_reason_is_escaped)
{
	static char name[CHAP_NAME_MAX + 1];
	struct ex e;
	char r[128];

	memset(name, 'n', CHAP_NAME_MAX);
	name[3] = '\n';
	name[4] = '\x1b';
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, name, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "unknown user");
	for (const char *p = e.why; *p; p++)
		cr_assert(*p >= 0x20 && *p < 0x7f, "unprintable in \"%s\"",
			  e.why);
	cr_assert_lt(strlen(e.why), 200, "user name not cut short: %s", e.why);
}

Test(chap, missing_keys)
{
	struct ex e;
	char r[128];

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, NULL, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "no CHAP_N");
	cr_assert_not_null(strstr(e.why, "missing CHAP_N"), "%s", e.why);

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	cr_assert_eq(ex_step(&e, NULL, ALICE, NULL, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "no CHAP_R");
	cr_assert_not_null(strstr(e.why, "missing CHAP_R"), "%s", e.why);

	/* a step with no CHAP key at all */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	cr_assert_eq(ex_step(&e, NULL, NULL, NULL, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "nothing after the challenge");
	cr_assert_not_null(strstr(e.why, "missing CHAP_R"), "%s", e.why);
	ex_init(&e, CHAP_ALGS_ALL, false);
	cr_assert_eq(ex_step(&e, NULL, NULL, NULL, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "nothing at first");
	cr_assert_not_null(strstr(e.why, "missing CHAP_A"), "%s", e.why);
}

Test(chap, keys_out_of_order)
{
	struct ex e;
	char r[128];

	/* a response before any challenge */
	ex_init(&e, CHAP_ALGS_ALL, false);
	cr_assert_eq(ex_step(&e, "5", ALICE, "0x00", NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "CHAP_N/CHAP_R with CHAP_A");
	ex_init(&e, CHAP_ALGS_ALL, false);
	cr_assert_eq(ex_step(&e, "5", NULL, NULL, "1", C16_HEX), CHAP_FAIL);
	assert_failed(&e, "CHAP_I/CHAP_C with CHAP_A");
	/* CHAP_A twice, even with the right response */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, "7", ALICE, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "CHAP_A twice");
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	cr_assert_eq(ex_step(&e, "7", NULL, NULL, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "CHAP_A again alone");
}

Test(chap, keys_after_done)
{
	struct ex e;
	char r[128];

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_OK);
	/* a second attempt on the same connection: the same response ... */
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "response after DONE");
	/* ... or a new CHAP_A */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_OK);
	cr_assert_eq(ex_step(&e, "7", NULL, NULL, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "CHAP_A after DONE");
}

ParameterizedTestParameters(chap, mutual)
{
	return cr_make_param_array(int, (int *)all_algs, ARRAY_SIZE(all_algs));
}

/* Mutual CHAP: the initiator's challenge comes with its response. */
ParameterizedTest(int *alg, chap, mutual)
{
	struct ex e;
	uint8_t want[CHAP_DIGEST_MAX], got[CHAP_DIGEST_MAX];
	char list[8], r[128];
	const char *tr;

	ex_init(&e, CHAP_ALGS_ALL, false);
	snprintf(list, sizeof(list), "%d", *alg);
	ex_challenge(&e, list);
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "153", C16_HEX), CHAP_OK,
		     "%s", e.why);
	cr_assert_eq(e.c.state, CHAP_DONE);
	cr_assert(e.c.mutual);
	cr_assert_str_eq(e.c.user, ALICE);
	cr_assert_eq(ex_count(&e), 2);
	cr_assert_str_eq(ex_get(&e, "CHAP_N"), TARGET_USER);
	tr = ex_get(&e, "CHAP_R");
	cr_assert_not_null(tr);
	cr_assert(tr[0] == '0' && (tr[1] == 'x' || tr[1] == 'X'), "%s", tr);
	cr_assert_eq(strlen(tr + 2), 2 * chap_digest_len(*alg), "%s", tr);
	unhex(tr + 2, got, chap_digest_len(*alg));
	initiator_response(*alg, 153, TARGET_SECRET, c16, 16, want);
	cr_assert_arr_eq(got, want, chap_digest_len(*alg));
}

/* The target's mutual answer against the openssl CLI. */
Test(chap, mutual_vector)
{
	struct ex e;
	uint8_t want[32], got[32];
	char r[128];

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	/* CHAP_I as a hex-constant, CHAP_C in base64 */
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "0x99", C16_B64), CHAP_OK,
		     "%s", e.why);
	/* printf '\x99%s' target-secret-9 | cat - c16.bin | openssl dgst -sha256 */
	unhex("cccfbddd9565b88c2c8d18eb81bfe9ee"
	      "5cfed0618f5b6d0ee55267cb2ea41d93", want, 32);
	cr_assert_eq(strlen(ex_get(&e, "CHAP_R")), 66);
	unhex(ex_get(&e, "CHAP_R") + 2, got, 32);
	cr_assert_arr_eq(got, want, 32);
}

Test(chap, mutual_not_answered_before_verification)
{
	struct ex e;
	char r[128];

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, "alice-secret-2", r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "153", C16_HEX), CHAP_FAIL);
	assert_failed(&e, "wrong secret with a mutual challenge");
	cr_assert_eq(e.f.out_calls, 0, "outgoing secret read for a stranger");
	cr_assert_not(e.c.mutual);
}

Test(chap, mutual_reflected)
{
	struct ex e;
	char r[128], b64[80];
	unsigned char enc[64];

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "1", e.chal_str), CHAP_FAIL);
	assert_failed(&e, "our challenge sent back");
	cr_assert_eq(e.f.out_calls, 0);
	/* the same bytes in base64, with another identifier */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "5");
	ex_response(&e, ALICE_SECRET, r);
	EVP_EncodeBlock(enc, e.chal, (int)e.chal_len);
	snprintf(b64, sizeof(b64), "0b%s", enc);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "7", b64), CHAP_FAIL);
	assert_failed(&e, "our challenge sent back in base64");
}

Test(chap, mutual_challenge_values)
{
	static char big[2 * CHAP_CHALLENGE_MAX + 8];
	static const char *bad[] = { "", "0x", "0xzz", "abc" };
	struct ex e;
	char r[128];

	/* RFC 7143 §12.1.3: up to 1024 bytes */
	memcpy(big, "0x", 2);
	memset(big + 2, '7', 2 * CHAP_CHALLENGE_MAX);
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "8");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "9", big), CHAP_OK, "%s",
		     e.why);
	big[2 + 2 * CHAP_CHALLENGE_MAX] = '7';
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "8");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "9", big), CHAP_FAIL);
	assert_failed(&e, "1025-byte challenge");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ex_init(&e, CHAP_ALGS_ALL, false);
		ex_challenge(&e, "8");
		ex_response(&e, ALICE_SECRET, r);
		cr_assert_eq(ex_step(&e, NULL, ALICE, r, "9", bad[i]),
			     CHAP_FAIL, "CHAP_C=%s", bad[i]);
		assert_failed(&e, bad[i]);
	}
}

Test(chap, mutual_half)
{
	struct ex e;
	char r[128];

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "1", NULL), CHAP_FAIL);
	assert_failed(&e, "CHAP_I without CHAP_C");
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, C16_HEX), CHAP_FAIL);
	assert_failed(&e, "CHAP_C without CHAP_I");
}

Test(chap, mutual_without_outgoing)
{
	struct ex e;
	char r[128];

	ex_init(&e, CHAP_ALGS_ALL, false);
	e.f.out.name = NULL;
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "1", C16_HEX), CHAP_FAIL);
	assert_failed(&e, "no outgoing account");
	cr_assert_not(e.c.mutual);
	/* a lookup table without an outgoing function: the same */
	ex_init(&e, CHAP_ALGS_ALL, false);
	e.lk.outgoing = NULL;
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "1", C16_HEX), CHAP_FAIL);
	assert_failed(&e, "no outgoing lookup");
}

Test(chap, mutual_required)
{
	struct ex e;
	char r[128];

	ex_init(&e, CHAP_ALGS_ALL, true);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_FAIL);
	assert_failed(&e, "mutual required, not challenged");
	ex_init(&e, CHAP_ALGS_ALL, true);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, "1", C16_HEX), CHAP_OK, "%s",
		     e.why);
	cr_assert(e.c.mutual);
}

Test(chap, mutual_identifier_range)
{
	static const char *bad[] = { "256", "-1", "0x100", "1000", "abc", "",
				     "1 ", "0x", "4294967297", "01" };
	static const char *good[] = { "0", "255", "0xff", "0XFF", "0x0" };
	uint8_t want[32], got[32];
	struct ex e;
	char r[128];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ex_init(&e, CHAP_ALGS_ALL, false);
		ex_challenge(&e, "7");
		ex_response(&e, ALICE_SECRET, r);
		cr_assert_eq(ex_step(&e, NULL, ALICE, r, bad[i], C16_HEX),
			     CHAP_FAIL, "CHAP_I=%s", bad[i]);
		assert_failed(&e, bad[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		int id = i == 0 || i == 4 ? 0 : 255;

		ex_init(&e, CHAP_ALGS_ALL, false);
		ex_challenge(&e, "7");
		ex_response(&e, ALICE_SECRET, r);
		cr_assert_eq(ex_step(&e, NULL, ALICE, r, good[i], C16_HEX),
			     CHAP_OK, "CHAP_I=%s: %s", good[i], e.why);
		initiator_response(7, id, TARGET_SECRET, c16, 16, want);
		unhex(ex_get(&e, "CHAP_R") + 2, got, 32);
		cr_assert_arr_eq(got, want, 32, "CHAP_I=%s", good[i]);
	}
}

/* Each challenge is new (getrandom) and as long as the digest. */
Test(chap, challenge_fresh)
{
	enum { RUNS = 16 };
	static uint8_t seen[RUNS][CHAP_DIGEST_MAX];
	static size_t seen_len[RUNS];
	int ids[256] = { 0 }, distinct = 0;
	struct ex e;

	for (int i = 0; i < RUNS; i++) {
		char list[4];

		snprintf(list, sizeof(list), "%d", all_algs[i % 4]);
		ex_init(&e, CHAP_ALGS_ALL, false);
		ex_challenge(&e, list);
		cr_assert_eq(e.chal_len, chap_digest_len(all_algs[i % 4]));
		memcpy(seen[i], e.chal, e.chal_len);
		seen_len[i] = e.chal_len;
		for (int j = 0; j < i; j++)
			cr_assert(seen_len[j] != seen_len[i] ||
				  memcmp(seen[j], seen[i], seen_len[i]) != 0,
				  "challenge %d repeats challenge %d", i, j);
		if (!ids[e.id]++)
			distinct++;
	}
	/* 16 identifiers from 256 values: all equal has odds 2^-120 */
	cr_assert_gt(distinct, 1, "CHAP_I is always %d", e.id);
}

Test(chap, wipe)
{
	static const uint8_t zero[CHAP_DIGEST_MAX];
	struct ex e;
	char r[128];

	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	chap_wipe(&e.c);
	cr_assert_arr_eq(e.c.challenge, zero, sizeof(zero));
	cr_assert_eq(e.c.challenge_len, 0);
	cr_assert_eq(e.c.allowed, 0);
	/* a wiped context authenticates nobody */
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_FAIL);
	/* the challenge is not kept once the exchange is over */
	ex_init(&e, CHAP_ALGS_ALL, false);
	ex_challenge(&e, "7");
	ex_response(&e, ALICE_SECRET, r);
	cr_assert_eq(ex_step(&e, NULL, ALICE, r, NULL, NULL), CHAP_OK);
	cr_assert_arr_eq(e.c.challenge, zero, sizeof(zero));
}

/* An answer that does not fit fails the step and leaves @out as it was. */
Test(chap, answer_does_not_fit)
{
	struct chap_keys k = { .a = "7" };
	struct chap_ctx c;
	struct fake f = { 0 };
	struct chap_lookup lk = { &f, fake_incoming, fake_outgoing };
	char buf[40], why[128];
	struct kvbuf out;

	chap_init(&c, CHAP_ALGS_ALL, false);
	kv_init(&out, buf, sizeof(buf));
	kv_add(&out, "AuthMethod", "CHAP");
	cr_assert_eq(chap_step(&c, &k, &lk, &out, why, sizeof(why)), CHAP_FAIL);
	cr_assert_eq(out.len, strlen("AuthMethod=CHAP") + 1);
	cr_assert_not(out.overflow);
	cr_assert_eq(c.state, CHAP_FAILED);
}
