/* Our own kernels for the XNNPACK backend's graph nodes that this XNNPACK lacks
 * (see xown.h). Loops are contiguous and branch-free so the compiler
 * vectorizes them (this file builds with -O3 -fno-math-errno); the
 * transcendental functions are polynomial approximations good to a few ulp;
 * large nodes split their rows over the runtime's pthreadpool. */
#include "xown.h"

#include <math.h>
#include <pthreadpool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/gemm.h"

#define CHUNK 8192 /* elements per task of the elementwise loops */

static uint64_t numel(const struct infd_xvalue *v)
{
	uint64_t n = 1;
	for (uint32_t i = 0; i < v->rank; i++)
		n *= v->dims[i];
	return n;
}

static size_t pool_threads(pthreadpool_t pool)
{
	return pool ? pthreadpool_get_threads_count(pool) : 1;
}

/* Split `count` items of about `cost` elements each over the pool when worth it. */
static void run_tasks(pthreadpool_t pool, pthreadpool_task_1d_t fn, void *ctx, size_t count, size_t cost)
{
	if (count > 1 && pool_threads(pool) > 1 && (double)count * (double)cost >= 2.0 * CHUNK) {
		pthreadpool_parallelize_1d(pool, fn, ctx, count, 0);
		return;
	}
	for (size_t i = 0; i < count; i++)
		fn(ctx, i);
}

static void clamp_range(float *y, size_t n, float lo, float hi)
{
	for (size_t i = 0; i < n; i++) {
		float v = y[i];
		v = v < lo ? lo : v;
		y[i] = v > hi ? hi : v;
	}
}

static bool has_clamp(const struct infd_xnode *n)
{
	return n->out_min > -INFINITY || n->out_max < INFINITY;
}

/* ---- Scalar building blocks (inline, branch-free: they vectorize) ---------- */

static inline float as_float(int32_t i)
{
	float f;
	memcpy(&f, &i, sizeof f);
	return f;
}

static inline int32_t as_int(float f)
{
	int32_t i;
	memcpy(&i, &f, sizeof i);
	return i;
}

/* e^x, relative error about 2 ulp; overflows to +inf, underflows to 0. */
static inline float exp_f(float x)
{
	float xc = x < -87.0f ? -87.0f : x;
	xc = xc > 88.0f ? 88.0f : xc;
	const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
	float k = (xc * 1.44269504f + magic) - magic;
	float r = xc - k * 0.693359375f;
	r = r - k * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	float y = p * as_float(((int32_t)k + 127) << 23);
	y = x < -87.0f ? 0.0f : y;
	return x > 88.0f ? INFINITY : y;
}

/* ln x (cephes-style): NaN below 0, -inf at 0. */
static inline float log_f(float x)
{
	bool tiny = x < 1.17549435e-38f;
	float xs = tiny ? x * 8388608.0f : x; /* denormals: scale by 2^23 */
	int32_t bits = as_int(xs);
	int32_t e = ((bits >> 23) & 0xff) - 126 - (tiny ? 23 : 0);
	float m = as_float((bits & 0x007fffff) | 0x3f000000); /* [0.5, 1) */
	bool lo = m < 0.707106781f;
	e = lo ? e - 1 : e;
	m = lo ? m + m - 1.0f : m - 1.0f;
	float z = m * m;
	float p = 7.0376836292e-2f;
	p = p * m - 1.1514610310e-1f;
	p = p * m + 1.1676998740e-1f;
	p = p * m - 1.2420140846e-1f;
	p = p * m + 1.4249322787e-1f;
	p = p * m - 1.6668057665e-1f;
	p = p * m + 2.0000714765e-1f;
	p = p * m - 2.4999993993e-1f;
	p = p * m + 3.3333331174e-1f;
	float fe = (float)e;
	float y = m * z * p + fe * -2.12194440e-4f - 0.5f * z + m + fe * 0.693359375f;
	y = x == INFINITY ? INFINITY : y;
	y = x == 0.0f ? -INFINITY : y;
	return x < 0.0f || x != x ? NAN : y;
}

static inline float tanh_f(float x)
{
	float ax = x < 0.0f ? -x : x;
	float t = exp_f(-2.0f * ax);
	float big = (1.0f - t) / (1.0f + t);
	float z = x * x;
	float p = -5.70498872745e-3f;
	p = p * z + 2.06390887954e-2f;
	p = p * z - 5.37397155531e-2f;
	p = p * z + 1.33314422036e-1f;
	p = p * z - 3.33332819422e-1f;
	float small = p * z * x + x;
	float r = x < 0.0f ? -big : big;
	return ax < 0.625f ? small : r;
}

/* Exact (erf) GELU: x * Phi(x), with erfc from Abramowitz-Stegun 7.1.26. */
static inline float gelu_f(float x)
{
	float z = (x < 0.0f ? -x : x) * 0.70710678f;
	float t = 1.0f / (1.0f + 0.3275911f * z);
	float q = 1.061405429f;
	q = q * t - 1.453152027f;
	q = q * t + 1.421413741f;
	q = q * t - 0.284496736f;
	q = q * t + 0.254829592f;
	q = q * t * exp_f(-z * z); /* erfc(z) */
	return x < 0.0f ? 0.5f * x * q : x * (1.0f - 0.5f * q);
}

/* sin (want_cos false) or cos of x for |x| < 8192 (cephes reduction); the
 * caller fixes larger arguments with libm. */
static inline float sincos_f(float x, bool want_cos)
{
	float ax = x < 0.0f ? -x : x;
	int32_t j = (int32_t)(ax * 1.27323954473516f);
	j = (j + 1) & ~1;
	float y = (float)j;
	int32_t sign_flip = want_cos ? 0 : (x < 0.0f);
	int32_t oct = j & 7;
	sign_flip ^= oct > 3;
	oct = oct > 3 ? oct - 4 : oct;
	if (want_cos)
		sign_flip ^= oct > 1;
	float r = ((ax - y * 0.78515625f) - y * 2.4187564849853515625e-4f) - y * 3.77489497744594108e-8f;
	float z = r * r;
	float c = 2.443315711809948e-5f;
	c = c * z - 1.388731625493765e-3f;
	c = c * z + 4.166664568298827e-2f;
	c = c * z * z - 0.5f * z + 1.0f;
	float s = -1.9515295891e-4f;
	s = s * z + 8.3321608736e-3f;
	s = s * z - 1.6666654611e-1f;
	s = s * z * r + r;
	bool mid = oct == 1 || oct == 2; /* the other function's polynomial */
	bool use_c = want_cos ? !mid : mid;
	float v = use_c ? c : s;
	return sign_flip ? -v : v;
}

