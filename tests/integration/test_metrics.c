// SPDX-License-Identifier: MIT
/*
 * The Prometheus endpoint ([daemon] metrics): a real gsvmd serving it on TCP
 * and on a Unix socket, a real client moving data so that the counters move,
 * scrapes by a small HTTP/1.1 client of our own (no dependency), the numbers
 * compared with the protocol's stats reply, and the text checked by
 * `promtool check metrics` (Debian package prometheus).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu.h"
#include "gsvm.h"
#include "harness.h"

#define MiB (1ULL << 20)
#define CLIENT_BYTES (8 * MiB)

/* Where a scrape goes: a Unix socket path, or 127.0.0.1:port. */
struct target {
	const char *path;
	int port;
};

struct reply {
	int status;
	char *text; /* the whole reply, NUL-terminated */
	char *body; /* into @text */
	size_t body_len;
};

static void reply_free(struct reply *r)
{
	free(r->text);
	memset(r, 0, sizeof(*r));
}

/* A TCP port that was free a moment ago. */
static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!bind(fd, (struct sockaddr *)&sin, sizeof(sin)) &&
	    !getsockname(fd, (struct sockaddr *)&sin, &len))
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int target_connect(const struct target *t)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { 10, 0 };
	int fd, ret;

	fd = socket(t->path ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (t->path) {
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", t->path);
		ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	} else {
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)t->port);
		ret = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	}
	if (ret) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send @method @path with Connection: close; read the reply to EOF. */
static int http(const struct target *t, const char *method, const char *path, struct reply *r)
{
	size_t cap = 1 << 16, len = 0;
	char req[256], *end;
	ssize_t n;
	int fd;

	memset(r, 0, sizeof(*r));
	fd = target_connect(t);
	if (fd < 0)
		return -1;
	/* POST carries a body; the others none. */
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s", method, path,
		     strcmp(method, "POST") ? "\r\n" : "Content-Length: 3\r\n\r\na=b");
	if (write(fd, req, (size_t)n) != n)
		goto err;
	r->text = malloc(cap);
	while (r->text && (n = read(fd, r->text + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap)
			r->text = realloc(r->text, cap *= 2);
	}
	if (!r->text || n < 0)
		goto err;
	r->text[len] = '\0';
	close(fd);
	if (sscanf(r->text, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	end = strstr(r->text, "\r\n\r\n");
	if (!end)
		return -1;
	r->body = end + 4;
	r->body_len = len - (size_t)(r->body - r->text);
	return 0;
err:
	close(fd);
	reply_free(r);
	return -1;
}

/* The value of header @name (case-insensitive), copied into @out. */
static bool header(const struct reply *r, const char *name, char *out, size_t outlen)
{
	const char *p = strstr(r->text, "\r\n"), *end;
	size_t n = strlen(name), len;

	while (p && p + 2 < r->body - 2) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			p += n + 1 + strspn(p + n + 1, " ");
			end = strstr(p, "\r\n");
			len = (size_t)(end - p) < outlen ? (size_t)(end - p) : outlen - 1;
			memcpy(out, p, len);
			out[len] = '\0';
			return true;
		}
		p = strstr(p, "\r\n");
	}
	return false;
}

