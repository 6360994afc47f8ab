/* Compiling an XNNPACK backend graph into steps (xgraph.h): maximal runs of
 * nodes XNNPACK supports become one xnn_runtime each (weights packed once, at
 * compile), the others run our own kernels (xown.c), and GEMM-shaped nodes
 * whose shape says it wins run the runtime's SGEMM. Values that cross steps live in one
 * arena laid out at compile; externals are bound per execute. */
#include "xgraph.h"

#include <math.h>
#include <pthread.h>
#include <pthreadpool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xnnpack.h>

#include "backends/xnnpack/xown.h"

#define ALIGN 64
#define DEAD UINT32_MAX

struct xstep {
	bool xnn;
	uint32_t first, count; /* nodes [first, first + count) */
	xnn_runtime_t rt;
	uint32_t n_ext;
	uint32_t *ext_value; /* graph value of each XNNPACK external id */
	void **bound;        /* pointers given to the last xnn_setup_runtime */
	bool set_up;
	struct infd_xgemm *gemm; /* own step run on the SGEMM, else NULL */
};

struct infd_xplan {
	const struct infd_xgraph *g;
	pthreadpool_t pool;
	uint32_t n_steps;
	struct xstep *steps;
	void **data;        /* memory of each value at execute (NULL: inside XNNPACK) */
	uint8_t *arena;     /* values crossing steps */
	void *scratch;      /* own kernels' scratch */
	uint8_t *stage;     /* copies of inputs that end too near a page end for XNNPACK */
	size_t *stage_off;  /* per value: offset in stage, or SIZE_MAX */
	void **static_copy; /* per value: padded copy of static data, or NULL */
	uint32_t *step_of;  /* per node: its step, or DEAD (nothing reads its result) */
	size_t page;
	uint32_t n_xnn, n_own;
};

/* ---- XNNPACK start-up ----------------------------------------------------------- */

static pthread_once_t xnn_once = PTHREAD_ONCE_INIT;
static enum xnn_status xnn_init_status = xnn_status_uninitialized;

static void xnn_init(void)
{
	xnn_init_status = xnn_initialize(NULL);
}

/* ---- Small helpers ------------------------------------------------------------------ */

static uint64_t numel(const struct infd_xvalue *v)
{
	uint64_t n = 1;
	for (uint32_t i = 0; i < v->rank; i++)
		n *= v->dims[i];
	return n;
}

static size_t nbytes(const struct infd_xvalue *v)
{
	return (size_t)numel(v) * 4;
}

static size_t round_up_sz(size_t x, size_t m)
{
	return (x + m - 1) / m * m;
}

static bool clamps(const struct infd_xnode *n)
{
	return n->out_min > -INFINITY || n->out_max < INFINITY;
}

/* Does this memory end so near a page end that XNNPACK's over-read (up to
 * XNN_EXTRA_BYTES past the end) could touch the next page? */
static bool near_page_end(const void *p, size_t size, size_t page)
{
	uintptr_t last = (uintptr_t)p + (size ? size : 1) - 1;
	return page - 1 - (last & (page - 1)) < XNN_EXTRA_BYTES;
}

/* Can XNNPACK run this node as it is? Others run our own code. */
static bool xnn_can(const struct infd_xgraph *g, const struct infd_xnode *n)
{
	const struct infd_xvalue *o = &g->values[n->out[0]];
	if (o->dtype != INFD_XDT_FP32)
		return false;
	for (uint32_t i = 0; i < n->n_in; i++)
		if (n->in[i] != INFD_XNONE && g->values[n->in[i]].dtype != INFD_XDT_FP32)
			return false;
	if (clamps(n) && !(n->out_min < n->out_max)) /* XNNPACK refuses an empty output range */
		return !infd__xown_has(n->op);
	const struct infd_xvalue *x = &g->values[n->in[0]];
	switch ((enum infd_xop)n->op) {
	case INFD_XOP_ADD:
	case INFD_XOP_SUBTRACT:
	case INFD_XOP_MULTIPLY:
	case INFD_XOP_DIVIDE:
	case INFD_XOP_MAXIMUM:
	case INFD_XOP_MINIMUM:
	case INFD_XOP_CLAMP:
	case INFD_XOP_ABS:
	case INFD_XOP_NEGATE:
	case INFD_XOP_FLOOR:
	case INFD_XOP_CEILING:
	case INFD_XOP_SQUARE:
	case INFD_XOP_SQUARE_ROOT:
	case INFD_XOP_SIGMOID:
	case INFD_XOP_HARDSWISH:
	case INFD_XOP_LEAKY_RELU:
	case INFD_XOP_ELU:
	case INFD_XOP_SOFTMAX:
	case INFD_XOP_FULLY_CONNECTED:
	case INFD_XOP_CONV2D:
	case INFD_XOP_DEPTHWISE_CONV2D:
	case INFD_XOP_DECONV2D:
	case INFD_XOP_STATIC_RESHAPE:
	case INFD_XOP_CONSTANT_PAD:
	case INFD_XOP_RESIZE_BILINEAR:
		return true;
	case INFD_XOP_PRELU: {
		const struct infd_xvalue *w = &g->values[n->in[1]];
		return x->rank == 4 && w->rank == 1 && w->dims[0] == x->dims[3];
	}
	case INFD_XOP_MAX_POOL2D:
	case INFD_XOP_AVG_POOL2D:
		return n->p.pool.pool_h * n->p.pool.pool_w > 1;
	case INFD_XOP_GLOBAL_AVG_POOL2D:
		return x->rank == 4;
	default:
		return false;
	}
}

