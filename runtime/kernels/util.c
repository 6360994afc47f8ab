/* Kernel helpers: argument checks, dtype promotion, element conversion,
 * broadcasting and the strided multi-operand iterator (see util.h). */
#include "util.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- Arguments ------------------------------------------------------------ */

infd_status infd__kfail(const struct infd_kargs *a, infd_status status, const char *fmt, ...)
{
	char msg[INFD_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return infd__fail(a->ctx ? a->ctx->err : NULL, status, "%s: %s", a->op ? a->op : "kernel",
			  msg);
}

infd_status infd__kargs_begin_full(struct infd_kargs *a, int32_t want)
{
	if (want >= 0 && a->n != (uint32_t)want)
		return infd__kfail(a, INFD_KERNEL_FAILED, "expected %d arguments, got %u", want, a->n);
	if (a->n && !a->v)
		return infd__kfail(a, INFD_KERNEL_FAILED, "no argument array");
	for (uint32_t i = 0; i < a->n; i++)
		if (!a->v[i])
			return infd__kfail(a, INFD_KERNEL_FAILED, "argument %u is missing", i);
	if (!a->v)
		a->n = 0;
	return INFD_OK;
}

static const char *kind_name(int kind)
{
	switch (kind) {
	case INFD_VALUE_NULL: return "None";
	case INFD_VALUE_INT: return "an int";
	case INFD_VALUE_BOOL: return "a bool";
	case INFD_VALUE_DOUBLE: return "a float";
	case INFD_VALUE_TENSOR: return "a tensor";
	case INFD_VALUE_STRING: return "a string";
	case INFD_VALUE_INT_LIST: return "an int list";
	case INFD_VALUE_DOUBLE_LIST: return "a float list";
	case INFD_VALUE_BOOL_LIST: return "a bool list";
	case INFD_VALUE_TENSOR_LIST: return "a tensor list";
	case INFD_VALUE_OPT_TENSOR_LIST: return "an optional tensor list";
	default: return "an unknown kind of value";
	}
}

static infd_status kind_error(const struct infd_kargs *a, uint32_t i, const char *name,
			      const char *want)
{
	if (i >= a->n)
		return infd__kfail(a, INFD_KERNEL_FAILED, "argument %u (%s) is missing", i, name);
	return infd__kfail(a, INFD_KERNEL_FAILED, "argument %u (%s) must be %s, got %s", i, name,
			   want, kind_name(a->v[i]->kind));
}

static infd_status check_tensor(const struct infd_kargs *a, uint32_t i, const char *name,
				const struct infd_tensor *t)
{
	if (t->rank > INFD_MAX_RANK)
		return infd__kfail(a, INFD_KERNEL_FAILED, "argument %u (%s) has rank %u (at most %d)",
				   i, name, t->rank, INFD_MAX_RANK);
	if (!t->data && t->numel)
		return infd__kfail(a, INFD_KERNEL_FAILED, "argument %u (%s) has no data", i, name);
	return INFD_OK;
}

infd_status infd__karg_tensor_full(const struct infd_kargs *a, uint32_t i, const char *name,
				   const struct infd_tensor **out)
{
	if (i >= a->n || a->v[i]->kind != INFD_VALUE_TENSOR || !a->v[i]->u.t)
		return kind_error(a, i, name, "a tensor");
	*out = a->v[i]->u.t;
	return check_tensor(a, i, name, *out);
}

infd_status infd__karg_opt_tensor(const struct infd_kargs *a, uint32_t i, const char *name,
				  const struct infd_tensor **out)
{
	if (i < a->n && a->v[i]->kind == INFD_VALUE_NULL) {
		*out = NULL;
		return INFD_OK;
	}
	if (i >= a->n || a->v[i]->kind != INFD_VALUE_TENSOR || !a->v[i]->u.t)
		return kind_error(a, i, name, "a tensor or None");
	*out = a->v[i]->u.t;
	return check_tensor(a, i, name, *out);
}

infd_status infd__karg_out_full(const struct infd_kargs *a, uint32_t i, uint32_t ret,
				struct infd_tensor **out)
{
	if (i >= a->n || a->v[i]->kind != INFD_VALUE_TENSOR || !a->v[i]->u.t)
		return kind_error(a, i, "out", "a tensor");
	struct infd_tensor *t = a->v[i]->u.t;
	if (ret >= a->n)
		return infd__kfail(a, INFD_KERNEL_FAILED, "the return slot (argument %u) is missing", ret);
	const struct infd_evalue *r = a->v[ret];
	if (r != a->v[i] && (r->kind != INFD_VALUE_TENSOR || r->u.t != t))
		return infd__kfail(a, INFD_KERNEL_FAILED,
				   "the return slot (argument %u) must be the out tensor again", ret);
	if (t->is_const)
		return infd__kfail(a, INFD_KERNEL_FAILED, "the out tensor is a read-only constant");
	if (t->rank > INFD_MAX_RANK)
		return infd__kfail(a, INFD_KERNEL_FAILED, "the out tensor has rank %u (at most %d)",
				   t->rank, INFD_MAX_RANK);
	*out = t;
	return INFD_OK;
}

/* Double -> int64 without undefined behaviour: truncate, saturate, NaN -> 0. */
static int64_t sat_i64(double v)
{
	if (v != v)
		return 0;
	if (v >= 9223372036854775807.0)
		return INT64_MAX;
	if (v <= -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)v;
}

static uint64_t sat_u64(double v)
{
	if (v != v || v <= 0)
		return 0;
	if (v >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)v;
}

infd_status infd__karg_scalar_full(const struct infd_kargs *a, uint32_t i, const char *name,
				   struct infd_scalar *out)
{
	if (i >= a->n)
		return kind_error(a, i, name, "a scalar");
	const struct infd_evalue *v = a->v[i];
	switch (v->kind) {
	case INFD_VALUE_INT:
		*out = (struct infd_scalar){.kind = INFD_VALUE_INT, .i = v->u.i, .d = (double)v->u.i};
		return INFD_OK;
	case INFD_VALUE_BOOL:
		*out = (struct infd_scalar){.kind = INFD_VALUE_BOOL, .i = v->u.b, .d = v->u.b};
		return INFD_OK;
	case INFD_VALUE_DOUBLE:
		*out = (struct infd_scalar){.kind = INFD_VALUE_DOUBLE, .i = sat_i64(v->u.d), .d = v->u.d};
		return INFD_OK;
	default:
		return kind_error(a, i, name, "a scalar (int, float or bool)");
	}
}

infd_status infd__karg_int(const struct infd_kargs *a, uint32_t i, const char *name, int64_t *out)
{
	if (i >= a->n || a->v[i]->kind != INFD_VALUE_INT)
		return kind_error(a, i, name, "an int");
	*out = a->v[i]->u.i;
	return INFD_OK;
}

infd_status infd__karg_bool(const struct infd_kargs *a, uint32_t i, const char *name, bool *out)
{
	if (i >= a->n || a->v[i]->kind != INFD_VALUE_BOOL)
		return kind_error(a, i, name, "a bool");
	*out = a->v[i]->u.b;
	return INFD_OK;
}

infd_status infd__karg_double(const struct infd_kargs *a, uint32_t i, const char *name, double *out)
{
	/* Schema `float` arguments are serialized as Double; accept an Int as well. */
	if (i < a->n && a->v[i]->kind == INFD_VALUE_INT) {
		*out = (double)a->v[i]->u.i;
		return INFD_OK;
	}
	if (i >= a->n || a->v[i]->kind != INFD_VALUE_DOUBLE)
		return kind_error(a, i, name, "a float");
	*out = a->v[i]->u.d;
	return INFD_OK;
}

infd_status infd__karg_ret_list(const struct infd_kargs *a, uint32_t i, struct infd_tensor *const *outs,
				uint32_t n)
{
	const struct infd_evalue *v = i < a->n ? a->v[i] : NULL;
	if (!v || v->kind != INFD_VALUE_TENSOR_LIST)
		return infd__kfail(a, INFD_KERNEL_FAILED, "argument %u (the returned list) must be a tensor list", i);
	if (v->u.list.count != n || (n && !v->u.list.items))
		return infd__kfail(a, INFD_KERNEL_FAILED, "the returned list holds %u tensors, expected %u",
				   v->u.list.count, n);
	for (uint32_t k = 0; k < n; k++) {
		const struct infd_evalue *it = v->u.list.items[k];
		if (!it || it->kind != INFD_VALUE_TENSOR || it->u.t != outs[k])
			return infd__kfail(a, INFD_KERNEL_FAILED, "item %u of the returned list is not out tensor %u",
					   k, k);
	}
	return INFD_OK;
}

infd_status infd__karg_int_list(const struct infd_kargs *a, uint32_t i, const char *name,
				bool optional, int64_t *out, uint32_t max, int32_t *count)
{
	if (optional && i < a->n && a->v[i]->kind == INFD_VALUE_NULL) {
		*count = -1;
		return INFD_OK;
	}
	if (i >= a->n || a->v[i]->kind != INFD_VALUE_INT_LIST)
		return kind_error(a, i, name, optional ? "an int list or None" : "an int list");
	const struct infd_evalue *v = a->v[i];
	if (v->u.list.count > max)
		return infd__kfail(a, INFD_KERNEL_FAILED, "argument %u (%s) has %u items (at most %u)",
				   i, name, v->u.list.count, max);
	if (v->u.list.count && !v->u.list.items)
		return infd__kfail(a, INFD_KERNEL_FAILED, "argument %u (%s) has no items", i, name);
	for (uint32_t k = 0; k < v->u.list.count; k++) {
		const struct infd_evalue *item = v->u.list.items[k];
		if (!item || item->kind != INFD_VALUE_INT)
			return infd__kfail(a, INFD_KERNEL_FAILED, "argument %u (%s) item %u is not an int",
					   i, name, k);
		out[k] = item->u.i;
	}
	*count = (int32_t)v->u.list.count;
	return INFD_OK;
}

static void describe_shape(char *buf, size_t n, uint32_t rank, const int32_t *sizes)
{
	size_t used = (size_t)snprintf(buf, n, "[");
	for (uint32_t i = 0; i < rank && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%d", i ? "," : "", sizes[i]);
	if (used < n)
		snprintf(buf + used, n - used, "]");
}

infd_status infd__kout_resize_full(const struct infd_kargs *a, struct infd_tensor *out,
				   uint32_t rank, const int32_t *sizes)
{
	if (!infd__tensor_has_shape(out, rank, sizes)) {
		infd_status st = infd__tensor_resize(out, rank, sizes, a->ctx ? a->ctx->err : NULL);
		if (st) {
			char want[160], have[160];
			describe_shape(want, sizeof want, rank, sizes);
			infd__tensor_describe(out, have, sizeof have);
			if (!a->ctx || !a->ctx->err)
				return st;
			return infd__fail_prefix(a->ctx->err, st, "%s: cannot resize out %s to %s: ", a->op,
						 have, want);
		}
	}
	if (out->numel && !out->data)
		return infd__kfail(a, INFD_KERNEL_FAILED, "the out tensor has no data");
	return INFD_OK;
}

/* ---- Dtypes ---------------------------------------------------------------- */

/* category + 1, so that the dtypes left out read as INFD_CAT_NONE */
const int8_t infd__dtype_categories[32] = {
	[INFD_DTYPE_BOOL] = INFD_CAT_BOOL + 1,
	[INFD_DTYPE_UINT8] = INFD_CAT_INT + 1,
	[INFD_DTYPE_INT8] = INFD_CAT_INT + 1,
	[INFD_DTYPE_INT16] = INFD_CAT_INT + 1,
	[INFD_DTYPE_INT32] = INFD_CAT_INT + 1,
	[INFD_DTYPE_INT64] = INFD_CAT_INT + 1,
	[INFD_DTYPE_UINT16] = INFD_CAT_INT + 1,
	[INFD_DTYPE_UINT32] = INFD_CAT_INT + 1,
	[INFD_DTYPE_UINT64] = INFD_CAT_INT + 1,
	[INFD_DTYPE_FLOAT16] = INFD_CAT_FLOAT + 1,
	[INFD_DTYPE_BFLOAT16] = INFD_CAT_FLOAT + 1,
	[INFD_DTYPE_FLOAT32] = INFD_CAT_FLOAT + 1,
	[INFD_DTYPE_FLOAT64] = INFD_CAT_FLOAT + 1,
};

bool infd__dtype_numeric(int dtype)
{
	return infd__dtype_category(dtype) != INFD_CAT_NONE;
}

/* Rank inside a category for promotion; the unsigned 16..64-bit types are -1. */
static int int_rank(int dt)
{
	switch (dt) {
	case INFD_DTYPE_INT8: return 1;
	case INFD_DTYPE_INT16: return 2;
	case INFD_DTYPE_INT32: return 3;
	case INFD_DTYPE_INT64: return 4;
	default: return -1;
	}
}

int infd__promote_types(int a, int b)
{
	int ca = infd__dtype_category(a), cb = infd__dtype_category(b);
	if (ca == INFD_CAT_NONE || cb == INFD_CAT_NONE)
		return -1;
	if (a == b)
		return a;
	if (ca == INFD_CAT_BOOL)
		return b;
	if (cb == INFD_CAT_BOOL)
		return a;
	bool wide_u_a = a == INFD_DTYPE_UINT16 || a == INFD_DTYPE_UINT32 || a == INFD_DTYPE_UINT64;
	bool wide_u_b = b == INFD_DTYPE_UINT16 || b == INFD_DTYPE_UINT32 || b == INFD_DTYPE_UINT64;
	if (wide_u_a || wide_u_b)
		return -1; /* PyTorch defines no promotion for them */
	if (ca == INFD_CAT_FLOAT && cb == INFD_CAT_FLOAT) {
		if (a == INFD_DTYPE_FLOAT64 || b == INFD_DTYPE_FLOAT64)
			return INFD_DTYPE_FLOAT64;
		/* float32 with anything, or float16 with bfloat16 */
		return INFD_DTYPE_FLOAT32;
	}
	if (ca == INFD_CAT_FLOAT)
		return a;
	if (cb == INFD_CAT_FLOAT)
		return b;
	/* two different integer types */
	if (a == INFD_DTYPE_UINT8)
		return b == INFD_DTYPE_INT8 ? INFD_DTYPE_INT16 : b;
	if (b == INFD_DTYPE_UINT8)
		return a == INFD_DTYPE_INT8 ? INFD_DTYPE_INT16 : a;
	return int_rank(a) > int_rank(b) ? a : b;
}

int infd__scalar_dtype(const struct infd_scalar *s)
{
	switch (s->kind) {
	case INFD_VALUE_BOOL: return INFD_DTYPE_BOOL;
	case INFD_VALUE_DOUBLE: return INFD_DTYPE_FLOAT32;
	default: return INFD_DTYPE_INT64;
	}
}

int infd__promote_with_scalar(int dtype, const struct infd_scalar *s)
{
	int c = infd__dtype_category(dtype);
	if (c == INFD_CAT_NONE)
		return -1;
	int sdt = infd__scalar_dtype(s);
	if (infd__dtype_category(sdt) > c)
		return c == INFD_CAT_BOOL ? sdt : INFD_DTYPE_FLOAT32;
	return dtype;
}

bool infd__can_cast(int from, int to)
{
	int cf = infd__dtype_category(from), ct = infd__dtype_category(to);
	if (cf == INFD_CAT_NONE || ct == INFD_CAT_NONE)
		return false;
	return cf <= ct;
}

/* ---- Element conversion ---------------------------------------------------- */

float infd__f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
	if (exp == 0) {
		if (man == 0) {
			bits = sign;
		} else {
			exp = 127 - 15 + 1;
			while (!(man & 0x400u)) {
				man <<= 1;
				exp--;
			}
			bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
		}
	} else if (exp == 31) {
		bits = sign | 0x7f800000u | (man << 13);
	} else {
		bits = sign | ((exp + 112) << 23) | (man << 13);
	}
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

uint16_t infd__f32_to_f16(float f)
{
	const uint32_t f32_inf = 255u << 23, f16_limit = (127u + 16) << 23;
	const uint32_t denorm_magic = ((127u - 15) + (23 - 10) + 1) << 23;
	uint32_t x;
	memcpy(&x, &f, sizeof x);
	uint32_t sign = x & 0x80000000u;
	x ^= sign;
	uint16_t o;
	if (x >= f16_limit) {
		o = x > f32_inf ? 0x7e00 : 0x7c00; /* NaN stays NaN, the rest becomes inf */
	} else if (x < (113u << 23)) {
		/* Subnormal or zero: let the FPU round by adding a magic number. */
		float xf, magic;
		memcpy(&xf, &x, sizeof xf);
		memcpy(&magic, &denorm_magic, sizeof magic);
		xf += magic;
		uint32_t r;
		memcpy(&r, &xf, sizeof r);
		o = (uint16_t)(r - denorm_magic);
	} else {
		uint32_t odd = (x >> 13) & 1u;
		x += ((uint32_t)(15 - 127) << 23) + 0xfffu + odd;
		o = (uint16_t)(x >> 13);
	}
	return (uint16_t)(o | (sign >> 16));
}

float infd__bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

uint16_t infd__f32_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, sizeof x);
	if ((x & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x >> 16) | 0x40u);
	x += 0x7fffu + ((x >> 16) & 1u);
	return (uint16_t)(x >> 16);
}

