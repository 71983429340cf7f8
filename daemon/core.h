/* SPDX-License-Identifier: MIT */
#ifndef GSVM_CORE_H
#define GSVM_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>

#include "account.h"
#include "event.h"
#include "pagemap.h"
#include "policy.h"
#include "svm.h"

/* Fault latency histogram: bucket i holds latencies below 2^((i + 1) / 4) ns. */
#define CORE_LATENCY_BUCKETS 160

/**
 * struct core_stats - Counters kept by the core (all atomic)
 */
struct core_stats {
	atomic_uint_fast64_t cpu_faults;
	atomic_uint_fast64_t device_faults;
	atomic_uint_fast64_t to_device;
	atomic_uint_fast64_t to_host;
	atomic_uint_fast64_t device_to_device;
	atomic_uint_fast64_t bytes_to_device;
	atomic_uint_fast64_t bytes_to_host;
	atomic_uint_fast64_t bytes_device_to_device;
	atomic_uint_fast64_t evictions;
	atomic_uint_fast64_t thrash_throttled;
	atomic_uint_fast64_t thrash_pinned;
	atomic_uint_fast64_t fault_latency[CORE_LATENCY_BUCKETS];
	atomic_uint_fast64_t limit_hits[LIMIT_NR];
};

/**
 * struct core_config - Everything the core is built from
 * @dev: Devices, in id order
 * @ndev: Number of devices
 * @svm: Range tracker knobs for every client
 * @timeslice_ms: Minimum time freshly migrated data stays on a device
 *                before a CPU fault may take it back
 * @policy: The migration policy and its knobs
 * @limits: Resource limits per client and per user
 */
struct core_config {
	struct pagemap_config dev[PAGEMAP_MAX_DEVICES];
	unsigned int ndev;
	struct svm_config svm;
	uint64_t timeslice_ms;
	struct policy_config policy;
	struct limits limits;
};

/**
 * struct core - The daemon's memory-management state
 * @dev: Devices by id
 * @ndev: Number of devices
 * @cache: Pool cache shared by the devices
 * @svm_cfg: Range tracker knobs for new clients
 * @timeslice_ns: See &struct core_config; a reload (SIGHUP) may change it
 *                while other threads run: access it with __atomic_*_n()
 * @clock: Monotonic clock in ns (replaceable by tests)
 * @clock_arg: Argument for @clock
 * @stats: Counters
 * @clients_lock: Read-held by walks over clients (evacuation), write-held to
 *                add or remove one; taken before any svm lock
 * @clients: Every client's svm
 * @nclients: Number of clients
 * @policy: The migration policy
 * @policy_cfg: Its knobs; a reload may change the numeric ones while other
 *              threads run: access those with __atomic_*_n()
 * @stamp: Source of operation stamps (&struct devmem)
 * @event_hook: Receives events while @event_listeners is non-zero (set once,
 *              before clients arrive)
 * @event_arg: Argument for @event_hook
 * @event_listeners: How many listeners want events; 0 makes emitting free
 * @limits: Resource limits
 * @accounts_lock: Protects @accounts and each account's client count
 * @accounts: One account per user with clients
 */
struct core {
	struct pagemap *dev[PAGEMAP_MAX_DEVICES];
	unsigned int ndev;
	struct pagemap_cache cache;
	struct svm_config svm_cfg;
	uint64_t timeslice_ns;
	uint64_t (*clock)(void *arg);
	void *clock_arg;
	struct core_stats stats;
	pthread_rwlock_t clients_lock;
	TAILQ_HEAD(, svm) clients;
	unsigned int nclients;
	const struct policy_ops *policy;
	struct policy_config policy_cfg;
	atomic_uint_fast64_t stamp;
	void (*event_hook)(void *arg, const struct event *ev);
	void *event_arg;
	atomic_uint event_listeners;
	struct limits limits;
	pthread_mutex_t accounts_lock;
	LIST_HEAD(, account) accounts;
};

void core_config_default(struct core_config *cfg);
int core_init(struct core *core, const struct core_config *cfg);
void core_fini(struct core *core);
uint64_t core_now(struct core *core);
struct pagemap *core_device(struct core *core, int id);
int core_client_add(struct core *core, struct svm *svm);
uint64_t core_stamp(struct core *core);
void core_emit(struct core *core, struct event *ev);
bool core_events_wanted(struct core *core);
void core_record_fault_latency(struct core *core, uint64_t ns);
void core_client_remove(struct core *core, struct svm *svm);

#endif
