// SPDX-License-Identifier: MIT
/*
 * The migration layer and device ops, end to end inside the core: a fake
 * client address space (fake_mm.c), real sim devices, data checked byte for
 * byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "devop.h"
#include "fake_mm.h"
#include "migrate.h"
#include "mem.h"
#include "sim.h"

#define MiB (1ULL << 20)
#define KiB (1ULL << 10)
#define VA (64 * MiB)

static struct fake_client cl;

static int setup(uint64_t capacity, uint64_t size)
{
	struct core_config cfg;

	fake_small_config(&cfg, capacity);
	return fake_client_init(&cl, &cfg, VA, size);
}

static void write_pattern(uint64_t addr, uint64_t len, unsigned int seed)
{
	CU_ASSERT_EQUAL(fc_write_pattern(&cl, addr, len, seed), 0);
}

static uint64_t check_pattern(uint64_t addr, uint64_t len, unsigned int seed)
{
	return fc_check_pattern(&cl, addr, len, seed);
}

static int populate(uint64_t addr, uint64_t len, int loc, struct migrate_result *res)
{
	return fc_populate(&cl, addr, len, loc, res);
}

static int location(uint64_t addr)
{
	return fc_location(&cl, addr);
}

static uint64_t dev_used(int id)
{
	return fc_dev_used(&cl, id);
}

static void test_populate_round_trip(void)
{
	struct migrate_result res;

	CU_ASSERT_FATAL(setup(64 * MiB, 8 * MiB) == 0);
	write_pattern(VA, 8 * MiB, 1);
	CU_ASSERT_EQUAL(populate(VA, 8 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(res.migrated, 8 * MiB);
	CU_ASSERT_EQUAL(res.failed, 0);
	CU_ASSERT_EQUAL(location(VA), 0);
	CU_ASSERT_EQUAL(location(VA + 8 * MiB - 1), 0);
	/* The host copy is gone: the client's pages are holes. */
	CU_ASSERT_FALSE(fake_present(&cl.fm, VA));
	CU_ASSERT_FALSE(fake_present(&cl.fm, VA + 5 * MiB));
	CU_ASSERT_EQUAL(dev_used(0), 8 * MiB);
	CU_ASSERT_EQUAL(atomic_load(&cl.core.stats.bytes_to_device), 8 * MiB);
	/* CPU reads fault the data back, a whole range at a time. */
	CU_ASSERT_EQUAL(check_pattern(VA + 3 * MiB, 4096, 1), 0);
	CU_ASSERT_EQUAL(location(VA + 2 * MiB), LOC_HOST);
	CU_ASSERT_EQUAL(location(VA + 4 * MiB), 0);
	CU_ASSERT_EQUAL(check_pattern(VA, 8 * MiB, 1), 0);
	CU_ASSERT_EQUAL(dev_used(0), 0);
	CU_ASSERT(atomic_load(&cl.core.stats.bytes_to_host) == 8 * MiB);
	CU_ASSERT_EQUAL(cl.fm.wp_depth, 0);
	fake_client_fini(&cl);
}

