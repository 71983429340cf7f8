// SPDX-License-Identifier: MIT
/*
 * gsvmctl end to end: a real gsvmd, client processes (libgsvm) that hold
 * data in place while the test runs the real gsvmctl ($GSVMCTL) against
 * them, capturing its stdout, stderr and exit status. Text output is
 * checked for what a person looks for; --json output is parsed with json-c
 * and checked key by key. The permission test runs gsvmctl as an
 * unprivileged user (setpriv), with and without the admin group.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cu.h"
#include "gsvm.h"
#include "harness.h"

#define MiB (1ULL << 20)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CTL_MAX_ARGS 24

#define TEST_USER "gsvmtest"
#define ADMIN_GROUP "gsvm-admin"

/* The suite's gsvmd: the embedded default (two 1 GiB sim devices). */
static struct gsvmd_proc daemon_proc;
static const char *gsvmctl_path;

/* Put before gsvmctl's argv (setpriv ...), NULL-terminated; empty for root. */
static const char *ctl_prefix[8];

/* ---- running gsvmctl ---- */

struct ctl_result {
	int status; /* exit status, or 128 + signal */
	char *out;
	char *err;
};

static char *read_all(int fd)
{
	struct stat st;
	char *buf;
	ssize_t n;

	if (fstat(fd, &st))
		return strdup("");
	buf = calloc(1, (size_t)st.st_size + 1);
	n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	close(fd);
	return buf;
}

