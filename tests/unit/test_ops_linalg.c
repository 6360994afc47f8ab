/* Tests of the linalg kernels (runtime/kernels/linalg.c, conv.c, gemm.c): mm, bmm,
 * addmm, linear and convolution against plain double-precision references on random shapes
 * (edges of the GEMM tiles, empty dims, strided and channels-last layouts, 1-d,
 * grouped, depthwise and transposed convolution), thread-count independence of
 * the results, and error reporting. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opref.h"
#include "runtime/kernels/util.h"

TestSuite(ops_linalg, .init = op_setup, .fini = op_teardown);

/* ---- Helpers ------------------------------------------------------------------- */

#define EV(t) op_ev_tensor(t)
#define IL(...)                                                                            \
	op_ev_int_list((uint32_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),     \
		       (const int64_t[]){__VA_ARGS__})

static const uint8_t ORD_T2[2] = {1, 0};       /* a transposed matrix */
static const uint8_t ORD_CL[4] = {0, 2, 3, 1}; /* channels-last */

/* Random float32 tensor in [-1, 1] with a dim order (NULL: contiguous). */
static struct infd_tensor *rnd(uint32_t rank, const int32_t *sizes, const uint8_t *order)
{
	struct infd_tensor *t = op_tensor_order(F32, rank, sizes, order);
	op_fill_random(t, 1.0);
	return t;
}

/* Out tensor: room for `cap` elements, dim order for `rank` (resized by the kernel). */
static struct infd_tensor *out_t(uint32_t rank, const int32_t *sizes, const uint8_t *order)
{
	return op_tensor_order(F32, rank, sizes, order);
}

/* Call a kernel with an explicit thread pool (opref's op_call runs serially). */
static infd_status call_pool(const char *key, struct infd_evalue **args, uint32_t n,
			     pthreadpool_t pool)
{
	const struct infd_kernel_def *def = infd__registry_find(op_reg, key);
	cr_assert_not_null(def, "kernel %s is not registered", key);
	cr_assert(def->n_args < 0 || (uint32_t)def->n_args == n);
	struct infd_kernel_ctx ctx = {.err = &op_err, .op_key = key,
				      .n_threads = pool ? (uint32_t)pthreadpool_get_threads_count(pool) : 1,
				      .threadpool = pool};
	infd__error_clear(&op_err);
	return def->fn(&ctx, args, n);
}

/* Logical multi-index of element k of a shape (row-major). */
static void unravel(uint64_t k, uint32_t rank, const int32_t *sizes, int64_t *idx)
{
	for (int d = (int)rank - 1; d >= 0; d--) {
		idx[d] = sizes[d] ? (int64_t)(k % (uint64_t)sizes[d]) : 0;
		k = sizes[d] ? k / (uint64_t)sizes[d] : 0;
	}
}

/* Every element of t (read through its strides, logical order) close to want. */
static void check_close(const struct infd_tensor *t, const double *want, double rtol, double atol)
{
	int64_t idx[INFD_MAX_RANK];
	for (uint64_t k = 0; k < t->numel; k++) {
		unravel(k, t->rank, t->sizes, idx);
		double g = op_get_at(t, idx);
		cr_assert(isfinite(g) || isnan(want[k]), "element %llu is %g", (unsigned long long)k, g);
		cr_assert(fabs(g - want[k]) <= atol + rtol * fabs(want[k]),
			  "element %llu: %.9g, expected %.9g", (unsigned long long)k, g, want[k]);
	}
}

/* The logical contents of t, as float32 bit patterns compared exactly. */
static void check_same(const struct infd_tensor *a, const struct infd_tensor *b)
{
	cr_assert_eq(a->numel, b->numel);
	int64_t idx[INFD_MAX_RANK];
	for (uint64_t k = 0; k < a->numel; k++) {
		unravel(k, a->rank, a->sizes, idx);
		double x = op_get_at(a, idx), y = op_get_at(b, idx);
		cr_assert(memcmp(&x, &y, sizeof x) == 0, "element %llu: %.9g vs %.9g",
			  (unsigned long long)k, x, y);
	}
}

static double at2(const struct infd_tensor *t, int64_t i, int64_t j)
{
	return op_get_at(t, (const int64_t[]){i, j});
}

static double at3(const struct infd_tensor *t, int64_t b, int64_t i, int64_t j)
{
	return op_get_at(t, (const int64_t[]){b, i, j});
}

/* Tolerance for sums of k products of values in [-1, 1]. */
static double tol(int64_t k)
{
	return 2e-6 * (double)(k + 4);
}

/* ---- mm ------------------------------------------------------------------------ */

static double *ref_mm(const struct infd_tensor *a, const struct infd_tensor *b)
{
	const int64_t m = a->sizes[0], k = a->sizes[1], n = b->sizes[1];
	double *want = op_track(calloc((size_t)(m * n) + 1, sizeof(double)));
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double s = 0;
			for (int64_t x = 0; x < k; x++)
				s += at2(a, i, x) * at2(b, x, j);
			want[i * n + j] = s;
		}
	return want;
}

static void mm_case(int32_t m, int32_t k, int32_t n, const uint8_t *oa, const uint8_t *ob,
		    const uint8_t *oo)
{
	struct infd_tensor *a = rnd(2, (int32_t[]){m, k}, oa), *b = rnd(2, (int32_t[]){k, n}, ob);
	struct infd_tensor *o = out_t(2, (int32_t[]){m, n}, oo);
	struct infd_evalue *eo = EV(o);
	CHECK_OK(OP_CALL("aten::mm.out", EV(a), EV(b), eo, eo));
	op_check_shape(o, SHAPE(m, n));
	check_close(o, ref_mm(a, b), 1e-5, tol(k));
}

Test(ops_linalg, mm_shapes)
{
	/* tile edges (6 x 16 micro-tiles), K blocks (up to 320 deep), the few-rows
	 * path (M or N <= 4), blocks of packed A (1440 rows) and B (2048 columns) */
	static const int32_t shapes[][3] = {
		{1, 1, 1},    {2, 3, 4},     {6, 16, 16},   {7, 13, 17},  {12, 1, 32},
		{13, 37, 5},  {5, 9, 3},     {1, 64, 1},    {1, 100, 70}, {3, 50, 130},
		{4, 17, 200}, {31, 700, 33}, {50, 321, 47}, {66, 40, 97}, {1500, 3, 20},
		{7, 5, 2100},
	};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
		mm_case(shapes[i][0], shapes[i][1], shapes[i][2], NULL, NULL, NULL);
}

