// SPDX-License-Identifier: MIT
/*
 * kmod_notify: gsvm_shim.ko's ABI without gsvmd, in the VM (group
 * kmod_shim). One process is both the client and the server: it opens
 * /dev/gsvm-shim and asks for the server file.
 *
 * Notifiers: it watches a malloc'd buffer and checks, after each change to
 * it, the INVALIDATE event (reason, range, new sequence number), that the
 * old sequence number is no longer valid (the retry of the protocol) and
 * what a new snapshot says.
 *
 * Fault path: it maps a region and answers its own threads' faults by hand:
 * FILL, ERROR (the thread takes SIGBUS), write protection, ZAP, UNREGISTER,
 * and the region checks (unsealed memfd, one region per memfd).
 *
 * Prints one line per step; exit 0 when all hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gsvm_shim.h"

#define NPAGES 64

static long page;
static int srv;
static int failed;

#define CHECK(cond, ...)                                           \
	do {                                                       \
		if (!(cond)) {                                     \
			printf("kmod_notify: FAIL: " __VA_ARGS__); \
			printf(" (%s)\n", #cond);                  \
			failed = 1;                                \
		}                                                  \
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

/* Read events until a FAULT at @addr arrives; its flags, or -1. */
static int wait_fault(uintptr_t addr)
{
	struct gsvm_shim_event ev;
	struct pollfd pfd = { .fd = srv, .events = POLLIN };

	while (poll(&pfd, 1, 5000) == 1) {
		if (read(srv, &ev, sizeof(ev)) != sizeof(ev))
			continue;
		if (ev.type == GSVM_SHIM_EVENT_FAULT && ev.addr == addr)
			return (int)ev.flags;
	}
	return -1;
}

struct access {
	volatile uint8_t *p;
	bool write;
	int value; /* what was read, -1: SIGBUS */
};

static __thread sigjmp_buf access_jmp;

static void access_sigbus(int sig)
{
	(void)sig;
	siglongjmp(access_jmp, 1);
}

static void *accessor(void *arg)
{
	struct access *a = arg;

	if (sigsetjmp(access_jmp, 1)) {
		a->value = -1;
		return NULL;
	}
	if (a->write)
		*a->p = 0x77;
	a->value = *a->p;
	return NULL;
}

static int fill(uint8_t *addr, const void *src)
{
	struct gsvm_shim_fill f = { .addr = (uintptr_t)addr,
				    .len = (uint64_t)page,
				    .src = (uintptr_t)src };

	return ioctl(srv, GSVM_SHIM_IOC_FILL, &f) ? -errno : 0;
}

static int range_ioctl(unsigned long req, uint8_t *addr)
{
	struct gsvm_shim_range r = { .addr = (uintptr_t)addr, .len = (uint64_t)page };

	return ioctl(srv, req, &r) ? -errno : 0;
}

static int wrprotect(uint8_t *addr, bool on)
{
	struct gsvm_shim_wp wp = { .addr = (uintptr_t)addr,
				   .len = (uint64_t)page,
				   .mode = on ? GSVM_SHIM_WP_ON : GSVM_SHIM_WP_OFF };

	return ioctl(srv, GSVM_SHIM_IOC_WRPROTECT, &wp) ? -errno : 0;
}

/* Start an access of @p from a thread; answer its fault with @answer. */
static int access_page(uint8_t *p, bool write, int (*answer)(uint8_t *p, void *arg), void *arg,
		       int *flags)
{
	struct access a = { .p = p, .write = write };
	pthread_t t;

	pthread_create(&t, NULL, accessor, &a);
	*flags = wait_fault((uintptr_t)p);
	if (*flags >= 0 && answer(p, arg))
		*flags = -2;
	pthread_join(t, NULL);
	return a.value;
}

static int answer_fill(uint8_t *p, void *arg)
{
	return fill(p, arg);
}

static int answer_error(uint8_t *p, void *arg)
{
	(void)arg;
	return range_ioctl(GSVM_SHIM_IOC_ERROR, p);
}

static int answer_unprotect(uint8_t *p, void *arg)
{
	(void)arg;
	return wrprotect(p, false);
}

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen = 1;
}

/*
 * A signal reaches a thread waiting in a forwarded fault: its handler runs,
 * then the access faults again (a second event), and FILL ends it.
 */
