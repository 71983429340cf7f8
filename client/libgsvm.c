// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "gsvm.h"
#include "gsvm_shim.h"
#include "conn.h"
#include "region.h"
#include "uffd_client.h"

/**
 * DOC: libgsvm handles
 *
 * A handle is one connection to gsvmd (conn.c), one fault-shim descriptor
 * and the allocations made through it (region.c). The descriptor is a
 * userfaultfd (uffd_client.c) by default, or an open /dev/gsvm-shim when
 * the kernel module shim is loaded (GSVM_SHIM: "auto", the default, takes
 * the device when it can be opened; "kmod" and "userfaultfd" force one).
 * With the module nothing is registered or unregistered: mapping through
 * the device is the registration, and unmapping never waits for gsvmd. Each
 * public call validates its arguments locally, builds one request, and maps
 * the response back to the documented return values.
 *
 * An allocation's life: create and map the memfd, register the range with
 * the userfaultfd, then tell gsvmd (AllocReq, memfd attached); gsvmd owns the
 * contents from then on. Freeing runs in reverse: tell gsvmd, then unregister
 * and unmap. A range is always unregistered before it is unmapped, because
 * unmapping a registered range waits for gsvmd to read the unmap event, which
 * a dead gsvmd never does.
 *
 * The allocations are kept on a list under @lock. Finding one is linear in
 * the number of allocations, which is fine for the few large buffers a
 * program manages with gsvm; only gsvm_free() looks one up.
 */

#define CLIENT_QUERY_BATCH 1024 /* runs asked for per QueryReq */

struct client_alloc {
	TAILQ_ENTRY(client_alloc) entry;
	void *addr;
	size_t size;
	uint64_t id;
};

/**
 * struct gsvm - A connection to gsvmd
 * @conn: The socket and its requests
 * @uffd: Our copy of the descriptor gsvmd serves (a userfaultfd, or
 *        /dev/gsvm-shim when @kmod)
 * @kmod: Whether the kernel module shim is used
 * @lock: Protects @allocs
 * @allocs: Live allocations
 */
struct gsvm {
	struct conn *conn;
	int uffd;
	bool kmod;
	pthread_mutex_t lock;
	TAILQ_HEAD(, client_alloc) allocs;
};

static void client_put(Gsvm__Response *resp)
{
	if (resp)
		gsvm__response__free_unpacked(resp, NULL);
}

/*
 * Send @req (with @fd unless it is -1) and check the response: a negative err
 * is returned as is; a success must carry @body. *@out holds the response
 * whenever one arrived, for the caller to client_put().
 */
static int client_call(struct gsvm *g, Gsvm__Request *req, int fd, Gsvm__Response__BodyCase body,
		       Gsvm__Response **out)
{
	Gsvm__Response *resp;
	int ret;

	*out = NULL;
	ret = conn_call(g->conn, req, fd, &resp);
	if (ret)
		return ret;
	*out = resp;
	if (resp->err > 0)
		return -EPROTO;
	if (resp->err)
		return resp->err;
	if (body != GSVM__RESPONSE__BODY__NOT_SET && resp->body_case != body)
		return -EPROTO;
	return 0;
}

/* [ptr, ptr + len) must be non-empty and must not wrap. */
static bool client_range_ok(const void *ptr, size_t len)
{
	return len && len <= UINTPTR_MAX - (uintptr_t)ptr;
}

static const char *client_socket_path(const char *path)
{
	const char *env;

	if (path)
		return path;
	env = secure_getenv("GSVM_SOCKET");
	return env && *env ? env : GSVM_DEFAULT_SOCKET;
}

