/* Quantization kernels (quantized_decomposed::, and cortex_m:: quantize/dequantize
 * per tensor): quantize and dequantize per tensor and per channel, choose_qparams.
 * The arithmetic follows ExecuTorch's quantized kernels bit for bit: quantize takes
 * zero_point + nearbyint(x * (1 / (float)scale)) in float and clamps it to
 * [quant_min, quant_max]; dequantize computes (q - zero_point) * (float)scale. */
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Helpers are inlined even into the AVX2 clones of their callers. */
#define Q_INLINE static inline __attribute__((always_inline))

#define BLOCK 256

/* ---- Quantized dtypes ---------------------------------------------------------- */

/* Range of a quantized storage dtype; false for the others. */
static bool qdtype_range(int dt, int64_t *lo, int64_t *hi)
{
	switch (dt) {
	case INFD_DTYPE_UINT8: *lo = 0; *hi = UINT8_MAX; return true;
	case INFD_DTYPE_INT8: *lo = INT8_MIN; *hi = INT8_MAX; return true;
	case INFD_DTYPE_INT16: *lo = INT16_MIN; *hi = INT16_MAX; return true;
	case INFD_DTYPE_UINT16: *lo = 0; *hi = UINT16_MAX; return true;
	case INFD_DTYPE_INT32: *lo = INT32_MIN; *hi = INT32_MAX; return true;
	default: return false;
	}
}

static bool aligned(const void *p, size_t es)
{
	return ((uintptr_t)p & (es - 1)) == 0;
}

static bool is_float_in(int dt)
{
	return dt == INFD_DTYPE_FLOAT32 || dt == INFD_DTYPE_FLOAT64 || dt == INFD_DTYPE_FLOAT16 ||
	       dt == INFD_DTYPE_BFLOAT16;
}

/* ---- Float helpers (branch-free so that loops vectorize) --------------------------- */

Q_INLINE uint32_t qf_bits(float f)
{
	union {
		float f;
		uint32_t u;
	} v = {.f = f};
	return v.u;
}

Q_INLINE float qf_from_bits(uint32_t u)
{
	union {
		uint32_t u;
		float f;
	} v = {.u = u};
	return v.f;
}

/* c ? a : b as a bit mask (the compiler may not speculate float arithmetic). */
Q_INLINE float q_sel(int c, float a, float b)
{
	uint32_t m = 0u - (uint32_t)(c != 0);
	return qf_from_bits((qf_bits(a) & m) | (qf_bits(b) & ~m));
}

/* nearbyint in round-to-nearest-even: adding and removing 2^23 rounds; larger
 * magnitudes are integers already (inf and NaN pass through). */
Q_INLINE float q_rintf(float x)
{
	float ax = fabsf(x);
	float r = copysignf((ax + 8388608.0f) - 8388608.0f, x);
	return q_sel(ax < 8388608.0f, r, x);
}

/* zp + nearbyint(v) clamped to [lo, hi] in float (NaN -> lo), for v = x * inv
 * already formed; the bounds of 8- and 16-bit types are exact in float. */
Q_INLINE int32_t q_clamp(float v, float zp, float lo, float hi)
{
	float q = zp + q_rintf(v);
	q = q_sel(q < lo, lo, q);
	q = q_sel(q > hi, hi, q);
	q = q_sel(q != q, lo, q);
	return (int32_t)q;
}

/* ---- Typed loops ---------------------------------------------------------------- */

/* Quantize n contiguous values into int32 (8- and 16-bit results): one scale for
 * a tensor or a channel run, or per-element parameters for channels along the
 * last dim. `pre` forms take x * inv already rounded to float (float64 sources
 * multiply in double first, as ExecuTorch does). The narrowing to the storage
 * type is a separate loop: the compiler vectorizes neither mixed-width loop. */
INFD_SIMD_CLONES static void quant32(size_t n, int32_t *restrict o, const float *restrict x,
				     float inv, float zp, float lo, float hi)
{
	INFD_VLOOP(n, i, o[i] = q_clamp(x[i] * inv, zp, lo, hi););
}

INFD_SIMD_CLONES static void quant32_v(size_t n, int32_t *restrict o, const float *restrict x,
				       const float *restrict inv, const float *restrict zp,
				       float lo, float hi)
{
	INFD_VLOOP(n, i, o[i] = q_clamp(x[i] * inv[i], zp[i], lo, hi););
}

INFD_SIMD_CLONES static void quant32_pre(size_t n, int32_t *restrict o, const float *restrict t,
					 const float *restrict zp, size_t zstep, float lo, float hi)
{
	INFD_VLOOP(n, i, o[i] = q_clamp(t[i], zp[i * zstep], lo, hi););
}

/* int32 results: the float bounds are rounded, so clamp in int64 (slow path). */
static int32_t q_clamp_i32(float v, float zp, int64_t qmin, int64_t qmax)
{
	float q = zp + q_rintf(v);
	int64_t r = q != q ? qmin : q >= 9.2e18f ? INT64_MAX : q <= -9.2e18f ? INT64_MIN : (int64_t)q;
	r = r < qmin ? qmin : r;
	return (int32_t)(r > qmax ? qmax : r);
}

/* Dequantize n contiguous int32 values into float32: per tensor in float
 * arithmetic ((q - zp) * (float)scale), per channel in double ((q - zp) * scale,
 * rounded once), as ExecuTorch's two kernels do. */
