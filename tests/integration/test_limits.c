// SPDX-License-Identifier: MIT
/*
 * Limits ([limits] in gsvmd.conf): each one hit for real on a gsvmd of its
 * own with a small setting, answered with its documented error, counted in
 * the statistics, and gsvmd still serving afterwards. Then running out of
 * file descriptors: gsvmd pauses accepting instead of spinning, keeps
 * serving the clients it has, and accepts again once descriptors are free.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu.h"
#include "gsvm.h"
#include "harness.h"
#include "rawconn.h"

#define MiB (1ULL << 20)

static struct gsvmd_proc daemon_proc;

static bool san(void)
{
	const char *s = getenv("GSVM_SAN"), *t = getenv("GSVM_TSAN");

	return (s && !strcmp(s, "1")) || (t && !strcmp(t, "1"));
}

/* A gsvmd of this test's own with @limits as its [limits] section. */
static bool start_with(const char *limits)
{
	char conf[512];

	snprintf(conf, sizeof(conf), "[limits]\n%s", limits);
	return gsvmd_start(&daemon_proc, conf) == 0;
}

static void stop_daemon(bool failed)
{
	if (gsvmd_stop(&daemon_proc, SIGTERM) != 0 || failed)
		gsvmd_dump_log(&daemon_proc);
}

static bool get_stats(struct gsvmd_stats *st)
{
	uint64_t deadline = now_ns() + 5000000000ULL;

	/* Closed sessions go asynchronously: a connection limit may still be full. */
	while (gsvmd_get_stats(daemon_proc.sock, st)) {
		if (now_ns() > deadline)
			return false;
		usleep(20000);
	}
	return true;
}

/* A fresh client's round trip: gsvmd serves after the limit was hit. */
static int probe_client(void *arg)
{
	size_t size = 2 * MiB;
	uint64_t sum = 0;
	struct gsvm *g;
	void *p;

	(void)arg;
	CHECK(!gsvm_connect(daemon_proc.sock, &g), "connect");
	CHECK(!gsvm_alloc(g, size, &p), "alloc");
	fill_pattern(p, size, 9);
	CHECK(!gsvm_prefetch(g, p, size, 0), "prefetch");
	CHECK(!gsvm_device_op(g, 1, GSVM_OP_CHECKSUM, p, size, 0, &sum), "checksum");
	CHECK(sum == fnv1a(p, size), "checksum value");
	CHECK(check_pattern(p, size, 9) < 0, "data");
	gsvm_disconnect(g);
	return 0;
}

static int hello_named(struct rawconn *rc, size_t name_len)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__Hello hello = GSVM__HELLO__INIT;
	char *name = malloc(name_len + 1);
	int err;

	if (!name)
		return -ENOMEM;
	memset(name, 'n', name_len);
	name[name_len] = 0;
	hello.version = GSVM__VERSION__VERSION_CURRENT;
	hello.name = name;
	req.body_case = GSVM__REQUEST__BODY_HELLO;
	req.hello = &hello;
	err = rawconn_call_err(rc, &req, -1);
	free(name);
	return err;
}

/* max_message = 1K: a 2 KiB request gets -EMSGSIZE (id 0), a smaller one works. */
static int client_max_message(void *arg)
{
	Gsvm__Response *resp;
	struct rawconn rc;
	int err;

	(void)arg;
	CHECK(!rawconn_open(daemon_proc.sock, &rc), "connect");
	rc.timeout_ms = 5000;
	/* The answer comes with id 0: wait for any response. */
	{
		Gsvm__Request req = GSVM__REQUEST__INIT;
		Gsvm__Hello hello = GSVM__HELLO__INIT;
		char name[2049];

		memset(name, 'x', 2048);
		name[2048] = 0;
		hello.version = GSVM__VERSION__VERSION_CURRENT;
		hello.name = name;
		req.body_case = GSVM__REQUEST__BODY_HELLO;
		req.hello = &hello;
		CHECK(rawconn_send(&rc, &req, NULL, 0) > 0, "send");
	}
	CHECK(!rawconn_recv(&rc, 5000, &resp), "no answer to a 2 KiB request");
	CHECK(resp->id == 0 && resp->err == -EMSGSIZE, "id %llu err %d",
	      (unsigned long long)resp->id, resp->err);
	gsvm__response__free_unpacked(resp, NULL);
	err = hello_named(&rc, 500);
	CHECK(!err, "a 0.5 KiB hello: %s", gsvm_strerror(err));
	rawconn_close(&rc);
	return 0;
}

