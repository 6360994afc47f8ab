/* Softmax and log-softmax of the portable CPU kernels (float32, over any dim and
 * layout): a vectorizable exp, dense rows, and blocks of adjacent lanes. */
#include "gemm.h" /* infd__gemm_need_f32 */
#include "reduce_util.h"

#include <math.h>
#include <string.h>

/* exp(x) in float, written without calls or branches so that loops over it
 * vectorize: x = n ln2 + r, |r| <= ln2/2, a polynomial for e^r (Cephes expf; within
 * 1.4 ulp of exp over the whole float range) and 2^n applied in two halves so that
 * subnormal results come out right. x is clamped to [-104, 89] first: beyond those
 * the result underflows to 0 or overflows to inf all the same. NaN stays NaN. */
static inline float exp_f32(float x)
{
	const float hi = 89.0f, lo = -104.0f;
	/* Clamp with bit masks rather than selects: GCC would otherwise split the loop
	 * on the comparisons and then not vectorize it. NaN compares false and stays. */
	uint32_t xb, hb, lb;
	memcpy(&xb, &x, sizeof xb);
	memcpy(&hb, &hi, sizeof hb);
	memcpy(&lb, &lo, sizeof lb);
	uint32_t mh = 0u - (uint32_t)(x > hi), ml = 0u - (uint32_t)(x < lo);
	xb = (xb & ~(mh | ml)) | (hb & mh) | (lb & ml);
	float xc;
	memcpy(&xc, &xb, sizeof xc);
	const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
	float t = xc * 1.44269504088896341f + magic;
	float nf = t - magic;
	float r = xc - nf * 0.693359375f;
	r = r - nf * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * (r * r) + r + 1.0f;
	uint32_t tb, mb;
	memcpy(&tb, &t, sizeof tb);
	memcpy(&mb, &magic, sizeof mb);
	int32_t n = (int32_t)(tb - mb);
	int32_t n1 = n >> 1, n2 = n - n1;
	uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;
	float s1, s2;
	memcpy(&s1, &b1, sizeof s1);
	memcpy(&s2, &b2, sizeof s2);
	return p * s1 * s2;
}

/* o[j] = exp(x[j] - mx[j]); sum[j] += o[j]. */
static inline void exp_diff_acc(float *restrict o, const float *restrict x, const float *restrict mx,
				double *restrict sum, size_t m)
{
	INFD_VLOOP(m, j, const float e = exp_f32(x[j] - mx[j]); o[j] = e; sum[j] += (double)e;);
}

/* Softmax over m lanes that lie next to each other (lane stride 1 element), each
 * of length L with element stride si (input) / so (output). m <= BLK. For m == 1
 * the lane stride does not matter, which makes this the strided fallback too. */
INFD_SIMD_CLONES static void softmax_lanes(float *o, const float *x, size_t L, ptrdiff_t so, ptrdiff_t si, size_t m,
					   bool logsm)
{
	float mx[BLK];
	double sum[BLK];
	for (size_t j = 0; j < m; j++) {
		mx[j] = -INFINITY;
		sum[j] = 0;
	}
	for (size_t l = 0; l < L; l++) {
		const float *restrict xr = x + (ptrdiff_t)l * si;
		INFD_VLOOP(m, j, mx[j] = FMAX(mx[j], xr[j]););
	}
	for (size_t l = 0; l < L; l++) {
		const float *restrict xr = x + (ptrdiff_t)l * si;
		float *restrict orow = o + (ptrdiff_t)l * so;
		if (logsm) {
			INFD_VLOOP(m, j, sum[j] += (double)exp_f32(xr[j] - mx[j]););
		} else {
			exp_diff_acc(orow, xr, mx, sum, m);
		}
	}
	float c[BLK];
	if (logsm) {
		for (size_t j = 0; j < m; j++)
			c[j] = (float)log(sum[j]);
		for (size_t l = 0; l < L; l++) {
			const float *restrict xr = x + (ptrdiff_t)l * si;
			float *restrict orow = o + (ptrdiff_t)l * so;
			INFD_VLOOP(m, j, orow[j] = (xr[j] - mx[j]) - c[j];);
		}
	} else {
		for (size_t j = 0; j < m; j++)
			c[j] = (float)(1.0 / sum[j]);
		for (size_t l = 0; l < L; l++) {
			float *restrict orow = o + (ptrdiff_t)l * so;
			INFD_VLOOP(m, j, orow[j] *= c[j];);
		}
	}
}