Test(ops_linalg, mm_layouts)
{
	/* transposed storage of either input and of out (strided packing, dot products) */
	for (int v = 0; v < 8; v++) {
		const uint8_t *oa = v & 1 ? ORD_T2 : NULL, *ob = v & 2 ? ORD_T2 : NULL;
		const uint8_t *oo = v & 4 ? ORD_T2 : NULL;
		mm_case(9, 23, 35, oa, ob, oo);
		mm_case(2, 40, 19, oa, ob, oo);
		mm_case(30, 19, 3, oa, ob, oo);
	}
}

Test(ops_linalg, mm_empty_and_k0)
{
	mm_case(0, 5, 3, NULL, NULL, NULL);
	mm_case(4, 5, 0, NULL, NULL, NULL);
	/* K = 0: zeros */
	struct infd_tensor *a = rnd(2, (int32_t[]){3, 0}, NULL), *b = rnd(2, (int32_t[]){0, 4}, NULL);
	struct infd_tensor *o = out_t(2, (int32_t[]){3, 4}, NULL);
	for (uint64_t i = 0; i < o->numel; i++)
		op_set(o, i, 7.0);
	struct infd_evalue *eo = EV(o);
	CHECK_OK(OP_CALL("aten::mm.out", EV(a), EV(b), eo, eo));
	for (uint64_t i = 0; i < o->numel; i++)
		cr_assert_eq(op_get(o, i), 0.0);
}

Test(ops_linalg, mm_resizes_out)
{
	struct infd_tensor *a = rnd(2, (int32_t[]){3, 4}, NULL), *b = rnd(2, (int32_t[]){4, 5}, NULL);
	struct infd_tensor *o = op_tensor_cap(F32, SHAPE(1, 1), 15);
	struct infd_evalue *eo = EV(o);
	CHECK_OK(OP_CALL("aten::mm.out", EV(a), EV(b), eo, eo));
	op_check_shape(o, SHAPE(3, 5));
	check_close(o, ref_mm(a, b), 1e-5, tol(4));
	/* too small a capacity */
	struct infd_tensor *small = op_tensor_cap(F32, SHAPE(2, 2), 4);
	struct infd_evalue *es = EV(small);
	CHECK_FAIL(OP_CALL("aten::mm.out", EV(a), EV(b), es, es), "aten::mm.out");
}

Test(ops_linalg, mm_errors)
{
	struct infd_tensor *a = rnd(2, (int32_t[]){3, 4}, NULL), *b = rnd(2, (int32_t[]){5, 2}, NULL);
	struct infd_tensor *o = out_t(2, (int32_t[]){3, 2}, NULL);
	struct infd_evalue *eo = EV(o);
	CHECK_FAIL(OP_CALL("aten::mm.out", EV(a), EV(b), eo, eo), "cannot be multiplied (3x4 and 5x2)");
	struct infd_tensor *v = rnd(1, (int32_t[]){4}, NULL);
	CHECK_FAIL(OP_CALL("aten::mm.out", EV(a), EV(v), eo, eo), "must both be 2-D");
	struct infd_tensor *d = op_tensor(F64, SHAPE(4, 2));
	CHECK_FAIL(OP_CALL("aten::mm.out", EV(a), EV(d), eo, eo), "mat2 has dtype float64; only float32");
	struct infd_tensor *h = op_tensor(F16, SHAPE(3, 4));
	CHECK_FAIL(OP_CALL("aten::mm.out", EV(h), EV(b), eo, eo), "self has dtype float16");
	struct infd_tensor *oi = op_tensor(I32, SHAPE(3, 2));
	struct infd_evalue *eoi = EV(oi);
	struct infd_tensor *b2 = rnd(2, (int32_t[]){4, 2}, NULL);
	CHECK_FAIL(OP_CALL("aten::mm.out", EV(a), EV(b2), eoi, eoi), "out has dtype int32");
	CHECK_FAIL(OP_CALL("aten::mm.out", EV(a), op_ev_int(3), eo, eo), "mat2");
	/* wrong argument count */
	struct infd_evalue *args[3] = {EV(a), EV(b2), eo};
	const struct infd_kernel_def *def = infd__registry_find(op_reg, "aten::mm.out");
	struct infd_kernel_ctx ctx = {.err = &op_err, .op_key = "aten::mm.out", .n_threads = 1};
	cr_assert_neq(def->fn(&ctx, args, 3), INFD_OK);
	cr_assert_not_null(strstr(op_err.msg, "expected 4 arguments"), "%s", op_err.msg);
}

Test(ops_linalg, mm_out_aliases_input)
{
	/* out is the very tensor of self (square): computed through a buffer */
	struct infd_tensor *a = rnd(2, (int32_t[]){20, 20}, NULL), *b = rnd(2, (int32_t[]){20, 20}, NULL);
	double *want = ref_mm(a, b);
	struct infd_evalue *ea = EV(a);
	CHECK_OK(OP_CALL("aten::mm.out", ea, EV(b), ea, ea));
	check_close(a, want, 1e-5, tol(20));
}

/* ---- bmm ----------------------------------------------------------------------- */

static void bmm_case(int32_t bs, int32_t m, int32_t k, int32_t n, const uint8_t *oa,
		     const uint8_t *ob)
{
	struct infd_tensor *a = rnd(3, (int32_t[]){bs, m, k}, oa), *b = rnd(3, (int32_t[]){bs, k, n}, ob);
	struct infd_tensor *o = out_t(3, (int32_t[]){bs, m, n}, NULL);
	struct infd_evalue *eo = EV(o);
	CHECK_OK(OP_CALL("aten::bmm.out", EV(a), EV(b), eo, eo));
	op_check_shape(o, SHAPE(bs, m, n));
	double *want = op_track(calloc((size_t)(bs * m * n) + 1, sizeof(double)));
	for (int64_t x = 0; x < bs; x++)
		for (int64_t i = 0; i < m; i++)
			for (int64_t j = 0; j < n; j++) {
				double s = 0;
				for (int64_t y = 0; y < k; y++)
					s += at3(a, x, i, y) * at3(b, x, y, j);
				want[(x * m + i) * n + j] = s;
			}
	check_close(o, want, 1e-5, tol(k));
}

