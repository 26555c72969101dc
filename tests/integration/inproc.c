/*
 * inproc.c - see inproc.h. Server start and stop follow test_tmf.c.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing/bs.h"
#include "base/base.h"
#include "base/log.h"
#include "core/core.h"
#include "inproc.h"
#include "iscsi/iscsi.h"
#include "scsi/scsi.h"

struct inproc inproc;

int inproc_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	cr_assert_geq(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

void inproc_up(enum ev_kind kind, unsigned nop_interval, unsigned nop_timeout)
{
	struct core_lun_spec ctl = { .type = SCSI_LU_CONTROLLER };
	struct core_lun_spec ram = { .type = SCSI_LU_DISK, .backing = "ram",
				     .size = INPROC_LUN_SIZE };
	struct iscsi_settings set;
	struct core_err err = { "" };
	struct tgt_target *t;
	struct scsi_lu *lu;
	char addr[64], perr[256] = "";
	int rc = -1;

	ram.no_tas = inproc.no_tas;
	log_init("inproc", true, LOG_LVL_WARN);
	core_init();
	cr_assert_eq(core_target_add(INPROC_IQN, 0, NULL, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(core_lun_add(INPROC_IQN, 0, &ctl, &err), 0, "%s", err.msg);
	cr_assert_eq(core_lun_add(INPROC_IQN, 1, &ram, &err), 0, "%s", err.msg);
	cr_assert_eq(core_acl_add(INPROC_IQN, "ALL", &err), 0, "%s", err.msg);

	t = core_target_find(INPROC_IQN);
	cr_assert_not_null(t);
	lu = scsi_target_get_lu(core_target_scsi(t), 1);
	cr_assert_not_null(lu);
	inproc.bs = scsi_lu_bs(lu);
	cr_assert_not_null(inproc.bs);
	scsi_lu_put(lu);	/* the target keeps the LU (and store) alive */
	core_target_put(t);

	iscsi_settings_default(&set);
	set.reactors = 2;
	set.event_loop = kind;
	set.nop_interval = nop_interval;
	set.nop_timeout = nop_timeout;
	set.login_timeout = INPROC_LOGIN_TIMEOUT;
	if (inproc.tmf_timeout)
		set.tmf_timeout = inproc.tmf_timeout;
	if (inproc.cmd_window)
		set.cmd_window = inproc.cmd_window;
	if (inproc.tx_stall_timeout)
		set.tx_stall_timeout = inproc.tx_stall_timeout;
	if (inproc.login_timeout)
		set.login_timeout = inproc.login_timeout;
	set.max_connections = inproc.max_connections;
	set.max_conns_per_source = inproc.max_conns_per_source;
	set.max_conns_per_target = inproc.max_conns_per_target;
	set.max_sessions_per_target = inproc.max_sessions_per_target;
	set.buf_conn_max = inproc.buf_conn_max;
	set.buf_total_max = inproc.buf_total_max;
	rc = iscsi_start(&set);
	if (rc < 0 && kind == EV_IO_URING) {
		core_shutdown();
		cr_skip_test("io_uring unavailable (%s)", strerror(-rc));
	}
	cr_assert_eq(rc, 0, "iscsi_start: %s", strerror(-rc));
	inproc.up = true;
	for (int i = 0; i < 20; i++) {
		inproc.port = inproc_free_port();
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", inproc.port);
		rc = iscsi_portal_add(addr, perr, sizeof(perr));
		if (rc != -EADDRINUSE)
			break;
	}
	cr_assert_eq(rc, 0, "portal %s: %s", addr, perr);
}

void inproc_down(void)
{
	if (!inproc.up)
		return;
	iscsi_stop();
	core_shutdown();
	inproc.up = false;
}

void inproc_login(struct ri_dg *d, bool hd, bool dd)
{
	int rc = ri_dg_login(d, inproc.port, INPROC_IQN, INPROC_INITIATOR, hd,
			     dd);

	cr_assert_eq(rc, 0, "login (HeaderDigest %s, DataDigest %s): %d",
		     hd ? "CRC32C" : "None", dd ? "CRC32C" : "None", rc);
	cr_assert_geq(d->ri.tgt_mrdsl, 512u);
}

