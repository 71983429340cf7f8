// SPDX-License-Identifier: MIT
/**
 * DOC: Read-only replicas
 *
 * A read-mostly range may have read-only copies on devices other than the
 * one holding its data (or while its data is on host), so that each device
 * reads it from its own memory. A replica is a device allocation like any
 * other, flagged as a replica and linked on the range's replica list; the
 * range's replica_mask says which devices have one.
 *
 * A replica is valid only while nobody writes the range:
 *
 * - Host pages are write-protected while replicas exist (replica_wp), so a
 *   CPU write faults, and the fault drops every replica before letting the
 *   writer go (migrate_wp_fault()).
 * - Device-resident pages are missing from the client, so a CPU access
 *   faults anyway; bringing the data home drops the replicas first.
 * - A device write (FILL, ADD) drops them first (devop.c).
 * - An address-space event marks them stale (SVM_RANGE_STALE, set by the
 *   range tracker under the notifier lock); stale replicas are dropped and
 *   made again on the next read.
 *
 * Replicas are made and dropped while the range is busy, or with the driver
 * lock held and the range idle; the mask is updated under the notifier lock
 * for readers such as svm_locate().
 */
#include <errno.h>

#include "replica.h"

/**
 * replica_find() - The replica of @r on @pm
 * @r: The range
 * @pm: A device
 *
 * Return: the replica, or NULL.
 */
struct devmem *replica_find(struct svm_range *r, struct pagemap *pm)
{
	struct devmem *dm;

	if (!(r->replica_mask & (1ULL << pm->id)))
		return NULL;
	for (dm = r->replicas; dm; dm = dm->next_replica)
		if (dm->pm == pm)
			return dm;
	return NULL;
}

/*
 * Copy every page of @r, wherever it is, into @dm. (A replica is a copy, not
 * a migration: the migration counters do not see it.)
 */
static int replica_copy(struct svm *svm, struct svm_range *r, struct devmem *dm)
{
	uint64_t npages = svm_range_npages(r), page, off;
	struct pagemap *pm = dm->pm;
	void *src;
	int err = 0;

	for (page = 0; page < npages && !err; page++) {
		off = page << SVM_PAGE_SHIFT;
		src = r->dm && svm_range_page_on_dev(r, page) ?
			      devmem_map(r->dm, off, SVM_PAGE_SIZE) :
			      svm_range_host(svm, r, r->start + off);
		if (!src)
			return -EOPNOTSUPP;
		err = pm->ops->copy_to_dev(pm->pool, dm->dev_off + off, src, SVM_PAGE_SIZE);
	}
	return err;
}

/**
 * replica_make() - Make a read-only replica of @r on @pm
 * @core: The core
 * @svm: The client; the driver lock is held (dropped while copying); @r is
 *       busy, owned by the caller
 * @r: The range
 * @pm: The device that reads it
 * @op: The operation (for allocation and eviction)
 * @out: Receives the replica
 *
 * Host pages are write-protected first and stay protected while replicas
 * exist.
 *
 * Return: 0; -EAGAIN when an invalidation came in between (retry); an
 * allocation, copy or shim error.
 */
int replica_make(struct core *core, struct svm *svm, struct svm_range *r, struct pagemap *pm,
		 struct migrate_op *op, struct devmem **out)
{
	uint64_t seq = svm_range_seq(svm, r), size = r->end - r->start;
	bool wp = false;
	struct devmem *dm;
	int err;

	pthread_mutex_unlock(&svm->lock);
	err = migrate_alloc_devmem(core, pm, r, op, &dm);
	if (err)
		goto out;
	if (r->ndev < svm_range_npages(r) && !r->replica_wp) {
		err = svm->mm_ops->protect(svm->mm, r->start, size);
		if (err)
			goto err;
		wp = true;
	}
	err = replica_copy(svm, r, dm);
	if (err)
		goto err;
	svm_notifier_lock(svm);
	if (!svm_range_pages_valid(r, seq)) {
		svm_notifier_unlock(svm);
		err = -EAGAIN;
		goto err;
	}
	/* Eviction reads it under the pagemap lock only (pagemap.h). */
	__atomic_store_n(&dm->replica, true, __ATOMIC_RELAXED);
	dm->next_replica = r->replicas;
	r->replicas = dm;
	r->replica_mask |= 1ULL << pm->id;
	if (wp)
		r->replica_wp = true;
	svm_notifier_unlock(svm);
	*out = dm;
	goto out;
err:
	if (wp)
		svm->mm_ops->unprotect(svm->mm, r->start, size);
	pagemap_devmem_set_owner(dm, NULL);
	devmem_put(dm);
out:
	pthread_mutex_lock(&svm->lock);
	return err;
}

/**
 * replica_drop_one() - Drop one replica (eviction)
 * @svm: The client; the range is owned or the driver lock is held
 * @r: The range
 * @dm: One of its replicas
 */
void replica_drop_one(struct svm *svm, struct svm_range *r, struct devmem *dm)
{
	struct devmem **p;

	svm_notifier_lock(svm);
	for (p = &r->replicas; *p; p = &(*p)->next_replica) {
		if (*p == dm) {
			*p = dm->next_replica;
			r->replica_mask &= ~(1ULL << dm->pm->id);
			break;
		}
	}
	if (!r->replicas)
		r->flags &= ~SVM_RANGE_STALE;
	svm_notifier_unlock(svm);
	dm->next_replica = NULL;
	pagemap_devmem_set_owner(dm, NULL);
	devmem_put(dm);
	if (!r->replicas && r->replica_wp &&
	    !svm->mm_ops->unprotect(svm->mm, r->start, r->end - r->start))
		r->replica_wp = false;
}

/**
 * replica_drop_all() - Drop every replica of @r and lift their protection
 * @svm: The client; the range is owned or the driver lock is held
 * @r: The range
 *
 * Return: 0, or the shim's error lifting the write-protection (the replicas
 * are gone either way; the protection is lifted page by page as writers
 * fault).
 */
int replica_drop_all(struct svm *svm, struct svm_range *r)
{
	struct devmem *dm;
	int err = 0;

	while ((dm = r->replicas)) {
		svm_notifier_lock(svm);
		r->replicas = dm->next_replica;
		r->replica_mask &= ~(1ULL << dm->pm->id);
		svm_notifier_unlock(svm);
		dm->next_replica = NULL;
		pagemap_devmem_set_owner(dm, NULL);
		devmem_put(dm);
	}
	svm_notifier_lock(svm);
	r->flags &= ~SVM_RANGE_STALE;
	svm_notifier_unlock(svm);
	if (r->replica_wp) {
		err = svm->mm_ops->unprotect(svm->mm, r->start, r->end - r->start);
		if (!err)
			r->replica_wp = false;
	}
	return err;
}
