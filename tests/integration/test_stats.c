/*
 * test_stats.c - the counters behind `tgtadm --op stat` (issue 12), in
 * process (inproc.h) over the raw initiator, on both event loops. A
 * known mix of commands on LUN 1 must move each counter of that I_T_L
 * nexus and of the connection by exactly what was sent and answered
 * (core.h: struct core_lu_stats, struct core_conn_stats), LUN 0 must
 * not move, and a second session's counters are its own.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <json-c/json.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "core/core.h"
#include "inproc.h"
#include "iscsi/iscsi.h"

#define PDU_HDR 48u	/* BHS, no AHS, no digests */

static void down(void)
{
	inproc_down();
}

static uint64_t ju(json_object *o, const char *key)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "no \"%s\"", key);
	return (uint64_t)json_object_get_int64(v);
}

/* One session's counters, by TSIH, from core_sessions_stats_json(). */
struct snap {
	uint64_t lu[2][9];	/* LUN 0, LUN 1: the fields below, in order */
	uint64_t conn[6];
};

static const char *const lu_keys[9] = {
	"read_submitted_bytes", "read_submitted_cmds", "read_done_bytes",
	"read_done_cmds", "write_submitted_bytes", "write_submitted_cmds",
	"write_done_bytes", "write_done_cmds", "errors",
};
static const char *const conn_keys[6] = {
	"rx_octets", "tx_octets", "cmd_pdus", "dataout_pdus", "datain_pdus",
	"rsp_pdus",
};

static struct snap snapshot(uint16_t tsih)
{
	json_object *all = core_sessions_stats_json(), *s = NULL, *st, *a;
	struct snap r;

	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *e = json_object_array_get_idx(all, i);

		if (ju(e, "tsih") == tsih)
			s = e;
	}
	cr_assert_not_null(s, "no session with TSIH %u", tsih);
	cr_assert(json_object_object_get_ex(s, "stats", &st));
	cr_assert(json_object_object_get_ex(st, "luns", &a));
	cr_assert_eq(json_object_array_length(a), 2u, "LUNs 0 and 1 listed");
	for (size_t i = 0; i < 2; i++) {
		json_object *l = json_object_array_get_idx(a, i);

		cr_assert_eq(ju(l, "lun"), i, "LUN order");
		for (int k = 0; k < 9; k++)
			r.lu[i][k] = ju(l, lu_keys[k]);
	}
	cr_assert(json_object_object_get_ex(st, "connections", &a));
	cr_assert_eq(json_object_array_length(a), 1u);
	for (int k = 0; k < 6; k++)
		r.conn[k] = ju(json_object_array_get_idx(a, 0), conn_keys[k]);
	json_object_put(all);
	return r;
}

/*
 * The counters once they stopped moving: the initiator can read an
 * answer before the target's send completion has counted it.
 */
static struct snap settled(uint16_t tsih)
{
	struct snap a = snapshot(tsih), b;

	for (int i = 0; i < 100; i++) {
		usleep(20 * 1000);
		b = snapshot(tsih);
		if (!memcmp(&a, &b, sizeof(a)))
			return b;
		a = b;
	}
	cr_assert_fail("session %u's counters still move after 2 s", tsih);
	return a;
}

/* WRITE(10) of one block on LUN 1, its data by R2T and one Data-Out. */
static void write_by_r2t(struct ri_dg *d, uint32_t lba, const uint8_t *buf)
{
	struct ri_result res;
	struct ri_pdu p;
	uint8_t cdb[10];
	uint32_t itt;

	ri_cdb_rw10(cdb, true, lba, 1);
	itt = ri_scsi_cmd(&d->ri, 1, cdb, 10, CMD_W, INPROC_BLK, NULL, 0, NULL);
	cr_assert_eq(ri_recv(&d->ri, &p, 5000), 0);
	cr_assert_eq(p.opcode, OP_R2T, "got %s", pdu_opcode_name(p.opcode));
	cr_assert_eq(ri_data_out(&d->ri, 1, itt, get_be32(p.bhs + BHS_TTT), 0,
				 0, buf, INPROC_BLK), 0);
	cr_assert_eq(ri_wait_cmd(&d->ri, itt, NULL, 0, &res, 5000, NULL), 0);
	cr_assert_eq(res.status, 0, "WRITE by R2T: status 0x%x", res.status);
}

