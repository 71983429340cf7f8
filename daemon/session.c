// SPDX-License-Identifier: MIT
/**
 * DOC: Client sessions
 *
 * A session is one client connection and everything gsvmd holds for it: the
 * peer's credentials (read once, at accept), its SVM state, its fault shim,
 * and a view of each of its allocations (the memfd it sent, mapped shared).
 *
 * Lifetime: the connection holds a reference and each request in flight
 * holds one. When the connection closes, the session is marked dead (replies
 * are dropped) and, with the last reference, destroyed: the fault shim
 * stops, the device memory returns to the pools, the memfds are closed.
 *
 * Replies: workers send replies directly on the non-blocking socket (one
 * sendmsg per reply is atomic for SOCK_SEQPACKET); what the socket cannot
 * take is queued and flushed by the event loop when it becomes writable, so
 * a client that does not read can hold up nobody but itself.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "session.h"
#include "wire.h"

/* The seals an allocation's memfd must carry. */
#define SESSION_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
/* session_settle(): how often to look for busy ranges to go (100 us apart). */
#define SESSION_SETTLE_TRIES 50000

static void session_reap(struct session *s);

struct session_msg {
	TAILQ_ENTRY(session_msg) link;
	size_t len;
	uint8_t buf[];
};

/**
 * session_create() - A session for a freshly accepted connection
 * @d: The daemon
 * @sock: The connection, non-blocking
 * @out: Receives the session, holding the connection's reference
 *
 * Return: 0, -ENOMEM, or getsockopt()'s error reading the peer credentials.
 */
/*
 * Whether the peer is root or in the admin group: its groups come from the
 * kernel (SO_PEERGROUPS, as they were at connect), never from the client.
 */
static bool session_peer_admin(struct gsvmd *d, int sock, const struct ucred *cred)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);
	size_t i;

	if (cred->uid == 0)
		return true;
	if (d->admin_gid == (gid_t)-1)
		return false;
	if (cred->gid == d->admin_gid)
		return true;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return false;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == d->admin_gid)
			return true;
	return false;
}

int session_create(struct gsvmd *d, int sock, struct session **out)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct session *s;

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	s = mem_zalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->sock = sock;
	s->pid = cred.pid;
	s->uid = cred.uid;
	s->gid = cred.gid;
	s->admin = session_peer_admin(d, sock, &cred);
	s->refs = 1;
	s->shim_ops = &uffd_shim_ops;
	pthread_mutex_init(&s->lock, NULL);
	TAILQ_INIT(&s->outq);
	workers_queue_init(&s->jobs);
	pthread_mutex_lock(&d->lock);
	s->id = ++d->next_session;
	TAILQ_INSERT_TAIL(&d->sessions, s, link);
	d->nsessions++;
	if (d->nsessions > d->core.limits.max_clients) {
		limit_hit(&d->core, LIMIT_CLIENTS);
		s->refused = -EUSERS;
	}
	pthread_mutex_unlock(&d->lock);
	if (!s->refused)
		s->refused = account_join(&d->core, s->uid, &s->account);
	*out = s;
	return 0;
}

/**
 * session_get() - Take a reference (a request in flight)
 * @s: The session
 */
void session_get(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	s->refs++;
	pthread_mutex_unlock(&s->lock);
}

static void session_bo_close(struct session_bo *sbo)
{
	munmap(sbo->map, sbo->size);
	close(sbo->fd);
	mem_free(sbo);
}

/* Close an allocation that was registered (and charged to the client). */
static void session_bo_drop(struct session *s, struct session_bo *sbo)
{
	account_uncharge_alloc(&s->svm);
	session_bo_close(sbo);
}

