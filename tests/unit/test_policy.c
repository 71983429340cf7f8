// SPDX-License-Identifier: MIT
/*
 * The migration policies inside the core: advice, replicas, eviction, thrash
 * control, unbind destinations, and the explicit policy. A fake client
 * address space (fake_mm.c) and a fake clock; real sim devices.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "advise.h"
#include "cu.h"
#include "devop.h"
#include "evict.h"
#include "fake_mm.h"
#include "migrate.h"

#define MiB (1ULL << 20)
#define KiB (1ULL << 10)
#define VA (64 * MiB)

static struct fake_client cl;

static int setup_cfg(struct core_config *cfg, uint64_t size)
{
	return fake_client_init(&cl, cfg, VA, size);
}

static int setup(uint64_t capacity, uint64_t size)
{
	struct core_config cfg;

	fake_small_config(&cfg, capacity);
	return setup_cfg(&cfg, size);
}

static int op(int dev, enum devop_kind kind, uint64_t addr, uint64_t len, uint64_t arg,
	      uint64_t *sum)
{
	return devop_run(&cl.core, &cl.svm, dev, kind, addr, len, arg, sum);
}

static int advise(uint64_t addr, uint64_t len, enum advice a, int dev)
{
	return advise_apply(&cl.core, &cl.svm, addr, len, a, dev);
}

static uint64_t counter(atomic_uint_fast64_t *c)
{
	return atomic_load(c);
}

static void test_preferred_location(void)
{
	struct migrate_result res;
	uint64_t s0, s1;

	CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 4 * MiB, 1), 0);
	CU_ASSERT_EQUAL(advise(VA, 4 * MiB, ADVISE_SET_PREFERRED_LOCATION, 1), 0);
	/* Another device accesses it where it is. */
	CU_ASSERT_EQUAL(op(0, DEVOP_CHECKSUM, VA, 4 * MiB, 0, &s0), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	/* The preferred device takes it. */
	CU_ASSERT_EQUAL(op(1, DEVOP_CHECKSUM, VA, 4 * MiB, 0, &s1), 0);
	CU_ASSERT_EQUAL(s0, s1);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 1);
	/* Device 0 writes it remotely, on device 1. */
	CU_ASSERT_EQUAL(op(0, DEVOP_FILL, VA, 4096, 0x42, NULL), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 1);
	/* The CPU brings it home, and sees the write. */
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA + 4096, 4 * MiB - 4096, 1), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	/* Device 1's next access takes it back. */
	CU_ASSERT_EQUAL(op(1, DEVOP_CHECKSUM, VA, 4096, 0, &s1), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 1);
	/* Preferred host: devices never move it. */
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 4 * MiB, LOC_HOST, &res), 0);
	CU_ASSERT_EQUAL(advise(VA, 4 * MiB, ADVISE_SET_PREFERRED_LOCATION, LOC_HOST), 0);
	CU_ASSERT_EQUAL(op(1, DEVOP_ADD, VA, 4 * MiB, 0, NULL), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + MiB), LOC_HOST);
	CU_ASSERT_EQUAL(advise(VA, 4 * MiB, ADVISE_UNSET_PREFERRED_LOCATION, 0), 0);
	CU_ASSERT_EQUAL(op(1, DEVOP_ADD, VA, 4 * MiB, 0, NULL), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + MiB), 1);
	fake_client_fini(&cl);
}

static void test_accessed_by(void)
{
	struct migrate_result res;
	uint64_t sum;

	CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 4 * MiB, 2), 0);
	CU_ASSERT_EQUAL(advise(VA, 4 * MiB, ADVISE_SET_ACCESSED_BY, 0), 0);
	CU_ASSERT_EQUAL(op(0, DEVOP_CHECKSUM, VA, 4 * MiB, 0, &sum), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 4 * MiB, 1, &res), 0);
	CU_ASSERT_EQUAL(op(0, DEVOP_CHECKSUM, VA, 4 * MiB, 0, &sum), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 1);
	/* Device 1 has no such advice: first touch applies to it. */
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 4 * MiB, LOC_HOST, &res), 0);
	CU_ASSERT_EQUAL(op(1, DEVOP_CHECKSUM, VA, 4 * MiB, 0, &sum), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 1);
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA, 4 * MiB, 2), 0);
	fake_client_fini(&cl);
}

