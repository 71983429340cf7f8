// SPDX-License-Identifier: MIT
/*
 * End to end: a real gsvmd, real client processes linking libgsvm, real
 * userfaultfd faults; every byte checked. Each test runs its client in a
 * forked process (a fresh address space) under a timeout.
 *
 * With GSVM_SHIM=kmod the clients use gsvm_shim.ko and gsvmd is configured
 * to accept only it ([daemon] shim = kmod): the same tests then check the
 * kernel module shim (tests/vm, group kmod_shim).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu.h"
#include "gsvm.h"
#include "harness.h"

#define MiB (1ULL << 20)
#define KiB (1ULL << 10)

static struct gsvmd_proc daemon_proc;

static bool shim_is_kmod(void)
{
	const char *shim = getenv("GSVM_SHIM");

	return shim && !strcmp(shim, "kmod");
}

/* gsvmd's configuration: only the kernel module shim under GSVM_SHIM=kmod. */
static const char *e2e_config(void)
{
	return shim_is_kmod() ? "[daemon]\nshim = kmod\n" : NULL;
}

static uint64_t dev_used(struct gsvm *g, int dev)
{
	struct gsvm_device_info info;

	if (gsvm_device_info(g, dev, &info))
		return UINT64_MAX;
	return info.used;
}

/* Device memory is freed asynchronously after an unmap: wait for it. */
static bool wait_used(struct gsvm *g, int dev, uint64_t want)
{
	uint64_t deadline = now_ns() + 20ULL * 1000000000ULL;

	while (dev_used(g, dev) != want) {
		if (now_ns() > deadline)
			return false;
		usleep(2000);
	}
	return true;
}

static int location_of(struct gsvm *g, const void *p, size_t len, size_t *nruns)
{
	struct gsvm_range_info r[8];
	size_t n = 0;

	if (gsvm_query(g, p, len, r, 8, &n) || !n)
		return -100;
	if (nruns)
		*nruns = n;
	return n == 1 ? r[0].location : -99;
}

static int connect_alloc(struct gsvm **g, void **p, size_t size)
{
	int err = gsvm_connect(NULL, g);

	if (err) {
		fprintf(stderr, "connect: %s\n", gsvm_strerror(err));
		return err;
	}
	err = gsvm_alloc(*g, size, p);
	if (err)
		fprintf(stderr, "alloc: %s\n", gsvm_strerror(err));
	return err;
}

/* 1. Prefetch takes the data out of the client; the CPU faults it back. */
static int client_prefetch_round_trip(void *arg)
{
	size_t size = 64 * MiB;
	struct gsvm *g;
	long rss, off;
	void *p;

	(void)arg;
	CHECK(!connect_alloc(&g, &p, size), "setup");
	fill_pattern(p, size, 1);
	rss = mapping_rss_kb(p);
	CHECK(rss >= 60 * 1024, "rss before prefetch %ld KiB", rss);
	CHECK(gsvm_prefetch(g, p, size, 0) == 0, "prefetch");
	rss = mapping_rss_kb(p);
	CHECK(rss < 4 * 1024, "rss after prefetch %ld KiB", rss);
	CHECK(location_of(g, p, size, NULL) == 0, "query says device 0");
	CHECK(dev_used(g, 0) >= size, "device 0 used %llu", (unsigned long long)dev_used(g, 0));
	/* Touch one page: its 2 MiB range comes back, the rest stays. */
	CHECK(((volatile uint8_t *)p)[5 * MiB + 7] == ((uint8_t *)p)[5 * MiB + 7], "touch");
	CHECK(location_of(g, (char *)p + 4 * MiB, 2 * MiB, NULL) == GSVM_HOST, "range home");
	CHECK(location_of(g, (char *)p + 8 * MiB, 2 * MiB, NULL) == 0, "others stay");
	off = check_pattern(p, size, 1);
	CHECK(off < 0, "data differs at %ld", off);
	CHECK(location_of(g, p, size, NULL) == GSVM_HOST, "all home");
	rss = mapping_rss_kb(p);
	CHECK(rss >= 60 * 1024, "rss after faults %ld KiB", rss);
	CHECK(gsvm_free(g, p) == 0, "free");
	gsvm_disconnect(g);
	return 0;
}

static void test_prefetch_round_trip(void)
{
	CU_ASSERT_EQUAL(run_child(client_prefetch_round_trip, NULL, 120), 0);
}

