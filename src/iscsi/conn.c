/*
 * conn.c - one iSCSI connection on one reactor: receiving (the framing is
 * pdu_rx.c's: header, then data segment, digests checked before dispatch)
 * and dispatch through the opcode table, the
 * transmit queue (PDUs gathered into one sendmsg per batch), liveness
 * (NOP-In pings) and the connection's lifecycle.
 *
 * A connection is never freed inside one of its own callbacks' callees:
 * conn_close() marks it CONN_CLOSING and shuts the socket down; it is
 * freed by conn_maybe_free() once its receive, send and SCSI operations
 * have all completed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "digest.h"
#include "iscsi_internal.h"
#include "tparams.h"

/*
 * Output a peer may leave unread before we stop reading its requests
 * (NOP-In echoes, Rejects, Text Responses all answer requests): reading
 * resumes below the low mark, and a connection stuck above the high one
 * for tx_stall_timeout is closed. So no peer makes the queue grow without
 * bound by sending and never reading (issue 8, item 1).
 */
#define TX_CTL_HIGH (4u << 20)
#define TX_CTL_LOW (1u << 20)

static void conn_rx_arm(struct iscsi_conn *c);
static void conn_rx_done(struct ev_op *op, int res);
static void conn_tx_done(struct ev_op *op, int res);
static void conn_send_window_update(struct iscsi_conn *c);
static void conn_rx_resume(struct iscsi_conn *c);

/*
 * A dual-stack portal ([::]) sees IPv4 peers as ::ffff:a.b.c.d, on both
 * ends of the connection. Turned back into the IPv4 address they are, so
 * logs, session lists and SendTargets' TargetAddress (RFC 7143 §13.8)
 * show "a.b.c.d:port", what an IPv4-only initiator can connect to.
 */
void conn_addr_unmap(struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const void *)ss;
	struct sockaddr_in s4 = { .sin_family = AF_INET };

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
}

void conn_addr_str(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
		port = ntohs(s->sin_port);
		snprintf(out, len, "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
		port = ntohs(s->sin6_port);
		snprintf(out, len, "[%s]:%u", host, port);
	} else {
		snprintf(out, len, "?");
	}
}

struct iscsi_conn *conn_new(struct reactor *r, int fd,
			    const struct iscsi_settings *set)
{
	struct iscsi_conn *c = calloc(1, sizeof(*c));
	uint8_t *rx_buf;
	size_t rx_cap;
	socklen_t sl;
	int one = 1;

	if (!c)
		return NULL;
	c->r = r;
	c->fd = fd;
	c->set = set;
	c->tpgt = 1;	/* the portal's group, set by the server */
	c->state = CONN_LOGIN;
	list_init(&c->txq);
	list_init(&c->active);
	list_init(&c->bw_link);
	text_params_default(&c->params);
	/* the portal-wide values; a normal session's target may change them */
	tparams_base(set, &c->limits);
	/*
	 * Login PDUs are at most 8192 bytes until the initiator hears our
	 * declaration (RFC 7143 §13.12): start with a buffer for those, so
	 * connections that never log in hold little; it grows for a
	 * larger login PDU and at the full feature phase (conn_rx_grow()).
	 */
	rx_cap = pdu_rx_buf_size(8192);
	rx_buf = malloc(rx_cap);
	if (!rx_buf) {
		free(c);
		return NULL;
	}
	pdu_rx_init(&c->rx, rx_buf, rx_cap);
	c->rx_full = pdu_rx_buf_size(MAX(set->max_recv_dsl, 8192));
	c->rx_op.done = conn_rx_done;
	c->tx_op.done = conn_tx_done;
	c->started_ms = c->last_rx_ms = c->tx_progress_ms = reactor_now_ms(r);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sl = sizeof(c->peer);
	getpeername(fd, (struct sockaddr *)&c->peer, &sl);
	sl = sizeof(c->local);
	getsockname(fd, (struct sockaddr *)&c->local, &sl);
	conn_addr_unmap(&c->peer);
	conn_addr_unmap(&c->local);
	conn_addr_str(&c->peer, c->peer_str, sizeof(c->peer_str));
	conn_addr_str(&c->local, c->local_str, sizeof(c->local_str));
	log_debug("connection from %s to %s", c->peer_str, c->local_str);
	conn_rx_arm(c);
	return c;
}

