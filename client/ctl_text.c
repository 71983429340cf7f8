// SPDX-License-Identifier: MIT
/**
 * DOC: gsvmctl's text renderer
 *
 * Aligned tables with a header line, sizes in KiB/MiB/GiB, locations by
 * device name or "host". Events are one line each, "TIME TYPE key=value...",
 * with the keys of the JSON renderer, flushed as they come.
 *
 * The table is written here rather than with libsmartcols: it needs only
 * column widths, and one more build dependency would buy nothing else.
 */
#include <err.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gsvmctl.h"

struct text_table {
	unsigned int ncols;
	const char *align; /* 'l' or 'r' per column; the last one repeats */
	char **cells; /* row after row */
	size_t n, cap;
};

static void __attribute__((format(printf, 2, 3)))
table_add(struct text_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (ret < 0)
		err(1, NULL);
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->cells = reallocarray(t->cells, t->cap, sizeof(*t->cells));
		if (!t->cells)
			err(1, NULL);
	}
	t->cells[t->n++] = s;
}

/* Print the table, columns two spaces apart, and free it. */
static void table_print(struct text_table *t)
{
	size_t *width = calloc(t->ncols, sizeof(*width)), i, w, last = strlen(t->align) - 1;
	unsigned int col;

	if (!width)
		err(1, NULL);
	for (i = 0; i < t->n; i++) {
		w = strlen(t->cells[i]);
		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (i = 0; i < t->n; i++) {
		col = (unsigned int)(i % t->ncols);
		if (t->align[col < last ? col : last] == 'r')
			printf("%*s", (int)width[col], t->cells[i]);
		else if (col + 1 < t->ncols)
			printf("%-*s", (int)width[col], t->cells[i]);
		else
			fputs(t->cells[i], stdout);
		fputs(col + 1 < t->ncols ? "  " : "\n", stdout);
		free(t->cells[i]);
	}
	free(t->cells);
	free(width);
}

/* @b bytes in the largest binary unit it reaches; one decimal unless exact. */
static const char *text_size(uint64_t b, const char *sep, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned int u = 0;

	if (!b)
		return "0";
	while (u + 1 < sizeof(units) / sizeof(units[0]) && b >> (10 * (u + 1)))
		u++;
	if (!(b & ((1ULL << (10 * u)) - 1)))
		snprintf(buf, len, "%" PRIu64 "%s%s", b >> (10 * u), sep, units[u]);
	else
		snprintf(buf, len, "%.1f%s%s", (double)b / (double)(1ULL << (10 * u)), sep,
			 units[u]);
	return buf;
}

/* Device names of the bits of @mask, comma separated; "-" for none. */
static const char *text_dev_list(const Gsvm__DevicesReply *devs, uint64_t mask, char *buf,
				 size_t len)
{
	char name[16];
	size_t off = 0;
	int id;

	if (!mask)
		return "-";
	buf[0] = '\0';
	for (id = 0; id < 64 && off < len; id++)
		if (mask & (1ULL << id))
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
						ctl_loc_name(devs, id, name, sizeof(name)));
	return buf;
}

static void text_device_table(Gsvm__DeviceInfo *const *d, size_t n)
{
	struct text_table t = { .ncols = 8, .align = "rllllrrl" };
	char cap[32], used[32];
	size_t i;

	table_add(&t, "ID");
	table_add(&t, "NAME");
	table_add(&t, "PROVIDER");
	table_add(&t, "DRIVER");
	table_add(&t, "BUS");
	table_add(&t, "CAPACITY");
	table_add(&t, "USED");
	table_add(&t, "ONLINE");
	for (i = 0; i < n; i++) {
		table_add(&t, "%d", d[i]->id);
		table_add(&t, "%s", d[i]->name);
		table_add(&t, "%s", d[i]->provider);
		table_add(&t, "%s", *d[i]->driver ? d[i]->driver : "-");
		table_add(&t, "%s", *d[i]->bus ? d[i]->bus : "-");
		table_add(&t, "%s", text_size(d[i]->capacity, " ", cap, sizeof(cap)));
		table_add(&t, "%s", text_size(d[i]->used, " ", used, sizeof(used)));
		table_add(&t, "%s", d[i]->online ? "yes" : "no");
	}
	table_print(&t);
}

