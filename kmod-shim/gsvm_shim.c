// SPDX-License-Identifier: GPL-2.0
/*
 * gsvm_shim.c - the kernel fault shim of gsvm (/dev/gsvm-shim)
 */

/**
 * DOC: Overview
 *
 * gsvm_shim gives gsvmd, from inside the kernel, the events the userfaultfd
 * shim gives: a CPU access to managed memory whose data is not in host RAM
 * is forwarded to gsvmd and sleeps until gsvmd supplies the data.
 *
 * A *context* is one open of /dev/gsvm-shim by a client (the client file).
 * It pins the opener's mm (mmgrab) and holds its *regions*: each region is a
 * sealed memfd of the client, mapped through the device. The mmap handler
 * turns the mapping into a mapping of the memfd itself (vma_set_file(), then
 * the memfd's own mmap) and puts its own &vm_operations_struct in front of
 * shmem's, so the memfd's page cache is the memory and gsvmd, which holds
 * the same memfd, can read it and punch it. What the module adds is a gate:
 *
 * - .fault on a page the memfd does not hold queues a FAULT event and
 *   waits; so does a write to a write-protected page. The wait drops the
 *   mmap lock when the fault may be retried (like userfaultfd) and is
 *   killable, or interruptible for a user fault: a signal handler runs and
 *   the access faults (and is forwarded) again. Otherwise it waits in short
 *   slices and lets the access retry.
 * - .page_mkwrite gates the first write to a mapped page: the mapping is
 *   write-notified (read faults map pages read-only), so write protection
 *   needs no page-table walk of ours: protecting a page zaps its PTEs.
 * - There is no .map_pages (fault-around): every page is mapped through the
 *   gate.
 *
 * gsvmd obtains a *server file* for the context (GSVM_SHIM_IOC_SERVE),
 * reads events from it and answers: FILL creates the missing pages with its
 * data and wakes the waiters, WRPROTECT sets and lifts write protection,
 * ZAP punches pages out, UNREGISTER makes a range ordinary memory, ERROR
 * makes the waiters take SIGBUS. Closing the server file (gsvmd exits or
 * dies) lifts write protection and makes every fault on a missing page,
 * waiting or future, take SIGBUS.
 *
 * Locking: &gsvm_region.lock (an rwsem) is held for reading by a fault from
 * its "is the page there" check until shmem has mapped the page, and for
 * writing by FILL and ZAP: a fault can neither map a page FILL is still
 * writing nor let shmem create a zero page in a hole ZAP just punched.
 * Write protection uses the page lock instead: .page_mkwrite checks the bit
 * under it and keeps it until the PTE is writable, and WRPROTECT sets the
 * bit, then locks each page and zaps it. &gsvm_ctx.lock (a mutex) protects
 * the waiters, the regions and the context's state; &gsvm_ctx.evlock (a
 * spinlock) the event queue. Lock order:
 * mmap lock, region lock, page lock, i_mmap lock; the context lock is taken
 * alone. The server's ioctls look up addresses under the client's mmap lock
 * in read mode and never hold it while copying data.
 *
 * Notifiers: gsvmd may also watch any range of the client's address space,
 * malloc'd memory included, with an MMU interval notifier
 * (GSVM_SHIM_IOC_NOTIFIER_ADD). Each invalidation sets the notifier's
 * sequence number under &gsvm_notifier.lock and queues an INVALIDATE event
 * with it; SNAPSHOT runs hmm_range_fault() under mmu_interval_read_begin()
 * and checks mmu_interval_read_retry() under the same lock before it
 * reports which pages are valid, and VALID tells whether a sequence number
 * is still current: drm_gpusvm's get-pages / pages-valid / retry protocol,
 * with gsvmd as the driver. The invalidate callback may run in reclaim, so
 * it allocates with GFP_NOWAIT (a failure queues one LOST event: the whole
 * notifier is invalid) and takes only spinlocks and the notifier's mutex,
 * which nothing holds while allocating. &gsvm_ctx.nsem keeps notifiers
 * alive while an ioctl uses them.
 *
 * Lifetimes: the context is referenced by the client file, the server file
 * and each region; a region by its mapping's VMAs (or, before mmap, by the
 * context's list) and it holds the memfd and a reference on the module, so
 * rmmod fails with EBUSY while any file or mapping remains.
 */

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/rwsem.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/wait.h>

#include "gsvm_shim.h"

/* How long a fault that cannot drop the mmap lock waits before retrying. */
#define GSVM_SLICE (HZ / 20)

enum gsvm_ctx_state {
	GSVM_CTX_NEW,		/* no server yet: faults wait */
	GSVM_CTX_SERVED,	/* gsvmd holds the server file */
	GSVM_CTX_GONE,		/* the server file was closed */
};

/**
 * struct gsvm_ctx - A client's open of /dev/gsvm-shim
 * @ref: References: client file, server file, regions
 * @mm: The client's mm (mmgrab)
 * @pid: The process that opened the client file
 * @lock: Protects @state, @waiters, @regions, @next_region
 * @state: &enum gsvm_ctx_state
 * @regions: Its regions (&gsvm_region.link)
 * @evlock: Protects @events, @next_id, @events_lost
 * @events: Events not read yet (&gsvm_event_node.link)
 * @events_lost: An invalidation could not be queued (no memory)
 * @waiters: Faults waiting (&gsvm_waiter.link)
 * @read_wq: The server's read() and poll()
 * @fault_wq: Faulting threads
 * @next_id: Id of the next event
 * @next_region: Id of the next region (its mmap offset in pages)
 * @nsem: Protects @notifiers (write) and keeps them alive (read)
 * @notifiers: MMU interval notifiers (&gsvm_notifier.link)
 * @next_notifier: Id of the next notifier
 */
struct gsvm_ctx {
	struct kref ref;
	struct mm_struct *mm;
	struct pid *pid;
	struct mutex lock;
	enum gsvm_ctx_state state;
	struct list_head regions;
	spinlock_t evlock;
	struct list_head events;
	bool events_lost;
	struct list_head waiters;
	wait_queue_head_t read_wq;
	wait_queue_head_t fault_wq;
	u64 next_id;
	u64 next_region;
	struct rw_semaphore nsem;
	struct list_head notifiers;
	u64 next_notifier;
};

/**
 * struct gsvm_notifier - An MMU interval notifier on the client's mm
 * @mni: The notifier
 * @link: In &gsvm_ctx.notifiers
 * @ctx: Its context
 * @id: Its id for gsvmd
 * @start: Start of the range it watches
 * @end: End (exclusive)
 * @lock: Orders sequence number updates against SNAPSHOT's final check
 */
struct gsvm_notifier {
	struct mmu_interval_notifier mni;
	struct list_head link;
	struct gsvm_ctx *ctx;
	u64 id;
	u64 start;
	u64 end;
	struct mutex lock;
};

