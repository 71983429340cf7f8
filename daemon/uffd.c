// SPDX-License-Identifier: MIT
/**
 * DOC: userfaultfd fault shim, and the fault thread of every shim
 *
 * The default fault shim. Each client creates a userfaultfd, registers its
 * allocations in MISSING and WP modes with the unmap/remove/remap events, and
 * sends the descriptor to gsvmd in its hello. gsvmd reads it on a thread of
 * its own per client (the fault thread), so a client never stalls the event
 * loop or another client's faults.
 *
 * What the core asks of the address space (&struct svm_mm_ops):
 * write-protect and unprotect (UFFDIO_WRITEPROTECT; unprotecting wakes the
 * writers), release host pages (punch the memfd), install pages
 * (UFFDIO_COPY, atomic per page, skipping pages that exist) and fill zeros
 * into holes (UFFDIO_ZEROPAGE over the memfd's holes, found with SEEK_HOLE).
 * gsvmd never writes a released page through its own mapping of the memfd.
 *
 * The kernel refuses these ioctls with EAGAIN while an address-space event
 * (unmap, remove, remap) is queued and not yet read. Worker threads retry
 * until the fault thread has read it; the fault thread itself gets -EAGAIN
 * back, reads its events and then retries. Hence the rule everything here
 * follows: the fault thread never waits for a busy range or a worker. A fault
 * on a busy range is parked until a range goes idle (the core's range_idle
 * callback writes an eventfd), a fault on data inside its timeslice until the
 * timeslice ends, and events are handled strictly in order, before any fault,
 * so a fault at an address that was just mremap()ed waits for the remap.
 *
 * Userfaultfd reports MADV_DONTNEED and MADV_REMOVE alike (a remove event);
 * gsvmd keeps device-resident data on either. A missing-page fault on a page
 * whose data is on host means the client never wrote it or punched it itself
 * (MADV_REMOVE, fallocate): it reads as zeros.
 *
 * The fault thread below is the shims' common part: the kernel module shim
 * (kmod.c) runs the same thread over another &struct shim_port, whose
 * events it turns into userfaultfd messages. This file's port is the
 * userfaultfd one (uffd_port).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "session.h"
#include "shim.h"

#define UFFD_PAGE 4096ULL
#define UFFD_BATCH 64
/* How long a worker retries an ioctl refused with EAGAIN before giving up. */
#define UFFD_RETRY_NS (30ULL * 1000000000ULL)
/* Retry period for faults at addresses gsvmd does not know (yet). */
#define UFFD_UNKNOWN_RETRY_NS (10ULL * 1000000ULL)
/* Safety net: parked faults are retried at least this often. */
#define UFFD_IDLE_POLL_MS 100

struct uffd_item {
	TAILQ_ENTRY(uffd_item) link;
	struct uffd_msg msg;
	uint64_t deadline;
	uint64_t since;
	bool warned;
};

struct uffd_shim {
	struct session *s;
	const struct shim_port *port;
	int uffd;
	int wakefd;
	pthread_t thread;
	bool started;
	bool no_wp;
	atomic_bool stop;
	atomic_bool parked;	/* work may wait for a range to go idle */
	atomic_uint_fast64_t sync_req;	/* uffd_sync() calls made */
	uint64_t sync_done;		/* of those, answered (sync_lock) */
	pthread_mutex_t sync_lock;
	pthread_cond_t synced;
	bool again;
	bool drained;
	TAILQ_HEAD(, uffd_item) events;
	TAILQ_HEAD(, uffd_item) faults;
};

/* The shim whose fault thread this is, if any. */
static __thread struct uffd_shim *uffd_current;

static uint64_t uffd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void uffd_pause(unsigned int tries)
{
	struct timespec ts = { 0, tries < 20 ? 20000 : 500000 };

	nanosleep(&ts, NULL);
}

/*
 * Whether to retry an ioctl refused with EAGAIN: workers retry until the
 * fault thread has read the pending event; the fault thread must go and read
 * it, so it never retries.
 */
static bool uffd_should_retry(struct uffd_shim *sh, uint64_t start, unsigned int *tries)
{
	if (uffd_current == sh || atomic_load(&sh->stop))
		return false;
	if (uffd_now() - start > UFFD_RETRY_NS)
		return false;
	uffd_pause(++*tries);
	return true;
}

