/* Lowering ExecuTorch operators onto the XNNPACK backend (backends/xnnpack/lower.c):
 * writer-built programs run on a runtime with the XNNPACK backend and on one with
 * only the portable kernels, outputs compared with a tolerance and placement
 * checked; the lowered graphs are inspected for the folds (BN into convolution,
 * clamps into producers, transposed weights into fully-connected filters) and for
 * layout transposes; real exported networks run on the lowered path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/xnnpack/lower.h"
#include "common.h"
#include "runtime/pte_writer.h"
#include "runtime/runtime.h"
#ifdef INFD_HAVE_XNNPACK
#include "backends/factories.h"
#endif

#define F32 INFD_DTYPE_FLOAT32
#define SH(...) (uint32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)), ((const int32_t[]){__VA_ARGS__})
#define ARGS(...) (uint32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)), ((const int32_t[]){__VA_ARGS__})
#define INTS(p, ...) \
	infd__pte_int_list((p)->m, (uint32_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__})

/* ---- Backend ------------------------------------------------------------------- */


static void add_xnnpack(struct infd_runtime *rt)
{
	struct infd_backend be;
	struct infd_error e = {0};
	cr_assert_eq(infd__backend_xnnpack_create(rt, &be, &e), INFD_OK, "xnnpack backend: %s", e.msg);
	cr_assert_eq(infd__runtime_add_backend(rt, be), INFD_OK);
}

/* ---- Programs -------------------------------------------------------------------- */

struct prog {
	struct infd_pte_writer *w;
	struct infd_pte_method *m;
	uint32_t n_in, n_out;
	int32_t in[8], out[8];
	float lo[8], hi[8]; /* input value range */
	uint32_t seed;
};

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

static float uniform(uint32_t *s, float lo, float hi)
{
	return lo + (hi - lo) * (float)(rnd(s) & 0xffffff) / (float)0xffffff;
}

static struct prog *prog_new(void)
{
	struct prog *p = calloc(1, sizeof *p);
	cr_assert(p);
	p->w = infd__pte_writer_create(NULL);
	cr_assert(p->w);
	p->m = infd__pte_method(p->w, "forward");
	p->seed = 12345;
	return p;
}

static int32_t t_planned(struct prog *p, uint32_t rank, const int32_t *sizes)
{
	return infd__pte_planned(p->m, F32, rank, sizes);
}

static int32_t t_input_range(struct prog *p, float lo, float hi, uint32_t rank, const int32_t *sizes)
{
	int32_t v = t_planned(p, rank, sizes);
	p->lo[p->n_in] = lo;
	p->hi[p->n_in] = hi;
	p->in[p->n_in++] = v;
	return v;
}

static int32_t t_input(struct prog *p, uint32_t rank, const int32_t *sizes)
{
	return t_input_range(p, -1.0f, 1.0f, rank, sizes);
}

/* A constant with values in [lo, hi]. */
static int32_t t_const_range(struct prog *p, float lo, float hi, uint32_t rank, const int32_t *sizes)
{
	size_t n = 1;
	for (uint32_t i = 0; i < rank; i++)
		n *= (size_t)sizes[i];
	float *d = malloc(n * sizeof *d);
	cr_assert(d);
	for (size_t i = 0; i < n; i++)
		d[i] = uniform(&p->seed, lo, hi);
	int32_t v = infd__pte_const_tensor(p->m, F32, rank, sizes, d);
	free(d);
	return v;
}

static int32_t t_const(struct prog *p, uint32_t rank, const int32_t *sizes)
{
	return t_const_range(p, -0.5f, 0.5f, rank, sizes);
}

static void output(struct prog *p, int32_t v)
{
	p->out[p->n_out++] = v;
}

static int32_t I(struct prog *p, int64_t v)
{
	return infd__pte_int(p->m, v);
}

static int32_t D(struct prog *p, double v)
{
	return infd__pte_double(p->m, v);
}

static int32_t B(struct prog *p, bool v)
{
	return infd__pte_bool(p->m, v);
}

static int32_t N(struct prog *p)
{
	return infd__pte_null(p->m);
}

static void call(struct prog *p, const char *name, const char *overload, uint32_t n, const int32_t *args)
{
	infd__pte_call(p->m, name, overload, n, args);
}

static struct infd_program *prog_finish(struct prog *p)
{
	infd__pte_inputs(p->m, p->n_in, p->in);
	infd__pte_outputs(p->m, p->n_out, p->out);
	uint8_t *data = NULL;
	size_t size = 0;
	struct infd_error e = {0};
	cr_assert_eq(infd__pte_writer_finish(p->w, &data, &size, &e), INFD_OK, "writer: %s", e.msg);
	struct infd_program *prog;
	cr_assert_eq(infd__program_open_copy(data, size, &prog, &e), INFD_OK, "reader: %s", e.msg);
	free(data);
	return prog;
}

/* ---- Running ---------------------------------------------------------------------- */

struct result {
	uint32_t n_out;
	float *out[8];
	uint64_t n[8];
	uint32_t n_kernels, on_xnnpack;
	char where[64][16]; /* placement of each instruction of chain 0 */
};

static struct infd_runtime *runtime(bool xnnpack, uint32_t threads)
{
	struct infd_error e = {0};
	struct infd_runtime_options ro;
	infd__runtime_options_default(&ro);
	ro.n_threads = threads;
	struct infd_runtime *rt;
	cr_assert_eq(infd__runtime_create(&ro, &rt, &e), INFD_OK, "%s", e.msg);
	if (xnnpack)
		add_xnnpack(rt);
	return rt;
}

static struct infd_method *load(struct infd_runtime *rt, const struct infd_program *prog, bool xnnpack)
{
	static const char *const dev[] = {"xnnpack"};
	struct infd_method_options mo = {.devices = xnnpack ? dev : NULL, .n_devices = xnnpack ? 1 : 0};
	struct infd_method *m;
	struct infd_error e = {0};
	cr_assert_eq(infd__method_load(rt, prog, "forward", &mo, &m, &e), INFD_OK, "load (%s): %s",
		     xnnpack ? "xnnpack" : "portable", e.msg);
	return m;
}

static struct result run(const struct prog *p, const struct infd_program *prog, bool xnnpack)
{
	struct infd_runtime *rt = runtime(xnnpack, 1);
	struct infd_method *m = load(rt, prog, xnnpack);
	struct infd_error e = {0};
	uint32_t seed = 777;
	for (uint32_t i = 0; i < p->n_in; i++) {
		const struct infd_tensor *t = infd__method_input(m, i)->u.t;
		float *d = malloc(t->nbytes);
		cr_assert(d);
		for (uint64_t k = 0; k < t->numel; k++)
			d[k] = uniform(&seed, p->lo[i], p->hi[i]);
		cr_assert_eq(infd__method_set_input_tensor(m, i, F32, t->rank, t->sizes, d, t->nbytes, &e), INFD_OK, "%s",
			     e.msg);
		free(d);
	}
	cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "execute (%s): %s", xnnpack ? "xnnpack" : "portable", e.msg);
	struct result r = {.n_out = infd__method_n_outputs(m)};
	for (uint32_t i = 0; i < r.n_out; i++) {
		const struct infd_tensor *t = infd__method_output(m, i)->u.t;
		r.n[i] = t->numel;
		r.out[i] = malloc(t->nbytes ? t->nbytes : 1);
		cr_assert(r.out[i]);
		memcpy(r.out[i], t->data, t->nbytes);
	}
	const struct infd_chain_def *ch = &m->def->chains[0];
	for (uint32_t k = 0; k < ch->n_instrs && k < 64; k++) {
		const char *w = infd__method_placement(m, 0, k);
		snprintf(r.where[k], sizeof r.where[k], "%s", w ? w : "-");
		if (ch->instrs[k].kind == INFD_INSTR_KERNEL) {
			r.n_kernels++;
			r.on_xnnpack += w && strcmp(w, "xnnpack") == 0;
		}
	}
	infd__method_free(m);
	infd__runtime_destroy(rt);
	return r;
}

