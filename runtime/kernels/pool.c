/* 2-d pooling of the portable CPU kernels (float32, NCHW or channels-last): max pooling
 * with indices, average pooling and adaptive average pooling. */
#include "gemm.h" /* infd__gemm_need_f32 */
#include "reduce_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A 2-d pooling problem: input [N, C, H, W] (or [C, H, W], N = 1) and output
 * [N, C, OH, OW], element strides of each, and the window of every output row and
 * column: lo..hi (exclusive) inside the input, stepping by the dilation. */
struct pool {
	int64_t N, C, H, W, OH, OW;
	ptrdiff_t is[4], os[4], xs[4]; /* input, out, indices: N, C, H, W strides */
	int64_t k[2], s[2], pad[2], dil[2];
	int64_t *hlo, *hhi, *wlo, *whi;
	int64_t *hpad, *wpad; /* avg: window sizes counting padding (up to in + pad) */
	int64_t c0, c1;       /* output columns whose windows lie wholly inside: [c0, c1) */
	/* avg */
	int64_t divisor; /* != 0: divisor_override */
	bool count_pad;
};

static infd_status pool_input(const struct infd_kargs *A, const struct infd_tensor *in, struct pool *p)
{
	infd_status st = infd__gemm_need_f32(A, in, "self");
	if (st)
		return st;
	if (in->rank != 3 && in->rank != 4) {
		char buf[160];
		return infd__kfail(A, INFD_BAD_INPUT, "expected a 3-d or 4-d (batch mode) input, got %s",
				   infd__tensor_describe(in, buf, sizeof buf));
	}
	uint32_t o = in->rank - 3;
	for (uint32_t d = o ? 1 : 0; d < in->rank; d++)
		if (in->sizes[d] == 0) {
			char buf[160];
			return infd__kfail(A, INFD_BAD_INPUT, "input %s has an empty non-batch dim",
					   infd__tensor_describe(in, buf, sizeof buf));
		}
	p->N = o ? in->sizes[0] : 1;
	p->C = in->sizes[o];
	p->H = in->sizes[o + 1];
	p->W = in->sizes[o + 2];
	p->is[0] = o ? (ptrdiff_t)in->strides[0] : 0;
	for (uint32_t k = 0; k < 3; k++)
		p->is[k + 1] = (ptrdiff_t)in->strides[o + k];
	return INFD_OK;
}

/* Resize an output to the pooled shape and read its strides into s[4]. */
static infd_status pool_output(const struct infd_kargs *A, const struct infd_tensor *in, const struct pool *p,
			       struct infd_tensor *t, ptrdiff_t *s)
{
	int32_t sizes[4];
	uint32_t o = in->rank - 3;
	if (o)
		sizes[0] = (int32_t)p->N;
	sizes[o] = (int32_t)p->C;
	sizes[o + 1] = (int32_t)p->OH;
	sizes[o + 2] = (int32_t)p->OW;
	infd_status st = infd__kout_resize(A, t, in->rank, sizes);
	if (st)
		return st;
	s[0] = o ? (ptrdiff_t)t->strides[0] : 0;
	for (uint32_t k = 0; k < 3; k++)
		s[k + 1] = (ptrdiff_t)t->strides[o + k];
	if (t->data && t->data == in->data)
		return infd__kfail(A, INFD_BAD_INPUT, "an output shares memory with self");
	if ((st = infd__reduce_need_aligned(A, in, "self")) || (st = infd__reduce_need_aligned(A, t, "out")))
		return st;
	return INFD_OK;
}

