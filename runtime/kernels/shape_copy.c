/* Shape kernels that copy a view of one tensor: view/reshape, clone and dtype or
 * dim-order conversion, permute, transpose, (un)squeeze, expand, slice, narrow,
 * select, flip and repeat. Inputs are read through strides; out keeps its dim order. */
#include "shape_util.h"

#include <stdlib.h>
#include <string.h>

/* A list of dims: wrapped, without repeats. */
static infd_status wrap_dims(const struct infd_kargs *A, const int64_t *dims, int32_t count,
			     uint32_t rank, uint32_t *out)
{
	bool seen[INFD_MAX_RANK] = {false};
	infd_status st;
	for (int32_t i = 0; i < count; i++) {
		if ((st = infd__shape_wrap_dim(A, dims[i], rank, "dim", &out[i])))
			return st;
		if (seen[out[i]])
			return infd__kfail(A, INFD_BAD_INPUT, "dim %u appears multiple times in the list of dims",
					   out[i]);
		seen[out[i]] = true;
	}
	return INFD_OK;
}

/* Copy self into out element by element in row-major logical order; the shapes
 * may differ (same numel). Any dim orders on both sides. */
static infd_status reshape_copy(const struct infd_kargs *A, struct infd_tensor *out,
				const struct infd_tensor *self)
{
	struct infd_view dv, sv;
	if (!self->numel)
		return INFD_OK;
	size_t es = infd_dtype_size(self->dtype);
	if (infd__tensor_is_rowmajor(self)) {
		infd__view_of(&dv, out);
		infd__view_rowmajor(&sv, self->data, es, out->rank, out->sizes);
	} else if (infd__tensor_is_rowmajor(out)) {
		infd__view_of(&sv, self);
		infd__view_rowmajor(&dv, out->data, infd_dtype_size(out->dtype), self->rank, self->sizes);
	} else {
		void *tmp = malloc(self->nbytes);
		if (!tmp)
			return infd__kfail(A, INFD_NO_MEMORY, "no memory for a %llu-byte scratch copy",
					   (unsigned long long)self->nbytes);
		infd__view_of(&sv, self);
		infd__view_rowmajor(&dv, tmp, es, self->rank, self->sizes);
		infd__copy_view(&dv, self->dtype, &sv, self->dtype);
		infd__view_of(&dv, out);
		infd__view_rowmajor(&sv, tmp, es, out->rank, out->sizes);
		infd__copy_view(&dv, out->dtype, &sv, self->dtype);
		free(tmp);
		return INFD_OK;
	}
	infd__copy_view(&dv, out->dtype, &sv, self->dtype);
	return INFD_OK;
}

/* Resize out to the view's shape and copy the view into it. */
static infd_status finish_view_copy(const struct infd_kargs *A, struct infd_tensor *out,
				    const struct infd_tensor *self, const struct infd_view *src)
{
	infd_status st;
	int32_t sizes[INFD_MAX_RANK];
	for (uint32_t d = 0; d < src->rank; d++)
		sizes[d] = (int32_t)src->size[d];
	if ((st = infd__shape_check_copy(A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(A, out, src->rank, sizes)) ||
	    (st = infd__shape_check_overlap(A, self, out, false)))
		return st;
	struct infd_view dv;
	infd__view_of(&dv, out);
	infd__copy_view(&dv, out->dtype, src, self->dtype);
	return INFD_OK;
}

infd_status infd__k_view_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t size[INFD_MAX_RANK];
	int32_t count, sizes[INFD_MAX_RANK];
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::view_copy.out", 4, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "size", false, size, INFD_MAX_RANK, &count)) ||
	    (st = infd__shape_infer_size(&A, size, count, self->numel, sizes)) ||
	    (st = infd__shape_check_copy(&A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(&A, out, (uint32_t)count, sizes)) ||
	    (st = infd__shape_check_overlap(&A, self, out, false)))
		return st;
	return reshape_copy(&A, out, self);
}

static infd_status identity_copy(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
				 const char *op, int32_t want, uint32_t dim_order_arg,
				 uint32_t memory_format_arg, uint32_t non_blocking_arg)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t order[INFD_MAX_RANK];
	int32_t count = -1;
	bool nb;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, op, want, &self, &out)) ||
	    (non_blocking_arg && (st = infd__karg_bool(&A, non_blocking_arg, "non_blocking", &nb))) ||
	    (memory_format_arg && (st = infd__shape_karg_memory_format(&A, memory_format_arg))) ||
	    (dim_order_arg && (st = infd__shape_karg_dim_order(&A, dim_order_arg, self->rank, order, &count))) ||
	    (st = infd__shape_check_copy(&A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(&A, out, self->rank, self->sizes)) ||
	    (st = infd__shape_check_dim_order(&A, out, order, count)) ||
	    (st = infd__shape_check_overlap(&A, self, out, true)))
		return st;
	struct infd_view dv, sv;
	infd__view_of(&dv, out);
	infd__view_of(&sv, self);
	infd__copy_view(&dv, out->dtype, &sv, self->dtype);
	return INFD_OK;
}

