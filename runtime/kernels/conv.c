/* aten::convolution for the portable CPU kernels (1-d and 2-d; grouped, depthwise and
 * transposed), float32: im2col panels packed on the fly into the SGEMM of gemm.c,
 * direct loops for depthwise convolution, GEMM plus col2im for transposed. */
#include "gemm.h"

#include <stdlib.h>

/* Output positions o in [0, count) with 0 <= o*s + off < limit, as [lo, hi). */
static void tap_range(int64_t off, int64_t s, int64_t limit, int64_t count, int32_t *lo,
		      int32_t *hi)
{
	int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
	int64_t h = limit - 1 - off < 0 ? 0 : (limit - 1 - off) / s + 1;
	if (h > count)
		h = count;
	if (l > h)
		l = h;
	*lo = (int32_t)l;
	*hi = (int32_t)h;
}

/* One convolution call, in a 2-d view (1-d convolution has H = KH = 1). */
struct conv_job {
	struct conv_geom g;
	const float *in, *w, *bias;
	float *out;
	ptrdiff_t isn, isc, ish, isw, isp; /* isp: flattened input position (when regular) */
	ptrdiff_t osn, osc, osh, osw, osp; /* osp: flattened output position */
	ptrdiff_t wso, wsk;                /* weight as a matrix: [c_out, K], or transposed [c_in, M] */
	ptrdiff_t wsc, wsh, wsw, bs;       /* weight strides of the 2-d view */
	bool pointwise; /* 1x1, stride 1, no padding: the input itself is the matrix */
	bool nhwc;      /* out channels are contiguous: compute C^T = col^T W^T */
	const int32_t *oh_lo, *oh_hi, *ow_lo, *ow_hi;
	const float *wt; /* depthwise channels-last: weights as [KH*KW][C] */
};

static void conv_item(const void *user, size_t idx, struct gemm *gm, struct im2col *ic)
{
	const struct conv_job *j = user;
	const struct conv_geom *g = &j->g;
	const size_t n = idx / (size_t)g->groups, gi = idx % (size_t)g->groups;
	const int64_t cig = g->c_in / g->groups, cog = g->c_out / g->groups;
	const float *in = j->in + (ptrdiff_t)n * j->isn + (ptrdiff_t)gi * cig * j->isc;
	*ic = (struct im2col){g, in, j->isc, j->ish, j->isw, j->nhwc, j->oh_lo, j->oh_hi, j->ow_lo, j->ow_hi};
	const struct gemm_op col = j->pointwise ? (struct gemm_op){in, j->isp, j->isc, NULL}
						: (struct gemm_op){NULL, 0, 0, ic};
	const struct gemm_op wt = {j->w + (ptrdiff_t)gi * cog * j->wso, j->wso, j->wsk, NULL};
	const size_t p = (size_t)(g->oh * g->ow), cg = (size_t)cog, k = (size_t)(cig * g->kh * g->kw);
	*gm = (struct gemm){
		.k = k,
		.c = j->out + (ptrdiff_t)n * j->osn + (ptrdiff_t)gi * cog * j->osc,
		.bias = j->bias ? j->bias + (ptrdiff_t)gi * cog * j->bs : NULL,
		.alpha = 1.0f,
		.beta = 1.0f,
	};
	if (j->nhwc) {
		gm->m = p, gm->n = cg, gm->a = col, gm->b = wt;
		gm->crs = j->osp, gm->ccs = j->osc, gm->brs = 0, gm->bcs = j->bs;
	} else {
		gm->m = cg, gm->n = p, gm->a = wt, gm->b = col;
		gm->crs = j->osc, gm->ccs = j->osp, gm->brs = j->bs, gm->bcs = 0;
	}
}

/* ---- Depthwise: direct loops -------------------------------------------- */

/* y[i] += a * x[i*step] (inlined into the SIMD-cloned tasks) */
static inline void axpy_inl(size_t n, float *restrict y, const float *restrict x, float a)
{
	INFD_VLOOP(n, i, y[i] += a * x[i];);
}

static inline void axpy2_inl(size_t n, float *restrict y, const float *restrict x, float a)
{
	INFD_VLOOP(n, i, y[i] += a * x[2 * i];);
}

#define DW_CH 512

