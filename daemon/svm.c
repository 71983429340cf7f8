// SPDX-License-Identifier: MIT
/**
 * DOC: SVM range tracker
 *
 * Per client, the range tracker knows which parts of the address space a
 * device has used, in units called ranges, and whether their pages are valid.
 *
 * Registrations: a client registers allocations (a backing object, i.e. a
 * memfd, mapped at some address). They live in the VA attribute map
 * (&struct vamap), one mapping per allocation until advice splits it.
 *
 * Notifiers: the address space is cut into aligned intervals of
 * cfg.notifier_size (512 MiB by default). A notifier exists while it holds
 * ranges; it keeps them in a tree (O(log n) lookup) and in a list in the same
 * order (for walks that remove ranges). Notifiers themselves are in a tree.
 *
 * Point lookups do not walk the trees: ranges are aligned to their size
 * and sized from a short list of chunk sizes, so each notifier keeps a radix
 * index with one entry per 2 MiB block (a range covering the block, or a
 * table of the block's pages for smaller ranges), and notifiers are also in
 * a hash. Finding the range at an address is a hash probe plus two array
 * reads, whatever the number of ranges; the trees serve ordered walks.
 *
 * Ranges: created on a device fault at an address with the largest chunk size
 * (cfg.chunk_sizes, 2 MiB / 64 KiB / 4 KiB by default) whose aligned chunk
 * around the address lies inside one VA map mapping and overlaps no existing
 * range. The smallest chunk is one page, so a range can always be made.
 * A range's pages are either on host (in the backing object) or in its device
 * allocation; the on_dev bitmap says which.
 *
 * Sequence numbers: every invalidation (unmap, remove, remap) bumps the
 * sequence number of each notifier it touches. A migration reads the number
 * (svm_range_seq()) before copying and checks svm_range_pages_valid() under
 * the notifier lock before committing; if an invalidation came in between,
 * it backs out and the caller retries (-EAGAIN).
 *
 * Unmap and garbage collection: an unmap event marks the ranges it touches
 * UNMAPPED (PARTIAL when part of the range stays mapped) and queues them for
 * the garbage collector; nothing is freed on the event path. The collector
 * (migrate_collect()) destroys a whole range even when it was only partly
 * unmapped, after moving its still-mapped device pages back to host: ranges
 * are never split.
 *
 * Locking: the driver lock (svm->lock) serializes everything that changes the
 * VA map, the object tree or the range trees; the notifier lock protects the
 * sequence numbers, range flags, the GC list and placement commits, and is
 * taken inside the driver lock. The event path (svm_invalidate*()) takes only
 * the notifier lock, which is never held across a copy, so events are never
 * stuck behind a migration. A range marked busy (svm_range_begin()) is owned
 * by one migration or device kernel: it is not removed and its placement is
 * not changed by anyone else, so its owner may copy without holding a lock.
 * Unless stated, functions here expect the caller to hold the driver lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "rbtree.h"
#include "svm.h"

#define SVM_MM_END (1ULL << 57)
#define SVM_BLOCK_MAX (2ULL << 20)
#define SVM_BLOCK_PAGES (SVM_BLOCK_MAX / SVM_PAGE_SIZE)

/* The pages of one index block, for ranges smaller than a block. */
struct svm_subtable {
	struct svm_range *slot[SVM_BLOCK_PAGES];
	uint32_t used;
};

static int svm_range_cmp(const struct svm_range *a, const struct svm_range *b)
{
	return a->start < b->start ? -1 : a->start > b->start;
}

static int svm_notifier_cmp(const struct svm_notifier *a, const struct svm_notifier *b)
{
	return a->start < b->start ? -1 : a->start > b->start;
}