/* ---- Elementwise ------------------------------------------------------------ */

static void unary_range(const struct infd_xnode *n, const float *restrict x, float *restrict y, size_t cnt)
{
	const float alpha = n->p.alpha;
	switch ((enum infd_xop)n->op) {
	case INFD_XOP_CLAMP:
	case INFD_XOP_COPY:
		memcpy(y, x, cnt * sizeof *y);
		break;
	case INFD_XOP_ABS:
		for (size_t i = 0; i < cnt; i++)
			y[i] = fabsf(x[i]);
		break;
	case INFD_XOP_NEGATE:
		for (size_t i = 0; i < cnt; i++)
			y[i] = -x[i];
		break;
	case INFD_XOP_FLOOR:
		for (size_t i = 0; i < cnt; i++)
			y[i] = floorf(x[i]);
		break;
	case INFD_XOP_CEILING:
		for (size_t i = 0; i < cnt; i++)
			y[i] = ceilf(x[i]);
		break;
	case INFD_XOP_SQUARE:
		for (size_t i = 0; i < cnt; i++)
			y[i] = x[i] * x[i];
		break;
	case INFD_XOP_SQUARE_ROOT:
		for (size_t i = 0; i < cnt; i++)
			y[i] = sqrtf(x[i]);
		break;
	case INFD_XOP_RSQRT:
		for (size_t i = 0; i < cnt; i++)
			y[i] = 1.0f / sqrtf(x[i]);
		break;
	case INFD_XOP_SIGMOID:
		for (size_t i = 0; i < cnt; i++)
			y[i] = 1.0f / (1.0f + exp_f(-x[i]));
		break;
	case INFD_XOP_TANH:
		for (size_t i = 0; i < cnt; i++)
			y[i] = tanh_f(x[i]);
		break;
	case INFD_XOP_GELU:
		for (size_t i = 0; i < cnt; i++)
			y[i] = gelu_f(x[i]);
		break;
	case INFD_XOP_HARDSWISH:
		for (size_t i = 0; i < cnt; i++) {
			float t = x[i] + 3.0f;
			t = t < 0.0f ? 0.0f : t;
			t = t > 6.0f ? 6.0f : t;
			y[i] = x[i] * t * (1.0f / 6.0f);
		}
		break;
	case INFD_XOP_LEAKY_RELU:
		for (size_t i = 0; i < cnt; i++)
			y[i] = x[i] < 0.0f ? x[i] * alpha : x[i];
		break;
	case INFD_XOP_ELU:
		for (size_t i = 0; i < cnt; i++)
			y[i] = x[i] < 0.0f ? alpha * (exp_f(x[i]) - 1.0f) : x[i];
		break;
	case INFD_XOP_EXP:
		for (size_t i = 0; i < cnt; i++)
			y[i] = exp_f(x[i]);
		break;
	case INFD_XOP_LOG:
		for (size_t i = 0; i < cnt; i++)
			y[i] = log_f(x[i]);
		break;
	case INFD_XOP_SIN:
	case INFD_XOP_COS: {
		const bool c = n->op == INFD_XOP_COS;
		for (size_t i = 0; i < cnt; i++)
			y[i] = sincos_f(x[i], c);
		for (size_t i = 0; i < cnt; i++) /* rare: arguments beyond the reduction's range */
			if (!(fabsf(x[i]) < 8192.0f))
				y[i] = c ? cosf(x[i]) : sinf(x[i]);
		break;
	}
	default:
		break;
	}
	if (has_clamp(n))
		clamp_range(y, cnt, n->out_min, n->out_max);
}

static void convert_range(uint8_t in_dt, uint8_t out_dt, const void *x, void *y, size_t cnt)
{
	if (in_dt == out_dt) {
		memcpy(y, x, cnt * 4);
	} else if (in_dt == INFD_XDT_INT32) {
		const int32_t *restrict a = x;
		float *restrict b = y;
		for (size_t i = 0; i < cnt; i++)
			b[i] = (float)a[i];
	} else { /* fp32 -> int32: toward zero, saturating, NaN -> 0 */
		const float *restrict a = x;
		int32_t *restrict b = y;
		for (size_t i = 0; i < cnt; i++) {
			float v = a[i] != a[i] ? 0.0f : a[i];
			v = v < -2147483648.0f ? -2147483648.0f : v;
			v = v > 2147483520.0f ? 2147483520.0f : v;
			b[i] = (int32_t)v;
		}
	}
}

struct unary_job {
	const struct infd_xgraph *g;
	const struct infd_xnode *n;
	const void *x;
	void *y;
	size_t cnt;
};

static void unary_task(void *ctx, size_t t)
{
	const struct unary_job *j = ctx;
	size_t lo = t * CHUNK, c = j->cnt - lo < CHUNK ? j->cnt - lo : CHUNK;
	if (j->n->op == INFD_XOP_CONVERT) {
		uint8_t idt = j->g->values[j->n->in[0]].dtype, odt = j->g->values[j->n->out[0]].dtype;
		convert_range(idt, odt, (const char *)j->x + lo * 4, (char *)j->y + lo * 4, c);
		if (odt == INFD_XDT_FP32 && has_clamp(j->n))
			clamp_range((float *)j->y + lo, c, j->n->out_min, j->n->out_max);
	} else {
		unary_range(j->n, (const float *)j->x + lo, (float *)j->y + lo, c);
	}
}

static void run_unary(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data, pthreadpool_t pool)
{
	struct unary_job j = {g, n, data[n->in[0]], data[n->out[0]], numel(&g->values[n->out[0]])};
	run_tasks(pool, unary_task, &j, (j.cnt + CHUNK - 1) / CHUNK, CHUNK);
}

