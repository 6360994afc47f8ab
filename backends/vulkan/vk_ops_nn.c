/* Lowering of the Vulkan backend's network operators: matrix products (mm,
 * bmm, addmm, linear on the tiled GEMM shader), 2-d (and 1-d) convolution,
 * max / average pooling, mean over dims, softmax and layer normalization. */
#include <string.h>

#include "vk_internal.h"

/* ---- Matrix products ----------------------------------------------------------- */

struct gemm {
	int32_t out, a, b, bias;
	uint32_t M, N, K, batch;
	uint32_t a_rs, a_ks, a_bs, b_ks, b_cs, b_bs, c_rs, c_cs, c_bs;
	float alpha, beta;
};

static bool gemm_emit(struct vk_lower *L, const struct gemm *g)
{
	uint32_t gx = (g->N + 63) / 64, gy = (g->M + 63) / 64;
	if (gx > 65535 || gy > 65535 || g->batch > 65535)
		return false;
	struct vk_dispatch *d = infd__vk_emit(L, VK_PIPE_GEMM);
	if (!d)
		return false;
	d->bind[0] = g->out;
	d->bind[1] = g->a;
	d->bind[2] = g->b;
	d->bind[3] = g->bias;
	uint32_t *p = d->params;
	d->n_params = 16;
	memset(p, 0, 16 * sizeof *p);
	p[0] = g->M;
	p[1] = g->N;
	p[2] = g->K;
	p[3] = g->batch;
	p[4] = g->a_rs;
	p[5] = g->a_ks;
	p[6] = g->a_bs;
	p[7] = g->b_ks;
	p[8] = g->b_cs;
	p[9] = g->b_bs;
	p[10] = g->bias >= 0 ? 1u : 0u;
	p[11] = infd__vk_fbits(g->alpha);
	p[12] = infd__vk_fbits(g->beta);
	p[13] = g->c_rs;
	p[14] = g->c_cs;
	p[15] = g->c_bs;
	d->groups[0] = gx;
	d->groups[1] = gy;
	d->groups[2] = g->batch;
	return true;
}

/* mm.out [self, mat2, out, ret] (variant 0), bmm.out (1), addmm.out [self, mat1,
 * mat2, beta, alpha, out, ret] (2), linear.out [input, weight, bias?, out, ret] (3) */
bool infd__vk_lower_mm(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	static const uint32_t want_n[] = {4, 4, 7, 5};
	if (n != want_n[variant])
		return false;
	struct gemm g = {.bias = -1, .alpha = 1, .beta = 1, .batch = 1};
	int32_t out = args[n - 2], ret = args[n - 1];
	int32_t sizes[INFD_MAX_RANK];
	uint32_t rank;
	if (variant <= 2) {
		g.a = args[variant == 2 ? 1 : 0];
		g.b = args[variant == 2 ? 2 : 1];
		const struct infd_tensor *a = infd__vk_f32(L, g.a), *b = infd__vk_f32(L, g.b);
		uint32_t r = variant == 1 ? 3 : 2, o = r - 2;
		if (!a || !b || a->rank != r || b->rank != r || a->sizes[o + 1] != b->sizes[o] ||
		    (variant == 1 && a->sizes[0] != b->sizes[0]))
			return false;
		g.M = (uint32_t)a->sizes[o];
		g.K = (uint32_t)a->sizes[o + 1];
		g.N = (uint32_t)b->sizes[o + 1];
		g.batch = variant == 1 ? (uint32_t)a->sizes[0] : 1;
		g.a_rs = g.K;
		g.a_ks = 1;
		g.a_bs = g.M * g.K;
		g.b_ks = g.N;
		g.b_cs = 1;
		g.b_bs = g.K * g.N;
		rank = r;
		if (variant == 1)
			sizes[0] = (int32_t)g.batch;
		sizes[o] = (int32_t)g.M;
		sizes[o + 1] = (int32_t)g.N;
	} else {
		g.a = args[0];
		g.b = args[1];
		const struct infd_tensor *a = infd__vk_f32(L, g.a), *w = infd__vk_f32(L, g.b);
		if (!a || !w || a->rank < 1 || w->rank != 2 || a->sizes[a->rank - 1] != w->sizes[1])
			return false;
		g.K = (uint32_t)w->sizes[1];
		g.N = (uint32_t)w->sizes[0];
		g.M = (uint32_t)(a->numel / g.K);
		g.a_rs = g.K;
		g.a_ks = 1;
		g.b_ks = 1; /* B = weight transposed */
		g.b_cs = g.K;
		rank = a->rank;
		memcpy(sizes, a->sizes, sizeof sizes);
		sizes[rank - 1] = (int32_t)g.N;
	}
	if (g.a == out || g.b == out || !infd__vk_out(L, out, ret, rank, sizes))
		return false;
	if (variant == 2) {
		double alpha, beta;
		const struct infd_tensor *c = infd__vk_f32(L, args[0]);
		if (!c || args[0] == out || !infd__vk_num(L, args[3], &beta) || !infd__vk_num(L, args[4], &alpha) ||
		    c->rank > 2)
			return false;
		/* self broadcasts to [M, N] */
		int32_t cr = c->rank == 2 ? c->sizes[0] : 1, cc = c->rank >= 1 ? c->sizes[c->rank - 1] : 1;
		if ((cr != 1 && cr != (int32_t)g.M) || (cc != 1 && cc != (int32_t)g.N))
			return false;
		g.alpha = (float)alpha;
		g.beta = (float)beta;
		if (beta != 0) {
			g.bias = args[0];
			g.c_rs = cr == 1 ? 0 : (uint32_t)cc;
			g.c_cs = cc == 1 ? 0 : 1;
		}
	} else if (variant == 3 && !infd__vk_is_null(L, args[2])) {
		const struct infd_tensor *c = infd__vk_f32(L, args[2]);
		if (!c || args[2] == out || c->rank != 1 || (c->sizes[0] != (int32_t)g.N && c->sizes[0] != 1))
			return false;
		g.bias = args[2];
		g.c_cs = c->sizes[0] == 1 ? 0 : 1;
	}
	g.out = out;
	return gemm_emit(L, &g);
}

