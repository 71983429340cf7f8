// SPDX-License-Identifier: MIT
/*
 * prefetch: host to device, and device to device, of one large region in
 * one gsvm_prefetch() call each (1 GiB; quick: 256 MiB), against memcpy of
 * the same size between pre-faulted buffers (baseline_memcpy.c).
 *
 * One client process does both, alternating (baseline first in even
 * rounds, gsvm first in odd ones), after a warm-up round of each: the data
 * (a pattern written by the CPU) goes host -> device 0 (timed), device 0 ->
 * device 1 (timed), device 1 -> host (timed, reported for context only), and
 * every byte is checked at the end. Figures are medians over the rounds.
 * Devices are 2 GiB sims, so the region always fits.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "gsvm.h"
#include "harness.h"

struct prefetch_job {
	const char *sock;
	size_t size;
	unsigned int rounds;
	/* results (ns per round) */
	struct samples *h2d, *d2d, *d2h, *copy, *copy_cold;
	/* context: pread + punch of a memfd, one thread and one per CPU */
	struct samples *moveout1, *moveoutn;
	unsigned int cpus;
};

static int where(struct gsvm *g, void *p, size_t size, int loc)
{
	struct gsvm_range_info info[2];
	size_t n;

	return !gsvm_query(g, p, size, info, 2, &n) && n == 1 && info[0].location == loc ? 0 : -1;
}

/* Prefetch to @loc and time it; -1 unless it all got there. */
static int timed_prefetch(struct gsvm *g, void *p, size_t size, int loc, struct samples *out)
{
	uint64_t t0 = bench_now_ns();
	int err = gsvm_prefetch(g, p, size, loc);

	t0 = bench_now_ns() - t0;
	if (err || where(g, p, size, loc)) {
		bench_log("prefetch to %d: %s", loc, err ? gsvm_strerror(err) : "not all there");
		return -1;
	}
	samples_add(out, t0);
	return 0;
}

static int baseline_round(struct memcpy_buf *b, struct samples *warm, struct samples *cold)
{
	uint64_t w = memcpy_timed(b, false), c = memcpy_timed(b, true);

	if (!w || !c)
		return -1;
	samples_add(warm, w);
	samples_add(cold, c);
	return 0;
}

/* The kernel's own cost of what h2d does: read a memfd out, punch it. */
static int moveout_round(struct memcpy_buf *b, const struct prefetch_job *j, struct samples *one,
			 struct samples *n)
{
	uint64_t t1 = moveout_timed(b, 1), tn = moveout_timed(b, j->cpus);

	if (!t1 || !tn) {
		bench_log("prefetch: pread + punch of a memfd failed");
		return -1;
	}
	samples_add(one, t1);
	samples_add(n, tn);
	return 0;
}

static int gsvm_round(struct gsvm *g, void *p, const struct prefetch_job *j, struct samples *h2d,
		      struct samples *d2d, struct samples *d2h)
{
	if (timed_prefetch(g, p, j->size, 0, h2d) || timed_prefetch(g, p, j->size, 1, d2d) ||
	    timed_prefetch(g, p, j->size, GSVM_HOST, d2h))
		return -1;
	return 0;
}

static int prefetch_client(void *arg)
{
	const struct prefetch_job *j = arg;
	struct samples *scratch = samples_new(8);
	struct memcpy_buf b;
	unsigned int round;
	struct gsvm *g;
	void *p;
	int err;

	err = gsvm_connect(j->sock, &g);
	if (!err)
		err = gsvm_alloc(g, j->size, &p);
	if (err) {
		bench_log("prefetch: connect/alloc: %s", gsvm_strerror(err));
		return 2;
	}
	fill_pattern(p, j->size, 3000);
	if (memcpy_setup(&b, j->size)) {
		bench_log("prefetch: baseline buffers: %s", strerror(errno));
		return 2;
	}
	/* Warm-up: one untimed round of each. */
	if (baseline_round(&b, scratch, scratch) || moveout_round(&b, j, scratch, scratch) ||
	    gsvm_round(g, p, j, scratch, scratch, scratch))
		return 2;
	for (round = 0; round < j->rounds; round++) {
		if (round % 2 == 0 && (baseline_round(&b, j->copy, j->copy_cold) ||
				       moveout_round(&b, j, j->moveout1, j->moveoutn)))
			return 2;
		if (gsvm_round(g, p, j, j->h2d, j->d2d, j->d2h))
			return 2;
		if (round % 2 == 1 && (baseline_round(&b, j->copy, j->copy_cold) ||
				       moveout_round(&b, j, j->moveout1, j->moveoutn)))
			return 2;
	}
	memcpy_teardown(&b);
	if (check_pattern(p, j->size, 3000) != -1) {
		bench_log("prefetch: wrong data after the rounds");
		return 2;
	}
	gsvm_disconnect(g);
	samples_free(scratch);
	return 0;
}

