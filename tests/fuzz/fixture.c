// SPDX-License-Identifier: MIT
/* The in-process daemon and client the harnesses share; see fixture.h. */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dispatch.h"
#include "events.h"
#include "fixture.h"
#include "log.h"
#include "session.h"
#include "uffd_client.h"
#include "wire.h"
#include "workers.h"

#define FIXTURE_WORKERS 2
/* Request ids of the set-up requests, out of the way of the inputs' ids. */
#define FIXTURE_SETUP_ID (1ULL << 62)

static const uint64_t fixture_dev_size[FUZZ_NDEV] = { FUZZ_DEV0_SIZE, FUZZ_DEV1_SIZE };
static const uint64_t fixture_alloc_size[FUZZ_NALLOCS] = { FUZZ_A0_SIZE, FUZZ_A1_SIZE };
static const struct svm_config fixture_svm = {
	.notifier_size = FUZZ_NOTIFIER,
	.chunk_sizes = { 64 << 10, 16 << 10, 4 << 10 },
	.nchunks = 3,
};

/* Under ASan/UBSan: symbolize a code address (the sanitizer's own API). */
void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out, size_t size)
	__attribute__((weak));

static struct fuzz_fixture fixture;
/*
 * Where fixture_die() writes: stderr as it was at start-up. libFuzzer's
 * -close_fd_mask=2 then silences gsvmd's log, not the harness's verdict.
 */
static int fixture_report_fd = 2;

/**
 * fixture_die() - Report what went wrong and abort (the fuzzer's crash)
 * @fmt: printf format
 */
void fixture_die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(fixture_report_fd, "fuzz: %s\n", msg);
	abort();
}

/**
 * fixture_memfd() - A memfd of @size bytes
 * @size: Bytes
 * @seal: Seal it against shrinking and growing, as libgsvm does
 *
 * Return: the descriptor, or -1.
 */
int fixture_memfd(uint64_t size, bool seal)
{
	int fd = memfd_create("gsvm-fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) ||
	    (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))) {
		close(fd);
		return -1;
	}
	return fd;
}

/**
 * fixture_fd() - A descriptor to send with a request
 * @f: The fixture
 * @kind: 0 none, 1 /dev/null, 2 the userfaultfd, 3 and 4 an allocation's
 *        memfd, 5 a fresh sealed memfd of @size, 6 an unsealed one, 7 a pipe
 * @size: Size of a fresh memfd (kept small: larger ones get one page)
 *
 * Return: a descriptor the caller owns, or -1.
 */
int fixture_fd(struct fuzz_fixture *f, unsigned int kind, uint64_t size)
{
	int p[2];

	if (size > FUZZ_SPAN)
		size = 4096;
	kind %= 8;
	switch (kind) {
	case 1:
		return dup(f->devnull);
	case 2:
		return fcntl(f->uffd, F_DUPFD_CLOEXEC, 0);
	case 3:
	case 4:
		return fcntl(f->alloc[kind - 3].memfd, F_DUPFD_CLOEXEC, 0);
	case 5:
	case 6:
		return fixture_memfd(size, kind == 5);
	case 7:
		if (pipe2(p, O_CLOEXEC))
			return -1;
		close(p[1]);
		return p[0];
	default:
		return -1;
	}
}

/**
 * fixture_count_fds() - Descriptors the process has open
 *
 * Return: their number.
 */
unsigned int fixture_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	unsigned int n = 0;
	struct dirent *e;

	if (!dir)
		fixture_die("/proc/self/fd: %s", strerror(errno));
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;
}

static void fixture_fini(void)
{
	struct fuzz_fixture *f = &fixture;
	unsigned int i;

	workers_destroy(f->d.workers);
	events_fini(&f->d);
	core_fini(&f->d.core);
	event_base_free(f->d.base);
	/* Unregistered first, or munmap() would wait for an unmap event reader. */
	for (i = 0; i < FUZZ_NALLOCS; i++) {
		uffd_unregister(f->uffd, (void *)f->alloc[i].addr, f->alloc[i].size);
		close(f->alloc[i].memfd);
	}
	close(f->uffd);
	munmap((void *)FUZZ_BASE, FUZZ_SPAN);
	close(f->devnull);
}