static void test_read_mostly_replicas(void)
{
	uint64_t s0, s1, used;

	CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 4 * MiB, 3), 0);
	CU_ASSERT_EQUAL(advise(VA, 4 * MiB, ADVISE_SET_READ_MOSTLY, 0), 0);
	CU_ASSERT_EQUAL(op(1, DEVOP_CHECKSUM, VA, 4 * MiB, 0, &s1), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	CU_ASSERT_EQUAL(fc_replicas(&cl, VA), 1ULL << 1);
	CU_ASSERT_EQUAL(fc_dev_used(&cl, 1), 4 * MiB);
	CU_ASSERT_EQUAL(op(0, DEVOP_CHECKSUM, VA, 4 * MiB, 0, &s0), 0);
	CU_ASSERT_EQUAL(s0, s1);
	CU_ASSERT_EQUAL(fc_replicas(&cl, VA + 2 * MiB), 3);
	/* The replicas write-protect the host pages: a CPU write faults. */
	CU_ASSERT(cl.fm.wp_depth > 0);
	CU_ASSERT_EQUAL(migrate_wp_fault(&cl.core, &cl.svm, VA + 8), 0);
	CU_ASSERT_EQUAL(fc_replicas(&cl, VA), 0);
	CU_ASSERT_EQUAL(fc_replicas(&cl, VA + 2 * MiB), 3);
	/* A device write drops them too. */
	CU_ASSERT_EQUAL(op(0, DEVOP_FILL, VA + 2 * MiB, 4096, 7, NULL), 0);
	CU_ASSERT_EQUAL(fc_replicas(&cl, VA + 2 * MiB), 0);
	pagemap_usage(cl.core.dev[1], NULL, &used, NULL);
	CU_ASSERT_EQUAL(used, 0);
	/* Replicas of data on a device; unsetting read-mostly drops them. */
	CU_ASSERT_EQUAL(op(1, DEVOP_CHECKSUM, VA, 2 * MiB, 0, &s1), 0);
	CU_ASSERT_EQUAL(fc_replicas(&cl, VA), 1ULL << 1);
	CU_ASSERT_EQUAL(advise(VA, 4 * MiB, ADVISE_UNSET_READ_MOSTLY, 0), 0);
	CU_ASSERT_EQUAL(fc_replicas(&cl, VA), 0);
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA, 2 * MiB, 3), 0);
	fake_client_fini(&cl);
}

static void test_stale_replica_remade(void)
{
	uint64_t s1, s2;

	CU_ASSERT_FATAL(setup(64 * MiB, 2 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 2 * MiB, 4), 0);
	CU_ASSERT_EQUAL(advise(VA, 2 * MiB, ADVISE_SET_READ_MOSTLY, 0), 0);
	CU_ASSERT_EQUAL(op(1, DEVOP_CHECKSUM, VA, 2 * MiB, 0, &s1), 0);
	CU_ASSERT_EQUAL(fc_replicas(&cl, VA), 2);
	/* An address-space event (e.g. MADV_REMOVE) makes it stale. */
	svm_invalidate(&cl.svm, VA, VA + 4096);
	CU_ASSERT_EQUAL(fc_replicas(&cl, VA), 0);
	CU_ASSERT_EQUAL(op(1, DEVOP_CHECKSUM, VA, 2 * MiB, 0, &s2), 0);
	CU_ASSERT_EQUAL(s1, s2);
	CU_ASSERT_EQUAL(fc_replicas(&cl, VA), 2);
	fake_client_fini(&cl);
}

static void test_advice_retires_cut_ranges(void)
{
	struct migrate_result res;

	CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 4 * MiB, 5), 0);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 4 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(cl.svm.nranges, 2);
	/* Advice on the middle 64 KiB of the first range cuts it: it goes home. */
	CU_ASSERT_EQUAL(advise(VA + MiB, 64 * KiB, ADVISE_SET_ACCESSED_BY, 1), 0);
	CU_ASSERT_EQUAL(cl.svm.va.count, 3);
	CU_ASSERT_EQUAL(cl.svm.nranges, 1);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + 3 * MiB), 0);
	CU_ASSERT_EQUAL(fc_dev_used(&cl, 0), 2 * MiB);
	/* New ranges fit the new mappings. */
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 2 * MiB, 0, &res), 0);
	CU_ASSERT(cl.svm.nranges > 3);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + MiB), 0);
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA, 4 * MiB, 5), 0);
	/* Undoing the advice merges the mappings back. */
	CU_ASSERT_EQUAL(advise(VA + MiB, 64 * KiB, ADVISE_UNSET_ACCESSED_BY, 1), 0);
	CU_ASSERT_EQUAL(cl.svm.va.count, 1);
	fake_client_fini(&cl);
}

