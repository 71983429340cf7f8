// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buddy.h"
#include "mem.h"

/**
 * DOC: Buddy allocator metadata
 *
 * The pool is cut into units of min_block bytes; a block of order k is 2^k
 * units, and block i of order k covers units [i * 2^k, (i + 1) * 2^k). All
 * metadata is kept outside the managed memory, in bitmaps with one bit per
 * possible block of each order:
 *
 * - @free[0]: bit i of order k is set when block i of order k is free and
 *   whole (neither split nor part of a larger free block). Above it sits a
 *   summary hierarchy: each level has one bit per 64-bit word of the level
 *   below, up to a single word, so the lowest free block of an order is one
 *   ctz per level (at most %BUDDY_LEVELS) away.
 * - @loose: the block an order's last buddy_free_add() made free, while it
 *   stays free. It is in @free[0] but left out of the summaries; the next
 *   block made free at that order summarizes it. The allocator takes the
 *   loose block first, so the common free-then-allocate and split/merge
 *   paths touch one word per order, not one per summary level.
 * - @used: bit i of order k is set when block i of order k is allocated. A
 *   unit is the head of at most one block, so buddy_free() learns a block's
 *   order by testing @used from the largest order the offset's alignment
 *   permits downwards (only orders in @inuse), and rejects double frees and
 *   interior offsets when no order has the bit.
 * - @nonempty: bit k is set when order k has a free block, so the smallest
 *   fitting order and the largest free block are one bit scan each.
 *
 * Why bitmaps per order and not per-unit records: the metadata an operation
 * touches must be proportional to the blocks actually allocated at their
 * size, not to the pool's unit count. A 2 MiB block (order 9 with 4 KiB
 * units) is allocated and freed using only bitmaps of orders 9 and up, which
 * for a 4 GiB pool fit in about a kilobyte; the order 0..8 bitmaps of a pool
 * that only ever holds 2 MiB blocks are never touched. All bitmaps are one
 * mem_calloc() made at creation and never memset, so the pages nothing
 * touches stay unbacked. The @free[0] and @used bitmaps each sum to about
 * 2 bits per unit over all orders and the summaries to 1/63 of that: about
 * 0.5 byte per unit of address space, resident only where used.
 *
 * A pool of n units that is not a power of two is covered by one top-level
 * block per set bit of n, largest first, so each sits at an offset aligned to
 * its size. Order k has n >> k possible blocks (the ones that fit in the
 * pool). Two buddies of order k always lie inside one top-level block (an
 * aligned 2^(k+1) run cannot straddle the boundary between top-level blocks
 * of larger order), so coalescing needs no boundary bookkeeping beyond "the
 * buddy exists and its @free[0] bit is set".
 *
 * buddy_alloc() takes a block of the smallest fitting order: the loose one if
 * there is one, else the lowest. Unit indices are 32 bits, which bounds a
 * pool to 2^32 - 1 units (16 TiB with 4 KiB units). alloc and free visit
 * each order they split or merge at once, with a summary walk of at most
 * %BUDDY_LEVELS words there; nothing scans the pool.
 */

/* Orders 0..31: a pool has fewer than 2^32 units. */
#define BUDDY_ORDERS 32
/* Levels of 64-ary summaries covering 2^32 bits: 2^26, 2^20, 2^14, 2^8, 4, 1 words. */
#define BUDDY_LEVELS 6
/* No block: block indices are below 2^32 - 1. */
#define BUDDY_NONE UINT32_MAX
#define BUDDY_WORDS(bits) (((size_t)(bits) + 63) / 64)

/**
 * struct buddy_order - The bitmaps of one order
 * @free: @free[0] has a bit per block, set when it is free; @free[l] has a bit
 *        per word of @free[l - 1], set when that word holds a free block
 *        other than @loose
 * @used: A bit per block, set when it is allocated
 * @nblocks: Blocks of this order that fit in the pool
 * @nlevels: Levels in @free; the top one is a single word
 * @loose: The last block made free, if it still is, else %BUDDY_NONE; it is
 *         in @free[0] but not (yet) in the summaries
 */
struct buddy_order {
	uint64_t *free[BUDDY_LEVELS];
	uint64_t *used;
	uint32_t nblocks;
	unsigned int nlevels;
	uint32_t loose;
};

