/* Gathering shape kernels: embedding, index_select, pixel_shuffle/unshuffle and
 * nearest/bilinear 2-d upsampling (PyTorch's index and weight rules). */
#include "shape_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Pixel shuffle ----------------------------------------------------------- */

static infd_status pixel_shuffle(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
				 bool unshuffle)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_tensor *out;
	int64_t r;
	const char *op = unshuffle ? "aten::pixel_unshuffle.out" : "aten::pixel_shuffle.out";
	infd_status st;
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, op, 4, &self, &out)) ||
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
	if ((st = infd__shape_check_copy(&A, self->dtype, out->dtype)) ||
	    (st = infd__kout_resize(&A, out, k, sizes)) || (st = infd__shape_check_overlap(&A, self, out, false)))
		return st;
	if (!out->numel)
		return INFD_OK;
	/* Both sides as [..., C, H, r(i), W, r(j)] with the small image's C, H, W. */
	struct infd_view big, small;
	const struct infd_tensor *bt = unshuffle ? self : out, *st_ = unshuffle ? out : self;
	infd__view_of(&big, bt);
	infd__view_of(&small, st_);
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
	infd__view_split(&big, k - 1, W, r);
	infd__view_split(&big, k - 2, H, r);
	if (unshuffle)
		infd__copy_view(&small, out->dtype, &big, self->dtype);
	else
		infd__copy_view(&big, out->dtype, &small, self->dtype);
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

/* ---- Gathers ----------------------------------------------------------------- */

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
	struct infd_view dv, sv;
	infd__view_of(&sv, t);
	infd__view_rowmajor(&dv, idx, sizeof *idx, t->rank, t->sizes);
	infd__copy_view(&dv, INFD_DTYPE_INT64, &sv, t->dtype);
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
	if ((st = infd__shape_check_copy(&A, weight->dtype, out->dtype)) ||
	    (st = load_indices(&A, indices, "indices", weight->sizes[0], &idx)))
		return st;
	if ((st = infd__kout_resize(&A, out, r + 1, sizes)) ||
	    (st = infd__shape_check_overlap(&A, weight, out, false)) ||
	    (st = infd__shape_check_overlap(&A, indices, out, false))) {
		free(idx);
		return st;
	}
	if (out->numel) {
		struct infd_copier c;
		infd__copier_init(&c, out->dtype, weight->dtype);
		ptrdiff_t oes = (ptrdiff_t)infd_dtype_size(out->dtype), wes = (ptrdiff_t)infd_dtype_size(weight->dtype);
		ptrdiff_t ods = out->strides[r] * oes, w0 = weight->strides[0] * wes, w1 = weight->strides[1] * wes;
		ptrdiff_t os[INFD_MAX_RANK];
		int64_t cnt[INFD_MAX_RANK] = {0};
		for (uint32_t d = 0; d < r; d++)
			os[d] = out->strides[d] * oes;
		char *o = out->data;
		const char *w = weight->data;
		for (uint64_t k = 0; k < indices->numel; k++) {
			infd__copier_row(&c, o, ods, w + idx[k] * w0, w1, (size_t)sizes[r]);
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
	if ((st = infd__shape_begin_unary(&A, ctx, args, n, "aten::index_select.out", 5, &self, &out)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__karg_tensor(&A, 2, "index", &index)) ||
	    (st = infd__shape_wrap_dim(&A, dim, self->rank, "dim", &d)))
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
	if ((st = infd__shape_check_copy(&A, self->dtype, out->dtype)) ||
	    (st = load_indices(&A, index, "index", limit, &idx)))
		return st;
	if ((st = infd__kout_resize(&A, out, self->rank, sizes)) ||
	    (st = infd__shape_check_overlap(&A, self, out, false)) ||
	    (st = infd__shape_check_overlap(&A, index, out, false))) {
		free(idx);
		return st;
	}
	if (out->numel) {
		struct infd_view dv, sv;
		infd__view_of(&dv, out);
		infd__view_of(&sv, self);
		ptrdiff_t dstep = 0, sstep = 0;
		if (self->rank) {
			dstep = dv.stride[d];
			sstep = sv.stride[d];
			infd__view_select(&dv, d, 0);
			infd__view_select(&sv, d, 0);
		}
		/* One plan for every slice; only the base pointers move. */
		struct infd_copier c;
		struct infd_walk w;
		infd__copier_init(&c, out->dtype, self->dtype);
		if (infd__walk_plan(&w, &dv, &sv, c.es))
			for (int64_t i = 0; i < m; i++)
				infd__walk_run(&w, &c, dv.base + i * dstep, sv.base + idx[i] * sstep);
	}
	free(idx);
	return INFD_OK;
}

/* ---- Upsampling -------------------------------------------------------------- */

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
	    (st = upsample_args(&A, in, 1, 2, sizes, scales)) || (st = infd__shape_check_same_dtype(&A, in, out)) ||
	    (st = infd__kout_resize(&A, out, 4, sizes)) || (st = infd__shape_check_overlap(&A, in, out, false)))
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
	    (st = infd__shape_check_same_dtype(&A, in, out)))
		return st;
	bool f32 = in->dtype == INFD_DTYPE_FLOAT32;
	if (!f32 && in->dtype != INFD_DTYPE_FLOAT64)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "unsupported dtype %s (float32 and float64 only)",
				   infd_dtype_name(in->dtype));
	size_t es = infd_dtype_size(in->dtype);
	if ((st = infd__kout_resize(&A, out, 4, sizes)) || (st = infd__shape_check_overlap(&A, in, out, false)))
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
