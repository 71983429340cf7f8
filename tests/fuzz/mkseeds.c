// SPDX-License-Identifier: MIT
/**
 * DOC: mkseeds - write the seed corpus of fuzz_dispatch and fuzz_conn
 *
 * The seeds of those two harnesses are protobuf requests and scripts in the
 * harnesses' own formats (see the DOC comments of fuzz_dispatch.c and
 * fuzz_conn.c), with addresses of the fixture's allocations (fixture.h).
 * They are committed; this program writes them again after a change of the
 * protocol or of a format:
 *
 *   make build/fuzz/mkseeds && build/fuzz/mkseeds tests/fuzz/corpus
 *
 * The configuration seeds (corpus/config) are plain files, written by hand.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "gsvm.pb-c.h"

#define KIB (1ULL << 10)
#define A0 FUZZ_BASE
#define A0_SIZE FUZZ_A0_SIZE
#define A1 FUZZ_A1
#define A1_SIZE FUZZ_A1_SIZE
#define ALL (A0_SIZE + A1_SIZE)

struct seed {
	uint8_t buf[4096];
	size_t len;
};

static const char *out_dir;

static void seed_write(const char *harness, const char *name, const struct seed *s)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, harness, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f)) {
		fprintf(stderr, "mkseeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void put(struct seed *s, const void *p, size_t n)
{
	if (s->len + n > sizeof(s->buf)) {
		fprintf(stderr, "mkseeds: seed too long\n");
		exit(1);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void put8(struct seed *s, uint8_t v)
{
	put(s, &v, 1);
}

static void put_le(struct seed *s, uint64_t v, unsigned int k)
{
	while (k--) {
		put8(s, (uint8_t)v);
		v >>= 8;
	}
}

static void pack(struct seed *s, const Gsvm__Request *req)
{
	size_t n = gsvm__request__get_packed_size(req);

	if (s->len + n > sizeof(s->buf))
		exit(1);
	s->len += gsvm__request__pack(req, s->buf + s->len);
}

/* Requests, as a client builds them. */

static Gsvm__Request req_prefetch(uint64_t id, uint64_t addr, uint64_t len, int loc)
{
	static Gsvm__PrefetchReq b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__prefetch_req__init(&b);
	b.addr = addr;
	b.len = len;
	b.location = loc;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_PREFETCH;
	r.prefetch = &b;
	return r;
}

static Gsvm__Request req_query(uint64_t id, uint64_t addr, uint64_t len, uint32_t max)
{
	static Gsvm__QueryReq b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__query_req__init(&b);
	b.addr = addr;
	b.len = len;
	b.max = max;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_QUERY;
	r.query = &b;
	return r;
}

static Gsvm__Request req_devop(uint64_t id, int dev, uint32_t op, uint64_t addr, uint64_t len,
			       uint64_t arg)
{
	static Gsvm__DeviceOpReq b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__device_op_req__init(&b);
	b.device = dev;
	b.op = op;
	b.addr = addr;
	b.len = len;
	b.arg = arg;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_DEVICE_OP;
	r.device_op = &b;
	return r;
}

static Gsvm__Request req_advise(uint64_t id, uint64_t addr, uint64_t len, uint32_t advice, int dev)
{
	static Gsvm__AdviseReq b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__advise_req__init(&b);
	b.addr = addr;
	b.len = len;
	b.advice = advice;
	b.device = dev;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_ADVISE;
	r.advise = &b;
	return r;
}

static Gsvm__Request req_free(uint64_t id, uint64_t addr)
{
	static Gsvm__FreeReq b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__free_req__init(&b);
	b.addr = addr;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_FREE;
	r.free = &b;
	return r;
}

static Gsvm__Request req_alloc(uint64_t id, uint64_t addr, uint64_t size)
{
	static Gsvm__AllocReq b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__alloc_req__init(&b);
	b.addr = addr;
	b.size = size;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_ALLOC;
	r.alloc = &b;
	return r;
}

static Gsvm__Request req_hello(uint64_t id, uint32_t version, int has_uffd)
{
	static Gsvm__Hello b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__hello__init(&b);
	b.version = version;
	b.name = "seed";
	b.has_uffd = has_uffd;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_HELLO;
	r.hello = &b;
	return r;
}