/* Loads return each dtype's natural value: integers as themselves (bool 0/1),
 * float16/bfloat16/float32 as float, float64 as double. */
#define LD_INT(NAME, T)                                                                    \
	static inline T ld_##NAME(const char *p)                                           \
	{                                                                                  \
		T v;                                                                       \
		memcpy(&v, p, sizeof v);                                                   \
		return v;                                                                  \
	}
LD_INT(UINT8, uint8_t)
LD_INT(INT8, int8_t)
LD_INT(INT16, int16_t)
LD_INT(INT32, int32_t)
LD_INT(INT64, int64_t)
LD_INT(UINT16, uint16_t)
LD_INT(UINT32, uint32_t)
LD_INT(UINT64, uint64_t)
LD_INT(FLOAT32, float)
LD_INT(FLOAT64, double)

static inline uint8_t ld_BOOL(const char *p)
{
	return *(const uint8_t *)p != 0;
}

static inline float ld_FLOAT16(const char *p)
{
	return infd__f16_to_f32(ld_UINT16(p));
}

static inline float ld_BFLOAT16(const char *p)
{
	return infd__bf16_to_f32(ld_UINT16(p));
}

/* Stores from a signed integer (I), an unsigned 64-bit integer (U) or a floating
 * value (F). Integers narrow modulo 2^bits; floats saturate first. */
