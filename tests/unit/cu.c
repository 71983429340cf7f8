// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cu.h"

/*
 * CU_TESTS=name[,name...] runs only those tests of the suite (for a
 * developer chasing one test; make check sets nothing).
 */
static int cu_selected(const char *name)
{
	const char *list = getenv("CU_TESTS"), *at;
	size_t len = strlen(name);

	if (!list || !*list)
		return 1;
	for (at = list; (at = strstr(at, name)); at += len)
		if ((at == list || at[-1] == ',') && (at[len] == ',' || !at[len]))
			return 1;
	return 0;
}

int cu_run(const char *suite_name, const struct cu_test *tests)
{
	CU_pSuite suite;
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite(suite_name, NULL, NULL);
	if (!suite)
		goto err;
	for (; tests->name; tests++)
		if (cu_selected(tests->name) && !CU_add_test(suite, tests->name, tests->fn))
			goto err;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		goto err;
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	failed += CU_get_run_summary()->nAssertsFailed;
	CU_cleanup_registry();
	return failed ? 1 : 0;
err:
	fprintf(stderr, "%s: CUnit error: %s\n", suite_name, CU_get_error_msg());
	CU_cleanup_registry();
	return 2;
}
