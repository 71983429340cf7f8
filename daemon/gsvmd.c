// SPDX-License-Identifier: MIT
/**
 * DOC: gsvmd
 *
 * The daemon's parent: reads the configuration, builds the core, binds the
 * control socket, runs the event loop, and on SIGTERM/SIGINT stops in order:
 * no new connections or requests, requests in flight finish, every client
 * gets its data back in its own memory and its allocations unregistered from
 * the fault shim (so nothing is lost and no fault is left waiting), then the
 * connections close.
 *
 * gsvmd runs in the foreground and logs to stderr. Under systemd it takes its
 * socket from socket activation and reports readiness, status and watchdog
 * pings (service.c).
 *
 * SIGHUP reads the file given with -c again and applies what can change
 * while clients stay connected: the timeslice and the thrash knobs. What
 * cannot (devices, socket, admin group, policy, range tracker sizes) is
 * logged and keeps its running value until a restart. A bad file changes
 * nothing.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "events.h"
#include "gsvm.h"
#include "gsvmd.h"
#include "log.h"
#include "metrics.h"
#include "pagemap.h"
#include "service.h"
#include "session.h"
#include "workers.h"

#define GSVMD_VERSION "0.1"

static void usage(FILE *f)
{
	fprintf(f, "usage: gsvmd [-v] [-c FILE] [-s SOCKET]\n"
		   "       gsvmd --check-config [-c FILE]\n"
		   "  -c, --config FILE   configuration file (default: the embedded default,\n"
		   "                      two 1 GiB sim devices)\n"
		   "  -s, --socket PATH   control socket (default: $GSVM_SOCKET, the\n"
		   "                      configuration's, or " GSVM_DEFAULT_SOCKET ")\n"
		   "  -v, --verbose       more log output (repeat for more)\n"
		   "      --check-config  check the configuration, print FILE: ok or the\n"
		   "                      error, and exit (0 when it is good)\n"
		   "  -h, --help          this text\n"
		   "      --version       print the version\n");
}

struct gsvmd_args {
	const char *config;
	const char *socket;
	int verbose;
	bool check_config;
};

/* Return: 0 to run, 1 to exit successfully, 2 on bad usage. */
static int parse_args(int argc, char **argv, struct gsvmd_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "check-config", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:s:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case 's':
			a->socket = optarg;
			break;
		case 'v':
			a->verbose++;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("gsvmd %s\n", GSVMD_VERSION);
			return 1;
		case 'C':
			a->check_config = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return 0;
}

/* The configuration gsvmd runs on; on error, @err says why ("FILE:LINE: what"). */
static int load_config(const struct gsvmd_args *a, struct gsvmd_config *cfg, char *err,
		       size_t errlen)
{
	const char *env = getenv("GSVM_SOCKET");
	int ret;

	config_default(cfg);
	if (a->config) {
		ret = config_load(a->config, cfg, err, errlen);
		if (ret)
			return ret;
	}
	/* -s beats $GSVM_SOCKET beats the configuration file. */
	if (a->socket || (env && *env)) {
		const char *path = a->socket ? a->socket : env;

		if (strlen(path) >= sizeof(cfg->socket)) {
			snprintf(err, errlen, "socket path too long: %s", path);
			return -ENAMETOOLONG;
		}
		snprintf(cfg->socket, sizeof(cfg->socket), "%s", path);
	}
	return 0;
}

