/* SPDX-License-Identifier: MIT */
#ifndef GSVM_WIRE_H
#define GSVM_WIRE_H

#include <stddef.h>

#include "gsvm.pb-c.h"

/**
 * DOC: Wire framing
 *
 * One protobuf message per SOCK_SEQPACKET datagram, at most WIRE_MAX_MSG
 * bytes, with up to WIRE_MAX_FDS file descriptors as SCM_RIGHTS. Shared by
 * gsvmd and libgsvm so both ends frame messages the same way.
 */
#define WIRE_MAX_MSG (64UL * 1024)
#define WIRE_MAX_FDS 1

int wire_send(int sock, const void *buf, size_t len, const int *fds, int nfds);
int wire_recv(int sock, void *buf, size_t cap, size_t *len, int *fds, int *nfds);
int wire_send_request(int sock, const Gsvm__Request *req, const int *fds, int nfds);
int wire_send_response(int sock, const Gsvm__Response *resp);
size_t wire_pack_response(const Gsvm__Response *resp, void *buf, size_t cap);

#endif
