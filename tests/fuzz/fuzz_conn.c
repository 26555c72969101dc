/*
 * fuzz_conn.c - see fuzz_conn.h. The reactor is never run by
 * reactor_run(): fc_run() calls its backend's poll with a zero timeout
 * and drains its posts, on the fuzzer's thread, until a turn moves no
 * byte either way; the server thread the connection belongs to is a
 * struct of this file (no portal, no accept, no tick).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backing/bs.h"
#include "base/base.h"
#include "base/log.h"
#include "core/core.h"
#include "fuzz_conn.h"
#include "iscsi/digest.h"
#include "iscsi/iscsi_internal.h"
#include "reactor/reactor_internal.h"
#include "scsi/scsi.h"

const char *fc_name = "fuzz";

static struct {
	bool up;
	struct reactor *r;
	struct iscsi_server_thread thr;
	struct bs *bs;
} fc_g;

struct fc {
	struct iscsi_settings set;
	struct iscsi_conn *c;
	int peer;
	bool target_closed;
	bool hd, dd;			/* digests, once negotiated */
	fc_pdu_fn *fn;
	void *ctx;
	uint8_t *in;			/* bytes from the target */
	size_t in_len, in_cap;
};

void fc_init(const char *name)
{
	struct core_lun_spec ctl = { .type = SCSI_LU_CONTROLLER };
	struct core_lun_spec ram = { .type = SCSI_LU_DISK, .backing = "ram",
				     .size = FC_LUN_SIZE, .block_size = FC_BLK };
	struct core_err err = { "" };
	struct tgt_target *t;
	struct scsi_lu *lu;

	fc_name = name;
	if (fc_g.up)
		return;
	log_init(name, true, getenv("FUZZ_TRACE") ? LOG_LVL_DEBUG : LOG_LVL_ERR);
	core_init();
	if (core_target_add(FC_TARGET, 0, NULL, &err) < 0 ||
	    core_lun_add(FC_TARGET, 0, &ctl, &err) < 0 ||
	    core_lun_add(FC_TARGET, 1, &ram, &err) < 0 ||
	    core_acl_add(FC_TARGET, FC_ALLOWED, &err) < 0 ||
	    core_target_add(FC_OPEN, 0, NULL, &err) < 0 ||
	    core_lun_add(FC_OPEN, 0, &ctl, &err) < 0 ||
	    core_acl_add(FC_OPEN, "ALL", &err) < 0)
		fc_fail("registry: %s", err.msg);
	t = core_target_find(FC_TARGET);
	lu = t ? scsi_target_get_lu(core_target_scsi(t), 1) : NULL;
	if (!lu)
		fc_fail("no LUN 1");
	fc_g.bs = scsi_lu_bs(lu);
	scsi_lu_put(lu);
	core_target_put(t);
	fc_g.r = reactor_new(EV_EPOLL, 0);
	if (!fc_g.r)
		fc_fail("reactor: %s", strerror(errno));
	fc_g.thr.r = fc_g.r;
	list_init(&fc_g.thr.conns);
	list_init(&fc_g.thr.fences);
	fc_g.up = true;
}

void fc_store_rw(bool write, uint64_t off, void *buf, uint32_t len)
{
	struct iovec iov = { buf, len };
	struct bs_io io = { .op = write ? BS_WRITE : BS_READ, .iov = &iov,
			    .iovcnt = 1, .offset = off, .len = len };

	if (bs_submit(fc_g.bs, &io) != BS_DONE || io.result != (int)len)
		fc_fail("RAM store %s failed", write ? "write" : "read");
}

int fc_live(void)
{
	return fc_g.thr.nconns;
}

struct fc *fc_open(const struct iscsi_settings *set, fc_pdu_fn *fn, void *ctx)
{
	struct fc *f = calloc(1, sizeof(*f));
	int sv[2], big = 1 << 20;

	if (!f || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
			     SOCK_CLOEXEC, 0, sv) < 0)
		fc_fail("socketpair: %s", strerror(errno));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	f->set = *set;
	f->set.nop_interval = 0;
	f->fn = fn;
	f->ctx = ctx;
	f->peer = sv[1];
	fc_g.thr.set = &f->set;
	fc_g.r->now_ms = 1000;
	f->c = conn_new(fc_g.r, sv[0], &f->set);
	if (!f->c)
		fc_fail("conn_new failed");
	f->c->thr = &fc_g.thr;
	list_add_tail(&f->c->link, &fc_g.thr.conns);
	fc_g.thr.nconns++;
	return f;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Hands every complete PDU in f->in to the callback. */
