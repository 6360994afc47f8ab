/* Unary elementwise kernels: float math (exp, log, trigonometry, erf, ...),
 * activations (sigmoid, tanh, relu, gelu, silu, hardswish, leaky_relu, elu, ...),
 * rounding, sign, abs, neg, predicates and bitwise_not, over the driver of elementwise.c. */
#include "elementwise.h"

#include <math.h>

/* ---- Float math written to vectorize ------------------------------------------- */

EW_INLINE uint32_t f32_bits(float f)
{
	union {
		float f;
		uint32_t u;
	} v = {.f = f};
	return v.u;
}

EW_INLINE float f32_from_bits(uint32_t u)
{
	union {
		uint32_t u;
		float f;
	} v = {.u = u};
	return v.f;
}

/* c ? a : b with both sides computed: a bit mask, so that the compiler neither
 * branches nor refuses to vectorize (it may not speculate float arithmetic). */
EW_INLINE float sel_f32(int c, float a, float b)
{
	uint32_t m = 0u - (uint32_t)(c != 0);
	return f32_from_bits((f32_bits(a) & m) | (f32_bits(b) & ~m));
}

EW_INLINE double sel_f64(int c, double a, double b)
{
	return c ? a : b;
}

/* e^x, branch-free (Cephes' expf polynomial with the exponent split in two
 * factors): within 2 ulp, as close as the SIMD exp PyTorch's CPU kernels use. */
EW_INLINE float ew_expf(float x)
{
	x = sel_f32(x < -104.0f, -104.0f, x); /* NaN passes through both */
	x = sel_f32(x > 89.0f, 89.0f, x);
	const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
	float t = x * 1.44269504088896341f + magic;
	float k = t - magic;
	int32_t ki = (int32_t)(f32_bits(t) - 0x4b400000u); /* k as an integer (|k| <= 150) */
	float r = x - k * 0.693359375f;
	r = r - k * -2.12194440e-4f;
	float z = r * r;
	float y = 1.9875691500e-4f;
	y = y * r + 1.3981999507e-3f;
	y = y * r + 8.3334519073e-3f;
	y = y * r + 4.1665795894e-2f;
	y = y * r + 1.6666665459e-1f;
	y = y * r + 5.0000001201e-1f;
	y = y * z + r + 1.0f;
	int32_t k1 = ki / 2, k2 = ki - k1;
	return y * f32_from_bits((uint32_t)(k1 + 127) << 23) * f32_from_bits((uint32_t)(k2 + 127) << 23);
}

/* tanh: Cephes' odd polynomial below 0.625, 1 - 2 / (e^2|x| + 1) above. */
EW_INLINE float ew_tanhf(float x)
{
	float ax = fabsf(x), z = x * x;
	float s = -5.70498872745e-3f;
	s = s * z + 2.06390887954e-2f;
	s = s * z - 5.37397155531e-2f;
	s = s * z + 1.33314422036e-1f;
	s = s * z - 3.33332819422e-1f;
	s = s * z * x + x;
	float l = copysignf(1.0f - 2.0f / (ew_expf(2.0f * ax) + 1.0f), x);
	return sel_f32(ax < 0.625f, s, l);
}

/* erf as PyTorch's vectorized CPU kernels compute it inside gelu (Abramowitz and
 * Stegun 7.1.26, absolute error below 1.5e-7). */
EW_INLINE float ew_erf_as(float x)
{
	float ax = fabsf(x);
	float t = 1.0f / (0.3275911f * ax + 1.0f);
	float r = 1.061405429f;
	r = r * t - 1.453152027f;
	r = r * t + 1.421413741f;
	r = r * t - 0.284496736f;
	r = r * t + 0.254829592f;
	return copysignf(1.0f - r * t * ew_expf(-(x * x)), x);
}

/* Round half to even (nearbyint), floor, ceil and trunc without library calls:
 * adding and removing 2^23 rounds in the current (nearest-even) mode; values of
 * 2^23 and above are integers already (and inf, NaN pass through). */
EW_INLINE float ew_rintf(float x)
{
	float ax = fabsf(x);
	float r = copysignf((ax + 8388608.0f) - 8388608.0f, x);
	return sel_f32(ax < 8388608.0f, r, x);
}

EW_INLINE float ew_floorf(float x)
{
	float r = ew_rintf(x);
	return r - sel_f32(r > x, 1.0f, 0.0f);
}

EW_INLINE float ew_ceilf(float x)
{
	float r = ew_rintf(x);
	return r + sel_f32(r < x, 1.0f, -0.0f); /* -0.0 keeps ceil(-0.5) = -0 */
}

