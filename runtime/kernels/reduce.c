/* Reductions of the portable CPU kernels: sum, mean, amax/amin, argmax/argmin and var
 * over any set of dims, with the reduction planner and driver they share. The dense-row
 * folds they build on are in reduce_util.h. */
#include "reduce_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Reductions: plan ------------------------------------------------------- */

/* How the reduction walks its input. Kept dims (those the output keeps) are walked
 * outermost; the kept dim with the smallest input stride is the "vector" dim, done
 * BLK outputs at a time. Reduced dims are either walked as rows under each output
 * (`inner`, when a reduced dim is innermost in memory) or folded into a vector of
 * accumulators one input element per lane (otherwise). Strides are in elements. */
struct rplan {
	uint32_t nk; /* kept dims besides the vector dim, outermost first */
	int64_t ksize[INFD_MAX_RANK];
	ptrdiff_t kin[INFD_MAX_RANK], kout[INFD_MAX_RANK];
	int64_t n0; /* the vector dim */
	ptrdiff_t in0, out0;
	uint32_t nr; /* reduced dims (>= 1), outermost first */
	int64_t rsize[INFD_MAX_RANK];
	ptrdiff_t rin[INFD_MAX_RANK];
	uint64_t rcount; /* elements folded into each output */
	bool inner;
};

/* Sort dims by input stride, largest first (stable insertion sort). */
static void sort_dims(uint32_t n, int64_t *size, ptrdiff_t *s1, ptrdiff_t *s2)
{
	for (uint32_t i = 1; i < n; i++) {
		int64_t z = size[i];
		ptrdiff_t a = s1[i], b = s2 ? s2[i] : 0;
		uint32_t j = i;
		while (j > 0 && s1[j - 1] < a) {
			size[j] = size[j - 1];
			s1[j] = s1[j - 1];
			if (s2)
				s2[j] = s2[j - 1];
			j--;
		}
		size[j] = z;
		s1[j] = a;
		if (s2)
			s2[j] = b;
	}
}

/* Merge each dim into the one outside it where both step as one. Returns the count. */
static uint32_t merge_dims(uint32_t n, int64_t *size, ptrdiff_t *s1, ptrdiff_t *s2)
{
	uint32_t out = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (out > 0 && s1[out - 1] == s1[i] * size[i] && (!s2 || s2[out - 1] == s2[i] * size[i])) {
			size[out - 1] *= size[i];
			s1[out - 1] = s1[i];
			if (s2)
				s2[out - 1] = s2[i];
			continue;
		}
		size[out] = size[i];
		s1[out] = s1[i];
		if (s2)
			s2[out] = s2[i];
		out++;
	}
	return out;
}

/* `logical`: keep the reduced dims in logical order (argmax/argmin report the
 * position in row-major order and must meet ties in that order). */
static void rplan_init(struct rplan *p, const struct infd_tensor *in, const struct infd_tensor *out, uint32_t mask,
		       bool keepdim, bool logical)
{
	int64_t ks[INFD_MAX_RANK];
	ptrdiff_t ki[INFD_MAX_RANK], ko[INFD_MAX_RANK];
	uint32_t nk = 0, nr = 0, od = 0;
	p->rcount = 1;
	for (uint32_t d = 0; d < in->rank; d++) {
		int64_t s = in->sizes[d];
		if (mask >> d & 1u) {
			p->rcount *= (uint64_t)s;
			if (keepdim)
				od++;
			if (s != 1) {
				p->rsize[nr] = s;
				p->rin[nr] = (ptrdiff_t)in->strides[d];
				nr++;
			}
		} else {
			if (s != 1) {
				ks[nk] = s;
				ki[nk] = (ptrdiff_t)in->strides[d];
				ko[nk] = (ptrdiff_t)out->strides[od];
				nk++;
			}
			od++;
		}
	}
	sort_dims(nk, ks, ki, ko);
	nk = merge_dims(nk, ks, ki, ko);
	if (!logical)
		sort_dims(nr, p->rsize, p->rin, NULL);
	nr = merge_dims(nr, p->rsize, p->rin, NULL);
	bool has_red = nr > 0;
	if (!has_red) {
		p->rsize[0] = 1;
		p->rin[0] = 0;
		nr = 1;
	}
	p->nr = nr;
	if (nk == 0) {
		p->n0 = 1;
		p->in0 = p->out0 = 0;
		p->nk = 0;
		p->inner = true;
		return;
	}
	p->n0 = ks[nk - 1];
	p->in0 = ki[nk - 1];
	p->out0 = ko[nk - 1];
	p->nk = nk - 1;
	memcpy(p->ksize, ks, p->nk * sizeof ks[0]);
	memcpy(p->kin, ki, p->nk * sizeof ki[0]);
	memcpy(p->kout, ko, p->nk * sizeof ko[0]);
	p->inner = has_red && p->rin[nr - 1] < p->in0;
}

