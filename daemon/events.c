// SPDX-License-Identifier: MIT
/**
 * DOC: Event streams
 *
 * gsvmctl events subscribes a connection to gsvmd's events: every event the
 * core reports (faults, migrations, evictions, thrash throttles and pins)
 * and the daemon's own (client connect and disconnect, device unbind and
 * rebind) is sent to each subscriber as a response to its events request,
 * until the requested count is reached or the connection closes.
 *
 * Events are produced on any thread (fault threads, workers, the loop); they
 * are rendered and queued on the subscriber's connection at once. A
 * subscriber that does not read cannot slow anybody down: once half of
 * max_backlog replies wait in its queue (well before the limit that would
 * disconnect it), further events for it are dropped and counted, and the
 * next one it gets says how many it missed.
 *
 * Locking: the subscriber list has its own lock, taken after any core lock
 * (events are emitted with client locks held) and before a session's lock.
 * A subscription holds no reference on its connection: session_close()
 * removes it (events_unsubscribe()) before the connection's reference goes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/queue.h>

#include "event.h"
#include "events.h"
#include "gsvmd.h"
#include "mem.h"
#include "session.h"

struct events_sub {
	TAILQ_ENTRY(events_sub) link;
	struct session *s;
	uint64_t id;
	uint64_t left;		/* events still to send; 0 means unlimited */
	uint64_t dropped;
};

struct events {
	pthread_mutex_t lock;
	TAILQ_HEAD(, events_sub) subs;
	atomic_uint_fast64_t dropped;
};

static void events_hook(void *arg, const struct event *ev)
{
	events_emit(arg, (struct event *)ev);
}

/**
 * events_init() - Set up event streaming for the daemon
 * @d: The daemon (its core is initialized)
 *
 * Return: 0 or -ENOMEM.
 */
int events_init(struct gsvmd *d)
{
	struct events *e = mem_zalloc(sizeof(*e));

	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	TAILQ_INIT(&e->subs);
	d->events = e;
	d->core.event_hook = events_hook;
	d->core.event_arg = d;
	return 0;
}

/**
 * events_fini() - Tear down event streaming; subscribers are gone
 * @d: The daemon
 */
void events_fini(struct gsvmd *d)
{
	struct events_sub *sub;

	if (!d->events)
		return;
	while ((sub = TAILQ_FIRST(&d->events->subs))) {
		TAILQ_REMOVE(&d->events->subs, sub, link);
		mem_free(sub);
	}
	pthread_mutex_destroy(&d->events->lock);
	mem_free(d->events);
	d->events = NULL;
}

/**
 * events_subscribe() - Stream events to a connection
 * @d: The daemon
 * @s: The connection
 * @id: The events request's id; every event is a response with it
 * @count: Events to send, 0 for no limit
 *
 * Return: 0, -EALREADY if @s already subscribed, -ENOMEM.
 */
int events_subscribe(struct gsvmd *d, struct session *s, uint64_t id, uint64_t count)
{
	struct events *e = d->events;
	struct events_sub *sub;

	pthread_mutex_lock(&e->lock);
	TAILQ_FOREACH(sub, &e->subs, link)
		if (sub->s == s) {
			pthread_mutex_unlock(&e->lock);
			return -EALREADY;
		}
	sub = mem_zalloc(sizeof(*sub));
	if (!sub) {
		pthread_mutex_unlock(&e->lock);
		return -ENOMEM;
	}
	sub->s = s;
	sub->id = id;
	sub->left = count;
	TAILQ_INSERT_TAIL(&e->subs, sub, link);
	atomic_fetch_add(&d->core.event_listeners, 1);
	pthread_mutex_unlock(&e->lock);
	return 0;
}

/* Remove @sub; e->lock is held. */
static void events_drop_sub(struct gsvmd *d, struct events_sub *sub)
{
	TAILQ_REMOVE(&d->events->subs, sub, link);
	atomic_fetch_sub(&d->core.event_listeners, 1);
}

/**
 * events_unsubscribe() - A connection closes: stop streaming to it
 * @d: The daemon
 * @s: The connection
 */
void events_unsubscribe(struct gsvmd *d, struct session *s)
{
	struct events_sub *sub, *next, *gone = NULL;

	if (!d->events)
		return;
	pthread_mutex_lock(&d->events->lock);
	TAILQ_FOREACH_SAFE(sub, &d->events->subs, link, next)
		if (sub->s == s) {
			events_drop_sub(d, sub);
			gone = sub;
		}
	pthread_mutex_unlock(&d->events->lock);
	mem_free(gone);
}

static void events_render(const struct event *ev, Gsvm__Event *out)
{
	struct session *owner = ev->svm ? ev->svm->owner : NULL;

	out->time_ns = ev->time_ns;
	out->type = (char *)event_type_name(ev->type);
	out->pid = owner ? owner->pid : 0;
	out->addr = ev->addr;
	out->bytes = ev->bytes;
	out->src = ev->src;
	out->dst = ev->dst;
	out->cause = ev->type == EVENT_MIGRATION ? (char *)event_cause_name(ev->cause) : "";
}

/**
 * events_emit() - Send an event to every subscriber
 * @d: The daemon
 * @ev: The event (its time is set by the caller, core_emit())
 */
void events_emit(struct gsvmd *d, struct event *ev)
{
	Gsvm__Response resp = GSVM__RESPONSE__INIT;
	Gsvm__Event body = GSVM__EVENT__INIT;
	struct events_sub *sub, *next, *done[8];
	unsigned int ndone = 0, i;

	events_render(ev, &body);
	resp.body_case = GSVM__RESPONSE__BODY_EVENT;
	resp.event = &body;
	pthread_mutex_lock(&d->events->lock);
	TAILQ_FOREACH_SAFE(sub, &d->events->subs, link, next) {
		if (session_backlog(sub->s) >= d->core.limits.max_backlog / 2) {
			sub->dropped++;
			atomic_fetch_add(&d->events->dropped, 1);
			continue;
		}
		resp.id = sub->id;
		body.dropped = sub->dropped;
		sub->dropped = 0;
		session_reply(sub->s, &resp);
		if (sub->left && !--sub->left && ndone < 8) {
			events_drop_sub(d, sub);
			done[ndone++] = sub;
		}
	}
	pthread_mutex_unlock(&d->events->lock);
	for (i = 0; i < ndone; i++)
		mem_free(done[i]);
}

/**
 * events_dropped() - Events lost to slow subscribers so far
 * @d: The daemon
 *
 * Return: the count.
 */
uint64_t events_dropped(struct gsvmd *d)
{
	return d->events ? atomic_load(&d->events->dropped) : 0;
}
