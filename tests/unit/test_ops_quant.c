/* Tests of the quantization kernels (runtime/kernels/quant.c): quantize and
 * dequantize per tensor and per channel against a reference written from the
 * formulas of ExecuTorch's quantized kernels (bit for bit), choose_qparams, the
 * dtypes and layouts they accept, and their errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opref.h"
#include "runtime/kernels/util.h"

TestSuite(ops_quant, .init = op_setup, .fini = op_teardown);

#define EV(t) op_ev_tensor(t)
#define QPT "quantized_decomposed::quantize_per_tensor.out"
#define QPT_T "quantized_decomposed::quantize_per_tensor.Tensor_out"
#define DQPT "quantized_decomposed::dequantize_per_tensor.out"
#define DQPT_T "quantized_decomposed::dequantize_per_tensor.Tensor_out"
#define QPC "quantized_decomposed::quantize_per_channel.out"
#define DQPC "quantized_decomposed::dequantize_per_channel.out"
#define CQP "quantized_decomposed::choose_qparams.Tensor_out"
#define U16 INFD_DTYPE_UINT16

static infd_status call_raw(const char *key, struct infd_evalue **args, uint32_t n)
{
	const struct infd_kernel_def *def = infd__registry_find(op_reg, key);
	cr_assert_not_null(def, "kernel %s is not registered", key);
	struct infd_kernel_ctx ctx = {.err = &op_err, .op_key = key, .n_threads = 1};
	infd__error_clear(&op_err);
	return def->fn(&ctx, args, n);
}

static void dtype_range(int dt, int64_t *lo, int64_t *hi)
{
	switch (dt) {
	case U8: *lo = 0; *hi = 255; break;
	case I8: *lo = -128; *hi = 127; break;
	case I16: *lo = -32768; *hi = 32767; break;
	case U16: *lo = 0; *hi = 65535; break;
	default: *lo = INT32_MIN; *hi = INT32_MAX; break;
	}
}

/* Element k of an integer tensor (uint16 too, which opref does not read). */
static int64_t qget(const struct infd_tensor *t, uint64_t k)
{
	if (t->dtype == U16)
		return ((const uint16_t *)t->data)[k];
	return op_get_i(t, k);
}

static void qset(struct infd_tensor *t, uint64_t k, int64_t v)
{
	if (t->dtype == U16)
		((uint16_t *)t->data)[k] = (uint16_t)v;
	else if (t->dtype == I64)
		((int64_t *)t->data)[k] = v;
	else
		op_set(t, k, (double)v);
}

/* ExecuTorch's quantize_val: zp + nearbyint(x * (1/(float)scale)) formed in float,
 * clamped in int64. x is the float product already when `pre`. */
static int64_t ref_quant(double x, bool f64, double scale, int64_t zp, int64_t qmin, int64_t qmax)
{
	float inv = 1.0f / (float)scale;
	float prod = f64 ? (float)((double)inv * x) : (float)x * inv;
	float q = (float)(int32_t)zp + nearbyintf(prod);
	int64_t v = isnan(q) ? qmin : q >= 9.2e18f ? INT64_MAX : q <= -9.2e18f ? INT64_MIN : (int64_t)q;
	return v < qmin ? qmin : v > qmax ? qmax : v;
}

static struct infd_tensor *rnd_float(int dt, uint32_t rank, const int32_t *sizes, double lo, double hi)
{
	struct infd_tensor *t = op_tensor(dt, rank, sizes);
	for (uint64_t k = 0; k < t->numel; k++)
		op_set(t, k, op_rnd_uniform(lo, hi));
	return t;
}

static const int32_t shapes_r[] = {0, 1, 1, 3, 2};
static const int32_t shapes_s[][3] = {{1, 1, 1}, {7, 1, 1}, {1000, 1, 1}, {3, 5, 17}, {2, 0, 3}};

/* ---- quantize_per_tensor ------------------------------------------------------- */

Test(ops_quant, quantize_per_tensor_all_dtypes)
{
	const int qdts[] = {U8, I8, I16, U16, I32};
	const int idts[] = {F32, F64, F16, BF16};
	for (size_t q = 0; q < 5; q++)
		for (size_t i = 0; i < 4; i++)
			for (size_t s = 0; s < sizeof shapes_r / sizeof shapes_r[0]; s++) {
				int64_t lo, hi;
				dtype_range(qdts[q], &lo, &hi);
				/* a narrower custom range for the wide types */
				int64_t qmin = qdts[q] == I32 ? -1000 : lo, qmax = qdts[q] == I32 ? 1000 : hi;
				int64_t zp = qdts[q] == U8 || qdts[q] == U16 ? 7 : -3;
				double scale = 0.0371;
				uint32_t r = (uint32_t)shapes_r[s];
				struct infd_tensor *x = rnd_float(idts[i], r, shapes_s[s], -10, 10);
				struct infd_tensor *o = op_tensor(qdts[q], r, shapes_s[s]);
				CHECK_OK(OP_CALL(QPT, EV(x), op_ev_double(scale), op_ev_int(zp), op_ev_int(qmin),
						 op_ev_int(qmax), op_ev_int(qdts[q]), EV(o), EV(o)));
				op_check_shape(o, r, shapes_s[s]);
				for (uint64_t k = 0; k < o->numel; k++) {
					int64_t want = ref_quant(op_get(x, k), idts[i] == F64, scale, zp, qmin, qmax);
					cr_assert_eq(qget(o, k), want, "%s from %s: element %llu (x = %.9g): %lld, want %lld",
						     infd_dtype_name(qdts[q]), infd_dtype_name(idts[i]),
						     (unsigned long long)k, op_get(x, k), (long long)qget(o, k),
						     (long long)want);
				}
			}
}