/* A pooling parameter list: one int (both dims) or two; `dflt` when empty and allowed. */
static infd_status pool_pair(const struct infd_kargs *A, uint32_t i, const char *name, const int64_t *dflt, int64_t lo,
			     int64_t *out)
{
	int64_t v[INFD_MAX_RANK];
	int32_t n;
	infd_status st = infd__karg_int_list(A, i, name, false, v, INFD_MAX_RANK, &n);
	if (st)
		return st;
	if (n == 0 && dflt) {
		out[0] = dflt[0];
		out[1] = dflt[1];
	} else if (n == 1 || n == 2) {
		out[0] = v[0];
		out[1] = v[n - 1];
	} else {
		return infd__kfail(A, INFD_BAD_INPUT, "%s must be a single int or two ints, got %d", name, n);
	}
	for (int k = 0; k < 2; k++)
		if (out[k] < lo || out[k] > INT32_MAX)
			return infd__kfail(A, INFD_BAD_INPUT, "%s must be %s, got %lld", name,
					   lo ? "positive" : "non-negative", (long long)out[k]);
	return INFD_OK;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* PyTorch's pooling_output_shape: in ceil mode the last window must start inside
 * the input or its left padding. */
static int64_t pool_out_size(int64_t in, int64_t k, int64_t pad, int64_t s, int64_t dil, bool ceil_mode)
{
	int64_t o = floor_div(in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
	if (ceil_mode && (o - 1) * s >= in + pad)
		o--;
	return o;
}

/* Geometry shared by max and avg pooling; fills p->OH/OW. */
static infd_status pool_geometry(const struct infd_kargs *A, struct pool *p, bool ceil_mode)
{
	if (p->pad[0] > p->k[0] / 2 || p->pad[1] > p->k[1] / 2)
		return infd__kfail(A, INFD_BAD_INPUT,
				   "pad should be at most half of the kernel size, got pad %lldx%lld "
				   "and kernel %lldx%lld",
				   (long long)p->pad[0], (long long)p->pad[1], (long long)p->k[0], (long long)p->k[1]);
	p->OH = pool_out_size(p->H, p->k[0], p->pad[0], p->s[0], p->dil[0], ceil_mode);
	p->OW = pool_out_size(p->W, p->k[1], p->pad[1], p->s[1], p->dil[1], ceil_mode);
	if (p->OH < 1 || p->OW < 1)
		return infd__kfail(A, INFD_BAD_INPUT, "output size %lldx%lld is too small (input %lldx%lld)",
				   (long long)p->OH, (long long)p->OW, (long long)p->H, (long long)p->W);
	return INFD_OK;
}

/* Per-output-row/column windows (malloc'd block, freed with free(p->hlo)). Max
 * pooling starts each window at its first position inside the input on the
 * dilation grid; average pooling also records the window size with padding. */
static bool pool_windows(struct pool *p, bool avg)
{
	size_t n = (size_t)(p->OH + p->OW);
	int64_t *w = malloc(3 * n * sizeof *w);
	if (!w)
		return false;
	p->hlo = w;
	p->hhi = w + p->OH;
	p->hpad = w + 2 * p->OH;
	p->wlo = w + 3 * p->OH;
	p->whi = p->wlo + p->OW;
	p->wpad = p->whi + p->OW;
	const int64_t sizes[2] = {p->H, p->W}, outs[2] = {p->OH, p->OW};
	int64_t *lo[2] = {p->hlo, p->wlo}, *hi[2] = {p->hhi, p->whi}, *pd[2] = {p->hpad, p->wpad};
	for (int d = 0; d < 2; d++) {
		int64_t k = p->k[d], s = p->s[d], pad = p->pad[d], dil = p->dil[d], in = sizes[d];
		for (int64_t o = 0; o < outs[d]; o++) {
			int64_t a = o * s - pad;
			int64_t e = avg ? a + k : a + (k - 1) * dil + 1;
			if (avg) {
				int64_t ep = e < in + pad ? e : in + pad;
				pd[d][o] = ep - a;
			}
			hi[d][o] = e < in ? e : in;
			if (a < 0)
				a += ((-a + dil - 1) / dil) * dil;
			lo[d][o] = a;
		}
	}
	/* columns whose windows lie wholly inside: ow * s - pad >= 0 and
	 * ow * s - pad + (k - 1) * dil <= W - 1 */
	int64_t s = p->s[1], pad = p->pad[1];
	int64_t last = p->W - 1 + pad - (p->k[1] - 1) * p->dil[1];
	int64_t c1 = last < 0 ? 0 : last / s + 1;
	int64_t c0 = (pad + s - 1) / s;
	c1 = c1 < p->OW ? c1 : p->OW;
	p->c0 = c0 < c1 ? c0 : c1;
	p->c1 = c1;
	return true;
}

/* One max-pooling output (scalar): PyTorch's order and rule, NaN wins. */
static inline void max_one(const struct pool *p, const float *xp, int64_t oh, int64_t ow, float *y, int64_t *ix)
{
	float mv = -INFINITY;
	int64_t mi = p->hlo[oh] * p->W + p->wlo[ow];
	for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h += p->dil[0]) {
		const float *xr = xp + h * p->is[2];
		for (int64_t w = p->wlo[ow]; w < p->whi[ow]; w += p->dil[1]) {
			float v = xr[w * p->is[3]];
			if (v > mv || v != v) {
				mv = v;
				mi = h * p->W + w;
			}
		}
	}
	*y = mv;
	*ix = mi;
}

/* The vector paths copy a row of the input as s "phases" (every s-th element from
 * offset r), so that each window tap is a dense run of one phase; strides above
 * PH_MAX and very wide windows take the scalar path. The copies are zero-padded so
 * that the vector loops may run whole blocks of 16 lanes past m (those lanes are
 * never stored). Taps are numbered in window order; the winning tap's input
 * position is worked out once per output. */
#define PH_MAX   4
#define MAX_TAPS 1024 /* windows up to this many taps run the vector paths */
#define PH_EXTRA 64
#define PH_LEN   (BLK + PH_EXTRA + 16)

static inline size_t round16(size_t m)
{
	return (m + 15) & ~(size_t)15;
}

/* Fill the phases of one row for outputs whose windows start at row + w0 + s * j:
 * ph[r][j] = row[w0 + s * j + r] while inside the row (W), 0 after, j < len. */
static inline void deinterleave2(float *restrict a, float *restrict b, const float *restrict x, size_t n)
{
	INFD_VLOOP(n, j, a[j] = x[2 * j]; b[j] = x[2 * j + 1];);
}

static inline void fill_phases(float (*ph)[PH_LEN], const float *row, int64_t w0, int64_t W, int64_t s, size_t len)
{
	if (s == 2) {
		/* both phases in one pass over the pairs that are wholly inside */
		int64_t avail = W - w0;
		size_t pairs = avail <= 0 ? 0 : (size_t)(avail / 2);
		pairs = pairs < len ? pairs : len;
		deinterleave2(ph[0], ph[1], row + w0, pairs);
		size_t n0 = pairs, n1 = pairs;
		if (pairs < len && avail > 0 && (avail & 1))
			ph[0][n0++] = row[w0 + 2 * (int64_t)pairs];
		memset(ph[0] + n0, 0, (len - n0) * sizeof(float));
		memset(ph[1] + n1, 0, (len - n1) * sizeof(float));
		return;
	}
	for (int64_t r = 0; r < s; r++) {
		int64_t avail = W - w0 - r;
		size_t n = avail <= 0 ? 0 : (size_t)((avail + s - 1) / s);
		n = n < len ? n : len;
		const float *src = row + w0 + r;
		float *restrict dst = ph[r];
		if (s == 1)
			memcpy(dst, src, n * sizeof *dst);
		else if (s == 2)
			for (size_t j = 0; j < n; j++)
				dst[j] = src[2 * j];
		else
			for (size_t j = 0; j < n; j++)
				dst[j] = src[(ptrdiff_t)j * s];
		memset(dst + n, 0, (len - n) * sizeof *dst);
	}
}

static inline void max_tap(float *restrict mv, int32_t *restrict mt, const float *restrict xr, size_t m, int32_t tap)
{
	INFD_VLOOP(m, j, const float v = xr[j]; const bool t = (v > mv[j]) | (v != v); mv[j] = t ? v : mv[j];
		   mt[j] = t ? tap : mt[j];);
}

/* NCHW (any strides): the interior columns of each output row (windows wholly
 * inside) run as vectors over the columns when the input is dense along W; the
 * edges, and everything else, take max_one. */
INFD_SIMD_CLONES static void max_pool_planes(const struct pool *p, const float *x, float *y, int64_t *ix)
{
	float mv[BLK + 16];
	int32_t mt[BLK + 16];
	float ph[PH_MAX][PH_LEN];
	const int64_t s = p->s[1], kn = p->k[1], dw = p->dil[1];
	const int64_t qmax = (kn - 1) * dw / s;
	const bool vec = p->is[3] == 1 && s <= PH_MAX && qmax <= PH_EXTRA && kn <= 64 && p->k[0] * kn <= MAX_TAPS;
	const float *tapp[64];  /* where tap kw reads, relative to the phases */
	int64_t toff[MAX_TAPS]; /* input offset of each tap from the window's first */
	for (int64_t kw = 0; vec && kw < kn; kw++)
		tapp[kw] = ph[kw * dw % s] + kw * dw / s;
	for (int64_t t = 0; vec && t < p->k[0] * kn; t++)
		toff[t] = t / kn * p->dil[0] * p->W + t % kn * dw;
	for (int64_t nn = 0; nn < p->N; nn++)
		for (int64_t c = 0; c < p->C; c++) {
			const float *xp = x + nn * p->is[0] + c * p->is[1];
			float *yp = y + nn * p->os[0] + c * p->os[1];
			int64_t *ip = ix + nn * p->xs[0] + c * p->xs[1];
			for (int64_t oh = 0; oh < p->OH; oh++) {
				float *yr = yp + oh * p->os[2];
				int64_t *ir = ip + oh * p->xs[2];
				int64_t a = vec ? p->c0 : p->OW, b = vec ? p->c1 : p->OW;
				for (int64_t ow = 0; ow < a; ow++)
					max_one(p, xp, oh, ow, yr + ow * p->os[3], ir + ow * p->xs[3]);
				for (int64_t ow0 = a; ow0 < b; ow0 += BLK) {
					size_t m = (size_t)(b - ow0 < BLK ? b - ow0 : BLK);
					size_t mr = round16(m);
					int64_t w0 = ow0 * s - p->pad[1];
					for (size_t j = 0; j < mr; j++) {
						mv[j] = -INFINITY;
						mt[j] = 0;
					}
					int32_t tap = 0;
					for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h += p->dil[0]) {
						fill_phases(ph, xp + h * p->is[2], w0, p->W, s, mr + (size_t)qmax);
						for (int64_t kw = 0; kw < kn; kw++, tap++)
							max_tap(mv, mt, tapp[kw], mr, tap);
					}
					const int64_t first = p->hlo[oh] * p->W + w0;
					for (size_t j = 0; j < m; j++) {
						yr[(ow0 + (int64_t)j) * p->os[3]] = mv[j];
						ir[(ow0 + (int64_t)j) * p->xs[3]] =
						    first + s * (int64_t)j + toff[mt[j]];
					}
				}
				for (int64_t ow = b; ow < p->OW; ow++)
					max_one(p, xp, oh, ow, yr + ow * p->os[3], ir + ow * p->xs[3]);
			}
		}
}

