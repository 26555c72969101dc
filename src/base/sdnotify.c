/*
 * sdnotify.c - readiness notification to the service manager (sd_notify
 * protocol, see sdnotify.h), so that a unit's ExecStartPost commands
 * (tgtadm, tgt-admin in ringtgt-tgt.service) run once the control socket
 * and the portals are up. A few lines of what libsystemd does; no
 * dependency on it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/sdnotify.h"

int sd_notify_send(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	socklen_t len;
	ssize_t sent;
	int fd, rc = 0;

	if (!name || !*name)
		return 0;
	n = strlen(name);
	if ((name[0] != '/' && name[0] != '@') || n >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		      (const struct sockaddr *)&sa, len);
	if (sent < 0)
		rc = -errno;
	close(fd);
	return rc;
}
