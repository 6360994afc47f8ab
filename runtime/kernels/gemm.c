/* The float32 SGEMM engine (see gemm.h): packing, the 6x16 micro-kernels (AVX2/FMA
 * where the CPU has it), the cache-blocked driver, a no-packing path for a few rows,
 * the many-GEMM runner and the float32 operand helpers of linalg.c and conv.c. */
#include "gemm.h"

#include <stdlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LINALG_X86 1
#endif

/* Packing copies MR (A) or NR (B) lanes of an operand into contiguous k-major
 * panels, zero-padded, so the micro-kernel never sees an edge. */

#define MR 6        /* micro-tile rows */
#define NR 16       /* micro-tile columns */
#define KC_MAX 320  /* deepest K block */
#define MC 144      /* rows of one compute task (multiple of MR) */
#define NCT 256     /* columns of one compute task (multiple of NR) */
#define MCO 1440    /* rows of A packed at once (multiple of MC) */
#define NCO 2048    /* columns of B packed at once (multiple of NCT) */
#define SMALL_M 4   /* at most this many rows (or columns): no packing */
#define SMALL_CH 64 /* columns per task in the small-M path */
#define SERIAL_FLOPS 2000000.0 /* below this, one thread does it all */

/* Depth of the K blocks: K split evenly into blocks of at most KC_MAX. */
static size_t k_block(size_t k)
{
	size_t nb = (k + KC_MAX - 1) / KC_MAX;
	return nb ? (k + nb - 1) / nb : 0;
}

/* ---- Micro-kernels --------------------------------------------------------- */

/* C[MR][NR] (row stride ldc) = (acc ? C : 0) + the product of an MR-lane A panel
 * and an NR-lane B panel, kc deep (summed in k order). */
typedef void (*ukr_fn)(size_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
		       bool acc);

static void ukr_c(size_t kc, const float *restrict a, const float *restrict b, float *restrict c,
		  ptrdiff_t ldc, bool acc)
{
	float t[MR][NR];
	memset(t, 0, sizeof t);
	for (size_t k = 0; k < kc; k++, a += MR, b += NR)
		for (int i = 0; i < MR; i++) {
			const float av = a[i];
			for (int j = 0; j < NR; j++)
				t[i][j] += av * b[j];
		}
	for (int i = 0; i < MR; i++)
		for (int j = 0; j < NR; j++)
			c[i * ldc + j] = acc ? c[i * ldc + j] + t[i][j] : t[i][j];
}

/* 16 lanes of a matrix whose lanes are rows (contiguous along k), transposed into
 * a k-major panel: dst[k*16 + l] = p[l*ls + k]. */
typedef void (*pack16_fn)(const float *p, ptrdiff_t ls, size_t kc, float *dst);

static void pack16_c(const float *restrict p, ptrdiff_t ls, size_t kc, float *restrict dst)
{
	for (size_t k = 0; k < kc; k++, dst += NR)
		for (size_t l = 0; l < NR; l++)
			dst[l] = p[(ptrdiff_t)l * ls + (ptrdiff_t)k];
}

#ifdef LINALG_X86
#define UKR_ROW(i, c0, c1)                                                                 \
	av = _mm256_broadcast_ss(a + i);                                                   \
	c0 = _mm256_fmadd_ps(av, b0, c0);                                                  \
	c1 = _mm256_fmadd_ps(av, b1, c1)
#define UKR_OUT(i, c0, c1)                                                                 \
	if (acc) {                                                                         \
		c0 = _mm256_add_ps(_mm256_loadu_ps(c + i * ldc), c0);                      \
		c1 = _mm256_add_ps(_mm256_loadu_ps(c + i * ldc + 8), c1);                  \
	}                                                                                  \
	_mm256_storeu_ps(c + i * ldc, c0);                                                 \
	_mm256_storeu_ps(c + i * ldc + 8, c1)

__attribute__((target("avx2,fma"))) static void ukr_avx2(size_t kc, const float *restrict a,
							  const float *restrict b, float *restrict c,
							  ptrdiff_t ldc, bool acc)
{
	__m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
	__m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
	for (int i = 0; i < MR; i++)
		_mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
	for (size_t k = 0; k < kc; k++, a += MR, b += NR) {
		const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
		__m256 av;
		UKR_ROW(0, c00, c01);
		UKR_ROW(1, c10, c11);
		UKR_ROW(2, c20, c21);
		UKR_ROW(3, c30, c31);
		UKR_ROW(4, c40, c41);
		UKR_ROW(5, c50, c51);
	}
	UKR_OUT(0, c00, c01);
	UKR_OUT(1, c10, c11);
	UKR_OUT(2, c20, c21);
	UKR_OUT(3, c30, c31);
	UKR_OUT(4, c40, c41);
	UKR_OUT(5, c50, c51);
}
#undef UKR_ROW
#undef UKR_OUT

/* Eight rows of eight floats -> eight columns (o[j] = element j of every row). */
#define TRANSPOSE8(r, o)                                                                    \
	do {                                                                               \
		const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]); \
		const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]); \
		const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]); \
		const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]); \
		const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee); \
		const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee); \
		const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee); \
		const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee); \
		o[0] = _mm256_permute2f128_ps(u0, u4, 0x20);                               \
		o[1] = _mm256_permute2f128_ps(u1, u5, 0x20);                               \
		o[2] = _mm256_permute2f128_ps(u2, u6, 0x20);                               \
		o[3] = _mm256_permute2f128_ps(u3, u7, 0x20);                               \
		o[4] = _mm256_permute2f128_ps(u0, u4, 0x31);                               \
		o[5] = _mm256_permute2f128_ps(u1, u5, 0x31);                               \
		o[6] = _mm256_permute2f128_ps(u2, u6, 0x31);                               \
		o[7] = _mm256_permute2f128_ps(u3, u7, 0x31);                               \
	} while (0)

