/* SPDX-License-Identifier: MIT */
#ifndef GSVM_SHIM_H
#define GSVM_SHIM_H

#include <linux/userfaultfd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "svm.h"

struct session;

/**
 * struct shim_port - How a fault thread reaches the kernel
 *
 * Both fault shims share one fault thread (uffd.c: events in order before
 * faults, parking on busy ranges, sync); what differs is the descriptor it
 * reads and the calls it makes on it. Events travel as &struct uffd_msg
 * whatever the port. Every call returns 0 or a negative errno; -EAGAIN
 * means "an address-space event is queued, read it first".
 */
struct shim_port {
	/** @name: For logs ("userfaultfd", "kmod"). */
	const char *name;
	/**
	 * @open: Check the descriptor the client sent and return the one to
	 * serve (non-blocking, close-on-exec). @peer: the client's pid (from
	 * SO_PEERCRED), for ports that can tell whose the descriptor is.
	 * Takes ownership of @fd.
	 */
	int (*open)(int fd, pid_t peer, int *out);
	/** @read: Up to @max messages; the count, 0 when none is queued. */
	int (*read)(int fd, struct uffd_msg *msgs, int max);
	/** @writeprotect: Set (@on) or lift write-protection; lifting wakes writers. */
	int (*writeprotect)(int fd, uint64_t addr, uint64_t len, bool on);
	/**
	 * @copy: Fill missing pages from @src (zeros when NULL) and wake their
	 * waiters; *@done: bytes done before an error, -EEXIST when the first
	 * page exists.
	 */
	int (*copy)(int fd, uint64_t addr, const void *src, uint64_t len, int64_t *done);
	/** @wake: Wake the threads waiting on a range. */
	int (*wake)(int fd, uint64_t addr, uint64_t len);
	/** @release: Punch [@offset, @offset + @len) out of @memfd. */
	int (*release)(int fd, int memfd, uint64_t offset, uint64_t len);
	/** @unregister: The range becomes ordinary memory. */
	int (*unregister)(int fd, uint64_t start, uint64_t len);
};

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
extern const struct shim_ops kmod_shim_ops;

extern const struct svm_mm_ops shim_thread_mm_ops;
int shim_thread_create(struct session *s, int fd, const struct shim_port *port, void **shim);
int shim_thread_start(void *shim);
void shim_thread_destroy(void *shim);
int shim_thread_unregister(void *shim, uint64_t start, uint64_t len);
int shim_thread_sync(void *shim);

#endif
