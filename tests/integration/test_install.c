// SPDX-License-Identifier: MIT
/*
 * make install into a temporary DESTDIR, then use the installed tree as a
 * packager and a developer would: every file in its place with a sane mode,
 * libgsvm.so.1 with its soname and only gsvm_* exported, the man pages
 * lint-clean, and a client built with nothing but `pkg-config gsvm` against
 * the installed tree, run against the installed gsvmd.
 *
 * The suite installs the tree and variant under test: the top of the tree is
 * $REPO_TOP (default: the current directory), the build directory $GSVM_BUILD
 * and the sanitizer switch $GSVM_SAN (`make itest` sets all three; by default
 * they follow $GSVMD, so build/san/gsvmd means BUILD=build/san SAN=1). make
 * then finds everything built and only copies.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cu.h"
#include "harness.h"

#define OUT_MAX 65536

static char top[PATH_MAX]; /* the source tree */
static char build[PATH_MAX]; /* its build directory, relative to @top when inside it */
static bool san;
static char destdir[] = "/tmp/gsvm-install.XXXXXX";
static bool installed;

/* Run @cmd with sh; its output (stdout and stderr) goes to @out. */
static int sh(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int sh(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[4096];
	size_t len = 0, n;
	va_list ap;
	FILE *p;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
	va_end(ap);
	strcat(cmd, " 2>&1");
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (len + 1 < outlen && (n = fread(out + len, 1, outlen - 1 - len, p)) > 0)
		len += n;
	out[len] = '\0';
	status = pclose(p);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fprintf(stderr, "\n  $ %s\n%s\n", cmd, out);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* @top, @build and @san from the environment; see the top of the file. */
static int locate_tree(void)
{
	const char *env = getenv("REPO_TOP"), *b = getenv("GSVM_BUILD");
	const char *gsvmd = getenv("GSVMD"), *s = getenv("GSVM_SAN");
	char *slash;
	size_t n;

	if (env)
		snprintf(top, sizeof(top), "%s", env);
	else if (!getcwd(top, sizeof(top)))
		return -1;
	if (b) {
		snprintf(build, sizeof(build), "%s", b);
	} else if (gsvmd && (slash = strrchr(gsvmd, '/'))) {
		snprintf(build, sizeof(build), "%.*s", (int)(slash - gsvmd), gsvmd);
		n = strlen(top);
		/* Relative to the top, so that make's targets match its own names. */
		if (!strncmp(build, top, n) && build[n] == '/')
			memmove(build, build + n + 1, strlen(build + n + 1) + 1);
	} else {
		return -1;
	}
	n = strlen(build);
	san = s ? !strcmp(s, "1") : (n >= 4 && !strcmp(build + n - 4, "/san"));
	return 0;
}

/* The file @rel under DESTDIR: a regular file of mode @mode, or a symlink to @link. */
static void check_file(const char *rel, mode_t mode, const char *link)
{
	char path[PATH_MAX], target[PATH_MAX];
	struct stat sb;
	ssize_t n;

	snprintf(path, sizeof(path), "%s%s", destdir, rel);
	if (lstat(path, &sb)) {
		fprintf(stderr, "\n  missing: %s\n", rel);
		CU_FAIL("an installed file is missing");
		return;
	}
	if (link) {
		n = readlink(path, target, sizeof(target) - 1);
		CU_ASSERT(S_ISLNK(sb.st_mode) && n > 0);
		target[n > 0 ? n : 0] = '\0';
		CU_ASSERT_STRING_EQUAL(target, link);
		return;
	}
	CU_ASSERT(S_ISREG(sb.st_mode));
	if ((sb.st_mode & 07777) != mode)
		fprintf(stderr, "\n  %s: mode %04o, expected %04o\n", rel,
			(unsigned int)(sb.st_mode & 07777), (unsigned int)mode);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, mode);
}

static bool source_exists(const char *rel)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	return !access(path, F_OK);
}

/* Whether make's output @out has a compiler, archiver or generator command. */
static bool built_something(const char *out)
{
	static const char *const tools[] = { "cc ", "gcc ", "clang ", "ar ", "protoc-c " };
	const char *line;
	size_t i;

	for (line = out; line; line = strchr(line, '\n')) {
		line += *line == '\n';
		for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
			if (!strncmp(line, tools[i], strlen(tools[i]))) {
				fprintf(stderr, "\n  make install built: %.100s\n", line);
				return true;
			}
	}
	return false;
}

static void test_make_install(void)
{
	char *out = malloc(OUT_MAX);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL_FATAL(locate_tree(), 0);
	CU_ASSERT_FATAL(mkdtemp(destdir) != NULL);
	/* A make of our own: not the jobserver of the make that runs us. */
	CU_ASSERT_EQUAL(sh(out, OUT_MAX,
			   "cd '%s' && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout 600 "
			   "make install PREFIX=/usr DESTDIR='%s' BUILD='%s' SAN=%d",
			   top, destdir, build, san),
			0);
	/* Nothing was built: the tree under test is what was installed. */
	CU_ASSERT_FALSE(built_something(out));
	installed = true;
	free(out);
}

