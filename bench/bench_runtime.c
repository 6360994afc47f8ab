/* In-process cost of executing a method, next to the kernel alone, measured side
 * by side in one run: add.pte from the shared test data (or the same program
 * built with our writer when the data is absent), plus larger adds for scale.
 * Usage: bench_runtime [ITERATIONS]   (prints one line per case) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/pte_writer.h"
#include "runtime/runtime.h"

#ifndef INFD_SOURCE_ROOT
#define INFD_SOURCE_ROOT "."
#endif

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* A program computing x + y on float32[n], like add.pte. */
static struct infd_program *build_add(int32_t n)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, &n);
	int32_t y = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, &n);
	int32_t z = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, &n);
	int32_t one = infd__pte_int(m, 1);
	infd__pte_inputs(m, 2, (const int32_t[]){x, y});
	infd__pte_outputs(m, 1, &z);
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){x, y, one, z, z});
	uint8_t *data;
	size_t size;
	struct infd_error e = {0};
	struct infd_program *p = NULL;
	if (infd__pte_writer_finish(w, &data, &size, &e) == INFD_OK) {
		if (infd__program_open_copy(data, size, &p, &e) != INFD_OK)
			fprintf(stderr, "bench: %s\n", e.msg);
		free(data);
	} else {
		fprintf(stderr, "bench: %s\n", e.msg);
	}
	infd__pte_writer_destroy(w);
	return p;
}

/* Median over `rounds` of the per-iteration time of `iters` calls. */
#define MEASURE(result, rounds, iters, body)                                                       \
	do {                                                                                       \
		double samples_[rounds];                                                           \
		for (int r_ = 0; r_ < (rounds); r_++) {                                            \
			double t0_ = now_ns();                                                     \
			for (long i_ = 0; i_ < (iters); i_++) {                                    \
				body;                                                              \
			}                                                                          \
			samples_[r_] = (now_ns() - t0_) / (double)(iters);                         \
		}                                                                                  \
		qsort(samples_, (rounds), sizeof(double), cmp_double);                             \
		(result) = samples_[(rounds) / 2];                                                 \
	} while (0)

static int bench_case(struct infd_runtime *rt, const char *label, struct infd_program *prog, long iters)
{
	struct infd_error e = {0};
	struct infd_method *m;
	if (infd__method_load(rt, prog, "forward", NULL, &m, &e) != INFD_OK) {
		fprintf(stderr, "bench: %s: %s\n", label, e.msg);
		return 1;
	}
	for (uint32_t i = 0; i < 2; i++) {
		struct infd_tensor *t = infd__method_input(m, i)->u.t;
		float *d = t->data;
		for (uint64_t k = 0; k < t->numel; k++)
			d[k] = (float)(k % 7) + (float)i;
		m->input_set[i] = true; /* bound in place, as a shared-memory client does */
	}
	/* The kernel alone: the same function on the same argument values. */
	const struct infd_kernel_def *k = infd__registry_find(rt->registry, "aten::add.out");
	const struct infd_instr_def *in = &m->def->chains[0].instrs[0];
	struct infd_evalue *args[8];
	for (uint32_t a = 0; a < in->n_args && a < 8; a++)
		args[a] = &m->values[in->args[a]];
	struct infd_kernel_ctx kctx = {.err = &e, .op_key = k->key, .n_threads = 1};
	volatile infd_status sink = INFD_OK;
	uint64_t numel = infd__method_output(m, 0)->u.t->numel;
	for (long i = 0; i < iters / 10 + 1; i++) /* warm up */
		sink = infd__method_execute(m, &e);
	double t_exec, t_kernel;
	MEASURE(t_exec, 7, iters, sink = infd__method_execute(m, &e));
	MEASURE(t_kernel, 7, iters, sink = k->fn(&kctx, args, in->n_args));
	if (sink != INFD_OK)
		fprintf(stderr, "bench: %s: %s\n", label, e.msg);
	printf("%-28s %10llu %14.1f %14.1f %8.2fx %12.1f\n", label, (unsigned long long)numel, t_exec, t_kernel,
	       t_exec / t_kernel, t_exec - t_kernel);
	infd__method_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	struct infd_runtime *rt;
	struct infd_error e = {0};
	if (infd__runtime_create(NULL, &rt, &e) != INFD_OK) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return 1;
	}
	char path[4096];
	const char *td = getenv("INFD_TESTDATA");
	snprintf(path, sizeof path, "%s/pte/add.pte", td && *td ? td : INFD_SOURCE_ROOT "/../shared/testdata");
	struct infd_program *add = NULL;
	const char *label = "add.pte (ExecuTorch file)";
	if (infd__program_open_file(path, &add, &e) != INFD_OK) {
		fprintf(stderr, "bench: %s not usable (%s); using the same program built by our writer\n", path, e.msg);
		add = build_add(1);
		label = "add float32[1] (writer)";
	}
	printf("in-process execute vs the kernel alone (ns per call, median of 7 rounds of %ld)\n", iters);
	printf("%-28s %10s %14s %14s %9s %12s\n", "case", "elements", "execute_ns", "kernel_ns", "ratio",
	       "overhead_ns");
	int rc = add ? bench_case(rt, label, add, iters) : 1;
	infd__program_close(add);
	static const int32_t sizes[] = {1024, 1 << 20};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && rc == 0; i++) {
		char l[64];
		snprintf(l, sizeof l, "add float32[%d] (writer)", sizes[i]);
		struct infd_program *p = build_add(sizes[i]);
		long n = sizes[i] > 100000 ? iters / 2000 + 10 : iters / 10 + 10;
		rc = p ? bench_case(rt, l, p, n) : 1;
		infd__program_close(p);
	}
	infd__runtime_destroy(rt);
	return rc;
}
