/*
 * rwtest - randomized data-integrity client for ringtgt integration tests.
 *
 * Connects to an iSCSI LUN with libiscsi (synchronous API), keeps an
 * in-memory shadow copy of a window of the LUN and performs random
 * WRITE10/WRITE16 (optionally FUA) followed by READ10/READ16 read-back and
 * memcmp against the shadow.  It also checks out-of-range accesses fail
 * with CHECK CONDITION / ILLEGAL REQUEST / LBA OUT OF RANGE, and issues
 * SYNCHRONIZE CACHE(10).
 *
 * With --queue-depth N the writes and reads are pipelined instead: N
 * commands in flight at once through libiscsi's async API (iscsi_*_task
 * and an iscsi_service() loop), of mixed sizes, on random, adjacent and
 * overlapping ranges, each read checked against the versions a block may
 * hold given what was in flight together (see run_pipelined()).
 *
 * By default the connection goes through a tiny in-process TCP relay that
 * sniffs the target's login responses, so that the negotiated operational
 * parameters can be reported and the header digest verified: libiscsi does
 * not expose the negotiated HeaderDigest, and silently falls back to None
 * when the target answers None.  When --header-digest is given, rwtest
 * fails unless the target answered HeaderDigest=CRC32C *and* the
 * full-feature-phase PDUs it sends carry valid CRC32C header digests.
 *
 * Data digest: libiscsi (<= 1.19 at least) always offers DataDigest=None,
 * so there is no --data-digest option.  The negotiated value is reported.
 *
 * Alternative mode: --vpd PAGE prints the raw INQUIRY VPD page as hex
 * (used to compare serial number / device identification across restarts).
 *
 * Exit status: 0 on success, 1 on any failure (with a message on stderr),
 * 2 on usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define INITIATOR_NAME "iqn.2026-11.org.ringtgt:rwtest"

/* ------------------------------------------------------------------ */
/* diagnostics                                                         */
/* ------------------------------------------------------------------ */

static bool verbose;
static void die_note_relay(void);

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("rwtest: FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	die_note_relay();
	exit(1);
}

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
	va_list ap;

	fputs("rwtest: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory allocating %zu bytes", n);
	return p;
}

/* libiscsi's error text, without the trailing newline it sometimes has */
static const char *iscsi_err(struct iscsi_context *iscsi)
{
	static char buf[1024];
	const char *e = iscsi_get_error(iscsi);
	size_t n;

	snprintf(buf, sizeof(buf), "%s", e ? e : "(none)");
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return buf;
}

/* ------------------------------------------------------------------ */
/* PRNG (xorshift64*, seeded through splitmix64): reproducible by seed  */
/* ------------------------------------------------------------------ */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	rng_state = (z ^ (z >> 31)) | 1;
}

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* uniform in [lo, hi] (inclusive), hi >= lo */
static uint64_t rng_range(uint64_t lo, uint64_t hi)
{
	return lo + rng_next() % (hi - lo + 1);
}

static void rng_fill(unsigned char *buf, size_t len)
{
	while (len >= 8) {
		uint64_t v = rng_next();

		memcpy(buf, &v, 8);
		buf += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = rng_next();

		memcpy(buf, &v, len);
	}
}

/* ------------------------------------------------------------------ */
/* CRC32C (Castagnoli), as used by iSCSI digests                       */
/* ------------------------------------------------------------------ */

static uint32_t crc32c_table[256];

static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc32c_table[i] = c;
	}
}