enum uffd_op { UFFD_OP_PROTECT, UFFD_OP_UNPROTECT, UFFD_OP_UNREGISTER };

/* A port call on a range, with the EAGAIN retries of uffd_should_retry(). */
static int uffd_call(struct uffd_shim *sh, enum uffd_op op, uint64_t addr, uint64_t len)
{
	const struct shim_port *port = sh->port;
	uint64_t start = 0;
	unsigned int tries = 0;
	int err;

	for (;;) {
		if (op == UFFD_OP_UNREGISTER)
			err = port->unregister(sh->uffd, addr, len);
		else
			err = port->writeprotect(sh->uffd, addr, len, op == UFFD_OP_PROTECT);
		if (err != -EAGAIN)
			return err;
		if (!start)
			start = uffd_now();
		if (!uffd_should_retry(sh, start, &tries))
			return -EAGAIN;
	}
}

static int uffd_protect(void *mm, uint64_t addr, uint64_t len)
{
	struct uffd_shim *sh = mm;

	if (sh->no_wp)
		return 0;
	return uffd_call(sh, UFFD_OP_PROTECT, addr, len);
}

static int uffd_unprotect(void *mm, uint64_t addr, uint64_t len)
{
	struct uffd_shim *sh = mm;

	if (sh->no_wp)
		return 0;
	return uffd_call(sh, UFFD_OP_UNPROTECT, addr, len);
}

static int uffd_release(void *mm, struct svm_bo *bo, uint64_t offset, uint64_t len)
{
	struct session_bo *sbo = bo->priv;
	struct uffd_shim *sh = mm;

	return sh->port->release(sh->uffd, sbo->fd, offset, len);
}

/*
 * UFFDIO_COPY or UFFDIO_ZEROPAGE over [addr, addr + len): pages that exist
 * are skipped, partial progress is kept, EAGAIN retried as the caller may.
 * Both wake the threads waiting on the pages they fill; *@skipped is set
 * when some page already existed (its waiters are not woken by the ioctl).
 */
static int uffd_fill(struct uffd_shim *sh, uint64_t addr, const uint8_t *src, uint64_t len,
		     bool *skipped)
{
	uint64_t start = 0;
	unsigned int tries = 0;
	int64_t done;
	int err;

	while (len) {
		done = 0;
		err = sh->port->copy(sh->uffd, addr, src, len, &done);
		if (!err)
			return 0;
		if (done > 0) {
			addr += (uint64_t)done;
			src = src ? src + done : NULL;
			len -= (uint64_t)done;
			continue;
		}
		if (err == -EEXIST) {
			*skipped = true;
			addr += UFFD_PAGE;
			src = src ? src + UFFD_PAGE : NULL;
			len -= UFFD_PAGE;
			continue;
		}
		if (err != -EAGAIN)
			return err;
		if (!start)
			start = uffd_now();
		if (!uffd_should_retry(sh, start, &tries))
			return -EAGAIN;
	}
	return 0;
}

static int uffd_wake_range(struct uffd_shim *sh, uint64_t addr, uint64_t len)
{
	int err = sh->port->wake(sh->uffd, addr, len);

	return err == -ENOENT ? 0 : err;
}

static int uffd_install(void *mm, uint64_t addr, const void *src, uint64_t len)
{
	bool skipped = false;
	int err = uffd_fill(mm, addr, src, len, &skipped);

	/* A page that was there already: its waiters still need waking. */
	if (!err && skipped)
		err = uffd_wake_range(mm, addr, len);
	return err;
}

