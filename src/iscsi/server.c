/*
 * server.c - the reactor threads and the portals.
 *
 * Reactor 0 accepts on every portal and hands each new connection to a
 * reactor in turn (reactor_post), where it lives until it closes. Each
 * reactor's once-a-second tick drives login timeouts and NOP pings.
 * Threads are pinned to the CPUs of the process's affinity mask, one
 * per CPU, unless --reactors says otherwise.
 *
 * Portals open at start and at run time (portal.add through core's
 * hooks) the same way, and close at run time (portal.remove): reactor 0
 * shuts the listening socket down on its own thread (a pending accept
 * then completes with an error) and closes it in a post after that
 * completion, never inside it; the control thread waits, bounded, for
 * that. Connections that came in through a closed portal stay, as tgt
 * keeps them: closing a portal stops new connections only. A portal
 * slot is FREE, OPEN (listed in SendTargets) or CLOSING; srv.plock
 * guards the states and what other threads read of a portal.
 *
 * Limits (issue 8, item 5; docs/robustness.md): connections overall and
 * per source address are counted from accept (reactor 0) until the
 * connection is freed (on its own reactor); at a limit a new connection
 * is closed at once, nothing read. Per-target connections and sessions
 * are counted in core from login until the connection closes. Log lines
 * a peer can cause go through conn_log() (per connection, per source).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/addrcount.h"
#include "base/log.h"
#include "iscsi_internal.h"

#define MAX_REACTORS 64
#define MAX_PORTALS 32
/* how long portal.remove waits for reactor 0 to close the socket */
#define PORTAL_CLOSE_WAIT_S 5

/*
 * Log lines a peer can cause: one per connection per interval after the
 * first; per source address (per reactor) a burst per interval, enough
 * for an initiator's discovery and a few logins; one refusal line per
 * portal per interval.
 */
#define PEER_LOG_INTERVAL_MS 10000
#define PEER_LOG_SRC_BURST 10

static const struct ratelimit_cfg conn_log_cfg = { PEER_LOG_INTERVAL_MS, 1 };
static const struct ratelimit_cfg src_log_cfg = { PEER_LOG_INTERVAL_MS,
						  PEER_LOG_SRC_BURST };

enum portal_state { PORTAL_FREE, PORTAL_OPEN, PORTAL_CLOSING };

struct portal {
	enum portal_state state;	/* under srv.plock */
	unsigned gen;			/* reaps so far, under srv.plock */
	int fd;
	char name[80];
	uint16_t tpgt;			/* target portal group tag */
	struct sockaddr_storage addr;	/* where it listens (getsockname) */
	bool dual;			/* [::] taking IPv4 peers too */
	struct ev_op accept_op;
	struct reactor *r;
	bool armed;			/* accept_op in flight (reactor only) */
	bool closing;			/* reactor only */
	struct ev_post start, close, reap;	/* posts that cannot fail */
	bool backoff;			/* accept again at the next tick */
	uint64_t emfile_log_ms;		/* last "descriptor limit" warning */
	unsigned emfile_refused;	/* refused since that warning */
	struct ratelimit refuse_rl;	/* "connection refused" lines */
};

/* Connection limits when the settings leave them 0 (docs/robustness.md). */
#define DEF_CONNS 4096
#define DEF_CONNS_PER_SOURCE 2048
#define DEF_CONNS_PER_TARGET 2048
#define DEF_SESSIONS_PER_TARGET 1024

static struct {
	struct iscsi_settings set;
	int n;
	struct iscsi_server_thread thr[MAX_REACTORS];
	pthread_t tid[MAX_REACTORS];
	int cpus[MAX_REACTORS];
	/*
	 * portals[0..nportals) have been used; a FREE one is used again.
	 * Reactors read them (SendTargets) while the main or the control
	 * thread opens and closes others: under plock, and pcond tells a
	 * closing thread that reactor 0 is done with a slot.
	 */
	pthread_mutex_t plock;
	pthread_cond_t pcond;
	struct portal portals[MAX_PORTALS];
	int nportals;
	bool portals_on;		/* may open and close: after start, until stop */
	atomic_uint rr;
	atomic_uint tsih;
	atomic_int live_conns;
	bool running;
	int spare_fd;			/* given up to accept-and-close at EMFILE */
	pthread_mutex_t src_lock;	/* guards src */
	struct addrcount *src;		/* connections per source address */
} srv = { .spare_fd = -1, .src_lock = PTHREAD_MUTEX_INITIALIZER,
	  .plock = PTHREAD_MUTEX_INITIALIZER,
	  .pcond = PTHREAD_COND_INITIALIZER };

void iscsi_settings_default(struct iscsi_settings *s)
{
	*s = (struct iscsi_settings){
		.reactors = 0,
		.event_loop = EV_IO_URING,
		.nop_interval = 10,
		.nop_timeout = 10,
		.login_timeout = 15,
		.max_recv_dsl = 262144,
		.max_burst = 1048576,
		.first_burst = 262144,
		.max_outstanding_r2t = 16,
		.cmd_window = 128,
		.tmf_timeout = 30,
		.tx_stall_timeout = 30,
		/*
		 * Far above what one host's initiator uses, and above what
		 * the test suites open from 127.0.0.1 (1,000 half-open
		 * logins, a 64-session soak); one address may hold half of
		 * all connections, so it cannot lock every other host out.
		 */
		.max_connections = DEF_CONNS,
		.max_conns_per_source = DEF_CONNS_PER_SOURCE,
		.max_conns_per_target = DEF_CONNS_PER_TARGET,
		.max_sessions_per_target = DEF_SESSIONS_PER_TARGET,
	};
}