static void session_destroy(struct session *s)
{
	struct session_msg *m;
	struct svm_bo *bo;

	/* Device memory first: releasing it may still talk to the shim. */
	if (s->attached)
		migrate_release_all(&s->d->core, &s->svm);
	if (s->shim)
		s->shim_ops->destroy(s->shim);
	if (s->attached) {
		core_client_remove(&s->d->core, &s->svm);
		for (bo = svm_bo_first(&s->svm); bo; bo = svm_bo_next(&s->svm, bo))
			session_bo_drop(s, bo->priv);
		svm_fini(&s->svm);
	}
	while ((m = TAILQ_FIRST(&s->outq))) {
		TAILQ_REMOVE(&s->outq, m, link);
		mem_free(m);
	}
	if (s->ev_read)
		event_free(s->ev_read);
	if (s->ev_write)
		event_free(s->ev_write);
	close(s->sock);
	account_leave(&s->d->core, s->account);
	log_info("session %llu (pid %d, %s) closed", (unsigned long long)s->id, (int)s->pid,
		 s->name[0] ? s->name : "?");
	pthread_mutex_destroy(&s->lock);
	mem_free(s);
}

/**
 * session_put() - Drop a reference; the last one destroys the session
 * @s: The session
 */
void session_put(struct session *s)
{
	unsigned int refs;

	pthread_mutex_lock(&s->lock);
	refs = --s->refs;
	pthread_mutex_unlock(&s->lock);
	if (!refs)
		session_destroy(s);
}

/**
 * session_close() - The connection is gone or is being dropped
 * @s: The session; called on the event loop
 *
 * Stops reading, takes the session off the daemon's list and drops the
 * connection's reference; requests in flight finish first.
 */
void session_close(struct session *s)
{
	struct gsvmd *d = s->d;

	pthread_mutex_lock(&s->lock);
	if (s->dead) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->dead = true;
	pthread_mutex_unlock(&s->lock);
	if (s->bad_messages > 1)
		log_warn("session %llu (pid %d): %u unreadable messages in all",
			 (unsigned long long)s->id, (int)s->pid, s->bad_messages);
	events_unsubscribe(d, s);
	if (s->attached && core_events_wanted(&d->core)) {
		struct event ev = { .type = EVENT_CLIENT_DISCONNECT, .svm = &s->svm };

		core_emit(&d->core, &ev);
	}
	event_del(s->ev_read);
	event_del(s->ev_write);
	shutdown(s->sock, SHUT_RDWR);
	pthread_mutex_lock(&d->lock);
	TAILQ_REMOVE(&d->sessions, s, link);
	d->nsessions--;
	pthread_mutex_unlock(&d->lock);
	session_put(s);
}

/* Send queued replies; the caller holds s->lock. */
static void session_flush_locked(struct session *s)
{
	struct session_msg *m;
	int err;

	while ((m = TAILQ_FIRST(&s->outq))) {
		err = wire_send(s->sock, m->buf, m->len, NULL, 0);
		if (err == -EAGAIN)
			break;
		if (err)
			log_debug("session %llu: send: %s", (unsigned long long)s->id,
				  strerror(-err));
		TAILQ_REMOVE(&s->outq, m, link);
		s->outq_len--;
		mem_free(m);
	}
	/*
	 * Not event_del(): from a worker it would wait for a running
	 * control_write(), which waits for s->lock, which we hold.
	 */
	if (TAILQ_EMPTY(&s->outq))
		event_del_noblock(s->ev_write);
	else if (!s->dead)
		event_add(s->ev_write, NULL);
}

/**
 * session_flush() - The socket became writable: send what is queued
 * @s: The session
 */
