// SPDX-License-Identifier: MIT
/**
 * DOC: gsvmctl
 *
 * gsvmctl [--socket PATH] [--json] COMMAND [ARGS] looks at and steers gsvmd.
 *
 * The commands are a table (ctl_commands): name, handler, the options it
 * takes, its arguments and what it does. usage() is generated from the
 * table, and a unique prefix of a name selects a command. A handler sends
 * its request and hands the reply to the renderer --json chose (see
 * gsvmctl.h): there is one data path, whatever the output.
 *
 * gsvmctl speaks the protocol itself (proto/wire.c), not through libgsvm: it
 * is not a client with memory, so its hello carries no userfaultfd and gsvmd
 * does not count it among the clients. What it may do is decided by gsvmd
 * from the socket's peer credentials; gsvmctl claims nothing.
 *
 * Exit status: 0 on success; 1 on an error, with "gsvmctl: COMMAND: why" on
 * stderr; 2 on bad usage, with the usage on stderr.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gsvm.h"
#include "gsvmctl.h"
#include "wire.h"

#define CTL_VERSION "0.1"
#define CTL_RANGES_PAGE 512 /* ranges asked for per RangesReq */

/* What a command takes besides --socket and --json (ctl_command.opts). */
#define CTL_OPT_PID 0x1
#define CTL_OPT_DEVICE 0x2
#define CTL_OPT_BYTES 0x4
#define CTL_OPT_COUNT 0x8
#define CTL_ARG_DEVICE 0x10 /* one argument: a device id or name */

struct ctl_args {
	const char *socket;
	bool json;
	int pid; /* 0: not given */
	const char *device;
	uint64_t bytes; /* 0: not given (all) */
	uint64_t count; /* 0: not given (no limit) */
};

/**
 * struct ctl - A connection to gsvmd and what a command learned so far
 * @sock: The socket
 * @next_id: Id of the last request sent
 * @path: The socket's path
 * @out: The renderer
 * @devs: The device list, once fetched (ctl_devices_get())
 * @subject: What an error concerns, printed before it; NULL for none
 * @why: Says more than strerror() would; NULL for strerror()
 * @subject_buf: Storage for a @subject made up on the fly
 */
struct ctl {
	int sock;
	uint64_t next_id;
	const char *path;
	const struct ctl_output *out;
	Gsvm__Response *devs;
	const char *subject;
	const char *why;
	char subject_buf[32];
};

struct ctl_command {
	const char *name;
	int (*run)(struct ctl *ctl, const struct ctl_args *a);
	unsigned int opts;
	const char *args;
	const char *what;
};

static int ctl_cmd_devices(struct ctl *ctl, const struct ctl_args *a);
static int ctl_cmd_stats(struct ctl *ctl, const struct ctl_args *a);
static int ctl_cmd_clients(struct ctl *ctl, const struct ctl_args *a);
static int ctl_cmd_ranges(struct ctl *ctl, const struct ctl_args *a);
static int ctl_cmd_evict(struct ctl *ctl, const struct ctl_args *a);
static int ctl_cmd_unbind(struct ctl *ctl, const struct ctl_args *a);
static int ctl_cmd_rebind(struct ctl *ctl, const struct ctl_args *a);
static int ctl_cmd_events(struct ctl *ctl, const struct ctl_args *a);

static const struct ctl_command ctl_commands[] = {
	{ "devices", ctl_cmd_devices, 0, "", "devices: capacity, use, online" },
	{ "stats", ctl_cmd_stats, 0, "", "faults, migrations, evictions, latency" },
	{ "clients", ctl_cmd_clients, 0, "", "clients and their bytes on each device" },
	{ "ranges", ctl_cmd_ranges, CTL_OPT_PID, "[--pid PID]",
	  "ranges: location, replicas, advice" },
	{ "evict", ctl_cmd_evict, CTL_OPT_DEVICE | CTL_OPT_BYTES | CTL_OPT_PID,
	  "--device DEVICE [--bytes N] | --pid PID", "move data to host now (admin)" },
	{ "unbind", ctl_cmd_unbind, CTL_ARG_DEVICE, "DEVICE",
	  "take a device out of service (admin)" },
	{ "rebind", ctl_cmd_rebind, CTL_ARG_DEVICE, "DEVICE",
	  "put a device back in service (admin)" },
	{ "events", ctl_cmd_events, CTL_OPT_COUNT, "[--count N]",
	  "print events as they happen (admin)" },
};