uint16_t server_next_tsih(void)
{
	/* RFC 7143 §11.12.6: never one a live session has; 0 is reserved */
	for (unsigned tries = 0; tries < 65536; tries++) {
		unsigned v = atomic_fetch_add(&srv.tsih, 1) + 1;

		if ((v & 0xffff) != 0 && !core_tsih_live((uint16_t)v))
			return (uint16_t)v;
	}
	return 0;	/* 65535 live sessions */
}

/* The peer's address as a key: IPv6, or IPv4 mapped into it. */
static void addr_key(const struct sockaddr_storage *ss, uint8_t key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)ss)
				     ->sin6_addr, 16);
	} else if (ss->ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)(const void *)ss)
					  ->sin_addr, 4);
	}
}

static void key_str(const uint8_t key[16], char *out, size_t len)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (memcmp(key, v4mapped, 12) == 0)
		inet_ntop(AF_INET, key + 12, out, (socklen_t)len);
	else
		inet_ntop(AF_INET6, key, out, (socklen_t)len);
}

/* Gives back what accept counted (overall, per source). */
static void conn_count_put(const uint8_t key[16])
{
	pthread_mutex_lock(&srv.src_lock);
	if (srv.src)
		addrcount_dec(srv.src, key);
	pthread_mutex_unlock(&srv.src_lock);
	atomic_fetch_sub(&srv.live_conns, 1);
}

void server_conn_gone(struct iscsi_conn *c)
{
	struct iscsi_server_thread *thr = c->thr;

	/* what it held back is reported with its source's next line */
	if (c->log_rl.suppressed) {
		struct ratelimit_slot *src = ratelimit_table_get(
			&thr->srclog, c->src_key, &src_log_cfg,
			reactor_now_ms(thr->r));

		src->rl.suppressed += c->log_rl.suppressed;
	}
	thr->nconns--;
	conn_count_put(c->src_key);
}

void server_conn_closing(struct iscsi_conn *c)
{
	for (int i = 0; i < CORE_ADMIT_KINDS; i++) {
		if (c->admitted[i])
			core_target_release(c->admit_target,
					    (enum core_admit)i);
		c->admitted[i] = false;
	}
	if (c->admit_target)
		core_target_put(c->admit_target);
	c->admit_target = NULL;
}

bool server_admit(struct iscsi_conn *c, struct tgt_target *t,
		  enum core_admit what)
{
	/* the connection's settings: the server's, or a test harness's */
	unsigned limit = what == CORE_ADMIT_CONN ?
				 c->set->max_conns_per_target :
				 c->set->max_sessions_per_target;

	if (!limit)	/* 0: the default, as iscsi_start() sets it */
		limit = what == CORE_ADMIT_CONN ? DEF_CONNS_PER_TARGET :
						  DEF_SESSIONS_PER_TARGET;

	if (c->admitted[what] || (c->admit_target && c->admit_target != t))
		return false;	/* one target per connection, once each */
	if (!core_target_admit(t, what, limit))
		return false;
	if (!c->admit_target) {
		core_target_get(t);
		c->admit_target = t;
	}
	c->admitted[what] = true;
	return true;
}

void conn_log(struct iscsi_conn *c, enum log_level lvl, const char *fmt, ...)
{
	bool per_conn = lvl <= LOG_LVL_WARN;
	struct ratelimit_slot *src;
	char line[1024];
	uint64_t now;
	uint32_t n = 0;
	va_list ap;

	if (lvl > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!c->thr) {		/* not adopted yet: nothing to count with */
		log_msg(lvl, "%s", line);
		return;
	}
	now = reactor_now_ms(c->r);
	/* lifecycle lines (info) are a few per connection: per source only */
	if (per_conn && !ratelimit_ready(&c->log_rl, &conn_log_cfg, now)) {
		ratelimit_drop(&c->log_rl);
		return;
	}
	src = ratelimit_table_get(&c->thr->srclog, c->src_key, &src_log_cfg,
				  now);
	if (!ratelimit_ready(&src->rl, &src_log_cfg, now)) {
		ratelimit_drop(&src->rl);
		return;
	}
	n = ratelimit_take(&src->rl, &src_log_cfg, now);
	if (per_conn)
		n += ratelimit_take(&c->log_rl, &conn_log_cfg, now);
	if (n)
		log_msg(lvl, "%s (%u similar suppressed)", line, n);
	else
		log_msg(lvl, "%s", line);
}

