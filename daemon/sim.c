// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "devblocks.h"
#include "mem.h"
#include "pagemap.h"
#include "sim.h"

/**
 * DOC: Sim pool internals
 *
 * A pool is a memfd mapped once, MAP_SHARED, for the pool's lifetime; the
 * fields describing it (@fd, @base, @capacity and the copy model) never change
 * after sim_create(), so copies read them without a lock. Which blocks are
 * allocated is @blocks's (devblocks.c), under its own lock.
 *
 * Device memory behaves like VRAM: a freed block goes back to the allocator
 * with its pages still resident, so the next allocation reuses them without a
 * page fault (faulting in and zeroing fresh shmem pages would cost more than
 * the copy itself). An allocation's contents are therefore whatever was there
 * before; the pagemap layer's users overwrite every byte of an allocation
 * before anything reads it (a migration copies every page of a range in, a
 * replica likewise), so no client ever sees another's data. The memory goes
 * back to the host when the pool is destroyed (a pool-cache shrink).
 *
 * The copy model sets a deadline of start + latency + len / bandwidth when a
 * copy begins and sleeps until it after the memcpy, so a copy takes as long as
 * the slower of the real memcpy and the modeled bus.
 */

#define SIM_PAGE 4096
#define SIM_NSEC_PER_SEC 1000000000ULL

/**
 * struct sim_pool - One simulated device
 * @fd: The memfd holding device memory
 * @base: Its mapping, @capacity bytes
 * @capacity: Device memory in bytes
 * @bandwidth: Modeled bytes per second, 0 for none
 * @latency_us: Modeled cost per copy
 * @fail_countdown: Copies left until an injected -EIO, 0 for none
 * @blocks: The allocated blocks of [0, @capacity)
 */
struct sim_pool {
	int fd;
	uint8_t *base;
	uint64_t capacity;
	uint64_t bandwidth;
	uint32_t latency_us;
	atomic_ulong fail_countdown;
	struct devblocks blocks;
};

/**
 * struct sim_charge - Time a copy must take under the model
 * @on: Whether the model charges anything
 * @deadline: CLOCK_MONOTONIC time the copy may complete at
 */
struct sim_charge {
	bool on;
	struct timespec deadline;
};

static bool sim_range_ok(const struct sim_pool *p, uint64_t off, uint64_t len)
{
	return devblocks_range_ok(&p->blocks, off, len);
}

/* Whether this copy is the one sim_fail_copy_after() asked to fail. */
static bool sim_copy_fails(struct sim_pool *p)
{
	unsigned long left = atomic_load(&p->fail_countdown);

	while (left) {
		if (atomic_compare_exchange_weak(&p->fail_countdown, &left, left - 1))
			return left == 1;
	}
	return false;
}

/* Modeled nanoseconds for @len bytes, rounded up and saturated. */
static uint64_t sim_model_ns(const struct sim_pool *p, uint64_t len)
{
	unsigned __int128 ns = (unsigned __int128)p->latency_us * 1000;

	if (p->bandwidth)
		ns += ((unsigned __int128)len * SIM_NSEC_PER_SEC + p->bandwidth - 1) / p->bandwidth;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

static void sim_charge_start(struct sim_charge *c, uint64_t ns)
{
	c->on = ns != 0;
	if (!c->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += (time_t)(ns / SIM_NSEC_PER_SEC);
	c->deadline.tv_nsec += (long)(ns % SIM_NSEC_PER_SEC);
	if (c->deadline.tv_nsec >= (long)SIM_NSEC_PER_SEC) {
		c->deadline.tv_sec++;
		c->deadline.tv_nsec -= (long)SIM_NSEC_PER_SEC;
	}
}

static void sim_charge_finish(const struct sim_charge *c)
{
	if (!c->on)
		return;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &c->deadline, NULL) == EINTR)
		;
}

/*
 * Start a copy of @len bytes on @p: consume one step of failure injection and
 * set the model's deadline. @extra_ns lets a peer copy charge the slower end.
 */
static int sim_copy_start(struct sim_pool *p, uint64_t len, uint64_t extra_ns, struct sim_charge *c)
{
	uint64_t ns = sim_model_ns(p, len);

	if (sim_copy_fails(p))
		return -EIO;
	sim_charge_start(c, ns > extra_ns ? ns : extra_ns);
	return 0;
}

static void sim_destroy(void *pool)
{
	struct sim_pool *p = pool;

	if (!p)
		return;
	if (p->base != MAP_FAILED)
		munmap(p->base, p->capacity);
	if (p->fd >= 0)
		close(p->fd);
	devblocks_fini(&p->blocks);
	mem_free(p);
}

