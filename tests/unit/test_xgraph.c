/* The XNNPACK backend's graph and plan (backends/xnnpack/xgraph.h): hand-built
 * graphs compiled and run against plain C references (double accumulation),
 * on one thread and on a 2-thread pool; XNNPACK segments mixed with our own
 * kernels; GEMM-shaped nodes on the runtime's SGEMM and the shape rule that
 * keeps others on XNNPACK; plan counts; validation refusing malformed graphs by node. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthreadpool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backends/xnnpack/xgraph.h"

/* ---- Building graphs --------------------------------------------------------- */

static struct infd_xgraph G;
static struct infd_error E;
static uint32_t n_ext;
static void *allocs[256];
static size_t n_allocs;
static pthreadpool_t pool2;

static void setup(void)
{
	infd__xgraph_init(&G);
	n_ext = 0;
	n_allocs = 0;
	pool2 = pthreadpool_create(2);
	cr_assert_not_null(pool2);
}

static void teardown(void)
{
	infd__xgraph_free(&G);
	while (n_allocs)
		free(allocs[--n_allocs]);
	pthreadpool_destroy(pool2);
}

TestSuite(xgraph, .init = setup, .fini = teardown);

static void *track(void *p)
{
	cr_assert_not_null(p);
	cr_assert_lt(n_allocs, sizeof allocs / sizeof allocs[0]);
	allocs[n_allocs++] = p;
	return p;
}

static uint32_t rng = 12345;

static float frand(float lo, float hi)
{
	rng = rng * 1664525u + 1013904223u;
	return lo + (hi - lo) * (float)(rng >> 8) / 16777216.0f;
}

static float *rand_buf(size_t n, float lo, float hi)
{
	float *p = track(malloc((n ? n : 1) * sizeof *p));
	for (size_t i = 0; i < n; i++)
		p[i] = frand(lo, hi);
	return p;
}

static float *zeros(size_t n)
{
	return track(calloc(n ? n : 1, sizeof(float)));
}

/* Start over with an empty graph (a test that builds several; buffers stay tracked). */
static void fresh_graph(void)
{
	infd__xgraph_free(&G);
	infd__xgraph_init(&G);
	n_ext = 0;
}

enum vkind { INTERNAL, IN, OUT, STATIC };

/* A value of `rank` dims (the variadic uint32_t's); STATIC takes `data`. */
static uint32_t val_dt(uint8_t dt, enum vkind kind, const void *data, uint32_t rank, ...)
{
	struct infd_xvalue v = {.dtype = dt, .rank = (uint8_t)rank, .external = INFD_XNONE};
	va_list ap;
	va_start(ap, rank);
	for (uint32_t i = 0; i < rank; i++)
		v.dims[i] = va_arg(ap, uint32_t);
	va_end(ap);
	if (kind == IN || kind == OUT) {
		v.flags = kind == IN ? INFD_XV_INPUT : INFD_XV_OUTPUT;
		v.external = n_ext++;
	}
	if (kind == STATIC)
		v.data = data;
	uint32_t id;
	cr_assert_eq(infd__xgraph_add_value(&G, &v, &id, &E), INFD_OK, "%s", E.msg);
	return id;
}

#define val(kind, data, ...) val_dt(INFD_XDT_FP32, kind, data, __VA_ARGS__)

static struct infd_xnode mk(enum infd_xop op, uint32_t out, uint32_t n_in, ...)
{
	struct infd_xnode n = {.op = (uint8_t)op, .n_in = n_in, .out = {out}, .out_min = -INFINITY, .out_max = INFINITY};
	va_list ap;
	va_start(ap, n_in);
	for (uint32_t i = 0; i < n_in; i++)
		n.in[i] = va_arg(ap, uint32_t);
	va_end(ap);
	return n;
}

static void add(const struct infd_xnode *n)
{
	cr_assert_eq(infd__xgraph_add_node(&G, n, &E), INFD_OK, "%s", E.msg);
}

static void add1(struct infd_xnode n)
{
	add(&n);
}

/* Validate, compile, run (twice: the second run re-uses the setup) and
 * return the plan's counts. */
static void run_graph(void *const *ext, pthreadpool_t pool, uint32_t *n_xnn, uint32_t *n_own)
{
	cr_assert_eq(infd__xgraph_validate(&G, &E), INFD_OK, "%s", E.msg);
	struct infd_xplan *p = NULL;
	cr_assert_eq(infd__xplan_compile(&G, pool, &p, &E), INFD_OK, "%s", E.msg);
	cr_assert_eq(infd__xplan_execute(p, ext, &E), INFD_OK, "%s", E.msg);
	cr_assert_eq(infd__xplan_execute(p, ext, &E), INFD_OK, "%s", E.msg);
	uint32_t a, b;
	infd__xplan_counts(p, &a, &b);
	if (n_xnn)
		*n_xnn = a;
	if (n_own)
		*n_own = b;
	infd__xplan_free(p);
}

static void expect_close(const float *got, const float *want, size_t n, float atol, float rtol, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		float d = fabsf(got[i] - want[i]);
		if (isnan(want[i]) && isnan(got[i]))
			continue;
		cr_assert(d <= atol + rtol * fabsf(want[i]), "%s: element %zu is %.9g, expected %.9g", what, i,
			  (double)got[i], (double)want[i]);
	}
}

static float clampf(double v, float lo, float hi)
{
	return (float)(v < lo ? lo : v > hi ? hi : v);
}

/* ---- References (NHWC) ---------------------------------------------------------- */

struct conv_ref {
	uint32_t n, h, w, c, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl, groups, gi, go;
	bool depthwise;
	float lo, hi;
};

static void ref_conv(const struct conv_ref *r, const float *x, const float *f, const float *b, float *y)
{
	for (uint32_t n = 0; n < r->n; n++)
		for (uint32_t oy = 0; oy < r->oh; oy++)
			for (uint32_t ox = 0; ox < r->ow; ox++)
				for (uint32_t o = 0; o < r->oc; o++) {
					uint32_t g = o / r->go;
					double acc = b ? b[o] : 0.0;
					for (uint32_t ky = 0; ky < r->kh; ky++)
						for (uint32_t kx = 0; kx < r->kw; kx++) {
							int iy = (int)(oy * r->sh + ky * r->dh) - (int)r->pt;
							int ix = (int)(ox * r->sw + kx * r->dw) - (int)r->pl;
							if (iy < 0 || ix < 0 || iy >= (int)r->h || ix >= (int)r->w)
								continue;
							for (uint32_t ci = 0; ci < r->gi; ci++) {
								float fv = r->depthwise
										   ? f[(ky * r->kw + kx) * r->oc + o]
										   : f[((o * r->kh + ky) * r->kw + kx) * r->gi + ci];
								acc += (double)fv *
								       x[(((size_t)n * r->h + (size_t)iy) * r->w + (size_t)ix) * r->c +
									 g * r->gi + ci];
							}
						}
					y[(((size_t)n * r->oh + oy) * r->ow + ox) * r->oc + o] = clampf(acc, r->lo, r->hi);
				}
}

/* want_own: 1 when the node should run on our SGEMM instead of XNNPACK */
static void conv_case_on(const struct conv_ref *r, pthreadpool_t pool, uint32_t want_own)
{
	fresh_graph();
	size_t nx = (size_t)r->n * r->h * r->w * r->c, ny = (size_t)r->n * r->oh * r->ow * r->oc;
	size_t nf = r->depthwise ? (size_t)r->kh * r->kw * r->oc : (size_t)r->oc * r->kh * r->kw * r->gi;
	float *x = rand_buf(nx, -1, 1), *f = rand_buf(nf, -1, 1), *b = rand_buf(r->oc, -1, 1);
	float *y = zeros(ny), *want = zeros(ny);
	uint32_t vx = val(IN, NULL, 4, r->n, r->h, r->w, r->c);
	uint32_t vf = r->depthwise ? val(STATIC, f, 4, 1, r->kh, r->kw, r->oc) : val(STATIC, f, 4, r->oc, r->kh, r->kw, r->gi);
	uint32_t vb = val(STATIC, b, 1, r->oc);
	uint32_t vy = val(OUT, NULL, 4, r->n, r->oh, r->ow, r->oc);
	struct infd_xnode n = mk(r->depthwise ? INFD_XOP_DEPTHWISE_CONV2D : INFD_XOP_CONV2D, vy, 3, vx, vf, vb);
	n.out_min = r->lo;
	n.out_max = r->hi;
	/* paddings: top/left from the reference, bottom/right whatever makes OH/OW */
	uint32_t eh = r->dh * (r->kh - 1) + 1, ew = r->dw * (r->kw - 1) + 1;
	n.p.conv = (struct infd_xconv){.pad_top = r->pt, .pad_left = r->pl,
				       .pad_bottom = (r->oh - 1) * r->sh + eh - r->h - r->pt,
				       .pad_right = (r->ow - 1) * r->sw + ew - r->w - r->pl,
				       .kernel_h = r->kh, .kernel_w = r->kw, .stride_h = r->sh, .stride_w = r->sw,
				       .dilation_h = r->dh, .dilation_w = r->dw, .groups = r->groups, .group_in = r->gi,
				       .group_out = r->go};
	add(&n);
	void *ext[] = {x, y};
	uint32_t a, o;
	run_graph(ext, pool, &a, &o);
	cr_assert_eq(a, 1 - want_own);
	cr_assert_eq(o, want_own);
	ref_conv(r, x, f, b, want);
	expect_close(y, want, ny, 1e-4f, 1e-4f, "conv");
}

