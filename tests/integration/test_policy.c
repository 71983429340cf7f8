// SPDX-License-Identifier: MIT
/*
 * The migration policy end to end: placement advice, oversubscription and
 * eviction, peer copies that bypass host memory, thrash control, device
 * unbind while clients run, and one integrity workload run against both
 * policies. Each test forks real client processes under a timeout; every
 * byte they own is checked against a reference copy kept in ordinary memory.
 * Tests that need their own configuration start their own gsvmd.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cu.h"
#include "gsvm.h"
#include "harness.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MiB (1ULL << 20)
#define KiB (1ULL << 10)

/* The suite's gsvmd: the embedded default (two 1 GiB sim devices). */
static struct gsvmd_proc daemon_proc;

/* Two small devices for oversubscription. */
static const char conf_small[] = "[device.small0]\n"
				 "provider = sim\n"
				 "capacity = 32M\n"
				 "[device.small1]\n"
				 "provider = sim\n"
				 "capacity = 32M\n"
				 "[policy]\n"
				 "chunk_sizes = 2M, 64K, 4K\n";

static const char conf_thrash[] = "[policy]\n"
				  "chunk_sizes = 2M, 64K, 4K\n";

static const char conf_pin_quiet[] = "[policy]\n"
				     "chunk_sizes = 2M, 64K, 4K\n"
				     "pin_quiet_ms = 200\n";

/* A 16 MiB device that the workload oversubscribes, and a larger one. */
#define CONF_MIXED(policy)            \
	"[device.tiny]\n"             \
	"provider = sim\n"            \
	"capacity = 16M\n"            \
	"[device.big]\n"              \
	"provider = sim\n"            \
	"capacity = 64M\n"            \
	"[policy]\n"                  \
	"chunk_sizes = 2M, 64K, 4K\n" \
	"name = " policy "\n"

/* ---- helpers shared by the clients ---- */

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

/* The replica mask of [p, p + len) when it is one run, else UINT32_MAX. */
static uint32_t replicas_of(struct gsvm *g, const void *p, size_t len)
{
	struct gsvm_range_info r[16];
	size_t n = 0;

	if (gsvm_query(g, p, len, r, 16, &n) || n != 1)
		return UINT32_MAX;
	return r[0].replicas;
}

/*
 * 0 when every byte of [p, p + len) lives at @loc (whatever its replicas);
 * else print the runs and return 1.
 */
static int expect_at(struct gsvm *g, const void *p, size_t len, int loc)
{
	struct gsvm_range_info r[64];
	size_t n = 0, i;
	int err;

	err = gsvm_query(g, p, len, r, 64, &n);
	for (i = 0; !err && i < n; i++)
		if (r[i].location != loc)
			break;
	if (!err && n && i == n)
		return 0;
	fprintf(stderr, "expected [%p, +%#zx) at %d; query %d, %zu runs:\n", p, len, loc, err, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "  +%#llx len %#llx at %d replicas %#x\n",
			(unsigned long long)(r[i].addr - (uintptr_t)p),
			(unsigned long long)r[i].len, r[i].location, r[i].replicas);
	return 1;
}

static uint64_t dev_used(struct gsvm *g, int dev)
{
	struct gsvm_device_info info;

	if (gsvm_device_info(g, dev, &info))
		return UINT64_MAX;
	return info.used;
}

/* Whether any byte of [p, p + len) lives on device @dev. */
static bool any_on(struct gsvm *g, const void *p, size_t len, int dev)
{
	struct gsvm_range_info r[64];
	size_t n = 0, i;

	if (gsvm_query(g, p, len, r, 64, &n))
		return true;
	for (i = 0; i < n; i++)
		if (r[i].location == dev)
			return true;
	return false;
}

static void ref_add(uint8_t *ref, size_t len, uint64_t arg)
{
	uint64_t v;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&v, ref + i, 8);
		v += arg;
		memcpy(ref + i, &v, 8);
	}
}

/* A device checksum of [p, p + len) on @dev equals the reference's FNV-1a. */
static int check_sum(struct gsvm *g, int dev, void *p, const uint8_t *ref, size_t len)
{
	uint64_t sum = 0;
	int err;

	err = gsvm_device_op(g, dev, GSVM_OP_CHECKSUM, p, len, 0, &sum);
	CHECK(err == 0, "checksum on %d: %s", dev, gsvm_strerror(err));
	CHECK(sum == fnv1a(ref, len), "checksum on device %d differs", dev);
	return 0;
}

/* The CPU sees exactly @ref; reports the first differing byte. */
static int check_cpu(const void *p, const uint8_t *ref, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	if (!memcmp(p, ref, len))
		return 0;
	for (i = 0; i < len && b[i] == ref[i]; i++)
		;
	fprintf(stderr, "CPU view differs at byte %zu of %zu: %#x, expected %#x\n", i, len, b[i],
		ref[i]);
	return 1;
}

static const char *sock_path(void)
{
	return getenv("GSVM_SOCKET");
}

/* ---- per-test gsvmd ---- */

static unsigned int failures_before;

/* Start a gsvmd of the test's own; GSVM_SOCKET points at it until daemon_down(). */
static int daemon_up(struct gsvmd_proc *d, const char *conf)
{
	int err;

	failures_before = CU_get_number_of_failures();
	err = gsvmd_start(d, conf);
	if (err)
		setenv("GSVM_SOCKET", daemon_proc.sock, 1);
	return err;
}

/* Stop it (it must exit 0); show its log if the test failed. */
static void daemon_down(struct gsvmd_proc *d)
{
	int status = gsvmd_stop(d, SIGTERM);

	CU_ASSERT_EQUAL(status, 0);
	if (status || CU_get_number_of_failures() != failures_before)
		gsvmd_dump_log(d);
	setenv("GSVM_SOCKET", daemon_proc.sock, 1);
}

/* ---- 1. Advice (default policy) ---- */

/* Preferred location 1: only device 1's accesses move the data. */
static int client_preferred_location(void *arg)
{
	size_t size = 4 * MiB;
	struct gsvm *g;
	uint8_t *p, *ref = malloc(size);

	(void)arg;
	CHECK(ref && !connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 21);
	memcpy(ref, p, size);
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_SET_PREFERRED_LOCATION, 1) == 0, "advise");
	CHECK(!expect_at(g, p, size, GSVM_HOST), "advice moves no data");

	/* Device 0 accesses it on host. */
	CHECK(!check_sum(g, 0, p, ref, size), "checksum on 0");
	CHECK(!expect_at(g, p, size, GSVM_HOST), "a device-0 read leaves it on host");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p, size, 3, NULL) == 0, "add on 0");
	ref_add(ref, size, 3);
	CHECK(!expect_at(g, p, size, GSVM_HOST), "a device-0 write leaves it on host");
	CHECK(mapping_rss_kb(p) >= (long)(size / KiB) - 64, "still resident in the client");

	/* Device 1, the preferred location, takes it. */
	CHECK(!check_sum(g, 1, p, ref, size), "checksum on 1");
	CHECK(!expect_at(g, p, size, 1), "device 1 migrates it to 1");

	/* Device 0 now reads and writes it on device 1. */
	CHECK(!check_sum(g, 0, p, ref, size), "checksum on 0 of data on 1");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_FILL, p + MiB, 64 * KiB, 0x5a, NULL) == 0, "fill on 0");
	memset(ref + MiB, 0x5a, 64 * KiB);
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p + 3 * MiB, 8 * KiB, 7, NULL) == 0, "add on 0");
	ref_add(ref + 3 * MiB, 8 * KiB, 7);
	CHECK(!expect_at(g, p, size, 1), "device 0's accesses leave it on 1");
	CHECK(!check_sum(g, 1, p, ref, size), "device 1 sees device 0's writes");

	/* The CPU brings it home and sees device 0's writes. */
	CHECK(p[MiB + 5] == 0x5a, "the fill from device 0 is visible to the CPU");
	CHECK(!check_cpu(p, ref, size), "cpu view");
	CHECK(!expect_at(g, p, size, GSVM_HOST), "a CPU touch brings it home");

	/* The next device-1 access takes it back. */
	CHECK(gsvm_device_op(g, 1, GSVM_OP_ADD, p, size, 11, NULL) == 0, "add on 1");
	ref_add(ref, size, 11);
	CHECK(!expect_at(g, p, size, 1), "device 1 takes it back");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum on 0 after");
	CHECK(!expect_at(g, p, size, 1), "still on 1");
	CHECK(!check_cpu(p, ref, size), "cpu view at the end");

	/* Unset: first touch again. */
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_UNSET_PREFERRED_LOCATION, 0) == 0, "unset");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum on 0 without advice");
	CHECK(!expect_at(g, p, size, 0), "first touch moves it to 0");
	CHECK(!check_cpu(p, ref, size), "cpu view after unset");
	free(ref);
	gsvm_disconnect(g);
	return 0;
}

