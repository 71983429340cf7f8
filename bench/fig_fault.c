// SPDX-License-Identifier: MIT
/*
 * fault_4k and fault_2m: a CPU fault on device-resident data.
 *
 * gsvm: a client allocates a region and fills it, then each round prefetches
 * all of it to device 0 (every unit is its own range: with chunk_sizes = 4K
 * a 4 KiB range per page, with 2M a 2 MiB range per 2 MiB), checks with a
 * query that it is all there, waits 10 ms (past the 1 ms timeslice, so no
 * fault waits for it), and touches the first bytes of every unit in a random
 * order, timing each touch from the faulting thread (touch_units()). Every
 * byte is checked afterwards.
 *
 * Baseline: the same loop against the minimal handler (baseline_uffd.c).
 *
 * Runs are interleaved (baseline, gsvm, gsvm, baseline, ...), each after an
 * untimed warm-up round, and the samples of all runs pooled. fault_4k reports
 * p50 and p99 per fault; fault_2m the bytes per second of the whole loop
 * (median over the timed rounds).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "gsvm.h"
#include "harness.h"

struct gsvm_fault_job {
	const char *sock;
	const struct fault_cfg *c;
	struct samples *lat, *round_ns, *prefetch_ns;
};

static int gsvm_faulter(void *arg)
{
	const struct gsvm_fault_job *j = arg;
	const struct fault_cfg *c = j->c;
	size_t n = c->size / c->unit, nruns;
	struct gsvm_range_info info[2];
	unsigned int round;
	struct gsvm *g;
	uint32_t *order;
	uint64_t t0, ns;
	void *p;
	int err;

	order = malloc(n * sizeof(*order));
	if (!order)
		return 2;
	err = gsvm_connect(j->sock, &g);
	if (!err)
		err = gsvm_alloc(g, c->size, &p);
	if (err) {
		bench_log("fault: connect/alloc: %s", gsvm_strerror(err));
		return 2;
	}
	fill_pattern(p, c->size, c->seed);
	for (round = 0; round < c->warmup + c->rounds; round++) {
		bool timed = round >= c->warmup;

		t0 = bench_now_ns();
		err = gsvm_prefetch(g, p, c->size, 0);
		ns = bench_now_ns() - t0;
		if (err) {
			bench_log("fault: prefetch: %s", gsvm_strerror(err));
			return 2;
		}
		if (timed)
			samples_add(j->prefetch_ns, ns);
		err = gsvm_query(g, p, c->size, info, 2, &nruns);
		if (err || nruns != 1 || info[0].location != 0) {
			bench_log("fault: after the prefetch the region is not all on device 0");
			return 2;
		}
		bench_sleep_us(10000);
		shuffle_order(order, n, c->seed + round);
		ns = touch_units(p, c->unit, order, n, timed ? j->lat : NULL);
		if (timed)
			samples_add(j->round_ns, ns);
		if (check_pattern(p, c->size, c->seed) != -1) {
			bench_log("fault: wrong data after round %u", round);
			return 2;
		}
	}
	gsvm_disconnect(g);
	free(order);
	return 0;
}

static json_object *side_json(struct samples *lat, struct samples *round_ns, size_t unit_bytes,
			      size_t units)
{
	json_object *o = json_object_new_object();
	double gbps[64];
	size_t i;

	samples_sort(lat);
	json_add_double(o, "p50_ns", samples_pct(lat, 50));
	json_add_double(o, "p90_ns", samples_pct(lat, 90));
	json_add_double(o, "p99_ns", samples_pct(lat, 99));
	json_add_double(o, "p999_ns", samples_pct(lat, 99.9));
	json_add_double(o, "mean_ns", samples_mean(lat));
	for (i = 0; i < round_ns->n && i < 64; i++)
		gbps[i] = (double)(unit_bytes * units) / (double)round_ns->v[i];
	json_add_double(o, "round_GBps_median", median(gbps, i));
	json_object_object_add(o, "round_ns", samples_json(round_ns));
	json_object_object_add(o, "latency_ns", samples_json(lat));
	return o;
}

int fig_fault(const struct bench_opts *o, struct report *r, size_t unit)
{
	bool big = unit > BENCH_PAGE;
	const char *name = big ? "fault_2m" : "fault_4k";
	char config[256], path[160];
	struct fault_cfg c = {
		.unit = unit,
		.warmup = 1,
		.seed = big ? 2000 : 1000,
	};
	struct samples *lat[2], *rounds[2], *prefetch_ns;
	struct gsvmd_stats st0, st1;
	unsigned int reps, rep, side, i;
	struct bench_daemon d;
	json_object *fam;
	int ret = -1;
	size_t n;

	if (big) {
		c.size = o->quick ? 128 * BENCH_MIB : 512 * BENCH_MIB;
		c.rounds = o->quick ? 3 : 4;
	} else {
		c.size = o->quick ? 16 * BENCH_MIB : 32 * BENCH_MIB;
		c.rounds = o->quick ? 1 : 3;
	}
	reps = o->quick ? 3 : 4;
	n = c.size / c.unit;
	snprintf(config, sizeof(config),
		 "[policy]\nchunk_sizes = %s\n"
		 "[device.sim0]\nprovider = sim\ncapacity = 2G\n"
		 "[device.sim1]\nprovider = sim\ncapacity = 2G\n",
		 big ? "2M, 4K" : "4K");
	for (side = 0; side < 2; side++) {
		lat[side] = samples_new(n * c.rounds * reps);
		rounds[side] = samples_new(c.rounds * reps);
	}
	prefetch_ns = samples_new(c.rounds * reps);
	if (daemon_start(o, &d, config))
		goto out_free;
	if (gsvmd_get_stats(d.sock, &st0))
		goto out_stop;
	bench_log("%s: %zu faults of %zu KiB per round, %u rounds x %u runs each side", name, n,
		  unit / 1024, c.rounds, reps);
	for (rep = 0; rep < reps; rep++) {
		for (i = 0; i < 2; i++) {
			/* baseline first in even runs, gsvm first in odd ones */
			side = (rep + i) % 2;
			if (side == 0) {
				struct gsvm_fault_job j = { .sock = d.sock,
							    .c = &c,
							    .lat = lat[0],
							    .round_ns = rounds[0],
							    .prefetch_ns = prefetch_ns };

				if (child_run(gsvm_faulter, &j, 600)) {
					daemon_dump_log(&d);
					goto out_stop;
				}
			} else if (baseline_uffd(&c, lat[1], rounds[1])) {
				goto out_stop;
			}
		}
	}
	if (gsvmd_get_stats(d.sock, &st1))
		goto out_stop;

	fam = json_object_new_object();
	json_add_str(fam, "config", config);
	json_add_int(fam, "region_bytes", (int64_t)c.size);
	json_add_int(fam, "unit_bytes", (int64_t)c.unit);
	json_add_int(fam, "faults_per_round", (int64_t)n);
	json_add_int(fam, "timed_rounds_per_run", c.rounds);
	json_add_int(fam, "runs", reps);
	json_add_int(fam, "gsvmd_cpu_faults_incl_fills", (int64_t)(st1.faults_cpu - st0.faults_cpu));
	json_add_int(fam, "gsvmd_thrash_throttled", (int64_t)(st1.throttled - st0.throttled));
	json_object_object_add(fam, "gsvm", side_json(lat[0], rounds[0], c.unit, n));
	json_object_object_add(fam, "baseline", side_json(lat[1], rounds[1], c.unit, n));
	json_object_object_add(fam, "gsvm_prefetch_ns", samples_json(prefetch_ns));
	json_object_object_add(r->figures, name, fam);

	for (side = 0; side < 2; side++) {
		snprintf(path, sizeof(path), "%s/%s_%s.dat", o->datadir, name,
			 side ? "baseline" : "gsvm");
		samples_write_cdf(lat[side], 1000.0, path);
	}
	if (big) {
		double g[64], b[64];

		for (i = 0; i < rounds[0]->n && i < 64; i++)
			g[i] = (double)c.size / (double)rounds[0]->v[i];
		for (i = 0; i < rounds[1]->n && i < 64; i++)
			b[i] = (double)c.size / (double)rounds[1]->v[i];
		report_add(r, "fault_2m", "GB/s", median(g, rounds[0]->n), median(b, rounds[1]->n),
			   0.8, TARGET_RATIO_MIN);
	} else {
		report_add(r, "fault_4k p50", "us", samples_pct(lat[0], 50) / 1000,
			   samples_pct(lat[1], 50) / 1000, 1.5, TARGET_RATIO_MAX);
		report_add(r, "fault_4k p99", "us", samples_pct(lat[0], 99) / 1000,
			   samples_pct(lat[1], 99) / 1000, 1.5, TARGET_RATIO_MAX);
	}
	ret = 0;
out_stop:
	daemon_stop(&d);
out_free:
	for (side = 0; side < 2; side++) {
		samples_free(lat[side]);
		samples_free(rounds[side]);
	}
	samples_free(prefetch_ns);
	if (ret) {
		if (big) {
			report_failed(r, "fault_2m");
		} else {
			report_failed(r, "fault_4k p50");
			report_failed(r, "fault_4k p99");
		}
	}
	return ret;
}