#define CTL_NCOMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

/*
 * The fields of each event type, for both renderers. gsvmd sends every field
 * of struct Event whatever the type; those that do not apply are zero, and
 * a zero src or dst would read as device 0.
 */
static const struct ctl_event_kind ctl_event_kinds[] = {
	{ "cpu-fault", CTL_EV_PID | CTL_EV_ADDR, NULL, NULL },
	{ "device-fault", CTL_EV_PID | CTL_EV_ADDR, NULL, "device" },
	{ "migration", CTL_EV_PID | CTL_EV_ADDR | CTL_EV_BYTES | CTL_EV_CAUSE, "src", "dst" },
	{ "eviction", CTL_EV_PID | CTL_EV_ADDR | CTL_EV_BYTES, "device", NULL },
	{ "throttle", CTL_EV_PID | CTL_EV_ADDR, NULL, "location" },
	{ "pin", CTL_EV_PID | CTL_EV_ADDR, NULL, "location" },
	{ "client-connect", CTL_EV_PID, NULL, NULL },
	{ "client-disconnect", CTL_EV_PID, NULL, NULL },
	{ "device-unbind", 0, NULL, "device" },
	{ "device-rebind", 0, NULL, "device" },
};

/* A type this gsvmctl does not know yet: show everything. */
static const struct ctl_event_kind ctl_event_other = {
	NULL, CTL_EV_PID | CTL_EV_ADDR | CTL_EV_BYTES | CTL_EV_CAUSE, "src", "dst"
};

static const struct option ctl_options[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "pid", required_argument, NULL, 'p' },
	{ "device", required_argument, NULL, 'd' },
	{ "bytes", required_argument, NULL, 'b' },
	{ "count", required_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	size_t i, w, width = 0;

	for (i = 0; i < CTL_NCOMMANDS; i++) {
		w = strlen(ctl_commands[i].name) + 1 + strlen(ctl_commands[i].args);
		width = w > width ? w : width;
	}
	fprintf(f, "usage: gsvmctl [-j | --json] [-s | --socket PATH] COMMAND [ARGS]\n"
		   "       gsvmctl -h | --help | -V | --version\n\ncommands:\n");
	for (i = 0; i < CTL_NCOMMANDS; i++)
		fprintf(f, "  %s %-*s  %s\n", ctl_commands[i].name,
			(int)(width - strlen(ctl_commands[i].name) - 1), ctl_commands[i].args,
			ctl_commands[i].what);
	fprintf(f,
		"\nA unique prefix of a command will do. DEVICE is a device id or name;\n"
		"N takes a K, M or G suffix. The socket is --socket, else $GSVM_SOCKET,\n"
		"else %s.\n",
		GSVM_DEFAULT_SOCKET);
}

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gsvmctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage(stderr);
	exit(2);
}

/* A decimal number, digits only. */
static int ctl_parse_u64(const char *s, uint64_t *v)
{
	unsigned long long n;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*v = n;
	return 0;
}

/* A size: a decimal number with an optional K, M, G or T (binary) suffix. */
static int ctl_parse_size(const char *s, uint64_t *v)
{
	static const char suffixes[] = "KMGT";
	unsigned long long n;
	unsigned int shift = 0;
	const char *p;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		p = strchr(suffixes, *end & ~0x20);
		if (!p || !*p || end[1])
			return -EINVAL;
		shift = 10 * (unsigned int)(p - suffixes + 1);
	}
	if (n > UINT64_MAX >> shift)
		return -EINVAL;
	*v = (uint64_t)n << shift;
	return 0;
}

