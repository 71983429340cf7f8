// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gsvm_shim.h"
#include "region.h"

/**
 * DOC: Managed memory regions
 *
 * An allocation is a sealed memfd mapped MAP_SHARED into the client; gsvmd
 * receives the same memfd, so it can read and write the client's pages
 * without ptrace and punch them out when their data moves to a device. The
 * seals stop either side from resizing the file under the other.
 *
 * The mapping starts on a 2 MiB boundary so that gsvmd's largest chunks line
 * up with it and a whole allocation can be cut into 2 MiB ranges. mmap() has
 * no alignment argument, so a PROT_NONE reservation 2 MiB larger is made
 * first, the memfd is mapped over its aligned part, and the slack on both
 * sides is given back.
 *
 * Mappings are not inherited by fork()ed children: a child would share the
 * pages but not the userfaultfd registration, and read zeros where the data
 * lives on a device.
 *
 * With the kernel module shim (gsvm_shim.ko) the memfd is not mapped itself:
 * it becomes a region of the handle's open /dev/gsvm-shim, and the device is
 * mapped at the offset the module gives; the mapping shows the memfd's pages
 * behind the module's fault gate (see kmod-shim/gsvm_shim.c).
 */

/* Map @fd from @offset at a REGION_ALIGN-aligned address. */
static int region_map_aligned(int fd, off_t offset, size_t size, void **addr)
{
	size_t span = size + REGION_ALIGN;
	uintptr_t base, start, end;
	void *p;

	p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	base = (uintptr_t)p;
	start = (base + REGION_ALIGN - 1) & ~(REGION_ALIGN - 1);
	end = start + size;
	p = mmap((void *)start, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, offset);
	if (p == MAP_FAILED) {
		int ret = -errno;

		munmap((void *)base, span);
		return ret;
	}
	if (start > base)
		munmap((void *)base, start - base);
	if (base + span > end)
		munmap((void *)end, base + span - end);
	*addr = (void *)start;
	return 0;
}

/**
 * region_create() - Create a zero-filled, sealed memfd and map it
 * @size: Bytes, a multiple of REGION_PAGE_SIZE
 * @shim: The handle's open /dev/gsvm-shim to map it through, or -1
 * @memfd: Receives the memfd (close-on-exec)
 * @addr: Receives the mapping, aligned to REGION_ALIGN
 *
 * Return: 0, -ENOMEM, or the failing call's errno.
 */
int region_create(size_t size, int shim, int *memfd, void **addr)
{
	struct gsvm_shim_region reg = { 0 };
	int fd, ret;

	if (size > (size_t)INT64_MAX - REGION_ALIGN)
		return -ENOMEM;
	fd = memfd_create("gsvm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (shim >= 0) {
		reg.memfd = fd;
		if (ioctl(shim, GSVM_SHIM_IOC_REGION, &reg) < 0) {
			ret = -errno;
			goto err_close;
		}
		ret = region_map_aligned(shim, (off_t)reg.offset, size, addr);
	} else {
		ret = region_map_aligned(fd, 0, size, addr);
	}
	if (ret)
		goto err_close;
	if (madvise(*addr, size, MADV_DONTFORK) < 0) {
		ret = -errno;
		munmap(*addr, size);
		goto err_close;
	}
	*memfd = fd;
	return 0;

err_close:
	close(fd);
	return ret;
}

/**
 * region_destroy() - Unmap a region
 * @addr: Its start
 * @size: Its size
 *
 * The caller unregisters it from the userfaultfd first.
 */
void region_destroy(void *addr, size_t size)
{
	munmap(addr, size);
}