INFD_SIMD_CLONES static void dequant32(size_t n, float *restrict o, const int32_t *restrict q,
				       int32_t zp, float scale)
{
	INFD_VLOOP(n, i, o[i] = (float)(q[i] - zp) * scale;);
}

INFD_SIMD_CLONES static void dequant32_c(size_t n, float *restrict o, const int32_t *restrict q,
					 const int64_t *restrict zp, const double *restrict scale,
					 size_t step)
{
	INFD_VLOOP(n, i, o[i] = (float)((double)((int64_t)q[i] - zp[i * step]) * scale[i * step]););
}

/* Storage type <-> int32 blocks. */
#define Q_NARROW(S, T)                                                                     \
	static void narrow_##S(size_t n, void *o_, const int32_t *restrict q)              \
	{                                                                                  \
		T *restrict o = o_;                                                        \
		for (size_t i = 0; i < n; i++)                                             \
			o[i] = (T)q[i];                                                    \
	}                                                                                  \
	static void widen_##S(size_t n, int32_t *restrict o, const void *q_)               \
	{                                                                                  \
		const T *restrict q = q_;                                                  \
		for (size_t i = 0; i < n; i++)                                             \
			o[i] = q[i];                                                       \
	}
Q_NARROW(u8, uint8_t)
Q_NARROW(i8, int8_t)
Q_NARROW(i16, int16_t)
Q_NARROW(u16, uint16_t)

enum qtype { QT_U8, QT_I8, QT_I16, QT_U16, QT_I32, N_QT };

static int qtype_of(int dt)
{
	switch (dt) {
	case INFD_DTYPE_UINT8: return QT_U8;
	case INFD_DTYPE_INT8: return QT_I8;
	case INFD_DTYPE_INT16: return QT_I16;
	case INFD_DTYPE_UINT16: return QT_U16;
	default: return QT_I32;
	}
}

static const uint8_t qt_size[N_QT] = {1, 1, 2, 2, 4};

static void (*const narrow_fns[N_QT])(size_t, void *, const int32_t *) = {
	narrow_u8, narrow_i8, narrow_i16, narrow_u16, NULL};
static void (*const widen_fns[N_QT])(size_t, int32_t *, const void *) = {
	widen_u8, widen_i8, widen_i16, widen_u16, NULL};

/* Quantization parameters of one call. */
struct qp {
	int qt;
	float lo, hi;
	int64_t qmin, qmax;
};

/* Quantize n contiguous float32 (or float64 when f64) values into o (the storage
 * type): inv/zp are one value, or n values when per_elem. */
static void quant_block(const struct qp *p, size_t n, void *o, const void *x, bool f64,
			const float *inv, const float *zp, bool per_elem)
{
	float t[BLOCK];
	int32_t q[BLOCK];
	size_t es = qt_size[p->qt];
	for (size_t off = 0; off < n; off += BLOCK) {
		size_t m = n - off < BLOCK ? n - off : BLOCK;
		const float *ik = per_elem ? inv + off : inv, *zk = per_elem ? zp + off : zp;
		const float *xk = (const float *)x + off;
		if (f64 || p->qt == QT_I32) {
			/* t = x * inv rounded to float (in double for float64 sources) */
			const double *xd = (const double *)x + off;
			for (size_t i = 0; i < m; i++) {
				float s = ik[per_elem ? i : 0];
				t[i] = f64 ? (float)((double)s * xd[i]) : xk[i] * s;
			}
		}
		char *ok = (char *)o + off * es;
		if (p->qt == QT_I32) {
			int32_t *o32 = (int32_t *)(void *)ok;
			for (size_t i = 0; i < m; i++)
				o32[i] = q_clamp_i32(t[i], zk[per_elem ? i : 0], p->qmin, p->qmax);
			continue;
		}
		if (f64)
			quant32_pre(m, q, t, zk, per_elem ? 1 : 0, p->lo, p->hi);
		else if (per_elem)
			quant32_v(m, q, xk, ik, zk, p->lo, p->hi);
		else
			quant32(m, q, xk, ik[0], zk[0], p->lo, p->hi);
		narrow_fns[p->qt](m, ok, q);
	}
}

/* Dequantize n contiguous stored values into float32. mode 0: per tensor (float
 * math); 1: per channel with one scale; 2: per-element scales and zero points. */
static void dequant_block(int qt, int mode, size_t n, float *o, const void *qv, const int64_t *zp,
			  const double *scale)
{
	int32_t w[BLOCK];
	size_t es = qt_size[qt];
	for (size_t off = 0; off < n; off += BLOCK) {
		size_t m = n - off < BLOCK ? n - off : BLOCK;
		const char *qk = (const char *)qv + off * es;
		float *ok = o + off;
		if (qt == QT_I32 && mode == 0) {
			/* int32 storage: q - zp in int64 */
			const int32_t *q32 = (const int32_t *)(const void *)qk;
			float s = (float)scale[0];
			for (size_t i = 0; i < m; i++)
				ok[i] = (float)((int64_t)q32[i] - zp[0]) * s;
			continue;
		}
		const int32_t *q32 = (const int32_t *)(const void *)qk;
		if (qt != QT_I32) {
			widen_fns[qt](m, w, qk);
			q32 = w;
		}
		if (mode == 0)
			dequant32(m, ok, q32, (int32_t)zp[0], (float)scale[0]);
		else if (mode == 1)
			dequant32_c(m, ok, q32, zp, scale, 0);
		else
			dequant32_c(m, ok, q32, zp + off, scale + off, 1);
	}
}

