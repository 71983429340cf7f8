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
 * gsvmd runs in the foreground and logs to stderr.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "gsvm.h"
#include "gsvmd.h"
#include "log.h"
#include "session.h"
#include "workers.h"

#define GSVMD_VERSION "0.1"

static void usage(FILE *f)
{
	fprintf(f, "usage: gsvmd [-v] [-c FILE] [-s SOCKET]\n"
		   "  -c, --config FILE   configuration file (default: the embedded default,\n"
		   "                      two 1 GiB sim devices)\n"
		   "  -s, --socket PATH   control socket (default: $GSVM_SOCKET, the\n"
		   "                      configuration's, or " GSVM_DEFAULT_SOCKET ")\n"
		   "  -v, --verbose       more log output (repeat for more)\n"
		   "  -h, --help          this text\n"
		   "      --version       print the version\n");
}

struct gsvmd_args {
	const char *config;
	const char *socket;
	int verbose;
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

static int load_config(const struct gsvmd_args *a, struct gsvmd_config *cfg)
{
	const char *env = getenv("GSVM_SOCKET");
	char err[512];
	int ret;

	config_default(cfg);
	if (a->config) {
		ret = config_load(a->config, cfg, err, sizeof(err));
		if (ret) {
			fprintf(stderr, "gsvmd: %s\n", err);
			return ret;
		}
	}
	/* -s beats $GSVM_SOCKET beats the configuration file. */
	if (a->socket || (env && *env)) {
		const char *path = a->socket ? a->socket : env;

		if (strlen(path) >= sizeof(cfg->socket)) {
			fprintf(stderr, "gsvmd: socket path too long: %s\n", path);
			return -ENAMETOOLONG;
		}
		snprintf(cfg->socket, sizeof(cfg->socket), "%s", path);
	}
	return 0;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct gsvmd *d = arg;

	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(d->base, NULL);
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

static unsigned int worker_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 2 ? (unsigned int)n * 2 : 4;
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
	err = workers_create(worker_count(), &d->workers);
	if (err) {
		log_err("workers: %s", strerror(-err));
		return err;
	}
	err = control_listen(d, d->cfg.socket, -1, &d->control);
	if (err) {
		log_err("socket %s: %s", d->cfg.socket, strerror(-err));
		return err;
	}
	for (i = 0; i < d->core.ndev; i++)
		log_info("device %u: %s (%s, %llu MiB)", i, d->core.dev[i]->cfg.name,
			 d->core.dev[i]->cfg.provider,
			 (unsigned long long)(d->core.dev[i]->cfg.capacity >> 20));
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
	core_fini(&d->core);
	log_info("stopped");
}

int main(int argc, char **argv)
{
	struct gsvmd_args args = { 0 };
	struct event *ev_term = NULL, *ev_int = NULL;
	static struct gsvmd d;
	int ret;

	ret = parse_args(argc, argv, &args);
	if (ret)
		return ret == 1 ? 0 : 2;
	log_init(args.verbose, getenv("JOURNAL_STREAM") != NULL);
	if (load_config(&args, &d.cfg))
		return 1;
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
	ret = gsvmd_start(&d);
	if (!ret) {
		ev_term = evsignal_new(d.base, SIGTERM, on_stop_signal, &d);
		ev_int = evsignal_new(d.base, SIGINT, on_stop_signal, &d);
		if (!ev_term || !ev_int || event_add(ev_term, NULL) || event_add(ev_int, NULL))
			ret = -ENOMEM;
	}
	if (!ret)
		event_base_dispatch(d.base);
	gsvmd_stop(&d);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	event_base_free(d.base);
	return ret ? 1 : 0;
}