static Gsvm__Request req_evict(uint64_t id, int dev, uint64_t bytes, int pid)
{
	static Gsvm__EvictReq b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__evict_req__init(&b);
	b.device = dev;
	b.bytes = bytes;
	b.pid = pid;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_EVICT;
	r.evict = &b;
	return r;
}

static Gsvm__Request req_ranges(uint64_t id, int pid, uint64_t start, uint32_t max)
{
	static Gsvm__RangesReq b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__ranges_req__init(&b);
	b.pid = pid;
	b.start_addr = start;
	b.max = max;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_RANGES;
	r.ranges = &b;
	return r;
}

static Gsvm__Request req_admin(uint64_t id, int dev, int op)
{
	static Gsvm__DeviceAdminReq b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__device_admin_req__init(&b);
	b.device = dev;
	b.op = op;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_DEVICE_ADMIN;
	r.device_admin = &b;
	return r;
}

static Gsvm__Request req_events(uint64_t id, uint64_t count)
{
	static Gsvm__EventsReq b;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__events_req__init(&b);
	b.count = count;
	r.id = id;
	r.body_case = GSVM__REQUEST__BODY_EVENTS;
	r.events = &b;
	return r;
}

/* A body-less request of @body_case (stats, clients, devices). */
static Gsvm__Request req_empty(uint64_t id, Gsvm__Request__BodyCase body_case)
{
	static Gsvm__StatsReq st;
	static Gsvm__ClientsReq cl;
	static Gsvm__DevicesReq dv;
	Gsvm__Request r = GSVM__REQUEST__INIT;

	gsvm__stats_req__init(&st);
	gsvm__clients_req__init(&cl);
	gsvm__devices_req__init(&dv);
	r.id = id;
	r.body_case = body_case;
	if (body_case == GSVM__REQUEST__BODY_STATS)
		r.stats = &st;
	else if (body_case == GSVM__REQUEST__BODY_CLIENTS)
		r.clients = &cl;
	else
		r.devices = &dv;
	return r;
}

static void proto_seed(const char *name, Gsvm__Request r)
{
	struct seed s = { .len = 0 };

	pack(&s, &r);
	seed_write("dispatch", name, &s);
}

static void dispatch_proto_seeds(void)
{
	proto_seed("proto-prefetch-a0-dev0", req_prefetch(1, A0, A0_SIZE, 0));
	proto_seed("proto-prefetch-a1-dev1", req_prefetch(2, A1, A1_SIZE, 1));
	proto_seed("proto-prefetch-part", req_prefetch(3, A0 + 4 * KIB, 64 * KIB, 1));
	proto_seed("proto-prefetch-host", req_prefetch(4, A0, ALL, -1));
	proto_seed("proto-prefetch-all-dev1", req_prefetch(5, A0, ALL, 1));
	proto_seed("proto-query", req_query(6, A0, ALL, 16));
	proto_seed("proto-devop-fill", req_devop(7, 0, 0, A0, FUZZ_NOTIFIER, 0x5a));
	proto_seed("proto-devop-checksum", req_devop(8, 1, 1, A1, A1_SIZE, 0));
	proto_seed("proto-devop-add", req_devop(9, 0, 2, A0 + 8 * KIB, 64 * KIB, 3));
	proto_seed("proto-advise-preferred", req_advise(10, A0, FUZZ_NOTIFIER, 0, 1));
	proto_seed("proto-advise-accessed-by", req_advise(11, A0, A0_SIZE, 2, 0));
	proto_seed("proto-advise-read-mostly", req_advise(12, A1, 68 * KIB, 4, 0));
	proto_seed("proto-free", req_free(13, A1));
	proto_seed("proto-evict-dev", req_evict(14, 0, 0, 0));
	proto_seed("proto-evict-pid", req_evict(15, -1, 0, 1));
	proto_seed("proto-ranges", req_ranges(16, 0, 0, 8));
	proto_seed("proto-unbind", req_admin(17, 1, 0));
	proto_seed("proto-rebind", req_admin(18, 0, 1));
	proto_seed("proto-events", req_events(19, 3));
	proto_seed("proto-stats", req_empty(20, GSVM__REQUEST__BODY_STATS));
	proto_seed("proto-clients", req_empty(21, GSVM__REQUEST__BODY_CLIENTS));
	proto_seed("proto-devices", req_empty(22, GSVM__REQUEST__BODY_DEVICES));
	proto_seed("proto-alloc-unmapped",
		   req_alloc(23, FUZZ_BASE + FUZZ_SPAN - 64 * KIB, 64 * KIB));
	proto_seed("proto-alloc-overlap", req_alloc(24, A0 + 64 * KIB, A0_SIZE));
	proto_seed("proto-hello-again", req_hello(25, 1, 0));
}

