/* Portable shape and copy kernels: views materialised as copies (view, permute,
 * transpose, squeeze, expand, slice, select, ...), cat/stack/split, padding,
 * dtype and dim-order conversion, creation ops, gathers (embedding,
 * index_select), nearest/bilinear upsampling, and the scalar prim ops exported
 * programs use for symbolic sizes. Every copy reads its input through strides and
 * writes the out tensor in its own dim order. */
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Strided views and the copy engine -------------------------------------- */

/* Views may split dims in two (repeat, pixel_shuffle), hence twice the rank. */
#define MAXD (2 * INFD_MAX_RANK)

/* A window on tensor data: logical sizes and byte strides. */
struct view {
	uint32_t rank;
	int64_t size[MAXD];
	ptrdiff_t stride[MAXD];
	char *base;
};

static void view_of(struct view *v, const struct infd_tensor *t)
{
	ptrdiff_t es = (ptrdiff_t)infd_dtype_size(t->dtype);
	v->rank = t->rank;
	v->base = t->data;
	for (uint32_t d = 0; d < t->rank; d++) {
		v->size[d] = t->sizes[d];
		v->stride[d] = (ptrdiff_t)t->strides[d] * es;
	}
}

/* Row-major view of `base` with the given shape (a reinterpretation of bytes). */
static void view_rowmajor(struct view *v, void *base, size_t es, uint32_t rank, const int32_t *sizes)
{
	v->rank = rank;
	v->base = base;
	ptrdiff_t s = (ptrdiff_t)es;
	for (int d = (int)rank - 1; d >= 0; d--) {
		v->size[d] = sizes[d];
		v->stride[d] = s;
		if (sizes[d] > 1)
			s *= sizes[d];
	}
}

/* Keep `len` entries of dim d starting at `start`, every `step`-th. */
static void view_narrow(struct view *v, uint32_t d, int64_t start, int64_t len, int64_t step)
{
	if (v->base && len > 0)
		v->base += start * v->stride[d];
	v->size[d] = len;
	v->stride[d] *= step;
}

/* Drop dim d after moving to entry `index` of it. */
static void view_select(struct view *v, uint32_t d, int64_t index)
{
	if (v->base && index)
		v->base += index * v->stride[d];
	for (uint32_t k = d; k + 1 < v->rank; k++) {
		v->size[k] = v->size[k + 1];
		v->stride[k] = v->stride[k + 1];
	}
	v->rank--;
}

/* Insert a dim of `size` entries `stride` bytes apart before dim d. */
static void view_insert(struct view *v, uint32_t d, int64_t size, ptrdiff_t stride)
{
	for (uint32_t k = v->rank; k > d; k--) {
		v->size[k] = v->size[k - 1];
		v->stride[k] = v->stride[k - 1];
	}
	v->size[d] = size;
	v->stride[d] = stride;
	v->rank++;
}

/* Split dim d (size a*b) into (a, b), row-major. */
static void view_split(struct view *v, uint32_t d, int64_t a, int64_t b)
{
	ptrdiff_t s = v->stride[d];
	v->size[d] = b;
	view_insert(v, d, a, s * b);
}

/* How elements move: bytes of one size, or a dtype conversion. Chosen once per
 * call; the loops below never look at dtypes. */
typedef void (*row_fn)(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, size_t n);
typedef void (*tile_fn)(char *d, ptrdiff_t ds1, const char *s, ptrdiff_t ss0, size_t n1, size_t n0);

struct copier {
	size_t es;
	bool convert;
	int ddt, sdt;
	row_fn row;   /* strided row of n elements */
	tile_fn tile; /* 2-D transpose: d[i*ds1 + j*es] = s[i*es + j*ss0] */
};

#define TILE 32

/* Fixed-size memcpy compiles to one load and one store, at any alignment. */
#define COPY_FNS(N)                                                                        \
	static void row_##N(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, size_t n)      \
	{                                                                                  \
		for (size_t i = 0; i < n; i++)                                             \
			memcpy(d + (ptrdiff_t)i * ds, s + (ptrdiff_t)i * ss, N);           \
	}                                                                                  \
	static void tile_##N(char *d, ptrdiff_t ds1, const char *s, ptrdiff_t ss0, size_t n1, \
			     size_t n0)                                                    \
	{                                                                                  \
		for (size_t i0 = 0; i0 < n1; i0 += TILE) {                                 \
			size_t i1 = n1 - i0 < TILE ? n1 : i0 + TILE;                       \
			for (size_t j0 = 0; j0 < n0; j0 += TILE) {                         \
				size_t j1 = n0 - j0 < TILE ? n0 : j0 + TILE;               \
				for (size_t i = i0; i < i1; i++) {                         \
					char *dr = d + (ptrdiff_t)i * ds1;                 \
					const char *sr = s + (ptrdiff_t)i * N;             \
					for (size_t j = j0; j < j1; j++)                   \
						memcpy(dr + j * N, sr + (ptrdiff_t)j * ss0, N); \
				}                                                          \
			}                                                                  \
		}                                                                          \
	}
COPY_FNS(1)
COPY_FNS(2)
COPY_FNS(4)
COPY_FNS(8)

static void copier_init(struct copier *c, int ddt, int sdt)
{
	c->ddt = ddt;
	c->sdt = sdt;
	c->es = infd_dtype_size(ddt);
	c->convert = ddt != sdt;
	c->row = NULL;
	c->tile = NULL;
	switch (c->es) {
	case 1: c->row = row_1; c->tile = tile_1; break;
	case 2: c->row = row_2; c->tile = tile_2; break;
	case 4: c->row = row_4; c->tile = tile_4; break;
	case 8: c->row = row_8; c->tile = tile_8; break;
	default: c->convert = true; break; /* no such dtype today */
	}
}

static void copier_row(const struct copier *c, char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
		       size_t n)
{
	if (c->convert) {
		infd__convert(d, c->ddt, ds, s, c->sdt, ss, n);
	} else if (ds == (ptrdiff_t)c->es && ss == ds) {
		if (d != s)
			memmove(d, s, n * c->es);
	} else {
		c->row(d, ds, s, ss, n);
	}
}

/* A copy loop nest: dims ordered by the destination's strides (largest outermost),
 * size-1 dims dropped and dims that both sides walk as one merged. */
struct walk {
	uint32_t rank;
	int64_t size[MAXD];
	ptrdiff_t ds[MAXD], ss[MAXD];
};

/* Plan the copy of src into dst (same sizes). False when there is nothing to copy. */
static bool walk_plan(struct walk *w, const struct view *dst, const struct view *src, size_t es)
{
	uint32_t perm[MAXD], r = 0;
	for (uint32_t d = 0; d < dst->rank; d++) {
		if (dst->size[d] == 0)
			return false;
		if (dst->size[d] != 1)
			perm[r++] = d;
	}
	for (uint32_t i = 1; i < r; i++) {
		uint32_t p = perm[i], j = i;
		while (j > 0 && dst->stride[perm[j - 1]] < dst->stride[p]) {
			perm[j] = perm[j - 1];
			j--;
		}
		perm[j] = p;
	}
	uint32_t out = 0;
	for (uint32_t i = 0; i < r; i++) {
		int64_t n = dst->size[perm[i]];
		ptrdiff_t ds = dst->stride[perm[i]], ss = src->stride[perm[i]];
		if (out > 0 && w->ds[out - 1] == ds * n && w->ss[out - 1] == ss * n) {
			w->size[out - 1] *= n;
			w->ds[out - 1] = ds;
			w->ss[out - 1] = ss;
			continue;
		}
		w->size[out] = n;
		w->ds[out] = ds;
		w->ss[out] = ss;
		out++;
	}
	/* A transpose: bring the source's unit-stride dim next to the innermost one,
	 * so that the inner two dims can be copied in tiles. */
	if (out >= 3 && w->ds[out - 1] == (ptrdiff_t)es && w->ss[out - 1] != (ptrdiff_t)es &&
	    w->ss[out - 2] != (ptrdiff_t)es) {
		for (uint32_t k = 0; k + 2 < out; k++) {
			if (w->ss[k] != (ptrdiff_t)es)
				continue;
			int64_t n = w->size[k];
			ptrdiff_t ds = w->ds[k], ss = w->ss[k];
			for (uint32_t m = k; m + 2 < out; m++) {
				w->size[m] = w->size[m + 1];
				w->ds[m] = w->ds[m + 1];
				w->ss[m] = w->ss[m + 1];
			}
			w->size[out - 2] = n;
			w->ds[out - 2] = ds;
			w->ss[out - 2] = ss;
			break;
		}
	}
	w->rank = out;
	return true;
}

/* Copy the inner one or two dims of a walk at d/s. */
static void walk_inner(const struct walk *w, const struct copier *c, char *d, const char *s)
{
	uint32_t r = w->rank;
	size_t n0 = (size_t)w->size[r - 1];
	ptrdiff_t ds0 = w->ds[r - 1], ss0 = w->ss[r - 1], es = (ptrdiff_t)c->es;
	if (r == 1) {
		copier_row(c, d, ds0, s, ss0, n0);
		return;
	}
	size_t n1 = (size_t)w->size[r - 2];
	ptrdiff_t ds1 = w->ds[r - 2], ss1 = w->ss[r - 2];
	if (!c->convert && ds0 == es && ss1 == es && ss0 != es) {
		c->tile(d, ds1, s, ss0, n1, n0);
		return;
	}
	for (size_t i = 0; i < n1; i++)
		copier_row(c, d + (ptrdiff_t)i * ds1, ds0, s + (ptrdiff_t)i * ss1, ss0, n0);
}