static void test_max_message(void)
{
	struct gsvmd_stats st;

	CU_ASSERT_FATAL(start_with("max_message = 1K\n"));
	CU_ASSERT_EQUAL(run_child(client_max_message, NULL, 60), 0);
	CU_ASSERT_FATAL(get_stats(&st));
	printf("\nmax_message = 1K: a 2 KiB request -EMSGSIZE; limits.message = %llu\n",
	       (unsigned long long)st.limits.message);
	CU_ASSERT(st.limits.message >= 1);
	stop_daemon(false);
}

/* Open @n connections, each with a hello; 0 or the first error. */
static int open_hellos(struct rawconn *rc, int n)
{
	int i, err;

	for (i = 0; i < n; i++) {
		err = rawconn_open(daemon_proc.sock, &rc[i]);
		if (!err)
			err = rawconn_hello(&rc[i], -1, false);
		if (err)
			return err;
	}
	return 0;
}

/* The connection is refused: -EUSERS on its first request, then closed. */
static int expect_refused(const char *what)
{
	Gsvm__Response *resp;
	struct rawconn rc;
	int err;

	CHECK(!rawconn_open(daemon_proc.sock, &rc), "%s: connect", what);
	rc.timeout_ms = 5000;
	err = rawconn_hello(&rc, -1, false);
	CHECK(err == -EUSERS, "%s: first request: %s", what, gsvm_strerror(err));
	err = rawconn_recv(&rc, 5000, &resp);
	CHECK(err == -ENOTCONN, "%s: the connection stays open (%s)", what, gsvm_strerror(err));
	rawconn_close(&rc);
	return 0;
}

static int client_max_clients(void *arg)
{
	struct rawconn rc[3], extra;
	uint64_t deadline;
	int i, err;

	(void)arg;
	CHECK(!open_hellos(rc, 3), "three clients");
	CHECK(!expect_refused("a fourth client"), "refused");
	/* One leaves: its place is free again (once gsvmd noticed). */
	rawconn_close(&rc[0]);
	deadline = now_ns() + 5000000000ULL;
	for (;;) {
		CHECK(!rawconn_open(daemon_proc.sock, &extra), "connect");
		err = rawconn_hello(&extra, -1, false);
		if (!err || now_ns() > deadline)
			break;
		rawconn_close(&extra);
		usleep(20000);
	}
	CHECK(!err, "a client after one left: %s", gsvm_strerror(err));
	rawconn_close(&extra);
	for (i = 1; i < 3; i++)
		rawconn_close(&rc[i]);
	return 0;
}

static void test_max_clients(void)
{
	struct gsvmd_stats st;

	CU_ASSERT_FATAL(start_with("max_clients = 3\n"));
	CU_ASSERT_EQUAL(run_child(client_max_clients, NULL, 60), 0);
	CU_ASSERT_FATAL(get_stats(&st));
	printf("\nmax_clients = 3: the fourth gets -EUSERS and is closed; limits.clients = %llu\n",
	       (unsigned long long)st.limits.clients);
	CU_ASSERT(st.limits.clients >= 1);
	stop_daemon(false);
}

/* Another user's client, while ours are at their limit. */
static int client_other_uid(void *arg)
{
	struct rawconn rc;
	int err;

	(void)arg;
	CHECK(!setgroups(0, NULL) && !setgid(65534) && !setuid(65534), "become nobody");
	CHECK(!rawconn_open(daemon_proc.sock, &rc), "connect as nobody");
	err = rawconn_hello(&rc, -1, false);
	CHECK(!err, "nobody's hello: %s", gsvm_strerror(err));
	rawconn_close(&rc);
	return 0;
}