static int sim_open_memfd(struct sim_pool *p, const char *name)
{
	char fdname[sizeof("gsvm-sim:") + PAGEMAP_NAME_MAX];

	snprintf(fdname, sizeof(fdname), "gsvm-sim:%.*s", (int)strnlen(name, PAGEMAP_NAME_MAX - 1),
		 name);
	p->fd = memfd_create(fdname, MFD_CLOEXEC);
	if (p->fd < 0)
		return -errno;
	if (ftruncate(p->fd, (off_t)p->capacity) < 0)
		return -errno;
	p->base = mmap(NULL, p->capacity, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (p->base == MAP_FAILED)
		return -errno;
	return 0;
}

/**
 * sim_create() - Create a sim pool
 * @cfg: Configuration; @cfg->capacity must be a non-zero multiple of 4096
 * @pool: Receives the pool; untouched on error
 *
 * Return: 0; -EINVAL for a NULL argument or a bad capacity; -ENOMEM; or the
 * negative errno of a failed memfd_create(), ftruncate() or mmap().
 */
static int sim_create(const struct pagemap_config *cfg, void **pool)
{
	struct sim_pool *p;
	int rc;

	if (!cfg || !pool || !cfg->capacity || cfg->capacity % SIM_PAGE ||
	    cfg->capacity > (uint64_t)INT64_MAX || cfg->capacity > SIZE_MAX)
		return -EINVAL;
	p = mem_zalloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = -1;
	p->base = MAP_FAILED;
	p->capacity = cfg->capacity;
	p->bandwidth = cfg->bandwidth;
	p->latency_us = cfg->latency_us;
	atomic_init(&p->fail_countdown, 0);

	rc = devblocks_init(&p->blocks, p->capacity, SIM_PAGE);
	if (rc)
		goto err;
	rc = sim_open_memfd(p, cfg->name);
	if (rc)
		goto err;
	*pool = p;
	return 0;
err:
	sim_destroy(p);
	return rc;
}

/**
 * sim_alloc() - Allocate device memory (contents undefined)
 * @pool: Pool
 * @size: Bytes, rounded up to a power of two of at least 4 KiB
 * @dev_off: Receives the offset
 *
 * Return: 0; -ENOSPC when no block is free; -EINVAL for a NULL argument, a zero
 * size or one larger than any block of the pool.
 */
static int sim_alloc(void *pool, uint64_t size, uint64_t *dev_off)
{
	struct sim_pool *p = pool;

	if (!p || !dev_off)
		return -EINVAL;
	return devblocks_alloc(&p->blocks, size, dev_off);
}

/**
 * sim_release() - Free device memory; its pages stay resident for reuse
 * @pool: Pool
 * @dev_off: Offset from sim_alloc()
 * @size: Size passed to sim_alloc(); the allocator knows the block's real
 *        size, so this is not trusted
 *
 * An offset that is not an allocated block is ignored.
 */
static void sim_release(void *pool, uint64_t dev_off, uint64_t size)
{
	struct sim_pool *p = pool;

	(void)size;
	if (p)
		devblocks_release(&p->blocks, dev_off);
}

/**
 * sim_map() - CPU pointer to device memory
 * @pool: Pool
 * @dev_off: Offset
 * @len: Bytes the caller will access
 *
 * Return: the pointer, valid until the pool is destroyed, or NULL when
 * [@dev_off, @dev_off + @len) is empty or not inside the pool.
 */
static void *sim_map(void *pool, uint64_t dev_off, uint64_t len)
{
	struct sim_pool *p = pool;

	if (!p || !sim_range_ok(p, dev_off, len))
		return NULL;
	return p->base + dev_off;
}

/**
 * sim_copy_to_dev() - Copy host memory to the device
 * @pool: Pool
 * @dev_off: Destination offset
 * @src: Host source
 * @len: Bytes
 *
 * Return: 0; -EINVAL for a NULL argument, zero @len or a range outside the
 * pool; -EIO when failure injection fires.
 */
static int sim_copy_to_dev(void *pool, uint64_t dev_off, const void *src, uint64_t len)
{
	struct sim_pool *p = pool;
	struct sim_charge c;
	int rc;

	if (!p || !src || !sim_range_ok(p, dev_off, len))
		return -EINVAL;
	rc = sim_copy_start(p, len, 0, &c);
	if (rc)
		return rc;
	memcpy(p->base + dev_off, src, len);
	sim_charge_finish(&c);
	return 0;
}

/**
 * sim_copy_fd_to_dev() - Copy part of a file (a client's memfd) to the device
 * @pool: Pool
 * @dev_off: Destination offset
 * @fd: The file
 * @off: Offset in it
 * @len: Bytes
 *
 * pread() straight into the pool: the kernel copies from the file's pages,
 * so gsvmd maps none of them (mapping and faulting in a client's pages costs
 * more than copying them). Holes read as zeros.
 *
 * Return: 0; -EINVAL for a bad argument or a range outside the pool; -EIO
 * when failure injection fires or the file is shorter; pread()'s error.
 */
static int sim_copy_fd_to_dev(void *pool, uint64_t dev_off, int fd, uint64_t off, uint64_t len)
{
	struct sim_pool *p = pool;
	struct sim_charge c;
	uint64_t done = 0;
	ssize_t n;
	int rc;

	if (!p || fd < 0 || !sim_range_ok(p, dev_off, len))
		return -EINVAL;
	rc = sim_copy_start(p, len, 0, &c);
	if (rc)
		return rc;
	while (done < len) {
		n = pread(fd, p->base + dev_off + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		done += (uint64_t)n;
	}
	sim_charge_finish(&c);
	return rc;
}

/**
 * sim_copy_to_host() - Copy device memory to the host
 * @pool: Pool
 * @dst: Host destination
 * @dev_off: Source offset
 * @len: Bytes
 *
 * Return: 0; -EINVAL for a NULL argument, zero @len or a range outside the
 * pool; -EIO when failure injection fires.
 */
static int sim_copy_to_host(void *pool, void *dst, uint64_t dev_off, uint64_t len)
{
	struct sim_pool *p = pool;
	struct sim_charge c;
	int rc;

	if (!p || !dst || !sim_range_ok(p, dev_off, len))
		return -EINVAL;
	rc = sim_copy_start(p, len, 0, &c);
	if (rc)
		return rc;
	memcpy(dst, p->base + dev_off, len);
	sim_charge_finish(&c);
	return 0;
}

/**
 * sim_copy_peer() - Copy between two sim pools without a bounce buffer
 * @dst_pool: Destination pool
 * @dst_off: Destination offset
 * @src_pool: Source pool, possibly @dst_pool
 * @src_off: Source offset
 * @len: Bytes
 *
 * The copy counts against @dst_pool's failure injection and takes as long as
 * the slower of the two pools' models.
 *
 * Return: 0; -EINVAL for a NULL pool, zero @len or a range outside either
 * pool; -EIO when failure injection fires.
 */
static int sim_copy_peer(void *dst_pool, uint64_t dst_off, void *src_pool, uint64_t src_off,
			 uint64_t len)
{
	struct sim_pool *dst = dst_pool;
	struct sim_pool *src = src_pool;
	struct sim_charge c;
	int rc;

	if (!dst || !src || !sim_range_ok(dst, dst_off, len) || !sim_range_ok(src, src_off, len))
		return -EINVAL;
	rc = sim_copy_start(dst, len, sim_model_ns(src, len), &c);
	if (rc)
		return rc;
	/* Within one pool the ranges may overlap. */
	memmove(dst->base + dst_off, src->base + src_off, len);
	sim_charge_finish(&c);
	return 0;
}

/**
 * sim_clear() - Zero device memory
 * @pool: Pool
 * @dev_off: Offset
 * @len: Bytes
 *
 * Counts as a copy for failure injection and the model.
 *
 * Return: 0; -EINVAL for a NULL pool, zero @len or a range outside the pool;
 * -EIO when failure injection fires.
 */
static int sim_clear(void *pool, uint64_t dev_off, uint64_t len)
{
	struct sim_pool *p = pool;
	struct sim_charge c;
	int rc;

	if (!p || !sim_range_ok(p, dev_off, len))
		return -EINVAL;
	rc = sim_copy_start(p, len, 0, &c);
	if (rc)
		return rc;
	memset(p->base + dev_off, 0, len);
	sim_charge_finish(&c);
	return 0;
}

/**
 * sim_fail_copy_after() - Copy-failure injection for tests
 * @pool: A sim pool, or NULL (ignored)
 * @n: Make the @n-th copy from now fail with -EIO (1 = the next one); 0
 *     switches injection off
 *
 * Copies rejected with -EINVAL do not count.
 */
void sim_fail_copy_after(void *pool, unsigned long n)
{
	struct sim_pool *p = pool;

	if (p)
		atomic_store(&p->fail_countdown, n);
}

/**
 * sim_fd() - The memfd behind a sim pool
 * @pool: A sim pool
 *
 * Return: the file descriptor, owned by the pool; -EINVAL for NULL.
 */
int sim_fd(void *pool)
{
	const struct sim_pool *p = pool;

	return p ? p->fd : -EINVAL;
}

const struct pagemap_provider_ops sim_provider_ops = {
	.name = "sim",
	.create = sim_create,
	.destroy = sim_destroy,
	.alloc = sim_alloc,
	.release = sim_release,
	.map = sim_map,
	.copy_to_dev = sim_copy_to_dev,
	.copy_fd_to_dev = sim_copy_fd_to_dev,
	.copy_to_host = sim_copy_to_host,
	.copy_peer = sim_copy_peer,
	.clear = sim_clear,
};