static void walk_run(const struct walk *w, const struct copier *c, char *d, const char *s)
{
	uint32_t r = w->rank;
	if (r == 0) {
		copier_row(c, d, 0, s, 0, 1);
		return;
	}
	int outer = (int)r - (r >= 2 ? 2 : 1);
	int64_t idx[MAXD] = {0};
	for (;;) {
		walk_inner(w, c, d, s);
		int k = outer - 1;
		for (; k >= 0; k--) {
			d += w->ds[k];
			s += w->ss[k];
			if (++idx[k] < w->size[k])
				break;
			d -= w->ds[k] * w->size[k];
			s -= w->ss[k] * w->size[k];
			idx[k] = 0;
		}
		if (k < 0)
			return;
	}
}

/* Copy src (dtype sdt) into dst (dtype ddt); both views have the same sizes. */
static void copy_view(const struct view *dst, int ddt, const struct view *src, int sdt)
{
	struct copier c;
	struct walk w;
	copier_init(&c, ddt, sdt);
	if (walk_plan(&w, dst, src, c.es))
		walk_run(&w, &c, dst->base, src->base);
}

/* True when t's strides are the row-major ones (size-1 dims aside). */
static bool is_rowmajor(const struct infd_tensor *t)
{
	int64_t s = 1;
	for (int d = (int)t->rank - 1; d >= 0; d--) {
		if (t->sizes[d] == 0)
			return true;
		if (t->sizes[d] == 1)
			continue;
		if (t->strides[d] != s)
			return false;
		s *= t->sizes[d];
	}
	return true;
}

/* ---- Argument helpers ------------------------------------------------------- */

static const char *fmt_ints(char *buf, size_t n, const int64_t *v, uint32_t count)
{
	size_t used = (size_t)snprintf(buf, n, "[");
	for (uint32_t i = 0; i < count && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)v[i]);
	if (used < n)
		snprintf(buf + used, n - used, "]");
	return buf;
}

static const char *fmt_shape(char *buf, size_t n, const struct infd_tensor *t)
{
	int64_t v[INFD_MAX_RANK];
	for (uint32_t i = 0; i < t->rank; i++)
		v[i] = t->sizes[i];
	return fmt_ints(buf, n, v, t->rank);
}

/* PyTorch's maybe_wrap_dim: dim in [-rank, rank-1], a rank-0 tensor counting as
 * rank 1. */
static infd_status wrap_dim(const struct infd_kargs *A, int64_t dim, uint32_t rank, const char *name,
			    uint32_t *out)
{
	int64_t r = rank ? rank : 1;
	if (dim < -r || dim >= r)
		return infd__kfail(A, INFD_BAD_INPUT, "%s %lld is out of range (expected [%lld, %lld])",
				   name, (long long)dim, (long long)-r, (long long)(r - 1));
	*out = (uint32_t)(dim < 0 ? dim + r : dim);
	return INFD_OK;
}

/* A list of dims: wrapped, without repeats. */
static infd_status wrap_dims(const struct infd_kargs *A, const int64_t *dims, int32_t count,
			     uint32_t rank, uint32_t *out)
{
	bool seen[INFD_MAX_RANK] = {false};
	infd_status st;
	for (int32_t i = 0; i < count; i++) {
		if ((st = wrap_dim(A, dims[i], rank, "dim", &out[i])))
			return st;
		if (seen[out[i]])
			return infd__kfail(A, INFD_BAD_INPUT, "dim %u appears multiple times in the list of dims",
					   out[i]);
		seen[out[i]] = true;
	}
	return INFD_OK;
}

static infd_status check_size(const struct infd_kargs *A, int64_t v, const char *what)
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
static infd_status check_copy(const struct infd_kargs *A, int sdt, int ddt)
{
	if (infd_dtype_size(sdt) == 0 || infd_dtype_size(ddt) == 0)
		return infd__kfail(A, INFD_KERNEL_FAILED, "invalid dtype %d", infd_dtype_size(sdt) ? ddt : sdt);
	if (sdt != ddt && (!infd__dtype_numeric(sdt) || !infd__dtype_numeric(ddt)))
		return infd__kfail(A, INFD_KERNEL_FAILED, "cannot convert %s to %s", infd_dtype_name(sdt),
				   infd_dtype_name(ddt));
	return INFD_OK;
}

static infd_status check_same_dtype(const struct infd_kargs *A, const struct infd_tensor *a,
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
static bool overlaps(const struct infd_tensor *a, const struct infd_tensor *b)
{
	if (!a->numel || !b->numel || !a->data || !b->data)
		return false;
	const char *pa = a->data, *pb = b->data;
	return pa < pb + b->nbytes && pb < pa + a->nbytes;
}

/* Refuse an out that overlaps an input (results would depend on the order of the
 * copy); an out that is exactly the input with its layout is fine. */
static infd_status check_overlap(const struct infd_kargs *A, const struct infd_tensor *in,
				 const struct infd_tensor *out, bool identity_ok)
{
	if (!overlaps(in, out))
		return INFD_OK;
	if (identity_ok && in->data == out->data && in->dtype == out->dtype &&
	    infd__tensor_same_layout(in, out))
		return INFD_OK;
	return infd__kfail(A, INFD_BAD_INPUT, "out shares memory with an input");
}

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

/* Memory format argument (`MemoryFormat?`): None, or contiguous / preserve /
 * channels_last / channels_last_3d. The out tensor's own dim order is what the
 * kernels write; the program's planner has already settled it. */
static infd_status karg_memory_format(const struct infd_kargs *A, uint32_t i)
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
static infd_status karg_dim_order(const struct infd_kargs *A, uint32_t i, uint32_t rank,
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
					   fmt_ints(b, sizeof b, order, (uint32_t)*count), rank - 1);
		}
		seen[order[k]] = true;
	}
	return INFD_OK;
}

/* The out tensor must be laid out as `order` asks (dims of size 1 aside). */
static infd_status check_dim_order(const struct infd_kargs *A, const struct infd_tensor *out,
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
					   fmt_ints(b1, sizeof b1, have, out->rank),
					   fmt_ints(b2, sizeof b2, order, (uint32_t)count));
		}
	}
	return INFD_OK;
}

/* ---- Reshapes ------------------------------------------------------------------ */

/* PyTorch's infer_size: one -1 allowed, the rest non-negative. */
static infd_status infer_size(const struct infd_kargs *A, const int64_t *in, int32_t n,
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
					   fmt_ints(b, sizeof b, in, (uint32_t)n));
		out[i] = (int32_t)in[i];
	}
	if (neg >= 0) {
		if (prod == 0)
			return infd__kfail(A, INFD_BAD_INPUT,
					   "cannot reshape a tensor of %llu elements into shape %s because the "
					   "unspecified dimension size -1 can be any value and is ambiguous",
					   (unsigned long long)numel, fmt_ints(b, sizeof b, in, (uint32_t)n));
		if (numel % prod == 0 && numel / prod <= INT32_MAX) {
			out[neg] = (int32_t)(numel / prod);
			return INFD_OK;
		}
	} else if (prod == numel) {
		return INFD_OK;
	}
	return infd__kfail(A, INFD_BAD_INPUT, "shape %s is invalid for input of size %llu",
			   fmt_ints(b, sizeof b, in, (uint32_t)n), (unsigned long long)numel);
}

/* Copy self into out element by element in row-major logical order; the shapes
 * may differ (same numel). Any dim orders on both sides. */
static infd_status reshape_copy(const struct infd_kargs *A, struct infd_tensor *out,
				const struct infd_tensor *self)
{
	struct view dv, sv;
	if (!self->numel)
		return INFD_OK;
	size_t es = infd_dtype_size(self->dtype);
	if (is_rowmajor(self)) {
		view_of(&dv, out);
		view_rowmajor(&sv, self->data, es, out->rank, out->sizes);
	} else if (is_rowmajor(out)) {
		view_of(&sv, self);
		view_rowmajor(&dv, out->data, infd_dtype_size(out->dtype), self->rank, self->sizes);
	} else {
		void *tmp = malloc(self->nbytes);
		if (!tmp)
			return infd__kfail(A, INFD_NO_MEMORY, "no memory for a %llu-byte scratch copy",
					   (unsigned long long)self->nbytes);
		view_of(&sv, self);
		view_rowmajor(&dv, tmp, es, self->rank, self->sizes);
		copy_view(&dv, self->dtype, &sv, self->dtype);
		view_of(&dv, out);
		view_rowmajor(&sv, tmp, es, out->rank, out->sizes);
		copy_view(&dv, out->dtype, &sv, self->dtype);
		free(tmp);
		return INFD_OK;
	}
	copy_view(&dv, out->dtype, &sv, self->dtype);
	return INFD_OK;
}