static void result_free(struct result *r)
{
	for (uint32_t i = 0; i < r->n_out; i++)
		free(r->out[i]);
}

/* Outputs agree within 1e-4 relative to the output's scale. */
static void compare(const char *what, const struct result *x, const struct result *ref)
{
	cr_assert_eq(x->n_out, ref->n_out);
	for (uint32_t i = 0; i < ref->n_out; i++) {
		cr_assert_eq(x->n[i], ref->n[i], "%s: output %u sizes differ", what, i);
		double scale = 0;
		for (uint64_t k = 0; k < ref->n[i]; k++)
			scale = fmax(scale, fabs(ref->out[i][k]));
		for (uint64_t k = 0; k < ref->n[i]; k++) {
			double d = fabs((double)x->out[i][k] - ref->out[i][k]);
			cr_assert(d <= 1e-4 * (scale > 1 ? scale : 1) + 1e-4 * fabs(ref->out[i][k]),
				  "%s: output %u element %llu is %.7g on xnnpack, %.7g portable", what, i,
				  (unsigned long long)k, x->out[i][k], ref->out[i][k]);
		}
	}
}

/* Run on both runtimes and compare; every kernel call on xnnpack when `all`.
 * Returns the xnnpack run's placement summary. */
static struct result check(const char *what, struct prog *p, bool all)
{
	struct infd_program *prog = prog_finish(p);
	struct result ref = run(p, prog, false), x = run(p, prog, true);
	compare(what, &x, &ref);
	cr_assert_eq(ref.on_xnnpack, 0);
	if (all)
		cr_assert_eq(x.on_xnnpack, x.n_kernels, "%s: %u of %u kernel calls on xnnpack", what, x.on_xnnpack,
			     x.n_kernels);
	result_free(&ref);
	result_free(&x);
	infd__program_close(prog);
	infd__pte_writer_destroy(p->w);
	free(p);
	return x;
}

/* ---- Looking at the lowered graph ------------------------------------------------- */

struct lowered {
	struct infd_xgraph g;
	uint32_t count[INFD_XOP_COUNT_];
	uint32_t n_ext;
};

/* Lower instructions [first, first + n) of chain 0 of a program as placement
 * would hand them over, and count the node kinds. */
static void lower(struct prog *p, uint32_t first, uint32_t n, struct lowered *out)
{
	struct infd_program *prog = prog_finish(p);
	struct infd_runtime *rt = runtime(false, 1);
	struct infd_method *m = load(rt, prog, false);
	const struct infd_chain_def *ch = &m->def->chains[0];
	if (!n)
		n = ch->n_instrs - first;
	const struct infd_instr_def *instrs[64];
	for (uint32_t k = 0; k < n; k++) {
		instrs[k] = &ch->instrs[first + k];
		cr_assert(infd__xlower_supports(m->def, m->values, instrs[k]), "instruction %u (%s) is not supported",
			  first + k, m->def->operators[instrs[k]->a].key);
	}
	struct infd_partition_desc part = {.method = m->def, .program = prog, .values = m->values, .chain = 0,
					   .first = first, .n_instrs = n, .instrs = instrs};
	struct infd_error e = {0};
	int32_t *ext = NULL;
	memset(out, 0, sizeof *out);
	infd__xgraph_init(&out->g);
	cr_assert_eq(infd__xlower_partition(&part, &out->g, &ext, &e), INFD_OK, "lower: %s", e.msg);
	cr_assert_eq(infd__xgraph_validate(&out->g, &e), INFD_OK, "validate: %s", e.msg);
	for (uint32_t k = 0; k < out->g.n_nodes; k++)
		out->count[out->g.nodes[k].op]++;
	out->n_ext = out->g.n_externals;
	free(ext);
	infd__method_free(m);
	infd__runtime_destroy(rt);
	infd__program_close(prog);
	infd__pte_writer_destroy(p->w);
	free(p);
}

static const struct infd_xnode *find_node(const struct lowered *l, uint8_t op)
{
	for (uint32_t k = 0; k < l->g.n_nodes; k++)
		if (l->g.nodes[k].op == op)
			return &l->g.nodes[k];
	return NULL;
}

/* ---- Convolution, batch norm, clamps ---------------------------------------------- */

/* x [1,3,8,8] -> conv 3x3 -> batch norm -> hardtanh(0, 6) */
static struct prog *conv_bn_relu6(bool conv_out_escapes)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(1, 3, 8, 8));
	int32_t w = t_const(p, SH(8, 3, 3, 3)), b = t_const(p, SH(8));
	int32_t t1 = t_planned(p, SH(1, 8, 8, 8)), t2 = t_planned(p, SH(1, 8, 8, 8)), y = t_planned(p, SH(1, 8, 8, 8));
	int32_t s1 = t_planned(p, SH(0)), s2 = t_planned(p, SH(0));
	call(p, "aten::convolution", "out",
	     ARGS(x, w, b, INTS(p, 1, 1), INTS(p, 1, 1), INTS(p, 1, 1), B(p, false), INTS(p, 0, 0), I(p, 1), t1, t1));
	int32_t gw = t_const_range(p, 0.5f, 1.5f, SH(8)), gb = t_const(p, SH(8));
	int32_t mean = t_const(p, SH(8)), var = t_const_range(p, 0.2f, 2.0f, SH(8));
	int32_t ret = infd__pte_tensor_list(p->m, 3, (const int32_t[]){t2, s1, s2});
	call(p, "aten::_native_batch_norm_legit_no_training", "out",
	     ARGS(t1, gw, gb, mean, var, D(p, 0.1), D(p, 1e-5), t2, s1, s2, ret));
	call(p, "aten::hardtanh", "out", ARGS(t2, D(p, 0.0), D(p, 6.0), y, y));
	output(p, y);
	if (conv_out_escapes)
		output(p, t1);
	return p;
}

Test(xlower, conv_bn_relu6_matches_portable)
{
	check("conv+bn+relu6", conv_bn_relu6(false), true);
	check("conv+bn+relu6, conv output used", conv_bn_relu6(true), true);
}

