/* MobileNetV2 and transformer-block programs for tests and benchmarks: the
 * network descriptions (shapes and seeded weights) and the writer that turns one
 * into an ExecuTorch-style program (see nets.h). */
#include "nets.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infd/dtype.h"
#include "runtime/pte_writer.h"

#define F32 INFD_DTYPE_FLOAT32

/* ---- Seeded numbers ------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static float uniform(uint64_t *s, float lo, float hi)
{
	float u = (float)(splitmix(s) >> 40) * (1.0f / 16777216.0f);
	return lo + (hi - lo) * u;
}

void infd__net_fill(float *x, size_t n, uint64_t seed)
{
	uint64_t s = seed;
	for (size_t i = 0; i < n; i++)
		x[i] = uniform(&s, -1.0f, 1.0f);
}

/* n floats, uniform in [lo, hi); NULL when out of memory. */
static float *rand_array(uint64_t *s, size_t n, float lo, float hi)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	if (p)
		for (size_t i = 0; i < n; i++)
			p[i] = uniform(s, lo, hi);
	return p;
}

/* ---- MobileNetV2 description ------------------------------------------------ */

/* torchvision's _make_divisible(v, 8): nearest multiple of 8, never below 8 and
 * never more than 10% under v. */
static uint32_t round_channels(float v)
{
	int32_t nv = (int32_t)(v + 4.0f) / 8 * 8;
	if (nv < 8)
		nv = 8;
	if ((float)nv < 0.9f * v)
		nv += 8;
	return (uint32_t)nv;
}

static bool add_conv(struct infd_net_mobilenet_v2 *net, uint32_t cap, uint64_t *s, uint32_t in_c, uint32_t out_c,
		     uint32_t k, uint32_t stride, uint32_t groups, uint32_t in_hw, bool relu6, int32_t add_from)
{
	if (net->n_convs >= cap)
		return false;
	struct infd_net_conv *c = &net->convs[net->n_convs];
	memset(c, 0, sizeof *c);
	c->in_c = in_c;
	c->out_c = out_c;
	c->kernel = k;
	c->stride = stride;
	c->groups = groups;
	c->in_hw = in_hw;
	c->out_hw = (in_hw + 2 * (k / 2) - k) / stride + 1;
	c->relu6 = relu6;
	c->add_from = add_from;
	uint32_t fan_in = in_c / groups * k * k;
	float bound = sqrtf(6.0f / (float)fan_in); /* keeps the variance steady through ReLU-like layers */
	c->weight = rand_array(s, (size_t)out_c * fan_in, -bound, bound);
	c->bn = malloc(4 * (size_t)out_c * sizeof *c->bn);
	if (!c->weight || !c->bn) {
		free(c->weight);
		free(c->bn);
		return false;
	}
	for (uint32_t o = 0; o < out_c; o++) {
		c->bn[o] = uniform(s, 0.7f, 1.1f);                     /* gamma */
		c->bn[out_c + o] = uniform(s, -0.1f, 0.1f);            /* beta */
		c->bn[2 * out_c + o] = uniform(s, -0.1f, 0.1f);        /* running mean */
		c->bn[3 * out_c + o] = uniform(s, 0.8f, 1.25f);        /* running var */
	}
	net->n_convs++;
	return true;
}

