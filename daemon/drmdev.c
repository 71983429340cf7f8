// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "devblocks.h"
#include "drmdev.h"
#include "log.h"
#include "mem.h"
#include "pagemap.h"

/**
 * DOC: DRM pool internals
 *
 * Fixed after drm_create(), read without a lock: @fd, @base, @capacity,
 * @nbufs, each buffer's @handle, @size and @off, @serial. The card's fd is
 * O_CLOEXEC; gsvmd forks nothing, but a client never inherits device memory.
 *
 * Which blocks are allocated is @blocks's (devblocks.c, its own lock). @lock
 * protects the PRIME export state (@prime, each
 * buffer's @dmabuf) and the import table. Exports are made once, on the
 * first peer copy out of the pool, and stay until the pool is destroyed; a
 * dma-buf fd and its mapping never change once set, so a copy reads them
 * after dropping the lock. Imports are recorded in the destination pool,
 * one entry per source pool (by @serial, which, unlike the pool's address,
 * is never reused), so a source destroyed by a pool-cache shrink never has
 * its stale entry matched. Imported handles keep the source's memory
 * alive until the entry goes (the table is bounded; the oldest entry is
 * closed when it is full) or the destination is destroyed. The two pools'
 * locks are never held together.
 *
 * The pool's memory is undefined on allocation, like sim's and VRAM: the
 * pagemap layer's users write every byte before reading any.
 */

#define DRM_PAGE 4096ULL
/* Dumb buffers are width x height at 32 bpp: rows of one page. */
#define DRM_DUMB_WIDTH 1024U
#define DRM_DUMB_BPP 32U
#define DRM_IMPORTS_MAX PAGEMAP_MAX_DEVICES
/* The DRM character devices' major number. */
#define DRM_MAJOR 226U

/**
 * struct drm_buf - One dumb buffer of a pool
 * @handle: Its GEM handle on the pool's card
 * @size: Bytes of it in the pool (a multiple of 4 KiB)
 * @off: Its offset in the pool
 * @dmabuf: Its PRIME export, or -1 until the first peer copy out of the pool
 */
struct drm_buf {
	uint32_t handle;
	uint64_t size;
	uint64_t off;
	int dmabuf;
};

/**
 * struct drm_import - A source pool's buffers imported into this pool's card
 * @serial: The source pool's serial
 * @handles: One GEM handle per source buffer, 0 where none was made
 * @n: Entries in @handles
 * @err: 0, or the errno of the import that failed (nothing is retried)
 */
struct drm_import {
	uint64_t serial;
	uint32_t *handles;
	unsigned int n;
	int err;
};

/**
 * struct drm_pool - One DRM device's memory
 * @fd: The card node, open O_RDWR
 * @name: The device's name, for messages
 * @base: The CPU view: every buffer mapped in order, @capacity bytes
 * @capacity: Bytes
 * @bufs: The dumb buffers
 * @nbufs: Entries in @bufs
 * @serial: Unique among the pools of this process
 * @lock: See DOC
 * @blocks: The allocated blocks of [0, @capacity)
 * @prime: The source view for peer copies: the dma-bufs mapped in order,
 *         @base when they cannot be mapped, NULL until the first export
 * @prime_mapped: @prime is a mapping of its own (unmapped on destroy)
 * @imports: Sources imported into this card
 * @nimports: Entries in @imports
 */
struct drm_pool {
	int fd;
	char name[PAGEMAP_NAME_MAX];
	uint8_t *base;
	uint64_t capacity;
	struct drm_buf *bufs;
	unsigned int nbufs;
	uint64_t serial;
	pthread_mutex_t lock;
	struct devblocks blocks;
	uint8_t *prime;
	bool prime_mapped;
	struct drm_import imports[DRM_IMPORTS_MAX];
	unsigned int nimports;
};

static atomic_uint_fast64_t drm_serial;

static bool drm_range_ok(const struct drm_pool *p, uint64_t off, uint64_t len)
{
	return devblocks_range_ok(&p->blocks, off, len);
}

/* Copy @src into @dst (of @size), truncated; never overflows. */
static void drm_copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%.*s", (int)(size - 1), src);
}