/* ---- Building one XNNPACK runtime --------------------------------------------------- */

struct sub_build {
	struct infd_xplan *p;
	xnn_subgraph_t sub;
	uint32_t *xid; /* per graph value: XNNPACK id in this subgraph, or XNN_INVALID_VALUE_ID */
	struct infd_error *err;
	uint32_t node;
};

static infd_status xfail(const struct sub_build *b, enum xnn_status xs, const char *what)
{
	const struct infd_xnode *n = &b->p->g->nodes[b->node];
	return infd__fail(b->err, INFD_UNSUPPORTED, "node %u (%s): XNNPACK refused %s (xnn_status %d)", b->node,
			  infd__xop_name(n->op), what, (int)xs);
}

static infd_status define_value(struct sub_build *b, const struct infd_xvalue *v, const void *data,
				 uint32_t external, uint32_t flags, uint32_t *id)
{
	size_t dims[INFD_XMAX_RANK];
	for (uint32_t i = 0; i < v->rank; i++)
		dims[i] = v->dims[i];
	enum xnn_status xs = xnn_define_tensor_value(b->sub, xnn_datatype_fp32, v->rank, dims, data, external, flags, id);
	return xs == xnn_status_success ? INFD_OK : xfail(b, xs, "a tensor value");
}

/* The XNNPACK id of graph value v (static values are defined on first use). */
static infd_status vid(struct sub_build *b, uint32_t v, uint32_t *id)
{
	if (v == INFD_XNONE) {
		*id = XNN_INVALID_VALUE_ID;
		return INFD_OK;
	}
	if (b->xid[v] == XNN_INVALID_VALUE_ID) {
		const struct infd_xvalue *val = &b->p->g->values[v];
		const void *data = b->p->static_copy[v] ? b->p->static_copy[v] : val->data;
		infd_status st = define_value(b, val, data, XNN_INVALID_VALUE_ID, 0, &b->xid[v]);
		if (st)
			return st;
	}
	*id = b->xid[v];
	return INFD_OK;
}