static void test_populate_best_effort_in_place(void)
{
	struct migrate_result res;

	CU_ASSERT_FATAL(setup(64 * MiB, 8 * MiB) == 0);
	write_pattern(VA, 8 * MiB, 2);
	CU_ASSERT_EQUAL(populate(VA + 2 * MiB, 2 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(populate(VA, 8 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(res.in_place, 2 * MiB);
	CU_ASSERT_EQUAL(res.migrated, 6 * MiB);
	CU_ASSERT_EQUAL(atomic_load(&cl.core.stats.bytes_to_device), 8 * MiB);
	CU_ASSERT_EQUAL(check_pattern(VA, 8 * MiB, 2), 0);
	fake_client_fini(&cl);
}

static void test_populate_device_full_partial(void)
{
	struct migrate_result res;

	CU_ASSERT_FATAL(setup(4 * MiB, 8 * MiB) == 0);
	write_pattern(VA, 8 * MiB, 3);
	CU_ASSERT_EQUAL(populate(VA, 8 * MiB, 1, &res), -ENOSPC);
	CU_ASSERT_EQUAL(res.migrated, 4 * MiB);
	CU_ASSERT_EQUAL(res.failed, 4 * MiB);
	CU_ASSERT_EQUAL(res.error, -ENOSPC);
	CU_ASSERT_EQUAL(location(VA), 1);
	CU_ASSERT_EQUAL(location(VA + 6 * MiB), LOC_HOST);
	CU_ASSERT_EQUAL(check_pattern(VA, 8 * MiB, 3), 0);
	fake_client_fini(&cl);
}

static void test_peer_migration(void)
{
	struct migrate_result res;
	int i;

	CU_ASSERT_FATAL(setup(64 * MiB, 16 * MiB) == 0);
	write_pattern(VA, 16 * MiB, 4);
	for (i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(populate(VA, 16 * MiB, 0, &res), 0);
		CU_ASSERT_EQUAL(location(VA + MiB), 0);
		CU_ASSERT_EQUAL(populate(VA, 16 * MiB, 1, &res), 0);
		CU_ASSERT_EQUAL(location(VA + MiB), 1);
		CU_ASSERT_EQUAL(dev_used(0), 0);
		CU_ASSERT_EQUAL(dev_used(1), 16 * MiB);
		CU_ASSERT_EQUAL(populate(VA, 16 * MiB, LOC_HOST, &res), 0);
		CU_ASSERT_EQUAL(location(VA + MiB), LOC_HOST);
		CU_ASSERT_EQUAL(check_pattern(VA, 16 * MiB, 4), 0);
	}
	CU_ASSERT_EQUAL(atomic_load(&cl.core.stats.bytes_device_to_device), 5 * 16 * MiB);
	CU_ASSERT_EQUAL(atomic_load(&cl.core.stats.bytes_to_device), 5 * 16 * MiB);
	fake_client_fini(&cl);
}

static void test_timeslice_defers_cpu_fault(void)
{
	struct core_config cfg;
	struct migrate_result res;
	uint64_t retry_at = 0, t0;

	fake_small_config(&cfg, 64 * MiB);
	cfg.timeslice_ms = 5;
	CU_ASSERT_FATAL(fake_client_init(&cl, &cfg, VA, 2 * MiB) == 0);
	write_pattern(VA, 2 * MiB, 5);
	t0 = cl.fm.now;
	CU_ASSERT_EQUAL(populate(VA, 2 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(migrate_cpu_fault(&cl.core, &cl.svm, VA, &retry_at), -ETIME);
	CU_ASSERT_EQUAL(retry_at, t0 + 5000000ULL);
	CU_ASSERT_EQUAL(location(VA), 0);
	cl.fm.now = retry_at;
	CU_ASSERT_EQUAL(migrate_cpu_fault(&cl.core, &cl.svm, VA, &retry_at), 0);
	CU_ASSERT_EQUAL(location(VA), LOC_HOST);
	CU_ASSERT_EQUAL(check_pattern(VA, 2 * MiB, 5), 0);
	fake_client_fini(&cl);
}

/* Invalidate the range being migrated, once, from inside the migration. */
static void invalidate_once(struct fake_mm *fm, uint64_t addr, uint64_t len)
{
	if (!fm->hook_arg)
		return;
	fm->hook_arg = NULL;
	svm_invalidate(&cl.svm, addr, addr + len);
}

static void test_invalidation_during_copy_retries(void)
{
	struct migrate_result res = { 0 };
	struct migrate_op op;
	struct svm_range *r;
	uint64_t seq;

	CU_ASSERT_FATAL(setup(64 * MiB, 2 * MiB) == 0);
	migrate_op_init(&op, &cl.core, MIGRATE_PREFETCH);
	write_pattern(VA, 2 * MiB, 6);
	cl.fm.on_protect = invalidate_once;
	cl.fm.hook_arg = &cl;
	pthread_mutex_lock(&cl.svm.lock);
	CU_ASSERT_EQUAL(svm_range_find_or_insert(&cl.svm, VA, &r), 0);
	seq = svm_range_seq(&cl.svm, r);
	CU_ASSERT_EQUAL(migrate_to_device(&cl.core, &cl.svm, r, cl.core.dev[0], &op), -EAGAIN);
	/* Backed out: data on host, device memory returned, protection gone. */
	CU_ASSERT_PTR_NULL(r->dm);
	CU_ASSERT_NOT_EQUAL(svm_range_seq(&cl.svm, r), seq);
	pthread_mutex_unlock(&cl.svm.lock);
	CU_ASSERT_EQUAL(dev_used(0), 0);
	CU_ASSERT_EQUAL(cl.fm.wp_depth, 0);
	CU_ASSERT_TRUE(fake_present(&cl.fm, VA));
	/* The retry succeeds. */
	CU_ASSERT_EQUAL(populate(VA, 2 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(location(VA), 0);
	CU_ASSERT_EQUAL(check_pattern(VA, 2 * MiB, 6), 0);
	fake_client_fini(&cl);
}

static void test_install_eagain_keeps_data(void)
{
	struct migrate_result res;
	uint64_t retry_at;

	CU_ASSERT_FATAL(setup(64 * MiB, 2 * MiB) == 0);
	write_pattern(VA, 2 * MiB, 7);
	CU_ASSERT_EQUAL(populate(VA, 2 * MiB, 0, &res), 0);
	cl.fm.install_eagain = 1;
	CU_ASSERT_EQUAL(migrate_cpu_fault(&cl.core, &cl.svm, VA, &retry_at), -EAGAIN);
	CU_ASSERT_EQUAL(location(VA), 0);
	CU_ASSERT_EQUAL(check_pattern(VA, 2 * MiB, 7), 0);
	fake_client_fini(&cl);
}

static void unmap(uint64_t addr, uint64_t len)
{
	fake_unmap(&cl.fm, addr, len);
	CU_ASSERT_EQUAL(migrate_unregister(&cl.core, &cl.svm, addr, len), 0);
}

static void test_partial_unmap_start_middle_end(void)
{
	static const uint64_t cuts[3][2] = {
		{ 0, 512 * KiB }, { 768 * KiB, 256 * KiB }, { 1536 * KiB, 512 * KiB },
	};
	struct migrate_result res;
	int i;

	for (i = 0; i < 3; i++) {
		uint64_t cs = VA + cuts[i][0], ce = cs + cuts[i][1];

		CU_ASSERT_FATAL(setup(64 * MiB, 2 * MiB) == 0);
		write_pattern(VA, 2 * MiB, 8);
		CU_ASSERT_EQUAL(populate(VA, 2 * MiB, 0, &res), 0);
		CU_ASSERT_EQUAL(dev_used(0), 2 * MiB);
		unmap(cs, ce - cs);
		/* The whole range is gone, its device memory freed ... */
		CU_ASSERT_EQUAL(dev_used(0), 0);
		CU_ASSERT_EQUAL(cl.svm.nranges, 0);
		/* ... and the part still mapped came home intact. */
		CU_ASSERT_TRUE(fake_present(&cl.fm, cs == VA ? ce : VA));
		if (cs > VA)
			CU_ASSERT_EQUAL(check_pattern(VA, cs - VA, 8), 0);
		if (ce < VA + 2 * MiB)
			CU_ASSERT_EQUAL(check_pattern(ce, VA + 2 * MiB - ce, 8), 0);
		CU_ASSERT_EQUAL(svm_check_registered(&cl.svm, cs, 4096), -EFAULT);
		fake_client_fini(&cl);
	}
}

static void test_full_unmap_frees_device_memory(void)
{
	struct migrate_result res;
	unsigned long installs;

	CU_ASSERT_FATAL(setup(64 * MiB, 8 * MiB) == 0);
	write_pattern(VA, 8 * MiB, 9);
	CU_ASSERT_EQUAL(populate(VA, 8 * MiB, 1, &res), 0);
	installs = cl.fm.installs;
	unmap(VA, 8 * MiB);
	CU_ASSERT_EQUAL(dev_used(1), 0);
	CU_ASSERT_EQUAL(cl.svm.nranges, 0);
	CU_ASSERT_EQUAL(cl.svm.nnotifiers, 0);
	CU_ASSERT_EQUAL(cl.fm.installs, installs);
	pthread_mutex_lock(&cl.svm.lock);
	CU_ASSERT_EQUAL(svm_bo_remove(&cl.svm, 1), 0);
	pthread_mutex_unlock(&cl.svm.lock);
	fake_client_fini(&cl);
}

static void test_unbind_evacuates_and_rebind(void)
{
	struct migrate_result res;
	uint64_t sum = 0;

	CU_ASSERT_FATAL(setup(64 * MiB, 8 * MiB) == 0);
	write_pattern(VA, 8 * MiB, 10);
	CU_ASSERT_EQUAL(populate(VA, 8 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(pagemap_unbind(cl.core.dev[0]), 0);
	CU_ASSERT_EQUAL(pagemap_unbind(cl.core.dev[0]), -EALREADY);
	CU_ASSERT_EQUAL(migrate_evacuate_device(&cl.core, cl.core.dev[0]), 0);
	CU_ASSERT_EQUAL(dev_used(0), 0);
	CU_ASSERT_EQUAL(location(VA), LOC_HOST);
	CU_ASSERT_TRUE(fake_present(&cl.fm, VA + 7 * MiB));
	CU_ASSERT_EQUAL(populate(VA, 8 * MiB, 0, &res), -ENODEV);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 0, DEVOP_CHECKSUM, VA, 4096, 0, &sum),
			-ENODEV);
	CU_ASSERT_EQUAL(check_pattern(VA, 8 * MiB, 10), 0);
	CU_ASSERT_EQUAL(pagemap_rebind(cl.core.dev[0]), 0);
	CU_ASSERT_EQUAL(populate(VA, 8 * MiB, 0, &res), 0);
	CU_ASSERT_EQUAL(location(VA), 0);
	CU_ASSERT_EQUAL(check_pattern(VA, 8 * MiB, 10), 0);
	fake_client_fini(&cl);
}

static void test_copy_failure_keeps_host_data(void)
{
	struct migrate_result res;

	CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
	write_pattern(VA, 4 * MiB, 11);
	sim_fail_copy_after(cl.core.dev[0]->pool, 1);
	CU_ASSERT_EQUAL(populate(VA, 4 * MiB, 0, &res), -EIO);
	CU_ASSERT_EQUAL(res.failed, 2 * MiB);
	CU_ASSERT_EQUAL(res.migrated, 2 * MiB);
	CU_ASSERT_EQUAL(location(VA), LOC_HOST);
	CU_ASSERT_TRUE(fake_present(&cl.fm, VA));
	CU_ASSERT_EQUAL(location(VA + 2 * MiB), 0);
	CU_ASSERT_EQUAL(dev_used(0), 2 * MiB);
	CU_ASSERT_EQUAL(cl.fm.wp_depth, 0);
	CU_ASSERT_EQUAL(check_pattern(VA, 4 * MiB, 11), 0);
	fake_client_fini(&cl);
}

static uint64_t fnv(const uint8_t *p, uint64_t len)
{
	uint64_t h = DEVOP_FNV_OFFSET, i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= DEVOP_FNV_PRIME;
	}
	return h;
}

static void test_devop_fill_checksum_add(void)
{
	uint64_t len = 3 * MiB + 12 * KiB, sum = 0, i, v;
	uint8_t *ref = malloc(len), *got = malloc(len);

	CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
	/* Data on host; op on device 0: first touch migrates it there. */
	write_pattern(VA, 4 * MiB, 12);
	CU_ASSERT_EQUAL(fake_access(&cl.fm, &cl.core, &cl.svm, VA + 4 * KiB, ref, len, false), 0);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 0, DEVOP_CHECKSUM, VA + 4 * KiB, len, 0,
				  &sum), 0);
	CU_ASSERT_EQUAL(sum, fnv(ref, len));
	CU_ASSERT_EQUAL(location(VA + MiB), 0);
	CU_ASSERT(atomic_load(&cl.core.stats.device_faults) > 0);
	/* Same device: runs where it is. */
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 0, DEVOP_ADD, VA + 4 * KiB, len, 3, NULL), 0);
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&v, ref + i, 8);
		v += 3;
		memcpy(ref + i, &v, 8);
	}
	/* The other device: peer migration, then fill part of it. */
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 1, DEVOP_FILL, VA + MiB, 8 * KiB, 0x5a,
				  NULL), 0);
	memset(ref + MiB - 4 * KiB, 0x5a, 8 * KiB);
	CU_ASSERT_EQUAL(location(VA + MiB), 1);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 1, DEVOP_CHECKSUM, VA + 4 * KiB, len, 0,
				  &sum), 0);
	CU_ASSERT_EQUAL(sum, fnv(ref, len));
	/* The CPU sees the devices' writes. */
	CU_ASSERT_EQUAL(fake_access(&cl.fm, &cl.core, &cl.svm, VA + 4 * KiB, got, len, false), 0);
	CU_ASSERT_EQUAL(memcmp(got, ref, len), 0);
	fake_client_fini(&cl);
	free(ref);
	free(got);
}

