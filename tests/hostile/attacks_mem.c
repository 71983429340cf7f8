// SPDX-License-Identifier: MIT
/*
 * Attacks with memory: registrations that overlap, alias or point at
 * nothing, ranges past an allocation's end, and the client's memory taken
 * away (munmap, free) while gsvmd moves it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gsvm.h"
#include "harness.h"
#include "hostile.h"

#define MEMFD_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int attack_registrations(struct hostile *h)
{
	size_t size = 4 * MiB;
	struct rawalloc ra;
	struct hconn c;
	uint64_t p;
	int m2, m3, err, aerr;
	void *q;

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, size, true, &ra), "alloc");
	p = (uintptr_t)ra.addr;
	fill_pattern(ra.addr, size, 31);
	err = rawconn_alloc(&c.rc, p, size, ra.memfd);
	EXPECT(err == -EEXIST, "the same memfd twice at the same address: %s", errname(err));
	m2 = rawmem_memfd(size, MEMFD_SEALS);
	m3 = rawmem_memfd(size / 2, MEMFD_SEALS);
	EXPECT(m2 >= 0 && m3 >= 0, "memfd");
	err = rawconn_alloc(&c.rc, p, size, m2);
	EXPECT(err == -EEXIST, "another memfd at the same address: %s", errname(err));
	err = rawconn_alloc(&c.rc, p + 2 * MiB, size, m2);
	EXPECT(err == -EEXIST, "overlapping the end: %s", errname(err));
	err = rawconn_alloc(&c.rc, p - 2 * MiB, size, m2);
	EXPECT(err == -EEXIST, "overlapping the start: %s", errname(err));
	err = rawconn_alloc(&c.rc, p + MiB, size / 2, m3);
	EXPECT(err == -EEXIST, "inside: %s", errname(err));
	err = rawconn_alloc(&c.rc, p - MiB, size / 2, m3);
	EXPECT(err == -EEXIST, "overlapping the start by a MiB: %s", errname(err));
	note("same memfd twice, overlapping start, end and inside: -EEXIST");
	EXPECT(check_pattern(ra.addr, size, 31) < 0, "refused registrations changed the data");
	/* The same memfd mapped and registered a second time elsewhere: aliases. */
	q = rawmem_map(ra.memfd, size);
	EXPECT(q && !rawmem_register(c.uffd, q, size, true), "second mapping");
	aerr = rawconn_alloc(&c.rc, (uintptr_t)q, size, ra.memfd);
	note("the same memfd registered at a second address: %s", errname(aerr));
	if (!aerr) {
		/* The client aliased its own memory: its data is its problem, not gsvmd's. */
		err = rawconn_prefetch(&c.rc, p, size, 0);
		EXPECT(err == 0, "prefetch of the first alias: %s", errname(err));
		(void)((volatile uint8_t *)q)[12345];
		err = rawconn_prefetch(&c.rc, (uintptr_t)q, size, 1);
		EXPECT(err == 0, "prefetch of the second alias: %s", errname(err));
		(void)((volatile uint8_t *)ra.addr)[54321];
		err = rawconn_devop(&c.rc, 0, GSVM_OP_CHECKSUM, p, size, 0, NULL);
		EXPECT(err == 0, "checksum of the first alias: %s", errname(err));
		EXPECT(!rawconn_free(&c.rc, (uintptr_t)q), "free the second alias");
	}
	EXPECT(conn_works(&c.rc), "connection");
	rawmem_unregister(c.uffd, q, size);
	munmap(q, size);
	/* The original registration still works. */
	EXPECT(!rawconn_prefetch(&c.rc, p, size, 1), "prefetch");
	EXPECT(!rawconn_prefetch(&c.rc, p, size, -1), "prefetch home");
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	/* Unaligned address and size. */
	q = rawmem_map(m2, size);
	EXPECT(q, "map");
	err = rawconn_alloc(&c.rc, (uintptr_t)q + 1, size, m2);
	EXPECT(err == -EINVAL, "an unaligned address: %s", errname(err));
	err = rawconn_alloc(&c.rc, (uintptr_t)q, size - 1, m2);
	EXPECT(err == -EINVAL, "an unaligned size: %s", errname(err));
	munmap(q, size);
	close(m2);
	close(m3);
	hconn_close(&c);
	return 0;
}