static infd_status define_node(struct sub_build *b, const struct infd_xnode *n)
{
	uint32_t in0, in1 = XNN_INVALID_VALUE_ID, in2 = XNN_INVALID_VALUE_ID, out, y;
	infd_status st;
	if ((st = vid(b, n->in[0], &in0)) || (n->n_in > 1 && (st = vid(b, n->in[1], &in1))) ||
	    (n->n_in > 2 && (st = vid(b, n->in[2], &in2))) || (st = vid(b, n->out[0], &out)))
		return st;
	const float lo = n->out_min, hi = n->out_max;
	/* ops without output bounds of their own write a temporary, then a clamp node runs */
	bool native = false;
	switch ((enum infd_xop)n->op) {
	case INFD_XOP_ADD:
	case INFD_XOP_SUBTRACT:
	case INFD_XOP_MULTIPLY:
	case INFD_XOP_DIVIDE:
	case INFD_XOP_CLAMP:
	case INFD_XOP_FULLY_CONNECTED:
	case INFD_XOP_CONV2D:
	case INFD_XOP_DEPTHWISE_CONV2D:
	case INFD_XOP_DECONV2D:
	case INFD_XOP_MAX_POOL2D:
	case INFD_XOP_AVG_POOL2D:
	case INFD_XOP_GLOBAL_AVG_POOL2D:
		native = true;
		break;
	default:
		break;
	}
	y = out;
	if (!native && clamps(n) &&
	    (st = define_value(b, &b->p->g->values[n->out[0]], NULL, XNN_INVALID_VALUE_ID, 0, &y)))
		return st;
	const struct infd_xvalue *ov = &b->p->g->values[n->out[0]];
	const struct infd_xconv *c = &n->p.conv;
	const struct infd_xpool *pl = &n->p.pool;
	enum xnn_status xs;
	switch ((enum infd_xop)n->op) {
	case INFD_XOP_ADD: xs = xnn_define_add2(b->sub, lo, hi, in0, in1, y, 0); break;
	case INFD_XOP_SUBTRACT: xs = xnn_define_subtract(b->sub, lo, hi, in0, in1, y, 0); break;
	case INFD_XOP_MULTIPLY: xs = xnn_define_multiply2(b->sub, lo, hi, in0, in1, y, 0); break;
	case INFD_XOP_DIVIDE: xs = xnn_define_divide(b->sub, lo, hi, in0, in1, y, 0); break;
	case INFD_XOP_MAXIMUM: xs = xnn_define_maximum2(b->sub, in0, in1, y, 0); break;
	case INFD_XOP_MINIMUM: xs = xnn_define_minimum2(b->sub, in0, in1, y, 0); break;
	case INFD_XOP_PRELU: xs = xnn_define_prelu(b->sub, in0, in1, y, 0); break;
	case INFD_XOP_CLAMP: xs = xnn_define_clamp(b->sub, lo, hi, in0, y, 0); break;
	case INFD_XOP_ABS: xs = xnn_define_abs(b->sub, in0, y, 0); break;
	case INFD_XOP_NEGATE: xs = xnn_define_negate(b->sub, in0, y, 0); break;
	case INFD_XOP_FLOOR: xs = xnn_define_floor(b->sub, in0, y, 0); break;
	case INFD_XOP_CEILING: xs = xnn_define_ceiling(b->sub, in0, y, 0); break;
	case INFD_XOP_SQUARE: xs = xnn_define_square(b->sub, in0, y, 0); break;
	case INFD_XOP_SQUARE_ROOT: xs = xnn_define_square_root(b->sub, in0, y, 0); break;
	case INFD_XOP_SIGMOID: xs = xnn_define_sigmoid(b->sub, in0, y, 0); break;
	case INFD_XOP_HARDSWISH: xs = xnn_define_hardswish(b->sub, in0, y, 0); break;
	case INFD_XOP_LEAKY_RELU: xs = xnn_define_leaky_relu(b->sub, n->p.alpha, in0, y, 0); break;
	case INFD_XOP_ELU: xs = xnn_define_elu(b->sub, n->p.alpha, in0, y, 0); break;
	case INFD_XOP_SOFTMAX: xs = xnn_define_softmax(b->sub, in0, y, 0); break;
	case INFD_XOP_FULLY_CONNECTED: {
		uint32_t fl = (n->flags & INFD_XFLAG_TRANSPOSE_WEIGHTS) ? XNN_FLAG_TRANSPOSE_WEIGHTS : 0;
		if (ov->rank == 2 && b->p->g->values[n->in[0]].rank != 2)
			fl |= XNN_FLAG_TENSORFLOW_RESHAPE_2D;
		xs = xnn_define_fully_connected(b->sub, lo, hi, in0, in1, in2, y, fl);
		break;
	}
	case INFD_XOP_CONV2D:
		xs = xnn_define_convolution_2d(b->sub, c->pad_top, c->pad_right, c->pad_bottom, c->pad_left, c->kernel_h,
					       c->kernel_w, c->stride_h, c->stride_w, c->dilation_h, c->dilation_w,
					       c->groups, c->group_in, c->group_out, lo, hi, in0, in1, in2, y, 0);
		break;
	case INFD_XOP_DEPTHWISE_CONV2D:
		xs = xnn_define_depthwise_convolution_2d(b->sub, c->pad_top, c->pad_right, c->pad_bottom, c->pad_left,
							 c->kernel_h, c->kernel_w, c->stride_h, c->stride_w,
							 c->dilation_h, c->dilation_w, c->group_out, c->groups, lo, hi,
							 in0, in1, in2, y, 0);
		break;
	case INFD_XOP_DECONV2D:
		xs = xnn_define_deconvolution_2d(b->sub, c->pad_top, c->pad_right, c->pad_bottom, c->pad_left,
						 c->adjustment_h, c->adjustment_w, c->kernel_h, c->kernel_w, c->stride_h,
						 c->stride_w, c->dilation_h, c->dilation_w, c->groups, c->group_in,
						 c->group_out, lo, hi, in0, in1, in2, y, 0);
		break;
	case INFD_XOP_MAX_POOL2D:
		xs = xnn_define_max_pooling_2d(b->sub, pl->pad_top, pl->pad_right, pl->pad_bottom, pl->pad_left,
					       pl->pool_h, pl->pool_w, pl->stride_h, pl->stride_w, pl->dilation_h,
					       pl->dilation_w, lo, hi, in0, y, 0);
		break;
	case INFD_XOP_AVG_POOL2D:
		xs = xnn_define_average_pooling_2d(b->sub, pl->pad_top, pl->pad_right, pl->pad_bottom, pl->pad_left,
						   pl->pool_h, pl->pool_w, pl->stride_h, pl->stride_w, lo, hi, in0, y, 0);
		break;
	case INFD_XOP_GLOBAL_AVG_POOL2D: xs = xnn_define_global_average_pooling_2d(b->sub, lo, hi, in0, y, 0); break;
	case INFD_XOP_STATIC_RESHAPE: {
		size_t d[INFD_XMAX_RANK];
		for (uint32_t i = 0; i < ov->rank; i++)
			d[i] = ov->dims[i];
		xs = xnn_define_static_reshape(b->sub, ov->rank, d, in0, y, 0);
		break;
	}
	case INFD_XOP_CONSTANT_PAD: {
		size_t pre[INFD_XMAX_RANK], post[INFD_XMAX_RANK];
		for (uint32_t i = 0; i < ov->rank; i++) {
			pre[i] = n->p.pad.pre[i];
			post[i] = n->p.pad.post[i];
		}
		xs = xnn_define_static_constant_pad(b->sub, pre, post, n->p.pad.value, in0, y, 0);
		break;
	}
	case INFD_XOP_RESIZE_BILINEAR:
		xs = xnn_define_static_resize_bilinear_2d(b->sub, n->p.resize.new_h, n->p.resize.new_w, in0, y,
							  (n->flags & INFD_XFLAG_ALIGN_CORNERS) ? XNN_FLAG_ALIGN_CORNERS : 0);
		break;
	default:
		return infd__fail(b->err, INFD_INTERNAL, "node %u (%s): not an XNNPACK node", b->node, infd__xop_name(n->op));
	}
	if (xs != xnn_status_success)
		return xfail(b, xs, "the node");
	if (y != out && (xs = xnn_define_clamp(b->sub, lo, hi, y, out, 0)) != xnn_status_success)
		return xfail(b, xs, "the fused output clamp");
	return INFD_OK;
}