/* ---- Reductions: typed folds -------------------------------------------------- */

/* Accumulators live in a block of BLK lanes; arg-reductions keep the position of
 * the winning element in a parallel int64 array. `pos` is the logical position of
 * the first element (for the arg-reductions); `aux` a per-output value (the mean,
 * for the squared deviations of var). Strides are in bytes. */
typedef void (*rinit_fn)(void *acc, int64_t *idx, size_t m);
typedef void (*rrow_fn)(void *acc, int64_t *idx, const char *p, ptrdiff_t s, size_t n, int64_t pos, const double *aux);
typedef void (*rcol_fn)(void *acc, int64_t *idx, size_t m, const char *p, ptrdiff_t s, int64_t pos, const double *aux);

struct rop {
	rinit_fn init;
	rrow_fn row; /* fold n elements into acc[0] */
	rcol_fn col; /* fold element j into acc[j], j < m */
	int acc_dtype;
};

#define INIT_FN(NAME, T, V)                                 \
	static void NAME(void *acc, int64_t *idx, size_t m) \
	{                                                   \
		T *a = acc;                                 \
		for (size_t j = 0; j < m; j++) {            \
			a[j] = (V);                         \
			idx[j] = -1;                        \
		}                                           \
	}
INIT_FN(init_zero_d, double, 0.0)
INIT_FN(init_zero_i, int64_t, 0)
INIT_FN(init_ninf_f, float, -INFINITY)
INIT_FN(init_pinf_f, float, INFINITY)
INIT_FN(init_ninf_d, double, -INFINITY)
INIT_FN(init_pinf_d, double, INFINITY)
INIT_FN(init_min_i, int64_t, INT64_MIN)
INIT_FN(init_max_i, int64_t, INT64_MAX)

#define SUM_FOLDS(S, T, A, AU, DENSE)                                                                           \
	INFD_SIMD_CLONES static void sum_row_##S(void *acc, int64_t *idx, const char *p, ptrdiff_t s, size_t n, \
						 int64_t pos, const double *aux)                                \
	{                                                                                                       \
		A *a = acc;                                                                                     \
		if (s == (ptrdiff_t)sizeof(T)) {                                                                \
			*a = (A)((AU)*a + (AU)DENSE((const T *)(const void *)p, n));                            \
			return;                                                                                 \
		}                                                                                               \
		AU t = 0;                                                                                       \
		for (size_t i = 0; i < n; i++)                                                                  \
			t += (AU)LD(T, p + (ptrdiff_t)i * s);                                                   \
		*a = (A)((AU)*a + t);                                                                           \
	}                                                                                                       \
	static inline void sum_col_##S##_dense(A *restrict a, const T *restrict x, size_t m)                    \
	{                                                                                                       \
		INFD_VLOOP(m, j, a[j] = (A)((AU)a[j] + (AU)x[j]););                                             \
	}                                                                                                       \
	INFD_SIMD_CLONES static void sum_col_##S(void *acc, int64_t *idx, size_t m, const char *p, ptrdiff_t s, \
						 int64_t pos, const double *aux)                                \
	{                                                                                                       \
		A *a = acc;                                                                                     \
		if (s == (ptrdiff_t)sizeof(T)) {                                                                \
			sum_col_##S##_dense(a, (const T *)(const void *)p, m);                                  \
			return;                                                                                 \
		}                                                                                               \
		for (size_t j = 0; j < m; j++)                                                                  \
			a[j] = (A)((AU)a[j] + (AU)LD(T, p + (ptrdiff_t)j * s));                                 \
	}
SUM_FOLDS(f32, float, double, double, sum_f32_dense)
SUM_FOLDS(f64, double, double, double, sum_f64_dense)
SUM_FOLDS(i64, int64_t, int64_t, uint64_t, sum_i64_dense)

/* Max and min folds over the dense rows of reduce_util.h; floating NaN wins. */
#define MINMAX_FOLDS(S, T, OP)                                                                              \
	INFD_SIMD_CLONES static void S##_row(void *acc, int64_t *idx, const char *p, ptrdiff_t s, size_t n, \
					     int64_t pos, const double *aux)                                \
	{                                                                                                   \
		T *a = acc;                                                                                 \
		if (s == (ptrdiff_t)sizeof(T)) {                                                            \
			*a = S##_dense(*a, (const T *)(const void *)p, n);                                  \
			return;                                                                             \
		}                                                                                           \
		T v = *a;                                                                                   \
		for (size_t i = 0; i < n; i++)                                                              \
			v = OP(v, LD(T, p + (ptrdiff_t)i * s));                                             \
		*a = v;                                                                                     \
	}                                                                                                   \
	static inline void S##_col_dense(T *restrict a, const T *restrict x, size_t m)                      \
	{                                                                                                   \
		INFD_VLOOP(m, j, a[j] = OP(a[j], x[j]););                                                   \
	}                                                                                                   \
	INFD_SIMD_CLONES static void S##_col(void *acc, int64_t *idx, size_t m, const char *p, ptrdiff_t s, \
					     int64_t pos, const double *aux)                                \
	{                                                                                                   \
		T *a = acc;                                                                                 \
		if (s == (ptrdiff_t)sizeof(T)) {                                                            \
			S##_col_dense(a, (const T *)(const void *)p, m);                                    \
			return;                                                                             \
		}                                                                                           \
		for (size_t j = 0; j < m; j++)                                                              \
			a[j] = OP(a[j], LD(T, p + (ptrdiff_t)j * s));                                       \
	}
