/* SPDX-License-Identifier: MIT */
#ifndef GSVM_ADVISE_H
#define GSVM_ADVISE_H

#include <stdint.h>

#include "core.h"
#include "svm.h"

/* Same values as enum gsvm_advice in gsvm.h. */
enum advice {
	ADVISE_SET_PREFERRED_LOCATION,
	ADVISE_UNSET_PREFERRED_LOCATION,
	ADVISE_SET_ACCESSED_BY,
	ADVISE_UNSET_ACCESSED_BY,
	ADVISE_SET_READ_MOSTLY,
	ADVISE_UNSET_READ_MOSTLY,
	ADVISE_NR,
};

int advise_apply(struct core *core, struct svm *svm, uint64_t start, uint64_t len,
		 enum advice advice, int dev);

#endif
