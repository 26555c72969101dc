/*
 * log.h - one line per event, with a level. In the foreground the lines go
 * to stderr ("ringtgtd[pid]: level: message"); detached, to syslog,
 * through a bounded queue and a logging thread (logq.h), so no caller
 * ever waits for syslog: when the queue is full a line is dropped, and
 * the logging thread reports how many were.
 * Never log an account's secret.
 */
#ifndef RINGTGT_LOG_H
#define RINGTGT_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Lines above it are dropped; atomic: daemon.set_log_level changes it. */
extern _Atomic enum log_level log_threshold;

/*
 * @to_stderr false: syslog, and the logging thread is started (once; call
 * it after daemon(), in the process that logs). Lines still queued at
 * exit get up to a second to go out.
 */
void log_init(const char *ident, bool to_stderr, enum log_level level);
/* Parses "error", "warn", "info", "debug"; -1 for anything else. */
int log_level_parse(const char *s);
/* "error", "warn", "info", "debug". */
const char *log_level_name(enum log_level level);
/*
 * At run time, any thread (the control socket's daemon.set_log_level,
 * tgtadm's sys debug): lines logged from then on pass @level.
 */
void log_set_level(enum log_level level);
/* What log_init() set (ringtgtd --log-level). */
enum log_level log_start_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * For tests: each line that passes the threshold goes to @fn instead of
 * stderr or syslog (called by the logging thread when lines are queued).
 * NULL restores the normal sink. Set it before the lines it should see.
 */
typedef void log_writer_fn(void *arg, enum log_level lvl, const char *line);
void log_set_writer(log_writer_fn *fn, void *arg);

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                       \
	do {                                                                 \
		if (log_threshold >= LOG_LVL_DEBUG)                          \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                 \
	} while (0)

#endif
