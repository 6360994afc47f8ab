/* Which operators the Vulkan backend runs, and how: each supported KERNEL
 * instruction is checked against what the shaders handle (float32, static
 * shapes, contiguous tensors, argument values) and lowered into dispatches.
 * This file holds the argument helpers, the operator table, the elementwise
 * operators and the copy / view family; vk_ops_nn.c the rest. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

/* Operation codes of shaders/ew.comp */
enum { EW_COPY, EW_ADD, EW_MUL, EW_DIV, EW_RELU, EW_CLAMP, EW_SIGMOID, EW_TANH, EW_GELU, EW_GELU_TANH, EW_SILU,
       EW_HARDSWISH };
#define EW_F_B_SCALAR 1u
#define EW_F_HAS_LO 4u
#define EW_F_HAS_HI 8u
#define EW_MAX_RANK 8

/* ---- Argument helpers ---------------------------------------------------------- */

const struct infd_tensor *infd__vk_f32(const struct vk_lower *L, int32_t v)
{
	if (v < 0 || (uint32_t)v >= L->def->n_values || L->values[v].kind != INFD_VALUE_TENSOR)
		return NULL;
	const struct infd_tensor *t = L->values[v].u.t;
	if (!t || t->dtype != INFD_DTYPE_FLOAT32 || !infd__tensor_is_contiguous(t) || t->numel == 0 ||
	    t->nbytes > L->max_range || t->numel >= (1ull << 31) ||
	    (t->def && t->def->dynamism != INFD_SHAPE_STATIC))
		return NULL;
	return t;
}

bool infd__vk_int(const struct vk_lower *L, int32_t v, int64_t *out)
{
	if (v < 0 || (uint32_t)v >= L->def->n_values || L->values[v].kind != INFD_VALUE_INT)
		return false;
	*out = L->values[v].u.i;
	return true;
}

bool infd__vk_bool(const struct vk_lower *L, int32_t v, bool *out)
{
	if (v < 0 || (uint32_t)v >= L->def->n_values || L->values[v].kind != INFD_VALUE_BOOL)
		return false;
	*out = L->values[v].u.b;
	return true;
}

bool infd__vk_num(const struct vk_lower *L, int32_t v, double *out)
{
	if (v < 0 || (uint32_t)v >= L->def->n_values)
		return false;
	const struct infd_evalue *e = &L->values[v];
	if (e->kind == INFD_VALUE_INT)
		*out = (double)e->u.i;
	else if (e->kind == INFD_VALUE_DOUBLE)
		*out = e->u.d;
	else if (e->kind == INFD_VALUE_BOOL)
		*out = e->u.b;
	else
		return false;
	return true;
}

bool infd__vk_is_null(const struct vk_lower *L, int32_t v)
{
	return v >= 0 && (uint32_t)v < L->def->n_values && L->values[v].kind == INFD_VALUE_NULL;
}

bool infd__vk_int_list(const struct vk_lower *L, int32_t v, int64_t *out, uint32_t max, uint32_t *count)
{
	if (v < 0 || (uint32_t)v >= L->def->n_values || L->values[v].kind != INFD_VALUE_INT_LIST)
		return false;
	const struct infd_evalue *e = &L->values[v];
	if (e->u.list.count > max)
		return false;
	for (uint32_t i = 0; i < e->u.list.count; i++) {
		const struct infd_evalue *it = e->u.list.items[i];
		if (!it || it->kind != INFD_VALUE_INT)
			return false;
		out[i] = it->u.i;
	}
	*count = e->u.list.count;
	return true;
}

bool infd__vk_out(const struct vk_lower *L, int32_t o, int32_t r, uint32_t rank, const int32_t *sizes)
{
	const struct infd_tensor *t = infd__vk_f32(L, o);
	if (!t || o != r || t->is_const || t->rank != rank)
		return false;
	for (uint32_t d = 0; d < rank; d++)
		if (t->sizes[d] != sizes[d])
			return false;
	return true;
}

void infd__vk_grid1(struct vk_dispatch *d, uint64_t n, uint32_t local)
{
	uint64_t groups = (n + local - 1) / local;
	if (groups <= 65535) {
		d->groups[0] = (uint32_t)(groups ? groups : 1);
		d->groups[1] = 1;
	} else {
		d->groups[0] = 65535;
		d->groups[1] = (uint32_t)((groups + 65534) / 65535);
	}
	d->groups[2] = 1;
}