static void test_advice_preferred_location(void)
{
	CU_ASSERT_EQUAL(run_child(client_preferred_location, NULL, 60), 0);
}

/* Preferred location host: devices always access the data where it is. */
static int client_preferred_host(void *arg)
{
	size_t size = 2 * MiB;
	struct gsvm *g;
	uint8_t *p, *ref = malloc(size);
	int dev;

	(void)arg;
	CHECK(ref && !connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 22);
	memcpy(ref, p, size);
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_SET_PREFERRED_LOCATION, GSVM_HOST) == 0,
	      "advise host");
	for (dev = 0; dev < 2; dev++) {
		CHECK(!check_sum(g, dev, p, ref, size), "checksum on %d", dev);
		CHECK(gsvm_device_op(g, dev, GSVM_OP_ADD, p, size, 1 + dev, NULL) == 0, "add");
		ref_add(ref, size, 1 + dev);
		CHECK(gsvm_device_op(g, dev, GSVM_OP_FILL, p + 4 * KiB, 4 * KiB, 0x40 + dev,
				     NULL) == 0,
		      "fill");
		memset(ref + 4 * KiB, 0x40 + dev, 4 * KiB);
		CHECK(!expect_at(g, p, size, GSVM_HOST), "device %d left it on host", dev);
	}
	CHECK(mapping_rss_kb(p) >= (long)(size / KiB), "resident in the client");
	CHECK(!check_cpu(p, ref, size), "cpu view");
	/* A prefetch still moves it; devices then access it there. */
	CHECK(gsvm_prefetch(g, p, size, 1) == 0, "prefetch to 1");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p, size, 5, NULL) == 0, "add on 0");
	ref_add(ref, size, 5);
	CHECK(!expect_at(g, p, size, 1), "device 0 left it on 1");
	CHECK(!check_sum(g, 1, p, ref, size), "checksum on 1");
	CHECK(!check_cpu(p, ref, size), "cpu view after");
	CHECK(!expect_at(g, p, size, GSVM_HOST), "home");
	free(ref);
	gsvm_disconnect(g);
	return 0;
}

static void test_advice_preferred_host(void)
{
	CU_ASSERT_EQUAL(run_child(client_preferred_host, NULL, 60), 0);
}

/* Accessed-by 0: device 0 never migrates the data. */
static int client_accessed_by(void *arg)
{
	size_t size = 2 * MiB;
	struct gsvm *g;
	uint8_t *p, *ref = malloc(size);

	(void)arg;
	CHECK(ref && !connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 23);
	memcpy(ref, p, size);
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_SET_ACCESSED_BY, 0) == 0, "advise");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum on 0");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p, size, 9, NULL) == 0, "add on 0");
	ref_add(ref, size, 9);
	CHECK(gsvm_device_op(g, 0, GSVM_OP_FILL, p, 12 * KiB, 0x77, NULL) == 0, "fill on 0");
	memset(ref, 0x77, 12 * KiB);
	CHECK(!expect_at(g, p, size, GSVM_HOST), "device 0 left it on host");

	CHECK(gsvm_prefetch(g, p, size, 1) == 0, "prefetch to 1");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum on 0 of data on 1");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p, size, 2, NULL) == 0, "add on 0 of data on 1");
	ref_add(ref, size, 2);
	CHECK(!expect_at(g, p, size, 1), "device 0 left it on 1");
	CHECK(!check_cpu(p, ref, size), "cpu view");
	CHECK(!expect_at(g, p, size, GSVM_HOST), "home");

	/* Device 1 is not in the set: first touch. */
	CHECK(!check_sum(g, 1, p, ref, size), "checksum on 1");
	CHECK(!expect_at(g, p, size, 1), "device 1 migrates it");
	CHECK(!check_cpu(p, ref, size), "cpu view 2");

	/* Unset: device 0 migrates again. */
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_UNSET_ACCESSED_BY, 0) == 0, "unset");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum on 0 after unset");
	CHECK(!expect_at(g, p, size, 0), "device 0 migrates it after unset");
	CHECK(!check_cpu(p, ref, size), "cpu view 3");
	free(ref);
	gsvm_disconnect(g);
	return 0;
}

static void test_advice_accessed_by(void)
{
	CU_ASSERT_EQUAL(run_child(client_accessed_by, NULL, 60), 0);
}

/* Read-mostly: device reads make replicas, any write drops them all. */
static int client_read_mostly(void *arg)
{
	size_t size = 2 * MiB;
	struct gsvm *g;
	uint8_t *p, *ref = malloc(size);
	uint32_t reps;

	(void)arg;
	CHECK(ref && !connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 24);
	memcpy(ref, p, size);
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_SET_READ_MOSTLY, 0) == 0, "advise");

	CHECK(!check_sum(g, 1, p, ref, size), "checksum on 1");
	reps = replicas_of(g, p, size);
	CHECK(reps == 1u << 1, "a replica on 1 (replicas %#x)", reps);
	CHECK(!expect_at(g, p, size, GSVM_HOST), "the data stays on host");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum on 0");
	reps = replicas_of(g, p, size);
	CHECK(reps == 3, "replicas on 0 and 1 (replicas %#x)", reps);
	CHECK(!expect_at(g, p, size, GSVM_HOST), "the data still stays on host");
	CHECK(mapping_rss_kb(p) >= (long)(size / KiB), "resident in the client");
	/* Reading from the CPU changes nothing. */
	CHECK(!check_cpu(p, ref, size), "cpu read");
	CHECK(replicas_of(g, p, size) == 3, "a CPU read keeps the replicas");
	CHECK(!check_sum(g, 1, p, ref, size), "checksum on 1 from its replica");

	/* A CPU write (write-protected) drops every replica first. */
	p[100 * KiB + 3] ^= 0xff;
	ref[100 * KiB + 3] ^= 0xff;
	reps = replicas_of(g, p, size);
	CHECK(reps == 0, "a CPU write dropped the replicas (replicas %#x)", reps);
	CHECK(!check_sum(g, 1, p, ref, size), "device 1 sees the CPU's write");
	CHECK(replicas_of(g, p, size) == 1u << 1, "a new replica on 1");
	memset(p + 1536 * KiB, 0x21, 4 * KiB);
	memset(ref + 1536 * KiB, 0x21, 4 * KiB);
	CHECK(replicas_of(g, p, size) == 0, "a second CPU write dropped it");
	CHECK(!check_sum(g, 0, p, ref, size), "device 0 sees the second write");

	/* A device write drops every replica first. */
	CHECK(!check_sum(g, 1, p, ref, size), "checksum on 1 again");
	CHECK(replicas_of(g, p, size) == 3, "replicas on 0 and 1 again");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p, size, 13, NULL) == 0, "add on 0");
	ref_add(ref, size, 13);
	reps = replicas_of(g, p, size);
	CHECK(reps == 0, "ADD dropped the replicas (replicas %#x)", reps);
	CHECK(!expect_at(g, p, size, 0), "a device write migrates it (first touch)");

	/* Data on device 0: a read on 1 replicates, the data stays on 0. */
	CHECK(!check_sum(g, 1, p, ref, size), "checksum on 1 of data on 0");
	CHECK(!expect_at(g, p, size, 0), "still on 0");
	CHECK(replicas_of(g, p, size) == 1u << 1, "a replica on 1 of data on 0");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum on 0, where the data is");
	CHECK(gsvm_device_op(g, 1, GSVM_OP_FILL, p + 8 * KiB, 8 * KiB, 0x99, NULL) == 0, "fill");
	memset(ref + 8 * KiB, 0x99, 8 * KiB);
	reps = replicas_of(g, p, size);
	CHECK(reps == 0, "FILL dropped the replicas (replicas %#x)", reps);
	CHECK(!expect_at(g, p, size, 1), "and moved the data to 1");
	CHECK(!check_sum(g, 0, p, ref, size), "device 0 reads device 1's fill");
	CHECK(replicas_of(g, p, size) == 1u << 0, "a replica on 0 of data on 1");

	/* Unset drops the replicas. */
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_UNSET_READ_MOSTLY, 0) == 0, "unset");
	reps = replicas_of(g, p, size);
	CHECK(reps == 0, "unset dropped the replicas (replicas %#x)", reps);
	CHECK(!expect_at(g, p, size, 1), "the data stayed on 1");
	CHECK(!check_cpu(p, ref, size), "cpu view");
	/* Read-mostly on host data again, then unset. */
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_SET_READ_MOSTLY, 0) == 0, "advise again");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum on 0 again");
	CHECK(replicas_of(g, p, size) == 1u << 0, "a replica on 0 of host data");
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_UNSET_READ_MOSTLY, 0) == 0, "unset again");
	CHECK(replicas_of(g, p, size) == 0, "unset dropped it");
	/* The write-protection went with the replicas: writes just work. */
	memset(p, 0x11, 64 * KiB);
	memset(ref, 0x11, 64 * KiB);
	CHECK(!check_sum(g, 1, p, ref, size), "checksum after unset");
	CHECK(!expect_at(g, p, size, 1), "without read-mostly a read migrates it");
	CHECK(!check_cpu(p, ref, size), "cpu view at the end");
	free(ref);
	gsvm_disconnect(g);
	return 0;
}

