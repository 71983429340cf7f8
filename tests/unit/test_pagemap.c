// SPDX-License-Identifier: MIT
/*
 * The pagemap layer over real sim pools: providers, configuration,
 * refcounted allocations, the LRU list, unbind/rebind, the pool cache, and
 * the core context that builds the devices.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "cu.h"
#include "mem.h"
#include "pagemap.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static struct pagemap_cache cache;

static void dev_config(struct pagemap_config *cfg, const char *name, uint64_t capacity)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "%s", name);
	snprintf(cfg->provider, sizeof(cfg->provider), "sim");
	cfg->capacity = capacity;
}

/* A 16 MiB sim device with id @id; with a user attached when @get. */
static struct pagemap *dev_new(const char *name, int id, bool get)
{
	struct pagemap_config cfg;
	struct pagemap *pm = NULL;

	dev_config(&cfg, name, 16 * MiB);
	CU_ASSERT_EQUAL(pagemap_create(&cfg, id, &cache, &pm), 0);
	if (pm && get)
		CU_ASSERT_EQUAL(pagemap_get(pm), 0);
	return pm;
}

static uint64_t used(struct pagemap *pm)
{
	uint64_t u;

	pagemap_usage(pm, NULL, &u, NULL);
	return u;
}

static uint64_t nallocs(struct pagemap *pm)
{
	uint64_t n;

	pagemap_usage(pm, NULL, NULL, &n);
	return n;
}

/* Whether @pm's LRU list holds exactly @want, least recently used first. */
static bool lru_is(struct pagemap *pm, struct devmem *const *want, unsigned int n)
{
	struct devmem *dm;
	unsigned int i = 0;

	TAILQ_FOREACH(dm, &pm->lru, lru_link) {
		if (i >= n || dm != want[i] || !dm->on_lru)
			return false;
		i++;
	}
	return i == n;
}

/* ------------------------------------------------------------------------ */

static void test_provider_find(void)
{
	const struct pagemap_provider_ops *ops = pagemap_provider_find("sim");

	CU_ASSERT_PTR_EQUAL(ops, &sim_provider_ops);
	CU_ASSERT_STRING_EQUAL(ops->name, "sim");
	CU_ASSERT_PTR_NULL(pagemap_provider_find("cuda"));
	CU_ASSERT_PTR_NULL(pagemap_provider_find(""));
	CU_ASSERT_PTR_NULL(pagemap_provider_find("sim0"));
	CU_ASSERT_PTR_NULL(pagemap_provider_find(NULL));
}

static void test_config_validate(void)
{
	struct pagemap_config cfg, bad;

	dev_config(&cfg, "sim0", 64 * MiB);
	CU_ASSERT_EQUAL(pagemap_config_validate(&cfg), 0);
	CU_ASSERT_EQUAL(pagemap_config_validate(NULL), -EINVAL);

	bad = cfg;
	bad.name[0] = 0;
	CU_ASSERT_EQUAL(pagemap_config_validate(&bad), -EINVAL);
	memset(bad.name, 'a', sizeof(bad.name));
	CU_ASSERT_EQUAL(pagemap_config_validate(&bad), -EINVAL);

	bad = cfg;
	strcpy(bad.provider, "nvidia");
	CU_ASSERT_EQUAL(pagemap_config_validate(&bad), -EINVAL);
	bad.provider[0] = 0;
	CU_ASSERT_EQUAL(pagemap_config_validate(&bad), -EINVAL);
	memset(bad.provider, 's', sizeof(bad.provider));
	CU_ASSERT_EQUAL(pagemap_config_validate(&bad), -EINVAL);

	bad = cfg;
	bad.capacity = 0;
	CU_ASSERT_EQUAL(pagemap_config_validate(&bad), -EINVAL);
	bad.capacity = 64 * MiB + 512;
	CU_ASSERT_EQUAL(pagemap_config_validate(&bad), -EINVAL);
	bad.capacity = 100;
	CU_ASSERT_EQUAL(pagemap_config_validate(&bad), -EINVAL);
	/* Not a power of two is fine; a multiple of 4 KiB is what counts. */
	bad.capacity = 12 * KiB;
	CU_ASSERT_EQUAL(pagemap_config_validate(&bad), 0);
}

