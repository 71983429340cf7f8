// SPDX-License-Identifier: MIT
/*
 * Attacks on the framing and the decoder: bytes that are not protocol,
 * protocol cut short, the wrong messages, lengths that overflow.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gsvm.h"
#include "hostile.h"
#include "wire.h"

/* Send @len bytes and expect one response; its err through @err. */
static int send_expect(struct rawconn *rc, const void *buf, size_t len, const int *fds, int nfds,
		       int *err, uint64_t *id)
{
	Gsvm__Response *resp;
	int ret;

	ret = rawconn_send_bytes(rc, buf, len, fds, nfds);
	if (ret)
		return ret;
	ret = rawconn_recv(rc, 10000, &resp);
	if (ret)
		return ret;
	*err = resp->err;
	if (id)
		*id = resp->id;
	gsvm__response__free_unpacked(resp, NULL);
	return 0;
}

int attack_garbage(struct hostile *h)
{
	unsigned int i, n = 400, badmsg = 0, other = 0, ok = 0;
	struct fdprobe probe;
	struct hconn c;
	uint8_t buf[4096];
	uint64_t id;
	size_t len, j;
	int err, ret;

	EXPECT(!rawconn_open(h->sock, &c.rc), "connect");
	c.uffd = -1;
	EXPECT(!fdprobe_open(&probe), "pipe");
	for (i = 0; i < n; i++) {
		len = 1 + hrand() % (i < n / 2 ? 64 : sizeof(buf));
		for (j = 0; j < len; j++)
			buf[j] = (uint8_t)hrand();
		/* Every tenth one carries a descriptor, which gsvmd must close. */
		ret = send_expect(&c.rc, buf, len, i % 10 ? NULL : &probe.rd, i % 10 ? 0 : 1, &err,
				  &id);
		EXPECT(!ret, "datagram %u of %zu bytes: no answer: %s", i, len, errname(ret));
		EXPECT(err <= 0, "a positive err %d", err);
		if (err == -EBADMSG && id == 0)
			badmsg++;
		else if (err)
			other++;
		else
			ok++;
	}
	note("%u random datagrams: %u -EBADMSG, %u other errors, %u decoded as valid requests", n,
	     badmsg, other, ok);
	EXPECT(badmsg > n / 2, "most garbage should be undecodable");
	EXPECT(fdprobe_closed(&probe), "a descriptor sent with garbage is still open in gsvmd");
	EXPECT(conn_works(&c.rc), "the connection no longer works");
	/* Garbage that happened to decode as a hello took it; either way one more is answered. */
	err = rawconn_hello(&c.rc, -1, false);
	EXPECT(err == 0 || err == -EALREADY, "hello after garbage: %s", errname(err));
	fdprobe_close(&probe);
	hconn_close(&c);
	return 0;
}

/*
 * A zero-length datagram reads as end of file on a SOCK_SEQPACKET socket:
 * gsvmd can only take it for a close. Either that or an error reply is fine;
 * gsvmd must survive it.
 */
int attack_empty_datagram(struct hostile *h)
{
	Gsvm__Response *resp;
	struct rawconn rc;
	int err;

	EXPECT(!rawconn_open(h->sock, &rc), "connect");
	EXPECT(!rawconn_send_bytes(&rc, "", 0, NULL, 0), "send");
	err = rawconn_recv(&rc, 5000, &resp);
	if (!err) {
		note("empty datagram answered with %s", errname(resp->err));
		gsvm__response__free_unpacked(resp, NULL);
	} else {
		note("empty datagram: gsvmd closed the connection (%s)", errname(err));
		EXPECT(err == -ENOTCONN, "neither an answer nor a close: %s", errname(err));
	}
	rawconn_close(&rc);
	return 0;
}