infd_status infd__k_clone_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return identity_copy(ctx, args, n, "aten::clone.out", 4, 0, 1, 0);
}

infd_status infd__k_to_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return identity_copy(ctx, args, n, "aten::_to_copy.out", 5, 0, 2, 1);
}

infd_status infd__k_alias_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return identity_copy(ctx, args, n, "aten::alias_copy.out", 3, 0, 0, 0);
}

infd_status infd__k_detach_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				    uint32_t n)
{
	return identity_copy(ctx, args, n, "aten::detach_copy.out", 3, 0, 0, 0);
}

infd_status infd__k_lift_fresh_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					uint32_t n)
{
	return identity_copy(ctx, args, n, "aten::lift_fresh_copy.out", 3, 0, 0, 0);
}

infd_status infd__k_clone_dim_order_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					uint32_t n)
{
	return identity_copy(ctx, args, n, "dim_order_ops::_clone_dim_order.out", 5, 2, 0, 1);
}

infd_status infd__k_to_dim_order_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					  uint32_t n)
{
	return identity_copy(ctx, args, n, "dim_order_ops::_to_dim_order_copy.out", 5, 2, 0, 1);
}

infd_status infd__k_permute_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				     uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t dims[INFD_MAX_RANK];
	uint32_t wd[INFD_MAX_RANK];
	int32_t count;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::permute_copy.out", 4, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "dims", false, dims, INFD_MAX_RANK, &count)))
		return st;
	if ((uint32_t)count != self->rank)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "number of dims don't match in permute (%d dims for a tensor of rank %u)",
				   count, self->rank);
	if ((st = wrap_dims(&A, dims, count, self->rank, wd)))
		return st;
	struct infd_view v, sv;
	infd__view_of(&sv, self);
	v = sv;
	for (uint32_t d = 0; d < self->rank; d++) {
		v.size[d] = sv.size[wd[d]];
		v.stride[d] = sv.stride[wd[d]];
	}
	return finish_view_copy(&A, out, self, &v);
}

static infd_status transpose(const struct infd_kargs *A, const struct infd_tensor *self,
			     struct infd_tensor *out, uint32_t d0, uint32_t d1)
{
	struct infd_view v;
	infd__view_of(&v, self);
	if (self->rank) {
		int64_t s = v.size[d0];
		ptrdiff_t t = v.stride[d0];
		v.size[d0] = v.size[d1];
		v.stride[d0] = v.stride[d1];
		v.size[d1] = s;
		v.stride[d1] = t;
	}
	return finish_view_copy(A, out, self, &v);
}

infd_status infd__k_transpose_copy_int_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					   uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t d0, d1;
	uint32_t w0 = 0, w1 = 0;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::transpose_copy.int_out", 5, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim0", &d0)) || (st = infd__karg_int(&A, 2, "dim1", &d1)) ||
	    (st = infd__shape_wrap_dim(&A, d0, self->rank, "dim0", &w0)) ||
	    (st = infd__shape_wrap_dim(&A, d1, self->rank, "dim1", &w1)))
		return st;
	return transpose(&A, self, out, w0, w1);
}

infd_status infd__k_t_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::t_copy.out", 3, &self, &out)))
		return st;
	if (self->rank > 2)
		return infd__kfail(&A, INFD_BAD_INPUT, "t() expects a tensor with <= 2 dimensions, but self is %uD",
				   self->rank);
	return transpose(&A, self, out, 0, self->rank == 2 ? 1 : 0);
}

infd_status infd__k_unsqueeze_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				       uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t dim;
	uint32_t d = 0;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::unsqueeze_copy.out", 4, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) ||
	    (st = infd__shape_wrap_dim(&A, dim, self->rank + 1u, "dim", &d)))
		return st;
	if (self->rank >= INFD_MAX_RANK)
		return infd__kfail(&A, INFD_BAD_INPUT, "the result would have more than %d dims",
				   INFD_MAX_RANK);
	struct infd_view v;
	infd__view_of(&v, self);
	infd__view_insert(&v, d, 1, 0);
	return finish_view_copy(&A, out, self, &v);
}