/* ---- Convolution ------------------------------------------------------------------ */

/* A list of nd ints, or one int meaning all nd. */
static bool nd_list(const struct vk_lower *L, int32_t v, uint32_t nd, int64_t lo, int64_t *out)
{
	int64_t x[INFD_MAX_RANK];
	uint32_t n;
	if (!infd__vk_int_list(L, v, x, INFD_MAX_RANK, &n) || (n != nd && n != 1))
		return false;
	for (uint32_t i = 0; i < nd; i++) {
		out[i] = x[n == 1 ? 0 : i];
		if (out[i] < lo || out[i] > 65535)
			return false;
	}
	return true;
}

/* convolution.out [input, weight, bias?, stride, padding, dilation, transposed,
 * output_padding, groups, out, ret]: 2-d, or 1-d as a 2-d of height 1 */
bool infd__vk_lower_conv(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	if (n != 11)
		return false;
	const struct infd_tensor *x = infd__vk_f32(L, args[0]), *w = infd__vk_f32(L, args[1]);
	bool transposed;
	int64_t groups;
	if (!x || !w || (x->rank != 4 && x->rank != 3) || w->rank != x->rank ||
	    !infd__vk_bool(L, args[6], &transposed) || transposed || !infd__vk_int(L, args[8], &groups) || groups < 1)
		return false;
	uint32_t nd = x->rank - 2;
	int64_t s[2], pad[2], dil[2];
	if (!nd_list(L, args[3], nd, 1, s) || !nd_list(L, args[4], nd, 0, pad) || !nd_list(L, args[5], nd, 1, dil))
		return false;
	int64_t N = x->sizes[0], C = x->sizes[1], H = nd == 2 ? x->sizes[2] : 1, W = x->sizes[x->rank - 1];
	int64_t CO = w->sizes[0], KH = nd == 2 ? w->sizes[2] : 1, KW = w->sizes[w->rank - 1];
	if (nd == 1) {
		s[1] = s[0], pad[1] = pad[0], dil[1] = dil[0];
		s[0] = 1, pad[0] = 0, dil[0] = 1;
	}
	if (C % groups || CO % groups || w->sizes[1] != C / groups)
		return false;
	int64_t OH = (H + 2 * pad[0] - dil[0] * (KH - 1) - 1) / s[0] + 1;
	int64_t OW = (W + 2 * pad[1] - dil[1] * (KW - 1) - 1) / s[1] + 1;
	if (H + 2 * pad[0] - dil[0] * (KH - 1) - 1 < 0 || W + 2 * pad[1] - dil[1] * (KW - 1) - 1 < 0)
		return false;
	int32_t bias = -1;
	if (!infd__vk_is_null(L, args[2])) {
		const struct infd_tensor *b = infd__vk_f32(L, args[2]);
		if (!b || b->rank != 1 || b->sizes[0] != CO)
			return false;
		bias = args[2];
	}
	int32_t osz[4] = {(int32_t)N, (int32_t)CO, (int32_t)OH, (int32_t)OW};
	if (nd == 1)
		osz[2] = (int32_t)OW;
	int32_t out = args[9];
	if (out == args[0] || !infd__vk_out(L, out, args[10], x->rank, osz))
		return false;
	uint32_t ocb = ((CO / groups) % 4 == 0) ? 4 : 1;
	uint64_t total = (uint64_t)N * (uint64_t)(CO / ocb) * (uint64_t)OH * (uint64_t)OW;
	struct vk_dispatch *d = infd__vk_emit(L, VK_PIPE_CONV2D);
	if (!d)
		return false;
	d->bind[0] = out;
	d->bind[1] = args[0];
	d->bind[2] = args[1];
	d->bind[3] = bias;
	const int64_t v[19] = {N, C, H, W, CO, OH, OW, KH, KW, s[0], s[1], pad[0], pad[1], dil[0], dil[1], groups,
			       ocb, bias >= 0, (int64_t)total};
	d->n_params = 19;
	for (int i = 0; i < 19; i++)
		d->params[i] = (uint32_t)v[i];
	infd__vk_grid1(d, total, 64);
	return true;
}