static const struct ctl_command *ctl_lookup(const char *name)
{
	const struct ctl_command *found = NULL;
	size_t i, len = strlen(name);
	unsigned int n = 0;

	for (i = 0; i < CTL_NCOMMANDS; i++) {
		if (!strcmp(ctl_commands[i].name, name))
			return &ctl_commands[i];
		if (len && !strncmp(ctl_commands[i].name, name, len)) {
			found = &ctl_commands[i];
			n++;
		}
	}
	if (n > 1)
		usage_error("ambiguous command '%s'", name);
	if (!found)
		usage_error("unknown command '%s'", name);
	return found;
}

/* The option flag (CTL_OPT_*) behind a getopt value, 0 for a common one. */
static unsigned int ctl_option_flag(int c)
{
	switch (c) {
	case 'p':
		return CTL_OPT_PID;
	case 'd':
		return CTL_OPT_DEVICE;
	case 'b':
		return CTL_OPT_BYTES;
	case 'n':
		return CTL_OPT_COUNT;
	default:
		return 0;
	}
}

/* Store one option's value; exits on a bad one. */
static void ctl_option(int c, const char *val, const char *what, struct ctl_args *a)
{
	uint64_t v;

	switch (c) {
	case 's':
		a->socket = val;
		break;
	case 'j':
		a->json = true;
		break;
	case 'h':
		usage(stdout);
		exit(0);
	case 'V':
		printf("gsvmctl %s\n", CTL_VERSION);
		exit(0);
	case 'p':
		if (ctl_parse_u64(val, &v) || !v || v > INT32_MAX)
			usage_error("%sbad pid '%s'", what, val);
		a->pid = (int)v;
		break;
	case 'd':
		a->device = val;
		break;
	case 'b':
		if (ctl_parse_size(val, &v) || !v)
			usage_error("%sbad size '%s'", what, val);
		a->bytes = v;
		break;
	case 'n':
		if (ctl_parse_u64(val, &v) || !v)
			usage_error("%sbad count '%s'", what, val);
		a->count = v;
		break;
	}
}

/*
 * Parse options from argv[1] on, for @cmd (NULL: the global options before
 * the command, where parsing stops at the first argument). Returns the
 * index of the first argument left.
 */
static int ctl_parse(const struct ctl_command *cmd, int argc, char **argv, struct ctl_args *a)
{
	const char *shortopts = cmd ? ":s:jhV" : "+:s:jhV";
	char what[32] = "";
	int c, longindex = -1;

	if (cmd)
		snprintf(what, sizeof(what), "%s: ", cmd->name);
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, shortopts, ctl_options, &longindex)) != -1) {
		/* On an error, the offending option is the last argument read. */
		if (c == '?')
			usage_error("%sunknown option '%s'", what, argv[optind - 1]);
		if (c == ':')
			usage_error("%soption '%s' needs an argument", what, argv[optind - 1]);
		if (ctl_option_flag(c) && !cmd)
			usage_error("--%s goes after the command", ctl_options[longindex].name);
		if (ctl_option_flag(c) && !(cmd->opts & ctl_option_flag(c)))
			usage_error("%s--%s does not apply", what, ctl_options[longindex].name);
		ctl_option(c, optarg, what, a);
		longindex = -1;
	}
	return optind;
}

/* Parse the command's options and arguments; exits on bad usage. */
static void ctl_parse_command(const struct ctl_command *cmd, int argc, char **argv,
			      struct ctl_args *a)
{
	int i = ctl_parse(cmd, argc, argv, a);

	if (cmd->opts & CTL_ARG_DEVICE) {
		if (i >= argc)
			usage_error("%s: missing DEVICE", cmd->name);
		a->device = argv[i++];
	}
	if (i < argc)
		usage_error("%s: unexpected argument '%s'", cmd->name, argv[i]);
	if ((cmd->opts & CTL_OPT_DEVICE) && !a->device == !a->pid)
		usage_error("%s: give either --device or --pid", cmd->name);
	if (a->bytes && !a->device)
		usage_error("%s: --bytes goes with --device", cmd->name);
}

