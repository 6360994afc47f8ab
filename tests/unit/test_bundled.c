/* Bundled programs (.bpte): reading ExecuTorch's bundled_add_mul.bpte and
 * writer-made ones, verifying every test case (passes, mismatches named to the
 * element, bad cases) and the tolerance rules of the comparison. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "runtime/bundled.h"
#include "runtime/pte_writer.h"
#include "runtime/runtime.h"

/* ---- helpers -------------------------------------------------------------------- */

static struct infd_runtime *rt_new(void)
{
	struct infd_runtime *rt = NULL;
	struct infd_error e = {0};
	cr_assert_eq(infd__runtime_create(NULL, &rt, &e), INFD_OK, "runtime: %s", e.msg);
	return rt;
}

#define MAX_REPORTS 32

struct reports {
	uint32_t n;
	struct infd_bundled_result r[MAX_REPORTS];
	char method[MAX_REPORTS][64];
};

static void collect(void *ud, const struct infd_bundled_result *r)
{
	struct reports *rs = ud;
	if (rs->n < MAX_REPORTS) {
		rs->r[rs->n] = *r;
		snprintf(rs->method[rs->n], sizeof rs->method[0], "%s", r->method ? r->method : "(null)");
	}
	rs->n++;
}

/* Bytes of a writer-built bundled program, parsed; the bytes stay in *keep. */
static struct infd_bundled *parse_bpte(struct infd_bpte_writer *bw, uint8_t **keep)
{
	uint8_t *data = NULL;
	size_t size = 0;
	struct infd_error e = {0};
	infd_status st = infd__bpte_writer_finish(bw, &data, &size, &e);
	infd__bpte_writer_destroy(bw);
	cr_assert_eq(st, INFD_OK, "bpte writer: %s", e.msg);
	cr_assert(infd__is_bundled(data, size));
	struct infd_bundled *b = NULL;
	st = infd__bundled_parse(data, size, &b, &e);
	cr_assert_eq(st, INFD_OK, "bundled reader on writer output: %s", e.msg);
	*keep = data;
	return b;
}

static uint8_t *finish_pte(struct infd_pte_writer *w, size_t *size)
{
	uint8_t *data = NULL;
	struct infd_error e = {0};
	infd_status st = infd__pte_writer_finish(w, &data, size, &e);
	infd__pte_writer_destroy(w);
	cr_assert_eq(st, INFD_OK, "writer: %s", e.msg);
	return data;
}

/* forward(a, b) = a + b on float32[4]; iadd(a, b) = a + b on int32[4];
 * get() = (Int 42, Double 0.5); scaled(x, k) = k * x where k is a baked Int 3. */
static uint8_t *sample_pte(size_t *size)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	cr_assert_not_null(w);
	const int32_t s4[1] = {4};
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t a = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t b = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t o = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t one = infd__pte_int(m, 1);
	infd__pte_inputs(m, 2, (const int32_t[]){a, b});
	infd__pte_outputs(m, 1, &o);
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){a, b, one, o, o});

	m = infd__pte_method(w, "iadd");
	a = infd__pte_planned(m, INFD_DTYPE_INT32, 1, s4);
	b = infd__pte_planned(m, INFD_DTYPE_INT32, 1, s4);
	o = infd__pte_planned(m, INFD_DTYPE_INT32, 1, s4);
	one = infd__pte_int(m, 1);
	infd__pte_inputs(m, 2, (const int32_t[]){a, b});
	infd__pte_outputs(m, 1, &o);
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){a, b, one, o, o});

	m = infd__pte_method(w, "get");
	int32_t i = infd__pte_int(m, 42), d = infd__pte_double(m, 0.5);
	infd__pte_outputs(m, 2, (const int32_t[]){i, d});

	m = infd__pte_method(w, "scaled");
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t k = infd__pte_int(m, 3);
	int32_t y = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s4);
	infd__pte_inputs(m, 2, (const int32_t[]){x, k});
	infd__pte_outputs(m, 1, &y);
	infd__pte_call(m, "aten::mul", "Scalar_out", 4, (const int32_t[]){x, k, y, y});
	return finish_pte(w, size);
}

static const int32_t S4[1] = {4};

static struct infd_bpte_value f32v(const float *v)
{
	return (struct infd_bpte_value){
	    .kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = S4, .data = v, .nbytes = 16};
}