static void test_advice_read_mostly(void)
{
	struct gsvmd_proc d;

	/* Its own gsvmd: a client leaving replicas behind is a case of its own. */
	CU_ASSERT_FATAL(daemon_up(&d, NULL) == 0);
	CU_ASSERT_EQUAL(run_child(client_read_mostly, NULL, 60), 0);
	daemon_down(&d);
}

/* A client that goes away holding replicas (its host pages write-protected). */
static int client_exit_with_replicas(void *arg)
{
	size_t size = 4 * MiB;
	bool disconnect = arg != NULL;
	struct gsvm *g;
	uint8_t *p;
	uint64_t sum;

	CHECK(!connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 28);
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_SET_READ_MOSTLY, 0) == 0, "advise");
	CHECK(gsvm_device_op(g, 1, GSVM_OP_CHECKSUM, p, size, 0, &sum) == 0, "checksum on 1");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_CHECKSUM, p, 2 * MiB, 0, &sum) == 0, "checksum on 0");
	/* The data stayed home; the devices hold copies (this gsvmd is ours alone). */
	CHECK(!expect_at(g, p, size, GSVM_HOST), "on host");
	CHECK(dev_used(g, 0) == 2 * MiB && dev_used(g, 1) == size, "replicas use %llu and %llu",
	      (unsigned long long)dev_used(g, 0), (unsigned long long)dev_used(g, 1));
	if (disconnect)
		gsvm_disconnect(g);
	return 0;
}

/* Somebody else still gets served. */
static int client_still_served(void *arg)
{
	size_t size = 4 * MiB;
	uint8_t *p, *ref = malloc(size);
	struct gsvm *g;

	(void)arg;
	CHECK(ref && !connect_alloc(&g, (void **)&p, size), "gsvmd still serves clients");
	fill_pattern(p, size, 29);
	memcpy(ref, p, size);
	CHECK(gsvm_prefetch(g, p, size, 1) == 0, "prefetch");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum");
	CHECK(!check_cpu(p, ref, size), "cpu view");
	free(ref);
	gsvm_disconnect(g);
	return 0;
}

static void test_exit_with_replicas(void)
{
	struct gsvmd_proc d;

	CU_ASSERT_FATAL(daemon_up(&d, NULL) == 0);
	CU_ASSERT_EQUAL(run_child(client_exit_with_replicas, NULL, 60), 0);
	CU_ASSERT_EQUAL(run_child(client_exit_with_replicas, (void *)1, 60), 0);
	CU_ASSERT_EQUAL(run_child(client_still_served, NULL, 60), 0);
	daemon_down(&d);
}

/* Advice on the middle 64 KiB of device-resident data splits the map. */
static int client_advice_subrange(void *arg)
{
	size_t size = 4 * MiB, mid = 2 * MiB - 32 * KiB, mlen = 64 * KiB;
	struct gsvm_range_info r[64];
	struct gsvm *g;
	uint8_t *p, *ref = malloc(size);
	size_t n, i;

	(void)arg;
	CHECK(ref && !connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 25);
	memcpy(ref, p, size);
	CHECK(gsvm_prefetch(g, p, size, 0) == 0, "prefetch");
	CHECK(gsvm_advise(g, p + mid, mlen, GSVM_ADVISE_SET_PREFERRED_LOCATION, 1) == 0, "advise");
	/* Nothing was lost while the ranges the boundaries cut were retired. */
	CHECK(gsvm_query(g, p, size, r, 64, &n) == 0 && n >= 1, "query");
	CHECK(!check_sum(g, 1, p + mid, ref + mid, mlen), "checksum of the middle on 1");
	CHECK(!expect_at(g, p + mid, mlen, 1), "device 1 takes the advised middle");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum of everything on 0");
	CHECK(!expect_at(g, p + mid, mlen, 1), "device 0 leaves the middle on 1");
	CHECK(!expect_at(g, p, mid, 0), "device 0 takes the head");
	CHECK(!expect_at(g, p + mid + mlen, size - mid - mlen, 0), "and the tail");
	/* Ops that straddle the boundaries. */
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p + mid - 8 * KiB, mlen + 16 * KiB, 4, NULL) == 0,
	      "add across");
	ref_add(ref + mid - 8 * KiB, mlen + 16 * KiB, 4);
	CHECK(gsvm_device_op(g, 1, GSVM_OP_FILL, p + mid + mlen - 4 * KiB, 8 * KiB, 0xc3, NULL) ==
		      0,
	      "fill across");
	memset(ref + mid + mlen - 4 * KiB, 0xc3, 8 * KiB);
	CHECK(!check_sum(g, 1, p, ref, size), "checksum on 1");
	CHECK(!check_sum(g, 0, p + mid - 4 * KiB, ref + mid - 4 * KiB, 8 * KiB),
	      "checksum of the head boundary");
	CHECK(gsvm_query(g, p, size, r, 64, &n) == 0, "query");
	for (i = 0; i < n; i++)
		CHECK(r[i].location == 0 || r[i].location == 1, "run %zu at %d", i, r[i].location);
	CHECK(!check_cpu(p, ref, size), "cpu view");
	CHECK(!expect_at(g, p, size, GSVM_HOST), "all home");
	/* Advice over the whole allocation merges the map again. */
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_UNSET_PREFERRED_LOCATION, 0) == 0, "unset");
	CHECK(gsvm_prefetch(g, p, size, 1) == 0, "prefetch after");
	CHECK(!expect_at(g, p, size, 1), "on 1");
	CHECK(!check_sum(g, 0, p, ref, size), "checksum after");
	CHECK(!expect_at(g, p, size, 0), "first touch after unset");
	CHECK(!check_cpu(p, ref, size), "cpu view after");
	free(ref);
	gsvm_disconnect(g);
	return 0;
}

static void test_advice_subrange(void)
{
	CU_ASSERT_EQUAL(run_child(client_advice_subrange, NULL, 60), 0);
}