static void test_devop_on_full_device_runs_remote(void)
{
	uint64_t sum = 0;
	uint8_t *ref = malloc(4 * MiB);

	CU_ASSERT_FATAL(setup(2 * MiB, 4 * MiB) == 0);
	write_pattern(VA, 4 * MiB, 13);
	CU_ASSERT_EQUAL(fake_access(&cl.fm, &cl.core, &cl.svm, VA, ref, 4 * MiB, false), 0);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 0, DEVOP_CHECKSUM, VA, 4 * MiB, 0, &sum), 0);
	CU_ASSERT_EQUAL(sum, fnv(ref, 4 * MiB));
	CU_ASSERT_EQUAL(location(VA), 0);
	CU_ASSERT_EQUAL(location(VA + 2 * MiB), LOC_HOST);
	fake_client_fini(&cl);
	free(ref);
}

static void set_read_mostly(struct vamap_attrs *attrs, void *arg)
{
	(void)arg;
	attrs->read_mostly = true;
}

static void test_zero_fill_never_hides_device_data(void)
{
	struct migrate_result res;
	uint8_t buf[4096];

	CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
	write_pattern(VA + 2 * MiB, 64 * KiB, 14);
	/* Advice splits the mapping so the device range there is 64 KiB. */
	pthread_mutex_lock(&cl.svm.lock);
	CU_ASSERT_EQUAL(vamap_update_attrs(&cl.svm.va, VA + 2 * MiB, 64 * KiB, set_read_mostly,
					   NULL), 0);
	pthread_mutex_unlock(&cl.svm.lock);
	CU_ASSERT_EQUAL(populate(VA + 2 * MiB, 64 * KiB, 0, &res), 0);
	CU_ASSERT_EQUAL(cl.svm.nranges, 1);
	CU_ASSERT_EQUAL(location(VA + 2 * MiB), 0);
	/* A never-written page next to it reads as zeros ... */
	CU_ASSERT_EQUAL(fake_access(&cl.fm, &cl.core, &cl.svm, VA + 3 * MiB, buf, 4096, false), 0);
	CU_ASSERT_EQUAL(buf[0], 0);
	CU_ASSERT_EQUAL(buf[4095], 0);
	/* ... and the device data was not replaced by zeros. */
	CU_ASSERT_EQUAL(location(VA + 2 * MiB), 0);
	CU_ASSERT_FALSE(fake_present(&cl.fm, VA + 2 * MiB));
	CU_ASSERT_EQUAL(check_pattern(VA + 2 * MiB, 64 * KiB, 14), 0);
	fake_client_fini(&cl);
}

