/* SPDX-License-Identifier: MIT */
#ifndef GSVM_EVENTS_H
#define GSVM_EVENTS_H

#include <stdint.h>

struct gsvmd;
struct session;
struct event;

int events_init(struct gsvmd *d);
void events_fini(struct gsvmd *d);
int events_subscribe(struct gsvmd *d, struct session *s, uint64_t id, uint64_t count);
void events_unsubscribe(struct gsvmd *d, struct session *s);
void events_emit(struct gsvmd *d, struct event *ev);
uint64_t events_dropped(struct gsvmd *d);

#endif
