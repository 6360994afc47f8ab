/* The lowering of each operator into the XNNPACK graph, and the folds it makes:
 * batch norm into the convolution before it, clamps into their producer,
 * transposed constant weights into fully-connected filters. */
#include "backends/xnnpack/lower_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE INFD_XNONE
#define MAXR INFD_XMAX_RANK

/* ---- Fusion ----------------------------------------------------------------- */

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

/* A constant whose data the graph owns: a copy of `n` floats (NULL src: zeros). */
static infd_status owned_copy(struct low *L, const float *src, uint64_t n, float **out)
{
	*out = src ? malloc(n * sizeof **out) : calloc(n, sizeof **out);
	if (!*out)
		return infd__xl_oom(L);
	if (src)
		memcpy(*out, src, n * sizeof **out);
	return INFD_OK;
}

/* ---- Lowering each operator -------------------------------------------------------- */

static infd_status lower_conv(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *w = infd__xl_tensor(L, c->x[1]);
	const struct infd_xconv *k = &c->conv;
	uint32_t in, filt, bias = NONE, wd[4], fd[4], od[MAXR], oc[4];
	infd_status st = infd__xl_get_cl(L, c->x[0], &in);
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
		if (!infd__xl_perm_is_reshape(4, wd, to_ohwi) && !(p = infd__xl_permute_data(src, 4, wd, to_ohwi)))
			return infd__xl_oom(L);
	} else if (c->node == INFD_XOP_DEPTHWISE_CONV2D) {
		fd[0] = 1, fd[1] = wd[2], fd[2] = wd[3], fd[3] = wd[0];
		if (!infd__xl_perm_is_reshape(4, wd, to_1hwo) && !(p = infd__xl_permute_data(src, 4, wd, to_1hwo)))
			return infd__xl_oom(L);
	} else {
		/* [g*ICg, OCg, KH, KW] -> [g*OCg, KH, KW, ICg] */
		uint32_t G = k->groups, icg = k->group_in, ocg = k->group_out, khw = k->kernel_h * k->kernel_w;
		fd[0] = G * ocg, fd[1] = k->kernel_h, fd[2] = k->kernel_w, fd[3] = icg;
		if (!(p = malloc(n * sizeof *p)))
			return infd__xl_oom(L);
		for (uint32_t g = 0; g < G; g++)
			for (uint32_t o = 0; o < ocg; o++)
				for (uint32_t s = 0; s < khw; s++)
					for (uint32_t i = 0; i < icg; i++)
						p[(((uint64_t)g * ocg + o) * khw + s) * icg + i] =
							src[(((uint64_t)g * icg + i) * ocg + o) * khw + s];
	}
	if ((st = infd__xl_new_value(L, 4, fd, p ? p : src, p != NULL, &filt)))
		return st;
	if (c->x[2] >= 0 &&
	    (st = infd__xl_new_value(L, 1, (const uint32_t[]){fd[c->node == INFD_XOP_DEPTHWISE_CONV2D ? 3 : 0]},
				     infd__xl_tensor(L, c->x[2])->data, false, &bias)))
		return st;
	struct infd_xnode nd = infd__xl_node(c->node);
	nd.n_in = 3;
	nd.in[0] = in;
	nd.in[1] = filt;
	nd.in[2] = bias;
	nd.p.conv = *k;
	const struct infd_tensor *o = infd__xl_tensor(L, c->out);
	infd__xl_dims(o, od);
	infd__xl_cl_dims(o->rank, od, oc);
	infd__xl_mark_written(L, c->out);
	return infd__xl_emit(L, &nd, 4, oc, &L->f[c->out].cl);
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
		return infd__xl_oom(L);
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
		infd_status st = infd__xl_new_value(L, 1, &C, bf, true, &bid);
		if (st)
			return st; /* the graph is discarded on failure */
		n->in[2] = bid; /* nodes stay put while values grow */
	}
	*folded = true;
	return INFD_OK;
}

