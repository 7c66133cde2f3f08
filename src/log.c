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

static const char hex[] = "0123456789abcdef";

/* The one escaper: printable ASCII stays, the rest is \xNN; with
 * backslash, '\\' is escaped too, so an escaped string is unambiguous.
 * Returns the length written (out is NUL-terminated). */
static size_t log_escape_into(const unsigned char *p, size_t n, char *out,
			      size_t outlen, int backslash)
{
	size_t k = 0;

	if (outlen == 0)
		return 0;
	for (size_t i = 0; i < n && p[i]; i++) {
		unsigned char ch = p[i];
		int plain = ch >= 0x20 && ch < 0x7f && !(backslash && ch == '\\');
		size_t need = plain ? 1 : 4;

		/* Keep room for "..." and the NUL. */
		if (k + need + 4 > outlen) {
			size_t dots = outlen - 1 - k < 3 ? outlen - 1 - k : 3;

			for (size_t d = 0; d < dots; d++)
				out[k++] = '.';
			break;
		}
		if (plain) {
			out[k++] = (char)ch;
		} else {
			out[k++] = '\\';
			out[k++] = 'x';
			out[k++] = hex[ch >> 4];
			out[k++] = hex[ch & 15];
		}
	}
	out[k] = '\0';
	return k;
}

const char *log_escape(const void *p, size_t n, char *out, size_t outlen)
{
	log_escape_into(p, n, out, outlen, 1);
	return out;
}

static void log_write(const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void log_write(const char *prefix, const char *fmt, va_list ap)
{
	char msg[2048], line[2048];
	int n = snprintf(line, sizeof(line), "%s ", prefix);
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (m < 0)
		return;
	if (m > (int)sizeof(msg) - 1)
		m = (int)sizeof(msg) - 1;
	/* Whatever a message holds (a peer's string someone forgot to
	 * escape), the line stays one line of printable ASCII. */
	n += (int)log_escape_into((const unsigned char *)msg, (size_t)m,
				  line + n, sizeof(line) - (size_t)n - 1, 0);
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
