/* The XNNPACK backend's graph: one form for both of its sources.
 *
 *   ExecuTorch operators (lower.c) ─┐
 *                                   ├─► struct infd_xgraph ─► plan (plan.c): runs of nodes
 *   XnnpackBackend payloads (payload.c) ┘                      XNNPACK supports become one
 *                                                              xnn_runtime each; the few nodes
 *                                                              this XNNPACK lacks run our code.
 *
 * Nodes mirror the node kinds of ExecuTorch's XNNPACK payload schema
 * (docs: pte-format.md section 8), with XNNPACK's conventions: 4-d activations
 * are NHWC, convolution filters [OC, KH, KW, IC/groups], depthwise filters
 * [1, KH, KW, OC], fully-connected filters [OC, IC] (or [IC, OC] with
 * INFD_XFLAG_TRANSPOSE_WEIGHTS). Values are fp32 unless their dtype says otherwise. */
#ifndef INFD_BACKENDS_XNNPACK_XGRAPH_H
#define INFD_BACKENDS_XNNPACK_XGRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/error.h"

#define INFD_XMAX_RANK 6
#define INFD_XNONE UINT32_MAX /* "no value" in a node's operand slot (e.g. no bias) */

enum infd_xdtype {
	INFD_XDT_FP32 = 1,
	INFD_XDT_INT32 = 12,
};

enum infd_xvalue_flags {
	INFD_XV_INPUT = 1u << 0,  /* external input: bound from the caller at every run */
	INFD_XV_OUTPUT = 1u << 1, /* external output: written to the caller's memory */
};

struct infd_xvalue {
	uint8_t dtype; /* enum infd_xdtype */
	uint8_t rank;
	uint32_t dims[INFD_XMAX_RANK];
	uint32_t flags;    /* enum infd_xvalue_flags */
	uint32_t external; /* position in the external binding list, or INFD_XNONE */
	/* Static (constant) data, or NULL for activations. Must stay valid for the
	 * graph's life and the plan's (XNNPACK keeps pointers to some static
	 * tensors); `owned` data is freed with the graph. */
	const void *data;
	bool owned;
};

enum infd_xop {
	/* binary, numpy broadcasting: in[0], in[1] -> out[0] */
	INFD_XOP_ADD = 1,
	INFD_XOP_SUBTRACT,
	INFD_XOP_MULTIPLY,
	INFD_XOP_DIVIDE,
	INFD_XOP_MAXIMUM,
	INFD_XOP_MINIMUM,
	INFD_XOP_PRELU, /* in[0] data, in[1] slope (static, [C]) */
	/* unary: in[0] -> out[0] */
	INFD_XOP_CLAMP, /* bounds in out_min/out_max */
	INFD_XOP_ABS,
	INFD_XOP_NEGATE,
	INFD_XOP_FLOOR,
	INFD_XOP_CEILING,
	INFD_XOP_SQUARE,
	INFD_XOP_SQUARE_ROOT,
	INFD_XOP_RSQRT,
	INFD_XOP_SIGMOID,
	INFD_XOP_TANH,
	INFD_XOP_GELU,
	INFD_XOP_HARDSWISH,
	INFD_XOP_LEAKY_RELU, /* p.alpha = negative slope */
	INFD_XOP_ELU,        /* p.alpha */
	INFD_XOP_EXP,
	INFD_XOP_LOG,
	INFD_XOP_SIN,
	INFD_XOP_COS,
	INFD_XOP_COPY,
	INFD_XOP_CONVERT,
	INFD_XOP_SOFTMAX, /* along the last dim */
	/* in[0] input, in[1] filter, in[2] bias or INFD_XNONE -> out[0] */
	INFD_XOP_FULLY_CONNECTED, /* flags: INFD_XFLAG_TRANSPOSE_WEIGHTS */
	INFD_XOP_CONV2D,          /* p.conv */
	INFD_XOP_DEPTHWISE_CONV2D,
	INFD_XOP_DECONV2D,
	/* pooling on NHWC: in[0] -> out[0] */
	INFD_XOP_MAX_POOL2D, /* p.pool */
	INFD_XOP_AVG_POOL2D,
	INFD_XOP_GLOBAL_AVG_POOL2D, /* mean over H and W (the two dims before the last) */
	/* data movement: in[0] -> out[0] */
	INFD_XOP_STATIC_TRANSPOSE, /* p.shape.perm[rank] */
	INFD_XOP_STATIC_RESHAPE,   /* output dims are the out value's dims */
	INFD_XOP_STATIC_SLICE,     /* p.slice */
	INFD_XOP_CONSTANT_PAD,     /* p.pad */
	INFD_XOP_RESIZE_BILINEAR,  /* p.resize; NHWC */
	INFD_XOP_CONCATENATE,      /* in[0..n_in), p.axis */
	/* in[0] [.., M, K] x in[1] [.., K, N] -> out[0] [.., M, N] (batch dims broadcast) */
	INFD_XOP_BATCH_MATMUL,
	/* in[0] x, in[1] weight or INFD_XNONE, in[2] bias or INFD_XNONE, over the last
	 * dim, p.eps -> out[0] (a lowering of aten.native_layer_norm; no XNNPACK node) */
	INFD_XOP_LAYER_NORM,
	INFD_XOP_COUNT_
};

