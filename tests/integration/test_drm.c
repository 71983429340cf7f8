// SPDX-License-Identifier: MIT
/*
 * The drm device provider with a real gsvmd.
 *
 * Without DRM card nodes (the build machine): [daemon] drm = auto makes
 * gsvmd say there are none and serve its sim devices; a device naming a
 * missing node stops it with FILE:LINE. With card nodes (the VM: vgem and
 * virtio-gpu): gsvmd runs on two drm devices ($GSVM_DRM_CONFIG, a file, or
 * two devices with node = auto), `gsvmctl devices` shows their drivers, and
 * data placed on them, moved between them (PRIME) and brought home by CPU
 * faults keeps every byte.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu.h"
#include "gsvm.h"
#include "harness.h"

#define MiB (1024ULL * 1024)
#define DRM_TEST_SIZE (32 * MiB)
#define DRM_TEST_CAPACITY "64M"

static const char drm_auto_config[] = "[device.drm0]\n"
				      "provider = drm\n"
				      "capacity = " DRM_TEST_CAPACITY "\n"
				      "[device.drm1]\n"
				      "provider = drm\n"
				      "capacity = " DRM_TEST_CAPACITY "\n";

/* Card nodes in /dev/dri. */
static unsigned int card_count(void)
{
	DIR *dir = opendir("/dev/dri");
	struct dirent *de;
	unsigned int n = 0;

	if (!dir)
		return 0;
	while ((de = readdir(dir)))
		n += !strncmp(de->d_name, "card", 4);
	closedir(dir);
	return n;
}

/* The configuration of the drm tests: $GSVM_DRM_CONFIG's file, or two auto. */
static char *drm_config(void)
{
	const char *path = getenv("GSVM_DRM_CONFIG");
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!path || !*path)
		return strdup(drm_auto_config);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/* Run gsvmd with @args to completion; its stdout and stderr into @out. */
static int run_gsvmd(const char *conf, char *out, size_t outlen)
{
	const char *argv[] = {
		getenv("GSVMD"), "-c", conf, "-s", "/tmp/gsvmd-drm-never.sock", NULL
	};

	return run_capture(argv, out, outlen);
}

/* ---- Without card nodes ---- */

static void test_no_drm_devices(void)
{
	struct gsvm_device_info info;
	struct gsvmd_proc d;
	struct gsvm *g;

	if (card_count()) {
		printf("(card nodes present: covered by the drm tests) ");
		return;
	}
	CU_ASSERT_FATAL(gsvmd_start(&d, "[daemon]\ndrm = auto\n") == 0);
	CU_ASSERT(wait_for_text(d.log, "no DRM devices found; using sim devices only", 5000));
	CU_ASSERT_FATAL(gsvm_connect(d.sock, &g) == 0);
	CU_ASSERT_EQUAL(gsvm_device_count(g), 2);
	CU_ASSERT_EQUAL(gsvm_device_info(g, 1, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.provider, "sim");
	gsvm_disconnect(g);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

/* A named node that does not exist: gsvmd stops, naming file and line. */
static void test_missing_node(void)
{
	char path[] = "/tmp/gsvmd-drm.XXXXXX", out[4096], expect[160];
	int fd = mkstemp(path);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(dprintf(fd, "[device.gpu]\nprovider = drm\ncapacity = 64M\n"
				    "node = /dev/dri/card99\n") > 0);
	close(fd);
	CU_ASSERT_EQUAL(run_gsvmd(path, out, sizeof(out)), 1);
	snprintf(expect, sizeof(expect), "%s:4: node '/dev/dri/card99': No such file or directory",
		 path);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, expect));
	if (!strstr(out, expect))
		fprintf(stderr, "\n  expected '%s', got '%s'\n", expect, out);
	unlink(path);
}

/* ---- With card nodes ---- */

static struct gsvmd_proc drm_daemon;
static bool drm_running;

static bool drm_start(void)
{
	char *conf;
	int err;

	if (drm_running)
		return true;
	if (card_count() < 2) {
		printf("(fewer than two card nodes: skipped) ");
		return false;
	}
	conf = drm_config();
	CU_ASSERT_FATAL(conf != NULL);
	err = gsvmd_start(&drm_daemon, conf);
	free(conf);
	CU_ASSERT_FATAL(err == 0);
	drm_running = true;
	return true;
}