/* Resize out to the view's shape and copy the view into it. */
static infd_status finish_view_copy(const struct infd_kargs *A, struct infd_tensor *out,
				    const struct infd_tensor *self, const struct view *src)
{
	infd_status st;
	int32_t sizes[INFD_MAX_RANK];
	for (uint32_t d = 0; d < src->rank; d++)
		sizes[d] = (int32_t)src->size[d];
	if ((st = check_copy(A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(A, out, src->rank, sizes)) ||
	    (st = check_overlap(A, self, out, false)))
		return st;
	struct view dv;
	view_of(&dv, out);
	copy_view(&dv, out->dtype, src, self->dtype);
	return INFD_OK;
}

/* Shared start of the [self, ..., out, ret] kernels. */
static infd_status begin_unary(struct infd_kargs *A, struct infd_kernel_ctx *ctx,
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

infd_status infd__k_view_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t size[INFD_MAX_RANK];
	int32_t count, sizes[INFD_MAX_RANK];
	infd_status st;
	if ((st = begin_unary(&A, ctx, args, n, "aten::view_copy.out", 4, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "size", false, size, INFD_MAX_RANK, &count)) ||
	    (st = infer_size(&A, size, count, self->numel, sizes)) ||
	    (st = check_copy(&A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(&A, out, (uint32_t)count, sizes)) ||
	    (st = check_overlap(&A, self, out, false)))
		return st;
	return reshape_copy(&A, out, self);
}

/* executorch_prim::et_view.default [self, size, out]: out takes self's data with
 * the new shape; nothing is copied. */
infd_status infd__k_et_view(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	int64_t size[INFD_MAX_RANK];
	int32_t count, sizes[INFD_MAX_RANK];
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "executorch_prim::et_view.default", 3)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) ||
	    (st = infd__karg_int_list(&A, 1, "size", false, size, INFD_MAX_RANK, &count)))
		return st;
	if (args[2]->kind != INFD_VALUE_TENSOR || !args[2]->u.t)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "argument 2 (out) must be a tensor");
	struct infd_tensor *out = args[2]->u.t;
	if (out == self)
		return infd__kfail(&A, INFD_BAD_INPUT, "out is self");
	if ((st = check_same_dtype(&A, self, out)) ||
	    (st = infer_size(&A, size, count, self->numel, sizes)))
		return st;
	if (!is_rowmajor(self))
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "self is not contiguous (dim order); a view would reorder elements");
	uint64_t cap = out->capacity;
	out->capacity = 0; /* the data comes from self */
	st = infd__tensor_resize(out, (uint32_t)count, sizes, ctx ? ctx->err : NULL);
	if (st) {
		out->capacity = cap;
		if (ctx && ctx->err)
			return infd__fail_prefix(ctx->err, st, "%s: cannot resize out: ", A.op);
		return st;
	}
	if (!is_rowmajor(out)) {
		out->capacity = cap;
		return infd__kfail(&A, INFD_BAD_INPUT, "out is not contiguous (dim order)");
	}
	out->data = self->data;
	out->capacity = self->capacity > self->nbytes ? self->capacity : self->nbytes;
	out->is_const = self->is_const;
	return INFD_OK;
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
	if ((st = begin_unary(&A, ctx, args, n, op, want, &self, &out)) ||
	    (non_blocking_arg && (st = infd__karg_bool(&A, non_blocking_arg, "non_blocking", &nb))) ||
	    (memory_format_arg && (st = karg_memory_format(&A, memory_format_arg))) ||
	    (dim_order_arg && (st = karg_dim_order(&A, dim_order_arg, self->rank, order, &count))) ||
	    (st = check_copy(&A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(&A, out, self->rank, self->sizes)) ||
	    (st = check_dim_order(&A, out, order, count)) ||
	    (st = check_overlap(&A, self, out, true)))
		return st;
	struct view dv, sv;
	view_of(&dv, out);
	view_of(&sv, self);
	copy_view(&dv, out->dtype, &sv, self->dtype);
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::permute_copy.out", 4, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "dims", false, dims, INFD_MAX_RANK, &count)))
		return st;
	if ((uint32_t)count != self->rank)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "number of dims don't match in permute (%d dims for a tensor of rank %u)",
				   count, self->rank);
	if ((st = wrap_dims(&A, dims, count, self->rank, wd)))
		return st;
	struct view v, sv;
	view_of(&sv, self);
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
	struct view v;
	view_of(&v, self);
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::transpose_copy.int_out", 5, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim0", &d0)) || (st = infd__karg_int(&A, 2, "dim1", &d1)) ||
	    (st = wrap_dim(&A, d0, self->rank, "dim0", &w0)) ||
	    (st = wrap_dim(&A, d1, self->rank, "dim1", &w1)))
		return st;
	return transpose(&A, self, out, w0, w1);
}

infd_status infd__k_t_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	infd_status st;
	if ((st = begin_unary(&A, ctx, args, n, "aten::t_copy.out", 3, &self, &out)))
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::unsqueeze_copy.out", 4, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) ||
	    (st = wrap_dim(&A, dim, self->rank + 1u, "dim", &d)))
		return st;
	if (self->rank >= INFD_MAX_RANK)
		return infd__kfail(&A, INFD_BAD_INPUT, "the result would have more than %d dims",
				   INFD_MAX_RANK);
	struct view v;
	view_of(&v, self);
	view_insert(&v, d, 1, 0);
	return finish_view_copy(&A, out, self, &v);
}

/* Drop the dims in `mask` that have size 1. */
static infd_status squeeze(const struct infd_kargs *A, const struct infd_tensor *self,
			   struct infd_tensor *out, const bool *mask)
{
	struct view v;
	view_of(&v, self);
	for (int d = (int)self->rank - 1; d >= 0; d--)
		if (mask[d] && self->sizes[d] == 1)
			view_select(&v, (uint32_t)d, 0);
	return finish_view_copy(A, out, self, &v);
}

infd_status infd__k_squeeze_copy_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				     uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	infd_status st;
	if ((st = begin_unary(&A, ctx, args, n, "aten::squeeze_copy.out", 3, &self, &out)))
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::squeeze_copy.dim_out", 4, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = wrap_dim(&A, dim, self->rank, "dim", &d)))
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::squeeze_copy.dims_out", 4, &self, &out)) ||
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::expand_copy.out", 5, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "size", false, size, INFD_MAX_RANK, &count)) ||
	    (st = infd__karg_bool(&A, 2, "implicit", &implicit)))
		return st;
	uint32_t r = (uint32_t)count, lead = r - self->rank;
	if (r < self->rank)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "the number of sizes provided (%u) must be greater or equal to the "
				   "number of dimensions in the tensor (%u)",
				   r, self->rank);
	struct view v, sv;
	view_of(&sv, self);
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
			if ((st = check_size(&A, want, "size")))
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
			if ((st = check_size(&A, want, "size")))
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::slice_copy.Tensor_out", 7, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) ||
	    (args[2]->kind != INFD_VALUE_NULL && (st = infd__karg_int(&A, 2, "start", &start))) ||
	    (args[3]->kind != INFD_VALUE_NULL && (st = infd__karg_int(&A, 3, "end", &end))) ||
	    (st = infd__karg_int(&A, 4, "step", &step)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "slice() cannot be applied to a 0-dim tensor");
	if ((st = wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	if (step <= 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "slice step must be positive, got %lld",
				   (long long)step);
	int64_t len = slice_len(self->sizes[d], &start, end, step);
	struct view v;
	view_of(&v, self);
	view_narrow(&v, d, start, len, step);
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::narrow_copy.out", 6, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__karg_int(&A, 2, "start", &start)) ||
	    (st = infd__karg_int(&A, 3, "length", &length)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "narrow() cannot be applied to a 0-dim tensor");
	if ((st = wrap_dim(&A, dim, self->rank, "dim", &d)))
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
	struct view v;
	view_of(&v, self);
	view_narrow(&v, d, start, length, 1);
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::select_copy.int_out", 5, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__karg_int(&A, 2, "index", &index)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "select() cannot be applied to a 0-dim tensor");
	if ((st = wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	int64_t size = self->sizes[d];
	if (index < -size || index >= size)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "index %lld is out of range for dimension %u with size %lld",
				   (long long)index, d, (long long)size);
	struct view v;
	view_of(&v, self);
	view_select(&v, d, index < 0 ? index + size : index);
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::flip.out", 4, &self, &out)) ||
	    (st = infd__karg_int_list(&A, 1, "dims", false, dims, INFD_MAX_RANK, &count)) ||
	    (st = wrap_dims(&A, dims, count, self->rank, wd)))
		return st;
	struct view v;
	view_of(&v, self);
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::repeat.out", 4, &self, &out)) ||
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
	if ((st = check_copy(&A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(&A, out, r, sizes)) || (st = check_overlap(&A, self, out, false)))
		return st;
	/* out dim d of size rep*s is walked as (rep, s); self repeats along rep. */
	struct view dv, sv, o;
	view_of(&sv, self);
	view_of(&o, out);
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
		copy_view(&dv, out->dtype, &sv, self->dtype);
	return INFD_OK;
}

static infd_status pixel_shuffle(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
				 bool unshuffle)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t r;
	const char *op = unshuffle ? "aten::pixel_unshuffle.out" : "aten::pixel_shuffle.out";
	infd_status st;
	if ((st = begin_unary(&A, ctx, args, n, op, 4, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, unshuffle ? "downscale_factor" : "upscale_factor", &r)))
		return st;
	uint32_t k = self->rank;
	if (k < 3)
		return infd__kfail(&A, INFD_BAD_INPUT, "expects input to have at least 3 dimensions, but got %u", k);
	if (r <= 0 || r > 65535)
		return infd__kfail(&A, INFD_BAD_INPUT, "factor must be positive, got %lld", (long long)r);
	int64_t c = self->sizes[k - 3], h = self->sizes[k - 2], w = self->sizes[k - 1];
	int32_t sizes[INFD_MAX_RANK];
	memcpy(sizes, self->sizes, k * sizeof sizes[0]);
	if (!unshuffle) {
		if (c % (r * r))
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "channels (%lld) must be divisible by the square of the upscale factor (%lld)",
					   (long long)c, (long long)(r * r));
		if (h * r > INT32_MAX || w * r > INT32_MAX)
			return infd__kfail(&A, INFD_BAD_INPUT, "result is too large");
		sizes[k - 3] = (int32_t)(c / (r * r));
		sizes[k - 2] = (int32_t)(h * r);
		sizes[k - 1] = (int32_t)(w * r);
	} else {
		if (h % r || w % r)
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "height (%lld) and width (%lld) must be divisible by the downscale factor (%lld)",
					   (long long)h, (long long)w, (long long)r);
		if (c * r * r > INT32_MAX)
			return infd__kfail(&A, INFD_BAD_INPUT, "result is too large");
		sizes[k - 3] = (int32_t)(c * r * r);
		sizes[k - 2] = (int32_t)(h / r);
		sizes[k - 1] = (int32_t)(w / r);
	}
	if ((st = check_copy(&A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(&A, out, k, sizes)) || (st = check_overlap(&A, self, out, false)))
		return st;
	if (!out->numel)
		return INFD_OK;
	/* Both sides as [..., C, H, r(i), W, r(j)] with the small image's C, H, W. */
	struct view big, small;
	const struct infd_tensor *bt = unshuffle ? self : out, *st_ = unshuffle ? out : self;
	view_of(&big, bt);
	view_of(&small, st_);
	int64_t C = small.size[k - 3] / (r * r), H = small.size[k - 2], W = small.size[k - 1];
	/* small: channel C*r*r -> (C, r, r); order [.., C, ri, rj, H, W] -> [.., C, H, ri, W, rj] */
	ptrdiff_t cs = small.stride[k - 3], hs = small.stride[k - 2], ws = small.stride[k - 1];
	small.rank = k + 2;
	small.size[k - 3] = C;
	small.stride[k - 3] = cs * r * r;
	small.size[k - 2] = H;
	small.stride[k - 2] = hs;
	small.size[k - 1] = r;
	small.stride[k - 1] = cs * r;
	small.size[k] = W;
	small.stride[k] = ws;
	small.size[k + 1] = r;
	small.stride[k + 1] = cs;
	/* big: H*r -> (H, r), W*r -> (W, r) */
	view_split(&big, k - 1, W, r);
	view_split(&big, k - 2, H, r);
	if (unshuffle)
		copy_view(&small, out->dtype, &big, self->dtype);
	else
		copy_view(&big, out->dtype, &small, self->dtype);
	return INFD_OK;
}