static int svm_bo_cmp(const struct svm_bo *a, const struct svm_bo *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

GSVM_RB_GENERATE_STATIC(svm_range_tree, svm_range, node, svm_range_cmp)
GSVM_RB_GENERATE_STATIC(svm_notifier_tree, svm_notifier, node, svm_notifier_cmp)
GSVM_RB_GENERATE_STATIC(svm_bo_tree, svm_bo, node, svm_bo_cmp)

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static bool range_overflows(uint64_t start, uint64_t len)
{
	return !len || start + len < start;
}

static bool page_aligned(uint64_t x)
{
	return !(x & (SVM_PAGE_SIZE - 1));
}

/**
 * svm_config_default() - The default range tracker knobs
 * @cfg: Receives 512 MiB notifiers and 2 MiB / 64 KiB / 4 KiB chunks
 */
void svm_config_default(struct svm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->notifier_size = 512ULL << 20;
	cfg->chunk_sizes[0] = 2ULL << 20;
	cfg->chunk_sizes[1] = 64ULL << 10;
	cfg->chunk_sizes[2] = 4ULL << 10;
	cfg->nchunks = 3;
}

/**
 * svm_config_validate() - Check range tracker knobs
 * @cfg: The knobs
 *
 * Return: 0, or -EINVAL unless the notifier size is a power of two of at
 * least a page and the chunk sizes are 1 to SVM_MAX_CHUNKS strictly
 * decreasing powers of two, none above the notifier size, the last one page.
 */
int svm_config_validate(const struct svm_config *cfg)
{
	unsigned int i;

	if (!cfg || !is_pow2(cfg->notifier_size) || cfg->notifier_size < SVM_PAGE_SIZE)
		return -EINVAL;
	if (!cfg->nchunks || cfg->nchunks > SVM_MAX_CHUNKS)
		return -EINVAL;
	for (i = 0; i < cfg->nchunks; i++) {
		if (!is_pow2(cfg->chunk_sizes[i]) || cfg->chunk_sizes[i] > cfg->notifier_size)
			return -EINVAL;
		if (i && cfg->chunk_sizes[i] >= cfg->chunk_sizes[i - 1])
			return -EINVAL;
	}
	if (cfg->chunk_sizes[cfg->nchunks - 1] != SVM_PAGE_SIZE)
		return -EINVAL;
	return 0;
}

/**
 * svm_init() - Initialize a client's SVM state
 * @svm: The state to initialize
 * @cfg: Range tracker knobs (copied)
 * @mm_ops: The fault shim
 * @mm: The fault shim's handle for the client's address space
 *
 * Return: 0, or -EINVAL for bad knobs or missing ops.
 */
int svm_init(struct svm *svm, const struct svm_config *cfg, const struct svm_mm_ops *mm_ops,
	     void *mm)
{
	int err;

	err = svm_config_validate(cfg);
	if (err)
		return err;
	if (!mm_ops || !mm_ops->protect || !mm_ops->unprotect || !mm_ops->release ||
	    !mm_ops->install || !mm_ops->fill_zero)
		return -EINVAL;
	memset(svm, 0, sizeof(*svm));
	err = vamap_init(&svm->va, SVM_PAGE_SIZE, SVM_MM_END - SVM_PAGE_SIZE);
	if (err)
		return err;
	svm->cfg = *cfg;
	svm->block_size = cfg->notifier_size < SVM_BLOCK_MAX ? cfg->notifier_size : SVM_BLOCK_MAX;
	svm->mm_ops = mm_ops;
	svm->mm = mm;
	pthread_mutex_init(&svm->lock, NULL);
	pthread_mutex_init(&svm->notifier_lock, NULL);
	pthread_cond_init(&svm->busy_cv, NULL);
	RB_INIT(&svm->bos);
	RB_INIT(&svm->notifiers);
	TAILQ_INIT(&svm->gc_list);
	return 0;
}

static uint64_t svm_index_len(const struct svm *svm)
{
	return svm->cfg.notifier_size / svm->block_size;
}

static void svm_notifier_free(struct svm *svm, struct svm_notifier *n)
{
	uint64_t i;

	for (i = 0; n->index && i < svm_index_len(svm); i++)
		if (n->index[i] & 1)
			mem_free((void *)(n->index[i] & ~(uintptr_t)1));
	mem_free(n->index);
	mem_free(n);
}

/**
 * svm_fini() - Free a client's SVM state
 * @svm: The state
 *
 * Ranges still present are freed without touching their device memory:
 * the caller must have released it (migrate_release_all()). Nothing may be
 * busy.
 */
void svm_fini(struct svm *svm)
{
	struct svm_notifier *n;
	struct svm_range *r;
	struct svm_bo *bo;

	while ((n = RB_MIN(svm_notifier_tree, &svm->notifiers))) {
		while ((r = TAILQ_FIRST(&n->range_list))) {
			if (r->bo)
				r->bo->nranges--;
			TAILQ_REMOVE(&n->range_list, r, link);
			RB_REMOVE(svm_range_tree, &n->ranges, r);
			mem_free(r);
		}
		RB_REMOVE(svm_notifier_tree, &svm->notifiers, n);
		svm_notifier_free(svm, n);
	}
	while ((bo = RB_MIN(svm_bo_tree, &svm->bos))) {
		RB_REMOVE(svm_bo_tree, &svm->bos, bo);
		mem_free(bo);
	}
	mem_free(svm->nhash);
	vamap_fini(&svm->va);
	pthread_cond_destroy(&svm->busy_cv);
	pthread_mutex_destroy(&svm->notifier_lock);
	pthread_mutex_destroy(&svm->lock);
}

/**
 * svm_bo_add() - Add a backing object
 * @svm: The client
 * @id: Non-zero id, unique in @svm
 * @size: Bytes, a non-zero multiple of the page size
 * @host: gsvmd's CPU view of the object
 * @priv: The fault shim's data for it
 *
 * Return: 0, -EINVAL, -EEXIST for a duplicate id, -ENOMEM.
 */
int svm_bo_add(struct svm *svm, uint64_t id, uint64_t size, void *host, void *priv)
{
	struct svm_bo *bo;

	if (!id || !size || !page_aligned(size) || !host)
		return -EINVAL;
	if (svm_bo_find(svm, id))
		return -EEXIST;
	bo = mem_zalloc(sizeof(*bo));
	if (!bo)
		return -ENOMEM;
	bo->id = id;
	bo->size = size;
	bo->host = host;
	bo->priv = priv;
	RB_INSERT(svm_bo_tree, &svm->bos, bo);
	return 0;
}

/**
 * svm_bo_find() - Look up a backing object
 * @svm: The client
 * @id: Its id
 *
 * Return: the object, or NULL.
 */
struct svm_bo *svm_bo_find(struct svm *svm, uint64_t id)
{
	struct svm_bo key = { .id = id };

	return RB_FIND(svm_bo_tree, &svm->bos, &key);
}

/**
 * svm_bo_first() - The backing object with the lowest id
 * @svm: The client
 *
 * Return: the object, or NULL when there is none.
 */
struct svm_bo *svm_bo_first(struct svm *svm)
{
	return RB_MIN(svm_bo_tree, &svm->bos);
}

/**
 * svm_bo_next() - The backing object after @bo in id order
 * @svm: The client
 * @bo: An object
 *
 * Return: the next object, or NULL.
 */
struct svm_bo *svm_bo_next(struct svm *svm, struct svm_bo *bo)
{
	(void)svm;
	return RB_NEXT(svm_bo_tree, &svm->bos, bo);
}

/**
 * svm_bo_mapped() - Whether any VA map mapping is backed by an object
 * @svm: The client
 * @id: The object's id
 *
 * Walks the mappings: there is one per allocation unless advice split them.
 *
 * Return: true if some mapping uses @id.
 */
bool svm_bo_mapped(struct svm *svm, uint64_t id)
{
	struct vamap_mapping *va;

	for (va = vamap_first(&svm->va, 0, SVM_MM_END); va; va = vamap_next(&svm->va, va))
		if (va->obj == id)
			return true;
	return false;
}

/**
 * svm_bo_remove() - Remove a backing object nothing uses any more
 * @svm: The client
 * @id: The object's id
 *
 * Return: 0, -ENOENT if there is no such object, -EBUSY while a mapping or a
 * range still uses it (unmap it and collect the ranges first).
 */
int svm_bo_remove(struct svm *svm, uint64_t id)
{
	struct svm_bo *bo = svm_bo_find(svm, id);

	if (!bo)
		return -ENOENT;
	if (bo->nranges || svm_bo_mapped(svm, id))
		return -EBUSY;
	RB_REMOVE(svm_bo_tree, &svm->bos, bo);
	mem_free(bo);
	return 0;
}

static bool svm_ranges_overlap(struct svm *svm, uint64_t start, uint64_t end)
{
	return svm_range_first(svm, start, end) != NULL;
}

/**
 * svm_register() - Register an allocation: map [@start, @start + @len) to
 * @obj at @offset
 * @svm: The client
 * @start: Client address, page aligned
 * @len: Bytes, page aligned
 * @obj: Backing object id
 * @offset: Offset in @obj, page aligned; the mapping must fit in @obj
 *
 * Return: 0, -EINVAL for bad arguments or an unknown object, -EEXIST if the
 * range overlaps a registration, -EBUSY if ranges of an old registration
 * there still wait for the garbage collector, -ENOMEM.
 */
int svm_register(struct svm *svm, uint64_t start, uint64_t len, uint64_t obj, uint64_t offset)
{
	struct vamap_op_map req = {
		.start = start,
		.len = len,
		.obj = obj,
		.offset = offset,
		.attrs = { .preferred_loc = LOC_NONE },
	};
	struct svm_bo *bo = svm_bo_find(svm, obj);

	if (range_overflows(start, len) || !page_aligned(start) || !page_aligned(len) ||
	    !page_aligned(offset))
		return -EINVAL;
	if (!bo || offset > bo->size || len > bo->size - offset)
		return -EINVAL;
	if (start < svm->va.mm_start || start + len > svm->va.mm_end)
		return -EINVAL;
	if (vamap_first(&svm->va, start, start + len))
		return -EEXIST;
	if (svm_ranges_overlap(svm, start, start + len))
		return -EBUSY;
	return vamap_map(&svm->va, &req);
}

/**
 * svm_check_registered() - Check that a client range is fully registered
 * @svm: The client
 * @start: First address
 * @len: Bytes
 *
 * Return: 0, -EINVAL for a zero or overflowing length, -EFAULT if some byte
 * is not inside a registered allocation.
 */
int svm_check_registered(struct svm *svm, uint64_t start, uint64_t len)
{
	uint64_t end = start + len, pos = start;
	struct vamap_mapping *va;

	if (range_overflows(start, len))
		return -EINVAL;
	for (va = vamap_first(&svm->va, start, end); va && pos < end;
	     va = vamap_next(&svm->va, va)) {
		if (va->start > pos || !va->obj)
			return -EFAULT;
		pos = va->start + va->len;
	}
	return pos >= end ? 0 : -EFAULT;
}

static uint64_t svm_nhash_slot(const struct svm *svm, uint64_t start)
{
	return ((start / svm->cfg.notifier_size) * 0x9e3779b97f4a7c15ULL) &
	       (svm->nhash_size - 1);
}

static struct svm_notifier *svm_notifier_find(struct svm *svm, uint64_t addr)
{
	uint64_t start = addr & ~(svm->cfg.notifier_size - 1), i;
	struct svm_notifier *n;

	if (!svm->nhash_size)
		return NULL;
	for (i = svm_nhash_slot(svm, start); (n = svm->nhash[i]); i = (i + 1) & (svm->nhash_size - 1))
		if (n->start == start)
			return n;
	return NULL;
}

static void svm_nhash_put(struct svm_notifier **table, uint64_t size, struct svm *svm,
			  struct svm_notifier *n)
{
	uint64_t i = ((n->start / svm->cfg.notifier_size) * 0x9e3779b97f4a7c15ULL) & (size - 1);

	while (table[i])
		i = (i + 1) & (size - 1);
	table[i] = n;
}

/* Make room in the notifier hash for one more; at most half full. */
static int svm_nhash_reserve(struct svm *svm)
{
	uint64_t size = svm->nhash_size ? svm->nhash_size : 8, i;
	struct svm_notifier **table;

	if ((svm->nnotifiers + 1) * 2 <= svm->nhash_size)
		return 0;
	while ((svm->nnotifiers + 1) * 2 > size)
		size *= 2;
	table = mem_calloc(size, sizeof(struct svm_notifier *));
	if (!table)
		return -ENOMEM;
	for (i = 0; i < svm->nhash_size; i++)
		if (svm->nhash[i])
			svm_nhash_put(table, size, svm, svm->nhash[i]);
	mem_free(svm->nhash);
	svm->nhash = table;
	svm->nhash_size = size;
	return 0;
}

/* Remove @n from the hash, shifting later entries of its cluster back. */
static void svm_nhash_remove(struct svm *svm, struct svm_notifier *n)
{
	uint64_t mask = svm->nhash_size - 1, i = svm_nhash_slot(svm, n->start), j, home;

	while (svm->nhash[i] != n)
		i = (i + 1) & mask;
	for (j = (i + 1) & mask; svm->nhash[j]; j = (j + 1) & mask) {
		home = svm_nhash_slot(svm, svm->nhash[j]->start);
		/* Move it back unless its home lies cyclically in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			svm->nhash[i] = svm->nhash[j];
			i = j;
		}
	}
	svm->nhash[i] = NULL;
}

/* The first range of @n that ends after @start, or NULL. */
static struct svm_range *svm_notifier_range_from(struct svm_notifier *n, uint64_t start)
{
	struct svm_range key = { .start = start }, *r, *prev;

	r = RB_NFIND(svm_range_tree, &n->ranges, &key);
	prev = r ? RB_PREV(svm_range_tree, &n->ranges, r) : RB_MAX(svm_range_tree, &n->ranges);
	if (prev && prev->end > start)
		return prev;
	return r;
}

static uintptr_t *svm_index_entry(struct svm *svm, struct svm_notifier *n, uint64_t addr)
{
	return &n->index[(addr - n->start) / svm->block_size];
}

/* Whether any range of @n overlaps [@s, @s + @size) (@s aligned to @size). */
static bool svm_index_overlaps(struct svm *svm, struct svm_notifier *n, uint64_t s,
			       uint64_t size)
{
	uint64_t a, first, last;
	struct svm_subtable *sub;
	uintptr_t e;

	if (!n)
		return false;
	if (size >= svm->block_size) {
		for (a = s; a < s + size; a += svm->block_size)
			if (*svm_index_entry(svm, n, a))
				return true;
		return false;
	}
	e = *svm_index_entry(svm, n, s);
	if (!(e & 1))
		return e != 0;
	sub = (struct svm_subtable *)(e & ~(uintptr_t)1);
	first = (s & (svm->block_size - 1)) >> SVM_PAGE_SHIFT;
	last = first + (size >> SVM_PAGE_SHIFT);
	for (a = first; a < last; a++)
		if (sub->slot[a])
			return true;
	return false;
}

/*
 * Enter @r into its notifier's index (or take it out, @r NULL in the slots).
 * Entering a range smaller than a block into an empty block uses @spare,
 * which the caller allocated; it is set to NULL when used.
 */
static void svm_index_set(struct svm *svm, struct svm_notifier *n, struct svm_range *r,
			  bool add, struct svm_subtable **spare)
{
	uint64_t size = r->end - r->start, a, first, last;
	uintptr_t *e = svm_index_entry(svm, n, r->start);
	struct svm_subtable *sub;

	if (size >= svm->block_size) {
		for (a = r->start; a < r->end; a += svm->block_size)
			*svm_index_entry(svm, n, a) = add ? (uintptr_t)r : 0;
		return;
	}
	if (add && !*e) {
		*e = (uintptr_t)*spare | 1;
		*spare = NULL;
	}
	sub = (struct svm_subtable *)(*e & ~(uintptr_t)1);
	first = (r->start & (svm->block_size - 1)) >> SVM_PAGE_SHIFT;
	last = first + (size >> SVM_PAGE_SHIFT);
	for (a = first; a < last; a++)
		sub->slot[a] = add ? r : NULL;
	if (add) {
		sub->used += (uint32_t)(last - first);
		return;
	}
	sub->used -= (uint32_t)(last - first);
	if (!sub->used) {
		mem_free(sub);
		*e = 0;
	}
}

/**
 * svm_range_find() - The range that contains @addr
 * @svm: The client
 * @addr: Client address
 *
 * Return: the range, or NULL.
 */
struct svm_range *svm_range_find(struct svm *svm, uint64_t addr)
{
	struct svm_notifier *n = svm_notifier_find(svm, addr);
	struct svm_subtable *sub;
	uintptr_t e;

	if (!n)
		return NULL;
	e = *svm_index_entry(svm, n, addr);
	if (!(e & 1))
		return (struct svm_range *)e;
	sub = (struct svm_subtable *)(e & ~(uintptr_t)1);
	return sub->slot[(addr & (svm->block_size - 1)) >> SVM_PAGE_SHIFT];
}

/**
 * svm_range_first() - The first range overlapping [@start, @end)
 * @svm: The client
 * @start: First address
 * @end: One past the last address
 *
 * Return: the range, or NULL.
 */
struct svm_range *svm_range_first(struct svm *svm, uint64_t start, uint64_t end)
{
	struct svm_notifier key = { .start = start & ~(svm->cfg.notifier_size - 1) }, *n;
	struct svm_range *r;

	if (start >= end)
		return NULL;
	for (n = RB_NFIND(svm_notifier_tree, &svm->notifiers, &key); n && n->start < end;
	     n = RB_NEXT(svm_notifier_tree, &svm->notifiers, n)) {
		r = svm_notifier_range_from(n, start);
		if (r)
			return r->start < end ? r : NULL;
	}
	return NULL;
}

/**
 * svm_range_next() - The range after @r in address order
 * @svm: The client
 * @r: A range
 *
 * Return: the next range, or NULL.
 */
struct svm_range *svm_range_next(struct svm *svm, struct svm_range *r)
{
	struct svm_notifier *n = r->notifier;
	struct svm_range *next = TAILQ_NEXT(r, link);

	(void)svm;
	while (!next) {
		n = RB_NEXT(svm_notifier_tree, &svm->notifiers, n);
		if (!n)
			return NULL;
		next = TAILQ_FIRST(&n->range_list);
	}
	return next;
}

static uint64_t svm_chunk_for(struct svm *svm, struct svm_notifier *n,
			      const struct vamap_mapping *va, uint64_t addr, uint64_t *start)
{
	unsigned int i;

	for (i = 0; i < svm->cfg.nchunks; i++) {
		uint64_t size = svm->cfg.chunk_sizes[i];
		uint64_t s = addr & ~(size - 1), e = s + size;

		if (s < va->start || e > va->start + va->len)
			continue;
		if (svm_index_overlaps(svm, n, s, size))
			continue;
		*start = s;
		return size;
	}
	return 0;
}

static struct svm_notifier *svm_notifier_create(struct svm *svm, uint64_t addr)
{
	struct svm_notifier *n = mem_zalloc(sizeof(*n));

	if (!n)
		return NULL;
	n->index = mem_calloc(svm_index_len(svm), sizeof(*n->index));
	if (!n->index) {
		mem_free(n);
		return NULL;
	}
	n->svm = svm;
	n->start = addr & ~(svm->cfg.notifier_size - 1);
	n->end = n->start + svm->cfg.notifier_size;
	RB_INIT(&n->ranges);
	TAILQ_INIT(&n->range_list);
	return n;
}

static void svm_range_link(struct svm *svm, struct svm_notifier *n, struct svm_range *r,
			   struct svm_subtable **spare)
{
	struct svm_range *next;

	svm_index_set(svm, n, r, true, spare);
	RB_INSERT(svm_range_tree, &n->ranges, r);
	next = RB_NEXT(svm_range_tree, &n->ranges, r);
	if (next)
		TAILQ_INSERT_BEFORE(next, r, link);
	else
		TAILQ_INSERT_TAIL(&n->range_list, r, link);
	r->notifier = n;
	n->nranges++;
	svm->nranges++;
}

/**
 * svm_range_find_or_insert() - The range for a device fault at @addr
 * @svm: The client
 * @addr: Faulting client address
 * @out: Receives the range
 *
 * Returns the range containing @addr, or creates one sized by the largest
 * chunk that fits (see the DOC comment). The new range's pages are all on
 * host.
 *
 * Return: 0, -EFAULT if @addr is not in a registered allocation, -EAGAIN if
 * the range there was unmapped and waits for the garbage collector, -ENOMEM.
 */
int svm_range_find_or_insert(struct svm *svm, uint64_t addr, struct svm_range **out)
{
	struct vamap_mapping *va = vamap_find(&svm->va, addr);
	struct svm_notifier *n, *new_n = NULL;
	struct svm_subtable *spare = NULL;
	struct svm_range *r;
	uint64_t size, start = 0, words;
	struct svm_bo *bo;

	if (!va || !va->obj)
		return -EFAULT;
	bo = svm_bo_find(svm, va->obj);
	if (!bo)
		return -EFAULT;
	r = svm_range_find(svm, addr);
	if (r) {
		if (svm_range_flags(svm, r) & SVM_RANGE_UNMAPPED)
			return -EAGAIN;
		*out = r;
		return 0;
	}
	n = svm_notifier_find(svm, addr);
	size = svm_chunk_for(svm, n, va, addr, &start);
	if (!size)
		return -EFAULT;
	words = (size / SVM_PAGE_SIZE + 63) / 64;
	r = mem_zalloc(sizeof(*r) + words * sizeof(uint64_t));
	if (!r)
		return -ENOMEM;
	if (!n) {
		if (svm_nhash_reserve(svm))
			goto err;
		n = new_n = svm_notifier_create(svm, addr);
		if (!n)
			goto err;
	}
	if (size < svm->block_size && !*svm_index_entry(svm, n, start)) {
		spare = mem_zalloc(sizeof(*spare));
		if (!spare)
			goto err;
	}
	r->start = start;
	r->end = start + size;
	r->bo = bo;
	r->obj_offset = va->offset + (start - va->start);
	bo->nranges++;
	pthread_mutex_lock(&svm->notifier_lock);
	if (new_n) {
		RB_INSERT(svm_notifier_tree, &svm->notifiers, new_n);
		svm_nhash_put(svm->nhash, svm->nhash_size, svm, new_n);
		svm->nnotifiers++;
	}
	svm_range_link(svm, n, r, &spare);
	r->notifier_seq = n->seq;
	pthread_mutex_unlock(&svm->notifier_lock);
	*out = r;
	return 0;
err:
	if (new_n)
		svm_notifier_free(svm, new_n);
	mem_free(r);
	return -ENOMEM;
}

/**
 * svm_range_remove() - Remove and free a range
 * @svm: The client
 * @r: The range; not busy, its device allocation already released
 *
 * Removes the notifier too when it was its last range.
 */
void svm_range_remove(struct svm *svm, struct svm_range *r)
{
	struct svm_notifier *n = r->notifier;

	pthread_mutex_lock(&svm->notifier_lock);
	if (r->flags & SVM_RANGE_IN_GC)
		TAILQ_REMOVE(&svm->gc_list, r, gc_link);
	svm_index_set(svm, n, r, false, NULL);
	RB_REMOVE(svm_range_tree, &n->ranges, r);
	TAILQ_REMOVE(&n->range_list, r, link);
	n->nranges--;
	svm->nranges--;
	if (!n->nranges) {
		RB_REMOVE(svm_notifier_tree, &svm->notifiers, n);
		svm_nhash_remove(svm, n);
		svm->nnotifiers--;
		svm_notifier_free(svm, n);
	}
	pthread_mutex_unlock(&svm->notifier_lock);
	r->bo->nranges--;
	mem_free(r);
}

/**
 * svm_range_host() - gsvmd's CPU view of the host copy of @addr in @r
 * @svm: The client
 * @r: The range
 * @addr: An address inside @r
 *
 * Return: the pointer into the backing object.
 */
void *svm_range_host(struct svm *svm, struct svm_range *r, uint64_t addr)
{
	(void)svm;
	return (char *)r->bo->host + r->obj_offset + (addr - r->start);
}

/**
 * svm_range_npages() - Number of pages in a range
 * @r: The range
 *
 * Return: the page count.
 */
uint64_t svm_range_npages(const struct svm_range *r)
{
	return (r->end - r->start) >> SVM_PAGE_SHIFT;
}

/**
 * svm_range_page_on_dev() - Whether page @page of @r is in device memory
 * @r: The range
 * @page: Page index inside the range
 *
 * Return: true if the page's data is in @r->dm.
 */
bool svm_range_page_on_dev(const struct svm_range *r, uint64_t page)
{
	return r->on_dev[page / 64] & (1ULL << (page % 64));
}

/** svm_notifier_lock() - Take the notifier lock. @svm: The client */
void svm_notifier_lock(struct svm *svm)
{
	pthread_mutex_lock(&svm->notifier_lock);
}

/** svm_notifier_unlock() - Release the notifier lock. @svm: The client */
void svm_notifier_unlock(struct svm *svm)
{
	pthread_mutex_unlock(&svm->notifier_lock);
}

/**
 * svm_range_seq() - Read the sequence number guarding a range
 * @svm: The client
 * @r: The range
 *
 * Take this before looking at the client's memory for @r; check it with
 * svm_range_pages_valid() before committing.
 *
 * Return: the current sequence number of @r's notifier.
 */
uint64_t svm_range_seq(struct svm *svm, struct svm_range *r)
{
	uint64_t seq;

	pthread_mutex_lock(&svm->notifier_lock);
	seq = r->notifier->seq;
	pthread_mutex_unlock(&svm->notifier_lock);
	return seq;
}

/**
 * svm_range_pages_valid() - Whether no invalidation hit @r since @seq
 * @r: The range
 * @seq: Value returned by svm_range_seq()
 *
 * The caller holds the notifier lock and commits only if this is true;
 * otherwise it backs out and retries.
 *
 * Return: true if the range was neither invalidated nor unmapped.
 */
bool svm_range_pages_valid(struct svm_range *r, uint64_t seq)
{
	return r->notifier->seq == seq && !(r->flags & SVM_RANGE_UNMAPPED);
}

/**
 * svm_range_flags() - A range's flags, for a caller without the notifier lock
 * @svm: The client; the notifier lock is not held
 * @r: The range
 *
 * Invalidations set flags under the notifier lock alone (the fault thread
 * does not take the driver lock), so holding the driver lock is not enough
 * to read them.
 *
 * Return: &enum svm_range_flags of @r.
 */
uint32_t svm_range_flags(struct svm *svm, const struct svm_range *r)
{
	uint32_t flags;

	pthread_mutex_lock(&svm->notifier_lock);
	flags = r->flags;
	pthread_mutex_unlock(&svm->notifier_lock);
	return flags;
}

/**
 * svm_range_begin() - Make a range busy (own it for a migration or kernel)
 * @svm: The client; the driver lock is held
 * @r: The range
 * @wait: Wait if another owner has it
 *
 * Return: 0 when @r is now owned by the caller; -EBUSY if it is busy and
 * @wait is false; -EAGAIN after waiting: the range may have gone meanwhile,
 * so the caller looks it up again.
 */
int svm_range_begin(struct svm *svm, struct svm_range *r, bool wait)
{
	if (!r->busy) {
		r->busy = true;
		return 0;
	}
	if (!wait)
		return -EBUSY;
	pthread_cond_wait(&svm->busy_cv, &svm->lock);
	return -EAGAIN;
}

/**
 * svm_range_end() - Give up ownership of a busy range
 * @svm: The client; the driver lock is held
 * @r: The range
 */
void svm_range_end(struct svm *svm, struct svm_range *r)
{
	r->busy = false;
	pthread_cond_broadcast(&svm->busy_cv);
	if (svm->mm_ops->range_idle)
		svm->mm_ops->range_idle(svm->mm);
}

static void svm_invalidate_locked(struct svm *svm, uint64_t start, uint64_t end, bool unmap)
{
	struct svm_notifier key = { .start = start & ~(svm->cfg.notifier_size - 1) }, *n;
	struct svm_range *r;

	for (n = RB_NFIND(svm_notifier_tree, &svm->notifiers, &key); n && n->start < end;
	     n = RB_NEXT(svm_notifier_tree, &svm->notifiers, n)) {
		n->seq++;
		for (r = svm_notifier_range_from(n, start); r && r->start < end;
		     r = TAILQ_NEXT(r, link)) {
			if (r->replica_mask)
				r->flags |= SVM_RANGE_STALE;
			if (!unmap)
				continue;
			r->flags |= SVM_RANGE_UNMAPPED;
			if (r->start < start || r->end > end)
				r->flags |= SVM_RANGE_PARTIAL;
			if (!(r->flags & SVM_RANGE_IN_GC)) {
				r->flags |= SVM_RANGE_IN_GC;
				TAILQ_INSERT_TAIL(&svm->gc_list, r, gc_link);
			}
		}
	}
}

/**
 * svm_invalidate_unmap() - An unmap event for [@start, @end)
 * @svm: The client; only the notifier lock is taken (not the driver lock)
 * @start: First address
 * @end: One past the last address
 *
 * Bumps the sequence numbers, marks every range touched UNMAPPED (PARTIAL
 * when it sticks out) and queues it for the garbage collector.
 */
void svm_invalidate_unmap(struct svm *svm, uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&svm->notifier_lock);
	svm_invalidate_locked(svm, start, end, true);
	pthread_mutex_unlock(&svm->notifier_lock);
}

/**
 * svm_invalidate() - Any other change to [@start, @end) of the address space
 * @svm: The client; only the notifier lock is taken
 * @start: First address
 * @end: One past the last address
 *
 * Bumps the sequence numbers, so migrations in flight retry.
 */
void svm_invalidate(struct svm *svm, uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&svm->notifier_lock);
	svm_invalidate_locked(svm, start, end, false);
	pthread_mutex_unlock(&svm->notifier_lock);
}

/**
 * svm_gc_next() - Take the next range off the garbage-collector list
 * @svm: The client; the driver lock is held
 *
 * Busy ranges stay queued; their owner's svm_range_end() lets the collector
 * run again.
 *
 * Return: an unmapped, idle range to destroy, or NULL.
 */
struct svm_range *svm_gc_next(struct svm *svm)
{
	struct svm_range *r;

	pthread_mutex_lock(&svm->notifier_lock);
	TAILQ_FOREACH(r, &svm->gc_list, gc_link)
		if (!r->busy)
			break;
	if (r) {
		TAILQ_REMOVE(&svm->gc_list, r, gc_link);
		r->flags &= ~SVM_RANGE_IN_GC;
	}
	pthread_mutex_unlock(&svm->notifier_lock);
	return r;
}

/**
 * svm_gc_pending() - Whether ranges wait for the garbage collector
 * @svm: The client; any lock state
 *
 * Return: true if the collector list is not empty.
 */
bool svm_gc_pending(struct svm *svm)
{
	bool pending;

	pthread_mutex_lock(&svm->notifier_lock);
	pending = !TAILQ_EMPTY(&svm->gc_list);
	pthread_mutex_unlock(&svm->notifier_lock);
	return pending;
}

/**
 * svm_range_retire() - Destroy a range that no longer fits its mapping
 * @svm: The client; the driver lock is held
 * @r: The range (advice split its mapping under it)
 *
 * Marks it as if partly unmapped: the collector brings its device pages
 * home and removes it; later accesses create ranges that fit.
 */
void svm_range_retire(struct svm *svm, struct svm_range *r)
{
	pthread_mutex_lock(&svm->notifier_lock);
	r->notifier->seq++;
	r->flags |= SVM_RANGE_UNMAPPED | SVM_RANGE_PARTIAL;
	if (!(r->flags & SVM_RANGE_IN_GC)) {
		r->flags |= SVM_RANGE_IN_GC;
		TAILQ_INSERT_TAIL(&svm->gc_list, r, gc_link);
	}
	pthread_mutex_unlock(&svm->notifier_lock);
}

/**
 * svm_gc_requeue() - Put a range back on the garbage-collector list
 * @svm: The client; the driver lock is held
 * @r: The range, taken by svm_gc_next() and not collected
 */
void svm_gc_requeue(struct svm *svm, struct svm_range *r)
{
	pthread_mutex_lock(&svm->notifier_lock);
	if (!(r->flags & SVM_RANGE_IN_GC)) {
		r->flags |= SVM_RANGE_IN_GC;
		TAILQ_INSERT_TAIL(&svm->gc_list, r, gc_link);
	}
	pthread_mutex_unlock(&svm->notifier_lock);
}

/* Narrow [*s, *e) around @addr to the host pages of @r that contain it. */
static int svm_window_in_range(struct svm *svm, struct svm_range *r, uint64_t addr, uint64_t *s,
			       uint64_t *e)
{
	uint64_t page = (addr - r->start) >> SVM_PAGE_SHIFT, first = page, last = page;
	uint64_t npages = svm_range_npages(r);

	if (r->busy)
		return -EBUSY;
	if (svm_range_flags(svm, r) & SVM_RANGE_UNMAPPED)
		return -EAGAIN;
	if (!r->ndev) {
		*s = r->start > *s ? r->start : *s;
		*e = r->end < *e ? r->end : *e;
		return 0;
	}
	if (svm_range_page_on_dev(r, page))
		return -EBUSY;
	while (first > 0 && !svm_range_page_on_dev(r, first - 1))
		first--;
	while (last + 1 < npages && !svm_range_page_on_dev(r, last + 1))
		last++;
	*s = r->start + (first << SVM_PAGE_SHIFT);
	*e = r->start + ((last + 1) << SVM_PAGE_SHIFT);
	return 0;
}

/**
 * svm_host_window() - Where a CPU fault on a host page may fill zeros
 * @svm: The client; the driver lock is held, and must stay held until the
 *       window is filled so no migration can start inside it
 * @addr: Faulting address, whose page the client is missing
 * @start: Receives the first address of the window
 * @end: Receives one past the last address
 *
 * A page the client misses while its data is on host was never written or
 * was punched by the client (MADV_REMOVE, fallocate): it reads as zeros. The
 * window is the largest stretch around @addr, inside its allocation and the
 * largest-chunk-aligned block containing @addr, with no page whose data is
 * on a device and no busy range, so that zero-filling its missing pages
 * cannot hide device data.
 *
 * Return: 0; -EFAULT if @addr is not registered; -EBUSY if @addr's own page
 * is on a device or its range is busy (the caller migrates or waits);
 * -EAGAIN if its range waits for the garbage collector.
 */
int svm_host_window(struct svm *svm, uint64_t addr, uint64_t *start, uint64_t *end)
{
	uint64_t block = svm->cfg.chunk_sizes[0], s, e;
	struct vamap_mapping *va = vamap_find(&svm->va, addr);
	struct svm_range *r;
	int err;

	if (!va || !va->obj)
		return -EFAULT;
	addr &= ~(SVM_PAGE_SIZE - 1);
	s = addr & ~(block - 1);
	e = s + block;
	if (s < va->start)
		s = va->start;
	if (e > va->start + va->len)
		e = va->start + va->len;
	for (r = svm_range_first(svm, s, e); r && r->start < e; r = svm_range_next(svm, r)) {
		if (r->start <= addr && addr < r->end) {
			err = svm_window_in_range(svm, r, addr, &s, &e);
			if (err)
				return err;
			continue;
		}
		if (!r->ndev && !r->busy)
			continue;
		if (r->end <= addr)
			s = r->end > s ? r->end : s;
		else
			e = r->start < e ? r->start : e;
	}
	*start = s;
	*end = e;
	return 0;
}

struct svm_locate_ctx {
	struct svm_run *runs;
	size_t max;
	size_t n;
	uint64_t total;
	struct svm_run cur;
	bool have;
};

static void svm_locate_flush(struct svm_locate_ctx *c)
{
	if (!c->have)
		return;
	if (c->n < c->max)
		c->runs[c->n++] = c->cur;
	c->total++;
	c->have = false;
}

static void svm_locate_add(struct svm_locate_ctx *c, uint64_t start, uint64_t end, int loc,
			   uint64_t replicas)
{
	if (start >= end)
		return;
	if (c->have && c->cur.loc == loc && c->cur.replicas == replicas && c->cur.end == start) {
		c->cur.end = end;
		return;
	}
	svm_locate_flush(c);
	c->cur = (struct svm_run){ start, end, loc, replicas };
	c->have = true;
}

/**
 * svm_locate() - Where the pages of [@start, @end) live, as runs
 * @svm: The client; the driver lock is held
 * @start: First address
 * @end: One past the last address
 * @runs: Receives runs of equal location, in address order
 * @max: Capacity of @runs
 * @n: Receives the number of runs written
 * @total: Receives the number of runs in the whole range (may exceed @max)
 *
 * Placement is read under the notifier lock, so runs reflect committed
 * migrations only.
 */
void svm_locate(struct svm *svm, uint64_t start, uint64_t end, struct svm_run *runs, size_t max,
		size_t *n, uint64_t *total)
{
	struct svm_locate_ctx c = { .runs = runs, .max = max };
	uint64_t pos = start, p, e, next, reps;
	struct svm_range *r;
	int loc;

	svm_notifier_lock(svm);
	for (r = svm_range_first(svm, start, end); r && r->start < end; r = svm_range_next(svm, r)) {
		p = r->start > pos ? r->start : pos;
		svm_locate_add(&c, pos, p, LOC_HOST, 0);
		e = r->end < end ? r->end : end;
		reps = r->flags & SVM_RANGE_STALE ? 0 : r->replica_mask;
		for (; p < e; p = next) {
			next = (p | (SVM_PAGE_SIZE - 1)) + 1;
			next = next < e ? next : e;
			loc = r->dm && svm_range_page_on_dev(r, (p - r->start) >> SVM_PAGE_SHIFT) ?
				      r->dm->pm->id :
				      LOC_HOST;
			svm_locate_add(&c, p, next, loc, reps);
		}
		pos = e;
	}
	svm_locate_add(&c, pos, end, LOC_HOST, 0);
	svm_locate_flush(&c);
	svm_notifier_unlock(svm);
	*n = c.n;
	*total = c.total;
}
