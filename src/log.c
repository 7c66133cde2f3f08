/* log.c - one-line log messages on stderr, written whole so lines never mix. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The log level is process-wide by nature: every module logs to one stderr. */
static enum log_level log_level = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* How lines look: process-wide too, set once at start (log_init, then
 * --log-format). */
static enum log_format log_format = LOG_FORMAT_TEXT;
static int log_journal; /* stderr is journald's stream: <N>, no time */

/* syslog(3) priorities of the levels, for journald's <N> prefix; stats
 * lines are info. */
static const int level_prio[] = { 3, 4, 6, 7 };
#define PRIO_STATS 6

void log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connects;
	 * it is inherited, so only trust it while stderr is that stream. */
	log_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		      fstat(STDERR_FILENO, &st) == 0 &&
		      (unsigned long long)st.st_dev == dev &&
		      (unsigned long long)st.st_ino == ino;
}

void log_set_format(enum log_format format)
{
	log_format = format;
}

/* "2026-12-01T22:16:43.123Z" */
static void log_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ",
		 (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

/* s as the inside of a JSON string, into buf (truncated, always ended). */
static size_t json_string(char *buf, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(buf + n, len - n, "\\u%04x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n] = '\0';
	return n;
}

/* One whole line, newline included, as the format says; its length. */
static size_t log_line(char *line, size_t len, int prio, const char *level,
		       const char *msg)
{
	char ts[40], pre[8] = "";
	int n;

	if (log_journal)
		snprintf(pre, sizeof(pre), "<%d>", prio);
	log_timestamp(ts, sizeof(ts));
	if (log_format == LOG_FORMAT_JSON) {
		char esc[4 * 2048];

		json_string(esc, sizeof(esc), msg);
		n = snprintf(line, len,
			     "%s{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}",
			     pre, ts, level, esc);
	} else if (log_journal) {
		n = snprintf(line, len, "%s%s %s", pre, level, msg);
	} else {
		n = snprintf(line, len, "%s %s %s", ts, level, msg);
	}
	if (n < 0)
		return 0;
	if ((size_t)n > len - 2)
		n = (int)len - 2;
	line[n++] = '\n';
	return (size_t)n;
}

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

static void log_write(int prio, const char *prefix, const char *fmt,
		      va_list ap) __attribute__((format(printf, 3, 0)));

static void log_write(int prio, const char *prefix, const char *fmt,
		      va_list ap)
{
	char msg[2048], safe[2048], line[8192 + 512];
	size_t n;
	int m;

	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (m < 0)
		return;
	if (m > (int)sizeof(msg) - 1)
		m = (int)sizeof(msg) - 1;
	/* Whatever a message holds (a peer's string someone forgot to
	 * escape), the line stays one line of printable ASCII. */
	log_escape_into((const unsigned char *)msg, (size_t)m, safe,
			sizeof(safe), 0);
	n = log_line(line, sizeof(line), prio, prefix, safe);
	/* One write(2) per line keeps lines whole when several processes
	 * share a terminal or a log file. */
	if (n == 0 || write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_write(level_prio[level], level_names[level], fmt, ap);
	va_end(ap);
}

void log_stats(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(PRIO_STATS, "stats", fmt, ap);
	va_end(ap);
}

void fatal(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(level_prio[LOG_ERROR], "error", fmt, ap);
	va_end(ap);
	exit(status);
}
