/* SPDX-License-Identifier: MIT */
#ifndef GSVM_MIGRATE_H
#define GSVM_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "pagemap.h"
#include "svm.h"

/**
 * struct migrate_result - What a best-effort migration did
 * @requested: Bytes asked for
 * @migrated: Bytes this call moved to the destination
 * @in_place: Bytes that were already there
 * @failed: Bytes left where they were (device full, copy error)
 * @error: First error met, 0 if none
 */
struct migrate_result {
	uint64_t requested;
	uint64_t migrated;
	uint64_t in_place;
	uint64_t failed;
	int error;
};

/**
 * enum migrate_cause - Why data moved (for events and statistics)
 */
enum migrate_cause {
	MIGRATE_PREFETCH,
	MIGRATE_DEVICE_FAULT,
	MIGRATE_CPU_FAULT,
	MIGRATE_EVICTION,
	MIGRATE_UNBIND,
};

/**
 * struct migrate_op - One operation that moves data (a prefetch, a device
 * op, an eviction, ...)
 * @cause: Why (statistics, events)
 * @stamp: Device allocations it places are stamped with it; making room on a
 *         full device for this operation never evicts them
 * @no_evict: Do not evict to make room (used by eviction itself)
 * @res: What it did
 */
struct migrate_op {
	enum migrate_cause cause;
	uint64_t stamp;
	bool no_evict;
	struct migrate_result res;
};

void migrate_op_init(struct migrate_op *op, struct core *core, enum migrate_cause cause);
int migrate_alloc_devmem(struct core *core, struct pagemap *pm, struct svm_range *r,
			 struct migrate_op *op, struct devmem **out);
int migrate_owned_to_device(struct core *core, struct svm *svm, struct svm_range *r,
			    struct pagemap *pm, struct migrate_op *op);
int migrate_to_device(struct core *core, struct svm *svm, struct svm_range *r,
		      struct pagemap *pm, struct migrate_op *op);
int migrate_to_host(struct core *core, struct svm *svm, struct svm_range *r,
		    struct migrate_op *op);
int migrate_cpu_fault(struct core *core, struct svm *svm, uint64_t addr, uint64_t *retry_at);
int migrate_wp_fault(struct core *core, struct svm *svm, uint64_t addr);
int migrate_remap(struct core *core, struct svm *svm, uint64_t from, uint64_t to, uint64_t len);
int migrate_collect(struct core *core, struct svm *svm);
int migrate_populate(struct core *core, struct svm *svm, uint64_t start, uint64_t len, int loc,
		     struct migrate_op *op);
int migrate_evacuate_device(struct core *core, struct pagemap *pm);
int migrate_svm_to_host(struct core *core, struct svm *svm);
void migrate_release_all(struct core *core, struct svm *svm);
int migrate_unregister(struct core *core, struct svm *svm, uint64_t start, uint64_t len);

#endif