/* One output plane (image n, channel co), any layout. */
INFD_SIMD_CLONES static void dw_plane_task(void *ctx, size_t idx)
{
	const struct conv_job *j = ctx;
	const struct conv_geom *g = &j->g;
	const int64_t n = (int64_t)idx / g->c_out, co = (int64_t)idx % g->c_out;
	const int64_t ci = co / (g->c_out / g->groups);
	const float *ip = j->in + n * j->isn + ci * j->isc, *wp = j->w + co * j->wso;
	float *op = j->out + n * j->osn + co * j->osc;
	const float b = j->bias ? j->bias[co * j->bs] : 0.0f;
	const ptrdiff_t step = (ptrdiff_t)(g->sw * j->isw);
	float acc[DW_CH];
	for (int64_t oh = 0; oh < g->oh; oh++)
		for (int64_t c0 = 0; c0 < g->ow; c0 += DW_CH) {
			const int64_t c1 = c0 + DW_CH < g->ow ? c0 + DW_CH : g->ow;
			for (int64_t o = 0; o < c1 - c0; o++)
				acc[o] = b;
			for (int64_t kh = 0; kh < g->kh; kh++) {
				if (oh < j->oh_lo[kh] || oh >= j->oh_hi[kh])
					continue;
				const float *irow = ip + (oh * g->sh - g->ph + kh * g->dh) * j->ish;
				for (int64_t kw = 0; kw < g->kw; kw++) {
					int64_t lo = j->ow_lo[kw] > c0 ? j->ow_lo[kw] : c0;
					int64_t hi = j->ow_hi[kw] < c1 ? j->ow_hi[kw] : c1;
					if (lo >= hi)
						continue;
					const float wv = wp[kh * j->wsh + kw * j->wsw];
					const float *src = irow + (lo * g->sw + kw * g->dw - g->pw) * j->isw;
					float *dst = acc + (lo - c0);
					const size_t cnt = (size_t)(hi - lo);
					if (step == 1)
						axpy_inl(cnt, dst, src, wv);
					else if (step == 2)
						axpy2_inl(cnt, dst, src, wv);
					else
						for (size_t o = 0; o < cnt; o++)
							dst[o] += wv * src[(ptrdiff_t)o * step];
				}
			}
			float *orow = op + oh * j->osh + c0 * j->osw;
			if (j->osw == 1)
				memcpy(orow, acc, (size_t)(c1 - c0) * sizeof(float));
			else
				for (int64_t o = 0; o < c1 - c0; o++)
					orow[o * j->osw] = acc[o];
		}
}

/* One output row (image n, row oh) when input and out keep channels innermost and
 * each input channel makes one output channel: vectorized over channels. Sums in
 * the same order as dw_plane_task. */
#define DW_MAX_TAPS 64

INFD_SIMD_CLONES static void dw_nhwc_task(void *ctx, size_t idx)
{
	const struct conv_job *j = ctx;
	const struct conv_geom *g = &j->g;
	const int64_t n = (int64_t)idx / g->oh, oh = (int64_t)idx % g->oh;
	const int64_t C = g->c_out;
	const float *in = j->in + n * j->isn;
	const float *xs[DW_MAX_TAPS], *ws[DW_MAX_TAPS];
	for (int64_t ow = 0; ow < g->ow; ow++) {
		float *o = j->out + n * j->osn + oh * j->osh + ow * j->osw;
		int nt = 0;
		for (int64_t kh = 0; kh < g->kh; kh++) {
			if (oh < j->oh_lo[kh] || oh >= j->oh_hi[kh])
				continue;
			const float *row = in + (oh * g->sh - g->ph + kh * g->dh) * j->ish;
			for (int64_t kw = 0; kw < g->kw; kw++)
				if (ow >= j->ow_lo[kw] && ow < j->ow_hi[kw]) {
					xs[nt] = row + (ow * g->sw - g->pw + kw * g->dw) * j->isw;
					ws[nt++] = j->wt + (kh * g->kw + kw) * C;
				}
		}
		int64_t c = 0;
		for (; c + 16 <= C; c += 16) {
			v8f v0 = {0}, v1 = {0};
			if (j->bias) {
				v0 = load8(j->bias + c);
				v1 = load8(j->bias + c + 8);
			}
			for (int t = 0; t < nt; t++) {
				v0 += load8(ws[t] + c) * load8(xs[t] + c);
				v1 += load8(ws[t] + c + 8) * load8(xs[t] + c + 8);
			}
			store8(o + c, v0);
			store8(o + c + 8, v1);
		}
		for (; c < C; c++) {
			float v = j->bias ? j->bias[c] : 0.0f;
			for (int t = 0; t < nt; t++)
				v += ws[t][c] * xs[t][c];
			o[c] = v;
		}
	}
}

