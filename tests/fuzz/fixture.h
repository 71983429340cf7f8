/* SPDX-License-Identifier: MIT */
#ifndef GSVM_FUZZ_FIXTURE_H
#define GSVM_FUZZ_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gsvm.pb-c.h"
#include "gsvmd.h"

/**
 * DOC: In-process daemon for the fuzz harnesses
 *
 * fuzz_dispatch and fuzz_conn drive a real gsvmd inside the fuzzer process:
 * a core of two small sim devices, a worker pool, event streaming and an
 * event loop, built as gsvmd_start() builds them. The "client" is the fuzzer
 * process itself: it has a userfaultfd (set up as libgsvm sets up its own)
 * and two allocations, sealed memfds mapped at a fixed address and
 * registered with it in missing and write-protect modes, so that requests
 * can name them: seeds are files, and the addresses in them must not move
 * with ASLR.
 *
 * Everything is gsvmd scaled down, so that an input that moves all the
 * data costs microseconds, not milliseconds: 512 KiB notifiers, chunks of
 * 64, 16 and 4 KiB, devices of 1 MiB and 256 KiB. Layout at FUZZ_BASE
 * (FUZZ_SPAN bytes reserved, PROT_NONE where nothing is mapped): allocation
 * 0 (768 KiB, across a notifier boundary), right after it allocation 1
 * (148 KiB: two 64 KiB chunks, then 16 and 4 KiB ones). Together they do
 * not fit on device 1. The rest of the span is mapped but not registered: a
 * client that lies about its addresses points there.
 *
 * The process never touches the allocations from the CPU, so the fault
 * threads have no fault to serve; data a request moves to a device comes
 * back by UFFDIO_COPY, which needs no access either.
 *
 * Every input starts from the same state (fixture_reset()): no session, the
 * allocations' memfds empty, every device bound and empty. After an input,
 * fixture_check() asserts that nothing leaked: no session, no device
 * memory, no descriptor.
 */

/* 1 GiB: application memory for ASan, UBSan, TSan and plain builds alike. */
#define FUZZ_BASE 0x40000000ULL
#define FUZZ_SPAN (2ULL << 20)
#define FUZZ_NOTIFIER (512ULL << 10)
#define FUZZ_A0_SIZE (768ULL << 10)
#define FUZZ_A1 (FUZZ_BASE + FUZZ_A0_SIZE)
#define FUZZ_A1_SIZE (148ULL << 10)
#define FUZZ_NALLOCS 2
#define FUZZ_NDEV 2
#define FUZZ_DEV0_SIZE (1ULL << 20)
#define FUZZ_DEV1_SIZE (256ULL << 10)

/**
 * struct fuzz_alloc - One allocation of the fuzzer-as-client
 * @memfd: The sealed memfd (the fixture's copy)
 * @addr: Where it is mapped and registered with the userfaultfd
 * @size: Its size
 */
struct fuzz_alloc {
	int memfd;
	uint64_t addr;
	uint64_t size;
};

/**
 * struct fuzz_fixture - The daemon and its one client
 * @d: The daemon
 * @uffd: The client's userfaultfd (the fixture's copy; hellos get a dup)
 * @alloc: The client's allocations
 * @devnull: /dev/null, for requests that carry a descriptor of no use
 * @nfds: Open descriptors before the first input (fixture_check())
 */
struct fuzz_fixture {
	struct gsvmd d;
	int uffd;
	struct fuzz_alloc alloc[FUZZ_NALLOCS];
	int devnull;
	unsigned int nfds;
};

/**
 * struct fuzz_conn - A connection of the fuzzer-as-client to the daemon
 * @s: The daemon's session
 * @peer: The client's end (non-blocking)
 */
struct fuzz_conn {
	struct session *s;
	int peer;
};

typedef void fixture_reply_fn(void *arg, const Gsvm__Response *resp);

void fixture_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
struct fuzz_fixture *fixture_get(void);
void fixture_reset(struct fuzz_fixture *f);
void fixture_check(struct fuzz_fixture *f);
int fixture_memfd(uint64_t size, bool seal);
int fixture_fd(struct fuzz_fixture *f, unsigned int kind, uint64_t size);
int fixture_connect(struct fuzz_fixture *f, struct fuzz_conn *c);
void fixture_disconnect(struct fuzz_fixture *f, struct fuzz_conn *c);
unsigned int fixture_dispatch(struct fuzz_fixture *f, struct fuzz_conn *c, Gsvm__Request *req,
			      int fd, int *err);
void fixture_submit(struct fuzz_fixture *f, struct fuzz_conn *c, const Gsvm__Request *req, int fd);
unsigned int fixture_request(struct fuzz_fixture *f, struct fuzz_conn *c, const Gsvm__Request *req,
			     int fd, int *err);
int fixture_setup_client(struct fuzz_fixture *f, struct fuzz_conn *c, bool allocs);
void fixture_replies(struct fuzz_fixture *f, int peer, fixture_reply_fn *fn, void *arg);
unsigned int fixture_drain(struct fuzz_fixture *f, int peer, uint64_t id, int *err);
unsigned int fixture_count_fds(void);

#endif
