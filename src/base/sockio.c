/*
 * sockio.c - blocking socket helpers for the control plane.
 */
#include <errno.h>
#include <sys/socket.h>

#include "sockio.h"

int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