Test(ops_linalg, bmm)
{
	static const uint8_t o021[3] = {0, 2, 1}, o120[3] = {1, 2, 0};
	bmm_case(1, 5, 7, 9, NULL, NULL);
	bmm_case(3, 13, 20, 17, NULL, NULL);
	bmm_case(4, 1, 33, 6, NULL, NULL);
	bmm_case(2, 8, 1, 3, NULL, NULL);
	bmm_case(3, 11, 15, 21, o021, o120);
	bmm_case(2, 3, 64, 40, o120, o021);
	bmm_case(0, 4, 5, 6, NULL, NULL);
	bmm_case(2, 0, 5, 6, NULL, NULL);
	bmm_case(2, 3, 0, 6, NULL, NULL);
}

Test(ops_linalg, bmm_errors)
{
	struct infd_tensor *a = rnd(3, (int32_t[]){2, 3, 4}, NULL), *b = rnd(3, (int32_t[]){3, 4, 5}, NULL);
	struct infd_tensor *o = out_t(3, (int32_t[]){2, 3, 5}, NULL);
	struct infd_evalue *eo = EV(o);
	CHECK_FAIL(OP_CALL("aten::bmm.out", EV(a), EV(b), eo, eo), "same number of batches (2 and 3)");
	struct infd_tensor *c = rnd(3, (int32_t[]){2, 5, 5}, NULL);
	CHECK_FAIL(OP_CALL("aten::bmm.out", EV(a), EV(c), eo, eo), "cannot be multiplied (3x4 and 5x5)");
	struct infd_tensor *m2 = rnd(2, (int32_t[]){4, 5}, NULL);
	CHECK_FAIL(OP_CALL("aten::bmm.out", EV(a), EV(m2), eo, eo), "must both be 3-D");
}

/* ---- addmm --------------------------------------------------------------------- */

/* want = beta * bias (broadcast) + alpha * a b; bias ignored when beta == 0 */
static double *ref_addmm(const struct infd_tensor *x, const struct infd_tensor *a,
			 const struct infd_tensor *b, double beta, double alpha)
{
	const int64_t m = a->sizes[0], n = b->sizes[1];
	double *want = ref_mm(a, b);
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double bv = 0;
			if (beta != 0) {
				int64_t idx[2] = {0, 0};
				if (x->rank == 2) {
					idx[0] = x->sizes[0] == 1 ? 0 : i;
					idx[1] = x->sizes[1] == 1 ? 0 : j;
				} else if (x->rank == 1) {
					idx[0] = x->sizes[0] == 1 ? 0 : j;
				}
				bv = beta * op_get_at(x, idx);
			}
			want[i * n + j] = bv + alpha * want[i * n + j];
		}
	return want;
}

Test(ops_linalg, addmm_bias_shapes)
{
	const int32_t m = 11, k = 19, n = 23;
	const struct {
		uint32_t rank;
		int32_t s[2];
	} bs[] = {{1, {n}}, {1, {1}}, {2, {1, n}}, {2, {m, 1}}, {2, {m, n}}, {2, {1, 1}}, {0, {0}}};
	for (size_t v = 0; v < sizeof bs / sizeof bs[0]; v++)
		for (int sc = 0; sc < 3; sc++) {
			const double beta = sc == 0 ? 1.0 : sc == 1 ? 0.5 : -2.0;
			const double alpha = sc == 0 ? 1.0 : sc == 1 ? 2.0 : 0.25;
			struct infd_tensor *x = rnd(bs[v].rank, bs[v].s, NULL);
			struct infd_tensor *a = rnd(2, (int32_t[]){m, k}, NULL), *b = rnd(2, (int32_t[]){k, n}, NULL);
			struct infd_tensor *o = out_t(2, (int32_t[]){m, n}, NULL);
			struct infd_evalue *eo = EV(o);
			struct infd_evalue *ebeta = sc == 0 ? op_ev_int(1) : op_ev_double(beta);
			struct infd_evalue *ealpha = sc == 0 ? op_ev_int(1) : op_ev_double(alpha);
			CHECK_OK(OP_CALL("aten::addmm.out", EV(x), EV(a), EV(b), ebeta, ealpha, eo, eo));
			check_close(o, ref_addmm(x, a, b, beta, alpha), 1e-5, 2 * tol(k));
		}
}

Test(ops_linalg, addmm_layouts_and_sizes)
{
	/* the bias added at the first K block (alpha == 1) and after the last one
	 * (alpha != 1), in full tiles, edge tiles and the few-rows path */
	static const int32_t shapes[][3] = {{3, 30, 40}, {40, 30, 3}, {37, 400, 50}, {6, 16, 32}};
	for (size_t i = 0; i < 4; i++)
		for (int v = 0; v < 4; v++) {
			const int32_t m = shapes[i][0], k = shapes[i][1], n = shapes[i][2];
			struct infd_tensor *x = rnd(2, (int32_t[]){m, n}, v & 1 ? ORD_T2 : NULL);
			struct infd_tensor *a = rnd(2, (int32_t[]){m, k}, v & 2 ? ORD_T2 : NULL);
			struct infd_tensor *b = rnd(2, (int32_t[]){k, n}, v & 1 ? ORD_T2 : NULL);
			struct infd_tensor *o = out_t(2, (int32_t[]){m, n}, v & 2 ? ORD_T2 : NULL);
			struct infd_evalue *eo = EV(o);
			const double alpha = v & 1 ? 1.5 : 1.0;
			CHECK_OK(OP_CALL("aten::addmm.out", EV(x), EV(a), EV(b), op_ev_double(0.75),
					 op_ev_double(alpha), eo, eo));
			check_close(o, ref_addmm(x, a, b, 0.75, alpha), 1e-5, 2 * tol(k));
		}
}

