// SPDX-License-Identifier: MIT
/**
 * DOC: Metrics endpoint
 *
 * An optional Prometheus endpoint, off unless ``[daemon] metrics`` names
 * where it listens. ``GET /metrics`` answers the text exposition format
 * (version 0.0.4) rendered by metrics_render() from one stats_snapshot(),
 * the snapshot that the protocol's stats reply (and so gsvmctl's text and
 * JSON) is built from: the numbers cannot disagree. HEAD gets the headers
 * only, any other method 405, any other path 404.
 *
 * libevent's evhttp serves it on gsvmd's event loop. It reads requests and
 * writes replies without blocking, so a slow scraper costs a connection, not
 * the loop, and one that stalls is dropped after METRICS_TIMEOUT_S. Taking
 * the snapshot on the loop is cheap: it loads atomic counters and holds each
 * lock it needs (the clients' rwlock as a reader, each client's notifier
 * lock, each device's lock) for a few loads, never across a copy.
 *
 * It listens on TCP (evhttp binds a numeric address; config.c turned
 * "localhost" into 127.0.0.1) or on a Unix stream socket that we bind
 * ourselves, since evhttp binds only TCP, and hand to evhttp. As with the
 * control socket, a stale socket file is replaced, a live one refuses the
 * start, and out of file descriptors accepting pauses for a second
 * (evconnlistener would otherwise retry at once and spin).
 *
 * There is no authentication: the numbers are those any local user may read
 * with ``gsvmctl stats``, and the Unix socket is mode 0666 like the control
 * socket. A TCP endpoint should stay on loopback unless a firewall guards it.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "events.h"
#include "gsvmd.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "stats.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define METRICS_TIMEOUT_S 5
#define METRICS_MAX_HEADERS 8192
#define METRICS_MAX_BODY 4096
#define METRICS_BACKLOG 16

/**
 * struct metrics - The endpoint
 * @d: The daemon
 * @http: The HTTP server
 * @listener: Its listening socket's listener, paused when out of fds
 * @ev_resume: Timer that resumes accepting
 * @unlink_path: The Unix socket file is ours to remove
 * @path: Its path
 * @snap: The snapshot a scrape renders (kept here: it is large)
 */
struct metrics {
	struct gsvmd *d;
	struct evhttp *http;
	struct evconnlistener *listener;
	struct event *ev_resume;
	bool unlink_path;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stats_snapshot snap;
};

/**
 * struct metrics_sample - One sample of a metric family
 * @label: The value of the family's label; NULL when it has none
 * @off: Offset of the value in &struct stats_snapshot
 * @size: Its size: a uint64_t or an unsigned int
 */
struct metrics_sample {
	const char *label;
	size_t off;
	size_t size;
};

/**
 * struct metrics_family - A metric family read straight from the snapshot
 * @name: Metric name; a counter's ends in _total
 * @type: "counter" or "gauge"
 * @help: HELP text
 * @label: Name of the label that tells the samples apart; NULL for one sample
 * @samples: The samples; the list ends at the first with size 0
 */
struct metrics_family {
	const char *name;
	const char *type;
	const char *help;
	const char *label;
	struct metrics_sample samples[LIMIT_NR];
};

#define SNAP(l, member)                                                       \
	{                                                                     \
		.label = (l), .off = offsetof(struct stats_snapshot, member), \
		.size = sizeof(((struct stats_snapshot *)0)->member)          \
	}

