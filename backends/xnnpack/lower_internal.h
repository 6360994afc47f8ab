/* Internals of the XNNPACK lowering shared by its files: the operator table and
 * argument checks (lower_args.c), the lowering state, layouts, views and external
 * binding (lower.c), and the lowering of each operator (lower_ops.c). */
#ifndef INFD_BACKENDS_XNNPACK_LOWER_INTERNAL_H
#define INFD_BACKENDS_XNNPACK_LOWER_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/xnnpack/lower.h"

/* ---- Operators and their arguments (lower_args.c) ---------------------------- */

/* The operator families the lowering knows (lower_args.c has the keys). */
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

/* One operator key and how to read its arguments. */
struct lop {
	const char *key;
	uint8_t kind;   /* enum lkind */
	uint8_t n_args; /* schema arguments + return slot */
	uint8_t xop;    /* node kind of unary and binary operators */
	uint8_t extra;  /* binary: has alpha; copy: index of the format argument, 0 = none */
};

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
	uint32_t perm[INFD_XMAX_RANK];
	uint32_t pre[INFD_XMAX_RANK], post[INFD_XMAX_RANK]; /* slice: offsets in pre; pad: both */
	float pad_value;
	uint8_t node; /* conv and pool node kind */
	struct infd_xconv conv;
	struct infd_xpool pool;
};

/* Check instruction `in` and fill `c`; false when it cannot be lowered. */
bool infd__xl_parse(const struct infd_method_def *def, const struct infd_evalue *V, const struct infd_instr_def *in,
		    struct lcall *c);

/* ---- Lowering state (lower.c) ------------------------------------------------ */

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

/* The lowering of one partition (lower.c). */
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

/* A constant with data (weights). */
static inline bool infd__xl_is_const(const struct infd_tensor *t)
{
	return t->is_const && t->data;
}

/* The tensor of method value v. */
static inline const struct infd_tensor *infd__xl_tensor(const struct low *L, int32_t v)
{
	return L->V[v].u.t;
}

/* A tensor's sizes as graph dims. */
static inline void infd__xl_dims(const struct infd_tensor *t, uint32_t *d)
{
	for (uint32_t i = 0; i < t->rank; i++)
		d[i] = (uint32_t)t->sizes[i];
}

/* Channels-last dims of a 3-d [N,C,L] or 4-d [N,C,H,W] shape: 4 entries. */
static inline void infd__xl_cl_dims(uint32_t rank, const uint32_t *d, uint32_t *o)
{
	if (rank == 4) {
		o[0] = d[0], o[1] = d[2], o[2] = d[3], o[3] = d[1];
	} else {
		o[0] = d[0], o[1] = 1, o[2] = d[2], o[3] = d[1];
	}
}

/* Both layouts have the same memory order (one channel, or one position). */
static inline bool infd__xl_cl_trivial(uint32_t rank, const uint32_t *d)
{
	uint64_t sp = rank == 4 ? (uint64_t)d[2] * d[3] : d[2];
	return d[1] == 1 || sp == 1;
}

/* A node of kind op with no inputs and no output clamp. */
static inline struct infd_xnode infd__xl_node(uint8_t op)
{
	struct infd_xnode n = {.op = op, .out_min = -INFINITY, .out_max = INFINITY};
	for (int i = 0; i < INFD_XMAX_INPUTS; i++)
		n.in[i] = INFD_XNONE;
	return n;
}

/* Graph building. A new value (data: static contents or NULL; owned: the graph
 * frees them, also when this fails); its id in *id. */
infd_status infd__xl_new_value(struct low *L, uint32_t rank, const uint32_t *dims, const void *data, bool owned,
			       uint32_t *id);

/* Add node `n` writing a new value of the given dims; its id in *out. */
infd_status infd__xl_emit(struct low *L, struct infd_xnode *n, uint32_t rank, const uint32_t *dims, uint32_t *out);

/* A one-input node of kind op, its output shaped like its input. */
infd_status infd__xl_unary(struct low *L, uint8_t op, uint32_t in, uint32_t *out);

/* The node writing graph value id, or NULL. */
const struct infd_xnode *infd__xl_producer(const struct low *L, uint32_t id);

/* Graph value `in` with new dims (no node when they are the same; a reshape of
 * a reshape reads the first one's input). */
infd_status infd__xl_reshape(struct low *L, uint32_t in, uint32_t rank, const uint32_t *dims, uint32_t *out);

/* Do the dims > 1 keep their order under `perm` (then a transpose is a reshape)? */
bool infd__xl_perm_is_reshape(uint32_t rank, const uint32_t *dims, const uint32_t *perm);

/* Graph value `in` transposed: out dims[i] = in dims[perm[i]]. */
infd_status infd__xl_transpose(struct low *L, uint32_t in, const uint32_t *perm, uint32_t *out);

/* Permute constant data: out dims[i] = dims[perm[i]]. NULL when out of memory. */
float *infd__xl_permute_data(const float *src, uint32_t rank, const uint32_t *dims, const uint32_t *perm);

/* Fail with INFD_NO_MEMORY. */
infd_status infd__xl_oom(struct low *L);

/* Layouts. Channels-last form of a plain graph value whose logical dims are d
 * (rank 3 or 4). */
infd_status infd__xl_plain_to_cl(struct low *L, uint32_t id, uint32_t rank, const uint32_t *d, uint32_t *out);

/* Make sure the graph holds value v in some form: constants become static
 * values, deferred transposes are built, views of values written here become
 * reshapes, anything else is an external input. */
infd_status infd__xl_ensure(struct low *L, int32_t v);

/* Value v in its own layout (converted from channels-last if need be). */
infd_status infd__xl_get_plain(struct low *L, int32_t v, uint32_t *id);

/* Channels-last form of a 3-d or 4-d value. */
infd_status infd__xl_get_cl(struct low *L, int32_t v, uint32_t *id);

/* Views. y = x viewed with y's shape. Channels-last forms carry over when batch
 * and channels stay (only the spatial dims regroup). */
infd_status infd__xl_reshape_value(struct low *L, int32_t x, int32_t y);

/* Record that the current instruction writes y (before its forms are set). */
void infd__xl_mark_written(struct low *L, int32_t y);

/* ---- Operators (lower_ops.c) ------------------------------------------------- */

/* Lower one checked instruction into L's graph. */
infd_status infd__xl_lower_one(struct low *L, const struct lcall *c);

#endif
