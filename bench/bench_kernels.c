/* CPU kernel throughput, measured in one run: GFLOP/s of the GEMM-shaped kernels
 * (mm, and a 3x3 convolution) on one thread and on the runtime's thread pool, and
 * time per inference of the real networks in ../shared/testdata/models on the
 * portable kernels (skipped, saying so, when the data is absent).
 * Usage: bench_kernels [THREADS]   (default 2) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/pte_writer.h"
#include "runtime/runtime.h"

#ifndef INFD_SOURCE_ROOT
#define INFD_SOURCE_ROOT "."
#endif

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Best time of `reps` executes (inputs already in place). */
static double best_of(struct infd_method *m, int reps)
{
	struct infd_error e = {0};
	double best = 1e9;
	for (uint32_t i = 0; i < m->def->n_inputs; i++)
		m->input_set[i] = true;
	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		if (infd__method_execute(m, &e)) {
			fprintf(stderr, "bench: %s\n", e.msg);
			return -1;
		}
		double t = now_s() - t0;
		best = t < best ? t : best;
	}
	return best;
}

static struct infd_program *finish(struct infd_pte_writer *w)
{
	uint8_t *data;
	size_t size;
	struct infd_error e = {0};
	struct infd_program *p = NULL;
	if (infd__pte_writer_finish(w, &data, &size, &e) == INFD_OK) {
		infd__program_open_copy(data, size, &p, &e);
		free(data);
	}
	infd__pte_writer_destroy(w);
	return p;
}

static struct infd_program *mm_program(int n)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	const int32_t s[2] = {n, n};
	int32_t a = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s);
	int32_t b = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s);
	int32_t c = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s);
	infd__pte_inputs(m, 2, (const int32_t[]){a, b});
	infd__pte_outputs(m, 1, &c);
	infd__pte_call(m, "aten::mm", "out", 4, (const int32_t[]){a, b, c, c});
	return finish(w);
}

/* 3x3 convolution, padding 1: [1,cin,hw,hw] -> [1,cout,hw,hw]. */
static struct infd_program *conv_program(int cin, int cout, int hw)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	float *wt = calloc((size_t)cout * cin * 9, sizeof *wt);
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 4, (const int32_t[]){1, cin, hw, hw});
	int32_t k = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 4, (const int32_t[]){cout, cin, 3, 3}, wt);
	int32_t y = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 4, (const int32_t[]){1, cout, hw, hw});
	int32_t none = infd__pte_null(m);
	int32_t one2 = infd__pte_int_list(m, 2, (const int64_t[]){1, 1});
	int32_t zero2 = infd__pte_int_list(m, 2, (const int64_t[]){0, 0});
	int32_t no = infd__pte_bool(m, false), groups = infd__pte_int(m, 1);
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &y);
	infd__pte_call(m, "aten::convolution", "out", 11,
		       (const int32_t[]){x, k, none, one2, one2, one2, no, zero2, groups, y, y});
	free(wt);
	return finish(w);
}

static void report(struct infd_runtime *rt1, struct infd_runtime *rtn, const char *label, struct infd_program *p,
		   double flops, int reps)
{
	struct infd_error e = {0};
	struct infd_method *m1, *mn;
	if (!p || infd__method_load(rt1, p, "forward", NULL, &m1, &e) ||
	    infd__method_load(rtn, p, "forward", NULL, &mn, &e)) {
		fprintf(stderr, "bench: %s: %s\n", label, e.msg);
		return;
	}
	double t1 = best_of(m1, reps), tn = best_of(mn, reps);
	printf("  %-34s %9.3f ms %7.1f GFLOP/s   %9.3f ms %7.1f GFLOP/s\n", label, t1 * 1e3, flops / t1 / 1e9, tn * 1e3,
	       flops / tn / 1e9);
	infd__method_free(m1);
	infd__method_free(mn);
}

int main(int argc, char **argv)
{
	uint32_t threads = argc > 1 ? (uint32_t)atoi(argv[1]) : 2;
	struct infd_runtime_options o1, on;
	infd__runtime_options_default(&o1);
	infd__runtime_options_default(&on);
	on.n_threads = threads;
	struct infd_runtime *rt1, *rtn;
	struct infd_error e = {0};
	if (infd__runtime_create(&o1, &rt1, &e) || infd__runtime_create(&on, &rtn, &e)) {
		fprintf(stderr, "bench: %s\n", e.msg);
		return 1;
	}
	printf("GEMM-shaped kernels, float32, best of several runs: 1 thread | %u threads\n", threads);
	static const int sizes[] = {256, 512, 1024};
	for (int i = 0; i < 3; i++) {
		char label[64];
		int n = sizes[i];
		snprintf(label, sizeof label, "mm %dx%dx%d", n, n, n);
		struct infd_program *p = mm_program(n);
		report(rt1, rtn, label, p, 2.0 * n * n * n, n >= 1024 ? 3 : 10);
		infd__program_close(p);
	}
	struct infd_program *cp = conv_program(32, 64, 56);
	report(rt1, rtn, "conv 3x3 [1,32,56,56] -> 64", cp, 2.0 * 64 * 32 * 9 * 56 * 56, 10);
	infd__program_close(cp);

	printf("networks on the portable kernels (ms per inference): 1 thread | %u threads\n", threads);
	static const char *const nets[] = {"cnn_small", "transformer", "audio_conv1d"};
	const char *td = getenv("INFD_TESTDATA");
	for (int i = 0; i < 3; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/models/%s.pte", td && *td ? td : INFD_SOURCE_ROOT "/../shared/testdata",
			 nets[i]);
		struct infd_program *p;
		if (infd__program_open_file(path, &p, &e)) {
			printf("  %-34s skipped: %s\n", nets[i], e.msg);
			continue;
		}
		struct infd_method *m1, *mn;
		if (infd__method_load(rt1, p, "forward", NULL, &m1, &e) == INFD_OK &&
		    infd__method_load(rtn, p, "forward", NULL, &mn, &e) == INFD_OK) {
			printf("  %-34s %9.3f ms             %9.3f ms\n", nets[i], best_of(m1, 20) * 1e3,
			       best_of(mn, 20) * 1e3);
			infd__method_free(m1);
			infd__method_free(mn);
		}
		infd__program_close(p);
	}
	infd__runtime_destroy(rt1);
	infd__runtime_destroy(rtn);
	return 0;
}