/* ---- Finding and describing card nodes ---- */

/*
 * The bus of a card libdrm cannot describe (vgem is a platform device
 * without a device-tree node, which drmGetDevice2() refuses): sysfs's
 * subsystem and device name, or "virtual" when there is no device.
 */
static void drm_sysfs_bus(unsigned int minor, char *bus, size_t len)
{
	char path[96], dev[PATH_MAX], subsys[PATH_MAX];
	const char *d, *b;
	ssize_t n, m;

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/device", DRM_MAJOR, minor);
	n = readlink(path, dev, sizeof(dev) - 1);
	if (n <= 0) {
		drm_copy_str(bus, len, "virtual");
		return;
	}
	dev[n] = '\0';
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/device/subsystem", DRM_MAJOR, minor);
	m = readlink(path, subsys, sizeof(subsys) - 1);
	subsys[m > 0 ? m : 0] = '\0';
	d = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
	b = strrchr(subsys, '/') ? strrchr(subsys, '/') + 1 : subsys;
	snprintf(bus, len, "%.20s:%.40s", *b ? b : "virtual", d);
}

/* The bus of a device libdrm describes, "pci:0000:00:02.0"; false if none. */
static bool drm_libdrm_bus(const drmDevice *dev, char *bus, size_t len)
{
	const drmPciBusInfo *pci;

	switch (dev->bustype) {
	case DRM_BUS_PCI:
		pci = dev->businfo.pci;
		snprintf(bus, len, "pci:%04x:%02x:%02x.%u", pci->domain, pci->bus, pci->dev,
			 pci->func);
		return true;
	case DRM_BUS_USB:
		snprintf(bus, len, "usb:%u:%u", dev->businfo.usb->bus, dev->businfo.usb->dev);
		return true;
	case DRM_BUS_PLATFORM:
		snprintf(bus, len, "platform:%.50s", dev->businfo.platform->fullname);
		return true;
	case DRM_BUS_HOST1X:
		snprintf(bus, len, "host1x:%.50s", dev->businfo.host1x->fullname);
		return true;
	default:
		return false;
	}
}

/*
 * Is @node a DRM character device? Checked before opening it, so that a
 * configuration never makes gsvmd open some other device.
 * Return: 0 and its minor, -ENOENT and stat()'s other errors, -ENODEV.
 */
static int drm_node_stat(const char *node, unsigned int *minor)
{
	struct stat st;

	if (stat(node, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != DRM_MAJOR)
		return -ENODEV;
	*minor = minor(st.st_rdev);
	return 0;
}

/*
 * Can the driver make dumb buffers? Asked by making a one-page one:
 * DRM_CAP_DUMB_BUFFER is answered by KMS drivers only, and vgem, which has
 * no KMS, makes them.
 */
static bool drm_has_dumb(int fd)
{
	struct drm_mode_create_dumb create = {
		.width = DRM_DUMB_WIDTH,
		.height = 1,
		.bpp = DRM_DUMB_BPP,
	};
	struct drm_mode_destroy_dumb destroy = { 0 };

	if (drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &create))
		return false;
	destroy.handle = create.handle;
	drmIoctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
	return true;
}

