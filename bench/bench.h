/* SPDX-License-Identifier: MIT */
#ifndef GSVM_BENCH_H
#define GSVM_BENCH_H

/*
 * gsvm-bench: gsvm side by side with this machine's own limits. Every figure
 * is a ratio to a baseline measured in the same run on the same machine (see
 * bench/README.md for what is measured and why it is fair). The driver
 * (bench.c) runs the figure families (fig_*.c), each against a gsvmd it
 * starts with the configuration the family needs, and the baselines
 * (baseline_*.c); it prints a table, writes results.json with the raw samples
 * and draws chart.png with gnuplot. It never fails on time: the exit status
 * is non-zero only when a setup failed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <json-c/json.h>

#define BENCH_KIB ((size_t)1 << 10)
#define BENCH_MIB ((size_t)1 << 20)
#define BENCH_GIB ((size_t)1 << 30)
#define BENCH_PAGE ((size_t)4096)
#define BENCH_NS 1000000000ULL

/**
 * struct bench_opts - What the driver was asked to do
 * @quick: BENCH_QUICK=1: the reduced run (under a minute)
 * @gsvmd: The gsvmd binary
 * @outdir: Where results.json and chart.png go
 * @plot: The gnuplot script
 * @only: Comma-separated families to run (NULL: all)
 * @datadir: Temporary directory for the chart's data files
 */
struct bench_opts {
	bool quick;
	const char *gsvmd;
	const char *outdir;
	const char *plot;
	const char *only;
	char datadir[64];
};

/* A gsvmd of the benchmark's own, on a private socket. */
struct bench_daemon {
	pid_t pid;
	char dir[32];
	char sock[96];
	char log[96];
};

int daemon_start(const struct bench_opts *o, struct bench_daemon *d, const char *config);
void daemon_stop(struct bench_daemon *d);
void daemon_dump_log(const struct bench_daemon *d);

/*
 * Samples (nanoseconds, bytes, counts) in shared memory: forked children
 * append, the driver reads once they have exited.
 */
struct samples {
	size_t cap;
	size_t n;
	uint64_t v[];
};

struct samples *samples_new(size_t cap);
void samples_free(struct samples *s);
void samples_add(struct samples *s, uint64_t v);
void samples_sort(struct samples *s);
/* Nearest-rank percentile (0 < @p <= 100) of sorted samples; NAN when empty. */
double samples_pct(const struct samples *s, double p);
double samples_mean(const struct samples *s);
json_object *samples_json(const struct samples *s);
/* Write a CDF (value / @scale, fraction) of sorted samples to @path for gnuplot. */
int samples_write_cdf(const struct samples *s, double scale, const char *path);

/* Shared anonymous memory a child can write and its parent read. */
void *shared_alloc(size_t size);
void shared_free(void *p, size_t size);

double median(double *v, size_t n);
uint64_t bench_now_ns(void);
void bench_sleep_us(unsigned int us);
uint64_t xorshift64(uint64_t *state);
/* A random permutation of 0..n-1 from @seed. */
void shuffle_order(uint32_t *order, size_t n, uint64_t seed);

/* Fork, run @fn(@arg) in the child under alarm(@timeout_s); exit status. */
pid_t child_spawn(int (*fn)(void *arg), void *arg, unsigned int timeout_s);
int child_wait(pid_t pid);
int child_run(int (*fn)(void *arg), void *arg, unsigned int timeout_s);

/*
 * The CPU side of a fault measurement, shared by gsvm's client and the
 * baseline's faulting process so both time exactly the same loop: for each
 * unit (in @order), read the first 8 bytes of @base + unit * @unit_size,
 * timed with CLOCK_MONOTONIC around the access. Latencies go to @lat (may be
 * NULL). Return: nanoseconds for the whole loop.
 */
uint64_t touch_units(const uint8_t *base, size_t unit_size, const uint32_t *order, size_t n,
		     struct samples *lat);

/**
 * struct fault_cfg - One fault measurement (gsvm and baseline alike)
 * @size: Bytes of the region
 * @unit: Bytes per fault: the chunk size (4 KiB or 2 MiB)
 * @warmup: Untimed rounds first
 * @rounds: Timed rounds
 * @seed: Data pattern and order seed (round r uses @seed + r)
 */
