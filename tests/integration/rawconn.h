/* SPDX-License-Identifier: MIT */
#ifndef GSVM_TEST_RAWCONN_H
#define GSVM_TEST_RAWCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gsvm.pb-c.h"

/**
 * DOC: Raw protocol clients for tests
 *
 * libgsvm refuses to misbehave; the hostile program and the limit tests
 * must. A rawconn speaks the wire protocol directly (wire.c, protobuf-c) on
 * a blocking socket, sends whatever bytes and descriptors it is told to,
 * and waits for responses by id with a timeout, keeping responses that
 * arrive for other ids (requests may be pipelined and answered out of
 * order). Nothing here is thread-safe: one thread per rawconn.
 *
 * The rawmem_* helpers build what libgsvm builds for an allocation (a
 * userfaultfd with libgsvm's features, a sealed memfd mapped on a 2 MiB
 * boundary and registered with it) so that a raw client's memory is served
 * by gsvmd like a real client's, and each step can be done wrong on purpose.
 *
 * Functions return 0 or a negative errno; the request wrappers return the
 * response's err, or a transport error: -ETIMEDOUT when no response came,
 * -ENOTCONN when gsvmd closed the connection.
 */

#define RAWCONN_STASH 512
#define RAWCONN_TIMEOUT_MS 20000

struct rawconn {
	int sock;
	int timeout_ms; /* rawconn_call()'s wait; RAWCONN_TIMEOUT_MS by default */
	uint64_t next_id;
	unsigned int nstash;
	Gsvm__Response *stash[RAWCONN_STASH];
	uint8_t *buf;
};

/* A raw allocation: the memfd (kept open) mapped at @addr. */
struct rawalloc {
	void *addr;
	size_t size;
	int memfd;
};

int rawconn_open(const char *path, struct rawconn *rc);
void rawconn_close(struct rawconn *rc);
/* gsvmd's pid, from SO_PEERCRED. */
int rawconn_peer_pid(struct rawconn *rc);

/* Send raw bytes with any number of descriptors (one SCM_RIGHTS). */
int rawconn_send_bytes(struct rawconn *rc, const void *buf, size_t len, const int *fds, int nfds);
/* Pack and send @req (its id assigned when 0); returns the id or -errno. */
int64_t rawconn_send(struct rawconn *rc, Gsvm__Request *req, const int *fds, int nfds);
/* Receive the next response, whatever its id (stash first). */
int rawconn_recv(struct rawconn *rc, int timeout_ms, Gsvm__Response **out);
/* Receive the response with @id; others are stashed. */
int rawconn_wait(struct rawconn *rc, uint64_t id, int timeout_ms, Gsvm__Response **out);
/* Send @req with @fd (-1: none) and wait: the response or a transport error. */
int rawconn_call(struct rawconn *rc, Gsvm__Request *req, int fd, Gsvm__Response **out);
/* As rawconn_call(), returning the response's err. */
int rawconn_call_err(struct rawconn *rc, Gsvm__Request *req, int fd);

int rawconn_hello(struct rawconn *rc, int uffd, bool has_uffd);
int rawconn_devices(struct rawconn *rc, unsigned int *ndev);
int rawconn_alloc(struct rawconn *rc, uint64_t addr, uint64_t size, int memfd);
int rawconn_free(struct rawconn *rc, uint64_t addr);
int rawconn_prefetch(struct rawconn *rc, uint64_t addr, uint64_t len, int loc);
int rawconn_query(struct rawconn *rc, uint64_t addr, uint64_t len, uint32_t max, uint64_t *total);
int rawconn_devop(struct rawconn *rc, int dev, unsigned int op, uint64_t addr, uint64_t len,
		  uint64_t arg, uint64_t *result);
int rawconn_advise(struct rawconn *rc, uint64_t addr, uint64_t len, unsigned int advice, int dev);

/*
 * Send Devices requests (ids from @first_id) as fast as the socket takes
 * them, never reading a reply, until @max are sent, @deadline_ns (now_ns())
 * passes or gsvmd drops the connection. *@sent: how many went out.
 * Return: 1 when gsvmd dropped the connection, 0 otherwise, -errno on
 * another send error.
 */
int rawconn_flood_unread(struct rawconn *rc, unsigned int max, uint64_t deadline_ns,
			 uint64_t first_id, unsigned int *sent);

void rawconn_prefetch_req(Gsvm__Request *req, Gsvm__PrefetchReq *p, uint64_t addr, uint64_t len,
			  int loc);
void rawconn_query_req(Gsvm__Request *req, Gsvm__QueryReq *q, uint64_t addr, uint64_t len);

/* A userfaultfd negotiated as libgsvm negotiates it (@api false: not at all). */
int rawmem_uffd(bool api);
/* A memfd of @size with @seals added (0: none); -errno on failure. */
int rawmem_memfd(size_t size, unsigned int seals);
/* Map @fd shared at a 2 MiB boundary; NULL on failure. */
void *rawmem_map(int fd, size_t size);
/* Register [@addr, +@len) for missing (and write-protect, @wp) faults. */
int rawmem_register(int uffd, void *addr, size_t len, bool wp);
int rawmem_unregister(int uffd, void *addr, size_t len);

/*
 * A well-formed allocation, as libgsvm makes it: memfd sealed against
 * shrinking and growing (and F_SEAL_SEAL unless @seal_seal is false),
 * mapped, registered with @uffd, then sent. On failure nothing is left.
 */
int rawalloc_new(struct rawconn *rc, int uffd, size_t size, bool seal_seal, struct rawalloc *a);
/* Free it (FreeReq), unregister, unmap, close the memfd; returns the free's err. */
int rawalloc_free(struct rawconn *rc, int uffd, struct rawalloc *a);

#endif
