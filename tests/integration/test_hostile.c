/*
 * test_hostile.c - what a peer that does not follow the rules gets (the
 * hardening issue): each test sends what no well-behaved initiator would
 * and asserts the RFC 7143 outcome, then that the session (or another
 * one) still does verified I/O. In-process server (inproc.c), both event
 * loops.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <poll.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "backing/bs.h"
#include "base/base.h"
#include "inproc.h"
#include "iscsi/pdu.h"
#include "raw_initiator.h"

#define BLK INPROC_BLK

static void login_as(struct ri *ri)
{
	int rc = ri_login(ri, INPROC_IQN, INPROC_INITIATOR);

	cr_assert_eq(rc, 0, "login: %d", rc);
}

static struct ri_result wait_result(struct ri *ri, uint32_t itt, void *buf,
				    uint32_t cap)
{
	struct ri_result r;

	cr_assert_eq(ri_wait_cmd(ri, itt, buf, cap, &r, 5000, NULL), 0,
		     "no response for ITT 0x%x", itt);
	return r;
}

/* READ(10) of @blocks at @lba on LUN 1 into @buf; asserts GOOD. */
static void read_ok(struct ri *ri, uint32_t lba, uint8_t *buf, uint16_t blocks)
{
	uint8_t cdb[10];
	struct ri_result r;
	uint32_t itt;

	ri_cdb_rw10(cdb, false, lba, blocks);
	itt = ri_scsi_cmd(ri, 1, cdb, 10, CMD_R, blocks * BLK, NULL, 0, NULL);
	r = wait_result(ri, itt, buf, blocks * BLK);
	cr_assert_eq(r.status, 0, "READ status 0x%x", r.status);
	cr_assert_eq(r.data_len, (uint32_t)blocks * BLK);
}

ParameterizedTestParameters(hostile, immediate_beyond_first_burst)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * Issue 8 item 9: with FirstBurstLength=512, a 4-block WRITE sent all as
 * immediate data: RFC 7143 §13.14 caps unsolicited data at
 * FirstBurstLength; the command ends CHECK CONDITION, ABORTED COMMAND /
 * UNEXPECTED UNSOLICITED DATA (§11.4.7.2), and writes nothing.
 */
ParameterizedTest(enum ev_kind *kind, hostile, immediate_beyond_first_burst,
		  .fini = inproc_down, .timeout = 60)
{
	uint8_t w[4 * BLK], rd[4 * BLK], zero[4 * BLK] = { 0 }, cdb[10];
	struct ri_result r;
	struct ri ri;
	uint32_t itt;

	inproc_up(*kind, 0, 0);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	ri.first_burst = 512;
	login_as(&ri);
	memset(w, 0x5c, sizeof(w));
	ri_cdb_rw10(cdb, true, 40, 4);
	itt = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_W, sizeof(w), w, sizeof(w), NULL);
	r = wait_result(&ri, itt, NULL, 0);
	cr_assert_eq(r.status, 2, "status 0x%x: executed", r.status);
	cr_assert_eq(r.sense_key, 0xb);
	cr_assert_eq(r.asc, 0x0c);
	cr_assert_eq(r.ascq, 0x0c);
	read_ok(&ri, 40, rd, 4);
	cr_assert_eq(memcmp(rd, zero, sizeof(rd)), 0, "data was written");
	ri_close(&ri);
}

ParameterizedTestParameters(hostile, ahs_claims_more_than_total)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * Issue 8 item 10: a TEST UNIT READY whose one-word AHS area holds an AHS
 * claiming 65,535 bytes is a format error (RFC 7143 §11.2.2): Rejected,
 * never executed; the session goes on.
 */
