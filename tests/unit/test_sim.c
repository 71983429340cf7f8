// SPDX-License-Identifier: MIT
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cu.h"
#include "pagemap.h"
#include "sim.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define PAGE (4 * KIB)

static const struct pagemap_provider_ops *ops = &sim_provider_ops;

static void *new_pool(const char *name, uint64_t capacity, uint64_t bandwidth, uint32_t latency_us)
{
	struct pagemap_config cfg = { .capacity = capacity,
				      .bandwidth = bandwidth,
				      .latency_us = latency_us };
	void *pool = NULL;

	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
	snprintf(cfg.provider, sizeof(cfg.provider), "sim");
	CU_ASSERT_EQUAL_FATAL(ops->create(&cfg, &pool), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
	return pool;
}

static void fill(uint8_t *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 131 + (i >> 8));
}

static int all_zero(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void test_create_bad_config(void)
{
	static const uint64_t bad[] = {
		0, 1, PAGE - 1, PAGE + 1, 3 * PAGE + 512, (1ULL << 63) + PAGE, UINT64_MAX
	};
	struct pagemap_config cfg = { .name = "bad", .provider = "sim" };
	void *pool = NULL;
	char link[256], path[64];
	ssize_t n;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.capacity = bad[i];
		CU_ASSERT_EQUAL(ops->create(&cfg, &pool), -EINVAL);
		CU_ASSERT_PTR_NULL(pool);
	}
	cfg.capacity = MIB;
	CU_ASSERT_EQUAL(ops->create(NULL, &pool), -EINVAL);
	CU_ASSERT_EQUAL(ops->create(&cfg, NULL), -EINVAL);
	CU_ASSERT_TRUE(sim_fd(NULL) < 0);
	ops->destroy(NULL);

	/* Good ones, including a capacity that is not a power of two. */
	pool = new_pool("sim7", 3 * MIB + PAGE, 0, 0);
	CU_ASSERT_TRUE(sim_fd(pool) >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", sim_fd(pool));
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = '\0';
		CU_ASSERT_PTR_NOT_NULL(strstr(link, "gsvm-sim:sim7"));
	}
	ops->destroy(pool);
	CU_ASSERT_STRING_EQUAL(ops->name, "sim");
}

