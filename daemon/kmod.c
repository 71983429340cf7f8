// SPDX-License-Identifier: MIT
/**
 * DOC: Kernel module fault shim
 *
 * The fault shim of gsvm_shim.ko (kmod-shim/, ABI in include/gsvm_shim.h).
 * The client maps its memfds through /dev/gsvm-shim instead of registering
 * them with a userfaultfd, and sends its open device file in the hello.
 * gsvmd trades it for a server file (GSVM_SHIM_IOC_SERVE), checks that
 * the file was opened by the peer itself (the pid SERVE returns against
 * SO_PEERCRED's) and closes the client's: from then on the module knows when gsvmd is gone (the server
 * file is released) and makes waiting faults take SIGBUS rather than hang.
 *
 * The fault thread is the userfaultfd shim's (uffd.c); this file is the
 * port: module events become &struct uffd_msg (FAULT a page fault, with the
 * write and write-protect flags; UNMAP and REMAP the same events), and the
 * address-space calls become the module's ioctls: FILL for UFFDIO_COPY and
 * UFFDIO_ZEROPAGE (existing pages are skipped and count as done, so there is
 * no -EEXIST), WRPROTECT, WAKE, UNREGISTER, and ZAP for the punch, which the
 * module does under the region's lock so that no fault can create a zero
 * page in a hole being made. The module forwards no remove event
 * (MADV_DONTNEED, MADV_REMOVE): gsvmd keeps device-resident data on either
 * anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gsvm_shim.h"
#include "shim.h"

static int kmod_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

/*
 * The device file must be the peer's own: it is served with the session's
 * identity and accounts, so a file passed on by another process is refused.
 */
static int kmod_open(int fd, pid_t peer, int *out)
{
	struct gsvm_shim_serve serve = { 0 };
	struct gsvm_shim_version v;
	struct stat st;
	int err, flags;

	if (fstat(fd, &st) || !S_ISCHR(st.st_mode) || kmod_ioctl(fd, GSVM_SHIM_IOC_VERSION, &v) ||
	    v.version != GSVM_SHIM_VERSION) {
		err = -EINVAL;
		goto out;
	}
	err = kmod_ioctl(fd, GSVM_SHIM_IOC_SERVE, &serve);
	if (err)
		goto out;
	if (serve.pid != peer) {
		err = -EPERM;
		close(serve.fd);
		goto out;
	}
	flags = fcntl(serve.fd, F_GETFL);
	if (flags < 0 || fcntl(serve.fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		err = -errno;
		close(serve.fd);
		goto out;
	}
	*out = serve.fd;
out:
	close(fd);
	return err;
}

/* One module event as the userfaultfd message the fault thread expects. */
static void kmod_to_msg(const struct gsvm_shim_event *ev, struct uffd_msg *m)
{
	memset(m, 0, sizeof(*m));
	switch (ev->type) {
	case GSVM_SHIM_EVENT_FAULT:
		m->event = UFFD_EVENT_PAGEFAULT;
		m->arg.pagefault.address = ev->addr;
		if (ev->flags & GSVM_SHIM_FAULT_WRITE)
			m->arg.pagefault.flags |= UFFD_PAGEFAULT_FLAG_WRITE;
		if (ev->flags & GSVM_SHIM_FAULT_WP)
			m->arg.pagefault.flags |= UFFD_PAGEFAULT_FLAG_WP;
		break;
	case GSVM_SHIM_EVENT_UNMAP:
		m->event = UFFD_EVENT_UNMAP;
		m->arg.remove.start = ev->addr;
		m->arg.remove.end = ev->addr + ev->len;
		break;
	case GSVM_SHIM_EVENT_REMAP:
		m->event = UFFD_EVENT_REMAP;
		m->arg.remap.from = ev->addr;
		m->arg.remap.to = ev->arg;
		m->arg.remap.len = ev->len;
		break;
	default:
		/* From a newer module: the fault thread warns and drops it. */
		m->event = 0;
		break;
	}
}

static int kmod_read(int fd, struct uffd_msg *msgs, int max)
{
	struct gsvm_shim_event ev[64];
	ssize_t n;
	int i;

	if (max > 64)
		max = 64;
	n = read(fd, ev, sizeof(ev[0]) * (size_t)max);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	n /= (ssize_t)sizeof(ev[0]);
	for (i = 0; i < n; i++)
		kmod_to_msg(&ev[i], &msgs[i]);
	return (int)n;
}

static int kmod_writeprotect(int fd, uint64_t addr, uint64_t len, bool on)
{
	struct gsvm_shim_wp wp = {
		.addr = addr,
		.len = len,
		.mode = on ? GSVM_SHIM_WP_ON : GSVM_SHIM_WP_OFF,
	};

	return kmod_ioctl(fd, GSVM_SHIM_IOC_WRPROTECT, &wp);
}

static int kmod_copy(int fd, uint64_t addr, const void *src, uint64_t len, int64_t *done)
{
	struct gsvm_shim_fill f = { .addr = addr, .len = len, .src = (uintptr_t)src };
	int err = kmod_ioctl(fd, GSVM_SHIM_IOC_FILL, &f);

	*done = (int64_t)f.filled;
	return err;
}

static int kmod_wake(int fd, uint64_t addr, uint64_t len)
{
	struct gsvm_shim_range r = { .addr = addr, .len = len };

	return kmod_ioctl(fd, GSVM_SHIM_IOC_WAKE, &r);
}

static int kmod_release(int fd, int memfd, uint64_t offset, uint64_t len)
{
	struct gsvm_shim_zap z = { .memfd = memfd, .offset = offset, .len = len };

	return kmod_ioctl(fd, GSVM_SHIM_IOC_ZAP, &z);
}

static int kmod_unregister(int fd, uint64_t start, uint64_t len)
{
	struct gsvm_shim_range r = { .addr = start, .len = len };

	return kmod_ioctl(fd, GSVM_SHIM_IOC_UNREGISTER, &r);
}

static const struct shim_port kmod_port = {
	.name = "kmod",
	.open = kmod_open,
	.read = kmod_read,
	.writeprotect = kmod_writeprotect,
	.copy = kmod_copy,
	.wake = kmod_wake,
	.release = kmod_release,
	.unregister = kmod_unregister,
};

static int kmod_create(struct session *s, int fd, void **out)
{
	return shim_thread_create(s, fd, &kmod_port, out);
}

const struct shim_ops kmod_shim_ops = {
	.name = "kmod",
	.mm_ops = &shim_thread_mm_ops,
	.create = kmod_create,
	.start = shim_thread_start,
	.destroy = shim_thread_destroy,
	.unregister = shim_thread_unregister,
	.sync = shim_thread_sync,
};
