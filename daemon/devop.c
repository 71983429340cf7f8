// SPDX-License-Identifier: MIT
/**
 * DOC: Device operations
 *
 * A device op runs a small kernel (fill, checksum, add) over a client range
 * on a device, the way a GPU kernel would: each address it touches goes
 * through the device-fault path. The range there is found or created
 * (svm_range_find_or_insert()), placed by the policy (first touch: migrate to
 * the accessing device), then the kernel runs on the data where it is: on
 * the device's memory, or on host memory when the device could not take it.
 *
 * While a kernel runs on a range the range is busy, so its placement cannot
 * change underneath: a CPU fault on it waits until the kernel is done.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "devop.h"
#include "migrate.h"

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

/* Run @op over [@start, @end) of the busy range @r, wherever its pages are. */
static int devop_on_range(struct svm *svm, struct svm_range *r, enum devop_kind op,
			  uint64_t start, uint64_t end, uint64_t arg, uint64_t *state)
{
	uint64_t pos = start, page, next;
	void *p;

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

/* Place @r for an access by @pm: first touch migrates it there. */
static int devop_place(struct core *core, struct svm *svm, struct svm_range *r, struct pagemap *pm)
{
	struct migrate_result res = { 0 };
	int err = migrate_to_device(core, svm, r, pm, MIGRATE_DEVICE_FAULT, &res);

	/* A device without room accesses the data where it is. */
	if (err == -ENOSPC)
		err = 0;
	return err;
}

static void devop_pause(void)
{
	struct timespec ts = { 0, 20000 };

	nanosleep(&ts, NULL);
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
 * the range is not registered; -ENOMEM; another error from placement.
 */
int devop_run(struct core *core, struct svm *svm, int device, enum devop_kind op, uint64_t addr,
	      uint64_t len, uint64_t arg, uint64_t *result)
{
	uint64_t state = DEVOP_FNV_OFFSET, pos = addr, end = addr + len, stop;
	struct svm_range *r;
	struct pagemap *pm;
	int err;

	err = devop_validate(core, op, device, addr, len, &pm);
	if (err)
		return err;
	pthread_mutex_lock(&svm->lock);
	err = svm_check_registered(svm, addr, len);
	while (!err && pos < end) {
		err = svm_range_find_or_insert(svm, pos, &r);
		if (err == -EAGAIN)
			err = migrate_collect(core, svm);
		if (!err) {
			atomic_fetch_add(&core->stats.device_faults, 1);
			err = devop_place(core, svm, r, pm);
		}
		if (!err)
			err = svm_range_begin(svm, r, true);
		if (err == -EAGAIN) {
			pthread_mutex_unlock(&svm->lock);
			devop_pause();
			pthread_mutex_lock(&svm->lock);
			err = 0;
			continue;
		}
		if (err)
			break;
		pthread_mutex_unlock(&svm->lock);
		stop = r->end < end ? r->end : end;
		err = devop_on_range(svm, r, op, pos, stop, arg, &state);
		if (r->dm)
			pagemap_devmem_touch(r->dm);
		pthread_mutex_lock(&svm->lock);
		svm_range_end(svm, r);
		pos = stop;
	}
	pthread_mutex_unlock(&svm->lock);
	if (!err && op == DEVOP_CHECKSUM && result)
		*result = state;
	return err;
}
