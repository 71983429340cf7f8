// SPDX-License-Identifier: MIT
/**
 * DOC: Migration policies
 *
 * The migration layer (migrate.c) knows how to move data; a policy decides
 * when and where, behind &struct policy_ops: what a device access does
 * (migrate, access remotely, read a replica), when a CPU fault may take
 * data home, which allocation a full device evicts and where it goes.
 *
 * Two policies ship: "default" (policy_default.c: first touch, advice,
 * eviction to peers, thrash control) and "explicit" (policy_explicit.c: data
 * moves only when the client prefetches it). Selected by [policy] name.
 */
#include <string.h>

#include "core.h"
#include "policy.h"

static const struct policy_ops *const policies[] = {
	&policy_default_ops,
	&policy_explicit_ops,
};

/**
 * policy_config_default() - The default policy and its knobs
 * @cfg: Receives "default", thrash at 3 migrations in 5 ms, a 10 ms
 *       throttle, a pin after 3 throttles, lifted after 300 ms of quiet
 */
void policy_config_default(struct policy_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->name, "default");
	cfg->thrash_threshold = 3;
	cfg->thrash_window_us = 5000;
	cfg->throttle_ms = 10;
	cfg->pin_threshold = 3;
	cfg->pin_quiet_ms = 300;
}

/**
 * policy_find() - A policy by name
 * @name: "default" or "explicit"
 *
 * Return: its ops, or NULL.
 */
const struct policy_ops *policy_find(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(policies) / sizeof(policies[0]); i++)
		if (!strcmp(policies[i]->name, name))
			return policies[i];
	return NULL;
}

/**
 * policy_lru_victim() - The least recently used allocation that qualifies
 * @pm: The device; its lock is held
 * @stamp: Skip allocations placed by this operation
 * @replicas_only: Only replicas qualify
 * @fresh_too: Allocations still inside their timeslice qualify
 * @now: Clock time
 *
 * Return: the allocation, or NULL.
 */
struct devmem *policy_lru_victim(struct pagemap *pm, uint64_t stamp, bool replicas_only,
				 bool fresh_too, uint64_t now)
{
	struct devmem *dm;

	/*
	 * @stamp, @replica and @timeslice_end belong to the owning client's
	 * driver lock, which is not held here: read them atomically (pagemap.h).
	 */
	TAILQ_FOREACH(dm, &pm->lru, lru_link) {
		if (!dm->owner || (stamp && __atomic_load_n(&dm->stamp, __ATOMIC_RELAXED) == stamp))
			continue;
		if (replicas_only && !__atomic_load_n(&dm->replica, __ATOMIC_RELAXED))
			continue;
		if (!fresh_too && now < __atomic_load_n(&dm->timeslice_end, __ATOMIC_RELAXED))
			continue;
		return dm;
	}
	return NULL;
}
