// SPDX-License-Identifier: MIT
/*
 * metadata: how much anonymous memory gsvmd grows by per managed 4 KiB page.
 *
 * A client allocates 4 GiB (quick: 512 MiB) and runs one CHECKSUM device op
 * over the first 4 KiB of every 2 MiB, alternating devices 0 and 1 (two
 * 4 GiB sims). With the default policy each op creates its 2 MiB range and
 * migrates it (first touch), so at the end gsvmd manages every page of the
 * allocation, all of it device-resident: ranges, device allocations and
 * their bookkeeping. Device pools are shared memory (memfds) and do not
 * count; RssAnon of gsvmd (/proc/PID/status) does.
 *
 * RssAnon is read with gsvmd idle before the client connects (after a small
 * warm-up client has come and gone, so the worker threads' start-up costs
 * are paid), and at checkpoints where the client waits for the driver: after
 * its allocation, after an eighth of its ranges, and with everything in
 * place (the client still connected). The figure is the whole growth in
 * bytes over the number of 4 KiB pages managed; the checkpoints (in
 * results.json) split it into a per-client fixed part and a per-range slope.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "gsvm.h"
#include "harness.h"

#define RANGE (2 * BENCH_MIB)

struct meta_job {
	const char *sock;
	size_t size;
	int tell; /* write end: a checkpoint was reached (-1: none) */
	int wait; /* read end: one byte to go on, EOF to disconnect */
	int other[2]; /* the driver's ends, closed in the child */
};

/* One CHECKSUM of 4 KiB per 2 MiB range [first, last), alternating devices. */
static int touch_ranges(struct gsvm *g, uint8_t *p, size_t first, size_t last)
{
	uint8_t zeros[BENCH_PAGE] = { 0 };
	uint64_t expect = fnv1a(zeros, sizeof(zeros)), res;
	size_t k;
	int err;

	for (k = first; k < last; k++) {
		err = gsvm_device_op(g, (int)(k % 2), GSVM_OP_CHECKSUM, p + k * RANGE, BENCH_PAGE,
				     0, &res);
		if (err || res != expect) {
			bench_log("metadata: device op: %s",
				  err ? gsvm_strerror(err) : "wrong checksum");
			return -1;
		}
	}
	return 0;
}

/*
 * Tell the driver about checkpoint @c and wait until it has looked: one byte
 * means go on; after the @last one, EOF means disconnect.
 */
static int checkpoint(const struct meta_job *j, char c, bool last)
{
	char ch;

	if (j->tell < 0)
		return 0;
	if (write(j->tell, &c, 1) != 1 || read(j->wait, &ch, 1) != (last ? 0 : 1))
		return -1;
	return 0;
}

static int meta_client(void *arg)
{
	struct meta_job *j = arg;
	size_t nranges = j->size / RANGE;
	struct gsvm *g;
	uint8_t *p;
	int err;

	if (j->other[0] >= 0)
		close(j->other[0]);
	if (j->other[1] >= 0)
		close(j->other[1]);
	err = gsvm_connect(j->sock, &g);
	if (!err)
		err = gsvm_alloc(g, j->size, (void **)&p);
	if (err) {
		bench_log("metadata: connect/alloc: %s", gsvm_strerror(err));
		return 2;
	}
	if (checkpoint(j, 'a', false) || touch_ranges(g, p, 0, nranges / 8) ||
	    checkpoint(j, 'e', false) || touch_ranges(g, p, nranges / 8, nranges) ||
	    checkpoint(j, 'd', true))
		return 2;
	/* The warm-up client also brings its data home from the CPU. */
	if (j->tell < 0)
		memset(p, 1, j->size);
	gsvm_disconnect(g);
	return 0;
}

/* Wait for the client's checkpoint, then read gsvmd's RssAnon. */
static long at_checkpoint(int from, pid_t gsvmd)
{
	char ch;

	if (read(from, &ch, 1) != 1)
		return -1;
	bench_sleep_us(50000);
	return proc_status_kb(gsvmd, "RssAnon");
}