Test(ops_quant, quantize_rounding_and_clamping)
{
	/* scale 0.5: x * 2 lands on halves, which round to even */
	const double xs[] = {0.25, 0.75, -0.25, -0.75, 1.25, 100, -100, NAN, INFINITY, -INFINITY, 63.4, -64.25};
	enum { N = sizeof xs / sizeof xs[0] };
	struct infd_tensor *x = op_tensor(F32, SHAPE(N)), *o = op_tensor(I8, SHAPE(N));
	for (int k = 0; k < N; k++)
		op_set(x, (uint64_t)k, xs[k]);
	CHECK_OK(OP_CALL(QPT, EV(x), op_ev_double(0.5), op_ev_int(0), op_ev_int(-128), op_ev_int(127),
			 op_ev_int(I8), EV(o), EV(o)));
	const double want[N] = {0, 2, 0, -2, 2, 127, -128, -128, 127, -128, 127, -128};
	op_check_close(o, want, 0, 0);
	/* a narrower range than the dtype's, and a zero point */
	CHECK_OK(OP_CALL(QPT, EV(x), op_ev_double(0.5), op_ev_int(10), op_ev_int(-20), op_ev_int(20),
			 op_ev_int(I8), EV(o), EV(o)));
	const double want2[N] = {10, 12, 10, 8, 12, 20, -20, -20, 20, -20, 20, -20};
	op_check_close(o, want2, 0, 0);
	/* int32 results keep the full range exactly */
	struct infd_tensor *y = op_tensor(F32, SHAPE(3)), *yo = op_tensor(I32, SHAPE(3));
	op_set(y, 0, 3e9);
	op_set(y, 1, -3e9);
	op_set(y, 2, 123456.0);
	CHECK_OK(OP_CALL(QPT, EV(y), op_ev_double(1.0), op_ev_int(0), op_ev_int(INT32_MIN), op_ev_int(INT32_MAX),
			 op_ev_int(I32), EV(yo), EV(yo)));
	cr_assert_eq(op_get_i(yo, 0), INT32_MAX);
	cr_assert_eq(op_get_i(yo, 1), INT32_MIN);
	cr_assert_eq(op_get_i(yo, 2), 123456);
}

Test(ops_quant, quantize_per_tensor_layouts_and_forms)
{
	const int32_t sz[] = {2, 3, 4, 5};
	const uint8_t cl[] = {0, 2, 3, 1};
	struct infd_tensor *x = op_tensor_order(F32, 4, sz, cl);
	op_fill_random(x, 5);
	struct infd_tensor *o = op_tensor(U8, 4, sz), *o2 = op_tensor_order(U8, 4, sz, cl);
	CHECK_OK(OP_CALL(QPT, EV(x), op_ev_double(0.04), op_ev_int(128), op_ev_int(0), op_ev_int(255),
			 op_ev_int(U8), EV(o), EV(o)));
	CHECK_OK(OP_CALL(QPT, EV(x), op_ev_double(0.04), op_ev_int(128), op_ev_int(0), op_ev_int(255),
			 op_ev_int(U8), EV(o2), EV(o2)));
	int64_t idx[4];
	for (idx[0] = 0; idx[0] < 2; idx[0]++)
		for (idx[1] = 0; idx[1] < 3; idx[1]++)
			for (idx[2] = 0; idx[2] < 4; idx[2]++)
				for (idx[3] = 0; idx[3] < 5; idx[3]++) {
					int64_t want = ref_quant(op_get_at(x, idx), false, 0.04, 128, 0, 255);
					cr_assert_eq((int64_t)op_get_at(o, idx), want);
					cr_assert_eq((int64_t)op_get_at(o2, idx), want);
				}
	/* Tensor_out: scale and zero point as one-element tensors */
	struct infd_tensor *s = op_tensor(F64, SHAPE(1)), *z = op_tensor(I64, SHAPE(1));
	op_set(s, 0, 0.04);
	qset(z, 0, 128);
	struct infd_tensor *o3 = op_tensor(U8, 4, sz);
	CHECK_OK(OP_CALL(QPT_T, EV(x), EV(s), EV(z), op_ev_int(0), op_ev_int(255), op_ev_int(U8), EV(o3), EV(o3)));
	cr_assert_eq(memcmp(o3->data, o->data, o->nbytes), 0);
	/* float32 scale and int32 zero point tensors are read too */
	struct infd_tensor *sf = op_tensor(F32, SCALAR_SHAPE), *zi = op_tensor(I32, SCALAR_SHAPE);
	op_set(sf, 0, 0.25);
	op_set(zi, 0, -1);
	struct infd_tensor *xs = rnd_float(F32, SHAPE(50), -40, 40), *os = op_tensor(I8, SHAPE(50));
	CHECK_OK(OP_CALL(QPT_T, EV(xs), EV(sf), EV(zi), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(os), EV(os)));
	for (uint64_t k = 0; k < 50; k++)
		cr_assert_eq(op_get_i(os, k), ref_quant(op_get(xs, k), false, 0.25, -1, -128, 127));
	/* the cortex_m:: name runs the same kernel */
	struct infd_tensor *oc = op_tensor(I8, SHAPE(50));
	CHECK_OK(OP_CALL("cortex_m::quantize_per_tensor.out", EV(xs), op_ev_double(0.25), op_ev_int(-1),
			 op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(oc), EV(oc)));
	cr_assert_eq(memcmp(oc->data, os->data, 50), 0);
	/* an out with room for more elements is resized */
	struct infd_tensor *big = op_tensor_cap(I8, SHAPE(1), 64);
	CHECK_OK(OP_CALL(QPT, EV(xs), op_ev_double(0.25), op_ev_int(-1), op_ev_int(-128), op_ev_int(127),
			 op_ev_int(I8), EV(big), EV(big)));
	op_check_shape(big, SHAPE(50));
}