__attribute__((target("avx2,fma"))) static void pack16_avx2(const float *restrict p, ptrdiff_t ls,
							     size_t kc, float *restrict dst)
{
	size_t k = 0;
	for (; k + 8 <= kc; k += 8)
		for (int h = 0; h < 2; h++) {
			__m256 r[8], o[8];
			for (int i = 0; i < 8; i++)
				r[i] = _mm256_loadu_ps(p + (ptrdiff_t)(h * 8 + i) * ls + (ptrdiff_t)k);
			TRANSPOSE8(r, o);
			for (int j = 0; j < 8; j++)
				_mm256_storeu_ps(dst + (k + (size_t)j) * NR + (size_t)h * 8, o[j]);
		}
	if (k < kc)
		pack16_c(p + k, ls, kc - k, dst + k * NR);
}
#undef TRANSPOSE8

/* The kernels for this CPU (AVX2 + FMA, or plain C). */
static bool cpu_avx2(void)
{
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static ukr_fn pick_ukr(void)
{
	return cpu_avx2() ? ukr_avx2 : ukr_c;
}

static pack16_fn pick_pack16(void)
{
	return cpu_avx2() ? pack16_avx2 : pack16_c;
}
#else
static ukr_fn pick_ukr(void)
{
	return ukr_c;
}

static pack16_fn pick_pack16(void)
{
	return pack16_c;
}
#endif

/* ---- Packing ---------------------------------------------------------------- */

/* Panel of `nl` lanes from l0 and kc steps from k0, P lanes wide (zero-padded):
 * dst[k*P + l] = op(l0 + l, k0 + k). P is a constant where inlined (MR, NR). */
static inline __attribute__((always_inline)) void
pack_strided_p(const struct gemm_op *op, size_t l0, size_t nl, size_t k0, size_t kc, const size_t P,
	       float *restrict dst, pack16_fn pack16)
{
	const ptrdiff_t ls = op->ls, ks = op->ks;
	const float *p = op->p + (ptrdiff_t)l0 * ls + (ptrdiff_t)k0 * ks;
	if (nl == P && ls == 1) {
		for (size_t k = 0; k < kc; k++, dst += P)
			for (size_t l = 0; l < P; l++)
				dst[l] = p[(ptrdiff_t)k * ks + (ptrdiff_t)l];
		return;
	}
	if (nl == P && ks == 1 && P == NR) {
		pack16(p, ls, kc, dst);
		return;
	}
	if (nl == P && ks == 1) {
		for (size_t k = 0; k < kc; k++, dst += P)
			for (size_t l = 0; l < P; l++)
				dst[l] = p[(ptrdiff_t)l * ls + (ptrdiff_t)k];
		return;
	}
	for (size_t k = 0; k < kc; k++, dst += P) {
		for (size_t l = 0; l < nl; l++)
			dst[l] = p[(ptrdiff_t)l * ls + (ptrdiff_t)k * ks];
		for (size_t l = nl; l < P; l++)
			dst[l] = 0.0f;
	}
}

static void pack_strided(const struct gemm_op *op, size_t l0, size_t nl, size_t k0, size_t kc,
			 size_t P, float *restrict dst, pack16_fn pack16)
{
	if (P == NR)
		pack_strided_p(op, l0, nl, k0, kc, NR, dst, pack16);
	else
		pack_strided_p(op, l0, nl, k0, kc, MR, dst, pack16);
}

/* Lanes [l, l+n) of row kk of a block of NR-lane panels kc deep: from src (step
 * apart), or zeros when src is NULL. */
static void put_lanes(float *restrict blk, size_t kc, size_t kk, size_t l, size_t n,
		      const float *restrict src, ptrdiff_t step)
{
	while (n) {
		const size_t q = l / NR, off = l % NR, c = min_sz(n, NR - off);
		float *restrict d = blk + (q * kc + kk) * NR + off;
		if (!src) {
			for (size_t i = 0; i < c; i++)
				d[i] = 0.0f;
		} else if (step == 1) {
			for (size_t i = 0; i < c; i++)
				d[i] = src[i];
			src += c;
		} else {
			for (size_t i = 0; i < c; i++)
				d[i] = src[(ptrdiff_t)i * step];
			src += (ptrdiff_t)c * step;
		}
		l += c;
		n -= c;
	}
}

/* Row kk (tap k0 + kk) of the B panels for lanes (output positions) [p0, p0+np) of
 * an im2col view, whole image rows at a time. Out-of-image taps read as zero. */
static void pack_im2col_row(const struct im2col *ic, size_t p0, size_t np, size_t k, size_t kk,
			    size_t kc, float *blk)
{
	const struct conv_geom *g = ic->g;
	const int64_t OW = g->ow, KW = g->kw, KH = g->kh;
	const int64_t ci = (int64_t)k / (KH * KW), r = (int64_t)k % (KH * KW);
	const int64_t kh = r / KW, kw = r % KW;
	const int64_t oh_lo = ic->oh_lo[kh], oh_hi = ic->oh_hi[kh];
	const int64_t ow_lo = ic->ow_lo[kw], ow_hi = ic->ow_hi[kw];
	const int64_t offw = kw * g->dw - g->pw, offh = kh * g->dh - g->ph;
	const ptrdiff_t step = (ptrdiff_t)(g->sw * ic->sw);
	const float *plane = ic->in + ci * ic->sc;
	int64_t oh = (int64_t)p0 / OW, ow = (int64_t)p0 % OW;
	for (size_t l = 0; l < np; ow = 0, oh++) {
		const int64_t seg = (int64_t)(np - l) < OW - ow ? (int64_t)(np - l) : OW - ow;
		if (oh < oh_lo || oh >= oh_hi) {
			put_lanes(blk, kc, kk, l, (size_t)seg, NULL, 0);
		} else {
			const float *row = plane + (oh * g->sh + offh) * ic->sh;
			int64_t lo = ow > ow_lo ? ow : ow_lo, hi = ow + seg < ow_hi ? ow + seg : ow_hi;
			if (lo > ow + seg)
				lo = ow + seg;
			if (hi < lo)
				hi = lo;
			put_lanes(blk, kc, kk, l, (size_t)(lo - ow), NULL, 0);
			put_lanes(blk, kc, kk, l + (size_t)(lo - ow), (size_t)(hi - lo),
				  row + (lo * g->sw + offw) * ic->sw, step);
			put_lanes(blk, kc, kk, l + (size_t)(hi - ow), (size_t)(ow + seg - hi), NULL, 0);
		}
		l += (size_t)seg;
	}
	put_lanes(blk, kc, kk, np, round_up(np, NR) - np, NULL, 0);
}

/* The same from an im2col view: the lanes are output positions p0.., the steps
 * kernel taps (ci, kh, kw) from k0. Out-of-image taps read as zero. */
static void pack_im2col(const struct im2col *ic, size_t p0, size_t nl, size_t k0, size_t kc,
			size_t P, float *restrict dst)
{
	const struct conv_geom *g = ic->g;
	const int64_t OW = g->ow, KW = g->kw, KH = g->kh;
	int64_t ci = (int64_t)k0 / (KH * KW), r = (int64_t)k0 % (KH * KW);
	int64_t kh = r / KW, kw = r % KW;
	const int64_t oh0 = (int64_t)p0 / OW, ow0 = (int64_t)p0 % OW;
	const ptrdiff_t isw = ic->sw;
	for (size_t k = 0; k < kc; k++, dst += P) {
		const int64_t oh_lo = ic->oh_lo[kh], oh_hi = ic->oh_hi[kh];
		const int64_t ow_lo = ic->ow_lo[kw], ow_hi = ic->ow_hi[kw];
		const int64_t offw = kw * g->dw - g->pw, offh = kh * g->dh - g->ph;
		const float *plane = ic->in + ci * ic->sc;
		size_t l = 0;
		int64_t oh = oh0, ow = ow0;
		while (l < nl) {
			int64_t seg = (int64_t)(nl - l) < OW - ow ? (int64_t)(nl - l) : OW - ow;
			float *d = dst + l - ow; /* d[o] for o in [ow, ow + seg) */
			if (oh < oh_lo || oh >= oh_hi) {
				zero_f(d + ow, (size_t)seg);
			} else {
				const float *row = plane + (oh * g->sh + offh) * ic->sh;
				int64_t lo = ow > ow_lo ? ow : ow_lo, hi = ow + seg < ow_hi ? ow + seg : ow_hi;
				if (lo > ow + seg)
					lo = ow + seg;
				if (hi < lo)
					hi = lo;
				zero_f(d + ow, (size_t)(lo - ow));
				if (g->sw * isw == 1) {
					memcpy(d + lo, row + lo + offw, (size_t)(hi - lo) * sizeof(float));
				} else {
					const ptrdiff_t step = (ptrdiff_t)(g->sw * isw);
					const float *s = row + (lo * g->sw + offw) * isw;
					for (int64_t o = lo; o < hi; o++, s += step)
						d[o] = *s;
				}
				zero_f(d + hi, (size_t)(ow + seg - hi));
			}
			l += (size_t)seg;
			ow = 0;
			oh++;
		}
		zero_f(dst + nl, P - nl);
		if (++kw == KW) {
			kw = 0;
			if (++kh == KH) {
				kh = 0;
				ci++;
			}
		}
	}
}

/* The same with k = (kh, kw, ci): runs of input channels, contiguous in a
 * channels-last input. */
static void pack_im2col_hwc(const struct im2col *ic, size_t p0, size_t nl, size_t k0, size_t kc,
			    size_t P, float *restrict dst)
{
	const struct conv_geom *g = ic->g;
	const int64_t OW = g->ow, KW = g->kw, cig = g->c_in / g->groups;
	const int64_t k1 = (int64_t)(k0 + kc);
	const ptrdiff_t sc = ic->sc;
	const int64_t tap0 = (int64_t)k0 / cig, ci00 = (int64_t)k0 % cig;
	const int64_t kh0 = tap0 / KW, kw0 = tap0 % KW;
	int64_t oh = (int64_t)p0 / OW, ow = (int64_t)p0 % OW;
	for (size_t l = 0; l < nl; l++) {
		int64_t kh = kh0, kw = kw0, ci0 = ci00;
		for (int64_t k = (int64_t)k0; k < k1;) {
			const int64_t cnt = cig - ci0 < k1 - k ? cig - ci0 : k1 - k;
			float *d = dst + (size_t)(k - (int64_t)k0) * P + l;
			if (oh >= ic->oh_lo[kh] && oh < ic->oh_hi[kh] && ow >= ic->ow_lo[kw] &&
			    ow < ic->ow_hi[kw]) {
				const float *src = ic->in + (oh * g->sh - g->ph + kh * g->dh) * ic->sh +
						   (ow * g->sw - g->pw + kw * g->dw) * ic->sw + ci0 * sc;
				for (int64_t c = 0; c < cnt; c++)
					d[(size_t)c * P] = src[c * sc];
			} else {
				for (int64_t c = 0; c < cnt; c++)
					d[(size_t)c * P] = 0.0f;
			}
			k += cnt;
			ci0 = 0;
			if (++kw == KW) {
				kw = 0;
				kh++;
			}
		}
		if (++ow == OW) {
			ow = 0;
			oh++;
		}
	}
	for (size_t k = 0; k < kc; k++)
		for (size_t l = nl; l < P; l++)
			dst[k * P + l] = 0.0f;
}

static void pack_panel(const struct gemm_op *op, size_t l0, size_t nl, size_t k0, size_t kc,
		       size_t P, float *dst, pack16_fn pack16)
{
	if (op->conv && op->conv->hwc)
		pack_im2col_hwc(op->conv, l0, nl, k0, kc, P, dst);
	else if (op->conv)
		pack_im2col(op->conv, l0, nl, k0, kc, P, dst);
	else
		pack_strided(op, l0, nl, k0, kc, P, dst, pack16);
}

/* Packing of a B block and (optionally) an A block as one parallel step: tasks
 * [0, nb) pack B (panels, or rows of an im2col view), the rest A panels. */
struct pack_job {
	const struct gemm_op *a, *b;
	size_t m0, mlanes, n0, nlanes, k0, kc, nb;
	float *apack, *bpack;
	bool b_rows;
	pack16_fn pack16;
};

static void pack_task(void *ctx, size_t t)
{
	const struct pack_job *j = ctx;
	if (t < j->nb && j->b_rows) {
		pack_im2col_row(j->b->conv, j->n0, j->nlanes, j->k0 + t, t, j->kc, j->bpack);
	} else if (t < j->nb) {
		const size_t l = t * NR;
		pack_panel(j->b, j->n0 + l, min_sz(NR, j->nlanes - l), j->k0, j->kc, NR,
			   j->bpack + l * j->kc, j->pack16);
	} else {
		const size_t l = (t - j->nb) * MR;
		pack_panel(j->a, j->m0 + l, min_sz(MR, j->mlanes - l), j->k0, j->kc, MR,
			   j->apack + l * j->kc, j->pack16);
	}
}

/* ---- Storing results ---------------------------------------------------- */

/* Each element of C is summed as: alpha == 1: beta*bias + AB_0 + AB_1 + ... (the
 * K blocks in order); otherwise alpha * (AB_0 + AB_1 + ...) + beta*bias. */

/* Rows [i, i+mr) x columns [j, j+nr) of C from t (row stride ldt): the first K
 * block stores, later ones add; the last one applies alpha. */
static void store_tile(const struct gemm *g, const float *t, size_t ldt, size_t mr, size_t nr,
		       size_t i, size_t j, bool first, bool last)
{
	const ptrdiff_t cs = g->ccs, bcs = g->bcs;
	const bool scale = g->alpha != 1.0f;
	const bool bias_first = first && g->bias && !scale, bias_last = last && g->bias && scale;
	const float alpha = g->alpha, beta = g->beta;
	for (size_t r = 0; r < mr; r++) {
		const float *restrict tr = t + r * ldt;
		float *c = g->c + (ptrdiff_t)(i + r) * g->crs + (ptrdiff_t)j * cs;
		const float *b = g->bias ? g->bias + (ptrdiff_t)(i + r) * g->brs + (ptrdiff_t)j * bcs : NULL;
		for (size_t j0 = 0; j0 < nr; j0 += 64) {
			const size_t n = min_sz(64, nr - j0);
			const float *bb = b ? b + (ptrdiff_t)j0 * bcs : NULL;
			float v[64];
			if (bias_first)
				for (size_t x = 0; x < n; x++)
					v[x] = beta * bb[(ptrdiff_t)x * bcs] + tr[j0 + x];
			else if (first)
				memcpy(v, tr + j0, n * sizeof(float));
			else if (cs == 1)
				for (size_t x = 0; x < n; x++)
					v[x] = c[j0 + x] + tr[j0 + x];
			else
				for (size_t x = 0; x < n; x++)
					v[x] = c[(ptrdiff_t)(j0 + x) * cs] + tr[j0 + x];
			if (last && scale)
				for (size_t x = 0; x < n; x++)
					v[x] *= alpha;
			if (bias_last)
				for (size_t x = 0; x < n; x++)
					v[x] += beta * bb[(ptrdiff_t)x * bcs];
			if (cs == 1)
				memcpy(c + j0, v, n * sizeof(float));
			else
				for (size_t x = 0; x < n; x++)
					c[(ptrdiff_t)(j0 + x) * cs] = v[x];
		}
	}
}

/* A full MR x NR tile straight into C (unit column stride, alpha == 1), summed
 * in the same order as store_tile. */
static void ukr_into_c(const struct gemm *g, ukr_fn ukr, size_t kc, const float *a, const float *b,
		       size_t i, size_t j, bool first)
{
	float *c = g->c + (ptrdiff_t)i * g->crs + (ptrdiff_t)j;
	if (first && g->bias) {
		const float beta = g->beta;
		const ptrdiff_t bcs = g->bcs;
		for (size_t r = 0; r < MR; r++) {
			const float *bb = g->bias + (ptrdiff_t)(i + r) * g->brs + (ptrdiff_t)j * bcs;
			float *cr = c + (ptrdiff_t)r * g->crs;
			if (bcs == 0)
				for (size_t x = 0; x < NR; x++)
					cr[x] = beta * bb[0];
			else if (bcs == 1)
				for (size_t x = 0; x < NR; x++)
					cr[x] = beta * bb[x];
			else
				for (size_t x = 0; x < NR; x++)
					cr[x] = beta * bb[(ptrdiff_t)x * bcs];
		}
		first = false;
	}
	ukr(kc, a, b, c, g->crs, !first);
}

/* ---- The blocked driver ------------------------------------------------- */

struct gemm_pass {
	const struct gemm *g;
	ukr_fn ukr;
	const float *apack, *bpack;
	size_t m0, n0, kc;
	bool first, last;
};

static void compute_task(void *ctx, size_t i0, size_t j0, size_t mi, size_t nj)
{
	const struct gemm_pass *p = ctx;
	float tile[MR * NR] __attribute__((aligned(32)));
	const bool direct = p->g->ccs == 1 && p->g->alpha == 1.0f;
	for (size_t jr = j0; jr < j0 + nj; jr += NR) {
		const size_t nr = min_sz(NR, j0 + nj - jr);
		const float *bp = p->bpack + jr * p->kc;
		for (size_t ir = i0; ir < i0 + mi; ir += MR) {
			const size_t mr = min_sz(MR, i0 + mi - ir);
			const float *ap = p->apack + ir * p->kc;
			if (direct && mr == MR && nr == NR) {
				ukr_into_c(p->g, p->ukr, p->kc, ap, bp, p->m0 + ir, p->n0 + jr, p->first);
			} else {
				p->ukr(p->kc, ap, bp, tile, NR, false);
				store_tile(p->g, tile, NR, mr, nr, p->m0 + ir, p->n0 + jr, p->first,
					   p->last);
			}
		}
	}
}

static void gemm_blocked(const struct gemm *g, float *ws, pthreadpool_t pool)
{
	const size_t kcb = k_block(g->k);
	float *apack = ws, *bpack = ws + round_up(min_sz(g->m, MCO), MR) * kcb;
	struct gemm_pass pass = {.g = g, .ukr = pick_ukr(), .apack = apack, .bpack = bpack};
	const size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
	for (size_t n0 = 0; n0 < g->n; n0 += NCO) {
		const size_t nco = min_sz(NCO, g->n - n0);
		for (size_t k0 = 0; k0 < g->k; k0 += kcb) {
			const size_t kc = min_sz(kcb, g->k - k0);
			struct pack_job pj = {.a = &g->a, .b = &g->b, .n0 = n0, .nlanes = nco,
					      .k0 = k0, .kc = kc, .apack = apack, .bpack = bpack,
					      .b_rows = g->b.conv && !g->b.conv->hwc,
					      .pack16 = pick_pack16()};
			pj.nb = pj.b_rows ? kc : (nco + NR - 1) / NR;
			for (size_t m0 = 0; m0 < g->m; m0 += MCO) {
				const size_t mco = min_sz(MCO, g->m - m0);
				const size_t na = (mco + MR - 1) / MR;
				pj.m0 = m0;
				pj.mlanes = mco;
				if (m0 == 0) {
					pthreadpool_parallelize_1d(pool, pack_task, &pj, pj.nb + na, 0);
				} else {
					/* B is packed: A's panels only */
					struct pack_job pa = pj;
					pa.nb = 0;
					pthreadpool_parallelize_1d(pool, pack_task, &pa, na, 0);
				}
				pass.m0 = m0;
				pass.n0 = n0;
				pass.kc = kc;
				pass.first = k0 == 0;
				pass.last = k0 + kc == g->k;
				/* smaller tasks when there are too few for the threads (the
				 * sums do not depend on the tiling) */
				size_t mc = MC, nct = NCT;
				while (threads > 1 && (mco + mc - 1) / mc * ((nco + nct - 1) / nct) < 2 * threads) {
					if (nct > 4 * NR)
						nct /= 2;
					else if (mc > 4 * MR)
						mc = round_up(mc / 2, MR);
					else
						break;
				}
				pthreadpool_parallelize_2d_tile_2d(pool, compute_task, &pass, mco, nco, mc,
								   nct, 0);
			}
		}
	}
}

/* ---- Few rows: no packing ---------------------------------------------- */

/* The end of one dot product: lanes lo/hi hold 16 interleaved partial sums (k mod
 * 16) of the first k terms; the tail adds into lanes 0.., then a fixed tree. */
static inline float dot_finish(const v8f *lo, const v8f *hi, const float *a, const float *b,
			       size_t k, size_t K)
{
	float acc[16];
	store8(acc, *lo);
	store8(acc + 8, *hi);
	for (size_t j = 0; k < K; k++, j++)
		acc[j] += a[k] * b[k];
	for (int w = 8; w >= 1; w /= 2)
		for (int j = 0; j < w; j++)
			acc[j] += acc[j + w];
	return acc[0];
}

/* out[r*C + c] = dot(a[r], b[c]) over K for R rows and C columns at once (8
 * independent chains of partial sums in the wide forms). */
#define DOT_TERM(L, H, A0, A1, BP)                                                         \
	L += A0 * load8((BP) + k);                                                         \
	H += A1 * load8((BP) + k + 8)
#define DOT_LOADS(A0, A1, AP)                                                              \
	const v8f A0 = load8((AP) + k), A1 = load8((AP) + k + 8)

INFD_SIMD_CLONES static void dot1x1(size_t K, const float *const *a, const float *const *b,
				    float *out)
{
	v8f l0 = {0}, h0 = {0};
	size_t k = 0;
	for (; k + 16 <= K; k += 16) {
		DOT_LOADS(x0, y0, a[0]);
		DOT_TERM(l0, h0, x0, y0, b[0]);
	}
	out[0] = dot_finish(&l0, &h0, a[0], b[0], k, K);
}

INFD_SIMD_CLONES static void dot1x4(size_t K, const float *const *a, const float *const *b,
				    float *out)
{
	v8f l0 = {0}, h0 = {0}, l1 = {0}, h1 = {0}, l2 = {0}, h2 = {0}, l3 = {0}, h3 = {0};
	size_t k = 0;
	for (; k + 16 <= K; k += 16) {
		DOT_LOADS(x0, y0, a[0]);
		DOT_TERM(l0, h0, x0, y0, b[0]);
		DOT_TERM(l1, h1, x0, y0, b[1]);
		DOT_TERM(l2, h2, x0, y0, b[2]);
		DOT_TERM(l3, h3, x0, y0, b[3]);
	}
	out[0] = dot_finish(&l0, &h0, a[0], b[0], k, K);
	out[1] = dot_finish(&l1, &h1, a[0], b[1], k, K);
	out[2] = dot_finish(&l2, &h2, a[0], b[2], k, K);
	out[3] = dot_finish(&l3, &h3, a[0], b[3], k, K);
}

INFD_SIMD_CLONES static void dot2x1(size_t K, const float *const *a, const float *const *b,
				    float *out)
{
	v8f l0 = {0}, h0 = {0}, l1 = {0}, h1 = {0};
	size_t k = 0;
	for (; k + 16 <= K; k += 16) {
		DOT_LOADS(x0, y0, a[0]);
		DOT_LOADS(x1, y1, a[1]);
		DOT_TERM(l0, h0, x0, y0, b[0]);
		DOT_TERM(l1, h1, x1, y1, b[0]);
	}
	out[0] = dot_finish(&l0, &h0, a[0], b[0], k, K);
	out[1] = dot_finish(&l1, &h1, a[1], b[0], k, K);
}

INFD_SIMD_CLONES static void dot2x2(size_t K, const float *const *a, const float *const *b,
				    float *out)
{
	v8f l0 = {0}, h0 = {0}, l1 = {0}, h1 = {0}, l2 = {0}, h2 = {0}, l3 = {0}, h3 = {0};
	size_t k = 0;
	for (; k + 16 <= K; k += 16) {
		DOT_LOADS(x0, y0, a[0]);
		DOT_LOADS(x1, y1, a[1]);
		DOT_TERM(l0, h0, x0, y0, b[0]);
		DOT_TERM(l1, h1, x0, y0, b[1]);
		DOT_TERM(l2, h2, x1, y1, b[0]);
		DOT_TERM(l3, h3, x1, y1, b[1]);
	}
	out[0] = dot_finish(&l0, &h0, a[0], b[0], k, K);
	out[1] = dot_finish(&l1, &h1, a[0], b[1], k, K);
	out[2] = dot_finish(&l2, &h2, a[1], b[0], k, K);
	out[3] = dot_finish(&l3, &h3, a[1], b[1], k, K);
}

INFD_SIMD_CLONES static void dot4x1(size_t K, const float *const *a, const float *const *b,
				    float *out)
{
	v8f l0 = {0}, h0 = {0}, l1 = {0}, h1 = {0}, l2 = {0}, h2 = {0}, l3 = {0}, h3 = {0};
	size_t k = 0;
	for (; k + 16 <= K; k += 16) {
		const v8f b0 = load8(b[0] + k), b1 = load8(b[0] + k + 8);
		l0 += load8(a[0] + k) * b0;
		h0 += load8(a[0] + k + 8) * b1;
		l1 += load8(a[1] + k) * b0;
		h1 += load8(a[1] + k + 8) * b1;
		l2 += load8(a[2] + k) * b0;
		h2 += load8(a[2] + k + 8) * b1;
		l3 += load8(a[3] + k) * b0;
		h3 += load8(a[3] + k + 8) * b1;
	}
	out[0] = dot_finish(&l0, &h0, a[0], b[0], k, K);
	out[1] = dot_finish(&l1, &h1, a[1], b[0], k, K);
	out[2] = dot_finish(&l2, &h2, a[2], b[0], k, K);
	out[3] = dot_finish(&l3, &h3, a[3], b[0], k, K);
}
#undef DOT_TERM
#undef DOT_LOADS

/* y[0..n) += a * x[0..n) */
INFD_SIMD_CLONES static void axpy_f32(size_t n, float *restrict y, const float *restrict x, float a)
{
	INFD_VLOOP(n, i, y[i] += a * x[i];);
}

struct small_job {
	const struct gemm *g;
	const float *arow[SMALL_M]; /* A's rows, contiguous along k */
	bool dot;                   /* B's lanes contiguous along k (else along n) */
};

static void small_task(void *ctx, size_t chunk)
{
	const struct small_job *s = ctx;
	const struct gemm *g = s->g;
	const size_t j0 = chunk * SMALL_CH, nc = min_sz(SMALL_CH, g->n - j0), m = g->m;
	float t[SMALL_M * SMALL_CH];
	if (s->dot) {
		const float *rows[4] = {s->arow[0], s->arow[m > 1], s->arow[m > 2 ? 2 : 0],
					s->arow[m > 3 ? 3 : 0]};
		const float *b[4];
		float o[4];
		for (size_t j = 0; j < nc;) {
			const size_t cols = m == 1 && j + 4 <= nc ? 4 : m == 2 && j + 2 <= nc ? 2 : 1;
			for (size_t c = 0; c < cols; c++)
				b[c] = g->b.p + (ptrdiff_t)(j0 + j + c) * g->b.ls;
			if (m == 1 && cols == 4)
				dot1x4(g->k, rows, b, o);
			else if (m == 1)
				dot1x1(g->k, rows, b, o);
			else if (m == 2 && cols == 2)
				dot2x2(g->k, rows, b, o);
			else if (m == 2)
				dot2x1(g->k, rows, b, o);
			else
				dot4x1(g->k, rows, b, o);
			for (size_t r = 0; r < m; r++)
				for (size_t c = 0; c < cols; c++)
					t[r * SMALL_CH + j + c] = o[r * cols + c];
			j += cols;
		}
	} else {
		zero_f(t, sizeof t / sizeof t[0]);
		for (size_t k = 0; k < g->k; k++) {
			const float *b = g->b.p + (ptrdiff_t)k * g->b.ks + (ptrdiff_t)j0;
			for (size_t r = 0; r < m; r++)
				axpy_f32(nc, t + r * SMALL_CH, b,
					 g->a.p[(ptrdiff_t)r * g->a.ls + (ptrdiff_t)k * g->a.ks]);
		}
	}
	store_tile(g, t, SMALL_CH, m, nc, 0, j0, true, true);
}

static bool small_ok(const struct gemm *g)
{
	return g->m <= SMALL_M && !g->a.conv && !g->b.conv && (g->b.ks == 1 || g->b.ls == 1);
}

static void gemm_small(const struct gemm *g, float *ws, pthreadpool_t pool)
{
	struct small_job s = {.g = g, .dot = g->b.ks == 1};
	for (size_t r = 0; r < g->m; r++) {
		const float *a = g->a.p + (ptrdiff_t)r * g->a.ls;
		if (s.dot && g->a.ks != 1) {
			float *row = ws + r * g->k;
			for (size_t k = 0; k < g->k; k++)
				row[k] = a[(ptrdiff_t)k * g->a.ks];
			a = row;
		}
		s.arow[r] = a;
	}
	pthreadpool_parallelize_1d(pool, small_task, &s, (g->n + SMALL_CH - 1) / SMALL_CH, 0);
}

/* ---- Entry ---------------------------------------------------------------- */

/* Scratch floats infd__gemm_run needs for a problem of this size. */
size_t infd__gemm_ws_floats(size_t m, size_t n, size_t k)
{
	const size_t big = m > n ? m : n, kcb = k_block(k);
	size_t blocked = (round_up(min_sz(big, MCO), MR) + round_up(min_sz(big, NCO), NR)) * kcb;
	size_t small = SMALL_M * k;
	return (blocked > small ? blocked : small) + 16;
}

static void gemm_transpose(struct gemm *g)
{
	size_t t = g->m;
	g->m = g->n;
	g->n = t;
	struct gemm_op o = g->a;
	g->a = g->b;
	g->b = o;
	ptrdiff_t s = g->crs;
	g->crs = g->ccs;
	g->ccs = s;
	s = g->brs;
	g->brs = g->bcs;
	g->bcs = s;
}

/* Run one GEMM with `ws` of infd__gemm_ws_floats() floats. The result does not depend
 * on `pool` (NULL: this thread only). */
void infd__gemm_run(const struct gemm *g0, float *ws, pthreadpool_t pool)
{
	struct gemm g = *g0;
	if (!g.m || !g.n)
		return;
	if (!g.k || g.alpha == 0.0f) {
		/* no products: beta * bias, or zeros (NaN in A or B does not propagate) */
		float z[64];
		zero_f(z, 64);
		for (size_t i = 0; i < g.m; i++)
			for (size_t j = 0; j < g.n; j += 64)
				store_tile(&g, z, 0, 1, min_sz(64, g.n - j), i, j, true, true);
		return;
	}
	if (g.n <= SMALL_M && g.n < g.m)
		gemm_transpose(&g);
	if ((double)g.m * (double)g.n * (double)g.k * 2.0 < SERIAL_FLOPS)
		pool = NULL;
	if (small_ok(&g))
		gemm_small(&g, ws, pool);
	else
		gemm_blocked(&g, ws, pool);
}

/* ---- Float32 operands (linalg.c and conv.c) ------------------------------ */

infd_status infd__gemm_need_f32(const struct infd_kargs *A, const struct infd_tensor *t,
				const char *name)
{
	if (t->dtype == INFD_DTYPE_FLOAT32)
		return INFD_OK;
	return infd__kfail(A, INFD_KERNEL_FAILED, "%s has dtype %s; only float32 is supported", name,
			   infd_dtype_name(t->dtype));
}

/* True when the memory of a and b intersects. */
bool infd__gemm_overlaps(const struct infd_tensor *a, const struct infd_tensor *b)
{
	if (!a || !b || !a->nbytes || !b->nbytes || !a->data || !b->data)
		return false;
	uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
	return a0 < b0 + b->nbytes && b0 < a0 + a->nbytes;
}

/* One element stride that walks dims [d0, d1) of t as a single row-major dim
 * (size-1 dims do not matter), or false when their memory is not that regular. */
bool infd__gemm_flat_stride(const struct infd_tensor *t, uint32_t d0, uint32_t d1, ptrdiff_t *stride)
{
	bool have = false;
	int64_t s = 1, next = 0;
	for (uint32_t d = d1; d-- > d0;) {
		if (t->sizes[d] == 1)
			continue;
		if (t->sizes[d] == 0) {
			*stride = 1;
			return true;
		}
		if (!have) {
			s = t->strides[d];
			have = true;
		} else if (t->strides[d] != next) {
			return false;
		}
		next = t->strides[d] * t->sizes[d];
	}
	*stride = (ptrdiff_t)s;
	return true;
}

/* Per-call scratch, 64-byte aligned; freed with free(). */
infd_status infd__gemm_scratch(const struct infd_kargs *A, size_t floats, float **out)
{
	size_t bytes = round_up((floats ? floats : 1) * sizeof(float), 64);
	*out = aligned_alloc(64, bytes);
	if (!*out)
		return infd__kfail(A, INFD_NO_MEMORY, "cannot allocate %zu bytes of scratch", bytes);
	return INFD_OK;
}

static void copy_row(void *user, char *const *p, const ptrdiff_t *st, size_t n)
{
	(void)user;
	infd__convert(p[0], INFD_DTYPE_FLOAT32, st[0], p[1], INFD_DTYPE_FLOAT32, st[1], n);
}

/* Copy the elements of a float32 tensor laid out like `src` at `sdata` into the
 * layout of `dst` at `ddata` (same sizes). */
void infd__gemm_copy_layout(const struct infd_tensor *dst, void *ddata, const struct infd_tensor *src,
			    const void *sdata)
{
	struct infd_tensor d = *dst, s = *src;
	d.data = ddata;
	s.data = (void *)(uintptr_t)sdata;
	struct infd_iter it;
	infd__iter_init(&it, d.rank, d.sizes);
	infd__iter_add(&it, &d);
	infd__iter_add(&it, &s);
	infd__iter_finish(&it);
	infd__iter_rows(&it, copy_row, NULL);
}

/* The same sizes with the contiguous (row-major) layout. */
struct infd_tensor infd__gemm_contiguous_like(const struct infd_tensor *t)
{
	struct infd_tensor c = *t;
	for (uint32_t i = 0; i < c.rank; i++)
		c.dim_order[i] = (uint8_t)i;
	infd__tensor_update_layout(&c);
	return c;
}

/* ---- Many GEMMs of one shape --------------------------------------------- */

struct batch_job {
	const void *user;
	gemm_item_fn make;
	size_t count, tasks, wsz;
	float *ws;
};

static void batch_task(void *ctx, size_t t)
{
	const struct batch_job *j = ctx;
	const size_t lo = t * j->count / j->tasks, hi = (t + 1) * j->count / j->tasks;
	for (size_t i = lo; i < hi; i++) {
		struct gemm g;
		struct im2col ic;
		j->make(j->user, i, &g, &ic);
		infd__gemm_run(&g, j->ws + t * j->wsz, NULL);
	}
}

/* Run `count` GEMMs of the same shape, made by `make`. Small ones run side by side
 * on the pool (one serial GEMM per task), large ones one after the other, each
 * spread over the pool; either way each GEMM computes the same numbers. */
infd_status infd__gemm_run_batch(const struct infd_kargs *A, size_t count, gemm_item_fn make,
				 const void *user)
{
	if (!count)
		return INFD_OK;
	struct gemm g;
	struct im2col ic;
	make(user, 0, &g, &ic);
	pthreadpool_t pool = A->ctx ? (pthreadpool_t)A->ctx->threadpool : NULL;
	size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1, tasks = 1;
	if (threads > 1 && count > 1 && 2.0 * (double)g.m * (double)g.n * (double)g.k < 8e6)
		tasks = min_sz(threads, count);
	struct batch_job job = {user, make, count, tasks, round_up(infd__gemm_ws_floats(g.m, g.n, g.k), 16),
				NULL};
	infd_status st = infd__gemm_scratch(A, job.wsz * tasks, &job.ws);
	if (st)
		return st;
	if (tasks > 1) {
		pthreadpool_parallelize_1d(pool, batch_task, &job, tasks, 0);
	} else {
		for (size_t i = 0; i < count; i++) {
			make(user, i, &g, &ic);
			infd__gemm_run(&g, job.ws, pool);
		}
	}
	free(job.ws);
	return INFD_OK;
}
