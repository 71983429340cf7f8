/* SPDX-License-Identifier: MIT */
#ifndef GSVM_HOSTILE_H
#define GSVM_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "rawconn.h"

/**
 * DOC: The hostile client
 *
 * A program that attacks a running gsvmd the way a buggy or malicious
 * local client could: with bytes that are not protocol, requests that lie
 * about memory, descriptors that are not what they claim, races against
 * its own requests, floods, and deaths at random moments. Each attack is a
 * function in a table (hostile.c), run in a forked process of its own under
 * a timeout, so that one attack's crash or hang is reported and the others
 * still run.
 *
 * An attack checks gsvmd's answer wherever there is one (the documented
 * negative errno) and that its connection still works afterwards; after
 * each attack the runner checks that gsvmd still serves a fresh client end
 * to end (alloc, fill, prefetch, device checksum, CPU verify). With -s
 * (strict: nothing else uses this gsvmd), it also checks that gsvmd's
 * descriptor count and device memory are back where they were before the
 * attack, which pins a leak on the attack that caused it.
 *
 * Descriptors gsvmd must close are pipe read ends: once gsvmd answered, the
 * attack closes its own read end and writes to the pipe, which fails with
 * EPIPE only if no copy of the read end is open anywhere.
 */

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)

struct hostile {
	const char *sock;
	pid_t gsvmd_pid;
	unsigned int cycles; /* connect/disconnect cycles */
	unsigned int kills; /* clients killed at random moments */
	unsigned int seed;
	bool strict;
	bool hung; /* gsvmd failed a check after an attack: stop */
};

/* A raw client with a userfaultfd and a hello done. */
struct hconn {
	struct rawconn rc;
	int uffd;
};

struct attack {
	const char *name;
	int (*fn)(struct hostile *h);
	unsigned int timeout_s;
};

/* Print a detail line of the running attack. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define EXPECT(cond, ...)                                                               \
	do {                                                                            \
		if (!(cond)) {                                                          \
			printf("    FAILED at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__);                                            \
			printf("\n");                                                   \
			fflush(stdout);                                                 \
			return 1;                                                       \
		}                                                                       \
	} while (0)

/* An errno's name ("EINVAL") for a negative errno, or its number. */
const char *errname(int err);

/* Connect, make a userfaultfd (unless @uffd is false) and say hello. */
int hconn_open(struct hostile *h, struct hconn *c, bool uffd);
void hconn_close(struct hconn *c);
/* The connection still answers: a devices request succeeds. */
bool conn_works(struct rawconn *rc);

/* A pipe whose read end is sent to gsvmd; see the DOC above. */
struct fdprobe {
	int rd, wr;
};
int fdprobe_open(struct fdprobe *p);
/* Close our read end; true when no other copy is open (gsvmd closed its). */
bool fdprobe_closed(struct fdprobe *p);
void fdprobe_close(struct fdprobe *p);

uint64_t hrand(void);
void hsleep_us(unsigned long us);
uint64_t hnow_ns(void);

/* The attacks (attacks_*.c). */
int attack_garbage(struct hostile *h);
int attack_empty_datagram(struct hostile *h);
int attack_truncated(struct hostile *h);
int attack_wrong_types(struct hostile *h);
int attack_huge_lengths(struct hostile *h);
int attack_oversized(struct hostile *h);
int attack_before_hello(struct hostile *h);

int attack_hello_fds(struct hostile *h);
int attack_close_uffd(struct hostile *h);
int attack_uffd_no_api(struct hostile *h);
int attack_unregistered_memory(struct hostile *h);
int attack_memory_without_wp(struct hostile *h);
int attack_non_memfd(struct hostile *h);
int attack_unsealed_memfd(struct hostile *h);
int attack_truncation(struct hostile *h);
int attack_late_write_seal(struct hostile *h);
int attack_alloc_no_fd(struct hostile *h);
int attack_extra_fds(struct hostile *h);
int attack_ctrunc(struct hostile *h);

int attack_registrations(struct hostile *h);
int attack_unmapped_address(struct hostile *h);
int attack_past_end(struct hostile *h);
int attack_munmap_prefetch(struct hostile *h);
int attack_munmap_then_alloc(struct hostile *h);
int attack_free_prefetch(struct hostile *h);
int attack_free_prefetch_threads(struct hostile *h);

int attack_connect_cycles(struct hostile *h);
int attack_idle_connections(struct hostile *h);
int attack_inflight_flood(struct hostile *h);
int attack_never_reads(struct hostile *h);
int attack_slow_reader(struct hostile *h);
int attack_die_with_replies_queued(struct hostile *h);
int attack_events_unread(struct hostile *h);
int attack_random_kills(struct hostile *h);

#endif
