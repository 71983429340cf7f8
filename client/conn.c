// SPDX-License-Identifier: MIT
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "wire.h"

/**
 * DOC: Requests and the leader/follower receiver
 *
 * Several threads may use one connection at once, each with a request in
 * flight, and gsvmd may answer them in any order (a long prefetch must not
 * hold up a query). Every request gets a fresh id from an atomic counter and
 * a waiter on @waiters before it is sent, so its response can never arrive
 * before someone is looking for it. Sending needs no lock: one request is
 * one sendmsg() on a SOCK_SEQPACKET socket, which the kernel keeps whole.
 *
 * There is no receiver thread (a library should not start threads behind its
 * caller's back). Instead the waiting threads take turns: a waiter that finds
 * nobody reading the socket becomes the reader (@reading), receives
 * responses and hands each to the waiter with its id, and stops once its own
 * response has arrived, waking another waiter to take over. A response for an
 * id nobody waits for is dropped.
 *
 * When the socket fails (gsvmd closed it or died) or delivers something that
 * is not a response, the connection is dead for good: every waiter fails at
 * once, and later calls fail with -ENOTCONN without touching the socket.
 *
 * Locking: @lock protects @waiters, @reading and @dead. Only the reader
 * touches @rxbuf, and it does so without @lock held.
 */

struct conn_waiter {
	TAILQ_ENTRY(conn_waiter) entry;
	uint64_t id;
	pthread_cond_t cond;
	Gsvm__Response *resp;
	int err;
	bool done;
};

TAILQ_HEAD(conn_waiters, conn_waiter);

/**
 * struct conn - A connection to gsvmd
 * @sock: The SOCK_SEQPACKET socket
 * @next_id: Id of the next request
 * @lock: Protects the fields below it
 * @waiters: Requests sent and not answered yet
 * @reading: A waiter is receiving on @sock
 * @dead: The connection failed; no more requests
 * @rxbuf: The reader's receive buffer
 */
struct conn {
	int sock;
	atomic_uint_fast64_t next_id;
	pthread_mutex_t lock;
	struct conn_waiters waiters;
	bool reading;
	bool dead;
	uint8_t rxbuf[WIRE_MAX_MSG];
};

/**
 * conn_open() - Connect to gsvmd
 * @path: The socket's path
 * @out: Receives the connection
 *
 * Return: 0, -ENAMETOOLONG, -ENOMEM, or socket()'s or connect()'s errno
 * (-ENOENT, -ECONNREFUSED, -EACCES).
 */
int conn_open(const char *path, struct conn **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	struct conn *c;
	int ret;

	if (len >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, len + 1);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->sock < 0) {
		ret = -errno;
		goto err_free;
	}
	if (connect(c->sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		goto err_close;
	}
	atomic_init(&c->next_id, 1);
	pthread_mutex_init(&c->lock, NULL);
	TAILQ_INIT(&c->waiters);
	*out = c;
	return 0;

err_close:
	close(c->sock);
err_free:
	free(c);
	return ret;
}

/**
 * conn_close() - Close a connection
 * @c: The connection; no request may be in flight
 */