/* Start gsvmctl with @args (NULL-terminated); stdout and stderr go to memfds. */
static pid_t ctl_spawn(const char *sock, const char *const *args, int *out, int *err)
{
	const char *argv[CTL_MAX_ARGS + 12];
	size_t n = 0, i;
	pid_t pid;

	for (i = 0; ctl_prefix[i]; i++)
		argv[n++] = ctl_prefix[i];
	argv[n++] = gsvmctl_path;
	if (sock) {
		argv[n++] = "--socket";
		argv[n++] = sock;
	}
	for (i = 0; args[i] && i < CTL_MAX_ARGS; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	*out = memfd_create("gsvmctl-out", MFD_CLOEXEC);
	*err = memfd_create("gsvmctl-err", MFD_CLOEXEC);
	pid = fork();
	if (pid == 0) {
		dup2(*out, 1);
		dup2(*err, 2);
		alarm(60);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static void ctl_collect(pid_t pid, int out, int err, struct ctl_result *r)
{
	r->status = wait_child(pid);
	r->out = read_all(out);
	r->err = read_all(err);
}

static void ctl_free(struct ctl_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* Run gsvmctl --socket @sock ARGS... (NULL-terminated); NULL @sock: no --socket. */
static int ctl_run(struct ctl_result *r, const char *sock, ...)
{
	const char *args[CTL_MAX_ARGS + 1];
	size_t n = 0;
	int out, err;
	va_list ap;
	pid_t pid;

	va_start(ap, sock);
	while (n < CTL_MAX_ARGS && (args[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	args[n] = NULL;
	pid = ctl_spawn(sock, args, &out, &err);
	ctl_collect(pid, out, err, r);
	/* 1 and 2 are errors some tests expect; anything else is a crash. */
	if (r->status > 2)
		fprintf(stderr, "gsvmctl %s...: exit %d: %s", args[0] ? args[0] : "", r->status,
			r->err);
	return r->status;
}

/* Run gsvmctl --json ARGS... and parse its stdout; NULL when either failed. */
static json_object *ctl_json(const char *sock, const char *a1, const char *a2, const char *a3)
{
	struct ctl_result r;
	json_object *o = NULL;

	if (!ctl_run(&r, sock, "--json", a1, a2, a3, NULL)) {
		o = json_tokener_parse(r.out);
		if (!o)
			fprintf(stderr, "gsvmctl --json %s: not JSON: %s\n", a1, r.out);
	} else {
		fprintf(stderr, "gsvmctl --json %s: exit %d: %s", a1, r.status, r.err);
	}
	ctl_free(&r);
	return o;
}

/* ---- looking into JSON ---- */

/* The value at a dotted path ("faults.cpu"; "devices.0.used"), or NULL. */
static json_object *jget(json_object *o, const char *path)
{
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); o && tok; tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, strtoul(tok, NULL, 10));
		else if (!json_object_object_get_ex(o, tok, &o))
			o = NULL;
	}
	return o;
}

static int64_t jint(json_object *o, const char *path)
{
	json_object *v = jget(o, path);

	return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

static const char *jstr(json_object *o, const char *path)
{
	json_object *v = jget(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* A JSON shape: an object's keys with their types (and what is inside). */
struct jshape {
	const char *key;
	enum json_type type;
	const struct jshape *sub; /* an object's keys, or an array element's */
};

/* Shape entries, one line each (clang-format would spread a macro's braces). */
/* clang-format off */
#define JKEY(k, t) { (k), json_type_##t, NULL }
#define JSUB(k, t, sub) { (k), json_type_##t, (sub) }
#define JEND JKEY(NULL, null)
/* clang-format on */

/* Whether @o has exactly the keys of @shape, each of its type, recursively. */
static bool jshape_ok(json_object *o, const struct jshape *shape, const char *where)
{
	size_t nkeys = 0, i;
	json_object *v;

	if (!json_object_is_type(o, json_type_object)) {
		fprintf(stderr, "%s: not an object\n", where);
		return false;
	}
	for (; shape->key; shape++, nkeys++) {
		if (!json_object_object_get_ex(o, shape->key, &v) ||
		    !json_object_is_type(v, shape->type)) {
			fprintf(stderr, "%s.%s: missing or not a %s\n", where, shape->key,
				json_type_to_name(shape->type));
			return false;
		}
		if (shape->type == json_type_object && !jshape_ok(v, shape->sub, shape->key))
			return false;
		for (i = 0; shape->type == json_type_array && i < json_object_array_length(v); i++)
			if (!jshape_ok(json_object_array_get_idx(v, i), shape->sub, shape->key))
				return false;
	}
	if ((size_t)json_object_object_length(o) != nkeys) {
		fprintf(stderr, "%s: %d keys, %zu expected: %s\n", where,
			json_object_object_length(o), nkeys, json_object_to_json_string(o));
		return false;
	}
	return true;
}

static const struct jshape shape_faults[] = {
	JKEY("cpu", int),
	JKEY("device", int),
	JEND,
};

static const struct jshape shape_moves[] = {
	JKEY("to_device", int),
	JKEY("to_host", int),
	JKEY("device_to_device", int),
	JEND,
};

static const struct jshape shape_thrash[] = {
	JKEY("throttled", int),
	JKEY("pinned", int),
	JEND,
};

static const struct jshape shape_stats_device[] = {
	JKEY("id", int),   JKEY("name", string),    JKEY("capacity", int),
	JKEY("used", int), JKEY("online", boolean), JEND,
};

static const struct jshape shape_latency[] = {
	JKEY("p50", int),
	JKEY("p99", int),
	JKEY("count", int),
	JEND,
};

static const struct jshape shape_limits[] = {
	JKEY("message", int),	  JKEY("clients", int), JKEY("allocations", int),
	JKEY("device_bytes", int), JKEY("inflight", int), JKEY("fds", int),
	JKEY("backlog", int),	  JEND,
};

/* The documented stats object, plus latency, dropped events and limits. */
static const struct jshape shape_stats[] = {
	JSUB("faults", object, shape_faults),
	JSUB("migrations", object, shape_moves),
	JSUB("bytes_migrated", object, shape_moves),
	JKEY("evictions", int),
	JSUB("thrash", object, shape_thrash),
	JKEY("clients", int),
	JKEY("ranges", int),
	JSUB("devices", array, shape_stats_device),
	JSUB("fault_latency_ns", object, shape_latency),
	JKEY("events_dropped", int),
	JSUB("limit_rejections", object, shape_limits),
	JEND,
};

static const struct jshape shape_device[] = {
	JKEY("id", int),
	JKEY("name", string),
	JKEY("provider", string),
	JKEY("driver", string),
	JKEY("bus", string),
	JKEY("capacity", int),
	JKEY("used", int),
	JKEY("online", boolean),
	JEND,
};

static const struct jshape shape_devices[] = {
	JSUB("devices", array, shape_device),
	JEND,
};

/* Device memory is freed after a client leaves: wait until none is used. */
static bool wait_devices_empty(const char *sock)
{
	uint64_t deadline = now_ns() + 20ULL * 1000000000ULL;
	struct gsvmd_stats st;
	unsigned int i;
	bool empty;

	do {
		if (gsvmd_get_stats(sock, &st))
			return false;
		for (empty = st.clients == 0, i = 0; i < st.ndev; i++)
			empty = empty && st.used[i] == 0;
		if (empty)
			return true;
		usleep(5000);
	} while (now_ns() < deadline);
	return false;
}

/* ---- a client that holds data while gsvmctl looks ---- */

/*
 * The holder runs in its own process: it allocates @size bytes, fills them
 * with a pattern, applies the setup and then answers one-byte commands on
 * a pipe until told to quit.
 */
enum holder_setup {
	HOLD_ON_DEVICE, /* everything prefetched to @device */
	HOLD_ADVISED, /* 8 MiB on sim0: advice on both halves, replicas on the second */
};

struct holder {
	const char *sock;
	size_t size;
	int device;
	enum holder_setup setup;
	pid_t pid;
	int cmd[2], reply[2];
};

static int holder_location(struct gsvm *g, const void *p, size_t len)
{
	struct gsvm_range_info r[8];
	size_t n = 0;

	if (gsvm_query(g, p, len, r, 8, &n) || !n)
		return -100;
	return n == 1 ? r[0].location : -99;
}

static int holder_setup(struct holder *h, struct gsvm *g, char *p)
{
	size_t half = h->size / 2;
	uint64_t sum;

	if (h->setup == HOLD_ON_DEVICE)
		return gsvm_prefetch(g, p, h->size, h->device);
	CHECK(!gsvm_advise(g, p, half, GSVM_ADVISE_SET_PREFERRED_LOCATION, 1), "preferred");
	CHECK(!gsvm_advise(g, p, half, GSVM_ADVISE_SET_ACCESSED_BY, 0), "accessed by");
	CHECK(!gsvm_advise(g, p + half, half, GSVM_ADVISE_SET_READ_MOSTLY, 0), "read mostly");
	CHECK(!gsvm_prefetch(g, p, h->size, 0), "prefetch");
	/* A read by sim1 of read-mostly data leaves a replica there. */
	CHECK(!gsvm_device_op(g, 1, GSVM_OP_CHECKSUM, p + half, half, 0, &sum), "checksum");
	return 0;
}

static int holder_main(void *arg)
{
	struct holder *h = arg;
	struct gsvm *g;
	signed char res;
	char cmd;
	void *p;

	close(h->cmd[1]);
	close(h->reply[0]);
	res = (signed char)(gsvm_connect(h->sock, &g) || gsvm_alloc(g, h->size, &p));
	if (!res) {
		fill_pattern(p, h->size, 7);
		res = (signed char)(holder_setup(h, g, p) != 0);
	}
	if (write(h->reply[1], &res, 1) != 1 || res)
		return 1;
	while (read(h->cmd[0], &cmd, 1) == 1) {
		switch (cmd) {
		case 'L': /* where the data is: a device, host, or -99 for several */
			res = (signed char)holder_location(g, p, h->size);
			break;
		case 'C': /* the data is intact (brings it home) */
			res = check_pattern(p, h->size, 7) < 0;
			break;
		case 'P': /* prefetch to device 0 again */
			res = (signed char)gsvm_prefetch(g, p, h->size, 0);
			break;
		default:
			gsvm_disconnect(g);
			return 0;
		}
		if (write(h->reply[1], &res, 1) != 1)
			return 1;
	}
	return 1;
}

/* Start a holder; returns 0 once its data is in place. */
static int holder_start(struct holder *h)
{
	signed char res = 1;

	if (pipe2(h->cmd, O_CLOEXEC) || pipe2(h->reply, O_CLOEXEC))
		return -1;
	h->pid = spawn_child(holder_main, h, 120);
	close(h->cmd[0]);
	close(h->reply[1]);
	if (read(h->reply[0], &res, 1) != 1 || res) {
		fprintf(stderr, "holder: setup failed\n");
		return -1;
	}
	return 0;
}

/* Send a command; the holder's answer, or -128 when it is gone. */
static int holder_ask(struct holder *h, char cmd)
{
	signed char res;

	if (write(h->cmd[1], &cmd, 1) != 1 || read(h->reply[0], &res, 1) != 1)
		return -128;
	return res;
}

static int holder_stop(struct holder *h)
{
	int status;

	if (write(h->cmd[1], "Q", 1) != 1)
		kill(h->pid, SIGKILL);
	status = wait_child(h->pid);
	close(h->cmd[1]);
	close(h->reply[0]);
	return status;
}

/* The first line of @text that contains every one of @needles (NULL-terminated). */
static bool has_line(const char *text, ...)
{
	const char *line = text, *end, *needle;
	char buf[1024];
	bool all;
	va_list ap;

	for (; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		snprintf(buf, sizeof(buf), "%.*s", (int)(end - line), line);
		all = true;
		va_start(ap, text);
		while ((needle = va_arg(ap, const char *)))
			all = all && strstr(buf, needle);
		va_end(ap);
		if (all)
			return true;
	}
	return false;
}

/* ---- the tests ---- */

static void test_devices(void)
{
	const char *sock = daemon_proc.sock;
	struct ctl_result r;
	json_object *o;
	int i;

	CU_ASSERT_FATAL(wait_devices_empty(sock));
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "devices", NULL), 0);
	CU_ASSERT(has_line(r.out, "ID", "NAME", "PROVIDER", "DRIVER", "BUS", "CAPACITY", "USED",
			   "ONLINE", NULL));
	CU_ASSERT(has_line(r.out, "0", "sim0", "sim", "sim", "-", "1 GiB", "yes", NULL));
	CU_ASSERT(has_line(r.out, "1", "sim1", "sim", "sim", "-", "1 GiB", "yes", NULL));
	CU_ASSERT_STRING_EQUAL(r.err, "");
	ctl_free(&r);
	/* A unique prefix does, and so does $GSVM_SOCKET without --socket. */
	CU_ASSERT_EQUAL(ctl_run(&r, NULL, "dev", NULL), 0);
	CU_ASSERT(has_line(r.out, "sim1", NULL));
	ctl_free(&r);

	o = ctl_json(sock, "devices", NULL, NULL);
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT(jshape_ok(o, shape_devices, "devices"));
	CU_ASSERT_EQUAL(json_object_array_length(jget(o, "devices")), 2);
	for (i = 0; i < 2; i++) {
		char path[32];

		snprintf(path, sizeof(path), "devices.%d.id", i);
		CU_ASSERT_EQUAL(jint(o, path), i);
		snprintf(path, sizeof(path), "devices.%d.name", i);
		CU_ASSERT_STRING_EQUAL(jstr(o, path), i ? "sim1" : "sim0");
		snprintf(path, sizeof(path), "devices.%d.provider", i);
		CU_ASSERT_STRING_EQUAL(jstr(o, path), "sim");
		snprintf(path, sizeof(path), "devices.%d.driver", i);
		CU_ASSERT_STRING_EQUAL(jstr(o, path), "sim");
		snprintf(path, sizeof(path), "devices.%d.bus", i);
		CU_ASSERT_STRING_EQUAL(jstr(o, path), "-");
		snprintf(path, sizeof(path), "devices.%d.capacity", i);
		CU_ASSERT_EQUAL(jint(o, path), 1LL << 30);
		snprintf(path, sizeof(path), "devices.%d.used", i);
		CU_ASSERT_EQUAL(jint(o, path), 0);
		snprintf(path, sizeof(path), "devices.%d.online", i);
		CU_ASSERT(json_object_get_boolean(jget(o, path)));
	}
	json_object_put(o);
}

/* stats --json: the documented shape, and numbers that follow a prefetch. */
static void test_stats_json(void)
{
	struct holder h = { .sock = daemon_proc.sock, .size = 32 * MiB, .device = 0 };
	const char *sock = daemon_proc.sock;
	json_object *before, *after, *devs;

	CU_ASSERT_FATAL(wait_devices_empty(sock));
	before = ctl_json(sock, "stats", NULL, NULL);
	CU_ASSERT_FATAL(before != NULL);
	CU_ASSERT(jshape_ok(before, shape_stats, "stats"));
	CU_ASSERT_FATAL(holder_start(&h) == 0);

	after = ctl_json(sock, "stats", NULL, NULL);
	devs = ctl_json(sock, "devices", NULL, NULL);
	CU_ASSERT_FATAL(after != NULL && devs != NULL);
	CU_ASSERT(jshape_ok(after, shape_stats, "stats"));
	CU_ASSERT(jint(after, "migrations.to_device") > jint(before, "migrations.to_device"));
	CU_ASSERT(jint(after, "bytes_migrated.to_device") -
			  jint(before, "bytes_migrated.to_device") >=
		  (int64_t)(32 * MiB));
	/* Filling the fresh allocation faulted from the CPU. */
	CU_ASSERT(jint(after, "faults.cpu") > jint(before, "faults.cpu"));
	CU_ASSERT(jint(after, "fault_latency_ns.count") > 0);
	CU_ASSERT(jint(after, "fault_latency_ns.p50") <= jint(after, "fault_latency_ns.p99"));
	CU_ASSERT(jint(after, "fault_latency_ns.p50") > 0);
	CU_ASSERT_EQUAL(jint(after, "clients"), 1);
	CU_ASSERT_EQUAL(jint(after, "ranges"), 16);
	CU_ASSERT_EQUAL(jint(after, "devices.0.used"), (int64_t)(32 * MiB));
	CU_ASSERT_EQUAL(jint(after, "devices.1.used"), 0);
	CU_ASSERT_EQUAL(jint(after, "devices.0.used"), jint(devs, "devices.0.used"));
	CU_ASSERT_STRING_EQUAL(jstr(after, "devices.1.name"), "sim1");
	CU_ASSERT(json_object_get_boolean(jget(after, "devices.0.online")));
	CU_ASSERT_EQUAL(holder_stop(&h), 0);
	json_object_put(before);
	json_object_put(after);
	json_object_put(devs);
}

/* stats in text: the same numbers as --json from the same state. */
static void test_stats_text(void)
{
	struct holder h = { .sock = daemon_proc.sock, .size = 16 * MiB, .device = 1 };
	const char *sock = daemon_proc.sock;
	char want[128];
	struct ctl_result r;
	json_object *o;

	CU_ASSERT_FATAL(wait_devices_empty(sock));
	CU_ASSERT_FATAL(holder_start(&h) == 0);
	o = ctl_json(sock, "stats", NULL, NULL);
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "stats", NULL), 0);
	CU_ASSERT(has_line(r.out, "faults:", "cpu ", "device ", NULL));
	snprintf(want, sizeof(want), "to device %lld, to host %lld, device to device %lld",
		 (long long)jint(o, "migrations.to_device"),
		 (long long)jint(o, "migrations.to_host"),
		 (long long)jint(o, "migrations.device_to_device"));
	CU_ASSERT(has_line(r.out, "migrations:", want, NULL));
	CU_ASSERT(has_line(r.out, "bytes migrated:", "to device ", "MiB", NULL));
	snprintf(want, sizeof(want), "%lld", (long long)jint(o, "evictions"));
	CU_ASSERT(has_line(r.out, "evictions:", want, NULL));
	CU_ASSERT(has_line(r.out, "thrash:", "throttled ", "pinned ", NULL));
	CU_ASSERT(has_line(r.out, "clients:", "1", NULL));
	CU_ASSERT(has_line(r.out, "ranges:", "8", NULL));
	CU_ASSERT(has_line(r.out, "fault latency:", "p50 ", " µs", "p99 ", NULL));
	CU_ASSERT(has_line(r.out, "sim1", "16 MiB", "yes", NULL));
	CU_ASSERT(has_line(r.out, "sim0", "1 GiB", "0", NULL));
	ctl_free(&r);
	json_object_put(o);
	CU_ASSERT_EQUAL(holder_stop(&h), 0);
}

static void test_clients(void)
{
	struct holder h = { .sock = daemon_proc.sock, .size = 24 * MiB, .device = 1 };
	const char *sock = daemon_proc.sock;
	json_object *o, *c = NULL;
	struct ctl_result r;
	char pid[16];
	size_t i;

	CU_ASSERT_FATAL(wait_devices_empty(sock));
	CU_ASSERT_FATAL(holder_start(&h) == 0);
	snprintf(pid, sizeof(pid), "%d", (int)h.pid);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "clients", NULL), 0);
	CU_ASSERT(has_line(r.out, "PID", "UID", "NAME", "sim0", "sim1", NULL));
	CU_ASSERT(has_line(r.out, pid, "test_ctl", "24 MiB", NULL));
	ctl_free(&r);

	o = ctl_json(sock, "clients", NULL, NULL);
	CU_ASSERT_FATAL(o != NULL);
	for (i = 0; i < json_object_array_length(jget(o, "clients")); i++)
		if (jint(json_object_array_get_idx(jget(o, "clients"), i), "pid") == h.pid)
			c = json_object_array_get_idx(jget(o, "clients"), i);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_EQUAL(jint(c, "uid"), 0);
	CU_ASSERT_EQUAL(jint(c, "allocations"), 1);
	CU_ASSERT_EQUAL(jint(c, "allocated_bytes"), (int64_t)(24 * MiB));
	CU_ASSERT_EQUAL(jint(c, "ranges"), 12);
	CU_ASSERT_STRING_EQUAL(jstr(c, "device_bytes.1.name"), "sim1");
	CU_ASSERT_EQUAL(jint(c, "device_bytes.1.bytes"), (int64_t)(24 * MiB));
	CU_ASSERT_EQUAL(jint(c, "device_bytes.0.bytes"), 0);
	json_object_put(o);
	CU_ASSERT_EQUAL(holder_stop(&h), 0);
}

static void test_ranges(void)
{
	struct holder h = { .sock = daemon_proc.sock, .size = 8 * MiB, .setup = HOLD_ADVISED };
	const char *sock = daemon_proc.sock;
	struct ctl_result r;
	json_object *o, *x;
	char pid[16];
	int i;

	CU_ASSERT_FATAL(wait_devices_empty(sock));
	CU_ASSERT_FATAL(holder_start(&h) == 0);
	snprintf(pid, sizeof(pid), "%d", (int)h.pid);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "ranges", "--pid", pid, NULL), 0);
	CU_ASSERT(
		has_line(r.out, "PID", "ADDRESS", "SIZE", "LOCATION", "REPLICAS", "ADVICE", NULL));
	CU_ASSERT(has_line(r.out, pid, "0x", "2 MiB", "sim0", "pref=sim1 acc=sim0", NULL));
	CU_ASSERT(has_line(r.out, pid, "0x", "2 MiB", "sim0", "sim1", " rm", NULL));
	ctl_free(&r);
	/* Without --pid, root sees every client's ranges, this one's too. */
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "ranges", NULL), 0);
	CU_ASSERT(has_line(r.out, pid, "pref=sim1", NULL));
	ctl_free(&r);

	o = ctl_json(sock, "ranges", "--pid", pid);
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_EQUAL_FATAL(json_object_array_length(jget(o, "ranges")), 4);
	for (i = 0; i < 4; i++) {
		x = json_object_array_get_idx(jget(o, "ranges"), (size_t)i);
		CU_ASSERT_EQUAL(jint(x, "pid"), h.pid);
		CU_ASSERT_EQUAL(jint(x, "size"), (int64_t)(2 * MiB));
		CU_ASSERT_STRING_EQUAL(jstr(x, "location"), "sim0");
		if (i < 2) {
			CU_ASSERT_STRING_EQUAL(jstr(x, "preferred"), "sim1");
			CU_ASSERT_STRING_EQUAL(jstr(x, "accessed_by.0"), "sim0");
			CU_ASSERT_EQUAL(json_object_array_length(jget(x, "replicas")), 0);
			CU_ASSERT(!json_object_get_boolean(jget(x, "read_mostly")));
		} else {
			CU_ASSERT(jget(x, "preferred") == NULL); /* JSON null */
			CU_ASSERT_EQUAL(json_object_array_length(jget(x, "accessed_by")), 0);
			CU_ASSERT_STRING_EQUAL(jstr(x, "replicas.0"), "sim1");
			CU_ASSERT(json_object_get_boolean(jget(x, "read_mostly")));
		}
		if (i)
			CU_ASSERT_EQUAL(
				jint(x, "addr"),
				jint(json_object_array_get_idx(jget(o, "ranges"), (size_t)i - 1),
				     "addr") +
					(int64_t)(2 * MiB));
	}
	json_object_put(o);
	/* A process that is not a client. */
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "ranges", "--pid", "999999999", NULL), 1);
	CU_ASSERT(strstr(r.err, "gsvmctl: ranges: pid 999999999: No such process") != NULL);
	ctl_free(&r);
	CU_ASSERT_EQUAL(holder_stop(&h), 0);
}