/* Counts held back that no later line reported: one line per source. */
static void srclog_tick(struct iscsi_server_thread *thr, uint64_t now)
{
	for (int i = 0; i < RATELIMIT_SLOTS; i++) {
		struct ratelimit_slot *s = &thr->srclog.slot[i];
		char addr[INET6_ADDRSTRLEN];
		uint32_t n;

		if (!s->used || !s->rl.suppressed ||
		    !ratelimit_ready(&s->rl, &src_log_cfg, now))
			continue;
		n = ratelimit_take(&s->rl, &src_log_cfg, now);
		key_str(s->key, addr, sizeof(addr));
		log_warn("%s%s: %u similar line%s suppressed", addr,
			 s->shared ? " and addresses sharing its log limit" : "",
			 n, n == 1 ? "" : "s");
	}
}

struct iscsi_server_thread *server_thread(int i)
{
	return i < srv.n ? &srv.thr[i] : NULL;
}

int server_thread_count(void)
{
	return srv.running ? srv.n : 0;
}

int iscsi_reactor_count(void)
{
	return srv.n;
}

int iscsi_connection_count(void)
{
	return atomic_load(&srv.live_conns);
}

const char *iscsi_event_loop_name(void)
{
	return srv.set.event_loop == EV_IO_URING ? "io_uring" : "epoll";
}

static void portal_accept_arm(struct portal *p);

static uint32_t random_seed(void)
{
	uint32_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_nsec ^ (uint32_t)getpid();
}

static void thread_tick(void *arg)
{
	struct iscsi_server_thread *thr = arg;
	struct iscsi_conn *c, *n;
	uint64_t now = reactor_now_ms(thr->r);

	list_for_each_entry_safe(c, n, &thr->conns, link)
		conn_tick(c, now);
	fences_tick(thr, now);
	srclog_tick(thr, now);
	pthread_mutex_lock(&srv.plock);
	for (int i = 0; i < srv.nportals; i++) {
		struct portal *p = &srv.portals[i];

		if (p->state == PORTAL_OPEN && p->r == thr->r && p->backoff &&
		    !p->closing) {
			p->backoff = false;
			if (srv.spare_fd < 0)
				srv.spare_fd = open("/dev/null",
						    O_RDONLY | O_CLOEXEC);
			portal_accept_arm(p);
		}
	}
	pthread_mutex_unlock(&srv.plock);
}

struct handoff {
	struct iscsi_server_thread *thr;
	int fd;
	uint16_t tpgt;			/* of the portal that accepted it */
	uint8_t key[16];
};

static void conn_adopt(void *arg)
{
	struct handoff *h = arg;
	struct iscsi_server_thread *thr = h->thr;
	int fd = h->fd;
	struct iscsi_conn *c = conn_new(thr->r, fd, &srv.set);

	if (!c) {
		log_err("cannot set up a connection: out of memory");
		close(fd);
		conn_count_put(h->key);
		free(h);
		return;
	}
	memcpy(c->src_key, h->key, 16);
	c->tpgt = h->tpgt;
	free(h);
	c->thr = thr;
	list_add_tail(&c->link, &thr->conns);
	thr->nconns++;
}

static void portal_accept_arm(struct portal *p);

/*
 * The descriptor limit is reached (issue 8, item 5): accept would fail at
 * once, forever, while connections wait in the backlog. Give up the spare
 * descriptor, accept one waiting connection and close it (the peer sees
 * the connection end and may retry later), take the spare back, and go
 * on; without a spare, wait for the next tick. One warning per 10 s.
 */
static void portal_out_of_fds(struct portal *p, int res)
{
	uint64_t now = reactor_now_ms(p->r);
	int fd;

	p->emfile_refused++;
	if (now - p->emfile_log_ms >= 10000) {
		log_warn("accept on %s: %s; refusing new connections "
			 "(%u since the last warning)", p->name, strerror(-res),
			 p->emfile_refused);
		p->emfile_log_ms = now;
		p->emfile_refused = 0;
	}
	if (srv.spare_fd >= 0) {
		close(srv.spare_fd);
		fd = accept4(p->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && srv.spare_fd >= 0) {
			portal_accept_arm(p);
			return;
		}
	}
	p->backoff = true;	/* thread_tick re-arms it */
}

/* A line about refused connections: one per portal per interval. */
__attribute__((format(printf, 2, 3)))
static void portal_log(struct portal *p, const char *fmt, ...)
{
	char line[512];
	uint32_t n;
	va_list ap;

	if (!ratelimit_allow(&p->refuse_rl, &conn_log_cfg, reactor_now_ms(p->r),
			     &n))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n)
		log_warn("%s (%u similar suppressed)", line, n);
	else
		log_warn("%s", line);
}

/*
 * Counts a new connection overall and per source address, or refuses it
 * (issue 8, item 5): at a limit it is closed at once with a reset,
 * nothing read, and accepting goes on (nothing spins: each refusal is
 * one accepted connection). True when admitted.
 */