/* ---- Compile ------------------------------------------------------------------------ */

/* Per value: the step that writes it and the last step that reads it. */
struct life {
	uint32_t def, last; /* UINT32_MAX: never */
	bool arena;
	size_t off, size;
};

static infd_status build_xnn_step(struct infd_xplan *p, uint32_t s, const struct life *lf, uint32_t *xid,
				  struct infd_error *err)
{
	const struct infd_xgraph *g = p->g;
	struct xstep *st = &p->steps[s];
	/* externals of this subgraph: values read from outside the step, and values
	 * written here that are read later or leave the graph */
	uint32_t cap = 0;
	for (uint32_t k = st->first; k < st->first + st->count; k++)
		cap += p->step_of[k] == s ? g->nodes[k].n_in + 1 : 0;
	st->ext_value = malloc((cap ? cap : 1) * sizeof *st->ext_value);
	st->bound = calloc(cap ? cap : 1, sizeof *st->bound);
	if (!st->ext_value || !st->bound)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory (plan)");
	for (uint32_t k = st->first; k < st->first + st->count; k++) {
		const struct infd_xnode *n = &g->nodes[k];
		if (p->step_of[k] != s)
			continue;
		for (uint32_t i = 0; i <= n->n_in; i++) {
			uint32_t v = i < n->n_in ? n->in[i] : n->out[0];
			if (v == INFD_XNONE || g->values[v].data || xid[v] != XNN_INVALID_VALUE_ID)
				continue;
			bool inside = lf[v].def == s && !lf[v].arena && !(g->values[v].flags & INFD_XV_OUTPUT);
			if (inside)
				continue;
			xid[v] = st->n_ext;
			st->ext_value[st->n_ext++] = v;
		}
	}
	for (uint32_t e = 0; e < st->n_ext; e++)
		xid[st->ext_value[e]] = XNN_INVALID_VALUE_ID;
	struct sub_build b = {.p = p, .xid = xid, .err = err, .node = st->first};
	enum xnn_status xs = xnn_create_subgraph(st->n_ext, 0, &b.sub);
	if (xs != xnn_status_success)
		return infd__fail(err, INFD_NO_MEMORY, "nodes %u..%u: XNNPACK could not create a subgraph (xnn_status %d)",
				  st->first, st->first + st->count - 1, (int)xs);
	infd_status rc = INFD_OK;
	for (uint32_t e = 0; e < st->n_ext && !rc; e++) {
		uint32_t v = st->ext_value[e];
		uint32_t fl = lf[v].def == s ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : XNN_VALUE_FLAG_EXTERNAL_INPUT;
		rc = define_value(&b, &g->values[v], NULL, e, fl, &xid[v]);
	}
	for (uint32_t k = st->first; k < st->first + st->count && !rc; k++) {
		if (p->step_of[k] != s)
			continue;
		b.node = k;
		rc = define_node(&b, &g->nodes[k]);
	}
	if (!rc) {
		xs = xnn_create_runtime_v2(b.sub, p->pool, 0, &st->rt);
		if (xs != xnn_status_success)
			rc = infd__fail(err, xs == xnn_status_out_of_memory ? INFD_NO_MEMORY : INFD_UNSUPPORTED,
					"nodes %u..%u: XNNPACK could not build a runtime (xnn_status %d)", st->first,
					st->first + st->count - 1, (int)xs);
	}
	xnn_delete_subgraph(b.sub);
	/* leave xid clean for the next step */
	for (uint32_t k = st->first; k < st->first + st->count; k++) {
		const struct infd_xnode *n = &g->nodes[k];
		for (uint32_t i = 0; i < n->n_in; i++)
			if (n->in[i] != INFD_XNONE)
				xid[n->in[i]] = XNN_INVALID_VALUE_ID;
		xid[n->out[0]] = XNN_INVALID_VALUE_ID;
	}
	return rc;
}

