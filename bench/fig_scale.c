// SPDX-License-Identifier: MIT
/*
 * scale_ranges: the latency of a small device op on a client with 1,000
 * ranges against one with 1,000,000 (quick: 100,000).
 *
 * gsvmd runs with chunk_sizes = 4K, so every range is one page. A client
 * allocates N pages and makes its N ranges with CHECKSUM device ops over
 * 16 MiB at a time (first touch: each op creates the 4096 ranges it covers
 * and migrates them to the device), which needs no more than a few hundred
 * requests even for a million ranges (4 GiB, 30-40 s here). It then times
 * CHECKSUM device ops of 64 bytes (one cache line: the op's fixed cost, not
 * its kernel, dominates) on a fixed probe set of 1,000 pages (all pages of
 * the small client; 1,000 random distinct pages of the large one), in a
 * random order per pass, after an untimed pass. Each op finds a range that
 * is already on the device, so it measures lookup, ownership and the
 * request path.
 *
 * Both clients are connections of one process and exist at once, each with
 * its own device (the large one's ranges on device 0, the small one's on
 * device 1), so nothing but the client list is shared between them in
 * gsvmd, and their passes alternate (who goes first alternates too): a
 * machine that gets busier or quieter during the run affects both alike.
 * The figure is p50 latency; ratio = large / small.
 *
 * scale_clients: 1, 16 and 128 concurrent client processes, each cycling
 * (prefetch its 8 MiB to device i % 2, then write one byte in each of its
 * pages from the CPU, which brings the data back through CPU faults) for a
 * fixed window. All start together after a warm-up cycle; each stops
 * starting cycles at the deadline, and the aggregate is 8 MiB per completed
 * cycle over the time from the start to the last client's finish. The
 * figure is aggregate throughput at 128 over that at 16 (the baseline
 * column). Windows run 1, 16, 128, 128, 16, 1 (quick: once each) and the
 * two of each count are averaged, so drift during the run cancels. Each
 * client checks its bytes at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "gsvm.h"
#include "harness.h"

/* ------------------------------------------------------------ scale_ranges */

#define PROBES 1000
#define PROBE_LEN 64
#define BUILD_STEP (16 * BENCH_MIB)

/* One of the two clients: its handle, memory, device and probe set. */
struct ranges_client {
	struct gsvm *g;
	uint8_t *p;
	size_t npages, nprobe;
	int dev;
	uint32_t probe[PROBES];
	uint64_t build_ns;
};

struct ranges_job {
	const char *sock;
	size_t npages[2];
	unsigned int passes;
	struct samples *lat[2];
	/* written by the child */
	uint64_t build_ns[2];
	uint64_t ranges;
};

/* Connect, allocate @npages pages and make one 4 KiB range of each on @dev. */
static int ranges_build(const char *sock, struct ranges_client *c)
{
	size_t size = c->npages * BENCH_PAGE, off, len;
	uint32_t *all;
	uint64_t res, t0;
	int err;

	err = gsvm_connect(sock, &c->g);
	if (!err)
		err = gsvm_alloc(c->g, size, (void **)&c->p);
	t0 = bench_now_ns();
	for (off = 0; !err && off < size; off += len) {
		len = size - off < BUILD_STEP ? size - off : BUILD_STEP;
		err = gsvm_device_op(c->g, c->dev, GSVM_OP_CHECKSUM, c->p + off, len, 0, &res);
	}
	c->build_ns = bench_now_ns() - t0;
	if (err) {
		bench_log("scale_ranges: building %zu ranges: %s", c->npages, gsvm_strerror(err));
		return -1;
	}
	/* The probe set: every page, or PROBES random distinct ones. */
	c->nprobe = c->npages < PROBES ? c->npages : PROBES;
	all = malloc(c->npages * sizeof(*all));
	if (!all)
		return -1;
	shuffle_order(all, c->npages, 4242 + c->npages);
	memcpy(c->probe, all, c->nprobe * sizeof(*all));
	free(all);
	return 0;
}

