// SPDX-License-Identifier: MIT
/*
 * The SVM range tracker on its own: registrations, chunk selection,
 * notifiers, sequence numbers, unmap invalidation and the garbage-collector
 * queue, busy ranges, the host window, a randomized check against a
 * brute-force model, and allocation-failure injection.
 *
 * Most tests drive svm.c directly with fake_mm_ops; the host-window test
 * uses a fake client so that device pages come from a real migration.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"
#include "fake_mm.h"
#include "mem.h"
#include "migrate.h"
#include "svm.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define PG SVM_PAGE_SIZE
/* 2 MiB aligned; far from everything else. */
#define VA (1 * GiB)

/* svm.c only does pointer arithmetic on a backing object's host pointer. */
static char host_dummy[PG];

/**
 * struct tsvm - An svm driven directly, with a fake shim to count idles
 * @svm: The range tracker
 * @fm: The fake address space (only its counters are used)
 */
struct tsvm {
	struct svm svm;
	struct fake_mm fm;
};

static struct tsvm ts;

static int tsvm_init(const struct svm_config *cfg)
{
	struct svm_config def;

	if (!cfg) {
		svm_config_default(&def);
		cfg = &def;
	}
	fake_mm_init(&ts.fm);
	return svm_init(&ts.svm, cfg, &fake_mm_ops, &ts.fm);
}

static void tsvm_fini(void)
{
	svm_fini(&ts.svm);
	fake_mm_fini(&ts.fm);
}

/* Add object @id of @len bytes and map it whole at @start. */
static int add_reg(uint64_t id, uint64_t start, uint64_t len)
{
	int err;

	pthread_mutex_lock(&ts.svm.lock);
	err = svm_bo_add(&ts.svm, id, len, host_dummy, NULL);
	if (!err)
		err = svm_register(&ts.svm, start, len, id, 0);
	pthread_mutex_unlock(&ts.svm.lock);
	return err;
}

static int fault(uint64_t addr, struct svm_range **r)
{
	int err;

	pthread_mutex_lock(&ts.svm.lock);
	err = svm_range_find_or_insert(&ts.svm, addr, r);
	pthread_mutex_unlock(&ts.svm.lock);
	return err;
}

/* Fault at @addr and return the range, or NULL on error. */
static struct svm_range *fault_ok(uint64_t addr)
{
	struct svm_range *r = NULL;

	CU_ASSERT_EQUAL(fault(addr, &r), 0);
	return r;
}

static void set_read_mostly(struct vamap_attrs *attrs, void *arg)
{
	attrs->read_mostly = arg != NULL;
}

/* Advise [@start, @start + @len) read-mostly (@on) or not, on @svm's VA map. */
static int advise(struct svm *svm, uint64_t start, uint64_t len, bool on)
{
	int err;

	pthread_mutex_lock(&svm->lock);
	err = vamap_update_attrs(&svm->va, start, len, set_read_mostly, on ? svm : NULL);
	pthread_mutex_unlock(&svm->lock);
	return err;
}

static bool range_is(const struct svm_range *r, uint64_t start, uint64_t size)
{
	return r && r->start == start && r->end == start + size;
}

/* ------------------------------------------------------------------------ */

static void test_config_validate(void)
{
	struct svm_config cfg, bad;

	svm_config_default(&cfg);
	CU_ASSERT_EQUAL(svm_config_validate(&cfg), 0);
	CU_ASSERT_EQUAL(cfg.notifier_size, 512 * MiB);
	CU_ASSERT_EQUAL(cfg.nchunks, 3);
	CU_ASSERT_EQUAL(cfg.chunk_sizes[0], 2 * MiB);
	CU_ASSERT_EQUAL(cfg.chunk_sizes[1], 64 * KiB);
	CU_ASSERT_EQUAL(cfg.chunk_sizes[2], 4 * KiB);
	CU_ASSERT_EQUAL(svm_config_validate(NULL), -EINVAL);

	bad = cfg;
	bad.notifier_size = 3 * 512 * MiB;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);
	bad.notifier_size = 0;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);
	bad.notifier_size = 2048;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);

	bad = cfg;
	bad.chunk_sizes[1] = 48 * KiB;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);
	bad.chunk_sizes[1] = 0;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);

	/* Not strictly decreasing: equal, then increasing. */
	bad = cfg;
	bad.chunk_sizes[1] = 2 * MiB;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);
	bad.chunk_sizes[0] = 64 * KiB;
	bad.chunk_sizes[1] = 2 * MiB;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);

	bad = cfg;
	bad.notifier_size = 1 * MiB;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);
	bad.chunk_sizes[0] = 1 * MiB;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), 0);

	bad = cfg;
	bad.chunk_sizes[2] = 8 * KiB;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);
	bad.nchunks = 2;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);

	bad = cfg;
	bad.nchunks = 0;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);
	bad.nchunks = SVM_MAX_CHUNKS + 1;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), -EINVAL);

	/* The extremes that are fine: one page-sized chunk; all 8 slots. */
	memset(&bad, 0, sizeof(bad));
	bad.notifier_size = PG;
	bad.chunk_sizes[0] = PG;
	bad.nchunks = 1;
	CU_ASSERT_EQUAL(svm_config_validate(&bad), 0);
	bad.notifier_size = 512 * MiB;
	for (bad.nchunks = 0; bad.nchunks < SVM_MAX_CHUNKS; bad.nchunks++)
		bad.chunk_sizes[bad.nchunks] = PG << (2 * (SVM_MAX_CHUNKS - 1 - bad.nchunks));
	CU_ASSERT_EQUAL(svm_config_validate(&bad), 0);
}

static void test_init_bad_input(void)
{
	struct svm_mm_ops ops = fake_mm_ops;
	struct svm_config cfg;
	struct svm svm;

	svm_config_default(&cfg);
	CU_ASSERT_EQUAL(svm_init(&svm, &cfg, NULL, NULL), -EINVAL);
	ops.install = NULL;
	CU_ASSERT_EQUAL(svm_init(&svm, &cfg, &ops, NULL), -EINVAL);
	cfg.nchunks = 0;
	CU_ASSERT_EQUAL(svm_init(&svm, &cfg, &fake_mm_ops, NULL), -EINVAL);
	/* range_idle is optional. */
	svm_config_default(&cfg);
	ops = fake_mm_ops;
	ops.range_idle = NULL;
	CU_ASSERT_FATAL(svm_init(&svm, &cfg, &ops, NULL) == 0);
	svm_fini(&svm);
}