struct vk_dispatch *infd__vk_emit(struct vk_lower *L, enum vk_pipe pipe)
{
	if (!L->emit)
		return &L->scratch; /* checking only: written, never read */
	if (L->n == L->cap) {
		uint32_t cap = L->cap ? 2 * L->cap : 16;
		struct vk_dispatch *nd = realloc(L->d, cap * sizeof *nd);
		if (!nd) {
			L->oom = true;
			return NULL;
		}
		L->d = nd;
		L->cap = cap;
	}
	struct vk_dispatch *d = &L->d[L->n++];
	memset(d, 0, sizeof *d);
	d->pipe = (uint8_t)pipe;
	for (int i = 0; i < VK_N_BINDINGS - 1; i++)
		d->bind[i] = -1;
	d->writes = 1; /* binding 1 is the output unless said otherwise */
	return d;
}

/* ---- Elementwise and strided copies ------------------------------------------------ */

/* An iteration shape with the strides of the out and up to two inputs. */
struct ew_iter {
	uint32_t rank;
	int64_t sizes[INFD_MAX_RANK + 1];
	int64_t str[3][INFD_MAX_RANK + 1]; /* out, a, b */
	int64_t off[3];
};

/* Merge neighbouring dims that every operand walks as one; drop size-1 dims. */
static void ew_coalesce(struct ew_iter *it)
{
	uint32_t r = 0;
	for (uint32_t d = 0; d < it->rank; d++) {
		if (it->sizes[d] == 1)
			continue;
		if (r > 0) {
			bool merge = true;
			for (int k = 0; k < 3; k++)
				if (it->str[k][r - 1] != it->str[k][d] * it->sizes[d])
					merge = false;
			if (merge) {
				it->sizes[r - 1] *= it->sizes[d];
				for (int k = 0; k < 3; k++)
					it->str[k][r - 1] = it->str[k][d];
				continue;
			}
		}
		it->sizes[r] = it->sizes[d];
		for (int k = 0; k < 3; k++)
			it->str[k][r] = it->str[k][d];
		r++;
	}
	if (r == 0) {
		it->sizes[0] = 1;
		for (int k = 0; k < 3; k++)
			it->str[k][0] = 0;
		r = 1;
	}
	it->rank = r;
}

static bool ew_dispatch(struct vk_lower *L, uint32_t op, struct ew_iter *it, int32_t out, int32_t a, int32_t b,
			uint32_t flags, float alpha, float scalar, float lo, float hi)
{
	ew_coalesce(it);
	if (it->rank > EW_MAX_RANK)
		return false;
	uint64_t n = 1;
	for (uint32_t d = 0; d < it->rank; d++)
		n *= (uint64_t)it->sizes[d];
	struct vk_dispatch *d = infd__vk_emit(L, VK_PIPE_EW);
	if (!d)
		return false;
	d->bind[0] = out;
	d->bind[1] = a;
	d->bind[2] = b;
	uint32_t *p = d->params;
	d->n_params = 44;
	memset(p, 0, 44 * sizeof *p);
	p[0] = op;
	p[1] = (uint32_t)n;
	p[2] = it->rank;
	p[3] = flags;
	p[4] = infd__vk_fbits(alpha);
	p[5] = infd__vk_fbits(scalar);
	p[6] = infd__vk_fbits(lo);
	p[7] = infd__vk_fbits(hi);
	for (int k = 0; k < 3; k++)
		p[8 + k] = (uint32_t)it->off[k];
	for (uint32_t i = 0; i < it->rank; i++) {
		p[12 + i] = (uint32_t)it->sizes[i];
		p[20 + i] = (uint32_t)it->str[0][i];
		p[28 + i] = (uint32_t)it->str[1][i];
		p[36 + i] = (uint32_t)it->str[2][i];
	}
	infd__vk_grid1(d, n, 256);
	return true;
}