/* Stride 1: each plane is copied into a zero-padded buffer of width Wp, so that
 * every tap is one multiply-add over the whole plane (flat index oh*Wp + ow; the
 * columns past OW are thrown away). Padding taps add w * 0. */
struct dw_flat_job {
	const struct conv_job *j;
	size_t planes, tasks, per;
	int64_t hp, wp;
	float *ws;
};

INFD_SIMD_CLONES static void dw_flat_task(void *ctx, size_t task)
{
	const struct dw_flat_job *f = ctx;
	const struct conv_job *j = f->j;
	const struct conv_geom *g = &j->g;
	const int64_t Wp = f->wp, mult = g->c_out / g->groups;
	float *pad = f->ws + task * f->per, *acc = pad + round_up((size_t)(f->hp * Wp), 16);
	const size_t L = (size_t)((g->oh - 1) * Wp + g->ow);
	const int64_t taps = g->kh * g->kw;
	int64_t *off = (int64_t *)(acc + round_up((size_t)(g->oh * Wp), 16));
	float *w = (float *)(off + taps);
	zero_f(pad, (size_t)(f->hp * Wp));
	for (size_t idx = task * f->planes / f->tasks; idx < (task + 1) * f->planes / f->tasks;
	     idx++) {
		const int64_t n = (int64_t)idx / g->c_out, co = (int64_t)idx % g->c_out, ci = co / mult;
		const float *ip = j->in + n * j->isn + ci * j->isc, *wp = j->w + co * j->wso;
		for (int64_t ih = 0; ih < g->h; ih++) {
			float *d = pad + (ih + g->ph) * Wp + g->pw;
			const float *s = ip + ih * j->ish;
			if (j->isw == 1)
				memcpy(d, s, (size_t)g->w * sizeof(float));
			else
				for (int64_t iw = 0; iw < g->w; iw++)
					d[iw] = s[iw * j->isw];
		}
		const float b = j->bias ? j->bias[co * j->bs] : 0.0f;
		for (int64_t t = 0; t < taps; t++) {
			const int64_t kh = t / g->kw, kw = t % g->kw;
			off[t] = kh * g->dh * Wp + kw * g->dw;
			w[t] = wp[kh * j->wsh + kw * j->wsw];
		}
		size_t q = 0;
		for (; q + 16 <= L; q += 16) {
			v8f v0 = {b, b, b, b, b, b, b, b}, v1 = v0;
			for (int64_t t = 0; t < taps; t++) {
				const float *x = pad + off[t] + q;
				v0 += w[t] * load8(x);
				v1 += w[t] * load8(x + 8);
			}
			store8(acc + q, v0);
			store8(acc + q + 8, v1);
		}
		for (; q < L; q++) {
			float v = b;
			for (int64_t t = 0; t < taps; t++)
				v += w[t] * pad[off[t] + (int64_t)q];
			acc[q] = v;
		}
		float *op = j->out + n * j->osn + co * j->osc;
		for (int64_t oh = 0; oh < g->oh; oh++) {
			float *d = op + oh * j->osh;
			const float *s = acc + oh * Wp;
			if (j->osw == 1)
				memcpy(d, s, (size_t)g->ow * sizeof(float));
			else
				for (int64_t ow = 0; ow < g->ow; ow++)
					d[ow * j->osw] = s[ow];
		}
	}
}

