// SPDX-License-Identifier: MIT
/**
 * DOC: Request dispatch
 *
 * The message switch: one case per request type. Requests answered from
 * gsvmd's own state (hello, devices, events) are served on the event loop;
 * the others touch a client's memory or walk every client and run on a
 * worker, which holds a session reference until it has replied. Every
 * request gets exactly one response with its id (err is 0 or a negative
 * errno), except an events request, which is answered once and then gets
 * one more response per event. Admin requests (admin.c) check the peer's
 * credentials first.
 *
 * Ids are non-zero: id 0 marks the answer to a message that could not be
 * decoded, and a successful answer without a body to a request of id 0
 * would pack to nothing, an empty datagram, which the client reads as end
 * of file. A request of id 0 is refused with -EINVAL.
 *
 * Descriptors: only hello (the userfaultfd) and alloc (the memfd) carry one;
 * any other descriptor is closed on arrival, and a hello or alloc without
 * one is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "advise.h"
#include "devop.h"
#include "dispatch.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "prefetch.h"
#include "session.h"
#include "stats.h"
#include "workers.h"

#define DISPATCH_MAX_RUNS 1024

struct dispatch_job {
	struct session *s;
	Gsvm__Request *req;
	int fd;
};

/**
 * dispatch_error() - Answer a request with an error only
 * @s: The session
 * @id: The request's id (0 when it could not be decoded)
 * @err: Negative errno
 */
void dispatch_error(struct session *s, uint64_t id, int err)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;

	resp.id = id;
	resp.err = err;
	session_reply(s, &resp);
}

/*
 * The fault shim of a hello's descriptor, if [daemon] shim allows it.
 * Return: 0, -EPROTONOSUPPORT for a kind the configuration excludes or
 * does not know.
 */
static int dispatch_shim(struct session *s, Gsvm__FaultShim kind)
{
	const char *allowed = s->d->cfg.shim;
	const struct shim_ops *ops;

	switch (kind) {
	case GSVM__FAULT_SHIM__FAULT_SHIM_USERFAULTFD:
		ops = &uffd_shim_ops;
		break;
	case GSVM__FAULT_SHIM__FAULT_SHIM_KMOD:
		ops = &kmod_shim_ops;
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	if (strcmp(allowed, "auto") != 0 && strcmp(allowed, ops->name) != 0)
		return -EPROTONOSUPPORT;
	s->shim_ops = ops;
	return 0;
}

static int dispatch_hello(struct session *s, Gsvm__Request *req, int fd,
			  Gsvm__HelloReply *hello)
{
	const Gsvm__Hello *h = req->hello;
	int err = 0;

	if (h->version != GSVM__VERSION__VERSION_CURRENT)
		err = -EPROTO;
	else if (s->hello)
		err = -EALREADY;
	else if (h->has_uffd != (fd >= 0))
		err = -EINVAL;
	else if (fd >= 0)
		err = dispatch_shim(s, h->shim);
	if (err) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	snprintf(s->name, sizeof(s->name), "%s", h->name ? h->name : "");
	if (fd >= 0) {
		/* Takes the descriptor, even when it fails. */
		err = session_attach(s, fd);
		if (err)
			return err;
	}
	s->hello = true;
	if (s->attached && core_events_wanted(&s->d->core)) {
		struct event ev = { .type = EVENT_CLIENT_CONNECT, .svm = &s->svm };

		core_emit(&s->d->core, &ev);
	}
	hello->version = GSVM__VERSION__VERSION_CURRENT;
	hello->ndevices = s->d->core.ndev;
	hello->page_size = SVM_PAGE_SIZE;
	log_info("session %llu: %s (pid %d, uid %d) hello%s%s", (unsigned long long)s->id, s->name,
		 (int)s->pid, (int)s->uid, fd >= 0 ? " with " : "",
		 fd >= 0 ? s->shim_ops->name : "");
	return 0;
}

static void dispatch_devices(struct session *s, uint64_t id)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__DevicesReply reply = GSVM__DEVICES_REPLY__INIT;
	Gsvm__DeviceInfo info[PAGEMAP_MAX_DEVICES], *ptrs[PAGEMAP_MAX_DEVICES];
	struct core *core = &s->d->core;
	unsigned int i;

	for (i = 0; i < core->ndev; i++) {
		struct pagemap *pm = core->dev[i];

		gsvm__device_info__init(&info[i]);
		info[i].id = pm->id;
		info[i].name = pm->cfg.name;
		info[i].provider = pm->cfg.provider;
		info[i].driver = pm->cfg.driver;
		info[i].bus = pm->cfg.bus;
		pagemap_usage(pm, &info[i].capacity, &info[i].used, NULL);
		info[i].online = pagemap_bound(pm);
		ptrs[i] = &info[i];
	}
	reply.n_devices = core->ndev;
	reply.devices = ptrs;
	resp.id = id;
	resp.body_case = GSVM__RESPONSE__BODY_DEVICES;
	resp.devices = &reply;
	session_reply(s, &resp);
}

