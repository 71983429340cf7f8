// SPDX-License-Identifier: MIT
/*
 * Attacks with descriptors: the wrong kinds, unsealed and resizable memory,
 * too many or none, control data cut short, a userfaultfd closed or never
 * set up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gsvm.h"
#include "harness.h"
#include "hostile.h"

#define MEMFD_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static int hello_with(struct rawconn *rc, int fd, bool has_uffd)
{
	return rawconn_hello(rc, fd, has_uffd);
}

int attack_hello_fds(struct hostile *h)
{
	struct fdprobe probe;
	struct rawconn rc, rc2;
	int sp[2], fd, uffd, err, i;
	struct {
		const char *what;
		int fd;
	} bad[6];

	EXPECT(!rawconn_open(h->sock, &rc), "connect");
	EXPECT(!fdprobe_open(&probe), "pipe");
	err = hello_with(&rc, -1, true);
	EXPECT(err == -EINVAL, "hello that claims a userfaultfd and has none: %s", errname(err));
	err = hello_with(&rc, probe.rd, false);
	EXPECT(err == -EINVAL, "hello with a descriptor it does not announce: %s", errname(err));
	EXPECT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), "socketpair");
	bad[0].what = "a pipe";
	bad[0].fd = probe.rd;
	bad[1].what = "an eventfd";
	bad[1].fd = eventfd(0, EFD_CLOEXEC);
	bad[2].what = "a memfd";
	bad[2].fd = rawmem_memfd(2 * MiB, MEMFD_SEALS);
	bad[3].what = "a socket";
	bad[3].fd = sp[0];
	bad[4].what = "an O_PATH descriptor";
	bad[4].fd = open("/", O_PATH | O_CLOEXEC);
	bad[5].what = "/dev/null";
	bad[5].fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (i = 0; i < 6; i++) {
		EXPECT(bad[i].fd >= 0, "%s", bad[i].what);
		err = hello_with(&rc, bad[i].fd, true);
		EXPECT(err == -EINVAL, "%s as the userfaultfd: %s", bad[i].what, errname(err));
	}
	note("hello with no descriptor, an unannounced one, a pipe, an eventfd, a memfd, a "
	     "socket, O_PATH and /dev/null: -EINVAL");
	EXPECT(fdprobe_closed(&probe), "a refused hello's descriptor is still open in gsvmd");
	for (i = 1; i < 6; i++)
		close(bad[i].fd);
	close(sp[1]);
	/* The session is still new: a good hello works, a second one is refused. */
	uffd = rawmem_uffd(true);
	EXPECT(uffd >= 0, "userfaultfd");
	EXPECT(!hello_with(&rc, uffd, true), "a good hello after refused ones");
	fd = rawmem_uffd(true);
	err = hello_with(&rc, fd, true);
	EXPECT(err == -EALREADY, "a second hello: %s", errname(err));
	close(fd);
	EXPECT(conn_works(&rc), "connection");
	rawconn_close(&rc);
	close(uffd);
	/* Hello with a userfaultfd and hang up at once, many times. */
	for (i = 0; i < 50; i++) {
		EXPECT(!rawconn_open(h->sock, &rc2), "connect");
		uffd = rawmem_uffd(true);
		{
			Gsvm__Request req = GSVM__REQUEST__INIT;
			Gsvm__Hello hello = GSVM__HELLO__INIT;

			hello.version = GSVM__VERSION__VERSION_CURRENT;
			hello.has_uffd = true;
			req.body_case = GSVM__REQUEST__BODY_HELLO;
			req.hello = &hello;
			rawconn_send(&rc2, &req, &uffd, 1);
		}
		close(uffd);
		rawconn_close(&rc2);
	}
	note("50 hellos with a userfaultfd, hung up before the answer");
	fdprobe_close(&probe);
	return 0;
}

/*
 * The client closes its own copy of the userfaultfd once its memory is
 * registered: gsvmd's copy keeps serving its faults.
 */
