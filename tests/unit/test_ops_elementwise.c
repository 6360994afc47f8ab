/* Tests of the elementwise kernels (runtime/kernels/elementwise.c, unary.c): every
 * operator against a plain double-precision reference on random inputs of several shapes,
 * broadcasting, empty and rank-0 tensors, non-contiguous layouts, dtypes and
 * promotion, PyTorch's corner cases (NaN, rounding, signs of modulo), and errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opref.h"
#include "runtime/kernels/util.h"

TestSuite(ops_elementwise, .init = op_setup, .fini = op_teardown);

/* ---- Helpers ------------------------------------------------------------------- */

#define EV(t) op_ev_tensor(t)

/* Call a kernel with any number of arguments (bypasses op_call's count check). */
static infd_status call_raw(const char *key, struct infd_evalue **args, uint32_t n)
{
	const struct infd_kernel_def *def = infd__registry_find(op_reg, key);
	cr_assert_not_null(def, "kernel %s is not registered", key);
	struct infd_kernel_ctx ctx = {.err = &op_err, .op_key = key, .n_threads = 1};
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

/* Element of t at a multi-index of a broadcast result shape of rank `rank`. */
static double get_bcast(const struct infd_tensor *t, uint32_t rank, const int64_t *idx)
{
	int64_t ti[INFD_MAX_RANK];
	for (uint32_t d = 0; d < t->rank; d++) {
		int64_t i = idx[d + rank - t->rank];
		ti[d] = t->sizes[d] == 1 ? 0 : i;
	}
	return op_get_at(t, ti);
}

static struct infd_tensor *rnd_tensor(int dtype, uint32_t rank, const int32_t *sizes, double lo,
				      double hi)
{
	struct infd_tensor *t = op_tensor(dtype, rank, sizes);
	for (uint64_t k = 0; k < t->numel; k++) {
		double v = op_rnd_uniform(lo, hi);
		if (!infd__dtype_is_float(dtype))
			v = dtype == B ? (double)(op_rnd() & 1) : floor(v);
		op_set(t, k, v);
	}
	return t;
}

/* Value as it reads back from dtype dt (rounding of float16/float32/...). */
static double as_dtype(double v, int dt)
{
	struct infd_tensor *t = op_tensor(dt, SCALAR_SHAPE);
	op_set(t, 0, v);
	return op_get(t, 0);
}

typedef double (*ref_fn)(const double *x, const double *prm);

/* want[k] = f(inputs at k) over the broadcast shape of the inputs (which the
 * caller gives as rank/sizes); inputs read through their strides. */
static double *ref_nary(uint32_t rank, const int32_t *sizes, struct infd_tensor *const *in,
			uint32_t n_in, ref_fn f, const double *prm)
{
	uint64_t numel = 1;
	for (uint32_t d = 0; d < rank; d++)
		numel *= (uint64_t)sizes[d];
	double *want = op_track(calloc(numel ? numel : 1, sizeof *want));
	int64_t idx[INFD_MAX_RANK];
	for (uint64_t k = 0; k < numel; k++) {
		unravel(k, rank, sizes, idx);
		double x[4];
		for (uint32_t j = 0; j < n_in; j++)
			x[j] = get_bcast(in[j], rank, idx);
		want[k] = f(x, prm);
	}
	return want;
}

/* Compare every element of out (any layout) with want (row-major). */
#define check_all(out, want, rtol, atol) check_all_at(__LINE__, out, want, rtol, atol)
static void check_all_at(int line, const struct infd_tensor *out, const double *want, double rtol,
			 double atol)
{
	int64_t idx[INFD_MAX_RANK];
	for (uint64_t k = 0; k < out->numel; k++) {
		unravel(k, out->rank, out->sizes, idx);
		double g = op_get_at(out, idx), w = want[k];
		if (isnan(w)) {
			cr_assert(isnan(g), "line %d: element %llu: %.9g, expected NaN", line,
				  (unsigned long long)k, g);
			continue;
		}
		if (isinf(w)) {
			cr_assert_eq(g, w, "line %d: element %llu: %.9g, expected %g", line,
				     (unsigned long long)k, g, w);
			continue;
		}
		cr_assert(fabs(g - w) <= atol + rtol * fabs(w), "line %d: element %llu: %.9g, expected %.9g",
			  line, (unsigned long long)k, g, w);
	}
}

/* ---- Unary references -------------------------------------------------------- */

static double r_sigmoid(const double *x, const double *p) { return 1.0 / (1.0 + exp(-x[0])); }
static double r_tanh(const double *x, const double *p) { return tanh(x[0]); }
static double r_exp(const double *x, const double *p) { return exp(x[0]); }
static double r_expm1(const double *x, const double *p) { return expm1(x[0]); }
static double r_log(const double *x, const double *p) { return log(x[0]); }
static double r_log1p(const double *x, const double *p) { return log1p(x[0]); }
static double r_log2(const double *x, const double *p) { return log2(x[0]); }
static double r_log10(const double *x, const double *p) { return log10(x[0]); }
static double r_sqrt(const double *x, const double *p) { return sqrt(x[0]); }
static double r_rsqrt(const double *x, const double *p) { return 1.0 / sqrt(x[0]); }
static double r_recip(const double *x, const double *p) { return 1.0 / x[0]; }
static double r_sin(const double *x, const double *p) { return sin(x[0]); }
static double r_cos(const double *x, const double *p) { return cos(x[0]); }
static double r_tan(const double *x, const double *p) { return tan(x[0]); }
static double r_asin(const double *x, const double *p) { return asin(x[0]); }
static double r_acos(const double *x, const double *p) { return acos(x[0]); }
static double r_atan(const double *x, const double *p) { return atan(x[0]); }
static double r_sinh(const double *x, const double *p) { return sinh(x[0]); }
static double r_cosh(const double *x, const double *p) { return cosh(x[0]); }
static double r_asinh(const double *x, const double *p) { return asinh(x[0]); }
static double r_acosh(const double *x, const double *p) { return acosh(x[0]); }
static double r_atanh(const double *x, const double *p) { return atanh(x[0]); }
static double r_erf(const double *x, const double *p) { return erf(x[0]); }
static double r_silu(const double *x, const double *p) { return x[0] / (1.0 + exp(-x[0])); }
static double r_hardsigmoid(const double *x, const double *p)
{
	return isnan(x[0]) ? NAN : fmin(fmax(x[0] + 3, 0), 6) / 6;
}
static double r_hardswish(const double *x, const double *p) { return x[0] * r_hardsigmoid(x, p); }
static double r_relu(const double *x, const double *p) { return x[0] < 0 ? 0 : x[0]; }
static double r_neg(const double *x, const double *p) { return -x[0]; }
static double r_abs(const double *x, const double *p) { return fabs(x[0]); }
static double r_sign(const double *x, const double *p) { return (x[0] > 0) - (x[0] < 0); }
static double r_floor(const double *x, const double *p) { return floor(x[0]); }
static double r_ceil(const double *x, const double *p) { return ceil(x[0]); }
static double r_round(const double *x, const double *p) { return nearbyint(x[0]); }
static double r_trunc(const double *x, const double *p) { return trunc(x[0]); }
static double r_logical_not(const double *x, const double *p) { return x[0] == 0; }
static double r_isnan(const double *x, const double *p) { return isnan(x[0]); }
static double r_isinf(const double *x, const double *p) { return isinf(x[0]) != 0; }
static double r_gelu(const double *x, const double *p)
{
	return 0.5 * x[0] * (1 + erf(x[0] / sqrt(2.0)));
}
static double r_gelu_tanh(const double *x, const double *p)
{
	double v = x[0];
	return 0.5 * v * (1 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
}
static double r_leaky(const double *x, const double *p) { return x[0] > 0 ? x[0] : x[0] * p[0]; }
static double r_elu(const double *x, const double *p)
{
	/* p: alpha, scale, input_scale */
	return x[0] > 0 ? x[0] * p[1] : (exp(x[0] * p[2]) - 1) * p[0] * p[1];
}

struct unary_case {
	const char *key;
	ref_fn f;
	double lo, hi;
	double rtol, atol;
};

static const struct unary_case float_unary[] = {
	{"aten::sigmoid.out", r_sigmoid, -30, 30, 1e-6, 1e-7},
	{"aten::tanh.out", r_tanh, -12, 12, 1e-6, 1e-7},
	{"aten::exp.out", r_exp, -90, 89, 1e-6, 1e-37},
	{"aten::expm1.out", r_expm1, -5, 5, 1e-6, 1e-7},
	{"aten::log.out", r_log, 0.001, 1000, 1e-6, 1e-7},
	{"aten::log1p.out", r_log1p, -0.9, 100, 1e-6, 1e-7},
	{"aten::log2.out", r_log2, 0.001, 1000, 1e-6, 1e-7},
	{"aten::log10.out", r_log10, 0.001, 1000, 1e-6, 1e-7},
	{"aten::sqrt.out", r_sqrt, 0, 1000, 1e-6, 0},
	{"aten::rsqrt.out", r_rsqrt, 0.001, 1000, 1e-6, 0},
	{"aten::reciprocal.out", r_recip, -10, 10, 1e-6, 0},
	{"aten::sin.out", r_sin, -10, 10, 1e-6, 1e-7},
	{"aten::cos.out", r_cos, -10, 10, 1e-6, 1e-7},
	{"aten::tan.out", r_tan, -1.5, 1.5, 1e-6, 1e-7},
	{"aten::asin.out", r_asin, -1, 1, 1e-6, 1e-7},
	{"aten::acos.out", r_acos, -1, 1, 1e-6, 1e-7},
	{"aten::atan.out", r_atan, -10, 10, 1e-6, 1e-7},
	{"aten::sinh.out", r_sinh, -10, 10, 1e-6, 1e-7},
	{"aten::cosh.out", r_cosh, -10, 10, 1e-6, 1e-7},
	{"aten::asinh.out", r_asinh, -10, 10, 1e-6, 1e-7},
	{"aten::acosh.out", r_acosh, 1, 10, 1e-6, 1e-7},
	{"aten::atanh.out", r_atanh, -0.99, 0.99, 1e-6, 1e-7},
	{"aten::erf.out", r_erf, -4, 4, 1e-6, 1e-7},
	{"aten::silu.out", r_silu, -30, 30, 1e-6, 1e-7},
	{"aten::hardsigmoid.out", r_hardsigmoid, -5, 5, 1e-6, 1e-7},
	{"aten::hardswish.out", r_hardswish, -5, 5, 1e-6, 1e-7},
	{"aten::relu.out", r_relu, -5, 5, 0, 0},
	{"aten::neg.out", r_neg, -5, 5, 0, 0},
	{"aten::abs.out", r_abs, -5, 5, 0, 0},
	{"aten::sign.out", r_sign, -5, 5, 0, 0},
	{"aten::floor.out", r_floor, -50, 50, 0, 0},
	{"aten::ceil.out", r_ceil, -50, 50, 0, 0},
	{"aten::round.out", r_round, -50, 50, 0, 0},
	{"aten::trunc.out", r_trunc, -50, 50, 0, 0},
};

static const int32_t shapes_r[] = {0, 1, 1, 3, 1};
static const int32_t shapes_s[][3] = {{1, 1, 1}, {7, 1, 1}, {1000, 1, 1}, {3, 5, 17}, {2, 0, 3}};

static void run_unary(const struct unary_case *c, int idt, int odt, double rtol)
{
	for (size_t s = 0; s < sizeof shapes_r / sizeof shapes_r[0]; s++) {
		uint32_t r = (uint32_t)shapes_r[s];
		struct infd_tensor *x = rnd_tensor(idt, r, shapes_s[s], c->lo, c->hi);
		struct infd_tensor *out = op_tensor(odt, r, shapes_s[s]);
		CHECK_OK(OP_CALL(c->key, EV(x), EV(out), EV(out)));
		op_check_shape(out, r, shapes_s[s]);
		double *want = ref_nary(r, shapes_s[s], &x, 1, c->f, NULL);
		for (uint64_t k = 0; k < out->numel; k++)
			want[k] = as_dtype(want[k], odt);
		check_all(out, want, rtol, c->atol);
	}
}

Test(ops_elementwise, unary_float32_and_float64)
{
	for (size_t i = 0; i < sizeof float_unary / sizeof float_unary[0]; i++) {
		run_unary(&float_unary[i], F32, F32, float_unary[i].rtol);
		run_unary(&float_unary[i], F64, F64, 1e-12);
	}
}

Test(ops_elementwise, unary_half_types)
{
	/* float16/bfloat16 compute in float32 and round once into the out dtype */
	for (size_t i = 0; i < sizeof float_unary / sizeof float_unary[0]; i++) {
		struct unary_case c = float_unary[i];
		if (c.hi > 10)
			c.hi = 10; /* stay inside float16's range */
		if (c.lo < -10)
			c.lo = -10;
		c.atol = 1e-3;
		run_unary(&c, F16, F16, 2e-3);
		run_unary(&c, BF16, BF16, 1.6e-2);
		run_unary(&c, F16, F32, 2e-3);
	}
}

Test(ops_elementwise, float_math_on_integers_gives_float32)
{
	const struct unary_case cases[] = {
		{"aten::exp.out", r_exp, -5, 5, 1e-6, 0},
		{"aten::sqrt.out", r_sqrt, 0, 100, 1e-6, 0},
		{"aten::sigmoid.out", r_sigmoid, -10, 10, 1e-6, 1e-7},
		{"aten::reciprocal.out", r_recip, 1, 100, 1e-6, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		run_unary(&cases[i], I32, F32, 1e-6);
		run_unary(&cases[i], U8, F32, 1e-6);
		run_unary(&cases[i], I64, F64, 1e-6); /* float32 result stored in float64 */
	}
	struct infd_tensor *b = op_tensor(B, SHAPE(2));
	op_set(b, 1, 1);
	struct infd_tensor *o = op_tensor(F32, SHAPE(2));
	CHECK_OK(OP_CALL("aten::exp.out", EV(b), EV(o), EV(o)));
	op_check_close(o, (double[]){1, (float)M_E}, 1e-7, 0);
	/* a float result cannot go into an integer out */
	struct infd_tensor *i = op_tensor(I32, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::exp.out", EV(b), EV(i), EV(i)), "cannot be stored");
}

Test(ops_elementwise, integer_unary_ops)
{
	const struct unary_case cases[] = {
		{"aten::relu.out", r_relu, -100, 100, 0, 0},
		{"aten::neg.out", r_neg, -100, 100, 0, 0},
		{"aten::abs.out", r_abs, -100, 100, 0, 0},
		{"aten::sign.out", r_sign, -100, 100, 0, 0},
		{"aten::floor.out", r_floor, -100, 100, 0, 0},
		{"aten::ceil.out", r_ceil, -100, 100, 0, 0},
		{"aten::round.out", r_round, -100, 100, 0, 0},
		{"aten::trunc.out", r_trunc, -100, 100, 0, 0},
	};
	const int dts[] = {I8, I16, I32, I64};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (size_t d = 0; d < 4; d++)
			run_unary(&cases[i], dts[d], dts[d], 0);
	/* wrap-around like PyTorch: neg/abs of the minimum stay the minimum */
	struct infd_tensor *x = op_tensor(I8, SHAPE(3)), *o = op_tensor(I8, SHAPE(3));
	op_set(x, 0, -128);
	op_set(x, 1, 127);
	op_set(x, 2, -5);
	CHECK_OK(OP_CALL("aten::neg.out", EV(x), EV(o), EV(o)));
	op_check_close(o, (double[]){-128, -127, 5}, 0, 0);
	CHECK_OK(OP_CALL("aten::abs.out", EV(x), EV(o), EV(o)));
	op_check_close(o, (double[]){-128, 127, 5}, 0, 0);
	/* uint8: relu/abs are identity, neg wraps, sign is 0/1 */
	struct infd_tensor *u = op_tensor(U8, SHAPE(3)), *uo = op_tensor(U8, SHAPE(3));
	op_set(u, 0, 0);
	op_set(u, 1, 1);
	op_set(u, 2, 200);
	CHECK_OK(OP_CALL("aten::neg.out", EV(u), EV(uo), EV(uo)));
	op_check_close(uo, (double[]){0, 255, 56}, 0, 0);
	CHECK_OK(OP_CALL("aten::sign.out", EV(u), EV(uo), EV(uo)));
	op_check_close(uo, (double[]){0, 1, 1}, 0, 0);
	CHECK_OK(OP_CALL("aten::relu.out", EV(u), EV(uo), EV(uo)));
	op_check_close(uo, (double[]){0, 1, 200}, 0, 0);
	/* an int32 relu stored into a float32 out */
	struct infd_tensor *xi = op_tensor(I32, SHAPE(2)), *of = op_tensor(F32, SHAPE(2));
	op_set(xi, 0, -3);
	op_set(xi, 1, 9);
	CHECK_OK(OP_CALL("aten::relu.out", EV(xi), EV(of), EV(of)));
	op_check_close(of, (double[]){0, 9}, 0, 0);
	/* sign of a bool is itself */
	struct infd_tensor *bb = op_tensor(B, SHAPE(2)), *bo = op_tensor(B, SHAPE(2));
	op_set(bb, 1, 1);
	CHECK_OK(OP_CALL("aten::sign.out", EV(bb), EV(bo), EV(bo)));
	op_check_close(bo, (double[]){0, 1}, 0, 0);
}

Test(ops_elementwise, unary_special_values)
{
	const double in[] = {NAN, INFINITY, -INFINITY, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e30, -1e30,
			     8388609.0, -8388609.5, 0.49999997};
	enum { N = sizeof in / sizeof in[0] };
	struct infd_tensor *x = op_tensor(F32, SHAPE(N)), *o = op_tensor(F32, SHAPE(N));
	for (int k = 0; k < N; k++)
		op_set(x, (uint64_t)k, in[k]);
	const struct {
		const char *key;
		ref_fn f;
	} cases[] = {
		{"aten::relu.out", r_relu},   {"aten::floor.out", r_floor}, {"aten::ceil.out", r_ceil},
		{"aten::round.out", r_round}, {"aten::trunc.out", r_trunc}, {"aten::abs.out", r_abs},
		{"aten::neg.out", r_neg},     {"aten::exp.out", r_exp},     {"aten::sigmoid.out", r_sigmoid},
		{"aten::tanh.out", r_tanh},   {"aten::silu.out", r_silu},   {"aten::hardswish.out", r_hardswish},
		{"aten::hardsigmoid.out", r_hardsigmoid},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_OK(OP_CALL(cases[i].key, EV(x), EV(o), EV(o)));
		double want[N];
		for (int k = 0; k < N; k++)
			want[k] = as_dtype(cases[i].f(&(double){op_get(x, (uint64_t)k)}, NULL), F32);
		for (int k = 0; k < N; k++) {
			double g = op_get(o, (uint64_t)k);
			if (isnan(want[k]))
				cr_assert(isnan(g), "%s(%g) = %g, expected NaN", cases[i].key, in[k], g);
			else
				cr_assert(g == want[k] || fabs(g - want[k]) <= 1e-6 * fabs(want[k]),
					  "%s(%g) = %.9g, expected %.9g", cases[i].key, in[k], g, want[k]);
		}
	}
	/* sign: NaN gives 0 as in ATen ((0 < x) - (x < 0)) */
	CHECK_OK(OP_CALL("aten::sign.out", EV(x), EV(o), EV(o)));
	cr_assert_eq(op_get(o, 0), 0);
	cr_assert_eq(op_get(o, 1), 1);
	cr_assert_eq(op_get(o, 2), -1);
	/* round is half to even, floor(-0.5) = -1, ceil(-0.5) = -0 */
	struct infd_tensor *y = op_tensor(F32, SHAPE(4)), *yo = op_tensor(F32, SHAPE(4));
	op_set(y, 0, 0.5);
	op_set(y, 1, 1.5);
	op_set(y, 2, -2.5);
	op_set(y, 3, -0.5);
	CHECK_OK(OP_CALL("aten::round.out", EV(y), EV(yo), EV(yo)));
	op_check_close(yo, (double[]){0, 2, -2, -0.0}, 0, 0);
	cr_assert(signbit(op_get(yo, 3)), "round(-0.5) is -0");
	CHECK_OK(OP_CALL("aten::ceil.out", EV(y), EV(yo), EV(yo)));
	cr_assert(signbit(op_get(yo, 3)) && op_get(yo, 3) == 0, "ceil(-0.5) is -0");
}

Test(ops_elementwise, exp_accuracy_sweep)
{
	/* the vectorized exp/tanh/sigmoid stay within a few ulp over their whole range */
	enum { N = 20001 };
	struct infd_tensor *x = op_tensor(F32, SHAPE(N)), *o = op_tensor(F32, SHAPE(N));
	for (int k = 0; k < N; k++)
		op_set(x, (uint64_t)k, -100.0 + 190.0 * k / (N - 1));
	CHECK_OK(OP_CALL("aten::exp.out", EV(x), EV(o), EV(o)));
	for (int k = 0; k < N; k++) {
		double want = exp(op_get(x, (uint64_t)k)), g = op_get(o, (uint64_t)k);
		if (want > 3.4028234663852886e38)
			cr_assert(isinf(g));
		else if (want < 1.1754943508222875e-38)
			cr_assert(fabs(g - want) <= 1.5e-45 * 2, "exp(%g) = %g", op_get(x, (uint64_t)k), g);
		else
			cr_assert(fabs(g - want) <= 2.5e-7 * want, "exp(%g) = %.9g, want %.9g",
				  op_get(x, (uint64_t)k), g, want);
	}
	for (int k = 0; k < N; k++)
		op_set(x, (uint64_t)k, -10.0 + 19.0 * k / (N - 1));
	CHECK_OK(OP_CALL("aten::tanh.out", EV(x), EV(o), EV(o)));
	for (int k = 0; k < N; k++) {
		double v = op_get(x, (uint64_t)k), want = tanh(v), g = op_get(o, (uint64_t)k);
		cr_assert(fabs(g - want) <= 4e-7 * fabs(want) + 1e-30, "tanh(%g) = %.9g, want %.9g", v, g,
			  want);
	}
}

Test(ops_elementwise, unary_layouts_and_in_place)
{
	/* channels-last input, contiguous out, and the reverse */
	const int32_t sz[] = {2, 3, 4, 5};
	const uint8_t cl[] = {0, 2, 3, 1};
	struct infd_tensor *x = op_tensor_order(F32, 4, sz, cl);
	op_fill_random(x, 4);
	struct infd_tensor *o = op_tensor(F32, 4, sz);
	CHECK_OK(OP_CALL("aten::sigmoid.out", EV(x), EV(o), EV(o)));
	double *want = ref_nary(4, sz, &x, 1, r_sigmoid, NULL);
	check_all(o, want, 1e-6, 1e-7);
	struct infd_tensor *o2 = op_tensor_order(F32, 4, sz, cl);
	struct infd_tensor *xc = op_tensor(F32, 4, sz);
	op_fill_random(xc, 4);
	CHECK_OK(OP_CALL("aten::relu.out", EV(xc), EV(o2), EV(o2)));
	check_all(o2, ref_nary(4, sz, &xc, 1, r_relu, NULL), 0, 0);
	/* both channels-last: same memory order, one flat loop */
	struct infd_tensor *o3 = op_tensor_order(F32, 4, sz, cl);
	CHECK_OK(OP_CALL("aten::tanh.out", EV(x), EV(o3), EV(o3)));
	check_all(o3, ref_nary(4, sz, &x, 1, r_tanh, NULL), 1e-6, 1e-7);
	/* int32 channels-last into float32 contiguous (converted in blocks) */
	struct infd_tensor *xi = op_tensor_order(I32, 4, sz, cl);
	op_fill_random(xi, 0);
	CHECK_OK(OP_CALL("aten::exp.out", EV(xi), EV(o), EV(o)));
	double *wi = ref_nary(4, sz, &xi, 1, r_exp, NULL);
	for (uint64_t k = 0; k < o->numel; k++)
		wi[k] = as_dtype(wi[k], F32); /* overflow to inf */
	check_all(o, wi, 1e-6, 3e-45 /* float denormals */);
	/* in place: out is self */
	struct infd_tensor *y = rnd_tensor(F32, SHAPE(300), -3, 3);
	double *wy = ref_nary(SHAPE(300), &y, 1, r_hardswish, NULL);
	CHECK_OK(OP_CALL("aten::hardswish.out", EV(y), EV(y), EV(y)));
	check_all(y, wy, 1e-6, 1e-7);
	/* out sharing memory with an input of another layout is refused */
	struct infd_tensor *alias = op_tensor_order(F32, 4, sz, cl);
	alias->data = xc->data;
	CHECK_FAIL(OP_CALL("aten::relu.out", EV(xc), EV(alias), EV(alias)), "shares memory");
}

Test(ops_elementwise, predicates)
{
	const double in[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1.5, -3};
	struct infd_tensor *x = op_tensor(F32, SHAPE(7)), *o = op_tensor(B, SHAPE(7));
	for (int k = 0; k < 7; k++)
		op_set(x, (uint64_t)k, in[k]);
	CHECK_OK(OP_CALL("aten::isnan.out", EV(x), EV(o), EV(o)));
	op_check_close(o, (double[]){1, 0, 0, 0, 0, 0, 0}, 0, 0);
	CHECK_OK(OP_CALL("aten::isinf.out", EV(x), EV(o), EV(o)));
	op_check_close(o, (double[]){0, 1, 1, 0, 0, 0, 0}, 0, 0);
	CHECK_OK(OP_CALL("aten::logical_not.out", EV(x), EV(o), EV(o)));
	op_check_close(o, (double[]){0, 0, 0, 1, 1, 0, 0}, 0, 0);
	/* logical_not into a float out, and on integers */
	struct infd_tensor *of = op_tensor(F32, SHAPE(7));
	CHECK_OK(OP_CALL("aten::logical_not.out", EV(x), EV(of), EV(of)));
	op_check_close(of, (double[]){0, 0, 0, 1, 1, 0, 0}, 0, 0);
	const struct unary_case c[] = {
		{"aten::logical_not.out", r_logical_not, -2, 3, 0, 0},
		{"aten::isnan.out", r_isnan, -2, 3, 0, 0},
		{"aten::isinf.out", r_isinf, -2, 3, 0, 0},
	};
	const int dts[] = {B, U8, I8, I16, I32, I64, F16, F64};
	for (size_t i = 0; i < 3; i++)
		for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++)
			run_unary(&c[i], dts[d], B, 0);
	/* isnan of a float16 NaN */
	struct infd_tensor *h = op_tensor(F16, SHAPE(2)), *ho = op_tensor(B, SHAPE(2));
	op_set(h, 0, NAN);
	CHECK_OK(OP_CALL("aten::isnan.out", EV(h), EV(ho), EV(ho)));
	op_check_close(ho, (double[]){1, 0}, 0, 0);
}

Test(ops_elementwise, bitwise_not)
{
	struct infd_tensor *x = op_tensor(I32, SHAPE(3)), *o = op_tensor(I32, SHAPE(3));
	op_set(x, 0, 0);
	op_set(x, 1, 5);
	op_set(x, 2, -1);
	CHECK_OK(OP_CALL("aten::bitwise_not.out", EV(x), EV(o), EV(o)));
	op_check_close(o, (double[]){-1, -6, 0}, 0, 0);
	struct infd_tensor *u = op_tensor(U8, SHAPE(2)), *uo = op_tensor(U8, SHAPE(2));
	op_set(u, 0, 0);
	op_set(u, 1, 0x0f);
	CHECK_OK(OP_CALL("aten::bitwise_not.out", EV(u), EV(uo), EV(uo)));
	op_check_close(uo, (double[]){255, 0xf0}, 0, 0);
	struct infd_tensor *b = op_tensor(B, SHAPE(2)), *bo = op_tensor(B, SHAPE(2));
	op_set(b, 1, 1);
	CHECK_OK(OP_CALL("aten::bitwise_not.out", EV(b), EV(bo), EV(bo)));
	op_check_close(bo, (double[]){1, 0}, 0, 0);
	struct infd_tensor *f = op_tensor(F32, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::bitwise_not.out", EV(f), EV(f), EV(f)), "integer or bool");
}

/* ---- Activations with parameters ------------------------------------------------ */

Test(ops_elementwise, gelu_both_modes)
{
	for (size_t s = 0; s < sizeof shapes_r / sizeof shapes_r[0]; s++) {
		uint32_t r = (uint32_t)shapes_r[s];
		struct infd_tensor *x = rnd_tensor(F32, r, shapes_s[s], -8, 8);
		struct infd_tensor *o = op_tensor(F32, r, shapes_s[s]);
		CHECK_OK(OP_CALL("aten::gelu.out", EV(x), op_ev_string("none"), EV(o), EV(o)));
		/* ATen's vectorized erf is accurate to 1.5e-7 absolute */
		check_all(o, ref_nary(r, shapes_s[s], &x, 1, r_gelu, NULL), 1e-6, 3e-6);
		CHECK_OK(OP_CALL("aten::gelu.out", EV(x), op_ev_string("tanh"), EV(o), EV(o)));
		check_all(o, ref_nary(r, shapes_s[s], &x, 1, r_gelu_tanh, NULL), 2e-6, 1e-6);
		struct infd_tensor *xd = rnd_tensor(F64, r, shapes_s[s], -8, 8);
		struct infd_tensor *od = op_tensor(F64, r, shapes_s[s]);
		CHECK_OK(OP_CALL("aten::gelu.out", EV(xd), op_ev_string("none"), EV(od), EV(od)));
		check_all(od, ref_nary(r, shapes_s[s], &xd, 1, r_gelu, NULL), 1e-12, 1e-14);
	}
	struct infd_tensor *h = rnd_tensor(F16, SHAPE(50), -4, 4), *ho = op_tensor(F16, SHAPE(50));
	CHECK_OK(OP_CALL("aten::gelu.out", EV(h), op_ev_string("tanh"), EV(ho), EV(ho)));
	check_all(ho, ref_nary(SHAPE(50), &h, 1, r_gelu_tanh, NULL), 2e-3, 1e-3);
	struct infd_tensor *x = op_tensor(F32, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::gelu.out", EV(x), op_ev_string("erf"), EV(x), EV(x)), "approximate");
	CHECK_FAIL(OP_CALL("aten::gelu.out", EV(x), op_ev_int(0), EV(x), EV(x)), "string");
	struct infd_tensor *xi = op_tensor(I32, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::gelu.out", EV(xi), op_ev_string("none"), EV(x), EV(x)),
		   "floating-point");
}

Test(ops_elementwise, leaky_relu_and_elu)
{
	for (size_t s = 0; s < sizeof shapes_r / sizeof shapes_r[0]; s++) {
		uint32_t r = (uint32_t)shapes_r[s];
		const int32_t *sz = shapes_s[s];
		struct infd_tensor *x = rnd_tensor(F32, r, sz, -5, 5), *o = op_tensor(F32, r, sz);
		double slope[] = {0.01};
		CHECK_OK(OP_CALL("aten::leaky_relu.out", EV(x), op_ev_double(0.01), EV(o), EV(o)));
		check_all(o, ref_nary(r, sz, &x, 1, r_leaky, slope), 1e-6, 0);
		double ep[] = {1.5, 2.0, 0.5};
		CHECK_OK(OP_CALL("aten::elu.out", EV(x), op_ev_double(1.5), op_ev_int(2), op_ev_double(0.5),
				 EV(o), EV(o)));
		check_all(o, ref_nary(r, sz, &x, 1, r_elu, ep), 1e-6, 1e-7);
	}
	struct infd_tensor *x = op_tensor(F64, SHAPE(3)), *o = op_tensor(F64, SHAPE(3));
	op_set(x, 0, -2);
	op_set(x, 1, NAN);
	op_set(x, 2, 3);
	CHECK_OK(OP_CALL("aten::leaky_relu.out", EV(x), op_ev_double(0.2), EV(o), EV(o)));
	cr_assert_float_eq(op_get(o, 0), -0.4, 1e-15);
	cr_assert(isnan(op_get(o, 1)));
	cr_assert_eq(op_get(o, 2), 3);
	CHECK_OK(OP_CALL("aten::elu.out", EV(x), op_ev_int(1), op_ev_int(1), op_ev_int(1), EV(o), EV(o)));
	cr_assert_float_eq(op_get(o, 0), expm1(-2.0), 1e-15);
	struct infd_tensor *xi = op_tensor(I32, SHAPE(3));
	CHECK_FAIL(OP_CALL("aten::leaky_relu.out", EV(xi), op_ev_double(0.1), EV(o), EV(o)),
		   "floating-point");
	CHECK_FAIL(OP_CALL("aten::elu.out", EV(x), op_ev_string("a"), op_ev_int(1), op_ev_int(1), EV(o),
			   EV(o)),
		   "alpha");
}

/* ---- clamp / hardtanh ------------------------------------------------------------ */

static double r_clamp(const double *x, const double *p)
{
	/* p: has_lo, lo, has_hi, hi */
	double v = x[0];
	if (isnan(v))
		return v;
	if (p[0] != 0 && v < p[1])
		v = p[1];
	if (p[2] != 0 && v > p[3])
		v = p[3];
	return v;
}

Test(ops_elementwise, clamp_scalar)
{
	for (size_t s = 0; s < sizeof shapes_r / sizeof shapes_r[0]; s++) {
		uint32_t r = (uint32_t)shapes_r[s];
		const int32_t *sz = shapes_s[s];
		struct infd_tensor *x = rnd_tensor(F32, r, sz, -10, 10), *o = op_tensor(F32, r, sz);
		CHECK_OK(OP_CALL("aten::clamp.out", EV(x), op_ev_double(-2.5), op_ev_int(4), EV(o), EV(o)));
		check_all(o, ref_nary(r, sz, &x, 1, r_clamp, (double[]){1, -2.5, 1, 4}), 0, 0);
		CHECK_OK(OP_CALL("aten::clamp.out", EV(x), op_ev_null(), op_ev_int(1), EV(o), EV(o)));
		check_all(o, ref_nary(r, sz, &x, 1, r_clamp, (double[]){0, 0, 1, 1}), 0, 0);
		CHECK_OK(OP_CALL("aten::clamp.out", EV(x), op_ev_double(0.5), op_ev_null(), EV(o), EV(o)));
		check_all(o, ref_nary(r, sz, &x, 1, r_clamp, (double[]){1, 0.5, 0, 0}), 0, 0);
		/* min > max gives max everywhere */
		CHECK_OK(OP_CALL("aten::clamp.out", EV(x), op_ev_int(3), op_ev_int(1), EV(o), EV(o)));
		check_all(o, ref_nary(r, sz, &x, 1, r_clamp, (double[]){1, 3, 1, 1}), 0, 0);
		/* integers, and an int tensor with a float bound promotes to float32 */
		struct infd_tensor *xi = rnd_tensor(I64, r, sz, -100, 100), *oi = op_tensor(I64, r, sz);
		CHECK_OK(OP_CALL("aten::clamp.out", EV(xi), op_ev_int(-7), op_ev_int(30), EV(oi), EV(oi)));
		check_all(oi, ref_nary(r, sz, &xi, 1, r_clamp, (double[]){1, -7, 1, 30}), 0, 0);
		CHECK_OK(OP_CALL("aten::clamp.out", EV(xi), op_ev_double(-7.5), op_ev_null(), EV(o), EV(o)));
		check_all(o, ref_nary(r, sz, &xi, 1, r_clamp, (double[]){1, -7.5, 0, 0}), 0, 0);
		CHECK_FAIL(OP_CALL("aten::clamp.out", EV(xi), op_ev_double(-7.5), op_ev_null(), EV(oi),
				   EV(oi)),
			   "cannot be stored");
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(3)), *o = op_tensor(F32, SHAPE(3));
	op_set(x, 0, NAN);
	op_set(x, 1, -100);
	op_set(x, 2, 100);
	CHECK_OK(OP_CALL("aten::clamp.out", EV(x), op_ev_int(0), op_ev_int(6), EV(o), EV(o)));
	cr_assert(isnan(op_get(o, 0)), "NaN propagates through clamp");
	cr_assert_eq(op_get(o, 1), 0);
	cr_assert_eq(op_get(o, 2), 6);
	CHECK_FAIL(OP_CALL("aten::clamp.out", EV(x), op_ev_null(), op_ev_null(), EV(o), EV(o)),
		   "at least one");
	struct infd_tensor *b = op_tensor(B, SHAPE(3));
	CHECK_FAIL(OP_CALL("aten::clamp.out", EV(b), op_ev_int(0), op_ev_null(), EV(b), EV(b)), "bool");
	CHECK_FAIL(OP_CALL("aten::clamp.out", EV(x), op_ev_string("x"), op_ev_null(), EV(o), EV(o)),
		   "min");
}

static double r_clamp_t(const double *x, const double *p)
{
	double v = x[0];
	if (isnan(v) || isnan(x[1]) || isnan(x[2]))
		return NAN;
	return fmin(fmax(v, x[1]), x[2]);
}
static double r_max(const double *x, const double *p)
{
	return isnan(x[0]) || isnan(x[1]) ? NAN : fmax(x[0], x[1]);
}
static double r_min(const double *x, const double *p)
{
	return isnan(x[0]) || isnan(x[1]) ? NAN : fmin(x[0], x[1]);
}

Test(ops_elementwise, clamp_tensor)
{
	const int32_t sx[] = {3, 4, 5}, slo[] = {4, 1}, shi[] = {3, 1, 5};
	struct infd_tensor *x = rnd_tensor(F32, SHAPE(3, 4, 5), -10, 10);
	struct infd_tensor *lo = rnd_tensor(F32, 2, slo, -5, 0);
	struct infd_tensor *hi = rnd_tensor(I32, 3, shi, 0, 6);
	struct infd_tensor *o = op_tensor(F32, 3, sx);
	CHECK_OK(OP_CALL("aten::clamp.Tensor_out", EV(x), EV(lo), EV(hi), EV(o), EV(o)));
	struct infd_tensor *in[] = {x, lo, hi};
	check_all(o, ref_nary(3, sx, in, 3, r_clamp_t, NULL), 0, 0);
	CHECK_OK(OP_CALL("aten::clamp.Tensor_out", EV(x), EV(lo), op_ev_null(), EV(o), EV(o)));
	check_all(o, ref_nary(3, sx, in, 2, r_max, NULL), 0, 0);
	struct infd_tensor *in2[] = {x, hi};
	CHECK_OK(OP_CALL("aten::clamp.Tensor_out", EV(x), op_ev_null(), EV(hi), EV(o), EV(o)));
	check_all(o, ref_nary(3, sx, in2, 2, r_min, NULL), 0, 0);
	CHECK_FAIL(OP_CALL("aten::clamp.Tensor_out", EV(x), op_ev_null(), op_ev_null(), EV(o), EV(o)),
		   "at least one");
	struct infd_tensor *bad = op_tensor(F32, SHAPE(7));
	CHECK_FAIL(OP_CALL("aten::clamp.Tensor_out", EV(x), EV(bad), op_ev_null(), EV(o), EV(o)),
		   "broadcast");
	/* integer clamp with scalar-shaped bounds */
	struct infd_tensor *xi = rnd_tensor(I16, SHAPE(40), -100, 100), *oi = op_tensor(I16, SHAPE(40));
	struct infd_tensor *l0 = op_tensor(I16, SCALAR_SHAPE), *h0 = op_tensor(I16, SCALAR_SHAPE);
	op_set(l0, 0, -20);
	op_set(h0, 0, 50);
	CHECK_OK(OP_CALL("aten::clamp.Tensor_out", EV(xi), EV(l0), EV(h0), EV(oi), EV(oi)));
	check_all(oi, ref_nary(SHAPE(40), &xi, 1, r_clamp, (double[]){1, -20, 1, 50}), 0, 0);
}

Test(ops_elementwise, hardtanh)
{
	for (size_t s = 0; s < sizeof shapes_r / sizeof shapes_r[0]; s++) {
		uint32_t r = (uint32_t)shapes_r[s];
		const int32_t *sz = shapes_s[s];
		struct infd_tensor *x = rnd_tensor(F32, r, sz, -10, 10), *o = op_tensor(F32, r, sz);
		CHECK_OK(OP_CALL("aten::hardtanh.out", EV(x), op_ev_double(0.0), op_ev_double(6.0), EV(o),
				 EV(o)));
		check_all(o, ref_nary(r, sz, &x, 1, r_clamp, (double[]){1, 0, 1, 6}), 0, 0);
		/* integers take truncated bounds and keep their dtype */
		struct infd_tensor *xi = rnd_tensor(I32, r, sz, -10, 10), *oi = op_tensor(I32, r, sz);
		CHECK_OK(OP_CALL("aten::hardtanh.out", EV(xi), op_ev_double(-1.7), op_ev_double(2.9),
				 EV(oi), EV(oi)));
		check_all(oi, ref_nary(r, sz, &xi, 1, r_clamp, (double[]){1, -1, 1, 2}), 0, 0);
	}
	struct infd_tensor *u = op_tensor(U8, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::hardtanh.out", EV(u), op_ev_int(-1), op_ev_int(1), EV(u), EV(u)),
		   "unsigned");
	struct infd_tensor *b = op_tensor(B, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::hardtanh.out", EV(b), op_ev_int(0), op_ev_int(1), EV(b), EV(b)), "bool");
}

/* ---- pow ----------------------------------------------------------------------------- */

static double r_pow(const double *x, const double *p) { return pow(x[0], x[1]); }
static double r_pow_s(const double *x, const double *p) { return pow(x[0], p[0]); }
static double r_pow_b(const double *x, const double *p) { return pow(p[0], x[0]); }

static double ipow(int64_t a, int64_t b)
{
	if (b < 0)
		return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
	int64_t r = 1;
	while (b--)
		r *= a;
	return (double)r;
}
static double r_ipow(const double *x, const double *p) { return ipow((int64_t)x[0], (int64_t)x[1]); }

Test(ops_elementwise, pow_all_forms)
{
	const int32_t sa[] = {3, 1, 6}, sb[] = {4, 1};
	const int32_t so[] = {3, 4, 6};
	struct infd_tensor *a = rnd_tensor(F32, 3, sa, 0.1, 3), *b = rnd_tensor(F32, 2, sb, -3, 3);
	struct infd_tensor *o = op_tensor(F32, 3, so);
	CHECK_OK(OP_CALL("aten::pow.Tensor_Tensor_out", EV(a), EV(b), EV(o), EV(o)));
	struct infd_tensor *in[] = {a, b};
	check_all(o, ref_nary(3, so, in, 2, r_pow, NULL), 1e-6, 0);
	/* integers: c10 powi, negative exponents give 0 except for bases 1 and -1 */
	struct infd_tensor *ai = rnd_tensor(I32, SHAPE(60), -4, 5), *bi = rnd_tensor(I64, SHAPE(60), -3, 7);
	op_set(ai, 0, 1);
	op_set(bi, 0, -3);
	op_set(ai, 1, -1);
	op_set(bi, 1, -3);
	struct infd_tensor *oi = op_tensor(I64, SHAPE(60));
	CHECK_OK(OP_CALL("aten::pow.Tensor_Tensor_out", EV(ai), EV(bi), EV(oi), EV(oi)));
	struct infd_tensor *ini[] = {ai, bi};
	check_all(oi, ref_nary(SHAPE(60), ini, 2, r_ipow, NULL), 0, 0);
	/* Tensor_Scalar with the exponents ATen special-cases and a general one */
	const double exps[] = {2, 3, 0.5, -0.5, -1, -2, 1.7, 0, 1};
	struct infd_tensor *x = rnd_tensor(F32, SHAPE(2, 50), 0.1, 4), *ox = op_tensor(F32, SHAPE(2, 50));
	for (size_t i = 0; i < sizeof exps / sizeof exps[0]; i++) {
		CHECK_OK(OP_CALL("aten::pow.Tensor_Scalar_out", EV(x), op_ev_double(exps[i]), EV(ox),
				 EV(ox)));
		check_all(ox, ref_nary(SHAPE(2, 50), &x, 1, r_pow_s, &exps[i]), 1e-6, 0);
	}
	/* an integer exponent on a float tensor, and on an int tensor */
	CHECK_OK(OP_CALL("aten::pow.Tensor_Scalar_out", EV(x), op_ev_int(2), EV(ox), EV(ox)));
	check_all(ox, ref_nary(SHAPE(2, 50), &x, 1, r_pow_s, (double[]){2}), 1e-6, 0);
	struct infd_tensor *xi = rnd_tensor(I32, SHAPE(30), -9, 9), *oxi = op_tensor(I32, SHAPE(30));
	CHECK_OK(OP_CALL("aten::pow.Tensor_Scalar_out", EV(xi), op_ev_int(3), EV(oxi), EV(oxi)));
	check_all(oxi, ref_nary(SHAPE(30), &xi, 1, r_pow_s, (double[]){3}), 0, 0);
	/* an int tensor with a float exponent gives float32 */
	struct infd_tensor *oxf = op_tensor(F32, SHAPE(30));
	CHECK_OK(OP_CALL("aten::pow.Tensor_Scalar_out", EV(xi), op_ev_double(2.0), EV(oxf), EV(oxf)));
	check_all(oxf, ref_nary(SHAPE(30), &xi, 1, r_pow_s, (double[]){2}), 0, 0);
	CHECK_FAIL(OP_CALL("aten::pow.Tensor_Scalar_out", EV(xi), op_ev_int(-2), EV(oxi), EV(oxi)),
		   "negative integer powers");
	/* Scalar_out: scalar base, tensor exponent */
	struct infd_tensor *e = rnd_tensor(F32, SHAPE(5, 7), -4, 4), *oe = op_tensor(F32, SHAPE(5, 7));
	CHECK_OK(OP_CALL("aten::pow.Scalar_out", op_ev_double(2.5), EV(e), EV(oe), EV(oe)));
	check_all(oe, ref_nary(SHAPE(5, 7), &e, 1, r_pow_b, (double[]){2.5}), 1e-6, 0);
	struct infd_tensor *ei = rnd_tensor(I64, SHAPE(10), 0, 10), *oei = op_tensor(I64, SHAPE(10));
	CHECK_OK(OP_CALL("aten::pow.Scalar_out", op_ev_int(3), EV(ei), EV(oei), EV(oei)));
	check_all(oei, ref_nary(SHAPE(10), &ei, 1, r_pow_b, (double[]){3}), 0, 0);
	/* empty */
	struct infd_tensor *z = op_tensor(F32, SHAPE(0, 3)), *oz = op_tensor(F32, SHAPE(0, 3));
	CHECK_OK(OP_CALL("aten::pow.Tensor_Scalar_out", EV(z), op_ev_double(1.3), EV(oz), EV(oz)));
	cr_assert_eq(oz->numel, 0);
	struct infd_tensor *bb = op_tensor(B, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::pow.Tensor_Tensor_out", EV(bb), EV(bb), EV(bb), EV(bb)), "bool");
}

/* ---- Comparisons --------------------------------------------------------------- */

static double r_eq(const double *x, const double *p) { return x[0] == x[1]; }
static double r_ne(const double *x, const double *p) { return x[0] != x[1]; }
static double r_lt(const double *x, const double *p) { return x[0] < x[1]; }
static double r_le(const double *x, const double *p) { return x[0] <= x[1]; }
static double r_gt(const double *x, const double *p) { return x[0] > x[1]; }
static double r_ge(const double *x, const double *p) { return x[0] >= x[1]; }
static double r_eq_s(const double *x, const double *p) { return x[0] == p[0]; }
static double r_ne_s(const double *x, const double *p) { return x[0] != p[0]; }
static double r_lt_s(const double *x, const double *p) { return x[0] < p[0]; }
static double r_le_s(const double *x, const double *p) { return x[0] <= p[0]; }
static double r_gt_s(const double *x, const double *p) { return x[0] > p[0]; }
static double r_ge_s(const double *x, const double *p) { return x[0] >= p[0]; }

static const struct {
	const char *tkey, *skey;
	ref_fn t, s;
} cmps[] = {
	{"aten::eq.Tensor_out", "aten::eq.Scalar_out", r_eq, r_eq_s},
	{"aten::ne.Tensor_out", "aten::ne.Scalar_out", r_ne, r_ne_s},
	{"aten::lt.Tensor_out", "aten::lt.Scalar_out", r_lt, r_lt_s},
	{"aten::le.Tensor_out", "aten::le.Scalar_out", r_le, r_le_s},
	{"aten::gt.Tensor_out", "aten::gt.Scalar_out", r_gt, r_gt_s},
	{"aten::ge.Tensor_out", "aten::ge.Scalar_out", r_ge, r_ge_s},
};

/* Integer-valued random data in [-4, 4] so that equality is common. */
static struct infd_tensor *small_ints(int dt, uint32_t rank, const int32_t *sizes)
{
	struct infd_tensor *t = op_tensor(dt, rank, sizes);
	for (uint64_t k = 0; k < t->numel; k++)
		op_set(t, k, dt == B ? (double)(op_rnd() & 1) : dt == U8 ? op_rnd_range(0, 8) : op_rnd_range(-4, 4));
	return t;
}

Test(ops_elementwise, comparisons)
{
	const int dts[][2] = {{F32, F32}, {I32, I32}, {I64, F32}, {U8, I8}, {B, B}, {F16, I16}, {F64, B}, {BF16, F32}};
	const int32_t sa[] = {3, 1, 5}, sb[] = {4, 1}, so[] = {3, 4, 5};
	for (size_t c = 0; c < sizeof cmps / sizeof cmps[0]; c++) {
		for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
			struct infd_tensor *a = small_ints(dts[d][0], 3, sa), *b = small_ints(dts[d][1], 2, sb);
			struct infd_tensor *o = op_tensor(B, 3, so);
			CHECK_OK(OP_CALL(cmps[c].tkey, EV(a), EV(b), EV(o), EV(o)));
			struct infd_tensor *in[] = {a, b};
			check_all(o, ref_nary(3, so, in, 2, cmps[c].t, NULL), 0, 0);
			/* same shapes, and a float out */
			struct infd_tensor *a2 = small_ints(dts[d][0], SHAPE(37)), *b2 = small_ints(dts[d][1], SHAPE(37));
			struct infd_tensor *o2 = op_tensor(F32, SHAPE(37));
			CHECK_OK(OP_CALL(cmps[c].tkey, EV(a2), EV(b2), EV(o2), EV(o2)));
			struct infd_tensor *in2[] = {a2, b2};
			check_all(o2, ref_nary(SHAPE(37), in2, 2, cmps[c].t, NULL), 0, 0);
			/* scalar forms: an int scalar, and a float scalar */
			CHECK_OK(OP_CALL(cmps[c].skey, EV(a), op_ev_int(1), EV(o), EV(o)));
			check_all(o, ref_nary(3, sa, &a, 1, cmps[c].s, (double[]){1}), 0, 0);
		}
		struct infd_tensor *a = small_ints(I32, SHAPE(3, 1, 5)), *o = op_tensor(B, SHAPE(3, 1, 5));
		CHECK_OK(OP_CALL(cmps[c].skey, EV(a), op_ev_double(0.5), EV(o), EV(o)));
		check_all(o, ref_nary(SHAPE(3, 1, 5), &a, 1, cmps[c].s, (double[]){0.5}), 0, 0);
		/* rank 0 and empty */
		struct infd_tensor *s0 = small_ints(F32, SCALAR_SHAPE), *s1 = small_ints(F32, SCALAR_SHAPE);
		struct infd_tensor *o0 = op_tensor(B, SCALAR_SHAPE);
		CHECK_OK(OP_CALL(cmps[c].tkey, EV(s0), EV(s1), EV(o0), EV(o0)));
		cr_assert_eq(op_get(o0, 0), cmps[c].t((double[]){op_get(s0, 0), op_get(s1, 0)}, NULL));
		struct infd_tensor *e = op_tensor(F32, SHAPE(2, 0)), *oe = op_tensor(B, SHAPE(2, 0));
		CHECK_OK(OP_CALL(cmps[c].tkey, EV(e), EV(s0), EV(oe), EV(oe)));
		op_check_shape(oe, SHAPE(2, 0));
	}
	/* NaN compares unequal to everything, int8 vs uint8 promote to int16 */
	struct infd_tensor *x = op_tensor(F32, SHAPE(2)), *o = op_tensor(B, SHAPE(2));
	op_set(x, 0, NAN);
	CHECK_OK(OP_CALL("aten::ne.Scalar_out", EV(x), op_ev_double(NAN), EV(o), EV(o)));
	op_check_close(o, (double[]){1, 1}, 0, 0);
	CHECK_OK(OP_CALL("aten::eq.Tensor_out", EV(x), EV(x), EV(o), EV(o)));
	op_check_close(o, (double[]){0, 1}, 0, 0);
	struct infd_tensor *i8 = op_tensor(I8, SHAPE(1)), *u8 = op_tensor(U8, SHAPE(1)), *ob = op_tensor(B, SHAPE(1));
	op_set(i8, 0, -1);
	op_set(u8, 0, 255);
	CHECK_OK(OP_CALL("aten::lt.Tensor_out", EV(i8), EV(u8), EV(ob), EV(ob)));
	cr_assert_eq(op_get(ob, 0), 1, "-1 < 255 in int16");
	/* a non-contiguous operand */
	const int32_t sz[] = {2, 3, 4, 5};
	struct infd_tensor *cl = op_tensor_order(F32, 4, sz, (const uint8_t[]){0, 2, 3, 1});
	struct infd_tensor *ct = op_tensor(F32, 4, sz), *oc = op_tensor(B, 4, sz);
	op_fill_random(cl, 2);
	op_fill_random(ct, 2);
	CHECK_OK(OP_CALL("aten::gt.Tensor_out", EV(cl), EV(ct), EV(oc), EV(oc)));
	struct infd_tensor *in[] = {cl, ct};
	check_all(oc, ref_nary(4, sz, in, 2, r_gt, NULL), 0, 0);
	/* errors */
	struct infd_tensor *bad = op_tensor(F32, SHAPE(3));
	CHECK_FAIL(OP_CALL("aten::eq.Tensor_out", EV(x), EV(bad), EV(o), EV(o)), "broadcast");
	struct infd_tensor *q = op_tensor(INFD_DTYPE_QINT8, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::eq.Tensor_out", EV(q), EV(x), EV(o), EV(o)), "unsupported dtype");
	CHECK_FAIL(OP_CALL("aten::eq.Scalar_out", EV(x), op_ev_string("1"), EV(o), EV(o)), "other");
	struct infd_tensor *small = op_tensor_cap(B, SHAPE(1), 1);
	CHECK_FAIL(OP_CALL("aten::eq.Tensor_out", EV(x), EV(x), EV(small), EV(small)), "resize");
}

/* ---- maximum / minimum, logical and bitwise ------------------------------------- */

Test(ops_elementwise, maximum_minimum)
{
	const int dts[][3] = {{F32, F32, F32}, {I32, I64, I64}, {U8, I8, I16}, {B, B, B}, {F16, F32, F32}, {I32, F64, F64}};
	const int32_t sa[] = {2, 1, 33}, sb[] = {5, 1}, so[] = {2, 5, 33};
	for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
		struct infd_tensor *a = small_ints(dts[d][0], 3, sa), *b = small_ints(dts[d][1], 2, sb);
		struct infd_tensor *o = op_tensor(dts[d][2], 3, so);
		struct infd_tensor *in[] = {a, b};
		CHECK_OK(OP_CALL("aten::maximum.out", EV(a), EV(b), EV(o), EV(o)));
		check_all(o, ref_nary(3, so, in, 2, r_max, NULL), 0, 0);
		CHECK_OK(OP_CALL("aten::minimum.out", EV(a), EV(b), EV(o), EV(o)));
		check_all(o, ref_nary(3, so, in, 2, r_min, NULL), 0, 0);
	}
	/* NaN on either side wins */
	struct infd_tensor *a = op_tensor(F32, SHAPE(4)), *b = op_tensor(F32, SHAPE(4)), *o = op_tensor(F32, SHAPE(4));
	op_set(a, 0, NAN);
	op_set(b, 1, NAN);
	op_set(a, 2, 1);
	op_set(b, 2, 2);
	op_set(a, 3, -INFINITY);
	CHECK_OK(OP_CALL("aten::maximum.out", EV(a), EV(b), EV(o), EV(o)));
	cr_assert(isnan(op_get(o, 0)) && isnan(op_get(o, 1)));
	cr_assert_eq(op_get(o, 2), 2);
	cr_assert_eq(op_get(o, 3), 0);
	CHECK_OK(OP_CALL("aten::minimum.out", EV(a), EV(b), EV(o), EV(o)));
	cr_assert(isnan(op_get(o, 0)) && isnan(op_get(o, 1)));
	cr_assert_eq(op_get(o, 2), 1);
	cr_assert(isinf(op_get(o, 3)));
	/* a float result cannot be written to an int out */
	struct infd_tensor *oi = op_tensor(I32, SHAPE(4));
	CHECK_FAIL(OP_CALL("aten::maximum.out", EV(a), EV(b), EV(oi), EV(oi)), "cannot be stored");
}

static double r_and(const double *x, const double *p) { return (x[0] != 0) && (x[1] != 0); }
static double r_or(const double *x, const double *p) { return (x[0] != 0) || (x[1] != 0); }
static double r_xor(const double *x, const double *p) { return (x[0] != 0) != (x[1] != 0); }

Test(ops_elementwise, logical_binary)
{
	const char *keys[] = {"aten::logical_and.out", "aten::logical_or.out", "aten::logical_xor.out"};
	ref_fn fs[] = {r_and, r_or, r_xor};
	const int dts[][3] = {{B, B, B}, {F32, I32, B}, {I64, U8, F32}, {F16, B, I8}};
	const int32_t sa[] = {4, 1, 7}, sb[] = {3, 1}, so[] = {4, 3, 7};
	for (size_t k = 0; k < 3; k++)
		for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
			struct infd_tensor *a = small_ints(dts[d][0], 3, sa), *b = small_ints(dts[d][1], 2, sb);
			struct infd_tensor *o = op_tensor(dts[d][2], 3, so);
			CHECK_OK(OP_CALL(keys[k], EV(a), EV(b), EV(o), EV(o)));
			struct infd_tensor *in[] = {a, b};
			check_all(o, ref_nary(3, so, in, 2, fs[k], NULL), 0, 0);
		}
	struct infd_tensor *x = op_tensor(F32, SHAPE(2)), *o = op_tensor(B, SHAPE(2));
	op_set(x, 0, NAN);
	CHECK_OK(OP_CALL("aten::logical_and.out", EV(x), EV(x), EV(o), EV(o)));
	op_check_close(o, (double[]){1, 0}, 0, 0);
}

static double r_band(const double *x, const double *p) { return (double)((int64_t)x[0] & (int64_t)x[1]); }
static double r_bor(const double *x, const double *p) { return (double)((int64_t)x[0] | (int64_t)x[1]); }
static double r_bxor(const double *x, const double *p) { return (double)((int64_t)x[0] ^ (int64_t)x[1]); }
static double r_band_s(const double *x, const double *p) { return (double)((int64_t)x[0] & (int64_t)p[0]); }
static double r_bor_s(const double *x, const double *p) { return (double)((int64_t)x[0] | (int64_t)p[0]); }
static double r_bxor_s(const double *x, const double *p) { return (double)((int64_t)x[0] ^ (int64_t)p[0]); }

Test(ops_elementwise, bitwise_binary)
{
	const char *tk[] = {"aten::bitwise_and.Tensor_out", "aten::bitwise_or.Tensor_out", "aten::bitwise_xor.Tensor_out"};
	const char *sk[] = {"aten::bitwise_and.Scalar_out", "aten::bitwise_or.Scalar_out", "aten::bitwise_xor.Scalar_out"};
	ref_fn tf[] = {r_band, r_bor, r_bxor}, sf[] = {r_band_s, r_bor_s, r_bxor_s};
	const int dts[][3] = {{I32, I32, I32}, {U8, U8, U8}, {I8, I64, I64}, {B, B, B}, {U8, I8, I16}};
	const int32_t sa[] = {3, 1, 9}, sb[] = {2, 1}, so[] = {3, 2, 9};
	for (size_t k = 0; k < 3; k++)
		for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
			struct infd_tensor *a = rnd_tensor(dts[d][0], 3, sa, dts[d][0] == U8 ? 0 : -100, 100);
			struct infd_tensor *b = rnd_tensor(dts[d][1], 2, sb, dts[d][1] == U8 ? 0 : -100, 100);
			struct infd_tensor *o = op_tensor(dts[d][2], 3, so);
			CHECK_OK(OP_CALL(tk[k], EV(a), EV(b), EV(o), EV(o)));
			struct infd_tensor *in[] = {a, b};
			check_all(o, ref_nary(3, so, in, 2, tf[k], NULL), 0, 0);
			if (dts[d][0] != B) {
				struct infd_tensor *os = op_tensor(dts[d][0], 3, sa);
				CHECK_OK(OP_CALL(sk[k], EV(a), op_ev_int(0x2d), EV(os), EV(os)));
				check_all(os, ref_nary(3, sa, &a, 1, sf[k], (double[]){0x2d}), 0, 0);
			}
		}
	/* bool tensor with a bool scalar stays bool; with an int scalar becomes int64 */
	struct infd_tensor *b = op_tensor(B, SHAPE(2)), *ob = op_tensor(B, SHAPE(2)), *oi = op_tensor(I64, SHAPE(2));
	op_set(b, 1, 1);
	CHECK_OK(OP_CALL("aten::bitwise_xor.Scalar_out", EV(b), op_ev_bool(true), EV(ob), EV(ob)));
	op_check_close(ob, (double[]){1, 0}, 0, 0);
	CHECK_OK(OP_CALL("aten::bitwise_or.Scalar_out", EV(b), op_ev_int(6), EV(oi), EV(oi)));
	op_check_close(oi, (double[]){6, 7}, 0, 0);
	CHECK_FAIL(OP_CALL("aten::bitwise_or.Scalar_out", EV(b), op_ev_int(6), EV(ob), EV(ob)), "cannot be stored");
	struct infd_tensor *f = op_tensor(F32, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::bitwise_and.Tensor_out", EV(f), EV(f), EV(f), EV(f)), "float32");
	CHECK_FAIL(OP_CALL("aten::bitwise_and.Scalar_out", EV(oi), op_ev_double(1.5), EV(f), EV(f)), "float32");
}

/* ---- Division family --------------------------------------------------------------- */

static double py_mod(double a, double b)
{
	double m = fmod(a, b);
	if (m != 0 && ((b < 0) != (m < 0)))
		m += b;
	return m;
}
static double r_rem(const double *x, const double *p) { return py_mod(x[0], x[1]); }
static double r_fmod(const double *x, const double *p) { return fmod(x[0], x[1]); }
static double r_floordiv(const double *x, const double *p) { return floor(x[0] / x[1]); }
static double r_truncdiv(const double *x, const double *p) { return trunc(x[0] / x[1]); }
static double r_truediv(const double *x, const double *p) { return x[0] / x[1]; }
static double r_atan2(const double *x, const double *p) { return atan2(x[0], x[1]); }
static double r_rem_s(const double *x, const double *p) { return py_mod(x[0], p[0]); }
static double r_fmod_s(const double *x, const double *p) { return fmod(x[0], p[0]); }
static double r_floordiv_s(const double *x, const double *p) { return floor(x[0] / p[0]); }
static double r_truncdiv_s(const double *x, const double *p) { return trunc(x[0] / p[0]); }

/* Random non-zero divisors. */
static struct infd_tensor *divisors(int dt, uint32_t rank, const int32_t *sizes)
{
	struct infd_tensor *t = op_tensor(dt, rank, sizes);
	for (uint64_t k = 0; k < t->numel; k++) {
		double v = infd__dtype_is_float(dt) ? op_rnd_uniform(0.3, 9) : op_rnd_range(1, 9);
		op_set(t, k, (dt != U8 && (op_rnd() & 1)) ? -v : v);
	}
	return t;
}

Test(ops_elementwise, remainder_fmod_floor_divide)
{
	const int dts[] = {F32, F64, I32, I64, I8, I16, U8};
	const int32_t sa[] = {3, 1, 20}, sb[] = {4, 1}, so[] = {3, 4, 20};
	for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
		int dt = dts[d];
		double lo = dt == U8 ? 0 : -100;
		struct infd_tensor *a = rnd_tensor(dt, 3, sa, lo, 100), *b = divisors(dt, 2, sb);
		struct infd_tensor *o = op_tensor(dt, 3, so);
		struct infd_tensor *in[] = {a, b};
		double rt = dt == F32 ? 1e-5 : 1e-12;
		CHECK_OK(OP_CALL("aten::remainder.Tensor_out", EV(a), EV(b), EV(o), EV(o)));
		check_all(o, ref_nary(3, so, in, 2, r_rem, NULL), rt, 1e-5);
		CHECK_OK(OP_CALL("aten::fmod.Tensor_out", EV(a), EV(b), EV(o), EV(o)));
		check_all(o, ref_nary(3, so, in, 2, r_fmod, NULL), rt, 1e-5);
		CHECK_OK(OP_CALL("aten::floor_divide.out", EV(a), EV(b), EV(o), EV(o)));
		check_all(o, ref_nary(3, so, in, 2, r_floordiv, NULL), 0, 0);
		CHECK_OK(OP_CALL("aten::div.out_mode", EV(a), EV(b), op_ev_string("floor"), EV(o), EV(o)));
		check_all(o, ref_nary(3, so, in, 2, r_floordiv, NULL), 0, 0);
		CHECK_OK(OP_CALL("aten::div.out_mode", EV(a), EV(b), op_ev_string("trunc"), EV(o), EV(o)));
		check_all(o, ref_nary(3, so, in, 2, r_truncdiv, NULL), 0, 0);
		struct infd_tensor *of = op_tensor(infd__dtype_is_float(dt) ? dt : F32, 3, so);
		CHECK_OK(OP_CALL("aten::div.out_mode", EV(a), EV(b), op_ev_null(), EV(of), EV(of)));
		check_all(of, ref_nary(3, so, in, 2, r_truediv, NULL), 1e-6, 0);
		/* scalar divisors, negative and positive */
		const double sd[] = {3, -4};
		for (int k = 0; k < (dt == U8 ? 1 : 2); k++) {
			struct infd_tensor *os = op_tensor(dt, 3, sa);
			struct infd_evalue *sv = infd__dtype_is_float(dt) ? op_ev_double(sd[k] + 0.5) : op_ev_int((int64_t)sd[k]);
			double svd = infd__dtype_is_float(dt) ? sd[k] + 0.5 : sd[k];
			CHECK_OK(OP_CALL("aten::remainder.Scalar_out", EV(a), sv, EV(os), EV(os)));
			check_all(os, ref_nary(3, sa, &a, 1, r_rem_s, &svd), rt, 1e-5);
			CHECK_OK(OP_CALL("aten::fmod.Scalar_out", EV(a), sv, EV(os), EV(os)));
			check_all(os, ref_nary(3, sa, &a, 1, r_fmod_s, &svd), rt, 1e-5);
			CHECK_OK(OP_CALL("aten::div.Scalar_mode_out", EV(a), sv, op_ev_string("floor"), EV(os), EV(os)));
			check_all(os, ref_nary(3, sa, &a, 1, r_floordiv_s, &svd), 0, 0);
			CHECK_OK(OP_CALL("aten::div.Scalar_mode_out", EV(a), sv, op_ev_string("trunc"), EV(os), EV(os)));
			check_all(os, ref_nary(3, sa, &a, 1, r_truncdiv_s, &svd), 0, 0);
		}
	}
	/* Python signs: -7 % 3 = 2, 7 % -3 = -2, fmod keeps the dividend's sign */
	struct infd_tensor *a = op_tensor(I32, SHAPE(4)), *b = op_tensor(I32, SHAPE(4)), *o = op_tensor(I32, SHAPE(4));
	const double av[] = {-7, 7, -7, INT32_MIN}, bv[] = {3, -3, -3, -1};
	for (int k = 0; k < 4; k++) {
		op_set(a, (uint64_t)k, av[k]);
		op_set(b, (uint64_t)k, bv[k]);
	}
	CHECK_OK(OP_CALL("aten::remainder.Tensor_out", EV(a), EV(b), EV(o), EV(o)));
	op_check_close(o, (double[]){2, -2, -1, 0}, 0, 0);
	CHECK_OK(OP_CALL("aten::fmod.Tensor_out", EV(a), EV(b), EV(o), EV(o)));
	op_check_close(o, (double[]){-1, 1, -1, 0}, 0, 0);
	CHECK_OK(OP_CALL("aten::floor_divide.out", EV(a), EV(b), EV(o), EV(o)));
	op_check_close(o, (double[]){-3, -3, 2, INT32_MIN}, 0, 0);
	/* integer division by zero fails like PyTorch's ZeroDivisionError */
	op_set(b, 2, 0);
	CHECK_FAIL(OP_CALL("aten::remainder.Tensor_out", EV(a), EV(b), EV(o), EV(o)), "ZeroDivisionError");
	CHECK_FAIL(OP_CALL("aten::floor_divide.out", EV(a), EV(b), EV(o), EV(o)), "ZeroDivisionError");
	CHECK_FAIL(OP_CALL("aten::div.Scalar_mode_out", EV(a), op_ev_int(0), op_ev_string("trunc"), EV(o), EV(o)),
		   "ZeroDivisionError");
	CHECK_FAIL(OP_CALL("aten::fmod.Scalar_out", EV(a), op_ev_int(0), EV(o), EV(o)), "ZeroDivisionError");
	/* floats: division by zero follows IEEE, floor division keeps the zero's sign */
	struct infd_tensor *fa = op_tensor(F32, SHAPE(4)), *fb = op_tensor(F32, SHAPE(4)), *fo = op_tensor(F32, SHAPE(4));
	const double fav[] = {1, -1, 0.5, -0.5}, fbv[] = {0, 0, 3, 3};
	for (int k = 0; k < 4; k++) {
		op_set(fa, (uint64_t)k, fav[k]);
		op_set(fb, (uint64_t)k, fbv[k]);
	}
	CHECK_OK(OP_CALL("aten::floor_divide.out", EV(fa), EV(fb), EV(fo), EV(fo)));
	cr_assert(isinf(op_get(fo, 0)) && op_get(fo, 0) > 0);
	cr_assert(isinf(op_get(fo, 1)) && op_get(fo, 1) < 0);
	cr_assert(op_get(fo, 2) == 0 && !signbit(op_get(fo, 2)));
	cr_assert_eq(op_get(fo, 3), -1);
	CHECK_OK(OP_CALL("aten::remainder.Tensor_out", EV(fa), EV(fb), EV(fo), EV(fo)));
	cr_assert(isnan(op_get(fo, 0)));
	cr_assert_float_eq(op_get(fo, 3), 2.5, 1e-6);
	/* errors */
	CHECK_FAIL(OP_CALL("aten::div.out_mode", EV(fa), EV(fb), op_ev_string("round"), EV(fo), EV(fo)), "rounding_mode");
	struct infd_tensor *bb = op_tensor(B, SHAPE(4));
	CHECK_FAIL(OP_CALL("aten::remainder.Tensor_out", EV(bb), EV(bb), EV(bb), EV(bb)), "bool");
	CHECK_FAIL(OP_CALL("aten::floor_divide.out", EV(fa), EV(fb), EV(o), EV(o)), "cannot be stored");
}

Test(ops_elementwise, atan2)
{
	const int32_t sa[] = {5, 1, 3}, sb[] = {4, 3}, so[] = {5, 4, 3};
	struct infd_tensor *a = rnd_tensor(F32, 3, sa, -3, 3), *b = rnd_tensor(F32, 2, sb, -3, 3);
	struct infd_tensor *o = op_tensor(F32, 3, so);
	CHECK_OK(OP_CALL("aten::atan2.out", EV(a), EV(b), EV(o), EV(o)));
	struct infd_tensor *in[] = {a, b};
	check_all(o, ref_nary(3, so, in, 2, r_atan2, NULL), 1e-6, 1e-7);
	struct infd_tensor *ai = rnd_tensor(I32, 3, sa, -3, 3), *bi = rnd_tensor(I64, 2, sb, -3, 3);
	CHECK_OK(OP_CALL("aten::atan2.out", EV(ai), EV(bi), EV(o), EV(o)));
	struct infd_tensor *ini[] = {ai, bi};
	check_all(o, ref_nary(3, so, ini, 2, r_atan2, NULL), 1e-6, 1e-7);
	struct infd_tensor *oi = op_tensor(I32, 3, so);
	CHECK_FAIL(OP_CALL("aten::atan2.out", EV(ai), EV(bi), EV(oi), EV(oi)), "cannot be stored");
}

static double r_rsub(const double *x, const double *p) { return p[0] - p[1] * x[0]; }

Test(ops_elementwise, rsub)
{
	for (size_t s = 0; s < sizeof shapes_r / sizeof shapes_r[0]; s++) {
		uint32_t r = (uint32_t)shapes_r[s];
		const int32_t *sz = shapes_s[s];
		struct infd_tensor *x = rnd_tensor(F32, r, sz, -5, 5), *o = op_tensor(F32, r, sz);
		CHECK_OK(OP_CALL("aten::rsub.Scalar_out", EV(x), op_ev_double(1.5), op_ev_double(2.0), EV(o), EV(o)));
		check_all(o, ref_nary(r, sz, &x, 1, r_rsub, (double[]){1.5, 2.0}), 1e-6, 1e-6);
		struct infd_tensor *xi = rnd_tensor(I32, r, sz, -50, 50), *oi = op_tensor(I32, r, sz);
		CHECK_OK(OP_CALL("aten::rsub.Scalar_out", EV(xi), op_ev_int(7), op_ev_int(3), EV(oi), EV(oi)));
		check_all(oi, ref_nary(r, sz, &xi, 1, r_rsub, (double[]){7, 3}), 0, 0);
		/* an int tensor with a float scalar promotes to float32 */
		CHECK_OK(OP_CALL("aten::rsub.Scalar_out", EV(xi), op_ev_double(0.5), op_ev_int(1), EV(o), EV(o)));
		check_all(o, ref_nary(r, sz, &xi, 1, r_rsub, (double[]){0.5, 1}), 1e-6, 0);
	}
	struct infd_tensor *xi = op_tensor(I32, SHAPE(2)), *b = op_tensor(B, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::rsub.Scalar_out", EV(xi), op_ev_int(1), op_ev_double(0.5), EV(xi), EV(xi)), "alpha");
	CHECK_FAIL(OP_CALL("aten::rsub.Scalar_out", EV(b), op_ev_int(1), op_ev_int(1), EV(b), EV(b)), "bool");
}

/* ---- where / masked_fill ------------------------------------------------------------ */

static double r_where(const double *x, const double *p) { return x[0] != 0 ? x[1] : x[2]; }
static double r_mfill(const double *x, const double *p) { return x[1] != 0 ? p[0] : x[0]; }

Test(ops_elementwise, where)
{
	const int dts[][3] = {{F32, F32, F32}, {I64, I64, I64}, {B, B, B}, {I32, F32, F32}, {F16, F16, F16}, {U8, I8, I16}, {F64, F64, F64}};
	const int32_t sc[] = {3, 1, 17}, sa[] = {4, 17}, sb[] = {3, 4, 1}, so[] = {3, 4, 17};
	for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
		struct infd_tensor *c = small_ints(B, 3, sc), *a = small_ints(dts[d][0], 2, sa),
				   *b = small_ints(dts[d][1], 3, sb);
		struct infd_tensor *o = op_tensor(dts[d][2], 3, so);
		CHECK_OK(OP_CALL("aten::where.self_out", EV(c), EV(a), EV(b), EV(o), EV(o)));
		struct infd_tensor *in[] = {c, a, b};
		check_all(o, ref_nary(3, so, in, 3, r_where, NULL), 0, 0);
		/* same shapes (one flat loop), and a scalar-shaped other (attention masks) */
		struct infd_tensor *c2 = small_ints(B, SHAPE(70)), *a2 = small_ints(dts[d][0], SHAPE(70));
		struct infd_tensor *b2 = small_ints(dts[d][1], SHAPE(70)), *o2 = op_tensor(dts[d][2], SHAPE(70));
		CHECK_OK(OP_CALL("aten::where.self_out", EV(c2), EV(a2), EV(b2), EV(o2), EV(o2)));
		struct infd_tensor *in2[] = {c2, a2, b2};
		check_all(o2, ref_nary(SHAPE(70), in2, 3, r_where, NULL), 0, 0);
		struct infd_tensor *s0 = small_ints(dts[d][1], SCALAR_SHAPE);
		CHECK_OK(OP_CALL("aten::where.self_out", EV(c2), EV(a2), EV(s0), EV(o2), EV(o2)));
		struct infd_tensor *in3[] = {c2, a2, s0};
		check_all(o2, ref_nary(SHAPE(70), in3, 3, r_where, NULL), 0, 0);
	}
	/* a uint8 condition is accepted, a float one is not */
	struct infd_tensor *cu = op_tensor(U8, SHAPE(2)), *a = op_tensor(F32, SHAPE(2)), *o = op_tensor(F32, SHAPE(2));
	op_set(cu, 0, 7);
	op_set(a, 0, 1);
	op_set(a, 1, 2);
	CHECK_OK(OP_CALL("aten::where.self_out", EV(cu), EV(a), op_ev_tensor(op_tensor(F32, SCALAR_SHAPE)), EV(o), EV(o)));
	op_check_close(o, (double[]){1, 0}, 0, 0);
	CHECK_FAIL(OP_CALL("aten::where.self_out", EV(a), EV(a), EV(a), EV(o), EV(o)), "condition must be a bool");
	/* channels-last operands and in place */
	const int32_t sz[] = {2, 3, 4, 5};
	const uint8_t cl[] = {0, 2, 3, 1};
	struct infd_tensor *c4 = op_tensor_order(B, 4, sz, cl), *a4 = op_tensor_order(F32, 4, sz, cl);
	struct infd_tensor *b4 = op_tensor(F32, 4, sz), *o4 = op_tensor(F32, 4, sz);
	op_fill_random(c4, 1);
	op_fill_random(a4, 3);
	op_fill_random(b4, 3);
	CHECK_OK(OP_CALL("aten::where.self_out", EV(c4), EV(a4), EV(b4), EV(o4), EV(o4)));
	struct infd_tensor *in4[] = {c4, a4, b4};
	double *w4 = ref_nary(4, sz, in4, 3, r_where, NULL);
	check_all(o4, w4, 0, 0);
	CHECK_OK(OP_CALL("aten::where.self_out", EV(c4), EV(a4), EV(b4), EV(b4), EV(b4)));
	check_all(b4, w4, 0, 0);
	/* empty */
	struct infd_tensor *ce = op_tensor(B, SHAPE(0, 2)), *oe = op_tensor(F32, SHAPE(0, 2));
	CHECK_OK(OP_CALL("aten::where.self_out", EV(ce), EV(a), EV(a), EV(oe), EV(oe)));
	op_check_shape(oe, SHAPE(0, 2));
}

Test(ops_elementwise, masked_fill)
{
	const int32_t sx[] = {2, 3, 9}, sm[] = {3, 1};
	const int dts[] = {F32, I32, I64, F16, B, U8, F64};
	for (size_t d = 0; d < sizeof dts / sizeof dts[0]; d++) {
		struct infd_tensor *x = small_ints(dts[d], 3, sx), *m = small_ints(B, 2, sm);
		struct infd_tensor *o = op_tensor(dts[d], 3, sx);
		double v = dts[d] == B ? 1 : 3;
		CHECK_OK(OP_CALL("aten::masked_fill.Scalar_out", EV(x), EV(m), op_ev_int((int64_t)v), EV(o), EV(o)));
		struct infd_tensor *in[] = {x, m};
		check_all(o, ref_nary(3, sx, in, 2, r_mfill, &v), 0, 0);
	}
	/* the value is cast to self's dtype: 2.7 into int32 is 2; -inf into float */
	struct infd_tensor *x = small_ints(I32, SHAPE(4, 5)), *m = small_ints(B, SHAPE(5)), *o = op_tensor(I32, SHAPE(4, 5));
	CHECK_OK(OP_CALL("aten::masked_fill.Scalar_out", EV(x), EV(m), op_ev_double(2.7), EV(o), EV(o)));
	struct infd_tensor *in[] = {x, m};
	check_all(o, ref_nary(SHAPE(4, 5), in, 2, r_mfill, (double[]){2}), 0, 0);
	struct infd_tensor *xf = small_ints(F32, SHAPE(4, 5)), *of = op_tensor(F32, SHAPE(4, 5));
	CHECK_OK(OP_CALL("aten::masked_fill.Scalar_out", EV(xf), EV(m), op_ev_double(-INFINITY), EV(of), EV(of)));
	struct infd_tensor *inf[] = {xf, m};
	double *wf = ref_nary(SHAPE(4, 5), inf, 2, r_mfill, (double[]){-INFINITY});
	check_all(of, wf, 0, 0);
	/* in place */
	CHECK_OK(OP_CALL("aten::masked_fill.Scalar_out", EV(xf), EV(m), op_ev_double(-INFINITY), EV(xf), EV(xf)));
	check_all(xf, wf, 0, 0);
	/* the mask must be bool */
	struct infd_tensor *mi = small_ints(U8, SHAPE(5));
	CHECK_FAIL(OP_CALL("aten::masked_fill.Scalar_out", EV(xf), EV(mi), op_ev_int(0), EV(of), EV(of)), "mask must be a bool");
	struct infd_tensor *mb = small_ints(B, SHAPE(3));
	CHECK_FAIL(OP_CALL("aten::masked_fill.Scalar_out", EV(xf), EV(mb), op_ev_int(0), EV(of), EV(of)), "broadcast");
}

/* ---- Argument errors shared by every kernel ----------------------------------------- */

Test(ops_elementwise, argument_errors)
{
	struct infd_tensor *x = op_tensor(F32, SHAPE(3)), *o = op_tensor(F32, SHAPE(3));
	/* wrong counts */
	CHECK_FAIL(call_raw("aten::relu.out", (struct infd_evalue *[]){EV(x), EV(o)}, 2), "expected 3 arguments");
	CHECK_FAIL(call_raw("aten::maximum.out", (struct infd_evalue *[]){EV(x), EV(x), EV(o)}, 3),
		   "expected 4 arguments");
	CHECK_FAIL(call_raw("aten::where.self_out", NULL, 5), "no argument array");
	CHECK_FAIL(call_raw("aten::where.self_out", (struct infd_evalue *[]){EV(x), NULL, EV(x), EV(o), EV(o)}, 5),
		   "missing");
	/* wrong kinds */
	CHECK_FAIL(OP_CALL("aten::relu.out", op_ev_int(1), EV(o), EV(o)), "self");
	CHECK_FAIL(OP_CALL("aten::relu.out", EV(x), op_ev_int(1), EV(o)), "out");
	CHECK_FAIL(OP_CALL("aten::relu.out", EV(x), EV(o), EV(x)), "return slot");
	/* NULL data */
	struct infd_tensor *nd = op_tensor(F32, SHAPE(3));
	nd->data = NULL;
	CHECK_FAIL(OP_CALL("aten::sigmoid.out", EV(nd), EV(o), EV(o)), "no data");
	/* out too small for the result */
	struct infd_tensor *big = op_tensor(F32, SHAPE(100)), *small = op_tensor_cap(F32, SHAPE(3), 3);
	CHECK_FAIL(OP_CALL("aten::exp.out", EV(big), EV(small), EV(small)), "resize");
	/* an out resized to the result shape within its capacity */
	struct infd_tensor *roomy = op_tensor_cap(F32, SHAPE(1), 8);
	CHECK_OK(OP_CALL("aten::neg.out", EV(x), EV(roomy), EV(roomy)));
	op_check_shape(roomy, SHAPE(3));
	/* unsupported dtypes and bool where numbers are needed */
	struct infd_tensor *u16 = op_tensor(INFD_DTYPE_UINT16, SHAPE(3));
	CHECK_FAIL(OP_CALL("aten::relu.out", EV(u16), EV(u16), EV(u16)), "unsupported dtype uint16");
	struct infd_tensor *b = op_tensor(B, SHAPE(3));
	CHECK_FAIL(OP_CALL("aten::relu.out", EV(b), EV(b), EV(b)), "bool");
	CHECK_FAIL(OP_CALL("aten::neg.out", EV(b), EV(b), EV(b)), "bool");
	CHECK_FAIL(OP_CALL("aten::silu.out", EV(b), EV(o), EV(o)), "floating-point");
	CHECK_FAIL(OP_CALL("aten::hardswish.out", op_ev_tensor(op_tensor(I32, SHAPE(3))), EV(o), EV(o)),
		   "floating-point");
	/* messages name the operator */
	CHECK_FAIL(OP_CALL("aten::floor.out", EV(b), EV(b), EV(b)), "aten::floor.out:");
	/* read-only out */
	struct infd_tensor *ro = op_tensor(F32, SHAPE(3));
	ro->is_const = true;
	CHECK_FAIL(OP_CALL("aten::abs.out", EV(x), EV(ro), EV(ro)), "read-only");
}

Test(ops_elementwise, registered_argument_counts)
{
	const struct {
		const char *key;
		int32_t n;
	} keys[] = {
		{"aten::relu.out", 3}, {"aten::gelu.out", 4}, {"aten::hardtanh.out", 5}, {"aten::clamp.out", 5},
		{"aten::clamp.Tensor_out", 5}, {"aten::leaky_relu.out", 4}, {"aten::elu.out", 6},
		{"aten::pow.Tensor_Scalar_out", 4}, {"aten::pow.Tensor_Tensor_out", 4}, {"aten::pow.Scalar_out", 4},
		{"aten::eq.Scalar_out", 4}, {"aten::ge.Tensor_out", 4}, {"aten::where.self_out", 5},
		{"aten::masked_fill.Scalar_out", 5}, {"aten::rsub.Scalar_out", 5}, {"aten::div.out_mode", 5},
		{"aten::div.Scalar_mode_out", 5}, {"aten::floor_divide.out", 4}, {"aten::atan2.out", 4},
		{"aten::silu.out", 3}, {"aten::hardswish.out", 3}, {"aten::hardsigmoid.out", 3},
		{"aten::bitwise_and.Scalar_out", 4}, {"aten::logical_xor.out", 4}, {"aten::isinf.out", 3},
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const struct infd_kernel_def *def = infd__registry_find(op_reg, keys[i].key);
		cr_assert_not_null(def, "%s is not registered", keys[i].key);
		cr_assert_eq(def->n_args, keys[i].n, "%s: %d arguments", keys[i].key, def->n_args);
	}
}