static uint32_t crc32c(const unsigned char *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	while (len--)
		c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* ------------------------------------------------------------------ */
/* Login-sniffing TCP relay                                            */
/* ------------------------------------------------------------------ */

#define SNIFF_LOGIN_MAX (1 << 20) /* sanity cap on one login response PDU */

struct relay {
	int lfd;                  /* listening socket, 127.0.0.1:ephemeral */
	int cfd;                  /* accepted socket from libiscsi */
	int tfd;                  /* socket to the real target */
	int port;                 /* our listening port */
	struct addrinfo *target;  /* resolved real target address */
	pthread_t c2t_thread;     /* accept + connect + client->target copy */
	pthread_t t2i_thread;     /* target->client copy + sniffer */
	bool t2i_started;

	pthread_mutex_t mu;
	/* results, protected by mu */
	char error[512];
	bool login_done;
	int login_pdus;
	char header_digest[64];
	char data_digest[64];
	char max_burst[32];
	char first_burst[32];
	char target_mrdsl[32];
	char immediate_data[16];
	char initial_r2t[16];
	int ff_checked;           /* full-feature PDU headers examined */
	int ff_digest_ok;         /* ... with a valid CRC32C header digest */

	/* sniffer state, only touched by the t2i thread */
	bool sniff_done;
	bool hd_crc;              /* negotiated HeaderDigest=CRC32C */
	bool dd_crc;              /* negotiated DataDigest=CRC32C */
	unsigned char *pdu;       /* accumulated current PDU (header or login) */
	size_t pdu_len;
	size_t pdu_need;
	uint64_t skip;            /* bytes of data segment still to skip */
};

static struct relay *g_relay; /* for die_note_relay() */

/* If the sniffer saw something wrong on the wire, say so: it usually
 * explains libiscsi's terse connection errors. */
static void die_note_relay(void)
{
	struct relay *r = g_relay;

	if (!r || pthread_mutex_trylock(&r->mu) != 0)
		return;
	if (r->error[0])
		fprintf(stderr, "rwtest: wire sniffer: %s\n", r->error);
	pthread_mutex_unlock(&r->mu);
}

static void relay_error(struct relay *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void relay_error(struct relay *r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->mu);
	if (!r->error[0]) {
		va_start(ap, fmt);
		vsnprintf(r->error, sizeof(r->error), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->mu);
	r->sniff_done = true;
}

static void copy_val(char *dst, size_t dstsz, const char *kv, size_t keylen)
{
	/* truncating copy of the value part of "key=value" */
	size_t n = strlen(kv + keylen);

	if (n > dstsz - 1)
		n = dstsz - 1;
	memcpy(dst, kv + keylen, n);
	dst[n] = 0;
}

/* Parse the NUL-separated key=value text of a login response. */
static void relay_parse_keys(struct relay *r, const unsigned char *data, size_t len)
{
	size_t pos = 0;

	pthread_mutex_lock(&r->mu);
	while (pos < len) {
		const char *kv = (const char *)data + pos;
		const unsigned char *nul = memchr(data + pos, 0, len - pos);
		size_t kvlen = nul ? (size_t)(nul - (data + pos)) : len - pos;

		if (kvlen == 0) {
			pos++;
			continue;
		}
		char tmp[256];
		size_t n = kvlen < sizeof(tmp) - 1 ? kvlen : sizeof(tmp) - 1;

		memcpy(tmp, kv, n);
		tmp[n] = 0;
		if (verbose)
			info("login key from target: %s", tmp);
#define KEY(name, field)                                                     \
	if (!strncmp(tmp, name "=", sizeof(name)))                           \
		copy_val(r->field, sizeof(r->field), tmp, sizeof(name));
		KEY("HeaderDigest", header_digest)
		KEY("DataDigest", data_digest)
		KEY("MaxBurstLength", max_burst)
		KEY("FirstBurstLength", first_burst)
		KEY("MaxRecvDataSegmentLength", target_mrdsl)
		KEY("ImmediateData", immediate_data)
		KEY("InitialR2T", initial_r2t)
#undef KEY
		pos += kvlen + 1;
	}
	pthread_mutex_unlock(&r->mu);
}

static uint32_t be24(const unsigned char *p)
{
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static uint32_t be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static bool is_target_opcode(unsigned op)
{
	switch (op) {
	case 0x20: /* NOP-In */
	case 0x21: /* SCSI Response */
	case 0x22: /* Task Management Response */
	case 0x23: /* Login Response */
	case 0x24: /* Text Response */
	case 0x25: /* Data-In */
	case 0x26: /* Logout Response */
	case 0x31: /* R2T */
	case 0x32: /* Async Message */
	case 0x3f: /* Reject */
		return true;
	default:
		return false;
	}
}

/* A complete PDU header (login phase: whole PDU) is in r->pdu. */
static void relay_pdu_complete(struct relay *r)
{
	const unsigned char *h = r->pdu;
	unsigned op = h[0] & 0x3f;
	size_t ahs = (size_t)h[4] * 4;
	uint32_t dlen = be24(h + 5);
	bool login_done;

	pthread_mutex_lock(&r->mu);
	login_done = r->login_done;
	pthread_mutex_unlock(&r->mu);

	if (!login_done) {
		/* login response: no digests yet, whole PDU buffered */
		unsigned status_class = h[36], status_detail = h[37];

		pthread_mutex_lock(&r->mu);
		r->login_pdus++;
		pthread_mutex_unlock(&r->mu);
		relay_parse_keys(r, h + 48 + ahs, dlen);
		if (status_class != 0) {
			relay_error(r, "login rejected by target: status class 0x%02x detail 0x%02x",
				    status_class, status_detail);
			return;
		}
		/* T bit set and NSG == FullFeaturePhase */
		if ((h[1] & 0x80) && (h[1] & 0x03) == 0x03) {
			pthread_mutex_lock(&r->mu);
			r->login_done = true;
			r->hd_crc = !strcmp(r->header_digest, "CRC32C");
			r->dd_crc = !strcmp(r->data_digest, "CRC32C");
			pthread_mutex_unlock(&r->mu);
		}
		return;
	}

	/* full feature phase: r->pdu holds BHS + AHS (+ header digest) */
	bool ok = true;

	if (verbose)
		info("sniffed target PDU #%d: opcode 0x%02x flags 0x%02x ahs %zu dlen %" PRIu32
		     " itt 0x%08" PRIx32 " status/resp 0x%02x/0x%02x", r->ff_checked + 1, op, h[1],
		     ahs, dlen, be32(h + 16), h[3], h[2]);

	if (!is_target_opcode(op)) {
		relay_error(r, "full-feature PDU #%d from target has invalid opcode 0x%02x "
			    "(framing error: wrong DataSegmentLength or digest in an earlier PDU?)", r->ff_checked + 1, op);
		return;
	}
	if (r->hd_crc) {
		const unsigned char *d = h + 48 + ahs;
		uint32_t got = (uint32_t)d[0] | ((uint32_t)d[1] << 8) |
			       ((uint32_t)d[2] << 16) | ((uint32_t)d[3] << 24);
		uint32_t want = crc32c(h, 48 + ahs);

		if (got != want) {
			relay_error(r, "full-feature PDU #%d (opcode 0x%02x) from target has "
				    "bad header digest: got 0x%08" PRIx32 " expected 0x%08" PRIx32,
				    r->ff_checked + 1, op, got, want);
			ok = false;
		}
	}
	pthread_mutex_lock(&r->mu);
	r->ff_checked++;
	if (ok && r->hd_crc)
		r->ff_digest_ok++;
	pthread_mutex_unlock(&r->mu);
	r->skip = pad4(dlen) + ((r->dd_crc && dlen) ? 4 : 0);
}

/* Feed target->initiator bytes to the sniffer. */
static void relay_sniff(struct relay *r, const unsigned char *p, size_t n)
{
	while (n > 0 && !r->sniff_done) {
		if (r->skip) {
			size_t k = r->skip < n ? (size_t)r->skip : n;

			r->skip -= k;
			p += k;
			n -= k;
			continue;
		}
		if (r->pdu_need == 0)
			r->pdu_need = 48;
		size_t k = r->pdu_need - r->pdu_len;

		if (k > n)
			k = n;
		memcpy(r->pdu + r->pdu_len, p, k);
		r->pdu_len += k;
		p += k;
		n -= k;
		if (r->pdu_len < r->pdu_need)
			continue;

		if (r->pdu_len == 48) {
			/* BHS complete: work out how much more we want */
			const unsigned char *h = r->pdu;
			size_t ahs = (size_t)h[4] * 4;
			uint32_t dlen = be24(h + 5);
			size_t need;

			pthread_mutex_lock(&r->mu);
			bool login_done = r->login_done;
			pthread_mutex_unlock(&r->mu);
			if (!login_done) {
				if ((h[0] & 0x3f) != 0x23) {
					relay_error(r, "unexpected opcode 0x%02x from target during login",
						    h[0] & 0x3f);
					return;
				}
				need = 48 + ahs + pad4(dlen);
			} else {
				need = 48 + ahs + (r->hd_crc ? 4 : 0);
			}
			if (need > SNIFF_LOGIN_MAX) {
				relay_error(r, "absurd PDU size %zu from target", need);
				return;
			}
			if (need > 48) {
				r->pdu_need = need;
				continue;
			}
		}
		relay_pdu_complete(r);
		r->pdu_len = 0;
		r->pdu_need = 0;
	}
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* copy src -> dst until EOF/error; optionally sniff */
static void relay_copy(struct relay *r, int src, int dst, bool sniff)
{
	enum { BUFSZ = 256 * 1024 };
	unsigned char *buf = xmalloc(BUFSZ);

	for (;;) {
		ssize_t n = recv(src, buf, BUFSZ, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* sniff before forwarding, so that by the time libiscsi has
		 * seen a PDU, the sniffer has too */
		if (sniff)
			relay_sniff(r, buf, (size_t)n);
		if (write_all(dst, buf, (size_t)n) < 0)
			break;
	}
	shutdown(dst, SHUT_WR);
	free(buf);
}

static void *relay_t2i_main(void *arg)
{
	struct relay *r = arg;

	relay_copy(r, r->tfd, r->cfd, true);
	return NULL;
}

static void *relay_c2t_main(void *arg)
{
	struct relay *r = arg;
	struct pollfd pfd = { .fd = r->lfd, .events = POLLIN };
	int one = 1;

	int pr = poll(&pfd, 1, 60000);
	if (pr <= 0) {
		relay_error(r, "relay: no connection from libiscsi within 60 s");
		return NULL;
	}
	int cfd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0) {
		relay_error(r, "relay: accept: %s", strerror(errno));
		return NULL;
	}
	int tfd = socket(r->target->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (tfd < 0 || connect(tfd, r->target->ai_addr, r->target->ai_addrlen) < 0) {
		relay_error(r, "relay: cannot connect to target: %s", strerror(errno));
		if (tfd >= 0)
			close(tfd);
		close(cfd);
		return NULL;
	}
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&r->mu);
	r->cfd = cfd;
	r->tfd = tfd;
	pthread_mutex_unlock(&r->mu);
	if (pthread_create(&r->t2i_thread, NULL, relay_t2i_main, r) != 0) {
		relay_error(r, "relay: pthread_create failed");
		return NULL;
	}
	r->t2i_started = true;
	relay_copy(r, r->cfd, r->tfd, false);
	return NULL;
}

/* portal is "host:port" or "[v6]:port" (port optional, default 3260) */
static void relay_start(struct relay *r, const char *portal)
{
	char host[256], port[16] = "3260";
	const char *colon;

	memset(r, 0, sizeof(*r));
	r->lfd = r->cfd = r->tfd = -1;
	pthread_mutex_init(&r->mu, NULL);
	r->pdu = xmalloc(SNIFF_LOGIN_MAX);

	if (portal[0] == '[') {
		const char *rb = strchr(portal, ']');

		if (!rb)
			die("cannot parse portal '%s'", portal);
		snprintf(host, sizeof(host), "%.*s", (int)(rb - portal - 1), portal + 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = strrchr(portal, ':');
		snprintf(host, sizeof(host), "%.*s",
			 (int)(colon ? (size_t)(colon - portal) : strlen(portal)), portal);
	}
	if (colon)
		snprintf(port, sizeof(port), "%s", colon + 1);
	/* strip a ",TPGT" suffix if present */
	port[strcspn(port, ",")] = 0;

	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	int rc = getaddrinfo(host, port, &hints, &r->target);

	if (rc != 0)
		die("cannot resolve portal '%s': %s", portal, gai_strerror(rc));

	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(r->lfd, 1) < 0 ||
	    getsockname(r->lfd, (struct sockaddr *)&sin, &slen) < 0)
		die("relay: cannot listen on 127.0.0.1: %s", strerror(errno));
	r->port = ntohs(sin.sin_port);
	g_relay = r;
	if (pthread_create(&r->c2t_thread, NULL, relay_c2t_main, r) != 0)
		die("relay: pthread_create failed");
}

static void relay_stop(struct relay *r)
{
	/* Unblocks any recv()/poll() in the relay threads. */
	pthread_mutex_lock(&r->mu);
	if (r->cfd >= 0)
		shutdown(r->cfd, SHUT_RDWR);
	if (r->tfd >= 0)
		shutdown(r->tfd, SHUT_RDWR);
	pthread_mutex_unlock(&r->mu);
	shutdown(r->lfd, SHUT_RDWR);
	pthread_join(r->c2t_thread, NULL);
	if (r->t2i_started)
		pthread_join(r->t2i_thread, NULL);
	if (r->cfd >= 0)
		close(r->cfd);
	if (r->tfd >= 0)
		close(r->tfd);
	close(r->lfd);
	freeaddrinfo(r->target);
	free(r->pdu);
	r->pdu = NULL;
	/* keep g_relay: results (and r->mu) stay valid for reporting */
}

/* ------------------------------------------------------------------ */
/* SCSI helpers                                                        */
/* ------------------------------------------------------------------ */

struct lun {
	struct iscsi_context *iscsi;
	int lun;
	uint32_t bs;              /* logical block size */
	uint64_t nblocks;         /* capacity in blocks */
};

static const char *status_str(int status)
{
	switch (status) {
	case SCSI_STATUS_GOOD: return "GOOD";
	case SCSI_STATUS_CHECK_CONDITION: return "CHECK CONDITION";
	case SCSI_STATUS_BUSY: return "BUSY";
	case SCSI_STATUS_RESERVATION_CONFLICT: return "RESERVATION CONFLICT";
	case SCSI_STATUS_TASK_SET_FULL: return "TASK SET FULL";
	case SCSI_STATUS_ACA_ACTIVE: return "ACA ACTIVE";
	case SCSI_STATUS_TASK_ABORTED: return "TASK ABORTED";
	case SCSI_STATUS_ERROR: return "ERROR (transport)";
	case SCSI_STATUS_TIMEOUT: return "TIMEOUT";
	case SCSI_STATUS_CANCELLED: return "CANCELLED";
	default: return "unknown";
	}
}

static void describe_task(char *buf, size_t sz, struct iscsi_context *iscsi,
			  struct scsi_task *task)
{
	if (!task) {
		snprintf(buf, sz, "no task (libiscsi error: %s)", iscsi_err(iscsi));
	} else if (task->status == SCSI_STATUS_CHECK_CONDITION) {
		snprintf(buf, sz, "CHECK CONDITION, sense key 0x%x (%s), asc/ascq 0x%04x (%s)",
			 task->sense.key, scsi_sense_key_str(task->sense.key),
			 task->sense.ascq, scsi_sense_ascq_str(task->sense.ascq));
	} else if (task->status == SCSI_STATUS_GOOD) {
		snprintf(buf, sz, "GOOD");
	} else {
		snprintf(buf, sz, "status 0x%x (%s), libiscsi error: %s", task->status,
			 status_str(task->status), iscsi_err(iscsi));
	}
}

/* Die unless task completed with GOOD status. Frees task. */
static void expect_good(struct lun *l, struct scsi_task *task, const char *what)
{
	if (!task || task->status != SCSI_STATUS_GOOD) {
		char d[512];

		describe_task(d, sizeof(d), l->iscsi, task);
		die("%s failed: %s", what, d);
	}
	scsi_free_scsi_task(task);
}

enum rw_cdb { CDB10, CDB16 };

static const char *cdb_name(enum rw_cdb c, bool write)
{
	if (write)
		return c == CDB10 ? "WRITE(10)" : "WRITE(16)";
	return c == CDB10 ? "READ(10)" : "READ(16)";
}

static struct scsi_task *do_write(struct lun *l, enum rw_cdb c, uint64_t lba,
				  uint32_t nblk, unsigned char *buf, bool fua)
{
	uint32_t len = nblk * l->bs;

	if (c == CDB10)
		return iscsi_write10_sync(l->iscsi, l->lun, (uint32_t)lba, buf, len,
					  (int)l->bs, 0, 0, fua, 0, 0);
	return iscsi_write16_sync(l->iscsi, l->lun, lba, buf, len, (int)l->bs,
				  0, 0, fua, 0, 0);
}

static struct scsi_task *do_read(struct lun *l, enum rw_cdb c, uint64_t lba,
				 uint32_t nblk)
{
	uint32_t len = nblk * l->bs;

	if (c == CDB10)
		return iscsi_read10_sync(l->iscsi, l->lun, (uint32_t)lba, len,
					 (int)l->bs, 0, 0, 0, 0, 0);
	return iscsi_read16_sync(l->iscsi, l->lun, lba, len, (int)l->bs, 0, 0, 0, 0, 0);
}

/* READ(10) can address LBAs < 2^32 and transfer lengths <= 65535. */
static enum rw_cdb pick_cdb(uint64_t lba, uint32_t nblk)
{
	if (lba + nblk > 0xffffffffULL || nblk > 0xffff)
		return CDB16;
	return (rng_next() & 1) ? CDB10 : CDB16;
}

static void read_into(struct lun *l, enum rw_cdb c, uint64_t lba, uint32_t nblk,
		      unsigned char *dst, const char *why)
{
	struct scsi_task *t = do_read(l, c, lba, nblk);
	char what[256];

	snprintf(what, sizeof(what), "%s lba=%" PRIu64 " blocks=%" PRIu32 " (%s)",
		 cdb_name(c, false), lba, nblk, why);
	if (!t || t->status != SCSI_STATUS_GOOD) {
		char d[512];

		describe_task(d, sizeof(d), l->iscsi, t);
		die("%s failed: %s", what, d);
	}
	if (t->datain.size != (int)(nblk * l->bs))
		die("%s returned %d bytes, expected %" PRIu32, what, t->datain.size,
		    nblk * l->bs);
	memcpy(dst, t->datain.data, (size_t)nblk * l->bs);
	scsi_free_scsi_task(t);
}

static void expect_lba_out_of_range(struct lun *l, struct scsi_task *t, const char *what)
{
	if (!t)
		die("%s: expected CHECK CONDITION/ILLEGAL REQUEST/LBA OUT OF RANGE, "
		    "got no task (libiscsi error: %s)", what, iscsi_err(l->iscsi));
	if (t->status != SCSI_STATUS_CHECK_CONDITION ||
	    t->sense.key != SCSI_SENSE_ILLEGAL_REQUEST ||
	    t->sense.ascq != SCSI_SENSE_ASCQ_LBA_OUT_OF_RANGE) {
		char d[512];

		describe_task(d, sizeof(d), l->iscsi, t);
		die("%s: expected CHECK CONDITION, ILLEGAL REQUEST, asc/ascq 0x2100 "
		    "(LBA OUT OF RANGE); got %s", what, d);
	}
	scsi_free_scsi_task(t);
}

/* ------------------------------------------------------------------ */
/* Test body                                                           */
/* ------------------------------------------------------------------ */

struct opts {
	const char *url;
	bool header_digest;
	bool r2t_only;
	bool sniff;
	unsigned long iterations;
	unsigned qd;              /* --queue-depth: 0 = one command at a time */
	uint64_t seed;
	bool seed_set;
	uint32_t max_blocks;
	uint32_t span_mib;
	int timeout;
	int vpd_page;             /* -1: normal run */
	int debug;                /* libiscsi log level */
};

struct window {
	uint64_t base;            /* first LBA of shadowed window */
	uint64_t nblocks;         /* window length */
	unsigned char *shadow;    /* nblocks * bs bytes */
};

static void compare_or_die(struct lun *l, struct window *w, uint64_t lba, uint32_t nblk,
			   const unsigned char *got, const char *what)
{
	const unsigned char *exp = w->shadow + (lba - w->base) * l->bs;
	size_t len = (size_t)nblk * l->bs;

	if (memcmp(got, exp, len) == 0)
		return;
	size_t off = 0;

	while (off < len && got[off] == exp[off])
		off++;
	uint64_t bad_lba = lba + off / l->bs;
	size_t bad_end = off;

	while (bad_end < len && got[bad_end] != exp[bad_end])
		bad_end++;
	die("data mismatch reading back lba=%" PRIu64 " blocks=%" PRIu32 " [%s]: first differing "
	    "byte at offset %zu (LBA %" PRIu64 " + %zu): got 0x%02x expected 0x%02x; "
	    "first differing run is %zu bytes long",
	    lba, nblk, what, off, bad_lba, off % l->bs, got[off], exp[off], bad_end - off);
}

/* read [lba, lba+nblk) within window in chunks and compare with shadow */
static void verify_range(struct lun *l, struct window *w, uint64_t lba, uint64_t nblk,
			 uint32_t chunk, unsigned char *buf, const char *why)
{
	while (nblk > 0) {
		uint32_t n = nblk < chunk ? (uint32_t)nblk : chunk;
		enum rw_cdb c = pick_cdb(lba, n);

		read_into(l, c, lba, n, buf, why);
		compare_or_die(l, w, lba, n, buf, why);
		lba += n;
		nblk -= n;
	}
}

static uint32_t pick_len(const struct opts *o, uint64_t window_blocks)
{
	uint64_t max = o->max_blocks;
	uint64_t r = rng_next() % 100;
	uint64_t len;

	if (max > window_blocks)
		max = window_blocks;
	if (r < 35)
		len = rng_range(1, max < 9 ? max : 9);              /* small, odd */
	else if (r < 65)
		len = rng_range(1, max / 4 ? max / 4 : 1);          /* medium */
	else
		len = rng_range(max / 2 ? max / 2 : 1, max);        /* large, multi-burst */
	return (uint32_t)len;
}

static void out_of_range_tests(struct lun *l, struct window *w, unsigned char *buf)
{
	uint64_t n = l->nblocks;
	struct scsi_task *t;
	char what[128];

	rng_fill(buf, 2 * l->bs);

	if (n <= 0xffffffffULL) {
		snprintf(what, sizeof(what), "WRITE(10) at lba=%" PRIu64 " (one past end)", n);
		expect_lba_out_of_range(l, do_write(l, CDB10, n, 1, buf, false), what);

		snprintf(what, sizeof(what), "WRITE(10) lba=%" PRIu64 " blocks=2 (straddles end)", n - 1);
		expect_lba_out_of_range(l, do_write(l, CDB10, n - 1, 2, buf, false), what);

		snprintf(what, sizeof(what), "READ(10) lba=%" PRIu64 " blocks=2 (straddles end)", n - 1);
		expect_lba_out_of_range(l, do_read(l, CDB10, n - 1, 2), what);
	}
	snprintf(what, sizeof(what), "WRITE(16) lba=%" PRIu64 " blocks=2 (straddles end, FUA)", n - 1);
	expect_lba_out_of_range(l, do_write(l, CDB16, n - 1, 2, buf, true), what);

	snprintf(what, sizeof(what), "READ(16) at lba=%" PRIu64 " (one past end)", n);
	expect_lba_out_of_range(l, do_read(l, CDB16, n, 1), what);

	/* lba + length wraps around 2^64: must not be treated as in range */
	snprintf(what, sizeof(what), "WRITE(16) lba=0xffffffffffffffff blocks=2 (64-bit wrap)");
	expect_lba_out_of_range(l, do_write(l, CDB16, UINT64_MAX, 2, buf, false), what);

	/* a failed straddling write must not have modified the last block */
	if (w->base + w->nblocks == n) {
		read_into(l, CDB16, n - 1, 1, buf, "last block after rejected writes");
		compare_or_die(l, w, n - 1, 1, buf, "rejected out-of-range writes");
	}

	/* boundary writes that are in range must succeed: exactly the last block */
	if (w->base + w->nblocks == n) {
		unsigned char *dst = w->shadow + (n - 1 - w->base) * l->bs;

		rng_fill(buf, l->bs);
		t = do_write(l, CDB16, n - 1, 1, buf, false);
		expect_good(l, t, "WRITE(16) of the last LBA");
		memcpy(dst, buf, l->bs);
		read_into(l, CDB10, n - 1, 1, buf, "last LBA");
		compare_or_die(l, w, n - 1, 1, buf, "WRITE(16) of the last LBA");
	}
	info("out-of-range checks passed (asc/ascq 0x2100 LBA OUT OF RANGE)");
}

static void sync_cache(struct lun *l, uint64_t lba, uint32_t nblk)
{
	char what[128];

	snprintf(what, sizeof(what), "SYNCHRONIZE CACHE(10) lba=%" PRIu64 " blocks=%" PRIu32,
		 lba, nblk);
	expect_good(l, iscsi_synchronizecache10_sync(l->iscsi, l->lun, (int)lba, (int)nblk, 0, 0),
		    what);
}

/* ------------------------------------------------------------------ */
/* pipelined mode (--queue-depth N)                                    */
/* ------------------------------------------------------------------ */

/*
 * Up to N commands in flight at once through libiscsi's async API, of
 * mixed sizes, on random, adjacent and overlapping ranges. SCSI leaves
 * the order of overlapping SIMPLE commands in flight together undefined,
 * so the shadow is a set of possible versions per block:
 *
 *   - every write gets a version id; its data is a function of (id, LBA),
 *     version 0 being the window's content at the start (the shadow);
 *   - a logical clock stamps each submission and completion; when write W
 *     completes, a block it covers may hold W or any earlier candidate X
 *     that completed after W was submitted (X and W were in flight
 *     together, either may have run last). A write X that completed
 *     before W was sent certainly ran before W, and is dropped;
 *   - reads and writes never overlap while in flight (reads may overlap
 *     reads), so a read sees a block's candidate set as it was when the
 *     read was sent: every block read must equal one of its candidates,
 *     and that one is then the only candidate left;
 *   - at most PIPE_CAND versions can be possible for a block, candidates
 *     plus writes in flight on it: a write that would exceed that waits.
 */
#define PIPE_CAND 4
#define PIPE_MAX_QD 256

struct pipe_blk {
	uint32_t cand[PIPE_CAND];
	uint8_t ncand;
	uint16_t wpend, rpend;	/* writes / reads in flight on the block */
};

struct pipe_ver {
	uint64_t sub, comp;	/* logical clock at submission, completion */
};

struct pipe;

struct pipe_cmd {
	struct pipe *p;
	bool busy, write, fua;
	enum rw_cdb c;
	uint64_t lba;
	uint32_t nblk, id;
	unsigned char *buf;
};

struct pipe {
	const struct opts *o;
	struct lun *l;
	struct window *w;
	struct pipe_blk *blk;
	struct pipe_ver *ver;	/* indexed by version id */
	uint32_t nver;
	uint64_t clock;
	struct pipe_cmd cmd[PIPE_MAX_QD];
	unsigned outstanding, peak;
	uint64_t prev_lba;
	uint32_t prev_nblk;
	unsigned long writes, reads, fua, adjacent, overlap_wr, overlap_rd, waits;
	time_t last_progress;
};

/* The content of block @lba in version @id. */
static void pipe_gen(const struct pipe *p, uint32_t id, uint64_t lba,
		     unsigned char *out)
{
	uint32_t bs = p->l->bs;
	uint64_t s = p->o->seed ^ ((uint64_t)id << 40) ^ lba ^ 0x9e3779b97f4a7c15ull;

	if (id == 0) {
		memcpy(out, p->w->shadow + (lba - p->w->base) * bs, bs);
		return;
	}
	for (uint32_t i = 0; i + 8 <= bs; i += 8) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		memcpy(out + i, &s, 8);
	}
	/* readable in a hex dump: which write, which LBA */
	memcpy(out, "PIPE", 4);
	memcpy(out + 4, &id, 4);
	memcpy(out + 8, &lba, 8);
}

static struct pipe_blk *pipe_blk(struct pipe *p, uint64_t lba)
{
	return &p->blk[lba - p->w->base];
}

/* Can a write (or read) of [lba, lba+n) be sent now? */
static bool pipe_can(struct pipe *p, bool write, uint64_t lba, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct pipe_blk *b = pipe_blk(p, lba + i);

		if (write && (b->rpend || b->ncand + b->wpend + 1 > PIPE_CAND))
			return false;
		if (!write && b->wpend)
			return false;
	}
	return true;
}

static void pipe_cb(struct iscsi_context *iscsi, int status, void *data,
		    void *priv)
{
	struct pipe_cmd *c = priv;
	struct pipe *p = c->p;
	struct scsi_task *t = data;
	uint32_t bs = p->l->bs;
	char what[200];

	snprintf(what, sizeof(what), "pipelined %s%s lba=%" PRIu64 " blocks=%" PRIu32
		 " (write #%" PRIu32 ")", cdb_name(c->c, c->write), c->fua ? " FUA" : "",
		 c->lba, c->nblk, c->id);
	if (status != SCSI_STATUS_GOOD || !t || t->status != SCSI_STATUS_GOOD) {
		char d[512];

		describe_task(d, sizeof(d), iscsi, t);
		die("%s failed: %s", what, d);
	}
	p->clock++;
	if (c->write) {
		struct pipe_ver *me = &p->ver[c->id];

		me->comp = p->clock;
		for (uint32_t i = 0; i < c->nblk; i++) {
			struct pipe_blk *b = pipe_blk(p, c->lba + i);
			uint32_t keep[PIPE_CAND];
			uint8_t n = 0;

			keep[n++] = c->id;
			for (uint8_t k = 0; k < b->ncand; k++)
				if (p->ver[b->cand[k]].comp > me->sub)
					keep[n++] = b->cand[k];
			memcpy(b->cand, keep, n * sizeof(keep[0]));
			b->ncand = n;
			b->wpend--;
		}
		p->writes++;
	} else {
		unsigned char *exp = xmalloc(bs);

		if (t->datain.size != (int)(c->nblk * bs))
			die("%s returned %d bytes", what, t->datain.size);
		for (uint32_t i = 0; i < c->nblk; i++) {
			struct pipe_blk *b = pipe_blk(p, c->lba + i);
			const unsigned char *got = t->datain.data + (size_t)i * bs;
			int match = -1;

			for (uint8_t k = 0; k < b->ncand && match < 0; k++) {
				pipe_gen(p, b->cand[k], c->lba + i, exp);
				if (memcmp(got, exp, bs) == 0)
					match = k;
			}
			if (match < 0) {
				char ids[64] = "";

				for (uint8_t k = 0; k < b->ncand; k++)
					snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids),
						 "%s%" PRIu32, k ? "," : "", b->cand[k]);
				die("%s: block %" PRIu64 " holds none of the possible versions "
				    "(writes %s; 0 = before the run)", what, c->lba + i, ids);
			}
			b->cand[0] = b->cand[match];
			b->ncand = 1;
			b->rpend--;
		}
		free(exp);
		p->reads++;
	}
	scsi_free_scsi_task(t);
	c->busy = false;
	p->outstanding--;
	p->last_progress = time(NULL);
}

