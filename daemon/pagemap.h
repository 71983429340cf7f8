/* SPDX-License-Identifier: MIT */
#ifndef GSVM_PAGEMAP_H
#define GSVM_PAGEMAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

/* Host RAM as a location; device ids are 0..n-1. */
#define LOC_HOST (-1)
/* No location (no preferred location set). */
#define LOC_NONE (-2)
/* Devices are named in 64-bit masks (accessed-by sets, replicas). */
#define PAGEMAP_MAX_DEVICES 64
#define PAGEMAP_NAME_MAX 64
#define PAGEMAP_PROVIDER_MAX 16
#define PAGEMAP_NODE_MAX 64
#define PAGEMAP_DRIVER_MAX 32
#define PAGEMAP_BUS_MAX 64

/**
 * struct pagemap_config - What a device is, as configured
 * @name: Device name, e.g. "sim0"
 * @provider: Provider name, e.g. "sim"
 * @capacity: Device memory in bytes
 * @bandwidth: Copy bandwidth model in bytes/s for providers that model one
 *             (sim); 0 means as fast as memcpy
 * @latency_us: Fixed cost per copy in microseconds (sim); 0 means none
 * @node: The device node of providers that open one (drm: "/dev/dri/card0");
 *        "" for sim
 * @driver: The driver behind it, for display ("sim", "vgem", "virtio_gpu")
 * @bus: Where the device sits, for display ("pci:0000:00:02.0", "-" for sim)
 */
struct pagemap_config {
	char name[PAGEMAP_NAME_MAX];
	char provider[PAGEMAP_PROVIDER_MAX];
	uint64_t capacity;
	uint64_t bandwidth;
	uint32_t latency_us;
	char node[PAGEMAP_NODE_MAX];
	char driver[PAGEMAP_DRIVER_MAX];
	char bus[PAGEMAP_BUS_MAX];
};

/**
 * struct pagemap_provider_ops - The seam between the pagemap layer and a device
 *
 * A provider owns a device's memory pool. Offsets are byte offsets into the
 * pool. All callbacks return 0 or a negative errno unless stated.
 */
struct pagemap_provider_ops {
	/** @name: Provider name as used in configuration ("sim"). */
	const char *name;
	/**
	 * @create: Create a pool for @cfg and store it in @pool.
	 * Return: 0, -EINVAL for a bad configuration, -ENOMEM.
	 */
	int (*create)(const struct pagemap_config *cfg, void **pool);
	/** @destroy: Release a pool and all its memory. */
	void (*destroy)(void *pool);
	/**
	 * @alloc: Allocate @size bytes of device memory (a power of two, at
	 * least 4 KiB) and store its offset in @dev_off. The contents are
	 * undefined: users write every byte before reading any.
	 * Return: 0 or -ENOSPC when no block is free.
	 */
	int (*alloc)(void *pool, uint64_t size, uint64_t *dev_off);
	/** @release: Free an allocation made by @alloc. */
	void (*release)(void *pool, uint64_t dev_off, uint64_t size);
	/**
	 * @map: A CPU pointer to [@dev_off, @dev_off + @len) of device memory,
	 * valid for the pool's lifetime, or NULL if the device has no CPU view.
	 */
	void *(*map)(void *pool, uint64_t dev_off, uint64_t len);
	/** @copy_to_dev: Copy @len bytes from host @src to device memory. */
	int (*copy_to_dev)(void *pool, uint64_t dev_off, const void *src, uint64_t len);
	/**
	 * @copy_fd_to_dev: Optional: copy @len bytes at @off of file @fd
	 * (a client's memfd) to device memory, reading the file rather than a
	 * mapping of it (no page-table work in gsvmd); holes read as zeros.
	 */
	int (*copy_fd_to_dev)(void *pool, uint64_t dev_off, int fd, uint64_t off, uint64_t len);
	/** @copy_to_host: Copy @len bytes of device memory to host @dst. */
	int (*copy_to_host)(void *pool, void *dst, uint64_t dev_off, uint64_t len);
	/**
	 * @copy_peer: Copy @len bytes from another pool of the same provider
	 * straight into this one, without a host bounce buffer.
	 */
	int (*copy_peer)(void *dst_pool, uint64_t dst_off, void *src_pool, uint64_t src_off,
			 uint64_t len);
	/** @clear: Zero @len bytes of device memory. */
	int (*clear)(void *pool, uint64_t dev_off, uint64_t len);
};

extern const struct pagemap_provider_ops sim_provider_ops;
/* In gsvmd only (daemon/drmdev.c), registered with pagemap_provider_register(). */
extern const struct pagemap_provider_ops drm_provider_ops;

struct pagemap;

