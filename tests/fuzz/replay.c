// SPDX-License-Identifier: MIT
/**
 * DOC: Corpus replay
 *
 * The main() a harness gets when it is built as an ordinary program (gcc,
 * with or without ASan/UBSan) instead of with libFuzzer: it runs
 * LLVMFuzzerTestOneInput() once on each file named on the command line, or
 * on each file of a directory named there, in name order. A harness that
 * crashes fails the replay; so does a file that cannot be read.
 *
 *   fuzz_NAME FILE|DIR...
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path, unsigned int *count)
{
	uint8_t *buf = NULL;
	long len;
	FILE *f;
	int ret = -1;

	f = fopen(path, "rbe");
	if (!f)
		goto out;
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	/* One byte more, so that an empty file still has a buffer of its own. */
	buf = malloc((size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
		goto out;
	/* Closed first: the harness may count the descriptors it leaves open. */
	fclose(f);
	f = NULL;
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	(*count)++;
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno ? errno : EIO));
	free(buf);
	if (f)
		fclose(f);
	return ret;
}

static int replay_dir(const char *dir, unsigned int *count)
{
	struct dirent **names;
	char path[4096];
	int n, i, ret = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			if (replay_file(path, count))
				ret = -1;
		}
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned int count = 0;
	struct stat st;
	int i, ret = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			ret = 1;
		} else if (S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) :
						 replay_file(argv[i], &count)) {
			ret = 1;
		}
	}
	printf("%s: %u input%s replayed%s\n", argv[0], count, count == 1 ? "" : "s",
	       ret ? ", some could not be read" : "");
	return ret;
}
