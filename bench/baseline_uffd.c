// SPDX-License-Identifier: MIT
/*
 * Baseline for fault_4k and fault_2m: the least a userfaultfd fault path can
 * cost on this machine with libgsvm's memory setup.
 *
 * A faulting process sets memory up exactly as libgsvm does, with libgsvm's
 * own code (client/region.c: a sealed memfd mapped MAP_SHARED at a 2 MiB
 * boundary, MADV_DONTFORK; client/uffd_client.c: the same userfaultfd
 * features, registered in MISSING and WP modes). A handler process (forked,
 * so it holds the userfaultfd as gsvmd does after SCM_RIGHTS) keeps the data
 * in a memfd of the same size, as a sim device keeps it in its pool, and does
 * nothing but a blocking read() of one message and one UFFDIO_COPY of the
 * faulting unit (4 KiB or 2 MiB, waking the faulter) per fault.
 *
 * Each round makes every page missing again by punching the memfd (what
 * gsvmd does when data moves to a device), waits 10 ms (gsvm's side waits out
 * the timeslice after its prefetch), then touches the units in a random
 * order with the loop gsvm's side runs too (touch_units()), and checks every
 * byte that came back.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "harness.h"
#include "region.h"
#include "uffd_client.h"

struct uffd_job {
	const struct fault_cfg *c;
	struct samples *lat;
	struct samples *round_ns;
};

/* The handler: read one message, copy one unit, forever (killed when done). */
static int handler_main(int uffd, const uint8_t *base, const struct fault_cfg *c, int ready)
{
	struct uffd_msg m;
	uint8_t *src;
	uint64_t addr;
	ssize_t n;
	int fd, flags;

	fd = memfd_create("bench-source", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)c->size))
		return 2;
	src = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (src == MAP_FAILED)
		return 2;
	fill_pattern(src, c->size, c->seed);
	/* libgsvm's descriptor is non-blocking; the minimal handler blocks in read(). */
	flags = fcntl(uffd, F_GETFL);
	if (flags < 0 || fcntl(uffd, F_SETFL, flags & ~O_NONBLOCK))
		return 2;
	if (write(ready, "r", 1) != 1)
		return 2;
	for (;;) {
		n = read(uffd, &m, sizeof(m));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(m))
			return 3;
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		addr = m.arg.pagefault.address & ~((uint64_t)c->unit - 1);
		struct uffdio_copy cp = {
			.dst = addr,
			.src = (uintptr_t)(src + (addr - (uintptr_t)base)),
			.len = c->unit,
			.mode = 0,
		};
		if (ioctl(uffd, UFFDIO_COPY, &cp) && errno != EEXIST)
			return 4;
	}
}

static int faulter_main(void *arg)
{
	const struct uffd_job *j = arg;
	const struct fault_cfg *c = j->c;
	size_t n = c->size / c->unit;
	int uffd, memfd, ready[2], ret = 0;
	unsigned int round;
	uint32_t *order;
	uint8_t *base;
	uint64_t ns;
	char ch;
	pid_t h;

	order = malloc(n * sizeof(*order));
	if (!order || uffd_open(&uffd) || region_create(c->size, -1, &memfd, (void **)&base) ||
	    uffd_register(uffd, base, c->size) || pipe2(ready, O_CLOEXEC)) {
		bench_log("baseline_uffd: setup: %s", strerror(errno));
		return 2;
	}
	h = fork();
	if (h < 0)
		return 2;
	if (!h) {
		close(ready[0]);
		_exit(handler_main(uffd, base, c, ready[1]));
	}
	close(ready[1]);
	/*
	 * The handler holds the only reference from now on: should it die, the
	 * registration goes with it and the check below fails at once instead
	 * of a fault waiting forever.
	 */
	close(uffd);
	if (read(ready[0], &ch, 1) != 1) {
		bench_log("baseline_uffd: the handler did not start");
		ret = 2;
		goto out;
	}
	for (round = 0; round < c->warmup + c->rounds; round++) {
		bool timed = round >= c->warmup;

		if (fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			      (off_t)c->size)) {
			ret = 2;
			break;
		}
		bench_sleep_us(10000);
		shuffle_order(order, n, c->seed + round);
		ns = touch_units(base, c->unit, order, n, timed ? j->lat : NULL);
		if (timed)
			samples_add(j->round_ns, ns);
		if (check_pattern(base, c->size, c->seed) != -1) {
			bench_log("baseline_uffd: wrong data after round %u", round);
			ret = 2;
			break;
		}
	}
out:
	kill(h, SIGKILL);
	waitpid(h, NULL, 0);
	return ret;
}

int baseline_uffd(const struct fault_cfg *c, struct samples *lat, struct samples *round_ns)
{
	struct uffd_job j = { .c = c, .lat = lat, .round_ns = round_ns };

	return child_run(faulter_main, &j, 600) ? -1 : 0;
}