/*
 * Scripts (fuzz_dispatch.c): a flags byte whose wire type is 7, then ops.
 * Operands: an address is an anchor index and a page delta; a length an
 * index into fuzz_len()'s table; a device its id + 2.
 */
enum {
	OP_PREFETCH,
	OP_QUERY,
	OP_DEVOP,
	OP_ADVISE,
	OP_FREE,
	OP_EVICT,
	OP_RANGES,
	OP_ADMIN,
	OP_EVENTS,
	OP_ALLOC,
	OP_HELLO,
	OP_STATS,
	OP_CLIENTS,
	OP_DEVICES
};
enum { AN_A0, AN_NOTIFIER, AN_A1, AN_A1_64K, AN_A1_128K, AN_A1_END, AN_SPAN_END };
enum { L0, L1, L4K, L8K, L16K, L64K, L68K, L512K, LA0, LALL };

static void sc_begin(struct seed *s, uint8_t flags)
{
	s->len = 0;
	put8(s, (uint8_t)(flags << 3 | 7));
}

static void sc_addr(struct seed *s, uint8_t anchor, int8_t pages)
{
	put8(s, anchor);
	put8(s, (uint8_t)pages);
}

static void sc_prefetch(struct seed *s, uint8_t anchor, int8_t pages, uint8_t len, int dev)
{
	put8(s, OP_PREFETCH);
	sc_addr(s, anchor, pages);
	put8(s, len);
	put8(s, (uint8_t)(dev + 2));
}

static void sc_devop(struct seed *s, int dev, uint8_t op, uint8_t anchor, uint8_t len, uint64_t arg)
{
	put8(s, OP_DEVOP);
	put8(s, (uint8_t)(dev + 2));
	put8(s, op);
	sc_addr(s, anchor, 0);
	put8(s, len);
	put_le(s, arg, 8);
}

static void sc_advise(struct seed *s, uint8_t anchor, uint8_t len, uint8_t advice, int dev)
{
	put8(s, OP_ADVISE);
	sc_addr(s, anchor, 0);
	put8(s, len);
	put8(s, advice);
	put8(s, (uint8_t)(dev + 2));
}

static void sc_query(struct seed *s)
{
	put8(s, OP_QUERY);
	sc_addr(s, AN_A0, 0);
	put8(s, LALL);
	put8(s, 7);
}

static void sc_simple(struct seed *s, uint8_t op)
{
	put8(s, op);
}

static void sc_evict(struct seed *s, int dev, uint8_t len, uint8_t pid_sel)
{
	put8(s, OP_EVICT);
	put8(s, (uint8_t)(dev + 2));
	put8(s, len);
	put8(s, pid_sel);
}

static void sc_admin(struct seed *s, int dev, uint8_t op)
{
	put8(s, OP_ADMIN);
	put8(s, (uint8_t)(dev + 2));
	put8(s, op);
}

static void sc_alloc(struct seed *s, uint8_t anchor, int8_t pages, uint8_t len, uint8_t fd)
{
	put8(s, OP_ALLOC);
	sc_addr(s, anchor, pages);
	put8(s, len);
	put8(s, fd);
}