/* ---- Pooling ----------------------------------------------------------------------- */

/* kernel / stride / padding / dilation: one int or two; `dflt` when empty */
static bool pool_pair(const struct vk_lower *L, int32_t v, const int64_t *dflt, int64_t lo, int64_t *out)
{
	int64_t x[INFD_MAX_RANK];
	uint32_t n;
	if (!infd__vk_int_list(L, v, x, INFD_MAX_RANK, &n))
		return false;
	if (n == 0 && dflt) {
		out[0] = dflt[0];
		out[1] = dflt[1];
	} else if (n == 1 || n == 2) {
		out[0] = x[0];
		out[1] = x[n - 1];
	} else {
		return false;
	}
	return out[0] >= lo && out[1] >= lo && out[0] <= 65535 && out[1] <= 65535;
}

/* PyTorch's pooling output size (ceil mode: the last window starts inside). */
static int64_t pool_size(int64_t in, int64_t k, int64_t pad, int64_t s, int64_t dil, bool ceil_mode)
{
	int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
	int64_t o = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
	if (ceil_mode && (o - 1) * s >= in + pad)
		o--;
	return o;
}

/* max_pool2d_with_indices.out [self, kernel, stride, padding, dilation, ceil_mode,
 * out, indices, ret] (variant 0); avg_pool2d.out [self, kernel, stride, padding,
 * ceil_mode, count_include_pad, divisor_override?, out, ret] (variant 1) */
bool infd__vk_lower_pool(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	if (n != 9)
		return false;
	const struct infd_tensor *x = infd__vk_f32(L, args[0]);
	int64_t k[2], s[2], pad[2], dil[2] = {1, 1}, divisor = 0;
	bool ceil_mode, count_pad = false;
	if (!x || (x->rank != 3 && x->rank != 4) || !pool_pair(L, args[1], NULL, 1, k) ||
	    !pool_pair(L, args[2], k, 1, s) || !pool_pair(L, args[3], NULL, 0, pad))
		return false;
	if (variant == 0) {
		if (!pool_pair(L, args[4], NULL, 1, dil) || !infd__vk_bool(L, args[5], &ceil_mode))
			return false;
	} else {
		if (!infd__vk_bool(L, args[4], &ceil_mode) || !infd__vk_bool(L, args[5], &count_pad))
			return false;
		if (!infd__vk_is_null(L, args[6]) && (!infd__vk_int(L, args[6], &divisor) || divisor == 0))
			return false;
	}
	if (pad[0] > k[0] / 2 || pad[1] > k[1] / 2)
		return false;
	uint32_t o = x->rank - 3;
	int64_t H = x->sizes[o + 1], W = x->sizes[o + 2];
	int64_t OH = pool_size(H, k[0], pad[0], s[0], dil[0], ceil_mode);
	int64_t OW = pool_size(W, k[1], pad[1], s[1], dil[1], ceil_mode);
	if (OH < 1 || OW < 1)
		return false;
	int32_t osz[4];
	memcpy(osz, x->sizes, sizeof osz);
	osz[o + 1] = (int32_t)OH;
	osz[o + 2] = (int32_t)OW;
	int32_t out = args[variant == 0 ? 6 : 7];
	if (out == args[0] || !infd__vk_out(L, out, out, x->rank, osz))
		return false;
	int32_t ind = -1;
	if (variant == 0) {
		ind = args[7];
		const struct infd_evalue *e = &L->values[ind];
		if (e->kind != INFD_VALUE_TENSOR || ind == out || ind == args[0] || L->values[args[8]].kind != INFD_VALUE_TENSOR_LIST)
			return false;
		const struct infd_tensor *t = e->u.t;
		if (t->dtype != INFD_DTYPE_INT64 || !infd__tensor_is_contiguous(t) || t->is_const || t->rank != x->rank ||
		    memcmp(t->sizes, osz, x->rank * sizeof *osz) != 0 || t->nbytes > L->max_range ||
		    (t->def && t->def->dynamism != INFD_SHAPE_STATIC))
			return false;
	} else if (args[8] != out) {
		return false;
	}
	uint64_t total = L->values[out].u.t->numel;
	struct vk_dispatch *d = infd__vk_emit(L, VK_PIPE_POOL);
	if (!d)
		return false;
	d->bind[0] = out;
	d->bind[1] = args[0];
	d->bind[2] = ind;
	d->writes = ind >= 0 ? 1 | 4 : 1;
	const int64_t v[17] = {variant, (int64_t)total, H, W, OH, OW, k[0], k[1], s[0], s[1], pad[0], pad[1],
			       dil[0], dil[1], count_pad, divisor, ind >= 0};
	d->n_params = 17;
	for (int i = 0; i < 17; i++)
		d->params[i] = (uint32_t)v[i];
	infd__vk_grid1(d, total, 64);
	return true;
}