/* --check-config: parse, say "FILE: ok" or the error; start nothing. */
static int check_config(const struct gsvmd_args *a)
{
	struct gsvmd_config cfg;
	char err[512];

	if (load_config(a, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: ok\n", a->config ? a->config : "embedded default configuration");
	return 0;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct gsvmd *d = arg;

	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(d->base, NULL);
}

/**
 * struct reload_knob - A [policy] knob that SIGHUP applies at run time
 * @name: Its key in the file
 * @off: Its offset in &struct policy_config
 * @size: Its width: 4 or 8 bytes
 */
struct reload_knob {
	const char *name;
	size_t off;
	size_t size;
};

#define KNOB(f) \
	.off = offsetof(struct policy_config, f), .size = sizeof(((struct policy_config *)0)->f)

static const struct reload_knob reload_knobs[] = {
	{ "thrash_threshold", KNOB(thrash_threshold) },
	{ "thrash_window_us", KNOB(thrash_window_us) },
	{ "throttle_ms", KNOB(throttle_ms) },
	{ "pin_threshold", KNOB(pin_threshold) },
	{ "pin_quiet_ms", KNOB(pin_quiet_ms) },
};

static uint64_t knob_get(const struct policy_config *p, const struct reload_knob *k)
{
	const char *f = (const char *)p + k->off;

	if (k->size == sizeof(uint32_t))
		return __atomic_load_n((const uint32_t *)f, __ATOMIC_RELAXED);
	return __atomic_load_n((const uint64_t *)f, __ATOMIC_RELAXED);
}

/*
 * Workers and fault threads read the knobs (and core->timeslice_ns) without
 * a lock, so each one is stored whole with __atomic_store_n() and read with
 * __atomic_load_n(): a reader sees the old value or the new one, never a
 * torn mix, and the compiler may not split or cache the access. Relaxed
 * order is enough: the knobs are independent heuristics, so a decision that
 * reads one old knob and one new one during a reload is as good as either.
 */
static void knob_set(struct policy_config *p, const struct reload_knob *k, uint64_t v)
{
	char *f = (char *)p + k->off;

	if (k->size == sizeof(uint32_t))
		__atomic_store_n((uint32_t *)f, (uint32_t)v, __ATOMIC_RELAXED);
	else
		__atomic_store_n((uint64_t *)f, v, __ATOMIC_RELAXED);
}

/* Apply the timeslice and the thrash knobs. Return: how many changed. */
static unsigned int reload_apply(struct gsvmd *d, const struct gsvmd_config *cfg)
{
	uint64_t old = d->cfg.core.timeslice_ms, new = cfg->core.timeslice_ms;
	const struct reload_knob *k;
	unsigned int n = 0;

	if (old != new) {
		log_info("reload: [policy] timeslice_ms: %llu -> %llu: applied",
			 (unsigned long long)old, (unsigned long long)new);
		__atomic_store_n(&d->core.timeslice_ns, new * 1000000ULL, __ATOMIC_RELAXED);
		d->cfg.core.timeslice_ms = new;
		n++;
	}
	for (k = reload_knobs; k < reload_knobs + sizeof(reload_knobs) / sizeof(*k); k++) {
		old = knob_get(&d->cfg.core.policy, k);
		new = knob_get(&cfg->core.policy, k);
		if (old == new)
			continue;
		log_info("reload: [policy] %s: %llu -> %llu: applied", k->name,
			 (unsigned long long)old, (unsigned long long)new);
		knob_set(&d->core.policy_cfg, k, new);
		knob_set(&d->cfg.core.policy, k, new);
		n++;
	}
	return n;
}

static bool devices_equal(const struct core_config *a, const struct core_config *b)
{
	const struct pagemap_config *x, *y;
	unsigned int i;

	if (a->ndev != b->ndev)
		return false;
	for (i = 0; i < a->ndev; i++) {
		x = &a->dev[i];
		y = &b->dev[i];
		if (strcmp(x->name, y->name) != 0 || strcmp(x->provider, y->provider) != 0 ||
		    strcmp(x->node, y->node) != 0 ||
		    x->capacity != y->capacity || x->bandwidth != y->bandwidth ||
		    x->latency_us != y->latency_us)
			return false;
	}
	return true;
}

static bool chunks_equal(const struct svm_config *a, const struct svm_config *b)
{
	return a->nchunks == b->nchunks &&
	       !memcmp(a->chunk_sizes, b->chunk_sizes, a->nchunks * sizeof(a->chunk_sizes[0]));
}

/* Warn about each change that needs a restart. Return: how many. */
static unsigned int reload_restart_only(struct gsvmd *d, const struct gsvmd_config *cfg)
{
	const struct gsvmd_config *old = &d->cfg;
	const struct {
		const char *name;
		bool changed;
	} rows[] = {
		{ "[device.*] sections", !devices_equal(&old->core, &cfg->core) },
		{ "[daemon] socket", strcmp(old->socket, cfg->socket) != 0 },
		{ "[daemon] admin_group", strcmp(old->admin_group, cfg->admin_group) != 0 },
		{ "[daemon] metrics", strcmp(old->metrics.text, cfg->metrics.text) != 0 },
		{ "[policy] name", strcmp(old->core.policy.name, cfg->core.policy.name) != 0 },
		{ "[policy] notifier_size",
		  old->core.svm.notifier_size != cfg->core.svm.notifier_size },
		{ "[policy] chunk_sizes", !chunks_equal(&old->core.svm, &cfg->core.svm) },
	};
	unsigned int i, n = 0;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (!rows[i].changed)
			continue;
		log_warn("%s changed: cannot be applied without a restart; "
			 "keeping the running value",
			 rows[i].name);
		n++;
	}
	return n;
}

static void notify_serving(struct gsvmd *d, const char *note)
{
	service_notify("READY=1\nSTATUS=serving %u device%s on %s%s", d->core.ndev,
		       d->core.ndev == 1 ? "" : "s", d->cfg.socket, note);
}

/**
 * struct gsvmd_reload - What SIGHUP needs
 * @d: The daemon
 * @args: Its command line: the file and the overrides to read again
 */
struct gsvmd_reload {
	struct gsvmd *d;
	const struct gsvmd_args *args;
};

/* SIGHUP, on the event loop: read the file again, apply what can change. */
static void gsvmd_reload(struct gsvmd_reload *r)
{
	const char *path = r->args->config;
	struct gsvmd *d = r->d;
	struct gsvmd_config cfg;
	unsigned int applied, kept;
	char err[512];

	if (!path) {
		log_info("reload: running on the embedded default configuration (no -c FILE): "
			 "nothing to reload");
		return;
	}
	service_reloading(path);
	if (load_config(r->args, &cfg, err, sizeof(err))) {
		log_err("%s: keeping the running configuration", err);
		notify_serving(d, " (last reload failed)");
		return;
	}
	applied = reload_apply(d, &cfg);
	kept = reload_restart_only(d, &cfg);
	log_info("reloaded %s: %u setting%s applied, %u need%s a restart", path, applied,
		 applied == 1 ? "" : "s", kept, kept == 1 ? "s" : "");
	notify_serving(d, "");
}

static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	gsvmd_reload(arg);
}