static void text_devices(const Gsvm__DevicesReply *devs)
{
	text_device_table(devs->devices, devs->n_devices);
}

static void text_stats(const Gsvm__StatsReply *st)
{
	struct text_table t = { .ncols = 2, .align = "l" };
	char a[32], b[32], c[32];

	table_add(&t, "faults:");
	table_add(&t, "cpu %" PRIu64 ", device %" PRIu64, st->faults_cpu, st->faults_device);
	table_add(&t, "migrations:");
	table_add(&t, "to device %" PRIu64 ", to host %" PRIu64 ", device to device %" PRIu64,
		  st->migrations_to_device, st->migrations_to_host,
		  st->migrations_device_to_device);
	table_add(&t, "bytes migrated:");
	table_add(&t, "to device %s, to host %s, device to device %s",
		  text_size(st->bytes_to_device, " ", a, sizeof(a)),
		  text_size(st->bytes_to_host, " ", b, sizeof(b)),
		  text_size(st->bytes_device_to_device, " ", c, sizeof(c)));
	table_add(&t, "evictions:");
	table_add(&t, "%" PRIu64, st->evictions);
	table_add(&t, "thrash:");
	table_add(&t, "throttled %" PRIu64 ", pinned %" PRIu64, st->thrash_throttled,
		  st->thrash_pinned);
	table_add(&t, "clients:");
	table_add(&t, "%u", st->clients);
	table_add(&t, "ranges:");
	table_add(&t, "%" PRIu64, st->ranges);
	table_add(&t, "fault latency:");
	if (st->fault_latency_count)
		table_add(&t, "p50 %.1f µs, p99 %.1f µs (%" PRIu64 " faults)",
			  (double)st->fault_latency_p50_ns / 1000.0,
			  (double)st->fault_latency_p99_ns / 1000.0, st->fault_latency_count);
	else
		table_add(&t, "no faults yet");
	table_add(&t, "events dropped:");
	table_add(&t, "%" PRIu64, st->events_dropped);
	if (st->limits) {
		const Gsvm__LimitHits *l = st->limits;

		table_add(&t, "limit rejections:");
		table_add(&t,
			  "message %" PRIu64 ", clients %" PRIu64 ", allocations %" PRIu64
			  ", device bytes %" PRIu64 ", in flight %" PRIu64 ", fds %" PRIu64
			  ", backlog %" PRIu64,
			  l->message, l->clients, l->allocations, l->device_bytes, l->inflight, l->fds,
			  l->backlog);
	}
	table_print(&t);
	putchar('\n');
	text_device_table(st->devices, st->n_devices);
}

static void text_clients(const Gsvm__ClientsReply *cl, const Gsvm__DevicesReply *devs)
{
	struct text_table t = { .ncols = 6 + (unsigned int)devs->n_devices, .align = "rrlr" };
	char size[32];
	size_t i, j;

	table_add(&t, "PID");
	table_add(&t, "UID");
	table_add(&t, "NAME");
	table_add(&t, "ALLOCS");
	table_add(&t, "ALLOCATED");
	table_add(&t, "RANGES");
	for (j = 0; j < devs->n_devices; j++)
		table_add(&t, "%s", devs->devices[j]->name);
	for (i = 0; i < cl->n_clients; i++) {
		const Gsvm__ClientInfo *c = cl->clients[i];

		table_add(&t, "%d", c->pid);
		table_add(&t, "%u", c->uid);
		table_add(&t, "%s", c->name);
		table_add(&t, "%" PRIu64, c->allocations);
		table_add(&t, "%s", text_size(c->allocated_bytes, " ", size, sizeof(size)));
		table_add(&t, "%" PRIu64, c->ranges);
		for (j = 0; j < devs->n_devices; j++)
			table_add(&t, "%s",
				  text_size(j < c->n_device_bytes ? c->device_bytes[j] : 0, " ",
					    size, sizeof(size)));
	}
	table_print(&t);
}