EW_INLINE float ew_truncf(float x)
{
	return copysignf(ew_floorf(fabsf(x)), x);
}

/* PyTorch's gelu constants. */
#define GELU_BETA 0.7978845608028654 /* sqrt(2) * 2/sqrt(pi) * 0.5 */
#define GELU_KAPPA 0.044715

/* hardsigmoid as ATen writes it, min(max(x + 3, 0), 6) / 6 (NaN propagates) */
EW_INLINE float h_hsig_f32(float x)
{
	float t = x + 3.0f;
	t = sel_f32(t < 0.0f, 0.0f, t);
	t = sel_f32(6.0f < t, 6.0f, t);
	return t / 6.0f;
}

EW_INLINE double h_hsig_f64(double x)
{
	double t = x + 3.0;
	t = t < 0.0 ? 0.0 : t;
	t = 6.0 < t ? 6.0 : t;
	return t / 6.0;
}

EW_INLINE float h_hswish_f32(float x)
{
	float t = x + 3.0f;
	t = sel_f32(t < 0.0f, 0.0f, t);
	t = sel_f32(6.0f < t, 6.0f, t);
	return x * t / 6.0f;
}

EW_INLINE double h_hswish_f64(double x)
{
	double t = x + 3.0;
	t = t < 0.0 ? 0.0 : t;
	t = 6.0 < t ? 6.0 : t;
	return x * t / 6.0;
}

/* ---- Typed loops ----------------------------------------------------------------- */

