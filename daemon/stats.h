/* SPDX-License-Identifier: MIT */
#ifndef GSVM_STATS_H
#define GSVM_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"

/**
 * struct stats_device - One device in a snapshot
 */
struct stats_device {
	int id;
	char name[PAGEMAP_NAME_MAX];
	char provider[PAGEMAP_PROVIDER_MAX];
	char driver[PAGEMAP_DRIVER_MAX];
	char bus[PAGEMAP_BUS_MAX];
	uint64_t capacity;
	uint64_t used;
	bool online;
};

/**
 * struct stats_snapshot - gsvmd's counters at one instant
 *
 * Every view of the statistics (the protocol's stats reply, gsvmctl's text
 * and JSON, the metrics endpoint) is rendered from one of these, so they
 * cannot disagree.
 */
struct stats_snapshot {
	uint64_t faults_cpu;
	uint64_t faults_device;
	uint64_t migrations_to_device;
	uint64_t migrations_to_host;
	uint64_t migrations_device_to_device;
	uint64_t bytes_to_device;
	uint64_t bytes_to_host;
	uint64_t bytes_device_to_device;
	uint64_t evictions;
	uint64_t thrash_throttled;
	uint64_t thrash_pinned;
	unsigned int clients;
	uint64_t ranges;
	uint64_t fault_latency_count;
	uint64_t fault_latency_p50_ns;
	uint64_t fault_latency_p99_ns;
	uint64_t events_dropped;
	uint64_t limit_hits[LIMIT_NR];
	unsigned int ndev;
	struct stats_device dev[PAGEMAP_MAX_DEVICES];
};

void stats_snapshot(struct core *core, struct stats_snapshot *out);
uint64_t stats_latency_bucket_ns(unsigned int bucket);

#endif
