/* SPDX-License-Identifier: MIT */
#ifndef GSVM_EVICT_H
#define GSVM_EVICT_H

#include <stdint.h>

#include "core.h"

#include <stdbool.h>

int evict_one(struct core *core, struct pagemap *pm, uint64_t stamp, bool to_host);
int evict_device(struct core *core, struct pagemap *pm, uint64_t bytes, uint64_t *evicted);

#endif
