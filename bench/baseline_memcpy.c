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
#include <pthread.h>
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

struct moveout_part {
	int fd;
	uint8_t *dst;
	size_t off, len;
	int err;
};

/* One slice: read it out of the memfd, then take its pages away. */
static void *moveout_part(void *arg)
{
	struct moveout_part *m = arg;
	size_t done = 0;
	ssize_t n;

	while (done < m->len) {
		n = pread(m->fd, m->dst + m->off + done, m->len - done, (off_t)(m->off + done));
		if (n <= 0) {
			m->err = n ? errno : EIO;
			return NULL;
		}
		done += (size_t)n;
	}
	if (fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)m->off,
		      (off_t)m->len))
		m->err = errno;
	return NULL;
}

uint64_t moveout_timed(struct memcpy_buf *b, unsigned int threads)
{
	struct moveout_part parts[16];
	pthread_t tid[16];
	size_t slice, i;
	uint64_t t0;
	int bad = 0;

	if (threads < 1)
		threads = 1;
	if (threads > 16)
		threads = 16;
	/* Slices of whole 2 MiB, as gsvm's parts are. */
	slice = (b->size / threads + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	fill_pattern(b->src, b->size, 77);
	t0 = bench_now_ns();
	for (i = 0; i < threads; i++) {
		size_t off = i * slice;

		parts[i] = (struct moveout_part){ .fd = b->src_fd, .dst = b->dst, .off = off };
		parts[i].len = off >= b->size ? 0 : (b->size - off < slice ? b->size - off : slice);
		if (i && pthread_create(&tid[i], NULL, moveout_part, &parts[i]))
			return 0;
	}
	moveout_part(&parts[0]);
	for (i = 1; i < threads; i++)
		pthread_join(tid[i], NULL);
	t0 = bench_now_ns() - t0;
	for (i = 0; i < threads; i++)
		bad |= parts[i].err;
	/* The data arrived, and the source pages are gone. */
	if (bad || check_pattern(b->dst, b->size, 77) != -1 || b->src[b->size / 2])
		return 0;
	/* Back as memcpy_timed() expects it (untimed). */
	fill_pattern(b->src, b->size, 77);
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