/* Drop the dims in `mask` that have size 1. */
static infd_status squeeze(const struct infd_kargs *A, const struct infd_tensor *self,
			   struct infd_tensor *out, const bool *mask)
{
	struct infd_view v;
	infd__view_of(&v, self);
	for (int d = (int)self->rank - 1; d >= 0; d--)
		if (mask[d] && self->sizes[d] == 1)
			infd__view_select(&v, (uint32_t)d, 0);
	return finish_view_copy(A, out, self, &v);
}

infd_status infd__k_squeeze_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				     uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::squeeze_copy.out", 3, &self, &out)))
		return st;
	bool mask[INFD_MAX_RANK];
	for (uint32_t d = 0; d < INFD_MAX_RANK; d++)
		mask[d] = true;
	return squeeze(&A, self, out, mask);
}

infd_status infd__k_squeeze_copy_dim_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					 uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t dim;
	uint32_t d = 0;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::squeeze_copy.dim_out", 4, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__shape_wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	bool mask[INFD_MAX_RANK] = {false};
	mask[d] = true;
	return squeeze(&A, self, out, mask);
}

infd_status infd__k_squeeze_copy_dims_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					  uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t dims[INFD_MAX_RANK];
	uint32_t wd[INFD_MAX_RANK];
	int32_t count;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::squeeze_copy.dims_out", 4, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "dim", false, dims, INFD_MAX_RANK, &count)) ||
	    (st = wrap_dims(&A, dims, count, self->rank, wd)))
		return st;
	bool mask[INFD_MAX_RANK] = {false};
	for (int32_t k = 0; k < count; k++)
		mask[wd[k]] = true;
	return squeeze(&A, self, out, mask);
}

infd_status infd__k_expand_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				    uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t size[INFD_MAX_RANK];
	int32_t count;
	bool implicit;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::expand_copy.out", 5, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "size", false, size, INFD_MAX_RANK, &count)) ||
	    (st = infd__karg_bool(&A, 2, "implicit", &implicit)))
		return st;
	uint32_t r = (uint32_t)count, lead = r - self->rank;
	if (r < self->rank)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "the number of sizes provided (%u) must be greater or equal to the "
				   "number of dimensions in the tensor (%u)",
				   r, self->rank);
	struct infd_view v, sv;
	infd__view_of(&sv, self);
	v.rank = r;
	v.base = sv.base;
	for (uint32_t d = 0; d < r; d++) {
		int64_t want = size[d];
		if (d < lead) {
			if (want < 0)
				return infd__kfail(&A, INFD_BAD_INPUT,
						   "the expanded size of the tensor (%lld) isn't allowed in a "
						   "leading, non-existing dimension %u",
						   (long long)want, d);
			if ((st = infd__shape_check_size(&A, want, "size")))
				return st;
			v.size[d] = want;
			v.stride[d] = 0;
			continue;
		}
		int64_t have = sv.size[d - lead];
		if (want == -1 || want == have) {
			v.size[d] = have;
			v.stride[d] = sv.stride[d - lead];
		} else if (have == 1 && want >= 0) {
			if ((st = infd__shape_check_size(&A, want, "size")))
				return st;
			v.size[d] = want;
			v.stride[d] = 0;
		} else {
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "the expanded size of the tensor (%lld) must match the existing "
					   "size (%lld) at non-singleton dimension %u",
					   (long long)want, (long long)have, d);
		}
	}
	return finish_view_copy(&A, out, self, &v);
}

/* PyTorch's slice bounds: negative values wrap once, then clamp to [0, size]. */
static int64_t slice_len(int64_t size, int64_t *start, int64_t end, int64_t step)
{
	int64_t s = *start;
	if (s < 0)
		s += size;
	if (end < 0)
		end += size;
	if (s < 0)
		s = 0;
	else if (s >= size)
		s = size;
	if (end < s)
		end = s;
	else if (end >= size)
		end = size;
	*start = s;
	return (end - s + step - 1) / step;
}

