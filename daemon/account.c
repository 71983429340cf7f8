// SPDX-License-Identifier: MIT
/**
 * DOC: Accounts and limits
 *
 * gsvmd serves every user of the machine, so no client and no user may take
 * all of it. Each user with connected clients has an account in the core
 * that counts what their clients hold together (clients, allocations, device
 * memory); each client counts its own in its svm. The limits (&struct
 * limits, [limits] in the configuration) cap both; a request that would
 * exceed one is refused with -EUSERS (clients), -EDQUOT (allocations, device
 * memory) or the error its layer documents, and counted per kind in the
 * statistics.
 *
 * Device memory is charged when it is allocated for a client's range (data
 * or replica) and uncharged when the allocation returns to its pool
 * (pagemap's release callback), whoever drops the last reference. An
 * allocation is always released while its client is still on the core's
 * client list (eviction holds that list read-locked; a departing client
 * releases everything before it leaves), so the charged client outlives the
 * charge. Charges use compare-and-swap loops: two threads of one user can
 * never push the total past a limit together.
 */
#include <errno.h>

#include "account.h"
#include "core.h"
#include "mem.h"

static const char *const limit_names[LIMIT_NR] = {
	[LIMIT_MESSAGE] = "message",
	[LIMIT_CLIENTS] = "clients",
	[LIMIT_ALLOCATIONS] = "allocations",
	[LIMIT_DEVICE_BYTES] = "device_bytes",
	[LIMIT_INFLIGHT] = "inflight",
	[LIMIT_FDS] = "fds",
	[LIMIT_BACKLOG] = "backlog",
};

/**
 * limits_default() - The documented default limits
 * @l: Receives them: 64 KiB messages, 1024 clients (256 per user), 4096
 *     allocations per client (16384 per user), no device-memory limit
 *     beyond the devices' capacity, 64 requests in flight, 8192
 *     descriptors and a backlog of 1024 replies per client
 */
void limits_default(struct limits *l)
{
	l->max_message = LIMITS_MESSAGE_MAX;
	l->max_clients = 1024;
	l->max_clients_per_uid = 256;
	l->max_allocations = 4096;
	l->max_allocations_per_uid = 16384;
	l->max_device_bytes = 0;
	l->max_device_bytes_per_uid = 0;
	l->max_inflight = 64;
	l->max_fds = 8192;
	l->max_backlog = 1024;
}

/**
 * limit_name() - A limit's name in statistics
 * @kind: The limit
 *
 * Return: a static string ("?" for an unknown kind).
 */
const char *limit_name(enum limit_kind kind)
{
	return (unsigned int)kind < LIMIT_NR ? limit_names[kind] : "?";
}

/**
 * limit_hit() - Count a request refused by a limit
 * @core: The core
 * @kind: Which limit
 */
void limit_hit(struct core *core, enum limit_kind kind)
{
	if ((unsigned int)kind < LIMIT_NR)
		atomic_fetch_add(&core->stats.limit_hits[kind], 1);
}

/* Add @n to @v unless that passes @limit (0: none). */
static bool charge(atomic_uint_fast64_t *v, uint64_t n, uint64_t limit)
{
	uint64_t cur = atomic_load(v);

	do {
		if (limit && (cur + n < cur || cur + n > limit))
			return false;
	} while (!atomic_compare_exchange_weak(v, &cur, cur + n));
	return true;
}

/**
 * account_join() - A client of @uid connects
 * @core: The core
 * @uid: Its user
 * @out: Receives the user's account (created for their first client)
 *
 * Return: 0, -EUSERS when max_clients_per_uid is reached, -ENOMEM.
 */
int account_join(struct core *core, uid_t uid, struct account **out)
{
	struct account *a;
	int err = 0;

	pthread_mutex_lock(&core->accounts_lock);
	LIST_FOREACH(a, &core->accounts, link)
		if (a->uid == uid)
			break;
	if (!a) {
		a = mem_zalloc(sizeof(*a));
		if (!a) {
			err = -ENOMEM;
			goto out;
		}
		a->uid = uid;
		LIST_INSERT_HEAD(&core->accounts, a, link);
	}
	if (a->clients >= core->limits.max_clients_per_uid) {
		limit_hit(core, LIMIT_CLIENTS);
		err = -EUSERS;
		goto out;
	}
	a->clients++;
	*out = a;
out:
	pthread_mutex_unlock(&core->accounts_lock);
	return err;
}

/**
 * account_leave() - A client of the account's user is gone
 * @core: The core
 * @a: The account (freed with its last client)
 */
void account_leave(struct core *core, struct account *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&core->accounts_lock);
	if (!--a->clients) {
		LIST_REMOVE(a, link);
		mem_free(a);
	}
	pthread_mutex_unlock(&core->accounts_lock);
}

/**
 * account_charge_alloc() - Count one more allocation for a client
 * @core: The core
 * @svm: The client
 *
 * Return: 0, or -EDQUOT when the client or its user is at their limit.
 */
int account_charge_alloc(struct core *core, struct svm *svm)
{
	if (!charge(&svm->allocations, 1, core->limits.max_allocations))
		goto over;
	if (svm->account &&
	    !charge(&svm->account->allocations, 1, core->limits.max_allocations_per_uid)) {
		atomic_fetch_sub(&svm->allocations, 1);
		goto over;
	}
	return 0;
over:
	limit_hit(core, LIMIT_ALLOCATIONS);
	return -EDQUOT;
}

/**
 * account_uncharge_alloc() - One allocation of a client is gone
 * @svm: The client
 */
void account_uncharge_alloc(struct svm *svm)
{
	atomic_fetch_sub(&svm->allocations, 1);
	if (svm->account)
		atomic_fetch_sub(&svm->account->allocations, 1);
}

/**
 * account_charge_dev() - Charge a device allocation to a client
 * @core: The core
 * @svm: The client whose range it holds
 * @dm: The allocation (not yet charged)
 *
 * Return: 0, or -EDQUOT when the client or its user would pass their
 * device-memory limit.
 */
int account_charge_dev(struct core *core, struct svm *svm, struct devmem *dm)
{
	if (!charge(&svm->dev_bytes, dm->size, core->limits.max_device_bytes))
		goto over;
	if (svm->account &&
	    !charge(&svm->account->dev_bytes, dm->size, core->limits.max_device_bytes_per_uid)) {
		atomic_fetch_sub(&svm->dev_bytes, dm->size);
		goto over;
	}
	dm->charged = svm;
	return 0;
over:
	limit_hit(core, LIMIT_DEVICE_BYTES);
	return -EDQUOT;
}

/**
 * account_devmem_released() - A device allocation returned to its pool
 * @dm: The allocation; its charge, if any, is lifted
 */
void account_devmem_released(struct devmem *dm)
{
	struct svm *svm = dm->charged;

	if (!svm)
		return;
	atomic_fetch_sub(&svm->dev_bytes, dm->size);
	if (svm->account)
		atomic_fetch_sub(&svm->account->dev_bytes, dm->size);
	dm->charged = NULL;
}
