/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * gsvm_shim.h - the ABI of gsvm_shim.ko (/dev/gsvm-shim), shared by the
 * module, libgsvm and gsvmd.
 *
 * Two kinds of open file speak it:
 *
 * - The *client file*: a process opens /dev/gsvm-shim, turns each of its
 *   sealed memfds into a region (GSVM_SHIM_IOC_REGION) and mmap()s the
 *   device at the offset the ioctl returned. The mapping then shows the
 *   memfd's pages, but a CPU access to a page the memfd does not hold (or a
 *   write to a write-protected page) is forwarded to gsvmd and waits.
 * - The *server file*: gsvmd receives the client file over its socket and
 *   asks it for a server file (GSVM_SHIM_IOC_SERVE). It read()s events
 *   (struct gsvm_shim_event) from it and answers with the other ioctls.
 *   It may also watch any memory of the client, malloc'd included, with MMU
 *   interval notifiers (GSVM_SHIM_IOC_NOTIFIER_ADD): each invalidation is
 *   an INVALIDATE event carrying the notifier's new sequence number, and
 *   GSVM_SHIM_IOC_SNAPSHOT / GSVM_SHIM_IOC_VALID give the get-pages /
 *   pages-valid / retry protocol of drm_gpusvm over it.
 *
 * All structures have fixed-size fields and no implicit padding; addresses
 * and lengths are in bytes and page aligned.
 */
#ifndef GSVM_SHIM_UAPI_H
#define GSVM_SHIM_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define GSVM_SHIM_DEVICE "/dev/gsvm-shim"
#define GSVM_SHIM_VERSION 1

/* Event types (struct gsvm_shim_event.type). */
/* A CPU access waits: @addr is its page, @flags says what it was. */
#define GSVM_SHIM_EVENT_FAULT 1
/* [@addr, @addr + @len) of a region was unmapped (munmap, exit). */
#define GSVM_SHIM_EVENT_UNMAP 2
/* [@addr, @addr + @len) moved to @arg (mremap). */
#define GSVM_SHIM_EVENT_REMAP 3
/*
 * Notifier @arg saw [@addr, @addr + @len) invalidated, for the reason in
 * @flags (GSVM_SHIM_INV_*); @seq is its new sequence number.
 */
#define GSVM_SHIM_EVENT_INVALIDATE 4

/* Invalidation reasons (struct gsvm_shim_event.flags of INVALIDATE). */
#define GSVM_SHIM_INV_UNMAP 1		/* munmap, mremap away */
#define GSVM_SHIM_INV_CLEAR 2		/* pages dropped (MADV_DONTNEED, reclaim) */
#define GSVM_SHIM_INV_PROTECTION 3	/* mprotect, write-protection */
#define GSVM_SHIM_INV_SOFT_DIRTY 4
#define GSVM_SHIM_INV_RELEASE 5		/* the address space goes away */
#define GSVM_SHIM_INV_MIGRATE 6		/* page migration (NUMA, compaction) */
#define GSVM_SHIM_INV_EXCLUSIVE 7
#define GSVM_SHIM_INV_OTHER 8
/* Events were lost (out of memory): treat the whole notifier as invalid. */
#define GSVM_SHIM_INV_LOST 9

/* Fault flags (struct gsvm_shim_event.flags). */
#define GSVM_SHIM_FAULT_WRITE (1U << 0)	/* a write access */
#define GSVM_SHIM_FAULT_WP (1U << 1)	/* a write to a write-protected page */

/**
 * struct gsvm_shim_event - What read(2) on a server file returns
 * @type: GSVM_SHIM_EVENT_*
 * @flags: GSVM_SHIM_FAULT_* for a fault, else 0
 * @addr: Page address (fault) or start of the range
 * @len: Bytes of the range (PAGE_SIZE for a fault)
 * @arg: REMAP: the new address; else 0
 * @seq: INVALIDATE: the notifier's new sequence number; else 0
 * @id: Sequence number of the event on its context, from 1
 */
struct gsvm_shim_event {
	__u32 type;
	__u32 flags;
	__u64 addr;
	__u64 len;
	__u64 arg;
	__u64 seq;
	__u64 id;
};