static void test_create_destroy(void)
{
	struct pagemap_config cfg;
	struct pagemap *pm = NULL;
	uint64_t cap, u, n;

	pagemap_cache_init(&cache);
	dev_config(&cfg, "sim3", 16 * MiB);
	CU_ASSERT_EQUAL(pagemap_create(&cfg, 3, &cache, &pm), 0);
	CU_ASSERT_FATAL(pm != NULL);
	CU_ASSERT_EQUAL(pm->id, 3);
	CU_ASSERT_STRING_EQUAL(pm->cfg.name, "sim3");
	CU_ASSERT_PTR_EQUAL(pm->ops, &sim_provider_ops);
	CU_ASSERT_TRUE(pagemap_bound(pm));
	/* No pool until the first user. */
	CU_ASSERT_PTR_NULL(pm->pool);
	CU_ASSERT_EQUAL(pm->users, 0);
	CU_ASSERT_FALSE(pm->idle);
	pagemap_usage(pm, &cap, &u, &n);
	CU_ASSERT_EQUAL(cap, 16 * MiB);
	CU_ASSERT_EQUAL(u, 0);
	CU_ASSERT_EQUAL(n, 0);
	pagemap_usage(pm, NULL, NULL, NULL);
	pagemap_destroy(pm);
	pagemap_destroy(NULL);

	pm = NULL;
	CU_ASSERT_EQUAL(pagemap_create(&cfg, -1, &cache, &pm), -EINVAL);
	CU_ASSERT_EQUAL(pagemap_create(&cfg, PAGEMAP_MAX_DEVICES, &cache, &pm), -EINVAL);
	CU_ASSERT_EQUAL(pagemap_create(&cfg, 0, NULL, &pm), -EINVAL);
	CU_ASSERT_EQUAL(pagemap_create(&cfg, 0, &cache, NULL), -EINVAL);
	cfg.capacity = 0;
	CU_ASSERT_EQUAL(pagemap_create(&cfg, 0, &cache, &pm), -EINVAL);
	CU_ASSERT_PTR_NULL(pm);
	pagemap_cache_fini(&cache);
}

static void test_alloc_put(void)
{
	struct devmem *dm[4] = { NULL }, *x = NULL;
	struct pagemap *pm;
	uint64_t off1;
	uint8_t *p;

	pagemap_cache_init(&cache);
	pm = dev_new("sim0", 0, false);
	CU_ASSERT_FATAL(pm != NULL);
	/* No user yet: no pool, no memory. */
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 64 * KiB, NULL, &x), -ENODEV);
	CU_ASSERT_PTR_NULL(x);
	CU_ASSERT_EQUAL(pagemap_get(pm), 0);
	CU_ASSERT_PTR_NOT_NULL(pm->pool);
	CU_ASSERT_EQUAL(pm->users, 1);

	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 4 * KiB, NULL, &dm[0]), 0);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 64 * KiB, NULL, &dm[1]), 0);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 2 * MiB, &cache, &dm[2]), 0);
	CU_ASSERT_FATAL(dm[0] && dm[1] && dm[2]);
	CU_ASSERT_EQUAL(used(pm), 4 * KiB + 64 * KiB + 2 * MiB);
	CU_ASSERT_EQUAL(nallocs(pm), 3);
	CU_ASSERT_PTR_EQUAL(dm[2]->pm, pm);
	CU_ASSERT_EQUAL(dm[2]->size, 2 * MiB);
	CU_ASSERT_EQUAL(dm[2]->refcount, 1);
	CU_ASSERT_PTR_EQUAL(dm[2]->owner, &cache);
	CU_ASSERT_EQUAL(dm[2]->dev_off % (2 * MiB), 0);
	/* Distinct, non-overlapping blocks. */
	CU_ASSERT_TRUE(dm[0]->dev_off + 4 * KiB <= dm[1]->dev_off ||
		       dm[1]->dev_off + 64 * KiB <= dm[0]->dev_off);
	/* The CPU view: in bounds only; memory reads back what was written. */
	p = devmem_map(dm[1], 0, 64 * KiB);
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_EQUAL(p[0], 0);
	memset(p, 0xa5, 64 * KiB);
	CU_ASSERT_PTR_EQUAL(devmem_map(dm[1], 4 * KiB, 4 * KiB), p + 4 * KiB);
	CU_ASSERT_PTR_NULL(devmem_map(dm[1], 0, 64 * KiB + 1));
	CU_ASSERT_PTR_NULL(devmem_map(dm[1], 64 * KiB + 1, 0));
	CU_ASSERT_PTR_NULL(devmem_map(dm[1], 60 * KiB, 8 * KiB));

	off1 = dm[1]->dev_off;
	devmem_put(dm[1]);
	CU_ASSERT_EQUAL(used(pm), 4 * KiB + 2 * MiB);
	devmem_put(dm[0]);
	devmem_put(dm[2]);
	devmem_put(NULL);
	CU_ASSERT_EQUAL(used(pm), 0);
	CU_ASSERT_EQUAL(nallocs(pm), 0);
	CU_ASSERT_TRUE(TAILQ_EMPTY(&pm->lru));
	/* Freed blocks coalesce: the whole pool is one block again. */
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 16 * MiB, NULL, &dm[3]), 0);
	CU_ASSERT_FATAL(dm[3] != NULL);
	p = devmem_map(dm[3], 0, 16 * MiB);
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT_EQUAL(dm[3]->dev_off, 0);
	(void)off1;
	devmem_put(dm[3]);

	pagemap_put(pm);
	pagemap_destroy(pm);
	pagemap_cache_fini(&cache);
}