/* Strides of operand t broadcast against an iteration shape of `rank` dims. */
static bool bcast_strides(const struct infd_tensor *t, uint32_t rank, const int64_t *sizes, int64_t *str)
{
	if (t->rank > rank)
		return false;
	uint32_t lead = rank - t->rank;
	for (uint32_t d = 0; d < rank; d++) {
		if (d < lead) {
			str[d] = 0;
			continue;
		}
		int32_t s = t->sizes[d - lead];
		if (s == sizes[d])
			str[d] = sizes[d] == 1 ? 0 : t->strides[d - lead];
		else if (s == 1)
			str[d] = 0;
		else
			return false;
	}
	return true;
}

/* out = op(a, b) with b a tensor (broadcast) or a scalar; unary when b < 0 and
 * no scalar. */
static bool ew_lower(struct vk_lower *L, uint32_t op, int32_t out, int32_t ret, int32_t a, int32_t b,
		     bool b_scalar, uint32_t flags, float alpha, float scalar, float lo, float hi)
{
	const struct infd_tensor *ta = infd__vk_f32(L, a), *tb = NULL;
	if (!ta)
		return false;
	uint32_t rank = ta->rank;
	int32_t sizes[INFD_MAX_RANK];
	memcpy(sizes, ta->sizes, sizeof sizes);
	if (b >= 0 && !b_scalar) {
		if (!(tb = infd__vk_f32(L, b)))
			return false;
		/* broadcast shape */
		uint32_t r = ta->rank > tb->rank ? ta->rank : tb->rank;
		for (uint32_t d = 0; d < r; d++) {
			int32_t sa = d + ta->rank >= r ? ta->sizes[d + ta->rank - r] : 1;
			int32_t sb = d + tb->rank >= r ? tb->sizes[d + tb->rank - r] : 1;
			if (sa != sb && sa != 1 && sb != 1)
				return false;
			sizes[d] = sa == 1 ? sb : sa;
		}
		rank = r;
	}
	if (!infd__vk_out(L, out, ret, rank, sizes))
		return false;
	const struct infd_tensor *to = L->values[out].u.t;
	struct ew_iter it = {.rank = rank};
	for (uint32_t d = 0; d < rank; d++)
		it.sizes[d] = sizes[d];
	for (uint32_t d = 0; d < rank; d++)
		it.str[0][d] = to->strides[d];
	if (!bcast_strides(ta, rank, it.sizes, it.str[1]) || (tb && !bcast_strides(tb, rank, it.sizes, it.str[2])))
		return false;
	/* in place is fine element for element, not when the aliased input is broadcast */
	if ((out == a && ta->numel != to->numel) || (tb && out == b && tb->numel != to->numel))
		return false;
	return ew_dispatch(L, op, &it, out, a, tb ? b : -1, flags | (b_scalar ? EW_F_B_SCALAR : 0), alpha, scalar, lo,
			   hi);
}

/* add / sub / mul / div, .out [self, other, (alpha,) out, ret] and .Scalar_out */
enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };
static bool lower_binary(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	int kind = variant & 3;
	bool scalar = variant & 4;
	bool has_alpha = kind == BIN_ADD || kind == BIN_SUB;
	if (n != (has_alpha ? 5u : 4u))
		return false;
	double alpha = 1.0, s = 0.0;
	if (has_alpha && !infd__vk_num(L, args[2], &alpha))
		return false;
	if (scalar && !infd__vk_num(L, args[1], &s))
		return false;
	if (has_alpha && L->values[args[2]].kind == INFD_VALUE_BOOL)
		return false; /* a bool alpha needs bool results */
	uint32_t out = n - 2, ret = n - 1;
	uint32_t op = kind == BIN_MUL ? EW_MUL : kind == BIN_DIV ? EW_DIV : EW_ADD;
	if (kind == BIN_SUB)
		alpha = -alpha;
	if (scalar && has_alpha) {
		/* x + alpha * s: fold into the scalar */
		s = alpha * s;
		alpha = 1.0;
	}
	return ew_lower(L, op, args[out], args[ret], args[0], scalar ? -1 : args[1], scalar, 0, (float)alpha,
			(float)s, 0, 0);
}

/* [self, out, ret] */
static bool lower_unary(struct vk_lower *L, const int32_t *args, uint32_t n, int op)
{
	return n == 3 && ew_lower(L, (uint32_t)op, args[1], args[2], args[0], -1, false, 0, 1, 0, 0, 0);
}

