/* SPDX-License-Identifier: MIT */
#ifndef GSVM_BUDDY_H
#define GSVM_BUDDY_H

#include <stdint.h>

/**
 * DOC: Buddy allocator
 *
 * Carves a device's memory pool, [0, size), into power-of-two blocks of at
 * least @min_block bytes. Freeing a block coalesces it with its buddy while the
 * buddy is free too. A pool size that is not a power of two is covered by
 * several top-level blocks. The allocator keeps metadata only; it never
 * touches the memory it manages and is not thread-safe (the caller locks).
 *
 * The metadata, bitmaps of about half a byte per @min_block of pool, is
 * reserved at creation but becomes resident only where allocations touch it:
 * blocks of order k use only the bitmaps of order k and up, so a pool that
 * hands out 2 MiB blocks keeps its per-4 KiB bitmaps untouched.
 */
struct buddy;

/**
 * buddy_create() - Create an allocator for [0, @size)
 * @size: Bytes to manage; a multiple of @min_block, non-zero
 * @min_block: Smallest block, a power of two (4096 for device pages)
 * @out: Receives the allocator
 *
 * Return: 0, -EINVAL for a bad size or block size, -ENOMEM.
 */
int buddy_create(uint64_t size, uint64_t min_block, struct buddy **out);
void buddy_destroy(struct buddy *b);

/**
 * buddy_alloc() - Allocate a block of at least @size bytes
 * @b: Allocator
 * @size: Requested bytes, rounded up to a power of two >= min_block
 * @offset: Receives the block's offset
 *
 * Return: 0, -EINVAL for a zero or oversized request, -ENOSPC when no free
 * block is large enough.
 */
int buddy_alloc(struct buddy *b, uint64_t size, uint64_t *offset);

/**
 * buddy_free() - Free the block that starts at @offset
 *
 * Return: 0, or -EINVAL if no allocated block starts there.
 */
int buddy_free(struct buddy *b, uint64_t offset);

/** buddy_block_size() - Size of the allocated block at @offset, 0 if none. */
uint64_t buddy_block_size(const struct buddy *b, uint64_t offset);
uint64_t buddy_size(const struct buddy *b);
uint64_t buddy_free_bytes(const struct buddy *b);
/** buddy_largest_free() - Size of the largest free block, 0 if full. */
uint64_t buddy_largest_free(const struct buddy *b);

#endif