static void dispatch_script_seeds(void)
{
	struct seed s;

	/* Host to device 0, device 0 to device 1, home, with a look each time. */
	sc_begin(&s, 0);
	sc_prefetch(&s, AN_A0, 0, LA0, 0);
	sc_query(&s);
	sc_devop(&s, 0, 1, AN_A0, LA0, 0);
	sc_prefetch(&s, AN_A0, 0, L64K, 1);
	sc_prefetch(&s, AN_A0, 0, L512K, 1);
	sc_query(&s);
	sc_prefetch(&s, AN_A0, 0, LALL, -1);
	sc_query(&s);
	seed_write("dispatch", "script-migrate", &s);

	/* Device 1 (256 KiB) overfull: eviction and -ENOSPC. */
	sc_begin(&s, 0);
	sc_prefetch(&s, AN_A0, 0, LALL, 1);
	sc_devop(&s, 1, 0, AN_A0, LALL, 7);
	sc_evict(&s, 1, L512K, 0);
	sc_simple(&s, OP_STATS);
	sc_simple(&s, OP_CLIENTS);
	seed_write("dispatch", "script-evict", &s);

	/* Advice: preferred location, accessed-by, read-mostly replicas. */
	sc_begin(&s, 0);
	sc_advise(&s, AN_A0, LA0, 0, 1);
	sc_advise(&s, AN_A0, L512K, 2, 0);
	sc_devop(&s, 0, 0, AN_A0, L512K, 1);
	sc_advise(&s, AN_A1, L68K, 4, 0);
	sc_devop(&s, 0, 1, AN_A1, L68K, 0);
	sc_devop(&s, 1, 1, AN_A1, L68K, 0);
	sc_devop(&s, 1, 2, AN_A1, L64K, 5);
	sc_advise(&s, AN_A1, L68K, 5, 0);
	sc_query(&s);
	seed_write("dispatch", "script-advise", &s);

	/* Events streamed while data moves; a device unbound under its data. */
	sc_begin(&s, 0);
	put8(&s, OP_EVENTS);
	put8(&s, 0);
	sc_prefetch(&s, AN_A0, 0, LALL, 0);
	sc_admin(&s, 0, 0);
	sc_query(&s);
	sc_admin(&s, 0, 1);
	sc_devop(&s, 0, 1, AN_A1_128K, L68K, 0);
	put8(&s, OP_RANGES);
	put8(&s, 0);
	put8(&s, 1);
	sc_addr(&s, AN_A0, 0);
	put8(&s, 4);
	seed_write("dispatch", "script-events-unbind", &s);

	/* Free with data on a device, then use the freed range. */
	sc_begin(&s, 0);
	sc_prefetch(&s, AN_A0, 0, LA0, 0);
	put8(&s, OP_FREE);
	sc_addr(&s, AN_A0, 0);
	sc_prefetch(&s, AN_A0, 0, LA0, 1);
	sc_devop(&s, 1, 1, AN_A0, L4K, 0);
	sc_alloc(&s, AN_A0, 0, LA0, 3);
	sc_prefetch(&s, AN_A0, 1, L8K, 1);
	seed_write("dispatch", "script-free-realloc", &s);

	/* Before any hello; a hello of the wrong version; then the right one. */
	sc_begin(&s, 1);
	sc_simple(&s, OP_DEVICES);
	sc_prefetch(&s, AN_A0, 0, L4K, 0);
	put8(&s, OP_HELLO);
	put8(&s, 2);
	put8(&s, 1 | 2 << 1);
	put8(&s, OP_HELLO);
	put8(&s, 1);
	put8(&s, 1 | 2 << 1);
	sc_alloc(&s, AN_A0, 0, LA0, 3);
	sc_prefetch(&s, AN_A0, 0, L4K, 0);
	seed_write("dispatch", "script-hello", &s);

	/* Allocations that lie: unmapped, unsealed, wrong size, not a memfd. */
	sc_begin(&s, 2);
	sc_alloc(&s, AN_A1_END, 1, L64K, 5);
	sc_alloc(&s, AN_A0, 0, LA0, 6);
	sc_alloc(&s, AN_A0, 0, L512K, 3);
	sc_alloc(&s, AN_A1, 0, L4K, 1);
	sc_alloc(&s, AN_A1, 0, L4K, 7);
	sc_prefetch(&s, AN_A1_END, 1, L64K, 0);
	sc_prefetch(&s, AN_A1_END, 2, L4K, -1);
	sc_advise(&s, AN_A1_END, L4K, 4, 1);
	seed_write("dispatch", "script-lying-allocs", &s);

	/* Concurrent: migrations, a device op, eviction and a free race. */
	sc_begin(&s, 4);
	sc_prefetch(&s, AN_A0, 0, LA0, 0);
	sc_prefetch(&s, AN_NOTIFIER, 0, L64K, 1);
	sc_devop(&s, 1, 2, AN_A0, L512K, 9);
	sc_evict(&s, 0, L0, 0);
	sc_prefetch(&s, AN_A1, 0, L68K, 0);
	put8(&s, OP_FREE);
	sc_addr(&s, AN_A1, 0);
	sc_devop(&s, 0, 1, AN_A1_64K, L16K, 0);
	sc_admin(&s, 1, 0);
	sc_query(&s);
	seed_write("dispatch", "script-concurrent", &s);
}

