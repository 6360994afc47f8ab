/* Lowering ExecuTorch out-variant operator calls into the XNNPACK backend's
 * graph (lower.h). One argument parser serves both supports() and the lowering,
 * so the two always agree. The lowering tracks, for each method value, the graph
 * values that hold it in its own (NCHW) layout and in channels-last form,
 * converts only where an operator needs the other one, and folds what it can:
 * batch norm into the convolution before it, clamps into their producer,
 * transposed constant weights into fully-connected filters. */
#include "backends/xnnpack/lower.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE INFD_XNONE
#define MAXR INFD_XMAX_RANK

/* ---- Operators ------------------------------------------------------------- */

enum lkind {
	K_CONV,
	K_BATCH_NORM,
	K_RELU,
	K_HARDTANH,
	K_CLAMP,
	K_BINARY,        /* self, other tensors (add/sub: alpha) */
	K_BINARY_SCALAR, /* self tensor, other scalar (add/sub: alpha) */
	K_UNARY,
	K_GELU,
	K_LEAKY_RELU,
	K_ELU,
	K_LINEAR,
	K_ADDMM,
	K_MM,
	K_BMM,
	K_SOFTMAX,
	K_MEAN,
	K_MAX_POOL,
	K_AVG_POOL,
	K_ADAPTIVE_POOL,
	K_RESHAPE,
	K_PERMUTE,
	K_TRANSPOSE,
	K_T,
	K_CAT,
	K_SPLIT,
	K_SLICE,
	K_PAD,
	K_UPSAMPLE,
	K_LAYER_NORM,
	K_COPY,
};

struct lop {
	const char *key;
	uint8_t kind;   /* enum lkind */
	uint8_t n_args; /* schema arguments + return slot */
	uint8_t xop;    /* node kind of unary and binary operators */
	uint8_t extra;  /* binary: has alpha; copy: index of the format argument, 0 = none */
};

static const struct lop lops[] = {
	{"aten::convolution.out", K_CONV, 11, 0, 0},
	{"aten::_native_batch_norm_legit_no_training.out", K_BATCH_NORM, 11, 0, 0},
	{"aten::relu.out", K_RELU, 3, 0, 0},
	{"aten::hardtanh.out", K_HARDTANH, 5, 0, 0},
	{"aten::clamp.out", K_CLAMP, 5, 0, 0},
	{"aten::add.out", K_BINARY, 5, INFD_XOP_ADD, 1},
	{"aten::add.Scalar_out", K_BINARY_SCALAR, 5, INFD_XOP_ADD, 1},
	{"aten::sub.out", K_BINARY, 5, INFD_XOP_SUBTRACT, 1},
	{"aten::sub.Scalar_out", K_BINARY_SCALAR, 5, INFD_XOP_SUBTRACT, 1},
	{"aten::mul.out", K_BINARY, 4, INFD_XOP_MULTIPLY, 0},
	{"aten::mul.Scalar_out", K_BINARY_SCALAR, 4, INFD_XOP_MULTIPLY, 0},
	{"aten::div.out", K_BINARY, 4, INFD_XOP_DIVIDE, 0},
	{"aten::div.Scalar_out", K_BINARY_SCALAR, 4, INFD_XOP_DIVIDE, 0},
	{"aten::maximum.out", K_BINARY, 4, INFD_XOP_MAXIMUM, 0},
	{"aten::minimum.out", K_BINARY, 4, INFD_XOP_MINIMUM, 0},
	{"aten::sigmoid.out", K_UNARY, 3, INFD_XOP_SIGMOID, 0},
	{"aten::tanh.out", K_UNARY, 3, INFD_XOP_TANH, 0},
	{"aten::hardswish.out", K_UNARY, 3, INFD_XOP_HARDSWISH, 0},
	{"aten::abs.out", K_UNARY, 3, INFD_XOP_ABS, 0},
	{"aten::neg.out", K_UNARY, 3, INFD_XOP_NEGATE, 0},
	{"aten::floor.out", K_UNARY, 3, INFD_XOP_FLOOR, 0},
	{"aten::ceil.out", K_UNARY, 3, INFD_XOP_CEILING, 0},
	{"aten::sqrt.out", K_UNARY, 3, INFD_XOP_SQUARE_ROOT, 0},
	{"aten::rsqrt.out", K_UNARY, 3, INFD_XOP_RSQRT, 0},
	{"aten::exp.out", K_UNARY, 3, INFD_XOP_EXP, 0},
	{"aten::log.out", K_UNARY, 3, INFD_XOP_LOG, 0},
	{"aten::sin.out", K_UNARY, 3, INFD_XOP_SIN, 0},
	{"aten::cos.out", K_UNARY, 3, INFD_XOP_COS, 0},
	{"aten::gelu.out", K_GELU, 4, INFD_XOP_GELU, 0},
	{"aten::leaky_relu.out", K_LEAKY_RELU, 4, INFD_XOP_LEAKY_RELU, 0},
	{"aten::elu.out", K_ELU, 6, INFD_XOP_ELU, 0},
	{"aten::linear.out", K_LINEAR, 5, 0, 0},
	{"aten::addmm.out", K_ADDMM, 7, 0, 0},
	{"aten::mm.out", K_MM, 4, 0, 0},
	{"aten::bmm.out", K_BMM, 4, 0, 0},
	{"aten::_softmax.out", K_SOFTMAX, 5, 0, 0},
	{"aten::mean.out", K_MEAN, 6, 0, 0},
	{"aten::max_pool2d_with_indices.out", K_MAX_POOL, 9, 0, 0},
	{"aten::avg_pool2d.out", K_AVG_POOL, 9, 0, 0},
	{"aten::_adaptive_avg_pool2d.out", K_ADAPTIVE_POOL, 4, 0, 0},
	{"aten::view_copy.out", K_RESHAPE, 4, 0, 0},
	{"aten::_unsafe_view.out", K_RESHAPE, 4, 0, 0},
	{"aten::squeeze_copy.out", K_RESHAPE, 3, 0, 0},
	{"aten::squeeze_copy.dim_out", K_RESHAPE, 4, 0, 0},
	{"aten::squeeze_copy.dims_out", K_RESHAPE, 4, 0, 0},
	{"aten::unsqueeze_copy.out", K_RESHAPE, 4, 0, 0},
	{"aten::permute_copy.out", K_PERMUTE, 4, 0, 0},
	{"aten::transpose_copy.int_out", K_TRANSPOSE, 5, 0, 0},
	{"aten::t_copy.out", K_T, 3, 0, 0},
	{"aten::cat.out", K_CAT, 4, 0, 0},
	{"aten::split_copy.Tensor_out", K_SPLIT, 5, 0, 0},
	{"aten::split_with_sizes_copy.out", K_SPLIT, 5, 0, 1},
	{"aten::slice_copy.Tensor_out", K_SLICE, 7, 0, 0},
	{"aten::constant_pad_nd.out", K_PAD, 5, 0, 0},
	{"aten::upsample_bilinear2d.vec_out", K_UPSAMPLE, 6, 0, 0},
	{"aten::native_layer_norm.out", K_LAYER_NORM, 9, 0, 0},
	{"aten::clone.out", K_COPY, 4, 0, 1},
	{"aten::_to_copy.out", K_COPY, 5, 0, 2},
	{"dim_order_ops::_clone_dim_order.out", K_COPY, 5, 0, 2},
	{"dim_order_ops::_to_dim_order_copy.out", K_COPY, 5, 0, 2},
};

static const struct lop *find_op(const char *key)
{
	for (size_t i = 0; i < sizeof lops / sizeof lops[0]; i++)
		if (strcmp(lops[i].key, key) == 0)
			return &lops[i];
	return NULL;
}

/* An instruction as the lowering sees it, after every argument was checked. */
struct lcall {
	const struct lop *op;
	int32_t x[INFD_XMAX_INPUTS]; /* tensor operands (value indices), -1 = absent */
	uint32_t n_x;
	int32_t out;                 /* the result; -1 for split */
	int32_t outs[INFD_XMAX_INPUTS + 3]; /* split: the pieces, offset offs[i] along `axis` */
	uint32_t offs[INFD_XMAX_INPUTS + 3], n_outs;
	float lo, hi;   /* clamp bounds */
	float alpha;    /* add/sub alpha, leaky slope, elu alpha */
	float scalar;   /* the Scalar operand of *.Scalar_out */
	double eps;
	bool flag;      /* mean: keepdim; upsample: align_corners */
	uint32_t axis;  /* softmax, cat, slice: the dim (non-negative) */
	uint32_t perm[MAXR];
	uint32_t pre[MAXR], post[MAXR]; /* slice: offsets in pre; pad: both */
	float pad_value;
	uint8_t node; /* conv and pool node kind */
	struct infd_xconv conv;
	struct infd_xpool pool;
};

/* ---- Argument checks --------------------------------------------------------- */

/* A tensor the graph can hold: fp32, static shape, contiguous, 1..6 dims, not empty. */
static const struct infd_tensor *ftensor(const struct infd_evalue *values, int32_t v)
{
	const struct infd_evalue *e = &values[v];
	if (e->kind != INFD_VALUE_TENSOR || !e->u.t)
		return NULL;
	const struct infd_tensor *t = e->u.t;
	if (t->dtype != INFD_DTYPE_FLOAT32 || t->rank == 0 || t->rank > MAXR || t->numel == 0 ||
	    !infd__tensor_is_contiguous(t) || (t->def && t->def->dynamism != INFD_SHAPE_STATIC))
		return NULL;
	return t;
}

static bool is_const(const struct infd_tensor *t)
{
	return t->is_const && t->data;
}

/* A constant fp32 tensor (weights). */
static const struct infd_tensor *ctensor(const struct infd_evalue *values, int32_t v)
{
	const struct infd_tensor *t = ftensor(values, v);
	return t && is_const(t) ? t : NULL;
}

static bool is_null(const struct infd_evalue *values, int32_t v)
{
	return values[v].kind == INFD_VALUE_NULL;
}

static bool get_int(const struct infd_evalue *values, int32_t v, int64_t *out)
{
	if (values[v].kind != INFD_VALUE_INT)
		return false;
	*out = values[v].u.i;
	return true;
}

static bool get_bool(const struct infd_evalue *values, int32_t v, bool *out)
{
	if (values[v].kind != INFD_VALUE_BOOL)
		return false;
	*out = values[v].u.b;
	return true;
}

/* A finite Scalar (Int, Double or Bool) that fits a float. */
static bool get_scalar(const struct infd_evalue *values, int32_t v, float *out)
{
	double d;
	if (!infd__evalue_to_double(&values[v], &d) || !isfinite(d) || fabs(d) > 3.0e38)
		return false;
	*out = (float)d;
	return true;
}

/* Int list: its length, or -1 when the value is not one (or is too long). */
static int get_ints(const struct infd_evalue *values, int32_t v, int64_t *out, int max)
{
	const struct infd_evalue *e = &values[v];
	if (e->kind != INFD_VALUE_INT_LIST || (int)e->u.list.count > max)
		return -1;
	for (uint32_t i = 0; i < e->u.list.count; i++) {
		const struct infd_evalue *it = e->u.list.items[i];
		if (!it || it->kind != INFD_VALUE_INT)
			return -1;
		out[i] = it->u.i;
	}
	return (int)e->u.list.count;
}

/* Normalise a possibly negative dim; false when outside the rank. */
static bool norm_dim(int64_t d, uint32_t rank, uint32_t *out)
{
	if (d < 0)
		d += rank;
	if (d < 0 || d >= (int64_t)rank)
		return false;
	*out = (uint32_t)d;
	return true;
}

static bool same_shape(const struct infd_tensor *a, const struct infd_tensor *b)
{
	if (a->rank != b->rank)
		return false;
	for (uint32_t i = 0; i < a->rank; i++)
		if (a->sizes[i] != b->sizes[i])
			return false;
	return true;
}

static bool mentions(const struct infd_method_def *def, int32_t arg, int32_t v)
{
	if (arg == v)
		return true;
	const struct infd_value_def *vd = &def->values[arg];
	if (vd->kind != INFD_VALUE_TENSOR_LIST && vd->kind != INFD_VALUE_OPT_TENSOR_LIST)
		return false;
	for (uint32_t i = 0; i < vd->u.list.count; i++)
		if (vd->u.list.indices[i] == v)
			return true;
	return false;
}

/* Is value v (a side output such as pooling indices) read by nothing but `self`,
 * and not a method output? */
static bool unused_elsewhere(const struct infd_method_def *def, const struct infd_instr_def *self, int32_t v)
{
	for (uint32_t i = 0; i < def->n_outputs; i++)
		if (def->outputs[i] == v)
			return false;
	for (uint32_t c = 0; c < def->n_chains; c++)
		for (uint32_t k = 0; k < def->chains[c].n_instrs; k++) {
			const struct infd_instr_def *in = &def->chains[c].instrs[k];
			if (in == self)
				continue;
			if (in->kind == INFD_INSTR_KERNEL || in->kind == INFD_INSTR_DELEGATE) {
				for (uint32_t a = 0; a < in->n_args; a++)
					if (mentions(def, in->args[a], v))
						return false;
			} else if ((in->kind == INFD_INSTR_MOVE || in->kind == INFD_INSTR_JUMP_FALSE) && in->a == v) {
				return false;
			}
		}
	return true;
}

