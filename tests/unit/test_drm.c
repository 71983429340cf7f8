// SPDX-License-Identifier: MIT
/**
 * DOC: drm provider tests
 *
 * The provider's ops table called directly. Everywhere: it is registered,
 * bad configurations and nodes are refused with the documented errno, and
 * discovery works on a machine without DRM devices. With two card nodes
 * (the VM's vgem and virtio-gpu; tests/vm runs this program): pools of dumb
 * buffers on both, whose capacity is not a multiple of the buffer size,
 * allocations across buffer boundaries, copies host -> device -> peer
 * (PRIME) -> host in both directions, a copy from a file, clear, and a full
 * pool.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cu.h"
#include "drmdev.h"
#include "pagemap.h"

#define MIB (1024ULL * 1024)
/* Two and a half buffers: the last one is smaller. */
#define POOL_CAPACITY (40 * MIB)

static void cfg_init(struct pagemap_config *cfg, const char *node, uint64_t capacity)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "t");
	snprintf(cfg->provider, sizeof(cfg->provider), "drm");
	snprintf(cfg->node, sizeof(cfg->node), "%.*s", (int)sizeof(cfg->node) - 1, node);
	cfg->capacity = capacity;
}

static void fill(uint8_t *p, uint64_t len, unsigned int seed)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 12));
}

static bool check(const uint8_t *p, uint64_t len, unsigned int seed)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)(i * 131 + seed * 7 + (i >> 12)))
			return false;
	return true;
}

static void test_registered(void)
{
	struct pagemap_provider_ops other = sim_provider_ops;

	/* The core knows sim only; gsvmd registers drm before reading a config. */
	CU_ASSERT_PTR_NULL(pagemap_provider_find("drm"));
	CU_ASSERT_EQUAL(pagemap_provider_register(&drm_provider_ops), 0);
	CU_ASSERT_EQUAL(pagemap_provider_register(&drm_provider_ops), 0);
	CU_ASSERT_PTR_EQUAL(pagemap_provider_find("drm"), &drm_provider_ops);
	CU_ASSERT_PTR_EQUAL(pagemap_provider_find("sim"), &sim_provider_ops);
	/* Another provider under a taken name is refused. */
	CU_ASSERT_EQUAL(pagemap_provider_register(&other), -EEXIST);
	CU_ASSERT_PTR_EQUAL(pagemap_provider_find("sim"), &sim_provider_ops);
}

static void test_create_errors(void)
{
	const struct pagemap_provider_ops *ops = &drm_provider_ops;
	struct pagemap_config cfg;
	void *pool = NULL;

	cfg_init(&cfg, "", 4 * MIB);
	CU_ASSERT_EQUAL(ops->create(&cfg, &pool), -EINVAL);
	cfg_init(&cfg, "/dev/dri/card0", 0);
	CU_ASSERT_EQUAL(ops->create(&cfg, &pool), -EINVAL);
	cfg_init(&cfg, "/dev/dri/card0", 4097);
	CU_ASSERT_EQUAL(ops->create(&cfg, &pool), -EINVAL);
	cfg_init(&cfg, "/dev/dri/card99", 4 * MIB);
	CU_ASSERT_EQUAL(ops->create(&cfg, &pool), -ENOENT);
	/* A character device that is not DRM is never opened. */
	cfg_init(&cfg, "/dev/null", 4 * MIB);
	CU_ASSERT_EQUAL(ops->create(&cfg, &pool), -ENODEV);
	CU_ASSERT_PTR_NULL(pool);
	CU_ASSERT_EQUAL(ops->create(NULL, &pool), -EINVAL);
	CU_ASSERT_EQUAL(ops->alloc(NULL, 4096, NULL), -EINVAL);
	CU_ASSERT_PTR_NULL(ops->map(NULL, 0, 4096));
	ops->destroy(NULL);
}

