// SPDX-License-Identifier: MIT
/**
 * DOC: gsvmctl's JSON renderer
 *
 * One JSON object per command (pretty-printed), one per line for events
 * (JSON lines), built with json-c. Numbers are exact (bytes, not MiB);
 * locations are device names, "host", or null for no preferred location;
 * device sets (replicas, accessed-by) are arrays of names.
 *
 * The stats object is an interface (see the README): its keys and nesting
 * only grow.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>

#include <json-c/json.h>

#include "gsvmctl.h"

/* json-c returns NULL when out of memory; a command cannot go on. */
static json_object *json_check(json_object *o)
{
	if (!o) {
		errno = ENOMEM;
		err(1, NULL);
	}
	return o;
}

static json_object *json_obj(void)
{
	return json_check(json_object_new_object());
}

static json_object *json_arr(void)
{
	return json_check(json_object_new_array());
}

/* Set @key of @o to @v (NULL is JSON null). */
static void json_set(json_object *o, const char *key, json_object *v)
{
	if (json_object_object_add(o, key, v))
		json_check(NULL);
}

static void json_set_u64(json_object *o, const char *key, uint64_t v)
{
	json_set(o, key, json_check(json_object_new_uint64(v)));
}

static void json_set_int(json_object *o, const char *key, int64_t v)
{
	json_set(o, key, json_check(json_object_new_int64(v)));
}

static void json_set_str(json_object *o, const char *key, const char *s)
{
	json_set(o, key, json_check(json_object_new_string(s)));
}

static void json_set_bool(json_object *o, const char *key, bool b)
{
	json_set(o, key, json_check(json_object_new_boolean(b)));
}

static void json_push(json_object *a, json_object *v)
{
	if (json_object_array_add(a, v))
		json_check(NULL);
}

/* Print @o on stdout and free it. */
static void json_print(json_object *o, int flags)
{
	const char *s = json_object_to_json_string_ext(o, flags | JSON_C_TO_STRING_SPACED |
								  JSON_C_TO_STRING_NOSLASHESCAPE);

	if (s)
		puts(s);
	else
		json_check(NULL);
	json_object_put(o);
}

static void json_set_loc(json_object *o, const char *key, const Gsvm__DevicesReply *devs, int loc)
{
	char name[16];

	if (loc == CTL_LOC_NONE)
		json_set(o, key, NULL);
	else
		json_set_str(o, key, ctl_loc_name(devs, loc, name, sizeof(name)));
}

/* The devices of the bits of @mask as an array of names. */
static void json_set_devs(json_object *o, const char *key, const Gsvm__DevicesReply *devs,
			  uint64_t mask)
{
	json_object *a = json_arr();
	char name[16];
	int id;

	for (id = 0; id < 64; id++)
		if (mask & (1ULL << id))
			json_push(a, json_check(json_object_new_string(
					     ctl_loc_name(devs, id, name, sizeof(name)))));
	json_set(o, key, a);
}

static json_object *json_device(const Gsvm__DeviceInfo *d, bool provider)
{
	json_object *o = json_obj();

	json_set_int(o, "id", d->id);
	json_set_str(o, "name", d->name);
	if (provider) {
		json_set_str(o, "provider", d->provider);
		json_set_str(o, "driver", d->driver);
		json_set_str(o, "bus", d->bus);
	}
	json_set_u64(o, "capacity", d->capacity);
	json_set_u64(o, "used", d->used);
	json_set_bool(o, "online", d->online);
	return o;
}

static void json_devices(const Gsvm__DevicesReply *devs)
{
	json_object *o = json_obj(), *a = json_arr();
	size_t i;

	for (i = 0; i < devs->n_devices; i++)
		json_push(a, json_device(devs->devices[i], true));
	json_set(o, "devices", a);
	json_print(o, JSON_C_TO_STRING_PRETTY);
}

/* {@k1: @v1, @k2: @v2[, @k3: @v3]} (@k3 may be NULL). */
static json_object *json_counters(const char *k1, uint64_t v1, const char *k2, uint64_t v2,
				  const char *k3, uint64_t v3)
{
	json_object *o = json_obj();

	json_set_u64(o, k1, v1);
	json_set_u64(o, k2, v2);
	if (k3)
		json_set_u64(o, k3, v3);
	return o;
}