ParameterizedTest(enum ev_kind *kind, hostile, ahs_claims_more_than_total,
		  .fini = inproc_down, .timeout = 60)
{
	uint8_t pdu[BHS_LEN + 4] = { 0 }, rd[BLK];
	struct ri_pdu p;
	struct ri ri;
	uint32_t ping;
	int rc;

	inproc_up(*kind, 0, 0);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	login_as(&ri);
	pdu[BHS_OPCODE] = OP_SCSI_CMD;
	pdu[BHS_FLAGS] = BHS_F | 0x01;
	pdu[BHS_AHSLEN] = 1;			/* one word of AHS */
	put_be64(pdu + BHS_LUN, ri_lun(1));
	put_be32(pdu + BHS_ITT, 0x7001);
	put_be32(pdu + BHS_CMDSN, ri.cmdsn++);
	put_be32(pdu + BHS_EXPSTATSN, ri.expstatsn);
	/* CDB: TEST UNIT READY (zeroes); AHS: length 65535, type 1 */
	put_be16(pdu + BHS_LEN, 0xffff);
	pdu[BHS_LEN + 2] = 1;
	/* ri_send writes a BHS; the AHS word goes as the first 4 "data"
	 * bytes with DataSegmentLength 0, which is what the wire needs */
	{
		int fd = ri.fd;
		ssize_t n = write(fd, pdu, sizeof(pdu));

		cr_assert_eq(n, (ssize_t)sizeof(pdu));
	}
	rc = ri_recv(&ri, &p, 5000);
	cr_assert_eq(rc, 0, "no answer (%d)", rc);
	cr_assert_eq(p.opcode, OP_REJECT, "got %s: the command was executed",
		     pdu_opcode_name(p.opcode));
	ping = ri_ping(&ri);
	rc = ri_recv(&ri, &p, 5000);
	cr_assert_eq(rc, 0);
	cr_assert(p.opcode == OP_NOP_IN && p.itt == ping, "got %s ITT 0x%x",
		  pdu_opcode_name(p.opcode), p.itt);
	read_ok(&ri, 0, rd, 1);
	ri_close(&ri);
}

ParameterizedTestParameters(hostile, several_outstanding_r2ts)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * Issue 8 item 7 (interop): MaxOutstandingR2T=4 and a 1 MiB WRITE with no
 * unsolicited data: the target sends 4 R2Ts at once (RFC 7143 §11.8); the
 * initiator answers them in order, each with its own TTT. The command
 * completes GOOD and the data reads back.
 */
ParameterizedTest(enum ev_kind *kind, hostile, several_outstanding_r2ts,
		  .fini = inproc_down, .timeout = 60)
{
	static uint8_t w[1 << 20], rd[1 << 20];
	struct { uint32_t ttt, off, len; } r2t[8];
	uint8_t cdb[10];
	struct ri_result r;
	struct ri_pdu p;
	struct ri ri;
	uint32_t itt, got = 0, blocks = sizeof(w) / BLK;

	inproc_up(*kind, 0, 0);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	ri.max_r2t = 4;
	login_as(&ri);
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 31 + (i >> 12));
	ri_cdb_rw10(cdb, true, 2048, (uint16_t)blocks);
	itt = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_W, sizeof(w), NULL, 0, NULL);
	/* all R2Ts come before any data is sent */
	while (got < 4) {
		cr_assert_eq(ri_recv(&ri, &p, 5000), 0, "only %u R2Ts", got);
		cr_assert_eq(p.opcode, OP_R2T, "got %s", pdu_opcode_name(p.opcode));
		r2t[got].ttt = get_be32(p.bhs + BHS_TTT);
		r2t[got].off = get_be32(p.bhs + BHS_BUFOFF);
		r2t[got].len = get_be32(p.bhs + BHS_RESID);
		got++;
	}
	for (uint32_t i = 0; i < got; i++) {
		cr_assert_leq(r2t[i].len, ri.tgt_mrdsl);
		cr_assert_eq(ri_data_out(&ri, 1, itt, r2t[i].ttt, 0, r2t[i].off,
					 w + r2t[i].off, r2t[i].len), 0);
	}
	r = wait_result(&ri, itt, NULL, 0);
	cr_assert_eq(r.status, 0, "WRITE status 0x%x key %x asc %02x", r.status,
		     r.sense_key, r.asc);
	for (uint32_t lba = 0; lba < blocks; lba += 256) {
		read_ok(&ri, 2048 + lba, rd + lba * BLK, 256);
	}
	cr_assert_eq(memcmp(rd, w, sizeof(w)), 0);
	ri_close(&ri);
}

ParameterizedTestParameters(hostile, failed_logins_take_no_session_id)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * Issue 8 item 3: TSIHs only for sessions that reach the full feature
 * phase, so failed logins cannot burn the 16-bit space (and wrap onto a
 * live session): 50 refused logins between two sessions leave their
 * TSIHs next to each other.
 */