/* Channels-last: the channels of one pixel are adjacent in input, out and indices;
 * the window loop runs over vectors of channels. */
INFD_SIMD_CLONES static void max_pool_cl(const struct pool *p, const float *x, float *y, int64_t *ix)
{
	float mv[BLK];
	int32_t mt[BLK];
	int64_t tpos[MAX_TAPS]; /* input position of each tap of the current window */
	for (int64_t nn = 0; nn < p->N; nn++)
		for (int64_t oh = 0; oh < p->OH; oh++)
			for (int64_t ow = 0; ow < p->OW; ow++) {
				int32_t nt = 0;
				for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h += p->dil[0])
					for (int64_t w = p->wlo[ow]; w < p->whi[ow]; w += p->dil[1])
						tpos[nt++] = h * p->W + w;
				for (int64_t c0 = 0; c0 < p->C; c0 += BLK) {
					size_t m = (size_t)(p->C - c0 < BLK ? p->C - c0 : BLK);
					for (size_t j = 0; j < m; j++) {
						mv[j] = -INFINITY;
						mt[j] = 0;
					}
					int32_t tap = 0;
					for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h += p->dil[0])
						for (int64_t w = p->wlo[ow]; w < p->whi[ow]; w += p->dil[1], tap++)
							max_tap(mv, mt,
								x + nn * p->is[0] + h * p->is[2] + w * p->is[3] + c0, m,
								tap);
					float *yp = y + nn * p->os[0] + oh * p->os[2] + ow * p->os[3] + c0;
					int64_t *ip = ix + nn * p->xs[0] + oh * p->xs[2] + ow * p->xs[3] + c0;
					memcpy(yp, mv, m * sizeof mv[0]);
					for (size_t j = 0; j < m; j++)
						ip[j] = tpos[mt[j]];
				}
			}
}