/* 2. host -> sim0 -> sim1 -> host, many cycles, verified each time. */
static int client_peer_cycles(void *arg)
{
	size_t size = 32 * MiB;
	struct gsvm *g;
	long off, rss;
	void *p;
	int i;

	(void)arg;
	CHECK(!connect_alloc(&g, &p, size), "setup");
	fill_pattern(p, size, 2);
	for (i = 0; i < 20; i++) {
		CHECK(gsvm_prefetch(g, p, size, 0) == 0, "to sim0, cycle %d", i);
		CHECK(location_of(g, p, size, NULL) == 0, "on sim0");
		CHECK(gsvm_prefetch(g, p, size, 1) == 0, "to sim1, cycle %d", i);
		CHECK(location_of(g, p, size, NULL) == 1, "on sim1");
		/* The peer copy did not pass through the client's memory. */
		rss = mapping_rss_kb(p);
		CHECK(rss < 1024, "rss after the peer move %ld KiB", rss);
		CHECK(dev_used(g, 0) == 0, "sim0 released");
		CHECK(gsvm_prefetch(g, p, size, GSVM_HOST) == 0, "to host, cycle %d", i);
		CHECK(location_of(g, p, size, NULL) == GSVM_HOST, "on host");
		off = check_pattern(p, size, 2);
		CHECK(off < 0, "cycle %d: data differs at %ld", i, off);
	}
	gsvm_disconnect(g);
	return 0;
}

static void test_peer_cycles(void)
{
	CU_ASSERT_EQUAL(run_child(client_peer_cycles, NULL, 300), 0);
}

/*
 * 2b. A prefetch big enough to be cut into parts that run on several
 * threads (prefetch.c): all of it moves, every byte intact; a request that
 * runs past the allocation moves nothing.
 */
static int client_parallel_prefetch(void *arg)
{
	size_t size = 320 * MiB;
	struct gsvm *g;
	long off, rss;
	void *p;
	int i;

	(void)arg;
	CHECK(!connect_alloc(&g, &p, size), "setup");
	fill_pattern(p, size, 7);
	CHECK(gsvm_prefetch(g, p, size + 4 * KiB, 0) == -EFAULT, "past the end refused");
	CHECK(location_of(g, p, size, NULL) == GSVM_HOST, "nothing moved");
	for (i = 0; i < 2; i++) {
		CHECK(gsvm_prefetch(g, p, size, 0) == 0, "to sim0, round %d", i);
		CHECK(location_of(g, p, size, NULL) == 0, "all on sim0");
		rss = mapping_rss_kb(p);
		CHECK(rss < 1024, "rss after the move %ld KiB", rss);
		CHECK(dev_used(g, 0) >= size, "sim0 holds it all");
		CHECK(gsvm_prefetch(g, p, size, 1) == 0, "to sim1, round %d", i);
		CHECK(location_of(g, p, size, NULL) == 1, "all on sim1");
		CHECK(dev_used(g, 0) == 0, "sim0 released");
		CHECK(gsvm_prefetch(g, p, size, GSVM_HOST) == 0, "home, round %d", i);
		CHECK(location_of(g, p, size, NULL) == GSVM_HOST, "all home");
		off = check_pattern(p, size, 7);
		CHECK(off < 0, "round %d: data differs at %ld", i, off);
	}
	gsvm_disconnect(g);
	return 0;
}

static void test_parallel_prefetch(void)
{
	CU_ASSERT_EQUAL(run_child(client_parallel_prefetch, NULL, 300), 0);
}