/* gsvmctl devices: provider drm, each device's DRM driver and bus. */
static void test_drm_ctl_devices(void)
{
	const char *argv[] = { getenv("GSVMCTL"), "--socket", NULL, "devices", NULL };
	struct gsvm_device_info info;
	static char out[8192];
	struct gsvm *g;
	int i, n;

	if (!drm_start())
		return;
	argv[2] = drm_daemon.sock;
	CU_ASSERT_FATAL(argv[0] != NULL);
	CU_ASSERT_EQUAL(run_capture(argv, out, sizeof(out)), 0);
	printf("\n%s", out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "DRIVER"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "BUS"));
	CU_ASSERT_FATAL(gsvm_connect(drm_daemon.sock, &g) == 0);
	n = gsvm_device_count(g);
	CU_ASSERT(n >= 2);
	for (i = 0; i < n; i++) {
		CU_ASSERT_EQUAL_FATAL(gsvm_device_info(g, i, &info), 0);
		CU_ASSERT_STRING_EQUAL(info.provider, "drm");
	}
	gsvm_disconnect(g);
	/* The drivers of the VM's two cards, as DRM names them. */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " vgem "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, " virtio_gpu "));
}

/* Where [p, p + len) lives, if all in one place; -3 when split. */
static int where(struct gsvm *g, void *p, size_t len)
{
	struct gsvm_range_info r[8];
	size_t n = 0;

	if (gsvm_query(g, p, len, r, 8, &n) || n != 1)
		return -3;
	return r[0].location;
}

/*
 * The integrity cycle: host -> device 0 -> device 1 (peer, PRIME) -> host
 * (CPU faults) -> device 1 -> device 0 -> host, every byte checked, a
 * device checksum compared with the host's, new data written in between.
 */
static int drm_cycle(void *arg)
{
	const char *sock = arg;
	uint64_t sum = 0, before_peer;
	struct gsvmd_stats st;
	struct gsvm *g;
	long bad;
	void *p;

	CHECK(gsvm_connect(sock, &g) == 0, "connect");
	CHECK(gsvm_alloc(g, DRM_TEST_SIZE, &p) == 0, "alloc");
	fill_pattern(p, DRM_TEST_SIZE, 1);
	CHECK(gsvm_prefetch(g, p, DRM_TEST_SIZE, 0) == 0, "prefetch to 0");
	CHECK(where(g, p, DRM_TEST_SIZE) == 0, "on device 0: %d", where(g, p, DRM_TEST_SIZE));
	CHECK(mapping_rss_kb(p) < 1024, "host copy still resident: %ld KiB", mapping_rss_kb(p));
	CHECK(gsvm_device_op(g, 0, GSVM_OP_CHECKSUM, p, DRM_TEST_SIZE, 0, &sum) == 0, "checksum");
	CHECK(gsvmd_get_stats(sock, &st) == 0, "stats");
	before_peer = st.bytes_device_to_device;
	CHECK(gsvm_prefetch(g, p, DRM_TEST_SIZE, 1) == 0, "prefetch to 1");
	CHECK(where(g, p, DRM_TEST_SIZE) == 1, "on device 1: %d", where(g, p, DRM_TEST_SIZE));
	CHECK(gsvmd_get_stats(sock, &st) == 0, "stats");
	CHECK(st.bytes_device_to_device - before_peer == DRM_TEST_SIZE, "peer bytes %llu",
	      (unsigned long long)(st.bytes_device_to_device - before_peer));
	/* CPU faults bring it home. */
	bad = check_pattern(p, DRM_TEST_SIZE, 1);
	CHECK(bad < 0, "byte %ld differs after 0 -> 1 -> host", bad);
	CHECK(fnv1a(p, DRM_TEST_SIZE) == sum, "device 0's checksum differs from the host's");
	CHECK(where(g, p, DRM_TEST_SIZE) == GSVM_HOST, "home: %d", where(g, p, DRM_TEST_SIZE));

	/* Other way round, with new data. */
	fill_pattern(p, DRM_TEST_SIZE, 2);
	CHECK(gsvm_prefetch(g, p, DRM_TEST_SIZE, 1) == 0, "prefetch to 1");
	CHECK(gsvm_prefetch(g, p, DRM_TEST_SIZE, 0) == 0, "prefetch 1 -> 0");
	CHECK(where(g, p, DRM_TEST_SIZE) == 0, "on device 0: %d", where(g, p, DRM_TEST_SIZE));
	CHECK(gsvm_prefetch(g, p, DRM_TEST_SIZE, GSVM_HOST) == 0, "prefetch home");
	bad = check_pattern(p, DRM_TEST_SIZE, 2);
	CHECK(bad < 0, "byte %ld differs after 1 -> 0 -> host", bad);

	/* A device op writes on the device; the CPU reads the result. */
	CHECK(gsvm_device_op(g, 1, GSVM_OP_FILL, p, DRM_TEST_SIZE, 0x5a, NULL) == 0, "fill");
	CHECK(((unsigned char *)p)[DRM_TEST_SIZE - 1] == 0x5a, "fill not seen");
	CHECK(gsvm_free(g, p) == 0, "free");
	gsvm_disconnect(g);
	return 0;
}

