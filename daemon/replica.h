/* SPDX-License-Identifier: MIT */
#ifndef GSVM_REPLICA_H
#define GSVM_REPLICA_H

#include "core.h"
#include "migrate.h"
#include "svm.h"

struct devmem *replica_find(struct svm_range *r, struct pagemap *pm);
int replica_make(struct core *core, struct svm *svm, struct svm_range *r, struct pagemap *pm,
		 struct migrate_op *op, struct devmem **out);
int replica_drop_all(struct svm *svm, struct svm_range *r);
void replica_drop_one(struct svm *svm, struct svm_range *r, struct devmem *dm);

#endif