ParameterizedTest(enum ev_kind *kind, hostile,
		  failed_logins_take_no_session_id, .fini = inproc_down,
		  .timeout = 60)
{
	struct ri a, b, x;

	inproc_up(*kind, 0, 0);
	cr_assert_eq(ri_connect(&a, inproc.port), 0);
	login_as(&a);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(ri_connect(&x, inproc.port), 0);
		cr_assert_eq(ri_login(&x, "iqn.2024-01.org.ringtgt:nosuch",
				      INPROC_INITIATOR), LOGIN_NOT_FOUND);
		ri_close(&x);
	}
	cr_assert_eq(ri_connect(&b, inproc.port), 0);
	login_as(&b);
	cr_assert_eq((uint16_t)(b.tsih - a.tsih), 1,
		     "TSIH %u then %u: failed logins took ids", a.tsih, b.tsih);
	ri_close(&a);
	ri_close(&b);
}

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%ld %ld", &pages, &rss), 2);
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

ParameterizedTestParameters(hostile, unread_output_is_bounded)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * Issue 8 item 1: a peer sends immediate NOP-Outs with 256 KiB of ping
 * data and never reads. The target stops reading it once its answers
 * pile up (memory stays bounded: well under what was sent), closes it
 * after tx_stall_timeout, and a bystander session's verified I/O goes on.
 */
ParameterizedTest(enum ev_kind *kind, hostile, unread_output_is_bounded,
		  .fini = inproc_down, .timeout = 90)
{
	static uint8_t ping[256 << 10];
	struct timeval tv = { .tv_usec = 300 * 1000 };
	uint8_t w[8 * BLK], rd[8 * BLK], cdb[10];
	struct ri bad, good;
	struct ri_result r;
	long before, after;
	uint64_t sent = 0, t0;
	uint32_t itt;
	int i, rc;

	inproc.tx_stall_timeout = 2;
	inproc_up(*kind, 0, 0);
	cr_assert_eq(ri_connect(&good, inproc.port), 0);
	login_as(&good);
	cr_assert_eq(ri_connect(&bad, inproc.port), 0);
	login_as(&bad);
	cr_assert_geq(bad.tgt_mrdsl, sizeof(ping));
	cr_assert_eq(setsockopt(bad.fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)), 0);
	memset(ping, 0x70, sizeof(ping));
	before = rss_kib();
	/* at most 1 GiB; a bounded target stops taking it long before */
	for (i = 0; i < 4096; i++) {
		uint8_t b[BHS_LEN] = { 0 };

		b[BHS_OPCODE] = OP_NOP_OUT | BHS_I;
		b[BHS_FLAGS] = BHS_F;
		put_be32(b + BHS_ITT, bad.itt++);
		put_be32(b + BHS_TTT, RSVD_TAG);
		put_be32(b + BHS_CMDSN, bad.cmdsn);
		if (ri_send(&bad, b, ping, sizeof(ping)) < 0)
			break;
		sent += sizeof(ping);
	}
	after = rss_kib();
	cr_assert_lt(i, 4096, "the target read 1 GiB of pings it could not "
		     "answer");
	cr_assert_lt(after - before, 64 * 1024, "RSS grew by %ld KiB after "
		     "%llu MiB of unread answers", after - before,
		     (unsigned long long)(sent >> 20));

	/* the bystander works meanwhile */
	memset(w, 0x6b, sizeof(w));
	ri_cdb_rw10(cdb, true, 300, 8);
	itt = ri_scsi_cmd(&good, 1, cdb, 10, CMD_W, sizeof(w), w, sizeof(w),
			  NULL);
	r = wait_result(&good, itt, NULL, 0);
	cr_assert_eq(r.status, 0);
	read_ok(&good, 300, rd, 8);
	cr_assert_eq(memcmp(rd, w, sizeof(w)), 0);

	/*
	 * and the connection that reads nothing is closed: without reading
	 * (that would make it a reader), wait for the target's FIN
	 */
	t0 = ri_now_ms();
	rc = 0;
	while (ri_now_ms() - t0 < 20000) {
		struct pollfd pf = { .fd = bad.fd, .events = POLLRDHUP };

		if (poll(&pf, 1, 200) > 0 && (pf.revents & (POLLRDHUP |
							    POLLHUP | POLLERR))) {
			rc = 1;
			break;
		}
	}
	cr_assert_eq(rc, 1, "the connection that reads nothing is still "
		     "open after %llu ms",
		     (unsigned long long)(ri_now_ms() - t0));
	ri_close(&bad);
	ri_close(&good);
}

