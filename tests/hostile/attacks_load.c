// SPDX-License-Identifier: MIT
/*
 * Attacks by numbers and by death: connection churn, idle and
 * never-reading connections, request floods, and clients killed at random
 * moments in the middle of whatever they were doing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gsvm.h"
#include "harness.h"
#include "hostile.h"

static int send_hello(struct rawconn *rc, int uffd)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__Hello hello = GSVM__HELLO__INIT;
	int64_t id;

	hello.version = GSVM__VERSION__VERSION_CURRENT;
	hello.name = "churn";
	hello.has_uffd = uffd >= 0;
	req.body_case = GSVM__REQUEST__BODY_HELLO;
	req.hello = &hello;
	id = rawconn_send(rc, &req, uffd >= 0 ? &uffd : NULL, uffd >= 0 ? 1 : 0);
	return id < 0 ? (int)id : 0;
}

int attack_connect_cycles(struct hostile *h)
{
	static const uint8_t half[] = { 0x08, 0x01, 0x32, 0x10, 0x08 };
	unsigned int i, kinds[5] = { 0 };
	uint64_t start = hnow_ns();
	Gsvm__Response *resp;
	struct rawconn rc;
	int uffd, err;

	for (i = 0; i < h->cycles; i++) {
		err = rawconn_open(h->sock, &rc);
		EXPECT(!err, "cycle %u: connect: %s", i, errname(err));
		kinds[i % 5]++;
		switch (i % 5) {
		case 0: /* connect, hang up */
			break;
		case 1: /* hello, hang up before the answer */
			send_hello(&rc, -1);
			break;
		case 2: /* hello, wait for it */
			EXPECT(!send_hello(&rc, -1), "send");
			EXPECT(!rawconn_recv(&rc, 10000, &resp), "cycle %u: no hello answer", i);
			EXPECT(!resp->err, "cycle %u: hello: %s", i, errname(resp->err));
			gsvm__response__free_unpacked(resp, NULL);
			break;
		case 3: /* hello with a userfaultfd: gsvmd starts a fault thread */
			uffd = rawmem_uffd(true);
			EXPECT(uffd >= 0, "userfaultfd");
			EXPECT(!send_hello(&rc, uffd), "send");
			close(uffd);
			if (i % 10 == 3) {
				EXPECT(!rawconn_recv(&rc, 10000, &resp), "cycle %u: no answer", i);
				EXPECT(!resp->err, "hello: %s", errname(resp->err));
				gsvm__response__free_unpacked(resp, NULL);
			}
			break;
		case 4: /* half a message, hang up */
			rawconn_send_bytes(&rc, half, sizeof(half), NULL, 0);
			break;
		}
		rawconn_close(&rc);
	}
	note("%u connect/disconnect cycles in %.2f s: %u bare, %u hello unanswered, %u hello, "
	     "%u hello with a userfaultfd, %u half messages",
	     h->cycles, (double)(hnow_ns() - start) / 1e9, kinds[0], kinds[1], kinds[2], kinds[3],
	     kinds[4]);
	EXPECT(!rawconn_open(h->sock, &rc), "connect");
	EXPECT(conn_works(&rc), "a fresh connection");
	rawconn_close(&rc);
	return 0;
}

/* Connections that do nothing must cost nobody else anything. */
int attack_idle_connections(struct hostile *h)
{
	enum { NIDLE = 150, NHELLO = 30 };
	static struct rawconn idle[NIDLE];
	struct hconn hc[NHELLO];
	uint64_t t, worst = 0;
	struct rawconn rc;
	int i;

	for (i = 0; i < NIDLE; i++)
		EXPECT(!rawconn_open(h->sock, &idle[i]), "connect %d", i);
	for (i = 0; i < NHELLO; i++)
		EXPECT(!hconn_open(h, &hc[i], true), "hello %d", i);
	EXPECT(!rawconn_open(h->sock, &rc), "connect");
	for (i = 0; i < 50; i++) {
		t = hnow_ns();
		EXPECT(conn_works(&rc), "a busy client");
		t = hnow_ns() - t;
		worst = t > worst ? t : worst;
	}
	note("%d idle connections and %d idle clients: a request takes at most %.2f ms", NIDLE,
	     NHELLO, (double)worst / 1e6);
	EXPECT(worst < 2000000000ULL, "idle connections stall others");
	rawconn_close(&rc);
	for (i = 0; i < NHELLO; i++)
		hconn_close(&hc[i]);
	for (i = 0; i < NIDLE; i++)
		rawconn_close(&idle[i]);
	return 0;
}

