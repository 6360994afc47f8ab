/* Matrix products and convolution for the portable CPU kernels: mm, bmm, addmm,
 * linear and convolution (1-d and 2-d; grouped, depthwise and transposed), float32.
 * GEMM-shaped work goes through one cache-blocked, register-tiled SGEMM (packed
 * panels, a 6x16 micro-kernel, AVX2/FMA where the CPU has it); convolution packs
 * im2col panels on the fly, and depthwise convolution has direct loops. */
#include "util.h"

#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LINALG_X86 1
#endif

#define INFD_KERNEL(key, n_args, fn)                                                       \
	infd_status fn(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n);
#include "list_linalg.h"
#undef INFD_KERNEL

/* ==== SGEMM ================================================================== */

/* C[m,n] = alpha * sum_k A[m,k] B[k,n] + beta * bias[m,n]. Both operands are
 * described as "lane views": A's lanes are the rows of C, B's lanes the columns,
 * and element (lane, k) is at p[lane*ls + k*ks] -- or comes from an im2col view
 * of a convolution input. Packing copies MR (A) or NR (B) lanes into contiguous
 * k-major panels, zero-padded, so the micro-kernel never sees an edge.
 *
 * Every output element is summed in the same order whatever the thread count:
 * threads split M and N, never K. */

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

struct im2col;

struct gemm_op {
	const float *p;
	ptrdiff_t ls, ks;
	const struct im2col *conv; /* non-NULL: lanes are output positions of this conv */
};

struct gemm {
	size_t m, n, k;
	struct gemm_op a, b;
	float *c;
	ptrdiff_t crs, ccs;
	const float *bias; /* NULL: none */
	ptrdiff_t brs, bcs;
	float alpha, beta;
};

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static size_t round_up(size_t x, size_t m)
{
	return (x + m - 1) / m * m;
}

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

/* Geometry of a 2-d convolution (1-d runs as H = 1). */
struct conv_geom {
	int64_t n, c_in, h, w, c_out, oh, ow;
	int64_t kh, kw, sh, sw, ph, pw, dh, dw;
	int64_t groups;
};

/* A convolution input seen as a matrix: lane p = output position (oh*OW + ow),
 * k = (ci, kh, kw) of one group. */
struct im2col {
	const struct conv_geom *g;
	const float *in; /* first channel of the group, in one image */
	ptrdiff_t sc, sh, sw;
	bool hwc; /* k runs over (kh, kw, ci), ci fastest, instead of (ci, kh, kw) */
	/* per kernel row / column: the output rows / columns [lo, hi) whose input
	 * element lies inside the image */
	const int32_t *oh_lo, *oh_hi, *ow_lo, *ow_hi;
};

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

static void zero_f(float *p, size_t n)
{
	if (n)
		memset(p, 0, n * sizeof *p);
}

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

/* Eight floats as one GCC vector (AVX in the avx2 clones, two SSE halves otherwise). */
typedef float v8f __attribute__((vector_size(32)));

/* Unaligned load / store of eight floats (macros: no vector-ABI function calls). */
#define load8(p) __extension__({ v8f v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store8(p, v) __extension__({ v8f v_ = (v); memcpy((p), &v_, sizeof v_); })

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

/* Scratch floats gemm_run needs for a problem of this size. */
static size_t gemm_ws_floats(size_t m, size_t n, size_t k)
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

/* Run one GEMM with `ws` of gemm_ws_floats() floats. The result does not depend
 * on `pool` (NULL: this thread only). */
static void gemm_run(const struct gemm *g0, float *ws, pthreadpool_t pool)
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

/* ==== Helpers for the operators ============================================== */

static infd_status need_f32(const struct infd_kargs *A, const struct infd_tensor *t,
			    const char *name)
{
	if (t->dtype == INFD_DTYPE_FLOAT32)
		return INFD_OK;
	return infd__kfail(A, INFD_KERNEL_FAILED, "%s has dtype %s; only float32 is supported", name,
			   infd_dtype_name(t->dtype));
}

static const char *describe(const struct infd_tensor *t, char *buf, size_t n)
{
	return infd__tensor_describe(t, buf, n);
}

/* True when the memory of a and b intersects. */
static bool overlaps(const struct infd_tensor *a, const struct infd_tensor *b)
{
	if (!a || !b || !a->nbytes || !b->nbytes || !a->data || !b->data)
		return false;
	uintptr_t a0 = (uintptr_t)a->data, b0 = (uintptr_t)b->data;
	return a0 < b0 + b->nbytes && b0 < a0 + a->nbytes;
}