void conn_close(struct conn *c)
{
	close(c->sock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/**
 * conn_alive() - Whether the connection still works
 * @c: The connection
 *
 * Return: false once the socket failed.
 */
bool conn_alive(struct conn *c)
{
	bool alive;

	pthread_mutex_lock(&c->lock);
	alive = !c->dead;
	pthread_mutex_unlock(&c->lock);
	return alive;
}

/* Complete @w with @resp or @err. Called with @lock held. */
static void conn_complete(struct conn *c, struct conn_waiter *w, Gsvm__Response *resp, int err)
{
	TAILQ_REMOVE(&c->waiters, w, entry);
	w->resp = resp;
	w->err = err;
	w->done = true;
	pthread_cond_signal(&w->cond);
}

/* Mark the connection dead and fail every waiter with @err. Called with @lock held. */
static void conn_kill(struct conn *c, int err)
{
	c->dead = true;
	while (!TAILQ_EMPTY(&c->waiters))
		conn_complete(c, TAILQ_FIRST(&c->waiters), NULL, err);
}

/* Hand @resp to its waiter, or drop it. Called with @lock held. */
static void conn_deliver(struct conn *c, Gsvm__Response *resp)
{
	struct conn_waiter *w;

	TAILQ_FOREACH(w, &c->waiters, entry) {
		if (w->id == resp->id) {
			conn_complete(c, w, resp, 0);
			return;
		}
	}
	gsvm__response__free_unpacked(resp, NULL);
}

/*
 * Receive one response. Called without @lock, by the reader only.
 * Return: the response, or NULL with *@err set when the connection is dead.
 */
static Gsvm__Response *conn_receive(struct conn *c, int *err)
{
	Gsvm__Response *resp;
	int fds[WIRE_MAX_FDS];
	int i, nfds, ret;
	size_t len;

	ret = wire_recv(c->sock, c->rxbuf, sizeof(c->rxbuf), &len, fds, &nfds);
	if (ret) {
		*err = -ENOTCONN;
		return NULL;
	}
	/* Responses carry no descriptors; do not leak any gsvmd sent. */
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	resp = gsvm__response__unpack(NULL, len, c->rxbuf);
	if (!resp)
		*err = -EPROTO;
	return resp;
}

/*
 * Wake a waiter to take over the socket when nobody reads it. A waiter still
 * sending will find @reading clear by itself. Called with @lock held.
 */
static void conn_handoff(struct conn *c)
{
	if (!c->reading && !TAILQ_EMPTY(&c->waiters))
		pthread_cond_signal(&TAILQ_FIRST(&c->waiters)->cond);
}

/* Read responses until @w's has arrived or the connection died. Called with @lock held. */
static void conn_lead(struct conn *c, struct conn_waiter *w)
{
	Gsvm__Response *resp;
	int err = 0;

	c->reading = true;
	while (!w->done) {
		pthread_mutex_unlock(&c->lock);
		resp = conn_receive(c, &err);
		pthread_mutex_lock(&c->lock);
		if (resp)
			conn_deliver(c, resp);
		else
			conn_kill(c, err);
	}
	c->reading = false;
	conn_handoff(c);
}

/* Wait for @w's response, reading the socket when nobody else does. Called with @lock held. */
static void conn_wait(struct conn *c, struct conn_waiter *w)
{
	while (!w->done) {
		if (c->reading)
			pthread_cond_wait(&w->cond, &c->lock);
		else
			conn_lead(c, w);
	}
}

/* Withdraw @w after its request could not be sent. Called with @lock held. */
static int conn_send_failed(struct conn *c, struct conn_waiter *w, int err)
{
	if (err == -EPIPE || err == -ECONNRESET || err == -ENOTCONN) {
		conn_kill(c, -ENOTCONN);
		return -ENOTCONN;
	}
	if (!w->done) {
		conn_complete(c, w, NULL, err);
		conn_handoff(c);
	}
	/* A reader may have failed @w already when the connection died. */
	return w->err;
}

/**
 * conn_call() - Send a request and wait for its response
 * @c: The connection
 * @req: The request; its id is assigned here
 * @fd: A descriptor to pass along, or -1
 * @out: Receives the response, to free with gsvm__response__free_unpacked()
 *
 * Return: 0 with *@out set (whatever the response's err); -ENOTCONN when the
 * connection is or goes dead; -EPROTO when gsvmd sent something that is not a
 * response; wire_send()'s errors (-EMSGSIZE, -ENOBUFS).
 */
int conn_call(struct conn *c, Gsvm__Request *req, int fd, Gsvm__Response **out)
{
	struct conn_waiter w = { .resp = NULL };
	int ret;

	*out = NULL;
	pthread_cond_init(&w.cond, NULL);
	w.id = atomic_fetch_add(&c->next_id, 1);
	req->id = w.id;

	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		ret = -ENOTCONN;
		goto out_unlock;
	}
	TAILQ_INSERT_TAIL(&c->waiters, &w, entry);
	pthread_mutex_unlock(&c->lock);

	ret = wire_send_request(c->sock, req, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);

	pthread_mutex_lock(&c->lock);
	if (ret) {
		ret = conn_send_failed(c, &w, ret);
		goto out_unlock;
	}
	conn_wait(c, &w);
	ret = w.err;
	*out = w.resp;
out_unlock:
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&w.cond);
	return ret;
}