MINMAX_FOLDS(max_f32, float, FMAX)
MINMAX_FOLDS(min_f32, float, FMIN)
MINMAX_FOLDS(max_f64, double, FMAX)
MINMAX_FOLDS(min_f64, double, FMIN)
MINMAX_FOLDS(max_i64, int64_t, IMAX)
MINMAX_FOLDS(min_i64, int64_t, IMIN)

/* Arg-reductions: the first NaN wins, else the first extreme value (a strict
 * comparison keeps the earliest). idx < 0 means "nothing yet". For integers the
 * NaN tests are constant false. A dense row takes two vector-friendly passes: its
 * extreme value (NaN if any), then the first position holding it. */
#define ARG_FOLDS(S, T, CMP, DENSE)                                                                         \
	INFD_SIMD_CLONES static void S##_row(void *acc, int64_t *idx, const char *p, ptrdiff_t s, size_t n, \
					     int64_t pos, const double *aux)                                \
	{                                                                                                   \
		T a = *(T *)acc;                                                                            \
		int64_t ix = *idx;                                                                          \
		if (s == (ptrdiff_t)sizeof(T) && n > 0) {                                                   \
			const T *x = (const T *)(const void *)p;                                            \
			const T rb = DENSE(x[0], x, n);                                                     \
			size_t ri = 0;                                                                      \
			if (rb != rb)                                                                       \
				while (x[ri] == x[ri])                                                      \
					ri++;                                                               \
			else                                                                                \
				while (x[ri] != rb)                                                         \
					ri++;                                                               \
			if (ix < 0 || (a == a && (CMP(rb, a) || rb != rb))) {                               \
				a = rb;                                                                     \
				ix = pos + (int64_t)ri;                                                     \
			}                                                                                   \
		} else {                                                                                    \
			for (size_t i = 0; i < n; i++) {                                                    \
				T x = LD(T, p + (ptrdiff_t)i * s);                                          \
				if (ix < 0 || (a == a && (CMP(x, a) || x != x))) {                          \
					a = x;                                                              \
					ix = pos + (int64_t)i;                                              \
				}                                                                           \
			}                                                                                   \
		}                                                                                           \
		*(T *)acc = a;                                                                              \
		*idx = ix;                                                                                  \
	}                                                                                                   \
	static void S##_col(void *acc, int64_t *idx, size_t m, const char *p, ptrdiff_t s, int64_t pos,     \
			    const double *aux)                                                              \
	{                                                                                                   \
		T *a = acc;                                                                                 \
		for (size_t j = 0; j < m; j++) {                                                            \
			T x = LD(T, p + (ptrdiff_t)j * s);                                                  \
			if (idx[j] < 0 || (a[j] == a[j] && (CMP(x, a[j]) || x != x))) {                     \
				a[j] = x;                                                                   \
				idx[j] = pos;                                                               \
			}                                                                                   \
		}                                                                                           \
	}
#define GT(x, a) ((x) > (a))
#define LT(x, a) ((x) < (a))
ARG_FOLDS(argmax_f32, float, GT, max_f32_dense)
ARG_FOLDS(argmin_f32, float, LT, min_f32_dense)
ARG_FOLDS(argmax_f64, double, GT, max_f64_dense)
ARG_FOLDS(argmin_f64, double, LT, min_f64_dense)
ARG_FOLDS(argmax_i64, int64_t, GT, max_i64_dense)
ARG_FOLDS(argmin_i64, int64_t, LT, min_i64_dense)