static void test_bo_add_find_remove(void)
{
	struct svm *svm = &ts.svm;
	struct svm_range *r;
	struct svm_bo *bo;

	CU_ASSERT_FATAL(tsvm_init(NULL) == 0);
	pthread_mutex_lock(&svm->lock);
	CU_ASSERT_EQUAL(svm_bo_add(svm, 0, 4 * MiB, host_dummy, NULL), -EINVAL);
	CU_ASSERT_EQUAL(svm_bo_add(svm, 1, 0, host_dummy, NULL), -EINVAL);
	CU_ASSERT_EQUAL(svm_bo_add(svm, 1, 4 * MiB + 100, host_dummy, NULL), -EINVAL);
	CU_ASSERT_EQUAL(svm_bo_add(svm, 1, 4 * MiB, NULL, NULL), -EINVAL);
	CU_ASSERT_PTR_NULL(svm_bo_find(svm, 1));
	CU_ASSERT_EQUAL(svm_bo_add(svm, 1, 4 * MiB, host_dummy, &ts), 0);
	CU_ASSERT_EQUAL(svm_bo_add(svm, 1, 8 * MiB, host_dummy, NULL), -EEXIST);
	CU_ASSERT_EQUAL(svm_bo_add(svm, 2, 8 * MiB, host_dummy, NULL), 0);
	bo = svm_bo_find(svm, 1);
	CU_ASSERT_FATAL(bo != NULL);
	CU_ASSERT_EQUAL(bo->id, 1);
	CU_ASSERT_EQUAL(bo->size, 4 * MiB);
	CU_ASSERT_PTR_EQUAL(bo->host, host_dummy);
	CU_ASSERT_PTR_EQUAL(bo->priv, &ts);
	CU_ASSERT_EQUAL(bo->nranges, 0);
	CU_ASSERT_PTR_NULL(svm_bo_find(svm, 3));
	CU_ASSERT_EQUAL(svm_bo_remove(svm, 3), -ENOENT);

	/* Mapped: busy. */
	CU_ASSERT_EQUAL(svm_register(svm, VA, 4 * MiB, 1, 0), 0);
	CU_ASSERT_TRUE(svm_bo_mapped(svm, 1));
	CU_ASSERT_FALSE(svm_bo_mapped(svm, 2));
	CU_ASSERT_EQUAL(svm_bo_remove(svm, 1), -EBUSY);
	/* Unmapped but a range still uses it: busy. */
	CU_ASSERT_EQUAL(svm_range_find_or_insert(svm, VA, &r), 0);
	CU_ASSERT_EQUAL(bo->nranges, 1);
	CU_ASSERT_EQUAL(vamap_unmap(&svm->va, VA, 4 * MiB), 0);
	CU_ASSERT_FALSE(svm_bo_mapped(svm, 1));
	CU_ASSERT_EQUAL(svm_bo_remove(svm, 1), -EBUSY);
	svm_range_remove(svm, r);
	CU_ASSERT_EQUAL(bo->nranges, 0);
	CU_ASSERT_EQUAL(svm_bo_remove(svm, 1), 0);
	CU_ASSERT_PTR_NULL(svm_bo_find(svm, 1));
	CU_ASSERT_EQUAL(svm_bo_remove(svm, 1), -ENOENT);
	CU_ASSERT_EQUAL(svm_bo_remove(svm, 2), 0);
	pthread_mutex_unlock(&svm->lock);
	tsvm_fini();
}

static void test_register_bad_input(void)
{
	struct svm *svm = &ts.svm;
	struct svm_range *r;

	CU_ASSERT_FATAL(tsvm_init(NULL) == 0);
	pthread_mutex_lock(&svm->lock);
	CU_ASSERT_EQUAL(svm_bo_add(svm, 1, 4 * MiB, host_dummy, NULL), 0);
	CU_ASSERT_EQUAL(svm_register(svm, VA, 0, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(svm_register(svm, VA + 8, MiB, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(svm_register(svm, VA, MiB + 512, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(svm_register(svm, VA, MiB, 1, 100), -EINVAL);
	CU_ASSERT_EQUAL(svm_register(svm, UINT64_MAX - PG + 1, 2 * PG, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(svm_register(svm, VA, MiB, 7, 0), -EINVAL);
	CU_ASSERT_EQUAL(svm_register(svm, VA, MiB, 0, 0), -EINVAL);
	/* Past the object's end, by length or by offset. */
	CU_ASSERT_EQUAL(svm_register(svm, VA, 4 * MiB + PG, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(svm_register(svm, VA, 4 * MiB, 1, PG), -EINVAL);
	CU_ASSERT_EQUAL(svm_register(svm, VA, PG, 1, 4 * MiB), -EINVAL);
	CU_ASSERT_EQUAL(svm_register(svm, VA, PG, 1, 8 * MiB), -EINVAL);
	/* Outside the address space the map accepts. */
	CU_ASSERT_EQUAL(svm_register(svm, 0, PG, 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(svm_register(svm, 1ULL << 57, PG, 1, 0), -EINVAL);
	CU_ASSERT_PTR_NULL(vamap_first(&svm->va, 0, UINT64_MAX));

	/* The whole object at VA; then overlaps of every kind. */
	CU_ASSERT_EQUAL(svm_register(svm, VA, 2 * MiB, 1, 0), 0);
	CU_ASSERT_EQUAL(svm_register(svm, VA, 2 * MiB, 1, 0), -EEXIST);
	CU_ASSERT_EQUAL(svm_register(svm, VA - PG, 2 * PG, 1, 2 * MiB), -EEXIST);
	CU_ASSERT_EQUAL(svm_register(svm, VA + 2 * MiB - PG, 2 * PG, 1, 2 * MiB), -EEXIST);
	CU_ASSERT_EQUAL(svm_register(svm, VA + MiB, PG, 1, 2 * MiB), -EEXIST);
	CU_ASSERT_EQUAL(svm_register(svm, VA - MiB, 4 * MiB, 1, 0), -EEXIST);
	/* Adjacent is fine, also from the same object. */
	CU_ASSERT_EQUAL(svm_register(svm, VA + 2 * MiB, 2 * MiB, 1, 2 * MiB), 0);

	/* A removed registration whose range still waits for collection. */
	CU_ASSERT_EQUAL(svm_range_find_or_insert(svm, VA + 3 * MiB, &r), 0);
	pthread_mutex_unlock(&svm->lock);
	svm_invalidate_unmap(svm, VA + 2 * MiB, VA + 4 * MiB);
	pthread_mutex_lock(&svm->lock);
	CU_ASSERT_EQUAL(vamap_unmap(&svm->va, VA + 2 * MiB, 2 * MiB), 0);
	CU_ASSERT_EQUAL(svm_register(svm, VA + 2 * MiB, 2 * MiB, 1, 2 * MiB), -EBUSY);
	CU_ASSERT_PTR_EQUAL(svm_gc_next(svm), r);
	svm_range_remove(svm, r);
	CU_ASSERT_EQUAL(svm_register(svm, VA + 2 * MiB, 2 * MiB, 1, 2 * MiB), 0);
	pthread_mutex_unlock(&svm->lock);
	tsvm_fini();
}

static void test_check_registered(void)
{
	struct svm *svm = &ts.svm;

	CU_ASSERT_FATAL(tsvm_init(NULL) == 0);
	CU_ASSERT_EQUAL(add_reg(1, VA, MiB), 0);
	CU_ASSERT_EQUAL(add_reg(2, VA + 2 * MiB, MiB), 0);
	pthread_mutex_lock(&svm->lock);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA, MiB), 0);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA + 5, 100), 0);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA + MiB - 1, 1), 0);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA + 2 * MiB + 4096, MiB - 4096), 0);
	/* Across the hole between the two. */
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA + MiB / 2, 2 * MiB), -EFAULT);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA, 3 * MiB), -EFAULT);
	/* Sticking out of one end or the other. */
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA - 1, 2), -EFAULT);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA + MiB - 1, 2), -EFAULT);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA + 3 * MiB - 1, 2), -EFAULT);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA + MiB, PG), -EFAULT);
	CU_ASSERT_EQUAL(svm_check_registered(svm, 8 * GiB, PG), -EFAULT);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA, 0), -EINVAL);
	CU_ASSERT_EQUAL(svm_check_registered(svm, UINT64_MAX - 10, 100), -EINVAL);
	pthread_mutex_unlock(&svm->lock);
	/* Filling the hole makes the span registered. */
	CU_ASSERT_EQUAL(add_reg(3, VA + MiB, MiB), 0);
	pthread_mutex_lock(&svm->lock);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA + MiB / 2, 2 * MiB), 0);
	CU_ASSERT_EQUAL(svm_check_registered(svm, VA, 3 * MiB), 0);
	pthread_mutex_unlock(&svm->lock);
	tsvm_fini();
}

/* ------------------------------------------------------------------------ */