infd_status infd__k_pixel_shuffle_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				      uint32_t n)
{
	return pixel_shuffle(ctx, args, n, false);
}

infd_status infd__k_pixel_unshuffle_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
					uint32_t n)
{
	return pixel_shuffle(ctx, args, n, true);
}

/* ---- Joining and splitting -------------------------------------------------- */

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
			return check_copy(A, dt, out->dtype);
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
		infd_status st = check_copy(A, items[k]->u.t->dtype, out->dtype);
		if (st)
			return st;
	}
	return INFD_OK;
}

static infd_status check_list_overlap(const struct infd_kargs *A, struct infd_evalue *const *items,
				      uint32_t count, const struct infd_tensor *out)
{
	for (uint32_t k = 0; k < count; k++)
		if (overlaps(items[k]->u.t, out))
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
		if ((st = wrap_dim(&A, dim, ref->rank, "dim", &d)))
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
		if ((st = check_size(&A, total, "the result")))
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
		struct view dv, sv;
		view_of(&dv, out);
		view_narrow(&dv, d, off, t->sizes[d], 1);
		view_of(&sv, t);
		copy_view(&dv, out->dtype, &sv, t->dtype);
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
	if ((st = wrap_dim(&A, dim, ref->rank + 1u, "dim", &d)))
		return st;
	for (uint32_t k = 1; k < count; k++) {
		const struct infd_tensor *t = items[k]->u.t;
		if (!infd__tensor_has_shape(t, ref->rank, ref->sizes)) {
			char b1[128], b2[128];
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "stack expects each tensor to be equal size, but got %s at entry 0 "
					   "and %s at entry %u",
					   fmt_shape(b1, sizeof b1, ref), fmt_shape(b2, sizeof b2, t), k);
		}
	}
	if ((st = list_dtype(&A, items, count, out)) || (st = check_size(&A, count, "the result")))
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
		struct view dv, sv;
		view_of(&dv, out);
		view_select(&dv, d, k);
		view_of(&sv, t);
		copy_view(&dv, out->dtype, &sv, t->dtype);
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
		if ((st = check_copy(A, self->dtype, o->dtype)))
			return st;
		if ((st = check_overlap(A, self, o, false)))
			return st;
	}
	int64_t off = 0;
	for (uint32_t k = 0; k < count; k++) {
		struct infd_tensor *o = outs[k]->u.t;
		int64_t l = len(user, k);
		struct view v;
		view_of(&v, self);
		if (drop_dim)
			view_select(&v, d, off);
		else
			view_narrow(&v, d, off, l, 1);
		int32_t sizes[INFD_MAX_RANK];
		for (uint32_t i = 0; i < v.rank; i++)
			sizes[i] = (int32_t)v.size[i];
		if ((st = infd__kout_resize(A, o, v.rank, sizes)))
			return st;
		struct view dv;
		view_of(&dv, o);
		if (o->numel)
			copy_view(&dv, o->dtype, &v, self->dtype);
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
	if ((st = wrap_dim(&A, dim, self->rank, "dim", &d)))
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
	if ((st = wrap_dim(&A, dim, self->rank, "dim", &d)))
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
	if ((st = wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	if ((int64_t)count != self->sizes[d])
		return infd__kfail(&A, INFD_BAD_INPUT, "dim %u has size %d but out has %u tensors", d,
				   self->sizes[d], count);
	return split_into(&A, self, d, outs, count, unbind_len, NULL, true);
}

/* ---- Creation and padding --------------------------------------------------- */

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
static infd_status fill_scalar(const struct infd_kargs *A, struct infd_tensor *out,
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
					   (long long)v[k], fmt_ints(b, sizeof b, v, (uint32_t)count));
		}
		if ((st = check_size(A, v[k], "size")))
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
	return fill_scalar(&A, out, &s);
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
	if ((st = begin_unary(&A, ctx, args, n, "aten::full_like.out", 5, &self, &out)) ||
	    (st = infd__karg_scalar(&A, 1, "fill_value", &s)) || (st = karg_memory_format(&A, 2)) ||
	    (st = infd__kout_resize(&A, out, self->rank, self->sizes)))
		return st;
	return fill_scalar(&A, out, &s);
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
	return fill_scalar(&A, out, &s);
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
	    (st = karg_sizes(&A, 0, sizes, &rank)) || (st = karg_memory_format(&A, 1)) ||
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
	    (st = karg_dim_order(&A, 1, rank, order, &count)) || (st = infd__karg_out(&A, 2, 3, &out)) ||
	    (st = infd__kout_resize(&A, out, rank, sizes)))
		return st;
	return check_dim_order(&A, out, order, count);
}

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
	if ((st = begin_unary(&A, ctx, args, n, "aten::constant_pad_nd.out", 5, &self, &out)) ||
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
		if ((st = check_size(&A, s, "the result")))
			return st;
		sizes[d] = (int32_t)s;
	}
	if ((st = check_copy(&A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(&A, out, r, sizes)) || (st = check_overlap(&A, self, out, false)))
		return st;
	if ((st = fill_scalar(&A, out, &value)))
		return st;
	/* The part of self that survives negative padding, at its place in out. */
	struct view dv, sv;
	view_of(&dv, out);
	view_of(&sv, self);
	for (uint32_t d = 0; d < r; d++) {
		int64_t cut_lo = lo[d] < 0 ? -lo[d] : 0, cut_hi = hi[d] < 0 ? -hi[d] : 0;
		int64_t len = self->sizes[d] - cut_lo - cut_hi;
		if (len <= 0)
			return INFD_OK;
		view_narrow(&sv, d, cut_lo, len, 1);
		view_narrow(&dv, d, lo[d] > 0 ? lo[d] : 0, len, 1);
	}
	if (self->numel)
		copy_view(&dv, out->dtype, &sv, self->dtype);
	return INFD_OK;
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

/* ---- Gathers ------------------------------------------------------------------ */

/* The indices of t (int64 or int32, any dim order) as int64 in row-major logical
 * order, each checked against [0, limit). *out is malloc'd (NULL when empty). */
static infd_status load_indices(const struct infd_kargs *A, const struct infd_tensor *t,
				const char *name, int64_t limit, int64_t **out)
{
	*out = NULL;
	if (t->dtype != INFD_DTYPE_INT64 && t->dtype != INFD_DTYPE_INT32)
		return infd__kfail(A, INFD_BAD_INPUT, "%s must be int64 or int32, got %s", name,
				   infd_dtype_name(t->dtype));
	if (!t->numel)
		return INFD_OK;
	int64_t *idx = malloc((size_t)t->numel * sizeof *idx);
	if (!idx)
		return infd__kfail(A, INFD_NO_MEMORY, "no memory for %llu indices",
				   (unsigned long long)t->numel);
	struct view dv, sv;
	view_of(&sv, t);
	view_rowmajor(&dv, idx, sizeof *idx, t->rank, t->sizes);
	copy_view(&dv, INFD_DTYPE_INT64, &sv, t->dtype);
	for (uint64_t k = 0; k < t->numel; k++) {
		if (idx[k] < 0 || idx[k] >= limit) {
			long long bad = (long long)idx[k];
			free(idx);
			return infd__kfail(A, INFD_BAD_INPUT, "index %lld is out of range in self (size %lld)",
					   bad, (long long)limit);
		}
	}
	*out = idx;
	return INFD_OK;
}

infd_status infd__k_embedding_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *weight, *indices;
	struct infd_tensor *out;
	int64_t padding_idx;
	bool scale_grad, sparse;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::embedding.out", 7)) ||
	    (st = infd__karg_tensor(&A, 0, "weight", &weight)) ||
	    (st = infd__karg_tensor(&A, 1, "indices", &indices)) ||
	    (st = infd__karg_int(&A, 2, "padding_idx", &padding_idx)) ||
	    (st = infd__karg_bool(&A, 3, "scale_grad_by_freq", &scale_grad)) ||
	    (st = infd__karg_bool(&A, 4, "sparse", &sparse)) || (st = infd__karg_out(&A, 5, 6, &out)))
		return st;
	if (weight->rank != 2)
		return infd__kfail(&A, INFD_BAD_INPUT, "'weight' must be 2-D, got %u-D", weight->rank);
	if (indices->rank >= INFD_MAX_RANK)
		return infd__kfail(&A, INFD_BAD_INPUT, "indices have too many dims (%u)", indices->rank);
	int32_t sizes[INFD_MAX_RANK];
	uint32_t r = indices->rank;
	memcpy(sizes, indices->sizes, r * sizeof sizes[0]);
	sizes[r] = weight->sizes[1];
	int64_t *idx;
	if ((st = check_copy(&A, weight->dtype, out->dtype)) ||
	    (st = load_indices(&A, indices, "indices", weight->sizes[0], &idx)))
		return st;
	if ((st = infd__kout_resize(&A, out, r + 1, sizes)) ||
	    (st = check_overlap(&A, weight, out, false)) ||
	    (st = check_overlap(&A, indices, out, false))) {
		free(idx);
		return st;
	}
	if (out->numel) {
		struct copier c;
		copier_init(&c, out->dtype, weight->dtype);
		ptrdiff_t oes = (ptrdiff_t)infd_dtype_size(out->dtype), wes = (ptrdiff_t)infd_dtype_size(weight->dtype);
		ptrdiff_t ods = out->strides[r] * oes, w0 = weight->strides[0] * wes, w1 = weight->strides[1] * wes;
		ptrdiff_t os[INFD_MAX_RANK];
		int64_t cnt[INFD_MAX_RANK] = {0};
		for (uint32_t d = 0; d < r; d++)
			os[d] = out->strides[d] * oes;
		char *o = out->data;
		const char *w = weight->data;
		for (uint64_t k = 0; k < indices->numel; k++) {
			copier_row(&c, o, ods, w + idx[k] * w0, w1, (size_t)sizes[r]);
			for (int d = (int)r - 1; d >= 0; d--) {
				o += os[d];
				if (++cnt[d] < sizes[d])
					break;
				o -= os[d] * sizes[d];
				cnt[d] = 0;
			}
		}
	}
	free(idx);
	return INFD_OK;
}