/* Picks a range: adjacent to the previous one, overlapping one in flight,
 * or anywhere in the window. */
static void pipe_pick(struct pipe *p, uint32_t *n, uint64_t *lba)
{
	const struct window *w = p->w;
	uint64_t r = rng_next() % 8;

	*n = pick_len(p->o, w->nblocks);
	if (r < 2 && p->prev_nblk) {
		/* right after, or right before, the previous command */
		if ((rng_next() & 1) && p->prev_lba + p->prev_nblk + *n <= w->base + w->nblocks)
			*lba = p->prev_lba + p->prev_nblk;
		else if (p->prev_lba >= w->base + *n)
			*lba = p->prev_lba - *n;
		else
			*lba = w->base;
		return;
	}
	if (r < 5 && p->outstanding) {
		/* starting inside a command in flight */
		unsigned k = (unsigned)(rng_next() % p->o->qd);

		while (!p->cmd[k].busy)
			k = (k + 1) % p->o->qd;
		*lba = p->cmd[k].lba + rng_range(0, p->cmd[k].nblk - 1);
		if (*lba + *n > w->base + w->nblocks)
			*lba = w->base + w->nblocks - *n;
		return;
	}
	*lba = w->base + rng_range(0, w->nblocks - *n);
}

static bool pipe_overlaps_inflight(struct pipe *p, bool write, uint64_t lba, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct pipe_blk *b = pipe_blk(p, lba + i);

		if (write ? b->wpend : b->rpend)
			return true;
	}
	return false;
}

