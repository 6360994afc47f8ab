/* Helpers shared by the shape kernels (see shape_util.h): argument and dtype checks,
 * dim wrapping, aliasing checks, dim orders, view sizes and scalar fills. */
#include "shape_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *infd__shape_fmt_ints(char *buf, size_t n, const int64_t *v, uint32_t count)
{
	size_t used = (size_t)snprintf(buf, n, "[");
	for (uint32_t i = 0; i < count && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)v[i]);
	if (used < n)
		snprintf(buf + used, n - used, "]");
	return buf;
}

const char *infd__shape_fmt_shape(char *buf, size_t n, const struct infd_tensor *t)
{
	int64_t v[INFD_MAX_RANK];
	for (uint32_t i = 0; i < t->rank; i++)
		v[i] = t->sizes[i];
	return infd__shape_fmt_ints(buf, n, v, t->rank);
}

/* PyTorch's maybe_wrap_dim: dim in [-rank, rank-1], a rank-0 tensor counting as
 * rank 1. */
infd_status infd__shape_wrap_dim(const struct infd_kargs *A, int64_t dim, uint32_t rank, const char *name,
				 uint32_t *out)
{
	int64_t r = rank ? rank : 1;
	if (dim < -r || dim >= r)
		return infd__kfail(A, INFD_BAD_INPUT, "%s %lld is out of range (expected [%lld, %lld])",
				   name, (long long)dim, (long long)-r, (long long)(r - 1));
	*out = (uint32_t)(dim < 0 ? dim + r : dim);
	return INFD_OK;
}

infd_status infd__shape_check_size(const struct infd_kargs *A, int64_t v, const char *what)
{
	if (v < 0)
		return infd__kfail(A, INFD_BAD_INPUT, "%s has a negative size %lld", what, (long long)v);
	if (v > INT32_MAX)
		return infd__kfail(A, INFD_BAD_INPUT, "%s has a size %lld that is too large", what,
				   (long long)v);
	return INFD_OK;
}

/* Copying between these dtypes: the same dtype moves bytes (any dtype), other
 * pairs convert like Tensor.copy_ (numeric dtypes only). */
infd_status infd__shape_check_copy(const struct infd_kargs *A, int sdt, int ddt)
{
	if (infd_dtype_size(sdt) == 0 || infd_dtype_size(ddt) == 0)
		return infd__kfail(A, INFD_KERNEL_FAILED, "invalid dtype %d", infd_dtype_size(sdt) ? ddt : sdt);
	if (sdt != ddt && (!infd__dtype_numeric(sdt) || !infd__dtype_numeric(ddt)))
		return infd__kfail(A, INFD_KERNEL_FAILED, "cannot convert %s to %s", infd_dtype_name(sdt),
				   infd_dtype_name(ddt));
	return INFD_OK;
}

infd_status infd__shape_check_same_dtype(const struct infd_kargs *A, const struct infd_tensor *a,
					 const struct infd_tensor *out)
{
	if (infd_dtype_size(a->dtype) == 0)
		return infd__kfail(A, INFD_KERNEL_FAILED, "invalid dtype %d", a->dtype);
	if (a->dtype != out->dtype)
		return infd__kfail(A, INFD_BAD_INPUT, "out has dtype %s, expected %s",
				   infd_dtype_name(out->dtype), infd_dtype_name(a->dtype));
	return INFD_OK;
}

/* Byte ranges of two tensors overlap (an out that aliases its input). */
bool infd__shape_overlaps(const struct infd_tensor *a, const struct infd_tensor *b)
{
	if (!a->numel || !b->numel || !a->data || !b->data)
		return false;
	const char *pa = a->data, *pb = b->data;
	return pa < pb + b->nbytes && pb < pa + a->nbytes;
}

/* Refuse an out that overlaps an input (results would depend on the order of the
 * copy); an out that is exactly the input with its layout is fine. */
infd_status infd__shape_check_overlap(const struct infd_kargs *A, const struct infd_tensor *in,
				      const struct infd_tensor *out, bool identity_ok)
{
	if (!infd__shape_overlaps(in, out))
		return INFD_OK;
	if (identity_ok && in->data == out->data && in->dtype == out->dtype &&
	    infd__tensor_same_layout(in, out))
		return INFD_OK;
	return infd__kfail(A, INFD_BAD_INPUT, "out shares memory with an input");
}

/* Memory format argument (`MemoryFormat?`): None, or contiguous / preserve /
 * channels_last / channels_last_3d. The out tensor's own dim order is what the
 * kernels write; the program's planner has already settled it. */