infd_status infd__k_max_pool2d_with_indices_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out, *ind;
	bool ceil_mode;
	struct pool p;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::max_pool2d_with_indices.out", 9)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &in)) || (st = pool_pair(&A, 1, "kernel_size", NULL, 1, p.k)) ||
	    (st = pool_pair(&A, 2, "stride", p.k, 1, p.s)) || (st = pool_pair(&A, 3, "padding", NULL, 0, p.pad)) ||
	    (st = pool_pair(&A, 4, "dilation", NULL, 1, p.dil)) ||
	    (st = infd__karg_bool(&A, 5, "ceil_mode", &ceil_mode)) || (st = infd__karg_out_multi(&A, 6, &out)) ||
	    (st = infd__karg_out_multi(&A, 7, &ind)) ||
	    (st = infd__karg_ret_list(&A, 8, (struct infd_tensor *[]){out, ind}, 2)) || (st = pool_input(&A, in, &p)) ||
	    (st = infd__gemm_need_f32(&A, out, "out")))
		return st;
	if (ind->dtype != I64)
		return infd__kfail(&A, INFD_BAD_INPUT, "indices must have dtype int64, got %s",
				   infd_dtype_name(ind->dtype));
	if ((st = pool_geometry(&A, &p, ceil_mode)) || (st = pool_output(&A, in, &p, out, p.os)) ||
	    (st = pool_output(&A, in, &p, ind, p.xs)))
		return st;
	if (out->data && out->data == ind->data)
		return infd__kfail(&A, INFD_BAD_INPUT, "out and indices share memory");
	if (out->numel == 0)
		return INFD_OK;
	if (!pool_windows(&p, false))
		return infd__kfail(&A, INFD_NO_MEMORY, "out of memory");
	if (p.is[1] == 1 && p.os[1] == 1 && p.xs[1] == 1 && p.C > 1 && p.k[0] * p.k[1] <= MAX_TAPS)
		max_pool_cl(&p, in->data, out->data, ind->data);
	else
		max_pool_planes(&p, in->data, out->data, ind->data);
	free(p.hlo);
	return INFD_OK;
}

