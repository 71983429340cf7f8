// SPDX-License-Identifier: MIT
/**
 * DOC: Parallel prefetch
 *
 * A big prefetch is cut into parts, one per CPU, at boundaries of the largest
 * range size, and the parts run at the same time: the worker that took the
 * request runs the first and queues the others to the worker pool. Moving
 * data is bound by copying and by the kernel's work on the client's pages
 * (punching them out of its memfd, filling them back in), which a single
 * thread does one page after the other; with the client's driver lock
 * dropped while copying (migrate.c), the parts overlap nearly completely.
 *
 * The parts share one operation stamp, so that no part evicts what another
 * has just placed. They never deadlock the pool: when the requesting worker
 * has finished its own part it takes back every part no worker has started
 * and runs it itself, and waits only for parts that are running.
 *
 * The whole request is checked (registered, device known) before any part
 * starts, so "nothing moved" errors keep their meaning; the reply sums what
 * the parts did and carries the first error in address order.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "migrate.h"
#include "prefetch.h"
#include "session.h"
#include "workers.h"

/* A part is worth a thread from this size on. */
#define PREFETCH_PART_MIN (64ULL << 20)
#define PREFETCH_MAX_PARTS 8

enum part_state { PART_QUEUED, PART_RUNNING, PART_DONE };

struct prefetch_part {
	struct session *s;
	uint64_t start, len;
	int loc;
	struct migrate_op op;
	int err;
	atomic_int state;
	atomic_int refs;	/* the requester and the queued job */
	pthread_mutex_t lock;
	pthread_cond_t done;
};

static void part_put(struct prefetch_part *p)
{
	if (atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	mem_free(p);
}

static int part_populate(struct session *s, uint64_t start, uint64_t len, int loc,
			 struct migrate_op *op)
{
	int err;

	pthread_mutex_lock(&s->svm.lock);
	err = migrate_populate(&s->d->core, &s->svm, start, len, loc, op);
	pthread_mutex_unlock(&s->svm.lock);
	return err;
}

/* Run @p unless someone else has claimed it. */
static void part_claim_and_run(struct prefetch_part *p)
{
	int queued = PART_QUEUED;

	if (!atomic_compare_exchange_strong(&p->state, &queued, PART_RUNNING))
		return;
	p->err = part_populate(p->s, p->start, p->len, p->loc, &p->op);
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->state, PART_DONE);
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->lock);
}

static void part_job(void *arg)
{
	struct prefetch_part *p = arg;
	struct session *s = p->s;

	part_claim_and_run(p);
	part_put(p);
	/* The job sat in the session's queue: it held the session. */
	session_put(s);
}

static unsigned int prefetch_nparts(uint64_t len)
{
	/* Cached by whichever worker comes first: atomically, workers race. */
	static long ncpu_cached;
	long ncpu = __atomic_load_n(&ncpu_cached, __ATOMIC_RELAXED);
	uint64_t n;

	if (!ncpu) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		ncpu = c > 0 ? c : 1;
		__atomic_store_n(&ncpu_cached, ncpu, __ATOMIC_RELAXED);
	}
	n = len / PREFETCH_PART_MIN;
	if (n > (uint64_t)ncpu)
		n = (uint64_t)ncpu;
	if (n > PREFETCH_MAX_PARTS)
		n = PREFETCH_MAX_PARTS;
	return n ? (unsigned int)n : 1;
}

static void merge(struct migrate_result *to, const struct migrate_result *from)
{
	to->migrated += from->migrated;
	to->in_place += from->in_place;
	to->failed += from->failed;
	if (!to->error)
		to->error = from->error;
}

/* Queue a part covering [start, start + len); NULL to run it inline. */
static struct prefetch_part *part_queue(struct session *s, uint64_t start, uint64_t len, int loc,
					const struct migrate_op *op)
{
	struct prefetch_part *p = mem_calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->s = s;
	p->start = start;
	p->len = len;
	p->loc = loc;
	p->op = *op;
	atomic_init(&p->state, PART_QUEUED);
	atomic_init(&p->refs, 2);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->done, NULL);
	session_get(s);
	if (workers_submit(s->d->workers, &s->jobs, part_job, p)) {
		session_put(s);
		atomic_store(&p->refs, 1);
		part_put(p);
		return NULL;
	}
	return p;
}

/**
 * prefetch_run() - Place [@start, @start + @len) of a client at @loc
 * @s: The client's session; the caller holds none of its locks
 * @start: First address
 * @len: Bytes
 * @loc: A device id or LOC_HOST
 * @op: The operation (migrate_op_init()); @op->res receives the sum of what
 *      the parts did
 *
 * As migrate_populate(), on several threads when the request is big.
 *
 * Return: as migrate_populate(): the first error in address order.
 */
int prefetch_run(struct session *s, uint64_t start, uint64_t len, int loc, struct migrate_op *op)
{
	struct prefetch_part *parts[PREFETCH_MAX_PARTS] = { NULL };
	uint64_t align = s->svm.cfg.chunk_sizes[0], cut[PREFETCH_MAX_PARTS + 1];
	struct migrate_result *res = &op->res;
	unsigned int n = prefetch_nparts(len), i;
	struct migrate_op first;
	int err, perr;

	if (n < 2)
		return part_populate(s, start, len, loc, op);
	/* Checked whole, so that an error still means nothing moved. */
	pthread_mutex_lock(&s->svm.lock);
	err = svm_check_registered(&s->svm, start, len);
	pthread_mutex_unlock(&s->svm.lock);
	if (!err && loc != LOC_HOST) {
		struct pagemap *pm = core_device(&s->d->core, loc);

		if (!pm || !pagemap_bound(pm))
			err = -ENODEV;
	}
	if (err) {
		memset(res, 0, sizeof(*res));
		return err;
	}

	cut[0] = start;
	cut[n] = start + len;
	for (i = 1; i < n; i++) {
		cut[i] = (start + len / n * i) & ~(align - 1);
		if (cut[i] < cut[i - 1])
			cut[i] = cut[i - 1];
	}
	first = *op;
	for (i = 1; i < n; i++)
		if (cut[i + 1] > cut[i])
			parts[i] = part_queue(s, cut[i], cut[i + 1] - cut[i], loc, op);

	err = cut[1] > cut[0] ? part_populate(s, cut[0], cut[1] - cut[0], loc, &first) : 0;
	memset(res, 0, sizeof(*res));
	res->requested = len;
	merge(res, &first.res);
	for (i = 1; i < n; i++) {
		struct prefetch_part *p = parts[i];
		struct migrate_op inl = *op;

		if (cut[i + 1] <= cut[i])
			continue;
		if (!p) {
			perr = part_populate(s, cut[i], cut[i + 1] - cut[i], loc, &inl);
			merge(res, &inl.res);
		} else {
			part_claim_and_run(p);
			pthread_mutex_lock(&p->lock);
			while (atomic_load(&p->state) != PART_DONE)
				pthread_cond_wait(&p->done, &p->lock);
			pthread_mutex_unlock(&p->lock);
			perr = p->err;
			merge(res, &p->op.res);
			part_put(p);
		}
		if (!err)
			err = perr;
	}
	return err;
}