#define ST_INT(NAME, T)                                                                    \
	static inline void st_##NAME##_I(char *p, int64_t v)                               \
	{                                                                                  \
		T x = (T)(uint64_t)v;                                                      \
		memcpy(p, &x, sizeof x);                                                   \
	}                                                                                  \
	static inline void st_##NAME##_U(char *p, uint64_t v)                              \
	{                                                                                  \
		T x = (T)v;                                                                \
		memcpy(p, &x, sizeof x);                                                   \
	}                                                                                  \
	static inline void st_##NAME##_F(char *p, double v)                                \
	{                                                                                  \
		st_##NAME##_I(p, sat_i64(v));                                              \
	}
ST_INT(UINT8, uint8_t)
ST_INT(INT8, int8_t)
ST_INT(INT16, int16_t)
ST_INT(INT32, int32_t)
ST_INT(INT64, int64_t)
ST_INT(UINT16, uint16_t)
ST_INT(UINT32, uint32_t)

static inline void st_UINT64_I(char *p, int64_t v)
{
	uint64_t x = (uint64_t)v;
	memcpy(p, &x, sizeof x);
}

static inline void st_UINT64_U(char *p, uint64_t v)
{
	memcpy(p, &v, sizeof v);
}

static inline void st_UINT64_F(char *p, double v)
{
	st_UINT64_U(p, v < 0 ? (uint64_t)sat_i64(v) : sat_u64(v));
}

