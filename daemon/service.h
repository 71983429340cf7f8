/* SPDX-License-Identifier: MIT */
#ifndef GSVM_SERVICE_H
#define GSVM_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

struct event;
struct event_base;

/**
 * DOC: Service manager interface
 *
 * What gsvmd tells systemd and takes from it (sd-daemon(3)); everything here
 * is a no-op when gsvmd does not run under a service manager.
 */

bool service_journal_stderr(void);
int service_listen_fd(int *fd, char *path, size_t size);
int service_watchdog_start(struct event_base *base, struct event **out);
void service_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void service_reloading(const char *path);

#endif