static infd_status lower_batch_norm(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *t = infd__xl_tensor(L, c->x[0]);
	uint32_t C = (uint32_t)t->sizes[1], x, sv, hv, tmp, dims[3] = {C, 1, 1};
	float *scale = malloc(C * sizeof *scale), *shift = malloc(C * sizeof *shift);
	infd_status st = INFD_OK;
	bool folded = false;
	if (!scale || !shift) {
		free(scale);
		free(shift);
		return infd__xl_oom(L);
	}
	const float *w = c->x[1] >= 0 ? infd__xl_tensor(L, c->x[1])->data : NULL,
		    *b = c->x[2] >= 0 ? infd__xl_tensor(L, c->x[2])->data : NULL;
	const float *mean = infd__xl_tensor(L, c->x[3])->data, *var = infd__xl_tensor(L, c->x[4])->data;
	for (uint32_t i = 0; i < C; i++) {
		scale[i] = (float)((w ? w[i] : 1.0f) / sqrt((double)var[i] + c->eps));
		shift[i] = (b ? b[i] : 0.0f) - mean[i] * scale[i];
	}
	if (!(st = infd__xl_ensure(L, c->x[0])))
		st = fold_into_conv(L, c->x[0], scale, shift, C, &folded);
	if (st || folded) {
		if (!st) {
			infd__xl_mark_written(L, c->out);
			take_over(L, c->x[0], c->out);
		}
		free(scale);
		free(shift);
		return st;
	}
	/* per-channel multiply and add in the layout x has */
	bool cl = L->f[c->x[0]].cl != NONE;
	uint32_t rank = cl ? 1 : t->rank - 1;
	if ((st = cl ? infd__xl_get_cl(L, c->x[0], &x) : infd__xl_get_plain(L, c->x[0], &x))) {
		free(scale);
		free(shift);
		return st;
	}
	st = infd__xl_new_value(L, rank, dims, scale, true, &sv); /* takes scale, even on failure */
	if (st) {
		free(shift);
		return st;
	}
	if ((st = infd__xl_new_value(L, rank, dims, shift, true, &hv)))
		return st;
	struct infd_xnode m = infd__xl_node(INFD_XOP_MULTIPLY), a = infd__xl_node(INFD_XOP_ADD);
	m.n_in = a.n_in = 2;
	m.in[0] = x;
	m.in[1] = sv;
	const struct infd_xvalue *xv = &L->g->values[x];
	uint32_t xd[MAXR], xr = xv->rank;
	memcpy(xd, xv->dims, sizeof xd);
	if ((st = infd__xl_emit(L, &m, xr, xd, &tmp)))
		return st;
	a.in[0] = tmp;
	a.in[1] = hv;
	infd__xl_mark_written(L, c->out);
	return infd__xl_emit(L, &a, xr, xd, cl ? &L->f[c->out].cl : &L->f[c->out].plain);
}

static infd_status lower_clamp(struct low *L, const struct lcall *c)
{
	int32_t x = c->x[0];
	infd_status st = infd__xl_ensure(L, x);
	if (st)
		return st;
	struct infd_xnode *n = sole_producer(L, x);
	if (n && clamp_fusable(n->op)) {
		n->out_min = fmaxf(n->out_min, c->lo);
		n->out_max = fminf(n->out_max, c->hi);
		infd__xl_mark_written(L, c->out);
		take_over(L, x, c->out);
		return INFD_OK;
	}
	bool cl = L->f[x].cl != NONE;
	uint32_t in = cl ? L->f[x].cl : L->f[x].plain, out;
	struct infd_xnode nd = infd__xl_node(INFD_XOP_CLAMP);
	nd.n_in = 1;
	nd.in[0] = in;
	nd.out_min = c->lo;
	nd.out_max = c->hi;
	const struct infd_xvalue *xv = &L->g->values[in];
	uint32_t d[MAXR], r = xv->rank;
	memcpy(d, xv->dims, sizeof d);
	infd__xl_mark_written(L, c->out);
	if ((st = infd__xl_emit(L, &nd, r, d, &out)))
		return st;
	*(cl ? &L->f[c->out].cl : &L->f[c->out].plain) = out;
	return INFD_OK;
}