static void test_probe_errors(void)
{
	struct drm_node_info info;
	char path[PAGEMAP_NODE_MAX + 8];

	CU_ASSERT_EQUAL(drm_probe("/dev/dri/card99", &info), -ENOENT);
	CU_ASSERT_EQUAL(drm_probe("/dev/null", &info), -ENODEV);
	CU_ASSERT_EQUAL(drm_probe("/tmp", &info), -ENODEV);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	CU_ASSERT_EQUAL(drm_probe(path, &info), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(drm_probe(NULL, &info), -EINVAL);
}

static void test_discover(void)
{
	struct drm_node_info found[DRM_DISCOVER_MAX];
	unsigned int n = 99, i;

	CU_ASSERT_EQUAL(drm_discover(found, DRM_DISCOVER_MAX, &n), 0);
	CU_ASSERT(n <= DRM_DISCOVER_MAX);
	if (access("/dev/dri", F_OK))
		CU_ASSERT_EQUAL(n, 0);
	for (i = 0; i < n; i++) {
		printf("\n  %s: driver %s, bus %s", found[i].node, found[i].driver, found[i].bus);
		CU_ASSERT(!strncmp(found[i].node, "/dev/dri/card", 13));
		CU_ASSERT(found[i].driver[0] && found[i].bus[0]);
	}
	CU_ASSERT_EQUAL(drm_discover(NULL, 1, &n), -EINVAL);
}

/* Two pools on the first two cards, or false (skipped) with fewer. */
static bool two_pools(void *pool[2], struct drm_node_info found[DRM_DISCOVER_MAX])
{
	struct pagemap_config cfg;
	unsigned int n = 0, i;

	drm_discover(found, DRM_DISCOVER_MAX, &n);
	if (n < 2) {
		printf("(fewer than two card nodes: skipped) ");
		return false;
	}
	for (i = 0; i < 2; i++) {
		cfg_init(&cfg, found[i].node, POOL_CAPACITY);
		snprintf(cfg.name, sizeof(cfg.name), "%s", found[i].driver);
		CU_ASSERT_EQUAL_FATAL(drm_provider_ops.create(&cfg, &pool[i]), 0);
	}
	return true;
}

/* Host -> @a -> @b (peer) -> host, across @a's first buffer boundary. */
static void round_trip(void *a, void *b, uint8_t *host, unsigned int seed)
{
	const struct pagemap_provider_ops *ops = &drm_provider_ops;
	uint64_t off_a, off_b, len = 32 * MIB;

	/* 32 MiB blocks: each spans two 16 MiB dumb buffers. */
	CU_ASSERT_EQUAL_FATAL(ops->alloc(a, len, &off_a), 0);
	CU_ASSERT_EQUAL_FATAL(ops->alloc(b, len, &off_b), 0);
	fill(host, len, seed);
	CU_ASSERT_EQUAL(ops->copy_to_dev(a, off_a, host, len), 0);
	CU_ASSERT(check(ops->map(a, off_a, len), len, seed));
	CU_ASSERT_EQUAL(ops->copy_peer(b, off_b, a, off_a, len), 0);
	memset(host, 0, len);
	CU_ASSERT_EQUAL(ops->copy_to_host(b, host, off_b, len), 0);
	CU_ASSERT(check(host, len, seed));
	ops->release(a, off_a, len);
	ops->release(b, off_b, len);
}

static void test_pools(void)
{
	const struct pagemap_provider_ops *ops = &drm_provider_ops;
	struct drm_node_info found[DRM_DISCOVER_MAX];
	uint64_t off, off2, small = 8 * MIB;
	uint8_t *host, *p;
	void *pool[2];
	int fd;

	if (!two_pools(pool, found))
		return;
	host = malloc(32 * MIB);
	CU_ASSERT_FATAL(host != NULL);
	round_trip(pool[0], pool[1], host, 1);
	round_trip(pool[1], pool[0], host, 2);
	/* Again: the exports and imports are cached. */
	round_trip(pool[0], pool[1], host, 3);

	/* The last, smaller buffer: 40 MiB = 32 + 8. */
	CU_ASSERT_EQUAL_FATAL(ops->alloc(pool[0], 32 * MIB, &off), 0);
	CU_ASSERT_EQUAL_FATAL(ops->alloc(pool[0], small, &off2), 0);
	CU_ASSERT_EQUAL(off2, 32 * MIB);
	CU_ASSERT_EQUAL(ops->alloc(pool[0], 4096, &off), -ENOSPC);
	fd = memfd_create("t", MFD_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	fill(host, small, 4);
	CU_ASSERT_EQUAL(pwrite(fd, host, small, 0), (ssize_t)small);
	CU_ASSERT_EQUAL(ops->copy_fd_to_dev(pool[0], off2, fd, 0, small), 0);
	CU_ASSERT(check(ops->map(pool[0], off2, small), small, 4));
	/* Within one pool, overlapping. */
	CU_ASSERT_EQUAL(ops->copy_peer(pool[0], off2, pool[0], off2 + 4096, small - 4096), 0);
	CU_ASSERT(!memcmp(ops->map(pool[0], off2, small - 4096), host + 4096, small - 4096));
	CU_ASSERT_EQUAL(ops->clear(pool[0], off2, small), 0);
	p = ops->map(pool[0], off2, small);
	CU_ASSERT(p && p[0] == 0 && p[small - 1] == 0 && !memcmp(p, p + 1, small - 1));
	CU_ASSERT_PTR_NULL(ops->map(pool[0], POOL_CAPACITY - 4096, 8192));
	CU_ASSERT_EQUAL(ops->copy_to_dev(pool[0], POOL_CAPACITY, host, 1), -EINVAL);
	close(fd);
	free(host);
	ops->destroy(pool[0]);
	ops->destroy(pool[1]);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_registered),
		CU_TEST_ENTRY(test_create_errors),
		CU_TEST_ENTRY(test_probe_errors),
		CU_TEST_ENTRY(test_discover),
		CU_TEST_ENTRY(test_pools),
		{ NULL, NULL },
	};

	return cu_run("drm", tests);
}
