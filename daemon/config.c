// SPDX-License-Identifier: MIT
/**
 * DOC: Configuration file
 *
 * gsvmd reads one INI file, parsed by inih: ``[section]`` headers,
 * ``key = value`` lines, and comments on lines that start with '#' or ';'
 * (or after " ;" at the end of a line)::
 *
 *   [daemon]
 *   socket = /run/gsvm/gsvmd.sock  ; absolute, shorter than sun_path (108)
 *   admin_group = gsvm-admin       ; may use evict, unbind, events, ...
 *   metrics = 127.0.0.1:9477       ; Prometheus endpoint; default: none.
 *                                  ; HOST:PORT, HOST a numeric IPv4
 *                                  ; address, [IPv6] or localhost
 *                                  ; (127.0.0.1); or an absolute Unix
 *                                  ; socket path
 *   shim = auto                    ; fault shims clients may use: auto
 *                                  ; (theirs: gsvm_shim.ko's when
 *                                  ; /dev/gsvm-shim exists, else
 *                                  ; userfaultfd), userfaultfd or kmod
 *
 *   drm = off                      ; auto: add every DRM card node found
 *                                  ; that no [device.NAME] names, as a drm
 *                                  ; device named after the node ("card0")
 *   drm_capacity = 256M            ; capacity of those; a multiple of 4K
 *
 *   [device.gpu0]                  ; NAME: 1 to 63 of A-Z a-z 0-9 _ -
 *   provider = sim                 ; required; sim or drm
 *   capacity = 4G                  ; required; a non-zero multiple of 4K
 *   bandwidth = 16G                ; sim: bytes per second; 0 (default):
 *                                  ; unlimited
 *   latency_us = 10                ; sim: fixed cost per copy; default 0
 *   node = /dev/dri/card0          ; drm: a card node under /dev/dri, or
 *                                  ; auto (the default): the first card
 *                                  ; no other device uses
 *
 *   [policy]
 *   timeslice_ms = 1               ; at most 3600000 (one hour)
 *   notifier_size = 512M           ; a power of two of at least 4K
 *   chunk_sizes = 2M, 64K, 4K      ; 1 to 8 strictly decreasing powers of
 *                                  ; two, the last 4K, none > notifier_size
 *   name = default                 ; the migration policy: default, explicit
 *   thrash_threshold = 3           ; migrations within thrash_window_us that
 *   thrash_window_us = 5000        ;   count as thrashing (throttle the range)
 *   throttle_ms = 10               ; how long a throttled range stays put
 *   pin_threshold = 3              ; throttles before the range is pinned
 *   pin_quiet_ms = 300             ; quiet time that lifts a pin
 *
 * Sizes are decimal integers with an optional K, M, G or T suffix (binary
 * multiples, case-insensitive). Everything not set keeps its embedded default
 * (config_default()). If the file has any [device.NAME] section, the devices
 * are exactly those, with ids in file order; the two default sim devices are
 * replaced, not added to.
 *
 * DRM nodes are resolved when the whole file is read: named nodes are
 * probed (drmdev.c: a DRM character device, a card node, dumb buffers; the
 * driver's name and bus are recorded for display), then devices with node =
 * auto take the first unused card found (drm_discover()), then drm = auto
 * adds the cards left. A node that does not work is an error at its line.
 *
 * Anything the parser does not understand is an error, reported as
 * "FILE:LINE: what": unknown sections and keys, bad values, duplicate keys,
 * sections or device names, and (at the section's header line) missing
 * required keys. Nothing is half-applied: config_load() fills its output only
 * when the whole file is good.
 *
 * Keys are a table (config_keys[]): the section kind, the name, a parser, the
 * field's offset in the section's object, and bounds. A new key is one row,
 * plus a parser if its type is new.
 *
 * Line numbers: whether inih passes a line number to the handler depends on
 * how libinih was built (INI_HANDLER_LINENO), and the handler is never called
 * for a section header, so an empty section would go unseen. So the file is
 * read through our own fgets()-style reader (ini_parse_stream()): inih asks
 * for exactly one line per call, which makes the reader's counter inih's line
 * number, and the reader opens sections itself when it sees a header line,
 * with that line's number. A line longer than inih's buffer would be split
 * by inih and the count would drift, so the reader rejects it. The reader
 * stops at our first error (NULL reads as end of file); a syntax error inih
 * finds comes back from ini_parse_stream() as its line number, and the
 * earlier of the two errors is reported.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <ini.h>

#include "config.h"
#include "drmdev.h"
#include "gsvm.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define CONFIG_TIMESLICE_MS_MAX 3600000ULL
#define CONFIG_KNOB_US_MAX 3600000000ULL
#define CONFIG_TITLE_MAX 80
#define CONFIG_SIZE_ITEM_MAX 32
#define CONFIG_DRM_CAPACITY (256ULL << 20)
#define CONFIG_NODE_AUTO "auto"

static_assert(CONFIG_SOCKET_MAX == sizeof(((struct sockaddr_un *)0)->sun_path),
	      "CONFIG_SOCKET_MAX must be sun_path's size");
static_assert(CONFIG_HOST_MAX == INET6_ADDRSTRLEN, "CONFIG_HOST_MAX must be INET6_ADDRSTRLEN");
static_assert(sizeof("device.") + PAGEMAP_NAME_MAX <= CONFIG_TITLE_MAX,
	      "a device section's title must fit");

enum config_kind {
	KIND_DAEMON,
	KIND_DEVICE,
	KIND_POLICY,
	KIND_LIMITS,
	KIND_COUNT,
};

struct config_ctx;
struct config_key;

typedef int config_parse_fn(struct config_ctx *ctx, const struct config_key *key, void *field,
			    const char *value);

/**
 * struct config_key - One key of the configuration file
 * @name: Key name
 * @parse: Parses the value into the field (the section's object + @off)
 * @off: Offset of the field in the section's object (&struct gsvmd_config
 *       for [daemon] and [policy], &struct pagemap_config for a device)
 * @size: Size of the field: an integer's width, a string's buffer
 * @min: Smallest value of an integer field
 * @max: Largest value of an integer field
 * @kind: Section kind it belongs to
 * @required: A section without it is an error
 */