/* One pass of 64-byte checksums over the probe set in a random order. */
static int ranges_pass(struct ranges_client *c, unsigned int pass, struct samples *lat)
{
	uint8_t zeros[PROBE_LEN] = { 0 };
	uint64_t expect = fnv1a(zeros, PROBE_LEN), res, t0;
	uint32_t order[PROBES];
	size_t i;
	int err;

	shuffle_order(order, c->nprobe, 100 + pass);
	for (i = 0; i < c->nprobe; i++) {
		uint8_t *a = c->p + (size_t)c->probe[order[i]] * BENCH_PAGE;

		t0 = bench_now_ns();
		err = gsvm_device_op(c->g, c->dev, GSVM_OP_CHECKSUM, a, PROBE_LEN, 0, &res);
		t0 = bench_now_ns() - t0;
		if (err || res != expect) {
			bench_log("scale_ranges: probe: %s",
				  err ? gsvm_strerror(err) : "wrong checksum");
			return -1;
		}
		samples_add(lat, t0);
	}
	return 0;
}

/*
 * Both clients live in this process, each with its own connection (a
 * client of its own for gsvmd) and device, so their passes can alternate.
 */
static int ranges_main(void *arg)
{
	struct ranges_job *j = arg;
	struct ranges_client c[2] = { { .npages = j->npages[0], .dev = 1 },
				      { .npages = j->npages[1], .dev = 0 } };
	struct samples *scratch = samples_new(PROBES);
	struct gsvmd_stats st;
	unsigned int pass;
	int k;

	for (k = 0; k < 2; k++) {
		if (ranges_build(j->sock, &c[k]))
			return 2;
		j->build_ns[k] = c[k].build_ns;
	}
	if (gsvmd_get_stats(j->sock, &st) || st.ranges < j->npages[0] + j->npages[1]) {
		bench_log("scale_ranges: gsvmd has %llu ranges, expected %zu",
			  (unsigned long long)st.ranges, j->npages[0] + j->npages[1]);
		return 2;
	}
	j->ranges = st.ranges;
	/* An untimed pass each, then timed ones, alternating who goes first. */
	for (k = 0; k < 2; k++)
		if (ranges_pass(&c[k], 0, scratch))
			return 2;
	for (pass = 1; pass <= j->passes; pass++)
		for (k = 0; k < 2; k++) {
			int who = (int)(pass + k) % 2;

			if (ranges_pass(&c[who], pass, j->lat[who]))
				return 2;
		}
	for (k = 0; k < 2; k++)
		gsvm_disconnect(c[k].g);
	samples_free(scratch);
	return 0;
}

int fig_scale_ranges(const struct bench_opts *o, struct report *r)
{
	static const char config[] = "[policy]\nchunk_sizes = 4K\n"
				     "[device.sim0]\nprovider = sim\ncapacity = 8G\n"
				     "[device.sim1]\nprovider = sim\ncapacity = 8G\n";
	const char *name = o->quick ? "scale_ranges 100k" : "scale_ranges 1M";
	size_t n[2] = { 1000, o->quick ? 100000 : 1000000 };
	unsigned int passes = o->quick ? 4 : 10;
	struct ranges_job *j = shared_alloc(sizeof(*j));
	struct samples *lat[2] = { samples_new(PROBES * passes), samples_new(PROBES * passes) };
	json_object *fam, *side[2];
	struct bench_daemon d;
	FILE *f;
	char path[160];
	int ret = -1, k;

	if (!j || !lat[0] || !lat[1])
		goto out;
	if (daemon_start(o, &d, config))
		goto out;
	bench_log("scale_ranges: %zu vs %zu ranges of 4 KiB, %u passes over %d probes each", n[0],
		  n[1], passes, PROBES);
	memset(j, 0, sizeof(*j));
	j->sock = d.sock;
	j->npages[0] = n[0];
	j->npages[1] = n[1];
	j->passes = passes;
	j->lat[0] = lat[0];
	j->lat[1] = lat[1];
	if (child_run(ranges_main, j, 900)) {
		daemon_dump_log(&d);
		goto out_stop;
	}
	bench_log("scale_ranges: ranges made in %.2f s and %.2f s", (double)j->build_ns[0] / 1e9,
		  (double)j->build_ns[1] / 1e9);
	fam = json_object_new_object();
	json_add_str(fam, "config", config);
	json_add_int(fam, "probes", PROBES);
	json_add_int(fam, "probe_bytes", PROBE_LEN);
	json_add_int(fam, "passes", passes);
	json_add_int(fam, "gsvmd_ranges", (int64_t)j->ranges);
	for (k = 0; k < 2; k++) {
		samples_sort(lat[k]);
		side[k] = json_object_new_object();
		json_add_int(side[k], "ranges", (int64_t)n[k]);
		json_add_int(side[k], "device", k ? 0 : 1);
		json_add_double(side[k], "p50_ns", samples_pct(lat[k], 50));
		json_add_double(side[k], "p99_ns", samples_pct(lat[k], 99));
		json_add_double(side[k], "mean_ns", samples_mean(lat[k]));
		json_add_double(side[k], "build_s", (double)j->build_ns[k] / 1e9);
		json_object_object_add(side[k], "latency_ns", samples_json(lat[k]));
	}
	json_object_object_add(fam, "small", side[0]);
	json_object_object_add(fam, "large", side[1]);
	json_object_object_add(r->figures, "scale_ranges", fam);
	snprintf(path, sizeof(path), "%s/scale_ranges.dat", o->datadir);
	f = fopen(path, "w");
	if (f) {
		for (k = 0; k < 2; k++)
			fprintf(f, "%zu %.3f %.3f\n", n[k], samples_pct(lat[k], 50) / 1000,
				samples_pct(lat[k], 99) / 1000);
		fclose(f);
	}
	report_add(r, name, "us", samples_pct(lat[1], 50) / 1000, samples_pct(lat[0], 50) / 1000,
		   2.0, TARGET_RATIO_MAX);
	ret = 0;
out_stop:
	daemon_stop(&d);
out:
	shared_free(j, sizeof(*j));
	samples_free(lat[0]);
	samples_free(lat[1]);
	if (ret)
		report_failed(r, name);
	return ret;
}

