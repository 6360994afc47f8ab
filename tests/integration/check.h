/* A minimal, fork-free test runner for the integration tests, with the
 * Criterion-style assertions they use. Each test runs as its own process
 * (`test_x SUITE/NAME`, one meson test per name) with no helper threads and no
 * fork: Criterion's forked workers inherit a nanomsg thread, which can deadlock
 * a sanitizer-built child inside malloc, and libnng's nanomsg-compatible nn_*
 * symbols would take over Criterion's own IPC. */
#ifndef INFD_TESTS_CHECK_H
#define INFD_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct check_test {
	const char *suite, *name;
	void (*fn)(void);
};

struct check_suite {
	const char *name;
	void (*fini)(void);
	int timeout; /* informative: meson's per-test timeout applies */
};

void check_register(const struct check_test *t);
void check_register_suite(const struct check_suite *s);
_Noreturn void check_fail(const char *file, int line, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
_Noreturn void check_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define Test(suite, name)                                                                          \
	static void suite##_##name(void);                                                          \
	__attribute__((constructor)) static void suite##_##name##_register(void)                   \
	{                                                                                          \
		static const struct check_test t = {#suite, #name, suite##_##name};                \
		check_register(&t);                                                                \
	}                                                                                          \
	static void suite##_##name(void)

#define TestSuite(suite, ...)                                                                      \
	__attribute__((constructor)) static void suite##_suite_register(void)                      \
	{                                                                                          \
		static const struct check_suite s = {.name = #suite, __VA_ARGS__};                 \
		check_register_suite(&s);                                                          \
	}

/* The optional message is a printf format and its arguments ("" when absent). */
#define cr_assert(cond, ...)                                                                       \
	do {                                                                                       \
		if (!(cond))                                                                       \
			check_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__);                     \
	} while (0)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...) cr_assert((a) - (b) <= (eps) && (b) - (a) <= (eps), __VA_ARGS__)
#define cr_assert_fail(...) check_fail(__FILE__, __LINE__, "failure", "" __VA_ARGS__)
#define cr_skip_test(...) check_skip(__VA_ARGS__)

#endif
