// SPDX-License-Identifier: MIT
/**
 * DOC: Service manager glue
 *
 * gsvmd behaves the same with or without systemd. Under systemd
 * (systemd/gsvmd.service and gsvmd.socket), through libsystemd's sd-daemon:
 *
 * - Socket activation. The socket unit owns /run/gsvm/gsvmd.sock and passes
 *   it already listening (sd_listen_fds()). gsvmd takes exactly one socket,
 *   which must be a listening AF_UNIX SOCK_SEQPACKET socket, serves it
 *   instead of binding its own, and leaves its file alone at exit. Without
 *   one, gsvmd binds the configured path itself.
 *
 * - Readiness and status. READY=1 goes out once the listening socket is set
 *   up and the event loop is about to run: from then on a connect succeeds
 *   (it waits in the backlog until the loop accepts it), so a unit ordered
 *   after gsvmd.service finds a daemon that answers. STATUS= says what the
 *   daemon does; RELOADING=1 ... READY=1 bracket a reload (SIGHUP);
 *   STOPPING=1 starts the shutdown, which may take a while (every client's
 *   data comes home first).
 *
 * - Watchdog. With WatchdogSec= in the unit, a persistent timer on the
 *   event loop sends WATCHDOG=1 every half period. It runs on the loop on
 *   purpose: a loop that is stuck stops the pings, and systemd restarts the
 *   daemon.
 *
 * - Logging. stderr goes to the journal when $JOURNAL_STREAM names stderr's
 *   device and inode (the check sd-daemon(3) recommends: a child that
 *   inherited the variable but writes elsewhere must not use the prefixes).
 *
 * sd_notify() is a no-op without $NOTIFY_SOCKET, sd_listen_fds() without
 * $LISTEN_FDS, sd_watchdog_enabled() without $WATCHDOG_USEC.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "service.h"

#define SERVICE_NOTIFY_MAX 512

/**
 * service_journal_stderr() - Whether stderr is connected to the journal
 *
 * Return: true when $JOURNAL_STREAM is "DEV:INODE" of stderr.
 */
bool service_journal_stderr(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* "/run/gsvm/gsvmd.sock", "@name" for an abstract socket, or "(unnamed)". */
static void service_socket_name(int fd, char *path, size_t size)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	size_t n;

	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) ||
	    len <= offsetof(struct sockaddr_un, sun_path)) {
		snprintf(path, size, "(unnamed)");
		return;
	}
	n = len - offsetof(struct sockaddr_un, sun_path);
	if (sun.sun_path[0])
		snprintf(path, size, "%.*s", (int)strnlen(sun.sun_path, n), sun.sun_path);
	else
		snprintf(path, size, "@%.*s", (int)(n - 1), sun.sun_path + 1);
}

/**
 * service_listen_fd() - Take the control socket from socket activation
 * @fd: Receives the listening socket, or -1 when none was passed (gsvmd
 *      binds its own)
 * @path: Receives the socket's path, when one was passed
 * @size: Size of @path
 *
 * The socket is made non-blocking (the event loop accepts in batches) and
 * close-on-exec; $LISTEN_FDS and $LISTEN_PID are removed from the
 * environment. Errors are logged here.
 *
 * Return: 0; -EINVAL when more than one socket was passed or the one passed
 * is not a listening AF_UNIX SOCK_SEQPACKET socket; another negative errno
 * from sd_listen_fds() or fcntl().
 */
int service_listen_fd(int *fd, char *path, size_t size)
{
	int n, ret, flags;

	*fd = -1;
	n = sd_listen_fds(1);
	if (n < 0) {
		log_err("socket activation: %s", strerror(-n));
		return n;
	}
	if (n == 0)
		return 0;
	if (n > 1) {
		log_err("socket activation: %d sockets passed, expected one", n);
		return -EINVAL;
	}
	ret = sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1, NULL, 0);
	if (ret <= 0) {
		log_err("socket activation: fd %d is not a listening AF_UNIX SOCK_SEQPACKET "
			"socket%s%s",
			SD_LISTEN_FDS_START, ret < 0 ? ": " : "", ret < 0 ? strerror(-ret) : "");
		return ret < 0 ? ret : -EINVAL;
	}
	flags = fcntl(SD_LISTEN_FDS_START, F_GETFL);
	if (flags < 0 || fcntl(SD_LISTEN_FDS_START, F_SETFL, flags | O_NONBLOCK)) {
		ret = -errno;
		log_err("socket activation: %s", strerror(-ret));
		return ret;
	}
	service_socket_name(SD_LISTEN_FDS_START, path, size);
	*fd = SD_LISTEN_FDS_START;
	return 0;
}

/**
 * service_notify() - Send a state change to the service manager
 * @fmt: printf format of newline-separated "KEY=VALUE" assignments
 *       (sd_notify(3))
 *
 * A no-op without $NOTIFY_SOCKET. A failure is logged at debug level and
 * otherwise ignored: the daemon serves its clients either way.
 */
void service_notify(const char *fmt, ...)
{
	char msg[SERVICE_NOTIFY_MAX];
	va_list ap;
	int ret;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	va_start(ap, fmt);
	/* clang-tidy 14 linting several files misreports ap (llvm-project#40656). */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ret = sd_notify(0, msg);
	if (ret < 0)
		log_debug("sd_notify: %s", strerror(-ret));
}

/**
 * service_reloading() - Tell the service manager a reload has begun
 * @path: The configuration file being read
 *
 * Send READY=1 (with a STATUS=) when the reload is over, applied or not.
 */
void service_reloading(const char *path)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	service_notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
		       (unsigned long long)ts.tv_sec * 1000000ULL +
			       (unsigned long long)ts.tv_nsec / 1000ULL,
		       path);
}

static void service_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	service_notify("WATCHDOG=1");
}

/**
 * service_watchdog_start() - Ping the service manager's watchdog from the loop
 * @base: The event loop
 * @out: Receives the timer (free it with event_free()), or NULL when the
 *       watchdog is off
 *
 * Return: 0, or -ENOMEM.
 */
int service_watchdog_start(struct event_base *base, struct event **out)
{
	struct timeval tv;
	struct event *ev;
	uint64_t usec;
	int ret;

	*out = NULL;
	ret = sd_watchdog_enabled(0, &usec);
	if (ret < 0)
		log_warn("watchdog: bad $WATCHDOG_USEC or $WATCHDOG_PID: %s", strerror(-ret));
	if (ret <= 0)
		return 0;
	usec = usec / 2 ? usec / 2 : 1;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	ev = event_new(base, -1, EV_PERSIST, service_watchdog, NULL);
	if (!ev || event_add(ev, &tv)) {
		if (ev)
			event_free(ev);
		log_err("watchdog: cannot add the timer");
		return -ENOMEM;
	}
	log_debug("watchdog: a ping every %llu ms", (unsigned long long)usec / 1000);
	*out = ev;
	return 0;
}
