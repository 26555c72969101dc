/*
 * server.c - the control socket: binding it safely (stale sockets, a
 * second daemon, permissions), and one thread that polls the listening
 * socket and its clients, cuts their input into lines and answers each
 * line with one reply line. The requests themselves are handled in ops.c.
 *
 * Clients are served one request at a time on this thread; a request only
 * touches core.h, so a slow one (opening a file) delays other control
 * clients but never a reactor.
 *
 * Who may connect (issue 9, item 5; docs/control-protocol.md): the socket is
 * 0600, and on top of its mode every accepted connection's credentials
 * (SO_PEERCRED) are checked: root and the daemon's own user are admitted;
 * with a control group, the file is 0660 and owned by that group, whose
 * members are admitted too. Anybody else gets one error line and is
 * closed. The check holds when the file's mode does not (a chmod by hand,
 * a socket passed on, CAP_DAC_OVERRIDE without being root).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/sockio.h"
#include "base/log.h"
#include "base/ratelimit.h"
#include "ctl.h"
#include "ctl_internal.h"

#define CTL_MAX_CLIENTS 32
/* Supplementary groups of a peer looked at (NGROUPS_MAX is 65536). */
#define CTL_PEER_GROUPS_MAX 65536

/* "permission denied" lines: a few per 10 s, then a count. */
static const struct ratelimit_cfg refuse_log_cfg = { 10000, 5 };

struct ctl_client {
	int fd;
	char *buf;		/* unprocessed input */
	size_t len, cap;
};

struct ctl_server {
	pthread_t thread;
	int listen_fd;
	int wake[2];			/* pipe: stop request */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;			/* of the socket we bound, to unlink */
	ino_t ino;			/* only our own at stop */
	struct timespec started;
	struct ctl_client clients[CTL_MAX_CLIENTS];
	int nclients;
	bool has_group;			/* control_group set */
	gid_t group;			/* its members may connect */
	struct ratelimit refuse_rl;	/* control thread only */
	pthread_mutex_t lock;		/* status_info */
	json_object *status_info;
	void (*shutdown)(void *arg);	/* set before requests arrive */
	void *shutdown_arg;
};

void ctl_server_set_shutdown(struct ctl_server *s, void (*fn)(void *arg),
			     void *arg)
{
	s->shutdown = fn;
	s->shutdown_arg = arg;
}

int ctl_server_shutdown(struct ctl_server *s)
{
	if (!s->shutdown)
		return -EOPNOTSUPP;
	s->shutdown(s->shutdown_arg);
	return 0;
}

void ctl_server_set_status(struct ctl_server *s, json_object *info)
{
	json_object *old;

	pthread_mutex_lock(&s->lock);
	old = s->status_info;
	s->status_info = info;
	pthread_mutex_unlock(&s->lock);
	json_object_put(old);
}

json_object *ctl_server_status_info(struct ctl_server *s)
{
	json_object *copy = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->status_info)
		json_object_deep_copy(s->status_info, &copy, NULL);
	pthread_mutex_unlock(&s->lock);
	return copy;
}

const char *ctl_server_path(const struct ctl_server *s)
{
	return s->path;
}

double ctl_server_uptime(const struct ctl_server *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - s->started.tv_sec) +
	       (double)(now.tv_nsec - s->started.tv_nsec) / 1e9;
}

/* --- binding ------------------------------------------------------------- */