static void fill_sn(struct iscsi_conn *c, uint8_t *bhs, bool advance,
		    unsigned freeing)
{
	struct iscsi_session *s = c->sess;
	uint32_t exp = s ? s->exp_cmdsn : 0;

	put_be32(bhs + BHS_CMDSN, c->statsn);
	if (advance)
		c->statsn++;
	put_be32(bhs + BHS_EXPSTATSN, exp);
	put_be32(bhs + BHS_MAXCMDSN, s ? session_max_cmdsn(c, freeing) : exp);
}

void conn_fill_sn(struct iscsi_conn *c, uint8_t *bhs, bool advance)
{
	fill_sn(c, bhs, advance, 0);
}

void conn_fill_sn_last(struct iscsi_conn *c, uint8_t *bhs)
{
	/* the task this PDU ends is free once it is sent */
	fill_sn(c, bhs, true, 1);
}

/* --- closing ---------------------------------------------------------- */

void conn_close(struct iscsi_conn *c, const char *why)
{
	if (c->state == CONN_CLOSING)
		return;
	if (why)
		conn_info(c, "closing connection %s -> %s: %s", c->peer_str,
			  c->local_str, why);
	c->state = CONN_CLOSING;
	server_conn_closing(c);
	reactor_socket_shutdown(c->r, c->fd);
	tasks_abort_all(c);
	conn_maybe_free(c);
}

static void txq_drop_all(struct iscsi_conn *c)
{
	while (!list_empty(&c->txq)) {
		struct tx_item *it = list_first_entry(&c->txq, struct tx_item,
						      link);

		list_del(&it->link);
		it->queued = false;
		it->sent(c, it, true);
	}
}

void conn_logged_out(struct iscsi_conn *c)
{
	c->state = CONN_LOGGED_OUT;
	c->logged_out_ms = reactor_now_ms(c->r);
}

void conn_maybe_free(struct iscsi_conn *c)
{
	if (c->state != CONN_CLOSING || c->rx_pending || c->tx_pending ||
	    c->holds)
		return;
	txq_drop_all(c);
	/* tasks in the store, fences that will answer through us */
	if (c->io_inflight || c->fences_waiting)
		return;
	/* every task is back in the pool: nothing refers to us any more */
	list_del(&c->link);
	list_del(&c->bw_link);	/* no task waits for a buffer any more */
	reactor_socket_close(c->r, c->fd);
	if (c->sess) {
		conn_info(c, "session %u closed", c->sess->tsih);
		session_free(c->sess);
		c->sess = NULL;
	}
	login_free(c);
	tasks_free(c);
	server_conn_gone(c);
	free(c->text_buf);
	free(c->rx.buf);
	free(c);
}

/* --- receive ------------------------------------------------------------ */

static void conn_rx_arm(struct iscsi_conn *c)
{
	uint8_t *p;
	size_t len;
	int rc;

	if (c->state == CONN_CLOSING || c->rx_pending || c->rx_paused)
		return;
	pdu_rx_space(&c->rx, &p, &len);
	rc = reactor_recv(c->r, c->fd, p, len, &c->rx_op);
	if (rc < 0) {
		conn_close(c, "cannot post receive");
		return;
	}
	c->rx_pending = true;
}

/*
 * Full feature phase requests (RFC 7143 §11): one row per initiator
 * opcode; a missing row is answered with a Reject (command not
 * supported). @normal: not in a discovery session (§4.3: it carries only
 * Text, NOP and Logout).
 */
static const struct {
	pdu_handler_fn *fn;
	bool normal;
} ffp_ops[64] = {
	[OP_NOP_OUT] = { nop_out_handle, false },
	[OP_SCSI_CMD] = { cmd_handle, true },
	[OP_TMF_REQ] = { tmf_handle, true },
	[OP_TEXT_REQ] = { text_handle, false },
	[OP_DATA_OUT] = { data_out_handle, true },
	[OP_LOGOUT_REQ] = { logout_handle, false },
	/* OP_SNACK: ERL 0 has no SNACK (§11.16); OP_LOGIN_REQ: §6.3 */
};