static infd_status lower_unary(struct low *L, const struct lcall *c)
{
	int32_t x = c->x[0];
	infd_status st = infd__xl_ensure(L, x);
	if (st)
		return st;
	bool cl = L->f[x].cl != NONE;
	uint32_t in = cl ? L->f[x].cl : L->f[x].plain, out;
	struct infd_xnode nd = infd__xl_node(c->op->xop);
	nd.n_in = 1;
	nd.in[0] = in;
	nd.p.alpha = c->alpha;
	const struct infd_xvalue *xv = &L->g->values[in];
	uint32_t d[MAXR], r = xv->rank;
	memcpy(d, xv->dims, sizeof d);
	infd__xl_mark_written(L, c->out);
	if ((st = infd__xl_emit(L, &nd, r, d, &out)))
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
	infd__xl_dims(t, d);
	if (!cl)
		return infd__xl_new_value(L, t->rank, d, data, owned, id);
	for (uint32_t i = 0; i < r; i++)
		pd[i] = i + t->rank >= r ? d[i + t->rank - r] : 1;
	infd__xl_cl_dims(r, pd, c);
	if (infd__xl_cl_trivial(r, pd))
		return infd__xl_new_value(L, 4, c, data, owned, id);
	float *q = r == 4 ? infd__xl_permute_data(data, 4, pd, (const uint32_t[]){0, 2, 3, 1})
			  : infd__xl_permute_data(data, 3, pd, (const uint32_t[]){0, 2, 1});
	if (owned)
		free((void *)data);
	return q ? infd__xl_new_value(L, 4, c, q, true, id) : infd__xl_oom(L);
}

/* Non-constant operand x of an elementwise op with output rank r (3 or 4), in
 * channels-last form; lower ranks broadcast as numpy does. */
static infd_status operand_cl(struct low *L, int32_t x, uint32_t r, uint32_t *id)
{
	const struct infd_tensor *t = infd__xl_tensor(L, x);
	if (t->rank == r)
		return infd__xl_get_cl(L, x, id);
	uint32_t pd[4], c[4], p, tmp;
	for (uint32_t i = 0; i < r; i++)
		pd[i] = i + t->rank >= r ? (uint32_t)t->sizes[i + t->rank - r] : 1;
	infd__xl_cl_dims(r, pd, c);
	infd_status st = infd__xl_get_plain(L, x, &p);
	if (st)
		return st;
	if (infd__xl_cl_trivial(r, pd))
		return infd__xl_reshape(L, p, 4, c, id);
	if ((st = infd__xl_reshape(L, p, r, pd, &tmp)))
		return st;
	return infd__xl_plain_to_cl(L, tmp, r, pd, id);
}

/* Operand i of an elementwise op in the chosen layout. */
static infd_status operand(struct low *L, int32_t x, uint32_t r, bool cl, uint32_t *id)
{
	const struct infd_tensor *t = infd__xl_tensor(L, x);
	if (infd__xl_is_const(t))
		return const_operand(L, t->data, false, t, r, cl, id);
	return cl ? operand_cl(L, x, r, id) : infd__xl_get_plain(L, x, id);
}

/* A static [1] tensor holding v. */
static infd_status scalar_value(struct low *L, float v, uint32_t *id)
{
	float *p = malloc(sizeof *p);
	if (!p)
		return infd__xl_oom(L);
	*p = v;
	return infd__xl_new_value(L, 1, (const uint32_t[]){1}, p, true, id);
}

static infd_status lower_binary(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *o = infd__xl_tensor(L, c->out);
	uint32_t r = o->rank, a, b, od[MAXR], oc[4];
	infd_status st;
	bool cl = false;
	infd__xl_dims(o, od);
	if (r == 3 || r == 4) {
		bool any = false, all = true;
		for (uint32_t i = 0; i < c->n_x; i++) {
			const struct infd_tensor *t = infd__xl_tensor(L, c->x[i]);
			if (infd__xl_is_const(t) || t->rank != r)
				continue;
			if ((st = infd__xl_ensure(L, c->x[i])))
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
	} else if (scaled && infd__xl_is_const(infd__xl_tensor(L, c->x[1]))) {
		const struct infd_tensor *t = infd__xl_tensor(L, c->x[1]);
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
			struct infd_xnode m = infd__xl_node(INFD_XOP_MULTIPLY);
			const struct infd_xvalue *bv = &L->g->values[b];
			uint32_t bd[MAXR], br = bv->rank;
			memcpy(bd, bv->dims, sizeof bd);
			if ((st = scalar_value(L, c->alpha, &s)))
				return st;
			m.n_in = 2;
			m.in[0] = b;
			m.in[1] = s;
			if ((st = infd__xl_emit(L, &m, br, bd, &tmp)))
				return st;
			b = tmp;
		}
	}
	struct infd_xnode nd = infd__xl_node(op);
	nd.n_in = 2;
	nd.in[0] = a;
	nd.in[1] = b;
	infd__xl_mark_written(L, c->out);
	if (cl) {
		infd__xl_cl_dims(r, od, oc);
		return infd__xl_emit(L, &nd, 4, oc, &L->f[c->out].cl);
	}
	return infd__xl_emit(L, &nd, r, od, &L->f[c->out].plain);
}