/* Binary operands seen through broadcasting: dims coalesced, strides 0 where
 * an operand repeats; the last dim is the contiguous inner loop. */
struct bshape {
	uint32_t r;
	size_t d[INFD_XMAX_RANK];
	size_t sa[INFD_XMAX_RANK], sb[INFD_XMAX_RANK], so[INFD_XMAX_RANK];
};

static void bshape_make(const struct infd_xvalue *a, const struct infd_xvalue *b, const struct infd_xvalue *o,
			struct bshape *s)
{
	uint32_t r = o->rank;
	size_t sa = 1, sb = 1;
	size_t d[INFD_XMAX_RANK], xa[INFD_XMAX_RANK], xb[INFD_XMAX_RANK];
	for (uint32_t i = r; i-- > 0;) {
		uint32_t da = i + a->rank >= r ? a->dims[i + a->rank - r] : 1;
		uint32_t db = i + b->rank >= r ? b->dims[i + b->rank - r] : 1;
		d[i] = o->dims[i];
		xa[i] = da == 1 ? 0 : sa;
		xb[i] = db == 1 ? 0 : sb;
		sa *= da;
		sb *= db;
	}
	/* coalesce from the right: dim i joins i+1 when both strides continue */
	uint32_t k = 0;
	size_t cd[INFD_XMAX_RANK], ca[INFD_XMAX_RANK], cb[INFD_XMAX_RANK];
	for (uint32_t i = r; i-- > 0;) {
		if (d[i] == 1)
			continue;
		if (k && ca[k - 1] * cd[k - 1] == xa[i] && cb[k - 1] * cd[k - 1] == xb[i] &&
		    (ca[k - 1] != 0) == (xa[i] != 0) && (cb[k - 1] != 0) == (xb[i] != 0)) {
			cd[k - 1] *= d[i];
			continue;
		}
		cd[k] = d[i];
		ca[k] = xa[i];
		cb[k] = xb[i];
		k++;
	}
	if (!k) {
		cd[0] = 1;
		ca[0] = cb[0] = 0;
		k = 1;
	}
	s->r = k;
	size_t so = 1;
	for (uint32_t i = 0; i < k; i++) { /* reverse into row-major order */
		s->d[k - 1 - i] = cd[i];
		s->sa[k - 1 - i] = ca[i];
		s->sb[k - 1 - i] = cb[i];
		s->so[k - 1 - i] = so;
		so *= cd[i];
	}
}

static inline float bin_op(int op, float a, float b)
{
	switch (op) {
	case INFD_XOP_ADD: return a + b;
	case INFD_XOP_SUBTRACT: return a - b;
	case INFD_XOP_MULTIPLY: return a * b;
	case INFD_XOP_DIVIDE: return a / b;
	case INFD_XOP_MAXIMUM: return a > b ? a : b;
	default: return a < b ? a : b;
	}
}

/* y[i] = a[i*ia] op b[i*ib]: the op is a constant once inlined into each case. */
static inline __attribute__((always_inline)) void bin_row_op(const int op, const float *restrict a, size_t ia,
							     const float *restrict b, size_t ib,
							     float *restrict y, size_t n)
{
	if (ia && ib)
		for (size_t i = 0; i < n; i++)
			y[i] = bin_op(op, a[i], b[i]);
	else if (ia)
		for (size_t i = 0; i < n; i++)
			y[i] = bin_op(op, a[i], b[0]);
	else if (ib)
		for (size_t i = 0; i < n; i++)
			y[i] = bin_op(op, a[0], b[i]);
	else
		for (size_t i = 0; i < n; i++)
			y[i] = bin_op(op, a[0], b[0]);
}

static void bin_row(int op, const float *a, size_t ia, const float *b, size_t ib, float *y, size_t n)
{
	switch (op) {
	case INFD_XOP_ADD: bin_row_op(INFD_XOP_ADD, a, ia, b, ib, y, n); break;
	case INFD_XOP_SUBTRACT: bin_row_op(INFD_XOP_SUBTRACT, a, ia, b, ib, y, n); break;
	case INFD_XOP_MULTIPLY: bin_row_op(INFD_XOP_MULTIPLY, a, ia, b, ib, y, n); break;
	case INFD_XOP_DIVIDE: bin_row_op(INFD_XOP_DIVIDE, a, ia, b, ib, y, n); break;
	case INFD_XOP_MAXIMUM: bin_row_op(INFD_XOP_MAXIMUM, a, ia, b, ib, y, n); break;
	default: bin_row_op(INFD_XOP_MINIMUM, a, ia, b, ib, y, n); break;
	}
}

struct binary_job {
	const struct infd_xnode *n;
	struct bshape s;
	const float *a, *b;
	float *y;
	size_t rows_per_task, rows;
};

static void binary_task(void *ctx, size_t t)
{
	const struct binary_job *j = ctx;
	const struct bshape *s = &j->s;
	const uint32_t r = s->r;
	const size_t inner = s->d[r - 1];
	size_t lo = t * j->rows_per_task, hi = lo + j->rows_per_task < j->rows ? lo + j->rows_per_task : j->rows;
	for (size_t row = lo; row < hi; row++) {
		size_t rem = row, oa = 0, ob = 0;
		for (uint32_t i = r - 1; i-- > 0;) {
			size_t idx = rem % s->d[i];
			rem /= s->d[i];
			oa += idx * s->sa[i];
			ob += idx * s->sb[i];
		}
		float *y = j->y + row * inner;
		bin_row(j->n->op, j->a + oa, s->sa[r - 1], j->b + ob, s->sb[r - 1], y, inner);
		if (has_clamp(j->n))
			clamp_range(y, inner, j->n->out_min, j->n->out_max);
	}
}

static void run_binary(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data, pthreadpool_t pool)
{
	struct binary_job j = {.n = n, .a = data[n->in[0]], .b = data[n->in[1]], .y = data[n->out[0]]};
	bshape_make(&g->values[n->in[0]], &g->values[n->in[1]], &g->values[n->out[0]], &j.s);
	size_t inner = j.s.d[j.s.r - 1];
	j.rows = (size_t)numel(&g->values[n->out[0]]) / inner;
	j.rows_per_task = inner >= CHUNK ? 1 : CHUNK / inner;
	run_tasks(pool, binary_task, &j, (j.rows + j.rows_per_task - 1) / j.rows_per_task, j.rows_per_task * inner);
}

