/* SPDX-License-Identifier: MIT */
#ifndef GSVM_DRMDEV_H
#define GSVM_DRMDEV_H

#include <stddef.h>

#include "pagemap.h"

/**
 * DOC: DRM device provider ("drm")
 *
 * A drm device is a DRM card node (/dev/dri/cardN) whose memory gsvmd takes
 * as GEM buffers. The pool is the configured capacity in dumb buffers
 * (DRM_IOCTL_MODE_CREATE_DUMB) of DRM_CHUNK_SIZE bytes each, the last one
 * smaller; each is mapped (DRM_IOCTL_MODE_MAP_DUMB and mmap of the card) into
 * one reserved, contiguous stretch of gsvmd's address space, so the pool has
 * a single CPU view like a sim pool, and the buddy allocator carves it the
 * same way. Copies to and from host memory go through that view (memcpy, and
 * pread() from a client's memfd).
 *
 * Peer copies between two drm pools go through PRIME: the source pool's
 * buffers are exported as dma-bufs (drmPrimeHandleToFD) and imported into
 * the destination's card (drmPrimeFDToHandle), each once, then cached; the
 * copy reads the source through its dma-bufs' mapping, bracketed by
 * DMA_BUF_IOCTL_SYNC. Dumb buffers have no copy engine, so the CPU moves the
 * bytes; the import is what the destination device holds of the source's
 * memory, the attachment a driver with a copy engine would copy from. When
 * the destination cannot import (virtio-gpu of 6.1 and 6.12 imports no foreign
 * dma-buf: -ENODEV) the copy still reads the source's dma-bufs, without an
 * import; when the source cannot export or its dma-bufs cannot be mapped,
 * the copy reads the source pool's own view. Each is reported once. Copies
 * between a drm and a sim pool go through the CPU views (migrate.c's generic
 * path).
 *
 * drm_provider_ops is the provider ops table; programs that link this file
 * register it (pagemap_provider_register()) before reading a configuration:
 * the core does not name it, so it pulls no libdrm into the core's tests.
 */

/* Size of each dumb buffer of a pool (the last one may be smaller). */
#define DRM_CHUNK_SIZE (16ULL << 20)
/* Where card nodes live; a configuration names nodes under it only. */
#define DRM_NODE_DIR "/dev/dri"
/* Most card nodes drm_discover() reports. */
#define DRM_DISCOVER_MAX 16

/**
 * struct drm_node_info - What a card node is
 * @node: Its path, "/dev/dri/card0"
 * @driver: The DRM driver's name, "vgem", "virtio_gpu"
 * @bus: Where the device sits: "pci:0000:00:02.0", "platform:vgem", "virtual"
 */
struct drm_node_info {
	char node[PAGEMAP_NODE_MAX];
	char driver[PAGEMAP_DRIVER_MAX];
	char bus[PAGEMAP_BUS_MAX];
};

int drm_probe(const char *node, struct drm_node_info *out);
int drm_discover(struct drm_node_info *out, unsigned int max, unsigned int *n);

#endif