/* ---- Argument checks -------------------------------------------------------------- */

/* dtype argument at i: a quantized storage dtype. */
static infd_status karg_qdtype(const struct infd_kargs *A, uint32_t i, int *dt, int64_t *lo,
			       int64_t *hi)
{
	int64_t v;
	infd_status st = infd__karg_int(A, i, "dtype", &v);
	if (st)
		return st;
	if (v < 0 || v > 127 || !qdtype_range((int)v, lo, hi))
		return infd__kfail(A, INFD_KERNEL_FAILED,
				   "dtype %s is not a quantized dtype (uint8, int8, int16, uint16, "
				   "int32)",
				   infd_dtype_name((int)v));
	*dt = (int)v;
	return INFD_OK;
}

static infd_status check_range(const struct infd_kargs *A, int dt, int64_t lo, int64_t hi,
			       int64_t qmin, int64_t qmax)
{
	if (qmin < lo)
		return infd__kfail(A, INFD_BAD_INPUT, "quant_min %lld is below the %s minimum %lld",
				   (long long)qmin, infd_dtype_name(dt), (long long)lo);
	if (qmax > hi)
		return infd__kfail(A, INFD_BAD_INPUT, "quant_max %lld is above the %s maximum %lld",
				   (long long)qmax, infd_dtype_name(dt), (long long)hi);
	return INFD_OK;
}

static infd_status check_scale(const struct infd_kargs *A, double scale)
{
	float f = (float)scale;
	if (f > 0 && isfinite(f) && isfinite(1.0f / f))
		return INFD_OK;
	return infd__kfail(A, INFD_BAD_INPUT, "scale must be a positive finite number, got %g",
			   scale);
}

/* One-element scale / zero_point tensors of the .Tensor_out forms. */
static infd_status karg_qparam_tensors(const struct infd_kargs *A, double *scale, int64_t *zp)
{
	const struct infd_tensor *s, *z;
	infd_status st;
	if ((st = infd__karg_tensor(A, 1, "scale", &s)) ||
	    (st = infd__karg_tensor(A, 2, "zero_point", &z)))
		return st;
	if (!infd__dtype_is_float(s->dtype) || s->numel != 1)
		return infd__kfail(A, INFD_KERNEL_FAILED,
				   "scale must be a floating-point tensor of one element, got %s with "
				   "%llu elements",
				   infd_dtype_name(s->dtype), (unsigned long long)s->numel);
	if (!infd__dtype_is_int(z->dtype) || z->numel != 1)
		return infd__kfail(A, INFD_KERNEL_FAILED,
				   "zero_point must be an integer tensor of one element, got %s with "
				   "%llu elements",
				   infd_dtype_name(z->dtype), (unsigned long long)z->numel);
	*scale = infd__load_double(s->data, s->dtype);
	*zp = infd__load_int(z->data, z->dtype);
	return INFD_OK;
}

static infd_status resize_like(const struct infd_kargs *A, const struct infd_tensor *in,
			       struct infd_tensor *out)
{
	if (out->data && in->numel && out->data == in->data)
		return infd__kfail(A, INFD_BAD_INPUT, "out shares memory with the input");
	return infd__kout_resize(A, out, in->rank, in->sizes);
}

/* ---- Per tensor ---------------------------------------------------------------- */

struct qrow {
	struct qp p;
	int idt, odt;
	bool f64;
	float inv, zp;
	int64_t izp;
	double scale;
};

/* Quantize a row of the iterator: convert the input block into float (or
 * double), quantize into a local block, store it with the out stride. */
static void quant_row(void *user, char *const *ptr, const ptrdiff_t *st, size_t n)
{
	const struct qrow *r = user;
	double xb[BLOCK];
	int32_t qb[BLOCK];
	size_t ies = infd_dtype_size(r->idt), oes = infd_dtype_size(r->odt);
	int xdt = r->f64 ? INFD_DTYPE_FLOAT64 : INFD_DTYPE_FLOAT32;
	for (size_t off = 0; off < n; off += BLOCK) {
		size_t m = n - off < BLOCK ? n - off : BLOCK;
		const char *x = ptr[1] + (ptrdiff_t)off * st[1];
		char *o = ptr[0] + (ptrdiff_t)off * st[0];
		bool direct_in = r->idt == xdt && st[1] == (ptrdiff_t)ies &&
				 ((uintptr_t)x & (ies - 1)) == 0;
		bool direct_out = st[0] == (ptrdiff_t)oes && ((uintptr_t)o & (oes - 1)) == 0;
		if (!direct_in)
			infd__convert(xb, xdt, (ptrdiff_t)infd_dtype_size(xdt), x, r->idt, st[1], m);
		quant_block(&r->p, m, direct_out ? (void *)o : (void *)qb,
			    direct_in ? x : (const char *)xb, r->f64, &r->inv, &r->zp, false);
		if (!direct_out)
			infd__convert(o, r->odt, st[0], qb, r->odt, (ptrdiff_t)oes, m);
	}
}