/* Sends one command if a range that may be sent now is found. */
static bool pipe_submit(struct pipe *p)
{
	struct lun *l = p->l;
	struct pipe_cmd *c = NULL;
	bool write = false;
	uint64_t lba = 0;
	uint32_t n = 0;
	int found = 0;

	for (unsigned k = 0; k < p->o->qd && !c; k++)
		if (!p->cmd[k].busy)
			c = &p->cmd[k];
	if (!c)
		return false;
	for (int attempt = 0; attempt < 16 && !found; attempt++) {
		write = rng_next() % 10 < 6;
		pipe_pick(p, &n, &lba);
		if (pipe_can(p, write, lba, n))
			found = 1;
	}
	if (!found && p->outstanding)
		return false;
	if (!found)
		write = false;	/* nothing in flight: a read always may go */
	if (lba == p->prev_lba + p->prev_nblk || lba + n == p->prev_lba)
		p->adjacent++;
	if (pipe_overlaps_inflight(p, true, lba, n)) {
		if (write)
			p->overlap_wr++;
	} else if (!write && pipe_overlaps_inflight(p, false, lba, n)) {
		p->overlap_rd++;
	}
	*c = (struct pipe_cmd){ .p = p, .busy = true, .write = write, .lba = lba,
				.nblk = n, .buf = c->buf, .c = pick_cdb(lba, n) };
	p->clock++;
	if (write) {
		c->id = p->nver++;
		c->fua = rng_next() % 4 == 0;
		p->ver[c->id] = (struct pipe_ver){ .sub = p->clock };
		for (uint32_t i = 0; i < n; i++) {
			pipe_gen(p, c->id, lba + i, c->buf + (size_t)i * l->bs);
			pipe_blk(p, lba + i)->wpend++;
		}
		p->fua += c->fua;
	} else {
		for (uint32_t i = 0; i < n; i++)
			pipe_blk(p, lba + i)->rpend++;
	}
	struct scsi_task *t;
	uint32_t len = n * l->bs;

	if (write && c->c == CDB10)
		t = iscsi_write10_task(l->iscsi, l->lun, (uint32_t)lba, c->buf, len, (int)l->bs,
				       0, 0, c->fua, 0, 0, pipe_cb, c);
	else if (write)
		t = iscsi_write16_task(l->iscsi, l->lun, lba, c->buf, len, (int)l->bs,
				       0, 0, c->fua, 0, 0, pipe_cb, c);
	else if (c->c == CDB10)
		t = iscsi_read10_task(l->iscsi, l->lun, (uint32_t)lba, len, (int)l->bs,
				      0, 0, 0, 0, 0, pipe_cb, c);
	else
		t = iscsi_read16_task(l->iscsi, l->lun, lba, len, (int)l->bs,
				      0, 0, 0, 0, 0, pipe_cb, c);
	if (!t)
		die("cannot queue pipelined %s: %s", cdb_name(c->c, write), iscsi_err(l->iscsi));
	p->outstanding++;
	if (p->outstanding > p->peak)
		p->peak = p->outstanding;
	p->prev_lba = lba;
	p->prev_nblk = n;
	return true;
}

