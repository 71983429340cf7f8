/* SPDX-License-Identifier: MIT */
#ifndef GSVM_POLICY_H
#define GSVM_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "pagemap.h"
#include "vamap.h"

struct core;
struct svm_range;

#define POLICY_NAME_MAX 16

/**
 * struct policy_config - Migration policy knobs
 * @name: Which policy: "default" or "explicit"
 * @thrash_threshold: Migrations of one range within @thrash_window_us that
 *                    count as thrashing (3)
 * @thrash_window_us: The thrash window (5000 us: a migration round trip of a
 *                    range costs tens of microseconds here, so three inside
 *                    5 ms means the range does little else than move)
 * @throttle_ms: Timeslice of a throttled range: how long it stays where it
 *               moved before an access may move it again (10 ms)
 * @pin_threshold: Throttles before a range is pinned where it is (3)
 * @pin_quiet_ms: Time without thrashing accesses after which a pin is lifted
 *                (300 ms)
 */
struct policy_config {
	char name[POLICY_NAME_MAX];
	uint32_t thrash_threshold;
	uint64_t thrash_window_us;
	uint64_t throttle_ms;
	uint32_t pin_threshold;
	uint64_t pin_quiet_ms;
};

/**
 * enum policy_action - What a device access does to the data
 * @POLICY_MIGRATE: Move the range to the destination first
 * @POLICY_REMOTE: Access the data where it is, no migration
 * @POLICY_REPLICATE: Read from a read-only copy on the accessing device,
 *                    made if missing; the data stays where it is
 */
enum policy_action {
	POLICY_MIGRATE,
	POLICY_REMOTE,
	POLICY_REPLICATE,
};

/**
 * struct policy_access - A device access to a range, as the policy sees it
 * @dev: The accessing device
 * @write: The access writes (FILL, ADD) rather than only reads (CHECKSUM)
 * @loc: Where the range's data is: a device id or LOC_HOST (mixed ranges
 *       report the device)
 * @attrs: The advice at the range
 * @now: Clock time
 */
struct policy_access {
	int dev;
	bool write;
	int loc;
	const struct vamap_attrs *attrs;
	uint64_t now;
};

/**
 * struct policy_ops - A migration policy: the decisions, not the mechanism
 *
 * The migration layer moves data; a policy decides when and where. Every
 * callback runs with the range's owning client's driver lock held and the
 * range idle, and must not block. Another policy is one new file that fills
 * this table.
 */
struct policy_ops {
	/** @name: As selected by [policy] name. */
	const char *name;
	/**
	 * @device_fault: Device @a->dev accesses @r. Return the action; for
	 * POLICY_MIGRATE store the destination device in @dest.
	 */
	enum policy_action (*device_fault)(struct core *core, struct svm_range *r,
					   const struct policy_access *a, int *dest);
	/**
	 * @cpu_fault: The CPU touches a device-resident page of @r (the data
	 * must come to host). Return 0 to migrate now, or -ETIME with the
	 * clock time to retry at in @retry_at.
	 */
	int (*cpu_fault)(struct core *core, struct svm_range *r, uint64_t now, uint64_t *retry_at);
	/**
	 * @evict_victim: Pick the allocation of @pm to evict next, on pass
	 * @pass (0, 1, 2: the policy may keep some victims for later passes);
	 * NULL when it has none on this pass. Called with @pm's lock held;
	 * allocations stamped @stamp belong to the operation asking for room
	 * and must not be picked.
	 */
	struct devmem *(*evict_victim)(struct core *core, struct pagemap *pm, unsigned int pass,
				       uint64_t stamp);
	/**
	 * @evict_dest: Where evicted (or unbound) data of @r leaves @from for:
	 * a device id, or LOC_HOST.
	 */
	int (*evict_dest)(struct core *core, struct svm_range *r, const struct vamap_attrs *attrs,
			  struct pagemap *from);
	/**
	 * @migrated: @r moved from @from to @to (device ids or LOC_HOST) at
	 * @now, because of an access (not a prefetch). For thrash detection.
	 */
	void (*migrated)(struct core *core, struct svm_range *r, int from, int to, uint64_t now);
	/**
	 * @advised: The advice at @r changed (@attrs is the new advice).
	 */
	void (*advised)(struct core *core, struct svm_range *r, const struct vamap_attrs *attrs);
};

extern const struct policy_ops policy_default_ops;
extern const struct policy_ops policy_explicit_ops;

void policy_config_default(struct policy_config *cfg);
const struct policy_ops *policy_find(const char *name);
struct devmem *policy_lru_victim(struct pagemap *pm, uint64_t stamp, bool replicas_only,
				 bool fresh_too, uint64_t now);

#endif
