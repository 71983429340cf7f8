// SPDX-License-Identifier: MIT
/**
 * DOC: fuzz_config - the configuration file parser
 *
 * The input is a configuration file (written to a memfd and read through
 * its /proc/self/fd path, as config_load() opens any file). The parser must
 * return 0 or an error with a message that names the file; on error it must
 * leave its output alone; and what it accepts must be a configuration gsvmd
 * can start on: core_init() takes it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "pagemap.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int config_fd = -1;
static char config_path[64];
/* stderr as it was at start-up: libFuzzer's -close_fd_mask=2 closes it. */
static int report_fd = 2;

static void fuzz_fail(const char *what, const char *msg)
{
	dprintf(report_fd, "fuzz_config: %s%s%s\n", what, msg ? ": " : "", msg ? msg : "");
	abort();
}

static void fuzz_config_fini(void)
{
	close(config_fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pagemap_provider_register(&drm_provider_ops);
	report_fd = fcntl(2, F_DUPFD_CLOEXEC, 0);
	if (report_fd < 0)
		report_fd = 2;
	config_fd = memfd_create("gsvmd.conf", MFD_CLOEXEC);
	if (config_fd < 0)
		fuzz_fail("memfd_create", NULL);
	snprintf(config_path, sizeof(config_path), "/proc/self/fd/%d", config_fd);
	atexit(fuzz_config_fini);
	return 0;
}

/* What gsvmd does with a configuration it accepted: build the core. */
static void fuzz_check_accepted(const struct gsvmd_config *cfg)
{
	struct core core;
	int err;

	if (!memchr(cfg->socket, 0, sizeof(cfg->socket)) ||
	    !memchr(cfg->admin_group, 0, sizeof(cfg->admin_group)) || !cfg->core.ndev)
		fuzz_fail("accepted a configuration gsvmd cannot use", NULL);
	err = core_init(&core, &cfg->core);
	if (err)
		fuzz_fail("accepted a configuration core_init() refuses", strerror(-err));
	core_fini(&core);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gsvmd_config cfg, before;
	char err[512];
	int ret;

	if (config_fd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	if (ftruncate(config_fd, 0) || pwrite(config_fd, data, size, 0) != (ssize_t)size)
		fuzz_fail("cannot write the file", NULL);
	memset(&cfg, 0xa5, sizeof(cfg));
	memcpy(&before, &cfg, sizeof(cfg));
	memset(err, 0, sizeof(err));
	ret = config_load(config_path, &cfg, err, sizeof(err));
	if (!ret) {
		fuzz_check_accepted(&cfg);
		return 0;
	}
	if (ret > 0)
		fuzz_fail("positive return", NULL);
	if (memcmp(&cfg, &before, sizeof(cfg)))
		fuzz_fail("an error changed the output", err);
	if (strncmp(err, config_path, strlen(config_path)) || !memchr(err, 0, sizeof(err)) ||
	    strlen(err) <= strlen(config_path) + 2)
		fuzz_fail("an error without a message naming the file", err);
	return 0;
}
