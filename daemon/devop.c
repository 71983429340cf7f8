// SPDX-License-Identifier: MIT
/**
 * DOC: Device operations
 *
 * A device op runs a small kernel (fill, checksum, add) over a client range
 * on a device, the way a GPU kernel would: each address it touches goes
 * through the device-fault path. The range there is found or created
 * (svm_range_find_or_insert()), and the migration policy decides what the
 * access does (&policy_ops.device_fault): migrate the range to a device
 * first, access it where it is (on host or on another device: remote
 * access), or read it from a read-only replica on the accessing device.
 * A device that cannot take the range (full even after eviction) accesses it
 * where it is. Writes drop the range's replicas first.
 *
 * The range is owned (busy) from the decision until the kernel is done, so
 * its placement cannot change underneath: a CPU fault on it waits.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "devop.h"
#include "migrate.h"
#include "replica.h"

static void devop_fill(uint8_t *p, uint64_t len, uint64_t arg)
{
	memset(p, (int)(arg & 0xff), len);
}

static uint64_t devop_fnv(const uint8_t *p, uint64_t len, uint64_t h)
{
	uint64_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= DEVOP_FNV_PRIME;
	}
	return h;
}

static void devop_add(uint8_t *p, uint64_t len, uint64_t arg)
{
	uint64_t i, v;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&v, p + i, 8);
		v = le64toh(v) + arg;
		v = htole64(v);
		memcpy(p + i, &v, 8);
	}
}

/**
 * devop_kernel() - Run a kernel over a buffer
 * @op: Which kernel
 * @buf: The data
 * @len: Bytes (a multiple of 8 for DEVOP_ADD)
 * @arg: The kernel's argument
 * @state: Checksum state, carried from one piece of a range to the next;
 *         start with DEVOP_FNV_OFFSET
 */
void devop_kernel(enum devop_kind op, void *buf, uint64_t len, uint64_t arg, uint64_t *state)
{
	switch (op) {
	case DEVOP_FILL:
		devop_fill(buf, len, arg);
		break;
	case DEVOP_CHECKSUM:
		*state = devop_fnv(buf, len, *state);
		break;
	case DEVOP_ADD:
		devop_add(buf, len, arg);
		break;
	default:
		break;
	}
}

/*
 * Run @op over [@start, @end) of the busy range @r: on @replica when given,
 * else wherever its pages are.
 */
static int devop_on_range(struct svm *svm, struct svm_range *r, struct devmem *replica,
			  enum devop_kind op, uint64_t start, uint64_t end, uint64_t arg,
			  uint64_t *state)
{
	uint64_t pos = start, page, next;
	void *p;

	if (replica) {
		p = devmem_map(replica, start - r->start, end - start);
		if (!p)
			return -EOPNOTSUPP;
		devop_kernel(op, p, end - start, arg, state);
		return 0;
	}
	while (pos < end) {
		page = (pos - r->start) >> SVM_PAGE_SHIFT;
		next = (pos | (SVM_PAGE_SIZE - 1)) + 1;
		while (next < end &&
		       svm_range_page_on_dev(r, (next - r->start) >> SVM_PAGE_SHIFT) ==
			       svm_range_page_on_dev(r, page))
			next += SVM_PAGE_SIZE;
		if (next > end)
			next = end;
		if (r->dm && svm_range_page_on_dev(r, page))
			p = devmem_map(r->dm, pos - r->start, next - pos);
		else
			p = svm_range_host(svm, r, pos);
		if (!p)
			return -EOPNOTSUPP;
		devop_kernel(op, p, next - pos, arg, state);
		pos = next;
	}
	return 0;
}

static int devop_validate(struct core *core, enum devop_kind op, int device, uint64_t addr,
			  uint64_t len, struct pagemap **pm)
{
	if ((unsigned int)op >= DEVOP_NR || !len || addr + len < addr)
		return -EINVAL;
	if (op == DEVOP_ADD && ((addr | len) & 7))
		return -EINVAL;
	*pm = core_device(core, device);
	if (!*pm || !pagemap_bound(*pm))
		return -ENODEV;
	return 0;
}

/*
 * How often a range is tried again while the address space changes under it
 * (-EAGAIN), and while the shim cannot reach its pages (-ENOENT). The latter
 * is short-lived when the client has just unmapped the range (the unmap event
 * is read at once and drops the registration), but permanent when a client
 * registered memory it never mapped: without a bound, one request would
 * hold a worker forever (found by fuzz_dispatch).
 */
#define DEVOP_RETRY_LIMIT 100000
#define DEVOP_GONE_LIMIT 1000

static void devop_pause(void)
{
	struct timespec ts = { 0, 20000 };

	nanosleep(&ts, NULL);
}

static int range_loc(const struct svm_range *r)
{
	return r->dm && r->ndev ? r->dm->pm->id : LOC_HOST;
}