static void test_files(void)
{
	static const struct {
		const char *src; /* in the source tree: checked when it exists */
		const char *dst;
	} units[] = {
		{ "systemd/gsvmd.service", "/usr/lib/systemd/system/gsvmd.service" },
		{ "systemd/gsvmd.socket", "/usr/lib/systemd/system/gsvmd.socket" },
		{ "systemd/gsvm.sysusers", "/usr/lib/sysusers.d/gsvm.conf" },
		{ "systemd/gsvm.tmpfiles", "/usr/lib/tmpfiles.d/gsvm.conf" },
		{ "systemd/60-gsvm-userfaultfd.rules",
		  "/usr/lib/udev/rules.d/60-gsvm-userfaultfd.rules" },
	};
	char *out = malloc(OUT_MAX);
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_FATAL(installed);
	check_file("/usr/sbin/gsvmd", 0755, NULL);
	check_file("/usr/bin/gsvmctl", 0755, NULL);
	/* Shared libraries are not executable (Debian policy 10.9). */
	check_file("/usr/lib/libgsvm.so.1", 0644, NULL);
	check_file("/usr/lib/libgsvm.so", 0, "libgsvm.so.1");
	check_file("/usr/include/gsvm.h", 0644, NULL);
	check_file("/usr/lib/pkgconfig/gsvm.pc", 0644, NULL);
	check_file("/usr/share/man/man8/gsvmd.8", 0644, NULL);
	check_file("/usr/share/man/man8/gsvmctl.8", 0644, NULL);
	check_file("/usr/share/man/man5/gsvmd.conf.5", 0644, NULL);
	check_file("/usr/share/man/man3/libgsvm.3", 0644, NULL);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (source_exists(units[i].src))
			check_file(units[i].dst, 0644, NULL);
	/* The directories were substituted: nothing like @sbindir@ is left. */
	CU_ASSERT_EQUAL(
		sh(out, OUT_MAX, "cd '%s' && ! grep -rl '@[a-z]*dir@\\|@prefix@' .", destdir), 0);
	if (source_exists("systemd/gsvmd.service"))
		CU_ASSERT_EQUAL(sh(out, OUT_MAX,
				   "grep -q '^ExecStart=/usr/sbin/gsvmd' "
				   "'%s/usr/lib/systemd/system/gsvmd.service'",
				   destdir),
				0);
	CU_ASSERT_EQUAL(sh(out, OUT_MAX, "cat '%s/usr/lib/pkgconfig/gsvm.pc'", destdir), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "prefix=/usr\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Version: 0.1.0\n"));
	free(out);
}

static void test_library(void)
{
	static const char *const api[] = {
		"gsvm_connect",	  "gsvm_disconnect", "gsvm_device_count", "gsvm_device_info",
		"gsvm_alloc",	  "gsvm_free",	     "gsvm_prefetch",	  "gsvm_query",
		"gsvm_device_op", "gsvm_advise",     "gsvm_strerror",
	};
	char *out = malloc(OUT_MAX), *line, *save = NULL, name[256], want[64];
	unsigned int n = 0;
	size_t i;
	char type;

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_FATAL(installed);
	CU_ASSERT_EQUAL(sh(out, OUT_MAX, "readelf -d '%s/usr/lib/libgsvm.so.1'", destdir), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Library soname: [libgsvm.so.1]"));
	CU_ASSERT_EQUAL(sh(out, OUT_MAX, "nm -D --defined-only '%s/usr/lib/libgsvm.so.1'", destdir),
			0);
	/* Every defined symbol is gsvm_*, besides the version node GSVM_1. */
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%*s %c %255s", &type, name) != 2)
			continue;
		if (type == 'A' && !strcmp(name, "GSVM_1"))
			continue;
		if (strncmp(name, "gsvm_", 5)) {
			fprintf(stderr, "\n  exported: %s\n", line);
			CU_FAIL("libgsvm.so.1 exports a symbol that is not gsvm_*");
		}
		n++;
	}
	CU_ASSERT_EQUAL(n, sizeof(api) / sizeof(api[0]));
	CU_ASSERT_EQUAL(sh(out, OUT_MAX, "nm -D --defined-only '%s/usr/lib/libgsvm.so.1'", destdir),
			0);
	for (i = 0; i < sizeof(api) / sizeof(api[0]); i++) {
		snprintf(want, sizeof(want), " T %s@@GSVM_1\n", api[i]);
		if (!strstr(out, want))
			fprintf(stderr, "\n  not exported: %s\n", api[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
	}
	free(out);
}

static void test_man_pages(void)
{
	char *out = malloc(OUT_MAX);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_FATAL(installed);
	if (sh(out, OUT_MAX, "command -v mandoc")) {
		fprintf(stderr, "\n  mandoc not found: install the Debian package mandoc "
				"(make deps does)\n");
		CU_FAIL("mandoc is missing");
	} else {
		CU_ASSERT_EQUAL(sh(out, OUT_MAX,
				   "cd '%s/usr/share/man' && mandoc -T lint -W warning "
				   "man8/gsvmd.8 man8/gsvmctl.8 man5/gsvmd.conf.5 man3/libgsvm.3",
				   destdir),
				0);
		CU_ASSERT_EQUAL(sh(out, OUT_MAX,
				   "mandoc -T markdown '%s/usr/share/man/man5/gsvmd.conf.5'",
				   destdir),
				0);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "gsvm_faults_total{kind=\"cpu\"|\"device\"}"));
	}
	free(out);
}