static void conv_case(const struct conv_ref *r, pthreadpool_t pool)
{
	conv_case_on(r, pool, 0);
}

Test(xgraph, conv2d_grouped_strided_dilated_clamped)
{
	/* H 7, kernel 3 dil 1 stride 2 pad 1: OH 4; W 9, kernel 2 dil 2 stride 1 pad 1: OW 9 */
	struct conv_ref r = {.n = 2, .h = 7, .w = 9, .c = 4, .oh = 4, .ow = 9, .oc = 6, .kh = 3, .kw = 2, .sh = 2, .sw = 1,
			     .dh = 1, .dw = 2, .pt = 1, .pl = 1, .groups = 2, .gi = 2, .go = 3, .lo = -0.5f, .hi = 0.7f};
	conv_case(&r, NULL);
}

Test(xgraph, conv2d_on_two_threads)
{
	struct conv_ref r = {.n = 1, .h = 12, .w = 10, .c = 8, .oh = 12, .ow = 10, .oc = 16, .kh = 3, .kw = 3, .sh = 1,
			     .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .groups = 1, .gi = 8, .go = 16, .lo = 0.0f,
			     .hi = INFINITY};
	conv_case(&r, pool2);
}

Test(xgraph, depthwise_conv2d_multiplier_dilation_relu6)
{
	/* 3 channels x multiplier 2; H 8 kernel 3 dil 2 pad 2 stride 1: OH 8; W 6 stride 2 pad 1: OW 3 */
	struct conv_ref r = {.n = 1, .h = 8, .w = 6, .c = 3, .oh = 8, .ow = 3, .oc = 6, .kh = 3, .kw = 3, .sh = 1, .sw = 2,
			     .dh = 2, .dw = 1, .pt = 2, .pl = 1, .groups = 3, .gi = 1, .go = 2, .depthwise = true,
			     .lo = 0.0f, .hi = 0.6f};
	conv_case(&r, NULL);
}

static void fc_case(bool transposed, bool flatten)
{
	const uint32_t ic = 5, oc = 4;
	float *x = rand_buf(2 * 3 * ic, -1, 1), *w = rand_buf(ic * oc, -1, 1), *b = rand_buf(oc, -1, 1);
	float *y = zeros(2 * 3 * oc), *want = zeros(2 * 3 * oc);
	uint32_t vx = val(IN, NULL, 3, 2, 3, ic);
	uint32_t vw = transposed ? val(STATIC, w, 2, ic, oc) : val(STATIC, w, 2, oc, ic);
	uint32_t vb = val(STATIC, b, 1, oc);
	uint32_t vy = flatten ? val(OUT, NULL, 2, 6, oc) : val(OUT, NULL, 3, 2, 3, oc);
	struct infd_xnode n = mk(INFD_XOP_FULLY_CONNECTED, vy, 3, vx, vw, vb);
	n.flags = transposed ? INFD_XFLAG_TRANSPOSE_WEIGHTS : 0;
	n.out_max = 0.5f;
	add(&n);
	void *ext[] = {x, y};
	run_graph(ext, NULL, NULL, NULL);
	for (uint32_t r = 0; r < 6; r++)
		for (uint32_t o = 0; o < oc; o++) {
			double acc = b[o];
			for (uint32_t i = 0; i < ic; i++)
				acc += (double)x[r * ic + i] * (transposed ? w[i * oc + o] : w[o * ic + i]);
			want[r * oc + o] = clampf(acc, -INFINITY, 0.5f);
		}
	expect_close(y, want, 6 * oc, 1e-5f, 1e-5f, "fully connected");
}

Test(xgraph, fully_connected_oc_ic)
{
	fc_case(false, false);
}

Test(xgraph, fully_connected_ic_oc_flattened)
{
	fc_case(true, true);
}

/* ---- GEMM-shaped nodes on our SGEMM ------------------------------------------------ */

/* y[rows, oc] = x[rows, ic] W + b, clamped to [-0.4, 0.6]; W [oc, ic] or [ic, oc];
 * rows = 4 x (rows / 4) as a rank-3 input, flattened or not. */
static void fc_big_case(uint32_t rows, uint32_t ic, uint32_t oc, bool transposed, bool flatten, pthreadpool_t pool,
			uint32_t want_own)
{
	fresh_graph();
	float *x = rand_buf((size_t)rows * ic, -1, 1), *w = rand_buf((size_t)ic * oc, -0.5f, 0.5f);
	float *b = rand_buf(oc, -1, 1), *y = zeros((size_t)rows * oc), *want = zeros((size_t)rows * oc);
	uint32_t vx = val(IN, NULL, 3, 4, rows / 4, ic);
	uint32_t vw = transposed ? val(STATIC, w, 2, ic, oc) : val(STATIC, w, 2, oc, ic);
	uint32_t vb = val(STATIC, b, 1, oc);
	uint32_t vy = flatten ? val(OUT, NULL, 2, rows, oc) : val(OUT, NULL, 3, 4, rows / 4, oc);
	struct infd_xnode n = mk(INFD_XOP_FULLY_CONNECTED, vy, 3, vx, vw, vb);
	n.flags = transposed ? INFD_XFLAG_TRANSPOSE_WEIGHTS : 0;
	n.out_min = -0.4f;
	n.out_max = 0.6f;
	add(&n);
	void *ext[] = {x, y};
	uint32_t a, o;
	run_graph(ext, pool, &a, &o);
	cr_assert_eq(a, 1 - want_own, "on XNNPACK: %u", a);
	cr_assert_eq(o, want_own, "on own code: %u", o);
	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t j = 0; j < oc; j++) {
			double acc = b[j];
			for (uint32_t i = 0; i < ic; i++) {
				float wv = transposed ? w[(size_t)i * oc + j] : w[(size_t)j * ic + i];
				acc += (double)x[(size_t)r * ic + i] * wv;
			}
			want[(size_t)r * oc + j] = clampf(acc, -0.4f, 0.6f);
		}
	expect_close(y, want, (size_t)rows * oc, 1e-4f, 1e-4f, "fully connected (SGEMM)");
}

Test(xgraph, gemm_fc_oc_ic_bias_clamp)
{
	fc_big_case(44, 70, 90, false, false, NULL, 1);
}

Test(xgraph, gemm_fc_ic_oc_bias_clamp_flattened)
{
	fc_big_case(44, 70, 90, true, true, NULL, 1);
}

Test(xgraph, gemm_fc_both_layouts_two_threads)
{
	/* large enough that the SGEMM spreads over the pool */
	fc_big_case(200, 160, 272, false, false, pool2, 1);
	fc_big_case(200, 160, 272, true, false, pool2, 1);
}

Test(xgraph, gemm_conv1x1_bias_relu6)
{
	struct conv_ref r = {.n = 2, .h = 5, .w = 7, .c = 96, .oh = 5, .ow = 7, .oc = 80, .kh = 1, .kw = 1, .sh = 1,
			     .sw = 1, .dh = 1, .dw = 1, .groups = 1, .gi = 96, .go = 80, .lo = 0.0f, .hi = 6.0f};
	conv_case_on(&r, NULL, 1);
}

Test(xgraph, gemm_conv1x1_two_threads)
{
	struct conv_ref r = {.n = 1, .h = 14, .w = 14, .c = 64, .oh = 14, .ow = 14, .oc = 384, .kh = 1, .kw = 1, .sh = 1,
			     .sw = 1, .dh = 1, .dw = 1, .groups = 1, .gi = 64, .go = 384, .lo = -INFINITY, .hi = INFINITY};
	conv_case_on(&r, pool2, 1);
}

/* The shape rule keeps on XNNPACK what our SGEMM does not win: few input
 * channels (K <= 32), few output channels, a matrix-vector product, and 1x1
 * convolutions that are not plain GEMMs (stride 2, padding, groups). */
Test(xgraph, gemm_rule_keeps_xnnpack_shapes)
{
	fc_big_case(400, 24, 144, false, false, NULL, 0);
	fc_big_case(400, 32, 192, true, false, NULL, 0);
	fc_big_case(400, 144, 24, false, false, NULL, 0);
	fc_big_case(4, 256, 256, false, true, NULL, 0);
	struct conv_ref base = {.n = 1, .h = 8, .w = 8, .c = 64, .oh = 8, .ow = 8, .oc = 64, .kh = 1, .kw = 1, .sh = 1,
				.sw = 1, .dh = 1, .dw = 1, .groups = 1, .gi = 64, .go = 64, .lo = -INFINITY, .hi = INFINITY};
	struct conv_ref r = base;
	r.c = r.gi = 16;
	conv_case_on(&r, NULL, 0);
	r = base;
	r.sh = r.sw = 2;
	r.h = r.w = 7;
	r.oh = r.ow = 4;
	conv_case_on(&r, NULL, 0);
	r = base;
	r.pt = r.pl = 1;
	r.oh = r.ow = 10; /* padded 1 on each side */
	conv_case_on(&r, NULL, 0);
	r = base;
	r.groups = 2;
	r.gi = r.go = 32;
	conv_case_on(&r, NULL, 0);
}

/* An SGEMM node between XNNPACK nodes splits the run: the value crossing into it
 * and past it lives in the arena, read by both sides. */