int attack_truncated(struct hostile *h)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__PrefetchReq p;
	Gsvm__AllocReq a = GSVM__ALLOC_REQ__INIT;
	unsigned int badmsg = 0, other = 0, cuts = 0;
	struct fdprobe probe;
	struct rawalloc ra;
	struct hconn c;
	uint8_t buf[256];
	size_t len, cut;
	uint64_t id;
	int err;

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, 4 * MiB, true, &ra), "alloc");
	rawconn_prefetch_req(&req, &p, (uintptr_t)ra.addr, 4 * MiB, 1);
	req.id = 0x123456789abcULL;
	len = gsvm__request__get_packed_size(&req);
	gsvm__request__pack(&req, buf);
	for (cut = 1; cut < len; cut++, cuts++) {
		EXPECT(!send_expect(&c.rc, buf, cut, NULL, 0, &err, &id), "no answer at cut %zu",
		       cut);
		EXPECT(err < 0, "a prefetch cut to %zu of %zu bytes succeeded", cut, len);
		if (err == -EBADMSG && !id)
			badmsg++;
		else
			other++;
	}
	/* A truncated alloc with its memfd: refused, and the descriptor closed. */
	EXPECT(!fdprobe_open(&probe), "pipe");
	gsvm__request__init(&req);
	a.addr = (uintptr_t)ra.addr + 64 * MiB;
	a.size = 4 * MiB;
	req.id = 99;
	req.body_case = GSVM__REQUEST__BODY_ALLOC;
	req.alloc = &a;
	len = gsvm__request__get_packed_size(&req);
	gsvm__request__pack(&req, buf);
	for (cut = 1; cut < len; cut++, cuts++) {
		EXPECT(!send_expect(&c.rc, buf, cut, &probe.rd, 1, &err, &id), "no answer");
		EXPECT(err < 0, "an alloc cut to %zu bytes succeeded", cut);
		if (err == -EBADMSG && !id)
			badmsg++;
		else
			other++;
	}
	EXPECT(fdprobe_closed(&probe), "descriptors of truncated requests are still open");
	note("%u truncated requests: %u -EBADMSG (id 0), %u other errors", cuts, badmsg, other);
	EXPECT(conn_works(&c.rc), "connection");
	EXPECT(!rawconn_prefetch(&c.rc, (uintptr_t)ra.addr, 4 * MiB, 0), "a whole prefetch");
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	fdprobe_close(&probe);
	hconn_close(&c);
	return 0;
}

/* Values outside the enums, on a client with memory. */
static int enum_values(struct hostile *h)
{
	struct rawalloc ra;
	struct hconn c;
	uint64_t p;
	int err;

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, 2 * MiB, true, &ra), "alloc");
	p = (uintptr_t)ra.addr;
	err = rawconn_prefetch(&c.rc, p, 4096, -5);
	EXPECT(err == -ENODEV, "location -5: %s", errname(err));
	err = rawconn_prefetch(&c.rc, p, 4096, 1000);
	EXPECT(err == -ENODEV, "location 1000: %s", errname(err));
	err = rawconn_devop(&c.rc, 0, 99, p, 4096, 0, NULL);
	EXPECT(err == -EINVAL, "op 99: %s", errname(err));
	err = rawconn_devop(&c.rc, -1, GSVM_OP_FILL, p, 4096, 0, NULL);
	EXPECT(err == -ENODEV, "device -1: %s", errname(err));
	err = rawconn_devop(&c.rc, 7, GSVM_OP_FILL, p, 4096, 0, NULL);
	EXPECT(err == -ENODEV, "device 7: %s", errname(err));
	err = rawconn_advise(&c.rc, p, 4096, 99, 0);
	EXPECT(err == -EINVAL, "advice 99: %s", errname(err));
	err = rawconn_advise(&c.rc, p, 4096, GSVM_ADVISE_SET_ACCESSED_BY, 64);
	EXPECT(err == -ENODEV, "accessed by device 64: %s", errname(err));
	err = rawconn_advise(&c.rc, p, 4096, GSVM_ADVISE_SET_PREFERRED_LOCATION, -7);
	EXPECT(err == -ENODEV, "preferred location -7: %s", errname(err));
	note("locations, devices, ops and advice out of range: -ENODEV / -EINVAL");
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	hconn_close(&c);
	return 0;
}

