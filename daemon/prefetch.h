/* SPDX-License-Identifier: MIT */
#ifndef GSVM_PREFETCH_H
#define GSVM_PREFETCH_H

#include <stdint.h>

struct migrate_op;
struct session;

int prefetch_run(struct session *s, uint64_t start, uint64_t len, int loc, struct migrate_op *op);

#endif