static void run_pipelined(const struct opts *o, struct lun *l, struct window *w)
{
	struct pipe *p = xmalloc(sizeof(*p));
	uint32_t chunk = (1u << 20) / l->bs ? (1u << 20) / l->bs : 1;
	unsigned char *rbuf = xmalloc((size_t)chunk * l->bs), *exp = xmalloc(l->bs);
	unsigned long issued = 0;

	memset(p, 0, sizeof(*p));
	p->o = o;
	p->l = l;
	p->w = w;
	p->blk = xmalloc(w->nblocks * sizeof(*p->blk));
	memset(p->blk, 0, w->nblocks * sizeof(*p->blk));
	for (uint64_t b = 0; b < w->nblocks; b++)
		p->blk[b].ncand = 1;	/* version 0 */
	p->ver = xmalloc((o->iterations + 1) * sizeof(*p->ver));
	p->ver[0] = (struct pipe_ver){ 0, 0 };
	p->nver = 1;
	for (unsigned k = 0; k < o->qd; k++)
		p->cmd[k].buf = xmalloc((size_t)o->max_blocks * l->bs);
	p->last_progress = time(NULL);

	while (issued < o->iterations || p->outstanding) {
		struct pollfd pfd;

		while (issued < o->iterations && p->outstanding < o->qd) {
			if (!pipe_submit(p)) {
				p->waits++;
				break;
			}
			issued++;
		}
		if (!p->outstanding)
			continue;
		pfd.fd = iscsi_get_fd(l->iscsi);
		pfd.events = (short)iscsi_which_events(l->iscsi);
		pfd.revents = 0;
		if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (iscsi_service(l->iscsi, pfd.revents) < 0)
			die("iscsi_service: %s", iscsi_err(l->iscsi));
		if (time(NULL) - p->last_progress > o->timeout)
			die("pipelined: no command completed in %d s, %u in flight", o->timeout,
			    p->outstanding);
	}
	info("pipelined: %lu writes (%lu FUA) and %lu reads verified, queue depth %u "
	     "(peak %u in flight), %lu adjacent, %lu writes overlapping writes in flight, "
	     "%lu reads overlapping reads in flight, %lu waits for a free range",
	     p->writes, p->fua, p->reads, o->qd, p->peak, p->adjacent, p->overlap_wr,
	     p->overlap_rd, p->waits);
	if (o->iterations >= 4ul * o->qd && p->peak < o->qd)
		die("pipelined: only %u commands were ever in flight (queue depth %u)", p->peak,
		    o->qd);
	if (o->iterations >= 1000 && (!p->overlap_wr || !p->adjacent))
		die("pipelined: no overlapping or no adjacent writes were exercised");

	/* read the whole window: each block one of its versions, which then
	 * becomes the shadow for the final checks */
	for (uint64_t off = 0; off < w->nblocks; off += chunk) {
		uint32_t n = w->nblocks - off < chunk ? (uint32_t)(w->nblocks - off) : chunk;

		read_into(l, pick_cdb(w->base + off, n), w->base + off, n, rbuf,
			  "pipelined: final window read");
		for (uint32_t i = 0; i < n; i++) {
			struct pipe_blk *b = &p->blk[off + i];
			bool ok = false;

			for (uint8_t k = 0; k < b->ncand && !ok; k++) {
				pipe_gen(p, b->cand[k], w->base + off + i, exp);
				ok = memcmp(rbuf + (size_t)i * l->bs, exp, l->bs) == 0;
			}
			if (!ok)
				die("pipelined: block %" PRIu64 " holds none of its %u possible "
				    "versions after the run", w->base + off + i, b->ncand);
		}
		memcpy(w->shadow + off * l->bs, rbuf, (size_t)n * l->bs);
	}
	for (unsigned k = 0; k < o->qd; k++)
		free(p->cmd[k].buf);
	free(p->ver);
	free(p->blk);
	free(p);
	free(rbuf);
	free(exp);
}

