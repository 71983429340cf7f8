/* SPDX-License-Identifier: MIT */
#ifndef GSVM_METRICS_H
#define GSVM_METRICS_H

struct evbuffer;
struct gsvmd;
struct metrics;
struct stats_snapshot;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

int metrics_start(struct gsvmd *d, struct metrics **out);
void metrics_stop(struct metrics *m);
int metrics_render(const struct stats_snapshot *st, struct evbuffer *out);

#endif
