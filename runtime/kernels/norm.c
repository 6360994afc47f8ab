/* Normalizations of the portable CPU kernels (float32): layer norm, batch norm for
 * inference (_native_batch_norm_legit_no_training) and group norm. */
#include "gemm.h" /* infd__gemm_need_f32 */
#include "reduce_util.h"

#include <math.h>
#include <stdlib.h>

/* True when the elements lie in row-major order of the logical shape, size-1 dims
 * ignored: logical index k is at element offset k whatever the dim order says. */
static bool rowmajor_dense(const struct infd_tensor *t)
{
	if (t->numel == 0)
		return true;
	int64_t want = 1;
	for (int d = (int)t->rank - 1; d >= 0; d--) {
		if (t->sizes[d] == 1)
			continue;
		if (t->strides[d] != want)
			return false;
		want *= t->sizes[d];
	}
	return true;
}

/* An optional per-channel parameter: None, or float32 [count]. */
static infd_status check_param(const struct infd_kargs *A, const struct infd_tensor *t, const char *name, int64_t count)
{
	if (!t)
		return INFD_OK;
	infd_status st = infd__gemm_need_f32(A, t, name);
	if (st)
		return st;
	if (t->rank != 1 || t->sizes[0] != count)
		return infd__kfail(A, INFD_BAD_INPUT, "%s must have shape [%lld]", name, (long long)count);
	return INFD_OK;
}

/* Mean and variance (population) of n > 0 dense floats, in double, two passes. */
INFD_SIMD_CLONES static void moments_f32(const float *x, size_t n, double *mean, double *var)
{
	double mu = sum_f32_dense(x, n) / (double)n;
	*mean = mu;
	*var = sqdev_f32_dense(x, n, mu) / (double)n;
}

/* y = x * a + c, then * w and + b where given (w, b dense, or NULL). */
INFD_SIMD_CLONES static void affine_f32(float *restrict y, const float *restrict x, size_t n, float a, float c,
					const float *restrict w, const float *restrict b)
{
	if (w && b)
		INFD_VLOOP(n, i, y[i] = (x[i] * a + c) * w[i] + b[i];);
	else if (w)
		INFD_VLOOP(n, i, y[i] = (x[i] * a + c) * w[i];);
	else if (b)
		INFD_VLOOP(n, i, y[i] = (x[i] * a + c) + b[i];);
	else
		INFD_VLOOP(n, i, y[i] = x[i] * a + c;);
}

