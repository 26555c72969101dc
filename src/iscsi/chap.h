/*
 * chap.h - CHAP for the login's security stage (RFC 7143 §12.1.3, RFC
 * 1994), the target's side: one-way (the initiator proves it knows an
 * incoming account's secret) and mutual (then the target proves it knows
 * its outgoing account's secret). Pure: no I/O, no core calls; secrets
 * come from the caller's lookup functions. Digests come from libcrypto.
 *
 * The exchange, one Login Request / Response pair per step:
 *   I: CHAP_A=<A1,A2,...>            T: CHAP_A=<A> CHAP_I=<I> CHAP_C=<C>
 *   I: CHAP_N=<N> CHAP_R=<R>         T: (nothing: authenticated)
 *      [CHAP_I=<I'> CHAP_C=<C'>]     T: CHAP_N=<N'> CHAP_R=<R'> (mutual)
 */
#ifndef RINGTGT_CHAP_H
#define RINGTGT_CHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "text.h"

/* CHAP_A values (RFC 7143 §12.1.3; open-iscsi's chap_algs, LIO). */
enum chap_alg {
	CHAP_ALG_MD5 = 5,
	CHAP_ALG_SHA1 = 6,
	CHAP_ALG_SHA256 = 7,
	CHAP_ALG_SHA3_256 = 8,
};
/* A CHAP_A value's bit in an allowed set (same as CORE_CHAP_BIT). */
#define CHAP_ALG_BIT(a) ((a) >= 5 && (a) <= 8 ? 1u << ((a) - 5) : 0u)
#define CHAP_ALGS_ALL 0xfu

#define CHAP_DIGEST_MAX 32
/* RFC 7143 §12.1.3: a challenge's binary length is at most 1024 bytes. */
#define CHAP_CHALLENGE_MAX 1024
#define CHAP_NAME_MAX 255
#define CHAP_SECRET_MAX 255

/* The CHAP_ keys of one Login Request; NULL when absent. */
struct chap_keys {
	const char *a, *n, *r, *i, *c;
};

/* Where the secrets come from (the core's accounts, in the daemon). */
struct chap_lookup {
	void *ctx;
	/* secret of incoming account @user: its length, or -ENOENT */
	int (*incoming)(void *ctx, const char *user, uint8_t *secret,
			size_t cap);
	/* the outgoing account: name and secret length, or -ENOENT */
	int (*outgoing)(void *ctx, char *user, size_t ucap, uint8_t *secret,
			size_t cap);
};

enum chap_state {
	CHAP_WAIT_A,		/* expecting CHAP_A */
	CHAP_WAIT_R,		/* challenge sent, expecting CHAP_N/CHAP_R */
	CHAP_DONE,		/* authenticated */
	CHAP_FAILED,
};

enum chap_result {
	CHAP_CONTINUE,		/* answer with @out and wait for the next */
	CHAP_OK,		/* authenticated (the answer may carry keys) */
	CHAP_FAIL,		/* fail the login: 0x0201, reason in @why */
};

struct chap_ctx {
	enum chap_state state;
	unsigned allowed;		/* CHAP_ALG_BIT set */
	bool mutual_required;		/* the initiator must challenge us */
	int alg;			/* chosen CHAP_A */
	uint8_t id;			/* CHAP_I we sent */
	uint8_t challenge[CHAP_DIGEST_MAX];
	size_t challenge_len;
	char user[CHAP_NAME_MAX + 1];	/* CHAP_N that authenticated */
	bool mutual;			/* the target authenticated itself */
};

void chap_init(struct chap_ctx *c, unsigned allowed, bool mutual_required);
/*
 * Takes one request's CHAP keys, appends the answer's keys to @out and
 * says what happens next. Any key out of place (CHAP_A twice, CHAP_R
 * before a challenge, keys after CHAP_OK), a malformed or wrong-length
 * value, an unknown user, a wrong response, a reflected mutual
 * challenge, or a mutual challenge without an outgoing account gives
 * CHAP_FAIL with a sentence for the log in @why (never a secret).
 */
enum chap_result chap_step(struct chap_ctx *c, const struct chap_keys *in,
			   const struct chap_lookup *lk, struct kvbuf *out,
			   char *why, size_t whylen);
/* Wipes the challenge and state (call when the login ends). */
void chap_wipe(struct chap_ctx *c);

/*
 * Decodes a CHAP binary value: "0x" / "0X" followed by hex digits (an
 * odd count has an implied leading 0), or "0b" / "0B" followed by base64
 * (RFC 7143 §6.1). Returns the byte count (at least 1), or -EINVAL
 * (malformed, empty) / -E2BIG (more than @cap bytes).
 */
ssize_t chap_decode(const char *s, uint8_t *out, size_t cap);
/*
 * The response for @alg: H(id || secret || challenge) (RFC 1994 §4.1).
 * Returns the digest length (16, 20 or 32), or -EINVAL for an unknown
 * algorithm.
 */
int chap_digest(int alg, uint8_t id, const uint8_t *secret, size_t slen,
		const uint8_t *chal, size_t clen, uint8_t *out);
/* The digest length of @alg, or 0 when unknown. */
size_t chap_digest_len(int alg);

#endif