static int client_advice_bad_input(void *arg)
{
	char outside[8192];
	struct gsvm *g;
	uint8_t *p;
	int err;

	(void)arg;
	CHECK(!connect_alloc(&g, (void **)&p, 4 * MiB), "setup");
	err = gsvm_advise(g, p, 4096, (enum gsvm_advice)99, 0);
	CHECK(err == -EINVAL, "unknown advice: %d", err);
	err = gsvm_advise(g, p, 4096, (enum gsvm_advice)(-1), 0);
	CHECK(err == -EINVAL, "negative advice: %d", err);
	err = gsvm_advise(g, p, 0, GSVM_ADVISE_SET_READ_MOSTLY, 0);
	CHECK(err == -EINVAL, "zero length: %d", err);
	err = gsvm_advise(g, p, SIZE_MAX, GSVM_ADVISE_SET_READ_MOSTLY, 0);
	CHECK(err == -EINVAL, "overflowing length: %d", err);
	err = gsvm_advise(g, p, 4096, GSVM_ADVISE_SET_PREFERRED_LOCATION, 9);
	CHECK(err == -ENODEV, "preferred device 9: %d", err);
	err = gsvm_advise(g, p, 4096, GSVM_ADVISE_SET_ACCESSED_BY, 9);
	CHECK(err == -ENODEV, "accessed-by device 9: %d", err);
	err = gsvm_advise(g, p, 4096, GSVM_ADVISE_SET_ACCESSED_BY, GSVM_HOST);
	CHECK(err == -ENODEV, "accessed-by host: %d", err);
	err = gsvm_advise(g, p, 4096, GSVM_ADVISE_SET_PREFERRED_LOCATION, -5);
	CHECK(err == -ENODEV, "preferred device -5: %d", err);
	err = gsvm_advise(g, outside, sizeof(outside), GSVM_ADVISE_SET_READ_MOSTLY, 0);
	CHECK(err == -EFAULT, "outside allocations: %d", err);
	err = gsvm_advise(g, p + 2 * MiB, 4 * MiB, GSVM_ADVISE_SET_PREFERRED_LOCATION, 0);
	CHECK(err == -EFAULT, "past the end: %d", err);
	/* Advice that names no device ignores it. */
	err = gsvm_advise(g, p, 4096, GSVM_ADVISE_UNSET_READ_MOSTLY, 9);
	CHECK(err == 0, "unset read-mostly ignores the device: %d", err);
	/* Nothing was half-applied: device 0 still migrates the data. */
	fill_pattern(p, 4 * MiB, 26);
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p, 4 * MiB, 1, NULL) == 0, "add");
	CHECK(!expect_at(g, p, 4 * MiB, 0), "first touch after bad advice");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p, 4 * MiB, (uint64_t)-1, NULL) == 0, "sub");
	CHECK(check_pattern(p, 4 * MiB, 26) < 0, "data");
	gsvm_disconnect(g);
	return 0;
}

static void test_advice_bad_input(void)
{
	CU_ASSERT_EQUAL(run_child(client_advice_bad_input, NULL, 60), 0);
}

/*
 * Advice on a range that does not start or end on a page: either refused
 * (-EINVAL) or applied to whole pages; either way every page stays usable.
 */
static int client_advice_unaligned(void *arg)
{
	size_t size = 2 * MiB;
	uint8_t *p, *ref = malloc(size);
	struct gsvm *g;
	int err;

	(void)arg;
	CHECK(ref && !connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 27);
	memcpy(ref, p, size);
	err = gsvm_advise(g, p + 100, 4096, GSVM_ADVISE_SET_PREFERRED_LOCATION, 1);
	CHECK(err == 0 || err == -EINVAL, "advice on [p + 100, +4096): %d", err);
	err = gsvm_advise(g, p + 64 * KiB, 100, GSVM_ADVISE_SET_READ_MOSTLY, 0);
	CHECK(err == 0 || err == -EINVAL, "advice on [p + 64K, +100): %d", err);
	err = gsvm_device_op(g, 0, GSVM_OP_ADD, p, 8 * KiB, 1, NULL);
	CHECK(err == 0, "add over the first two pages after unaligned advice: %s",
	      gsvm_strerror(err));
	ref_add(ref, 8 * KiB, 1);
	err = gsvm_device_op(g, 1, GSVM_OP_FILL, p + 64 * KiB, 4 * KiB, 0xee, NULL);
	CHECK(err == 0, "fill of the page at 64K: %s", gsvm_strerror(err));
	memset(ref + 64 * KiB, 0xee, 4 * KiB);
	CHECK(!check_sum(g, 0, p, ref, size), "checksum of everything on 0");
	err = gsvm_prefetch(g, p, size, 1);
	CHECK(err == 0, "prefetch of everything: %s", gsvm_strerror(err));
	CHECK(!expect_at(g, p, size, 1), "all on 1");
	CHECK(!check_cpu(p, ref, size), "cpu view");
	free(ref);
	gsvm_disconnect(g);
	return 0;
}

static void test_advice_unaligned(void)
{
	CU_ASSERT_EQUAL(run_child(client_advice_unaligned, NULL, 60), 0);
}

/* ---- 2. Oversubscription and eviction ---- */

#define OVS_CLIENTS 4
#define OVS_SIZE (48 * MiB)
#define OVS_ROUNDS 4

static int client_oversubscribe(void *arg)
{
	int id = (int)(intptr_t)arg, round, dev, err;
	size_t size = OVS_SIZE, half = size / 2;
	uint8_t *p, *ref = malloc(size);
	struct gsvm *g;

	CHECK(ref && !connect_alloc(&g, (void **)&p, size), "setup %d", id);
	fill_pattern(p, size, 300 + id);
	memcpy(ref, p, size);
	for (round = 0; round < OVS_ROUNDS; round++) {
		dev = (id + round) & 1;
		/* More than the device holds: the rest is accessed where it is. */
		CHECK(!check_sum(g, dev, p, ref, size), "client %d round %d: checksum", id, round);
		if (round & 1) {
			err = gsvm_device_op(g, !dev, GSVM_OP_ADD, p + (id & 1) * half, half,
					     round + 1, NULL);
			CHECK(err == 0, "client %d: add: %s", id, gsvm_strerror(err));
			ref_add(ref + (id & 1) * half, half, round + 1);
		}
		err = gsvm_prefetch(g, p, size, !dev);
		CHECK(err == 0 || err == GSVM_PARTIAL, "client %d: prefetch: %s", id,
		      gsvm_strerror(err));
		err = gsvm_prefetch(g, p + 8 * MiB, 16 * MiB, dev);
		CHECK(err == 0 || err == GSVM_PARTIAL, "client %d: prefetch 16M: %s", id,
		      gsvm_strerror(err));
		CHECK(!check_sum(g, !dev, p + 4 * MiB, ref + 4 * MiB, 20 * MiB),
		      "client %d round %d: checksum of a part", id, round);
		CHECK(!check_cpu(p, ref, size), "client %d round %d: cpu view", id, round);
	}
	CHECK(!check_sum(g, 0, p, ref, size), "client %d: final checksum", id);
	CHECK(!check_cpu(p, ref, size), "client %d: final cpu view", id);
	free(ref);
	gsvm_disconnect(g);
	return 0;
}

/* A prefetch larger than the device places what fits and says so. */
static int client_prefetch_too_big(void *arg)
{
	size_t size = 48 * MiB, n, i, on_dev = 0;
	struct gsvm_range_info r[64];
	struct gsvm *g;
	uint8_t *p;
	long off;
	int err;

	(void)arg;
	CHECK(!connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 310);
	err = gsvm_prefetch(g, p, size, 0);
	CHECK(err == GSVM_PARTIAL, "prefetch of 48 MiB to a 32 MiB device: %d (%s)", err,
	      gsvm_strerror(err));
	CHECK(gsvm_query(g, p, size, r, 64, &n) == 0, "query");
	for (i = 0; i < n; i++) {
		CHECK(r[i].location == 0 || r[i].location == GSVM_HOST, "run at %d", r[i].location);
		on_dev += r[i].location == 0 ? r[i].len : 0;
	}
	CHECK(on_dev > 0 && on_dev <= 32 * MiB, "%zu bytes on the device", on_dev);
	err = gsvm_prefetch(g, p, size, 1);
	CHECK(err == GSVM_PARTIAL, "and to the other one: %d", err);
	off = check_pattern(p, size, 310);
	CHECK(off < 0, "data differs at %ld", off);
	gsvm_disconnect(g);
	return 0;
}

