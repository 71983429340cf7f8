// SPDX-License-Identifier: MIT
/*
 * Baseline for rpc: the round trips per second two processes get out of an
 * AF_UNIX SOCK_SEQPACKET socket (what libgsvm and gsvmd speak), with a
 * request and a reply of the sizes a one-range query and its answer have on
 * the wire. The echo process answers each datagram with one reply; the
 * caller sends, waits for the reply, and counts round trips for a fixed
 * window after a warm-up of 1000.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define PINGPONG_MAX 65536

static int echo_main(int fd, size_t reply_size)
{
	static uint8_t buf[PINGPONG_MAX];
	ssize_t n;

	memset(buf, 0x5a, sizeof(buf));
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		if (send(fd, buf, reply_size, 0) != (ssize_t)reply_size)
			return 1;
	}
}

static int round_trip(int fd, uint8_t *buf, size_t req_size, size_t reply_size)
{
	ssize_t n;

	if (send(fd, buf, req_size, 0) != (ssize_t)req_size)
		return -1;
	do
		n = recv(fd, buf, PINGPONG_MAX, 0);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)reply_size ? 0 : -1;
}

int baseline_pingpong(size_t req_size, size_t reply_size, uint64_t window_ns, uint64_t *count,
		      uint64_t *elapsed_ns)
{
	static uint8_t buf[PINGPONG_MAX];
	uint64_t t0, now = 0, n = 0;
	int sv[2], i, ret = 0;
	pid_t pid;

	if (req_size > PINGPONG_MAX || reply_size > PINGPONG_MAX ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(sv[0]);
		alarm(600);
		_exit(echo_main(sv[1], reply_size));
	}
	close(sv[1]);
	memset(buf, 0xa5, sizeof(buf));
	for (i = 0; i < 1000 && !ret; i++)
		ret = round_trip(sv[0], buf, req_size, reply_size);
	t0 = bench_now_ns();
	do {
		if (round_trip(sv[0], buf, req_size, reply_size)) {
			ret = -1;
			break;
		}
		n++;
		now = bench_now_ns();
	} while (now - t0 < window_ns);
	*count = n;
	*elapsed_ns = now - t0;
	close(sv[0]);
	if (child_wait(pid))
		ret = -1;
	return ret;
}
