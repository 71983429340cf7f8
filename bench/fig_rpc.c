// SPDX-License-Identifier: MIT
/*
 * rpc: small requests per second from one client: gsvm_query() of one
 * 2 MiB allocation (one run in the answer), back to back from one thread,
 * for a fixed window after 1000 untimed calls, against a SOCK_SEQPACKET
 * ping-pong between two processes with the same request and reply sizes
 * (baseline_seqpacket.c; the sizes are those protobuf-c packs for this query
 * and its reply). Short windows (0.5 s; each gsvm window a fresh client)
 * alternate between the two, baseline first in even rounds, so drift in the
 * machine's load hits both; the figures are the medians of the per-window
 * rates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gsvm.h"
#include "gsvm.pb-c.h"

struct rpc_job {
	const char *sock;
	uint64_t window_ns;
	uint64_t count, elapsed_ns; /* written by the child (shared memory) */
};

static int rpc_client(void *arg)
{
	struct rpc_job *j = arg;
	struct gsvm_range_info info[1];
	uint64_t t0, now = 0, n = 0;
	struct gsvm *g;
	size_t nruns;
	int err, i;
	void *p;

	err = gsvm_connect(j->sock, &g);
	if (!err)
		err = gsvm_alloc(g, 2 * BENCH_MIB, &p);
	for (i = 0; !err && i < 1000; i++)
		err = gsvm_query(g, p, 2 * BENCH_MIB, info, 1, &nruns);
	if (err) {
		bench_log("rpc: %s", gsvm_strerror(err));
		return 2;
	}
	t0 = bench_now_ns();
	do {
		err = gsvm_query(g, p, 2 * BENCH_MIB, info, 1, &nruns);
		if (err || nruns != 1) {
			bench_log("rpc: query: %s", gsvm_strerror(err));
			return 2;
		}
		n++;
		now = bench_now_ns();
	} while (now - t0 < j->window_ns);
	j->count = n;
	j->elapsed_ns = now - t0;
	gsvm_disconnect(g);
	return 0;
}

/* Wire sizes of the query libgsvm sends for one run, and of its answer. */
static void query_sizes(size_t *req_size, size_t *reply_size)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__QueryReq q = GSVM__QUERY_REQ__INIT;
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__QueryReply qr = GSVM__QUERY_REPLY__INIT;
	Gsvm__RangeInfo ri = GSVM__RANGE_INFO__INIT;
	Gsvm__RangeInfo *ranges[1] = { &ri };
	/* A typical mmap() address, a request id past a million. */
	const uint64_t addr = 0x7f3a5c400000ULL, id = 1234567;

	q.addr = addr;
	q.len = 2 * BENCH_MIB;
	q.max = 2; /* gsvm_query() asks for one run more than fits */
	req.id = id;
	req.body_case = GSVM__REQUEST__BODY_QUERY;
	req.query = &q;
	ri.addr = addr;
	ri.len = 2 * BENCH_MIB;
	ri.location = GSVM_HOST;
	qr.n_ranges = 1;
	qr.ranges = ranges;
	qr.total = 1;
	resp.id = id;
	resp.body_case = GSVM__RESPONSE__BODY_QUERY;
	resp.query = &qr;
	*req_size = gsvm__request__get_packed_size(&req);
	*reply_size = gsvm__response__get_packed_size(&resp);
}

int fig_rpc(const struct bench_opts *o, struct report *r)
{
	unsigned int rounds = o->quick ? 4 : 10, round, i;
	uint64_t window_ns = (o->quick ? 200 : 500) * 1000000ULL, count, elapsed;
	struct rpc_job *j = shared_alloc(sizeof(*j));
	double g[16], b[16];
	json_object *ga = NULL, *ba = NULL;
	size_t req_size, reply_size;
	json_object *fam;
	struct bench_daemon d;
	int ret = -1;

	if (!j)
		goto out;
	query_sizes(&req_size, &reply_size);
	if (daemon_start(o, &d, "[policy]\n"))
		goto out;
	bench_log("rpc: %u windows of %.1f s each side, request %zu bytes, reply %zu bytes", rounds,
		  (double)window_ns / 1e9, req_size, reply_size);
	ga = json_object_new_array();
	ba = json_object_new_array();
	for (round = 0; round < rounds; round++) {
		for (i = 0; i < 2; i++) {
			if ((round + i) % 2 == 0) {
				if (baseline_pingpong(req_size, reply_size, window_ns, &count,
						      &elapsed))
					goto out_stop;
				b[round] = (double)count * 1e9 / (double)elapsed;
				json_object_array_add(ba, json_object_new_double(b[round]));
			} else {
				memset(j, 0, sizeof(*j));
				j->sock = d.sock;
				j->window_ns = window_ns;
				if (child_run(rpc_client, j, 120)) {
					daemon_dump_log(&d);
					goto out_stop;
				}
				g[round] = (double)j->count * 1e9 / (double)j->elapsed_ns;
				json_object_array_add(ga, json_object_new_double(g[round]));
			}
		}
	}
	fam = json_object_new_object();
	json_add_int(fam, "request_bytes", (int64_t)req_size);
	json_add_int(fam, "reply_bytes", (int64_t)reply_size);
	json_add_double(fam, "window_s", (double)window_ns / 1e9);
	json_object_object_add(fam, "gsvm_per_s", ga);
	json_object_object_add(fam, "baseline_per_s", ba);
	report_add(r, "rpc", "req/s", median(g, rounds), median(b, rounds), 0.6, TARGET_RATIO_MIN);
	json_add_double(fam, "gsvm_median_per_s", r->fig[r->nfig - 1].gsvm);
	json_add_double(fam, "baseline_median_per_s", r->fig[r->nfig - 1].baseline);
	json_object_object_add(r->figures, "rpc", fam);
	ret = 0;
out_stop:
	daemon_stop(&d);
out:
	shared_free(j, sizeof(*j));
	if (ret) {
		json_object_put(ga);
		json_object_put(ba);
		report_failed(r, "rpc");
	}
	return ret;
}
