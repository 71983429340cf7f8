/* SPDX-License-Identifier: MIT */
#ifndef GSVM_EVICT_H
#define GSVM_EVICT_H

#include <stdint.h>

#include "core.h"

int evict_one(struct core *core, struct pagemap *pm, uint64_t stamp);

#endif
