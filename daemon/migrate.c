// SPDX-License-Identifier: MIT
/**
 * DOC: Migration
 *
 * Moves a range's data between host and devices, and between devices,
 * through the fault shim (&struct svm_mm_ops) and the device providers.
 *
 * To a device (migrate_to_device()): best effort and incremental: pages
 * already on the destination stay, pages on another device are copied device
 * to device (no host bounce), host pages are copied from gsvmd's view of the
 * backing object. While host pages are copied the range is write-protected,
 * so a racing writer waits instead of writing into a page that is being
 * copied; after the copy is committed the host pages are released (the
 * memfd hole is punched) and the protection lifted. From then on the
 * client's access to those pages faults, and the fault brings them back.
 *
 * To host (migrate_to_host()): always the whole device allocation, page runs
 * installed atomically into the client (UFFDIO_COPY in the userfaultfd shim);
 * gsvmd never writes a page it released through its own view of the object,
 * since a half-written page would be visible to the client.
 *
 * Both take the range's ownership (svm_range_begin()) and drop the driver
 * lock while copying. They read the notifier sequence number first and commit
 * only if svm_range_pages_valid() still holds, else back out with -EAGAIN so
 * the caller retries against the new state. They are entered and left with
 * the driver lock held.
 *
 * CPU faults (migrate_cpu_fault()) never wait: a busy range returns -EBUSY
 * (the shim parks the fault and retries when the range goes idle), data
 * inside its timeslice returns -ETIME with the time to retry at, and -EAGAIN
 * from the shim (an address-space event not yet read) goes back to the caller
 * that reads events. Faults on host pages fill zeros into the largest window
 * that cannot hide device data (svm_host_window()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evict.h"
#include "mem.h"
#include "migrate.h"
#include "replica.h"

#define MIGRATE_RETRY_LIMIT 100000

static void bits_set(uint64_t *bm, uint64_t first, uint64_t n, bool on)
{
	uint64_t i;

	for (i = first; i < first + n; i++) {
		if (on)
			bm[i / 64] |= 1ULL << (i % 64);
		else
			bm[i / 64] &= ~(1ULL << (i % 64));
	}
}

/* One past the last page of the run starting at @page with @page's state. */
static uint64_t run_end(const struct svm_range *r, uint64_t page)
{
	uint64_t npages = svm_range_npages(r);
	bool on = svm_range_page_on_dev(r, page);

	while (++page < npages && svm_range_page_on_dev(r, page) == on)
		;
	return page;
}

static void retry_pause(unsigned int tries)
{
	struct timespec ts = { 0, tries < 10 ? 10000 : 200000 };

	nanosleep(&ts, NULL);
}

static int copy_peer(struct devmem *dst, uint64_t off, struct devmem *src, uint64_t len)
{
	struct pagemap *dpm = dst->pm, *spm = src->pm;
	void *s;

	if (dpm->ops == spm->ops && dpm->ops->copy_peer)
		return dpm->ops->copy_peer(dpm->pool, dst->dev_off + off, spm->pool,
					   src->dev_off + off, len);
	s = devmem_map(src, off, len);
	if (!s)
		return -EOPNOTSUPP;
	return dpm->ops->copy_to_dev(dpm->pool, dst->dev_off + off, s, len);
}

/* Copy host pages [off, off + len) of @r into @dm, from the file if possible. */
static int copy_host_in(struct svm *svm, struct svm_range *r, struct devmem *dm, uint64_t off,
			uint64_t len)
{
	struct pagemap *pm = dm->pm;
	int fd = svm->mm_ops->host_fd ? svm->mm_ops->host_fd(svm->mm, r->bo) : -1;

	if (fd >= 0 && pm->ops->copy_fd_to_dev)
		return pm->ops->copy_fd_to_dev(pm->pool, dm->dev_off + off, fd,
					       r->obj_offset + off, len);
	return pm->ops->copy_to_dev(pm->pool, dm->dev_off + off,
				    svm_range_host(svm, r, r->start + off), len);
}

/* Copy every page of @r that is not in @dm into @dm. No locks held. */
static int copy_in(struct svm *svm, struct svm_range *r, struct devmem *dm, struct devmem *old,
		   uint64_t *host_bytes, uint64_t *peer_bytes)
{
	uint64_t npages = svm_range_npages(r), page, end, off, len;
	int err = 0;

	for (page = 0; page < npages && !err; page = end) {
		end = run_end(r, page);
		off = page << SVM_PAGE_SHIFT;
		len = (end - page) << SVM_PAGE_SHIFT;
		if (!svm_range_page_on_dev(r, page)) {
			err = copy_host_in(svm, r, dm, off, len);
			*host_bytes += len;
		} else if (old && old != dm) {
			err = copy_peer(dm, off, old, len);
			*peer_bytes += len;
		}
	}
	return err;
}

