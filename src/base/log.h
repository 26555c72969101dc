/*
 * log.h - one line per event, with a level. In the foreground the lines go
 * to stderr ("ringtgtd[pid]: level: message"); detached, to syslog.
 * Never log an account's secret.
 */
#ifndef RINGTGT_LOG_H
#define RINGTGT_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern enum log_level log_threshold;

void log_init(const char *ident, bool to_stderr, enum log_level level);
/* Parses "error", "warn", "info", "debug"; -1 for anything else. */
int log_level_parse(const char *s);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                       \
	do {                                                                 \
		if (log_threshold >= LOG_LVL_DEBUG)                          \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                 \
	} while (0)

#endif
