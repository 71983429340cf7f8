/* SPDX-License-Identifier: MIT */
#ifndef GSVM_LOG_H
#define GSVM_LOG_H

#include <stdbool.h>
#include <syslog.h>

/**
 * DOC: Logging interface
 *
 * log_err(), log_warn(), log_info() and log_debug() take a printf format and
 * log one line to stderr with the calling function's name. Log once, where
 * the error is handled. Priorities are syslog's (LOG_ERR ... LOG_DEBUG).
 */

void log_init(int verbosity, bool journal_prefix);
void log_msg(int prio, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(fmt, ...) log_msg(LOG_ERR, __func__, fmt, ##__VA_ARGS__)
#define log_warn(fmt, ...) log_msg(LOG_WARNING, __func__, fmt, ##__VA_ARGS__)
#define log_info(fmt, ...) log_msg(LOG_INFO, __func__, fmt, ##__VA_ARGS__)
#define log_debug(fmt, ...) log_msg(LOG_DEBUG, __func__, fmt, ##__VA_ARGS__)

#endif