int attack_close_uffd(struct hostile *h)
{
	size_t size = 8 * MiB;
	struct rawalloc ra;
	struct hconn c;
	uint64_t sum = 0, want;
	long off;

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, size, true, &ra), "alloc");
	fill_pattern(ra.addr, size, 17);
	want = fnv1a(ra.addr, size);
	close(c.uffd);
	c.uffd = -1;
	EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, size, 0), "prefetch");
	off = check_pattern(ra.addr, size, 17);
	EXPECT(off < 0, "data differs at %ld after faults with our userfaultfd closed", off);
	EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, size, 1), "prefetch 2");
	EXPECT(!rawconn_devop(&c.rc, 0, GSVM_OP_CHECKSUM, (uintptr_t)ra.addr, size, 0, &sum),
	       "checksum");
	EXPECT(sum == want, "checksum differs");
	note("with our userfaultfd closed: prefetch, CPU faults and device ops correct");
	/* Hang up with data on a device and our copy closed. */
	EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, size, 1), "prefetch 3");
	hconn_close(&c);
	return 0;
}

/* gsvmd's threads (task ids), at most @max. */
static int gsvmd_threads(struct hostile *h, pid_t *tids, int max)
{
	struct dirent *de;
	char path[64];
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)h->gsvmd_pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir)) && n < max)
		if (de->d_name[0] != '.')
			tids[n++] = (pid_t)atoi(de->d_name);
	closedir(dir);
	return n;
}

/*
 * CPU time over @ms milliseconds of the gsvmd threads that are not in
 * @old: the ones started for our session (its fault thread). A thread that
 * waits uses none; one that spins, most of the time it gets.
 */
static long new_threads_cpu(struct hostile *h, const pid_t *old, int nold, unsigned int ms)
{
	pid_t now[512], fresh[64];
	long t0[64], t1, sum = 0;
	int n, nfresh = 0, i, j;

	n = gsvmd_threads(h, now, 512);
	for (i = 0; i < n && nfresh < 64; i++) {
		for (j = 0; j < nold && old[j] != now[i]; j++)
			;
		if (j == nold)
			fresh[nfresh++] = now[i];
	}
	for (i = 0; i < nfresh; i++)
		t0[i] = proc_cpu_ticks(fresh[i]);
	hsleep_us(ms * 1000UL);
	for (i = 0; i < nfresh; i++) {
		t1 = proc_cpu_ticks(fresh[i]);
		if (t0[i] >= 0 && t1 >= 0)
			sum += t1 - t0[i];
	}
	return sum;
}

/*
 * A userfaultfd that was never set up (no UFFDIO_API) passes for one: its
 * anonymous inode is a userfaultfd's. gsvmd may take it or refuse it, but
 * must not spin on it (poll reports POLLERR, read EINVAL, forever) nor
 * block a worker on the memory it cannot serve.
 */
int attack_uffd_no_api(struct hostile *h)
{
	size_t size = 4 * MiB;
	struct hconn c;
	uint64_t total;
	int memfd, err, perr, qerr;
	long ticks;
	void *p;

	pid_t before[512];
	int nbefore;

	EXPECT(!rawconn_open(h->sock, &c.rc), "connect");
	c.uffd = rawmem_uffd(false);
	EXPECT(c.uffd >= 0, "userfaultfd");
	nbefore = gsvmd_threads(h, before, 512);
	err = rawconn_hello(&c.rc, c.uffd, true);
	note("hello with a userfaultfd without UFFDIO_API: %s", errname(err));
	EXPECT(err == 0 || err == -EINVAL, "hello: %s", errname(err));
	ticks = new_threads_cpu(h, before, nbefore, 1000);
	note("the threads gsvmd started for it used %ld clock ticks of CPU in the next second",
	     ticks);
	EXPECT(ticks < 20, "gsvmd spins on a userfaultfd without UFFDIO_API (%ld ticks in 1 s)",
	       ticks);
	if (!err) {
		memfd = rawmem_memfd(size, MEMFD_SEALS);
		p = rawmem_map(memfd, size);
		EXPECT(p, "map");
		err = rawconn_alloc(&c.rc, (uintptr_t)p, size, memfd);
		perr = rawconn_prefetch(&c.rc, (uintptr_t)p, size, 0);
		qerr = rawconn_query(&c.rc, (uintptr_t)p, size, 16, &total);
		note("alloc %s, prefetch %s, query %s", errname(err), errname(perr), errname(qerr));
		EXPECT(conn_works(&c.rc), "connection");
		munmap(p, size);
		close(memfd);
	}
	hconn_close(&c);
	return 0;
}

