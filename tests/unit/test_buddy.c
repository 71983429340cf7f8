// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buddy.h"
#include "cu.h"
#include "devblocks.h"
#include "mem.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define PAGE (4 * KIB)
#define GIB (1024 * MIB)

static struct buddy *new_buddy(uint64_t size, uint64_t min_block)
{
	struct buddy *b = NULL;

	CU_ASSERT_EQUAL_FATAL(buddy_create(size, min_block, &b), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	return b;
}

/* Largest power of two <= @v, @v > 0. */
static uint64_t pow2_floor(uint64_t v)
{
	return (uint64_t)1 << (63 - __builtin_clzll(v));
}

/* Smallest power of two >= max(@v, @min). */
static uint64_t pow2_ceil(uint64_t v, uint64_t min)
{
	uint64_t p = min;

	while (p < v)
		p <<= 1;
	return p;
}

/*
 * After everything is freed, the pool must be back to its top-level blocks:
 * each can be allocated whole, largest first, and then nothing is left.
 */
static void assert_fully_coalesced(struct buddy *b, uint64_t min_block)
{
	uint64_t size = buddy_size(b);
	uint64_t left = size, off, expect = 0, bs;

	CU_ASSERT_EQUAL(buddy_free_bytes(b), size);
	CU_ASSERT_EQUAL(buddy_largest_free(b), pow2_floor(size));
	while (left) {
		bs = pow2_floor(left);
		CU_ASSERT_EQUAL_FATAL(buddy_alloc(b, bs, &off), 0);
		CU_ASSERT_EQUAL(off, expect);
		expect += bs;
		left -= bs;
	}
	CU_ASSERT_EQUAL(buddy_alloc(b, min_block, &off), -ENOSPC);
	CU_ASSERT_EQUAL(buddy_free_bytes(b), 0);
	CU_ASSERT_EQUAL(buddy_largest_free(b), 0);
	for (off = 0, left = size; left; off += bs, left -= bs) {
		bs = pow2_floor(left);
		CU_ASSERT_EQUAL(buddy_free(b, off), 0);
	}
	CU_ASSERT_EQUAL(buddy_free_bytes(b), size);
}

static void test_create_bad_args(void)
{
	struct buddy *b = NULL;

	CU_ASSERT_EQUAL(buddy_create(0, PAGE, &b), -EINVAL);
	CU_ASSERT_EQUAL(buddy_create(MIB, 0, &b), -EINVAL);
	CU_ASSERT_EQUAL(buddy_create(MIB, 3, &b), -EINVAL);
	CU_ASSERT_EQUAL(buddy_create(MIB, PAGE + 1, &b), -EINVAL);
	CU_ASSERT_EQUAL(buddy_create(MIB, 3 * PAGE, &b), -EINVAL);
	CU_ASSERT_EQUAL(buddy_create(MIB + 1, PAGE, &b), -EINVAL);
	CU_ASSERT_EQUAL(buddy_create(PAGE / 2, PAGE, &b), -EINVAL);
	CU_ASSERT_EQUAL(buddy_create(UINT64_MAX, PAGE, &b), -EINVAL);
	CU_ASSERT_EQUAL(buddy_create(MIB, PAGE, NULL), -EINVAL);
	/* More min blocks than the allocator can index. */
	CU_ASSERT_EQUAL(buddy_create((uint64_t)1 << 32, 1, &b), -EINVAL);
	CU_ASSERT_EQUAL(buddy_create(PAGE << 32, PAGE, &b), -EINVAL);
	CU_ASSERT_PTR_NULL(b);
	buddy_destroy(NULL);
}

static void test_alloc_free_each_order(void)
{
	struct buddy *b = new_buddy(4 * MIB, PAGE);
	uint64_t bs, off;

	CU_ASSERT_EQUAL(buddy_size(b), 4 * MIB);
	CU_ASSERT_EQUAL(buddy_free_bytes(b), 4 * MIB);
	CU_ASSERT_EQUAL(buddy_largest_free(b), 4 * MIB);
	for (bs = PAGE; bs <= 4 * MIB; bs <<= 1) {
		CU_ASSERT_EQUAL_FATAL(buddy_alloc(b, bs, &off), 0);
		CU_ASSERT_EQUAL(off % bs, 0);
		CU_ASSERT(off + bs <= 4 * MIB);
		CU_ASSERT_EQUAL(buddy_block_size(b, off), bs);
		CU_ASSERT_EQUAL(buddy_free_bytes(b), 4 * MIB - bs);
		CU_ASSERT_EQUAL(buddy_free(b, off), 0);
		CU_ASSERT_EQUAL(buddy_block_size(b, off), 0);
		CU_ASSERT_EQUAL(buddy_free_bytes(b), 4 * MIB);
		CU_ASSERT_EQUAL(buddy_largest_free(b), 4 * MIB);
	}
	buddy_destroy(b);
}

static void test_round_up(void)
{
	static const uint64_t req[][2] = {
		{ 1, PAGE },
		{ PAGE - 1, PAGE },
		{ PAGE, PAGE },
		{ PAGE + 1, 2 * PAGE },
		{ 3 * PAGE, 4 * PAGE },
		{ 5 * PAGE, 8 * PAGE },
		{ MIB - 1, MIB },
		{ MIB + 1, 2 * MIB },
		{ 3 * MIB, 4 * MIB },
	};
	struct buddy *b = new_buddy(4 * MIB, PAGE);
	uint64_t off;
	size_t i;

	for (i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(buddy_alloc(b, req[i][0], &off), 0);
		CU_ASSERT_EQUAL(buddy_block_size(b, off), req[i][1]);
		CU_ASSERT_EQUAL(off % req[i][1], 0);
		CU_ASSERT_EQUAL(buddy_free_bytes(b), 4 * MIB - req[i][1]);
		CU_ASSERT_EQUAL(buddy_free(b, off), 0);
	}
	buddy_destroy(b);
}

/* Fill the pool with blocks of mixed sizes; every one is aligned to its size. */
static void test_alignment(void)
{
	static const uint64_t sizes[] = { PAGE, 3 * PAGE, 16 * PAGE, 2 * PAGE, 64 * PAGE };
	struct buddy *b = new_buddy(8 * MIB, PAGE);
	uint64_t offs[2048], off, bs;
	size_t n = 0, i;

	/* Mixed sizes until one does not fit, then pages until nothing does. */
	for (i = 0; n < 2048; i++) {
		bs = sizes[i % 5];
		if (buddy_alloc(b, bs, &off) && buddy_alloc(b, PAGE, &off))
			break;
		CU_ASSERT_EQUAL(off % buddy_block_size(b, off), 0);
		offs[n++] = off;
	}
	CU_ASSERT_EQUAL(buddy_free_bytes(b), 0);
	while (n)
		CU_ASSERT_EQUAL(buddy_free(b, offs[--n]), 0);
	assert_fully_coalesced(b, PAGE);
	buddy_destroy(b);
}

static void test_coalesce(void)
{
	enum { N = 256 };
	struct buddy *b = new_buddy(N * PAGE, PAGE);
	uint64_t off[N], seen[N / 64] = { 0 }, idx, extra;
	size_t i;

	for (i = 0; i < N; i++) {
		CU_ASSERT_EQUAL_FATAL(buddy_alloc(b, PAGE, &off[i]), 0);
		idx = off[i] / PAGE;
		CU_ASSERT_FATAL(idx < N);
		CU_ASSERT_FALSE(seen[idx / 64] & (1ULL << (idx % 64)));
		seen[idx / 64] |= 1ULL << (idx % 64);
	}
	CU_ASSERT_EQUAL(buddy_alloc(b, PAGE, &extra), -ENOSPC);
	CU_ASSERT_EQUAL(buddy_largest_free(b), 0);

	/* Two buddies merge; a lone page next to a used buddy does not. */
	CU_ASSERT_EQUAL(buddy_free(b, 0), 0);
	CU_ASSERT_EQUAL(buddy_largest_free(b), PAGE);
	CU_ASSERT_EQUAL(buddy_free(b, 2 * PAGE), 0);
	CU_ASSERT_EQUAL(buddy_largest_free(b), PAGE);
	CU_ASSERT_EQUAL(buddy_free(b, PAGE), 0);
	CU_ASSERT_EQUAL(buddy_largest_free(b), 2 * PAGE);
	CU_ASSERT_EQUAL(buddy_free(b, 3 * PAGE), 0);
	CU_ASSERT_EQUAL(buddy_largest_free(b), 4 * PAGE);

	/* Free the rest in a scrambled order (stride 7 is coprime with N). */
	for (i = 0; i < N; i++) {
		idx = (i * 7) % N;
		if (idx < 4)
			continue;
		CU_ASSERT_EQUAL(buddy_free(b, idx * PAGE), 0);
	}
	CU_ASSERT_EQUAL(buddy_free_bytes(b), N * PAGE);
	CU_ASSERT_EQUAL(buddy_largest_free(b), N * PAGE);
	buddy_destroy(b);
}

static void test_non_pow2(void)
{
	const uint64_t size = 3 * MIB + PAGE;
	struct buddy *b = new_buddy(size, PAGE);
	uint64_t off, n;

	CU_ASSERT_EQUAL(buddy_largest_free(b), 2 * MIB);
	CU_ASSERT_EQUAL(buddy_alloc(b, 4 * MIB, &off), -EINVAL);
	CU_ASSERT_EQUAL(buddy_alloc(b, 2 * MIB + 1, &off), -EINVAL);
	assert_fully_coalesced(b, PAGE);

	/* Every page can be handed out, and only once. */
	for (n = 0; buddy_alloc(b, PAGE, &off) == 0; n++)
		CU_ASSERT(off < size);
	CU_ASSERT_EQUAL(n, size / PAGE);
	for (off = 0; off < size; off += PAGE)
		CU_ASSERT_EQUAL(buddy_free(b, off), 0);
	assert_fully_coalesced(b, PAGE);
	buddy_destroy(b);

	/* Tiny blocks: 7 = 4 + 2 + 1. */
	b = new_buddy(7, 1);
	CU_ASSERT_EQUAL(buddy_largest_free(b), 4);
	CU_ASSERT_EQUAL(buddy_alloc(b, 3, &off), 0);
	CU_ASSERT_EQUAL(off, 0);
	CU_ASSERT_EQUAL(buddy_alloc(b, 2, &off), 0);
	CU_ASSERT_EQUAL(off, 4);
	CU_ASSERT_EQUAL(buddy_alloc(b, 1, &off), 0);
	CU_ASSERT_EQUAL(off, 6);
	CU_ASSERT_EQUAL(buddy_alloc(b, 1, &off), -ENOSPC);
	CU_ASSERT_EQUAL(buddy_free(b, 4), 0);
	CU_ASSERT_EQUAL(buddy_free(b, 6), 0);
	CU_ASSERT_EQUAL(buddy_free(b, 0), 0);
	assert_fully_coalesced(b, 1);
	buddy_destroy(b);

	/* Huge blocks: offsets far beyond 32 bits. */
	b = new_buddy(3ULL << 40, 1ULL << 40);
	/* The smallest fitting block is used: the lone top-level one at 2 TiB. */
	CU_ASSERT_EQUAL(buddy_alloc(b, 1ULL << 40, &off), 0);
	CU_ASSERT_EQUAL(off, 2ULL << 40);
	CU_ASSERT_EQUAL(buddy_alloc(b, 1ULL << 40, &off), 0);
	CU_ASSERT_EQUAL(off, 0);
	CU_ASSERT_EQUAL(buddy_free(b, 2ULL << 40), 0);
	CU_ASSERT_EQUAL(buddy_free(b, 0), 0);
	assert_fully_coalesced(b, 1ULL << 40);
	buddy_destroy(b);
}

static void test_exhaustion(void)
{
	enum { N = 16 };
	struct buddy *b = new_buddy(N * 64 * KIB, PAGE);
	uint64_t off[N], extra;
	size_t i;

	for (i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(buddy_alloc(b, 64 * KIB, &off[i]), 0);
	CU_ASSERT_EQUAL(buddy_alloc(b, PAGE, &extra), -ENOSPC);
	CU_ASSERT_EQUAL(buddy_alloc(b, 64 * KIB, &extra), -ENOSPC);
	CU_ASSERT_EQUAL(buddy_free_bytes(b), 0);

	CU_ASSERT_EQUAL(buddy_free(b, off[5]), 0);
	CU_ASSERT_EQUAL(buddy_alloc(b, 128 * KIB, &extra), -ENOSPC);
	CU_ASSERT_EQUAL(buddy_alloc(b, 64 * KIB, &extra), 0);
	CU_ASSERT_EQUAL(extra, off[5]);
	CU_ASSERT_EQUAL(buddy_alloc(b, PAGE, &extra), -ENOSPC);
	for (i = 0; i < N; i++)
		CU_ASSERT_EQUAL(buddy_free(b, off[i]), 0);
	assert_fully_coalesced(b, PAGE);
	buddy_destroy(b);
}

static void test_bad_inputs(void)
{
	struct buddy *b = new_buddy(MIB, PAGE);
	uint64_t off, big;

	CU_ASSERT_EQUAL(buddy_alloc(b, 0, &off), -EINVAL);
	CU_ASSERT_EQUAL(buddy_alloc(b, MIB + 1, &off), -EINVAL);
	CU_ASSERT_EQUAL(buddy_alloc(b, UINT64_MAX, &off), -EINVAL);
	CU_ASSERT_EQUAL(buddy_alloc(b, PAGE, NULL), -EINVAL);
	CU_ASSERT_EQUAL(buddy_alloc(NULL, PAGE, &off), -EINVAL);

	CU_ASSERT_EQUAL_FATAL(buddy_alloc(b, 64 * KIB, &big), 0);
	/* Never allocated (a free block's head), interior, misaligned, out of range. */
	CU_ASSERT_EQUAL(buddy_free(b, big ^ (64 * KIB)), -EINVAL);
	CU_ASSERT_EQUAL(buddy_free(b, big + PAGE), -EINVAL);
	CU_ASSERT_EQUAL(buddy_free(b, big + 1), -EINVAL);
	CU_ASSERT_EQUAL(buddy_free(b, MIB), -EINVAL);
	CU_ASSERT_EQUAL(buddy_free(b, UINT64_MAX), -EINVAL);
	CU_ASSERT_EQUAL(buddy_free(NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(buddy_block_size(b, big + PAGE), 0);
	CU_ASSERT_EQUAL(buddy_block_size(b, big + 1), 0);
	CU_ASSERT_EQUAL(buddy_block_size(b, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(buddy_block_size(NULL, 0), 0);
	CU_ASSERT_EQUAL(buddy_free_bytes(b), MIB - 64 * KIB);

	CU_ASSERT_EQUAL(buddy_free(b, big), 0);
	CU_ASSERT_EQUAL(buddy_free(b, big), -EINVAL);
	CU_ASSERT_EQUAL(buddy_free_bytes(b), MIB);
	CU_ASSERT_EQUAL(buddy_size(NULL), 0);
	CU_ASSERT_EQUAL(buddy_free_bytes(NULL), 0);
	CU_ASSERT_EQUAL(buddy_largest_free(NULL), 0);
	assert_fully_coalesced(b, PAGE);
	buddy_destroy(b);
}

/* xorshift64*: small, seedable, good enough to drive a model check. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Per-unit ownership in the model. */
enum { UNIT_FREE, UNIT_HEAD, UNIT_BODY };

struct model_block {
	uint64_t off;
	uint64_t size;
};

/**
 * random_run() - Drive a buddy with random operations against a model
 * @size: Pool size
 * @min_block: Minimum block
 * @seed: PRNG seed
 * @ops: Number of operations
 *
 * The model records which units belong to live blocks, so overlaps, blocks
 * outside the pool, wrong sizes and free-byte drift are caught on the spot.
 */
static void random_run(uint64_t size, uint64_t min_block, uint64_t seed, unsigned long ops)
{
	uint64_t nunits = size / min_block, model_free = size, s = seed;
	uint64_t maxo = 63 - __builtin_clzll(pow2_floor(size) / min_block);
	struct model_block *live = calloc(nunits, sizeof(*live));
	uint8_t *unit = calloc(nunits, 1);
	struct buddy *b = new_buddy(size, min_block);
	size_t nlive = 0, i, u;
	uint64_t r, bs, req, off;
	unsigned long op;
	int rc;

	CU_ASSERT_FATAL(live && unit);
	for (op = 0; op < ops; op++) {
		r = rng_next(&s);
		if (r % 16 == 0) {
			/* A random offset that is not a live block must be refused. */
			u = (r >> 8) % nunits;
			if (unit[u] != UNIT_HEAD) {
				CU_ASSERT_EQUAL(buddy_free(b, u * min_block), -EINVAL);
				CU_ASSERT_EQUAL(buddy_block_size(b, u * min_block), 0);
			}
		} else if (nlive == 0 || r % 16 < 9) {
			/* Orders are geometric: small blocks are common. */
			bs = min_block << __builtin_ctzll((r >> 8) | (1ULL << maxo));
			req = bs == min_block ? 1 + (r >> 32) % bs :
						bs / 2 + 1 + (r >> 32) % (bs / 2);
			CU_ASSERT_EQUAL(pow2_ceil(req, min_block), bs);
			rc = buddy_alloc(b, req, &off);
			if (rc == -ENOSPC) {
				CU_ASSERT(buddy_largest_free(b) < bs);
				continue;
			}
			CU_ASSERT_EQUAL_FATAL(rc, 0);
			CU_ASSERT_EQUAL_FATAL(off % bs, 0);
			CU_ASSERT_FATAL(off < size && bs <= size - off);
			CU_ASSERT_EQUAL(buddy_block_size(b, off), bs);
			for (u = off / min_block; u < (off + bs) / min_block; u++) {
				CU_ASSERT_EQUAL_FATAL(unit[u], UNIT_FREE);
				unit[u] = u == off / min_block ? UNIT_HEAD : UNIT_BODY;
			}
			live[nlive].off = off;
			live[nlive++].size = bs;
			model_free -= bs;
		} else {
			i = (r >> 8) % nlive;
			CU_ASSERT_EQUAL_FATAL(buddy_free(b, live[i].off), 0);
			memset(unit + live[i].off / min_block, UNIT_FREE, live[i].size / min_block);
			model_free += live[i].size;
			live[i] = live[--nlive];
		}
		CU_ASSERT_EQUAL_FATAL(buddy_free_bytes(b), model_free);
		CU_ASSERT(buddy_largest_free(b) <= model_free);
	}
	while (nlive) {
		nlive--;
		CU_ASSERT_EQUAL(buddy_free(b, live[nlive].off), 0);
	}
	assert_fully_coalesced(b, min_block);
	buddy_destroy(b);
	free(unit);
	free(live);
}

static void test_random(void)
{
	random_run(4 * MIB, PAGE, 0x9E3779B97F4A7C15ULL, 100000);
	random_run(4 * MIB + 2 * MIB + 64 * KIB + 3 * PAGE, PAGE, 42, 100000);
	random_run(1000, 8, 7, 100000);
}

/*
 * A pool of the largest size the allocator indexes, 2^32 - 1 units, has six
 * summary levels at order 0. Drive it with random blocks, mostly small, and
 * check each against the live ones (the pool is too big for a per-unit model).
 * Its bitmaps reserve 2 GiB of address space, nearly all never touched; a
 * system with strict overcommit may refuse that, and then there is no test.
 */
static void test_huge_pool(void)
{
	enum { LIVE = 256, OPS = 20000 };
	const uint64_t size = UINT32_MAX;
	struct model_block live[LIVE];
	uint64_t s = 0xC0FFEE, r, bs, off, model_free = size;
	struct buddy *b = NULL;
	size_t nlive = 0, i, j;
	unsigned long op;
	int rc;

	rc = buddy_create(size, 1, &b);
	if (rc == -ENOMEM) {
		printf("(skipped: no 2 GiB reservation) ");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(buddy_largest_free(b), 1ULL << 31);
	for (op = 0; op < OPS; op++) {
		r = rng_next(&s);
		if (nlive < LIVE && (nlive == 0 || r % 16 < 9)) {
			bs = 1ULL << __builtin_ctzll((r >> 8) | (1ULL << 31));
			rc = buddy_alloc(b, bs, &off);
			if (rc == -ENOSPC) {
				CU_ASSERT(buddy_largest_free(b) < bs);
				continue;
			}
			CU_ASSERT_EQUAL_FATAL(rc, 0);
			CU_ASSERT_EQUAL_FATAL(off % bs, 0);
			CU_ASSERT_FATAL(off < size && bs <= size - off);
			for (j = 0; j < nlive; j++)
				CU_ASSERT_FATAL(off + bs <= live[j].off ||
						live[j].off + live[j].size <= off);
			live[nlive].off = off;
			live[nlive++].size = bs;
			model_free -= bs;
		} else {
			i = (r >> 8) % nlive;
			CU_ASSERT_EQUAL(buddy_block_size(b, live[i].off), live[i].size);
			CU_ASSERT_EQUAL_FATAL(buddy_free(b, live[i].off), 0);
			CU_ASSERT_EQUAL(buddy_free(b, live[i].off), -EINVAL);
			model_free += live[i].size;
			live[i] = live[--nlive];
		}
		CU_ASSERT_EQUAL_FATAL(buddy_free_bytes(b), model_free);
	}
	while (nlive)
		CU_ASSERT_EQUAL(buddy_free(b, live[--nlive].off), 0);
	assert_fully_coalesced(b, 1);
	buddy_destroy(b);
}

/*
 * Anonymous resident memory of this process in bytes (resident minus shared,
 * so that library code paged in on first use does not count), -1 if unknown.
 * No heap use.
 */
static long rss_anon_bytes(void)
{
	char buf[128];
	long pages, resident, shared;
	ssize_t n;
	int fd;

	fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%ld %ld %ld", &pages, &resident, &shared) != 3)
		return -1;
	return (resident - shared) * sysconf(_SC_PAGESIZE);
}

/*
 * The metadata a pool of 2 MiB blocks makes resident must follow the blocks,
 * not the pool's 4 KiB pages (bench/fig_metadata.c allows gsvmd 1 byte of
 * anonymous memory per managed page in all). A 4 GiB pool has 1 Mi units;
 * its bitmaps are one 516 KiB allocation, of which filling, emptying and
 * churning 2048 blocks of 2 MiB may use only the orders 9..20 part: 1144
 * bytes, at most two pages. Bounds, with room for allocator noise (ASan's
 * allocator alone adds ~56 KiB at creation):
 *
 * - creation: < 96 KiB, so the bitmaps were neither cleared nor walked;
 * - the block work: < 32 KiB, 1/32 byte per unit. A layout with a record per
 *   unit touches one page per 2 MiB block, 8 MiB here, and fails by far.
 *
 * This runs first: later tests free large blocks, which can raise glibc's
 * dynamic mmap threshold and serve the bitmaps from reused heap memory that
 * calloc() has to clear.
 */
static void test_metadata_rss(void)
{
	enum { NBLK = 2048, ROUNDS = 4, CHURN = 100000 };
	static uint64_t off[NBLK];
	uint64_t s = 2024, r, extra;
	unsigned long bad = 0, round, op;
	long rss0, rss1, rss2;
	struct buddy *b;
	size_t i, j;

	memset(off, 0xff, sizeof(off));
	rss0 = rss_anon_bytes();
	b = new_buddy(4 * GIB, PAGE);
	rss1 = rss_anon_bytes();

	/* Fill, check, empty in a scrambled order (1031 is coprime with 2048). */
	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < NBLK; i++)
			bad += buddy_alloc(b, 2 * MIB, &off[i]) || off[i] % (2 * MIB) ||
			       buddy_block_size(b, off[i]) != 2 * MIB;
		bad += buddy_alloc(b, 2 * MIB, &extra) != -ENOSPC;
		for (i = 0; i < NBLK; i++)
			bad += buddy_free(b, off[(i * 1031 + round) % NBLK]) != 0;
		bad += buddy_free_bytes(b) != 4 * GIB;
	}
	/* Churn with half the blocks live. */
	for (i = 0; i < NBLK / 2; i++)
		bad += buddy_alloc(b, 2 * MIB, &off[i]) != 0;
	for (op = 0; op < CHURN; op++) {
		r = rng_next(&s);
		j = (r >> 8) % (NBLK / 2);
		bad += buddy_free(b, off[j]) || buddy_alloc(b, 2 * MIB, &off[j]);
	}
	for (i = 0; i < NBLK / 2; i++)
		bad += buddy_free(b, off[i]) != 0;
	rss2 = rss_anon_bytes();

	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_FATAL(rss0 >= 0 && rss1 >= 0 && rss2 >= 0);
	printf("(anon rss: create +%ld KiB, blocks +%ld KiB) ", (rss1 - rss0) / 1024,
	       (rss2 - rss1) / 1024);
	CU_ASSERT(rss1 - rss0 < 96L * 1024);
	CU_ASSERT(rss2 - rss1 < 32L * 1024);
	assert_fully_coalesced(b, PAGE);
	buddy_destroy(b);
}

static void test_create_alloc_failure(void)
{
	struct buddy *b;
	unsigned long n;
	int rc = -1, fired;

	for (n = 1; n < 100; n++) {
		b = NULL;
		mem_fail_nth(n);
		rc = buddy_create(3 * MIB + PAGE, PAGE, &b);
		fired = mem_failed();
		mem_fail_nth(0);
		if (rc == 0) {
			CU_ASSERT_FALSE(fired);
			break;
		}
		CU_ASSERT_EQUAL(rc, -ENOMEM);
		CU_ASSERT(fired);
		CU_ASSERT_PTR_NULL(b);
	}
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT(n > 1);
	assert_fully_coalesced(b, PAGE);
	buddy_destroy(b);
}

/* devblocks: the providers' locked allocator and bounds check. */
static void test_devblocks(void)
{
	struct devblocks b;
	uint64_t a, c, d;

	CU_ASSERT_EQUAL_FATAL(devblocks_init(&b, 1 << 20, 4096), 0);
	CU_ASSERT_EQUAL(devblocks_alloc(&b, 4096, &a), 0);
	CU_ASSERT_EQUAL(devblocks_alloc(&b, 8192, &c), 0);
	CU_ASSERT_NOT_EQUAL(a, c);
	CU_ASSERT_EQUAL(devblocks_alloc(&b, 2 << 20, &d), -EINVAL);
	devblocks_release(&b, a);
	devblocks_release(&b, a); /* not allocated any more: ignored */
	devblocks_release(&b, 12345); /* not a block: ignored */
	devblocks_release(&b, c);
	CU_ASSERT_EQUAL(devblocks_alloc(&b, 1 << 20, &d), 0); /* all of it free again */
	CU_ASSERT_EQUAL(devblocks_alloc(&b, 4096, &a), -ENOSPC);
	CU_ASSERT(devblocks_range_ok(&b, 0, 1 << 20));
	CU_ASSERT(devblocks_range_ok(&b, (1 << 20) - 1, 1));
	CU_ASSERT_FALSE(devblocks_range_ok(&b, 0, 0));
	CU_ASSERT_FALSE(devblocks_range_ok(&b, 1 << 20, 1));
	CU_ASSERT_FALSE(devblocks_range_ok(&b, 4096, 1 << 20));
	CU_ASSERT_FALSE(devblocks_range_ok(&b, 4096, UINT64_MAX)); /* no overflow */
	devblocks_fini(&b);
	devblocks_fini(&b); /* a second time: nothing left to do */
	CU_ASSERT_EQUAL(devblocks_init(&b, 0, 4096), -EINVAL);
	devblocks_fini(&b); /* failed init: nothing to do */
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_metadata_rss),
		CU_TEST_ENTRY(test_create_bad_args),
		CU_TEST_ENTRY(test_alloc_free_each_order),
		CU_TEST_ENTRY(test_round_up),
		CU_TEST_ENTRY(test_alignment),
		CU_TEST_ENTRY(test_coalesce),
		CU_TEST_ENTRY(test_non_pow2),
		CU_TEST_ENTRY(test_exhaustion),
		CU_TEST_ENTRY(test_bad_inputs),
		CU_TEST_ENTRY(test_random),
		CU_TEST_ENTRY(test_huge_pool),
		CU_TEST_ENTRY(test_create_alloc_failure),
		CU_TEST_ENTRY(test_devblocks),
		{ NULL, NULL },
	};

	return cu_run("buddy", tests);
}