/* ---- Reductions, softmax, layer norm ------------------------------------------------- */

static void grid_groups(struct vk_dispatch *d, uint64_t groups)
{
	infd__vk_grid1(d, groups, 1);
}

/* mean.out [self, dim?, keepdim, dtype?, out, ret] */
bool infd__vk_lower_mean(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	const struct infd_tensor *x = infd__vk_f32(L, args[0]);
	bool keepdim;
	if (n != 6 || !x || x->rank == 0 || !infd__vk_bool(L, args[2], &keepdim))
		return false;
	if (!infd__vk_is_null(L, args[3])) {
		int64_t dt;
		if (!infd__vk_int(L, args[3], &dt) || dt != INFD_DTYPE_FLOAT32)
			return false;
	}
	bool red[INFD_MAX_RANK] = {false};
	int64_t dims[INFD_MAX_RANK];
	uint32_t nd = 0;
	if (!infd__vk_is_null(L, args[1]) && !infd__vk_int_list(L, args[1], dims, INFD_MAX_RANK, &nd))
		return false;
	for (uint32_t i = 0; i < nd; i++) {
		int64_t d = dims[i] < 0 ? dims[i] + x->rank : dims[i];
		if (d < 0 || d >= x->rank || red[d])
			return false;
		red[d] = true;
	}
	if (nd == 0)
		for (uint32_t d = 0; d < x->rank; d++)
			red[d] = true;
	int32_t osz[INFD_MAX_RANK];
	uint32_t orank = 0, kr = 0, rr = 0;
	uint32_t ksz[INFD_MAX_RANK], kst[INFD_MAX_RANK], rsz[INFD_MAX_RANK], rst[INFD_MAX_RANK];
	uint64_t R = 1;
	for (uint32_t d = 0; d < x->rank; d++) {
		if (red[d]) {
			if (keepdim)
				osz[orank++] = 1;
			rsz[rr] = (uint32_t)x->sizes[d];
			rst[rr++] = (uint32_t)x->strides[d];
			R *= (uint64_t)x->sizes[d];
		} else {
			osz[orank++] = x->sizes[d];
			ksz[kr] = (uint32_t)x->sizes[d];
			kst[kr++] = (uint32_t)x->strides[d];
		}
	}
	if (kr > 8 || rr > 8 || R == 0 || args[4] == args[0] || !infd__vk_out(L, args[4], args[5], orank, osz))
		return false;
	uint64_t n_out = L->values[args[4]].u.t->numel;
	struct vk_dispatch *d = infd__vk_emit(L, VK_PIPE_REDUCE);
	if (!d)
		return false;
	d->bind[0] = args[4];
	d->bind[1] = args[0];
	uint32_t *p = d->params;
	d->n_params = 40;
	memset(p, 0, 40 * sizeof *p);
	p[0] = (uint32_t)n_out;
	p[1] = (uint32_t)R;
	p[2] = kr;
	p[3] = rr;
	p[4] = infd__vk_fbits((float)(1.0 / (double)R));
	for (uint32_t i = 0; i < kr; i++) {
		p[8 + i] = ksz[i];
		p[16 + i] = kst[i];
	}
	for (uint32_t i = 0; i < rr; i++) {
		p[24 + i] = rsz[i];
		p[32 + i] = rst[i];
	}
	grid_groups(d, n_out);
	return true;
}