/*
 * Memory registered with gsvmd but not with the client's userfaultfd (or
 * without write-protect mode): gsvmd cannot protect it, and must say so
 * rather than retry forever. A device op that never ends holds a worker; a
 * few of them hold every worker, and then nobody is served.
 */
static int unregistered_round(struct hostile *h, const char *what, bool wp_less)
{
	size_t size = 4 * MiB;
	Gsvm__Request req = GSVM__REQUEST__INIT, qreq;
	Gsvm__DeviceOpReq d = GSVM__DEVICE_OP_REQ__INIT;
	Gsvm__QueryReq q;
	Gsvm__Response *resp;
	struct rawalloc good;
	struct hconn c, other;
	int64_t ids[8], qid;
	int memfd, err, perr, i, answered = 0;
	uint64_t t, deadline;
	void *p;

	/* A well-behaved client, set up first. */
	EXPECT(!hconn_open(h, &other, true), "another client");
	EXPECT(!rawalloc_new(&other.rc, other.uffd, 2 * MiB, true, &good), "its alloc");
	EXPECT(!hconn_open(h, &c, true), "hello");
	memfd = rawmem_memfd(size, MEMFD_SEALS);
	p = rawmem_map(memfd, size);
	EXPECT(p, "map");
	fill_pattern(p, size, 5);
	if (wp_less)
		EXPECT(!rawmem_register(c.uffd, p, size, false), "register without WP");
	err = rawconn_alloc(&c.rc, (uintptr_t)p, size, memfd);
	EXPECT(!err, "alloc: %s", errname(err));
	perr = rawconn_prefetch(&c.rc, (uintptr_t)p, size, 0);
	note("%s: prefetch %s", what, errname(perr));
	/* Eight device ops at once: more than gsvmd has workers. */
	d.device = 1;
	d.op = GSVM_OP_CHECKSUM;
	d.addr = (uintptr_t)p;
	d.len = size;
	req.body_case = GSVM__REQUEST__BODY_DEVICE_OP;
	req.device_op = &d;
	for (i = 0; i < 8; i++) {
		req.id = 0;
		ids[i] = rawconn_send(&c.rc, &req, NULL, 0);
		EXPECT(ids[i] > 0, "send");
	}
	hsleep_us(100000);
	/* Meanwhile, the other client's query. */
	rawconn_query_req(&qreq, &q, (uintptr_t)good.addr, 2 * MiB);
	t = hnow_ns();
	qid = rawconn_send(&other.rc, &qreq, NULL, 0);
	EXPECT(qid > 0, "send");
	err = rawconn_wait(&other.rc, (uint64_t)qid, 5000, &resp);
	t = hnow_ns() - t;
	if (!err) {
		err = resp->err;
		gsvm__response__free_unpacked(resp, NULL);
	}
	deadline = hnow_ns() + 10000000000ULL;
	for (i = 0; i < 8; i++) {
		if (rawconn_wait(&c.rc, (uint64_t)ids[i],
				 hnow_ns() < deadline ? (int)((deadline - hnow_ns()) / 1000000) : 0,
				 &resp))
			continue;
		answered++;
		if (i == 0)
			note("%s: device op %s", what, errname(resp->err));
		gsvm__response__free_unpacked(resp, NULL);
	}
	note("%s: %d of 8 device ops answered; meanwhile another client's query: %s after "
	     "%.3f s",
	     what, answered, errname(err), (double)t / 1e9);
	EXPECT(!err, "%s: device ops on it starve other clients (their query: %s after %.1f s)",
	       what, errname(err), (double)t / 1e9);
	EXPECT(answered == 8,
	       "%s: device ops on it are never answered (a worker retries "
	       "forever)",
	       what);
	rawalloc_free(&other.rc, other.uffd, &good);
	hconn_close(&other);
	munmap(p, size);
	close(memfd);
	hconn_close(&c);
	return 0;
}

int attack_unregistered_memory(struct hostile *h)
{
	return unregistered_round(h, "memory not registered with the userfaultfd", false);
}

int attack_memory_without_wp(struct hostile *h)
{
	return unregistered_round(h, "memory registered without write-protect mode", true);
}