static int client_max_clients_per_uid(void *arg)
{
	struct rawconn rc[2];

	(void)arg;
	CHECK(!open_hellos(rc, 2), "two clients");
	CHECK(!expect_refused("a third client of the same user"), "refused");
	/* The limit is per user: another user still gets in. */
	CHECK(run_child(client_other_uid, NULL, 30) == 0, "another user");
	rawconn_close(&rc[0]);
	rawconn_close(&rc[1]);
	return 0;
}

static void test_max_clients_per_uid(void)
{
	struct gsvmd_stats st;

	CU_ASSERT_FATAL(start_with("max_clients_per_uid = 2\n"));
	/* Let another user reach the socket in our private directory. */
	CU_ASSERT_FATAL(chmod(daemon_proc.dir, 0755) == 0);
	CU_ASSERT_EQUAL(run_child(client_max_clients_per_uid, NULL, 60), 0);
	CU_ASSERT_FATAL(get_stats(&st));
	printf("\nmax_clients_per_uid = 2: a third client of root -EUSERS, nobody's accepted; "
	       "limits.clients = %llu\n",
	       (unsigned long long)st.limits.clients);
	CU_ASSERT(st.limits.clients >= 1);
	stop_daemon(false);
}

static int client_max_allocations(void *arg)
{
	struct gsvm *g1, *g2;
	void *p[6], *q;
	int i, err;

	(void)arg;
	CHECK(!gsvm_connect(daemon_proc.sock, &g1), "connect");
	for (i = 0; i < 4; i++)
		CHECK(!gsvm_alloc(g1, 2 * MiB, &p[i]), "allocation %d", i);
	err = gsvm_alloc(g1, 2 * MiB, &q);
	CHECK(err == -EDQUOT, "a fifth allocation: %s", gsvm_strerror(err));
	CHECK(!gsvm_free(g1, p[0]), "free");
	CHECK(!gsvm_alloc(g1, 2 * MiB, &p[0]), "an allocation after a free");
	/* Per user: 4 + 2 of max_allocations_per_uid = 6. */
	CHECK(!gsvm_connect(daemon_proc.sock, &g2), "connect 2");
	for (i = 4; i < 6; i++)
		CHECK(!gsvm_alloc(g2, 2 * MiB, &p[i]), "allocation %d", i);
	err = gsvm_alloc(g2, 2 * MiB, &q);
	CHECK(err == -EDQUOT, "the user's seventh allocation: %s", gsvm_strerror(err));
	/* The refused ones left nothing behind: the others work. */
	fill_pattern(p[5], 2 * MiB, 3);
	CHECK(!gsvm_prefetch(g2, p[5], 2 * MiB, 1), "prefetch");
	CHECK(check_pattern(p[5], 2 * MiB, 3) < 0, "data");
	gsvm_disconnect(g2);
	gsvm_disconnect(g1);
	return 0;
}

static void test_max_allocations(void)
{
	struct gsvmd_stats st;

	CU_ASSERT_FATAL(start_with("max_allocations = 4\nmax_allocations_per_uid = 6\n"));
	CU_ASSERT_EQUAL(run_child(client_max_allocations, NULL, 60), 0);
	CU_ASSERT_FATAL(get_stats(&st));
	printf("\nmax_allocations = 4, per uid 6: the fifth and the user's seventh -EDQUOT; "
	       "limits.allocations = %llu\n",
	       (unsigned long long)st.limits.allocations);
	CU_ASSERT(st.limits.allocations >= 2);
	stop_daemon(false);
}

static int client_max_fds(void *arg)
{
	struct gsvm *g;
	void *p[4], *q;
	int i, err;

	(void)arg;
	CHECK(!gsvm_connect(daemon_proc.sock, &g), "connect");
	/* The socket, the userfaultfd and one memfd per allocation: 3 + 3 <= 6. */
	for (i = 0; i < 4; i++)
		CHECK(!gsvm_alloc(g, 2 * MiB, &p[i]), "allocation %d", i);
	err = gsvm_alloc(g, 2 * MiB, &q);
	CHECK(err == -EMFILE, "allocation beyond max_fds: %s", gsvm_strerror(err));
	fill_pattern(p[0], 2 * MiB, 4);
	CHECK(!gsvm_prefetch(g, p[0], 2 * MiB, 0), "prefetch");
	CHECK(check_pattern(p[0], 2 * MiB, 4) < 0, "data");
	gsvm_disconnect(g);
	return 0;
}

