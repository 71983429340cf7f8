/* SPDX-License-Identifier: MIT */
#ifndef GSVM_SVM_H
#define GSVM_SVM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include "pagemap.h"
#include "vamap.h"

#define SVM_PAGE_SIZE 4096ULL
#define SVM_PAGE_SHIFT 12
#define SVM_MAX_CHUNKS 8

/**
 * struct svm_config - Range tracker knobs
 * @notifier_size: Size of a notifier's interval; a power of two (512 MiB)
 * @chunk_sizes: Range sizes to try, largest first; powers of two from 4 KiB
 *               up to @notifier_size (2 MiB, 64 KiB, 4 KiB)
 * @nchunks: Entries in @chunk_sizes
 */
struct svm_config {
	uint64_t notifier_size;
	uint64_t chunk_sizes[SVM_MAX_CHUNKS];
	unsigned int nchunks;
};

void svm_config_default(struct svm_config *cfg);
int svm_config_validate(const struct svm_config *cfg);

/**
 * struct svm_bo - A backing object: one client allocation's host memory
 * @node: Link in the svm's object tree
 * @id: Object id as used in VA map mappings (non-zero)
 * @size: Bytes
 * @host: gsvmd's CPU view of the object's host pages
 * @priv: The fault shim's data for the object (its memfd)
 * @nranges: Ranges backed by the object; it cannot go while there are any
 */
struct svm_bo {
	RB_ENTRY(svm_bo) node;
	uint64_t id;
	uint64_t size;
	void *host;
	void *priv;
	uint64_t nranges;
};

struct svm;
struct svm_range;

/**
 * struct svm_policy_state - What a migration policy remembers of a range
 * @window_start: Start of the current thrash window (clock ns)
 * @stay_until: A throttled range stays where it is until then (clock ns)
 * @pin_seen: Last access that found the range pinned (clock ns)
 * @count: Migrations in the current window
 * @throttles: Times the range was throttled since it last was quiet
 * @throttled: The range is throttled
 * @pinned: The range is pinned where it is: devices access it remotely
 */
struct svm_policy_state {
	uint64_t window_start;
	uint64_t stay_until;
	uint64_t pin_seen;
	uint32_t count;
	uint16_t throttles;
	uint8_t throttled;
	uint8_t pinned;
};

/**
 * struct svm_mm_ops - The fault shim: what the core asks of a client's
 * address space
 *
 * Addresses are the client's virtual addresses. All return 0 or a negative
 * errno; -EAGAIN means "an address-space change is being reported, try
 * again shortly" and callers retry.
 */
struct svm_mm_ops {
	/** @protect: Write-protect a range so writers wait. */
	int (*protect)(void *mm, uint64_t addr, uint64_t len);
	/** @unprotect: Lift write-protection and wake the waiting writers. */
	int (*unprotect)(void *mm, uint64_t addr, uint64_t len);
	/**
	 * @release: Drop the host copy of [@offset, @offset + @len) of @bo,
	 * after the data went to a device; the pages read as missing from then.
	 */
	int (*release)(void *mm, struct svm_bo *bo, uint64_t offset, uint64_t len);
	/**
	 * @install: Atomically fill missing pages of [@addr, @addr + @len)
	 * from @src (which is not in the client's memory) and wake the threads
	 * waiting on them. Pages already present are skipped, not overwritten.
	 * The caller commits the pages' placement before, so a woken thread
	 * never sees a stale one.
	 * Return: 0, -ENOENT if the range is no longer mapped, -EAGAIN.
	 */
	int (*install)(void *mm, uint64_t addr, const void *src, uint64_t len);
	/**
	 * @fill_zero: Atomically fill the missing pages of [@addr, @addr +
	 * @len), backed by @bo at @offset, with zeros and wake threads waiting
	 * on them; present pages are left alone.
	 * Return: 0, -ENOENT, -EAGAIN.
	 */
	int (*fill_zero)(void *mm, uint64_t addr, struct svm_bo *bo, uint64_t offset, uint64_t len);
	/**
	 * @host_fd: Optional: a file descriptor whose contents are @bo's host
	 * pages (its memfd), for providers that copy from a file; -1 if none.
	 */
	int (*host_fd)(void *mm, struct svm_bo *bo);
	/**
	 * @range_idle: A range that was busy became idle; faults parked on it
	 * can be retried (optional).
	 */
	void (*range_idle)(void *mm);
};

