// SPDX-License-Identifier: MIT
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "wire.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool socket_answers(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ok = !connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return ok;
}

/* The whole file as a string (free() it), or NULL. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	long size;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (size = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET))
		buf = malloc((size_t)size + 1);
	if (buf) {
		len = fread(buf, 1, (size_t)size, f);
		buf[len] = 0;
	}
	fclose(f);
	return buf;
}

static bool log_says(const char *path, const char *text)
{
	char *buf = read_text(path);
	bool found = buf && strstr(buf, text);

	free(buf);
	return found;
}

unsigned int timeout_scale(void)
{
	const char *s = getenv("GSVM_TEST_TIMEOUT_SCALE");
	unsigned long v = s ? strtoul(s, NULL, 10) : 1;

	return v >= 1 && v <= 1000 ? (unsigned int)v : 1;
}

/* Room for $GSVMD_WRAPPER's words, valgrind's --log-file and gsvmd's own. */
#define GSVMD_ARGV_MAX 64

int gsvmd_start(struct gsvmd_proc *p, const char *config_text)
{
	const char *bin = getenv("GSVMD"), *wrapper = getenv("GSVMD_WRAPPER");
	char conf[128] = "", words[1024] = "", vgopt[160], *w, *save;
	const char *argv[GSVMD_ARGV_MAX], *prog = bin;
	int argc = 0;
	uint64_t deadline;
	FILE *f;
	int fd;

	if (!bin) {
		fprintf(stderr, "GSVMD is not set (path to the gsvmd binary)\n");
		return -1;
	}
	snprintf(p->dir, sizeof(p->dir), "/tmp/gsvm-test.XXXXXX");
	if (!mkdtemp(p->dir))
		return -1;
	snprintf(p->sock, sizeof(p->sock), "%s/gsvmd.sock", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/gsvmd.log", p->dir);
	if (config_text) {
		snprintf(conf, sizeof(conf), "%s/gsvmd.conf", p->dir);
		f = fopen(conf, "w");
		if (!f)
			return -1;
		fputs(config_text, f);
		fclose(f);
	}
	/* [wrapper words [--log-file=...]] gsvmd -v -s SOCK [-c CONF] */
	p->vglog[0] = 0;
	snprintf(words, sizeof(words), "%s", wrapper ? wrapper : "");
	for (w = strtok_r(words, " \t", &save); w && argc < GSVMD_ARGV_MAX - 8;
	     w = strtok_r(NULL, " \t", &save))
		argv[argc++] = w;
	if (argc)
		prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (argc && !strcmp(prog, "valgrind")) {
		snprintf(p->vglog, sizeof(p->vglog), "%s/valgrind.log", p->dir);
		snprintf(vgopt, sizeof(vgopt), "--log-file=%s", p->vglog);
		argv[argc++] = vgopt;
	}
	if (argc)
		prog = argv[0];
	argv[argc] = prog == bin ? "gsvmd" : bin;
	argc++;
	argv[argc++] = "-v";
	argv[argc++] = "-s";
	argv[argc++] = p->sock;
	if (conf[0]) {
		argv[argc++] = "-c";
		argv[argc++] = conf;
	}
	argv[argc] = NULL;
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (!p->pid) {
		fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		unsetenv("GSVM_SOCKET");
		if (prog == bin)
			execv(prog, (char *const *)argv);
		else
			execvp(prog, (char *const *)argv);
		_exit(127);
	}
	setenv("GSVM_SOCKET", p->sock, 1);
	deadline = now_ns() + 30ULL * timeout_scale() * 1000000000ULL;
	/*
	 * The socket answers as soon as it listens, but gsvmd logs "listening
	 * on" only once everything else (the metrics endpoint) is up too; under
	 * valgrind there is time between the two. Until then nobody accepts:
	 * connect only after the line.
	 */
	while (!log_says(p->log, "listening on ") || !socket_answers(p->sock)) {
		if (now_ns() > deadline || waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			gsvmd_dump_log(p);
			return -1;
		}
		usleep(10000);
	}
	return 0;
}

static void dump_file(const char *path, const char *what)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	fprintf(stderr, "---- %s (%s) ----\n", what, path);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "---- end of %s ----\n", what);
	fclose(f);
}

void gsvmd_dump_log(struct gsvmd_proc *p)
{
	dump_file(p->log, "gsvmd log");
}

