/* Shared helpers for the test suite: where the repository, the build and the
 * shared test data are, and small file utilities. */
#ifndef INFD_TESTS_COMMON_H
#define INFD_TESTS_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Directory of ../shared/testdata relative to the repository root, or the value
 * of INFD_TESTDATA; NULL when it does not exist (tests then skip, saying why). */
const char *t_testdata_dir(void);

/* Full path of `rel` inside the test data, or NULL when the data or the file is
 * absent. Returns a static buffer rotated over 8 calls. */
const char *t_testdata(const char *rel);

/* Repository root and build directory (from the environment meson sets). */
const char *t_source_root(void);
const char *t_build_root(void);

/* Read a whole file into a malloc'd buffer (16-byte aligned). Returns NULL on error. */
uint8_t *t_read_file(const char *path, size_t *size);

/* Relative L2 error of `got` against `want` (n floats): |got - want| / |want|
 * (the plain norm of the difference when `want` is all zeros). */
double t_rel_l2(const float *got, const float *want, size_t n);

/* Skip the current Criterion test when a test-data file is absent. */
#define T_REQUIRE_TESTDATA(var, rel)                                                       \
	const char *var = t_testdata(rel);                                                     \
	if (!var)                                                                              \
		cr_skip_test("test data %s not found (set INFD_TESTDATA or check out ../shared)", rel)

#endif
