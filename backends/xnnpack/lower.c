/* Lowering a partition into the XNNPACK backend's graph (lower.h): the lowering
 * state, the graph values that hold each method value in its own (NCHW) layout
 * and in channels-last form with the conversions between them, views of values
 * written in the partition, and the binding of inputs and outputs as externals.
 * Argument checks are in lower_args.c, the operators in lower_ops.c. */
#include "backends/xnnpack/lower_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE INFD_XNONE
#define MAXR INFD_XMAX_RANK

/* ---- Graph building --------------------------------------------------------- */

infd_status infd__xl_new_value(struct low *L, uint32_t rank, const uint32_t *dims, const void *data, bool owned,
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

/* Add node `n` writing a new value of the given dims; its id in *out. */
infd_status infd__xl_emit(struct low *L, struct infd_xnode *n, uint32_t rank, const uint32_t *dims, uint32_t *out)
{
	infd_status st = infd__xl_new_value(L, rank, dims, NULL, false, &n->out[0]);
	if (st == INFD_OK)
		st = infd__xgraph_add_node(L->g, n, L->err);
	if (st == INFD_OK)
		*out = n->out[0];
	return st;
}

infd_status infd__xl_unary(struct low *L, uint8_t op, uint32_t in, uint32_t *out)
{
	struct infd_xnode n = infd__xl_node(op);
	n.n_in = 1;
	n.in[0] = in;
	const struct infd_xvalue *x = &L->g->values[in];
	uint32_t dims[MAXR];
	memcpy(dims, x->dims, sizeof dims);
	return infd__xl_emit(L, &n, x->rank, dims, out);
}

/* The node writing graph value id, or NULL. */
const struct infd_xnode *infd__xl_producer(const struct low *L, uint32_t id)
{
	for (uint32_t k = L->g->n_nodes; k-- > 0;)
		if (L->g->nodes[k].out[0] == id)
			return &L->g->nodes[k];
	return NULL;
}

infd_status infd__xl_reshape(struct low *L, uint32_t in, uint32_t rank, const uint32_t *dims, uint32_t *out)
{
	/* a reshape of a reshape reads the first one's input */
	const struct infd_xnode *pr = infd__xl_producer(L, in);
	if (pr && pr->op == INFD_XOP_STATIC_RESHAPE)
		in = pr->in[0];
	const struct infd_xvalue *x = &L->g->values[in];
	if (x->rank == rank && memcmp(x->dims, dims, rank * sizeof dims[0]) == 0) {
		*out = in;
		return INFD_OK;
	}
	struct infd_xnode n = infd__xl_node(INFD_XOP_STATIC_RESHAPE);
	n.n_in = 1;
	n.in[0] = in;
	return infd__xl_emit(L, &n, rank, dims, out);
}

/* Do the dims > 1 keep their order under `perm` (then a transpose is a reshape)? */
bool infd__xl_perm_is_reshape(uint32_t rank, const uint32_t *dims, const uint32_t *perm)
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

infd_status infd__xl_transpose(struct low *L, uint32_t in, const uint32_t *perm, uint32_t *out)
{
	const struct infd_xvalue *x = &L->g->values[in];
	uint32_t rank = x->rank, dims[MAXR], xd[MAXR];
	memcpy(xd, x->dims, sizeof xd);
	for (uint32_t i = 0; i < rank; i++)
		dims[i] = xd[perm[i]];
	if (infd__xl_perm_is_reshape(rank, xd, perm))
		return infd__xl_reshape(L, in, rank, dims, out);
	struct infd_xnode n = infd__xl_node(INFD_XOP_STATIC_TRANSPOSE);
	n.n_in = 1;
	n.in[0] = in;
	memcpy(n.p.shape.perm, perm, rank * sizeof perm[0]);
	return infd__xl_emit(L, &n, rank, dims, out);
}

/* Permute constant data: out dims[i] = dims[perm[i]]. NULL when out of memory. */
float *infd__xl_permute_data(const float *src, uint32_t rank, const uint32_t *dims, const uint32_t *perm)
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

infd_status infd__xl_oom(struct low *L)
{
	return infd__fail(L->err, INFD_NO_MEMORY, "out of memory (lowering constants)");
}

/* ---- Layouts: own (NCHW) and channels-last ---------------------------------- */

/* Channels-last form of a plain graph value whose logical dims are d (rank 3 or 4). */
infd_status infd__xl_plain_to_cl(struct low *L, uint32_t id, uint32_t rank, const uint32_t *d, uint32_t *out)
{
	uint32_t c[4], t;
	infd__xl_cl_dims(rank, d, c);
	if (infd__xl_cl_trivial(rank, d))
		return infd__xl_reshape(L, id, 4, c, out);
	if (rank == 4)
		return infd__xl_transpose(L, id, (const uint32_t[]){0, 2, 3, 1}, out);
	infd_status st = infd__xl_transpose(L, id, (const uint32_t[]){0, 2, 1}, &t);
	return st ? st : infd__xl_reshape(L, t, 4, c, out);
}

static infd_status cl_to_plain(struct low *L, uint32_t id, uint32_t rank, const uint32_t *d, uint32_t *out)
{
	uint32_t t;
	if (infd__xl_cl_trivial(rank, d))
		return infd__xl_reshape(L, id, rank, d, out);
	if (rank == 4)
		return infd__xl_transpose(L, id, (const uint32_t[]){0, 3, 1, 2}, out);
	infd_status st = infd__xl_reshape(L, id, 3, (const uint32_t[]){d[0], d[2], d[1]}, &t);
	return st ? st : infd__xl_transpose(L, t, (const uint32_t[]){0, 2, 1}, out);
}

/* ---- Method values: forms, views, aliasing --------------------------------- */

/* The value written earlier in the partition whose memory `v` (a view) shares:
 * -1 when none, -2 when it overlaps one only in part. */
static int32_t alias_source(const struct low *L, int32_t v)
{
	const struct infd_tensor *t = infd__xl_tensor(L, v);
	if (!t->data || infd__xl_is_const(t))
		return -1;
	const uint8_t *b = t->data, *e = b + t->nbytes;
	for (uint32_t k = L->n_written; k-- > 0;) {
		const struct infd_tensor *w = infd__xl_tensor(L, L->written[k]);
		const uint8_t *wb = w->data, *we = wb + w->nbytes;
		if (!wb || we <= b || e <= wb)
			continue;
		return wb == b && we == e ? L->written[k] : -2;
	}
	return -1;
}

/* Make sure the graph holds value v in some form: constants become static
 * values, deferred transposes are built, views of values written here become
 * reshapes, anything else is an external input. */
infd_status infd__xl_ensure(struct low *L, int32_t v)
{
	struct form *f = &L->f[v];
	if (f->plain != NONE || f->cl != NONE)
		return INFD_OK;
	const struct infd_tensor *t = infd__xl_tensor(L, v);
	uint32_t d[MAXR];
	infd__xl_dims(t, d);
	if (infd__xl_is_const(t))
		return infd__xl_new_value(L, t->rank, d, t->data, false, &f->plain);
	if (f->tsrc >= 0) {
		const struct infd_tensor *s = infd__xl_tensor(L, f->tsrc);
		uint32_t sd[2] = {(uint32_t)s->sizes[0], (uint32_t)s->sizes[1]};
		float *p = infd__xl_permute_data(s->data, 2, sd, (const uint32_t[]){1, 0});
		if (!p)
			return infd__xl_oom(L);
		return infd__xl_new_value(L, 2, d, p, true, &f->plain);
	}
	if (f->written)
		return infd__fail(L->err, INFD_INTERNAL, "value %d was folded away but is still needed", v);
	int32_t src = alias_source(L, v);
	if (src == -2)
		return infd__fail(L->err, INFD_UNSUPPORTED,
				  "value %d shares part of its memory with a value the partition writes (not a plain view)",
				  v);
	if (src >= 0)
		return infd__xl_reshape_value(L, src, v);
	if (L->n_ext == L->cap_ext) {
		uint32_t cap = L->cap_ext ? 2 * L->cap_ext : 8;
		int32_t *p = realloc(L->ext, cap * sizeof *p);
		if (!p)
			return infd__xl_oom(L);
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

infd_status infd__xl_get_plain(struct low *L, int32_t v, uint32_t *id)
{
	infd_status st = infd__xl_ensure(L, v);
	struct form *f = &L->f[v];
	if (st == INFD_OK && f->plain == NONE) {
		uint32_t d[MAXR];
		infd__xl_dims(infd__xl_tensor(L, v), d);
		st = cl_to_plain(L, f->cl, infd__xl_tensor(L, v)->rank, d, &f->plain);
	}
	*id = f->plain;
	return st;
}

/* Channels-last form of a 3-d or 4-d value. */
infd_status infd__xl_get_cl(struct low *L, int32_t v, uint32_t *id)
{
	infd_status st = infd__xl_ensure(L, v);
	struct form *f = &L->f[v];
	const struct infd_tensor *t = infd__xl_tensor(L, v);
	uint32_t d[MAXR], c[4];
	infd__xl_dims(t, d);
	if (st == INFD_OK && f->cl == NONE) {
		if (infd__xl_is_const(t)) {
			infd__xl_cl_dims(t->rank, d, c);
			float *p = t->rank == 4 ? infd__xl_permute_data(t->data, 4, d, (const uint32_t[]){0, 2, 3, 1})
						: infd__xl_permute_data(t->data, 3, d, (const uint32_t[]){0, 2, 1});
			st = p ? infd__xl_new_value(L, 4, c, p, true, &f->cl) : infd__xl_oom(L);
		} else {
			st = infd__xl_plain_to_cl(L, f->plain, t->rank, d, &f->cl);
		}
	}
	*id = f->cl;
	return st;
}

/* y = x viewed with y's shape. Channels-last forms carry over when batch and
 * channels stay (only the spatial dims regroup). */
infd_status infd__xl_reshape_value(struct low *L, int32_t x, int32_t y)
{
	const struct infd_tensor *tx = infd__xl_tensor(L, x), *ty = infd__xl_tensor(L, y);
	struct form *fx = &L->f[x], *fy = &L->f[y];
	uint32_t dx[MAXR], dy[MAXR], c[4], p;
	infd__xl_dims(tx, dx);
	infd__xl_dims(ty, dy);
	if (infd__xl_is_const(tx))
		return infd__xl_new_value(L, ty->rank, dy, tx->data, false, &fy->plain);
	infd_status st = infd__xl_ensure(L, x);
	if (st)
		return st;
	if (fx->plain == NONE) {
		bool cl_x = tx->rank == 3 || tx->rank == 4, cl_y = ty->rank == 3 || ty->rank == 4;
		if (cl_x && cl_y && dx[0] == dy[0] && dx[1] == dy[1]) {
			infd__xl_cl_dims(ty->rank, dy, c);
			const struct infd_xvalue *xv = &L->g->values[fx->cl];
			if (memcmp(xv->dims, c, sizeof c) == 0) {
				fy->cl = fx->cl;
				return INFD_OK;
			}
			return infd__xl_reshape(L, fx->cl, 4, c, &fy->cl);
		}
		if (infd__xl_cl_trivial(tx->rank, dx))
			return infd__xl_reshape(L, fx->cl, ty->rank, dy, &fy->plain);
	}
	if ((st = infd__xl_get_plain(L, x, &p)))
		return st;
	if (tx->rank == ty->rank && memcmp(dx, dy, tx->rank * sizeof dx[0]) == 0) {
		fy->plain = p;
		return INFD_OK;
	}
	return infd__xl_reshape(L, p, ty->rank, dy, &fy->plain);
}

static bool overlaps(const struct infd_tensor *t, const uint8_t *b, const uint8_t *e)
{
	const uint8_t *tb = t->data;
	return tb && tb < e && b < tb + t->nbytes;
}

static bool is_view_over(const struct low *L, int32_t v, const uint8_t *b, const uint8_t *e)
{
	return v >= 0 && L->view_like[v] && overlaps(infd__xl_tensor(L, v), b, e);
}

/* Does an instruction outside the partition (or the caller) read y's memory
 * through a view, before something overwrites that memory? Views read inside
 * the partition become reshapes of y instead. */
static bool view_escapes(const struct low *L, int32_t y)
{
	const struct infd_tensor *t = infd__xl_tensor(L, y);
	if (!t->data)
		return false;
	const uint8_t *b = t->data, *e = b + t->nbytes;
	bool any = false;
	for (uint32_t i = 0; i < L->n_views && !any; i++)
		any = L->views[i] != y && overlaps(infd__xl_tensor(L, L->views[i]), b, e);
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
			if (rd->kind == INFD_VALUE_TENSOR && r != y && overlaps(infd__xl_tensor(L, r), b, e))
				goto done_chain;
			if (rd->kind == INFD_VALUE_TENSOR_LIST)
				for (uint32_t j = 0; j < rd->u.list.count; j++)
					if (rd->u.list.indices[j] != y &&
					    overlaps(infd__xl_tensor(L, rd->u.list.indices[j]), b, e))
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
void infd__xl_mark_written(struct low *L, int32_t y)
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


/* ---- External outputs and the partition ------------------------------------- */

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
	infd_status st = infd__xl_get_plain(L, v, &id);
	if (st)
		return st;
	struct infd_xvalue *xv = &L->g->values[id];
	if (xv->data || xv->flags) {
		uint32_t cp;
		if ((st = infd__xl_unary(L, INFD_XOP_COPY, id, &cp)))
			return st;
		id = cp;
		xv = &L->g->values[id];
	}
	if (L->n_ext == L->cap_ext) {
		uint32_t cap = L->cap_ext ? 2 * L->cap_ext : 8;
		int32_t *p = realloc(L->ext, cap * sizeof *p);
		if (!p)
			return infd__xl_oom(L);
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
		return infd__xl_oom(L);
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
		if (!infd__xl_parse(def, part->values, part->instrs[k], &calls[k])) {
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
		st = infd__xl_lower_one(&L, &calls[k]);
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