int attack_non_memfd(struct hostile *h)
{
	size_t size = 2 * MiB;
	struct fdprobe probe;
	struct rawalloc ra;
	char path[] = "/dev/shm/hostile.XXXXXX";
	struct hconn c;
	int sp[2], err, i, tmp;
	void *map;
	struct {
		const char *what;
		int fd;
	} bad[7];

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, size, true, &ra), "a good alloc");
	EXPECT(!fdprobe_open(&probe), "pipe");
	EXPECT(!socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), "socketpair");
	tmp = mkostemp(path, O_CLOEXEC);
	EXPECT(tmp >= 0 && !ftruncate(tmp, (off_t)size), "tmpfs file");
	unlink(path);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, tmp, 0);
	EXPECT(map != MAP_FAILED, "map the tmpfs file");
	bad[0].what = "a pipe";
	bad[0].fd = probe.rd;
	bad[1].what = "/dev/null";
	bad[1].fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	bad[2].what = "a tmpfs file opened with open()";
	bad[2].fd = tmp;
	bad[3].what = "an O_PATH descriptor";
	bad[3].fd = open("/dev/shm", O_PATH | O_CLOEXEC);
	bad[4].what = "the userfaultfd";
	bad[4].fd = c.uffd;
	bad[5].what = "a socket";
	bad[5].fd = sp[0];
	bad[6].what = "an eventfd";
	bad[6].fd = eventfd(0, EFD_CLOEXEC);
	for (i = 0; i < 7; i++) {
		EXPECT(bad[i].fd >= 0, "%s", bad[i].what);
		err = rawconn_alloc(&c.rc, (uintptr_t)map, size, bad[i].fd);
		EXPECT(err == -EINVAL, "%s as a memfd: %s", bad[i].what, errname(err));
		EXPECT(rawconn_query(&c.rc, (uintptr_t)map, size, 4, NULL) == -EFAULT,
		       "%s: the range was registered", bad[i].what);
	}
	note("alloc with a pipe, /dev/null, a tmpfs file, O_PATH, a userfaultfd, a socket and "
	     "an eventfd: -EINVAL");
	EXPECT(fdprobe_closed(&probe), "a refused memfd is still open in gsvmd");
	EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, size, 0), "the good allocation");
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	munmap(map, size);
	close(tmp);
	close(bad[1].fd);
	close(bad[3].fd);
	close(bad[6].fd);
	close(sp[0]);
	close(sp[1]);
	fdprobe_close(&probe);
	hconn_close(&c);
	return 0;
}

/* Offer @memfd of @size for [@p, + @size); it must be refused. */
static int offer_bad(struct hconn *c, const char *what, int memfd, void *p, size_t size)
{
	int err;

	EXPECT(memfd >= 0, "%s: %s", what, errname(memfd));
	err = rawconn_alloc(&c->rc, (uintptr_t)p, size, memfd);
	EXPECT(err < 0, "%s was accepted", what);
	EXPECT(rawconn_query(&c->rc, (uintptr_t)p, size, 4, NULL) == -EFAULT,
	       "%s: the range was registered", what);
	note("%s: %s", what, errname(err));
	return err == -EINVAL ? 0 : 1;
}

