// SPDX-License-Identifier: MIT
/**
 * DOC: Configuration file and logging tests
 *
 * Each test writes its file under /tmp (mkstemp), loads it and removes it.
 * Error tests check the errno and that the message names "FILE:LINE" with the
 * line of the mistake. The logging tests point stderr at a temporary file and
 * read back what was written.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core.h"
#include "cu.h"
#include "gsvm.h"
#include "log.h"
#include "pagemap.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)

#define TMP_TEMPLATE "/tmp/gsvm-test-config-XXXXXX"

/* Write @text to a new temporary file; its name goes to @path. */
static void write_tmp(char *path, size_t size, const char *text)
{
	size_t len = strlen(text);
	int fd;

	snprintf(path, size, "%s", TMP_TEMPLATE);
	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	close(fd);
}

/* Load @text from a temporary file; the message goes to @err. */
static int load_text(const char *text, struct gsvmd_config *cfg, char *path, char *err,
		     size_t errlen)
{
	int rc;

	write_tmp(path, sizeof(TMP_TEMPLATE), text);
	err[0] = '\0';
	rc = config_load(path, cfg, err, errlen);
	unlink(path);
	return rc;
}

/* @text must fail with -EINVAL and a message "FILE:@line: ...@needle...". */
static void expect_error(const char *text, unsigned int line, const char *needle)
{
	char path[sizeof(TMP_TEMPLATE)], err[512], where[64];
	struct gsvmd_config cfg, before;
	int rc;

	memset(&cfg, 0xa5, sizeof(cfg));
	before = cfg;
	rc = load_text(text, &cfg, path, err, sizeof(err));
	snprintf(where, sizeof(where), "%s:%u: ", path, line);
	CU_ASSERT_EQUAL(rc, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, where));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
	CU_ASSERT(!memcmp(&cfg, &before, sizeof(cfg)));
	if (rc != -EINVAL || !strstr(err, where) || !strstr(err, needle))
		fprintf(stderr, "\n  expected '%s...%s', got %d '%s'\n", where, needle, rc, err);
}

static void assert_default_svm(const struct svm_config *svm)
{
	struct svm_config def;

	svm_config_default(&def);
	CU_ASSERT_EQUAL(svm->notifier_size, def.notifier_size);
	CU_ASSERT_EQUAL(svm->nchunks, def.nchunks);
	CU_ASSERT(!memcmp(svm->chunk_sizes, def.chunk_sizes, sizeof(def.chunk_sizes)));
}

static void assert_default_devices(const struct core_config *core)
{
	CU_ASSERT_EQUAL_FATAL(core->ndev, 2);
	CU_ASSERT_STRING_EQUAL(core->dev[0].name, "sim0");
	CU_ASSERT_STRING_EQUAL(core->dev[1].name, "sim1");
	CU_ASSERT_STRING_EQUAL(core->dev[0].provider, "sim");
	CU_ASSERT_STRING_EQUAL(core->dev[1].provider, "sim");
	CU_ASSERT_EQUAL(core->dev[0].capacity, GIB);
	CU_ASSERT_EQUAL(core->dev[1].capacity, GIB);
}

static void test_default(void)
{
	struct gsvmd_config cfg;

	memset(&cfg, 0xa5, sizeof(cfg));
	config_default(&cfg);
	assert_default_devices(&cfg.core);
	assert_default_svm(&cfg.core.svm);
	CU_ASSERT_EQUAL(cfg.core.timeslice_ms, 1);
	CU_ASSERT_STRING_EQUAL(cfg.socket, "/run/gsvm/gsvmd.sock");
	CU_ASSERT_STRING_EQUAL(cfg.socket, GSVM_DEFAULT_SOCKET);
	CU_ASSERT_FALSE(cfg.socket_set);
	CU_ASSERT_STRING_EQUAL(cfg.shim, "auto");
}

