/* MobileNetV2 and a transformer block (tools/nets.h) at small sizes: on the
 * portable kernels they match a plain reference forward pass written here from
 * the network descriptions; with the XNNPACK backend they match the portable
 * result, and the placement puts every kernel call on XNNPACK. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "common.h"
#include "runtime/runtime.h"
#include "tools/nets.h"

/* ---- Reference forward passes (double accumulation, PyTorch layouts) ---------- */

static void ref_conv_bn(const struct infd_net_conv *c, float eps, const float *in, float *out)
{
	int32_t ih = (int32_t)c->in_hw, oh = (int32_t)c->out_hw, k = (int32_t)c->kernel, s = (int32_t)c->stride;
	int32_t p = k / 2;
	uint32_t icg = c->in_c / c->groups, ocg = c->out_c / c->groups;
	for (uint32_t o = 0; o < c->out_c; o++) {
		uint32_t g = o / ocg;
		const float *bn = c->bn;
		double scale = bn[o] / sqrt((double)bn[3 * c->out_c + o] + eps);
		for (int32_t y = 0; y < oh; y++)
			for (int32_t x = 0; x < oh; x++) {
				double acc = 0;
				for (uint32_t ci = 0; ci < icg; ci++)
					for (int32_t ky = 0; ky < k; ky++)
						for (int32_t kx = 0; kx < k; kx++) {
							int32_t iy = y * s - p + ky, ix = x * s - p + kx;
							if (iy < 0 || ix < 0 || iy >= ih || ix >= ih)
								continue;
							acc += (double)c->weight[((o * icg + ci) * (uint32_t)k + (uint32_t)ky) *
											 (uint32_t)k +
										 (uint32_t)kx] *
							       in[((size_t)(g * icg + ci) * (size_t)ih + (size_t)iy) * (size_t)ih +
								  (size_t)ix];
						}
				double v = (acc - bn[2 * c->out_c + o]) * scale + bn[c->out_c + o];
				if (c->relu6)
					v = v < 0 ? 0 : v > 6 ? 6 : v;
				out[((size_t)o * (size_t)oh + (size_t)y) * (size_t)oh + (size_t)x] = (float)v;
			}
	}
}

/* Logits [classes] of MobileNetV2 for one image x [3, hw, hw] (malloc'd). */
static float *ref_mobilenet(const struct infd_net_mobilenet_v2 *net, const float *x)
{
	float **outs = calloc(net->n_convs, sizeof *outs);
	cr_assert(outs);
	const float *cur = x;
	for (uint32_t i = 0; i < net->n_convs; i++) {
		const struct infd_net_conv *c = &net->convs[i];
		size_t n = (size_t)c->out_c * c->out_hw * c->out_hw;
		outs[i] = malloc(n * sizeof *outs[i]);
		cr_assert(outs[i]);
		ref_conv_bn(c, net->bn_eps, cur, outs[i]);
		if (c->add_from >= 0)
			for (size_t j = 0; j < n; j++)
				outs[i][j] += outs[c->add_from][j];
		cur = outs[i];
	}
	const struct infd_net_conv *last = &net->convs[net->n_convs - 1];
	size_t hw = (size_t)last->out_hw * last->out_hw;
	double *pooled = calloc(net->features, sizeof *pooled);
	float *logits = malloc(net->classes * sizeof *logits);
	cr_assert(pooled && logits);
	for (uint32_t f = 0; f < net->features; f++) {
		for (size_t j = 0; j < hw; j++)
			pooled[f] += cur[f * hw + j];
		pooled[f] /= (double)hw;
	}
	for (uint32_t o = 0; o < net->classes; o++) {
		double acc = net->fc_b[o];
		for (uint32_t f = 0; f < net->features; f++)
			acc += (double)net->fc_w[(size_t)o * net->features + f] * pooled[f];
		logits[o] = (float)acc;
	}
	for (uint32_t i = 0; i < net->n_convs; i++)
		free(outs[i]);
	free(outs);
	free(pooled);
	return logits;
}

/* y[S, N] = x[S, K] Wᵀ + b */
static void ref_linear(const double *x, uint32_t S, uint32_t K, const float *w, const float *b, uint32_t N,
		       double *y)
{
	for (uint32_t s = 0; s < S; s++)
		for (uint32_t n = 0; n < N; n++) {
			double acc = b[n];
			for (uint32_t k = 0; k < K; k++)
				acc += x[(size_t)s * K + k] * w[(size_t)n * K + k];
			y[(size_t)s * N + n] = acc;
		}
}