int attack_unsealed_memfd(struct hostile *h)
{
	size_t size = 4 * MiB;
	struct hconn c;
	int fd, bad = 0;
	void *p;

	EXPECT(!hconn_open(h, &c, true), "hello");
	/* Mapped and registered like a good one, so an acceptance would show. */
	fd = rawmem_memfd(size, 0);
	p = rawmem_map(fd, size);
	EXPECT(p && !rawmem_register(c.uffd, p, size, true), "map");
	bad += offer_bad(&c, "a memfd without seals", fd, p, size);
	close(fd);
	bad += offer_bad(&c, "a memfd sealed against shrinking only",
			 fd = rawmem_memfd(size, F_SEAL_SHRINK), p, size);
	close(fd);
	bad += offer_bad(&c, "a memfd sealed against growing only",
			 fd = rawmem_memfd(size, F_SEAL_GROW), p, size);
	close(fd);
	/* Open to more seals: one added later could stop gsvmd punching it. */
	bad += offer_bad(&c, "a memfd sealed against resizing but not against more seals",
			 fd = rawmem_memfd(size, F_SEAL_SHRINK | F_SEAL_GROW), p, size);
	close(fd);
	fd = memfd_create("nosealing", MFD_CLOEXEC);
	EXPECT(fd >= 0 && !ftruncate(fd, (off_t)size), "memfd");
	bad += offer_bad(&c, "a memfd that cannot be sealed", fd, p, size);
	close(fd);
	bad += offer_bad(&c, "a sealed memfd smaller than the allocation",
			 fd = rawmem_memfd(size / 2, MEMFD_SEALS), p, size);
	close(fd);
	bad += offer_bad(&c, "a sealed memfd larger than the allocation",
			 fd = rawmem_memfd(size * 2, MEMFD_SEALS), p, size);
	close(fd);
	/* Write seals: gsvmd cannot map these writable; refused some way. */
	fd = rawmem_memfd(size, MEMFD_SEALS | F_SEAL_WRITE);
	if (offer_bad(&c, "a write-sealed memfd", fd, p, size))
		note("(a write-sealed memfd is refused with another error: acceptable)");
	close(fd);
	fd = rawmem_memfd(size, MEMFD_SEALS | F_SEAL_FUTURE_WRITE);
	if (offer_bad(&c, "a future-write-sealed memfd", fd, p, size))
		note("(a future-write-sealed memfd is refused with another error: acceptable)");
	close(fd);
	EXPECT(!bad, "%d memfds refused with another error than -EINVAL", bad);
	EXPECT(conn_works(&c.rc), "connection");
	rawmem_unregister(c.uffd, p, size);
	munmap(p, size);
	hconn_close(&c);
	return 0;
}

/* The client tries to resize memory gsvmd maps; the seals must stop it. */
int attack_truncation(struct hostile *h)
{
	size_t size = 8 * MiB;
	struct rawalloc ra;
	struct hconn c;
	uint8_t *ref;
	int seals;
	long off;

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, size, true, &ra), "alloc");
	fill_pattern(ra.addr, size, 23);
	EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, size / 2, 0), "prefetch half");
	EXPECT(ftruncate(ra.memfd, 0) < 0 && errno == EPERM, "shrinking to 0 worked");
	EXPECT(ftruncate(ra.memfd, (off_t)size / 2) < 0 && errno == EPERM, "shrinking worked");
	EXPECT(ftruncate(ra.memfd, (off_t)size * 2) < 0 && errno == EPERM, "growing worked");
	EXPECT(fallocate(ra.memfd, 0, (off_t)size, 4096) < 0 && errno == EPERM,
	       "fallocate past the end worked");
	/* Sealed against more seals: none can be added, none removed. */
	EXPECT(fcntl(ra.memfd, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM,
	       "F_SEAL_WRITE added");
	EXPECT(fcntl(ra.memfd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) < 0 && errno == EPERM,
	       "F_SEAL_FUTURE_WRITE added");
	seals = fcntl(ra.memfd, F_GET_SEALS);
	EXPECT((seals & MEMFD_SEALS) == MEMFD_SEALS, "seals are %#x", seals);
	note("ftruncate (shrink, grow), fallocate past the end: EPERM; seals cannot be removed "
	     "or added (EPERM)");
	/* Punching holes is allowed: the client zeroes part of its own memory. */
	ref = malloc(size);
	EXPECT(ref, "memory");
	fill_pattern(ref, size, 23);
	memset(ref + size / 2, 0, MiB);
	EXPECT(!fallocate(ra.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)size / 2,
			  (off_t)MiB),
	       "punch");
	EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, size, 1), "prefetch all");
	for (off = 0; off < (long)size && ((uint8_t *)ra.addr)[off] == ref[off]; off++)
		;
	EXPECT(off == (long)size, "data differs at %ld after a punch and a prefetch", off);
	note("after punching a MiB: the rest intact, the punched MiB reads zeros");
	free(ref);
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	hconn_close(&c);
	return 0;
}

/*
 * F_SEAL_FUTURE_WRITE can be added while writable mappings exist, and it
 * forbids punching holes: gsvmd could no longer take host pages away, and
 * the CPU would read stale copies of data a device changed. gsvmd therefore
 * takes only memfds sealed against further seals (F_SEAL_SEAL): one that is
 * not is refused, and on one that is the late seal cannot be added.
 */
