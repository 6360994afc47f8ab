/* The XNNPACK backend's graph (xgraph.h): building it and checking it. The
 * graph may come from a hostile file (payload.c), so validation checks every
 * id, count, shape and size before the plan trusts any of them. */
#include "xgraph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest tensor we accept: 2^40 bytes keeps every size product far from overflow. */
#define XMAX_BYTES (UINT64_C(1) << 40)

void infd__xgraph_init(struct infd_xgraph *g)
{
	memset(g, 0, sizeof *g);
}

void infd__xgraph_free(struct infd_xgraph *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; i < g->n_values; i++)
		if (g->values[i].owned)
			free((void *)g->values[i].data);
	free(g->values);
	free(g->nodes);
	memset(g, 0, sizeof *g);
}

/* Grow an array of `size`-byte items to hold one more. */
static bool grow(void **items, uint32_t *cap, uint32_t n, size_t size)
{
	if (n < *cap)
		return true;
	if (n >= UINT32_MAX / 2)
		return false;
	uint32_t c = *cap ? *cap * 2 : 16;
	void *p = realloc(*items, (size_t)c * size);
	if (!p)
		return false;
	*items = p;
	*cap = c;
	return true;
}

infd_status infd__xgraph_add_value(struct infd_xgraph *g, const struct infd_xvalue *v, uint32_t *id,
				   struct infd_error *err)
{
	if (v->rank > INFD_XMAX_RANK)
		return infd__fail(err, INFD_BAD_FORMAT, "value %u: rank %u is over %d", g->n_values, v->rank,
				  INFD_XMAX_RANK);
	if (v->external != INFD_XNONE && v->external >= 65536)
		return infd__fail(err, INFD_BAD_FORMAT, "value %u: external id %u is too large", g->n_values,
				  v->external);
	if (g->n_values == INFD_XNONE - 1 ||
	    !grow((void **)&g->values, &g->cap_values, g->n_values, sizeof *g->values))
		return infd__fail(err, INFD_NO_MEMORY, "out of memory (graph values)");
	g->values[g->n_values] = *v;
	if (v->external != INFD_XNONE && v->external >= g->n_externals)
		g->n_externals = v->external + 1;
	*id = g->n_values++;
	return INFD_OK;
}

infd_status infd__xgraph_add_node(struct infd_xgraph *g, const struct infd_xnode *n, struct infd_error *err)
{
	uint32_t k = g->n_nodes;
	if (n->op < 1 || n->op >= INFD_XOP_COUNT_)
		return infd__fail(err, INFD_BAD_FORMAT, "node %u: unknown kind %u", k, n->op);
	if (n->n_in > INFD_XMAX_INPUTS)
		return infd__fail(err, INFD_BAD_FORMAT, "node %u (%s): %u inputs, at most %d", k,
				  infd__xop_name(n->op), n->n_in, INFD_XMAX_INPUTS);
	for (uint32_t i = 0; i < n->n_in; i++)
		if (n->in[i] != INFD_XNONE && n->in[i] >= g->n_values)
			return infd__fail(err, INFD_BAD_FORMAT, "node %u (%s): input %u names value %u of %u", k,
					  infd__xop_name(n->op), i, n->in[i], g->n_values);
	if (n->out[0] >= g->n_values)
		return infd__fail(err, INFD_BAD_FORMAT, "node %u (%s): output names value %u of %u", k,
				  infd__xop_name(n->op), n->out[0], g->n_values);
	if (g->n_nodes == INFD_XNONE - 1 || !grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes, sizeof *g->nodes))
		return infd__fail(err, INFD_NO_MEMORY, "out of memory (graph nodes)");
	g->nodes[g->n_nodes++] = *n;
	return INFD_OK;
}