/* Whether gsvmd's log holds a sanitizer's report (ASan, UBSan, TSan). */
static bool log_has_sanitizer_report(const char *path)
{
	static const char *const marks[] = { "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
					     "WARNING: ThreadSanitizer", "runtime error:" };
	char *text = read_text(path);
	bool found = false;
	size_t i;

	for (i = 0; text && i < sizeof(marks) / sizeof(marks[0]); i++)
		found = found || strstr(text, marks[i]);
	free(text);
	return found;
}

/* Whether valgrind's log says "ERROR SUMMARY: 0 errors" (its last summary). */
static bool valgrind_clean(const char *path)
{
	char *text = read_text(path), *at, *last = NULL;
	bool clean;

	for (at = text; at && (at = strstr(at, "ERROR SUMMARY: ")); at++)
		last = at;
	clean = last && !strncmp(last, "ERROR SUMMARY: 0 errors", 23);
	free(text);
	return clean;
}

int gsvmd_stop(struct gsvmd_proc *p, int sig)
{
	int status = 0, ret;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	if (waitpid(p->pid, &status, 0) < 0)
		return -1;
	p->pid = 0;
	ret = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
	if (log_has_sanitizer_report(p->log)) {
		fprintf(stderr, "\ngsvmd: a sanitizer reported an error\n");
		gsvmd_dump_log(p);
	}
	/* Killed, valgrind wrote no verdict: only an exit has one to check. */
	if (p->vglog[0] && WIFEXITED(status) && !valgrind_clean(p->vglog)) {
		fprintf(stderr, "\ngsvmd: valgrind found errors (exit status %d)\n", ret);
		dump_file(p->vglog, "valgrind log");
		ret = GSVMD_VALGRIND_FAILED;
	}
	return ret;
}

int run_capture(const char *const *argv, char *out, size_t outlen)
{
	char drain[4096];
	int pfd[2], status;
	size_t total = 0;
	ssize_t n;
	pid_t pid;

	out[0] = 0;
	if (outlen < 2 || pipe2(pfd, O_CLOEXEC))
		return 127;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return 127;
	}
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		alarm(60 * timeout_scale());
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	/* Past @outlen, drain: a full pipe would block the program. */
	while ((n = read(pfd[0], total < outlen - 1 ? out + total : drain,
			 total < outlen - 1 ? outlen - 1 - total : sizeof(drain))) > 0)
		if (total < outlen - 1)
			total += (size_t)n;
	out[total] = 0;
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool wait_for_text(const char *path, const char *text, unsigned int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * timeout_scale() * 1000000ULL;
	bool found;
	char *buf;

	for (;;) {
		buf = read_text(path);
		found = buf && strstr(buf, text);
		free(buf);
		if (found)
			return true;
		if (now_ns() > deadline)
			return false;
		usleep(10000);
	}
}

pid_t spawn_child(int (*fn)(void *arg), void *arg, unsigned int timeout_s)
{
	pid_t pid = fork();

	if (pid == 0) {
		alarm(timeout_s * timeout_scale());
		_exit(fn(arg));
	}
	return pid;
}

int wait_child(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "child %d killed by signal %d%s\n", (int)pid, WTERMSIG(status),
			WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

int run_child(int (*fn)(void *arg), void *arg, unsigned int timeout_s)
{
	return wait_child(spawn_child(fn, arg, timeout_s));
}

long mapping_rss_kb(const void *addr)
{
	uintptr_t a = (uintptr_t)addr, lo, hi;
	char line[512];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = a >= lo && a < hi;
		else if (in && !strncmp(line, "Rss:", 4)) {
			kb = strtol(line + 4, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

long proc_rss_anon_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "RssAnon:", 8))
			kb = strtol(line + 8, NULL, 10);
	fclose(f);
	return kb;
}

int proc_fd_count(pid_t pid)
{
	struct dirent *de;
	char path[64];
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

long proc_cpu_ticks(pid_t pid)
{
	unsigned long utime, stime;
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* The command may hold spaces and parentheses: fields follow the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
			 &stime) != 2)
		return -1;
	return (long)(utime + stime);
}

/*
 * The data loops over whole test buffers are left out of TSan's
 * instrumentation (make tsan): they would cost most of the run, and the
 * threads that race on managed memory are gsvmd's and the kernel's, in
 * another process, where TSan cannot see them anyway.
 */
#define NO_TSAN __attribute__((no_sanitize_thread))

NO_TSAN uint64_t fnv1a(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t pattern_word(size_t i, unsigned int seed)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)seed << 32 | seed);

	x ^= x >> 29;
	return x * 0xbf58476d1ce4e5b9ULL;
}