/**
 * struct gsvm_region - A memfd managed through the device
 * @ref: References: VMAs (or the context's list before mmap)
 * @link: In &gsvm_ctx.regions
 * @ctx: Its context (referenced)
 * @file: The memfd (referenced)
 * @id: mmap offset, in pages
 * @npages: Pages of the memfd
 * @mapped: Whether it was mmap()ed (once only)
 * @shmem_ops: shmem's VMA operations, which do the real work
 * @lock: See DOC: Overview
 * @wp: Write-protected pages
 * @wp_sent: Of those, pages whose write fault was forwarded already
 * @unmanaged: Pages no longer managed (UNREGISTER): ordinary memory
 * @error: Pages whose next fault takes SIGBUS (ERROR)
 */
struct gsvm_region {
	struct kref ref;
	struct list_head link;
	struct gsvm_ctx *ctx;
	struct file *file;
	u64 id;
	pgoff_t npages;
	bool mapped;
	const struct vm_operations_struct *shmem_ops;
	struct rw_semaphore lock;
	unsigned long *wp;
	unsigned long *wp_sent;
	unsigned long *unmanaged;
	unsigned long *error;
};

struct gsvm_event_node {
	struct list_head link;
	struct gsvm_shim_event ev;
};

/*
 * A thread waiting in a fault, on its stack. @status: 0 while it waits,
 * 1 once woken by the server, -ENODEV when the server went away.
 */
struct gsvm_waiter {
	struct list_head link;
	unsigned long addr;
	int status;
};

enum gsvm_page {
	GSVM_PAGE_READY,	/* map it */
	GSVM_PAGE_MISSING,	/* forward and wait */
	GSVM_PAGE_WP,		/* write-protected: forward and wait */
	GSVM_PAGE_SIGBUS,	/* no one can supply it */
};

static const struct vm_operations_struct gsvm_vm_ops;

static void gsvm_vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static void gsvm_release_fault_lock(struct vm_fault *vmf)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	release_fault_lock(vmf);
#else
	mmap_read_unlock(vmf->vma->vm_mm);
#endif
}

/* ---- contexts and regions ---- */

static void gsvm_ctx_free(struct kref *ref)
{
	struct gsvm_ctx *ctx = container_of(ref, struct gsvm_ctx, ref);
	struct gsvm_event_node *n, *tmp;

	list_for_each_entry_safe(n, tmp, &ctx->events, link)
		kfree(n);
	mmdrop(ctx->mm);
	put_pid(ctx->pid);
	kfree(ctx);
}

static void gsvm_ctx_put(struct gsvm_ctx *ctx)
{
	kref_put(&ctx->ref, gsvm_ctx_free);
}

static void gsvm_region_free(struct kref *ref)
{
	struct gsvm_region *r = container_of(ref, struct gsvm_region, ref);
	struct gsvm_ctx *ctx = r->ctx;

	mutex_lock(&ctx->lock);
	list_del(&r->link);
	mutex_unlock(&ctx->lock);
	fput(r->file);
	bitmap_free(r->wp);
	bitmap_free(r->wp_sent);
	bitmap_free(r->unmanaged);
	bitmap_free(r->error);
	kfree(r);
	gsvm_ctx_put(ctx);
	module_put(THIS_MODULE);
}

static void gsvm_region_put(struct gsvm_region *r)
{
	kref_put(&r->ref, gsvm_region_free);
}

/* Whether the memfd holds the page (in RAM or in swap). */
static bool gsvm_present(struct gsvm_region *r, pgoff_t pgoff)
{
	return xa_load(&r->file->f_mapping->i_pages, pgoff) != NULL;
}

/* ---- events and waiters ---- */

/* Append @n to the event queue and wake the server. */
static void gsvm_event_push(struct gsvm_ctx *ctx, struct gsvm_event_node *n)
{
	unsigned long flags;

	spin_lock_irqsave(&ctx->evlock, flags);
	n->ev.id = ++ctx->next_id;
	list_add_tail(&n->link, &ctx->events);
	spin_unlock_irqrestore(&ctx->evlock, flags);
	wake_up_interruptible(&ctx->read_wq);
}

/* Queue an event for the server; ctx->lock held. */
static int gsvm_queue_locked(struct gsvm_ctx *ctx, u32 type, u32 flags, u64 addr, u64 len,
			     u64 arg)
{
	struct gsvm_event_node *n;

	n = kzalloc(sizeof(*n), GFP_KERNEL);
	if (!n)
		return -ENOMEM;
	n->ev.type = type;
	n->ev.flags = flags;
	n->ev.addr = addr;
	n->ev.len = len;
	n->ev.arg = arg;
	gsvm_event_push(ctx, n);
	return 0;
}

/* Queue an address-space event, unless no one will ever read it. */
static void gsvm_queue_mm_event(struct gsvm_ctx *ctx, struct mm_struct *mm, u32 type, u64 addr,
				u64 len, u64 arg)
{
	/* exit_mmap(): the client is gone, its session goes with it. */
	if (!atomic_read(&mm->mm_users))
		return;
	mutex_lock(&ctx->lock);
	if (ctx->state != GSVM_CTX_GONE && gsvm_queue_locked(ctx, type, 0, addr, len, arg))
		pr_warn_ratelimited("gsvm_shim: event lost: out of memory\n");
	mutex_unlock(&ctx->lock);
}

/* Wake the waiters of [@addr, @addr + @len) with @status. */
static void gsvm_resolve(struct gsvm_ctx *ctx, u64 addr, u64 len, int status)
{
	struct gsvm_waiter *w;

	mutex_lock(&ctx->lock);
	list_for_each_entry(w, &ctx->waiters, link)
		if (w->addr >= addr && w->addr - addr < len)
			WRITE_ONCE(w->status, status);
	mutex_unlock(&ctx->lock);
	wake_up_all(&ctx->fault_wq);
}

/*
 * Register @w and queue its fault event (@sent: a write-protect fault of
 * this page was forwarded already, just wait). Return: 0, -ENODEV when the
 * server is gone, -ENOMEM.
 */
static int gsvm_wait_begin(struct gsvm_ctx *ctx, struct gsvm_waiter *w, u32 flags, bool sent)
{
	int err = 0;

	mutex_lock(&ctx->lock);
	if (ctx->state == GSVM_CTX_GONE)
		err = -ENODEV;
	else if (!sent)
		err = gsvm_queue_locked(ctx, GSVM_SHIM_EVENT_FAULT, flags, w->addr, PAGE_SIZE, 0);
	if (!err)
		list_add_tail(&w->link, &ctx->waiters);
	mutex_unlock(&ctx->lock);
	return err;
}

static void gsvm_wait_end(struct gsvm_ctx *ctx, struct gsvm_waiter *w)
{
	mutex_lock(&ctx->lock);
	list_del(&w->link);
	mutex_unlock(&ctx->lock);
}

/* ---- the VMA operations: the gate ---- */