/* Pipeline far more requests than max_inflight: the rest get -EBUSY. */
int attack_inflight_flood(struct hostile *h)
{
	enum { N = 400 };
	static int64_t ids[N];
	unsigned int ok = 0, busy = 0, other = 0, i;
	Gsvm__Request req;
	Gsvm__PrefetchReq p;
	Gsvm__Response *resp;
	struct rawalloc ra;
	struct hconn c;
	size_t size = 4 * MiB;

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, size, true, &ra), "alloc");
	fill_pattern(ra.addr, size, 43);
	for (i = 0; i < N; i++) {
		rawconn_prefetch_req(&req, &p, (uintptr_t)ra.addr, size, (int)(i % 2));
		ids[i] = rawconn_send(&c.rc, &req, NULL, 0);
		EXPECT(ids[i] > 0, "send %u: %s", i, errname((int)ids[i]));
	}
	for (i = 0; i < N; i++) {
		EXPECT(!rawconn_wait(&c.rc, (uint64_t)ids[i], 30000, &resp),
		       "request %u unanswered", i);
		if (!resp->err)
			ok++;
		else if (resp->err == -EBUSY)
			busy++;
		else
			other++;
		gsvm__response__free_unpacked(resp, NULL);
	}
	note("%d pipelined prefetches: %u done, %u -EBUSY, %u other", N, ok, busy, other);
	EXPECT(!other, "unexpected errors");
	EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, size, -1), "prefetch home");
	EXPECT(check_pattern(ra.addr, size, 43) < 0, "data");
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	hconn_close(&c);
	return 0;
}

/*
 * Send requests and never read a reply: gsvmd queues up to max_backlog of
 * them and then drops the connection; it must never block on it.
 */
int attack_never_reads(struct hostile *h)
{
	struct rawconn rc;
	uint8_t rx[256];
	unsigned int sent, replies = 0;
	int dropped;
	ssize_t n;

	EXPECT(!rawconn_open(h->sock, &rc), "connect");
	EXPECT(!rawconn_hello(&rc, -1, false), "hello");
	dropped = rawconn_flood_unread(&rc, 50000, hnow_ns() + 30ULL * 1000000000ULL, 100, &sent);
	EXPECT(dropped >= 0, "send: %s", strerror(-dropped));
	/* Whatever was queued, then the end. */
	while ((n = recv(rc.sock, rx, sizeof(rx), 0)) > 0)
		replies++;
	note("sent %u requests without reading; gsvmd %s, %u replies were waiting", sent,
	     dropped ? "dropped the connection" : "closed it", replies);
	EXPECT(n == 0 || errno == ECONNRESET, "recv: %s", strerror(errno));
	EXPECT(replies < sent, "every reply was kept");
	rawconn_close(&rc);
	return 0;
}

/*
 * Readers slower than their replies: each round fills the socket and
 * gsvmd's reply queue with requests answered on the event loop, adds
 * requests answered by workers (whose replies join the queue from their
 * threads), then drains it all. The loop flushes the queue when the socket
 * becomes writable while workers add to it and flush it too. Four clients
 * at once, round after round; gsvmd must keep answering.
 */