/* First fit of each arena value (largest first) beside the values alive at the
 * same time. */
static int by_size_desc(const void *a, const void *b, void *lf_)
{
	const struct life *lf = lf_;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (lf[x].size != lf[y].size)
		return lf[x].size < lf[y].size ? 1 : -1;
	return x < y ? -1 : x > y;
}

static int by_off(const void *a, const void *b, void *lf_)
{
	const struct life *lf = lf_;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return lf[x].off < lf[y].off ? -1 : lf[x].off > lf[y].off;
}

static infd_status layout_arena(struct infd_xplan *p, struct life *lf, size_t *total, struct infd_error *err)
{
	const struct infd_xgraph *g = p->g;
	uint32_t n = 0;
	for (uint32_t v = 0; v < g->n_values; v++)
		n += lf[v].arena;
	*total = 0;
	if (!n)
		return INFD_OK;
	uint32_t *order = malloc(n * sizeof *order), *placed = malloc(2 * (size_t)n * sizeof *placed);
	if (!order || !placed) {
		free(order);
		free(placed);
		return infd__fail(err, INFD_NO_MEMORY, "out of memory (plan)");
	}
	n = 0;
	for (uint32_t v = 0; v < g->n_values; v++)
		if (lf[v].arena)
			order[n++] = v;
	qsort_r(order, n, sizeof *order, by_size_desc, lf);
	uint32_t n_placed = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = order[i], m = 0;
		/* the placed values alive together with v, by offset */
		uint32_t *live = placed + n_placed; /* room after the placed list is free */
		for (uint32_t j = 0; j < n_placed; j++) {
			uint32_t u = placed[j];
			if (lf[u].def <= lf[v].last && lf[v].def <= lf[u].last)
				live[m++] = u;
		}
		qsort_r(live, m, sizeof *live, by_off, lf);
		size_t off = 0;
		for (uint32_t j = 0; j < m; j++) {
			uint32_t u = live[j];
			if (off + lf[v].size <= lf[u].off)
				break;
			if (lf[u].off + lf[u].size > off)
				off = lf[u].off + lf[u].size;
		}
		lf[v].off = off;
		placed[n_placed++] = v;
		if (off + lf[v].size > *total)
			*total = off + lf[v].size;
	}
	free(order);
	free(placed);
	return INFD_OK;
}