/* [daemon] shim: which fault shims clients may use. */
static void test_shim(void)
{
	static const char *const ok[] = { "auto", "userfaultfd", "kmod" };
	char text[64], path[64], err[256];
	struct gsvmd_config cfg;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[daemon]\nshim = %s\n", ok[i]);
		CU_ASSERT_EQUAL_FATAL(load_text(text, &cfg, path, err, sizeof(err)), 0);
		CU_ASSERT_STRING_EQUAL(cfg.shim, ok[i]);
	}
	expect_error("[daemon]\nshim = uffd\n", 2, "unknown shim 'uffd'");
	expect_error("[daemon]\nshim =\n", 2, "unknown shim ''");
}

static void test_empty_file(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[256];
	struct gsvmd_config cfg, def;

	config_default(&def);
	CU_ASSERT_EQUAL(load_text("", &cfg, path, err, sizeof(err)), 0);
	CU_ASSERT(!memcmp(&cfg, &def, sizeof(cfg)));
	CU_ASSERT_EQUAL(load_text("# nothing\n; here\n\n", &cfg, path, err, sizeof(err)), 0);
	CU_ASSERT(!memcmp(&cfg, &def, sizeof(cfg)));
}

static const char full_conf[] = "# gsvmd.conf\n"
				"[daemon]\n"
				"socket = /tmp/gsvm test/gsvmd.sock\n"
				"\n"
				"[device.gpu0]\n"
				"provider = sim\n"
				"capacity = 512M ; half a GiB\n"
				"bandwidth = 16G\n"
				"latency_us = 10\n"
				"\n"
				"[device.gpu_1-b]\n"
				"capacity=2g\n"
				"provider=sim\n"
				"bandwidth = 1T\n"
				"\n"
				"[policy]\n"
				"timeslice_ms = 5\n"
				"notifier_size = 1G\n"
				"chunk_sizes = 2M, 64K,4k\n";

static void test_full(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[256];
	struct gsvmd_config cfg;
	struct core core;

	CU_ASSERT_EQUAL_FATAL(load_text(full_conf, &cfg, path, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.socket, "/tmp/gsvm test/gsvmd.sock");
	CU_ASSERT(cfg.socket_set);
	CU_ASSERT_EQUAL_FATAL(cfg.core.ndev, 2);
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[0].name, "gpu0");
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[0].provider, "sim");
	CU_ASSERT_EQUAL(cfg.core.dev[0].capacity, 512 * MIB);
	CU_ASSERT_EQUAL(cfg.core.dev[0].bandwidth, 16 * GIB);
	CU_ASSERT_EQUAL(cfg.core.dev[0].latency_us, 10);
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[1].name, "gpu_1-b");
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[1].provider, "sim");
	CU_ASSERT_EQUAL(cfg.core.dev[1].capacity, 2 * GIB);
	CU_ASSERT_EQUAL(cfg.core.dev[1].bandwidth, TIB);
	CU_ASSERT_EQUAL(cfg.core.dev[1].latency_us, 0);
	CU_ASSERT_EQUAL(cfg.core.timeslice_ms, 5);
	CU_ASSERT_EQUAL(cfg.core.svm.notifier_size, GIB);
	CU_ASSERT_EQUAL_FATAL(cfg.core.svm.nchunks, 3);
	CU_ASSERT_EQUAL(cfg.core.svm.chunk_sizes[0], 2 * MIB);
	CU_ASSERT_EQUAL(cfg.core.svm.chunk_sizes[1], 64 * KIB);
	CU_ASSERT_EQUAL(cfg.core.svm.chunk_sizes[2], 4 * KIB);
	/* What the parser accepts, the core accepts. */
	CU_ASSERT_EQUAL_FATAL(core_init(&core, &cfg.core), 0);
	core_fini(&core);
}

static void test_devices_replaced(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[256];
	struct gsvmd_config cfg;

	CU_ASSERT_EQUAL_FATAL(load_text("[device.sim1]\nprovider = sim\ncapacity = 4K\n", &cfg,
					path, err, sizeof(err)),
			      0);
	CU_ASSERT_EQUAL_FATAL(cfg.core.ndev, 1);
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[0].name, "sim1");
	CU_ASSERT_EQUAL(cfg.core.dev[0].capacity, 4 * KIB);
	CU_ASSERT_EQUAL(cfg.core.dev[0].bandwidth, 0);
	CU_ASSERT_FALSE(cfg.socket_set);
	CU_ASSERT_STRING_EQUAL(cfg.socket, GSVM_DEFAULT_SOCKET);
	assert_default_svm(&cfg.core.svm);
}