/* Print the lines of gsvmd's log that mention @what. */
static void print_log_lines(const char *log, const char *what)
{
	char line[512];
	FILE *f = fopen(log, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			printf("\n  gsvmd: %s", line);
	fclose(f);
}

static void test_drm_integrity(void)
{
	char sock[sizeof(drm_daemon.sock)];

	if (!drm_start())
		return;
	snprintf(sock, sizeof(sock), "%s", drm_daemon.sock);
	CU_ASSERT_EQUAL(run_child(drm_cycle, sock, 300), 0);
	/* The peer copies went through PRIME: an import, or its failure reported. */
	CU_ASSERT(wait_for_text(drm_daemon.log, "PRIME", 1000));
	print_log_lines(drm_daemon.log, "PRIME");
}

/*
 * drm = auto beside the default sim devices: every card is added after
 * sim0 and sim1, named after its node; data goes sim -> drm -> drm -> sim ->
 * host and keeps every byte.
 */
static int mixed_cycle(void *arg)
{
	const char *sock = arg;
	struct gsvm_device_info info;
	int n, dev, path[4];
	struct gsvm *g;
	long bad;
	void *p;

	CHECK(gsvm_connect(sock, &g) == 0, "connect");
	n = gsvm_device_count(g);
	CHECK(n == 2 + (int)card_count(), "%d devices", n);
	for (dev = 2; dev < n; dev++) {
		CHECK(gsvm_device_info(g, dev, &info) == 0, "info %d", dev);
		CHECK(!strcmp(info.provider, "drm") && !strncmp(info.name, "card", 4),
		      "device %d: %s (%s)", dev, info.name, info.provider);
		CHECK(info.capacity == 32 * MiB, "capacity %llu",
		      (unsigned long long)info.capacity);
	}
	path[0] = 0;
	path[1] = 2;
	path[2] = 3;
	path[3] = 1;
	CHECK(gsvm_alloc(g, 16 * MiB, &p) == 0, "alloc");
	fill_pattern(p, 16 * MiB, 3);
	for (dev = 0; dev < 4; dev++) {
		CHECK(gsvm_prefetch(g, p, 16 * MiB, path[dev]) == 0, "prefetch to %d", path[dev]);
		CHECK(where(g, p, 16 * MiB) == path[dev], "on %d: %d", path[dev],
		      where(g, p, 16 * MiB));
	}
	bad = check_pattern(p, 16 * MiB, 3);
	CHECK(bad < 0, "byte %ld differs after sim0 -> card -> card -> sim1 -> host", bad);
	gsvm_disconnect(g);
	return 0;
}

static void test_drm_auto_mixed(void)
{
	struct gsvmd_proc d;

	if (card_count() < 2) {
		printf("(fewer than two card nodes: skipped) ");
		return;
	}
	CU_ASSERT_FATAL(gsvmd_start(&d, "[daemon]\ndrm = auto\ndrm_capacity = 32M\n") == 0);
	CU_ASSERT_EQUAL(run_child(mixed_cycle, d.sock, 300), 0);
	if (CU_get_number_of_failures())
		gsvmd_dump_log(&d);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

static void test_drm_stop(void)
{
	if (!drm_running)
		return;
	CU_ASSERT_EQUAL(gsvmd_stop(&drm_daemon, SIGTERM), 0);
	drm_running = false;
	if (CU_get_number_of_failures())
		gsvmd_dump_log(&drm_daemon);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_no_drm_devices),
		CU_TEST_ENTRY(test_missing_node),
		CU_TEST_ENTRY(test_drm_ctl_devices),
		CU_TEST_ENTRY(test_drm_integrity),
		CU_TEST_ENTRY(test_drm_stop),
		CU_TEST_ENTRY(test_drm_auto_mixed),
		{ NULL, NULL },
	};

	return cu_run("drm", tests);
}