Test(xgraph, gemm_node_splits_xnnpack_run)
{
	/* x [1,6,6,8] -conv 3x3 pad 1 (relu, XNNPACK)-> a [1,6,6,64] -1x1 conv 64->64
	 * (bias, clamp, SGEMM)-> c -add a (XNNPACK)-> y */
	float *x = rand_buf(288, -1, 1), *f = rand_buf(64 * 9 * 8, -0.3f, 0.3f), *f1 = rand_buf(64 * 64, -0.2f, 0.2f);
	float *b1 = rand_buf(64, -0.5f, 0.5f);
	uint32_t vx = val(IN, NULL, 4, 1, 6, 6, 8), vf = val(STATIC, f, 4, 64, 3, 3, 8);
	uint32_t vf1 = val(STATIC, f1, 4, 64, 1, 1, 64), vb1 = val(STATIC, b1, 1, 64);
	uint32_t va = val(INTERNAL, NULL, 4, 1, 6, 6, 64), vc = val(INTERNAL, NULL, 4, 1, 6, 6, 64);
	uint32_t vy = val(OUT, NULL, 4, 1, 6, 6, 64);
	struct infd_xnode conv = mk(INFD_XOP_CONV2D, va, 3, vx, vf, INFD_XNONE);
	conv.p.conv = (struct infd_xconv){.pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .kernel_h = 3,
					  .kernel_w = 3, .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
					  .groups = 1, .group_in = 8, .group_out = 64};
	conv.out_min = 0.0f;
	add(&conv);
	struct infd_xnode pw = mk(INFD_XOP_CONV2D, vc, 3, va, vf1, vb1);
	pw.p.conv = (struct infd_xconv){.kernel_h = 1, .kernel_w = 1, .stride_h = 1, .stride_w = 1, .dilation_h = 1,
					.dilation_w = 1, .groups = 1, .group_in = 64, .group_out = 64};
	pw.out_min = -0.5f;
	pw.out_max = 0.5f;
	add(&pw);
	add1(mk(INFD_XOP_ADD, vy, 2, vc, va));
	float a_ref[2304], c_ref[2304], want[2304];
	struct conv_ref r = {.n = 1, .h = 6, .w = 6, .c = 8, .oh = 6, .ow = 6, .oc = 64, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
			     .dh = 1, .dw = 1, .pt = 1, .pl = 1, .groups = 1, .gi = 8, .go = 64, .lo = 0, .hi = INFINITY};
	ref_conv(&r, x, f, NULL, a_ref);
	struct conv_ref r1 = {.n = 1, .h = 6, .w = 6, .c = 64, .oh = 6, .ow = 6, .oc = 64, .kh = 1, .kw = 1, .sh = 1,
			      .sw = 1, .dh = 1, .dw = 1, .groups = 1, .gi = 64, .go = 64, .lo = -0.5f, .hi = 0.5f};
	ref_conv(&r1, a_ref, f1, b1, c_ref);
	for (int i = 0; i < 2304; i++)
		want[i] = a_ref[i] + c_ref[i];
	for (int t = 0; t < 2; t++) {
		cr_assert_eq(infd__xgraph_validate(&G, &E), INFD_OK, "%s", E.msg);
		struct infd_xplan *p;
		cr_assert_eq(infd__xplan_compile(&G, t ? pool2 : NULL, &p, &E), INFD_OK, "%s", E.msg);
		uint32_t a, o;
		infd__xplan_counts(p, &a, &o);
		cr_assert_eq(a, 2); /* conv | add */
		cr_assert_eq(o, 1); /* the 1x1 conv */
		for (int round = 0; round < 2; round++) {
			float *y = zeros(2304);
			void *ext[] = {x, y};
			cr_assert_eq(infd__xplan_execute(p, ext, &E), INFD_OK, "%s", E.msg);
			expect_close(y, want, 2304, 1e-4f, 1e-4f, "conv | 1x1 conv (SGEMM) | add");
		}
		infd__xplan_free(p);
	}
}

/* ---- Pooling ------------------------------------------------------------------- */

static void ref_pool(bool avg, const float *x, uint32_t n, uint32_t h, uint32_t w, uint32_t c, uint32_t ph,
		     uint32_t pw, uint32_t sh, uint32_t sw, uint32_t pt, uint32_t pl, uint32_t oh, uint32_t ow, float lo,
		     float hi, float *y)
{
	for (uint32_t b = 0; b < n; b++)
		for (uint32_t oy = 0; oy < oh; oy++)
			for (uint32_t ox = 0; ox < ow; ox++)
				for (uint32_t ch = 0; ch < c; ch++) {
					double acc = avg ? 0.0 : -INFINITY;
					int cnt = 0;
					for (uint32_t ky = 0; ky < ph; ky++)
						for (uint32_t kx = 0; kx < pw; kx++) {
							int iy = (int)(oy * sh + ky) - (int)pt, ix = (int)(ox * sw + kx) - (int)pl;
							if (iy < 0 || ix < 0 || iy >= (int)h || ix >= (int)w)
								continue;
							double v = x[(((size_t)b * h + (size_t)iy) * w + (size_t)ix) * c + ch];
							acc = avg ? acc + v : (v > acc ? v : acc);
							cnt++;
						}
					y[(((size_t)b * oh + oy) * ow + ox) * c + ch] = clampf(avg ? acc / cnt : acc, lo, hi);
				}
}

static void pool_case(enum infd_xop op, uint32_t ph, uint32_t pw, uint32_t s, uint32_t pad, float lo, float hi,
		      uint32_t want_xnn)
{
	const uint32_t n = 2, h = 7, w = 6, c = 5;
	uint32_t oh = (h + 2 * pad - ph) / s + 1, ow = (w + 2 * pad - pw) / s + 1;
	float *x = rand_buf(n * h * w * c, -2, 2), *y = zeros(n * oh * ow * c), *want = zeros(n * oh * ow * c);
	uint32_t vx = val(IN, NULL, 4, n, h, w, c), vy = val(OUT, NULL, 4, n, oh, ow, c);
	struct infd_xnode nd = mk(op, vy, 1, vx);
	nd.p.pool = (struct infd_xpool){.pad_top = pad, .pad_bottom = pad, .pad_left = pad, .pad_right = pad,
					.pool_h = ph, .pool_w = pw, .stride_h = s, .stride_w = s, .dilation_h = 1,
					.dilation_w = 1};
	nd.out_min = lo;
	nd.out_max = hi;
	add(&nd);
	void *ext[] = {x, y};
	uint32_t a, o;
	run_graph(ext, NULL, &a, &o);
	cr_assert_eq(a, want_xnn);
	cr_assert_eq(o, 1 - want_xnn);
	ref_pool(op == INFD_XOP_AVG_POOL2D, x, n, h, w, c, ph, pw, s, s, pad, pad, oh, ow, lo, hi, want);
	expect_close(y, want, n * oh * ow * c, 1e-5f, 1e-5f, infd__xop_name(op));
}

Test(xgraph, max_pool_3x3_stride2_pad1_clamped)
{
	pool_case(INFD_XOP_MAX_POOL2D, 3, 3, 2, 1, -INFINITY, 1.0f, 1);
}

Test(xgraph, avg_pool_excludes_padding)
{
	pool_case(INFD_XOP_AVG_POOL2D, 3, 2, 1, 1, -0.3f, INFINITY, 1);
}

Test(xgraph, max_pool_1x1_runs_own_code)
{
	pool_case(INFD_XOP_MAX_POOL2D, 1, 1, 2, 0, -INFINITY, INFINITY, 0);
}

Test(xgraph, avg_pool_1x1_runs_own_code)
{
	pool_case(INFD_XOP_AVG_POOL2D, 1, 1, 2, 0, -1.0f, 1.0f, 0);
}

static void gap_case(uint32_t rank, bool keep)
{
	const uint32_t n = 2, h = 3, w = 4, c = 6;
	float *x = rand_buf(n * h * w * c, -1, 1), *y = zeros(n * c), *want = zeros(n * c);
	uint32_t vx = rank == 4 ? val(IN, NULL, 4, n, h, w, c) : val(IN, NULL, 3, n * h, w, c);
	uint32_t vy;
	if (rank == 4)
		vy = keep ? val(OUT, NULL, 4, n, 1, 1, c) : val(OUT, NULL, 2, n, c);
	else
		vy = val(OUT, NULL, 1, c);
	struct infd_xnode nd = mk(INFD_XOP_GLOBAL_AVG_POOL2D, vy, 1, vx);
	nd.flags = keep ? INFD_XFLAG_KEEP_DIMS : 0;
	nd.out_min = -0.2f;
	add(&nd);
	void *ext[] = {x, y};
	uint32_t a, o;
	run_graph(ext, NULL, &a, &o);
	cr_assert_eq(a, rank == 4 ? 1 : 0);
	uint32_t batches = rank == 4 ? n : 1, hw = rank == 4 ? h * w : n * h * w;
	for (uint32_t b = 0; b < batches; b++)
		for (uint32_t ch = 0; ch < c; ch++) {
			double s = 0;
			for (uint32_t p = 0; p < hw; p++)
				s += x[((size_t)b * hw + p) * c + ch];
			want[b * c + ch] = clampf(s / hw, -0.2f, INFINITY);
		}
	expect_close(y, want, batches * c, 1e-5f, 1e-5f, "global average pooling");
}

Test(xgraph, global_avg_pool_keep_dims)
{
	gap_case(4, true);
}

Test(xgraph, global_avg_pool_to_nc)
{
	gap_case(4, false);
}

Test(xgraph, global_avg_pool_rank3_own_code)
{
	gap_case(3, false);
}

