/* SPDX-License-Identifier: MIT */
#ifndef GSVM_MEM_H
#define GSVM_MEM_H

#include <stddef.h>

/**
 * DOC: Core allocations
 *
 * Every heap allocation the core makes goes through mem_alloc(),
 * mem_zalloc() or mem_realloc(), so that a test can make the Nth of them fail
 * (mem_fail_nth()) and check that each error path returns an error, leaks
 * nothing and leaves consistent state behind. In normal operation the hook is
 * off and these are plain malloc()/calloc()/realloc().
 *
 * The hook's counter is the one piece of process-wide state in the core; it
 * exists for tests only and is atomic, so threads may allocate concurrently.
 */

void *mem_alloc(size_t size);
void *mem_zalloc(size_t size);
void *mem_realloc(void *ptr, size_t size);
void *mem_calloc(size_t n, size_t size);
void mem_free(void *ptr);

/**
 * mem_fail_nth() - Make the @n-th allocation from now on fail
 * @n: 1 for the next allocation, 0 to switch failure injection off
 */
void mem_fail_nth(unsigned long n);

/**
 * mem_failed() - Whether the armed failure has fired
 *
 * Return: true once the allocation chosen by mem_fail_nth() has failed.
 */
int mem_failed(void);

#endif