/* fuzz_conn.c: pieces of a header byte, a length and the bytes. */
static void piece(struct seed *s, uint8_t h, const Gsvm__Request *r)
{
	uint8_t buf[1024];
	size_t n = r ? gsvm__request__pack(r, buf) : 0;

	put8(s, h);
	put8(s, (uint8_t)n);
	put(s, buf, n);
}

static void piece_raw(struct seed *s, uint8_t h, const char *bytes, size_t n)
{
	put8(s, h);
	put8(s, (uint8_t)n);
	put(s, bytes, n);
}

/* A hello with the userfaultfd and both allocations, as libgsvm starts. */
static void conn_start(struct seed *s)
{
	Gsvm__Request r;

	s->len = 0;
	r = req_hello(1, 1, 1);
	piece(s, 2, &r);
	r = req_alloc(2, A0, A0_SIZE);
	piece(s, 3, &r);
	r = req_alloc(3, A1, A1_SIZE);
	piece(s, 4, &r);
}

static void conn_seeds(void)
{
	struct seed s;
	Gsvm__Request r;

	conn_start(&s);
	r = req_prefetch(4, A0, ALL, 0);
	piece(&s, 0, &r);
	r = req_query(5, A0, ALL, 8);
	piece(&s, 0, &r);
	r = req_devop(6, 1, 1, A1, A1_SIZE, 0);
	piece(&s, 0, &r);
	r = req_free(7, A0);
	piece(&s, 0, &r);
	seed_write("conn", "session", &s);

	/* Several requests queued before gsvmd reads any. */
	conn_start(&s);
	r = req_events(4, 0);
	piece(&s, 0x80, &r);
	r = req_prefetch(5, A0, FUZZ_NOTIFIER, 1);
	piece(&s, 0x80, &r);
	r = req_empty(6, GSVM__REQUEST__BODY_STATS);
	piece(&s, 0x80, &r);
	r = req_evict(7, 1, 0, 0);
	piece(&s, 0x80, &r);
	r = req_ranges(8, 0, 0, 0);
	piece(&s, 0, &r);
	seed_write("conn", "batch", &s);

	/* Descriptors where none belongs, too many, and truncated control data. */
	s.len = 0;
	r = req_empty(1, GSVM__REQUEST__BODY_DEVICES);
	piece(&s, 1, &r);
	r = req_hello(2, 1, 0);
	piece(&s, 7 | 1 << 3, &r);
	r = req_empty(3, GSVM__REQUEST__BODY_STATS);
	piece(&s, 1 | 2 << 3, &r);
	r = req_alloc(4, A0, A0_SIZE);
	piece(&s, 3 | 3 << 3, &r);
	r = req_alloc(5, A0, 64 * KIB);
	piece(&s, 5, &r);
	seed_write("conn", "fds", &s);

	/* Junk, an oversized datagram, an empty one (end of file), then more. */
	s.len = 0;
	piece_raw(&s, 0, "\x0f\x01", 2);
	piece_raw(&s, 0, "\x08\x01\x12\x05\x08", 5);
	r = req_empty(1, GSVM__REQUEST__BODY_CLIENTS);
	piece(&s, 0x40, &r);
	piece_raw(&s, 0, "", 0);
	r = req_empty(2, GSVM__REQUEST__BODY_DEVICES);
	piece(&s, 0, &r);
	seed_write("conn", "junk", &s);

	/* The same request split over two datagrams (no framing across them). */
	conn_start(&s);
	r = req_prefetch(4, A1, A1_SIZE, 0);
	{
		uint8_t buf[64];
		size_t n = gsvm__request__pack(&r, buf);

		piece_raw(&s, 0, (const char *)buf, n / 2);
		piece_raw(&s, 0, (const char *)buf + n / 2, n - n / 2);
	}
	seed_write("conn", "split", &s);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds CORPUS_DIR\n");
		return 2;
	}
	out_dir = argv[1];
	dispatch_proto_seeds();
	dispatch_script_seeds();
	conn_seeds();
	return 0;
}
