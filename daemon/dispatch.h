/* SPDX-License-Identifier: MIT */
#ifndef GSVM_DISPATCH_H
#define GSVM_DISPATCH_H

#include <stdint.h>

#include "gsvm.pb-c.h"

struct session;

void dispatch_request(struct session *s, Gsvm__Request *req, int fd);
void dispatch_error(struct session *s, uint64_t id, int err);

#endif
