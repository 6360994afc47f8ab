/* Creation kernels: full, zeros, ones, full_like, scalar_tensor, empty,
 * _empty_dim_order and arange (PyTorch's size and overflow rules). */
#include "shape_util.h"

#include <math.h>

static infd_status karg_sizes(const struct infd_kargs *A, uint32_t i, int32_t *sizes, uint32_t *rank)
{
	int64_t v[INFD_MAX_RANK];
	int32_t count;
	infd_status st = infd__karg_int_list(A, i, "size", false, v, INFD_MAX_RANK, &count);
	if (st)
		return st;
	for (int32_t k = 0; k < count; k++) {
		if (v[k] < 0) {
			char b[256];
			return infd__kfail(A, INFD_BAD_INPUT, "trying to create tensor with negative dimension %lld: %s",
					   (long long)v[k], infd__shape_fmt_ints(b, sizeof b, v, (uint32_t)count));
		}
		if ((st = infd__shape_check_size(A, v[k], "size")))
			return st;
		sizes[k] = (int32_t)v[k];
	}
	*rank = (uint32_t)count;
	return INFD_OK;
}

static infd_status full_like_shape(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				   uint32_t n, const char *op, int32_t want, int fill_arg,
				   int64_t constant)
{
	struct infd_kargs A;
	struct infd_tensor *out;
	struct infd_scalar s = {.kind = INFD_VALUE_INT, .i = constant, .d = (double)constant};
	int32_t sizes[INFD_MAX_RANK];
	uint32_t rank;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, op, want)) ||
	    (st = karg_sizes(&A, 0, sizes, &rank)) ||
	    (fill_arg >= 0 && (st = infd__karg_scalar(&A, (uint32_t)fill_arg, "fill_value", &s))) ||
	    (st = infd__karg_out(&A, (uint32_t)want - 2, (uint32_t)want - 1, &out)) ||
	    (st = infd__kout_resize(&A, out, rank, sizes)))
		return st;
	return infd__shape_fill_scalar(&A, out, &s);
}

infd_status infd__k_full_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return full_like_shape(ctx, args, n, "aten::full.out", 4, 1, 0);
}

infd_status infd__k_zeros_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return full_like_shape(ctx, args, n, "aten::zeros.out", 3, -1, 0);
}

infd_status infd__k_ones_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return full_like_shape(ctx, args, n, "aten::ones.out", 3, -1, 1);
}

infd_status infd__k_full_like_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	struct infd_scalar s;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::full_like.out", 5, &self, &out)) ||
	    (st = infd__karg_scalar(&A, 1, "fill_value", &s)) || (st = infd__shape_karg_memory_format(&A, 2)) ||
	    (st = infd__kout_resize(&A, out, self->rank, self->sizes)))
		return st;
	return infd__shape_fill_scalar(&A, out, &s);
}

infd_status infd__k_scalar_tensor_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				      uint32_t n)
{
	struct infd_kargs A;
	struct infd_tensor *out;
	struct infd_scalar s;
	const int32_t no_sizes[1] = {0};
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::scalar_tensor.out", 3)) ||
	    (st = infd__karg_scalar(&A, 0, "s", &s)) || (st = infd__karg_out(&A, 1, 2, &out)) ||
	    (st = infd__kout_resize(&A, out, 0, no_sizes)))
		return st;
	return infd__shape_fill_scalar(&A, out, &s);
}

/* empty.out [size, memory_format?, out, ret] and _empty_dim_order.out [size,
 * dim_order?, out, ret]: only the shape changes. */
infd_status infd__k_empty_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	struct infd_tensor *out;
	int32_t sizes[INFD_MAX_RANK];
	uint32_t rank;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::empty.out", 4)) ||
	    (st = karg_sizes(&A, 0, sizes, &rank)) || (st = infd__shape_karg_memory_format(&A, 1)) ||
	    (st = infd__karg_out(&A, 2, 3, &out)))
		return st;
	return infd__kout_resize(&A, out, rank, sizes);
}

infd_status infd__k_empty_dim_order_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					uint32_t n)
{
	struct infd_kargs A;
	struct infd_tensor *out;
	int32_t sizes[INFD_MAX_RANK], count;
	int64_t order[INFD_MAX_RANK];
	uint32_t rank;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "dim_order_ops::_empty_dim_order.out", 4)) ||
	    (st = karg_sizes(&A, 0, sizes, &rank)) ||
	    (st = infd__shape_karg_dim_order(&A, 1, rank, order, &count)) || (st = infd__karg_out(&A, 2, 3, &out)) ||
	    (st = infd__kout_resize(&A, out, rank, sizes)))
		return st;
	return infd__shape_check_dim_order(&A, out, order, count);
}

/* arange: PyTorch's rules. Values are computed in the output's accumulate type
 * (int64 for integers, double for float32/float64, float for float16/bfloat16). */