Test(xlower, conv_bn_relu6_fold_into_one_node)
{
	struct lowered l;
	lower(conv_bn_relu6(false), 0, 0, &l);
	cr_assert_eq(l.count[INFD_XOP_CONV2D], 1);
	cr_assert_eq(l.count[INFD_XOP_MULTIPLY] + l.count[INFD_XOP_ADD] + l.count[INFD_XOP_CLAMP], 0,
		     "batch norm and relu6 should fold into the convolution");
	/* NCHW in, NHWC inside, NCHW out */
	cr_assert_eq(l.count[INFD_XOP_STATIC_TRANSPOSE], 2);
	cr_assert_eq(l.g.n_nodes, 3);
	const struct infd_xnode *c = find_node(&l, INFD_XOP_CONV2D);
	cr_assert_eq(c->out_min, 0.0f);
	cr_assert_eq(c->out_max, 6.0f);
	cr_assert_neq(c->in[2], INFD_XNONE, "the folded shift becomes the bias");
	cr_assert_eq(l.n_ext, 2);
	infd__xgraph_free(&l.g);

	/* the convolution's output is a method output: nothing folds into it */
	lower(conv_bn_relu6(true), 0, 0, &l);
	cr_assert_eq(l.count[INFD_XOP_MULTIPLY], 1);
	cr_assert_eq(l.count[INFD_XOP_ADD], 1);
	c = find_node(&l, INFD_XOP_CONV2D);
	cr_assert(c->out_min == -INFINITY && c->out_max == INFINITY);
	cr_assert_eq(l.n_ext, 3);
	infd__xgraph_free(&l.g);
}

struct conv_case {
	const char *what;
	int32_t n, c, h, w; /* h = 0: 1-d input [n, c, w] */
	int32_t oc, k, stride, pad, dil, groups;
	bool transposed, bias;
	int32_t out_pad;
	uint8_t node;
};

static int32_t conv_out(int32_t in, const struct conv_case *cc)
{
	if (cc->transposed)
		return (in - 1) * cc->stride - 2 * cc->pad + cc->dil * (cc->k - 1) + cc->out_pad + 1;
	return (in + 2 * cc->pad - cc->dil * (cc->k - 1) - 1) / cc->stride + 1;
}

static struct prog *conv_prog(const struct conv_case *cc)
{
	struct prog *p = prog_new();
	bool one_d = cc->h == 0;
	int32_t x = one_d ? t_input(p, SH(cc->n, cc->c, cc->w)) : t_input(p, SH(cc->n, cc->c, cc->h, cc->w));
	int32_t w;
	if (cc->transposed)
		w = one_d ? t_const(p, SH(cc->c, cc->oc / cc->groups, cc->k))
			  : t_const(p, SH(cc->c, cc->oc / cc->groups, cc->k, cc->k));
	else
		w = one_d ? t_const(p, SH(cc->oc, cc->c / cc->groups, cc->k))
			  : t_const(p, SH(cc->oc, cc->c / cc->groups, cc->k, cc->k));
	int32_t b = cc->bias ? t_const(p, SH(cc->oc)) : N(p);
	int32_t oh = conv_out(cc->h, cc), ow = conv_out(cc->w, cc);
	int32_t y = one_d ? t_planned(p, SH(cc->n, cc->oc, ow)) : t_planned(p, SH(cc->n, cc->oc, oh, ow));
	int32_t st = one_d ? INTS(p, cc->stride) : INTS(p, cc->stride, cc->stride);
	int32_t pd = one_d ? INTS(p, cc->pad) : INTS(p, cc->pad, cc->pad);
	int32_t dl = one_d ? INTS(p, cc->dil) : INTS(p, cc->dil, cc->dil);
	int32_t op = one_d ? INTS(p, cc->out_pad) : INTS(p, cc->out_pad, cc->out_pad);
	call(p, "aten::convolution", "out", ARGS(x, w, b, st, pd, dl, B(p, cc->transposed), op, I(p, cc->groups), y, y));
	output(p, y);
	return p;
}

Test(xlower, convolution_variants)
{
	static const struct conv_case cases[] = {
		{"stride 2, dilation 2, no bias", 1, 3, 11, 9, 5, 3, 2, 0, 2, 1, false, false, 0, INFD_XOP_CONV2D},
		{"batch 2, 1x1", 2, 6, 5, 4, 7, 1, 1, 0, 1, 1, false, true, 0, INFD_XOP_CONV2D},
		{"grouped", 1, 4, 7, 7, 6, 3, 1, 1, 1, 2, false, true, 0, INFD_XOP_CONV2D},
		{"depthwise x2", 1, 4, 9, 9, 8, 3, 2, 1, 1, 4, false, true, 0, INFD_XOP_DEPTHWISE_CONV2D},
		{"depthwise x1, 5x5", 1, 5, 8, 8, 5, 5, 1, 2, 1, 5, false, false, 0, INFD_XOP_DEPTHWISE_CONV2D},
		{"1-d", 1, 4, 0, 20, 6, 5, 2, 2, 1, 1, false, true, 0, INFD_XOP_CONV2D},
		{"1-d depthwise", 2, 3, 0, 16, 3, 3, 1, 1, 1, 3, false, true, 0, INFD_XOP_DEPTHWISE_CONV2D},
		{"transposed", 1, 4, 5, 5, 3, 3, 2, 1, 1, 1, true, true, 1, INFD_XOP_DECONV2D},
		{"transposed grouped", 1, 4, 4, 6, 6, 2, 2, 0, 1, 2, true, false, 0, INFD_XOP_DECONV2D},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		check(cases[i].what, conv_prog(&cases[i]), true);
		struct lowered l;
		lower(conv_prog(&cases[i]), 0, 0, &l);
		cr_assert_eq(l.count[cases[i].node], 1, "%s: expected a %s node", cases[i].what,
			     infd__xop_name(cases[i].node));
		infd__xgraph_free(&l.g);
	}
}

Test(xlower, conv_fallbacks)
{
	/* output_padding not below the stride (PyTorch allows it below the
	 * dilation): XNNPACK has no such deconvolution */
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(1, 2, 4, 4)), w = t_const(p, SH(2, 2, 3, 3));
	int32_t y = t_planned(p, SH(1, 2, 15, 15));
	call(p, "aten::convolution", "out",
	     ARGS(x, w, N(p), INTS(p, 2, 2), INTS(p, 0, 0), INTS(p, 3, 3), B(p, true), INTS(p, 2, 2), I(p, 1), y, y));
	output(p, y);
	struct result r = check("deconv, output_padding 2 with stride 2", p, false);
	cr_assert_eq(r.on_xnnpack, 0);
	cr_assert_str_eq(r.where[0], "portable");

	/* weights computed at run time */
	p = prog_new();
	x = t_input(p, SH(1, 2, 5, 5));
	w = t_input(p, SH(3, 2, 3, 3));
	y = t_planned(p, SH(1, 3, 3, 3));
	call(p, "aten::convolution", "out",
	     ARGS(x, w, N(p), INTS(p, 1, 1), INTS(p, 0, 0), INTS(p, 1, 1), B(p, false), INTS(p, 0, 0), I(p, 1), y, y));
	output(p, y);
	r = check("conv with input weights", p, false);
	cr_assert_eq(r.on_xnnpack, 0);
}

static struct prog *batch_norm_prog(uint32_t rank)
{
	struct prog *p = prog_new();
	int32_t x = rank == 4 ? t_input(p, SH(2, 4, 5, 6)) : rank == 3 ? t_input(p, SH(2, 4, 10)) : t_input(p, SH(3, 4));
	int32_t y = rank == 4 ? t_planned(p, SH(2, 4, 5, 6)) : rank == 3 ? t_planned(p, SH(2, 4, 10))
									 : t_planned(p, SH(3, 4));
	int32_t s1 = t_planned(p, SH(0)), s2 = t_planned(p, SH(0));
	int32_t ret = infd__pte_tensor_list(p->m, 3, (const int32_t[]){y, s1, s2});
	call(p, "aten::_native_batch_norm_legit_no_training", "out",
	     ARGS(x, t_const(p, SH(4)), N(p), t_const(p, SH(4)), t_const_range(p, 0.5f, 2.0f, SH(4)), D(p, 0.1),
		  D(p, 1e-3), y, s1, s2, ret));
	output(p, y);
	return p;
}