void inproc_fill(uint8_t *b, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

void inproc_write(struct ri_dg *d, uint32_t lba, const uint8_t *buf,
		  uint16_t blocks)
{
	uint32_t len = blocks * INPROC_BLK;
	uint8_t bhs[BHS_LEN], cdb[10];
	struct ri_result r;
	uint32_t itt;

	cr_assert_leq(len, d->ri.tgt_mrdsl, "write larger than one PDU");
	ri_cdb_rw10(cdb, true, lba, blocks);
	ri_build_scsi_cmd(&d->ri, bhs, 1, cdb, 10, CMD_W, len);
	itt = get_be32(bhs + BHS_ITT);
	cr_assert_eq(ri_dg_send(d, bhs, buf, len, 0), 0);
	cr_assert_eq(ri_dg_wait_cmd(d, itt, NULL, 0, &r, 5000, NULL), 0,
		     "WRITE ITT 0x%x: no answer", itt);
	cr_assert_eq(r.status, 0, "WRITE status 0x%x sense %x/%02x", r.status,
		     r.sense_key, r.asc);
}

int inproc_read(struct ri_dg *d, uint64_t lun, uint32_t lba, uint8_t *buf,
		uint16_t blocks)
{
	uint8_t bhs[BHS_LEN], cdb[10];
	struct ri_result r = { .status = -1 };

	for (int attempt = 0; attempt < 2; attempt++) {
		uint32_t itt;
		int rc;

		ri_cdb_rw10(cdb, false, lba, blocks);
		ri_build_scsi_cmd(&d->ri, bhs, lun, cdb, 10, CMD_R,
				  blocks * INPROC_BLK);
		itt = get_be32(bhs + BHS_ITT);
		cr_assert_eq(ri_dg_send(d, bhs, NULL, 0, 0), 0);
		rc = ri_dg_wait_cmd(d, itt, buf, blocks * INPROC_BLK, &r, 5000,
				    NULL);
		cr_assert_eq(rc, 0, "READ ITT 0x%x: %d", itt, rc);
		if (r.status == 2 && r.sense_key == 6)
			continue;	/* UNIT ATTENTION */
		if (r.status == 0)
			cr_assert_eq(r.data_len, (uint32_t)blocks * INPROC_BLK);
		return r.status;
	}
	return r.status;
}

void inproc_store_read(uint64_t off, void *buf, uint32_t len)
{
	struct iovec iov = { buf, len };
	struct bs_io io = { .op = BS_READ, .iov = &iov, .iovcnt = 1,
			    .offset = off, .len = len };

	cr_assert_eq(bs_submit(inproc.bs, &io), BS_DONE);
	cr_assert_eq(io.result, (int)len);
}

/* --- the bystander ---------------------------------------------------------- */

#define BYSTANDER_BLOCKS 8u

static void bystander_fail(struct inproc_bystander *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bystander_fail(struct inproc_bystander *b, const char *fmt, ...)
{
	va_list ap;

	if (b->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(b->error, sizeof(b->error), fmt, ap);
	va_end(ap);
}

/* One command (already sent as @itt), timed from @t0; false on failure. */
static bool bystander_wait(struct inproc_bystander *b, struct ri *ri,
			   uint32_t itt, uint64_t t0, void *buf, uint32_t cap,
			   const char *what)
{
	struct ri_result r;
	uint64_t ms;
	int rc;

	if (itt == RSVD_TAG) {
		bystander_fail(b, "%s: cannot send", what);
		return false;
	}
	/* well past the bound, so a slow answer is measured, not lost */
	rc = ri_wait_cmd(ri, itt, buf, cap, &r, 3 * INPROC_BYSTANDER_MAX_MS,
			 NULL);
	ms = ri_now_ms() - t0;
	if (rc) {
		bystander_fail(b, "%s: no answer after %llu ms (%d)", what,
			       (unsigned long long)ms, rc);
		return false;
	}
	if (r.status != 0 || (cap && r.data_len != cap)) {
		bystander_fail(b, "%s: status 0x%x sense %x/%02x/%02x, %u bytes",
			       what, r.status, r.sense_key, r.asc, r.ascq,
			       r.data_len);
		return false;
	}
	if (ms > atomic_load(&b->max_ms))
		atomic_store(&b->max_ms, (unsigned)ms);
	return true;
}

static void *bystander_main(void *arg)
{
	struct inproc_bystander *b = arg;
	static _Thread_local uint8_t w[BYSTANDER_BLOCKS * INPROC_BLK],
		rd[BYSTANDER_BLOCKS * INPROC_BLK];
	struct ri ri;
	uint8_t cdb[10];
	int rc;

	rc = ri_connect(&ri, inproc.port);
	if (rc == 0) {
		ri.isid_q = 0xb5;
		rc = ri_login(&ri, INPROC_IQN, INPROC_INITIATOR);
	}
	if (rc) {
		bystander_fail(b, "login: %d", rc);
		ri_close(&ri);
		return NULL;
	}
	/* bounded by stop, which the test sets (or its process ends) */
	for (uint8_t round = 1; !atomic_load(&b->stop); round++) {
		uint64_t t0;
		uint32_t itt;

		inproc_fill(w, sizeof(w), round);
		ri_cdb_rw10(cdb, true, b->lba, BYSTANDER_BLOCKS);
		t0 = ri_now_ms();
		itt = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_W, sizeof(w), w,
				  sizeof(w), NULL);
		if (!bystander_wait(b, &ri, itt, t0, NULL, 0, "WRITE"))
			break;
		atomic_fetch_add(&b->cmds, 1);
		memset(rd, 0, sizeof(rd));
		ri_cdb_rw10(cdb, false, b->lba, BYSTANDER_BLOCKS);
		t0 = ri_now_ms();
		itt = ri_scsi_cmd(&ri, 1, cdb, 10, CMD_R, sizeof(rd), NULL, 0,
				  NULL);
		if (!bystander_wait(b, &ri, itt, t0, rd, sizeof(rd), "READ"))
			break;
		if (memcmp(rd, w, sizeof(w)) != 0) {
			bystander_fail(b, "round %u: the data read back differs "
				       "from what was written", round);
			break;
		}
		atomic_fetch_add(&b->cmds, 1);
		usleep(2000);	/* steady, without taking a whole core */
	}
	ri_close(&ri);
	return NULL;
}

void inproc_bystander_start(struct inproc_bystander *b, uint32_t lba)
{
	memset(b, 0, sizeof(*b));
	b->lba = lba;
	cr_assert_eq(pthread_create(&b->thread, NULL, bystander_main, b), 0);
	b->running = true;
	/* logged in and doing I/O before the attack starts */
	for (int i = 0; i < 500 && inproc_bystander_cmds(b) < 2 &&
			!b->error[0]; i++)
		usleep(10 * 1000);
	cr_assert_geq(inproc_bystander_cmds(b), 2u, "the bystander did no "
		      "I/O: %s", b->error);
}

unsigned inproc_bystander_cmds(struct inproc_bystander *b)
{
	return atomic_load(&b->cmds);
}

void inproc_bystander_stop(struct inproc_bystander *b)
{
	if (!b->running)
		return;
	atomic_store(&b->stop, true);
	pthread_join(b->thread, NULL);
	b->running = false;
	cr_assert_eq(b->error[0], '\0', "bystander after %u commands: %s",
		     inproc_bystander_cmds(b), b->error);
	cr_assert_lt(atomic_load(&b->max_ms), INPROC_BYSTANDER_MAX_MS,
		     "a bystander command took %u ms",
		     atomic_load(&b->max_ms));
}

long inproc_rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%ld %ld", &pages, &rss), 2);
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

int inproc_server_fd(const struct ri *ri)
{
	struct sockaddr_in mine;
	socklen_t len = sizeof(mine);

	cr_assert_eq(getsockname(ri->fd, (struct sockaddr *)&mine, &len), 0);
	for (int tries = 0; tries < 200; tries++) {
		DIR *dir = opendir("/proc/self/fd");
		struct dirent *de;
		int found = -1;

		cr_assert_not_null(dir);
		while ((de = readdir(dir)) && found < 0) {
			struct sockaddr_in peer;
			struct stat st;
			int fd = atoi(de->d_name);

			len = sizeof(peer);
			if (fd == ri->fd || fd == dirfd(dir) ||
			    fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
			    getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
				continue;
			if (peer.sin_family == AF_INET &&
			    peer.sin_port == mine.sin_port &&
			    peer.sin_addr.s_addr == mine.sin_addr.s_addr)
				found = fd;
		}
		closedir(dir);
		if (found >= 0)
			return found;
		usleep(10000);
	}
	return -1;
}

void inproc_pin_socket_buffers(const struct ri *ri, int bytes)
{
	int sfd = inproc_server_fd(ri);

	cr_assert_geq(sfd, 0, "the server side of the connection not found");
	/* set explicitly, a buffer is locked: autotuning no longer grows it */
	cr_assert_eq(setsockopt(ri->fd, SOL_SOCKET, SO_RCVBUF, &bytes,
				sizeof(bytes)), 0);
	cr_assert_eq(setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &bytes,
				sizeof(bytes)), 0);
}