static void test_bad_input(void)
{
	struct migrate_result res;
	uint64_t sum;

	CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
	CU_ASSERT_EQUAL(populate(VA, 0, 0, &res), -EINVAL);
	CU_ASSERT_EQUAL(populate(UINT64_MAX - 10, 100, 0, &res), -EINVAL);
	CU_ASSERT_EQUAL(populate(VA - 4096, 8192, 0, &res), -EFAULT);
	CU_ASSERT_EQUAL(populate(VA + 4 * MiB, 4096, 0, &res), -EFAULT);
	CU_ASSERT_EQUAL(populate(VA, 4096, 2, &res), -ENODEV);
	CU_ASSERT_EQUAL(populate(VA, 4096, -7, &res), -ENODEV);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 0, DEVOP_NR, VA, 4096, 0, &sum), -EINVAL);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 0, DEVOP_ADD, VA + 4, 16, 0, &sum), -EINVAL);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 0, DEVOP_ADD, VA, 12, 0, &sum), -EINVAL);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 0, DEVOP_FILL, VA, 0, 0, &sum), -EINVAL);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 5, DEVOP_FILL, VA, 4096, 0, &sum), -ENODEV);
	CU_ASSERT_EQUAL(devop_run(&cl.core, &cl.svm, 0, DEVOP_FILL, VA + 4 * MiB - 4096, 8192, 0,
				  &sum), -EFAULT);
	CU_ASSERT_EQUAL(migrate_unregister(&cl.core, &cl.svm, VA, 0), -EINVAL);
	CU_ASSERT_EQUAL(dev_used(0), 0);
	fake_client_fini(&cl);
}

