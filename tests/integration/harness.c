// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool socket_answers(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ok = !connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return ok;
}

int gsvmd_start(struct gsvmd_proc *p, const char *config_text)
{
	const char *bin = getenv("GSVMD");
	char conf[128] = "";
	uint64_t deadline;
	FILE *f;
	int fd;

	if (!bin) {
		fprintf(stderr, "GSVMD is not set (path to the gsvmd binary)\n");
		return -1;
	}
	snprintf(p->dir, sizeof(p->dir), "/tmp/gsvm-test.XXXXXX");
	if (!mkdtemp(p->dir))
		return -1;
	snprintf(p->sock, sizeof(p->sock), "%s/gsvmd.sock", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/gsvmd.log", p->dir);
	if (config_text) {
		snprintf(conf, sizeof(conf), "%s/gsvmd.conf", p->dir);
		f = fopen(conf, "w");
		if (!f)
			return -1;
		fputs(config_text, f);
		fclose(f);
	}
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (!p->pid) {
		fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		unsetenv("GSVM_SOCKET");
		if (conf[0])
			execl(bin, "gsvmd", "-v", "-s", p->sock, "-c", conf, (char *)NULL);
		else
			execl(bin, "gsvmd", "-v", "-s", p->sock, (char *)NULL);
		_exit(127);
	}
	setenv("GSVM_SOCKET", p->sock, 1);
	deadline = now_ns() + 30ULL * 1000000000ULL;
	while (!socket_answers(p->sock)) {
		if (now_ns() > deadline || waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			gsvmd_dump_log(p);
			return -1;
		}
		usleep(10000);
	}
	return 0;
}

void gsvmd_dump_log(struct gsvmd_proc *p)
{
	char line[512];
	FILE *f = fopen(p->log, "r");

	if (!f)
		return;
	fprintf(stderr, "---- gsvmd log (%s) ----\n", p->log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "---- end of gsvmd log ----\n");
	fclose(f);
}

int gsvmd_stop(struct gsvmd_proc *p, int sig)
{
	int status = 0;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	if (waitpid(p->pid, &status, 0) < 0)
		return -1;
	p->pid = 0;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

pid_t spawn_child(int (*fn)(void *arg), void *arg, unsigned int timeout_s)
{
	pid_t pid = fork();

	if (pid == 0) {
		alarm(timeout_s);
		_exit(fn(arg));
	}
	return pid;
}

int wait_child(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "child %d killed by signal %d%s\n", (int)pid, WTERMSIG(status),
			WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

int run_child(int (*fn)(void *arg), void *arg, unsigned int timeout_s)
{
	return wait_child(spawn_child(fn, arg, timeout_s));
}

long mapping_rss_kb(const void *addr)
{
	uintptr_t a = (uintptr_t)addr, lo, hi;
	char line[512];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = a >= lo && a < hi;
		else if (in && !strncmp(line, "Rss:", 4)) {
			kb = strtol(line + 4, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

long proc_rss_anon_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "RssAnon:", 8))
			kb = strtol(line + 8, NULL, 10);
	fclose(f);
	return kb;
}

uint64_t fnv1a(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t pattern_word(size_t i, unsigned int seed)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)seed << 32 | seed);

	x ^= x >> 29;
	return x * 0xbf58476d1ce4e5b9ULL;
}

void fill_pattern(void *buf, size_t len, unsigned int seed)
{
	uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = pattern_word(i, seed);
}

long check_pattern(const void *buf, size_t len, unsigned int seed)
{
	const uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != pattern_word(i, seed))
			return (long)(i * 8);
	return -1;
}