static void test_max_fds(void)
{
	struct gsvmd_stats st;

	CU_ASSERT_FATAL(start_with("max_fds = 6\n"));
	CU_ASSERT_EQUAL(run_child(client_max_fds, NULL, 60), 0);
	CU_ASSERT_FATAL(get_stats(&st));
	printf("\nmax_fds = 6: a fifth allocation -EMFILE; limits.fds = %llu\n",
	       (unsigned long long)st.limits.fds);
	CU_ASSERT(st.limits.fds >= 1);
	stop_daemon(false);
}

static uint64_t on_device(struct gsvm *g, void *p, size_t size, int dev)
{
	struct gsvm_range_info r[64];
	uint64_t bytes = 0;
	size_t n = 0, i;

	if (gsvm_query(g, p, size, r, 64, &n) < 0)
		return UINT64_MAX;
	for (i = 0; i < n; i++)
		if (r[i].location == dev)
			bytes += r[i].len;
	return bytes;
}

/* max_device_bytes = 8M: a 16 MiB prefetch is refused past 8 MiB; data intact. */
static int client_max_device_bytes(void *arg)
{
	size_t size = 16 * MiB;
	uint64_t sum = 0, want, on0;
	struct gsvm *g;
	int err;
	void *p;

	(void)arg;
	CHECK(!gsvm_connect(daemon_proc.sock, &g), "connect");
	CHECK(!gsvm_alloc(g, size, &p), "alloc");
	fill_pattern(p, size, 6);
	want = fnv1a(p, size);
	err = gsvm_prefetch(g, p, size, 0);
	on0 = on_device(g, p, size, 0);
	printf("\nmax_device_bytes = 8M: a 16 MiB prefetch: %s, %llu MiB on the device\n",
	       gsvm_strerror(err), (unsigned long long)(on0 / MiB));
	CHECK(err == -EDQUOT, "prefetch past the limit: %s", gsvm_strerror(err));
	CHECK(on0 <= 8 * MiB, "%llu bytes on device 0", (unsigned long long)on0);
	/* Device ops still see the right data: the rest is accessed where it is. */
	CHECK(!gsvm_device_op(g, 0, GSVM_OP_CHECKSUM, p, size, 0, &sum), "checksum on 0");
	CHECK(sum == want, "checksum on device 0 differs");
	CHECK(!gsvm_device_op(g, 1, GSVM_OP_CHECKSUM, p, size, 0, &sum), "checksum on 1");
	CHECK(sum == want, "checksum on device 1 differs");
	CHECK(!gsvm_device_op(g, 1, GSVM_OP_ADD, p, size, 1, NULL), "add on 1");
	CHECK(!gsvm_device_op(g, 1, GSVM_OP_ADD, p, size, (uint64_t)-1, NULL), "sub on 1");
	CHECK(on_device(g, p, size, 0) + on_device(g, p, size, 1) <= 8 * MiB, "limit kept");
	CHECK(check_pattern(p, size, 6) < 0, "the CPU sees changed data");
	gsvm_disconnect(g);
	return 0;
}

static void test_max_device_bytes(void)
{
	struct gsvmd_stats st;

	CU_ASSERT_FATAL(start_with("max_device_bytes = 8M\n"));
	CU_ASSERT_EQUAL(run_child(client_max_device_bytes, NULL, 60), 0);
	CU_ASSERT_FATAL(get_stats(&st));
	printf("limits.device_bytes = %llu\n", (unsigned long long)st.limits.device_bytes);
	CU_ASSERT(st.limits.device_bytes >= 1);
	stop_daemon(false);
}