static void test_oversubscription(void)
{
	struct gsvmd_stats st;
	pid_t pids[OVS_CLIENTS];
	struct gsvmd_proc d;
	int i;

	CU_ASSERT_FATAL(daemon_up(&d, conf_small) == 0);
	for (i = 0; i < OVS_CLIENTS; i++)
		pids[i] = spawn_child(client_oversubscribe, (void *)(intptr_t)i, 120);
	for (i = 0; i < OVS_CLIENTS; i++)
		CU_ASSERT_EQUAL(wait_child(pids[i]), 0);
	CU_ASSERT_EQUAL(gsvmd_get_stats(d.sock, &st), 0);
	CU_ASSERT_TRUE(st.evictions > 0);
	fprintf(stderr, "\noversubscription: %llu evictions, %llu to device, %llu to host\n",
		(unsigned long long)st.evictions, (unsigned long long)st.to_device,
		(unsigned long long)st.to_host);
	CU_ASSERT_EQUAL(run_child(client_prefetch_too_big, NULL, 60), 0);
	daemon_down(&d);
}

/* ---- 3. A peer migration does not pass through host memory ---- */

static int client_peer_memory(void *arg)
{
	pid_t gsvmd_pid = *(pid_t *)arg;
	size_t size = 512 * MiB;
	long rss, anon0, anon1, d_anon0, d_anon1, off;
	struct gsvmd_stats s0, s1;
	struct gsvm *g;
	uint8_t *p;

	CHECK(!connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 400);
	CHECK(gsvm_prefetch(g, p, size, 0) == 0, "prefetch to 0");
	CHECK(!expect_at(g, p, size, 0), "on 0");
	rss = mapping_rss_kb(p);
	anon0 = proc_rss_anon_kb(0);
	d_anon0 = proc_rss_anon_kb(gsvmd_pid);
	CHECK(rss >= 0 && rss < 1024, "mapping rss on device 0: %ld KiB", rss);
	CHECK(anon0 > 0 && d_anon0 > 0, "RssAnon readable");
	CHECK(gsvmd_get_stats(sock_path(), &s0) == 0, "stats");

	CHECK(gsvm_prefetch(g, p, size, 1) == 0, "prefetch to 1");
	CHECK(!expect_at(g, p, size, 1), "on 1");
	rss = mapping_rss_kb(p);
	anon1 = proc_rss_anon_kb(0);
	d_anon1 = proc_rss_anon_kb(gsvmd_pid);
	CHECK(gsvmd_get_stats(sock_path(), &s1) == 0, "stats");
	fprintf(stderr,
		"\npeer copy of 512 MiB: client mapping %ld KiB, client RssAnon %+ld KiB, "
		"gsvmd RssAnon %+ld KiB\n",
		rss, anon1 - anon0, d_anon1 - d_anon0);
	CHECK(rss >= 0 && rss < 1024, "mapping rss after the peer copy: %ld KiB", rss);
	CHECK(anon1 - anon0 < 4096L, "client RssAnon grew by %ld KiB", anon1 - anon0);
	/*
	 * A TSan gsvmd (make tsan sets GSVM_TSAN=1) counts in RssAnon the
	 * shadow of every byte it copies: twice the copy, pools included.
	 */
	if (!getenv("GSVM_TSAN") || strcmp(getenv("GSVM_TSAN"), "1"))
		CHECK(d_anon1 - d_anon0 < 16384L, "gsvmd RssAnon grew by %ld KiB",
		      d_anon1 - d_anon0);
	CHECK(s1.bytes_device_to_device - s0.bytes_device_to_device == size,
	      "bytes device to device grew by %llu",
	      (unsigned long long)(s1.bytes_device_to_device - s0.bytes_device_to_device));
	CHECK(s1.bytes_to_device == s0.bytes_to_device, "no host-to-device bytes");
	CHECK(s1.bytes_to_host == s0.bytes_to_host, "no device-to-host bytes");
	off = check_pattern(p, size, 400);
	CHECK(off < 0, "data differs at %ld", off);
	gsvm_disconnect(g);
	return 0;
}

static void test_peer_migration_memory(void)
{
	CU_ASSERT_EQUAL(run_child(client_peer_memory, &daemon_proc.pid, 120), 0);
}

/* ---- 4. Thrash control ---- */

#define THRASH_ROUNDS 10000

/*
 * Device 0 adds 1 to every word of one page, then the CPU checks and adds 1
 * again: each round is two accesses from two sides. Word i holds base + i.
 */
static int thrash_round(struct gsvm *g, uint64_t *w, uint64_t *base)
{
	size_t i;
	int err;

	err = gsvm_device_op(g, 0, GSVM_OP_ADD, w, 4 * KiB, 1, NULL);
	CHECK(err == 0, "add: %s", gsvm_strerror(err));
	++*base;
	for (i = 0; i < 512; i++)
		CHECK(w[i] == *base + i, "word %zu: %llu, expected %llu", i,
		      (unsigned long long)w[i], (unsigned long long)(*base + i));
	++*base;
	for (i = 0; i < 512; i++)
		w[i] = *base + i;
	return 0;
}

static int client_thrash(void *arg)
{
	uint64_t *w, base = 1000, want[512];
	struct gsvm *g;
	size_t i;
	int k;

	(void)arg;
	CHECK(!connect_alloc(&g, (void **)&w, 4 * KiB), "setup");
	for (i = 0; i < 512; i++)
		w[i] = base + i;
	for (k = 0; k < THRASH_ROUNDS; k++)
		CHECK(!thrash_round(g, w, &base), "round %d", k);
	CHECK(base == 1000 + 2 * THRASH_ROUNDS, "base %llu", (unsigned long long)base);
	for (i = 0; i < 512; i++)
		want[i] = base + i;
	CHECK(!check_sum(g, 1, w, (const uint8_t *)want, 4 * KiB), "checksum at the end");
	gsvm_disconnect(g);
	return 0;
}

static void test_thrash_control(void)
{
	struct gsvmd_stats s0, s1;
	struct gsvmd_proc d;
	uint64_t moves;

	CU_ASSERT_FATAL(daemon_up(&d, conf_thrash) == 0);
	CU_ASSERT_EQUAL_FATAL(gsvmd_get_stats(d.sock, &s0), 0);
	CU_ASSERT_EQUAL(run_child(client_thrash, NULL, 120), 0);
	CU_ASSERT_EQUAL_FATAL(gsvmd_get_stats(d.sock, &s1), 0);
	moves = s1.to_device - s0.to_device + s1.to_host - s0.to_host;
	fprintf(stderr, "\nthrash: %d accesses, %llu migrations, %llu throttled, %llu pinned\n",
		2 * THRASH_ROUNDS, (unsigned long long)moves,
		(unsigned long long)(s1.throttled - s0.throttled),
		(unsigned long long)(s1.pinned - s0.pinned));
	CU_ASSERT_TRUE(moves < 2000);
	CU_ASSERT_TRUE(s1.throttled > s0.throttled);
	CU_ASSERT_TRUE(s1.pinned > s0.pinned);
	daemon_down(&d);
}

/* A pin is lifted after pin_quiet_ms (200) without thrashing accesses. */
static int client_pin_quiet(void *arg)
{
	struct gsvmd_stats st = { 0 };
	uint64_t *w, base = 7;
	struct gsvm *g;
	size_t i;
	int k;

	(void)arg;
	CHECK(!connect_alloc(&g, (void **)&w, 4 * KiB), "setup");
	for (i = 0; i < 512; i++)
		w[i] = base + i;
	for (k = 0; k < THRASH_ROUNDS && !st.pinned; k++) {
		CHECK(!thrash_round(g, w, &base), "round %d", k);
		if (k % 16 == 15)
			CHECK(gsvmd_get_stats(sock_path(), &st) == 0, "stats");
	}
	CHECK(st.pinned > 0, "pinned after %d rounds", k);
	/* Pinned: device 0 accesses it on host. */
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, w, 4 * KiB, 1, NULL) == 0, "add while pinned");
	base++;
	CHECK(!expect_at(g, w, 4 * KiB, GSVM_HOST), "pinned on host");
	/* Quiet for longer than pin_quiet_ms: the next access migrates it. */
	usleep(500000);
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, w, 4 * KiB, 1, NULL) == 0, "add after quiet");
	base++;
	CHECK(!expect_at(g, w, 4 * KiB, 0), "migrated after the quiet period");
	for (i = 0; i < 512; i++)
		CHECK(w[i] == base + i, "word %zu: %llu, expected %llu", i,
		      (unsigned long long)w[i], (unsigned long long)(base + i));
	gsvm_disconnect(g);
	return 0;
}