infd_status infd__k_index_select_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				     uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self, *index;
	struct infd_tensor *out;
	int64_t dim;
	uint32_t d = 0;
	infd_status st;
	if ((st = begin_unary(&A, ctx, args, n, "aten::index_select.out", 5, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__karg_tensor(&A, 2, "index", &index)) ||
	    (st = wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	if (index->rank > 1)
		return infd__kfail(&A, INFD_BAD_INPUT, "index is supposed to be a vector, got %u dims",
				   index->rank);
	int64_t m = (int64_t)index->numel, limit = self->rank ? self->sizes[d] : 1;
	if (self->rank == 0 && m != 1)
		return infd__kfail(&A, INFD_BAD_INPUT, "index_select() on a 0-dim tensor needs exactly one index, got %lld",
				   (long long)m);
	int32_t sizes[INFD_MAX_RANK];
	memcpy(sizes, self->sizes, self->rank * sizeof sizes[0]);
	if (self->rank)
		sizes[d] = (int32_t)m;
	int64_t *idx;
	if ((st = check_copy(&A, self->dtype, out->dtype)) ||
	    (st = load_indices(&A, index, "index", limit, &idx)))
		return st;
	if ((st = infd__kout_resize(&A, out, self->rank, sizes)) ||
	    (st = check_overlap(&A, self, out, false)) || (st = check_overlap(&A, index, out, false))) {
		free(idx);
		return st;
	}
	if (out->numel) {
		struct view dv, sv;
		view_of(&dv, out);
		view_of(&sv, self);
		ptrdiff_t dstep = 0, sstep = 0;
		if (self->rank) {
			dstep = dv.stride[d];
			sstep = sv.stride[d];
			view_select(&dv, d, 0);
			view_select(&sv, d, 0);
		}
		/* One plan for every slice; only the base pointers move. */
		struct copier c;
		struct walk w;
		copier_init(&c, out->dtype, self->dtype);
		if (walk_plan(&w, &dv, &sv, c.es))
			for (int64_t i = 0; i < m; i++)
				walk_run(&w, &c, dv.base + i * dstep, sv.base + idx[i] * sstep);
	}
	free(idx);
	return INFD_OK;
}

/* ---- Upsampling ------------------------------------------------------------- */

/* Output size and scales of the .vec overloads: exactly one of output_size and
 * scale_factors. Scales are NAN when not given. */
static infd_status upsample_args(const struct infd_kargs *A, const struct infd_tensor *in,
				 uint32_t osize_arg, uint32_t scales_arg, int32_t *sizes,
				 double *scales)
{
	int64_t os[INFD_MAX_RANK];
	int32_t count;
	infd_status st;
	if (in->rank != 4)
		return infd__kfail(A, INFD_BAD_INPUT, "expected a 4-D input, got %u-D", in->rank);
	if ((st = infd__karg_int_list(A, osize_arg, "output_size", true, os, INFD_MAX_RANK, &count)))
		return st;
	const struct infd_evalue *sf = A->v[scales_arg];
	if (sf->kind != INFD_VALUE_NULL && sf->kind != INFD_VALUE_DOUBLE_LIST)
		return infd__kfail(A, INFD_KERNEL_FAILED, "argument %u (scale_factors) must be a float list or None",
				   scales_arg);
	bool have_scales = sf->kind == INFD_VALUE_DOUBLE_LIST;
	if ((count >= 0) == have_scales)
		return infd__kfail(A, INFD_BAD_INPUT, "must specify exactly one of output_size and scale_factors");
	memcpy(sizes, in->sizes, 2 * sizeof sizes[0]);
	scales[0] = scales[1] = NAN;
	if (count >= 0) {
		if (count != 2)
			return infd__kfail(A, INFD_BAD_INPUT, "output_size must have 2 elements, got %d", count);
		for (int k = 0; k < 2; k++) {
			if (os[k] <= 0 || os[k] > INT32_MAX)
				return infd__kfail(A, INFD_BAD_INPUT, "output size %lld is invalid", (long long)os[k]);
			sizes[2 + k] = (int32_t)os[k];
		}
	} else {
		if (sf->u.dlist.count != 2 || !sf->u.dlist.v)
			return infd__kfail(A, INFD_BAD_INPUT, "scale_factors must have 2 elements, got %u",
					   sf->u.dlist.count);
		for (int k = 0; k < 2; k++) {
			double v = (double)in->sizes[2 + k] * sf->u.dlist.v[k];
			if (!(v >= 0 && v < 2147483648.0))
				return infd__kfail(A, INFD_BAD_INPUT, "scale factor %g is invalid", sf->u.dlist.v[k]);
			sizes[2 + k] = (int32_t)v;
			scales[k] = sf->u.dlist.v[k];
		}
	}
	if (in->sizes[2] <= 0 || in->sizes[3] <= 0 || sizes[2] <= 0 || sizes[3] <= 0)
		return infd__kfail(A, INFD_BAD_INPUT,
				   "input and output sizes should be greater than 0, but got input (H: %d, W: %d) "
				   "output (H: %d, W: %d)",
				   in->sizes[2], in->sizes[3], sizes[2], sizes[3]);
	if (in->sizes[1] == 0)
		return infd__kfail(A, INFD_BAD_INPUT, "non-empty 4D data tensor expected (0 channels)");
	return INFD_OK;
}

/* PyTorch's nearest_idx (the legacy "nearest" mode). */
static int64_t nearest_idx(int64_t o, int64_t in, int64_t out, double scale)
{
	if (out == in)
		return o;
	if (out == 2 * in)
		return o >> 1;
	float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
	int64_t i = (int64_t)floorf((float)o * s);
	return i < in - 1 ? i : in - 1;
}

#define GATHER_FNS(N)                                                                      \
	static void gather_##N(char *d, ptrdiff_t ds, const char *s, const ptrdiff_t *off, size_t n) \
	{                                                                                  \
		for (size_t i = 0; i < n; i++)                                             \
			memcpy(d + (ptrdiff_t)i * ds, s + off[i], N);                      \
	}
GATHER_FNS(1)
GATHER_FNS(2)
GATHER_FNS(4)
GATHER_FNS(8)

infd_status infd__k_upsample_nearest2d_vec_out(struct infd_kernel_ctx *ctx,
					       struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	int32_t sizes[4];
	double scales[2];
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::upsample_nearest2d.vec_out", 5)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) || (st = infd__karg_out(&A, 3, 4, &out)) ||
	    (st = upsample_args(&A, in, 1, 2, sizes, scales)) || (st = check_same_dtype(&A, in, out)) ||
	    (st = infd__kout_resize(&A, out, 4, sizes)) || (st = check_overlap(&A, in, out, false)))
		return st;
	if (!out->numel)
		return INFD_OK;
	size_t es = infd_dtype_size(in->dtype);
	int64_t N = sizes[0], C = sizes[1], OH = sizes[2], OW = sizes[3];
	ptrdiff_t is[4], os[4];
	for (int k = 0; k < 4; k++) {
		is[k] = (ptrdiff_t)in->strides[k] * (ptrdiff_t)es;
		os[k] = (ptrdiff_t)out->strides[k] * (ptrdiff_t)es;
	}
	ptrdiff_t *hoff = malloc((size_t)(OH + OW) * sizeof *hoff);
	if (!hoff)
		return infd__kfail(&A, INFD_NO_MEMORY, "no memory for index tables");
	ptrdiff_t *woff = hoff + OH;
	for (int64_t o = 0; o < OH; o++)
		hoff[o] = (ptrdiff_t)nearest_idx(o, in->sizes[2], OH, scales[0]) * is[2];
	for (int64_t o = 0; o < OW; o++)
		woff[o] = (ptrdiff_t)nearest_idx(o, in->sizes[3], OW, scales[1]) * is[3];
	const char *ib = in->data;
	char *ob = out->data;
	if (is[1] == (ptrdiff_t)es && os[1] == (ptrdiff_t)es) {
		/* channels-last on both sides: whole pixels are contiguous runs */
		for (int64_t b = 0; b < N; b++)
			for (int64_t h = 0; h < OH; h++)
				for (int64_t w = 0; w < OW; w++)
					memcpy(ob + b * os[0] + h * os[2] + w * os[3],
					       ib + b * is[0] + hoff[h] + woff[w], (size_t)C * es);
	} else {
		void (*g)(char *, ptrdiff_t, const char *, const ptrdiff_t *, size_t) =
			es == 1 ? gather_1 : es == 2 ? gather_2 : es == 4 ? gather_4 : gather_8;
		bool dense_rows = os[3] == (ptrdiff_t)es;
		for (int64_t b = 0; b < N; b++)
			for (int64_t c = 0; c < C; c++)
				for (int64_t h = 0; h < OH; h++) {
					char *row = ob + b * os[0] + c * os[1] + h * os[2];
					if (dense_rows && h > 0 && hoff[h] == hoff[h - 1])
						memcpy(row, row - os[2], (size_t)OW * es); /* same source row */
					else
						g(row, os[3], ib + b * is[0] + c * is[1] + hoff[h], woff, (size_t)OW);
				}
	}
	free(hoff);
	return INFD_OK;
}

/* Source indices and weights along one axis, PyTorch's linear interpolation
 * (compute_source_index_and_lambda), in float for float32 and double for float64. */
struct lin {
	int64_t i0, i1;
	double l0, l1;
};

static void linear_weights(struct lin *t, int64_t in, int64_t out, bool align, double scale,
			   bool f32)
{
	for (int64_t o = 0; o < out; o++) {
		if (out == in) {
			t[o] = (struct lin){o, o, 1, 0};
			continue;
		}
		int64_t i0;
		double l1;
		if (f32) {
			float r = align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f)
					: scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
			float src = align ? r * (float)o : r * ((float)o + 0.5f) - 0.5f;
			if (!align && src < 0)
				src = 0;
			i0 = (int64_t)floorf(src);
			if (i0 > in - 1)
				i0 = in - 1;
			float l = src - (float)i0;
			l1 = l < 0 ? 0 : l > 1 ? 1 : l;
			t[o].l0 = 1.0f - (float)l1;
		} else {
			double r = align ? (out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0)
					 : scale > 0 ? 1.0 / scale : (double)in / (double)out;
			double src = align ? r * (double)o : r * ((double)o + 0.5) - 0.5;
			if (!align && src < 0)
				src = 0;
			i0 = (int64_t)floor(src);
			if (i0 > in - 1)
				i0 = in - 1;
			double l = src - (double)i0;
			l1 = l < 0 ? 0 : l > 1 ? 1 : l;
			t[o].l0 = 1.0 - l1;
		}
		t[o].i0 = i0;
		t[o].i1 = i0 + (i0 < in - 1 ? 1 : 0);
		t[o].l1 = l1;
	}
}