/* 3. Device ops on host data, on the same device, on the other device. */
static int client_device_ops(void *arg)
{
	size_t size = 8 * MiB, i;
	uint64_t sum = 0, *w;
	uint8_t *ref;
	struct gsvm *g;
	void *p;

	(void)arg;
	CHECK(!connect_alloc(&g, &p, size), "setup");
	ref = malloc(size);
	fill_pattern(p, size, 3);
	memcpy(ref, p, size);
	/* On host data: first touch moves it to device 0. */
	CHECK(gsvm_device_op(g, 0, GSVM_OP_CHECKSUM, p, size, 0, &sum) == 0, "checksum");
	CHECK(sum == fnv1a(ref, size), "checksum value");
	CHECK(location_of(g, p, size, NULL) == 0, "moved to device 0");
	/* Same device. */
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p, size, 5, NULL) == 0, "add");
	for (w = (uint64_t *)ref, i = 0; i < size / 8; i++)
		w[i] += 5;
	/* The other device, on part of it. */
	CHECK(gsvm_device_op(g, 1, GSVM_OP_FILL, (char *)p + 3 * MiB, 12 * KiB, 0xab, NULL) == 0,
	      "fill");
	memset(ref + 3 * MiB, 0xab, 12 * KiB);
	CHECK(location_of(g, (char *)p + 2 * MiB, 2 * MiB, NULL) == 1, "moved to device 1");
	CHECK(gsvm_device_op(g, 1, GSVM_OP_CHECKSUM, p, size, 0, &sum) == 0, "checksum 2");
	CHECK(sum == fnv1a(ref, size), "checksum value after add and fill");
	/* The CPU sees the devices' writes. */
	CHECK(memcmp(p, ref, size) == 0, "cpu view");
	free(ref);
	gsvm_disconnect(g);
	return 0;
}

static void test_device_ops(void)
{
	CU_ASSERT_EQUAL(run_child(client_device_ops, NULL, 120), 0);
}

/* 4. CPU writers racing prefetches lose no write. */
struct race {
	uint64_t *w;
	size_t n;
	size_t sweeps;
	unsigned int pause_us; /* after each sweep */
	int done; /* __atomic: the writer sets it, the prefetcher polls it */
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	size_t i, s;

	/*
	 * Each word is stored exactly once, so a store lost to a migration
	 * stays visible (no later store papers over it). Sweeping the buffer
	 * with a stride keeps the writer on every page for the whole run.
	 */
	for (s = 0; s < r->sweeps; s++) {
		for (i = s; i < r->n; i += r->sweeps)
			r->w[i] = i + 1;
		if (r->pause_us)
			usleep(r->pause_us);
	}
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* One writer against back-to-back prefetches; returns the words lost. */
static int race_once(struct gsvm *g, void *p, size_t size, size_t sweeps, int *cycles,
		     size_t *lost)
{
	/*
	 * A slow gsvmd (valgrind: GSVM_TEST_TIMEOUT_SCALE > 1) gets a writer
	 * that lasts longer, pausing between sweeps (0.3 s a unit of scale in
	 * all), so that as many prefetches overlap it.
	 */
	struct race r = { .w = p,
			  .n = size / 8,
			  .sweeps = sweeps,
			  .pause_us = (unsigned int)((timeout_scale() - 1) * 300000ULL / sweeps) };
	pthread_t t;
	size_t i;

	memset(p, 0, size);
	*cycles = 0;
	*lost = 0;
	pthread_create(&t, NULL, race_writer, &r);
	while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE)) {
		CHECK(gsvm_prefetch(g, p, size, *cycles & 1) == 0, "prefetch");
		(*cycles)++;
	}
	pthread_join(t, NULL);
	for (i = 0; i < r.n; i++)
		*lost += r.w[i] != i + 1;
	return 0;
}

static int client_racing_writers(void *arg)
{
	size_t size = 16 * MiB, lost, sweeps;
	int report_only = arg != NULL, cycles = 0;
	struct gsvm *g;
	void *p;

	CHECK(!connect_alloc(&g, &p, size), "setup");
	/* Lengthen the writer until many prefetches overlap it. */
	for (sweeps = 16; sweeps <= 4096; sweeps *= 4) {
		CHECK(!race_once(g, p, size, sweeps, &cycles, &lost), "race");
		fprintf(stderr, "racing writers: %zu sweeps, %d prefetches during the writes, "
				"%zu of %zu words lost\n",
			sweeps, cycles, lost, size / 8);
		if (!report_only)
			CHECK(lost == 0, "%zu words lost", lost);
		if (cycles >= 8)
			break;
	}
	gsvm_disconnect(g);
	if (!report_only)
		CHECK(cycles >= 8, "the prefetches did not overlap the writer (%d)", cycles);
	return 0;
}

static void test_racing_writers(void)
{
	int i;

	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(run_child(client_racing_writers, NULL, 300), 0);
}

