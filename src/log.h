/* log.h - one-line, grep-able log messages on stderr with levels.
 *
 * A line is "TIMESTAMP LEVEL message", the time in RFC 3339 UTC with
 * milliseconds (2026-12-01T22:16:43.123Z); under journald (stderr is the
 * stream $JOURNAL_STREAM names) it is "<N>LEVEL message" instead, N the
 * syslog priority of sd-daemon(3), and journald keeps the time. With
 * LOG_FORMAT_JSON each line is {"ts":...,"level":...,"msg":...}, the
 * message (key=value pairs) as it would be in text. */
#ifndef MCFERRY_LOG_H
#define MCFERRY_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdnoreturn.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Room for log_escape() of a peer's string: enough for a 64-byte island
 * name escaped whole; longer strings are cut and end in "...". */
#define LOG_ESCAPE_MAX 260

/* A peer-supplied string (island name, ERROR text, identity) made safe
 * for a log line: printable ASCII is kept, everything else, and the
 * backslash, becomes \xNN. Reads at most n bytes of p (stopping at a
 * NUL), writes at most outlen bytes (NUL included, cut with "..." when
 * it does not fit) and returns out. Every log line is passed through
 * the same filter too (non-printables only), so nothing a peer sends can
 * break a line or reach a terminal raw. */
const char *log_escape(const void *p, size_t n, char *out, size_t outlen);

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* Look at the environment once, at start: under journald lines get a <N>
 * priority prefix and no timestamp. */
void log_init(void);
/* Text (the default) or JSON lines. */
void log_set_format(enum log_format format);
/* Messages above this level are dropped; the default is LOG_INFO. */
void log_set_level(enum log_level level);
/* True when a message at this level would be printed. */
int log_enabled(enum log_level level);
/* Print "LEVEL message\n" on stderr in one write. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print "stats message" regardless of -q: the user asked for it. */
void log_stats(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "error message" and exit with the given status. For start-up and
 * broken invariants only. */
noreturn void fatal(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_enabled(LOG_DEBUG))                                    \
			log_msg(LOG_DEBUG, __VA_ARGS__);                       \
	} while (0)

#endif