static void test_chunk_2m_in_aligned_allocation(void)
{
	struct svm_range *r, *r2;

	CU_ASSERT_FATAL(tsvm_init(NULL) == 0);
	CU_ASSERT_EQUAL(add_reg(1, VA, 4 * MiB), 0);
	r = fault_ok(VA + 3 * MiB + 5);
	CU_ASSERT_TRUE(range_is(r, VA + 2 * MiB, 2 * MiB));
	CU_ASSERT_PTR_EQUAL(r->bo, svm_bo_find(&ts.svm, 1));
	CU_ASSERT_EQUAL(r->obj_offset, 2 * MiB);
	CU_ASSERT_EQUAL(r->bo->nranges, 1);
	CU_ASSERT_EQUAL(r->ndev, 0);
	CU_ASSERT_PTR_NULL(r->dm);
	CU_ASSERT_EQUAL(r->flags, 0);
	CU_ASSERT_FALSE(r->busy);
	CU_ASSERT_EQUAL(svm_range_npages(r), 512);
	CU_ASSERT_EQUAL((uintptr_t)svm_range_host(&ts.svm, r, VA + 2 * MiB + 8),
			(uintptr_t)host_dummy + 2 * MiB + 8);
	/* A second fault anywhere inside gives the same range. */
	CU_ASSERT_PTR_EQUAL(fault_ok(VA + 2 * MiB), r);
	CU_ASSERT_PTR_EQUAL(fault_ok(VA + 4 * MiB - 1), r);
	r2 = fault_ok(VA);
	CU_ASSERT_TRUE(range_is(r2, VA, 2 * MiB));
	CU_ASSERT_EQUAL(r2->obj_offset, 0);
	CU_ASSERT_EQUAL(ts.svm.nranges, 2);
	CU_ASSERT_EQUAL(ts.svm.nnotifiers, 1);
	tsvm_fini();
}

static void test_chunk_64k_and_4k_edges(void)
{
	/* 64 KiB aligned but not 2 MiB aligned; 4 KiB aligned only. */
	uint64_t a = VA + 64 * KiB, b = VA + 8 * MiB + 4 * KiB;
	struct svm_range *r;

	CU_ASSERT_FATAL(tsvm_init(NULL) == 0);
	CU_ASSERT_EQUAL(add_reg(1, a, 2 * MiB), 0);
	CU_ASSERT_EQUAL(add_reg(2, b, 2 * MiB), 0);

	/* No 2 MiB block fits in a: every range is 64 KiB. */
	CU_ASSERT_TRUE(range_is(fault_ok(a), a, 64 * KiB));
	CU_ASSERT_TRUE(range_is(fault_ok(a + MiB + 3), VA + MiB + 64 * KiB, 64 * KiB));
	r = fault_ok(a + 2 * MiB - 1);
	CU_ASSERT_TRUE(range_is(r, VA + 2 * MiB, 64 * KiB));
	CU_ASSERT_EQUAL(r->obj_offset, 2 * MiB - 64 * KiB);

	/* b's first 15 pages and last page are 4 KiB-only edges. */
	r = fault_ok(b);
	CU_ASSERT_TRUE(range_is(r, b, PG));
	CU_ASSERT_EQUAL(r->obj_offset, 0);
	CU_ASSERT_TRUE(range_is(fault_ok(b + 14 * PG), b + 14 * PG, PG));
	r = fault_ok(b + 15 * PG);
	CU_ASSERT_TRUE(range_is(r, VA + 8 * MiB + 64 * KiB, 64 * KiB));
	CU_ASSERT_EQUAL(r->obj_offset, 60 * KiB);
	CU_ASSERT_TRUE(range_is(fault_ok(b + 2 * MiB - 1), VA + 10 * MiB, PG));
	CU_ASSERT_TRUE(
		range_is(fault_ok(b + 2 * MiB - PG - 1), VA + 10 * MiB - 64 * KiB, 64 * KiB));
	CU_ASSERT_EQUAL(ts.svm.nranges, 8);
	tsvm_fini();
}

static void test_chunk_blocked_by_existing_range(void)
{
	struct svm *svm = &ts.svm;
	struct vamap_mapping *va;
	struct svm_range *old, *r;

	CU_ASSERT_FATAL(tsvm_init(NULL) == 0);
	CU_ASSERT_EQUAL(add_reg(1, VA, 4 * MiB), 0);
	/* Advice splits the mapping: the range made inside it is 64 KiB. */
	CU_ASSERT_EQUAL(advise(svm, VA + 64 * KiB, 64 * KiB, true), 0);
	old = fault_ok(VA + 64 * KiB + 5 * PG);
	CU_ASSERT_TRUE(range_is(old, VA + 64 * KiB, 64 * KiB));
	/* Undo the advice: one mapping again. */
	CU_ASSERT_EQUAL(advise(svm, VA + 64 * KiB, 64 * KiB, false), 0);
	pthread_mutex_lock(&svm->lock);
	va = vamap_find(&svm->va, VA);
	CU_ASSERT_FATAL(va != NULL);
	CU_ASSERT_EQUAL(va->start, VA);
	CU_ASSERT_EQUAL(va->len, 4 * MiB);
	pthread_mutex_unlock(&svm->lock);

	/* Next to it, 2 MiB would fit the mapping but overlaps @old. */
	r = fault_ok(VA);
	CU_ASSERT_FATAL(r != NULL && r != old);
	CU_ASSERT_TRUE(r->end <= old->start || r->start >= old->end);
	CU_ASSERT_TRUE(r->end - r->start < 2 * MiB);
	CU_ASSERT_TRUE(range_is(r, VA, 64 * KiB));
	r = fault_ok(VA + 2 * MiB - PG);
	CU_ASSERT_TRUE(range_is(r, VA + 2 * MiB - 64 * KiB, 64 * KiB));
	r = fault_ok(VA + 128 * KiB);
	CU_ASSERT_TRUE(range_is(r, VA + 128 * KiB, 64 * KiB));
	/* The other 2 MiB block is free. */
	CU_ASSERT_TRUE(range_is(fault_ok(VA + 2 * MiB), VA + 2 * MiB, 2 * MiB));
	CU_ASSERT_PTR_EQUAL(fault_ok(VA + 64 * KiB), old);
	CU_ASSERT_EQUAL(svm->nranges, 5);
	tsvm_fini();
}

static void test_fault_errors(void)
{
	struct svm_range *r = NULL, *r2;

	CU_ASSERT_FATAL(tsvm_init(NULL) == 0);
	CU_ASSERT_EQUAL(add_reg(1, VA, 4 * MiB), 0);
	CU_ASSERT_EQUAL(fault(VA - 1, &r), -EFAULT);
	CU_ASSERT_EQUAL(fault(VA + 4 * MiB, &r), -EFAULT);
	CU_ASSERT_EQUAL(fault(0, &r), -EFAULT);
	CU_ASSERT_EQUAL(fault(UINT64_MAX, &r), -EFAULT);
	CU_ASSERT_EQUAL(ts.svm.nranges, 0);
	CU_ASSERT_EQUAL(ts.svm.nnotifiers, 0);

	r = fault_ok(VA);
	r2 = fault_ok(VA + 2 * MiB);
	svm_invalidate_unmap(&ts.svm, VA + PG, VA + 2 * PG);
	CU_ASSERT_EQUAL(fault(VA + MiB, &r), -EAGAIN);
	CU_ASSERT_EQUAL(fault(VA, &r), -EAGAIN);
	/* The neighbour is not affected. */
	CU_ASSERT_PTR_EQUAL(fault_ok(VA + 3 * MiB), r2);
	CU_ASSERT_EQUAL(ts.svm.nranges, 2);
	tsvm_fini();
}

/* ------------------------------------------------------------------------ */

static void small_notifiers(struct svm_config *cfg)
{
	svm_config_default(cfg);
	cfg->notifier_size = 4 * MiB;
}

