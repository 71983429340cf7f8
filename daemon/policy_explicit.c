// SPDX-License-Identifier: MIT
/**
 * DOC: The explicit policy
 *
 * Data moves only when the client asks (gsvm_prefetch()): a device
 * accesses data where it is, and only the CPU, which cannot reach device
 * memory, brings it home when it touches it. A full device evicts its least
 * recently used allocation to host. Advice is kept but does not change
 * placement.
 */
#include <errno.h>

#include "core.h"
#include "policy.h"

static enum policy_action explicit_device_fault(struct core *core, struct svm_range *r,
						const struct policy_access *a, int *dest)
{
	(void)core;
	(void)r;
	(void)a;
	(void)dest;
	return POLICY_REMOTE;
}

static int explicit_cpu_fault(struct core *core, struct svm_range *r, uint64_t now,
			      uint64_t *retry_at)
{
	(void)core;
	(void)r;
	(void)now;
	(void)retry_at;
	return 0;
}

static struct devmem *explicit_evict_victim(struct core *core, struct pagemap *pm,
					    unsigned int pass, uint64_t stamp)
{
	(void)core;
	return pass ? NULL : policy_lru_victim(pm, stamp, false, true, 0);
}

static int explicit_evict_dest(struct core *core, struct svm_range *r,
			       const struct vamap_attrs *attrs, struct pagemap *from)
{
	(void)core;
	(void)r;
	(void)attrs;
	(void)from;
	return LOC_HOST;
}

static void explicit_migrated(struct core *core, struct svm_range *r, int from, int to,
			      uint64_t now)
{
	(void)core;
	(void)r;
	(void)from;
	(void)to;
	(void)now;
}

static void explicit_advised(struct core *core, struct svm_range *r,
			     const struct vamap_attrs *attrs)
{
	(void)core;
	(void)r;
	(void)attrs;
}

const struct policy_ops policy_explicit_ops = {
	.name = "explicit",
	.device_fault = explicit_device_fault,
	.cpu_fault = explicit_cpu_fault,
	.evict_victim = explicit_evict_victim,
	.evict_dest = explicit_evict_dest,
	.migrated = explicit_migrated,
	.advised = explicit_advised,
};