/**
 * migrate_op_init() - Start an operation that moves data
 * @op: The operation
 * @core: The core (for a fresh stamp)
 * @cause: Why it moves data
 */
void migrate_op_init(struct migrate_op *op, struct core *core, enum migrate_cause cause)
{
	memset(op, 0, sizeof(*op));
	op->cause = cause;
	op->stamp = core_stamp(core);
}

/**
 * migrate_alloc_devmem() - Device memory for @r, evicting if the device is full
 * @core: The core
 * @pm: The device
 * @r: The range the memory is for (its size, its owner)
 * @op: The operation; unless it says no_evict, other allocations are evicted
 *      until this one fits (never the operation's own)
 * @out: Receives the allocation, stamped with @op's stamp
 *
 * The caller holds no driver lock.
 *
 * The memory is charged to the range's client (account.c).
 *
 * Return: 0, -ENOSPC when nothing more can be evicted, -EDQUOT when the
 * client or its user is at their device-memory limit, -ENODEV, -ENOMEM.
 */
int migrate_alloc_devmem(struct core *core, struct pagemap *pm, struct svm_range *r,
			 struct migrate_op *op, struct devmem **out)
{
	uint64_t size = r->end - r->start;
	unsigned int evicted = 0;
	int err;

	for (;;) {
		err = pagemap_devmem_alloc(pm, size, r, out);
		if (err != -ENOSPC || op->no_evict || evicted++ > 4096)
			break;
		if (evict_one(core, pm, op->stamp, false))
			break;
	}
	if (err)
		return err;
	/* Eviction reads it under the pagemap lock only (pagemap.h). */
	__atomic_store_n(&(*out)->stamp, op->stamp, __ATOMIC_RELAXED);
	err = account_charge_dev(core, r->notifier->svm, *out);
	if (err) {
		pagemap_devmem_set_owner(*out, NULL);
		devmem_put(*out);
		*out = NULL;
	}
	return err;
}

static void emit_migration(struct core *core, struct svm *svm, struct svm_range *r, int src,
			   int dst, uint64_t bytes, enum migrate_cause cause)
{
	struct event ev = {
		.type = EVENT_MIGRATION,
		.svm = svm,
		.addr = r->start,
		.bytes = bytes,
		.src = src,
		.dst = dst,
		.cause = cause,
	};

	if (bytes && core_events_wanted(core))
		core_emit(core, &ev);
}

static void count_to_device(struct core *core, uint64_t host_bytes, uint64_t peer_bytes)
{
	if (host_bytes) {
		atomic_fetch_add(&core->stats.to_device, 1);
		atomic_fetch_add(&core->stats.bytes_to_device, host_bytes);
	}
	if (peer_bytes) {
		atomic_fetch_add(&core->stats.device_to_device, 1);
		atomic_fetch_add(&core->stats.bytes_device_to_device, peer_bytes);
	}
}

/**
 * migrate_owned_to_device() - Place a range the caller owns on a device
 * @core: The core
 * @svm: The client; the driver lock is held (and dropped while copying)
 * @r: The range; busy, owned by the caller (svm_range_begin()); not unmapped
 * @pm: Destination device
 * @op: The operation; @op->res accumulates what happened (bytes of whole
 *      ranges)
 *
 * Return: 0 when the range is on @pm; -EAGAIN when the caller must retry
 * (it was invalidated, or the address space was changing); -ENODEV if @pm is
 * unbound; -ENOSPC if @pm has no room even after eviction; -ENOENT if the
 * range was unmapped meanwhile; a copy or shim error (the data then stays
 * where it was).
 */
int migrate_owned_to_device(struct core *core, struct svm *svm, struct svm_range *r,
			    struct pagemap *pm, struct migrate_op *op)
{
	uint64_t size = r->end - r->start, npages = svm_range_npages(r), seq;
	uint64_t host_bytes = 0, peer_bytes = 0;
	struct migrate_result *res = &op->res;
	struct devmem *old, *dm = NULL;
	bool wp = false;
	int err, src_dev;

	old = r->dm;
	if (old && old->pm == pm && r->ndev == npages) {
		pagemap_devmem_touch(old);
		res->in_place += size;
		return 0;
	}
	src_dev = old ? old->pm->id : LOC_HOST;
	/* The data itself is going there: a replica on @pm is pointless. */
	if (replica_find(r, pm))
		replica_drop_one(svm, r, replica_find(r, pm));
	seq = svm_range_seq(svm, r);
	pthread_mutex_unlock(&svm->lock);