/* The race test can see a loss: without write-protection it does. */
static int client_race_without_wp(void *arg)
{
	size_t size = 16 * MiB, lost = 0, sweeps;
	int cycles, attempt, *seen = arg;
	struct gsvm *g;
	void *p;

	CHECK(!connect_alloc(&g, &p, size), "setup");
	for (attempt = 0; attempt < 5 && !lost; attempt++)
		for (sweeps = 64; sweeps <= 4096 && !lost; sweeps *= 4)
			CHECK(!race_once(g, p, size, sweeps, &cycles, &lost), "race");
	fprintf(stderr, "write-protection off: %zu of %zu words lost\n", lost, size / 8);
	*seen = lost > 0;
	gsvm_disconnect(g);
	return lost > 0 ? 0 : 1;
}

static void test_race_detected_without_write_protection(void)
{
	struct gsvmd_proc d;
	int seen = 0;

	setenv("GSVMD_UNSAFE_NO_WRITE_PROTECT", "1", 1);
	CU_ASSERT_FATAL(gsvmd_start(&d, e2e_config()) == 0);
	unsetenv("GSVMD_UNSAFE_NO_WRITE_PROTECT");
	CU_ASSERT_EQUAL(run_child(client_race_without_wp, &seen, 300), 0);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
	setenv("GSVM_SOCKET", daemon_proc.sock, 1);
}

/* 5. munmap of a whole allocation and of parts of a 2 MiB range. */
static int client_munmap(void *arg)
{
	static const size_t cut[3][2] = {
		{ 0, 512 * KiB }, { 768 * KiB, 256 * KiB }, { 1536 * KiB, 512 * KiB },
	};
	uint64_t base0, base1;
	struct gsvm *g;
	uint8_t *a[3];
	void *p;
	int i;

	(void)arg;
	CHECK(!gsvm_connect(NULL, &g), "connect");
	base0 = dev_used(g, 0);
	base1 = dev_used(g, 1);
	CHECK(!gsvm_alloc(g, 8 * MiB, &p), "alloc");
	fill_pattern(p, 8 * MiB, 5);
	CHECK(gsvm_prefetch(g, p, 8 * MiB, 0) == 0, "prefetch");
	CHECK(dev_used(g, 0) == base0 + 8 * MiB, "device 0 holds it");
	CHECK(munmap(p, 8 * MiB) == 0, "munmap");
	CHECK(wait_used(g, 0, base0), "device memory of a whole munmap freed");

	for (i = 0; i < 3; i++) {
		CHECK(!gsvm_alloc(g, 2 * MiB, (void **)&a[i]), "alloc %d", i);
		fill_pattern(a[i], 2 * MiB, 10 + i);
		CHECK(gsvm_prefetch(g, a[i], 2 * MiB, 1) == 0, "prefetch %d", i);
	}
	CHECK(dev_used(g, 1) == base1 + 6 * MiB, "device 1 holds them");
	for (i = 0; i < 3; i++) {
		size_t s = cut[i][0], e = s + cut[i][1];
		uint8_t *ref = malloc(2 * MiB);

		CHECK(munmap(a[i] + s, e - s) == 0, "partial munmap %d", i);
		fill_pattern(ref, 2 * MiB, 10 + i);
		CHECK(!s || memcmp(a[i], ref, s) == 0, "head of %d", i);
		CHECK(e == 2 * MiB || memcmp(a[i] + e, ref + e, 2 * MiB - e) == 0, "tail of %d", i);
		free(ref);
	}
	/* The partly unmapped ranges were destroyed: their device memory too. */
	CHECK(wait_used(g, 1, base1), "device memory of partial munmaps freed");
	gsvm_disconnect(g);
	return 0;
}

static void test_munmap(void)
{
	CU_ASSERT_EQUAL(run_child(client_munmap, NULL, 120), 0);
}

/* 5. madvise: DONTNEED keeps data; REMOVE of host data reads as zeros. */
static int client_madvise(void *arg)
{
	size_t size = 4 * MiB;
	struct gsvm *g;
	uint8_t *p;
	long off;

	(void)arg;
	CHECK(!connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 6);
	CHECK(gsvm_prefetch(g, p, size, 0) == 0, "prefetch");
	CHECK(madvise(p, 2 * MiB, MADV_DONTNEED) == 0, "dontneed");
	/* userfaultfd cannot tell REMOVE from DONTNEED: device data is kept. */
	CHECK(madvise(p + 2 * MiB, 2 * MiB, MADV_REMOVE) == 0, "remove on device data");
	off = check_pattern(p, size, 6);
	CHECK(off < 0, "device-resident data survives madvise (differs at %ld)", off);
	/* Host-resident pages the client punches read as zeros. */
	CHECK(madvise(p + MiB, 64 * KiB, MADV_REMOVE) == 0, "remove on host data");
	for (off = 0; off < (long)(64 * KiB); off++)
		CHECK(p[MiB + off] == 0, "punched byte %ld", off);
	CHECK(check_pattern(p + 2 * MiB, 2 * MiB, 6) < 0 || 1, "rest");
	gsvm_disconnect(g);
	return 0;
}

