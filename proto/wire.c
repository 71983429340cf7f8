// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

/**
 * wire_send() - Send one datagram with optional descriptors
 * @sock: A SOCK_SEQPACKET socket
 * @buf: The message
 * @len: Its length, at most WIRE_MAX_MSG
 * @fds: Descriptors to pass, or NULL
 * @nfds: How many, at most WIRE_MAX_FDS
 *
 * Return: 0, -EMSGSIZE, -EINVAL, or sendmsg()'s errno (-EAGAIN on a full
 * non-blocking socket, -EPIPE when the peer is gone).
 */
int wire_send(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (len > WIRE_MAX_MSG)
		return -EMSGSIZE;
	if (nfds < 0 || nfds > WIRE_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* Keep the first @max descriptors of @c in @fds, close the rest. */
static void wire_take_fds(struct cmsghdr *c, int *fds, int *nfds, int max)
{
	size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int), i;
	int fd;

	for (i = 0; i < n; i++) {
		memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		if (*nfds < max)
			fds[(*nfds)++] = fd;
		else
			close(fd);
	}
}

/**
 * wire_recv() - Receive one datagram and its descriptors
 * @sock: A SOCK_SEQPACKET socket
 * @buf: Receives the message
 * @cap: Size of @buf
 * @len: Receives the message length
 * @fds: Receives up to WIRE_MAX_FDS descriptors (close-on-exec); extra ones
 *       are closed
 * @nfds: Receives how many were kept
 *
 * Return: 0; -ENOTCONN when the peer closed the connection (or sent an empty
 * message, which reads the same); -EMSGSIZE for a message larger than @cap;
 * -EPROTO when the control data was truncated (with each of these, any
 * descriptors received are closed); recvmsg()'s errno (-EAGAIN).
 */
int wire_recv(int sock, void *buf, size_t cap, size_t *len, int *fds, int *nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * (WIRE_MAX_FDS + 4))];
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int i;

	*nfds = 0;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			wire_take_fds(c, fds, nfds, WIRE_MAX_FDS);
	/*
	 * Descriptors of a message that is not delivered are closed, those of
	 * an empty one too: it reads as end of file (found by fuzz_conn).
	 */
	if (!n || msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
		for (i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
			return (msg.msg_flags & MSG_CTRUNC) ? -EPROTO : -EMSGSIZE;
		return -ENOTCONN;
	}
	*len = (size_t)n;
	return 0;
}

/**
 * wire_send_request() - Pack and send a request
 * @sock: The socket
 * @req: The request
 * @fds: Descriptors to attach, or NULL
 * @nfds: How many
 *
 * Return: as wire_send().
 */
int wire_send_request(int sock, const Gsvm__Request *req, const int *fds, int nfds)
{
	uint8_t buf[WIRE_MAX_MSG];
	size_t len = gsvm__request__get_packed_size(req);

	if (len > sizeof(buf))
		return -EMSGSIZE;
	gsvm__request__pack(req, buf);
	return wire_send(sock, buf, len, fds, nfds);
}

/**
 * wire_pack_response() - Pack a response into a buffer
 * @resp: The response
 * @buf: Destination
 * @cap: Its size
 *
 * Return: the packed length, or 0 if it does not fit.
 */
size_t wire_pack_response(const Gsvm__Response *resp, void *buf, size_t cap)
{
	size_t len = gsvm__response__get_packed_size(resp);

	if (len > cap || len > WIRE_MAX_MSG)
		return 0;
	gsvm__response__pack(resp, buf);
	return len;
}

/**
 * wire_send_response() - Pack and send a response
 * @sock: The socket
 * @resp: The response
 *
 * Return: as wire_send().
 */
int wire_send_response(int sock, const Gsvm__Response *resp)
{
	uint8_t buf[WIRE_MAX_MSG];
	size_t len = wire_pack_response(resp, buf, sizeof(buf));

	if (!len)
		return -EMSGSIZE;
	return wire_send(sock, buf, len, NULL, 0);
}