/**
 * struct buddy - A buddy allocator
 * @size: Bytes managed
 * @free_bytes: Bytes in free blocks
 * @shift: log2 of the minimum block size
 * @max_order: Order of the largest (first) top-level block
 * @nunits: Number of min_block units in the pool
 * @nonempty: Bit k set when order k has a free block
 * @inuse: Bit k set once order k has had an allocated block
 * @words: The one allocation holding every bitmap
 * @order: Per order 0..@max_order: its bitmaps
 */
struct buddy {
	uint64_t size;
	uint64_t free_bytes;
	unsigned int shift;
	unsigned int max_order;
	uint32_t nunits;
	uint32_t nonempty;
	uint32_t inuse;
	uint64_t *words;
	struct buddy_order order[BUDDY_ORDERS];
};

static unsigned int buddy_log2(uint64_t v)
{
	return 63 - (unsigned int)__builtin_clzll(v);
}

static uint64_t buddy_bytes(const struct buddy *b, unsigned int order)
{
	return (uint64_t)1 << (order + b->shift);
}

static uint64_t buddy_bit(uint32_t i)
{
	return (uint64_t)1 << (i & 63);
}

/*
 * Lay the bitmaps of orders 0..max_order out in @base, order by order, and
 * return the number of words they take. With a NULL @base, only count.
 */
static size_t buddy_layout(struct buddy *b, uint64_t *base)
{
	struct buddy_order *o;
	size_t pos = 0, n;
	unsigned int k, l;

	for (k = 0; k <= b->max_order; k++) {
		o = &b->order[k];
		o->nblocks = b->nunits >> k;
		o->loose = BUDDY_NONE;
		n = BUDDY_WORDS(o->nblocks);
		for (l = 0;; l++) {
			if (base)
				o->free[l] = base + pos;
			pos += n;
			if (n == 1)
				break;
			n = BUDDY_WORDS(n);
		}
		o->nlevels = l + 1;
		if (base)
			o->used = base + pos;
		pos += BUDDY_WORDS(o->nblocks);
	}
	return pos;
}

/*
 * The free blocks that share @i's word of @free[0], other than @i and the
 * loose block: the ones the summaries account that word for.
 */
static inline uint64_t buddy_word_rest(const struct buddy_order *o, uint32_t i)
{
	uint64_t w = o->free[0][i >> 6] & ~buddy_bit(i);

	if (o->loose != BUDDY_NONE && o->loose >> 6 == i >> 6)
		w &= ~buddy_bit(o->loose);
	return w;
}

/*
 * Set the summary bits above @i's word of @free[0], which has just gained its
 * first summarized block. A word that was not empty already has its bit in
 * the level above, so the walk stops there.
 */
static inline void buddy_summary_set(struct buddy_order *o, uint32_t i)
{
	uint64_t *const *level = o->free;
	unsigned int n = o->nlevels;
	uint64_t *w, old;

	while (--n) {
		i >>= 6;
		w = &(*++level)[i >> 6];
		old = *w;
		*w = old | buddy_bit(i);
		if (old)
			return;
	}
}

/* Clear the summary bits above @i's word of @free[0], which has just emptied. */
static inline void buddy_summary_clear(struct buddy_order *o, uint32_t i)
{
	uint64_t *const *level = o->free;
	unsigned int n = o->nlevels;
	uint64_t *w;

	while (--n) {
		i >>= 6;
		w = &(*++level)[i >> 6];
		*w &= ~buddy_bit(i);
		if (*w)
			return;
	}
}

/*
 * Make block @i of order @k free. It becomes the loose block, marked in
 * @free[0] only; the previous loose block, if any, is summarized first (before
 * @i's bit is set, which may share its word).
 */
static inline void buddy_free_add(struct buddy *b, unsigned int k, uint32_t i)
{
	struct buddy_order *o = &b->order[k];
	uint32_t prev = o->loose;

	if (prev != BUDDY_NONE) {
		o->loose = BUDDY_NONE;
		if (!buddy_word_rest(o, prev))
			buddy_summary_set(o, prev);
	}
	o->free[0][i >> 6] |= buddy_bit(i);
	o->loose = i;
	b->nonempty |= (uint32_t)1 << k;
}

/*
 * Take free block @i of order @k off the free set. The order stays non-empty
 * while it has a loose block or a summarized one (its top word is not zero).
 */