struct config_key {
	const char *name;
	config_parse_fn *parse;
	size_t off;
	size_t size;
	uint64_t min;
	uint64_t max;
	enum config_kind kind;
	bool required;
};

static config_parse_fn parse_socket, parse_provider, parse_capacity, parse_size, parse_uint,
	parse_notifier_size, parse_chunk_sizes, parse_policy_name, parse_name, parse_endpoint,
	parse_drm_mode, parse_node, parse_shim;

#define KEY(k, n, fn) .kind = (k), .name = (n), .parse = (fn)
#define FIELD(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)

static const struct config_key config_keys[] = {
	{ KEY(KIND_DAEMON, "socket", parse_socket), FIELD(struct gsvmd_config, socket) },
	{ KEY(KIND_DAEMON, "admin_group", parse_name), FIELD(struct gsvmd_config, admin_group) },
	{ KEY(KIND_DAEMON, "metrics", parse_endpoint), FIELD(struct gsvmd_config, metrics) },
	{ KEY(KIND_DAEMON, "drm", parse_drm_mode), FIELD(struct gsvmd_config, drm_auto) },
	{ KEY(KIND_DAEMON, "drm_capacity", parse_capacity),
	  FIELD(struct gsvmd_config, drm_capacity) },
	{ KEY(KIND_DAEMON, "shim", parse_shim), FIELD(struct gsvmd_config, shim) },
	{ KEY(KIND_DEVICE, "provider", parse_provider), FIELD(struct pagemap_config, provider),
	  .required = true },
	{ KEY(KIND_DEVICE, "capacity", parse_capacity), FIELD(struct pagemap_config, capacity),
	  .required = true },
	{ KEY(KIND_DEVICE, "bandwidth", parse_size), FIELD(struct pagemap_config, bandwidth) },
	{ KEY(KIND_DEVICE, "latency_us", parse_uint), FIELD(struct pagemap_config, latency_us),
	  .max = UINT32_MAX },
	{ KEY(KIND_DEVICE, "node", parse_node), FIELD(struct pagemap_config, node) },
	{ KEY(KIND_POLICY, "timeslice_ms", parse_uint),
	  FIELD(struct gsvmd_config, core.timeslice_ms), .max = CONFIG_TIMESLICE_MS_MAX },
	{ KEY(KIND_POLICY, "notifier_size", parse_notifier_size),
	  FIELD(struct gsvmd_config, core.svm.notifier_size) },
	{ KEY(KIND_POLICY, "chunk_sizes", parse_chunk_sizes),
	  FIELD(struct gsvmd_config, core.svm) },
	{ KEY(KIND_POLICY, "name", parse_policy_name),
	  FIELD(struct gsvmd_config, core.policy.name) },
	{ KEY(KIND_POLICY, "thrash_threshold", parse_uint),
	  FIELD(struct gsvmd_config, core.policy.thrash_threshold), .min = 1, .max = 1000 },
	{ KEY(KIND_POLICY, "thrash_window_us", parse_uint),
	  FIELD(struct gsvmd_config, core.policy.thrash_window_us), .max = CONFIG_KNOB_US_MAX },
	{ KEY(KIND_POLICY, "throttle_ms", parse_uint),
	  FIELD(struct gsvmd_config, core.policy.throttle_ms), .max = CONFIG_TIMESLICE_MS_MAX },
	{ KEY(KIND_POLICY, "pin_threshold", parse_uint),
	  FIELD(struct gsvmd_config, core.policy.pin_threshold), .min = 1, .max = 1000 },
	{ KEY(KIND_LIMITS, "max_message", parse_size),
	  FIELD(struct gsvmd_config, core.limits.max_message), .min = 64,
	  .max = LIMITS_MESSAGE_MAX },
	{ KEY(KIND_LIMITS, "max_clients", parse_uint),
	  FIELD(struct gsvmd_config, core.limits.max_clients), .min = 1, .max = 1000000 },
	{ KEY(KIND_LIMITS, "max_clients_per_uid", parse_uint),
	  FIELD(struct gsvmd_config, core.limits.max_clients_per_uid), .min = 1, .max = 1000000 },
	{ KEY(KIND_LIMITS, "max_allocations", parse_uint),
	  FIELD(struct gsvmd_config, core.limits.max_allocations), .min = 1, .max = UINT32_MAX },
	{ KEY(KIND_LIMITS, "max_allocations_per_uid", parse_uint),
	  FIELD(struct gsvmd_config, core.limits.max_allocations_per_uid), .min = 1,
	  .max = UINT32_MAX },
	{ KEY(KIND_LIMITS, "max_device_bytes", parse_size),
	  FIELD(struct gsvmd_config, core.limits.max_device_bytes) },
	{ KEY(KIND_LIMITS, "max_device_bytes_per_uid", parse_size),
	  FIELD(struct gsvmd_config, core.limits.max_device_bytes_per_uid) },
	{ KEY(KIND_LIMITS, "max_inflight", parse_uint),
	  FIELD(struct gsvmd_config, core.limits.max_inflight), .min = 1, .max = 65536 },
	{ KEY(KIND_LIMITS, "max_fds", parse_uint),
	  FIELD(struct gsvmd_config, core.limits.max_fds), .min = 4, .max = 1000000 },
	{ KEY(KIND_LIMITS, "max_backlog", parse_uint),
	  FIELD(struct gsvmd_config, core.limits.max_backlog), .min = 16, .max = 1000000 },
	{ KEY(KIND_POLICY, "pin_quiet_ms", parse_uint),
	  FIELD(struct gsvmd_config, core.policy.pin_quiet_ms), .max = CONFIG_TIMESLICE_MS_MAX },
};