static void dequant_row(void *user, char *const *ptr, const ptrdiff_t *st, size_t n)
{
	const struct qrow *r = user;
	float fb[BLOCK];
	int32_t qb[BLOCK];
	size_t ies = infd_dtype_size(r->idt);
	for (size_t off = 0; off < n; off += BLOCK) {
		size_t m = n - off < BLOCK ? n - off : BLOCK;
		const char *q = ptr[1] + (ptrdiff_t)off * st[1];
		char *o = ptr[0] + (ptrdiff_t)off * st[0];
		if (st[1] != (ptrdiff_t)ies || ((uintptr_t)q & (ies - 1)) != 0) {
			infd__convert(qb, r->idt, (ptrdiff_t)ies, q, r->idt, st[1], m);
			q = (const char *)qb;
		}
		bool direct_out = r->odt == INFD_DTYPE_FLOAT32 && st[0] == 4 && ((uintptr_t)o & 3) == 0;
		dequant_block(r->p.qt, 0, m, direct_out ? (float *)(void *)o : fb, q, &r->izp, &r->scale);
		if (!direct_out)
			infd__convert(o, r->odt, st[0], fb, INFD_DTYPE_FLOAT32, 4, m);
	}
}

static void run_rows(const struct infd_tensor *in, struct infd_tensor *out, infd_iter_row_fn fn,
		     struct qrow *r)
{
	if (out->numel == 0)
		return;
	struct infd_iter it;
	infd__iter_init(&it, out->rank, out->sizes);
	infd__iter_add(&it, out);
	infd__iter_add(&it, in);
	infd__iter_finish(&it);
	infd__iter_rows(&it, fn, r);
}

static infd_status quantize_tensor(const struct infd_kargs *A, const struct infd_tensor *in,
				   double scale, int64_t zp, uint32_t first_int, struct infd_tensor *out)
{
	infd_status st;
	int64_t qmin, qmax, lo, hi;
	int dt;
	if ((st = infd__karg_int(A, first_int, "quant_min", &qmin)) ||
	    (st = infd__karg_int(A, first_int + 1, "quant_max", &qmax)) ||
	    (st = karg_qdtype(A, first_int + 2, &dt, &lo, &hi)))
		return st;
	if (!is_float_in(in->dtype))
		return infd__kfail(A, INFD_KERNEL_FAILED, "input must be a floating-point tensor, got %s",
				   infd_dtype_name(in->dtype));
	if (out->dtype != dt)
		return infd__kfail(A, INFD_KERNEL_FAILED, "out has dtype %s, dtype argument says %s",
				   infd_dtype_name(out->dtype), infd_dtype_name(dt));
	if ((st = check_range(A, dt, lo, hi, qmin, qmax)) || (st = check_scale(A, scale)) ||
	    (st = resize_like(A, in, out)))
		return st;
	struct qrow r = {
		.p = {.qt = qtype_of(dt), .lo = (float)qmin, .hi = (float)qmax, .qmin = qmin, .qmax = qmax},
		.idt = in->dtype, .odt = dt, .f64 = in->dtype == INFD_DTYPE_FLOAT64,
		.inv = 1.0f / (float)scale, .zp = (float)(int32_t)zp,
	};
	if ((in->dtype == INFD_DTYPE_FLOAT32 || r.f64) && infd__tensor_same_layout(in, out) &&
	    aligned(in->data, infd_dtype_size(in->dtype)) && aligned(out->data, infd_dtype_size(dt))) {
		if (out->numel)
			quant_block(&r.p, (size_t)out->numel, out->data, in->data, r.f64, &r.inv, &r.zp,
				    false);
		return INFD_OK;
	}
	run_rows(in, out, quant_row, &r);
	return INFD_OK;
}

/* out_dtype argument (ScalarType?) against the out tensor. */
static infd_status check_dequant_out(const struct infd_kargs *A, int32_t out_dtype_arg,
				     const struct infd_tensor *out)
{
	if (out_dtype_arg >= 0) {
		const struct infd_evalue *v = A->v[out_dtype_arg];
		if (v->kind != INFD_VALUE_NULL && v->kind != INFD_VALUE_INT)
			return infd__kfail(A, INFD_KERNEL_FAILED,
					   "argument %d (out_dtype) must be a dtype or None", out_dtype_arg);
		if (v->kind == INFD_VALUE_INT && v->u.i != out->dtype)
			return infd__kfail(A, INFD_KERNEL_FAILED,
					   "out_dtype %s does not match the out tensor's %s",
					   infd_dtype_name((int)v->u.i), infd_dtype_name(out->dtype));
	}
	if (!is_float_in(out->dtype))
		return infd__kfail(A, INFD_KERNEL_FAILED, "out must be a floating-point tensor, got %s",
				   infd_dtype_name(out->dtype));
	return INFD_OK;
}

/* Shared checks of the dequantize kernels: quant_min, quant_max, dtype at
 * first_int.., the input matching dtype. */
static infd_status dequant_checks(const struct infd_kargs *A, const struct infd_tensor *in,
				  uint32_t first_int, int32_t out_dtype_arg,
				  const struct infd_tensor *out)
{
	infd_status st;
	int64_t qmin, qmax, lo, hi;
	int dt;
	if ((st = infd__karg_int(A, first_int, "quant_min", &qmin)) ||
	    (st = infd__karg_int(A, first_int + 1, "quant_max", &qmax)) ||
	    (st = karg_qdtype(A, first_int + 2, &dt, &lo, &hi)) ||
	    (st = check_dequant_out(A, out_dtype_arg, out)))
		return st;
	if (in->dtype != dt)
		return infd__kfail(A, INFD_KERNEL_FAILED, "input has dtype %s, dtype argument says %s",
				   infd_dtype_name(in->dtype), infd_dtype_name(dt));
	if (qmin > qmax)
		return infd__kfail(A, INFD_BAD_INPUT, "quant_min %lld is greater than quant_max %lld",
				   (long long)qmin, (long long)qmax);
	return INFD_OK;
}