static enum gsvm_page gsvm_page_state(struct gsvm_region *r, pgoff_t pgoff, bool write)
{
	bool gone = READ_ONCE(r->ctx->state) == GSVM_CTX_GONE;

	if (pgoff >= r->npages || test_bit(pgoff, r->unmanaged))
		return GSVM_PAGE_READY;
	if (test_and_clear_bit(pgoff, r->error))
		return GSVM_PAGE_SIGBUS;
	if (!gsvm_present(r, pgoff))
		return gone ? GSVM_PAGE_SIGBUS : GSVM_PAGE_MISSING;
	if (write && !gone && test_bit(pgoff, r->wp))
		return GSVM_PAGE_WP;
	return GSVM_PAGE_READY;
}

/*
 * Forward the fault at @vmf and wait. With FAULT_FLAG_ALLOW_RETRY the mmap
 * lock is dropped for the wait, as userfaultfd does, and the fault retried;
 * without, the thread waits a slice with the lock held and the access is
 * retried from scratch.
 */
static vm_fault_t gsvm_forward(struct gsvm_region *r, struct vm_fault *vmf, u32 flags)
{
	struct gsvm_waiter w = { .addr = vmf->address & PAGE_MASK };
	bool can_drop = vmf->flags & FAULT_FLAG_ALLOW_RETRY;
	struct gsvm_ctx *ctx = r->ctx;
	bool sent = false;

	if (can_drop && (vmf->flags & FAULT_FLAG_RETRY_NOWAIT))
		return VM_FAULT_RETRY;
	if (flags & GSVM_SHIM_FAULT_WP)
		sent = test_and_set_bit(vmf->pgoff, r->wp_sent);
	if (gsvm_wait_begin(ctx, &w, flags, sent))
		return VM_FAULT_SIGBUS;
	if (!can_drop) {
		wait_event_killable_timeout(ctx->fault_wq, READ_ONCE(w.status), GSVM_SLICE);
		gsvm_wait_end(ctx, &w);
		return VM_FAULT_NOPAGE;
	}
	/* @r may go with the lock (munmap); @ctx stays for the wait. */
	kref_get(&ctx->ref);
	gsvm_release_fault_lock(vmf);
	/* A user fault lets signal handlers run meanwhile, then faults again. */
	if (vmf->flags & FAULT_FLAG_INTERRUPTIBLE)
		wait_event_interruptible(ctx->fault_wq, READ_ONCE(w.status));
	else
		wait_event_killable(ctx->fault_wq, READ_ONCE(w.status));
	gsvm_wait_end(ctx, &w);
	gsvm_ctx_put(ctx);
	return VM_FAULT_RETRY;
}

static vm_fault_t gsvm_fault(struct vm_fault *vmf)
{
	struct gsvm_region *r = vmf->vma->vm_private_data;
	bool write = vmf->flags & FAULT_FLAG_WRITE;
	enum gsvm_page state;
	vm_fault_t ret;

	down_read(&r->lock);
	state = gsvm_page_state(r, vmf->pgoff, write);
	/* gsvmd serves the context's mm only: not a child that got the mapping. */
	if (state != GSVM_PAGE_READY && vmf->vma->vm_mm != r->ctx->mm)
		state = GSVM_PAGE_SIGBUS;
	switch (state) {
	case GSVM_PAGE_READY:
		ret = r->shmem_ops->fault(vmf);
		up_read(&r->lock);
		return ret;
	case GSVM_PAGE_SIGBUS:
		up_read(&r->lock);
		return VM_FAULT_SIGBUS;
	case GSVM_PAGE_WP:
		up_read(&r->lock);
		return gsvm_forward(r, vmf, GSVM_SHIM_FAULT_WRITE | GSVM_SHIM_FAULT_WP);
	case GSVM_PAGE_MISSING:
	default:
		up_read(&r->lock);
		return gsvm_forward(r, vmf, write ? GSVM_SHIM_FAULT_WRITE : 0);
	}
}

/*
 * The first write to a mapped page. The core calls this without
 * FAULT_FLAG_ALLOW_RETRY, so a write to a protected page waits in slices.
 * Returns with the page locked when the write may go on: WRPROTECT takes
 * the page lock before zapping, so it cannot miss the PTE made writable.
 */
static vm_fault_t gsvm_page_mkwrite(struct vm_fault *vmf)
{
	struct gsvm_region *r = vmf->vma->vm_private_data;
	struct page *page = vmf->page;

	lock_page(page);
	if (page->mapping != r->file->f_mapping) {
		unlock_page(page);
		return VM_FAULT_NOPAGE;
	}
	if (vmf->pgoff >= r->npages || test_bit(vmf->pgoff, r->unmanaged) ||
	    !test_bit(vmf->pgoff, r->wp) || READ_ONCE(r->ctx->state) == GSVM_CTX_GONE)
		return VM_FAULT_LOCKED;
	unlock_page(page);
	if (vmf->vma->vm_mm != r->ctx->mm)
		return VM_FAULT_SIGBUS;
	return gsvm_forward(r, vmf, GSVM_SHIM_FAULT_WRITE | GSVM_SHIM_FAULT_WP);
}

static void gsvm_vm_open(struct vm_area_struct *vma)
{
	struct gsvm_region *r = vma->vm_private_data;

	kref_get(&r->ref);
}

static void gsvm_vm_close(struct vm_area_struct *vma)
{
	struct gsvm_region *r = vma->vm_private_data;

	gsvm_queue_mm_event(r->ctx, vma->vm_mm, GSVM_SHIM_EVENT_UNMAP, vma->vm_start,
			    vma->vm_end - vma->vm_start, 0);
	gsvm_region_put(r);
}

/*
 * mremap() moved (part of) a mapping to @vma. The old VMA is still in the
 * tree: find it by its file offset to tell gsvmd where the range was.
 */
static int gsvm_vm_mremap(struct vm_area_struct *vma)
{
	struct gsvm_region *r = vma->vm_private_data;
	struct vm_area_struct *old;
	VMA_ITERATOR(vmi, vma->vm_mm, 0);

	for_each_vma(vmi, old) {
		if (old == vma || old->vm_private_data != r || old->vm_pgoff > vma->vm_pgoff ||
		    vma->vm_pgoff - old->vm_pgoff >= vma_pages(old))
			continue;
		gsvm_queue_mm_event(r->ctx, vma->vm_mm, GSVM_SHIM_EVENT_REMAP,
				    old->vm_start +
					    ((vma->vm_pgoff - old->vm_pgoff) << PAGE_SHIFT),
				    vma->vm_end - vma->vm_start, vma->vm_start);
		return 0;
	}
	return -EINVAL;
}

static const struct vm_operations_struct gsvm_vm_ops = {
	.open = gsvm_vm_open,
	.close = gsvm_vm_close,
	.mremap = gsvm_vm_mremap,
	.fault = gsvm_fault,
	.page_mkwrite = gsvm_page_mkwrite,
};

