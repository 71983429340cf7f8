// SPDX-License-Identifier: MIT
/*
 * hostile: throw hostile clients at a running gsvmd (see hostile.h).
 *
 *   hostile [-s] [-l] [-o NAME,...] [-c CYCLES] [-k KILLS] [-r SEED] SOCKET
 *
 * -s strict: nothing else uses this gsvmd; check its descriptors and device
 *    memory after each attack. -l lists the attacks. -o runs only the named
 *    ones. -c sets the connect/disconnect cycles (10000), -k the clients
 *    killed at random moments (200).
 *
 * Prints one line per attack, "ok" or "FAILED", and exits 0 when every
 * attack passed and gsvmd is still alive.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gsvm.h"
#include "harness.h"
#include "hostile.h"

static const struct attack attacks[] = {
	{ "garbage", attack_garbage, 60 },
	{ "empty-datagram", attack_empty_datagram, 30 },
	{ "truncated-protobuf", attack_truncated, 60 },
	{ "wrong-message-types", attack_wrong_types, 30 },
	{ "huge-lengths", attack_huge_lengths, 60 },
	{ "oversized-datagram", attack_oversized, 30 },
	{ "before-hello", attack_before_hello, 30 },
	{ "hello-fds", attack_hello_fds, 30 },
	{ "close-userfaultfd", attack_close_uffd, 60 },
	{ "userfaultfd-no-api", attack_uffd_no_api, 60 },
	{ "unregistered-memory", attack_unregistered_memory, 60 },
	{ "memory-without-wp", attack_memory_without_wp, 60 },
	{ "non-memfd", attack_non_memfd, 30 },
	{ "unsealed-memfd", attack_unsealed_memfd, 30 },
	{ "truncation", attack_truncation, 60 },
	{ "late-write-seal", attack_late_write_seal, 60 },
	{ "alloc-without-fd", attack_alloc_no_fd, 30 },
	{ "extra-fds", attack_extra_fds, 30 },
	{ "truncated-control", attack_ctrunc, 30 },
	{ "registrations", attack_registrations, 60 },
	{ "unmapped-address", attack_unmapped_address, 60 },
	{ "past-end", attack_past_end, 60 },
	{ "munmap-during-prefetch", attack_munmap_prefetch, 120 },
	{ "munmap-then-alloc", attack_munmap_then_alloc, 60 },
	{ "free-racing-prefetch", attack_free_prefetch, 120 },
	{ "free-racing-prefetch-threads", attack_free_prefetch_threads, 120 },
	{ "connect-cycles", attack_connect_cycles, 300 },
	{ "idle-connections", attack_idle_connections, 60 },
	{ "inflight-flood", attack_inflight_flood, 120 },
	{ "never-reads", attack_never_reads, 120 },
	{ "events-unread", attack_events_unread, 60 },
	{ "slow-reader", attack_slow_reader, 120 },
	{ "die-with-replies-queued", attack_die_with_replies_queued, 120 },
	{ "random-kills", attack_random_kills, 300 },
	{ NULL, NULL, 0 },
};

static uint64_t rng_state = 88172645463325252ULL;

uint64_t hrand(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

uint64_t hnow_ns(void)
{
	return now_ns();
}

void hsleep_us(unsigned long us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void note(const char *fmt, ...)
{
	va_list ap;

	printf("    ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

const char *errname(int err)
{
	static __thread char buf[32];
	const char *n;

	if (err == 0)
		return "0";
	if (err < 0 && (n = strerrorname_np(-err)))
		return n;
	snprintf(buf, sizeof(buf), "%d", err);
	return buf;
}

int hconn_open(struct hostile *h, struct hconn *c, bool uffd)
{
	int err;

	c->uffd = -1;
	err = rawconn_open(h->sock, &c->rc);
	if (err)
		return err;
	if (uffd) {
		c->uffd = rawmem_uffd(true);
		if (c->uffd < 0) {
			err = c->uffd;
			goto err;
		}
	}
	err = rawconn_hello(&c->rc, c->uffd, uffd);
	if (!err)
		return 0;
err:
	hconn_close(c);
	return err;
}

void hconn_close(struct hconn *c)
{
	rawconn_close(&c->rc);
	if (c->uffd >= 0)
		close(c->uffd);
	c->uffd = -1;
}

bool conn_works(struct rawconn *rc)
{
	unsigned int n = 0;

	return !rawconn_devices(rc, &n) && n > 0;
}

int fdprobe_open(struct fdprobe *p)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	p->rd = fds[0];
	p->wr = fds[1];
	return 0;
}

bool fdprobe_closed(struct fdprobe *p)
{
	uint64_t deadline = hnow_ns() + 2000000000ULL;
	char b = 0;

	if (p->rd >= 0)
		close(p->rd);
	p->rd = -1;
	/* gsvmd closes before it answers; allow a moment all the same. */
	for (;;) {
		if (write(p->wr, &b, 1) < 0 && errno == EPIPE)
			return true;
		if (hnow_ns() > deadline)
			return false;
		hsleep_us(1000);
	}
}