	if (old && old->pm == pm) {
		dm = old;
	} else {
		err = migrate_alloc_devmem(core, pm, r, op, &dm);
		if (err)
			goto out;
	}
	if (r->ndev < npages) {
		err = svm->mm_ops->protect(svm->mm, r->start, size);
		if (err)
			goto out;
		wp = true;
	}
	err = copy_in(svm, r, dm, old, &host_bytes, &peer_bytes);
	if (err)
		goto out;

	svm_notifier_lock(svm);
	if (!svm_range_pages_valid(r, seq)) {
		svm_notifier_unlock(svm);
		err = (r->flags & SVM_RANGE_UNMAPPED) ? -ENOENT : -EAGAIN;
		goto out;
	}
	r->dm = dm;
	bits_set(r->on_dev, 0, npages, true);
	r->ndev = (uint32_t)npages;
	r->notifier_seq = seq;
	/*
	 * A reload (SIGHUP) may change timeslice_ns at any time: gsvmd.c stores
	 * it atomically. Eviction reads the devmem fields under the pagemap
	 * lock only (pagemap.h).
	 */
	__atomic_store_n(&dm->timeslice_end,
			 core_now(core) + __atomic_load_n(&core->timeslice_ns, __ATOMIC_RELAXED),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&dm->stamp, op->stamp, __ATOMIC_RELAXED);
	svm_notifier_unlock(svm);

	if (old && old != dm) {
		pagemap_devmem_set_owner(old, NULL);
		devmem_put(old);
	}
	/* Punching pages that are already holes is free: release it all. */
	if (host_bytes)
		svm->mm_ops->release(svm->mm, r->bo, r->obj_offset, size);
	/* No host pages left to protect for replicas: a CPU access faults. */
	r->replica_wp = false;
	count_to_device(core, host_bytes, peer_bytes);
	emit_migration(core, svm, r, peer_bytes ? src_dev : LOC_HOST, pm->id,
		       host_bytes + peer_bytes, op->cause);
	res->migrated += size;
	dm = old = NULL;
out:
	/* On failure, replicas still need their host pages protected. */
	if (wp && (!err || !r->replica_wp))
		svm->mm_ops->unprotect(svm->mm, r->start, size);
	if (dm && dm != old) {
		pagemap_devmem_set_owner(dm, NULL);
		devmem_put(dm);
	}
	if (err && err != -EAGAIN) {
		res->failed += size;
		if (!res->error)
			res->error = err;
	}
	pthread_mutex_lock(&svm->lock);
	return err;
}

/**
 * migrate_to_device() - Place a range's data on a device
 * @core: The core
 * @svm: The client; the driver lock is held (and dropped while copying)
 * @r: The range; not unmapped
 * @pm: Destination device
 * @op: The operation; @op->res accumulates what happened
 *
 * Return: as migrate_owned_to_device(); -EAGAIN also when the range was busy
 * (look it up again: it may have gone meanwhile).
 */
int migrate_to_device(struct core *core, struct svm *svm, struct svm_range *r,
		      struct pagemap *pm, struct migrate_op *op)
{
	int err = svm_range_begin(svm, r, true);

	if (err)
		return err;
	err = migrate_owned_to_device(core, svm, r, pm, op);
	svm_range_end(svm, r);
	return err;
}

/*
 * Install the device pages [page, end) of @r into the client at @addr. Uses
 * the device's CPU view when it has one, a bounce buffer otherwise. The
 * allocation stays until the caller lets go of it.
 */
static int install_run(struct svm *svm, struct svm_range *r, uint64_t page, uint64_t end,
		       uint64_t addr)
{
	uint64_t off = page << SVM_PAGE_SHIFT, len = (end - page) << SVM_PAGE_SHIFT;
	struct devmem *dm = r->dm;
	void *src = devmem_map(dm, off, len), *bounce = NULL;
	int err;

	if (!src) {
		bounce = mem_alloc(len);
		if (!bounce)
			return -ENOMEM;
		err = dm->pm->ops->copy_to_host(dm->pm->pool, bounce, dm->dev_off + off, len);
		if (err)
			goto out;
		src = bounce;
	}
	err = svm->mm_ops->install(svm->mm, addr, src, len);
out:
	mem_free(bounce);
	return err;
}

/* Mark device pages [page, end) of @r home (@home) or back on the device. */
static void mark_run(struct svm *svm, struct svm_range *r, uint64_t page, uint64_t end, bool home)
{
	svm_notifier_lock(svm);
	bits_set(r->on_dev, page, end - page, !home);
	if (home)
		r->ndev -= (uint32_t)(end - page);
	else
		r->ndev += (uint32_t)(end - page);
	svm_notifier_unlock(svm);
}

