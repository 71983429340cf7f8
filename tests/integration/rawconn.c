// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "rawconn.h"
#include "wire.h"

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif

/* libgsvm's features (client/uffd_client.c). */
#define RAWMEM_UFFD_FEATURES                                                                  \
	(UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM |                       \
	 UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | \
	 UFFD_FEATURE_EVENT_UNMAP)
#define RAWMEM_ALIGN (2UL << 20)

int rawconn_open(const char *path, struct rawconn *rc)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int err;

	memset(rc, 0, sizeof(*rc));
	rc->next_id = 1;
	rc->timeout_ms = RAWCONN_TIMEOUT_MS;
	rc->buf = malloc(WIRE_MAX_MSG);
	if (!rc->buf)
		return -ENOMEM;
	rc->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (rc->sock < 0) {
		err = -errno;
		goto err;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(rc->sock, (struct sockaddr *)&sun, sizeof(sun))) {
		err = -errno;
		close(rc->sock);
		goto err;
	}
	return 0;
err:
	free(rc->buf);
	rc->buf = NULL;
	rc->sock = -1;
	return err;
}

int rawconn_flood_unread(struct rawconn *rc, unsigned int max, uint64_t deadline_ns,
			 uint64_t first_id, unsigned int *sent)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__DevicesReq d = GSVM__DEVICES_REQ__INIT;
	struct pollfd pfd;
	uint8_t buf[64];
	size_t len;
	ssize_t n;

	req.body_case = GSVM__REQUEST__BODY_DEVICES;
	req.devices = &d;
	*sent = 0;
	while (*sent < max && now_ns() < deadline_ns) {
		req.id = first_id + *sent;
		len = gsvm__request__pack(&req, buf);
		n = send(rc->sock, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return 1;
		if (n < 0 && errno == EAGAIN) {
			pfd = (struct pollfd){ .fd = rc->sock, .events = POLLOUT };
			poll(&pfd, 1, 100);
			continue;
		}
		if (n != (ssize_t)len)
			return n < 0 ? -errno : -EIO;
		(*sent)++;
	}
	return 0;
}

void rawconn_close(struct rawconn *rc)
{
	unsigned int i;

	for (i = 0; i < rc->nstash; i++)
		gsvm__response__free_unpacked(rc->stash[i], NULL);
	rc->nstash = 0;
	if (rc->sock >= 0)
		close(rc->sock);
	rc->sock = -1;
	free(rc->buf);
	rc->buf = NULL;
}

int rawconn_peer_pid(struct rawconn *rc)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(rc->sock, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	return cred.pid;
}