static void signal_while_waiting(uint8_t *p, const uint8_t *src)
{
	struct access a = { .p = p };
	pthread_t t;
	int first, second;

	signal(SIGUSR1, on_usr1);
	pthread_create(&t, NULL, accessor, &a);
	first = wait_fault((uintptr_t)p);
	pthread_kill(t, SIGUSR1);
	second = wait_fault((uintptr_t)p);
	CHECK(!fill(p, src), "fill");
	pthread_join(t, NULL);
	CHECK(first == 0 && second == 0 && usr1_seen && a.value == src[0],
	      "a handler runs during the wait, then the fault is forwarded again "
	      "(events %d %d, handler %d, read %d)",
	      first, second, (int)usr1_seen, a.value);
}

/*
 * A child that got the mapping anyway (MADV_DOFORK) reads the pages that
 * are there; a missing one takes SIGBUS, since gsvmd serves the parent only.
 */
static void fork_child(uint8_t *p)
{
	int status = 0;
	pid_t pid;

	CHECK(!madvise(p, 16 * (size_t)page, MADV_DOFORK), "MADV_DOFORK");
	pid = fork();
	if (!pid) {
		signal(SIGBUS, SIG_DFL);
		if (p[0] != 0xcd)
			_exit(1);
		(void)*(volatile uint8_t *)(p + 5 * page);
		_exit(2);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
	      "a forked child: present pages read, a missing one SIGBUS (status %#x)", status);
}

static void fault_path(int dev)
{
	struct gsvm_shim_region reg = { 0 };
	uint8_t *src = malloc((size_t)page);
	int memfd, flags, v;
	uint8_t *p;

	memset(src, 0xab, (size_t)page);
	memfd = memfd_create("kmod_notify", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(!ftruncate(memfd, 16 * page), "ftruncate");
	reg.memfd = memfd;
	CHECK(ioctl(dev, GSVM_SHIM_IOC_REGION, &reg) && errno == EINVAL, "unsealed memfd refused");
	CHECK(!fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), "seal");
	CHECK(!ioctl(dev, GSVM_SHIM_IOC_REGION, &reg), "region: %s", strerror(errno));
	CHECK(ioctl(dev, GSVM_SHIM_IOC_REGION, &reg) && errno == EEXIST, "one region per memfd");
	p = mmap(NULL, 16 * (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
		 (off_t)reg.offset);
	CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
	if (p == MAP_FAILED)
		return;
	signal(SIGBUS, access_sigbus);

	v = access_page(p, false, answer_fill, src, &flags);
	CHECK(flags == 0 && v == 0xab, "FILL answers a read fault (flags %d, read %d)", flags, v);
	v = access_page(p + page, true, answer_error, NULL, &flags);
	CHECK(flags == GSVM_SHIM_FAULT_WRITE && v == -1,
	      "ERROR answers a write fault with SIGBUS (flags %d, read %d)", flags, v);
	CHECK(!fill(p + 2 * page, NULL) && !wrprotect(p + 2 * page, true), "fill zeros, protect");
	v = access_page(p + 2 * page, true, answer_unprotect, NULL, &flags);
	CHECK(flags == (GSVM_SHIM_FAULT_WRITE | GSVM_SHIM_FAULT_WP) && v == 0x77,
	      "a write to a protected page waits for WRPROTECT off (flags %d, read %d)", flags, v);
	{
		struct gsvm_shim_zap z = { .memfd = memfd, .offset = 0, .len = (uint64_t)page };

		CHECK(!ioctl(srv, GSVM_SHIM_IOC_ZAP, &z), "zap: %s", strerror(errno));
	}
	memset(src, 0xcd, (size_t)page);
	v = access_page(p, false, answer_fill, src, &flags);
	CHECK(flags == 0 && v == 0xcd, "a zapped page faults again (flags %d, read %d)", flags, v);
	signal_while_waiting(p + 4 * page, src);
	fork_child(p);
	CHECK(!range_ioctl(GSVM_SHIM_IOC_UNREGISTER, p + 3 * page), "unregister");
	CHECK(p[3 * page] == 0, "an unregistered hole reads zeros without a fault");
	printf("kmod_notify: fault path: FILL, ERROR (SIGBUS), write protection, ZAP, "
	       "a signal while waiting, fork, UNREGISTER, region checks\n");
	munmap(p, 16 * (size_t)page);
	close(memfd);
	free(src);
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
	CHECK(serve.pid == getpid(), "SERVE names the opener (%d, not %d)", serve.pid, getpid());
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
	fault_path(dev);
	close(srv);
	close(dev);
	printf("kmod_notify: %s\n", failed ? "FAIL" : "ok");
	return failed;
}