static inline double avg_div(const struct pool *p, int64_t oh, int64_t ow)
{
	if (p->divisor)
		return (double)p->divisor;
	if (p->count_pad)
		return (double)(p->hpad[oh] * p->wpad[ow]);
	return (double)((p->hhi[oh] - p->hlo[oh]) * (p->whi[ow] - p->wlo[ow]));
}

/* One average-pooling output (scalar). Forced inline: the vector loops take it at the
 * edges of every row, and GCC would otherwise keep it out of line. */
static inline __attribute__((always_inline)) float avg_one(const struct pool *p, const float *xp, int64_t oh,
							   int64_t ow)
{
	if (p->hlo[oh] >= p->hhi[oh] || p->wlo[ow] >= p->whi[ow])
		return 0;
	double sum = 0;
	size_t n = (size_t)(p->whi[ow] - p->wlo[ow]);
	for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h++) {
		const float *xr = xp + h * p->is[2] + p->wlo[ow] * p->is[3];
		if (p->is[3] == 1) {
			sum += sum_f32_dense(xr, n);
		} else {
			for (size_t w = 0; w < n; w++)
				sum += (double)xr[(ptrdiff_t)w * p->is[3]];
		}
	}
	return (float)(sum / avg_div(p, oh, ow));
}

static inline void avg_tap(float *restrict acc, const float *restrict xr, size_t m)
{
	INFD_VLOOP(m, j, acc[j] += xr[j];);
}

