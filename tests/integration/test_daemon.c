// SPDX-License-Identifier: MIT
/*
 * gsvmd as a program: its configuration file, its command line, and what it
 * says about bad input.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu.h"
#include "gsvm.h"
#include "harness.h"

/* Run gsvmd with @args to completion; capture its stderr into @out. */
static int run_gsvmd(const char *const *args, char *out, size_t outlen)
{
	const char *bin = getenv("GSVMD");
	int pfd[2], status;
	ssize_t n, total = 0;
	pid_t pid;

	if (!bin || pipe(pfd))
		return -1;
	pid = fork();
	if (!pid) {
		dup2(pfd[1], 2);
		dup2(pfd[1], 1);
		close(pfd[0]);
		alarm(20);
		execv(bin, (char *const *)args);
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], out + total, outlen - 1 - (size_t)total)) > 0)
		total += n;
	out[total] = 0;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_config_file_devices(void)
{
	static const char conf[] = "[daemon]\n"
				   "socket = /tmp/ignored-by-s.sock\n"
				   "[device.alpha]\n"
				   "provider = sim\n"
				   "capacity = 64M\n"
				   "[device.beta]\n"
				   "provider = sim\n"
				   "capacity = 128M\n"
				   "[device.gamma]\n"
				   "provider = sim\n"
				   "capacity = 32M\n"
				   "[policy]\n"
				   "chunk_sizes = 64K, 4K\n";
	struct gsvm_device_info info;
	struct gsvmd_proc d;
	struct gsvm *g;
	void *p;

	CU_ASSERT_FATAL(gsvmd_start(&d, conf) == 0);
	CU_ASSERT_FATAL(gsvm_connect(d.sock, &g) == 0);
	CU_ASSERT_EQUAL(gsvm_device_count(g), 3);
	CU_ASSERT_EQUAL(gsvm_device_info(g, 1, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.name, "beta");
	CU_ASSERT_STRING_EQUAL(info.provider, "sim");
	CU_ASSERT_EQUAL(info.capacity, 128ULL << 20);
	CU_ASSERT_EQUAL(info.online, 1);
	CU_ASSERT_EQUAL(gsvm_device_info(g, 3, &info), -ENODEV);
	/* A 96 MiB prefetch does not fit a 64 MiB device: partial success. */
	CU_ASSERT_EQUAL(gsvm_alloc(g, 96ULL << 20, &p), 0);
	memset(p, 1, 96ULL << 20);
	CU_ASSERT_EQUAL(gsvm_prefetch(g, p, 96ULL << 20, 0), GSVM_PARTIAL);
	CU_ASSERT_EQUAL(gsvm_device_info(g, 0, &info), 0);
	CU_ASSERT_EQUAL(info.used, 64ULL << 20);
	CU_ASSERT_EQUAL(((uint8_t *)p)[(96ULL << 20) - 1], 1);
	gsvm_disconnect(g);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

static void test_bad_config_names_file_and_line(void)
{
	char path[] = "/tmp/gsvmd-bad.XXXXXX", out[4096], expect[128];
	const char *args[] = { "gsvmd", "-c", path, "-s", "/tmp/gsvmd-never.sock", NULL };
	int fd = mkstemp(path);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(dprintf(fd, "[device.x]\nprovider = sim\ncapacty = 1G\n") > 0);
	close(fd);
	CU_ASSERT_EQUAL(run_gsvmd(args, out, sizeof(out)), 1);
	snprintf(expect, sizeof(expect), "%s:3:", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, expect));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "capacty"));
	unlink(path);
	args[2] = "/nonexistent/gsvmd.conf";
	CU_ASSERT_EQUAL(run_gsvmd(args, out, sizeof(out)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "/nonexistent/gsvmd.conf"));
}