static bool portal_admit(struct portal *p, int fd, uint8_t key[16])
{
	struct sockaddr_storage ss = { .ss_family = AF_UNSPEC };
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN];
	int rc = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		ss.ss_family = AF_UNSPEC;	/* gone already: key 0 */
	addr_key(&ss, key);
	if (core_system_state() == CORE_SYSTEM_OFFLINE) {
		/* as tgt: accepted and closed, nothing read (core/system.c) */
		close(fd);
		key_str(key, addr, sizeof(addr));
		portal_log(p, "%s: connection from %s refused: the system "
			   "state is offline", p->name, addr);
		return false;
	}
	/* only this thread adds to live_conns: no race up to the limit */
	if ((unsigned)atomic_load(&srv.live_conns) >= srv.set.max_connections) {
		rc = -EMLINK;
	} else {
		pthread_mutex_lock(&srv.src_lock);
		rc = srv.src ? addrcount_inc(srv.src, key,
					     srv.set.max_conns_per_source) :
			       -ENOMEM;
		pthread_mutex_unlock(&srv.src_lock);
	}
	if (rc > 0) {
		atomic_fetch_add(&srv.live_conns, 1);
		return true;
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	close(fd);
	key_str(key, addr, sizeof(addr));
	if (rc == -EMLINK)
		portal_log(p, "%s: connection from %s refused: %u connections "
			   "(max_connections)", p->name, addr,
			   srv.set.max_connections);
	else if (rc == -EBUSY)
		portal_log(p, "%s: connection from %s refused: %u connections "
			   "from that address (max_connections_per_source)",
			   p->name, addr, srv.set.max_conns_per_source);
	else
		portal_log(p, "%s: connection from %s refused: cannot count "
			   "it (%s)", p->name, addr, strerror(-rc));
	return false;
}

static void portal_reap(struct ev_post *node);

static void portal_accept_done(struct ev_op *op, int res)
{
	struct portal *p = container_of(op, struct portal, accept_op);
	struct handoff *h;
	unsigned i;

	p->armed = false;
	if (p->closing) {
		if (res >= 0)
			close(res);
		/* the socket is closed after this callback, not inside it */
		p->reap.fn = portal_reap;
		reactor_post_node(p->r, &p->reap);
		return;
	}
	if (res == -EMFILE || res == -ENFILE) {
		portal_out_of_fds(p, res);
		return;
	}
	if (res < 0) {
		if (res != -EAGAIN && res != -EINTR && res != -ECONNABORTED)
			portal_log(p, "accept on %s: %s", p->name,
				   strerror(-res));
		portal_accept_arm(p);
		return;
	}
	h = malloc(sizeof(*h));
	i = atomic_fetch_add(&srv.rr, 1) % (unsigned)srv.n;
	if (!h) {
		close(res);
		portal_accept_arm(p);
		return;
	}
	if (!portal_admit(p, res, h->key)) {
		free(h);
		portal_accept_arm(p);
		return;
	}
	/* complete before posting: the other reactor may run it at once */
	h->thr = &srv.thr[i];
	h->fd = res;
	h->tpgt = p->tpgt;
	if (reactor_post(srv.thr[i].r, conn_adopt, h) < 0) {
		conn_count_put(h->key);
		free(h);
		close(res);
	}
	portal_accept_arm(p);
}

static void portal_accept_arm(struct portal *p)
{
	p->accept_op.done = portal_accept_done;
	p->armed = reactor_accept(p->r, p->fd, &p->accept_op) == 0;
	if (!p->armed)
		log_err("cannot accept on %s", p->name);
}

static void portal_start(struct ev_post *p)
{
	portal_accept_arm(container_of(p, struct portal, start));
}

static void *thread_main(void *arg)
{
	struct iscsi_server_thread *thr = arg;
	int idx = (int)(thr - srv.thr);
	char name[16];

	snprintf(name, sizeof(name), "reactor-%d", idx);
	pthread_setname_np(pthread_self(), name);
	if (srv.cpus[idx] >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(srv.cpus[idx], &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	reactor_set_tick(thr->r, thread_tick, thr);
	reactor_run(thr->r);
	iobuf_drain();
	return NULL;
}

/* what portal.add and portal.remove reach through core (defined below) */
static const struct core_portal_ops live_portal_ops;

int iscsi_start(const struct iscsi_settings *s)
{
	cpu_set_t mask;
	int ncpu = 0;
	sigset_t all, old;

	srv.set = *s;
	iscsi_target_params_register(s);
	if (!srv.set.max_connections)
		srv.set.max_connections = DEF_CONNS;
	if (!srv.set.max_conns_per_source)
		srv.set.max_conns_per_source = DEF_CONNS_PER_SOURCE;
	if (!srv.set.max_conns_per_target)
		srv.set.max_conns_per_target = DEF_CONNS_PER_TARGET;
	if (!srv.set.max_sessions_per_target)
		srv.set.max_sessions_per_target = DEF_SESSIONS_PER_TARGET;
	/* each live source holds a connection: max_connections keys at most */
	pthread_mutex_lock(&srv.src_lock);
	if (!srv.src)
		srv.src = addrcount_new(srv.set.max_connections);
	pthread_mutex_unlock(&srv.src_lock);
	if (!srv.src)
		return -ENOMEM;
	CPU_ZERO(&mask);
	if (sched_getaffinity(0, sizeof(mask), &mask) == 0)
		ncpu = CPU_COUNT(&mask);
	if (ncpu <= 0)
		ncpu = 1;
	srv.n = s->reactors > 0 ? s->reactors : ncpu;
	if (srv.n > MAX_REACTORS)
		srv.n = MAX_REACTORS;
	/* one reactor per CPU of the mask, in order; pin when they match */
	for (int i = 0, cpu = 0; i < srv.n; i++) {
		srv.cpus[i] = -1;
		if (srv.n <= ncpu) {
			while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &mask))
				cpu++;
			srv.cpus[i] = cpu < CPU_SETSIZE ? cpu++ : -1;
		}
	}
	for (int i = 0; i < srv.n; i++) {
		struct iscsi_server_thread *thr = &srv.thr[i];

		thr->r = reactor_new(s->event_loop, i);
		if (!thr->r) {
			int err = errno;

			log_err("cannot create %s event loop: %s",
				s->event_loop == EV_IO_URING ? "io_uring" :
				"epoll", strerror(err));
			for (int j = 0; j < i; j++)
				reactor_free(srv.thr[j].r);
			return -err;
		}
		list_init(&thr->conns);
		list_init(&thr->fences);
		thr->set = &srv.set;
		/* a seed peers cannot guess: they cannot aim at one slot */
		ratelimit_table_init(&thr->srclog,
				     (uint32_t)random_seed() ^ (uint32_t)i);
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);	/* signals go to main */
	for (int i = 0; i < srv.n; i++)
		pthread_create(&srv.tid[i], NULL, thread_main, &srv.thr[i]);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	srv.running = true;
	if (srv.spare_fd < 0)
		srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	core_set_lu_fence(iscsi_fence_lu);
	pthread_mutex_lock(&srv.plock);
	srv.portals_on = true;
	pthread_mutex_unlock(&srv.plock);
	core_set_portal_ops(&live_portal_ops);
	log_info("%d reactor%s on %s", srv.n, srv.n == 1 ? "" : "s",
		 iscsi_event_loop_name());
	return 0;
}