static inline void st_BOOL_I(char *p, int64_t v)
{
	*(uint8_t *)p = v != 0;
}

static inline void st_BOOL_U(char *p, uint64_t v)
{
	*(uint8_t *)p = v != 0;
}

static inline void st_BOOL_F(char *p, double v)
{
	*(uint8_t *)p = v != 0;
}

#define ST_FLOAT(NAME, T, ENC)                                                             \
	static inline void st_##NAME##_I(char *p, int64_t v)                               \
	{                                                                                  \
		T x = ENC((float)v);                                                       \
		memcpy(p, &x, sizeof x);                                                   \
	}                                                                                  \
	static inline void st_##NAME##_U(char *p, uint64_t v)                              \
	{                                                                                  \
		T x = ENC((float)v);                                                       \
		memcpy(p, &x, sizeof x);                                                   \
	}                                                                                  \
	static inline void st_##NAME##_F(char *p, double v)                                \
	{                                                                                  \
		T x = ENC((float)v);                                                       \
		memcpy(p, &x, sizeof x);                                                   \
	}
#define ENC_ID(v) (v)
ST_FLOAT(FLOAT16, uint16_t, infd__f32_to_f16)
ST_FLOAT(BFLOAT16, uint16_t, infd__f32_to_bf16)
ST_FLOAT(FLOAT32, float, ENC_ID)