/* Let go of @r's device allocation once no page of it is there any more. */
static void release_if_empty(struct svm *svm, struct svm_range *r)
{
	struct devmem *dm = NULL;

	svm_notifier_lock(svm);
	if (!r->ndev) {
		dm = r->dm;
		r->dm = NULL;
	}
	svm_notifier_unlock(svm);
	if (dm) {
		pagemap_devmem_set_owner(dm, NULL);
		devmem_put(dm);
	}
}

/* Forget device pages [page, end) of @r; drop the allocation with the last. */
static void drop_run(struct svm *svm, struct svm_range *r, uint64_t page, uint64_t end)
{
	mark_run(svm, r, page, end, true);
	release_if_empty(svm, r);
}

/*
 * Bring device pages [page, end) of @r home to @addr. The placement is
 * committed first and the install wakes the threads that faulted on these
 * pages, so a woken thread (or a query it makes) never finds them "on the
 * device"; a failed install puts the placement back.
 */
static int home_run(struct svm *svm, struct svm_range *r, uint64_t page, uint64_t end,
		    uint64_t addr)
{
	int err;

	mark_run(svm, r, page, end, true);
	err = install_run(svm, r, page, end, addr);
	if (err)
		mark_run(svm, r, page, end, false);
	return err;
}

/* Whether page @page of @r is still registered to the same backing. */
static bool page_still_ours(struct svm *svm, struct svm_range *r, uint64_t page)
{
	uint64_t addr = r->start + (page << SVM_PAGE_SHIFT);
	struct vamap_mapping *va = vamap_find(&svm->va, addr);

	return va && va->obj == r->bo->id &&
	       va->offset + (addr - va->start) == r->obj_offset + (addr - r->start);
}

/*
 * Move every device page of @r to host. With @registered_only, pages whose
 * address no longer belongs to the range's allocation are dropped instead.
 */
static int evict_pages(struct core *core, struct svm *svm, struct svm_range *r,
		       bool registered_only, uint64_t *moved)
{
	uint64_t npages = svm_range_npages(r), page, end, bytes = 0;
	int err = 0;

	for (page = 0; page < npages && r->ndev; page = end) {
		end = page + 1;
		if (!svm_range_page_on_dev(r, page))
			continue;
		if (registered_only && !page_still_ours(svm, r, page)) {
			drop_run(svm, r, page, end);
			continue;
		}
		while (end < npages && svm_range_page_on_dev(r, end) &&
		       (!registered_only || page_still_ours(svm, r, end)))
			end++;
		err = home_run(svm, r, page, end, r->start + (page << SVM_PAGE_SHIFT));
		if (err)
			break;
		bytes += (end - page) << SVM_PAGE_SHIFT;
	}
	release_if_empty(svm, r);
	if (bytes) {
		atomic_fetch_add(&core->stats.to_host, 1);
		atomic_fetch_add(&core->stats.bytes_to_host, bytes);
	}
	if (moved)
		*moved = bytes;
	return err;
}

/**
 * migrate_to_host() - Bring a range's device pages back to host
 * @core: The core
 * @svm: The client; the driver lock is held (and dropped while copying)
 * @r: The range
 * @op: The operation; @op->res accumulates what happened
 *
 * Moves the whole device allocation and drops the range's replicas. Pages installed stay installed even if
 * a later run fails; the rest stay on the device.
 *
 * Return: 0; -EAGAIN when the range was busy (look it up again) or the shim
 * asks to retry; -ENOENT if the client's mapping went away (the data stays on
 * the device until the range is collected); another shim or copy error.
 */
int migrate_to_host(struct core *core, struct svm *svm, struct svm_range *r,
		    struct migrate_op *op)
{
	struct migrate_result *res = &op->res;
	uint64_t size = r->end - r->start, moved = 0;
	int err, src;

	err = svm_range_begin(svm, r, true);
	if (err)
		return err;
	if (!r->dm) {
		res->in_place += size;
		svm_range_end(svm, r);
		return 0;
	}
	src = r->dm->pm->id;
	pthread_mutex_unlock(&svm->lock);
	/* Installed pages are writable: replicas would go stale. */
	replica_drop_all(svm, r);
	err = evict_pages(core, svm, r, false, &moved);
	emit_migration(core, svm, r, src, LOC_HOST, moved, op->cause);
	pthread_mutex_lock(&svm->lock);
	if (err && err != -EAGAIN) {
		res->failed += size;
		if (!res->error)
			res->error = err;
	} else {
		res->migrated += size;
	}
	svm_range_end(svm, r);
	return err;
}