static int slow_reader_one(struct hostile *h, unsigned int secs)
{
	enum { FILL = 600, QUERIES = 48 };
	Gsvm__Request req = GSVM__REQUEST__INIT, qreq;
	Gsvm__DevicesReq d = GSVM__DEVICES_REQ__INIT;
	uint64_t end = hnow_ns() + secs * 1000000000ULL;
	Gsvm__QueryReq q;
	Gsvm__Response *resp;
	struct rawalloc ra;
	struct hconn c;
	unsigned int round, i, got;
	int err;

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, 2 * MiB, true, &ra), "alloc");
	req.body_case = GSVM__REQUEST__BODY_DEVICES;
	req.devices = &d;
	for (round = 0; hnow_ns() < end; round++) {
		/* Answered on the loop: fills the socket, then gsvmd's queue. */
		for (i = 0; i < FILL; i++) {
			req.id = 0;
			EXPECT(rawconn_send(&c.rc, &req, NULL, 0) > 0, "send");
		}
		/* Answered by workers, into the same queue. */
		for (i = 0; i < QUERIES; i++) {
			rawconn_query_req(&qreq, &q, (uintptr_t)ra.addr, 2 * MiB);
			EXPECT(rawconn_send(&c.rc, &qreq, NULL, 0) > 0, "send");
		}
		for (got = 0; got < FILL + QUERIES; got++) {
			err = rawconn_recv(&c.rc, 10000, &resp);
			EXPECT(!err, "round %u: reply %u of %u: %s (gsvmd stopped answering)",
			       round, got, FILL + QUERIES, errname(err));
			gsvm__response__free_unpacked(resp, NULL);
			if (got % 64 == 0)
				hsleep_us(200);
		}
	}
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	hconn_close(&c);
	return 0;
}

int attack_slow_reader(struct hostile *h)
{
	enum { N = 2 };
	int status, i, failed = 0;
	pid_t pids[N];

	for (i = 0; i < N; i++) {
		pids[i] = fork();
		EXPECT(pids[i] >= 0, "fork");
		if (!pids[i])
			_exit(slow_reader_one(h, 3));
	}
	for (i = 0; i < N; i++) {
		waitpid(pids[i], &status, 0);
		failed += !WIFEXITED(status) || WEXITSTATUS(status);
	}
	note("%d clients, 3 s each of rounds of 600 queued replies plus 48 from workers: %d "
	     "failed",
	     N, failed);
	EXPECT(!failed, "gsvmd stopped answering a slow reader");
	return 0;
}

/*
 * A client dies with replies queued in gsvmd and requests still running on
 * workers: its socket turns writable (hung up) for the event loop while the
 * workers' replies fail and empty the queue. Many times over.
 */
static int die_queued_one(struct hostile *h, unsigned int i)
{
	Gsvm__Request req = GSVM__REQUEST__INIT, preq;
	Gsvm__DevicesReq d = GSVM__DEVICES_REQ__INIT;
	Gsvm__PrefetchReq p;
	struct rawalloc ra;
	struct hconn c;
	unsigned int j;

	if (hconn_open(h, &c, true) || rawalloc_new(&c.rc, c.uffd, 4 * MiB, true, &ra))
		return 2;
	req.body_case = GSVM__REQUEST__BODY_DEVICES;
	req.devices = &d;
	for (j = 0; j < 500 + i % 200; j++) {
		req.id = 0;
		if (rawconn_send(&c.rc, &req, NULL, 0) < 0)
			return 2;
	}
	for (j = 0; j < 60; j++) {
		rawconn_prefetch_req(&preq, &p, (uintptr_t)ra.addr, 4 * MiB, (int)(j % 3) - 1);
		if (rawconn_send(&c.rc, &preq, NULL, 0) < 0)
			return 2;
	}
	if (i % 2)
		hsleep_us(hrand() % 3000);
	return 0; /* exit: the socket closes with all of it pending */
}

int attack_die_with_replies_queued(struct hostile *h)
{
	unsigned int i, n = 150, failed = 0;
	struct rawconn rc;
	int status;
	pid_t pid;

	for (i = 0; i < n; i++) {
		pid = fork();
		EXPECT(pid >= 0, "fork");
		if (!pid)
			_exit(die_queued_one(h, i));
		waitpid(pid, &status, 0);
		failed += !WIFEXITED(status) || WEXITSTATUS(status);
		/* Still answering? */
		EXPECT(!rawconn_open(h->sock, &rc), "connect");
		rc.timeout_ms = 5000;
		EXPECT(conn_works(&rc),
		       "after %u clients died with replies queued, gsvmd does not "
		       "answer (hung)",
		       i + 1);
		rawconn_close(&rc);
	}
	note("%u clients died with ~600 replies queued and 60 prefetches in flight (%u could "
	     "not set up)",
	     n, failed);
	return 0;
}