/* The single out tensor at argument n-2 with its return slot at n-1. */
static bool single_out(const struct infd_evalue *values, const int32_t *a, uint32_t n, struct lcall *c)
{
	const struct infd_tensor *o = ftensor(values, a[n - 2]);
	if (!o || o->is_const || a[n - 1] != a[n - 2])
		return false;
	c->out = a[n - 2];
	return true;
}

/* Multi-output ops: `n_out` outs before a trailing TensorList naming them; the
 * first is the result, the others must be used by nobody else. */
static bool multi_out(const struct infd_method_def *def, const struct infd_instr_def *in, uint32_t n_out,
		      struct lcall *c)
{
	const int32_t *a = in->args;
	uint32_t n = in->n_args;
	const struct infd_value_def *ret = &def->values[a[n - 1]];
	if (ret->kind != INFD_VALUE_TENSOR_LIST || ret->u.list.count != n_out)
		return false;
	for (uint32_t i = 0; i < n_out; i++) {
		int32_t v = a[n - 1 - n_out + i];
		if (ret->u.list.indices[i] != v || def->values[v].kind != INFD_VALUE_TENSOR)
			return false;
		if (i > 0 && !unused_elsewhere(def, in, v))
			return false;
	}
	c->out = a[n - 1 - n_out];
	return true;
}

/* Spatial parameter lists of convolution and pooling: 1 item (both dims) or
 * `sd` items; `empty_ok` lets an empty list stand for `dflt` (pooling stride). */
static bool spatial(const struct infd_evalue *values, int32_t v, uint32_t sd, bool empty_ok, const uint32_t *dflt,
		    int64_t lo, uint32_t out[2])
{
	int64_t it[2];
	int n = get_ints(values, v, it, 2);
	if (n == 0 && empty_ok) {
		out[0] = dflt[0];
		out[1] = dflt[1];
		return true;
	}
	if (n < 1 || (n != 1 && (uint32_t)n != sd))
		return false;
	for (int i = 0; i < n; i++)
		if (it[i] < lo || it[i] > 1 << 20)
			return false;
	/* one item for 2-d means both dims; the first dim of a 1-d op is the fake H */
	out[0] = sd == 1 ? (uint32_t)lo : (uint32_t)it[0];
	out[1] = (uint32_t)it[n - 1];
	return true;
}

static bool parse_conv(const struct infd_evalue *V, const int32_t *a, struct lcall *c)
{
	const struct infd_tensor *x = ftensor(V, a[0]), *w = ctensor(V, a[1]), *b = NULL, *o;
	bool transposed;
	int64_t groups;
	if (!x || !w || (x->rank != 3 && x->rank != 4) || w->rank != x->rank || !get_bool(V, a[6], &transposed) ||
	    !get_int(V, a[8], &groups) || groups < 1 || groups > x->sizes[1] || !single_out(V, a, 11, c))
		return false;
	if (!is_null(V, a[2]) && !(b = ctensor(V, a[2])))
		return false;
	o = V[c->out].u.t;
	uint32_t sd = x->rank - 2, st[2], pd[2], dl[2], op[2] = {0, 0};
	static const uint32_t ones[2] = {1, 1};
	if (!spatial(V, a[3], sd, false, ones, 1, st) || !spatial(V, a[4], sd, false, ones, 0, pd) ||
	    !spatial(V, a[5], sd, false, ones, 1, dl))
		return false;
	if (sd == 1) { /* 1-d: H is 1 and takes no padding */
		st[0] = dl[0] = 1;
		pd[0] = 0;
	}
	if (transposed && !spatial(V, a[7], sd, false, ones, 0, op))
		return false;
	if (sd == 1)
		op[0] = 0;
	uint32_t C = (uint32_t)x->sizes[1], G = (uint32_t)groups;
	uint32_t H = sd == 2 ? (uint32_t)x->sizes[2] : 1, W = (uint32_t)x->sizes[x->rank - 1];
	uint32_t kh = sd == 2 ? (uint32_t)w->sizes[2] : 1, kw = (uint32_t)w->sizes[w->rank - 1];
	uint32_t OC;
	int64_t oh, ow;
	if (C % G)
		return false;
	if (!transposed) {
		OC = (uint32_t)w->sizes[0];
		if (OC % G || (uint32_t)w->sizes[1] * G != C)
			return false;
		oh = ((int64_t)H + 2 * pd[0] - (int64_t)dl[0] * (kh - 1) - 1) / st[0] + 1;
		ow = ((int64_t)W + 2 * pd[1] - (int64_t)dl[1] * (kw - 1) - 1) / st[1] + 1;
		if ((int64_t)H + 2 * pd[0] < (int64_t)dl[0] * (kh - 1) + 1 ||
		    (int64_t)W + 2 * pd[1] < (int64_t)dl[1] * (kw - 1) + 1)
			return false;
	} else {
		if ((uint32_t)w->sizes[0] != C || op[0] >= st[0] || op[1] >= st[1])
			return false;
		OC = (uint32_t)w->sizes[1] * G;
		oh = ((int64_t)H - 1) * st[0] - 2 * pd[0] + (int64_t)dl[0] * (kh - 1) + op[0] + 1;
		ow = ((int64_t)W - 1) * st[1] - 2 * pd[1] + (int64_t)dl[1] * (kw - 1) + op[1] + 1;
	}
	if (b && (b->rank != 1 || (uint32_t)b->sizes[0] != OC))
		return false;
	if (o->rank != x->rank || o->sizes[0] != x->sizes[0] || (uint32_t)o->sizes[1] != OC ||
	    (sd == 2 && o->sizes[2] != oh) || o->sizes[o->rank - 1] != ow)
		return false;
	c->x[0] = a[0];
	c->x[1] = a[1];
	c->x[2] = b ? a[2] : -1;
	c->n_x = 3;
	struct infd_xconv *k = &c->conv;
	*k = (struct infd_xconv){
		.pad_top = pd[0], .pad_bottom = pd[0], .pad_left = pd[1], .pad_right = pd[1],
		.kernel_h = kh, .kernel_w = kw, .stride_h = st[0], .stride_w = st[1],
		.dilation_h = dl[0], .dilation_w = dl[1], .groups = G, .group_in = C / G, .group_out = OC / G,
		.adjustment_h = op[0], .adjustment_w = op[1],
	};
	if (transposed)
		c->node = INFD_XOP_DECONV2D;
	else if (G > 1 && G == C)
		c->node = INFD_XOP_DEPTHWISE_CONV2D;
	else
		c->node = INFD_XOP_CONV2D;
	return true;
}

static bool per_channel(const struct infd_evalue *V, int32_t v, int32_t C, bool optional)
{
	if (optional && is_null(V, v))
		return true;
	const struct infd_tensor *t = ctensor(V, v);
	return t && t->rank == 1 && t->sizes[0] == C;
}

/* Output size of a pooling window, PyTorch's floor rule. */
static int64_t pool_out(int64_t in, int64_t pad, int64_t k, int64_t s, int64_t d)
{
	int64_t eff = d * (k - 1) + 1;
	if (in + 2 * pad < eff)
		return -1;
	return (in + 2 * pad - eff) / s + 1;
}

static bool parse_pool(const struct infd_evalue *V, const int32_t *a, bool max, struct lcall *c)
{
	const struct infd_tensor *x = ftensor(V, a[0]), *o = V[c->out].u.t;
	uint32_t k[2], s[2], p[2], d[2] = {1, 1};
	static const uint32_t ones[2] = {1, 1};
	bool ceil_mode;
	if (!x || x->rank != 4 || !spatial(V, a[1], 2, false, ones, 1, k) ||
	    !spatial(V, a[2], 2, true, k, 1, s) || !spatial(V, a[3], 2, false, ones, 0, p) ||
	    !get_bool(V, a[max ? 5 : 4], &ceil_mode))
		return false;
	if (max && !spatial(V, a[4], 2, false, ones, 1, d))
		return false;
	if (!max) {
		bool include_pad;
		if (!get_bool(V, a[5], &include_pad) || !is_null(V, a[6]))
			return false;
		/* XNNPACK averages over the window's part inside the input */
		if (include_pad && (p[0] || p[1]))
			return false;
	}
	/* PyTorch's limit, and the graph's: padding below the window */
	if (2 * p[0] > k[0] || 2 * p[1] > k[1] || p[0] >= d[0] * (k[0] - 1) + 1 || p[1] >= d[1] * (k[1] - 1) + 1)
		return false;
	int64_t oh = pool_out(x->sizes[2], p[0], k[0], s[0], d[0]), ow = pool_out(x->sizes[3], p[1], k[1], s[1], d[1]);
	/* ceil_mode only where it gives the floor shape (then the windows agree) */
	if (o->rank != 4 || o->sizes[0] != x->sizes[0] || o->sizes[1] != x->sizes[1] || o->sizes[2] != oh ||
	    o->sizes[3] != ow)
		return false;
	c->x[0] = a[0];
	c->n_x = 1;
	c->node = max ? INFD_XOP_MAX_POOL2D : INFD_XOP_AVG_POOL2D;
	c->pool = (struct infd_xpool){
		.pad_top = p[0], .pad_bottom = p[0], .pad_left = p[1], .pad_right = p[1],
		.pool_h = k[0], .pool_w = k[1], .stride_h = s[0], .stride_w = s[1],
		.dilation_h = d[0], .dilation_w = d[1],
	};
	return true;
}

static bool parse_binary(const struct infd_evalue *V, const int32_t *a, bool scalar, struct lcall *c)
{
	const struct infd_tensor *x = ftensor(V, a[0]), *y = NULL, *o = V[c->out].u.t;
	c->alpha = 1.0f;
	if (!x || (c->op->extra && !get_scalar(V, a[2], &c->alpha)))
		return false;
	c->x[0] = a[0];
	c->n_x = 1;
	if (scalar) {
		if (!get_scalar(V, a[1], &c->scalar))
			return false;
		return same_shape(x, o);
	}
	if (!(y = ftensor(V, a[1])))
		return false;
	c->x[1] = a[1];
	c->n_x = 2;
	/* numpy broadcasting must give exactly the out shape */
	uint32_t r = x->rank > y->rank ? x->rank : y->rank;
	if (o->rank != r)
		return false;
	for (uint32_t i = 0; i < r; i++) {
		int32_t dx = i + x->rank >= r ? x->sizes[i + x->rank - r] : 1;
		int32_t dy = i + y->rank >= r ? y->sizes[i + y->rank - r] : 1;
		if ((dx != dy && dx != 1 && dy != 1) || o->sizes[i] != (dx > dy ? dx : dy))
			return false;
	}
	return true;
}

static bool parse_matmul(const struct infd_evalue *V, const int32_t *a, struct lcall *c)
{
	const struct infd_tensor *o = V[c->out].u.t;
	switch (c->op->kind) {
	case K_LINEAR: {
		const struct infd_tensor *x = ftensor(V, a[0]), *w = ctensor(V, a[1]);
		if (!x || !w || x->rank < 2 || w->rank != 2 || w->sizes[1] != x->sizes[x->rank - 1] ||
		    !per_channel(V, a[2], w->sizes[0], true) || o->rank != x->rank)
			return false;
		for (uint32_t i = 0; i + 1 < x->rank; i++)
			if (o->sizes[i] != x->sizes[i])
				return false;
		if (o->sizes[o->rank - 1] != w->sizes[0])
			return false;
		c->x[0] = a[0];
		c->x[1] = a[1];
		c->x[2] = is_null(V, a[2]) ? -1 : a[2];
		c->n_x = 3;
		return true;
	}
	case K_ADDMM:
	case K_MM: {
		uint32_t k = c->op->kind == K_ADDMM;
		const struct infd_tensor *m1 = ftensor(V, a[k]), *m2 = ftensor(V, a[k + 1]);
		if (!m1 || !m2 || m1->rank != 2 || m2->rank != 2 || m1->sizes[1] != m2->sizes[0] || o->rank != 2 ||
		    o->sizes[0] != m1->sizes[0] || o->sizes[1] != m2->sizes[1])
			return false;
		c->x[0] = -1;
		if (k) {
			float beta, alpha;
			const struct infd_tensor *b = ftensor(V, a[0]);
			if (!b || !get_scalar(V, a[3], &beta) || !get_scalar(V, a[4], &alpha) || beta != 1.0f ||
			    alpha != 1.0f || b->rank > 2)
				return false;
			/* the bias broadcasts to [M, N] */
			for (uint32_t i = 0; i < b->rank; i++) {
				int32_t want = o->sizes[2 - b->rank + i];
				if (b->sizes[i] != want && b->sizes[i] != 1)
					return false;
			}
			c->x[0] = a[0];
		}
		c->x[1] = a[k];
		c->x[2] = a[k + 1];
		c->n_x = 3;
		return true;
	}
	default: { /* bmm */
		const struct infd_tensor *m1 = ftensor(V, a[0]), *m2 = ftensor(V, a[1]);
		if (!m1 || !m2 || m1->rank != 3 || m2->rank != 3 || m1->sizes[0] != m2->sizes[0] ||
		    m1->sizes[2] != m2->sizes[1] || o->rank != 3 || o->sizes[0] != m1->sizes[0] ||
		    o->sizes[1] != m1->sizes[1] || o->sizes[2] != m2->sizes[2])
			return false;
		c->x[0] = a[0];
		c->x[1] = a[1];
		c->n_x = 2;
		return true;
	}
	}
}