/* One call's geometry; strides in elements. `k` is the number of channels
 * interpolated together: C when channels are innermost on both sides
 * (channels-last), else 1 (one plane at a time). */
struct bil {
	const void *in;
	void *out;
	int64_t n, c, oh, ow, k;
	ptrdiff_t is[4], os[4];
	const struct lin *lh, *lw;
	void *scratch; /* bil_scratch_size() bytes */
};

static size_t bil_scratch_size(int64_t ow, int64_t k, size_t es)
{
	return (size_t)ow * (2 * sizeof(ptrdiff_t) + 2 * es) + 2 * (size_t)(ow * k) * es;
}

/* Separable: each needed source row is interpolated along the width once into a
 * row buffer (w0*a + w1*b), then output rows blend two buffers (h0*r0 + h1*r1):
 * the same operations, in the same order, as PyTorch's h0*(w0*a + w1*b) +
 * h1*(w0*c + w1*d). */
#define BILINEAR(S, T)                                                                     \
	static inline void S##_axpby(T *restrict d, const T *restrict a, const T *restrict b,  \
				     T p, T q, size_t n)                                   \
	{                                                                                  \
		INFD_VLOOP(n, i, d[i] = p * a[i] + q * b[i];);                             \
	}                                                                                  \
	__attribute__((noinline)) static void S##_gather(T *restrict d, const T *restrict s, \
							 const ptrdiff_t *restrict x0,     \
							 const ptrdiff_t *restrict x1,     \
							 const T *restrict w0, const T *restrict w1, \
							 size_t ow)                        \
	{                                                                                  \
		for (size_t w = 0; w < ow; w++)                                            \
			d[w] = w0[w] * s[x0[w]] + w1[w] * s[x1[w]];                        \
	}                                                                                  \
	static inline void S##_hrow(T *restrict d, const T *restrict s,                   \
				    const ptrdiff_t *restrict x0, const ptrdiff_t *restrict x1, \
				    const T *restrict w0, const T *restrict w1, size_t ow, size_t k) \
	{                                                                                  \
		if (k == 1) {                                                              \
			S##_gather(d, s, x0, x1, w0, w1, ow);                              \
			return;                                                            \
		}                                                                          \
		for (size_t w = 0; w < ow; w++)                                            \
			S##_axpby(d + w * k, s + x0[w], s + x1[w], w0[w], w1[w], k);       \
	}                                                                                  \
	INFD_SIMD_CLONES static void S(const struct bil *p)                                \
	{                                                                                  \
		const size_t ow = (size_t)p->ow, k = (size_t)p->k;                         \
		const ptrdiff_t *is = p->is, *os = p->os;                                  \
		ptrdiff_t *x0 = p->scratch, *x1 = x0 + ow;                                 \
		T *w0 = (T *)(void *)(x1 + ow), *w1 = w0 + ow, *b0 = w1 + ow, *b1 = b0 + ow * k; \
		for (size_t w = 0; w < ow; w++) {                                          \
			x0[w] = (ptrdiff_t)p->lw[w].i0 * is[3];                            \
			x1[w] = (ptrdiff_t)p->lw[w].i1 * is[3];                            \
			w0[w] = (T)p->lw[w].l0;                                            \
			w1[w] = (T)p->lw[w].l1;                                            \
		}                                                                          \
		int64_t planes = k == 1 ? p->n * p->c : p->n;                              \
		for (int64_t pl = 0; pl < planes; pl++) {                                  \
			int64_t n = k == 1 ? pl / p->c : pl, c = k == 1 ? pl % p->c : 0;   \
			const T *src = (const T *)p->in + n * is[0] + c * is[1];           \
			T *dst = (T *)p->out + n * os[0] + c * os[1];                      \
			int64_t t0 = -1, t1 = -1;                                          \
			for (int64_t h = 0; h < p->oh; h++) {                              \
				int64_t i0 = p->lh[h].i0, i1 = p->lh[h].i1;                \
				if (t0 != i0) {                                            \
					if (t1 == i0) {                                    \
						T *tb = b0;                                \
						b0 = b1;                                   \
						b1 = tb;                                   \
						t1 = t0;                                   \
					} else {                                           \
						S##_hrow(b0, src + i0 * is[2], x0, x1, w0, w1, ow, k); \
					}                                                  \
					t0 = i0;                                           \
				}                                                          \
				const T *r1 = b0;                                          \
				if (i1 != i0) {                                            \
					if (t1 != i1) {                                    \
						S##_hrow(b1, src + i1 * is[2], x0, x1, w0, w1, ow, k); \
						t1 = i1;                                   \
					}                                                  \
					r1 = b1;                                           \
				}                                                          \
				const T a0 = (T)p->lh[h].l0, a1 = (T)p->lh[h].l1;          \
				T *o = dst + h * os[2];                                    \
				if (k == 1 && os[3] == 1) {                                \
					S##_axpby(o, b0, r1, a0, a1, ow);                  \
				} else if (k > 1 && os[1] == 1) {                          \
					for (size_t w = 0; w < ow; w++)                    \
						S##_axpby(o + (ptrdiff_t)w * os[3], b0 + w * k, r1 + w * k, \
							  a0, a1, k);                      \
				} else {                                                   \
					for (size_t w = 0; w < ow; w++)                    \
						for (size_t q = 0; q < k; q++)             \
							o[(ptrdiff_t)w * os[3] + (ptrdiff_t)q * os[1]] = \
								a0 * b0[w * k + q] + a1 * r1[w * k + q]; \
				}                                                          \
			}                                                                  \
		}                                                                          \
	}