/**
 * migrate_cpu_fault() - Serve a CPU fault on a missing page, without waiting
 * @core: The core
 * @svm: The client; the driver lock is not held
 * @addr: Faulting address
 * @retry_at: Receives the clock time to retry at, with -ETIME
 *
 * A page on a device brings its whole range back to host (once its
 * timeslice is over); a page on host is missing because it was never written
 * or the client punched it, so it reads as zeros.
 *
 * Return: 0 when the fault is resolved; -EBUSY when the range is busy (retry
 * when it goes idle); -ETIME when the data is inside its timeslice; -EAGAIN
 * when the shim could not act yet or a collection just ran (retry now);
 * -EFAULT when @addr is not registered (yet); another shim error.
 */
int migrate_cpu_fault(struct core *core, struct svm *svm, uint64_t addr, uint64_t *retry_at)
{
	struct vamap_mapping *va;
	struct migrate_op op;
	struct svm_range *r;
	uint64_t s, e, now;
	int err, from;

	pthread_mutex_lock(&svm->lock);
	atomic_fetch_add(&core->stats.cpu_faults, 1);
	if (core_events_wanted(core)) {
		struct event ev = { .type = EVENT_CPU_FAULT, .svm = svm, .addr = addr };

		core_emit(core, &ev);
	}
	r = svm_range_find(svm, addr);
	if (r && (svm_range_flags(svm, r) & SVM_RANGE_UNMAPPED)) {
		/* Partly unmapped: the collector brings the mapped part home. */
		err = migrate_collect(core, svm);
		if (!err)
			err = -EAGAIN;
		goto out;
	}
	if (r && r->busy) {
		err = -EBUSY;
		goto out;
	}
	if (r && r->dm && svm_range_page_on_dev(r, (addr - r->start) >> SVM_PAGE_SHIFT)) {
		now = core_now(core);
		err = core->policy->cpu_fault(core, r, now, retry_at);
		if (err)
			goto out;
		from = r->dm->pm->id;
		migrate_op_init(&op, core, MIGRATE_CPU_FAULT);
		err = migrate_to_host(core, svm, r, &op);
		if (!err)
			core->policy->migrated(core, r, from, LOC_HOST, now);
		goto out;
	}
	err = svm_host_window(svm, addr, &s, &e);
	if (err)
		goto out;
	va = vamap_find(&svm->va, s);
	err = svm->mm_ops->fill_zero(svm->mm, s, svm_bo_find(svm, va->obj),
				     va->offset + (s - va->start), e - s);
out:
	pthread_mutex_unlock(&svm->lock);
	return err;
}

/**
 * migrate_collect() - Run the garbage collector
 * @core: The core
 * @svm: The client; the driver lock is held
 *
 * Destroys every queued idle range. A partly unmapped range first moves its
 * device pages that are still registered back to host; the rest of its
 * device memory is freed.
 *
 * Return: 0, or -EAGAIN when the shim asked to retry (the range is queued
 * again).
 */
int migrate_collect(struct core *core, struct svm *svm)
{
	struct svm_range *r;
	int err;

	while ((r = svm_gc_next(svm))) {
		replica_drop_all(svm, r);
		if (r->dm && (svm_range_flags(svm, r) & SVM_RANGE_PARTIAL)) {
			err = evict_pages(core, svm, r, true, NULL);
			if (err == -EAGAIN) {
				svm_gc_requeue(svm, r);
				return err;
			}
		}
		if (r->dm) {
			pagemap_devmem_set_owner(r->dm, NULL);
			devmem_put(r->dm);
			r->dm = NULL;
			r->ndev = 0;
		}
		svm_range_remove(svm, r);
	}
	return 0;
}

/* Find or create the range at @addr, collecting stale ranges in the way. */
static int range_at(struct core *core, struct svm *svm, uint64_t addr, struct svm_range **r)
{
	int err = svm_range_find_or_insert(svm, addr, r);

	if (err == -EAGAIN) {
		migrate_collect(core, svm);
		err = svm_range_find_or_insert(svm, addr, r);
	}
	return err;
}

static int populate_host(struct core *core, struct svm *svm, uint64_t start, uint64_t end,
			 struct migrate_op *op)
{
	unsigned int tries = 0;
	struct svm_range *r;
	uint64_t pos = start;
	int err = 0;

	while (pos < end && (r = svm_range_first(svm, pos, end))) {
		err = migrate_to_host(core, svm, r, op);
		if (err == -EAGAIN && ++tries < MIGRATE_RETRY_LIMIT) {
			pthread_mutex_unlock(&svm->lock);
			retry_pause(tries);
			pthread_mutex_lock(&svm->lock);
			continue;
		}
		if (err)
			break;
		pos = r->end;
	}
	return err;
}