/* Shape operators: permute, transpose, cat, slice, pad, reshape, copy. */
static bool parse_shape(const struct infd_method_def *def, const struct infd_evalue *V, const int32_t *a,
			struct lcall *c)
{
	const struct infd_tensor *x = ftensor(V, a[0]), *o = V[c->out].u.t;
	int64_t it[2 * MAXR];
	c->x[0] = a[0];
	c->n_x = 1;
	switch (c->op->kind) {
	case K_RESHAPE:
		return x && x->numel == o->numel;
	case K_COPY: {
		if (!x || !same_shape(x, o))
			return false;
		int32_t f = a[c->op->extra];
		if (is_null(V, f))
			return true;
		if (strstr(c->op->key, "dim_order")) {
			int n = get_ints(V, f, it, MAXR);
			if (n != (int)x->rank)
				return false;
			for (int i = 0; i < n; i++)
				if (it[i] != i)
					return false;
			return true;
		}
		/* memory_format: contiguous (0) or preserve (1) */
		return get_int(V, f, it) && (it[0] == 0 || it[0] == 1);
	}
	case K_PERMUTE:
	case K_TRANSPOSE:
	case K_T: {
		if (!x || x->rank != o->rank)
			return false;
		uint32_t seen = 0;
		for (uint32_t i = 0; i < x->rank; i++)
			c->perm[i] = i;
		if (c->op->kind == K_PERMUTE) {
			if (get_ints(V, a[1], it, MAXR) != (int)x->rank)
				return false;
			for (uint32_t i = 0; i < x->rank; i++)
				if (!norm_dim(it[i], x->rank, &c->perm[i]))
					return false;
		} else if (c->op->kind == K_TRANSPOSE) {
			uint32_t d0, d1;
			if (!get_int(V, a[1], &it[0]) || !get_int(V, a[2], &it[1]) || !norm_dim(it[0], x->rank, &d0) ||
			    !norm_dim(it[1], x->rank, &d1))
				return false;
			c->perm[d0] = d1;
			c->perm[d1] = d0;
		} else if (x->rank == 2) {
			c->perm[0] = 1;
			c->perm[1] = 0;
		}
		for (uint32_t i = 0; i < x->rank; i++) {
			if (seen & (1u << c->perm[i]) || o->sizes[i] != x->sizes[c->perm[i]])
				return false;
			seen |= 1u << c->perm[i];
		}
		return true;
	}
	case K_CAT: {
		const struct infd_value_def *l = &def->values[a[0]];
		if (l->kind != INFD_VALUE_TENSOR_LIST || l->u.list.count < 1 || l->u.list.count > INFD_XMAX_INPUTS ||
		    !get_int(V, a[1], &it[0]) || !norm_dim(it[0], o->rank, &c->axis))
			return false;
		int64_t sum = 0;
		c->n_x = l->u.list.count;
		for (uint32_t i = 0; i < c->n_x; i++) {
			const struct infd_tensor *t = ftensor(V, l->u.list.indices[i]);
			if (!t || t->rank != o->rank)
				return false;
			for (uint32_t d = 0; d < o->rank; d++)
				if (d != c->axis && t->sizes[d] != o->sizes[d])
					return false;
			sum += t->sizes[c->axis];
			c->x[i] = l->u.list.indices[i];
		}
		return sum == o->sizes[c->axis];
	}
	case K_SLICE: {
		int64_t start = 0, end = INT64_MAX, step;
		if (!x || x->rank != o->rank || !get_int(V, a[1], &it[0]) || !norm_dim(it[0], x->rank, &c->axis) ||
		    (!is_null(V, a[2]) && !get_int(V, a[2], &start)) || (!is_null(V, a[3]) && !get_int(V, a[3], &end)) ||
		    !get_int(V, a[4], &step) || step != 1)
			return false;
		int64_t n = x->sizes[c->axis];
		start = start < 0 ? start + n : start;
		end = end < 0 ? end + n : end;
		start = start < 0 ? 0 : start > n ? n : start;
		end = end < start ? start : end > n ? n : end;
		for (uint32_t d = 0; d < x->rank; d++) {
			int64_t want = d == c->axis ? end - start : x->sizes[d];
			if (o->sizes[d] != want)
				return false;
			c->pre[d] = d == c->axis ? (uint32_t)start : 0;
		}
		return true;
	}
	case K_PAD: {
		int n = x ? get_ints(V, a[1], it, 2 * MAXR) : -1;
		if (n < 0 || n % 2 || n / 2 > (int)x->rank || x->rank != o->rank || !get_scalar(V, a[2], &c->pad_value))
			return false;
		for (uint32_t d = 0; d < x->rank; d++)
			c->pre[d] = c->post[d] = 0;
		for (int i = 0; i < n / 2; i++) {
			if (it[2 * i] < 0 || it[2 * i + 1] < 0 || it[2 * i] > 1 << 24 || it[2 * i + 1] > 1 << 24)
				return false;
			uint32_t d = x->rank - 1 - (uint32_t)i;
			c->pre[d] = (uint32_t)it[2 * i];
			c->post[d] = (uint32_t)it[2 * i + 1];
		}
		for (uint32_t d = 0; d < x->rank; d++)
			if ((int64_t)o->sizes[d] != (int64_t)x->sizes[d] + c->pre[d] + c->post[d])
				return false;
		return true;
	}
	default:
		return false;
	}
}

/* split_copy / split_with_sizes_copy: [self, split_size(s), dim, out list, ret list] */
static bool parse_split(const struct infd_method_def *def, const struct infd_evalue *V, const int32_t *a,
			struct lcall *c)
{
	const struct infd_tensor *x = ftensor(V, a[0]);
	const struct infd_value_def *l = &def->values[a[3]], *r = &def->values[a[4]];
	int64_t sizes[INFD_XMAX_INPUTS + 3], d;
	uint32_t n = l->u.list.count;
	c->out = -1;
	if (!x || l->kind != INFD_VALUE_TENSOR_LIST || n < 1 || n > INFD_XMAX_INPUTS + 3 || !get_int(V, a[2], &d) ||
	    !norm_dim(d, x->rank, &c->axis) || r->kind != INFD_VALUE_TENSOR_LIST || r->u.list.count != n)
		return false;
	if (c->op->extra) {
		if (get_ints(V, a[1], sizes, INFD_XMAX_INPUTS + 3) != (int)n)
			return false;
	} else {
		int64_t s;
		if (!get_int(V, a[1], &s) || s < 1)
			return false;
		for (uint32_t i = 0; i < n; i++)
			sizes[i] = s;
		sizes[n - 1] = x->sizes[c->axis] - s * (n - 1);
	}
	int64_t off = 0;
	for (uint32_t i = 0; i < n; i++) {
		int32_t v = l->u.list.indices[i];
		const struct infd_tensor *o = v >= 0 ? ftensor(V, v) : NULL;
		if (r->u.list.indices[i] != v || !o || o->is_const || o->rank != x->rank || sizes[i] < 1)
			return false;
		for (uint32_t k = 0; k < x->rank; k++)
			if (o->sizes[k] != (k == c->axis ? sizes[i] : x->sizes[k]))
				return false;
		c->outs[i] = v;
		c->offs[i] = (uint32_t)off;
		off += sizes[i];
	}
	c->n_outs = n;
	c->x[0] = a[0];
	c->n_x = 1;
	return off == x->sizes[c->axis];
}

/* Everything else that reads one tensor. */
static bool parse_misc(const struct infd_method_def *def, const struct infd_evalue *V, const struct infd_instr_def *in,
		       struct lcall *c)
{
	const int32_t *a = in->args;
	const struct infd_tensor *x = ftensor(V, a[0]), *o;
	int64_t it[MAXR];
	if (!x)
		return false;
	c->x[0] = a[0];
	c->n_x = 1;
	switch (c->op->kind) {
	case K_BATCH_NORM: {
		if (!multi_out(def, in, 3, c) || !ftensor(V, c->out) || x->rank < 2 || x->rank > 4 ||
		    !same_shape(x, V[c->out].u.t) || !per_channel(V, a[1], x->sizes[1], true) ||
		    !per_channel(V, a[2], x->sizes[1], true) || !per_channel(V, a[3], x->sizes[1], false) ||
		    !per_channel(V, a[4], x->sizes[1], false) || V[a[5]].kind != INFD_VALUE_DOUBLE ||
		    V[a[6]].kind != INFD_VALUE_DOUBLE || V[c->out].u.t->is_const)
			return false;
		c->eps = V[a[6]].u.d;
		if (!(c->eps >= 0) || !isfinite(c->eps))
			return false;
		for (int i = 1; i < 5; i++)
			c->x[i] = is_null(V, a[i]) ? -1 : a[i];
		c->n_x = 5;
		return true;
	}
	case K_LAYER_NORM: {
		if (!multi_out(def, in, 3, c) || !ftensor(V, c->out) || V[c->out].u.t->is_const ||
		    !same_shape(x, V[c->out].u.t) || get_ints(V, a[1], it, MAXR) != 1 ||
		    it[0] != x->sizes[x->rank - 1] || V[a[4]].kind != INFD_VALUE_DOUBLE)
			return false;
		c->eps = V[a[4]].u.d;
		if (!(c->eps >= 0) || !isfinite(c->eps))
			return false;
		for (int i = 2; i < 4; i++) {
			const struct infd_tensor *t = is_null(V, a[i]) ? NULL : ftensor(V, a[i]);
			if (!is_null(V, a[i]) && (!t || t->numel != (uint64_t)it[0]))
				return false;
			c->x[i - 1] = t ? a[i] : -1;
		}
		c->n_x = 3;
		return true;
	}
	case K_MAX_POOL:
		if (!multi_out(def, in, 2, c) || !ftensor(V, c->out) || V[c->out].u.t->is_const)
			return false;
		return parse_pool(V, a, true, c);
	default:
		break;
	}
	if (!single_out(V, a, in->n_args, c))
		return false;
	o = V[c->out].u.t;
	c->lo = -INFINITY;
	c->hi = INFINITY;
	switch (c->op->kind) {
	case K_RELU:
		c->lo = 0.0f;
		return same_shape(x, o);
	case K_HARDTANH:
		return get_scalar(V, a[1], &c->lo) && get_scalar(V, a[2], &c->hi) && c->lo <= c->hi && same_shape(x, o);
	case K_CLAMP:
		if ((!is_null(V, a[1]) && !get_scalar(V, a[1], &c->lo)) || (!is_null(V, a[2]) && !get_scalar(V, a[2], &c->hi)))
			return false;
		return c->lo <= c->hi && same_shape(x, o);
	case K_UNARY:
		return same_shape(x, o);
	case K_GELU:
		/* our GELU is the exact (erf) one */
		return V[a[1]].kind == INFD_VALUE_STRING && V[a[1]].u.str.len == 4 &&
		       memcmp(V[a[1]].u.str.ptr, "none", 4) == 0 && same_shape(x, o);
	case K_LEAKY_RELU:
		return get_scalar(V, a[1], &c->alpha) && same_shape(x, o);
	case K_ELU: {
		float scale, input_scale;
		return get_scalar(V, a[1], &c->alpha) && get_scalar(V, a[2], &scale) && get_scalar(V, a[3], &input_scale) &&
		       scale == 1.0f && input_scale == 1.0f && same_shape(x, o);
	}
	case K_SOFTMAX: {
		bool half;
		return get_int(V, a[1], &it[0]) && norm_dim(it[0], x->rank, &c->axis) && c->axis == (uint32_t)x->rank - 1 &&
		       get_bool(V, a[2], &half) && !half && same_shape(x, o);
	}
	case K_MEAN: {
		int n = get_ints(V, a[1], it, MAXR);
		uint32_t seen = 0, d;
		if ((x->rank != 3 && x->rank != 4) || n != (int)x->rank - 2 || !get_bool(V, a[2], &c->flag) ||
		    (!is_null(V, a[3]) && !(get_int(V, a[3], &it[MAXR - 1]) && it[MAXR - 1] == INFD_DTYPE_FLOAT32)))
			return false;
		for (int i = 0; i < n; i++) {
			if (!norm_dim(it[i], x->rank, &d) || d < 2)
				return false;
			seen |= 1u << d;
		}
		if (seen != (x->rank == 4 ? 0xcu : 0x4u))
			return false;
		if (c->flag)
			return o->rank == x->rank && o->sizes[0] == x->sizes[0] && o->sizes[1] == x->sizes[1] &&
			       o->sizes[2] == 1 && (x->rank == 3 || o->sizes[3] == 1);
		return o->rank == 2 && o->sizes[0] == x->sizes[0] && o->sizes[1] == x->sizes[1];
	}
	case K_AVG_POOL:
		return parse_pool(V, a, false, c);
	case K_ADAPTIVE_POOL: {
		if (x->rank != 4 || get_ints(V, a[1], it, 2) != 2 || o->rank != 4 || o->sizes[0] != x->sizes[0] ||
		    o->sizes[1] != x->sizes[1] || o->sizes[2] != it[0] || o->sizes[3] != it[1] || it[0] < 1 || it[1] < 1)
			return false;
		if (it[0] == 1 && it[1] == 1) {
			c->node = INFD_XOP_GLOBAL_AVG_POOL2D;
			return true;
		}
		/* windows of one size exactly where the output divides the input */
		if (x->sizes[2] % it[0] || x->sizes[3] % it[1])
			return false;
		uint32_t kh = (uint32_t)(x->sizes[2] / it[0]), kw = (uint32_t)(x->sizes[3] / it[1]);
		c->node = INFD_XOP_AVG_POOL2D;
		c->pool = (struct infd_xpool){.pool_h = kh, .pool_w = kw, .stride_h = kh, .stride_w = kw,
					      .dilation_h = 1, .dilation_w = 1};
		return true;
	}
	case K_UPSAMPLE: {
		const struct infd_evalue *sf = &V[a[3]];
		if (x->rank != 4 || o->rank != 4 || o->sizes[0] != x->sizes[0] || o->sizes[1] != x->sizes[1] ||
		    !get_bool(V, a[2], &c->flag))
			return false;
		if (!is_null(V, a[1])) {
			if (sf->kind != INFD_VALUE_NULL || get_ints(V, a[1], it, 2) != 2 || it[0] != o->sizes[2] ||
			    it[1] != o->sizes[3])
				return false;
		} else {
			/* scale factors: only where they are exactly out / in (the kernels then agree) */
			if (sf->kind != INFD_VALUE_DOUBLE_LIST || sf->u.dlist.count != 2 || !sf->u.dlist.v)
				return false;
			for (int i = 0; i < 2; i++)
				if ((double)x->sizes[2 + i] * sf->u.dlist.v[i] != (double)o->sizes[2 + i])
					return false;
		}
		return true;
	}
	default:
		return false;
	}
}