#define CONFIG_NKEYS ARRAY_SIZE(config_keys)

/**
 * struct config_section - One section as read from the file
 * @kind: Its kind
 * @line: Line of its header; 0 while the section has not been seen
 * @title: The header's text, "device.gpu0"
 * @obj: The object its keys' offsets are relative to
 * @key_line: Line where each key of config_keys[] was set, or 0
 */
struct config_section {
	enum config_kind kind;
	unsigned int line;
	char title[CONFIG_TITLE_MAX];
	void *obj;
	unsigned int key_line[CONFIG_NKEYS];
};

/**
 * struct config_ctx - State of one config_load()
 * @path: File name, for messages
 * @file: The open file
 * @cfg: The configuration being built, from the defaults
 * @single: The [daemon] and [policy] sections (indexed by kind)
 * @dev: Device sections, in the order of @cfg.core.dev
 * @devices_named: A device section was seen; the defaults are gone
 * @cur: The section keys go to, or NULL before the first header
 * @lineno: Line last read
 * @indented: That line starts with a blank (an inih continuation line)
 * @read_errno: errno of a failed read, or 0
 * @failed: An error was found; @msg says which
 * @err_line: Line of that error, 0 if none applies
 * @msg: "FILE:LINE: what"
 */
struct config_ctx {
	const char *path;
	FILE *file;
	struct gsvmd_config cfg;
	struct config_section single[KIND_COUNT];
	struct config_section dev[PAGEMAP_MAX_DEVICES];
	bool devices_named;
	struct config_section *cur;
	unsigned int lineno;
	bool indented;
	int read_errno;
	bool failed;
	unsigned int err_line;
	char msg[512];
};

/*
 * Record the first error at @line (0: no line) and return -EINVAL. Later
 * errors are dropped: the first one is the one worth reading.
 */
