// SPDX-License-Identifier: MIT
/**
 * DOC: Admin and inspection requests
 *
 * What gsvmctl asks: statistics, devices' and clients' usage, ranges, and the
 * actions evict, unbind, rebind, plus the event stream.
 *
 * Authorization is decided from the peer's credentials, read from the kernel
 * when the connection was accepted (session->uid, session->admin), never
 * from anything the client sends. Anyone who may connect can read the
 * statistics, the devices, and their own clients and ranges (those of
 * processes with their uid). Evicting, unbinding and rebinding devices,
 * looking at other users' clients and ranges, and streaming events need
 * uid 0 or membership of the admin group: -EPERM otherwise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "events.h"
#include "evict.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "session.h"
#include "stats.h"

#define ADMIN_MAX_RANGES 512

static void admin_fill_device(Gsvm__DeviceInfo *info, const struct stats_device *d)
{
	gsvm__device_info__init(info);
	info->id = d->id;
	info->name = (char *)d->name;
	info->provider = (char *)d->provider;
	info->driver = (char *)d->driver;
	info->bus = (char *)d->bus;
	info->capacity = d->capacity;
	info->used = d->used;
	info->online = d->online;
}

/**
 * admin_stats() - Answer a stats request from one snapshot
 * @s: The session
 * @id: The request's id
 */
void admin_stats(struct session *s, uint64_t id)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__StatsReply reply = GSVM__STATS_REPLY__INIT;
	Gsvm__LimitHits limits = GSVM__LIMIT_HITS__INIT;
	Gsvm__DeviceInfo info[PAGEMAP_MAX_DEVICES], *ptrs[PAGEMAP_MAX_DEVICES];
	struct stats_snapshot *st = mem_alloc(sizeof(*st));
	unsigned int i;

	resp.id = id;
	if (!st) {
		resp.err = -ENOMEM;
		session_reply(s, &resp);
		return;
	}
	stats_snapshot(&s->d->core, st);
	reply.faults_cpu = st->faults_cpu;
	reply.faults_device = st->faults_device;
	reply.migrations_to_device = st->migrations_to_device;
	reply.migrations_to_host = st->migrations_to_host;
	reply.migrations_device_to_device = st->migrations_device_to_device;
	reply.bytes_to_device = st->bytes_to_device;
	reply.bytes_to_host = st->bytes_to_host;
	reply.bytes_device_to_device = st->bytes_device_to_device;
	reply.evictions = st->evictions;
	reply.thrash_throttled = st->thrash_throttled;
	reply.thrash_pinned = st->thrash_pinned;
	reply.clients = st->clients;
	reply.ranges = st->ranges;
	reply.fault_latency_count = st->fault_latency_count;
	reply.fault_latency_p50_ns = st->fault_latency_p50_ns;
	reply.fault_latency_p99_ns = st->fault_latency_p99_ns;
	reply.events_dropped = events_dropped(s->d);
	limits.message = st->limit_hits[LIMIT_MESSAGE];
	limits.clients = st->limit_hits[LIMIT_CLIENTS];
	limits.allocations = st->limit_hits[LIMIT_ALLOCATIONS];
	limits.device_bytes = st->limit_hits[LIMIT_DEVICE_BYTES];
	limits.inflight = st->limit_hits[LIMIT_INFLIGHT];
	limits.fds = st->limit_hits[LIMIT_FDS];
	limits.backlog = st->limit_hits[LIMIT_BACKLOG];
	reply.limits = &limits;
	for (i = 0; i < st->ndev; i++) {
		admin_fill_device(&info[i], &st->dev[i]);
		ptrs[i] = &info[i];
	}
	reply.n_devices = st->ndev;
	reply.devices = ptrs;
	resp.body_case = GSVM__RESPONSE__BODY_STATS;
	resp.stats = &reply;
	session_reply(s, &resp);
	mem_free(st);
}

/* Whether @s may look at the clients and ranges of @other. */
static bool admin_may_see(const struct session *s, const struct session *other)
{
	return s->admin || s->uid == other->uid;
}