static void test_evict_device(void)
{
	struct holder h = { .sock = daemon_proc.sock, .size = 16 * MiB, .device = 0 };
	const char *sock = daemon_proc.sock;
	struct gsvmd_stats before, after;
	struct ctl_result r;
	json_object *o;

	CU_ASSERT_FATAL(wait_devices_empty(sock));
	CU_ASSERT_FATAL(holder_start(&h) == 0);
	/* Part of it first: whole ranges go, at least what was asked. */
	o = ctl_json(sock, "evict", "--device=sim0", "--bytes=4M");
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_STRING_EQUAL(jstr(o, "device"), "sim0");
	CU_ASSERT(jint(o, "bytes") >= (int64_t)(4 * MiB) && jint(o, "bytes") < (int64_t)(16 * MiB));
	json_object_put(o);
	CU_ASSERT_EQUAL(holder_ask(&h, 'L'), -99);
	/* Then all of it. */
	CU_ASSERT_FATAL(gsvmd_get_stats(sock, &before) == 0);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "evict", "--device", "0", NULL), 0);
	CU_ASSERT(has_line(r.out, "evicted", "MiB", "from sim0", NULL));
	ctl_free(&r);
	CU_ASSERT_FATAL(gsvmd_get_stats(sock, &after) == 0);
	CU_ASSERT_EQUAL(holder_ask(&h, 'L'), GSVM_HOST);
	CU_ASSERT(after.to_host > before.to_host);
	CU_ASSERT(after.bytes_to_host - before.bytes_to_host >= 4 * MiB);
	CU_ASSERT_EQUAL(after.used[0], 0);
	CU_ASSERT(after.evictions > before.evictions);
	/* Nothing left: nothing moves, and that is no error. */
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "evict", "--device", "sim0", NULL), 0);
	CU_ASSERT_STRING_EQUAL(r.out, "evicted 0 from sim0 to host\n");
	ctl_free(&r);
	CU_ASSERT_EQUAL(holder_ask(&h, 'C'), 1);
	CU_ASSERT_EQUAL(holder_stop(&h), 0);
}

