/* SPDX-License-Identifier: MIT */
#ifndef GSVM_H
#define GSVM_H

/**
 * DOC: libgsvm
 *
 * Shared virtual memory managed by gsvmd. gsvm_alloc() returns ordinary CPU
 * memory; gsvm_prefetch() and gsvm_device_op() move it to devices, and the
 * CPU touching it brings it back. Functions return 0 or a negative errno
 * unless stated, and are safe to call from several threads on one handle.
 *
 * Errors common to every call on a connection: -ENOTCONN when gsvmd has gone
 * (the memory keeps working as ordinary memory once gsvmd handed it back),
 * -EPROTO for a malformed reply.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GSVM_HOST (-1)		/* host RAM as a location */
#define GSVM_PARTIAL 1		/* gsvm_prefetch(): only part could be placed */
#define GSVM_DEFAULT_SOCKET "/run/gsvm/gsvmd.sock"

struct gsvm;			/* one connection to gsvmd */

struct gsvm_device_info {
	int id;
	char name[64];
	char provider[16];
	uint64_t capacity, used;
	int online;
};

struct gsvm_range_info {
	uint64_t addr, len;
	int location;		/* device id or GSVM_HOST */
	uint32_t replicas;	/* bitmask of devices holding read-only copies */
};

enum gsvm_op {
	GSVM_OP_FILL,		/* every byte = arg & 0xff */
	GSVM_OP_CHECKSUM,	/* *result = 64-bit FNV-1a of the bytes */
	GSVM_OP_ADD,		/* each little-endian uint64 += arg; len % 8 == 0 */
};

/**
 * enum gsvm_advice - Placement advice (gsvm_advise())
 * @GSVM_ADVISE_SET_PREFERRED_LOCATION: The data should live on device
 *	(or GSVM_HOST): that location's accesses migrate it there, others
 *	access it where it is
 * @GSVM_ADVISE_UNSET_PREFERRED_LOCATION: Back to first touch
 * @GSVM_ADVISE_SET_ACCESSED_BY: The device accesses the data where it is
 *	and never migrates it
 * @GSVM_ADVISE_UNSET_ACCESSED_BY: Undo it for the device
 * @GSVM_ADVISE_SET_READ_MOSTLY: Device reads make read-only replicas on the
 *	reading device; any write drops them all first
 * @GSVM_ADVISE_UNSET_READ_MOSTLY: No more replicas (existing ones dropped)
 */
enum gsvm_advice {
	GSVM_ADVISE_SET_PREFERRED_LOCATION,
	GSVM_ADVISE_UNSET_PREFERRED_LOCATION,
	GSVM_ADVISE_SET_ACCESSED_BY,
	GSVM_ADVISE_UNSET_ACCESSED_BY,
	GSVM_ADVISE_SET_READ_MOSTLY,
	GSVM_ADVISE_UNSET_READ_MOSTLY,
};

/**
 * gsvm_connect() - Connect to gsvmd
 * @socket_path: Socket path; NULL means $GSVM_SOCKET, else GSVM_DEFAULT_SOCKET
 * @out: Receives the handle
 *
 * Faults are forwarded through gsvm_shim.ko when /dev/gsvm-shim can be
 * opened, else through a userfaultfd; $GSVM_SHIM ("auto", the default,
 * "kmod" or "userfaultfd") forces one.
 *
 * Return: 0; -ENOENT/-ECONNREFUSED when gsvmd is not there; -EPROTO when it
 * speaks another protocol version; -EPERM/-EACCES when userfaultfd or the
 * socket is not available to the caller; -EINVAL for an unknown $GSVM_SHIM;
 * with $GSVM_SHIM=kmod, open()'s error for /dev/gsvm-shim (-ENOENT when the
 * module is not loaded); -EPROTONOSUPPORT when gsvmd does not accept the
 * fault shim ([daemon] shim); -ENOMEM.
 */
int gsvm_connect(const char *socket_path, struct gsvm **out);

/**
 * gsvm_disconnect() - Close a connection and free its allocations
 * @g: The handle (NULL is ignored)
 *
 * Every allocation of @g is unmapped, including data still on a device. No
 * other call on @g may be in progress. Does not wait for gsvmd.
 */
void gsvm_disconnect(struct gsvm *g);

