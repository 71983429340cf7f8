/* SPDX-License-Identifier: MIT */
#ifndef GSVM_CLIENT_UFFD_H
#define GSVM_CLIENT_UFFD_H

#include <stddef.h>

int uffd_open(int *out);
int uffd_register(int uffd, void *addr, size_t len);
int uffd_unregister(int uffd, void *addr, size_t len);

#endif