static const struct metrics_family metrics_families[] = {
	{ "gsvm_faults_total",
	  "counter",
	  "Faults gsvmd resolved, by who faulted: a client's CPU or a device.",
	  "kind",
	  { SNAP("cpu", faults_cpu), SNAP("device", faults_device) } },
	{ "gsvm_migrations_total",
	  "counter",
	  "Migrations, by direction.",
	  "direction",
	  { SNAP("to_device", migrations_to_device), SNAP("to_host", migrations_to_host),
	    SNAP("device_to_device", migrations_device_to_device) } },
	{ "gsvm_migrated_bytes_total",
	  "counter",
	  "Bytes copied by migrations, by direction.",
	  "direction",
	  { SNAP("to_device", bytes_to_device), SNAP("to_host", bytes_to_host),
	    SNAP("device_to_device", bytes_device_to_device) } },
	{ "gsvm_evictions_total",
	  "counter",
	  "Device allocations evicted to make room on a full device.",
	  NULL,
	  { SNAP(NULL, evictions) } },
	{ "gsvm_thrash_throttled_total",
	  "counter",
	  "Times a thrashing range was throttled (kept where it was for a while).",
	  NULL,
	  { SNAP(NULL, thrash_throttled) } },
	{ "gsvm_thrash_pinned_total",
	  "counter",
	  "Times a range that kept thrashing was pinned where it was.",
	  NULL,
	  { SNAP(NULL, thrash_pinned) } },
	{ "gsvm_events_dropped_total",
	  "counter",
	  "Events not delivered to event stream subscribers that fell behind.",
	  NULL,
	  { SNAP(NULL, events_dropped) } },
	{ "gsvm_limit_rejections_total",
	  "counter",
	  "Requests and connections refused by a limit of [limits], by limit.",
	  "limit",
	  { SNAP("message", limit_hits[LIMIT_MESSAGE]),
	    SNAP("clients", limit_hits[LIMIT_CLIENTS]),
	    SNAP("allocations", limit_hits[LIMIT_ALLOCATIONS]),
	    SNAP("device_bytes", limit_hits[LIMIT_DEVICE_BYTES]),
	    SNAP("inflight", limit_hits[LIMIT_INFLIGHT]), SNAP("fds", limit_hits[LIMIT_FDS]),
	    SNAP("backlog", limit_hits[LIMIT_BACKLOG]) } },
	{ "gsvm_clients", "gauge", "Connected clients.", NULL, { SNAP(NULL, clients) } },
	{ "gsvm_ranges",
	  "gauge",
	  "SVM ranges tracked, over all clients.",
	  NULL,
	  { SNAP(NULL, ranges) } },
};

/* The per-device gauges; the value comes from metrics_device_value(). */
static const struct metrics_family metrics_device_families[] = {
	{ "gsvm_device_capacity_bytes", "gauge", "Device memory capacity.", NULL, { { 0 } } },
	{ "gsvm_device_used_bytes", "gauge", "Device memory allocated.", NULL, { { 0 } } },
	{ "gsvm_device_online",
	  "gauge",
	  "1 while the device is bound, 0 once it was unbound.",
	  NULL,
	  { { 0 } } },
};

/**
 * struct metrics_out - Rendering state
 * @b: The buffer written to
 * @err: 0, or -ENOMEM once a write failed (later writes are skipped)
 */
struct metrics_out {
	struct evbuffer *b;
	int err;
};

static __attribute__((format(printf, 2, 3))) void metrics_printf(struct metrics_out *o,
								 const char *fmt, ...)
{
	va_list ap;

	if (o->err)
		return;
	va_start(ap, fmt);
	if (evbuffer_add_vprintf(o->b, fmt, ap) < 0)
		o->err = -ENOMEM;
	va_end(ap);
}

static void metrics_head(struct metrics_out *o, const struct metrics_family *f)
{
	metrics_printf(o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
}

static uint64_t metrics_value(const struct stats_snapshot *st, const struct metrics_sample *s)
{
	const char *p = (const char *)st + s->off;
	unsigned int u;
	uint64_t v;

	if (s->size == sizeof(u)) {
		memcpy(&u, p, sizeof(u));
		return u;
	}
	memcpy(&v, p, sizeof(v));
	return v;
}

static void metrics_family(struct metrics_out *o, const struct stats_snapshot *st,
			   const struct metrics_family *f)
{
	const struct metrics_sample *s;

	metrics_head(o, f);
	for (s = f->samples; s < f->samples + ARRAY_SIZE(f->samples) && s->size; s++) {
		if (f->label)
			metrics_printf(o, "%s{%s=\"%s\"} %" PRIu64 "\n", f->name, f->label,
				       s->label, metrics_value(st, s));
		else
			metrics_printf(o, "%s %" PRIu64 "\n", f->name, metrics_value(st, s));
	}
}

/*
 * A label value, escaped as the format wants (backslash, quote, newline).
 * Device names cannot hold those (config.c), but the format is not ours to
 * bend.
 */
static void metrics_label_value(struct metrics_out *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			metrics_printf(o, "\\%c", *v);
		else if (*v == '\n')
			metrics_printf(o, "\\n");
		else
			metrics_printf(o, "%c", *v);
	}
}