static infd_status dequantize_tensor(const struct infd_kargs *A, const struct infd_tensor *in,
				     double scale, int64_t zp, int32_t out_dtype_arg,
				     struct infd_tensor *out)
{
	infd_status st;
	if ((st = dequant_checks(A, in, 3, out_dtype_arg, out)) || (st = resize_like(A, in, out)))
		return st;
	struct qrow r = {.p = {.qt = qtype_of(in->dtype)}, .idt = in->dtype, .odt = out->dtype,
			 .izp = (int32_t)zp, .scale = scale};
	if (out->dtype == INFD_DTYPE_FLOAT32 && infd__tensor_same_layout(in, out) &&
	    aligned(in->data, infd_dtype_size(in->dtype)) && aligned(out->data, 4)) {
		if (out->numel)
			dequant_block(r.p.qt, 0, (size_t)out->numel, out->data, in->data, &r.izp, &r.scale);
		return INFD_OK;
	}
	run_rows(in, out, dequant_row, &r);
	return INFD_OK;
}

/* The per-tensor entry points differ only in their argument lists:
 *   quantize_per_tensor.out          [input, scale D, zero_point I, quant_min, quant_max,
 *                                     dtype, out, ret] (also cortex_m::)
 *   quantize_per_tensor.Tensor_out   the same with scale and zero_point as tensors
 *   dequantize_per_tensor.out        [input, scale D, zero_point I, quant_min, quant_max,
 *                                     dtype, out_dtype DT?, out, ret]
 *   dequantize_per_tensor.Tensor_out the same with scale and zero_point as tensors
 *   cortex_m::dequantize_per_tensor.out  as .out without out_dtype */
struct per_tensor_form {
	const char *name;
	uint32_t n_args;
	bool tensor_params;    /* scale and zero_point as one-element tensors */
	bool quantize;
	int32_t out_dtype_arg; /* dequantize: index of out_dtype, or -1 */
	uint32_t out;          /* index of out; ret follows it */
};

static infd_status per_tensor(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
			      const struct per_tensor_form *f)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	double scale;
	int64_t zp;
	if ((st = infd__kargs_begin(&A, ctx, args, n, f->name, f->n_args)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)))
		return st;
	if (f->tensor_params)
		st = karg_qparam_tensors(&A, &scale, &zp);
	else if (!(st = infd__karg_double(&A, 1, "scale", &scale)))
		st = infd__karg_int(&A, 2, "zero_point", &zp);
	if (st || (st = infd__karg_out(&A, f->out, f->out + 1, &out)))
		return st;
	return f->quantize ? quantize_tensor(&A, in, scale, zp, 3, out)
			   : dequantize_tensor(&A, in, scale, zp, f->out_dtype_arg, out);
}

infd_status infd__k_quantize_per_tensor_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					    uint32_t n)
{
	static const struct per_tensor_form f = {"quantized_decomposed::quantize_per_tensor.out", 8, false, true, -1, 6};
	return per_tensor(ctx, args, n, &f);
}

infd_status infd__k_quantize_per_tensor_tensor_out(struct infd_kernel_ctx *ctx,
						   struct infd_evalue **args, uint32_t n)
{
	static const struct per_tensor_form f = {"quantized_decomposed::quantize_per_tensor.Tensor_out", 8, true,
						 true, -1, 6};
	return per_tensor(ctx, args, n, &f);
}

infd_status infd__k_dequantize_per_tensor_out(struct infd_kernel_ctx *ctx,
					      struct infd_evalue **args, uint32_t n)
{
	static const struct per_tensor_form f = {"quantized_decomposed::dequantize_per_tensor.out", 9, false, false,
						 6, 7};
	return per_tensor(ctx, args, n, &f);
}

infd_status infd__k_dequantize_per_tensor_tensor_out(struct infd_kernel_ctx *ctx,
						     struct infd_evalue **args, uint32_t n)
{
	static const struct per_tensor_form f = {"quantized_decomposed::dequantize_per_tensor.Tensor_out", 9, true,
						 false, 6, 7};
	return per_tensor(ctx, args, n, &f);
}

infd_status infd__k_cortex_m_dequantize_per_tensor_out(struct infd_kernel_ctx *ctx,
						       struct infd_evalue **args, uint32_t n)
{
	static const struct per_tensor_form f = {"cortex_m::dequantize_per_tensor.out", 8, false, false, -1, 6};
	return per_tensor(ctx, args, n, &f);
}

/* ---- Per channel ----------------------------------------------------------------- */

/* Channel geometry in memory order: for a dense tensor of any dim order, element
 * k lies in channel (k / inner) % C, where inner is the axis' stride. */
struct chan {
	int64_t axis;
	size_t C, inner, outer;
};

static infd_status channel_setup(const struct infd_kargs *A, const struct infd_tensor *in,
				 const struct infd_tensor *out, int64_t axis, struct chan *c)
{
	if (in->rank == 0)
		return infd__kfail(A, INFD_BAD_INPUT, "per-channel (de)quantization needs a tensor of "
						       "rank 1 or more");
	if (axis < -(int64_t)in->rank || axis >= (int64_t)in->rank)
		return infd__kfail(A, INFD_BAD_INPUT, "axis %lld is out of range for rank %u",
				   (long long)axis, in->rank);
	if (axis < 0)
		axis += in->rank;
	if (!infd__tensor_same_layout(in, out))
		return infd__kfail(A, INFD_KERNEL_FAILED,
				   "input and out must have the same dim order");
	c->axis = axis;
	c->C = (size_t)in->sizes[axis];
	c->inner = (size_t)in->strides[axis];
	c->outer = c->C && c->inner ? (size_t)in->numel / (c->C * c->inner) : 0;
	return INFD_OK;
}