/* Float-only unary math: (name, float32 expression, float64 expression). */
#define F_UNARY(NAME, E32, E64)                                                            \
	UNARY(NAME##_f32, float, float, , E32)                                             \
	UNARY(NAME##_f64, double, double, , E64)
F_UNARY(sigmoid, 1.0f / (1.0f + ew_expf(-x)), 1.0 / (1.0 + exp(-x)))
F_UNARY(tanh, ew_tanhf(x), tanh(x))
F_UNARY(exp, ew_expf(x), exp(x))
F_UNARY(log, logf(x), log(x))
F_UNARY(sqrt, sqrtf(x), sqrt(x))
F_UNARY(rsqrt, 1.0f / sqrtf(x), 1.0 / sqrt(x))
F_UNARY(sin, sinf(x), sin(x))
F_UNARY(cos, cosf(x), cos(x))
F_UNARY(tan, tanf(x), tan(x))
F_UNARY(asin, asinf(x), asin(x))
F_UNARY(acos, acosf(x), acos(x))
F_UNARY(atan, atanf(x), atan(x))
F_UNARY(sinh, sinhf(x), sinh(x))
F_UNARY(cosh, coshf(x), cosh(x))
F_UNARY(asinh, asinhf(x), asinh(x))
F_UNARY(acosh, acoshf(x), acosh(x))
F_UNARY(atanh, atanhf(x), atanh(x))
F_UNARY(reciprocal, 1.0f / x, 1.0 / x)
F_UNARY(erf, erff(x), erf(x))
F_UNARY(expm1, expm1f(x), expm1(x))
F_UNARY(log1p, log1pf(x), log1p(x))
F_UNARY(log2, log2f(x), log2(x))
F_UNARY(log10, log10f(x), log10(x))
F_UNARY(silu, x / (1.0f + ew_expf(-x)), x / (1.0 + exp(-x)))
F_UNARY(gelu_none, x * 0.5f * (1.0f + ew_erf_as(x * (float)M_SQRT1_2)),
	x * 0.5 * (1.0 + erf(x * M_SQRT1_2)))
F_UNARY(gelu_tanh,
	0.5f * x * (1.0f + ew_tanhf((float)GELU_BETA * (x + (float)GELU_KAPPA * (x * x * x)))),
	0.5 * x * (1.0 + tanh(GELU_BETA * (x + GELU_KAPPA * (x * x * x)))))
F_UNARY(hardsigmoid, h_hsig_f32(x), h_hsig_f64(x))
F_UNARY(hardswish, h_hswish_f32(x), h_hswish_f64(x))
/* pow by the exponents ATen special-cases */
F_UNARY(square, x * x, x * x)
F_UNARY(cube, x * x * x, x * x * x)
F_UNARY(invsquare, 1.0f / (x * x), 1.0 / (x * x))

/* Float ops with constants in p. */
UNARY(leaky_relu_f32, float, float, const float s = p->f[0], sel_f32(x > 0, x, x * s))
UNARY(leaky_relu_f64, double, double, const double s = p->d[0], sel_f64(x > 0, x, x * s))
/* elu: f[0] = scale, f[1] = alpha * scale, f[2] = input_scale */
UNARY(elu_f32, float, float, const float pc = p->f[0]; const float nc = p->f[1];
      const float ic = p->f[2], x <= 0 ? expm1f(x * ic) * nc : x * pc)
UNARY(elu_f64, double, double, const double pc = p->d[0]; const double nc = p->d[1];
      const double ic = p->d[2], x <= 0 ? expm1(x * ic) * nc : x * pc)

/* Rounding: integers are their own floor/ceil/round/trunc. */
#define COPY_LOOP(S, T, U, F) UNARY(copy_##S, T, T, , x)
BINT_TYPES(COPY_LOOP)
F_UNARY(floor, ew_floorf(x), floor(x))
F_UNARY(ceil, ew_ceilf(x), ceil(x))
F_UNARY(round, ew_rintf(x), nearbyint(x))
F_UNARY(trunc, ew_truncf(x), trunc(x))
#define T_ROUNDING(N) {copy_b, copy_u8, copy_i8, copy_i16, copy_i32, copy_i64, N##_f32, N##_f64}

/* Sign-aware unary ops on every number type. relu keeps NaN (x < 0 is false). */
#define SINT_UNARY(S, T, U, F)                                                             \
	UNARY(relu_##S, T, T, , x < 0 ? 0 : x)                                             \
	UNARY(neg_##S, T, T, , (U)(0 - (U)x))                                              \
	UNARY(abs_##S, T, T, , x < 0 ? (U)(0 - (U)x) : (U)x)                               \
	UNARY(sign_##S, T, T, , (x > 0) - (x < 0))
SINT_TYPES(SINT_UNARY)
UNARY(relu_u8, uint8_t, uint8_t, , x)
UNARY(neg_u8, uint8_t, uint8_t, , 0u - x)
UNARY(abs_u8, uint8_t, uint8_t, , x)
UNARY(sign_u8, uint8_t, uint8_t, , x != 0)
F_UNARY(relu, x < 0 ? 0.0f : x, x < 0 ? 0.0 : x)
F_UNARY(neg, -x, -x)
F_UNARY(abs, fabsf(x), fabs(x))
F_UNARY(sign, (float)((0 < x) - (x < 0)), (double)((0 < x) - (x < 0)))

/* Predicates: any input, bool (0/1 bytes) out. */
#define LOGICAL_NOT_LOOP(S, T, U, F) UNARY(logical_not_##S, T, uint8_t, , x == 0)
ALL_TYPES(LOGICAL_NOT_LOOP)
#define FALSE_LOOP(S, T, U, F) UNARY(false_##S, T, uint8_t, , x & 0)
BINT_TYPES(FALSE_LOOP)
UNARY(isnan_f32, float, uint8_t, , x != x)
UNARY(isnan_f64, double, uint8_t, , x != x)
UNARY(isinf_f32, float, uint8_t, , fabsf(x) == INFINITY)
UNARY(isinf_f64, double, uint8_t, , fabs(x) == INFINITY)
#define T_FLOAT_PRED(N) {false_b, false_u8, false_i8, false_i16, false_i32, false_i64, N##_f32, N##_f64}

/* Bitwise not on integers; on bools it is logical not. */
#define INT_BITWISE_NOT(S, T, U, F) UNARY(bitwise_not_##S, T, T, , (U)~(U)x)
INT_TYPES(INT_BITWISE_NOT)
UNARY(bitwise_not_b, uint8_t, uint8_t, , x == 0)

/* ---- Unary kernels -------------------------------------------------------------- */

enum ukind {
	UK_FLOAT,      /* float math: integer and bool inputs compute in float32 */
	UK_FLOAT_ONLY, /* activations defined for floating inputs only */
	UK_NUM,        /* same dtype as the input; bool refused */
	UK_ALL,        /* same dtype as the input, bool included */
	UK_PRED,       /* any input, bool result */
	UK_INT,        /* integer and bool inputs only */
};

struct uop {
	efn fns[N_CT];
	uint8_t kind;
};

infd_status infd__ew_unary_run(const struct infd_kargs *A, const struct uop *op,
			       const struct infd_tensor *x, struct infd_tensor *out,
			       struct eparams *prm)
{
	infd_status st;
	int sdt = x->dtype, pdt = sdt;
	if ((st = infd__ew_check_dtype(A, "self", sdt)))
		return st;
	switch (op->kind) {
	case UK_FLOAT:
		if (!infd__dtype_is_float(sdt))
			pdt = INFD_DTYPE_FLOAT32;
		break;
	case UK_FLOAT_ONLY:
		if (!infd__dtype_is_float(sdt))
			return infd__kfail(A, INFD_KERNEL_FAILED,
					   "self must be a floating-point tensor, got %s",
					   infd_dtype_name(sdt));
		break;
	case UK_NUM:
		if (sdt == INFD_DTYPE_BOOL)
			return infd__kfail(A, INFD_KERNEL_FAILED, "bool tensors are not supported");
		break;
	case UK_INT:
		if (infd__dtype_is_float(sdt))
			return infd__kfail(A, INFD_KERNEL_FAILED,
					   "self must be an integer or bool tensor, got %s",
					   infd_dtype_name(sdt));
		break;
	default:
		break;
	}
	int rdt = op->kind == UK_PRED ? INFD_DTYPE_BOOL : pdt;
	efn fn = NULL;
	if ((st = infd__ew_check_out(A, rdt, out->dtype)) ||
	    (st = infd__ew_pick(A, op->fns, infd__compute_dtype(pdt), sdt, &fn)))
		return st;
	struct operand o = infd__ew_tensor_operand(x, pdt);
	return infd__ew_launch(A, fn, out, infd__compute_dtype(rdt), rdt, &o, 1, prm);
}

/* [self, out, ret] */
static infd_status unary_simple(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				uint32_t n, const char *name, const struct uop *op)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *x;
	struct infd_tensor *out;
	struct eparams prm = {.zero_div = 0};
	if ((st = infd__kargs_begin(&A, ctx, args, n, name, 3)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &x)) || (st = infd__karg_out(&A, 1, 2, &out)))
		return st;
	return infd__ew_unary_run(&A, op, x, out, &prm);
}

#define UOP(NAME, TABLE, KIND) static const struct uop op_##NAME = {TABLE, KIND};
#define UENTRY(NAME, KEY)                                                                  \
	infd_status infd__k_##NAME##_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, \
					 uint32_t n)                                       \
	{                                                                                  \
		return unary_simple(ctx, args, n, KEY, &op_##NAME);                        \
	}

#define FLOAT_UNARY_OPS(X)                                                                 \
	X(sigmoid) X(tanh) X(exp) X(log) X(sqrt) X(rsqrt) X(sin) X(cos) X(tan) X(asin)    \
	X(acos) X(atan) X(sinh) X(cosh) X(asinh) X(acosh) X(atanh) X(reciprocal) X(erf)   \
	X(expm1) X(log1p) X(log2) X(log10)
#define DEF_FLOAT_UNARY(N) UOP(N, T_FLOAT(N), UK_FLOAT) UENTRY(N, "aten::" #N ".out")
FLOAT_UNARY_OPS(DEF_FLOAT_UNARY)

UOP(silu, T_FLOAT(silu), UK_FLOAT_ONLY)
UENTRY(silu, "aten::silu.out")
UOP(hardswish, T_FLOAT(hardswish), UK_FLOAT_ONLY)
UENTRY(hardswish, "aten::hardswish.out")
UOP(hardsigmoid, T_FLOAT(hardsigmoid), UK_FLOAT_ONLY)
UENTRY(hardsigmoid, "aten::hardsigmoid.out")
UOP(relu, T_NUM(relu), UK_NUM)
UENTRY(relu, "aten::relu.out")
UOP(neg, T_NUM(neg), UK_NUM)
UENTRY(neg, "aten::neg.out")
UOP(abs, T_NUM(abs), UK_NUM)
UENTRY(abs, "aten::abs.out")
UOP(floor, T_ROUNDING(floor), UK_NUM)
UENTRY(floor, "aten::floor.out")
UOP(ceil, T_ROUNDING(ceil), UK_NUM)
UENTRY(ceil, "aten::ceil.out")
UOP(round, T_ROUNDING(round), UK_NUM)
UENTRY(round, "aten::round.out")
UOP(trunc, T_ROUNDING(trunc), UK_NUM)
UENTRY(trunc, "aten::trunc.out")
static const struct uop op_sign = {{copy_b, sign_u8, sign_i8, sign_i16, sign_i32, sign_i64,
				    sign_f32, sign_f64},
				   UK_ALL};
UENTRY(sign, "aten::sign.out")
UOP(logical_not, T_ALL(logical_not), UK_PRED)
UENTRY(logical_not, "aten::logical_not.out")
UOP(isnan, T_FLOAT_PRED(isnan), UK_PRED)
UENTRY(isnan, "aten::isnan.out")
UOP(isinf, T_FLOAT_PRED(isinf), UK_PRED)
UENTRY(isinf, "aten::isinf.out")
static const struct uop op_bitwise_not = {{bitwise_not_b, bitwise_not_u8, bitwise_not_i8,
					   bitwise_not_i16, bitwise_not_i32, bitwise_not_i64},
					  UK_INT};
UENTRY(bitwise_not, "aten::bitwise_not.out")

UOP(leaky_relu, T_FLOAT(leaky_relu), UK_FLOAT_ONLY)
UOP(elu, T_FLOAT(elu), UK_FLOAT_ONLY)
UOP(gelu_none, T_FLOAT(gelu_none), UK_FLOAT_ONLY)
UOP(gelu_tanh, T_FLOAT(gelu_tanh), UK_FLOAT_ONLY)
UOP(square, T_FLOAT(square), UK_FLOAT)
UOP(cube, T_FLOAT(cube), UK_FLOAT)
UOP(invsquare, T_FLOAT(invsquare), UK_FLOAT)
UOP(pow_sqrt, T_FLOAT(sqrt), UK_FLOAT)
UOP(pow_rsqrt, T_FLOAT(rsqrt), UK_FLOAT)
UOP(pow_reciprocal, T_FLOAT(reciprocal), UK_FLOAT)

/* The unary op for a floating pow by an exponent ATen special-cases, or NULL. */
const struct uop *infd__ew_pow_uop(double v)
{
	const struct uop *special = NULL;
	if (v == 2.0)
		special = &op_square;
	else if (v == 3.0)
		special = &op_cube;
	else if (v == 0.5)
		special = &op_pow_sqrt;
	else if (v == -0.5)
		special = &op_pow_rsqrt;
	else if (v == -1.0)
		special = &op_pow_reciprocal;
	else if (v == -2.0)
		special = &op_invsquare;
	return special;
}

/* aten::gelu.out [self, approximate, out, ret] */
infd_status infd__k_gelu_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *x;
	struct infd_tensor *out;
	const char *mode;
	uint32_t len;
	struct eparams prm = {.zero_div = 0};
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::gelu.out", 4)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &x)) ||
	    (st = infd__ew_karg_str(&A, 1, "approximate", false, &mode, &len)) ||
	    (st = infd__karg_out(&A, 2, 3, &out)))
		return st;
	if (infd__ew_str_is(mode, len, "none"))
		return infd__ew_unary_run(&A, &op_gelu_none, x, out, &prm);
	if (infd__ew_str_is(mode, len, "tanh"))
		return infd__ew_unary_run(&A, &op_gelu_tanh, x, out, &prm);
	return infd__kfail(&A, INFD_BAD_INPUT, "approximate must be 'none' or 'tanh', got '%.*s'",
			   (int)(len > 64 ? 64 : len), mode);
}

/* aten::leaky_relu.out [self, negative_slope, out, ret] */
infd_status infd__k_leaky_relu_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *x;
	struct infd_tensor *out;
	struct infd_scalar slope;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::leaky_relu.out", 4)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &x)) ||
	    (st = infd__karg_scalar(&A, 1, "negative_slope", &slope)) ||
	    (st = infd__karg_out(&A, 2, 3, &out)))
		return st;
	struct eparams prm = {.f = {(float)slope.d}, .d = {slope.d}};
	return infd__ew_unary_run(&A, &op_leaky_relu, x, out, &prm);
}

/* aten::elu.out [self, alpha, scale, input_scale, out, ret] */
infd_status infd__k_elu_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *x;
	struct infd_tensor *out;
	struct infd_scalar alpha, scale, iscale;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::elu.out", 6)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &x)) ||
	    (st = infd__karg_scalar(&A, 1, "alpha", &alpha)) ||
	    (st = infd__karg_scalar(&A, 2, "scale", &scale)) ||
	    (st = infd__karg_scalar(&A, 3, "input_scale", &iscale)) ||
	    (st = infd__karg_out(&A, 4, 5, &out)))
		return st;
	struct eparams prm = {
		.f = {(float)scale.d, (float)alpha.d * (float)scale.d, (float)iscale.d},
		.d = {scale.d, alpha.d * scale.d, iscale.d},
	};
	return infd__ew_unary_run(&A, &op_elu, x, out, &prm);
}
