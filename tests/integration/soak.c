/*
 * soak.c - the soak driver (issue 8 item 14; scripts/soak.sh runs it
 * against a ringtgtd it starts): N sessions, one thread each over the raw
 * initiator, do random READ(10)/WRITE(10)s of mixed sizes (1 to 256
 * blocks; writes past FirstBurstLength answer R2Ts) on their own range
 * of LUN 1, for D seconds, while a chaos thread kills random connections
 * (a FIN; an RST right after a command went out; or, right after a
 * command, the connection abandoned open). A killed session logs in
 * again with the same ISID: after an abandon the target reinstates it.
 *
 * Every block written carries its LBA, its session and a version, and a
 * pattern drawn from them; a read must return, for each block, the last
 * version written, or (after a write cut off by a kill, which may or may
 * not have reached the medium) the one before it; a range in doubt is
 * read before it is written again. Anything else is a mismatch. Prints
 * one summary line; exits 0 only with I/O done, no mismatch and no
 * error.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "raw_initiator.h"

#define BLK 512u
#define MAX_BLOCKS 256u		/* per command: 128 KiB */
#define CMD_TIMEOUT_MS 30000	/* a command not answered by then is stuck */
#define LOGIN_TRIES 100		/* 100 ms apart */
#define MAGIC 0x534f414bu	/* "SOAK" */
#define NO_VERSION UINT32_MAX

struct opts {
	int port;
	const char *target;
	const char *initiator;
	unsigned sessions;
	unsigned duration_s;
	unsigned blocks;	/* per session */
	unsigned chaos_ms;	/* between kills; 0: no chaos */
	unsigned seed;
};

/*
 * Kill modes the chaos thread picks from. FIN and RST end the connection,
 * so the target ends the session; ABANDON leaves it open and unread, so
 * the next login (same ISID) reinstates the session (RFC 7143 §6.3.5),
 * which must close the old connection.
 */
enum kill { KILL_NONE, KILL_FIN, KILL_RST, KILL_ABANDON };

#define REINSTATE_CLOSE_MS 10000	/* the old connection closed by then */

struct session {
	unsigned id;
	uint32_t first_lba;
	pthread_t thread;
	pthread_mutex_t lock;	/* ri.fd against the chaos thread */
	struct ri ri;
	bool connected;
	atomic_int kill;	/* enum kill, for the session to act on */
	uint32_t *ver;		/* the version each block must hold */
	uint32_t *alt;		/* or this one (NO_VERSION: none) */
	uint32_t next_ver;
	uint32_t rng;
	uint8_t *wbuf, *rbuf;
	/* counters */
	uint64_t reads, writes, bytes, mismatches, reconnects, kills_seen,
		 reinstatements, unit_attentions, errors;
	uint64_t max_ms;
	char first_error[256];
};