/* Check instruction `in` and fill `c`; false when it cannot be lowered. */
static bool parse(const struct infd_method_def *def, const struct infd_evalue *V, const struct infd_instr_def *in,
		  struct lcall *c)
{
	if (in->kind != INFD_INSTR_KERNEL || in->a < 0 || (uint32_t)in->a >= def->n_operators)
		return false;
	memset(c, 0, sizeof *c);
	for (int i = 0; i < INFD_XMAX_INPUTS; i++)
		c->x[i] = -1;
	c->op = find_op(def->operators[in->a].key);
	if (!c->op || in->n_args != c->op->n_args)
		return false;
	const int32_t *a = in->args;
	switch (c->op->kind) {
	case K_CONV:
		return parse_conv(V, a, c);
	case K_BINARY:
	case K_BINARY_SCALAR:
		return single_out(V, a, in->n_args, c) && parse_binary(V, a, c->op->kind == K_BINARY_SCALAR, c);
	case K_LINEAR:
	case K_ADDMM:
	case K_MM:
	case K_BMM:
		return single_out(V, a, in->n_args, c) && parse_matmul(V, a, c);
	case K_SPLIT:
		return parse_split(def, V, a, c);
	case K_RESHAPE:
	case K_COPY:
	case K_PERMUTE:
	case K_TRANSPOSE:
	case K_T:
	case K_CAT:
	case K_SLICE:
	case K_PAD:
		return single_out(V, a, in->n_args, c) && parse_shape(def, V, a, c);
	default:
		return parse_misc(def, V, in, c);
	}
}

bool infd__xlower_supports(const struct infd_method_def *def, const struct infd_evalue *values,
			   const struct infd_instr_def *in)
{
	struct lcall c;
	return parse(def, values, in, &c);
}

/* ---- Lowering state ---------------------------------------------------------------- */

/* What the graph holds of one method value. */
struct form {
	uint32_t plain; /* graph value in the tensor's own shape and layout */
	uint32_t cl;    /* channels-last graph value of a 3-d or 4-d tensor: [N,H,W,C], or [N,1,L,C] */
	int32_t tsrc;   /* the value is the transpose of this 2-d constant (not built unless needed) */
	uint32_t reads; /* operand slots of the partition's instructions that read it */
	bool written;   /* an instruction of the partition writes it */
	bool escapes;   /* needed after the partition (or aliased by a view) */
	bool emitted;   /* already bound as an external output */
};

struct low {
	const struct infd_partition_desc *part;
	const struct infd_method_def *def;
	const struct infd_evalue *V;
	struct infd_xgraph *g;
	struct infd_error *err;
	struct form *f;
	bool *view_like; /* tensors no instruction writes, that the method reads: views of others */
	int32_t *views;  /* the view_like values, listed */
	uint32_t n_views;
	uint32_t cur;    /* chain index of the instruction being lowered */
	int32_t *ext;
	uint32_t n_ext, cap_ext;
	int32_t *written; /* values written so far, in order */
	uint32_t n_written;
};

static const struct infd_tensor *T(const struct low *L, int32_t v)
{
	return L->V[v].u.t;
}

static void tensor_dims(const struct infd_tensor *t, uint32_t *d)
{
	for (uint32_t i = 0; i < t->rank; i++)
		d[i] = (uint32_t)t->sizes[i];
}

/* Channels-last dims of a 3-d [N,C,L] or 4-d [N,C,H,W] shape: 4 entries. */
static void cl_dims(uint32_t rank, const uint32_t *d, uint32_t *o)
{
	if (rank == 4) {
		o[0] = d[0], o[1] = d[2], o[2] = d[3], o[3] = d[1];
	} else {
		o[0] = d[0], o[1] = 1, o[2] = d[2], o[3] = d[1];
	}
}

/* Both layouts have the same memory order (one channel, or one position). */
static bool cl_trivial(uint32_t rank, const uint32_t *d)
{
	uint64_t sp = rank == 4 ? (uint64_t)d[2] * d[3] : d[2];
	return d[1] == 1 || sp == 1;
}

static infd_status new_value(struct low *L, uint32_t rank, const uint32_t *dims, const void *data, bool owned,
			     uint32_t *id)
{
	struct infd_xvalue v = {.dtype = INFD_XDT_FP32, .rank = (uint8_t)rank, .external = NONE, .data = data,
				.owned = owned};
	memcpy(v.dims, dims, rank * sizeof dims[0]);
	infd_status st = infd__xgraph_add_value(L->g, &v, id, L->err);
	if (st && owned)
		free((void *)data);
	return st;
}

static struct infd_xnode node_of(uint8_t op)
{
	struct infd_xnode n = {.op = op, .out_min = -INFINITY, .out_max = INFINITY};
	for (int i = 0; i < INFD_XMAX_INPUTS; i++)
		n.in[i] = NONE;
	return n;
}

/* Add node `n` writing a new value of the given dims; its id in *out. */
static infd_status emit(struct low *L, struct infd_xnode *n, uint32_t rank, const uint32_t *dims, uint32_t *out)
{
	infd_status st = new_value(L, rank, dims, NULL, false, &n->out[0]);
	if (st == INFD_OK)
		st = infd__xgraph_add_node(L->g, n, L->err);
	if (st == INFD_OK)
		*out = n->out[0];
	return st;
}

static infd_status unary(struct low *L, uint8_t op, uint32_t in, uint32_t *out)
{
	struct infd_xnode n = node_of(op);
	n.n_in = 1;
	n.in[0] = in;
	const struct infd_xvalue *x = &L->g->values[in];
	uint32_t dims[MAXR];
	memcpy(dims, x->dims, sizeof dims);
	return emit(L, &n, x->rank, dims, out);
}

/* The node writing graph value id, or NULL. */
static const struct infd_xnode *producer(const struct low *L, uint32_t id)
{
	for (uint32_t k = L->g->n_nodes; k-- > 0;)
		if (L->g->nodes[k].out[0] == id)
			return &L->g->nodes[k];
	return NULL;
}

static infd_status reshape(struct low *L, uint32_t in, uint32_t rank, const uint32_t *dims, uint32_t *out)
{
	/* a reshape of a reshape reads the first one's input */
	const struct infd_xnode *pr = producer(L, in);
	if (pr && pr->op == INFD_XOP_STATIC_RESHAPE)
		in = pr->in[0];
	const struct infd_xvalue *x = &L->g->values[in];
	if (x->rank == rank && memcmp(x->dims, dims, rank * sizeof dims[0]) == 0) {
		*out = in;
		return INFD_OK;
	}
	struct infd_xnode n = node_of(INFD_XOP_STATIC_RESHAPE);
	n.n_in = 1;
	n.in[0] = in;
	return emit(L, &n, rank, dims, out);
}

/* Do the dims > 1 keep their order under `perm` (then a transpose is a reshape)? */
static bool perm_is_reshape(uint32_t rank, const uint32_t *dims, const uint32_t *perm)
{
	int32_t last = -1;
	for (uint32_t i = 0; i < rank; i++) {
		if (dims[perm[i]] == 1)
			continue;
		if ((int32_t)perm[i] < last)
			return false;
		last = (int32_t)perm[i];
	}
	return true;
}

static infd_status transpose(struct low *L, uint32_t in, const uint32_t *perm, uint32_t *out)
{
	const struct infd_xvalue *x = &L->g->values[in];
	uint32_t rank = x->rank, dims[MAXR], xd[MAXR];
	memcpy(xd, x->dims, sizeof xd);
	for (uint32_t i = 0; i < rank; i++)
		dims[i] = xd[perm[i]];
	if (perm_is_reshape(rank, xd, perm))
		return reshape(L, in, rank, dims, out);
	struct infd_xnode n = node_of(INFD_XOP_STATIC_TRANSPOSE);
	n.n_in = 1;
	n.in[0] = in;
	memcpy(n.p.shape.perm, perm, rank * sizeof perm[0]);
	return emit(L, &n, rank, dims, out);
}

/* Permute constant data: out dims[i] = dims[perm[i]]. NULL when out of memory. */
static float *permute_data(const float *src, uint32_t rank, const uint32_t *dims, const uint32_t *perm)
{
	uint64_t n = 1, stride[MAXR];
	for (uint32_t i = rank; i-- > 0;) {
		stride[i] = n;
		n *= dims[i];
	}
	float *dst = malloc(n * sizeof *dst);
	if (!dst)
		return NULL;
	uint32_t idx[MAXR] = {0};
	for (uint64_t k = 0; k < n; k++) {
		uint64_t off = 0;
		for (uint32_t i = 0; i < rank; i++)
			off += idx[i] * stride[perm[i]];
		dst[k] = src[off];
		for (uint32_t i = rank; i-- > 0;) {
			if (++idx[i] < dims[perm[i]])
				break;
			idx[i] = 0;
		}
	}
	return dst;
}

static infd_status oom(struct low *L)
{
	return infd__fail(L->err, INFD_NO_MEMORY, "out of memory (lowering constants)");
}

/* A constant whose data the graph owns: a copy of `n` floats (NULL src: zeros). */
static infd_status owned_copy(struct low *L, const float *src, uint64_t n, float **out)
{
	*out = src ? malloc(n * sizeof **out) : calloc(n, sizeof **out);
	if (!*out)
		return oom(L);
	if (src)
		memcpy(*out, src, n * sizeof **out);
	return INFD_OK;
}

/* Channels-last form of a plain graph value whose logical dims are d (rank 3 or 4). */
static infd_status plain_to_cl(struct low *L, uint32_t id, uint32_t rank, const uint32_t *d, uint32_t *out)
{
	uint32_t c[4], t;
	cl_dims(rank, d, c);
	if (cl_trivial(rank, d))
		return reshape(L, id, 4, c, out);
	if (rank == 4)
		return transpose(L, id, (const uint32_t[]){0, 2, 3, 1}, out);
	infd_status st = transpose(L, id, (const uint32_t[]){0, 2, 1}, &t);
	return st ? st : reshape(L, t, 4, c, out);
}

