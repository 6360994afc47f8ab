/* XNNPACK: the lowered path against XNNPACK driven directly, in one run.
 * MobileNetV2 (224x224, width 1.0) and a transformer encoder block (seq 128,
 * width 256, 4 heads), built by tools/nets.h, each timed (median of several
 * runs after a warm-up) three ways: the program on the portable kernels, the
 * program on a runtime with the XNNPACK backend (devices {"xnnpack"}), and the
 * same network defined by hand with XNNPACK's subgraph API (NHWC, batch norm
 * folded into the convolutions; for the transformer, the operators this
 * XNNPACK lacks -- batch matmul, layer norm, gelu -- run on the few lines of
 * own code below). Then GFLOP/s of XNNPACK's fully-connected operator against
 * the repository's blocked SGEMM on GEMM shapes from these networks.
 * Usage: bench_xnnpack [THREADS [PARTS]]   THREADS default 2 (1 thread is always
 * measured); PARTS any of "m" (MobileNetV2), "t" (transformer), "g" (GEMM), default all,
 * plus, to profile one path alone, any of "P" (portable), "L" (lowered), "D" (direct). */
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xnnpack.h>

#include "backends/backends.h"
#ifdef INFD_HAVE_XNNPACK
#include "backends/xnnpack/xown.h"
#endif
#include "runtime/kernels/gemm.h"
#include "runtime/runtime.h"
#include "tools/nets.h"

#define WARMUP 2
#define MIN_REPS 5
#define MAX_REPS 15
#define BUDGET_S 2.5 /* per measurement, after the warm-up */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef int (*run_fn)(void *ctx);

/* Median milliseconds of one call of each fns[i](ctxs[i]) (-1 when it failed):
 * the contenders take turns, round after round, so that load from elsewhere on
 * the machine falls on all of them alike. */
static void measure(uint32_t n, const run_fn *fns, void *const *ctxs, double *ms, double *best)
{
	double t[4][MAX_REPS];
	bool ok[4];
	int reps = 0;
	for (uint32_t i = 0; i < n; i++) {
		ok[i] = fns[i] != NULL;
		for (int w = 0; ok[i] && w < WARMUP; w++)
			ok[i] = fns[i](ctxs[i]) == 0;
	}
	double start = now_s();
	while (reps < MAX_REPS && (reps < MIN_REPS || now_s() - start < BUDGET_S)) {
		for (uint32_t i = 0; i < n; i++) {
			if (!ok[i])
				continue;
			double t0 = now_s();
			ok[i] = fns[i](ctxs[i]) == 0;
			t[i][reps] = now_s() - t0;
		}
		reps++;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!ok[i]) {
			ms[i] = -1;
			if (best)
				best[i] = -1;
			continue;
		}
		qsort(t[i], (size_t)reps, sizeof t[i][0], cmp_double);
		if (best)
			best[i] = t[i][0] * 1e3;
		ms[i] = (reps % 2 ? t[i][reps / 2] : 0.5 * (t[i][reps / 2 - 1] + t[i][reps / 2])) * 1e3;
	}
}

static double rel_l2(const float *got, const float *want, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)got[i] - (double)want[i];
		num += d * d;
		den += (double)want[i] * want[i];
	}
	return sqrt(num / (den > 0 ? den : 1));
}

static void *xalloc(size_t bytes)
{
	void *p = NULL;
	if (posix_memalign(&p, 64, bytes + XNN_EXTRA_BYTES))
		return NULL;
	memset(p, 0, bytes + XNN_EXTRA_BYTES);
	return p;
}

/* ---- The program on a runtime ---------------------------------------------------- */

struct prog_run {
	struct infd_program *prog;
	struct infd_method *m;
	struct infd_error e;
};

static int prog_execute(void *ctx)
{
	struct prog_run *r = ctx;
	if (infd__method_execute(r->m, &r->e)) {
		fprintf(stderr, "bench_xnnpack: %s\n", r->e.msg);
		return 1;
	}
	return 0;
}

static void prog_close(struct prog_run *r)
{
	infd__method_free(r->m);
	infd__program_close(r->prog);
	memset(r, 0, sizeof *r);
}

/* Load the program on `rt` with the device list {device} and bind the input.
 * On success *on_x counts the kernel calls placed on XNNPACK out of *kernels. */
static int prog_open(struct prog_run *r, struct infd_runtime *rt, const struct infd_net_program *np,
		     const float *input, const char *device, uint32_t *on_x, uint32_t *kernels)
{
	memset(r, 0, sizeof *r);
	const char *const dev[1] = {device};
	struct infd_method_options mo = {.devices = dev, .n_devices = 1};
	size_t n_in = 1;
	for (uint32_t i = 0; i < np->in_rank; i++)
		n_in *= (size_t)np->in_sizes[i];
	if (infd__program_open_copy(np->pte, np->size, &r->prog, &r->e) ||
	    infd__method_load(rt, r->prog, "forward", &mo, &r->m, &r->e) ||
	    infd__method_set_input_tensor(r->m, 0, INFD_DTYPE_FLOAT32, np->in_rank, np->in_sizes, input, n_in * 4,
					  &r->e))
		goto fail;
	*on_x = *kernels = 0;
	const struct infd_chain_def *ch = &r->m->def->chains[0];
	for (uint32_t i = 0; i < ch->n_instrs; i++) {
		if (ch->instrs[i].kind != INFD_INSTR_KERNEL)
			continue;
		const char *where = infd__method_placement(r->m, 0, i);
		(*kernels)++;
		*on_x += where && strcmp(where, "xnnpack") == 0;
	}
	return 0;
fail:
	fprintf(stderr, "bench_xnnpack: %s: %s\n", device, r->e.msg);
	prog_close(r);
	return 1;
}

