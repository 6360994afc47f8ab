/* Portable elementwise binary kernels: add, sub, mul, div (.out and .Scalar_out)
 * with PyTorch broadcasting and type promotion. Same-dtype operands run typed
 * loops directly; other dtypes are converted in small blocks around them. */
#include "util.h"

#include <string.h>

enum binop { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_ADDA /* a + alpha * b */, N_OPS };

/* Dtypes the typed loops compute in; float16/bfloat16 compute in float32. */
enum ctype { CT_BOOL, CT_U8, CT_I8, CT_I16, CT_I32, CT_I64, CT_F32, CT_F64, N_CTYPES };

static int ctype_of(int dtype)
{
	switch (dtype) {
	case INFD_DTYPE_BOOL: return CT_BOOL;
	case INFD_DTYPE_UINT8: return CT_U8;
	case INFD_DTYPE_INT8: return CT_I8;
	case INFD_DTYPE_INT16: return CT_I16;
	case INFD_DTYPE_INT32: return CT_I32;
	case INFD_DTYPE_INT64: return CT_I64;
	case INFD_DTYPE_FLOAT32: return CT_F32;
	case INFD_DTYPE_FLOAT64: return CT_F64;
	default: return -1;
	}
}

/* A value in the compute dtype (alpha, or the scalar operand). */
union cval {
	uint8_t u8;
	int8_t i8;
	int16_t i16;
	int32_t i32;
	int64_t i64;
	float f32;
	double f64;
};

/* out[i] = a[i] op b[i] over n elements; strides in bytes (0 = broadcast). */
typedef void (*binop_fn)(size_t n, char *o, ptrdiff_t so, const char *a, ptrdiff_t sa,
			 const char *b, ptrdiff_t sb, const union cval *alpha);

/* One typed loop: the unit-stride and stride-0 shapes get their own functions
 * with restrict parameters so that they vectorize; anything else takes the plain
 * strided loop. EXPR combines x and y (and al, the alpha). Pointers are aligned
 * (the caller converts otherwise); out may be the same memory as an input,
 * element for element. */
#define BINOP(NAME, T, FIELD, EXPR)                                                        \
	static inline void NAME##_vv(size_t n, T *restrict o, const T *restrict a,         \
				     const T *restrict b, const T al)                      \
	{                                                                                  \
		INFD_VLOOP(n, i, const T x = a[i]; const T y = b[i]; o[i] = (T)(EXPR););   \
	}                                                                                  \
	static inline void NAME##_vs(size_t n, T *restrict o, const T *restrict a,         \
				     const T y, const T al)                                \
	{                                                                                  \
		INFD_VLOOP(n, i, const T x = a[i]; o[i] = (T)(EXPR););                     \
	}                                                                                  \
	static inline void NAME##_sv(size_t n, T *restrict o, const T x,                   \
				     const T *restrict b, const T al)                      \
	{                                                                                  \
		INFD_VLOOP(n, i, const T y = b[i]; o[i] = (T)(EXPR););                     \
	}                                                                                  \
	INFD_SIMD_CLONES static void NAME(size_t n, char *o_, ptrdiff_t so, const char *a_, \
					  ptrdiff_t sa, const char *b_, ptrdiff_t sb,      \
					  const union cval *alpha)                         \
	{                                                                                  \
		const ptrdiff_t es = (ptrdiff_t)sizeof(T);                                 \
		const T al = alpha->FIELD;                                                 \
		T *o = (T *)(void *)o_;                                                    \
		const T *a = (const T *)(const void *)a_, *b = (const T *)(const void *)b_; \
		if (so == es && sa == es && sb == es) {                                    \
			NAME##_vv(n, o, a, b, al);                                         \
		} else if (so == es && sa == es && sb == 0) {                              \
			NAME##_vs(n, o, a, b[0], al);                                      \
		} else if (so == es && sa == 0 && sb == es) {                              \
			NAME##_sv(n, o, a[0], b, al);                                      \
		} else {                                                                   \
			for (size_t i = 0; i < n; i++) {                                   \
				const T x = *(const T *)(const void *)(a_ + (ptrdiff_t)i * sa); \
				const T y = *(const T *)(const void *)(b_ + (ptrdiff_t)i * sb); \
				*(T *)(void *)(o_ + (ptrdiff_t)i * so) = (T)(EXPR);        \
			}                                                                  \
		}                                                                          \
	}