static void test_alloc_bad_size_and_full(void)
{
	struct devmem *dm[17] = { NULL }, *x = NULL;
	struct pagemap *pm;
	unsigned int i;

	pagemap_cache_init(&cache);
	pm = dev_new("sim0", 0, true);
	CU_ASSERT_FATAL(pm != NULL);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 0, NULL, &x), -EINVAL);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 2 * KiB, NULL, &x), -EINVAL);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 4 * KiB - 1, NULL, &x), -EINVAL);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 12 * KiB, NULL, &x), -EINVAL);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 3 * MiB, NULL, &x), -EINVAL);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 4 * KiB, NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(NULL, 4 * KiB, NULL, &x), -EINVAL);
	CU_ASSERT_PTR_NULL(x);
	CU_ASSERT_EQUAL(nallocs(pm), 0);

	for (i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, MiB, NULL, &dm[i]), 0);
	CU_ASSERT_EQUAL(used(pm), 16 * MiB);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 4 * KiB, NULL, &x), -ENOSPC);
	CU_ASSERT_PTR_NULL(x);
	CU_ASSERT_EQUAL(used(pm), 16 * MiB);
	CU_ASSERT_EQUAL(nallocs(pm), 16);
	/* One freed MiB: 4 KiB fits again, 2 MiB does not. */
	devmem_put(dm[5]);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 2 * MiB, NULL, &x), -ENOSPC);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 4 * KiB, NULL, &dm[5]), 0);
	CU_ASSERT_EQUAL(used(pm), 15 * MiB + 4 * KiB);
	for (i = 0; i < 16; i++)
		devmem_put(dm[i]);
	CU_ASSERT_EQUAL(used(pm), 0);
	CU_ASSERT_EQUAL(nallocs(pm), 0);
	pagemap_put(pm);
	pagemap_destroy(pm);
	pagemap_cache_fini(&cache);
}

static void test_refcount(void)
{
	struct devmem *dm = NULL;
	struct pagemap *pm;

	pagemap_cache_init(&cache);
	pm = dev_new("sim0", 0, true);
	CU_ASSERT_FATAL(pm != NULL);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 64 * KiB, NULL, &dm), 0);
	CU_ASSERT_FATAL(dm != NULL);
	CU_ASSERT_PTR_EQUAL(devmem_get(dm), dm);
	CU_ASSERT_EQUAL(dm->refcount, 2);
	devmem_put(dm);
	/* The owner's reference keeps the memory. */
	CU_ASSERT_EQUAL(dm->refcount, 1);
	CU_ASSERT_EQUAL(used(pm), 64 * KiB);
	CU_ASSERT_EQUAL(nallocs(pm), 1);
	CU_ASSERT_TRUE(lru_is(pm, &dm, 1));
	devmem_put(dm);
	CU_ASSERT_EQUAL(used(pm), 0);
	CU_ASSERT_EQUAL(nallocs(pm), 0);
	CU_ASSERT_TRUE(TAILQ_EMPTY(&pm->lru));
	pagemap_put(pm);
	pagemap_destroy(pm);
	pagemap_cache_fini(&cache);
}

