// SPDX-License-Identifier: MIT
/**
 * DOC: Worker threads
 *
 * Requests that touch a client's memory (allocation, prefetch, device ops,
 * queries) can take milliseconds and can wait on a client's address space, so
 * they never run on the event loop: the loop decodes a request and hands it
 * to this pool, and the worker sends the reply.
 *
 * Jobs are queued per owner (a client's session) and owners are served in
 * turn: a worker that becomes free takes the oldest job of the owner at the
 * head of the ready list, and that owner goes to the tail if it has more.
 * A client that floods requests thus gets its share of the workers, not all
 * of them, and a quiet client's request waits for at most one job of each
 * other client. Within an owner, jobs start in submission order, several
 * at a time; a job of one client never waits for a job of another except
 * for the device locks they share.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "mem.h"
#include "workers.h"


struct workers {
	pthread_mutex_t lock;
	pthread_cond_t work;	/* a job was queued, or stop */
	pthread_cond_t idle;	/* no job queued and nobody runs one */
	TAILQ_HEAD(, workers_queue) ready;	/* owners with jobs queued */
	unsigned int queued;
	unsigned int running;
	unsigned int nthreads;
	bool stop;
	pthread_t threads[];
};

static void *workers_main(void *arg)
{
	struct workers *w = arg;
	struct job *job;

	struct workers_queue *q;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stop && TAILQ_EMPTY(&w->ready))
			pthread_cond_wait(&w->work, &w->lock);
		q = TAILQ_FIRST(&w->ready);
		if (!q)
			break;
		job = TAILQ_FIRST(&q->jobs);
		TAILQ_REMOVE(&q->jobs, job, link);
		/* Its next job, if any, waits for one of every other owner. */
		TAILQ_REMOVE(&w->ready, q, link);
		if (!TAILQ_EMPTY(&q->jobs))
			TAILQ_INSERT_TAIL(&w->ready, q, link);
		w->queued--;
		w->running++;
		pthread_mutex_unlock(&w->lock);
		job->fn(job->arg);
		mem_free(job);
		pthread_mutex_lock(&w->lock);
		w->running--;
		if (!w->running && !w->queued)
			pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/**
 * workers_create() - Start a pool of worker threads
 * @nthreads: Number of threads, at least 1
 * @out: Receives the pool
 *
 * Return: 0, -EINVAL, -ENOMEM, or pthread_create()'s error.
 */
int workers_create(unsigned int nthreads, struct workers **out)
{
	struct workers *w;
	unsigned int i;
	int err;

	if (!nthreads || nthreads > 1024)
		return -EINVAL;
	w = mem_zalloc(sizeof(*w) + nthreads * sizeof(pthread_t));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	TAILQ_INIT(&w->ready);
	for (i = 0; i < nthreads; i++) {
		err = pthread_create(&w->threads[i], NULL, workers_main, w);
		if (err) {
			w->nthreads = i;
			workers_destroy(w);
			return -err;
		}
	}
	w->nthreads = nthreads;
	*out = w;
	return 0;
}

/**
 * workers_queue_init() - Set up an owner's queue
 * @q: The queue, embedded in its owner; it must stay until its jobs have run
 */
void workers_queue_init(struct workers_queue *q)
{
	TAILQ_INIT(&q->jobs);
}

/**
 * workers_submit() - Queue a job
 * @w: The pool
 * @q: The queue of the job's owner (workers_queue_init())
 * @fn: The job
 * @arg: Its argument
 *
 * Return: 0, -ENOMEM, or -ESHUTDOWN once the pool is stopping.
 */
int workers_submit(struct workers *w, struct workers_queue *q, void (*fn)(void *arg), void *arg)
{
	struct job *job = mem_alloc(sizeof(*job));

	if (!job)
		return -ENOMEM;
	job->fn = fn;
	job->arg = arg;
	pthread_mutex_lock(&w->lock);
	if (w->stop) {
		pthread_mutex_unlock(&w->lock);
		mem_free(job);
		return -ESHUTDOWN;
	}
	if (TAILQ_EMPTY(&q->jobs))
		TAILQ_INSERT_TAIL(&w->ready, q, link);
	TAILQ_INSERT_TAIL(&q->jobs, job, link);
	w->queued++;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

/**
 * workers_drain() - Wait until every queued job has run
 * @w: The pool
 */
void workers_drain(struct workers *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->running || w->queued)
		pthread_cond_wait(&w->idle, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

/**
 * workers_busy() - Jobs queued or running
 * @w: The pool
 *
 * Return: the count.
 */
unsigned int workers_busy(struct workers *w)
{
	unsigned int n;

	pthread_mutex_lock(&w->lock);
	n = w->queued + w->running;
	pthread_mutex_unlock(&w->lock);
	return n;
}

/**
 * workers_destroy() - Run what is queued, then stop and free the pool
 * @w: The pool (NULL is ignored)
 */
void workers_destroy(struct workers *w)
{
	unsigned int i;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->work);
	pthread_mutex_destroy(&w->lock);
	mem_free(w);
}
