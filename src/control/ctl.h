/*
 * ctl.h - the daemon's control socket: a Unix stream socket served by its
 * own thread, speaking newline-delimited JSON (docs/control-protocol.md).
 * Requests change the daemon through core.h; nothing here runs on a
 * reactor, so blocking I/O is fine.
 */
#ifndef RINGTGT_CTL_H
#define RINGTGT_CTL_H

struct json_object;
struct ctl_server;

#define CTL_DEFAULT_PATH "/run/ringtgt/ringtgtd.sock"
/* A request line longer than this gets an error and the connection closed. */
#define CTL_MAX_REQUEST (1u << 20)
#define CTL_PROTO_VERSION 1

/*
 * Creates @path's parent directory (0755) if missing, removes a stale
 * socket left by a dead daemon, binds @path (mode 0600) and starts the
 * control thread. Returns 0 and *out, or -errno after logging why:
 * -EADDRINUSE when another daemon answers on @path, -EEXIST when @path is
 * something other than a socket.
 */
int ctl_server_start(const char *path, struct ctl_server **out);
/*
 * ctl_server_start(), and members of group @group (NULL: none) may use
 * the socket too: it is then mode 0660 and owned by @group. Every
 * connection's credentials are checked (SO_PEERCRED): root, the daemon's
 * own user, and with @group a peer whose gid or a supplementary group is
 * @group are served; anybody else gets one error reply ("permission
 * denied", errno EACCES) and is closed. -ENOENT for an unknown group.
 */
int ctl_server_start_group(const char *path, const char *group,
			   struct ctl_server **out);
/* Stops the thread, closes every connection, unlinks the socket. */
void ctl_server_stop(struct ctl_server *s);
/*
 * Daemon-wide facts for "daemon.status" (e.g. {"reactors": 4,
 * "event_loop": "io_uring", "portals": [...]}); their keys are merged
 * into the reply next to version, pid, uptime, targets and sessions.
 * Takes ownership of @info (NULL clears). Thread-safe; call any time.
 */
void ctl_server_set_status(struct ctl_server *s, struct json_object *info);

/*
 * What "daemon.shutdown" (tgtadm --op delete --mode system) does once it
 * is allowed: the daemon sets @fn (e.g. SIGTERM to itself); without one
 * (an embedded or fuzzed server) the op is refused, EOPNOTSUPP. @fn runs
 * on the control thread, before the reply is sent: it must only start
 * the stop. Call before requests may arrive.
 */
void ctl_server_set_shutdown(struct ctl_server *s, void (*fn)(void *arg),
			     void *arg);

#endif