/* Whether [@addr, + @len) holds no mapping in this process. */
static bool unmapped(uint64_t addr, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += 4096)
		if (!msync((void *)(uintptr_t)(addr + off), 4096, MS_ASYNC) || errno != ENOMEM)
			return false;
	return true;
}

/* Register memory at addresses the client never mapped (or cannot). */
int attack_unmapped_address(struct hostile *h)
{
	uint64_t addrs[] = {
		0, /* user space, nothing mapped: found below */
		0, /* the null page */
		0x7ffffffff000ULL - 2 * MiB, /* straddles the end of user space */
		0xffff800000000000ULL, /* kernel space */
		0x0000800000000000ULL, /* non-canonical */
	};
	size_t size = 4 * MiB;
	struct hconn c;
	unsigned int i;
	int memfd, err, perr, herr, derr, aderr, ferr;
	void *hole;
	uint64_t a;

	/* A hole in our address space (the sanitizers own fixed ranges: find one). */
	hole = mmap(NULL, 64 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT(hole != MAP_FAILED, "mmap");
	munmap(hole, 64 * MiB);
	addrs[0] = ((uintptr_t)hole + 2 * MiB - 1) & ~(2 * MiB - 1);
	EXPECT(!hconn_open(h, &c, true), "hello");
	/* Whatever gsvmd makes of it, it answers: a hang is a failure. */
	c.rc.timeout_ms = 5000;
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		a = addrs[i];
		if (!i)
			EXPECT(unmapped(a, size), "%#llx is mapped", (unsigned long long)a);
		memfd = rawmem_memfd(size, MEMFD_SEALS);
		EXPECT(memfd >= 0, "memfd");
		err = rawconn_alloc(&c.rc, a, size, memfd);
		close(memfd);
		if (err) {
			note("alloc at %#llx: %s", (unsigned long long)a, errname(err));
			EXPECT(err == -EINVAL || err == -EFAULT, "an unexpected error");
			continue;
		}
		perr = rawconn_prefetch(&c.rc, a, size, 0);
		derr = rawconn_devop(&c.rc, 1, GSVM_OP_FILL, a, size, 0x5a, NULL);
		aderr = rawconn_advise(&c.rc, a, size, GSVM_ADVISE_SET_READ_MOSTLY, 0);
		herr = rawconn_prefetch(&c.rc, a, size, -1);
		EXPECT(conn_works(&c.rc), "connection");
		ferr = rawconn_free(&c.rc, a);
		note("alloc at %#llx: accepted; prefetch %s, fill %s, advise %s, prefetch home %s, "
		     "free %s",
		     (unsigned long long)a, errname(perr), errname(derr), errname(aderr),
		     errname(herr), errname(ferr));
		EXPECT(perr != -ETIMEDOUT && derr != -ETIMEDOUT && aderr != -ETIMEDOUT &&
			       herr != -ETIMEDOUT,
		       "a request on memory at %#llx was never answered", (unsigned long long)a);
		EXPECT(!ferr, "free");
	}
	EXPECT(conn_works(&c.rc), "connection");
	hconn_close(&c);
	return 0;
}