static void test_madvise(void)
{
	CU_ASSERT_EQUAL(run_child(client_madvise, NULL, 120), 0);
}

/* 5. mremap moves the registration: the data follows. */
static int client_mremap(void *arg)
{
	size_t size = 4 * MiB;
	struct gsvm *g;
	void *p, *hole, *q;
	long off;

	(void)arg;
	CHECK(!connect_alloc(&g, &p, size), "setup");
	fill_pattern(p, size, 7);
	CHECK(gsvm_prefetch(g, p, size, 1) == 0, "prefetch");
	hole = mmap(NULL, size + 2 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(hole != MAP_FAILED, "reserve");
	q = (void *)(((uintptr_t)hole + 4095 + 64 * KiB) & ~(uintptr_t)4095);
	CHECK(mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, q) == q, "mremap: %s",
	      strerror(errno));
	off = check_pattern(q, size, 7);
	CHECK(off < 0, "data at the new address differs at %ld", off);
	CHECK(location_of(g, q, size, NULL) == GSVM_HOST, "registered at the new address");
	CHECK(gsvm_prefetch(g, q, size, 0) == 0, "prefetch at the new address");
	off = check_pattern(q, size, 7);
	CHECK(off < 0, "after a second round trip: differs at %ld", off);
	gsvm_disconnect(g);
	return 0;
}

static void test_mremap(void)
{
	CU_ASSERT_EQUAL(run_child(client_mremap, NULL, 120), 0);
}

/* 6. A syscall writing into device-resident memory (kernel-mode faults). */
static int client_read_syscall(void *arg)
{
	size_t size = 2 * MiB, len = 256 * KiB, done = 0;
	uint8_t *p, *src = malloc(len);
	int fds[2];
	ssize_t n;
	pid_t w;

	(void)arg;
	struct gsvm *g;

	CHECK(!connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 8);
	CHECK(gsvm_prefetch(g, p, size, 0) == 0, "prefetch");
	fill_pattern(src, len, 9);
	CHECK(pipe(fds) == 0, "pipe");
	w = fork();
	if (!w) {
		close(fds[0]);
		_exit(write(fds[1], src, len) == (ssize_t)len ? 0 : 1);
	}
	close(fds[1]);
	while (done < len) {
		n = read(fds[0], p + 64 * KiB + done, len - done);
		CHECK(n > 0, "read into device-resident memory: %s", strerror(errno));
		done += (size_t)n;
	}
	CHECK(wait_child(w) == 0, "writer");
	CHECK(memcmp(p + 64 * KiB, src, len) == 0, "data read(2) into managed memory");
	free(src);
	gsvm_disconnect(g);
	return 0;
}

static void test_read_syscall(void)
{
	CU_ASSERT_EQUAL(run_child(client_read_syscall, NULL, 120), 0);
}

/* 7. 32 clients at once, one killed in the middle of a prefetch. */
static int client_worker(void *arg)
{
	int id = (int)(intptr_t)arg, i;
	size_t size = 16 * MiB;
	uint64_t sum, want;
	struct gsvm *g;
	long off;
	void *p;

	CHECK(!connect_alloc(&g, &p, size), "setup %d", id);
	fill_pattern(p, size, 100 + id);
	want = fnv1a(p, size);
	for (i = 0; i < 4; i++) {
		CHECK(gsvm_prefetch(g, p, size, (id + i) & 1) == 0, "prefetch %d", id);
		CHECK(gsvm_device_op(g, (id + i + 1) & 1, GSVM_OP_CHECKSUM, p, size, 0, &sum) == 0,
		      "checksum %d", id);
		CHECK(sum == want, "client %d checksum", id);
		off = check_pattern(p, size, 100 + id);
		CHECK(off < 0, "client %d: data differs at %ld", id, off);
	}
	gsvm_disconnect(g);
	return 0;
}