/* Allocations, their bytes, bytes on each device and ranges of @c. */
static void admin_client_usage(struct session *c, Gsvm__ClientInfo *info, uint64_t *dev_bytes,
			       unsigned int ndev)
{
	struct svm_range *r;
	struct svm_bo *bo;
	struct devmem *rep;

	pthread_mutex_lock(&c->svm.lock);
	for (bo = svm_bo_first(&c->svm); bo; bo = svm_bo_next(&c->svm, bo)) {
		info->allocations++;
		info->allocated_bytes += bo->size;
	}
	for (r = svm_range_first(&c->svm, 0, UINT64_MAX); r; r = svm_range_next(&c->svm, r)) {
		info->ranges++;
		/* Placement commits under the notifier lock alone (see below). */
		svm_notifier_lock(&c->svm);
		if (r->dm && (unsigned int)r->dm->pm->id < ndev)
			dev_bytes[r->dm->pm->id] += (uint64_t)r->ndev << SVM_PAGE_SHIFT;
		svm_notifier_unlock(&c->svm);
		for (rep = r->replicas; rep; rep = rep->next_replica)
			dev_bytes[rep->pm->id] += rep->size;
	}
	pthread_mutex_unlock(&c->svm.lock);
}

/**
 * admin_clients() - List the clients the caller may see, with their usage
 * @s: The session
 * @id: The request's id
 */
void admin_clients(struct session *s, uint64_t id)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__ClientsReply reply = GSVM__CLIENTS_REPLY__INIT;
	unsigned int ndev = s->d->core.ndev, n = 0, max;
	Gsvm__ClientInfo *info = NULL, **ptrs = NULL;
	uint64_t *bytes = NULL;
	struct session *c;

	resp.id = id;
	pthread_mutex_lock(&s->d->lock);
	max = s->d->nsessions;
	info = mem_calloc(max + 1, sizeof(*info));
	ptrs = mem_calloc(max + 1, sizeof(Gsvm__ClientInfo *));
	bytes = mem_calloc((size_t)(max + 1) * (ndev + 1), sizeof(uint64_t));
	if (!info || !ptrs || !bytes) {
		pthread_mutex_unlock(&s->d->lock);
		resp.err = -ENOMEM;
		goto out;
	}
	TAILQ_FOREACH(c, &s->d->sessions, link) {
		if (!__atomic_load_n(&c->attached, __ATOMIC_ACQUIRE) || !admin_may_see(s, c) ||
		    n >= max)
			continue;
		gsvm__client_info__init(&info[n]);
		info[n].pid = c->pid;
		info[n].uid = c->uid;
		info[n].name = c->name;
		info[n].device_bytes = &bytes[(size_t)n * (ndev + 1)];
		info[n].n_device_bytes = ndev;
		admin_client_usage(c, &info[n], info[n].device_bytes, ndev);
		ptrs[n] = &info[n];
		n++;
	}
	pthread_mutex_unlock(&s->d->lock);
	reply.n_clients = n;
	reply.clients = ptrs;
	resp.body_case = GSVM__RESPONSE__BODY_CLIENTS;
	resp.clients = &reply;
out:
	session_reply(s, &resp);
	mem_free(info);
	mem_free(ptrs);
	mem_free(bytes);
}

