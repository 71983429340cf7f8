/* SPDX-License-Identifier: MIT */
#ifndef GSVM_TEST_CU_H
#define GSVM_TEST_CU_H

#include <CUnit/Basic.h>

/**
 * struct cu_test - One named test of a suite
 */
struct cu_test {
	const char *name;
	void (*fn)(void);
};

/**
 * cu_run() - Run one suite with CUnit's basic interface
 * @suite: Suite name
 * @tests: Tests, terminated by an entry with a NULL name
 *
 * Prints CUnit's standard Run Summary.
 *
 * Return: the process exit status: 0 when every test passed.
 */
int cu_run(const char *suite, const struct cu_test *tests);

#define CU_TEST_ENTRY(fn) { #fn, fn }

#endif