int attack_past_end(struct hostile *h)
{
	size_t size = 4 * MiB;
	struct rawalloc ra;
	struct hconn c;
	uint64_t p, sum = 0, want;
	int i, err;
	struct {
		const char *what;
		uint64_t addr, len;
	} cases[] = {
		{ "the last page and one more", 0, 0 },
		{ "the whole allocation and one page", 0, 0 },
		{ "one page before and the first", 0, 0 },
		{ "just past the end", 0, 0 },
		{ "the last byte and one more", 0, 0 },
	};

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, size, true, &ra), "alloc");
	p = (uintptr_t)ra.addr;
	fill_pattern(ra.addr, size, 37);
	want = fnv1a(ra.addr, size);
	cases[0].addr = p + size - 4096, cases[0].len = 8192;
	cases[1].addr = p, cases[1].len = size + 4096;
	cases[2].addr = p - 4096, cases[2].len = 8192;
	cases[3].addr = p + size, cases[3].len = 4096;
	cases[4].addr = p + size - 1, cases[4].len = 2;
	for (i = 0; i < 5; i++) {
		err = rawconn_prefetch(&c.rc, cases[i].addr, cases[i].len, 0);
		EXPECT(err == -EFAULT, "prefetch of %s: %s", cases[i].what, errname(err));
		err = rawconn_query(&c.rc, cases[i].addr, cases[i].len, 8, NULL);
		EXPECT(err == -EFAULT, "query of %s: %s", cases[i].what, errname(err));
		err = rawconn_devop(&c.rc, 1, GSVM_OP_CHECKSUM, cases[i].addr, cases[i].len, 0,
				    NULL);
		EXPECT(err == -EFAULT || err == -EINVAL, "checksum of %s: %s", cases[i].what,
		       errname(err));
		err = rawconn_devop(&c.rc, 0, GSVM_OP_FILL, cases[i].addr, cases[i].len, 0, NULL);
		EXPECT(err == -EFAULT || err == -EINVAL, "fill of %s: %s", cases[i].what,
		       errname(err));
		err = rawconn_advise(&c.rc, cases[i].addr, cases[i].len,
				     GSVM_ADVISE_SET_PREFERRED_LOCATION, 1);
		EXPECT(err == -EFAULT, "advise of %s: %s", cases[i].what, errname(err));
	}
	note("prefetch, query, checksum, fill and advise straddling either end: -EFAULT");
	/* Nothing was touched: the data is intact, and the allocation still works. */
	EXPECT(!rawconn_devop(&c.rc, 0, GSVM_OP_CHECKSUM, p, size, 0, &sum), "checksum");
	EXPECT(sum == want, "the data changed");
	EXPECT(check_pattern(ra.addr, size, 37) < 0, "the CPU sees changed data");
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	hconn_close(&c);
	return 0;
}

struct prefetcher {
	struct rawconn *rc;
	uint64_t addr, len;
	atomic_bool stop;
	unsigned int rounds, errors;
	int last_err;
};

static void *prefetch_loop(void *arg)
{
	struct prefetcher *pf = arg;
	int err;

	while (!atomic_load(&pf->stop)) {
		err = rawconn_prefetch(pf->rc, pf->addr, pf->len, (int)(pf->rounds % 3) - 1);
		pf->rounds++;
		if (err) {
			pf->errors++;
			pf->last_err = err;
			if (err == -ETIMEDOUT || err == -ENOTCONN)
				break;
		}
	}
	return NULL;
}

/*
 * One thread prefetches an allocation around the devices; the other
 * munmaps pieces of it. What stays mapped keeps its data.
 */
int attack_munmap_prefetch(struct hostile *h)
{
	size_t size = 32 * MiB;
	struct prefetcher pf;
	struct rawalloc ra;
	struct hconn c;
	uint8_t *p;
	pthread_t t;
	int round, err;
	long off;

	EXPECT(!hconn_open(h, &c, true), "hello");
	for (round = 0; round < 4; round++) {
		err = rawalloc_new(&c.rc, c.uffd, size, true, &ra);
		if (err == -EEXIST) {
			/* Diagnose: does gsvmd still hold the old registration a moment later? */
			hsleep_us(500000);
			err = rawalloc_new(&c.rc, c.uffd, size, true, &ra);
			note("round %d: an alloc where the previous one was munmap()ed: -EEXIST, "
			     "and %s half a second later",
			     round, errname(err));
			EXPECT(0,
			       "munmap() returned, yet gsvmd refuses a new allocation at the same "
			       "address with -EEXIST");
		}
		EXPECT(!err, "round %d: alloc: %s", round, errname(err));
		p = ra.addr;
		fill_pattern(p, size, 41 + (unsigned int)round);
		memset(&pf, 0, sizeof(pf));
		pf.rc = &c.rc;
		pf.addr = (uintptr_t)p;
		pf.len = size;
		EXPECT(!pthread_create(&t, NULL, prefetch_loop, &pf), "thread");
		hsleep_us(2000 + hrand() % 8000);
		/* A 2 MiB range, a partial range, and a 4 MiB piece. */
		EXPECT(!munmap(p + 8 * MiB, 2 * MiB), "munmap");
		hsleep_us(hrand() % 5000);
		EXPECT(!munmap(p + 13 * MiB + 64 * KiB, 64 * KiB), "munmap");
		hsleep_us(hrand() % 5000);
		EXPECT(!munmap(p + 20 * MiB, 4 * MiB), "munmap");
		hsleep_us(hrand() % 5000);
		atomic_store(&pf.stop, true);
		pthread_join(t, NULL);
		EXPECT(pf.last_err != -ETIMEDOUT && pf.last_err != -ENOTCONN,
		       "the prefetcher lost gsvmd: %s", errname(pf.last_err));
		/* The rest must be exactly what was written (faults bring it home). */
		off = check_pattern(p, 8 * MiB, 41 + (unsigned int)round);
		EXPECT(off < 0, "round %d: [0, 8M) differs at %ld", round, off);
		{
			uint8_t *ref = malloc(size);
			size_t o;

			EXPECT(ref, "memory");
			fill_pattern(ref, size, 41 + (unsigned int)round);
			for (o = 10 * MiB; o < size; o += 4096) {
				if ((o >= 13 * MiB + 64 * KiB && o < 13 * MiB + 128 * KiB) ||
				    (o >= 20 * MiB && o < 24 * MiB))
					continue;
				if (memcmp(p + o, ref + o, 4096)) {
					free(ref);
					EXPECT(0, "round %d: page at %zu differs after munmaps",
					       round, o);
				}
			}
			free(ref);
		}
		EXPECT(rawconn_query(&c.rc, (uintptr_t)p, size, 16, NULL) == -EFAULT,
		       "a query over the holes");
		EXPECT(!rawconn_query(&c.rc, (uintptr_t)p, 8 * MiB, 16, NULL), "query");
		note("round %d: %u prefetches, %u errors (last %s); data outside the holes intact",
		     round, pf.rounds, pf.errors, errname(pf.last_err));
		/* Unmap the rest without telling gsvmd: it hears of it from the userfaultfd. */
		munmap(p, size);
		close(ra.memfd);
	}
	EXPECT(conn_works(&c.rc), "connection");
	hconn_close(&c);
	return 0;
}

