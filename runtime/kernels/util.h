/* Helpers shared by the portable CPU kernels: argument fetching with kind checks,
 * dtype categories, PyTorch type promotion, element conversion (half and bfloat16
 * included), broadcasting, a strided iterator over several operands, and the
 * strided copy engine (views and copies between them, in strided.c). */
#ifndef INFD_RUNTIME_KERNELS_UTIL_H
#define INFD_RUNTIME_KERNELS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/kernel.h"
#include "kernels.h" /* every kernel's prototype */

/* Everything here is reentrant (no global state): kernels may run on any thread.
 * Tensors and values handed out are borrowed from the kernel's arguments. */

/* ---- Arguments ------------------------------------------------------------ */

/* One kernel call's arguments and where to report problems. `op` is the name used
 * in messages: ctx->op_key, or the kernel's own name when the caller gave none. */
struct infd_kargs {
	struct infd_kernel_ctx *ctx;
	struct infd_evalue **v;
	uint32_t n;
	const char *op;
};

/* A Scalar argument (Int, Double or Bool value). */
struct infd_scalar {
	uint8_t kind; /* INFD_VALUE_INT, INFD_VALUE_DOUBLE or INFD_VALUE_BOOL */
	int64_t i;    /* INT and BOOL (0/1); DOUBLE: truncated */
	double d;     /* every kind */
};

