/*
 * log.c - the daemon's log sink: stderr in the foreground; detached,
 * syslog written by a logging thread that takes the lines from a bounded
 * queue (logq.h). syslog(3) blocks while /dev/log does not take lines (a
 * stuck or slow journald): with the queue, only the logging thread waits,
 * never a reactor; lines that do not fit are counted and reported.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "logq.h"

#define LOG_QUEUE_LINES 512
#define LOG_EXIT_WAIT_MS 1000	/* at exit, for the queue to empty */

_Atomic enum log_level log_threshold = LOG_LVL_INFO;
static enum log_level log_start = LOG_LVL_INFO;	/* set once, at start */
static bool log_stderr = true;
static const char *log_ident = "ringtgtd";
static log_writer_fn *_Atomic log_writer;
static void *_Atomic log_writer_arg;

static struct {
	bool started;
	struct logq q;
	sem_t wake;			/* a line was queued, or stop */
	sem_t done;			/* the thread wrote its last line */
	atomic_bool stop;
	pthread_t tid;
} logt;

static const char *const tag[] = { "error", "warn", "info", "debug" };

/* Where a finished line goes: the test hook, stderr or syslog. */
static void log_write(enum log_level lvl, const char *line)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	log_writer_fn *fn = atomic_load(&log_writer);

	if (fn)
		fn(atomic_load(&log_writer_arg), lvl, line);
	else if (log_stderr)
		fprintf(stderr, "%s[%d]: %s: %s\n", log_ident, (int)getpid(),
			tag[lvl], line);
	else
		syslog(prio[lvl], "%s", line);
}

/* Writes every queued line, then how many were dropped, if any. */
static void log_drain(void)
{
	char line[LOGQ_LINE];
	unsigned dropped;
	int lvl;

	while (logq_pop(&logt.q, &lvl, line, sizeof(line)))
		log_write((enum log_level)lvl, line);
	dropped = logq_dropped_take(&logt.q);
	if (dropped) {
		snprintf(line, sizeof(line), "%u log line%s dropped: the log "
			 "could not take them fast enough", dropped,
			 dropped == 1 ? "" : "s");
		log_write(LOG_LVL_WARN, line);
	}
}

static void *log_thread(void *arg)
{
	(void)arg;
	for (;;) {
		/* read first: what was queued before stop is written */
		bool stopping = atomic_load(&logt.stop);

		log_drain();
		if (stopping)
			break;
		while (sem_wait(&logt.wake) < 0 && errno == EINTR)
			;
	}
	sem_post(&logt.done);
	return NULL;
}

/* At exit: give the logging thread a moment to write what is queued. */
static void log_exit_flush(void)
{
	struct timespec ts;

	if (!logt.started)
		return;
	atomic_store(&logt.stop, true);
	sem_post(&logt.wake);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += LOG_EXIT_WAIT_MS / 1000;
	while (sem_timedwait(&logt.done, &ts) < 0 && errno == EINTR)
		;
}

static void log_thread_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;

	if (logt.started || logq_init(&logt.q, LOG_QUEUE_LINES) < 0)
		return;
	sem_init(&logt.wake, 0, 0);
	sem_init(&logt.done, 0, 0);
	pthread_attr_init(&attr);
	/* detached: a thread stuck in syslog() never holds up exit */
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);	/* signals go to main */
	if (pthread_create(&logt.tid, &attr, log_thread, NULL) == 0) {
		logt.started = true;
		atexit(log_exit_flush);
	} else {
		logq_destroy(&logt.q);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

void log_init(const char *ident, bool to_stderr, enum log_level level)
{
	log_ident = ident;
	log_threshold = level;
	log_start = level;
	if (!to_stderr) {
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_thread_start();
	}
	log_stderr = to_stderr;
}

void log_set_writer(log_writer_fn *fn, void *arg)
{
	atomic_store(&log_writer_arg, arg);
	atomic_store(&log_writer, fn);
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < 4 ? tag[level] : "?";
}

void log_set_level(enum log_level level)
{
	enum log_level old = atomic_exchange(&log_threshold, level);

	if (old != level)
		log_msg(LOG_LVL_INFO, "log level %s (was %s)", tag[level],
			tag[old]);
}

enum log_level log_start_level(void)
{
	return log_start;
}

int log_level_parse(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	if (strcmp(s, "warning") == 0)
		return LOG_LVL_WARN;
	return -1;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (lvl > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!log_stderr && logt.started) {
		/* never wait for syslog: the logging thread writes it */
		if (logq_push(&logt.q, (int)lvl, line))
			sem_post(&logt.wake);
		return;
	}
	log_write(lvl, line);
}