static int admin_pid_cmp(const void *a, const void *b)
{
	const struct session *x = *(struct session *const *)a, *y = *(struct session *const *)b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Describe range @r of client @c into @d. */
static void admin_range_desc(struct session *c, struct svm_range *r, Gsvm__RangeDesc *d)
{
	struct vamap_mapping *va = vamap_find(&c->svm.va, r->start);

	gsvm__range_desc__init(d);
	d->pid = c->pid;
	d->addr = r->start;
	d->size = r->end - r->start;
	/*
	 * A migration of a busy range commits its placement (and drops r->dm)
	 * under the notifier lock alone, without the driver lock we hold: read
	 * it under that lock, or r->dm may go between the test and the use
	 * (found by fuzz_dispatch under TSan).
	 */
	svm_notifier_lock(&c->svm);
	d->location = r->dm && r->ndev ? r->dm->pm->id : LOC_HOST;
	svm_notifier_unlock(&c->svm);
	d->replicas = svm_range_flags(&c->svm, r) & SVM_RANGE_STALE ? 0 : r->replica_mask;
	d->preferred = va ? va->attrs.preferred_loc : LOC_NONE;
	d->accessed_by = va ? va->attrs.accessed_by : 0;
	d->read_mostly = va && va->attrs.read_mostly;
}

/* Collect ranges of @c from @start on into @out; false when @out is full. */
static bool admin_collect_ranges(struct session *c, uint64_t start, Gsvm__RangeDesc *out,
				 size_t max, size_t *n, uint64_t *next)
{
	struct svm_range *r;
	bool room = true;

	pthread_mutex_lock(&c->svm.lock);
	for (r = svm_range_first(&c->svm, start, UINT64_MAX); r; r = svm_range_next(&c->svm, r)) {
		if (*n >= max) {
			*next = r->start;
			room = false;
			break;
		}
		admin_range_desc(c, r, &out[(*n)++]);
	}
	pthread_mutex_unlock(&c->svm.lock);
	return room;
}

/* The clients a ranges request covers, sorted by pid; -errno on refusal. */
static int admin_range_clients(struct session *s, const Gsvm__RangesReq *q,
			       struct session **list, unsigned int *nlist)
{
	bool found = false;
	struct session *c;

	*nlist = 0;
	TAILQ_FOREACH(c, &s->d->sessions, link) {
		if (!__atomic_load_n(&c->attached, __ATOMIC_ACQUIRE) ||
		    (q->pid && c->pid != q->pid))
			continue;
		found = true;
		if (admin_may_see(s, c) && c->pid >= q->start_pid)
			list[(*nlist)++] = c;
	}
	if (q->pid && !found)
		return -ESRCH;
	if (q->pid && !*nlist && q->start_pid <= q->pid)
		return -EPERM;
	qsort(list, *nlist, sizeof(struct session *), admin_pid_cmp);
	return 0;
}

/**
 * admin_ranges() - List ranges of one client or of every visible client
 * @s: The session
 * @id: The request's id
 * @q: The request: pid (0: every client the caller may see), where to
 *     start (start_pid, start_addr), and how many at most; when more are
 *     left the reply says where to go on
 */
void admin_ranges(struct session *s, uint64_t id, const Gsvm__RangesReq *q)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__RangesReply reply = GSVM__RANGES_REPLY__INIT;
	size_t max = q->max && q->max < ADMIN_MAX_RANGES ? q->max : ADMIN_MAX_RANGES, n = 0, i;
	Gsvm__RangeDesc *desc = mem_calloc(max, sizeof(*desc));
	Gsvm__RangeDesc **ptrs = mem_calloc(max, sizeof(Gsvm__RangeDesc *));
	struct session **list = NULL;
	unsigned int nlist = 0;
	uint64_t next = 0, start;

	resp.id = id;
	pthread_mutex_lock(&s->d->lock);
	list = mem_calloc(s->d->nsessions + 1, sizeof(struct session *));
	if (!desc || !ptrs || !list) {
		resp.err = -ENOMEM;
		goto unlock;
	}
	resp.err = admin_range_clients(s, q, list, &nlist);
	for (i = 0; !resp.err && i < nlist; i++) {
		start = list[i]->pid == q->start_pid ? q->start_addr : 0;
		if (!admin_collect_ranges(list[i], start, desc, max, &n, &next)) {
			reply.more = true;
			reply.next_pid = list[i]->pid;
			reply.next_addr = next;
			break;
		}
	}
unlock:
	pthread_mutex_unlock(&s->d->lock);
	if (!resp.err) {
		for (i = 0; i < n; i++)
			ptrs[i] = &desc[i];
		reply.n_ranges = n;
		reply.ranges = ptrs;
		resp.body_case = GSVM__RESPONSE__BODY_RANGES;
		resp.ranges = &reply;
	}
	session_reply(s, &resp);
	mem_free(desc);
	mem_free(ptrs);
	mem_free(list);
}

/* The attached session of process @pid, with a reference, or NULL. */
static struct session *admin_find_pid(struct gsvmd *d, int pid)
{
	struct session *c, *found = NULL;

	pthread_mutex_lock(&d->lock);
	TAILQ_FOREACH(c, &d->sessions, link)
		if (__atomic_load_n(&c->attached, __ATOMIC_ACQUIRE) && c->pid == pid) {
			found = c;
			session_get(c);
			break;
		}
	pthread_mutex_unlock(&d->lock);
	return found;
}