void fdprobe_close(struct fdprobe *p)
{
	if (p->rd >= 0)
		close(p->rd);
	if (p->wr >= 0)
		close(p->wr);
	p->rd = p->wr = -1;
}

/* A fresh, well-behaved libgsvm client round trip: gsvmd still serves. */
static int probe_client(struct hostile *h)
{
	size_t size = 2 * MiB;
	uint64_t sum = 0;
	struct gsvm *g;
	void *p;
	int err;

	err = gsvm_connect(h->sock, &g);
	if (err) {
		printf("    probe: connect: %s\n", errname(err));
		return 1;
	}
	err = gsvm_alloc(g, size, &p);
	if (!err) {
		fill_pattern(p, size, 4242);
		err = gsvm_prefetch(g, p, size, 0);
	}
	if (!err)
		err = gsvm_device_op(g, 1, GSVM_OP_CHECKSUM, p, size, 0, &sum);
	if (!err && check_pattern(p, size, 4242) >= 0)
		err = -EIO;
	if (!err && sum != fnv1a(p, size))
		err = -EILSEQ;
	if (err)
		printf("    probe: %s\n", errname(err));
	gsvm_disconnect(g);
	return err ? 1 : 0;
}

/* Device memory in use on every device, from a devices request. */
static int devices_used(struct hostile *h, uint64_t *used)
{
	struct gsvm_device_info info;
	struct gsvm *g;
	int i, n, err;

	err = gsvm_connect(h->sock, &g);
	if (err)
		return err;
	*used = 0;
	n = gsvm_device_count(g);
	for (i = 0; i < n; i++) {
		err = gsvm_device_info(g, i, &info);
		if (err)
			break;
		*used += info.used;
	}
	gsvm_disconnect(g);
	return err;
}

/* Strict mode: descriptors and device memory back to where they were. */
static bool strict_settled(struct hostile *h, int fds_before, int *fds_after, uint64_t *used)
{
	uint64_t deadline = hnow_ns() + 10ULL * 1000000000ULL;

	for (;;) {
		*fds_after = proc_fd_count(h->gsvmd_pid);
		if (devices_used(h, used))
			*used = UINT64_MAX;
		if (*fds_after <= fds_before && *used == 0)
			return true;
		if (hnow_ns() > deadline)
			return false;
		hsleep_us(20000);
	}
}

static bool gsvmd_alive(struct hostile *h)
{
	return kill(h->gsvmd_pid, 0) == 0;
}

/*
 * The checks after an attack run in a child under a timeout: a gsvmd that
 * stopped answering must fail the attack, not hang the program.
 * Return: 0, 1 when a check failed, 2 when gsvmd did not answer.
 */
static int post_check(struct hostile *h, int fds_before)
{
	int status, fds_after = -1;
	uint64_t used = 0;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		alarm(30);
		if (probe_client(h)) {
			printf("    gsvmd no longer serves a well-behaved client\n");
			_exit(1);
		}
		if (h->strict && !strict_settled(h, fds_before, &fds_after, &used)) {
			printf("    gsvmd holds %d descriptors (was %d), %llu device bytes (was 0)\n",
			       fds_after, fds_before, (unsigned long long)used);
			_exit(1);
		}
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		printf("    gsvmd does not answer a well-behaved client within 30 s: hung\n");
		return 2;
	}
	return WEXITSTATUS(status) ? 1 : 0;
}

/* Print the kernel stacks of @pid's threads, then gsvmd's threads (gdb). */
static void dump_stacks(struct hostile *h, pid_t pid)
{
	char cmd[512];

	printf("    the attack is about to time out; its threads' kernel stacks, then gsvmd's:\n");
	fflush(stdout);
	snprintf(cmd, sizeof(cmd),
		 "for t in /proc/%d/task/*; do echo \"    -- $t\"; sed 's/^/      /' $t/stack; "
		 "done 2>/dev/null; for t in /proc/%d/task/*; do echo \"    -- gsvmd $t $(cut -d' ' "
		 "-f3 $t/stat)\"; sed 's/^/      /' $t/stack; done 2>/dev/null; "
		 "command -v gdb >/dev/null && gdb -p %d -batch -ex 'thread apply all bt 16' "
		 "2>/dev/null | grep -E '^#|^Thread' | sed 's/^/      /'",
		 (int)pid, (int)h->gsvmd_pid, (int)h->gsvmd_pid);
	if (system(cmd) < 0)
		printf("    (could not run the dump)\n");
	fflush(stdout);
}