/* ---- Binary, softmax, reshape ------------------------------------------------------ */

static double ref_bin(enum infd_xop op, double a, double b)
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

Test(xgraph, binary_broadcasting_with_clamps)
{
	/* a [2,1,3], b [4,1] (static), out [2,4,3]; then each op chained with a scalar */
	float *a = rand_buf(6, -2, 2), *b = rand_buf(4, 0.5f, 2);
	static const float scalar[1] = {0.75f};
	uint32_t va = val(IN, NULL, 3, 2, 1, 3), vb = val(STATIC, b, 2, 4, 1), vs = val(STATIC, scalar, 0);
	enum infd_xop ops[] = {INFD_XOP_ADD, INFD_XOP_SUBTRACT, INFD_XOP_MULTIPLY, INFD_XOP_DIVIDE, INFD_XOP_MAXIMUM,
			       INFD_XOP_MINIMUM};
	float *outs[6];
	void *ext[8] = {a};
	for (int k = 0; k < 6; k++) {
		uint32_t t = val(INTERNAL, NULL, 3, 2, 4, 3), y = val(OUT, NULL, 3, 2, 4, 3);
		struct infd_xnode n1 = mk(ops[k], t, 2, va, vb);
		n1.out_min = -1.5f;
		n1.out_max = 1.5f;
		add(&n1);
		struct infd_xnode n2 = mk(ops[k], y, 2, vs, t); /* rank 0 against rank 3 */
		n2.out_min = -1.0f;
		add(&n2);
		outs[k] = zeros(24);
		ext[1 + k] = outs[k];
	}
	uint32_t x, o;
	run_graph(ext, pool2, &x, &o);
	cr_assert_eq(x, 12);
	cr_assert_eq(o, 0);
	for (int k = 0; k < 6; k++) {
		float want[24];
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 4; j++)
				for (int l = 0; l < 3; l++) {
					float t = clampf(ref_bin(ops[k], a[i * 3 + l], b[j]), -1.5f, 1.5f);
					want[(i * 4 + j) * 3 + l] = clampf(ref_bin(ops[k], 0.75, t), -1.0f, INFINITY);
				}
		expect_close(outs[k], want, 24, 1e-6f, 1e-6f, infd__xop_name(ops[k]));
	}
}

Test(xgraph, softmax_then_reshape_clamped)
{
	float *x = rand_buf(3 * 7, -3, 3), *y = zeros(21), want[21];
	uint32_t vx = val(IN, NULL, 2, 3, 7), t = val(INTERNAL, NULL, 2, 3, 7), vy = val(OUT, NULL, 3, 7, 1, 3);
	add1(mk(INFD_XOP_SOFTMAX, t, 1, vx));
	struct infd_xnode r = mk(INFD_XOP_STATIC_RESHAPE, vy, 1, t);
	r.out_max = 0.3f;
	add(&r);
	void *ext[] = {x, y};
	uint32_t a, o;
	run_graph(ext, NULL, &a, &o);
	cr_assert_eq(a, 2);
	cr_assert_eq(o, 0);
	for (int i = 0; i < 3; i++) {
		double m = -INFINITY, s = 0;
		for (int j = 0; j < 7; j++)
			m = fmax(m, x[i * 7 + j]);
		for (int j = 0; j < 7; j++)
			s += exp(x[i * 7 + j] - m);
		for (int j = 0; j < 7; j++)
			want[i * 7 + j] = clampf(exp(x[i * 7 + j] - m) / s, -INFINITY, 0.3f);
	}
	expect_close(y, want, 21, 1e-6f, 1e-5f, "softmax");
}

Test(xgraph, xnnpack_unary_family)
{
	enum infd_xop ops[] = {INFD_XOP_ABS, INFD_XOP_NEGATE, INFD_XOP_FLOOR, INFD_XOP_CEILING, INFD_XOP_SQUARE,
			       INFD_XOP_SIGMOID, INFD_XOP_HARDSWISH, INFD_XOP_LEAKY_RELU, INFD_XOP_ELU, INFD_XOP_CLAMP};
	const int nops = sizeof ops / sizeof ops[0];
	float *x = rand_buf(40, -4, 4);
	uint32_t vx = val(IN, NULL, 2, 4, 10);
	void *ext[16] = {x};
	float *outs[16];
	for (int k = 0; k < nops; k++) {
		uint32_t y = val(OUT, NULL, 2, 4, 10);
		struct infd_xnode n = mk(ops[k], y, 1, vx);
		n.p.alpha = 0.1f;
		n.out_min = -2.5f;
		n.out_max = 3.0f;
		add(&n);
		outs[k] = zeros(40);
		ext[1 + k] = outs[k];
	}
	uint32_t a, o;
	run_graph(ext, NULL, &a, &o);
	cr_assert_eq(a, (uint32_t)nops);
	for (int k = 0; k < nops; k++)
		for (int i = 0; i < 40; i++) {
			double v = x[i], r;
			switch (ops[k]) {
			case INFD_XOP_ABS: r = fabs(v); break;
			case INFD_XOP_NEGATE: r = -v; break;
			case INFD_XOP_FLOOR: r = floor(v); break;
			case INFD_XOP_CEILING: r = ceil(v); break;
			case INFD_XOP_SQUARE: r = v * v; break;
			case INFD_XOP_SIGMOID: r = 1 / (1 + exp(-v)); break;
			case INFD_XOP_HARDSWISH: r = v * fmin(fmax(v + 3, 0), 6) / 6; break;
			case INFD_XOP_LEAKY_RELU: r = v < 0 ? 0.1 * v : v; break;
			case INFD_XOP_ELU: r = v < 0 ? 0.1 * expm1(v) : v; break;
			default: r = v; break;
			}
			float want = clampf(r, -2.5f, 3.0f);
			cr_assert(fabsf(outs[k][i] - want) <= 1e-5f + 1e-5f * fabsf(want), "%s(%g) = %g, expected %g",
				  infd__xop_name(ops[k]), v, (double)outs[k][i], (double)want);
		}
}

/* ---- Our own kernels ------------------------------------------------------------------ */

Test(xgraph, own_transcendentals_against_libm)
{
	enum infd_xop ops[] = {INFD_XOP_TANH, INFD_XOP_GELU, INFD_XOP_EXP, INFD_XOP_LOG, INFD_XOP_SIN, INFD_XOP_COS,
			       INFD_XOP_RSQRT, INFD_XOP_SQUARE_ROOT};
	const int nops = sizeof ops / sizeof ops[0];
	const size_t n = 20000; /* several chunks: the pool splits them */
	float *x = rand_buf(n, -12, 12), *pos = rand_buf(n, 0, 50);
	x[0] = 0.0f;
	x[1] = 1e-6f;
	x[2] = -1e-3f;
	x[3] = 20000.0f; /* beyond the sin/cos reduction */
	x[4] = -30.0f;
	pos[0] = 1e-30f;
	pos[1] = 1e-40f; /* denormal */
	pos[2] = 1.0f;
	uint32_t vx = val(IN, NULL, 1, (uint32_t)n), vp = val(IN, NULL, 1, (uint32_t)n);
	void *ext[16] = {x, pos};
	float *outs[16];
	for (int k = 0; k < nops; k++) {
		bool positive = ops[k] == INFD_XOP_LOG || ops[k] == INFD_XOP_RSQRT || ops[k] == INFD_XOP_SQUARE_ROOT;
		uint32_t y = val(OUT, NULL, 1, (uint32_t)n);
		struct infd_xnode nd = mk(ops[k], y, 1, positive ? vp : vx);
		if (ops[k] == INFD_XOP_EXP)
			nd.out_max = 1e5f;
		add(&nd);
		outs[k] = zeros(n);
		ext[2 + k] = outs[k];
	}
	uint32_t a, o;
	run_graph(ext, pool2, &a, &o);
	cr_assert_eq(o, 7); /* square root goes to XNNPACK */
	cr_assert_eq(a, 1);
	for (int k = 0; k < nops; k++)
		for (size_t i = 0; i < n; i++) {
			bool positive = ops[k] == INFD_XOP_LOG || ops[k] == INFD_XOP_RSQRT || ops[k] == INFD_XOP_SQUARE_ROOT;
			double v = positive ? pos[i] : x[i], r;
			switch (ops[k]) {
			case INFD_XOP_TANH: r = tanh(v); break;
			case INFD_XOP_GELU: r = 0.5 * v * erfc(-v / sqrt(2.0)); break;
			case INFD_XOP_EXP: r = fmin(exp(v), 1e5); break;
			case INFD_XOP_LOG: r = log(v); break;
			case INFD_XOP_SIN: r = sin(v); break;
			case INFD_XOP_COS: r = cos(v); break;
			case INFD_XOP_RSQRT: r = 1 / sqrt(v); break;
			default: r = sqrt(v); break;
			}
			float want = (float)r, got = outs[k][i];
			float tol = 2e-6f + 4e-6f * fabsf(want);
			if (ops[k] == INFD_XOP_TANH && fabs(v) < 1e-3)
				tol = 1e-6f * fabsf(want) + 1e-12f; /* relative accuracy near 0 */
			cr_assert(fabsf(got - want) <= tol, "%s(%.9g) = %.9g, expected %.9g", infd__xop_name(ops[k]), v,
				  (double)got, (double)want);
		}
}

