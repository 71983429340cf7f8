// SPDX-License-Identifier: MIT
/*
 * Device memory blocks: a buddy allocator behind a lock, shared by the
 * providers (see devblocks.h).
 */
#include <errno.h>

#include "buddy.h"
#include "devblocks.h"

/**
 * devblocks_init() - Set up the blocks of @capacity bytes of device memory
 * @m: The devblocks to set up (its previous contents are ignored)
 * @capacity: Bytes; a non-zero multiple of @page
 * @page: Smallest block, a power of two
 *
 * Return: 0; -EINVAL for a bad size; -ENOMEM; or the negative errno of
 * pthread_mutex_init(). On error @m needs no devblocks_fini().
 */
int devblocks_init(struct devblocks *m, uint64_t capacity, uint64_t page)
{
	int err;

	m->buddy = NULL;
	m->capacity = capacity;
	err = -pthread_mutex_init(&m->lock, NULL);
	if (err)
		return err;
	err = buddy_create(capacity, page, &m->buddy);
	if (err) {
		pthread_mutex_destroy(&m->lock);
		m->buddy = NULL;
	}
	return err;
}

/**
 * devblocks_fini() - Forget every block
 * @m: A devblocks set up by devblocks_init(), or one whose @buddy is NULL (never
 *     set up: nothing to do)
 */
void devblocks_fini(struct devblocks *m)
{
	if (!m->buddy)
		return;
	buddy_destroy(m->buddy);
	m->buddy = NULL;
	pthread_mutex_destroy(&m->lock);
}

/**
 * devblocks_alloc() - Allocate a block (its contents are undefined)
 * @m: Device memory
 * @size: Bytes, rounded up to a power of two of at least the page
 * @off: Receives the block's offset
 *
 * Return: 0; -ENOSPC when no block is free; -EINVAL for a zero size or one
 * larger than any block.
 */
int devblocks_alloc(struct devblocks *m, uint64_t size, uint64_t *off)
{
	int err;

	pthread_mutex_lock(&m->lock);
	err = buddy_alloc(m->buddy, size, off);
	pthread_mutex_unlock(&m->lock);
	return err;
}

/**
 * devblocks_release() - Free the block at @off
 * @m: Device memory
 * @off: Offset from devblocks_alloc(); one that is not an allocated block is
 *       ignored (the allocator knows every block's size)
 */
void devblocks_release(struct devblocks *m, uint64_t off)
{
	pthread_mutex_lock(&m->lock);
	if (buddy_block_size(m->buddy, off))
		buddy_free(m->buddy, off);
	pthread_mutex_unlock(&m->lock);
}

/**
 * devblocks_range_ok() - Whether [@off, @off + @len) is non-empty and inside
 * @m: Device memory
 * @off: Offset
 * @len: Bytes
 *
 * Return: true when the range is non-empty and within the capacity
 * (overflow-safe).
 */
bool devblocks_range_ok(const struct devblocks *m, uint64_t off, uint64_t len)
{
	return len && off < m->capacity && len <= m->capacity - off;
}