void session_flush(struct session *s)
{
	pthread_mutex_lock(&s->lock);
	session_flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

/**
 * session_reply() - Send a response, or queue it if the socket is full
 * @s: The session; any thread
 * @resp: The response
 */
void session_reply(struct session *s, const Gsvm__Response *resp)
{
	size_t len = gsvm__response__get_packed_size(resp);
	struct session_msg *m;

	if (len > WIRE_MAX_MSG) {
		log_err("session %llu: reply of %zu bytes too large", (unsigned long long)s->id,
			len);
		return;
	}
	m = mem_alloc(sizeof(*m) + len);
	if (!m) {
		log_err("session %llu: out of memory for a reply", (unsigned long long)s->id);
		return;
	}
	m->len = wire_pack_response(resp, m->buf, len);
	pthread_mutex_lock(&s->lock);
	if (s->dead || s->overflow) {
		pthread_mutex_unlock(&s->lock);
		mem_free(m);
		return;
	}
	if (s->outq_len >= s->d->core.limits.max_backlog) {
		/* It does not read its replies: drop it (the loop sees EOF). */
		s->overflow = true;
		pthread_mutex_unlock(&s->lock);
		mem_free(m);
		limit_hit(&s->d->core, LIMIT_BACKLOG);
		log_warn("session %llu (pid %d): %u replies unread: disconnecting",
			 (unsigned long long)s->id, (int)s->pid, s->d->core.limits.max_backlog);
		shutdown(s->sock, SHUT_RDWR);
		return;
	}
	TAILQ_INSERT_TAIL(&s->outq, m, link);
	s->outq_len++;
	session_flush_locked(s);
	pthread_mutex_unlock(&s->lock);
}

/**
 * session_backlog() - Replies waiting for the client to read them
 * @s: The session
 *
 * Return: the number of queued replies.
 */
unsigned int session_backlog(struct session *s)
{
	unsigned int n;

	pthread_mutex_lock(&s->lock);
	n = s->outq_len;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/**
 * session_attach() - Set up the client's SVM state and fault shim (hello)
 * @s: The session
 * @fd: The client's userfaultfd (ownership taken)
 *
 * Return: 0, -EALREADY after a previous hello, -EINVAL when @fd is not a
 * userfaultfd, -ENOMEM.
 */
int session_attach(struct session *s, int fd)
{
	struct core *core = &s->d->core;
	int err;

	if (s->attached) {
		close(fd);
		return -EALREADY;
	}
	err = s->shim_ops->create(s, fd, &s->shim);
	if (err)
		return err;
	err = svm_init(&s->svm, &core->svm_cfg, s->shim_ops->mm_ops, s->shim);
	if (err)
		goto err_shim;
	s->svm.owner = s;
	s->svm.account = s->account;
	err = core_client_add(core, &s->svm);
	if (err)
		goto err_svm;
	err = s->shim_ops->start(s->shim);
	if (err)
		goto err_client;
	/* Read without the event loop's ordering: by the fault thread, admin. */
	__atomic_store_n(&s->attached, true, __ATOMIC_RELEASE);
	return 0;
err_client:
	core_client_remove(core, &s->svm);
err_svm:
	svm_fini(&s->svm);
err_shim:
	s->shim_ops->destroy(s->shim);
	s->shim = NULL;
	return err;
}

/**
 * session_fd_name() - The name of the file behind a descriptor a client sent
 * @fd: The descriptor
 * @out: Receives the name, NUL-terminated (truncated to @size - 1 bytes)
 * @size: Bytes at @out
 *
 * The kernel names the file (/proc/self/fd): "/memfd:..." for a memfd,
 * "anon_inode:[userfaultfd]" for a userfaultfd; a client cannot choose it.
 *
 * Return: 0, or the negative errno of readlink().
 */
int session_fd_name(int fd, char *out, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, out, size - 1);
	if (n < 0)
		return -errno;
	out[n] = 0;
	return 0;
}

/* Whether @fd is a memfd, judged by the name of its file. */
static bool session_is_memfd(int fd)
{
	char name[64];

	return !session_fd_name(fd, name, sizeof(name)) && !strncmp(name, "/memfd:", 7);
}

/*
 * Check that @fd is a memfd of @size that can neither shrink nor grow: a
 * client that could truncate memory gsvmd maps could make gsvmd fault
 * (SIGBUS) on it.
 */
static int session_check_memfd(int fd, uint64_t size)
{
	struct stat st;
	int seals;

	if (!session_is_memfd(fd))
		return -EINVAL;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -EINVAL;
	/*
	 * F_SEAL_SEAL too: a seal added later (F_SEAL_FUTURE_WRITE) would make
	 * punching host pages fail, leaving stale copies the CPU would read.
	 */
	if ((seals & SESSION_SEALS) != SESSION_SEALS)
		return -EINVAL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return -EINVAL;
	return 0;
}

/**
 * session_alloc() - Register an allocation the client mapped
 * @s: The session
 * @addr: Where the client mapped it (page aligned)
 * @size: Bytes (page aligned)
 * @fd: Its memfd (ownership taken)
 * @id: Receives the allocation's id
 *
 * Return: 0; -EPROTO before a hello with a userfaultfd; -EINVAL for a bad
 * range or a memfd that is not sealed against shrinking and growing or not
 * of @size; -EEXIST when it overlaps another allocation; -ENOMEM.
 */
/*
 * Wait until what the client unmapped or freed before now is gone from
 * gsvmd too: its unmap events handled, its ranges collected (a migration
 * still holding one finishes first).
 */
static void session_settle(struct session *s)
{
	struct timespec pause = { 0, 100000 };
	unsigned int tries;
	int err;

	if (s->shim_ops->sync(s->shim))
		log_warn("session %llu: address-space events pending for 5 s",
			 (unsigned long long)s->id);
	for (tries = 0; tries < SESSION_SETTLE_TRIES; tries++) {
		pthread_mutex_lock(&s->svm.lock);
		err = migrate_collect(&s->d->core, &s->svm);
		/* Ranges a migration still holds stay queued: wait for them too. */
		if (!err && svm_gc_pending(&s->svm))
			err = -EAGAIN;
		if (!err && atomic_exchange(&s->reap, false))
			session_reap(s);
		pthread_mutex_unlock(&s->svm.lock);
		if (err != -EAGAIN)
			return;
		nanosleep(&pause, NULL);
	}
}

int session_alloc(struct session *s, uint64_t addr, uint64_t size, int fd, uint64_t *id)
{
	bool settled = false;
	struct session_bo *sbo = NULL;
	void *map;
	int err;

	if (!s->attached) {
		err = -EPROTO;
		goto err_fd;
	}
	if (!size || size % SVM_PAGE_SIZE || addr % SVM_PAGE_SIZE || addr + size < addr) {
		err = -EINVAL;
		goto err_fd;
	}
	err = session_check_memfd(fd, size);
	if (err)
		goto err_fd;
	/* The socket, the userfaultfd and a memfd per allocation. */
	if (atomic_load(&s->svm.allocations) + 3 > s->d->core.limits.max_fds) {
		limit_hit(&s->d->core, LIMIT_FDS);
		err = -EMFILE;
		goto err_fd;
	}
	err = account_charge_alloc(&s->d->core, &s->svm);
	if (err)
		goto err_fd;
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto err_charged;
	}
	sbo = mem_alloc(sizeof(*sbo));
	if (!sbo) {
		err = -ENOMEM;
		munmap(map, size);
		goto err_charged;
	}
	*sbo = (struct session_bo){ .fd = fd, .map = map, .size = size, .addr = addr };
again:
	pthread_mutex_lock(&s->svm.lock);
	migrate_collect(&s->d->core, &s->svm);
	*id = ++s->next_bo;
	err = svm_bo_add(&s->svm, *id, size, map, sbo);
	if (!err) {
		err = svm_register(&s->svm, addr, size, *id, 0);
		if (err)
			svm_bo_remove(&s->svm, *id);
	}
	pthread_mutex_unlock(&s->svm.lock);
	/*
	 * The kernel may hand out again an address the client just unmapped,
	 * before gsvmd has read of it (munmap() waits for the unmap event to
	 * be read, not handled): catch up, then look again.
	 */
	if ((err == -EEXIST || err == -EBUSY) && !settled) {
		settled = true;
		session_settle(s);
		goto again;
	}
	if (err)
		session_bo_drop(s, sbo);
	return err;
err_charged:
	account_uncharge_alloc(&s->svm);
err_fd:
	close(fd);
	return err;
}