static int dispatch_prefetch(struct session *s, const Gsvm__PrefetchReq *p,
			     Gsvm__PrefetchReply *reply)
{
	struct migrate_result *res;
	struct migrate_op op;
	int err;

	if (!s->attached)
		return -EPROTO;
	if (p->location < LOC_HOST)
		return -ENODEV;
	migrate_op_init(&op, &s->d->core, MIGRATE_PREFETCH);
	err = prefetch_run(s, p->addr, p->len, p->location, &op);
	res = &op.res;
	reply->requested = res->requested;
	reply->migrated = res->migrated;
	reply->in_place = res->in_place;
	reply->failed = res->failed;
	return err;
}

/*
 * Answer a query; builds and sends the response itself. With @try (on the
 * event loop) it gives up, returning false, when the client's lock is taken.
 */
static bool dispatch_query(struct session *s, uint64_t id, const Gsvm__QueryReq *q, bool try)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__QueryReply reply = GSVM__QUERY_REPLY__INIT;
	size_t max = q->max < DISPATCH_MAX_RUNS ? q->max : DISPATCH_MAX_RUNS, n = 0, i;
	Gsvm__RangeInfo *info = NULL, **ptrs = NULL;
	struct svm_run *runs = NULL;
	bool answered = true;
	uint64_t total = 0;
	int err = 0;

	resp.id = id;
	if (!s->attached) {
		err = -EPROTO;
		goto out;
	}
	runs = mem_calloc(max + 1, sizeof(*runs));
	info = mem_calloc(max + 1, sizeof(*info));
	ptrs = mem_calloc(max + 1, sizeof(Gsvm__RangeInfo *));
	if (!runs || !info || !ptrs) {
		err = -ENOMEM;
		goto out;
	}
	if (try) {
		/* On the loop: never wait for a client's lock. */
		if (pthread_mutex_trylock(&s->svm.lock)) {
			answered = false;
			goto done;
		}
	} else {
		pthread_mutex_lock(&s->svm.lock);
	}
	err = svm_check_registered(&s->svm, q->addr, q->len);
	if (!err)
		svm_locate(&s->svm, q->addr, q->addr + q->len, runs, max, &n, &total);
	pthread_mutex_unlock(&s->svm.lock);
	for (i = 0; i < n; i++) {
		gsvm__range_info__init(&info[i]);
		info[i].addr = runs[i].start;
		info[i].len = runs[i].end - runs[i].start;
		info[i].location = runs[i].loc;
		info[i].replicas = (uint32_t)runs[i].replicas;
		ptrs[i] = &info[i];
	}
	reply.n_ranges = n;
	reply.ranges = ptrs;
	reply.total = total;
	resp.body_case = GSVM__RESPONSE__BODY_QUERY;
	resp.query = &reply;