/* Per user: two clients of one user share 8 MiB of device memory. */
static int client_max_device_bytes_per_uid(void *arg)
{
	size_t size = 6 * MiB;
	uint64_t sum = 0, deadline;
	struct gsvm *a, *b;
	void *pa, *pb;
	int err;

	(void)arg;
	CHECK(!gsvm_connect(daemon_proc.sock, &a), "connect a");
	CHECK(!gsvm_connect(daemon_proc.sock, &b), "connect b");
	CHECK(!gsvm_alloc(a, size, &pa) && !gsvm_alloc(b, size, &pb), "alloc");
	fill_pattern(pa, size, 7);
	fill_pattern(pb, size, 8);
	CHECK(!gsvm_prefetch(a, pa, size, 0), "a's 6 MiB");
	err = gsvm_prefetch(b, pb, size, 0);
	printf("\nmax_device_bytes_per_uid = 8M: a second client's 6 MiB beside the first's: "
	       "%s\n",
	       gsvm_strerror(err));
	CHECK(err == -EDQUOT, "b's prefetch: %s", gsvm_strerror(err));
	CHECK(!gsvm_device_op(b, 0, GSVM_OP_CHECKSUM, pb, size, 0, &sum), "b's checksum");
	CHECK(sum == fnv1a(pb, size), "b's checksum value");
	CHECK(check_pattern(pb, size, 8) < 0, "b's data");
	/* a lets go: the user's device memory is free for b. */
	CHECK(!gsvm_free(a, pa), "free");
	deadline = now_ns() + 5000000000ULL;
	while ((err = gsvm_prefetch(b, pb, size, 0)) == -EDQUOT && now_ns() < deadline)
		usleep(10000);
	CHECK(!err, "b's prefetch after a freed: %s", gsvm_strerror(err));
	CHECK(check_pattern(pb, size, 8) < 0, "b's data");
	gsvm_disconnect(b);
	gsvm_disconnect(a);
	return 0;
}

static void test_max_device_bytes_per_uid(void)
{
	struct gsvmd_stats st;

	CU_ASSERT_FATAL(start_with("max_device_bytes_per_uid = 8M\n"));
	CU_ASSERT_EQUAL(run_child(client_max_device_bytes_per_uid, NULL, 60), 0);
	CU_ASSERT_FATAL(get_stats(&st));
	printf("limits.device_bytes = %llu\n", (unsigned long long)st.limits.device_bytes);
	CU_ASSERT(st.limits.device_bytes >= 1);
	stop_daemon(false);
}

/* max_inflight = 4: 64 pipelined prefetches; the excess get -EBUSY, all answered. */
static int client_max_inflight(void *arg)
{
	enum { N = 64 };
	unsigned int ok = 0, busy = 0, i;
	Gsvm__Response *resp;
	Gsvm__PrefetchReq p;
	struct rawalloc ra;
	Gsvm__Request req;
	struct rawconn rc;
	int64_t ids[N];
	int uffd;

	(void)arg;
	CHECK(!rawconn_open(daemon_proc.sock, &rc), "connect");
	uffd = rawmem_uffd(true);
	CHECK(uffd >= 0 && !rawconn_hello(&rc, uffd, true), "hello");
	CHECK(!rawalloc_new(&rc, uffd, 8 * MiB, true, &ra), "alloc");
	fill_pattern(ra.addr, 8 * MiB, 10);
	for (i = 0; i < N; i++) {
		rawconn_prefetch_req(&req, &p, (uintptr_t)ra.addr, 8 * MiB, (int)(i % 2));
		ids[i] = rawconn_send(&rc, &req, NULL, 0);
		CHECK(ids[i] > 0, "send");
	}
	for (i = 0; i < N; i++) {
		CHECK(!rawconn_wait(&rc, (uint64_t)ids[i], 20000, &resp), "request %u unanswered",
		      i);
		if (resp->err == -EBUSY)
			busy++;
		else if (!resp->err)
			ok++;
		else
			CHECK(0, "request %u: %d", i, resp->err);
		gsvm__response__free_unpacked(resp, NULL);
	}
	printf("\nmax_inflight = 4: %d pipelined prefetches: %u done, %u -EBUSY\n", N, ok, busy);
	CHECK(busy >= 1 && ok >= 4, "done %u, busy %u", ok, busy);
	CHECK(!rawconn_prefetch(&rc, (uintptr_t)ra.addr, 8 * MiB, -1), "home");
	CHECK(check_pattern(ra.addr, 8 * MiB, 10) < 0, "data");
	rawalloc_free(&rc, uffd, &ra);
	rawconn_close(&rc);
	return 0;
}

