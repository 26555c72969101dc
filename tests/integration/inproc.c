/*
 * inproc.c - see inproc.h. Server start and stop follow test_tmf.c.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backing/bs.h"
#include "base/base.h"
#include "base/log.h"
#include "core/core.h"
#include "inproc.h"
#include "iscsi/iscsi.h"
#include "scsi/scsi.h"

struct inproc inproc;

/* Returns a port that was free a moment ago. */
static int free_port(void)
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
	set.login_timeout = 5;
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
		inproc.port = free_port();
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