out:
	resp.err = err;
	session_reply(s, &resp);
done:
	mem_free(runs);
	mem_free(info);
	mem_free(ptrs);
	return answered;
}

static void dispatch_run(void *arg)
{
	struct dispatch_job *job = arg;
	struct session *s = job->s;
	Gsvm__Request *req = job->req;
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__AllocReply alloc = GSVM__ALLOC_REPLY__INIT;
	Gsvm__PrefetchReply prefetch = GSVM__PREFETCH_REPLY__INIT;
	Gsvm__DeviceOpReply devop = GSVM__DEVICE_OP_REPLY__INIT;
	uint64_t result = 0;
	int err;

	resp.id = req->id;
	switch (req->body_case) {
	case GSVM__REQUEST__BODY_ALLOC:
		err = session_alloc(s, req->alloc->addr, req->alloc->size, job->fd, &alloc.id);
		job->fd = -1;
		resp.body_case = GSVM__RESPONSE__BODY_ALLOC;
		resp.alloc = &alloc;
		break;
	case GSVM__REQUEST__BODY_FREE:
		err = session_free(s, req->free->addr);
		break;
	case GSVM__REQUEST__BODY_PREFETCH:
		err = dispatch_prefetch(s, req->prefetch, &prefetch);
		resp.body_case = GSVM__RESPONSE__BODY_PREFETCH;
		resp.prefetch = &prefetch;
		break;
	case GSVM__REQUEST__BODY_QUERY:
		dispatch_query(s, req->id, req->query, false);
		goto out;
	case GSVM__REQUEST__BODY_STATS:
		admin_stats(s, req->id);
		goto out;
	case GSVM__REQUEST__BODY_CLIENTS:
		admin_clients(s, req->id);
		goto out;
	case GSVM__REQUEST__BODY_RANGES:
		admin_ranges(s, req->id, req->ranges);
		goto out;
	case GSVM__REQUEST__BODY_EVICT:
		admin_evict(s, req->id, req->evict);
		goto out;
	case GSVM__REQUEST__BODY_ADVISE:
		err = s->attached ? advise_apply(&s->d->core, &s->svm, req->advise->addr,
						 req->advise->len, (enum advice)req->advise->advice,
						 req->advise->device) :
				    -EPROTO;
		break;
	case GSVM__REQUEST__BODY_DEVICE_ADMIN:
		err = admin_device(s, req->device_admin);
		break;
	case GSVM__REQUEST__BODY_DEVICE_OP:
		err = s->attached ? devop_run(&s->d->core, &s->svm, req->device_op->device,
					      (enum devop_kind)req->device_op->op,
					      req->device_op->addr, req->device_op->len,
					      req->device_op->arg, &result) :
				    -EPROTO;
		devop.result = result;
		resp.body_case = GSVM__RESPONSE__BODY_DEVICE_OP;
		resp.device_op = &devop;
		break;
	default:
		err = -EOPNOTSUPP;
		break;
	}
	resp.err = err;
	session_reply(s, &resp);
out:
	if (job->fd >= 0)
		close(job->fd);
	gsvm__request__free_unpacked(req, NULL);
	mem_free(job);
	atomic_fetch_sub(&s->inflight, 1);
	session_put(s);
}

static bool dispatch_takes_fd(const Gsvm__Request *req)
{
	return req->body_case == GSVM__REQUEST__BODY_HELLO ||
	       req->body_case == GSVM__REQUEST__BODY_ALLOC;
}