enum svm_range_flags {
	SVM_RANGE_UNMAPPED = 1 << 0,	/* (part of) it was unmapped */
	SVM_RANGE_PARTIAL = 1 << 1,	/* only part of it was unmapped */
	SVM_RANGE_IN_GC = 1 << 2,	/* queued for the garbage collector */
	SVM_RANGE_STALE = 1 << 3,	/* invalidated while it had replicas */
};

/**
 * struct svm_notifier - An aligned interval of the address space that has
 * ranges
 * @node: Link in the svm's notifier tree
 * @start: First address (aligned to the notifier size)
 * @end: One past the last address
 * @seq: Invalidation sequence number, bumped by every invalidation that
 *       touches the interval; under the notifier lock
 * @ranges: Ranges ordered by address
 * @range_list: The same ranges as a list, in the same order, for walks that
 *              remove ranges
 * @nranges: Number of ranges
 * @svm: The client it belongs to
 * @index: Point-lookup index, one entry per block of svm->block_size bytes:
 *         0, a range that covers the whole block, or (tagged with bit 0) a
 *         table of the block's pages for ranges smaller than a block
 */
struct svm_notifier {
	RB_ENTRY(svm_notifier) node;
	struct svm *svm;
	uintptr_t *index;
	uint64_t start;
	uint64_t end;
	uint64_t seq;
	RB_HEAD(svm_range_tree, svm_range) ranges;
	TAILQ_HEAD(, svm_range) range_list;
	uint64_t nranges;
};

/**
 * struct svm_range - A chunk of a client's address space that a device uses
 * @node: Link in the notifier's tree
 * @link: Link in the notifier's list
 * @gc_link: Link in the svm's garbage-collector list
 * @notifier: The notifier it lives in
 * @start: First address (aligned to its size)
 * @end: One past the last address
 * @bo: Backing object of the range (from the VA map)
 * @obj_offset: Offset of @start in @bo
 * @notifier_seq: Notifier sequence number when the range's placement was
 *                last committed
 * @dm: Device allocation holding (some of) the range's pages, or NULL
 * @flags: &enum svm_range_flags; under the notifier lock
 * @busy: A migration or device kernel is using the range; under the driver
 *        lock. A busy range is never removed, so it may be used without locks.
 * @ndev: Pages present in @dm
 * @policy: Per-range state owned by the migration policy
 * @replicas: Read-only copies of the range on other devices (a list through
 *            devmem->next_replica), valid while nothing writes the range
 * @replica_mask: Devices holding a replica
 * @replica_wp: The range's host pages are write-protected because replicas
 *              exist: a CPU write faults and drops them first
 * @on_dev: Bitmap of pages present in @dm; the other pages are on host
 *
 * @dm, @ndev and @on_dev change only while the range is BUSY, and are
 * committed under the notifier lock.
 */
struct svm_range {
	RB_ENTRY(svm_range) node;
	TAILQ_ENTRY(svm_range) link;
	TAILQ_ENTRY(svm_range) gc_link;
	struct svm_notifier *notifier;
	uint64_t start;
	uint64_t end;
	struct svm_bo *bo;
	uint64_t obj_offset;
	uint64_t notifier_seq;
	struct devmem *dm;
	uint32_t flags;
	bool busy;
	uint32_t ndev;
	struct svm_policy_state policy;
	struct devmem *replicas;
	uint64_t replica_mask;
	bool replica_wp;
	uint64_t on_dev[];
};

RB_HEAD(svm_notifier_tree, svm_notifier);
RB_HEAD(svm_bo_tree, svm_bo);

/**
 * struct svm - One client's shared virtual memory state
 * @cfg: Range tracker knobs
 * @mm_ops: The fault shim
 * @mm: The fault shim's handle for this client's address space
 * @lock: The driver lock: serializes changes to the VA map, the object
 *        tree and the range trees (insertion, removal)
 * @busy_cv: Signalled (with @lock) when a range stops being busy
 * @notifier_lock: Protects sequence numbers, range flags, the GC list and
 *                 range placement commits; taken inside @lock when both are
 *                 held; never held across a copy
 * @va: The VA attribute map: registrations (backing object + offset) and
 *      advice
 * @bos: Backing objects by id
 * @notifiers: Notifiers by address
 * @gc_list: Ranges waiting for the garbage collector
 * @nranges: Number of ranges
 * @nnotifiers: Number of notifiers
 * @block_size: Granularity of the notifiers' point-lookup index
 * @nhash: Notifiers by address, an open-addressing hash for point lookups
 * @nhash_size: Slots in @nhash (a power of two, or 0)
 * @core_link: Link in the core's client list
 * @owner: The daemon's client object, for its own use
 * @account: The user's account, or NULL (no per-user limits)
 * @dev_bytes: Device memory charged to this client
 * @allocations: Allocations charged to this client
 */