static struct opts o = {
	.initiator = "iqn.2026-11.org.ringtgt:soak",
	.sessions = 64,
	.duration_s = 600,
	.blocks = 8192,
	.chaos_ms = 500,
	.seed = 1,
};
static atomic_bool stopping;
static atomic_uint_fast64_t kills_done;

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void note_error(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note_error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	s->errors++;
	if (s->first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(s->first_error, sizeof(s->first_error), fmt, ap);
	va_end(ap);
	fprintf(stderr, "soak: session %u: %s\n", s->id, s->first_error);
}

/* The content of block @lba at @version (0: never written: zeroes). */
static void fill_block(uint8_t *b, uint32_t lba, uint32_t session,
		       uint32_t version)
{
	uint32_t x = lba * 2654435761u ^ version * 40503u ^ 0x9e3779b9u;

	if (version == 0) {
		memset(b, 0, BLK);
		return;
	}
	put_be32(b, MAGIC);
	put_be32(b + 4, lba);
	put_be32(b + 8, session);
	put_be32(b + 12, version);
	for (unsigned i = 16; i < BLK; i += 4) {
		x = x ? x : 1;
		put_be32(b + i, rnd(&x));
	}
}

/* --- one command ----------------------------------------------------------- */

/*
 * Sends the WRITE's data: immediate up to FirstBurstLength (65536, as
 * ri_login offers; the target's MaxRecvDataSegmentLength bounds each
 * PDU), the rest as the target's R2Ts ask. Returns 0 with *res filled,
 * or -errno.
 */
static int do_write(struct session *s, uint32_t lba, uint32_t blocks,
		    struct ri_result *res)
{
	struct ri *ri = &s->ri;
	uint32_t len = blocks * BLK, imm = MIN(MIN(len, 65536u), ri->tgt_mrdsl);
	uint64_t deadline = ri_now_ms() + CMD_TIMEOUT_MS;
	uint8_t cdb[10];
	uint32_t itt;

	ri_cdb_rw10(cdb, true, lba, (uint16_t)blocks);
	itt = ri_scsi_cmd(ri, 1, cdb, 10, CMD_W, len, s->wbuf, imm, NULL);
	if (itt == RSVD_TAG)
		return -EPIPE;
	if (atomic_load(&s->kill) >= KILL_RST)
		return -ECONNABORTED;	/* cut off right after sending */
	memset(res, 0, sizeof(*res));
	for (;;) {
		struct ri_pdu p;
		uint64_t now = ri_now_ms();
		int rc;

		if (now >= deadline)
			return -ETIMEDOUT;
		rc = ri_recv(ri, &p, (int)(deadline - now));
		if (rc)
			return rc;
		if (p.itt != itt)
			continue;
		if (p.opcode == OP_R2T) {
			uint32_t ttt = get_be32(p.bhs + BHS_TTT);
			uint32_t off = get_be32(p.bhs + BHS_BUFOFF);
			uint32_t want = get_be32(p.bhs + BHS_RESID);
			uint32_t sn = 0;

			if (off > len || want > len - off)
				return -EPROTO;
			while (want) {
				uint32_t n = MIN(want, ri->tgt_mrdsl);
				uint8_t b[BHS_LEN];

				ri_build_data_out(ri, b, 1, itt, ttt, sn++, off,
						  n == want);
				rc = ri_send(ri, b, s->wbuf + off, n);
				if (rc)
					return rc;
				off += n;
				want -= n;
			}
			continue;
		}
		if (p.opcode != OP_SCSI_RSP)
			return -EPROTO;
		res->status = p.bhs[BHS_B3];
		if (p.bhs[BHS_B2] != 0)
			return -EIO;
		if (res->status == 2 && p.dsl >= 16) {
			const uint8_t *d = p.data + 2;

			if ((d[0] & 0x7f) >= 0x72) {
				res->sense_key = d[1] & 0x0f;
				res->asc = d[2];
			} else {
				res->sense_key = d[2] & 0x0f;
				res->asc = d[12];
			}
		}
		return 0;
	}
}

static int do_read(struct session *s, uint32_t lba, uint32_t blocks,
		   struct ri_result *res)
{
	struct ri *ri = &s->ri;
	uint8_t cdb[10];
	uint32_t itt;

	ri_cdb_rw10(cdb, false, lba, (uint16_t)blocks);
	itt = ri_scsi_cmd(ri, 1, cdb, 10, CMD_R, blocks * BLK, NULL, 0, NULL);
	if (itt == RSVD_TAG)
		return -EPIPE;
	if (atomic_load(&s->kill) >= KILL_RST)
		return -ECONNABORTED;
	return ri_wait_cmd(ri, itt, s->rbuf, blocks * BLK, res, CMD_TIMEOUT_MS,
			   NULL);
}

/* --- connection ---------------------------------------------------------- */

static void drop_connection(struct session *s, bool rst)
{
	pthread_mutex_lock(&s->lock);
	if (rst && s->ri.fd >= 0) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(s->ri.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	ri_close(&s->ri);
	s->connected = false;
	pthread_mutex_unlock(&s->lock);
}

/* Connects and logs in with the session's ISID; 0 or the last error. */
static int connect_session(struct session *s)
{
	int rc = -EIO;

	for (int t = 0; t < LOGIN_TRIES && !atomic_load(&stopping); t++) {
		pthread_mutex_lock(&s->lock);
		rc = ri_connect(&s->ri, o.port);
		if (rc == 0) {
			/* the same ISID every time: a new login reinstates */
			s->ri.isid_q = (uint8_t)(s->id + 1);
			s->connected = true;
		}
		pthread_mutex_unlock(&s->lock);
		if (rc == 0)
			rc = ri_login(&s->ri, o.target, o.initiator);
		if (rc == 0) {
			atomic_store(&s->kill, KILL_NONE);
			return 0;
		}
		drop_connection(s, false);
		usleep(100 * 1000);
	}
	return rc;
}

/*
 * ABANDON: keeps the connection open and unread, logs in again with the
 * same ISID, then waits for the target to close the old connection.
 */
static int reinstate(struct session *s)
{
	int old, rc;
	long ms;

	pthread_mutex_lock(&s->lock);
	old = s->ri.fd;
	s->ri.fd = -1;		/* ri_close() frees the rest, not the socket */
	ri_close(&s->ri);
	s->connected = false;
	pthread_mutex_unlock(&s->lock);
	rc = connect_session(s);
	if (rc == 0) {
		struct ri gone = { .fd = old };

		ms = ri_wait_closed(&gone, REINSTATE_CLOSE_MS);
		if (ms < 0)
			note_error(s, "the reinstated session's connection is "
				   "still open %u s after the new login",
				   REINSTATE_CLOSE_MS / 1000);
		s->reinstatements++;
	}
	close(old);
	return rc;
}

/* --- verification ------------------------------------------------------------ */

static void verify(struct session *s, uint32_t rel, uint32_t blocks)
{
	uint8_t want[BLK];

	for (uint32_t i = 0; i < blocks; i++) {
		uint32_t b = rel + i, lba = s->first_lba + b;
		const uint8_t *got = s->rbuf + (size_t)i * BLK;

		fill_block(want, lba, s->id, s->ver[b]);
		if (memcmp(got, want, BLK) == 0) {
			s->alt[b] = NO_VERSION;
			continue;
		}
		if (s->alt[b] != NO_VERSION) {
			fill_block(want, lba, s->id, s->alt[b]);
			if (memcmp(got, want, BLK) == 0) {
				s->ver[b] = s->alt[b];
				s->alt[b] = NO_VERSION;
				continue;
			}
		}
		s->mismatches++;
		if (s->mismatches <= 5)
			fprintf(stderr, "soak: MISMATCH session %u LBA %u: "
				"want version %u%s%.0u, block holds magic %08x "
				"LBA %u session %u version %u\n", s->id, lba,
				s->ver[b], s->alt[b] != NO_VERSION ? " or " :
				"", s->alt[b] != NO_VERSION ? s->alt[b] : 0,
				get_be32(got), get_be32(got + 4),
				get_be32(got + 8), get_be32(got + 12));
	}
}

/* --- the session thread ---------------------------------------------------- */

/* Does a block of the range hold one of two versions (a write was cut)? */
static bool unsettled(const struct session *s, uint32_t rel, uint32_t blocks)
{
	for (uint32_t i = 0; i < blocks; i++)
		if (s->alt[rel + i] != NO_VERSION)
			return true;
	return false;
}

static bool is_unit_attention(const struct ri_result *r)
{
	return r->status == 2 && r->sense_key == 6;
}

static void *session_main(void *arg)
{
	static const uint32_t sizes[] = { 1, 1, 2, 8, 8, 16, 64, 129, 256 };
	struct session *s = arg;
	uint64_t end = ri_now_ms() + (uint64_t)o.duration_s * 1000u;

	if (connect_session(s)) {
		note_error(s, "first login failed");
		return NULL;
	}
	while (ri_now_ms() < end && !atomic_load(&stopping)) {
		uint32_t blocks = sizes[rnd(&s->rng) % ARRAY_SIZE(sizes)];
		uint32_t rel = rnd(&s->rng) % (o.blocks - blocks + 1);
		/* a range a cut write left unsettled is read (settled) first:
		 * two versions in doubt per block at most */
		bool write = (rnd(&s->rng) & 1) && !unsettled(s, rel, blocks);
		struct ri_result res;
		uint64_t t0 = ri_now_ms(), ms;
		int rc;

		if (write) {
			uint32_t v = s->next_ver++;

			for (uint32_t i = 0; i < blocks; i++)
				fill_block(s->wbuf + (size_t)i * BLK,
					   s->first_lba + rel + i, s->id, v);
			rc = do_write(s, s->first_lba + rel, blocks, &res);
			if (rc == 0 && res.status == 0) {
				for (uint32_t i = 0; i < blocks; i++) {
					s->ver[rel + i] = v;
					s->alt[rel + i] = NO_VERSION;
				}
			} else if (rc) {
				/* cut off: it may or may not have landed */
				for (uint32_t i = 0; i < blocks; i++)
					s->alt[rel + i] = v;
			}
		} else {
			rc = do_read(s, s->first_lba + rel, blocks, &res);
			if (rc == 0 && res.status == 0) {
				if (res.data_len != blocks * BLK)
					note_error(s, "READ of %u blocks "
						   "returned %u bytes", blocks,
						   res.data_len);
				else
					verify(s, rel, blocks);
			}
		}
		ms = ri_now_ms() - t0;
		if (rc == 0 && ms > s->max_ms)
			s->max_ms = ms;
		if (rc == 0 && res.status == 0) {
			if (write)
				s->writes++;
			else
				s->reads++;
			s->bytes += blocks * BLK;
			continue;
		}
		if (rc == 0 && is_unit_attention(&res)) {
			s->unit_attentions++;	/* after a reinstatement */
			continue;
		}
		if (rc == 0) {
			note_error(s, "%s of %u blocks: status 0x%x sense %x/%02x",
				   write ? "WRITE" : "READ", blocks, res.status,
				   res.sense_key, res.asc);
			continue;
		}
		/* the connection failed: killed by chaos, or an error */
		if (atomic_load(&s->kill) != KILL_NONE)
			s->kills_seen++;
		else if (rc == -ETIMEDOUT)
			note_error(s, "%s of %u blocks: no answer in %u s",
				   write ? "WRITE" : "READ", blocks,
				   CMD_TIMEOUT_MS / 1000);
		else
			note_error(s, "%s of %u blocks: connection failed (%s) "
				   "with no kill", write ? "WRITE" : "READ",
				   blocks, strerror(-rc));
		if (atomic_load(&s->kill) == KILL_ABANDON) {
			rc = reinstate(s);
		} else {
			drop_connection(s, atomic_load(&s->kill) == KILL_RST);
			rc = connect_session(s);
		}
		if (rc) {
			note_error(s, "login again failed");
			return NULL;
		}
		s->reconnects++;
	}
	/* end: read the whole range back, past any last kill, then close */
	for (uint32_t rel = 0, tries = 0; rel < o.blocks && tries < 10;) {
		uint32_t blocks = MIN(MAX_BLOCKS, o.blocks - rel);
		struct ri_result res;
		int rc = do_read(s, s->first_lba + rel, blocks, &res);

		if (rc == 0 && res.status == 0) {
			verify(s, rel, blocks);
			s->reads++;
			s->bytes += blocks * BLK;
			rel += blocks;
			continue;
		}
		tries++;
		if (rc == 0 && is_unit_attention(&res))
			continue;
		if (rc == 0 || atomic_load(&s->kill) == KILL_NONE) {
			note_error(s, "final READ at block %u: %d status 0x%x",
				   rel, rc, res.status);
			break;
		}
		if (atomic_load(&s->kill) == KILL_ABANDON) {
			rc = reinstate(s);
		} else {
			drop_connection(s, atomic_load(&s->kill) == KILL_RST);
			rc = connect_session(s);
		}
		if (rc) {
			note_error(s, "login again failed");
			return NULL;
		}
		s->reconnects++;
	}
	drop_connection(s, false);
	return NULL;
}

/* --- chaos ---------------------------------------------------------------- */

static void *chaos_main(void *arg)
{
	struct session *all = arg;
	uint32_t r = o.seed * 7919u + 13u;
	/* quiet for the sessions' last second */
	uint64_t end = ri_now_ms() + (uint64_t)o.duration_s * 1000u - 1000u;

	while (ri_now_ms() < end && !atomic_load(&stopping)) {
		struct session *s;

		usleep(o.chaos_ms * 1000u / 2 + rnd(&r) % (o.chaos_ms * 1000u));
		s = &all[rnd(&r) % o.sessions];
		if (atomic_load(&s->kill) != KILL_NONE)
			continue;
		switch (rnd(&r) % 3) {
		case 0:
			/* an RST, cut right after the next command is sent */
			atomic_store(&s->kill, KILL_RST);
			break;
		case 1:
			/* abandoned right after the next command, reinstated */
			atomic_store(&s->kill, KILL_ABANDON);
			break;
		default:
			/* a FIN, wherever the session is */
			pthread_mutex_lock(&s->lock);
			if (s->connected && s->ri.fd >= 0) {
				atomic_store(&s->kill, KILL_FIN);
				shutdown(s->ri.fd, SHUT_RDWR);
			}
			pthread_mutex_unlock(&s->lock);
		}
		atomic_fetch_add(&kills_done, 1);
	}
	return NULL;
}

/* --- main -------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: soak --port PORT --target IQN [--sessions N] "
		"[--duration S]\n"
		"            [--blocks-per-session B] [--chaos-ms MS] "
		"[--seed N]\n"
		"LUN 1 of IQN on 127.0.0.1:PORT must hold N * B 512-byte "
		"blocks; its content is overwritten.\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "target", required_argument, NULL, 't' },
		{ "sessions", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "blocks-per-session", required_argument, NULL, 'b' },
		{ "chaos-ms", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': o.port = atoi(optarg); break;
		case 't': o.target = optarg; break;
		case 'n': o.sessions = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': o.duration_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': o.blocks = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': o.chaos_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': o.seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (o.port <= 0 || o.port > 65535 || !o.target || !o.sessions ||
	    o.sessions > 250 || o.blocks < MAX_BLOCKS || !o.duration_s) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct session *all;
	pthread_t chaos;
	uint64_t reads = 0, writes = 0, bytes = 0, mism = 0, reconn = 0,
		 errors = 0, ua = 0, max_ms = 0, reinst = 0, t0;
	int rc = 0;

	if (parse_args(argc, argv))
		return 2;
	all = calloc(o.sessions, sizeof(*all));
	if (!all)
		return 2;
	for (unsigned i = 0; i < o.sessions; i++) {
		struct session *s = &all[i];

		s->id = i;
		s->first_lba = i * o.blocks;
		s->ri.fd = -1;
		s->rng = o.seed * 1000003u + i * 7919u + 1u;
		s->next_ver = 1;
		s->ver = calloc(o.blocks, sizeof(*s->ver));
		s->alt = malloc(o.blocks * sizeof(*s->alt));
		s->wbuf = malloc(MAX_BLOCKS * BLK);
		s->rbuf = malloc(MAX_BLOCKS * BLK);
		if (!s->ver || !s->alt || !s->wbuf || !s->rbuf)
			return 2;
		/* the LUN starts zeroed (version 0): soak.sh makes it */
		for (unsigned b = 0; b < o.blocks; b++)
			s->alt[b] = NO_VERSION;
		pthread_mutex_init(&s->lock, NULL);
	}
	t0 = ri_now_ms();
	for (unsigned i = 0; i < o.sessions; i++)
		if (pthread_create(&all[i].thread, NULL, session_main, &all[i]))
			return 2;
	if (o.chaos_ms && pthread_create(&chaos, NULL, chaos_main, all))
		return 2;
	for (unsigned i = 0; i < o.sessions; i++) {
		struct session *s = &all[i];

		pthread_join(s->thread, NULL);
		reads += s->reads;
		writes += s->writes;
		bytes += s->bytes;
		mism += s->mismatches;
		reconn += s->reconnects;
		reinst += s->reinstatements;
		errors += s->errors;
		ua += s->unit_attentions;
		max_ms = MAX(max_ms, s->max_ms);
	}
	atomic_store(&stopping, true);
	if (o.chaos_ms)
		pthread_join(chaos, NULL);
	printf("soak: sessions=%u seconds=%.0f ios=%llu reads=%llu writes=%llu "
	       "mib=%llu mismatches=%llu kills=%llu reconnects=%llu "
	       "reinstatements=%llu unit_attentions=%llu errors=%llu "
	       "max_cmd_ms=%llu\n",
	       o.sessions, (double)(ri_now_ms() - t0) / 1000.0,
	       (unsigned long long)(reads + writes), (unsigned long long)reads,
	       (unsigned long long)writes, (unsigned long long)(bytes >> 20),
	       (unsigned long long)mism,
	       (unsigned long long)atomic_load(&kills_done),
	       (unsigned long long)reconn, (unsigned long long)reinst,
	       (unsigned long long)ua,
	       (unsigned long long)errors, (unsigned long long)max_ms);
	fflush(stdout);
	for (unsigned i = 0; i < o.sessions; i++) {
		free(all[i].ver);
		free(all[i].alt);
		free(all[i].wbuf);
		free(all[i].rbuf);
		pthread_mutex_destroy(&all[i].lock);
	}
	free(all);
	if (mism || errors || reads + writes == 0)
		rc = 1;
	if (o.chaos_ms && o.duration_s >= 10 && (reconn == 0 || reinst == 0)) {
		fprintf(stderr, "soak: no session was %s\n", reconn ?
			"reinstated" : "ever killed and logged in again");
		rc = 1;
	}
	return rc;
}