static inline void st_FLOAT64_I(char *p, int64_t v)
{
	double x = (double)v;
	memcpy(p, &x, sizeof x);
}

static inline void st_FLOAT64_U(char *p, uint64_t v)
{
	double x = (double)v;
	memcpy(p, &x, sizeof x);
}

static inline void st_FLOAT64_F(char *p, double v)
{
	memcpy(p, &v, sizeof v);
}

/* X(NAME, class of its loaded value) */
#define CONV_SOURCES(X)                                                                    \
	X(BOOL, I) X(UINT8, I) X(INT8, I) X(INT16, I) X(INT32, I) X(INT64, I) X(UINT16, I)     \
	X(UINT32, I) X(UINT64, U) X(FLOAT16, F) X(BFLOAT16, F) X(FLOAT32, F) X(FLOAT64, F)
#define CONV_DESTS(X, S, SC)                                                               \
	X(S, SC, BOOL) X(S, SC, UINT8) X(S, SC, INT8) X(S, SC, INT16) X(S, SC, INT32)          \
	X(S, SC, INT64) X(S, SC, UINT16) X(S, SC, UINT32) X(S, SC, UINT64) X(S, SC, FLOAT16)   \
	X(S, SC, BFLOAT16) X(S, SC, FLOAT32) X(S, SC, FLOAT64)