static void ref_layer_norm(double *x, uint32_t S, uint32_t W, const float *g, const float *b, float eps)
{
	for (uint32_t s = 0; s < S; s++) {
		double *r = x + (size_t)s * W, mean = 0, var = 0;
		for (uint32_t i = 0; i < W; i++)
			mean += r[i];
		mean /= W;
		for (uint32_t i = 0; i < W; i++)
			var += (r[i] - mean) * (r[i] - mean);
		var /= W;
		for (uint32_t i = 0; i < W; i++)
			r[i] = (r[i] - mean) / sqrt(var + eps) * g[i] + b[i];
	}
}

static float *ref_transformer(const struct infd_net_transformer *t, const float *xin)
{
	uint32_t S = t->seq, W = t->width, H = t->heads, D = W / H, F = t->hidden;
	double *x = calloc((size_t)S * W, sizeof *x), *q = malloc((size_t)S * W * sizeof *q);
	double *k = malloc((size_t)S * W * sizeof *k), *v = malloc((size_t)S * W * sizeof *v);
	double *a = calloc((size_t)S * W, sizeof *a), *o = malloc((size_t)S * W * sizeof *o);
	double *h = malloc((size_t)S * F * sizeof *h), *p = malloc((size_t)S * sizeof *p);
	float *y = malloc((size_t)S * W * sizeof *y);
	cr_assert(x && q && k && v && a && o && h && p && y);
	for (size_t i = 0; i < (size_t)S * W; i++)
		x[i] = xin[i];
	ref_linear(x, S, W, t->wq, t->bq, W, q);
	ref_linear(x, S, W, t->wk, t->bk, W, k);
	ref_linear(x, S, W, t->wv, t->bv, W, v);
	for (uint32_t hh = 0; hh < H; hh++)
		for (uint32_t i = 0; i < S; i++) {
			double mx = -INFINITY, sum = 0;
			for (uint32_t j = 0; j < S; j++) {
				double d = 0;
				for (uint32_t e = 0; e < D; e++)
					d += q[(size_t)i * W + hh * D + e] * k[(size_t)j * W + hh * D + e];
				p[j] = d / sqrt((double)D);
				mx = p[j] > mx ? p[j] : mx;
			}
			for (uint32_t j = 0; j < S; j++)
				sum += (p[j] = exp(p[j] - mx));
			for (uint32_t j = 0; j < S; j++)
				for (uint32_t e = 0; e < D; e++)
					a[(size_t)i * W + hh * D + e] += p[j] / sum * v[(size_t)j * W + hh * D + e];
		}
	ref_linear(a, S, W, t->wo, t->bo, W, o);
	for (size_t i = 0; i < (size_t)S * W; i++)
		x[i] += o[i];
	ref_layer_norm(x, S, W, t->ln1_w, t->ln1_b, t->ln_eps);
	ref_linear(x, S, W, t->w1, t->b1, F, h);
	for (size_t i = 0; i < (size_t)S * F; i++)
		h[i] = 0.5 * h[i] * (1.0 + erf(h[i] / sqrt(2.0)));
	ref_linear(h, S, F, t->w2, t->b2, W, o);
	for (size_t i = 0; i < (size_t)S * W; i++)
		x[i] += o[i];
	ref_layer_norm(x, S, W, t->ln2_w, t->ln2_b, t->ln_eps);
	for (size_t i = 0; i < (size_t)S * W; i++)
		y[i] = (float)x[i];
	free(x), free(q), free(k), free(v), free(a), free(o), free(h), free(p);
	return y;
}

/* ---- Running programs ----------------------------------------------------------- */

/* Finite, and spread out: not (nearly) constant. */
static void assert_plausible(const float *y, size_t n, const char *what)
{
	double mean = 0, var = 0;
	for (size_t i = 0; i < n; i++) {
		cr_assert(isfinite(y[i]), "%s: output %zu is %g", what, i, (double)y[i]);
		mean += y[i];
	}
	mean /= (double)n;
	for (size_t i = 0; i < n; i++)
		var += (y[i] - mean) * (y[i] - mean);
	var /= (double)n;
	cr_assert(var > 1e-6 * (1 + mean * mean), "%s: output is nearly constant (mean %g, variance %g)", what, mean,
		  var);
}