Test(ops_quant, quantize_errors)
{
	struct infd_tensor *x = rnd_float(F32, SHAPE(4), -1, 1), *o = op_tensor(I8, SHAPE(4));
#define QARGS(xx, sc, zp, lo, hi, dt, out) EV(xx), op_ev_double(sc), op_ev_int(zp), op_ev_int(lo), op_ev_int(hi), op_ev_int(dt), EV(out), EV(out)
	CHECK_FAIL(OP_CALL(QPT, QARGS(x, 0.1, 0, -128, 127, U8, o)), "out has dtype int8");
	CHECK_FAIL(OP_CALL(QPT, QARGS(x, 0.1, 0, -129, 127, I8, o)), "quant_min -129");
	CHECK_FAIL(OP_CALL(QPT, QARGS(x, 0.1, 0, -128, 128, I8, o)), "quant_max 128");
	CHECK_FAIL(OP_CALL(QPT, QARGS(x, 0.0, 0, -128, 127, I8, o)), "scale must be a positive");
	CHECK_FAIL(OP_CALL(QPT, QARGS(x, -1.0, 0, -128, 127, I8, o)), "scale must be a positive");
	CHECK_FAIL(OP_CALL(QPT, QARGS(x, NAN, 0, -128, 127, I8, o)), "scale must be a positive");
	struct infd_tensor *of = op_tensor(F32, SHAPE(4));
	CHECK_FAIL(OP_CALL(QPT, QARGS(x, 0.1, 0, -128, 127, F32, of)), "not a quantized dtype");
	struct infd_tensor *xi = op_tensor(I32, SHAPE(4));
	CHECK_FAIL(OP_CALL(QPT, QARGS(xi, 0.1, 0, -128, 127, I8, o)), "floating-point");
	struct infd_tensor *small = op_tensor_cap(I8, SHAPE(2), 2);
	CHECK_FAIL(OP_CALL(QPT, QARGS(x, 0.1, 0, -128, 127, I8, small)), "resize");
	CHECK_FAIL(OP_CALL(QPT, EV(x), op_ev_string("s"), op_ev_int(0), op_ev_int(-128), op_ev_int(127),
			   op_ev_int(I8), EV(o), EV(o)),
		   "scale");
	CHECK_FAIL(OP_CALL(QPT, EV(x), op_ev_double(0.1), op_ev_double(0.5), op_ev_int(-128), op_ev_int(127),
			   op_ev_int(I8), EV(o), EV(o)),
		   "zero_point");
	CHECK_FAIL(call_raw(QPT, (struct infd_evalue *[]){QARGS(x, 0.1, 0, -128, 127, I8, o)}, 7), "expected 8 arguments");
	/* Tensor_out parameter tensors */
	struct infd_tensor *s2 = op_tensor(F64, SHAPE(2)), *z1 = op_tensor(I64, SHAPE(1)), *zf = op_tensor(F32, SHAPE(1));
	CHECK_FAIL(OP_CALL(QPT_T, EV(x), EV(s2), EV(z1), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(o), EV(o)),
		   "scale must be a floating-point tensor of one element");
	struct infd_tensor *s1 = op_tensor(F64, SHAPE(1));
	op_set(s1, 0, 0.1);
	CHECK_FAIL(OP_CALL(QPT_T, EV(x), EV(s1), EV(zf), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(o), EV(o)),
		   "zero_point must be an integer tensor");
	/* the out may not be the input's memory */
	struct infd_tensor *alias = op_tensor(I8, SHAPE(4));
	alias->data = x->data;
	CHECK_FAIL(OP_CALL(QPT, QARGS(x, 0.1, 0, -128, 127, I8, alias)), "shares memory");
#undef QARGS
}

/* ---- dequantize_per_tensor -------------------------------------------------------- */

static float ref_dequant(int64_t q, int64_t zp, double scale)
{
	return (float)(q - (int32_t)zp) * (float)scale;
}

static struct infd_tensor *rnd_q(int dt, uint32_t rank, const int32_t *sizes)
{
	int64_t lo, hi;
	dtype_range(dt, &lo, &hi);
	if (dt == I32) {
		lo = -100000;
		hi = 100000;
	}
	struct infd_tensor *t = op_tensor(dt, rank, sizes);
	for (uint64_t k = 0; k < t->numel; k++)
		qset(t, k, lo + (int64_t)(op_rnd() % (uint64_t)(hi - lo + 1)));
	return t;
}

