/*
 * iscsi.h - the iSCSI target service as the daemon starts it: reactor
 * threads, portals (listening sockets), and the settings every
 * connection uses. The core registry (core/core.h) says which targets
 * exist; this layer serves them.
 */
#ifndef RINGTGT_ISCSI_H
#define RINGTGT_ISCSI_H

#include <stdbool.h>
#include <stdint.h>

#include "reactor/reactor.h"

struct iscsi_settings {
	int reactors;			/* 0: CPUs in the affinity mask */
	enum ev_kind event_loop;
	unsigned nop_interval;		/* s between our NOP-In pings; 0 off */
	unsigned nop_timeout;		/* s to wait for the answer */
	unsigned login_timeout;		/* s for a login to finish */
	uint32_t max_recv_dsl;		/* MaxRecvDataSegmentLength we declare */
	uint32_t max_burst;
	uint32_t first_burst;
	uint32_t max_outstanding_r2t;
	uint32_t cmd_window;		/* CmdSN window (queue depth) */
	/*
	 * s a task management function (or a reinstating login) waits for
	 * the aborted tasks' store I/O before the LUs involved are stalled
	 * (NOT READY until that I/O is gone) and it is answered; 0: 30.
	 */
	unsigned tmf_timeout;
	/*
	 * s a connection may leave its output unread once reading from it
	 * stopped (its queued responses passed the bound); then it is
	 * closed. 0: 30.
	 */
	unsigned tx_stall_timeout;
	/*
	 * Limits (docs/robustness.md, "Limits"); 0: the default. Connections
	 * overall and from one source address are refused at accept (closed
	 * at once, nothing read); connections whose login names one target,
	 * and that target's sessions, at login (status 0x0302, out of
	 * resources).
	 */
	unsigned max_connections;
	unsigned max_conns_per_source;
	unsigned max_conns_per_target;
	unsigned max_sessions_per_target;
	/*
	 * Bytes of command data buffers one connection, and all connections
	 * together, may hold; a command beyond them waits and the CmdSN
	 * window stays shut meanwhile. 0: 64 MiB per connection; in all,
	 * a quarter of the memory, 64 MiB to 1 GiB.
	 */
	uint64_t buf_conn_max;
	uint64_t buf_total_max;
};

void iscsi_settings_default(struct iscsi_settings *s);

/*
 * Registers with the core the per-target iSCSI parameters (tparams.c),
 * with @s's values as the defaults they override. Before the config is
 * applied; iscsi_start() does it again with its settings.
 */
void iscsi_target_params_register(const struct iscsi_settings *s);
/* Starts the reactor threads; 0 or -errno. */
int iscsi_start(const struct iscsi_settings *s);
/*
 * Opens a portal ("127.0.0.1:3260", "[::1]:3260", "0.0.0.0:3260";
 * port defaults to 3260), at start or at run time (reactor 0 accepts on
 * it). Returns 0 or -errno with a message in err: -EEXIST when a portal
 * listens on that address and port already, the bind error
 * (-EADDRINUSE, -EADDRNOTAVAIL, ...) with nothing left open, -ENOSPC.
 * While the service runs, core_portal_add() / core_portal_remove() come
 * here (core_set_portal_ops).
 */
int iscsi_portal_add(const char *addr, char *err, size_t errlen);
/*
 * The same for target portal group @tpgt (core_port_group_define() made
 * it; iscsi_portal_add() uses group 1). Connections through the portal
 * answer TargetPortalGroupTag=@tpgt and use SCSI target port @tpgt.
 */
int iscsi_portal_add_group(const char *addr, uint16_t tpgt, char *err,
			   size_t errlen);
/*
 * Closes the portal listening on @addr (as given to iscsi_portal_add*,
 * matched by address and port): new connections to it are refused from
 * then on, SendTargets no longer lists it, and the connections it
 * accepted stay (as in tgt). Reactor 0 closes the socket; this waits
 * for that (at most 5 s), so call it from the control or main thread,
 * never a reactor. Returns 0, -ENOENT (no such portal), -EINVAL (a
 * malformed address) or -ETIMEDOUT, with a message in err.
 */
int iscsi_portal_remove(const char *addr, char *err, size_t errlen);
/*
 * Opens the default portal of a config without portals: [::]:@port,
 * dual-stack (IPv4 peers too, as ::ffff:a.b.c.d), or 0.0.0.0:@port with
 * an info line when the host has no IPv6 (socket() EAFNOSUPPORT, bind()
 * EADDRNOTAVAIL). An explicit "[::]:3260" (iscsi_portal_add) stays IPv6
 * only. Returns 0 or -errno with a message in err.
 */
int iscsi_portal_add_any(unsigned port, char *err, size_t errlen);
/*
 * Logs a warning for each open portal on a non-loopback address
 * (wildcards included) and each target it serves to ALL initiators
 * without CHAP (core_targets_open). Called once at start, after the
 * config and the exports are applied and the portals opened.
 */
void iscsi_warn_open_portals(void);
/* Closes every connection, stops the threads, closes the portals. */
void iscsi_stop(void);
int iscsi_reactor_count(void);
/* Connections accepted and not yet freed (any state). */
int iscsi_connection_count(void);
/*
 * Aborts every task on @lu (all sessions, all reactors) and waits, at
 * most tmf_timeout, until none has store I/O in flight; the LU is then
 * stalled if some still has. Blocks: for the control thread (forced LUN
 * removal). Returns 0, -ETIMEDOUT or -ENOMEM.
 */
struct scsi_lu;
int iscsi_fence_lu(struct scsi_lu *lu);
const char *iscsi_event_loop_name(void);

#endif