enum infd_xnode_flags {
	INFD_XFLAG_TRANSPOSE_WEIGHTS = 1u << 0, /* fully connected filter is [IC, OC] */
	INFD_XFLAG_ALIGN_CORNERS = 1u << 3,     /* resize bilinear */
	INFD_XFLAG_KEEP_DIMS = 1u << 6,         /* pooling / mean */
};

struct infd_xconv {
	uint32_t pad_top, pad_right, pad_bottom, pad_left;
	uint32_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
	uint32_t groups, group_in, group_out; /* channels per group */
	uint32_t adjustment_h, adjustment_w;  /* deconvolution only */
};

struct infd_xpool {
	uint32_t pad_top, pad_right, pad_bottom, pad_left;
	uint32_t pool_h, pool_w, stride_h, stride_w, dilation_h, dilation_w;
};

#define INFD_XMAX_INPUTS 5

struct infd_xnode {
	uint8_t op; /* enum infd_xop */
	uint32_t flags;
	uint32_t n_in;
	uint32_t in[INFD_XMAX_INPUTS]; /* value ids (indices into graph values) */
	uint32_t out[1];
	float out_min, out_max; /* fused clamp; -INFINITY / INFINITY when none */
	union {
		struct infd_xconv conv;
		struct infd_xpool pool;
		float alpha;
		float eps;
		uint32_t axis;
		struct {
			uint32_t perm[INFD_XMAX_RANK];
		} shape;
		struct {
			uint32_t offsets[INFD_XMAX_RANK], sizes[INFD_XMAX_RANK];
		} slice;
		struct {
			uint32_t pre[INFD_XMAX_RANK], post[INFD_XMAX_RANK];
			float value;
		} pad;
		struct {
			uint32_t new_h, new_w;
		} resize;
	} p;
};

struct infd_xgraph {
	uint32_t n_values, cap_values;
	struct infd_xvalue *values;
	uint32_t n_nodes, cap_nodes;
	struct infd_xnode *nodes;
	uint32_t n_externals; /* externals are numbered 0..n_externals-1 */
};

void infd__xgraph_init(struct infd_xgraph *g);
void infd__xgraph_free(struct infd_xgraph *g);

/* Append a value (copied) and return its id in *id. */
infd_status infd__xgraph_add_value(struct infd_xgraph *g, const struct infd_xvalue *v, uint32_t *id,
				   struct infd_error *err);
/* Append a node (copied). Operand ids must name existing values. */
infd_status infd__xgraph_add_node(struct infd_xgraph *g, const struct infd_xnode *n, struct infd_error *err);

/* Check the whole graph before it is planned: operand ids in range, each node's
 * operand count and shapes consistent with its kind, static data present where a
 * node needs it (filters), externals numbered densely. Error messages name the
 * node index and kind. */
infd_status infd__xgraph_validate(const struct infd_xgraph *g, struct infd_error *err);

const char *infd__xop_name(enum infd_xop op);

/* A compiled graph (plan.c). Weights are packed once, at compile; a plan may be
 * executed many times, one execution at a time. */
struct infd_xplan;

/* `threadpool` is a pthreadpool_t (NULL: one thread) and must outlive the plan.
 * The graph must outlive the plan too (static data is referenced). */
infd_status infd__xplan_compile(const struct infd_xgraph *g, void *threadpool, struct infd_xplan **out,
				struct infd_error *err);
/* externals[k] is the memory of external value k (dims as in the graph). */
infd_status infd__xplan_execute(struct infd_xplan *p, void *const *externals, struct infd_error *err);
/* How many nodes run inside XNNPACK runtimes, and how many on our own code. */
void infd__xplan_counts(const struct infd_xplan *p, uint32_t *in_xnnpack, uint32_t *own);
void infd__xplan_free(struct infd_xplan *p);

#endif