Test(ops_quant, dequantize_per_tensor_all_dtypes)
{
	const int qdts[] = {U8, I8, I16, U16, I32};
	const int odts[] = {F32, F64, F16, BF16};
	for (size_t q = 0; q < 5; q++)
		for (size_t od = 0; od < 4; od++)
			for (size_t s = 0; s < sizeof shapes_r / sizeof shapes_r[0]; s++) {
				int64_t lo, hi;
				dtype_range(qdts[q], &lo, &hi);
				uint32_t r = (uint32_t)shapes_r[s];
				struct infd_tensor *x = rnd_q(qdts[q], r, shapes_s[s]);
				struct infd_tensor *o = op_tensor(odts[od], r, shapes_s[s]);
				int64_t zp = qdts[q] == U8 ? 128 : -5;
				struct infd_evalue *odt = od & 1 ? op_ev_int(odts[od]) : op_ev_null();
				CHECK_OK(OP_CALL(DQPT, EV(x), op_ev_double(0.0173), op_ev_int(zp), op_ev_int(lo),
						 op_ev_int(hi), op_ev_int(qdts[q]), odt, EV(o), EV(o)));
				op_check_shape(o, r, shapes_s[s]);
				struct infd_tensor *w = op_tensor(odts[od], SCALAR_SHAPE);
				for (uint64_t k = 0; k < o->numel; k++) {
					/* the float32 result converted to the out dtype */
					op_set(w, 0, ref_dequant(qget(x, k), zp, 0.0173));
					cr_assert_eq(op_get(o, k), op_get(w, 0), "%s -> %s element %llu: %.9g, want %.9g",
						     infd_dtype_name(qdts[q]), infd_dtype_name(odts[od]),
						     (unsigned long long)k, op_get(o, k), op_get(w, 0));
				}
			}
}

Test(ops_quant, dequantize_per_tensor_forms_and_errors)
{
	struct infd_tensor *x = rnd_q(I8, SHAPE(2, 3, 4, 5));
	const int32_t sz[] = {2, 3, 4, 5};
	const uint8_t cl[] = {0, 2, 3, 1};
	struct infd_tensor *o = op_tensor_order(F32, 4, sz, cl);
	CHECK_OK(OP_CALL(DQPT, EV(x), op_ev_double(0.1), op_ev_int(3), op_ev_int(-128), op_ev_int(127),
			 op_ev_int(I8), op_ev_null(), EV(o), EV(o)));
	int64_t idx[4];
	for (idx[0] = 0; idx[0] < 2; idx[0]++)
		for (idx[1] = 0; idx[1] < 3; idx[1]++)
			for (idx[2] = 0; idx[2] < 4; idx[2]++)
				for (idx[3] = 0; idx[3] < 5; idx[3]++)
					cr_assert_eq(op_get_at(o, idx), ref_dequant((int64_t)op_get_at(x, idx), 3, 0.1));
	/* Tensor_out and cortex_m forms agree with the plain one */
	struct infd_tensor *s = op_tensor(F64, SHAPE(1)), *z = op_tensor(I64, SHAPE(1));
	op_set(s, 0, 0.1);
	qset(z, 0, 3);
	struct infd_tensor *o1 = op_tensor(F32, SHAPE(2, 3, 4, 5)), *o2 = op_tensor(F32, SHAPE(2, 3, 4, 5));
	struct infd_tensor *o3 = op_tensor(F32, SHAPE(2, 3, 4, 5));
	CHECK_OK(OP_CALL(DQPT, EV(x), op_ev_double(0.1), op_ev_int(3), op_ev_int(-128), op_ev_int(127),
			 op_ev_int(I8), op_ev_int(F32), EV(o1), EV(o1)));
	CHECK_OK(OP_CALL(DQPT_T, EV(x), EV(s), EV(z), op_ev_int(-128), op_ev_int(127), op_ev_int(I8),
			 op_ev_null(), EV(o2), EV(o2)));
	CHECK_OK(OP_CALL("cortex_m::dequantize_per_tensor.out", EV(x), op_ev_double(0.1), op_ev_int(3),
			 op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(o3), EV(o3)));
	cr_assert_eq(memcmp(o1->data, o2->data, o1->nbytes), 0);
	cr_assert_eq(memcmp(o1->data, o3->data, o1->nbytes), 0);
	for (uint64_t k = 0; k < o1->numel; k++)
		cr_assert_eq(op_get(o1, k), ref_dequant(qget(x, k), 3, 0.1));
	/* errors */
	struct infd_tensor *of = op_tensor(F32, SHAPE(2, 3, 4, 5));
	CHECK_FAIL(OP_CALL(DQPT, EV(x), op_ev_double(0.1), op_ev_int(3), op_ev_int(-128), op_ev_int(127),
			   op_ev_int(U8), op_ev_null(), EV(of), EV(of)),
		   "input has dtype int8");
	CHECK_FAIL(OP_CALL(DQPT, EV(x), op_ev_double(0.1), op_ev_int(3), op_ev_int(-128), op_ev_int(127),
			   op_ev_int(I8), op_ev_int(F64), EV(of), EV(of)),
		   "out_dtype float64");
	CHECK_FAIL(OP_CALL(DQPT, EV(x), op_ev_double(0.1), op_ev_int(3), op_ev_int(127), op_ev_int(-128),
			   op_ev_int(I8), op_ev_null(), EV(of), EV(of)),
		   "greater than quant_max");
	struct infd_tensor *oi = op_tensor(I32, SHAPE(2, 3, 4, 5));
	CHECK_FAIL(OP_CALL(DQPT, EV(x), op_ev_double(0.1), op_ev_int(3), op_ev_int(-128), op_ev_int(127),
			   op_ev_int(I8), op_ev_null(), EV(oi), EV(oi)),
		   "floating-point");
	CHECK_FAIL(OP_CALL(DQPT, EV(x), op_ev_double(0.1), op_ev_int(3), op_ev_int(-128), op_ev_int(127),
			   op_ev_int(I8), op_ev_string("f"), EV(of), EV(of)),
		   "out_dtype");
	struct infd_tensor *xf = op_tensor(F32, SHAPE(2, 3, 4, 5));
	CHECK_FAIL(OP_CALL(DQPT, EV(xf), op_ev_double(0.1), op_ev_int(3), op_ev_int(-128), op_ev_int(127),
			   op_ev_int(F32), op_ev_null(), EV(of), EV(of)),
		   "not a quantized dtype");
	struct infd_tensor *nd = op_tensor(I8, SHAPE(3));
	nd->data = NULL;
	CHECK_FAIL(OP_CALL(DQPT, EV(nd), op_ev_double(0.1), op_ev_int(3), op_ev_int(-128), op_ev_int(127),
			   op_ev_int(I8), op_ev_null(), EV(of), EV(of)),
		   "no data");
}