Test(xlower, batch_norm_alone)
{
	for (uint32_t r = 2; r <= 4; r++) {
		char what[32];
		snprintf(what, sizeof what, "batch norm %u-d", r);
		check(what, batch_norm_prog(r), true);
		struct lowered l;
		lower(batch_norm_prog(r), 0, 0, &l);
		cr_assert_eq(l.count[INFD_XOP_MULTIPLY], 1);
		cr_assert_eq(l.count[INFD_XOP_ADD], 1);
		cr_assert_eq(l.count[INFD_XOP_STATIC_TRANSPOSE], 0, "per-channel constants follow the input's layout");
		infd__xgraph_free(&l.g);
	}
}

/* ---- Elementwise -------------------------------------------------------------------- */

static struct prog *unary_prog(const char *name, float lo, float hi, int extra, double a0, double a1)
{
	struct prog *p = prog_new();
	int32_t x = t_input_range(p, lo, hi, SH(2, 3, 4, 5)), y = t_planned(p, SH(2, 3, 4, 5));
	if (strcmp(name, "aten::gelu") == 0)
		call(p, name, "out", ARGS(x, infd__pte_string(p->m, extra ? "tanh" : "none"), y, y));
	else if (extra == 1)
		call(p, name, "out", ARGS(x, D(p, a0), y, y));
	else if (extra == 2)
		call(p, name, "out", ARGS(x, isnan(a0) ? N(p) : D(p, a0), isnan(a1) ? N(p) : D(p, a1), y, y));
	else if (extra == 3)
		call(p, name, "out", ARGS(x, D(p, a0), I(p, 1), I(p, 1), y, y));
	else
		call(p, name, "out", ARGS(x, y, y));
	output(p, y);
	return p;
}

Test(xlower, unary)
{
	static const struct {
		const char *name;
		float lo, hi;
		int extra;
		double a0, a1;
	} ops[] = {
		{"aten::relu", -1, 1, 0, 0, 0},       {"aten::sigmoid", -4, 4, 0, 0, 0},
		{"aten::tanh", -3, 3, 0, 0, 0},       {"aten::hardswish", -4, 4, 0, 0, 0},
		{"aten::abs", -1, 1, 0, 0, 0},        {"aten::neg", -1, 1, 0, 0, 0},
		{"aten::floor", -3, 3, 0, 0, 0},      {"aten::ceil", -3, 3, 0, 0, 0},
		{"aten::sqrt", 0.1f, 4, 0, 0, 0},     {"aten::rsqrt", 0.1f, 4, 0, 0, 0},
		{"aten::exp", -3, 3, 0, 0, 0},        {"aten::log", 0.1f, 4, 0, 0, 0},
		{"aten::gelu", -3, 3, 0, 0, 0},       {"aten::leaky_relu", -1, 1, 1, 0.05, 0},
		{"aten::elu", -2, 2, 3, 0.7, 0},      {"aten::hardtanh", -2, 2, 1 + 1, -0.5, 0.75},
		{"aten::clamp", -2, 2, 2, -0.25, NAN}, {"aten::clamp", -2, 2, 2, NAN, 0.3},
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		check(ops[i].name, unary_prog(ops[i].name, ops[i].lo, ops[i].hi, ops[i].extra, ops[i].a0, ops[i].a1),
		      true);
}

Test(xlower, binary)
{
	static const struct {
		const char *name, *overload;
		bool alpha, scalar;
	} ops[] = {
		{"aten::add", "out", true, false},         {"aten::sub", "out", true, false},
		{"aten::mul", "out", false, false},        {"aten::div", "out", false, false},
		{"aten::maximum", "out", false, false},    {"aten::minimum", "out", false, false},
		{"aten::add", "Scalar_out", true, true},   {"aten::sub", "Scalar_out", true, true},
		{"aten::mul", "Scalar_out", false, true},  {"aten::div", "Scalar_out", false, true},
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		/* same shapes, a broadcast input, and a broadcast constant */
		for (int form = 0; form < 3; form++) {
			if (ops[i].scalar && form)
				continue;
			struct prog *p = prog_new();
			int32_t x = t_input(p, SH(2, 3, 4, 5)), y = t_planned(p, SH(2, 3, 4, 5));
			int32_t o = form == 0 ? t_input_range(p, 0.5f, 1.5f, SH(2, 3, 4, 5))
				    : form == 1 ? t_input_range(p, 0.5f, 1.5f, SH(4, 1))
						: t_const_range(p, 0.5f, 1.5f, SH(3, 1, 5));
			if (ops[i].scalar)
				o = D(p, 1.75);
			if (ops[i].alpha)
				call(p, ops[i].name, ops[i].overload, ARGS(x, o, D(p, 2.0), y, y));
			else
				call(p, ops[i].name, ops[i].overload, ARGS(x, o, y, y));
			output(p, y);
			char what[64];
			snprintf(what, sizeof what, "%s.%s form %d", ops[i].name, ops[i].overload, form);
			check(what, p, true);
		}
	}
}

/* Elementwise ops on convolution outputs stay channels-last: per-channel
 * constants and lower-rank operands are permuted to match. */
static struct prog *cl_elementwise_prog(void)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(1, 3, 6, 7)), v = t_input(p, SH(7));
	int32_t t1 = t_planned(p, SH(1, 4, 6, 7)), t2 = t_planned(p, SH(1, 4, 6, 7)), t3 = t_planned(p, SH(1, 4, 6, 7));
	int32_t t4 = t_planned(p, SH(1, 4, 6, 7)), y = t_planned(p, SH(1, 4, 6, 7));
	call(p, "aten::convolution", "out",
	     ARGS(x, t_const(p, SH(4, 3, 3, 3)), t_const(p, SH(4)), INTS(p, 1, 1), INTS(p, 1, 1), INTS(p, 1, 1),
		  B(p, false), INTS(p, 0, 0), I(p, 1), t1, t1));
	call(p, "aten::mul", "out", ARGS(t1, t_const(p, SH(1, 4, 1, 1)), t2, t2));
	call(p, "aten::add", "out", ARGS(t2, t_const(p, SH(4, 6, 1)), D(p, 1.0), t3, t3));
	call(p, "aten::sub", "out", ARGS(t3, v, D(p, 0.5), t4, t4));
	call(p, "aten::sigmoid", "out", ARGS(t4, y, y));
	output(p, y);
	return p;
}

Test(xlower, channels_last_elementwise)
{
	check("conv then elementwise", cl_elementwise_prog(), true);
	struct lowered l;
	lower(cl_elementwise_prog(), 0, 0, &l);
	/* the input and the output; the constants are permuted, the vector reshaped */
	cr_assert_eq(l.count[INFD_XOP_STATIC_TRANSPOSE], 2, "got %u transposes", l.count[INFD_XOP_STATIC_TRANSPOSE]);
	infd__xgraph_free(&l.g);
}

/* ---- Matrix products ------------------------------------------------------------------ */