static __attribute__((format(printf, 3, 4))) int
config_error(struct config_ctx *ctx, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ctx->failed)
		return -EINVAL;
	ctx->failed = true;
	ctx->err_line = line;
	if (line)
		n = snprintf(ctx->msg, sizeof(ctx->msg), "%s:%u: ", ctx->path, line);
	else
		n = snprintf(ctx->msg, sizeof(ctx->msg), "%s: ", ctx->path);
	if (n < 0 || (size_t)n >= sizeof(ctx->msg))
		return -EINVAL;
	va_start(ap, fmt);
	/* clang-tidy 14 linting several files misreports ap (llvm-project#40656). */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(ctx->msg + n, sizeof(ctx->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/*
 * Parse a decimal integer, with a K/M/G/T suffix if @suffix. Return: 0,
 * -EINVAL for bad syntax, -ERANGE when it does not fit in 64 bits.
 */
static int config_number(const char *s, bool suffix, uint64_t *out)
{
	static const char suffixes[] = "KMGT";
	unsigned long long v;
	const char *unit;
	unsigned int shift;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (suffix && *end && (unit = strchr(suffixes, toupper((unsigned char)*end)))) {
		shift = 10 * (unsigned int)(unit - suffixes + 1);
		if (v > UINT64_MAX >> shift)
			return -ERANGE;
		v <<= shift;
		end++;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* config_number() for @key's value, with the error message. */
static int config_key_number(struct config_ctx *ctx, const struct config_key *key,
			     const char *value, bool suffix, uint64_t *out)
{
	int err = config_number(value, suffix, out);

	if (err == -ERANGE)
		return config_error(ctx, ctx->lineno, "%s '%s' is too large", key->name, value);
	if (err)
		return config_error(
			ctx, ctx->lineno, "bad %s '%s': expected %s", key->name, value,
			suffix ? "a size (an integer with an optional K, M, G or T suffix)" :
				 "an integer");
	return 0;
}

/* Store @v in @key's field, checked against its bounds (max 0: none). */
static int store_number(struct config_ctx *ctx, const struct config_key *key, void *field,
			const char *value, uint64_t v)
{
	if (key->max && v > key->max)
		return config_error(ctx, ctx->lineno, "%s '%s' is too large (at most %llu)",
				    key->name, value, (unsigned long long)key->max);
	if (v < key->min)
		return config_error(ctx, ctx->lineno, "%s '%s' is too small (at least %llu)",
				    key->name, value, (unsigned long long)key->min);
	if (key->size == sizeof(uint32_t))
		*(uint32_t *)field = (uint32_t)v;
	else
		*(uint64_t *)field = v;
	return 0;
}

static int parse_uint(struct config_ctx *ctx, const struct config_key *key, void *field,
		      const char *value)
{
	uint64_t v;
	int err;

	err = config_key_number(ctx, key, value, false, &v);
	return err ? err : store_number(ctx, key, field, value, v);
}

static int parse_size(struct config_ctx *ctx, const struct config_key *key, void *field,
		      const char *value)
{
	uint64_t v;
	int err;

	err = config_key_number(ctx, key, value, true, &v);
	return err ? err : store_number(ctx, key, field, value, v);
}

static int parse_capacity(struct config_ctx *ctx, const struct config_key *key, void *field,
			  const char *value)
{
	uint64_t v;
	int err;

	err = config_key_number(ctx, key, value, true, &v);
	if (err)
		return err;
	if (!v || v % SVM_PAGE_SIZE)
		return config_error(ctx, ctx->lineno, "%s '%s' must be a non-zero multiple of 4K",
				    key->name, value);
	*(uint64_t *)field = v;
	return 0;
}

static int parse_provider(struct config_ctx *ctx, const struct config_key *key, void *field,
			  const char *value)
{
	if (strlen(value) >= key->size || !pagemap_provider_find(value))
		return config_error(ctx, ctx->lineno, "unknown provider '%s'", value);
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

static int parse_drm_mode(struct config_ctx *ctx, const struct config_key *key, void *field,
			  const char *value)
{
	if (strcmp(value, "auto") != 0 && strcmp(value, "off") != 0)
		return config_error(ctx, ctx->lineno, "bad %s '%s': expected auto or off",
				    key->name, value);
	*(bool *)field = !strcmp(value, "auto");
	return 0;
}

/*
 * "auto", or a path under /dev/dri (probed once the file is read). Only
 * /dev/dri: the configuration must not make gsvmd open other devices.
 */
static int parse_node(struct config_ctx *ctx, const struct config_key *key, void *field,
		      const char *value)
{
	static const char dir[] = DRM_NODE_DIR "/";

	if (strcmp(value, CONFIG_NODE_AUTO) != 0 &&
	    (strncmp(value, dir, strlen(dir)) != 0 || strstr(value, "/../") ||
	     !value[strlen(dir)]))
		return config_error(ctx, ctx->lineno,
				    "bad %s '%s': expected auto or a card node under %s", key->name,
				    value, dir);
	if (strlen(value) >= key->size)
		return config_error(ctx, ctx->lineno, "%s '%s' is too long (at most %zu bytes)",
				    key->name, value, key->size - 1);
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

/* A user or group name: 1..size-1 of [A-Za-z0-9_.-], not starting with '-'. */
static int parse_name(struct config_ctx *ctx, const struct config_key *key, void *field,
		      const char *value)
{
	size_t i, n = strlen(value);

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)value[i]) && !strchr("_.-", value[i]))
			break;
	if (!n || n >= key->size || i < n || value[0] == '-')
		return config_error(ctx, ctx->lineno, "bad %s '%s'", key->name, value);
	memcpy(field, value, n + 1);
	return 0;
}

static int parse_shim(struct config_ctx *ctx, const struct config_key *key, void *field,
		      const char *value)
{
	if (strcmp(value, "auto") != 0 && strcmp(value, "userfaultfd") != 0 &&
	    strcmp(value, "kmod") != 0)
		return config_error(ctx, ctx->lineno,
				    "unknown shim '%s' (known: auto, userfaultfd, kmod)", value);
	snprintf(field, key->size, "%s", value);
	return 0;
}

static int parse_policy_name(struct config_ctx *ctx, const struct config_key *key, void *field,
			     const char *value)
{
	if (strlen(value) >= key->size || !policy_find(value))
		return config_error(ctx, ctx->lineno,
				    "unknown policy '%s' (known: default, explicit)", value);
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

static int parse_socket(struct config_ctx *ctx, const struct config_key *key, void *field,
			const char *value)
{
	struct gsvmd_config *cfg = container_of(field, struct gsvmd_config, socket);

	if (value[0] != '/' || strlen(value) >= key->size)
		return config_error(ctx, ctx->lineno,
				    "socket '%s' must be an absolute path shorter than %zu bytes",
				    value, key->size);
	memcpy(cfg->socket, value, strlen(value) + 1);
	cfg->socket_set = true;
	return 0;
}

/* A TCP port: 1 to 65535, decimal digits only. */
static bool config_port(const char *s, unsigned short *out)
{
	uint64_t v;

	if (strlen(s) > 5 || config_number(s, false, &v) || !v || v > 65535)
		return false;
	*out = (unsigned short)v;
	return true;
}

/*
 * "HOST:PORT" into @ep: HOST is a numeric IPv4 address, a bracketed numeric
 * IPv6 address or "localhost", which means 127.0.0.1 (so that gsvmd asks no
 * resolver at start-up, and binds one known address).
 */
static bool config_host_port(const char *value, struct config_endpoint *ep)
{
	const char *colon, *host = value;
	unsigned char addr[sizeof(struct in6_addr)];
	size_t len;
	int af = AF_INET;

	if (value[0] == '[') {
		colon = strstr(value, "]:");
		af = AF_INET6;
		host++;
		len = colon ? (size_t)(colon - host) : 0;
		colon = colon ? colon + 1 : NULL;
	} else {
		colon = strrchr(value, ':');
		len = colon ? (size_t)(colon - host) : 0;
	}
	if (!colon || !len || len >= sizeof(ep->host) || !config_port(colon + 1, &ep->port))
		return false;
	memcpy(ep->host, host, len);
	ep->host[len] = '\0';
	if (af == AF_INET && !strcmp(ep->host, "localhost"))
		snprintf(ep->host, sizeof(ep->host), "%s", "127.0.0.1");
	return inet_pton(af, ep->host, addr) == 1;
}

/* An endpoint: "" (off), an absolute Unix socket path, or HOST:PORT. */
static int parse_endpoint(struct config_ctx *ctx, const struct config_key *key, void *field,
			  const char *value)
{
	struct config_endpoint ep;
	size_t len = strlen(value);

	memset(&ep, 0, sizeof(ep));
	if (len >= sizeof(ep.text))
		goto bad;
	memcpy(ep.text, value, len + 1);
	if (value[0] == '/')
		memcpy(ep.path, value, len + 1);
	else if (len && !config_host_port(value, &ep))
		goto bad;
	memcpy(field, &ep, sizeof(ep));
	return 0;
bad:
	return config_error(ctx, ctx->lineno,
			    "bad %s '%s': expected HOST:PORT (HOST a numeric IPv4 address, "
			    "[IPv6] or localhost; PORT 1 to 65535) or an absolute Unix socket "
			    "path shorter than %zu bytes",
			    key->name, value, sizeof(ep.text));
}

/* Checked alone here; against chunk_sizes once the section is complete. */
static int parse_notifier_size(struct config_ctx *ctx, const struct config_key *key, void *field,
			       const char *value)
{
	struct svm_config svm = { .chunk_sizes = { SVM_PAGE_SIZE }, .nchunks = 1 };
	int err;

	err = config_key_number(ctx, key, value, true, &svm.notifier_size);
	if (err)
		return err;
	if (svm_config_validate(&svm))
		return config_error(ctx, ctx->lineno,
				    "notifier_size '%s' must be a power of two of at least 4K",
				    value);
	*(uint64_t *)field = svm.notifier_size;
	return 0;
}

/* Split "2M, 64K, 4K" into @svm's chunk list. */
static int config_size_list(const char *value, struct svm_config *svm)
{
	char item[CONFIG_SIZE_ITEM_MAX];
	const char *p = value;
	size_t len;
	int err;

	svm->nchunks = 0;
	for (;;) {
		p += strspn(p, " \t");
		len = strcspn(p, ",");
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (!len || len >= sizeof(item) || svm->nchunks == SVM_MAX_CHUNKS)
			return -EINVAL;
		memcpy(item, p, len);
		item[len] = '\0';
		err = config_number(item, true, &svm->chunk_sizes[svm->nchunks++]);
		if (err)
			return err;
		p = strchr(p, ',');
		if (!p)
			return 0;
		p++;
	}
}

/* Checked alone here; against notifier_size once the section is complete. */
static int parse_chunk_sizes(struct config_ctx *ctx, const struct config_key *key, void *field,
			     const char *value)
{
	struct svm_config *cfg = field, svm = { .notifier_size = 1ULL << 63 };

	(void)key;
	if (config_size_list(value, &svm) || svm_config_validate(&svm))
		return config_error(ctx, ctx->lineno,
				    "bad chunk_sizes '%s': expected 1 to %d comma-separated sizes, "
				    "powers of two, strictly decreasing, the last one 4K",
				    value, SVM_MAX_CHUNKS);
	memcpy(cfg->chunk_sizes, svm.chunk_sizes, sizeof(cfg->chunk_sizes));
	cfg->nchunks = svm.nchunks;
	return 0;
}

static const struct config_key *config_key_find(enum config_kind kind, const char *name)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].kind == kind && !strcmp(config_keys[i].name, name))
			return &config_keys[i];
	return NULL;
}

/* Line of @name in section @s, or 0 if it was not set. */
static unsigned int config_key_line(const struct config_section *s, const char *name)
{
	const struct config_key *key = config_key_find(s->kind, name);

	return key ? s->key_line[key - config_keys] : 0;
}

/* [daemon] and [policy]: at most once each; keys go to the gsvmd_config. */
static struct config_section *section_single(struct config_ctx *ctx, enum config_kind kind,
					     const char *title)
{
	struct config_section *s = &ctx->single[kind];

	if (s->line) {
		config_error(ctx, ctx->lineno, "duplicate section [%s] (first at line %u)", title,
			     s->line);
		return NULL;
	}
	s->obj = &ctx->cfg;
	return s;
}

static bool config_device_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len && len < PAGEMAP_NAME_MAX &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
		       len;
}