static infd_status cl_to_plain(struct low *L, uint32_t id, uint32_t rank, const uint32_t *d, uint32_t *out)
{
	uint32_t t;
	if (cl_trivial(rank, d))
		return reshape(L, id, rank, d, out);
	if (rank == 4)
		return transpose(L, id, (const uint32_t[]){0, 3, 1, 2}, out);
	infd_status st = reshape(L, id, 3, (const uint32_t[]){d[0], d[2], d[1]}, &t);
	return st ? st : transpose(L, t, (const uint32_t[]){0, 2, 1}, out);
}

/* The value written earlier in the partition whose memory `v` (a view) shares:
 * -1 when none, -2 when it overlaps one only in part. */
static int32_t alias_source(const struct low *L, int32_t v)
{
	const struct infd_tensor *t = T(L, v);
	if (!t->data || is_const(t))
		return -1;
	const uint8_t *b = t->data, *e = b + t->nbytes;
	for (uint32_t k = L->n_written; k-- > 0;) {
		const struct infd_tensor *w = T(L, L->written[k]);
		const uint8_t *wb = w->data, *we = wb + w->nbytes;
		if (!wb || we <= b || e <= wb)
			continue;
		return wb == b && we == e ? L->written[k] : -2;
	}
	return -1;
}

static infd_status reshape_value(struct low *L, int32_t x, int32_t y);

/* Make sure the graph holds value v in some form: constants become static
 * values, deferred transposes are built, views of values written here become
 * reshapes, anything else is an external input. */
static infd_status ensure(struct low *L, int32_t v)
{
	struct form *f = &L->f[v];
	if (f->plain != NONE || f->cl != NONE)
		return INFD_OK;
	const struct infd_tensor *t = T(L, v);
	uint32_t d[MAXR];
	tensor_dims(t, d);
	if (is_const(t))
		return new_value(L, t->rank, d, t->data, false, &f->plain);
	if (f->tsrc >= 0) {
		const struct infd_tensor *s = T(L, f->tsrc);
		uint32_t sd[2] = {(uint32_t)s->sizes[0], (uint32_t)s->sizes[1]};
		float *p = permute_data(s->data, 2, sd, (const uint32_t[]){1, 0});
		if (!p)
			return oom(L);
		return new_value(L, 2, d, p, true, &f->plain);
	}
	if (f->written)
		return infd__fail(L->err, INFD_INTERNAL, "value %d was folded away but is still needed", v);
	int32_t src = alias_source(L, v);
	if (src == -2)
		return infd__fail(L->err, INFD_UNSUPPORTED,
				  "value %d shares part of its memory with a value the partition writes (not a plain view)",
				  v);
	if (src >= 0)
		return reshape_value(L, src, v);
	if (L->n_ext == L->cap_ext) {
		uint32_t cap = L->cap_ext ? 2 * L->cap_ext : 8;
		int32_t *p = realloc(L->ext, cap * sizeof *p);
		if (!p)
			return oom(L);
		L->ext = p;
		L->cap_ext = cap;
	}
	struct infd_xvalue xv = {.dtype = INFD_XDT_FP32, .rank = t->rank, .flags = INFD_XV_INPUT, .external = L->n_ext};
	memcpy(xv.dims, d, t->rank * sizeof d[0]);
	infd_status st = infd__xgraph_add_value(L->g, &xv, &f->plain, L->err);
	if (st == INFD_OK)
		L->ext[L->n_ext++] = v;
	return st;
}

static infd_status get_plain(struct low *L, int32_t v, uint32_t *id)
{
	infd_status st = ensure(L, v);
	struct form *f = &L->f[v];
	if (st == INFD_OK && f->plain == NONE) {
		uint32_t d[MAXR];
		tensor_dims(T(L, v), d);
		st = cl_to_plain(L, f->cl, T(L, v)->rank, d, &f->plain);
	}
	*id = f->plain;
	return st;
}

/* Channels-last form of a 3-d or 4-d value. */
static infd_status get_cl(struct low *L, int32_t v, uint32_t *id)
{
	infd_status st = ensure(L, v);
	struct form *f = &L->f[v];
	const struct infd_tensor *t = T(L, v);
	uint32_t d[MAXR], c[4];
	tensor_dims(t, d);
	if (st == INFD_OK && f->cl == NONE) {
		if (is_const(t)) {
			cl_dims(t->rank, d, c);
			float *p = t->rank == 4 ? permute_data(t->data, 4, d, (const uint32_t[]){0, 2, 3, 1})
						: permute_data(t->data, 3, d, (const uint32_t[]){0, 2, 1});
			st = p ? new_value(L, 4, c, p, true, &f->cl) : oom(L);
		} else {
			st = plain_to_cl(L, f->plain, t->rank, d, &f->cl);
		}
	}
	*id = f->cl;
	return st;
}

/* y = x viewed with y's shape. Channels-last forms carry over when batch and
 * channels stay (only the spatial dims regroup). */
static infd_status reshape_value(struct low *L, int32_t x, int32_t y)
{
	const struct infd_tensor *tx = T(L, x), *ty = T(L, y);
	struct form *fx = &L->f[x], *fy = &L->f[y];
	uint32_t dx[MAXR], dy[MAXR], c[4], p;
	tensor_dims(tx, dx);
	tensor_dims(ty, dy);
	if (is_const(tx))
		return new_value(L, ty->rank, dy, tx->data, false, &fy->plain);
	infd_status st = ensure(L, x);
	if (st)
		return st;
	if (fx->plain == NONE) {
		bool cl_x = tx->rank == 3 || tx->rank == 4, cl_y = ty->rank == 3 || ty->rank == 4;
		if (cl_x && cl_y && dx[0] == dy[0] && dx[1] == dy[1]) {
			cl_dims(ty->rank, dy, c);
			const struct infd_xvalue *xv = &L->g->values[fx->cl];
			if (memcmp(xv->dims, c, sizeof c) == 0) {
				fy->cl = fx->cl;
				return INFD_OK;
			}
			return reshape(L, fx->cl, 4, c, &fy->cl);
		}
		if (cl_trivial(tx->rank, dx))
			return reshape(L, fx->cl, ty->rank, dy, &fy->plain);
	}
	if ((st = get_plain(L, x, &p)))
		return st;
	if (tx->rank == ty->rank && memcmp(dx, dy, tx->rank * sizeof dx[0]) == 0) {
		fy->plain = p;
		return INFD_OK;
	}
	return reshape(L, p, ty->rank, dy, &fy->plain);
}

static bool overlaps(const struct infd_tensor *t, const uint8_t *b, const uint8_t *e)
{
	const uint8_t *tb = t->data;
	return tb && tb < e && b < tb + t->nbytes;
}

static bool is_view_over(const struct low *L, int32_t v, const uint8_t *b, const uint8_t *e)
{
	return v >= 0 && L->view_like[v] && overlaps(T(L, v), b, e);
}

/* Does an instruction outside the partition (or the caller) read y's memory
 * through a view, before something overwrites that memory? Views read inside
 * the partition become reshapes of y instead. */
static bool view_escapes(const struct low *L, int32_t y)
{
	const struct infd_tensor *t = T(L, y);
	if (!t->data)
		return false;
	const uint8_t *b = t->data, *e = b + t->nbytes;
	bool any = false;
	for (uint32_t i = 0; i < L->n_views && !any; i++)
		any = L->views[i] != y && overlaps(T(L, L->views[i]), b, e);
	if (!any)
		return false;
	const struct infd_method_def *def = L->def;
	uint32_t pc = L->part->chain, p0 = L->part->first, p1 = p0 + L->part->n_instrs;
	for (uint32_t c = 0; c < def->n_chains; c++) {
		const struct infd_chain_def *ch = &def->chains[c];
		for (uint32_t k = c == pc ? L->cur + 1 : 0; k < ch->n_instrs; k++) {
			const struct infd_instr_def *in = &ch->instrs[k];
			bool inside = c == pc && k >= p0 && k < p1;
			if (in->kind == INFD_INSTR_MOVE || in->kind == INFD_INSTR_JUMP_FALSE) {
				if (is_view_over(L, in->a, b, e))
					return true;
				continue;
			}
			if (in->kind != INFD_INSTR_KERNEL && in->kind != INFD_INSTR_DELEGATE)
				continue;
			for (uint32_t a = 0; a < in->n_args && !inside; a++) {
				int32_t v = in->args[a];
				const struct infd_value_def *vd = &def->values[v];
				if (is_view_over(L, v, b, e))
					return true;
				if (vd->kind == INFD_VALUE_TENSOR_LIST || vd->kind == INFD_VALUE_OPT_TENSOR_LIST)
					for (uint32_t j = 0; j < vd->u.list.count; j++)
						if (is_view_over(L, vd->u.list.indices[j], b, e))
							return true;
			}
			/* in y's chain, a kernel writing over y's memory ends y's life there */
			if (c != pc || in->kind != INFD_INSTR_KERNEL || !in->n_args)
				continue;
			int32_t r = in->args[in->n_args - 1];
			const struct infd_value_def *rd = &def->values[r];
			if (rd->kind == INFD_VALUE_TENSOR && r != y && overlaps(T(L, r), b, e))
				goto done_chain;
			if (rd->kind == INFD_VALUE_TENSOR_LIST)
				for (uint32_t j = 0; j < rd->u.list.count; j++)
					if (rd->u.list.indices[j] != y && overlaps(T(L, rd->u.list.indices[j]), b, e))
						goto done_chain;
		}
		if (c == pc)
			for (uint32_t i = 0; i < def->n_outputs; i++)
				if (is_view_over(L, def->outputs[i], b, e))
					return true;
	done_chain:;
	}
	return false;
}

/* Record that the current instruction writes y (before its forms are set). */
static void mark_written(struct low *L, int32_t y)
{
	struct form *f = &L->f[y];
	if (f->emitted) {
		/* Written again in the partition (out= buffers used in turn): only the
		 * last write may reach memory, so the earlier one stops being an
		 * external output and the later externals move down one place. */
		uint32_t k = 0;
		while (k < L->n_ext && L->ext[k] != y)
			k++;
		for (uint32_t v = 0; k < L->n_ext && v < L->g->n_values; v++) {
			struct infd_xvalue *xv = &L->g->values[v];
			if (!xv->flags || xv->external == INFD_XNONE || xv->external < k)
				continue;
			if (xv->external == k) {
				xv->flags &= ~(uint32_t)INFD_XV_OUTPUT;
				xv->external = INFD_XNONE;
			} else {
				xv->external--;
			}
		}
		if (k < L->n_ext) {
			memmove(&L->ext[k], &L->ext[k + 1], (L->n_ext - k - 1) * sizeof *L->ext);
			L->n_ext--;
			L->g->n_externals = L->n_ext;
		}
		f->emitted = false;
	}
	f->written = true;
	f->plain = f->cl = NONE;
	f->tsrc = -1;
	f->escapes = infd__partition_value_escapes(L->part, y) || view_escapes(L, y);
	L->written[L->n_written++] = y;
}

/* The node writing x's only form, when nothing else uses x: the current
 * instruction may then change that node (fuse into it). */
static struct infd_xnode *sole_producer(struct low *L, int32_t x)
{
	struct form *f = &L->f[x];
	if (!f->written || f->escapes || f->reads != 1 || (f->plain == NONE) == (f->cl == NONE))
		return NULL;
	uint32_t id = f->plain != NONE ? f->plain : f->cl;
	if (L->g->values[id].flags || L->g->values[id].data)
		return NULL;
	for (uint32_t v = 0; v < L->def->n_values; v++)
		if ((int32_t)v != x && (L->f[v].plain == id || L->f[v].cl == id))
			return NULL;
	struct infd_xnode *prod = NULL;
	for (uint32_t k = 0; k < L->g->n_nodes; k++) {
		struct infd_xnode *n = &L->g->nodes[k];
		for (uint32_t i = 0; i < n->n_in; i++)
			if (n->in[i] == id)
				return NULL;
		if (n->out[0] == id)
			prod = n;
	}
	return prod;
}

static bool clamp_fusable(uint8_t op)
{
	switch (op) {
	case INFD_XOP_CONV2D:
	case INFD_XOP_DEPTHWISE_CONV2D:
	case INFD_XOP_DECONV2D:
	case INFD_XOP_FULLY_CONNECTED:
	case INFD_XOP_ADD:
	case INFD_XOP_SUBTRACT:
	case INFD_XOP_MULTIPLY:
	case INFD_XOP_DIVIDE:
	case INFD_XOP_MAX_POOL2D:
	case INFD_XOP_AVG_POOL2D:
	case INFD_XOP_CLAMP:
		return true;
	default:
		return false;
	}
}

/* y takes over x's form (x is gone). */
static void take_over(struct low *L, int32_t x, int32_t y)
{
	L->f[y].plain = L->f[x].plain;
	L->f[y].cl = L->f[x].cl;
	L->f[x].plain = L->f[x].cl = NONE;
}