static inline void buddy_free_del(struct buddy *b, unsigned int k, uint32_t i)
{
	struct buddy_order *o = &b->order[k];

	o->free[0][i >> 6] &= ~buddy_bit(i);
	if (o->loose == i)
		o->loose = BUDDY_NONE;
	else if (!buddy_word_rest(o, i))
		buddy_summary_clear(o, i);
	if (o->loose == BUDDY_NONE && !o->free[o->nlevels - 1][0])
		b->nonempty &= ~((uint32_t)1 << k);
}

static inline bool buddy_free_test(const struct buddy_order *o, uint32_t i)
{
	return i < o->nblocks && (o->free[0][i >> 6] & buddy_bit(i));
}

/*
 * A free block of @o, which must have one: the loose block if there is one,
 * else the lowest, found with one ctz per level.
 */
static inline uint32_t buddy_free_first(const struct buddy_order *o)
{
	unsigned int l = o->nlevels;
	uint32_t i = 0;

	if (o->loose != BUDDY_NONE)
		return o->loose;
	while (l--)
		i = (i << 6) | (uint32_t)__builtin_ctzll(o->free[l][i]);
	return i;
}

static inline bool buddy_used_test(const struct buddy_order *o, uint32_t i)
{
	return i < o->nblocks && (o->used[i >> 6] & buddy_bit(i));
}

/* The order of the smallest block holding @size bytes, or -EINVAL. */
static int buddy_order_for(const struct buddy *b, uint64_t size, unsigned int *order)
{
	uint64_t units;

	if (!size || size > buddy_bytes(b, b->max_order))
		return -EINVAL;
	units = ((size - 1) >> b->shift) + 1;
	*order = units == 1 ? 0 : buddy_log2(units - 1) + 1;
	return 0;
}

/*
 * The order of the allocated block at @offset, or -EINVAL. Only orders the
 * offset is aligned to can hold a block starting there, and only orders with
 * allocated blocks need a look; try the largest first.
 */
static inline int buddy_used_order(const struct buddy *b, uint64_t offset, unsigned int *order)
{
	unsigned int k;
	uint32_t u, cand;

	if (!b || offset >= b->size || offset & (buddy_bytes(b, 0) - 1))
		return -EINVAL;
	u = (uint32_t)(offset >> b->shift);
	/* u < nunits < 2^(max_order + 1), so its alignment is at most max_order. */
	k = u ? (unsigned int)__builtin_ctz(u) : b->max_order;
	cand = b->inuse & (uint32_t)((2ULL << k) - 1);
	while (cand) {
		k = buddy_log2(cand);
		if (buddy_used_test(&b->order[k], u >> k)) {
			*order = k;
			return 0;
		}
		cand &= ~((uint32_t)1 << k);
	}
	return -EINVAL;
}

/* Cover [0, nunits) with top-level blocks, largest first. */
static void buddy_carve(struct buddy *b)
{
	uint32_t idx = 0;
	int order;

	for (order = BUDDY_ORDERS - 1; order >= 0; order--) {
		if (!(b->nunits & ((uint32_t)1 << order)))
			continue;
		buddy_free_add(b, (unsigned int)order, idx >> order);
		idx += (uint32_t)1 << order;
	}
}

/**
 * buddy_create() - Create an allocator for [0, @size)
 * @size: Bytes to manage; a non-zero multiple of @min_block
 * @min_block: Smallest block, a power of two
 * @out: Receives the allocator; untouched on error
 *
 * The bitmaps are allocated zeroed and left alone: only the pages that
 * operations later touch become resident.
 *
 * Return: 0; -EINVAL for a NULL @out, a zero or misaligned @size, a @min_block
 * that is not a power of two, or a pool of more than 2^32 - 1 blocks of
 * @min_block; -ENOMEM.
 */
int buddy_create(uint64_t size, uint64_t min_block, struct buddy **out)
{
	struct buddy *b;
	uint64_t nunits;

	if (!out || !size || !min_block || (min_block & (min_block - 1)) || size % min_block)
		return -EINVAL;
	nunits = size / min_block;
	if (nunits > UINT32_MAX)
		return -EINVAL;

	b = mem_zalloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->size = size;
	b->free_bytes = size;
	b->shift = buddy_log2(min_block);
	b->max_order = buddy_log2(nunits);
	b->nunits = (uint32_t)nunits;
	b->words = mem_calloc(buddy_layout(b, NULL), sizeof(*b->words));
	if (!b->words)
		goto err;
	buddy_layout(b, b->words);
	buddy_carve(b);
	*out = b;
	return 0;
err:
	buddy_destroy(b);
	return -ENOMEM;
}