static void test_notifiers_and_iteration(void)
{
	static const uint64_t want[] = {
		VA, VA + 2 * MiB, VA + 6 * MiB, VA + 9 * MiB + 64 * KiB, VA + 14 * MiB,
	};
	struct svm *svm = &ts.svm;
	struct svm_range *r, *rs[5];
	struct svm_config cfg;
	unsigned int i;
	uint64_t prev_end = 0;

	small_notifiers(&cfg);
	CU_ASSERT_FATAL(tsvm_init(&cfg) == 0);
	/* One registration over four notifiers, faulted out of order. */
	CU_ASSERT_EQUAL(add_reg(1, VA, 16 * MiB), 0);
	CU_ASSERT_EQUAL(add_reg(2, VA + 9 * MiB + 64 * KiB, 64 * KiB), -EEXIST);
	rs[4] = fault_ok(VA + 15 * MiB);
	rs[1] = fault_ok(VA + 3 * MiB);
	CU_ASSERT_EQUAL(svm->nnotifiers, 2);
	rs[0] = fault_ok(VA + PG);
	CU_ASSERT_EQUAL(svm->nnotifiers, 2);
	rs[2] = fault_ok(VA + 6 * MiB + 5);
	/* Advice shrinks this one to 64 KiB, in the middle of its notifier. */
	CU_ASSERT_EQUAL(advise(svm, VA + 9 * MiB + 64 * KiB, 64 * KiB, true), 0);
	rs[3] = fault_ok(VA + 9 * MiB + 100 * KiB);
	CU_ASSERT_EQUAL(advise(svm, VA + 9 * MiB + 64 * KiB, 64 * KiB, false), 0);
	CU_ASSERT_EQUAL(svm->nranges, 5);
	CU_ASSERT_EQUAL(svm->nnotifiers, 4);
	for (i = 0; i < 5; i++) {
		CU_ASSERT_FATAL(rs[i] != NULL);
		CU_ASSERT_EQUAL(rs[i]->start, want[i]);
		CU_ASSERT_EQUAL(rs[i]->notifier->start, want[i] & ~(4 * MiB - 1));
		CU_ASSERT_EQUAL(rs[i]->notifier->end, rs[i]->notifier->start + 4 * MiB);
	}
	CU_ASSERT_EQUAL(rs[0]->notifier->nranges, 2);
	CU_ASSERT_PTR_EQUAL(rs[0]->notifier, rs[1]->notifier);

	pthread_mutex_lock(&svm->lock);
	/* In address order across notifiers. */
	i = 0;
	for (r = svm_range_first(svm, 0, UINT64_MAX); r; r = svm_range_next(svm, r)) {
		CU_ASSERT_FATAL(i < 5);
		CU_ASSERT_PTR_EQUAL(r, rs[i]);
		CU_ASSERT_TRUE(r->start >= prev_end);
		prev_end = r->end;
		i++;
	}
	CU_ASSERT_EQUAL(i, 5);
	/* First overlapping range of a span, from holes and from inside. */
	CU_ASSERT_PTR_EQUAL(svm_range_first(svm, VA + 4 * MiB, VA + 16 * MiB), rs[2]);
	CU_ASSERT_PTR_EQUAL(svm_range_first(svm, VA + 7 * MiB, VA + 16 * MiB), rs[2]);
	CU_ASSERT_PTR_EQUAL(svm_range_first(svm, VA + 8 * MiB, VA + 16 * MiB), rs[3]);
	CU_ASSERT_PTR_EQUAL(svm_range_first(svm, VA + 3 * MiB, VA + 3 * MiB + 1), rs[1]);
	CU_ASSERT_PTR_NULL(svm_range_first(svm, VA + 8 * MiB, VA + 9 * MiB + 64 * KiB));
	CU_ASSERT_PTR_NULL(svm_range_first(svm, VA + 10 * MiB, VA + 14 * MiB));
	CU_ASSERT_PTR_NULL(svm_range_first(svm, VA + 16 * MiB, UINT64_MAX));
	CU_ASSERT_PTR_NULL(svm_range_first(svm, VA + MiB, VA + MiB));
	/* Lookup by any address inside, none in holes. */
	for (i = 0; i < 5; i++) {
		CU_ASSERT_PTR_EQUAL(svm_range_find(svm, rs[i]->start), rs[i]);
		CU_ASSERT_PTR_EQUAL(svm_range_find(svm, rs[i]->start + 4097), rs[i]);
		CU_ASSERT_PTR_EQUAL(svm_range_find(svm, rs[i]->end - 1), rs[i]);
	}
	CU_ASSERT_PTR_NULL(svm_range_find(svm, VA - 1));
	CU_ASSERT_PTR_NULL(svm_range_find(svm, VA + 4 * MiB));
	CU_ASSERT_PTR_NULL(svm_range_find(svm, VA + 5 * MiB + 5));
	CU_ASSERT_PTR_NULL(svm_range_find(svm, VA + 9 * MiB + 64 * KiB - 1));
	CU_ASSERT_PTR_NULL(svm_range_find(svm, VA + 9 * MiB + 128 * KiB));
	CU_ASSERT_PTR_NULL(svm_range_find(svm, VA + 16 * MiB));

	/* A notifier goes with its last range, not before. */
	svm_range_remove(svm, rs[2]);
	CU_ASSERT_EQUAL(svm->nnotifiers, 3);
	CU_ASSERT_PTR_NULL(svm_range_find(svm, VA + 6 * MiB));
	CU_ASSERT_PTR_EQUAL(svm_range_next(svm, rs[1]), rs[3]);
	svm_range_remove(svm, rs[0]);
	CU_ASSERT_EQUAL(svm->nnotifiers, 3);
	CU_ASSERT_EQUAL(rs[1]->notifier->nranges, 1);
	CU_ASSERT_PTR_EQUAL(svm_range_first(svm, 0, UINT64_MAX), rs[1]);
	svm_range_remove(svm, rs[1]);
	CU_ASSERT_EQUAL(svm->nnotifiers, 2);
	CU_ASSERT_PTR_EQUAL(svm_range_first(svm, 0, UINT64_MAX), rs[3]);
	CU_ASSERT_PTR_EQUAL(svm_range_next(svm, rs[3]), rs[4]);
	CU_ASSERT_PTR_NULL(svm_range_next(svm, rs[4]));
	svm_range_remove(svm, rs[4]);
	svm_range_remove(svm, rs[3]);
	CU_ASSERT_EQUAL(svm->nranges, 0);
	CU_ASSERT_EQUAL(svm->nnotifiers, 0);
	CU_ASSERT_PTR_NULL(svm_range_first(svm, 0, UINT64_MAX));
	CU_ASSERT_EQUAL(svm_bo_find(svm, 1)->nranges, 0);
	pthread_mutex_unlock(&svm->lock);
	/* Faulting again recreates a notifier. */
	CU_ASSERT_TRUE(range_is(fault_ok(VA + 5 * MiB), VA + 4 * MiB, 2 * MiB));
	CU_ASSERT_EQUAL(svm->nnotifiers, 1);
	tsvm_fini();
}

/* ------------------------------------------------------------------------ */

static bool valid(struct svm_range *r, uint64_t seq)
{
	bool ok;

	svm_notifier_lock(&ts.svm);
	ok = svm_range_pages_valid(r, seq);
	svm_notifier_unlock(&ts.svm);
	return ok;
}

static void test_sequence_numbers(void)
{
	struct svm *svm = &ts.svm;
	struct svm_range *a, *b;
	struct svm_config cfg;
	uint64_t sa, sb;

	small_notifiers(&cfg);
	CU_ASSERT_FATAL(tsvm_init(&cfg) == 0);
	CU_ASSERT_EQUAL(add_reg(1, VA, 16 * MiB), 0);
	a = fault_ok(VA);
	b = fault_ok(VA + 8 * MiB);
	CU_ASSERT_FATAL(a && b);
	sa = svm_range_seq(svm, a);
	sb = svm_range_seq(svm, b);
	CU_ASSERT_EQUAL(a->notifier_seq, sa);
	CU_ASSERT_TRUE(valid(a, sa));
	CU_ASSERT_TRUE(valid(b, sb));

	/* Another notifier: a stays valid. */
	svm_invalidate(svm, VA + 8 * MiB + MiB, VA + 8 * MiB + MiB + PG);
	CU_ASSERT_TRUE(valid(a, sa));
	CU_ASSERT_FALSE(valid(b, sb));
	/* Where nothing is tracked: nothing changes. */
	svm_invalidate(svm, VA + 4 * MiB, VA + 8 * MiB);
	svm_invalidate(svm, 64 * GiB, 65 * GiB);
	CU_ASSERT_TRUE(valid(a, sa));
	/* Overlapping a. */
	svm_invalidate(svm, VA + PG, VA + 2 * PG);
	CU_ASSERT_FALSE(valid(a, sa));
	CU_ASSERT_FALSE(a->flags & SVM_RANGE_UNMAPPED);
	sa = svm_range_seq(svm, a);
	sb = svm_range_seq(svm, b);
	CU_ASSERT_TRUE(valid(a, sa));
	/* One event over both notifiers. */
	svm_invalidate(svm, VA, VA + 16 * MiB);
	CU_ASSERT_FALSE(valid(a, sa));
	CU_ASSERT_FALSE(valid(b, sb));
	/* Unmapped: never valid again, even with a fresh number. */
	sa = svm_range_seq(svm, a);
	svm_invalidate_unmap(svm, VA + MiB, VA + MiB + PG);
	CU_ASSERT_FALSE(valid(a, sa));
	sa = svm_range_seq(svm, a);
	CU_ASSERT_FALSE(valid(a, sa));
	CU_ASSERT_EQUAL(a->flags & (SVM_RANGE_UNMAPPED | SVM_RANGE_PARTIAL),
			SVM_RANGE_UNMAPPED | SVM_RANGE_PARTIAL);
	sb = svm_range_seq(svm, b);
	CU_ASSERT_TRUE(valid(b, sb));
	tsvm_fini();
}