/**
 * gsvm_device_count() - Number of devices
 * @g: The handle
 *
 * Return: >= 0, or a negative errno.
 */
int gsvm_device_count(struct gsvm *g);

/**
 * gsvm_device_info() - Describe a device
 * @g: The handle
 * @device: Device id, 0..gsvm_device_count() - 1
 * @out: Receives the description
 *
 * Return: 0, -ENODEV for an unknown id, -EINVAL for a NULL @out.
 */
int gsvm_device_info(struct gsvm *g, int device, struct gsvm_device_info *out);

/**
 * gsvm_alloc() - Allocate managed memory
 * @g: The handle
 * @size: Bytes (rounded up to whole pages)
 * @out: Receives a page-aligned, zero-filled CPU pointer
 *
 * The memory is not inherited by fork()ed children.
 *
 * Return: 0, -EINVAL for a zero size or NULL @out, -ENOMEM.
 */
int gsvm_alloc(struct gsvm *g, size_t size, void **out);

/**
 * gsvm_free() - Free managed memory
 * @g: The handle
 * @ptr: A pointer returned by gsvm_alloc()
 *
 * When gsvmd has gone the memory is released locally and 0 is returned. When
 * a live gsvmd refuses, the allocation stays valid and its error is returned.
 *
 * Return: 0, -EINVAL if @ptr is not an allocation of @g.
 */
int gsvm_free(struct gsvm *g, void *ptr);

/**
 * gsvm_prefetch() - Move a range to a location; returns when done
 * @g: The handle
 * @ptr: First byte
 * @len: Bytes
 * @location: Device id or GSVM_HOST
 *
 * Best effort: data already there stays.
 *
 * Return: 0 when all of the range is at @location; GSVM_PARTIAL when only
 * part of it could be placed (the device is full; the rest stays where it
 * was, gsvm_query() tells where); -EINVAL for a zero or overflowing length;
 * -EFAULT when the range is not inside allocations of @g; -ENODEV for an
 * unknown or unbound device; -EIO when a copy failed (data intact).
 */
int gsvm_prefetch(struct gsvm *g, const void *ptr, size_t len, int location);

/**
 * gsvm_query() - Where a range lives
 * @g: The handle
 * @ptr: First byte
 * @len: Bytes
 * @out: Receives runs of equal location and replicas, in address order
 * @max: Capacity of @out
 * @n: Receives the number of runs written
 *
 * Return: 0; -ENOSPC when there were more than @max runs (the first @max are
 * written); -EINVAL; -EFAULT when the range is not inside allocations.
 */
int gsvm_query(struct gsvm *g, const void *ptr, size_t len, struct gsvm_range_info *out,
	       size_t max, size_t *n);

/**
 * gsvm_device_op() - Run a small kernel on a device over a range
 * @g: The handle
 * @device: Device id
 * @op: The kernel
 * @ptr: First byte
 * @len: Bytes
 * @arg: The kernel's argument
 * @result: Receives the checksum for GSVM_OP_CHECKSUM (may be NULL otherwise)
 *
 * The device accesses the range through its fault path: by default the data
 * migrates to the device first (first touch).
 *
 * Return: 0; -EINVAL for an unknown op, a bad length or an unaligned ADD;
 * -ENODEV; -EFAULT.
 */
int gsvm_device_op(struct gsvm *g, int device, enum gsvm_op op, void *ptr, size_t len,
		   uint64_t arg, uint64_t *result);

/**
 * gsvm_advise() - Give placement advice for a range
 * @g: The handle
 * @ptr: First byte
 * @len: Bytes
 * @advice: The advice
 * @device: The device it names (a device id; GSVM_HOST is also valid for a
 *          preferred location); ignored by advice that names none
 *
 * Advice applies from the next access; it moves no data by itself (use
 * gsvm_prefetch() for that).
 *
 * Return: 0; -EINVAL for a zero or overflowing length or unknown advice;
 * -ENODEV for a device that does not exist; -EFAULT when the range is not
 * inside allocations of @g.
 */
int gsvm_advise(struct gsvm *g, const void *ptr, size_t len, enum gsvm_advice advice, int device);

/**
 * gsvm_strerror() - Describe a return value of this library
 * @err: A negative errno, GSVM_PARTIAL or 0
 *
 * Return: a static string.
 */
const char *gsvm_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