static void test_pin_lifted_after_quiet(void)
{
	struct gsvmd_proc d;

	CU_ASSERT_FATAL(daemon_up(&d, conf_pin_quiet) == 0);
	CU_ASSERT_EQUAL(run_child(client_pin_quiet, NULL, 120), 0);
	daemon_down(&d);
}

/* ---- 5. Unbind and rebind while a client runs ---- */

struct unbind_ctx {
	int ready[2]; /* client -> parent: data placed */
	int unbound[2]; /* parent -> client: device 0 unbound */
	int checked[2]; /* client -> parent: checks done */
	int rebound[2]; /* parent -> client: device 0 rebound */
};

static bool readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

static int client_unbind(void *arg)
{
	struct unbind_ctx *c = arg;
	size_t sa = 8 * MiB, sb = 4 * MiB, sc = 4 * MiB, sd = 2 * MiB;
	struct gsvm_device_info info;
	uint8_t *a, *b, *cc, *dd, *ref_a = malloc(sa), *ref_b = malloc(sb);
	unsigned long loops = 0;
	struct gsvm *g;
	long off;
	char x = 0;
	int err;

	CHECK(ref_a && ref_b && !connect_alloc(&g, (void **)&a, sa), "setup");
	CHECK(!gsvm_alloc(g, sb, (void **)&b) && !gsvm_alloc(g, sc, (void **)&cc) &&
		      !gsvm_alloc(g, sd, (void **)&dd),
	      "alloc");
	fill_pattern(a, sa, 50);
	fill_pattern(b, sb, 51);
	fill_pattern(cc, sc, 52);
	fill_pattern(dd, sd, 53);
	memcpy(ref_a, a, sa);
	memcpy(ref_b, b, sb);
	CHECK(gsvm_prefetch(g, a, sa, 0) == 0, "a to 0");
	CHECK(gsvm_prefetch(g, b, sb, 1) == 0, "b to 1");
	CHECK(gsvm_advise(g, cc, sc, GSVM_ADVISE_SET_PREFERRED_LOCATION, 1) == 0, "advise c");
	CHECK(gsvm_prefetch(g, cc, sc, 0) == 0, "c to 0");
	CHECK(!expect_at(g, a, sa, 0) && !expect_at(g, b, sb, 1) && !expect_at(g, cc, sc, 0),
	      "placed");
	CHECK(write(c->ready[1], &x, 1) == 1, "ready");

	/* Keep working while the device goes: device 1, and the CPU on a. */
	do {
		CHECK(!check_sum(g, 1, b, ref_b, sb), "checksum of b during the unbind");
		off = check_pattern(dd, sd, 53);
		CHECK(off < 0, "d differs at %ld", off);
		/*
		 * CPU faults on device 0's data race its evacuation (the first
		 * two of a's four ranges; the others wait for the unbind).
		 */
		CHECK(!check_cpu(a + (loops % 2) * 2 * MiB, ref_a + (loops % 2) * 2 * MiB,
				 64 * KiB),
		      "a during the unbind");
		loops++;
	} while (!readable(c->unbound[0]));
	CHECK(read(c->unbound[0], &x, 1) == 1, "unbound");

	CHECK(!any_on(g, a, sa, 0) && !any_on(g, b, sb, 0) && !any_on(g, cc, sc, 0) &&
		      !any_on(g, dd, sd, 0),
	      "nothing on device 0 after the unbind");
	CHECK(!expect_at(g, cc, sc, 1), "c (preferred 1) went to device 1");
	CHECK(!expect_at(g, b, sb, 1), "b stayed on device 1");
	CHECK(gsvm_device_info(g, 0, &info) == 0, "info");
	CHECK(!info.online && info.used == 0, "device 0: online %d, used %llu", info.online,
	      (unsigned long long)info.used);
	err = gsvm_prefetch(g, a, sa, 0);
	CHECK(err == -ENODEV, "prefetch to an unbound device: %d", err);
	err = gsvm_device_op(g, 0, GSVM_OP_FILL, a, 4096, 0, NULL);
	CHECK(err == -ENODEV, "device op on an unbound device: %d", err);
	CHECK(gsvm_prefetch(g, dd, sd, 1) == 0, "prefetch to device 1 still works");
	off = check_pattern(a, sa, 50);
	CHECK(off < 0, "a differs at %ld", off);
	CHECK(!check_cpu(b, ref_b, sb), "b");
	off = check_pattern(cc, sc, 52);
	CHECK(off < 0, "c differs at %ld", off);
	off = check_pattern(dd, sd, 53);
	CHECK(off < 0, "d differs at %ld", off);
	CHECK(write(c->checked[1], &x, 1) == 1, "checked");

	CHECK(read(c->rebound[0], &x, 1) == 1, "rebound");
	CHECK(gsvm_device_info(g, 0, &info) == 0 && info.online, "device 0 online again");
	CHECK(gsvm_prefetch(g, a, sa, 0) == 0, "prefetch to the rebound device");
	CHECK(!expect_at(g, a, sa, 0), "a on 0 again");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, b, sb, 1, NULL) == 0, "add on 0");
	ref_add(ref_b, sb, 1);
	CHECK(!expect_at(g, b, sb, 0), "b moved to 0 (first touch)");
	off = check_pattern(a, sa, 50);
	CHECK(off < 0, "a differs at %ld after the rebind", off);
	CHECK(!check_cpu(b, ref_b, sb), "b after the rebind");
	fprintf(stderr, "\nunbind: the client ran %lu loops during the unbind\n", loops);
	free(ref_a);
	free(ref_b);
	gsvm_disconnect(g);
	return 0;
}

/* A non-root caller may not unbind. */
static int client_unbind_unprivileged(void *arg)
{
	const char *sock = arg;
	int err;

	CHECK(setgid(65534) == 0 && setuid(65534) == 0, "drop privileges: %s", strerror(errno));
	err = gsvmd_device_admin(sock, 1, false);
	CHECK(err == -EPERM, "unbind as uid 65534: %d", err);
	err = gsvmd_device_admin(sock, 0, true);
	CHECK(err == -EPERM, "rebind as uid 65534: %d", err);
	return 0;
}

static void test_unbind_rebind(void)
{
	struct gsvmd_stats st = { 0 };
	struct unbind_ctx c;
	struct gsvmd_proc d;
	char x = 0;
	pid_t pid;

	CU_ASSERT_FATAL(pipe(c.ready) == 0 && pipe(c.unbound) == 0 && pipe(c.checked) == 0 &&
			pipe(c.rebound) == 0);
	CU_ASSERT_FATAL(daemon_up(&d, NULL) == 0);
	pid = spawn_child(client_unbind, &c, 60);
	CU_ASSERT_EQUAL_FATAL(read(c.ready[0], &x, 1), 1);
	CU_ASSERT_EQUAL(gsvmd_device_admin(d.sock, 0, false), 0);
	CU_ASSERT_EQUAL(gsvmd_device_admin(d.sock, 0, false), -EALREADY);
	CU_ASSERT_EQUAL(gsvmd_device_admin(d.sock, 7, false), -ENODEV);
	if (geteuid() == 0) {
		/* The socket is open to everybody; its directory must be too. */
		CU_ASSERT_EQUAL(chmod(d.dir, 0711), 0);
		CU_ASSERT_EQUAL(run_child(client_unbind_unprivileged, d.sock, 30), 0);
		CU_ASSERT_EQUAL(gsvmd_get_stats(d.sock, &st), 0);
		CU_ASSERT_TRUE(st.ndev == 2 && st.online[1] && !st.online[0]);
	}
	CU_ASSERT_EQUAL(write(c.unbound[1], &x, 1), 1);
	CU_ASSERT_EQUAL(read(c.checked[0], &x, 1), 1);
	CU_ASSERT_EQUAL(gsvmd_device_admin(d.sock, 0, true), 0);
	CU_ASSERT_EQUAL(gsvmd_device_admin(d.sock, 0, true), -EALREADY);
	CU_ASSERT_EQUAL(write(c.rebound[1], &x, 1), 1);
	CU_ASSERT_EQUAL(wait_child(pid), 0);
	daemon_down(&d);
	close(c.ready[0]);
	close(c.ready[1]);
	close(c.unbound[0]);
	close(c.unbound[1]);
	close(c.checked[0]);
	close(c.checked[1]);
	close(c.rebound[0]);
	close(c.rebound[1]);
}