/* Advice as "pref=sim1 acc=sim0,sim1 rm"; "-" for none. */
static const char *text_advice(const Gsvm__RangeDesc *r, const Gsvm__DevicesReply *devs, char *buf,
			       size_t len)
{
	char name[16], list[256];
	size_t off = 0;

	buf[0] = '\0';
	if (r->preferred != CTL_LOC_NONE)
		off += (size_t)snprintf(buf + off, len - off, "pref=%s",
					ctl_loc_name(devs, r->preferred, name, sizeof(name)));
	if (r->accessed_by && off < len)
		off += (size_t)snprintf(buf + off, len - off, "%sacc=%s", off ? " " : "",
					text_dev_list(devs, r->accessed_by, list, sizeof(list)));
	if (r->read_mostly && off < len)
		off += (size_t)snprintf(buf + off, len - off, "%srm", off ? " " : "");
	return off ? buf : "-";
}

static void text_ranges(Gsvm__RangeDesc *const *r, size_t n, const Gsvm__DevicesReply *devs)
{
	struct text_table t = { .ncols = 6, .align = "rlrl" };
	char size[32], name[16], list[256], advice[512];
	size_t i;

	table_add(&t, "PID");
	table_add(&t, "ADDRESS");
	table_add(&t, "SIZE");
	table_add(&t, "LOCATION");
	table_add(&t, "REPLICAS");
	table_add(&t, "ADVICE");
	for (i = 0; i < n; i++) {
		table_add(&t, "%d", r[i]->pid);
		table_add(&t, "0x%" PRIx64, r[i]->addr);
		table_add(&t, "%s", text_size(r[i]->size, " ", size, sizeof(size)));
		table_add(&t, "%s", ctl_loc_name(devs, r[i]->location, name, sizeof(name)));
		table_add(&t, "%s", text_dev_list(devs, r[i]->replicas, list, sizeof(list)));
		table_add(&t, "%s", text_advice(r[i], devs, advice, sizeof(advice)));
	}
	table_print(&t);
}

static void text_evict(const struct ctl_evict *e)
{
	char buf[32];
	const char *size = text_size(e->bytes, " ", buf, sizeof(buf));

	if (e->device)
		printf("evicted %s from %s to host\n", size, e->device->name);
	else
		printf("evicted %s of pid %d to host\n", size, e->pid);
}

static void text_device_admin(const Gsvm__DeviceInfo *dev, bool online)
{
	printf("%s: %s\n", dev->name, online ? "rebound" : "unbound, its data moved off");
}

static void text_event(const struct ctl_event *e, const Gsvm__DevicesReply *devs)
{
	const struct ctl_event_kind *k = e->kind;
	const Gsvm__Event *ev = e->ev;
	time_t sec = (time_t)(e->time_ns / 1000000000ULL);
	char when[32], size[32], name[16];
	struct tm tm;

	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%s.%06u %s", when, (unsigned int)(e->time_ns % 1000000000ULL / 1000), ev->type);
	if (k->fields & CTL_EV_PID)
		printf(" pid=%d", ev->pid);
	if (k->fields & CTL_EV_ADDR)
		printf(" addr=0x%" PRIx64, ev->addr);
	if (k->fields & CTL_EV_BYTES)
		printf(" bytes=%s", text_size(ev->bytes, "", size, sizeof(size)));
	if (k->src_key)
		printf(" %s=%s", k->src_key, ctl_loc_name(devs, ev->src, name, sizeof(name)));
	if (k->dst_key)
		printf(" %s=%s", k->dst_key, ctl_loc_name(devs, ev->dst, name, sizeof(name)));
	if ((k->fields & CTL_EV_CAUSE) && ev->cause && *ev->cause)
		printf(" cause=%s", ev->cause);
	if (ev->dropped)
		printf(" dropped=%" PRIu64, ev->dropped);
	putchar('\n');
	fflush(stdout);
}

const struct ctl_output ctl_text_output = {
	.devices = text_devices,
	.stats = text_stats,
	.clients = text_clients,
	.ranges = text_ranges,
	.evict = text_evict,
	.device_admin = text_device_admin,
	.event = text_event,
};