static infd_status plan_layout(struct infd_xplan *p, struct infd_error *err)
{
	const uint32_t *step_of = p->step_of;
	const struct infd_xgraph *g = p->g;
	struct life *lf = malloc((g->n_values ? g->n_values : 1) * sizeof *lf);
	uint32_t *xid = malloc((g->n_values ? g->n_values : 1) * sizeof *xid);
	infd_status st = INFD_OK;
	if (!lf || !xid) {
		st = infd__fail(err, INFD_NO_MEMORY, "out of memory (plan)");
		goto out;
	}
	for (uint32_t v = 0; v < g->n_values; v++) {
		lf[v] = (struct life){.def = UINT32_MAX, .last = UINT32_MAX};
		xid[v] = XNN_INVALID_VALUE_ID;
	}
	for (uint32_t k = 0; k < g->n_nodes; k++) {
		const struct infd_xnode *n = &g->nodes[k];
		if (step_of[k] == DEAD)
			continue;
		for (uint32_t i = 0; i < n->n_in; i++)
			if (n->in[i] != INFD_XNONE)
				lf[n->in[i]].last = step_of[k];
		lf[n->out[0]].def = step_of[k];
		if (lf[n->out[0]].last == UINT32_MAX)
			lf[n->out[0]].last = step_of[k];
	}
	/* arena: written here, not external, and read by another step or written by our code */
	for (uint32_t v = 0; v < g->n_values; v++) {
		const struct infd_xvalue *val = &g->values[v];
		if (lf[v].def == UINT32_MAX || val->flags)
			continue;
		lf[v].arena = lf[v].last != lf[v].def || !p->steps[lf[v].def].xnn;
		lf[v].size = round_up_sz(nbytes(val) + XNN_EXTRA_BYTES, ALIGN);
	}
	size_t total;
	if ((st = layout_arena(p, lf, &total, err)))
		goto out;
	if (total) {
		p->arena = aligned_alloc(ALIGN, total);
		if (!p->arena) {
			st = infd__fail(err, INFD_NO_MEMORY, "out of memory (arena of %zu bytes)", total);
			goto out;
		}
		memset(p->arena, 0, total);
	}
	for (uint32_t v = 0; v < g->n_values; v++) {
		if (lf[v].arena)
			p->data[v] = p->arena + lf[v].off;
		else if (g->values[v].data)
			p->data[v] = (void *)g->values[v].data;
	}
	/* static data XNNPACK reads as it runs (not packed weights) must allow its over-read */
	for (uint32_t k = 0; k < g->n_nodes; k++) {
		const struct infd_xnode *n = &g->nodes[k];
		bool packed = n->op == INFD_XOP_FULLY_CONNECTED || n->op == INFD_XOP_CONV2D ||
			      n->op == INFD_XOP_DEPTHWISE_CONV2D || n->op == INFD_XOP_DECONV2D;
		if (step_of[k] == DEAD || !p->steps[step_of[k]].xnn || packed)
			continue;
		for (uint32_t i = 0; i < n->n_in; i++) {
			uint32_t v = n->in[i];
			const struct infd_xvalue *val = v == INFD_XNONE ? NULL : &g->values[v];
			if (!val || !val->data || p->static_copy[v] || !near_page_end(val->data, nbytes(val), p->page))
				continue;
			p->static_copy[v] = aligned_alloc(ALIGN, round_up_sz(nbytes(val) + XNN_EXTRA_BYTES, ALIGN));
			if (!p->static_copy[v]) {
				st = infd__fail(err, INFD_NO_MEMORY, "out of memory (plan)");
				goto out;
			}
			memcpy(p->static_copy[v], val->data, nbytes(val));
			p->data[v] = p->static_copy[v];
		}
	}
	/* external inputs XNNPACK reads get a staging copy, used when they end near a page end */
	size_t stage = 0;
	for (uint32_t v = 0; v < g->n_values; v++) {
		p->stage_off[v] = SIZE_MAX;
		if (!(g->values[v].flags & INFD_XV_INPUT))
			continue;
		bool by_xnn = false;
		for (uint32_t k = 0; k < g->n_nodes && !by_xnn; k++)
			for (uint32_t i = 0; i < g->nodes[k].n_in; i++)
				by_xnn |= g->nodes[k].in[i] == v && step_of[k] != DEAD && p->steps[step_of[k]].xnn;
		if (by_xnn) {
			p->stage_off[v] = stage;
			stage += round_up_sz(nbytes(&g->values[v]) + XNN_EXTRA_BYTES, ALIGN);
		}
	}
	if (stage && !(p->stage = aligned_alloc(ALIGN, stage))) {
		st = infd__fail(err, INFD_NO_MEMORY, "out of memory (plan)");
		goto out;
	}
	for (uint32_t s = 0; s < p->n_steps && !st; s++)
		if (p->steps[s].xnn)
			st = build_xnn_step(p, s, lf, xid, err);
out:
	free(lf);
	free(xid);
	return st;
}

