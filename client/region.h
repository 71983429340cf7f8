/* SPDX-License-Identifier: MIT */
#ifndef GSVM_CLIENT_REGION_H
#define GSVM_CLIENT_REGION_H

#include <stddef.h>

#define REGION_PAGE_SIZE 4096UL
#define REGION_ALIGN (2UL << 20)

int region_create(size_t size, int shim, int *memfd, void **addr);
void region_destroy(void *addr, size_t size);

#endif