/* ---- per channel -------------------------------------------------------------------- */

/* Channel of the element at logical index idx. */
Test(ops_quant, quantize_per_channel_axes)
{
	const int32_t sz[] = {4, 3, 6};
	const int64_t axes[] = {0, 1, 2, -1, -3};
	const int qdts[] = {I8, U8, I16, I32};
	for (size_t a = 0; a < sizeof axes / sizeof axes[0]; a++)
		for (size_t q = 0; q < 4; q++)
			for (int f64 = 0; f64 < 2; f64++) {
				int64_t axis = axes[a] < 0 ? axes[a] + 3 : axes[a];
				int32_t C = sz[axis];
				int64_t lo, hi;
				dtype_range(qdts[q], &lo, &hi);
				struct infd_tensor *x = rnd_float(f64 ? F64 : F32, 3, sz, -5, 5);
				struct infd_tensor *sc = op_tensor(F64, SHAPE(C)), *zp = op_tensor(I64, SHAPE(C));
				for (int32_t c = 0; c < C; c++) {
					op_set(sc, (uint64_t)c, 0.01 + 0.013 * c);
					qset(zp, (uint64_t)c, qdts[q] == U8 ? 100 + c : c - 2);
				}
				struct infd_tensor *o = op_tensor(qdts[q], 3, sz);
				CHECK_OK(OP_CALL(QPC, EV(x), EV(sc), EV(zp), op_ev_int(axes[a]), op_ev_int(lo),
						 op_ev_int(hi), op_ev_int(qdts[q]), EV(o), EV(o)));
				int64_t idx[3];
				for (idx[0] = 0; idx[0] < sz[0]; idx[0]++)
					for (idx[1] = 0; idx[1] < sz[1]; idx[1]++)
						for (idx[2] = 0; idx[2] < sz[2]; idx[2]++) {
							uint64_t c = (uint64_t)idx[axis];
							int64_t want = ref_quant(op_get_at(x, idx), f64, op_get(sc, c),
										 qget(zp, c), lo, hi);
							cr_assert_eq((int64_t)op_get_at(o, idx), want,
								     "axis %lld %s: %lld, want %lld", (long long)axes[a],
								     infd_dtype_name(qdts[q]), (long long)op_get_at(o, idx),
								     (long long)want);
						}
			}
}

Test(ops_quant, per_channel_channels_last_and_float32_params)
{
	/* a channels-last weight quantized along the channel axis 1 (stride 1 in memory) */
	const int32_t sz[] = {2, 5, 3, 4};
	const uint8_t cl[] = {0, 2, 3, 1};
	struct infd_tensor *x = op_tensor_order(F32, 4, sz, cl);
	op_fill_random(x, 2); /* inside the range of every channel */
	struct infd_tensor *sc = op_tensor(F32, SHAPE(5)), *zp = op_tensor(I32, SHAPE(5));
	for (int c = 0; c < 5; c++) {
		op_set(sc, (uint64_t)c, 0.02 * (c + 1));
		op_set(zp, (uint64_t)c, c);
	}
	struct infd_tensor *o = op_tensor_order(I8, 4, sz, cl);
	CHECK_OK(OP_CALL(QPC, EV(x), EV(sc), EV(zp), op_ev_int(1), op_ev_int(-128), op_ev_int(127),
			 op_ev_int(I8), EV(o), EV(o)));
	struct infd_tensor *d = op_tensor_order(F32, 4, sz, cl);
	CHECK_OK(OP_CALL(DQPC, EV(o), EV(sc), EV(zp), op_ev_int(1), op_ev_int(-128), op_ev_int(127),
			 op_ev_int(I8), op_ev_null(), EV(d), EV(d)));
	int64_t idx[4];
	for (idx[0] = 0; idx[0] < 2; idx[0]++)
		for (idx[1] = 0; idx[1] < 5; idx[1]++)
			for (idx[2] = 0; idx[2] < 3; idx[2]++)
				for (idx[3] = 0; idx[3] < 4; idx[3]++) {
					double s = op_get(sc, (uint64_t)idx[1]);
					int64_t z = (int64_t)idx[1];
					int64_t q = ref_quant(op_get_at(x, idx), false, s, z, -128, 127);
					cr_assert_eq((int64_t)op_get_at(o, idx), q);
					cr_assert_eq(op_get_at(d, idx), (float)((double)(q - z) * s));
					/* round trip within half a step */
					cr_assert_leq(fabs(op_get_at(d, idx) - op_get_at(x, idx)), s / 2 + 1e-6);
				}
	/* input and out in different dim orders are refused */
	struct infd_tensor *oc = op_tensor(I8, 4, sz);
	CHECK_FAIL(OP_CALL(QPC, EV(x), EV(sc), EV(zp), op_ev_int(1), op_ev_int(-128), op_ev_int(127),
			   op_ev_int(I8), EV(oc), EV(oc)),
		   "same dim order");
}