/* Element sizes as constants. */
#define CV_SIZE_BOOL 1
#define CV_SIZE_UINT8 1
#define CV_SIZE_INT8 1
#define CV_SIZE_INT16 2
#define CV_SIZE_INT32 4
#define CV_SIZE_INT64 8
#define CV_SIZE_UINT16 2
#define CV_SIZE_UINT32 4
#define CV_SIZE_UINT64 8
#define CV_SIZE_FLOAT16 2
#define CV_SIZE_BFLOAT16 2
#define CV_SIZE_FLOAT32 4
#define CV_SIZE_FLOAT64 8

/* Dense runs get constant strides so that the compiler can vectorize them. */
#define CONV_CASE(S, SC, D)                                                                \
	case INFD_DTYPE_##D:                                                               \
		if (ss == CV_SIZE_##S && ds == CV_SIZE_##D) {                              \
			const ptrdiff_t cs = CV_SIZE_##S, cd = CV_SIZE_##D;                \
			for (size_t k = 0; k < n; k++)                                     \
				st_##D##_##SC(d + (ptrdiff_t)k * cd, ld_##S(s + (ptrdiff_t)k * cs)); \
			return true;                                                       \
		}                                                                          \
		for (size_t k = 0; k < n; k++)                                             \
			st_##D##_##SC(d + (ptrdiff_t)k * ds, ld_##S(s + (ptrdiff_t)k * ss)); \
		return true;
#define CONV_FROM(S, SC)                                                                   \
	static bool conv_from_##S(char *d, int ddt, ptrdiff_t ds, const char *s, ptrdiff_t ss, \
				  size_t n)                                                \
	{                                                                                  \
		switch (ddt) {                                                             \
			CONV_DESTS(CONV_CASE, S, SC)                                       \
		default:                                                                   \
			return false;                                                      \
		}                                                                          \
	}
CONV_SOURCES(CONV_FROM)

bool infd__convert(void *dst, int ddt, ptrdiff_t ds, const void *src, int sdt, ptrdiff_t ss,
		   size_t n)
{
	char *d = dst;
	const char *s = src;
	if (!infd__dtype_numeric(ddt))
		return false;
	if (sdt == ddt && sdt != INFD_DTYPE_BOOL) {
		size_t es = infd_dtype_size(sdt);
		if (ds == (ptrdiff_t)es && ss == (ptrdiff_t)es) {
			if (d != s)
				memmove(d, s, n * es);
			return true;
		}
		for (size_t k = 0; k < n; k++)
			memmove(d + (ptrdiff_t)k * ds, s + (ptrdiff_t)k * ss, es);
		return true;
	}
	switch (sdt) {
#define CONV_DISPATCH(S, SC)                                                               \
	case INFD_DTYPE_##S:                                                               \
		return conv_from_##S(d, ddt, ds, s, ss, n);
		CONV_SOURCES(CONV_DISPATCH)
#undef CONV_DISPATCH
	default:
		return false;
	}
}