static const float *prog_output(struct prog_run *r)
{
	return infd__method_output(r->m, 0)->u.t->data;
}

/* ---- MobileNetV2 through XNNPACK's subgraph API ----------------------------------- */

struct direct {
	xnn_runtime_t rt;
	float **keep; /* static data (folded weights) the runtime may point to */
	uint32_t n_keep, cap_keep;
	float *in, *out;
};

static float *keep(struct direct *d, size_t floats)
{
	if (d->n_keep == d->cap_keep) {
		uint32_t cap = d->cap_keep ? 2 * d->cap_keep : 64;
		float **k = realloc(d->keep, cap * sizeof *k);
		if (!k)
			return NULL;
		d->keep = k;
		d->cap_keep = cap;
	}
	float *p = xalloc(floats * sizeof *p);
	if (p)
		d->keep[d->n_keep++] = p;
	return p;
}

static uint32_t tensor(xnn_subgraph_t sg, size_t rank, const size_t *dims, const void *data, uint32_t ext,
		       uint32_t flags, enum xnn_status *st)
{
	uint32_t id = XNN_INVALID_VALUE_ID;
	if (*st == xnn_status_success)
		*st = xnn_define_tensor_value(sg, xnn_datatype_fp32, rank, dims, data, ext, flags, &id);
	return id;
}

/* NHWC input [1, hw, hw, 3] (external 0) -> logits [1, 1, 1, classes] (external 1). */
static int direct_mobilenet_build(struct direct *d, const struct infd_net_mobilenet_v2 *net, pthreadpool_t pool)
{
	xnn_subgraph_t sg = NULL;
	enum xnn_status st = xnn_create_subgraph(2, 0, &sg);
	uint32_t *outs = calloc(net->n_convs, sizeof *outs);
	if (!outs)
		st = xnn_status_out_of_memory;
	size_t hw = net->hw;
	uint32_t x = tensor(sg, 4, (const size_t[]){1, hw, hw, net->in_c}, NULL, 0, XNN_VALUE_FLAG_EXTERNAL_INPUT,
			    &st);
	for (uint32_t i = 0; st == xnn_status_success && i < net->n_convs; i++) {
		const struct infd_net_conv *c = &net->convs[i];
		uint32_t k = c->kernel, oc = c->out_c, icg = c->in_c / c->groups;
		bool dw = c->groups > 1;
		float *w = keep(d, (size_t)oc * icg * k * k), *b = keep(d, oc);
		if (!w || !b) {
			st = xnn_status_out_of_memory;
			break;
		}
		/* fold batch norm; OIHW -> OHWI (depthwise: [1, KH, KW, C]) */
		for (uint32_t o = 0; o < oc; o++) {
			float scale = c->bn[o] / sqrtf(c->bn[3 * oc + o] + net->bn_eps);
			b[o] = c->bn[oc + o] - c->bn[2 * oc + o] * scale;
			for (uint32_t ci = 0; ci < icg; ci++)
				for (uint32_t ky = 0; ky < k; ky++)
					for (uint32_t kx = 0; kx < k; kx++) {
						float v = c->weight[((o * icg + ci) * k + ky) * k + kx] * scale;
						if (dw)
							w[(ky * k + kx) * oc + o] = v;
						else
							w[((o * k + ky) * k + kx) * icg + ci] = v;
					}
		}
		uint32_t fw = dw ? tensor(sg, 4, (const size_t[]){1, k, k, oc}, w, XNN_INVALID_VALUE_ID, 0, &st)
				 : tensor(sg, 4, (const size_t[]){oc, k, k, icg}, w, XNN_INVALID_VALUE_ID, 0, &st);
		uint32_t fb = tensor(sg, 1, (const size_t[]){oc}, b, XNN_INVALID_VALUE_ID, 0, &st);
		const size_t odims[4] = {1, c->out_hw, c->out_hw, oc};
		uint32_t y = tensor(sg, 4, odims, NULL, XNN_INVALID_VALUE_ID, 0, &st);
		float lo = c->relu6 ? 0.0f : -INFINITY, hi = c->relu6 ? 6.0f : INFINITY;
		uint32_t p = k / 2;
		if (st == xnn_status_success)
			st = dw ? xnn_define_depthwise_convolution_2d(sg, p, p, p, p, k, k, c->stride, c->stride, 1, 1,
								      1, oc, lo, hi, x, fw, fb, y, 0)
				: xnn_define_convolution_2d(sg, p, p, p, p, k, k, c->stride, c->stride, 1, 1, 1, icg,
							    oc, lo, hi, x, fw, fb, y, 0);
		if (c->add_from >= 0) {
			uint32_t z = tensor(sg, 4, odims, NULL, XNN_INVALID_VALUE_ID, 0, &st);
			if (st == xnn_status_success)
				st = xnn_define_add2(sg, -INFINITY, INFINITY, y, outs[c->add_from], z, 0);
			y = z;
		}
		outs[i] = x = y;
	}
	size_t F = net->features, C = net->classes;
	uint32_t pooled = tensor(sg, 4, (const size_t[]){1, 1, 1, F}, NULL, XNN_INVALID_VALUE_ID, 0, &st);
	uint32_t fw = tensor(sg, 2, (const size_t[]){C, F}, net->fc_w, XNN_INVALID_VALUE_ID, 0, &st);
	uint32_t fb = tensor(sg, 1, (const size_t[]){C}, net->fc_b, XNN_INVALID_VALUE_ID, 0, &st);
	uint32_t y = tensor(sg, 4, (const size_t[]){1, 1, 1, C}, NULL, 1, XNN_VALUE_FLAG_EXTERNAL_OUTPUT, &st);
	if (st == xnn_status_success)
		st = xnn_define_global_average_pooling_2d(sg, -INFINITY, INFINITY, x, pooled, 0);
	if (st == xnn_status_success)
		st = xnn_define_fully_connected(sg, -INFINITY, INFINITY, pooled, fw, fb, y, 0);
	if (st == xnn_status_success)
		st = xnn_create_runtime_v2(sg, pool, 0, &d->rt);
	d->in = xalloc(hw * hw * net->in_c * sizeof(float));
	d->out = xalloc(C * sizeof(float));
	if (st == xnn_status_success && (!d->in || !d->out))
		st = xnn_status_out_of_memory;
	if (st == xnn_status_success) {
		const struct xnn_external_value ext[2] = {{0, d->in}, {1, d->out}};
		st = xnn_setup_runtime(d->rt, 2, ext);
	}
	free(outs);
	if (sg)
		xnn_delete_subgraph(sg);
	if (st != xnn_status_success)
		fprintf(stderr, "bench_xnnpack: direct MobileNetV2: XNNPACK status %d\n", (int)st);
	return st != xnn_status_success;
}