struct svm {
	struct svm_config cfg;
	const struct svm_mm_ops *mm_ops;
	void *mm;
	pthread_mutex_t lock;
	pthread_cond_t busy_cv;
	pthread_mutex_t notifier_lock;
	struct vamap va;
	struct svm_bo_tree bos;
	struct svm_notifier_tree notifiers;
	TAILQ_HEAD(, svm_range) gc_list;
	uint64_t nranges;
	uint64_t nnotifiers;
	uint64_t block_size;
	struct svm_notifier **nhash;
	uint64_t nhash_size;
	TAILQ_ENTRY(svm) core_link;
	void *owner;
	struct account *account;
	atomic_uint_fast64_t dev_bytes;
	atomic_uint_fast64_t allocations;
};

int svm_init(struct svm *svm, const struct svm_config *cfg, const struct svm_mm_ops *mm_ops,
	     void *mm);
void svm_fini(struct svm *svm);

int svm_bo_add(struct svm *svm, uint64_t id, uint64_t size, void *host, void *priv);
struct svm_bo *svm_bo_find(struct svm *svm, uint64_t id);
struct svm_bo *svm_bo_first(struct svm *svm);
struct svm_bo *svm_bo_next(struct svm *svm, struct svm_bo *bo);
int svm_bo_remove(struct svm *svm, uint64_t id);
bool svm_bo_mapped(struct svm *svm, uint64_t id);

int svm_register(struct svm *svm, uint64_t start, uint64_t len, uint64_t obj, uint64_t offset);
int svm_check_registered(struct svm *svm, uint64_t start, uint64_t len);

int svm_range_find_or_insert(struct svm *svm, uint64_t addr, struct svm_range **out);
struct svm_range *svm_range_find(struct svm *svm, uint64_t addr);
struct svm_range *svm_range_first(struct svm *svm, uint64_t start, uint64_t end);
struct svm_range *svm_range_next(struct svm *svm, struct svm_range *r);
void svm_range_remove(struct svm *svm, struct svm_range *r);
void *svm_range_host(struct svm *svm, struct svm_range *r, uint64_t addr);
uint64_t svm_range_npages(const struct svm_range *r);
bool svm_range_page_on_dev(const struct svm_range *r, uint64_t page);

void svm_notifier_lock(struct svm *svm);
void svm_notifier_unlock(struct svm *svm);
uint64_t svm_range_seq(struct svm *svm, struct svm_range *r);
bool svm_range_pages_valid(struct svm_range *r, uint64_t seq);
uint32_t svm_range_flags(struct svm *svm, const struct svm_range *r);

int svm_range_begin(struct svm *svm, struct svm_range *r, bool wait);
void svm_range_end(struct svm *svm, struct svm_range *r);

void svm_invalidate_unmap(struct svm *svm, uint64_t start, uint64_t end);
void svm_invalidate(struct svm *svm, uint64_t start, uint64_t end);
struct svm_range *svm_gc_next(struct svm *svm);
void svm_range_retire(struct svm *svm, struct svm_range *r);
bool svm_gc_pending(struct svm *svm);
void svm_gc_requeue(struct svm *svm, struct svm_range *r);

int svm_host_window(struct svm *svm, uint64_t addr, uint64_t *start, uint64_t *end);

/**
 * struct svm_run - A stretch of address space whose pages live in one place
 * @start: First address
 * @end: One past the last address
 * @loc: Device id or LOC_HOST
 * @replicas: Devices holding read-only replicas of it
 */
struct svm_run {
	uint64_t start;
	uint64_t end;
	int loc;
	uint64_t replicas;
};

void svm_locate(struct svm *svm, uint64_t start, uint64_t end, struct svm_run *runs, size_t max,
		size_t *n, uint64_t *total);

#endif