static void run_io(const struct opts *o, struct lun *l)
{
	struct window w;
	uint64_t span_blocks = ((uint64_t)o->span_mib << 20) / l->bs;
	uint32_t chunk = (1u << 20) / l->bs ? (1u << 20) / l->bs : 1;
	unsigned long writes = 0, reads = 0, fua_writes = 0, w10 = 0, w16 = 0;
	uint64_t bytes_written = 0;
	uint32_t max_seen = 0;

	if (span_blocks == 0)
		span_blocks = 1;
	if (span_blocks > l->nblocks)
		span_blocks = l->nblocks;
	/* Place the window at the end of the LUN so that boundary I/O and
	 * rejected out-of-range writes are checked against shadowed data. */
	w.base = l->nblocks - span_blocks;
	w.nblocks = span_blocks;
	w.shadow = xmalloc((size_t)span_blocks * l->bs);

	size_t bufsz = (size_t)(o->max_blocks > chunk ? o->max_blocks : chunk) * l->bs;
	unsigned char *wbuf = xmalloc(bufsz);
	unsigned char *rbuf = xmalloc(bufsz);

	info("window: lba %" PRIu64 "..%" PRIu64 " (%" PRIu64 " blocks, %" PRIu64 " KiB)",
	     w.base, w.base + w.nblocks - 1, w.nblocks, w.nblocks * l->bs / 1024);

	/* Populate the shadow from the LUN's current contents. */
	for (uint64_t off = 0; off < w.nblocks; off += chunk) {
		uint32_t n = w.nblocks - off < chunk ? (uint32_t)(w.nblocks - off) : chunk;

		read_into(l, pick_cdb(w.base + off, n), w.base + off, n,
			  w.shadow + off * l->bs, "initial window read");
	}

	out_of_range_tests(l, &w, wbuf);

	if (o->qd) {
		run_pipelined(o, l, &w);
		goto done;
	}
	for (unsigned long it = 0; it < o->iterations; it++) {
		uint32_t nblk;
		uint64_t lba;

		if (it == 0) {
			nblk = (uint32_t)(o->max_blocks < w.nblocks ? o->max_blocks : w.nblocks);
			lba = w.base;
		} else if (it == 1) {
			/* a write ending exactly at the last LBA of the LUN */
			nblk = pick_len(o, w.nblocks);
			lba = w.base + w.nblocks - nblk;
		} else {
			nblk = pick_len(o, w.nblocks);
			lba = w.base + rng_range(0, w.nblocks - nblk);
		}
		enum rw_cdb c = pick_cdb(lba, nblk);
		bool fua = (rng_next() % 4) == 0;
		char what[160];

		rng_fill(wbuf, (size_t)nblk * l->bs);
		snprintf(what, sizeof(what), "iteration %lu: %s%s lba=%" PRIu64 " blocks=%" PRIu32,
			 it, cdb_name(c, true), fua ? " FUA" : "", lba, nblk);
		if (verbose)
			info("%s", what);
		expect_good(l, do_write(l, c, lba, nblk, wbuf, fua), what);
		memcpy(w.shadow + (lba - w.base) * l->bs, wbuf, (size_t)nblk * l->bs);
		writes++;
		bytes_written += (uint64_t)nblk * l->bs;
		fua_writes += fua;
		if (c == CDB10)
			w10++;
		else
			w16++;
		if (nblk > max_seen)
			max_seen = nblk;

		/* read back exactly what we wrote */
		c = pick_cdb(lba, nblk);
		read_into(l, c, lba, nblk, rbuf, what);
		compare_or_die(l, &w, lba, nblk, rbuf, what);
		reads++;

		/* and some other random range, to catch misdirected writes */
		uint32_t rn = pick_len(o, w.nblocks);
		uint64_t rl = w.base + rng_range(0, w.nblocks - rn);

		c = pick_cdb(rl, rn);
		snprintf(what, sizeof(what), "iteration %lu: random %s", it, cdb_name(c, false));
		read_into(l, c, rl, rn, rbuf, what);
		compare_or_die(l, &w, rl, rn, rbuf, what);
		reads++;

		if (it % 16 == 15) {
			if (rng_next() & 1)
				sync_cache(l, 0, 0);
			else if (lba <= 0x7fffffff && nblk <= 0xffff)
				sync_cache(l, lba, nblk);
		}
	}

	info("%lu writes (%lu WRITE10, %lu WRITE16, %lu FUA, largest %" PRIu32 " blocks = %" PRIu32
	     " KiB, %" PRIu64 " MiB total), %lu read-backs OK",
	     writes, w10, w16, fua_writes, max_seen, max_seen * l->bs / 1024,
	     bytes_written >> 20, reads);
done:
	sync_cache(l, 0, 0);
	verify_range(l, &w, w.base, w.nblocks, chunk, rbuf, "final full-window verify");
	info("final verify of %" PRIu64 " KiB window OK", w.nblocks * l->bs / 1024);

	free(w.shadow);
	free(wbuf);
	free(rbuf);
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [options] iscsi://HOST:PORT/IQN/LUN\n"
		"  --header-digest     request HeaderDigest=CRC32C and verify the target\n"
		"                      negotiated it and sends valid header digests\n"
		"  --r2t-only          negotiate ImmediateData=No, InitialR2T=Yes\n"
		"  --iterations N      write/read-back iterations (default 200); with\n"
		"                      --queue-depth, the number of commands\n"
		"  --queue-depth N     pipelined: N commands in flight at once (async API),\n"
		"                      random/adjacent/overlapping ranges (1..256)\n"
		"  --seed S            PRNG seed (default: time based; printed)\n"
		"  --max-blocks N      max blocks per write (default 2048)\n"
		"  --span-mib N        size of the shadowed window in MiB (default 64)\n"
		"  --timeout SEC       per-command timeout (default 30)\n"
		"  --no-sniff          connect directly, without the login-sniffing relay\n"
		"                      (negotiated digest cannot be verified then)\n"
		"  --vpd PAGE          print INQUIRY VPD page PAGE (e.g. 0x80) as hex and exit\n"
		"  --verbose           log every command, login key and sniffed PDU header\n"
		"  --debug N           libiscsi log level N (to stderr)\n"
		"  --help\n"
		"(libiscsi always offers DataDigest=None, so there is no data digest option.)\n",
		argv0);
}