/* Record a failure "<op>: <message>" in ctx->err and return `status`. */
infd_status infd__kfail(const struct infd_kargs *a, infd_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The helpers below are inline for the common case and call these full versions
 * (which also write the messages) when something looks wrong. */
infd_status infd__kargs_begin_full(struct infd_kargs *a, int32_t want);
infd_status infd__karg_tensor_full(const struct infd_kargs *a, uint32_t i, const char *name,
				   const struct infd_tensor **out);
infd_status infd__karg_out_full(const struct infd_kargs *a, uint32_t i, uint32_t ret,
				struct infd_tensor **out);
infd_status infd__karg_scalar_full(const struct infd_kargs *a, uint32_t i, const char *name,
				   struct infd_scalar *out);
infd_status infd__kout_resize_full(const struct infd_kargs *a, struct infd_tensor *out,
				   uint32_t rank, const int32_t *sizes);

/* True when t has exactly this shape. */
static inline bool infd__tensor_has_shape(const struct infd_tensor *t, uint32_t rank,
					  const int32_t *sizes)
{
	if (t->rank != rank)
		return false;
	for (uint32_t i = 0; i < rank; i++)
		if (t->sizes[i] != sizes[i])
			return false;
	return true;
}

/* True when a and b have the same sizes and dim order, so that element k of one
 * corresponds to element k of the other in memory. */
static inline bool infd__tensor_same_layout(const struct infd_tensor *a, const struct infd_tensor *b)
{
	if (a->rank != b->rank)
		return false;
	for (uint32_t i = 0; i < a->rank; i++)
		if (a->sizes[i] != b->sizes[i] || a->dim_order[i] != b->dim_order[i])
			return false;
	return true;
}

/* Start argument handling: fills `a` and checks that there are exactly `want`
 * arguments (want < 0: any number) and that none of the pointers is NULL. */
static inline infd_status infd__kargs_begin(struct infd_kargs *a, struct infd_kernel_ctx *ctx,
					    struct infd_evalue **args, uint32_t n_args,
					    const char *op, int32_t want)
{
	a->ctx = ctx;
	a->v = args;
	a->n = n_args;
	a->op = ctx && ctx->op_key ? ctx->op_key : op;
	if (!args || (want >= 0 && n_args != (uint32_t)want))
		return infd__kargs_begin_full(a, want);
	for (uint32_t i = 0; i < n_args; i++)
		if (!args[i])
			return infd__kargs_begin_full(a, want);
	return INFD_OK;
}

/* Input tensor at argument i: a Tensor value with a supported rank and data
 * (non-NULL data unless the tensor is empty). `name` is the schema name used in
 * messages ("self"). */
static inline infd_status infd__karg_tensor(const struct infd_kargs *a, uint32_t i,
					    const char *name, const struct infd_tensor **out)
{
	const struct infd_tensor *t;
	if (i < a->n && a->v[i]->kind == INFD_VALUE_TENSOR && (t = a->v[i]->u.t) &&
	    t->rank <= INFD_MAX_RANK && (t->data || !t->numel)) {
		*out = t;
		return INFD_OK;
	}
	return infd__karg_tensor_full(a, i, name, out);
}

/* Optional input tensor (`Tensor?`): *out = NULL for a Null value. */
infd_status infd__karg_opt_tensor(const struct infd_kargs *a, uint32_t i, const char *name,
				  const struct infd_tensor **out);

/* Out tensor at argument i, with its return slot at argument `ret` (the same value
 * again, or a Tensor value holding the same tensor). Constant tensors are refused.
 * The data pointer is checked after resizing, by infd__kout_resize. */
static inline infd_status infd__karg_out(const struct infd_kargs *a, uint32_t i, uint32_t ret,
					 struct infd_tensor **out)
{
	struct infd_tensor *t;
	if (i < a->n && ret < a->n && a->v[i]->kind == INFD_VALUE_TENSOR && (t = a->v[i]->u.t) &&
	    a->v[ret] == a->v[i] && !t->is_const && t->rank <= INFD_MAX_RANK) {
		*out = t;
		return INFD_OK;
	}
	return infd__karg_out_full(a, i, ret, out);
}

/* Out tensor i of a multi-output op: its return slot is the trailing TensorList
 * (checked with infd__karg_ret_list), not the out tensor again. */
static inline infd_status infd__karg_out_multi(const struct infd_kargs *a, uint32_t i, struct infd_tensor **out)
{
	return infd__karg_out(a, i, i, out);
}

/* The TensorList return slot i of a multi-output op: the n out tensors in order. */
infd_status infd__karg_ret_list(const struct infd_kargs *a, uint32_t i, struct infd_tensor *const *outs,
				uint32_t n);

/* Scalar (Int, Double or Bool), Int, Bool and Double arguments. */
static inline infd_status infd__karg_scalar(const struct infd_kargs *a, uint32_t i,
					    const char *name, struct infd_scalar *out)
{
	if (i < a->n && a->v[i]->kind == INFD_VALUE_INT) {
		out->kind = INFD_VALUE_INT;
		out->i = a->v[i]->u.i;
		out->d = (double)out->i;
		return INFD_OK;
	}
	return infd__karg_scalar_full(a, i, name, out);
}
infd_status infd__karg_int(const struct infd_kargs *a, uint32_t i, const char *name, int64_t *out);
infd_status infd__karg_bool(const struct infd_kargs *a, uint32_t i, const char *name, bool *out);
infd_status infd__karg_double(const struct infd_kargs *a, uint32_t i, const char *name,
			      double *out);

/* Int list argument (`int[]`), copied into `out` (room for `max` items); `*count`
 * receives the length. Items that are not Int values, or more than `max` of them,
 * are an error. `optional`: a Null value gives *count = -1. */
infd_status infd__karg_int_list(const struct infd_kargs *a, uint32_t i, const char *name,
				bool optional, int64_t *out, uint32_t max, int32_t *count);

/* Resize `out` to rank/sizes (nothing to do when already that shape) and check
 * that it then has data unless empty. Messages name the operator. */
static inline infd_status infd__kout_resize(const struct infd_kargs *a, struct infd_tensor *out,
					    uint32_t rank, const int32_t *sizes)
{
	if (infd__tensor_has_shape(out, rank, sizes) && (out->data || !out->numel))
		return INFD_OK;
	return infd__kout_resize_full(a, out, rank, sizes);
}

/* ---- Dtypes ---------------------------------------------------------------- */

enum infd_dtype_category {
	INFD_CAT_NONE = -1, /* quantized, float8, bit types: not numbers we compute on */
	INFD_CAT_BOOL = 0,
	INFD_CAT_INT = 1,
	INFD_CAT_FLOAT = 2,
};

/* Category of a dtype. The unsigned 16/32/64-bit types count as INT. (The table
 * holds category + 1 by dtype value; use the function.) */
extern const int8_t infd__dtype_categories[32];
static inline int infd__dtype_category(int dtype)
{
	return dtype >= 0 && dtype < 32 ? infd__dtype_categories[dtype] - 1 : INFD_CAT_NONE;
}

static inline bool infd__dtype_is_float(int dtype)
{
	return infd__dtype_category(dtype) == INFD_CAT_FLOAT;
}

static inline bool infd__dtype_is_int(int dtype)
{
	return infd__dtype_category(dtype) == INFD_CAT_INT;
}

/* True for the dtypes infd__convert handles: bool, uint8..64, int8..64, float16,
 * bfloat16, float32, float64. */
bool infd__dtype_numeric(int dtype);

/* PyTorch's promoteTypes for two tensors: bool < integers < floating types; uint8
 * with a signed type gives the smallest signed type holding both (uint8 + int8 ->
 * int16); float16 + bfloat16 -> float32. Returns -1 where PyTorch has no answer
 * (uint16/32/64 with another type, quantized types). */
int infd__promote_types(int a, int b);

/* Dtype a Scalar has when it takes part in promotion: bool, int64, or float32 for a
 * double (PyTorch's default float type for wrapped numbers). */
int infd__scalar_dtype(const struct infd_scalar *s);

/* Result dtype of a tensor of `dtype` combined with a Scalar: the scalar can only
 * raise the category (int32 tensor + 2.5 -> float32, float16 + 2.5 -> float16,
 * bool + 3 -> int64, int8 + 1000 -> int8). -1 when dtype is not numeric. */
int infd__promote_with_scalar(int dtype, const struct infd_scalar *s);

/* PyTorch's canCast: a result may be stored into any dtype of the same or a higher
 * category (no float -> integer, no number -> bool). */
bool infd__can_cast(int from, int to);

/* The dtype arithmetic on `dtype` is carried out in: float16 and bfloat16 compute
 * in float32, everything else in itself. */
static inline int infd__compute_dtype(int dtype)
{
	return dtype == INFD_DTYPE_FLOAT16 || dtype == INFD_DTYPE_BFLOAT16 ? INFD_DTYPE_FLOAT32 : dtype;
}

/* ---- Element conversion ---------------------------------------------------- */

float infd__f16_to_f32(uint16_t h);
uint16_t infd__f32_to_f16(float f);     /* round to nearest even, overflow -> inf */
float infd__bf16_to_f32(uint16_t h);
uint16_t infd__f32_to_bf16(float f);    /* round to nearest even */

/* Convert n elements from src (dtype sdt, byte stride ss) to dst (dtype ddt, byte
 * stride ds). Any alignment. Floating -> integer conversions saturate (NaN -> 0)
 * before narrowing modulo 2^bits; anything -> bool is "!= 0". Returns false when a
 * dtype is not numeric (nothing is written). */
bool infd__convert(void *dst, int ddt, ptrdiff_t ds, const void *src, int sdt, ptrdiff_t ss,
		   size_t n);

/* Store n results computed in dtype `cdt` (contiguous at src) into `dst` of dtype
 * `odt` (byte stride ds), rounding through the operation's result dtype `pdt`
 * first when that differs from both (a float16/bfloat16 result computed in
 * float32 and stored into a wider out is rounded to float16/bfloat16 first, as
 * PyTorch does). */
void infd__convert_result(void *dst, int odt, ptrdiff_t ds, const void *src, int cdt, int pdt, size_t n);

/* One element at p as double / int64 (via infd__convert's rules). */
double infd__load_double(const void *p, int dtype);
int64_t infd__load_int(const void *p, int dtype);

/* Store a scalar into one element of `dtype` at p: floating dtypes take s->d,
 * integer dtypes s->i (modulo), bool (s != 0). */
void infd__store_scalar(void *p, int dtype, const struct infd_scalar *s);

/* ---- Shapes and iteration -------------------------------------------------- */

/* Numpy broadcasting of n shapes (right-aligned; sizes must be equal or 1).
 * Writes the result rank and sizes (room for INFD_MAX_RANK). */
infd_status infd__broadcast_shape(const struct infd_kargs *a, const struct infd_tensor *const *ts,
				  uint32_t n, uint32_t *rank, int32_t *sizes);

#define INFD_ITER_MAX_OPS 4

/* A loop nest over a shape, with up to INFD_ITER_MAX_OPS operands that each have
 * their own byte strides (0 along broadcast dims). Build it with _init, _add
 * (operand 0 is by convention the output), then _finish, which orders the dims by
 * the first operand's strides and merges dims that can be walked as one. Dim
 * rank-1 is the innermost. */
struct infd_iter {
	uint32_t n_ops;
	uint32_t rank;
	uint64_t numel;
	int64_t size[INFD_MAX_RANK];
	ptrdiff_t stride[INFD_ITER_MAX_OPS][INFD_MAX_RANK];
	char *base[INFD_ITER_MAX_OPS];
};

void infd__iter_init(struct infd_iter *it, uint32_t rank, const int32_t *sizes);

/* Add a tensor operand whose shape broadcasts to the iteration shape (checked by
 * the caller); its data may be read or written through base[k]. Returns k. */
uint32_t infd__iter_add(struct infd_iter *it, const struct infd_tensor *t);

/* Add an operand that is one element at p, repeated everywhere (stride 0). */
uint32_t infd__iter_add_scalar(struct infd_iter *it, const void *p);

void infd__iter_finish(struct infd_iter *it);

/* Called for each innermost row: ptrs[k] is operand k's first element in the row,
 * strides[k] its byte stride along the row, n the row length (>= 1). */
typedef void (*infd_iter_row_fn)(void *user, char *const *ptrs, const ptrdiff_t *strides, size_t n);

/* Walk every row of a finished iterator (nothing when numel is 0). */
void infd__iter_rows(const struct infd_iter *it, infd_iter_row_fn fn, void *user);

/* ---- Strided copies (strided.c) ------------------------------------------ */

/* Views may split dims in two (repeat, pixel_shuffle), hence twice the rank. */
#define INFD_VIEW_MAX_RANK (2 * INFD_MAX_RANK)

/* A window on tensor data: logical sizes and byte strides (negative to walk
 * backwards, 0 to repeat an element). base may be NULL for an empty view. */
struct infd_view {
	uint32_t rank;
	int64_t size[INFD_VIEW_MAX_RANK];
	ptrdiff_t stride[INFD_VIEW_MAX_RANK];
	char *base;
};

/* The view of a whole tensor: its sizes, strides in bytes, and data. */
void infd__view_of(struct infd_view *v, const struct infd_tensor *t);

/* Row-major view of `base` with the given shape (a reinterpretation of bytes;
 * es bytes an element). */
void infd__view_rowmajor(struct infd_view *v, void *base, size_t es, uint32_t rank, const int32_t *sizes);

/* Keep `len` entries of dim d starting at `start`, every `step`-th. */
void infd__view_narrow(struct infd_view *v, uint32_t d, int64_t start, int64_t len, int64_t step);

/* Drop dim d after moving to entry `index` of it. */
void infd__view_select(struct infd_view *v, uint32_t d, int64_t index);

/* Insert a dim of `size` entries `stride` bytes apart before dim d (the caller
 * keeps the rank within INFD_VIEW_MAX_RANK). */
void infd__view_insert(struct infd_view *v, uint32_t d, int64_t size, ptrdiff_t stride);

/* Split dim d (size a*b) into (a, b), row-major. */
void infd__view_split(struct infd_view *v, uint32_t d, int64_t a, int64_t b);

/* Copy src (dtype sdt) into dst (dtype ddt); both views have the same sizes. The
 * same dtype moves bytes (any dtype); different ones convert as infd__convert does
 * (numeric dtypes only, checked by the caller). dst must not overlap src, except
 * that it may be exactly src. */
void infd__copy_view(const struct infd_view *dst, int ddt, const struct infd_view *src, int sdt);

/* True when t's strides are the row-major ones (size-1 dims aside; an empty
 * tensor counts as row-major). */
bool infd__tensor_is_rowmajor(const struct infd_tensor *t);

/* The parts of infd__copy_view, for kernels that copy many slices with one plan
 * (index_select) or rows of their own (embedding). */

/* How elements move: bytes of one size, or a dtype conversion. Chosen once per
 * call; the loops never look at dtypes. */
typedef void (*infd_copy_row_fn)(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, size_t n);
typedef void (*infd_copy_tile_fn)(char *d, ptrdiff_t ds1, const char *s, ptrdiff_t ss0, size_t n1, size_t n0);

struct infd_copier {
	size_t es;
	bool convert;
	int ddt, sdt;
	infd_copy_row_fn row;   /* strided row of n elements */
	infd_copy_tile_fn tile; /* 2-D transpose: d[i*ds1 + j*es] = s[i*es + j*ss0] */
};

/* The copier from dtype sdt to dtype ddt. */
void infd__copier_init(struct infd_copier *c, int ddt, int sdt);

/* Copy n elements from s (byte stride ss) to d (byte stride ds). */
void infd__copier_row(const struct infd_copier *c, char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
		      size_t n);

/* A copy loop nest: dims ordered by the destination's strides (largest outermost),
 * size-1 dims dropped and dims that both sides walk as one merged. */
struct infd_walk {
	uint32_t rank;
	int64_t size[INFD_VIEW_MAX_RANK];
	ptrdiff_t ds[INFD_VIEW_MAX_RANK], ss[INFD_VIEW_MAX_RANK];
};

/* Plan the copy of src into dst (same sizes; es: element size of the copier).
 * False when there is nothing to copy. */
bool infd__walk_plan(struct infd_walk *w, const struct infd_view *dst, const struct infd_view *src, size_t es);

/* Run a planned copy from s to d (the base pointers of the two views, or of
 * others with the same strides). */
void infd__walk_run(const struct infd_walk *w, const struct infd_copier *c, char *d, const char *s);

/* ---- Kernel entry points (the kernel files, listed in table.c) -------- */

/* aten::{add,sub}.out [self, other, alpha, out, ret]; {mul,div}.out [self, other,
 * out, ret]; the .Scalar_out forms take a Scalar `other`. */
infd_status infd__k_add_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n);
infd_status infd__k_add_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n);
infd_status infd__k_sub_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n);
infd_status infd__k_sub_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n);
infd_status infd__k_mul_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n);
infd_status infd__k_mul_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n);
infd_status infd__k_div_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n);
infd_status infd__k_div_scalar_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n);

/* ---- Loops ------------------------------------------------------------------- */

/* On a function holding hot loops: compile it for the baseline and for AVX2; the
 * dynamic loader picks one once, at start-up (GNU ifunc). Empty where that is not
 * available. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
	defined(__GLIBC__)
#define INFD_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define INFD_SIMD_CLONES
#endif

/* `for (size_t i = 0; i < n; i++) BODY` written as fixed-size blocks plus a tail,
 * so that the compiler vectorizes BODY at -O2 (basic-block SLP) without any flags.
 * Use with restrict pointers and bodies free of calls and branches. */
#define INFD_VEC_BLOCK 16
#define INFD_VLOOP(n, i, ...)                                                              \
	do {                                                                               \
		size_t i##_blk_ = 0;                                                       \
		for (; i##_blk_ + INFD_VEC_BLOCK <= (size_t)(n); i##_blk_ += INFD_VEC_BLOCK) \
			for (size_t i = i##_blk_; i < i##_blk_ + INFD_VEC_BLOCK; i++) {    \
				__VA_ARGS__                                                \
			}                                                                  \
		for (size_t i = i##_blk_; i < (size_t)(n); i++) {                          \
			__VA_ARGS__                                                        \
		}                                                                          \
	} while (0)

#endif
