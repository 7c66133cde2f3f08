/* log.c - one-line log messages on stderr, written whole so lines never mix. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The log level is process-wide by nature: every module logs to one stderr. */
static enum log_level log_level = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
	log_level = level;
}

int log_enabled(enum log_level level)
{
	return level <= log_level;
}

static void log_write(const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void log_write(const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s ", prefix);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);

	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2) per line keeps lines whole when several processes
	 * share a terminal or a log file. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_write(level_names[level], fmt, ap);
	va_end(ap);
}

void log_stats(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write("stats", fmt, ap);
	va_end(ap);
}

void fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write("error", fmt, ap);
	va_end(ap);
	exit(status);
}