static int client_hello(struct gsvm *g)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__Hello hello = GSVM__HELLO__INIT;
	Gsvm__Response *resp;
	int ret;

	hello.version = GSVM__VERSION__VERSION_CURRENT;
	hello.name = program_invocation_short_name;
	hello.has_uffd = 1;
	hello.shim = g->kmod ? GSVM__FAULT_SHIM__FAULT_SHIM_KMOD
			     : GSVM__FAULT_SHIM__FAULT_SHIM_USERFAULTFD;
	req.body_case = GSVM__REQUEST__BODY_HELLO;
	req.hello = &hello;
	ret = client_call(g, &req, g->uffd, GSVM__RESPONSE__BODY_HELLO, &resp);
	if (!ret && resp->hello->version != GSVM__VERSION__VERSION_CURRENT)
		ret = -EPROTO;
	client_put(resp);
	return ret;
}

/* Unregister and unmap @a, and forget it. */
static void client_alloc_release(struct gsvm *g, struct client_alloc *a)
{
	if (!g->kmod)
		uffd_unregister(g->uffd, a->addr, a->size);
	region_destroy(a->addr, a->size);
	free(a);
}

/* Free everything of @g; gsvmd drops its side when the socket closes. */
static void client_destroy(struct gsvm *g)
{
	struct client_alloc *a;

	while ((a = TAILQ_FIRST(&g->allocs))) {
		TAILQ_REMOVE(&g->allocs, a, entry);
		client_alloc_release(g, a);
	}
	if (g->conn)
		conn_close(g->conn);
	if (g->uffd >= 0)
		close(g->uffd);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* The fault-shim descriptor: see DOC: libgsvm handles for GSVM_SHIM. */
static int client_shim_open(struct gsvm *g)
{
	const char *want = secure_getenv("GSVM_SHIM");
	bool forced;

	if (!want || !*want)
		want = "auto";
	forced = strcmp(want, "kmod") == 0;
	if (!forced && strcmp(want, "auto") != 0 && strcmp(want, "userfaultfd") != 0)
		return -EINVAL;
	if (strcmp(want, "userfaultfd") != 0) {
		g->uffd = open(GSVM_SHIM_DEVICE, O_RDWR | O_CLOEXEC);
		if (g->uffd >= 0) {
			g->kmod = true;
			return 0;
		}
		if (forced)
			return -errno;
	}
	return uffd_open(&g->uffd);
}

int gsvm_connect(const char *socket_path, struct gsvm **out)
{
	struct gsvm *g;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->uffd = -1;
	pthread_mutex_init(&g->lock, NULL);
	TAILQ_INIT(&g->allocs);

	ret = conn_open(client_socket_path(socket_path), &g->conn);
	if (ret)
		goto err;
	ret = client_shim_open(g);
	if (ret)
		goto err;
	ret = client_hello(g);
	if (ret)
		goto err;
	*out = g;
	return 0;

err:
	client_destroy(g);
	return ret;
}

void gsvm_disconnect(struct gsvm *g)
{
	if (g)
		client_destroy(g);
}

/* Ask for the device list; *@out holds the response on success. */
static int client_devices(struct gsvm *g, Gsvm__Response **out)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__DevicesReq devices = GSVM__DEVICES_REQ__INIT;
	int ret;

	req.body_case = GSVM__REQUEST__BODY_DEVICES;
	req.devices = &devices;
	ret = client_call(g, &req, -1, GSVM__RESPONSE__BODY_DEVICES, out);
	if (ret) {
		client_put(*out);
		*out = NULL;
	}
	return ret;
}

int gsvm_device_count(struct gsvm *g)
{
	Gsvm__Response *resp;
	int ret;

	if (!g)
		return -EINVAL;
	ret = client_devices(g, &resp);
	if (ret)
		return ret;
	ret = resp->devices->n_devices > INT_MAX ? -EPROTO : (int)resp->devices->n_devices;
	client_put(resp);
	return ret;
}

/* Copy a string into a fixed array, truncated and NUL-terminated. */
static void client_copy_string(char *dst, size_t cap, const char *src)
{
	size_t len = src ? strnlen(src, cap - 1) : 0;

	memcpy(dst, src ? src : "", len);
	dst[len] = '\0';
}

static void client_fill_info(struct gsvm_device_info *out, const Gsvm__DeviceInfo *d)
{
	memset(out, 0, sizeof(*out));
	out->id = d->id;
	client_copy_string(out->name, sizeof(out->name), d->name);
	client_copy_string(out->provider, sizeof(out->provider), d->provider);
	out->capacity = d->capacity;
	out->used = d->used;
	out->online = !!d->online;
}