/* ---- Lowering each operator -------------------------------------------------------- */

static infd_status lower_conv(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *w = T(L, c->x[1]);
	const struct infd_xconv *k = &c->conv;
	uint32_t in, filt, bias = NONE, wd[4], fd[4], od[MAXR], oc[4];
	infd_status st = get_cl(L, c->x[0], &in);
	if (st)
		return st;
	/* weights are [OC, IC/g, KH, KW] ([IC, OC/g, ...] transposed); 1-d ones lack KH */
	wd[0] = (uint32_t)w->sizes[0];
	wd[1] = (uint32_t)w->sizes[1];
	wd[2] = k->kernel_h;
	wd[3] = k->kernel_w;
	const float *src = w->data;
	float *p = NULL;
	uint64_t n = w->numel;
	static const uint32_t to_ohwi[4] = {0, 2, 3, 1}, to_1hwo[4] = {1, 2, 3, 0};
	if (c->node == INFD_XOP_CONV2D) {
		fd[0] = wd[0], fd[1] = wd[2], fd[2] = wd[3], fd[3] = wd[1];
		if (!perm_is_reshape(4, wd, to_ohwi) && !(p = permute_data(src, 4, wd, to_ohwi)))
			return oom(L);
	} else if (c->node == INFD_XOP_DEPTHWISE_CONV2D) {
		fd[0] = 1, fd[1] = wd[2], fd[2] = wd[3], fd[3] = wd[0];
		if (!perm_is_reshape(4, wd, to_1hwo) && !(p = permute_data(src, 4, wd, to_1hwo)))
			return oom(L);
	} else {
		/* [g*ICg, OCg, KH, KW] -> [g*OCg, KH, KW, ICg] */
		uint32_t G = k->groups, icg = k->group_in, ocg = k->group_out, khw = k->kernel_h * k->kernel_w;
		fd[0] = G * ocg, fd[1] = k->kernel_h, fd[2] = k->kernel_w, fd[3] = icg;
		if (!(p = malloc(n * sizeof *p)))
			return oom(L);
		for (uint32_t g = 0; g < G; g++)
			for (uint32_t o = 0; o < ocg; o++)
				for (uint32_t s = 0; s < khw; s++)
					for (uint32_t i = 0; i < icg; i++)
						p[(((uint64_t)g * ocg + o) * khw + s) * icg + i] =
							src[(((uint64_t)g * icg + i) * ocg + o) * khw + s];
	}
	if ((st = new_value(L, 4, fd, p ? p : src, p != NULL, &filt)))
		return st;
	if (c->x[2] >= 0 && (st = new_value(L, 1, (const uint32_t[]){fd[c->node == INFD_XOP_DEPTHWISE_CONV2D ? 3 : 0]},
					    T(L, c->x[2])->data, false, &bias)))
		return st;
	struct infd_xnode nd = node_of(c->node);
	nd.n_in = 3;
	nd.in[0] = in;
	nd.in[1] = filt;
	nd.in[2] = bias;
	nd.p.conv = *k;
	const struct infd_tensor *o = T(L, c->out);
	tensor_dims(o, od);
	cl_dims(o->rank, od, oc);
	mark_written(L, c->out);
	return emit(L, &nd, 4, oc, &L->f[c->out].cl);
}

/* y = x * scale + shift per channel, folded into the convolution that made x
 * when nothing else uses x. *folded says whether it was. */
static infd_status fold_into_conv(struct low *L, int32_t x, const float *scale, const float *shift, uint32_t C,
				  bool *folded)
{
	*folded = false;
	struct infd_xnode *n = sole_producer(L, x);
	if (!n || L->f[x].cl == NONE || n->out_min != -INFINITY || n->out_max != INFINITY ||
	    (n->op != INFD_XOP_CONV2D && n->op != INFD_XOP_DEPTHWISE_CONV2D && n->op != INFD_XOP_DECONV2D))
		return INFD_OK;
	uint32_t fid = n->in[1], bid = n->in[2];
	const struct infd_xvalue *fv = &L->g->values[fid], *bv = bid != NONE ? &L->g->values[bid] : NULL;
	if (!fv->data || (bv && !bv->data))
		return INFD_OK;
	uint64_t total = 1;
	for (uint32_t i = 0; i < fv->rank; i++)
		total *= fv->dims[i];
	float *wf = fv->owned ? (float *)fv->data : malloc(total * sizeof *wf);
	float *bf = bv && bv->owned ? (float *)bv->data : malloc(C * sizeof *bf);
	if (!wf || !bf) {
		if (!fv->owned)
			free(wf);
		if (!bv || !bv->owned)
			free(bf);
		return oom(L);
	}
	const float *w0 = fv->data, *b0 = bv ? bv->data : NULL;
	bool depthwise = n->op == INFD_XOP_DEPTHWISE_CONV2D;
	uint64_t per = total / C;
	for (uint64_t i = 0; i < total; i++)
		wf[i] = w0[i] * scale[depthwise ? i % C : i / per];
	for (uint32_t o = 0; o < C; o++)
		bf[o] = (b0 ? b0[o] : 0.0f) * scale[o] + shift[o];
	L->g->values[fid].data = wf;
	L->g->values[fid].owned = true;
	if (bv) {
		L->g->values[bid].data = bf;
		L->g->values[bid].owned = true;
	} else {
		infd_status st = new_value(L, 1, &C, bf, true, &bid);
		if (st)
			return st; /* the graph is discarded on failure */
		n->in[2] = bid; /* nodes stay put while values grow */
	}
	*folded = true;
	return INFD_OK;
}

static infd_status lower_batch_norm(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *t = T(L, c->x[0]);
	uint32_t C = (uint32_t)t->sizes[1], x, sv, hv, tmp, dims[3] = {C, 1, 1};
	float *scale = malloc(C * sizeof *scale), *shift = malloc(C * sizeof *shift);
	infd_status st = INFD_OK;
	bool folded = false;
	if (!scale || !shift) {
		free(scale);
		free(shift);
		return oom(L);
	}
	const float *w = c->x[1] >= 0 ? T(L, c->x[1])->data : NULL, *b = c->x[2] >= 0 ? T(L, c->x[2])->data : NULL;
	const float *mean = T(L, c->x[3])->data, *var = T(L, c->x[4])->data;
	for (uint32_t i = 0; i < C; i++) {
		scale[i] = (float)((w ? w[i] : 1.0f) / sqrt((double)var[i] + c->eps));
		shift[i] = (b ? b[i] : 0.0f) - mean[i] * scale[i];
	}
	if (!(st = ensure(L, c->x[0])))
		st = fold_into_conv(L, c->x[0], scale, shift, C, &folded);
	if (st || folded) {
		if (!st) {
			mark_written(L, c->out);
			take_over(L, c->x[0], c->out);
		}
		free(scale);
		free(shift);
		return st;
	}
	/* per-channel multiply and add in the layout x has */
	bool cl = L->f[c->x[0]].cl != NONE;
	uint32_t rank = cl ? 1 : t->rank - 1;
	if ((st = cl ? get_cl(L, c->x[0], &x) : get_plain(L, c->x[0], &x))) {
		free(scale);
		free(shift);
		return st;
	}
	st = new_value(L, rank, dims, scale, true, &sv); /* takes scale, even on failure */
	if (st) {
		free(shift);
		return st;
	}
	if ((st = new_value(L, rank, dims, shift, true, &hv)))
		return st;
	struct infd_xnode m = node_of(INFD_XOP_MULTIPLY), a = node_of(INFD_XOP_ADD);
	m.n_in = a.n_in = 2;
	m.in[0] = x;
	m.in[1] = sv;
	const struct infd_xvalue *xv = &L->g->values[x];
	uint32_t xd[MAXR], xr = xv->rank;
	memcpy(xd, xv->dims, sizeof xd);
	if ((st = emit(L, &m, xr, xd, &tmp)))
		return st;
	a.in[0] = tmp;
	a.in[1] = hv;
	mark_written(L, c->out);
	return emit(L, &a, xr, xd, cl ? &L->f[c->out].cl : &L->f[c->out].plain);
}

static infd_status lower_clamp(struct low *L, const struct lcall *c)
{
	int32_t x = c->x[0];
	infd_status st = ensure(L, x);
	if (st)
		return st;
	struct infd_xnode *n = sole_producer(L, x);
	if (n && clamp_fusable(n->op)) {
		n->out_min = fmaxf(n->out_min, c->lo);
		n->out_max = fminf(n->out_max, c->hi);
		mark_written(L, c->out);
		take_over(L, x, c->out);
		return INFD_OK;
	}
	bool cl = L->f[x].cl != NONE;
	uint32_t in = cl ? L->f[x].cl : L->f[x].plain, out;
	struct infd_xnode nd = node_of(INFD_XOP_CLAMP);
	nd.n_in = 1;
	nd.in[0] = in;
	nd.out_min = c->lo;
	nd.out_max = c->hi;
	const struct infd_xvalue *xv = &L->g->values[in];
	uint32_t d[MAXR], r = xv->rank;
	memcpy(d, xv->dims, sizeof d);
	mark_written(L, c->out);
	if ((st = emit(L, &nd, r, d, &out)))
		return st;
	*(cl ? &L->f[c->out].cl : &L->f[c->out].plain) = out;
	return INFD_OK;
}

static infd_status lower_unary(struct low *L, const struct lcall *c)
{
	int32_t x = c->x[0];
	infd_status st = ensure(L, x);
	if (st)
		return st;
	bool cl = L->f[x].cl != NONE;
	uint32_t in = cl ? L->f[x].cl : L->f[x].plain, out;
	struct infd_xnode nd = node_of(c->op->xop);
	nd.n_in = 1;
	nd.in[0] = in;
	nd.p.alpha = c->alpha;
	const struct infd_xvalue *xv = &L->g->values[in];
	uint32_t d[MAXR], r = xv->rank;
	memcpy(d, xv->dims, sizeof d);
	mark_written(L, c->out);
	if ((st = emit(L, &nd, r, d, &out)))
		return st;
	*(cl ? &L->f[c->out].cl : &L->f[c->out].plain) = out;
	return INFD_OK;
}

/* A constant operand (data shaped like t) of an elementwise op with output rank
 * r, as it is or in channels-last form; `owned` data is taken. */
static infd_status const_operand(struct low *L, const float *data, bool owned, const struct infd_tensor *t,
				 uint32_t r, bool cl, uint32_t *id)
{
	uint32_t d[MAXR], pd[4], c[4];
	tensor_dims(t, d);
	if (!cl)
		return new_value(L, t->rank, d, data, owned, id);
	for (uint32_t i = 0; i < r; i++)
		pd[i] = i + t->rank >= r ? d[i + t->rank - r] : 1;
	cl_dims(r, pd, c);
	if (cl_trivial(r, pd))
		return new_value(L, 4, c, data, owned, id);
	float *q = r == 4 ? permute_data(data, 4, pd, (const uint32_t[]){0, 2, 3, 1})
			  : permute_data(data, 3, pd, (const uint32_t[]){0, 2, 1});
	if (owned)
		free((void *)data);
	return q ? new_value(L, 4, c, q, true, id) : oom(L);
}

/* Non-constant operand x of an elementwise op with output rank r (3 or 4), in
 * channels-last form; lower ranks broadcast as numpy does. */
static infd_status operand_cl(struct low *L, int32_t x, uint32_t r, uint32_t *id)
{
	const struct infd_tensor *t = T(L, x);
	if (t->rank == r)
		return get_cl(L, x, id);
	uint32_t pd[4], c[4], p, tmp;
	for (uint32_t i = 0; i < r; i++)
		pd[i] = i + t->rank >= r ? (uint32_t)t->sizes[i + t->rank - r] : 1;
	cl_dims(r, pd, c);
	infd_status st = get_plain(L, x, &p);
	if (st)
		return st;
	if (cl_trivial(r, pd))
		return reshape(L, p, 4, c, id);
	if ((st = reshape(L, p, r, pd, &tmp)))
		return st;
	return plain_to_cl(L, tmp, r, pd, id);
}

/* Operand i of an elementwise op in the chosen layout. */
static infd_status operand(struct low *L, int32_t x, uint32_t r, bool cl, uint32_t *id)
{
	const struct infd_tensor *t = T(L, x);
	if (is_const(t))
		return const_operand(L, t->data, false, t, r, cl, id);
	return cl ? operand_cl(L, x, r, id) : get_plain(L, x, id);
}

/* A static [1] tensor holding v. */
static infd_status scalar_value(struct low *L, float v, uint32_t *id)
{
	float *p = malloc(sizeof *p);
	if (!p)
		return oom(L);
	*p = v;
	return new_value(L, 1, (const uint32_t[]){1}, p, true, id);
}

