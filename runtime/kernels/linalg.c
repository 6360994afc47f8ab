/* Matrix products for the portable CPU kernels: mm, bmm, addmm and linear, float32.
 * Each runs through the SGEMM of gemm.c; operands and out may have any strides, and
 * an out that shares memory with an input is computed into a buffer first. */
#include "gemm.h"

#include <stdlib.h>

#define INFD_KERNEL(key, n_args, fn)                                                       \
	infd_status fn(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n);
#include "list_linalg.h"
#undef INFD_KERNEL

/* C_i = alpha * A_i B_i + beta * bias for i < batch; element (r, c) of a matrix
 * X at x + r*xr + c*xc, matrix i at + i*xb. */
struct mm_batch {
	size_t batch, m, n, k;
	const float *a, *b, *bias;
	float *c;
	ptrdiff_t ab, ar, ac, bb, br, bc, cb, cr, cc, xr, xc;
	float alpha, beta;
};

static void mm_item(const void *user, size_t i, struct gemm *g, struct im2col *ic)
{
	(void)ic;
	const struct mm_batch *mb = user;
	*g = (struct gemm){
		.m = mb->m,
		.n = mb->n,
		.k = mb->k,
		.a = {mb->a + (ptrdiff_t)i * mb->ab, mb->ar, mb->ac, NULL},
		.b = {mb->b + (ptrdiff_t)i * mb->bb, mb->bc, mb->br, NULL},
		.c = mb->c + (ptrdiff_t)i * mb->cb,
		.crs = mb->cr,
		.ccs = mb->cc,
		.bias = mb->bias,
		.brs = mb->xr,
		.bcs = mb->xc,
		.alpha = mb->alpha,
		.beta = mb->beta,
	};
}

/* Run mm_batch into `out` (already resized; mb->c is out's data). When out shares
 * memory with an input, the result goes through a buffer of out's layout. */
static infd_status run_mm(const struct infd_kargs *A, struct mm_batch *mb, struct infd_tensor *out,
			  const struct infd_tensor *const *ins, uint32_t n_ins)
{
	if (!out->numel)
		return INFD_OK;
	float *tmp = NULL;
	infd_status st;
	for (uint32_t i = 0; i < n_ins && !tmp; i++)
		if (infd__gemm_overlaps(out, ins[i])) {
			if ((st = infd__gemm_scratch(A, (size_t)out->numel, &tmp)))
				return st;
			mb->c = tmp + (mb->c - (float *)out->data);
		}
	st = infd__gemm_run_batch(A, mb->batch, mm_item, mb);
	if (tmp) {
		if (!st)
			memcpy(out->data, tmp, (size_t)out->nbytes);
		free(tmp);
	}
	return st;
}

/* The shared start of mm.out and bmm.out [self, mat2, out, ret]: float32
 * operands of the given rank. */
static infd_status matmul_args(struct infd_kargs *A, struct infd_kernel_ctx *ctx, struct infd_evalue **args,
			       uint32_t n, const char *key, uint32_t rank, const struct infd_tensor **a,
			       const struct infd_tensor **b, struct infd_tensor **out)
{
	infd_status st;
	if ((st = infd__kargs_begin(A, ctx, args, n, key, 4)) || (st = infd__karg_tensor(A, 0, "self", a)) ||
	    (st = infd__karg_tensor(A, 1, "mat2", b)) || (st = infd__karg_out(A, 2, 3, out)) ||
	    (st = infd__gemm_need_f32(A, *a, "self")) || (st = infd__gemm_need_f32(A, *b, "mat2")) ||
	    (st = infd__gemm_need_f32(A, *out, "out")))
		return st;
	char da[160], db[160];
	if ((*a)->rank != rank || (*b)->rank != rank)
		return infd__kfail(A, INFD_BAD_INPUT, "self %s and mat2 %s must both be %u-D",
				   describe(*a, da, sizeof da), describe(*b, db, sizeof db), rank);
	return INFD_OK;
}

infd_status infd__k_mm_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *a, *b;
	struct infd_tensor *out;
	infd_status st;
	if ((st = matmul_args(&A, ctx, args, n, "aten::mm.out", 2, &a, &b, &out)))
		return st;
	if (a->sizes[1] != b->sizes[0])
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "self and mat2 shapes cannot be multiplied (%dx%d and %dx%d)",
				   a->sizes[0], a->sizes[1], b->sizes[0], b->sizes[1]);
	const int32_t sizes[2] = {a->sizes[0], b->sizes[1]};
	if ((st = infd__kout_resize(&A, out, 2, sizes)))
		return st;
	struct mm_batch mb = {
		.batch = 1, .m = (size_t)sizes[0], .n = (size_t)sizes[1], .k = (size_t)a->sizes[1],
		.a = a->data, .ar = (ptrdiff_t)a->strides[0], .ac = (ptrdiff_t)a->strides[1],
		.b = b->data, .br = (ptrdiff_t)b->strides[0], .bc = (ptrdiff_t)b->strides[1],
		.c = out->data, .cr = (ptrdiff_t)out->strides[0], .cc = (ptrdiff_t)out->strides[1],
		.alpha = 1.0f,
	};
	return run_mm(&A, &mb, out, (const struct infd_tensor *const[]){a, b}, 2);
}