infd_status infd__net_mobilenet_v2_make(uint32_t hw, float width_mult, uint32_t classes, uint64_t seed,
					struct infd_net_mobilenet_v2 *out, struct infd_error *err)
{
	static const uint32_t table[7][4] = {
		/* expansion t, channels c, repeats n, first stride s */
		{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
	};
	memset(out, 0, sizeof *out);
	if (hw < 32 || hw > 4096 || !(width_mult > 0.0f && width_mult <= 4.0f) || classes == 0 || classes > 100000)
		return infd__fail(err, INFD_INVALID_ARGUMENT,
				  "mobilenet_v2: input %u px (32..4096), width %g (0..4], %u classes (1..100000)", hw,
				  (double)width_mult, classes);
	const uint32_t cap = 64;
	out->convs = calloc(cap, sizeof *out->convs);
	if (!out->convs)
		return infd__fail(err, INFD_NO_MEMORY, "mobilenet_v2: out of memory");
	out->batch = 1;
	out->hw = hw;
	out->in_c = 3;
	out->width_mult = width_mult;
	out->bn_eps = 1e-5f;
	uint64_t s = seed;
	uint32_t c = round_channels(32.0f * width_mult), cur_hw = hw;
	bool ok = add_conv(out, cap, &s, 3, c, 3, 2, 1, cur_hw, true, -1);
	cur_hw = ok ? out->convs[0].out_hw : 0;
	for (int b = 0; ok && b < 7; b++) {
		uint32_t oc = round_channels((float)table[b][1] * width_mult);
		for (uint32_t r = 0; ok && r < table[b][2]; r++) {
			uint32_t stride = r == 0 ? table[b][3] : 1;
			uint32_t hidden = (uint32_t)lroundf((float)c * (float)table[b][0]);
			int32_t block_in = (int32_t)out->n_convs - 1;
			bool residual = stride == 1 && c == oc;
			if (table[b][0] != 1)
				ok = add_conv(out, cap, &s, c, hidden, 1, 1, 1, cur_hw, true, -1);
			ok = ok && add_conv(out, cap, &s, hidden, hidden, 3, stride, hidden, cur_hw, true, -1);
			cur_hw = ok ? out->convs[out->n_convs - 1].out_hw : 0;
			ok = ok && add_conv(out, cap, &s, hidden, oc, 1, 1, 1, cur_hw, false, residual ? block_in : -1);
			c = oc;
		}
	}
	out->features = round_channels(1280.0f * (width_mult > 1.0f ? width_mult : 1.0f));
	ok = ok && add_conv(out, cap, &s, c, out->features, 1, 1, 1, cur_hw, true, -1);
	out->classes = classes;
	float bound = 1.0f / sqrtf((float)out->features);
	out->fc_w = ok ? rand_array(&s, (size_t)classes * out->features, -bound, bound) : NULL;
	out->fc_b = out->fc_w ? rand_array(&s, classes, -bound, bound) : NULL;
	if (!out->fc_b) {
		infd__net_mobilenet_v2_free(out);
		return infd__fail(err, INFD_NO_MEMORY, "mobilenet_v2: out of memory");
	}
	return INFD_OK;
}

void infd__net_mobilenet_v2_free(struct infd_net_mobilenet_v2 *net)
{
	if (!net)
		return;
	for (uint32_t i = 0; net->convs && i < net->n_convs; i++) {
		free(net->convs[i].weight);
		free(net->convs[i].bn);
	}
	free(net->convs);
	free(net->fc_w);
	free(net->fc_b);
	memset(net, 0, sizeof *net);
}

double infd__net_mobilenet_v2_flops(const struct infd_net_mobilenet_v2 *net)
{
	double f = 0;
	for (uint32_t i = 0; i < net->n_convs; i++) {
		const struct infd_net_conv *c = &net->convs[i];
		f += 2.0 * net->batch * c->out_c * (double)c->out_hw * c->out_hw * (c->in_c / c->groups) * c->kernel *
		     c->kernel;
	}
	return f + 2.0 * net->batch * net->features * (double)net->classes;
}

/* ---- Transformer description ------------------------------------------------ */

infd_status infd__net_transformer_make(uint32_t seq, uint32_t width, uint32_t heads, uint64_t seed,
				       struct infd_net_transformer *out, struct infd_error *err)
{
	memset(out, 0, sizeof *out);
	if (seq == 0 || seq > 65536 || width == 0 || width > 65536 || heads == 0 || width % heads)
		return infd__fail(err, INFD_INVALID_ARGUMENT,
				  "transformer: seq %u (1..65536), width %u (1..65536), %u heads (must divide width)",
				  seq, width, heads);
	out->seq = seq;
	out->width = width;
	out->heads = heads;
	out->hidden = 4 * width;
	out->ln_eps = 1e-5f;
	uint64_t s = seed;
	size_t ww = (size_t)width * width, wh = (size_t)width * out->hidden;
	float bw = 1.0f / sqrtf((float)width), bh = 1.0f / sqrtf((float)out->hidden);
	float **arrays[] = {&out->wq, &out->bq, &out->wk, &out->bk, &out->wv, &out->bv, &out->wo, &out->bo,
			    &out->ln1_w, &out->ln1_b, &out->w1, &out->b1, &out->w2, &out->b2, &out->ln2_w, &out->ln2_b};
	const size_t sizes[] = {ww, width, ww, width, ww, width, ww, width, width, width, wh, out->hidden, wh, width,
				width, width};
	for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
		float lo = -bw, hi = bw;
		if (arrays[i] == &out->ln1_w || arrays[i] == &out->ln2_w)
			lo = 0.8f, hi = 1.2f;
		else if (arrays[i] == &out->ln1_b || arrays[i] == &out->ln2_b)
			lo = -0.1f, hi = 0.1f;
		else if (arrays[i] == &out->w2 || arrays[i] == &out->b2)
			lo = -bh, hi = bh;
		if (!(*arrays[i] = rand_array(&s, sizes[i], lo, hi))) {
			infd__net_transformer_free(out);
			return infd__fail(err, INFD_NO_MEMORY, "transformer: out of memory");
		}
	}
	return INFD_OK;
}

