// SPDX-License-Identifier: MIT
/**
 * DOC: Control socket
 *
 * gsvmd listens on a Unix SOCK_SEQPACKET socket. Each accepted connection
 * becomes a session; the peer's credentials are read once, at accept, from
 * the kernel (SO_PEERCRED). The loop reads at most CONTROL_BATCH messages per
 * wakeup and connection (one: the connections with something to read are
 * served in turn, a message each, so a client flooding requests delays
 * another by one request, not by a batch of its own), and never blocks:
 * every request that touches a client's memory goes to a worker
 * (dispatch.c).
 *
 * Out of file descriptors, accept() would fail at once and the loop would
 * spin on the readable listening socket: accepting pauses for a second
 * instead.
 */
#include <errno.h>
#include <stdarg.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "dispatch.h"
#include "log.h"
#include "mem.h"
#include "session.h"
#include "wire.h"

#define CONTROL_BATCH 1

_Static_assert(WIRE_MAX_MSG == LIMITS_MESSAGE_MAX, "the wire's buffer is the message limit");
#define CONTROL_ACCEPT_BATCH 16

struct control {
	struct gsvmd *d;
	int fd;
	bool unlink_path;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct event *ev_accept;
	struct event *ev_resume;
	uint8_t buf[WIRE_MAX_MSG];
};

/*
 * A client's bad message: the first is a warning, the rest debug messages
 * (a client sending garbage in a loop must not fill the log); the session's
 * end says how many there were.
 */
static void __attribute__((format(printf, 2, 3)))
control_bad_message(struct session *s, const char *fmt, ...)
{
	char what[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!s->bad_messages++)
		log_warn("session %llu (pid %d): %s (more are logged at debug level)",
			 (unsigned long long)s->id, (int)s->pid, what);
	else
		log_debug("session %llu: %s", (unsigned long long)s->id, what);
}

static void control_read(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct control *c = s->d->control;
	int fds[WIRE_MAX_FDS], nfds, err, i;
	Gsvm__Request *req;
	size_t len;

	(void)fd;
	(void)what;
	for (i = 0; i < CONTROL_BATCH; i++) {
		err = wire_recv(s->sock, c->buf, sizeof(c->buf), &len, fds, &nfds);
		if (err == -EAGAIN)
			return;
		if (err == -EMSGSIZE || err == -EPROTO) {
			control_bad_message(s, "dropped a message: %s", strerror(-err));
			dispatch_error(s, 0, err);
			continue;
		}
		if (err) {
			session_close(s);
			return;
		}
		if (len > s->d->core.limits.max_message) {
			limit_hit(&s->d->core, LIMIT_MESSAGE);
			if (nfds)
				close(fds[0]);
			dispatch_error(s, 0, -EMSGSIZE);
			continue;
		}
		req = gsvm__request__unpack(NULL, len, c->buf);
		if (!req) {
			control_bad_message(s, "undecodable request of %zu bytes", len);
			if (nfds)
				close(fds[0]);
			dispatch_error(s, 0, -EBADMSG);
			continue;
		}
		dispatch_request(s, req, nfds ? fds[0] : -1);
	}
}

static void control_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_flush(arg);
}

static void control_pause(struct control *c)
{
	struct timeval tv = { 1, 0 };

	log_warn("out of file descriptors: not accepting for 1 s");
	event_del(c->ev_accept);
	evtimer_add(c->ev_resume, &tv);
}

static void control_resume(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;

	(void)fd;
	(void)what;
	event_add(c->ev_accept, NULL);
}

static int control_new_session(struct control *c, int fd)
{
	struct session *s;
	int err;

	err = session_create(c->d, fd, &s);
	if (err) {
		close(fd);
		return err;
	}
	s->ev_read = event_new(c->d->base, fd, EV_READ | EV_PERSIST, control_read, s);
	s->ev_write = event_new(c->d->base, fd, EV_WRITE | EV_PERSIST, control_write, s);
	if (!s->ev_read || !s->ev_write || event_add(s->ev_read, NULL)) {
		session_close(s);
		return -ENOMEM;
	}
	log_debug("session %llu: pid %d uid %d connected", (unsigned long long)s->id, (int)s->pid,
		  (int)s->uid);
	return 0;
}

static void control_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct control *c = arg;
	int fd, i, err;

	(void)what;
	for (i = 0; i < CONTROL_ACCEPT_BATCH; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				control_pause(c);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (atomic_load(&c->d->stopping)) {
			close(fd);
			continue;
		}
		err = control_new_session(c, fd);
		if (err)
			log_warn("new session: %s", strerror(-err));
	}
}

/* A socket file at @path: stale (remove it) or served (refuse to start). */
static int control_check_stale(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err = 0;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (!connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
		err = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(path);
	close(fd);
	return err;
}

static int control_bind(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)], *slash;
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
	}
	err = control_check_stale(path);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || chmod(path, 0666) ||
	    listen(fd, 128)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/**
 * control_listen() - Start serving the control socket
 * @d: The daemon
 * @path: Socket path to bind (when @fd < 0)
 * @fd: An already listening socket (socket activation), or -1
 * @out: Receives the control socket
 *
 * The socket is mode 0666: every local user may connect, and what each may
 * do is decided per request from its credentials. A stale socket file is
 * replaced; a live one (another gsvmd) is an error.
 *
 * Return: 0, -EADDRINUSE when another daemon serves @path, -ENAMETOOLONG,
 * -ENOMEM, or the socket call's error.
 */
int control_listen(struct gsvmd *d, const char *path, int fd, struct control **out)
{
	struct control *c = mem_zalloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->d = d;
	if (fd < 0) {
		fd = control_bind(path);
		if (fd < 0) {
			mem_free(c);
			return fd;
		}
		c->unlink_path = true;
		snprintf(c->path, sizeof(c->path), "%s", path);
	}
	c->fd = fd;
	d->control = c;
	c->ev_accept = event_new(d->base, fd, EV_READ | EV_PERSIST, control_accept, c);
	c->ev_resume = evtimer_new(d->base, control_resume, c);
	if (!c->ev_accept || !c->ev_resume || event_add(c->ev_accept, NULL)) {
		control_close(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

/**
 * control_close() - Stop accepting and remove the socket file
 * @c: The control socket (NULL is ignored)
 */
void control_close(struct control *c)
{
	if (!c)
		return;
	if (c->ev_accept)
		event_free(c->ev_accept);
	if (c->ev_resume)
		event_free(c->ev_resume);
	close(c->fd);
	if (c->unlink_path)
		unlink(c->path);
	if (c->d->control == c)
		c->d->control = NULL;
	mem_free(c);
}