/* ----------------------------------------------------------- scale_clients */

#define CLIENT_BYTES (8 * BENCH_MIB)
#define MAX_CLIENTS 128

struct clients_shared {
	atomic_int ready;
	uint64_t start_ns, deadline_ns;
	struct {
		uint64_t cycles, finish_ns;
	} c[MAX_CLIENTS];
};

struct clients_job {
	const char *sock;
	struct clients_shared *sh;
	int index;
	int go; /* read end: EOF means go */
};

/* Prefetch everything to @dev, then write one byte per page from the CPU. */
static int cycle(struct gsvm *g, uint8_t *p, int dev)
{
	size_t off;
	int err = gsvm_prefetch(g, p, CLIENT_BYTES, dev);

	if (err) {
		bench_log("scale_clients: prefetch: %s", gsvm_strerror(err));
		return -1;
	}
	for (off = 0; off < CLIENT_BYTES; off += BENCH_PAGE)
		p[off]++;
	return 0;
}

static int clients_client(void *arg)
{
	struct clients_job *j = arg;
	struct clients_shared *sh = j->sh;
	uint64_t cycles = 0, now;
	struct gsvm *g;
	size_t off;
	uint8_t *p;
	char ch;
	int err;

	err = gsvm_connect(j->sock, &g);
	if (!err)
		err = gsvm_alloc(g, CLIENT_BYTES, (void **)&p);
	if (err) {
		bench_log("scale_clients: connect/alloc: %s", gsvm_strerror(err));
		atomic_fetch_add(&sh->ready, 1);
		return 2;
	}
	if (cycle(g, p, j->index % 2)) {
		atomic_fetch_add(&sh->ready, 1);
		return 2;
	}
	atomic_fetch_add(&sh->ready, 1);
	if (read(j->go, &ch, 1) != 0)
		return 2;
	do {
		if (cycle(g, p, j->index % 2))
			return 2;
		cycles++;
		now = bench_now_ns();
	} while (now < sh->deadline_ns);
	sh->c[j->index].cycles = cycles;
	sh->c[j->index].finish_ns = now;
	for (off = 0; off < CLIENT_BYTES; off += BENCH_PAGE)
		if (p[off] != (uint8_t)(cycles + 1)) {
			bench_log("scale_clients: client %d: wrong data", j->index);
			return 2;
		}
	gsvm_disconnect(g);
	return 0;
}