/*
 * Through libgsvm: munmap() an allocation (gsvm.h allows it: the memory is
 * gone for gsvmd too) and allocate again at once; the kernel often hands
 * out the same addresses. gsvmd hears of the munmap() from the
 * userfaultfd; a new registration there must not be refused.
 */
int attack_munmap_then_alloc(struct hostile *h)
{
	unsigned int i, refused = 0, same = 0, n = 100;
	size_t size = 4 * MiB;
	int err, first = 0;
	struct gsvm *g;
	void *p, *q;

	EXPECT(!gsvm_connect(h->sock, &g), "connect");
	for (i = 0; i < n; i++) {
		err = gsvm_alloc(g, size, &p);
		if (err) {
			/* A refusal here is the same race, with the previous round's munmap(). */
			EXPECT(err == -EEXIST || err == -EBUSY, "alloc: %s", errname(err));
			first = first ? first : err;
			refused++;
			continue;
		}
		fill_pattern(p, size, i);
		if (i % 2)
			EXPECT(!gsvm_prefetch(g, p, size, (int)(i % 4) / 2), "prefetch");
		munmap(p, size);
		err = gsvm_alloc(g, size, &q);
		if (err) {
			EXPECT(err == -EEXIST || err == -EBUSY, "alloc after munmap: %s",
			       errname(err));
			first = first ? first : err;
			refused++;
			continue;
		}
		same += q == p;
		fill_pattern(q, size, i + 1000);
		EXPECT(!gsvm_prefetch(g, q, size, 1), "prefetch");
		EXPECT(check_pattern(q, size, i + 1000) < 0, "new allocation's data");
		EXPECT(!gsvm_free(g, q), "free");
	}
	note("%u munmap()s, each followed by an alloc (%u at the same address): %u refused "
	     "(first with %s)",
	     n, same, refused, errname(first));
	EXPECT(!refused, "allocations right after a munmap() are refused (-EEXIST, -EBUSY) "
			 "while gsvmd has not yet processed the unmap event");
	gsvm_disconnect(g);
	return 0;
}