int attack_late_write_seal(struct hostile *h)
{
	size_t size = 8 * MiB, i;
	struct rawalloc ra;
	struct hconn c;
	uint64_t *w;
	int err;
	long off;

	EXPECT(!hconn_open(h, &c, true), "hello");
	err = rawalloc_new(&c.rc, c.uffd, size, false, &ra);
	EXPECT(err == -EINVAL, "a memfd open to more seals: %s", errname(err));
	EXPECT(!rawalloc_new(&c.rc, c.uffd, size, true, &ra), "alloc");
	fill_pattern(ra.addr, size, 29);
	EXPECT(fcntl(ra.memfd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) < 0 && errno == EPERM,
	       "F_SEAL_FUTURE_WRITE added after registration");
	EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, size, 0), "prefetch");
	EXPECT(!rawconn_devop(&c.rc, 0, GSVM_OP_ADD, (uintptr_t)ra.addr, size, 1, NULL), "add");
	/* The device's writes are what the CPU sees. */
	for (w = ra.addr, i = 0; i < size / 8; i++)
		w[i] -= 1;
	off = check_pattern(ra.addr, size, 29);
	EXPECT(off < 0, "the CPU sees wrong data at %ld", off);
	note("a memfd open to more seals: -EINVAL; F_SEAL_FUTURE_WRITE later: EPERM");
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	hconn_close(&c);
	return 0;
}

int attack_alloc_no_fd(struct hostile *h)
{
	size_t size = 2 * MiB;
	struct fdprobe probe;
	struct rawalloc ra;
	struct hconn c;
	Gsvm__Request req;
	Gsvm__PrefetchReq p;
	int err, memfd;
	void *map;

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, size, true, &ra), "alloc");
	memfd = rawmem_memfd(size, MEMFD_SEALS);
	map = rawmem_map(memfd, size);
	EXPECT(map, "map");
	err = rawconn_alloc(&c.rc, (uintptr_t)map, size, -1);
	EXPECT(err == -EINVAL, "alloc without a memfd: %s", errname(err));
	/* A descriptor on a request that takes none: closed, request served. */
	EXPECT(!fdprobe_open(&probe), "pipe");
	rawconn_prefetch_req(&req, &p, (uintptr_t)ra.addr, size, 0);
	err = rawconn_call_err(&c.rc, &req, probe.rd);
	EXPECT(!err, "prefetch with a descriptor: %s", errname(err));
	EXPECT(fdprobe_closed(&probe), "the descriptor of a prefetch is still open in gsvmd");
	note("alloc without a memfd: -EINVAL; a prefetch with a descriptor: served, closed");
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	munmap(map, size);
	close(memfd);
	fdprobe_close(&probe);
	hconn_close(&c);
	return 0;
}