static infd_status lower_matmul(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *o = infd__xl_tensor(L, c->out);
	uint32_t od[MAXR], in, filt = NONE, bias = NONE, res;
	infd__xl_dims(o, od);
	infd_status st;
	struct infd_xnode nd = infd__xl_node(INFD_XOP_FULLY_CONNECTED);
	int32_t bias_v = c->op->kind == K_LINEAR ? c->x[2] : c->x[0];
	if (c->op->kind == K_BMM) {
		uint32_t b;
		nd = infd__xl_node(INFD_XOP_BATCH_MATMUL);
		if ((st = infd__xl_get_plain(L, c->x[0], &in)) || (st = infd__xl_get_plain(L, c->x[1], &b)))
			return st;
		nd.n_in = 2;
		nd.in[0] = in;
		nd.in[1] = b;
		infd__xl_mark_written(L, c->out);
		return infd__xl_emit(L, &nd, 3, od, &L->f[c->out].plain);
	}
	if (c->op->kind == K_LINEAR) {
		const struct infd_tensor *w = infd__xl_tensor(L, c->x[1]);
		if ((st = infd__xl_get_plain(L, c->x[0], &in)) ||
		    (st = infd__xl_new_value(L, 2, (const uint32_t[]){(uint32_t)w->sizes[0], (uint32_t)w->sizes[1]},
					     w->data, false, &filt)))
			return st;
	} else {
		int32_t m2 = c->x[2];
		const struct infd_tensor *w = infd__xl_tensor(L, m2);
		if ((st = infd__xl_get_plain(L, c->x[1], &in)))
			return st;
		if (L->f[m2].tsrc >= 0) {
			/* mat2 = W^T of a constant W [N, K]: W is the filter as it is */
			const struct infd_tensor *s = infd__xl_tensor(L, L->f[m2].tsrc);
			st = infd__xl_new_value(L, 2, (const uint32_t[]){(uint32_t)s->sizes[0], (uint32_t)s->sizes[1]},
						s->data, false, &filt);
		} else if (infd__xl_is_const(w)) {
			nd.flags = INFD_XFLAG_TRANSPOSE_WEIGHTS;
			st = infd__xl_new_value(L, 2, (const uint32_t[]){(uint32_t)w->sizes[0], (uint32_t)w->sizes[1]},
						w->data, false, &filt);
		} else {
			nd = infd__xl_node(INFD_XOP_BATCH_MATMUL);
			st = infd__xl_get_plain(L, m2, &filt);
		}
		if (st)
			return st;
	}
	nd.n_in = nd.op == INFD_XOP_FULLY_CONNECTED ? 3 : 2;
	if (nd.op == INFD_XOP_FULLY_CONNECTED) {
		/* a fully-connected node flattens leading dims itself: skip a reshape to 2-d */
		const struct infd_xnode *pr = infd__xl_producer(L, in);
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
		const struct infd_tensor *b = infd__xl_tensor(L, bias_v);
		uint32_t n = od[o->rank - 1];
		if (nd.op == INFD_XOP_FULLY_CONNECTED && infd__xl_is_const(b) && b->numel == n &&
		    b->sizes[b->rank - 1] == (int32_t)n) {
			if ((st = infd__xl_new_value(L, 1, &n, b->data, false, &bias)))
				return st;
			nd.in[2] = bias;
		} else {
			add_after = true;
		}
	}
	if (!add_after) {
		infd__xl_mark_written(L, c->out);
		return infd__xl_emit(L, &nd, o->rank, od, &L->f[c->out].plain);
	}
	if ((st = infd__xl_emit(L, &nd, o->rank, od, &res)) || (st = infd__xl_get_plain(L, bias_v, &bias)))
		return st;
	struct infd_xnode a = infd__xl_node(INFD_XOP_ADD);
	a.n_in = 2;
	a.in[0] = res;
	a.in[1] = bias;
	infd__xl_mark_written(L, c->out);
	return infd__xl_emit(L, &a, o->rank, od, &L->f[c->out].plain);
}