static int direct_mobilenet_run(void *ctx)
{
	struct direct *d = ctx;
	return xnn_invoke_runtime(d->rt) != xnn_status_success;
}

/* ---- Transformer block: XNNPACK runtimes joined by own code --------------------------
 *   A: x -> q, k, v (three fully connected)        own: scores = q kᵀ per head (SGEMM, scale in alpha)
 *   B: scores -> softmax                           own: ctx = p v per head, written head-merged
 *   C: ctx -> fully connected -> + x -> r1         own: layer norm r1 -> x1
 *   D: x1 -> fully connected -> h                  own: gelu h -> g
 *   E: g -> fully connected -> + x1 -> r2          own: layer norm r2 -> y
 * Heads are read and written in place with strides: no transposes. */

struct direct_tf {
	const struct infd_net_transformer *net;
	pthreadpool_t pool;
	xnn_runtime_t a, b, c, dd, e;
	float *x, *q, *k, *v, *scores, *probs, *ctx, *r1, *x1, *h, *g, *r2, *y;
	float *ws; /* per-head SGEMM scratch */
	size_t ws_floats;
	double stage_s[8]; /* time per stage, summed over runs, when `profile` */
	bool profile;
};

enum { ST_QKV, ST_QK, ST_SOFTMAX, ST_PV, ST_OUT_ADD, ST_LN, ST_FC1, ST_GELU };
static const char *const stage_names[8] = {"fc q,k,v", "bmm q.kT", "softmax", "bmm p.v", "fc out + add",
					   "layer norm x2", "fc1 / fc2 + add", "gelu"};

static void fc_node(xnn_subgraph_t sg, uint32_t in, const float *w, const float *b, size_t rows, size_t k,
		      size_t n, uint32_t out_ext, uint32_t flags, uint32_t *out_id, enum xnn_status *st)
{
	uint32_t fw = tensor(sg, 2, (const size_t[]){n, k}, w, XNN_INVALID_VALUE_ID, 0, st);
	uint32_t fb = tensor(sg, 1, (const size_t[]){n}, b, XNN_INVALID_VALUE_ID, 0, st);
	*out_id = tensor(sg, 2, (const size_t[]){rows, n}, NULL, out_ext, flags, st);
	if (*st == xnn_status_success)
		*st = xnn_define_fully_connected(sg, -INFINITY, INFINITY, in, fw, fb, *out_id, 0);
}

/* One subgraph of fully-connected layers (and an optional residual add) into a runtime. */
static enum xnn_status tf_runtime(struct direct_tf *t, int which, xnn_runtime_t *out)
{
	const struct infd_net_transformer *n = t->net;
	size_t S = n->seq, W = n->width, F = n->hidden;
	xnn_subgraph_t sg = NULL;
	enum xnn_status st = xnn_create_subgraph(4, 0, &sg);
	uint32_t id, x, r;
	const uint32_t IN = XNN_VALUE_FLAG_EXTERNAL_INPUT, OUT = XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
	switch (which) {
	case 0: /* q, k, v */
		x = tensor(sg, 2, (const size_t[]){S, W}, NULL, 0, IN, &st);
		fc_node(sg, x, n->wq, n->bq, S, W, W, 1, OUT, &id, &st);
		fc_node(sg, x, n->wk, n->bk, S, W, W, 2, OUT, &id, &st);
		fc_node(sg, x, n->wv, n->bv, S, W, W, 3, OUT, &id, &st);
		break;
	case 1: /* softmax over the last dim of [H * S, S] */
		x = tensor(sg, 2, (const size_t[]){n->heads * S, S}, NULL, 0, IN, &st);
		id = tensor(sg, 2, (const size_t[]){n->heads * S, S}, NULL, 1, OUT, &st);
		if (st == xnn_status_success)
			st = xnn_define_softmax(sg, x, id, 0);
		break;
	case 2: /* ctx Woᵀ + bo + x */
	case 4: /* g W2ᵀ + b2 + x1 */
		x = tensor(sg, 2, (const size_t[]){S, which == 2 ? W : F}, NULL, 0, IN, &st);
		r = tensor(sg, 2, (const size_t[]){S, W}, NULL, 1, IN, &st);
		if (which == 2)
			fc_node(sg, x, n->wo, n->bo, S, W, W, XNN_INVALID_VALUE_ID, 0, &id, &st);
		else
			fc_node(sg, x, n->w2, n->b2, S, F, W, XNN_INVALID_VALUE_ID, 0, &id, &st);
		x = tensor(sg, 2, (const size_t[]){S, W}, NULL, 2, OUT, &st);
		if (st == xnn_status_success)
			st = xnn_define_add2(sg, -INFINITY, INFINITY, id, r, x, 0);
		break;
	case 3: /* x1 W1ᵀ + b1 */
		x = tensor(sg, 2, (const size_t[]){S, W}, NULL, 0, IN, &st);
		fc_node(sg, x, n->w1, n->b1, S, W, F, 1, OUT, &id, &st);
		break;
	}
	if (st == xnn_status_success)
		st = xnn_create_runtime_v2(sg, t->pool, 0, out);
	if (sg)
		xnn_delete_subgraph(sg);
	return st;
}