struct run_result {
	float *out; /* malloc'd */
	size_t n;
	uint32_t n_kernels, on_xnnpack;
};

static size_t numel(uint32_t rank, const int32_t *sizes)
{
	size_t n = 1;
	for (uint32_t i = 0; i < rank; i++)
		n *= (size_t)sizes[i];
	return n;
}

/* Run `prog` once on a runtime with the portable kernels only, or with the
 * optional backends set up and the device list {"xnnpack"}. */
static struct run_result run(const struct infd_net_program *np, const float *input, bool xnnpack, uint32_t threads)
{
	struct infd_error e = {0};
	struct infd_runtime_options ro;
	infd__runtime_options_default(&ro);
	ro.n_threads = threads;
	struct infd_runtime *rt;
	cr_assert_eq(infd__runtime_create(&ro, &rt, &e), INFD_OK, "%s", e.msg);
	if (xnnpack) {
		struct infd_backends_config cfg;
		infd__backends_config_default(&cfg);
		cfg.vulkan = false;
		infd__backends_setup(rt, &cfg);
	}
	struct infd_program *prog;
	cr_assert_eq(infd__program_open_copy(np->pte, np->size, &prog, &e), INFD_OK, "%s", e.msg);
	static const char *const dev[] = {"xnnpack"};
	struct infd_method_options mo = {.devices = xnnpack ? dev : NULL, .n_devices = xnnpack ? 1 : 0};
	struct infd_method *m;
	cr_assert_eq(infd__method_load(rt, prog, "forward", &mo, &m, &e), INFD_OK, "%s", e.msg);
	size_t n_in = numel(np->in_rank, np->in_sizes);
	cr_assert_eq(infd__method_set_input_tensor(m, 0, INFD_DTYPE_FLOAT32, np->in_rank, np->in_sizes, input,
						   n_in * 4, &e),
		     INFD_OK, "%s", e.msg);
	cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "%s", e.msg);
	const struct infd_tensor *out = infd__method_output(m, 0)->u.t;
	struct run_result r = {.n = numel(np->out_rank, np->out_sizes)};
	cr_assert_eq(out->numel, r.n);
	r.out = malloc(r.n * sizeof *r.out);
	cr_assert(r.out);
	memcpy(r.out, out->data, r.n * sizeof *r.out);
	const struct infd_chain_def *ch = &m->def->chains[0];
	for (uint32_t i = 0; i < ch->n_instrs; i++) {
		if (ch->instrs[i].kind != INFD_INSTR_KERNEL)
			continue;
		r.n_kernels++;
		const char *where = infd__method_placement(m, 0, i);
		r.on_xnnpack += where && strcmp(where, "xnnpack") == 0;
	}
	infd__method_free(m);
	infd__program_close(prog);
	infd__runtime_destroy(rt);
	return r;
}

static float *make_input(const struct infd_net_program *np, uint64_t seed)
{
	size_t n = numel(np->in_rank, np->in_sizes);
	float *x = malloc(n * sizeof *x);
	cr_assert(x);
	infd__net_fill(x, n, seed);
	return x;
}

/* ---- Portable kernels against the reference -------------------------------------- */

static void mobilenet_portable(uint32_t hw, float width, uint32_t threads)
{
	struct infd_error e = {0};
	struct infd_net_mobilenet_v2 net;
	cr_assert_eq(infd__net_mobilenet_v2_make(hw, width, 100, 7, &net, &e), INFD_OK, "%s", e.msg);
	struct infd_net_program np;
	cr_assert_eq(infd__net_mobilenet_v2_write(&net, NULL, &np, &e), INFD_OK, "%s", e.msg);
	/* 52 conv + BN, 35 relu6, 10 residual adds, mean, permute + addmm */
	cr_assert_eq(net.n_convs, 52);
	cr_assert_eq(np.n_instructions, 52 * 2 + 35 + 10 + 1 + 2);
	float *x = make_input(&np, 11);
	struct run_result r = run(&np, x, false, threads);
	cr_assert_eq(r.n, 100);
	assert_plausible(r.out, r.n, "mobilenet_v2 (portable)");
	float *want = ref_mobilenet(&net, x);
	double err = t_rel_l2(r.out, want, r.n);
	cr_assert(err < 1e-4, "mobilenet_v2 %upx width %g: portable vs reference relative L2 %.3g", hw, (double)width,
		  err);
	free(want);
	free(r.out);
	free(x);
	infd__net_program_free(&np);
	infd__net_mobilenet_v2_free(&net);
}

