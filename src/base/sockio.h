/*
 * sockio.h - blocking socket helpers for the control plane (never used on
 * a reactor thread).
 */
#ifndef RINGTGT_SOCKIO_H
#define RINGTGT_SOCKIO_H

#include <stddef.h>

/* Sends all @len bytes (retrying on EINTR); 0 or -errno. */
int send_all(int fd, const void *buf, size_t len);

#endif