static void parse_in(struct fc *f)
{
	size_t off = 0;

	for (;;) {
		const uint8_t *p = f->in + off;
		size_t avail = f->in_len - off, hlen, total;
		uint32_t dsl, pad;
		bool login_rsp, hd, dd;

		if (avail < 48)
			break;
		/* digests never on Login Responses (RFC 7143 §13.1) */
		login_rsp = (p[0] & 0x3f) == OP_LOGIN_RSP;
		hd = f->hd && !login_rsp;
		dd = f->dd && !login_rsp;
		if (p[4])
			fc_fail("target PDU opcode 0x%02x with an AHS", p[0]);
		dsl = (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
		pad = (4 - dsl % 4) % 4;
		hlen = 48 + (hd ? 4 : 0);
		total = hlen + dsl + pad + (dd && dsl ? 4 : 0);
		if (avail < total)
			break;
		if (hd && le32(p + 48) != crc32c(p, 48))
			fc_fail("target header digest wrong");
		if (dd && dsl && le32(p + hlen + dsl + pad) !=
				 crc32c(p + hlen, dsl + pad))
			fc_fail("target data digest wrong");
		for (uint32_t i = 0; i < pad; i++)
			if (p[hlen + dsl + i])
				fc_fail("pad bytes not zero");
		f->fn(f->ctx, p, p + hlen, dsl);
		off += total;
		/* the session's digests start after the last Login Response */
		if (login_rsp && (p[1] & 0x83) == 0x83 && !p[36] && !p[37] &&
		    f->c && fc_live()) {
			f->hd = f->c->params.header_digest;
			f->dd = f->c->params.data_digest;
		}
	}
	memmove(f->in, f->in + off, f->in_len - off);
	f->in_len -= off;
}

/* Reads what the target sent; returns the number of bytes. */
static size_t drain_peer(struct fc *f)
{
	size_t got = 0;

	for (;;) {
		ssize_t n;

		if (f->in_cap - f->in_len < 65536) {
			f->in_cap = f->in_cap ? 2 * f->in_cap : 262144;
			f->in = realloc(f->in, f->in_cap);
			if (!f->in)
				fc_fail("out of memory");
		}
		n = read(f->peer, f->in + f->in_len, f->in_cap - f->in_len);
		if (n > 0) {
			f->in_len += (size_t)n;
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			f->target_closed = true;
		else if (errno != EAGAIN && errno != ECONNRESET)
			fc_fail("read: %s", strerror(errno));
		else if (errno == ECONNRESET)
			f->target_closed = true;
		break;
	}
	if (got)
		parse_in(f);
	return got;
}

/* One turn of the loop; true when something moved. */
static bool turn(struct fc *f)
{
	int unread = 0;
	bool moved;

	fc_g.r->now_ms += 1;	/* no timeouts fire: they count seconds */
	fc_g.r->be->poll(fc_g.r, 0);
	if (atomic_load(&fc_g.r->post_pending))
		reactor_drain_posts(fc_g.r);
	moved = drain_peer(f) > 0;
	if (fc_live() && ioctl(f->c->fd, FIONREAD, &unread) == 0 && unread)
		moved = true;
	return moved;
}

void fc_run(struct fc *f)
{
	/* bounded: each turn moves bytes or ends the run */
	for (int idle = 0, i = 0; idle < 3 && i < 100000; i++)
		idle = turn(f) ? 0 : idle + 1;
}

void fc_send(struct fc *f, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (int tries = 0; len && tries < 100000; tries++) {
		/* no SIGPIPE when the target closed first */
		ssize_t n = send(f->peer, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			return;	/* EPIPE: the target closed; nothing to send to */
		turn(f);
	}
}

void fc_send_pdu(struct fc *f, const uint8_t bhs[48], const void *data,
		 uint32_t dsl)
{
	uint8_t hdr[52], tail[8] = { 0 };
	uint32_t pad = (4 - dsl % 4) % 4;
	bool login = (bhs[0] & 0x3f) == OP_LOGIN_REQ;
	bool hd = f->hd && !login, dd = f->dd && !login;

	memcpy(hdr, bhs, 48);
	hdr[5] = (uint8_t)(dsl >> 16);
	hdr[6] = (uint8_t)(dsl >> 8);
	hdr[7] = (uint8_t)dsl;
	if (hd)
		digest_put(hdr + 48, crc32c(hdr, 48));
	fc_send(f, hdr, hd ? 52 : 48);
	if (!dsl)
		return;
	fc_send(f, data, dsl);
	if (dd) {
		uint32_t crc = crc32c_update(crc32c_init(), data, dsl);

		crc = crc32c_update(crc, tail, pad);
		digest_put(tail + pad, crc32c_final(crc));
	}
	fc_send(f, tail, pad + (dd ? 4 : 0));
}

struct iscsi_conn *fc_conn(struct fc *f)
{
	return fc_live() ? f->c : NULL;
}

void fc_advance(struct fc *f, uint64_t ms)
{
	fc_g.r->now_ms += ms;
	/* what the reactor's tick (server.c thread_tick) does for it */
	if (f->c)
		conn_tick(f->c, fc_g.r->now_ms);
	fc_run(f);
}

bool fc_target_closed(struct fc *f)
{
	return f->target_closed;
}

void fc_close(struct fc *f)
{
	close(f->peer);
	f->c = NULL;
	for (int i = 0; i < 1000 && fc_live(); i++) {
		fc_g.r->now_ms += 1;
		fc_g.r->be->poll(fc_g.r, 0);
		if (atomic_load(&fc_g.r->post_pending))
			reactor_drain_posts(fc_g.r);
	}
	if (fc_live())
		fc_fail("the connection was not freed after its peer closed");
	free(f->in);
	free(f);
}