int rawconn_send_bytes(struct rawconn *rc, const void *buf, size_t len, const int *fds, int nfds)
{
	size_t clen = nfds > 0 ? CMSG_SPACE(sizeof(int) * (size_t)nfds) : 0;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	char *cbuf = NULL;
	ssize_t n;

	if (clen) {
		cbuf = calloc(1, clen);
		if (!cbuf)
			return -ENOMEM;
		msg.msg_control = cbuf;
		msg.msg_controllen = clen;
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(rc->sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	free(cbuf);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

int64_t rawconn_send(struct rawconn *rc, Gsvm__Request *req, const int *fds, int nfds)
{
	size_t len;
	uint8_t *buf;
	int err;

	if (!req->id)
		req->id = rc->next_id++;
	len = gsvm__request__get_packed_size(req);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	gsvm__request__pack(req, buf);
	err = rawconn_send_bytes(rc, buf, len, fds, nfds);
	free(buf);
	return err ? err : (int64_t)req->id;
}

/* One datagram off the socket; descriptors that come with it are closed. */
static int rawconn_read(struct rawconn *rc, int timeout_ms, Gsvm__Response **out)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = { .iov_base = rc->buf, .iov_len = WIRE_MAX_MSG };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct pollfd pfd = { .fd = rc->sock, .events = POLLIN };
	struct cmsghdr *c;
	size_t i, nfd;
	ssize_t n;
	int fd, r;

	*out = NULL;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (!r)
		return -ETIMEDOUT;
	do
		n = recvmsg(rc->sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET || errno == EPIPE ? -ENOTCONN : -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
	if (n == 0)
		return -ENOTCONN;
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	*out = gsvm__response__unpack(NULL, (size_t)n, rc->buf);
	return *out ? 0 : -EPROTO;
}

int rawconn_recv(struct rawconn *rc, int timeout_ms, Gsvm__Response **out)
{
	if (rc->nstash) {
		*out = rc->stash[0];
		memmove(&rc->stash[0], &rc->stash[1], --rc->nstash * sizeof(rc->stash[0]));
		return 0;
	}
	return rawconn_read(rc, timeout_ms, out);
}

int rawconn_wait(struct rawconn *rc, uint64_t id, int timeout_ms, Gsvm__Response **out)
{
	Gsvm__Response *resp;
	unsigned int i;
	int err;

	for (i = 0; i < rc->nstash; i++) {
		if (rc->stash[i]->id == id) {
			*out = rc->stash[i];
			memmove(&rc->stash[i], &rc->stash[i + 1],
				(--rc->nstash - i) * sizeof(rc->stash[0]));
			return 0;
		}
	}
	for (;;) {
		err = rawconn_read(rc, timeout_ms, &resp);
		if (err)
			return err;
		if (resp->id == id) {
			*out = resp;
			return 0;
		}
		if (rc->nstash < RAWCONN_STASH)
			rc->stash[rc->nstash++] = resp;
		else
			gsvm__response__free_unpacked(resp, NULL);
	}
}

int rawconn_call(struct rawconn *rc, Gsvm__Request *req, int fd, Gsvm__Response **out)
{
	int64_t id;

	*out = NULL;
	req->id = 0;
	id = rawconn_send(rc, req, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
	if (id < 0)
		return (int)id == -EPIPE || (int)id == -ECONNRESET ? -ENOTCONN : (int)id;
	return rawconn_wait(rc, (uint64_t)id, rc->timeout_ms, out);
}

int rawconn_call_err(struct rawconn *rc, Gsvm__Request *req, int fd)
{
	Gsvm__Response *resp;
	int err = rawconn_call(rc, req, fd, &resp);

	if (err)
		return err;
	err = resp->err;
	gsvm__response__free_unpacked(resp, NULL);
	return err;
}

int rawconn_hello(struct rawconn *rc, int uffd, bool has_uffd)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__Hello hello = GSVM__HELLO__INIT;

	hello.version = GSVM__VERSION__VERSION_CURRENT;
	hello.name = "hostile";
	hello.has_uffd = has_uffd;
	req.body_case = GSVM__REQUEST__BODY_HELLO;
	req.hello = &hello;
	return rawconn_call_err(rc, &req, uffd);
}

int rawconn_devices(struct rawconn *rc, unsigned int *ndev)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__DevicesReq d = GSVM__DEVICES_REQ__INIT;
	Gsvm__Response *resp;
	int err;

	req.body_case = GSVM__REQUEST__BODY_DEVICES;
	req.devices = &d;
	err = rawconn_call(rc, &req, -1, &resp);
	if (err)
		return err;
	err = resp->err;
	if (!err && resp->body_case != GSVM__RESPONSE__BODY_DEVICES)
		err = -EPROTO;
	if (!err && ndev)
		*ndev = (unsigned int)resp->devices->n_devices;
	gsvm__response__free_unpacked(resp, NULL);
	return err;
}

int rawconn_alloc(struct rawconn *rc, uint64_t addr, uint64_t size, int memfd)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__AllocReq a = GSVM__ALLOC_REQ__INIT;

	a.addr = addr;
	a.size = size;
	req.body_case = GSVM__REQUEST__BODY_ALLOC;
	req.alloc = &a;
	return rawconn_call_err(rc, &req, memfd);
}

int rawconn_free(struct rawconn *rc, uint64_t addr)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__FreeReq f = GSVM__FREE_REQ__INIT;

	f.addr = addr;
	req.body_case = GSVM__REQUEST__BODY_FREE;
	req.free = &f;
	return rawconn_call_err(rc, &req, -1);
}

void rawconn_prefetch_req(Gsvm__Request *req, Gsvm__PrefetchReq *p, uint64_t addr, uint64_t len,
			  int loc)
{
	gsvm__request__init(req);
	gsvm__prefetch_req__init(p);
	p->addr = addr;
	p->len = len;
	p->location = loc;
	req->body_case = GSVM__REQUEST__BODY_PREFETCH;
	req->prefetch = p;
}

void rawconn_query_req(Gsvm__Request *req, Gsvm__QueryReq *q, uint64_t addr, uint64_t len)
{
	gsvm__request__init(req);
	gsvm__query_req__init(q);
	q->addr = addr;
	q->len = len;
	q->max = 16;
	req->body_case = GSVM__REQUEST__BODY_QUERY;
	req->query = q;
}

int rawconn_prefetch(struct rawconn *rc, uint64_t addr, uint64_t len, int loc)
{
	Gsvm__Request req;
	Gsvm__PrefetchReq p;

	rawconn_prefetch_req(&req, &p, addr, len, loc);
	return rawconn_call_err(rc, &req, -1);
}