static void test_lru(void)
{
	struct devmem *a = NULL, *b = NULL, *c = NULL;
	struct pagemap *pm;
	int owner;

	pagemap_cache_init(&cache);
	pm = dev_new("sim0", 0, true);
	CU_ASSERT_FATAL(pm != NULL);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 4 * KiB, &owner, &a), 0);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 4 * KiB, &owner, &b), 0);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 4 * KiB, &owner, &c), 0);
	CU_ASSERT_FATAL(a && b && c);
	/* Fresh allocations at the most recently used end. */
	CU_ASSERT_TRUE(lru_is(pm, (struct devmem *[]){ a, b, c }, 3));
	pagemap_devmem_touch(a);
	CU_ASSERT_TRUE(lru_is(pm, (struct devmem *[]){ b, c, a }, 3));
	pagemap_devmem_touch(a);
	CU_ASSERT_TRUE(lru_is(pm, (struct devmem *[]){ b, c, a }, 3));
	/* Without an owner it is off the list; touching does not put it back. */
	pagemap_devmem_set_owner(b, NULL);
	CU_ASSERT_FALSE(b->on_lru);
	CU_ASSERT_PTR_NULL(b->owner);
	CU_ASSERT_TRUE(lru_is(pm, (struct devmem *[]){ c, a }, 2));
	pagemap_devmem_touch(b);
	pagemap_devmem_set_owner(b, NULL);
	CU_ASSERT_TRUE(lru_is(pm, (struct devmem *[]){ c, a }, 2));
	/* A new owner puts it back, most recently used. */
	pagemap_devmem_set_owner(b, &owner);
	CU_ASSERT_TRUE(b->on_lru);
	CU_ASSERT_PTR_EQUAL(b->owner, &owner);
	CU_ASSERT_TRUE(lru_is(pm, (struct devmem *[]){ c, a, b }, 3));
	/* Changing owners does not move it. */
	pagemap_devmem_set_owner(c, &pm);
	CU_ASSERT_TRUE(lru_is(pm, (struct devmem *[]){ c, a, b }, 3));
	/* Freeing takes it off, whether on the list or not. */
	devmem_put(a);
	CU_ASSERT_TRUE(lru_is(pm, (struct devmem *[]){ c, b }, 2));
	pagemap_devmem_set_owner(c, NULL);
	devmem_put(c);
	CU_ASSERT_TRUE(lru_is(pm, &b, 1));
	devmem_put(b);
	CU_ASSERT_TRUE(TAILQ_EMPTY(&pm->lru));
	CU_ASSERT_EQUAL(nallocs(pm), 0);
	pagemap_put(pm);
	pagemap_destroy(pm);
	pagemap_cache_fini(&cache);
}

static void test_unbind_rebind(void)
{
	struct devmem *dm = NULL, *x = NULL;
	struct pagemap *pm;

	pagemap_cache_init(&cache);
	pm = dev_new("sim0", 0, true);
	CU_ASSERT_FATAL(pm != NULL);
	CU_ASSERT_EQUAL(pagemap_rebind(pm), -EALREADY);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 64 * KiB, NULL, &dm), 0);
	CU_ASSERT_EQUAL(pagemap_unbind(pm), 0);
	CU_ASSERT_FALSE(pagemap_bound(pm));
	CU_ASSERT_EQUAL(pagemap_unbind(pm), -EALREADY);
	CU_ASSERT_FALSE(pagemap_bound(pm));
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 64 * KiB, NULL, &x), -ENODEV);
	CU_ASSERT_PTR_NULL(x);
	/* What was there stays usable until it is evacuated. */
	CU_ASSERT_PTR_NOT_NULL(devmem_map(dm, 0, 4 * KiB));
	CU_ASSERT_EQUAL(pagemap_rebind(pm), -EBUSY);
	CU_ASSERT_FALSE(pagemap_bound(pm));
	devmem_put(dm);
	CU_ASSERT_EQUAL(pagemap_rebind(pm), 0);
	CU_ASSERT_TRUE(pagemap_bound(pm));
	CU_ASSERT_EQUAL(pagemap_rebind(pm), -EALREADY);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 64 * KiB, NULL, &x), 0);
	devmem_put(x);
	pagemap_put(pm);
	pagemap_destroy(pm);
	pagemap_cache_fini(&cache);
}