/**
 * admin_evict() - Move data to host now: off a device, or all of a client's
 * @s: The session (admin only)
 * @id: The request's id
 * @e: The request
 */
void admin_evict(struct session *s, uint64_t id, const Gsvm__EvictReq *e)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__EvictReply reply = GSVM__EVICT_REPLY__INIT;
	struct core *core = &s->d->core;
	struct session *c;
	uint64_t before = 0, after = 0;
	unsigned int i;

	resp.id = id;
	if (!s->admin) {
		resp.err = -EPERM;
	} else if (e->device >= 0) {
		if (!core_device(core, e->device))
			resp.err = -ENODEV;
		else
			resp.err = evict_device(core, core->dev[e->device], e->bytes, &reply.bytes);
	} else if ((c = admin_find_pid(s->d, e->pid))) {
		for (i = 0; i < core->ndev; i++) {
			uint64_t used;

			pagemap_usage(core->dev[i], NULL, &used, NULL);
			before += used;
		}
		resp.err = migrate_svm_to_host(core, &c->svm);
		for (i = 0; i < core->ndev; i++) {
			uint64_t used;

			pagemap_usage(core->dev[i], NULL, &used, NULL);
			after += used;
		}
		reply.bytes = before > after ? before - after : 0;
		session_put(c);
	} else {
		resp.err = -ESRCH;
	}
	if (!resp.err || resp.err == -ENOSPC) {
		resp.body_case = GSVM__RESPONSE__BODY_EVICT;
		resp.evict = &reply;
		log_info("pid %d evicted %llu bytes to host", (int)s->pid,
			 (unsigned long long)reply.bytes);
	}
	session_reply(s, &resp);
}

static void admin_device_event(struct core *core, enum event_type type, int dev)
{
	struct event ev = { .type = type, .dst = dev };

	core_emit(core, &ev);
}

/**
 * admin_device() - Unbind or rebind a device
 * @s: The session (admin only)
 * @a: The request
 *
 * Unbinding evacuates the device's data (to other devices or home, as the
 * policy says) before it returns.
 *
 * Return: 0; -EPERM; -ENODEV; -EALREADY (already unbound or bound); -EBUSY
 * (rebind while data is still leaving); an evacuation error.
 */
int admin_device(struct session *s, const Gsvm__DeviceAdminReq *a)
{
	struct core *core = &s->d->core;
	struct pagemap *pm = core_device(core, a->device);
	int err;

	if (!s->admin)
		return -EPERM;
	if (!pm)
		return -ENODEV;
	switch (a->op) {
	case GSVM__DEVICE_ADMIN_REQ__OP__UNBIND:
		err = pagemap_unbind(pm);
		if (err)
			return err;
		log_info("device %s unbound by pid %d: evacuating", pm->cfg.name, (int)s->pid);
		admin_device_event(core, EVENT_DEVICE_UNBIND, pm->id);
		err = migrate_evacuate_device(core, pm);
		if (err)
			log_err("device %s: evacuation left data: %s", pm->cfg.name, strerror(-err));
		return err;
	case GSVM__DEVICE_ADMIN_REQ__OP__REBIND:
		err = pagemap_rebind(pm);
		if (!err) {
			log_info("device %s rebound by pid %d", pm->cfg.name, (int)s->pid);
			admin_device_event(core, EVENT_DEVICE_REBIND, pm->id);
		}
		return err;
	default:
		return -EINVAL;
	}
}

/**
 * admin_events() - Start streaming events to the caller (admin only)
 * @s: The session
 * @id: The request's id: the acknowledgement and every event carry it
 * @e: The request (how many events; 0 for no limit)
 */
void admin_events(struct session *s, uint64_t id, const Gsvm__EventsReq *e)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;

	resp.id = id;
	resp.err = s->admin ? 0 : -EPERM;
	/* The acknowledgement goes first, so it precedes every event. */
	session_reply(s, &resp);
	if (!resp.err && events_subscribe(s->d, s, id, e->count))
		log_warn("session %llu: cannot subscribe to events", (unsigned long long)s->id);
}
