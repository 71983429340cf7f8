// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdint.h>

#include "buddy.h"
#include "mem.h"

/**
 * DOC: Buddy allocator metadata
 *
 * The pool is cut into units of min_block bytes; a block of order k is 2^k
 * units starting at a unit index that is a multiple of 2^k. All metadata is
 * kept outside the managed memory, in two arrays indexed by unit:
 *
 * - @state: one byte per unit. The first unit of every block (its head) holds
 *   the block's order and BUDDY_FREE or BUDDY_USED; every other unit holds 0.
 *   So "is there a block at this offset, and is it allocated" is one load,
 *   which is how buddy_free() rejects double frees and interior offsets.
 * - @link: next/prev unit indices, meaningful only at the head of a free
 *   block, threading it onto the free list of its order (BUDDY_NIL ends a list).
 *
 * A pool of n units that is not a power of two is covered by one top-level
 * block per set bit of n, largest first, so each sits at an offset aligned to
 * its size. Two buddies of order k always lie inside one top-level block (an
 * aligned 2^(k+1) run cannot straddle the boundary between top-level blocks of
 * larger order), so coalescing needs no extra boundary bookkeeping beyond "the
 * buddy exists and is a free head of the same order".
 *
 * Unit indices are 32 bits, which bounds a pool to 2^32 - 1 units (16 TiB with
 * 4 KiB units) and keeps the metadata at 9 bytes per unit. alloc and free are
 * O(number of orders); nothing scans the pool.
 */

#define BUDDY_NIL UINT32_MAX
#define BUDDY_ORDERS 32
#define BUDDY_ORDER_MASK 0x1f
#define BUDDY_FREE 0x40
#define BUDDY_USED 0x80

struct buddy_link {
	uint32_t next;
	uint32_t prev;
};

/**
 * struct buddy - A buddy allocator
 * @size: Bytes managed
 * @free_bytes: Bytes in free blocks
 * @shift: log2 of the minimum block size
 * @max_order: Order of the largest (first) top-level block
 * @nunits: Number of min_block units in the pool
 * @state: Per unit: order and BUDDY_FREE/BUDDY_USED at block heads, else 0
 * @link: Per unit: free-list links, valid at free block heads
 * @head: Per order: first free block, or BUDDY_NIL
 */
struct buddy {
	uint64_t size;
	uint64_t free_bytes;
	unsigned int shift;
	unsigned int max_order;
	uint32_t nunits;
	uint8_t *state;
	struct buddy_link *link;
	uint32_t head[BUDDY_ORDERS];
};

static unsigned int buddy_log2(uint64_t v)
{
	return 63 - (unsigned int)__builtin_clzll(v);
}

static uint64_t buddy_bytes(const struct buddy *b, unsigned int order)
{
	return (uint64_t)1 << (order + b->shift);
}

static void buddy_list_push(struct buddy *b, uint32_t idx, unsigned int order)
{
	uint32_t first = b->head[order];

	b->state[idx] = BUDDY_FREE | order;
	b->link[idx].prev = BUDDY_NIL;
	b->link[idx].next = first;
	if (first != BUDDY_NIL)
		b->link[first].prev = idx;
	b->head[order] = idx;
}

