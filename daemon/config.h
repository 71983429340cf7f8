/* SPDX-License-Identifier: MIT */
#ifndef GSVM_CONFIG_H
#define GSVM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"

/* sizeof(((struct sockaddr_un *)0)->sun_path); checked in config.c */
#define CONFIG_SOCKET_MAX 108
#define CONFIG_GROUP_MAX 64
#define CONFIG_SHIM_MAX 16
/* INET6_ADDRSTRLEN; checked in config.c */
#define CONFIG_HOST_MAX 46

/**
 * struct config_endpoint - Where an optional endpoint listens
 * @text: The value as written, for messages; "" when the endpoint is off
 * @path: An absolute Unix socket path, or "" for TCP
 * @host: A numeric IPv4 or IPv6 address (without brackets), for TCP
 * @port: The TCP port, 1 to 65535
 */
struct config_endpoint {
	char text[CONFIG_SOCKET_MAX];
	char path[CONFIG_SOCKET_MAX];
	char host[CONFIG_HOST_MAX];
	unsigned short port;
};

/**
 * struct gsvmd_config - gsvmd's configuration
 * @core: Devices, range tracker knobs and timeslice for the core
 * @socket: Control socket path (absolute)
 * @socket_set: The configuration file set @socket (the command line may
 *              still override it; this says where the value came from)
 * @admin_group: Members of this group (and root) may use the admin
 *               requests: evict, unbind, rebind, other users' ranges, events
 * @metrics: The Prometheus endpoint (metrics.c); off by default
 * @drm_auto: [daemon] drm = auto: every DRM card found that no device
 *            section names becomes a drm device of @drm_capacity
 * @drm_capacity: Capacity of those devices
 * @drm_found: Card nodes found when @drm_auto (0: gsvmd says so and runs
 *             with the other devices)
 * @shim: The fault shims clients may use: "auto" (the one the client
 *        chose: the kernel module's when /dev/gsvm-shim exists, else
 *        userfaultfd), "userfaultfd" or "kmod" (only that one)
 */
struct gsvmd_config {
	struct core_config core;
	char socket[CONFIG_SOCKET_MAX];
	bool socket_set;
	char admin_group[CONFIG_GROUP_MAX];
	struct config_endpoint metrics;
	bool drm_auto;
	uint64_t drm_capacity;
	unsigned int drm_found;
	char shim[CONFIG_SHIM_MAX];
};

void config_default(struct gsvmd_config *out);
int config_load(const char *path, struct gsvmd_config *out, char *err, size_t errlen);

#endif