/* Subscribe to events and never read them while others cause many. */
int attack_events_unread(struct hostile *h)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__EventsReq e = GSVM__EVENTS_REQ__INIT;
	Gsvm__Response *resp;
	struct rawconn ev;
	struct rawalloc ra;
	struct hconn c;
	unsigned int i, got = 0;
	uint64_t dropped = 0, deadline;
	int err;

	EXPECT(!rawconn_open(h->sock, &ev), "connect");
	req.body_case = GSVM__REQUEST__BODY_EVENTS;
	req.events = &e;
	err = rawconn_call_err(&ev, &req, -1);
	if (err) {
		note("events: %s (not an admin)", errname(err));
		rawconn_close(&ev);
		return 0;
	}
	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, 2 * MiB, true, &ra), "alloc");
	for (i = 0; i < 1500; i++)
		EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, 2 * MiB, (int)(i % 3) - 1),
		       "prefetch %u", i);
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	/*
	 * Read what was queued. Other clients keep making events, so the
	 * stream may never pause: stop after 10 s of reading as well.
	 */
	deadline = hnow_ns() + 10000000000ULL;
	while (hnow_ns() < deadline && !(err = rawconn_recv(&ev, 500, &resp))) {
		got++;
		if (resp->body_case == GSVM__RESPONSE__BODY_EVENT && resp->event->dropped > dropped)
			dropped = resp->event->dropped;
		gsvm__response__free_unpacked(resp, NULL);
	}
	note("1500 prefetches with an events subscriber that did not read: it then read %u "
	     "events, %llu reported dropped, and then %s",
	     got, (unsigned long long)dropped,
	     err == -ENOTCONN ? "found its connection closed" :
	     err                ? "nothing more" : "more still coming (other clients')");
	hconn_close(&c);
	rawconn_close(&ev);
	return 0;
}

/* ---- Clients killed at random moments ---- */

#define KILL_ALLOCS 4

struct kalloc {
	void *p;
	size_t size;
	unsigned int seed;
};

/* A libgsvm client doing random work; exits 3 if it ever sees wrong data. */
static int victim_lib(struct hostile *h)
{
	struct kalloc a[KILL_ALLOCS] = { 0 };
	uint64_t sum;
	struct gsvm *g;
	unsigned int k, seed = (unsigned int)getpid();
	int err, loc;

	err = gsvm_connect(h->sock, &g);
	if (err) {
		note("victim %d: connect: %s", (int)getpid(), errname(err));
		return 2;
	}
	for (;;) {
		k = (unsigned int)(hrand() % KILL_ALLOCS);
		loc = (int)(hrand() % 3) - 1;
		if (!a[k].p) {
			a[k].size = (1 + hrand() % 4) * MiB;
			a[k].seed = seed++;
			err = gsvm_alloc(g, a[k].size, &a[k].p);
			if (err) {
				note("victim %d: alloc: %s", (int)getpid(), errname(err));
				return err == -EEXIST || err == -EBUSY ? 5 : 2;
			}
			fill_pattern(a[k].p, a[k].size, a[k].seed);
			continue;
		}
		switch (hrand() % 8) {
		case 0:
		case 1:
			err = gsvm_prefetch(g, a[k].p, a[k].size, loc);
			if (err && err != GSVM_PARTIAL)
				return 4;
			break;
		case 2:
			err = gsvm_device_op(g, loc < 0 ? 0 : loc, GSVM_OP_CHECKSUM, a[k].p,
					     a[k].size, 0, &sum);
			if (err)
				return 4;
			break;
		case 3:
			if (check_pattern(a[k].p, a[k].size, a[k].seed) >= 0)
				return 3;
			break;
		case 4:
			if (gsvm_free(g, a[k].p))
				return 4;
			a[k].p = NULL;
			break;
		case 5:
			gsvm_advise(g, a[k].p, a[k].size, GSVM_ADVISE_SET_READ_MOSTLY, 0);
			gsvm_device_op(g, 1, GSVM_OP_CHECKSUM, a[k].p, a[k].size, 0, NULL);
			break;
		case 6:
			gsvm_device_op(g, 0, GSVM_OP_ADD, a[k].p, a[k].size, 0, NULL);
			break;
		case 7:
			/* Behind libgsvm's back: unmap part and forget the allocation. */
			if (hrand() % 4 == 0) {
				munmap((char *)a[k].p + MiB / 2, MiB / 2);
				a[k].p = NULL;
			}
			break;
		}
	}
}