/* [device.NAME]: the first one replaces the default devices. */
static struct config_section *section_device(struct config_ctx *ctx, enum config_kind kind,
					     const char *title)
{
	const char *name = title[strlen("device")] ? title + strlen("device.") : "";
	struct core_config *core = &ctx->cfg.core;
	struct pagemap_config *dev;
	unsigned int i;

	(void)kind;
	if (!config_device_name_ok(name)) {
		config_error(ctx, ctx->lineno,
			     "bad device name '%s' in [%s]: expected [device.NAME], "
			     "NAME being 1 to %d of A-Z a-z 0-9 _ -",
			     name, title, PAGEMAP_NAME_MAX - 1);
		return NULL;
	}
	if (!ctx->devices_named) {
		core->ndev = 0;
		ctx->devices_named = true;
	}
	for (i = 0; i < core->ndev; i++) {
		if (!strcmp(core->dev[i].name, name)) {
			config_error(ctx, ctx->lineno, "duplicate device '%s' (first at line %u)",
				     name, ctx->dev[i].line);
			return NULL;
		}
	}
	if (core->ndev == PAGEMAP_MAX_DEVICES) {
		config_error(ctx, ctx->lineno, "too many devices (at most %d)",
			     PAGEMAP_MAX_DEVICES);
		return NULL;
	}
	dev = &core->dev[core->ndev];
	memset(dev, 0, sizeof(*dev));
	memcpy(dev->name, name, strlen(name) + 1);
	ctx->dev[core->ndev].obj = dev;
	return &ctx->dev[core->ndev++];
}