/* aten::gelu.out [self, approximate, out, ret] */
static bool lower_gelu(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	if (n != 4 || L->values[args[1]].kind != INFD_VALUE_STRING)
		return false;
	const struct infd_evalue *s = &L->values[args[1]];
	uint32_t op;
	if (s->u.str.len == 4 && memcmp(s->u.str.ptr, "none", 4) == 0)
		op = EW_GELU;
	else if (s->u.str.len == 4 && memcmp(s->u.str.ptr, "tanh", 4) == 0)
		op = EW_GELU_TANH;
	else
		return false;
	return ew_lower(L, op, args[2], args[3], args[0], -1, false, 0, 1, 0, 0, 0);
}

/* hardtanh.out [self, min, max, out, ret] (variant 0); clamp.out [self, min?, max?,
 * out, ret] (variant 1) */
static bool lower_clamp(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	if (n != 5)
		return false;
	double lo = 0, hi = 0;
	uint32_t flags = 0;
	if (!(variant && infd__vk_is_null(L, args[1]))) {
		if (!infd__vk_num(L, args[1], &lo))
			return false;
		flags |= EW_F_HAS_LO;
	}
	if (!(variant && infd__vk_is_null(L, args[2]))) {
		if (!infd__vk_num(L, args[2], &hi))
			return false;
		flags |= EW_F_HAS_HI;
	}
	if (!flags)
		return false;
	return ew_lower(L, EW_CLAMP, args[3], args[4], args[0], -1, false, flags, 1, 0, (float)lo, (float)hi);
}

/* ---- Copy / view family ------------------------------------------------------------ */

/* A flat copy of self into out when they hold the same number of elements and
 * out has the shape the operator gives. */
static bool flat_copy(struct vk_lower *L, int32_t self, int32_t out, int32_t ret, uint32_t rank, const int32_t *sizes)
{
	const struct infd_tensor *t = infd__vk_f32(L, self);
	if (!t || self == out || !infd__vk_out(L, out, ret, rank, sizes) || L->values[out].u.t->numel != t->numel)
		return false;
	struct ew_iter it = {.rank = 1, .sizes = {(int64_t)t->numel}, .str = {{1}, {1}, {0}}};
	return ew_dispatch(L, EW_COPY, &it, out, self, -1, 0, 1, 0, 0, 0);
}

/* view_copy.out [self, size, out, ret] */
static bool lower_view(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	int64_t sz[INFD_MAX_RANK];
	uint32_t rank;
	const struct infd_tensor *t = infd__vk_f32(L, args[0]);
	if (n != 4 || !t || !infd__vk_int_list(L, args[1], sz, INFD_MAX_RANK, &rank))
		return false;
	int32_t sizes[INFD_MAX_RANK];
	int infer = -1;
	uint64_t known = 1;
	for (uint32_t d = 0; d < rank; d++) {
		if (sz[d] == -1 && infer < 0) {
			infer = (int)d;
			continue;
		}
		if (sz[d] < 0 || sz[d] > INT32_MAX)
			return false;
		known *= (uint64_t)sz[d];
		sizes[d] = (int32_t)sz[d];
	}
	if (infer >= 0) {
		if (known == 0 || t->numel % known)
			return false;
		sizes[infer] = (int32_t)(t->numel / known);
	}
	return flat_copy(L, args[0], args[2], args[3], rank, sizes);
}

/* unsqueeze_copy.out [self, dim, out, ret] */
static bool lower_unsqueeze(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	const struct infd_tensor *t = infd__vk_f32(L, args[0]);
	int64_t dim;
	if (n != 4 || !t || !infd__vk_int(L, args[1], &dim) || t->rank >= INFD_MAX_RANK)
		return false;
	if (dim < 0)
		dim += t->rank + 1;
	if (dim < 0 || dim > t->rank)
		return false;
	int32_t sizes[INFD_MAX_RANK];
	for (uint32_t d = 0, k = 0; d <= t->rank; d++)
		sizes[d] = d == (uint32_t)dim ? 1 : t->sizes[k++];
	return flat_copy(L, args[0], args[2], args[3], t->rank + 1u, sizes);
}

/* squeeze_copy.out [self, out, ret] (variant 0), .dim_out [self, dim, out, ret]
 * (1), .dims_out [self, dims, out, ret] (2) */