Test(nets, mobilenet_v2_portable_matches_reference)
{
	mobilenet_portable(32, 0.5f, 1);
}

Test(nets, mobilenet_v2_portable_two_threads)
{
	mobilenet_portable(64, 0.35f, 2);
}

Test(nets, transformer_portable_matches_reference)
{
	struct infd_error e = {0};
	struct infd_net_transformer net;
	cr_assert_eq(infd__net_transformer_make(16, 64, 4, 5, &net, &e), INFD_OK, "%s", e.msg);
	struct infd_net_program np;
	cr_assert_eq(infd__net_transformer_write(&net, NULL, &np, &e), INFD_OK, "%s", e.msg);
	/* 6 linears (permute + addmm), 3 head splits + kᵀ + merge (permute), 2 bmm, div,
	 * softmax, 2 adds, 2 layer norms, gelu */
	cr_assert_eq(np.n_instructions, 6 * 2 + 5 + 2 + 1 + 1 + 2 + 2 + 1);
	float *x = make_input(&np, 3);
	struct run_result r = run(&np, x, false, 1);
	cr_assert_eq(r.n, 16 * 64);
	assert_plausible(r.out, r.n, "transformer (portable)");
	float *want = ref_transformer(&net, x);
	double err = t_rel_l2(r.out, want, r.n);
	cr_assert(err < 1e-4, "transformer: portable vs reference relative L2 %.3g", err);
	free(want);
	free(r.out);
	free(x);
	infd__net_program_free(&np);
	infd__net_transformer_free(&net);
}

/* Views as view_copy instructions and linear as aten::linear compute the same. */
Test(nets, write_options_do_not_change_results)
{
	struct infd_error e = {0};
	struct infd_net_transformer net;
	cr_assert_eq(infd__net_transformer_make(8, 32, 2, 9, &net, &e), INFD_OK, "%s", e.msg);
	struct infd_net_write_options o;
	infd__net_write_options_default(&o);
	struct infd_net_program a, b;
	cr_assert_eq(infd__net_transformer_write(&net, &o, &a, &e), INFD_OK, "%s", e.msg);
	o.view_copy = true;
	o.linear_op = true;
	cr_assert_eq(infd__net_transformer_write(&net, &o, &b, &e), INFD_OK, "%s", e.msg);
	/* 6 permutes of weights gone; 20 view_copy instructions added (2 per linear,
	 * 2 per head split, 2 for the merge) */
	cr_assert_eq(b.n_instructions, a.n_instructions - 6 + 20);
	float *x = make_input(&a, 4);
	struct run_result ra = run(&a, x, false, 1), rb = run(&b, x, false, 1);
	double err = t_rel_l2(rb.out, ra.out, ra.n);
	cr_assert(err < 1e-6, "relative L2 %.3g", err);
	free(ra.out), free(rb.out), free(x);
	infd__net_program_free(&a);
	infd__net_program_free(&b);
	infd__net_transformer_free(&net);
}

/* The planner reuses memory: the arena is much smaller than all activations. */
Test(nets, activations_share_the_arena)
{
	struct infd_error e = {0};
	struct infd_net_mobilenet_v2 net;
	cr_assert_eq(infd__net_mobilenet_v2_make(64, 1.0f, 10, 1, &net, &e), INFD_OK, "%s", e.msg);
	struct infd_net_program np;
	cr_assert_eq(infd__net_mobilenet_v2_write(&net, NULL, &np, &e), INFD_OK, "%s", e.msg);
	cr_assert(np.arena_bytes * 3 < np.planned_bytes, "arena %llu bytes, planned tensors %llu",
		  (unsigned long long)np.arena_bytes, (unsigned long long)np.planned_bytes);
	/* a convolution's input and output are live together and cannot overlap */
	for (uint32_t i = 0; i < net.n_convs; i++) {
		const struct infd_net_conv *c = &net.convs[i];
		uint64_t both = 4ull * (c->in_c * c->in_hw * c->in_hw + c->out_c * c->out_hw * c->out_hw);
		cr_assert(np.arena_bytes >= both, "conv %u: %llu bytes live, arena %llu", i, (unsigned long long)both,
			  (unsigned long long)np.arena_bytes);
	}
	infd__net_program_free(&np);
	infd__net_mobilenet_v2_free(&net);
}