static uint64_t metrics_device_value(const struct stats_device *dev, unsigned int family)
{
	switch (family) {
	case 0:
		return dev->capacity;
	case 1:
		return dev->used;
	default:
		return dev->online;
	}
}

static void metrics_devices(struct metrics_out *o, const struct stats_snapshot *st)
{
	const struct metrics_family *f;
	unsigned int i, k;

	for (k = 0; k < ARRAY_SIZE(metrics_device_families); k++) {
		f = &metrics_device_families[k];
		metrics_head(o, f);
		for (i = 0; i < st->ndev; i++) {
			metrics_printf(o, "%s{device=\"", f->name);
			metrics_label_value(o, st->dev[i].name);
			metrics_printf(o, "\",id=\"%d\"} %" PRIu64 "\n", st->dev[i].id,
				       metrics_device_value(&st->dev[i], k));
		}
	}
}

/* A latency in seconds, exactly: the snapshot has whole nanoseconds. */
static void metrics_quantile(struct metrics_out *o, const struct stats_snapshot *st, const char *q,
			     uint64_t ns)
{
	if (!st->fault_latency_count)
		metrics_printf(o, "gsvm_fault_latency_seconds{quantile=\"%s\"} NaN\n", q);
	else
		metrics_printf(o,
			       "gsvm_fault_latency_seconds{quantile=\"%s\"} %" PRIu64 ".%09" PRIu64
			       "\n",
			       q, ns / UINT64_C(1000000000), ns % UINT64_C(1000000000));
}

/*
 * A summary without _sum: the core keeps a histogram of latencies, not their
 * total. Its quantiles are the upper bounds of the histogram buckets they
 * fall in (stats_latency_bucket_ns()).
 */
static void metrics_latency(struct metrics_out *o, const struct stats_snapshot *st)
{
	metrics_printf(o, "# HELP gsvm_fault_latency_seconds Time to resolve a CPU fault on "
			  "managed memory (bucket upper bounds).\n"
			  "# TYPE gsvm_fault_latency_seconds summary\n");
	metrics_quantile(o, st, "0.5", st->fault_latency_p50_ns);
	metrics_quantile(o, st, "0.99", st->fault_latency_p99_ns);
	metrics_printf(o, "gsvm_fault_latency_seconds_count %" PRIu64 "\n",
		       st->fault_latency_count);
}

/**
 * metrics_render() - Render a snapshot in Prometheus' text format
 * @st: The snapshot
 * @out: Receives the text (version 0.0.4): a HELP and a TYPE line per
 *       family, counters ending in _total, one sample per device for the
 *       device gauges
 *
 * Return: 0, or -ENOMEM (@out may then hold part of the text).
 */
int metrics_render(const struct stats_snapshot *st, struct evbuffer *out)
{
	struct metrics_out o = { .b = out };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(metrics_families); i++)
		metrics_family(&o, st, &metrics_families[i]);
	metrics_devices(&o, st);
	metrics_latency(&o, st);
	return o.err;
}

static void metrics_reply(struct metrics *m, struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();
	char len[24];

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	stats_snapshot(&m->d->core, &m->snap);
	m->snap.events_dropped = events_dropped(m->d);
	if (metrics_render(&m->snap, body)) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		goto out;
	}
	evhttp_add_header(h, "Content-Type", METRICS_CONTENT_TYPE);
	/* libevent 2.1 would send a HEAD reply's body, and no Content-Length. */
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
		evhttp_add_header(h, "Content-Length", len);
		evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(req, HTTP_OK, "OK", body);
out:
	evbuffer_free(body);
}

/* evhttp_send_error() would drop the Allow header that a 405 must carry. */
static void metrics_bad_method(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();

	evhttp_add_header(h, "Allow", "GET, HEAD");
	evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	evhttp_add_header(h, "Connection", "close");
	if (body)
		evbuffer_add_printf(body, "405 Method Not Allowed: use GET or HEAD\n");
	evhttp_send_reply(req, HTTP_BADMETHOD, "Method Not Allowed", body);
	if (body)
		evbuffer_free(body);
}