infd_status infd__k_native_layer_norm_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in, *w, *b;
	struct infd_tensor *out, *mean, *rstd;
	int64_t ns[INFD_MAX_RANK];
	int32_t nn;
	double eps;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::native_layer_norm.out", 9)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) ||
	    (st = infd__karg_int_list(&A, 1, "normalized_shape", false, ns, INFD_MAX_RANK, &nn)) ||
	    (st = infd__karg_opt_tensor(&A, 2, "weight", &w)) || (st = infd__karg_opt_tensor(&A, 3, "bias", &b)) ||
	    (st = infd__karg_double(&A, 4, "eps", &eps)) || (st = infd__karg_out_multi(&A, 5, &out)) ||
	    (st = infd__karg_out_multi(&A, 6, &mean)) || (st = infd__karg_out_multi(&A, 7, &rstd)) ||
	    (st = infd__karg_ret_list(&A, 8, (struct infd_tensor *[]){out, mean, rstd}, 3)) ||
	    (st = infd__gemm_need_f32(&A, in, "input")) || (st = infd__gemm_need_f32(&A, out, "out")) ||
	    (st = infd__gemm_need_f32(&A, mean, "mean")) || (st = infd__gemm_need_f32(&A, rstd, "rstd")))
		return st;
	if (nn < 1)
		return infd__kfail(&A, INFD_BAD_INPUT, "normalized_shape must not be empty");
	uint32_t axis = in->rank - (uint32_t)nn;
	bool match = (uint32_t)nn <= in->rank;
	for (int32_t k = 0; match && k < nn; k++)
		match = in->sizes[axis + (uint32_t)k] == ns[k];
	if (!match) {
		char buf[160];
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "normalized_shape (%d dims, last %lld) does not match the trailing "
				   "dims of input %s",
				   nn, (long long)ns[nn - 1], infd__tensor_describe(in, buf, sizeof buf));
	}
	uint64_t N = 1, M = 1;
	for (uint32_t d = 0; d < in->rank; d++) {
		if (d < axis)
			M *= (uint64_t)in->sizes[d];
		else
			N *= (uint64_t)in->sizes[d];
	}
	const struct infd_tensor *params[2] = {w, b};
	for (int k = 0; k < 2; k++) {
		const struct infd_tensor *t = params[k];
		const char *nm = k ? "bias" : "weight";
		if (!t)
			continue;
		if ((st = infd__gemm_need_f32(&A, t, nm)))
			return st;
		bool ok = t->rank == (uint32_t)nn && rowmajor_dense(t);
		for (int32_t q = 0; ok && q < nn; q++)
			ok = t->sizes[q] == ns[q];
		if (!ok)
			return infd__kfail(&A, INFD_BAD_INPUT, "%s must be a dense tensor of shape normalized_shape",
					   nm);
	}
	int32_t ssz[INFD_MAX_RANK];
	for (uint32_t d = 0; d < in->rank; d++)
		ssz[d] = d < axis ? in->sizes[d] : 1;
	if ((st = infd__kout_resize(&A, out, in->rank, in->sizes)) ||
	    (st = infd__kout_resize(&A, mean, in->rank, ssz)) || (st = infd__kout_resize(&A, rstd, in->rank, ssz)))
		return st;
	if (!rowmajor_dense(in) || !rowmajor_dense(out) || !rowmajor_dense(mean) || !rowmajor_dense(rstd))
		return infd__kfail(&A, INFD_KERNEL_FAILED, "only the contiguous dim order is supported");
	if (out->data == in->data && !infd__tensor_same_layout(in, out))
		return infd__kfail(&A, INFD_BAD_INPUT, "out shares memory with input");
	if ((st = infd__reduce_need_aligned(&A, in, "input")) || (st = infd__reduce_need_aligned(&A, w, "weight")) ||
	    (st = infd__reduce_need_aligned(&A, b, "bias")) || (st = infd__reduce_need_aligned(&A, out, "out")) ||
	    (st = infd__reduce_need_aligned(&A, mean, "mean")) || (st = infd__reduce_need_aligned(&A, rstd, "rstd")))
		return st;
	if (M == 0)
		return INFD_OK;
	const float *x = in->data, *wd = w ? w->data : NULL, *bd = b ? b->data : NULL;
	float *y = out->data, *md = mean->data, *rd = rstd->data;
	for (uint64_t m = 0; m < M; m++) {
		if (N == 0) {
			md[m] = 0;
			rd[m] = NAN;
			continue;
		}
		double mu, var;
		moments_f32(x + m * N, (size_t)N, &mu, &var);
		double r = 1.0 / sqrt(var + eps);
		md[m] = (float)mu;
		rd[m] = (float)r;
		affine_f32(y + m * N, x + m * N, (size_t)N, (float)r, (float)(-mu * r), wd, bd);
	}
	return INFD_OK;
}

/* y = x * a + c along rows; a and c (per channel) have stride 0 (one channel per
 * row) or step with the row (channels-last). */
static inline void bn_plane(float *restrict y, const float *restrict x, size_t n, float a, float c)
{
	INFD_VLOOP(n, i, y[i] = x[i] * a + c;);
}

static inline void bn_pixel(float *restrict y, const float *restrict x, const float *restrict a,
			    const float *restrict c, size_t n)
{
	INFD_VLOOP(n, i, y[i] = x[i] * a[i] + c[i];);
}