static infd_status arange(const struct infd_kargs *A, const struct infd_scalar *start,
			  const struct infd_scalar *end, const struct infd_scalar *step,
			  struct infd_tensor *out)
{
	int dt = out->dtype, cat = infd__dtype_category(dt);
	if (cat != INFD_CAT_INT && cat != INFD_CAT_FLOAT)
		return infd__kfail(A, INFD_KERNEL_FAILED, "out has unsupported dtype %s", infd_dtype_name(dt));
	double size_d;
	int64_t size;
	bool half = dt == INFD_DTYPE_FLOAT16 || dt == INFD_DTYPE_BFLOAT16;
	if (cat == INFD_CAT_INT) {
		int64_t xs = start->i, xe = end->i, xst = step->i;
		const struct infd_scalar *sc[3] = {start, end, step};
		for (int k = 0; k < 3; k++)
			if (sc[k]->kind == INFD_VALUE_DOUBLE && !(fabs(sc[k]->d) < 9.2e18))
				return infd__kfail(A, INFD_BAD_INPUT, "value %g cannot be converted to type int64 without overflow",
						   sc[k]->d);
		if (xst == 0)
			return infd__kfail(A, INFD_BAD_INPUT, "step must be nonzero");
		if (!((xst > 0 && xe >= xs) || (xst < 0 && xe <= xs)))
			return infd__kfail(A, INFD_BAD_INPUT, "upper bound and larger bound inconsistent with step sign");
		if (dt == INFD_DTYPE_INT64) {
			/* ceil((end - start) / step) in exact integer arithmetic */
			uint64_t dist = xst > 0 ? (uint64_t)xe - (uint64_t)xs : (uint64_t)xs - (uint64_t)xe;
			uint64_t mag = xst > 0 ? (uint64_t)xst : 0 - (uint64_t)xst;
			size_d = (double)(dist / mag + (dist % mag != 0));
		} else {
			size_d = ceil((end->d - start->d) / step->d);
		}
	} else {
		double xs = start->d, xe = end->d, xst = step->d;
		if (half) {
			xs = (float)xs;
			xe = (float)xe;
			xst = (float)xst;
		}
		size_d = ceil((end->d - start->d) / step->d);
		if (!(xst > 0 || xst < 0))
			return infd__kfail(A, INFD_BAD_INPUT, "step must be nonzero");
		if (!isfinite(xs) || !isfinite(xe))
			return infd__kfail(A, INFD_BAD_INPUT, "unsupported range: %g -> %g", xs, xe);
		if (!((xst > 0 && xe >= xs) || (xst < 0 && xe <= xs)))
			return infd__kfail(A, INFD_BAD_INPUT, "upper bound and larger bound inconsistent with step sign");
	}
	if (!(size_d >= 0 && size_d <= (double)INT32_MAX))
		return infd__kfail(A, INFD_BAD_INPUT, "invalid size %g, possible overflow?", size_d);
	size = (int64_t)size_d;
	int32_t s32 = (int32_t)size;
	infd_status st = infd__kout_resize(A, out, 1, &s32);
	if (st)
		return st;
	/* The out tensor is 1-d: its elements are contiguous. Generate in blocks. */
	enum { BLK = 256 };
	size_t es = infd_dtype_size(dt);
	char *o = out->data;
	for (int64_t b = 0; b < size; b += BLK) {
		size_t m = (size_t)(size - b < BLK ? size - b : BLK);
		if (cat == INFD_CAT_INT) {
			int64_t v[BLK];
			uint64_t xs = (uint64_t)start->i, xst = (uint64_t)step->i;
			for (size_t i = 0; i < m; i++)
				v[i] = (int64_t)(xs + xst * (uint64_t)(b + (int64_t)i));
			infd__convert(o + (size_t)b * es, dt, (ptrdiff_t)es, v, INFD_DTYPE_INT64, 8, m);
		} else if (half) {
			float v[BLK], xs = (float)start->d, xst = (float)step->d;
			for (size_t i = 0; i < m; i++)
				v[i] = xs + xst * (float)(b + (int64_t)i);
			infd__convert(o + (size_t)b * es, dt, (ptrdiff_t)es, v, INFD_DTYPE_FLOAT32, 4, m);
		} else {
			double v[BLK], xs = start->d, xst = step->d;
			for (size_t i = 0; i < m; i++)
				v[i] = xs + xst * (double)(b + (int64_t)i);
			infd__convert(o + (size_t)b * es, dt, (ptrdiff_t)es, v, INFD_DTYPE_FLOAT64, 8, m);
		}
	}
	return INFD_OK;
}

infd_status infd__k_arange_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	struct infd_tensor *out;
	struct infd_scalar end, start = {.kind = INFD_VALUE_INT, .i = 0, .d = 0};
	struct infd_scalar step = {.kind = INFD_VALUE_INT, .i = 1, .d = 1};
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::arange.out", 3)) ||
	    (st = infd__karg_scalar(&A, 0, "end", &end)) || (st = infd__karg_out(&A, 1, 2, &out)))
		return st;
	return arange(&A, &start, &end, &step, out);
}

infd_status infd__k_arange_start_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				     uint32_t n)
{
	struct infd_kargs A;
	struct infd_tensor *out;
	struct infd_scalar start, end, step;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::arange.start_out", 5)) ||
	    (st = infd__karg_scalar(&A, 0, "start", &start)) ||
	    (st = infd__karg_scalar(&A, 1, "end", &end)) ||
	    (st = infd__karg_scalar(&A, 2, "step", &step)) || (st = infd__karg_out(&A, 3, 4, &out)))
		return st;
	return arange(&A, &start, &end, &step, out);
}