static unsigned long long parse_num(const char *opt, const char *s, unsigned long long min,
				    unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *s == '-' || end == s || *end || v < min || v > max) {
		fprintf(stderr, "rwtest: invalid value '%s' for %s (expected %llu..%llu)\n",
			s, opt, min, max);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_HD = 256, O_R2T, O_IT, O_SEED, O_MAXB, O_SPAN, O_TMO, O_NOSNIFF, O_VPD,
	       O_VERBOSE, O_DEBUG, O_QD };
	static const struct option longopts[] = {
		{ "header-digest", no_argument, NULL, O_HD },
		{ "r2t-only", no_argument, NULL, O_R2T },
		{ "iterations", required_argument, NULL, O_IT },
		{ "queue-depth", required_argument, NULL, O_QD },
		{ "seed", required_argument, NULL, O_SEED },
		{ "max-blocks", required_argument, NULL, O_MAXB },
		{ "span-mib", required_argument, NULL, O_SPAN },
		{ "timeout", required_argument, NULL, O_TMO },
		{ "no-sniff", no_argument, NULL, O_NOSNIFF },
		{ "vpd", required_argument, NULL, O_VPD },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "debug", required_argument, NULL, O_DEBUG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){
		.sniff = true,
		.iterations = 200,
		.max_blocks = 2048,
		.span_mib = 64,
		.timeout = 30,
		.vpd_page = -1,
	};
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case O_HD: o->header_digest = true; break;
		case O_R2T: o->r2t_only = true; break;
		case O_IT: o->iterations = parse_num("--iterations", optarg, 0, 100000000); break;
		case O_QD: o->qd = (unsigned)parse_num("--queue-depth", optarg, 1, PIPE_MAX_QD); break;
		case O_SEED:
			o->seed = parse_num("--seed", optarg, 0, UINT64_MAX);
			o->seed_set = true;
			break;
		case O_MAXB: o->max_blocks = parse_num("--max-blocks", optarg, 1, 65535); break;
		case O_SPAN: o->span_mib = parse_num("--span-mib", optarg, 1, 4096); break;
		case O_TMO: o->timeout = (int)parse_num("--timeout", optarg, 1, 3600); break;
		case O_NOSNIFF: o->sniff = false; break;
		case O_VPD: o->vpd_page = (int)parse_num("--vpd", optarg, 0, 255); break;
		case 'v':
		case O_VERBOSE: verbose = true; break;
		case O_DEBUG: o->debug = (int)parse_num("--debug", optarg, 0, 10); break;
		case 'h': usage(stdout, argv[0]); exit(0);
		default: usage(stderr, argv[0]); exit(2);
		}
	}
	if (optind != argc - 1) {
		usage(stderr, argv[0]);
		exit(2);
	}
	o->url = argv[optind];
	if (!o->seed_set)
		o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