int rawconn_query(struct rawconn *rc, uint64_t addr, uint64_t len, uint32_t max, uint64_t *total)
{
	Gsvm__Request req;
	Gsvm__QueryReq q;
	Gsvm__Response *resp;
	int err;

	rawconn_query_req(&req, &q, addr, len);
	q.max = max;
	err = rawconn_call(rc, &req, -1, &resp);
	if (err)
		return err;
	err = resp->err;
	if (!err && total)
		*total = resp->body_case == GSVM__RESPONSE__BODY_QUERY ? resp->query->total : 0;
	gsvm__response__free_unpacked(resp, NULL);
	return err;
}

int rawconn_devop(struct rawconn *rc, int dev, unsigned int op, uint64_t addr, uint64_t len,
		  uint64_t arg, uint64_t *result)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__DeviceOpReq d = GSVM__DEVICE_OP_REQ__INIT;
	Gsvm__Response *resp;
	int err;

	d.device = dev;
	d.op = op;
	d.addr = addr;
	d.len = len;
	d.arg = arg;
	req.body_case = GSVM__REQUEST__BODY_DEVICE_OP;
	req.device_op = &d;
	err = rawconn_call(rc, &req, -1, &resp);
	if (err)
		return err;
	err = resp->err;
	if (!err && result)
		*result = resp->body_case == GSVM__RESPONSE__BODY_DEVICE_OP ?
				  resp->device_op->result :
				  0;
	gsvm__response__free_unpacked(resp, NULL);
	return err;
}

int rawconn_advise(struct rawconn *rc, uint64_t addr, uint64_t len, unsigned int advice, int dev)
{
	Gsvm__Request req = GSVM__REQUEST__INIT;
	Gsvm__AdviseReq a = GSVM__ADVISE_REQ__INIT;

	a.addr = addr;
	a.len = len;
	a.advice = advice;
	a.device = dev;
	req.body_case = GSVM__REQUEST__BODY_ADVISE;
	req.advise = &a;
	return rawconn_call_err(rc, &req, -1);
}

int rawmem_uffd(bool api)
{
	struct uffdio_api a = { .api = UFFD_API, .features = RAWMEM_UFFD_FEATURES };
	int dev, fd = -1, err;

	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
	}
	if (fd < 0)
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (api && ioctl(fd, UFFDIO_API, &a) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int rawmem_memfd(size_t size, unsigned int seals)
{
	int fd = memfd_create("gsvm", MFD_CLOEXEC | MFD_ALLOW_SEALING), err;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) || (seals && fcntl(fd, F_ADD_SEALS, seals))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

void *rawmem_map(int fd, size_t size)
{
	size_t span = size + RAWMEM_ALIGN;
	uintptr_t base, start;
	void *p;

	p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	base = (uintptr_t)p;
	start = (base + RAWMEM_ALIGN - 1) & ~(RAWMEM_ALIGN - 1);
	p = mmap((void *)start, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		munmap((void *)base, span);
		return NULL;
	}
	if (start > base)
		munmap((void *)base, start - base);
	if (base + span > start + size)
		munmap((void *)(start + size), base + span - (start + size));
	/* Like libgsvm: forked children (the hostile program forks) do not inherit it. */
	madvise(p, size, MADV_DONTFORK);
	return p;
}

int rawmem_register(int uffd, void *addr, size_t len, bool wp)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | (wp ? UFFDIO_REGISTER_MODE_WP : 0),
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

int rawmem_unregister(int uffd, void *addr, size_t len)
{
	struct uffdio_range range = { .start = (uintptr_t)addr, .len = len };

	return ioctl(uffd, UFFDIO_UNREGISTER, &range) ? -errno : 0;
}

int rawalloc_new(struct rawconn *rc, int uffd, size_t size, bool seal_seal, struct rawalloc *a)
{
	unsigned int seals = F_SEAL_SHRINK | F_SEAL_GROW | (seal_seal ? F_SEAL_SEAL : 0);
	int err;

	a->size = size;
	a->memfd = rawmem_memfd(size, seals);
	if (a->memfd < 0)
		return a->memfd;
	a->addr = rawmem_map(a->memfd, size);
	if (!a->addr) {
		err = -ENOMEM;
		goto err_close;
	}
	err = rawmem_register(uffd, a->addr, size, true);
	if (err)
		goto err_unmap;
	err = rawconn_alloc(rc, (uintptr_t)a->addr, size, a->memfd);
	if (err)
		goto err_unregister;
	return 0;
err_unregister:
	rawmem_unregister(uffd, a->addr, size);
err_unmap:
	munmap(a->addr, size);
err_close:
	close(a->memfd);
	a->memfd = -1;
	a->addr = NULL;
	return err;
}

int rawalloc_free(struct rawconn *rc, int uffd, struct rawalloc *a)
{
	int err = rawconn_free(rc, (uintptr_t)a->addr);

	if (uffd >= 0)
		rawmem_unregister(uffd, a->addr, a->size);
	munmap(a->addr, a->size);
	close(a->memfd);
	a->memfd = -1;
	a->addr = NULL;
	return err;
}
