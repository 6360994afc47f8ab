/* Shape kernels that join or split tensors: cat, stack, split, split_with_sizes,
 * unbind, and constant padding (a fill plus a copy into a window of out). */
#include "shape_util.h"

#include <string.h>

/* Int list argument of any length: its items, checked to be Ints. */
static infd_status karg_long_list(const struct infd_kargs *A, uint32_t i, const char *name,
				  struct infd_evalue *const **items, uint32_t *count)
{
	if (i >= A->n || A->v[i]->kind != INFD_VALUE_INT_LIST)
		return infd__kfail(A, INFD_KERNEL_FAILED, "argument %u (%s) must be an int list", i, name);
	const struct infd_evalue *v = A->v[i];
	if (v->u.list.count && !v->u.list.items)
		return infd__kfail(A, INFD_KERNEL_FAILED, "argument %u (%s) has no items", i, name);
	for (uint32_t k = 0; k < v->u.list.count; k++)
		if (!v->u.list.items[k] || v->u.list.items[k]->kind != INFD_VALUE_INT)
			return infd__kfail(A, INFD_KERNEL_FAILED, "argument %u (%s) item %u is not an int",
					   i, name, k);
	*items = v->u.list.items;
	*count = v->u.list.count;
	return INFD_OK;
}

/* Input TensorList: every item a usable tensor. */
static infd_status karg_tensor_list(const struct infd_kargs *A, uint32_t i, const char *name,
				    struct infd_evalue *const **items, uint32_t *count)
{
	if (i >= A->n || A->v[i]->kind != INFD_VALUE_TENSOR_LIST)
		return infd__kfail(A, INFD_KERNEL_FAILED, "argument %u (%s) must be a tensor list", i,
				   name);
	const struct infd_evalue *v = A->v[i];
	if (v->u.list.count && !v->u.list.items)
		return infd__kfail(A, INFD_KERNEL_FAILED, "argument %u (%s) has no items", i, name);
	for (uint32_t k = 0; k < v->u.list.count; k++) {
		const struct infd_evalue *e = v->u.list.items[k];
		const struct infd_tensor *t;
		if (!e || e->kind != INFD_VALUE_TENSOR || !(t = e->u.t))
			return infd__kfail(A, INFD_KERNEL_FAILED, "%s[%u] is not a tensor", name, k);
		if (t->rank > INFD_MAX_RANK || (!t->data && t->numel))
			return infd__kfail(A, INFD_KERNEL_FAILED, "%s[%u] has no data", name, k);
	}
	*items = v->u.list.items;
	*count = v->u.list.count;
	return INFD_OK;
}

/* Out TensorList at i with its return slot at ret (the same list, or a list of
 * the same tensors). */
static infd_status karg_out_list(const struct infd_kargs *A, uint32_t i, uint32_t ret,
				 struct infd_evalue *const **items, uint32_t *count)
{
	infd_status st;
	if ((st = karg_tensor_list(A, i, "out", items, count)))
		return st;
	const struct infd_evalue *r = A->v[ret];
	if (r != A->v[i]) {
		bool same = r->kind == INFD_VALUE_TENSOR_LIST && r->u.list.count == *count &&
			    (*count == 0 || r->u.list.items);
		for (uint32_t k = 0; same && k < *count; k++)
			same = r->u.list.items[k] && r->u.list.items[k]->kind == INFD_VALUE_TENSOR &&
			       r->u.list.items[k]->u.t == (*items)[k]->u.t;
		if (!same)
			return infd__kfail(A, INFD_KERNEL_FAILED,
					   "the return slot (argument %u) must list the out tensors again",
					   ret);
	}
	for (uint32_t k = 0; k < *count; k++)
		if ((*items)[k]->u.t->is_const)
			return infd__kfail(A, INFD_KERNEL_FAILED, "out[%u] is a read-only constant", k);
	return INFD_OK;
}