int gsvm_device_info(struct gsvm *g, int device, struct gsvm_device_info *out)
{
	Gsvm__Response *resp;
	size_t i;
	int ret;

	if (!g || !out)
		return -EINVAL;
	if (device < 0)
		return -ENODEV;
	ret = client_devices(g, &resp);
	if (ret)
		return ret;
	ret = -ENODEV;
	for (i = 0; i < resp->devices->n_devices; i++) {
		if (resp->devices->devices[i]->id == device) {
			client_fill_info(out, resp->devices->devices[i]);
			ret = 0;
			break;
		}
	}
	client_put(resp);
	return ret;
}

/* Register [addr, addr + size) and its @memfd with gsvmd. */
static int client_alloc_req(struct gsvm *g, void *addr, size_t size, int memfd, uint64_t *id)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__AllocReq alloc = GSVM__ALLOC_REQ__INIT;
	Gsvm__Response *resp;
	int ret;

	alloc.addr = (uintptr_t)addr;
	alloc.size = size;
	req.body_case = GSVM__REQUEST__BODY_ALLOC;
	req.alloc = &alloc;
	ret = client_call(g, &req, memfd, GSVM__RESPONSE__BODY_ALLOC, &resp);
	if (!ret)
		*id = resp->alloc->id;
	client_put(resp);
	return ret;
}

int gsvm_alloc(struct gsvm *g, size_t size, void **out)
{
	struct client_alloc *a;
	int memfd, ret;

	if (!g || !out || !size)
		return -EINVAL;
	*out = NULL;
	if (size > SIZE_MAX - REGION_ALIGN)
		return -ENOMEM;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->size = (size + REGION_PAGE_SIZE - 1) & ~(REGION_PAGE_SIZE - 1);

	ret = region_create(a->size, g->kmod ? g->uffd : -1, &memfd, &a->addr);
	if (ret)
		goto err_free;
	ret = g->kmod ? 0 : uffd_register(g->uffd, a->addr, a->size);
	if (ret)
		goto err_unmap;
	ret = client_alloc_req(g, a->addr, a->size, memfd, &a->id);
	if (ret)
		goto err_unregister;
	/* The mapping keeps the memfd alive; gsvmd holds its own copy. */
	close(memfd);

	pthread_mutex_lock(&g->lock);
	TAILQ_INSERT_TAIL(&g->allocs, a, entry);
	pthread_mutex_unlock(&g->lock);
	*out = a->addr;
	return 0;

err_unregister:
	if (!g->kmod)
		uffd_unregister(g->uffd, a->addr, a->size);
err_unmap:
	region_destroy(a->addr, a->size);
	close(memfd);
err_free:
	free(a);
	return ret;
}

/* Take the allocation starting at @ptr off the list, so no other thread frees it. */
static struct client_alloc *client_alloc_take(struct gsvm *g, void *ptr)
{
	struct client_alloc *a;