static void dispatch(struct iscsi_conn *c, const struct bhs *h,
		     const uint8_t *data)
{
	if (c->state == CONN_LOGIN) {
		if (h->opcode == OP_LOGIN_REQ) {
			login_handle(c, h, data);
			return;
		}
		/* RFC 7143 §6.3: only Login Requests before the FFP */
		conn_close(c, "non-login PDU during login");
		return;
	}
	if (c->state != CONN_FFP)
		return;
	if (!ffp_ops[h->opcode].fn) {
		conn_send_reject(c, h->raw, h->opcode == OP_LOGIN_REQ ?
				 REJECT_PROTOCOL_ERROR : REJECT_CMD_NOT_SUPPORTED);
		return;
	}
	if (ffp_ops[h->opcode].normal && c->sess->discovery) {
		conn_send_reject(c, h->raw, REJECT_PROTOCOL_ERROR);
		return;
	}
	ffp_ops[h->opcode].fn(c, h, data);
}

/* What frames the next PDU: digests and the data limit in force. */
static void rx_cfg(const struct iscsi_conn *c, struct pdu_rx_cfg *cfg)
{
	/* digests start after the last Login Response (RFC 7143 §13.1) */
	cfg->header_digest = c->state != CONN_LOGIN && c->params.header_digest;
	cfg->data_digest = c->state != CONN_LOGIN && c->params.data_digest;
	/* during login the limit is the 8192-byte default */
	cfg->max_dsl = c->state == CONN_LOGIN ?
		MAX(8192u, c->limits.max_recv_dsl) : c->params.max_recv_dsl_tgt;
}

/*
 * Gives the receive buffer room for PDUs of our declared
 * MaxRecvDataSegmentLength, keeping the bytes not yet consumed; no frame
 * may point into the old buffer. False when there is no memory.
 */
static bool conn_rx_grow(struct iscsi_conn *c)
{
	size_t cap = pdu_rx_buf_size(MAX(c->limits.max_recv_dsl, 8192));
	size_t n = pdu_rx_pending(&c->rx);
	uint8_t *buf;

	if (c->rx.cap >= cap)
		return true;
	buf = malloc(cap);
	if (!buf)
		return false;
	memcpy(buf, c->rx.buf + c->rx.start, n);
	free(c->rx.buf);
	pdu_rx_init(&c->rx, buf, cap);
	pdu_rx_commit(&c->rx, n);
	return true;
}

/*
 * Parses and dispatches every complete PDU in the buffer. Returns false
 * when the connection must close.
 */
static bool rx_process(struct iscsi_conn *c)
{
	while (c->state != CONN_CLOSING) {
		const uint8_t *next = c->rx.buf + c->rx.start;
		struct pdu_rx_cfg cfg;
		struct pdu_rx_frame f;

		if (c->ctl_bytes > TX_CTL_HIGH) {
			/* the peer does not read what we answer: stop */
			if (!c->rx_paused) {
				c->rx_paused = true;
				c->rx_paused_ms = reactor_now_ms(c->r);
				conn_warn(c, "%s: %zu bytes of responses "
					  "unread; not reading until they go out",
					  c->peer_str, c->ctl_bytes);
			}
			break;
		}
		rx_cfg(c, &cfg);
		switch (pdu_rx_next(&c->rx, &cfg, &f)) {
		case PDU_RX_MORE:
			return true;
		case PDU_RX_PDU:
			if (f.h.opcode == OP_SCSI_CMD)
				core_stat_add(&c->stats.cmd_pdus, 1);
			else if (f.h.opcode == OP_DATA_OUT)
				core_stat_add(&c->stats.dataout_pdus, 1);
			c->last_rx_ms = reactor_now_ms(c->r);
			c->nop_outstanding = false;
			dispatch(c, &f.h, f.data);
			/* the frame is done with: full size for the FFP */
			if (unlikely(c->state == CONN_FFP &&
				     c->rx.cap < c->rx_full) &&
			    !conn_rx_grow(c)) {
				conn_close(c, "out of memory");
				return false;
			}
			break;
		case PDU_RX_DATA_DIGEST:
			/* after the Logout Response nothing more is sent */
			if (c->state != CONN_FFP)
				break;
			conn_warn(c, "%s: data digest error on %s", c->peer_str,
				  pdu_opcode_name(f.h.opcode));
			/* RFC 7143 §7.8: Reject and discard */
			conn_send_reject(c, f.h.raw, REJECT_DATA_DIGEST);
			if (f.h.opcode == OP_DATA_OUT)
				data_out_digest_error(c, &f.h);
			break;
		case PDU_RX_BAD_HEADER:
			conn_warn(c, "%s: bad PDU header (opcode 0x%02x)",
				  c->peer_str, next[0]);
			/* RFC 7143 §7.1.3: the framing cannot be trusted */
			conn_close(c, "protocol error");
			return false;
		case PDU_RX_TOO_LONG:
			/* a login PDU within the limit, beyond the small
			 * buffer: grow it, nothing was consumed */
			if (c->rx.cap < c->rx_full &&
			    get_be24(next + BHS_DSL) <= cfg.max_dsl) {
				if (conn_rx_grow(c))
					continue;
				conn_close(c, "out of memory");
				return false;
			}
			conn_warn(c, "%s: %s with %u data bytes exceeds %u",
				  c->peer_str, pdu_opcode_name(next[0] & 0x3f),
				  get_be24(next + BHS_DSL), cfg.max_dsl);
			conn_close(c, "data segment too long");
			return false;
		case PDU_RX_HEADER_DIGEST:
			/* ERL 0: a bad header digest ends the connection
			 * (RFC 7143 §7.8) */
			conn_close(c, "header digest error");
			return false;
		}
	}
	return c->state != CONN_CLOSING;
}