/* NCHW (any strides), as max_pool_planes: vectors over the interior columns. */
INFD_SIMD_CLONES static void avg_pool_planes(const struct pool *p, const float *x, float *y)
{
	float acc[BLK + 16];
	float ph[PH_MAX][PH_LEN];
	const int64_t s = p->s[1], kn = p->k[1];
	const int64_t qmax = (kn - 1) / s;
	const bool vec = p->is[3] == 1 && s <= PH_MAX && qmax <= PH_EXTRA && kn <= 64;
	const float *tapp[64];
	for (int64_t kw = 0; vec && kw < kn; kw++)
		tapp[kw] = ph[kw % s] + kw / s;
	for (int64_t nn = 0; nn < p->N; nn++)
		for (int64_t c = 0; c < p->C; c++) {
			const float *xp = x + nn * p->is[0] + c * p->is[1];
			float *yp = y + nn * p->os[0] + c * p->os[1];
			for (int64_t oh = 0; oh < p->OH; oh++) {
				float *yr = yp + oh * p->os[2];
				int64_t a = vec ? p->c0 : p->OW, b = vec ? p->c1 : p->OW;
				if (p->hlo[oh] >= p->hhi[oh])
					a = b = p->OW; /* empty windows: avg_one writes 0 */
				for (int64_t ow = 0; ow < a; ow++)
					yr[ow * p->os[3]] = avg_one(p, xp, oh, ow);
				const float dv = a < b ? (float)avg_div(p, oh, a) : 1.0f;
				for (int64_t ow0 = a; ow0 < b; ow0 += BLK) {
					size_t m = (size_t)(b - ow0 < BLK ? b - ow0 : BLK);
					size_t mr = round16(m);
					int64_t w0 = ow0 * s - p->pad[1];
					for (size_t j = 0; j < mr; j++)
						acc[j] = 0;
					for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h++) {
						fill_phases(ph, xp + h * p->is[2], w0, p->W, s, mr + (size_t)qmax);
						for (int64_t kw = 0; kw < kn; kw++)
							avg_tap(acc, tapp[kw], mr);
					}
					INFD_VLOOP(mr, j, acc[j] = acc[j] / dv;);
					for (size_t j = 0; j < m; j++)
						yr[(ow0 + (int64_t)j) * p->os[3]] = acc[j];
				}
				for (int64_t ow = b; ow < p->OW; ow++)
					yr[ow * p->os[3]] = avg_one(p, xp, oh, ow);
			}
		}
}

INFD_SIMD_CLONES static void avg_pool_cl(const struct pool *p, const float *x, float *y)
{
	float acc[BLK];
	for (int64_t nn = 0; nn < p->N; nn++)
		for (int64_t oh = 0; oh < p->OH; oh++)
			for (int64_t ow = 0; ow < p->OW; ow++) {
				float *yp = y + nn * p->os[0] + oh * p->os[2] + ow * p->os[3];
				bool empty = p->hlo[oh] >= p->hhi[oh] || p->wlo[ow] >= p->whi[ow];
				const float dv = empty ? 1.0f : (float)avg_div(p, oh, ow);
				for (int64_t c0 = 0; c0 < p->C; c0 += BLK) {
					size_t m = (size_t)(p->C - c0 < BLK ? p->C - c0 : BLK);
					for (size_t j = 0; j < m; j++)
						acc[j] = 0;
					for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h++)
						for (int64_t w = p->wlo[ow]; w < p->whi[ow]; w++) {
							const float *restrict xr =
							    x + nn * p->is[0] + h * p->is[2] + w * p->is[3] + c0;
							INFD_VLOOP(m, j, acc[j] += xr[j];);
						}
					float *restrict o = yp + c0;
					INFD_VLOOP(m, j, o[j] = acc[j] / dv;);
				}
			}
}

static void avg_pool_run(const struct pool *p, const struct infd_tensor *in, struct infd_tensor *out)
{
	if (p->is[1] == 1 && p->os[1] == 1 && p->C > 1)
		avg_pool_cl(p, in->data, out->data);
	else
		avg_pool_planes(p, in->data, out->data);
}

