// SPDX-License-Identifier: MIT
/**
 * DOC: The default policy
 *
 * Placement follows the advice in the VA attribute map:
 *
 * - No advice: first touch. A device access migrates the range to that
 *   device; a CPU touch brings it home.
 * - Preferred location L: L's accesses migrate the range to L; other devices
 *   access it where it is. L = host: devices always access it remotely.
 * - Accessed-by D: D accesses the range where it is and never migrates it.
 * - Read-mostly: a device's read makes a read-only replica on that device
 *   while the data stays where it was; writes drop every replica first.
 *
 * Eviction: replicas go first (they cost nothing to drop), then the least
 * recently used allocations whose timeslice is over, then the fresh ones.
 * Evicted data goes to a device of the range's preferred location or
 * accessed-by set that has room, else home.
 *
 * Thrash control: a range that migrates thrash_threshold times within
 * thrash_window_us because of accesses is throttled: it stays where it went
 * for throttle_ms (a CPU fault on it waits; devices access it remotely).
 * After pin_threshold throttles it is pinned: devices access it where it is
 * (only the CPU, which cannot reach device memory, still moves it home). A
 * pin is lifted after pin_quiet_ms without an access that would have moved
 * the range.
 */
#include <errno.h>

#include "core.h"
#include "policy.h"
#include "svm.h"

static uint64_t ms_ns(uint64_t ms)
{
	return ms * 1000000ULL;
}

/* Forget throttling and pins once the range has been quiet long enough. */
static void thrash_expire(struct core *core, struct svm_policy_state *st, uint64_t now)
{
	uint64_t quiet = ms_ns(__atomic_load_n(&core->policy_cfg.pin_quiet_ms, __ATOMIC_RELAXED));

	if (st->pinned && now - st->pin_seen > quiet) {
		st->pinned = 0;
		st->throttled = 0;
		st->throttles = 0;
	}
	if (st->throttled && !st->pinned && now - st->window_start > quiet) {
		st->throttled = 0;
		st->throttles = 0;
	}
}

static enum policy_action default_device_fault(struct core *core, struct svm_range *r,
					       const struct policy_access *a, int *dest)
{
	struct svm_policy_state *st = &r->policy;
	const struct vamap_attrs *at = a->attrs;

	thrash_expire(core, st, a->now);
	if (at->accessed_by & (1ULL << a->dev))
		return POLICY_REMOTE;
	if (at->read_mostly && !a->write)
		return a->loc == a->dev ? POLICY_REMOTE : POLICY_REPLICATE;
	if (at->preferred_loc == LOC_HOST ||
	    (at->preferred_loc >= 0 && at->preferred_loc != a->dev))
		return POLICY_REMOTE;
	*dest = a->dev;
	if (a->loc == a->dev)
		return POLICY_MIGRATE;
	if (st->pinned) {
		st->pin_seen = a->now;
		return POLICY_REMOTE;
	}
	if (st->throttled && a->now < st->stay_until)
		return POLICY_REMOTE;
	return POLICY_MIGRATE;
}

static int default_cpu_fault(struct core *core, struct svm_range *r, uint64_t now,
			     uint64_t *retry_at)
{
	(void)core;
	if (r->dm && now < r->dm->timeslice_end) {
		*retry_at = r->dm->timeslice_end;
		return -ETIME;
	}
	return 0;
}

static struct devmem *default_evict_victim(struct core *core, struct pagemap *pm,
					   unsigned int pass, uint64_t stamp)
{
	uint64_t now = core_now(core);

	switch (pass) {
	case 0:
		return policy_lru_victim(pm, stamp, true, true, now);
	case 1:
		return policy_lru_victim(pm, stamp, false, false, now);
	case 2:
		return policy_lru_victim(pm, stamp, false, true, now);
	default:
		return NULL;
	}
}

static int default_evict_dest(struct core *core, struct svm_range *r,
			      const struct vamap_attrs *attrs, struct pagemap *from)
{
	uint64_t size = r->end - r->start;
	int pref = attrs->preferred_loc;
	unsigned int i;

	if (pref >= 0 && (unsigned int)pref < core->ndev && pref != from->id &&
	    pagemap_has_room(core->dev[pref], size))
		return pref;
	for (i = 0; i < core->ndev; i++)
		if ((attrs->accessed_by & (1ULL << i)) && (int)i != from->id &&
		    pagemap_has_room(core->dev[i], size))
			return (int)i;
	return LOC_HOST;
}

static void thrash_event(struct core *core, struct svm_range *r, enum event_type type, int loc)
{
	struct event ev = {
		.type = type,
		.svm = r->notifier->svm,
		.addr = r->start,
		.dst = loc,
	};

	core_emit(core, &ev);
}

static void default_migrated(struct core *core, struct svm_range *r, int from, int to,
			     uint64_t now)
{
	/* Each knob read whole: a reload (SIGHUP) may change them at any time. */
	const struct policy_config *cfg = &core->policy_cfg;
	uint64_t window_us = __atomic_load_n(&cfg->thrash_window_us, __ATOMIC_RELAXED);
	uint32_t threshold = __atomic_load_n(&cfg->thrash_threshold, __ATOMIC_RELAXED);
	struct svm_policy_state *st = &r->policy;

	(void)from;
	if (now - st->window_start > window_us * 1000ULL) {
		st->window_start = now;
		st->count = 0;
	}
	if (++st->count < threshold)
		return;
	/* Thrashing: keep it where it went for a while. */
	st->count = 0;
	st->window_start = now;
	st->throttled = 1;
	st->stay_until = now + ms_ns(__atomic_load_n(&cfg->throttle_ms, __ATOMIC_RELAXED));
	/* Eviction reads it under the pagemap lock only (pagemap.h). */
	if (to >= 0 && r->dm)
		__atomic_store_n(&r->dm->timeslice_end, st->stay_until, __ATOMIC_RELAXED);
	if (st->throttles < UINT16_MAX)
		st->throttles++;
	atomic_fetch_add(&core->stats.thrash_throttled, 1);
	thrash_event(core, r, EVENT_THROTTLE, to);
	if (st->throttles >= __atomic_load_n(&cfg->pin_threshold, __ATOMIC_RELAXED) &&
	    !st->pinned) {
		st->pinned = 1;
		st->pin_seen = now;
		atomic_fetch_add(&core->stats.thrash_pinned, 1);
		thrash_event(core, r, EVENT_PIN, to);
	}
}

static void default_advised(struct core *core, struct svm_range *r,
			    const struct vamap_attrs *attrs)
{
	(void)core;
	(void)attrs;
	r->policy = (struct svm_policy_state){ 0 };
}

const struct policy_ops policy_default_ops = {
	.name = "default",
	.device_fault = default_device_fault,
	.cpu_fault = default_cpu_fault,
	.evict_victim = default_evict_victim,
	.evict_dest = default_evict_dest,
	.migrated = default_migrated,
	.advised = default_advised,
};