int attack_wrong_types(struct hostile *h)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__HelloReply hr = GSVM__HELLO_REPLY__INIT;
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__Hello hello = GSVM__HELLO__INIT;
	/* id 79; field 16 (length 0); field 100 (varint 1): no body gsvmd knows. */
	static const uint8_t unknown_fields[] = { 0x08, 79, 0x82, 0x01, 0x00, 0xa0, 0x06, 0x01 };
	/* id 80; field 2 (hello) as a varint: the wrong wire type. */
	static const uint8_t wrong_wire[] = { 0x08, 80, 0x10, 0x05 };
	/* id 81; a group start (wire type 3) and wire types 6 and 7. */
	static const uint8_t group[] = { 0x08, 81, 0xa3, 0x01 };
	static const uint8_t wt7[] = { 0x08, 82, 0x0f };
	/* An 11-byte varint. */
	static const uint8_t long_varint[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
					       0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	/* id 83 with hello set and then devices set: the last member wins. */
	static const uint8_t two_members[] = { 0x08, 83, 0x12, 0x02, 0x08, 0x01, 0x1a, 0x00 };
	struct rawconn rc;
	uint8_t buf[256];
	uint64_t id;
	size_t len;
	int err;

	EXPECT(!rawconn_open(h->sock, &rc), "connect");
	/* A Response sent as a request. */
	resp.id = 77;
	resp.err = -5;
	resp.body_case = GSVM__RESPONSE__BODY_HELLO;
	resp.hello = &hr;
	hr.version = 1;
	hr.ndevices = 2;
	len = gsvm__response__pack(&resp, buf);
	EXPECT(!send_expect(&rc, buf, len, NULL, 0, &err, &id), "no answer");
	note("a Response as a request: %s (id %llu)", errname(err), (unsigned long long)id);
	EXPECT(err < 0, "a Response was taken for a request");
	/* An empty Request: no body. */
	req.id = 78;
	len = gsvm__request__pack(&req, buf);
	EXPECT(!send_expect(&rc, buf, len, NULL, 0, &err, &id), "no answer");
	EXPECT(err == -EOPNOTSUPP && id == 78, "empty request: %s id %llu", errname(err),
	       (unsigned long long)id);
	EXPECT(!send_expect(&rc, unknown_fields, sizeof(unknown_fields), NULL, 0, &err, &id), "x");
	EXPECT(err == -EOPNOTSUPP && id == 79, "unknown fields: %s id %llu", errname(err),
	       (unsigned long long)id);
	EXPECT(!send_expect(&rc, wrong_wire, sizeof(wrong_wire), NULL, 0, &err, &id), "x");
	EXPECT(err == -EBADMSG && id == 0, "wrong wire type: %s id %llu", errname(err),
	       (unsigned long long)id);
	EXPECT(!send_expect(&rc, group, sizeof(group), NULL, 0, &err, &id), "x");
	EXPECT(err < 0, "a group field: %s", errname(err));
	note("a group field: %s (id %llu)", errname(err), (unsigned long long)id);
	EXPECT(!send_expect(&rc, wt7, sizeof(wt7), NULL, 0, &err, &id), "x");
	EXPECT(err == -EBADMSG, "wire type 7: %s", errname(err));
	EXPECT(!send_expect(&rc, long_varint, sizeof(long_varint), NULL, 0, &err, &id), "x");
	EXPECT(err == -EBADMSG, "11-byte varint: %s", errname(err));
	EXPECT(!send_expect(&rc, two_members, sizeof(two_members), NULL, 0, &err, &id), "x");
	note("two oneof members: %s (id %llu)", errname(err), (unsigned long long)id);
	EXPECT(err <= 0 && id == 83, "two members: %s", errname(err));
	/* Wrong versions, then the right one. */
	hello.version = 0;
	req.body_case = GSVM__REQUEST__BODY_HELLO;
	req.hello = &hello;
	EXPECT(rawconn_call_err(&rc, &req, -1) == -EPROTO, "version 0");
	hello.version = 0xffffffffu;
	EXPECT(rawconn_call_err(&rc, &req, -1) == -EPROTO, "version ~0");
	/* A name that is not UTF-8 and holds a NUL within its bytes. */
	hello.version = GSVM__VERSION__VERSION_CURRENT;
	hello.name = "\xff\xfe\x80\xc0hostile";
	EXPECT(!rawconn_call_err(&rc, &req, -1), "good hello");
	EXPECT(rawconn_call_err(&rc, &req, -1) == -EALREADY, "a second hello");
	EXPECT(conn_works(&rc), "connection");
	rawconn_close(&rc);
	return enum_values(h);
}