infd_status infd__k_avg_pool2d_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	bool ceil_mode;
	struct pool p = {.dil = {1, 1}};
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::avg_pool2d.out", 9)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &in)) || (st = pool_pair(&A, 1, "kernel_size", NULL, 1, p.k)) ||
	    (st = pool_pair(&A, 2, "stride", p.k, 1, p.s)) || (st = pool_pair(&A, 3, "padding", NULL, 0, p.pad)) ||
	    (st = infd__karg_bool(&A, 4, "ceil_mode", &ceil_mode)) ||
	    (st = infd__karg_bool(&A, 5, "count_include_pad", &p.count_pad)))
		return st;
	if (args[6]->kind != INFD_VALUE_NULL) {
		if ((st = infd__karg_int(&A, 6, "divisor_override", &p.divisor)))
			return st;
		if (p.divisor == 0)
			return infd__kfail(&A, INFD_BAD_INPUT, "divisor_override must not be zero");
	}
	if ((st = infd__karg_out(&A, 7, 8, &out)) || (st = pool_input(&A, in, &p)) ||
	    (st = infd__gemm_need_f32(&A, out, "out")) || (st = pool_geometry(&A, &p, ceil_mode)) ||
	    (st = pool_output(&A, in, &p, out, p.os)))
		return st;
	if (out->numel == 0)
		return INFD_OK;
	if (!pool_windows(&p, true))
		return infd__kfail(&A, INFD_NO_MEMORY, "out of memory");
	avg_pool_run(&p, in, out);
	free(p.hlo);
	return INFD_OK;
}

infd_status infd__k_adaptive_avg_pool2d_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	int64_t osz[INFD_MAX_RANK];
	int32_t cnt;
	struct pool p = {.count_pad = true, .k = {1, 1}, .s = {1, 1}, .dil = {1, 1}};
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::_adaptive_avg_pool2d.out", 4)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &in)) ||
	    (st = infd__karg_int_list(&A, 1, "output_size", false, osz, INFD_MAX_RANK, &cnt)) ||
	    (st = infd__karg_out(&A, 2, 3, &out)) || (st = pool_input(&A, in, &p)) ||
	    (st = infd__gemm_need_f32(&A, out, "out")))
		return st;
	if (cnt != 2)
		return infd__kfail(&A, INFD_BAD_INPUT, "output_size must have 2 items, got %d", cnt);
	if (osz[0] < 0 || osz[1] < 0 || osz[0] > INT32_MAX || osz[1] > INT32_MAX)
		return infd__kfail(&A, INFD_BAD_INPUT, "output_size must be non-negative");
	p.OH = osz[0];
	p.OW = osz[1];
	if ((st = pool_output(&A, in, &p, out, p.os)))
		return st;
	if (out->numel == 0)
		return INFD_OK;
	int64_t *w = malloc(3 * (size_t)(p.OH + p.OW) * sizeof *w);
	if (!w)
		return infd__kfail(&A, INFD_NO_MEMORY, "out of memory");
	p.hlo = w;
	p.hhi = p.hlo + p.OH;
	p.hpad = p.hhi + p.OH;
	p.wlo = p.hpad + p.OH;
	p.whi = p.wlo + p.OW;
	p.wpad = p.whi + p.OW;
	/* windows floor(o * I / O) .. ceil((o + 1) * I / O); no interior vector run */
	for (int64_t o = 0; o < p.OH; o++) {
		p.hlo[o] = o * p.H / p.OH;
		p.hhi[o] = ((o + 1) * p.H + p.OH - 1) / p.OH;
		p.hpad[o] = p.hhi[o] - p.hlo[o];
	}
	for (int64_t o = 0; o < p.OW; o++) {
		p.wlo[o] = o * p.W / p.OW;
		p.whi[o] = ((o + 1) * p.W + p.OW - 1) / p.OW;
		p.wpad[o] = p.whi[o] - p.wlo[o];
	}
	p.c0 = p.c1 = p.OW;
	avg_pool_run(&p, in, out);
	free(w);
	return INFD_OK;
}