ParameterizedTestParameters(hostile, huge_allocation_length)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * SPC-4 §4.2.5.6: an allocation length is only an upper limit. REPORT
 * LUNS with ALLOCATION LENGTH FFFFFFFFh (and a 4 KiB expected length)
 * answers GOOD with the LUN list, never INVALID FIELD IN CDB.
 */
ParameterizedTest(enum ev_kind *kind, hostile, huge_allocation_length,
		  .fini = inproc_down, .timeout = 60)
{
	uint8_t cdb[12] = { 0xa0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 };
	uint8_t d[4096];
	struct ri_result r;
	struct ri ri;
	uint32_t itt;

	inproc_up(*kind, 0, 0);
	cr_assert_eq(ri_connect(&ri, inproc.port), 0);
	login_as(&ri);
	itt = ri_scsi_cmd(&ri, 0, cdb, 12, CMD_R, sizeof(d), NULL, 0, NULL);
	r = wait_result(&ri, itt, d, sizeof(d));
	cr_assert_eq(r.status, 0, "status 0x%x key %x asc %02x", r.status,
		     r.sense_key, r.asc);
	cr_assert_eq(get_be32(d), 16u, "LUN LIST LENGTH for LUNs 0 and 1");
	ri_close(&ri);
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

ParameterizedTestParameters(hostile, descriptor_limit)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

/*
 * Issue 8 item 5: with the descriptor limit reached and connections
 * waiting, accept must not spin (it burned ~2 s of CPU per 3 s and
 * flooded the log) and the target must recover once descriptors are free
 * again. Client and server share this process's limit here.
 */
ParameterizedTest(enum ev_kind *kind, hostile, descriptor_limit,
		  .fini = inproc_down, .timeout = 90)
{
	struct rlimit old, low;
	int fill[256], n = 0, status, saved_err, logfd;
	char logpath[64];
	struct ri again;
	double c0, c1;
	pid_t child;

	inproc_up(*kind, 0, 0);
	/* the target's log goes to a file meanwhile, to be counted */
	fflush(stderr);
	saved_err = dup(2);
	cr_assert_geq(saved_err, 0);
	snprintf(logpath, sizeof(logpath), "/tmp/ringtgt-emfile-%d.log",
		 (int)getpid());
	logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(logfd, 0);
	dup2(logfd, 2);
	close(logfd);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)open_fds() + 16;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	/* the target (this process) has no descriptor left ... */
	while (n < 256 && (fill[n] = open("/dev/null", O_RDONLY)) >= 0)
		n++;
	cr_assert_lt(n, 256, "the limit was never reached");
	/* ... while another process's connections wait in its backlog */
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons((uint16_t)inproc.port) };

		for (int i = 0; i < n; i++)
			close(fill[i]);
		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		for (int i = 0; i < 8; i++) {
			int fd = socket(AF_INET, SOCK_STREAM, 0);

			if (fd >= 0)
				(void)connect(fd, (struct sockaddr *)&sa,
					      sizeof(sa));
		}
		sleep(4);
		_exit(0);
	}
	usleep(500 * 1000);
	c0 = cpu_s();
	usleep(2000 * 1000);
	c1 = cpu_s();
	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	for (int i = 0; i < n; i++)
		close(fill[i]);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	waitpid(child, &status, 0);
	{
		FILE *f = fopen(logpath, "r");
		char line[512];
		unsigned lines = 0;

		cr_assert_not_null(f);
		while (fgets(line, sizeof(line), f))
			if (strstr(line, "accept on"))
				lines++;
		fclose(f);
		unlink(logpath);
		/* one warning per 10 s, not one per attempt */
		cr_assert_leq(lines, 2u, "%u accept warnings in 2.5 s", lines);
	}
	/* a spinning accept loop uses a whole core: ~2 s here */
	cr_assert_lt(c1 - c0, 1.0, "%.2f s of CPU in 2 s at the descriptor "
		     "limit: the accept loop spins", c1 - c0);
	/* recovered: a new session logs in (the tick re-arms within ~1 s) */
	for (int attempt = 0; attempt < 20; attempt++) {
		int rc;

		cr_assert_eq(ri_connect(&again, inproc.port), 0);
		rc = ri_login(&again, INPROC_IQN, INPROC_INITIATOR);
		if (rc == 0)
			break;
		ri_close(&again);
		cr_assert_lt(attempt, 19, "no login after the limit was lifted "
			     "(%d)", rc);
		usleep(500 * 1000);
	}
	{
		uint8_t rd[BLK];

		read_ok(&again, 0, rd, 1);
	}
	ri_close(&again);
}