/*
 * The next response to request @id; a response to another id is skipped,
 * but for id 0: gsvmd's answer to a request it could not decode.
 */
static int ctl_recv(struct ctl *ctl, uint64_t id, Gsvm__Response **out)
{
	static uint8_t buf[WIRE_MAX_MSG];
	int fds[WIRE_MAX_FDS], nfds, err, i;
	Gsvm__Response *resp;
	size_t len;

	for (;;) {
		err = wire_recv(ctl->sock, buf, sizeof(buf), &len, fds, &nfds);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		if (err)
			return err;
		resp = gsvm__response__unpack(NULL, len, buf);
		if (!resp)
			return -EPROTO;
		if (resp->id == id || (!resp->id && resp->err)) {
			*out = resp;
			return 0;
		}
		gsvm__response__free_unpacked(resp, NULL);
	}
}

/**
 * ctl_call() - Send a request and wait for its response
 * @ctl: The connection
 * @req: The request (its id is set here)
 * @body: The body the response must carry (GSVM__RESPONSE__BODY__NOT_SET
 *        for none)
 * @out: Receives the response when it carries @body, even with an error
 *       (evict's partial result), else NULL; free it
 *
 * Return: 0, gsvmd's error, -EPROTO for a malformed response, or the
 * socket's error (-ENOTCONN when gsvmd closed the connection).
 */
static int ctl_call(struct ctl *ctl, Gsvm__Request *req, Gsvm__Response__BodyCase body,
		    Gsvm__Response **out)
{
	Gsvm__Response *resp;
	int err;

	*out = NULL;
	req->id = ++ctl->next_id;
	err = wire_send_request(ctl->sock, req, NULL, 0);
	if (!err)
		err = ctl_recv(ctl, req->id, &resp);
	if (err)
		return err;
	err = resp->err;
	if (resp->body_case == body)
		*out = resp;
	else
		gsvm__response__free_unpacked(resp, NULL);
	if (!err && !*out)
		err = -EPROTO;
	return err;
}

/* Connect and say hello. */
static int ctl_open(struct ctl *ctl)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__Hello hello = GSVM__HELLO__INIT;
	Gsvm__Response *resp;
	int err;

	ctl->subject = ctl->path;
	if (strlen(ctl->path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, ctl->path, strlen(ctl->path));
	ctl->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ctl->sock < 0)
		return -errno;
	if (connect(ctl->sock, (struct sockaddr *)&sun, sizeof(sun)))
		return -errno;
	hello.version = GSVM__VERSION__VERSION_CURRENT;
	hello.name = "gsvmctl";
	hello.has_uffd = false;
	req.body_case = GSVM__REQUEST__BODY_HELLO;
	req.hello = &hello;
	err = ctl_call(ctl, &req, GSVM__RESPONSE__BODY_HELLO, &resp);
	if (!err && resp->hello->version != GSVM__VERSION__VERSION_CURRENT)
		err = -EPROTO;
	if (resp)
		gsvm__response__free_unpacked(resp, NULL);
	if (!err)
		ctl->subject = NULL;
	return err;
}

static void ctl_close(struct ctl *ctl)
{
	if (ctl->devs)
		gsvm__response__free_unpacked(ctl->devs, NULL);
	if (ctl->sock >= 0)
		close(ctl->sock);
}

/* The device list, fetched once per command. */
static int ctl_devices_get(struct ctl *ctl, const Gsvm__DevicesReply **out)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__DevicesReq q = GSVM__DEVICES_REQ__INIT;
	int err;

	if (!ctl->devs) {
		req.body_case = GSVM__REQUEST__BODY_DEVICES;
		req.devices = &q;
		err = ctl_call(ctl, &req, GSVM__RESPONSE__BODY_DEVICES, &ctl->devs);
		if (err)
			return err;
	}
	*out = ctl->devs->devices;
	return 0;
}

