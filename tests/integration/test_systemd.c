// SPDX-License-Identifier: MIT
/*
 * gsvmd as a systemd service: the unit files pass systemd-analyze, gsvmd
 * serves a socket passed by socket activation, tells $NOTIFY_SOCKET it is
 * ready only once its socket answers and keeps pinging the watchdog, checks
 * a configuration without starting, and reloads on SIGHUP.
 *
 * The unit files are read from $REPO_TOP/systemd (make itest sets REPO_TOP),
 * or ./systemd when it is not set.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu.h"
#include "gsvm.h"
#include "harness.h"

#define SEC_MS 1000U

/* CU_ASSERT with a printf message on failure. */
#define EXPECT(cond, ...)                                                              \
	do {                                                                           \
		bool ok_ = (cond);                                                     \
		if (!ok_) {                                                            \
			fprintf(stderr, "\n%s:%d: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                  \
			fputc('\n', stderr);                                           \
		}                                                                      \
		CU_assertImplementation(ok_, __LINE__, #cond, __FILE__, "", CU_FALSE); \
	} while (0)

static const char *gsvmd_bin(void)
{
	const char *bin = getenv("GSVMD");

	if (!bin || bin[0] != '/') {
		fprintf(stderr, "\nGSVMD must be the absolute path of the gsvmd binary\n");
		return NULL;
	}
	return bin;
}

/* $REPO_TOP/systemd/@name, or ./systemd/@name; false with a message if missing. */
static bool unit_source(const char *name, char *path, size_t size)
{
	const char *top = getenv("REPO_TOP");

	snprintf(path, size, "%s/systemd/%s", top && *top ? top : ".", name);
	if (access(path, R_OK)) {
		fprintf(stderr, "\n%s: %s (run from the source tree or set REPO_TOP)\n", path,
			strerror(errno));
		return false;
	}
	return true;
}

/* Copy @src to @dst with every @from replaced by @to. */
static int copy_subst(const char *src, const char *dst, const char *from, const char *to)
{
	char line[1024], *at;
	FILE *in = fopen(src, "r"), *out;

	if (!in)
		return -1;
	out = fopen(dst, "w");
	if (!out) {
		fclose(in);
		return -1;
	}
	while (fgets(line, sizeof(line), in)) {
		at = from ? strstr(line, from) : NULL;
		if (at) {
			*at = 0;
			fprintf(out, "%s%s%s", line, to, at + strlen(from));
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	return fclose(out) ? -1 : 0;
}

static void dump_log(const char *path)
{
	struct gsvmd_proc p = { 0 };

	snprintf(p.log, sizeof(p.log), "%s", path);
	gsvmd_dump_log(&p);
}

static void write_file(const char *path, const char *text)
{
	char tmp[256];
	FILE *f;

	/* A rename, so gsvmd never reads a half-written file. */
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	CU_ASSERT_FATAL(f != NULL);
	fputs(text, f);
	CU_ASSERT_FATAL(fclose(f) == 0);
	CU_ASSERT_FATAL(rename(tmp, path) == 0);
}

static void remove_tree(const char *dir)
{
	const char *argv[] = { "rm", "-rf", dir, NULL };
	char out[256];

	run_capture(argv, out, sizeof(out));
}

static bool have_program(const char *name)
{
	const char *argv[] = { "sh", "-c", "command -v \"$0\"", name, NULL };
	char out[256];

	if (run_capture(argv, out, sizeof(out)) == 0)
		return true;
	fprintf(stderr, "\n%s not found: install systemd (scripts/install-deps does)\n", name);
	return false;
}

/* systemd-analyze verify on copies whose ExecStart is the gsvmd under test. */
static void test_units_verify(void)
{
	char dir[] = "/tmp/gsvm-units.XXXXXX", src[512], svc[128], sock[128], out[16384];
	const char *bin = gsvmd_bin();
	const char *verify[] = { "systemd-analyze",	  "verify", "--man=no", "--generators=no",
				 "--recursive-errors=no", svc,	    sock,	NULL };
	const char *security[] = { "systemd-analyze",
				   "security",
				   "--offline=true",
				   "--threshold=20",
				   "--no-pager",
				   svc,
				   NULL };
	int rc;

	CU_ASSERT_FATAL(bin != NULL);
	CU_ASSERT_FATAL(have_program("systemd-analyze"));
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(svc, sizeof(svc), "%s/gsvmd.service", dir);
	snprintf(sock, sizeof(sock), "%s/gsvmd.socket", dir);
	CU_ASSERT_FATAL(unit_source("gsvmd.service", src, sizeof(src)));
	CU_ASSERT_FATAL(copy_subst(src, svc, "@sbindir@/gsvmd", bin) == 0);
	CU_ASSERT_FATAL(unit_source("gsvmd.socket", src, sizeof(src)));
	CU_ASSERT_FATAL(copy_subst(src, sock, NULL, NULL) == 0);

	rc = run_capture(verify, out, sizeof(out));
	EXPECT(rc == 0, "systemd-analyze verify exited %d:\n%s", rc, out);
	/* Silence is success: verify prints only problems. */
	EXPECT(out[0] == 0, "systemd-analyze verify complains:\n%s", out);

	/* The hardening stays: an exposure of at most 2.0 ("SAFE"). */
	rc = run_capture(security, out, sizeof(out));
	EXPECT(rc == 0, "systemd-analyze security exited %d:\n%s", rc, out);
	EXPECT(strstr(out, "Overall exposure level for gsvmd.service") != NULL, "%s", out);
	remove_tree(dir);
}

/* sysusers.d and tmpfiles.d entries, applied to an empty root. */
static void test_sysusers_tmpfiles(void)
{
	char root[] = "/tmp/gsvm-root.XXXXXX", src[512], users[PATH_MAX], tmpfiles[PATH_MAX];
	char rootopt[64], path[128], out[4096];
	const char *sysusers[] = { "systemd-sysusers", rootopt, users, NULL };
	const char *tmpfiles_create[] = { "systemd-tmpfiles", "--create", rootopt, tmpfiles, NULL };
	struct stat st;
	int rc;

	CU_ASSERT_FATAL(have_program("systemd-sysusers"));
	/* With --root, relative file names would be taken inside the root. */
	CU_ASSERT_FATAL(unit_source("gsvm.sysusers", src, sizeof(src)));
	CU_ASSERT_FATAL(realpath(src, users) != NULL);
	CU_ASSERT_FATAL(unit_source("gsvm.tmpfiles", src, sizeof(src)));
	CU_ASSERT_FATAL(realpath(src, tmpfiles) != NULL);
	CU_ASSERT_FATAL(mkdtemp(root) != NULL);
	snprintf(rootopt, sizeof(rootopt), "--root=%s", root);
	snprintf(path, sizeof(path), "%s/etc", root);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/run", root);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);

	rc = run_capture(sysusers, out, sizeof(out));
	EXPECT(rc == 0, "systemd-sysusers exited %d:\n%s", rc, out);
	snprintf(path, sizeof(path), "%s/etc/passwd", root);
	EXPECT(wait_for_text(path, "gsvm:x:", 0), "no user gsvm in %s", path);
	snprintf(path, sizeof(path), "%s/etc/group", root);
	EXPECT(wait_for_text(path, "gsvm-admin:x:", 0), "no group gsvm-admin in %s", path);

	rc = run_capture(tmpfiles_create, out, sizeof(out));
	EXPECT(rc == 0, "systemd-tmpfiles exited %d:\n%s", rc, out);
	snprintf(path, sizeof(path), "%s/run/gsvm", root);
	EXPECT(!stat(path, &st) && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755,
	       "%s is not a 0755 directory", path);
	remove_tree(root);
}

/* A client's round trip: data to device 0 and back, every byte checked. */
static int client_roundtrip(void *arg)
{
	const size_t len = 4U << 20;
	struct gsvm_range_info info[4];
	const char *sock = arg;
	struct gsvm *g;
	size_t n;
	void *p;
	long bad;
	int err;

	err = gsvm_connect(sock, &g);
	CHECK(!err, "gsvm_connect(%s): %s", sock, strerror(-err));
	CHECK(gsvm_device_count(g) >= 1, "no device");
	err = gsvm_alloc(g, len, &p);
	CHECK(!err, "gsvm_alloc: %s", strerror(-err));
	fill_pattern(p, len, 42);
	err = gsvm_prefetch(g, p, len, 0);
	CHECK(!err, "gsvm_prefetch: %d", err);
	err = gsvm_query(g, p, len, info, 4, &n);
	CHECK(!err && n == 1 && info[0].location == 0, "query: err %d, %zu runs, at %d", err, n,
	      n ? info[0].location : -2);
	bad = check_pattern(p, len, 42);
	CHECK(bad < 0, "byte %ld differs after the round trip", bad);
	CHECK(gsvm_free(g, p) == 0, "gsvm_free");
	gsvm_disconnect(g);
	return 0;
}

static bool wait_for_socket_file(const char *path, pid_t pid, unsigned int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	struct stat st;

	while (stat(path, &st) || !S_ISSOCK(st.st_mode)) {
		if (now_ns() > deadline || waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		usleep(10000);
	}
	return true;
}

static int wait_exit(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* systemd-socket-activate binds and listens; gsvmd serves what it is given. */
static void test_socket_activation(void)
{
	unsigned int failures = CU_get_number_of_failures();
	char dir[] = "/tmp/gsvm-activate.XXXXXX", sock[96], log[96];
	const char *bin = gsvmd_bin();
	struct stat st;
	pid_t pid;
	int fd, rc;

	CU_ASSERT_FATAL(bin != NULL);
	CU_ASSERT_FATAL(have_program("systemd-socket-activate"));
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/gsvmd.sock", dir);
	snprintf(log, sizeof(log), "%s/gsvmd.log", dir);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (!pid) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* It waits for the first connect, then execs gsvmd (same pid). */
		execlp("systemd-socket-activate", "systemd-socket-activate", "--seqpacket", "-l",
		       sock, bin, "-v", (char *)NULL);
		_exit(127);
	}
	if (!wait_for_socket_file(sock, pid, 30 * SEC_MS)) {
		kill(pid, SIGKILL);
		wait_exit(pid);
		dump_log(log);
		CU_FAIL_FATAL("systemd-socket-activate did not create its socket");
	}
	rc = run_child(client_roundtrip, sock, 60);
	EXPECT(rc == 0, "the client failed (%d) against the activated gsvmd", rc);
	EXPECT(wait_for_text(log, "socket activation: ", 10 * SEC_MS),
	       "gsvmd did not log that it took the activated socket");
	kill(pid, SIGTERM);
	rc = wait_exit(pid);
	EXPECT(rc == 0, "gsvmd exited %d", rc);
	/* gsvmd leaves the file of a socket it did not bind to its owner. */
	EXPECT(!stat(sock, &st) && S_ISSOCK(st.st_mode), "gsvmd removed %s", sock);
	if (CU_get_number_of_failures() != failures)
		dump_log(log);
	remove_tree(dir);
}

/* What $NOTIFY_SOCKET received so far. */
struct notify_seen {
	bool ready;
	bool connect_at_ready;
	bool stopping;
	unsigned int watchdogs;
	char status[256];
};

static int notify_bind(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Read datagrams until @done(@seen) or @timeout_ms. At READY=1, check at
 * once that @sock accepts a connection.
 */
static void notify_read(int fd, const char *sock, struct notify_seen *seen,
			bool (*done)(const struct notify_seen *), unsigned int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char msg[1024], *line, *save;
	ssize_t n;

	while (!done(seen) && now_ns() < deadline) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
		if (n <= 0)
			continue;
		msg[n] = 0;
		for (line = strtok_r(msg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (!strcmp(line, "READY=1") && !seen->ready) {
				seen->connect_at_ready = socket_answers(sock);
				seen->ready = true;
			} else if (!strcmp(line, "WATCHDOG=1") && seen->ready) {
				seen->watchdogs++;
			} else if (!strcmp(line, "STOPPING=1")) {
				seen->stopping = true;
			} else if (!strncmp(line, "STATUS=", 7)) {
				snprintf(seen->status, sizeof(seen->status), "%s", line + 7);
			}
		}
	}
}

static bool seen_ready(const struct notify_seen *s)
{
	return s->ready;
}

static bool seen_3_watchdogs(const struct notify_seen *s)
{
	return s->watchdogs >= 3;
}

static bool seen_stopping(const struct notify_seen *s)
{
	return s->stopping;
}

/* Start gsvmd -v -s @sock logging to @log, after @setenv_fn(@arg, log fd) in the child. */
static pid_t spawn_gsvmd(const char *sock, const char *log, void (*setenv_fn)(const void *, int),
			 const void *arg)
{
	const char *bin = gsvmd_bin();
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	unsetenv("GSVM_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("JOURNAL_STREAM");
	setenv_fn(arg, fd);
	if (bin)
		execl(bin, "gsvmd", "-v", "-s", sock, (char *)NULL);
	_exit(127);
}

/* The service manager's environment, WATCHDOG_PID being gsvmd's own. */
static void notify_env(const void *notify, int logfd)
{
	char pid_text[32];

	(void)logfd;
	snprintf(pid_text, sizeof(pid_text), "%d", (int)getpid());
	setenv("NOTIFY_SOCKET", notify, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", pid_text, 1);
}

/* READY=1 once the socket answers, STATUS=, WATCHDOG=1 pings, STOPPING=1. */
static void test_notify_ready_watchdog(void)
{
	unsigned int failures = CU_get_number_of_failures();
	char dir[] = "/tmp/gsvm-notify.XXXXXX", sock[96], notify[96], log[96];
	struct notify_seen seen = { 0 };
	int fd, rc;
	pid_t pid;

	CU_ASSERT_FATAL(gsvmd_bin() != NULL);
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/gsvmd.sock", dir);
	snprintf(notify, sizeof(notify), "%s/notify", dir);
	snprintf(log, sizeof(log), "%s/gsvmd.log", dir);
	fd = notify_bind(notify);
	CU_ASSERT_FATAL(fd >= 0);
	pid = spawn_gsvmd(sock, log, notify_env, notify);
	CU_ASSERT_FATAL(pid > 0);

	notify_read(fd, sock, &seen, seen_ready, 30 * SEC_MS);
	EXPECT(seen.ready, "no READY=1 within 30 s");
	EXPECT(seen.connect_at_ready, "READY=1 came before %s accepted a connection", sock);
	EXPECT(strstr(seen.status, "serving 2 devices on ") != NULL, "STATUS=%s", seen.status);
	EXPECT(strstr(seen.status, sock) != NULL, "STATUS=%s", seen.status);
	/* WATCHDOG_USEC=200000: a ping every 100 ms. */
	notify_read(fd, sock, &seen, seen_3_watchdogs, 10 * SEC_MS);
	EXPECT(seen.watchdogs >= 3, "%u WATCHDOG=1 within 10 s, expected 3", seen.watchdogs);

	kill(pid, SIGTERM);
	notify_read(fd, sock, &seen, seen_stopping, 30 * SEC_MS);
	EXPECT(seen.stopping, "no STOPPING=1 within 30 s of SIGTERM");
	EXPECT(strstr(seen.status, "stopping") != NULL, "STATUS=%s", seen.status);
	rc = wait_exit(pid);
	EXPECT(rc == 0, "gsvmd exited %d", rc);
	if (CU_get_number_of_failures() != failures)
		dump_log(log);
	close(fd);
	remove_tree(dir);
}

/* $JOURNAL_STREAM: stderr's "DEV:INODE" when it is the journal; @match: make it so. */
static void journal_env(const void *match, int logfd)
{
	char text[64];
	struct stat st;

	if (fstat(logfd, &st))
		return;
	snprintf(text, sizeof(text), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + (*(const bool *)match ? 0 : 1));
	setenv("JOURNAL_STREAM", text, 1);
}

/* Lines to the journal carry "<N>" priority prefixes, and only those. */
static void test_journal_prefixes(void)
{
	char dir[] = "/tmp/gsvm-journal.XXXXXX", sock[96], log[96];
	static const bool yes = true, no = false;
	const bool *match[] = { &yes, &no };
	unsigned int i;
	int rc;
	pid_t pid;

	CU_ASSERT_FATAL(gsvmd_bin() != NULL);
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/gsvmd.sock", dir);
	snprintf(log, sizeof(log), "%s/gsvmd.log", dir);
	for (i = 0; i < 2; i++) {
		unlink(log);
		pid = spawn_gsvmd(sock, log, journal_env, match[i]);
		CU_ASSERT_FATAL(pid > 0);
		EXPECT(wait_for_text(log, "listening on ", 30 * SEC_MS), "gsvmd did not start");
		kill(pid, SIGTERM);
		rc = wait_exit(pid);
		EXPECT(rc == 0, "gsvmd exited %d", rc);
		if (*match[i]) {
			EXPECT(wait_for_text(log, "<6>listening on ", 0), "no <6> prefix");
			EXPECT(!wait_for_text(log, "gsvmd[", 0),
			       "a plain line went to the journal");
		} else {
			/* Inherited from a parent, but stderr is elsewhere: plain lines. */
			EXPECT(wait_for_text(log, "]: listening on ", 0), "no plain line");
			EXPECT(!wait_for_text(log, "<6>", 0), "a journal line went to a file");
		}
		if (rc)
			dump_log(log);
	}
	remove_tree(dir);
}

/* --check-config: "FILE: ok" or "FILE:LINE: what"; nothing started. */
static void test_check_config(void)
{
	char dir[] = "/tmp/gsvm-check.XXXXXX", conf[96], sock[96], out[4096], expect[160];
	const char *args[] = { gsvmd_bin(), "--check-config", "-c", conf, "-s", sock, NULL };
	const char *no_file[] = { gsvmd_bin(), "--check-config", NULL };
	int rc;

	CU_ASSERT_FATAL(args[0] != NULL);
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(conf, sizeof(conf), "%s/gsvmd.conf", dir);
	snprintf(sock, sizeof(sock), "%s/gsvmd.sock", dir);

	write_file(conf, "[device.a]\nprovider = sim\ncapacity = 64M\n"
			 "[policy]\ntimeslice_ms = 5\n");
	rc = run_capture(args, out, sizeof(out));
	snprintf(expect, sizeof(expect), "%s: ok\n", conf);
	EXPECT(rc == 0, "exit %d: %s", rc, out);
	EXPECT(strstr(out, expect) != NULL, "expected '%s', got '%s'", expect, out);
	EXPECT(access(sock, F_OK) != 0, "--check-config created %s", sock);

	rc = run_capture(no_file, out, sizeof(out));
	EXPECT(rc == 0, "exit %d: %s", rc, out);
	EXPECT(strstr(out, ": ok") != NULL, "got '%s'", out);

	write_file(conf, "[policy]\ntimeslice_ms = 5\nthrash_threshold = 0\n");
	rc = run_capture(args, out, sizeof(out));
	snprintf(expect, sizeof(expect), "%s:3: ", conf);
	EXPECT(rc == 1, "exit %d: %s", rc, out);
	EXPECT(strstr(out, expect) != NULL, "expected '%s...', got '%s'", expect, out);
	EXPECT(access(sock, F_OK) != 0, "--check-config created %s", sock);
	remove_tree(dir);
}

static const char reload_conf[] = "[device.a]\n"
				  "provider = sim\n"
				  "capacity = 64M\n"
				  "[policy]\n"
				  "timeslice_ms = 1\n";

static const char reload_conf_changed[] = "[device.a]\n"
					  "provider = sim\n"
					  "capacity = 64M\n"
					  "[device.b]\n"
					  "provider = sim\n"
					  "capacity = 64M\n"
					  "[policy]\n"
					  "timeslice_ms = 7\n"
					  "thrash_threshold = 5\n";

/* SIGHUP applies the timeslice and thrash knobs, refuses the devices. */
static void test_sighup_reload(void)
{
	unsigned int failures = CU_get_number_of_failures();
	struct gsvmd_stats st = { 0 };
	struct gsvmd_proc d;
	char conf[160], expect[256];
	int rc;

	CU_ASSERT_FATAL(gsvmd_start(&d, reload_conf) == 0);
	snprintf(conf, sizeof(conf), "%s/gsvmd.conf", d.dir);
	write_file(conf, reload_conf_changed);
	CU_ASSERT_FATAL(kill(d.pid, SIGHUP) == 0);
	snprintf(expect, sizeof(expect), "reloaded %s: 2 settings applied, 1 needs a restart",
		 conf);
	EXPECT(wait_for_text(d.log, expect, 10 * SEC_MS), "no '%s'", expect);
	EXPECT(wait_for_text(d.log, "[policy] timeslice_ms: 1 -> 7: applied", 0),
	       "the timeslice change was not applied");
	EXPECT(wait_for_text(d.log, "[policy] thrash_threshold: 3 -> 5: applied", 0),
	       "the thrash_threshold change was not applied");
	EXPECT(wait_for_text(d.log,
			     "[device.*] sections changed: cannot be applied without a "
			     "restart",
			     0),
	       "the device change was not refused");
	rc = run_child(client_roundtrip, d.sock, 60);
	EXPECT(rc == 0, "the client failed (%d) after the reload", rc);
	EXPECT(gsvmd_get_stats(d.sock, &st) == 0 && st.ndev == 1, "%u devices after the reload",
	       st.ndev);

	/* A broken file changes nothing; gsvmd goes on serving. */
	write_file(conf, "[policy]\ntimeslice_ms = soon\n");
	CU_ASSERT_FATAL(kill(d.pid, SIGHUP) == 0);
	snprintf(expect, sizeof(expect), "%s:2: ", conf);
	EXPECT(wait_for_text(d.log, "keeping the running configuration", 10 * SEC_MS),
	       "no error for the broken file");
	EXPECT(wait_for_text(d.log, expect, 0), "the error does not say '%s'", expect);
	rc = run_child(client_roundtrip, d.sock, 60);
	EXPECT(rc == 0, "the client failed (%d) after a failed reload", rc);

	/* The good file again: only the devices still differ from it. */
	write_file(conf, reload_conf_changed);
	CU_ASSERT_FATAL(kill(d.pid, SIGHUP) == 0);
	snprintf(expect, sizeof(expect), "reloaded %s: 0 settings applied, 1 needs a restart",
		 conf);
	EXPECT(wait_for_text(d.log, expect, 10 * SEC_MS), "no '%s'", expect);
	rc = gsvmd_stop(&d, SIGTERM);
	EXPECT(rc == 0, "gsvmd exited %d", rc);
	if (CU_get_number_of_failures() != failures)
		gsvmd_dump_log(&d);
}

/* Without -c there is nothing to reload; SIGHUP must not stop gsvmd. */
static void test_sighup_embedded_default(void)
{
	struct gsvmd_proc d;
	int rc;

	CU_ASSERT_FATAL(gsvmd_start(&d, NULL) == 0);
	CU_ASSERT_FATAL(kill(d.pid, SIGHUP) == 0);
	EXPECT(wait_for_text(d.log, "nothing to reload", 10 * SEC_MS), "SIGHUP was not logged");
	rc = run_child(client_roundtrip, d.sock, 60);
	EXPECT(rc == 0, "the client failed (%d) after SIGHUP", rc);
	rc = gsvmd_stop(&d, SIGTERM);
	EXPECT(rc == 0, "gsvmd exited %d", rc);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_units_verify),
		CU_TEST_ENTRY(test_sysusers_tmpfiles),
		CU_TEST_ENTRY(test_socket_activation),
		CU_TEST_ENTRY(test_notify_ready_watchdog),
		CU_TEST_ENTRY(test_journal_prefixes),
		CU_TEST_ENTRY(test_check_config),
		CU_TEST_ENTRY(test_sighup_reload),
		CU_TEST_ENTRY(test_sighup_embedded_default),
		{ NULL, NULL },
	};

	return cu_run("systemd", tests);
}