static void test_unmap_flags_and_gc(void)
{
	struct svm *svm = &ts.svm;
	struct svm_range *a, *b, *c, *d;

	CU_ASSERT_FATAL(tsvm_init(NULL) == 0);
	CU_ASSERT_EQUAL(add_reg(1, VA, 8 * MiB), 0);
	a = fault_ok(VA);
	b = fault_ok(VA + 2 * MiB);
	c = fault_ok(VA + 4 * MiB);
	d = fault_ok(VA + 6 * MiB);
	CU_ASSERT_FATAL(a && b && c && d);

	/* Exactly a: unmapped, not partial. */
	svm_invalidate_unmap(svm, VA, VA + 2 * MiB);
	CU_ASSERT_EQUAL(a->flags, SVM_RANGE_UNMAPPED | SVM_RANGE_IN_GC);
	CU_ASSERT_EQUAL(b->flags, 0);
	/* Inside b: partial. */
	svm_invalidate_unmap(svm, VA + 2 * MiB + PG, VA + 3 * MiB);
	CU_ASSERT_EQUAL(b->flags, SVM_RANGE_UNMAPPED | SVM_RANGE_PARTIAL | SVM_RANGE_IN_GC);
	/* Straddling c's start (covering b's tail); again over a and b. */
	svm_invalidate_unmap(svm, VA + 4 * MiB - PG, VA + 4 * MiB + PG);
	CU_ASSERT_EQUAL(c->flags, SVM_RANGE_UNMAPPED | SVM_RANGE_PARTIAL | SVM_RANGE_IN_GC);
	svm_invalidate_unmap(svm, VA, VA + 3 * MiB);
	/* Wider than a: still not partial. */
	CU_ASSERT_EQUAL(a->flags, SVM_RANGE_UNMAPPED | SVM_RANGE_IN_GC);
	CU_ASSERT_EQUAL(d->flags, 0);

	pthread_mutex_lock(&svm->lock);
	/* Each once, in queue order; busy ranges are skipped and stay queued. */
	CU_ASSERT_EQUAL(svm_range_begin(svm, b, false), 0);
	CU_ASSERT_PTR_EQUAL(svm_gc_next(svm), a);
	CU_ASSERT_FALSE(a->flags & SVM_RANGE_IN_GC);
	CU_ASSERT_TRUE(a->flags & SVM_RANGE_UNMAPPED);
	CU_ASSERT_PTR_EQUAL(svm_gc_next(svm), c);
	CU_ASSERT_PTR_NULL(svm_gc_next(svm));
	CU_ASSERT_TRUE(b->flags & SVM_RANGE_IN_GC);
	svm_range_end(svm, b);
	CU_ASSERT_PTR_EQUAL(svm_gc_next(svm), b);
	CU_ASSERT_PTR_NULL(svm_gc_next(svm));

	/* Requeue puts back, once. */
	svm_gc_requeue(svm, a);
	svm_gc_requeue(svm, a);
	svm_gc_requeue(svm, c);
	CU_ASSERT_TRUE(a->flags & SVM_RANGE_IN_GC);
	CU_ASSERT_PTR_EQUAL(svm_gc_next(svm), a);
	CU_ASSERT_PTR_EQUAL(svm_gc_next(svm), c);
	CU_ASSERT_PTR_NULL(svm_gc_next(svm));

	/* Removing a queued range takes it off the queue. */
	svm_gc_requeue(svm, b);
	svm_gc_requeue(svm, c);
	svm_range_remove(svm, b);
	CU_ASSERT_PTR_EQUAL(svm_gc_next(svm), c);
	CU_ASSERT_PTR_NULL(svm_gc_next(svm));
	svm_range_remove(svm, a);
	svm_range_remove(svm, c);
	CU_ASSERT_EQUAL(svm->nranges, 1);
	CU_ASSERT_EQUAL(d->flags, 0);
	pthread_mutex_unlock(&svm->lock);
	tsvm_fini();
}

/* ------------------------------------------------------------------------ */

/**
 * struct waiter - A thread that waits for a busy range
 * @r: The range
 * @waiting: Set under the driver lock just before waiting
 * @first: What the waiting svm_range_begin() returned
 * @second: What the retries returned in the end (they wait again after a
 *          spurious wakeup)
 */
struct waiter {
	struct svm_range *r;
	bool waiting;
	int first;
	int second;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&ts.svm.lock);
	w->waiting = true;
	w->first = svm_range_begin(&ts.svm, w->r, true);
	do
		w->second = svm_range_begin(&ts.svm, w->r, true);
	while (w->second == -EAGAIN);
	if (!w->second)
		svm_range_end(&ts.svm, w->r);
	pthread_mutex_unlock(&ts.svm.lock);
	return NULL;
}

static void test_begin_end(void)
{
	struct svm *svm = &ts.svm;
	struct waiter w = { 0 };
	struct svm_range *r;
	pthread_t t;
	bool waiting = false;

	CU_ASSERT_FATAL(tsvm_init(NULL) == 0);
	CU_ASSERT_EQUAL(add_reg(1, VA, 2 * MiB), 0);
	r = fault_ok(VA);
	CU_ASSERT_FATAL(r != NULL);
	pthread_mutex_lock(&svm->lock);
	CU_ASSERT_EQUAL(svm_range_begin(svm, r, false), 0);
	CU_ASSERT_TRUE(r->busy);
	CU_ASSERT_EQUAL(svm_range_begin(svm, r, false), -EBUSY);
	CU_ASSERT_EQUAL(ts.fm.idles, 0);
	svm_range_end(svm, r);
	CU_ASSERT_FALSE(r->busy);
	CU_ASSERT_EQUAL(ts.fm.idles, 1);
	CU_ASSERT_EQUAL(svm_range_begin(svm, r, true), 0);
	pthread_mutex_unlock(&svm->lock);

	/* A waiter wakes up when the owner ends, and looks again. */
	w.r = r;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, waiter_main, &w) == 0);
	while (!waiting) {
		pthread_mutex_lock(&svm->lock);
		waiting = w.waiting;
		pthread_mutex_unlock(&svm->lock);
		if (!waiting)
			sched_yield();
	}
	/* Holding the lock now means the waiter is inside pthread_cond_wait(). */
	pthread_mutex_lock(&svm->lock);
	CU_ASSERT_TRUE(r->busy);
	svm_range_end(svm, r);
	pthread_mutex_unlock(&svm->lock);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(w.first, -EAGAIN);
	CU_ASSERT_EQUAL(w.second, 0);
	CU_ASSERT_FALSE(r->busy);
	CU_ASSERT_EQUAL(ts.fm.idles, 3);
	tsvm_fini();
}

/* ------------------------------------------------------------------------ */