/* Create each device's pool once, so a bad device fails at start-up. */
static int warm_devices(struct gsvmd *d)
{
	unsigned int i;
	int err;

	for (i = 0; i < d->core.ndev; i++) {
		err = pagemap_get(d->core.dev[i]);
		if (err) {
			log_err("device %s: %s", d->core.dev[i]->cfg.name, strerror(-err));
			return err;
		}
		pagemap_put(d->core.dev[i]);
	}
	return 0;
}

/* The admin group's gid; (gid_t)-1 if there is no such group (root only). */
static gid_t admin_gid(const char *name)
{
	struct group *gr = getgrnam(name);

	if (!gr) {
		log_info("no group '%s': admin requests are for root only", name);
		return (gid_t)-1;
	}
	return gr->gr_gid;
}

static unsigned int worker_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 2 ? (unsigned int)n * 2 : 4;
}

/* Serve the socket systemd passed, if any; else bind d->cfg.socket. */
static int gsvmd_listen(struct gsvmd *d)
{
	char path[sizeof(d->cfg.socket)];
	int fd, err;

	err = service_listen_fd(&fd, path, sizeof(path));
	if (err)
		return err;
	err = control_listen(d, d->cfg.socket, fd, &d->control);
	if (err) {
		log_err("socket %s: %s", fd >= 0 ? path : d->cfg.socket, strerror(-err));
		return err;
	}
	if (fd >= 0) {
		/* The socket served overrides the configuration's, as -s does. */
		log_info("socket activation: %s", path);
		snprintf(d->cfg.socket, sizeof(d->cfg.socket), "%s", path);
	}
	return 0;
}