static void conn_rx_done(struct ev_op *op, int res)
{
	struct iscsi_conn *c = container_of(op, struct iscsi_conn, rx_op);
	bool ok;

	c->rx_pending = false;
	if (c->state == CONN_CLOSING) {
		conn_maybe_free(c);
		return;
	}
	if (res <= 0) {
		if (res == 0)
			conn_close(c, c->state == CONN_LOGGED_OUT ? NULL :
				   "peer closed the connection");
		else
			conn_close(c, strerror(-res));
		return;
	}
	pdu_rx_commit(&c->rx, (size_t)res);
	core_stat_add(&c->stats.rx_octets, (uint64_t)res);
	/* hold the connection: a handler may close it, none may free it */
	c->rx_pending = true;
	ok = rx_process(c);
	c->rx_pending = false;
	if (!ok) {
		conn_maybe_free(c);
		return;
	}
	conn_rx_arm(c);
	conn_kick_tx(c);
}

/* The backlog went out: handle what was left unread, then read on. */
static void conn_rx_resume(struct iscsi_conn *c)
{
	bool ok;

	c->rx_paused = false;
	c->rx_pending = true;	/* a handler may close, none may free */
	ok = rx_process(c);
	c->rx_pending = false;
	if (ok)
		conn_rx_arm(c);
}

/* --- transmit ------------------------------------------------------------ */

void conn_queue(struct iscsi_conn *c, struct tx_item *it)
{
	if (it->queued)
		return;
	it->queued = true;
	list_add_tail(&it->link, &c->txq);
}

static int ctl_gen(struct iscsi_conn *c, struct tx_item *it,
		   struct tx_slot *s, bool *more)
{
	struct ctl_pdu *p = container_of(it, struct ctl_pdu, item);

	memcpy(s->hdr, p->bhs, BHS_LEN);
	if (!p->raw_sn)
		conn_fill_sn(c, s->hdr, p->advance_statsn);
	s->plain = p->bhs[0] == OP_LOGIN_RSP;
	s->data = p->data;
	s->data_len = p->data_len;
	*more = false;
	return 0;
}

static void ctl_sent(struct iscsi_conn *c, struct tx_item *it, bool last)
{
	struct ctl_pdu *p = container_of(it, struct ctl_pdu, item);

	c->ctl_bytes -= BHS_LEN + p->data_len;
	if (p->close_after && c->state != CONN_CLOSING)
		conn_close(c, NULL);
	free(p->data);
	free(p);
}

struct ctl_pdu *conn_ctl_new(struct iscsi_conn *c, uint8_t opcode,
			     uint8_t flags, void *data, uint32_t len)
{
	struct ctl_pdu *p = calloc(1, sizeof(*p));

	if (!p) {
		free(data);
		return NULL;
	}
	pdu_init(p->bhs, opcode, flags);
	p->data = data;
	p->data_len = len;
	c->ctl_bytes += BHS_LEN + len;
	p->advance_statsn = true;
	p->item.gen = ctl_gen;
	p->item.sent = ctl_sent;
	conn_queue(c, &p->item);
	return p;
}

void conn_send_reject(struct iscsi_conn *c, const uint8_t *bhs,
		      enum reject_reason reason)
{
	uint8_t *copy = malloc(BHS_LEN);
	struct ctl_pdu *p;