/* ---- the server file ---- */

/*
 * The region mapped at @addr in the client, referenced, with the page
 * offset of @addr and the end of the mapping. Return: 0, -ESRCH when the
 * client's mm is gone, -ENOENT when @addr is not in one of its regions.
 */
static int gsvm_lookup(struct gsvm_ctx *ctx, u64 addr, struct gsvm_region **rp, pgoff_t *pgoff,
		       u64 *end)
{
	struct vm_area_struct *vma;
	int err = -ENOENT;

	if (!mmget_not_zero(ctx->mm))
		return -ESRCH;
	mmap_read_lock(ctx->mm);
	vma = vma_lookup(ctx->mm, addr);
	if (vma && vma->vm_ops == &gsvm_vm_ops) {
		struct gsvm_region *r = vma->vm_private_data;

		if (r->ctx == ctx) {
			kref_get(&r->ref);
			*rp = r;
			*pgoff = linear_page_index(vma, addr);
			*end = vma->vm_end;
			err = 0;
		}
	}
	mmap_read_unlock(ctx->mm);
	mmput(ctx->mm);
	return err;
}

static bool gsvm_range_ok(u64 addr, u64 len)
{
	return len && PAGE_ALIGNED(addr) && PAGE_ALIGNED(len) && addr + len > addr;
}

typedef int (*gsvm_range_fn)(struct gsvm_region *r, pgoff_t pgoff, pgoff_t n, u64 addr,
			     void *arg);

/*
 * Call @fn on each mapped piece of [@addr, @addr + @len). Return: 0, the
 * first error of @fn or of the lookup (-ENOENT: a hole in the range).
 */
static int gsvm_for_range(struct gsvm_ctx *ctx, u64 addr, u64 len, gsvm_range_fn fn, void *arg)
{
	u64 end = addr + len, vend;
	struct gsvm_region *r;
	pgoff_t pgoff, n;
	int err;

	while (addr < end) {
		err = gsvm_lookup(ctx, addr, &r, &pgoff, &vend);
		if (err)
			return err;
		n = (min(end, vend) - addr) >> PAGE_SHIFT;
		if (pgoff >= r->npages)
			err = -EINVAL;
		else
			err = fn(r, pgoff, min_t(pgoff_t, n, r->npages - pgoff), addr, arg);
		gsvm_region_put(r);
		if (err)
			return err;
		addr += (u64)n << PAGE_SHIFT;
	}
	return 0;
}

struct gsvm_fill_arg {
	u64 src;
	u64 start;
	struct page *bounce;
	u64 filled;
};

/*
 * Create page @pgoff with the data in @src (zeros when NULL), unless the
 * memfd holds it: the client wrote it meanwhile, or a previous fill did.
 */
static int gsvm_fill_page(struct gsvm_region *r, pgoff_t pgoff, struct page *src)
{
	struct page *page;
	int err = 0;

	down_write(&r->lock);
	if (gsvm_present(r, pgoff))
		goto out;
	page = shmem_read_mapping_page(r->file->f_mapping, pgoff);
	if (IS_ERR(page)) {
		err = PTR_ERR(page);
		goto out;
	}
	lock_page(page);
	if (src)
		copy_highpage(page, src);
	/* shmem drops clean pages under pressure: this one holds data. */
	set_page_dirty(page);
	unlock_page(page);
	put_page(page);
out:
	up_write(&r->lock);
	return err;
}