/* Splits "host:port", "[v6]:port", "host" into parts. */
static int split_addr(const char *addr, char *host, size_t hl, char *port,
		      size_t pl)
{
	const char *colon;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || (size_t)(end - addr - 1) >= hl)
			return -EINVAL;
		memcpy(host, addr + 1, (size_t)(end - addr - 1));
		host[end - addr - 1] = '\0';
		if (end[1] == ':')
			snprintf(port, pl, "%s", end + 2);
		else if (end[1] == '\0')
			snprintf(port, pl, "3260");
		else
			return -EINVAL;
		return 0;
	}
	colon = strrchr(addr, ':');
	if (colon && strchr(addr, ':') != colon)
		return -EINVAL;	/* bare IPv6 needs brackets */
	if (colon) {
		if ((size_t)(colon - addr) >= hl)
			return -EINVAL;
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		snprintf(port, pl, "%s", colon + 1);
	} else {
		snprintf(host, hl, "%s", addr);
		snprintf(port, pl, "3260");
	}
	return 0;
}

/*
 * A listening socket on @sa. An IPv6 socket is either IPv6 only (@dual
 * false: "[::]:3260" given explicitly means what it says) or dual-stack
 * (@dual true: IPv4 peers arrive as ::ffff:a.b.c.d); IPV6_V6ONLY is set
 * either way, as net.ipv6.bindv6only may have changed the default.
 * Returns the descriptor or -errno.
 */
static int portal_listen(const struct sockaddr *sa, socklen_t salen, bool dual)
{
	int one = 1, v6only = dual ? 0 : 1;
	int fd, rc;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		       sizeof(v6only)) < 0)
		goto err_close;
	if (bind(fd, sa, salen) < 0 || listen(fd, 128) < 0)
		goto err_close;
	return fd;

err_close:
	rc = -errno;
	close(fd);
	return rc;
}

/* True when @a and @b are the same address and port. */
static bool addr_same(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a->ss_family == AF_INET6 && a6->sin6_port == b6->sin6_port &&
	       IN6_ARE_ADDR_EQUAL(&a6->sin6_addr, &b6->sin6_addr);
}

static bool addr_is_loopback(const struct sockaddr_storage *ss);

/*
 * Resolves portal @addr ("host:port", "[v6]:port", "host": port 3260)
 * into @out. 0 or -EINVAL with a message in @err.
 */
static int portal_resolve(const char *addr, struct sockaddr_storage *out,
			  socklen_t *outlen, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV |
					      AI_PASSIVE };
	struct addrinfo *ai = NULL;
	char host[64], port[16];
	char *end;
	long pn;
	int rc;

	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "portal \"%s\": expected ADDR:PORT or "
			 "[IPV6]:PORT", addr);
		return -EINVAL;
	}
	pn = strtol(port, &end, 10);
	if (*end || pn < 1 || pn > 65535) {
		snprintf(err, errlen, "portal \"%s\": bad port \"%s\"", addr,
			 port);
		return -EINVAL;
	}
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "portal \"%s\": %s", addr,
			 gai_strerror(rc));
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, ai->ai_addr, ai->ai_addrlen);
	*outlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/*
 * A slot for a new portal on @want, under plock: -EEXIST when a portal
 * listens there already (or is being closed), -ENOSPC when every slot
 * is used. The slot may be portals[nportals], counted on registration.
 */
static int portal_slot(const struct sockaddr_storage *want,
		       struct portal **out, char *err, size_t errlen)
{
	struct portal *slot = NULL;

