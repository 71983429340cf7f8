// SPDX-License-Identifier: MIT
/**
 * DOC: Pagemap layer
 *
 * A pagemap is one device's memory as the core sees it: a provider (the ops
 * table in pagemap.h) owns the actual pool, and the pagemap layer adds what
 * every device needs on top of it: reference-counted allocations
 * (&struct devmem), an LRU list for eviction, online/offline state for
 * unbind, and a cache that keeps a pool alive after its last user left.
 *
 * Allocations: pagemap_devmem_alloc() returns a devmem with one reference for
 * its owner. Anyone who uses its memory outside the owner's locks (a copy, a
 * device kernel) holds a reference of their own; the block returns to the
 * pool when the last reference is dropped, never while somebody copies.
 *
 * Unbind: pagemap_unbind() turns the device offline, after which allocations
 * fail with -ENODEV; evacuating the data already there is the migration
 * layer's job (migrate_evacuate_device()). pagemap_rebind() brings the device
 * back, empty.
 *
 * Pool cache: the first pagemap_get() creates the pool; when the last user
 * calls pagemap_put() the pool is not destroyed but parked in the
 * &struct pagemap_cache, so the next user finds it ready.
 * pagemap_cache_shrink() destroys the parked pools, as a shrinker would.
 *
 * Locking: the cache lock is taken before a pagemap lock. A pagemap's lock
 * protects its counters, LRU list and the devmem fields documented in
 * pagemap.h. No lock is held across a provider copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "pagemap.h"

#define PAGE_SIZE_4K 4096ULL

#define PROVIDERS_MAX 8

/*
 * The providers: sim is the core's own; the others live outside the core
 * (drm's ioctls in gsvmd's daemon/drmdev.c) and are registered by the
 * program that links them, before any configuration is read.
 */
static const struct pagemap_provider_ops *providers[PROVIDERS_MAX] = {
	&sim_provider_ops,
};

/**
 * pagemap_provider_register() - Make a provider known by its name
 * @ops: The provider's ops; must outlive every pagemap made with it
 *
 * Not thread-safe: call at start-up, before configurations are read.
 * Registering the same ops twice is a no-op.
 *
 * Return: 0, -EEXIST when another provider has the name, -ENOSPC when the
 * table is full.
 */
int pagemap_provider_register(const struct pagemap_provider_ops *ops)
{
	size_t i;

	for (i = 0; i < PROVIDERS_MAX && providers[i]; i++) {
		if (providers[i] == ops)
			return 0;
		if (!strcmp(providers[i]->name, ops->name))
			return -EEXIST;
	}
	if (i == PROVIDERS_MAX)
		return -ENOSPC;
	providers[i] = ops;
	return 0;
}

/**
 * pagemap_provider_find() - Look up a provider by name
 * @name: Provider name, e.g. "sim"
 *
 * Return: the provider's ops, or NULL if there is no such provider.
 */
const struct pagemap_provider_ops *pagemap_provider_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < PROVIDERS_MAX && providers[i]; i++)
		if (!strcmp(providers[i]->name, name))
			return providers[i];
	return NULL;
}

/**
 * pagemap_config_validate() - Check a device configuration
 * @cfg: The configuration
 *
 * Return: 0, or -EINVAL for an empty or unterminated name, an unknown
 * provider, an unterminated node, driver or bus, or a capacity that is zero or not a multiple of 4 KiB.
 */
int pagemap_config_validate(const struct pagemap_config *cfg)
{
	if (!cfg || !cfg->name[0] || !memchr(cfg->name, 0, sizeof(cfg->name)))
		return -EINVAL;
	if (!memchr(cfg->provider, 0, sizeof(cfg->provider)) ||
	    !pagemap_provider_find(cfg->provider))
		return -EINVAL;
	if (!memchr(cfg->node, 0, sizeof(cfg->node)) ||
	    !memchr(cfg->driver, 0, sizeof(cfg->driver)) || !memchr(cfg->bus, 0, sizeof(cfg->bus)))
		return -EINVAL;
	if (!cfg->capacity || cfg->capacity % PAGE_SIZE_4K)
		return -EINVAL;
	return 0;
}

