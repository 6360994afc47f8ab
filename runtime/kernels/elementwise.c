/* Binary and selecting elementwise kernels: comparisons, logical and bitwise ops,
 * maximum/minimum, clamp, where/masked_fill, pow, rsub, remainder, fmod, divisions;
 * and the broadcasting, type-promoting driver that every elementwise loop runs in. */
#include "elementwise.h"

#include <math.h>
#include <string.h>

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

/* ---- Float and integer helpers of the binary loops ------------------------------- */

/* Python's modulo: the result takes the divisor's sign (c10 / ATen remainder). */
#define FLOAT_DIV_HELPERS(S, T, FMOD, FLOOR, COPYSIGN)                                     \
	EW_INLINE T h_remainder_##S(T a, T b)                                          \
	{                                                                                  \
		T m = FMOD(a, b);                                                          \
		if (m != 0 && ((b < 0) != (m < 0)))                                        \
			m += b;                                                            \
		return m;                                                                  \
	}                                                                                  \
	/* c10::div_floor_floating */                                                      \
	EW_INLINE T h_floordiv_##S(T a, T b)                                           \
	{                                                                                  \
		if (b == 0)                                                                \
			return a / b;                                                      \
		T m = FMOD(a, b);                                                          \
		T d = (a - m) / b;                                                         \
		if (m != 0 && ((b < 0) != (m < 0)))                                        \
			d -= 1;                                                            \
		if (d == 0)                                                                \
			return COPYSIGN((T)0, a / b);                                      \
		T f = FLOOR(d);                                                            \
		if (d - f > (T)0.5)                                                        \
			f += 1;                                                            \
		return f;                                                                  \
	}
FLOAT_DIV_HELPERS(f32, float, fmodf, floorf, copysignf)
FLOAT_DIV_HELPERS(f64, double, fmod, floor, copysign)

/* Integer division family. A zero divisor raises p->zero_div (PyTorch throws
 * ZeroDivisionError) and gives 0; x / -1 wraps instead of trapping. */
#define SINT_DIV_HELPERS(S, T, U)                                                          \
	EW_INLINE T h_truncdiv_##S(T a, T b, struct eparams *p)                          \
	{                                                                                  \
		if (b == 0) {                                                              \
			p->zero_div = 1;                                                   \
			return 0;                                                          \
		}                                                                          \
		if (b == -1)                                                               \
			return (T)(0 - (U)a);                                              \
		return (T)(a / b);                                                         \
	}                                                                                  \
	EW_INLINE T h_fmod_##S(T a, T b, struct eparams *p)                              \
	{                                                                                  \
		if (b == 0) {                                                              \
			p->zero_div = 1;                                                   \
			return 0;                                                          \
		}                                                                          \
		return b == -1 ? 0 : (T)(a % b);                                           \
	}                                                                                  \
	EW_INLINE T h_remainder_##S(T a, T b, struct eparams *p)                         \
	{                                                                                  \
		T r = h_fmod_##S(a, b, p);                                                   \
		if (r != 0 && ((r < 0) != (b < 0)))                                        \
			r = (T)(r + b);                                                    \
		return r;                                                                  \
	}                                                                                  \
	EW_INLINE T h_floordiv_##S(T a, T b, struct eparams *p)                          \
	{                                                                                  \
		T q = h_truncdiv_##S(a, b, p);                                               \
		if (b != 0 && b != -1 && ((a < 0) != (b < 0)) && (T)(a % b) != 0)          \
			q = (T)(q - 1);                                                    \
		return q;                                                                  \
	}                                                                                  \
	/* c10 powi: negative exponents give 1, -1 or 0 */                                 \
	EW_INLINE T h_powi_##S(T a, T b)                                                 \
	{                                                                                  \
		if (b < 0)                                                                 \
			return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;              \
		U r = 1, x = (U)a;                                                         \
		for (U e = (U)b; e; e >>= 1) {                                             \
			if (e & 1)                                                         \
				r = (U)(r * x);                                            \
			x = (U)(x * x);                                                    \
		}                                                                          \
		return (T)r;                                                               \
	}
SINT_DIV_HELPERS(i8, int8_t, uint8_t)
SINT_DIV_HELPERS(i16, int16_t, uint16_t)
SINT_DIV_HELPERS(i32, int32_t, uint32_t)
SINT_DIV_HELPERS(i64, int64_t, uint64_t)

EW_INLINE uint8_t h_truncdiv_u8(uint8_t a, uint8_t b, struct eparams *p)
{
	if (b == 0) {
		p->zero_div = 1;
		return 0;
	}
	return (uint8_t)(a / b);
}

EW_INLINE uint8_t h_fmod_u8(uint8_t a, uint8_t b, struct eparams *p)
{
	if (b == 0) {
		p->zero_div = 1;
		return 0;
	}
	return (uint8_t)(a % b);
}

#define h_remainder_u8 h_fmod_u8
#define h_floordiv_u8 h_truncdiv_u8

EW_INLINE uint8_t h_powi_u8(uint8_t a, uint8_t b)
{
	unsigned r = 1, x = a;
	for (unsigned e = b; e; e >>= 1) {
		if (e & 1)
			r = (r * x) & 0xffu;
		x = (x * x) & 0xffu;
	}
	return (uint8_t)r;
}

/* maximum/minimum: a NaN on either side wins (ATen propagates NaN). */
#define INT_MINMAX(S, T, U, F)                                                             \
	EW_INLINE T h_max_##S(T a, T b)                                                \
	{                                                                                  \
		return a > b ? a : b;                                                      \
	}                                                                                  \
	EW_INLINE T h_min_##S(T a, T b)                                                \
	{                                                                                  \
		return a < b ? a : b;                                                      \
	}