static int gsvm_fill_fn(struct gsvm_region *r, pgoff_t pgoff, pgoff_t n, u64 addr, void *arg)
{
	struct gsvm_fill_arg *a = arg;
	pgoff_t i;
	int err;

	for (i = 0; i < n; i++) {
		if (a->src) {
			/* Copied outside the region lock: gsvmd's memory may fault. */
			void __user *src = u64_to_user_ptr(a->src + (addr - a->start) +
							    ((u64)i << PAGE_SHIFT));
			void *dst = kmap_local_page(a->bounce);

			err = copy_from_user(dst, src, PAGE_SIZE) ? -EFAULT : 0;
			kunmap_local(dst);
			if (err)
				return err;
		}
		err = gsvm_fill_page(r, pgoff + i, a->src ? a->bounce : NULL);
		if (err)
			return err;
		a->filled += PAGE_SIZE;
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	return 0;
}

/*
 * Map the filled pages into the client, as userfaultfd's UFFDIO_COPY does,
 * so that they count as its memory before it touches them. A read fault
 * through get_user_pages: the pages come in read-only (the mapping is
 * write-notified). FOLL_NOWAIT: a page that went missing again is skipped,
 * not forwarded to gsvmd, whose fault thread may be the caller.
 */
static void gsvm_map_range(struct gsvm_ctx *ctx, u64 addr, u64 len)
{
	unsigned long start = addr, end = addr + len;
	long n;

	if (!mmget_not_zero(ctx->mm))
		return;
	mmap_read_lock(ctx->mm);
	while (start < end && !fatal_signal_pending(current)) {
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
		n = get_user_pages_remote(ctx->mm, start, (end - start) >> PAGE_SHIFT, FOLL_NOWAIT,
					  NULL, NULL);
#else
		n = get_user_pages_remote(ctx->mm, start, (end - start) >> PAGE_SHIFT, FOLL_NOWAIT,
					  NULL, NULL, NULL);
#endif
		start += (n > 0 ? n : 1) << PAGE_SHIFT;
	}
	mmap_read_unlock(ctx->mm);
	mmput(ctx->mm);
}

static long gsvm_ioc_fill(struct gsvm_ctx *ctx, void __user *uarg)
{
	struct gsvm_shim_fill f;
	struct gsvm_fill_arg a = { 0 };
	int err;

	if (copy_from_user(&f, uarg, sizeof(f)))
		return -EFAULT;
	if (!gsvm_range_ok(f.addr, f.len))
		return -EINVAL;
	a.src = f.src;
	a.start = f.addr;
	if (f.src) {
		a.bounce = alloc_page(GFP_KERNEL);
		if (!a.bounce)
			return -ENOMEM;
	}
	err = gsvm_for_range(ctx, f.addr, f.len, gsvm_fill_fn, &a);
	if (a.bounce)
		__free_page(a.bounce);
	if (a.filled) {
		gsvm_resolve(ctx, f.addr, a.filled, 1);
		gsvm_map_range(ctx, f.addr, a.filled);
	}
	f.filled = a.filled;
	if (copy_to_user(uarg, &f, sizeof(f)))
		return -EFAULT;
	return err;
}

static int gsvm_wp_fn(struct gsvm_region *r, pgoff_t pgoff, pgoff_t n, u64 addr, void *arg)
{
	struct address_space *mapping = r->file->f_mapping;
	bool on = *(u32 *)arg == GSVM_SHIM_WP_ON;
	struct page *page;
	pgoff_t i;

	if (!on) {
		bitmap_clear(r->wp, pgoff, n);
		bitmap_clear(r->wp_sent, pgoff, n);
		return 0;
	}
	bitmap_set(r->wp, pgoff, n);
	/* Under each page's lock: a racing page_mkwrite has its PTE by then. */
	for (i = pgoff; i < pgoff + n; i++) {
		page = find_lock_page(mapping, i);
		if (!page)
			continue;
		unmap_mapping_range(mapping, (loff_t)i << PAGE_SHIFT, PAGE_SIZE, 0);
		unlock_page(page);
		put_page(page);
		cond_resched();
	}
	return 0;
}

static long gsvm_ioc_wrprotect(struct gsvm_ctx *ctx, void __user *uarg)
{
	struct gsvm_shim_wp wp;
	int err;

	if (copy_from_user(&wp, uarg, sizeof(wp)))
		return -EFAULT;
	if (!gsvm_range_ok(wp.addr, wp.len) || wp.pad ||
	    (wp.mode != GSVM_SHIM_WP_ON && wp.mode != GSVM_SHIM_WP_OFF))
		return -EINVAL;
	err = gsvm_for_range(ctx, wp.addr, wp.len, gsvm_wp_fn, &wp.mode);
	if (wp.mode == GSVM_SHIM_WP_OFF)
		gsvm_resolve(ctx, wp.addr, wp.len, 1);
	return err;
}

static int gsvm_unregister_fn(struct gsvm_region *r, pgoff_t pgoff, pgoff_t n, u64 addr,
			      void *arg)
{
	bitmap_set(r->unmanaged, pgoff, n);
	bitmap_clear(r->wp, pgoff, n);
	return 0;
}

static int gsvm_error_fn(struct gsvm_region *r, pgoff_t pgoff, pgoff_t n, u64 addr, void *arg)
{
	bitmap_set(r->error, pgoff, n);
	return 0;
}

static long gsvm_ioc_range(struct gsvm_ctx *ctx, void __user *uarg, gsvm_range_fn fn)
{
	struct gsvm_shim_range rg;
	int err = 0;

	BUILD_BUG_ON(sizeof(struct gsvm_shim_range) != sizeof(struct gsvm_shim_error));
	if (copy_from_user(&rg, uarg, sizeof(rg)))
		return -EFAULT;
	if (!gsvm_range_ok(rg.addr, rg.len))
		return -EINVAL;
	if (fn)
		err = gsvm_for_range(ctx, rg.addr, rg.len, fn, NULL);
	gsvm_resolve(ctx, rg.addr, rg.len, 1);
	return err;
}

/* The region of @ctx whose memfd is @file, referenced, or NULL. */
static struct gsvm_region *gsvm_region_by_file(struct gsvm_ctx *ctx, struct file *file)
{
	struct gsvm_region *r, *found = NULL;

	mutex_lock(&ctx->lock);
	list_for_each_entry(r, &ctx->regions, link) {
		if (file_inode(r->file) == file_inode(file) && kref_get_unless_zero(&r->ref)) {
			found = r;
			break;
		}
	}
	mutex_unlock(&ctx->lock);
	return found;
}

static long gsvm_ioc_zap(struct gsvm_ctx *ctx, void __user *uarg)
{
	struct gsvm_region *r;
	struct gsvm_shim_zap z;
	struct file *file;
	int err;

	if (copy_from_user(&z, uarg, sizeof(z)))
		return -EFAULT;
	if (!gsvm_range_ok(z.offset, z.len) || z.pad)
		return -EINVAL;
	file = fget(z.memfd);
	if (!file)
		return -EBADF;
	r = gsvm_region_by_file(ctx, file);
	fput(file);
	if (!r)
		return -ENOENT;
	err = -EINVAL;
	if (z.offset + z.len <= ((u64)r->npages << PAGE_SHIFT)) {
		down_write(&r->lock);
		err = vfs_fallocate(r->file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    (loff_t)z.offset, (loff_t)z.len);
		up_write(&r->lock);
	}
	gsvm_region_put(r);
	return err;
}

static long gsvm_version(void __user *uarg)
{
	struct gsvm_shim_version v = { .version = GSVM_SHIM_VERSION, .page_size = PAGE_SIZE };

	return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

/* ---- MMU interval notifiers and snapshots ---- */

static u32 gsvm_inv_reason(enum mmu_notifier_event event)
{
	switch (event) {
	case MMU_NOTIFY_UNMAP:
		return GSVM_SHIM_INV_UNMAP;
	case MMU_NOTIFY_CLEAR:
		return GSVM_SHIM_INV_CLEAR;
	case MMU_NOTIFY_PROTECTION_VMA:
	case MMU_NOTIFY_PROTECTION_PAGE:
		return GSVM_SHIM_INV_PROTECTION;
	case MMU_NOTIFY_SOFT_DIRTY:
		return GSVM_SHIM_INV_SOFT_DIRTY;
	case MMU_NOTIFY_RELEASE:
		return GSVM_SHIM_INV_RELEASE;
	case MMU_NOTIFY_MIGRATE:
		return GSVM_SHIM_INV_MIGRATE;
	case MMU_NOTIFY_EXCLUSIVE:
		return GSVM_SHIM_INV_EXCLUSIVE;
	default:
		return GSVM_SHIM_INV_OTHER;
	}
}

static bool gsvm_invalidate(struct mmu_interval_notifier *mni,
			    const struct mmu_notifier_range *range, unsigned long cur_seq)
{
	struct gsvm_notifier *n = container_of(mni, struct gsvm_notifier, mni);
	struct gsvm_ctx *ctx = n->ctx;
	struct gsvm_event_node *ev;
	unsigned long flags;

	if (mmu_notifier_range_blockable(range))
		mutex_lock(&n->lock);
	else if (!mutex_trylock(&n->lock))
		return false;
	mmu_interval_set_seq(mni, cur_seq);
	mutex_unlock(&n->lock);

	ev = kzalloc(sizeof(*ev), GFP_NOWAIT | __GFP_NOWARN);
	if (!ev) {
		spin_lock_irqsave(&ctx->evlock, flags);
		ctx->events_lost = true;
		spin_unlock_irqrestore(&ctx->evlock, flags);
		wake_up_interruptible(&ctx->read_wq);
		return true;
	}
	ev->ev.type = GSVM_SHIM_EVENT_INVALIDATE;
	ev->ev.flags = gsvm_inv_reason(range->event);
	ev->ev.addr = max_t(u64, range->start, n->start);
	ev->ev.len = min_t(u64, range->end, n->end) - ev->ev.addr;
	ev->ev.arg = n->id;
	ev->ev.seq = cur_seq;
	gsvm_event_push(ctx, ev);
	return true;
}

static const struct mmu_interval_notifier_ops gsvm_mni_ops = {
	.invalidate = gsvm_invalidate,
};

static long gsvm_ioc_notifier_add(struct gsvm_ctx *ctx, void __user *uarg)
{
	struct gsvm_shim_notifier a;
	struct gsvm_notifier *n;
	int err;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (!gsvm_range_ok(a.addr, a.len) || a.addr + a.len > TASK_SIZE)
		return -EINVAL;
	n = kzalloc(sizeof(*n), GFP_KERNEL);
	if (!n)
		return -ENOMEM;
	mutex_init(&n->lock);
	n->ctx = ctx;
	n->start = a.addr;
	n->end = a.addr + a.len;
	if (!mmget_not_zero(ctx->mm)) {
		kfree(n);
		return -ESRCH;
	}
	down_write(&ctx->nsem);
	n->id = ++ctx->next_notifier;
	err = mmu_interval_notifier_insert(&n->mni, ctx->mm, a.addr, a.len, &gsvm_mni_ops);
	if (!err)
		list_add_tail(&n->link, &ctx->notifiers);
	up_write(&ctx->nsem);
	mmput(ctx->mm);
	if (err) {
		kfree(n);
		return err;
	}
	a.id = n->id;
	return copy_to_user(uarg, &a, sizeof(a)) ? -EFAULT : 0;
}

/* The notifier @id of @ctx; nsem held. */
static struct gsvm_notifier *gsvm_notifier_find(struct gsvm_ctx *ctx, u64 id)
{
	struct gsvm_notifier *n;

	list_for_each_entry(n, &ctx->notifiers, link)
		if (n->id == id)
			return n;
	return NULL;
}

static long gsvm_ioc_notifier_remove(struct gsvm_ctx *ctx, void __user *uarg)
{
	struct gsvm_shim_notifier a;
	struct gsvm_notifier *n;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	down_write(&ctx->nsem);
	n = gsvm_notifier_find(ctx, a.id);
	if (n)
		list_del(&n->link);
	up_write(&ctx->nsem);
	if (!n)
		return -ENOENT;
	/* Waits for a running invalidate callback. */
	mmu_interval_notifier_remove(&n->mni);
	kfree(n);
	return 0;
}

static void gsvm_notifiers_remove(struct gsvm_ctx *ctx)
{
	struct gsvm_notifier *n, *tmp;
	LIST_HEAD(gone);

	down_write(&ctx->nsem);
	list_splice_init(&ctx->notifiers, &gone);
	up_write(&ctx->nsem);
	list_for_each_entry_safe(n, tmp, &gone, link) {
		mmu_interval_notifier_remove(&n->mni);
		kfree(n);
	}
}

/*
 * hmm_range_fault() over @range until no invalidation races it, then fill
 * @bytes under the notifier lock. Return: 0, -EBUSY after HMM's timeout,
 * hmm_range_fault()'s error, -ESRCH when the mm is gone.
 */
static int gsvm_snapshot(struct gsvm_ctx *ctx, struct gsvm_notifier *n, struct hmm_range *range,
			 u8 *bytes)
{
	unsigned long timeout = jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	unsigned long i, npages = (range->end - range->start) >> PAGE_SHIFT;
	int err;

	if (!mmget_not_zero(ctx->mm))
		return -ESRCH;
	for (;;) {
		if (time_after(jiffies, timeout)) {
			err = -EBUSY;
			break;
		}
		range->notifier_seq = mmu_interval_read_begin(&n->mni);
		mmap_read_lock(ctx->mm);
		err = hmm_range_fault(range);
		mmap_read_unlock(ctx->mm);
		if (err == -EBUSY)
			continue;
		if (err)
			break;
		mutex_lock(&n->lock);
		if (mmu_interval_read_retry(&n->mni, range->notifier_seq)) {
			mutex_unlock(&n->lock);
			continue;
		}
		for (i = 0; i < npages; i++) {
			unsigned long pfn = range->hmm_pfns[i];

			bytes[i] = 0;
			if ((pfn & HMM_PFN_VALID) && !(pfn & HMM_PFN_ERROR))
				bytes[i] = GSVM_SHIM_PAGE_VALID |
					   (pfn & HMM_PFN_WRITE ? GSVM_SHIM_PAGE_WRITE : 0);
		}
		mutex_unlock(&n->lock);
		break;
	}
	mmput(ctx->mm);
	return err;
}

static long gsvm_ioc_snapshot(struct gsvm_ctx *ctx, void __user *uarg)
{
	struct hmm_range range = { 0 };
	struct gsvm_shim_snapshot s;
	unsigned long npages;
	struct gsvm_notifier *n;
	u8 *bytes = NULL;
	int err;

	if (copy_from_user(&s, uarg, sizeof(s)))
		return -EFAULT;
	if (!gsvm_range_ok(s.addr, s.len) || s.len > SZ_1G || s.pad ||
	    (s.flags & ~(GSVM_SHIM_SNAP_FAULT | GSVM_SHIM_SNAP_WRITE)))
		return -EINVAL;
	npages = s.len >> PAGE_SHIFT;
	range.hmm_pfns = kvcalloc(npages, sizeof(*range.hmm_pfns), GFP_KERNEL);
	bytes = kvzalloc(npages, GFP_KERNEL);
	if (!range.hmm_pfns || !bytes) {
		err = -ENOMEM;
		goto out;
	}
	range.start = s.addr;
	range.end = s.addr + s.len;
	if (s.flags & GSVM_SHIM_SNAP_FAULT)
		range.default_flags = HMM_PFN_REQ_FAULT |
				      (s.flags & GSVM_SHIM_SNAP_WRITE ? HMM_PFN_REQ_WRITE : 0);
	down_read(&ctx->nsem);
	n = gsvm_notifier_find(ctx, s.id);
	if (!n || range.start < n->start || range.end > n->end) {
		up_read(&ctx->nsem);
		err = n ? -EINVAL : -ENOENT;
		goto out;
	}
	range.notifier = &n->mni;
	err = gsvm_snapshot(ctx, n, &range, bytes);
	up_read(&ctx->nsem);
	if (err)
		goto out;
	s.seq = range.notifier_seq;
	if (copy_to_user(u64_to_user_ptr(s.pages), bytes, npages) ||
	    copy_to_user(uarg, &s, sizeof(s)))
		err = -EFAULT;
out:
	kvfree(bytes);
	kvfree(range.hmm_pfns);
	return err;
}

static long gsvm_ioc_valid(struct gsvm_ctx *ctx, void __user *uarg)
{
	struct gsvm_shim_valid v;
	struct gsvm_notifier *n;
	int err = -ENOENT;

	if (copy_from_user(&v, uarg, sizeof(v)))
		return -EFAULT;
	down_read(&ctx->nsem);
	n = gsvm_notifier_find(ctx, v.id);
	if (n) {
		mutex_lock(&n->lock);
		err = mmu_interval_read_retry(&n->mni, v.seq) ? -EAGAIN : 0;
		mutex_unlock(&n->lock);
	}
	up_read(&ctx->nsem);
	return err;
}

static long gsvm_srv_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct gsvm_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case GSVM_SHIM_IOC_VERSION:
		return gsvm_version(uarg);
	case GSVM_SHIM_IOC_FILL:
		return gsvm_ioc_fill(ctx, uarg);
	case GSVM_SHIM_IOC_WAKE:
		return gsvm_ioc_range(ctx, uarg, NULL);
	case GSVM_SHIM_IOC_WRPROTECT:
		return gsvm_ioc_wrprotect(ctx, uarg);
	case GSVM_SHIM_IOC_ZAP:
		return gsvm_ioc_zap(ctx, uarg);
	case GSVM_SHIM_IOC_UNREGISTER:
		return gsvm_ioc_range(ctx, uarg, gsvm_unregister_fn);
	case GSVM_SHIM_IOC_ERROR:
		return gsvm_ioc_range(ctx, uarg, gsvm_error_fn);
	case GSVM_SHIM_IOC_NOTIFIER_ADD:
		return gsvm_ioc_notifier_add(ctx, uarg);
	case GSVM_SHIM_IOC_NOTIFIER_REMOVE:
		return gsvm_ioc_notifier_remove(ctx, uarg);
	case GSVM_SHIM_IOC_SNAPSHOT:
		return gsvm_ioc_snapshot(ctx, uarg);
	case GSVM_SHIM_IOC_VALID:
		return gsvm_ioc_valid(ctx, uarg);
	default:
		return -ENOTTY;
	}
}