static void run_prelu(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data)
{
	const struct infd_xvalue *x = &g->values[n->in[0]];
	const float *restrict a = data[n->in[0]], *restrict w = data[n->in[1]];
	float *restrict y = data[n->out[0]];
	size_t c = x->rank ? x->dims[x->rank - 1] : 1, rows = (size_t)numel(x) / c;
	bool one = numel(&g->values[n->in[1]]) == 1;
	for (size_t r = 0; r < rows; r++, a += c, y += c) {
		for (size_t i = 0; i < c; i++) {
			float s = one ? w[0] : w[i];
			y[i] = a[i] < 0.0f ? a[i] * s : a[i];
		}
		if (has_clamp(n))
			clamp_range(y, c, n->out_min, n->out_max);
	}
}

/* ---- Pooling (NHWC) ------------------------------------------------------------ */

struct pool_job {
	const struct infd_xnode *n;
	const float *x;
	float *y;
	size_t h, w, c, oh, ow;
};

static void pool_task(void *ctx, size_t row) /* row = image * OH + oy */
{
	const struct pool_job *j = ctx;
	const struct infd_xpool *p = &j->n->p.pool;
	const bool avg = j->n->op == INFD_XOP_AVG_POOL2D;
	const size_t img = row / j->oh, oy = row % j->oh;
	const size_t dh = avg || !p->dilation_h ? 1 : p->dilation_h, dw = avg || !p->dilation_w ? 1 : p->dilation_w;
	const float *x = j->x + img * j->h * j->w * j->c;
	float *y = j->y + row * j->ow * j->c;
	for (size_t ox = 0; ox < j->ow; ox++, y += j->c) {
		for (size_t c = 0; c < j->c; c++)
			y[c] = avg ? 0.0f : -INFINITY;
		size_t taps = 0;
		for (size_t ky = 0; ky < p->pool_h; ky++) {
			ptrdiff_t iy = (ptrdiff_t)(oy * p->stride_h + ky * dh) - (ptrdiff_t)p->pad_top;
			if (iy < 0 || iy >= (ptrdiff_t)j->h)
				continue;
			for (size_t kx = 0; kx < p->pool_w; kx++) {
				ptrdiff_t ix = (ptrdiff_t)(ox * p->stride_w + kx * dw) - (ptrdiff_t)p->pad_left;
				if (ix < 0 || ix >= (ptrdiff_t)j->w)
					continue;
				const float *restrict s = x + ((size_t)iy * j->w + (size_t)ix) * j->c;
				float *restrict d = y;
				taps++;
				if (avg)
					for (size_t c = 0; c < j->c; c++)
						d[c] += s[c];
				else
					for (size_t c = 0; c < j->c; c++)
						d[c] = s[c] > d[c] || s[c] != s[c] ? s[c] : d[c];
			}
		}
		if (avg) {
			const float inv = 1.0f / (float)(taps ? taps : 1);
			for (size_t c = 0; c < j->c; c++)
				y[c] *= inv;
		}
		if (has_clamp(j->n))
			clamp_range(y, j->c, j->n->out_min, j->n->out_max);
	}
}

static void run_pool(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data, pthreadpool_t pool)
{
	const struct infd_xvalue *x = &g->values[n->in[0]], *o = &g->values[n->out[0]];
	struct pool_job j = {n, data[n->in[0]], data[n->out[0]], x->dims[1], x->dims[2], x->dims[3], o->dims[1],
			     o->dims[2]};
	size_t rows = (size_t)x->dims[0] * o->dims[1];
	run_tasks(pool, pool_task, &j, rows, j.ow * j.c * n->p.pool.pool_h * n->p.pool.pool_w);
}

static void run_global_avg(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data)
{
	const struct infd_xvalue *x = &g->values[n->in[0]];
	const uint32_t r = x->rank;
	const size_t c = x->dims[r - 1], hw = (size_t)x->dims[r - 2] * x->dims[r - 3];
	const size_t batches = (size_t)numel(x) / (hw * c);
	const float *xs = data[n->in[0]];
	float *y = data[n->out[0]];
	const float inv = 1.0f / (float)hw;
	for (size_t b = 0; b < batches; b++, y += c) {
		memset(y, 0, c * sizeof *y);
		for (size_t p = 0; p < hw; p++, xs += c) {
			const float *restrict s = xs;
			float *restrict d = y;
			for (size_t i = 0; i < c; i++)
				d[i] += s[i];
		}
		for (size_t i = 0; i < c; i++)
			y[i] *= inv;
		if (has_clamp(n))
			clamp_range(y, c, n->out_min, n->out_max);
	}
}

/* ---- Data movement (4-byte elements of either dtype) ------------------------------ */

/* Row-major strides of a value, in elements. */
static void strides_of(const struct infd_xvalue *v, size_t *s)
{
	size_t k = 1;
	for (uint32_t i = v->rank; i-- > 0;) {
		s[i] = k;
		k *= v->dims[i];
	}
}

struct transpose_job {
	uint32_t r;         /* coalesced rank */
	size_t d[INFD_XMAX_RANK];  /* output dims */
	size_t is[INFD_XMAX_RANK]; /* input stride of each output dim */
	size_t os[INFD_XMAX_RANK]; /* output strides */
	uint32_t ja;        /* output dim read contiguously from the input (tile rows) */
	size_t tiles_a, outer;
	const uint32_t *x;
	uint32_t *y;
};

#define TT 32 /* transpose tile */