/* The daemon, built as gsvmd_start() builds it, scaled down (fixture.h). */
static void fixture_daemon(struct gsvmd *d)
{
	unsigned int i;
	int err;

	config_default(&d->cfg);
	for (i = 0; i < FUZZ_NDEV; i++)
		d->cfg.core.dev[i].capacity = fixture_dev_size[i];
	d->cfg.core.ndev = FUZZ_NDEV;
	d->cfg.core.svm = fixture_svm;
	pthread_mutex_init(&d->lock, NULL);
	TAILQ_INIT(&d->sessions);
	d->admin_gid = (gid_t)-1;
	if (evthread_use_pthreads())
		fixture_die("libevent: no thread support");
	d->base = event_base_new();
	if (!d->base)
		fixture_die("libevent: no event base");
	err = core_init(&d->core, &d->cfg.core);
	if (err)
		fixture_die("core_init: %s", strerror(-err));
	/* Create the pools now: they stay (cached) and the fd count is stable. */
	for (i = 0; i < d->core.ndev; i++) {
		err = pagemap_get(d->core.dev[i]);
		if (err)
			fixture_die("device %u: %s", i, strerror(-err));
		pagemap_put(d->core.dev[i]);
	}
	err = events_init(d);
	if (!err)
		err = workers_create(FIXTURE_WORKERS, &d->workers);
	if (err)
		fixture_die("events/workers: %s", strerror(-err));
}

/* The client: a userfaultfd and the allocations at FUZZ_BASE. */
static void fixture_client(struct fuzz_fixture *f)
{
	uint64_t addr = FUZZ_BASE;
	unsigned int i;
	void *p;
	int err;

	p = mmap((void *)FUZZ_BASE, FUZZ_SPAN, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)FUZZ_BASE)
		fixture_die("cannot map %#llx: %s", FUZZ_BASE, strerror(errno));
	err = uffd_open(&f->uffd);
	if (err)
		fixture_die("userfaultfd: %s", strerror(-err));
	for (i = 0; i < FUZZ_NALLOCS; i++) {
		struct fuzz_alloc *a = &f->alloc[i];

		a->addr = addr;
		a->size = fixture_alloc_size[i];
		a->memfd = fixture_memfd(a->size, true);
		if (a->memfd < 0)
			fixture_die("memfd: %s", strerror(errno));
		p = mmap((void *)addr, a->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 a->memfd, 0);
		if (p == MAP_FAILED)
			fixture_die("mmap: %s", strerror(errno));
		err = uffd_register(f->uffd, p, a->size);
		if (err)
			fixture_die("register: %s", strerror(-err));
		addr += a->size;
	}
	f->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (f->devnull < 0)
		fixture_die("/dev/null: %s", strerror(errno));
}

/**
 * fixture_get() - The fixture, set up on first use
 *
 * Return: the fixture; it is torn down at exit.
 */
struct fuzz_fixture *fixture_get(void)
{
	static bool ready;

	if (ready)
		return &fixture;
	ready = true;
	fixture_report_fd = fcntl(2, F_DUPFD_CLOEXEC, 0);
	if (fixture_report_fd < 0)
		fixture_report_fd = 2;
	signal(SIGPIPE, SIG_IGN);
	/* Warnings stay: a crash report should come with the daemon's story. */
	log_init(-1, false);
	fixture_daemon(&fixture.d);
	fixture_client(&fixture);
	/*
	 * The sanitizers start llvm-symbolizer, with two pipes to it, the first
	 * time they name a function (libFuzzer's NEW_FUNC lines): now, so that
	 * those descriptors are not taken for the daemon's leak.
	 */
	if (__sanitizer_symbolize_pc) {
		char name[256];

		__sanitizer_symbolize_pc((void *)(uintptr_t)fixture_fini, "%F", name, sizeof(name));
	}
	atexit(fixture_fini);
	return &fixture;
}

/**
 * fixture_reset() - Start an input from the same state as every other
 * @f: The fixture; no session is open
 *
 * Empties the allocations' memfds (whatever a previous input left there)
 * and binds the devices a previous input unbound. The first call counts the
 * descriptors open (the harness and libFuzzer are set up by then), for
 * fixture_check().
 */
void fixture_reset(struct fuzz_fixture *f)
{
	unsigned int i;
	int err;

	if (!f->nfds)
		f->nfds = fixture_count_fds();
	for (i = 0; i < FUZZ_NALLOCS; i++)
		if (fallocate(f->alloc[i].memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			      (off_t)f->alloc[i].size))
			fixture_die("punch: %s", strerror(errno));
	for (i = 0; i < f->d.core.ndev; i++) {
		if (pagemap_bound(f->d.core.dev[i]))
			continue;
		err = pagemap_rebind(f->d.core.dev[i]);
		if (err)
			fixture_die("rebind device %u: %s", i, strerror(-err));
	}
}