	if (!copy)
		return;
	memcpy(copy, bhs, BHS_LEN);
	log_debug("%s: Reject 0x%02x for %s", c->peer_str, reason,
		  pdu_opcode_name(bhs[0] & 0x3f));
	p = conn_ctl_new(c, OP_REJECT, BHS_F, copy, BHS_LEN);
	if (!p)
		return;
	p->bhs[BHS_B2] = (uint8_t)reason;
	put_be32(p->bhs + BHS_ITT, RSVD_TAG);
}

/* Builds one PDU's iovecs from a filled slot; returns the iov count. */
static int slot_iov(struct iscsi_conn *c, struct tx_slot *s, struct iovec *iov)
{
	/* digests start with the first PDU after the last Login Response */
	bool hd = !s->plain && c->params.header_digest;
	bool dd = !s->plain && c->params.data_digest;
	uint32_t pad = pdu_pad4(s->data_len) - s->data_len;
	int n = 0;

	pdu_set_dsl(s->hdr, s->data_len);
	iov[n++] = (struct iovec){ s->hdr, BHS_LEN };
	if (hd) {
		digest_put(s->hdr + BHS_LEN, crc32c(s->hdr, BHS_LEN));
		iov[0].iov_len += DIGEST_LEN;
	}
	if (s->data_len) {
		uint32_t tail = pad;

		iov[n++] = (struct iovec){ (void *)s->data, s->data_len };
		memset(s->tail, 0, 3);
		if (dd) {
			uint32_t crc = crc32c_update(crc32c_init(), s->data,
						     s->data_len);

			crc = crc32c_update(crc, s->tail, pad);
			digest_put(s->tail + pad, crc32c_final(crc));
			tail += DIGEST_LEN;
		}
		if (tail)
			iov[n++] = (struct iovec){ s->tail, tail };
	}
	return n;
}

/* Fills a batch from the queue and sends it. */
void conn_kick_tx(struct iscsi_conn *c)
{
	int niov = 0;

	if (c->tx_pending || c->state == CONN_CLOSING)
		return;
	c->nslots = 0;
	while (!list_empty(&c->txq) && c->nslots < TX_BATCH) {
		struct tx_item *it = list_first_entry(&c->txq, struct tx_item,
						      link);
		struct tx_slot *s = &c->slots[c->nslots];
		bool more = false;

		memset(s, 0, sizeof(*s));
		if (it->gen(c, it, s, &more) < 0) {
			list_del(&it->link);
			it->queued = false;
			continue;
		}
		s->owner = it;
		s->last = !more;
		if (!more) {
			list_del(&it->link);
			it->queued = false;
		}
		niov += slot_iov(c, s, c->iov + niov);
		c->nslots++;
	}
	if (!c->nslots)
		return;
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = (size_t)niov;
	if (reactor_sendmsg(c->r, c->fd, &c->msg, &c->tx_op) < 0) {
		conn_close(c, "cannot post send");
		return;
	}
	c->tx_pending = true;
	c->tx_progress_ms = reactor_now_ms(c->r);
}

/*
 * Hands each PDU of the batch back to its owner. @whole: the kernel took
 * all of it, so its Data-In and SCSI Response PDUs count as sent.
 */
static void batch_release(struct iscsi_conn *c, bool whole)
{
	int n = c->nslots;

	c->nslots = 0;
	for (int i = 0; i < n; i++) {
		struct tx_slot *s = &c->slots[i];

		if (whole) {
			uint8_t op = s->hdr[0] & 0x3f;

			if (op == OP_DATA_IN)
				core_stat_add(&c->stats.datain_pdus, 1);
			else if (op == OP_SCSI_RSP)
				core_stat_add(&c->stats.rsp_pdus, 1);
		}
		s->owner->sent(c, s->owner, s->last);
	}
}

