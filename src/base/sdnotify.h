/*
 * sdnotify.h - the service manager's readiness protocol (systemd's
 * sd_notify(3), Type=notify): one datagram to the socket named by
 * $NOTIFY_SOCKET. Without that variable there is no service manager
 * waiting, and nothing is sent.
 */
#ifndef RINGTGT_SDNOTIFY_H
#define RINGTGT_SDNOTIFY_H

/*
 * Sends @state ("READY=1", "STOPPING=1") to $NOTIFY_SOCKET: a path, or
 * an abstract socket name written with a leading '@'. 0 (also when the
 * variable is unset), or -errno (-EINVAL for a name that is no socket
 * address).
 */
int sd_notify_send(const char *state);

#endif