static void json_stats(const Gsvm__StatsReply *st)
{
	json_object *o = json_obj(), *a = json_arr();
	size_t i;

	json_set(o, "faults",
		 json_counters("cpu", st->faults_cpu, "device", st->faults_device, NULL, 0));
	json_set(o, "migrations",
		 json_counters("to_device", st->migrations_to_device, "to_host",
			       st->migrations_to_host, "device_to_device",
			       st->migrations_device_to_device));
	json_set(o, "bytes_migrated",
		 json_counters("to_device", st->bytes_to_device, "to_host", st->bytes_to_host,
			       "device_to_device", st->bytes_device_to_device));
	json_set_u64(o, "evictions", st->evictions);
	json_set(o, "thrash",
		 json_counters("throttled", st->thrash_throttled, "pinned", st->thrash_pinned, NULL,
			       0));
	json_set_u64(o, "clients", st->clients);
	json_set_u64(o, "ranges", st->ranges);
	for (i = 0; i < st->n_devices; i++)
		json_push(a, json_device(st->devices[i], false));
	json_set(o, "devices", a);
	json_set(o, "fault_latency_ns",
		 json_counters("p50", st->fault_latency_p50_ns, "p99", st->fault_latency_p99_ns,
			       "count", st->fault_latency_count));
	json_set_u64(o, "events_dropped", st->events_dropped);
	if (st->limits) {
		json_object *l = json_object_new_object();

		json_set_u64(l, "message", st->limits->message);
		json_set_u64(l, "clients", st->limits->clients);
		json_set_u64(l, "allocations", st->limits->allocations);
		json_set_u64(l, "device_bytes", st->limits->device_bytes);
		json_set_u64(l, "inflight", st->limits->inflight);
		json_set_u64(l, "fds", st->limits->fds);
		json_set_u64(l, "backlog", st->limits->backlog);
		json_set(o, "limit_rejections", l);
	}
	json_print(o, JSON_C_TO_STRING_PRETTY);
}

static void json_clients(const Gsvm__ClientsReply *cl, const Gsvm__DevicesReply *devs)
{
	json_object *o = json_obj(), *a = json_arr(), *c, *db, *d;
	size_t i, j;

	for (i = 0; i < cl->n_clients; i++) {
		const Gsvm__ClientInfo *ci = cl->clients[i];

		c = json_obj();
		json_set_int(c, "pid", ci->pid);
		json_set_int(c, "uid", ci->uid);
		json_set_str(c, "name", ci->name);
		json_set_u64(c, "allocations", ci->allocations);
		json_set_u64(c, "allocated_bytes", ci->allocated_bytes);
		json_set_u64(c, "ranges", ci->ranges);
		db = json_arr();
		for (j = 0; j < devs->n_devices; j++) {
			d = json_obj();
			json_set_int(d, "id", devs->devices[j]->id);
			json_set_str(d, "name", devs->devices[j]->name);
			json_set_u64(d, "bytes", j < ci->n_device_bytes ? ci->device_bytes[j] : 0);
			json_push(db, d);
		}
		json_set(c, "device_bytes", db);
		json_push(a, c);
	}
	json_set(o, "clients", a);
	json_print(o, JSON_C_TO_STRING_PRETTY);
}

static void json_ranges(Gsvm__RangeDesc *const *r, size_t n, const Gsvm__DevicesReply *devs)
{
	json_object *o = json_obj(), *a = json_arr(), *x;
	size_t i;

	for (i = 0; i < n; i++) {
		x = json_obj();
		json_set_int(x, "pid", r[i]->pid);
		json_set_u64(x, "addr", r[i]->addr);
		json_set_u64(x, "size", r[i]->size);
		json_set_loc(x, "location", devs, r[i]->location);
		json_set_devs(x, "replicas", devs, r[i]->replicas);
		json_set_loc(x, "preferred", devs, r[i]->preferred);
		json_set_devs(x, "accessed_by", devs, r[i]->accessed_by);
		json_set_bool(x, "read_mostly", r[i]->read_mostly);
		json_push(a, x);
	}
	json_set(o, "ranges", a);
	json_print(o, JSON_C_TO_STRING_PRETTY);
}

static void json_evict(const struct ctl_evict *e)
{
	json_object *o = json_obj();

	if (e->device)
		json_set_str(o, "device", e->device->name);
	else
		json_set_int(o, "pid", e->pid);
	json_set_u64(o, "bytes", e->bytes);
	json_print(o, JSON_C_TO_STRING_PRETTY);
}

static void json_device_admin(const Gsvm__DeviceInfo *dev, bool online)
{
	json_object *o = json_obj();

	json_set_int(o, "id", dev->id);
	json_set_str(o, "name", dev->name);
	json_set_bool(o, "online", online);
	json_print(o, JSON_C_TO_STRING_PRETTY);
}

static void json_event(const struct ctl_event *e, const Gsvm__DevicesReply *devs)
{
	const struct ctl_event_kind *k = e->kind;
	const Gsvm__Event *ev = e->ev;
	json_object *o = json_obj();

	json_set_u64(o, "time_ns", e->time_ns);
	json_set_str(o, "type", ev->type);
	if (k->fields & CTL_EV_PID)
		json_set_int(o, "pid", ev->pid);
	if (k->fields & CTL_EV_ADDR)
		json_set_u64(o, "addr", ev->addr);
	if (k->fields & CTL_EV_BYTES)
		json_set_u64(o, "bytes", ev->bytes);
	if (k->src_key)
		json_set_loc(o, k->src_key, devs, ev->src);
	if (k->dst_key)
		json_set_loc(o, k->dst_key, devs, ev->dst);
	if ((k->fields & CTL_EV_CAUSE) && ev->cause && *ev->cause)
		json_set_str(o, "cause", ev->cause);
	if (ev->dropped)
		json_set_u64(o, "dropped", ev->dropped);
	json_print(o, JSON_C_TO_STRING_PLAIN);
	fflush(stdout);
}

const struct ctl_output ctl_json_output = {
	.devices = json_devices,
	.stats = json_stats,
	.clients = json_clients,
	.ranges = json_ranges,
	.evict = json_evict,
	.device_admin = json_device_admin,
	.event = json_event,
};
