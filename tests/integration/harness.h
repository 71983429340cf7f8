/* SPDX-License-Identifier: MIT */
#ifndef GSVM_TEST_HARNESS_H
#define GSVM_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * Integration tests run real processes: a gsvmd of their own on a private
 * socket, and client processes forked per test. A client's checks return 1
 * with a message on failure; the parent asserts on the exit status, so a
 * crash, a hang (alarm) or a wrong byte all fail the test.
 */

struct gsvmd_proc {
	pid_t pid;
	char dir[64];
	char sock[96];
	char log[128];
	char vglog[128]; /* valgrind's log when $GSVMD_WRAPPER is valgrind, else "" */
};

/*
 * Start $GSVMD (with @config_text as its config file when non-NULL).
 *
 * $GSVMD_WRAPPER, when set, is a command (words separated by blanks) that
 * runs gsvmd, e.g. "valgrind --tool=memcheck --leak-check=full". When it is
 * valgrind, the harness adds --log-file=DIR/valgrind.log and gsvmd_stop()
 * checks valgrind's verdict there.
 */
int gsvmd_start(struct gsvmd_proc *p, const char *config_text);
/*
 * Send @sig and wait; return the exit status (or 128 + signal). A gsvmd that
 * exited (not killed) under valgrind with errors (ERROR SUMMARY not 0, leaks
 * included when valgrind counts them as errors) returns GSVMD_VALGRIND_FAILED
 * after printing valgrind's log; a sanitizer report in gsvmd's log is printed.
 */
int gsvmd_stop(struct gsvmd_proc *p, int sig);
#define GSVMD_VALGRIND_FAILED 99
/* Print gsvmd's log (on failure). */
void gsvmd_dump_log(struct gsvmd_proc *p);

/*
 * Run @argv (argv[0] searched in $PATH) to completion under a 60 s alarm,
 * its stdout and stderr captured into @out (NUL-terminated). Return: its
 * exit status, 128 + signal, or 127 when it could not be run.
 */
int run_capture(const char *const *argv, char *out, size_t outlen);
/* Wait up to @timeout_ms for @text to appear in file @path. */
bool wait_for_text(const char *path, const char *text, unsigned int timeout_ms);

/*
 * $GSVM_TEST_TIMEOUT_SCALE (a whole number, default 1): every timeout the
 * harness applies (child alarms, gsvmd's start-up, run_capture(),
 * wait_for_text()) is multiplied by it, for slow runs such as valgrind's.
 */
unsigned int timeout_scale(void);

/* Fork, run @fn(@arg) in the child under alarm(@timeout_s); exit status. */
int run_child(int (*fn)(void *arg), void *arg, unsigned int timeout_s);
pid_t spawn_child(int (*fn)(void *arg), void *arg, unsigned int timeout_s);
int wait_child(pid_t pid);

/* Resident KiB of the mapping that contains @addr (from /proc/self/smaps). */
long mapping_rss_kb(const void *addr);
/* The process's RssAnon (KiB) of @pid (0 for self). */
long proc_rss_anon_kb(pid_t pid);
/* Open descriptors of @pid (entries of /proc/PID/fd), or -1. */
int proc_fd_count(pid_t pid);
/* CPU time of @pid, user + system, in clock ticks, or -1. */
long proc_cpu_ticks(pid_t pid);

/* gsvmd's counters, read over the protocol (StatsReq). */
struct gsvmd_stats {
	uint64_t faults_cpu, faults_device;
	uint64_t to_device, to_host, device_to_device;
	uint64_t bytes_to_device, bytes_to_host, bytes_device_to_device;
	uint64_t evictions, throttled, pinned;
	uint32_t clients;
	uint64_t ranges;
	uint64_t used[8];
	int online[8];
	unsigned int ndev;
	/* Requests and connections each limit refused (StatsReply.limits). */
	struct {
		uint64_t message, clients, allocations, device_bytes, inflight, fds, backlog;
	} limits;
};

int gsvmd_get_stats(const char *sock, struct gsvmd_stats *out);
/* Unbind (@rebind false) or rebind a device; returns the daemon's err. */
int gsvmd_device_admin(const char *sock, int device, bool rebind);

uint64_t now_ns(void);
/* Whether a SOCK_SEQPACKET connect() to @path succeeds (then closed). */
bool socket_answers(const char *path);
uint64_t fnv1a(const void *buf, size_t len);
void fill_pattern(void *buf, size_t len, unsigned int seed);
/* Index of the first byte that differs from the pattern, or -1. */
long check_pattern(const void *buf, size_t len, unsigned int seed);

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__,    \
				#cond);                                                    \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
			return 1;                                                          \
		}                                                                          \
	} while (0)

#endif
