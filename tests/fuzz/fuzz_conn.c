// SPDX-License-Identifier: MIT
/**
 * DOC: fuzz_conn - raw datagrams into the connection handler
 *
 * The in-process daemon (fixture.h) listens on a control socket of its own
 * (control_listen()); each input connects to it as a client and sends
 * datagrams made from the input, running the event loop (non-blocking) in
 * between, so the bytes go through accept, control_read(), the framing
 * (wire_recv()), the decoder and the dispatcher exactly as a client's would.
 *
 * The input is a list of pieces, each a header byte, a length (one byte, or
 * two little-endian ones) and that many bytes. Header bits:
 *
 * - 0-2: a descriptor to attach (SCM_RIGHTS), as fixture_fd(): none,
 *   /dev/null, the client's userfaultfd, an allocation's memfd, a fresh
 *   memfd (sealed or not), a pipe;
 * - 3-4: how many descriptors in all: 1, 2, 5 or 8 (the others are
 *   /dev/null); gsvmd keeps one, and more than fit its control buffer
 *   truncate the control data;
 * - 5: the length takes two bytes;
 * - 6: send an oversized datagram (WIRE_MAX_MSG + 1 bytes) instead;
 * - 7: send the next piece before running the loop (several datagrams
 *   queue up and are read in one batch).
 *
 * When gsvmd closes the connection (an empty datagram reads as end of file)
 * the next piece goes on a new one, up to CONN_MAX_CONNECTIONS per input.
 * Every reply must decode; after the input every connection is closed and
 * nothing may be left (fixture_check()).
 */
#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "fixture.h"
#include "session.h"
#include "wire.h"
#include "workers.h"

#define CONN_MAX_CONNECTIONS 4
#define CONN_MAX_FDS 8
#define CONN_MAX_ROUNDS 100000
#define CONN_MEMFD_SIZE (64 << 10)

#define PIECE_FD_KIND 0x07
#define PIECE_FD_COUNT(h) (((h) >> 3) & 3)
#define PIECE_LONG 0x20
#define PIECE_OVERSIZE 0x40
#define PIECE_NO_PUMP 0x80

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct control *conn_control;
static char conn_dir[64];
static char conn_path[108];

static void conn_fail(const char *what)
{
	fixture_die("%s: %s", what, strerror(errno));
}

static void conn_fini(void)
{
	control_close(conn_control);
	rmdir(conn_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct fuzz_fixture *f = fixture_get();
	int err;

	(void)argc;
	(void)argv;
	if (conn_control)
		return 0;
	snprintf(conn_dir, sizeof(conn_dir), "/tmp/gsvm-fuzz-XXXXXX");
	if (!mkdtemp(conn_dir))
		conn_fail("mkdtemp");
	snprintf(conn_path, sizeof(conn_path), "%s/gsvmd.sock", conn_dir);
	err = control_listen(&f->d, conn_path, -1, &conn_control);
	if (err) {
		errno = -err;
		conn_fail("control_listen");
	}
	atexit(conn_fini);
	return 0;
}

/*
 * Run the loop and the workers until gsvmd has nothing more to do for the
 * connection: nothing left to read on its socket, no reply queued.
 */
static void conn_pump(struct fuzz_fixture *f, int client)
{
	struct pollfd p = { .events = POLLIN };
	struct session *s;
	unsigned int round;

	for (round = 0; round < CONN_MAX_ROUNDS; round++) {
		event_base_loop(f->d.base, EVLOOP_NONBLOCK);
		workers_drain(f->d.workers);
		if (client >= 0)
			fixture_drain(f, client, 0, NULL);
		s = TAILQ_FIRST(&f->d.sessions);
		if (!s)
			return;
		p.fd = s->sock;
		if (poll(&p, 1, 0) == 0 && !session_backlog(s))
			return;
	}
	fixture_die("gsvmd still busy after %u rounds", round);
}

static int conn_open(struct fuzz_fixture *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		conn_fail("socket");
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", conn_path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
		conn_fail("connect");
	conn_pump(f, fd);
	if (f->d.nsessions != 1)
		fixture_die("connection not accepted");
	return fd;
}

/* Close the client's end and let gsvmd see it go. */
static void conn_close(struct fuzz_fixture *f, int client)
{
	close(client);
	conn_pump(f, -1);
}

/* Return: 0, or -EPIPE when gsvmd has closed the connection. */
static int conn_send(struct fuzz_fixture *f, int client, const uint8_t *buf, size_t len,
		     const int *fds, unsigned int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * CONN_MAX_FDS)];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	unsigned int tries;

	if (nfds) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (tries = 0; tries < 8; tries++) {
		if (sendmsg(client, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return 0;
		if (errno == EPIPE || errno == ECONNRESET)
			return -EPIPE;
		if (errno != EAGAIN && errno != EINTR)
			conn_fail("sendmsg");
		conn_pump(f, client);
	}
	/* gsvmd does not read: its batch limit and our pumping say it will. */
	fixture_die("gsvmd does not read its socket");
}

/* The descriptors of header @h; returns how many were opened. */
static unsigned int conn_fds(struct fuzz_fixture *f, uint8_t h, int *fds)
{
	static const unsigned int counts[4] = { 1, 2, 5, CONN_MAX_FDS };
	unsigned int n = 0, want;

	if (!(h & PIECE_FD_KIND))
		return 0;
	want = counts[PIECE_FD_COUNT(h)];
	fds[n] = fixture_fd(f, h & PIECE_FD_KIND, CONN_MEMFD_SIZE);
	if (fds[n] < 0)
		conn_fail("descriptor");
	for (n = 1; n < want; n++) {
		fds[n] = fixture_fd(f, 1, 0);
		if (fds[n] < 0)
			conn_fail("descriptor");
	}
	return n;
}

/* Send one piece from @data; return the bytes it took or 0 at the end. */
static size_t conn_piece(struct fuzz_fixture *f, int *client, const uint8_t *data, size_t size)
{
	static uint8_t big[WIRE_MAX_MSG + 1];
	int fds[CONN_MAX_FDS];
	unsigned int nfds, i;
	size_t len, used;
	uint8_t h;
	int err;

	if (size < 2)
		return 0;
	h = data[0];
	len = data[1];
	used = 2;
	if (h & PIECE_LONG && size > 2)
		len |= (size_t)data[used++] << 8;
	if (len > size - used)
		len = size - used;
	if (h & PIECE_OVERSIZE) {
		for (i = 0; i < sizeof(big); i++)
			big[i] = len ? data[used + i % len] : 0;
	}
	nfds = conn_fds(f, h, fds);
	err = conn_send(f, *client, h & PIECE_OVERSIZE ? big : data + used,
			h & PIECE_OVERSIZE ? sizeof(big) : len, fds, nfds);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (err) {
		/* gsvmd hung up: later pieces go on a new connection. */
		conn_close(f, *client);
		*client = -1;
	} else if (!(h & PIECE_NO_PUMP)) {
		conn_pump(f, *client);
	}
	return used + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fixture *f = fixture_get();
	unsigned int nconn = 0;
	int client = -1;
	size_t used;

	if (!conn_control)
		LLVMFuzzerInitialize(NULL, NULL);
	fixture_reset(f);
	while (size >= 2) {
		if (client < 0) {
			if (nconn++ == CONN_MAX_CONNECTIONS)
				break;
			client = conn_open(f);
		}
		used = conn_piece(f, &client, data, size);
		data += used;
		size -= used;
	}
	if (client >= 0)
		conn_close(f, client);
	fixture_check(f);
	return 0;
}