/* Floating types: plain IEEE arithmetic. */
#define FLOAT_OPS(S, T, FIELD)                                                             \
	BINOP(add_##S, T, FIELD, x + y)                                                    \
	BINOP(sub_##S, T, FIELD, x - y)                                                    \
	BINOP(mul_##S, T, FIELD, x * y)                                                    \
	BINOP(div_##S, T, FIELD, x / y)                                                    \
	BINOP(adda_##S, T, FIELD, x + al * y)
FLOAT_OPS(f32, float, f32)
FLOAT_OPS(f64, double, f64)

/* 32/64-bit integers wrap around: compute in the unsigned type (no overflow UB). */
#define WIDE_INT_OPS(S, T, U, FIELD)                                                       \
	BINOP(add_##S, T, FIELD, (U)x + (U)y)                                              \
	BINOP(sub_##S, T, FIELD, (U)x - (U)y)                                              \
	BINOP(mul_##S, T, FIELD, (U)x * (U)y)                                              \
	BINOP(adda_##S, T, FIELD, (U)x + (U)al * (U)y)
WIDE_INT_OPS(i32, int32_t, uint32_t, i32)
WIDE_INT_OPS(i64, int64_t, uint64_t, i64)

/* 8/16-bit integers: C promotes to int, which cannot overflow here; the result
 * narrows modulo 2^bits. */
#define NARROW_INT_OPS(S, T, FIELD)                                                        \
	BINOP(add_##S, T, FIELD, x + y)                                                    \
	BINOP(sub_##S, T, FIELD, x - y)                                                    \
	BINOP(mul_##S, T, FIELD, x * y)                                                    \
	BINOP(adda_##S, T, FIELD, x + al * y)
NARROW_INT_OPS(u8, uint8_t, u8)
NARROW_INT_OPS(i8, int8_t, i8)
NARROW_INT_OPS(i16, int16_t, i16)

/* Bool (stored as bytes): add is "or", mul is "and"; alpha is 0 or 1. */
BINOP(add_b, uint8_t, u8, (x | y) != 0)
BINOP(mul_b, uint8_t, u8, (x != 0) & (y != 0))
BINOP(adda_b, uint8_t, u8, (x != 0) | ((y != 0) & al))

static const binop_fn binops[N_OPS][N_CTYPES] = {
	[OP_ADD] = {add_b, add_u8, add_i8, add_i16, add_i32, add_i64, add_f32, add_f64},
	[OP_SUB] = {NULL, sub_u8, sub_i8, sub_i16, sub_i32, sub_i64, sub_f32, sub_f64},
	[OP_MUL] = {mul_b, mul_u8, mul_i8, mul_i16, mul_i32, mul_i64, mul_f32, mul_f64},
	[OP_DIV] = {[CT_F32] = div_f32, [CT_F64] = div_f64},
	[OP_ADDA] = {adda_b, adda_u8, adda_i8, adda_i16, adda_i32, adda_i64, adda_f32, adda_f64},
};

/* Value of (iv, dv) in compute type ct: floats take dv, integers iv modulo 2^bits,
 * bool (iv != 0). */
static union cval make_cval(int ct, int64_t iv, double dv)
{
	union cval c = {.i64 = 0};
	switch (ct) {
	case CT_BOOL: c.u8 = iv != 0; break;
	case CT_U8: c.u8 = (uint8_t)(uint64_t)iv; break;
	case CT_I8: c.i8 = (int8_t)(uint64_t)iv; break;
	case CT_I16: c.i16 = (int16_t)(uint64_t)iv; break;
	case CT_I32: c.i32 = (int32_t)(uint64_t)iv; break;
	case CT_I64: c.i64 = iv; break;
	case CT_F32: c.f32 = (float)dv; break;
	default: c.f64 = dv; break;
	}
	return c;
}

/* ---- Planning --------------------------------------------------------------- */

struct plan {
	binop_fn fn;
	int pdt;   /* promoted (result) dtype */
	int cdt;   /* dtype the loop computes in (pdt, or float32 for float16/bfloat16) */
	int ct;    /* ctype of cdt */
	int adt, bdt, odt;
	bool buf_a, buf_b, buf_o; /* operand must be converted around the loop */
	union cval alpha;
};

static const uint8_t ctype_size[N_CTYPES] = {1, 1, 1, 2, 4, 8, 4, 8};

static bool aligned(const void *p, size_t es)
{
	return ((uintptr_t)p & (es - 1)) == 0;
}

/* alpha == 1 (in any compute type it converts to 1 there, so plain add is exact) */
static bool alpha_is_one(const struct infd_scalar *alpha)
{
	return alpha->kind == INFD_VALUE_DOUBLE ? alpha->d == 1.0 : alpha->i == 1;
}

static bool supported(int dtype)
{
	switch (dtype) {
	case INFD_DTYPE_BOOL:
	case INFD_DTYPE_UINT8:
	case INFD_DTYPE_INT8:
	case INFD_DTYPE_INT16:
	case INFD_DTYPE_INT32:
	case INFD_DTYPE_INT64:
	case INFD_DTYPE_FLOAT16:
	case INFD_DTYPE_BFLOAT16:
	case INFD_DTYPE_FLOAT32:
	case INFD_DTYPE_FLOAT64:
		return true;
	default:
		return false;
	}
}

/* Check dtypes and settle the promoted dtype. `bdt` is the other tensor's dtype,
 * or -1 with `other` set for a Scalar operand. */
static infd_status check_types(const struct infd_kargs *A, enum binop op, int adt, int bdt,
			       const struct infd_scalar *other, int odt,
			       const struct infd_scalar *alpha, int *pdt_out)
{
	if (!supported(adt))
		return infd__kfail(A, INFD_KERNEL_FAILED, "self has unsupported dtype %s",
				   infd_dtype_name(adt));
	if (bdt >= 0 && !supported(bdt))
		return infd__kfail(A, INFD_KERNEL_FAILED, "other has unsupported dtype %s",
				   infd_dtype_name(bdt));
	if (!supported(odt))
		return infd__kfail(A, INFD_KERNEL_FAILED, "out has unsupported dtype %s",
				   infd_dtype_name(odt));
	if (op == OP_SUB && (adt == INFD_DTYPE_BOOL || bdt == INFD_DTYPE_BOOL ||
			     (other && other->kind == INFD_VALUE_BOOL)))
		return infd__kfail(A, INFD_BAD_INPUT,
				   "subtraction with a bool operand is not supported "
				   "(use logical_not or bitwise_xor)");
	int pdt = bdt == adt ? adt
		  : bdt >= 0 ? infd__promote_types(adt, bdt) : infd__promote_with_scalar(adt, other);
	if (pdt < 0)
		return infd__kfail(A, INFD_BAD_INPUT, "cannot promote %s and %s", infd_dtype_name(adt),
				   infd_dtype_name(bdt));
	if (op == OP_DIV && !infd__dtype_is_float(pdt))
		pdt = INFD_DTYPE_FLOAT32; /* true division */
	if (pdt != odt && !infd__can_cast(pdt, odt))
		return infd__kfail(A, INFD_BAD_INPUT,
				   "result type %s cannot be stored in an out tensor of dtype %s",
				   infd_dtype_name(pdt), infd_dtype_name(odt));
	if (alpha) {
		if (alpha->kind == INFD_VALUE_BOOL && pdt != INFD_DTYPE_BOOL)
			return infd__kfail(A, INFD_BAD_INPUT,
					   "a bool alpha is only supported for bool results (result is %s)",
					   infd_dtype_name(pdt));
		if (alpha->kind == INFD_VALUE_DOUBLE && !infd__dtype_is_float(pdt))
			return infd__kfail(A, INFD_BAD_INPUT,
					   "alpha must be an integer for %s results, got %g",
					   infd_dtype_name(pdt), alpha->d);
	}
	*pdt_out = pdt;
	return INFD_OK;
}

/* ---- The general path: iterate rows, converting operands in blocks ---------- */

#define BLOCK 256

/* Element conversion into the compute dtype. A float16/bfloat16 result rounds
 * integer inputs to that type first, as PyTorch does when it casts operands to
 * the common dtype. */
static void to_compute(const struct plan *p, char *dst, const char *src, int sdt, ptrdiff_t ss,
		       size_t n)
{
	ptrdiff_t cs = (ptrdiff_t)infd_dtype_size(p->cdt);
	if (p->pdt != p->cdt && sdt != p->pdt && !infd__dtype_is_float(sdt)) {
		uint16_t tmp[BLOCK];
		infd__convert(tmp, p->pdt, 2, src, sdt, ss, n);
		infd__convert(dst, p->cdt, cs, tmp, p->pdt, 2, n);
		return;
	}
	infd__convert(dst, p->cdt, cs, src, sdt, ss, n);
}

/* And back into the out dtype, rounding through a float16/bfloat16 result type. */
static void from_compute(const struct plan *p, char *dst, ptrdiff_t ds, const char *src, size_t n)
{
	infd__convert_result(dst, p->odt, ds, src, p->cdt, p->pdt, n);
}

static void row(void *user, char *const *ptr, const ptrdiff_t *st, size_t n)
{
	const struct plan *p = user;
	if (!p->buf_a && !p->buf_b && !p->buf_o) {
		p->fn(n, ptr[0], st[0], ptr[1], st[1], ptr[2], st[2], &p->alpha);
		return;
	}
	double ba[BLOCK], bb[BLOCK], bo[BLOCK]; /* aligned for any compute dtype */
	ptrdiff_t cs = (ptrdiff_t)infd_dtype_size(p->cdt);
	const char *a = ptr[1], *b = ptr[2];
	ptrdiff_t sa = st[1], sb = st[2];
	if (p->buf_a && sa == 0) {
		to_compute(p, (char *)ba, a, p->adt, 0, 1);
		a = (const char *)ba;
	}
	if (p->buf_b && sb == 0) {
		to_compute(p, (char *)bb, b, p->bdt, 0, 1);
		b = (const char *)bb;
	}
	for (size_t off = 0; off < n; off += BLOCK) {
		size_t m = n - off < BLOCK ? n - off : BLOCK;
		const char *xa = sa ? a + (ptrdiff_t)off * sa : a, *xb = sb ? b + (ptrdiff_t)off * sb : b;
		ptrdiff_t ya = sa, yb = sb;
		if (p->buf_a && sa != 0) {
			to_compute(p, (char *)ba, xa, p->adt, sa, m);
			xa = (const char *)ba;
			ya = cs;
		}
		if (p->buf_b && sb != 0) {
			to_compute(p, (char *)bb, xb, p->bdt, sb, m);
			xb = (const char *)bb;
			yb = cs;
		}
		char *o = ptr[0] + (ptrdiff_t)off * st[0];
		if (p->buf_o) {
			p->fn(m, (char *)bo, cs, xa, ya, xb, yb, &p->alpha);
			from_compute(p, o, st[0], (const char *)bo, m);
		} else {
			p->fn(m, o, st[0], xa, ya, xb, yb, &p->alpha);
		}
	}
}

/* ---- Entry points ----------------------------------------------------------- */

/* Shared body of the tensor-tensor kernels. */
static infd_status binary_tensor(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				 uint32_t n_args, enum binop op, const char *name)
{
	bool has_alpha = op == OP_ADD || op == OP_SUB;
	uint32_t want = has_alpha ? 5 : 4;
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *a, *b;
	struct infd_tensor *out;
	struct infd_scalar alpha = {.kind = INFD_VALUE_INT, .i = 1, .d = 1.0};
	if ((st = infd__kargs_begin(&A, ctx, args, n_args, name, (int32_t)want)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &a)) ||
	    (st = infd__karg_tensor(&A, 1, "other", &b)) ||
	    (has_alpha && (st = infd__karg_scalar(&A, 2, "alpha", &alpha))) ||
	    (st = infd__karg_out(&A, want - 2, want - 1, &out)))
		return st;
	int pdt;
	if ((st = check_types(&A, op, a->dtype, b->dtype, NULL, out->dtype,
			      has_alpha ? &alpha : NULL, &pdt)))
		return st;

	uint32_t rank;
	int32_t bsizes[INFD_MAX_RANK];
	const int32_t *sizes = bsizes;
	if (infd__tensor_has_shape(b, a->rank, a->sizes)) {
		rank = a->rank;
		sizes = a->sizes;
	} else {
		const struct infd_tensor *ts[2] = {a, b};
		if ((st = infd__broadcast_shape(&A, ts, 2, &rank, bsizes)))
			return st;
	}
	if (out->data && ((out->data == a->data && !infd__tensor_has_shape(a, rank, sizes)) ||
			  (out->data == b->data && !infd__tensor_has_shape(b, rank, sizes))))
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "out shares memory with an input of a different shape");
	if ((st = infd__kout_resize(&A, out, rank, sizes)))
		return st;
	if (out->numel == 0)
		return INFD_OK;

	struct plan p;
	p.pdt = pdt;
	p.cdt = infd__compute_dtype(pdt);
	p.ct = ctype_of(p.cdt);
	p.adt = a->dtype;
	p.bdt = b->dtype;
	p.odt = out->dtype;
	enum binop fop = op;
	p.alpha.i64 = 0;
	if (has_alpha && !alpha_is_one(&alpha)) {
		/* a - alpha * b is a + (-alpha) * b */
		if (op == OP_SUB)
			p.alpha = make_cval(p.ct, (int64_t)(0 - (uint64_t)alpha.i), -alpha.d);
		else
			p.alpha = make_cval(p.ct, alpha.i, alpha.d);
		fop = OP_ADDA;
	}
	p.fn = binops[fop][p.ct];
	size_t es = ctype_size[p.ct];
	p.buf_a = a->dtype != p.cdt || !aligned(a->data, es);
	p.buf_b = b->dtype != p.cdt || !aligned(b->data, es);
	p.buf_o = p.pdt != p.cdt || out->dtype != p.cdt || !aligned(out->data, es);

	/* Same layout everywhere: one flat loop. */
	if (!p.buf_a && !p.buf_b && !p.buf_o && infd__tensor_same_layout(a, out)) {
		if (infd__tensor_same_layout(b, out)) {
			p.fn(out->numel, out->data, (ptrdiff_t)es, a->data, (ptrdiff_t)es, b->data, (ptrdiff_t)es, &p.alpha);
			return INFD_OK;
		}
		if (b->numel == 1) {
			p.fn(out->numel, out->data, (ptrdiff_t)es, a->data, (ptrdiff_t)es, b->data, 0, &p.alpha);
			return INFD_OK;
		}
	}
	struct infd_iter it;
	infd__iter_init(&it, rank, out->sizes);
	infd__iter_add(&it, out);
	infd__iter_add(&it, a);
	infd__iter_add(&it, b);
	infd__iter_finish(&it);
	infd__iter_rows(&it, row, &p);
	return INFD_OK;
}

/* Shared body of the tensor-scalar kernels: the scalar (times alpha) becomes a
 * stride-0 operand in the compute dtype. */
static infd_status binary_scalar(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				 uint32_t n_args, enum binop op, const char *name)
{
	bool has_alpha = op == OP_ADD || op == OP_SUB;
	uint32_t want = has_alpha ? 5 : 4;
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *a;
	struct infd_tensor *out;
	struct infd_scalar other, alpha = {.kind = INFD_VALUE_INT, .i = 1, .d = 1.0};
	if ((st = infd__kargs_begin(&A, ctx, args, n_args, name, (int32_t)want)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &a)) ||
	    (st = infd__karg_scalar(&A, 1, "other", &other)) ||
	    (has_alpha && (st = infd__karg_scalar(&A, 2, "alpha", &alpha))) ||
	    (st = infd__karg_out(&A, want - 2, want - 1, &out)))
		return st;
	int pdt;
	if ((st = check_types(&A, op, a->dtype, -1, &other, out->dtype, has_alpha ? &alpha : NULL,
			      &pdt)))
		return st;
	if ((st = infd__kout_resize(&A, out, a->rank, a->sizes)))
		return st;
	if (out->numel == 0)
		return INFD_OK;

	struct plan p;
	p.pdt = pdt;
	p.cdt = infd__compute_dtype(pdt);
	p.ct = ctype_of(p.cdt);
	p.adt = a->dtype;
	p.bdt = p.cdt;
	p.odt = out->dtype;
	p.alpha.i64 = 0;
	/* Fold alpha into the scalar (in the compute dtype, as PyTorch's opmath does),
	 * and turn a - c into a + (-c). */
	union cval c;
	enum binop fop = op;
	if (has_alpha) {
		if (infd__dtype_is_float(p.cdt)) {
			double v = p.ct == CT_F32 ? (double)((float)alpha.d * (float)other.d)
						  : alpha.d * other.d;
			c = make_cval(p.ct, 0, op == OP_SUB ? -v : v);
		} else if (p.ct == CT_BOOL) {
			c = make_cval(p.ct, other.i != 0 && alpha.i != 0, 0);
		} else {
			uint64_t v = (uint64_t)alpha.i * (uint64_t)other.i;
			c = make_cval(p.ct, (int64_t)(op == OP_SUB ? 0 - v : v), 0);
		}
		fop = OP_ADD;
	} else {
		c = make_cval(p.ct, other.i, other.d);
	}
	p.fn = binops[fop][p.ct];
	size_t es = ctype_size[p.ct];
	p.buf_a = a->dtype != p.cdt || !aligned(a->data, es);
	p.buf_b = false;
	p.buf_o = p.pdt != p.cdt || out->dtype != p.cdt || !aligned(out->data, es);

	if (!p.buf_a && !p.buf_o && infd__tensor_same_layout(a, out)) {
		p.fn(out->numel, out->data, (ptrdiff_t)es, a->data, (ptrdiff_t)es, (const char *)&c, 0, &p.alpha);
		return INFD_OK;
	}
	struct infd_iter it;
	infd__iter_init(&it, out->rank, out->sizes);
	infd__iter_add(&it, out);
	infd__iter_add(&it, a);
	infd__iter_add_scalar(&it, &c);
	infd__iter_finish(&it);
	infd__iter_rows(&it, row, &p);
	return INFD_OK;
}

infd_status infd__k_add_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return binary_tensor(ctx, args, n, OP_ADD, "aten::add.out");
}

infd_status infd__k_add_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n)
{
	return binary_scalar(ctx, args, n, OP_ADD, "aten::add.Scalar_out");
}

infd_status infd__k_sub_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return binary_tensor(ctx, args, n, OP_SUB, "aten::sub.out");
}

infd_status infd__k_sub_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n)
{
	return binary_scalar(ctx, args, n, OP_SUB, "aten::sub.Scalar_out");
}

infd_status infd__k_mul_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return binary_tensor(ctx, args, n, OP_MUL, "aten::mul.out");
}

infd_status infd__k_mul_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n)
{
	return binary_scalar(ctx, args, n, OP_MUL, "aten::mul.Scalar_out");
}

infd_status infd__k_div_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return binary_tensor(ctx, args, n, OP_DIV, "aten::div.out");
}

infd_status infd__k_div_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n)
{
	return binary_scalar(ctx, args, n, OP_DIV, "aten::div.Scalar_out");
}