/* Open a card node: a primary node whose driver has dumb buffers. */
static int drm_open_card(const char *node)
{
	unsigned int minor;
	int fd, err;

	err = drm_node_stat(node, &minor);
	if (err)
		return err;
	fd = open(node, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (drmGetNodeTypeFromFd(fd) != DRM_NODE_PRIMARY) {
		err = -EINVAL;
		goto err;
	}
	if (!drm_has_dumb(fd)) {
		err = -EOPNOTSUPP;
		goto err;
	}
	return fd;
err:
	close(fd);
	return err;
}

/**
 * drm_probe() - Check a card node and describe it
 * @node: Its path, e.g. "/dev/dri/card0"
 * @out: Receives the node, its driver's name and its bus
 *
 * Opens the node (a DRM character device is checked first with stat(), so
 * nothing else is ever opened), asks the driver's name (drmGetVersion()) and
 * the bus (drmGetDevice2(), else sysfs), and closes it.
 *
 * Return: 0; -ENAMETOOLONG for a path longer than PAGEMAP_NODE_MAX - 1;
 * -ENOENT, -EACCES (stat() or open()); -ENODEV when it is not a DRM device;
 * -EINVAL for a render or control node (dumb buffers need a card node);
 * -EOPNOTSUPP when the driver has no dumb buffers; -ENOMEM.
 */
int drm_probe(const char *node, struct drm_node_info *out)
{
	drmVersionPtr ver;
	drmDevicePtr dev;
	unsigned int minor = 0;
	int fd, err;

	if (!node || !out)
		return -EINVAL;
	if (strlen(node) >= sizeof(out->node))
		return -ENAMETOOLONG;
	err = drm_node_stat(node, &minor);
	if (err)
		return err;
	fd = drm_open_card(node);
	if (fd < 0)
		return fd;
	memset(out, 0, sizeof(*out));
	drm_copy_str(out->node, sizeof(out->node), node);
	ver = drmGetVersion(fd);
	if (!ver) {
		err = -ENOMEM;
		goto out;
	}
	drm_copy_str(out->driver, sizeof(out->driver), ver->name);
	drmFreeVersion(ver);
	if (!drmGetDevice2(fd, 0, &dev)) {
		if (!drm_libdrm_bus(dev, out->bus, sizeof(out->bus)))
			drm_sysfs_bus(minor, out->bus, sizeof(out->bus));
		drmFreeDevice(&dev);
	} else {
		drm_sysfs_bus(minor, out->bus, sizeof(out->bus));
	}
out:
	close(fd);
	return err;
}

/* Add @node to @out unless it is there; probe failures are left out. */
static void drm_discover_add(const char *node, struct drm_node_info *out, unsigned int max,
			     unsigned int *n)
{
	unsigned int i;
	int err;

	for (i = 0; i < *n; i++)
		if (!strcmp(out[i].node, node))
			return;
	if (*n == max)
		return;
	err = drm_probe(node, &out[*n]);
	if (err) {
		log_info("%s: not usable: %s", node, strerror(-err));
		return;
	}
	(*n)++;
}

/* Order by minor number: card2 before card10. */
static int drm_node_cmp(const void *a, const void *b)
{
	const struct drm_node_info *x = a, *y = b;
	unsigned long u = strtoul(x->node + strcspn(x->node, "0123456789"), NULL, 10);
	unsigned long v = strtoul(y->node + strcspn(y->node, "0123456789"), NULL, 10);

	return u < v ? -1 : u > v;
}

/**
 * drm_discover() - Find the machine's DRM card nodes
 * @out: Receives up to @max card nodes, described as by drm_probe()
 * @max: Entries in @out
 * @n: Receives how many were found
 *
 * Asks libdrm (drmGetDevices2()) for the devices and takes each one's card
 * node, then adds the card nodes of /dev/dri that libdrm could not describe
 * (it lists no platform device without a device-tree node, such as vgem).
 * Nodes that drm_probe() refuses (no dumb buffers, no permission) are left
 * out with a message. The list is ordered by minor number.
 *
 * Return: 0 (also when there is no DRM device: *@n is 0); -EINVAL.
 */
int drm_discover(struct drm_node_info *out, unsigned int max, unsigned int *n)
{
	drmDevicePtr devs[DRM_DISCOVER_MAX];
	char node[PAGEMAP_NODE_MAX];
	struct dirent *de;
	DIR *dir;
	int i, ndev;

	if (!out || !n)
		return -EINVAL;
	*n = 0;
	ndev = drmGetDevices2(0, devs, DRM_DISCOVER_MAX);
	for (i = 0; i < ndev; i++) {
		if (devs[i]->available_nodes & (1 << DRM_NODE_PRIMARY))
			drm_discover_add(devs[i]->nodes[DRM_NODE_PRIMARY], out, max, n);
	}
	if (ndev > 0)
		drmFreeDevices(devs, ndev);
	dir = opendir(DRM_NODE_DIR);
	if (dir) {
		while ((de = readdir(dir))) {
			if (strncmp(de->d_name, "card", 4) != 0 || strlen(de->d_name) > 16 ||
			    strspn(de->d_name + 4, "0123456789") != strlen(de->d_name + 4) ||
			    !de->d_name[4])
				continue;
			snprintf(node, sizeof(node), "%s/%.16s", DRM_NODE_DIR, de->d_name);
			drm_discover_add(node, out, max, n);
		}
		closedir(dir);
	}
	qsort(out, *n, sizeof(*out), drm_node_cmp);
	return 0;
}

/* ---- The pool ---- */

static void drm_gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close arg = { .handle = handle };

	if (handle)
		drmIoctl(fd, DRM_IOCTL_GEM_CLOSE, &arg);
}