static int populate_device(struct core *core, struct svm *svm, uint64_t start, uint64_t end,
			   struct pagemap *pm, struct migrate_op *op)
{
	unsigned int tries = 0;
	struct svm_range *r;
	uint64_t pos = start;
	int err = 0, first = 0;

	while (pos < end) {
		err = range_at(core, svm, pos, &r);
		if (!err)
			err = migrate_to_device(core, svm, r, pm, op);
		if (err == -EAGAIN && ++tries < MIGRATE_RETRY_LIMIT) {
			pthread_mutex_unlock(&svm->lock);
			retry_pause(tries);
			pthread_mutex_lock(&svm->lock);
			continue;
		}
		tries = 0;
		if (err == -ENODEV || err == -ENOMEM || err == -EFAULT || err == -EDQUOT)
			return err;
		if (err && !first)
			first = err;
		/* The range may have gone with the error; step from @pos. */
		r = svm_range_find(svm, pos);
		pos = r ? r->end : (pos | (SVM_PAGE_SIZE - 1)) + 1;
	}
	return first;
}

/**
 * migrate_populate() - Best-effort placement of [@start, @start + @len)
 * @core: The core
 * @svm: The client; the driver lock is held
 * @start: First address
 * @len: Bytes
 * @loc: Destination: a device id or LOC_HOST
 * @op: The operation (migrate_op_init()); @op->res receives what happened,
 *      in bytes of whole ranges
 *
 * Moves range by range; a range that cannot be placed (device full, copy
 * error) is left where it was and the rest carries on.
 *
 * Return: 0 when everything is at @loc; otherwise the first error met
 * (-ENOSPC when the device is full; -EFAULT also when part of the range
 * was unmapped or freed meanwhile), with @res telling what was done;
 * -EINVAL, -EFAULT (not registered) or -ENODEV (unknown or unbound device)
 * before anything moved.
 */
int migrate_populate(struct core *core, struct svm *svm, uint64_t start, uint64_t len, int loc,
		     struct migrate_op *op)
{
	struct migrate_result *res = &op->res;
	struct pagemap *pm = NULL;
	int err;

	memset(res, 0, sizeof(*res));
	err = svm_check_registered(svm, start, len);
	if (err)
		return err;
	if (loc != LOC_HOST) {
		pm = core_device(core, loc);
		if (!pm || !pagemap_bound(pm))
			return -ENODEV;
	}
	start &= ~(SVM_PAGE_SIZE - 1);
	res->requested = len;
	if (!pm)
		err = populate_host(core, svm, start, start + len, op);
	else
		err = populate_device(core, svm, start, start + len, pm, op);
	/* A range unmapped meanwhile: for the caller, memory not registered. */
	if (res->error == -ENOENT)
		res->error = -EFAULT;
	return err == -ENOENT ? -EFAULT : err;
}

/*
 * Move @r's data off @pm (unbind): to the device the policy names, else
 * home. Its replica there is simply dropped.
 */
static int evacuate_range(struct core *core, struct svm *svm, struct svm_range *r,
			  struct pagemap *pm, struct migrate_op *op)
{
	struct vamap_mapping *va;
	struct devmem *rep;
	int dest, err;

	if (pm && (rep = replica_find(r, pm))) {
		if (r->busy)
			return -EAGAIN;
		replica_drop_one(svm, r, rep);
	}
	if (!r->dm || (pm && r->dm->pm != pm))
		return 0;
	if (!pm)
		return migrate_to_host(core, svm, r, op);
	va = vamap_find(&svm->va, r->start);
	dest = va ? core->policy->evict_dest(core, r, &va->attrs, pm) : LOC_HOST;
	err = -ENOSPC;
	if (dest >= 0 && pagemap_bound(core->dev[dest])) {
		op->no_evict = true;
		err = migrate_to_device(core, svm, r, core->dev[dest], op);
		if (err == -EAGAIN)
			return err;
	}
	if (err)
		err = migrate_to_host(core, svm, r, op);
	return err;
}

/* Move every range of @svm that has data on @pm (on any device if NULL). */
static int svm_evacuate(struct core *core, struct svm *svm, struct pagemap *pm,
			enum migrate_cause cause)
{
	struct svm_range *r;
	struct migrate_op op;
	unsigned int tries = 0;
	int err = 0;

	migrate_op_init(&op, core, cause);
	pthread_mutex_lock(&svm->lock);
	migrate_collect(core, svm);
	r = svm_range_first(svm, 0, UINT64_MAX);
	while (r) {
		err = evacuate_range(core, svm, r, pm, &op);
		if (err == -EAGAIN && ++tries < MIGRATE_RETRY_LIMIT) {
			pthread_mutex_unlock(&svm->lock);
			retry_pause(tries);
			pthread_mutex_lock(&svm->lock);
			r = svm_range_first(svm, 0, UINT64_MAX);
			continue;
		}
		if (err)
			break;
		r = svm_range_next(svm, r);
	}
	pthread_mutex_unlock(&svm->lock);
	return err;
}