static struct infd_bpte_value i32v(const int32_t *v)
{
	return (struct infd_bpte_value){
	    .kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_INT32, .rank = 1, .sizes = S4, .data = v, .nbytes = 16};
}

/* ---- ExecuTorch's bundled_add_mul.bpte ------------------------------------------ */

Test(bundled, add_mul_bpte_is_read)
{
	T_REQUIRE_TESTDATA(path, "pte/bundled_add_mul.bpte");
	struct infd_bundled *b = NULL;
	struct infd_error e = {0};
	cr_assert_eq(infd__bundled_open_file(path, &b, &e), INFD_OK, "%s", e.msg);
	cr_assert(infd__is_bundled(b->data, b->size));
	cr_assert_eq(b->version, 2);
	cr_assert_eq(b->program_size, 1696);
	cr_assert_eq(b->program - b->data, 64, "the embedded program starts at byte 64 (§13.3)");
	cr_assert_eq(b->n_suites, 1);
	cr_assert_str_eq(b->suites[0].method, "forward");
	cr_assert_eq(b->suites[0].n_cases, 10);
	for (uint32_t c = 0; c < 10; c++) {
		const struct infd_bundled_case *tc = &b->suites[0].cases[c];
		cr_assert_eq(tc->n_inputs, 2, "case %u", c);
		cr_assert_eq(tc->n_expected, 1, "case %u", c);
		for (uint32_t i = 0; i < 2; i++) {
			cr_assert_eq(tc->inputs[i].kind, INFD_VALUE_TENSOR);
			cr_assert_eq(tc->inputs[i].dtype, INFD_DTYPE_INT32);
			cr_assert_eq(tc->inputs[i].rank, 2);
			cr_assert_eq(tc->inputs[i].sizes[0], 2);
			cr_assert_eq(tc->inputs[i].sizes[1], 2);
			cr_assert_eq(tc->inputs[i].nbytes, 16);
		}
		const struct infd_bundled_value *x = &tc->expected[0];
		cr_assert_eq(x->dtype, INFD_DTYPE_INT32);
		for (int k = 0; k < 4; k++) {
			int32_t v;
			memcpy(&v, x->data + 4 * k, 4);
			cr_assert_eq(v, 2, "case %u expected element %d is %d", c, k, v);
		}
	}
	/* the embedded bytes are a program of their own */
	struct infd_program *p = NULL;
	cr_assert_eq(infd__program_open_copy(b->program, (size_t)b->program_size, &p, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(p->n_methods, 1);
	cr_assert_str_eq(p->methods[0].name, "forward");
	infd__program_close(p);
	infd__bundled_close(b);
}

Test(bundled, add_mul_bpte_verifies_ten_of_ten)
{
	T_REQUIRE_TESTDATA(path, "pte/bundled_add_mul.bpte");
	struct infd_runtime *rt = rt_new();
	struct infd_bundled *b = NULL;
	struct infd_error e = {0};
	cr_assert_eq(infd__bundled_open_file(path, &b, &e), INFD_OK, "%s", e.msg);
	struct reports rs = {0};
	uint32_t failed = 99;
	infd_status st = infd__bundled_verify(rt, b, 1e-5, 1e-8, collect, &rs, &failed, &e);
	cr_assert_eq(st, INFD_OK, "%s", e.msg);
	cr_assert_eq(failed, 0);
	cr_assert_eq(rs.n, 10, "one report per case, got %u", rs.n);
	for (uint32_t c = 0; c < 10; c++) {
		cr_assert_eq(rs.r[c].status, INFD_OK, "case %u: %s", c, rs.r[c].msg);
		cr_assert_eq(rs.r[c].case_index, c);
		cr_assert_str_eq(rs.method[c], "forward");
		cr_assert_float_eq(rs.r[c].max_abs_error, 0.0, 0);
	}
	/* a NULL report callback is allowed */
	failed = 99;
	cr_assert_eq(infd__bundled_verify(rt, b, 1e-5, 1e-8, NULL, NULL, &failed, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(failed, 0);
	infd__bundled_close(b);
	infd__runtime_destroy(rt);
}

Test(bundled, add_mul_cases_through_the_method_api)
{
	T_REQUIRE_TESTDATA(path, "pte/bundled_add_mul.bpte");
	struct infd_runtime *rt = rt_new();
	struct infd_bundled *b = NULL;
	struct infd_error e = {0};
	cr_assert_eq(infd__bundled_open_file(path, &b, &e), INFD_OK, "%s", e.msg);
	struct infd_program *p = NULL;
	cr_assert_eq(infd__program_open_copy(b->program, (size_t)b->program_size, &p, &e), INFD_OK, "%s", e.msg);
	struct infd_method *m = NULL;
	cr_assert_eq(infd__method_load(rt, p, "forward", NULL, &m, &e), INFD_OK, "%s", e.msg);
	for (uint32_t c = 0; c < b->suites[0].n_cases; c++) {
		const struct infd_bundled_case *tc = &b->suites[0].cases[c];
		for (uint32_t i = 0; i < tc->n_inputs; i++) {
			const struct infd_bundled_value *in = &tc->inputs[i];
			cr_assert_eq(infd__method_set_input_tensor(m, i, in->dtype, in->rank, in->sizes, in->data,
								   in->nbytes, &e),
				     INFD_OK, "case %u input %u: %s", c, i, e.msg);
		}
		cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "case %u: %s", c, e.msg);
		const struct infd_evalue *out = infd__method_output(m, 0);
		cr_assert_eq(out->kind, INFD_VALUE_TENSOR);
		cr_assert_eq(out->u.t->nbytes, tc->expected[0].nbytes);
		cr_assert(memcmp(out->u.t->data, tc->expected[0].data, 16) == 0, "case %u output differs", c);
		double err = -1;
		char msg[256] = "";
		cr_assert_eq(infd__bundled_compare(out, &tc->expected[0], 0, 0, &err, msg, sizeof msg), INFD_OK,
			     "case %u: %s", c, msg);
		cr_assert_float_eq(err, 0.0, 0);
	}
	infd__method_free(m);
	infd__program_close(p);
	infd__bundled_close(b);
	infd__runtime_destroy(rt);
}

/* ---- writer-made bundled programs --------------------------------------------------- */

Test(bundled, wrong_expected_output_reported_for_exactly_that_case)
{
	size_t size;
	uint8_t *pte = sample_pte(&size);
	struct infd_bpte_writer *bw = infd__bpte_writer_create(pte, size);
	free(pte);
	cr_assert_not_null(bw);
	for (int c = 0; c < 3; c++) {
		float a[4], bb[4], r[4];
		for (int k = 0; k < 4; k++) {
			a[k] = (float)(k + c) * 0.5f;
			bb[k] = (float)(c - k);
			r[k] = a[k] + bb[k];
		}
		if (c == 1)
			r[2] += 0.5f; /* deliberately wrong */
		struct infd_bpte_value ins[2] = {f32v(a), f32v(bb)}, out = f32v(r);
		infd__bpte_test_case(bw, "forward", 2, ins, 1, &out);
	}
	for (int c = 0; c < 2; c++) {
		int32_t a[4] = {1, 2, 3, 4}, bb[4] = {10 * c, 20, 30, 40}, r[4];
		for (int k = 0; k < 4; k++)
			r[k] = a[k] + bb[k];
		if (c == 0)
			r[3] = 45; /* deliberately wrong: 44 */
		struct infd_bpte_value ins[2] = {i32v(a), i32v(bb)}, out = i32v(r);
		infd__bpte_test_case(bw, "iadd", 2, ins, 1, &out);
	}
	uint8_t *keep;
	struct infd_bundled *b = parse_bpte(bw, &keep);
	cr_assert_eq(b->n_suites, 2);
	cr_assert_str_eq(b->suites[0].method, "forward");
	cr_assert_eq(b->suites[0].n_cases, 3);
	cr_assert_str_eq(b->suites[1].method, "iadd");
	cr_assert_eq(b->suites[1].n_cases, 2);

	struct infd_runtime *rt = rt_new();
	struct reports rs = {0};
	uint32_t failed = 0;
	struct infd_error e = {0};
	cr_assert_eq(infd__bundled_verify(rt, b, 1e-5, 1e-8, collect, &rs, &failed, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(failed, 2);
	cr_assert_eq(rs.n, 5);
	cr_assert_str_eq(rs.method[0], "forward");
	cr_assert_eq(rs.r[0].status, INFD_OK, "%s", rs.r[0].msg);
	cr_assert_eq(rs.r[1].status, INFD_MISMATCH, "case 1 must mismatch: %s", rs.r[1].msg);
	cr_assert_eq(rs.r[1].case_index, 1);
	cr_assert(strstr(rs.r[1].msg, "element 2"), "message should name element 2: %s", rs.r[1].msg);
	cr_assert_float_eq(rs.r[1].max_abs_error, 0.5, 1e-6);
	cr_assert_eq(rs.r[2].status, INFD_OK, "%s", rs.r[2].msg);
	cr_assert_str_eq(rs.method[3], "iadd");
	cr_assert_eq(rs.r[3].status, INFD_MISMATCH, "iadd case 0 must mismatch: %s", rs.r[3].msg);
	cr_assert_eq(rs.r[3].case_index, 0);
	cr_assert(strstr(rs.r[3].msg, "element 3"), "message should name element 3: %s", rs.r[3].msg);
	cr_assert_eq(rs.r[4].status, INFD_OK, "%s", rs.r[4].msg);
	infd__bundled_close(b);
	free(keep);
	infd__runtime_destroy(rt);
}

Test(bundled, verify_honours_the_tolerances)
{
	size_t size;
	uint8_t *pte = sample_pte(&size);
	struct infd_bpte_writer *bw = infd__bpte_writer_create(pte, size);
	free(pte);
	const float a[4] = {1, 2, 3, 4}, bb[4] = {0, 0, 0, 0};
	const float r[4] = {1.001f, 2, 3, 4}; /* off by 1e-3 in element 0 */
	struct infd_bpte_value ins[2] = {f32v(a), f32v(bb)}, out = f32v(r);
	infd__bpte_test_case(bw, "forward", 2, ins, 1, &out);
	uint8_t *keep;
	struct infd_bundled *b = parse_bpte(bw, &keep);
	struct infd_runtime *rt = rt_new();
	struct infd_error e = {0};
	uint32_t failed = 0;
	struct reports rs = {0};
	cr_assert_eq(infd__bundled_verify(rt, b, 1e-5, 1e-8, collect, &rs, &failed, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(failed, 1, "default tolerances must catch 1e-3");
	cr_assert(strstr(rs.r[0].msg, "element 0"), "%s", rs.r[0].msg);
	cr_assert_float_eq(rs.r[0].max_abs_error, 1e-3, 1e-6);
	failed = 9;
	cr_assert_eq(infd__bundled_verify(rt, b, 0, 2e-3, NULL, NULL, &failed, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(failed, 0, "atol 2e-3 must accept 1e-3");
	failed = 9;
	cr_assert_eq(infd__bundled_verify(rt, b, 2e-3, 0, NULL, NULL, &failed, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(failed, 0, "rtol 2e-3 of 1.001 must accept 1e-3");
	failed = 9;
	cr_assert_eq(infd__bundled_verify(rt, b, 5e-4, 4e-4, NULL, NULL, &failed, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(failed, 1, "atol + rtol*|b| = 9e-4 must refuse 1e-3");
	infd__bundled_close(b);
	free(keep);
	infd__runtime_destroy(rt);
}

Test(bundled, scalar_cases_and_bad_cases)
{
	size_t size;
	uint8_t *pte = sample_pte(&size);
	struct infd_bpte_writer *bw = infd__bpte_writer_create(pte, size);
	free(pte);
	/* get(): expected Int 42 and Double 0.5; then a wrong Int */
	struct infd_bpte_value good[2] = {{.kind = INFD_BPTE_INT, .i = 42}, {.kind = INFD_BPTE_DOUBLE, .d = 0.5}};
	struct infd_bpte_value bad[2] = {{.kind = INFD_BPTE_INT, .i = 41}, {.kind = INFD_BPTE_DOUBLE, .d = 0.5}};
	infd__bpte_test_case(bw, "get", 0, NULL, 2, good);
	infd__bpte_test_case(bw, "get", 0, NULL, 2, bad);
	/* scaled(x, k = 3): a right k, a wrong k, and a case with one input missing */
	const float x[4] = {1, -2, 0.5f, 0}, y[4] = {3, -6, 1.5f, 0};
	struct infd_bpte_value in_ok[2] = {f32v(x), {.kind = INFD_BPTE_INT, .i = 3}};
	struct infd_bpte_value in_bad[2] = {f32v(x), {.kind = INFD_BPTE_INT, .i = 4}};
	struct infd_bpte_value out = f32v(y);
	infd__bpte_test_case(bw, "scaled", 2, in_ok, 1, &out);
	infd__bpte_test_case(bw, "scaled", 2, in_bad, 1, &out);
	infd__bpte_test_case(bw, "scaled", 1, in_ok, 1, &out);
	infd__bpte_test_case(bw, "scaled", 2, in_ok, 1, &out);
	uint8_t *keep;
	struct infd_bundled *b = parse_bpte(bw, &keep);
	cr_assert_eq(b->suites[0].cases[0].expected[0].kind, INFD_VALUE_INT);
	cr_assert_eq(b->suites[0].cases[0].expected[0].i, 42);
	cr_assert_eq(b->suites[0].cases[0].expected[1].kind, INFD_VALUE_DOUBLE);
	cr_assert_float_eq(b->suites[0].cases[0].expected[1].d, 0.5, 0);
	struct infd_runtime *rt = rt_new();
	struct infd_error e = {0};
	uint32_t failed = 0;
	struct reports rs = {0};
	cr_assert_eq(infd__bundled_verify(rt, b, 1e-5, 1e-8, collect, &rs, &failed, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(rs.n, 6);
	cr_assert_eq(failed, 3);
	cr_assert_eq(rs.r[0].status, INFD_OK, "get case 0: %s", rs.r[0].msg);
	cr_assert_eq(rs.r[1].status, INFD_MISMATCH, "get case 1: %s", rs.r[1].msg);
	cr_assert(strstr(rs.r[1].msg, "output 0"), "message should name the output: %s", rs.r[1].msg);
	cr_assert_eq(rs.r[2].status, INFD_OK, "scaled case 0: %s", rs.r[2].msg);
	cr_assert_eq(rs.r[3].status, INFD_BAD_INPUT, "k = 4 differs from the baked 3: %s", rs.r[3].msg);
	cr_assert(rs.r[3].msg[0]);
	cr_assert_eq(rs.r[4].status, INFD_BAD_INPUT, "one input for two: %s", rs.r[4].msg);
	cr_assert(rs.r[4].msg[0]);
	cr_assert_eq(rs.r[5].status, INFD_OK, "a good case after bad ones must pass: %s", rs.r[5].msg);
	infd__bundled_close(b);
	free(keep);
	infd__runtime_destroy(rt);
}

Test(bundled, suite_for_an_unknown_method_is_an_error)
{
	size_t size;
	uint8_t *pte = sample_pte(&size);
	struct infd_bpte_writer *bw = infd__bpte_writer_create(pte, size);
	free(pte);
	struct infd_bpte_value v = {.kind = INFD_BPTE_INT, .i = 1};
	infd__bpte_test_case(bw, "no_such_method", 0, NULL, 1, &v);
	uint8_t *keep;
	struct infd_bundled *b = parse_bpte(bw, &keep);
	struct infd_runtime *rt = rt_new();
	struct infd_error e = {0};
	uint32_t failed = 0;
	infd_status st = infd__bundled_verify(rt, b, 1e-5, 1e-8, NULL, NULL, &failed, &e);
	cr_assert_neq(st, INFD_OK, "verification of a missing method must fail");
	cr_assert(strstr(e.msg, "no_such_method"), "message should name the method: %s", e.msg);
	infd__bundled_close(b);
	free(keep);
	infd__runtime_destroy(rt);
}

Test(bundled, build_sample_bpte_verifies)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tools/sample.bpte", t_build_root());
	struct infd_bundled *b = NULL;
	struct infd_error e = {0};
	cr_assert_eq(infd__bundled_open_file(path, &b, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(b->n_suites, 2);
	struct infd_runtime *rt = rt_new();
	uint32_t failed = 9;
	struct reports rs = {0};
	cr_assert_eq(infd__bundled_verify(rt, b, 1e-5, 1e-8, collect, &rs, &failed, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(rs.n, 6);
	cr_assert_eq(failed, 0, "first failure: %s", rs.r[0].msg);
	infd__bundled_close(b);
	infd__runtime_destroy(rt);
}

Test(bundled, malformed_files_are_refused)
{
	T_REQUIRE_TESTDATA(path, "pte/bundled_add_mul.bpte");
	size_t size = 0;
	uint8_t *bytes = t_read_file(path, &size);
	cr_assert_not_null(bytes);
	struct infd_bundled *b = NULL;
	struct infd_error e = {0};
	/* truncated: the root table is there, the rest is not */
	cr_assert_eq(infd__bundled_parse(bytes, 96, &b, &e), INFD_BAD_FORMAT, "truncated: %s", e.msg);
	cr_assert_null(b);
	/* a .pte is not a bundled program */
	T_REQUIRE_TESTDATA(add, "pte/add.pte");
	size_t n2 = 0;
	uint8_t *pte = t_read_file(add, &n2);
	cr_assert_not(infd__is_bundled(pte, n2));
	e = (struct infd_error){0};
	cr_assert_eq(infd__bundled_parse(pte, n2, &b, &e), INFD_BAD_FORMAT, "%s", e.msg);
	cr_assert(strstr(e.msg, "BP08"), "%s", e.msg);
	free(pte);
	/* a missing file */
	e = (struct infd_error){0};
	cr_assert_eq(infd__bundled_open_file("/nonexistent/x.bpte", &b, &e), INFD_IO, "%s", e.msg);
	free(bytes);
}

/* ---- infd__bundled_compare --------------------------------------------------------- */

struct cmp {
	struct infd_tensor t;
	struct infd_evalue v;
	struct infd_bundled_value want;
};

static void cmp_init(struct cmp *c, int dtype, uint32_t n, void *got, const void *want)
{
	memset(c, 0, sizeof *c);
	c->t.data = got;
	c->t.dtype = (int8_t)dtype;
	c->t.rank = 1;
	c->t.sizes[0] = (int32_t)n;
	infd__tensor_update_layout(&c->t);
	c->v.kind = INFD_VALUE_TENSOR;
	c->v.u.t = &c->t;
	c->want.kind = INFD_VALUE_TENSOR;
	c->want.dtype = (int8_t)dtype;
	c->want.rank = 1;
	c->want.sizes[0] = (int32_t)n;
	c->want.data = want;
	c->want.nbytes = c->t.nbytes;
}

static infd_status cmp_f32(float got, float want, double rtol, double atol, char *msg, size_t n)
{
	struct cmp c;
	float g[1] = {got}, w[1] = {want};
	cmp_init(&c, INFD_DTYPE_FLOAT32, 1, g, w);
	double err;
	msg[0] = 0;
	return infd__bundled_compare(&c.v, &c.want, rtol, atol, &err, msg, n);
}

Test(bundled, compare_absolute_and_relative_tolerance)
{
	char msg[256];
	cr_assert_eq(cmp_f32(1.0f, 1.0f, 0, 0, msg, sizeof msg), INFD_OK, "%s", msg);
	/* |a - b| <= atol + rtol * |b|; every number here is exact in binary */
	cr_assert_eq(cmp_f32(8.25f, 8.0f, 0, 0.25, msg, sizeof msg), INFD_OK, "atol boundary: %s", msg);
	cr_assert_eq(cmp_f32(8.25f, 8.0f, 0, 0.125, msg, sizeof msg), INFD_MISMATCH, "beyond atol");
	cr_assert_eq(cmp_f32(8.25f, 8.0f, 1.0 / 32, 0, msg, sizeof msg), INFD_OK, "rtol boundary: %s", msg);
	cr_assert_eq(cmp_f32(8.25f, 8.0f, 1.0 / 64, 0, msg, sizeof msg), INFD_MISMATCH, "beyond rtol");
	cr_assert_eq(cmp_f32(8.25f, 8.0f, 1.0 / 64, 0.125, msg, sizeof msg), INFD_OK, "atol + rtol: %s", msg);
	cr_assert_eq(cmp_f32(8.375f, 8.0f, 1.0 / 64, 0.125, msg, sizeof msg), INFD_MISMATCH, "beyond atol + rtol");
	/* rtol scales with the expected value, not the output */
	cr_assert_eq(cmp_f32(16.0f, 8.0f, 0.5, 0, msg, sizeof msg), INFD_MISMATCH, "rtol * |b| = 4 < 8");
	cr_assert_eq(cmp_f32(8.0f, 16.0f, 0.5, 0, msg, sizeof msg), INFD_OK, "rtol * |b| = 8: %s", msg);
	cr_assert_eq(cmp_f32(-8.25f, -8.0f, 0, 0.25, msg, sizeof msg), INFD_OK, "negative values: %s", msg);
	cr_assert_eq(cmp_f32(0.0f, -0.0f, 0, 0, msg, sizeof msg), INFD_OK, "0 == -0: %s", msg);
}

Test(bundled, compare_nan_and_infinity)
{
	char msg[256];
	cr_assert_eq(cmp_f32(NAN, NAN, 1e-5, 1e-8, msg, sizeof msg), INFD_OK, "NaN == NaN: %s", msg);
	cr_assert_eq(cmp_f32(NAN, NAN, 0, 0, msg, sizeof msg), INFD_OK, "NaN == NaN exactly: %s", msg);
	cr_assert_eq(cmp_f32(NAN, 1.0f, 1e-5, 1e-8, msg, sizeof msg), INFD_MISMATCH, "NaN output, 1 expected");
	cr_assert_eq(cmp_f32(1.0f, NAN, 1e-5, 1e-8, msg, sizeof msg), INFD_MISMATCH, "1 output, NaN expected");
	cr_assert_eq(cmp_f32(NAN, 1.0f, 1e9, 1e9, msg, sizeof msg), INFD_MISMATCH, "no tolerance makes NaN close");
	cr_assert_eq(cmp_f32(INFINITY, 1.0f, 1e-5, 1e-8, msg, sizeof msg), INFD_MISMATCH, "inf vs 1");
	/* an infinite difference is never within tolerance, even though atol + rtol * |inf| is infinite */
	cr_assert_eq(cmp_f32(1.0f, INFINITY, 1e-5, 1e-8, msg, sizeof msg), INFD_MISMATCH, "1 output, +inf expected");
	cr_assert_eq(cmp_f32(-INFINITY, INFINITY, 1e-5, 1e-8, msg, sizeof msg), INFD_MISMATCH, "-inf vs +inf");
	/* ExecuTorch's bundled-program comparison treats same-signed infinities as
	 * equal (devtools/bundled_program: "-Inf == -Inf, +Inf == +Inf") */
	cr_assert_eq(cmp_f32(INFINITY, INFINITY, 1e-5, 1e-8, msg, sizeof msg), INFD_OK, "+inf == +inf: %s", msg);
	cr_assert_eq(cmp_f32(-INFINITY, -INFINITY, 1e-5, 1e-8, msg, sizeof msg), INFD_OK, "-inf == -inf: %s", msg);
}

Test(bundled, compare_names_the_first_bad_element_and_the_largest_error)
{
	struct cmp c;
	float got[5] = {1, 2.5f, 3, 4.25f, 5}, want[5] = {1, 2, 3, 4, 5};
	cmp_init(&c, INFD_DTYPE_FLOAT32, 5, got, want);
	double err = 0;
	char msg[256] = "";
	cr_assert_eq(infd__bundled_compare(&c.v, &c.want, 0, 0.125, &err, msg, sizeof msg), INFD_MISMATCH);
	cr_assert(strstr(msg, "element 1"), "the first bad element is 1: %s", msg);
	cr_assert_float_eq(err, 0.5, 1e-9, "largest error %g", err);

	double dg[3] = {1, 2, 3}, dw[3] = {1, 2, 3 + 1e-9};
	cmp_init(&c, INFD_DTYPE_FLOAT64, 3, dg, dw);
	cr_assert_eq(infd__bundled_compare(&c.v, &c.want, 0, 1e-8, &err, msg, sizeof msg), INFD_OK, "%s", msg);
	cr_assert_eq(infd__bundled_compare(&c.v, &c.want, 0, 1e-10, &err, msg, sizeof msg), INFD_MISMATCH);
	cr_assert(strstr(msg, "element 2"), "%s", msg);

	int32_t ig[4] = {7, 8, 9, 10}, iw[4] = {7, 8, 9, 11};
	cmp_init(&c, INFD_DTYPE_INT32, 4, ig, iw);
	cr_assert_eq(infd__bundled_compare(&c.v, &c.want, 1, 1, &err, msg, sizeof msg), INFD_MISMATCH,
		     "integers compare exactly whatever the tolerance");
	cr_assert(strstr(msg, "element 3"), "%s", msg);
	iw[3] = 10;
	cr_assert_eq(infd__bundled_compare(&c.v, &c.want, 0, 0, &err, msg, sizeof msg), INFD_OK, "%s", msg);
}

Test(bundled, compare_float16_within_tolerance)
{
	/* ExecuTorch compares half tensors with the tolerances too (data_is_close_half) */
	struct cmp c;
	uint16_t got[2] = {0x3C00, 0x3C01}, want[2] = {0x3C00, 0x3C00}; /* 1.0, 1.0009765625 vs 1.0 */
	cmp_init(&c, INFD_DTYPE_FLOAT16, 2, got, want);
	double err = 0;
	char msg[256] = "";
	cr_assert_eq(infd__bundled_compare(&c.v, &c.want, 0, 1e-2, &err, msg, sizeof msg), INFD_OK,
		     "float16 1 ulp apart within atol 1e-2: %s", msg);
	cr_assert_eq(infd__bundled_compare(&c.v, &c.want, 0, 1e-4, &err, msg, sizeof msg), INFD_MISMATCH);
	cr_assert(strstr(msg, "element 1"), "%s", msg);
}

Test(bundled, compare_dtype_shape_and_kind)
{
	struct cmp c;
	float g[4] = {1, 2, 3, 4};
	cmp_init(&c, INFD_DTYPE_FLOAT32, 4, g, g);
	double err;
	char msg[256] = "";
	cr_assert_eq(infd__bundled_compare(&c.v, &c.want, 0, 0, &err, msg, sizeof msg), INFD_OK, "%s", msg);
	c.want.dtype = INFD_DTYPE_INT32;
	cr_assert_eq(infd__bundled_compare(&c.v, &c.want, 1, 1, &err, msg, sizeof msg), INFD_MISMATCH, "dtype");
	cr_assert(msg[0]);
	c.want.dtype = INFD_DTYPE_FLOAT32;
	c.want.rank = 2;
	c.want.sizes[0] = 2;
	c.want.sizes[1] = 2;
	msg[0] = 0;
	cr_assert_eq(infd__bundled_compare(&c.v, &c.want, 1, 1, &err, msg, sizeof msg), INFD_MISMATCH, "[4] vs [2,2]");
	cr_assert(msg[0]);

	struct infd_evalue iv = {.kind = INFD_VALUE_INT, .u.i = 5};
	struct infd_bundled_value wi = {.kind = INFD_VALUE_INT, .i = 5};
	cr_assert_eq(infd__bundled_compare(&iv, &wi, 0, 0, &err, msg, sizeof msg), INFD_OK, "%s", msg);
	wi.i = 6;
	cr_assert_eq(infd__bundled_compare(&iv, &wi, 1, 1, &err, msg, sizeof msg), INFD_MISMATCH, "5 vs 6");
	struct infd_evalue dv = {.kind = INFD_VALUE_DOUBLE, .u.d = 0.5};
	struct infd_bundled_value wd = {.kind = INFD_VALUE_DOUBLE, .d = 0.5 + 1e-9};
	cr_assert_eq(infd__bundled_compare(&dv, &wd, 0, 1e-8, &err, msg, sizeof msg), INFD_OK, "%s", msg);
	cr_assert_eq(infd__bundled_compare(&dv, &wd, 0, 1e-10, &err, msg, sizeof msg), INFD_MISMATCH);
	wd.d = NAN;
	dv.u.d = NAN;
	cr_assert_eq(infd__bundled_compare(&dv, &wd, 0, 0, &err, msg, sizeof msg), INFD_OK, "NaN double: %s", msg);
	struct infd_bundled_value wb = {.kind = INFD_VALUE_BOOL, .b = true};
	struct infd_evalue bv = {.kind = INFD_VALUE_BOOL, .u.b = true};
	cr_assert_eq(infd__bundled_compare(&bv, &wb, 0, 0, &err, msg, sizeof msg), INFD_OK, "%s", msg);
	bv.u.b = false;
	cr_assert_eq(infd__bundled_compare(&bv, &wb, 0, 0, &err, msg, sizeof msg), INFD_MISMATCH);
	/* kinds must agree: an Int where a Double is expected, a scalar for a tensor */
	cr_assert_eq(infd__bundled_compare(&iv, &wd, 1, 1, &err, msg, sizeof msg), INFD_MISMATCH, "int vs double");
	cmp_init(&c, INFD_DTYPE_FLOAT32, 4, g, g);
	msg[0] = 0;
	cr_assert_eq(infd__bundled_compare(&iv, &c.want, 1, 1, &err, msg, sizeof msg), INFD_MISMATCH, "int vs tensor");
	cr_assert(strstr(msg, "tensor"), "%s", msg);
}
