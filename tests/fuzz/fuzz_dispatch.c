// SPDX-License-Identifier: MIT
/**
 * DOC: fuzz_dispatch - the request decoder and the message switch
 *
 * Each input runs on a fresh session of the in-process daemon (fixture.h)
 * whose client said hello with its userfaultfd and registered its two
 * allocations, so that requests reach the migration, device-op, advice and
 * eviction code with real memory behind them.
 *
 * An input is one of two things:
 *
 * - A Gsvm__Request in protobuf form, as a client would send it (an alloc
 *   gets a fresh sealed memfd of the size it names, a hello with has_uffd the
 *   userfaultfd).
 * - When it does not decode as one (a first byte whose wire type is 6 or 7
 *   never does): a script. Byte 0 holds flags (bit 3: no hello, bit 4: no
 *   allocations, bit 5: concurrent); then up to FUZZ_MAX_OPS requests, each
 *   an opcode byte and the fields it needs. Addresses are an anchor (a
 *   boundary of the allocations) plus a small offset, so that mutations stay
 *   near the memory that exists; see fuzz_addr(). With bit 5 the requests are
 *   handed over at once and run concurrently on the workers (a crash found
 *   so may take a few replays to reproduce); else each is done before the
 *   next.
 *
 * Every request must get exactly one reply carrying its id, and every reply
 * must decode. After the input the session is closed and nothing may be
 * left: no device memory, no descriptor (fixture_check()).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "session.h"
#include "workers.h"

#define FUZZ_MAX_OPS 16
#define FUZZ_EVENTS_ID (1ULL << 40)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The rest of the input, read a field at a time; zeros once it runs out. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static uint64_t fuzz_bytes(struct fuzz_in *in, unsigned int k)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < k && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

static uint8_t fuzz_u8(struct fuzz_in *in)
{
	return (uint8_t)fuzz_bytes(in, 1);
}

/*
 * An address near what the client has: an anchor (a boundary of the
 * allocations, of a notifier, of a chunk), a page offset, a byte offset.
 */
static uint64_t fuzz_addr(struct fuzz_in *in)
{
	static const uint64_t anchors[8] = {
		FUZZ_BASE,
		FUZZ_BASE + FUZZ_NOTIFIER,
		FUZZ_A1,
		FUZZ_A1 + (64 << 10),
		FUZZ_A1 + (128 << 10),
		FUZZ_A1 + FUZZ_A1_SIZE,
		FUZZ_BASE + FUZZ_SPAN,
		0,
	};
	uint8_t sel = fuzz_u8(in);
	uint64_t addr = anchors[sel & 7];

	if (!addr)
		return fuzz_bytes(in, 8);
	addr += (uint64_t)(int64_t)(int8_t)fuzz_u8(in) * 4096;
	if (sel & 0x08)
		addr += fuzz_u8(in);
	if (sel & 0x10)
		addr += fuzz_bytes(in, 2) << 12;
	return addr;
}

static uint64_t fuzz_len(struct fuzz_in *in)
{
	static const uint64_t lens[] = {
		0,	  1,	    4 << 10,	   8 << 10,	 16 << 10,
		64 << 10, 68 << 10, FUZZ_NOTIFIER, FUZZ_A0_SIZE, FUZZ_A0_SIZE + FUZZ_A1_SIZE,
	};
	uint8_t sel = fuzz_u8(in) % 12;

	if (sel < sizeof(lens) / sizeof(lens[0]))
		return lens[sel];
	return sel == 10 ? fuzz_bytes(in, 2) << 12 : fuzz_bytes(in, 8);
}

/* A device id: -2 (none) to 3 (no such device), or any 32-bit value. */
static int32_t fuzz_dev(struct fuzz_in *in)
{
	uint8_t v = fuzz_u8(in);

	return v == 0xff ? (int32_t)fuzz_bytes(in, 4) : (int32_t)(v % 6) - 2;
}

/* A pid: ours (the session's), none, or anything. */
static int32_t fuzz_pid(struct fuzz_in *in)
{
	uint8_t v = fuzz_u8(in) % 3;

	return v == 0 ? getpid() : v == 1 ? 0 : (int32_t)fuzz_bytes(in, 4);
}

/**
 * union fuzz_body - Room for any request body
 */
