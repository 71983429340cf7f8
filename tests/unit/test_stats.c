// SPDX-License-Identifier: MIT
/*
 * Statistics and events inside the core: the snapshot, the fault latency
 * histogram and its percentiles, and event emission to a hook.
 */
#include <errno.h>
#include <string.h>

#include "cu.h"
#include "devop.h"
#include "event.h"
#include "fake_mm.h"
#include "stats.h"

#define MiB (1ULL << 20)
#define VA (64 * MiB)

static struct fake_client cl;

struct seen {
	unsigned int n[EVENT_NR];
	uint64_t migrated_bytes;
	int last_cause;
};

static void hook(void *arg, const struct event *ev)
{
	struct seen *s = arg;

	s->n[ev->type]++;
	if (ev->type == EVENT_MIGRATION) {
		s->migrated_bytes += ev->bytes;
		s->last_cause = ev->cause;
	}
}

static void test_bucket_bounds(void)
{
	unsigned int b;

	/* Four buckets per power of two from 4 ns up, with growing bounds. */
	for (b = 9; b < 120; b++)
		CU_ASSERT(stats_latency_bucket_ns(b) > stats_latency_bucket_ns(b - 1));
	CU_ASSERT_EQUAL(stats_latency_bucket_ns(39), 1024);	/* 2^10 */
	CU_ASSERT_EQUAL(stats_latency_bucket_ns(40), 1280);	/* 2^10 * 1.25 */
}

static void test_latency_percentiles(void)
{
	struct stats_snapshot st;
	unsigned int i;

	CU_ASSERT_FATAL(fake_client_init(&cl, &(struct core_config){ 0 }, VA, MiB) == -EINVAL);
	{
		struct core_config cfg;

		fake_small_config(&cfg, 16 * MiB);
		CU_ASSERT_FATAL(fake_client_init(&cl, &cfg, VA, 4 * MiB) == 0);
	}
	stats_snapshot(&cl.core, &st);
	CU_ASSERT_EQUAL(st.fault_latency_count, 0);
	CU_ASSERT_EQUAL(st.fault_latency_p50_ns, 0);
	/* 98 fast faults of 10 us, 2 slow ones of 1 ms. */
	for (i = 0; i < 98; i++)
		core_record_fault_latency(&cl.core, 10000);
	core_record_fault_latency(&cl.core, 1000000);
	core_record_fault_latency(&cl.core, 1000000);
	stats_snapshot(&cl.core, &st);
	CU_ASSERT_EQUAL(st.fault_latency_count, 100);
	/* Within one bucket (a quarter of a power of two) above the value. */
	CU_ASSERT(st.fault_latency_p50_ns > 10000 && st.fault_latency_p50_ns <= 12500);
	CU_ASSERT(st.fault_latency_p99_ns > 1000000 && st.fault_latency_p99_ns <= 1250000);
	core_record_fault_latency(&cl.core, 0);
	core_record_fault_latency(&cl.core, UINT64_MAX);
	stats_snapshot(&cl.core, &st);
	CU_ASSERT_EQUAL(st.fault_latency_count, 102);
	fake_client_fini(&cl);
}

static void test_snapshot_counts(void)
{
	struct core_config cfg;
	struct migrate_result res;
	struct stats_snapshot st;

	fake_small_config(&cfg, 16 * MiB);
	CU_ASSERT_FATAL(fake_client_init(&cl, &cfg, VA, 4 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 4 * MiB, 1), 0);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 4 * MiB, 1, &res), 0);
	stats_snapshot(&cl.core, &st);
	CU_ASSERT_EQUAL(st.clients, 1);
	CU_ASSERT_EQUAL(st.ranges, 2);
	CU_ASSERT_EQUAL(st.bytes_to_device, 4 * MiB);
	CU_ASSERT_EQUAL(st.migrations_to_device, 2);
	CU_ASSERT_EQUAL(st.ndev, 2);
	CU_ASSERT_STRING_EQUAL(st.dev[1].name, "sim1");
	CU_ASSERT_EQUAL(st.dev[1].used, 4 * MiB);
	CU_ASSERT_EQUAL(st.dev[1].capacity, 16 * MiB);
	CU_ASSERT_TRUE(st.dev[0].online);
	fake_client_fini(&cl);
}

static void test_events_only_with_listeners(void)
{
	struct core_config cfg;
	struct migrate_result res;
	struct seen seen = { 0 };

	fake_small_config(&cfg, 16 * MiB);
	CU_ASSERT_FATAL(fake_client_init(&cl, &cfg, VA, 4 * MiB) == 0);
	cl.core.event_hook = hook;
	cl.core.event_arg = &seen;
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 4 * MiB, 2), 0);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 2 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(seen.n[EVENT_MIGRATION], 0);
	CU_ASSERT_EQUAL(seen.n[EVENT_CPU_FAULT], 0);
	atomic_store(&cl.core.event_listeners, 1);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA + 2 * MiB, 2 * MiB, 1, &res), 0);
	CU_ASSERT_EQUAL(seen.n[EVENT_MIGRATION], 1);
	CU_ASSERT_EQUAL(seen.migrated_bytes, 2 * MiB);
	CU_ASSERT_EQUAL(seen.last_cause, MIGRATE_PREFETCH);
	/* A CPU touch: a fault event and a migration home. */
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA + 2 * MiB, 4096, 2), 0);
	CU_ASSERT(seen.n[EVENT_CPU_FAULT] >= 1);
	CU_ASSERT_EQUAL(seen.n[EVENT_MIGRATION], 2);
	CU_ASSERT_EQUAL(seen.last_cause, MIGRATE_CPU_FAULT);
	/* A device op: a device fault (the range is in place: no migration). */
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 0, DEVOP_CHECKSUM, VA, 4096, 0, NULL), 0);
	CU_ASSERT_EQUAL(seen.n[EVENT_DEVICE_FAULT], 1);
	CU_ASSERT_STRING_EQUAL(event_type_name(EVENT_EVICTION), "eviction");
	CU_ASSERT_STRING_EQUAL(event_type_name(EVENT_NR), "?");
	CU_ASSERT_STRING_EQUAL(event_cause_name(MIGRATE_UNBIND), "unbind");
	CU_ASSERT_STRING_EQUAL(event_cause_name(99), "?");
	fake_client_fini(&cl);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_bucket_bounds),
		CU_TEST_ENTRY(test_latency_percentiles),
		CU_TEST_ENTRY(test_snapshot_counts),
		CU_TEST_ENTRY(test_events_only_with_listeners),
		{ NULL, NULL },
	};

	return cu_run("stats", tests);
}