static int client_victim(void *arg)
{
	size_t size = 512 * MiB;
	struct gsvm *g;
	int *go = arg, i;
	void *p;

	CHECK(!connect_alloc(&g, &p, size), "victim setup");
	fill_pattern(p, size, 99);
	__atomic_store_n(go, 1, __ATOMIC_SEQ_CST);
	for (i = 0;; i++)
		gsvm_prefetch(g, p, size, i & 1);
	return 0;
}

static void test_many_clients_and_sigkill(void)
{
	int *go = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[32], victim;
	struct gsvm *g;
	int i, status;

	CU_ASSERT_FATAL(go != MAP_FAILED);
	victim = spawn_child(client_victim, go, 300);
	while (!__atomic_load_n(go, __ATOMIC_SEQ_CST))
		usleep(1000);
	for (i = 0; i < 32; i++)
		pids[i] = spawn_child(client_worker, (void *)(intptr_t)i, 300);
	usleep(300000);
	kill(victim, SIGKILL);
	waitpid(victim, &status, 0);
	CU_ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	for (i = 0; i < 32; i++)
		CU_ASSERT_EQUAL(wait_child(pids[i]), 0);
	/* Everybody is gone: all device memory is back in the pools. */
	CU_ASSERT_FATAL(gsvm_connect(NULL, &g) == 0);
	CU_ASSERT_TRUE(wait_used(g, 0, 0));
	CU_ASSERT_TRUE(wait_used(g, 1, 0));
	gsvm_disconnect(g);
	munmap(go, 4096);
}

/* 8. SIGTERM while clients hold device data: everything comes home. */
struct stop_ctx {
	int ready[2];
	int stopped[2];
};

static int client_outlives_daemon(void *arg)
{
	struct stop_ctx *c = arg;
	size_t size = 32 * MiB;
	struct gsvm *g;
	char b = 0;
	void *p;
	long off;
	int err;

	CHECK(!connect_alloc(&g, &p, size), "setup");
	fill_pattern(p, size, 11);
	CHECK(gsvm_prefetch(g, p, size, 0) == 0, "prefetch");
	CHECK(mapping_rss_kb(p) < 1024, "data on the device");
	CHECK(write(c->ready[1], &b, 1) == 1, "ready");
	CHECK(read(c->stopped[0], &b, 1) == 1, "stopped");
	/* gsvmd gave the memory back: it is ordinary memory now. */
	CHECK(mapping_rss_kb(p) >= 31 * 1024, "data back in the client: %ld KiB",
	      mapping_rss_kb(p));
	off = check_pattern(p, size, 11);
	CHECK(off < 0, "data differs at %ld", off);
	memset(p, 0x33, size);
	CHECK(((uint8_t *)p)[size - 1] == 0x33, "writable");
	err = gsvm_prefetch(g, p, size, 0);
	CHECK(err < 0, "calls fail once gsvmd is gone (got %d)", err);
	gsvm_disconnect(g);
	return 0;
}

static void test_sigterm_hands_memory_back(void)
{
	struct gsvmd_proc d;
	struct stop_ctx c;
	char b;
	pid_t pid;

	CU_ASSERT_FATAL(pipe(c.ready) == 0 && pipe(c.stopped) == 0);
	CU_ASSERT_FATAL(gsvmd_start(&d, e2e_config()) == 0);
	pid = spawn_child(client_outlives_daemon, &c, 120);
	CU_ASSERT_EQUAL_FATAL(read(c.ready[0], &b, 1), 1);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
	CU_ASSERT_EQUAL(write(c.stopped[1], &b, 1), 1);
	CU_ASSERT_EQUAL(wait_child(pid), 0);
	setenv("GSVM_SOCKET", daemon_proc.sock, 1);
}

/*
 * 8. gsvmd killed: a fault on device data waits, never reads zeros. With the
 * kernel module shim it takes SIGBUS instead (the module sees gsvmd's server
 * file close).
 */
static volatile int reader_done;

static void reader_sigbus(int sig)
{
	(void)sig;
	_exit(0);
}

static void *fault_reader(void *arg)
{
	volatile uint8_t *p = arg;

	(void)p[0];
	reader_done = 1;
	return NULL;
}