infd_status infd__k_slice_copy_tensor_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					  uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t dim, start = 0, end = INT64_MAX, step;
	uint32_t d = 0;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::slice_copy.Tensor_out", 7, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) ||
	    (args[2]->kind != INFD_VALUE_NULL && (st = infd__karg_int(&A, 2, "start", &start))) ||
	    (args[3]->kind != INFD_VALUE_NULL && (st = infd__karg_int(&A, 3, "end", &end))) ||
	    (st = infd__karg_int(&A, 4, "step", &step)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "slice() cannot be applied to a 0-dim tensor");
	if ((st = infd__shape_wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	if (step <= 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "slice step must be positive, got %lld",
				   (long long)step);
	int64_t len = slice_len(self->sizes[d], &start, end, step);
	struct infd_view v;
	infd__view_of(&v, self);
	infd__view_narrow(&v, d, start, len, step);
	return finish_view_copy(&A, out, self, &v);
}

infd_status infd__k_narrow_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				    uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t dim, start, length;
	uint32_t d = 0;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::narrow_copy.out", 6, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__karg_int(&A, 2, "start", &start)) ||
	    (st = infd__karg_int(&A, 3, "length", &length)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "narrow() cannot be applied to a 0-dim tensor");
	if ((st = infd__shape_wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	int64_t size = self->sizes[d];
	if (start < -size || start > size)
		return infd__kfail(&A, INFD_BAD_INPUT, "start %lld is out of range for dim %u of size %lld",
				   (long long)start, d, (long long)size);
	if (start < 0)
		start += size;
	if (length < 0 || start > size - length)
		return infd__kfail(&A, INFD_BAD_INPUT, "start (%lld) + length (%lld) exceeds dimension size (%lld)",
				   (long long)start, (long long)length, (long long)size);
	struct infd_view v;
	infd__view_of(&v, self);
	infd__view_narrow(&v, d, start, length, 1);
	return finish_view_copy(&A, out, self, &v);
}

infd_status infd__k_select_copy_int_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t dim, index;
	uint32_t d = 0;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::select_copy.int_out", 5, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__karg_int(&A, 2, "index", &index)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "select() cannot be applied to a 0-dim tensor");
	if ((st = infd__shape_wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	int64_t size = self->sizes[d];
	if (index < -size || index >= size)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "index %lld is out of range for dimension %u with size %lld",
				   (long long)index, d, (long long)size);
	struct infd_view v;
	infd__view_of(&v, self);
	infd__view_select(&v, d, index < 0 ? index + size : index);
	return finish_view_copy(&A, out, self, &v);
}

infd_status infd__k_flip_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t dims[INFD_MAX_RANK];
	uint32_t wd[INFD_MAX_RANK];
	int32_t count;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::flip.out", 4, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "dims", false, dims, INFD_MAX_RANK, &count)) ||
	    (st = wrap_dims(&A, dims, count, self->rank, wd)))
		return st;
	struct infd_view v;
	infd__view_of(&v, self);
	for (int32_t k = 0; k < count && self->rank; k++) {
		uint32_t d = wd[k];
		if (v.size[d] > 1 && self->numel)
			v.base += (v.size[d] - 1) * v.stride[d];
		v.stride[d] = -v.stride[d];
	}
	return finish_view_copy(&A, out, self, &v);
}

infd_status infd__k_repeat_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t rep[INFD_MAX_RANK];
	int32_t count, sizes[INFD_MAX_RANK];
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::repeat.out", 4, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "repeats", false, rep, INFD_MAX_RANK, &count)))
		return st;
	uint32_t r = (uint32_t)count, lead = r - self->rank;
	if (r < self->rank)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "number of dimensions of repeat dims (%u) can not be smaller than "
				   "number of dimensions of tensor (%u)",
				   r, self->rank);
	for (uint32_t d = 0; d < r; d++) {
		int64_t s = d < lead ? 1 : self->sizes[d - lead];
		if (rep[d] < 0)
			return infd__kfail(&A, INFD_BAD_INPUT, "repeats has a negative entry %lld",
					   (long long)rep[d]);
		if (rep[d] > INT32_MAX || s * rep[d] > INT32_MAX)
			return infd__kfail(&A, INFD_BAD_INPUT, "repeated size is too large");
		sizes[d] = (int32_t)(s * rep[d]);
	}
	if ((st = infd__shape_check_copy(&A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(&A, out, r, sizes)) || (st = infd__shape_check_overlap(&A, self, out, false)))
		return st;
	/* out dim d of size rep*s is walked as (rep, s); self repeats along rep. */
	struct infd_view dv, sv, o;
	infd__view_of(&sv, self);
	infd__view_of(&o, out);
	dv.rank = sv.rank = 0;
	dv.base = o.base;
	char *sbase = sv.base;
	for (uint32_t d = 0; d < r; d++) {
		int64_t s = d < lead ? 1 : self->sizes[d - lead];
		ptrdiff_t ss = d < lead ? 0 : (ptrdiff_t)self->strides[d - lead] * (ptrdiff_t)infd_dtype_size(self->dtype);
		dv.size[dv.rank] = rep[d];
		dv.stride[dv.rank++] = o.stride[d] * s;
		dv.size[dv.rank] = s;
		dv.stride[dv.rank++] = o.stride[d];
		sv.size[sv.rank] = rep[d];
		sv.stride[sv.rank++] = 0;
		sv.size[sv.rank] = s;
		sv.stride[sv.rank++] = ss;
	}
	sv.base = sbase;
	if (out->numel)
		infd__copy_view(&dv, out->dtype, &sv, self->dtype);
	return INFD_OK;
}