static void test_eviction_lru_to_host(void)
{
	struct migrate_result res;
	uint64_t ev;

	CU_ASSERT_FATAL(setup(4 * MiB, 8 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 8 * MiB, 6), 0);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 4 * MiB, 0, &res), 0);
	ev = counter(&cl.core.stats.evictions);
	/* A device op on the next range: the device is full, the LRU goes. */
	CU_ASSERT_EQUAL(op(0, DEVOP_CHECKSUM, VA + 4 * MiB, 2 * MiB, 0, NULL), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + 4 * MiB), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + 2 * MiB), 0);
	CU_ASSERT_EQUAL(counter(&cl.core.stats.evictions), ev + 1);
	/* A prefetch bigger than the device evicts others, never itself. */
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 8 * MiB, 0, &res), -ENOSPC);
	CU_ASSERT_EQUAL(res.migrated + res.in_place, 4 * MiB);
	CU_ASSERT_EQUAL(res.failed, 4 * MiB);
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA, 8 * MiB, 6), 0);
	fake_client_fini(&cl);
}

static void test_eviction_to_accessed_by_peer(void)
{
	struct migrate_result res;

	CU_ASSERT_FATAL(setup(4 * MiB, 8 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 8 * MiB, 7), 0);
	CU_ASSERT_EQUAL(advise(VA, 2 * MiB, ADVISE_SET_ACCESSED_BY, 1), 0);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 4 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA + 4 * MiB, 2 * MiB, 0, &res), 0);
	/* The victim went to device 1, which may access it. */
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 1);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + 4 * MiB), 0);
	CU_ASSERT(counter(&cl.core.stats.bytes_device_to_device) >= 2 * MiB);
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA, 8 * MiB, 7), 0);
	fake_client_fini(&cl);
}

static void test_eviction_fresh_last(void)
{
	struct core_config cfg;
	struct migrate_result res;

	fake_small_config(&cfg, 4 * MiB);
	cfg.timeslice_ms = 10;
	CU_ASSERT_FATAL(setup_cfg(&cfg, 8 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 8 * MiB, 8), 0);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA + 2 * MiB, 2 * MiB, 0, &res), 0);
	cl.fm.now += 20000000ULL;
	/* Least recently used but fresh: VA. Older and expired: VA + 2 MiB. */
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 2 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(op(0, DEVOP_CHECKSUM, VA + 2 * MiB, 4096, 0, NULL), 0);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA + 4 * MiB, 2 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + 2 * MiB), LOC_HOST);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + 4 * MiB), 0);
	/* Only fresh ones left: the least recently used of them goes. */
	CU_ASSERT_EQUAL(fc_populate(&cl, VA + 6 * MiB, 2 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA, 8 * MiB, 8), 0);
	fake_client_fini(&cl);
}