/* A device's keys must be its provider's: sim has no node, drm no model. */
static int check_device_keys(struct config_ctx *ctx, struct config_section *s)
{
	static const char *const sim_only[] = { "bandwidth", "latency_us" };
	struct pagemap_config *dev = s->obj;
	unsigned int line;
	size_t i;

	if (!strcmp(dev->provider, "sim")) {
		line = config_key_line(s, "node");
		if (line)
			return config_error(ctx, line, "node is for drm devices, not sim ([%s])",
					    s->title);
		snprintf(dev->driver, sizeof(dev->driver), "%s", "sim");
		snprintf(dev->bus, sizeof(dev->bus), "%s", "-");
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(sim_only); i++) {
		line = config_key_line(s, sim_only[i]);
		if (line)
			return config_error(ctx, line, "%s is for sim devices, not %s ([%s])",
					    sim_only[i], dev->provider, s->title);
	}
	if (!dev->node[0])
		snprintf(dev->node, sizeof(dev->node), "%s", CONFIG_NODE_AUTO);
	return 0;
}

/* A device must make a valid pagemap; provider and capacity were checked. */
static int check_device(struct config_ctx *ctx, struct config_section *s)
{
	int err = check_device_keys(ctx, s);

	if (err)
		return err;
	if (pagemap_config_validate(s->obj))
		return config_error(ctx, s->line, "bad device [%s]", s->title);
	return 0;
}

/* Each knob was checked alone; now the chunk sizes against the notifier. */
static int check_policy(struct config_ctx *ctx, struct config_section *s)
{
	unsigned int chunks = config_key_line(s, "chunk_sizes");
	unsigned int notifier = config_key_line(s, "notifier_size");

	if (!svm_config_validate(&ctx->cfg.core.svm))
		return 0;
	return config_error(ctx, chunks > notifier ? chunks : notifier,
			    "chunk sizes must not be larger than notifier_size");
}

/**
 * struct config_section_kind - What a section header can be
 * @name: "daemon", or "device" for [device.NAME]
 * @named: Headers are [@name.NAME]
 * @begin: Open a section with header @title; NULL after an error
 * @check: Check a complete section (optional)
 */
struct config_section_kind {
	const char *name;
	bool named;
	struct config_section *(*begin)(struct config_ctx *ctx, enum config_kind kind,
					const char *title);
	int (*check)(struct config_ctx *ctx, struct config_section *s);
};

static const struct config_section_kind config_kinds[KIND_COUNT] = {
	[KIND_DAEMON] = { "daemon", false, section_single, NULL },
	[KIND_DEVICE] = { "device", true, section_device, check_device },
	[KIND_POLICY] = { "policy", false, section_single, check_policy },
	[KIND_LIMITS] = { "limits", false, section_single, NULL },
};

static bool config_kind_match(const struct config_section_kind *k, const char *title)
{
	size_t n = strlen(k->name);

	if (strncmp(title, k->name, n) != 0)
		return false;
	return !title[n] || (k->named && title[n] == '.');
}

/* Open the section of header [@title], read at the current line. */
static int config_section_begin(struct config_ctx *ctx, const char *title)
{
	struct config_section *s = NULL;
	unsigned int kind;

	for (kind = 0; kind < KIND_COUNT; kind++)
		if (config_kind_match(&config_kinds[kind], title))
			break;
	if (kind == KIND_COUNT)
		return config_error(ctx, ctx->lineno, "unknown section [%s]", title);
	s = config_kinds[kind].begin(ctx, kind, title);
	if (!s)
		return -EINVAL;
	s->kind = kind;
	s->line = ctx->lineno;
	snprintf(s->title, sizeof(s->title), "%s", title);
	ctx->cur = s;
	return 0;
}

/*
 * A header line: "[TITLE]", then only blanks or a ';' comment. inih checks
 * the syntax again; we take the title here so that empty sections are seen.
 */
static int config_header(struct config_ctx *ctx, const char *p)
{
	char title[CONFIG_TITLE_MAX];
	const char *end = strchr(p, ']');
	size_t len;

	if (!end)
		return config_error(ctx, ctx->lineno, "syntax error: no ']' after '['");
	len = (size_t)(end - p);
	if (len >= sizeof(title))
		return config_error(ctx, ctx->lineno, "section name too long");
	end += 1 + strspn(end + 1, " \t\r\n");
	if (*end && *end != ';')
		return config_error(ctx, ctx->lineno, "syntax error after ']'");
	memcpy(title, p, len);
	title[len] = '\0';
	return config_section_begin(ctx, title);
}

