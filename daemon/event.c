// SPDX-License-Identifier: MIT
/**
 * DOC: Events
 *
 * The core reports what it does (faults, migrations with their source,
 * destination, bytes and cause, evictions, thrash throttles and pins) as
 * &struct event through core_emit(); the daemon adds client and device
 * events and streams them to listeners (gsvmctl events). Emitting costs one
 * relaxed atomic load while nobody listens.
 */
#include "event.h"
#include "migrate.h"

static const char *const event_names[EVENT_NR] = {
	[EVENT_CPU_FAULT] = "cpu-fault",
	[EVENT_DEVICE_FAULT] = "device-fault",
	[EVENT_MIGRATION] = "migration",
	[EVENT_EVICTION] = "eviction",
	[EVENT_THROTTLE] = "throttle",
	[EVENT_PIN] = "pin",
	[EVENT_CLIENT_CONNECT] = "client-connect",
	[EVENT_CLIENT_DISCONNECT] = "client-disconnect",
	[EVENT_DEVICE_UNBIND] = "device-unbind",
	[EVENT_DEVICE_REBIND] = "device-rebind",
};

/**
 * event_type_name() - The name of an event type, as gsvmctl shows it
 * @type: The type
 *
 * Return: a static string ("?" for an unknown type).
 */
const char *event_type_name(enum event_type type)
{
	return (unsigned int)type < EVENT_NR ? event_names[type] : "?";
}

/**
 * event_cause_name() - The name of a migration cause
 * @cause: enum migrate_cause
 *
 * Return: a static string ("?" for an unknown cause).
 */
const char *event_cause_name(int cause)
{
	switch (cause) {
	case MIGRATE_PREFETCH:
		return "prefetch";
	case MIGRATE_DEVICE_FAULT:
		return "device-fault";
	case MIGRATE_CPU_FAULT:
		return "cpu-fault";
	case MIGRATE_EVICTION:
		return "eviction";
	case MIGRATE_UNBIND:
		return "unbind";
	default:
		return "?";
	}
}