Test(ops_quant, dequantize_per_channel)
{
	const int32_t sz[] = {3, 4, 7};
	const int qdts[] = {I8, U8, I16, U16, I32};
	const int odts[] = {F32, F64, F16};
	for (int64_t axis = -1; axis < 3; axis++)
		for (size_t q = 0; q < 5; q++)
			for (size_t od = 0; od < 3; od++)
				for (int with_zp = 0; with_zp < 2; with_zp++) {
					int64_t ax = axis < 0 ? axis + 3 : axis;
					int32_t C = sz[ax];
					int64_t lo, hi;
					dtype_range(qdts[q], &lo, &hi);
					struct infd_tensor *x = rnd_q(qdts[q], 3, sz);
					struct infd_tensor *sc = op_tensor(F64, SHAPE(C)), *zp = op_tensor(I64, SHAPE(C));
					for (int32_t c = 0; c < C; c++) {
						op_set(sc, (uint64_t)c, 0.003 * (c + 1) + 1e-4);
						qset(zp, (uint64_t)c, with_zp ? c * 3 - 4 : 0);
					}
					struct infd_tensor *o = op_tensor(odts[od], 3, sz);
					CHECK_OK(OP_CALL(DQPC, EV(x), EV(sc), with_zp ? EV(zp) : op_ev_null(),
							 op_ev_int(axis), op_ev_int(lo), op_ev_int(hi),
							 op_ev_int(qdts[q]), op_ev_int(odts[od]), EV(o), EV(o)));
					struct infd_tensor *w = op_tensor(odts[od], SCALAR_SHAPE);
					int64_t idx[3];
					for (idx[0] = 0; idx[0] < sz[0]; idx[0]++)
						for (idx[1] = 0; idx[1] < sz[1]; idx[1]++)
							for (idx[2] = 0; idx[2] < sz[2]; idx[2]++) {
								uint64_t c = (uint64_t)idx[ax];
								uint64_t k = (uint64_t)((idx[0] * sz[1] + idx[1]) * sz[2] + idx[2]);
								int64_t d = qget(x, k) - qget(zp, c);
								double s = op_get(sc, c);
								double want = odts[od] == F64 ? (double)d * (double)(float)s
												 : (double)(float)((double)d * s);
								op_set(w, 0, want);
								cr_assert_eq(op_get_at(o, idx), op_get(w, 0),
									     "%s -> %s axis %lld: %.9g, want %.9g",
									     infd_dtype_name(qdts[q]), infd_dtype_name(odts[od]),
									     (long long)axis, op_get_at(o, idx), op_get(w, 0));
							}
				}
}

Test(ops_quant, per_channel_errors_and_edges)
{
	struct infd_tensor *x = rnd_float(F32, SHAPE(3, 4), -1, 1), *o = op_tensor(I8, SHAPE(3, 4));
	struct infd_tensor *sc = op_tensor(F64, SHAPE(4)), *zp = op_tensor(I64, SHAPE(4));
	for (int c = 0; c < 4; c++)
		op_set(sc, (uint64_t)c, 0.1);
	CHECK_FAIL(OP_CALL(QPC, EV(x), EV(sc), EV(zp), op_ev_int(0), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(o), EV(o)),
		   "scales has 4 elements, the axis has 3");
	CHECK_FAIL(OP_CALL(QPC, EV(x), EV(sc), EV(zp), op_ev_int(2), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(o), EV(o)),
		   "axis 2 is out of range");
	CHECK_FAIL(OP_CALL(QPC, EV(x), EV(sc), EV(zp), op_ev_int(-3), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(o), EV(o)),
		   "axis -3 is out of range");
	CHECK_FAIL(OP_CALL(QPC, EV(x), EV(zp), EV(zp), op_ev_int(1), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(o), EV(o)),
		   "scales must be a floating-point tensor");
	CHECK_FAIL(OP_CALL(QPC, EV(x), EV(sc), EV(sc), op_ev_int(1), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(o), EV(o)),
		   "zero_points must be an integer tensor");
	op_set(sc, 2, 0);
	CHECK_FAIL(OP_CALL(QPC, EV(x), EV(sc), EV(zp), op_ev_int(1), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(o), EV(o)),
		   "scale must be a positive");
	struct infd_tensor *x0 = op_tensor(F32, SCALAR_SHAPE), *o0 = op_tensor(I8, SCALAR_SHAPE);
	CHECK_FAIL(OP_CALL(QPC, EV(x0), EV(sc), EV(zp), op_ev_int(0), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(o0), EV(o0)),
		   "rank 1 or more");
	struct infd_tensor *q = rnd_q(I8, SHAPE(3, 4)), *d = op_tensor(F32, SHAPE(3, 4));
	CHECK_FAIL(OP_CALL(DQPC, EV(q), EV(sc), EV(zp), op_ev_int(1), op_ev_int(-128), op_ev_int(127), op_ev_int(U8),
			   op_ev_null(), EV(d), EV(d)),
		   "input has dtype int8");
	CHECK_FAIL(OP_CALL(DQPC, EV(q), EV(sc), op_ev_int(0), op_ev_int(1), op_ev_int(-128), op_ev_int(127), op_ev_int(I8),
			   op_ev_null(), EV(d), EV(d)),
		   "zero_points");
	CHECK_FAIL(call_raw(DQPC, (struct infd_evalue *[]){EV(q), EV(sc), EV(zp), op_ev_int(1), op_ev_int(-128),
							  op_ev_int(127), op_ev_int(I8), EV(d), EV(d)},
			    9),
		   "expected 10 arguments");
	/* empty tensors along and across the axis */
	struct infd_tensor *xe = op_tensor(F32, SHAPE(0, 4)), *oe = op_tensor(I8, SHAPE(0, 4));
	op_set(sc, 2, 0.1);
	CHECK_OK(OP_CALL(QPC, EV(xe), EV(sc), EV(zp), op_ev_int(1), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(oe), EV(oe)));
	op_check_shape(oe, SHAPE(0, 4));
	struct infd_tensor *se = op_tensor(F64, SHAPE(0)), *ze = op_tensor(I64, SHAPE(0));
	CHECK_OK(OP_CALL(QPC, EV(xe), EV(se), EV(ze), op_ev_int(0), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(oe), EV(oe)));
	/* large per-channel run (more than one block) */
	struct infd_tensor *xl = rnd_float(F32, SHAPE(2, 700), -3, 3), *ol = op_tensor(I8, SHAPE(2, 700));
	struct infd_tensor *s2 = op_tensor(F64, SHAPE(2)), *z2 = op_tensor(I64, SHAPE(2));
	op_set(s2, 0, 0.02);
	op_set(s2, 1, 0.05);
	qset(z2, 1, -7);
	CHECK_OK(OP_CALL(QPC, EV(xl), EV(s2), EV(z2), op_ev_int(0), op_ev_int(-128), op_ev_int(127), op_ev_int(I8), EV(ol), EV(ol)));
	for (uint64_t k = 0; k < 1400; k++)
		cr_assert_eq(op_get_i(ol, k), ref_quant(op_get(xl, k), false, k < 700 ? 0.02 : 0.05, k < 700 ? 0 : -7, -128, 127));
}

