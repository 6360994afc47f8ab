/* The integration tests' runner (see check.h): runs the one test named on the
 * command line ("suite/name"), then the suite's fini; exit 0 pass, 1 fail, 77 skip
 * (meson's skip code). */
#include "check.h"

#include <stdarg.h>

#define MAX_TESTS 64

static const struct check_test *tests[MAX_TESTS];
static const struct check_suite *suites[8];
static int n_tests, n_suites;
static const struct check_test *current;

void check_register(const struct check_test *t)
{
	if (n_tests < MAX_TESTS)
		tests[n_tests++] = t;
}

void check_register_suite(const struct check_suite *s)
{
	if (n_suites < 8)
		suites[n_suites++] = s;
}

static void run_fini(void)
{
	for (int i = 0; current && i < n_suites; i++)
		if (strcmp(suites[i]->name, current->suite) == 0 && suites[i]->fini)
			suites[i]->fini();
}

void check_fail(const char *file, int line, const char *what, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: %s: ", file, line, what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n[FAIL] %s/%s\n", current ? current->suite : "?", current ? current->name : "?");
	run_fini();
	exit(1);
}

void check_skip(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "[SKIP] ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	run_fini();
	exit(77);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SUITE/NAME\n", argv[0]);
		for (int i = 0; i < n_tests; i++)
			fprintf(stderr, "  %s/%s\n", tests[i]->suite, tests[i]->name);
		return 2;
	}
	for (int i = 0; i < n_tests; i++) {
		char full[256];
		snprintf(full, sizeof full, "%s/%s", tests[i]->suite, tests[i]->name);
		if (strcmp(full, argv[1]) != 0)
			continue;
		current = tests[i];
		current->fn();
		run_fini();
		fprintf(stderr, "[PASS] %s\n", full);
		return 0;
	}
	fprintf(stderr, "no test named %s\n", argv[1]);
	return 2;
}