/* The device an argument names: an id, else a name. */
static int ctl_device_arg(struct ctl *ctl, const char *arg, const Gsvm__DeviceInfo **out)
{
	const Gsvm__DevicesReply *devs;
	uint64_t id;
	bool numeric = !ctl_parse_u64(arg, &id);
	size_t i;
	int err;

	err = ctl_devices_get(ctl, &devs);
	if (err)
		return err;
	for (i = 0; numeric && i < devs->n_devices; i++)
		if ((uint64_t)devs->devices[i]->id == id)
			goto found;
	for (i = 0; i < devs->n_devices; i++)
		if (!strcmp(devs->devices[i]->name, arg))
			goto found;
	ctl->subject = arg;
	return -ENODEV;
found:
	*out = devs->devices[i];
	return 0;
}

/**
 * ctl_loc_name() - Name a location
 * @devs: The device list
 * @loc: A device id, CTL_LOC_HOST or CTL_LOC_NONE
 * @buf: Room for a made-up name
 * @len: Its size
 *
 * Return: the device's name, "host", "none", or "devN" for an id gsvmd did
 * not list.
 */
const char *ctl_loc_name(const Gsvm__DevicesReply *devs, int loc, char *buf, size_t len)
{
	size_t i;

	if (loc == CTL_LOC_HOST)
		return "host";
	if (loc == CTL_LOC_NONE)
		return "none";
	for (i = 0; i < devs->n_devices; i++)
		if (devs->devices[i]->id == loc)
			return devs->devices[i]->name;
	snprintf(buf, len, "dev%d", loc);
	return buf;
}

static int ctl_cmd_devices(struct ctl *ctl, const struct ctl_args *a)
{
	const Gsvm__DevicesReply *devs;
	int err = ctl_devices_get(ctl, &devs);

	(void)a;
	if (!err)
		ctl->out->devices(devs);
	return err;
}

static int ctl_cmd_stats(struct ctl *ctl, const struct ctl_args *a)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__StatsReq q = GSVM__STATS_REQ__INIT;
	Gsvm__Response *resp;
	int err;

	(void)a;
	req.body_case = GSVM__REQUEST__BODY_STATS;
	req.stats = &q;
	err = ctl_call(ctl, &req, GSVM__RESPONSE__BODY_STATS, &resp);
	if (!err)
		ctl->out->stats(resp->stats);
	if (resp)
		gsvm__response__free_unpacked(resp, NULL);
	return err;
}

static int ctl_cmd_clients(struct ctl *ctl, const struct ctl_args *a)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__ClientsReq q = GSVM__CLIENTS_REQ__INIT;
	const Gsvm__DevicesReply *devs;
	Gsvm__Response *resp = NULL;
	int err;

	(void)a;
	err = ctl_devices_get(ctl, &devs);
	if (err)
		return err;
	req.body_case = GSVM__REQUEST__BODY_CLIENTS;
	req.clients = &q;
	err = ctl_call(ctl, &req, GSVM__RESPONSE__BODY_CLIENTS, &resp);
	if (!err)
		ctl->out->clients(resp->clients, devs);
	if (resp)
		gsvm__response__free_unpacked(resp, NULL);
	return err;
}

/* reallocarray() that gives up: gsvmctl cannot go on without memory. */
static void *ctl_grow(void *p, size_t n, size_t size)
{
	p = reallocarray(p, n, size);
	if (!p)
		err(1, NULL);
	return p;
}