#define SQDEV_FOLDS(S, T)                                                                                            \
	INFD_SIMD_CLONES static void sqdev_row_##S(void *acc, int64_t *idx, const char *p, ptrdiff_t s, size_t n,    \
						   int64_t pos, const double *aux)                                   \
	{                                                                                                            \
		const double mu = *aux;                                                                              \
		if (s == (ptrdiff_t)sizeof(T)) {                                                                     \
			*(double *)acc += sqdev_##S##_dense((const T *)(const void *)p, n, mu);                      \
			return;                                                                                      \
		}                                                                                                    \
		double t = 0;                                                                                        \
		for (size_t i = 0; i < n; i++) {                                                                     \
			double d = (double)LD(T, p + (ptrdiff_t)i * s) - mu;                                         \
			t += d * d;                                                                                  \
		}                                                                                                    \
		*(double *)acc += t;                                                                                 \
	}                                                                                                            \
	static inline void sqdev_col_##S##_dense(double *restrict a, const T *restrict x, const double *restrict mu, \
						 size_t m)                                                           \
	{                                                                                                            \
		INFD_VLOOP(m, j, const double d = (double)x[j] - mu[j]; a[j] += d * d;);                             \
	}                                                                                                            \
	INFD_SIMD_CLONES static void sqdev_col_##S(void *acc, int64_t *idx, size_t m, const char *p, ptrdiff_t s,    \
						   int64_t pos, const double *aux)                                   \
	{                                                                                                            \
		double *a = acc;                                                                                     \
		if (s == (ptrdiff_t)sizeof(T)) {                                                                     \
			sqdev_col_##S##_dense(a, (const T *)(const void *)p, aux, m);                                \
			return;                                                                                      \
		}                                                                                                    \
		for (size_t j = 0; j < m; j++) {                                                                     \
			double d = (double)LD(T, p + (ptrdiff_t)j * s) - aux[j];                                     \
			a[j] += d * d;                                                                               \
		}                                                                                                    \
	}
SQDEV_FOLDS(f32, float)
SQDEV_FOLDS(f64, double)

enum rkind { RK_SUM, RK_MEAN, RK_MAX, RK_MIN, RK_ARGMAX, RK_ARGMIN, RK_VAR, RK_SQDEV };
enum rct { RC_F32, RC_F64, RC_I64, N_RCT };

static const struct rop rops[][N_RCT] = {
    [RK_SUM] = {{init_zero_d, sum_row_f32, sum_col_f32, F64},
		{init_zero_d, sum_row_f64, sum_col_f64, F64},
		{init_zero_i, sum_row_i64, sum_col_i64, I64}},
    [RK_MAX] = {{init_ninf_f, max_f32_row, max_f32_col, F32},
		{init_ninf_d, max_f64_row, max_f64_col, F64},
		{init_min_i, max_i64_row, max_i64_col, I64}},
    [RK_MIN] = {{init_pinf_f, min_f32_row, min_f32_col, F32},
		{init_pinf_d, min_f64_row, min_f64_col, F64},
		{init_max_i, min_i64_row, min_i64_col, I64}},
    [RK_ARGMAX] = {{init_ninf_f, argmax_f32_row, argmax_f32_col, F32},
		   {init_ninf_d, argmax_f64_row, argmax_f64_col, F64},
		   {init_min_i, argmax_i64_row, argmax_i64_col, I64}},
    [RK_ARGMIN] = {{init_pinf_f, argmin_f32_row, argmin_f32_col, F32},
		   {init_pinf_d, argmin_f64_row, argmin_f64_col, F64},
		   {init_max_i, argmin_i64_row, argmin_i64_col, I64}},
    [RK_SQDEV] = {{init_zero_d, sqdev_row_f32, sqdev_col_f32, F64}, {init_zero_d, sqdev_row_f64, sqdev_col_f64, F64}},
};

/* ---- Reductions: driver ------------------------------------------------------- */

/* Where results go: element offset o of the output is base + o * es. */
enum rfin { FIN_VALUE, FIN_DIV, FIN_INDEX };
struct rdst {
	char *base;
	int dtype;
	ptrdiff_t es;
	enum rfin fin;
	double div;
};

/* Fold every reduced element under one output into acc[0] (row by row). */
static void fold_rows(const struct rplan *p, const struct rop *op, void *acc, int64_t *idx, const char *base,
		      ptrdiff_t ies, const double *aux)
{
	if (p->rcount == 0)
		return;
	uint32_t last = p->nr - 1;
	size_t n = (size_t)p->rsize[last];
	ptrdiff_t s = p->rin[last] * ies;
	int64_t ridx[INFD_MAX_RANK] = {0};
	ptrdiff_t off = 0;
	int64_t pos = 0;
	for (;;) {
		op->row(acc, idx, base + off, s, n, pos, aux);
		pos += (int64_t)n;
		int d = (int)last - 1;
		for (; d >= 0; d--) {
			off += p->rin[d] * ies;
			if (++ridx[d] < p->rsize[d])
				break;
			off -= p->rin[d] * ies * p->rsize[d];
			ridx[d] = 0;
		}
		if (d < 0)
			return;
	}
}