static void dispatch_to_worker(struct session *s, Gsvm__Request *req, int fd)
{
	struct dispatch_job *job;
	int err;

	if (atomic_load(&s->d->stopping)) {
		err = -ESHUTDOWN;
		goto err;
	}
	if (!s->hello) {
		err = -EPROTO;
		goto err;
	}
	if (atomic_load(&s->inflight) >= s->d->core.limits.max_inflight) {
		limit_hit(&s->d->core, LIMIT_INFLIGHT);
		err = -EBUSY;
		goto err;
	}
	job = mem_alloc(sizeof(*job));
	if (!job) {
		err = -ENOMEM;
		goto err;
	}
	*job = (struct dispatch_job){ .s = s, .req = req, .fd = fd };
	session_get(s);
	atomic_fetch_add(&s->inflight, 1);
	err = workers_submit(s->d->workers, &s->jobs, dispatch_run, job);
	if (!err)
		return;
	atomic_fetch_sub(&s->inflight, 1);
	session_put(s);
	mem_free(job);
err:
	dispatch_error(s, req->id, err);
	if (fd >= 0)
		close(fd);
	gsvm__request__free_unpacked(req, NULL);
}

/**
 * dispatch_request() - Act on one decoded request
 * @s: The session; called on the event loop
 * @req: The request (ownership taken)
 * @fd: The descriptor that came with it, or -1 (ownership taken)
 */
void dispatch_request(struct session *s, Gsvm__Request *req, int fd)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__HelloReply hello = GSVM__HELLO_REPLY__INIT;

	if (fd >= 0 && !dispatch_takes_fd(req)) {
		close(fd);
		fd = -1;
	}
	if (s->refused) {
		/* A limit refused the connection: say so, then close it. */
		dispatch_error(s, req->id, s->refused);
		if (fd >= 0)
			close(fd);
		gsvm__request__free_unpacked(req, NULL);
		shutdown(s->sock, SHUT_RDWR);
		return;
	}
	if (!req->id) {
		/* Found by fuzz_dispatch: see DOC. */
		if (fd >= 0)
			close(fd);
		dispatch_error(s, 0, -EINVAL);
		gsvm__request__free_unpacked(req, NULL);
		return;
	}
	switch (req->body_case) {
	case GSVM__REQUEST__BODY_HELLO:
		resp.id = req->id;
		resp.err = dispatch_hello(s, req, fd, &hello);
		if (!resp.err) {
			resp.body_case = GSVM__RESPONSE__BODY_HELLO;
			resp.hello = &hello;
		}
		session_reply(s, &resp);
		break;
	case GSVM__REQUEST__BODY_DEVICES:
		dispatch_devices(s, req->id);
		break;
	case GSVM__REQUEST__BODY_ALLOC:
		if (fd < 0) {
			dispatch_error(s, req->id, -EINVAL);
			break;
		}
		dispatch_to_worker(s, req, fd);
		return;
	case GSVM__REQUEST__BODY_QUERY:
		/*
		 * A query is bounded work (at most DISPATCH_MAX_RUNS runs): answer
		 * it here unless the client's lock is taken, and save two thread
		 * handoffs.
		 */
		if (s->hello && !s->refused && !atomic_load(&s->d->stopping) &&
		    dispatch_query(s, req->id, req->query, true))
			break;
		dispatch_to_worker(s, req, -1);
		return;
	case GSVM__REQUEST__BODY_FREE:
	case GSVM__REQUEST__BODY_PREFETCH:
	case GSVM__REQUEST__BODY_DEVICE_OP:
	case GSVM__REQUEST__BODY_ADVISE:
	case GSVM__REQUEST__BODY_STATS:
	case GSVM__REQUEST__BODY_DEVICE_ADMIN:
	case GSVM__REQUEST__BODY_CLIENTS:
	case GSVM__REQUEST__BODY_RANGES:
	case GSVM__REQUEST__BODY_EVICT:
		dispatch_to_worker(s, req, -1);
		return;
	case GSVM__REQUEST__BODY_EVENTS:
		admin_events(s, req->id, req->events);
		break;
	default:
		dispatch_error(s, req->id, -EOPNOTSUPP);
		break;
	}
	gsvm__request__free_unpacked(req, NULL);
}