infd_status infd__shape_karg_memory_format(const struct infd_kargs *A, uint32_t i)
{
	if (A->v[i]->kind == INFD_VALUE_NULL)
		return INFD_OK;
	int64_t mf;
	infd_status st = infd__karg_int(A, i, "memory_format", &mf);
	if (st)
		return st;
	if (mf < 0 || mf > 3)
		return infd__kfail(A, INFD_BAD_INPUT, "unknown memory format %lld", (long long)mf);
	return INFD_OK;
}

/* Optional dim order argument; *count = -1 for None. */
infd_status infd__shape_karg_dim_order(const struct infd_kargs *A, uint32_t i, uint32_t rank,
				       int64_t *order, int32_t *count)
{
	infd_status st = infd__karg_int_list(A, i, "dim_order", true, order, INFD_MAX_RANK, count);
	if (st || *count < 0)
		return st;
	if ((uint32_t)*count != rank)
		return infd__kfail(A, INFD_BAD_INPUT, "dim_order has %d entries for a tensor of rank %u",
				   *count, rank);
	bool seen[INFD_MAX_RANK] = {false};
	for (int32_t k = 0; k < *count; k++) {
		if (order[k] < 0 || order[k] >= (int64_t)rank || seen[order[k]]) {
			char b[128];
			return infd__kfail(A, INFD_BAD_INPUT, "dim_order %s is not a permutation of 0..%u",
					   infd__shape_fmt_ints(b, sizeof b, order, (uint32_t)*count), rank - 1);
		}
		seen[order[k]] = true;
	}
	return INFD_OK;
}

/* The out tensor must be laid out as `order` asks (dims of size 1 aside). */
infd_status infd__shape_check_dim_order(const struct infd_kargs *A, const struct infd_tensor *out,
					const int64_t *order, int32_t count)
{
	if (count < 0)
		return INFD_OK;
	struct infd_tensor want = *out;
	for (int32_t k = 0; k < count; k++)
		want.dim_order[k] = (uint8_t)order[k];
	infd__tensor_update_layout(&want);
	for (uint32_t d = 0; d < out->rank; d++) {
		if (out->sizes[d] > 1 && out->strides[d] != want.strides[d]) {
			char b1[128], b2[128];
			int64_t have[INFD_MAX_RANK];
			for (uint32_t k = 0; k < out->rank; k++)
				have[k] = out->dim_order[k];
			return infd__kfail(A, INFD_BAD_INPUT, "out has dim order %s but dim_order asks for %s",
					   infd__shape_fmt_ints(b1, sizeof b1, have, out->rank),
					   infd__shape_fmt_ints(b2, sizeof b2, order, (uint32_t)count));
		}
	}
	return INFD_OK;
}

/* Shared start of the [self, ..., out, ret] kernels. */
infd_status infd__shape_begin_unary(struct infd_kargs *A, struct infd_kernel_ctx *ctx,
				    struct infd_evalue **args, uint32_t n, const char *op, int32_t want,
				    const struct infd_tensor **self, struct infd_tensor **out)
{
	infd_status st;
	if ((st = infd__kargs_begin(A, ctx, args, n, op, want)) ||
	    (st = infd__karg_tensor(A, 0, "self", self)) ||
	    (st = infd__karg_out(A, (uint32_t)want - 2, (uint32_t)want - 1, out)))
		return st;
	return INFD_OK;
}

/* ---- Sizes and fills --------------------------------------------------------- */

/* PyTorch's infer_size: one -1 allowed, the rest non-negative. */
infd_status infd__shape_infer_size(const struct infd_kargs *A, const int64_t *in, int32_t n,
				   uint64_t numel, int32_t *out)
{
	int neg = -1;
	uint64_t prod = 1;
	char b[256];
	for (int32_t i = 0; i < n; i++) {
		if (in[i] == -1) {
			if (neg >= 0)
				return infd__kfail(A, INFD_BAD_INPUT, "only one dimension can be inferred");
			neg = i;
			continue;
		}
		if (in[i] < 0)
			return infd__kfail(A, INFD_BAD_INPUT, "invalid shape dimension %lld", (long long)in[i]);
		if (in[i] > INT32_MAX || __builtin_mul_overflow(prod, (uint64_t)in[i], &prod))
			return infd__kfail(A, INFD_BAD_INPUT, "shape %s is too large",
					   infd__shape_fmt_ints(b, sizeof b, in, (uint32_t)n));
		out[i] = (int32_t)in[i];
	}
	if (neg >= 0) {
		if (prod == 0)
			return infd__kfail(A, INFD_BAD_INPUT,
					   "cannot reshape a tensor of %llu elements into shape %s because the "
					   "unspecified dimension size -1 can be any value and is ambiguous",
					   (unsigned long long)numel,
					   infd__shape_fmt_ints(b, sizeof b, in, (uint32_t)n));
		if (numel % prod == 0 && numel / prod <= INT32_MAX) {
			out[neg] = (int32_t)(numel / prod);
			return INFD_OK;
		}
	} else if (prod == numel) {
		return INFD_OK;
	}
	return infd__kfail(A, INFD_BAD_INPUT, "shape %s is invalid for input of size %llu",
			   infd__shape_fmt_ints(b, sizeof b, in, (uint32_t)n), (unsigned long long)numel);
}