/* Ask for every page of ranges; @pages keeps the replies @all points into. */
static int ctl_ranges_fetch(struct ctl *ctl, int pid, Gsvm__Response ***pages, size_t *npages,
			    Gsvm__RangeDesc ***all, size_t *n)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__RangesReq q = GSVM__RANGES_REQ__INIT;
	Gsvm__RangesReply *r;
	Gsvm__Response *resp;
	int err;

	q.pid = pid;
	q.max = CTL_RANGES_PAGE;
	req.body_case = GSVM__REQUEST__BODY_RANGES;
	req.ranges = &q;
	do {
		err = ctl_call(ctl, &req, GSVM__RESPONSE__BODY_RANGES, &resp);
		if (err)
			return err;
		*pages = ctl_grow(*pages, *npages + 1, sizeof(Gsvm__Response *));
		(*pages)[(*npages)++] = resp;
		r = resp->ranges;
		/* Each page but the last has ranges, or the walk would not end. */
		if (r->more && !r->n_ranges)
			return -EPROTO;
		*all = ctl_grow(*all, *n + r->n_ranges + 1, sizeof(Gsvm__RangeDesc *));
		if (r->n_ranges)
			memcpy(*all + *n, r->ranges, r->n_ranges * sizeof(Gsvm__RangeDesc *));
		*n += r->n_ranges;
		q.start_pid = r->next_pid;
		q.start_addr = r->next_addr;
	} while (r->more);
	return 0;
}

static int ctl_cmd_ranges(struct ctl *ctl, const struct ctl_args *a)
{
	Gsvm__Response **pages = NULL;
	Gsvm__RangeDesc **all = NULL;
	const Gsvm__DevicesReply *devs;
	size_t npages = 0, n = 0, i;
	int err;

	err = ctl_devices_get(ctl, &devs);
	if (err)
		return err;
	err = ctl_ranges_fetch(ctl, a->pid, &pages, &npages, &all, &n);
	if (!err)
		ctl->out->ranges(all, n, devs);
	else if (a->pid) {
		snprintf(ctl->subject_buf, sizeof(ctl->subject_buf), "pid %d", a->pid);
		ctl->subject = ctl->subject_buf;
	}
	for (i = 0; i < npages; i++)
		gsvm__response__free_unpacked(pages[i], NULL);
	free(pages);
	free(all);
	return err;
}

static int ctl_cmd_evict(struct ctl *ctl, const struct ctl_args *a)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__EvictReq q = GSVM__EVICT_REQ__INIT;
	struct ctl_evict e = { .pid = a->pid };
	Gsvm__Response *resp;
	int err;

	q.device = -1;
	q.pid = a->pid;
	if (a->device) {
		err = ctl_device_arg(ctl, a->device, &e.device);
		if (err)
			return err;
		q.device = e.device->id;
		q.bytes = a->bytes;
	}
	req.body_case = GSVM__REQUEST__BODY_EVICT;
	req.evict = &q;
	err = ctl_call(ctl, &req, GSVM__RESPONSE__BODY_EVICT, &resp);
	/* A partial eviction (-ENOSPC) says what it moved, then fails. */
	if (resp) {
		e.bytes = resp->evict->bytes;
		ctl->out->evict(&e);
		gsvm__response__free_unpacked(resp, NULL);
	}
	if (err == -ESRCH) {
		snprintf(ctl->subject_buf, sizeof(ctl->subject_buf), "pid %d", a->pid);
		ctl->subject = ctl->subject_buf;
	}
	return err;
}

static int ctl_device_admin(struct ctl *ctl, const struct ctl_args *a, bool rebind)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__DeviceAdminReq q = GSVM__DEVICE_ADMIN_REQ__INIT;
	const Gsvm__DeviceInfo *dev;
	Gsvm__Response *resp;
	int err;

	err = ctl_device_arg(ctl, a->device, &dev);
	if (err)
		return err;
	q.device = dev->id;
	q.op = rebind ? GSVM__DEVICE_ADMIN_REQ__OP__REBIND : GSVM__DEVICE_ADMIN_REQ__OP__UNBIND;
	req.body_case = GSVM__REQUEST__BODY_DEVICE_ADMIN;
	req.device_admin = &q;
	err = ctl_call(ctl, &req, GSVM__RESPONSE__BODY__NOT_SET, &resp);
	if (resp)
		gsvm__response__free_unpacked(resp, NULL);
	if (!err)
		ctl->out->device_admin(dev, rebind);
	else if (err != -EPERM)
		ctl->subject = dev->name;
	if (err == -EALREADY)
		ctl->why = rebind ? "already bound" : "already unbound";
	else if (err == -EBUSY && rebind)
		ctl->why = "its data is still being moved off; try again";
	return err;
}