static enum xnn_status setup(xnn_runtime_t rt, uint32_t n, float *const *bufs)
{
	struct xnn_external_value ext[4];
	for (uint32_t i = 0; i < n; i++)
		ext[i] = (struct xnn_external_value){i, bufs[i]};
	return xnn_setup_runtime(rt, n, ext);
}

static int direct_tf_build(struct direct_tf *t, const struct infd_net_transformer *net, pthreadpool_t pool)
{
	memset(t, 0, sizeof *t);
	t->net = net;
	t->pool = pool;
	size_t S = net->seq, W = net->width, F = net->hidden, H = net->heads, D = W / H;
	float **bufs[] = {&t->x, &t->q, &t->k, &t->v, &t->ctx, &t->r1, &t->x1, &t->r2, &t->y};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		if (!(*bufs[i] = xalloc(S * W * sizeof(float))))
			return 1;
	t->scores = xalloc(H * S * S * sizeof(float));
	t->probs = xalloc(H * S * S * sizeof(float));
	t->h = xalloc(S * F * sizeof(float));
	t->g = xalloc(S * F * sizeof(float));
	size_t a = infd__gemm_ws_floats(S, S, D), b = infd__gemm_ws_floats(S, D, S);
	t->ws_floats = (a > b ? a : b) + 16;
	t->ws = xalloc(H * t->ws_floats * sizeof(float));
	if (!t->scores || !t->probs || !t->h || !t->g || !t->ws)
		return 1;
	enum xnn_status st = tf_runtime(t, 0, &t->a);
	if (st == xnn_status_success)
		st = tf_runtime(t, 1, &t->b);
	if (st == xnn_status_success)
		st = tf_runtime(t, 2, &t->c);
	if (st == xnn_status_success)
		st = tf_runtime(t, 3, &t->dd);
	if (st == xnn_status_success)
		st = tf_runtime(t, 4, &t->e);
	if (st == xnn_status_success)
		st = setup(t->a, 4, (float *const[]){t->x, t->q, t->k, t->v});
	if (st == xnn_status_success)
		st = setup(t->b, 2, (float *const[]){t->scores, t->probs});
	if (st == xnn_status_success)
		st = setup(t->c, 3, (float *const[]){t->ctx, t->x, t->r1});
	if (st == xnn_status_success)
		st = setup(t->dd, 2, (float *const[]){t->x1, t->h});
	if (st == xnn_status_success)
		st = setup(t->e, 3, (float *const[]){t->g, t->x1, t->r2});
	if (st != xnn_status_success)
		fprintf(stderr, "bench_xnnpack: direct transformer: XNNPACK status %d\n", (int)st);
	return st != xnn_status_success;
}

static void direct_tf_free(struct direct_tf *t)
{
	xnn_runtime_t rts[] = {t->a, t->b, t->c, t->dd, t->e};
	for (size_t i = 0; i < 5; i++)
		if (rts[i])
			xnn_delete_runtime(rts[i]);
	float *bufs[] = {t->x, t->q, t->k, t->v, t->ctx, t->r1, t->x1, t->r2, t->y, t->scores, t->probs, t->h, t->g,
			 t->ws};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		free(bufs[i]);
}

/* Attention of head h: phase 0 scores = q_h k_hᵀ / sqrt(D); phase 1 ctx_h = p_h v_h. */
struct heads_job {
	struct direct_tf *t;
	int phase;
};

static void head_task(void *ctx, size_t h)
{
	const struct heads_job *j = ctx;
	struct direct_tf *t = j->t;
	size_t S = t->net->seq, W = t->net->width, D = W / t->net->heads;
	struct gemm g = {.alpha = 1.0f, .beta = 0.0f};
	if (j->phase == 0) {
		g.m = S, g.n = S, g.k = D;
		g.a = (struct gemm_op){.p = t->q + h * D, .ls = (ptrdiff_t)W, .ks = 1};
		g.b = (struct gemm_op){.p = t->k + h * D, .ls = (ptrdiff_t)W, .ks = 1};
		g.c = t->scores + h * S * S, g.crs = (ptrdiff_t)S, g.ccs = 1;
		g.alpha = 1.0f / sqrtf((float)D);
	} else {
		g.m = S, g.n = D, g.k = S;
		g.a = (struct gemm_op){.p = t->probs + h * S * S, .ls = (ptrdiff_t)S, .ks = 1};
		g.b = (struct gemm_op){.p = t->v + h * D, .ls = 1, .ks = (ptrdiff_t)W};
		g.c = t->ctx + h * D, g.crs = (ptrdiff_t)W, g.ccs = 1;
	}
	infd__gemm_run(&g, t->ws + h * t->ws_floats, NULL); /* heads run side by side on the pool */
}