static bool lower_squeeze(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	const struct infd_tensor *t = infd__vk_f32(L, args[0]);
	if (!t || n != (variant ? 4u : 3u))
		return false;
	bool drop[INFD_MAX_RANK] = {false};
	int64_t dims[INFD_MAX_RANK];
	uint32_t nd = 0;
	if (variant == 0) {
		for (uint32_t d = 0; d < t->rank; d++)
			dims[nd++] = d;
	} else if (variant == 1) {
		if (!infd__vk_int(L, args[1], &dims[0]))
			return false;
		nd = 1;
	} else if (!infd__vk_int_list(L, args[1], dims, INFD_MAX_RANK, &nd)) {
		return false;
	}
	for (uint32_t i = 0; i < nd; i++) {
		int64_t d = dims[i] < 0 ? dims[i] + (t->rank ? t->rank : 1) : dims[i];
		if (d < 0 || d >= (t->rank ? t->rank : 1))
			return false;
		if (t->rank && t->sizes[d] == 1)
			drop[d] = true;
	}
	int32_t sizes[INFD_MAX_RANK];
	uint32_t r = 0;
	for (uint32_t d = 0; d < t->rank; d++)
		if (!drop[d])
			sizes[r++] = t->sizes[d];
	return flat_copy(L, args[0], args[n - 2], args[n - 1], r, sizes);
}

/* clone.out [self, memory_format?, out, ret] (variant 0); alias_copy.out,
 * detach_copy.out [self, out, ret] (variant 1) */
static bool lower_clone(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	const struct infd_tensor *t = infd__vk_f32(L, args[0]);
	if (!t || n != (variant ? 3u : 4u))
		return false;
	if (!variant && !infd__vk_is_null(L, args[1])) {
		int64_t mf;
		if (!infd__vk_int(L, args[1], &mf) || (mf != 0 && mf != 1)) /* contiguous or preserve */
			return false;
	}
	return flat_copy(L, args[0], args[n - 2], args[n - 1], t->rank, t->sizes);
}

/* out = self permuted by perm[] */
static bool permuted_copy(struct vk_lower *L, int32_t self, int32_t out, int32_t ret, const int64_t *perm)
{
	const struct infd_tensor *t = infd__vk_f32(L, self);
	if (!t || self == out)
		return false;
	int32_t sizes[INFD_MAX_RANK];
	struct ew_iter it = {.rank = t->rank};
	for (uint32_t d = 0; d < t->rank; d++) {
		sizes[d] = t->sizes[perm[d]];
		it.sizes[d] = sizes[d];
		it.str[1][d] = t->strides[perm[d]];
	}
	if (!infd__vk_out(L, out, ret, t->rank, sizes))
		return false;
	for (uint32_t d = 0; d < t->rank; d++)
		it.str[0][d] = L->values[out].u.t->strides[d];
	return ew_dispatch(L, EW_COPY, &it, out, self, -1, 0, 1, 0, 0, 0);
}

/* permute_copy.out [self, dims, out, ret] */
static bool lower_permute(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	const struct infd_tensor *t = infd__vk_f32(L, args[0]);
	int64_t perm[INFD_MAX_RANK];
	uint32_t np;
	if (n != 4 || !t || !infd__vk_int_list(L, args[1], perm, INFD_MAX_RANK, &np) || np != t->rank)
		return false;
	bool seen[INFD_MAX_RANK] = {false};
	for (uint32_t d = 0; d < np; d++) {
		if (perm[d] < 0)
			perm[d] += t->rank;
		if (perm[d] < 0 || perm[d] >= t->rank || seen[perm[d]])
			return false;
		seen[perm[d]] = true;
	}
	return permuted_copy(L, args[0], args[2], args[3], perm);
}

/* transpose_copy.int_out [self, dim0, dim1, out, ret] (variant 0); t_copy.out
 * [self, out, ret] (variant 1) */
