/* SPDX-License-Identifier: MIT */
#ifndef GSVM_EVENT_H
#define GSVM_EVENT_H

#include <stdint.h>

struct svm;

/**
 * enum event_type - What happened
 */
enum event_type {
	EVENT_CPU_FAULT,
	EVENT_DEVICE_FAULT,
	EVENT_MIGRATION,
	EVENT_EVICTION,
	EVENT_THROTTLE,
	EVENT_PIN,
	EVENT_CLIENT_CONNECT,
	EVENT_CLIENT_DISCONNECT,
	EVENT_DEVICE_UNBIND,
	EVENT_DEVICE_REBIND,
	EVENT_NR,
};

/**
 * struct event - One event, as the core reports it
 * @type: What happened
 * @time_ns: When (the core's clock)
 * @svm: The client it concerns, or NULL
 * @addr: Client address (faults, migrations, evictions, thrash events)
 * @bytes: Bytes moved (migrations, evictions)
 * @src: Where data came from: a device id or LOC_HOST (migrations)
 * @dst: Where it went (migrations); the device (faults, unbind, rebind)
 * @cause: enum migrate_cause (migrations)
 */
struct event {
	enum event_type type;
	uint64_t time_ns;
	struct svm *svm;
	uint64_t addr;
	uint64_t bytes;
	int src;
	int dst;
	int cause;
};

const char *event_type_name(enum event_type type);
const char *event_cause_name(int cause);

#endif
