// SPDX-License-Identifier: MIT
/**
 * DOC: Advice
 *
 * A client's placement advice (preferred location, accessed-by devices,
 * read-mostly) lives in its VA attribute map: applying advice to a range
 * splits the mappings at its ends and merges neighbours that end up equal
 * (vamap_update_attrs()). The migration policy reads it on every access.
 *
 * A range must lie inside one mapping, so that one set of advice applies to
 * all of it. A range that a new mapping boundary cuts is retired: its
 * device pages come home and it is destroyed (as for a partial unmap);
 * the next access creates ranges that fit. Ranges inside the advised area
 * stay where they are; the policy hears of the change (&policy_ops.advised)
 * and read-mostly being unset drops their replicas. Advice moves no data by
 * itself: it applies from the next access (gsvm_prefetch() moves data now).
 */
#include <errno.h>

#include "advise.h"
#include "migrate.h"
#include "replica.h"

struct advise_arg {
	enum advice advice;
	int dev;
};

static void advise_update(struct vamap_attrs *a, void *arg)
{
	const struct advise_arg *x = arg;

	switch (x->advice) {
	case ADVISE_SET_PREFERRED_LOCATION:
		a->preferred_loc = x->dev;
		break;
	case ADVISE_UNSET_PREFERRED_LOCATION:
		a->preferred_loc = LOC_NONE;
		break;
	case ADVISE_SET_ACCESSED_BY:
		a->accessed_by |= 1ULL << x->dev;
		break;
	case ADVISE_UNSET_ACCESSED_BY:
		a->accessed_by &= ~(1ULL << x->dev);
		break;
	case ADVISE_SET_READ_MOSTLY:
		a->read_mostly = true;
		break;
	case ADVISE_UNSET_READ_MOSTLY:
		a->read_mostly = false;
		break;
	default:
		break;
	}
}

static int advise_validate(struct core *core, enum advice advice, int dev)
{
	switch (advice) {
	case ADVISE_SET_PREFERRED_LOCATION:
		if (dev == LOC_HOST)
			return 0;
		/* fallthrough */
	case ADVISE_SET_ACCESSED_BY:
	case ADVISE_UNSET_ACCESSED_BY:
		return core_device(core, dev) ? 0 : -ENODEV;
	case ADVISE_UNSET_PREFERRED_LOCATION:
	case ADVISE_SET_READ_MOSTLY:
	case ADVISE_UNSET_READ_MOSTLY:
		return 0;
	default:
		return -EINVAL;
	}
}

/* Whether @r lies inside one mapping of the VA map. */
static bool range_fits(struct svm *svm, struct svm_range *r)
{
	struct vamap_mapping *va = vamap_find(&svm->va, r->start);

	return va && va->start + va->len >= r->end;
}

/**
 * advise_apply() - Apply advice to a client range
 * @core: The core
 * @svm: The client; the driver lock is not held
 * @start: First address (rounded down to a page)
 * @len: Bytes (the end is rounded up to a page)
 * @advice: What
 * @dev: The device it names (a device id, or LOC_HOST for a preferred
 *       location); ignored by the advice that names none
 *
 * Return: 0; -EINVAL for a zero or overflowing length or unknown advice;
 * -ENODEV for a device that does not exist; -EFAULT when the range is not
 * inside the client's allocations; -ENOMEM.
 */
int advise_apply(struct core *core, struct svm *svm, uint64_t start, uint64_t len,
		 enum advice advice, int dev)
{
	struct advise_arg arg = { .advice = advice, .dev = dev };
	uint64_t end = start + len;
	struct vamap_mapping *va;
	struct svm_range *r;
	int err;

	if (!len || end < start || end > UINT64_MAX - SVM_PAGE_SIZE ||
	    (unsigned int)advice >= ADVISE_NR)
		return -EINVAL;
	/* Advice covers whole pages: those the range touches. */
	start &= ~(SVM_PAGE_SIZE - 1);
	end = (end + SVM_PAGE_SIZE - 1) & ~(SVM_PAGE_SIZE - 1);
	len = end - start;
	err = advise_validate(core, advice, dev);
	if (err)
		return err;
	pthread_mutex_lock(&svm->lock);
	err = svm_check_registered(svm, start, len);
	if (!err)
		err = vamap_update_attrs(&svm->va, start, len, advise_update, &arg);
	if (err)
		goto out;
	for (r = svm_range_first(svm, start, end); r && r->start < end; r = svm_range_next(svm, r)) {
		if (!range_fits(svm, r)) {
			svm_range_retire(svm, r);
			continue;
		}
		va = vamap_find(&svm->va, r->start);
		core->policy->advised(core, r, &va->attrs);
		if (advice == ADVISE_UNSET_READ_MOSTLY && !r->busy)
			replica_drop_all(svm, r);
	}
	/* Ranges cut by the new boundaries come home and go. */
	migrate_collect(core, svm);
out:
	pthread_mutex_unlock(&svm->lock);
	return err;
}
