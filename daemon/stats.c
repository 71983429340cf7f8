// SPDX-License-Identifier: MIT
/**
 * DOC: Statistics
 *
 * The core counts faults, migrations (and their bytes, host to device,
 * device to host and device to device apart), evictions and thrash events
 * in atomic counters as they happen (&struct core_stats). stats_snapshot()
 * reads them, the client list and the devices once; everything that shows
 * statistics renders such a snapshot.
 */
#include <string.h>

#include "stats.h"

/**
 * stats_latency_bucket_ns() - Upper bound of a fault-latency bucket
 * @bucket: Bucket index (see core_record_fault_latency())
 *
 * Return: the smallest latency that no longer falls into @bucket, in ns.
 */
uint64_t stats_latency_bucket_ns(unsigned int bucket)
{
	unsigned int next = bucket + 1, lg = next / 4, frac = next % 4;

	if (lg >= 63)
		return UINT64_MAX;
	if (lg < 2)
		return 1ULL << lg;
	return (1ULL << lg) + ((uint64_t)frac << (lg - 2));
}

/* The latency below which a fraction @num/@den of the samples fall. */
static uint64_t stats_percentile(const uint64_t *hist, uint64_t total, uint64_t num, uint64_t den)
{
	uint64_t want = (total * num + den - 1) / den, seen = 0;
	unsigned int b;

	for (b = 0; b < CORE_LATENCY_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= want && seen)
			return stats_latency_bucket_ns(b);
	}
	return 0;
}

static void stats_latency(struct core_stats *c, struct stats_snapshot *out)
{
	uint64_t hist[CORE_LATENCY_BUCKETS], total = 0;
	unsigned int b;

	for (b = 0; b < CORE_LATENCY_BUCKETS; b++) {
		hist[b] = atomic_load_explicit(&c->fault_latency[b], memory_order_relaxed);
		total += hist[b];
	}
	out->fault_latency_count = total;
	out->fault_latency_p50_ns = stats_percentile(hist, total, 50, 100);
	out->fault_latency_p99_ns = stats_percentile(hist, total, 99, 100);
}

/**
 * stats_snapshot() - Read every counter once
 * @core: The core
 * @out: Receives the snapshot
 */
void stats_snapshot(struct core *core, struct stats_snapshot *out)
{
	struct core_stats *c = &core->stats;
	unsigned int i;
	struct svm *svm;

	memset(out, 0, sizeof(*out));
	out->faults_cpu = atomic_load(&c->cpu_faults);
	out->faults_device = atomic_load(&c->device_faults);
	out->migrations_to_device = atomic_load(&c->to_device);
	out->migrations_to_host = atomic_load(&c->to_host);
	out->migrations_device_to_device = atomic_load(&c->device_to_device);
	out->bytes_to_device = atomic_load(&c->bytes_to_device);
	out->bytes_to_host = atomic_load(&c->bytes_to_host);
	out->bytes_device_to_device = atomic_load(&c->bytes_device_to_device);
	out->evictions = atomic_load(&c->evictions);
	out->thrash_throttled = atomic_load(&c->thrash_throttled);
	out->thrash_pinned = atomic_load(&c->thrash_pinned);
	stats_latency(c, out);
	for (i = 0; i < LIMIT_NR; i++)
		out->limit_hits[i] = atomic_load(&c->limit_hits[i]);
	pthread_rwlock_rdlock(&core->clients_lock);
	out->clients = core->nclients;
	TAILQ_FOREACH(svm, &core->clients, core_link) {
		pthread_mutex_lock(&svm->notifier_lock);
		out->ranges += svm->nranges;
		pthread_mutex_unlock(&svm->notifier_lock);
	}
	pthread_rwlock_unlock(&core->clients_lock);
	out->ndev = core->ndev;
	for (i = 0; i < core->ndev; i++) {
		struct pagemap *pm = core->dev[i];
		struct stats_device *d = &out->dev[i];

		d->id = pm->id;
		memcpy(d->name, pm->cfg.name, sizeof(d->name));
		memcpy(d->provider, pm->cfg.provider, sizeof(d->provider));
		memcpy(d->driver, pm->cfg.driver, sizeof(d->driver));
		memcpy(d->bus, pm->cfg.bus, sizeof(d->bus));
		pagemap_usage(pm, &d->capacity, &d->used, NULL);
		d->online = pagemap_bound(pm);
	}
}