	pthread_mutex_lock(&g->lock);
	TAILQ_FOREACH(a, &g->allocs, entry) {
		if (a->addr == ptr) {
			TAILQ_REMOVE(&g->allocs, a, entry);
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return a;
}

static int client_free_req(struct gsvm *g, void *addr)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__FreeReq free_req = GSVM__FREE_REQ__INIT;
	Gsvm__Response *resp;
	int ret;

	free_req.addr = (uintptr_t)addr;
	req.body_case = GSVM__REQUEST__BODY_FREE;
	req.free = &free_req;
	ret = client_call(g, &req, -1, GSVM__RESPONSE__BODY__NOT_SET, &resp);
	client_put(resp);
	return ret;
}

/*
 * Whether the memory may go after gsvmd answered @err to a FreeReq: when
 * gsvmd let go of it, never had it (-EINVAL, -ENOENT), or is gone. When a
 * live gsvmd refused, it may still hold data or work on the range; unmapping
 * it then could let that work land in a later allocation at the same address.
 */
static bool client_free_done(struct gsvm *g, int err)
{
	return !err || err == -EINVAL || err == -ENOENT || err == -ENOTCONN || !conn_alive(g->conn);
}

int gsvm_free(struct gsvm *g, void *ptr)
{
	struct client_alloc *a;
	int ret;

	if (!g || !ptr)
		return -EINVAL;
	a = client_alloc_take(g, ptr);
	if (!a)
		return -EINVAL;
	ret = client_free_req(g, a->addr);
	if (!client_free_done(g, ret)) {
		pthread_mutex_lock(&g->lock);
		TAILQ_INSERT_TAIL(&g->allocs, a, entry);
		pthread_mutex_unlock(&g->lock);
		return ret;
	}
	client_alloc_release(g, a);
	return 0;
}

int gsvm_prefetch(struct gsvm *g, const void *ptr, size_t len, int location)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__PrefetchReq prefetch = GSVM__PREFETCH_REQ__INIT;
	const Gsvm__PrefetchReply *reply;
	Gsvm__Response *resp;
	int ret;

	if (!g || !client_range_ok(ptr, len))
		return -EINVAL;
	if (location < GSVM_HOST)
		return -ENODEV;
	prefetch.addr = (uintptr_t)ptr;
	prefetch.len = len;
	prefetch.location = location;
	req.body_case = GSVM__REQUEST__BODY_PREFETCH;
	req.prefetch = &prefetch;
	ret = client_call(g, &req, -1, GSVM__RESPONSE__BODY_PREFETCH, &resp);
	/* -ENOSPC: the device filled up; a partial placement is a success. */
	if (ret == -ENOSPC && resp && resp->body_case == GSVM__RESPONSE__BODY_PREFETCH) {
		reply = resp->prefetch;
		if (reply->migrated + reply->in_place > 0)
			ret = GSVM_PARTIAL;
	}
	client_put(resp);
	return ret;
}

/**
 * gsvm_advise() - Give placement advice for a range
 * @g: The handle
 * @ptr: First byte
 * @len: Bytes
 * @advice: The advice
 * @device: The device it names, or GSVM_HOST for a preferred location
 *
 * Return: see include/gsvm.h.
 */
int gsvm_advise(struct gsvm *g, const void *ptr, size_t len, enum gsvm_advice advice, int device)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__AdviseReq advise = GSVM__ADVISE_REQ__INIT;
	Gsvm__Response *resp;
	int ret;

	if (!g || !client_range_ok(ptr, len) || (unsigned int)advice > GSVM_ADVISE_UNSET_READ_MOSTLY)
		return -EINVAL;
	advise.addr = (uintptr_t)ptr;
	advise.len = len;
	advise.advice = advice;
	advise.device = device;
	req.body_case = GSVM__REQUEST__BODY_ADVISE;
	req.advise = &advise;
	ret = client_call(g, &req, -1, GSVM__RESPONSE__BODY__NOT_SET, &resp);
	client_put(resp);
	return ret;
}

/**
 * struct client_query - State of a gsvm_query() across requests
 * @out: The caller's array
 * @max: Its capacity
 * @n: Runs written
 * @cursor: End of the last run seen; the next request starts here
 * @end: End of the queried range
 * @overflow: A run did not fit in @out
 */
struct client_query {
	struct gsvm_range_info *out;
	size_t max, n;
	uint64_t cursor, end;
	bool overflow;
};

/* Append a run, merging it into the previous one when they are continuous and equal. */
static void client_query_add(struct client_query *q, uint64_t addr, uint64_t end, int location,
			     uint32_t replicas)
{
	struct gsvm_range_info *last = q->n ? &q->out[q->n - 1] : NULL;

	q->cursor = end;
	if (last && last->addr + last->len == addr && last->location == location &&
	    last->replicas == replicas) {
		last->len += end - addr;
		return;
	}
	if (q->n == q->max) {
		q->overflow = true;
		return;
	}
	q->out[q->n++] = (struct gsvm_range_info){
		.addr = addr, .len = end - addr, .location = location, .replicas = replicas
	};
}