static void test_policy_keeps_devices(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[256];
	struct gsvmd_config cfg;

	CU_ASSERT_EQUAL_FATAL(load_text("[policy]\ntimeslice_ms = 0\nchunk_sizes = 4K\n", &cfg,
					path, err, sizeof(err)),
			      0);
	assert_default_devices(&cfg.core);
	CU_ASSERT_EQUAL(cfg.core.timeslice_ms, 0);
	CU_ASSERT_EQUAL(cfg.core.svm.nchunks, 1);
	CU_ASSERT_EQUAL(cfg.core.svm.chunk_sizes[0], 4 * KIB);
	CU_ASSERT_EQUAL(cfg.core.svm.notifier_size, 512 * MIB);
}

static void test_many_devices(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[256], *text;
	struct gsvmd_config cfg;
	size_t size = 64 * (PAGEMAP_MAX_DEVICES + 1), len = 0;
	unsigned int i;

	text = malloc(size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	for (i = 0; i < PAGEMAP_MAX_DEVICES; i++)
		len += (size_t)snprintf(text + len, size - len,
					"[device.d%u]\nprovider=sim\ncapacity=%uK\n", i,
					4 * (i + 1));
	CU_ASSERT_EQUAL_FATAL(load_text(text, &cfg, path, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(cfg.core.ndev, PAGEMAP_MAX_DEVICES);
	for (i = 0; i < PAGEMAP_MAX_DEVICES; i++)
		CU_ASSERT_EQUAL(cfg.core.dev[i].capacity, 4 * KIB * (i + 1));
	snprintf(text + len, size - len, "[device.extra]\n");
	expect_error(text, 3 * PAGEMAP_MAX_DEVICES + 1, "too many devices");
	free(text);
}

static void test_unknown_section(void)
{
	expect_error("[daemon]\nsocket = /x\n[deamon]\n", 3, "unknown section [deamon]");
	expect_error("[policyx]\n", 1, "unknown section [policyx]");
	/* Empty sections are seen too. */
	expect_error("\n\n[gpu]\n", 3, "unknown section [gpu]");
}

static void test_unknown_key(void)
{
	expect_error("[device.sim0]\nprovider = sim\n\n\n\n\ncapacty = 1G\n", 7,
		     "unknown key 'capacty' in [device.sim0]");
	expect_error("[policy]\nsocket = /x\n", 2, "unknown key 'socket' in [policy]");
	expect_error("socket = /x\n[daemon]\n", 1, "outside of any section");
}

static void test_bad_capacity(void)
{
	expect_error("[device.a]\nprovider = sim\ncapacity = 12Q\n", 3, "bad capacity '12Q'");
	expect_error("[device.a]\nprovider = sim\ncapacity = -4K\n", 3, "bad capacity");
	expect_error("[device.a]\nprovider = sim\ncapacity = 4 K\n", 3, "bad capacity");
	expect_error("[device.a]\nprovider = sim\ncapacity = 4KB\n", 3, "bad capacity");
	expect_error("[device.a]\nprovider = sim\ncapacity =\n", 3, "bad capacity");
	expect_error("[device.a]\nprovider = sim\ncapacity = 0x1000\n", 3, "bad capacity");
	expect_error("[device.a]\nbandwidth = fast\n", 2, "bad bandwidth 'fast'");
}

static void test_zero_capacity(void)
{
	expect_error("[device.a]\nprovider = sim\ncapacity = 0\n", 3, "non-zero multiple of 4K");
	expect_error("[device.a]\nprovider = sim\ncapacity = 0G\n", 3, "non-zero multiple of 4K");
}

static void test_capacity_not_4k(void)
{
	expect_error("[device.a]\nprovider = sim\n\ncapacity = 6000\n", 4,
		     "capacity '6000' must be a non-zero multiple of 4K");
	expect_error("[device.a]\nprovider = sim\ncapacity = 2K\n", 3, "multiple of 4K");
}

static void test_overflow(void)
{
	expect_error("[device.a]\nprovider = sim\ncapacity = 99999999999999999999G\n", 3,
		     "too large");
	expect_error("[device.a]\nprovider = sim\ncapacity = 99999999999999999999\n", 3,
		     "too large");
	/* 2^34 GiB is 2^64 bytes: fits before the shift, not after. */
	expect_error("[device.a]\nprovider = sim\ncapacity = 17179869184G\n", 3, "too large");
	expect_error("[device.a]\nprovider = sim\ncapacity = 16777216T\n", 3, "too large");
	expect_error("[device.a]\nlatency_us = 4294967296\n", 2, "too large");
	expect_error("[policy]\ntimeslice_ms = 3600001\n", 2, "too large");
}

static void test_largest_sizes(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[256];
	struct gsvmd_config cfg;

	CU_ASSERT_EQUAL(load_text("[device.a]\nprovider=sim\ncapacity=16777215T\n"
				  "bandwidth=18446744073709551615\nlatency_us=4294967295\n"
				  "[policy]\ntimeslice_ms=3600000\n",
				  &cfg, path, err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(cfg.core.dev[0].capacity, 16777215 * TIB);
	CU_ASSERT_EQUAL(cfg.core.dev[0].bandwidth, UINT64_MAX);
	CU_ASSERT_EQUAL(cfg.core.dev[0].latency_us, UINT32_MAX);
	CU_ASSERT_EQUAL(cfg.core.timeslice_ms, 3600000);
}

/* Whether this machine has DRM devices (the DRM tests differ then). */
static bool have_dri(void)
{
	return access("/dev/dri", F_OK) == 0;
}

/* Sim devices show driver "sim" and bus "-"; drm = off unless set. */
static void test_sim_driver_bus(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[512];
	struct gsvmd_config cfg;

	config_default(&cfg);
	CU_ASSERT_FALSE(cfg.drm_auto);
	CU_ASSERT_EQUAL(cfg.drm_capacity, 256 * MIB);
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[0].driver, "sim");
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[1].bus, "-");
	CU_ASSERT_EQUAL_FATAL(load_text("[device.a]\nprovider = sim\ncapacity = 4K\n", &cfg, path,
					err, sizeof(err)),
			      0);
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[0].driver, "sim");
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[0].bus, "-");
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[0].node, "");
}