/* One window with @n clients; aggregate bytes/ns (GB/s), or NAN on failure. */
static double clients_window(const char *sock, int n, uint64_t window_ns, json_object *arr)
{
	struct clients_shared *sh = shared_alloc(sizeof(*sh));
	pid_t pids[MAX_CLIENTS];
	uint64_t deadline, total = 0, last = 0;
	int go[2], i, started = 0, failed = 0;
	json_object *w;
	double gbps = NAN;

	if (!sh || pipe2(go, O_CLOEXEC))
		return NAN;
	for (i = 0; i < n; i++) {
		struct clients_job j = { .sock = sock, .sh = sh, .index = i, .go = go[0] };

		/* The child gets a copy of @j; it must not keep the write end. */
		fflush(NULL);
		pids[i] = fork();
		if (pids[i] < 0)
			break;
		if (!pids[i]) {
			close(go[1]);
			alarm(600);
			_exit(clients_client(&j));
		}
		started++;
	}
	deadline = bench_now_ns() + 120 * BENCH_NS;
	while (atomic_load(&sh->ready) < started && bench_now_ns() < deadline)
		bench_sleep_us(1000);
	sh->start_ns = bench_now_ns();
	sh->deadline_ns = sh->start_ns + window_ns;
	close(go[1]);
	for (i = 0; i < started; i++)
		if (child_wait(pids[i]))
			failed = 1;
	close(go[0]);
	if (!failed && started == n) {
		w = json_object_new_object();
		json_object *cy = json_object_new_array();

		for (i = 0; i < n; i++) {
			total += sh->c[i].cycles;
			if (sh->c[i].finish_ns > last)
				last = sh->c[i].finish_ns;
			json_object_array_add(cy, json_object_new_int64((int64_t)sh->c[i].cycles));
		}
		gbps = (double)(total * CLIENT_BYTES) / (double)(last - sh->start_ns);
		json_add_int(w, "clients", n);
		json_add_double(w, "elapsed_s", (double)(last - sh->start_ns) / 1e9);
		json_add_double(w, "aggregate_GBps", gbps);
		json_object_object_add(w, "cycles_per_client", cy);
		json_object_array_add(arr, w);
	}
	shared_free(sh, sizeof(*sh));
	return gbps;
}

int fig_scale_clients(const struct bench_opts *o, struct report *r)
{
	static const char config[] = "[device.sim0]\nprovider = sim\ncapacity = 2G\n"
				     "[device.sim1]\nprovider = sim\ncapacity = 2G\n";
	static const int counts[] = { 1, 16, 128 };
	uint64_t window_ns = (o->quick ? 1000 : 4000) * 1000000ULL;
	double sum[3] = { 0 }, agg[3], v;
	int nwin = o->quick ? 3 : 6, w, k, ret = -1;
	struct gsvmd_stats st;
	struct bench_daemon d;
	json_object *fam, *arr;
	char path[160];
	FILE *f;

	if (daemon_start(o, &d, config))
		goto out;
	bench_log("scale_clients: 1, 16, 128 clients, %.0f s windows, %d windows", window_ns / 1e9,
		  nwin);
	arr = json_object_new_array();
	for (w = 0; w < nwin; w++) {
		/* 1, 16, 128, then 128, 16, 1 */
		k = w < 3 ? w : 5 - w;
		v = clients_window(d.sock, counts[k], window_ns, arr);
		if (isnan(v)) {
			json_object_put(arr);
			daemon_dump_log(&d);
			goto out_stop;
		}
		bench_log("scale_clients: %d clients: %.2f GB/s", counts[k], v);
		sum[k] += v;
	}
	for (k = 0; k < 3; k++)
		agg[k] = sum[k] / (nwin / 3);
	fam = json_object_new_object();
	json_add_str(fam, "config", config);
	json_add_int(fam, "bytes_per_client", CLIENT_BYTES);
	json_add_double(fam, "window_s", window_ns / 1e9);
	if (!gsvmd_get_stats(d.sock, &st)) {
		json_add_int(fam, "gsvmd_thrash_throttled", (int64_t)st.throttled);
		json_add_int(fam, "gsvmd_evictions", (int64_t)st.evictions);
	}
	for (k = 0; k < 3; k++) {
		char key[32];

		snprintf(key, sizeof(key), "aggregate_GBps_%d", counts[k]);
		json_add_double(fam, key, agg[k]);
	}
	json_object_object_add(fam, "windows", arr);
	json_object_object_add(r->figures, "scale_clients", fam);
	snprintf(path, sizeof(path), "%s/scale_clients.dat", o->datadir);
	f = fopen(path, "w");
	if (f) {
		for (k = 0; k < 3; k++)
			fprintf(f, "%d %.4f\n", counts[k], agg[k]);
		fclose(f);
	}
	report_add(r, "scale_clients 128", "GB/s", agg[2], agg[1], 0.7, TARGET_RATIO_MIN);
	ret = 0;
out_stop:
	daemon_stop(&d);
out:
	if (ret)
		report_failed(r, "scale_clients 128");
	return ret;
}