	if (!srv.portals_on) {
		snprintf(err, errlen, "service not started");
		return -EINVAL;
	}
	for (int i = 0; i < srv.nportals; i++) {
		struct portal *p = &srv.portals[i];

		if (p->state == PORTAL_FREE) {
			if (!slot)
				slot = p;
		} else if (addr_same(&p->addr, want)) {
			snprintf(err, errlen, "portal %s is already open%s",
				 p->name, p->state == PORTAL_CLOSING ?
				 " (it is being closed)" : "");
			return -EEXIST;
		}
	}
	if (!slot && srv.nportals < MAX_PORTALS)
		slot = &srv.portals[srv.nportals];
	if (!slot) {
		snprintf(err, errlen, "too many portals (at most %d)",
			 MAX_PORTALS);
		return -ENOSPC;
	}
	*out = slot;
	return 0;
}

/*
 * Serves @fd as portal @name of group @tpgt from reactor 0 in slot @p
 * (takes @fd), under plock; @dual: an IPv6 wildcard socket that takes
 * IPv4 peers too.
 */
static void portal_register(struct portal *p, int fd, const char *name,
			    uint16_t tpgt, bool dual)
{
	socklen_t sl = sizeof(p->addr);

	p->fd = fd;
	p->tpgt = tpgt;
	p->dual = dual;
	memset(&p->addr, 0, sizeof(p->addr));
	if (getsockname(fd, (struct sockaddr *)&p->addr, &sl) < 0)
		p->addr.ss_family = AF_UNSPEC;	/* SendTargets leaves it out */
	conn_addr_unmap(&p->addr);
	/* the group was checked in portal_can_add() */
	core_port_group_portal(tpgt, name, NULL);
	p->r = srv.thr[0].r;
	p->closing = false;
	p->armed = false;
	p->backoff = false;
	p->refuse_rl = (struct ratelimit){ 0 };
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->start.fn = portal_start;
	p->state = PORTAL_OPEN;
	if (p == &srv.portals[srv.nportals])
		srv.nportals++;
	reactor_post_node(p->r, &p->start);
	log_info("listening on %s (portal group %u)", name, tpgt);
}

static int portal_can_add(uint16_t tpgt, char *err, size_t errlen)
{
	enum scsi_alua_state st;

	if (scsi_port_groups_get_state(core_port_groups(), tpgt, &st) < 0) {
		snprintf(err, errlen, "no portal group %u", tpgt);
		return -ENOENT;
	}
	if (!srv.running) {
		snprintf(err, errlen, "service not started");
		return -EINVAL;
	}
	return 0;
}

/* iscsi_portal_add_group(); *@loopback: for this host only. */
static int portal_open(const char *addr, uint16_t tpgt, char *err,
		       size_t errlen, bool *loopback)
{
	struct sockaddr_storage want;
	struct portal *p = NULL;
	socklen_t wlen = 0;
	int fd, rc;

	rc = portal_can_add(tpgt, err, errlen);
	if (!rc)
		rc = portal_resolve(addr, &want, &wlen, err, errlen);
	if (rc)
		return rc;
	*loopback = addr_is_loopback(&want);
	pthread_mutex_lock(&srv.plock);
	rc = portal_slot(&want, &p, err, errlen);
	if (rc)
		goto out;
	/* an explicit portal is exactly what it says: [::] is IPv6 only */
	fd = portal_listen((const struct sockaddr *)&want, wlen, false);
	if (fd < 0) {
		snprintf(err, errlen, "portal %s: %s", addr, strerror(-fd));
		rc = fd;
		goto out;
	}
	portal_register(p, fd, addr, tpgt, false);
out:
	pthread_mutex_unlock(&srv.plock);
	return rc;
}

int iscsi_portal_add(const char *addr, char *err, size_t errlen)
{
	return iscsi_portal_add_group(addr, 1, err, errlen);
}

int iscsi_portal_add_group(const char *addr, uint16_t tpgt, char *err,
			   size_t errlen)
{
	bool loopback;

	return portal_open(addr, tpgt, err, errlen, &loopback);
}

int iscsi_portal_add_any(unsigned port, char *err, size_t errlen)
{
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6,
				     .sin6_addr = IN6ADDR_ANY_INIT,
				     .sin6_port = htons((uint16_t)port) };
	struct sockaddr_in any4 = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_ANY),
				    .sin_port = htons((uint16_t)port) };
	struct sockaddr_storage want = { 0 };
	struct portal *p = NULL;
	char name[32];
	bool dual = true;
	int fd, rc;

	rc = portal_can_add(1, err, errlen);
	if (rc)
		return rc;
	memcpy(&want, &any6, sizeof(any6));
	pthread_mutex_lock(&srv.plock);
	rc = portal_slot(&want, &p, err, errlen);
	if (rc)
		goto out;
	snprintf(name, sizeof(name), "[::]:%u", port);
	fd = portal_listen((const struct sockaddr *)&any6, sizeof(any6), true);
	/* no IPv6 in this kernel (ipv6.disable=1) or on this host */
	if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) {
		log_info("IPv6 is not available (%s): listening on IPv4 only",
			 strerror(-fd));
		snprintf(name, sizeof(name), "0.0.0.0:%u", port);
		dual = false;
		fd = portal_listen((const struct sockaddr *)&any4,
				   sizeof(any4), false);
	}
	if (fd < 0) {
		snprintf(err, errlen, "portal %s: %s", name, strerror(-fd));
		rc = fd;
		goto out;
	}
	portal_register(p, fd, name, 1, dual);