/* Per-channel parameter tensor: `what` of C elements, float or integer. */
static infd_status check_chan_param(const struct infd_kargs *A, const char *what,
				    const struct infd_tensor *t, size_t C, bool want_float)
{
	if (want_float ? !infd__dtype_is_float(t->dtype) : !infd__dtype_is_int(t->dtype))
		return infd__kfail(A, INFD_KERNEL_FAILED, "%s must be a%s tensor, got %s", what,
				   want_float ? " floating-point" : "n integer", infd_dtype_name(t->dtype));
	if (t->numel != C)
		return infd__kfail(A, INFD_BAD_INPUT, "%s has %llu elements, the axis has %zu", what,
				   (unsigned long long)t->numel, C);
	return INFD_OK;
}

/* quantize_per_channel.out [input, scales T, zero_points T, axis, quant_min,
 * quant_max, dtype, out, ret] */
infd_status infd__k_quantize_per_channel_out(struct infd_kernel_ctx *ctx,
					     struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in, *sc, *zt;
	struct infd_tensor *out;
	int64_t axis, qmin, qmax, lo, hi;
	int dt;
	if ((st = infd__kargs_begin(&A, ctx, args, n,
				    "quantized_decomposed::quantize_per_channel.out", 9)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) ||
	    (st = infd__karg_tensor(&A, 1, "scales", &sc)) ||
	    (st = infd__karg_tensor(&A, 2, "zero_points", &zt)) ||
	    (st = infd__karg_int(&A, 3, "axis", &axis)) ||
	    (st = infd__karg_int(&A, 4, "quant_min", &qmin)) ||
	    (st = infd__karg_int(&A, 5, "quant_max", &qmax)) ||
	    (st = karg_qdtype(&A, 6, &dt, &lo, &hi)) || (st = infd__karg_out(&A, 7, 8, &out)))
		return st;
	if (!is_float_in(in->dtype))
		return infd__kfail(&A, INFD_KERNEL_FAILED, "input must be a floating-point tensor, got %s",
				   infd_dtype_name(in->dtype));
	if (out->dtype != dt)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "out has dtype %s, dtype argument says %s",
				   infd_dtype_name(out->dtype), infd_dtype_name(dt));
	struct chan c;
	if ((st = check_range(&A, dt, lo, hi, qmin, qmax)) || (st = resize_like(&A, in, out)) ||
	    (st = channel_setup(&A, in, out, axis, &c)) ||
	    (st = check_chan_param(&A, "scales", sc, c.C, true)) ||
	    (st = check_chan_param(&A, "zero_points", zt, c.C, false)))
		return st;
	/* per-call scratch: the inverse scales and zero points as the loops use them */
	float *inv = malloc(c.C * 2 * sizeof *inv + 1);
	if (!inv)
		return infd__kfail(&A, INFD_NO_MEMORY, "out of memory for %zu channels", c.C);
	float *zpf = inv + c.C;
	size_t ses = infd_dtype_size(sc->dtype), zes = infd_dtype_size(zt->dtype);
	for (size_t k = 0; k < c.C; k++) {
		double s = infd__load_double((const char *)sc->data + k * ses, sc->dtype);
		if ((st = check_scale(&A, s))) {
			free(inv);
			return st;
		}
		inv[k] = 1.0f / (float)s;
		zpf[k] = (float)(int32_t)infd__load_int((const char *)zt->data + k * zes, zt->dtype);
	}
	struct qp p = {.qt = qtype_of(dt), .lo = (float)qmin, .hi = (float)qmax, .qmin = qmin,
		       .qmax = qmax};
	bool f64 = in->dtype == INFD_DTYPE_FLOAT64;
	int xdt = f64 ? INFD_DTYPE_FLOAT64 : INFD_DTYPE_FLOAT32;
	size_t ies = infd_dtype_size(in->dtype), oes = infd_dtype_size(dt), xes = infd_dtype_size(xdt);
	bool direct = in->dtype == xdt && aligned(in->data, ies), oal = aligned(out->data, oes);
	double xb[BLOCK];
	int32_t qb[BLOCK];
	/* runs of `inner` elements share a channel; along the last dim (inner == 1) a
	 * run covers the C channels with their own parameters */
	size_t run = c.inner == 1 ? c.C : c.inner, runs = c.inner == 1 ? c.outer : c.outer * c.C;
	for (size_t r = 0; r < runs; r++) {
		size_t ch = c.inner == 1 ? 0 : r % c.C;
		const char *x = (const char *)in->data + r * run * ies;
		char *o = (char *)out->data + r * run * oes;
		for (size_t off = 0; off < run; off += BLOCK) {
			size_t m = run - off < BLOCK ? run - off : BLOCK;
			const void *xs = x + off * ies;
			if (!direct) {
				infd__convert(xb, xdt, (ptrdiff_t)xes, xs, in->dtype, (ptrdiff_t)ies, m);
				xs = xb;
			}
			void *dst = oal ? (void *)(o + off * oes) : (void *)qb;
			if (c.inner == 1)
				quant_block(&p, m, dst, xs, f64, inv + off, zpf + off, true);
			else
				quant_block(&p, m, dst, xs, f64, inv + ch, zpf + ch, false);
			if (!oal)
				memcpy(o + off * oes, qb, m * oes);
		}
	}
	free(inv);
	return INFD_OK;
}