Test(ops_linalg, addmm_beta_zero_ignores_nan)
{
	struct infd_tensor *x = rnd(2, (int32_t[]){5, 7}, NULL);
	for (uint64_t i = 0; i < x->numel; i++)
		op_set(x, i, i % 2 ? NAN : INFINITY);
	struct infd_tensor *a = rnd(2, (int32_t[]){5, 3}, NULL), *b = rnd(2, (int32_t[]){3, 7}, NULL);
	struct infd_tensor *o = out_t(2, (int32_t[]){5, 7}, NULL);
	struct infd_evalue *eo = EV(o);
	CHECK_OK(OP_CALL("aten::addmm.out", EV(x), EV(a), EV(b), op_ev_int(0), op_ev_double(2.0), eo, eo));
	check_close(o, ref_addmm(x, a, b, 0.0, 2.0), 1e-5, tol(3));
	/* NaN in the bias does propagate when beta != 0 */
	CHECK_OK(OP_CALL("aten::addmm.out", EV(x), EV(a), EV(b), op_ev_int(1), op_ev_int(1), eo, eo));
	cr_assert(isnan(op_get(o, 1)));
	/* alpha == 0: the product is not taken (BLAS semantics), out = beta * self */
	struct infd_tensor *y = rnd(1, (int32_t[]){7}, NULL);
	op_set(a, 0, NAN);
	CHECK_OK(OP_CALL("aten::addmm.out", EV(y), EV(a), EV(b), op_ev_double(3.0), op_ev_int(0), eo, eo));
	for (int64_t i = 0; i < 5; i++)
		for (int64_t j = 0; j < 7; j++)
			cr_assert_float_eq(at2(o, i, j), 3.0 * op_get(y, (uint64_t)j), 1e-6);
}

Test(ops_linalg, addmm_out_is_self)
{
	struct infd_tensor *x = rnd(2, (int32_t[]){9, 10}, NULL);
	struct infd_tensor *a = rnd(2, (int32_t[]){9, 400}, NULL), *b = rnd(2, (int32_t[]){400, 10}, NULL);
	double *want = ref_addmm(x, a, b, 1.0, 1.0);
	struct infd_evalue *ex = EV(x);
	CHECK_OK(OP_CALL("aten::addmm.out", ex, EV(a), EV(b), op_ev_int(1), op_ev_int(1), ex, ex));
	check_close(x, want, 1e-5, tol(400));
}

Test(ops_linalg, addmm_errors)
{
	struct infd_tensor *a = rnd(2, (int32_t[]){3, 4}, NULL), *b = rnd(2, (int32_t[]){4, 5}, NULL);
	struct infd_tensor *o = out_t(2, (int32_t[]){3, 5}, NULL);
	struct infd_evalue *eo = EV(o);
	struct infd_tensor *x = rnd(2, (int32_t[]){2, 5}, NULL);
	CHECK_FAIL(OP_CALL("aten::addmm.out", EV(x), EV(a), EV(b), op_ev_int(1), op_ev_int(1), eo, eo),
		   "cannot be broadcast to [3,5]");
	struct infd_tensor *x3 = rnd(3, (int32_t[]){1, 3, 5}, NULL);
	CHECK_FAIL(OP_CALL("aten::addmm.out", EV(x3), EV(a), EV(b), op_ev_int(1), op_ev_int(1), eo, eo),
		   "cannot be broadcast");
	struct infd_tensor *y = rnd(1, (int32_t[]){5}, NULL);
	CHECK_FAIL(OP_CALL("aten::addmm.out", EV(y), EV(a), EV(a), op_ev_int(1), op_ev_int(1), eo, eo),
		   "cannot be multiplied");
	CHECK_FAIL(OP_CALL("aten::addmm.out", EV(y), EV(a), EV(b), op_ev_string("x"), op_ev_int(1), eo, eo),
		   "beta");
}

/* ---- linear -------------------------------------------------------------------- */

/* out[..., j] = bias[j] + sum_k x[..., k] w[j, k], rows flattened */
static void linear_case(uint32_t rank, const int32_t *xs, int32_t n, bool has_bias,
			const uint8_t *ox, const uint8_t *ow, const uint8_t *oo)
{
	const int32_t k = xs[rank - 1];
	struct infd_tensor *x = rnd(rank, xs, ox), *w = rnd(2, (int32_t[]){n, k}, ow);
	struct infd_tensor *bias = has_bias ? rnd(1, (int32_t[]){n}, NULL) : NULL;
	int32_t os[INFD_MAX_RANK];
	int64_t m = 1;
	for (uint32_t i = 0; i + 1 < rank; i++) {
		os[i] = xs[i];
		m *= xs[i];
	}
	os[rank - 1] = n;
	struct infd_tensor *o = out_t(rank, os, oo);
	struct infd_evalue *eo = EV(o);
	CHECK_OK(OP_CALL("aten::linear.out", EV(x), EV(w), bias ? EV(bias) : op_ev_null(), eo, eo));
	op_check_shape(o, rank, os);
	double *want = op_track(calloc((size_t)(m * n) + 1, sizeof(double)));
	int64_t idx[INFD_MAX_RANK];
	for (int64_t r = 0; r < m; r++)
		for (int64_t j = 0; j < n; j++) {
			unravel((uint64_t)r, rank - 1, xs, idx);
			double s = bias ? op_get(bias, (uint64_t)j) : 0.0;
			for (int64_t y = 0; y < k; y++) {
				idx[rank - 1] = y;
				s += op_get_at(x, idx) * at2(w, j, y);
			}
			want[r * n + j] = s;
		}
	check_close(o, want, 1e-5, tol(k));
}