#define FLOAT_MINMAX(S, T, U, F)                                                           \
	EW_INLINE T h_max_##S(T a, T b)                                                \
	{                                                                                  \
		return (a > b || a != a) ? a : b;                                          \
	}                                                                                  \
	EW_INLINE T h_min_##S(T a, T b)                                                \
	{                                                                                  \
		return (a < b || a != a) ? a : b;                                          \
	}

/* ---- Typed loops ----------------------------------------------------------------- */

BINT_TYPES(INT_MINMAX)
FLOAT_TYPES(FLOAT_MINMAX)

/* Bitwise ops on integers; on bools they are the logical ones. */
#define INT_BITWISE(S, T, U, F)                                                            \
	BINARY(bitwise_and_##S, T, T, , x & y)                                             \
	BINARY(bitwise_or_##S, T, T, , x | y)                                              \
	BINARY(bitwise_xor_##S, T, T, , x ^ y)
INT_TYPES(INT_BITWISE)
BINARY(bitwise_and_b, uint8_t, uint8_t, , (x != 0) & (y != 0))
BINARY(bitwise_or_b, uint8_t, uint8_t, , (x != 0) | (y != 0))
BINARY(bitwise_xor_b, uint8_t, uint8_t, , (x != 0) ^ (y != 0))
#define logical_and_b bitwise_and_b
#define logical_or_b bitwise_or_b
#define logical_xor_b bitwise_xor_b

/* Comparisons (bool out), maximum/minimum (NaN wins in both), where, clamp. */
#define CMP_AND_SELECT(S, T, U, F)                                                         \
	BINARY(eq_##S, T, uint8_t, , x == y)                                               \
	BINARY(ne_##S, T, uint8_t, , x != y)                                               \
	BINARY(lt_##S, T, uint8_t, , x < y)                                                \
	BINARY(le_##S, T, uint8_t, , x <= y)                                               \
	BINARY(gt_##S, T, uint8_t, , x > y)                                                \
	BINARY(ge_##S, T, uint8_t, , x >= y)                                               \
	BINARY(maximum_##S, T, T, , h_max_##S(x, y))                                       \
	BINARY(minimum_##S, T, T, , h_min_##S(x, y))                                       \
	TERNARY(where_##S, uint8_t, T, T, , c ? x : y)
ALL_TYPES(CMP_AND_SELECT)

/* clamp(c, lo = x, hi = y) = minimum(maximum(c, lo), hi) */
#define CLAMP_LOOP(S, T, U, F) TERNARY(clamp_##S, T, T, T, , h_min_##S(h_max_##S(c, x), y))
NUM_TYPES(CLAMP_LOOP)

/* Integer arithmetic of the division family, pow and rsub (y - alpha * x). */
#define INT_ARITH(S, T, U, F)                                                              \
	BINARY(truncdiv_##S, T, T, , h_truncdiv_##S(x, y, p))                                \
	BINARY(floordiv_##S, T, T, , h_floordiv_##S(x, y, p))                                \
	BINARY(fmod_##S, T, T, , h_fmod_##S(x, y, p))                                        \
	BINARY(remainder_##S, T, T, , h_remainder_##S(x, y, p))                              \
	BINARY(pow_##S, T, T, , h_powi_##S(x, y))                                            \
	BINARY(rsub_##S, T, T, const U al = (U)p->al.F, (U)y - al * (U)x)
INT_TYPES(INT_ARITH)

#define FLOAT_ARITH(S, T, FMOD, FLOOR, TRUNC, POW, ATAN2)                                  \
	BINARY(truncdiv_##S, T, T, , TRUNC(x / y))                                         \
	BINARY(floordiv_##S, T, T, , h_floordiv_##S(x, y))                                   \
	BINARY(fmod_##S, T, T, , FMOD(x, y))                                               \
	BINARY(remainder_##S, T, T, , h_remainder_##S(x, y))                                 \
	BINARY(pow_##S, T, T, , POW(x, y))                                                 \
	BINARY(rsub_##S, T, T, const T al = p->al.S, y - al * x)                           \
	BINARY(truediv_##S, T, T, , x / y)                                                 \
	BINARY(atan2_##S, T, T, , ATAN2(x, y))
FLOAT_ARITH(f32, float, fmodf, floorf, truncf, powf, atan2f)
FLOAT_ARITH(f64, double, fmod, floor, trunc, pow, atan2)

/* ---- The driver ------------------------------------------------------------------ */

#define MAX_IN 3
#define BLOCK 256

struct eplan {
	efn fn;
	uint32_t n_in;
	int odt, ocdt, opdt; /* out dtype, dtype the loop writes, rounding dtype */
	int idt[MAX_IN], icdt[MAX_IN], ipdt[MAX_IN];
	bool buf_in[MAX_IN], buf_o, any_buf;
	struct eparams *prm;
};

/* Input block into the loop dtype. Integers bound for a float16/bfloat16 result
 * round to that type first, as PyTorch casts operands to the common dtype. */
static void conv_in(const struct eplan *p, uint32_t k, char *dst, const char *src, ptrdiff_t ss,
		    size_t n)
{
	int cdt = p->icdt[k], pdt = p->ipdt[k], sdt = p->idt[k];
	ptrdiff_t cs = (ptrdiff_t)infd_dtype_size(cdt);
	if (pdt != cdt && sdt != pdt && !infd__dtype_is_float(sdt)) {
		uint16_t tmp[BLOCK];
		infd__convert(tmp, pdt, 2, src, sdt, ss, n);
		infd__convert(dst, cdt, cs, tmp, pdt, 2, n);
		return;
	}
	infd__convert(dst, cdt, cs, src, sdt, ss, n);
}

/* Output block into the out dtype, rounding through a float16/bfloat16 result. */
static void conv_out(const struct eplan *p, char *dst, ptrdiff_t ds, const char *src, size_t n)
{
	infd__convert_result(dst, p->odt, ds, src, p->ocdt, p->opdt, n);
}

static void erow(void *user, char *const *ptr, const ptrdiff_t *st, size_t n)
{
	const struct eplan *p = user;
	const char *in[MAX_IN] = {NULL, NULL, NULL};
	ptrdiff_t si[MAX_IN] = {0, 0, 0};
	for (uint32_t k = 0; k < p->n_in; k++) {
		in[k] = ptr[k + 1];
		si[k] = st[k + 1];
	}
	if (!p->any_buf) {
		p->fn(n, ptr[0], st[0], in[0], si[0], in[1], si[1], in[2], si[2], p->prm);
		return;
	}
	double buf[MAX_IN][BLOCK], bo[BLOCK]; /* aligned for any loop dtype */
	for (uint32_t k = 0; k < p->n_in; k++) {
		if (p->buf_in[k] && si[k] == 0) {
			conv_in(p, k, (char *)buf[k], in[k], 0, 1);
			in[k] = (const char *)buf[k];
		}
	}
	ptrdiff_t ocs = (ptrdiff_t)infd_dtype_size(p->ocdt);
	for (size_t off = 0; off < n; off += BLOCK) {
		size_t m = n - off < BLOCK ? n - off : BLOCK;
		const char *x[MAX_IN];
		ptrdiff_t xs[MAX_IN];
		for (uint32_t k = 0; k < MAX_IN; k++) {
			x[k] = si[k] ? in[k] + (ptrdiff_t)off * si[k] : in[k];
			xs[k] = si[k];
			if (k < p->n_in && p->buf_in[k] && si[k]) {
				conv_in(p, k, (char *)buf[k], x[k], si[k], m);
				x[k] = (const char *)buf[k];
				xs[k] = (ptrdiff_t)infd_dtype_size(p->icdt[k]);
			}
		}
		char *o = ptr[0] + (ptrdiff_t)off * st[0];
		if (p->buf_o) {
			p->fn(m, (char *)bo, ocs, x[0], xs[0], x[1], xs[1], x[2], xs[2], p->prm);
			conv_out(p, o, st[0], (const char *)bo, m);
		} else {
			p->fn(m, o, st[0], x[0], xs[0], x[1], xs[1], x[2], xs[2], p->prm);
		}
	}
}

static bool aligned(const void *p, size_t es)
{
	return ((uintptr_t)p & (es - 1)) == 0;
}

/* Broadcast the tensor operands, resize out, and run fn over every element:
 * one flat call when every operand already matches out element for element,
 * else row by row through the strided iterator. */
infd_status infd__ew_launch(const struct infd_kargs *A, efn fn, struct infd_tensor *out, int ocdt,
			    int opdt, const struct operand *ops, uint32_t n_in, struct eparams *prm)
{
	infd_status st;
	const struct infd_tensor *ts[MAX_IN];
	uint32_t nt = 0;
	for (uint32_t k = 0; k < n_in; k++)
		if (ops[k].t)
			ts[nt++] = ops[k].t;
	uint32_t rank = 0;
	int32_t bsizes[INFD_MAX_RANK];
	const int32_t *sizes = bsizes;
	bool same = true;
	for (uint32_t k = 1; k < nt && same; k++)
		same = infd__tensor_has_shape(ts[k], ts[0]->rank, ts[0]->sizes);
	if (nt && same) {
		rank = ts[0]->rank;
		sizes = ts[0]->sizes;
	} else if (nt && (st = infd__broadcast_shape(A, ts, nt, &rank, bsizes))) {
		return st;
	}
	for (uint32_t k = 0; k < nt; k++) {
		const struct infd_tensor *t = ts[k];
		if (out->data && t->numel && out->data == t->data &&
		    (!infd__tensor_has_shape(t, rank, sizes) || t->dtype != out->dtype ||
		     !infd__tensor_same_layout(t, out)))
			return infd__kfail(A, INFD_BAD_INPUT,
					   "out shares memory with an input of another shape, dtype or "
					   "dim order");
	}
	if ((st = infd__kout_resize(A, out, rank, sizes)))
		return st;
	if (out->numel == 0)
		return INFD_OK;

	struct eplan p = {.fn = fn, .n_in = n_in, .odt = out->dtype, .ocdt = ocdt, .opdt = opdt,
			  .prm = prm};
	size_t oes = infd_dtype_size(ocdt);
	p.buf_o = out->dtype != ocdt || opdt != ocdt || !aligned(out->data, oes);
	p.any_buf = p.buf_o;
	bool flat = !p.buf_o;
	for (uint32_t k = 0; k < n_in; k++) {
		const struct infd_tensor *t = ops[k].t;
		p.icdt[k] = ops[k].cdt;
		p.ipdt[k] = ops[k].pdt;
		p.idt[k] = t ? t->dtype : ops[k].cdt;
		p.buf_in[k] = t && (t->dtype != ops[k].cdt || !aligned(t->data, infd_dtype_size(ops[k].cdt)));
		p.any_buf |= p.buf_in[k];
		if (t && (p.buf_in[k] || (!infd__tensor_same_layout(t, out) && t->numel != 1)))
			flat = false;
	}
	if (flat) {
		const char *in[MAX_IN] = {NULL, NULL, NULL};
		ptrdiff_t si[MAX_IN] = {0, 0, 0};
		for (uint32_t k = 0; k < n_in; k++) {
			const struct infd_tensor *t = ops[k].t;
			in[k] = t ? (const char *)t->data : (const char *)&ops[k].s;
			si[k] = t && t->numel != 1 ? (ptrdiff_t)infd_dtype_size(t->dtype) : 0;
		}
		fn((size_t)out->numel, out->data, (ptrdiff_t)oes, in[0], si[0], in[1], si[1], in[2],
		   si[2], prm);
		return INFD_OK;
	}
	struct infd_iter it;
	infd__iter_init(&it, out->rank, out->sizes);
	infd__iter_add(&it, out);
	for (uint32_t k = 0; k < n_in; k++) {
		if (ops[k].t)
			infd__iter_add(&it, ops[k].t);
		else
			infd__iter_add_scalar(&it, &ops[k].s);
	}
	infd__iter_finish(&it);
	infd__iter_rows(&it, erow, &p);
	return INFD_OK;
}

/* ---- Dtype rules -------------------------------------------------------------- */

static bool ew_supported(int dtype)
{
	return ctype_of(infd__compute_dtype(dtype)) >= 0;
}

infd_status infd__ew_check_dtype(const struct infd_kargs *A, const char *what, int dtype)
{
	if (ew_supported(dtype))
		return INFD_OK;
	return infd__kfail(A, INFD_KERNEL_FAILED, "%s has unsupported dtype %s", what,
			   infd_dtype_name(dtype));
}

/* A result of dtype rdt may be written into out. */
infd_status infd__ew_check_out(const struct infd_kargs *A, int rdt, int odt)
{
	infd_status st = infd__ew_check_dtype(A, "out", odt);
	if (st || rdt == odt || infd__can_cast(rdt, odt))
		return st;
	return infd__kfail(A, INFD_BAD_INPUT,
			   "result type %s cannot be stored in an out tensor of dtype %s",
			   infd_dtype_name(rdt), infd_dtype_name(odt));
}

/* The loop for dtype cdt from an op's table, or a failure naming the dtype. */
infd_status infd__ew_pick(const struct infd_kargs *A, const efn *table, int cdt, int shown,
			  efn *fn)
{
	int ct = ctype_of(cdt);
	if (ct >= 0 && table[ct]) {
		*fn = table[ct];
		return INFD_OK;
	}
	return infd__kfail(A, INFD_KERNEL_FAILED, "not implemented for dtype %s",
			   infd_dtype_name(shown));
}

/* A scalar as a value of the loop dtype cdt, rounded through pdt (float16 or
 * bfloat16) when that differs. Floats store d, integers i modulo 2^bits, bool
 * "!= 0". */
static union cval scalar_cval(int cdt, int pdt, const struct infd_scalar *s)
{
	union cval c = {.i64 = 0};
	bool is_d = s->kind == INFD_VALUE_DOUBLE;
	switch (ctype_of(cdt)) {
	case CT_BOOL: c.u8 = is_d ? s->d != 0 : s->i != 0; break;
	case CT_U8: c.u8 = (uint8_t)(uint64_t)s->i; break;
	case CT_I8: c.i8 = (int8_t)(uint64_t)s->i; break;
	case CT_I16: c.i16 = (int16_t)(uint64_t)s->i; break;
	case CT_I32: c.i32 = (int32_t)(uint64_t)s->i; break;
	case CT_I64: c.i64 = s->i; break;
	case CT_F32: c.f32 = is_d ? (float)s->d : (float)s->i; break;
	default: c.f64 = is_d ? s->d : (double)s->i; break;
	}
	if (pdt != cdt && cdt == INFD_DTYPE_FLOAT32) {
		uint16_t h;
		infd__convert(&h, pdt, 0, &c.f32, INFD_DTYPE_FLOAT32, 0, 1);
		infd__convert(&c.f32, INFD_DTYPE_FLOAT32, 0, &h, pdt, 0, 1);
	}
	return c;
}

static struct operand scalar_operand(const struct infd_scalar *s, int pdt)
{
	int cdt = infd__compute_dtype(pdt);
	return (struct operand){.t = NULL, .s = scalar_cval(cdt, pdt, s), .cdt = cdt, .pdt = pdt};
}

/* ---- String arguments --------------------------------------------------------- */

/* A `str` or `str?` argument: *s = NULL for None (when optional). */
infd_status infd__ew_karg_str(const struct infd_kargs *A, uint32_t i, const char *name,
			      bool optional, const char **s, uint32_t *len)
{
	const struct infd_evalue *v = A->v[i];
	if (optional && v->kind == INFD_VALUE_NULL) {
		*s = NULL;
		*len = 0;
		return INFD_OK;
	}
	if (v->kind != INFD_VALUE_STRING || (!v->u.str.ptr && v->u.str.len))
		return infd__kfail(A, INFD_KERNEL_FAILED, "argument %u (%s) must be a string%s", i,
				   name, optional ? " or None" : "");
	*s = v->u.str.ptr ? v->u.str.ptr : "";
	*len = v->u.str.len;
	return INFD_OK;
}

bool infd__ew_str_is(const char *s, uint32_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* ---- Binary kernels ------------------------------------------------------------- */

enum bkind {
	BK_SAME,  /* result in the promoted dtype */
	BK_FLOAT, /* integer results become float32 (true division, atan2) */
	BK_CMP,   /* compare in the promoted dtype, bool result */
	BK_LOGIC, /* inputs read as bools, bool result */
};

struct bop {
	efn fns[N_CT];
	uint8_t kind;
	bool no_bool; /* a bool promoted dtype is refused (arithmetic) */
};

/* Each side is a tensor (at/bt) or a scalar (as/bs). */
static infd_status binary_run(const struct infd_kargs *A, const struct bop *op,
			      const struct infd_tensor *at, const struct infd_scalar *as,
			      const struct infd_tensor *bt, const struct infd_scalar *bs,
			      struct infd_tensor *out, struct eparams *prm, int *pdt_out)
{
	infd_status st;
	if ((at && (st = infd__ew_check_dtype(A, "self", at->dtype))) ||
	    (bt && (st = infd__ew_check_dtype(A, "other", bt->dtype))))
		return st;
	int pdt;
	if (at && bt)
		pdt = at->dtype == bt->dtype ? at->dtype : infd__promote_types(at->dtype, bt->dtype);
	else
		pdt = at ? infd__promote_with_scalar(at->dtype, bs)
			 : infd__promote_with_scalar(bt->dtype, as);
	if (pdt < 0 || !ew_supported(pdt))
		return infd__kfail(A, INFD_BAD_INPUT, "cannot promote %s and %s",
				   infd_dtype_name(at ? at->dtype : infd__scalar_dtype(as)),
				   infd_dtype_name(bt ? bt->dtype : infd__scalar_dtype(bs)));
	if (op->kind == BK_FLOAT && !infd__dtype_is_float(pdt))
		pdt = INFD_DTYPE_FLOAT32;
	if (op->kind == BK_LOGIC)
		pdt = INFD_DTYPE_BOOL;
	if (op->no_bool && pdt == INFD_DTYPE_BOOL)
		return infd__kfail(A, INFD_KERNEL_FAILED, "not implemented for dtype bool");
	int rdt = op->kind == BK_CMP || op->kind == BK_LOGIC ? INFD_DTYPE_BOOL : pdt;
	efn fn = NULL;
	if ((st = infd__ew_check_out(A, rdt, out->dtype)) ||
	    (st = infd__ew_pick(A, op->fns, infd__compute_dtype(pdt), pdt, &fn)))
		return st;
	if (pdt_out)
		*pdt_out = pdt;
	struct operand ops[2] = {
		at ? infd__ew_tensor_operand(at, pdt) : scalar_operand(as, pdt),
		bt ? infd__ew_tensor_operand(bt, pdt) : scalar_operand(bs, pdt),
	};
	if ((st = infd__ew_launch(A, fn, out, infd__compute_dtype(rdt), rdt, ops, 2, prm)))
		return st;
	if (prm->zero_div)
		return infd__kfail(A, INFD_BAD_INPUT, "ZeroDivisionError: integer division by zero");
	return INFD_OK;
}

/* [self T, other T, out, ret] */
static infd_status binary_tt(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
			     const char *name, const struct bop *op)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *a, *b;
	struct infd_tensor *out;
	struct eparams prm = {.zero_div = 0};
	if ((st = infd__kargs_begin(&A, ctx, args, n, name, 4)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &a)) ||
	    (st = infd__karg_tensor(&A, 1, "other", &b)) || (st = infd__karg_out(&A, 2, 3, &out)))
		return st;
	return binary_run(&A, op, a, NULL, b, NULL, out, &prm, NULL);
}

/* [self T, other S, out, ret] */
static infd_status binary_ts(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
			     const char *name, const struct bop *op)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *a;
	struct infd_scalar b;
	struct infd_tensor *out;
	struct eparams prm = {.zero_div = 0};
	if ((st = infd__kargs_begin(&A, ctx, args, n, name, 4)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &a)) ||
	    (st = infd__karg_scalar(&A, 1, "other", &b)) || (st = infd__karg_out(&A, 2, 3, &out)))
		return st;
	return binary_run(&A, op, a, NULL, NULL, &b, out, &prm, NULL);
}

#define BENTRY_TT(FN, KEY, OP)                                                             \
	infd_status FN(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)  \
	{                                                                                  \
		return binary_tt(ctx, args, n, KEY, &OP);                                  \
	}
#define BENTRY_TS(FN, KEY, OP)                                                             \
	infd_status FN(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)  \
	{                                                                                  \
		return binary_ts(ctx, args, n, KEY, &OP);                                  \
	}

#define CMP_OPS(X) X(eq) X(ne) X(lt) X(le) X(gt) X(ge)
#define DEF_CMP(N)                                                                         \
	static const struct bop op_##N = {T_ALL(N), BK_CMP, false};                        \
	BENTRY_TT(infd__k_##N##_tensor_out, "aten::" #N ".Tensor_out", op_##N)             \
	BENTRY_TS(infd__k_##N##_scalar_out, "aten::" #N ".Scalar_out", op_##N)
CMP_OPS(DEF_CMP)

static const struct bop op_maximum = {T_ALL(maximum), BK_SAME, false};
static const struct bop op_minimum = {T_ALL(minimum), BK_SAME, false};
BENTRY_TT(infd__k_maximum_out, "aten::maximum.out", op_maximum)
BENTRY_TT(infd__k_minimum_out, "aten::minimum.out", op_minimum)

static const struct bop op_logical_and = {{[CT_BOOL] = logical_and_b}, BK_LOGIC, false};
static const struct bop op_logical_or = {{[CT_BOOL] = logical_or_b}, BK_LOGIC, false};
static const struct bop op_logical_xor = {{[CT_BOOL] = logical_xor_b}, BK_LOGIC, false};
BENTRY_TT(infd__k_logical_and_out, "aten::logical_and.out", op_logical_and)
BENTRY_TT(infd__k_logical_or_out, "aten::logical_or.out", op_logical_or)
BENTRY_TT(infd__k_logical_xor_out, "aten::logical_xor.out", op_logical_xor)

#define BITWISE_OPS(X) X(bitwise_and) X(bitwise_or) X(bitwise_xor)
#define DEF_BITWISE(N)                                                                     \
	static const struct bop op_##N = {                                                 \
		{[CT_BOOL] = N##_b, [CT_U8] = N##_u8, [CT_I8] = N##_i8, [CT_I16] = N##_i16, \
		 [CT_I32] = N##_i32, [CT_I64] = N##_i64},                                  \
		BK_SAME, false};                                                           \
	BENTRY_TT(infd__k_##N##_tensor_out, "aten::" #N ".Tensor_out", op_##N)             \
	BENTRY_TS(infd__k_##N##_scalar_out, "aten::" #N ".Scalar_out", op_##N)
BITWISE_OPS(DEF_BITWISE)

static const struct bop op_remainder = {T_NUM(remainder), BK_SAME, true};
static const struct bop op_fmod = {T_NUM(fmod), BK_SAME, true};
static const struct bop op_floordiv = {T_NUM(floordiv), BK_SAME, true};
static const struct bop op_truncdiv = {T_NUM(truncdiv), BK_SAME, true};
static const struct bop op_truediv = {T_FLOAT(truediv), BK_FLOAT, false};
static const struct bop op_atan2 = {T_FLOAT(atan2), BK_FLOAT, false};
static const struct bop op_pow = {T_NUM(pow), BK_SAME, true};
BENTRY_TT(infd__k_remainder_tensor_out, "aten::remainder.Tensor_out", op_remainder)
BENTRY_TS(infd__k_remainder_scalar_out, "aten::remainder.Scalar_out", op_remainder)
BENTRY_TT(infd__k_fmod_tensor_out, "aten::fmod.Tensor_out", op_fmod)
BENTRY_TS(infd__k_fmod_scalar_out, "aten::fmod.Scalar_out", op_fmod)
BENTRY_TT(infd__k_floor_divide_out, "aten::floor_divide.out", op_floordiv)
BENTRY_TT(infd__k_atan2_out, "aten::atan2.out", op_atan2)
BENTRY_TT(infd__k_pow_tensor_tensor_out, "aten::pow.Tensor_Tensor_out", op_pow)

/* aten::div.out_mode [self, other T, rounding_mode, out, ret];
 * aten::div.Scalar_mode_out [self, other S, rounding_mode, out, ret] */
static infd_status div_mode(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
			    const char *name, bool scalar)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *a, *b = NULL;
	struct infd_scalar bs;
	struct infd_tensor *out;
	const char *mode;
	uint32_t len;
	struct eparams prm = {.zero_div = 0};
	if ((st = infd__kargs_begin(&A, ctx, args, n, name, 5)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &a)) ||
	    (st = scalar ? infd__karg_scalar(&A, 1, "other", &bs)
			 : infd__karg_tensor(&A, 1, "other", &b)) ||
	    (st = infd__ew_karg_str(&A, 2, "rounding_mode", true, &mode, &len)) ||
	    (st = infd__karg_out(&A, 3, 4, &out)))
		return st;
	const struct bop *op;
	if (!mode)
		op = &op_truediv;
	else if (infd__ew_str_is(mode, len, "trunc"))
		op = &op_truncdiv;
	else if (infd__ew_str_is(mode, len, "floor"))
		op = &op_floordiv;
	else
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "rounding_mode must be 'trunc', 'floor' or None, got '%.*s'",
				   (int)(len > 64 ? 64 : len), mode);
	return binary_run(&A, op, a, NULL, b, scalar ? &bs : NULL, out, &prm, NULL);
}

infd_status infd__k_div_out_mode(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				 uint32_t n)
{
	return div_mode(ctx, args, n, "aten::div.out_mode", false);
}

infd_status infd__k_div_scalar_mode_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					uint32_t n)
{
	return div_mode(ctx, args, n, "aten::div.Scalar_mode_out", true);
}

/* aten::rsub.Scalar_out [self, other S, alpha S, out, ret]: other - alpha * self */
infd_status infd__k_rsub_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				    uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *a;
	struct infd_scalar other, alpha;
	struct infd_tensor *out;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::rsub.Scalar_out", 5)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &a)) ||
	    (st = infd__karg_scalar(&A, 1, "other", &other)) ||
	    (st = infd__karg_scalar(&A, 2, "alpha", &alpha)) ||
	    (st = infd__karg_out(&A, 3, 4, &out)))
		return st;
	if (a->dtype == INFD_DTYPE_BOOL || other.kind == INFD_VALUE_BOOL)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "subtraction with a bool operand is not supported");
	if ((st = infd__ew_check_dtype(&A, "self", a->dtype)))
		return st;
	int pdt = infd__promote_with_scalar(a->dtype, &other);
	if (alpha.kind == INFD_VALUE_DOUBLE && !infd__dtype_is_float(pdt))
		return infd__kfail(&A, INFD_BAD_INPUT, "alpha must be an integer for %s results, got %g",
				   infd_dtype_name(pdt), alpha.d);
	if (alpha.kind == INFD_VALUE_BOOL)
		return infd__kfail(&A, INFD_BAD_INPUT, "a bool alpha is only supported for bool results");
	static const efn fns[N_CT] = {NULL, rsub_u8, rsub_i8, rsub_i16, rsub_i32, rsub_i64,
				      rsub_f32, rsub_f64};
	struct eparams prm = {.zero_div = 0};
	int cdt = infd__compute_dtype(pdt);
	prm.al = scalar_cval(cdt, cdt, &alpha);
	efn fn = NULL;
	if ((st = infd__ew_check_out(&A, pdt, out->dtype)) || (st = infd__ew_pick(&A, fns, cdt, pdt, &fn)))
		return st;
	struct operand ops[2] = {infd__ew_tensor_operand(a, pdt), scalar_operand(&other, pdt)};
	return infd__ew_launch(&A, fn, out, cdt, pdt, ops, 2, &prm);
}

/* ---- pow -------------------------------------------------------------------------- */

/* aten::pow.Tensor_Scalar_out [self, exponent S, out, ret]: the exponents ATen
 * special-cases for floating results take their own loops. */
infd_status infd__k_pow_tensor_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					  uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *a;
	struct infd_scalar e;
	struct infd_tensor *out;
	struct eparams prm = {.zero_div = 0};
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::pow.Tensor_Scalar_out", 4)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &a)) ||
	    (st = infd__karg_scalar(&A, 1, "exponent", &e)) ||
	    (st = infd__karg_out(&A, 2, 3, &out)))
		return st;
	if ((st = infd__ew_check_dtype(&A, "self", a->dtype)))
		return st;
	int pdt = infd__promote_with_scalar(a->dtype, &e);
	if (!infd__dtype_is_float(pdt)) {
		if (e.kind != INFD_VALUE_BOOL && e.i < 0)
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "integers to negative integer powers are not allowed");
		return binary_run(&A, &op_pow, a, NULL, NULL, &e, out, &prm, NULL);
	}
	const struct uop *special = infd__ew_pow_uop(e.d);
	if (special && infd__dtype_is_float(a->dtype))
		return infd__ew_unary_run(&A, special, a, out, &prm);
	return binary_run(&A, &op_pow, a, NULL, NULL, &e, out, &prm, NULL);
}

/* aten::pow.Scalar_out [self S, exponent T, out, ret] */
infd_status infd__k_pow_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	struct infd_scalar base;
	const struct infd_tensor *e;
	struct infd_tensor *out;
	struct eparams prm = {.zero_div = 0};
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::pow.Scalar_out", 4)) ||
	    (st = infd__karg_scalar(&A, 0, "self", &base)) ||
	    (st = infd__karg_tensor(&A, 1, "exponent", &e)) ||
	    (st = infd__karg_out(&A, 2, 3, &out)))
		return st;
	return binary_run(&A, &op_pow, NULL, &base, e, NULL, out, &prm, NULL);
}

/* ---- where, masked_fill, clamp, hardtanh -------------------------------------------- */

static const efn where_fns[N_CT] = T_ALL(where);
static const efn clamp_fns[N_CT] = T_NUM(clamp);
static const efn maximum_fns[N_CT] = T_ALL(maximum);
static const efn minimum_fns[N_CT] = T_ALL(minimum);

static infd_status check_mask(const struct infd_kargs *A, const char *what,
			      const struct infd_tensor *m, bool allow_u8)
{
	if (m->dtype == INFD_DTYPE_BOOL || (allow_u8 && m->dtype == INFD_DTYPE_UINT8))
		return INFD_OK;
	return infd__kfail(A, INFD_KERNEL_FAILED, "%s must be a bool tensor, got %s", what,
			   infd_dtype_name(m->dtype));
}

/* aten::where.self_out [condition, self, other, out, ret] */
infd_status infd__k_where_self_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *c, *a, *b;
	struct infd_tensor *out;
	struct eparams prm = {.zero_div = 0};
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::where.self_out", 5)) ||
	    (st = infd__karg_tensor(&A, 0, "condition", &c)) ||
	    (st = infd__karg_tensor(&A, 1, "self", &a)) ||
	    (st = infd__karg_tensor(&A, 2, "other", &b)) || (st = infd__karg_out(&A, 3, 4, &out)))
		return st;
	if ((st = check_mask(&A, "condition", c, true)) || (st = infd__ew_check_dtype(&A, "self", a->dtype)) ||
	    (st = infd__ew_check_dtype(&A, "other", b->dtype)))
		return st;
	int pdt = a->dtype == b->dtype ? a->dtype : infd__promote_types(a->dtype, b->dtype);
	if (pdt < 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "cannot promote %s and %s",
				   infd_dtype_name(a->dtype), infd_dtype_name(b->dtype));
	efn fn = NULL;
	if ((st = infd__ew_check_out(&A, pdt, out->dtype)) ||
	    (st = infd__ew_pick(&A, where_fns, infd__compute_dtype(pdt), pdt, &fn)))
		return st;
	struct operand ops[3] = {
		{.t = c, .cdt = c->dtype, .pdt = c->dtype},
		infd__ew_tensor_operand(a, pdt),
		infd__ew_tensor_operand(b, pdt),
	};
	return infd__ew_launch(&A, fn, out, infd__compute_dtype(pdt), pdt, ops, 3, &prm);
}

/* aten::masked_fill.Scalar_out [self, mask, value, out, ret]: where(mask, value,
 * self) in self's dtype (the value is cast, not promoted). */
infd_status infd__k_masked_fill_scalar_out(struct infd_kernel_ctx *ctx,
					   struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *a, *m;
	struct infd_scalar v;
	struct infd_tensor *out;
	struct eparams prm = {.zero_div = 0};
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::masked_fill.Scalar_out", 5)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &a)) ||
	    (st = infd__karg_tensor(&A, 1, "mask", &m)) ||
	    (st = infd__karg_scalar(&A, 2, "value", &v)) || (st = infd__karg_out(&A, 3, 4, &out)))
		return st;
	int pdt = a->dtype;
	efn fn = NULL;
	if ((st = check_mask(&A, "mask", m, false)) || (st = infd__ew_check_dtype(&A, "self", pdt)) ||
	    (st = infd__ew_check_out(&A, pdt, out->dtype)) ||
	    (st = infd__ew_pick(&A, where_fns, infd__compute_dtype(pdt), pdt, &fn)))
		return st;
	struct operand ops[3] = {
		{.t = m, .cdt = m->dtype, .pdt = m->dtype},
		scalar_operand(&v, pdt),
		infd__ew_tensor_operand(a, pdt),
	};
	return infd__ew_launch(&A, fn, out, infd__compute_dtype(pdt), pdt, ops, 3, &prm);
}

/* clamp in dtype pdt with optional bounds (tensor or scalar operands). */
static infd_status clamp_run(const struct infd_kargs *A, const struct infd_tensor *x, int pdt,
			     struct operand *lo, struct operand *hi, struct infd_tensor *out)
{
	infd_status st;
	struct eparams prm = {.zero_div = 0};
	if (pdt == INFD_DTYPE_BOOL)
		return infd__kfail(A, INFD_KERNEL_FAILED, "not implemented for dtype bool");
	efn fn = NULL;
	int cdt = infd__compute_dtype(pdt);
	struct operand ops[3] = {infd__ew_tensor_operand(x, pdt)};
	uint32_t n_in = 1;
	const efn *table = lo && hi ? clamp_fns : lo ? maximum_fns : minimum_fns;
	if (lo)
		ops[n_in++] = *lo;
	if (hi)
		ops[n_in++] = *hi;
	if ((st = infd__ew_check_out(A, pdt, out->dtype)) || (st = infd__ew_pick(A, table, cdt, pdt, &fn)))
		return st;
	return infd__ew_launch(A, fn, out, cdt, pdt, ops, n_in, &prm);
}

/* aten::clamp.out [self, min S?, max S?, out, ret] */
infd_status infd__k_clamp_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *x;
	struct infd_scalar lo, hi;
	struct infd_tensor *out;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::clamp.out", 5)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &x)) || (st = infd__karg_out(&A, 3, 4, &out)))
		return st;
	bool has_lo = args[1]->kind != INFD_VALUE_NULL, has_hi = args[2]->kind != INFD_VALUE_NULL;
	if ((has_lo && (st = infd__karg_scalar(&A, 1, "min", &lo))) ||
	    (has_hi && (st = infd__karg_scalar(&A, 2, "max", &hi))) ||
	    (st = infd__ew_check_dtype(&A, "self", x->dtype)))
		return st;
	if (!has_lo && !has_hi)
		return infd__kfail(&A, INFD_BAD_INPUT, "at least one of 'min' or 'max' must not be None");
	int pdt = x->dtype;
	if (has_lo)
		pdt = infd__promote_with_scalar(pdt, &lo);
	if (has_hi)
		pdt = infd__promote_with_scalar(pdt, &hi);
	struct operand olo = {0}, ohi = {0};
	if (has_lo)
		olo = scalar_operand(&lo, pdt);
	if (has_hi)
		ohi = scalar_operand(&hi, pdt);
	return clamp_run(&A, x, pdt, has_lo ? &olo : NULL, has_hi ? &ohi : NULL, out);
}

/* aten::clamp.Tensor_out [self, min T?, max T?, out, ret] */
infd_status infd__k_clamp_tensor_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				     uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *x, *lo, *hi;
	struct infd_tensor *out;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::clamp.Tensor_out", 5)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &x)) ||
	    (st = infd__karg_opt_tensor(&A, 1, "min", &lo)) ||
	    (st = infd__karg_opt_tensor(&A, 2, "max", &hi)) || (st = infd__karg_out(&A, 3, 4, &out)))
		return st;
	if (!lo && !hi)
		return infd__kfail(&A, INFD_BAD_INPUT, "at least one of 'min' or 'max' must not be None");
	if ((st = infd__ew_check_dtype(&A, "self", x->dtype)) ||
	    (lo && (st = infd__ew_check_dtype(&A, "min", lo->dtype))) ||
	    (hi && (st = infd__ew_check_dtype(&A, "max", hi->dtype))))
		return st;
	int pdt = x->dtype;
	if (lo)
		pdt = infd__promote_types(pdt, lo->dtype);
	if (hi && pdt >= 0)
		pdt = infd__promote_types(pdt, hi->dtype);
	if (pdt < 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "cannot promote the dtypes of self, min and max");
	struct operand olo = {0}, ohi = {0};
	if (lo)
		olo = infd__ew_tensor_operand(lo, pdt);
	if (hi)
		ohi = infd__ew_tensor_operand(hi, pdt);
	return clamp_run(&A, x, pdt, lo ? &olo : NULL, hi ? &ohi : NULL, out);
}

/* aten::hardtanh.out [self, min_val S, max_val S, out, ret]: clamp without type
 * promotion (integer tensors take the bounds truncated). */
infd_status infd__k_hardtanh_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				 uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *x;
	struct infd_scalar lo, hi;
	struct infd_tensor *out;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::hardtanh.out", 5)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &x)) ||
	    (st = infd__karg_scalar(&A, 1, "min_val", &lo)) ||
	    (st = infd__karg_scalar(&A, 2, "max_val", &hi)) ||
	    (st = infd__karg_out(&A, 3, 4, &out)) || (st = infd__ew_check_dtype(&A, "self", x->dtype)))
		return st;
	if (x->dtype == INFD_DTYPE_BOOL)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "bool inputs are not supported");
	if (x->dtype == INFD_DTYPE_UINT8 && (lo.i < 0 || hi.i < 0))
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "cannot do hardtanh on an unsigned type with negative limits");
	struct operand olo = scalar_operand(&lo, x->dtype), ohi = scalar_operand(&hi, x->dtype);
	return clamp_run(&A, x, x->dtype, &olo, &ohi, out);
}