/* Fold every reduced position into the m lanes (lane j at base + j * ls). */
static void fold_cols(const struct rplan *p, const struct rop *op, void *acc, int64_t *idx, size_t m, const char *base,
		      ptrdiff_t ls, ptrdiff_t ies, const double *aux)
{
	if (p->rcount == 0)
		return;
	uint32_t last = p->nr - 1;
	int64_t n = p->rsize[last];
	ptrdiff_t s = p->rin[last] * ies;
	int64_t ridx[INFD_MAX_RANK] = {0};
	ptrdiff_t off = 0;
	int64_t pos = 0;
	for (;;) {
		const char *q = base + off;
		for (int64_t r = 0; r < n; r++, q += s)
			op->col(acc, idx, m, q, ls, pos++, aux);
		int d = (int)last - 1;
		for (; d >= 0; d--) {
			off += p->rin[d] * ies;
			if (++ridx[d] < p->rsize[d])
				break;
			off -= p->rin[d] * ies * p->rsize[d];
			ridx[d] = 0;
		}
		if (d < 0)
			return;
	}
}

static void rplan_run(const struct rplan *p, const struct rop *op, const char *in, int in_dtype, const struct rdst *dst,
		      const double *aux_src)
{
	union {
		double d[BLK];
		int64_t i[BLK];
		float f[BLK];
	} acc;
	int64_t idx[BLK];
	double aux[BLK];
	const ptrdiff_t ies = (ptrdiff_t)infd_dtype_size(in_dtype);
	const ptrdiff_t aes = (ptrdiff_t)infd_dtype_size(op->acc_dtype);
	int64_t kidx[INFD_MAX_RANK] = {0};
	ptrdiff_t ioff = 0, ooff = 0;
	for (;;) {
		for (int64_t j0 = 0; j0 < p->n0; j0 += BLK) {
			size_t m = (size_t)(p->n0 - j0 < BLK ? p->n0 - j0 : BLK);
			const char *base = in + (ioff + j0 * p->in0) * ies;
			ptrdiff_t o = ooff + j0 * p->out0;
			if (aux_src)
				for (size_t j = 0; j < m; j++)
					aux[j] = aux_src[o + (ptrdiff_t)j * p->out0];
			op->init(&acc, idx, m);
			if (p->inner) {
				for (size_t j = 0; j < m; j++)
					fold_rows(p, op, (char *)&acc + (ptrdiff_t)j * aes, idx + j,
						  base + (ptrdiff_t)j * p->in0 * ies, ies, aux_src ? aux + j : NULL);
			} else {
				fold_cols(p, op, &acc, idx, m, base, p->in0 * ies, ies, aux_src ? aux : NULL);
			}
			char *d = dst->base + o * dst->es;
			ptrdiff_t ds = p->out0 * dst->es;
			switch (dst->fin) {
			case FIN_INDEX:
				infd__convert(d, dst->dtype, ds, idx, I64, 8, m);
				break;
			case FIN_DIV:
				for (size_t j = 0; j < m; j++)
					acc.d[j] /= dst->div;
				/* fall through */
			case FIN_VALUE:
				infd__convert(d, dst->dtype, ds, &acc, op->acc_dtype, aes, m);
				break;
			}
		}
		int d = (int)p->nk - 1;
		for (; d >= 0; d--) {
			ioff += p->kin[d];
			ooff += p->kout[d];
			if (++kidx[d] < p->ksize[d])
				break;
			ioff -= p->kin[d] * p->ksize[d];
			ooff -= p->kout[d] * p->ksize[d];
			kidx[d] = 0;
		}
		if (d < 0)
			return;
	}
}

/* Converting copy into a contiguous buffer: every element is cast to `via` and then
 * to `to` (PyTorch casts the input to the computation dtype before reducing). */
struct conv_ctx {
	int from, via, to;
};

static void conv_rows(void *user, char *const *ptr, const ptrdiff_t *st, size_t n)
{
	const struct conv_ctx *c = user;
	if (c->via == c->from || c->via == c->to) {
		infd__convert(ptr[0], c->to, st[0], ptr[1], c->from, st[1], n);
		return;
	}
	double tmp[BLK];
	ptrdiff_t vs = (ptrdiff_t)infd_dtype_size(c->via);
	for (size_t k = 0; k < n; k += BLK) {
		size_t m = n - k < BLK ? n - k : BLK;
		infd__convert(tmp, c->via, vs, ptr[1] + (ptrdiff_t)k * st[1], c->from, st[1], m);
		infd__convert(ptr[0] + (ptrdiff_t)k * st[0], c->to, st[0], tmp, c->via, vs, m);
	}
}

/* Returns the malloc'd buffer (NULL when out of memory); *view describes it. */
static void *convert_copy(const struct infd_tensor *in, int via, int to, struct infd_tensor *view)
{
	*view = *in;
	view->dtype = (int8_t)to;
	for (uint32_t d = 0; d < in->rank; d++)
		view->dim_order[d] = (uint8_t)d;
	infd__tensor_update_layout(view);
	void *buf = malloc(view->nbytes ? (size_t)view->nbytes : 1);
	if (!buf)
		return NULL;
	view->data = buf;
	struct conv_ctx c = {in->dtype, via, to};
	struct infd_iter it;
	infd__iter_init(&it, in->rank, in->sizes);
	infd__iter_add(&it, view);
	infd__iter_add(&it, in);
	infd__iter_finish(&it);
	infd__iter_rows(&it, conv_rows, &c);
	return buf;
}