/* mkdir -p for the directory part of @path. */
static int make_parent_dirs(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * A socket file already at @path: if a daemon answers, refuse; if nobody
 * listens (ECONNREFUSED), it was left by a dead daemon and goes.
 */
static int clear_stale_socket(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		log_err("control socket %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err("control socket %s: exists and is not a socket; not touching it",
			path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		close(fd);
		log_err("control socket %s: another ringtgtd is answering on it",
			path);
		return -EADDRINUSE;
	}
	rc = errno;
	close(fd);
	if (rc != ECONNREFUSED) {
		log_err("control socket %s: %s", path, strerror(rc));
		return -rc;
	}
	log_info("removing stale control socket %s", path);
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

static int bind_socket(struct ctl_server *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	rc = make_parent_dirs(s->path);
	if (rc) {
		log_err("control socket %s: cannot create its directory: %s",
			s->path, strerror(-rc));
		return rc;
	}
	rc = clear_stale_socket(s->path, &sa);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		log_err("control socket %s: bind: %s", s->path, strerror(-rc));
		goto err_close;
	}
	/* Nobody can connect before listen(), so this leaves no window. */
	if ((s->has_group && chown(s->path, (uid_t)-1, s->group)) ||
	    chmod(s->path, s->has_group ? 0660 : 0600) || stat(s->path, &st)) {
		rc = -errno;
		log_err("control socket %s: %s", s->path, strerror(-rc));
		goto err_unlink;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (listen(fd, 16)) {
		rc = -errno;
		log_err("control socket %s: listen: %s", s->path, strerror(-rc));
		goto err_unlink;
	}
	s->listen_fd = fd;
	return 0;

err_unlink:
	unlink(s->path);
err_close:
	close(fd);
	return rc;
}

/* --- connections ------------------------------------------------------- */

static int send_reply(int fd, json_object *reply)
{
	const char *text;
	int rc;

	if (!reply)
		return -ENOMEM;
	text = json_object_to_json_string_ext(reply,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = send_all(fd, text, strlen(text));
	if (!rc)
		rc = send_all(fd, "\n", 1);
	json_object_put(reply);
	return rc;
}

static void client_close(struct ctl_server *s, int i)
{
	close(s->clients[i].fd);
	free(s->clients[i].buf);
	s->clients[i] = s->clients[--s->nclients];
}

/*
 * True when @gid is among the peer's supplementary groups. SO_PEERGROUPS
 * (Linux 4.13) gives them as they were at connect(), from the socket
 * itself: no race with the peer exiting or its pid being reused (as
 * reading /proc/PID/status would have), and the groups the process
 * really has, not what the group database says its user could have
 * (getgrouplist: wrong for a process that dropped or was given groups).
 */
static bool peer_in_group(int fd, gid_t gid)
{
	socklen_t len = 64 * sizeof(gid_t);
	gid_t *groups = NULL;
	bool found = false;

	for (int tries = 0; tries < 2 && !found; tries++) {
		gid_t *ng = realloc(groups, len);

		if (!ng)
			break;
		groups = ng;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
			for (size_t i = 0; i < len / sizeof(gid_t); i++)
				found |= groups[i] == gid;
			break;
		}
		/* ERANGE: len now says how much it needs */
		if (errno != ERANGE ||
		    len > CTL_PEER_GROUPS_MAX * sizeof(gid_t))
			break;
	}
	free(groups);
	return found;
}

/* Whether the peer on @fd may use the control socket; fills @cr. */
static bool peer_admitted(const struct ctl_server *s, int fd,
			  struct ucred *cr)
{
	socklen_t len = sizeof(*cr);

	*cr = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cr, &len) < 0)
		return false;
	/* the daemon's own user: a daemon started by hand, the tests */
	if (cr->uid == 0 || cr->uid == geteuid())
		return true;
	return s->has_group &&
	       (cr->gid == s->group || peer_in_group(fd, s->group));
}

static void client_refuse(struct ctl_server *s, int fd,
			  const struct ucred *cr)
{
	struct timespec now;
	uint32_t n;

	send_reply(fd, ctl_reply_error(EACCES, "permission denied"));
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!ratelimit_allow(&s->refuse_rl, &refuse_log_cfg,
			     (uint64_t)now.tv_sec * 1000 +
				     (uint64_t)now.tv_nsec / 1000000, &n))
		return;
	log_warn("control socket: refused pid %d uid %u gid %u: not root%s%s",
		 (int)cr->pid, (unsigned)cr->uid, (unsigned)cr->gid,
		 s->has_group ? " nor in control_group" :
				" and no control_group set",
		 n ? " (and earlier refusals, suppressed)" : "");
}

static void client_accept(struct ctl_server *s)
{
	struct timeval tv = { .tv_sec = 5 };
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct ucred cr;

	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN)
			log_warn("control socket: accept: %s", strerror(errno));
		return;
	}
	if (!peer_admitted(s, fd, &cr)) {
		client_refuse(s, fd, &cr);
		return;
	}
	if (s->nclients == CTL_MAX_CLIENTS) {
		send_reply(fd, ctl_reply_error(EMFILE,
			"too many control connections (%d)", CTL_MAX_CLIENTS));
		close(fd);
		return;
	}
	/* A client that stops reading must not wedge the control thread. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	s->clients[s->nclients++] = (struct ctl_client){ .fd = fd };
}

/* Returns false when the connection is to be closed. */
static bool client_read(struct ctl_server *s, struct ctl_client *c)
{
	size_t start = 0;
	ssize_t n;

	if (c->cap - c->len < 4096) {
		size_t ncap = c->cap ? c->cap * 2 : 8192;
		char *nb;

		if (ncap > CTL_MAX_REQUEST + 4096)
			ncap = CTL_MAX_REQUEST + 4096;
		nb = realloc(c->buf, ncap);
		if (!nb)
			return false;
		c->buf = nb;
		c->cap = ncap;
	}
	n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (n <= 0)
		return n < 0 && (errno == EINTR || errno == EAGAIN);
	c->len += (size_t)n;

	for (;;) {
		char *nl = memchr(c->buf + start, '\n', c->len - start);
		size_t llen;

		if (!nl)
			break;
		llen = (size_t)(nl - (c->buf + start));
		if (llen > CTL_MAX_REQUEST) {
			send_reply(c->fd, ctl_reply_error(E2BIG,
				"request longer than %u bytes", CTL_MAX_REQUEST));
			return false;
		}
		*nl = '\0';
		/* Blank lines (a stray "\r\n", a keep-alive) get no reply. */
		if (c->buf[start + strspn(c->buf + start, " \t\r")] != '\0' &&
		    send_reply(c->fd, ctl_handle_line(s, c->buf + start, llen)))
			return false;
		start += llen + 1;
	}
	memmove(c->buf, c->buf + start, c->len - start);
	c->len -= start;
	if (c->len > CTL_MAX_REQUEST) {
		send_reply(c->fd, ctl_reply_error(E2BIG,
			"request longer than %u bytes", CTL_MAX_REQUEST));
		return false;
	}
	return true;
}