static struct fake_client cl;

static int window(uint64_t addr, uint64_t *s, uint64_t *e)
{
	int err;

	*s = *e = 0;
	pthread_mutex_lock(&cl.svm.lock);
	err = svm_host_window(&cl.svm, addr, s, e);
	pthread_mutex_unlock(&cl.svm.lock);
	return err;
}

#define ASSERT_WINDOW(addr, ws, we)                           \
	do {                                                  \
		uint64_t s_, e_;                              \
		CU_ASSERT_EQUAL(window((addr), &s_, &e_), 0); \
		CU_ASSERT_EQUAL(s_, (ws));                    \
		CU_ASSERT_EQUAL(e_, (we));                    \
	} while (0)

static void test_host_window(void)
{
	const uint64_t base = 64 * MiB, va2 = base + 8 * MiB + 64 * KiB;
	struct migrate_op op;
	struct core_config cfg;
	struct fake_bo *bo2;
	struct svm_range *dev, *r;
	uint8_t buf[64 * KiB];
	uint64_t s, e;
	int i;

	core_config_default(&cfg);
	cfg.dev[0].capacity = cfg.dev[1].capacity = 64 * MiB;
	cfg.timeslice_ms = 0;
	CU_ASSERT_FATAL(fake_client_init(&cl, &cfg, base, 4 * MiB) == 0);
	bo2 = fake_bo_new(2, MiB);
	CU_ASSERT_FATAL(bo2 != NULL);
	fake_map(&cl.fm, va2, MiB, bo2, 0);
	pthread_mutex_lock(&cl.svm.lock);
	CU_ASSERT_EQUAL(svm_bo_add(&cl.svm, 2, MiB, bo2->mem, bo2), 0);
	CU_ASSERT_EQUAL(svm_register(&cl.svm, va2, MiB, 2, 0), 0);
	pthread_mutex_unlock(&cl.svm.lock);

	/* No ranges: the 2 MiB block, cut to the allocation. */
	ASSERT_WINDOW(base + 100 * KiB, base, base + 2 * MiB);
	ASSERT_WINDOW(base + 4 * MiB - 1, base + 2 * MiB, base + 4 * MiB);
	ASSERT_WINDOW(va2 + 5 * PG + 7, va2, va2 + MiB);
	CU_ASSERT_EQUAL(window(base - 1, &s, &e), -EFAULT);
	CU_ASSERT_EQUAL(window(base + 5 * MiB, &s, &e), -EFAULT);
	CU_ASSERT_EQUAL(window(va2 + MiB, &s, &e), -EFAULT);

	/* A 64 KiB range at base + 1 MiB, really migrated to device 0. */
	memset(buf, 0x5a, sizeof(buf));
	CU_ASSERT_EQUAL(fake_access(&cl.fm, &cl.core, &cl.svm, base + MiB, buf, sizeof(buf), true),
			0);
	CU_ASSERT_EQUAL(advise(&cl.svm, base + MiB, 64 * KiB, true), 0);
	pthread_mutex_lock(&cl.svm.lock);
	migrate_op_init(&op, &cl.core, MIGRATE_PREFETCH);
	CU_ASSERT_EQUAL(migrate_populate(&cl.core, &cl.svm, base + MiB, 64 * KiB, 0, &op), 0);
	dev = svm_range_find(&cl.svm, base + MiB);
	pthread_mutex_unlock(&cl.svm.lock);
	CU_ASSERT_EQUAL(advise(&cl.svm, base + MiB, 64 * KiB, false), 0);
	CU_ASSERT_FATAL(dev != NULL);
	CU_ASSERT_TRUE(range_is(dev, base + MiB, 64 * KiB));
	CU_ASSERT_PTR_NOT_NULL(dev->dm);
	CU_ASSERT_EQUAL(dev->ndev, 16);
	CU_ASSERT_FALSE(fake_present(&cl.fm, base + MiB));
	CU_ASSERT_EQUAL(vamap_find(&cl.svm.va, base)->len, 4 * MiB);

	/* The window stops at the device range, on either side. */
	ASSERT_WINDOW(base + 4 * KiB, base, base + MiB);
	ASSERT_WINDOW(base + MiB - 1, base, base + MiB);
	ASSERT_WINDOW(base + MiB + 64 * KiB, base + MiB + 64 * KiB, base + 2 * MiB);
	CU_ASSERT_EQUAL(window(base + MiB, &s, &e), -EBUSY);
	CU_ASSERT_EQUAL(window(base + MiB + 64 * KiB - 1, &s, &e), -EBUSY);
	/* Other block: unaffected. */
	ASSERT_WINDOW(base + 2 * MiB, base + 2 * MiB, base + 4 * MiB);

	/* A host-only 64 KiB range r at base + 3 MiB. */
	CU_ASSERT_EQUAL(advise(&cl.svm, base + 3 * MiB, 64 * KiB, true), 0);
	pthread_mutex_lock(&cl.svm.lock);
	CU_ASSERT_EQUAL(svm_range_find_or_insert(&cl.svm, base + 3 * MiB, &r), 0);
	pthread_mutex_unlock(&cl.svm.lock);
	CU_ASSERT_EQUAL(advise(&cl.svm, base + 3 * MiB, 64 * KiB, false), 0);
	CU_ASSERT_TRUE(range_is(r, base + 3 * MiB, 64 * KiB));
	/* Idle and on host: it does not shrink its neighbours' windows. */
	ASSERT_WINDOW(base + 2 * MiB + PG, base + 2 * MiB, base + 4 * MiB);
	ASSERT_WINDOW(base + 4 * MiB - PG, base + 2 * MiB, base + 4 * MiB);
	CU_ASSERT_EQUAL(window(base + 3 * MiB + PG, &s, &e), 0);
	CU_ASSERT_TRUE(s <= base + 3 * MiB + PG && base + 3 * MiB + 2 * PG <= e);
	CU_ASSERT_TRUE(base + 2 * MiB <= s && e <= base + 4 * MiB);

	/* Busy: excluded from the neighbours' windows; -EBUSY inside. */
	pthread_mutex_lock(&cl.svm.lock);
	CU_ASSERT_EQUAL(svm_range_begin(&cl.svm, r, false), 0);
	pthread_mutex_unlock(&cl.svm.lock);
	ASSERT_WINDOW(base + 2 * MiB + PG, base + 2 * MiB, base + 3 * MiB);
	ASSERT_WINDOW(base + 3 * MiB + 64 * KiB, base + 3 * MiB + 64 * KiB, base + 4 * MiB);
	CU_ASSERT_EQUAL(window(base + 3 * MiB + PG, &s, &e), -EBUSY);
	pthread_mutex_lock(&cl.svm.lock);
	svm_range_end(&cl.svm, r);
	pthread_mutex_unlock(&cl.svm.lock);

	/* Some pages of r on a device (set by hand): the host pages between. */
	r->on_dev[0] |= 1ULL << 3 | 1ULL << 10;
	r->ndev = 2;
	ASSERT_WINDOW(base + 3 * MiB + 6 * PG, base + 3 * MiB + 4 * PG, base + 3 * MiB + 10 * PG);
	ASSERT_WINDOW(base + 3 * MiB + 4 * PG, base + 3 * MiB + 4 * PG, base + 3 * MiB + 10 * PG);
	ASSERT_WINDOW(base + 3 * MiB, base + 3 * MiB, base + 3 * MiB + 3 * PG);
	ASSERT_WINDOW(base + 3 * MiB + 15 * PG, base + 3 * MiB + 11 * PG, base + 3 * MiB + 16 * PG);
	CU_ASSERT_EQUAL(window(base + 3 * MiB + 3 * PG, &s, &e), -EBUSY);
	CU_ASSERT_EQUAL(window(base + 3 * MiB + 10 * PG + 1, &s, &e), -EBUSY);
	ASSERT_WINDOW(base + 2 * MiB + PG, base + 2 * MiB, base + 3 * MiB);
	r->on_dev[0] = 0;
	r->ndev = 0;

	/* Unmapped, waiting for the collector. */
	svm_invalidate_unmap(&cl.svm, base + 3 * MiB, base + 3 * MiB + PG);
	CU_ASSERT_EQUAL(window(base + 3 * MiB + 8 * PG, &s, &e), -EAGAIN);
	pthread_mutex_lock(&cl.svm.lock);
	CU_ASSERT_EQUAL(migrate_collect(&cl.core, &cl.svm), 0);
	pthread_mutex_unlock(&cl.svm.lock);
	CU_ASSERT_PTR_NULL(svm_range_find(&cl.svm, base + 3 * MiB));

	/* The device data is intact. */
	CU_ASSERT_EQUAL(fake_access(&cl.fm, &cl.core, &cl.svm, base + MiB, buf, sizeof(buf), false),
			0);
	for (i = 0; i < (int)sizeof(buf); i++)
		if (buf[i] != 0x5a)
			break;
	CU_ASSERT_EQUAL(i, (int)sizeof(buf));
	fake_client_fini(&cl);
	fake_bo_free(bo2);
}

