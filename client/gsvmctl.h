/* SPDX-License-Identifier: MIT */
#ifndef GSVM_GSVMCTL_H
#define GSVM_GSVMCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gsvm.pb-c.h"

/**
 * DOC: gsvmctl's data path and renderers
 *
 * gsvmctl.c asks gsvmd (one request per command, the protocol spoken
 * directly) and hands the reply, untouched, to one renderer: ctl_text.c for
 * people, ctl_json.c for programs. A renderer only formats what it is given,
 * so text and JSON always show the same numbers from the same reply.
 *
 * Locations are device ids on the wire; renderers name them with the device
 * list (ctl_loc_name()), which the commands that show locations fetch first.
 */

/* Fields an event type carries (struct ctl_event_kind). */
#define CTL_EV_PID 0x1
#define CTL_EV_ADDR 0x2
#define CTL_EV_BYTES 0x4
#define CTL_EV_CAUSE 0x8

/**
 * struct ctl_event_kind - What an event type's fields mean
 * @type: The type, as gsvmd names it
 * @fields: CTL_EV_* fields that apply
 * @src_key: Name of the src location field, or NULL when it does not apply
 * @dst_key: Name of the dst location field, or NULL when it does not apply
 */
struct ctl_event_kind {
	const char *type;
	unsigned int fields;
	const char *src_key;
	const char *dst_key;
};

/**
 * struct ctl_event - One event as the renderers see it
 * @ev: The event from gsvmd
 * @kind: What its fields mean
 * @time_ns: When, in ns since the epoch (gsvmd stamps events with its
 *           monotonic clock; gsvmctl converts)
 */
struct ctl_event {
	const Gsvm__Event *ev;
	const struct ctl_event_kind *kind;
	uint64_t time_ns;
};

/**
 * struct ctl_evict - What an evict command did
 * @device: The device emptied, or NULL when evicting a process
 * @pid: The process, when @device is NULL
 * @bytes: Bytes moved to host
 */
struct ctl_evict {
	const Gsvm__DeviceInfo *device;
	int pid;
	uint64_t bytes;
};

/**
 * struct ctl_output - A renderer: one function per reply
 * @devices: The devices
 * @stats: One statistics snapshot
 * @clients: Clients and their usage; @devs names the device columns
 * @ranges: Ranges (every page of the reply), in pid and address order
 * @evict: The result of an evict command
 * @device_admin: A device was unbound (@online false) or rebound
 * @event: One event of a stream; printed and flushed at once
 */
struct ctl_output {
	void (*devices)(const Gsvm__DevicesReply *devs);
	void (*stats)(const Gsvm__StatsReply *st);
	void (*clients)(const Gsvm__ClientsReply *cl, const Gsvm__DevicesReply *devs);
	void (*ranges)(Gsvm__RangeDesc *const *r, size_t n, const Gsvm__DevicesReply *devs);
	void (*evict)(const struct ctl_evict *e);
	void (*device_admin)(const Gsvm__DeviceInfo *dev, bool online);
	void (*event)(const struct ctl_event *e, const Gsvm__DevicesReply *devs);
};

extern const struct ctl_output ctl_text_output;
extern const struct ctl_output ctl_json_output;

/* Location -1 is host; -2 means none (no preferred location). */
#define CTL_LOC_HOST (-1)
#define CTL_LOC_NONE (-2)

const char *ctl_loc_name(const Gsvm__DevicesReply *devs, int loc, char *buf, size_t len);

#endif