/* Close allocations that nothing maps and no range uses any more. */
static void session_reap(struct session *s)
{
	struct svm_bo *bo, *next;
	struct session_bo *sbo;

	for (bo = svm_bo_first(&s->svm); bo; bo = next) {
		next = svm_bo_next(&s->svm, bo);
		if (bo->nranges || svm_bo_mapped(&s->svm, bo->id))
			continue;
		sbo = bo->priv;
		svm_bo_remove(&s->svm, bo->id);
		session_bo_drop(s, sbo);
	}
}

/**
 * session_collect() - Run the garbage collector and close dead allocations
 * @s: The session; the driver lock is not held
 */
void session_collect(struct session *s)
{
	if (!__atomic_load_n(&s->attached, __ATOMIC_ACQUIRE) ||
	    (!svm_gc_pending(&s->svm) && !atomic_load(&s->reap)))
		return;
	pthread_mutex_lock(&s->svm.lock);
	if (!migrate_collect(&s->d->core, &s->svm) && atomic_exchange(&s->reap, false))
		session_reap(s);
	pthread_mutex_unlock(&s->svm.lock);
}

/**
 * session_free() - The client frees the allocation it registered at @addr
 * @s: The session
 * @addr: The allocation's address as registered
 *
 * Device memory is released without copying anything back.
 *
 * Return: 0, -EINVAL if no allocation was registered at @addr, -EPROTO
 * before a hello.
 */
