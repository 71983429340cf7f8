// SPDX-License-Identifier: MIT
/*
 * gsvm-bench: gsvm side by side with this machine's own limits.
 *
 *   gsvm-bench [--quick] [--gsvmd PATH] [--out DIR] [--plot FILE] [--only LIST]
 *
 * Runs every figure family (or those in LIST, comma-separated: fault_4k,
 * fault_2m, prefetch, rpc, scale_ranges, scale_clients, metadata), each
 * against a gsvmd it starts itself, and each next to a baseline measured in
 * the same run. Prints the table on stdout, writes DIR/results.json (every
 * summary and raw sample) and draws DIR/chart.png with gnuplot when gnuplot
 * is installed. BENCH_QUICK=1 (or --quick) runs the reduced version.
 *
 * The gsvmd binary is --gsvmd, else $GSVMD, else "gsvmd" beside this program.
 * Exit status: 0 whatever the timings say; 1 when a setup failed (a gsvmd
 * that does not start, a call that fails, data that comes back wrong).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct family {
	const char *name;
	int (*run)(const struct bench_opts *o, struct report *r);
};

static int run_fault_4k(const struct bench_opts *o, struct report *r)
{
	return fig_fault(o, r, BENCH_PAGE);
}

static int run_fault_2m(const struct bench_opts *o, struct report *r)
{
	return fig_fault(o, r, 2 * BENCH_MIB);
}

static const struct family families[] = {
	{ "fault_4k", run_fault_4k },	      { "fault_2m", run_fault_2m },
	{ "prefetch", fig_prefetch },	      { "rpc", fig_rpc },
	{ "scale_ranges", fig_scale_ranges }, { "scale_clients", fig_scale_clients },
	{ "metadata", fig_metadata },
};

#define NFAMILIES (sizeof(families) / sizeof(families[0]))

static bool selected(const char *only, const char *name)
{
	size_t len = strlen(name);
	const char *p = only;

	if (!only)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == only || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
		p += len;
	}
	return false;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: gsvm-bench [--quick] [--gsvmd PATH] [--out DIR] [--plot FILE] "
		   "[--only LIST]\nfamilies:");
	for (size_t i = 0; i < NFAMILIES; i++)
		fprintf(f, " %s", families[i].name);
	fputc('\n', f);
}

static json_object *machine_json(void)
{
	json_object *m = json_object_new_object();
	struct utsname u;
	char host[256] = "";

	if (!uname(&u)) {
		json_add_str(m, "kernel", u.release);
		json_add_str(m, "arch", u.machine);
	}
	gethostname(host, sizeof(host) - 1);
	json_add_str(m, "host", host);
	json_add_int(m, "cpus_online", sysconf(_SC_NPROCESSORS_ONLN));
	json_add_int(m, "mem_bytes",
		     (int64_t)sysconf(_SC_PHYS_PAGES) * (int64_t)sysconf(_SC_PAGESIZE));
	return m;
}

/* The 1-minute load average, NAN when unknown: a busy machine makes noisy figures. */
static double loadavg(void)
{
	double l = NAN;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = NAN;
		fclose(f);
	}
	return l;
}

/* Which code was measured: `git describe --always --dirty` of the working directory. */
static void add_git(json_object *root)
{
	char line[128] = "";
	FILE *p = popen("git describe --always --dirty 2>/dev/null", "r");

	if (!p)
		return;
	if (fgets(line, sizeof(line), p))
		line[strcspn(line, "\n")] = 0;
	pclose(p);
	if (line[0])
		json_add_str(root, "git", line);
}

static bool have_gnuplot(void)
{
	return !system("command -v gnuplot >/dev/null 2>&1");
}

