/* SPDX-License-Identifier: MIT */
#ifndef GSVM_RBTREE_H
#define GSVM_RBTREE_H

#include <sys/tree.h>

/*
 * libbsd's RB_GENERATE_STATIC() uses a __unused attribute macro that libbsd
 * leaves undefined on Linux (glibc headers use the name), so spell it out.
 */
#define GSVM_RB_GENERATE_STATIC(name, type, field, cmp) \
	RB_GENERATE_INTERNAL(name, type, field, cmp, __attribute__((unused)) static)

#endif