/*
 * The device-fault path for the owned range @r accessed by @pm: let the
 * policy decide, act on it. Sets *@replica when the kernel reads a replica.
 */
static int devop_place(struct core *core, struct svm *svm, struct svm_range *r,
		       struct pagemap *pm, bool write, struct migrate_op *op,
		       struct devmem **replica)
{
	struct vamap_mapping *va = vamap_find(&svm->va, r->start);
	struct vamap_attrs none = { .preferred_loc = LOC_NONE };
	struct policy_access a = {
		.dev = pm->id,
		.write = write,
		.loc = range_loc(r),
		.attrs = va ? &va->attrs : &none,
		.now = core_now(core),
	};
	int dest = pm->id, err = 0;

	*replica = NULL;
	if (write || (svm_range_flags(svm, r) & SVM_RANGE_STALE))
		replica_drop_all(svm, r);
	switch (core->policy->device_fault(core, r, &a, &dest)) {
	case POLICY_MIGRATE:
		if (dest < 0 || (unsigned int)dest >= core->ndev)
			break;
		err = migrate_owned_to_device(core, svm, r, core->dev[dest], op);
		if (!err && a.loc != dest)
			core->policy->migrated(core, r, a.loc, dest, a.now);
		break;
	case POLICY_REPLICATE:
		*replica = replica_find(r, pm);
		if (!*replica)
			err = replica_make(core, svm, r, pm, op, replica);
		break;
	case POLICY_REMOTE:
		break;
	}
	/* A device without room (or a client at its limit) accesses it where it is. */
	if (err == -ENOSPC || err == -EDQUOT) {
		*replica = NULL;
		err = 0;
	}
	return err;
}

/**
 * devop_run() - Run a device op over a client range
 * @core: The core
 * @svm: The client; the driver lock is not held
 * @device: Device id
 * @op: The kernel
 * @addr: First client address
 * @len: Bytes
 * @arg: Kernel argument
 * @result: Receives the checksum for DEVOP_CHECKSUM (may be NULL otherwise)
 *
 * Return: 0; -EINVAL for an unknown op, a zero or overflowing length, or an
 * unaligned DEVOP_ADD; -ENODEV for an unknown or unbound device; -EFAULT if
 * the range is not registered or not mapped by the client; -ENOMEM; another
 * error from placement.
 */
int devop_run(struct core *core, struct svm *svm, int device, enum devop_kind op, uint64_t addr,
	      uint64_t len, uint64_t arg, uint64_t *result)
{
	uint64_t state = DEVOP_FNV_OFFSET, pos = addr, end = addr + len, stop;
	unsigned int tries = 0, gone = 0;
	struct devmem *replica;
	struct migrate_op mop;
	struct svm_range *r;
	struct pagemap *pm;
	int err;

	err = devop_validate(core, op, device, addr, len, &pm);
	if (err)
		return err;
	migrate_op_init(&mop, core, MIGRATE_DEVICE_FAULT);
	pthread_mutex_lock(&svm->lock);
	err = svm_check_registered(svm, addr, len);
	while (!err && pos < end) {
		err = svm_range_find_or_insert(svm, pos, &r);
		if (err == -EAGAIN) {
			/* @r waits for the collector, which frees it: look again. */
			err = migrate_collect(core, svm);
			if (!err)
				err = svm_range_find_or_insert(svm, pos, &r);
		}
		if (err)
			break;
		err = svm_range_begin(svm, r, true);
		if (!err) {
			atomic_fetch_add(&core->stats.device_faults, 1);
			if (core_events_wanted(core)) {
				struct event ev = { .type = EVENT_DEVICE_FAULT, .svm = svm,
						    .addr = pos, .dst = device };

				core_emit(core, &ev);
			}
			err = devop_place(core, svm, r, pm, op != DEVOP_CHECKSUM, &mop, &replica);
			if (err)
				svm_range_end(svm, r);
		}
		if ((err == -EAGAIN && ++tries < DEVOP_RETRY_LIMIT) ||
		    (err == -ENOENT && ++gone < DEVOP_GONE_LIMIT)) {
			pthread_mutex_unlock(&svm->lock);
			devop_pause();
			pthread_mutex_lock(&svm->lock);
			err = svm_check_registered(svm, pos, end - pos);
			continue;
		}
		/* Registered, but not memory the client mapped. */
		if (err == -ENOENT)
			err = -EFAULT;
		if (err)
			break;
		pthread_mutex_unlock(&svm->lock);
		stop = r->end < end ? r->end : end;
		err = devop_on_range(svm, r, replica, op, pos, stop, arg, &state);
		pagemap_devmem_touch(replica ? replica : r->dm ? r->dm : NULL);
		pthread_mutex_lock(&svm->lock);
		svm_range_end(svm, r);
		pos = stop;
	}
	pthread_mutex_unlock(&svm->lock);
	if (!err && op == DEVOP_CHECKSUM && result)
		*result = state;
	return err;
}