static void transpose_task(void *ctx, size_t t)
{
	const struct transpose_job *j = ctx;
	const uint32_t r = j->r, last = r - 1, ja = j->ja;
	size_t ta = t % j->tiles_a, rem = t / j->tiles_a, ib = 0, ob = 0;
	for (uint32_t i = r; i-- > 0;) {
		if (i == last || i == ja)
			continue;
		size_t idx = rem % j->d[i];
		rem /= j->d[i];
		ib += idx * j->is[i];
		ob += idx * j->os[i];
	}
	const size_t a0 = ta * TT, a1 = a0 + TT < j->d[ja] ? a0 + TT : j->d[ja];
	const size_t sb = j->is[last], sa = j->os[ja];
	for (size_t b0 = 0; b0 < j->d[last]; b0 += TT) {
		const size_t b1 = b0 + TT < j->d[last] ? b0 + TT : j->d[last];
		for (size_t a = a0; a < a1; a++) {
			const uint32_t *restrict s = j->x + ib + a * j->is[ja];
			uint32_t *restrict d = j->y + ob + a * sa;
			for (size_t b = b0; b < b1; b++)
				d[b] = s[b * sb];
		}
	}
}

static void run_transpose(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data,
			  pthreadpool_t pool)
{
	const struct infd_xvalue *x = &g->values[n->in[0]];
	const uint32_t *perm = n->p.shape.perm;
	size_t xs[INFD_XMAX_RANK];
	strides_of(x, xs);
	/* drop size-1 dims, merge output dims that stay adjacent in the input */
	struct transpose_job j = {.x = data[n->in[0]], .y = data[n->out[0]]};
	uint32_t k = 0;
	for (uint32_t i = 0; i < x->rank; i++) {
		uint32_t p = perm[i];
		if (x->dims[p] == 1)
			continue;
		if (k && j.is[k - 1] == xs[p] * x->dims[p]) {
			j.d[k - 1] *= x->dims[p];
			j.is[k - 1] = xs[p];
			continue;
		}
		j.d[k] = x->dims[p];
		j.is[k] = xs[p];
		k++;
	}
	size_t total = (size_t)numel(x);
	if (k <= 1) { /* the order is kept */
		memcpy(j.y, j.x, total * 4);
		return;
	}
	j.r = k;
	size_t so = 1;
	for (uint32_t i = k; i-- > 0;) {
		j.os[i] = so;
		so *= j.d[i];
	}
	if (j.is[k - 1] == 1) { /* innermost dim contiguous in both: copy rows */
		size_t inner = j.d[k - 1], rows = total / inner;
		for (size_t row = 0; row < rows; row++) {
			size_t rem = row, ib = 0;
			for (uint32_t i = k - 1; i-- > 0;) {
				ib += (rem % j.d[i]) * j.is[i];
				rem /= j.d[i];
			}
			memcpy(j.y + row * inner, j.x + ib, inner * 4);
		}
		return;
	}
	j.ja = 0;
	for (uint32_t i = 0; i < k; i++)
		if (j.is[i] == 1)
			j.ja = i;
	j.tiles_a = (j.d[j.ja] + TT - 1) / TT;
	j.outer = total / (j.d[j.ja] * j.d[k - 1]);
	run_tasks(pool, transpose_task, &j, j.outer * j.tiles_a, TT * j.d[k - 1]);
}

/* Copy between a dense block `small` and the part of `big` that starts at
 * `off`: into big (to_big: bigp <- smallc) or out of it (smallp <- bigc). */
static void block_copy(const struct infd_xvalue *big, const struct infd_xvalue *small, const uint32_t *off,
		       uint32_t *bigp, const uint32_t *bigc, uint32_t *smallp, const uint32_t *smallc, bool to_big)
{
	const uint32_t r = small->rank;
	if (r == 0) {
		if (to_big)
			bigp[0] = smallc[0];
		else
			smallp[0] = bigc[0];
		return;
	}
	size_t bs[INFD_XMAX_RANK];
	strides_of(big, bs);
	const size_t inner = small->dims[r - 1], rows = (size_t)numel(small) / inner;
	for (size_t row = 0; row < rows; row++) {
		size_t rem = row, ob = off[r - 1];
		for (uint32_t i = r - 1; i-- > 0;) {
			ob += (rem % small->dims[i] + off[i]) * bs[i];
			rem /= small->dims[i];
		}
		if (to_big)
			memcpy(bigp + ob, smallc + row * inner, inner * 4);
		else
			memcpy(smallp + row * inner, bigc + ob, inner * 4);
	}
}

static void run_slice(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data)
{
	block_copy(&g->values[n->in[0]], &g->values[n->out[0]], n->p.slice.offsets, NULL, data[n->in[0]],
		   data[n->out[0]], NULL, false);
}

static void run_pad(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data)
{
	const struct infd_xvalue *o = &g->values[n->out[0]];
	uint32_t fill;
	if (o->dtype == INFD_XDT_INT32) {
		int32_t iv = (int32_t)n->p.pad.value;
		memcpy(&fill, &iv, 4);
	} else {
		memcpy(&fill, &n->p.pad.value, 4);
	}
	uint32_t *y = data[n->out[0]];
	size_t total = (size_t)numel(o);
	for (size_t i = 0; i < total; i++)
		y[i] = fill;
	block_copy(o, &g->values[n->in[0]], n->p.pad.pre, y, NULL, NULL, data[n->in[0]], true);
	if (o->dtype == INFD_XDT_FP32 && has_clamp(n))
		clamp_range(data[n->out[0]], total, n->out_min, n->out_max);
}

static void run_concat(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data)
{
	const struct infd_xvalue *o = &g->values[n->out[0]];
	const uint32_t ax = n->p.axis;
	size_t outer = 1, o_inner = 1;
	for (uint32_t i = 0; i < ax; i++)
		outer *= o->dims[i];
	for (uint32_t i = ax; i < o->rank; i++)
		o_inner *= o->dims[i];
	char *y = data[n->out[0]];
	size_t at = 0;
	for (uint32_t k = 0; k < n->n_in; k++) {
		const struct infd_xvalue *x = &g->values[n->in[k]];
		size_t inner = (size_t)numel(x) / outer;
		const char *s = data[n->in[k]];
		for (size_t r = 0; r < outer; r++)
			memcpy(y + (r * o_inner + at) * 4, s + r * inner * 4, inner * 4);
		at += inner;
	}
	if (o->dtype == INFD_XDT_FP32 && has_clamp(n))
		clamp_range(data[n->out[0]], (size_t)numel(o), n->out_min, n->out_max);
}

/* ---- Batch matrix multiply (the runtime's blocked SGEMM) ---------------------- */