static void test_pool_cache(void)
{
	struct pagemap *a, *b;
	struct devmem *dm = NULL;
	void *pool;

	pagemap_cache_init(&cache);
	a = dev_new("sim0", 0, true);
	b = dev_new("sim1", 1, true);
	CU_ASSERT_FATAL(a && b);
	pool = a->pool;
	CU_ASSERT_PTR_NOT_NULL(pool);
	/* Two users; the first to leave parks nothing. */
	CU_ASSERT_EQUAL(pagemap_get(a), 0);
	CU_ASSERT_EQUAL(a->users, 2);
	CU_ASSERT_PTR_EQUAL(a->pool, pool);
	pagemap_put(a);
	CU_ASSERT_FALSE(a->idle);
	CU_ASSERT_EQUAL(pagemap_cache_shrink(&cache), 0);
	/* The last one parks the pool, which the next user gets back. */
	pagemap_put(a);
	CU_ASSERT_EQUAL(a->users, 0);
	CU_ASSERT_TRUE(a->idle);
	CU_ASSERT_PTR_EQUAL(a->pool, pool);
	CU_ASSERT_PTR_EQUAL(TAILQ_FIRST(&cache.idle), a);
	CU_ASSERT_EQUAL(pagemap_get(a), 0);
	CU_ASSERT_FALSE(a->idle);
	CU_ASSERT_PTR_EQUAL(a->pool, pool);
	CU_ASSERT_TRUE(TAILQ_EMPTY(&cache.idle));
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(a, 4 * KiB, NULL, &dm), 0);
	devmem_put(dm);
	pagemap_put(a);
	/* An unbalanced put changes nothing. */
	pagemap_put(a);
	CU_ASSERT_EQUAL(a->users, 0);
	CU_ASSERT_TRUE(a->idle);

	/* Shrinking destroys the idle pool, not the one in use. */
	CU_ASSERT_EQUAL(pagemap_cache_shrink(&cache), 1);
	CU_ASSERT_PTR_NULL(a->pool);
	CU_ASSERT_FALSE(a->idle);
	CU_ASSERT_PTR_NOT_NULL(b->pool);
	CU_ASSERT_EQUAL(b->users, 1);
	CU_ASSERT_TRUE(TAILQ_EMPTY(&cache.idle));
	CU_ASSERT_EQUAL(pagemap_cache_shrink(&cache), 0);
	/* No pool: no memory until a user comes back, with a new pool. */
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(a, 4 * KiB, NULL, &dm), -ENODEV);
	CU_ASSERT_EQUAL(pagemap_get(a), 0);
	CU_ASSERT_PTR_NOT_NULL(a->pool);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(a, 4 * KiB, NULL, &dm), 0);
	devmem_put(dm);

	/* Both parked, both shrunk. */
	pagemap_put(a);
	pagemap_put(b);
	CU_ASSERT_TRUE(a->idle && b->idle);
	CU_ASSERT_EQUAL(pagemap_cache_shrink(&cache), 2);
	CU_ASSERT_PTR_NULL(a->pool);
	CU_ASSERT_PTR_NULL(b->pool);

	/* Destroying a parked pagemap takes it out of the cache. */
	CU_ASSERT_EQUAL(pagemap_get(a), 0);
	pagemap_put(a);
	CU_ASSERT_TRUE(a->idle);
	pagemap_destroy(a);
	CU_ASSERT_TRUE(TAILQ_EMPTY(&cache.idle));
	CU_ASSERT_EQUAL(pagemap_cache_shrink(&cache), 0);
	pagemap_destroy(b);
	pagemap_cache_fini(&cache);
}

/*
 * A pool parked while an allocation is still alive (a late reference after
 * the last user left) cannot be destroyed by a shrink; once the allocation
 * is gone, a later shrink must be able to reclaim it.
 */
