/* SPDX-License-Identifier: MIT */
#ifndef GSVM_SESSION_H
#define GSVM_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "gsvm.pb-c.h"
#include "gsvmd.h"
#include "shim.h"
#include "svm.h"
#include "workers.h"

struct event;
struct session_msg;

/**
 * struct session_bo - gsvmd's hold on one allocation's memfd
 * @fd: The memfd (sealed against shrinking and growing)
 * @map: gsvmd's shared mapping of it (the host view the core copies from)
 * @size: Its size
 * @addr: Where the client mapped it when it registered it (gsvm_free()'s key)
 */
struct session_bo {
	int fd;
	void *map;
	uint64_t size;
	uint64_t addr;
};

/**
 * struct session - One connected client
 * @d: The daemon
 * @id: Session id (for logs)
 * @pid: Peer pid, from SO_PEERCRED at accept (never from the client)
 * @uid: Peer uid, likewise
 * @gid: Peer gid, likewise
 * @name: Program name the client gave in its hello (informational)
 * @sock: The connection (non-blocking)
 * @ev_read: Readable event, on the loop thread
 * @ev_write: Writable event, armed while replies are queued
 * @lock: Protects @refs, @dead, @outq
 * @refs: The connection holds one, each request in flight one
 * @dead: The connection is closed; replies are dropped
 * @hello: The hello exchange is done
 * @outq: Replies the socket could not take yet
 * @outq_len: Their number
 * @admin: The peer may use admin requests (root or the admin group), from
 *         its credentials at accept
 * @refused: A limit refused the connection at accept (-EUSERS): its first
 *           request is answered with it and the connection closed
 * @account: Its user's account (account.c)
 * @inflight: Requests being served on workers
 * @jobs: Its queue in the worker pool (workers.c): clients are served in turn
 * @bad_messages: Messages it sent that could not be read (loop thread only)
 * @overflow: It stopped reading its replies (max_backlog): being dropped
 * @svm: The client's SVM state (valid once @attached)
 * @attached: @svm is initialized and on the core's client list; set once
 *            (__atomic release) when the fault thread already runs, read
 *            by other threads with __atomic acquire loads
 * @shim_ops: The fault shim
 * @shim: The fault shim's state for this client
 * @next_bo: Id for the next allocation
 * @reap: Registrations went away: look for allocations nothing maps
 * @link: Link in the daemon's session list
 */
struct session {
	struct gsvmd *d;
	uint64_t id;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char name[32];
	int sock;
	struct event *ev_read;
	struct event *ev_write;
	pthread_mutex_t lock;
	unsigned int refs;
	bool dead;
	bool hello;
	TAILQ_HEAD(, session_msg) outq;
	unsigned int outq_len;
	bool admin;
	int refused;
	struct account *account;
	atomic_uint inflight;
	struct workers_queue jobs;
	unsigned int bad_messages;
	bool overflow;
	struct svm svm;
	bool attached;
	const struct shim_ops *shim_ops;
	void *shim;
	uint64_t next_bo;
	atomic_bool reap;
	TAILQ_ENTRY(session) link;
};

int session_create(struct gsvmd *d, int sock, struct session **out);
void session_get(struct session *s);
void session_put(struct session *s);
void session_close(struct session *s);
void session_reply(struct session *s, const Gsvm__Response *resp);
void session_flush(struct session *s);
unsigned int session_backlog(struct session *s);
int session_attach(struct session *s, int uffd);
int session_fd_name(int fd, char *out, size_t size);
int session_alloc(struct session *s, uint64_t addr, uint64_t size, int fd, uint64_t *id);
int session_free(struct session *s, uint64_t addr);
void session_unmapped(struct session *s, uint64_t start, uint64_t end);
void session_collect(struct session *s);
int session_evacuate(struct session *s);

#endif