/* Take the oldest event, or NULL; a LOST invalidation after a lost event. */
static struct gsvm_event_node *gsvm_event_pop(struct gsvm_ctx *ctx)
{
	struct gsvm_event_node *n;
	unsigned long flags;
	bool lost;

	spin_lock_irqsave(&ctx->evlock, flags);
	n = list_first_entry_or_null(&ctx->events, struct gsvm_event_node, link);
	if (n)
		list_del(&n->link);
	lost = !n && ctx->events_lost;
	spin_unlock_irqrestore(&ctx->evlock, flags);
	if (!lost)
		return n;
	n = kzalloc(sizeof(*n), GFP_KERNEL);
	if (!n)
		return NULL;
	spin_lock_irqsave(&ctx->evlock, flags);
	ctx->events_lost = false;
	n->ev.id = ++ctx->next_id;
	spin_unlock_irqrestore(&ctx->evlock, flags);
	n->ev.type = GSVM_SHIM_EVENT_INVALIDATE;
	n->ev.flags = GSVM_SHIM_INV_LOST;
	n->ev.len = ~0ULL;
	return n;
}

/* Put @n back at the head (the server's buffer faulted). */
static void gsvm_event_unpop(struct gsvm_ctx *ctx, struct gsvm_event_node *n)
{
	unsigned long flags;

	spin_lock_irqsave(&ctx->evlock, flags);
	list_add(&n->link, &ctx->events);
	spin_unlock_irqrestore(&ctx->evlock, flags);
}