/*
 * Fold one QueryReply into @q, clipping runs to what was asked. Return: 1 when
 * more runs remain beyond the reply, 0 when done, -EPROTO for a reply that
 * would not advance.
 */
static int client_query_fold(struct client_query *q, const Gsvm__QueryReply *reply)
{
	uint64_t start = q->cursor, addr, end;
	const Gsvm__RangeInfo *r;
	size_t i;

	for (i = 0; i < reply->n_ranges && !q->overflow; i++) {
		r = reply->ranges[i];
		if (r->len > UINT64_MAX - r->addr)
			return -EPROTO;
		addr = r->addr > q->cursor ? r->addr : q->cursor;
		end = r->addr + r->len < q->end ? r->addr + r->len : q->end;
		if (addr < end)
			client_query_add(q, addr, end, r->location, r->replicas);
	}
	if (q->overflow || q->cursor >= q->end || reply->total <= reply->n_ranges)
		return 0;
	return q->cursor > start ? 1 : -EPROTO;
}

/* Ask for the runs of [q->cursor, q->end) and fold them into @q. */
static int client_query_step(struct gsvm *g, struct client_query *q)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__QueryReq query = GSVM__QUERY_REQ__INIT;
	Gsvm__Response *resp;
	int ret;

	query.addr = q->cursor;
	query.len = q->end - q->cursor;
	/* One run more than fits: it may merge, or it proves an overflow. */
	query.max = q->max >= CLIENT_QUERY_BATCH ? CLIENT_QUERY_BATCH : (uint32_t)q->max + 1;
	req.body_case = GSVM__REQUEST__BODY_QUERY;
	req.query = &query;
	ret = client_call(g, &req, -1, GSVM__RESPONSE__BODY_QUERY, &resp);
	if (!ret)
		ret = client_query_fold(q, resp->query);
	client_put(resp);
	return ret;
}

int gsvm_query(struct gsvm *g, const void *ptr, size_t len, struct gsvm_range_info *out, size_t max,
	       size_t *n)
{
	struct client_query q = { .out = out, .max = max };
	int ret;

	if (n)
		*n = 0;
	if (!g || !n || (!out && max) || !client_range_ok(ptr, len))
		return -EINVAL;
	q.cursor = (uintptr_t)ptr;
	q.end = q.cursor + len;
	do
		ret = client_query_step(g, &q);
	while (ret > 0);
	*n = q.n;
	if (ret)
		return ret;
	return q.overflow ? -ENOSPC : 0;
}

int gsvm_device_op(struct gsvm *g, int device, enum gsvm_op op, void *ptr, size_t len, uint64_t arg,
		   uint64_t *result)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__DeviceOpReq dop = GSVM__DEVICE_OP_REQ__INIT;
	Gsvm__Response *resp;
	int ret;

	if (!g || !client_range_ok(ptr, len))
		return -EINVAL;
	if ((unsigned int)op > GSVM_OP_ADD || (op == GSVM_OP_ADD && len % sizeof(uint64_t)))
		return -EINVAL;
	if (device < 0)
		return -ENODEV;
	dop.device = device;
	dop.op = op;
	dop.addr = (uintptr_t)ptr;
	dop.len = len;
	dop.arg = arg;
	req.body_case = GSVM__REQUEST__BODY_DEVICE_OP;
	req.device_op = &dop;
	ret = client_call(g, &req, -1, GSVM__RESPONSE__BODY_DEVICE_OP, &resp);
	if (!ret && result)
		*result = resp->device_op->result;
	client_put(resp);
	return ret;
}

const char *gsvm_strerror(int err)
{
	const char *s;

	if (err == 0)
		return "success";
	if (err == GSVM_PARTIAL)
		return "only part of the range could be placed";
	if (err < 0 && err != INT_MIN) {
		s = strerrordesc_np(-err);
		if (s)
			return s;
	}
	return "unknown";
}