static void ref_transpose(const float *x, const uint32_t *d, uint32_t r, const uint32_t *perm, float *y)
{
	uint32_t od[6], xs[6];
	size_t total = 1;
	for (uint32_t i = 0; i < r; i++) {
		od[i] = d[perm[i]];
		total *= d[i];
	}
	xs[r - 1] = 1;
	for (uint32_t i = r - 1; i-- > 0;)
		xs[i] = xs[i + 1] * d[i + 1];
	for (size_t o = 0; o < total; o++) {
		size_t rem = o, src = 0;
		for (uint32_t i = r; i-- > 0;) {
			src += (rem % od[i]) * xs[perm[i]];
			rem /= od[i];
		}
		y[o] = x[src];
	}
}

static void transpose_case(uint32_t r, const uint32_t *d, const uint32_t *perm, pthreadpool_t pool)
{
	size_t total = 1;
	for (uint32_t i = 0; i < r; i++)
		total *= d[i];
	float *x = rand_buf(total, -1, 1), *y = zeros(total), *want = zeros(total);
	struct infd_xvalue vx = {.dtype = INFD_XDT_FP32, .rank = (uint8_t)r, .flags = INFD_XV_INPUT, .external = n_ext++};
	struct infd_xvalue vy = {.dtype = INFD_XDT_FP32, .rank = (uint8_t)r, .flags = INFD_XV_OUTPUT, .external = n_ext++};
	for (uint32_t i = 0; i < r; i++) {
		vx.dims[i] = d[i];
		vy.dims[i] = d[perm[i]];
	}
	uint32_t ix, iy;
	cr_assert_eq(infd__xgraph_add_value(&G, &vx, &ix, &E), INFD_OK);
	cr_assert_eq(infd__xgraph_add_value(&G, &vy, &iy, &E), INFD_OK);
	struct infd_xnode n = mk(INFD_XOP_STATIC_TRANSPOSE, iy, 1, ix);
	memcpy(n.p.shape.perm, perm, r * sizeof *perm);
	add(&n);
	void *ext[] = {x, y};
	uint32_t a, o;
	run_graph(ext, pool, &a, &o);
	cr_assert_eq(o, 1);
	ref_transpose(x, d, r, perm, want);
	expect_close(y, want, total, 0, 0, "transpose");
}

Test(xgraph, transpose_4d_nchw_to_nhwc)
{
	transpose_case(4, (const uint32_t[]){2, 3, 4, 5}, (const uint32_t[]){0, 2, 3, 1}, NULL);
}

Test(xgraph, transpose_mixed_perm_with_unit_dims)
{
	transpose_case(5, (const uint32_t[]){3, 1, 4, 2, 5}, (const uint32_t[]){4, 1, 0, 3, 2}, NULL);
}

Test(xgraph, transpose_large_tiled_two_threads)
{
	transpose_case(3, (const uint32_t[]){3, 67, 45}, (const uint32_t[]){0, 2, 1}, pool2);
	infd__xgraph_free(&G);
	infd__xgraph_init(&G);
	n_ext = 0;
	transpose_case(3, (const uint32_t[]){5, 70, 33}, (const uint32_t[]){2, 0, 1}, pool2);
}

Test(xgraph, transpose_keeping_inner_dim_copies_rows)
{
	transpose_case(3, (const uint32_t[]){4, 6, 7}, (const uint32_t[]){1, 0, 2}, NULL);
}

static void bmm_case(const uint32_t *ad, uint32_t ar, const uint32_t *bd, uint32_t br, const uint32_t *od, uint32_t orank,
		     bool b_static, pthreadpool_t pool)
{
	size_t na = 1, nb = 1, no = 1;
	for (uint32_t i = 0; i < ar; i++)
		na *= ad[i];
	for (uint32_t i = 0; i < br; i++)
		nb *= bd[i];
	for (uint32_t i = 0; i < orank; i++)
		no *= od[i];
	float *a = rand_buf(na, -1, 1), *b = rand_buf(nb, -1, 1), *y = zeros(no), *want = zeros(no);
	struct infd_xvalue va = {.dtype = INFD_XDT_FP32, .rank = (uint8_t)ar, .flags = INFD_XV_INPUT, .external = n_ext++};
	struct infd_xvalue vb = {.dtype = INFD_XDT_FP32, .rank = (uint8_t)br, .external = INFD_XNONE};
	struct infd_xvalue vo = {.dtype = INFD_XDT_FP32, .rank = (uint8_t)orank, .flags = INFD_XV_OUTPUT};
	if (b_static) {
		vb.data = b;
	} else {
		vb.flags = INFD_XV_INPUT;
		vb.external = n_ext++;
	}
	vo.external = n_ext++;
	memcpy(va.dims, ad, ar * 4);
	memcpy(vb.dims, bd, br * 4);
	memcpy(vo.dims, od, orank * 4);
	uint32_t ia, ib, io;
	cr_assert_eq(infd__xgraph_add_value(&G, &va, &ia, &E), INFD_OK);
	cr_assert_eq(infd__xgraph_add_value(&G, &vb, &ib, &E), INFD_OK);
	cr_assert_eq(infd__xgraph_add_value(&G, &vo, &io, &E), INFD_OK);
	struct infd_xnode n = mk(INFD_XOP_BATCH_MATMUL, io, 2, ia, ib);
	n.out_min = -2.0f;
	n.out_max = 2.0f;
	add(&n);
	void *ext[3];
	ext[va.external] = a;
	if (!b_static)
		ext[vb.external] = b;
	ext[vo.external] = y;
	run_graph(ext, pool, NULL, NULL);
	/* reference: broadcast batch dims by index arithmetic */
	uint32_t m = ad[ar - 2], k = ad[ar - 1], nn = bd[br - 1], bat = orank - 2;
	size_t batches = no / ((size_t)m * nn);
	for (size_t t = 0; t < batches; t++) {
		size_t rem = t, oa = 0, ob = 0, sa = (size_t)m * k, sb = (size_t)k * nn;
		for (uint32_t i = bat; i-- > 0;) {
			size_t idx = rem % od[i];
			rem /= od[i];
			uint32_t da = i + (ar - 2) >= bat ? ad[i + (ar - 2) - bat] : 1;
			uint32_t db = i + (br - 2) >= bat ? bd[i + (br - 2) - bat] : 1;
			oa += (da == 1 ? 0 : idx) * sa;
			ob += (db == 1 ? 0 : idx) * sb;
			sa *= da;
			sb *= db;
		}
		for (uint32_t i = 0; i < m; i++)
			for (uint32_t j = 0; j < nn; j++) {
				double s = 0;
				for (uint32_t l = 0; l < k; l++)
					s += (double)a[oa + i * k + l] * b[ob + l * nn + j];
				want[t * m * nn + i * nn + j] = clampf(s, -2.0f, 2.0f);
			}
	}
	expect_close(y, want, no, 1e-4f, 1e-4f, "batch matmul");
}

Test(xgraph, bmm_batch_broadcast)
{
	bmm_case((const uint32_t[]){2, 1, 3, 4}, 4, (const uint32_t[]){5, 4, 6}, 3, (const uint32_t[]){2, 5, 3, 6}, 4,
		 false, NULL);
}

Test(xgraph, bmm_static_rhs_two_threads_blocked)
{
	bmm_case((const uint32_t[]){3, 70, 96}, 3, (const uint32_t[]){96, 50}, 2, (const uint32_t[]){3, 70, 50}, 3, true,
		 pool2);
}

Test(xgraph, bmm_many_small_batches_two_threads)
{
	bmm_case((const uint32_t[]){12, 5, 8}, 3, (const uint32_t[]){12, 8, 3}, 3, (const uint32_t[]){12, 5, 3}, 3, false,
		 pool2);
}

static void layer_norm_case(bool affine, pthreadpool_t pool)
{
	const uint32_t rows = 37, c = 300;
	float *x = rand_buf(rows * c, -3, 5), *w = rand_buf(c, 0.5f, 1.5f), *b = rand_buf(c, -1, 1);
	float *y = zeros(rows * c), *want = zeros(rows * c);
	uint32_t vx = val(IN, NULL, 2, rows, c), vy = val(OUT, NULL, 2, rows, c);
	struct infd_xnode n;
	if (affine)
		n = mk(INFD_XOP_LAYER_NORM, vy, 3, vx, val(STATIC, w, 1, c), val(STATIC, b, 1, c));
	else
		n = mk(INFD_XOP_LAYER_NORM, vy, 3, vx, INFD_XNONE, INFD_XNONE);
	n.p.eps = 1e-5f;
	n.out_min = -1.8f;
	add(&n);
	void *ext[] = {x, y};
	run_graph(ext, pool, NULL, NULL);
	for (uint32_t r = 0; r < rows; r++) {
		double m = 0, v = 0;
		for (uint32_t i = 0; i < c; i++)
			m += x[r * c + i];
		m /= c;
		for (uint32_t i = 0; i < c; i++)
			v += (x[r * c + i] - m) * (x[r * c + i] - m);
		v /= c;
		for (uint32_t i = 0; i < c; i++) {
			double t = (x[r * c + i] - m) / sqrt(v + 1e-5);
			if (affine)
				t = t * w[i] + b[i];
			want[r * c + i] = clampf(t, -1.8f, INFINITY);
		}
	}
	expect_close(y, want, rows * c, 2e-5f, 2e-5f, "layer norm");
}

Test(xgraph, layer_norm_affine_two_threads)
{
	layer_norm_case(true, pool2);
}

Test(xgraph, layer_norm_plain)
{
	layer_norm_case(false, NULL);
}

