/* SPDX-License-Identifier: MIT */
#ifndef GSVM_ADMIN_H
#define GSVM_ADMIN_H

#include <stdint.h>

#include "gsvm.pb-c.h"

struct session;

void admin_stats(struct session *s, uint64_t id);
void admin_clients(struct session *s, uint64_t id);
void admin_ranges(struct session *s, uint64_t id, const Gsvm__RangesReq *q);
void admin_evict(struct session *s, uint64_t id, const Gsvm__EvictReq *e);
int admin_device(struct session *s, const Gsvm__DeviceAdminReq *a);
void admin_events(struct session *s, uint64_t id, const Gsvm__EventsReq *e);

#endif
