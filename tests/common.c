/* Test helpers: locating test data and reading files. */
#include "common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef INFD_SOURCE_ROOT
#define INFD_SOURCE_ROOT "."
#endif

const char *t_source_root(void)
{
	const char *env = getenv("INFD_SOURCE_ROOT");
	return env && *env ? env : INFD_SOURCE_ROOT;
}

const char *t_build_root(void)
{
	const char *env = getenv("INFD_BUILD_ROOT");
	return env && *env ? env : ".";
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *t_testdata_dir(void)
{
	static char dir[4096];
	const char *env = getenv("INFD_TESTDATA");
	if (env && *env)
		snprintf(dir, sizeof dir, "%s", env);
	else
		snprintf(dir, sizeof dir, "%s/../shared/testdata", t_source_root());
	return is_dir(dir) ? dir : NULL;
}

const char *t_testdata(const char *rel)
{
	static char bufs[8][4096];
	static unsigned next;
	const char *dir = t_testdata_dir();
	if (!dir)
		return NULL;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s", dir, rel);
	struct stat st;
	return stat(b, &st) == 0 ? b : NULL;
}

uint8_t *t_read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = NULL;
	if (n >= 0 && posix_memalign((void **)&buf, 64, (size_t)n + 1) == 0) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			*size = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

double t_rel_l2(const float *got, const float *want, size_t n)
{
	double num = 0, den = 0;
	for (size_t k = 0; k < n; k++) {
		double d = (double)got[k] - (double)want[k];
		num += d * d;
		den += (double)want[k] * want[k];
	}
	return sqrt(num / (den > 0 ? den : 1));
}
