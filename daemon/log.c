// SPDX-License-Identifier: MIT
/**
 * DOC: Logging
 *
 * gsvmd logs to stderr, one line per message, in one of two formats:
 *
 * - On a terminal or a file: ``gsvmd[PID]: error: FUNC: message``, the same
 *   with ``warning:`` and ``debug:``, and ``gsvmd[PID]: message`` for info.
 * - Under systemd, with stderr connected to the journal (journal_prefix):
 *   ``<3>FUNC: message``. The ``<N>`` prefix is sd-daemon(3)'s priority
 *   prefix (SD_ERR is "<3>", ...; the numbers are syslog's), which journald
 *   turns into the entry's priority; the journal records the pid and time
 *   itself, so neither is repeated. Info lines carry no function name.
 *
 * Verbosity: errors and warnings are always logged, info from verbosity 0
 * (the default) up, debug from 1 (-v) up.
 *
 * Each line is formatted into a stack buffer and written with one write(2),
 * so lines from different threads never interleave (writes to a pipe of at
 * most PIPE_BUF bytes are atomic; LOG_LINE_MAX stays below it). Longer
 * messages are truncated and end in "...". Newlines inside a message become
 * spaces, so one message is always one journal entry.
 *
 * The settings are the only state; they are atomics so that log_init() may
 * run again (say, on SIGHUP) while other threads log. log_msg() preserves
 * errno.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define LOG_IDENT "gsvmd"
#define LOG_LINE_MAX 2048

static atomic_int log_verbosity;
static atomic_bool log_journal;

/**
 * log_init() - Set up logging
 * @verbosity: 0 logs errors, warnings and info; 1 or more adds debug
 * @journal_prefix: Start each line with the sd-daemon priority prefix and
 *                  leave out the pid (stderr is connected to the journal)
 */
void log_init(int verbosity, bool journal_prefix)
{
	atomic_store_explicit(&log_verbosity, verbosity, memory_order_relaxed);
	atomic_store_explicit(&log_journal, journal_prefix, memory_order_relaxed);
}

static bool log_enabled(int prio)
{
	int verbosity = atomic_load_explicit(&log_verbosity, memory_order_relaxed);

	if (prio <= LOG_WARNING)
		return true;
	if (prio <= LOG_INFO)
		return verbosity >= 0;
	return verbosity >= 1;
}

static const char *log_level(int prio)
{
	if (prio <= LOG_ERR)
		return "error: ";
	if (prio == LOG_WARNING)
		return "warning: ";
	if (prio >= LOG_DEBUG)
		return "debug: ";
	return "";
}

/* Write "<N>" or "gsvmd[PID]: level: ", then "FUNC: " unless info. */
static size_t log_prefix(char *buf, size_t size, int prio, const char *func)
{
	bool journal = atomic_load_explicit(&log_journal, memory_order_relaxed);
	bool show_func = func && (prio <= LOG_WARNING || prio >= LOG_DEBUG);
	int len;

	if (prio < LOG_EMERG)
		prio = LOG_EMERG;
	if (prio > LOG_DEBUG)
		prio = LOG_DEBUG;
	if (journal)
		len = snprintf(buf, size, "<%d>%s%s", prio, show_func ? func : "",
			       show_func ? ": " : "");
	else
		len = snprintf(buf, size, LOG_IDENT "[%ld]: %s%s%s", (long)getpid(),
			       log_level(prio), show_func ? func : "", show_func ? ": " : "");
	if (len < 0)
		return 0;
	return (size_t)len < size ? (size_t)len : size - 1;
}

/*
 * End the line of @len < @size bytes that vsnprintf() returned @n for:
 * mark a truncation with "...", flatten newlines, add the newline (@size
 * ends with the byte for it). Return: the line's length.
 */
static size_t log_finish(char *buf, size_t size, size_t len, int n)
{
	static const char ellipsis[] = "...";
	size_t room = size - 1 - len, i;

	if (n < 0)
		n = 0;
	if ((size_t)n > room) {
		memcpy(buf + size - sizeof(ellipsis), ellipsis, sizeof(ellipsis) - 1);
		n = (int)room;
	}
	for (i = len; i < len + (size_t)n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	len += (size_t)n;
	buf[len++] = '\n';
	return len;
}

/* One write(2) per line; loop only for signals and short writes. */
static void log_write(const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(STDERR_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/**
 * log_msg() - Log one line to stderr
 * @prio: Syslog priority (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG)
 * @func: Name of the logging function (__func__), or NULL
 * @fmt: printf format of the message, without a trailing newline
 *
 * Use the log_err(), log_warn(), log_info() and log_debug() macros. Lines
 * below the verbosity set by log_init() are dropped. errno is preserved.
 */
void log_msg(int prio, const char *func, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	int saved_errno = errno;
	va_list ap;
	size_t len;
	int n;

	if (!log_enabled(prio))
		goto out;
	len = log_prefix(line, sizeof(line), prio, func);
	/* The byte vsnprintf() keeps for its NUL is where the newline goes. */
	va_start(ap, fmt);
	/* clang-tidy 14 linting several files misreports ap (llvm-project#40656). */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	len = log_finish(line, sizeof(line), len, n);
	log_write(line, len);
out:
	errno = saved_errno;
}