/* Prefetch and free pipelined: the free races the prefetch on a worker. */
int attack_free_prefetch(struct hostile *h)
{
	Gsvm__Request req = GSVM__REQUEST__INIT, preq;
	Gsvm__FreeReq f = GSVM__FREE_REQ__INIT;
	Gsvm__PrefetchReq p;
	Gsvm__Response *resp;
	size_t size = 16 * MiB;
	unsigned int i, perr[4] = { 0 };
	struct rawalloc ra;
	struct hconn c;
	int64_t pid_, fid;
	bool free_first;

	EXPECT(!hconn_open(h, &c, true), "hello");
	for (i = 0; i < 40; i++) {
		int aerr = rawalloc_new(&c.rc, c.uffd, size, true, &ra);

		EXPECT(!aerr, "alloc %u: %s", i, errname(aerr));
		fill_pattern(ra.addr, size, i);
		if (i % 4 == 3)
			EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, size, 1), "prefetch");
		free_first = i % 5 == 4;
		rawconn_prefetch_req(&preq, &p, (uintptr_t)ra.addr, size, (int)(i % 2));
		f.addr = (uintptr_t)ra.addr;
		gsvm__request__init(&req);
		req.body_case = GSVM__REQUEST__BODY_FREE;
		req.free = &f;
		if (free_first) {
			fid = rawconn_send(&c.rc, &req, NULL, 0);
			pid_ = rawconn_send(&c.rc, &preq, NULL, 0);
		} else {
			pid_ = rawconn_send(&c.rc, &preq, NULL, 0);
			hsleep_us(hrand() % 3000);
			fid = rawconn_send(&c.rc, &req, NULL, 0);
		}
		EXPECT(pid_ > 0 && fid > 0, "send");
		EXPECT(!rawconn_wait(&c.rc, (uint64_t)pid_, 20000, &resp), "no answer to prefetch");
		if (!resp->err)
			perr[0]++;
		else if (resp->err == -EFAULT)
			perr[1]++;
		else if (resp->err == -EINVAL)
			perr[2]++;
		else
			perr[3]++;
		if (resp->err && resp->err != -EFAULT && resp->err != -EINVAL)
			note("prefetch racing free: %s (not an error gsvm.h documents)",
			     errname(resp->err));
		gsvm__response__free_unpacked(resp, NULL);
		EXPECT(!rawconn_wait(&c.rc, (uint64_t)fid, 20000, &resp), "no answer to free");
		EXPECT(resp->err == 0, "free racing a prefetch: %s", errname(resp->err));
		gsvm__response__free_unpacked(resp, NULL);
		/* gsvmd let go: the memory is the client's again. */
		rawmem_unregister(c.uffd, ra.addr, size);
		munmap(ra.addr, size);
		close(ra.memfd);
	}
	note("40 prefetches racing frees: %u done, %u -EFAULT, %u -EINVAL, %u other", perr[0],
	     perr[1], perr[2], perr[3]);
	EXPECT(!perr[3], "unexpected errors");
	EXPECT(conn_works(&c.rc), "connection");
	hconn_close(&c);
	return 0;
}

struct lib_prefetcher {
	struct gsvm *g;
	void *p;
	size_t size;
	atomic_bool stop;
	int last_err;
	unsigned int rounds;
};

static void *lib_prefetch_loop(void *arg)
{
	struct lib_prefetcher *lp = arg;
	int err;

	while (!atomic_load(&lp->stop)) {
		err = gsvm_prefetch(lp->g, lp->p, lp->size, (int)(lp->rounds++ % 2));
		if (err) {
			lp->last_err = err;
			break;
		}
	}
	return NULL;
}

/* The same race through libgsvm, from two threads of one client. */
int attack_free_prefetch_threads(struct hostile *h)
{
	struct lib_prefetcher lp;
	unsigned int i, faults = 0;
	struct gsvm *g;
	pthread_t t;
	int err;

	EXPECT(!gsvm_connect(h->sock, &g), "connect");
	for (i = 0; i < 25; i++) {
		memset(&lp, 0, sizeof(lp));
		lp.g = g;
		lp.size = 16 * MiB;
		EXPECT(!gsvm_alloc(g, lp.size, &lp.p), "alloc");
		fill_pattern(lp.p, lp.size, i);
		EXPECT(!pthread_create(&t, NULL, lib_prefetch_loop, &lp), "thread");
		hsleep_us(hrand() % 6000);
		err = gsvm_free(g, lp.p);
		EXPECT(!err, "gsvm_free racing gsvm_prefetch: %s", errname(err));
		hsleep_us(2000);
		atomic_store(&lp.stop, true);
		pthread_join(t, NULL);
		EXPECT(!lp.last_err || lp.last_err == -EFAULT || lp.last_err == -EINVAL,
		       "gsvm_prefetch racing gsvm_free: %s (gsvm.h documents -EFAULT, -EINVAL)",
		       errname(lp.last_err));
		faults += lp.last_err != 0;
	}
	note("25 frees racing a prefetching thread: %u prefetches failed with -EFAULT/-EINVAL",
	     faults);
	gsvm_disconnect(g);
	return 0;
}
