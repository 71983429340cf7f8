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
};

/* Start $GSVMD (with @config_text as its config file when non-NULL). */
int gsvmd_start(struct gsvmd_proc *p, const char *config_text);
/* Send @sig and wait; return the exit status (or 128 + signal). */
int gsvmd_stop(struct gsvmd_proc *p, int sig);
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

/* Fork, run @fn(@arg) in the child under alarm(@timeout_s); exit status. */
int run_child(int (*fn)(void *arg), void *arg, unsigned int timeout_s);
pid_t spawn_child(int (*fn)(void *arg), void *arg, unsigned int timeout_s);
int wait_child(pid_t pid);

/* Resident KiB of the mapping that contains @addr (from /proc/self/smaps). */
long mapping_rss_kb(const void *addr);
/* The process's RssAnon (KiB) of @pid (0 for self). */
long proc_rss_anon_kb(pid_t pid);

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
};

int gsvmd_get_stats(const char *sock, struct gsvmd_stats *out);
/* Unbind (@rebind false) or rebind a device; returns the daemon's err. */
int gsvmd_device_admin(const char *sock, int device, bool rebind);

uint64_t now_ns(void);
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