static void attention(struct direct_tf *t, int phase)
{
	struct heads_job j = {t, phase};
	if (t->pool)
		pthreadpool_parallelize_1d(t->pool, head_task, &j, t->net->heads, 0);
	else
		for (size_t h = 0; h < t->net->heads; h++)
			head_task(&j, h);
}

/* e^x for x <= 0 (to about 2 ulp; 0 below -87): 2^n times a polynomial, in
 * plain arithmetic the compiler vectorizes. */
static inline float exp_neg(float x)
{
	x = x > -87.0f ? x : -87.0f;
	float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f; /* round to nearest */
	float r = x - n * 0.693145752f - n * 1.42860677e-6f;
	float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666679e-2f +
									      r * (8.33333377e-3f + r * 1.38888892e-3f)))));
	union {
		int32_t i;
		float f;
	} two_n = {.i = ((int32_t)n + 127) << 23};
	return p * two_n.f;
}

/* Exact GELU x * Phi(x), erf from Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7). */
static void gelu_rows(void *ctx, size_t row)
{
	struct direct_tf *t = ctx;
	size_t F = t->net->hidden;
	const float *x = t->h + row * F;
	float *y = t->g + row * F;
	for (size_t i = 0; i < F; i++) {
		float z = x[i] * 0.70710678f, az = fabsf(z);
		float u = 1.0f / (1.0f + 0.3275911f * az);
		float p = u * (0.254829592f + u * (-0.284496736f + u * (1.421413741f + u * (-1.453152027f +
											  u * 1.061405429f))));
		float erf_az = 1.0f - p * exp_neg(-az * az);
		y[i] = 0.5f * x[i] * (1.0f + copysignf(erf_az, z));
	}
}

struct ln_job {
	const float *in, *w, *b;
	float *out;
	size_t n;
	float eps;
};

/* Sum of x[0..n) in 8 partial sums (vectorizes without reassociation flags). */
static float sum8(const float *x, size_t n)
{
	float acc[8] = {0}, s = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int l = 0; l < 8; l++)
			acc[l] += x[i + l];
	for (; i < n; i++)
		s += x[i];
	for (int l = 0; l < 8; l++)
		s += acc[l];
	return s;
}

static void ln_rows(void *ctx, size_t row)
{
	const struct ln_job *j = ctx;
	const float *x = j->in + row * j->n;
	float *y = j->out + row * j->n;
	float mean = sum8(x, j->n) / (float)j->n;
	float acc[8] = {0}, var = 0;
	size_t i = 0;
	for (; i + 8 <= j->n; i += 8)
		for (int l = 0; l < 8; l++)
			acc[l] += (x[i + l] - mean) * (x[i + l] - mean);
	for (; i < j->n; i++)
		var += (x[i] - mean) * (x[i] - mean);
	for (int l = 0; l < 8; l++)
		var += acc[l];
	float rstd = 1.0f / sqrtf(var / (float)j->n + j->eps);
	for (i = 0; i < j->n; i++)
		y[i] = (x[i] - mean) * rstd * j->w[i] + j->b[i];
}

static void rows(pthreadpool_t pool, void (*fn)(void *, size_t), void *ctx, size_t n)
{
	if (pool)
		pthreadpool_parallelize_1d(pool, fn, ctx, n, 0);
	else
		for (size_t i = 0; i < n; i++)
			fn(ctx, i);
}

/* Close the stage that started at *t0. */
static void stage(struct direct_tf *t, int which, double *t0)
{
	if (!t->profile)
		return;
	double t1 = now_s();
	t->stage_s[which] += t1 - *t0;
	*t0 = t1;
}

static int direct_tf_run(void *ctx)
{
	struct direct_tf *t = ctx;
	const struct infd_net_transformer *n = t->net;
	double t0 = t->profile ? now_s() : 0;
	if (xnn_invoke_runtime(t->a))
		return 1;
	stage(t, ST_QKV, &t0);
	attention(t, 0);
	stage(t, ST_QK, &t0);
	if (xnn_invoke_runtime(t->b))
		return 1;
	stage(t, ST_SOFTMAX, &t0);
	attention(t, 1);
	stage(t, ST_PV, &t0);
	if (xnn_invoke_runtime(t->c))
		return 1;
	stage(t, ST_OUT_ADD, &t0);
	struct ln_job l1 = {t->r1, n->ln1_w, n->ln1_b, t->x1, n->width, n->ln_eps};
	rows(t->pool, ln_rows, &l1, n->seq);
	stage(t, ST_LN, &t0);
	if (xnn_invoke_runtime(t->dd))
		return 1;
	stage(t, ST_FC1, &t0);
	rows(t->pool, gelu_rows, t, n->seq);
	stage(t, ST_GELU, &t0);
	if (xnn_invoke_runtime(t->e))
		return 1;
	stage(t, ST_FC1, &t0);
	struct ln_job l2 = {t->r2, n->ln2_w, n->ln2_b, t->y, n->width, n->ln_eps};
	rows(t->pool, ln_rows, &l2, n->seq);
	stage(t, ST_LN, &t0);
	return 0;
}