double infd__load_double(const void *p, int dtype)
{
	double v = 0;
	infd__convert(&v, INFD_DTYPE_FLOAT64, 0, p, dtype, 0, 1);
	return v;
}

int64_t infd__load_int(const void *p, int dtype)
{
	int64_t v = 0;
	infd__convert(&v, INFD_DTYPE_INT64, 0, p, dtype, 0, 1);
	return v;
}

void infd__store_scalar(void *p, int dtype, const struct infd_scalar *s)
{
	switch (infd__dtype_category(dtype)) {
	case INFD_CAT_FLOAT:
		if (s->kind == INFD_VALUE_DOUBLE)
			infd__convert(p, dtype, 0, &s->d, INFD_DTYPE_FLOAT64, 0, 1);
		else
			infd__convert(p, dtype, 0, &s->i, INFD_DTYPE_INT64, 0, 1);
		break;
	case INFD_CAT_INT:
		infd__convert(p, dtype, 0, &s->i, INFD_DTYPE_INT64, 0, 1);
		break;
	case INFD_CAT_BOOL:
		*(uint8_t *)p = s->kind == INFD_VALUE_DOUBLE ? s->d != 0 : s->i != 0;
		break;
	default:
		break;
	}
}

/* ---- Shapes and iteration -------------------------------------------------- */

infd_status infd__broadcast_shape(const struct infd_kargs *a, const struct infd_tensor *const *ts,
				  uint32_t n, uint32_t *rank, int32_t *sizes)
{
	uint32_t r = 0;
	for (uint32_t k = 0; k < n; k++) {
		if (ts[k]->rank > INFD_MAX_RANK)
			return infd__kfail(a, INFD_KERNEL_FAILED, "rank %u exceeds %d", ts[k]->rank,
					   INFD_MAX_RANK);
		if (ts[k]->rank > r)
			r = ts[k]->rank;
	}
	for (uint32_t d = 0; d < r; d++) {
		int32_t cur = 1;
		uint32_t from = 0;
		for (uint32_t k = 0; k < n; k++) {
			const struct infd_tensor *t = ts[k];
			if (d + t->rank < r)
				continue;
			int32_t s = t->sizes[d + t->rank - r];
			if (s < 0)
				return infd__kfail(a, INFD_BAD_INPUT, "negative size %d", s);
			if (s == 1 || s == cur)
				continue;
			if (cur != 1) {
				char sa[160], sb[160];
				return infd__kfail(a, INFD_BAD_INPUT,
						   "shapes %s and %s cannot be broadcast together "
						   "(size %d vs %d at dim %d from the end)",
						   infd__tensor_describe(ts[from], sa, sizeof sa),
						   infd__tensor_describe(t, sb, sizeof sb), cur, s,
						   (int)(r - d));
			}
			cur = s;
			from = k;
		}
		sizes[d] = cur;
	}
	*rank = r;
	return INFD_OK;
}

void infd__iter_init(struct infd_iter *it, uint32_t rank, const int32_t *sizes)
{
	it->n_ops = 0;
	it->rank = rank;
	it->numel = 1;
	for (uint32_t d = 0; d < rank; d++) {
		it->size[d] = sizes[d];
		it->numel *= (uint64_t)sizes[d];
	}
}

uint32_t infd__iter_add(struct infd_iter *it, const struct infd_tensor *t)
{
	assert(it->n_ops < INFD_ITER_MAX_OPS && t->rank <= it->rank);
	uint32_t k = it->n_ops++;
	ptrdiff_t es = (ptrdiff_t)infd_dtype_size(t->dtype);
	uint32_t r = it->rank;
	for (uint32_t d = 0; d < r; d++) {
		if (d + t->rank < r || t->sizes[d + t->rank - r] == 1)
			it->stride[k][d] = 0;
		else
			it->stride[k][d] = (ptrdiff_t)t->strides[d + t->rank - r] * es;
	}
	it->base[k] = t->data;
	return k;
}

uint32_t infd__iter_add_scalar(struct infd_iter *it, const void *p)
{
	assert(it->n_ops < INFD_ITER_MAX_OPS);
	uint32_t k = it->n_ops++;
	for (uint32_t d = 0; d < it->rank; d++)
		it->stride[k][d] = 0;
	it->base[k] = (char *)(uintptr_t)p;
	return k;
}