static infd_status conv_depthwise(const struct infd_kargs *A, struct conv_job *j, pthreadpool_t pool)
{
	const struct conv_geom *g = &j->g;
	if (g->c_out == g->groups && j->isc == 1 && j->osc == 1 && g->c_out > 1 &&
	    g->kh * g->kw <= DW_MAX_TAPS) {
		/* channels-last, one output channel per input channel */
		const size_t C = (size_t)g->c_out, taps = (size_t)(g->kh * g->kw);
		float *buf;
		infd_status st = infd__gemm_scratch(A, C * taps + (j->bias ? C : 0), &buf);
		if (st)
			return st;
		for (size_t c = 0; c < C; c++)
			for (size_t t = 0; t < taps; t++)
				buf[t * C + c] = j->w[(ptrdiff_t)c * j->wso +
						      (ptrdiff_t)(t / (size_t)g->kw) * j->wsh +
						      (ptrdiff_t)(t % (size_t)g->kw) * j->wsw];
		if (j->bias) {
			for (size_t c = 0; c < C; c++)
				buf[C * taps + c] = j->bias[(ptrdiff_t)c * j->bs];
			j->bias = buf + C * taps;
		}
		j->wt = buf;
		pthreadpool_parallelize_1d(pool, dw_nhwc_task, j, (size_t)(g->n * g->oh), 0);
		free(buf);
		return INFD_OK;
	}
	if (g->sh == 1 && g->sw == 1) {
		struct dw_flat_job f = {.j = j, .planes = (size_t)(g->n * g->c_out),
					.hp = g->h + 2 * g->ph, .wp = g->w + 2 * g->pw};
		f.tasks = min_sz(pool ? pthreadpool_get_threads_count(pool) : 1, f.planes);
		f.per = round_up((size_t)(f.hp * f.wp), 16) + round_up((size_t)(g->oh * f.wp), 16) +
			round_up(3 * (size_t)(g->kh * g->kw), 16);
		infd_status st = infd__gemm_scratch(A, f.per * f.tasks, &f.ws);
		if (st)
			return st;
		pthreadpool_parallelize_1d(pool, dw_flat_task, &f, f.tasks, 0);
		free(f.ws);
		return INFD_OK;
	}
	pthreadpool_parallelize_1d(pool, dw_plane_task, j, (size_t)(g->n * g->c_out), 0);
	return INFD_OK;
}

/* ---- Transposed: GEMM into columns, then scatter-add (col2im) ------------- */

/* y[i] += x[i] */
static inline void add_inl(size_t n, float *restrict y, const float *restrict x)
{
	INFD_VLOOP(n, i, y[i] += x[i];);
}

struct col2im_job {
	const struct conv_job *j;
	const float *col;
	size_t ncols;
	int64_t ih0, ih1;
	float *out; /* first channel of the group in one image */
	const float *bias;
	bool init;
	const int32_t *iw_lo, *iw_hi;
};

INFD_SIMD_CLONES static void col2im_task(void *ctx, size_t co)
{
	const struct col2im_job *c = ctx;
	const struct conv_job *j = c->j;
	const struct conv_geom *g = &j->g;
	float *op = c->out + (ptrdiff_t)co * j->osc;
	if (c->init) {
		const float b = c->bias ? c->bias[(ptrdiff_t)co * j->bs] : 0.0f;
		for (int64_t oh = 0; oh < g->oh; oh++)
			for (int64_t ow = 0; ow < g->ow; ow++)
				op[oh * j->osh + ow * j->osw] = b;
	}
	const ptrdiff_t step = (ptrdiff_t)(g->sw * j->osw);
	for (int64_t kh = 0; kh < g->kh; kh++)
		for (int64_t kw = 0; kw < g->kw; kw++) {
			const float *crow = c->col + (((int64_t)co * g->kh + kh) * g->kw + kw) * (int64_t)c->ncols;
			const int64_t lo = c->iw_lo[kw], hi = c->iw_hi[kw], offw = kw * g->dw - g->pw;
			if (lo >= hi)
				continue;
			for (int64_t ih = c->ih0; ih < c->ih1; ih++) {
				const int64_t oh = ih * g->sh + kh * g->dh - g->ph;
				if (oh < 0 || oh >= g->oh)
					continue;
				const float *src = crow + (ih - c->ih0) * g->w;
				float *dst = op + oh * j->osh + (lo * g->sw + offw) * j->osw;
				if (step == 1) {
					add_inl((size_t)(hi - lo), dst, src + lo);
				} else {
					for (int64_t iw = lo; iw < hi; iw++, dst += step)
						*dst += src[iw];
				}
			}
		}
}

#define COL_FLOATS ((size_t)1 << 20)