static void test_max_inflight(void)
{
	struct gsvmd_stats st;

	CU_ASSERT_FATAL(start_with("max_inflight = 4\n"));
	CU_ASSERT_EQUAL(run_child(client_max_inflight, NULL, 60), 0);
	CU_ASSERT_FATAL(get_stats(&st));
	printf("limits.inflight = %llu\n", (unsigned long long)st.limits.inflight);
	CU_ASSERT(st.limits.inflight >= 1);
	stop_daemon(false);
}

/* max_backlog = 16: a client that never reads is disconnected. */
static int client_max_backlog(void *arg)
{
	unsigned int sent, waiting = 0;
	struct rawconn rc;
	uint8_t buf[64];
	int dropped;
	ssize_t n;

	(void)arg;
	CHECK(!rawconn_open(daemon_proc.sock, &rc), "connect");
	CHECK(!rawconn_hello(&rc, -1, false), "hello");
	dropped = rawconn_flood_unread(&rc, 20000, now_ns() + 20000000000ULL, 10, &sent);
	CHECK(dropped >= 0, "send");
	while ((n = recv(rc.sock, buf, sizeof(buf), 0)) > 0)
		waiting++;
	printf("\nmax_backlog = 16: disconnected after %u requests never read (%u replies were "
	       "in the socket)\n",
	       sent, waiting);
	CHECK(dropped == 1 || n == 0, "never disconnected");
	rawconn_close(&rc);
	return 0;
}

static void test_max_backlog(void)
{
	struct gsvmd_stats st;

	CU_ASSERT_FATAL(start_with("max_backlog = 16\n"));
	CU_ASSERT_EQUAL(run_child(client_max_backlog, NULL, 60), 0);
	CU_ASSERT_EQUAL(run_child(probe_client, NULL, 60), 0);
	CU_ASSERT_FATAL(get_stats(&st));
	printf("limits.backlog = %llu\n", (unsigned long long)st.limits.backlog);
	CU_ASSERT(st.limits.backlog >= 1);
	stop_daemon(false);
}

/* ---- Out of file descriptors ---- */

struct busy_client {
	int ready[2];
	int stop[2];
};

/* Keeps working (no new descriptors needed) until told to stop. */
static int busy_client(void *arg)
{
	struct busy_client *bc = arg;
	struct gsvm_range_info r[4];
	struct pollfd pfd = { .fd = bc->stop[0], .events = POLLIN };
	unsigned int calls = 0;
	size_t size = 2 * MiB, n;
	struct gsvm *g;
	void *p;
	int err;

	close(bc->stop[1]);
	close(bc->ready[0]);
	CHECK(!gsvm_connect(daemon_proc.sock, &g), "connect");
	CHECK(!gsvm_alloc(g, size, &p), "alloc");
	fill_pattern(p, size, 11);
	CHECK(write(bc->ready[1], "r", 1) == 1, "ready");
	while (poll(&pfd, 1, 0) == 0) {
		err = gsvm_prefetch(g, p, size, (int)(calls % 3) - 1);
		CHECK(!err, "prefetch %u while gsvmd is out of descriptors: %s", calls,
		      gsvm_strerror(err));
		CHECK(!gsvm_query(g, p, size, r, 4, &n), "query");
		if (calls % 8 == 7)
			CHECK(check_pattern(p, size, 11) < 0, "data");
		calls++;
		usleep(10000);
	}
	printf("the client gsvmd already had: %u requests served meanwhile\n", calls);
	gsvm_disconnect(g);
	return 0;
}

