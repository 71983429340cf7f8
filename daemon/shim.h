/* SPDX-License-Identifier: MIT */
#ifndef GSVM_SHIM_H
#define GSVM_SHIM_H

#include <stdint.h>

#include "svm.h"

struct session;

/**
 * struct shim_ops - A fault shim: how gsvmd sees a client's address space
 *
 * A fault shim forwards the client's CPU faults and unmap/remove/remap events
 * to gsvmd and carries out what the core asks of the address space
 * (@mm_ops: write-protect, release, install pages). The userfaultfd shim is
 * the default; a kernel module is another implementation of this table.
 */
struct shim_ops {
	/** @name: Shim name for logs ("userfaultfd"). */
	const char *name;
	/** @mm_ops: The address-space operations; their mm is the shim. */
	const struct svm_mm_ops *mm_ops;
	/**
	 * @create: Attach to a client from the descriptor it sent, and start
	 * serving its faults. Takes ownership of @fd, even on error.
	 */
	int (*create)(struct session *s, int fd, void **shim);
	/** @start: Start serving faults, once the session is ready. */
	int (*start)(void *shim);
	/** @destroy: Stop serving faults and release the client. */
	void (*destroy)(void *shim);
	/**
	 * @unregister: Stop forwarding faults of [@start, @start + @len), so
	 * the client's memory there is ordinary memory again.
	 */
	int (*unregister)(void *shim, uint64_t start, uint64_t len);
	/**
	 * @sync: Return once every address-space event (unmap, remove,
	 * remap) the client's kernel reported before the call is handled;
	 * called by workers (a no-op on the shim's own thread).
	 * Return: 0, or -ETIMEDOUT after a few seconds.
	 */
	int (*sync)(void *shim);
};

extern const struct shim_ops uffd_shim_ops;

#endif