static bool gsvm_events_pending(struct gsvm_ctx *ctx)
{
	return !list_empty_careful(&ctx->events) || READ_ONCE(ctx->events_lost);
}

static ssize_t gsvm_srv_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	struct gsvm_ctx *ctx = file->private_data;
	struct gsvm_event_node *n;
	size_t done = 0;
	int err;

	if (count < sizeof(n->ev))
		return -EINVAL;
	while (done + sizeof(n->ev) <= count) {
		n = gsvm_event_pop(ctx);
		if (!n) {
			if (done)
				break;
			if (file->f_flags & O_NONBLOCK)
				return -EAGAIN;
			err = wait_event_interruptible(ctx->read_wq, gsvm_events_pending(ctx));
			if (err)
				return err;
			continue;
		}
		/* Copied without ctx->lock: the buffer may fault. */
		if (copy_to_user(buf + done, &n->ev, sizeof(n->ev))) {
			gsvm_event_unpop(ctx, n);
			return done ? (ssize_t)done : -EFAULT;
		}
		kfree(n);
		done += sizeof(n->ev);
	}
	return (ssize_t)done;
}

static __poll_t gsvm_srv_poll(struct file *file, poll_table *wait)
{
	struct gsvm_ctx *ctx = file->private_data;

	poll_wait(file, &ctx->read_wq, wait);
	return gsvm_events_pending(ctx) ? EPOLLIN | EPOLLRDNORM : 0;
}

/* gsvmd is gone: waiting and future faults on missing pages take SIGBUS. */
static int gsvm_srv_release(struct inode *inode, struct file *file)
{
	struct gsvm_ctx *ctx = file->private_data;
	struct gsvm_event_node *n;
	struct gsvm_waiter *w;

	gsvm_notifiers_remove(ctx);
	mutex_lock(&ctx->lock);
	WRITE_ONCE(ctx->state, GSVM_CTX_GONE);
	list_for_each_entry(w, &ctx->waiters, link)
		WRITE_ONCE(w->status, -ENODEV);
	mutex_unlock(&ctx->lock);
	while ((n = gsvm_event_pop(ctx)))
		kfree(n);
	wake_up_all(&ctx->fault_wq);
	gsvm_ctx_put(ctx);
	return 0;
}

static const struct file_operations gsvm_srv_fops = {
	.owner = THIS_MODULE,
	.read = gsvm_srv_read,
	.poll = gsvm_srv_poll,
	.unlocked_ioctl = gsvm_srv_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = gsvm_srv_release,
	.llseek = noop_llseek,
};

/* ---- the client file ---- */

static long gsvm_ioc_serve(struct gsvm_ctx *ctx, void __user *uarg)
{
	struct gsvm_shim_serve s;
	int fd;

	if (copy_from_user(&s, uarg, sizeof(s)))
		return -EFAULT;
	if (s.flags || s.pad)
		return -EINVAL;
	mutex_lock(&ctx->lock);
	if (ctx->state != GSVM_CTX_NEW) {
		mutex_unlock(&ctx->lock);
		return -EBUSY;
	}
	kref_get(&ctx->ref);
	fd = anon_inode_getfd("[gsvm-shim]", &gsvm_srv_fops, ctx, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		mutex_unlock(&ctx->lock);
		gsvm_ctx_put(ctx);
		return fd;
	}
	ctx->state = GSVM_CTX_SERVED;
	mutex_unlock(&ctx->lock);
	s.fd = fd;
	s.pid = pid_vnr(ctx->pid);
	/* The descriptor is installed: on a bad buffer it stays, as for open(). */
	return copy_to_user(uarg, &s, sizeof(s)) ? -EFAULT : 0;
}

static struct gsvm_region *gsvm_region_alloc(struct gsvm_ctx *ctx, struct file *file)
{
	struct inode *inode = file_inode(file);
	loff_t size = i_size_read(inode);
	struct gsvm_region *r;