static bool reduce_dtype_ok(int dt)
{
	switch (dt) {
	case INFD_DTYPE_BOOL:
	case INFD_DTYPE_UINT8:
	case INFD_DTYPE_INT8:
	case INFD_DTYPE_INT16:
	case INFD_DTYPE_INT32:
	case INFD_DTYPE_INT64:
	case INFD_DTYPE_FLOAT16:
	case INFD_DTYPE_BFLOAT16:
	case INFD_DTYPE_FLOAT32:
	case INFD_DTYPE_FLOAT64:
		return true;
	default:
		return false;
	}
}

/* The native dtype the folds read for elements of dtype dt. */
static int fold_dtype(int dt)
{
	if (dt == F64)
		return F64;
	return infd__dtype_is_float(dt) ? F32 : I64;
}

struct rreq {
	enum rkind kind;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	uint32_t mask; /* dims reduced */
	bool all;      /* no dim given: every dim (changes one message only) */
	bool keepdim;
	int via; /* dtype elements are cast to before folding */
	double correction;
};

static infd_status reduce_run(const struct infd_kargs *A, const struct rreq *r)
{
	const struct infd_tensor *in = r->in;
	struct infd_tensor *out = r->out;
	infd_status st;
	bool arg = r->kind == RK_ARGMAX || r->kind == RK_ARGMIN;
	if (r->kind != RK_SUM && r->kind != RK_MEAN && r->kind != RK_VAR && in->numel == 0) {
		if (r->all && arg)
			return infd__kfail(A, INFD_BAD_INPUT, "expected a reduction dim for an empty input (numel 0)");
		for (uint32_t d = 0; d < in->rank; d++)
			if ((r->mask >> d & 1u) && in->sizes[d] == 0)
				return infd__kfail(A, INFD_BAD_INPUT, "expected reduction dim %u to have non-zero size",
						   d);
	}
	if (out->data && out->data == in->data && in->numel)
		return infd__kfail(A, INFD_BAD_INPUT, "out must not share memory with self");

	int32_t sizes[INFD_MAX_RANK];
	uint32_t orank = 0;
	for (uint32_t d = 0; d < in->rank; d++) {
		if (!(r->mask >> d & 1u))
			sizes[orank++] = in->sizes[d];
		else if (r->keepdim)
			sizes[orank++] = 1;
	}
	if ((st = infd__kout_resize(A, out, orank, sizes)))
		return st;
	if (out->numel == 0)
		return INFD_OK;

	int fdt = fold_dtype(r->via);
	struct infd_tensor view;
	void *scratch = NULL;
	double *means = NULL;
	const struct infd_tensor *src = in;
	if (in->dtype != fdt || r->via != in->dtype || !infd__reduce_aligned_for(in->data, in->dtype)) {
		scratch = convert_copy(in, r->via, fdt, &view);
		if (!scratch)
			return infd__kfail(A, INFD_NO_MEMORY, "out of memory for a converted copy");
		src = &view;
	}
	struct rplan p;
	rplan_init(&p, src, out, r->mask, r->keepdim, arg);
	enum rct ct = fdt == F32 ? RC_F32 : fdt == F64 ? RC_F64 : RC_I64;
	enum rkind k = r->kind == RK_MEAN || r->kind == RK_VAR ? RK_SUM : r->kind;
	struct rdst dst = {out->data, out->dtype, (ptrdiff_t)infd_dtype_size(out->dtype), FIN_VALUE, (double)p.rcount};
	if (r->kind == RK_MEAN)
		dst.fin = FIN_DIV;
	else if (arg)
		dst.fin = FIN_INDEX;
	if (r->kind == RK_VAR) {
		means = malloc((size_t)out->numel * sizeof *means);
		if (!means) {
			free(scratch);
			return infd__kfail(A, INFD_NO_MEMORY, "out of memory for the means");
		}
		struct rdst md = {(char *)means, F64, 8, FIN_DIV, (double)p.rcount};
		rplan_run(&p, &rops[RK_SUM][ct], src->data, fdt, &md, NULL);
		double dof = (double)p.rcount - r->correction;
		dst.fin = FIN_DIV;
		dst.div = dof > 0 ? dof : 0;
		k = RK_SQDEV;
	}
	rplan_run(&p, &rops[k][ct], src->data, fdt, &dst, means);
	free(means);
	free(scratch);
	return INFD_OK;
}