/* ---- Joining and splitting --------------------------------------------------- */

/* PyTorch's cat skips 1-d empty tensors (legacy behaviour). */
static bool cat_skips(const struct infd_tensor *t)
{
	return t->rank == 1 && t->sizes[0] == 0;
}

/* Common dtype of a list (PyTorch's result_type) that out must be able to hold. */
static infd_status list_dtype(const struct infd_kargs *A, struct infd_evalue *const *items,
			      uint32_t count, const struct infd_tensor *out)
{
	int dt = items[0]->u.t->dtype;
	bool same = true;
	for (uint32_t k = 1; k < count; k++)
		same = same && items[k]->u.t->dtype == dt;
	if (same) {
		if (dt == out->dtype)
			return infd__shape_check_copy(A, dt, out->dtype);
	} else {
		for (uint32_t k = 1; k < count && dt >= 0; k++)
			dt = infd__promote_types(dt, items[k]->u.t->dtype);
		if (dt < 0)
			return infd__kfail(A, INFD_BAD_INPUT, "the input dtypes have no common type");
	}
	if (!infd__can_cast(dt, out->dtype))
		return infd__kfail(A, INFD_BAD_INPUT, "input type %s can't be cast to the desired output type %s",
				   infd_dtype_name(dt), infd_dtype_name(out->dtype));
	for (uint32_t k = 0; k < count; k++) {
		infd_status st = infd__shape_check_copy(A, items[k]->u.t->dtype, out->dtype);
		if (st)
			return st;
	}
	return INFD_OK;
}

static infd_status check_list_overlap(const struct infd_kargs *A, struct infd_evalue *const *items,
				      uint32_t count, const struct infd_tensor *out)
{
	for (uint32_t k = 0; k < count; k++)
		if (infd__shape_overlaps(items[k]->u.t, out))
			return infd__kfail(A, INFD_BAD_INPUT, "out shares memory with tensors[%u]", k);
	return INFD_OK;
}

infd_status infd__k_cat_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	struct infd_evalue *const *items;
	uint32_t count, d = 0;
	struct infd_tensor *out;
	int64_t dim;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::cat.out", 4)) ||
	    (st = karg_tensor_list(&A, 0, "tensors", &items, &count)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__karg_out(&A, 2, 3, &out)))
		return st;
	if (count == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "expected a non-empty list of tensors");
	const struct infd_tensor *ref = NULL;
	uint32_t ref_k = 0;
	for (uint32_t k = 0; k < count; k++) {
		const struct infd_tensor *t = items[k]->u.t;
		if (t->rank == 0)
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "zero-dimensional tensor (at position %u) cannot be concatenated", k);
		if (!ref && !cat_skips(t)) {
			ref = t;
			ref_k = k;
		}
	}
	if ((st = list_dtype(&A, items, count, out)))
		return st;
	int32_t sizes[INFD_MAX_RANK];
	uint32_t rank = 1;
	sizes[0] = 0;
	if (ref) {
		if ((st = infd__shape_wrap_dim(&A, dim, ref->rank, "dim", &d)))
			return st;
		rank = ref->rank;
		memcpy(sizes, ref->sizes, rank * sizeof sizes[0]);
		int64_t total = 0;
		for (uint32_t k = 0; k < count; k++) {
			const struct infd_tensor *t = items[k]->u.t;
			if (cat_skips(t))
				continue;
			if (t->rank != rank)
				return infd__kfail(&A, INFD_BAD_INPUT,
						   "tensors must have same number of dimensions: got %u and %u "
						   "(tensors %u and %u)",
						   rank, t->rank, ref_k, k);
			for (uint32_t i = 0; i < rank; i++)
				if (i != d && t->sizes[i] != ref->sizes[i])
					return infd__kfail(&A, INFD_BAD_INPUT,
							   "sizes of tensors must match except in dimension %u. "
							   "Expected size %d but got size %d for tensor number %u "
							   "in the list",
							   d, ref->sizes[i], t->sizes[i], k);
			total += t->sizes[d];
		}
		if ((st = infd__shape_check_size(&A, total, "the result")))
			return st;
		sizes[d] = (int32_t)total;
	}
	if ((st = infd__kout_resize(&A, out, rank, sizes)) ||
	    (st = check_list_overlap(&A, items, count, out)))
		return st;
	if (!out->numel)
		return INFD_OK;
	int64_t off = 0;
	for (uint32_t k = 0; k < count; k++) {
		const struct infd_tensor *t = items[k]->u.t;
		if (cat_skips(t) || t->sizes[d] == 0)
			continue;
		struct infd_view dv, sv;
		infd__view_of(&dv, out);
		infd__view_narrow(&dv, d, off, t->sizes[d], 1);
		infd__view_of(&sv, t);
		infd__copy_view(&dv, out->dtype, &sv, t->dtype);
		off += t->sizes[d];
	}
	return INFD_OK;
}

