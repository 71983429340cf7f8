/* SPDX-License-Identifier: MIT */
#ifndef GSVM_GSVMD_H
#define GSVM_GSVMD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/queue.h>

#include "config.h"
#include "core.h"

struct event_base;
struct workers;
struct control;
struct session;

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
};

#endif