INFD_SIMD_CLONES static void bn_rows(void *user, char *const *ptr, const ptrdiff_t *st, size_t n)
{
	float *o = (float *)(void *)ptr[0];
	const float *x = (const float *)(const void *)ptr[1];
	const float *a = (const float *)(const void *)ptr[2];
	const float *c = (const float *)(const void *)ptr[3];
	if (st[0] == 4 && st[1] == 4 && st[2] == 0 && st[3] == 0) {
		bn_plane(o, x, n, a[0], c[0]);
		return;
	}
	if (st[0] == 4 && st[1] == 4 && st[2] == 4 && st[3] == 4) {
		bn_pixel(o, x, a, c, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		*(float *)(void *)(ptr[0] + (ptrdiff_t)i * st[0]) =
		    LD(float, ptr[1] + (ptrdiff_t)i * st[1]) * LD(float, ptr[2] + (ptrdiff_t)i * st[2]) +
		    LD(float, ptr[3] + (ptrdiff_t)i * st[3]);
}

infd_status infd__k_native_batch_norm_legit_no_training_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
							    uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in, *w, *b, *rm, *rv;
	struct infd_tensor *out, *sm, *si;
	double momentum, eps;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::_native_batch_norm_legit_no_training.out", 11)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) || (st = infd__karg_opt_tensor(&A, 1, "weight", &w)) ||
	    (st = infd__karg_opt_tensor(&A, 2, "bias", &b)) || (st = infd__karg_tensor(&A, 3, "running_mean", &rm)) ||
	    (st = infd__karg_tensor(&A, 4, "running_var", &rv)) ||
	    (st = infd__karg_double(&A, 5, "momentum", &momentum)) || (st = infd__karg_double(&A, 6, "eps", &eps)) ||
	    (st = infd__karg_out_multi(&A, 7, &out)) || (st = infd__karg_out_multi(&A, 8, &sm)) ||
	    (st = infd__karg_out_multi(&A, 9, &si)) ||
	    (st = infd__karg_ret_list(&A, 10, (struct infd_tensor *[]){out, sm, si}, 3)) ||
	    (st = infd__gemm_need_f32(&A, in, "input")) || (st = infd__gemm_need_f32(&A, out, "out")))
		return st;
	if (in->rank < 2)
		return infd__kfail(&A, INFD_BAD_INPUT, "input must have at least 2 dims (N, C, ...), got %u", in->rank);
	int64_t C = in->sizes[1];
	if ((st = check_param(&A, w, "weight", C)) || (st = check_param(&A, b, "bias", C)) ||
	    (st = check_param(&A, rm, "running_mean", C)) || (st = check_param(&A, rv, "running_var", C)))
		return st;
	static const int32_t zero[1] = {0};
	if ((st = infd__kout_resize(&A, out, in->rank, in->sizes)) || (st = infd__kout_resize(&A, sm, 1, zero)) ||
	    (st = infd__kout_resize(&A, si, 1, zero)))
		return st;
	if (out->data == in->data && !infd__tensor_same_layout(in, out))
		return infd__kfail(&A, INFD_BAD_INPUT, "out shares memory with input but has another dim order");
	if ((st = infd__reduce_need_aligned(&A, in, "input")) || (st = infd__reduce_need_aligned(&A, w, "weight")) ||
	    (st = infd__reduce_need_aligned(&A, b, "bias")) ||
	    (st = infd__reduce_need_aligned(&A, rm, "running_mean")) ||
	    (st = infd__reduce_need_aligned(&A, rv, "running_var")) || (st = infd__reduce_need_aligned(&A, out, "out")))
		return st;
	if (out->numel == 0)
		return INFD_OK;
	float *ab = malloc(2 * (size_t)C * sizeof *ab);
	if (!ab)
		return infd__kfail(&A, INFD_NO_MEMORY, "out of memory");
	const float *wd = w ? w->data : NULL, *bd = b ? b->data : NULL;
	const float *md = rm->data, *vd = rv->data;
	for (int64_t c = 0; c < C; c++) {
		double inv = 1.0 / sqrt((double)vd[c] + eps);
		double a = inv * (wd ? (double)wd[c] : 1.0);
		ab[c] = (float)a;
		ab[C + c] = (float)((bd ? (double)bd[c] : 0.0) - (double)md[c] * a);
	}
	/* The per-channel terms as [1, C, 1, ...] tensors broadcast over the input. */
	struct infd_tensor ta = {.dtype = F32, .rank = in->rank};
	for (uint32_t d = 0; d < in->rank; d++) {
		ta.sizes[d] = d == 1 ? (int32_t)C : 1;
		ta.dim_order[d] = (uint8_t)d;
	}
	infd__tensor_update_layout(&ta);
	struct infd_tensor tc = ta;
	ta.data = ab;
	tc.data = ab + C;
	struct infd_iter it;
	infd__iter_init(&it, in->rank, in->sizes);
	infd__iter_add(&it, out);
	infd__iter_add(&it, in);
	infd__iter_add(&it, &ta);
	infd__iter_add(&it, &tc);
	infd__iter_finish(&it);
	infd__iter_rows(&it, bn_rows, NULL);
	free(ab);
	return INFD_OK;
}