BILINEAR(bilinear_f32, float)
BILINEAR(bilinear_f64, double)

infd_status infd__k_upsample_bilinear2d_vec_out(struct infd_kernel_ctx *ctx,
						struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	int32_t sizes[4];
	double scales[2];
	bool align;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::upsample_bilinear2d.vec_out", 6)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) ||
	    (st = infd__karg_bool(&A, 2, "align_corners", &align)) ||
	    (st = infd__karg_out(&A, 4, 5, &out)) || (st = upsample_args(&A, in, 1, 3, sizes, scales)) ||
	    (st = check_same_dtype(&A, in, out)))
		return st;
	bool f32 = in->dtype == INFD_DTYPE_FLOAT32;
	if (!f32 && in->dtype != INFD_DTYPE_FLOAT64)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "unsupported dtype %s (float32 and float64 only)",
				   infd_dtype_name(in->dtype));
	size_t es = infd_dtype_size(in->dtype);
	if ((st = infd__kout_resize(&A, out, 4, sizes)) || (st = check_overlap(&A, in, out, false)))
		return st;
	if (!out->numel)
		return INFD_OK;
	if (((uintptr_t)in->data | (uintptr_t)out->data) & (es - 1))
		return infd__kfail(&A, INFD_BAD_INPUT, "tensor data is not aligned for %s",
				   infd_dtype_name(in->dtype));
	struct bil p = {.in = in->data, .out = out->data, .n = sizes[0], .c = sizes[1], .oh = sizes[2], .ow = sizes[3]};
	for (int k = 0; k < 4; k++) {
		p.is[k] = (ptrdiff_t)in->strides[k];
		p.os[k] = (ptrdiff_t)out->strides[k];
	}
	p.k = p.is[1] == 1 && p.os[1] == 1 && p.c > 1 ? p.c : 1;
	size_t tables = (size_t)(p.oh + p.ow) * sizeof(struct lin);
	char *mem = malloc(tables + bil_scratch_size(p.ow, p.k, es));
	if (!mem)
		return infd__kfail(&A, INFD_NO_MEMORY, "no memory for interpolation tables");
	struct lin *lh = (struct lin *)(void *)mem, *lw = lh + p.oh;
	linear_weights(lh, in->sizes[2], p.oh, align, scales[0], f32);
	linear_weights(lw, in->sizes[3], p.ow, align, scales[1], f32);
	p.lh = lh;
	p.lw = lw;
	p.scratch = mem + tables;
	if (f32)
		bilinear_f32(&p);
	else
		bilinear_f64(&p);
	free(mem);
	return INFD_OK;
}

/* ---- Prim ops: symbolic sizes and Python scalar arithmetic ------------------- */

/* The value a prim op writes: an Int, Double or Bool value (or a None placeholder). */
static infd_status prim_result(const struct infd_kargs *A, uint32_t i, struct infd_evalue **res)
{
	struct infd_evalue *v = A->v[i];
	if (v->kind != INFD_VALUE_INT && v->kind != INFD_VALUE_DOUBLE && v->kind != INFD_VALUE_BOOL &&
	    v->kind != INFD_VALUE_NULL)
		return infd__kfail(A, INFD_KERNEL_FAILED, "argument %u (result) must be a scalar value", i);
	*res = v;
	return INFD_OK;
}

static void set_int(struct infd_evalue *v, int64_t i)
{
	v->kind = INFD_VALUE_INT;
	v->u.i = i;
}

static void set_double(struct infd_evalue *v, double d)
{
	v->kind = INFD_VALUE_DOUBLE;
	v->u.d = d;
}

static void set_bool(struct infd_evalue *v, bool b)
{
	v->kind = INFD_VALUE_BOOL;
	v->u.b = b;
}

infd_status infd__k_sym_size_int(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_evalue *res = NULL;
	int64_t dim;
	uint32_t d = 0;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::sym_size.int", 3)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) || (st = infd__karg_int(&A, 1, "dim", &dim)) ||
	    (st = prim_result(&A, 2, &res)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "dimension specified as %lld but tensor has no dimensions",
				   (long long)dim);
	if ((st = wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	set_int(res, self->sizes[d]);
	return INFD_OK;
}

infd_status infd__k_sym_numel(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_evalue *res = NULL;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::sym_numel", 2)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) || (st = prim_result(&A, 1, &res)))
		return st;
	set_int(res, (int64_t)self->numel);
	return INFD_OK;
}

infd_status infd__k_local_scalar_dense(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				       uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_evalue *res = NULL;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::_local_scalar_dense", 2)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) || (st = prim_result(&A, 1, &res)))
		return st;
	if (self->numel != 1)
		return infd__kfail(&A, INFD_BAD_INPUT, "a tensor with %llu elements cannot be converted to a scalar",
				   (unsigned long long)self->numel);
	switch (infd__dtype_category(self->dtype)) {
	case INFD_CAT_BOOL: set_bool(res, *(const uint8_t *)self->data != 0); break;
	case INFD_CAT_INT: set_int(res, infd__load_int(self->data, self->dtype)); break;
	case INFD_CAT_FLOAT: set_double(res, infd__load_double(self->data, self->dtype)); break;
	default:
		return infd__kfail(&A, INFD_KERNEL_FAILED, "unsupported dtype %s", infd_dtype_name(self->dtype));
	}
	return INFD_OK;
}

enum prim_op {
	P_ADD, P_SUB, P_MUL, P_FLOORDIV, P_TRUEDIV, P_MOD, P_EQ, P_GT, P_LT, P_GE, P_LE, P_MAX, P_MIN,
};

/* Python's float floor division and modulo (floatobject.c's divmod). */
static void py_divmod(double a, double b, double *q, double *r)
{
	double mod = fmod(a, b), div = (a - mod) / b;
	if (mod != 0) {
		if ((b < 0) != (mod < 0)) {
			mod += b;
			div -= 1.0;
		}
	} else {
		mod = copysign(0.0, b);
	}
	double fd;
	if (div != 0) {
		fd = floor(div);
		if (div - fd > 0.5)
			fd += 1.0;
	} else {
		fd = copysign(0.0, a / b);
	}
	*q = fd;
	*r = mod;
}

static infd_status prim_binary(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
			       const char *op, enum prim_op p, bool ints_only)
{
	struct infd_kargs A;
	struct infd_scalar a, b;
	struct infd_evalue *res = NULL;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, op, 3)))
		return st;
	if (ints_only) {
		a.kind = b.kind = INFD_VALUE_INT;
		if ((st = infd__karg_int(&A, 0, "a", &a.i)) || (st = infd__karg_int(&A, 1, "b", &b.i)))
			return st;
		a.d = (double)a.i;
		b.d = (double)b.i;
	} else if ((st = infd__karg_scalar(&A, 0, "a", &a)) || (st = infd__karg_scalar(&A, 1, "b", &b))) {
		return st;
	}
	if ((st = prim_result(&A, 2, &res)))
		return st;
	bool ints = a.kind != INFD_VALUE_DOUBLE && b.kind != INFD_VALUE_DOUBLE;
	int64_t x = a.i, y = b.i, r;
	double u = a.d, v = b.d, q, m;
	switch (p) {
	case P_ADD:
	case P_SUB:
	case P_MUL:
		if (!ints) {
			set_double(res, p == P_ADD ? u + v : p == P_SUB ? u - v : u * v);
			return INFD_OK;
		}
		if (p == P_ADD ? __builtin_add_overflow(x, y, &r)
		    : p == P_SUB ? __builtin_sub_overflow(x, y, &r)
				 : __builtin_mul_overflow(x, y, &r))
			return infd__kfail(&A, INFD_BAD_INPUT, "integer overflow (%lld and %lld)", (long long)x,
					   (long long)y);
		set_int(res, r);
		return INFD_OK;
	case P_FLOORDIV:
	case P_MOD:
		if (ints) {
			if (y == 0)
				return infd__kfail(&A, INFD_BAD_INPUT, "integer division or modulo by zero");
			if (x == INT64_MIN && y == -1) {
				if (p == P_MOD) {
					set_int(res, 0);
					return INFD_OK;
				}
				return infd__kfail(&A, INFD_BAD_INPUT, "integer overflow");
			}
			int64_t qi = x / y, ri = x % y;
			if (ri != 0 && ((ri < 0) != (y < 0))) {
				qi--;
				ri += y;
			}
			set_int(res, p == P_FLOORDIV ? qi : ri);
			return INFD_OK;
		}
		if (v == 0)
			return infd__kfail(&A, INFD_BAD_INPUT, "float division or modulo by zero");
		py_divmod(u, v, &q, &m);
		set_double(res, p == P_FLOORDIV ? q : m);
		return INFD_OK;
	case P_TRUEDIV:
		if (v == 0)
			return infd__kfail(&A, INFD_BAD_INPUT, "division by zero");
		set_double(res, u / v);
		return INFD_OK;
	case P_MAX:
	case P_MIN:
		/* Python's max/min keep the first argument unless the second wins. */
		if (ints)
			set_int(res, p == P_MAX ? (y > x ? y : x) : (y < x ? y : x));
		else
			set_double(res, p == P_MAX ? (v > u ? v : u) : (v < u ? v : u));
		return INFD_OK;
	default:
		break;
	}
	bool c;
	if (ints) {
		c = p == P_EQ ? x == y : p == P_GT ? x > y : p == P_LT ? x < y : p == P_GE ? x >= y : x <= y;
	} else {
		c = p == P_EQ ? u == v : p == P_GT ? u > v : p == P_LT ? u < v : p == P_GE ? u >= v : u <= v;
	}
	set_bool(res, c);
	return INFD_OK;
}