/**
 * buddy_destroy() - Free an allocator and its metadata
 * @b: Allocator, or NULL
 *
 * Blocks still allocated are forgotten; the managed memory is not touched.
 */
void buddy_destroy(struct buddy *b)
{
	if (!b)
		return;
	mem_free(b->words);
	mem_free(b);
}

/**
 * buddy_alloc() - Allocate a block of at least @size bytes
 * @b: Allocator
 * @size: Requested bytes, rounded up to a power of two >= min_block
 * @offset: Receives the block's offset, a multiple of the block's size
 *
 * Takes the lowest free block of the smallest order that fits and splits it
 * down, marking the upper halves free.
 *
 * Return: 0; -EINVAL for a NULL argument, a zero @size or one larger than the
 * largest top-level block; -ENOSPC when no free block is large enough.
 */
int buddy_alloc(struct buddy *b, uint64_t size, uint64_t *offset)
{
	unsigned int order, j;
	uint32_t avail, i;
	int rc;

	if (!b || !offset)
		return -EINVAL;
	rc = buddy_order_for(b, size, &order);
	if (rc)
		return rc;
	avail = b->nonempty >> order;
	if (!avail)
		return -ENOSPC;

	j = order + (unsigned int)__builtin_ctz(avail);
	i = buddy_free_first(&b->order[j]);
	buddy_free_del(b, j, i);
	while (j > order) {
		j--;
		i <<= 1;
		buddy_free_add(b, j, i | 1);
	}
	b->order[order].used[i >> 6] |= buddy_bit(i);
	b->inuse |= (uint32_t)1 << order;
	b->free_bytes -= buddy_bytes(b, order);
	*offset = (uint64_t)i << (order + b->shift);
	return 0;
}

/**
 * buddy_free() - Free the block that starts at @offset
 * @b: Allocator
 * @offset: Offset returned by buddy_alloc()
 *
 * Merges the block with its buddy for as long as the buddy is free.
 *
 * Return: 0, or -EINVAL if no allocated block starts at @offset (a double
 * free, an offset inside a block, misaligned or out of the pool).
 */
int buddy_free(struct buddy *b, uint64_t offset)
{
	unsigned int order;
	uint32_t i;
	int rc;

	rc = buddy_used_order(b, offset, &order);
	if (rc)
		return rc;
	i = (uint32_t)(offset >> (order + b->shift));
	b->order[order].used[i >> 6] &= ~buddy_bit(i);
	b->free_bytes += buddy_bytes(b, order);

	while (order < b->max_order && buddy_free_test(&b->order[order], i ^ 1)) {
		buddy_free_del(b, order, i ^ 1);
		i >>= 1;
		order++;
	}
	buddy_free_add(b, order, i);
	return 0;
}

/**
 * buddy_block_size() - Size of the allocated block at @offset
 * @b: Allocator
 * @offset: Block offset
 *
 * Return: the block's size in bytes, 0 if no allocated block starts there.
 */
uint64_t buddy_block_size(const struct buddy *b, uint64_t offset)
{
	unsigned int order;

	if (buddy_used_order(b, offset, &order))
		return 0;
	return buddy_bytes(b, order);
}

/**
 * buddy_size() - Bytes managed by @b
 * @b: Allocator
 *
 * Return: the pool size given to buddy_create(), 0 for NULL.
 */
uint64_t buddy_size(const struct buddy *b)
{
	return b ? b->size : 0;
}

/**
 * buddy_free_bytes() - Bytes in free blocks
 * @b: Allocator
 *
 * Return: free bytes, 0 for NULL.
 */
uint64_t buddy_free_bytes(const struct buddy *b)
{
	return b ? b->free_bytes : 0;
}

/**
 * buddy_largest_free() - Size of the largest free block
 * @b: Allocator
 *
 * Return: the size in bytes of the largest free block, 0 if full or NULL.
 */
uint64_t buddy_largest_free(const struct buddy *b)
{
	if (!b || !b->nonempty)
		return 0;
	return buddy_bytes(b, buddy_log2(b->nonempty));
}