union fuzz_body {
	Gsvm__Hello hello;
	Gsvm__DevicesReq devices;
	Gsvm__AllocReq alloc;
	Gsvm__FreeReq free;
	Gsvm__PrefetchReq prefetch;
	Gsvm__QueryReq query;
	Gsvm__DeviceOpReq device_op;
	Gsvm__AdviseReq advise;
	Gsvm__StatsReq stats;
	Gsvm__DeviceAdminReq device_admin;
	Gsvm__ClientsReq clients;
	Gsvm__RangesReq ranges;
	Gsvm__EvictReq evict;
	Gsvm__EventsReq events;
};

/* Fill @req from the script; return the descriptor to send with it. */
static int fuzz_build(struct fuzz_fixture *f, struct fuzz_in *in, Gsvm__Request *req,
		      union fuzz_body *b)
{
	uint8_t op = fuzz_u8(in) % 15, v;

	switch (op) {
	case 0:
		gsvm__prefetch_req__init(&b->prefetch);
		b->prefetch.addr = fuzz_addr(in);
		b->prefetch.len = fuzz_len(in);
		b->prefetch.location = fuzz_dev(in);
		req->body_case = GSVM__REQUEST__BODY_PREFETCH;
		req->prefetch = &b->prefetch;
		return -1;
	case 1:
		gsvm__query_req__init(&b->query);
		b->query.addr = fuzz_addr(in);
		b->query.len = fuzz_len(in);
		v = fuzz_u8(in);
		b->query.max = v == 0xff ? (uint32_t)fuzz_bytes(in, 4) : v % 8;
		req->body_case = GSVM__REQUEST__BODY_QUERY;
		req->query = &b->query;
		return -1;
	case 2:
		gsvm__device_op_req__init(&b->device_op);
		b->device_op.device = fuzz_dev(in);
		b->device_op.op = fuzz_u8(in) % 4;
		b->device_op.addr = fuzz_addr(in);
		b->device_op.len = fuzz_len(in);
		b->device_op.arg = fuzz_bytes(in, 8);
		req->body_case = GSVM__REQUEST__BODY_DEVICE_OP;
		req->device_op = &b->device_op;
		return -1;
	case 3:
		gsvm__advise_req__init(&b->advise);
		b->advise.addr = fuzz_addr(in);
		b->advise.len = fuzz_len(in);
		b->advise.advice = fuzz_u8(in) % 8;
		b->advise.device = fuzz_dev(in);
		req->body_case = GSVM__REQUEST__BODY_ADVISE;
		req->advise = &b->advise;
		return -1;
	case 4:
		gsvm__free_req__init(&b->free);
		b->free.addr = fuzz_addr(in);
		req->body_case = GSVM__REQUEST__BODY_FREE;
		req->free = &b->free;
		return -1;
	case 5:
		gsvm__evict_req__init(&b->evict);
		b->evict.device = fuzz_dev(in);
		b->evict.bytes = fuzz_len(in);
		b->evict.pid = fuzz_pid(in);
		req->body_case = GSVM__REQUEST__BODY_EVICT;
		req->evict = &b->evict;
		return -1;
	case 6:
		gsvm__ranges_req__init(&b->ranges);
		b->ranges.pid = fuzz_pid(in);
		b->ranges.start_pid = fuzz_pid(in);
		b->ranges.start_addr = fuzz_addr(in);
		b->ranges.max = fuzz_u8(in);
		req->body_case = GSVM__REQUEST__BODY_RANGES;
		req->ranges = &b->ranges;
		return -1;
	case 7:
		gsvm__device_admin_req__init(&b->device_admin);
		b->device_admin.device = fuzz_dev(in);
		b->device_admin.op = fuzz_u8(in) % 3;
		req->body_case = GSVM__REQUEST__BODY_DEVICE_ADMIN;
		req->device_admin = &b->device_admin;
		return -1;
	case 8:
		gsvm__events_req__init(&b->events);
		b->events.count = fuzz_u8(in);
		req->id = FUZZ_EVENTS_ID + req->id;
		req->body_case = GSVM__REQUEST__BODY_EVENTS;
		req->events = &b->events;
		return -1;
	case 9:
		gsvm__alloc_req__init(&b->alloc);
		b->alloc.addr = fuzz_addr(in);
		b->alloc.size = fuzz_len(in);
		req->body_case = GSVM__REQUEST__BODY_ALLOC;
		req->alloc = &b->alloc;
		return fixture_fd(f, fuzz_u8(in), b->alloc.size);
	case 10:
		gsvm__hello__init(&b->hello);
		b->hello.version = fuzz_u8(in) % 3;
		v = fuzz_u8(in);
		b->hello.has_uffd = v & 1;
		b->hello.name = "again";
		req->body_case = GSVM__REQUEST__BODY_HELLO;
		req->hello = &b->hello;
		return fixture_fd(f, v >> 1, 0);
	case 11:
		gsvm__stats_req__init(&b->stats);
		req->body_case = GSVM__REQUEST__BODY_STATS;
		req->stats = &b->stats;
		return -1;
	case 12:
		gsvm__clients_req__init(&b->clients);
		req->body_case = GSVM__REQUEST__BODY_CLIENTS;
		req->clients = &b->clients;
		return -1;
	case 13:
		gsvm__devices_req__init(&b->devices);
		req->body_case = GSVM__REQUEST__BODY_DEVICES;
		req->devices = &b->devices;
		return -1;
	default:
		/* No body: not a request gsvmd knows. */
		return -1;
	}
}