static void test_evict_pid(void)
{
	struct holder h = { .sock = daemon_proc.sock, .size = 16 * MiB, .device = 1 };
	const char *sock = daemon_proc.sock;
	struct gsvmd_stats before, after;
	struct ctl_result r;
	json_object *o;
	char pid[16];

	CU_ASSERT_FATAL(wait_devices_empty(sock));
	CU_ASSERT_FATAL(holder_start(&h) == 0);
	snprintf(pid, sizeof(pid), "%d", (int)h.pid);
	CU_ASSERT_FATAL(gsvmd_get_stats(sock, &before) == 0);
	o = ctl_json(sock, "evict", "--pid", pid);
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_EQUAL(jint(o, "pid"), h.pid);
	CU_ASSERT_EQUAL(jint(o, "bytes"), (int64_t)(16 * MiB));
	json_object_put(o);
	CU_ASSERT_FATAL(gsvmd_get_stats(sock, &after) == 0);
	CU_ASSERT_EQUAL(holder_ask(&h, 'L'), GSVM_HOST);
	CU_ASSERT(after.bytes_to_host - before.bytes_to_host >= 16 * MiB);
	CU_ASSERT_EQUAL(after.used[1], 0);
	CU_ASSERT_EQUAL(holder_ask(&h, 'C'), 1);
	/* Text, and a process that is not a client. */
	CU_ASSERT_EQUAL(holder_ask(&h, 'P'), 0);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "evict", "--pid", pid, NULL), 0);
	CU_ASSERT(has_line(r.out, "evicted 16 MiB of pid", pid, NULL));
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "evict", "--pid", "999999999", NULL), 1);
	CU_ASSERT(strstr(r.err, "No such process") != NULL);
	ctl_free(&r);
	CU_ASSERT_EQUAL(holder_stop(&h), 0);
}