/* ------------------------------------------------------------------------ */

/*
 * Randomized: faults at random pages, removals of random ranges and advice
 * that splits and merges the VA map's mappings (so that existing ranges block
 * larger chunks), checked after every step against a model that knows, per
 * page, which range covers it and which advice it has. The registrations
 * have every alignment the chunk rule cares about and span notifier
 * boundaries (4 MiB notifiers).
 */
#define RND_BASE (4 * GiB)
#define RND_SPAN (16 * MiB)
#define RND_PAGES (RND_SPAN / PG)
#define RND_OPS 20000

struct rnd_reg {
	uint64_t start;
	uint64_t len;
	uint64_t id;
};

static const struct rnd_reg rnd_regs[] = {
	{ RND_BASE, 6 * MiB, 1 },
	{ RND_BASE + 7 * MiB + 64 * KiB, 2 * MiB + 128 * KiB + 8 * KiB, 2 },
	{ RND_BASE + 10 * MiB + 4 * KiB, MiB, 3 },
	/* Right after the previous one, another object. */
	{ RND_BASE + 11 * MiB + 4 * KiB, 5 * MiB - 4 * KiB, 4 },
};

#define RND_NREGS (sizeof(rnd_regs) / sizeof(rnd_regs[0]))

/**
 * struct rnd_model - What the tracker should hold
 * @page: Per page of [RND_BASE, RND_BASE + RND_SPAN), its range or NULL
 * @live: The ranges, in no order
 * @nlive: Number of ranges
 * @bo_ranges: Ranges per registration
 * @advised: Per page, whether it is advised read-mostly; a VA map mapping is
 *           a maximal run of pages of one registration with equal advice
 */
struct rnd_model {
	struct svm_range *page[RND_PAGES];
	bool advised[RND_PAGES];
	struct svm_range *live[RND_PAGES];
	uint64_t nlive;
	uint64_t bo_ranges[RND_NREGS];
};

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static int rnd_reg_of(uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < RND_NREGS; i++)
		if (addr >= rnd_regs[i].start && addr < rnd_regs[i].start + rnd_regs[i].len)
			return (int)i;
	return -1;
}

static uint64_t pidx(uint64_t addr)
{
	return (addr - RND_BASE) / PG;
}

/* The size the chunk rule picks for a fault at @addr, from the model. */
static uint64_t rnd_expected_chunk(const struct rnd_model *m, uint64_t addr)
{
	const struct rnd_reg *reg = &rnd_regs[rnd_reg_of(addr)];
	bool advised = m->advised[pidx(addr)];
	unsigned int i;
	uint64_t p;

	for (i = 0; i < ts.svm.cfg.nchunks; i++) {
		uint64_t size = ts.svm.cfg.chunk_sizes[i], s = addr & ~(size - 1);
		bool free = true;

		if (s < reg->start || s + size > reg->start + reg->len)
			continue;
		for (p = s; p < s + size && free; p += PG)
			free = !m->page[pidx(p)] && m->advised[pidx(p)] == advised;
		if (free)
			return size;
	}
	return 0;
}

static bool chunk_size_ok(uint64_t size)
{
	unsigned int i;

	for (i = 0; i < ts.svm.cfg.nchunks; i++)
		if (ts.svm.cfg.chunk_sizes[i] == size)
			return true;
	return false;
}

static uint64_t rnd_count_mappings(struct svm *svm)
{
	struct vamap_mapping *va;
	uint64_t n = 0;

	for (va = vamap_first(&svm->va, 0, UINT64_MAX); va; va = vamap_next(&svm->va, va))
		n++;
	return n;
}

/* Maximal runs of pages of one registration with equal advice. */
static uint64_t rnd_model_mappings(const struct rnd_model *m)
{
	uint64_t n = 0, p, first;
	unsigned int i;

	for (i = 0; i < RND_NREGS; i++) {
		first = pidx(rnd_regs[i].start);
		for (p = first; p < first + rnd_regs[i].len / PG; p++)
			n += p == first || m->advised[p] != m->advised[p - 1];
	}
	return n;
}

/* Compare the tracker with the model; returns the number of mismatches. */
static unsigned int rnd_check(const struct rnd_model *m)
{
	struct svm *svm = &ts.svm;
	uint64_t n = 0, nnot = 0, pages = 0, covered = 0, prev_end = 0, p, addr;
	struct svm_notifier *last = NULL;
	struct svm_range *r;
	unsigned int bad = 0, i;
	int reg;

	for (r = svm_range_first(svm, 0, UINT64_MAX); r; r = svm_range_next(svm, r)) {
		uint64_t size = r->end - r->start;

		n++;
		bad += r->start < prev_end;
		bad += !chunk_size_ok(size);
		bad += (r->start & (size - 1)) != 0;
		reg = rnd_reg_of(r->start);
		bad += reg < 0;
		if (reg < 0 || r->start < RND_BASE || r->end > RND_BASE + RND_SPAN)
			return bad + 1;
		bad += r->end > rnd_regs[reg].start + rnd_regs[reg].len;
		bad += r->bo->id != rnd_regs[reg].id;
		bad += r->obj_offset != r->start - rnd_regs[reg].start;
		bad += r->notifier->start != (r->start & ~(svm->cfg.notifier_size - 1));
		if (r->notifier != last) {
			nnot++;
			last = r->notifier;
		}
		for (p = r->start; p < r->end; p += PG)
			bad += m->page[pidx(p)] != r;
		pages += size / PG;
		prev_end = r->end;
	}
	for (p = 0; p < RND_PAGES; p++)
		covered += m->page[p] != NULL;
	bad += rnd_count_mappings(svm) != rnd_model_mappings(m);
	bad += covered != pages;
	bad += n != m->nlive || svm->nranges != n;
	bad += svm->nnotifiers != nnot;
	for (i = 0; i < RND_NREGS; i++)
		bad += svm_bo_find(svm, rnd_regs[i].id)->nranges != m->bo_ranges[i];
	/* Lookups by a few random addresses, holes included. */
	for (i = 0; i < 8; i++) {
		addr = RND_BASE + rnd() % RND_SPAN;
		bad += svm_range_find(svm, addr) != m->page[pidx(addr)];
	}
	return bad;
}

static void rnd_fault(struct rnd_model *m, uint64_t addr, unsigned int *bad)
{
	struct svm_range *r = NULL, *had = m->page[pidx(addr)];
	uint64_t want, p;
	int reg = rnd_reg_of(addr), err;

	want = reg < 0 || had ? 0 : rnd_expected_chunk(m, addr);
	err = svm_range_find_or_insert(&ts.svm, addr, &r);
	if (reg < 0) {
		*bad += err != -EFAULT;
		return;
	}
	if (err) {
		(*bad)++;
		return;
	}
	if (had) {
		*bad += r != had;
		return;
	}
	*bad += r->end - r->start != want;
	*bad += addr < r->start || addr >= r->end;
	if (r->start < RND_BASE || r->end > RND_BASE + RND_SPAN) {
		(*bad)++;
		return;
	}
	for (p = r->start; p < r->end; p += PG) {
		*bad += m->page[pidx(p)] != NULL;
		m->page[pidx(p)] = r;
	}
	m->live[m->nlive++] = r;
	m->bo_ranges[reg]++;
}