/* A second client on the same core, to evict across clients. */
static void test_eviction_across_clients(void)
{
	struct migrate_result res;
	struct fake_bo *bo2;
	struct fake_mm fm2;
	struct svm svm2;
	uint8_t buf[4096];

	CU_ASSERT_FATAL(setup(4 * MiB, 4 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 4 * MiB, 9), 0);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 4 * MiB, 0, &res), 0);
	fake_mm_init(&fm2);
	CU_ASSERT_FATAL(svm_init(&svm2, &cl.core.svm_cfg, &fake_mm_ops, &fm2) == 0);
	CU_ASSERT_FATAL(core_client_add(&cl.core, &svm2) == 0);
	bo2 = fake_bo_new(1, 2 * MiB);
	fake_map(&fm2, VA, 2 * MiB, bo2, 0);
	pthread_mutex_lock(&svm2.lock);
	CU_ASSERT_EQUAL(svm_bo_add(&svm2, 1, 2 * MiB, bo2->mem, bo2), 0);
	CU_ASSERT_EQUAL(svm_register(&svm2, VA, 2 * MiB, 1, 0), 0);
	pthread_mutex_unlock(&svm2.lock);
	memset(buf, 0x77, sizeof(buf));
	CU_ASSERT_EQUAL(fake_access(&fm2, &cl.core, &svm2, VA, buf, sizeof(buf), true), 0);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &svm2, 0, DEVOP_CHECKSUM, VA, 2 * MiB, 0, NULL), 0);
	/* The first client's least recently used range went home. */
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + 2 * MiB), 0);
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA, 4 * MiB, 9), 0);
	memset(buf, 0, sizeof(buf));
	CU_ASSERT_EQUAL(fake_access(&fm2, &cl.core, &svm2, VA, buf, sizeof(buf), false), 0);
	CU_ASSERT_EQUAL(buf[100], 0x77);
	migrate_release_all(&cl.core, &svm2);
	core_client_remove(&cl.core, &svm2);
	svm_fini(&svm2);
	fake_bo_free(bo2);
	fake_mm_fini(&fm2);
	fake_client_fini(&cl);
}

static void test_thrash_throttle_and_pin(void)
{
	struct core_config cfg;
	uint64_t migrations, i, v, want = 0, sum;

	fake_small_config(&cfg, 64 * MiB);
	cfg.timeslice_ms = 0;
	cfg.svm.chunk_sizes[0] = 4096;
	cfg.svm.nchunks = 1;
	cfg.policy.pin_quiet_ms = 300;
	CU_ASSERT_FATAL(setup_cfg(&cfg, 64 * KiB) == 0);
	CU_ASSERT_EQUAL(fake_access(&cl.fm, &cl.core, &cl.svm, VA, &want, 8, true), 0);
	for (i = 0; i < 2000; i++) {
		/* The device adds one, the CPU checks and adds one. */
		CU_ASSERT_EQUAL_FATAL(op(0, DEVOP_ADD, VA, 8, 1, NULL), 0);
		CU_ASSERT_EQUAL_FATAL(fake_access(&cl.fm, &cl.core, &cl.svm, VA, &v, 8, false), 0);
		CU_ASSERT_EQUAL_FATAL(v, want + 1);
		want += 2;
		v = want;
		CU_ASSERT_EQUAL_FATAL(fake_access(&cl.fm, &cl.core, &cl.svm, VA, &v, 8, true), 0);
		cl.fm.now += 10000;
	}
	migrations = counter(&cl.core.stats.to_device) + counter(&cl.core.stats.to_host);
	CU_ASSERT(migrations < 100);
	CU_ASSERT(counter(&cl.core.stats.thrash_throttled) > 0);
	CU_ASSERT_EQUAL(counter(&cl.core.stats.thrash_pinned), 1);
	/* Pinned: device accesses are remote. */
	CU_ASSERT_EQUAL(op(0, DEVOP_CHECKSUM, VA, 8, 0, &sum), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	/* After a quiet period the pin is lifted: first touch again. */
	cl.fm.now += 400000000ULL;
	CU_ASSERT_EQUAL(op(0, DEVOP_CHECKSUM, VA, 8, 0, &sum), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 0);
	CU_ASSERT_EQUAL(fake_access(&cl.fm, &cl.core, &cl.svm, VA, &v, 8, false), 0);
	CU_ASSERT_EQUAL(v, want);
	fake_client_fini(&cl);
}

static void test_unbind_moves_to_preferred(void)
{
	struct migrate_result res;

	CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 4 * MiB, 10), 0);
	CU_ASSERT_EQUAL(advise(VA, 2 * MiB, ADVISE_SET_PREFERRED_LOCATION, 1), 0);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 4 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(pagemap_unbind(cl.core.dev[0]), 0);
	CU_ASSERT_EQUAL(migrate_evacuate_device(&cl.core, cl.core.dev[0]), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 1);
	CU_ASSERT_EQUAL(fc_location(&cl, VA + 2 * MiB), LOC_HOST);
	CU_ASSERT_EQUAL(fc_dev_used(&cl, 0), 0);
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA, 4 * MiB, 10), 0);
	CU_ASSERT_EQUAL(pagemap_rebind(cl.core.dev[0]), 0);
	fake_client_fini(&cl);
}