/* READ(10) of one block past the end: CHECK CONDITION, no data. */
static void read_past_end(struct ri_dg *d)
{
	struct ri_result res;
	uint8_t cdb[10];
	uint32_t itt;

	ri_cdb_rw10(cdb, false, INPROC_LUN_SIZE / INPROC_BLK, 1);
	itt = ri_scsi_cmd(&d->ri, 1, cdb, 10, CMD_R, INPROC_BLK, NULL, 0, NULL);
	cr_assert_eq(ri_wait_cmd(&d->ri, itt, NULL, 0, &res, 5000, NULL), 0);
	cr_assert_eq(res.status, 2, "past the end: status 0x%x", res.status);
	cr_assert_eq(res.data_len, 0u);
}

ParameterizedTestParameters(stats, counts_each_command)
{
	static enum ev_kind kinds[] = { EV_IO_URING, EV_EPOLL };
	return cr_make_param_array(enum ev_kind, kinds, ARRAY_SIZE(kinds));
}

ParameterizedTest(enum ev_kind *kind, stats, counts_each_command,
		  .fini = down, .timeout = 60)
{
	static uint8_t buf[2 * INPROC_BLK];
	struct ri_dg a, b;
	struct snap s0, s1, b0, b1;
	uint64_t tx, tx_min;

	inproc_up(*kind, 0, 0);
	inproc_login(&a, false, false);
	inproc_login(&b, false, false);
	/* the unit attention of the new nexus, out of the way */
	cr_assert_eq(inproc_read(&a, 1, 0, buf, 1), 0);
	cr_assert_eq(inproc_read(&b, 1, 0, buf, 1), 0);
	s0 = settled(a.ri.tsih);
	b0 = settled(b.ri.tsih);

	inproc_fill(buf, sizeof(buf), 7);
	for (int i = 0; i < 3; i++)
		inproc_write(&a, 16 + 2 * (uint32_t)i, buf, 2);	/* immediate */
	write_by_r2t(&a, 40, buf);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(inproc_read(&a, 1, (uint32_t)i, buf, 1), 0);
	read_past_end(&a);
	s1 = settled(a.ri.tsih);
	b1 = settled(b.ri.tsih);

	/* LUN 1: 5 reads of 512 asked, 4 moved; 4 writes, all moved */
	cr_assert_eq(s1.lu[1][0] - s0.lu[1][0], 5u * INPROC_BLK, "read bytes submitted");
	cr_assert_eq(s1.lu[1][1] - s0.lu[1][1], 5u, "reads submitted");
	cr_assert_eq(s1.lu[1][2] - s0.lu[1][2], 4u * INPROC_BLK, "read bytes done");
	cr_assert_eq(s1.lu[1][3] - s0.lu[1][3], 5u, "reads done");
	cr_assert_eq(s1.lu[1][4] - s0.lu[1][4], 7u * INPROC_BLK, "write bytes submitted");
	cr_assert_eq(s1.lu[1][5] - s0.lu[1][5], 4u, "writes submitted");
	cr_assert_eq(s1.lu[1][6] - s0.lu[1][6], 7u * INPROC_BLK, "write bytes done");
	cr_assert_eq(s1.lu[1][7] - s0.lu[1][7], 4u, "writes done");
	cr_assert_eq(s1.lu[1][8] - s0.lu[1][8], 1u, "errors");
	for (int k = 0; k < 9; k++)
		cr_assert_eq(s1.lu[0][k], 0u, "LUN 0's %s moved", lu_keys[k]);
	/* the other session saw none of it */
	cr_assert_eq(memcmp(&b0, &b1, sizeof(b0)), 0,
		     "another session's counters moved");

	/* the connection: every PDU above, and every octet received */
	cr_assert_eq(s1.conn[2] - s0.conn[2], 9u, "SCSI Command PDUs");
	cr_assert_eq(s1.conn[3] - s0.conn[3], 1u, "Data-Out PDUs");
	cr_assert_eq(s1.conn[4] - s0.conn[4], 4u, "Data-In PDUs (status in the last)");
	cr_assert_eq(s1.conn[5] - s0.conn[5], 5u, "SCSI Response PDUs");
	cr_assert_eq(s1.conn[0] - s0.conn[0],
		     9u * PDU_HDR + 3u * 2 * INPROC_BLK + PDU_HDR + INPROC_BLK,
		     "octets received");
	/* sent: 4 Data-In, 4 responses, one R2T, one response with sense */
	tx = s1.conn[1] - s0.conn[1];
	tx_min = 4u * (PDU_HDR + INPROC_BLK) + 4u * PDU_HDR + PDU_HDR +
		 PDU_HDR + 20u;
	cr_assert(tx >= tx_min && tx <= tx_min + 240u,
		  "octets sent: %lu, want %lu..%lu", (unsigned long)tx,
		  (unsigned long)tx_min, (unsigned long)tx_min + 240u);
	ri_close(&a.ri);
	ri_close(&b.ri);
}