/* The value of the sample "@series VALUE" (@series with its labels). */
static bool sample(const char *body, const char *series, double *out)
{
	size_t n = strlen(series);
	const char *p = body;

	while (p && *p) {
		if (!strncmp(p, series, n) && p[n] == ' ') {
			*out = strtod(p + n + 1, NULL);
			return true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

static uint64_t sample_u64(const char *body, const char *series)
{
	double v = -1;

	if (!sample(body, series, &v))
		fprintf(stderr, "\n  no sample %s\n", series);
	return v < 0 ? UINT64_MAX : (uint64_t)v;
}

/*
 * Run `promtool check metrics` on @body. Return: its exit status, or -1 when
 * promtool is not installed (which fails the test, with a message).
 */
static int promtool(const char *body, size_t len)
{
	char file[] = "/tmp/gsvm-metrics-XXXXXX", cmd[128], line[512];
	FILE *p;
	int fd, status;

	if (system("command -v promtool >/dev/null 2>&1")) {
		fprintf(stderr, "\n  promtool not found: install the Debian package prometheus "
				"(make deps does)\n");
		return -1;
	}
	fd = mkstemp(file);
	if (fd < 0 || write(fd, body, len) != (ssize_t)len)
		return -1;
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", file);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		fprintf(stderr, "\n  promtool: %s", line);
	status = pclose(p);
	unlink(file);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Every family has HELP and TYPE; every counter's name ends in _total; every
 * sample belongs to a family declared above it.
 */
static int check_format(const char *body)
{
	char name[128], type[32], family[128] = "", help[160];
	const char *p = body;
	size_t n;

	while (*p) {
		if (sscanf(p, "# TYPE %127s %31s", name, type) == 2) {
			n = strlen(name);
			CHECK(strcmp(type, "counter") || (n > 6 && !strcmp(name + n - 6, "_total")),
			      "counter %s does not end in _total", name);
			snprintf(help, sizeof(help), "# HELP %s ", name);
			CHECK(strstr(body, help), "no HELP for %s", name);
			snprintf(family, sizeof(family), "%s", name);
		} else if (*p != '#') {
			n = strlen(family);
			CHECK(n && !strncmp(p, family, n), "sample outside its family: %.60s", p);
		}
		p = strchr(p, '\n');
		CHECK(p, "no final newline");
		p++;
	}
	return 0;
}

/* A client that moves data around and holds it until told to go. */
struct client_arg {
	int ready; /* it writes a byte here when it is done moving */
	int go; /* and waits for a byte here before disconnecting */
};

static int client_busy(void *arg)
{
	struct client_arg *a = arg;
	struct gsvm *g;
	uint8_t *p;
	char c = 'r';

	CHECK(gsvm_connect(NULL, &g) == 0, "connect");
	CHECK(gsvm_alloc(g, CLIENT_BYTES, (void **)&p) == 0, "alloc");
	fill_pattern(p, CLIENT_BYTES, 7);
	CHECK(gsvm_prefetch(g, p, CLIENT_BYTES, 0) == 0, "prefetch to device 0");
	/* The CPU touches the first half: faults bring it home. */
	CHECK(check_pattern(p, CLIENT_BYTES / 2, 7) == -1, "data came back wrong");
	/* Device 0 to device 1 for the second half, host to device 1 for the first. */
	CHECK(gsvm_prefetch(g, p, CLIENT_BYTES, 1) == 0, "prefetch to device 1");
	CHECK(write(a->ready, &c, 1) == 1, "ready");
	CHECK(read(a->go, &c, 1) == 1, "go");
	gsvm_disconnect(g);
	return 0;
}

static pid_t client_start(struct client_arg *a, int *go_fd)
{
	int ready[2], go[2];
	pid_t pid;
	char c;

	if (pipe(ready) || pipe(go))
		return -1;
	a->ready = ready[1];
	a->go = go[0];
	pid = spawn_child(client_busy, a, 60);
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		close(go[1]);
		wait_child(pid);
		return -1;
	}
	close(ready[0]);
	*go_fd = go[1];
	return pid;
}

static int client_finish(pid_t pid, int go_fd)
{
	char c = 'g';

	if (write(go_fd, &c, 1) != 1)
		return -1;
	close(go_fd);
	return wait_child(pid);
}

/* Scrape @t while a client holds data on device 1; compare with StatsReq. */
static void scrape_and_compare(struct gsvmd_proc *d, const struct target *t)
{
	struct client_arg arg;
	struct gsvmd_stats st;
	char ctype[128];
	struct reply r;
	int go_fd = -1;
	pid_t pid;

	pid = client_start(&arg, &go_fd);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(http(t, "GET", "/metrics", &r) == 0);
	CU_ASSERT_EQUAL(gsvmd_get_stats(d->sock, &st), 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(header(&r, "Content-Type", ctype, sizeof(ctype)));
	CU_ASSERT_STRING_EQUAL(ctype, "text/plain; version=0.0.4; charset=utf-8");
	CU_ASSERT_EQUAL(check_format(r.body), 0);

	/* Nothing moves while the client waits: the numbers are the same. */
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_faults_total{kind=\"cpu\"}"), st.faults_cpu);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_faults_total{kind=\"device\"}"), st.faults_device);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_migrations_total{direction=\"to_device\"}"),
			st.to_device);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_migrations_total{direction=\"to_host\"}"),
			st.to_host);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_migrations_total{direction=\"device_to_device\"}"),
			st.device_to_device);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_migrated_bytes_total{direction=\"to_device\"}"),
			st.bytes_to_device);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_migrated_bytes_total{direction=\"to_host\"}"),
			st.bytes_to_host);
	CU_ASSERT_EQUAL(sample_u64(r.body,
				   "gsvm_migrated_bytes_total{direction=\"device_to_device\"}"),
			st.bytes_device_to_device);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_evictions_total"), st.evictions);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_thrash_throttled_total"), st.throttled);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_thrash_pinned_total"), st.pinned);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_events_dropped_total"), 0);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_ranges"), st.ranges);
	CU_ASSERT(sample_u64(r.body, "gsvm_clients") >= 1);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_device_used_bytes{device=\"sim0\",id=\"0\"}"),
			st.used[0]);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_device_used_bytes{device=\"sim1\",id=\"1\"}"),
			st.used[1]);

	/* And they moved the way the client moved the data. */
	CU_ASSERT(st.to_device >= 2);
	CU_ASSERT(st.to_host >= 1);
	CU_ASSERT(st.device_to_device >= 1);
	CU_ASSERT(st.faults_cpu >= 1);
	CU_ASSERT(st.bytes_to_device >= CLIENT_BYTES);
	CU_ASSERT_EQUAL(st.used[1], CLIENT_BYTES);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_device_capacity_bytes{device=\"sim0\",id=\"0\"}"),
			1ULL << 30);
	CU_ASSERT_EQUAL(sample_u64(r.body, "gsvm_device_online{device=\"sim1\",id=\"1\"}"), 1);
	CU_ASSERT(sample_u64(r.body, "gsvm_fault_latency_seconds_count") >= 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "gsvm_fault_latency_seconds{quantile=\"0.99\"} 0."));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "# TYPE gsvm_fault_latency_seconds summary\n"));

	CU_ASSERT_EQUAL(promtool(r.body, r.body_len), 0);
	reply_free(&r);
	CU_ASSERT_EQUAL(client_finish(pid, go_fd), 0);
}