Test(xgraph, slice_concat_pad_copy)
{
	/* x [3,5,4] -> slice [1..3, 1..4, 0..4] = [2,3,4] ; concat(slice, x[0:2,...]?) */
	float *x = rand_buf(60, -1, 1), *c2 = rand_buf(2 * 2 * 4, -1, 1);
	uint32_t vx = val(IN, NULL, 3, 3, 5, 4), vc = val(IN, NULL, 3, 2, 2, 4);
	uint32_t vs = val(INTERNAL, NULL, 3, 2, 3, 4), vcat = val(OUT, NULL, 3, 2, 8, 4);
	uint32_t vp = val(OUT, NULL, 3, 3, 7, 5), vcp = val(OUT, NULL, 3, 2, 3, 4);
	struct infd_xnode s = mk(INFD_XOP_STATIC_SLICE, vs, 1, vx);
	uint32_t off[3] = {1, 1, 0}, sz[3] = {2, 3, 4};
	memcpy(s.p.slice.offsets, off, sizeof off);
	memcpy(s.p.slice.sizes, sz, sizeof sz);
	add(&s);
	struct infd_xnode c = mk(INFD_XOP_CONCATENATE, vcat, 3, vs, vc, vs);
	c.p.axis = 1;
	c.out_max = 0.5f;
	add(&c);
	struct infd_xnode p = mk(INFD_XOP_CONSTANT_PAD, vp, 1, vx);
	p.p.pad.pre[1] = 2;
	p.p.pad.post[2] = 1;
	p.p.pad.value = 9.0f;
	add(&p);
	add1(mk(INFD_XOP_COPY, vcp, 1, vs));
	float *ycat = zeros(64), *yp = zeros(105), *ycp = zeros(24);
	void *ext[] = {x, c2, ycat, yp, ycp};
	uint32_t a, o;
	run_graph(ext, NULL, &a, &o);
	cr_assert_eq(a, 1); /* the pad */
	cr_assert_eq(o, 3);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 8; j++)
			for (int k = 0; k < 4; k++) {
				float v = j < 3 ? x[((i + 1) * 5 + j + 1) * 4 + k]
					  : j < 5 ? c2[(i * 2 + j - 3) * 4 + k]
						  : x[((i + 1) * 5 + j - 5 + 1) * 4 + k];
				cr_assert_float_eq(ycat[(i * 8 + j) * 4 + k], fminf(v, 0.5f), 0, "concat [%d,%d,%d]", i, j, k);
			}
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 4; k++)
				cr_assert_float_eq(ycp[(i * 3 + j) * 4 + k], x[((i + 1) * 5 + j + 1) * 4 + k], 0, "copy");
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 7; j++)
			for (int k = 0; k < 5; k++) {
				float v = j >= 2 && k < 4 ? x[(i * 5 + j - 2) * 4 + k] : 9.0f;
				cr_assert_float_eq(yp[(i * 7 + j) * 5 + k], v, 0, "pad [%d,%d,%d]", i, j, k);
			}
}

Test(xgraph, int32_convert_transpose_pad)
{
	float *x = rand_buf(12, -100, 100);
	x[0] = 3.99f;
	x[1] = -3.99f;
	x[2] = 1e20f; /* saturates */
	uint32_t vx = val(IN, NULL, 2, 3, 4);
	uint32_t vi = val_dt(INFD_XDT_INT32, OUT, NULL, 2, 3, 4);
	uint32_t vt = val_dt(INFD_XDT_INT32, INTERNAL, NULL, 2, 4, 3);
	uint32_t vpad = val_dt(INFD_XDT_INT32, OUT, NULL, 2, 5, 3);
	uint32_t vf = val(OUT, NULL, 2, 4, 3);
	add1(mk(INFD_XOP_CONVERT, vi, 1, vx));
	struct infd_xnode t = mk(INFD_XOP_STATIC_TRANSPOSE, vt, 1, vi);
	t.p.shape.perm[0] = 1;
	t.p.shape.perm[1] = 0;
	add(&t);
	struct infd_xnode p = mk(INFD_XOP_CONSTANT_PAD, vpad, 1, vt);
	p.p.pad.post[0] = 1;
	p.p.pad.value = -7.0f;
	add(&p);
	struct infd_xnode cv = mk(INFD_XOP_CONVERT, vf, 1, vt);
	cv.out_max = 50.0f;
	add(&cv);
	int32_t *yi = track(calloc(12, 4)), *ypad = track(calloc(15, 4));
	float *yf = zeros(12);
	void *ext[] = {x, yi, ypad, yf};
	uint32_t a, o;
	run_graph(ext, NULL, &a, &o);
	cr_assert_eq(a, 0);
	cr_assert_eq(o, 4);
	cr_assert_eq(yi[0], 3);
	cr_assert_eq(yi[1], -3);
	cr_assert_eq(yi[2], 2147483520);
	for (int i = 3; i < 12; i++)
		cr_assert_eq(yi[i], (int32_t)x[i]);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 3; j++) {
			cr_assert_eq(ypad[i * 3 + j], yi[j * 4 + i]);
			cr_assert_float_eq(yf[i * 3 + j], fminf((float)yi[j * 4 + i], 50.0f), 0);
		}
	for (int j = 0; j < 3; j++)
		cr_assert_eq(ypad[12 + j], -7);
}

Test(xgraph, prelu_4d_xnnpack_and_2d_own)
{
	float *x = rand_buf(2 * 3 * 2 * 4, -2, 2), *slope = rand_buf(4, 0.1f, 0.5f);
	uint32_t v4 = val(IN, NULL, 4, 2, 3, 2, 4), v2 = val(IN, NULL, 2, 12, 4), vs = val(STATIC, slope, 1, 4);
	uint32_t y4 = val(OUT, NULL, 4, 2, 3, 2, 4), y2 = val(OUT, NULL, 2, 12, 4);
	struct infd_xnode a = mk(INFD_XOP_PRELU, y4, 2, v4, vs), b = mk(INFD_XOP_PRELU, y2, 2, v2, vs);
	a.out_min = b.out_min = -0.4f;
	add(&a);
	add(&b);
	float *o4 = zeros(48), *o2 = zeros(48);
	void *ext[] = {x, x, o4, o2};
	uint32_t nx, no;
	run_graph(ext, NULL, &nx, &no);
	cr_assert_eq(nx, 1);
	cr_assert_eq(no, 1);
	for (int i = 0; i < 48; i++) {
		float want = clampf(x[i] < 0 ? (double)x[i] * slope[i % 4] : x[i], -0.4f, INFINITY);
		cr_assert_float_eq(o4[i], want, 1e-6f);
		cr_assert_float_eq(o2[i], want, 1e-6f);
	}
}

/* ---- A network: XNNPACK segments around our own nodes ------------------------------ */

Test(xgraph, mixed_segments_counts_and_rebinding)
{
	/* x NHWC [1,6,6,3] -conv 3x3 pad 1 (relu)-> [1,6,6,8] -transpose (own)-> [1,8,6,6]
	 * -reshape-> [8,36] -FC-> [8,10] -gelu (own)-> -add bias row-> out [8,10]
	 * and a second output: the conv result itself. */
	float *x = rand_buf(108, -1, 1), *f = rand_buf(8 * 9 * 3, -0.5f, 0.5f), *w = rand_buf(10 * 36, -0.3f, 0.3f);
	float *row = rand_buf(10, -1, 1);
	uint32_t vx = val(IN, NULL, 4, 1, 6, 6, 3), vf = val(STATIC, f, 4, 8, 3, 3, 3);
	uint32_t vc = val(OUT, NULL, 4, 1, 6, 6, 8), vt = val(INTERNAL, NULL, 4, 1, 8, 6, 6);
	uint32_t vr = val(INTERNAL, NULL, 2, 8, 36), vw = val(STATIC, w, 2, 10, 36);
	uint32_t vfc = val(INTERNAL, NULL, 2, 8, 10), vg = val(INTERNAL, NULL, 2, 8, 10);
	uint32_t vrow = val(STATIC, row, 1, 10), vy = val(OUT, NULL, 2, 8, 10);
	struct infd_xnode conv = mk(INFD_XOP_CONV2D, vc, 3, vx, vf, INFD_XNONE);
	conv.p.conv = (struct infd_xconv){.pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1, .kernel_h = 3,
					  .kernel_w = 3, .stride_h = 1, .stride_w = 1, .dilation_h = 1, .dilation_w = 1,
					  .groups = 1, .group_in = 3, .group_out = 8};
	conv.out_min = 0.0f;
	add(&conv);
	struct infd_xnode tr = mk(INFD_XOP_STATIC_TRANSPOSE, vt, 1, vc);
	memcpy(tr.p.shape.perm, (const uint32_t[]){0, 3, 1, 2}, 16);
	add(&tr);
	add1(mk(INFD_XOP_STATIC_RESHAPE, vr, 1, vt));
	add1(mk(INFD_XOP_FULLY_CONNECTED, vfc, 3, vr, vw, INFD_XNONE));
	add1(mk(INFD_XOP_GELU, vg, 1, vfc));
	add1(mk(INFD_XOP_ADD, vy, 2, vg, vrow));
	cr_assert_eq(infd__xgraph_validate(&G, &E), INFD_OK, "%s", E.msg);
	struct infd_xplan *p;
	cr_assert_eq(infd__xplan_compile(&G, pool2, &p, &E), INFD_OK, "%s", E.msg);
	uint32_t a, o;
	infd__xplan_counts(p, &a, &o);
	cr_assert_eq(a, 4); /* conv | reshape, fc | add */
	cr_assert_eq(o, 2); /* transpose, gelu */

	/* reference */
	float conv_ref[288], t[288], want[80];
	struct conv_ref r = {.n = 1, .h = 6, .w = 6, .c = 3, .oh = 6, .ow = 6, .oc = 8, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
			     .dh = 1, .dw = 1, .pt = 1, .pl = 1, .groups = 1, .gi = 3, .go = 8, .lo = 0, .hi = INFINITY};
	ref_conv(&r, x, f, NULL, conv_ref);
	ref_transpose(conv_ref, (const uint32_t[]){1, 36, 8}, 3, (const uint32_t[]){0, 2, 1}, t);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 10; j++) {
			double s = 0;
			for (int k = 0; k < 36; k++)
				s += (double)t[i * 36 + k] * w[j * 36 + k];
			want[i * 10 + j] = (float)(0.5 * s * erfc(-s / sqrt(2.0)) + row[j]);
		}
	/* run with two sets of output buffers: rebinding must take effect */
	for (int round = 0; round < 3; round++) {
		float *yc = zeros(288), *y = zeros(80);
		void *ext[] = {x, yc, y};
		cr_assert_eq(infd__xplan_execute(p, ext, &E), INFD_OK, "%s", E.msg);
		expect_close(yc, conv_ref, 288, 1e-5f, 1e-5f, "conv output");
		expect_close(y, want, 80, 1e-4f, 1e-4f, "network output");
	}
	infd__xplan_free(p);
}