NO_TSAN void fill_pattern(void *buf, size_t len, unsigned int seed)
{
	uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = pattern_word(i, seed);
}

NO_TSAN long check_pattern(const void *buf, size_t len, unsigned int seed)
{
	const uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != pattern_word(i, seed))
			return (long)(i * 8);
	return -1;
}

/* One request on a fresh connection without a userfaultfd. */
static int raw_call(const char *sock, Gsvm__Request *req, Gsvm__Response **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	Gsvm__Request hello_req = GSVM__REQUEST__INIT;
	Gsvm__Hello hello = GSVM__HELLO__INIT;
	static uint8_t buf[WIRE_MAX_MSG];
	int fd, err, fds[1], nfds, i;
	size_t len;

	*out = NULL;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		err = -errno;
		goto out;
	}
	hello.version = GSVM__VERSION__VERSION_CURRENT;
	hello.name = "harness";
	hello_req.id = 1;
	hello_req.body_case = GSVM__REQUEST__BODY_HELLO;
	hello_req.hello = &hello;
	req->id = 2;
	err = wire_send_request(fd, &hello_req, NULL, 0);
	if (!err)
		err = wire_send_request(fd, req, NULL, 0);
	for (i = 0; !err && i < 2; i++) {
		err = wire_recv(fd, buf, sizeof(buf), &len, fds, &nfds);
		if (err)
			break;
		*out = gsvm__response__unpack(NULL, len, buf);
		if (!*out) {
			err = -EPROTO;
			break;
		}
		if ((*out)->id == 2)
			break;
		gsvm__response__free_unpacked(*out, NULL);
		*out = NULL;
	}
out:
	close(fd);
	return err;
}

int gsvmd_get_stats(const char *sock, struct gsvmd_stats *st)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__StatsReq sreq = GSVM__STATS_REQ__INIT;
	Gsvm__Response *resp;
	const Gsvm__StatsReply *r;
	size_t i;
	int err;

	req.body_case = GSVM__REQUEST__BODY_STATS;
	req.stats = &sreq;
	err = raw_call(sock, &req, &resp);
	if (!err && (resp->err || resp->body_case != GSVM__RESPONSE__BODY_STATS))
		err = resp->err ? resp->err : -EPROTO;
	if (err)
		goto out;
	r = resp->stats;
	memset(st, 0, sizeof(*st));
	st->faults_cpu = r->faults_cpu;
	st->faults_device = r->faults_device;
	st->to_device = r->migrations_to_device;
	st->to_host = r->migrations_to_host;
	st->device_to_device = r->migrations_device_to_device;
	st->bytes_to_device = r->bytes_to_device;
	st->bytes_to_host = r->bytes_to_host;
	st->bytes_device_to_device = r->bytes_device_to_device;
	st->evictions = r->evictions;
	st->throttled = r->thrash_throttled;
	st->pinned = r->thrash_pinned;
	st->clients = r->clients;
	st->ranges = r->ranges;
	for (i = 0; i < r->n_devices && i < 8; i++) {
		st->used[i] = r->devices[i]->used;
		st->online[i] = r->devices[i]->online;
	}
	st->ndev = (unsigned int)i;
	if (r->limits) {
		st->limits.message = r->limits->message;
		st->limits.clients = r->limits->clients;
		st->limits.allocations = r->limits->allocations;
		st->limits.device_bytes = r->limits->device_bytes;
		st->limits.inflight = r->limits->inflight;
		st->limits.fds = r->limits->fds;
		st->limits.backlog = r->limits->backlog;
	}
out:
	if (resp)
		gsvm__response__free_unpacked(resp, NULL);
	return err;
}

int gsvmd_device_admin(const char *sock, int device, bool rebind)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__DeviceAdminReq a = GSVM__DEVICE_ADMIN_REQ__INIT;
	Gsvm__Response *resp;
	int err;

	a.device = device;
	a.op = rebind ? GSVM__DEVICE_ADMIN_REQ__OP__REBIND : GSVM__DEVICE_ADMIN_REQ__OP__UNBIND;
	req.body_case = GSVM__REQUEST__BODY_DEVICE_ADMIN;
	req.device_admin = &a;
	err = raw_call(sock, &req, &resp);
	if (!err)
		err = resp->err;
	if (resp)
		gsvm__response__free_unpacked(resp, NULL);
	return err;
}