static void test_alloc_failure_injection(void)
{
	struct migrate_result res;
	unsigned long n;
	int err;

	for (n = 1;; n++) {
		CU_ASSERT_FATAL(setup(64 * MiB, 4 * MiB) == 0);
		write_pattern(VA, 4 * MiB, 15);
		mem_fail_nth(n);
		err = populate(VA, 4 * MiB, 0, &res);
		if (!mem_failed()) {
			mem_fail_nth(0);
			CU_ASSERT_EQUAL(err, 0);
			CU_ASSERT_EQUAL(check_pattern(VA, 4 * MiB, 15), 0);
			fake_client_fini(&cl);
			break;
		}
		mem_fail_nth(0);
		CU_ASSERT_NOT_EQUAL(err, 0);
		/* Whatever did not move is still intact on host. */
		CU_ASSERT_EQUAL(check_pattern(VA, 4 * MiB, 15), 0);
		CU_ASSERT_EQUAL(cl.fm.wp_depth, 0);
		fake_client_fini(&cl);
	}
	CU_ASSERT(n > 1);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_populate_round_trip),
		CU_TEST_ENTRY(test_populate_best_effort_in_place),
		CU_TEST_ENTRY(test_populate_device_full_partial),
		CU_TEST_ENTRY(test_peer_migration),
		CU_TEST_ENTRY(test_timeslice_defers_cpu_fault),
		CU_TEST_ENTRY(test_invalidation_during_copy_retries),
		CU_TEST_ENTRY(test_install_eagain_keeps_data),
		CU_TEST_ENTRY(test_partial_unmap_start_middle_end),
		CU_TEST_ENTRY(test_full_unmap_frees_device_memory),
		CU_TEST_ENTRY(test_unbind_evacuates_and_rebind),
		CU_TEST_ENTRY(test_copy_failure_keeps_host_data),
		CU_TEST_ENTRY(test_devop_fill_checksum_add),
		CU_TEST_ENTRY(test_devop_on_full_device_runs_remote),
		CU_TEST_ENTRY(test_zero_fill_never_hides_device_data),
		CU_TEST_ENTRY(test_bad_input),
		CU_TEST_ENTRY(test_alloc_failure_injection),
		{ NULL, NULL },
	};

	return cu_run("migrate", tests);
}