static void conn_tx_done(struct ev_op *op, int res)
{
	struct iscsi_conn *c = container_of(op, struct iscsi_conn, tx_op);
	struct msghdr *m = &c->msg;
	size_t left = (size_t)(res > 0 ? res : 0);

	/*
	 * tx_pending stays set while the batch is released: a released PDU
	 * may close the connection (logout), which must not free it here.
	 */
	if (res <= 0 || c->state == CONN_CLOSING) {
		batch_release(c, false);
		c->tx_pending = false;
		if (c->state != CONN_CLOSING)
			conn_close(c, res < 0 ? strerror(-res) : "send failed");
		else
			conn_maybe_free(c);
		return;
	}
	c->tx_progress_ms = reactor_now_ms(c->r);
	core_stat_add(&c->stats.tx_octets, (uint64_t)res);
	/* short send: advance the iovecs and send the rest */
	while (m->msg_iovlen && left >= m->msg_iov[0].iov_len) {
		left -= m->msg_iov[0].iov_len;
		m->msg_iov++;
		m->msg_iovlen--;
	}
	if (m->msg_iovlen) {
		m->msg_iov[0].iov_base = (char *)m->msg_iov[0].iov_base + left;
		m->msg_iov[0].iov_len -= left;
		if (reactor_sendmsg(c->r, c->fd, m, &c->tx_op) < 0) {
			batch_release(c, false);
			c->tx_pending = false;
			conn_close(c, "cannot post send");
		}
		return;
	}
	batch_release(c, true);
	c->tx_pending = false;
	if (c->state == CONN_CLOSING) {
		conn_maybe_free(c);
		return;
	}
	if (list_empty(&c->txq) && session_window_update_due(c))
		conn_send_window_update(c);
	if (c->rx_paused && c->ctl_bytes < TX_CTL_LOW)
		conn_rx_resume(c);
	conn_kick_tx(c);
}

/*
 * RFC 7143 §11.19: a NOP-In with both tags reserved asks for nothing; it
 * tells the initiator the window has opened when the responses that
 * freed its tasks went out before they were freed (MaxCmdSN is taken
 * when a PDU is built).
 */
static void conn_send_window_update(struct iscsi_conn *c)
{
	struct ctl_pdu *p = conn_ctl_new(c, OP_NOP_IN, BHS_F, NULL, 0);

	if (!p)
		return;	/* the next response carries it */
	put_be32(p->bhs + BHS_ITT, RSVD_TAG);
	put_be32(p->bhs + BHS_TTT, RSVD_TAG);
	p->advance_statsn = false;
}

/* --- liveness ---------------------------------------------------------------- */

void conn_tick(struct iscsi_conn *c, uint64_t now)
{
	const struct iscsi_settings *set = c->set;
	uint64_t stall;

	if (c->state == CONN_LOGIN) {
		/* a reinstating login waits for the old session (tmf_timeout) */
		if (set->login_timeout && !c->fences_waiting &&
		    now - c->started_ms > set->login_timeout * 1000ull)
			conn_close(c, "login timed out");
		return;
	}
	if (c->state == CONN_LOGGED_OUT) {
		if (login_tick(c, now))
			return;
		/* the last response could not be sent: do not wait forever */
		if (now - c->logged_out_ms >
		    (set->login_timeout ? set->login_timeout : 15) * 1000ull)
			conn_close(c, "logout or refused login: the response "
				   "was not taken");
		return;
	}
	/*
	 * Reading stopped for unread answers, or a send has moved nothing
	 * for as long (its Data-In holds buffers of the budget): the peer
	 * does not read.
	 */
	stall = (set->tx_stall_timeout ? set->tx_stall_timeout : 30) * 1000ull;
	if ((c->rx_paused && now - c->rx_paused_ms > stall) ||
	    (c->tx_pending && now - c->tx_progress_ms > stall)) {
		/*
		 * Reset, not FIN: the FIN would wait behind output the peer
		 * never takes, and the kernel would keep the socket's
		 * buffers meanwhile.
		 */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		conn_close(c, "the peer does not read its responses");
		return;
	}
	if (c->state != CONN_FFP || !set->nop_interval)
		return;
	if (c->nop_outstanding) {
		if (now - c->nop_sent_ms >= set->nop_timeout * 1000ull) {
			conn_close(c, "no answer to NOP-In ping: peer is dead");
		}
		return;
	}
	if (now - c->last_rx_ms >= set->nop_interval * 1000ull) {
		struct ctl_pdu *p = conn_ctl_new(c, OP_NOP_IN, BHS_F, NULL, 0);

		if (!p)
			return;
		/* RFC 7143 §11.19: a ping asks for an answer via a valid TTT,
		 * and does not advance StatSN */
		c->nop_ttt = ++c->next_ttt | 0x80000000u;
		put_be32(p->bhs + BHS_ITT, RSVD_TAG);
		put_be32(p->bhs + BHS_TTT, c->nop_ttt);
		put_be64(p->bhs + BHS_LUN, 0);
		p->advance_statsn = false;
		c->nop_outstanding = true;
		c->nop_sent_ms = now;
		conn_kick_tx(c);
	}
}