struct fault_cfg {
	size_t size;
	size_t unit;
	unsigned int warmup;
	unsigned int rounds;
	unsigned int seed;
};

/*
 * Baseline: the minimal userfaultfd handler (baseline_uffd.c). Per-fault
 * latencies go to @lat, each timed round's loop time to @round_ns.
 */
int baseline_uffd(const struct fault_cfg *c, struct samples *lat, struct samples *round_ns);

/* Baseline: memcpy between two pre-faulted memfd buffers (baseline_memcpy.c). */
struct memcpy_buf {
	uint8_t *src, *dst;
	int src_fd, dst_fd;
	size_t size;
};
int memcpy_setup(struct memcpy_buf *b, size_t size);
/* Timed memcpy of the whole buffer, nanoseconds; @cold punches @dst first. */
uint64_t memcpy_timed(struct memcpy_buf *b, bool cold);
/*
 * Context for prefetch h2d: what moving data out of a memfd costs with no
 * gsvm at all. Refills @src (untimed), then times pread() of it into @dst
 * and a hole punched in it, split over @threads threads; nanoseconds, 0 on
 * an error.
 */
uint64_t moveout_timed(struct memcpy_buf *b, unsigned int threads);
void memcpy_teardown(struct memcpy_buf *b);

/* Baseline: SOCK_SEQPACKET ping-pong between two processes (baseline_seqpacket.c). */
int baseline_pingpong(size_t req_size, size_t reply_size, uint64_t window_ns, uint64_t *count,
		      uint64_t *elapsed_ns);

enum target_kind {
	TARGET_RATIO_MAX, /* ratio <= target */
	TARGET_RATIO_MIN, /* ratio >= target */
	TARGET_ABS_MAX, /* the gsvm figure itself <= target */
};

/**
 * struct figure - One row of the table
 * @name: "fault_4k p50"
 * @unit: Unit of @gsvm and @baseline as printed
 * @gsvm: gsvm's figure
 * @baseline: The baseline's, NAN when there is none
 * @ratio: @gsvm / @baseline (NAN when no baseline)
 * @target: The target, as @kind says
 * @kind: How @target applies
 * @failed: The setup failed; nothing was measured
 */
struct figure {
	char name[32];
	char unit[12];
	double gsvm, baseline, ratio, target;
	enum target_kind kind;
	bool failed;
};

#define REPORT_MAX_FIGURES 32

/**
 * struct report - Everything a run produced
 * @fig: Table rows, in order
 * @nfig: Rows used
 * @root: results.json
 * @figures: results.json's "figures" (per family: summary and raw samples)
 * @setup_failed: Some family could not be set up (exit status 1)
 */
struct report {
	struct figure fig[REPORT_MAX_FIGURES];
	int nfig;
	json_object *root;
	json_object *figures;
	bool setup_failed;
};

void report_add(struct report *r, const char *name, const char *unit, double gsvm, double baseline,
		double target, enum target_kind kind);
void report_failed(struct report *r, const char *name);
bool figure_pass(const struct figure *f);
void report_print(const struct report *r, FILE *out);
/* json helpers */
void json_add_double(json_object *o, const char *key, double v);
void json_add_int(json_object *o, const char *key, int64_t v);
void json_add_str(json_object *o, const char *key, const char *v);

/* gsvmd's RssAnon and RssShmem in KiB (from /proc/PID/status); -1 when unknown. */
long proc_status_kb(pid_t pid, const char *field);

/* The figure families. Each returns 0, or -1 when its setup failed. */
int fig_fault(const struct bench_opts *o, struct report *r, size_t unit);
int fig_prefetch(const struct bench_opts *o, struct report *r);
int fig_rpc(const struct bench_opts *o, struct report *r);
int fig_scale_ranges(const struct bench_opts *o, struct report *r);
int fig_scale_clients(const struct bench_opts *o, struct report *r);
int fig_metadata(const struct bench_opts *o, struct report *r);

/* Progress on stderr (the table goes to stdout). */
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