/**
 * struct gsvm_shim_version - GSVM_SHIM_IOC_VERSION
 * @version: Out: GSVM_SHIM_VERSION
 * @page_size: Out: the kernel's page size
 */
struct gsvm_shim_version {
	__u32 version;
	__u32 page_size;
};

/**
 * struct gsvm_shim_region - GSVM_SHIM_IOC_REGION (client file)
 * @memfd: A memfd opened for writing, sealed with F_SEAL_SHRINK and
 *         F_SEAL_GROW, of a nonzero multiple of the page size
 * @flags: 0
 * @offset: Out: the mmap() offset that maps the whole memfd, once
 * @size: Out: the memfd's size
 */
struct gsvm_shim_region {
	__s32 memfd;
	__u32 flags;
	__u64 offset;
	__u64 size;
};

/**
 * struct gsvm_shim_serve - GSVM_SHIM_IOC_SERVE (client file, once)
 * @flags: 0
 * @fd: Out: the server file (close-on-exec)
 * @pid: Out: the process that opened the client file, in the caller's pid
 *       namespace (0 if it is not visible there), for gsvmd to compare with
 *       its peer's credentials
 * @pad: 0
 */
struct gsvm_shim_serve {
	__u32 flags;
	__s32 fd;
	__s32 pid;
	__u32 pad;
};

/**
 * struct gsvm_shim_fill - GSVM_SHIM_IOC_FILL (server file)
 * @addr: First page, in the client's address space
 * @len: Bytes
 * @src: gsvmd's buffer of @len bytes, or 0 to fill zeros
 * @filled: Out: bytes done (pages that existed are skipped and count)
 *
 * Puts the data into the pages of [@addr, @addr + @len) the region's memfd
 * does not hold (a page that exists is left alone), then wakes the accesses
 * waiting on the range: they map the pages when they retry.
 */
struct gsvm_shim_fill {
	__u64 addr;
	__u64 len;
	__u64 src;
	__u64 filled;
};

/**
 * struct gsvm_shim_range - GSVM_SHIM_IOC_WAKE, GSVM_SHIM_IOC_UNREGISTER
 * @addr: Start, in the client's address space
 * @len: Bytes
 */
struct gsvm_shim_range {
	__u64 addr;
	__u64 len;
};

#define GSVM_SHIM_WP_ON 1
#define GSVM_SHIM_WP_OFF 0

/**
 * struct gsvm_shim_wp - GSVM_SHIM_IOC_WRPROTECT (server file)
 * @addr: Start
 * @len: Bytes
 * @mode: GSVM_SHIM_WP_ON (writes fault and wait) or GSVM_SHIM_WP_OFF
 *        (writes go on; waiting writers are woken)
 * @pad: 0
 */
struct gsvm_shim_wp {
	__u64 addr;
	__u64 len;
	__u32 mode;
	__u32 pad;
};

/**
 * struct gsvm_shim_zap - GSVM_SHIM_IOC_ZAP (server file)
 * @memfd: gsvmd's descriptor of a region's memfd
 * @pad: 0
 * @offset: Byte offset in it
 * @len: Bytes
 *
 * Takes the pages away (punches the memfd), atomically with respect to the
 * region's faults: the next access to them is forwarded.
 */
struct gsvm_shim_zap {
	__s32 memfd;
	__u32 pad;
	__u64 offset;
	__u64 len;
};

/**
 * struct gsvm_shim_error - GSVM_SHIM_IOC_ERROR (server file)
 * @addr: Start
 * @len: Bytes
 *
 * The accesses waiting on [@addr, @addr + @len) get SIGBUS instead of data.
 */
struct gsvm_shim_error {
	__u64 addr;
	__u64 len;
};

/**
 * struct gsvm_shim_notifier - GSVM_SHIM_IOC_NOTIFIER_ADD, _REMOVE
 * @addr: Start of the watched range of the client's address space (ADD)
 * @len: Bytes (ADD)
 * @id: Out (ADD), in (REMOVE): the notifier
 */