/* inih's reader: one line per call, counted; see DOC. */
static char *config_read_line(char *str, int num, void *stream)
{
	struct config_ctx *ctx = stream;
	const char *p = str;

	if (ctx->failed)
		return NULL;
	errno = 0;
	if (!fgets(str, num, ctx->file)) {
		if (ferror(ctx->file))
			ctx->read_errno = errno ? errno : EIO;
		return NULL;
	}
	ctx->lineno++;
	if (!strchr(str, '\n') && !feof(ctx->file)) {
		config_error(ctx, ctx->lineno, "line too long (at most %d characters)", num - 2);
		return NULL;
	}
	if (ctx->lineno == 1 && !strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	ctx->indented = isspace((unsigned char)*p);
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '[')
		return str;
	/* inih would take it for a continuation of the key above. */
	if (ctx->indented) {
		config_error(ctx, ctx->lineno, "indented section header");
		return NULL;
	}
	return config_header(ctx, p + 1) ? NULL : str;
}

/* inih's handler: one "key = value" of the current section. */
static int config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_ctx *ctx = user;
	struct config_section *s = ctx->cur;
	const struct config_key *key;
	unsigned int *line;

	if (ctx->failed)
		return 0;
	if (!s)
		return !config_error(ctx, ctx->lineno, "key '%s' outside of any section", name);
	/* Our title is the reference: inih cuts section names at 49 bytes. */
	if (strncmp(section, s->title, strlen(section)) != 0)
		return !config_error(ctx, ctx->lineno, "syntax error");
	key = config_key_find(s->kind, name);
	if (!key)
		return !config_error(ctx, ctx->lineno, "unknown key '%s' in [%s]", name, s->title);
	line = &s->key_line[key - config_keys];
	if (*line && ctx->indented)
		return !config_error(ctx, ctx->lineno, "continuation lines are not supported");
	if (*line)
		return !config_error(ctx, ctx->lineno,
				     "duplicate key '%s' in [%s] (first at line %u)", name,
				     s->title, *line);
	*line = ctx->lineno;
	return !key->parse(ctx, key, (char *)s->obj + key->off, value);
}

/* After the file was read: required keys, then each kind's own checks. */
static int config_section_finish(struct config_ctx *ctx, struct config_section *s)
{
	const struct config_section_kind *kind = &config_kinds[s->kind];
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].kind == s->kind && config_keys[i].required && !s->key_line[i])
			return config_error(ctx, s->line, "missing key '%s' in [%s]",
					    config_keys[i].name, s->title);
	return kind->check ? kind->check(ctx, s) : 0;
}

static bool config_is_drm(const struct pagemap_config *dev)
{
	return !strcmp(dev->provider, "drm");
}

/* Index of the device using card @node, other than @self; -1 if none. */
static int config_node_user(const struct core_config *core, const char *node, unsigned int self)
{
	unsigned int i;

	for (i = 0; i < core->ndev; i++)
		if (i != self && config_is_drm(&core->dev[i]) && !strcmp(core->dev[i].node, node))
			return (int)i;
	return -1;
}

static void config_take_node(struct pagemap_config *dev, const struct drm_node_info *info)
{
	snprintf(dev->node, sizeof(dev->node), "%s", info->node);
	snprintf(dev->driver, sizeof(dev->driver), "%s", info->driver);
	snprintf(dev->bus, sizeof(dev->bus), "%s", info->bus);
}

static const char *config_node_error(int err)
{
	switch (err) {
	case -ENODEV:
		return "not a DRM device";
	case -EINVAL:
		return "not a card node (dumb buffers need /dev/dri/cardN, not a render node)";
	case -EOPNOTSUPP:
		return "its driver has no dumb buffers";
	default:
		return strerror(-err);
	}
}

/* Probe every node a device section names. */
static int config_probe_nodes(struct config_ctx *ctx)
{
	struct core_config *core = &ctx->cfg.core;
	struct drm_node_info info;
	unsigned int i, line;
	int err, other;

	for (i = 0; ctx->devices_named && i < core->ndev; i++) {
		struct pagemap_config *dev = &core->dev[i];

		if (!config_is_drm(dev) || !strcmp(dev->node, CONFIG_NODE_AUTO))
			continue;
		line = config_key_line(&ctx->dev[i], "node");
		other = config_node_user(core, dev->node, i);
		if (other >= 0 && (unsigned int)other < i)
			return config_error(ctx, line, "node '%s' is used by [%s] too", dev->node,
					    ctx->dev[other].title);
		err = drm_probe(dev->node, &info);
		if (err)
			return config_error(ctx, line, "node '%s': %s", dev->node,
					    config_node_error(err));
		config_take_node(dev, &info);
	}
	return 0;
}

/* A drm device from [daemon] drm = auto, named after its node ("card0"). */
static int config_add_found(struct config_ctx *ctx, const struct drm_node_info *info)
{
	struct core_config *core = &ctx->cfg.core;
	unsigned int line = config_key_line(&ctx->single[KIND_DAEMON], "drm");
	const char *name = strrchr(info->node, '/') + 1;
	struct pagemap_config *dev;
	unsigned int i;

	for (i = 0; i < core->ndev; i++)
		if (!strcmp(core->dev[i].name, name))
			return config_error(ctx, line,
					    "drm = auto: %s would be device '%s', a name taken",
					    info->node, name);
	if (core->ndev == PAGEMAP_MAX_DEVICES)
		return config_error(ctx, line, "drm = auto: too many devices (at most %d)",
				    PAGEMAP_MAX_DEVICES);
	dev = &core->dev[core->ndev++];
	memset(dev, 0, sizeof(*dev));
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	snprintf(dev->provider, sizeof(dev->provider), "%s", "drm");
	dev->capacity = ctx->cfg.drm_capacity;
	config_take_node(dev, info);
	return 0;
}

