/* SPDX-License-Identifier: MIT */
#ifndef GSVM_CLIENT_CONN_H
#define GSVM_CLIENT_CONN_H

#include <stdbool.h>

#include "gsvm.pb-c.h"

struct conn;

int conn_open(const char *path, struct conn **out);
void conn_close(struct conn *c);
int conn_call(struct conn *c, Gsvm__Request *req, int fd, Gsvm__Response **out);
bool conn_alive(struct conn *c);

#endif
