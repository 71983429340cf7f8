// SPDX-License-Identifier: MIT
/*
 * The kernel module shim (gsvm_shim.ko) when things die: a client killed
 * while a forwarded fault waits, gsvmd killed while clients wait, rmmod
 * while clients are attached. Each must end cleanly: no process left in an
 * unkillable wait, SIGBUS rather than a hang or zeros, EBUSY from rmmod.
 * The kernel's side (no oops, no hung task) is checked by tests/vm's
 * kernel_log group. Skipped (exit 0) where /dev/gsvm-shim does not exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu.h"
#include "gsvm.h"
#include "gsvm_shim.h"
#include "harness.h"

#define MiB (1ULL << 20)
#define KMOD_CONFIG "[daemon]\nshim = kmod\n"

struct kmod_ctx {
	int ready[2];
	int go[2];
};

/* Wait up to @ms for @pid to end; its status as wait_child() gives it, or -1. */
static int reap_within(pid_t pid, unsigned int ms)
{
	int status;

	for (unsigned int i = 0; i < ms / 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
		usleep(10000);
	}
	return -1;
}

/* Whether @pid is still alive and not a zombie. */
static bool alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

static void *toucher(void *arg)
{
	volatile uint8_t *p = arg;

	(void)p[0];
	return NULL;
}

/*
 * Put 4 MiB of data on device 0, say ready, wait for the go, then touch it
 * from a thread (a forwarded fault) and sleep.
 */
static int client_touch_device_data(void *arg)
{
	struct kmod_ctx *c = arg;
	struct gsvm *g;
	pthread_t t;
	char b = 0;
	void *p;

	CHECK(!gsvm_connect(NULL, &g), "connect");
	CHECK(!gsvm_alloc(g, 4 * MiB, &p), "alloc");
	fill_pattern(p, 4 * MiB, 3);
	CHECK(gsvm_prefetch(g, p, 4 * MiB, 0) == 0, "prefetch");
	CHECK(write(c->ready[1], &b, 1) == 1, "ready");
	CHECK(read(c->go[0], &b, 1) == 1, "go");
	pthread_create(&t, NULL, toucher, p);
	pthread_join(t, NULL);
	/* The fault was served: gsvmd was not meant to serve it. */
	return 3;
}

static int start_client(struct gsvmd_proc *d, struct kmod_ctx *c, pid_t *pid)
{
	char b;

	if (pipe(c->ready) || pipe(c->go))
		return -1;
	setenv("GSVM_SOCKET", d->sock, 1);
	*pid = spawn_child(client_touch_device_data, c, 120);
	if (*pid < 0 || read(c->ready[0], &b, 1) != 1)
		return -1;
	return 0;
}

/* A client killed while its fault waits on a stopped gsvmd dies at once. */
static void test_client_killed_in_fault(void)
{
	struct gsvmd_proc d;
	struct kmod_ctx c;
	struct gsvm *g;
	char b = 0;
	pid_t pid;

	CU_ASSERT_FATAL(gsvmd_start(&d, KMOD_CONFIG) == 0);
	CU_ASSERT_FATAL(start_client(&d, &c, &pid) == 0);
	CU_ASSERT_EQUAL(kill(d.pid, SIGSTOP), 0);
	CU_ASSERT_EQUAL(write(c.go[1], &b, 1), 1);
	usleep(300000);
	CU_ASSERT(alive(pid));
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	CU_ASSERT_EQUAL(reap_within(pid, 5000 * timeout_scale()), 128 + SIGKILL);
	CU_ASSERT_EQUAL(kill(d.pid, SIGCONT), 0);
	/* gsvmd goes on serving others. */
	CU_ASSERT_EQUAL(gsvm_connect(d.sock, &g), 0);
	if (g)
		gsvm_disconnect(g);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

/* gsvmd killed while a fault waits: the client takes SIGBUS, no hang. */
static void test_daemon_killed_while_waiting(void)
{
	struct gsvmd_proc d;
	struct kmod_ctx c;
	char b = 0;
	pid_t pid;

	CU_ASSERT_FATAL(gsvmd_start(&d, KMOD_CONFIG) == 0);
	CU_ASSERT_FATAL(start_client(&d, &c, &pid) == 0);
	CU_ASSERT_EQUAL(kill(d.pid, SIGSTOP), 0);
	CU_ASSERT_EQUAL(write(c.go[1], &b, 1), 1);
	usleep(300000);
	CU_ASSERT(alive(pid));
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGKILL), 128 + SIGKILL);
	CU_ASSERT_EQUAL(reap_within(pid, 5000 * timeout_scale()), 128 + SIGBUS);
}

/* gsvmd killed first: a later fault on device data takes SIGBUS. */
static void test_daemon_killed_then_fault(void)
{
	struct gsvmd_proc d;
	struct kmod_ctx c;
	char b = 0;
	pid_t pid;

	CU_ASSERT_FATAL(gsvmd_start(&d, KMOD_CONFIG) == 0);
	CU_ASSERT_FATAL(start_client(&d, &c, &pid) == 0);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGKILL), 128 + SIGKILL);
	CU_ASSERT_EQUAL(write(c.go[1], &b, 1), 1);
	CU_ASSERT_EQUAL(reap_within(pid, 5000 * timeout_scale()), 128 + SIGBUS);
}

/* rmmod while a client is attached: EBUSY, and everything still works. */
static void test_rmmod_busy(void)
{
	const char *const argv[] = { "rmmod", "gsvm_shim", NULL };
	struct gsvmd_proc d;
	struct kmod_ctx c;
	struct stat st;
	char out[512];
	char b = 0;
	pid_t pid;

	if (geteuid() != 0) {
		printf("  (not root: rmmod not tried)\n");
		return;
	}
	CU_ASSERT_FATAL(gsvmd_start(&d, KMOD_CONFIG) == 0);
	CU_ASSERT_FATAL(start_client(&d, &c, &pid) == 0);
	CU_ASSERT_NOT_EQUAL(run_capture(argv, out, sizeof(out)), 0);
	/* EBUSY, or EWOULDBLOCK for busybox's O_NONBLOCK delete_module(). */
	printf("  rmmod: %s", out);
	CU_ASSERT(strstr(out, "busy") || strstr(out, "in use") ||
		  strstr(out, "temporarily unavailable"));
	CU_ASSERT_EQUAL(stat("/sys/module/gsvm_shim", &st), 0);
	/* The client's fault is still served: it exits 3 (see the client). */
	CU_ASSERT_EQUAL(write(c.go[1], &b, 1), 1);
	CU_ASSERT_EQUAL(reap_within(pid, 20000 * timeout_scale()), 3);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_client_killed_in_fault),
		CU_TEST_ENTRY(test_daemon_killed_while_waiting),
		CU_TEST_ENTRY(test_daemon_killed_then_fault),
		CU_TEST_ENTRY(test_rmmod_busy),
		{ NULL, NULL },
	};

	if (access(GSVM_SHIM_DEVICE, R_OK | W_OK)) {
		printf("test_kmod: skipped: no %s (gsvm_shim.ko not loaded)\n", GSVM_SHIM_DEVICE);
		return 0;
	}
	setenv("GSVM_SHIM", "kmod", 1);
	return cu_run("kmod", tests);
}