/* Build examples/demo.c with only what pkg-config says about the installed tree. */
static int build_demo(char *out, size_t outlen, char *bin, size_t binlen)
{
	char flags[1024];
	size_t n;

	if (sh(flags, sizeof(flags),
	       "PKG_CONFIG_PATH='%s/usr/lib/pkgconfig' PKG_CONFIG_LIBDIR= "
	       "PKG_CONFIG_SYSROOT_DIR='%s' pkg-config --cflags --libs gsvm",
	       destdir, destdir))
		return -1;
	n = strcspn(flags, "\n");
	flags[n] = '\0';
	CU_ASSERT_PTR_NOT_NULL(strstr(flags, "/usr/include"));
	CU_ASSERT_PTR_NOT_NULL(strstr(flags, "-lgsvm"));
	snprintf(bin, binlen, "%s/demo", destdir);
	/* Not the source tree's include/: -I names only the installed one. */
	return sh(out, outlen, "cc -std=gnu11 -Wall -Werror %s -o '%s' '%s/examples/demo.c' %s",
		  san ? "-fsanitize=address,undefined" : "", bin, top, flags);
}

static void test_client_from_installed_tree(void)
{
	char *out = malloc(OUT_MAX), bin[PATH_MAX], gsvmd[PATH_MAX];
	const char *saved = getenv("GSVMD");
	char *old = saved ? strdup(saved) : NULL;
	struct gsvmd_proc d;
	char lib[PATH_MAX];

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_FATAL(installed);
	CU_ASSERT_EQUAL_FATAL(build_demo(out, OUT_MAX, bin, sizeof(bin)), 0);
	/* The installed daemon, the installed library, the installed gsvmctl. */
	snprintf(gsvmd, sizeof(gsvmd), "%s/usr/sbin/gsvmd", destdir);
	setenv("GSVMD", gsvmd, 1);
	CU_ASSERT_FATAL(gsvmd_start(&d, NULL) == 0);
	snprintf(lib, sizeof(lib), "%s/usr/lib", destdir);
	CU_ASSERT_EQUAL(sh(out, OUT_MAX, "LD_LIBRARY_PATH='%s' ldd '%s'", lib, bin), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, lib));
	CU_ASSERT_EQUAL(sh(out, OUT_MAX, "LD_LIBRARY_PATH='%s' GSVM_SOCKET='%s' timeout 120 '%s'",
			   lib, d.sock, bin),
			0);
	CU_ASSERT_EQUAL(
		sh(out, OUT_MAX, "'%s/usr/bin/gsvmctl' --socket '%s' stats", destdir, d.sock), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "migrations:"));
	CU_ASSERT_EQUAL(gsvmd_stop(&d, SIGTERM), 0);
	if (old)
		setenv("GSVMD", old, 1);
	free(old);
	free(out);
}

static void test_make_uninstall(void)
{
	char *out = malloc(OUT_MAX);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_FATAL(installed);
	CU_ASSERT_EQUAL(sh(out, OUT_MAX,
			   "cd '%s' && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "
			   "make uninstall PREFIX=/usr DESTDIR='%s' BUILD='%s' SAN=%d",
			   top, destdir, build, san),
			0);
	/* Only directories are left (and the demo this suite built). */
	CU_ASSERT_EQUAL(sh(out, OUT_MAX, "cd '%s' && rm -f demo && find . ! -type d", destdir), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT_EQUAL(sh(out, OUT_MAX, "rm -rf '%s'", destdir), 0);
	free(out);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_make_install),
		CU_TEST_ENTRY(test_files),
		CU_TEST_ENTRY(test_library),
		CU_TEST_ENTRY(test_man_pages),
		CU_TEST_ENTRY(test_client_from_installed_tree),
		CU_TEST_ENTRY(test_make_uninstall),
		{ NULL, NULL },
	};

	return cu_run("install", tests);
}