static infd_status conv_transposed(const struct infd_kargs *A, const struct conv_job *j,
				   pthreadpool_t pool)
{
	const struct conv_geom *g = &j->g;
	const int64_t cig = g->c_in / g->groups, cog = g->c_out / g->groups;
	const size_t m = (size_t)(cog * g->kh * g->kw), W = (size_t)g->w;
	size_t rows = W && m ? COL_FLOATS / (m * W) : 1;
	if (rows < 1)
		rows = 1;
	if (rows > (size_t)g->h)
		rows = (size_t)g->h ? (size_t)g->h : 1;
	const size_t ncols_max = rows * W, wsz = round_up(infd__gemm_ws_floats(m, ncols_max, (size_t)cig), 16);
	float *buf;
	infd_status st = infd__gemm_scratch(A, m * ncols_max + wsz + 2 * (size_t)g->kw, &buf);
	if (st)
		return st;
	float *col = buf, *ws = buf + m * ncols_max;
	int32_t *iw_lo = (int32_t *)(ws + wsz), *iw_hi = iw_lo + g->kw;
	for (int64_t kw = 0; kw < g->kw; kw++)
		tap_range(kw * g->dw - g->pw, g->sw, g->ow, g->w, &iw_lo[kw], &iw_hi[kw]);
	for (int64_t n = 0; n < g->n; n++)
		for (int64_t gi = 0; gi < g->groups; gi++) {
			const float *in = j->in + n * j->isn + gi * cig * j->isc;
			struct col2im_job c = {
				.j = j, .col = col, .out = j->out + n * j->osn + gi * cog * j->osc,
				.bias = j->bias ? j->bias + gi * cog * j->bs : NULL, .init = true,
				.iw_lo = iw_lo, .iw_hi = iw_hi,
			};
			for (int64_t ih0 = 0; ih0 < g->h || ih0 == 0; ih0 += (int64_t)rows) {
				const int64_t ih1 = ih0 + (int64_t)rows < g->h ? ih0 + (int64_t)rows : g->h;
				c.ih0 = ih0;
				c.ih1 = ih1;
				c.ncols = (size_t)(ih1 - ih0) * W;
				if (c.ncols) {
					struct gemm gm = {
						.m = m, .n = c.ncols, .k = (size_t)cig,
						.a = {j->w + gi * cig * j->wso, j->wsk, j->wso, NULL},
						.b = {in + ih0 * (int64_t)W * j->isp, j->isp, j->isc, NULL},
						.c = col, .crs = (ptrdiff_t)c.ncols, .ccs = 1,
						.alpha = 1.0f, .beta = 1.0f,
					};
					infd__gemm_run(&gm, ws, pool);
				}
				pthreadpool_parallelize_1d(pool, col2im_task, &c, (size_t)cog, 0);
				c.init = false;
				if (ih1 >= g->h)
					break;
			}
		}
	free(buf);
	return INFD_OK;
}

/* ---- Entry ------------------------------------------------------------------ */

/* One stride for dims of sizes n0, n1, n2 (outer to inner) walked as one, or false. */
static bool uniform3(int64_t n0, ptrdiff_t s0, int64_t n1, ptrdiff_t s1, int64_t n2, ptrdiff_t s2,
		     ptrdiff_t *s)
{
	struct infd_tensor t = {.rank = 3, .sizes = {(int32_t)n0, (int32_t)n1, (int32_t)n2},
				.strides = {s0, s1, s2}};
	return infd__gemm_flat_stride(&t, 0, 3, s);
}

/* The weight as a [c_out, K] matrix with K in the order the im2col view uses:
 * (ci, kh, kw), or (kh, kw, ci) for channels-last work. Copied into *buf when its
 * strides do not allow that. */
static infd_status conv_weight_matrix(const struct infd_kargs *A, struct conv_job *j, float **buf)
{
	const struct conv_geom *g = &j->g;
	const int64_t cig = g->c_in / g->groups, KH = g->kh, KW = g->kw;
	if (j->nhwc ? uniform3(KH, j->wsh, KW, j->wsw, cig, j->wsc, &j->wsk)
		    : uniform3(cig, j->wsc, KH, j->wsh, KW, j->wsw, &j->wsk))
		return INFD_OK;
	infd_status st = infd__gemm_scratch(A, (size_t)(g->c_out * cig * KH * KW), buf);
	if (st)
		return st;
	float *d = *buf;
	for (int64_t co = 0; co < g->c_out; co++)
		for (int64_t a = 0; a < (j->nhwc ? KH * KW : cig); a++)
			for (int64_t b = 0; b < (j->nhwc ? cig : KH * KW); b++) {
				const int64_t ci = j->nhwc ? b : a, t = j->nhwc ? a : b;
				*d++ = j->w[co * j->wso + ci * j->wsc + (t / KW) * j->wsh + (t % KW) * j->wsw];
			}
	j->w = *buf;
	j->wso = (ptrdiff_t)(cig * KH * KW);
	j->wsk = 1;
	return INFD_OK;
}