infd_status infd__k_native_group_norm_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in, *w, *b;
	struct infd_tensor *out, *mean, *rstd;
	int64_t N, C, HxW, G;
	double eps;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::native_group_norm.out", 12)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) || (st = infd__karg_opt_tensor(&A, 1, "weight", &w)) ||
	    (st = infd__karg_opt_tensor(&A, 2, "bias", &b)) || (st = infd__karg_int(&A, 3, "N", &N)) ||
	    (st = infd__karg_int(&A, 4, "C", &C)) || (st = infd__karg_int(&A, 5, "HxW", &HxW)) ||
	    (st = infd__karg_int(&A, 6, "group", &G)) || (st = infd__karg_double(&A, 7, "eps", &eps)) ||
	    (st = infd__karg_out_multi(&A, 8, &out)) || (st = infd__karg_out_multi(&A, 9, &mean)) ||
	    (st = infd__karg_out_multi(&A, 10, &rstd)) ||
	    (st = infd__karg_ret_list(&A, 11, (struct infd_tensor *[]){out, mean, rstd}, 3)) ||
	    (st = infd__gemm_need_f32(&A, in, "input")) || (st = infd__gemm_need_f32(&A, out, "out")) ||
	    (st = infd__gemm_need_f32(&A, mean, "mean")) || (st = infd__gemm_need_f32(&A, rstd, "rstd")))
		return st;
	if (in->rank < 2 || in->sizes[0] != N || in->sizes[1] != C || HxW < 0 ||
	    (uint64_t)N * (uint64_t)C * (uint64_t)HxW != in->numel) {
		char buf[160];
		return infd__kfail(
		    &A, INFD_BAD_INPUT, "input %s does not have the shape [N=%lld, C=%lld, *] with HxW=%lld",
		    infd__tensor_describe(in, buf, sizeof buf), (long long)N, (long long)C, (long long)HxW);
	}
	if (G <= 0 || C % G != 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "group must be positive and divide C=%lld, got %lld",
				   (long long)C, (long long)G);
	if ((st = check_param(&A, w, "weight", C)) || (st = check_param(&A, b, "bias", C)))
		return st;
	int32_t ssz[2] = {(int32_t)N, (int32_t)G};
	if ((st = infd__kout_resize(&A, out, in->rank, in->sizes)) || (st = infd__kout_resize(&A, mean, 2, ssz)) ||
	    (st = infd__kout_resize(&A, rstd, 2, ssz)))
		return st;
	if (!rowmajor_dense(in) || !rowmajor_dense(out) || !rowmajor_dense(mean) || !rowmajor_dense(rstd))
		return infd__kfail(&A, INFD_KERNEL_FAILED, "only the contiguous dim order is supported");
	if (out->data == in->data && !infd__tensor_same_layout(in, out))
		return infd__kfail(&A, INFD_BAD_INPUT, "out shares memory with input");
	if ((st = infd__reduce_need_aligned(&A, in, "input")) || (st = infd__reduce_need_aligned(&A, w, "weight")) ||
	    (st = infd__reduce_need_aligned(&A, b, "bias")) || (st = infd__reduce_need_aligned(&A, out, "out")) ||
	    (st = infd__reduce_need_aligned(&A, mean, "mean")) || (st = infd__reduce_need_aligned(&A, rstd, "rstd")))
		return st;
	const float *x = in->data, *wd = w ? w->data : NULL, *bd = b ? b->data : NULL;
	float *y = out->data, *md = mean->data, *rd = rstd->data;
	int64_t D = C / G;
	size_t blk = (size_t)(D * HxW);
	for (int64_t i = 0; i < N * G; i++) {
		int64_t g = i % G;
		const float *xb = x + i * (int64_t)blk;
		float *yb = y + i * (int64_t)blk;
		if (blk == 0) {
			md[i] = 0;
			rd[i] = NAN;
			continue;
		}
		double mu, var;
		moments_f32(xb, blk, &mu, &var);
		double r = 1.0 / sqrt(var + eps);
		md[i] = (float)mu;
		rd[i] = (float)r;
		for (int64_t k = 0; k < D; k++) {
			int64_t c = g * D + k;
			double a = r * (wd ? (double)wd[c] : 1.0);
			double cc = (bd ? (double)bd[c] : 0.0) - mu * a;
			affine_f32(yb + k * HxW, xb + k * HxW, (size_t)HxW, (float)a, (float)cc, NULL, NULL);
		}
	}
	return INFD_OK;
}