static infd_status lower_binary(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *o = T(L, c->out);
	uint32_t r = o->rank, a, b, od[MAXR], oc[4];
	infd_status st;
	bool cl = false;
	tensor_dims(o, od);
	if (r == 3 || r == 4) {
		bool any = false, all = true;
		for (uint32_t i = 0; i < c->n_x; i++) {
			const struct infd_tensor *t = T(L, c->x[i]);
			if (is_const(t) || t->rank != r)
				continue;
			if ((st = ensure(L, c->x[i])))
				return st;
			any |= L->f[c->x[i]].cl != NONE;
			all &= L->f[c->x[i]].cl != NONE;
		}
		cl = any && all;
	}
	if ((st = operand(L, c->x[0], r, cl, &a)))
		return st;
	uint8_t op = c->op->xop;
	bool scaled = c->op->extra && c->alpha != 1.0f;
	if (c->op->kind == K_BINARY_SCALAR) {
		/* self op other * alpha, the scalar as a static [1] tensor */
		if ((st = scalar_value(L, c->scalar * (c->op->extra ? c->alpha : 1.0f), &b)))
			return st;
	} else if (scaled && is_const(T(L, c->x[1]))) {
		const struct infd_tensor *t = T(L, c->x[1]);
		float *q;
		if ((st = owned_copy(L, t->data, t->numel, &q)))
			return st;
		for (uint64_t i = 0; i < t->numel; i++)
			q[i] *= c->alpha;
		if ((st = const_operand(L, q, true, t, r, cl, &b)))
			return st;
	} else {
		if ((st = operand(L, c->x[1], r, cl, &b)))
			return st;
		if (scaled) {
			uint32_t s, tmp;
			struct infd_xnode m = node_of(INFD_XOP_MULTIPLY);
			const struct infd_xvalue *bv = &L->g->values[b];
			uint32_t bd[MAXR], br = bv->rank;
			memcpy(bd, bv->dims, sizeof bd);
			if ((st = scalar_value(L, c->alpha, &s)))
				return st;
			m.n_in = 2;
			m.in[0] = b;
			m.in[1] = s;
			if ((st = emit(L, &m, br, bd, &tmp)))
				return st;
			b = tmp;
		}
	}
	struct infd_xnode nd = node_of(op);
	nd.n_in = 2;
	nd.in[0] = a;
	nd.in[1] = b;
	mark_written(L, c->out);
	if (cl) {
		cl_dims(r, od, oc);
		return emit(L, &nd, 4, oc, &L->f[c->out].cl);
	}
	return emit(L, &nd, r, od, &L->f[c->out].plain);
}

static infd_status lower_matmul(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *o = T(L, c->out);
	uint32_t od[MAXR], in, filt = NONE, bias = NONE, res;
	tensor_dims(o, od);
	infd_status st;
	struct infd_xnode nd = node_of(INFD_XOP_FULLY_CONNECTED);
	int32_t bias_v = c->op->kind == K_LINEAR ? c->x[2] : c->x[0];
	if (c->op->kind == K_BMM) {
		uint32_t b;
		nd = node_of(INFD_XOP_BATCH_MATMUL);
		if ((st = get_plain(L, c->x[0], &in)) || (st = get_plain(L, c->x[1], &b)))
			return st;
		nd.n_in = 2;
		nd.in[0] = in;
		nd.in[1] = b;
		mark_written(L, c->out);
		return emit(L, &nd, 3, od, &L->f[c->out].plain);
	}
	if (c->op->kind == K_LINEAR) {
		const struct infd_tensor *w = T(L, c->x[1]);
		if ((st = get_plain(L, c->x[0], &in)) ||
		    (st = new_value(L, 2, (const uint32_t[]){(uint32_t)w->sizes[0], (uint32_t)w->sizes[1]}, w->data,
				    false, &filt)))
			return st;
	} else {
		int32_t m2 = c->x[2];
		const struct infd_tensor *w = T(L, m2);
		if ((st = get_plain(L, c->x[1], &in)))
			return st;
		if (L->f[m2].tsrc >= 0) {
			/* mat2 = W^T of a constant W [N, K]: W is the filter as it is */
			const struct infd_tensor *s = T(L, L->f[m2].tsrc);
			st = new_value(L, 2, (const uint32_t[]){(uint32_t)s->sizes[0], (uint32_t)s->sizes[1]}, s->data, false,
				       &filt);
		} else if (is_const(w)) {
			nd.flags = INFD_XFLAG_TRANSPOSE_WEIGHTS;
			st = new_value(L, 2, (const uint32_t[]){(uint32_t)w->sizes[0], (uint32_t)w->sizes[1]}, w->data,
				       false, &filt);
		} else {
			nd = node_of(INFD_XOP_BATCH_MATMUL);
			st = get_plain(L, m2, &filt);
		}
		if (st)
			return st;
	}
	nd.n_in = nd.op == INFD_XOP_FULLY_CONNECTED ? 3 : 2;
	if (nd.op == INFD_XOP_FULLY_CONNECTED) {
		/* a fully-connected node flattens leading dims itself: skip a reshape to 2-d */
		const struct infd_xnode *pr = producer(L, in);
		const struct infd_xvalue *iv = &L->g->values[in];
		if (pr && pr->op == INFD_XOP_STATIC_RESHAPE) {
			const struct infd_xvalue *sv = &L->g->values[pr->in[0]];
			if (sv->rank >= 2 && sv->dims[sv->rank - 1] == iv->dims[iv->rank - 1])
				in = pr->in[0];
		}
	}
	nd.in[0] = in;
	nd.in[1] = filt;
	/* a constant bias of [N] or [1, N] goes into the fully-connected node */
	bool add_after = false;
	if (bias_v >= 0) {
		const struct infd_tensor *b = T(L, bias_v);
		uint32_t n = od[o->rank - 1];
		if (nd.op == INFD_XOP_FULLY_CONNECTED && is_const(b) && b->numel == n && b->sizes[b->rank - 1] == (int32_t)n) {
			if ((st = new_value(L, 1, &n, b->data, false, &bias)))
				return st;
			nd.in[2] = bias;
		} else {
			add_after = true;
		}
	}
	if (!add_after) {
		mark_written(L, c->out);
		return emit(L, &nd, o->rank, od, &L->f[c->out].plain);
	}
	if ((st = emit(L, &nd, o->rank, od, &res)) || (st = get_plain(L, bias_v, &bias)))
		return st;
	struct infd_xnode a = node_of(INFD_XOP_ADD);
	a.n_in = 2;
	a.in[0] = res;
	a.in[1] = bias;
	mark_written(L, c->out);
	return emit(L, &a, o->rank, od, &L->f[c->out].plain);
}

static infd_status lower_pool(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *o = T(L, c->out);
	uint32_t in, od[MAXR], oc[4];
	infd_status st = get_cl(L, c->x[0], &in);
	if (st)
		return st;
	tensor_dims(o, od);
	struct infd_xnode nd = node_of(c->node);
	nd.n_in = 1;
	nd.in[0] = in;
	nd.p.pool = c->pool;
	mark_written(L, c->out);
	if (c->node == INFD_XOP_GLOBAL_AVG_POOL2D) {
		const struct infd_xvalue *xv = &L->g->values[in];
		if (c->op->kind == K_MEAN && !c->flag) /* [N, C] */
			return emit(L, &nd, 2, (const uint32_t[]){xv->dims[0], xv->dims[3]}, &L->f[c->out].plain);
		nd.flags = INFD_XFLAG_KEEP_DIMS;
		return emit(L, &nd, 4, (const uint32_t[]){xv->dims[0], 1, 1, xv->dims[3]}, &L->f[c->out].cl);
	}
	if (c->op->kind == K_UPSAMPLE) {
		nd.p.resize.new_h = od[2];
		nd.p.resize.new_w = od[3];
		nd.flags = c->flag ? INFD_XFLAG_ALIGN_CORNERS : 0;
	}
	cl_dims(o->rank, od, oc);
	return emit(L, &nd, 4, oc, &L->f[c->out].cl);
}

static infd_status lower_permute(struct low *L, const struct lcall *c)
{
	int32_t x = c->x[0], y = c->out;
	const struct infd_tensor *t = T(L, x);
	uint32_t rank = t->rank, d[MAXR], perm[MAXR], in;
	tensor_dims(t, d);
	memcpy(perm, c->perm, sizeof perm);
	bool identity = true;
	for (uint32_t i = 0; i < rank; i++)
		identity &= perm[i] == i;
	if (is_const(t) && rank == 2 && !identity) {
		mark_written(L, y);
		L->f[y].tsrc = x; /* built only if something needs it as a tensor */
		return INFD_OK;
	}
	infd_status st = ensure(L, x);
	if (st)
		return st;
	struct form *fx = &L->f[x];
	if (is_const(t)) {
		uint32_t od[MAXR];
		for (uint32_t i = 0; i < rank; i++)
			od[i] = d[perm[i]];
		float *p = permute_data(t->data, rank, d, perm);
		if (!p)
			return oom(L);
		mark_written(L, y);
		return new_value(L, rank, od, p, true, &L->f[y].plain);
	}
	if (fx->plain == NONE && rank == 4) {
		/* compose with the channels-last order: plain dim -> cl dim */
		static const uint32_t to_cl[4] = {0, 3, 1, 2};
		uint32_t r[4];
		bool id = true;
		for (uint32_t i = 0; i < 4; i++) {
			r[i] = to_cl[perm[i]];
			id &= r[i] == i;
		}
		in = fx->cl;
		mark_written(L, y);
		if (id) {
			L->f[y].plain = in;
			return INFD_OK;
		}
		return transpose(L, in, r, &L->f[y].plain);
	}
	if (fx->plain == NONE && rank == 3 && perm[0] == 0 && perm[1] == 2 && perm[2] == 1) {
		in = fx->cl; /* [N,1,L,C] is [N,L,C] */
		mark_written(L, y);
		return reshape(L, in, 3, (const uint32_t[]){d[0], d[2], d[1]}, &L->f[y].plain);
	}
	if ((st = get_plain(L, x, &in)))
		return st;
	mark_written(L, y);
	if (identity) {
		L->f[y].plain = in;
		return INFD_OK;
	}
	return transpose(L, in, perm, &L->f[y].plain);
}

/* Map plain dim i of a rank-r (3 or 4) tensor to its channels-last dim. */
static uint32_t cl_dim(uint32_t r, uint32_t i)
{
	static const uint32_t m4[4] = {0, 3, 1, 2}, m3[3] = {0, 3, 2};
	return r == 4 ? m4[i] : m3[i];
}

static infd_status lower_cat(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *o = T(L, c->out);
	uint32_t r = o->rank, od[MAXR], oc[4];
	infd_status st;
	tensor_dims(o, od);
	if (c->n_x == 1) {
		if ((st = ensure(L, c->x[0])))
			return st;
		mark_written(L, c->out);
		L->f[c->out].plain = L->f[c->x[0]].plain;
		L->f[c->out].cl = L->f[c->x[0]].cl;
		return INFD_OK;
	}
	bool cl = r == 3 || r == 4;
	for (uint32_t i = 0; i < c->n_x && cl; i++) {
		if (is_const(T(L, c->x[i])))
			cl = false;
		else if ((st = ensure(L, c->x[i])))
			return st;
		else
			cl = L->f[c->x[i]].cl != NONE;
	}
	struct infd_xnode nd = node_of(INFD_XOP_CONCATENATE);
	nd.n_in = c->n_x;
	for (uint32_t i = 0; i < c->n_x; i++)
		if ((st = cl ? get_cl(L, c->x[i], &nd.in[i]) : get_plain(L, c->x[i], &nd.in[i])))
			return st;
	mark_written(L, c->out);
	if (cl) {
		nd.p.axis = cl_dim(r, c->axis);
		cl_dims(r, od, oc);
		return emit(L, &nd, 4, oc, &L->f[c->out].cl);
	}
	nd.p.axis = c->axis;
	return emit(L, &nd, r, od, &L->f[c->out].plain);
}

/* y = a slice (offsets `pre`) or a constant pad (`pre`, `post`, `value`) of x,
 * in whichever layout x has. */
static infd_status slice_or_pad(struct low *L, bool slice, int32_t x, int32_t y, const uint32_t *pre,
				const uint32_t *post, float value)
{
	const struct infd_tensor *t = T(L, x), *o = T(L, y);
	uint32_t r = t->rank, od[MAXR], in;
	infd_status st = ensure(L, x);
	if (st)
		return st;
	tensor_dims(o, od);
	bool cl = (r == 3 || r == 4) && L->f[x].plain == NONE;
	struct infd_xnode nd = node_of(slice ? INFD_XOP_STATIC_SLICE : INFD_XOP_CONSTANT_PAD);
	nd.n_in = 1;
	if ((st = cl ? get_cl(L, x, &in) : get_plain(L, x, &in)))
		return st;
	nd.in[0] = in;
	uint32_t nr = cl ? 4 : r, dims[MAXR];
	for (uint32_t i = 0; i < nr; i++) { /* the dummy H of a 3-d channels-last value stays */
		dims[i] = 1;
		if (slice) {
			nd.p.slice.offsets[i] = 0;
			nd.p.slice.sizes[i] = 1;
		} else {
			nd.p.pad.pre[i] = nd.p.pad.post[i] = 0;
		}
	}
	for (uint32_t i = 0; i < r; i++) {
		uint32_t j = cl ? cl_dim(r, i) : i;
		dims[j] = od[i];
		if (slice) {
			nd.p.slice.offsets[j] = pre[i];
			nd.p.slice.sizes[j] = od[i];
		} else {
			nd.p.pad.pre[j] = pre[i];
			nd.p.pad.post[j] = post[i];
		}
	}
	if (!slice)
		nd.p.pad.value = value;
	mark_written(L, y);
	return emit(L, &nd, nr, dims, cl ? &L->f[y].cl : &L->f[y].plain);
}