struct bmm_geom {
	size_t m, k, n, batches, ws_floats;
	uint32_t r; /* batch rank */
	size_t d[INFD_XMAX_RANK], sa[INFD_XMAX_RANK], sb[INFD_XMAX_RANK];
};

static void bmm_geom(const struct infd_xgraph *g, const struct infd_xnode *n, struct bmm_geom *b)
{
	const struct infd_xvalue *a = &g->values[n->in[0]], *w = &g->values[n->in[1]], *o = &g->values[n->out[0]];
	b->m = a->dims[a->rank - 2];
	b->k = a->dims[a->rank - 1];
	b->n = w->dims[w->rank - 1];
	b->r = o->rank - 2;
	size_t sa = b->m * b->k, sb = b->k * b->n;
	b->batches = 1;
	for (uint32_t i = b->r; i-- > 0;) {
		uint32_t ra = a->rank - 2, rb = w->rank - 2;
		uint32_t da = i + ra >= b->r ? a->dims[i + ra - b->r] : 1, db = i + rb >= b->r ? w->dims[i + rb - b->r] : 1;
		b->d[i] = o->dims[i];
		b->sa[i] = da == 1 ? 0 : sa;
		b->sb[i] = db == 1 ? 0 : sb;
		sa *= da;
		sb *= db;
		b->batches *= o->dims[i];
	}
	b->ws_floats = round_up(infd__gemm_ws_floats(b->m, b->n, b->k), 16);
}

struct bmm_job {
	const struct infd_xnode *n;
	struct bmm_geom geo;
	const float *a, *b;
	float *c, *ws;
	size_t tasks;
	pthreadpool_t pool; /* for one GEMM at a time; NULL when batches run side by side */
};

static void bmm_one(const struct bmm_job *j, size_t batch, float *ws, pthreadpool_t pool)
{
	const struct bmm_geom *s = &j->geo;
	size_t rem = batch, oa = 0, ob = 0;
	for (uint32_t i = s->r; i-- > 0;) {
		size_t idx = rem % s->d[i];
		rem /= s->d[i];
		oa += idx * s->sa[i];
		ob += idx * s->sb[i];
	}
	float *c = j->c + batch * s->m * s->n;
	struct gemm gm = {
		.m = s->m, .n = s->n, .k = s->k,
		.a = {.p = j->a + oa, .ls = (ptrdiff_t)s->k, .ks = 1},
		.b = {.p = j->b + ob, .ls = 1, .ks = (ptrdiff_t)s->n},
		.c = c, .crs = (ptrdiff_t)s->n, .ccs = 1,
		.alpha = 1.0f, .beta = 0.0f,
	};
	infd__gemm_run(&gm, ws, pool);
	if (has_clamp(j->n))
		clamp_range(c, s->m * s->n, j->n->out_min, j->n->out_max);
}

static void bmm_task(void *ctx, size_t t)
{
	const struct bmm_job *j = ctx;
	size_t lo = t * j->geo.batches / j->tasks, hi = (t + 1) * j->geo.batches / j->tasks;
	for (size_t i = lo; i < hi; i++)
		bmm_one(j, i, j->ws + t * j->geo.ws_floats, NULL);
}

/* Small GEMMs run side by side, one per task; large ones one after the other,
 * each spread over the pool (the numbers are the same either way). */
static size_t bmm_tasks(const struct bmm_geom *b, size_t threads)
{
	if (threads > 1 && b->batches > 1 && 2.0 * (double)b->m * (double)b->n * (double)b->k < 8e6)
		return b->batches < threads ? b->batches : threads;
	return 1;
}

static void run_bmm(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data, void *scratch,
		    pthreadpool_t pool)
{
	struct bmm_job j = {.n = n, .a = data[n->in[0]], .b = data[n->in[1]], .c = data[n->out[0]], .ws = scratch};
	bmm_geom(g, n, &j.geo);
	j.tasks = bmm_tasks(&j.geo, pool_threads(pool));
	if (j.tasks > 1) {
		pthreadpool_parallelize_1d(pool, bmm_task, &j, j.tasks, 0);
		return;
	}
	for (size_t i = 0; i < j.geo.batches; i++)
		bmm_one(&j, i, j.ws, pool);
}

/* ---- Fully connected and 1x1 convolution on the runtime's SGEMM ---------------- */

/* The shape rule (measured with bench_xnnpack, one and two threads): the SGEMM
 * beats this XNNPACK's 5x16 fully-connected kernel by 1.3-1.9x once K and N are
 * 64 or more; with fewer input channels (MobileNetV2's K = 16..32 expansions) or
 * few output channels over many rows (N = 24, 32) it loses, and for a few rows
 * (a matrix-vector product) both are bound by reading the weights. */
#define GEMM_MIN_K 64
#define GEMM_MIN_N 64
#define GEMM_MIN_M 8

struct infd_xgemm {
	const struct infd_xnode *node;
	size_t m, k, n;
	const float *w; /* [N, K], row-major: the filter itself, or w_own */
	float *w_own;   /* the filter transposed once, when it came as [K, N] */
	const float *bias;
	size_t ws_floats;
};

/* M x K by (N x K)ᵀ for a fully-connected node or a 1x1, stride 1, unpadded,
 * ungrouped convolution (NHWC: rows are pixels); false for anything else. */
static bool gemm_shape(const struct infd_xgraph *g, const struct infd_xnode *n, size_t *m, size_t *k, size_t *nn)
{
	const struct infd_xvalue *o = &g->values[n->out[0]];
	if ((n->op != INFD_XOP_FULLY_CONNECTED && n->op != INFD_XOP_CONV2D) || n->n_in < 2 || o->dtype != INFD_XDT_FP32)
		return false;
	for (uint32_t i = 0; i < n->n_in; i++)
		if (n->in[i] != INFD_XNONE && g->values[n->in[i]].dtype != INFD_XDT_FP32)
			return false;
	const struct infd_xvalue *x = &g->values[n->in[0]], *w = &g->values[n->in[1]];
	if (!w->data || (n->n_in > 2 && n->in[2] != INFD_XNONE && !g->values[n->in[2]].data))
		return false;
	if (n->op == INFD_XOP_FULLY_CONNECTED) {
		bool tw = n->flags & INFD_XFLAG_TRANSPOSE_WEIGHTS;
		*k = tw ? w->dims[0] : w->dims[1];
		*nn = tw ? w->dims[1] : w->dims[0];
	} else if (n->op == INFD_XOP_CONV2D) {
		const struct infd_xconv *c = &n->p.conv;
		if (c->kernel_h != 1 || c->kernel_w != 1 || c->stride_h != 1 || c->stride_w != 1 || c->groups != 1 ||
		    c->pad_top || c->pad_right || c->pad_bottom || c->pad_left || x->rank != 4)
			return false;
		*k = x->dims[3];
		*nn = w->dims[0];
	} else {
		return false;
	}
	*m = *k ? (size_t)(numel(x) / *k) : 0;
	return (uint64_t)*m * *nn == numel(o);
}

