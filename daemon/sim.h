/* SPDX-License-Identifier: MIT */
#ifndef GSVM_SIM_H
#define GSVM_SIM_H

#include <stdint.h>

#include "pagemap.h"

/**
 * DOC: Simulated device ("sim")
 *
 * A sim device's memory is a memfd of the configured capacity, mapped into
 * gsvmd and carved by the buddy allocator (4 KiB minimum). Copies are real
 * memcpy: data handed to a sim device really leaves the client. Like VRAM,
 * freed device memory stays resident and is reused (allocations' contents are
 * undefined; users overwrite them); it returns to the host when the pool is
 * destroyed. An optional model charges @bandwidth bytes/s and @latency_us per
 * copy (by sleeping) to imitate a slower bus; it is off by default.
 *
 * sim_provider_ops (declared in pagemap.h) is the provider ops table.
 * The pool is thread-safe: allocation is under a mutex, copies need none.
 */

/**
 * sim_fail_copy_after() - Copy-failure injection for tests
 * @pool: A sim pool (from sim_provider_ops.create)
 * @n: Make the @n-th copy from now fail with -EIO (1 = the next one);
 *     0 switches injection off
 */
void sim_fail_copy_after(void *pool, unsigned long n);

/** sim_fd() - The memfd behind a sim pool. */
int sim_fd(void *pool);

#endif