/* One element stride that walks dims [d0, d1) of t as a single row-major dim
 * (size-1 dims do not matter), or false when their memory is not that regular. */
static bool flat_stride(const struct infd_tensor *t, uint32_t d0, uint32_t d1, ptrdiff_t *stride)
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
static infd_status scratch(const struct infd_kargs *A, size_t floats, float **out)
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
static void copy_layout(const struct infd_tensor *dst, void *ddata, const struct infd_tensor *src,
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
static struct infd_tensor contiguous_like(const struct infd_tensor *t)
{
	struct infd_tensor c = *t;
	for (uint32_t i = 0; i < c.rank; i++)
		c.dim_order[i] = (uint8_t)i;
	infd__tensor_update_layout(&c);
	return c;
}

/* ---- Many GEMMs of one shape --------------------------------------------- */

/* Fill GEMM number idx; a convolution operand may point to *ic. */
typedef void (*gemm_item_fn)(const void *user, size_t idx, struct gemm *g, struct im2col *ic);

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
		gemm_run(&g, j->ws + t * j->wsz, NULL);
	}
}

/* Run `count` GEMMs of the same shape, made by `make`. Small ones run side by side
 * on the pool (one serial GEMM per task), large ones one after the other, each
 * spread over the pool; either way each GEMM computes the same numbers. */
static infd_status run_gemms(const struct infd_kargs *A, size_t count, gemm_item_fn make,
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
	struct batch_job job = {user, make, count, tasks, round_up(gemm_ws_floats(g.m, g.n, g.k), 16),
				NULL};
	infd_status st = scratch(A, job.wsz * tasks, &job.ws);
	if (st)
		return st;
	if (tasks > 1) {
		pthreadpool_parallelize_1d(pool, batch_task, &job, tasks, 0);
	} else {
		for (size_t i = 0; i < count; i++) {
			make(user, i, &g, &ic);
			gemm_run(&g, job.ws, pool);
		}
	}
	free(job.ws);
	return INFD_OK;
}

/* ==== mm, bmm, addmm, linear ============================================== */

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
		if (overlaps(out, ins[i])) {
			if ((st = scratch(A, (size_t)out->numel, &tmp)))
				return st;
			mb->c = tmp + (mb->c - (float *)out->data);
		}
	st = run_gemms(A, mb->batch, mm_item, mb);
	if (tmp) {
		if (!st)
			memcpy(out->data, tmp, (size_t)out->nbytes);
		free(tmp);
	}
	return st;
}

infd_status infd__k_mm_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *a, *b;
	struct infd_tensor *out;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::mm.out", 4)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &a)) ||
	    (st = infd__karg_tensor(&A, 1, "mat2", &b)) || (st = infd__karg_out(&A, 2, 3, &out)) ||
	    (st = need_f32(&A, a, "self")) || (st = need_f32(&A, b, "mat2")) ||
	    (st = need_f32(&A, out, "out")))
		return st;
	char da[160], db[160];
	if (a->rank != 2 || b->rank != 2)
		return infd__kfail(&A, INFD_BAD_INPUT, "self %s and mat2 %s must both be 2-D",
				   describe(a, da, sizeof da), describe(b, db, sizeof db));
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
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::bmm.out", 4)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &a)) ||
	    (st = infd__karg_tensor(&A, 1, "mat2", &b)) || (st = infd__karg_out(&A, 2, 3, &out)) ||
	    (st = need_f32(&A, a, "self")) || (st = need_f32(&A, b, "mat2")) ||
	    (st = need_f32(&A, out, "out")))
		return st;
	char da[160], db[160];
	if (a->rank != 3 || b->rank != 3)
		return infd__kfail(&A, INFD_BAD_INPUT, "self %s and mat2 %s must both be 3-D",
				   describe(a, da, sizeof da), describe(b, db, sizeof db));
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
	    (st = infd__karg_out(&A, 5, 6, &out)) || (st = need_f32(&A, x, "self")) ||
	    (st = need_f32(&A, a, "mat1")) || (st = need_f32(&A, b, "mat2")) ||
	    (st = need_f32(&A, out, "out")))
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
	    (st = infd__karg_out(&A, 3, 4, &out)) || (st = need_f32(&A, x, "input")) ||
	    (st = need_f32(&A, w, "weight")) || (bias && (st = need_f32(&A, bias, "bias"))) ||
	    (st = need_f32(&A, out, "out")))
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
	struct infd_tensor xc_t = contiguous_like(x), oc_t = contiguous_like(out);
	ptrdiff_t ar, cr;
	float *xbuf = NULL, *obuf = NULL;
	const float *xd = x->data;
	if (!flat_stride(x, 0, r - 1, &ar)) {
		if ((st = scratch(&A, (size_t)x->numel, &xbuf)))
			return st;
		copy_layout(&xc_t, xbuf, x, x->data);
		xd = xbuf;
		ar = (ptrdiff_t)k;
	}
	const bool o_flat = flat_stride(out, 0, r - 1, &cr);
	if (!o_flat) {
		if ((st = scratch(&A, (size_t)out->numel, &obuf)))
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
		st = run_gemms(&A, 1, mm_item, &mb);
		if (!st)
			copy_layout(out, out->data, &oc_t, obuf);
	} else {
		st = run_mm(&A, &mb, out, (const struct infd_tensor *const[]){x, w, bias}, 3);
	}