static bool device_online(const char *sock, int id)
{
	json_object *o = ctl_json(sock, "devices", NULL, NULL);
	char path[32];
	bool online;

	snprintf(path, sizeof(path), "devices.%d.online", id);
	online = o && json_object_get_boolean(jget(o, path));
	json_object_put(o);
	return online;
}

static void test_unbind_rebind(void)
{
	struct holder h = { .sock = daemon_proc.sock, .size = 16 * MiB, .device = 0 };
	const char *sock = daemon_proc.sock;
	struct ctl_result r;
	json_object *o;
	int loc;

	CU_ASSERT_FATAL(wait_devices_empty(sock));
	CU_ASSERT_FATAL(holder_start(&h) == 0);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "unbind", "0", NULL), 0);
	CU_ASSERT(has_line(r.out, "sim0", "unbound", NULL));
	ctl_free(&r);
	CU_ASSERT(!device_online(sock, 0));
	CU_ASSERT(device_online(sock, 1));
	/* Its data left (home: no advice names another device), intact. */
	loc = holder_ask(&h, 'L');
	CU_ASSERT(loc != 0 && loc > -99);
	CU_ASSERT_EQUAL(holder_ask(&h, 'P'), -ENODEV);
	CU_ASSERT_EQUAL(holder_ask(&h, 'C'), 1);
	/* Twice is an error. */
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "unbind", "sim0", NULL), 1);
	CU_ASSERT(strstr(r.err, "gsvmctl: unbind: sim0: already unbound") != NULL);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	ctl_free(&r);

	o = ctl_json(sock, "rebind", "sim0", NULL);
	CU_ASSERT_FATAL(o != NULL);
	CU_ASSERT_STRING_EQUAL(jstr(o, "name"), "sim0");
	CU_ASSERT(json_object_get_boolean(jget(o, "online")));
	json_object_put(o);
	CU_ASSERT(device_online(sock, 0));
	CU_ASSERT_EQUAL(holder_ask(&h, 'P'), 0);
	CU_ASSERT_EQUAL(holder_ask(&h, 'L'), 0);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "rebind", "0", NULL), 1);
	CU_ASSERT(strstr(r.err, "already bound") != NULL);
	ctl_free(&r);
	CU_ASSERT_EQUAL(holder_ask(&h, 'C'), 1);
	CU_ASSERT_EQUAL(holder_stop(&h), 0);
}