/* A raw client that pipelines prefetches and never waits for all of them. */
static int victim_raw(struct hostile *h)
{
	Gsvm__Request req;
	Gsvm__PrefetchReq p;
	Gsvm__Response *resp;
	struct rawalloc ra;
	struct hconn c;
	unsigned int i;

	int err = hconn_open(h, &c, true);

	if (!err)
		err = rawalloc_new(&c.rc, c.uffd, 8 * MiB, true, &ra);
	if (err) {
		note("victim %d: raw setup: %s", (int)getpid(), errname(err));
		return 2;
	}
	fill_pattern(ra.addr, 8 * MiB, 7);
	for (i = 0;; i++) {
		rawconn_prefetch_req(&req, &p, (uintptr_t)ra.addr + (hrand() % 4) * MiB, 4 * MiB,
				     (int)(i % 3) - 1);
		if (rawconn_send(&c.rc, &req, NULL, 0) < 0) {
			note("victim %d: send failed", (int)getpid());
			return 2;
		}
		if (i % 4 == 3) {
			err = rawconn_recv(&c.rc, 20000, &resp);
			if (err) {
				note("victim %d: recv: %s", (int)getpid(), errname(err));
				return 2;
			}
			gsvm__response__free_unpacked(resp, NULL);
		}
		if (i % 16 == 15)
			(void)((volatile uint8_t *)ra.addr)[(hrand() % (8 * MiB))];
	}
}

static int victim(struct hostile *h, unsigned int kind)
{
	signal(SIGPIPE, SIG_IGN);
	return kind % 3 ? victim_lib(h) : victim_raw(h);
}

static unsigned long kill_delay_us(void)
{
	unsigned int r = (unsigned int)(hrand() % 10);

	if (r < 3)
		return hrand() % 20000;
	if (r < 8)
		return 20000 + hrand() % 80000;
	return 100000 + hrand() % 300000;
}

int attack_random_kills(struct hostile *h)
{
	enum { SLOTS = 4 };
	pid_t pids[SLOTS] = { 0 };
	uint64_t due[SLOTS] = { 0 }, start = hnow_ns();
	unsigned int started = 0, killed = 0, early = 0, bad = 0, s;
	int status;

	while (killed + early < h->kills) {
		for (s = 0; s < SLOTS; s++) {
			if (!pids[s] && started < h->kills) {
				hrand();
				pids[s] = fork();
				EXPECT(pids[s] >= 0, "fork");
				if (!pids[s]) {
					alarm(60);
					/* A different random stream in each child. */
					for (unsigned int j = 0; j < started % 64; j++)
						hrand();
					_exit(victim(h, started));
				}
				due[s] = hnow_ns() + kill_delay_us() * 1000;
				started++;
			}
			if (pids[s] && hnow_ns() >= due[s]) {
				kill(pids[s], SIGKILL);
				waitpid(pids[s], &status, 0);
				if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
					killed++;
				} else {
					early++;
					/* 2: could not set up; 5: the munmap race (munmap-then-alloc). */
					if (!WIFEXITED(status) ||
					    (WEXITSTATUS(status) != 2 && WEXITSTATUS(status) != 5))
						bad++;
					note("a victim ended by itself: %s %d",
					     WIFEXITED(status) ? "exit" : "signal",
					     WIFEXITED(status) ? WEXITSTATUS(status) :
								 WTERMSIG(status));
				}
				pids[s] = 0;
			}
		}
		hsleep_us(500);
	}
	note("%u clients killed at random moments (%u ended early) in %.2f s", killed, early,
	     (double)(hnow_ns() - start) / 1e9);
	EXPECT(!bad, "%u victims saw wrong data or a wrong error", bad);
	return 0;
}