Test(ops_linalg, linear)
{
	static const uint8_t o102[3] = {1, 0, 2}, o021[3] = {0, 2, 1};
	for (int b = 0; b < 2; b++) {
		linear_case(1, (int32_t[]){17}, 9, b, NULL, NULL, NULL);
		linear_case(2, (int32_t[]){1, 300}, 70, b, NULL, NULL, NULL); /* one row: dot products */
		linear_case(2, (int32_t[]){3, 40}, 5, b, NULL, ORD_T2, NULL); /* weight stored [K, N] */
		linear_case(2, (int32_t[]){25, 33}, 19, b, NULL, NULL, NULL);
		linear_case(2, (int32_t[]){25, 33}, 2, b, NULL, NULL, NULL);
		linear_case(3, (int32_t[]){2, 7, 24}, 31, b, NULL, NULL, NULL);
		linear_case(3, (int32_t[]){4, 5, 12}, 10, b, o102, NULL, NULL); /* rows not flat: copied */
		linear_case(3, (int32_t[]){4, 5, 12}, 10, b, o021, ORD_T2, o102); /* out rows not flat */
		linear_case(3, (int32_t[]){2, 0, 12}, 10, b, NULL, NULL, NULL);
		linear_case(2, (int32_t[]){6, 0}, 10, b, NULL, NULL, NULL); /* K = 0: the bias */
	}
}

Test(ops_linalg, linear_bias_broadcast)
{
	/* a scalar-shaped and a [1] bias broadcast like the bias of addmm */
	struct infd_tensor *x = rnd(2, (int32_t[]){4, 6}, NULL), *w = rnd(2, (int32_t[]){3, 6}, NULL);
	struct infd_tensor *o = out_t(2, (int32_t[]){4, 3}, NULL);
	struct infd_evalue *eo = EV(o);
	for (int v = 0; v < 3; v++) {
		struct infd_tensor *bias = v == 0 ? rnd(0, NULL, NULL) : v == 1 ? rnd(1, (int32_t[]){1}, NULL)
										: rnd(2, (int32_t[]){4, 3}, NULL);
		CHECK_OK(OP_CALL("aten::linear.out", EV(x), EV(w), EV(bias), eo, eo));
		for (int64_t i = 0; i < 4; i++)
			for (int64_t j = 0; j < 3; j++) {
				double s = v == 2 ? at2(bias, i, j) : op_get(bias, 0);
				for (int64_t y = 0; y < 6; y++)
					s += at2(x, i, y) * at2(w, j, y);
				cr_assert_float_eq(at2(o, i, j), s, tol(6));
			}
	}
}

Test(ops_linalg, linear_errors)
{
	struct infd_tensor *x = rnd(2, (int32_t[]){4, 6}, NULL), *w = rnd(2, (int32_t[]){3, 5}, NULL);
	struct infd_tensor *o = out_t(2, (int32_t[]){4, 3}, NULL);
	struct infd_evalue *eo = EV(o);
	CHECK_FAIL(OP_CALL("aten::linear.out", EV(x), EV(w), op_ev_null(), eo, eo), "cannot be multiplied");
	struct infd_tensor *w2 = rnd(2, (int32_t[]){3, 6}, NULL), *b = rnd(1, (int32_t[]){4}, NULL);
	CHECK_FAIL(OP_CALL("aten::linear.out", EV(x), EV(w2), EV(b), eo, eo), "bias float32[4] cannot be added");
	struct infd_tensor *w3 = rnd(3, (int32_t[]){1, 3, 6}, NULL);
	CHECK_FAIL(OP_CALL("aten::linear.out", EV(x), EV(w3), op_ev_null(), eo, eo), "exactly 2");
	struct infd_tensor *bd = op_tensor(F64, SHAPE(3));
	CHECK_FAIL(OP_CALL("aten::linear.out", EV(x), EV(w2), EV(bd), eo, eo), "bias has dtype float64");
}

/* ---- convolution --------------------------------------------------------------- */

struct conv_case {
	int32_t n, cin, h, w; /* h = 0: 1-d */
	int32_t cout, kh, kw;
	int32_t sh, sw, ph, pw, dh, dw, groups;
	bool transposed;
	int32_t oph, opw;
	bool bias;
	const uint8_t *oin, *ow, *oout; /* dim orders (rank 4), or NULL */
};

static double get_nchw(const struct infd_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w)
{
	if (t->rank == 3)
		return op_get_at(t, (const int64_t[]){n, c, w});
	return op_get_at(t, (const int64_t[]){n, c, h, w});
}

/* The convolution through its definition, in double. */
static double *ref_conv(const struct conv_case *c, const struct infd_tensor *x,
			const struct infd_tensor *w, const struct infd_tensor *b, int64_t oh_n,
			int64_t ow_n)
{
	const bool one = c->h == 0;
	const int64_t H = one ? 1 : c->h, KH = one ? 1 : c->kh, sh = one ? 1 : c->sh;
	const int64_t ph = one ? 0 : c->ph, dh = one ? 1 : c->dh;
	const int64_t cig = c->cin / c->groups, cog = c->cout / c->groups;
	double *want = op_track(calloc((size_t)(c->n * c->cout * oh_n * ow_n) + 1, sizeof(double)));
	for (int64_t n = 0; n < c->n; n++)
		for (int64_t co = 0; co < c->cout; co++) {
			const int64_t g = co / cog;
			for (int64_t oh = 0; oh < oh_n; oh++)
				for (int64_t ow = 0; ow < ow_n; ow++) {
					double s = b ? op_get(b, (uint64_t)co) : 0.0;
					for (int64_t t = 0; t < cig * KH * c->kw; t++) {
						const int64_t ci = t / (KH * c->kw), kh = t / c->kw % KH;
						const int64_t kw = t % c->kw;
						int64_t ih, iw;
						double wv;
						if (!c->transposed) {
							ih = oh * sh - ph + kh * dh;
							iw = ow * c->sw - c->pw + kw * c->dw;
							wv = get_nchw(w, co, ci, kh, kw);
						} else {
							/* oh = ih*s - p + kh*d */
							const int64_t th = oh + ph - kh * dh;
							const int64_t tw = ow + c->pw - kw * c->dw;
							if (th % sh || tw % c->sw)
								continue;
							ih = th / sh;
							iw = tw / c->sw;
							wv = get_nchw(w, g * cig + ci, co - g * cog, kh, kw);
						}
						if (ih < 0 || ih >= H || iw < 0 || iw >= c->w)
							continue;
						s += wv * get_nchw(x, n, g * cig + ci, ih, iw);
					}
					want[((n * c->cout + co) * oh_n + oh) * ow_n + ow] = s;
				}
		}
	return want;
}