void infd__net_transformer_free(struct infd_net_transformer *net)
{
	if (!net)
		return;
	float *arrays[] = {net->wq, net->bq, net->wk, net->bk, net->wv, net->bv, net->wo, net->bo,
			   net->ln1_w, net->ln1_b, net->w1, net->b1, net->w2, net->b2, net->ln2_w, net->ln2_b};
	for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
		free(arrays[i]);
	memset(net, 0, sizeof *net);
}

double infd__net_transformer_flops(const struct infd_net_transformer *t)
{
	double s = t->seq, w = t->width;
	return 2.0 * s * w * w * 4 + 2.0 * s * s * w * 2 + 2.0 * s * w * t->hidden * 2;
}

/* ---- Memory plan: first fit with lifetime reuse -------------------------------
 * A slot is a byte range of arena 1 shared by a tensor and the views that alias
 * it; it returns to the free space when its last user releases it. */

struct slot {
	uint64_t off, size;
	uint32_t refs; /* 0: free */
};

struct planner {
	struct slot *slots;
	uint32_t n, cap;
	uint64_t peak;
};

static int by_offset(const void *a, const void *b)
{
	const struct slot *x = *(const struct slot *const *)a, *y = *(const struct slot *const *)b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Lowest 16-byte-aligned offset where `size` bytes fit between the live slots. */
static int32_t plan_alloc(struct planner *p, uint64_t size)
{
	size = (size + 15) & ~(uint64_t)15;
	if (p->n == p->cap) {
		uint32_t cap = p->cap ? 2 * p->cap : 64;
		struct slot *s = realloc(p->slots, cap * sizeof *s);
		if (!s)
			return -1;
		p->slots = s;
		p->cap = cap;
	}
	const struct slot **live = malloc((p->n + 1) * sizeof *live);
	if (!live)
		return -1;
	uint32_t nl = 0;
	for (uint32_t i = 0; i < p->n; i++)
		if (p->slots[i].refs)
			live[nl++] = &p->slots[i];
	qsort(live, nl, sizeof *live, by_offset);
	uint64_t off = 0;
	for (uint32_t i = 0; i < nl; i++) {
		if (live[i]->off >= off + size)
			break;
		uint64_t end = live[i]->off + live[i]->size;
		if (end > off)
			off = end;
	}
	free(live);
	p->slots[p->n] = (struct slot){.off = off, .size = size, .refs = 1};
	if (off + size > p->peak)
		p->peak = off + size;
	return (int32_t)p->n++;
}

/* ---- Program builder ----------------------------------------------------------- */

/* A planned activation: a tensor value, its shape and its slot. */
struct act {
	int32_t v;
	int32_t slot;
	uint32_t rank;
	int32_t sizes[4];
};

struct nb {
	struct infd_pte_writer *w;
	struct infd_pte_method *m;
	struct planner pl;
	struct infd_net_write_options opt;
	bool failed; /* out of memory in the planner */
	uint32_t n_instr;
	uint64_t weight_bytes;
	/* shared scalar values */
	int32_t none, f, t, one, d_momentum, d_eps, d_zero, d_six;
};

static uint64_t numel(uint32_t rank, const int32_t *sizes)
{
	uint64_t n = 1;
	for (uint32_t i = 0; i < rank; i++)
		n *= (uint64_t)sizes[i];
	return n;
}

static int32_t tensor_at(struct nb *b, uint32_t rank, const int32_t *sizes, int32_t slot)
{
	struct infd_pte_tensor t = {.dtype = F32, .rank = rank, .sizes = sizes, .memory_id = 1};
	if (slot >= 0)
		t.memory_offset = b->pl.slots[slot].off;
	return infd__pte_tensor(b->m, &t);
}

static struct act act_new(struct nb *b, uint32_t rank, const int32_t *sizes)
{
	struct act a = {.rank = rank};
	memcpy(a.sizes, sizes, rank * sizeof *sizes);
	a.slot = plan_alloc(&b->pl, numel(rank, sizes) * 4);
	if (a.slot < 0)
		b->failed = true;
	a.v = tensor_at(b, rank, sizes, a.slot);
	return a;
}

static void act_release(struct nb *b, struct act *a)
{
	if (a->slot >= 0 && b->pl.slots[a->slot].refs)
		b->pl.slots[a->slot].refs--;
	a->slot = -1;
}

static int32_t konst(struct nb *b, uint32_t rank, const int32_t *sizes, const float *data)
{
	b->weight_bytes += numel(rank, sizes) * 4;
	return infd__pte_const_tensor(b->m, F32, rank, sizes, data);
}

static void call(struct nb *b, const char *name, const char *overload, uint32_t n, const int32_t *args)
{
	infd__pte_call(b->m, name, overload, n, args);
	b->n_instr++;
}

/* A static reshape of `x` (which stays the caller's to release): a tensor that
 * aliases x's memory, or a view_copy into a new one. */
static struct act view(struct nb *b, const struct act *x, uint32_t rank, const int32_t *sizes)
{
	if (b->opt.view_copy) {
		struct act y = act_new(b, rank, sizes);
		int64_t dims[4];
		for (uint32_t i = 0; i < rank; i++)
			dims[i] = sizes[i];
		int32_t l = infd__pte_int_list(b->m, rank, dims);
		call(b, "aten::view_copy", "out", 4, (const int32_t[]){x->v, l, y.v, y.v});
		return y;
	}
	struct act y = {.rank = rank, .slot = x->slot};
	memcpy(y.sizes, sizes, rank * sizeof *sizes);
	if (y.slot >= 0)
		b->pl.slots[y.slot].refs++;
	y.v = tensor_at(b, rank, sizes, y.slot);
	return y;
}

static struct act permute(struct nb *b, const struct act *x, uint32_t rank, const int64_t *perm)
{
	int32_t sizes[4];
	for (uint32_t i = 0; i < rank; i++)
		sizes[i] = x->sizes[perm[i]];
	struct act y = act_new(b, rank, sizes);
	int32_t l = infd__pte_int_list(b->m, rank, perm);
	call(b, "aten::permute_copy", "out", 4, (const int32_t[]){x->v, l, y.v, y.v});
	return y;
}

/* y[M, N] = x[M, K] Wᵀ + bias, W [N, K] as PyTorch stores it. */
static struct act linear(struct nb *b, const struct act *x, uint32_t n, const float *w, const float *bias)
{
	int32_t k = x->sizes[1], m = x->sizes[0];
	int32_t wv = konst(b, 2, (const int32_t[]){(int32_t)n, k}, w);
	int32_t bv = konst(b, 1, (const int32_t[]){(int32_t)n}, bias);
	struct act y;
	if (b->opt.linear_op) {
		y = act_new(b, 2, (const int32_t[]){m, (int32_t)n});
		call(b, "aten::linear", "out", 5, (const int32_t[]){x->v, wv, bv, y.v, y.v});
		return y;
	}
	/* Wᵀ is computed at run time into a planned tensor, as ExecuTorch's
	 * decomposition of linear (t -> permute_copy) leaves it. */
	struct act wt = act_new(b, 2, (const int32_t[]){k, (int32_t)n});
	int32_t l = infd__pte_int_list(b->m, 2, (const int64_t[]){1, 0});
	call(b, "aten::permute_copy", "out", 4, (const int32_t[]){wv, l, wt.v, wt.v});
	y = act_new(b, 2, (const int32_t[]){m, (int32_t)n});
	call(b, "aten::addmm", "out", 7, (const int32_t[]){bv, x->v, wt.v, b->one, b->one, y.v, y.v});
	act_release(b, &wt);
	return y;
}

static struct act add(struct nb *b, const struct act *x, const struct act *y)
{
	struct act z = act_new(b, x->rank, x->sizes);
	call(b, "aten::add", "out", 5, (const int32_t[]){x->v, y->v, b->one, z.v, z.v});
	return z;
}

static bool builder_begin(struct nb *b, const struct infd_net_write_options *opt)
{
	memset(b, 0, sizeof *b);
	if (opt)
		b->opt = *opt;
	else
		infd__net_write_options_default(&b->opt);
	b->w = infd__pte_writer_create(NULL);
	if (!b->w)
		return false;
	b->m = infd__pte_method(b->w, "forward");
	b->none = infd__pte_null(b->m);
	b->f = infd__pte_bool(b->m, false);
	b->t = infd__pte_bool(b->m, true);
	b->one = infd__pte_int(b->m, 1);
	b->d_momentum = infd__pte_double(b->m, 0.1);
	b->d_zero = infd__pte_double(b->m, 0.0);
	b->d_six = infd__pte_double(b->m, 6.0);
	return true;
}

static infd_status builder_finish(struct nb *b, const struct act *in, const struct act *outp,
				  struct infd_net_program *out, struct infd_error *err)
{
	infd_status st = INFD_OK;
	if (b->failed) {
		st = infd__fail(err, INFD_NO_MEMORY, "nets: out of memory while planning");
		goto out_destroy;
	}
	infd__pte_inputs(b->m, 1, &in->v);
	infd__pte_outputs(b->m, 1, &outp->v);
	infd__pte_arena(b->m, 1, b->pl.peak);
	if ((st = infd__pte_writer_finish(b->w, &out->pte, &out->size, err)))
		goto out_destroy;
	out->in_rank = in->rank;
	memcpy(out->in_sizes, in->sizes, sizeof out->in_sizes);
	out->out_rank = outp->rank;
	memcpy(out->out_sizes, outp->sizes, sizeof out->out_sizes);
	out->n_instructions = b->n_instr;
	out->arena_bytes = b->pl.peak;
	for (uint32_t i = 0; i < b->pl.n; i++)
		out->planned_bytes += b->pl.slots[i].size;
	out->weight_bytes = b->weight_bytes;
out_destroy:
	infd__pte_writer_destroy(b->w);
	free(b->pl.slots);
	return st;
}

void infd__net_write_options_default(struct infd_net_write_options *opt)
{
	memset(opt, 0, sizeof *opt);
}

void infd__net_program_free(struct infd_net_program *p)
{
	if (!p)
		return;
	free(p->pte);
	memset(p, 0, sizeof *p);
}

/* ---- MobileNetV2 program ------------------------------------------------------ */

/* convolution -> _native_batch_norm_legit_no_training -> hardtanh(0, 6) when relu6. */
static struct act conv_bn(struct nb *b, const struct infd_net_conv *c, float eps, const struct act *x)
{
	int32_t n = x->sizes[0], oc = (int32_t)c->out_c, hw = (int32_t)c->out_hw;
	int32_t k = (int32_t)c->kernel, icg = (int32_t)(c->in_c / c->groups);
	int64_t s = c->stride, p = c->kernel / 2;
	int32_t w = konst(b, 4, (const int32_t[]){oc, icg, k, k}, c->weight);
	int32_t stride = infd__pte_int_list(b->m, 2, (const int64_t[]){s, s});
	int32_t pad = infd__pte_int_list(b->m, 2, (const int64_t[]){p, p});
	int32_t dil = infd__pte_int_list(b->m, 2, (const int64_t[]){1, 1});
	int32_t opad = infd__pte_int_list(b->m, 2, (const int64_t[]){0, 0});
	int32_t groups = infd__pte_int(b->m, c->groups);
	const int32_t shape[4] = {n, oc, hw, hw};
	struct act y = act_new(b, 4, shape);
	call(b, "aten::convolution", "out", 11,
	     (const int32_t[]){x->v, w, b->none, stride, pad, dil, b->f, opad, groups, y.v, y.v});

	const int32_t cs[1] = {oc};
	int32_t g = konst(b, 1, cs, c->bn), be = konst(b, 1, cs, c->bn + c->out_c);
	int32_t rm = konst(b, 1, cs, c->bn + 2 * c->out_c), rv = konst(b, 1, cs, c->bn + 3 * c->out_c);
	struct act z = act_new(b, 4, shape);
	/* the saved mean and invstd are empty in inference mode */
	int32_t sm = tensor_at(b, 1, (const int32_t[]){0}, -1), si = tensor_at(b, 1, (const int32_t[]){0}, -1);
	int32_t ret = infd__pte_tensor_list(b->m, 3, (const int32_t[]){z.v, sm, si});
	call(b, "aten::_native_batch_norm_legit_no_training", "out", 11,
	     (const int32_t[]){y.v, g, be, rm, rv, b->d_momentum, b->d_eps, z.v, sm, si, ret});
	act_release(b, &y);
	if (!c->relu6)
		return z;
	struct act r = act_new(b, 4, shape);
	call(b, "aten::hardtanh", "out", 5, (const int32_t[]){z.v, b->d_zero, b->d_six, r.v, r.v});
	act_release(b, &z);
	return r;
}

infd_status infd__net_mobilenet_v2_write(const struct infd_net_mobilenet_v2 *net,
					 const struct infd_net_write_options *opt, struct infd_net_program *out,
					 struct infd_error *err)
{
	memset(out, 0, sizeof *out);
	struct nb b;
	if (!builder_begin(&b, opt))
		return infd__fail(err, INFD_NO_MEMORY, "nets: out of memory");
	b.d_eps = infd__pte_double(b.m, net->bn_eps);
	int32_t hw = (int32_t)net->hw, n = (int32_t)net->batch;
	struct act in = act_new(&b, 4, (const int32_t[]){n, (int32_t)net->in_c, hw, hw});
	struct act *outs = calloc(net->n_convs, sizeof *outs);
	bool *needed = calloc(net->n_convs, sizeof *needed);
	if (!outs || !needed) {
		free(outs);
		free(needed);
		infd__pte_writer_destroy(b.w);
		return infd__fail(err, INFD_NO_MEMORY, "nets: out of memory");
	}
	for (uint32_t i = 0; i < net->n_convs; i++)
		if (net->convs[i].add_from >= 0 && (uint32_t)net->convs[i].add_from < i)
			needed[net->convs[i].add_from] = true;
	/* The input stays live to the end: its slot belongs to the caller. */
	struct act x = in;
	for (uint32_t i = 0; i < net->n_convs; i++) {
		const struct infd_net_conv *c = &net->convs[i];
		struct act y = conv_bn(&b, c, net->bn_eps, &x);
		if (c->add_from >= 0 && (uint32_t)c->add_from < i) {
			struct act *sc = &outs[c->add_from];
			struct act z = add(&b, &y, sc);
			act_release(&b, &y);
			act_release(&b, sc);
			y = z;
		}
		if (i > 0 && !needed[i - 1])
			act_release(&b, &x);
		outs[i] = y;
		x = y;
	}
	free(needed);
	int32_t f = (int32_t)net->features;
	struct act pooled = act_new(&b, 4, (const int32_t[]){n, f, 1, 1});
	int32_t dims = infd__pte_int_list(b.m, 2, (const int64_t[]){2, 3});
	call(&b, "aten::mean", "out", 6, (const int32_t[]){x.v, dims, b.t, b.none, pooled.v, pooled.v});
	act_release(&b, &x);
	struct act flat = view(&b, &pooled, 2, (const int32_t[]){n, f});
	act_release(&b, &pooled);
	struct act logits = linear(&b, &flat, net->classes, net->fc_w, net->fc_b);
	act_release(&b, &flat);
	free(outs);
	return builder_finish(&b, &in, &logits, out, err);
}

/* ---- Transformer program ------------------------------------------------------- */

/* native_layer_norm over the last dim of x [1, S, W]. */
static struct act layer_norm(struct nb *b, const struct act *x, const float *w, const float *bias)
{
	int32_t S = x->sizes[1], W = x->sizes[2];
	const int32_t ws[1] = {W};
	int32_t wv = konst(b, 1, ws, w), bv = konst(b, 1, ws, bias);
	int32_t shape = infd__pte_int_list(b->m, 1, (const int64_t[]){W});
	struct act y = act_new(b, 3, x->sizes);
	struct act mean = act_new(b, 3, (const int32_t[]){1, S, 1});
	struct act rstd = act_new(b, 3, (const int32_t[]){1, S, 1});
	int32_t ret = infd__pte_tensor_list(b->m, 3, (const int32_t[]){y.v, mean.v, rstd.v});
	call(b, "aten::native_layer_norm", "out", 9,
	     (const int32_t[]){x->v, shape, wv, bv, b->d_eps, y.v, mean.v, rstd.v, ret});
	act_release(b, &mean);
	act_release(b, &rstd);
	return y;
}

/* linear on x [1, S, K] (view to [S, K], addmm, view back). */
static struct act linear3(struct nb *b, const struct act *x, uint32_t n, const float *w, const float *bias)
{
	int32_t S = x->sizes[1];
	struct act x2 = view(b, x, 2, (const int32_t[]){S, x->sizes[2]});
	struct act y2 = linear(b, &x2, n, w, bias);
	act_release(b, &x2);
	struct act y = view(b, &y2, 3, (const int32_t[]){1, S, (int32_t)n});
	act_release(b, &y2);
	return y;
}

/* [1, S, W] -> heads [H, S, D] (view [1, S, H, D], permute to [1, H, S, D], view). */
static struct act split_heads(struct nb *b, const struct act *x, int32_t H)
{
	int32_t S = x->sizes[1], D = x->sizes[2] / H;
	struct act v4 = view(b, x, 4, (const int32_t[]){1, S, H, D});
	struct act p = permute(b, &v4, 4, (const int64_t[]){0, 2, 1, 3});
	act_release(b, &v4);
	struct act h = view(b, &p, 3, (const int32_t[]){H, S, D});
	act_release(b, &p);
	return h;
}

infd_status infd__net_transformer_write(const struct infd_net_transformer *net,
					const struct infd_net_write_options *opt, struct infd_net_program *out,
					struct infd_error *err)
{
	memset(out, 0, sizeof *out);
	struct nb b;
	if (!builder_begin(&b, opt))
		return infd__fail(err, INFD_NO_MEMORY, "nets: out of memory");
	b.d_eps = infd__pte_double(b.m, net->ln_eps);
	int32_t S = (int32_t)net->seq, W = (int32_t)net->width, H = (int32_t)net->heads, D = W / H;
	struct act x = act_new(&b, 3, (const int32_t[]){1, S, W});

	struct act q = linear3(&b, &x, net->width, net->wq, net->bq);
	struct act k = linear3(&b, &x, net->width, net->wk, net->bk);
	struct act v = linear3(&b, &x, net->width, net->wv, net->bv);
	struct act qh = split_heads(&b, &q, H);
	act_release(&b, &q);
	struct act kh = split_heads(&b, &k, H);
	act_release(&b, &k);
	struct act vh = split_heads(&b, &v, H);
	act_release(&b, &v);
	/* q kᵀ: k transposed to [H, D, S] for bmm, as matmul with k.transpose(-2, -1) exports */
	struct act kt = permute(&b, &kh, 3, (const int64_t[]){0, 2, 1});
	act_release(&b, &kh);
	struct act sc = act_new(&b, 3, (const int32_t[]){H, S, S});
	call(&b, "aten::bmm", "out", 4, (const int32_t[]){qh.v, kt.v, sc.v, sc.v});
	act_release(&b, &qh);
	act_release(&b, &kt);
	struct act scaled = act_new(&b, 3, sc.sizes);
	int32_t dk = infd__pte_double(b.m, sqrt((double)D));
	call(&b, "aten::div", "Scalar_out", 4, (const int32_t[]){sc.v, dk, scaled.v, scaled.v});
	act_release(&b, &sc);
	struct act prob = act_new(&b, 3, sc.sizes);
	int32_t last = infd__pte_int(b.m, -1);
	call(&b, "aten::_softmax", "out", 5, (const int32_t[]){scaled.v, last, b.f, prob.v, prob.v});
	act_release(&b, &scaled);
	struct act ctx = act_new(&b, 3, (const int32_t[]){H, S, D});
	call(&b, "aten::bmm", "out", 4, (const int32_t[]){prob.v, vh.v, ctx.v, ctx.v});
	act_release(&b, &prob);
	act_release(&b, &vh);
	/* merge heads: [H, S, D] -> [1, H, S, D] -> [1, S, H, D] -> [1, S, W] */
	struct act c4 = view(&b, &ctx, 4, (const int32_t[]){1, H, S, D});
	act_release(&b, &ctx);
	struct act cp = permute(&b, &c4, 4, (const int64_t[]){0, 2, 1, 3});
	act_release(&b, &c4);
	struct act merged = view(&b, &cp, 3, (const int32_t[]){1, S, W});
	act_release(&b, &cp);
	struct act attn = linear3(&b, &merged, net->width, net->wo, net->bo);
	act_release(&b, &merged);
	struct act r1 = add(&b, &x, &attn);
	act_release(&b, &attn);
	struct act x1 = layer_norm(&b, &r1, net->ln1_w, net->ln1_b);
	act_release(&b, &r1);

	struct act h = linear3(&b, &x1, net->hidden, net->w1, net->b1);
	struct act g = act_new(&b, 3, h.sizes);
	int32_t none_str = infd__pte_string(b.m, "none");
	call(&b, "aten::gelu", "out", 4, (const int32_t[]){h.v, none_str, g.v, g.v});
	act_release(&b, &h);
	struct act m2 = linear3(&b, &g, net->width, net->w2, net->b2);
	act_release(&b, &g);
	struct act r2 = add(&b, &x1, &m2);
	act_release(&b, &m2);
	act_release(&b, &x1);
	struct act y = layer_norm(&b, &r2, net->ln2_w, net->ln2_b);
	act_release(&b, &r2);
	return builder_finish(&b, &x, &y, out, err);
}