/* ---- 6. The same integrity workload under both policies ---- */

#define MIX_SEGS 16
#define MIX_STEPS 240

struct seg {
	uint8_t *p;
	uint8_t *ref;
	size_t len;
};

struct mix {
	struct gsvm *g;
	struct seg seg[MIX_SEGS];
	int nseg;
	uint64_t rng;
};

static uint64_t mix_rand(struct mix *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

/* A random sub-range of @s, 8-byte aligned, at most 4 MiB, often the whole. */
static void mix_pick(struct mix *m, const struct seg *s, size_t *off, size_t *len)
{
	size_t max;

	if (mix_rand(m) % 8 == 0) {
		*off = 0;
		*len = s->len;
		return;
	}
	*off = (mix_rand(m) % (s->len / 8)) * 8;
	max = s->len - *off;
	if (max > 4 * MiB)
		max = 4 * MiB;
	*len = (1 + mix_rand(m) % (max / 8)) * 8;
}

/* Every run of the segment has a valid location and they tile it. */
static int mix_check_query(struct mix *m, const struct seg *s)
{
	struct gsvm_range_info r[64];
	uint64_t pos = (uintptr_t)s->p;
	size_t n = 0, i;
	int err;

	err = gsvm_query(m->g, s->p, s->len, r, 64, &n);
	CHECK(err == 0 || err == -ENOSPC, "query: %s", gsvm_strerror(err));
	for (i = 0; i < n; i++) {
		CHECK(r[i].addr == pos && r[i].len > 0, "run %zu does not follow on", i);
		CHECK(r[i].location >= GSVM_HOST && r[i].location <= 1, "run %zu at %d", i,
		      r[i].location);
		CHECK(!(r[i].replicas & ~3u), "run %zu replicas %#x", i, r[i].replicas);
		pos += r[i].len;
	}
	CHECK(err || pos == (uintptr_t)s->p + s->len, "runs do not cover the segment");
	return 0;
}

static int mix_prefetch(struct mix *m, const struct seg *s, size_t off, size_t len, int loc)
{
	int err = gsvm_prefetch(m->g, s->p + off, len, loc);
	struct gsvm_range_info r[64];
	size_t n = 0, i;

	CHECK(err == 0 || (err == GSVM_PARTIAL && loc >= 0), "prefetch %zu bytes to %d: %d (%s)",
	      len, loc, err, gsvm_strerror(err));
	if (err || gsvm_query(m->g, s->p + off, len, r, 64, &n))
		return 0;
	/*
	 * Data at home stays there until this client accesses it; data on a
	 * device may be evicted meanwhile by the other client.
	 */
	for (i = 0; i < n && loc == GSVM_HOST; i++)
		CHECK(r[i].location == GSVM_HOST, "after a prefetch home, a run is at %d",
		      r[i].location);
	return 0;
}

static int mix_advise(struct mix *m, const struct seg *s, size_t off, size_t len)
{
	static const enum gsvm_advice advice[] = {
		GSVM_ADVISE_SET_PREFERRED_LOCATION, GSVM_ADVISE_UNSET_PREFERRED_LOCATION,
		GSVM_ADVISE_SET_ACCESSED_BY,	    GSVM_ADVISE_UNSET_ACCESSED_BY,
		GSVM_ADVISE_SET_READ_MOSTLY,	    GSVM_ADVISE_UNSET_READ_MOSTLY,
	};
	enum gsvm_advice a = advice[mix_rand(m) % 6];
	int dev = (int)(mix_rand(m) % 3) - 1;
	int err;

	if (dev == GSVM_HOST && a != GSVM_ADVISE_SET_PREFERRED_LOCATION)
		dev = 0;
	/* Whole pages (unaligned advice has a test of its own). */
	len = ((off + len + 4095) & ~(size_t)4095) - (off & ~(size_t)4095);
	off &= ~(size_t)4095;
	if (off + len > s->len)
		len = s->len - off;
	err = gsvm_advise(m->g, s->p + off, len, a, dev);
	CHECK(err == 0, "advise %d dev %d: %s", a, dev, gsvm_strerror(err));
	return 0;
}

/* One random step on a random segment. */
static int mix_step(struct mix *m)
{
	struct seg *s = &m->seg[mix_rand(m) % (uint64_t)m->nseg];
	int dev = (int)(mix_rand(m) & 1), err;
	uint64_t arg = mix_rand(m);
	size_t off, len;

	mix_pick(m, s, &off, &len);
	switch (mix_rand(m) % 10) {
	case 0:
		return mix_prefetch(m, s, off, len, (int)(mix_rand(m) % 3) - 1);
	case 1:
		err = gsvm_device_op(m->g, dev, GSVM_OP_FILL, s->p + off, len, arg, NULL);
		CHECK(err == 0, "fill: %s", gsvm_strerror(err));
		memset(s->ref + off, (int)(arg & 0xff), len);
		return 0;
	case 2:
		err = gsvm_device_op(m->g, dev, GSVM_OP_ADD, s->p + off, len, arg, NULL);
		CHECK(err == 0, "add: %s", gsvm_strerror(err));
		ref_add(s->ref + off, len, arg);
		return 0;
	case 3:
	case 4:
		return check_sum(m->g, dev, s->p + off, s->ref + off, len);
	case 5:
		return check_cpu(s->p + off, s->ref + off, len);
	case 6:
		fill_pattern(s->p + off, len, (unsigned int)arg);
		fill_pattern(s->ref + off, len, (unsigned int)arg);
		return 0;
	case 7:
		return mix_check_query(m, s);
	case 8:
		return mix_advise(m, s, off, len);
	default:
		s->p[off] ^= 0x5a;
		s->ref[off] ^= 0x5a;
		return 0;
	}
}

static int mix_add_seg(struct mix *m, uint8_t *p, uint8_t *ref, size_t len)
{
	CHECK(m->nseg < MIX_SEGS, "too many segments");
	m->seg[m->nseg++] = (struct seg){ .p = p, .ref = ref, .len = len };
	return 0;
}

/* Unmap [off, off + len) of segment @i, keeping what is left around it. */
static int mix_unmap(struct mix *m, int i, size_t off, size_t len)
{
	struct seg s = m->seg[i];

	CHECK(munmap(s.p + off, len) == 0, "munmap: %s", strerror(errno));
	m->seg[i] = m->seg[--m->nseg];
	if (off)
		CHECK(!mix_add_seg(m, s.p, s.ref, off), "head");
	if (off + len < s.len)
		CHECK(!mix_add_seg(m, s.p + off + len, s.ref + off + len, s.len - off - len),
		      "tail");
	return 0;
}

static int mix_verify_all(struct mix *m, const char *when)
{
	int i;

	for (i = 0; i < m->nseg; i++) {
		CHECK(!check_sum(m->g, i & 1, m->seg[i].p, m->seg[i].ref, m->seg[i].len),
		      "%s: checksum of segment %d", when, i);
		CHECK(!check_cpu(m->seg[i].p, m->seg[i].ref, m->seg[i].len),
		      "%s: cpu view of segment %d", when, i);
	}
	return 0;
}

/**
 * struct mix_arg - One run of the workload
 * @seed: Seeds the random steps
 * @alone: No other client runs: an oversubscribing prefetch must report
 *         GSVM_PARTIAL (with another client evicting the data it placed, each
 *         piece may have fitted at the time)
 */
struct mix_arg {
	uint64_t seed;
	bool alone;
};

/* The workload. Runs against whatever gsvmd GSVM_SOCKET names. */
static int client_mixed(void *arg)
{
	const struct mix_arg *a = arg;
	/* Odd sizes, small ones, and one larger than device 0 (16 MiB). */
	static const size_t sizes[] = {
		MiB + 12 * KiB, 4 * MiB, 24 * MiB, 256 * KiB, 8 * MiB, 3 * MiB + 4 * KiB,
	};
	struct mix m = { .rng = 0x9e3779b97f4a7c15ULL ^ a->seed };
	uint8_t *p, *ref[6];
	struct gsvm *g;
	int i, step, err;

	CHECK(!gsvm_connect(NULL, &g), "connect");
	m.g = g;
	for (i = 0; i < 6; i++) {
		CHECK(!gsvm_alloc(g, sizes[i], (void **)&p), "alloc %d", i);
		ref[i] = malloc(sizes[i]);
		CHECK(ref[i], "malloc");
		fill_pattern(p, sizes[i], 500 + i);
		memcpy(ref[i], p, sizes[i]);
		CHECK(!mix_add_seg(&m, p, ref[i], sizes[i]), "seg");
	}
	/* 24 MiB to the 16 MiB device: what fits goes, the rest stays. */
	err = gsvm_prefetch(g, m.seg[2].p, m.seg[2].len, 0);
	CHECK(err == GSVM_PARTIAL || (!a->alone && err == 0), "oversubscribing prefetch: %d (%s)",
	      err, gsvm_strerror(err));
	CHECK(!check_sum(g, 0, m.seg[2].p, m.seg[2].ref, m.seg[2].len), "oversubscribed checksum");
	CHECK(!check_cpu(m.seg[2].p, m.seg[2].ref, m.seg[2].len), "oversubscribed cpu view");
	for (step = 0; step < MIX_STEPS; step++) {
		CHECK(!mix_step(&m), "step %d", step);
		if (step == MIX_STEPS / 3) {
			/* Part of a device-resident allocation goes; the rest stays intact. */
			CHECK(mix_prefetch(&m, &m.seg[4], 0, m.seg[4].len, 1) == 0, "to 1");
			CHECK(!mix_unmap(&m, 4, 2 * MiB + 64 * KiB, MiB), "partial munmap");
			CHECK(!mix_verify_all(&m, "after a partial munmap"), "verify");
		}
		if (step == 2 * MIX_STEPS / 3) {
			/* A whole allocation that is on a device. */
			CHECK(mix_prefetch(&m, &m.seg[3], 0, m.seg[3].len, 0) == 0, "to 0");
			CHECK(!mix_unmap(&m, 3, 0, m.seg[3].len), "munmap");
		}
	}
	CHECK(!mix_verify_all(&m, "at the end"), "verify");
	gsvm_disconnect(g);
	for (i = 0; i < 6; i++)
		free(ref[i]);
	return 0;
}

/* With the explicit policy, only prefetches and CPU touches move data. */
static int client_explicit_placement(void *arg)
{
	size_t size = 4 * MiB;
	uint8_t *p, *ref = malloc(size);
	struct gsvm *g;
	int dev;

	(void)arg;
	CHECK(ref && !connect_alloc(&g, (void **)&p, size), "setup");
	fill_pattern(p, size, 600);
	memcpy(ref, p, size);
	for (dev = 0; dev < 2; dev++) {
		CHECK(!check_sum(g, dev, p, ref, size), "checksum on %d", dev);
		CHECK(gsvm_device_op(g, dev, GSVM_OP_ADD, p, size, 3, NULL) == 0, "add");
		ref_add(ref, size, 3);
		CHECK(gsvm_device_op(g, dev, GSVM_OP_FILL, p, 64 * KiB, dev, NULL) == 0, "fill");
		memset(ref, dev, 64 * KiB);
		CHECK(!expect_at(g, p, size, GSVM_HOST), "device %d left it on host", dev);
	}
	/* Advice is kept but does not move anything either. */
	CHECK(gsvm_advise(g, p, size, GSVM_ADVISE_SET_PREFERRED_LOCATION, 1) == 0, "advise");
	CHECK(!check_sum(g, 1, p, ref, size), "checksum on the preferred device");
	CHECK(!expect_at(g, p, size, GSVM_HOST), "preferred device left it on host");
	CHECK(gsvm_prefetch(g, p, size, 1) == 0, "prefetch");
	CHECK(!expect_at(g, p, size, 1), "prefetch moved it");
	CHECK(gsvm_device_op(g, 0, GSVM_OP_ADD, p, size, 5, NULL) == 0, "add on 0");
	ref_add(ref, size, 5);
	CHECK(!expect_at(g, p, size, 1), "device 0 left it on 1");
	CHECK(!check_cpu(p, ref, size), "cpu view");
	CHECK(!expect_at(g, p, size, GSVM_HOST), "the CPU brought it home");
	free(ref);
	gsvm_disconnect(g);
	return 0;
}

static void run_mixed(const char *conf, bool explicit)
{
	static struct mix_arg args[] = { { 1, true }, { 2, false }, { 3, false } };
	struct gsvmd_proc d;
	pid_t a, b;

	CU_ASSERT_FATAL(daemon_up(&d, conf) == 0);
	CU_ASSERT_EQUAL(run_child(client_mixed, &args[0], 120), 0);
	/* Two clients at once, so that they evict each other's data. */
	a = spawn_child(client_mixed, &args[1], 120);
	b = spawn_child(client_mixed, &args[2], 120);
	CU_ASSERT_EQUAL(wait_child(a), 0);
	CU_ASSERT_EQUAL(wait_child(b), 0);
	if (explicit)
		CU_ASSERT_EQUAL(run_child(client_explicit_placement, NULL, 60), 0);
	daemon_down(&d);
}

static void test_mixed_default_policy(void)
{
	run_mixed(CONF_MIXED("default"), false);
}

static void test_mixed_explicit_policy(void)
{
	run_mixed(CONF_MIXED("explicit"), true);
}

/* POLICY_TESTS=word runs only the tests whose name contains it (debugging). */
static bool selected(const char *name)
{
	const char *only = getenv("POLICY_TESTS");

	return !only || strstr(name, only);
}

int main(void)
{
	static const struct cu_test all[] = {
		CU_TEST_ENTRY(test_advice_preferred_location),
		CU_TEST_ENTRY(test_advice_preferred_host),
		CU_TEST_ENTRY(test_advice_accessed_by),
		CU_TEST_ENTRY(test_advice_read_mostly),
		CU_TEST_ENTRY(test_exit_with_replicas),
		CU_TEST_ENTRY(test_advice_subrange),
		CU_TEST_ENTRY(test_advice_bad_input),
		CU_TEST_ENTRY(test_advice_unaligned),
		CU_TEST_ENTRY(test_oversubscription),
		CU_TEST_ENTRY(test_peer_migration_memory),
		CU_TEST_ENTRY(test_thrash_control),
		CU_TEST_ENTRY(test_pin_lifted_after_quiet),
		CU_TEST_ENTRY(test_unbind_rebind),
		CU_TEST_ENTRY(test_mixed_default_policy),
		CU_TEST_ENTRY(test_mixed_explicit_policy),
	};
	struct cu_test tests[ARRAY_SIZE(all) + 1] = { { NULL, NULL } };
	size_t i, n = 0;
	int ret;

	for (i = 0; i < ARRAY_SIZE(all); i++)
		if (selected(all[i].name))
			tests[n++] = all[i];
	if (gsvmd_start(&daemon_proc, NULL)) {
		fprintf(stderr, "cannot start gsvmd\n");
		return 1;
	}
	ret = cu_run("policy", tests);
	if (gsvmd_stop(&daemon_proc, SIGTERM) != 0) {
		fprintf(stderr, "gsvmd did not stop cleanly\n");
		ret = 1;
	}
	if (ret)
		gsvmd_dump_log(&daemon_proc);
	return ret;
}