/* An input that ends at the last byte before an unmapped page: XNNPACK may read
 * past the end, so the plan must stage it. */
Test(xgraph, input_at_page_end_is_staged)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(m, MAP_FAILED);
	cr_assert_eq(mprotect(m + page, (size_t)page, PROT_NONE), 0);
	const uint32_t n = 37;
	float *x = (float *)(m + page - n * sizeof(float));
	for (uint32_t i = 0; i < n; i++)
		x[i] = (float)i - 10.0f;
	uint32_t vx = val(IN, NULL, 1, n), vy = val(OUT, NULL, 1, n);
	add1(mk(INFD_XOP_ABS, vy, 1, vx));
	float *y = zeros(n);
	void *ext[] = {x, y};
	run_graph(ext, NULL, NULL, NULL);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_float_eq(y[i], fabsf(x[i]), 0);
	munmap(m, (size_t)page * 2);
}

/* ---- Validation ----------------------------------------------------------------------- */

static void expect_invalid(const char *needle)
{
	infd_status st = infd__xgraph_validate(&G, &E);
	cr_assert_neq(st, INFD_OK, "validation accepted a bad graph (expected \"%s\")", needle);
	cr_assert(strstr(E.msg, needle), "message \"%s\" lacks \"%s\"", E.msg, needle);
}

Test(xgraph, refuses_bad_ids_at_add)
{
	uint32_t a = val(IN, NULL, 1, 4);
	struct infd_xnode n = mk(INFD_XOP_ABS, 7, 1, a);
	cr_assert_neq(infd__xgraph_add_node(&G, &n, &E), INFD_OK);
	cr_assert(strstr(E.msg, "node 0 (abs)"), "%s", E.msg);
	n = mk(INFD_XOP_COUNT_, a, 1, a);
	cr_assert_neq(infd__xgraph_add_node(&G, &n, &E), INFD_OK);
	n = mk(INFD_XOP_ABS, a, 1, 99);
	cr_assert_neq(infd__xgraph_add_node(&G, &n, &E), INFD_OK);
	struct infd_xvalue v = {.dtype = INFD_XDT_FP32, .rank = 9, .external = INFD_XNONE};
	uint32_t id;
	cr_assert_neq(infd__xgraph_add_value(&G, &v, &id, &E), INFD_OK);
}

Test(xgraph, refuses_conv_filter_shape)
{
	float f[64] = {0};
	uint32_t x = val(IN, NULL, 4, 1, 5, 5, 4), w = val(STATIC, f, 4, 2, 3, 3, 3), y = val(OUT, NULL, 4, 1, 3, 3, 2);
	uint32_t d0 = val(IN, NULL, 1, 4), d1 = val(INTERNAL, NULL, 1, 4);
	add1(mk(INFD_XOP_ABS, d1, 1, d0));
	struct infd_xnode n = mk(INFD_XOP_CONV2D, y, 2, x, w);
	n.p.conv = (struct infd_xconv){.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .dilation_h = 1,
				       .dilation_w = 1, .groups = 1, .group_in = 4, .group_out = 2};
	add(&n);
	expect_invalid("node 1 (convolution 2d): filter is [2,3,3,3], expected [2,3,3,4]");
}

Test(xgraph, refuses_conv_output_dims_and_dynamic_filter)
{
	float f[32] = {0};
	uint32_t x = val(IN, NULL, 4, 1, 5, 5, 1), w = val(STATIC, f, 4, 2, 3, 3, 1), y = val(OUT, NULL, 4, 1, 5, 5, 2);
	struct infd_xnode n = mk(INFD_XOP_CONV2D, y, 2, x, w);
	n.p.conv = (struct infd_xconv){.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .dilation_h = 1,
				       .dilation_w = 1, .groups = 1, .group_in = 1, .group_out = 2};
	add(&n);
	expect_invalid("node 0 (convolution 2d): output (value 2) is [1,5,5,2], expected [1,3,3,2]");
	infd__xgraph_free(&G);
	infd__xgraph_init(&G);
	n_ext = 0;
	x = val(IN, NULL, 2, 3, 4);
	w = val(IN, NULL, 2, 5, 4);
	y = val(OUT, NULL, 2, 3, 5);
	add1(mk(INFD_XOP_FULLY_CONNECTED, y, 2, x, w));
	expect_invalid("node 0 (fully connected): the filter (value 1) must be static data");
}

Test(xgraph, refuses_transpose_slice_reshape_concat_bmm_binary)
{
	uint32_t x = val(IN, NULL, 3, 2, 3, 4);
	uint32_t t = val(OUT, NULL, 3, 4, 3, 2);
	struct infd_xnode n = mk(INFD_XOP_STATIC_TRANSPOSE, t, 1, x);
	memcpy(n.p.shape.perm, (const uint32_t[]){2, 1, 2}, 12);
	add(&n);
	expect_invalid("node 0 (static transpose): perm is not a permutation");
	G.nodes[0].p.shape.perm[2] = 0;
	cr_assert_eq(infd__xgraph_validate(&G, &E), INFD_OK, "%s", E.msg);

	uint32_t s = val(OUT, NULL, 3, 2, 2, 4);
	n = mk(INFD_XOP_STATIC_SLICE, s, 1, x);
	memcpy(n.p.slice.offsets, (const uint32_t[]){0, 2, 0}, 12);
	memcpy(n.p.slice.sizes, (const uint32_t[]){2, 2, 4}, 12);
	add(&n);
	expect_invalid("node 1 (static slice): dim 1: offset 2 + size 2 is outside 1..3");
	G.nodes[1].p.slice.offsets[1] = 1;
	cr_assert_eq(infd__xgraph_validate(&G, &E), INFD_OK, "%s", E.msg);

	uint32_t r = val(OUT, NULL, 2, 5, 5);
	add1(mk(INFD_XOP_STATIC_RESHAPE, r, 1, x));
	expect_invalid("node 2 (static reshape): [2,3,4] and [5,5] have different element counts");
	G.values[r].dims[0] = 6;
	G.values[r].dims[1] = 4;
	cr_assert_eq(infd__xgraph_validate(&G, &E), INFD_OK, "%s", E.msg);

	uint32_t c = val(OUT, NULL, 3, 2, 6, 4);
	n = mk(INFD_XOP_CONCATENATE, c, 2, x, s);
	n.p.axis = 1;
	add(&n);
	expect_invalid("node 3 (concatenate): inputs add up to 5 along axis 1, the output has 6");
	G.values[c].dims[1] = 5;
	cr_assert_eq(infd__xgraph_validate(&G, &E), INFD_OK, "%s", E.msg);

	uint32_t m = val(OUT, NULL, 3, 2, 3, 3);
	add1(mk(INFD_XOP_BATCH_MATMUL, m, 2, x, x));
	expect_invalid("node 4 (batch matrix multiply): [2,3,4] x [2,3,4]: inner dims differ");
	G.nodes[4].in[1] = t; /* [4,3,2]: inner 3 != 4 still */
	expect_invalid("inner dims differ");

	infd__xgraph_free(&G);
	infd__xgraph_init(&G);
	n_ext = 0;
	uint32_t a = val(IN, NULL, 2, 3, 4), b = val(IN, NULL, 2, 2, 4), y = val(OUT, NULL, 2, 3, 4);
	add1(mk(INFD_XOP_ADD, y, 2, a, b));
	expect_invalid("node 0 (add): inputs [3,4] and [2,4] do not broadcast");
}