static int gsvmd_start(struct gsvmd *d)
{
	unsigned int i;
	int err;

	pthread_mutex_init(&d->lock, NULL);
	TAILQ_INIT(&d->sessions);
	err = core_init(&d->core, &d->cfg.core);
	if (err) {
		log_err("core: %s", strerror(-err));
		return err;
	}
	err = warm_devices(d);
	if (err)
		return err;
	err = events_init(d);
	if (err)
		return err;
	d->admin_gid = admin_gid(d->cfg.admin_group);
	err = workers_create(worker_count(), &d->workers);
	if (err) {
		log_err("workers: %s", strerror(-err));
		return err;
	}
	err = gsvmd_listen(d);
	if (err)
		return err;
	err = metrics_start(d, &d->metrics);
	if (err) {
		log_err("metrics %s: %s", d->cfg.metrics.text, strerror(-err));
		return err;
	}
	for (i = 0; i < d->core.ndev; i++) {
		const struct pagemap_config *dc = &d->core.dev[i]->cfg;

		log_info("device %u: %s (%s, %llu MiB%s%s%s%s%s%s)", i, dc->name, dc->provider,
			 (unsigned long long)(dc->capacity >> 20), dc->node[0] ? ", " : "", dc->node,
			 dc->node[0] ? ", driver " : "", dc->node[0] ? dc->driver : "",
			 dc->node[0] ? ", bus " : "", dc->node[0] ? dc->bus : "");
	}
	log_info("listening on %s", d->cfg.socket);
	return 0;
}

/* Hand every client its memory back, then close every connection. */
static void gsvmd_stop(struct gsvmd *d)
{
	struct session *s;
	int err;

	atomic_store(&d->stopping, true);
	control_close(d->control);
	metrics_stop(d->metrics);
	d->metrics = NULL;
	if (d->workers)
		workers_drain(d->workers);
	pthread_mutex_lock(&d->lock);
	TAILQ_FOREACH(s, &d->sessions, link) {
		err = session_evacuate(s);
		if (err)
			log_err("session %llu: data left on a device: %s",
				(unsigned long long)s->id, strerror(-err));
	}
	pthread_mutex_unlock(&d->lock);
	while ((s = TAILQ_FIRST(&d->sessions)))
		session_close(s);
	workers_destroy(d->workers);
	d->workers = NULL;
	events_fini(d);
	core_fini(&d->core);
	log_info("stopped");
}

enum { EV_TERM, EV_INT, EV_HUP, EV_WATCHDOG, EV_COUNT };

/* SIGTERM and SIGINT stop, SIGHUP reloads; the watchdog timer, if any. */
static int gsvmd_events(struct gsvmd *d, struct gsvmd_reload *r, struct event *ev[EV_COUNT])
{
	ev[EV_TERM] = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	ev[EV_INT] = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	ev[EV_HUP] = evsignal_new(d->base, SIGHUP, on_reload_signal, r);
	if (!ev[EV_TERM] || !ev[EV_INT] || !ev[EV_HUP] || event_add(ev[EV_TERM], NULL) ||
	    event_add(ev[EV_INT], NULL) || event_add(ev[EV_HUP], NULL))
		return -ENOMEM;
	return service_watchdog_start(d->base, &ev[EV_WATCHDOG]);
}

int main(int argc, char **argv)
{
	struct gsvmd_args args = { 0 };
	static struct gsvmd d;
	struct gsvmd_reload reload = { &d, &args };
	struct event *ev[EV_COUNT] = { NULL };
	char err[512];
	int ret, i;

	ret = parse_args(argc, argv, &args);
	if (ret)
		return ret == 1 ? 0 : 2;
	/* Before any configuration names it. */
	pagemap_provider_register(&drm_provider_ops);
	if (args.check_config)
		return check_config(&args);
	log_init(args.verbose, service_journal_stderr());
	if (load_config(&args, &d.cfg, err, sizeof(err))) {
		fprintf(stderr, "gsvmd: %s\n", err);
		return 1;
	}
	if (d.cfg.drm_auto && !d.cfg.drm_found)
		log_info("no DRM devices found; using sim devices only");
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads()) {
		log_err("libevent: no thread support");
		return 1;
	}
	d.base = event_base_new();
	if (!d.base) {
		log_err("libevent: cannot create the event loop");
		return 1;
	}
	/* Signals first: one that comes while gsvmd starts waits for the loop. */
	ret = gsvmd_events(&d, &reload, ev);
	if (!ret)
		ret = gsvmd_start(&d);
	if (!ret) {
		/* The socket listens: from now on a connect succeeds. */
		notify_serving(&d, "");
		event_base_dispatch(d.base);
	}
	service_notify("STOPPING=1\nSTATUS=stopping: returning client memory");
	gsvmd_stop(&d);
	for (i = 0; i < EV_COUNT; i++)
		if (ev[i])
			event_free(ev[i]);
	event_base_free(d.base);
	return ret ? 1 : 0;
}