/* dequantize_per_channel.out [input, scales T, zero_points T?, axis, quant_min,
 * quant_max, dtype, out_dtype DT?, out, ret] */
infd_status infd__k_dequantize_per_channel_out(struct infd_kernel_ctx *ctx,
					       struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in, *sc, *zt;
	struct infd_tensor *out;
	int64_t axis;
	if ((st = infd__kargs_begin(&A, ctx, args, n,
				    "quantized_decomposed::dequantize_per_channel.out", 10)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) ||
	    (st = infd__karg_tensor(&A, 1, "scales", &sc)) ||
	    (st = infd__karg_opt_tensor(&A, 2, "zero_points", &zt)) ||
	    (st = infd__karg_int(&A, 3, "axis", &axis)) || (st = infd__karg_out(&A, 8, 9, &out)) ||
	    (st = dequant_checks(&A, in, 4, 7, out)))
		return st;
	struct chan c;
	if ((st = resize_like(&A, in, out)) || (st = channel_setup(&A, in, out, axis, &c)) ||
	    (st = check_chan_param(&A, "scales", sc, c.C, true)) ||
	    (zt && (st = check_chan_param(&A, "zero_points", zt, c.C, false))))
		return st;
	double *scale = malloc(c.C * (sizeof(double) + sizeof(int64_t)) + 1);
	if (!scale)
		return infd__kfail(&A, INFD_NO_MEMORY, "out of memory for %zu channels", c.C);
	int64_t *zp = (int64_t *)(void *)(scale + c.C);
	size_t ses = infd_dtype_size(sc->dtype), zes = zt ? infd_dtype_size(zt->dtype) : 0;
	for (size_t k = 0; k < c.C; k++) {
		scale[k] = infd__load_double((const char *)sc->data + k * ses, sc->dtype);
		zp[k] = zt ? infd__load_int((const char *)zt->data + k * zes, zt->dtype) : 0;
	}
	int qt = qtype_of(in->dtype);
	size_t ies = infd_dtype_size(in->dtype), oes = infd_dtype_size(out->dtype);
	bool direct = out->dtype == INFD_DTYPE_FLOAT32 && aligned(out->data, 4);
	bool f64 = out->dtype == INFD_DTYPE_FLOAT64, qal = aligned(in->data, ies);
	float fb[BLOCK];
	double db[BLOCK];
	int32_t qb[BLOCK];
	size_t run = c.inner == 1 ? c.C : c.inner, runs = c.inner == 1 ? c.outer : c.outer * c.C;
	for (size_t r = 0; r < runs; r++) {
		size_t ch = c.inner == 1 ? 0 : r % c.C;
		const char *q = (const char *)in->data + r * run * ies;
		char *o = (char *)out->data + r * run * oes;
		for (size_t off = 0; off < run; off += BLOCK) {
			size_t m = run - off < BLOCK ? run - off : BLOCK;
			const char *qs = q + off * ies;
			if (!qal) {
				memcpy(qb, qs, m * ies);
				qs = (const char *)qb;
			}
			if (f64) {
				/* ExecuTorch: (double)(q - zp) * (float)scale */
				for (size_t i = 0; i < m; i++) {
					size_t k = c.inner == 1 ? off + i : ch;
					int64_t v = infd__load_int(qs + i * ies, in->dtype);
					db[i] = (double)(v - zp[k]) * (double)(float)scale[k];
				}
				memcpy(o + off * oes, db, m * sizeof(double));
				continue;
			}
			float *dst = direct ? (float *)(void *)(o + off * oes) : fb;
			if (c.inner == 1)
				dequant_block(qt, 2, m, dst, qs, zp + off, scale + off);
			else
				dequant_block(qt, 1, m, dst, qs, zp + ch, scale + ch);
			if (!direct)
				infd__convert(o + off * oes, out->dtype, (ptrdiff_t)oes, fb,
					      INFD_DTYPE_FLOAT32, 4, m);
		}
	}
	free(scale);
	return INFD_OK;
}

/* ---- choose_qparams ------------------------------------------------------------------ */

/* The TensorList return slot of a two-output kernel: the out tensors again. */
static infd_status karg_ret_list(const struct infd_kargs *A, uint32_t i,
				 const struct infd_tensor *o0, const struct infd_tensor *o1)
{
	const struct infd_evalue *v = A->v[i];
	if (v->kind != INFD_VALUE_TENSOR_LIST || v->u.list.count != 2 || !v->u.list.items)
		return infd__kfail(A, INFD_KERNEL_FAILED,
				   "the return slot (argument %u) must be a list of the 2 out tensors", i);
	for (uint32_t k = 0; k < 2; k++) {
		const struct infd_evalue *e = v->u.list.items[k];
		if (!e || e->kind != INFD_VALUE_TENSOR || e->u.t != (k ? o1 : o0))
			return infd__kfail(A, INFD_KERNEL_FAILED,
					   "the return slot (argument %u) item %u is not out tensor %u", i,
					   k, k);
	}
	return INFD_OK;
}

