// SPDX-License-Identifier: MIT
/*
 * demo: a tour of libgsvm.
 *
 *   demo [socket]        (default: $GSVM_SOCKET, else /run/gsvm/gsvmd.sock)
 *
 * Allocates 64 MiB of managed memory, fills it from the CPU, moves it to
 * device 0, runs kernels there, moves it to device 1, and reads it all back
 * from the CPU, checking every byte. After each step it prints where the
 * data lives and how long the step took.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gsvm.h"

#define MiB (1024UL * 1024)
#define DEMO_SIZE (64 * MiB)
#define DEMO_MAX_DEVICES 16
#define DEMO_MAX_RUNS 16

/* The kernels of the tour, on byte ranges of the buffer. */
#define ADD_OFF (8 * MiB)
#define ADD_LEN (16 * MiB)
#define ADD_ARG 0x0101010101010101ULL
#define FILL_OFF (40 * MiB)
#define FILL_LEN (8 * MiB)
#define FILL_BYTE 0x5a

static struct gsvm *g;
static struct gsvm_device_info devices[DEMO_MAX_DEVICES];
static int ndevices;
static struct timespec step_start;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "demo: %s: %s\n", what, why);
	exit(1);
}

static void check(int ret, const char *what)
{
	if (ret < 0)
		die(what, gsvm_strerror(ret));
}

static void step(const char *what)
{
	printf("\n== %s\n", what);
	clock_gettime(CLOCK_MONOTONIC, &step_start);
}

static void step_done(void)
{
	struct timespec now;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (double)(now.tv_sec - step_start.tv_sec) * 1e3 +
	     (double)(now.tv_nsec - step_start.tv_nsec) / 1e6;
	printf("   took %.1f ms\n", ms);
}

static const char *location_name(int location)
{
	int i;

	if (location == GSVM_HOST)
		return "host";
	for (i = 0; i < ndevices; i++)
		if (devices[i].id == location)
			return devices[i].name;
	return "?";
}

/* The value of 64-bit word @i of the buffer after the CPU filled it. */
static uint64_t pattern(size_t i)
{
	return (uint64_t)i * 0x9e3779b97f4a7c15ULL;
}

/* The value of word @i at the end of the tour, after ADD and FILL. */
static uint64_t expected(size_t i)
{
	size_t off = i * sizeof(uint64_t);

	if (off >= FILL_OFF && off < FILL_OFF + FILL_LEN)
		return FILL_BYTE * 0x0101010101010101ULL;
	if (off >= ADD_OFF && off < ADD_OFF + ADD_LEN)
		return pattern(i) + ADD_ARG;
	return pattern(i);
}