static void test_tcp(void)
{
	int port = free_port();
	struct target t = { .port = port };
	struct gsvmd_proc d;
	char conf[128];

	CU_ASSERT_FATAL(port > 0);
	snprintf(conf, sizeof(conf), "[daemon]\nmetrics = 127.0.0.1:%d\n", port);
	CU_ASSERT_FATAL(gsvmd_start(&d, conf) == 0);
	scrape_and_compare(&d, &t);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

/* HEAD: headers only; another path: 404; another method: 405 with Allow. */
static void test_methods_and_paths(void)
{
	int port = free_port();
	struct target t = { .port = port };
	struct gsvmd_proc d;
	char conf[128], allow[64];
	struct reply r;

	CU_ASSERT_FATAL(port > 0);
	snprintf(conf, sizeof(conf), "[daemon]\nmetrics = localhost:%d\n", port);
	CU_ASSERT_FATAL(gsvmd_start(&d, conf) == 0);
	CU_ASSERT_FATAL(http(&t, "HEAD", "/metrics", &r) == 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(r.body_len, 0);
	CU_ASSERT(header(&r, "Content-Length", allow, sizeof(allow)) && atoi(allow) > 1000);
	reply_free(&r);
	CU_ASSERT_FATAL(http(&t, "GET", "/metrics?name=x", &r) == 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "gsvm_faults_total{kind=\"cpu\"} 0\n"));
	reply_free(&r);
	CU_ASSERT_FATAL(http(&t, "GET", "/other", &r) == 0);
	CU_ASSERT_EQUAL(r.status, 404);
	reply_free(&r);
	CU_ASSERT_FATAL(http(&t, "GET", "/", &r) == 0);
	CU_ASSERT_EQUAL(r.status, 404);
	reply_free(&r);
	CU_ASSERT_FATAL(http(&t, "POST", "/metrics", &r) == 0);
	CU_ASSERT_EQUAL(r.status, 405);
	CU_ASSERT(header(&r, "Allow", allow, sizeof(allow)));
	CU_ASSERT_STRING_EQUAL(allow, "GET, HEAD");
	reply_free(&r);
	CU_ASSERT_FATAL(http(&t, "OPTIONS", "/metrics", &r) == 0);
	CU_ASSERT_EQUAL(r.status, 405);
	reply_free(&r);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

/* A Unix socket: a stale file is replaced, and removed at exit. */
static void test_unix_socket(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/gsvm-metrics.XXXXXX", path[96], conf[160];
	struct target t = { .path = path };
	struct gsvmd_proc d;
	struct stat sb;
	int fd;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/metrics.sock", dir);
	/* A stale socket file: bound once, nobody listening. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	close(fd);
	snprintf(conf, sizeof(conf), "[daemon]\nmetrics = %s\n", path);
	CU_ASSERT_FATAL(gsvmd_start(&d, conf) == 0);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	CU_ASSERT(S_ISSOCK(sb.st_mode));
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0666);
	scrape_and_compare(&d, &t);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	rmdir(dir);
}

/* Whether @pid has a socket fd that is a listening TCP socket. */
static bool listens_on_tcp(pid_t pid)
{
	static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char dirpath[64], fdpath[320], target[64], line[512];
	unsigned long inode, ino;
	unsigned int state, i;
	bool found = false;
	struct dirent *e;
	FILE *f;
	DIR *dir;

	snprintf(dirpath, sizeof(dirpath), "/proc/%d/fd", (int)pid);
	dir = opendir(dirpath);
	if (!dir)
		return true;
	while (!found && (e = readdir(dir))) {
		ssize_t n;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", dirpath, e->d_name);
		n = readlink(fdpath, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%lu]", &inode) != 1)
			continue;
		for (i = 0; i < 2 && !found; i++) {
			f = fopen(tables[i], "r");
			while (f && fgets(line, sizeof(line), f))
				if (sscanf(line, "%*d: %*s %*s %x %*s %*s %*s %*s %*s %lu", &state,
					   &ino) == 2 &&
				    ino == inode && state == 0x0A)
					found = true;
			if (f)
				fclose(f);
		}
	}
	closedir(dir);
	return found;
}

static void test_off_by_default(void)
{
	int port = free_port();
	struct target t = { .port = port };
	struct gsvmd_proc d;
	char conf[128];

	CU_ASSERT_FATAL(gsvmd_start(&d, NULL) == 0);
	CU_ASSERT_FALSE(listens_on_tcp(d.pid));
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
	CU_ASSERT_FATAL(gsvmd_start(&d, "[daemon]\nmetrics =\n") == 0);
	CU_ASSERT_FALSE(listens_on_tcp(d.pid));
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
	/* The check above can see a listener. */
	snprintf(conf, sizeof(conf), "[daemon]\nmetrics = 127.0.0.1:%d\n", t.port);
	CU_ASSERT_FATAL(gsvmd_start(&d, conf) == 0);
	CU_ASSERT_TRUE(listens_on_tcp(d.pid));
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

/*
 * A scraper that connects and never finishes its request costs the loop
 * nothing: scrapes and requests go on, and it is dropped after the timeout.
 */
static void test_slow_scraper(void)
{
	int port = free_port(), fd, i;
	struct target t = { .port = port };
	struct gsvmd_stats st;
	struct gsvmd_proc d;
	char conf[128], buf[256];
	uint64_t start;
	struct reply r;
	ssize_t n;

	snprintf(conf, sizeof(conf), "[daemon]\nmetrics = 127.0.0.1:%d\n", port);
	CU_ASSERT_FATAL(gsvmd_start(&d, conf) == 0);
	fd = target_connect(&t);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "GET /metr", 9), 9);
	start = now_ns();
	for (i = 0; i < 5; i++) {
		CU_ASSERT_FATAL(http(&t, "GET", "/metrics", &r) == 0);
		CU_ASSERT_EQUAL(r.status, 200);
		reply_free(&r);
		CU_ASSERT_EQUAL(gsvmd_get_stats(d.sock, &st), 0);
	}
	CU_ASSERT(now_ns() - start < 2000000000ULL);
	/* Dropped after the server's timeout (5 s), not kept forever. */
	n = read(fd, buf, sizeof(buf));
	CU_ASSERT(n >= 0);
	CU_ASSERT(now_ns() - start < 9000000000ULL);
	close(fd);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
}

/* An address in use: gsvmd refuses to start and says which endpoint. */
static void test_port_in_use(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char dir[] = "/tmp/gsvm-metrics.XXXXXX", conf[160], sock[96], out[4096];
	const char *bin = getenv("GSVMD");
	socklen_t len = sizeof(sin);
	int lfd, pfd[2], status;
	ssize_t n, total = 0;
	FILE *f;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(bin);
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CU_ASSERT_FATAL(listen(lfd, 1) == 0);
	CU_ASSERT_FATAL(getsockname(lfd, (struct sockaddr *)&sin, &len) == 0);
	snprintf(conf, sizeof(conf), "%s/gsvmd.conf", dir);
	snprintf(sock, sizeof(sock), "%s/gsvmd.sock", dir);
	f = fopen(conf, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "[daemon]\nmetrics = 127.0.0.1:%d\n", ntohs(sin.sin_port));
	fclose(f);
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	pid = fork();
	if (!pid) {
		dup2(pfd[1], 2);
		dup2(pfd[1], 1);
		alarm(20);
		execl(bin, "gsvmd", "-s", sock, "-c", conf, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], out + total, sizeof(out) - 1 - (size_t)total)) > 0)
		total += n;
	out[total] = '\0';
	close(pfd[0]);
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "metrics 127.0.0.1:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "in use"));
	close(lfd);
	unlink(conf);
	unlink(sock);
	rmdir(dir);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_tcp),
		CU_TEST_ENTRY(test_methods_and_paths),
		CU_TEST_ENTRY(test_unix_socket),
		CU_TEST_ENTRY(test_off_by_default),
		CU_TEST_ENTRY(test_slow_scraper),
		CU_TEST_ENTRY(test_port_in_use),
		{ NULL, NULL },
	};

	signal(SIGPIPE, SIG_IGN);
	return cu_run("metrics", tests);
}