/* One message with two SCM_RIGHTS headers of one descriptor each. */
static int send_two_cmsgs(struct rawconn *rc, const void *buf, size_t len, int fd1, int fd2)
{
	char cbuf[2 * CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd1, sizeof(int));
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd2, sizeof(int));
	return sendmsg(rc->sock, &msg, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

int attack_extra_fds(struct hostile *h)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__AllocReq a = GSVM__ALLOC_REQ__INIT;
	Gsvm__Response *resp;
	size_t size = 2 * MiB, len;
	struct fdprobe probe;
	struct hconn c;
	int memfd, fds[2], err;
	uint8_t buf[128];
	void *p, *q, *r;

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!fdprobe_open(&probe), "pipe");
	/* [memfd, pipe]: the first is the memfd, the extra one is closed. */
	memfd = rawmem_memfd(size, MEMFD_SEALS);
	p = rawmem_map(memfd, size);
	EXPECT(p && !rawmem_register(c.uffd, p, size, true), "map");
	a.addr = (uintptr_t)p;
	a.size = size;
	req.body_case = GSVM__REQUEST__BODY_ALLOC;
	req.alloc = &a;
	fds[0] = memfd;
	fds[1] = probe.rd;
	req.id = 0;
	err = (int)rawconn_send(&c.rc, &req, fds, 2);
	EXPECT(err > 0, "send");
	EXPECT(!rawconn_wait(&c.rc, req.id, 10000, &resp), "answer");
	EXPECT(resp->err == 0, "alloc with a memfd and an extra descriptor: %s",
	       errname(resp->err));
	gsvm__response__free_unpacked(resp, NULL);
	close(memfd);
	/* [pipe, memfd]: the pipe is taken for the memfd and refused. */
	memfd = rawmem_memfd(size, MEMFD_SEALS);
	q = rawmem_map(memfd, size);
	EXPECT(q, "map");
	a.addr = (uintptr_t)q;
	fds[0] = probe.rd;
	fds[1] = memfd;
	req.id = 0;
	EXPECT(rawconn_send(&c.rc, &req, fds, 2) > 0, "send");
	EXPECT(!rawconn_wait(&c.rc, req.id, 10000, &resp), "answer");
	EXPECT(resp->err == -EINVAL, "alloc with a pipe, then a memfd: %s", errname(resp->err));
	gsvm__response__free_unpacked(resp, NULL);
	close(memfd);
	/* Two SCM_RIGHTS headers: the memfd first. */
	memfd = rawmem_memfd(size, MEMFD_SEALS);
	r = rawmem_map(memfd, size);
	EXPECT(r && !rawmem_register(c.uffd, r, size, true), "map");
	a.addr = (uintptr_t)r;
	req.id = 0x4242;
	len = gsvm__request__pack(&req, buf);
	EXPECT(!send_two_cmsgs(&c.rc, buf, len, memfd, probe.rd), "send");
	EXPECT(!rawconn_wait(&c.rc, 0x4242, 10000, &resp), "answer");
	note("two SCM_RIGHTS headers: %s", errname(resp->err));
	err = resp->err;
	gsvm__response__free_unpacked(resp, NULL);
	close(memfd);
	EXPECT(fdprobe_closed(&probe), "extra descriptors are still open in gsvmd");
	note("extra descriptors closed; [memfd, extra] accepted, [pipe, memfd] -EINVAL");
	EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)p, size, 1), "the allocation works");
	EXPECT(!rawconn_free(&c.rc, (uintptr_t)p), "free");
	if (!err)
		EXPECT(!rawconn_free(&c.rc, (uintptr_t)r), "free");
	rawmem_unregister(c.uffd, p, size);
	rawmem_unregister(c.uffd, r, size);
	munmap(p, size);
	munmap(q, size);
	munmap(r, size);
	fdprobe_close(&probe);
	hconn_close(&c);
	return 0;
}

/*
 * More descriptors than gsvmd's control buffer holds: the kernel sets
 * MSG_CTRUNC and gsvmd refuses the message with -EPROTO, closing all it got.
 */
int attack_ctrunc(struct hostile *h)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__DevicesReq d = GSVM__DEVICES_REQ__INIT;
	unsigned int counts[] = { 16, 64, 250 }, i;
	Gsvm__Response *resp;
	struct fdprobe probe;
	struct rawconn rc;
	uint8_t buf[64];
	int fds[250], j;
	size_t len;

	EXPECT(!rawconn_open(h->sock, &rc), "connect");
	EXPECT(!fdprobe_open(&probe), "pipe");
	for (j = 0; j < 250; j++)
		fds[j] = probe.rd;
	req.id = 5;
	req.body_case = GSVM__REQUEST__BODY_DEVICES;
	req.devices = &d;
	len = gsvm__request__pack(&req, buf);
	for (i = 0; i < 3; i++) {
		EXPECT(!rawconn_send_bytes(&rc, buf, len, fds, (int)counts[i]), "send %u fds",
		       counts[i]);
		EXPECT(!rawconn_recv(&rc, 10000, &resp), "no answer to %u descriptors", counts[i]);
		EXPECT(resp->id == 0 && resp->err == -EPROTO, "%u descriptors: id %llu err %s",
		       counts[i], (unsigned long long)resp->id, errname(resp->err));
		gsvm__response__free_unpacked(resp, NULL);
	}
	EXPECT(fdprobe_closed(&probe), "descriptors of a truncated control message are still "
				       "open in gsvmd");
	note("16, 64 and 250 descriptors in one message: -EPROTO (id 0), every copy closed");
	EXPECT(conn_works(&rc), "connection");
	fdprobe_close(&probe);
	rawconn_close(&rc);
	return 0;
}