infd_status infd__k_bmm_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *a, *b;
	struct infd_tensor *out;
	infd_status st;
	if ((st = matmul_args(&A, ctx, args, n, "aten::bmm.out", 3, &a, &b, &out)))
		return st;
	if (a->sizes[0] != b->sizes[0])
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "self and mat2 must have the same number of batches (%d and %d)",
				   a->sizes[0], b->sizes[0]);
	if (a->sizes[2] != b->sizes[1])
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "self and mat2 shapes cannot be multiplied (%dx%d and %dx%d)",
				   a->sizes[1], a->sizes[2], b->sizes[1], b->sizes[2]);
	const int32_t sizes[3] = {a->sizes[0], a->sizes[1], b->sizes[2]};
	if ((st = infd__kout_resize(&A, out, 3, sizes)))
		return st;
	struct mm_batch mb = {
		.batch = (size_t)sizes[0], .m = (size_t)sizes[1], .n = (size_t)sizes[2],
		.k = (size_t)a->sizes[2],
		.a = a->data, .ab = (ptrdiff_t)a->strides[0], .ar = (ptrdiff_t)a->strides[1],
		.ac = (ptrdiff_t)a->strides[2],
		.b = b->data, .bb = (ptrdiff_t)b->strides[0], .br = (ptrdiff_t)b->strides[1],
		.bc = (ptrdiff_t)b->strides[2],
		.c = out->data, .cb = (ptrdiff_t)out->strides[0], .cr = (ptrdiff_t)out->strides[1],
		.cc = (ptrdiff_t)out->strides[2],
		.alpha = 1.0f,
	};
	return run_mm(&A, &mb, out, (const struct infd_tensor *const[]){a, b}, 2);
}

/* Strides that broadcast `t` (rank <= 2) over an m x n matrix, or false. */
static bool bias_strides(const struct infd_tensor *t, size_t m, size_t n, ptrdiff_t *rs,
			 ptrdiff_t *cs)
{
	*rs = *cs = 0;
	if (t->rank > 2)
		return false;
	if (t->rank >= 1) {
		int32_t sc = t->sizes[t->rank - 1];
		if (sc != 1 && (size_t)sc != n)
			return false;
		*cs = sc == 1 ? 0 : (ptrdiff_t)t->strides[t->rank - 1];
	}
	if (t->rank == 2) {
		int32_t sr = t->sizes[0];
		if (sr != 1 && (size_t)sr != m)
			return false;
		*rs = sr == 1 ? 0 : (ptrdiff_t)t->strides[0];
	}
	return true;
}

infd_status infd__k_addmm_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *x, *a, *b;
	struct infd_tensor *out;
	struct infd_scalar beta, alpha;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::addmm.out", 7)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &x)) ||
	    (st = infd__karg_tensor(&A, 1, "mat1", &a)) ||
	    (st = infd__karg_tensor(&A, 2, "mat2", &b)) ||
	    (st = infd__karg_scalar(&A, 3, "beta", &beta)) ||
	    (st = infd__karg_scalar(&A, 4, "alpha", &alpha)) ||
	    (st = infd__karg_out(&A, 5, 6, &out)) || (st = infd__gemm_need_f32(&A, x, "self")) ||
	    (st = infd__gemm_need_f32(&A, a, "mat1")) || (st = infd__gemm_need_f32(&A, b, "mat2")) ||
	    (st = infd__gemm_need_f32(&A, out, "out")))
		return st;
	char da[160], db[160];
	if (a->rank != 2 || b->rank != 2)
		return infd__kfail(&A, INFD_BAD_INPUT, "mat1 %s and mat2 %s must both be 2-D",
				   describe(a, da, sizeof da), describe(b, db, sizeof db));
	if (a->sizes[1] != b->sizes[0])
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "mat1 and mat2 shapes cannot be multiplied (%dx%d and %dx%d)",
				   a->sizes[0], a->sizes[1], b->sizes[0], b->sizes[1]);
	const int32_t sizes[2] = {a->sizes[0], b->sizes[1]};
	ptrdiff_t xr, xc;
	if (!bias_strides(x, (size_t)sizes[0], (size_t)sizes[1], &xr, &xc))
		return infd__kfail(&A, INFD_BAD_INPUT, "self %s cannot be broadcast to [%d,%d]",
				   describe(x, da, sizeof da), sizes[0], sizes[1]);
	if ((st = infd__kout_resize(&A, out, 2, sizes)))
		return st;
	struct mm_batch mb = {
		.batch = 1, .m = (size_t)sizes[0], .n = (size_t)sizes[1], .k = (size_t)a->sizes[1],
		.a = a->data, .ar = (ptrdiff_t)a->strides[0], .ac = (ptrdiff_t)a->strides[1],
		.b = b->data, .br = (ptrdiff_t)b->strides[0], .bc = (ptrdiff_t)b->strides[1],
		.c = out->data, .cr = (ptrdiff_t)out->strides[0], .cc = (ptrdiff_t)out->strides[1],
		/* beta == 0: self is ignored (NaN and inf in it do not propagate) */
		.bias = beta.d != 0.0 && x->numel ? x->data : NULL, .xr = xr, .xc = xc,
		.alpha = (float)alpha.d, .beta = (float)beta.d,
	};
	return run_mm(&A, &mb, out, (const struct infd_tensor *const[]){x, a, b}, 3);
}