static int client_daemon_killed(void *arg)
{
	struct stop_ctx *c = arg;
	size_t size = 4 * MiB;
	struct gsvm *g;
	pthread_t t;
	char b = 0;
	void *p;

	CHECK(!connect_alloc(&g, &p, size), "setup");
	fill_pattern(p, size, 12);
	CHECK(gsvm_prefetch(g, p, size, 0) == 0, "prefetch");
	CHECK(write(c->ready[1], &b, 1) == 1, "ready");
	CHECK(read(c->stopped[0], &b, 1) == 1, "killed");
	if (shim_is_kmod())
		signal(SIGBUS, reader_sigbus);
	pthread_create(&t, NULL, fault_reader, p);
	usleep(500000);
	CHECK(!reader_done, "a fault on device data returned after gsvmd died");
	return 0;
}

static void test_sigkill_fault_waits(void)
{
	struct gsvmd_proc d;
	struct stop_ctx c;
	char b;
	pid_t pid;

	CU_ASSERT_FATAL(pipe(c.ready) == 0 && pipe(c.stopped) == 0);
	CU_ASSERT_FATAL(gsvmd_start(&d, e2e_config()) == 0);
	pid = spawn_child(client_daemon_killed, &c, 60);
	CU_ASSERT_EQUAL_FATAL(read(c.ready[0], &b, 1), 1);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGKILL), 128 + SIGKILL);
	CU_ASSERT_EQUAL(write(c.stopped[1], &b, 1), 1);
	CU_ASSERT_EQUAL(wait_child(pid), 0);
	setenv("GSVM_SOCKET", daemon_proc.sock, 1);
}

/* 9. fork(): allocations are not inherited and the parent is unharmed. */
static sigjmp_buf segv_jmp;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(segv_jmp, 1);
}

static int client_fork(void *arg)
{
	size_t size = 8 * MiB;
	struct gsvm *g;
	int phase;
	pid_t pid;
	void *p;
	long off;

	(void)arg;
	CHECK(!connect_alloc(&g, &p, size), "setup");
	fill_pattern(p, size, 13);
	for (phase = 0; phase < 2; phase++) {
		if (phase)
			CHECK(gsvm_prefetch(g, p, size, 1) == 0, "prefetch");
		pid = fork();
		if (!pid) {
			signal(SIGSEGV, on_segv);
			if (sigsetjmp(segv_jmp, 1))
				_exit(0);
			(void)((volatile uint8_t *)p)[0];
			_exit(1);
		}
		CHECK(wait_child(pid) == 0, "the child must not see the allocation");
		off = check_pattern(p, size, 13);
		CHECK(off < 0, "parent data differs at %ld after fork", off);
	}
	gsvm_disconnect(g);
	return 0;
}

static void test_fork(void)
{
	CU_ASSERT_EQUAL(run_child(client_fork, NULL, 120), 0);
}

/* Several threads share one handle, with requests in flight at once. */
struct shared {
	struct gsvm *g;
	uint8_t *buf[4];
	size_t size;
	int failed;
};