/* Where the direct transformer's time goes: mean ms per stage over a few runs. */
static void direct_tf_profile(struct direct_tf *t)
{
	const int runs = 10;
	memset(t->stage_s, 0, sizeof t->stage_s);
	t->profile = true;
	for (int r = 0; r < runs; r++)
		if (direct_tf_run(t))
			return;
	t->profile = false;
	printf("  %-28s         direct, by stage (mean ms):", "");
	for (int i = 0; i < 8; i++)
		printf(" %s %.2f%s", stage_names[i], t->stage_s[i] * 1e3 / runs, i < 7 ? "," : "\n");
}

/* ---- Side by side -------------------------------------------------------------------- */

struct paths {
	double portable, lowered, direct; /* median ms; < 0: not measured */
	double best_lowered, best_direct; /* fastest run, ms */
	double err_lowered, err_direct;   /* relative L2 against the portable output */
	uint32_t on_x, kernels;
};

static void print_ms(const char *name, double ms)
{
	if (ms >= 0)
		printf("  %s %8.2f ms", name, ms);
	else
		printf("  %s      n/a", name);
}

static void print_paths(const char *label, uint32_t threads, const struct paths *p)
{
	printf("  %-28s %2u thr", label, threads);
	print_ms("portable", p->portable);
	print_ms("lowered", p->lowered);
	if (p->lowered >= 0)
		printf(" (%u/%u on xnnpack)", p->on_x, p->kernels);
	print_ms("direct", p->direct);
	if (p->lowered > 0 && p->direct > 0)
		printf("  lowered/direct %.2fx%s (fastest runs %.2fx)", p->lowered / p->direct,
		       p->lowered / p->direct <= 1.1 ? "" : " (>1.1)", p->best_lowered / p->best_direct);
	if (p->portable > 0 && p->direct > 0)
		printf("  portable/direct %.1fx", p->portable / p->direct);
	printf("\n  %-28s         rel. L2 vs portable:", "");
	if (p->err_direct >= 0)
		printf(" direct %.1e", p->err_direct);
	if (p->err_lowered >= 0)
		printf(" lowered %.1e", p->err_lowered);
	printf("\n");
}

/* Load the program on the portable kernels (*portable) and, when the backend is
 * compiled in, with XNNPACK (*lowered, else left closed). */
static void open_programs(struct infd_runtime *rt, const struct infd_net_program *np, const float *input,
			  struct paths *p, struct prog_run *portable, struct prog_run *lowered)
{
	uint32_t on_x, kernels;
	memset(lowered, 0, sizeof *lowered);
	if (prog_open(portable, rt, np, input, "portable", &on_x, &kernels))
		memset(portable, 0, sizeof *portable);
#ifdef INFD_HAVE_XNNPACK
	if (prog_open(lowered, rt, np, input, "xnnpack", &p->on_x, &p->kernels))
		memset(lowered, 0, sizeof *lowered);
#else
	(void)p;
#endif
}

static const char *g_parts = "mtg"; /* PARTS from the command line */

#ifdef INFD_HAVE_XNNPACK
/* The lowered path runs GEMM-shaped nodes (fully connected, 1x1 stride-1
 * convolution) on the repository's SGEMM where its shape rule says so: how many
 * of them, and their share of the network's FLOPs. */
struct gemm_share {
	uint32_t nodes, own;
	double flop, own_flop;
};

static void share_add(struct gemm_share *s, uint64_t m, uint64_t k, uint64_t n)
{
	double f = 2.0 * (double)m * (double)k * (double)n;
	bool own = infd__xown_gemm_shape_wins(m, k, n);
	s->nodes++;
	s->flop += f;
	s->own += own;
	s->own_flop += own ? f : 0.0;
}

static void print_share(const char *name, const struct gemm_share *s, double total)
{
	printf("  %-13s lowered on own SGEMM: %u of %u GEMM-shaped nodes, %.0f of %.0f MFLOP (%.0f%% of the network)\n",
	       name, s->own, s->nodes, s->own_flop / 1e6, s->flop / 1e6, 100.0 * s->own_flop / total);
}

static void print_gemm_shares(const struct infd_net_mobilenet_v2 *mn, const struct infd_net_transformer *tf)
{
	struct gemm_share s = {0};
	for (uint32_t i = 0; i < mn->n_convs; i++) {
		const struct infd_net_conv *c = &mn->convs[i];
		if (c->kernel == 1 && c->stride == 1 && c->groups == 1)
			share_add(&s, (uint64_t)mn->batch * c->out_hw * c->out_hw, c->in_c, c->out_c);
	}
	share_add(&s, mn->batch, mn->features, mn->classes);
	print_share("mobilenet_v2:", &s, infd__net_mobilenet_v2_flops(mn));
	s = (struct gemm_share){0};
	for (int i = 0; i < 4; i++) /* q, k, v, out */
		share_add(&s, tf->seq, tf->width, tf->width);
	share_add(&s, tf->seq, tf->width, tf->hidden);
	share_add(&s, tf->seq, tf->hidden, tf->width);
	print_share("transformer:", &s, infd__net_transformer_flops(tf));
}
#endif

static bool path_on(char which)
{
	return !strpbrk(g_parts, "PLD") || strchr(g_parts, which);
}