/* Dtype argument (`ScalarType?`): -1 for None. */
static infd_status karg_dtype(const struct infd_kargs *A, uint32_t i, int *out)
{
	if (i < A->n && A->v[i]->kind == INFD_VALUE_NULL) {
		*out = -1;
		return INFD_OK;
	}
	int64_t v;
	infd_status st = infd__karg_int(A, i, "dtype", &v);
	if (st)
		return st;
	if (v < 0 || v > 63 || !infd__dtype_numeric((int)v))
		return infd__kfail(A, INFD_BAD_INPUT, "dtype %lld is not a supported number type", (long long)v);
	*out = (int)v;
	return INFD_OK;
}

/* The `dim` list argument as a mask of dims; None or [] means every dim. */
static infd_status karg_dim_mask(const struct infd_kargs *A, uint32_t i, bool optional, uint32_t rank, uint32_t *mask,
				 bool *all)
{
	int64_t dims[INFD_MAX_RANK];
	int32_t count;
	infd_status st = infd__karg_int_list(A, i, "dim", optional, dims, INFD_MAX_RANK, &count);
	if (st)
		return st;
	if (count <= 0) {
		*mask = rank ? (uint32_t)((UINT64_C(1) << rank) - 1) : 0;
		*all = true;
		return INFD_OK;
	}
	uint32_t m = 0;
	for (int32_t k = 0; k < count; k++) {
		uint32_t d = 0;
		if ((st = infd__reduce_wrap_dim(A, dims[k], rank, &d)))
			return st;
		if (rank == 0)
			continue;
		if (m >> d & 1u)
			return infd__kfail(A, INFD_BAD_INPUT, "dim %u appears multiple times in the list of dims", d);
		m |= 1u << d;
	}
	*mask = m;
	*all = false;
	return INFD_OK;
}

static infd_status check_reduce_dtypes(const struct infd_kargs *A, const struct infd_tensor *in,
				       const struct infd_tensor *out)
{
	if (!reduce_dtype_ok(in->dtype))
		return infd__kfail(A, INFD_KERNEL_FAILED, "self has unsupported dtype %s", infd_dtype_name(in->dtype));
	if (!reduce_dtype_ok(out->dtype))
		return infd__kfail(A, INFD_KERNEL_FAILED, "out has unsupported dtype %s", infd_dtype_name(out->dtype));
	return INFD_OK;
}

/* sum / mean with an optional dim list (dim_arg < 0: none, every dim) and dtype. */
static infd_status sum_mean(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n, bool mean, bool has_dim,
			    const char *name)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	uint32_t want = has_dim ? 6 : 4;
	struct rreq r = {.kind = mean ? RK_MEAN : RK_SUM};
	int dtype = -1;
	if ((st = infd__kargs_begin(&A, ctx, args, n, name, (int32_t)want)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &in)))
		return st;
	if (has_dim) {
		if ((st = karg_dim_mask(&A, 1, true, in->rank, &r.mask, &r.all)) ||
		    (st = infd__karg_bool(&A, 2, "keepdim", &r.keepdim)))
			return st;
	} else {
		r.mask = in->rank ? (uint32_t)((UINT64_C(1) << in->rank) - 1) : 0;
		r.all = true;
	}
	if ((st = karg_dtype(&A, want - 3, &dtype)) || (st = infd__karg_out(&A, want - 2, want - 1, &out)) ||
	    (st = check_reduce_dtypes(&A, in, out)))
		return st;
	if (dtype >= 0 && out->dtype != dtype)
		return infd__kfail(&A, INFD_BAD_INPUT, "out has dtype %s but the dtype argument is %s",
				   infd_dtype_name(out->dtype), infd_dtype_name(dtype));
	if (mean && dtype >= 0 && !infd__dtype_is_float(dtype))
		return infd__kfail(&A, INFD_BAD_INPUT, "dtype must be a floating type, got %s", infd_dtype_name(dtype));
	if (mean && dtype < 0 && !infd__dtype_is_float(in->dtype))
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "could not infer the output dtype: self must be a floating type "
				   "(got %s) or dtype given",
				   infd_dtype_name(in->dtype));
	if (mean && !infd__dtype_is_float(out->dtype))
		return infd__kfail(&A, INFD_BAD_INPUT, "out must have a floating dtype, got %s",
				   infd_dtype_name(out->dtype));
	r.in = in;
	r.out = out;
	r.via = out->dtype;
	return reduce_run(&A, &r);
}

infd_status infd__k_sum_intlist_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return sum_mean(ctx, args, n, false, true, "aten::sum.IntList_out");
}

infd_status infd__k_sum_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return sum_mean(ctx, args, n, false, false, "aten::sum.out");
}

infd_status infd__k_mean_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return sum_mean(ctx, args, n, true, true, "aten::mean.out");
}

infd_status infd__k_mean_dtype_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return sum_mean(ctx, args, n, true, false, "aten::mean.dtype_out");
}

