/* SPDX-License-Identifier: MIT */
#ifndef GSVM_WORKERS_H
#define GSVM_WORKERS_H

#include <stdbool.h>
#include <sys/queue.h>

struct workers;

struct job {
	TAILQ_ENTRY(job) link;
	void (*fn)(void *arg);
	void *arg;
};

/**
 * struct workers_queue - The jobs of one owner (a session), served in turn
 * with other owners' (workers.c)
 * @jobs: Queued jobs, oldest first
 * @link: Place in the pool's ready list while @jobs is not empty
 */
struct workers_queue {
	TAILQ_HEAD(, job) jobs;
	TAILQ_ENTRY(workers_queue) link;
};

int workers_create(unsigned int nthreads, struct workers **out);
void workers_queue_init(struct workers_queue *q);
int workers_submit(struct workers *w, struct workers_queue *q, void (*fn)(void *arg), void *arg);
void workers_drain(struct workers *w);
void workers_destroy(struct workers *w);
unsigned int workers_busy(struct workers *w);

#endif
