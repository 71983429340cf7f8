// SPDX-License-Identifier: MIT
/**
 * DOC: Eviction
 *
 * A device that is full makes room by moving an allocation out: the policy
 * picks the victim (&policy_ops.evict_victim, in up to three passes, e.g.
 * replicas first, then the least recently used allocations whose timeslice
 * is over, then fresh ones) and where it goes (&policy_ops.evict_dest: a peer
 * device with room, or home). A replica is simply dropped.
 *
 * The victim may belong to any client. Clients cannot go away during an
 * eviction (the core's client list is read-locked), and ranges are reached
 * from their allocation only while the allocation still names them as
 * owner, which is checked under the pagemap lock: a range clears that before
 * it is freed. The evicting thread holds no client's driver lock when it
 * starts, takes only the victim's, and skips victims that are busy, so two
 * clients evicting each other's data cannot deadlock. Allocations stamped by
 * the operation that wants room are never picked: a prefetch larger than the
 * device does not evict its own beginning to place its end.
 */
#include <errno.h>

#include "evict.h"
#include "migrate.h"
#include "replica.h"

/* Attempts per pass before giving up on it (victims found busy move on). */
#define EVICT_TRIES 64

/* Move the victim @dm of range @r (client @svm) out of its device. */
static int evict_range(struct core *core, struct svm *svm, struct svm_range *r,
		       struct devmem *dm, bool to_host)
{
	struct migrate_op op;
	struct vamap_mapping *va;
	int dest, err;
	bool owned;

	pthread_mutex_lock(&svm->lock);
	pthread_mutex_lock(&dm->pm->lock);
	owned = dm->owner == r;
	pthread_mutex_unlock(&dm->pm->lock);
	if (!owned || r->busy) {
		err = -EBUSY;
		goto out;
	}
	if (dm->replica) {
		replica_drop_one(svm, r, dm);
		err = 0;
		goto out;
	}
	va = vamap_find(&svm->va, r->start);
	migrate_op_init(&op, core, MIGRATE_EVICTION);
	op.no_evict = true;
	dest = va && !to_host ? core->policy->evict_dest(core, r, &va->attrs, dm->pm) : LOC_HOST;
	err = -ENOSPC;
	if (dest >= 0)
		err = migrate_to_device(core, svm, r, core->dev[dest], &op);
	if (err)
		err = migrate_to_host(core, svm, r, &op);
out:
	pthread_mutex_unlock(&svm->lock);
	return err;
}

/**
 * evict_one() - Move one allocation out of a full device
 * @core: The core
 * @pm: The device
 * @stamp: The operation that needs room; its own allocations are skipped
 * @to_host: Evict to host, whatever the policy would choose
 *
 * The caller holds no client's driver lock.
 *
 * Return: 0 when an allocation left @pm; -ENOSPC when nothing could be
 * evicted.
 */
int evict_one(struct core *core, struct pagemap *pm, uint64_t stamp, bool to_host)
{
	struct event ev = { .type = EVENT_EVICTION, .src = pm->id };
	struct svm_range *r;
	unsigned int pass, tries;
	struct devmem *dm;
	struct svm *svm;
	int err;

	pthread_rwlock_rdlock(&core->clients_lock);
	for (pass = 0; pass < 3; pass++) {
		for (tries = 0; tries < EVICT_TRIES; tries++) {
			pthread_mutex_lock(&pm->lock);
			dm = core->policy->evict_victim(core, pm, pass, stamp);
			if (!dm) {
				pthread_mutex_unlock(&pm->lock);
				break;
			}
			/*
			 * @r lives while it owns @dm, which only the pagemap lock
			 * guarantees: read it now (found by fuzz_dispatch).
			 */
			r = dm->owner;
			svm = r->notifier->svm;
			ev.svm = svm;
			ev.addr = r->start;
			ev.bytes = dm->size;
			dm->refcount++;
			/* Whatever happens, try another victim next time. */
			TAILQ_REMOVE(&pm->lru, dm, lru_link);
			TAILQ_INSERT_TAIL(&pm->lru, dm, lru_link);
			pthread_mutex_unlock(&pm->lock);
			err = evict_range(core, svm, r, dm, to_host);
			devmem_put(dm);
			if (!err) {
				atomic_fetch_add(&core->stats.evictions, 1);
				core_emit(core, &ev);
				pthread_rwlock_unlock(&core->clients_lock);
				return 0;
			}
		}
	}
	pthread_rwlock_unlock(&core->clients_lock);
	return -ENOSPC;
}

/**
 * evict_device() - Move data off a device to host now (gsvmctl evict)
 * @core: The core
 * @pm: The device
 * @bytes: At least this many bytes, or everything when 0
 * @evicted: Receives the bytes that left the device
 *
 * Return: 0; -ENOSPC when less than @bytes could be evicted (@evicted says
 * how much was).
 */
int evict_device(struct core *core, struct pagemap *pm, uint64_t bytes, uint64_t *evicted)
{
	uint64_t before, used;

	pagemap_usage(pm, NULL, &before, NULL);
	used = before;
	while (used && (!bytes || before - used < bytes)) {
		if (evict_one(core, pm, 0, true))
			break;
		pagemap_usage(pm, NULL, &used, NULL);
	}
	*evicted = before > used ? before - used : 0;
	return bytes ? (*evicted >= bytes ? 0 : -ENOSPC) : (used ? -ENOSPC : 0);
}