infd_status infd__k_stack_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	struct infd_evalue *const *items;
	uint32_t count = 0, d = 0;
	struct infd_tensor *out;
	int64_t dim;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::stack.out", 4)) ||
	    (st = karg_tensor_list(&A, 0, "tensors", &items, &count)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__karg_out(&A, 2, 3, &out)))
		return st;
	if (count == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "stack expects a non-empty TensorList");
	const struct infd_tensor *ref = items[0]->u.t;
	if (ref->rank >= INFD_MAX_RANK)
		return infd__kfail(&A, INFD_BAD_INPUT, "the result would have more than %d dims",
				   INFD_MAX_RANK);
	if ((st = infd__shape_wrap_dim(&A, dim, ref->rank + 1u, "dim", &d)))
		return st;
	for (uint32_t k = 1; k < count; k++) {
		const struct infd_tensor *t = items[k]->u.t;
		if (!infd__tensor_has_shape(t, ref->rank, ref->sizes)) {
			char b1[128], b2[128];
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "stack expects each tensor to be equal size, but got %s at entry 0 "
					   "and %s at entry %u",
					   infd__shape_fmt_shape(b1, sizeof b1, ref),
					   infd__shape_fmt_shape(b2, sizeof b2, t), k);
		}
	}
	if ((st = list_dtype(&A, items, count, out)) || (st = infd__shape_check_size(&A, count, "the result")))
		return st;
	int32_t sizes[INFD_MAX_RANK];
	for (uint32_t i = 0, j = 0; i <= ref->rank; i++)
		sizes[i] = i == d ? (int32_t)count : ref->sizes[j++];
	if ((st = infd__kout_resize(&A, out, ref->rank + 1u, sizes)) ||
	    (st = check_list_overlap(&A, items, count, out)))
		return st;
	if (!out->numel)
		return INFD_OK;
	for (uint32_t k = 0; k < count; k++) {
		const struct infd_tensor *t = items[k]->u.t;
		struct infd_view dv, sv;
		infd__view_of(&dv, out);
		infd__view_select(&dv, d, k);
		infd__view_of(&sv, t);
		infd__copy_view(&dv, out->dtype, &sv, t->dtype);
	}
	return INFD_OK;
}

/* Copy consecutive pieces of self along d into the outs: piece k has size len(k). */
typedef int64_t (*piece_len_fn)(const void *user, uint32_t k);