Test(xlower, matmul)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(3, 5, 8)), y = t_planned(p, SH(3, 5, 6));
	call(p, "aten::linear", "out", ARGS(x, t_const(p, SH(6, 8)), t_const(p, SH(6)), y, y));
	output(p, y);
	check("linear 3-d", p, true);

	p = prog_new();
	x = t_input(p, SH(4, 8));
	y = t_planned(p, SH(4, 6));
	call(p, "aten::addmm", "out", ARGS(t_const(p, SH(6)), x, t_const(p, SH(8, 6)), I(p, 1), I(p, 1), y, y));
	output(p, y);
	check("addmm, constant mat2", p, true);

	p = prog_new();
	x = t_input(p, SH(4, 8));
	int32_t b = t_input(p, SH(4, 6));
	y = t_planned(p, SH(4, 6));
	call(p, "aten::addmm", "out", ARGS(b, x, t_const(p, SH(8, 6)), D(p, 1.0), D(p, 1.0), y, y));
	output(p, y);
	check("addmm, run-time bias", p, true);

	p = prog_new();
	x = t_input(p, SH(4, 8));
	int32_t m2 = t_input(p, SH(8, 6));
	y = t_planned(p, SH(4, 6));
	call(p, "aten::mm", "out", ARGS(x, m2, y, y));
	output(p, y);
	check("mm, run-time operands", p, true);

	p = prog_new();
	x = t_input(p, SH(2, 4, 8));
	m2 = t_input(p, SH(2, 8, 3));
	y = t_planned(p, SH(2, 4, 3));
	call(p, "aten::bmm", "out", ARGS(x, m2, y, y));
	output(p, y);
	check("bmm", p, true);

	/* alpha / beta other than 1 stay on the portable kernels */
	p = prog_new();
	x = t_input(p, SH(4, 8));
	y = t_planned(p, SH(4, 6));
	call(p, "aten::addmm", "out", ARGS(t_const(p, SH(6)), x, t_const(p, SH(8, 6)), D(p, 0.5), I(p, 1), y, y));
	output(p, y);
	struct result r = check("addmm beta 0.5", p, false);
	cr_assert_eq(r.on_xnnpack, 0);
}

Test(xlower, mm_constant_and_runtime_operands)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(4, 8)), y = t_planned(p, SH(4, 6));
	call(p, "aten::mm", "out", ARGS(x, t_const(p, SH(8, 6)), y, y));
	output(p, y);
	struct lowered l;
	lower(p, 0, 0, &l);
	const struct infd_xnode *fc = find_node(&l, INFD_XOP_FULLY_CONNECTED);
	cr_assert_not_null(fc, "a constant mat2 is a fully-connected filter");
	cr_assert(fc->flags & INFD_XFLAG_TRANSPOSE_WEIGHTS);
	infd__xgraph_free(&l.g);

	p = prog_new();
	x = t_input(p, SH(4, 8));
	int32_t m2 = t_input(p, SH(8, 6));
	y = t_planned(p, SH(4, 6));
	call(p, "aten::mm", "out", ARGS(x, m2, y, y));
	output(p, y);
	lower(p, 0, 0, &l);
	cr_assert_eq(l.count[INFD_XOP_BATCH_MATMUL], 1);
	cr_assert_eq(l.count[INFD_XOP_FULLY_CONNECTED], 0);
	infd__xgraph_free(&l.g);
}

/* The export pattern of nn.Linear: permute_copy(weight) feeding addmm. */
static struct prog *permute_addmm_prog(void)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(4, 8)), wt = t_planned(p, SH(8, 6)), y = t_planned(p, SH(4, 6));
	call(p, "aten::permute_copy", "out", ARGS(t_const(p, SH(6, 8)), INTS(p, 1, 0), wt, wt));
	call(p, "aten::addmm", "out", ARGS(t_const(p, SH(6)), x, wt, I(p, 1), I(p, 1), y, y));
	output(p, y);
	return p;
}

Test(xlower, permute_addmm_folds)
{
	check("permute + addmm", permute_addmm_prog(), true);
	struct lowered l;
	lower(permute_addmm_prog(), 0, 0, &l);
	cr_assert_eq(l.g.n_nodes, 1, "one fully-connected node, got %u nodes", l.g.n_nodes);
	const struct infd_xnode *fc = find_node(&l, INFD_XOP_FULLY_CONNECTED);
	cr_assert_not_null(fc);
	cr_assert_eq(fc->flags & INFD_XFLAG_TRANSPOSE_WEIGHTS, 0, "the weight is used as stored, [OC, IC]");
	cr_assert_eq(l.g.values[fc->in[1]].dims[0], 6);
	cr_assert_neq(fc->in[2], INFD_XNONE);
	infd__xgraph_free(&l.g);
}

/* ---- Normalization, softmax, pooling, resizing ------------------------------------------- */

Test(xlower, softmax_and_layer_norm)
{
	struct prog *p = prog_new();
	int32_t x = t_input_range(p, -3, 3, SH(2, 5, 16)), y = t_planned(p, SH(2, 5, 16));
	call(p, "aten::_softmax", "out", ARGS(x, I(p, -1), B(p, false), y, y));
	output(p, y);
	check("softmax", p, true);

	p = prog_new();
	x = t_input_range(p, -3, 3, SH(2, 5, 16));
	y = t_planned(p, SH(2, 5, 16));
	int32_t mean = t_planned(p, SH(2, 5, 1)), rstd = t_planned(p, SH(2, 5, 1));
	int32_t ret = infd__pte_tensor_list(p->m, 3, (const int32_t[]){y, mean, rstd});
	call(p, "aten::native_layer_norm", "out",
	     ARGS(x, INTS(p, 16), t_const(p, SH(16)), t_const(p, SH(16)), D(p, 1e-5), y, mean, rstd, ret));
	output(p, y);
	check("layer norm", p, true);

	/* mean used by the caller: stays portable */
	p = prog_new();
	x = t_input_range(p, -3, 3, SH(2, 5, 16));
	y = t_planned(p, SH(2, 5, 16));
	mean = t_planned(p, SH(2, 5, 1));
	rstd = t_planned(p, SH(2, 5, 1));
	ret = infd__pte_tensor_list(p->m, 3, (const int32_t[]){y, mean, rstd});
	call(p, "aten::native_layer_norm", "out", ARGS(x, INTS(p, 16), N(p), N(p), D(p, 1e-5), y, mean, rstd, ret));
	output(p, y);
	output(p, mean);
	struct result r = check("layer norm with its mean used", p, false);
	cr_assert_eq(r.on_xnnpack, 0);

	/* softmax over another dim: portable */
	p = prog_new();
	x = t_input(p, SH(2, 5, 16));
	y = t_planned(p, SH(2, 5, 16));
	call(p, "aten::_softmax", "out", ARGS(x, I(p, 1), B(p, false), y, y));
	output(p, y);
	r = check("softmax dim 1", p, false);
	cr_assert_eq(r.on_xnnpack, 0);
}