static void rnd_remove(struct rnd_model *m)
{
	uint64_t i = rnd() % m->nlive, p;
	struct svm_range *r = m->live[i];

	for (p = r->start; p < r->end; p += PG)
		m->page[pidx(p)] = NULL;
	m->bo_ranges[rnd_reg_of(r->start)]--;
	m->live[i] = m->live[--m->nlive];
	svm_range_remove(&ts.svm, r);
}

/* Advise a random stretch of a random registration, or take advice back. */
static void rnd_advise(struct rnd_model *m, unsigned int *bad)
{
	const struct rnd_reg *reg = &rnd_regs[rnd() % RND_NREGS];
	uint64_t npages = reg->len / PG, first = rnd() % npages, n = 1 + rnd() % 40, p;
	bool on = rnd() % 2;

	if (first + n > npages)
		n = npages - first;
	*bad += vamap_update_attrs(&ts.svm.va, reg->start + first * PG, n * PG, set_read_mostly,
				   on ? &ts : NULL) != 0;
	for (p = 0; p < n; p++)
		m->advised[pidx(reg->start) + first + p] = on;
}

static void test_random_against_model(void)
{
	struct rnd_model *m = calloc(1, sizeof(*m));
	unsigned int i, bad = 0, first_bad = 0, sizes[3] = { 0 };
	struct svm_config cfg;
	uint64_t addr;

	CU_ASSERT_FATAL(m != NULL);
	small_notifiers(&cfg);
	CU_ASSERT_FATAL(tsvm_init(&cfg) == 0);
	for (i = 0; i < RND_NREGS; i++)
		CU_ASSERT_FATAL(add_reg(rnd_regs[i].id, rnd_regs[i].start, rnd_regs[i].len) == 0);
	rnd_state = 0x9e3779b97f4a7c15ULL;
	pthread_mutex_lock(&ts.svm.lock);
	for (i = 0; i < RND_OPS; i++) {
		unsigned int dice = rnd() % 100;

		if (m->nlive && dice < 35) {
			rnd_remove(m);
		} else if (dice < 45) {
			rnd_advise(m, &bad);
		} else {
			addr = RND_BASE + rnd() % RND_SPAN;
			rnd_fault(m, addr, &bad);
		}
		bad += rnd_check(m);
		if (bad && !first_bad)
			first_bad = i + 1;
		if (m->nlive) {
			struct svm_range *r = m->live[rnd() % m->nlive];
			uint64_t size = r->end - r->start;

			sizes[size == 2 * MiB ? 0 : size == 64 * KiB ? 1 : 2]++;
		}
	}
	pthread_mutex_unlock(&ts.svm.lock);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(first_bad, 0);
	/* The run saw every chunk size. */
	CU_ASSERT_TRUE(sizes[0] && sizes[1] && sizes[2]);
	tsvm_fini();
	free(m);
}

/* ------------------------------------------------------------------------ */

static void test_alloc_failure_injection(void)
{
	struct svm *svm = &ts.svm;
	const uint64_t va2 = 2 * GiB;
	struct svm_range *r = NULL;
	unsigned long n;
	uint64_t nranges, nnot;
	int err;

	CU_ASSERT_FATAL(tsvm_init(NULL) == 0);
	CU_ASSERT_EQUAL(add_reg(1, VA, 4 * MiB), 0);
	CU_ASSERT_EQUAL(add_reg(2, va2, 4 * MiB), 0);
	CU_ASSERT_PTR_NOT_NULL(fault_ok(VA));

	/* A new notifier and a new range. */
	for (n = 1; n < 100; n++) {
		nranges = svm->nranges;
		nnot = svm->nnotifiers;
		mem_fail_nth(n);
		err = fault(va2 + 3 * MiB, &r);
		if (!mem_failed()) {
			mem_fail_nth(0);
			CU_ASSERT_EQUAL(err, 0);
			CU_ASSERT_TRUE(range_is(r, va2 + 2 * MiB, 2 * MiB));
			CU_ASSERT_EQUAL(svm->nranges, nranges + 1);
			CU_ASSERT_EQUAL(svm->nnotifiers, nnot + 1);
			break;
		}
		mem_fail_nth(0);
		CU_ASSERT_EQUAL(err, -ENOMEM);
		CU_ASSERT_EQUAL(svm->nranges, nranges);
		CU_ASSERT_EQUAL(svm->nnotifiers, nnot);
		CU_ASSERT_PTR_NULL(svm_range_find(svm, va2 + 3 * MiB));
		CU_ASSERT_PTR_NULL(svm_range_first(svm, va2, va2 + 4 * MiB));
		CU_ASSERT_EQUAL(svm_bo_find(svm, 2)->nranges, 0);
	}
	CU_ASSERT(n > 2);

	/* A new range in an existing notifier. */
	for (n = 1; n < 100; n++) {
		mem_fail_nth(n);
		err = fault(va2, &r);
		if (!mem_failed()) {
			mem_fail_nth(0);
			CU_ASSERT_EQUAL(err, 0);
			break;
		}
		mem_fail_nth(0);
		CU_ASSERT_EQUAL(err, -ENOMEM);
		CU_ASSERT_EQUAL(svm->nranges, 2);
		CU_ASSERT_EQUAL(svm->nnotifiers, 2);
	}
	CU_ASSERT(n > 1);
	CU_ASSERT_EQUAL(svm->nranges, 3);
	CU_ASSERT_EQUAL(svm_bo_find(svm, 2)->nranges, 2);

	/* Objects and registrations. */
	for (n = 1; n < 100; n++) {
		pthread_mutex_lock(&svm->lock);
		mem_fail_nth(n);
		err = svm_bo_add(svm, 3, MiB, host_dummy, NULL);
		if (!err)
			err = svm_register(svm, 3 * GiB, MiB, 3, 0);
		if (!mem_failed()) {
			mem_fail_nth(0);
			CU_ASSERT_EQUAL(err, 0);
			CU_ASSERT_EQUAL(svm_check_registered(svm, 3 * GiB, MiB), 0);
			pthread_mutex_unlock(&svm->lock);
			break;
		}
		mem_fail_nth(0);
		CU_ASSERT_EQUAL(err, -ENOMEM);
		CU_ASSERT_EQUAL(svm_check_registered(svm, 3 * GiB, MiB), -EFAULT);
		/* A failed registration leaves the object; drop it to retry. */
		err = svm_bo_find(svm, 3) ? svm_bo_remove(svm, 3) : 0;
		CU_ASSERT_EQUAL(err, 0);
		pthread_mutex_unlock(&svm->lock);
	}
	CU_ASSERT(n > 1);
	tsvm_fini();
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_config_validate),
		CU_TEST_ENTRY(test_init_bad_input),
		CU_TEST_ENTRY(test_bo_add_find_remove),
		CU_TEST_ENTRY(test_register_bad_input),
		CU_TEST_ENTRY(test_check_registered),
		CU_TEST_ENTRY(test_chunk_2m_in_aligned_allocation),
		CU_TEST_ENTRY(test_chunk_64k_and_4k_edges),
		CU_TEST_ENTRY(test_chunk_blocked_by_existing_range),
		CU_TEST_ENTRY(test_fault_errors),
		CU_TEST_ENTRY(test_notifiers_and_iteration),
		CU_TEST_ENTRY(test_sequence_numbers),
		CU_TEST_ENTRY(test_unmap_flags_and_gc),
		CU_TEST_ENTRY(test_begin_end),
		CU_TEST_ENTRY(test_host_window),
		CU_TEST_ENTRY(test_random_against_model),
		CU_TEST_ENTRY(test_alloc_failure_injection),
		{ NULL, NULL },
	};

	return cu_run("svm", tests);
}