static void test_cache_shrink_pool_with_allocation(void)
{
	struct devmem *dm = NULL;
	struct pagemap *pm;

	pagemap_cache_init(&cache);
	pm = dev_new("sim0", 0, true);
	CU_ASSERT_FATAL(pm != NULL);
	CU_ASSERT_EQUAL(pagemap_devmem_alloc(pm, 64 * KiB, NULL, &dm), 0);
	pagemap_put(pm);
	CU_ASSERT_TRUE(pm->idle);
	CU_ASSERT_EQUAL(pagemap_cache_shrink(&cache), 0);
	CU_ASSERT_PTR_NOT_NULL(pm->pool);
	CU_ASSERT_EQUAL(used(pm), 64 * KiB);
	devmem_put(dm);
	CU_ASSERT_EQUAL(nallocs(pm), 0);
	/* Still idle and unused: the shrinker must still see it. */
	CU_ASSERT_EQUAL(pagemap_cache_shrink(&cache), 1);
	CU_ASSERT_PTR_NULL(pm->pool);
	pagemap_destroy(pm);
	pagemap_cache_fini(&cache);
}

static void test_alloc_failure_injection(void)
{
	struct pagemap_config cfg;
	struct pagemap *pm = NULL;
	struct devmem *dm = NULL;
	unsigned long n;
	int err;

	pagemap_cache_init(&cache);
	dev_config(&cfg, "sim0", 16 * MiB);
	for (n = 1; n < 100; n++) {
		mem_fail_nth(n);
		err = pagemap_create(&cfg, 0, &cache, &pm);
		if (!err)
			err = pagemap_get(pm);
		if (!err)
			err = pagemap_devmem_alloc(pm, 64 * KiB, NULL, &dm);
		if (!mem_failed()) {
			mem_fail_nth(0);
			CU_ASSERT_EQUAL(err, 0);
			CU_ASSERT_EQUAL(nallocs(pm), 1);
			devmem_put(dm);
			pagemap_put(pm);
			pagemap_destroy(pm);
			break;
		}
		mem_fail_nth(0);
		CU_ASSERT_EQUAL(err, -ENOMEM);
		if (pm) {
			CU_ASSERT_EQUAL(nallocs(pm), 0);
			CU_ASSERT_EQUAL(used(pm), 0);
			if (pm->users)
				pagemap_put(pm);
			pagemap_destroy(pm);
			pm = NULL;
		}
	}
	CU_ASSERT(n > 2);
	CU_ASSERT_EQUAL(pagemap_cache_shrink(&cache), 0);
	pagemap_cache_fini(&cache);
}

/* ------------------------------------------------------------------------ */

static void test_core_config_default(void)
{
	struct core_config cfg;
	struct svm_config svm;
	struct core core;

	core_config_default(&cfg);
	svm_config_default(&svm);
	CU_ASSERT_EQUAL(cfg.ndev, 2);
	CU_ASSERT_STRING_EQUAL(cfg.dev[0].name, "sim0");
	CU_ASSERT_STRING_EQUAL(cfg.dev[1].name, "sim1");
	CU_ASSERT_STRING_EQUAL(cfg.dev[0].provider, "sim");
	CU_ASSERT_STRING_EQUAL(cfg.dev[1].provider, "sim");
	CU_ASSERT_EQUAL(cfg.dev[0].capacity, GiB);
	CU_ASSERT_EQUAL(cfg.dev[1].capacity, GiB);
	CU_ASSERT_EQUAL(cfg.dev[0].bandwidth, 0);
	CU_ASSERT_EQUAL(cfg.dev[0].latency_us, 0);
	CU_ASSERT_EQUAL(cfg.timeslice_ms, 1);
	CU_ASSERT_EQUAL(memcmp(&cfg.svm, &svm, sizeof(svm)), 0);

	CU_ASSERT_FATAL(core_init(&core, &cfg) == 0);
	CU_ASSERT_EQUAL(core.ndev, 2);
	CU_ASSERT_EQUAL(core.timeslice_ns, 1000000ULL);
	CU_ASSERT_PTR_NOT_NULL(core_device(&core, 0));
	CU_ASSERT_STRING_EQUAL(core_device(&core, 1)->cfg.name, "sim1");
	CU_ASSERT_EQUAL(core_device(&core, 1)->id, 1);
	CU_ASSERT_PTR_NULL(core_device(&core, 2));
	CU_ASSERT_PTR_NULL(core_device(&core, -1));
	CU_ASSERT_TRUE(core_now(&core) > 0);
	core_fini(&core);
}

