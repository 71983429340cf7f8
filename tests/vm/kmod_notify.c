// SPDX-License-Identifier: MIT
/*
 * kmod_notify: gsvm_shim.ko's MMU interval notifiers and snapshots on
 * malloc'd memory, in the VM (group kmod_shim). One process is both the
 * client and the server: it opens /dev/gsvm-shim, asks for the server file,
 * watches a malloc'd buffer and checks, after each change to it, the
 * INVALIDATE event (reason, range, new sequence number), that the old
 * sequence number is no longer valid (the retry of the protocol) and what a
 * new snapshot says. Prints one line per step; exit 0 when all hold.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gsvm_shim.h"

#define NPAGES 64

static long page;
static int srv;
static int failed;

#define CHECK(cond, ...)                                       \
	do {                                                   \
		if (!(cond)) {                                 \
			printf("kmod_notify: FAIL: " __VA_ARGS__); \
			printf(" (%s)\n", #cond);              \
			failed = 1;                            \
		}                                              \
	} while (0)

static int snapshot(uint64_t id, uint8_t *p, uint32_t flags, uint8_t *out, uint64_t *seq)
{
	struct gsvm_shim_snapshot s = {
		.id = id,
		.addr = (uintptr_t)p,
		.len = NPAGES * (uint64_t)page,
		.pages = (uintptr_t)out,
		.flags = flags,
	};

	if (ioctl(srv, GSVM_SHIM_IOC_SNAPSHOT, &s))
		return -errno;
	*seq = s.seq;
	return 0;
}

static int valid(uint64_t id, uint64_t seq)
{
	struct gsvm_shim_valid v = { .id = id, .seq = seq };

	return ioctl(srv, GSVM_SHIM_IOC_VALID, &v) ? -errno : 0;
}

/* Count pages [from, to) whose byte is exactly @want. */
static int count(const uint8_t *b, int from, int to, uint8_t want)
{
	int n = 0;

	for (int i = from; i < to; i++)
		n += b[i] == want;
	return n;
}

/* Read events until one INVALIDATE of @reason covering @addr arrives. */
static int wait_invalidate(uint32_t reason, uintptr_t addr, uint64_t *seq)
{
	struct gsvm_shim_event ev[16];
	struct pollfd pfd = { .fd = srv, .events = POLLIN };

	while (poll(&pfd, 1, 2000) == 1) {
		ssize_t n = read(srv, ev, sizeof(ev));

		for (ssize_t i = 0; i < n / (ssize_t)sizeof(ev[0]); i++) {
			if (ev[i].type != GSVM_SHIM_EVENT_INVALIDATE || ev[i].flags != reason ||
			    addr < ev[i].addr || addr - ev[i].addr >= ev[i].len)
				continue;
			*seq = ev[i].seq;
			return 0;
		}
	}
	return -ETIMEDOUT;
}