/* _softmax.out [self, dim, half_to_float, out, ret] */
bool infd__vk_lower_softmax(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	const struct infd_tensor *x = infd__vk_f32(L, args[0]);
	int64_t dim;
	bool h2f;
	if (n != 5 || !x || x->rank == 0 || !infd__vk_int(L, args[1], &dim) || !infd__vk_bool(L, args[2], &h2f) || h2f)
		return false;
	if (dim < 0)
		dim += x->rank;
	if (dim < 0 || dim >= x->rank || args[3] == args[0] || !infd__vk_out(L, args[3], args[4], x->rank, x->sizes))
		return false;
	uint64_t outer = 1, inner = 1, len = (uint64_t)x->sizes[dim];
	for (int64_t d = 0; d < dim; d++)
		outer *= (uint64_t)x->sizes[d];
	for (uint32_t d = (uint32_t)dim + 1; d < x->rank; d++)
		inner *= (uint64_t)x->sizes[d];
	struct vk_dispatch *d = infd__vk_emit(L, VK_PIPE_SOFTMAX);
	if (!d)
		return false;
	d->bind[0] = args[3];
	d->bind[1] = args[0];
	d->n_params = 3;
	d->params[0] = (uint32_t)(outer * inner);
	d->params[1] = (uint32_t)len;
	d->params[2] = (uint32_t)inner;
	grid_groups(d, outer * inner);
	return true;
}

/* native_layer_norm.out [input, normalized_shape, weight?, bias?, eps, out, mean,
 * rstd, ret] */
bool infd__vk_lower_layer_norm(struct vk_lower *L, const int32_t *args, uint32_t n, int variant)
{
	const struct infd_tensor *x = infd__vk_f32(L, args[0]);
	int64_t ns[INFD_MAX_RANK];
	uint32_t k;
	double eps;
	if (n != 9 || !x || !infd__vk_int_list(L, args[1], ns, INFD_MAX_RANK, &k) || k == 0 || k > x->rank ||
	    !infd__vk_num(L, args[4], &eps))
		return false;
	uint64_t len = 1;
	for (uint32_t i = 0; i < k; i++) {
		if (ns[i] != x->sizes[x->rank - k + i])
			return false;
		len *= (uint64_t)ns[i];
	}
	int32_t param[2] = {-1, -1};
	for (int i = 0; i < 2; i++) {
		int32_t v = args[2 + i];
		if (infd__vk_is_null(L, v))
			continue;
		const struct infd_tensor *t = infd__vk_f32(L, v);
		if (!t || t->numel != len)
			return false;
		param[i] = v;
	}
	int32_t ssz[INFD_MAX_RANK];
	memcpy(ssz, x->sizes, sizeof ssz);
	for (uint32_t i = x->rank - k; i < x->rank; i++)
		ssz[i] = 1;
	int32_t out = args[5], mean = args[6], rstd = args[7];
	if (L->values[args[8]].kind != INFD_VALUE_TENSOR_LIST || out == args[0] || mean == rstd || mean == out ||
	    rstd == out || !infd__vk_out(L, out, out, x->rank, x->sizes) || !infd__vk_out(L, mean, mean, x->rank, ssz) ||
	    !infd__vk_out(L, rstd, rstd, x->rank, ssz))
		return false;
	uint64_t rows = x->numel / len;
	struct vk_dispatch *d = infd__vk_emit(L, VK_PIPE_LAYERNORM);
	if (!d)
		return false;
	d->bind[0] = out;
	d->bind[1] = args[0];
	d->bind[2] = param[0];
	d->bind[3] = param[1];
	d->bind[4] = mean;
	d->bind[5] = rstd;
	d->writes = 1 | 16 | 32;
	d->n_params = 4;
	d->params[0] = (uint32_t)rows;
	d->params[1] = (uint32_t)len;
	d->params[2] = infd__vk_fbits((float)eps);
	d->params[3] = (param[0] >= 0 ? 1u : 0u) | (param[1] >= 0 ? 2u : 0u) | 4u;
	grid_groups(d, rows);
	return true;
}