/* Zero-fill the holes of [offset, offset + len) of @bo, mapped at @addr. */
static int uffd_fill_zero(void *mm, uint64_t addr, struct svm_bo *bo, uint64_t offset,
			  uint64_t len)
{
	struct session_bo *sbo = bo->priv;
	uint64_t pos = offset, end = offset + len;
	bool skipped = false;
	off_t hole, data;
	int err = 0;

	while (pos < end) {
		hole = lseek(sbo->fd, (off_t)pos, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole >= end) {
			err = hole < 0 ? -errno : 0;
			break;
		}
		data = lseek(sbo->fd, hole, SEEK_DATA);
		if (data < 0 || (uint64_t)data > end)
			data = (off_t)end;
		err = uffd_fill(mm, addr + ((uint64_t)hole - offset), NULL,
				(uint64_t)(data - hole), &skipped);
		if (err)
			return err;
		pos = (uint64_t)data;
	}
	/*
	 * The faulting page may have been filled meanwhile (not a hole, or
	 * skipped): wake its waiters, which the ioctls did not.
	 */
	if (!err)
		err = uffd_wake_range(mm, addr, len);
	return err;
}

static int uffd_host_fd(void *mm, struct svm_bo *bo)
{
	struct session_bo *sbo = bo->priv;

	(void)mm;
	return sbo->fd;
}

