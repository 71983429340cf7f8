// SPDX-License-Identifier: MIT
/**
 * DOC: Core context
 *
 * One &struct core holds the daemon's memory-management state: the devices
 * (pagemaps) with their pool cache, the knobs every client's range tracker
 * uses, the clock, the counters, and the list of clients. It is passed
 * explicitly; the core has no global state.
 *
 * A client's svm is attached to every device while it is on the client list
 * (pagemap_get()), so device pools exist while anybody may use them and are
 * parked in the cache when the last client leaves.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core.h"

static uint64_t core_monotonic(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/**
 * core_config_default() - The embedded default configuration
 * @cfg: Receives two sim devices of 1 GiB, "sim0" and "sim1", the default
 *       range tracker knobs and a 1 ms timeslice
 */
void core_config_default(struct core_config *cfg)
{
	unsigned int i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < 2; i++) {
		snprintf(cfg->dev[i].name, sizeof(cfg->dev[i].name), "sim%u", i);
		strcpy(cfg->dev[i].provider, "sim");
		strcpy(cfg->dev[i].driver, "sim");
		strcpy(cfg->dev[i].bus, "-");
		cfg->dev[i].capacity = 1ULL << 30;
	}
	cfg->ndev = 2;
	svm_config_default(&cfg->svm);
	cfg->timeslice_ms = 1;
	policy_config_default(&cfg->policy);
	limits_default(&cfg->limits);
}

/**
 * core_init() - Build the core from a configuration
 * @core: The core to initialize
 * @cfg: The configuration
 *
 * Return: 0, -EINVAL for a bad configuration (a bad device, duplicate device
 * names, bad range tracker knobs), -ENOMEM.
 */
int core_init(struct core *core, const struct core_config *cfg)
{
	unsigned int i, j;
	int err;

	memset(core, 0, sizeof(*core));
	if (!cfg || cfg->ndev > PAGEMAP_MAX_DEVICES || svm_config_validate(&cfg->svm))
		return -EINVAL;
	core->policy = policy_find(cfg->policy.name);
	if (!core->policy || !cfg->policy.thrash_threshold || !cfg->policy.pin_threshold)
		return -EINVAL;
	core->policy_cfg = cfg->policy;
	core->limits = cfg->limits;
	for (i = 0; i < cfg->ndev; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(cfg->dev[i].name, cfg->dev[j].name))
				return -EINVAL;
	pagemap_cache_init(&core->cache);
	for (i = 0; i < cfg->ndev; i++) {
		err = pagemap_create(&cfg->dev[i], (int)i, &core->cache, &core->dev[i]);
		if (err)
			goto err;
		core->dev[i]->release_cb = account_devmem_released;
		core->ndev++;
	}
	core->svm_cfg = cfg->svm;
	core->timeslice_ns = cfg->timeslice_ms * 1000000ULL;
	core->clock = core_monotonic;
	pthread_rwlock_init(&core->clients_lock, NULL);
	TAILQ_INIT(&core->clients);
	pthread_mutex_init(&core->accounts_lock, NULL);
	LIST_INIT(&core->accounts);
	return 0;
err:
	while (core->ndev)
		pagemap_destroy(core->dev[--core->ndev]);
	pagemap_cache_fini(&core->cache);
	return err;
}

/**
 * core_fini() - Tear down the core; every client must be gone
 * @core: The core
 */
void core_fini(struct core *core)
{
	while (core->ndev)
		pagemap_destroy(core->dev[--core->ndev]);
	pagemap_cache_fini(&core->cache);
	pthread_rwlock_destroy(&core->clients_lock);
	pthread_mutex_destroy(&core->accounts_lock);
}

/**
 * core_now() - The core's clock
 * @core: The core
 *
 * Return: monotonic time in nanoseconds.
 */
uint64_t core_now(struct core *core)
{
	return core->clock(core->clock_arg);
}

/**
 * core_stamp() - A new operation stamp
 * @core: The core
 *
 * Return: a stamp no earlier operation had (never 0).
 */
uint64_t core_stamp(struct core *core)
{
	return atomic_fetch_add(&core->stamp, 1) + 1;
}

/**
 * core_device() - A device by id
 * @core: The core
 * @id: Device id
 *
 * Return: the device, or NULL for an unknown id.
 */
struct pagemap *core_device(struct core *core, int id)
{
	if (id < 0 || (unsigned int)id >= core->ndev)
		return NULL;
	return core->dev[id];
}

/**
 * core_client_add() - Put a client on the client list and attach it to
 * every device
 * @core: The core
 * @svm: The client's initialized svm
 *
 * Return: 0, or the error creating a device pool (-ENOMEM).
 */
int core_client_add(struct core *core, struct svm *svm)
{
	unsigned int i;
	int err;

	for (i = 0; i < core->ndev; i++) {
		err = pagemap_get(core->dev[i]);
		if (err)
			goto err;
	}
	pthread_rwlock_wrlock(&core->clients_lock);
	TAILQ_INSERT_TAIL(&core->clients, svm, core_link);
	core->nclients++;
	pthread_rwlock_unlock(&core->clients_lock);
	return 0;
err:
	while (i)
		pagemap_put(core->dev[--i]);
	return err;
}

/**
 * core_client_remove() - Take a client off the list and detach it
 * @core: The core
 * @svm: The client, with no device memory left
 */
void core_client_remove(struct core *core, struct svm *svm)
{
	unsigned int i;

	pthread_rwlock_wrlock(&core->clients_lock);
	TAILQ_REMOVE(&core->clients, svm, core_link);
	core->nclients--;
	pthread_rwlock_unlock(&core->clients_lock);
	for (i = 0; i < core->ndev; i++)
		pagemap_put(core->dev[i]);
}

/**
 * core_events_wanted() - Whether anybody listens to events
 * @core: The core
 *
 * Return: true when events should be built and emitted.
 */
bool core_events_wanted(struct core *core)
{
	return atomic_load_explicit(&core->event_listeners, memory_order_relaxed) != 0;
}

/**
 * core_emit() - Report an event to the listeners, if any
 * @core: The core
 * @ev: The event; its time is filled in here
 */
void core_emit(struct core *core, struct event *ev)
{
	if (!core_events_wanted(core) || !core->event_hook)
		return;
	ev->time_ns = core_now(core);
	core->event_hook(core->event_arg, ev);
}

/**
 * core_record_fault_latency() - Count a CPU fault's service time
 * @core: The core
 * @ns: From the fault's arrival to its resolution
 */
void core_record_fault_latency(struct core *core, uint64_t ns)
{
	unsigned int b = 0;

	/* Four buckets per power of two: 2^(b / 4) <= ns < 2^((b + 1) / 4). */
	if (ns > 1) {
		unsigned int lg = 63 - (unsigned int)__builtin_clzll(ns);
		unsigned int frac = lg >= 2 ? (unsigned int)((ns >> (lg - 2)) & 3) : 0;

		b = lg * 4 + frac;
	}
	if (b >= CORE_LATENCY_BUCKETS)
		b = CORE_LATENCY_BUCKETS - 1;
	atomic_fetch_add_explicit(&core->stats.fault_latency[b], 1, memory_order_relaxed);
}