Test(xgraph, refuses_use_before_write_and_bad_externals)
{
	uint32_t a = val(IN, NULL, 1, 4), t = val(INTERNAL, NULL, 1, 4), y = val(OUT, NULL, 1, 4);
	add1(mk(INFD_XOP_ADD, y, 2, a, t));
	add1(mk(INFD_XOP_ABS, t, 1, a));
	expect_invalid("node 0 (add): input 1 reads value 1 before anything writes it");

	infd__xgraph_free(&G);
	infd__xgraph_init(&G);
	n_ext = 0;
	a = val(IN, NULL, 1, 4);
	n_ext++; /* a gap: external 1 belongs to nobody */
	y = val(OUT, NULL, 1, 4);
	add1(mk(INFD_XOP_ABS, y, 1, a));
	expect_invalid("external 1 of 0..2 is no value's");

	infd__xgraph_free(&G);
	infd__xgraph_init(&G);
	n_ext = 0;
	a = val(IN, NULL, 1, 4);
	y = val(OUT, NULL, 1, 4);
	expect_invalid("value 1 is an external output (external 1) no node writes");
	add1(mk(INFD_XOP_ABS, y, 1, a));
	add1(mk(INFD_XOP_NEGATE, y, 1, a));
	expect_invalid("node 1 (negate): output value 1 is already written by an earlier node");
}

Test(xgraph, refuses_bad_values_and_bounds)
{
	uint32_t a = val(IN, NULL, 2, 3, 0), y = val(OUT, NULL, 2, 3, 0);
	add1(mk(INFD_XOP_ABS, y, 1, a));
	expect_invalid("value 0: dim 1 is 0");

	infd__xgraph_free(&G);
	infd__xgraph_init(&G);
	n_ext = 0;
	a = val(IN, NULL, 6, 65536, 65536, 65536, 1, 1, 1);
	expect_invalid("value 0: more than");

	infd__xgraph_free(&G);
	infd__xgraph_init(&G);
	n_ext = 0;
	a = val(IN, NULL, 1, 4);
	y = val(OUT, NULL, 1, 4);
	struct infd_xnode n = mk(INFD_XOP_CLAMP, y, 1, a);
	n.out_min = 2.0f;
	n.out_max = 1.0f;
	add(&n);
	expect_invalid("node 0 (clamp): output bounds [2, 1] are empty");
	G.nodes[0].out_max = NAN;
	expect_invalid("node 0 (clamp): output bounds");
	G.nodes[0].out_max = 3.0f;
	G.nodes[0].n_in = 2;
	expect_invalid("node 0 (clamp): takes 1 input, has 2");
}

Test(xgraph, refuses_pooling_and_layer_norm_params)
{
	uint32_t x = val(IN, NULL, 4, 1, 4, 4, 2), y = val(OUT, NULL, 4, 1, 2, 2, 2);
	struct infd_xnode n = mk(INFD_XOP_MAX_POOL2D, y, 1, x);
	n.p.pool = (struct infd_xpool){.pool_h = 2, .pool_w = 2, .stride_h = 0, .stride_w = 2, .dilation_h = 1,
				       .dilation_w = 1};
	add(&n);
	expect_invalid("node 0 (max pooling 2d): pool size, stride and dilation must be at least 1");
	G.nodes[0].p.pool.stride_h = 2;
	cr_assert_eq(infd__xgraph_validate(&G, &E), INFD_OK, "%s", E.msg);
	G.nodes[0].p.pool.pad_top = 2;
	expect_invalid("node 0 (max pooling 2d): padding 2,0,0,0");

	infd__xgraph_free(&G);
	infd__xgraph_init(&G);
	n_ext = 0;
	float w[3] = {1, 1, 1};
	x = val(IN, NULL, 2, 2, 4);
	y = val(OUT, NULL, 2, 2, 4);
	n = mk(INFD_XOP_LAYER_NORM, y, 2, x, val(STATIC, w, 1, 3));
	n.p.eps = 1e-5f;
	add(&n);
	expect_invalid("node 0 (layer norm): weight and bias must have the 4 elements of the last dim");
}

/* A node whose result nobody reads is dropped: XNNPACK would leave its value
 * without memory. */
Test(xgraph, dead_nodes_are_dropped)
{
	float *x = rand_buf(16, -1, 1), *y = zeros(16);
	uint32_t vx = val(IN, NULL, 1, 16), t1 = val(INTERNAL, NULL, 1, 16), t2 = val(INTERNAL, NULL, 1, 16);
	uint32_t vy = val(OUT, NULL, 1, 16);
	add1(mk(INFD_XOP_ABS, t1, 1, vx));
	add1(mk(INFD_XOP_NEGATE, vy, 1, vx));
	add1(mk(INFD_XOP_TANH, t2, 1, t1)); /* reads t1, but t2 is dead: both go */
	void *ext[] = {x, y};
	uint32_t a, o;
	run_graph(ext, NULL, &a, &o);
	cr_assert_eq(a, 1);
	cr_assert_eq(o, 0);
	for (int i = 0; i < 16; i++)
		cr_assert_float_eq(y[i], -x[i], 0);
}

/* ---- The backend: an ExecuTorch XnnpackBackend delegate, shared by sessions ---- */

#include <pthread.h>

#include "backends/factories.h"
#include "common.h"
#include "runtime/runtime.h"

struct session_run {
	struct infd_method *m;
	const float *in, *want;
	float scale; /* input multiplier: want is for scale 1 only */
	int rounds;
	int bad;
};

static void *session_thread(void *arg)
{
	struct session_run *r = arg;
	static const int32_t sizes[4] = {1, 3, 32, 32};
	float in[3072];
	for (int i = 0; i < 3072; i++)
		in[i] = r->in[i] * r->scale;
	float first[10];
	for (int k = 0; k < r->rounds; k++) {
		struct infd_error e;
		if (infd__method_set_input_tensor(r->m, 0, INFD_DTYPE_FLOAT32, 4, sizes, in, sizeof in, &e) ||
		    infd__method_execute(r->m, &e)) {
			r->bad++;
			continue;
		}
		const float *out = infd__method_output(r->m, 0)->u.t->data;
		if (k == 0)
			memcpy(first, out, sizeof first);
		if (memcmp(first, out, sizeof first) != 0)
			r->bad++;
		if (r->scale == 1.0f && t_rel_l2(out, r->want, 10) > 1e-4)
			r->bad++;
	}
	return NULL;
}

Test(xgraph, backend_runs_delegate_shared_by_sessions)
{
	T_REQUIRE_TESTDATA(path, "models/cnn_small_xnnpack.pte");
	T_REQUIRE_TESTDATA(inpath, "models/cnn_small_xnnpack.input0.bin");
	T_REQUIRE_TESTDATA(wantpath, "models/cnn_small_xnnpack.expected0.bin");
	size_t n_in, n_want;
	float *in = (float *)t_read_file(inpath, &n_in), *want = (float *)t_read_file(wantpath, &n_want);
	cr_assert(in && want && n_in == 3072 * 4 && n_want == 40);
	track(in);
	track(want);

	struct infd_runtime_options ro;
	infd__runtime_options_default(&ro);
	ro.n_threads = 2;
	struct infd_runtime *rt;
	cr_assert_eq(infd__runtime_create(&ro, &rt, &E), INFD_OK, "%s", E.msg);
	struct infd_backend be;
	cr_assert_eq(infd__backend_xnnpack_create(rt, &be, &E), INFD_OK, "%s", E.msg);
	cr_assert_eq(infd__runtime_add_backend(rt, be), INFD_OK);
	struct infd_device_info info;
	cr_assert_eq(be.ops->probe(be.ctx, &info), INFD_OK);
	cr_assert_str_eq(info.name, "XNNPACK (2022 snapshot, 2 threads)");
	cr_assert_str_eq(info.kind, "cpu");
	cr_assert(be.ops->claims_delegate(be.ctx, "XnnpackBackend"));
	cr_assert_not(be.ops->claims_delegate(be.ctx, "VulkanBackend"));

	struct infd_program *prog;
	cr_assert_eq(infd__program_read_file(path, &prog, &E), INFD_OK, "%s", E.msg);
	struct infd_method *m1, *m2;
	cr_assert_eq(infd__method_load(rt, prog, "forward", NULL, &m1, &E), INFD_OK, "%s", E.msg);
	cr_assert_eq(infd__method_load(rt, prog, "forward", NULL, &m2, &E), INFD_OK, "%s", E.msg);
	cr_assert_str_eq(infd__method_placement(m1, 0, 0), "xnnpack");
	/* the two sessions share one prepared plan */
	cr_assert_eq(m1->n_steps, 1);
	cr_assert_eq(m2->n_steps, 1);
	cr_assert_eq(*(void **)m1->steps[0].prepared, *(void **)m2->steps[0].prepared,
		     "the sessions did not share the compiled partition");

	/* both sessions at once, with different inputs: each gets its own results */
	struct session_run r1 = {.m = m1, .in = in, .want = want, .scale = 1.0f, .rounds = 20};
	struct session_run r2 = {.m = m2, .in = in, .want = want, .scale = 0.5f, .rounds = 20};
	pthread_t t1, t2;
	cr_assert_eq(pthread_create(&t1, NULL, session_thread, &r1), 0);
	cr_assert_eq(pthread_create(&t2, NULL, session_thread, &r2), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	cr_assert_eq(r1.bad, 0, "session 1: %d bad runs", r1.bad);
	cr_assert_eq(r2.bad, 0, "session 2: %d bad runs", r2.bad);
	const float *o2 = infd__method_output(m2, 0)->u.t->data;
	cr_assert_gt(t_rel_l2(o2, want, 10), 1e-3, "session 2 computed session 1's input");

	/* the plan outlives the first session that leaves */
	infd__method_free(m1);
	r2.scale = 1.0f;
	r2.rounds = 2;
	session_thread(&r2);
	cr_assert_eq(r2.bad, 0);
	infd__method_free(m2);
	infd__program_close(prog);
	infd__runtime_destroy(rt);
}