/* Softmax of one dense row of length L. */
INFD_SIMD_CLONES static void softmax_row(float *restrict o, const float *restrict x, size_t L, bool logsm)
{
	float mx = max_f32_dense(-INFINITY, x, L);
	double l8[8] = {0}, t = 0;
	size_t i = 0;
	if (logsm) {
		for (; i + 8 <= L; i += 8)
			for (size_t k = 0; k < 8; k++)
				l8[k] += (double)exp_f32(x[i + k] - mx);
		for (; i < L; i++)
			t += (double)exp_f32(x[i] - mx);
	} else {
		for (; i + 8 <= L; i += 8)
			for (size_t k = 0; k < 8; k++) {
				float e = exp_f32(x[i + k] - mx);
				o[i + k] = e;
				l8[k] += (double)e;
			}
		for (; i < L; i++) {
			float e = exp_f32(x[i] - mx);
			o[i] = e;
			t += (double)e;
		}
	}
	double sum = (((l8[0] + l8[4]) + (l8[1] + l8[5])) + ((l8[2] + l8[6]) + (l8[3] + l8[7]))) + t;
	if (logsm) {
		const float c = (float)log(sum);
		INFD_VLOOP(L, k, o[k] = (x[k] - mx) - c;);
	} else {
		const float c = (float)(1.0 / sum);
		INFD_VLOOP(L, k, o[k] *= c;);
	}
}

struct sm_ctx {
	size_t L;
	ptrdiff_t si, so; /* element strides along the softmax dim */
	bool log;
};

static void softmax_rows(void *user, char *const *ptr, const ptrdiff_t *st, size_t n)
{
	const struct sm_ctx *c = user;
	float *o = (float *)(void *)ptr[0];
	const float *x = (const float *)(const void *)ptr[1];
	ptrdiff_t lo = st[0] / 4, li = st[1] / 4; /* lane strides, elements */
	if (c->si == 1 && c->so == 1) {
		for (size_t j = 0; j < n; j++)
			softmax_row(o + (ptrdiff_t)j * lo, x + (ptrdiff_t)j * li, c->L, c->log);
		return;
	}
	if (lo == 1 && li == 1) {
		for (size_t j = 0; j < n; j += BLK)
			softmax_lanes(o + j, x + j, c->L, c->so, c->si, n - j < BLK ? n - j : BLK, c->log);
		return;
	}
	for (size_t j = 0; j < n; j++)
		softmax_lanes(o + (ptrdiff_t)j * lo, x + (ptrdiff_t)j * li, c->L, c->so, c->si, 1, c->log);
}

static infd_status softmax_common(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n, bool log,
				  const char *name)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	int64_t dim;
	bool h2f;
	uint32_t d = 0;
	if ((st = infd__kargs_begin(&A, ctx, args, n, name, 5)) || (st = infd__karg_tensor(&A, 0, "self", &in)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__karg_bool(&A, 2, "half_to_float", &h2f)) ||
	    (st = infd__karg_out(&A, 3, 4, &out)) || (st = infd__gemm_need_f32(&A, in, "self")) ||
	    (st = infd__gemm_need_f32(&A, out, "out")) || (st = infd__reduce_wrap_dim(&A, dim, in->rank, &d)))
		return st;
	if (h2f)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "half_to_float=True is not supported on CPU");
	if ((st = infd__kout_resize(&A, out, in->rank, in->sizes)))
		return st;
	if (out->numel == 0)
		return INFD_OK;
	if (out->data == in->data && !infd__tensor_same_layout(in, out))
		return infd__kfail(&A, INFD_BAD_INPUT, "out shares memory with self but has another dim order");
	if ((st = infd__reduce_need_aligned(&A, in, "self")) || (st = infd__reduce_need_aligned(&A, out, "out")))
		return st;
	struct sm_ctx c = {.L = in->rank ? (size_t)in->sizes[d] : 1,
			   .si = in->rank ? (ptrdiff_t)in->strides[d] : 0,
			   .so = in->rank ? (ptrdiff_t)out->strides[d] : 0,
			   .log = log};
	int32_t sizes[INFD_MAX_RANK];
	memcpy(sizes, in->sizes, in->rank * sizeof sizes[0]);
	if (in->rank)
		sizes[d] = 1;
	if (c.L == 1) {
		c.si = c.so = 1; /* a single element: no stride is walked */
	}
	struct infd_iter it;
	infd__iter_init(&it, in->rank, sizes);
	infd__iter_add(&it, out);
	infd__iter_add(&it, in);
	infd__iter_finish(&it);
	infd__iter_rows(&it, softmax_rows, &c);
	return INFD_OK;
}

infd_status infd__k_softmax_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return softmax_common(ctx, args, n, false, "aten::_softmax.out");
}

infd_status infd__k_log_softmax_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return softmax_common(ctx, args, n, true, "aten::_log_softmax.out");
}
