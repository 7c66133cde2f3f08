/* standalone.c - a main() for the fuzz targets without libFuzzer: feed each
 * file named on the command line (or every file in a named directory) to
 * LLVMFuzzerTestOneInput once. With no arguments, feed standard input.
 * Used to replay the seed corpora and crash reproducers with any compiler. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static uint8_t *read_all(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0;
	uint8_t *p = malloc(cap);

	if (!p)
		abort();
	for (;;) {
		size_t got = fread(p + n, 1, cap - n, f);

		n += got;
		if (n < cap)
			break;
		cap *= 2;
		p = realloc(p, cap);
		if (!p)
			abort();
	}
	*len = n;
	return p;
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	size_t len;

	if (!f) {
		perror(path);
		return 1;
	}
	data = read_all(f, &len);
	fclose(f);
	/* An exact-size copy, so ASan sees reads past the end. */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (!exact)
			abort();
		memcpy(exact, data, len);
		free(data);
		data = exact;
	}
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, int *count)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	d = opendir(path);
	if (!d) {
		perror(path);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		len = strlen(path) + strlen(e->d_name) + 2;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (!names)
			abort();
		names[n] = malloc(len);
		if (!names[n])
			abort();
		snprintf(names[n], len, "%s/%s", path, e->d_name);
		n++;
	}
	closedir(d);
	/* Same order every run. */
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		rc |= run_path(names[i], count);
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0, count = 0;

	if (argc < 2) {
		size_t len;
		uint8_t *data = read_all(stdin, &len);

		LLVMFuzzerTestOneInput(data, len);
		free(data);
		return 0;
	}
	for (int i = 1; i < argc; i++)
		rc |= run_path(argv[i], &count);
	printf("%s: ran %d input%s\n", argv[0], count, count == 1 ? "" : "s");
	if (count == 0) {
		fprintf(stderr, "no inputs found\n");
		return 1;
	}
	return rc;
}