int attack_huge_lengths(struct hostile *h)
{
	const uint64_t M = UINT64_MAX;
	struct rawalloc ra;
	struct hconn c;
	uint64_t p, total = 0;
	int memfd, err, i;
	struct {
		const char *what;
		uint64_t addr, len;
	} cases[8];

	EXPECT(!hconn_open(h, &c, true), "hello");
	EXPECT(!rawalloc_new(&c.rc, c.uffd, 4 * MiB, true, &ra), "alloc");
	p = (uintptr_t)ra.addr;
	cases[0] = (typeof(cases[0])){ "len = UINT64_MAX", p, M };
	cases[1] = (typeof(cases[0])){ "addr + len wraps", M - 4095, 8192 };
	cases[2] = (typeof(cases[0])){ "addr + len wraps to 0", p, M - p + 1 };
	cases[3] = (typeof(cases[0])){ "len = 2^63", p, 1ULL << 63 };
	cases[4] = (typeof(cases[0])){ "addr = UINT64_MAX", M, 1 };
	cases[5] = (typeof(cases[0])){ "len = 0", p, 0 };
	cases[6] = (typeof(cases[0])){ "addr 0, len = UINT64_MAX", 0, M };
	cases[7] = (typeof(cases[0])){ "unaligned wrap", M - 10, 20 };
	for (i = 0; i < 8; i++) {
		err = rawconn_prefetch(&c.rc, cases[i].addr, cases[i].len, 0);
		EXPECT(err == -EINVAL || err == -EFAULT, "prefetch, %s: %s", cases[i].what,
		       errname(err));
		err = rawconn_query(&c.rc, cases[i].addr, cases[i].len, UINT32_MAX, &total);
		EXPECT(err == -EINVAL || err == -EFAULT, "query, %s: %s", cases[i].what,
		       errname(err));
		err = rawconn_devop(&c.rc, 0, GSVM_OP_CHECKSUM, cases[i].addr, cases[i].len, 0,
				    NULL);
		EXPECT(err == -EINVAL || err == -EFAULT, "device op, %s: %s", cases[i].what,
		       errname(err));
		err = rawconn_devop(&c.rc, 1, GSVM_OP_FILL, cases[i].addr, cases[i].len, 0xee,
				    NULL);
		EXPECT(err == -EINVAL || err == -EFAULT, "fill, %s: %s", cases[i].what,
		       errname(err));
		err = rawconn_advise(&c.rc, cases[i].addr, cases[i].len,
				     GSVM_ADVISE_SET_READ_MOSTLY, 0);
		EXPECT(err == -EINVAL || err == -EFAULT, "advise, %s: %s", cases[i].what,
		       errname(err));
	}
	note("prefetch, query, device ops and advice over 8 overflowing ranges refused");
	/* Allocations whose end wraps or that are absurdly large. */
	memfd = rawmem_memfd(4 * MiB, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	EXPECT(memfd >= 0, "memfd");
	err = rawconn_alloc(&c.rc, M - 2 * MiB + 1, 4 * MiB, memfd);
	EXPECT(err == -EINVAL, "alloc wrapping: %s", errname(err));
	err = rawconn_alloc(&c.rc, M & ~4095ULL, 4 * MiB, memfd);
	EXPECT(err == -EINVAL, "alloc wrapping (aligned): %s", errname(err));
	err = rawconn_alloc(&c.rc, 1ULL << 40, M & ~4095ULL, memfd);
	EXPECT(err == -EINVAL, "alloc of 2^64 - 4096 bytes: %s", errname(err));
	err = rawconn_alloc(&c.rc, 1ULL << 40, 0, memfd);
	EXPECT(err == -EINVAL, "alloc of 0 bytes: %s", errname(err));
	err = rawconn_free(&c.rc, M);
	EXPECT(err == -EINVAL, "free at UINT64_MAX: %s", errname(err));
	close(memfd);
	/* The connection still serves the real allocation. */
	EXPECT(!rawconn_query(&c.rc, p, 4 * MiB, UINT32_MAX, &total), "query");
	EXPECT(!rawconn_prefetch(&c.rc, p, 4 * MiB, 1), "prefetch");
	EXPECT(!rawalloc_free(&c.rc, c.uffd, &ra), "free");
	hconn_close(&c);
	return 0;
}

/*
 * Datagrams larger than gsvmd's buffer (64 KiB) and a request whose
 * embedded length claims 2^62 bytes.
 */
int attack_oversized(struct hostile *h)
{
	static const uint8_t huge_len[] = { 0x08, 5,	0x32, 0x80, 0x80, 0x80,
					    0x80, 0x80, 0x80, 0x80, 0x80, 0x40 };
	size_t sizes[] = { WIRE_MAX_MSG + 1, 128 * KiB, 200 * KiB };
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__Hello hello = GSVM__HELLO__INIT;
	Gsvm__Response *resp;
	struct fdprobe probe;
	struct rawconn rc;
	uint8_t *buf;
	char *name;
	size_t len, i;
	int err, sndbuf = 1 << 20;

	EXPECT(!rawconn_open(h->sock, &rc), "connect");
	/* Root may pass wmem_max: large datagrams then reach gsvmd. */
	if (setsockopt(rc.sock, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
		setsockopt(rc.sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	buf = malloc(256 * KiB);
	name = malloc(256 * KiB + 1);
	EXPECT(buf && name && !fdprobe_open(&probe), "memory");
	/* A valid hello whose name makes it too large. */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(name, 'x', sizes[i]);
		name[sizes[i]] = 0;
		hello.version = GSVM__VERSION__VERSION_CURRENT;
		hello.name = name;
		req.id = 7;
		req.body_case = GSVM__REQUEST__BODY_HELLO;
		req.hello = &hello;
		len = gsvm__request__get_packed_size(&req);
		gsvm__request__pack(&req, buf);
		err = rawconn_send_bytes(&rc, buf, len, &probe.rd, 1);
		if (err) {
			note("%zu-byte datagram: the kernel refused it (%s)", len, errname(err));
			continue;
		}
		err = rawconn_recv(&rc, 10000, &resp);
		EXPECT(!err, "no answer to a %zu-byte datagram: %s", len, errname(err));
		EXPECT(resp->id == 0 && resp->err == -EMSGSIZE, "%zu bytes: id %llu err %s", len,
		       (unsigned long long)resp->id, errname(resp->err));
		gsvm__response__free_unpacked(resp, NULL);
		note("%zu-byte datagram: -EMSGSIZE", len);
	}
	EXPECT(fdprobe_closed(&probe), "the descriptor of an oversized datagram is still open");
	/* The largest hello that fits: a 60 KiB name is cut to gsvmd's field. */
	memset(name, 'y', 60 * KiB);
	name[60 * KiB] = 0;
	hello.name = name;
	err = rawconn_call_err(&rc, &req, -1);
	EXPECT(!err, "a 60 KiB hello: %s", errname(err));
	err = rawconn_send_bytes(&rc, huge_len, sizeof(huge_len), NULL, 0);
	EXPECT(!err, "send");
	err = rawconn_recv(&rc, 10000, &resp);
	EXPECT(!err && resp->err == -EBADMSG, "a 2^62-byte field: %s",
	       errname(err ? err : resp->err));
	gsvm__response__free_unpacked(resp, NULL);
	EXPECT(conn_works(&rc), "connection");
	fdprobe_close(&probe);
	free(buf);
	free(name);
	rawconn_close(&rc);
	return 0;
}

/* Requests that need a hello (and a userfaultfd) before it. */
int attack_before_hello(struct hostile *h)
{
	struct hconn c;
	int memfd, err;

	EXPECT(!rawconn_open(h->sock, &c.rc), "connect");
	c.uffd = -1;
	memfd = rawmem_memfd(2 * MiB, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	EXPECT(memfd >= 0, "memfd");
	err = rawconn_alloc(&c.rc, 1ULL << 40, 2 * MiB, memfd);
	EXPECT(err == -EPROTO, "alloc before hello: %s", errname(err));
	err = rawconn_prefetch(&c.rc, 1ULL << 40, 2 * MiB, 0);
	EXPECT(err == -EPROTO, "prefetch before hello: %s", errname(err));
	err = rawconn_free(&c.rc, 1ULL << 40);
	EXPECT(err == -EPROTO, "free before hello: %s", errname(err));
	/* After a hello without a userfaultfd: no memory requests. */
	EXPECT(!rawconn_hello(&c.rc, -1, false), "hello");
	err = rawconn_alloc(&c.rc, 1ULL << 40, 2 * MiB, memfd);
	EXPECT(err == -EPROTO, "alloc without a userfaultfd: %s", errname(err));
	err = rawconn_query(&c.rc, 1ULL << 40, 2 * MiB, 4, NULL);
	EXPECT(err == -EPROTO, "query without a userfaultfd: %s", errname(err));
	err = rawconn_devop(&c.rc, 0, GSVM_OP_FILL, 1ULL << 40, 4096, 0, NULL);
	EXPECT(err == -EPROTO, "device op without a userfaultfd: %s", errname(err));
	err = rawconn_advise(&c.rc, 1ULL << 40, 4096, GSVM_ADVISE_SET_READ_MOSTLY, 0);
	EXPECT(err == -EPROTO, "advise without a userfaultfd: %s", errname(err));
	EXPECT(conn_works(&c.rc), "connection");
	close(memfd);
	hconn_close(&c);
	return 0;
}