/* Descriptors of @pid numbered below @limit (it may have inherited higher ones). */
static int fds_below(pid_t pid, int limit)
{
	char path[64];
	int fd, n = 0;

	for (fd = 0; fd < limit; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		n += !access(path, F_OK);
	}
	return n;
}

/* Connect non-blocking until the listen backlog is full; the count. */
static int flood_connect(int *fds, int max)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int n = 0, fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", daemon_proc.sock);
	while (n < max) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
			close(fd);
			break;
		}
		fds[n++] = fd;
	}
	return n;
}

static void test_out_of_fds(void)
{
	struct rlimit rl = { .rlim_cur = 64, .rlim_max = 64 };
	static int fds[2000];
	struct busy_client bc;
	long t0, t1, max_ticks;
	int n, i, gsvmd_fds, rc = 1;
	uint64_t deadline;
	pid_t busy;
	char b;

	CU_ASSERT_FATAL(gsvmd_start(&daemon_proc, NULL) == 0);
	CU_ASSERT_FATAL(pipe2(bc.ready, O_CLOEXEC) == 0 && pipe2(bc.stop, O_CLOEXEC) == 0);
	busy = spawn_child(busy_client, &bc, 120);
	close(bc.ready[1]);
	close(bc.stop[0]);
	CU_ASSERT_FATAL(read(bc.ready[0], &b, 1) == 1);
	/* gsvmd is now allowed 64 descriptors in all. */
	CU_ASSERT_FATAL(prlimit(daemon_proc.pid, RLIMIT_NOFILE, &rl, NULL) == 0);
	n = flood_connect(fds, 2000);
	CU_ASSERT(wait_for_text(daemon_proc.log, "out of file descriptors", 5000));
	usleep(200000);
	gsvmd_fds = fds_below(daemon_proc.pid, 64);
	/* While every descriptor is taken and the backlog is full: no busy loop. */
	t0 = proc_cpu_ticks(daemon_proc.pid);
	usleep(1000000);
	t1 = proc_cpu_ticks(daemon_proc.pid);
	max_ticks = sysconf(_SC_CLK_TCK) * (san() ? 5 : 3) / 10;
	printf("\nout of descriptors: %d connections (backlog full), gsvmd holds %d of 64, used "
	       "%ld ticks of CPU in 1 s (a spinning loop: ~%ld; bound %ld)\n",
	       n, gsvmd_fds, t1 - t0, sysconf(_SC_CLK_TCK), max_ticks);
	CU_ASSERT(n > 64);
	/*
	 * All of its 64, or nearly: a descriptor may be between close and
	 * accept at the moment of counting (the TSan runtime's own come and go).
	 * The log line above says accept() hit EMFILE.
	 */
	CU_ASSERT(gsvmd_fds >= 60);
	CU_ASSERT(t0 >= 0 && t1 - t0 < max_ticks);
	for (i = 0; i < n; i++)
		close(fds[i]);
	/* Descriptors are free again: new clients get in (accepting resumes within 1 s). */
	deadline = now_ns() + 10000000000ULL;
	while (now_ns() < deadline && (rc = run_child(probe_client, NULL, 30)))
		usleep(200000);
	CU_ASSERT_EQUAL(rc, 0);
	close(bc.stop[1]);
	CU_ASSERT_EQUAL(wait_child(busy), 0);
	close(bc.ready[0]);
	stop_daemon(rc != 0);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_max_message),
		CU_TEST_ENTRY(test_max_clients),
		CU_TEST_ENTRY(test_max_clients_per_uid),
		CU_TEST_ENTRY(test_max_allocations),
		CU_TEST_ENTRY(test_max_fds),
		CU_TEST_ENTRY(test_max_device_bytes),
		CU_TEST_ENTRY(test_max_device_bytes_per_uid),
		CU_TEST_ENTRY(test_max_inflight),
		CU_TEST_ENTRY(test_max_backlog),
		CU_TEST_ENTRY(test_out_of_fds),
		{ NULL, NULL },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	return cu_run("limits", tests);
}