/* drm = auto on a machine without DRM devices: the sim devices alone. */
static void test_drm_auto(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[512];
	struct gsvmd_config cfg;

	CU_ASSERT_EQUAL_FATAL(load_text("[daemon]\ndrm = auto\ndrm_capacity = 64M\n", &cfg, path,
					err, sizeof(err)),
			      0);
	CU_ASSERT_TRUE(cfg.drm_auto);
	CU_ASSERT_EQUAL(cfg.drm_capacity, 64 * MIB);
	if (have_dri())
		return;
	CU_ASSERT_EQUAL(cfg.drm_found, 0);
	CU_ASSERT_EQUAL(cfg.core.ndev, 2);
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[1].provider, "sim");
	CU_ASSERT_EQUAL_FATAL(load_text("[daemon]\ndrm = off\n", &cfg, path, err, sizeof(err)), 0);
	CU_ASSERT_FALSE(cfg.drm_auto);
}

static void test_drm_errors(void)
{
	expect_error("[daemon]\ndrm = maybe\n", 2, "bad drm 'maybe': expected auto or off");
	expect_error("[daemon]\ndrm_capacity = 6000\n", 2,
		     "drm_capacity '6000' must be a non-zero multiple of 4K");
	expect_error("[device.g]\nprovider = drm\ncapacity = 64M\nnode = /dev/null\n", 4,
		     "bad node '/dev/null': expected auto or a card node under /dev/dri/");
	expect_error("[device.g]\nprovider = drm\ncapacity = 64M\nnode = /dev/dri/../null\n", 4,
		     "bad node");
	expect_error("[device.g]\nprovider = drm\ncapacity = 64M\n\nnode = /dev/dri/card99\n", 5,
		     "node '/dev/dri/card99': No such file or directory");
	expect_error("[device.g]\nprovider = sim\ncapacity = 64M\nnode = /dev/dri/card0\n", 4,
		     "node is for drm devices, not sim ([device.g])");
	expect_error("[device.g]\nprovider = drm\nbandwidth = 1G\ncapacity = 64M\n", 3,
		     "bandwidth is for sim devices, not drm ([device.g])");
	if (!have_dri())
		expect_error("[device.s]\nprovider = sim\ncapacity = 4K\n"
			     "[device.g]\nprovider = drm\ncapacity = 64M\n",
			     4, "no unused DRM card node for [device.g] (node = auto; 0 found)");
}

