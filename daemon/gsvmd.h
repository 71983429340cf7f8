/* SPDX-License-Identifier: MIT */
#ifndef GSVM_GSVMD_H
#define GSVM_GSVMD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "config.h"
#include "core.h"

struct event_base;
struct workers;
struct control;
struct session;
struct events;
struct metrics;

/**
 * struct gsvmd - The daemon's context, passed to every layer
 * @cfg: Configuration
 * @core: Memory-management state: devices, clients, counters
 * @base: The event loop
 * @workers: Threads that run requests
 * @control: The listening socket
 * @lock: Protects @sessions and @nsessions
 * @sessions: Connected clients
 * @nsessions: Their number
 * @next_session: Id for the next session
 * @stopping: Shutdown has begun; new requests are refused
 * @admin_gid: The admin group's gid, or (gid_t)-1 when it does not exist
 * @events: Connections streaming events (events.c)
 * @metrics: The Prometheus endpoint, or NULL (metrics.c)
 */
struct gsvmd {
	struct gsvmd_config cfg;
	struct core core;
	struct event_base *base;
	struct workers *workers;
	struct control *control;
	pthread_mutex_t lock;
	TAILQ_HEAD(, session) sessions;
	unsigned int nsessions;
	uint64_t next_session;
	atomic_bool stopping;
	gid_t admin_gid;
	struct events *events;
	struct metrics *metrics;
};

#endif