void infd__iter_finish(struct infd_iter *it)
{
	uint32_t nops = it->n_ops, r = 0;
	uint32_t perm[INFD_MAX_RANK];
	/* Drop size-1 dims (nothing when some dim is empty: no rows run anyway). */
	for (uint32_t d = 0; d < it->rank; d++)
		if (it->size[d] != 1)
			perm[r++] = d;
	/* Order dims by operand 0's strides, largest outermost (stable), so that the
	 * innermost loop walks its memory in order whatever its dim order. */
	for (uint32_t i = 1; i < r; i++) {
		uint32_t p = perm[i];
		uint32_t j = i;
		while (j > 0 && it->stride[0][perm[j - 1]] < it->stride[0][p]) {
			perm[j] = perm[j - 1];
			j--;
		}
		perm[j] = p;
	}
	int64_t size[INFD_MAX_RANK];
	ptrdiff_t stride[INFD_ITER_MAX_OPS][INFD_MAX_RANK];
	for (uint32_t i = 0; i < r; i++) {
		size[i] = it->size[perm[i]];
		for (uint32_t k = 0; k < nops; k++)
			stride[k][i] = it->stride[k][perm[i]];
	}
	/* Merge a dim into the next inner one when every operand steps through both
	 * as one: stride[outer] == stride[inner] * size[inner]. */
	uint32_t out = 0;
	for (uint32_t i = 0; i < r; i++) {
		if (out > 0) {
			bool merge = true;
			for (uint32_t k = 0; k < nops && merge; k++)
				merge = stride[k][out - 1] == stride[k][i] * size[i];
			if (merge) {
				size[out - 1] *= size[i];
				for (uint32_t k = 0; k < nops; k++)
					stride[k][out - 1] = stride[k][i];
				continue;
			}
		}
		size[out] = size[i];
		for (uint32_t k = 0; k < nops; k++)
			stride[k][out] = stride[k][i];
		out++;
	}
	if (out == 0) {
		size[0] = 1;
		for (uint32_t k = 0; k < nops; k++)
			stride[k][0] = 0;
		out = 1;
	}
	it->rank = out;
	for (uint32_t i = 0; i < out; i++) {
		it->size[i] = size[i];
		for (uint32_t k = 0; k < nops; k++)
			it->stride[k][i] = stride[k][i];
	}
}

void infd__iter_rows(const struct infd_iter *it, infd_iter_row_fn fn, void *user)
{
	if (!it->numel || !it->rank)
		return;
	uint32_t nops = it->n_ops, r = it->rank;
	char *p[INFD_ITER_MAX_OPS];
	ptrdiff_t inner[INFD_ITER_MAX_OPS];
	int64_t idx[INFD_MAX_RANK] = {0};
	for (uint32_t k = 0; k < nops; k++) {
		p[k] = it->base[k];
		inner[k] = it->stride[k][r - 1];
	}
	size_t n = (size_t)it->size[r - 1];
	for (;;) {
		fn(user, p, inner, n);
		int d = (int)r - 2;
		for (; d >= 0; d--) {
			for (uint32_t k = 0; k < nops; k++)
				p[k] += it->stride[k][d];
			if (++idx[d] < it->size[d])
				break;
			for (uint32_t k = 0; k < nops; k++)
				p[k] -= it->stride[k][d] * it->size[d];
			idx[d] = 0;
		}
		if (d < 0)
			return;
	}
}

void infd__convert_result(void *dst, int odt, ptrdiff_t ds, const void *src, int cdt, int pdt, size_t n)
{
	ptrdiff_t cs = (ptrdiff_t)infd_dtype_size(cdt);
	if (pdt == cdt || odt == pdt) {
		infd__convert(dst, odt, ds, src, cdt, cs, n);
		return;
	}
	/* Through pdt (2-byte float types) in blocks. */
	uint16_t tmp[256];
	for (size_t done = 0; done < n;) {
		size_t m = n - done < 256 ? n - done : 256;
		infd__convert(tmp, pdt, 2, (const char *)src + (ptrdiff_t)done * cs, cdt, cs, m);
		infd__convert((char *)dst + (ptrdiff_t)done * ds, odt, ds, tmp, pdt, 2, m);
		done += m;
	}
}
