/* SPDX-License-Identifier: MIT */
#ifndef GSVM_DEVOP_H
#define GSVM_DEVOP_H

#include <stdint.h>

#include "core.h"
#include "svm.h"

/* FNV-1a, 64 bit. */
#define DEVOP_FNV_OFFSET 0xcbf29ce484222325ULL
#define DEVOP_FNV_PRIME 0x100000001b3ULL

/**
 * enum devop_kind - The small kernels a device can run
 * @DEVOP_FILL: Set every byte to arg & 0xff
 * @DEVOP_CHECKSUM: 64-bit FNV-1a hash of the bytes, in address order
 * @DEVOP_ADD: Add arg to every little-endian uint64 (8-byte aligned length)
 */
enum devop_kind {
	DEVOP_FILL,
	DEVOP_CHECKSUM,
	DEVOP_ADD,
	DEVOP_NR,
};

void devop_kernel(enum devop_kind op, void *buf, uint64_t len, uint64_t arg, uint64_t *state);
int devop_run(struct core *core, struct svm *svm, int device, enum devop_kind op, uint64_t addr,
	      uint64_t len, uint64_t arg, uint64_t *result);

#endif