int fig_metadata(const struct bench_opts *o, struct report *r)
{
	static const char config[] = "[device.sim0]\nprovider = sim\ncapacity = 4G\n"
				     "[device.sim1]\nprovider = sim\ncapacity = 4G\n";
	struct meta_job warm = {
		.size = 4 * BENCH_MIB, .tell = -1, .wait = -1, .other = { -1, -1 }
	};
	struct meta_job j = { .size = o->quick ? 512 * BENCH_MIB : 4 * BENCH_GIB };
	size_t nranges = j.size / RANGE;
	long before = -1, alloc = -1, eighth = -1, after = -1, shmem;
	int up[2] = { -1, -1 }, down[2] = { -1, -1 }, ret = -1, i;
	double pages = (double)j.size / BENCH_PAGE, per_page = NAN, slope;
	struct gsvmd_stats st;
	struct bench_daemon d;
	json_object *fam;
	pid_t pid = -1;
	bool ok = false;

	if (daemon_start(o, &d, config))
		goto out;
	warm.sock = j.sock = d.sock;
	if (child_run(meta_client, &warm, 120))
		goto out_stop;
	bench_sleep_us(200000);
	before = proc_status_kb(d.pid, "RssAnon");
	if (pipe2(up, O_CLOEXEC) || pipe2(down, O_CLOEXEC))
		goto out_stop;
	j.tell = up[1];
	j.wait = down[0];
	j.other[0] = up[0];
	j.other[1] = down[1];
	bench_log("metadata: %zu MiB as %zu ranges of 2 MiB", j.size / BENCH_MIB, nranges);
	pid = child_spawn(meta_client, &j, 600);
	close(up[1]);
	close(down[0]);
	up[1] = down[0] = -1;
	if (pid < 0)
		goto out_stop;
	/* A failed step below is explained by the client or the checks. */
	alloc = at_checkpoint(up[0], d.pid);
	if (alloc < 0 || write(down[1], "g", 1) != 1)
		goto out_child;
	eighth = at_checkpoint(up[0], d.pid);
	if (eighth < 0 || write(down[1], "g", 1) != 1)
		goto out_child;
	after = at_checkpoint(up[0], d.pid);
	shmem = proc_status_kb(d.pid, "RssShmem");
	if (after < 0 || before < 0)
		goto out_child;
	if (gsvmd_get_stats(d.sock, &st) || st.ranges != nranges ||
	    st.used[0] + st.used[1] != j.size) {
		bench_log("metadata: gsvmd has %llu ranges and %llu bytes on devices, expected %zu "
			  "and %zu",
			  (unsigned long long)st.ranges,
			  (unsigned long long)(st.used[0] + st.used[1]), nranges, j.size);
		goto out_child;
	}
	ok = true;
out_child:
	close(down[1]);
	down[1] = -1;
	if (child_wait(pid))
		ok = false;
	if (!ok)
		goto out_stop;
	per_page = (double)(after - before) * 1024.0 / pages;
	slope = (double)(after - eighth) * 1024.0 / (double)(nranges - nranges / 8);
	fam = json_object_new_object();
	json_add_str(fam, "config", config);
	json_add_int(fam, "managed_bytes", (int64_t)j.size);
	json_add_int(fam, "pages", (int64_t)pages);
	json_add_int(fam, "ranges", (int64_t)st.ranges);
	json_add_int(fam, "rss_anon_idle_kb", before);
	json_add_int(fam, "rss_anon_after_alloc_kb", alloc);
	json_add_int(fam, "rss_anon_after_eighth_kb", eighth);
	json_add_int(fam, "rss_anon_after_all_kb", after);
	json_add_int(fam, "rss_shmem_after_all_kb", shmem);
	json_add_double(fam, "bytes_per_page", per_page);
	json_add_double(fam, "bytes_per_range_marginal", slope);
	json_add_double(fam, "bytes_per_page_marginal", slope / (double)(RANGE / BENCH_PAGE));
	json_object_object_add(r->figures, "metadata", fam);
	report_add(r, "metadata", "B/page", per_page, NAN, 1.0, TARGET_ABS_MAX);
	ret = 0;
out_stop:
	daemon_stop(&d);
out:
	for (i = 0; i < 2; i++) {
		if (up[i] >= 0)
			close(up[i]);
		if (down[i] >= 0)
			close(down[i]);
	}
	if (ret)
		report_failed(r, "metadata");
	return ret;
}