infd_status infd__k_linear_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *x, *w, *bias;
	struct infd_tensor *out;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::linear.out", 5)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &x)) ||
	    (st = infd__karg_tensor(&A, 1, "weight", &w)) ||
	    (st = infd__karg_opt_tensor(&A, 2, "bias", &bias)) ||
	    (st = infd__karg_out(&A, 3, 4, &out)) || (st = infd__gemm_need_f32(&A, x, "input")) ||
	    (st = infd__gemm_need_f32(&A, w, "weight")) ||
	    (bias && (st = infd__gemm_need_f32(&A, bias, "bias"))) ||
	    (st = infd__gemm_need_f32(&A, out, "out")))
		return st;
	char da[160], db[160];
	if (x->rank < 1 || w->rank != 2)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "input %s must have at least 1 dim and weight %s exactly 2",
				   describe(x, da, sizeof da), describe(w, db, sizeof db));
	const uint32_t r = x->rank;
	if (x->sizes[r - 1] != w->sizes[1])
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "input %s and weight %s cannot be multiplied (last dims %d and %d)",
				   describe(x, da, sizeof da), describe(w, db, sizeof db),
				   x->sizes[r - 1], w->sizes[1]);
	int32_t sizes[INFD_MAX_RANK];
	size_t m = 1;
	for (uint32_t i = 0; i + 1 < r; i++) {
		sizes[i] = x->sizes[i];
		m *= (size_t)x->sizes[i];
	}
	sizes[r - 1] = w->sizes[0];
	const size_t nn = (size_t)w->sizes[0], k = (size_t)w->sizes[1];
	/* bias: [N], [1] or [] for any input; [M or 1, N or 1] too for a 2-D input */
	ptrdiff_t xr = 0, xc = 0;
	if (bias && ((bias->rank == 2 && r != 2) || !bias_strides(bias, m, nn, &xr, &xc)))
		return infd__kfail(&A, INFD_BAD_INPUT, "bias %s cannot be added to an output of %zu x %zu",
				   describe(bias, da, sizeof da), m, nn);
	if ((st = infd__kout_resize(&A, out, r, sizes)))
		return st;
	if (!out->numel)
		return INFD_OK;

	/* rows of input and out: flatten the leading dims, or go through buffers */
	struct infd_tensor xc_t = infd__gemm_contiguous_like(x), oc_t = infd__gemm_contiguous_like(out);
	ptrdiff_t ar, cr;
	float *xbuf = NULL, *obuf = NULL;
	const float *xd = x->data;
	if (!infd__gemm_flat_stride(x, 0, r - 1, &ar)) {
		if ((st = infd__gemm_scratch(&A, (size_t)x->numel, &xbuf)))
			return st;
		infd__gemm_copy_layout(&xc_t, xbuf, x, x->data);
		xd = xbuf;
		ar = (ptrdiff_t)k;
	}
	const bool o_flat = infd__gemm_flat_stride(out, 0, r - 1, &cr);
	if (!o_flat) {
		if ((st = infd__gemm_scratch(&A, (size_t)out->numel, &obuf)))
			goto out_free;
		cr = (ptrdiff_t)nn;
	}
	struct mm_batch mb = {
		.batch = 1, .m = m, .n = nn, .k = k,
		.a = xd, .ar = ar, .ac = xbuf ? 1 : (ptrdiff_t)x->strides[r - 1],
		/* B = weight^T: element (k, n) is weight[n, k] */
		.b = w->data, .br = (ptrdiff_t)w->strides[1], .bc = (ptrdiff_t)w->strides[0],
		.c = obuf ? obuf : out->data, .cr = cr,
		.cc = obuf ? 1 : (ptrdiff_t)out->strides[r - 1],
		.bias = bias && bias->numel ? bias->data : NULL, .xr = xr, .xc = xc,
		.alpha = 1.0f, .beta = 1.0f,
	};
	if (obuf) {
		st = infd__gemm_run_batch(&A, 1, mm_item, &mb);
		if (!st)
			infd__gemm_copy_layout(out, out->data, &oc_t, obuf);
	} else {
		st = run_mm(&A, &mb, out, (const struct infd_tensor *const[]){x, w, bias}, 3);
	}
out_free:
	free(xbuf);
	free(obuf);
	return st;
}