/**
 * fixture_check() - After an input: assert that nothing leaked
 * @f: The fixture; every connection is closed
 *
 * No session, no client, no device memory, no busy worker, and exactly the
 * descriptors the fixture itself holds.
 */
void fixture_check(struct fuzz_fixture *f)
{
	uint64_t used, nallocs;
	unsigned int i, nfds;

	if (f->d.nsessions || !TAILQ_EMPTY(&f->d.sessions) || f->d.core.nclients)
		fixture_die("%u session(s), %u client(s) left", f->d.nsessions, f->d.core.nclients);
	if (workers_busy(f->d.workers))
		fixture_die("workers still busy");
	for (i = 0; i < f->d.core.ndev; i++) {
		pagemap_usage(f->d.core.dev[i], NULL, &used, &nallocs);
		if (used || nallocs)
			fixture_die("device %u: %llu bytes in %llu allocations left", i,
				    (unsigned long long)used, (unsigned long long)nallocs);
	}
	nfds = fixture_count_fds();
	if (nfds != f->nfds)
		fixture_die("%u descriptors open, %u expected", nfds, f->nfds);
}

static void fixture_on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void fixture_on_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_flush(arg);
}

/**
 * fixture_connect() - A session whose client end the harness holds
 * @f: The fixture
 * @c: Receives the session and the client's end of the socket pair
 *
 * The harness reads no requests from the socket: it hands them to
 * dispatch_request() itself (fixture_request()). Replies come through it.
 *
 * Return: 0 or a negative errno.
 */