static void drm_import_drop(struct drm_pool *p, struct drm_import *imp)
{
	unsigned int i;

	for (i = 0; i < imp->n; i++)
		drm_gem_close(p->fd, imp->handles[i]);
	mem_free(imp->handles);
	memset(imp, 0, sizeof(*imp));
}

static void drm_destroy(void *pool)
{
	struct drm_pool *p = pool;
	struct drm_mode_destroy_dumb destroy;
	unsigned int i;

	if (!p)
		return;
	for (i = 0; i < p->nimports; i++)
		drm_import_drop(p, &p->imports[i]);
	if (p->prime_mapped)
		munmap(p->prime, p->capacity);
	if (p->base != MAP_FAILED)
		munmap(p->base, p->capacity);
	for (i = 0; p->bufs && i < p->nbufs; i++) {
		if (p->bufs[i].dmabuf >= 0)
			close(p->bufs[i].dmabuf);
		destroy.handle = p->bufs[i].handle;
		if (destroy.handle)
			drmIoctl(p->fd, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
	}
	mem_free(p->bufs);
	if (p->fd >= 0)
		close(p->fd);
	devblocks_fini(&p->blocks);
	pthread_mutex_destroy(&p->lock);
	mem_free(p);
}

/* Create buffer @b (its @size and @off set) and map it at its place in @base. */
static int drm_buf_create(struct drm_pool *p, struct drm_buf *b)
{
	struct drm_mode_create_dumb create = {
		.width = DRM_DUMB_WIDTH,
		.height = (uint32_t)(b->size / DRM_PAGE),
		.bpp = DRM_DUMB_BPP,
	};
	struct drm_mode_map_dumb map = { 0 };
	void *at;

	if (drmIoctl(p->fd, DRM_IOCTL_MODE_CREATE_DUMB, &create))
		return -errno;
	b->handle = create.handle;
	if (create.size < b->size)
		return -ENOSPC;
	map.handle = b->handle;
	if (drmIoctl(p->fd, DRM_IOCTL_MODE_MAP_DUMB, &map))
		return -errno;
	at = mmap(p->base + b->off, b->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, p->fd,
		  (off_t)map.offset);
	if (at == MAP_FAILED)
		return -errno;
	return 0;
}

/* Reserve the CPU view, then fill it with dumb buffers up to the capacity. */
static int drm_pool_fill(struct drm_pool *p)
{
	uint64_t off = 0;
	unsigned int i;
	int err;

	p->nbufs = (unsigned int)((p->capacity + DRM_CHUNK_SIZE - 1) / DRM_CHUNK_SIZE);
	p->bufs = mem_zalloc(p->nbufs * sizeof(*p->bufs));
	if (!p->bufs)
		return -ENOMEM;
	for (i = 0; i < p->nbufs; i++)
		p->bufs[i].dmabuf = -1;
	/* PROT_NONE until each buffer is mapped over its part. */
	p->base = mmap(NULL, p->capacity, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p->base == MAP_FAILED)
		return -errno;
	for (i = 0; i < p->nbufs; i++) {
		p->bufs[i].off = off;
		p->bufs[i].size = p->capacity - off < DRM_CHUNK_SIZE ? p->capacity - off :
								       DRM_CHUNK_SIZE;
		err = drm_buf_create(p, &p->bufs[i]);
		if (err)
			return err;
		off += p->bufs[i].size;
	}
	return 0;
}

/**
 * drm_create() - Open a card and take a pool of dumb buffers from it
 * @cfg: Configuration: @cfg->node names the card; @cfg->capacity is a
 *       non-zero multiple of 4096
 * @pool: Receives the pool; untouched on error
 *
 * Return: 0; -EINVAL for a NULL argument, no node or a bad capacity; the
 * errors of drm_probe() for the node; the driver's error creating or
 * mapping a buffer (-ENOMEM, -ENOSPC when it made a smaller one); -ENOMEM.
 */
static int drm_create(const struct pagemap_config *cfg, void **pool)
{
	struct drm_pool *p;
	int err;

	if (!cfg || !pool || !cfg->node[0] || !cfg->capacity || cfg->capacity % DRM_PAGE ||
	    cfg->capacity > (uint64_t)INT64_MAX || cfg->capacity > SIZE_MAX)
		return -EINVAL;
	p = mem_zalloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	err = -pthread_mutex_init(&p->lock, NULL);
	if (err) {
		mem_free(p);
		return err;
	}
	p->base = MAP_FAILED;
	p->capacity = cfg->capacity;
	p->serial = atomic_fetch_add(&drm_serial, 1) + 1;
	drm_copy_str(p->name, sizeof(p->name), cfg->name);
	p->fd = drm_open_card(cfg->node);
	if (p->fd < 0) {
		err = p->fd;
		goto err;
	}
	err = devblocks_init(&p->blocks, p->capacity, DRM_PAGE);
	if (err)
		goto err;
	err = drm_pool_fill(p);
	if (err)
		goto err;
	*pool = p;
	return 0;
err:
	drm_destroy(p);
	return err;
}

/**
 * drm_alloc() - Allocate device memory (contents undefined)
 * @pool: Pool
 * @size: Bytes, rounded up to a power of two of at least 4 KiB
 * @dev_off: Receives the offset
 *
 * Return: 0; -ENOSPC when no block is free; -EINVAL for a NULL argument, a
 * zero size or one larger than any block of the pool.
 */
static int drm_alloc(void *pool, uint64_t size, uint64_t *dev_off)
{
	struct drm_pool *p = pool;

	if (!p || !dev_off)
		return -EINVAL;
	return devblocks_alloc(&p->blocks, size, dev_off);
}

/**
 * drm_release() - Free device memory; the buffers stay for reuse
 * @pool: Pool
 * @dev_off: Offset from drm_alloc()
 * @size: Ignored (the allocator knows the block's size)
 *
 * An offset that is not an allocated block is ignored.
 */
static void drm_release(void *pool, uint64_t dev_off, uint64_t size)
{
	struct drm_pool *p = pool;

	(void)size;
	if (p)
		devblocks_release(&p->blocks, dev_off);
}

/**
 * drm_map() - CPU pointer to device memory
 * @pool: Pool
 * @dev_off: Offset
 * @len: Bytes the caller will access
 *
 * Return: the pointer into the pool's view, valid until the pool is
 * destroyed; NULL when the range is empty or not inside the pool.
 */
static void *drm_map(void *pool, uint64_t dev_off, uint64_t len)
{
	struct drm_pool *p = pool;

	if (!p || !drm_range_ok(p, dev_off, len))
		return NULL;
	return p->base + dev_off;
}

/**
 * drm_copy_to_dev() - Copy host memory to the device
 * @pool: Pool
 * @dev_off: Destination offset
 * @src: Host source
 * @len: Bytes
 *
 * Return: 0; -EINVAL for a NULL argument, zero @len or a range outside the
 * pool.
 */
static int drm_copy_to_dev(void *pool, uint64_t dev_off, const void *src, uint64_t len)
{
	struct drm_pool *p = pool;

	if (!p || !src || !drm_range_ok(p, dev_off, len))
		return -EINVAL;
	memcpy(p->base + dev_off, src, len);
	return 0;
}

/**
 * drm_copy_fd_to_dev() - Copy part of a file (a client's memfd) to the device
 * @pool: Pool
 * @dev_off: Destination offset
 * @fd: The file
 * @off: Offset in it
 * @len: Bytes
 *
 * pread() straight into the buffers' mapping: gsvmd maps none of the
 * client's pages. Holes read as zeros.
 *
 * Return: 0; -EINVAL for a bad argument or a range outside the pool; -EIO
 * when the file is shorter; pread()'s error.
 */
static int drm_copy_fd_to_dev(void *pool, uint64_t dev_off, int fd, uint64_t off, uint64_t len)
{
	struct drm_pool *p = pool;
	uint64_t done = 0;
	ssize_t n;

	if (!p || fd < 0 || !drm_range_ok(p, dev_off, len))
		return -EINVAL;
	while (done < len) {
		n = pread(fd, p->base + dev_off + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (uint64_t)n;
	}
	return 0;
}

/**
 * drm_copy_to_host() - Copy device memory to the host
 * @pool: Pool
 * @dst: Host destination
 * @dev_off: Source offset
 * @len: Bytes
 *
 * Return: 0; -EINVAL for a NULL argument, zero @len or a range outside the
 * pool.
 */
static int drm_copy_to_host(void *pool, void *dst, uint64_t dev_off, uint64_t len)
{
	struct drm_pool *p = pool;

	if (!p || !dst || !drm_range_ok(p, dev_off, len))
		return -EINVAL;
	memcpy(dst, p->base + dev_off, len);
	return 0;
}

/**
 * drm_clear() - Zero device memory
 * @pool: Pool
 * @dev_off: Offset
 * @len: Bytes
 *
 * Return: 0; -EINVAL for a NULL pool, zero @len or a range outside the pool.
 */
static int drm_clear(void *pool, uint64_t dev_off, uint64_t len)
{
	struct drm_pool *p = pool;

	if (!p || !drm_range_ok(p, dev_off, len))
		return -EINVAL;
	memset(p->base + dev_off, 0, len);
	return 0;
}

/* ---- Peer copies through PRIME ---- */

/* Map every export of @p, in order, read-only. Return: the view or NULL. */
static uint8_t *drm_prime_map(struct drm_pool *p)
{
	uint8_t *view;
	unsigned int i;

	view = mmap(NULL, p->capacity, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		    0);
	if (view == MAP_FAILED)
		return NULL;
	for (i = 0; i < p->nbufs; i++) {
		if (mmap(view + p->bufs[i].off, p->bufs[i].size, PROT_READ, MAP_SHARED | MAP_FIXED,
			 p->bufs[i].dmabuf, 0) == MAP_FAILED) {
			munmap(view, p->capacity);
			return NULL;
		}
	}
	return view;
}

/*
 * The source view of @p for peer copies: on first use export every buffer as
 * a dma-buf and map the dma-bufs. Falls back on the pool's own view (with a
 * message, once) when the driver cannot export or the exporter cannot be
 * mapped.
 */
static uint8_t *drm_prime_export(struct drm_pool *p)
{
	uint8_t *view;
	unsigned int i;
	int fd;

	pthread_mutex_lock(&p->lock);
	view = p->prime;
	if (view)
		goto out;
	for (i = 0; i < p->nbufs; i++) {
		if (drmPrimeHandleToFD(p->fd, p->bufs[i].handle, DRM_CLOEXEC | DRM_RDWR, &fd)) {
			log_info("%s: PRIME export: %s; peer copies read its own mapping", p->name,
				 strerror(errno));
			view = p->base;
			goto out;
		}
		p->bufs[i].dmabuf = fd;
	}
	view = drm_prime_map(p);
	if (view) {
		p->prime_mapped = true;
	} else {
		log_info("%s: its dma-bufs cannot be mapped: %s; peer copies read its own mapping",
			 p->name, strerror(errno));
		view = p->base;
	}
out:
	p->prime = view;
	pthread_mutex_unlock(&p->lock);
	return view;
}

/* A free slot of @p's import table, dropping the oldest entry when full. */
static struct drm_import *drm_import_slot(struct drm_pool *p)
{
	if (p->nimports == DRM_IMPORTS_MAX) {
		drm_import_drop(p, &p->imports[0]);
		memmove(&p->imports[0], &p->imports[1],
			(DRM_IMPORTS_MAX - 1) * sizeof(p->imports[0]));
		p->nimports--;
	}
	memset(&p->imports[p->nimports], 0, sizeof(p->imports[0]));
	return &p->imports[p->nimports++];
}

/*
 * Import @src's exports into @dst's card, once per source pool. A failure is
 * recorded and reported once; the copy does not need the import.
 */
static void drm_prime_import(struct drm_pool *dst, const struct drm_pool *src)
{
	struct drm_import *imp;
	unsigned int i;

	pthread_mutex_lock(&dst->lock);
	for (i = 0; i < dst->nimports; i++)
		if (dst->imports[i].serial == src->serial)
			goto out;
	imp = drm_import_slot(dst);
	imp->serial = src->serial;
	imp->handles = mem_zalloc(src->nbufs * sizeof(*imp->handles));
	if (!imp->handles) {
		imp->err = ENOMEM;
		goto out;
	}
	imp->n = src->nbufs;
	for (i = 0; i < src->nbufs && !imp->err; i++)
		if (drmPrimeFDToHandle(dst->fd, src->bufs[i].dmabuf, &imp->handles[i]))
			imp->err = errno;
	if (imp->err)
		log_info("%s: PRIME import of %s's buffers: %s; copies from %s read its "
			 "dma-bufs without an import",
			 dst->name, src->name, strerror(imp->err), src->name);
	else
		log_debug("%s: imported %s's %u buffers (PRIME)", dst->name, src->name, src->nbufs);
out:
	pthread_mutex_unlock(&dst->lock);
}

/* DMA_BUF_IOCTL_SYNC on @src's dma-bufs under [off, off + len). */
static void drm_prime_sync(const struct drm_pool *src, uint64_t off, uint64_t len, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags | DMA_BUF_SYNC_READ };
	uint64_t i, last = (off + len - 1) / DRM_CHUNK_SIZE;

	for (i = off / DRM_CHUNK_SIZE; i <= last; i++)
		while (ioctl(src->bufs[i].dmabuf, DMA_BUF_IOCTL_SYNC, &sync) < 0 &&
		       (errno == EINTR || errno == EAGAIN))
			;
}

/**
 * drm_copy_peer() - Copy from one drm pool to another through PRIME
 * @dst_pool: Destination pool
 * @dst_off: Destination offset
 * @src_pool: Source pool, possibly @dst_pool
 * @src_off: Source offset
 * @len: Bytes
 *
 * The first copy out of a pool exports its buffers as dma-bufs and maps
 * them; the first copy from a pool into another imports the former's
 * dma-bufs into the latter's card. The bytes are read through the source's
 * dma-buf mapping, between DMA_BUF_IOCTL_SYNC start and end, and written
 * through the destination's mapping (see the DOC in drmdev.h). Within one pool
 * the ranges may overlap.
 *
 * Return: 0; -EINVAL for a NULL pool, zero @len or a range outside either
 * pool.
 */
static int drm_copy_peer(void *dst_pool, uint64_t dst_off, void *src_pool, uint64_t src_off,
			 uint64_t len)
{
	struct drm_pool *dst = dst_pool, *src = src_pool;
	uint8_t *view;

	if (!dst || !src || !drm_range_ok(dst, dst_off, len) || !drm_range_ok(src, src_off, len))
		return -EINVAL;
	if (dst == src) {
		memmove(dst->base + dst_off, src->base + src_off, len);
		return 0;
	}
	view = drm_prime_export(src);
	if (view == src->base) {
		memcpy(dst->base + dst_off, src->base + src_off, len);
		return 0;
	}
	drm_prime_import(dst, src);
	drm_prime_sync(src, src_off, len, DMA_BUF_SYNC_START);
	memcpy(dst->base + dst_off, view + src_off, len);
	drm_prime_sync(src, src_off, len, DMA_BUF_SYNC_END);
	return 0;
}

const struct pagemap_provider_ops drm_provider_ops = {
	.name = "drm",
	.create = drm_create,
	.destroy = drm_destroy,
	.alloc = drm_alloc,
	.release = drm_release,
	.map = drm_map,
	.copy_to_dev = drm_copy_to_dev,
	.copy_fd_to_dev = drm_copy_fd_to_dev,
	.copy_to_host = drm_copy_to_host,
	.copy_peer = drm_copy_peer,
	.clear = drm_clear,
};