/* A fresh pool reads as zeros; every block can be allocated and reused. */
static void test_alloc_reuse(void)
{
	enum { N = 16 };
	void *pool = new_pool("zero", N * 64 * KIB, 0, 0);
	uint64_t off[N], extra;
	uint8_t *p;
	size_t i;

	for (i = 0; i < N; i++) {
		CU_ASSERT_EQUAL_FATAL(ops->alloc(pool, 64 * KIB, &off[i]), 0);
		p = ops->map(pool, off[i], 64 * KIB);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT_TRUE(all_zero(p, 64 * KIB));
		memset(p, 0xa5, 64 * KIB);
	}
	CU_ASSERT_EQUAL(ops->alloc(pool, PAGE, &extra), -ENOSPC);
	for (i = 0; i < N; i++)
		ops->release(pool, off[i], 64 * KIB);
	for (i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(ops->alloc(pool, 64 * KIB, &off[i]), 0);
	for (i = 0; i < N; i++)
		ops->release(pool, off[i], 64 * KIB);
	CU_ASSERT_EQUAL(ops->alloc(pool, N * 64 * KIB, &extra), 0);
	ops->destroy(pool);
}

static void test_roundtrip(void)
{
	enum { LEN = 3 * PAGE + 100 };
	void *pool = new_pool("rt", MIB, 0, 0);
	uint8_t in[LEN], out[LEN];
	uint64_t off;
	uint8_t *p;

	CU_ASSERT_EQUAL_FATAL(ops->alloc(pool, 4 * PAGE, &off), 0);
	fill(in, LEN, 1);
	memset(out, 0, LEN);
	CU_ASSERT_EQUAL(ops->copy_to_dev(pool, off + 7, in, LEN), 0);
	CU_ASSERT_EQUAL(ops->copy_to_host(pool, out, off + 7, LEN), 0);
	CU_ASSERT_EQUAL(memcmp(in, out, LEN), 0);

	p = ops->map(pool, off, 4 * PAGE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(memcmp(p + 7, in, LEN), 0);
	CU_ASSERT_EQUAL(p[6], 0);
	/* Writes through the mapping are what the device holds. */
	p[7] ^= 0xff;
	CU_ASSERT_EQUAL(ops->copy_to_host(pool, out, off + 7, 1), 0);
	CU_ASSERT_EQUAL(out[0], in[0] ^ 0xff);
	CU_ASSERT_PTR_EQUAL(ops->map(pool, off + 7, 1), p + 7);
	ops->release(pool, off, 4 * PAGE);
	ops->destroy(pool);
}

static void test_copy_peer(void)
{
	enum { LEN = 16 * KIB };
	void *a = new_pool("peerA", MIB, 0, 0);
	void *b = new_pool("peerB", 2 * MIB, 0, 0);
	uint8_t in[LEN], out[LEN];
	uint64_t oa, ob;
	uint8_t *p;

	CU_ASSERT_EQUAL_FATAL(ops->alloc(a, LEN, &oa), 0);
	CU_ASSERT_EQUAL_FATAL(ops->alloc(b, 4 * LEN, &ob), 0);
	fill(in, LEN, 2);
	CU_ASSERT_EQUAL(ops->copy_to_dev(a, oa, in, LEN), 0);
	CU_ASSERT_EQUAL(ops->copy_peer(b, ob + LEN, a, oa, LEN), 0);
	CU_ASSERT_EQUAL(ops->copy_to_host(b, out, ob + LEN, LEN), 0);
	CU_ASSERT_EQUAL(memcmp(in, out, LEN), 0);
	CU_ASSERT_EQUAL(ops->copy_to_host(a, out, oa, LEN), 0);
	CU_ASSERT_EQUAL(memcmp(in, out, LEN), 0);
	CU_ASSERT_TRUE(all_zero(ops->map(b, ob, LEN), LEN));

	/* Overlapping ranges within one pool behave like memmove. */
	CU_ASSERT_EQUAL(ops->copy_peer(b, ob + LEN + 100, b, ob + LEN, LEN), 0);
	p = ops->map(b, ob + LEN + 100, LEN);
	CU_ASSERT_EQUAL(memcmp(p, in, LEN), 0);

	ops->release(a, oa, LEN);
	ops->release(b, ob, 4 * LEN);
	ops->destroy(a);
	ops->destroy(b);
}

static void test_clear(void)
{
	enum { LEN = 8 * PAGE };
	void *pool = new_pool("clear", MIB, 0, 0);
	uint8_t in[LEN];
	uint64_t off;
	uint8_t *p;

	CU_ASSERT_EQUAL_FATAL(ops->alloc(pool, LEN, &off), 0);
	fill(in, LEN, 3);
	CU_ASSERT_EQUAL(ops->copy_to_dev(pool, off, in, LEN), 0);
	CU_ASSERT_EQUAL(ops->clear(pool, off + 10, 2 * PAGE), 0);
	p = ops->map(pool, off, LEN);
	CU_ASSERT_EQUAL(memcmp(p, in, 10), 0);
	CU_ASSERT_TRUE(all_zero(p + 10, 2 * PAGE));
	CU_ASSERT_EQUAL(memcmp(p + 10 + 2 * PAGE, in + 10 + 2 * PAGE, LEN - 10 - 2 * PAGE), 0);
	ops->release(pool, off, LEN);
	ops->destroy(pool);
}

static void test_out_of_bounds(void)
{
	const uint64_t cap = 256 * KIB;
	void *pool = new_pool("oob", cap, 0, 0);
	void *peer = new_pool("oob2", MIB, 0, 0);
	static uint8_t buf[2 * PAGE];

	CU_ASSERT_EQUAL(ops->copy_to_dev(pool, cap - PAGE, buf, 2 * PAGE), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_to_dev(pool, cap, buf, 1), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_to_dev(pool, UINT64_MAX, buf, 2), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_to_dev(pool, PAGE, buf, UINT64_MAX), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_to_dev(pool, 0, buf, 0), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_to_dev(pool, 0, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_to_dev(NULL, 0, buf, 1), -EINVAL);

	CU_ASSERT_EQUAL(ops->copy_to_host(pool, buf, cap - 1, 2), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_to_host(pool, buf, cap, 1), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_to_host(pool, buf, 1, UINT64_MAX), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_to_host(pool, NULL, 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_to_host(NULL, buf, 0, 1), -EINVAL);

	/* The source fits in the big peer but not in the small destination. */
	CU_ASSERT_EQUAL(ops->copy_peer(pool, cap - PAGE, peer, 0, 2 * PAGE), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_peer(peer, 0, pool, cap - PAGE, 2 * PAGE), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_peer(peer, MIB, pool, 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_peer(peer, 0, pool, 0, cap + 1), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_peer(peer, 0, NULL, 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_peer(NULL, 0, peer, 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(ops->copy_peer(peer, 0, pool, 0, cap), 0);

	CU_ASSERT_EQUAL(ops->clear(pool, cap - PAGE, PAGE + 1), -EINVAL);
	CU_ASSERT_EQUAL(ops->clear(pool, UINT64_MAX - 1, 4), -EINVAL);
	CU_ASSERT_EQUAL(ops->clear(NULL, 0, 1), -EINVAL);
	CU_ASSERT_EQUAL(ops->clear(pool, 0, cap), 0);

	CU_ASSERT_PTR_NULL(ops->map(pool, cap, 1));
	CU_ASSERT_PTR_NULL(ops->map(pool, cap - 1, 2));
	CU_ASSERT_PTR_NULL(ops->map(pool, 0, 0));
	CU_ASSERT_PTR_NULL(ops->map(NULL, 0, 1));
	CU_ASSERT_PTR_NOT_NULL(ops->map(pool, cap - 1, 1));

	/* Releasing something that is not a block changes nothing. */
	ops->release(pool, 12345, PAGE);
	ops->release(pool, cap, PAGE);
	ops->release(NULL, 0, PAGE);
	ops->destroy(pool);
	ops->destroy(peer);
}

/* Released memory stays resident: the next allocation reuses it unfaulted. */
static void test_release_keeps_pages(void)
{
	const uint64_t len = 256 * KIB;
	void *pool = new_pool("keep", 4 * MIB, 0, 0);
	int fd = sim_fd(pool);
	struct stat before, after;
	uint64_t off, again;

	CU_ASSERT_EQUAL_FATAL(ops->alloc(pool, len, &off), 0);
	memset(ops->map(pool, off, len), 0x5a, len);
	CU_ASSERT_EQUAL_FATAL(fstat(fd, &before), 0);
	CU_ASSERT_TRUE((uint64_t)before.st_blocks * 512 >= len);
	/* A release of a bogus offset inside the block leaves it alone. */
	ops->release(pool, off + PAGE, PAGE);
	ops->release(pool, off, len);
	CU_ASSERT_EQUAL_FATAL(fstat(fd, &after), 0);
	CU_ASSERT_EQUAL(after.st_blocks, before.st_blocks);
	CU_ASSERT_EQUAL_FATAL(ops->alloc(pool, len, &again), 0);
	CU_ASSERT_EQUAL(again, off);
	CU_ASSERT_EQUAL_FATAL(fstat(fd, &after), 0);
	CU_ASSERT_EQUAL(after.st_blocks, before.st_blocks);
	ops->destroy(pool);
}

static void test_copy_fail_injection(void)
{
	enum { LEN = 2 * PAGE };
	void *a = new_pool("failA", MIB, 0, 0);
	void *b = new_pool("failB", MIB, 0, 0);
	uint8_t in[LEN], in2[LEN], out[LEN], *pa, *pb;
	uint64_t oa, ob;

	CU_ASSERT_EQUAL_FATAL(ops->alloc(a, LEN, &oa), 0);
	CU_ASSERT_EQUAL_FATAL(ops->alloc(b, LEN, &ob), 0);
	pa = ops->map(a, oa, LEN);
	pb = ops->map(b, ob, LEN);
	fill(in, LEN, 4);
	fill(in2, LEN, 5);

	/* The third copy fails and leaves its destination as it was. */
	sim_fail_copy_after(a, 3);
	CU_ASSERT_EQUAL(ops->copy_to_dev(a, oa, in, LEN), 0);
	CU_ASSERT_EQUAL(ops->copy_to_host(a, out, oa, LEN), 0);
	CU_ASSERT_EQUAL(ops->copy_to_dev(a, oa, in2, LEN), -EIO);
	CU_ASSERT_EQUAL(memcmp(pa, in, LEN), 0);
	CU_ASSERT_EQUAL(ops->copy_to_dev(a, oa, in2, LEN), 0);
	CU_ASSERT_EQUAL(memcmp(pa, in2, LEN), 0);
	CU_ASSERT_EQUAL(ops->copy_to_dev(a, oa, in, LEN), 0);

	/* Each kind of copy can fail; rejected copies do not count. */
	sim_fail_copy_after(a, 1);
	CU_ASSERT_EQUAL(ops->copy_to_host(a, out, oa, 0), -EINVAL);
	memset(out, 0xee, LEN);
	CU_ASSERT_EQUAL(ops->copy_to_host(a, out, oa, LEN), -EIO);
	CU_ASSERT_EQUAL(out[0], 0xee);
	CU_ASSERT_EQUAL(out[LEN - 1], 0xee);

	sim_fail_copy_after(a, 1);
	CU_ASSERT_EQUAL(ops->clear(a, oa, LEN), -EIO);
	CU_ASSERT_EQUAL(memcmp(pa, in, LEN), 0);

	/* A peer copy counts against the destination pool. */
	sim_fail_copy_after(b, 1);
	CU_ASSERT_EQUAL(ops->copy_peer(b, ob, a, oa, LEN), -EIO);
	CU_ASSERT_TRUE(all_zero(pb, LEN));
	CU_ASSERT_EQUAL(ops->copy_peer(b, ob, a, oa, LEN), 0);
	CU_ASSERT_EQUAL(memcmp(pb, in, LEN), 0);

	/* 0 switches injection off. */
	sim_fail_copy_after(a, 2);
	sim_fail_copy_after(a, 0);
	CU_ASSERT_EQUAL(ops->clear(a, oa, LEN), 0);
	CU_ASSERT_EQUAL(ops->clear(a, oa, LEN), 0);
	CU_ASSERT_EQUAL(ops->clear(a, oa, LEN), 0);
	CU_ASSERT_TRUE(all_zero(pa, LEN));
	sim_fail_copy_after(NULL, 1);

	ops->release(a, oa, LEN);
	ops->release(b, ob, LEN);
	ops->destroy(a);
	ops->destroy(b);
}

/* Only lower bounds: a loaded machine may always be slower than the model. */
static void test_bandwidth_model(void)
{
	enum { LEN = 16 * KIB };
	const uint64_t bw = 1 * MIB, lat_us = 2000;
	void *slow = new_pool("slow", MIB, bw, (uint32_t)lat_us);
	void *fast = new_pool("fast", MIB, 0, 0);
	const uint64_t model_ns = LEN * 1000000000ULL / bw + lat_us * 1000;
	static uint8_t buf[LEN];
	uint64_t t0;

	t0 = now_ns();
	CU_ASSERT_EQUAL(ops->copy_to_dev(slow, 0, buf, LEN), 0);
	CU_ASSERT_TRUE(now_ns() - t0 >= model_ns);

	t0 = now_ns();
	CU_ASSERT_EQUAL(ops->copy_to_host(slow, buf, 0, LEN), 0);
	CU_ASSERT_TRUE(now_ns() - t0 >= model_ns);

	t0 = now_ns();
	CU_ASSERT_EQUAL(ops->clear(slow, 0, LEN), 0);
	CU_ASSERT_TRUE(now_ns() - t0 >= model_ns);

	/* A peer copy runs at the slower end's speed, whichever end that is. */
	t0 = now_ns();
	CU_ASSERT_EQUAL(ops->copy_peer(fast, 0, slow, 0, LEN), 0);
	CU_ASSERT_TRUE(now_ns() - t0 >= model_ns);
	t0 = now_ns();
	CU_ASSERT_EQUAL(ops->copy_peer(slow, 0, fast, 0, LEN), 0);
	CU_ASSERT_TRUE(now_ns() - t0 >= model_ns);

	/* Latency alone. */
	ops->destroy(slow);
	slow = new_pool("lat", MIB, 0, (uint32_t)lat_us);
	t0 = now_ns();
	CU_ASSERT_EQUAL(ops->copy_to_dev(slow, 0, buf, 1), 0);
	CU_ASSERT_TRUE(now_ns() - t0 >= lat_us * 1000);
	ops->destroy(slow);
	ops->destroy(fast);
}

struct worker {
	pthread_t thread;
	void *pool;
	unsigned int id;
	int errors;
};

#define WORKER_LIVE 8
#define WORKER_ITERS 4000
#define WORKER_MAX (64 * KIB)

/*
 * Allocate, fill with our tag, check the tag is intact before release: no
 * two threads are ever handed overlapping blocks.
 */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint64_t off[WORKER_LIVE], size[WORKER_LIVE], s = 0x1234567ULL * (w->id + 1);
	uint8_t tag = (uint8_t)(0x10 + w->id), *p;
	unsigned int i, slot, n;
	size_t j;

	memset(size, 0, sizeof(size));
	for (i = 0; i < WORKER_ITERS; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		slot = (unsigned int)(s >> 33) % WORKER_LIVE;
		if (size[slot]) {
			p = ops->map(w->pool, off[slot], size[slot]);
			for (j = 0; p && j < size[slot]; j++)
				w->errors += p[j] != tag;
			ops->release(w->pool, off[slot], size[slot]);
			size[slot] = 0;
			continue;
		}
		n = (unsigned int)(s >> 40) % 5;
		size[slot] = PAGE << n;
		if (ops->alloc(w->pool, size[slot], &off[slot])) {
			size[slot] = 0;
			continue;
		}
		p = ops->map(w->pool, off[slot], size[slot]);
		if (!p) {
			w->errors++;
			continue;
		}
		memset(p, tag, size[slot]);
	}
	for (slot = 0; slot < WORKER_LIVE; slot++)
		if (size[slot])
			ops->release(w->pool, off[slot], size[slot]);
	return NULL;
}

static void test_concurrent(void)
{
	enum { THREADS = 4 };
	/* Small enough that threads run out of space and contend. */
	const uint64_t cap = THREADS * WORKER_LIVE * WORKER_MAX / 2;
	void *pool = new_pool("mt", cap, 0, 0);
	struct worker w[THREADS];
	uint64_t off;
	unsigned int i;

	for (i = 0; i < THREADS; i++) {
		w[i].pool = pool;
		w[i].id = i;
		w[i].errors = 0;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&w[i].thread, NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(w[i].thread, NULL);
		CU_ASSERT_EQUAL(w[i].errors, 0);
	}
	/* Everything came back and merged into one block. */
	CU_ASSERT_EQUAL(ops->alloc(pool, cap, &off), 0);
	CU_ASSERT_EQUAL(off, 0);
	ops->release(pool, off, cap);
	ops->destroy(pool);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_create_bad_config),
		CU_TEST_ENTRY(test_alloc_reuse),
		CU_TEST_ENTRY(test_roundtrip),
		CU_TEST_ENTRY(test_copy_peer),
		CU_TEST_ENTRY(test_clear),
		CU_TEST_ENTRY(test_out_of_bounds),
		CU_TEST_ENTRY(test_release_keeps_pages),
		CU_TEST_ENTRY(test_copy_fail_injection),
		CU_TEST_ENTRY(test_bandwidth_model),
		CU_TEST_ENTRY(test_concurrent),
		{ NULL, NULL },
	};

	return cu_run("sim", tests);
}