#define PRIM_BINARY(NAME, KEY, P, INTS)                                                    \
	infd_status infd__k_prim_##NAME(struct infd_kernel_ctx *ctx, struct infd_evalue **args, \
					uint32_t n)                                        \
	{                                                                                  \
		return prim_binary(ctx, args, n, KEY, P, INTS);                            \
	}
PRIM_BINARY(add, "executorch_prim::add.Scalar", P_ADD, false)
PRIM_BINARY(sub, "executorch_prim::sub.Scalar", P_SUB, false)
PRIM_BINARY(mul, "executorch_prim::mul.Scalar", P_MUL, false)
PRIM_BINARY(floordiv, "executorch_prim::floordiv.Scalar", P_FLOORDIV, false)
PRIM_BINARY(truediv, "executorch_prim::truediv.Scalar", P_TRUEDIV, false)
PRIM_BINARY(mod, "executorch_prim::mod.Scalar", P_MOD, false)
PRIM_BINARY(eq, "executorch_prim::eq.Scalar", P_EQ, false)
PRIM_BINARY(gt, "executorch_prim::gt.Scalar", P_GT, false)
PRIM_BINARY(lt, "executorch_prim::lt.Scalar", P_LT, false)
PRIM_BINARY(ge, "executorch_prim::ge.Scalar", P_GE, false)
PRIM_BINARY(le, "executorch_prim::le.Scalar", P_LE, false)
PRIM_BINARY(sym_max, "executorch_prim::sym_max.Scalar", P_MAX, false)
PRIM_BINARY(sym_min, "executorch_prim::sym_min.Scalar", P_MIN, false)
PRIM_BINARY(floordiv_int, "executorch_prim::floordiv.int", P_FLOORDIV, true)
PRIM_BINARY(mod_int, "executorch_prim::mod.int", P_MOD, true)

enum prim_unary { U_NEG, U_NOT, U_FLOAT, U_INT, U_CEIL, U_ROUND, U_TRUNC };

/* Python's round(): half to even. */
static double round_half_even(double x)
{
	double r = floor(x), diff = x - r;
	if (diff > 0.5 || (diff == 0.5 && fmod(r, 2.0) != 0))
		r += 1.0;
	return r;
}

static infd_status prim_unary(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
			      const char *op, enum prim_unary p)
{
	struct infd_kargs A;
	struct infd_scalar a;
	struct infd_evalue *res = NULL;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, op, 2)) || (st = infd__karg_scalar(&A, 0, "a", &a)) ||
	    (st = prim_result(&A, 1, &res)))
		return st;
	bool is_d = a.kind == INFD_VALUE_DOUBLE;
	switch (p) {
	case U_NEG:
		if (is_d) {
			set_double(res, -a.d);
		} else {
			if (a.i == INT64_MIN)
				return infd__kfail(&A, INFD_BAD_INPUT, "integer overflow");
			set_int(res, -a.i);
		}
		return INFD_OK;
	case U_NOT:
		set_bool(res, is_d ? a.d == 0 : a.i == 0);
		return INFD_OK;
	case U_FLOAT:
		set_double(res, a.d);
		return INFD_OK;
	default:
		break;
	}
	if (!is_d) {
		set_int(res, a.i);
		return INFD_OK;
	}
	double v = p == U_CEIL ? ceil(a.d) : p == U_ROUND ? round_half_even(a.d) : trunc(a.d);
	if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
		return infd__kfail(&A, INFD_BAD_INPUT, "cannot convert %g to an integer", a.d);
	set_int(res, (int64_t)v);
	return INFD_OK;
}

#define PRIM_UNARY(NAME, KEY, P)                                                           \
	infd_status infd__k_prim_##NAME(struct infd_kernel_ctx *ctx, struct infd_evalue **args, \
					uint32_t n)                                        \
	{                                                                                  \
		return prim_unary(ctx, args, n, KEY, P);                                   \
	}
PRIM_UNARY(neg, "executorch_prim::neg.Scalar", U_NEG)
PRIM_UNARY(sym_not, "executorch_prim::sym_not.Scalar", U_NOT)
PRIM_UNARY(sym_float, "executorch_prim::sym_float.Scalar", U_FLOAT)
PRIM_UNARY(sym_int, "executorch_prim::sym_int.Scalar", U_INT)
PRIM_UNARY(ceil, "executorch_prim::ceil.Scalar", U_CEIL)
PRIM_UNARY(round, "executorch_prim::round.Scalar", U_ROUND)
PRIM_UNARY(trunc, "executorch_prim::trunc.Scalar", U_TRUNC)

/* executorch_prim::sym_ite.Scalar [cond, a, b, result] */
infd_status infd__k_prim_sym_ite(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	struct infd_scalar a, b;
	struct infd_evalue *res = NULL;
	bool cond;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "executorch_prim::sym_ite.Scalar", 4)) ||
	    (st = infd__karg_bool(&A, 0, "cond", &cond)) || (st = infd__karg_scalar(&A, 1, "a", &a)) ||
	    (st = infd__karg_scalar(&A, 2, "b", &b)) || (st = prim_result(&A, 3, &res)))
		return st;
	const struct infd_scalar *s = cond ? &a : &b;
	if (s->kind == INFD_VALUE_DOUBLE)
		set_double(res, s->d);
	else if (s->kind == INFD_VALUE_BOOL)
		set_bool(res, s->i != 0);
	else
		set_int(res, s->i);
	return INFD_OK;
}

/* executorch_prim::et_copy_index.tensor [copy_to, copy_from, index]: copy_to[index]
 * = copy_from, growing copy_to's first dim to index + 1 when needed (map loops). */
infd_status infd__k_et_copy_index(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				  uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *from;
	int64_t index;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "executorch_prim::et_copy_index.tensor", 3)) ||
	    (st = infd__karg_tensor(&A, 1, "copy_from", &from)) ||
	    (st = infd__karg_int(&A, 2, "index", &index)))
		return st;
	if (args[0]->kind != INFD_VALUE_TENSOR || !args[0]->u.t)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "argument 0 (copy_to) must be a tensor");
	struct infd_tensor *to = args[0]->u.t;
	if (to->is_const)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "copy_to is a read-only constant");
	if (to->rank != from->rank + 1u)
		return infd__kfail(&A, INFD_BAD_INPUT, "ranks of copy_to (%u) and copy_from (%u) should differ by 1",
				   to->rank, from->rank);
	if (index < 0 || index >= INT32_MAX)
		return infd__kfail(&A, INFD_BAD_INPUT, "index %lld is out of range", (long long)index);
	if ((st = check_copy(&A, from->dtype, to->dtype)))
		return st;
	if (to->sizes[0] <= index) {
		int32_t sizes[INFD_MAX_RANK];
		sizes[0] = (int32_t)index + 1;
		memcpy(sizes + 1, from->sizes, from->rank * sizeof sizes[0]);
		void *data = to->data;
		if ((st = infd__kout_resize(&A, to, to->rank, sizes)))
			return st;
		if (data && to->data != data)
			return infd__kfail(&A, INFD_BAD_INPUT, "copy_to moved while resizing");
	}
	if (!infd__tensor_has_shape(from, to->rank - 1u, to->sizes + 1)) {
		char b1[128], b2[128];
		return infd__kfail(&A, INFD_BAD_INPUT, "copy_to %s does not hold copy_from %s at its first dim",
				   fmt_shape(b1, sizeof b1, to), fmt_shape(b2, sizeof b2, from));
	}
	if ((st = check_overlap(&A, from, to, false)))
		return st;
	if (!from->numel)
		return INFD_OK;
	struct view dv, sv;
	view_of(&dv, to);
	view_select(&dv, 0, index);
	view_of(&sv, from);
	copy_view(&dv, to->dtype, &sv, from->dtype);
	return INFD_OK;
}