static void check_negotiation(const struct opts *o, struct relay *r, uint32_t bs, bool final)
{
	pthread_mutex_lock(&r->mu);
	if (r->error[0]) {
		char e[sizeof(r->error)];

		memcpy(e, r->error, sizeof(e));
		pthread_mutex_unlock(&r->mu);
		die("%s", e);
	}
	if (!r->login_done) {
		pthread_mutex_unlock(&r->mu);
		die("login sniffer did not see a successful final login response");
	}
	if (!final) {
		info("negotiated (target answers): HeaderDigest=%s DataDigest=%s "
		     "MaxRecvDataSegmentLength=%s MaxBurstLength=%s FirstBurstLength=%s "
		     "ImmediateData=%s InitialR2T=%s (%d login response PDU(s))",
		     r->header_digest[0] ? r->header_digest : "<not sent>",
		     r->data_digest[0] ? r->data_digest : "<not sent>",
		     r->target_mrdsl[0] ? r->target_mrdsl : "<not sent>",
		     r->max_burst[0] ? r->max_burst : "<not sent>",
		     r->first_burst[0] ? r->first_burst : "<not sent>",
		     r->immediate_data[0] ? r->immediate_data : "<not sent>",
		     r->initial_r2t[0] ? r->initial_r2t : "<not sent>",
		     r->login_pdus);
		if (r->max_burst[0] &&
		    (unsigned long)o->max_blocks * bs <= strtoul(r->max_burst, NULL, 10))
			info("warning: --max-blocks %" PRIu32 " may not exceed MaxBurstLength=%s; "
			     "multi-burst writes might not be exercised", o->max_blocks,
			     r->max_burst);
	}
	const char *want = o->header_digest ? "CRC32C" : "None";

	if (strcmp(r->header_digest, want) != 0) {
		char got[sizeof(r->header_digest)];

		memcpy(got, r->header_digest, sizeof(got));
		pthread_mutex_unlock(&r->mu);
		die("header digest negotiation: offered HeaderDigest=%s, target answered %s",
		    want, got[0] ? got : "nothing (key missing from login response)");
	}
	if (strcmp(r->data_digest, "None") != 0) {
		char got[sizeof(r->data_digest)];

		memcpy(got, r->data_digest, sizeof(got));
		pthread_mutex_unlock(&r->mu);
		die("data digest negotiation: offered DataDigest=None, target answered %s",
		    got[0] ? got : "nothing (key missing from login response)");
	}
	if (o->r2t_only &&
	    ((r->immediate_data[0] && strcmp(r->immediate_data, "No")) ||
	     (r->initial_r2t[0] && strcmp(r->initial_r2t, "Yes")))) {
		char imm[sizeof(r->immediate_data)], r2t[sizeof(r->initial_r2t)];

		memcpy(imm, r->immediate_data, sizeof(imm));
		memcpy(r2t, r->initial_r2t, sizeof(r2t));
		pthread_mutex_unlock(&r->mu);
		die("offered ImmediateData=No InitialR2T=Yes, target answered "
		    "ImmediateData=%s InitialR2T=%s (AND/OR result functions violated)", imm, r2t);
	}
	if (final) {
		int checked = r->ff_checked, ok = r->ff_digest_ok;

		pthread_mutex_unlock(&r->mu);
		if (checked == 0)
			die("sniffer saw no full-feature-phase PDU from the target");
		if (o->header_digest) {
			if (ok != checked)
				die("only %d of %d full-feature PDUs had a valid header digest",
				    ok, checked);
			info("header digest verified: CRC32C negotiated, %d target PDU headers "
			     "carried a valid CRC32C digest", ok);
		} else {
			info("header digest: None negotiated, %d target PDU headers framed correctly",
			     checked);
		}
		return;
	}
	pthread_mutex_unlock(&r->mu);
}

static int dump_vpd(struct lun *l, int page)
{
	struct scsi_task *t = iscsi_inquiry_sync(l->iscsi, l->lun, 1, page, 4096);
	char what[64];

	snprintf(what, sizeof(what), "INQUIRY EVPD page 0x%02x", page);
	if (!t || t->status != SCSI_STATUS_GOOD) {
		char d[512];

		describe_task(d, sizeof(d), l->iscsi, t);
		die("%s failed: %s", what, d);
	}
	if (t->datain.size < 4)
		die("%s returned only %d bytes", what, t->datain.size);
	if (t->datain.data[1] != page)
		die("%s returned page code 0x%02x", what, t->datain.data[1]);
	size_t len = 4 + ((size_t)t->datain.data[2] << 8 | t->datain.data[3]);

	if (len > (size_t)t->datain.size)
		die("%s: page length %zu exceeds the %d bytes returned", what, len,
		    t->datain.size);
	for (size_t i = 0; i < len; i++)
		printf("%02x%s", t->datain.data[i], (i % 16 == 15 || i + 1 == len) ? "\n" : " ");
	scsi_free_scsi_task(t);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct relay relay;
	struct lun l = { 0 };
	char portal[300];
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv, &o);
	crc32c_init();
	if (o.vpd_page >= 0)
		o.sniff = false;

	l.iscsi = iscsi_create_context(INITIATOR_NAME);
	if (!l.iscsi)
		die("iscsi_create_context failed");
	struct iscsi_url *url = iscsi_parse_full_url(l.iscsi, o.url);

	if (!url)
		die("cannot parse URL '%s': %s", o.url, iscsi_err(l.iscsi));
	l.lun = url->lun;

	if (iscsi_set_targetname(l.iscsi, url->target) ||
	    iscsi_set_session_type(l.iscsi, ISCSI_SESSION_NORMAL) ||
	    iscsi_set_header_digest(l.iscsi, o.header_digest ? ISCSI_HEADER_DIGEST_CRC32C
							     : ISCSI_HEADER_DIGEST_NONE))
		die("cannot configure iscsi context: %s", iscsi_err(l.iscsi));
	if (o.r2t_only &&
	    (iscsi_set_immediate_data(l.iscsi, ISCSI_IMMEDIATE_DATA_NO) ||
	     iscsi_set_initial_r2t(l.iscsi, ISCSI_INITIAL_R2T_YES)))
		die("cannot configure ImmediateData/InitialR2T: %s", iscsi_err(l.iscsi));
	iscsi_set_noautoreconnect(l.iscsi, 1);
	if (o.debug) {
		iscsi_set_log_level(l.iscsi, o.debug);
		iscsi_set_log_fn(l.iscsi, iscsi_log_to_stderr);
	}
	iscsi_set_timeout(l.iscsi, o.timeout);

	if (o.sniff) {
		relay_start(&relay, url->portal);
		snprintf(portal, sizeof(portal), "127.0.0.1:%d", relay.port);
	} else {
		snprintf(portal, sizeof(portal), "%s", url->portal);
	}

	if (o.vpd_page < 0)
		info("url=%s seed=%" PRIu64 " iterations=%lu max-blocks=%" PRIu32
		     " header-digest=%s r2t-only=%s", o.url, o.seed, o.iterations, o.max_blocks,
		     o.header_digest ? "CRC32C" : "None", o.r2t_only ? "yes" : "no");
	rng_seed(o.seed);

	if (iscsi_full_connect_sync(l.iscsi, portal, l.lun) != 0)
		die("login to %s (target %s, lun %d) failed: %s", url->portal, url->target,
		    l.lun, iscsi_err(l.iscsi));

	if (o.vpd_page >= 0) {
		rc = dump_vpd(&l, o.vpd_page);
		iscsi_logout_sync(l.iscsi);
		iscsi_destroy_url(url);
		iscsi_destroy_context(l.iscsi);
		return rc;
	}

	struct scsi_task *t = iscsi_readcapacity16_sync(l.iscsi, l.lun);

	if (!t || t->status != SCSI_STATUS_GOOD) {
		char d[512];

		describe_task(d, sizeof(d), l.iscsi, t);
		die("READ CAPACITY(16) failed: %s", d);
	}
	struct scsi_readcapacity16 *rc16 = scsi_datain_unmarshall(t);

	if (!rc16)
		die("cannot unmarshall READ CAPACITY(16) data");
	l.bs = rc16->block_length;
	l.nblocks = rc16->returned_lba + 1;
	scsi_free_scsi_task(t);
	if (l.bs == 0 || l.bs > (1u << 20) || (l.bs & (l.bs - 1)))
		die("READ CAPACITY(16) reports implausible block length %" PRIu32, l.bs);
	if (l.nblocks < 4)
		die("LUN too small: %" PRIu64 " blocks", l.nblocks);
	info("capacity: %" PRIu64 " blocks of %" PRIu32 " bytes (%" PRIu64 " MiB)",
	     l.nblocks, l.bs, (l.nblocks * l.bs) >> 20);
	if (o.sniff)
		check_negotiation(&o, &relay, l.bs, false);

	run_io(&o, &l);

	if (iscsi_logout_sync(l.iscsi) != 0)
		die("logout failed: %s", iscsi_err(l.iscsi));
	iscsi_destroy_url(url);
	iscsi_destroy_context(l.iscsi);
	if (o.sniff) {
		relay_stop(&relay);
		check_negotiation(&o, &relay, l.bs, true);
	}
	info("PASS");
	return 0;
}