static void test_unknown_provider(void)
{
	expect_error("[device.a]\nprovider = cuda\ncapacity = 1G\n", 2, "unknown provider 'cuda'");
	expect_error("[device.a]\nprovider = simsimsimsimsimsimsim\n", 2, "unknown provider");
	expect_error("[device.a]\nprovider = Sim\n", 2, "unknown provider");
}

static void test_duplicate_device(void)
{
	expect_error("[device.a]\nprovider = sim\ncapacity = 1G\n"
		     "[device.b]\nprovider = sim\ncapacity = 1G\n"
		     "[device.a]\nprovider = sim\ncapacity = 1G\n",
		     7, "duplicate device 'a' (first at line 1)");
	expect_error("[device.a]\nprovider = sim\ncapacity = 1G\n[device.a]\n", 4,
		     "duplicate device 'a'");
}

static void test_duplicate_key(void)
{
	expect_error("[device.a]\nprovider = sim\ncapacity = 1G\n\ncapacity = 2G\n", 5,
		     "duplicate key 'capacity' in [device.a] (first at line 3)");
	expect_error("[policy]\ntimeslice_ms = 1\ntimeslice_ms = 1\n", 3, "duplicate key");
	/* inih's continuation lines would look like a repeated key. */
	expect_error("[policy]\ntimeslice_ms = 1\n  2\n", 3, "continuation");
}

static void test_duplicate_section(void)
{
	expect_error("[policy]\ntimeslice_ms = 1\n[daemon]\n[policy]\nnotifier_size = 1G\n", 4,
		     "duplicate section [policy] (first at line 1)");
	expect_error("[daemon]\n[daemon]\n", 2, "duplicate section [daemon]");
}

static void test_bad_device_name(void)
{
	char text[256];

	expect_error("[device.gpu/0]\nprovider = sim\ncapacity = 1G\n", 1,
		     "bad device name 'gpu/0'");
	expect_error("[policy]\n[device.]\n", 2, "bad device name ''");
	expect_error("[device]\n", 1, "bad device name ''");
	expect_error("[device.a b]\n", 1, "bad device name 'a b'");
	expect_error("[device.a.b]\n", 1, "bad device name 'a.b'");
	expect_error("[deviceX]\n", 1, "unknown section [deviceX]");
	/* 63 characters are fine (and longer than inih's section names), 64 are not. */
	snprintf(text, sizeof(text),
		 "[device.%063d]\nprovider = sim\ncapacity = 4K\n[device.%064d]\n", 1, 2);
	expect_error(text, 4, "bad device name '00");
}