out_free:
	free(xbuf);
	free(obuf);
	return st;
}

/* ==== convolution ============================================================= */

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
		infd_status st = scratch(A, C * taps + (j->bias ? C : 0), &buf);
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
		infd_status st = scratch(A, f.per * f.tasks, &f.ws);
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
	const size_t ncols_max = rows * W, wsz = round_up(gemm_ws_floats(m, ncols_max, (size_t)cig), 16);
	float *buf;
	infd_status st = scratch(A, m * ncols_max + wsz + 2 * (size_t)g->kw, &buf);
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
					gemm_run(&gm, ws, pool);
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
	return flat_stride(&t, 0, 3, s);
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
	infd_status st = scratch(A, (size_t)(g->c_out * cig * KH * KW), buf);
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
	    (st = need_f32(&A, x, "input")) || (st = need_f32(&A, w, "weight")) ||
	    (bias && (st = need_f32(&A, bias, "bias"))) || (st = need_f32(&A, out, "out")))
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
	struct infd_tensor oc = contiguous_like(out);
	const struct infd_tensor *ol = out;
	float *obuf = NULL, *wbuf = NULL, *xbuf = NULL, *ranges = NULL;
	ptrdiff_t osp;
	if (!flat_stride(out, 2, out->rank, &osp) || overlaps(out, x) || overlaps(out, w) ||
	    overlaps(out, bias)) {
		if ((st = scratch(&A, (size_t)out->numel, &obuf)))
			return st;
		ol = &oc;
		flat_stride(ol, 2, ol->rank, &osp);
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
		if (!flat_stride(x, 2, x->rank, &j.isp)) {
			struct infd_tensor xc = contiguous_like(x);
			if ((st = scratch(&A, (size_t)x->numel, &xbuf)))
				goto out_free;
			copy_layout(&xc, xbuf, x, x->data);
			j.in = xbuf;
			j.isn = (ptrdiff_t)xc.strides[0], j.isc = (ptrdiff_t)xc.strides[1];
			flat_stride(&xc, 2, xc.rank, &j.isp);
		}
		if (!flat_stride(w, 1, w->rank, &j.wsk)) {
			struct infd_tensor wc = contiguous_like(w);
			if ((st = scratch(&A, (size_t)w->numel, &wbuf)))
				goto out_free;
			copy_layout(&wc, wbuf, w, w->data);
			j.w = wbuf;
			j.wso = (ptrdiff_t)wc.strides[0];
			j.wsk = 1;
		}
		st = conv_transposed(&A, &j, pool);
	} else {
		const size_t nk = (size_t)(g->kh > g->kw ? g->kh : g->kw);
		if ((st = scratch(&A, 4 * nk, &ranges)))
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
			j.pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 &&
				      g->ph == 0 && g->pw == 0 && flat_stride(x, 2, x->rank, &j.isp);
			j.nhwc = j.osc == 1 && j.osp != 1;
			if ((st = conv_weight_matrix(&A, &j, &wbuf)))
				goto out_free;
			st = run_gemms(&A, (size_t)(g->n * groups), conv_item, &j);
		}
	}
	if (!st && obuf)
		copy_layout(out, out->data, &oc, obuf);
out_free:
	free(obuf);
	free(wbuf);
	free(xbuf);
	free(ranges);
	return st;
}