/* One-element out tensor of a floating (scale) or integer (zero point) dtype. */
static infd_status check_param_out(const struct infd_kargs *A, const char *what,
				   const struct infd_tensor *t, bool want_float)
{
	if (want_float ? !infd__dtype_is_float(t->dtype) : !infd__dtype_is_int(t->dtype))
		return infd__kfail(A, INFD_KERNEL_FAILED, "%s must be a%s tensor, got %s", what,
				   want_float ? " floating-point" : "n integer", infd_dtype_name(t->dtype));
	if (t->numel != 1 || !t->data)
		return infd__kfail(A, INFD_KERNEL_FAILED, "%s must have one element, it has %llu", what,
				   (unsigned long long)t->numel);
	return INFD_OK;
}

/* NaN never wins (comparisons with it are false). */
INFD_SIMD_CLONES static void min_max_f32(size_t n, const float *restrict x, float *mn, float *mx)
{
	float lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		lo = x[i] < lo ? x[i] : lo;
		hi = x[i] > hi ? x[i] : hi;
	}
	*mn = lo;
	*mx = hi;
}

/* quantized_decomposed::choose_qparams.Tensor_out [input, quant_min, quant_max,
 * eps, dtype, scale_out, zero_point_out, retL]: ExecuTorch's (fbgemm's) choice of
 * an asymmetric scale and zero point covering [min(x, 0), max(x, 0)]; eps is
 * unused there too. */
infd_status infd__k_choose_qparams_tensor_out(struct infd_kernel_ctx *ctx,
					      struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *so, *zo;
	int64_t qmin64, qmax64, dt;
	double eps;
	if ((st = infd__kargs_begin(&A, ctx, args, n,
				    "quantized_decomposed::choose_qparams.Tensor_out", 8)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) ||
	    (st = infd__karg_int(&A, 1, "quant_min", &qmin64)) ||
	    (st = infd__karg_int(&A, 2, "quant_max", &qmax64)) ||
	    (st = infd__karg_double(&A, 3, "eps", &eps)) || (st = infd__karg_int(&A, 4, "dtype", &dt)) ||
	    (st = infd__karg_out(&A, 5, 5, &so)) || (st = infd__karg_out(&A, 6, 6, &zo)) ||
	    (st = karg_ret_list(&A, 7, so, zo)))
		return st;
	if (!is_float_in(in->dtype))
		return infd__kfail(&A, INFD_KERNEL_FAILED, "input must be a floating-point tensor, got %s",
				   infd_dtype_name(in->dtype));
	if (qmin64 >= qmax64 || qmin64 < INT32_MIN || qmax64 > INT32_MAX)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "quant_min %lld must be less than quant_max %lld (both int32)",
				   (long long)qmin64, (long long)qmax64);
	if (in->numel == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "cannot choose qparams for an empty input");
	if ((st = check_param_out(&A, "scale_out", so, true)) ||
	    (st = check_param_out(&A, "zero_point_out", zo, false)))
		return st;
	/* min and max in float, in blocks (any layout: the order does not matter) */
	float mn = INFINITY, mx = -INFINITY;
	struct infd_tensor flat = *in;
	float buf[BLOCK];
	size_t es = infd_dtype_size(in->dtype);
	for (uint64_t off = 0; off < in->numel; off += BLOCK) {
		size_t m = in->numel - off < BLOCK ? (size_t)(in->numel - off) : BLOCK;
		const float *x = buf;
		const char *src = (const char *)flat.data + off * es;
		if (in->dtype == INFD_DTYPE_FLOAT32 && ((uintptr_t)src & 3) == 0)
			x = (const float *)(const void *)src;
		else
			infd__convert(buf, INFD_DTYPE_FLOAT32, 4, src, in->dtype, (ptrdiff_t)es, m);
		float a, b;
		min_max_f32(m, x, &a, &b);
		mn = a < mn ? a : mn;
		mx = b > mx ? b : mx;
	}
	const int32_t qmin = (int32_t)qmin64, qmax = (int32_t)qmax64;
	const float small = 6.1e-5f;
	float min = mn < 0.0f ? mn : 0.0f, max = mx > 0.0f ? mx : 0.0f;
	double scale = ((double)max - min) / (qmax - qmin);
	if ((float)scale == 0.0f || isinf(1.0f / (float)scale))
		scale = 0.1;
	if (!(scale > 0) || isinf(scale))
		return infd__kfail(&A, INFD_BAD_INPUT, "the input has no finite range (min %g, max %g)",
				   (double)mn, (double)mx);
	if (scale < small) {
		float org_scale = (float)scale;
		scale = small;
		if (min == 0.0f) {
			max = small * (float)(qmax - qmin);
		} else if (max == 0.0f) {
			min = -small * (float)(qmax - qmin);
		} else {
			float amplifier = small / org_scale;
			min *= amplifier;
			max *= amplifier;
		}
	}
	double zp_min = qmin - min / scale, zp_max = qmax - max / scale;
	double err_min = fabs((double)qmin) - fabs(min / scale);
	double err_max = fabs((double)qmax) - fabs(max / scale);
	double zp0 = err_min < err_max ? zp_min : zp_max;
	int32_t zp;
	if (zp0 < qmin)
		zp = qmin;
	else if (zp0 > qmax)
		zp = qmax;
	else
		zp = (int32_t)nearbyint(zp0);
	int64_t zp64 = zp;
	infd__convert(so->data, so->dtype, 0, &scale, INFD_DTYPE_FLOAT64, 0, 1);
	infd__convert(zo->data, zo->dtype, 0, &zp64, INFD_DTYPE_INT64, 0, 1);
	(void)eps;
	(void)dt;
	return INFD_OK;
}