/* Time the three paths side by side; compare the outputs with the portable one. */
static void measure_paths(struct paths *p, struct prog_run *portable, struct prog_run *lowered, run_fn direct_fn,
			  void *direct_ctx, const float *direct_out, size_t n_out)
{
	const run_fn fns[3] = {portable->m && path_on('P') ? prog_execute : NULL,
			       lowered->m && path_on('L') ? prog_execute : NULL, path_on('D') ? direct_fn : NULL};
	void *const ctxs[3] = {portable, lowered, direct_ctx};
	double ms[3], best[3];
	measure(3, fns, ctxs, ms, best);
	p->portable = ms[0], p->lowered = ms[1], p->direct = ms[2];
	p->best_lowered = best[1], p->best_direct = best[2];
	const float *ref = portable->m ? prog_output(portable) : NULL;
	p->err_direct = ref && fns[2] ? rel_l2(direct_out, ref, n_out) : -1;
	p->err_lowered = ref && fns[1] ? rel_l2(prog_output(lowered), ref, n_out) : -1;
	if (portable->m)
		prog_close(portable);
	if (lowered->m)
		prog_close(lowered);
}

static void bench_mobilenet(const struct infd_net_mobilenet_v2 *net, const struct infd_net_program *np,
			    struct infd_runtime *rt)
{
	uint32_t threads = rt->opt.n_threads ? rt->opt.n_threads : 1;
	pthreadpool_t pool = rt->threadpool;
	size_t hw = net->hw, C = net->in_c;
	float *x = malloc(hw * hw * C * sizeof *x);
	if (!x)
		return;
	infd__net_fill(x, hw * hw * C, 42);
	struct paths p = {.direct = -1};
	struct prog_run portable, lowered;
	open_programs(rt, np, x, &p, &portable, &lowered);
	struct direct d = {0};
	bool built = direct_mobilenet_build(&d, net, pool) == 0;
	if (built)
		for (size_t c = 0; c < C; c++) /* NCHW -> NHWC, outside the timed region */
			for (size_t i = 0; i < hw * hw; i++)
				d.in[i * C + c] = x[c * hw * hw + i];
	measure_paths(&p, &portable, &lowered, built ? direct_mobilenet_run : NULL, &d, d.out, net->classes);
	char label[64];
	snprintf(label, sizeof label, "mobilenet_v2 %zux%zu w%.2g", hw, hw, (double)net->width_mult);
	print_paths(label, threads, &p);
	if (d.rt)
		xnn_delete_runtime(d.rt);
	for (uint32_t i = 0; i < d.n_keep; i++)
		free(d.keep[i]);
	free(d.keep), free(d.in), free(d.out), free(x);
}

static void bench_transformer(const struct infd_net_transformer *net, const struct infd_net_program *np,
			      struct infd_runtime *rt)
{
	uint32_t threads = rt->opt.n_threads ? rt->opt.n_threads : 1;
	pthreadpool_t pool = rt->threadpool;
	size_t n = (size_t)net->seq * net->width;
	float *x = malloc(n * sizeof *x);
	if (!x)
		return;
	infd__net_fill(x, n, 43);
	struct paths p = {.direct = -1};
	struct prog_run portable, lowered;
	open_programs(rt, np, x, &p, &portable, &lowered);
	struct direct_tf t;
	bool built = direct_tf_build(&t, net, pool) == 0;
	if (built)
		memcpy(t.x, x, n * sizeof *x);
	measure_paths(&p, &portable, &lowered, built ? direct_tf_run : NULL, &t, t.y, n);
	char label[64];
	snprintf(label, sizeof label, "transformer s%u w%u h%u", net->seq, net->width, net->heads);
	print_paths(label, threads, &p);
	if (built && path_on('D'))
		direct_tf_profile(&t);
	direct_tf_free(&t);
	free(x);
}

/* ---- GEMM-shaped work: XNNPACK fully connected vs the blocked SGEMM -------------------- */

struct fc_run {
	xnn_operator_t op;
	pthreadpool_t pool;
};

static int fc_run(void *ctx)
{
	struct fc_run *r = ctx;
	return xnn_run_operator(r->op, r->pool) != xnn_status_success;
}

struct sgemm_run {
	struct gemm g;
	float *ws;
	pthreadpool_t pool;
};

static int sgemm_run(void *ctx)
{
	struct sgemm_run *r = ctx;
	infd__gemm_run(&r->g, r->ws, r->pool);
	return 0;
}

/* y[M, N] = x[M, K] Wᵀ + b, W [N, K]: XNNPACK packs W once at creation; the SGEMM
 * packs its panels inside every call. */
static void bench_gemm(const char *label, size_t M, size_t K, size_t N, pthreadpool_t pool, uint32_t threads)
{
	float *x = xalloc(M * K * 4), *w = xalloc(N * K * 4), *b = xalloc(N * 4), *y1 = xalloc(M * N * 4),
	      *y2 = xalloc(M * N * 4);
	struct sgemm_run s = {.pool = pool};
	s.ws = xalloc(infd__gemm_ws_floats(M, N, K) * 4);
	struct fc_run f = {.pool = pool};
	if (!x || !w || !b || !y1 || !y2 || !s.ws)
		goto out;
	infd__net_fill(x, M * K, 1);
	infd__net_fill(w, N * K, 2);
	infd__net_fill(b, N, 3);
	if (xnn_create_fully_connected_nc_f32(K, N, K, N, w, b, -INFINITY, INFINITY, 0, &f.op) ||
	    xnn_setup_fully_connected_nc_f32(f.op, M, x, y1, pool)) {
		printf("  %-28s XNNPACK refused the operator\n", label);
		goto out;
	}
	s.g = (struct gemm){.m = M, .n = N, .k = K, .alpha = 1.0f, .beta = 1.0f};
	s.g.a = (struct gemm_op){.p = x, .ls = (ptrdiff_t)K, .ks = 1};
	s.g.b = (struct gemm_op){.p = w, .ls = (ptrdiff_t)K, .ks = 1};
	s.g.c = y2, s.g.crs = (ptrdiff_t)N, s.g.ccs = 1;
	s.g.bias = b, s.g.brs = 0, s.g.bcs = 1;
	double ms[2];
	measure(2, (const run_fn[]){fc_run, sgemm_run}, (void *const[]){&f, &s}, ms, NULL);
	double tx = ms[0], ts = ms[1];
	double flop = 2.0 * (double)M * (double)N * (double)K;
	printf("  %-28s %2u thr  xnnpack fc %7.1f GFLOP/s  sgemm %7.1f GFLOP/s  sgemm/xnnpack %.2f  (rel. L2 %.1e)\n",
	       label, threads, flop / tx / 1e6, flop / ts / 1e6, tx / ts, rel_l2(y2, y1, M * N));
out:
	if (f.op)
		xnn_delete_operator(f.op);
	free(x), free(w), free(b), free(y1), free(y2), free(s.ws);
}