/* Build the tensors of a case; *out_ev is the out value. */
static struct infd_evalue **conv_args(const struct conv_case *c, struct infd_tensor **xo,
				      struct infd_tensor **wo, struct infd_tensor **bo,
				      struct infd_tensor **oo, int64_t *oh, int64_t *ow)
{
	const bool one = c->h == 0;
	const uint32_t rank = one ? 3 : 4;
	int32_t xs[4] = {c->n, c->cin, c->h, c->w}, ws[4];
	if (!c->transposed) {
		ws[0] = c->cout, ws[1] = c->cin / c->groups;
	} else {
		ws[0] = c->cin, ws[1] = c->cout / c->groups;
	}
	ws[2] = c->kh, ws[3] = c->kw;
	if (one)
		xs[2] = c->w, ws[2] = c->kw;
	const int64_t H = one ? 1 : c->h, KH = one ? 1 : c->kh;
	const int64_t sh = one ? 1 : c->sh, ph = one ? 0 : c->ph, dh = one ? 1 : c->dh;
	if (!c->transposed) {
		*oh = (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1;
		*ow = (c->w + 2 * c->pw - c->dw * (c->kw - 1) - 1) / c->sw + 1;
	} else {
		*oh = one ? 1 : (H - 1) * sh - 2 * ph + dh * (KH - 1) + c->oph + 1;
		*ow = (c->w - 1) * c->sw - 2 * c->pw + c->dw * (c->kw - 1) + c->opw + 1;
	}
	int32_t os[4] = {c->n, c->cout, (int32_t)*oh, (int32_t)*ow};
	if (one)
		os[2] = (int32_t)*ow;
	*xo = rnd(rank, xs, one ? NULL : c->oin);
	*wo = rnd(rank, ws, one ? NULL : c->ow);
	*bo = c->bias ? rnd(1, (int32_t[]){c->cout}, NULL) : NULL;
	*oo = out_t(rank, os, one ? NULL : c->oout);
	struct infd_evalue *eo = EV(*oo);
	struct infd_evalue **args = op_track(calloc(11, sizeof *args));
	struct infd_evalue *a[11] = {
		EV(*xo),
		EV(*wo),
		*bo ? EV(*bo) : op_ev_null(),
		one ? IL(c->sw) : IL(c->sh, c->sw),
		one ? IL(c->pw) : IL(c->ph, c->pw),
		one ? IL(c->dw) : IL(c->dh, c->dw),
		op_ev_bool(c->transposed),
		one ? IL(c->opw) : IL(c->oph, c->opw),
		op_ev_int(c->groups),
		eo,
		eo,
	};
	memcpy(args, a, sizeof a);
	return args;
}

static void conv_check(const struct conv_case *c)
{
	struct infd_tensor *x, *w, *b, *o;
	int64_t oh, ow;
	struct infd_evalue **args = conv_args(c, &x, &w, &b, &o, &oh, &ow);
	CHECK_OK(op_call("aten::convolution.out", args, 11));
	if (c->h == 0)
		op_check_shape(o, SHAPE(c->n, c->cout, (int32_t)ow));
	else
		op_check_shape(o, SHAPE(c->n, c->cout, (int32_t)oh, (int32_t)ow));
	const int64_t k = (int64_t)(c->cin / c->groups) * c->kh * c->kw;
	check_close(o, ref_conv(c, x, w, b, oh, ow), 1e-5, tol(k));
}

/* n, cin, h, w, cout, kh, kw, sh, sw, ph, pw, dh, dw, groups, transposed, oph, opw, bias */
static const struct conv_case conv2d_cases[] = {
	{1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL},
	{2, 5, 9, 7, 6, 3, 2, 2, 1, 0, 1, 1, 1, 1, false, 0, 0, false, NULL, NULL, NULL},
	{1, 4, 11, 10, 7, 3, 3, 1, 2, 2, 1, 2, 2, 1, false, 0, 0, true, NULL, NULL, NULL},  /* dilation */
	{2, 6, 7, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 3, false, 0, 0, true, NULL, NULL, NULL},    /* grouped */
	{1, 8, 10, 9, 16, 1, 1, 1, 1, 0, 0, 1, 1, 2, false, 0, 0, true, NULL, NULL, NULL},  /* grouped pointwise */
	{1, 16, 12, 12, 24, 1, 1, 1, 1, 0, 0, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL}, /* pointwise */
	{1, 16, 12, 12, 24, 1, 1, 2, 2, 0, 0, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL}, /* strided 1x1 */
	{1, 40, 6, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL},   /* K = 360: two blocks */
	{1, 3, 50, 45, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL},  /* > 2048 positions */
	{1, 3, 8, 8, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL},    /* one output channel */
	{2, 5, 5, 5, 3, 5, 5, 1, 1, 0, 0, 1, 1, 1, false, 0, 0, false, NULL, NULL, NULL},   /* one position */
	{1, 2, 4, 4, 3, 3, 3, 1, 1, 3, 2, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL},    /* padding > kernel/2 */
	{1, 6, 9, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, false, 0, 0, true, NULL, NULL, NULL},    /* depthwise */
	{2, 6, 9, 8, 12, 3, 3, 2, 2, 1, 1, 1, 1, 6, false, 0, 0, true, NULL, NULL, NULL},   /* depthwise x2, strided */
	{1, 5, 10, 10, 5, 3, 3, 1, 1, 2, 2, 2, 2, 5, false, 0, 0, false, NULL, NULL, NULL}, /* depthwise dilated */
	{1, 4, 9, 11, 4, 2, 3, 3, 2, 0, 1, 1, 1, 4, false, 0, 0, true, NULL, NULL, NULL},   /* depthwise stride 3/2 */
	{1, 20, 6, 6, 20, 3, 3, 1, 1, 1, 1, 1, 1, 20, false, 0, 0, true, NULL, NULL, NULL}, /* depthwise, C > 16 */
	{1, 1, 7, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL},    /* one input channel */
	{0, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL},    /* empty batch */
};

Test(ops_linalg, conv2d)
{
	for (size_t i = 0; i < sizeof conv2d_cases / sizeof conv2d_cases[0]; i++)
		conv_check(&conv2d_cases[i]);
}

Test(ops_linalg, conv2d_channels_last)
{
	/* every case with channels-last input, out and weight, and the mixed forms */
	for (size_t i = 0; i < sizeof conv2d_cases / sizeof conv2d_cases[0]; i++)
		for (int v = 1; v < 8; v++) {
			struct conv_case c = conv2d_cases[i];
			c.oin = v & 1 ? ORD_CL : NULL;
			c.oout = v & 2 ? ORD_CL : NULL;
			c.ow = v & 4 ? ORD_CL : NULL;
			conv_check(&c);
		}
}

Test(ops_linalg, conv2d_odd_layouts)
{
	/* dim orders whose output positions are not one stride: through a buffer */
	static const uint8_t o0132[4] = {0, 1, 3, 2}, o1023[4] = {1, 0, 2, 3}, o3210[4] = {3, 2, 1, 0};
	const uint8_t *orders[] = {o0132, o1023, o3210};
	for (size_t i = 0; i < 3; i++) {
		struct conv_case c = conv2d_cases[1];
		c.oin = c.oout = c.ow = orders[i];
		conv_check(&c);
		c = conv2d_cases[13];
		c.oin = c.oout = c.ow = orders[i];
		conv_check(&c);
		c = conv2d_cases[5];
		c.oin = c.oout = orders[i];
		conv_check(&c);
	}
}

Test(ops_linalg, conv1d)
{
	static const struct conv_case cases[] = {
		{2, 3, 0, 20, 5, 0, 3, 0, 1, 0, 1, 0, 1, 1, false, 0, 0, true, NULL, NULL, NULL},
		{1, 4, 0, 31, 6, 0, 5, 0, 2, 0, 2, 0, 3, 2, false, 0, 0, false, NULL, NULL, NULL},
		{1, 8, 0, 25, 8, 0, 3, 0, 1, 0, 1, 0, 1, 8, false, 0, 0, true, NULL, NULL, NULL},   /* depthwise */
		{1, 6, 0, 25, 12, 0, 4, 0, 3, 0, 0, 0, 1, 6, false, 0, 0, true, NULL, NULL, NULL},  /* depthwise x2 */
		{2, 16, 0, 40, 8, 0, 1, 0, 1, 0, 0, 0, 1, 1, false, 0, 0, true, NULL, NULL, NULL},  /* pointwise */
		{1, 4, 0, 9, 6, 0, 3, 0, 2, 0, 1, 0, 1, 2, true, 0, 1, true, NULL, NULL, NULL},     /* transposed */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		conv_check(&cases[i]);
}

Test(ops_linalg, conv_transposed)
{
	static const struct conv_case cases[] = {
		{1, 4, 5, 5, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1, true, 0, 0, true, NULL, NULL, NULL},
		{2, 6, 4, 5, 4, 4, 4, 2, 2, 1, 1, 1, 1, 1, true, 0, 0, false, NULL, NULL, NULL},
		/* grouped, output padding */
		{1, 6, 5, 4, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, true, 1, 1, true, NULL, NULL, NULL},
		{1, 3, 6, 6, 2, 3, 2, 2, 3, 0, 2, 2, 1, 1, true, 1, 2, true, NULL, NULL, NULL},   /* dilation */
		{1, 4, 3, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, true, 0, 0, true, NULL, NULL, NULL},   /* depthwise */
		{1, 2, 1, 1, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1, true, 0, 0, true, NULL, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (int v = 0; v < 4; v++) {
			struct conv_case c = cases[i];
			c.oin = v & 1 ? ORD_CL : NULL;
			c.oout = v & 2 ? ORD_CL : NULL;
			c.ow = v == 3 ? ORD_CL : NULL;
			conv_check(&c);
		}
}

Test(ops_linalg, conv_errors)
{
	struct conv_case c = conv2d_cases[0];
	struct infd_tensor *x, *w, *b, *o;
	int64_t oh, ow;
	struct infd_evalue **args = conv_args(&c, &x, &w, &b, &o, &oh, &ow);
	const char *key = "aten::convolution.out";
	struct infd_evalue *saved[11];
	memcpy(saved, args, sizeof saved);
#define WITH(i, v, msg)                                                                    \
	do {                                                                               \
		memcpy(args, saved, sizeof saved);                                         \
		args[i] = (v);                                                             \
		CHECK_FAIL(op_call(key, args, 11), msg);                                   \
	} while (0)
	WITH(3, IL(0, 1), "stride[0] = 0 is out of range");
	WITH(4, IL(-1), "padding[0] = -1");
	WITH(5, IL(1, 1, 1), "dilation must have 1 or 2 items, got 3");
	WITH(3, op_ev_int(1), "stride");
	WITH(8, op_ev_int(0), "groups must be positive");
	WITH(8, op_ev_int(3), "not divisible by groups=3");
	WITH(8, op_ev_int(2), "weight float32[4,3,3,3] with groups=2 expects 6");
	WITH(2, EV(rnd(1, (int32_t[]){5}, NULL)), "bias float32[5] must have shape [4]");
	WITH(1, EV(rnd(4, (int32_t[]){4, 2, 3, 3}, NULL)), "has 3 channels");
	WITH(1, EV(rnd(4, (int32_t[]){4, 3, 11, 3}, NULL)), "larger than the padded input");
	WITH(1, EV(rnd(3, (int32_t[]){4, 3, 3}, NULL)), "must both be 3-D (conv1d) or 4-D (conv2d)");
	WITH(0, EV(op_tensor(F64, SHAPE(1, 3, 8, 8))), "input has dtype float64; only float32");
	WITH(0, EV(rnd(5, (int32_t[]){1, 3, 4, 4, 4}, NULL)), "3-d convolution");
	WITH(6, op_ev_int(0), "transposed");
	/* transposed: output padding must be below the stride or the dilation */
	memcpy(args, saved, sizeof saved);
	args[6] = op_ev_bool(true);
	args[1] = EV(rnd(4, (int32_t[]){3, 4, 3, 3}, NULL));
	args[7] = IL(1, 0);
	CHECK_FAIL(op_call(key, args, 11), "output_padding[0] = 1 must be smaller");
	args[7] = IL(0, 0);
	args[4] = IL(5, 5);
	CHECK_FAIL(op_call(key, args, 11), "empty output size");
	/* out too small */
	memcpy(args, saved, sizeof saved);
	struct infd_evalue *es = EV(op_tensor_cap(F32, SHAPE(1, 4, 2, 2), 16));
	args[9] = args[10] = es;
	CHECK_FAIL(op_call(key, args, 11), "cannot resize out");
#undef WITH
}

Test(ops_linalg, out_shares_memory_with_input)
{
	/* linear and a 3x3 convolution writing over their own input */
	struct infd_tensor *x = rnd(2, (int32_t[]){5, 8}, NULL), *w = rnd(2, (int32_t[]){8, 8}, NULL);
	double want[40];
	for (int64_t i = 0; i < 5; i++)
		for (int64_t j = 0; j < 8; j++) {
			double s = 0;
			for (int64_t y = 0; y < 8; y++)
				s += at2(x, i, y) * at2(w, j, y);
			want[i * 8 + j] = s;
		}
	struct infd_evalue *ex = EV(x);
	CHECK_OK(OP_CALL("aten::linear.out", ex, EV(w), op_ev_null(), ex, ex));
	check_close(x, want, 1e-5, tol(8));

	struct conv_case c = {1, 4, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL};
	struct infd_tensor *cx, *cw, *cb, *co;
	int64_t oh, ow;
	struct infd_evalue **args = conv_args(&c, &cx, &cw, &cb, &co, &oh, &ow);
	double *cwant = ref_conv(&c, cx, cw, cb, oh, ow);
	args[9] = args[10] = args[0];
	CHECK_OK(op_call("aten::convolution.out", args, 11));
	check_close(cx, cwant, 1e-5, tol(36));
}

/* ---- Threads ------------------------------------------------------------------- */

/* Run the same call serially and on a 2-thread pool: the results are identical. */
static void same_with_threads(const char *key, struct infd_evalue **args, uint32_t n,
			      struct infd_tensor *out, pthreadpool_t pool)
{
	CHECK_OK(call_pool(key, args, n, NULL));
	struct infd_tensor *serial = op_tensor_order(F32, out->rank, out->sizes, out->dim_order);
	memcpy(serial->data, out->data, (size_t)out->nbytes);
	memset(out->data, 0, (size_t)out->nbytes);
	CHECK_OK(call_pool(key, args, n, pool));
	check_same(out, serial);
}

Test(ops_linalg, threads_give_the_same_results)
{
	pthreadpool_t pool = pthreadpool_create(2);
	cr_assert_not_null(pool);
	/* large enough GEMMs to be split over the threads */
	static const int32_t shapes[][3] = {{150, 333, 170}, {3, 500, 900}, {700, 20, 2}};
	for (size_t i = 0; i < 3; i++) {
		struct infd_tensor *a = rnd(2, (int32_t[]){shapes[i][0], shapes[i][1]}, NULL);
		struct infd_tensor *b = rnd(2, (int32_t[]){shapes[i][1], shapes[i][2]}, i == 1 ? ORD_T2 : NULL);
		struct infd_tensor *o = out_t(2, (int32_t[]){shapes[i][0], shapes[i][2]}, NULL);
		struct infd_evalue *eo = EV(o);
		same_with_threads("aten::mm.out", (struct infd_evalue *[]){EV(a), EV(b), eo, eo}, 4, o, pool);
		check_close(o, ref_mm(a, b), 1e-5, tol(shapes[i][1]));
	}
	/* many small GEMMs side by side */
	struct infd_tensor *a = rnd(3, (int32_t[]){9, 20, 30}, NULL), *b = rnd(3, (int32_t[]){9, 30, 25}, NULL);
	struct infd_tensor *o = out_t(3, (int32_t[]){9, 20, 25}, NULL);
	struct infd_evalue *eo = EV(o);
	same_with_threads("aten::bmm.out", (struct infd_evalue *[]){EV(a), EV(b), eo, eo}, 4, o, pool);
	/* linear with bias */
	struct infd_tensor *x = rnd(2, (int32_t[]){64, 200}, NULL), *w = rnd(2, (int32_t[]){300, 200}, NULL);
	struct infd_tensor *bias = rnd(1, (int32_t[]){300}, NULL), *lo = out_t(2, (int32_t[]){64, 300}, NULL);
	struct infd_evalue *elo = EV(lo);
	same_with_threads("aten::linear.out", (struct infd_evalue *[]){EV(x), EV(w), EV(bias), elo, elo},
			  5, lo, pool);
	/* convolutions: regular, channels-last, depthwise (both paths), transposed */
	const struct conv_case cases[] = {
		{2, 16, 20, 20, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, true, NULL, NULL, NULL},
		{1, 16, 20, 20, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, false, 0, 0, true, ORD_CL, ORD_CL, ORD_CL},
		{2, 24, 15, 15, 24, 3, 3, 1, 1, 1, 1, 1, 1, 24, false, 0, 0, true, NULL, NULL, NULL},
		{2, 24, 15, 15, 24, 3, 3, 2, 2, 1, 1, 1, 1, 24, false, 0, 0, true, ORD_CL, NULL, ORD_CL},
		{1, 32, 10, 10, 16, 4, 4, 2, 2, 1, 1, 1, 1, 1, true, 0, 0, true, NULL, NULL, NULL},
		{3, 8, 12, 12, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2, false, 0, 0, false, NULL, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct infd_tensor *cx, *cw, *cb, *co;
		int64_t oh, ow;
		struct infd_evalue **args = conv_args(&cases[i], &cx, &cw, &cb, &co, &oh, &ow);
		same_with_threads("aten::convolution.out", args, 11, co, pool);
		const int64_t k = (int64_t)(cases[i].cin / cases[i].groups) * cases[i].kh * cases[i].kw;
		check_close(co, ref_conv(&cases[i], cx, cw, cb, oh, ow), 1e-5, tol(k));
	}
	pthreadpool_destroy(pool);
}