infd_status infd__xplan_compile(const struct infd_xgraph *g, void *threadpool, struct infd_xplan **out,
				struct infd_error *err)
{
	pthread_once(&xnn_once, xnn_init);
	if (xnn_init_status != xnn_status_success)
		return infd__fail(err, INFD_UNSUPPORTED, "XNNPACK could not start (xnn_status %d; an unsupported CPU?)",
				  (int)xnn_init_status);
	struct infd_xplan *p = calloc(1, sizeof *p);
	if (!p)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory (plan)");
	infd_status st = INFD_OK;
	p->g = g;
	p->pool = threadpool;
	p->page = (size_t)sysconf(_SC_PAGESIZE);
	if (p->page < 4096 || (p->page & (p->page - 1)))
		p->page = 4096;
	size_t nv = g->n_values ? g->n_values : 1, nn = g->n_nodes ? g->n_nodes : 1;
	p->steps = calloc(nn, sizeof *p->steps);
	p->step_of = malloc(nn * sizeof *p->step_of);
	p->data = calloc(nv, sizeof *p->data);
	p->static_copy = calloc(nv, sizeof *p->static_copy);
	p->stage_off = calloc(nv, sizeof *p->stage_off);
	uint8_t *needed = calloc(nv, 1);
	if (!p->steps || !p->step_of || !p->data || !p->static_copy || !p->stage_off || !needed) {
		st = infd__fail(err, INFD_NO_MEMORY, "out of memory (plan)");
		goto fail;
	}
	/* nodes whose results nobody reads are dropped (XNNPACK leaves such values
	 * without memory) */
	for (uint32_t v = 0; v < g->n_values; v++)
		needed[v] = (g->values[v].flags & INFD_XV_OUTPUT) != 0;
	for (uint32_t k = g->n_nodes; k-- > 0;) {
		const struct infd_xnode *n = &g->nodes[k];
		p->step_of[k] = needed[n->out[0]] ? 0 : DEAD;
		if (p->step_of[k] == DEAD)
			continue;
		for (uint32_t i = 0; i < n->n_in; i++)
			if (n->in[i] != INFD_XNONE)
				needed[n->in[i]] = 1;
	}
	/* steps: maximal runs of XNNPACK nodes; every other node alone */
	size_t scratch = 0, threads = p->pool ? pthreadpool_get_threads_count(p->pool) : 1;
	for (uint32_t k = 0; k < g->n_nodes; k++) {
		const struct infd_xnode *n = &g->nodes[k];
		if (p->step_of[k] == DEAD)
			continue;
		bool gemm = infd__xown_gemm_wins(g, n);
		bool x = !gemm && xnn_can(g, n);
		if (!x && !gemm && !infd__xown_has(n->op)) {
			st = infd__fail(err, INFD_UNSUPPORTED, "node %u (%s): neither XNNPACK nor our own code runs it here",
					k, infd__xop_name(n->op));
			goto fail;
		}
		if (x && p->n_steps && p->steps[p->n_steps - 1].xnn) {
			struct xstep *last = &p->steps[p->n_steps - 1];
			last->count = k - last->first + 1;
		} else {
			p->steps[p->n_steps++] = (struct xstep){.xnn = x, .first = k, .count = 1};
		}
		p->step_of[k] = p->n_steps - 1;
		if (x) {
			p->n_xnn++;
			continue;
		}
		p->n_own++;
		struct xstep *own = &p->steps[p->n_steps - 1];
		if (gemm && (st = infd__xown_gemm_prepare(g, n, &own->gemm, err)))
			goto fail;
		size_t sb = gemm ? infd__xown_gemm_scratch_bytes(own->gemm) : infd__xown_scratch_bytes(g, n, threads);
		scratch = sb > scratch ? sb : scratch;
	}
	if (scratch && !(p->scratch = aligned_alloc(ALIGN, round_up_sz(scratch, ALIGN)))) {
		st = infd__fail(err, INFD_NO_MEMORY, "out of memory (scratch of %zu bytes)", scratch);
		goto fail;
	}
	if ((st = plan_layout(p, err)))
		goto fail;
	free(needed);
	*out = p;
	return INFD_OK;
fail:
	free(needed);
	infd__xplan_free(p);
	return st;
}