/* The descriptor a client would send with @req. */
static int fuzz_fd_for(struct fuzz_fixture *f, const Gsvm__Request *req)
{
	if (req->body_case == GSVM__REQUEST__BODY_HELLO && req->hello->has_uffd)
		return fixture_fd(f, 2, 0);
	if (req->body_case == GSVM__REQUEST__BODY_ALLOC)
		return fixture_fd(f, 5, req->alloc->size);
	return -1;
}

/* Every request gets exactly one reply with its id. */
static void fuzz_check(uint64_t id, int body, unsigned int n, int err)
{
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_dispatch: request %llu (body %d): %s\n",
			(unsigned long long)id, body, strerror(-err));
	if (n != 1)
		fixture_die("request %llu (body %d) got %u replies", (unsigned long long)id, body,
			    n);
}

/* Replies to a script's requests, by request (the id's low bits). */
struct fuzz_tally {
	unsigned int n[FUZZ_MAX_OPS];
	int err[FUZZ_MAX_OPS];
};

static void fuzz_tally_reply(void *arg, const Gsvm__Response *resp)
{
	struct fuzz_tally *t = arg;
	uint64_t i = (resp->id & (FUZZ_EVENTS_ID - 1)) - 1;

	/* Events carry their request's id: only the first reply counts. */
	if (i >= FUZZ_MAX_OPS || (resp->id & FUZZ_EVENTS_ID && t->n[i]))
		return;
	t->n[i]++;
	t->err[i] = resp->err;
}

static void fuzz_script(struct fuzz_fixture *f, struct fuzz_conn *c, struct fuzz_in *in)
{
	uint8_t flags = fuzz_u8(in) >> 3;
	Gsvm__Request req[FUZZ_MAX_OPS];
	struct fuzz_tally t;
	union fuzz_body b[FUZZ_MAX_OPS];
	unsigned int i, nreq;
	int fd;

	memset(&t, 0, sizeof(t));
	if (!(flags & 1) && fixture_setup_client(f, c, !(flags & 2)))
		fixture_die("client set-up failed");
	for (nreq = 0; nreq < FUZZ_MAX_OPS && in->n; nreq++) {
		gsvm__request__init(&req[nreq]);
		req[nreq].id = nreq + 1;
		fd = fuzz_build(f, in, &req[nreq], &b[nreq]);
		fixture_submit(f, c, &req[nreq], fd);
		/* Unless concurrent, each request is done before the next. */
		if (!(flags & 4)) {
			workers_drain(f->d.workers);
			fixture_replies(f, c->peer, fuzz_tally_reply, &t);
		}
	}
	workers_drain(f->d.workers);
	fixture_replies(f, c->peer, fuzz_tally_reply, &t);
	for (i = 0; i < nreq; i++)
		fuzz_check(req[i].id, req[i].body_case, t.n[i], t.err[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_get();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fixture *f = fixture_get();
	struct fuzz_in in = { data, size };
	struct fuzz_conn c;
	Gsvm__Request *req;
	unsigned int n;
	uint64_t id;
	int err = 0, body;

	fixture_reset(f);
	if (fixture_connect(f, &c))
		fixture_die("cannot connect");
	req = gsvm__request__unpack(NULL, size, data);
	if (req) {
		if (fixture_setup_client(f, &c, true))
			fixture_die("client set-up failed");
		/* As decoded: gsvmd never packs a request again (protobuf-c need
		 * not give back what it took, e.g. an unknown field 0). */
		id = req->id;
		body = req->body_case;
		n = fixture_dispatch(f, &c, req, fuzz_fd_for(f, req), &err);
		fuzz_check(id, body, n, err);
	} else {
		fuzz_script(f, &c, &in);
	}
	fixture_disconnect(f, &c);
	fixture_check(f);
	return 0;
}