static void test_long_device_name(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[256], text[256], name[64];
	struct gsvmd_config cfg;

	memset(name, 'n', 63);
	name[63] = '\0';
	snprintf(text, sizeof(text), "[device.%s]\nprovider = sim\ncapacity = 4K\n", name);
	CU_ASSERT_EQUAL_FATAL(load_text(text, &cfg, path, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.core.dev[0].name, name);
}

static void test_missing_key(void)
{
	expect_error("[device.a]\nprovider = sim\ncapacity = 1G\n\n[device.b]\nprovider = sim\n"
		     "[policy]\n",
		     5, "missing key 'capacity' in [device.b]");
	expect_error("[device.a]\ncapacity = 1G\n", 1, "missing key 'provider' in [device.a]");
	expect_error("[daemon]\n\n[device.empty]\n", 3, "missing key 'provider' in [device.empty]");
}

static void test_bad_chunk_sizes(void)
{
	expect_error("[policy]\nchunk_sizes = 64K, 2M, 4K\n", 2, "bad chunk_sizes '64K, 2M, 4K'");
	expect_error("[policy]\nchunk_sizes = 2M, 2M, 4K\n", 2, "bad chunk_sizes");
	expect_error("[policy]\nchunk_sizes = 2M, 48K, 4K\n", 2, "bad chunk_sizes");
	expect_error("[policy]\nchunk_sizes = 2M, 64K\n", 2, "bad chunk_sizes");
	expect_error("[policy]\nchunk_sizes = 2M, 64K, 4K, 2K\n", 2, "bad chunk_sizes");
	expect_error("[policy]\nchunk_sizes = 2M,, 4K\n", 2, "bad chunk_sizes");
	expect_error("[policy]\nchunk_sizes = 2M, 4K,\n", 2, "bad chunk_sizes");
	expect_error("[policy]\nchunk_sizes = 2X, 4K\n", 2, "bad chunk_sizes");
	expect_error("[policy]\nchunk_sizes = 2M 64K 4K\n", 2, "bad chunk_sizes");
	expect_error("[policy]\nchunk_sizes = 99999999999999999999G, 4K\n", 2, "bad chunk_sizes");
	expect_error("[policy]\n\nchunk_sizes = 1G,512M,256M,128M,64M,32M,16M,8M,4K\n", 3,
		     "bad chunk_sizes");
}

static void test_notifier_size(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[256];
	struct gsvmd_config cfg;

	expect_error("[policy]\nnotifier_size = 3M\n", 2, "power of two");
	expect_error("[policy]\nnotifier_size = 2K\n", 2, "power of two");
	/* Each alone is fine; together the default 2M chunk is too large. */
	expect_error("[policy]\nnotifier_size = 1M\n", 2, "must not be larger than notifier_size");
	expect_error("[policy]\nchunk_sizes = 2M, 4K\n\nnotifier_size = 1M\n", 4,
		     "must not be larger than notifier_size");
	expect_error("[policy]\nnotifier_size = 1M\nchunk_sizes = 2M, 4K\n", 3,
		     "must not be larger than notifier_size");
	/* The order of the keys does not matter. */
	CU_ASSERT_EQUAL(load_text("[policy]\nnotifier_size = 64K\nchunk_sizes = 64K, 4K\n", &cfg,
				  path, err, sizeof(err)),
			0);
	CU_ASSERT_EQUAL(cfg.core.svm.notifier_size, 64 * KIB);
}

static void test_bad_socket(void)
{
	char text[256];

	expect_error("[daemon]\nsocket = gsvmd.sock\n", 2, "absolute path");
	snprintf(text, sizeof(text), "[daemon]\nsocket = /%0107d\n", 0);
	expect_error(text, 2, "shorter than 108 bytes");
}

static void test_metrics(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[256];
	struct gsvmd_config cfg;

	config_default(&cfg);
	CU_ASSERT_STRING_EQUAL(cfg.metrics.text, "");
	CU_ASSERT_EQUAL_FATAL(load_text("[daemon]\nmetrics = 127.0.0.1:9477 ; scraped\n", &cfg,
					path, err, sizeof(err)),
			      0);
	CU_ASSERT_STRING_EQUAL(cfg.metrics.text, "127.0.0.1:9477");
	CU_ASSERT_STRING_EQUAL(cfg.metrics.host, "127.0.0.1");
	CU_ASSERT_EQUAL(cfg.metrics.port, 9477);
	CU_ASSERT_STRING_EQUAL(cfg.metrics.path, "");
	/* localhost is 127.0.0.1: no resolver at start-up. */
	CU_ASSERT_EQUAL_FATAL(
		load_text("[daemon]\nmetrics = localhost:1\n", &cfg, path, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.metrics.host, "127.0.0.1");
	CU_ASSERT_EQUAL(cfg.metrics.port, 1);
	CU_ASSERT_EQUAL_FATAL(
		load_text("[daemon]\nmetrics = [::1]:65535\n", &cfg, path, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.metrics.host, "::1");
	CU_ASSERT_EQUAL(cfg.metrics.port, 65535);
	CU_ASSERT_EQUAL_FATAL(load_text("[daemon]\nmetrics = /run/gsvm/metrics.sock\n", &cfg, path,
					err, sizeof(err)),
			      0);
	CU_ASSERT_STRING_EQUAL(cfg.metrics.path, "/run/gsvm/metrics.sock");
	CU_ASSERT_STRING_EQUAL(cfg.metrics.host, "");
	/* An empty value is the default: off. */
	CU_ASSERT_EQUAL_FATAL(load_text("[daemon]\nmetrics =\n", &cfg, path, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.metrics.text, "");
}

static void test_bad_metrics(void)
{
	static const char *const bad[] = {
		"9477",		  "127.0.0.1",	     "127.0.0.1:",
		"127.0.0.1:0",	  "127.0.0.1:65536", "127.0.0.1:009477",
		"127.0.0.1:http", "127.0.0.1:-1",    "127.1:80",
		"example.com:80", ":9477",	     "::1:9477",
		"[::1]9477",	  "[::1]",	     "[127.0.0.1]:80",
		"[::1]:",	  "metrics.sock",    "0x7f000001:80",
		"127.0.0.1:80 x",
	};
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[daemon]\nsocket = /x\nmetrics = %s\n", bad[i]);
		expect_error(text, 3, "bad metrics");
	}
	snprintf(text, sizeof(text), "[daemon]\nmetrics = /%0107d\n", 0);
	expect_error(text, 2, "shorter than 108 bytes");
	expect_error("[daemon]\nmetrics = 127.0.0.1:1\nmetrics = 127.0.0.1:2\n", 3,
		     "duplicate key 'metrics'");
	expect_error("[policy]\nmetrics = 127.0.0.1:1\n", 2, "unknown key 'metrics' in [policy]");
}

static void test_syntax_error(void)
{
	expect_error("[daemon]\nsocket /x\n", 2, "syntax error");
	expect_error("[policy]\ntimeslice_ms = 1\n[daemon\n", 3, "syntax error");
	expect_error("[policy] timeslice_ms = 1\n", 1, "syntax error");
	expect_error("[daemon]\n  [policy]\n", 2, "indented section header");
	/* inih's syntax error comes before ours, and is the one reported. */
	expect_error("[daemon]\nnonsense\n[nosuchsection]\n", 2, "syntax error");
}

static void test_line_too_long(void)
{
	char text[1024];

	snprintf(text, sizeof(text), "[daemon]\n\n; %0900d\n", 0);
	expect_error(text, 3, "line too long");
}

static void test_missing_file(void)
{
	char path[] = "/tmp/gsvm-test-config-missing/gsvmd.conf", err[256];
	struct gsvmd_config cfg;

	CU_ASSERT_EQUAL(config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(ENOENT)));
	CU_ASSERT_EQUAL(config_load("/tmp", &cfg, err, sizeof(err)), -EISDIR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/tmp: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, strerror(EISDIR)));
	/* No message buffer, or a short one, is fine. */
	CU_ASSERT_EQUAL(config_load(path, &cfg, NULL, 0), -ENOENT);
	CU_ASSERT_EQUAL(config_load(path, &cfg, err, 4), -ENOENT);
	CU_ASSERT_EQUAL(strlen(err), 3);
	CU_ASSERT_EQUAL(config_load(NULL, &cfg, err, sizeof(err)), -EINVAL);
	CU_ASSERT_EQUAL(config_load(path, NULL, err, sizeof(err)), -EINVAL);
}

static void test_crlf_and_bom(void)
{
	char path[sizeof(TMP_TEMPLATE)], err[256];
	struct gsvmd_config cfg;

	CU_ASSERT_EQUAL_FATAL(load_text("\xEF\xBB\xBF[device.a]\r\nprovider = sim\r\n"
					"capacity = 8K\r\n",
					&cfg, path, err, sizeof(err)),
			      0);
	CU_ASSERT_EQUAL(cfg.core.ndev, 1);
	CU_ASSERT_EQUAL(cfg.core.dev[0].capacity, 8 * KIB);
}

/* Run @fn with stderr redirected to a temporary file; return what it wrote. */
static char *capture_stderr(void (*fn)(void))
{
	char path[sizeof(TMP_TEMPLATE)] = TMP_TEMPLATE;
	static char out[8192];
	int fd, saved;
	ssize_t n;

	fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	unlink(path);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	CU_ASSERT_FATAL(saved >= 0);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static void log_plain(void)
{
	log_init(0, false);
	errno = EBADF;
	log_err("bad %d", 42);
	CU_ASSERT_EQUAL(errno, EBADF);
	log_warn("careful");
	log_info("hello\nworld");
	log_debug("hidden");
}

static void test_log_plain(void)
{
	char want[256], *out = capture_stderr(log_plain);
	long pid = (long)getpid();

	snprintf(want, sizeof(want),
		 "gsvmd[%ld]: error: log_plain: bad 42\n"
		 "gsvmd[%ld]: warning: log_plain: careful\n"
		 "gsvmd[%ld]: hello world\n",
		 pid, pid, pid);
	CU_ASSERT_STRING_EQUAL(out, want);
}

static void log_journal(void)
{
	log_init(1, true);
	log_err("e");
	log_warn("w");
	log_info("i");
	log_debug("d %s", "x");
	log_msg(LOG_NOTICE, NULL, "n");
	log_init(0, false);
}

static void test_log_journal(void)
{
	CU_ASSERT_STRING_EQUAL(capture_stderr(log_journal),
			       "<3>log_journal: e\n<4>log_journal: w\n<6>i\n<7>log_journal: d x\n"
			       "<5>n\n");
}

static void log_long(void)
{
	static char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	log_init(0, true);
	log_info("%s", big);
	log_init(0, false);
}

static void test_log_truncated(void)
{
	char *out = capture_stderr(log_long);
	size_t len = strlen(out);

	CU_ASSERT(len > 1000 && len <= 4096);
	CU_ASSERT(!strncmp(out, "<6>xxx", 6));
	CU_ASSERT(len > 4 && !strcmp(out + len - 4, "...\n"));
	CU_ASSERT_EQUAL(strchr(out, '\n'), out + len - 1);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_default),
		CU_TEST_ENTRY(test_shim),
		CU_TEST_ENTRY(test_empty_file),
		CU_TEST_ENTRY(test_full),
		CU_TEST_ENTRY(test_devices_replaced),
		CU_TEST_ENTRY(test_policy_keeps_devices),
		CU_TEST_ENTRY(test_many_devices),
		CU_TEST_ENTRY(test_unknown_section),
		CU_TEST_ENTRY(test_unknown_key),
		CU_TEST_ENTRY(test_bad_capacity),
		CU_TEST_ENTRY(test_zero_capacity),
		CU_TEST_ENTRY(test_capacity_not_4k),
		CU_TEST_ENTRY(test_overflow),
		CU_TEST_ENTRY(test_largest_sizes),
		CU_TEST_ENTRY(test_unknown_provider),
		CU_TEST_ENTRY(test_sim_driver_bus),
		CU_TEST_ENTRY(test_drm_auto),
		CU_TEST_ENTRY(test_drm_errors),
		CU_TEST_ENTRY(test_duplicate_device),
		CU_TEST_ENTRY(test_duplicate_key),
		CU_TEST_ENTRY(test_duplicate_section),
		CU_TEST_ENTRY(test_bad_device_name),
		CU_TEST_ENTRY(test_long_device_name),
		CU_TEST_ENTRY(test_missing_key),
		CU_TEST_ENTRY(test_bad_chunk_sizes),
		CU_TEST_ENTRY(test_notifier_size),
		CU_TEST_ENTRY(test_bad_socket),
		CU_TEST_ENTRY(test_metrics),
		CU_TEST_ENTRY(test_bad_metrics),
		CU_TEST_ENTRY(test_syntax_error),
		CU_TEST_ENTRY(test_line_too_long),
		CU_TEST_ENTRY(test_missing_file),
		CU_TEST_ENTRY(test_crlf_and_bom),
		CU_TEST_ENTRY(test_log_plain),
		CU_TEST_ENTRY(test_log_journal),
		CU_TEST_ENTRY(test_log_truncated),
		{ NULL, NULL },
	};

	/* As gsvmd does: drm is not the core's. */
	if (pagemap_provider_register(&drm_provider_ops))
		return 1;
	return cu_run("config", tests);
}
