// SPDX-License-Identifier: MIT
/*
 * Baseline for prefetch: one memcpy() of the whole buffer between two
 * memfd mappings (MAP_SHARED, 4 KiB shmem pages: the kind of memory both
 * ends of a gsvm copy are, a client's memfd and a sim device's pool).
 *
 * Both buffers are pre-faulted: the source holds the data, and the
 * destination was written before, so the timed copy is the machine's copy
 * bandwidth alone. gsvm's prefetch is timed after a warm-up round, so any
 * reuse of device memory gsvm does is in its figure too. For context the
 * run also records a copy into a destination punched right before (every
 * destination page newly allocated and zeroed by the kernel): the cost a
 * copy pays when its destination pages are not reused.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "harness.h"

static uint8_t *memfd_map(size_t size, int *fd)
{
	void *p;

	*fd = memfd_create("bench-memcpy", MFD_CLOEXEC);
	if (*fd < 0)
		return NULL;
	if (ftruncate(*fd, (off_t)size)) {
		close(*fd);
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED) {
		close(*fd);
		return NULL;
	}
	return p;
}

int memcpy_setup(struct memcpy_buf *b, size_t size)
{
	memset(b, 0, sizeof(*b));
	b->size = size;
	b->src_fd = b->dst_fd = -1;
	b->src = memfd_map(size, &b->src_fd);
	b->dst = memfd_map(size, &b->dst_fd);
	if (!b->src || !b->dst) {
		memcpy_teardown(b);
		return -1;
	}
	fill_pattern(b->src, size, 77);
	memset(b->dst, 1, size);
	return 0;
}

uint64_t memcpy_timed(struct memcpy_buf *b, bool cold)
{
	uint64_t t0;

	if (cold)
		fallocate(b->dst_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)b->size);
	t0 = bench_now_ns();
	memcpy(b->dst, b->src, b->size);
	t0 = bench_now_ns() - t0;
	/* Keep the copy: compare one word of it. */
	if (memcmp(b->dst + b->size / 2, b->src + b->size / 2, 8))
		return 0;
	return t0;
}

void memcpy_teardown(struct memcpy_buf *b)
{
	if (b->src)
		munmap(b->src, b->size);
	if (b->dst)
		munmap(b->dst, b->size);
	if (b->src_fd >= 0)
		close(b->src_fd);
	if (b->dst_fd >= 0)
		close(b->dst_fd);
	b->src = b->dst = NULL;
	b->src_fd = b->dst_fd = -1;
}