/* ---- Execute --------------------------------------------------------------------- */

infd_status infd__xplan_execute(struct infd_xplan *p, void *const *externals, struct infd_error *err)
{
	const struct infd_xgraph *g = p->g;
	for (uint32_t v = 0; v < g->n_values; v++) {
		const struct infd_xvalue *val = &g->values[v];
		if (!val->flags)
			continue;
		void *m = externals[val->external];
		if (!m)
			return infd__fail(err, INFD_INVALID_ARGUMENT, "external %u (value %u) has no memory", val->external, v);
		if (p->stage_off[v] != SIZE_MAX && near_page_end(m, nbytes(val), p->page)) {
			memcpy(p->stage + p->stage_off[v], m, nbytes(val));
			m = p->stage + p->stage_off[v];
		}
		p->data[v] = m;
	}
	for (uint32_t s = 0; s < p->n_steps; s++) {
		struct xstep *st = &p->steps[s];
		if (st->gemm) {
			infd__xown_gemm_run(st->gemm, p->data, p->scratch, p->pool);
			continue;
		}
		if (!st->xnn) {
			infd__xown_run(g, &g->nodes[st->first], p->data, p->scratch, p->pool);
			continue;
		}
		bool same = st->set_up;
		for (uint32_t e = 0; e < st->n_ext && same; e++)
			same = st->bound[e] == p->data[st->ext_value[e]];
		enum xnn_status xs;
		if (!same) {
			struct xnn_external_value ev[64], *evp = ev;
			if (st->n_ext > 64 && !(evp = malloc(st->n_ext * sizeof *evp)))
				return infd__fail(err, INFD_NO_MEMORY, "out of memory");
			for (uint32_t e = 0; e < st->n_ext; e++) {
				evp[e] = (struct xnn_external_value){.id = e, .data = p->data[st->ext_value[e]]};
				st->bound[e] = evp[e].data;
			}
			xs = xnn_setup_runtime(st->rt, st->n_ext, evp);
			if (evp != ev)
				free(evp);
			if (xs != xnn_status_success) {
				st->set_up = false;
				return infd__fail(err, INFD_KERNEL_FAILED, "nodes %u..%u: xnn_setup_runtime failed (xnn_status %d)",
						  st->first, st->first + st->count - 1, (int)xs);
			}
			st->set_up = true;
		}
		xs = xnn_invoke_runtime(st->rt);
		if (xs != xnn_status_success)
			return infd__fail(err, INFD_KERNEL_FAILED, "nodes %u..%u: xnn_invoke_runtime failed (xnn_status %d)",
					  st->first, st->first + st->count - 1, (int)xs);
	}
	return INFD_OK;
}

void infd__xplan_counts(const struct infd_xplan *p, uint32_t *in_xnnpack, uint32_t *own)
{
	*in_xnnpack = p->n_xnn;
	*own = p->n_own;
}

void infd__xplan_free(struct infd_xplan *p)
{
	if (!p)
		return;
	for (uint32_t s = 0; p->steps && s < p->n_steps; s++) {
		if (p->steps[s].rt)
			xnn_delete_runtime(p->steps[s].rt);
		free(p->steps[s].ext_value);
		free(p->steps[s].bound);
		infd__xown_gemm_free(p->steps[s].gemm);
	}
	if (p->static_copy)
		for (uint32_t v = 0; v < p->g->n_values; v++)
			free(p->static_copy[v]);
	free(p->static_copy);
	free(p->stage_off);
	free(p->stage);
	free(p->scratch);
	free(p->arena);
	free(p->data);
	free(p->steps);
	free(p->step_of);
	free(p);
}
