/* SPDX-License-Identifier: MIT */
#ifndef GSVM_DEVBLOCKS_H
#define GSVM_DEVBLOCKS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct buddy;

/**
 * DOC: Device memory blocks
 *
 * What every device provider whose memory the CPU can see as one contiguous
 * range shares: blocks of [0, @capacity) handed out by a buddy allocator
 * under a lock of their own, and the bounds check of a range. The provider
 * keeps the memory (a sim pool's memfd, a drm card's dumb buffers) and its
 * CPU view; a devblocks keeps only which blocks are in use. Thread-safe.
 */

/**
 * struct devblocks - The allocated blocks of one device's memory
 * @lock: Serialises @buddy
 * @buddy: The allocator
 * @capacity: Bytes of device memory
 */
struct devblocks {
	pthread_mutex_t lock;
	struct buddy *buddy;
	uint64_t capacity;
};

int devblocks_init(struct devblocks *m, uint64_t capacity, uint64_t page);
void devblocks_fini(struct devblocks *m);
int devblocks_alloc(struct devblocks *m, uint64_t size, uint64_t *off);
void devblocks_release(struct devblocks *m, uint64_t off);
bool devblocks_range_ok(const struct devblocks *m, uint64_t off, uint64_t len);

#endif