static infd_status lower_split(struct low *L, const struct lcall *c)
{
	uint32_t pre[MAXR] = {0};
	for (uint32_t i = 0; i < c->n_outs; i++) {
		pre[c->axis] = c->offs[i];
		infd_status st = slice_or_pad(L, true, c->x[0], c->outs[i], pre, NULL, 0.0f);
		if (st)
			return st;
	}
	return INFD_OK;
}

static infd_status lower_layer_norm(struct low *L, const struct lcall *c)
{
	uint32_t in, w = NONE, b = NONE, od[MAXR];
	const struct infd_tensor *o = T(L, c->out);
	infd_status st;
	if ((st = get_plain(L, c->x[0], &in)) || (c->x[1] >= 0 && (st = get_plain(L, c->x[1], &w))) ||
	    (c->x[2] >= 0 && (st = get_plain(L, c->x[2], &b))))
		return st;
	struct infd_xnode nd = node_of(INFD_XOP_LAYER_NORM);
	nd.n_in = 3;
	nd.in[0] = in;
	nd.in[1] = w;
	nd.in[2] = b;
	nd.p.eps = (float)c->eps;
	tensor_dims(o, od);
	mark_written(L, c->out);
	return emit(L, &nd, o->rank, od, &L->f[c->out].plain);
}

static infd_status lower_softmax(struct low *L, const struct lcall *c)
{
	uint32_t in;
	infd_status st = get_plain(L, c->x[0], &in);
	if (st)
		return st;
	mark_written(L, c->out);
	return unary(L, INFD_XOP_SOFTMAX, in, &L->f[c->out].plain);
}

static infd_status lower_one(struct low *L, const struct lcall *c)
{
	switch (c->op->kind) {
	case K_CONV:
		return lower_conv(L, c);
	case K_BATCH_NORM:
		return lower_batch_norm(L, c);
	case K_RELU:
	case K_HARDTANH:
	case K_CLAMP:
		return lower_clamp(L, c);
	case K_BINARY:
	case K_BINARY_SCALAR:
		return lower_binary(L, c);
	case K_UNARY:
	case K_GELU:
	case K_LEAKY_RELU:
	case K_ELU:
		return lower_unary(L, c);
	case K_LINEAR:
	case K_ADDMM:
	case K_MM:
	case K_BMM:
		return lower_matmul(L, c);
	case K_SOFTMAX:
		return lower_softmax(L, c);
	case K_MEAN:
		return lower_pool(L, &(struct lcall){.op = c->op, .x = {c->x[0]}, .out = c->out, .flag = c->flag,
						     .node = INFD_XOP_GLOBAL_AVG_POOL2D});
	case K_MAX_POOL:
	case K_AVG_POOL:
	case K_ADAPTIVE_POOL:
		return lower_pool(L, c);
	case K_UPSAMPLE: {
		struct lcall u = *c;
		u.node = INFD_XOP_RESIZE_BILINEAR;
		return lower_pool(L, &u);
	}
	case K_RESHAPE: {
		infd_status st = ensure(L, c->x[0]);
		if (st)
			return st;
		mark_written(L, c->out);
		return reshape_value(L, c->x[0], c->out);
	}
	case K_COPY: {
		/* the copy shares the graph value; binding an output copies where needed */
		infd_status st = ensure(L, c->x[0]);
		if (st)
			return st;
		mark_written(L, c->out);
		L->f[c->out].plain = L->f[c->x[0]].plain;
		L->f[c->out].cl = L->f[c->x[0]].cl;
		return INFD_OK;
	}
	case K_PERMUTE:
	case K_TRANSPOSE:
	case K_T:
		return lower_permute(L, c);
	case K_CAT:
		return lower_cat(L, c);
	case K_SLICE:
	case K_PAD:
		return slice_or_pad(L, c->op->kind == K_SLICE, c->x[0], c->out, c->pre, c->post, c->pad_value);
	case K_SPLIT:
		return lower_split(L, c);
	case K_LAYER_NORM:
		return lower_layer_norm(L, c);
	}
	return infd__fail(L->err, INFD_INTERNAL, "operator %s has no lowering", c->op->key);
}

/* Bind value v, written by the instruction just lowered, as an external output
 * in its own layout if it escapes. Done at once, so that outputs reach memory in
 * program order (a later value may reuse the memory). A graph value that is
 * static or external already gets a copy. */
static infd_status bind_output(struct low *L, int32_t v)
{
	struct form *f = &L->f[v];
	if (!f->escapes || f->emitted)
		return INFD_OK;
	f->emitted = true;
	uint32_t id;
	infd_status st = get_plain(L, v, &id);
	if (st)
		return st;
	struct infd_xvalue *xv = &L->g->values[id];
	if (xv->data || xv->flags) {
		uint32_t cp;
		if ((st = unary(L, INFD_XOP_COPY, id, &cp)))
			return st;
		id = cp;
		xv = &L->g->values[id];
	}
	if (L->n_ext == L->cap_ext) {
		uint32_t cap = L->cap_ext ? 2 * L->cap_ext : 8;
		int32_t *p = realloc(L->ext, cap * sizeof *p);
		if (!p)
			return oom(L);
		L->ext = p;
		L->cap_ext = cap;
	}
	xv->flags = INFD_XV_OUTPUT;
	xv->external = L->n_ext;
	L->ext[L->n_ext++] = v;
	L->g->n_externals = L->n_ext;
	return INFD_OK;
}

/* Drop the nodes whose results nothing reads (reshapes bypassed by later ones,
 * conversions no operator ended up using). Nodes are in execution order. */
static infd_status prune(struct low *L)
{
	struct infd_xgraph *g = L->g;
	bool *live = calloc(g->n_values ? g->n_values : 1, sizeof *live);
	if (!live)
		return oom(L);
	for (uint32_t v = 0; v < g->n_values; v++)
		live[v] = g->values[v].flags & INFD_XV_OUTPUT;
	for (uint32_t k = g->n_nodes; k-- > 0;) {
		const struct infd_xnode *n = &g->nodes[k];
		if (!live[n->out[0]])
			continue;
		for (uint32_t i = 0; i < n->n_in; i++)
			if (n->in[i] != NONE)
				live[n->in[i]] = true;
	}
	uint32_t j = 0;
	for (uint32_t k = 0; k < g->n_nodes; k++)
		if (live[g->nodes[k].out[0]])
			g->nodes[j++] = g->nodes[k];
	g->n_nodes = j;
	free(live);
	return INFD_OK;
}

infd_status infd__xlower_partition(const struct infd_partition_desc *part, struct infd_xgraph *g, int32_t **ext,
				   struct infd_error *err)
{
	const struct infd_method_def *def = part->method;
	struct low L = {.part = part, .def = def, .V = part->values, .g = g, .err = err};
	struct lcall *calls = calloc(part->n_instrs ? part->n_instrs : 1, sizeof *calls);
	L.f = calloc(def->n_values ? def->n_values : 1, sizeof *L.f);
	L.view_like = calloc(def->n_values ? def->n_values : 1, sizeof *L.view_like);
	L.written = calloc(part->n_instrs * (INFD_XMAX_INPUTS + 3) + 1, sizeof *L.written);
	infd_status st = INFD_OK;
	if (!calls || !L.f || !L.view_like || !L.written) {
		st = infd__fail(err, INFD_NO_MEMORY, "out of memory (lowering)");
		goto out_free;
	}
	for (uint32_t v = 0; v < def->n_values; v++) {
		L.f[v] = (struct form){.plain = NONE, .cl = NONE, .tsrc = -1};
		/* candidates for views: non-constant tensors with memory */
		const struct infd_evalue *e = &part->values[v];
		L.view_like[v] = e->kind == INFD_VALUE_TENSOR && e->u.t && e->u.t->data && !e->u.t->is_const;
	}
	/* views are tensors that no instruction writes, that are no method input,
	 * and that something reads */
	bool *read = calloc(def->n_values ? def->n_values : 1, sizeof *read);
	if (!read) {
		st = infd__fail(err, INFD_NO_MEMORY, "out of memory (lowering)");
		goto out_free;
	}
	for (uint32_t i = 0; i < def->n_inputs; i++)
		L.view_like[def->inputs[i]] = false;
	for (uint32_t i = 0; i < def->n_outputs; i++)
		read[def->outputs[i]] = true;
	for (uint32_t ch = 0; ch < def->n_chains; ch++)
		for (uint32_t k = 0; k < def->chains[ch].n_instrs; k++) {
			const struct infd_instr_def *in = &def->chains[ch].instrs[k];
			if (in->kind == INFD_INSTR_MOVE) {
				read[in->a] = true;
				L.view_like[in->b] = false;
			}
			if (in->kind == INFD_INSTR_JUMP_FALSE)
				read[in->a] = true;
			if ((in->kind != INFD_INSTR_KERNEL && in->kind != INFD_INSTR_DELEGATE) || !in->n_args)
				continue;
			for (uint32_t a = 0; a < in->n_args; a++) {
				int32_t v = in->args[a];
				const struct infd_value_def *vd = &def->values[v];
				read[v] = true;
				if (vd->kind == INFD_VALUE_TENSOR_LIST || vd->kind == INFD_VALUE_OPT_TENSOR_LIST)
					for (uint32_t i = 0; i < vd->u.list.count; i++)
						if (vd->u.list.indices[i] >= 0)
							read[vd->u.list.indices[i]] = true;
			}
			/* written: the return slot (a tensor, or a list of them); all of a delegate's */
			int32_t r = in->args[in->n_args - 1];
			const struct infd_value_def *rd = &def->values[r];
			if (in->kind == INFD_INSTR_DELEGATE) {
				for (uint32_t a = 0; a < in->n_args; a++)
					L.view_like[in->args[a]] = false;
			} else if (rd->kind == INFD_VALUE_TENSOR_LIST) {
				for (uint32_t i = 0; i < rd->u.list.count; i++)
					L.view_like[rd->u.list.indices[i]] = false;
			}
			L.view_like[r] = false;
		}
	L.views = calloc(def->n_values ? def->n_values : 1, sizeof *L.views);
	if (!L.views) {
		free(read);
		st = infd__fail(err, INFD_NO_MEMORY, "out of memory (lowering)");
		goto out_free;
	}
	for (uint32_t v = 0; v < def->n_values; v++)
		if ((L.view_like[v] &= read[v]))
			L.views[L.n_views++] = (int32_t)v;
	free(read);

	for (uint32_t k = 0; k < part->n_instrs; k++) {
		if (!parse(def, part->values, part->instrs[k], &calls[k])) {
			const struct infd_instr_def *in = part->instrs[k];
			st = infd__fail(err, INFD_UNSUPPORTED, "instruction %u (%s) cannot be lowered", part->first + k,
					in->kind == INFD_INSTR_KERNEL && in->a >= 0 && (uint32_t)in->a < def->n_operators
						? def->operators[in->a].key
						: "not a kernel call");
			goto out_free;
		}
		for (uint32_t i = 0; i < calls[k].n_x; i++)
			if (calls[k].x[i] >= 0)
				L.f[calls[k].x[i]].reads++;
	}
	for (uint32_t k = 0; k < part->n_instrs && !st; k++) {
		L.cur = part->first + k;
		st = lower_one(&L, &calls[k]);
		if (!st && calls[k].out >= 0)
			st = bind_output(&L, calls[k].out);
		for (uint32_t i = 0; i < calls[k].n_outs && !st; i++)
			st = bind_output(&L, calls[k].outs[i]);
		if (st)
			infd__fail_prefix(err, st, "instruction %u (%s): ", part->first + k, calls[k].op->key);
	}
	if (!st)
		st = prune(&L);
	if (!st) {
		g->n_externals = L.n_ext;
		*ext = L.ext ? L.ext : malloc(sizeof **ext);
		L.ext = NULL;
		if (!*ext)
			st = infd__fail(err, INFD_NO_MEMORY, "out of memory (lowering)");
	}
out_free:
	free(L.ext);
	free(L.written);
	free(L.view_like);
	free(L.views);
	free(L.f);
	free(calls);
	return st;
}