const char *infd__xop_name(enum infd_xop op)
{
	switch (op) {
	case INFD_XOP_ADD: return "add";
	case INFD_XOP_SUBTRACT: return "subtract";
	case INFD_XOP_MULTIPLY: return "multiply";
	case INFD_XOP_DIVIDE: return "divide";
	case INFD_XOP_MAXIMUM: return "maximum";
	case INFD_XOP_MINIMUM: return "minimum";
	case INFD_XOP_PRELU: return "prelu";
	case INFD_XOP_CLAMP: return "clamp";
	case INFD_XOP_ABS: return "abs";
	case INFD_XOP_NEGATE: return "negate";
	case INFD_XOP_FLOOR: return "floor";
	case INFD_XOP_CEILING: return "ceiling";
	case INFD_XOP_SQUARE: return "square";
	case INFD_XOP_SQUARE_ROOT: return "square root";
	case INFD_XOP_RSQRT: return "reciprocal square root";
	case INFD_XOP_SIGMOID: return "sigmoid";
	case INFD_XOP_TANH: return "tanh";
	case INFD_XOP_GELU: return "gelu";
	case INFD_XOP_HARDSWISH: return "hardswish";
	case INFD_XOP_LEAKY_RELU: return "leaky relu";
	case INFD_XOP_ELU: return "elu";
	case INFD_XOP_EXP: return "exp";
	case INFD_XOP_LOG: return "log";
	case INFD_XOP_SIN: return "sin";
	case INFD_XOP_COS: return "cos";
	case INFD_XOP_COPY: return "copy";
	case INFD_XOP_CONVERT: return "convert";
	case INFD_XOP_SOFTMAX: return "softmax";
	case INFD_XOP_FULLY_CONNECTED: return "fully connected";
	case INFD_XOP_CONV2D: return "convolution 2d";
	case INFD_XOP_DEPTHWISE_CONV2D: return "depthwise convolution 2d";
	case INFD_XOP_DECONV2D: return "deconvolution 2d";
	case INFD_XOP_MAX_POOL2D: return "max pooling 2d";
	case INFD_XOP_AVG_POOL2D: return "average pooling 2d";
	case INFD_XOP_GLOBAL_AVG_POOL2D: return "global average pooling 2d";
	case INFD_XOP_STATIC_TRANSPOSE: return "static transpose";
	case INFD_XOP_STATIC_RESHAPE: return "static reshape";
	case INFD_XOP_STATIC_SLICE: return "static slice";
	case INFD_XOP_CONSTANT_PAD: return "constant pad";
	case INFD_XOP_RESIZE_BILINEAR: return "resize bilinear 2d";
	case INFD_XOP_CONCATENATE: return "concatenate";
	case INFD_XOP_BATCH_MATMUL: return "batch matrix multiply";
	case INFD_XOP_LAYER_NORM: return "layer norm";
	case INFD_XOP_COUNT_: break;
	}
	return "unknown";
}

/* ---- Validation ------------------------------------------------------------- */

/* What validation tracks while it walks the nodes in order. */
struct vstate {
	const struct infd_xgraph *g;
	struct infd_error *err;
	uint32_t k; /* node index */
	const struct infd_xnode *n;
	uint8_t *ready; /* per value: readable at this point (static, input or written) */
};

#define NODE_FAIL(s, ...) node_fail((s), __VA_ARGS__)