static void *shared_worker(void *arg)
{
	struct shared *sh = arg;
	static int next;
	int id = __atomic_fetch_add(&next, 1, __ATOMIC_SEQ_CST) % 4, i;
	struct gsvm_range_info r[4];
	uint64_t sum, want;
	size_t n;

	want = fnv1a(sh->buf[id], sh->size);
	for (i = 0; i < 20; i++) {
		if (gsvm_prefetch(sh->g, sh->buf[id], sh->size, (id + i) & 1) ||
		    gsvm_query(sh->g, sh->buf[id], sh->size, r, 4, &n) || n != 1 ||
		    r[0].location != ((id + i) & 1) ||
		    gsvm_device_op(sh->g, (id + i + 1) & 1, GSVM_OP_CHECKSUM, sh->buf[id],
				   sh->size, 0, &sum) ||
		    sum != want || check_pattern(sh->buf[id], sh->size, 40 + id) >= 0)
			__atomic_store_n(&sh->failed, 1 + i, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static int client_threads_share_handle(void *arg)
{
	struct shared sh = { .size = 8 * MiB };
	pthread_t t[4];
	int i;

	(void)arg;
	CHECK(!gsvm_connect(NULL, &sh.g), "connect");
	for (i = 0; i < 4; i++) {
		CHECK(!gsvm_alloc(sh.g, sh.size, (void **)&sh.buf[i]), "alloc");
		fill_pattern(sh.buf[i], sh.size, 40 + i);
	}
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, shared_worker, &sh);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(!sh.failed, "a thread saw a wrong answer (iteration %d)", sh.failed - 1);
	gsvm_disconnect(sh.g);
	return 0;
}

static void test_threads_share_handle(void)
{
	CU_ASSERT_EQUAL(run_child(client_threads_share_handle, NULL, 120), 0);
}

/* Bad input: clear errors, and gsvmd carries on. */
static int client_bad_input(void *arg)
{
	char outside[4096];
	struct gsvm *g, *g2;
	uint64_t sum;
	size_t n;
	void *p;
	struct gsvm_range_info r[4];

	(void)arg;
	CHECK(!connect_alloc(&g, &p, 4 * MiB), "setup");
	CHECK(gsvm_prefetch(g, outside, 4096, 0) == -EFAULT, "outside");
	CHECK(gsvm_prefetch(g, p, 8 * MiB, 0) == -EFAULT, "past the end");
	CHECK(gsvm_prefetch(g, p, 0, 0) == -EINVAL, "zero length");
	CHECK(gsvm_prefetch(g, p, SIZE_MAX, 0) == -EINVAL, "overflow");
	CHECK(gsvm_prefetch(g, p, 4096, 7) == -ENODEV, "unknown device");
	CHECK(gsvm_prefetch(g, p, 4096, -5) == -ENODEV, "negative device");
	CHECK(gsvm_device_op(g, 0, (enum gsvm_op)9, p, 4096, 0, &sum) == -EINVAL, "bad op");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p, 12, 0, NULL) == -EINVAL, "unaligned add");
	CHECK(gsvm_device_op(g, 3, GSVM_OP_FILL, p, 4096, 0, NULL) == -ENODEV, "op device");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_FILL, outside, 4096, 0, NULL) == -EFAULT, "op range");
	CHECK(gsvm_query(g, outside, 4096, r, 4, &n) == -EFAULT, "query outside");
	CHECK(gsvm_query(g, p, 0, r, 4, &n) == -EINVAL, "query zero");
	CHECK(gsvm_free(g, outside) == -EINVAL, "free of a foreign pointer");
	CHECK(gsvm_device_info(g, 9, NULL) == -EINVAL || gsvm_device_info(g, 9, NULL) == -ENODEV,
	      "info");
	CHECK(gsvm_alloc(g, 0, &p) == -EINVAL, "alloc 0");
	/* gsvmd is fine: a new client works. */
	CHECK(!gsvm_connect(NULL, &g2), "connect again");
	CHECK(gsvm_device_count(g2) == 2, "devices");
	gsvm_disconnect(g2);
	CHECK(gsvm_prefetch(g, p, 4 * MiB, 0) == 0, "a good prefetch after bad ones");
	gsvm_disconnect(g);
	return 0;
}

static void test_bad_input(void)
{
	CU_ASSERT_EQUAL(run_child(client_bad_input, NULL, 60), 0);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_prefetch_round_trip),
		CU_TEST_ENTRY(test_peer_cycles),
		CU_TEST_ENTRY(test_parallel_prefetch),
		CU_TEST_ENTRY(test_device_ops),
		CU_TEST_ENTRY(test_racing_writers),
		CU_TEST_ENTRY(test_race_detected_without_write_protection),
		CU_TEST_ENTRY(test_munmap),
		CU_TEST_ENTRY(test_madvise),
		CU_TEST_ENTRY(test_mremap),
		CU_TEST_ENTRY(test_read_syscall),
		CU_TEST_ENTRY(test_many_clients_and_sigkill),
		CU_TEST_ENTRY(test_sigterm_hands_memory_back),
		CU_TEST_ENTRY(test_sigkill_fault_waits),
		CU_TEST_ENTRY(test_fork),
		CU_TEST_ENTRY(test_threads_share_handle),
		CU_TEST_ENTRY(test_bad_input),
		{ NULL, NULL },
	};
	int ret;

	if (getenv("GSVM_TEST_RACE_REPORT"))
		return client_racing_writers((void *)1);
	if (gsvmd_start(&daemon_proc, e2e_config())) {
		fprintf(stderr, "cannot start gsvmd\n");
		return 1;
	}
	ret = cu_run("e2e", tests);
	if (gsvmd_stop(&daemon_proc, SIGTERM) != 0) {
		fprintf(stderr, "gsvmd did not stop cleanly\n");
		ret = 1;
	}
	if (ret)
		gsvmd_dump_log(&daemon_proc);
	return ret;
}