/* ---- choose_qparams --------------------------------------------------------------------- */

/* ExecuTorch's choose_qparams, written again from its description. */
static void ref_choose(const struct infd_tensor *x, int32_t qmin, int32_t qmax, double *scale_out,
		       int64_t *zp_out)
{
	float mn = INFINITY, mx = -INFINITY;
	for (uint64_t k = 0; k < x->numel; k++) {
		float v = (float)op_get(x, k);
		mn = fminf(mn, v);
		mx = fmaxf(mx, v);
	}
	float min = fminf(mn, 0), max = fmaxf(mx, 0);
	double scale = ((double)max - min) / (qmax - qmin);
	if ((float)scale == 0 || isinf(1.0f / (float)scale))
		scale = 0.1;
	const float thr = 6.1e-5f;
	if (scale < thr) {
		float org = (float)scale;
		scale = thr;
		if (min == 0)
			max = thr * (float)(qmax - qmin);
		else if (max == 0)
			min = -thr * (float)(qmax - qmin);
		else {
			min *= thr / org;
			max *= thr / org;
		}
	}
	double zmin = qmin - min / scale, zmax = qmax - max / scale;
	double emin = fabs((double)qmin) - fabs(min / scale), emax = fabs((double)qmax) - fabs(max / scale);
	double z = emin < emax ? zmin : zmax;
	*zp_out = z < qmin ? qmin : z > qmax ? qmax : (int64_t)nearbyint(z);
	*scale_out = scale;
}

static void run_choose(struct infd_tensor *x, int32_t qmin, int32_t qmax)
{
	struct infd_tensor *s = op_tensor(F64, SHAPE(1)), *z = op_tensor(I64, SHAPE(1));
	struct infd_tensor *outs[] = {s, z};
	CHECK_OK(OP_CALL(CQP, EV(x), op_ev_int(qmin), op_ev_int(qmax), op_ev_double(1e-7), op_ev_int(I8),
			 EV(s), EV(z), op_ev_tensor_list(2, outs)));
	double ws;
	int64_t wz;
	ref_choose(x, qmin, qmax, &ws, &wz);
	cr_assert_eq(op_get(s, 0), ws, "scale %.17g, want %.17g", op_get(s, 0), ws);
	cr_assert_eq(op_get_i(z, 0), wz, "zero point %lld, want %lld", (long long)op_get_i(z, 0), (long long)wz);
	/* the chosen parameters represent 0 exactly and cover the input */
	struct infd_tensor *zero = op_tensor(F32, SHAPE(1)), *q = op_tensor(I32, SHAPE(1));
	CHECK_OK(OP_CALL(QPT, EV(zero), op_ev_double(ws), op_ev_int(wz), op_ev_int(qmin), op_ev_int(qmax),
			 op_ev_int(I32), EV(q), EV(q)));
	cr_assert_eq(op_get_i(q, 0), wz);
}