/* Wait for the attack @pid; dump stacks shortly before its alarm fires. */
static void wait_attack(struct hostile *h, const struct attack *a, pid_t pid, int *status)
{
	uint64_t dump_at = hnow_ns() + ((uint64_t)a->timeout_s * 1000 - 1500) * 1000000ULL;
	bool dumped = false;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return;
		if (!dumped && hnow_ns() > dump_at) {
			dumped = true;
			dump_stacks(h, pid);
		}
		hsleep_us(20000);
	}
}

static int run_attack(struct hostile *h, const struct attack *a)
{
	int status, fds_before = -1, failed = 0, check;
	uint64_t start = hnow_ns();
	pid_t pid;

	printf("hostile: %s\n", a->name);
	fflush(stdout);
	if (h->strict)
		fds_before = proc_fd_count(h->gsvmd_pid);
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		signal(SIGPIPE, SIG_IGN);
		alarm(a->timeout_s);
		rng_state ^= (uint64_t)h->seed * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(a - attacks);
		if (!rng_state)
			rng_state = 1;
		_exit(a->fn(h));
	}
	wait_attack(h, a, pid, &status);
	if (WIFSIGNALED(status)) {
		printf("    attack process killed by signal %d%s\n", WTERMSIG(status),
		       WTERMSIG(status) == SIGALRM ? " (timeout: gsvmd stopped answering?)" : "");
		failed = 1;
	} else if (WEXITSTATUS(status)) {
		failed = 1;
	}
	if (!gsvmd_alive(h)) {
		printf("    gsvmd is gone\n");
		failed = 1;
	} else if ((check = post_check(h, fds_before))) {
		failed = 1;
		h->hung = check == 2;
	}
	printf("hostile: %-30s %s (%.2f s)\n", a->name, failed ? "FAILED" : "ok",
	       (double)(hnow_ns() - start) / 1e9);
	fflush(stdout);
	return failed;
}

static bool selected(const char *only, const char *name)
{
	size_t n = strlen(name);
	const char *p = only;

	if (!only)
		return true;
	while ((p = strstr(p, name))) {
		if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

static void usage(void)
{
	fprintf(stderr, "usage: hostile [-s] [-l] [-o NAME,...] [-c CYCLES] [-k KILLS] [-r SEED] "
			"SOCKET\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct hostile h = { .cycles = 10000, .kills = 200, .seed = 1 };
	const struct attack *a;
	const char *only = NULL;
	unsigned int ran = 0, failed = 0;
	struct rawconn rc;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt_long(argc, argv, "slo:c:k:r:", NULL, NULL)) != -1) {
		switch (opt) {
		case 's':
			h.strict = true;
			break;
		case 'l':
			for (a = attacks; a->name; a++)
				printf("%s\n", a->name);
			return 0;
		case 'o':
			only = optarg;
			break;
		case 'c':
			h.cycles = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			h.kills = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			h.seed = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	h.sock = argv[optind];
	signal(SIGPIPE, SIG_IGN);
	err = rawconn_open(h.sock, &rc);
	if (err) {
		fprintf(stderr, "hostile: cannot connect to %s: %s\n", h.sock, strerror(-err));
		return 1;
	}
	h.gsvmd_pid = rawconn_peer_pid(&rc);
	rawconn_close(&rc);
	printf("hostile: gsvmd pid %d, %d descriptors, RssAnon %ld KiB\n", (int)h.gsvmd_pid,
	       proc_fd_count(h.gsvmd_pid), proc_rss_anon_kb(h.gsvmd_pid));
	for (a = attacks; a->name; a++) {
		if (!selected(only, a->name))
			continue;
		ran++;
		failed += (unsigned int)run_attack(&h, a);
		if (!gsvmd_alive(&h) || h.hung)
			break;
	}
	printf("hostile: %u attacks, %u failed; gsvmd %s, %d descriptors, RssAnon %ld KiB\n", ran,
	       failed,
	       !gsvmd_alive(&h) ? "DEAD" :
	       h.hung		? "HUNG (stopped here)" :
				  "alive",
	       proc_fd_count(h.gsvmd_pid), proc_rss_anon_kb(h.gsvmd_pid));
	return failed || !ran || !gsvmd_alive(&h) ? 1 : 0;
}