/* A client that makes events (connect, faults, migrations) until told to stop. */
static int client_churn(void *arg)
{
	int *stop = arg;
	struct pollfd pfd = { .fd = stop[0], .events = POLLIN };
	size_t size = 4 * MiB;
	struct gsvm *g;
	void *p;
	int i;

	close(stop[1]);
	for (i = 0; i < 100000 && !poll(&pfd, 1, 0); i++) {
		CHECK(!gsvm_connect(daemon_proc.sock, &g), "connect");
		CHECK(!gsvm_alloc(g, size, &p), "alloc");
		fill_pattern(p, size, (unsigned int)i);
		CHECK(!gsvm_prefetch(g, p, size, 0), "prefetch");
		CHECK(check_pattern(p, size, (unsigned int)i) < 0, "data");
		gsvm_disconnect(g);
	}
	return 0;
}

static void test_events(void)
{
	static const char *const text_args[] = { "events", "--count", "60", NULL };
	static const char *const json_args[] = { "--json", "events", "--count=60", NULL };
	struct ctl_result text, json;
	int tout, terr, jout, jerr, stop[2], lines = 0, migrations = 0;
	pid_t tpid, jpid, churn;
	json_object *o;
	char *line, *save = NULL;

	CU_ASSERT_FATAL(wait_devices_empty(daemon_proc.sock));
	CU_ASSERT_FATAL(pipe2(stop, O_CLOEXEC) == 0);
	tpid = ctl_spawn(daemon_proc.sock, text_args, &tout, &terr);
	jpid = ctl_spawn(daemon_proc.sock, json_args, &jout, &jerr);
	/* The streams start whenever gsvmctl subscribed: churn until both end. */
	churn = spawn_child(client_churn, stop, 120);
	close(stop[0]);
	ctl_collect(tpid, tout, terr, &text);
	ctl_collect(jpid, jout, jerr, &json);
	CU_ASSERT(write(stop[1], "Q", 1) == 1);
	close(stop[1]);
	CU_ASSERT_EQUAL(wait_child(churn), 0);

	CU_ASSERT_EQUAL(text.status, 0);
	CU_ASSERT_STRING_EQUAL(text.err, "");
	CU_ASSERT(has_line(text.out, " migration ", "src=host", "dst=sim0", "cause=prefetch",
			   "bytes=", "pid=", "addr=0x", NULL));
	CU_ASSERT(
		has_line(text.out, " migration ", "src=sim0", "dst=host", "cause=cpu-fault", NULL));
	CU_ASSERT(has_line(text.out, " cpu-fault pid=", "addr=0x", NULL));
	CU_ASSERT(has_line(text.out, " client-connect pid=", NULL));
	for (line = strtok_r(text.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* HH:MM:SS.uuuuuu TYPE ... */
		CU_ASSERT(strlen(line) > 16 && line[2] == ':' && line[8] == '.' && line[15] == ' ');
		lines++;
	}
	CU_ASSERT_EQUAL(lines, 60);

	CU_ASSERT_EQUAL(json.status, 0);
	lines = 0;
	save = NULL;
	for (line = strtok_r(json.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		o = json_tokener_parse(line);
		CU_ASSERT_FATAL(o != NULL);
		CU_ASSERT(jint(o, "time_ns") > 0);
		CU_ASSERT(*jstr(o, "type"));
		if (!strcmp(jstr(o, "type"), "migration") &&
		    !strcmp(jstr(o, "cause"), "prefetch")) {
			CU_ASSERT_STRING_EQUAL(jstr(o, "src"), "host");
			CU_ASSERT_STRING_EQUAL(jstr(o, "dst"), "sim0");
			CU_ASSERT(jint(o, "bytes") > 0 && jint(o, "addr") > 0 &&
				  jint(o, "pid") > 0);
			migrations++;
		}
		json_object_put(o);
		lines++;
	}
	CU_ASSERT_EQUAL(lines, 60);
	CU_ASSERT(migrations > 0);
	ctl_free(&text);
	ctl_free(&json);
}

/* Connect and disconnect until @arg (a flag in shared memory) is set. */
static int client_probe(void *arg)
{
	volatile int *stop = arg;
	struct gsvm *g;

	while (!*stop) {
		if (!gsvm_connect(NULL, &g))
			gsvm_disconnect(g);
		usleep(2000);
	}
	return 0;
}

/* Every kind of event: faults, each migration cause, evictions, thrash, unbind. */
static int client_every_event(void *arg)
{
	const char *sock = arg;
	uint64_t v, want = 0, sum;
	void *p, *a, *b, *t;
	struct gsvm *g;
	int i;

	CHECK(!gsvm_connect(sock, &g), "connect");
	CHECK(!gsvm_alloc(g, 4 * MiB, &p), "alloc");
	fill_pattern(p, 4 * MiB, 1);
	/* device-fault, migration cause device-fault */
	CHECK(!gsvm_device_op(g, 0, GSVM_OP_CHECKSUM, p, 4 * MiB, 0, &sum), "op");
	/* cpu-fault, migration cause cpu-fault */
	CHECK(check_pattern(p, 4 * MiB, 1) < 0, "data");
	/* migration cause prefetch; then unbind moves it: cause unbind */
	CHECK(!gsvm_prefetch(g, p, 4 * MiB, 0), "prefetch");
	CHECK(!gsvmd_device_admin(sock, 0, false), "unbind");
	CHECK(!gsvmd_device_admin(sock, 0, true), "rebind");
	CHECK(check_pattern(p, 4 * MiB, 1) < 0, "data after unbind");
	/* evictions: device 1 holds 16 MiB; b pushes a out */
	CHECK(!gsvm_alloc(g, 16 * MiB, &a) && !gsvm_alloc(g, 16 * MiB, &b), "alloc a, b");
	memset(a, 1, 16 * MiB);
	memset(b, 2, 16 * MiB);
	CHECK(!gsvm_prefetch(g, a, 16 * MiB, 1), "prefetch a");
	CHECK(!gsvm_prefetch(g, b, 16 * MiB, 1), "prefetch b");
	/* throttle and pin: the CPU and device 1 take turns on one page */
	CHECK(!gsvm_alloc(g, 4096, &t), "alloc t");
	memset(t, 0, 4096);
	for (i = 0; i < 300; i++) {
		CHECK(!gsvm_device_op(g, 1, GSVM_OP_ADD, t, 8, 1, NULL), "add");
		memcpy(&v, t, 8);
		CHECK(v == want + 1, "value");
		want += 2;
		memcpy(t, &want, 8);
	}
	gsvm_disconnect(g);
	return 0;
}

static void test_events_every_kind(void)
{
	static const char conf[] = "[device.sim0]\nprovider = sim\ncapacity = 64M\n"
				   "[device.sim1]\nprovider = sim\ncapacity = 16M\n"
				   "[policy]\ntimeslice_ms = 0\n";
	static const char *const kinds[] = {
		"\"cpu-fault\"", "\"device-fault\"", "\"eviction\"", "\"throttle\"",
		"\"pin\"", "\"client-connect\"", "\"client-disconnect\"",
		"\"device-unbind\"", "\"device-rebind\"",
		"\"cause\": \"prefetch\"", "\"cause\": \"device-fault\"",
		"\"cause\": \"cpu-fault\"", "\"cause\": \"eviction\"",
		"\"cause\": \"unbind\"", NULL,
	};
	static const char *const args[] = { "--json", "events", NULL };
	int *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct ctl_result r;
	struct gsvmd_proc d;
	pid_t ev, probe;
	int out, err, i;
	char *text;

	CU_ASSERT_FATAL(stop != MAP_FAILED);
	CU_ASSERT_FATAL(gsvmd_start(&d, conf) == 0);
	ev = ctl_spawn(d.sock, args, &out, &err);
	/* Wait until the stream is on: it sees a probe client connect. */
	probe = spawn_child(client_probe, stop, 60);
	for (i = 0; i < 2000; i++) {
		text = read_all(dup(out));
		if (strstr(text, "client-connect")) {
			free(text);
			break;
		}
		free(text);
		usleep(10000);
	}
	*stop = 1;
	CU_ASSERT(i < 2000);
	CU_ASSERT_EQUAL(wait_child(probe), 0);
	CU_ASSERT_EQUAL(run_child(client_every_event, d.sock, 120), 0);
	/* The stream ends when gsvmd goes. */
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
	ctl_collect(ev, out, err, &r);
	CU_ASSERT_EQUAL(r.status, 0);
	for (i = 0; kinds[i]; i++)
		if (!strstr(r.out, kinds[i])) {
			fprintf(stderr, "no %s event seen\n", kinds[i]);
			CU_FAIL("an event kind is missing");
		}
	ctl_free(&r);
	munmap(stop, 4096);
	setenv("GSVM_SOCKET", daemon_proc.sock, 1);
}

/* Exit status 2 with the usage on stderr, and @msg in it. */
static void expect_usage_error(const char *msg, const char *a1, const char *a2, const char *a3)
{
	struct ctl_result r;

	CU_ASSERT_EQUAL(ctl_run(&r, daemon_proc.sock, a1, a2, a3, NULL), 2);
	CU_ASSERT(strstr(r.err, msg) != NULL);
	CU_ASSERT(strstr(r.err, "usage: gsvmctl") != NULL);
	CU_ASSERT_STRING_EQUAL(r.out, "");
	ctl_free(&r);
}

static void test_usage_and_errors(void)
{
	static const char *const names[] = { "devices", "stats",  "clients", "ranges",
					     "evict",	"unbind", "rebind",  "events" };
	struct ctl_result r;
	size_t i;

	expect_usage_error("unknown command 'frobnicate'", "frobnicate", NULL, NULL);
	expect_usage_error("missing command", NULL, NULL, NULL);
	expect_usage_error("ambiguous command 'e'", "e", NULL, NULL);
	expect_usage_error("unbind: missing DEVICE", "unbind", NULL, NULL);
	expect_usage_error("unexpected argument", "stats", "now", NULL);
	expect_usage_error("unknown option '--frob'", "stats", "--frob", NULL);
	expect_usage_error("--pid does not apply", "stats", "--pid=1", NULL);
	expect_usage_error("needs an argument", "ranges", "--pid", NULL);
	expect_usage_error("bad pid", "ranges", "--pid", "x");
	expect_usage_error("give either --device or --pid", "evict", NULL, NULL);
	expect_usage_error("bad size", "evict", "--device=0", "--bytes=3Q");
	expect_usage_error("bad count", "events", "--count", "0");

	CU_ASSERT_EQUAL(ctl_run(&r, NULL, "--help", NULL), 0);
	for (i = 0; i < ARRAY_SIZE(names); i++)
		CU_ASSERT(has_line(r.out, "  ", names[i], NULL));
	CU_ASSERT(strstr(r.out, "usage: gsvmctl") == r.out);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, NULL, "evict", "--help", NULL), 0);
	CU_ASSERT(strstr(r.out, "--device DEVICE [--bytes N] | --pid PID") != NULL);
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, NULL, "--version", NULL), 0);
	CU_ASSERT(strncmp(r.out, "gsvmctl ", 8) == 0 && strchr(r.out, '\n'));
	ctl_free(&r);

	/* Errors: exit 1 with "gsvmctl: COMMAND: why". */
	CU_ASSERT_EQUAL(ctl_run(&r, daemon_proc.sock, "unbind", "sim9", NULL), 1);
	CU_ASSERT_STRING_EQUAL(r.err, "gsvmctl: unbind: sim9: No such device\n");
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, daemon_proc.sock, "evict", "--device", "7", NULL), 1);
	CU_ASSERT(strstr(r.err, "No such device") != NULL);
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, "/nonexistent/gsvmd.sock", "stats", NULL), 1);
	CU_ASSERT_STRING_EQUAL(
		r.err, "gsvmctl: stats: /nonexistent/gsvmd.sock: No such file or directory\n");
	ctl_free(&r);
}