out:
	pthread_mutex_unlock(&srv.plock);
	return rc;
}

/*
 * Runs on the portal's reactor once nothing of it is in flight: closes
 * the socket and frees the slot for the thread waiting in
 * iscsi_portal_remove() (or iscsi_stop()).
 */
static void portal_reap(struct ev_post *node)
{
	struct portal *p = container_of(node, struct portal, reap);

	reactor_socket_close(p->r, p->fd);
	pthread_mutex_lock(&srv.plock);
	p->fd = -1;
	p->state = PORTAL_FREE;
	p->gen++;
	pthread_cond_broadcast(&srv.pcond);
	pthread_mutex_unlock(&srv.plock);
}

/*
 * On the portal's reactor: stop listening. shutdown() turns the
 * listening socket back into a closed one, so new connections are
 * refused (RST) at once and a pending accept completes with an error;
 * its completion reaps the portal. Without one in flight (never armed,
 * or waiting for descriptors) it is reaped here.
 */
static void close_portal(struct ev_post *node)
{
	struct portal *p = container_of(node, struct portal, close);

	p->closing = true;
	shutdown(p->fd, SHUT_RDWR);
	if (!p->armed)
		portal_reap(&p->reap);
}

int iscsi_portal_remove(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage want;
	struct portal *p = NULL;
	struct timespec deadline;
	char name[sizeof(p->name)];
	socklen_t wlen = 0;
	unsigned gen;
	int rc;

	rc = portal_resolve(addr, &want, &wlen, err, errlen);
	if (rc)
		return rc;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += PORTAL_CLOSE_WAIT_S;
	pthread_mutex_lock(&srv.plock);
	for (int i = 0; srv.portals_on && i < srv.nportals && !p; i++)
		if (srv.portals[i].state == PORTAL_OPEN &&
		    addr_same(&srv.portals[i].addr, &want))
			p = &srv.portals[i];
	if (!p) {
		snprintf(err, errlen, "no portal %s", addr);
		rc = -ENOENT;
		goto out;
	}
	/* from here on SendTargets leaves it out and no add may take it */
	p->state = PORTAL_CLOSING;
	gen = p->gen;
	snprintf(name, sizeof(name), "%s", p->name);
	p->close.fn = close_portal;
	reactor_post_node(p->r, &p->close);
	while (p->gen == gen && !rc)
		if (pthread_cond_timedwait(&srv.pcond, &srv.plock,
					   &deadline) == ETIMEDOUT)
			rc = p->gen == gen ? -ETIMEDOUT : 0;
	if (rc)
		snprintf(err, errlen, "portal %s: its reactor did not close "
			 "it within %d s", name, PORTAL_CLOSE_WAIT_S);
out:
	pthread_mutex_unlock(&srv.plock);
	if (p) {
		core_port_group_portal_forget(name);
		log_info("portal %s closed: no new connections through it; "
			 "those it accepted stay", name);
	}
	return rc;
}

/* True when @fd listens on a loopback address only (127/8, ::1). */
static bool portal_is_loopback(int fd)
{
	struct sockaddr_storage ss = { .ss_family = AF_UNSPEC };
	socklen_t sl = sizeof(ss);
	struct in6_addr a;
	uint8_t key[16];

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return false;
	addr_key(&ss, key);	/* IPv4 as ::ffff:a.b.c.d */
	memcpy(&a, key, sizeof(a));
	return IN6_IS_ADDR_LOOPBACK(&a) ||
	       (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
}

static bool addr_is_any(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *s4 = (const void *)ss;
	const struct sockaddr_in6 *s6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return s4->sin_addr.s_addr == htonl(INADDR_ANY);
	return ss->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
}

static bool addr_is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *s4 = (const void *)ss;
	const struct sockaddr_in6 *s6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	return ss->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
}

static void addr_set_port(struct sockaddr_storage *ss, in_port_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = port;
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = port;
}

static in_port_t addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_port;
	return ((const struct sockaddr_in6 *)ss)->sin6_port;
}

/*
 * The address SendTargets gives for portal @p to a connection that came
 * in on @local; false when that initiator has no use for it. A wildcard
 * portal is reported with the address the connection used and the
 * portal's port (as LIO and tgt do: the target cannot know which of its
 * addresses the initiator can reach), if the portal takes that family at
 * all. A loopback portal is for initiators on this host only.
 */
static bool portal_address_for(const struct portal *p,
			       const struct sockaddr_storage *local,
			       struct sockaddr_storage *out)
{
	if (p->addr.ss_family == AF_UNSPEC)
		return false;
	if (addr_is_any(&p->addr)) {
		if (local->ss_family != p->addr.ss_family &&
		    !(p->dual && local->ss_family == AF_INET))
			return false;
		*out = *local;
		addr_set_port(out, addr_port(&p->addr));
		return true;
	}
	if (addr_is_loopback(&p->addr) && !addr_is_loopback(local))
		return false;
	*out = p->addr;
	return true;
}