static struct prog *pool_prog(int kind, bool flag)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(2, 4, 9, 9)), y;
	switch (kind) {
	case 0: { /* max pool 3x3 s2 p1 */
		y = t_planned(p, SH(2, 4, 5, 5));
		int32_t ind = infd__pte_tensor(p->m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_INT64, .rank = 4,
										   .sizes = (const int32_t[]){2, 4, 5, 5},
										   .memory_id = 2});
		infd__pte_arena(p->m, 2, 2 * 4 * 5 * 5 * 8);
		int32_t ret = infd__pte_tensor_list(p->m, 2, (const int32_t[]){y, ind});
		call(p, "aten::max_pool2d_with_indices", "out",
		     ARGS(x, INTS(p, 3, 3), INTS(p, 2, 2), INTS(p, 1, 1), INTS(p, 1, 1), B(p, flag), y, ind, ret));
		break;
	}
	case 1: /* average 3x3 s2 p1, count_include_pad = flag */
		y = t_planned(p, SH(2, 4, 5, 5));
		call(p, "aten::avg_pool2d", "out",
		     ARGS(x, INTS(p, 3, 3), INTS(p, 2, 2), INTS(p, 1, 1), B(p, false), B(p, flag), N(p), y, y));
		break;
	case 2: /* average 2x2, stride = kernel (empty list), no padding */
		y = t_planned(p, SH(2, 4, 4, 4));
		call(p, "aten::avg_pool2d", "out",
		     ARGS(x, INTS(p, 2, 2), infd__pte_int_list(p->m, 0, NULL), INTS(p, 0, 0), B(p, false), B(p, flag), N(p),
			  y, y));
		break;
	case 3: /* adaptive to 1x1 */
		y = t_planned(p, SH(2, 4, 1, 1));
		call(p, "aten::_adaptive_avg_pool2d", "out", ARGS(x, INTS(p, 1, 1), y, y));
		break;
	case 4: /* adaptive 3x3 (windows of 3) */
		y = t_planned(p, SH(2, 4, 3, 3));
		call(p, "aten::_adaptive_avg_pool2d", "out", ARGS(x, INTS(p, 3, 3), y, y));
		break;
	case 5: /* mean over H, W */
		y = flag ? t_planned(p, SH(2, 4, 1, 1)) : t_planned(p, SH(2, 4));
		call(p, "aten::mean", "out", ARGS(x, INTS(p, -1, -2), B(p, flag), N(p), y, y));
		break;
	case 6: /* bilinear to 14x18, align_corners = flag */
		y = t_planned(p, SH(2, 4, 14, 18));
		call(p, "aten::upsample_bilinear2d", "vec_out", ARGS(x, INTS(p, 14, 18), B(p, flag), N(p), y, y));
		break;
	default: /* bilinear by scale factors 2 */
		y = t_planned(p, SH(2, 4, 18, 18));
		call(p, "aten::upsample_bilinear2d", "vec_out",
		     ARGS(x, N(p), B(p, flag), infd__pte_double_list(p->m, 2, (const double[]){2.0, 2.0}), y, y));
		break;
	}
	output(p, y);
	return p;
}

Test(xlower, pooling_and_resizing)
{
	static const char *names[] = {"max pool", "avg pool", "avg pool 2x2", "adaptive 1x1",
				      "adaptive 3x3", "mean", "bilinear", "bilinear by scale"};
	for (int kind = 0; kind < 8; kind++)
		for (int flag = 0; flag < 2; flag++) {
			char what[64];
			snprintf(what, sizeof what, "%s (%d)", names[kind], flag);
			bool lowered = !(kind == 1 && flag); /* counting padding: portable */
			struct result r = check(what, pool_prog(kind, flag), lowered);
			if (!lowered)
				cr_assert_eq(r.on_xnnpack, 0, "%s must stay portable", what);
		}
}

/* ---- Shape operators ----------------------------------------------------------------- */

/* conv -> permute to NHWC (the channels-last value as it is) -> view; two convs
 * concatenated along channels; a slice, a pad, squeeze/unsqueeze, copies. */
static struct prog *shape_prog(void)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(1, 3, 6, 6));
	int32_t a = t_planned(p, SH(1, 4, 6, 6)), b = t_planned(p, SH(1, 2, 6, 6)), c = t_planned(p, SH(1, 6, 6, 6));
	int32_t s = t_planned(p, SH(1, 6, 3, 6)), pd = t_planned(p, SH(1, 6, 5, 9)), pm = t_planned(p, SH(1, 5, 9, 6));
	int32_t v = t_planned(p, SH(45, 6)), tr = t_planned(p, SH(6, 45)), un = t_planned(p, SH(6, 1, 45));
	int32_t cl = t_planned(p, SH(6, 1, 45)), sq = t_planned(p, SH(6, 45)), to = t_planned(p, SH(6, 45));
	int32_t tt = t_planned(p, SH(45, 6));
	int32_t conv_args[] = {INTS(p, 1, 1), INTS(p, 0, 0), INTS(p, 1, 1), B(p, false), INTS(p, 0, 0), I(p, 1)};
	call(p, "aten::convolution", "out",
	     ARGS(x, t_const(p, SH(4, 3, 1, 1)), N(p), conv_args[0], conv_args[1], conv_args[2], conv_args[3],
		  conv_args[4], conv_args[5], a, a));
	call(p, "aten::convolution", "out",
	     ARGS(x, t_const(p, SH(2, 3, 1, 1)), N(p), conv_args[0], conv_args[1], conv_args[2], conv_args[3],
		  conv_args[4], conv_args[5], b, b));
	call(p, "aten::cat", "out", ARGS(infd__pte_tensor_list(p->m, 2, (const int32_t[]){a, b}), I(p, 1), c, c));
	call(p, "aten::slice_copy", "Tensor_out", ARGS(c, I(p, 2), I(p, 1), I(p, -2), I(p, 1), s, s));
	call(p, "aten::constant_pad_nd", "out", ARGS(s, INTS(p, 1, 2, 2, 0), D(p, 0.5), pd, pd));
	call(p, "aten::permute_copy", "out", ARGS(pd, INTS(p, 0, 2, 3, 1), pm, pm));
	call(p, "aten::view_copy", "out", ARGS(pm, INTS(p, 45, 6), v, v));
	call(p, "aten::transpose_copy", "int_out", ARGS(v, I(p, 0), I(p, 1), tr, tr));
	call(p, "aten::unsqueeze_copy", "out", ARGS(tr, I(p, 1), un, un));
	call(p, "aten::clone", "out", ARGS(un, N(p), cl, cl));
	call(p, "aten::squeeze_copy", "dim_out", ARGS(cl, I(p, 1), sq, sq));
	call(p, "aten::_to_copy", "out", ARGS(sq, B(p, false), N(p), to, to));
	call(p, "aten::t_copy", "out", ARGS(to, tt, tt));
	output(p, tt);
	output(p, cl);
	return p;
}

Test(xlower, shape_operators)
{
	check("shape operators", shape_prog(), true);
	struct lowered l;
	lower(shape_prog(), 0, 0, &l);
	/* the input; the permute to NHWC reuses the channels-last value; the
	 * transpose_copy and t_copy */
	cr_assert_eq(l.count[INFD_XOP_CONCATENATE], 1);
	cr_assert_eq(l.count[INFD_XOP_STATIC_TRANSPOSE], 3, "got %u transposes", l.count[INFD_XOP_STATIC_TRANSPOSE]);
	infd__xgraph_free(&l.g);
}

