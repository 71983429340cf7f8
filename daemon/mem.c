// SPDX-License-Identifier: MIT
#include <stdatomic.h>
#include <stdlib.h>

#include "mem.h"

static atomic_ulong fail_countdown;
static atomic_int fail_fired;

static int mem_should_fail(void)
{
	unsigned long left = atomic_load(&fail_countdown);

	while (left) {
		if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1)) {
			if (left == 1) {
				atomic_store(&fail_fired, 1);
				return 1;
			}
			return 0;
		}
	}
	return 0;
}

void *mem_alloc(size_t size)
{
	return mem_should_fail() ? NULL : malloc(size);
}

void *mem_zalloc(size_t size)
{
	return mem_should_fail() ? NULL : calloc(1, size);
}

void *mem_calloc(size_t n, size_t size)
{
	return mem_should_fail() ? NULL : calloc(n, size);
}

void *mem_realloc(void *ptr, size_t size)
{
	return mem_should_fail() ? NULL : realloc(ptr, size);
}

void mem_free(void *ptr)
{
	free(ptr);
}

void mem_fail_nth(unsigned long n)
{
	atomic_store(&fail_fired, 0);
	atomic_store(&fail_countdown, n);
}

int mem_failed(void)
{
	return atomic_load(&fail_fired);
}