static uint64_t fnv1a(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Resident set of the mapping containing @p, from /proc/self/smaps, in KiB. */
static long rss_kib(const void *p)
{
	unsigned long start, end, addr = (unsigned long)p;
	bool inside = false;
	char line[512];
	long kib = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* A mapping's header line; its fields follow ("Rss:   1234 kB"). */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			inside = addr >= start && addr < end;
		else if (inside && sscanf(line, "Rss: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* Format a byte count or offset in the largest unit that divides it. */
static const char *human(uint64_t bytes, char *buf, size_t cap)
{
	if (bytes && bytes % MiB == 0)
		snprintf(buf, cap, "%" PRIu64 " MiB", bytes / MiB);
	else if (bytes && bytes % 1024 == 0)
		snprintf(buf, cap, "%" PRIu64 " KiB", bytes / 1024);
	else
		snprintf(buf, cap, "%" PRIu64 " B", bytes);
	return buf;
}

/* Print where [p, p + len) lives, run by run, and its resident size. */
static void show(const void *p, size_t len)
{
	struct gsvm_range_info runs[DEMO_MAX_RUNS];
	char from[32], to[32];
	size_t i, n;
	int ret;

	ret = gsvm_query(g, p, len, runs, DEMO_MAX_RUNS, &n);
	if (ret && ret != -ENOSPC)
		check(ret, "gsvm_query");
	for (i = 0; i < n; i++)
		printf("   [%10s, %10s)  %s\n",
		       human(runs[i].addr - (uintptr_t)p, from, sizeof(from)),
		       human(runs[i].addr + runs[i].len - (uintptr_t)p, to, sizeof(to)),
		       location_name(runs[i].location));
	if (ret == -ENOSPC)
		printf("   ... and more runs\n");
	printf("   resident in this process: %ld KiB\n", rss_kib(p));
}

static void list_devices(void)
{
	int i;

	ndevices = gsvm_device_count(g);
	check(ndevices, "gsvm_device_count");
	if (ndevices > DEMO_MAX_DEVICES)
		ndevices = DEMO_MAX_DEVICES;
	printf("%d device(s):\n", ndevices);
	for (i = 0; i < ndevices; i++) {
		check(gsvm_device_info(g, i, &devices[i]), "gsvm_device_info");
		printf("   %d: %-12s %-6s %6" PRIu64 " MiB, %6" PRIu64 " MiB used%s\n",
		       devices[i].id, devices[i].name, devices[i].provider,
		       devices[i].capacity / MiB, devices[i].used / MiB,
		       devices[i].online ? "" : " (offline)");
	}
	if (ndevices < 1)
		die("gsvm_device_count", "gsvmd has no device");
}

static void prefetch(void *buf, size_t len, int location)
{
	int ret = gsvm_prefetch(g, buf, len, location);

	check(ret, "gsvm_prefetch");
	if (ret == GSVM_PARTIAL)
		printf("   %s\n", gsvm_strerror(ret));
}

static void verify(const uint64_t *words, size_t n)
{
	char why[96];
	size_t i;

	for (i = 0; i < n; i++) {
		if (words[i] != expected(i)) {
			snprintf(why, sizeof(why),
				 "byte %zu: found %016" PRIx64 ", expected %016" PRIx64,
				 i * sizeof(uint64_t), words[i], expected(i));
			die("verify", why);
		}
	}
}

int main(int argc, char **argv)
{
	size_t i, nwords = DEMO_SIZE / sizeof(uint64_t);
	uint64_t cpu_sum, dev_sum;
	uint64_t *buf;
	void *p;

	check(gsvm_connect(argc > 1 ? argv[1] : NULL, &g), "gsvm_connect");
	list_devices();

	step("allocate 64 MiB and fill it from the CPU");
	check(gsvm_alloc(g, DEMO_SIZE, &p), "gsvm_alloc");
	buf = p;
	for (i = 0; i < nwords; i++)
		buf[i] = pattern(i);
	cpu_sum = fnv1a(p, DEMO_SIZE);
	step_done();
	show(p, DEMO_SIZE);

	step("prefetch all of it to device 0");
	prefetch(p, DEMO_SIZE, 0);
	step_done();
	show(p, DEMO_SIZE);

	step("checksum on device 0");
	check(gsvm_device_op(g, 0, GSVM_OP_CHECKSUM, p, DEMO_SIZE, 0, &dev_sum),
	      "gsvm_device_op(CHECKSUM)");
	step_done();
	printf("   device %016" PRIx64 ", CPU %016" PRIx64 "\n", dev_sum, cpu_sum);
	if (dev_sum != cpu_sum)
		die("GSVM_OP_CHECKSUM", "the device and the CPU disagree");

	step("ADD on 16 MiB and FILL on 8 MiB, on device 0");
	check(gsvm_device_op(g, 0, GSVM_OP_ADD, buf + ADD_OFF / 8, ADD_LEN, ADD_ARG, NULL),
	      "gsvm_device_op(ADD)");
	check(gsvm_device_op(g, 0, GSVM_OP_FILL, buf + FILL_OFF / 8, FILL_LEN, FILL_BYTE, NULL),
	      "gsvm_device_op(FILL)");
	step_done();
	show(p, DEMO_SIZE);

	if (ndevices > 1) {
		step("prefetch all of it to device 1 (device to device)");
		prefetch(p, DEMO_SIZE, 1);
		step_done();
		show(p, DEMO_SIZE);
	} else {
		printf("\n== only one device: no peer move\n");
	}

	step("read every byte back from the CPU");
	verify(buf, nwords);
	step_done();
	show(p, DEMO_SIZE);

	check(gsvm_free(g, p), "gsvm_free");
	gsvm_disconnect(g);
	printf("\ndemo: all %lu MiB verified\n", DEMO_SIZE / MiB);
	return 0;
}