int session_free(struct session *s, uint64_t addr)
{
	struct session_bo *sbo;
	struct svm_bo *bo;
	uint64_t size = 0;
	int err;

	if (!s->attached)
		return -EPROTO;
	pthread_mutex_lock(&s->svm.lock);
	for (bo = svm_bo_first(&s->svm); bo; bo = svm_bo_next(&s->svm, bo)) {
		sbo = bo->priv;
		if (sbo->addr == addr) {
			size = sbo->size;
			break;
		}
	}
	pthread_mutex_unlock(&s->svm.lock);
	if (!size)
		return -EINVAL;
	err = migrate_unregister(&s->d->core, &s->svm, addr, size);
	atomic_store(&s->reap, true);
	/*
	 * Ranges a migration still holds go when it lets go of them: wait for
	 * that, so the address is free for the client's next allocation.
	 */
	session_settle(s);
	return err == -EAGAIN ? 0 : err;
}

/**
 * session_unmapped() - The client unmapped [@start, @end)
 * @s: The session; called by the fault shim
 * @start: First address
 * @end: One past the last address
 *
 * Registrations there go (device data of the unmapped part is dropped, the
 * rest of a partly unmapped range comes home) and the host pages the client
 * can no longer reach are punched out of its memfds.
 */
void session_unmapped(struct session *s, uint64_t start, uint64_t end)
{
	struct vamap_mapping *va;
	struct svm_bo *bo;
	uint64_t a, e;

	if (start >= end)
		return;
	/* The client cannot reach these host pages any more: free them. */
	pthread_mutex_lock(&s->svm.lock);
	for (va = vamap_first(&s->svm.va, start, end); va && va->start < end;
	     va = vamap_next(&s->svm.va, va)) {
		a = va->start > start ? va->start : start;
		e = va->start + va->len < end ? va->start + va->len : end;
		bo = svm_bo_find(&s->svm, va->obj);
		if (bo)
			s->shim_ops->mm_ops->release(s->shim, bo, va->offset + (a - va->start),
						     e - a);
	}
	pthread_mutex_unlock(&s->svm.lock);
	migrate_unregister(&s->d->core, &s->svm, start, end - start);
	atomic_store(&s->reap, true);
	session_collect(s);
}

/**
 * session_evacuate() - Hand the client its memory back (gsvmd is stopping)
 * @s: The session
 *
 * Brings every page home and unregisters every allocation from the fault
 * shim, so the client's memory is ordinary memory from then on.
 *
 * Return: 0, or the error that left data on a device.
 */
int session_evacuate(struct session *s)
{
	struct vamap_mapping *va;
	int err, uerr;

	if (!s->attached)
		return 0;
	err = migrate_svm_to_host(&s->d->core, &s->svm);
	pthread_mutex_lock(&s->svm.lock);
	for (va = vamap_first(&s->svm.va, 0, UINT64_MAX); va; va = vamap_next(&s->svm.va, va)) {
		uerr = s->shim_ops->unregister(s->shim, va->start, va->len);
		if (uerr && uerr != -ENOENT && !err)
			err = uerr;
	}
	pthread_mutex_unlock(&s->svm.lock);
	return err;
}