/*
 * DRM devices: named nodes are probed, node = auto takes the first card no
 * other device uses, [daemon] drm = auto adds the rest. Discovery runs only
 * when something asks for it.
 */
static int config_resolve_drm(struct config_ctx *ctx)
{
	struct drm_node_info found[DRM_DISCOVER_MAX];
	struct core_config *core = &ctx->cfg.core;
	unsigned int i, j, n = 0, ndev = core->ndev;
	bool discover = ctx->cfg.drm_auto;
	int err;

	err = config_probe_nodes(ctx);
	if (err)
		return err;
	for (i = 0; i < ndev; i++)
		discover |= config_is_drm(&core->dev[i]) &&
			    !strcmp(core->dev[i].node, CONFIG_NODE_AUTO);
	if (!discover)
		return 0;
	drm_discover(found, DRM_DISCOVER_MAX, &n);
	for (i = 0; i < ndev; i++) {
		if (!config_is_drm(&core->dev[i]) ||
		    strcmp(core->dev[i].node, CONFIG_NODE_AUTO) != 0)
			continue;
		for (j = 0; j < n && config_node_user(core, found[j].node, i) >= 0; j++)
			;
		if (j == n)
			return config_error(ctx, ctx->dev[i].line,
					    "no unused DRM card node for [%s] (node = auto; %u found)",
					    ctx->dev[i].title, n);
		config_take_node(&core->dev[i], &found[j]);
	}
	ctx->cfg.drm_found = n;
	for (j = 0; ctx->cfg.drm_auto && j < n; j++) {
		if (config_node_user(core, found[j].node, UINT32_MAX) >= 0)
			continue;
		err = config_add_found(ctx, &found[j]);
		if (err)
			return err;
	}
	return 0;
}

static int config_finish(struct config_ctx *ctx)
{
	unsigned int i;
	int err;

	for (i = 0; ctx->devices_named && i < ctx->cfg.core.ndev; i++) {
		err = config_section_finish(ctx, &ctx->dev[i]);
		if (err)
			return err;
	}
	for (i = 0; i < KIND_COUNT; i++) {
		if (!ctx->single[i].line)
			continue;
		err = config_section_finish(ctx, &ctx->single[i]);
		if (err)
			return err;
	}
	return config_resolve_drm(ctx);
}

/*
 * Turn ini_parse_stream()'s result and ours into one errno and message. A
 * read error, or a syntax error inih found before our first error, replaces
 * our message.
 */
static int config_parse_result(struct config_ctx *ctx, int rc)
{
	if (ctx->read_errno) {
		ctx->failed = false;
		config_error(ctx, 0, "%s", strerror(ctx->read_errno));
		return -ctx->read_errno;
	}
	if (rc == -2) {
		ctx->failed = false;
		config_error(ctx, 0, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (rc > 0 && (!ctx->failed || (unsigned int)rc < ctx->err_line)) {
		ctx->failed = false;
		return config_error(ctx, (unsigned int)rc,
				    "syntax error: expected [section] or key = value");
	}
	return ctx->failed ? -EINVAL : 0;
}

/**
 * config_default() - The embedded default configuration
 * @out: Receives two 1 GiB sim devices "sim0" and "sim1", the default range
 *       tracker knobs and timeslice (core_config_default()), the socket
 *       GSVM_DEFAULT_SOCKET, drm = off and drm_capacity = 256M
 */
void config_default(struct gsvmd_config *out)
{
	memset(out, 0, sizeof(*out));
	core_config_default(&out->core);
	snprintf(out->socket, sizeof(out->socket), "%s", GSVM_DEFAULT_SOCKET);
	snprintf(out->admin_group, sizeof(out->admin_group), "%s", "gsvm-admin");
	out->drm_capacity = CONFIG_DRM_CAPACITY;
	snprintf(out->shim, sizeof(out->shim), "%s", "auto");
}

/**
 * config_load() - Read a configuration file
 * @path: The file
 * @out: Receives the configuration: the defaults of config_default() with
 *       what the file sets; left alone on error
 * @err: Receives a one-line message on error, "FILE:LINE: what" for errors
 *       in the file's content, "FILE: reason" otherwise; may be NULL
 * @errlen: Size of @err
 *
 * The file format is described in the DOC comment of daemon/config.c.
 *
 * Return: 0; -EINVAL for any error in the file's content; -ENOENT, -EACCES,
 * -EISDIR or another negative errno when it cannot be opened or read;
 * -ENOMEM.
 */
int config_load(const char *path, struct gsvmd_config *out, char *err, size_t errlen)
{
	struct config_ctx ctx;
	int rc, ret;

	if (!path || !out)
		return -EINVAL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	config_default(&ctx.cfg);
	ctx.file = fopen(path, "re");
	if (!ctx.file) {
		ret = -errno;
		config_error(&ctx, 0, "%s", strerror(-ret));
		goto out;
	}
	rc = ini_parse_stream(config_read_line, &ctx, config_handler, &ctx);
	ret = config_parse_result(&ctx, rc);
	if (!ret)
		ret = config_finish(&ctx);
	if (!ret)
		*out = ctx.cfg;
	fclose(ctx.file);
out:
	if (ret && err && errlen)
		snprintf(err, errlen, "%s", ctx.msg);
	return ret;
}