/**
 * migrate_evacuate_device() - Move everything an unbound device holds away
 * @core: The core
 * @pm: The device, already unbound (pagemap_unbind())
 *
 * Each range goes where the policy says (a device of its preferred location
 * or accessed-by set with room) or home; replicas on @pm are dropped. Walks
 * every client until the device holds nothing: migrations that were already
 * copying to it when it was unbound commit and are moved again.
 *
 * Return: 0, or the first error that left data on the device.
 */
int migrate_evacuate_device(struct core *core, struct pagemap *pm)
{
	unsigned int rounds = 0;
	uint64_t nallocs;
	struct svm *svm;
	int err = 0;

	do {
		pthread_rwlock_rdlock(&core->clients_lock);
		TAILQ_FOREACH(svm, &core->clients, core_link) {
			err = svm_evacuate(core, svm, pm, MIGRATE_UNBIND);
			if (err)
				break;
		}
		pthread_rwlock_unlock(&core->clients_lock);
		pagemap_usage(pm, NULL, NULL, &nallocs);
		if (nallocs && !err)
			retry_pause(++rounds);
	} while (nallocs && !err && rounds < MIGRATE_RETRY_LIMIT);
	return err ? err : (nallocs ? -EBUSY : 0);
}

/**
 * migrate_svm_to_host() - Bring all of a client's data home
 * @core: The core
 * @svm: The client; the driver lock is not held
 *
 * Used when gsvmd stops: afterwards the client's memory is ordinary memory.
 *
 * Return: 0, or the first error that left data on a device.
 */
int migrate_svm_to_host(struct core *core, struct svm *svm)
{
	return svm_evacuate(core, svm, NULL, MIGRATE_EVICTION);
}

/**
 * migrate_release_all() - Drop all of a departed client's ranges
 * @core: The core
 * @svm: The client, whose address space is gone; nothing else uses it
 *
 * Device memory returns to the pools; no data is copied.
 */
void migrate_release_all(struct core *core, struct svm *svm)
{
	struct svm_range *r;

	(void)core;
	pthread_mutex_lock(&svm->lock);
	while ((r = svm_range_first(svm, 0, UINT64_MAX))) {
		if (svm_range_begin(svm, r, true))
			continue;
		/* The address space is gone: nothing to unprotect. */
		r->replica_wp = false;
		replica_drop_all(svm, r);
		if (r->dm) {
			pagemap_devmem_set_owner(r->dm, NULL);
			devmem_put(r->dm);
			r->dm = NULL;
			r->ndev = 0;
		}
		r->busy = false;
		svm_range_remove(svm, r);
	}
	pthread_mutex_unlock(&svm->lock);
}

/**
 * migrate_unregister() - The client unmapped [@start, @start + @len)
 * @core: The core
 * @svm: The client; the driver lock is not held
 * @start: First address
 * @len: Bytes
 *
 * Invalidates the ranges there, removes the registrations and collects the
 * ranges (moving still-registered device pages of partly unmapped ranges
 * home).
 *
 * Return: 0, -EINVAL for a bad range, -ENOMEM, or -EAGAIN from the
 * collector (call migrate_collect() again later).
 */
int migrate_unregister(struct core *core, struct svm *svm, uint64_t start, uint64_t len)
{
	int err;

	if (!len || start + len < start)
		return -EINVAL;
	/* First without the driver lock, so that migrations in flight retry. */
	svm_invalidate_unmap(svm, start, start + len);
	pthread_mutex_lock(&svm->lock);
	err = vamap_unmap(&svm->va, start, len);
	/*
	 * Again now that no new range can be made there (ranges are made under
	 * the driver lock, inside a registration): one a migration made after
	 * the first pass would otherwise outlive its registration.
	 */
	svm_invalidate_unmap(svm, start, start + len);
	if (!err)
		err = migrate_collect(core, svm);
	pthread_mutex_unlock(&svm->lock);
	return err;
}

/**
 * migrate_wp_fault() - Serve a write to a write-protected page
 * @core: The core
 * @svm: The client; the driver lock is not held
 * @addr: Faulting address
 *
 * Write-protection is applied while a migration owns a range, and while a
 * range has read-only replicas. A writer that hits a migration's protection
 * waits until the migration lifts it, which also wakes the writer; a writer
 * that hits the replicas' protection drops the replicas first. A fault that
 * arrives after the protection went lifts what is left of it on its page.
 *
 * Return: 0 when the writer was let go; -EBUSY while the range is busy (retry
 * when it goes idle); a shim error (-EAGAIN).
 */
