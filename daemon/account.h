/* SPDX-License-Identifier: MIT */
#ifndef GSVM_ACCOUNT_H
#define GSVM_ACCOUNT_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

struct core;
struct svm;
struct devmem;

/* The largest message gsvmd can receive at all (the wire's buffer). */
#define LIMITS_MESSAGE_MAX (64ULL * 1024)

/**
 * enum limit_kind - The limits gsvmd enforces, as counted in statistics
 */
enum limit_kind {
	LIMIT_MESSAGE,		/* a message larger than max_message */
	LIMIT_CLIENTS,		/* max_clients or max_clients_per_uid */
	LIMIT_ALLOCATIONS,	/* max_allocations or max_allocations_per_uid */
	LIMIT_DEVICE_BYTES,	/* max_device_bytes or max_device_bytes_per_uid */
	LIMIT_INFLIGHT,		/* max_inflight requests of one client */
	LIMIT_FDS,		/* max_fds of one client */
	LIMIT_BACKLOG,		/* max_backlog replies a client did not read */
	LIMIT_NR,
};

/**
 * struct limits - Resource limits; 0 means unlimited for the byte limits
 * @max_message: Largest request in bytes (at most WIRE_MAX_MSG)
 * @max_clients: Connections at once
 * @max_clients_per_uid: Connections of one user at once
 * @max_allocations: Allocations of one client
 * @max_allocations_per_uid: Allocations of all of one user's clients
 * @max_device_bytes: Device memory one client may hold (0: no limit)
 * @max_device_bytes_per_uid: Device memory one user may hold (0: no limit)
 * @max_inflight: Requests of one client being served at once
 * @max_fds: Descriptors gsvmd holds for one client (socket, userfaultfd and
 *           one memfd per allocation)
 * @max_backlog: Replies queued for a client that does not read; beyond it
 *               the client is disconnected
 */
struct limits {
	uint32_t max_message;
	uint32_t max_clients;
	uint32_t max_clients_per_uid;
	uint64_t max_allocations;
	uint64_t max_allocations_per_uid;
	uint64_t max_device_bytes;
	uint64_t max_device_bytes_per_uid;
	uint32_t max_inflight;
	uint32_t max_fds;
	uint32_t max_backlog;
};

/**
 * struct account - What one user's clients hold together
 * @link: Link in the core's account list
 * @uid: The user
 * @clients: Their connected clients (under the core's accounts lock)
 * @allocations: Their allocations
 * @dev_bytes: Device memory they hold
 */
struct account {
	LIST_ENTRY(account) link;
	uid_t uid;
	unsigned int clients;
	atomic_uint_fast64_t allocations;
	atomic_uint_fast64_t dev_bytes;
};

void limits_default(struct limits *l);
const char *limit_name(enum limit_kind kind);
void limit_hit(struct core *core, enum limit_kind kind);

int account_join(struct core *core, uid_t uid, struct account **out);
void account_leave(struct core *core, struct account *a);
int account_charge_alloc(struct core *core, struct svm *svm);
void account_uncharge_alloc(struct svm *svm);
int account_charge_dev(struct core *core, struct svm *svm, struct devmem *dm);
void account_devmem_released(struct devmem *dm);

#endif