static void metrics_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (!path || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
		metrics_bad_method(req);
	else
		metrics_reply(arg, req);
}

static void metrics_resume(evutil_socket_t fd, short what, void *arg)
{
	struct metrics *m = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(m->listener);
}

/* Pause accept when out of fds, or the loop would spin on the listener. */
static void metrics_accept_error(struct evconnlistener *lev, void *arg)
{
	struct metrics *m = arg;
	struct timeval tv = { 1, 0 };
	int err = EVUTIL_SOCKET_ERROR();

	if (err != EMFILE && err != ENFILE) {
		log_warn("accept: %s", strerror(err));
		return;
	}
	log_warn("out of file descriptors: not accepting for 1 s");
	evconnlistener_disable(lev);
	evtimer_add(m->ev_resume, &tv);
}

/* A socket file at @sun: stale (remove it), served or not a socket (error). */
static int metrics_unix_clear(const struct sockaddr_un *sun)
{
	struct stat sb;
	int fd, err = 0;

	if (lstat(sun->sun_path, &sb))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (const struct sockaddr *)sun, sizeof(*sun)))
		err = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(sun->sun_path);
	close(fd);
	return err;
}

/* Return: a listening, non-blocking Unix stream socket, or a negative errno. */
static int metrics_unix_listen(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	err = metrics_unix_clear(&sun);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || chmod(path, 0666) ||
	    listen(fd, METRICS_BACKLOG)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int metrics_bind(struct metrics *m, const struct config_endpoint *ep)
{
	struct evhttp_bound_socket *bound;
	int fd;

	if (ep->path[0]) {
		fd = metrics_unix_listen(ep->path);
		if (fd < 0)
			return fd;
		m->unlink_path = true;
		snprintf(m->path, sizeof(m->path), "%s", ep->path);
		bound = evhttp_accept_socket_with_handle(m->http, fd);
		if (!bound) {
			close(fd);
			return -ENOMEM;
		}
	} else {
		errno = 0;
		bound = evhttp_bind_socket_with_handle(m->http, ep->host, ep->port);
		if (!bound)
			return errno ? -errno : -EADDRNOTAVAIL;
	}
	m->listener = evhttp_bound_socket_get_listener(bound);
	evconnlistener_set_error_cb(m->listener, metrics_accept_error);
	return 0;
}

/**
 * metrics_start() - Serve the metrics endpoint, if one is configured
 * @d: The daemon; d->cfg.metrics says where (nothing when its text is empty)
 * @out: Receives the endpoint, or NULL when none is configured
 *
 * Return: 0; -EADDRINUSE when the address or a live socket file is taken;
 * -EEXIST when the path is a file that is not a socket; -ENOMEM; or the
 * socket call's error.
 */
int metrics_start(struct gsvmd *d, struct metrics **out)
{
	const struct config_endpoint *ep = &d->cfg.metrics;
	struct metrics *m;
	int err;

	*out = NULL;
	if (!ep->text[0])
		return 0;
	m = mem_zalloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->d = d;
	m->http = evhttp_new(d->base);
	m->ev_resume = evtimer_new(d->base, metrics_resume, m);
	if (!m->http || !m->ev_resume) {
		err = -ENOMEM;
		goto err;
	}
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(m->http, METRICS_MAX_BODY);
	/* Every method reaches metrics_request(), which answers 405 (not 501). */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(m->http, metrics_request, m);
	err = metrics_bind(m, ep);
	if (err)
		goto err;
	log_info("metrics on %s", ep->text);
	*out = m;
	return 0;
err:
	metrics_stop(m);
	return err;
}

/**
 * metrics_stop() - Close the endpoint and its connections
 * @m: The endpoint (NULL is ignored)
 */
void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	if (m->http)
		evhttp_free(m->http);
	if (m->ev_resume)
		event_free(m->ev_resume);
	if (m->unlink_path)
		unlink(m->path);
	mem_free(m);
}