static infd_status node_fail(const struct vstate *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static infd_status node_fail(const struct vstate *s, const char *fmt, ...)
{
	char detail[INFD_ERROR_MSG_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	return infd__fail(s->err, INFD_BAD_FORMAT, "node %u (%s): %s", s->k, infd__xop_name(s->n->op), detail);
}

static uint64_t numel(const struct infd_xvalue *v)
{
	uint64_t n = 1;
	for (uint32_t i = 0; i < v->rank; i++)
		n *= v->dims[i];
	return n;
}

/* "[2,3,4]" into buf. */
static const char *dims_str(const struct infd_xvalue *v, char *buf, size_t size)
{
	size_t o = 0;
	o += (size_t)snprintf(buf + o, size - o, "[");
	for (uint32_t i = 0; i < v->rank && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, i ? ",%u" : "%u", v->dims[i]);
	if (o < size)
		snprintf(buf + o, size - o, "]");
	return buf;
}

static infd_status check_value(const struct infd_xgraph *g, uint32_t id, uint32_t *ext_seen, struct infd_error *err)
{
	const struct infd_xvalue *v = &g->values[id];
	if (v->dtype != INFD_XDT_FP32 && v->dtype != INFD_XDT_INT32)
		return infd__fail(err, INFD_UNSUPPORTED, "value %u: dtype %u (only fp32 and int32 are supported)", id,
				  v->dtype);
	if (v->rank > INFD_XMAX_RANK)
		return infd__fail(err, INFD_BAD_FORMAT, "value %u: rank %u is over %d", id, v->rank, INFD_XMAX_RANK);
	uint64_t n = 1;
	for (uint32_t i = 0; i < v->rank; i++) {
		if (v->dims[i] == 0)
			return infd__fail(err, INFD_UNSUPPORTED, "value %u: dim %u is 0 (empty tensors are not supported)",
					  id, i);
		n *= v->dims[i];
		if (n * 4 > XMAX_BYTES)
			return infd__fail(err, INFD_BAD_FORMAT, "value %u: more than %llu bytes", id,
					  (unsigned long long)XMAX_BYTES);
	}
	if (v->flags & ~(uint32_t)(INFD_XV_INPUT | INFD_XV_OUTPUT))
		return infd__fail(err, INFD_BAD_FORMAT, "value %u: unknown flags 0x%x", id, v->flags);
	if ((v->flags & INFD_XV_INPUT) && (v->flags & INFD_XV_OUTPUT))
		return infd__fail(err, INFD_BAD_FORMAT, "value %u: both an external input and an external output", id);
	if (v->flags) {
		if (v->external == INFD_XNONE || v->external >= g->n_externals)
			return infd__fail(err, INFD_BAD_FORMAT, "value %u: external id %u outside 0..%u", id, v->external,
					  g->n_externals ? g->n_externals - 1 : 0);
		if (ext_seen[v->external] != INFD_XNONE)
			return infd__fail(err, INFD_BAD_FORMAT, "value %u: external id %u is also value %u's", id,
					  v->external, ext_seen[v->external]);
		ext_seen[v->external] = id;
		if (v->data)
			return infd__fail(err, INFD_BAD_FORMAT, "value %u: external and static at once", id);
	} else if (v->external != INFD_XNONE) {
		return infd__fail(err, INFD_BAD_FORMAT, "value %u: external id %u without an input or output flag", id,
				  v->external);
	}
	return INFD_OK;
}

/* Operand `i` of the node: present, readable, of dtype `dt` (0: any). */
static infd_status need_in(const struct vstate *s, uint32_t i, uint8_t dt, const struct infd_xvalue **out)
{
	const struct infd_xnode *n = s->n;
	if (i >= n->n_in || n->in[i] == INFD_XNONE)
		return NODE_FAIL(s, "input %u is missing", i);
	uint32_t id = n->in[i];
	if (id >= s->g->n_values)
		return NODE_FAIL(s, "input %u names value %u of %u", i, id, s->g->n_values);
	if (!s->ready[id])
		return NODE_FAIL(s, "input %u reads value %u before anything writes it", i, id);
	const struct infd_xvalue *v = &s->g->values[id];
	if (dt && v->dtype != dt)
		return NODE_FAIL(s, "input %u (value %u) is %s, expected %s", i, id,
				 v->dtype == INFD_XDT_FP32 ? "fp32" : "int32", dt == INFD_XDT_FP32 ? "fp32" : "int32");
	*out = v;
	return INFD_OK;
}

/* Optional operand: NULL when absent (INFD_XNONE or beyond n_in). */
static infd_status opt_in(const struct vstate *s, uint32_t i, const struct infd_xvalue **out)
{
	*out = NULL;
	if (i >= s->n->n_in || s->n->in[i] == INFD_XNONE)
		return INFD_OK;
	return need_in(s, i, INFD_XDT_FP32, out);
}

static infd_status need_static(const struct vstate *s, uint32_t i, const struct infd_xvalue *v, const char *what)
{
	if (!v->data)
		return NODE_FAIL(s, "the %s (value %u) must be static data", what, s->n->in[i]);
	return INFD_OK;
}

static infd_status want_out_dims(const struct vstate *s, const struct infd_xvalue *o, uint32_t rank,
				 const uint64_t *dims)
{
	bool ok = o->rank == rank;
	for (uint32_t i = 0; ok && i < rank; i++)
		ok = o->dims[i] == dims[i];
	if (ok)
		return INFD_OK;
	char have[96], want[96] = "[";
	size_t w = 1;
	for (uint32_t i = 0; i < rank && w < sizeof want; i++)
		w += (size_t)snprintf(want + w, sizeof want - w, i ? ",%llu" : "%llu", (unsigned long long)dims[i]);
	if (w < sizeof want)
		snprintf(want + w, sizeof want - w, "]");
	return NODE_FAIL(s, "output (value %u) is %s, expected %s", s->n->out[0], dims_str(o, have, sizeof have), want);
}

static infd_status want_same(const struct vstate *s, const struct infd_xvalue *o, const struct infd_xvalue *x)
{
	uint64_t d[INFD_XMAX_RANK];
	for (uint32_t i = 0; i < x->rank; i++)
		d[i] = x->dims[i];
	return want_out_dims(s, o, x->rank, d);
}

static infd_status check_binary(const struct vstate *s, const struct infd_xvalue *o)
{
	const struct infd_xvalue *a, *b;
	infd_status st;
	if ((st = need_in(s, 0, INFD_XDT_FP32, &a)) || (st = need_in(s, 1, INFD_XDT_FP32, &b)))
		return st;
	uint32_t r = a->rank > b->rank ? a->rank : b->rank;
	uint64_t d[INFD_XMAX_RANK];
	for (uint32_t i = 0; i < r; i++) {
		uint32_t da = i + a->rank >= r ? a->dims[i + a->rank - r] : 1;
		uint32_t db = i + b->rank >= r ? b->dims[i + b->rank - r] : 1;
		if (da != db && da != 1 && db != 1) {
			char x[96], y[96];
			return NODE_FAIL(s, "inputs %s and %s do not broadcast (dim %u: %u vs %u)",
					 dims_str(a, x, sizeof x), dims_str(b, y, sizeof y), i, da, db);
		}
		d[i] = da > db ? da : db;
	}
	return want_out_dims(s, o, r, d);
}

/* Output size of a window sliding over `in` (padded by lo+hi) with the given
 * kernel, stride and dilation; 0 when the window does not fit. */
static uint64_t window_out(uint64_t in, uint64_t lo, uint64_t hi, uint64_t kernel, uint64_t stride, uint64_t dil)
{
	uint64_t eff = dil * (kernel - 1) + 1, padded = in + lo + hi;
	if (padded < eff)
		return 0;
	return (padded - eff) / stride + 1;
}

static infd_status check_conv(const struct vstate *s, const struct infd_xvalue *o)
{
	const struct infd_xnode *n = s->n;
	const struct infd_xconv *c = &n->p.conv;
	const struct infd_xvalue *x, *w, *b;
	infd_status st;
	if ((st = need_in(s, 0, INFD_XDT_FP32, &x)) || (st = need_in(s, 1, INFD_XDT_FP32, &w)) ||
	    (st = opt_in(s, 2, &b)) || (st = need_static(s, 1, w, "filter")))
		return st;
	if (b && (st = need_static(s, 2, b, "bias")))
		return st;
	if (x->rank != 4)
		return NODE_FAIL(s, "input (value %u) has rank %u, expected 4 (NHWC)", n->in[0], x->rank);
	if (w->rank != 4)
		return NODE_FAIL(s, "filter (value %u) has rank %u, expected 4", n->in[1], w->rank);
	if (!c->kernel_h || !c->kernel_w || !c->stride_h || !c->stride_w || !c->dilation_h || !c->dilation_w ||
	    !c->groups || !c->group_in || !c->group_out)
		return NODE_FAIL(s, "kernel, stride, dilation, groups and channels per group must all be at least 1 "
				    "(kernel %ux%u, stride %ux%u, dilation %ux%u, groups %u, %u in / %u out per group)",
				 c->kernel_h, c->kernel_w, c->stride_h, c->stride_w, c->dilation_h, c->dilation_w, c->groups,
				 c->group_in, c->group_out);
	uint64_t cin = (uint64_t)c->groups * c->group_in, cout = (uint64_t)c->groups * c->group_out;
	if (x->dims[3] != cin)
		return NODE_FAIL(s, "input has %u channels, groups x channels per group = %u x %u", x->dims[3], c->groups,
				 c->group_in);
	char fd[96];
	if (n->op == INFD_XOP_DEPTHWISE_CONV2D) {
		if (c->group_in != 1)
			return NODE_FAIL(s, "depthwise convolution takes 1 input channel per group, not %u", c->group_in);
		if (w->dims[0] != 1 || w->dims[1] != c->kernel_h || w->dims[2] != c->kernel_w || w->dims[3] != cout)
			return NODE_FAIL(s, "filter is %s, expected [1,%u,%u,%llu]", dims_str(w, fd, sizeof fd),
					 c->kernel_h, c->kernel_w, (unsigned long long)cout);
	} else if (w->dims[0] != cout || w->dims[1] != c->kernel_h || w->dims[2] != c->kernel_w ||
		   w->dims[3] != c->group_in) {
		return NODE_FAIL(s, "filter is %s, expected [%llu,%u,%u,%u]", dims_str(w, fd, sizeof fd),
				 (unsigned long long)cout, c->kernel_h, c->kernel_w, c->group_in);
	}
	if (b && numel(b) != cout)
		return NODE_FAIL(s, "bias has %llu elements, expected %llu", (unsigned long long)numel(b),
				 (unsigned long long)cout);
	uint64_t d[4] = {x->dims[0], 0, 0, cout};
	if (n->op == INFD_XOP_DECONV2D) {
		if (c->adjustment_h >= c->stride_h || c->adjustment_w >= c->stride_w)
			return NODE_FAIL(s, "adjustment %ux%u must be below the stride %ux%u", c->adjustment_h,
					 c->adjustment_w, c->stride_h, c->stride_w);
		int64_t oh = (int64_t)c->stride_h * (x->dims[1] - 1) + c->adjustment_h +
			     (int64_t)c->dilation_h * (c->kernel_h - 1) + 1 - c->pad_top - c->pad_bottom;
		int64_t ow = (int64_t)c->stride_w * (x->dims[2] - 1) + c->adjustment_w +
			     (int64_t)c->dilation_w * (c->kernel_w - 1) + 1 - c->pad_left - c->pad_right;
		if (oh < 1 || ow < 1)
			return NODE_FAIL(s, "padding leaves an empty output (%lldx%lld)", (long long)oh, (long long)ow);
		d[1] = (uint64_t)oh;
		d[2] = (uint64_t)ow;
	} else {
		d[1] = window_out(x->dims[1], c->pad_top, c->pad_bottom, c->kernel_h, c->stride_h, c->dilation_h);
		d[2] = window_out(x->dims[2], c->pad_left, c->pad_right, c->kernel_w, c->stride_w, c->dilation_w);
		if (!d[1] || !d[2])
			return NODE_FAIL(s, "the %ux%u kernel (dilation %ux%u) does not fit the padded %ux%u input",
					 c->kernel_h, c->kernel_w, c->dilation_h, c->dilation_w, x->dims[1], x->dims[2]);
	}
	return want_out_dims(s, o, 4, d);
}

static infd_status check_pool(const struct vstate *s, const struct infd_xvalue *o)
{
	const struct infd_xnode *n = s->n;
	const struct infd_xpool *p = &n->p.pool;
	const struct infd_xvalue *x;
	infd_status st = need_in(s, 0, INFD_XDT_FP32, &x);
	if (st)
		return st;
	if (x->rank != 4)
		return NODE_FAIL(s, "input (value %u) has rank %u, expected 4 (NHWC)", n->in[0], x->rank);
	uint32_t dh = p->dilation_h, dw = p->dilation_w;
	if (n->op == INFD_XOP_AVG_POOL2D) { /* no dilation in average pooling: 0 reads as 1 */
		dh = dh ? dh : 1;
		dw = dw ? dw : 1;
		if (dh != 1 || dw != 1)
			return NODE_FAIL(s, "average pooling has no dilation (got %ux%u)", dh, dw);
	}
	if (!p->pool_h || !p->pool_w || !p->stride_h || !p->stride_w || !dh || !dw)
		return NODE_FAIL(s, "pool size, stride and dilation must be at least 1 (pool %ux%u, stride %ux%u, "
				    "dilation %ux%u)",
				 p->pool_h, p->pool_w, p->stride_h, p->stride_w, dh, dw);
	/* each padding below the (dilated) window: every window then sees input */
	uint64_t eh = (uint64_t)dh * (p->pool_h - 1) + 1, ew = (uint64_t)dw * (p->pool_w - 1) + 1;
	if (p->pad_top >= eh || p->pad_bottom >= eh || p->pad_left >= ew || p->pad_right >= ew)
		return NODE_FAIL(s, "padding %u,%u,%u,%u (top, right, bottom, left) is not smaller than the %llux%llu "
				    "window",
				 p->pad_top, p->pad_right, p->pad_bottom, p->pad_left, (unsigned long long)eh,
				 (unsigned long long)ew);
	uint64_t d[4] = {x->dims[0], window_out(x->dims[1], p->pad_top, p->pad_bottom, p->pool_h, p->stride_h, dh),
			 window_out(x->dims[2], p->pad_left, p->pad_right, p->pool_w, p->stride_w, dw), x->dims[3]};
	if (!d[1] || !d[2])
		return NODE_FAIL(s, "the %ux%u window does not fit the padded %ux%u input", p->pool_h, p->pool_w,
				 x->dims[1], x->dims[2]);
	return want_out_dims(s, o, 4, d);
}

static infd_status check_fc(const struct vstate *s, const struct infd_xvalue *o)
{
	const struct infd_xnode *n = s->n;
	const struct infd_xvalue *x, *w, *b;
	infd_status st;
	if ((st = need_in(s, 0, INFD_XDT_FP32, &x)) || (st = need_in(s, 1, INFD_XDT_FP32, &w)) ||
	    (st = opt_in(s, 2, &b)) || (st = need_static(s, 1, w, "filter")))
		return st;
	if (b && (st = need_static(s, 2, b, "bias")))
		return st;
	if (w->rank != 2)
		return NODE_FAIL(s, "filter (value %u) has rank %u, expected 2", n->in[1], w->rank);
	bool tw = n->flags & INFD_XFLAG_TRANSPOSE_WEIGHTS;
	uint32_t ic = tw ? w->dims[0] : w->dims[1], oc = tw ? w->dims[1] : w->dims[0];
	if (x->rank < 1 || x->dims[x->rank - 1] != ic)
		return NODE_FAIL(s, "input's last dim must be the filter's %u input channels (filter [%u,%u]%s)", ic,
				 w->dims[0], w->dims[1], tw ? ", transposed" : "");
	if (b && numel(b) != oc)
		return NODE_FAIL(s, "bias has %llu elements, expected %u", (unsigned long long)numel(b), oc);
	uint64_t d[INFD_XMAX_RANK];
	/* Same leading dims as the input, or the input flattened to [rows, IC]. */
	if (o->rank == 2 && x->rank != 2) {
		d[0] = numel(x) / ic;
		d[1] = oc;
		return want_out_dims(s, o, 2, d);
	}
	for (uint32_t i = 0; i + 1 < x->rank; i++)
		d[i] = x->dims[i];
	d[x->rank - 1] = oc;
	return want_out_dims(s, o, x->rank, d);
}

static infd_status check_bmm(const struct vstate *s, const struct infd_xvalue *o)
{
	const struct infd_xvalue *a, *b;
	infd_status st;
	if ((st = need_in(s, 0, INFD_XDT_FP32, &a)) || (st = need_in(s, 1, INFD_XDT_FP32, &b)))
		return st;
	if (a->rank < 2 || b->rank < 2)
		return NODE_FAIL(s, "operands must have rank 2 or more (got %u and %u)", a->rank, b->rank);
	uint32_t m = a->dims[a->rank - 2], k = a->dims[a->rank - 1];
	if (b->dims[b->rank - 2] != k) {
		char x[96], y[96];
		return NODE_FAIL(s, "%s x %s: inner dims differ", dims_str(a, x, sizeof x), dims_str(b, y, sizeof y));
	}
	uint32_t ba = a->rank - 2, bb = b->rank - 2, r = ba > bb ? ba : bb;
	uint64_t d[INFD_XMAX_RANK];
	for (uint32_t i = 0; i < r; i++) {
		uint32_t da = i + ba >= r ? a->dims[i + ba - r] : 1, db = i + bb >= r ? b->dims[i + bb - r] : 1;
		if (da != db && da != 1 && db != 1)
			return NODE_FAIL(s, "batch dim %u does not broadcast (%u vs %u)", i, da, db);
		d[i] = da > db ? da : db;
	}
	d[r] = m;
	d[r + 1] = b->dims[b->rank - 1];
	return want_out_dims(s, o, r + 2, d);
}

static infd_status check_layer_norm(const struct vstate *s, const struct infd_xvalue *o)
{
	const struct infd_xvalue *x, *w, *b;
	infd_status st;
	if ((st = need_in(s, 0, INFD_XDT_FP32, &x)) || (st = opt_in(s, 1, &w)) || (st = opt_in(s, 2, &b)))
		return st;
	if (x->rank < 1)
		return NODE_FAIL(s, "input must have rank 1 or more");
	uint32_t c = x->dims[x->rank - 1];
	if ((w && numel(w) != c) || (b && numel(b) != c))
		return NODE_FAIL(s, "weight and bias must have the %u elements of the last dim", c);
	if (!(s->n->p.eps >= 0.0f) || isinf(s->n->p.eps))
		return NODE_FAIL(s, "epsilon %g is not a finite non-negative number", (double)s->n->p.eps);
	return want_same(s, o, x);
}

static infd_status check_concat(const struct vstate *s, const struct infd_xvalue *o)
{
	const struct infd_xnode *n = s->n;
	if (n->n_in < 1)
		return NODE_FAIL(s, "no inputs");
	uint32_t ax = n->p.axis;
	if (ax >= o->rank)
		return NODE_FAIL(s, "axis %u is outside the output's rank %u", ax, o->rank);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n->n_in; i++) {
		const struct infd_xvalue *x;
		infd_status st = need_in(s, i, o->dtype, &x);
		if (st)
			return st;
		if (x->rank != o->rank)
			return NODE_FAIL(s, "input %u has rank %u, the output %u", i, x->rank, o->rank);
		for (uint32_t d = 0; d < o->rank; d++)
			if (d != ax && x->dims[d] != o->dims[d])
				return NODE_FAIL(s, "input %u has %u in dim %u, the output %u", i, x->dims[d], d, o->dims[d]);
		sum += x->dims[ax];
	}
	if (sum != o->dims[ax])
		return NODE_FAIL(s, "inputs add up to %llu along axis %u, the output has %u", (unsigned long long)sum, ax,
				 o->dims[ax]);
	return INFD_OK;
}

static infd_status check_node(struct vstate *s)
{
	const struct infd_xnode *n = s->n;
	const struct infd_xgraph *g = s->g;
	static const uint8_t fixed_in[INFD_XOP_COUNT_] = {
		[INFD_XOP_ADD] = 2, [INFD_XOP_SUBTRACT] = 2, [INFD_XOP_MULTIPLY] = 2, [INFD_XOP_DIVIDE] = 2,
		[INFD_XOP_MAXIMUM] = 2, [INFD_XOP_MINIMUM] = 2, [INFD_XOP_PRELU] = 2, [INFD_XOP_BATCH_MATMUL] = 2,
	};
	if (n->op < 1 || n->op >= INFD_XOP_COUNT_)
		return infd__fail(s->err, INFD_BAD_FORMAT, "node %u: unknown kind %u", s->k, n->op);
	if (n->n_in > INFD_XMAX_INPUTS)
		return NODE_FAIL(s, "%u inputs, at most %d", n->n_in, INFD_XMAX_INPUTS);
	uint32_t want = fixed_in[n->op];
	switch ((enum infd_xop)n->op) {
	case INFD_XOP_FULLY_CONNECTED:
	case INFD_XOP_CONV2D:
	case INFD_XOP_DEPTHWISE_CONV2D:
	case INFD_XOP_DECONV2D:
	case INFD_XOP_LAYER_NORM:
		if (n->n_in < 2 || n->n_in > 3)
			return NODE_FAIL(s, "takes 2 or 3 inputs, has %u", n->n_in);
		break;
	case INFD_XOP_CONCATENATE:
		break;
	default:
		if (!want)
			want = 1;
		if (n->n_in != want)
			return NODE_FAIL(s, "takes %u input%s, has %u", want, want == 1 ? "" : "s", n->n_in);
	}
	for (uint32_t i = 0; i < n->n_in; i++)
		if (n->in[i] != INFD_XNONE && n->in[i] >= g->n_values)
			return NODE_FAIL(s, "input %u names value %u of %u", i, n->in[i], g->n_values);
	uint32_t oid = n->out[0];
	if (oid >= g->n_values)
		return NODE_FAIL(s, "output names value %u of %u", oid, g->n_values);
	const struct infd_xvalue *o = &g->values[oid];
	if (o->data)
		return NODE_FAIL(s, "output value %u is static data", oid);
	if (o->flags & INFD_XV_INPUT)
		return NODE_FAIL(s, "output value %u is an external input", oid);
	if (s->ready[oid])
		return NODE_FAIL(s, "output value %u is already written by an earlier node", oid);
	for (uint32_t i = 0; i < n->n_in; i++)
		if (n->in[i] == oid)
			return NODE_FAIL(s, "input %u is also the output (value %u)", i, oid);
	if (!(n->out_min <= n->out_max))
		return NODE_FAIL(s, "output bounds [%g, %g] are empty or not numbers", (double)n->out_min,
				 (double)n->out_max);
	bool clamps = n->out_min > -INFINITY || n->out_max < INFINITY;
	uint8_t odt = n->op == INFD_XOP_CONVERT || n->op == INFD_XOP_COPY || n->op == INFD_XOP_STATIC_RESHAPE ||
				      n->op == INFD_XOP_STATIC_TRANSPOSE || n->op == INFD_XOP_STATIC_SLICE ||
				      n->op == INFD_XOP_CONCATENATE || n->op == INFD_XOP_CONSTANT_PAD
			      ? 0
			      : INFD_XDT_FP32;
	if (odt && o->dtype != odt)
		return NODE_FAIL(s, "output value %u must be fp32", oid);
	if (clamps && o->dtype != INFD_XDT_FP32)
		return NODE_FAIL(s, "output bounds on an int32 output");

	const struct infd_xvalue *x;
	infd_status st = INFD_OK;
	switch ((enum infd_xop)n->op) {
	case INFD_XOP_ADD:
	case INFD_XOP_SUBTRACT:
	case INFD_XOP_MULTIPLY:
	case INFD_XOP_DIVIDE:
	case INFD_XOP_MAXIMUM:
	case INFD_XOP_MINIMUM:
		st = check_binary(s, o);
		break;
	case INFD_XOP_PRELU: {
		const struct infd_xvalue *w;
		if ((st = need_in(s, 0, INFD_XDT_FP32, &x)) || (st = need_in(s, 1, INFD_XDT_FP32, &w)) ||
		    (st = need_static(s, 1, w, "slope")))
			break;
		uint64_t c = x->rank ? x->dims[x->rank - 1] : 1;
		if (numel(w) != c && numel(w) != 1)
			st = NODE_FAIL(s, "slope has %llu elements, expected 1 or the %llu channels",
				       (unsigned long long)numel(w), (unsigned long long)c);
		else
			st = want_same(s, o, x);
		break;
	}
	case INFD_XOP_LEAKY_RELU:
	case INFD_XOP_ELU:
		if (!isfinite(n->p.alpha)) {
			st = NODE_FAIL(s, "alpha %g is not finite", (double)n->p.alpha);
			break;
		}
		/* fall through */
	case INFD_XOP_CLAMP:
	case INFD_XOP_ABS:
	case INFD_XOP_NEGATE:
	case INFD_XOP_FLOOR:
	case INFD_XOP_CEILING:
	case INFD_XOP_SQUARE:
	case INFD_XOP_SQUARE_ROOT:
	case INFD_XOP_RSQRT:
	case INFD_XOP_SIGMOID:
	case INFD_XOP_TANH:
	case INFD_XOP_GELU:
	case INFD_XOP_HARDSWISH:
	case INFD_XOP_EXP:
	case INFD_XOP_LOG:
	case INFD_XOP_SIN:
	case INFD_XOP_COS:
		if (!(st = need_in(s, 0, INFD_XDT_FP32, &x)))
			st = want_same(s, o, x);
		break;
	case INFD_XOP_SOFTMAX:
		if (!(st = need_in(s, 0, INFD_XDT_FP32, &x))) {
			if (x->rank < 1)
				st = NODE_FAIL(s, "input must have rank 1 or more");
			else
				st = want_same(s, o, x);
		}
		break;
	case INFD_XOP_COPY:
		if (!(st = need_in(s, 0, o->dtype, &x)))
			st = want_same(s, o, x);
		break;
	case INFD_XOP_CONVERT:
		if (!(st = need_in(s, 0, 0, &x)))
			st = want_same(s, o, x);
		break;
	case INFD_XOP_FULLY_CONNECTED:
		st = check_fc(s, o);
		break;
	case INFD_XOP_CONV2D:
	case INFD_XOP_DEPTHWISE_CONV2D:
	case INFD_XOP_DECONV2D:
		st = check_conv(s, o);
		break;
	case INFD_XOP_MAX_POOL2D:
	case INFD_XOP_AVG_POOL2D:
		st = check_pool(s, o);
		break;
	case INFD_XOP_GLOBAL_AVG_POOL2D: {
		if ((st = need_in(s, 0, INFD_XDT_FP32, &x)))
			break;
		if (x->rank < 3) {
			st = NODE_FAIL(s, "input has rank %u, expected 3 or more ([..., H, W, C])", x->rank);
			break;
		}
		uint64_t d[INFD_XMAX_RANK];
		uint32_t r = x->rank;
		for (uint32_t i = 0; i < r; i++)
			d[i] = x->dims[i];
		if (o->rank == r) { /* keep dims */
			d[r - 3] = d[r - 2] = 1;
		} else {
			d[r - 3] = d[r - 1];
			r -= 2;
		}
		st = want_out_dims(s, o, r, d);
		break;
	}
	case INFD_XOP_STATIC_TRANSPOSE: {
		if ((st = need_in(s, 0, o->dtype, &x)))
			break;
		uint64_t d[INFD_XMAX_RANK];
		uint32_t seen = 0;
		for (uint32_t i = 0; i < x->rank; i++) {
			uint32_t p = n->p.shape.perm[i];
			if (p >= x->rank || (seen & (1u << p))) {
				st = NODE_FAIL(s, "perm is not a permutation of 0..%u (entry %u is %u)", x->rank - 1, i, p);
				break;
			}
			seen |= 1u << p;
			d[i] = x->dims[p];
		}
		if (!st)
			st = want_out_dims(s, o, x->rank, d);
		break;
	}
	case INFD_XOP_STATIC_RESHAPE:
		if ((st = need_in(s, 0, o->dtype, &x)))
			break;
		if (numel(x) != numel(o)) {
			char a[96], b[96];
			st = NODE_FAIL(s, "%s and %s have different element counts", dims_str(x, a, sizeof a),
				       dims_str(o, b, sizeof b));
		}
		break;
	case INFD_XOP_STATIC_SLICE: {
		if ((st = need_in(s, 0, o->dtype, &x)))
			break;
		uint64_t d[INFD_XMAX_RANK];
		for (uint32_t i = 0; i < x->rank && !st; i++) {
			uint64_t off = n->p.slice.offsets[i], sz = n->p.slice.sizes[i];
			if (sz == 0 || off + sz > x->dims[i])
				st = NODE_FAIL(s, "dim %u: offset %llu + size %llu is outside 1..%u", i,
					       (unsigned long long)off, (unsigned long long)sz, x->dims[i]);
			d[i] = sz;
		}
		if (!st)
			st = want_out_dims(s, o, x->rank, d);
		break;
	}
	case INFD_XOP_CONSTANT_PAD: {
		if ((st = need_in(s, 0, o->dtype, &x)))
			break;
		uint64_t d[INFD_XMAX_RANK];
		for (uint32_t i = 0; i < x->rank; i++)
			d[i] = (uint64_t)x->dims[i] + n->p.pad.pre[i] + n->p.pad.post[i];
		if (o->dtype == INFD_XDT_INT32 && !(fabsf(n->p.pad.value) < 2147483648.0f))
			st = NODE_FAIL(s, "padding value %g does not fit int32", (double)n->p.pad.value);
		else if (isnan(n->p.pad.value) && o->dtype == INFD_XDT_INT32)
			st = NODE_FAIL(s, "padding value is not a number");
		else
			st = want_out_dims(s, o, x->rank, d);
		break;
	}
	case INFD_XOP_RESIZE_BILINEAR:
		if ((st = need_in(s, 0, INFD_XDT_FP32, &x)))
			break;
		if (x->rank != 4) {
			st = NODE_FAIL(s, "input has rank %u, expected 4 (NHWC)", x->rank);
			break;
		}
		if (!n->p.resize.new_h || !n->p.resize.new_w) {
			st = NODE_FAIL(s, "new size %ux%u is empty", n->p.resize.new_h, n->p.resize.new_w);
			break;
		}
		st = want_out_dims(s, o, 4,
				   (const uint64_t[4]){x->dims[0], n->p.resize.new_h, n->p.resize.new_w, x->dims[3]});
		break;
	case INFD_XOP_CONCATENATE:
		st = check_concat(s, o);
		break;
	case INFD_XOP_BATCH_MATMUL:
		st = check_bmm(s, o);
		break;
	case INFD_XOP_LAYER_NORM:
		st = check_layer_norm(s, o);
		break;
	case INFD_XOP_COUNT_:
		break;
	}
	if (st)
		return st;
	s->ready[oid] = 1;
	return INFD_OK;
}

infd_status infd__xgraph_validate(const struct infd_xgraph *g, struct infd_error *err)
{
	if (g->n_values && !g->values)
		return infd__fail(err, INFD_INTERNAL, "graph has values but no value table");
	if (g->n_nodes && !g->nodes)
		return infd__fail(err, INFD_INTERNAL, "graph has nodes but no node table");
	if (g->n_externals > 65536)
		return infd__fail(err, INFD_BAD_FORMAT, "%u externals (at most 65536)", g->n_externals);
	uint8_t *ready = calloc(g->n_values ? g->n_values : 1, 1);
	uint32_t *ext_seen = malloc((g->n_externals ? g->n_externals : 1) * sizeof *ext_seen);
	infd_status st = INFD_OK;
	if (!ready || !ext_seen) {
		st = infd__fail(err, INFD_NO_MEMORY, "out of memory (validation)");
		goto out_free;
	}
	for (uint32_t k = 0; k < g->n_externals; k++)
		ext_seen[k] = INFD_XNONE;
	for (uint32_t i = 0; i < g->n_values && !st; i++) {
		st = check_value(g, i, ext_seen, err);
		ready[i] = g->values[i].data || (g->values[i].flags & INFD_XV_INPUT);
	}
	for (uint32_t k = 0; k < g->n_externals && !st; k++)
		if (ext_seen[k] == INFD_XNONE)
			st = infd__fail(err, INFD_BAD_FORMAT, "external %u of 0..%u is no value's", k, g->n_externals - 1);
	struct vstate s = {.g = g, .err = err, .ready = ready};
	for (uint32_t k = 0; k < g->n_nodes && !st; k++) {
		s.k = k;
		s.n = &g->nodes[k];
		st = check_node(&s);
	}
	for (uint32_t i = 0; i < g->n_values && !st; i++)
		if ((g->values[i].flags & INFD_XV_OUTPUT) && !ready[i])
			st = infd__fail(err, INFD_BAD_FORMAT, "value %u is an external output (external %u) no node writes",
					i, g->values[i].external);
out_free:
	free(ready);
	free(ext_seen);
	return st;
}
