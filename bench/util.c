// SPDX-License-Identifier: MIT
/*
 * gsvm-bench plumbing: a private gsvmd, samples in shared memory,
 * statistics, forked children, the table and results.json helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "harness.h"

void bench_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * BENCH_NS + (uint64_t)ts.tv_nsec;
}

void bench_sleep_us(unsigned int us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

uint64_t xorshift64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

void shuffle_order(uint32_t *order, size_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	size_t i, j;
	uint32_t t;

	for (i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	for (i = n; i > 1; i--) {
		j = (size_t)(xorshift64(&s) % i);
		t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
}

/*
 * gsvmd runs without -v (no debug lines in the way of what is measured),
 * its log in a private directory, printed when something goes wrong.
 */
int daemon_start(const struct bench_opts *o, struct bench_daemon *d, const char *config)
{
	char conf[160];
	uint64_t deadline;
	FILE *f;
	int fd;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/gsvm-bench.XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	snprintf(d->sock, sizeof(d->sock), "%s/gsvmd.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/gsvmd.log", d->dir);
	snprintf(conf, sizeof(conf), "%s/gsvmd.conf", d->dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fputs(config, f);
	fclose(f);
	fflush(NULL);
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (!d->pid) {
		fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		unsetenv("GSVM_SOCKET");
		/* A benchmark that dies (^C, a crash) takes its gsvmd along. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execl(o->gsvmd, "gsvmd", "-s", d->sock, "-c", conf, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", o->gsvmd, strerror(errno));
		_exit(127);
	}
	deadline = bench_now_ns() + 30 * BENCH_NS;
	while (!socket_answers(d->sock)) {
		if (bench_now_ns() > deadline || waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			bench_log("gsvmd (%s) did not come up", o->gsvmd);
			daemon_dump_log(d);
			d->pid = 0;
			daemon_stop(d);
			return -1;
		}
		bench_sleep_us(5000);
	}
	return 0;
}

void daemon_dump_log(const struct bench_daemon *d)
{
	char line[512];
	FILE *f = fopen(d->log, "r");

	if (!f)
		return;
	fprintf(stderr, "---- gsvmd log (%s) ----\n", d->log);
	while (fgets(line, sizeof(line), f))
		fputs(line, stderr);
	fprintf(stderr, "---- end of gsvmd log ----\n");
	fclose(f);
}

void daemon_stop(struct bench_daemon *d)
{
	char path[192];
	int status;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		if (waitpid(d->pid, &status, 0) == d->pid &&
		    (!WIFEXITED(status) || WEXITSTATUS(status))) {
			bench_log("gsvmd exited abnormally (status %#x)", status);
			daemon_dump_log(d);
		}
		d->pid = 0;
	}
	if (!d->dir[0])
		return;
	snprintf(path, sizeof(path), "%s/gsvmd.conf", d->dir);
	unlink(path);
	unlink(d->log);
	unlink(d->sock);
	rmdir(d->dir);
	d->dir[0] = 0;
}

void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void shared_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

struct samples *samples_new(size_t cap)
{
	struct samples *s = shared_alloc(sizeof(*s) + cap * sizeof(uint64_t));

	if (s) {
		s->cap = cap;
		s->n = 0;
	}
	return s;
}

void samples_free(struct samples *s)
{
	if (s)
		shared_free(s, sizeof(*s) + s->cap * sizeof(uint64_t));
}

void samples_add(struct samples *s, uint64_t v)
{
	if (s && s->n < s->cap)
		s->v[s->n++] = v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void samples_sort(struct samples *s)
{
	qsort(s->v, s->n, sizeof(s->v[0]), cmp_u64);
}

double samples_pct(const struct samples *s, double p)
{
	size_t rank;

	if (!s || !s->n)
		return NAN;
	rank = (size_t)ceil(p / 100.0 * (double)s->n);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return (double)s->v[rank - 1];
}

double samples_mean(const struct samples *s)
{
	double sum = 0;
	size_t i;

	if (!s || !s->n)
		return NAN;
	for (i = 0; i < s->n; i++)
		sum += (double)s->v[i];
	return sum / (double)s->n;
}

json_object *samples_json(const struct samples *s)
{
	json_object *a = json_object_new_array_ext(s ? (int)s->n : 0);
	size_t i;

	for (i = 0; s && i < s->n; i++)
		json_object_array_add(a, json_object_new_int64((int64_t)s->v[i]));
	return a;
}

int samples_write_cdf(const struct samples *s, double scale, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i, step;

	if (!f)
		return -1;
	/* At most ~2000 points: every step-th sample, and always the last. */
	step = s->n > 2000 ? s->n / 2000 : 1;
	for (i = 0; i < s->n; i += step)
		fprintf(f, "%.3f %.6f\n", (double)s->v[i] / scale, (double)(i + 1) / (double)s->n);
	if (s->n)
		fprintf(f, "%.3f 1\n", (double)s->v[s->n - 1] / scale);
	return fclose(f) ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median(double *v, size_t n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

pid_t child_spawn(int (*fn)(void *arg), void *arg, unsigned int timeout_s)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		alarm(timeout_s);
		_exit(fn(arg));
	}
	return pid;
}

int child_wait(pid_t pid)
{
	int status;

	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status)) {
		bench_log("child %d killed by signal %d%s", (int)pid, WTERMSIG(status),
			  WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

int child_run(int (*fn)(void *arg), void *arg, unsigned int timeout_s)
{
	return child_wait(child_spawn(fn, arg, timeout_s));
}

uint64_t touch_units(const uint8_t *base, size_t unit_size, const uint32_t *order, size_t n,
		     struct samples *lat)
{
	struct timespec a, b, start, end;
	uint64_t sink = 0;
	size_t i;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < n; i++) {
		const volatile uint64_t *p =
			(const volatile uint64_t *)(base + (size_t)order[i] * unit_size);

		clock_gettime(CLOCK_MONOTONIC, &a);
		sink += *p;
		clock_gettime(CLOCK_MONOTONIC, &b);
		samples_add(lat, (uint64_t)(b.tv_sec - a.tv_sec) * BENCH_NS + (uint64_t)b.tv_nsec -
					 (uint64_t)a.tv_nsec);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	/* Keep the loads: nothing else reads @sink. */
	__asm__ volatile("" : : "r"(sink));
	return (uint64_t)(end.tv_sec - start.tv_sec) * BENCH_NS + (uint64_t)end.tv_nsec -
	       (uint64_t)start.tv_nsec;
}

long proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			kb = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return kb;
}

void json_add_double(json_object *o, const char *key, double v)
{
	json_object_object_add(o, key, isfinite(v) ? json_object_new_double(v) : NULL);
}

void json_add_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

void json_add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static struct figure *report_row(struct report *r, const char *name)
{
	struct figure *f;

	if (r->nfig >= REPORT_MAX_FIGURES)
		return NULL;
	f = &r->fig[r->nfig++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	return f;
}

void report_add(struct report *r, const char *name, const char *unit, double gsvm, double baseline,
		double target, enum target_kind kind)
{
	struct figure *f = report_row(r, name);

	if (!f)
		return;
	snprintf(f->unit, sizeof(f->unit), "%s", unit);
	f->gsvm = gsvm;
	f->baseline = baseline;
	f->ratio = kind == TARGET_ABS_MAX ? NAN : gsvm / baseline;
	f->target = target;
	f->kind = kind;
}

void report_failed(struct report *r, const char *name)
{
	struct figure *f = report_row(r, name);

	if (f) {
		f->failed = true;
		f->gsvm = f->baseline = f->ratio = NAN;
	}
	r->setup_failed = true;
}

bool figure_pass(const struct figure *f)
{
	switch (f->kind) {
	case TARGET_RATIO_MAX:
		return isfinite(f->ratio) && f->ratio <= f->target;
	case TARGET_RATIO_MIN:
		return isfinite(f->ratio) && f->ratio >= f->target;
	case TARGET_ABS_MAX:
		return isfinite(f->gsvm) && f->gsvm <= f->target;
	}
	return false;
}

/* "12.3 us", "9.87 GB/s": three significant digits or so. */
static void fmt_value(char *buf, size_t len, double v, const char *unit)
{
	if (!isfinite(v))
		snprintf(buf, len, "-");
	else if (fabs(v) >= 1e6)
		snprintf(buf, len, "%.3gM %s", v / 1e6, unit);
	else if (fabs(v) >= 100)
		snprintf(buf, len, "%.0f %s", v, unit);
	else if (fabs(v) >= 10)
		snprintf(buf, len, "%.1f %s", v, unit);
	else
		snprintf(buf, len, "%.2f %s", v, unit);
}

void report_print(const struct report *r, FILE *out)
{
	char g[32], b[32], ratio[16], target[24];
	const struct figure *f;
	int i;

	fprintf(out, "%-20s %-14s %-14s %-8s %-10s %s\n", "figure", "gsvm", "baseline", "ratio",
		"target", "result");
	for (i = 0; i < r->nfig; i++) {
		f = &r->fig[i];
		if (f->failed) {
			fprintf(out, "%-20s %-14s %-14s %-8s %-10s %s\n", f->name, "-", "-", "-",
				"-", "error");
			continue;
		}
		fmt_value(g, sizeof(g), f->gsvm, f->unit);
		fmt_value(b, sizeof(b), f->baseline, f->unit);
		if (isfinite(f->ratio))
			snprintf(ratio, sizeof(ratio), "%.2fx", f->ratio);
		else
			snprintf(ratio, sizeof(ratio), "-");
		switch (f->kind) {
		case TARGET_RATIO_MAX:
			snprintf(target, sizeof(target), "<=%.2gx", f->target);
			break;
		case TARGET_RATIO_MIN:
			snprintf(target, sizeof(target), ">=%.2gx", f->target);
			break;
		case TARGET_ABS_MAX:
			snprintf(target, sizeof(target), "<=%g %s", f->target, f->unit);
			break;
		}
		fprintf(out, "%-20s %-14s %-14s %-8s %-10s %s\n", f->name, g, b, ratio, target,
			figure_pass(f) ? "pass" : "short");
	}
}