/* amax / amin: [self, dim IL, keepdim, out, ret]; out has self's dtype. */
static infd_status amax_amin(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n, enum rkind kind,
			     const char *name)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	struct rreq r = {.kind = kind};
	if ((st = infd__kargs_begin(&A, ctx, args, n, name, 5)) || (st = infd__karg_tensor(&A, 0, "self", &in)) ||
	    (st = karg_dim_mask(&A, 1, false, in->rank, &r.mask, &r.all)) ||
	    (st = infd__karg_bool(&A, 2, "keepdim", &r.keepdim)) || (st = infd__karg_out(&A, 3, 4, &out)) ||
	    (st = check_reduce_dtypes(&A, in, out)))
		return st;
	if (out->dtype != in->dtype)
		return infd__kfail(&A, INFD_BAD_INPUT, "out has dtype %s, expected %s (self's dtype)",
				   infd_dtype_name(out->dtype), infd_dtype_name(in->dtype));
	r.all = false; /* amax names dims even when reducing all of them */
	r.in = in;
	r.out = out;
	r.via = in->dtype;
	return reduce_run(&A, &r);
}

infd_status infd__k_amax_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return amax_amin(ctx, args, n, RK_MAX, "aten::amax.out");
}

infd_status infd__k_amin_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return amax_amin(ctx, args, n, RK_MIN, "aten::amin.out");
}

/* argmax / argmin: [self, dim I?, keepdim, out(int64), ret]. */
static infd_status argmax_argmin(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n, enum rkind kind,
				 const char *name)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	struct rreq r = {.kind = kind};
	if ((st = infd__kargs_begin(&A, ctx, args, n, name, 5)) || (st = infd__karg_tensor(&A, 0, "self", &in)))
		return st;
	if (args[1]->kind == INFD_VALUE_NULL) {
		r.mask = in->rank ? (uint32_t)((UINT64_C(1) << in->rank) - 1) : 0;
		r.all = true;
	} else {
		int64_t dim;
		uint32_t d = 0;
		if ((st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__reduce_wrap_dim(&A, dim, in->rank, &d)))
			return st;
		r.mask = in->rank ? 1u << d : 0;
	}
	if ((st = infd__karg_bool(&A, 2, "keepdim", &r.keepdim)) || (st = infd__karg_out(&A, 3, 4, &out)) ||
	    (st = check_reduce_dtypes(&A, in, out)))
		return st;
	if (in->dtype == INFD_DTYPE_BOOL)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "self has unsupported dtype bool");
	if (out->dtype != I64)
		return infd__kfail(&A, INFD_BAD_INPUT, "out must have dtype int64, got %s",
				   infd_dtype_name(out->dtype));
	r.in = in;
	r.out = out;
	r.via = in->dtype;
	return reduce_run(&A, &r);
}

infd_status infd__k_argmax_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return argmax_argmin(ctx, args, n, RK_ARGMAX, "aten::argmax.out");
}

infd_status infd__k_argmin_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return argmax_argmin(ctx, args, n, RK_ARGMIN, "aten::argmin.out");
}

/* var: [self, dim IL?, correction S? | unbiased B, keepdim, out, ret]. */
static infd_status var_common(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n, bool correction_form,
			      const char *name)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	struct rreq r = {.kind = RK_VAR, .correction = 1};
	if ((st = infd__kargs_begin(&A, ctx, args, n, name, 6)) || (st = infd__karg_tensor(&A, 0, "self", &in)) ||
	    (st = karg_dim_mask(&A, 1, true, in->rank, &r.mask, &r.all)))
		return st;
	if (correction_form) {
		if (args[2]->kind != INFD_VALUE_NULL) {
			struct infd_scalar c;
			if ((st = infd__karg_scalar(&A, 2, "correction", &c)))
				return st;
			r.correction = c.d;
		}
	} else {
		bool unbiased;
		if ((st = infd__karg_bool(&A, 2, "unbiased", &unbiased)))
			return st;
		r.correction = unbiased ? 1 : 0;
	}
	if ((st = infd__karg_bool(&A, 3, "keepdim", &r.keepdim)) || (st = infd__karg_out(&A, 4, 5, &out)) ||
	    (st = check_reduce_dtypes(&A, in, out)))
		return st;
	if (!infd__dtype_is_float(in->dtype))
		return infd__kfail(&A, INFD_BAD_INPUT, "self must have a floating dtype, got %s",
				   infd_dtype_name(in->dtype));
	if (out->dtype != in->dtype)
		return infd__kfail(&A, INFD_BAD_INPUT, "out has dtype %s, expected %s (self's dtype)",
				   infd_dtype_name(out->dtype), infd_dtype_name(in->dtype));
	r.in = in;
	r.out = out;
	r.via = in->dtype;
	return reduce_run(&A, &r);
}

infd_status infd__k_var_correction_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return var_common(ctx, args, n, true, "aten::var.correction_out");
}

infd_status infd__k_var_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return var_common(ctx, args, n, false, "aten::var.out");
}