int main(int argc, char **argv)
{
	uint32_t nthreads = argc > 1 ? (uint32_t)atoi(argv[1]) : 2;
	const char *parts = argc > 2 ? argv[2] : "mtg";
	g_parts = parts;
	if (nthreads < 1)
		nthreads = 1;
	if (xnn_initialize(NULL) != xnn_status_success) {
		fprintf(stderr, "bench_xnnpack: xnn_initialize failed\n");
		return 1;
	}
	struct infd_error e = {0};
	struct infd_net_mobilenet_v2 mn;
	struct infd_net_transformer tf;
	struct infd_net_program mp, tp;
	if (infd__net_mobilenet_v2_make(224, 1.0f, 1000, 1, &mn, &e) || infd__net_mobilenet_v2_write(&mn, NULL, &mp, &e) ||
	    infd__net_transformer_make(128, 256, 4, 2, &tf, &e) || infd__net_transformer_write(&tf, NULL, &tp, &e)) {
		fprintf(stderr, "bench_xnnpack: %s\n", e.msg);
		return 1;
	}
	printf("XNNPACK: portable kernels | lowered program (runtime + XNNPACK backend) | XNNPACK driven directly;\n"
	       "median ms of %d..%d runs (taking turns) after %d warm-up runs; target lowered/direct <= 1.1\n",
	       MIN_REPS, MAX_REPS, WARMUP);
#ifndef INFD_HAVE_XNNPACK
	printf("  (lowered: n/a -- the XNNPACK backend is not compiled in)\n");
#endif
	printf("  mobilenet_v2: %.0f MFLOP, %u kernel calls, %.1f MB weights, arena %.1f MB; direct: one subgraph, NHWC, "
	       "BN folded\n",
	       infd__net_mobilenet_v2_flops(&mn) / 1e6, mp.n_instructions, (double)mp.weight_bytes / 1e6,
	       (double)mp.arena_bytes / 1e6);
	printf("  transformer:  %.0f MFLOP, %u kernel calls; direct: 5 XNNPACK runtimes (fc, softmax, add) + own code "
	       "(bmm via SGEMM, layer norm, gelu), heads by strides\n",
	       infd__net_transformer_flops(&tf) / 1e6, tp.n_instructions);
#ifdef INFD_HAVE_XNNPACK
	print_gemm_shares(&mn, &tf);
#endif
	/* One runtime per thread count runs all three paths: the portable and the
	 * lowered method, and the direct driver on the runtime's own thread pool (one
	 * pool, so that no idle pool spins beside the one at work). */
	uint32_t counts[2] = {1, nthreads};
	struct infd_runtime *rts[2] = {NULL, NULL};
	for (int c = 0; c < (nthreads > 1 ? 2 : 1); c++) {
		struct infd_runtime_options ro;
		infd__runtime_options_default(&ro);
		ro.n_threads = counts[c];
		if (infd__runtime_create(&ro, &rts[c], &e)) {
			fprintf(stderr, "bench_xnnpack: %s\n", e.msg);
			return 1;
		}
		struct infd_backends_config cfg;
		infd__backends_config_default(&cfg);
		cfg.vulkan = false;
		infd__backends_setup(rts[c], &cfg);
		if (strchr(parts, 'm'))
			bench_mobilenet(&mn, &mp, rts[c]);
		if (strchr(parts, 't'))
			bench_transformer(&tf, &tp, rts[c]);
	}
	if (strchr(parts, 'g'))
		printf("GEMM-shaped work, y = x Wᵀ + b (M x K -> N): XNNPACK fully connected | repository SGEMM\n");
	static const struct {
		const char *label;
		size_t m, k, n;
	} shapes[] = {
		{"fc 128x256 -> 256 (qkv)", 128, 256, 256},
		{"fc 128x256 -> 1024 (mlp)", 128, 256, 1024},
		{"fc 3136x24 -> 144 (1x1 conv)", 3136, 24, 144},
		{"fc 196x160 -> 960 (1x1 conv)", 196, 160, 960},
		{"fc 1024x1024 -> 1024", 1024, 1024, 1024},
	};
	for (int c = 0; strchr(parts, 'g') && c < (nthreads > 1 ? 2 : 1); c++)
		for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
			bench_gemm(shapes[i].label, shapes[i].m, shapes[i].k, shapes[i].n, rts[c]->threadpool, counts[c]);
	for (int c = 0; c < 2; c++)
		infd__runtime_destroy(rts[c]);
	infd__net_program_free(&mp);
	infd__net_program_free(&tp);
	infd__net_mobilenet_v2_free(&mn);
	infd__net_transformer_free(&tf);
	return 0;
}