void server_portal_addresses(const struct iscsi_conn *c,
			     void (*cb)(void *ctx, const char *addr,
					uint16_t tpgt),
			     void *ctx)
{
	pthread_mutex_lock(&srv.plock);
	for (int i = 0; i < srv.nportals; i++) {
		const struct portal *p = &srv.portals[i];
		struct sockaddr_storage a;
		char str[80];

		/* a portal being closed is no longer offered */
		if (p->state != PORTAL_OPEN ||
		    !portal_address_for(p, &c->local, &a))
			continue;
		conn_addr_str(&a, str, sizeof(str));
		cb(ctx, str, p->tpgt);
	}
	pthread_mutex_unlock(&srv.plock);
}

static void warn_open_target(void *ctx, const char *iqn)
{
	const char *portal = ctx;

	log_warn("portal %s is reachable from other hosts and serves %s to "
		 "ALL initiators without CHAP; bind accounts (ringtgtadm "
		 "account bind) or restrict the ACL", portal, iqn);
}

void iscsi_warn_open_portals(void)
{
	char names[MAX_PORTALS][sizeof(srv.portals[0].name)];
	int n = 0;

	/* the names, then the core's targets: no core lock under plock */
	pthread_mutex_lock(&srv.plock);
	for (int i = 0; i < srv.nportals; i++)
		if (srv.portals[i].state == PORTAL_OPEN &&
		    !portal_is_loopback(srv.portals[i].fd))
			snprintf(names[n++], sizeof(names[0]), "%s",
				 srv.portals[i].name);
	pthread_mutex_unlock(&srv.plock);
	for (int i = 0; i < n; i++)
		core_targets_open(warn_open_target, names[i]);
}

/* core's portal hooks: portal.add warns as the start does */
static int portal_add_live(const char *addr, uint16_t group, char *err,
			   size_t errlen)
{
	bool loopback = true;
	int rc = portal_open(addr, group, err, errlen, &loopback);

	if (rc == 0 && !loopback)
		core_targets_open(warn_open_target, (void *)addr);
	return rc;
}

static const struct core_portal_ops live_portal_ops = {
	.add = portal_add_live,
	.remove = iscsi_portal_remove,
};

static void close_all(struct ev_post *p)
{
	struct iscsi_server_thread *thr =
		container_of(p, struct iscsi_server_thread, close_all);
	struct iscsi_conn *c, *n;

	list_for_each_entry_safe(c, n, &thr->conns, link)
		conn_close(c, "shutting down");
}

void iscsi_stop(void)
{
	int busy;

	if (!srv.running)
		return;
	core_set_lu_fence(NULL);
	core_set_portal_ops(NULL);
	pthread_mutex_lock(&srv.plock);
	srv.portals_on = false;		/* a portal.add under way opens nothing */
	/* a CLOSING one has its close posted already */
	for (int i = 0; i < srv.nportals; i++) {
		if (srv.portals[i].state != PORTAL_OPEN)
			continue;
		srv.portals[i].close.fn = close_portal;
		reactor_post_node(srv.portals[i].r, &srv.portals[i].close);
	}
	pthread_mutex_unlock(&srv.plock);
	for (int i = 0; i < srv.n; i++) {
		srv.thr[i].close_all.fn = close_all;
		reactor_post_node(srv.thr[i].r, &srv.thr[i].close_all);
	}
	/* connections finish their I/O and free themselves; bounded wait */
	for (int i = 0; i < 500 && atomic_load(&srv.live_conns) > 0; i++)
		usleep(10000);
	busy = atomic_load(&srv.live_conns);
	if (busy > 0)
		log_warn("%d connection(s) still have I/O in flight at shutdown; "
			 "leaving them (and their reactors) allocated", busy);
	for (int i = 0; i < srv.n; i++)
		reactor_stop(srv.thr[i].r);
	for (int i = 0; i < srv.n; i++)
		pthread_join(srv.tid[i], NULL);
	pthread_mutex_lock(&srv.plock);
	for (int i = 0; i < srv.nportals; i++) {
		struct portal *p = &srv.portals[i];

		if (p->state != PORTAL_FREE && p->fd >= 0) {
			close(p->fd);	/* not reaped before its reactor stopped */
			p->gen++;
		}
		p->fd = -1;
		p->state = PORTAL_FREE;
	}
	srv.nportals = 0;
	pthread_cond_broadcast(&srv.pcond);
	pthread_mutex_unlock(&srv.plock);
	/*
	 * A connection still alive owns tasks whose store I/O may complete
	 * into its reactor's ring: freeing either would be a use after free.
	 * The process is exiting; what it still uses stays allocated.
	 */
	if (busy == 0) {
		for (int i = 0; i < srv.n; i++)
			reactor_free(srv.thr[i].r);
		pthread_mutex_lock(&srv.src_lock);
		addrcount_free(srv.src);
		srv.src = NULL;
		pthread_mutex_unlock(&srv.src_lock);
	}
	srv.running = false;
}