static infd_status lower_pool(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *o = infd__xl_tensor(L, c->out);
	uint32_t in, od[MAXR], oc[4];
	infd_status st = infd__xl_get_cl(L, c->x[0], &in);
	if (st)
		return st;
	infd__xl_dims(o, od);
	struct infd_xnode nd = infd__xl_node(c->node);
	nd.n_in = 1;
	nd.in[0] = in;
	nd.p.pool = c->pool;
	infd__xl_mark_written(L, c->out);
	if (c->node == INFD_XOP_GLOBAL_AVG_POOL2D) {
		const struct infd_xvalue *xv = &L->g->values[in];
		if (c->op->kind == K_MEAN && !c->flag) /* [N, C] */
			return infd__xl_emit(L, &nd, 2, (const uint32_t[]){xv->dims[0], xv->dims[3]},
					     &L->f[c->out].plain);
		nd.flags = INFD_XFLAG_KEEP_DIMS;
		return infd__xl_emit(L, &nd, 4, (const uint32_t[]){xv->dims[0], 1, 1, xv->dims[3]}, &L->f[c->out].cl);
	}
	if (c->op->kind == K_UPSAMPLE) {
		nd.p.resize.new_h = od[2];
		nd.p.resize.new_w = od[3];
		nd.flags = c->flag ? INFD_XFLAG_ALIGN_CORNERS : 0;
	}
	infd__xl_cl_dims(o->rank, od, oc);
	return infd__xl_emit(L, &nd, 4, oc, &L->f[c->out].cl);
}

static infd_status lower_permute(struct low *L, const struct lcall *c)
{
	int32_t x = c->x[0], y = c->out;
	const struct infd_tensor *t = infd__xl_tensor(L, x);
	uint32_t rank = t->rank, d[MAXR], perm[MAXR], in;
	infd__xl_dims(t, d);
	memcpy(perm, c->perm, sizeof perm);
	bool identity = true;
	for (uint32_t i = 0; i < rank; i++)
		identity &= perm[i] == i;
	if (infd__xl_is_const(t) && rank == 2 && !identity) {
		infd__xl_mark_written(L, y);
		L->f[y].tsrc = x; /* built only if something needs it as a tensor */
		return INFD_OK;
	}
	infd_status st = infd__xl_ensure(L, x);
	if (st)
		return st;
	struct form *fx = &L->f[x];
	if (infd__xl_is_const(t)) {
		uint32_t od[MAXR];
		for (uint32_t i = 0; i < rank; i++)
			od[i] = d[perm[i]];
		float *p = infd__xl_permute_data(t->data, rank, d, perm);
		if (!p)
			return infd__xl_oom(L);
		infd__xl_mark_written(L, y);
		return infd__xl_new_value(L, rank, od, p, true, &L->f[y].plain);
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
		infd__xl_mark_written(L, y);
		if (id) {
			L->f[y].plain = in;
			return INFD_OK;
		}
		return infd__xl_transpose(L, in, r, &L->f[y].plain);
	}
	if (fx->plain == NONE && rank == 3 && perm[0] == 0 && perm[1] == 2 && perm[2] == 1) {
		in = fx->cl; /* [N,1,L,C] is [N,L,C] */
		infd__xl_mark_written(L, y);
		return infd__xl_reshape(L, in, 3, (const uint32_t[]){d[0], d[2], d[1]}, &L->f[y].plain);
	}
	if ((st = infd__xl_get_plain(L, x, &in)))
		return st;
	infd__xl_mark_written(L, y);
	if (identity) {
		L->f[y].plain = in;
		return INFD_OK;
	}
	return infd__xl_transpose(L, in, perm, &L->f[y].plain);
}

/* Map plain dim i of a rank-r (3 or 4) tensor to its channels-last dim. */
static uint32_t cl_dim(uint32_t r, uint32_t i)
{
	static const uint32_t m4[4] = {0, 3, 1, 2}, m3[3] = {0, 3, 2};
	return r == 4 ? m4[i] : m3[i];
}