/* Bytes per nanosecond = GB/s, of the median time. */
static double gbps(struct samples *s, size_t size)
{
	samples_sort(s);
	return (double)size / samples_pct(s, 50);
}

static json_object *ns_json(struct samples *s, size_t size)
{
	json_object *o = json_object_new_object();

	json_add_double(o, "median_GBps", gbps(s, size));
	json_object_object_add(o, "ns", samples_json(s));
	return o;
}

int fig_prefetch(const struct bench_opts *o, struct report *r)
{
	static const char config[] = "[device.sim0]\nprovider = sim\ncapacity = 2G\n"
				     "[device.sim1]\nprovider = sim\ncapacity = 2G\n";
	struct prefetch_job j = {
		.size = o->quick ? 256 * BENCH_MIB : BENCH_GIB,
		.rounds = o->quick ? 2 : 5,
	};
	struct gsvmd_stats st;
	struct bench_daemon d;
	json_object *fam;
	int ret = -1;

	j.h2d = samples_new(j.rounds);
	j.d2d = samples_new(j.rounds);
	j.d2h = samples_new(j.rounds);
	j.copy = samples_new(j.rounds);
	j.copy_cold = samples_new(j.rounds);
	j.moveout1 = samples_new(j.rounds);
	j.moveoutn = samples_new(j.rounds);
	j.cpus = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
	if (daemon_start(o, &d, config))
		goto out;
	j.sock = d.sock;
	bench_log("prefetch: %zu MiB, %u rounds", j.size / BENCH_MIB, j.rounds);
	if (child_run(prefetch_client, &j, 900)) {
		daemon_dump_log(&d);
		goto out_stop;
	}
	if (gsvmd_get_stats(d.sock, &st))
		goto out_stop;
	fam = json_object_new_object();
	json_add_str(fam, "config", config);
	json_add_int(fam, "bytes", (int64_t)j.size);
	json_add_int(fam, "rounds", j.rounds);
	json_add_int(fam, "gsvmd_bytes_to_device", (int64_t)st.bytes_to_device);
	json_add_int(fam, "gsvmd_bytes_device_to_device", (int64_t)st.bytes_device_to_device);
	json_add_int(fam, "gsvmd_bytes_to_host", (int64_t)st.bytes_to_host);
	json_object_object_add(fam, "gsvm_host_to_device", ns_json(j.h2d, j.size));
	json_object_object_add(fam, "gsvm_device_to_device", ns_json(j.d2d, j.size));
	json_object_object_add(fam, "gsvm_device_to_host", ns_json(j.d2h, j.size));
	json_object_object_add(fam, "baseline_memcpy_prefaulted", ns_json(j.copy, j.size));
	json_object_object_add(fam, "context_memcpy_fresh_destination",
			       ns_json(j.copy_cold, j.size));
	json_add_int(fam, "cpus", j.cpus);
	json_object_object_add(fam, "context_pread_punch_1_thread", ns_json(j.moveout1, j.size));
	json_object_object_add(fam, "context_pread_punch_per_cpu", ns_json(j.moveoutn, j.size));
	json_object_object_add(r->figures, "prefetch", fam);
	bench_log("prefetch: context: pread + punch of a memfd, no gsvm: %.2f GB/s on 1 thread, "
		  "%.2f GB/s on %u; gsvm h2d is %.2fx of the latter",
		  gbps(j.moveout1, j.size), gbps(j.moveoutn, j.size), j.cpus,
		  gbps(j.h2d, j.size) / gbps(j.moveoutn, j.size));
	report_add(r, "prefetch h2d", "GB/s", gbps(j.h2d, j.size), gbps(j.copy, j.size), 0.7,
		   TARGET_RATIO_MIN);
	report_add(r, "prefetch d2d", "GB/s", gbps(j.d2d, j.size), gbps(j.copy, j.size), 0.7,
		   TARGET_RATIO_MIN);
	ret = 0;
out_stop:
	daemon_stop(&d);
out:
	samples_free(j.h2d);
	samples_free(j.d2d);
	samples_free(j.d2h);
	samples_free(j.copy);
	samples_free(j.copy_cold);
	samples_free(j.moveout1);
	samples_free(j.moveoutn);
	if (ret) {
		report_failed(r, "prefetch h2d");
		report_failed(r, "prefetch d2d");
	}
	return ret;
}