static infd_status split_into(const struct infd_kargs *A, const struct infd_tensor *self, uint32_t d,
			      struct infd_evalue *const *outs, uint32_t count, piece_len_fn len,
			      const void *user, bool drop_dim)
{
	infd_status st;
	for (uint32_t k = 0; k < count; k++) {
		struct infd_tensor *o = outs[k]->u.t;
		if ((st = infd__shape_check_copy(A, self->dtype, o->dtype)))
			return st;
		if ((st = infd__shape_check_overlap(A, self, o, false)))
			return st;
	}
	int64_t off = 0;
	for (uint32_t k = 0; k < count; k++) {
		struct infd_tensor *o = outs[k]->u.t;
		int64_t l = len(user, k);
		struct infd_view v;
		infd__view_of(&v, self);
		if (drop_dim)
			infd__view_select(&v, d, off);
		else
			infd__view_narrow(&v, d, off, l, 1);
		int32_t sizes[INFD_MAX_RANK];
		for (uint32_t i = 0; i < v.rank; i++)
			sizes[i] = (int32_t)v.size[i];
		if ((st = infd__kout_resize(A, o, v.rank, sizes)))
			return st;
		struct infd_view dv;
		infd__view_of(&dv, o);
		if (o->numel)
			infd__copy_view(&dv, o->dtype, &v, self->dtype);
		off += l;
	}
	return INFD_OK;
}

struct split_even {
	int64_t size, split, n;
};

static int64_t split_even_len(const void *user, uint32_t k)
{
	const struct split_even *s = user;
	return (int64_t)k + 1 < s->n ? s->split : s->size - s->split * (s->n - 1);
}

static int64_t split_list_len(const void *user, uint32_t k)
{
	struct infd_evalue *const *items = user;
	return items[k]->u.i;
}

static int64_t unbind_len(const void *user, uint32_t k)
{
	return 1;
}

infd_status infd__k_split_copy_tensor_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					  uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_evalue *const *outs;
	uint32_t count = 0, d = 0;
	int64_t split, dim;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::split_copy.Tensor_out", 5)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) ||
	    (st = infd__karg_int(&A, 1, "split_size", &split)) ||
	    (st = infd__karg_int(&A, 2, "dim", &dim)) || (st = karg_out_list(&A, 3, 4, &outs, &count)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "split expects at least a 1-dimensional tensor");
	if ((st = infd__shape_wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	struct split_even s = {.size = self->sizes[d], .split = split, .n = 1};
	if (split < 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "split expects split_size be non-negative, but got %lld",
				   (long long)split);
	if (split == 0 && s.size != 0)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "split_size can only be 0 if dimension size is 0, but got dimension size of %lld",
				   (long long)s.size);
	if (split > 0)
		s.n = s.size == 0 ? 1 : (s.size + split - 1) / split;
	if ((int64_t)count != s.n)
		return infd__kfail(&A, INFD_BAD_INPUT, "splitting a dim of size %lld into pieces of %lld gives %lld "
				   "tensors, but out has %u",
				   (long long)s.size, (long long)split, (long long)s.n, count);
	return split_into(&A, self, d, outs, count, split_even_len, &s, false);
}