struct gsvm_shim_notifier {
	__u64 addr;
	__u64 len;
	__u64 id;
};

#define GSVM_SHIM_SNAP_FAULT (1U << 0)	/* fault missing pages in */
#define GSVM_SHIM_SNAP_WRITE (1U << 1)	/* ... writable */

/* Per-page bytes of a snapshot. */
#define GSVM_SHIM_PAGE_VALID (1U << 0)	/* present in the client's page table */
#define GSVM_SHIM_PAGE_WRITE (1U << 1)	/* ... and writable */

/**
 * struct gsvm_shim_snapshot - GSVM_SHIM_IOC_SNAPSHOT (server file)
 * @id: The notifier; the range must lie inside it
 * @addr: Start
 * @len: Bytes, at most 1 GiB
 * @pages: gsvmd's buffer of @len / page size bytes: GSVM_SHIM_PAGE_* each
 * @flags: GSVM_SHIM_SNAP_*
 * @pad: 0
 * @seq: Out: the notifier sequence number the snapshot is valid under
 *
 * hmm_range_fault() between mmu_interval_read_begin() and
 * mmu_interval_read_retry(), retried until no invalidation raced it: the
 * bytes describe the range as of @seq. Nothing is pinned.
 */
struct gsvm_shim_snapshot {
	__u64 id;
	__u64 addr;
	__u64 len;
	__u64 pages;
	__u32 flags;
	__u32 pad;
	__u64 seq;
};

/**
 * struct gsvm_shim_valid - GSVM_SHIM_IOC_VALID (server file)
 * @id: The notifier
 * @seq: A sequence number from SNAPSHOT
 *
 * 0 while no invalidation of the notifier happened since @seq, -EAGAIN
 * once one did (then snapshot again: the retry of the protocol).
 */
struct gsvm_shim_valid {
	__u64 id;
	__u64 seq;
};

#define GSVM_SHIM_IOC_MAGIC 0xb5

#define GSVM_SHIM_IOC_VERSION _IOR(GSVM_SHIM_IOC_MAGIC, 0x00, struct gsvm_shim_version)
#define GSVM_SHIM_IOC_REGION _IOWR(GSVM_SHIM_IOC_MAGIC, 0x01, struct gsvm_shim_region)
#define GSVM_SHIM_IOC_SERVE _IOWR(GSVM_SHIM_IOC_MAGIC, 0x02, struct gsvm_shim_serve)
#define GSVM_SHIM_IOC_FILL _IOWR(GSVM_SHIM_IOC_MAGIC, 0x03, struct gsvm_shim_fill)
#define GSVM_SHIM_IOC_WAKE _IOW(GSVM_SHIM_IOC_MAGIC, 0x04, struct gsvm_shim_range)
#define GSVM_SHIM_IOC_WRPROTECT _IOW(GSVM_SHIM_IOC_MAGIC, 0x05, struct gsvm_shim_wp)
#define GSVM_SHIM_IOC_ZAP _IOW(GSVM_SHIM_IOC_MAGIC, 0x06, struct gsvm_shim_zap)
#define GSVM_SHIM_IOC_UNREGISTER _IOW(GSVM_SHIM_IOC_MAGIC, 0x07, struct gsvm_shim_range)
#define GSVM_SHIM_IOC_ERROR _IOW(GSVM_SHIM_IOC_MAGIC, 0x08, struct gsvm_shim_error)
#define GSVM_SHIM_IOC_NOTIFIER_ADD _IOWR(GSVM_SHIM_IOC_MAGIC, 0x09, struct gsvm_shim_notifier)
#define GSVM_SHIM_IOC_NOTIFIER_REMOVE _IOW(GSVM_SHIM_IOC_MAGIC, 0x0a, struct gsvm_shim_notifier)
#define GSVM_SHIM_IOC_SNAPSHOT _IOWR(GSVM_SHIM_IOC_MAGIC, 0x0b, struct gsvm_shim_snapshot)
#define GSVM_SHIM_IOC_VALID _IOW(GSVM_SHIM_IOC_MAGIC, 0x0c, struct gsvm_shim_valid)

#endif
