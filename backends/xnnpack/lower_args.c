/* Operators the XNNPACK lowering knows (keys, schema sizes, node kinds) and the
 * argument checks that turn an instruction into a struct lcall. One parser serves
 * both infd__xlower_supports() and the lowering, so the two always agree. */
#include "backends/xnnpack/lower_internal.h"

#include <math.h>
#include <string.h>

#define MAXR INFD_XMAX_RANK

/* ---- Operators ------------------------------------------------------------- */

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

/* A constant fp32 tensor (weights). */
static const struct infd_tensor *ctensor(const struct infd_evalue *values, int32_t v)
{
	const struct infd_tensor *t = ftensor(values, v);
	return t && infd__xl_is_const(t) ? t : NULL;
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
					if (infd__value_mentions(def, in->args[a], v))
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
bool infd__xl_parse(const struct infd_method_def *def, const struct infd_evalue *V, const struct infd_instr_def *in,
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
	return infd__xl_parse(def, values, in, &c);
}