static void test_explicit_policy(void)
{
	struct core_config cfg;
	struct migrate_result res;
	uint64_t sum;

	fake_small_config(&cfg, 4 * MiB);
	strcpy(cfg.policy.name, "explicit");
	CU_ASSERT_FATAL(setup_cfg(&cfg, 8 * MiB) == 0);
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, VA, 8 * MiB, 11), 0);
	CU_ASSERT_EQUAL(advise(VA, 8 * MiB, ADVISE_SET_PREFERRED_LOCATION, 0), 0);
	CU_ASSERT_EQUAL(op(0, DEVOP_ADD, VA, 8 * MiB, 0, &sum), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	CU_ASSERT_EQUAL(fc_populate(&cl, VA, 4 * MiB, 1, &res), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 1);
	/* Device 0 accesses device 1's copy remotely. */
	CU_ASSERT_EQUAL(op(0, DEVOP_CHECKSUM, VA, 4 * MiB, 0, &sum), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), 1);
	/* Full device: eviction to host. */
	CU_ASSERT_EQUAL(fc_populate(&cl, VA + 4 * MiB, 2 * MiB, 1, &res), 0);
	CU_ASSERT_EQUAL(fc_location(&cl, VA), LOC_HOST);
	CU_ASSERT_EQUAL(fc_check_pattern(&cl, VA, 8 * MiB, 11), 0);
	fake_client_fini(&cl);
}

static void test_bad_input(void)
{
	struct core_config cfg;
	struct core core;

	CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
	CU_ASSERT_EQUAL(advise(VA, 0, ADVISE_SET_READ_MOSTLY, 0), -EINVAL);
	CU_ASSERT_EQUAL(advise(UINT64_MAX - 4095, 8192, ADVISE_SET_READ_MOSTLY, 0), -EINVAL);
	CU_ASSERT_EQUAL(advise(VA, 4096, ADVISE_NR, 0), -EINVAL);
	CU_ASSERT_EQUAL(advise(VA, 4096, ADVISE_SET_PREFERRED_LOCATION, 2), -ENODEV);
	CU_ASSERT_EQUAL(advise(VA, 4096, ADVISE_SET_PREFERRED_LOCATION, -5), -ENODEV);
	CU_ASSERT_EQUAL(advise(VA, 4096, ADVISE_SET_ACCESSED_BY, LOC_HOST), -ENODEV);
	CU_ASSERT_EQUAL(advise(VA - 4096, 8192, ADVISE_SET_READ_MOSTLY, 0), -EFAULT);
	CU_ASSERT_EQUAL(cl.svm.va.count, 1);
	fake_client_fini(&cl);
	core_config_default(&cfg);
	strcpy(cfg.policy.name, "nonesuch");
	CU_ASSERT_EQUAL(core_init(&core, &cfg), -EINVAL);
	core_config_default(&cfg);
	cfg.policy.thrash_threshold = 0;
	CU_ASSERT_EQUAL(core_init(&core, &cfg), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(policy_find("default"));
	CU_ASSERT_PTR_NOT_NULL(policy_find("explicit"));
	CU_ASSERT_PTR_NULL(policy_find(NULL));
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_preferred_location),
		CU_TEST_ENTRY(test_accessed_by),
		CU_TEST_ENTRY(test_read_mostly_replicas),
		CU_TEST_ENTRY(test_stale_replica_remade),
		CU_TEST_ENTRY(test_advice_retires_cut_ranges),
		CU_TEST_ENTRY(test_eviction_lru_to_host),
		CU_TEST_ENTRY(test_eviction_to_accessed_by_peer),
		CU_TEST_ENTRY(test_eviction_fresh_last),
		CU_TEST_ENTRY(test_eviction_across_clients),
		CU_TEST_ENTRY(test_thrash_throttle_and_pin),
		CU_TEST_ENTRY(test_unbind_moves_to_preferred),
		CU_TEST_ENTRY(test_explicit_policy),
		CU_TEST_ENTRY(test_bad_input),
		{ NULL, NULL },
	};

	return cu_run("policy", tests);
}