Test(ops_quant, choose_qparams)
{
	/* mixed signs, all positive, all negative, tiny ranges, zeros, one element */
	struct infd_tensor *a = rnd_float(F32, SHAPE(3, 100), -2, 5);
	run_choose(a, -128, 127);
	run_choose(a, 0, 255);
	run_choose(rnd_float(F32, SHAPE(1000), 0.5, 3), -128, 127);
	run_choose(rnd_float(F32, SHAPE(1000), -3, -0.5), 0, 255);
	run_choose(rnd_float(F32, SHAPE(50), -1e-4, 1e-4), -128, 127);
	run_choose(rnd_float(F32, SHAPE(50), 0, 1e-5), -128, 127);
	run_choose(rnd_float(F32, SHAPE(50), -1e-5, 0), -128, 127);
	run_choose(op_tensor(F32, SHAPE(10)), -128, 127);
	run_choose(rnd_float(F32, SCALAR_SHAPE, 3, 4), -128, 127);
	run_choose(rnd_float(F16, SHAPE(300), -7, 2), -128, 127);
	/* a channels-last input: the order does not matter */
	const int32_t sz[] = {2, 3, 4, 5};
	struct infd_tensor *cl = op_tensor_order(F32, 4, sz, (const uint8_t[]){0, 2, 3, 1});
	op_fill_random(cl, 9);
	run_choose(cl, -128, 127);
	/* NaN is ignored by min and max */
	struct infd_tensor *n = rnd_float(F32, SHAPE(20), -1, 1);
	op_set(n, 0, NAN);
	struct infd_tensor *s = op_tensor(F64, SHAPE(1)), *z = op_tensor(I64, SHAPE(1));
	struct infd_tensor *outs[] = {s, z};
	CHECK_OK(OP_CALL(CQP, EV(n), op_ev_int(-128), op_ev_int(127), op_ev_double(1e-7), op_ev_int(I8),
			 EV(s), EV(z), op_ev_tensor_list(2, outs)));
	cr_assert(isfinite(op_get(s, 0)) && op_get(s, 0) > 0);
	/* a float32 scale out and an int32 zero point out are written too */
	struct infd_tensor *sf = op_tensor(F32, SHAPE(1)), *zi = op_tensor(I32, SHAPE(1));
	struct infd_tensor *outs2[] = {sf, zi};
	CHECK_OK(OP_CALL(CQP, EV(a), op_ev_int(-128), op_ev_int(127), op_ev_double(1e-7), op_ev_int(I8),
			 EV(sf), EV(zi), op_ev_tensor_list(2, outs2)));
	double ws;
	int64_t wz;
	ref_choose(a, -128, 127, &ws, &wz);
	cr_assert_eq(op_get(sf, 0), (float)ws);
	cr_assert_eq(op_get_i(zi, 0), wz);
}

Test(ops_quant, choose_qparams_errors)
{
	struct infd_tensor *x = rnd_float(F32, SHAPE(10), -1, 1);
	struct infd_tensor *s = op_tensor(F64, SHAPE(1)), *z = op_tensor(I64, SHAPE(1));
	struct infd_tensor *outs[] = {s, z}, *swapped[] = {z, s};
#define CARGS(xx, lo, hi, ss, zz, ret) EV(xx), op_ev_int(lo), op_ev_int(hi), op_ev_double(1e-7), op_ev_int(I8), EV(ss), EV(zz), ret
	CHECK_FAIL(OP_CALL(CQP, CARGS(x, 127, -128, s, z, op_ev_tensor_list(2, outs))), "less than quant_max");
	CHECK_FAIL(OP_CALL(CQP, CARGS(x, -128, 127, s, z, op_ev_tensor_list(2, swapped))), "return slot");
	CHECK_FAIL(OP_CALL(CQP, CARGS(x, -128, 127, s, z, EV(s))), "return slot");
	struct infd_tensor *e = op_tensor(F32, SHAPE(0));
	CHECK_FAIL(OP_CALL(CQP, CARGS(e, -128, 127, s, z, op_ev_tensor_list(2, outs))), "empty");
	struct infd_tensor *xi = op_tensor(I32, SHAPE(10));
	CHECK_FAIL(OP_CALL(CQP, CARGS(xi, -128, 127, s, z, op_ev_tensor_list(2, outs))), "floating-point");
	struct infd_tensor *s2 = op_tensor(F64, SHAPE(2)), *outs2[] = {s2, z};
	CHECK_FAIL(OP_CALL(CQP, CARGS(x, -128, 127, s2, z, op_ev_tensor_list(2, outs2))), "one element");
	struct infd_tensor *outs3[] = {s, s};
	CHECK_FAIL(OP_CALL(CQP, CARGS(x, -128, 127, s, s, op_ev_tensor_list(2, outs3))), "integer tensor");
	struct infd_tensor *inf = rnd_float(F32, SHAPE(3), -1, 1);
	op_set(inf, 1, INFINITY);
	CHECK_FAIL(OP_CALL(CQP, CARGS(inf, -128, 127, s, z, op_ev_tensor_list(2, outs))), "finite range");
#undef CARGS
}

Test(ops_quant, registered_argument_counts)
{
	const struct {
		const char *key;
		int32_t n;
	} keys[] = {
		{QPT, 8}, {QPT_T, 8}, {DQPT, 9}, {DQPT_T, 9}, {QPC, 9}, {DQPC, 10}, {CQP, 8},
		{"cortex_m::quantize_per_tensor.out", 8}, {"cortex_m::dequantize_per_tensor.out", 8},
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const struct infd_kernel_def *def = infd__registry_find(op_reg, keys[i].key);
		cr_assert_not_null(def, "%s is not registered", keys[i].key);
		cr_assert_eq(def->n_args, keys[i].n, "%s: %d arguments", keys[i].key, def->n_args);
	}
}