static struct prog *split_prog(void)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(1, 3, 5, 6)), z = t_input(p, SH(4, 10));
	int32_t c = t_planned(p, SH(1, 6, 5, 6));
	call(p, "aten::convolution", "out",
	     ARGS(x, t_const(p, SH(6, 3, 3, 3)), N(p), INTS(p, 1, 1), INTS(p, 1, 1), INTS(p, 1, 1), B(p, false),
		  INTS(p, 0, 0), I(p, 1), c, c));
	/* channels: 4 + 2 on the channels-last value */
	int32_t a = t_planned(p, SH(1, 4, 5, 6)), b = t_planned(p, SH(1, 2, 5, 6));
	int32_t l1 = infd__pte_tensor_list(p->m, 2, (const int32_t[]){a, b});
	call(p, "aten::split_copy", "Tensor_out", ARGS(c, I(p, 4), I(p, 1), l1, l1));
	/* sizes 3, 3, 4 along the last dim of a plain 2-d value */
	int32_t d = t_planned(p, SH(4, 3)), e = t_planned(p, SH(4, 3)), f = t_planned(p, SH(4, 4));
	int32_t l2 = infd__pte_tensor_list(p->m, 3, (const int32_t[]){d, e, f});
	call(p, "aten::split_with_sizes_copy", "out", ARGS(z, INTS(p, 3, 3, 4), I(p, -1), l2, l2));
	output(p, b);
	output(p, a);
	output(p, f);
	output(p, d);
	return p;
}

Test(xlower, split)
{
	check("split", split_prog(), true);
	struct lowered l;
	lower(split_prog(), 0, 0, &l);
	cr_assert_eq(l.count[INFD_XOP_STATIC_SLICE], 4, "one slice per piece read (e, never read, is pruned)");
	infd__xgraph_free(&l.g);
}

/* out= buffers used in turn: a and b are each written several times; only the
 * last write of the method's output may reach memory, and it must. */
static struct prog *ping_pong_prog(int steps)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(64));
	int32_t a = t_planned(p, SH(64)), b = t_planned(p, SH(64));
	int32_t cur = x;
	for (int k = 0; k < steps; k++) {
		int32_t out = cur == a ? b : a;
		call(p, "aten::add", "out", ARGS(cur, cur, I(p, 1), out, out));
		cur = out;
	}
	output(p, cur);
	return p;
}

Test(xlower, values_written_in_turn)
{
	check("ping-pong 5", ping_pong_prog(5), true);
	check("ping-pong 6", ping_pong_prog(6), true);
	struct lowered l;
	lower(ping_pong_prog(6), 0, 6, &l);
	cr_assert_eq(l.n_ext, 2, "one input and one output, the last write (got %u externals)", l.n_ext);
	infd__xgraph_free(&l.g);
}

/* A view with no instruction (ExecuTorch aliases static reshapes): its tensor
 * shares the memory of the value it views. */
Test(xlower, aliasing_view)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(1, 3, 4, 4));
	infd__pte_arena(p->m, 2, 4 * 4 * 4 * 4);
	int32_t t = infd__pte_tensor(p->m, &(struct infd_pte_tensor){.dtype = F32, .rank = 4,
								       .sizes = (const int32_t[]){1, 4, 4, 4},
								       .memory_id = 2});
	int32_t v = infd__pte_tensor(p->m, &(struct infd_pte_tensor){.dtype = F32, .rank = 2,
								       .sizes = (const int32_t[]){1, 64}, .memory_id = 2});
	int32_t y = t_planned(p, SH(1, 5)), wt = t_planned(p, SH(64, 5));
	call(p, "aten::convolution", "out",
	     ARGS(x, t_const(p, SH(4, 3, 3, 3)), t_const(p, SH(4)), INTS(p, 1, 1), INTS(p, 1, 1), INTS(p, 1, 1),
		  B(p, false), INTS(p, 0, 0), I(p, 1), t, t));
	call(p, "aten::permute_copy", "out", ARGS(t_const(p, SH(5, 64)), INTS(p, 1, 0), wt, wt));
	call(p, "aten::addmm", "out", ARGS(t_const(p, SH(5)), v, wt, I(p, 1), I(p, 1), y, y));
	output(p, y);
	check("view aliasing a convolution output", p, true);

	/* the view read outside the partition: the convolution's output must reach memory */
	p = prog_new();
	x = t_input(p, SH(1, 3, 4, 4));
	infd__pte_arena(p->m, 2, 4 * 4 * 4 * 4);
	t = infd__pte_tensor(p->m, &(struct infd_pte_tensor){.dtype = F32, .rank = 4,
							   .sizes = (const int32_t[]){1, 4, 4, 4}, .memory_id = 2});
	v = infd__pte_tensor(p->m, &(struct infd_pte_tensor){.dtype = F32, .rank = 2,
							   .sizes = (const int32_t[]){4, 16}, .memory_id = 2});
	int32_t r = t_planned(p, SH(1, 4, 4, 4)), e = t_planned(p, SH(4, 16));
	call(p, "aten::convolution", "out",
	     ARGS(x, t_const(p, SH(4, 3, 3, 3)), t_const(p, SH(4)), INTS(p, 1, 1), INTS(p, 1, 1), INTS(p, 1, 1),
		  B(p, false), INTS(p, 0, 0), I(p, 1), t, t));
	call(p, "aten::relu", "out", ARGS(t, r, r));
	call(p, "aten::erf", "out", ARGS(v, e, e));
	output(p, r);
	output(p, e);
	struct result res = check("view read by a portable kernel", p, false);
	cr_assert_str_eq(res.where[0], "xnnpack");
	cr_assert_str_eq(res.where[2], "portable");
}

/* ---- Refusals ---------------------------------------------------------------------------- */

Test(xlower, unsupported_fall_back)
{
	/* tanh-approximated GELU, between lowered operators */
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(2, 8)), a = t_planned(p, SH(2, 8)), b = t_planned(p, SH(2, 8)), y = t_planned(p, SH(2, 8));
	call(p, "aten::sigmoid", "out", ARGS(x, a, a));
	call(p, "aten::gelu", "out", ARGS(a, infd__pte_string(p->m, "tanh"), b, b));
	call(p, "aten::relu", "out", ARGS(b, y, y));
	output(p, y);
	struct result r = check("gelu tanh in the middle", p, false);
	cr_assert_str_eq(r.where[0], "xnnpack");
	cr_assert_str_eq(r.where[1], "portable");
	cr_assert_str_eq(r.where[2], "xnnpack");

	/* an operator the lowering does not know */
	p = prog_new();
	x = t_input(p, SH(3, 4));
	a = t_planned(p, SH(3, 4));
	y = t_planned(p, SH(3, 4));
	call(p, "aten::erf", "out", ARGS(x, a, a));
	call(p, "aten::exp", "out", ARGS(a, y, y));
	output(p, y);
	r = check("erf then exp", p, false);
	cr_assert_str_eq(r.where[0], "portable");
	cr_assert_str_eq(r.where[1], "xnnpack");

	/* non-contiguous dim order, ELU with a scale, a slice with a step */
	p = prog_new();
	x = t_input(p, SH(2, 3, 4, 5));
	int32_t xc = infd__pte_tensor(p->m, &(struct infd_pte_tensor){.dtype = F32, .rank = 4,
									.sizes = (const int32_t[]){2, 3, 4, 5},
									.dim_order = (const uint8_t[]){0, 2, 3, 1},
									.memory_id = 3});
	infd__pte_arena(p->m, 3, 2 * 3 * 4 * 5 * 4);
	call(p, "aten::relu", "out", ARGS(x, xc, xc));
	a = t_planned(p, SH(2, 3, 4, 5));
	call(p, "aten::elu", "out", ARGS(x, D(p, 1.0), D(p, 2.0), I(p, 1), a, a));
	b = t_planned(p, SH(2, 3, 2, 5));
	call(p, "aten::slice_copy", "Tensor_out", ARGS(x, I(p, 2), I(p, 0), I(p, 4), I(p, 2), b, b));
	output(p, a);
	output(p, b);
	r = check("refusals", p, false);
	cr_assert_eq(r.on_xnnpack, 0, "%s %s %s", r.where[0], r.where[1], r.where[2]);
}