static bool lower_transpose(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	const struct infd_tensor *t = infd__vk_f32(L, args[0]);
	if (!t || n != (variant ? 3u : 5u))
		return false;
	int64_t d0, d1;
	if (variant) {
		if (t->rank > 2)
			return false;
		d0 = 0;
		d1 = t->rank == 2 ? 1 : 0;
	} else if (!infd__vk_int(L, args[1], &d0) || !infd__vk_int(L, args[2], &d1)) {
		return false;
	}
	int64_t r = t->rank ? t->rank : 1;
	d0 = d0 < 0 ? d0 + r : d0;
	d1 = d1 < 0 ? d1 + r : d1;
	if (d0 < 0 || d0 >= r || d1 < 0 || d1 >= r || t->rank == 0)
		return false;
	int64_t perm[INFD_MAX_RANK];
	for (uint32_t d = 0; d < t->rank; d++)
		perm[d] = d;
	perm[d0] = d1;
	perm[d1] = d0;
	return permuted_copy(L, args[0], args[n - 2], args[n - 1], perm);
}

/* slice_copy.Tensor_out [self, dim, start?, end?, step, out, ret] */
static bool lower_slice(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	const struct infd_tensor *t = infd__vk_f32(L, args[0]);
	int64_t dim, start = 0, end = INT64_MAX, step;
	if (n != 7 || !t || t->rank == 0 || args[0] == args[5] || !infd__vk_int(L, args[1], &dim) ||
	    !infd__vk_int(L, args[4], &step) || step < 1)
		return false;
	if ((!infd__vk_is_null(L, args[2]) && !infd__vk_int(L, args[2], &start)) ||
	    (!infd__vk_is_null(L, args[3]) && !infd__vk_int(L, args[3], &end)))
		return false;
	if (dim < 0)
		dim += t->rank;
	if (dim < 0 || dim >= t->rank)
		return false;
	int64_t size = t->sizes[dim];
	if (start < 0)
		start += size;
	if (end < 0)
		end += size;
	start = start < 0 ? 0 : start > size ? size : start;
	end = end < start ? start : end > size ? size : end;
	int64_t len = (end - start + step - 1) / step;
	if (len == 0)
		return false;
	int32_t sizes[INFD_MAX_RANK];
	memcpy(sizes, t->sizes, sizeof sizes);
	sizes[dim] = (int32_t)len;
	if (!infd__vk_out(L, args[5], args[6], t->rank, sizes))
		return false;
	const struct infd_tensor *to = L->values[args[5]].u.t;
	struct ew_iter it = {.rank = t->rank};
	for (uint32_t d = 0; d < t->rank; d++) {
		it.sizes[d] = sizes[d];
		it.str[0][d] = to->strides[d];
		it.str[1][d] = t->strides[d] * (d == (uint32_t)dim ? step : 1);
	}
	it.off[1] = start * t->strides[dim];
	return ew_dispatch(L, EW_COPY, &it, args[5], args[0], -1, 0, 1, 0, 0, 0);
}

/* cat.out [tensors, dim, out, ret]: one strided copy per input into its band of out */
static bool lower_cat(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	int64_t dim;
	if (n != 4 || L->def->values[args[0]].kind != INFD_VALUE_TENSOR_LIST || !infd__vk_int(L, args[1], &dim))
		return false;
	const struct infd_list_def *ls = &L->def->values[args[0]].u.list;
	if (ls->count == 0)
		return false;
	const struct infd_tensor *t0 = infd__vk_f32(L, ls->indices[0]);
	if (!t0 || t0->rank == 0)
		return false;
	if (dim < 0)
		dim += t0->rank;
	if (dim < 0 || dim >= t0->rank)
		return false;
	int32_t sizes[INFD_MAX_RANK];
	memcpy(sizes, t0->sizes, sizeof sizes);
	sizes[dim] = 0;
	for (uint32_t i = 0; i < ls->count; i++) {
		const struct infd_tensor *t = infd__vk_f32(L, ls->indices[i]);
		if (!t || t->rank != t0->rank || ls->indices[i] == args[2])
			return false;
		for (uint32_t d = 0; d < t->rank; d++)
			if (d != (uint32_t)dim && t->sizes[d] != t0->sizes[d])
				return false;
		sizes[dim] += t->sizes[dim];
	}
	if (!infd__vk_out(L, args[2], args[3], t0->rank, sizes))
		return false;
	const struct infd_tensor *to = L->values[args[2]].u.t;
	int64_t at = 0;
	for (uint32_t i = 0; i < ls->count; i++) {
		const struct infd_tensor *t = L->values[ls->indices[i]].u.t;
		struct ew_iter it = {.rank = t->rank};
		for (uint32_t d = 0; d < t->rank; d++) {
			it.sizes[d] = t->sizes[d];
			it.str[0][d] = to->strides[d];
			it.str[1][d] = t->strides[d];
		}
		it.off[0] = at * to->strides[dim];
		at += t->sizes[dim];
		if (!ew_dispatch(L, EW_COPY, &it, args[2], ls->indices[i], -1, 0, 1, 0, 0, 0))
			return false;
	}
	return true;
}