	if (!shmem_file(file) || !(file->f_mode & FMODE_WRITE) || size <= 0 ||
	    !PAGE_ALIGNED(size) ||
	    (SHMEM_I(inode)->seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
		    (F_SEAL_SHRINK | F_SEAL_GROW))
		return ERR_PTR(-EINVAL);
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return ERR_PTR(-ENOMEM);
	r->npages = size >> PAGE_SHIFT;
	r->wp = bitmap_zalloc(r->npages, GFP_KERNEL);
	r->wp_sent = bitmap_zalloc(r->npages, GFP_KERNEL);
	r->unmanaged = bitmap_zalloc(r->npages, GFP_KERNEL);
	r->error = bitmap_zalloc(r->npages, GFP_KERNEL);
	if (!r->wp || !r->wp_sent || !r->unmanaged || !r->error) {
		bitmap_free(r->wp);
		bitmap_free(r->wp_sent);
		bitmap_free(r->unmanaged);
		bitmap_free(r->error);
		kfree(r);
		return ERR_PTR(-ENOMEM);
	}
	kref_init(&r->ref);
	INIT_LIST_HEAD(&r->link);
	init_rwsem(&r->lock);
	r->file = get_file(file);
	r->ctx = ctx;
	kref_get(&ctx->ref);
	__module_get(THIS_MODULE);
	return r;
}

static long gsvm_ioc_region(struct gsvm_ctx *ctx, void __user *uarg)
{
	struct gsvm_region *r, *other;
	struct gsvm_shim_region req;
	struct file *file;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (req.flags)
		return -EINVAL;
	file = fget(req.memfd);
	if (!file)
		return -EBADF;
	r = gsvm_region_alloc(ctx, file);
	fput(file);
	if (IS_ERR(r))
		return PTR_ERR(r);
	mutex_lock(&ctx->lock);
	list_for_each_entry(other, &ctx->regions, link) {
		/* ZAP finds a region by its memfd: one region per memfd. */
		if (file_inode(other->file) == file_inode(r->file)) {
			mutex_unlock(&ctx->lock);
			gsvm_region_put(r);
			return -EEXIST;
		}
	}
	r->id = ++ctx->next_region;
	list_add_tail(&r->link, &ctx->regions);
	mutex_unlock(&ctx->lock);
	req.offset = r->id << PAGE_SHIFT;
	req.size = (u64)r->npages << PAGE_SHIFT;
	/* The region stays until the client file is closed: no leak. */
	return copy_to_user(uarg, &req, sizeof(req)) ? -EFAULT : 0;
}

static long gsvm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct gsvm_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case GSVM_SHIM_IOC_VERSION:
		return gsvm_version(uarg);
	case GSVM_SHIM_IOC_REGION:
		return gsvm_ioc_region(ctx, uarg);
	case GSVM_SHIM_IOC_SERVE:
		return gsvm_ioc_serve(ctx, uarg);
	default:
		return -ENOTTY;
	}
}

/*
 * Map a region: the VMA becomes a mapping of the memfd (its own mmap sets
 * shmem's operations up), behind our gate. The region's reference from the
 * context's list becomes the VMA's.
 */
static int gsvm_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct gsvm_ctx *ctx = file->private_data;
	struct gsvm_region *r, *found = NULL;
	int err;

	if (vma->vm_mm != ctx->mm || !(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	mutex_lock(&ctx->lock);
	list_for_each_entry(r, &ctx->regions, link) {
		if (r->id == vma->vm_pgoff && !r->mapped) {
			found = r;
			break;
		}
	}
	if (!found || vma_pages(vma) != found->npages) {
		mutex_unlock(&ctx->lock);
		return -EINVAL;
	}
	found->mapped = true;
	mutex_unlock(&ctx->lock);
	vma->vm_pgoff = 0;
	vma_set_file(vma, found->file);
	err = call_mmap(found->file, vma);
	if (err || !vma->vm_ops || !vma->vm_ops->fault) {
		/* mmap_region() puts vma->vm_file (the memfd) on failure. */
		mutex_lock(&ctx->lock);
		found->mapped = false;
		mutex_unlock(&ctx->lock);
		return err ? err : -EINVAL;
	}
	found->shmem_ops = vma->vm_ops;
	vma->vm_ops = &gsvm_vm_ops;
	vma->vm_private_data = found;
	/*
	 * No growing in place (mremap), no huge pages collapsed over holes, not
	 * inherited by fork() (MADV_DOFORK may undo that: then the child's
	 * faults that would need gsvmd take SIGBUS).
	 */
	gsvm_vm_flags_set(vma, VM_DONTEXPAND | VM_NOHUGEPAGE | VM_DONTCOPY);
	return 0;
}

static int gsvm_open(struct inode *inode, struct file *file)
{
	struct gsvm_ctx *ctx;

	if (!current->mm)
		return -EINVAL;
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	kref_init(&ctx->ref);
	mutex_init(&ctx->lock);
	INIT_LIST_HEAD(&ctx->regions);
	spin_lock_init(&ctx->evlock);
	INIT_LIST_HEAD(&ctx->events);
	INIT_LIST_HEAD(&ctx->waiters);
	init_rwsem(&ctx->nsem);
	INIT_LIST_HEAD(&ctx->notifiers);
	init_waitqueue_head(&ctx->read_wq);
	init_waitqueue_head(&ctx->fault_wq);
	mmgrab(current->mm);
	ctx->mm = current->mm;
	ctx->pid = get_task_pid(current, PIDTYPE_TGID);
	file->private_data = ctx;
	return 0;
}

/* Regions never mapped go with the client file; mapped ones with their VMAs. */
static int gsvm_release(struct inode *inode, struct file *file)
{
	struct gsvm_ctx *ctx = file->private_data;
	struct gsvm_region *r;

	for (;;) {
		struct gsvm_region *unmapped = NULL;

		mutex_lock(&ctx->lock);
		list_for_each_entry(r, &ctx->regions, link) {
			if (!r->mapped) {
				r->mapped = true;
				unmapped = r;
				break;
			}
		}
		mutex_unlock(&ctx->lock);
		if (!unmapped)
			break;
		gsvm_region_put(unmapped);
	}
	gsvm_ctx_put(ctx);
	return 0;
}

static const struct file_operations gsvm_fops = {
	.owner = THIS_MODULE,
	.open = gsvm_open,
	.release = gsvm_release,
	.mmap = gsvm_mmap,
	.unlocked_ioctl = gsvm_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice gsvm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "gsvm-shim",
	.fops = &gsvm_fops,
	.mode = 0666,
};

module_misc_device(gsvm_misc);

MODULE_DESCRIPTION("gsvm kernel fault shim: forwards CPU faults on managed memory to gsvmd");
MODULE_AUTHOR("gsvm");
MODULE_LICENSE("GPL");
