/* SPDX-License-Identifier: MIT */
#ifndef GSVM_CONFIG_H
#define GSVM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"

/* sizeof(((struct sockaddr_un *)0)->sun_path); checked in config.c */
#define CONFIG_SOCKET_MAX 108

/**
 * struct gsvmd_config - gsvmd's configuration
 * @core: Devices, range tracker knobs and timeslice for the core
 * @socket: Control socket path (absolute)
 * @socket_set: The configuration file set @socket (the command line may
 *              still override it; this says where the value came from)
 */
struct gsvmd_config {
	struct core_config core;
	char socket[CONFIG_SOCKET_MAX];
	bool socket_set;
};

void config_default(struct gsvmd_config *out);
int config_load(const char *path, struct gsvmd_config *out, char *err, size_t errlen);

#endif