/* ---- Operator table ---------------------------------------------------------------- */

static const struct {
	const char *key;
	vk_lower_fn fn;
	int variant;
} ops[] = {
	{"aten::add.out", lower_binary, BIN_ADD},
	{"aten::add.Scalar_out", lower_binary, BIN_ADD | 4},
	{"aten::sub.out", lower_binary, BIN_SUB},
	{"aten::sub.Scalar_out", lower_binary, BIN_SUB | 4},
	{"aten::mul.out", lower_binary, BIN_MUL},
	{"aten::mul.Scalar_out", lower_binary, BIN_MUL | 4},
	{"aten::div.out", lower_binary, BIN_DIV},
	{"aten::div.Scalar_out", lower_binary, BIN_DIV | 4},
	{"aten::relu.out", lower_unary, EW_RELU},
	{"aten::sigmoid.out", lower_unary, EW_SIGMOID},
	{"aten::tanh.out", lower_unary, EW_TANH},
	{"aten::silu.out", lower_unary, EW_SILU},
	{"aten::hardswish.out", lower_unary, EW_HARDSWISH},
	{"aten::gelu.out", lower_gelu, 0},
	{"aten::hardtanh.out", lower_clamp, 0},
	{"aten::clamp.out", lower_clamp, 1},
	{"aten::mm.out", infd__vk_lower_mm, 0},
	{"aten::bmm.out", infd__vk_lower_mm, 1},
	{"aten::addmm.out", infd__vk_lower_mm, 2},
	{"aten::linear.out", infd__vk_lower_mm, 3},
	{"aten::convolution.out", infd__vk_lower_conv, 0},
	{"aten::max_pool2d_with_indices.out", infd__vk_lower_pool, 0},
	{"aten::avg_pool2d.out", infd__vk_lower_pool, 1},
	{"aten::mean.out", infd__vk_lower_mean, 0},
	{"aten::_softmax.out", infd__vk_lower_softmax, 0},
	{"aten::native_layer_norm.out", infd__vk_lower_layer_norm, 0},
	{"aten::view_copy.out", lower_view, 0},
	{"aten::unsqueeze_copy.out", lower_unsqueeze, 0},
	{"aten::squeeze_copy.out", lower_squeeze, 0},
	{"aten::squeeze_copy.dim_out", lower_squeeze, 1},
	{"aten::squeeze_copy.dims_out", lower_squeeze, 2},
	{"aten::clone.out", lower_clone, 0},
	{"aten::alias_copy.out", lower_clone, 1},
	{"aten::detach_copy.out", lower_clone, 1},
	{"aten::permute_copy.out", lower_permute, 0},
	{"aten::transpose_copy.int_out", lower_transpose, 0},
	{"aten::t_copy.out", lower_transpose, 1},
	{"aten::slice_copy.Tensor_out", lower_slice, 0},
	{"aten::cat.out", lower_cat, 0},
};

bool infd__vk_lower_instr(struct vk_lower *L, const struct infd_instr_def *in)
{
	if (in->kind != INFD_INSTR_KERNEL)
		return false;
	const char *key = L->def->operators[in->a].key;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(key, ops[i].key) == 0)
			return ops[i].fn(L, in->args, in->n_args, ops[i].variant) && !L->oom;
	return false;
}

bool infd__vk_supports(void *ctx, const struct infd_method_def *method, const struct infd_evalue *values,
		       const struct infd_instr_def *instr);
bool infd__vk_supports(void *ctx, const struct infd_method_def *method, const struct infd_evalue *values,
		       const struct infd_instr_def *instr)
{
	const struct vk_ctx *c = ctx;
	struct vk_lower L = {.def = method, .values = values, .max_range = c->props.limits.maxStorageBufferRange};
	return infd__vk_lower_instr(&L, instr);
}