int main(void)
{
	struct gsvm_shim_notifier nt = { 0 };
	struct gsvm_shim_serve serve = { 0 };
	uint64_t seq0, seq1, seq2, inv;
	uint8_t b[NPAGES];
	uint8_t *p;
	int dev;

	page = sysconf(_SC_PAGESIZE);
	dev = open(GSVM_SHIM_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0 || ioctl(dev, GSVM_SHIM_IOC_SERVE, &serve)) {
		printf("kmod_notify: FAIL: %s: %s\n", GSVM_SHIM_DEVICE, strerror(errno));
		return 1;
	}
	srv = serve.fd;
	p = aligned_alloc((size_t)page, NPAGES * (size_t)page);
	if (!p)
		return 1;
	nt.addr = (uintptr_t)p;
	nt.len = NPAGES * (uint64_t)page;
	CHECK(!ioctl(srv, GSVM_SHIM_IOC_NOTIFIER_ADD, &nt), "notifier_add: %s", strerror(errno));

	/* Half of it written: those pages valid and writable, the rest not. */
	memset(p, 0x5a, NPAGES / 2 * (size_t)page);
	CHECK(!snapshot(nt.id, p, 0, b, &seq0), "snapshot");
	CHECK(count(b, 0, NPAGES / 2, GSVM_SHIM_PAGE_VALID | GSVM_SHIM_PAGE_WRITE) == NPAGES / 2,
	      "written pages valid and writable");
	printf("kmod_notify: snapshot seq %llu: %d of %d pages valid\n", (unsigned long long)seq0,
	       NPAGES - count(b, 0, NPAGES, 0), NPAGES);
	CHECK(!valid(nt.id, seq0), "seq %llu valid right after the snapshot",
	      (unsigned long long)seq0);

	/* MADV_DONTNEED: a CLEAR invalidation; the old seq must be retried. */
	CHECK(!madvise(p, 8 * (size_t)page, MADV_DONTNEED), "madvise");
	CHECK(!wait_invalidate(GSVM_SHIM_INV_CLEAR, (uintptr_t)p, &inv), "CLEAR event");
	CHECK(valid(nt.id, seq0) == -EAGAIN, "seq %llu stale after MADV_DONTNEED",
	      (unsigned long long)seq0);
	CHECK(!snapshot(nt.id, p, 0, b, &seq1), "snapshot 2");
	CHECK(seq1 != seq0 && count(b, 0, 8, 0) == 8 &&
		      count(b, 8, NPAGES / 2, GSVM_SHIM_PAGE_VALID | GSVM_SHIM_PAGE_WRITE) ==
			      NPAGES / 2 - 8,
	      "dropped pages invalid, others valid");
	printf("kmod_notify: MADV_DONTNEED: CLEAR event seq %llu, old seq stale, "
	       "new snapshot seq %llu: 8 pages gone\n",
	       (unsigned long long)inv, (unsigned long long)seq1);

	/* mprotect read-only: a PROTECTION invalidation; pages valid, not writable. */
	CHECK(!mprotect(p + 8 * page, 8 * (size_t)page, PROT_READ), "mprotect");
	CHECK(!wait_invalidate(GSVM_SHIM_INV_PROTECTION, (uintptr_t)(p + 8 * page), &inv),
	      "PROTECTION event");
	CHECK(valid(nt.id, seq1) == -EAGAIN, "seq stale after mprotect");
	CHECK(!snapshot(nt.id, p, 0, b, &seq2), "snapshot 3");
	CHECK(count(b, 8, 16, GSVM_SHIM_PAGE_VALID) == 8, "read-only pages valid, not writable");
	printf("kmod_notify: mprotect: PROTECTION event seq %llu, snapshot seq %llu: 8 pages "
	       "read-only\n",
	       (unsigned long long)inv, (unsigned long long)seq2);
	CHECK(!mprotect(p + 8 * page, 8 * (size_t)page, PROT_READ | PROT_WRITE), "mprotect back");

	/* Get-pages: fault the whole range in, writable. */
	CHECK(!snapshot(nt.id, p, GSVM_SHIM_SNAP_FAULT | GSVM_SHIM_SNAP_WRITE, b, &seq2),
	      "faulting snapshot");
	CHECK(count(b, 0, NPAGES, GSVM_SHIM_PAGE_VALID | GSVM_SHIM_PAGE_WRITE) == NPAGES,
	      "all pages faulted in writable");
	CHECK(p[0] == 0 && p[NPAGES / 2 * page] == 0 && p[20 * page] == 0x5a, "contents");
	printf("kmod_notify: faulting snapshot seq %llu: %d of %d pages valid and writable\n",
	       (unsigned long long)seq2,
	       count(b, 0, NPAGES, GSVM_SHIM_PAGE_VALID | GSVM_SHIM_PAGE_WRITE), NPAGES);

	CHECK(!ioctl(srv, GSVM_SHIM_IOC_NOTIFIER_REMOVE, &nt), "notifier_remove");
	free(p);
	close(srv);
	close(dev);
	printf("kmod_notify: %s\n", failed ? "FAIL" : "ok");
	return failed;
}