/* An int list argument of a convolution: 1 item (repeated) or one per spatial dim. */
static infd_status conv_list(const struct infd_kargs *A, uint32_t i, const char *name, uint32_t nsp,
			     int64_t lo, int64_t *out)
{
	int64_t v[INFD_MAX_RANK];
	int32_t cnt;
	infd_status st = infd__karg_int_list(A, i, name, false, v, INFD_MAX_RANK, &cnt);
	if (st)
		return st;
	if (cnt != 1 && cnt != (int32_t)nsp)
		return infd__kfail(A, INFD_BAD_INPUT, "%s must have 1 or %u items, got %d", name, nsp, cnt);
	for (uint32_t d = 0; d < nsp; d++) {
		out[d] = v[cnt == 1 ? 0 : d];
		if (out[d] < lo || out[d] > INT32_MAX)
			return infd__kfail(A, INFD_BAD_INPUT, "%s[%u] = %lld is out of range (must be >= %lld)",
					   name, d, (long long)out[d], (long long)lo);
	}
	return INFD_OK;
}

infd_status infd__k_convolution_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				    uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *x, *w, *bias;
	struct infd_tensor *out;
	bool transposed;
	int64_t groups;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::convolution.out", 11)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &x)) ||
	    (st = infd__karg_tensor(&A, 1, "weight", &w)) ||
	    (st = infd__karg_opt_tensor(&A, 2, "bias", &bias)) ||
	    (st = infd__karg_bool(&A, 6, "transposed", &transposed)) ||
	    (st = infd__karg_int(&A, 8, "groups", &groups)) || (st = infd__karg_out(&A, 9, 10, &out)) ||
	    (st = infd__gemm_need_f32(&A, x, "input")) || (st = infd__gemm_need_f32(&A, w, "weight")) ||
	    (bias && (st = infd__gemm_need_f32(&A, bias, "bias"))) ||
	    (st = infd__gemm_need_f32(&A, out, "out")))
		return st;
	char dx[160], dw[160];
	if (x->rank == 5)
		return infd__kfail(&A, INFD_UNSUPPORTED, "3-d convolution (input %s) is not supported",
				   describe(x, dx, sizeof dx));
	if ((x->rank != 3 && x->rank != 4) || w->rank != x->rank)
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "input %s and weight %s must both be 3-D (conv1d) or 4-D (conv2d)",
				   describe(x, dx, sizeof dx), describe(w, dw, sizeof dw));
	const uint32_t nsp = x->rank - 2;
	int64_t stride[2], pad[2], dil[2], opad[2];
	if ((st = conv_list(&A, 3, "stride", nsp, 1, stride)) ||
	    (st = conv_list(&A, 4, "padding", nsp, 0, pad)) ||
	    (st = conv_list(&A, 5, "dilation", nsp, 1, dil)) ||
	    (st = conv_list(&A, 7, "output_padding", nsp, 0, opad)))
		return st;
	if (groups < 1 || groups > INT32_MAX)
		return infd__kfail(&A, INFD_BAD_INPUT, "groups must be positive, got %lld",
				   (long long)groups);

	/* the 2-d view: dims (h, w) = the last two, or (1, L) */
	const bool one = nsp == 1;
	struct conv_job j = {0};
	struct conv_geom *g = &j.g;
	g->n = x->sizes[0];
	g->c_in = x->sizes[1];
	g->h = one ? 1 : x->sizes[2];
	g->w = x->sizes[x->rank - 1];
	g->kh = one ? 1 : w->sizes[2];
	g->kw = w->sizes[w->rank - 1];
	g->sh = one ? 1 : stride[0], g->sw = stride[nsp - 1];
	g->ph = one ? 0 : pad[0], g->pw = pad[nsp - 1];
	g->dh = one ? 1 : dil[0], g->dw = dil[nsp - 1];
	g->groups = groups;
	if (!transposed) {
		if (w->sizes[0] % groups)
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "weight %s: %d output channels are not divisible by groups=%lld",
					   describe(w, dw, sizeof dw), w->sizes[0], (long long)groups);
		if (g->c_in != (int64_t)w->sizes[1] * groups)
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "input %s has %lld channels; weight %s with groups=%lld expects %lld",
					   describe(x, dx, sizeof dx), (long long)g->c_in,
					   describe(w, dw, sizeof dw), (long long)groups,
					   (long long)w->sizes[1] * groups);
		g->c_out = w->sizes[0];
		const int64_t eh = g->h + 2 * g->ph - g->dh * (g->kh - 1) - 1;
		const int64_t ew = g->w + 2 * g->pw - g->dw * (g->kw - 1) - 1;
		if (eh < 0 || ew < 0)
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "kernel of weight %s (dilated) is larger than the padded input %s",
					   describe(w, dw, sizeof dw), describe(x, dx, sizeof dx));
		g->oh = eh / g->sh + 1;
		g->ow = ew / g->sw + 1;
	} else {
		if (g->c_in != w->sizes[0])
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "input %s has %lld channels; transposed weight %s expects %d",
					   describe(x, dx, sizeof dx), (long long)g->c_in,
					   describe(w, dw, sizeof dw), w->sizes[0]);
		if (g->c_in % groups)
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "%lld input channels are not divisible by groups=%lld",
					   (long long)g->c_in, (long long)groups);
		for (uint32_t d = 0; d < nsp; d++)
			if (opad[d] >= stride[d] && opad[d] >= dil[d])
				return infd__kfail(&A, INFD_BAD_INPUT,
						   "output_padding[%u] = %lld must be smaller than either "
						   "stride (%lld) or dilation (%lld)",
						   d, (long long)opad[d], (long long)stride[d], (long long)dil[d]);
		g->c_out = (int64_t)w->sizes[1] * groups;
		g->oh = one ? 1 : (g->h - 1) * g->sh - 2 * g->ph + g->dh * (g->kh - 1) + opad[0] + 1;
		g->ow = (g->w - 1) * g->sw - 2 * g->pw + g->dw * (g->kw - 1) + opad[nsp - 1] + 1;
		if (g->oh < 1 || g->ow < 1)
			return infd__kfail(&A, INFD_BAD_INPUT,
					   "transposed convolution of input %s with weight %s gives an empty "
					   "output size",
					   describe(x, dx, sizeof dx), describe(w, dw, sizeof dw));
	}
	if (g->oh > INT32_MAX || g->ow > INT32_MAX || g->c_out > INT32_MAX)
		return infd__kfail(&A, INFD_BAD_INPUT, "output too large");
	if (bias && (bias->rank != 1 || bias->sizes[0] != g->c_out))
		return infd__kfail(&A, INFD_BAD_INPUT, "bias %s must have shape [%lld]",
				   describe(bias, dx, sizeof dx), (long long)g->c_out);
	int32_t sizes[4] = {(int32_t)g->n, (int32_t)g->c_out, (int32_t)g->oh, (int32_t)g->ow};
	if (one)
		sizes[2] = (int32_t)g->ow;
	if ((st = infd__kout_resize(&A, out, x->rank, sizes)))
		return st;
	if (!out->numel)
		return INFD_OK;

	/* strides of the 2-d view */
	const int64_t *xs = x->strides, *ws_ = w->strides;
	j.isn = (ptrdiff_t)xs[0], j.isc = (ptrdiff_t)xs[1];
	j.isw = (ptrdiff_t)xs[x->rank - 1], j.ish = one ? (ptrdiff_t)(g->w * xs[2]) : (ptrdiff_t)xs[2];
	j.wso = (ptrdiff_t)ws_[0], j.wsc = (ptrdiff_t)ws_[1];
	j.wsw = (ptrdiff_t)ws_[w->rank - 1], j.wsh = one ? 0 : (ptrdiff_t)ws_[2];
	j.bs = bias ? (ptrdiff_t)bias->strides[0] : 0;
	j.in = x->data;
	j.w = w->data;
	j.bias = bias && bias->numel ? bias->data : NULL;

	/* out: flattened positions, or a contiguous buffer copied out at the end;
	 * a buffer too when out shares memory with an input */
	struct infd_tensor oc = infd__gemm_contiguous_like(out);
	const struct infd_tensor *ol = out;
	float *obuf = NULL, *wbuf = NULL, *xbuf = NULL, *ranges = NULL;
	ptrdiff_t osp;
	if (!infd__gemm_flat_stride(out, 2, out->rank, &osp) || infd__gemm_overlaps(out, x) ||
	    infd__gemm_overlaps(out, w) || infd__gemm_overlaps(out, bias)) {
		if ((st = infd__gemm_scratch(&A, (size_t)out->numel, &obuf)))
			return st;
		ol = &oc;
		infd__gemm_flat_stride(ol, 2, ol->rank, &osp);
	}
	j.out = obuf ? obuf : out->data;
	j.osn = (ptrdiff_t)ol->strides[0], j.osc = (ptrdiff_t)ol->strides[1];
	j.osw = (ptrdiff_t)ol->strides[ol->rank - 1];
	j.osh = one ? (ptrdiff_t)(g->ow * j.osw) : (ptrdiff_t)ol->strides[2];
	j.osp = osp;

	pthreadpool_t pool = ctx ? (pthreadpool_t)ctx->threadpool : NULL;
	const int64_t cig = g->c_in / groups;
	if (!g->n || !g->c_out) {
		/* nothing */
	} else if (transposed) {
		/* the input as a matrix [c_in, H*W]; the weight as [c_in, cog*KH*KW] */
		if (!infd__gemm_flat_stride(x, 2, x->rank, &j.isp)) {
			struct infd_tensor xc = infd__gemm_contiguous_like(x);
			if ((st = infd__gemm_scratch(&A, (size_t)x->numel, &xbuf)))
				goto out_free;
			infd__gemm_copy_layout(&xc, xbuf, x, x->data);
			j.in = xbuf;
			j.isn = (ptrdiff_t)xc.strides[0], j.isc = (ptrdiff_t)xc.strides[1];
			infd__gemm_flat_stride(&xc, 2, xc.rank, &j.isp);
		}
		if (!infd__gemm_flat_stride(w, 1, w->rank, &j.wsk)) {
			struct infd_tensor wc = infd__gemm_contiguous_like(w);
			if ((st = infd__gemm_scratch(&A, (size_t)w->numel, &wbuf)))
				goto out_free;
			infd__gemm_copy_layout(&wc, wbuf, w, w->data);
			j.w = wbuf;
			j.wso = (ptrdiff_t)wc.strides[0];
			j.wsk = 1;
		}
		st = conv_transposed(&A, &j, pool);
	} else {
		const size_t nk = (size_t)(g->kh > g->kw ? g->kh : g->kw);
		if ((st = infd__gemm_scratch(&A, 4 * nk, &ranges)))
			goto out_free;
		int32_t *r = (int32_t *)ranges;
		j.oh_lo = r, j.oh_hi = r + nk, j.ow_lo = r + 2 * nk, j.ow_hi = r + 3 * nk;
		for (int64_t kh = 0; kh < g->kh; kh++)
			tap_range(kh * g->dh - g->ph, g->sh, g->h, g->oh, &r[kh], &r[nk + (size_t)kh]);
		for (int64_t kw = 0; kw < g->kw; kw++)
			tap_range(kw * g->dw - g->pw, g->sw, g->w, g->ow, &r[2 * nk + (size_t)kw],
				  &r[3 * nk + (size_t)kw]);
		if (cig == 1 && groups > 1) {
			st = conv_depthwise(&A, &j, pool);
		} else {
			j.pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 &&
				      g->pw == 0 && infd__gemm_flat_stride(x, 2, x->rank, &j.isp);
			j.nhwc = j.osc == 1 && j.osp != 1;
			if ((st = conv_weight_matrix(&A, &j, &wbuf)))
				goto out_free;
			st = infd__gemm_run_batch(&A, (size_t)(g->n * groups), conv_item, &j);
		}
	}
	if (!st && obuf)
		infd__gemm_copy_layout(out, out->data, &oc, obuf);
out_free:
	free(obuf);
	free(wbuf);
	free(xbuf);
	free(ranges);
	return st;
}
