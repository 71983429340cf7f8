/* SPDX-License-Identifier: MIT */
#ifndef GSVM_WORKERS_H
#define GSVM_WORKERS_H

#include <stdbool.h>

struct workers;

int workers_create(unsigned int nthreads, struct workers **out);
int workers_submit(struct workers *w, void (*fn)(void *arg), void *arg);
void workers_drain(struct workers *w);
void workers_destroy(struct workers *w);
unsigned int workers_busy(struct workers *w);

#endif