/* ---- XNNPACK against the portable kernels --------------------------------------- */

#ifdef INFD_HAVE_XNNPACK
static void compare_xnnpack(const struct infd_net_program *np, const char *what, uint32_t threads)
{
	float *x = make_input(np, 21);
	struct run_result p = run(np, x, false, 1), q = run(np, x, true, threads);
	cr_assert_eq(p.n, q.n);
	assert_plausible(q.out, q.n, what);
	double err = t_rel_l2(q.out, p.out, p.n);
	cr_assert(err < 1e-4, "%s: xnnpack vs portable relative L2 %.3g", what, err);
	/* Every operator of these networks has an XNNPACK graph node (or folds into
	 * one: batch norm into the convolution, the weight permute into the
	 * fully-connected filter), so every kernel call is placed on XNNPACK. */
	cr_assert_eq(q.n_kernels, np->n_instructions);
	cr_assert_eq(q.on_xnnpack, q.n_kernels, "%s: %u of %u kernel calls on xnnpack", what, q.on_xnnpack,
		     q.n_kernels);
	cr_assert_eq(p.on_xnnpack, 0);
	free(p.out), free(q.out), free(x);
}
#define NEED_XNNPACK()
#else
static void compare_xnnpack(const struct infd_net_program *np, const char *what, uint32_t threads)
{
	(void)np, (void)what, (void)threads;
}
#define NEED_XNNPACK() cr_skip_test("the XNNPACK backend is not compiled in (INFD_HAVE_XNNPACK unset)")
#endif

static void mobilenet_xnnpack(const struct infd_net_write_options *o, uint32_t threads)
{
	NEED_XNNPACK();
	struct infd_error e = {0};
	struct infd_net_mobilenet_v2 net;
	cr_assert_eq(infd__net_mobilenet_v2_make(32, 0.5f, 100, 7, &net, &e), INFD_OK, "%s", e.msg);
	struct infd_net_program np;
	cr_assert_eq(infd__net_mobilenet_v2_write(&net, o, &np, &e), INFD_OK, "%s", e.msg);
	compare_xnnpack(&np, "mobilenet_v2", threads);
	infd__net_program_free(&np);
	infd__net_mobilenet_v2_free(&net);
}

static void transformer_xnnpack(const struct infd_net_write_options *o, uint32_t threads)
{
	NEED_XNNPACK();
	struct infd_error e = {0};
	struct infd_net_transformer net;
	cr_assert_eq(infd__net_transformer_make(16, 64, 4, 5, &net, &e), INFD_OK, "%s", e.msg);
	struct infd_net_program np;
	cr_assert_eq(infd__net_transformer_write(&net, o, &np, &e), INFD_OK, "%s", e.msg);
	compare_xnnpack(&np, "transformer", threads);
	infd__net_program_free(&np);
	infd__net_transformer_free(&net);
}

Test(nets, mobilenet_v2_xnnpack_matches_portable)
{
	mobilenet_xnnpack(NULL, 1);
}

Test(nets, mobilenet_v2_xnnpack_two_threads)
{
	mobilenet_xnnpack(NULL, 2);
}

Test(nets, mobilenet_v2_xnnpack_view_copy_linear_op)
{
	struct infd_net_write_options o = {.view_copy = true, .linear_op = true};
	mobilenet_xnnpack(&o, 1);
}

Test(nets, transformer_xnnpack_matches_portable)
{
	transformer_xnnpack(NULL, 1);
}

Test(nets, transformer_xnnpack_two_threads)
{
	transformer_xnnpack(NULL, 2);
}

Test(nets, transformer_xnnpack_view_copy_linear_op)
{
	struct infd_net_write_options o = {.view_copy = true, .linear_op = true};
	transformer_xnnpack(&o, 1);
}