static infd_status lower_cat(struct low *L, const struct lcall *c)
{
	const struct infd_tensor *o = infd__xl_tensor(L, c->out);
	uint32_t r = o->rank, od[MAXR], oc[4];
	infd_status st;
	infd__xl_dims(o, od);
	if (c->n_x == 1) {
		if ((st = infd__xl_ensure(L, c->x[0])))
			return st;
		infd__xl_mark_written(L, c->out);
		L->f[c->out].plain = L->f[c->x[0]].plain;
		L->f[c->out].cl = L->f[c->x[0]].cl;
		return INFD_OK;
	}
	bool cl = r == 3 || r == 4;
	for (uint32_t i = 0; i < c->n_x && cl; i++) {
		if (infd__xl_is_const(infd__xl_tensor(L, c->x[i])))
			cl = false;
		else if ((st = infd__xl_ensure(L, c->x[i])))
			return st;
		else
			cl = L->f[c->x[i]].cl != NONE;
	}
	struct infd_xnode nd = infd__xl_node(INFD_XOP_CONCATENATE);
	nd.n_in = c->n_x;
	for (uint32_t i = 0; i < c->n_x; i++)
		if ((st = cl ? infd__xl_get_cl(L, c->x[i], &nd.in[i]) : infd__xl_get_plain(L, c->x[i], &nd.in[i])))
			return st;
	infd__xl_mark_written(L, c->out);
	if (cl) {
		nd.p.axis = cl_dim(r, c->axis);
		infd__xl_cl_dims(r, od, oc);
		return infd__xl_emit(L, &nd, 4, oc, &L->f[c->out].cl);
	}
	nd.p.axis = c->axis;
	return infd__xl_emit(L, &nd, r, od, &L->f[c->out].plain);
}

/* y = a slice (offsets `pre`) or a constant pad (`pre`, `post`, `value`) of x,
 * in whichever layout x has. */
static infd_status slice_or_pad(struct low *L, bool slice, int32_t x, int32_t y, const uint32_t *pre,
				const uint32_t *post, float value)
{
	const struct infd_tensor *t = infd__xl_tensor(L, x), *o = infd__xl_tensor(L, y);
	uint32_t r = t->rank, od[MAXR], in;
	infd_status st = infd__xl_ensure(L, x);
	if (st)
		return st;
	infd__xl_dims(o, od);
	bool cl = (r == 3 || r == 4) && L->f[x].plain == NONE;
	struct infd_xnode nd = infd__xl_node(slice ? INFD_XOP_STATIC_SLICE : INFD_XOP_CONSTANT_PAD);
	nd.n_in = 1;
	if ((st = cl ? infd__xl_get_cl(L, x, &in) : infd__xl_get_plain(L, x, &in)))
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
	infd__xl_mark_written(L, y);
	return infd__xl_emit(L, &nd, nr, dims, cl ? &L->f[y].cl : &L->f[y].plain);
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
	const struct infd_tensor *o = infd__xl_tensor(L, c->out);
	infd_status st;
	if ((st = infd__xl_get_plain(L, c->x[0], &in)) || (c->x[1] >= 0 && (st = infd__xl_get_plain(L, c->x[1], &w))) ||
	    (c->x[2] >= 0 && (st = infd__xl_get_plain(L, c->x[2], &b))))
		return st;
	struct infd_xnode nd = infd__xl_node(INFD_XOP_LAYER_NORM);
	nd.n_in = 3;
	nd.in[0] = in;
	nd.in[1] = w;
	nd.in[2] = b;
	nd.p.eps = (float)c->eps;
	infd__xl_dims(o, od);
	infd__xl_mark_written(L, c->out);
	return infd__xl_emit(L, &nd, o->rank, od, &L->f[c->out].plain);
}

static infd_status lower_softmax(struct low *L, const struct lcall *c)
{
	uint32_t in;
	infd_status st = infd__xl_get_plain(L, c->x[0], &in);
	if (st)
		return st;
	infd__xl_mark_written(L, c->out);
	return infd__xl_unary(L, INFD_XOP_SOFTMAX, in, &L->f[c->out].plain);
}

infd_status infd__xl_lower_one(struct low *L, const struct lcall *c)
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
		infd_status st = infd__xl_ensure(L, c->x[0]);
		if (st)
			return st;
		infd__xl_mark_written(L, c->out);
		return infd__xl_reshape_value(L, c->x[0], c->out);
	}
	case K_COPY: {
		/* the copy shares the graph value; binding an output copies where needed */
		infd_status st = infd__xl_ensure(L, c->x[0]);
		if (st)
			return st;
		infd__xl_mark_written(L, c->out);
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
