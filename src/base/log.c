/*
 * log.c - the daemon's log sink: stderr in the foreground, syslog otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

enum log_level log_threshold = LOG_LVL_INFO;
static bool log_stderr = true;
static const char *log_ident = "ringtgtd";

void log_init(const char *ident, bool to_stderr, enum log_level level)
{
	log_ident = ident;
	log_stderr = to_stderr;
	log_threshold = level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
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
	static const char *const tag[] = { "error", "warn", "info", "debug" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[1024];
	va_list ap;

	if (lvl > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_stderr)
		fprintf(stderr, "%s[%d]: %s: %s\n", log_ident, (int)getpid(),
			tag[lvl], line);
	else
		syslog(prio[lvl], "%s", line);
}