/* ---- permissions ---- */

static int run_cmd(const char *cmd)
{
	int status = system(cmd);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The test user and the admin group, created when missing; false: skip. */
static bool ensure_identities(uid_t *uid, gid_t *gid, gid_t *admin)
{
	struct passwd *pw;
	struct group *gr;

	if (access("/usr/sbin/useradd", X_OK) || access("/usr/sbin/groupadd", X_OK) ||
	    run_cmd("command -v setpriv >/dev/null")) {
		printf("\n  note: useradd, groupadd or setpriv missing: permission checks skipped\n");
		return false;
	}
	if (!getgrnam(ADMIN_GROUP) && run_cmd("groupadd --system " ADMIN_GROUP))
		return false;
	if (!getpwnam(TEST_USER) && run_cmd("useradd --system --no-create-home " TEST_USER))
		return false;
	pw = getpwnam(TEST_USER);
	gr = getgrnam(ADMIN_GROUP);
	if (!pw || !gr)
		return false;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	*admin = gr->gr_gid;
	return true;
}

/* Run gsvmctl as the test user from now on (@admin: with the admin group). */
static void run_as(uid_t uid, gid_t gid, gid_t admin, bool as_admin)
{
	static char ruid[32], rgid[32], groups[32];

	snprintf(ruid, sizeof(ruid), "--reuid=%u", (unsigned int)uid);
	snprintf(rgid, sizeof(rgid), "--regid=%u", (unsigned int)gid);
	snprintf(groups, sizeof(groups), "--groups=%u", (unsigned int)admin);
	ctl_prefix[0] = "setpriv";
	ctl_prefix[1] = ruid;
	ctl_prefix[2] = rgid;
	ctl_prefix[3] = as_admin ? groups : "--clear-groups";
	ctl_prefix[4] = NULL;
}

/* Exit status 1 and "Operation not permitted". */
static void expect_eperm(const char *sock, const char *a1, const char *a2, const char *a3)
{
	struct ctl_result r;

	CU_ASSERT_EQUAL(ctl_run(&r, sock, a1, a2, a3, NULL), 1);
	CU_ASSERT(strstr(r.err, "Operation not permitted") != NULL);
	ctl_free(&r);
}

/*
 * A gsvmctl the test user can run: $GSVMCTL itself when the user can reach
 * it, else a copy in @dir (a checkout under a private home, say).
 */
static int user_gsvmctl(uid_t uid, gid_t gid, const char *dir, char *path, size_t len)
{
	char cmd[512];

	snprintf(path, len, "%s", gsvmctl_path);
	snprintf(cmd, sizeof(cmd), "setpriv --reuid=%u --regid=%u --clear-groups test -x '%s'",
		 (unsigned int)uid, (unsigned int)gid, path);
	if (!run_cmd(cmd))
		return 0;
	snprintf(path, len, "%s/gsvmctl", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 0755 '%s'", gsvmctl_path, path, path);
	return run_cmd(cmd);
}

static void permission_checks(const char *sock, uid_t uid, gid_t gid, gid_t admin, pid_t root)
{
	struct ctl_result r;
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)root);
	run_as(uid, gid, admin, false);
	/* Reading is open to anyone who may connect. */
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "stats", NULL), 0);
	CU_ASSERT(has_line(r.out, "clients:", "1", NULL));
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "devices", NULL), 0);
	CU_ASSERT(has_line(r.out, "sim0", "yes", NULL));
	ctl_free(&r);
	/* Own clients and ranges only: root's are not listed. */
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "clients", NULL), 0);
	CU_ASSERT(!has_line(r.out, pid, NULL));
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "ranges", NULL), 0);
	CU_ASSERT(!has_line(r.out, pid, NULL));
	ctl_free(&r);
	expect_eperm(sock, "ranges", "--pid", pid);
	expect_eperm(sock, "evict", "--device", "0");
	expect_eperm(sock, "evict", "--pid", pid);
	expect_eperm(sock, "unbind", "0", NULL);
	expect_eperm(sock, "rebind", "0", NULL);
	expect_eperm(sock, "events", "--count", "1");

	/* The same user in the admin group. */
	run_as(uid, gid, admin, true);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "ranges", "--pid", pid, NULL), 0);
	CU_ASSERT(has_line(r.out, pid, "sim0", NULL));
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "clients", NULL), 0);
	CU_ASSERT(has_line(r.out, pid, NULL));
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "unbind", "0", NULL), 0);
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "rebind", "0", NULL), 0);
	ctl_free(&r);
	CU_ASSERT_EQUAL(ctl_run(&r, sock, "evict", "--device", "1", NULL), 0);
	ctl_free(&r);
}