/**
 * pagemap_create() - Create a device's pagemap
 * @cfg: Validated configuration (copied)
 * @id: Device id
 * @cache: Pool cache to park the pool in when idle
 * @out: Receives the pagemap
 *
 * The pool itself is created by the first pagemap_get().
 *
 * Return: 0, -EINVAL for a bad configuration, -ENOMEM.
 */
int pagemap_create(const struct pagemap_config *cfg, int id, struct pagemap_cache *cache,
		   struct pagemap **out)
{
	struct pagemap *pm;
	int err;

	err = pagemap_config_validate(cfg);
	if (err)
		return err;
	if (!cache || !out || id < 0 || id >= PAGEMAP_MAX_DEVICES)
		return -EINVAL;
	pm = mem_zalloc(sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	pm->id = id;
	pm->cfg = *cfg;
	pm->ops = pagemap_provider_find(cfg->provider);
	pm->cache = cache;
	pm->bound = true;
	pthread_mutex_init(&pm->lock, NULL);
	TAILQ_INIT(&pm->lru);
	*out = pm;
	return 0;
}

/**
 * pagemap_destroy() - Destroy a pagemap and its pool
 * @pm: The pagemap; it must have no users and no allocations left
 */
void pagemap_destroy(struct pagemap *pm)
{
	if (!pm)
		return;
	pthread_mutex_lock(&pm->cache->lock);
	if (pm->idle) {
		TAILQ_REMOVE(&pm->cache->idle, pm, cache_link);
		pm->idle = false;
	}
	pthread_mutex_unlock(&pm->cache->lock);
	if (pm->pool)
		pm->ops->destroy(pm->pool);
	pthread_mutex_destroy(&pm->lock);
	mem_free(pm);
}

/**
 * pagemap_get() - Attach a user to a device
 * @pm: The device
 *
 * Creates the pool on first use, or takes the parked one from the cache.
 *
 * Return: 0, or the provider's error creating the pool (-ENOMEM, -EINVAL).
 */
int pagemap_get(struct pagemap *pm)
{
	int err = 0;

	pthread_mutex_lock(&pm->cache->lock);
	pthread_mutex_lock(&pm->lock);
	if (!pm->pool) {
		err = pm->ops->create(&pm->cfg, &pm->pool);
		if (err) {
			pm->pool = NULL;
			goto out;
		}
	}
	if (pm->idle) {
		TAILQ_REMOVE(&pm->cache->idle, pm, cache_link);
		pm->idle = false;
	}
	pm->users++;
out:
	pthread_mutex_unlock(&pm->lock);
	pthread_mutex_unlock(&pm->cache->lock);
	return err;
}

/**
 * pagemap_put() - Detach a user; the last one parks the pool in the cache
 * @pm: The device
 */
void pagemap_put(struct pagemap *pm)
{
	pthread_mutex_lock(&pm->cache->lock);
	pthread_mutex_lock(&pm->lock);
	if (pm->users && !--pm->users && pm->pool && !pm->idle) {
		TAILQ_INSERT_TAIL(&pm->cache->idle, pm, cache_link);
		pm->idle = true;
	}
	pthread_mutex_unlock(&pm->lock);
	pthread_mutex_unlock(&pm->cache->lock);
}

/**
 * pagemap_devmem_alloc() - Allocate device memory
 * @pm: The device
 * @size: Bytes; a power of two of at least 4 KiB
 * @owner: The range that will hold the data (for eviction), or NULL
 * @out: Receives the allocation, holding one reference
 *
 * A fresh allocation goes to the most recently used end of the LRU list.
 *
 * Return: 0, -EINVAL for a bad size, -ENODEV if the device is unbound or
 * has no pool (no user attached), -ENOSPC when the device is full, -ENOMEM.
 */
int pagemap_devmem_alloc(struct pagemap *pm, uint64_t size, void *owner, struct devmem **out)
{
	struct devmem *dm;
	int err;

	if (!pm || !out || size < PAGE_SIZE_4K || (size & (size - 1)))
		return -EINVAL;
	dm = mem_zalloc(sizeof(*dm));
	if (!dm)
		return -ENOMEM;
	pthread_mutex_lock(&pm->lock);
	if (!pm->bound || !pm->pool) {
		err = -ENODEV;
		goto err;
	}
	err = pm->ops->alloc(pm->pool, size, &dm->dev_off);
	if (err)
		goto err;
	dm->pm = pm;
	dm->size = size;
	dm->refcount = 1;
	dm->owner = owner;
	pm->used += size;
	pm->nallocs++;
	TAILQ_INSERT_TAIL(&pm->lru, dm, lru_link);
	dm->on_lru = true;
	pthread_mutex_unlock(&pm->lock);
	*out = dm;
	return 0;
err:
	pthread_mutex_unlock(&pm->lock);
	mem_free(dm);
	return err;
}

/**
 * devmem_get() - Take a reference on an allocation
 * @dm: The allocation
 *
 * Return: @dm.
 */
struct devmem *devmem_get(struct devmem *dm)
{
	pthread_mutex_lock(&dm->pm->lock);
	dm->refcount++;
	pthread_mutex_unlock(&dm->pm->lock);
	return dm;
}

/**
 * devmem_put() - Drop a reference; the last one returns the memory
 * @dm: The allocation, or NULL
 */
void devmem_put(struct devmem *dm)
{
	struct pagemap *pm;

	if (!dm)
		return;
	pm = dm->pm;
	pthread_mutex_lock(&pm->lock);
	if (--dm->refcount) {
		pthread_mutex_unlock(&pm->lock);
		return;
	}
	if (dm->on_lru)
		TAILQ_REMOVE(&pm->lru, dm, lru_link);
	pm->ops->release(pm->pool, dm->dev_off, dm->size);
	pm->used -= dm->size;
	pm->nallocs--;
	pthread_mutex_unlock(&pm->lock);
	if (pm->release_cb)
		pm->release_cb(dm);
	mem_free(dm);
}

/**
 * pagemap_devmem_touch() - Mark an allocation most recently used
 * @dm: The allocation (NULL is ignored)
 */
void pagemap_devmem_touch(struct devmem *dm)
{
	struct pagemap *pm;

	if (!dm)
		return;
	pm = dm->pm;
	pthread_mutex_lock(&pm->lock);
	if (dm->on_lru) {
		TAILQ_REMOVE(&pm->lru, dm, lru_link);
		TAILQ_INSERT_TAIL(&pm->lru, dm, lru_link);
	}
	pthread_mutex_unlock(&pm->lock);
}

/**
 * pagemap_devmem_set_owner() - Record which range holds an allocation's data
 * @dm: The allocation
 * @owner: The range, or NULL when the data is going away (takes it off the
 *         LRU list, so eviction no longer sees it)
 */
void pagemap_devmem_set_owner(struct devmem *dm, void *owner)
{
	struct pagemap *pm = dm->pm;

	pthread_mutex_lock(&pm->lock);
	dm->owner = owner;
	if (!owner && dm->on_lru) {
		TAILQ_REMOVE(&pm->lru, dm, lru_link);
		dm->on_lru = false;
	} else if (owner && !dm->on_lru) {
		TAILQ_INSERT_TAIL(&pm->lru, dm, lru_link);
		dm->on_lru = true;
	}
	pthread_mutex_unlock(&pm->lock);
}

/**
 * devmem_map() - CPU pointer to part of an allocation
 * @dm: The allocation
 * @off: Offset inside it
 * @len: Length
 *
 * Return: the pointer, or NULL when out of bounds or the provider has no
 * CPU view of its memory.
 */
void *devmem_map(struct devmem *dm, uint64_t off, uint64_t len)
{
	if (off > dm->size || len > dm->size - off)
		return NULL;
	return dm->pm->ops->map(dm->pm->pool, dm->dev_off + off, len);
}

/**
 * pagemap_unbind() - Take a device offline
 * @pm: The device
 *
 * New allocations fail with -ENODEV from now on. The caller evacuates what
 * the device holds (migrate_evacuate_device()).
 *
 * Return: 0, or -EALREADY if it was already unbound.
 */
int pagemap_unbind(struct pagemap *pm)
{
	int err = 0;

	pthread_mutex_lock(&pm->lock);
	if (!pm->bound)
		err = -EALREADY;
	pm->bound = false;
	pthread_mutex_unlock(&pm->lock);
	return err;
}

/**
 * pagemap_rebind() - Bring an unbound device back online, empty
 * @pm: The device
 *
 * Return: 0, -EALREADY if it is bound, -EBUSY if allocations remain (the
 * evacuation has not finished).
 */
int pagemap_rebind(struct pagemap *pm)
{
	int err = 0;

	pthread_mutex_lock(&pm->lock);
	if (pm->bound)
		err = -EALREADY;
	else if (pm->nallocs)
		err = -EBUSY;
	else
		pm->bound = true;
	pthread_mutex_unlock(&pm->lock);
	return err;
}

/**
 * pagemap_bound() - Whether a device is online
 * @pm: The device
 *
 * Return: true when bound.
 */
bool pagemap_bound(struct pagemap *pm)
{
	bool bound;

	pthread_mutex_lock(&pm->lock);
	bound = pm->bound;
	pthread_mutex_unlock(&pm->lock);
	return bound;
}

/**
 * pagemap_usage() - A consistent snapshot of a device's usage
 * @pm: The device
 * @capacity: Receives the capacity in bytes (may be NULL)
 * @used: Receives the bytes allocated (may be NULL)
 * @nallocs: Receives the number of allocations (may be NULL)
 */
void pagemap_usage(struct pagemap *pm, uint64_t *capacity, uint64_t *used, uint64_t *nallocs)
{
	pthread_mutex_lock(&pm->lock);
	if (capacity)
		*capacity = pm->cfg.capacity;
	if (used)
		*used = pm->used;
	if (nallocs)
		*nallocs = pm->nallocs;
	pthread_mutex_unlock(&pm->lock);
}

/**
 * pagemap_has_room() - Whether a device could take @size bytes without
 * evicting (bound, and enough free bytes)
 * @pm: The device
 * @size: Bytes
 *
 * Return: true if an allocation of @size is likely to succeed; fragmentation
 * may still make it fail.
 */
bool pagemap_has_room(struct pagemap *pm, uint64_t size)
{
	bool room;

	pthread_mutex_lock(&pm->lock);
	room = pm->bound && pm->pool && pm->cfg.capacity - pm->used >= size;
	pthread_mutex_unlock(&pm->lock);
	return room;
}

/**
 * pagemap_cache_init() - Initialize an empty pool cache
 * @c: The cache
 */
void pagemap_cache_init(struct pagemap_cache *c)
{
	pthread_mutex_init(&c->lock, NULL);
	TAILQ_INIT(&c->idle);
}

/**
 * pagemap_cache_fini() - Tear down a cache; its pagemaps must be destroyed
 * @c: The cache
 */
void pagemap_cache_fini(struct pagemap_cache *c)
{
	pthread_mutex_destroy(&c->lock);
}

/**
 * pagemap_cache_shrink() - Destroy every parked pool
 * @c: The cache
 *
 * A pool that has gained a user since it was parked is not on the list; one
 * whose allocations are still referenced stays parked for a later shrink.
 *
 * Return: the number of pools destroyed.
 */
unsigned int pagemap_cache_shrink(struct pagemap_cache *c)
{
	struct pagemap *pm, *next;
	unsigned int n = 0;

	pthread_mutex_lock(&c->lock);
	TAILQ_FOREACH_SAFE(pm, &c->idle, cache_link, next) {
		pthread_mutex_lock(&pm->lock);
		/* A pool with allocations still referenced stays parked. */
		if (!pm->users && !pm->nallocs) {
			TAILQ_REMOVE(&c->idle, pm, cache_link);
			pm->idle = false;
			pm->ops->destroy(pm->pool);
			pm->pool = NULL;
			n++;
		}
		pthread_mutex_unlock(&pm->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}