/* PyTorch's checked scalar conversion (c10::overflows): a value that the dtype
 * cannot hold is an error, except that a negative integer may wrap into an
 * unsigned type and that anything converts to bool. */
static bool scalar_fits(int dtype, const struct infd_scalar *s)
{
	int c = infd__dtype_category(dtype);
	if (c == INFD_CAT_BOOL || s->kind == INFD_VALUE_BOOL || dtype == INFD_DTYPE_FLOAT64)
		return true;
	if (c == INFD_CAT_FLOAT) {
		double m = dtype == INFD_DTYPE_FLOAT16 ? 65504.0 : dtype == INFD_DTYPE_BFLOAT16 ? 3.3895313892515355e38 : FLT_MAX;
		if (s->kind == INFD_VALUE_INT)
			return fabs((double)s->i) <= m;
		return isinf(s->d) || isnan(s->d) || fabs(s->d) <= m;
	}
	double lo, hi;
	switch (dtype) {
	case INFD_DTYPE_UINT8: lo = 0; hi = 255; break;
	case INFD_DTYPE_INT8: lo = -128; hi = 127; break;
	case INFD_DTYPE_INT16: lo = -32768; hi = 32767; break;
	case INFD_DTYPE_UINT16: lo = 0; hi = 65535; break;
	case INFD_DTYPE_INT32: lo = -2147483648.0; hi = 2147483647.0; break;
	case INFD_DTYPE_UINT32: lo = 0; hi = 4294967295.0; break;
	case INFD_DTYPE_INT64: lo = -9223372036854775808.0; hi = 9223372036854775807.0; break;
	default: lo = 0; hi = 18446744073709551615.0; break;
	}
	if (s->kind == INFD_VALUE_DOUBLE)
		return s->d >= lo && s->d <= hi; /* NaN fails */
	double v = (double)s->i;
	if (lo == 0 && v < 0)
		return -v <= hi;
	return v >= lo && v <= hi;
}

/* n elements of es bytes at dst, all equal to the element at `elem`. */
static void fill_bytes(char *dst, const void *elem, size_t es, uint64_t n)
{
	if (!n)
		return;
	if (es == 1) {
		memset(dst, *(const unsigned char *)elem, n);
		return;
	}
	size_t total = (size_t)n * es, done = es;
	memcpy(dst, elem, es);
	while (done < total) {
		size_t k = done < total - done ? done : total - done;
		memcpy(dst + done, dst, k);
		done += k;
	}
}

/* out[...] = s, after PyTorch's overflow check. */
infd_status infd__shape_fill_scalar(const struct infd_kargs *A, struct infd_tensor *out,
				    const struct infd_scalar *s)
{
	if (!infd__dtype_numeric(out->dtype))
		return infd__kfail(A, INFD_KERNEL_FAILED, "out has unsupported dtype %s",
				   infd_dtype_name(out->dtype));
	if (!scalar_fits(out->dtype, s)) {
		if (s->kind == INFD_VALUE_DOUBLE)
			return infd__kfail(A, INFD_BAD_INPUT, "value %g cannot be converted to type %s without overflow",
					   s->d, infd_dtype_name(out->dtype));
		return infd__kfail(A, INFD_BAD_INPUT, "value %lld cannot be converted to type %s without overflow",
				   (long long)s->i, infd_dtype_name(out->dtype));
	}
	uint64_t elem = 0;
	infd__store_scalar(&elem, out->dtype, s);
	fill_bytes(out->data, &elem, infd_dtype_size(out->dtype), out->numel);
	return INFD_OK;
}