static void test_permissions(void)
{
	struct holder h = { .size = 8 * MiB, .device = 0 };
	const char *saved = gsvmctl_path;
	char path[160], env[128];
	struct gsvmd_proc d;
	gid_t gid, admin;
	uid_t uid;

	if (!ensure_identities(&uid, &gid, &admin))
		return;
	/* gsvmd resolves the admin group when it starts: the group exists now. */
	snprintf(env, sizeof(env), "%s", getenv("GSVM_SOCKET"));
	CU_ASSERT_FATAL(gsvmd_start(&d, NULL) == 0);
	setenv("GSVM_SOCKET", env, 1);
	CU_ASSERT(chmod(d.dir, 0755) == 0);
	CU_ASSERT(user_gsvmctl(uid, gid, d.dir, path, sizeof(path)) == 0);
	gsvmctl_path = path;
	h.sock = d.sock;
	if (holder_start(&h) == 0) {
		permission_checks(d.sock, uid, gid, admin, h.pid);
		CU_ASSERT_EQUAL(holder_ask(&h, 'C'), 1);
		CU_ASSERT_EQUAL(holder_stop(&h), 0);
	} else {
		CU_FAIL("holder");
	}
	ctl_prefix[0] = NULL;
	gsvmctl_path = saved;
	if (CU_get_number_of_failures())
		gsvmd_dump_log(&d);
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
	if (strcmp(path, saved))
		unlink(path); /* the copy, never $GSVMCTL */
}

int main(void)
{
	static const struct cu_test tests[] = {
		/* What anyone may read. */
		CU_TEST_ENTRY(test_devices),
		CU_TEST_ENTRY(test_stats_json),
		CU_TEST_ENTRY(test_stats_text),
		CU_TEST_ENTRY(test_clients),
		CU_TEST_ENTRY(test_ranges),
		/* What only an administrator may do. */
		CU_TEST_ENTRY(test_evict_device),
		CU_TEST_ENTRY(test_evict_pid),
		CU_TEST_ENTRY(test_unbind_rebind),
		CU_TEST_ENTRY(test_events),
		CU_TEST_ENTRY(test_events_every_kind),
		/* The command line, and who may do what. */
		CU_TEST_ENTRY(test_usage_and_errors),
		CU_TEST_ENTRY(test_permissions),
		{ NULL, NULL },
	};
	int ret;

	gsvmctl_path = getenv("GSVMCTL");
	if (!gsvmctl_path) {
		fprintf(stderr, "GSVMCTL is not set (path to the gsvmctl binary)\n");
		return 1;
	}
	if (gsvmd_start(&daemon_proc, NULL)) {
		fprintf(stderr, "cannot start gsvmd\n");
		return 1;
	}
	ret = cu_run("ctl", tests);
	if (gsvmd_stop(&daemon_proc, SIGTERM) != 0) {
		fprintf(stderr, "gsvmd did not stop cleanly\n");
		ret = 1;
	}
	if (ret)
		gsvmd_dump_log(&daemon_proc);
	return ret;
}