int fixture_connect(struct fuzz_fixture *f, struct fuzz_conn *c)
{
	struct session *s;
	int sv[2], err;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return -errno;
	err = session_create(&f->d, sv[0], &s);
	if (err) {
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	s->ev_read = event_new(f->d.base, sv[0], EV_READ | EV_PERSIST, fixture_on_read, s);
	s->ev_write = event_new(f->d.base, sv[0], EV_WRITE | EV_PERSIST, fixture_on_write, s);
	c->s = s;
	c->peer = sv[1];
	if (!s->ev_read || !s->ev_write) {
		fixture_disconnect(f, c);
		return -ENOMEM;
	}
	return 0;
}

/**
 * fixture_disconnect() - The client goes away
 * @f: The fixture
 * @c: The connection; every request has been answered
 */
void fixture_disconnect(struct fuzz_fixture *f, struct fuzz_conn *c)
{
	(void)f;
	if (c->s)
		session_close(c->s);
	if (c->peer >= 0)
		close(c->peer);
	c->s = NULL;
	c->peer = -1;
}

/**
 * fixture_replies() - Read every reply gsvmd has sent or queued
 * @f: The fixture
 * @peer: The client's end of the connection
 * @fn: Called with each reply (may be NULL)
 * @arg: Its argument
 *
 * Runs the event loop, which flushes what the socket could not take, until
 * neither the socket nor the loop has anything more. Every reply must be a
 * well-formed response of at most WIRE_MAX_MSG bytes.
 */
void fixture_replies(struct fuzz_fixture *f, int peer, fixture_reply_fn *fn, void *arg)
{
	static uint8_t buf[WIRE_MAX_MSG + 1];
	Gsvm__Response *resp;
	unsigned int idle = 0;
	ssize_t len;

	while (idle < 2) {
		len = recv(peer, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (len > 0) {
			idle = 0;
			if (len > (ssize_t)WIRE_MAX_MSG)
				fixture_die("reply of %zd bytes", len);
			resp = gsvm__response__unpack(NULL, (size_t)len, buf);
			if (!resp)
				fixture_die("undecodable reply of %zd bytes", len);
			if (fn)
				fn(arg, resp);
			gsvm__response__free_unpacked(resp, NULL);
			continue;
		}
		if (len < 0 && errno == EINTR)
			continue;
		if (len == 0 || errno != EAGAIN)
			break;
		event_base_loop(f->d.base, EVLOOP_NONBLOCK);
		idle++;
	}
}

struct fixture_count {
	uint64_t id;
	unsigned int n;
	int *err;
};

static void fixture_count_reply(void *arg, const Gsvm__Response *resp)
{
	struct fixture_count *c = arg;

	if (resp->id != c->id)
		return;
	c->n++;
	if (c->err)
		*c->err = resp->err;
}

/**
 * fixture_drain() - fixture_replies(), counting the replies to one request
 * @f: The fixture
 * @peer: The client's end of the connection
 * @id: The request's id
 * @err: Receives the err of the last reply that carried @id (may be NULL)
 *
 * Return: how many replies carried @id.
 */
unsigned int fixture_drain(struct fuzz_fixture *f, int peer, uint64_t id, int *err)
{
	struct fixture_count c = { .id = id, .err = err };

	fixture_replies(f, peer, fixture_count_reply, &c);
	return c.n;
}

/**
 * fixture_dispatch() - Hand one decoded request to the dispatcher, wait for it
 * @f: The fixture
 * @c: The connection
 * @req: The request, as gsvm__request__unpack() returned it (ownership taken)
 * @fd: A descriptor sent with it, or -1 (ownership taken)
 * @err: Receives the reply's err (may be NULL)
 *
 * Return: how many replies carried the request's id.
 */
unsigned int fixture_dispatch(struct fuzz_fixture *f, struct fuzz_conn *c, Gsvm__Request *req,
			      int fd, int *err)
{
	uint64_t id = req->id;

	dispatch_request(c->s, req, fd);
	workers_drain(f->d.workers);
	return fixture_drain(f, c->peer, id, err);
}

/**
 * fixture_submit() - Hand a request built by the harness to the dispatcher
 * @f: The fixture
 * @c: The connection
 * @req: The request; packed and decoded, as it would be on the wire
 * @fd: A descriptor sent with it, or -1 (ownership taken)
 *
 * Does not wait: the request may still be running on a worker.
 */
void fixture_submit(struct fuzz_fixture *f, struct fuzz_conn *c, const Gsvm__Request *req, int fd)
{
	static uint8_t buf[WIRE_MAX_MSG];
	size_t len = gsvm__request__get_packed_size(req);
	Gsvm__Request *copy;

	(void)f;
	if (len > sizeof(buf))
		fixture_die("a request of %zu bytes", len);
	gsvm__request__pack(req, buf);
	copy = gsvm__request__unpack(NULL, len, buf);
	if (!copy)
		fixture_die("a request packed by protobuf-c does not decode");
	dispatch_request(c->s, copy, fd);
}

/**
 * fixture_request() - fixture_submit(), then wait for the request
 * @f: The fixture
 * @c: The connection
 * @req: The request
 * @fd: A descriptor sent with it, or -1 (ownership taken)
 * @err: Receives the reply's err (may be NULL)
 *
 * Return: how many replies carried the request's id.
 */
unsigned int fixture_request(struct fuzz_fixture *f, struct fuzz_conn *c, const Gsvm__Request *req,
			     int fd, int *err)
{
	fixture_submit(f, c, req, fd);
	workers_drain(f->d.workers);
	return fixture_drain(f, c->peer, req->id, err);
}

/**
 * fixture_setup_client() - What libgsvm does first: hello, then allocations
 * @f: The fixture
 * @c: A fresh connection
 * @allocs: Register the allocations too
 *
 * Return: 0, gsvmd's error, or -EPROTO when it did not answer once.
 */
int fixture_setup_client(struct fuzz_fixture *f, struct fuzz_conn *c, bool allocs)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__Hello hello = GSVM__HELLO__INIT;
	Gsvm__AllocReq alloc = GSVM__ALLOC_REQ__INIT;
	unsigned int i;
	int err = -EPROTO;

	req.id = FIXTURE_SETUP_ID;
	req.body_case = GSVM__REQUEST__BODY_HELLO;
	req.hello = &hello;
	hello.version = GSVM__VERSION__VERSION_CURRENT;
	hello.name = "fuzz";
	hello.has_uffd = true;
	if (fixture_request(f, c, &req, fixture_fd(f, 2, 0), &err) != 1 || err)
		return err ? err : -EPROTO;
	for (i = 0; allocs && i < FUZZ_NALLOCS; i++) {
		req.id = FIXTURE_SETUP_ID + 1 + i;
		req.body_case = GSVM__REQUEST__BODY_ALLOC;
		req.alloc = &alloc;
		alloc.addr = f->alloc[i].addr;
		alloc.size = f->alloc[i].size;
		if (fixture_request(f, c, &req, fixture_fd(f, 3 + i, 0), &err) != 1 || err)
			return err ? err : -EPROTO;
	}
	return 0;
}