bool infd__xown_gemm_shape_wins(uint64_t m, uint64_t k, uint64_t n)
{
	return k >= GEMM_MIN_K && n >= GEMM_MIN_N && m >= GEMM_MIN_M;
}

bool infd__xown_gemm_wins(const struct infd_xgraph *g, const struct infd_xnode *n)
{
	size_t m, k, nn;
	return gemm_shape(g, n, &m, &k, &nn) && infd__xown_gemm_shape_wins(m, k, nn);
}

infd_status infd__xown_gemm_prepare(const struct infd_xgraph *g, const struct infd_xnode *n, struct infd_xgemm **out,
				    struct infd_error *err)
{
	struct infd_xgemm *x = calloc(1, sizeof *x);
	if (!x)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory (plan)");
	x->node = n;
	if (!gemm_shape(g, n, &x->m, &x->k, &x->n)) {
		free(x);
		return infd__fail(err, INFD_INTERNAL, "node %s: not a GEMM-shaped node", infd__xop_name(n->op));
	}
	x->w = g->values[n->in[1]].data;
	if (n->op == INFD_XOP_FULLY_CONNECTED && (n->flags & INFD_XFLAG_TRANSPOSE_WEIGHTS)) {
		/* [K, N] in memory: the SGEMM packs [N, K] rows fastest */
		x->w_own = malloc((x->k * x->n > 0 ? x->k * x->n : 1) * sizeof *x->w_own);
		if (!x->w_own) {
			free(x);
			return infd__fail(err, INFD_NO_MEMORY, "out of memory (plan)");
		}
		for (size_t kk = 0; kk < x->k; kk++)
			for (size_t j = 0; j < x->n; j++)
				x->w_own[j * x->k + kk] = x->w[kk * x->n + j];
		x->w = x->w_own;
	}
	x->bias = n->n_in > 2 && n->in[2] != INFD_XNONE ? g->values[n->in[2]].data : NULL;
	x->ws_floats = infd__gemm_ws_floats(x->m, x->n, x->k);
	*out = x;
	return INFD_OK;
}

size_t infd__xown_gemm_scratch_bytes(const struct infd_xgemm *x)
{
	return x->ws_floats * sizeof(float);
}

struct clamp_job {
	float *y;
	size_t count;
	float lo, hi;
};

static void clamp_task(void *ctx, size_t t)
{
	const struct clamp_job *j = ctx;
	size_t lo = t * CHUNK, cnt = j->count - lo < CHUNK ? j->count - lo : CHUNK;
	clamp_range(j->y + lo, cnt, j->lo, j->hi);
}

void infd__xown_gemm_run(const struct infd_xgemm *x, void *const *data, void *scratch, void *pool_)
{
	pthreadpool_t pool = pool_;
	const struct infd_xnode *n = x->node;
	float *y = data[n->out[0]];
	struct gemm gm = {
		.m = x->m, .n = x->n, .k = x->k,
		.a = {.p = data[n->in[0]], .ls = (ptrdiff_t)x->k, .ks = 1},
		.b = {.p = x->w, .ls = (ptrdiff_t)x->k, .ks = 1},
		.c = y, .crs = (ptrdiff_t)x->n, .ccs = 1,
		.bias = x->bias, .brs = 0, .bcs = 1,
		.alpha = 1.0f, .beta = x->bias ? 1.0f : 0.0f,
	};
	infd__gemm_run(&gm, scratch, pool);
	if (has_clamp(n)) {
		struct clamp_job j = {.y = y, .count = x->m * x->n, .lo = n->out_min, .hi = n->out_max};
		run_tasks(pool, clamp_task, &j, (j.count + CHUNK - 1) / CHUNK, CHUNK);
	}
}

void infd__xown_gemm_free(struct infd_xgemm *x)
{
	if (!x)
		return;
	free(x->w_own);
	free(x);
}

/* ---- Layer norm -------------------------------------------------------------- */

struct ln_job {
	const struct infd_xnode *n;
	const float *x, *w, *b;
	float *y;
	size_t c, rows_per_task, rows;
};

static float sum8(const float *restrict x, size_t n)
{
	float acc[8] = {0};
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int l = 0; l < 8; l++)
			acc[l] += x[i + (size_t)l];
	float s = 0.0f;
	for (; i < n; i++)
		s += x[i];
	for (int l = 0; l < 8; l++)
		s += acc[l];
	return s;
}

static float sqdev8(const float *restrict x, size_t n, float mean)
{
	float acc[8] = {0};
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int l = 0; l < 8; l++) {
			float d = x[i + (size_t)l] - mean;
			acc[l] += d * d;
		}
	float s = 0.0f;
	for (; i < n; i++)
		s += (x[i] - mean) * (x[i] - mean);
	for (int l = 0; l < 8; l++)
		s += acc[l];
	return s;
}

