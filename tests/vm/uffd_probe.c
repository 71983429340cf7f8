// SPDX-License-Identifier: MIT
/*
 * uffd_probe: which userfaultfd features the running kernel offers, checked
 * against the ones libgsvm asks for (client/uffd_client.c, UFFD_FEATURES).
 * Run inside the VM by tests/vm/suite.sh (group uffd) before the integration
 * programs, so that a kernel too old for libgsvm fails with its reason rather
 * than with every test failing to connect. Exit status: 0 when every needed
 * feature is there, 1 when one is missing, 2 when userfaultfd is unusable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

static const struct {
	unsigned long long bit;
	const char *name;
	const char *since;
} needed[] = {
	{ UFFD_FEATURE_MISSING_SHMEM, "MISSING_SHMEM", "4.11" },
	{ UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "WP_HUGETLBFS_SHMEM", "5.19" },
	{ UFFD_FEATURE_EVENT_REMAP, "EVENT_REMAP", "4.11" },
	{ UFFD_FEATURE_EVENT_REMOVE, "EVENT_REMOVE", "4.11" },
	{ UFFD_FEATURE_EVENT_UNMAP, "EVENT_UNMAP", "4.11" },
};

/* Like libgsvm: /dev/userfaultfd first, then the system call. */
static int uffd_create(const char **how)
{
	int dev, fd;

	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
		close(dev);
		if (fd >= 0) {
			*how = "/dev/userfaultfd";
			return fd;
		}
	}
	*how = "userfaultfd(2)";
	return (int)syscall(SYS_userfaultfd, O_CLOEXEC);
}

int main(void)
{
	/* features = 0: the kernel answers with everything it supports. */
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	const char *how;
	unsigned int i;
	int fd, missing = 0;

	fd = uffd_create(&how);
	if (fd < 0) {
		printf("uffd_probe: cannot create a userfaultfd: %s\n", strerror(errno));
		return 2;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		printf("uffd_probe: UFFDIO_API: %s\n", strerror(errno));
		return 2;
	}
	close(fd);
	printf("uffd_probe: userfaultfd via %s, kernel features 0x%llx\n", how,
	       (unsigned long long)api.features);
	for (i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		int ok = !!(api.features & needed[i].bit);

		printf("uffd_probe: %-20s %s\n", needed[i].name, ok ? "yes" : "MISSING");
		if (!ok) {
			printf("uffd_probe: libgsvm needs UFFD_FEATURE_%s (Linux >= %s)\n",
			       needed[i].name, needed[i].since);
			missing = 1;
		}
	}
	return missing;
}