static int ctl_cmd_unbind(struct ctl *ctl, const struct ctl_args *a)
{
	return ctl_device_admin(ctl, a, false);
}

static int ctl_cmd_rebind(struct ctl *ctl, const struct ctl_args *a)
{
	return ctl_device_admin(ctl, a, true);
}

static uint64_t ctl_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const struct ctl_event_kind *ctl_event_kind(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(ctl_event_kinds) / sizeof(ctl_event_kinds[0]); i++)
		if (!strcmp(ctl_event_kinds[i].type, type))
			return &ctl_event_kinds[i];
	return &ctl_event_other;
}

/* Events until @count were shown (0: until gsvmd closes the connection). */
static int ctl_events_stream(struct ctl *ctl, uint64_t id, uint64_t count,
			     const Gsvm__DevicesReply *devs)
{
	/*
	 * gsvmd stamps events with its CLOCK_MONOTONIC, a clock of this
	 * machine: one offset to the wall clock dates them all.
	 */
	uint64_t offset = ctl_clock_ns(CLOCK_REALTIME) - ctl_clock_ns(CLOCK_MONOTONIC), seen = 0;
	struct ctl_event e;
	Gsvm__Response *resp;
	int err;

	while (!count || seen < count) {
		err = ctl_recv(ctl, id, &resp);
		if (err == -ENOTCONN && !count)
			return 0;
		if (err == -ENOTCONN)
			ctl->why = "gsvmd closed the stream";
		if (err)
			return err;
		err = resp->err;
		if (!err && resp->body_case == GSVM__RESPONSE__BODY_EVENT) {
			e.ev = resp->event;
			e.kind = ctl_event_kind(resp->event->type);
			e.time_ns = resp->event->time_ns + offset;
			ctl->out->event(&e, devs);
			seen++;
		}
		gsvm__response__free_unpacked(resp, NULL);
		if (err)
			return err;
	}
	return 0;
}

static int ctl_cmd_events(struct ctl *ctl, const struct ctl_args *a)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__EventsReq q = GSVM__EVENTS_REQ__INIT;
	const Gsvm__DevicesReply *devs;
	Gsvm__Response *ack;
	int err;

	err = ctl_devices_get(ctl, &devs);
	if (err)
		return err;
	q.count = a->count;
	req.body_case = GSVM__REQUEST__BODY_EVENTS;
	req.events = &q;
	/* gsvmd acknowledges the request before the first event. */
	err = ctl_call(ctl, &req, GSVM__RESPONSE__BODY__NOT_SET, &ack);
	if (ack)
		gsvm__response__free_unpacked(ack, NULL);
	if (err)
		return err;
	return ctl_events_stream(ctl, req.id, a->count, devs);
}

int main(int argc, char **argv)
{
	struct ctl ctl = { .sock = -1 };
	const struct ctl_command *cmd;
	struct ctl_args a = { 0 };
	const char *env;
	int i, err;

	i = ctl_parse(NULL, argc, argv, &a);
	if (i >= argc)
		usage_error("missing command");
	cmd = ctl_lookup(argv[i]);
	ctl_parse_command(cmd, argc - i, argv + i, &a);
	env = getenv("GSVM_SOCKET");
	ctl.path = a.socket ? a.socket : env && *env ? env : GSVM_DEFAULT_SOCKET;
	ctl.out = a.json ? &ctl_json_output : &ctl_text_output;
	err = ctl_open(&ctl);
	if (!err)
		err = cmd->run(&ctl, &a);
	if (fflush(stdout) && !err) {
		err = -errno;
		ctl.subject = "standard output";
	}
	/* Before ctl_close(): the subject may be a device name it frees. */
	if (err) {
		fprintf(stderr, "gsvmctl: %s: ", cmd->name);
		if (ctl.subject)
			fprintf(stderr, "%s: ", ctl.subject);
		fprintf(stderr, "%s\n", ctl.why ? ctl.why : strerror(-err));
	}
	ctl_close(&ctl);
	return err ? 1 : 0;
}