/* Wake the fault thread. */
static void uffd_kick(struct uffd_shim *sh)
{
	uint64_t one = 1;

	if (write(sh->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("eventfd: %s", strerror(errno));
}

static void uffd_range_idle(void *mm)
{
	struct uffd_shim *sh = mm;

	/*
	 * On the fault thread itself nothing is parked on a range it owned: it
	 * handles its faults one after the other, and retries parked ones on
	 * every pass anyway. Elsewhere, only when something waits.
	 */
	if (uffd_current != sh && atomic_load(&sh->parked))
		uffd_kick(sh);
}

const struct svm_mm_ops shim_thread_mm_ops = {
	.protect = uffd_protect,
	.unprotect = uffd_unprotect,
	.release = uffd_release,
	.install = uffd_install,
	.fill_zero = uffd_fill_zero,
	.host_fd = uffd_host_fd,
	.range_idle = uffd_range_idle,
};

/* Handle one address-space event; -EBUSY and -EAGAIN mean "not yet". */
static int uffd_event(struct uffd_shim *sh, const struct uffd_msg *m)
{
	struct session *s = sh->s;

	switch (m->event) {
	case UFFD_EVENT_REMOVE:
		svm_invalidate(&s->svm, m->arg.remove.start, m->arg.remove.end);
		return 0;
	case UFFD_EVENT_UNMAP:
		session_unmapped(s, m->arg.remove.start, m->arg.remove.end);
		return 0;
	case UFFD_EVENT_REMAP:
		return migrate_remap(&s->d->core, &s->svm, m->arg.remap.from, m->arg.remap.to,
				     m->arg.remap.len);
	default:
		log_warn("session %llu: unexpected userfaultfd event %u",
			 (unsigned long long)s->id, m->event);
		return 0;
	}
}

static int uffd_fault(struct uffd_shim *sh, const struct uffd_msg *m, uint64_t *retry_at)
{
	struct session *s = sh->s;
	uint64_t addr = m->arg.pagefault.address & ~(UFFD_PAGE - 1);

	/* Resolving a fault wakes its thread (install, zero-fill, unprotect). */
	if (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)
		return migrate_wp_fault(&s->d->core, &s->svm, addr);
	return migrate_cpu_fault(&s->d->core, &s->svm, addr, retry_at);
}

static void uffd_item_done(struct uffd_shim *sh, struct uffd_item *it, bool event)
{
	if (event)
		TAILQ_REMOVE(&sh->events, it, link);
	else
		TAILQ_REMOVE(&sh->faults, it, link);
	mem_free(it);
}

/* A fault gsvmd cannot serve right now: when to try it again. */
static void uffd_fault_later(struct uffd_shim *sh, struct uffd_item *it, int err, uint64_t now)
{
	it->deadline = now + UFFD_UNKNOWN_RETRY_NS;
	if (it->warned || now - it->since < 5000000000ULL)
		return;
	it->warned = true;
	log_warn("session %llu: fault at %#llx unresolved for 5 s: %s",
		 (unsigned long long)sh->s->id,
		 (unsigned long long)it->msg.arg.pagefault.address, strerror(-err));
}

static void uffd_process(struct uffd_shim *sh)
{
	struct uffd_item *it, *tmp;
	uint64_t now, retry_at;
	int err;

	sh->again = false;
	/*
	 * Before any range is looked at: a worker that ends a range after we
	 * found it busy then sees the flag and wakes us (uffd_range_idle()).
	 */
	atomic_store(&sh->parked, true);
	while ((it = TAILQ_FIRST(&sh->events))) {
		err = uffd_event(sh, &it->msg);
		if (err == -EAGAIN)
			sh->again = true;
		if (err == -EAGAIN || err == -EBUSY)
			goto out;
		if (err)
			log_warn("session %llu: event %u: %s", (unsigned long long)sh->s->id,
				 it->msg.event, strerror(-err));
		uffd_item_done(sh, it, true);
	}
	now = uffd_now();
	TAILQ_FOREACH_SAFE(it, &sh->faults, link, tmp) {
		if (it->deadline > now)
			continue;
		retry_at = 0;
		err = uffd_fault(sh, &it->msg, &retry_at);
		if (!err) {
			core_record_fault_latency(&sh->s->d->core, uffd_now() - it->since);
			uffd_item_done(sh, it, false);
		} else if (err == -EBUSY) {
			it->deadline = 0;
		} else if (err == -ETIME) {
			it->deadline = retry_at;
		} else if (err == -EAGAIN) {
			sh->again = true;
			break;
		} else {
			uffd_fault_later(sh, it, err, now);
		}
	}
	TAILQ_FOREACH(it, &sh->faults, link)
		if (!it->deadline)
			goto out;
	atomic_store(&sh->parked, false);
out:
	session_collect(sh->s);
}

/* Read every queued message; events and faults go to their lists. */
static int uffd_read(struct uffd_shim *sh)
{
	struct uffd_msg msgs[UFFD_BATCH];
	struct uffd_item *it;
	ssize_t n, i;
	uint64_t now = uffd_now();

	for (;;) {
		n = sh->port->read(sh->uffd, msgs, UFFD_BATCH);
		if (n < 0)
			return n == -EAGAIN || n == -EINTR ? 0 : (int)n;
		/* A short read drained the queue: no need to ask again. */
		if (n < UFFD_BATCH)
			sh->drained = true;
		for (i = 0; i < n; i++) {
			it = mem_zalloc(sizeof(*it));
			if (!it)
				return -ENOMEM;
			it->msg = msgs[i];
			it->since = now;
			if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
				TAILQ_INSERT_TAIL(&sh->faults, it, link);
			else
				TAILQ_INSERT_TAIL(&sh->events, it, link);
		}
		if (sh->drained) {
			sh->drained = false;
			return 0;
		}
	}
}

/* Milliseconds poll() may sleep before parked work is due. */
static int uffd_timeout(struct uffd_shim *sh)
{
	uint64_t now = uffd_now(), next = UINT64_MAX;
	struct uffd_item *it;

	if (sh->again)
		return 0;
	if (!TAILQ_EMPTY(&sh->events))
		return UFFD_IDLE_POLL_MS;
	TAILQ_FOREACH(it, &sh->faults, link)
		if (it->deadline && it->deadline < next)
			next = it->deadline;
	if (next == UINT64_MAX)
		return TAILQ_EMPTY(&sh->faults) ? -1 : UFFD_IDLE_POLL_MS;
	if (next <= now)
		return 0;
	next = (next - now + 999999) / 1000000;
	return next > UFFD_IDLE_POLL_MS ? UFFD_IDLE_POLL_MS : (int)next;
}

/* The events read before sync request @req are handled: answer it. */
static void uffd_synced(struct uffd_shim *sh, uint64_t req)
{
	pthread_mutex_lock(&sh->sync_lock);
	if (sh->sync_done < req) {
		sh->sync_done = req;
		pthread_cond_broadcast(&sh->synced);
	}
	pthread_mutex_unlock(&sh->sync_lock);
}

static void *uffd_main(void *arg)
{
	struct uffd_shim *sh = arg;
	struct pollfd pfd[2] = {
		{ .fd = sh->uffd, .events = POLLIN },
		{ .fd = sh->wakefd, .events = POLLIN },
	};
	uint64_t count, req;
	int err;

	uffd_current = sh;
	while (!atomic_load(&sh->stop)) {
		if (poll(pfd, 2, uffd_timeout(sh)) < 0 && errno != EINTR) {
			log_err("session %llu: poll: %s", (unsigned long long)sh->s->id,
				strerror(errno));
			break;
		}
		if (pfd[1].revents & POLLIN && read(sh->wakefd, &count, sizeof(count)) < 0 &&
		    errno != EAGAIN)
			log_warn("eventfd: %s", strerror(errno));
		if (atomic_load(&sh->stop))
			break;
		/* Every event queued before a uffd_sync() call is read below. */
		req = atomic_load(&sh->sync_req);
		err = uffd_read(sh);
		if (err) {
			/*
			 * The descriptor is broken (the kernel said so): no
			 * fault of this client can be served any more. Say it
			 * once and stop, rather than spin on it.
			 */
			log_err("session %llu: %s read: %s: no longer serving its faults",
				(unsigned long long)sh->s->id, sh->port->name, strerror(-err));
			break;
		}
		uffd_process(sh);
		if (TAILQ_EMPTY(&sh->events))
			uffd_synced(sh, req);
		if (sh->again)
			uffd_pause(1);
	}
	uffd_synced(sh, UINT64_MAX);
	return NULL;
}

/**
 * shim_thread_create() - Set up a client's fault thread (not started)
 * @s: The session
 * @fd: The descriptor the client sent (ownership taken, even on error)
 * @port: How to talk to the kernel through it
 * @out: Receives the shim
 *
 * Return: 0, the port's error for a descriptor it refuses (-EINVAL),
 * -ENOMEM.
 */
int shim_thread_create(struct session *s, int fd, const struct shim_port *port, void **out)
{
	struct uffd_shim *sh;
	int err;

	err = port->open(fd, s->pid, &fd);
	if (err)
		return err;
	sh = mem_zalloc(sizeof(*sh));
	if (!sh) {
		err = -ENOMEM;
		goto err_fd;
	}
	sh->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sh->wakefd < 0) {
		err = -errno;
		mem_free(sh);
		goto err_fd;
	}
	sh->s = s;
	sh->port = port;
	sh->uffd = fd;
	/*
	 * For the race test only: shows that without write-protection a writer
	 * racing a migration loses stores. Never set it in production.
	 */
	sh->no_wp = getenv("GSVMD_UNSAFE_NO_WRITE_PROTECT") != NULL;
	if (sh->no_wp)
		log_warn("session %llu: write-protection OFF (GSVMD_UNSAFE_NO_WRITE_PROTECT): "
			 "writes racing migrations will be lost",
			 (unsigned long long)s->id);
	TAILQ_INIT(&sh->events);
	TAILQ_INIT(&sh->faults);
	pthread_mutex_init(&sh->sync_lock, NULL);
	pthread_cond_init(&sh->synced, NULL);
	*out = sh;
	return 0;
err_fd:
	close(fd);
	return err;
}

int shim_thread_start(void *shim)
{
	struct uffd_shim *sh = shim;
	int err = pthread_create(&sh->thread, NULL, uffd_main, sh);

	if (err)
		return -err;
	sh->started = true;
	return 0;
}

void shim_thread_destroy(void *shim)
{
	struct uffd_shim *sh = shim;
	struct uffd_item *it;

	if (!sh)
		return;
	atomic_store(&sh->stop, true);
	uffd_kick(sh);
	if (sh->started)
		pthread_join(sh->thread, NULL);
	while ((it = TAILQ_FIRST(&sh->events)))
		uffd_item_done(sh, it, true);
	while ((it = TAILQ_FIRST(&sh->faults)))
		uffd_item_done(sh, it, false);
	close(sh->wakefd);
	close(sh->uffd);
	pthread_cond_destroy(&sh->synced);
	pthread_mutex_destroy(&sh->sync_lock);
	mem_free(sh);
}

int shim_thread_unregister(void *shim, uint64_t start, uint64_t len)
{
	struct uffd_shim *sh = shim;

	return uffd_call(sh, UFFD_OP_UNREGISTER, start, len);
}

/* How long uffd_sync() waits for the fault thread. */
#define UFFD_SYNC_NS (5ULL * 1000000000ULL)

int shim_thread_sync(void *shim)
{
	struct uffd_shim *sh = shim;
	uint64_t req, deadline;
	struct timespec ts;
	int err = 0;

	if (uffd_current == sh || !sh->started)
		return 0;
	req = atomic_fetch_add(&sh->sync_req, 1) + 1;
	uffd_kick(sh);
	clock_gettime(CLOCK_REALTIME, &ts);
	deadline = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec + UFFD_SYNC_NS;
	ts.tv_sec = (time_t)(deadline / 1000000000ULL);
	ts.tv_nsec = (long)(deadline % 1000000000ULL);
	pthread_mutex_lock(&sh->sync_lock);
	while (sh->sync_done < req && !err)
		err = -pthread_cond_timedwait(&sh->synced, &sh->sync_lock, &ts);
	pthread_mutex_unlock(&sh->sync_lock);
	return err == -ETIMEDOUT ? -ETIMEDOUT : 0;
}


/* ---- the userfaultfd port ---- */

/* Whether @fd is a userfaultfd, judged by its anonymous inode's name. */
static bool uffd_is_userfaultfd(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char name[64];

	if (session_fd_name(fd, name, sizeof(name)) || strcmp(name, "anon_inode:[userfaultfd]") != 0)
		return false;
	/*
	 * One the client never set up (UFFDIO_API) polls as an error and
	 * refuses every read: it cannot forward anything.
	 */
	return poll(&pfd, 1, 0) >= 0 && !(pfd.revents & (POLLERR | POLLNVAL));
}

static int uffd_port_open(int fd, pid_t peer, int *out)
{
	int flags;

	(void)peer;
	if (!uffd_is_userfaultfd(fd)) {
		close(fd);
		return -EINVAL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

static int uffd_port_read(int fd, struct uffd_msg *msgs, int max)
{
	ssize_t n = read(fd, msgs, sizeof(*msgs) * (size_t)max);

	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return (int)(n / (ssize_t)sizeof(*msgs));
}

static int uffd_port_writeprotect(int fd, uint64_t addr, uint64_t len, bool on)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = addr, .len = len },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(fd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

static int uffd_port_copy(int fd, uint64_t addr, const void *src, uint64_t len, int64_t *done)
{
	struct uffdio_copy c = { .dst = addr, .src = (uintptr_t)src, .len = len };
	struct uffdio_zeropage z = { .range = { .start = addr, .len = len } };
	int err;

	if (src) {
		err = ioctl(fd, UFFDIO_COPY, &c) ? -errno : 0;
		*done = c.copy;
	} else {
		err = ioctl(fd, UFFDIO_ZEROPAGE, &z) ? -errno : 0;
		*done = z.zeropage;
	}
	return err;
}

static int uffd_port_wake(int fd, uint64_t addr, uint64_t len)
{
	struct uffdio_range r = { .start = addr, .len = len };

	return ioctl(fd, UFFDIO_WAKE, &r) ? -errno : 0;
}

static int uffd_port_release(int fd, int memfd, uint64_t offset, uint64_t len)
{
	(void)fd;
	if (fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)len))
		return -errno;
	return 0;
}

static int uffd_port_unregister(int fd, uint64_t start, uint64_t len)
{
	struct uffdio_range r = { .start = start, .len = len };

	return ioctl(fd, UFFDIO_UNREGISTER, &r) ? -errno : 0;
}

static const struct shim_port uffd_port = {
	.name = "userfaultfd",
	.open = uffd_port_open,
	.read = uffd_port_read,
	.writeprotect = uffd_port_writeprotect,
	.copy = uffd_port_copy,
	.wake = uffd_port_wake,
	.release = uffd_port_release,
	.unregister = uffd_port_unregister,
};

static int uffd_create(struct session *s, int fd, void **out)
{
	return shim_thread_create(s, fd, &uffd_port, out);
}

const struct shim_ops uffd_shim_ops = {
	.name = "userfaultfd",
	.mm_ops = &shim_thread_mm_ops,
	.create = uffd_create,
	.start = shim_thread_start,
	.destroy = shim_thread_destroy,
	.unregister = shim_thread_unregister,
	.sync = shim_thread_sync,
};
