/*
 * ctl_internal.h - between the control socket server (server.c) and the
 * operation handlers (ops.c).
 */
#ifndef RINGTGT_CTL_INTERNAL_H
#define RINGTGT_CTL_INTERNAL_H

#include <json-c/json.h>

struct ctl_server;

/*
 * Handles one request line (without its newline) and returns the reply
 * object ({"v":1,"ok":...}); the caller owns it. Never NULL unless out
 * of memory.
 */
json_object *ctl_handle_line(struct ctl_server *s, const char *line,
			     size_t len);
/* Builds an error reply; @err is a positive errno. */
json_object *ctl_reply_error(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* daemon.status: a copy of what ctl_server_set_status() stored (or NULL). */
json_object *ctl_server_status_info(struct ctl_server *s);
const char *ctl_server_path(const struct ctl_server *s);
/* Calls the ctl_server_set_shutdown() hook: 0, or -EOPNOTSUPP without. */
int ctl_server_shutdown(struct ctl_server *s);
double ctl_server_uptime(const struct ctl_server *s);

#endif
