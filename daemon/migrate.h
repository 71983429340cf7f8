/* SPDX-License-Identifier: MIT */
#ifndef GSVM_MIGRATE_H
#define GSVM_MIGRATE_H

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

int migrate_to_device(struct core *core, struct svm *svm, struct svm_range *r,
		      struct pagemap *pm, enum migrate_cause cause, struct migrate_result *res);
int migrate_to_host(struct core *core, struct svm *svm, struct svm_range *r,
		    enum migrate_cause cause, struct migrate_result *res);
int migrate_cpu_fault(struct core *core, struct svm *svm, uint64_t addr, uint64_t *retry_at);
int migrate_wp_fault(struct core *core, struct svm *svm, uint64_t addr);
int migrate_remap(struct core *core, struct svm *svm, uint64_t from, uint64_t to, uint64_t len);
int migrate_collect(struct core *core, struct svm *svm);
int migrate_populate(struct core *core, struct svm *svm, uint64_t start, uint64_t len, int loc,
		     enum migrate_cause cause, struct migrate_result *res);
int migrate_evacuate_device(struct core *core, struct pagemap *pm);
int migrate_svm_to_host(struct core *core, struct svm *svm);
void migrate_release_all(struct core *core, struct svm *svm);
int migrate_unregister(struct core *core, struct svm *svm, uint64_t start, uint64_t len);

#endif