static void test_usage(void)
{
	const char *bad[] = { "gsvmd", "--bogus", NULL };
	const char *help[] = { "gsvmd", "--help", NULL };
	const char *extra[] = { "gsvmd", "stray", NULL };
	char out[4096];

	CU_ASSERT_EQUAL(run_gsvmd(bad, out, sizeof(out)), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage"));
	CU_ASSERT_EQUAL(run_gsvmd(extra, out, sizeof(out)), 2);
	CU_ASSERT_EQUAL(run_gsvmd(help, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "--socket"));
}

static void test_socket_in_use(void)
{
	const char *args[] = { "gsvmd", "-s", NULL, NULL };
	struct gsvmd_proc d;
	char out[4096];

	CU_ASSERT_FATAL(gsvmd_start(&d, NULL) == 0);
	args[2] = d.sock;
	/* A second daemon on a live socket refuses to start. */
	CU_ASSERT_EQUAL(run_gsvmd(args, out, sizeof(out)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "in use"));
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

/* A client speaking another protocol version is refused with -EPROTO. */
static void test_version_mismatch(void)
{
	/* Request{id=1, hello{version=99}}, encoded by hand. */
	static const uint8_t msg[] = { 0x08, 0x01, 0x12, 0x02, 0x08, 0x63 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct gsvmd_proc d;
	uint8_t buf[256];
	ssize_t n;
	int fd;

	CU_ASSERT_FATAL(gsvmd_start(&d, NULL) == 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", d.sock);
	CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	CU_ASSERT_EQUAL(send(fd, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
	n = recv(fd, buf, sizeof(buf), 0);
	/* Response{id=1, err=-EPROTO}: field 2 is sint32, zigzag(-71) = 141. */
	CU_ASSERT(n >= 5);
	CU_ASSERT_EQUAL(buf[0], 0x08);
	CU_ASSERT_EQUAL(buf[1], 0x01);
	CU_ASSERT_EQUAL(buf[2], 0x10);
	CU_ASSERT_EQUAL(buf[3], 0x8d);
	CU_ASSERT_EQUAL(buf[4], 0x01);
	close(fd);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

/*
 * [daemon] shim = kmod: a client on userfaultfd is refused at its hello;
 * an unknown $GSVM_SHIM is refused by libgsvm itself.
 */
/*
 * The README's `make demo` runs scripts/run-demo on the built gsvmd and the
 * demo client: it must verify the data, stop gsvmd and exit 0. Where the
 * tree is not at hand (the VM), there is nothing to run.
 */
static void test_run_demo(void)
{
	const char *top = getenv("REPO_TOP"), *build = getenv("GSVM_BUILD");
	char script[4096], demo[4096], out[65536];
	const char *argv[] = { script, getenv("GSVMD"), demo, NULL };

	if (!top || !build) {
		printf("\n  skipped: REPO_TOP or GSVM_BUILD not set\n");
		return;
	}
	snprintf(script, sizeof(script), "%s/scripts/run-demo", top);
	snprintf(demo, sizeof(demo), "%s/%s/examples/demo", top, build);
	if (access(script, X_OK) || access(demo, X_OK)) {
		printf("\n  skipped: no %s or %s\n", script, demo);
		return;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(argv[1]);
	CU_ASSERT_EQUAL(run_capture(argv, out, sizeof(out)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "verified"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "run-demo: done"));
	CU_ASSERT_PTR_NULL(strstr(out, "recursion"));
}

static void test_shim_config(void)
{
	struct gsvmd_proc d;
	struct gsvm *g = NULL;

	CU_ASSERT_FATAL(gsvmd_start(&d, "[daemon]\nshim = kmod\n") == 0);
	setenv("GSVM_SHIM", "userfaultfd", 1);
	CU_ASSERT_EQUAL(gsvm_connect(d.sock, &g), -EPROTONOSUPPORT);
	CU_ASSERT_PTR_NULL(g);
	setenv("GSVM_SHIM", "uffd", 1);
	CU_ASSERT_EQUAL(gsvm_connect(d.sock, &g), -EINVAL);
	unsetenv("GSVM_SHIM");
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_config_file_devices),
		CU_TEST_ENTRY(test_bad_config_names_file_and_line),
		CU_TEST_ENTRY(test_usage),
		CU_TEST_ENTRY(test_socket_in_use),
		CU_TEST_ENTRY(test_version_mismatch),
		CU_TEST_ENTRY(test_shim_config),
		CU_TEST_ENTRY(test_run_demo),
		{ NULL, NULL },
	};

	return cu_run("daemon", tests);
}