static void *ctl_thread(void *arg)
{
	struct ctl_server *s = arg;
	struct pollfd pfd[CTL_MAX_CLIENTS + 2];

	for (;;) {
		int n = 0;

		pfd[n++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (int i = 0; i < s->nclients; i++)
			pfd[n++] = (struct pollfd){ .fd = s->clients[i].fd,
						    .events = POLLIN };
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("control socket: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		/* Walk backwards: client_close() moves the last one down. */
		for (int i = s->nclients - 1; i >= 0; i--) {
			if (!pfd[i + 2].revents)
				continue;
			if (!client_read(s, &s->clients[i]))
				client_close(s, i);
		}
		if (pfd[1].revents & POLLIN)
			client_accept(s);
	}
	while (s->nclients)
		client_close(s, s->nclients - 1);
	return NULL;
}

/* The gid of group @name; 0 or -errno after logging why. */
static int group_lookup(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[16384];
	int rc = getgrnam_r(name, &gr, buf, sizeof(buf), &res);

	if (rc || !res) {
		log_err("control_group \"%s\": %s", name,
			rc ? strerror(rc) : "no such group");
		return rc ? -rc : -ENOENT;
	}
	*gid = res->gr_gid;
	return 0;
}

int ctl_server_start(const char *path, struct ctl_server **out)
{
	return ctl_server_start_group(path, NULL, out);
}

int ctl_server_start_group(const char *path, const char *group,
			   struct ctl_server **out)
{
	struct ctl_server *s;
	sigset_t all, old;
	gid_t gid = 0;
	int rc;

	if (!path)
		path = CTL_DEFAULT_PATH;
	if (strlen(path) >= sizeof(s->path) || !*path) {
		log_err("control socket path '%s' is empty or too long (max %zu)",
			path, sizeof(s->path) - 1);
		return -ENAMETOOLONG;
	}
	if (group) {
		rc = group_lookup(group, &gid);
		if (rc)
			return rc;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->has_group = group != NULL;
	s->group = gid;
	snprintf(s->path, sizeof(s->path), "%s", path);
	pthread_mutex_init(&s->lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	s->listen_fd = -1;
	if (pipe2(s->wake, O_CLOEXEC)) {
		rc = -errno;
		goto err_free;
	}
	rc = bind_socket(s);
	if (rc)
		goto err_pipe;

	/* The control thread takes no signals; the main thread handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&s->thread, NULL, ctl_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		log_err("control socket: cannot start thread: %s", strerror(-rc));
		goto err_sock;
	}
	if (group)
		log_info("control socket listening on %s (mode 0660, group %s)",
			 s->path, group);
	else
		log_info("control socket listening on %s (mode 0600)", s->path);
	*out = s;
	return 0;

err_sock:
	close(s->listen_fd);
	unlink(s->path);
err_pipe:
	close(s->wake[0]);
	close(s->wake[1]);
err_free:
	pthread_mutex_destroy(&s->lock);
	free(s);
	return rc;
}

void ctl_server_stop(struct ctl_server *s)
{
	struct stat st;
	char c = 'x';

	if (!s)
		return;
	while (write(s->wake[1], &c, 1) < 0 && errno == EINTR)
		;
	pthread_join(s->thread, NULL);
	/* Unlink only our socket, not one a newer daemon bound since. */
	if (stat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	close(s->listen_fd);
	close(s->wake[0]);
	close(s->wake[1]);
	json_object_put(s->status_info);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