static void test_core_init_bad_config(void)
{
	struct core_config cfg;
	struct core core;

	core_config_default(&cfg);
	strcpy(cfg.dev[1].name, "sim0");
	CU_ASSERT_EQUAL(core_init(&core, &cfg), -EINVAL);

	core_config_default(&cfg);
	cfg.ndev = 3;
	cfg.dev[2] = cfg.dev[0];
	strcpy(cfg.dev[2].name, "sim1");
	CU_ASSERT_EQUAL(core_init(&core, &cfg), -EINVAL);

	core_config_default(&cfg);
	cfg.svm.chunk_sizes[2] = 8 * KiB;
	CU_ASSERT_EQUAL(core_init(&core, &cfg), -EINVAL);
	core_config_default(&cfg);
	cfg.svm.notifier_size = 3 * MiB;
	CU_ASSERT_EQUAL(core_init(&core, &cfg), -EINVAL);

	core_config_default(&cfg);
	cfg.ndev = PAGEMAP_MAX_DEVICES + 1;
	CU_ASSERT_EQUAL(core_init(&core, &cfg), -EINVAL);
	CU_ASSERT_EQUAL(core_init(&core, NULL), -EINVAL);

	/* A bad second device: the first one is torn down again. */
	core_config_default(&cfg);
	cfg.dev[1].capacity = 1000;
	CU_ASSERT_EQUAL(core_init(&core, &cfg), -EINVAL);
	CU_ASSERT_EQUAL(core.ndev, 0);
	core_config_default(&cfg);
	strcpy(cfg.dev[1].provider, "gpu");
	CU_ASSERT_EQUAL(core_init(&core, &cfg), -EINVAL);

	/* No devices at all is a valid (if useless) core. */
	core_config_default(&cfg);
	cfg.ndev = 0;
	CU_ASSERT_FATAL(core_init(&core, &cfg) == 0);
	CU_ASSERT_PTR_NULL(core_device(&core, 0));
	core_fini(&core);
}

static void test_core_clients_attach_pools(void)
{
	struct core_config cfg;
	struct core core;
	struct svm svm;

	core_config_default(&cfg);
	cfg.dev[0].capacity = cfg.dev[1].capacity = 16 * MiB;
	CU_ASSERT_FATAL(core_init(&core, &cfg) == 0);
	memset(&svm, 0, sizeof(svm));
	CU_ASSERT_PTR_NULL(core.dev[0]->pool);
	CU_ASSERT_EQUAL(core_client_add(&core, &svm), 0);
	CU_ASSERT_EQUAL(core.nclients, 1);
	CU_ASSERT_PTR_EQUAL(TAILQ_FIRST(&core.clients), &svm);
	CU_ASSERT_PTR_NOT_NULL(core.dev[0]->pool);
	CU_ASSERT_EQUAL(core.dev[1]->users, 1);
	core_client_remove(&core, &svm);
	CU_ASSERT_EQUAL(core.nclients, 0);
	CU_ASSERT_TRUE(core.dev[0]->idle && core.dev[1]->idle);
	CU_ASSERT_EQUAL(pagemap_cache_shrink(&core.cache), 2);
	core_fini(&core);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_provider_find),
		CU_TEST_ENTRY(test_config_validate),
		CU_TEST_ENTRY(test_create_destroy),
		CU_TEST_ENTRY(test_alloc_put),
		CU_TEST_ENTRY(test_alloc_bad_size_and_full),
		CU_TEST_ENTRY(test_refcount),
		CU_TEST_ENTRY(test_lru),
		CU_TEST_ENTRY(test_unbind_rebind),
		CU_TEST_ENTRY(test_pool_cache),
		CU_TEST_ENTRY(test_cache_shrink_pool_with_allocation),
		CU_TEST_ENTRY(test_alloc_failure_injection),
		CU_TEST_ENTRY(test_core_config_default),
		CU_TEST_ENTRY(test_core_init_bad_config),
		CU_TEST_ENTRY(test_core_clients_attach_pools),
		{ NULL, NULL },
	};

	return cu_run("pagemap", tests);
}