/**
 * struct devmem - One device memory allocation
 * @pm: The pagemap it was carved from
 * @dev_off: Offset in the device pool
 * @size: Bytes (a power of two)
 * @refcount: The owner holds one reference, each in-flight user another;
 *            the memory returns to the pool when the last one goes
 * @timeslice_end: Clock time (ns) before which a CPU fault may not take the
 *                 data back to host (migration livelock guard)
 * @lru_link: Position in the pagemap's LRU list (least recently used first)
 * @on_lru: Whether @lru_link is linked
 * @owner: The SVM range whose data it holds (for eviction), or NULL
 * @replica: It holds a read-only copy of the range, not its data
 * @next_replica: The range's next replica
 * @stamp: The operation that last placed data in it; eviction on behalf of
 *         that operation skips it, so an operation never evicts its own work
 * @charged: The client whose device-memory account it is charged to, or
 *           NULL; uncharged when the memory returns to the pool
 *
 * @lru_link, @on_lru and @owner are protected by the pagemap's lock;
 * @timeslice_end, @replica, @next_replica and @stamp by the owning client's
 * driver lock (they change while the range is busy). Eviction, which holds
 * only the pagemap's lock, also reads @timeslice_end, @replica and @stamp:
 * they are written with __atomic stores and read there with __atomic loads
 * (relaxed: a stale value only picks another victim).
 */
struct devmem {
	struct pagemap *pm;
	uint64_t dev_off;
	uint64_t size;
	int refcount;
	uint64_t timeslice_end;
	TAILQ_ENTRY(devmem) lru_link;
	bool on_lru;
	void *owner;
	bool replica;
	struct devmem *next_replica;
	uint64_t stamp;
	void *charged;
};

TAILQ_HEAD(devmem_list, devmem);

/**
 * struct pagemap - A device's memory, as the core sees it
 * @id: Device id (index in the core's device table)
 * @cfg: Configuration
 * @ops: Provider ops
 * @cache: The cache that keeps the pool while nobody uses the device
 * @lock: Protects the fields below and the devmem fields noted above
 * @pool: Provider pool, NULL until the first user arrives or after a shrink
 * @users: Attached users (clients)
 * @bound: Online; new allocations fail with -ENODEV while unbound
 * @idle: The pool is kept in @cache (no users)
 * @cache_link: Link in the cache's idle list
 * @used: Bytes allocated
 * @nallocs: Live allocations
 * @lru: Allocations owned by ranges, least recently used first
 * @release_cb: Called (without the lock) when an allocation returns to the
 *              pool, before it is freed; for accounting
 */
struct pagemap {
	int id;
	struct pagemap_config cfg;
	const struct pagemap_provider_ops *ops;
	struct pagemap_cache *cache;
	pthread_mutex_t lock;
	void *pool;
	unsigned int users;
	bool bound;
	bool idle;
	TAILQ_ENTRY(pagemap) cache_link;
	uint64_t used;
	uint64_t nallocs;
	struct devmem_list lru;
	void (*release_cb)(struct devmem *dm);
};

/**
 * struct pagemap_cache - Pools kept for reuse after their last user left
 * @lock: Protects @idle and every pagemap's @idle flag; taken before a
 *        pagemap's lock
 * @idle: Pagemaps whose pool is idle
 */
struct pagemap_cache {
	pthread_mutex_t lock;
	TAILQ_HEAD(, pagemap) idle;
};

int pagemap_provider_register(const struct pagemap_provider_ops *ops);
const struct pagemap_provider_ops *pagemap_provider_find(const char *name);
int pagemap_config_validate(const struct pagemap_config *cfg);
int pagemap_create(const struct pagemap_config *cfg, int id, struct pagemap_cache *cache,
		   struct pagemap **out);
void pagemap_destroy(struct pagemap *pm);
int pagemap_get(struct pagemap *pm);
void pagemap_put(struct pagemap *pm);
int pagemap_devmem_alloc(struct pagemap *pm, uint64_t size, void *owner, struct devmem **out);
struct devmem *devmem_get(struct devmem *dm);
void devmem_put(struct devmem *dm);
void pagemap_devmem_touch(struct devmem *dm);
void pagemap_devmem_set_owner(struct devmem *dm, void *owner);
void *devmem_map(struct devmem *dm, uint64_t off, uint64_t len);
int pagemap_unbind(struct pagemap *pm);
int pagemap_rebind(struct pagemap *pm);
bool pagemap_bound(struct pagemap *pm);
void pagemap_usage(struct pagemap *pm, uint64_t *capacity, uint64_t *used, uint64_t *nallocs);
bool pagemap_has_room(struct pagemap *pm, uint64_t size);

void pagemap_cache_init(struct pagemap_cache *c);
void pagemap_cache_fini(struct pagemap_cache *c);
unsigned int pagemap_cache_shrink(struct pagemap_cache *c);

#endif