static void buddy_list_del(struct buddy *b, uint32_t idx, unsigned int order)
{
	uint32_t next = b->link[idx].next;
	uint32_t prev = b->link[idx].prev;

	if (prev != BUDDY_NIL)
		b->link[prev].next = next;
	else
		b->head[order] = next;
	if (next != BUDDY_NIL)
		b->link[next].prev = prev;
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

/* The unit index of the allocated block at @offset, or -EINVAL. */
static int buddy_used_index(const struct buddy *b, uint64_t offset, uint32_t *idx)
{
	if (!b || offset >= b->size || offset & (buddy_bytes(b, 0) - 1))
		return -EINVAL;
	*idx = (uint32_t)(offset >> b->shift);
	if (!(b->state[*idx] & BUDDY_USED))
		return -EINVAL;
	return 0;
}

/* Cover [0, nunits) with top-level blocks, largest first. */
static void buddy_carve(struct buddy *b)
{
	uint32_t idx = 0;
	int order;

	for (order = BUDDY_ORDERS - 1; order >= 0; order--) {
		if (!(b->nunits & ((uint32_t)1 << order)))
			continue;
		buddy_list_push(b, idx, (unsigned int)order);
		idx += (uint32_t)1 << order;
	}
}

/**
 * buddy_create() - Create an allocator for [0, @size)
 * @size: Bytes to manage; a non-zero multiple of @min_block
 * @min_block: Smallest block, a power of two
 * @out: Receives the allocator; untouched on error
 *
 * Return: 0; -EINVAL for a NULL @out, a zero or misaligned @size, a @min_block
 * that is not a power of two, or a pool of more than 2^32 - 1 blocks of
 * @min_block; -ENOMEM.
 */
int buddy_create(uint64_t size, uint64_t min_block, struct buddy **out)
{
	struct buddy *b;
	uint64_t nunits;
	unsigned int order;

	if (!out || !size || !min_block || (min_block & (min_block - 1)) || size % min_block)
		return -EINVAL;
	nunits = size / min_block;
	if (nunits > UINT32_MAX)
		return -EINVAL;

	b = mem_zalloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->state = mem_calloc(nunits, sizeof(*b->state));
	b->link = mem_calloc(nunits, sizeof(*b->link));
	if (!b->state || !b->link)
		goto err;

	b->size = size;
	b->free_bytes = size;
	b->shift = buddy_log2(min_block);
	b->max_order = buddy_log2(nunits);
	b->nunits = (uint32_t)nunits;
	for (order = 0; order < BUDDY_ORDERS; order++)
		b->head[order] = BUDDY_NIL;
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
	mem_free(b->link);
	mem_free(b->state);
	mem_free(b);
}

/**
 * buddy_alloc() - Allocate a block of at least @size bytes
 * @b: Allocator
 * @size: Requested bytes, rounded up to a power of two >= min_block
 * @offset: Receives the block's offset, a multiple of the block's size
 *
 * Takes the smallest free block that fits and splits it down, putting the
 * upper halves back on the free lists.
 *
 * Return: 0; -EINVAL for a NULL argument, a zero @size or one larger than the
 * largest top-level block; -ENOSPC when no free block is large enough.
 */
int buddy_alloc(struct buddy *b, uint64_t size, uint64_t *offset)
{
	unsigned int order, j;
	uint32_t idx;
	int rc;

	if (!b || !offset)
		return -EINVAL;
	rc = buddy_order_for(b, size, &order);
	if (rc)
		return rc;
	for (j = order; j <= b->max_order && b->head[j] == BUDDY_NIL; j++)
		;
	if (j > b->max_order)
		return -ENOSPC;

	idx = b->head[j];
	buddy_list_del(b, idx, j);
	while (j > order) {
		j--;
		buddy_list_push(b, idx + ((uint32_t)1 << j), j);
	}
	b->state[idx] = BUDDY_USED | order;
	b->free_bytes -= buddy_bytes(b, order);
	*offset = (uint64_t)idx << b->shift;
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
	uint32_t idx, bud;
	int rc;

	rc = buddy_used_index(b, offset, &idx);
	if (rc)
		return rc;
	order = b->state[idx] & BUDDY_ORDER_MASK;
	b->free_bytes += buddy_bytes(b, order);
	b->state[idx] = 0;

	while (order < b->max_order) {
		bud = idx ^ ((uint32_t)1 << order);
		if (bud >= b->nunits || b->state[bud] != (BUDDY_FREE | order))
			break;
		buddy_list_del(b, bud, order);
		b->state[bud] = 0;
		idx &= ~((uint32_t)1 << order);
		order++;
	}
	buddy_list_push(b, idx, order);
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
	uint32_t idx;

	if (buddy_used_index(b, offset, &idx))
		return 0;
	return buddy_bytes(b, b->state[idx] & BUDDY_ORDER_MASK);
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
	int order;

	if (!b)
		return 0;
	for (order = (int)b->max_order; order >= 0; order--)
		if (b->head[order] != BUDDY_NIL)
			return buddy_bytes(b, (unsigned int)order);
	return 0;
}