int migrate_wp_fault(struct core *core, struct svm *svm, uint64_t addr)
{
	struct svm_range *r;
	int err;

	(void)core;
	addr &= ~(SVM_PAGE_SIZE - 1);
	pthread_mutex_lock(&svm->lock);
	r = svm_range_find(svm, addr);
	if (r && r->busy) {
		err = -EBUSY;
	} else {
		if (r && r->replicas)
			replica_drop_all(svm, r);
		err = svm->mm_ops->unprotect(svm->mm, addr, SVM_PAGE_SIZE);
	}
	pthread_mutex_unlock(&svm->lock);
	return err;
}

/* Install the device pages of @r inside [from, from + len) at @to + offset. */
static int remap_range_pages(struct core *core, struct svm *svm, struct svm_range *r,
			     uint64_t from, uint64_t to, uint64_t len)
{
	uint64_t npages = svm_range_npages(r), page, end, addr, bytes = 0;
	int err = 0;

	for (page = 0; page < npages && r->ndev; page = end) {
		addr = r->start + (page << SVM_PAGE_SHIFT);
		end = page + 1;
		if (!svm_range_page_on_dev(r, page) || addr < from || addr >= from + len)
			continue;
		while (end < npages && svm_range_page_on_dev(r, end) &&
		       r->start + (end << SVM_PAGE_SHIFT) < from + len)
			end++;
		err = home_run(svm, r, page, end, to + (addr - from));
		if (err)
			break;
		bytes += (end - page) << SVM_PAGE_SHIFT;
	}
	release_if_empty(svm, r);
	if (bytes) {
		atomic_fetch_add(&core->stats.to_host, 1);
		atomic_fetch_add(&core->stats.bytes_to_host, bytes);
	}
	return err;
}

/* Map at @to what is registered at [@from, @from + @len), same backing. */
static int remap_registrations(struct svm *svm, uint64_t from, uint64_t to, uint64_t len)
{
	uint64_t end = from + len, s, e;
	struct vamap_mapping *va;
	struct vamap_op_map req;
	int err;

	err = vamap_unmap(&svm->va, to, len);
	for (va = vamap_first(&svm->va, from, end); !err && va && va->start < end;
	     va = vamap_next(&svm->va, va)) {
		s = va->start > from ? va->start : from;
		e = va->start + va->len < end ? va->start + va->len : end;
		req = (struct vamap_op_map){
			.start = to + (s - from),
			.len = e - s,
			.obj = va->obj,
			.offset = va->offset + (s - va->start),
			.attrs = va->attrs,
		};
		err = vamap_map(&svm->va, &req);
	}
	return err;
}

/**
 * migrate_remap() - The client moved [@from, @from + @len) to @to (mremap)
 * @core: The core
 * @svm: The client; the driver lock is not held
 * @from: Old address
 * @to: New address
 * @len: Bytes
 *
 * The registration follows the mapping: data on devices is installed at the
 * new addresses (it comes home), the registrations move with their backing
 * and advice, and the old ranges are collected. Nothing here waits: the
 * caller retries on -EBUSY when ranges go idle and on -EAGAIN after reading
 * events; the work done so far is kept, so retrying resumes it.
 *
 * Return: 0 when done; -EBUSY while a range of the old area is busy; -EAGAIN;
 * -EINVAL for a bad range; -ENOMEM.
 */
int migrate_remap(struct core *core, struct svm *svm, uint64_t from, uint64_t to, uint64_t len)
{
	uint64_t end = from + len;
	struct svm_range *r;
	int err = 0;

	if (!len || end < from || to + len < to)
		return -EINVAL;
	pthread_mutex_lock(&svm->lock);
	for (r = svm_range_first(svm, from, end); r && r->start < end; r = svm_range_next(svm, r))
		if (r->busy) {
			err = -EBUSY;
			goto out;
		}
	for (r = svm_range_first(svm, from, end); r && r->start < end; r = svm_range_next(svm, r)) {
		err = remap_range_pages(core, svm, r, from, to, len);
		if (err)
			goto out;
	}
	err = remap_registrations(svm, from, to, len);
	if (err)
		goto out;
	svm_invalidate_unmap(svm, from, end);
	err = vamap_unmap(&svm->va, from, len);
	if (!err)
		err = migrate_collect(core, svm);
	/* The move is complete; a collection left over is retried later. */
	if (err == -EAGAIN)
		err = 0;
out:
	pthread_mutex_unlock(&svm->lock);
	return err;
}
