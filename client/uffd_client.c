// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "uffd_client.h"

/**
 * DOC: The client's userfaultfd
 *
 * Each handle creates one userfaultfd, negotiates its features and registers
 * every allocation with it; gsvmd receives a copy in the hello and is the
 * only one to read it. The library keeps its own copy open for the life of
 * the handle: were gsvmd's copy the last one, its death would release the
 * context and a CPU fault on data that lived on a device would silently read
 * zeros; with ours open the fault waits instead.
 *
 * The descriptor is not created with UFFD_USER_MODE_ONLY: faults the kernel
 * takes on the client's behalf (read(2) into managed memory) must reach
 * gsvmd too. That needs root or CAP_SYS_PTRACE for the system call, or access
 * to /dev/userfaultfd, which is tried first.
 *
 * UFFDIO_API may be called only once per descriptor, so gsvmd must not
 * negotiate again. Features:
 * - MISSING_SHMEM: missing-page faults on the memfd mappings;
 * - WP_HUGETLBFS_SHMEM: write protection on them (migration copies host pages
 *   under write protection);
 * - EVENT_REMAP, EVENT_REMOVE, EVENT_UNMAP: gsvmd hears of mremap(),
 *   MADV_DONTNEED and munmap() on managed memory. These events block the
 *   calling thread until gsvmd read them, which is why the library always
 *   unregisters a range before unmapping it.
 *
 * Write-protecting a range also covers pages the client has not faulted in
 * yet: for shared memory the kernel leaves a marker in such page-table
 * entries (since Linux 5.19). WP_UNPOPULATED, which does that for anonymous
 * memory from 6.4 on, is therefore not asked for, and Debian bookworm's 6.1
 * kernel will do.
 */

#define UFFD_FEATURES                                                                 \
	(UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM |               \
	 UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP)

/* What gsvmd needs to be able to do on a registered range. */
#define UFFD_RANGE_IOCTLS                                                               \
	((1ULL << _UFFDIO_WAKE) | (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_ZEROPAGE) | \
	 (1ULL << _UFFDIO_WRITEPROTECT))

/* Create the descriptor: /dev/userfaultfd first, then the system call. */
static int uffd_create(void)
{
	int dev, fd;

	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/**
 * uffd_open() - Create and set up the handle's userfaultfd
 * @out: Receives the descriptor (close-on-exec, non-blocking)
 *
 * Return: 0; -EPERM when the caller may not create one for kernel-mode
 * faults; UFFDIO_API's errno (-EINVAL when the kernel lacks a feature).
 */
int uffd_open(int *out)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURES };
	int fd, ret;

	fd = uffd_create();
	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

/**
 * uffd_register() - Register a range for missing and write-protect faults
 * @uffd: The descriptor
 * @addr: Page-aligned start of a shared memfd mapping
 * @len: Page-aligned length
 *
 * Return: 0; UFFDIO_REGISTER's errno; -EOPNOTSUPP when the kernel would not
 * let gsvmd copy into or write-protect the range.
 */
int uffd_register(int uffd, void *addr, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	if ((reg.ioctls & UFFD_RANGE_IOCTLS) != UFFD_RANGE_IOCTLS) {
		uffd_unregister(uffd, addr, len);
		return -EOPNOTSUPP;
	}
	return 0;
}

/**
 * uffd_unregister() - Unregister a range
 * @uffd: The descriptor
 * @addr: Start
 * @len: Length
 *
 * Threads blocked on a fault in the range are woken and fault again, now
 * against the memfd alone.
 *
 * Return: 0 or UFFDIO_UNREGISTER's errno.
 */
int uffd_unregister(int uffd, void *addr, size_t len)
{
	struct uffdio_range range = { .start = (uintptr_t)addr, .len = len };

	return ioctl(uffd, UFFDIO_UNREGISTER, &range) < 0 ? -errno : 0;
}