/* ---- A MobileNetV2-like chain -------------------------------------------------------------- */

static int32_t conv_bn(struct prog *p, int32_t x, int32_t cin, int32_t cout, int32_t hw, int32_t k, int32_t groups,
		       bool relu6)
{
	int32_t c = t_planned(p, SH(1, cout, hw, hw)), n = t_planned(p, SH(1, cout, hw, hw));
	int32_t s1 = t_planned(p, SH(0)), s2 = t_planned(p, SH(0));
	call(p, "aten::convolution", "out",
	     ARGS(x, t_const(p, SH(cout, cin / groups, k, k)), N(p), INTS(p, 1, 1), INTS(p, k / 2, k / 2), INTS(p, 1, 1),
		  B(p, false), INTS(p, 0, 0), I(p, groups), c, c));
	int32_t ret = infd__pte_tensor_list(p->m, 3, (const int32_t[]){n, s1, s2});
	call(p, "aten::_native_batch_norm_legit_no_training", "out",
	     ARGS(c, t_const_range(p, 0.5f, 1.5f, SH(cout)), t_const(p, SH(cout)), t_const(p, SH(cout)),
		  t_const_range(p, 0.5f, 1.5f, SH(cout)), D(p, 0.1), D(p, 1e-5), n, s1, s2, ret));
	if (!relu6)
		return n;
	int32_t r = t_planned(p, SH(1, cout, hw, hw));
	call(p, "aten::hardtanh", "out", ARGS(n, I(p, 0), I(p, 6), r, r));
	return r;
}

static struct prog *mobilenet_like(void)
{
	struct prog *p = prog_new();
	int32_t x = t_input(p, SH(1, 3, 8, 8));
	int32_t a = conv_bn(p, x, 3, 8, 8, 3, 1, true);
	/* inverted residual: expand, depthwise, project, add */
	int32_t e = conv_bn(p, a, 8, 16, 8, 1, 1, true);
	int32_t d = conv_bn(p, e, 16, 16, 8, 3, 16, true);
	int32_t j = conv_bn(p, d, 16, 8, 8, 1, 1, false);
	int32_t s = t_planned(p, SH(1, 8, 8, 8)), m = t_planned(p, SH(1, 8)), y = t_planned(p, SH(1, 5));
	int32_t wt = t_planned(p, SH(8, 5));
	call(p, "aten::add", "out", ARGS(a, j, I(p, 1), s, s));
	call(p, "aten::mean", "out", ARGS(s, INTS(p, 2, 3), B(p, false), N(p), m, m));
	call(p, "aten::permute_copy", "out", ARGS(t_const(p, SH(5, 8)), INTS(p, 1, 0), wt, wt));
	call(p, "aten::addmm", "out", ARGS(t_const(p, SH(5)), m, wt, I(p, 1), I(p, 1), y, y));
	output(p, y);
	return p;
}

Test(xlower, mobilenet_like_chain)
{
	check("mobilenet-like", mobilenet_like(), true);
	struct lowered l;
	lower(mobilenet_like(), 0, 0, &l);
	cr_assert_eq(l.count[INFD_XOP_STATIC_TRANSPOSE], 1, "one transpose (at the input), got %u",
		     l.count[INFD_XOP_STATIC_TRANSPOSE]);
	cr_assert_eq(l.count[INFD_XOP_CONV2D] + l.count[INFD_XOP_DEPTHWISE_CONV2D], 4);
	cr_assert_eq(l.count[INFD_XOP_DEPTHWISE_CONV2D], 1);
	cr_assert_eq(l.count[INFD_XOP_MULTIPLY] + l.count[INFD_XOP_CLAMP], 0, "batch norms and clamps fold");
	cr_assert_eq(l.count[INFD_XOP_ADD], 1, "the residual add only");
	cr_assert_eq(l.count[INFD_XOP_GLOBAL_AVG_POOL2D], 1);
	cr_assert_eq(l.count[INFD_XOP_FULLY_CONNECTED], 1);
	cr_assert_eq(l.g.n_nodes, 8, "got %u nodes", l.g.n_nodes);
	infd__xgraph_free(&l.g);
}

/* ---- Real networks -------------------------------------------------------------------------- */

/* NAME.pte on the lowered path against NAME.expected0.bin; at least `min_share`
 * of its kernel calls on xnnpack. */
static void run_model(const char *name, double min_share, uint32_t threads)
{
	char rel[128];
	snprintf(rel, sizeof rel, "models/%s.pte", name);
	T_REQUIRE_TESTDATA(pte, rel);
	snprintf(rel, sizeof rel, "models/%s.input0.bin", name);
	T_REQUIRE_TESTDATA(in_path, rel);
	snprintf(rel, sizeof rel, "models/%s.expected0.bin", name);
	T_REQUIRE_TESTDATA(want_path, rel);
	struct infd_error e = {0};
	struct infd_runtime *rt = runtime(true, threads);
	struct infd_program *prog;
	cr_assert_eq(infd__program_open_file(pte, &prog, &e), INFD_OK, "%s", e.msg);
	struct infd_method *m = load(rt, prog, true);
	size_t in_size, want_size;
	uint8_t *input = t_read_file(in_path, &in_size);
	float *want = (float *)t_read_file(want_path, &want_size);
	cr_assert(input && want);
	const struct infd_tensor *in = infd__method_input(m, 0)->u.t;
	for (int run = 0; run < 2; run++) {
		cr_assert_eq(infd__method_set_input_tensor(m, 0, in->dtype, in->rank, in->sizes, input, in_size, &e),
			     INFD_OK, "%s", e.msg);
		cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "%s: %s", name, e.msg);
		const struct infd_tensor *out = infd__method_output(m, 0)->u.t;
		cr_assert_eq(out->nbytes, want_size);
		double err = t_rel_l2(out->data, want, want_size / 4);
		cr_assert(err < 1e-4, "%s (run %d): relative L2 error %.3g", name, run, err);
	}
	uint32_t n = 0, on = 0;
	const struct infd_chain_def *ch = &m->def->chains[0];
	for (uint32_t k = 0; k < ch->n_instrs; k++) {
		if (ch->instrs[k].kind != INFD_INSTR_KERNEL)
			continue;
		const char *w = infd__method_placement(m, 0, k);
		n++;
		on += w && strcmp(w, "xnnpack") == 0;
	}
	cr_assert(n > 0 && (double)on >= min_share * n, "%s: %u of %u kernel calls on xnnpack", name, on, n);
	free(input);
	free(want);
	infd__method_free(m);
	infd__program_close(prog);
	infd__runtime_destroy(rt);
}

Test(xlower, model_cnn_small)
{
	run_model("cnn_small", 1.0, 1); /* every operator lowers */
}

Test(xlower, model_cnn_small_two_threads)
{
	run_model("cnn_small", 1.0, 2);
}

Test(xlower, model_transformer)
{
	run_model("transformer", 0.9, 1); /* split_copy stays portable */
}

Test(xlower, model_audio_conv1d)
{
	run_model("audio_conv1d", 0.9, 1); /* log_softmax stays portable */
}