static void ln_task(void *ctx, size_t t)
{
	const struct ln_job *j = ctx;
	const size_t c = j->c;
	size_t lo = t * j->rows_per_task, hi = lo + j->rows_per_task < j->rows ? lo + j->rows_per_task : j->rows;
	for (size_t r = lo; r < hi; r++) {
		const float *restrict x = j->x + r * c;
		float *restrict y = j->y + r * c;
		const float mean = sum8(x, c) / (float)c;
		const float rstd = 1.0f / sqrtf(sqdev8(x, c, mean) / (float)c + j->n->p.eps);
		if (j->w && j->b)
			for (size_t i = 0; i < c; i++)
				y[i] = (x[i] - mean) * rstd * j->w[i] + j->b[i];
		else if (j->w)
			for (size_t i = 0; i < c; i++)
				y[i] = (x[i] - mean) * rstd * j->w[i];
		else if (j->b)
			for (size_t i = 0; i < c; i++)
				y[i] = (x[i] - mean) * rstd + j->b[i];
		else
			for (size_t i = 0; i < c; i++)
				y[i] = (x[i] - mean) * rstd;
		if (has_clamp(j->n))
			clamp_range(y, c, j->n->out_min, j->n->out_max);
	}
}

static void run_layer_norm(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data,
			   pthreadpool_t pool)
{
	const struct infd_xvalue *x = &g->values[n->in[0]];
	struct ln_job j = {.n = n, .x = data[n->in[0]], .y = data[n->out[0]], .c = x->dims[x->rank - 1]};
	if (n->n_in > 1 && n->in[1] != INFD_XNONE)
		j.w = data[n->in[1]];
	if (n->n_in > 2 && n->in[2] != INFD_XNONE)
		j.b = data[n->in[2]];
	j.rows = (size_t)numel(x) / j.c;
	j.rows_per_task = j.c >= CHUNK ? 1 : CHUNK / j.c;
	run_tasks(pool, ln_task, &j, (j.rows + j.rows_per_task - 1) / j.rows_per_task, j.rows_per_task * j.c * 3);
}

/* ---- Softmax (last dim) -------------------------------------------------------- */

static void run_softmax(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data)
{
	const struct infd_xvalue *x = &g->values[n->in[0]];
	const size_t c = x->dims[x->rank - 1], rows = (size_t)numel(x) / c;
	const float *xs = data[n->in[0]];
	float *ys = data[n->out[0]];
	for (size_t r = 0; r < rows; r++, xs += c, ys += c) {
		float mx = -INFINITY;
		for (size_t i = 0; i < c; i++)
			mx = xs[i] > mx ? xs[i] : mx;
		for (size_t i = 0; i < c; i++)
			ys[i] = exp_f(xs[i] - mx);
		const float inv = 1.0f / sum8(ys, c);
		for (size_t i = 0; i < c; i++)
			ys[i] *= inv;
		if (has_clamp(n))
			clamp_range(ys, c, n->out_min, n->out_max);
	}
}

/* ---- Entry ------------------------------------------------------------------- */

bool infd__xown_has(enum infd_xop op)
{
	switch (op) {
	case INFD_XOP_FULLY_CONNECTED:
	case INFD_XOP_CONV2D:
	case INFD_XOP_DEPTHWISE_CONV2D:
	case INFD_XOP_DECONV2D:
	case INFD_XOP_RESIZE_BILINEAR:
	case INFD_XOP_COUNT_:
		return false;
	default:
		return op >= INFD_XOP_ADD && op < INFD_XOP_COUNT_;
	}
}

size_t infd__xown_scratch_bytes(const struct infd_xgraph *g, const struct infd_xnode *n, size_t threads)
{
	if (n->op != INFD_XOP_BATCH_MATMUL)
		return 0;
	struct bmm_geom b;
	bmm_geom(g, n, &b);
	return b.ws_floats * bmm_tasks(&b, threads) * sizeof(float);
}

void infd__xown_run(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data, void *scratch,
		    void *pool_)
{
	pthreadpool_t pool = pool_;
	switch ((enum infd_xop)n->op) {
	case INFD_XOP_ADD:
	case INFD_XOP_SUBTRACT:
	case INFD_XOP_MULTIPLY:
	case INFD_XOP_DIVIDE:
	case INFD_XOP_MAXIMUM:
	case INFD_XOP_MINIMUM:
		run_binary(g, n, data, pool);
		break;
	case INFD_XOP_PRELU:
		run_prelu(g, n, data);
		break;
	case INFD_XOP_STATIC_RESHAPE:
		convert_range(0, 0, data[n->in[0]], data[n->out[0]], (size_t)numel(&g->values[n->out[0]]));
		if (g->values[n->out[0]].dtype == INFD_XDT_FP32 && has_clamp(n))
			clamp_range(data[n->out[0]], (size_t)numel(&g->values[n->out[0]]), n->out_min, n->out_max);
		break;
	case INFD_XOP_SOFTMAX:
		run_softmax(g, n, data);
		break;
	case INFD_XOP_MAX_POOL2D:
	case INFD_XOP_AVG_POOL2D:
		run_pool(g, n, data, pool);
		break;
	case INFD_XOP_GLOBAL_AVG_POOL2D:
		run_global_avg(g, n, data);
		break;
	case INFD_XOP_STATIC_TRANSPOSE:
		run_transpose(g, n, data, pool);
		if (g->values[n->out[0]].dtype == INFD_XDT_FP32 && has_clamp(n))
			clamp_range(data[n->out[0]], (size_t)numel(&g->values[n->out[0]]), n->out_min, n->out_max);
		break;
	case INFD_XOP_STATIC_SLICE:
		run_slice(g, n, data);
		if (g->values[n->out[0]].dtype == INFD_XDT_FP32 && has_clamp(n))
			clamp_range(data[n->out[0]], (size_t)numel(&g->values[n->out[0]]), n->out_min, n->out_max);
		break;
	case INFD_XOP_CONSTANT_PAD:
		run_pad(g, n, data);
		break;
	case INFD_XOP_CONCATENATE:
		run_concat(g, n, data);
		break;
	case INFD_XOP_BATCH_MATMUL:
		run_bmm(g, n, data, scratch, pool);
		break;
	case INFD_XOP_LAYER_NORM:
		run_layer_norm(g, n, data, pool);
		break;
	case INFD_XOP_FULLY_CONNECTED:
	case INFD_XOP_CONV2D:
	case INFD_XOP_DEPTHWISE_CONV2D:
	case INFD_XOP_DECONV2D:
	case INFD_XOP_RESIZE_BILINEAR:
	case INFD_XOP_COUNT_:
		break;
	default: /* the unary family, copy and convert */
		run_unary(g, n, data, pool);
		break;
	}
}