/* gnuplot -e "datadir='...'; out='...'; quick=N" plot.gp */
static void draw_chart(const struct bench_opts *o)
{
	char *vars = NULL, out[PATH_MAX];
	int status = -1;
	pid_t pid;

	snprintf(out, sizeof(out), "%s/chart.png", o->outdir);
	if (!have_gnuplot()) {
		bench_log("gnuplot is not installed: no chart (scripts/install-deps installs it)");
		return;
	}
	if (access(o->plot, R_OK)) {
		bench_log("%s: %s: no chart (use --plot)", o->plot, strerror(errno));
		return;
	}
	if (asprintf(&vars, "datadir='%s'; out='%s'; quick=%d", o->datadir, out, o->quick) < 0)
		return;
	fflush(NULL);
	pid = fork();
	if (!pid) {
		execlp("gnuplot", "gnuplot", "-e", vars, o->plot, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		status = child_wait(pid);
	free(vars);
	if (status)
		bench_log("gnuplot failed (status %d): no chart", status);
	else
		bench_log("chart: %s", out);
}

/* The chart's data files are plain files in one flat temporary directory. */
static void remove_datadir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	if (rmdir(dir))
		bench_log("could not remove %s: %s", dir, strerror(errno));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "gsvmd", required_argument, NULL, 'g' },
		{ "out", required_argument, NULL, 'o' },
		{ "plot", required_argument, NULL, 'p' },
		{ "only", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_opts o = { .outdir = "bench" };
	char self[PATH_MAX], gsvmd[PATH_MAX + 8], plot[PATH_MAX], path[PATH_MAX];
	const char *env = getenv("BENCH_QUICK");
	struct report r = { .nfig = 0 };
	json_object *timing, *loads;
	uint64_t t0, t1;
	double load0, load1;
	size_t i;
	int c;
	ssize_t len;
	time_t now = time(NULL);
	char stamp[64];

	o.quick = env && *env && strcmp(env, "0");
	o.gsvmd = getenv("GSVMD");
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			o.quick = true;
			break;
		case 'g':
			o.gsvmd = optarg;
			break;
		case 'o':
			o.outdir = optarg;
			break;
		case 'p':
			o.plot = optarg;
			break;
		case 'n':
			o.only = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (o.only) {
		/* Every name in the list must be a family. */
		char *list = strdup(o.only), *save = NULL, *name;

		for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
			for (i = 0; i < NFAMILIES && strcmp(name, families[i].name); i++)
				;
			if (i == NFAMILIES) {
				fprintf(stderr, "gsvm-bench: unknown family '%s'\n", name);
				usage(stderr);
				free(list);
				return 2;
			}
		}
		free(list);
	}
	if (!o.gsvmd) {
		len = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (len < 0)
			return 1;
		self[len] = 0;
		snprintf(gsvmd, sizeof(gsvmd), "%s/gsvmd", dirname(self));
		o.gsvmd = gsvmd;
	}
	if (!o.plot) {
		/* Beside the results (make bench: bench/), else bench/ of the working directory. */
		snprintf(plot, sizeof(plot), "%s/plot.gp", o.outdir);
		o.plot = access(plot, R_OK) ? "bench/plot.gp" : plot;
	}
	if (access(o.gsvmd, X_OK)) {
		fprintf(stderr, "gsvm-bench: %s: %s (use --gsvmd or $GSVMD)\n", o.gsvmd,
			strerror(errno));
		return 1;
	}
	mkdir(o.outdir, 0755);
	snprintf(o.datadir, sizeof(o.datadir), "/tmp/gsvm-bench-data.XXXXXX");
	if (!mkdtemp(o.datadir)) {
		perror("mkdtemp");
		return 1;
	}

	r.root = json_object_new_object();
	r.figures = json_object_new_object();
	timing = json_object_new_object();
	loads = json_object_new_object();
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_add_str(r.root, "started", stamp);
	json_add_str(r.root, "mode", o.quick ? "quick" : "full");
	json_object_object_add(r.root, "machine", machine_json());
	add_git(r.root);
	load0 = loadavg();
	json_add_double(r.root, "loadavg_start", load0);
	bench_log("%s run, gsvmd %s", o.quick ? "quick (BENCH_QUICK=1)" : "full", o.gsvmd);

	t0 = bench_now_ns();
	for (i = 0; i < NFAMILIES; i++) {
		uint64_t f0;

		if (!selected(o.only, families[i].name))
			continue;
		f0 = bench_now_ns();
		if (families[i].run(&o, &r))
			bench_log("%s: setup failed", families[i].name);
		json_add_double(timing, families[i].name, (double)(bench_now_ns() - f0) / 1e9);
		json_add_double(loads, families[i].name, loadavg());
		bench_log("%s: %.1f s", families[i].name, (double)(bench_now_ns() - f0) / 1e9);
	}
	t1 = bench_now_ns();
	json_add_double(timing, "total", (double)(t1 - t0) / 1e9);
	json_object_object_add(r.root, "seconds", timing);
	json_object_object_add(r.root, "loadavg_after", loads);
	load1 = loadavg();
	json_add_double(r.root, "loadavg_end", load1);

	/* The table, also kept in results.json. */
	{
		json_object *rows = json_object_new_array();

		for (c = 0; c < r.nfig; c++) {
			const struct figure *f = &r.fig[c];
			json_object *row = json_object_new_object();

			json_add_str(row, "figure", f->name);
			json_add_str(row, "unit", f->unit);
			json_add_double(row, "gsvm", f->gsvm);
			json_add_double(row, "baseline", f->baseline);
			json_add_double(row, "ratio", f->ratio);
			json_add_double(row, "target", f->target);
			json_add_str(row, "target_applies_to",
				     f->kind == TARGET_ABS_MAX ? "gsvm" : "ratio");
			json_add_str(row, "target_is",
				     f->kind == TARGET_RATIO_MIN ? "minimum" : "maximum");
			json_add_str(row, "result",
				     f->failed	    ? "error" :
				     figure_pass(f) ? "pass" :
						      "short");
			json_object_array_add(rows, row);
		}
		json_object_object_add(r.root, "table", rows);
	}
	json_object_object_add(r.root, "figures", r.figures);

	printf("\ngsvm-bench (%s run, %.0f s, load average %.1f -> %.1f on %ld CPUs)\n",
	       o.quick ? "quick" : "full", (double)(t1 - t0) / 1e9, load0, load1,
	       sysconf(_SC_NPROCESSORS_ONLN));
	if (load0 > (double)sysconf(_SC_NPROCESSORS_ONLN) ||
	    load1 > (double)sysconf(_SC_NPROCESSORS_ONLN))
		printf("note: the machine was busy with other work; figures are noisier than usual\n");
	report_print(&r, stdout);
	fflush(stdout);

	snprintf(path, sizeof(path), "%s/results.json", o.outdir);
	if (json_object_to_file_ext(path, r.root, JSON_C_TO_STRING_PLAIN)) {
		bench_log("writing %s: %s", path, json_util_get_last_err());
		r.setup_failed = true;
	} else {
		bench_log("results: %s", path);
	}
	draw_chart(&o);
	remove_datadir(o.datadir);
	json_object_put(r.root);
	return r.setup_failed ? 1 : 0;
}