infd_status infd__k_split_with_sizes_copy_out(struct infd_kernel_ctx *ctx,
					      struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_evalue *const *outs = NULL, *const *splits = NULL;
	uint32_t count = 0, n_splits = 0, d = 0;
	int64_t dim;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::split_with_sizes_copy.out", 5)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) ||
	    (st = karg_long_list(&A, 1, "split_sizes", &splits, &n_splits)) ||
	    (st = infd__karg_int(&A, 2, "dim", &dim)) || (st = karg_out_list(&A, 3, 4, &outs, &count)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "split expects at least a 1-dimensional tensor");
	if ((st = infd__shape_wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	int64_t total = 0;
	for (uint32_t k = 0; k < n_splits; k++) {
		int64_t l = splits[k]->u.i;
		if (l < 0 || l > INT32_MAX)
			return infd__kfail(&A, INFD_BAD_INPUT, "split_sizes[%u] = %lld is invalid", k,
					   (long long)l);
		total += l;
	}
	if (total != self->sizes[d])
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "split_with_sizes expects split_sizes to sum exactly to %d (input tensor's "
				   "size at dimension %u), but got sum %lld",
				   self->sizes[d], d, (long long)total);
	if (count != n_splits)
		return infd__kfail(&A, INFD_BAD_INPUT, "%u split sizes but %u out tensors", n_splits, count);
	return split_into(&A, self, d, outs, count, split_list_len, splits, false);
}

infd_status infd__k_unbind_copy_int_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_evalue *const *outs;
	uint32_t count = 0, d = 0;
	int64_t dim;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::unbind_copy.int_out", 4)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) || (st = infd__karg_int(&A, 1, "dim", &dim)) ||
	    (st = karg_out_list(&A, 2, 3, &outs, &count)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "dimension specified as %lld but tensor has no dimensions",
				   (long long)dim);
	if ((st = infd__shape_wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	if ((int64_t)count != self->sizes[d])
		return infd__kfail(&A, INFD_BAD_INPUT, "dim %u has size %d but out has %u tensors", d,
				   self->sizes[d], count);
	return split_into(&A, self, d, outs, count, unbind_len, NULL, true);
}

/* ---- Padding ----------------------------------------------------------------- */

infd_status infd__k_constant_pad_nd_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	struct infd_scalar value;
	int64_t pad[2 * INFD_MAX_RANK];
	int32_t count;
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::constant_pad_nd.out", 5, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "pad", false, pad, 2 * INFD_MAX_RANK, &count)) ||
	    (st = infd__karg_scalar(&A, 2, "value", &value)))
		return st;
	uint32_t r = self->rank;
	if (count % 2)
		return infd__kfail(&A, INFD_BAD_INPUT, "length of pad must be even but instead it equals %d", count);
	if ((uint32_t)count > 2 * r)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "length of pad should be no more than twice the number of dimensions of "
				   "the input. Pad length is %d while the input has %u dimensions",
				   count, r);
	int32_t sizes[INFD_MAX_RANK];
	int64_t lo[INFD_MAX_RANK] = {0}, hi[INFD_MAX_RANK] = {0};
	for (uint32_t d = 0; d < r; d++) {
		uint32_t k = 2 * (r - 1 - d); /* pairs start at the last dim */
		if (k < (uint32_t)count) {
			lo[d] = pad[k];
			hi[d] = pad[k + 1];
		}
		if (lo[d] < -INT32_MAX || lo[d] > INT32_MAX || hi[d] < -INT32_MAX || hi[d] > INT32_MAX)
			return infd__kfail(&A, INFD_BAD_INPUT, "padding is too large");
		int64_t s = self->sizes[d] + lo[d] + hi[d];
		if (s < 0)
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "the input size %d, plus negative padding %lld and %lld resulted in a "
					   "negative output size, which is invalid. Check dimension %u of your input",
					   self->sizes[d], (long long)lo[d], (long long)hi[d], d);
		if ((st = infd__shape_check_size(&A, s, "the result")))
			return st;
		sizes[d] = (int32_t)s;
	}
	if ((st = infd__shape_check_copy(&A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(&A, out, r, sizes)) || (st = infd__shape_check_overlap(&A, self, out, false)))
		return st;
	if ((st = infd__shape_fill_scalar(&A, out, &value)))
		return st;
	/* The part of self that survives negative padding, at its place in out. */
	struct infd_view dv, sv;
	infd__view_of(&dv, out);
	infd__view_of(&sv, self);
	for (uint32_t d = 0; d < r; d++) {
		int64_t cut_lo = lo[d] < 0 ? -lo[d] : 0, cut_hi = hi[d] < 0 ? -hi[d] : 0;
		int64_t len = self->sizes[d] - cut_lo - cut_hi;
		if (len <= 0)
			return INFD_OK;
		infd__view_narrow(&sv, d, cut_lo, len, 1);
		infd__view_narrow(&dv, d, lo[d] > 0 ? lo[d] : 0, len, 1);
	}
	if (self->numel)
		infd__copy_view(&dv, out->dtype, &sv, self->dtype);
	return INFD_OK;
}
