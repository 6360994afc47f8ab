/* Reductions and normalizations of the portable CPU kernels: sum, mean, amax/amin,
 * argmax/argmin and var over any set of dims; softmax and log-softmax; layer,
 * batch (inference) and group norm; 2-d max, average and adaptive average pooling. */
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INFD_KERNEL(key, n_args, fn) infd_status fn(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n);
#include "list_reduce.h"
#undef INFD_KERNEL

#define F32 INFD_DTYPE_FLOAT32
#define F64 INFD_DTYPE_FLOAT64
#define I64 INFD_DTYPE_INT64

/* Lanes processed together: stack buffers of accumulators hold this many. */
#define BLK 256

/* ---- Small helpers (general; candidates for util.c) -------------------------- */

/* True when the elements lie in row-major order of the logical shape, size-1 dims
 * ignored: logical index k is at element offset k whatever the dim order says. */
static bool rowmajor_dense(const struct infd_tensor *t)
{
	if (t->numel == 0)
		return true;
	int64_t want = 1;
	for (int d = (int)t->rank - 1; d >= 0; d--) {
		if (t->sizes[d] == 1)
			continue;
		if (t->strides[d] != want)
			return false;
		want *= t->sizes[d];
	}
	return true;
}

static bool aligned_for(const void *p, int dtype)
{
	return ((uintptr_t)p & (infd_dtype_size(dtype) - 1)) == 0;
}

/* Typed loops dereference element pointers: refuse data that is not aligned to its
 * element size (planned memory always is). */
static infd_status need_aligned(const struct infd_kargs *A, const struct infd_tensor *t, const char *name)
{
	if (!t || !t->data || aligned_for(t->data, t->dtype))
		return INFD_OK;
	return infd__kfail(A, INFD_BAD_INPUT, "%s data is not aligned to its element size", name);
}

/* Wrap a dim index like PyTorch (dim + rank when negative); a rank-0 tensor takes
 * 0 and -1. */
static infd_status wrap_dim(const struct infd_kargs *A, int64_t dim, uint32_t rank, uint32_t *out)
{
	int64_t r = rank ? rank : 1;
	if (dim < -r || dim >= r)
		return infd__kfail(A, INFD_BAD_INPUT,
				   "dim %lld is out of range for a tensor of rank %u (expected %lld..%lld)",
				   (long long)dim, rank, (long long)-r, (long long)(r - 1));
	*out = (uint32_t)(dim < 0 ? dim + r : dim);
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

/* Out tensor of a multi-output op (its return slot is the trailing TensorList). */
static infd_status karg_out_multi(const struct infd_kargs *A, uint32_t i, struct infd_tensor **out)
{
	return infd__karg_out(A, i, i, out);
}

/* The TensorList return slot of a multi-output op: the out tensors in order. */
static infd_status check_ret_list(const struct infd_kargs *A, uint32_t i, struct infd_tensor *const *outs, uint32_t n)
{
	const struct infd_evalue *v = i < A->n ? A->v[i] : NULL;
	if (!v || v->kind != INFD_VALUE_TENSOR_LIST)
		return infd__kfail(A, INFD_KERNEL_FAILED, "argument %u (the returned list) must be a tensor list", i);
	if (v->u.list.count != n || (n && !v->u.list.items))
		return infd__kfail(A, INFD_KERNEL_FAILED, "the returned list holds %u tensors, expected %u",
				   v->u.list.count, n);
	for (uint32_t k = 0; k < n; k++) {
		const struct infd_evalue *it = v->u.list.items[k];
		if (!it || it->kind != INFD_VALUE_TENSOR || it->u.t != outs[k])
			return infd__kfail(A, INFD_KERNEL_FAILED, "item %u of the returned list is not out tensor %u",
					   k, k);
	}
	return INFD_OK;
}

static infd_status need_f32(const struct infd_kargs *A, const struct infd_tensor *t, const char *name)
{
	if (t->dtype == F32)
		return INFD_OK;
	return infd__kfail(A, INFD_KERNEL_FAILED, "%s has dtype %s; only float32 is supported", name,
			   infd_dtype_name(t->dtype));
}

/* An optional per-channel parameter: None, or float32 [count]. */
static infd_status check_param(const struct infd_kargs *A, const struct infd_tensor *t, const char *name, int64_t count)
{
	if (!t)
		return INFD_OK;
	infd_status st = need_f32(A, t, name);
	if (st)
		return st;
	if (t->rank != 1 || t->sizes[0] != count)
		return infd__kfail(A, INFD_BAD_INPUT, "%s must have shape [%lld]", name, (long long)count);
	return INFD_OK;
}

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

#define LD(T, p)   (*(const T *)(const void *)(p))
#define FMAX(a, x) (((x) > (a)) | ((x) != (x)) ? (x) : (a))
#define FMIN(a, x) (((x) < (a)) | ((x) != (x)) ? (x) : (a))
#define IMAX(a, x) ((x) > (a) ? (x) : (a))
#define IMIN(a, x) ((x) < (a) ? (x) : (a))

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

/* Sums: float inputs into double lanes, integers into wrapping 64-bit lanes. */
static inline double sum_f32_dense(const float *restrict x, size_t n)
{
	double l[8] = {0};
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (size_t k = 0; k < 8; k++)
			l[k] += (double)x[i + k];
	double t = 0;
	for (; i < n; i++)
		t += (double)x[i];
	return (((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))) + t;
}

static inline double sum_f64_dense(const double *restrict x, size_t n)
{
	double l[8] = {0};
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (size_t k = 0; k < 8; k++)
			l[k] += x[i + k];
	double t = 0;
	for (; i < n; i++)
		t += x[i];
	return (((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))) + t;
}

static inline uint64_t sum_i64_dense(const int64_t *restrict x, size_t n)
{
	uint64_t l[8] = {0};
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (size_t k = 0; k < 8; k++)
			l[k] += (uint64_t)x[i + k];
	uint64_t t = 0;
	for (; i < n; i++)
		t += (uint64_t)x[i];
	for (size_t k = 0; k < 8; k++)
		t += l[k];
	return t;
}

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

/* Max and min; floating NaN wins (PyTorch propagates it). */
#define MINMAX_FOLDS(S, T, OP)                                                                              \
	static inline T S##_dense(T a, const T *restrict x, size_t n)                                       \
	{                                                                                                   \
		T l[16];                                                                                    \
		for (size_t k = 0; k < 16; k++)                                                             \
			l[k] = a;                                                                           \
		size_t i = 0;                                                                               \
		for (; i + 16 <= n; i += 16)                                                                \
			for (size_t k = 0; k < 16; k++)                                                     \
				l[k] = OP(l[k], x[i + k]);                                                  \
		for (; i < n; i++)                                                                          \
			a = OP(a, x[i]);                                                                    \
		for (size_t k = 0; k < 16; k++)                                                             \
			a = OP(a, l[k]);                                                                    \
		return a;                                                                                   \
	}                                                                                                   \
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

/* Squared deviations from the per-output mean in aux (second pass of var). */
static inline double sqdev_f32_dense(const float *restrict x, size_t n, double mu)
{
	double l[8] = {0}, t = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (size_t k = 0; k < 8; k++) {
			double dv = (double)x[i + k] - mu;
			l[k] += dv * dv;
		}
	for (; i < n; i++) {
		double dv = (double)x[i] - mu;
		t += dv * dv;
	}
	return (((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))) + t;
}

static inline double sqdev_f64_dense(const double *restrict x, size_t n, double mu)
{
	double l[8] = {0}, t = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (size_t k = 0; k < 8; k++) {
			double dv = x[i + k] - mu;
			l[k] += dv * dv;
		}
	for (; i < n; i++) {
		double dv = x[i] - mu;
		t += dv * dv;
	}
	return (((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))) + t;
}

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
	if (in->dtype != fdt || r->via != in->dtype || !aligned_for(in->data, in->dtype)) {
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
		if ((st = wrap_dim(A, dims[k], rank, &d)))
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
		if ((st = infd__karg_int(&A, 1, "dim", &dim)) || (st = wrap_dim(&A, dim, in->rank, &d)))
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

/* ---- Softmax ------------------------------------------------------------------ */

/* exp(x) in float, written without calls or branches so that loops over it
 * vectorize: x = n ln2 + r, |r| <= ln2/2, a polynomial for e^r (Cephes expf; within
 * 1.4 ulp of exp over the whole float range) and 2^n applied in two halves so that
 * subnormal results come out right. x is clamped to [-104, 89] first: beyond those
 * the result underflows to 0 or overflows to inf all the same. NaN stays NaN. */
static inline float exp_f32(float x)
{
	const float hi = 89.0f, lo = -104.0f;
	/* Clamp with bit masks rather than selects: GCC would otherwise split the loop
	 * on the comparisons and then not vectorize it. NaN compares false and stays. */
	uint32_t xb, hb, lb;
	memcpy(&xb, &x, sizeof xb);
	memcpy(&hb, &hi, sizeof hb);
	memcpy(&lb, &lo, sizeof lb);
	uint32_t mh = 0u - (uint32_t)(x > hi), ml = 0u - (uint32_t)(x < lo);
	xb = (xb & ~(mh | ml)) | (hb & mh) | (lb & ml);
	float xc;
	memcpy(&xc, &xb, sizeof xc);
	const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
	float t = xc * 1.44269504088896341f + magic;
	float nf = t - magic;
	float r = xc - nf * 0.693359375f;
	r = r - nf * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * (r * r) + r + 1.0f;
	uint32_t tb, mb;
	memcpy(&tb, &t, sizeof tb);
	memcpy(&mb, &magic, sizeof mb);
	int32_t n = (int32_t)(tb - mb);
	int32_t n1 = n >> 1, n2 = n - n1;
	uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;
	float s1, s2;
	memcpy(&s1, &b1, sizeof s1);
	memcpy(&s2, &b2, sizeof s2);
	return p * s1 * s2;
}

/* o[j] = exp(x[j] - mx[j]); sum[j] += o[j]. */
static inline void exp_diff_acc(float *restrict o, const float *restrict x, const float *restrict mx,
				double *restrict sum, size_t m)
{
	INFD_VLOOP(m, j, const float e = exp_f32(x[j] - mx[j]); o[j] = e; sum[j] += (double)e;);
}

/* Softmax over m lanes that lie next to each other (lane stride 1 element), each
 * of length L with element stride si (input) / so (output). m <= BLK. For m == 1
 * the lane stride does not matter, which makes this the strided fallback too. */
INFD_SIMD_CLONES static void softmax_lanes(float *o, const float *x, size_t L, ptrdiff_t so, ptrdiff_t si, size_t m,
					   bool logsm)
{
	float mx[BLK];
	double sum[BLK];
	for (size_t j = 0; j < m; j++) {
		mx[j] = -INFINITY;
		sum[j] = 0;
	}
	for (size_t l = 0; l < L; l++) {
		const float *restrict xr = x + (ptrdiff_t)l * si;
		INFD_VLOOP(m, j, mx[j] = FMAX(mx[j], xr[j]););
	}
	for (size_t l = 0; l < L; l++) {
		const float *restrict xr = x + (ptrdiff_t)l * si;
		float *restrict orow = o + (ptrdiff_t)l * so;
		if (logsm) {
			INFD_VLOOP(m, j, sum[j] += (double)exp_f32(xr[j] - mx[j]););
		} else {
			exp_diff_acc(orow, xr, mx, sum, m);
		}
	}
	float c[BLK];
	if (logsm) {
		for (size_t j = 0; j < m; j++)
			c[j] = (float)log(sum[j]);
		for (size_t l = 0; l < L; l++) {
			const float *restrict xr = x + (ptrdiff_t)l * si;
			float *restrict orow = o + (ptrdiff_t)l * so;
			INFD_VLOOP(m, j, orow[j] = (xr[j] - mx[j]) - c[j];);
		}
	} else {
		for (size_t j = 0; j < m; j++)
			c[j] = (float)(1.0 / sum[j]);
		for (size_t l = 0; l < L; l++) {
			float *restrict orow = o + (ptrdiff_t)l * so;
			INFD_VLOOP(m, j, orow[j] *= c[j];);
		}
	}
}

/* Softmax of one dense row of length L. */
INFD_SIMD_CLONES static void softmax_row(float *restrict o, const float *restrict x, size_t L, bool logsm)
{
	float mx = max_f32_dense(-INFINITY, x, L);
	double l8[8] = {0}, t = 0;
	size_t i = 0;
	if (logsm) {
		for (; i + 8 <= L; i += 8)
			for (size_t k = 0; k < 8; k++)
				l8[k] += (double)exp_f32(x[i + k] - mx);
		for (; i < L; i++)
			t += (double)exp_f32(x[i] - mx);
	} else {
		for (; i + 8 <= L; i += 8)
			for (size_t k = 0; k < 8; k++) {
				float e = exp_f32(x[i + k] - mx);
				o[i + k] = e;
				l8[k] += (double)e;
			}
		for (; i < L; i++) {
			float e = exp_f32(x[i] - mx);
			o[i] = e;
			t += (double)e;
		}
	}
	double sum = (((l8[0] + l8[4]) + (l8[1] + l8[5])) + ((l8[2] + l8[6]) + (l8[3] + l8[7]))) + t;
	if (logsm) {
		const float c = (float)log(sum);
		INFD_VLOOP(L, k, o[k] = (x[k] - mx) - c;);
	} else {
		const float c = (float)(1.0 / sum);
		INFD_VLOOP(L, k, o[k] *= c;);
	}
}

struct sm_ctx {
	size_t L;
	ptrdiff_t si, so; /* element strides along the softmax dim */
	bool log;
};

static void softmax_rows(void *user, char *const *ptr, const ptrdiff_t *st, size_t n)
{
	const struct sm_ctx *c = user;
	float *o = (float *)(void *)ptr[0];
	const float *x = (const float *)(const void *)ptr[1];
	ptrdiff_t lo = st[0] / 4, li = st[1] / 4; /* lane strides, elements */
	if (c->si == 1 && c->so == 1) {
		for (size_t j = 0; j < n; j++)
			softmax_row(o + (ptrdiff_t)j * lo, x + (ptrdiff_t)j * li, c->L, c->log);
		return;
	}
	if (lo == 1 && li == 1) {
		for (size_t j = 0; j < n; j += BLK)
			softmax_lanes(o + j, x + j, c->L, c->so, c->si, n - j < BLK ? n - j : BLK, c->log);
		return;
	}
	for (size_t j = 0; j < n; j++)
		softmax_lanes(o + (ptrdiff_t)j * lo, x + (ptrdiff_t)j * li, c->L, c->so, c->si, 1, c->log);
}

static infd_status softmax_common(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n, bool log,
				  const char *name)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	int64_t dim;
	bool h2f;
	uint32_t d = 0;
	if ((st = infd__kargs_begin(&A, ctx, args, n, name, 5)) || (st = infd__karg_tensor(&A, 0, "self", &in)) ||
	    (st = infd__karg_int(&A, 1, "dim", &dim)) || (st = infd__karg_bool(&A, 2, "half_to_float", &h2f)) ||
	    (st = infd__karg_out(&A, 3, 4, &out)) || (st = need_f32(&A, in, "self")) ||
	    (st = need_f32(&A, out, "out")) || (st = wrap_dim(&A, dim, in->rank, &d)))
		return st;
	if (h2f)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "half_to_float=True is not supported on CPU");
	if ((st = infd__kout_resize(&A, out, in->rank, in->sizes)))
		return st;
	if (out->numel == 0)
		return INFD_OK;
	if (out->data == in->data && !infd__tensor_same_layout(in, out))
		return infd__kfail(&A, INFD_BAD_INPUT, "out shares memory with self but has another dim order");
	if ((st = need_aligned(&A, in, "self")) || (st = need_aligned(&A, out, "out")))
		return st;
	struct sm_ctx c = {.L = in->rank ? (size_t)in->sizes[d] : 1,
			   .si = in->rank ? (ptrdiff_t)in->strides[d] : 0,
			   .so = in->rank ? (ptrdiff_t)out->strides[d] : 0,
			   .log = log};
	int32_t sizes[INFD_MAX_RANK];
	memcpy(sizes, in->sizes, in->rank * sizeof sizes[0]);
	if (in->rank)
		sizes[d] = 1;
	if (c.L == 1) {
		c.si = c.so = 1; /* a single element: no stride is walked */
	}
	struct infd_iter it;
	infd__iter_init(&it, in->rank, sizes);
	infd__iter_add(&it, out);
	infd__iter_add(&it, in);
	infd__iter_finish(&it);
	infd__iter_rows(&it, softmax_rows, &c);
	return INFD_OK;
}

infd_status infd__k_softmax_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return softmax_common(ctx, args, n, false, "aten::_softmax.out");
}

infd_status infd__k_log_softmax_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	return softmax_common(ctx, args, n, true, "aten::_log_softmax.out");
}

/* ---- Normalizations ----------------------------------------------------------- */

/* Mean and variance (population) of n > 0 dense floats, in double, two passes. */
INFD_SIMD_CLONES static void moments_f32(const float *x, size_t n, double *mean, double *var)
{
	double mu = sum_f32_dense(x, n) / (double)n;
	*mean = mu;
	*var = sqdev_f32_dense(x, n, mu) / (double)n;
}

/* y = x * a + c, then * w and + b where given (w, b dense, or NULL). */
INFD_SIMD_CLONES static void affine_f32(float *restrict y, const float *restrict x, size_t n, float a, float c,
					const float *restrict w, const float *restrict b)
{
	if (w && b)
		INFD_VLOOP(n, i, y[i] = (x[i] * a + c) * w[i] + b[i];);
	else if (w)
		INFD_VLOOP(n, i, y[i] = (x[i] * a + c) * w[i];);
	else if (b)
		INFD_VLOOP(n, i, y[i] = (x[i] * a + c) + b[i];);
	else
		INFD_VLOOP(n, i, y[i] = x[i] * a + c;);
}

infd_status infd__k_native_layer_norm_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in, *w, *b;
	struct infd_tensor *out, *mean, *rstd;
	int64_t ns[INFD_MAX_RANK];
	int32_t nn;
	double eps;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::native_layer_norm.out", 9)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) ||
	    (st = infd__karg_int_list(&A, 1, "normalized_shape", false, ns, INFD_MAX_RANK, &nn)) ||
	    (st = infd__karg_opt_tensor(&A, 2, "weight", &w)) || (st = infd__karg_opt_tensor(&A, 3, "bias", &b)) ||
	    (st = infd__karg_double(&A, 4, "eps", &eps)) || (st = karg_out_multi(&A, 5, &out)) ||
	    (st = karg_out_multi(&A, 6, &mean)) || (st = karg_out_multi(&A, 7, &rstd)) ||
	    (st = check_ret_list(&A, 8, (struct infd_tensor *[]){out, mean, rstd}, 3)) ||
	    (st = need_f32(&A, in, "input")) || (st = need_f32(&A, out, "out")) || (st = need_f32(&A, mean, "mean")) ||
	    (st = need_f32(&A, rstd, "rstd")))
		return st;
	if (nn < 1)
		return infd__kfail(&A, INFD_BAD_INPUT, "normalized_shape must not be empty");
	uint32_t axis = in->rank - (uint32_t)nn;
	bool match = (uint32_t)nn <= in->rank;
	for (int32_t k = 0; match && k < nn; k++)
		match = in->sizes[axis + (uint32_t)k] == ns[k];
	if (!match) {
		char buf[160];
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "normalized_shape (%d dims, last %lld) does not match the trailing "
				   "dims of input %s",
				   nn, (long long)ns[nn - 1], infd__tensor_describe(in, buf, sizeof buf));
	}
	uint64_t N = 1, M = 1;
	for (uint32_t d = 0; d < in->rank; d++) {
		if (d < axis)
			M *= (uint64_t)in->sizes[d];
		else
			N *= (uint64_t)in->sizes[d];
	}
	const struct infd_tensor *params[2] = {w, b};
	for (int k = 0; k < 2; k++) {
		const struct infd_tensor *t = params[k];
		const char *nm = k ? "bias" : "weight";
		if (!t)
			continue;
		if ((st = need_f32(&A, t, nm)))
			return st;
		bool ok = t->rank == (uint32_t)nn && rowmajor_dense(t);
		for (int32_t q = 0; ok && q < nn; q++)
			ok = t->sizes[q] == ns[q];
		if (!ok)
			return infd__kfail(&A, INFD_BAD_INPUT, "%s must be a dense tensor of shape normalized_shape",
					   nm);
	}
	int32_t ssz[INFD_MAX_RANK];
	for (uint32_t d = 0; d < in->rank; d++)
		ssz[d] = d < axis ? in->sizes[d] : 1;
	if ((st = infd__kout_resize(&A, out, in->rank, in->sizes)) ||
	    (st = infd__kout_resize(&A, mean, in->rank, ssz)) || (st = infd__kout_resize(&A, rstd, in->rank, ssz)))
		return st;
	if (!rowmajor_dense(in) || !rowmajor_dense(out) || !rowmajor_dense(mean) || !rowmajor_dense(rstd))
		return infd__kfail(&A, INFD_KERNEL_FAILED, "only the contiguous dim order is supported");
	if (out->data == in->data && !infd__tensor_same_layout(in, out))
		return infd__kfail(&A, INFD_BAD_INPUT, "out shares memory with input");
	if ((st = need_aligned(&A, in, "input")) || (st = need_aligned(&A, w, "weight")) ||
	    (st = need_aligned(&A, b, "bias")) || (st = need_aligned(&A, out, "out")) ||
	    (st = need_aligned(&A, mean, "mean")) || (st = need_aligned(&A, rstd, "rstd")))
		return st;
	if (M == 0)
		return INFD_OK;
	const float *x = in->data, *wd = w ? w->data : NULL, *bd = b ? b->data : NULL;
	float *y = out->data, *md = mean->data, *rd = rstd->data;
	for (uint64_t m = 0; m < M; m++) {
		if (N == 0) {
			md[m] = 0;
			rd[m] = NAN;
			continue;
		}
		double mu, var;
		moments_f32(x + m * N, (size_t)N, &mu, &var);
		double r = 1.0 / sqrt(var + eps);
		md[m] = (float)mu;
		rd[m] = (float)r;
		affine_f32(y + m * N, x + m * N, (size_t)N, (float)r, (float)(-mu * r), wd, bd);
	}
	return INFD_OK;
}

/* y = x * a + c along rows; a and c (per channel) have stride 0 (one channel per
 * row) or step with the row (channels-last). */
static inline void bn_plane(float *restrict y, const float *restrict x, size_t n, float a, float c)
{
	INFD_VLOOP(n, i, y[i] = x[i] * a + c;);
}

static inline void bn_pixel(float *restrict y, const float *restrict x, const float *restrict a,
			    const float *restrict c, size_t n)
{
	INFD_VLOOP(n, i, y[i] = x[i] * a[i] + c[i];);
}

INFD_SIMD_CLONES static void bn_rows(void *user, char *const *ptr, const ptrdiff_t *st, size_t n)
{
	float *o = (float *)(void *)ptr[0];
	const float *x = (const float *)(const void *)ptr[1];
	const float *a = (const float *)(const void *)ptr[2];
	const float *c = (const float *)(const void *)ptr[3];
	if (st[0] == 4 && st[1] == 4 && st[2] == 0 && st[3] == 0) {
		bn_plane(o, x, n, a[0], c[0]);
		return;
	}
	if (st[0] == 4 && st[1] == 4 && st[2] == 4 && st[3] == 4) {
		bn_pixel(o, x, a, c, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		*(float *)(void *)(ptr[0] + (ptrdiff_t)i * st[0]) =
		    LD(float, ptr[1] + (ptrdiff_t)i * st[1]) * LD(float, ptr[2] + (ptrdiff_t)i * st[2]) +
		    LD(float, ptr[3] + (ptrdiff_t)i * st[3]);
}

infd_status infd__k_native_batch_norm_legit_no_training_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
							    uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in, *w, *b, *rm, *rv;
	struct infd_tensor *out, *sm, *si;
	double momentum, eps;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::_native_batch_norm_legit_no_training.out", 11)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) || (st = infd__karg_opt_tensor(&A, 1, "weight", &w)) ||
	    (st = infd__karg_opt_tensor(&A, 2, "bias", &b)) || (st = infd__karg_tensor(&A, 3, "running_mean", &rm)) ||
	    (st = infd__karg_tensor(&A, 4, "running_var", &rv)) ||
	    (st = infd__karg_double(&A, 5, "momentum", &momentum)) || (st = infd__karg_double(&A, 6, "eps", &eps)) ||
	    (st = karg_out_multi(&A, 7, &out)) || (st = karg_out_multi(&A, 8, &sm)) ||
	    (st = karg_out_multi(&A, 9, &si)) ||
	    (st = check_ret_list(&A, 10, (struct infd_tensor *[]){out, sm, si}, 3)) ||
	    (st = need_f32(&A, in, "input")) || (st = need_f32(&A, out, "out")))
		return st;
	if (in->rank < 2)
		return infd__kfail(&A, INFD_BAD_INPUT, "input must have at least 2 dims (N, C, ...), got %u", in->rank);
	int64_t C = in->sizes[1];
	if ((st = check_param(&A, w, "weight", C)) || (st = check_param(&A, b, "bias", C)) ||
	    (st = check_param(&A, rm, "running_mean", C)) || (st = check_param(&A, rv, "running_var", C)))
		return st;
	static const int32_t zero[1] = {0};
	if ((st = infd__kout_resize(&A, out, in->rank, in->sizes)) || (st = infd__kout_resize(&A, sm, 1, zero)) ||
	    (st = infd__kout_resize(&A, si, 1, zero)))
		return st;
	if (out->data == in->data && !infd__tensor_same_layout(in, out))
		return infd__kfail(&A, INFD_BAD_INPUT, "out shares memory with input but has another dim order");
	if ((st = need_aligned(&A, in, "input")) || (st = need_aligned(&A, w, "weight")) ||
	    (st = need_aligned(&A, b, "bias")) || (st = need_aligned(&A, rm, "running_mean")) ||
	    (st = need_aligned(&A, rv, "running_var")) || (st = need_aligned(&A, out, "out")))
		return st;
	if (out->numel == 0)
		return INFD_OK;
	float *ab = malloc(2 * (size_t)C * sizeof *ab);
	if (!ab)
		return infd__kfail(&A, INFD_NO_MEMORY, "out of memory");
	const float *wd = w ? w->data : NULL, *bd = b ? b->data : NULL;
	const float *md = rm->data, *vd = rv->data;
	for (int64_t c = 0; c < C; c++) {
		double inv = 1.0 / sqrt((double)vd[c] + eps);
		double a = inv * (wd ? (double)wd[c] : 1.0);
		ab[c] = (float)a;
		ab[C + c] = (float)((bd ? (double)bd[c] : 0.0) - (double)md[c] * a);
	}
	/* The per-channel terms as [1, C, 1, ...] tensors broadcast over the input. */
	struct infd_tensor ta = {.dtype = F32, .rank = in->rank};
	for (uint32_t d = 0; d < in->rank; d++) {
		ta.sizes[d] = d == 1 ? (int32_t)C : 1;
		ta.dim_order[d] = (uint8_t)d;
	}
	infd__tensor_update_layout(&ta);
	struct infd_tensor tc = ta;
	ta.data = ab;
	tc.data = ab + C;
	struct infd_iter it;
	infd__iter_init(&it, in->rank, in->sizes);
	infd__iter_add(&it, out);
	infd__iter_add(&it, in);
	infd__iter_add(&it, &ta);
	infd__iter_add(&it, &tc);
	infd__iter_finish(&it);
	infd__iter_rows(&it, bn_rows, NULL);
	free(ab);
	return INFD_OK;
}

infd_status infd__k_native_group_norm_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in, *w, *b;
	struct infd_tensor *out, *mean, *rstd;
	int64_t N, C, HxW, G;
	double eps;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::native_group_norm.out", 12)) ||
	    (st = infd__karg_tensor(&A, 0, "input", &in)) || (st = infd__karg_opt_tensor(&A, 1, "weight", &w)) ||
	    (st = infd__karg_opt_tensor(&A, 2, "bias", &b)) || (st = infd__karg_int(&A, 3, "N", &N)) ||
	    (st = infd__karg_int(&A, 4, "C", &C)) || (st = infd__karg_int(&A, 5, "HxW", &HxW)) ||
	    (st = infd__karg_int(&A, 6, "group", &G)) || (st = infd__karg_double(&A, 7, "eps", &eps)) ||
	    (st = karg_out_multi(&A, 8, &out)) || (st = karg_out_multi(&A, 9, &mean)) ||
	    (st = karg_out_multi(&A, 10, &rstd)) ||
	    (st = check_ret_list(&A, 11, (struct infd_tensor *[]){out, mean, rstd}, 3)) ||
	    (st = need_f32(&A, in, "input")) || (st = need_f32(&A, out, "out")) || (st = need_f32(&A, mean, "mean")) ||
	    (st = need_f32(&A, rstd, "rstd")))
		return st;
	if (in->rank < 2 || in->sizes[0] != N || in->sizes[1] != C || HxW < 0 ||
	    (uint64_t)N * (uint64_t)C * (uint64_t)HxW != in->numel) {
		char buf[160];
		return infd__kfail(
		    &A, INFD_BAD_INPUT, "input %s does not have the shape [N=%lld, C=%lld, *] with HxW=%lld",
		    infd__tensor_describe(in, buf, sizeof buf), (long long)N, (long long)C, (long long)HxW);
	}
	if (G <= 0 || C % G != 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "group must be positive and divide C=%lld, got %lld",
				   (long long)C, (long long)G);
	if ((st = check_param(&A, w, "weight", C)) || (st = check_param(&A, b, "bias", C)))
		return st;
	int32_t ssz[2] = {(int32_t)N, (int32_t)G};
	if ((st = infd__kout_resize(&A, out, in->rank, in->sizes)) || (st = infd__kout_resize(&A, mean, 2, ssz)) ||
	    (st = infd__kout_resize(&A, rstd, 2, ssz)))
		return st;
	if (!rowmajor_dense(in) || !rowmajor_dense(out) || !rowmajor_dense(mean) || !rowmajor_dense(rstd))
		return infd__kfail(&A, INFD_KERNEL_FAILED, "only the contiguous dim order is supported");
	if (out->data == in->data && !infd__tensor_same_layout(in, out))
		return infd__kfail(&A, INFD_BAD_INPUT, "out shares memory with input");
	if ((st = need_aligned(&A, in, "input")) || (st = need_aligned(&A, w, "weight")) ||
	    (st = need_aligned(&A, b, "bias")) || (st = need_aligned(&A, out, "out")) ||
	    (st = need_aligned(&A, mean, "mean")) || (st = need_aligned(&A, rstd, "rstd")))
		return st;
	const float *x = in->data, *wd = w ? w->data : NULL, *bd = b ? b->data : NULL;
	float *y = out->data, *md = mean->data, *rd = rstd->data;
	int64_t D = C / G;
	size_t blk = (size_t)(D * HxW);
	for (int64_t i = 0; i < N * G; i++) {
		int64_t g = i % G;
		const float *xb = x + i * (int64_t)blk;
		float *yb = y + i * (int64_t)blk;
		if (blk == 0) {
			md[i] = 0;
			rd[i] = NAN;
			continue;
		}
		double mu, var;
		moments_f32(xb, blk, &mu, &var);
		double r = 1.0 / sqrt(var + eps);
		md[i] = (float)mu;
		rd[i] = (float)r;
		for (int64_t k = 0; k < D; k++) {
			int64_t c = g * D + k;
			double a = r * (wd ? (double)wd[c] : 1.0);
			double cc = (bd ? (double)bd[c] : 0.0) - mu * a;
			affine_f32(yb + k * HxW, xb + k * HxW, (size_t)HxW, (float)a, (float)cc, NULL, NULL);
		}
	}
	return INFD_OK;
}

/* ---- Pooling ------------------------------------------------------------------ */

/* A 2-d pooling problem: input [N, C, H, W] (or [C, H, W], N = 1) and output
 * [N, C, OH, OW], element strides of each, and the window of every output row and
 * column: lo..hi (exclusive) inside the input, stepping by the dilation. */
struct pool {
	int64_t N, C, H, W, OH, OW;
	ptrdiff_t is[4], os[4], xs[4]; /* input, out, indices: N, C, H, W strides */
	int64_t k[2], s[2], pad[2], dil[2];
	int64_t *hlo, *hhi, *wlo, *whi;
	int64_t *hpad, *wpad; /* avg: window sizes counting padding (up to in + pad) */
	int64_t c0, c1;       /* output columns whose windows lie wholly inside: [c0, c1) */
	/* avg */
	int64_t divisor; /* != 0: divisor_override */
	bool count_pad;
};

static infd_status pool_input(const struct infd_kargs *A, const struct infd_tensor *in, struct pool *p)
{
	infd_status st = need_f32(A, in, "self");
	if (st)
		return st;
	if (in->rank != 3 && in->rank != 4) {
		char buf[160];
		return infd__kfail(A, INFD_BAD_INPUT, "expected a 3-d or 4-d (batch mode) input, got %s",
				   infd__tensor_describe(in, buf, sizeof buf));
	}
	uint32_t o = in->rank - 3;
	for (uint32_t d = o ? 1 : 0; d < in->rank; d++)
		if (in->sizes[d] == 0) {
			char buf[160];
			return infd__kfail(A, INFD_BAD_INPUT, "input %s has an empty non-batch dim",
					   infd__tensor_describe(in, buf, sizeof buf));
		}
	p->N = o ? in->sizes[0] : 1;
	p->C = in->sizes[o];
	p->H = in->sizes[o + 1];
	p->W = in->sizes[o + 2];
	p->is[0] = o ? (ptrdiff_t)in->strides[0] : 0;
	for (uint32_t k = 0; k < 3; k++)
		p->is[k + 1] = (ptrdiff_t)in->strides[o + k];
	return INFD_OK;
}

/* Resize an output to the pooled shape and read its strides into s[4]. */
static infd_status pool_output(const struct infd_kargs *A, const struct infd_tensor *in, const struct pool *p,
			       struct infd_tensor *t, ptrdiff_t *s)
{
	int32_t sizes[4];
	uint32_t o = in->rank - 3;
	if (o)
		sizes[0] = (int32_t)p->N;
	sizes[o] = (int32_t)p->C;
	sizes[o + 1] = (int32_t)p->OH;
	sizes[o + 2] = (int32_t)p->OW;
	infd_status st = infd__kout_resize(A, t, in->rank, sizes);
	if (st)
		return st;
	s[0] = o ? (ptrdiff_t)t->strides[0] : 0;
	for (uint32_t k = 0; k < 3; k++)
		s[k + 1] = (ptrdiff_t)t->strides[o + k];
	if (t->data && t->data == in->data)
		return infd__kfail(A, INFD_BAD_INPUT, "an output shares memory with self");
	if ((st = need_aligned(A, in, "self")) || (st = need_aligned(A, t, "out")))
		return st;
	return INFD_OK;
}

/* A pooling parameter list: one int (both dims) or two; `dflt` when empty and allowed. */
static infd_status pool_pair(const struct infd_kargs *A, uint32_t i, const char *name, const int64_t *dflt, int64_t lo,
			     int64_t *out)
{
	int64_t v[INFD_MAX_RANK];
	int32_t n;
	infd_status st = infd__karg_int_list(A, i, name, false, v, INFD_MAX_RANK, &n);
	if (st)
		return st;
	if (n == 0 && dflt) {
		out[0] = dflt[0];
		out[1] = dflt[1];
	} else if (n == 1 || n == 2) {
		out[0] = v[0];
		out[1] = v[n - 1];
	} else {
		return infd__kfail(A, INFD_BAD_INPUT, "%s must be a single int or two ints, got %d", name, n);
	}
	for (int k = 0; k < 2; k++)
		if (out[k] < lo || out[k] > INT32_MAX)
			return infd__kfail(A, INFD_BAD_INPUT, "%s must be %s, got %lld", name,
					   lo ? "positive" : "non-negative", (long long)out[k]);
	return INFD_OK;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* PyTorch's pooling_output_shape: in ceil mode the last window must start inside
 * the input or its left padding. */
static int64_t pool_out_size(int64_t in, int64_t k, int64_t pad, int64_t s, int64_t dil, bool ceil_mode)
{
	int64_t o = floor_div(in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
	if (ceil_mode && (o - 1) * s >= in + pad)
		o--;
	return o;
}

/* Geometry shared by max and avg pooling; fills p->OH/OW. */
static infd_status pool_geometry(const struct infd_kargs *A, struct pool *p, bool ceil_mode)
{
	if (p->pad[0] > p->k[0] / 2 || p->pad[1] > p->k[1] / 2)
		return infd__kfail(A, INFD_BAD_INPUT,
				   "pad should be at most half of the kernel size, got pad %lldx%lld "
				   "and kernel %lldx%lld",
				   (long long)p->pad[0], (long long)p->pad[1], (long long)p->k[0], (long long)p->k[1]);
	p->OH = pool_out_size(p->H, p->k[0], p->pad[0], p->s[0], p->dil[0], ceil_mode);
	p->OW = pool_out_size(p->W, p->k[1], p->pad[1], p->s[1], p->dil[1], ceil_mode);
	if (p->OH < 1 || p->OW < 1)
		return infd__kfail(A, INFD_BAD_INPUT, "output size %lldx%lld is too small (input %lldx%lld)",
				   (long long)p->OH, (long long)p->OW, (long long)p->H, (long long)p->W);
	return INFD_OK;
}

/* Per-output-row/column windows (malloc'd block, freed with free(p->hlo)). Max
 * pooling starts each window at its first position inside the input on the
 * dilation grid; average pooling also records the window size with padding. */
static bool pool_windows(struct pool *p, bool avg)
{
	size_t n = (size_t)(p->OH + p->OW);
	int64_t *w = malloc(3 * n * sizeof *w);
	if (!w)
		return false;
	p->hlo = w;
	p->hhi = w + p->OH;
	p->hpad = w + 2 * p->OH;
	p->wlo = w + 3 * p->OH;
	p->whi = p->wlo + p->OW;
	p->wpad = p->whi + p->OW;
	const int64_t sizes[2] = {p->H, p->W}, outs[2] = {p->OH, p->OW};
	int64_t *lo[2] = {p->hlo, p->wlo}, *hi[2] = {p->hhi, p->whi}, *pd[2] = {p->hpad, p->wpad};
	for (int d = 0; d < 2; d++) {
		int64_t k = p->k[d], s = p->s[d], pad = p->pad[d], dil = p->dil[d], in = sizes[d];
		for (int64_t o = 0; o < outs[d]; o++) {
			int64_t a = o * s - pad;
			int64_t e = avg ? a + k : a + (k - 1) * dil + 1;
			if (avg) {
				int64_t ep = e < in + pad ? e : in + pad;
				pd[d][o] = ep - a;
			}
			hi[d][o] = e < in ? e : in;
			if (a < 0)
				a += ((-a + dil - 1) / dil) * dil;
			lo[d][o] = a;
		}
	}
	/* columns whose windows lie wholly inside: ow * s - pad >= 0 and
	 * ow * s - pad + (k - 1) * dil <= W - 1 */
	int64_t s = p->s[1], pad = p->pad[1];
	int64_t last = p->W - 1 + pad - (p->k[1] - 1) * p->dil[1];
	int64_t c1 = last < 0 ? 0 : last / s + 1;
	int64_t c0 = (pad + s - 1) / s;
	c1 = c1 < p->OW ? c1 : p->OW;
	p->c0 = c0 < c1 ? c0 : c1;
	p->c1 = c1;
	return true;
}

/* One max-pooling output (scalar): PyTorch's order and rule, NaN wins. */
static inline void max_one(const struct pool *p, const float *xp, int64_t oh, int64_t ow, float *y, int64_t *ix)
{
	float mv = -INFINITY;
	int64_t mi = p->hlo[oh] * p->W + p->wlo[ow];
	for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h += p->dil[0]) {
		const float *xr = xp + h * p->is[2];
		for (int64_t w = p->wlo[ow]; w < p->whi[ow]; w += p->dil[1]) {
			float v = xr[w * p->is[3]];
			if (v > mv || v != v) {
				mv = v;
				mi = h * p->W + w;
			}
		}
	}
	*y = mv;
	*ix = mi;
}

/* The vector paths copy a row of the input as s "phases" (every s-th element from
 * offset r), so that each window tap is a dense run of one phase; strides above
 * PH_MAX and very wide windows take the scalar path. The copies are zero-padded so
 * that the vector loops may run whole blocks of 16 lanes past m (those lanes are
 * never stored). Taps are numbered in window order; the winning tap's input
 * position is worked out once per output. */
#define PH_MAX   4
#define MAX_TAPS 1024 /* windows up to this many taps run the vector paths */
#define PH_EXTRA 64
#define PH_LEN   (BLK + PH_EXTRA + 16)

static inline size_t round16(size_t m)
{
	return (m + 15) & ~(size_t)15;
}

/* Fill the phases of one row for outputs whose windows start at row + w0 + s * j:
 * ph[r][j] = row[w0 + s * j + r] while inside the row (W), 0 after, j < len. */
static inline void deinterleave2(float *restrict a, float *restrict b, const float *restrict x, size_t n)
{
	INFD_VLOOP(n, j, a[j] = x[2 * j]; b[j] = x[2 * j + 1];);
}

static inline void fill_phases(float (*ph)[PH_LEN], const float *row, int64_t w0, int64_t W, int64_t s, size_t len)
{
	if (s == 2) {
		/* both phases in one pass over the pairs that are wholly inside */
		int64_t avail = W - w0;
		size_t pairs = avail <= 0 ? 0 : (size_t)(avail / 2);
		pairs = pairs < len ? pairs : len;
		deinterleave2(ph[0], ph[1], row + w0, pairs);
		size_t n0 = pairs, n1 = pairs;
		if (pairs < len && avail > 0 && (avail & 1))
			ph[0][n0++] = row[w0 + 2 * (int64_t)pairs];
		memset(ph[0] + n0, 0, (len - n0) * sizeof(float));
		memset(ph[1] + n1, 0, (len - n1) * sizeof(float));
		return;
	}
	for (int64_t r = 0; r < s; r++) {
		int64_t avail = W - w0 - r;
		size_t n = avail <= 0 ? 0 : (size_t)((avail + s - 1) / s);
		n = n < len ? n : len;
		const float *src = row + w0 + r;
		float *restrict dst = ph[r];
		if (s == 1)
			memcpy(dst, src, n * sizeof *dst);
		else if (s == 2)
			for (size_t j = 0; j < n; j++)
				dst[j] = src[2 * j];
		else
			for (size_t j = 0; j < n; j++)
				dst[j] = src[(ptrdiff_t)j * s];
		memset(dst + n, 0, (len - n) * sizeof *dst);
	}
}

static inline void max_tap(float *restrict mv, int32_t *restrict mt, const float *restrict xr, size_t m, int32_t tap)
{
	INFD_VLOOP(m, j, const float v = xr[j]; const bool t = (v > mv[j]) | (v != v); mv[j] = t ? v : mv[j];
		   mt[j] = t ? tap : mt[j];);
}

/* NCHW (any strides): the interior columns of each output row (windows wholly
 * inside) run as vectors over the columns when the input is dense along W; the
 * edges, and everything else, take max_one. */
INFD_SIMD_CLONES static void max_pool_planes(const struct pool *p, const float *x, float *y, int64_t *ix)
{
	float mv[BLK + 16];
	int32_t mt[BLK + 16];
	float ph[PH_MAX][PH_LEN];
	const int64_t s = p->s[1], kn = p->k[1], dw = p->dil[1];
	const int64_t qmax = (kn - 1) * dw / s;
	const bool vec = p->is[3] == 1 && s <= PH_MAX && qmax <= PH_EXTRA && kn <= 64 && p->k[0] * kn <= MAX_TAPS;
	const float *tapp[64];  /* where tap kw reads, relative to the phases */
	int64_t toff[MAX_TAPS]; /* input offset of each tap from the window's first */
	for (int64_t kw = 0; vec && kw < kn; kw++)
		tapp[kw] = ph[kw * dw % s] + kw * dw / s;
	for (int64_t t = 0; vec && t < p->k[0] * kn; t++)
		toff[t] = t / kn * p->dil[0] * p->W + t % kn * dw;
	for (int64_t nn = 0; nn < p->N; nn++)
		for (int64_t c = 0; c < p->C; c++) {
			const float *xp = x + nn * p->is[0] + c * p->is[1];
			float *yp = y + nn * p->os[0] + c * p->os[1];
			int64_t *ip = ix + nn * p->xs[0] + c * p->xs[1];
			for (int64_t oh = 0; oh < p->OH; oh++) {
				float *yr = yp + oh * p->os[2];
				int64_t *ir = ip + oh * p->xs[2];
				int64_t a = vec ? p->c0 : p->OW, b = vec ? p->c1 : p->OW;
				for (int64_t ow = 0; ow < a; ow++)
					max_one(p, xp, oh, ow, yr + ow * p->os[3], ir + ow * p->xs[3]);
				for (int64_t ow0 = a; ow0 < b; ow0 += BLK) {
					size_t m = (size_t)(b - ow0 < BLK ? b - ow0 : BLK);
					size_t mr = round16(m);
					int64_t w0 = ow0 * s - p->pad[1];
					for (size_t j = 0; j < mr; j++) {
						mv[j] = -INFINITY;
						mt[j] = 0;
					}
					int32_t tap = 0;
					for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h += p->dil[0]) {
						fill_phases(ph, xp + h * p->is[2], w0, p->W, s, mr + (size_t)qmax);
						for (int64_t kw = 0; kw < kn; kw++, tap++)
							max_tap(mv, mt, tapp[kw], mr, tap);
					}
					const int64_t first = p->hlo[oh] * p->W + w0;
					for (size_t j = 0; j < m; j++) {
						yr[(ow0 + (int64_t)j) * p->os[3]] = mv[j];
						ir[(ow0 + (int64_t)j) * p->xs[3]] =
						    first + s * (int64_t)j + toff[mt[j]];
					}
				}
				for (int64_t ow = b; ow < p->OW; ow++)
					max_one(p, xp, oh, ow, yr + ow * p->os[3], ir + ow * p->xs[3]);
			}
		}
}

/* Channels-last: the channels of one pixel are adjacent in input, out and indices;
 * the window loop runs over vectors of channels. */
INFD_SIMD_CLONES static void max_pool_cl(const struct pool *p, const float *x, float *y, int64_t *ix)
{
	float mv[BLK];
	int32_t mt[BLK];
	int64_t tpos[MAX_TAPS]; /* input position of each tap of the current window */
	for (int64_t nn = 0; nn < p->N; nn++)
		for (int64_t oh = 0; oh < p->OH; oh++)
			for (int64_t ow = 0; ow < p->OW; ow++) {
				int32_t nt = 0;
				for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h += p->dil[0])
					for (int64_t w = p->wlo[ow]; w < p->whi[ow]; w += p->dil[1])
						tpos[nt++] = h * p->W + w;
				for (int64_t c0 = 0; c0 < p->C; c0 += BLK) {
					size_t m = (size_t)(p->C - c0 < BLK ? p->C - c0 : BLK);
					for (size_t j = 0; j < m; j++) {
						mv[j] = -INFINITY;
						mt[j] = 0;
					}
					int32_t tap = 0;
					for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h += p->dil[0])
						for (int64_t w = p->wlo[ow]; w < p->whi[ow]; w += p->dil[1], tap++)
							max_tap(mv, mt,
								x + nn * p->is[0] + h * p->is[2] + w * p->is[3] + c0, m,
								tap);
					float *yp = y + nn * p->os[0] + oh * p->os[2] + ow * p->os[3] + c0;
					int64_t *ip = ix + nn * p->xs[0] + oh * p->xs[2] + ow * p->xs[3] + c0;
					memcpy(yp, mv, m * sizeof mv[0]);
					for (size_t j = 0; j < m; j++)
						ip[j] = tpos[mt[j]];
				}
			}
}

infd_status infd__k_max_pool2d_with_indices_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out, *ind;
	bool ceil_mode;
	struct pool p;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::max_pool2d_with_indices.out", 9)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &in)) || (st = pool_pair(&A, 1, "kernel_size", NULL, 1, p.k)) ||
	    (st = pool_pair(&A, 2, "stride", p.k, 1, p.s)) || (st = pool_pair(&A, 3, "padding", NULL, 0, p.pad)) ||
	    (st = pool_pair(&A, 4, "dilation", NULL, 1, p.dil)) ||
	    (st = infd__karg_bool(&A, 5, "ceil_mode", &ceil_mode)) || (st = karg_out_multi(&A, 6, &out)) ||
	    (st = karg_out_multi(&A, 7, &ind)) || (st = check_ret_list(&A, 8, (struct infd_tensor *[]){out, ind}, 2)) ||
	    (st = pool_input(&A, in, &p)) || (st = need_f32(&A, out, "out")))
		return st;
	if (ind->dtype != I64)
		return infd__kfail(&A, INFD_BAD_INPUT, "indices must have dtype int64, got %s",
				   infd_dtype_name(ind->dtype));
	if ((st = pool_geometry(&A, &p, ceil_mode)) || (st = pool_output(&A, in, &p, out, p.os)) ||
	    (st = pool_output(&A, in, &p, ind, p.xs)))
		return st;
	if (out->data && out->data == ind->data)
		return infd__kfail(&A, INFD_BAD_INPUT, "out and indices share memory");
	if (out->numel == 0)
		return INFD_OK;
	if (!pool_windows(&p, false))
		return infd__kfail(&A, INFD_NO_MEMORY, "out of memory");
	if (p.is[1] == 1 && p.os[1] == 1 && p.xs[1] == 1 && p.C > 1 && p.k[0] * p.k[1] <= MAX_TAPS)
		max_pool_cl(&p, in->data, out->data, ind->data);
	else
		max_pool_planes(&p, in->data, out->data, ind->data);
	free(p.hlo);
	return INFD_OK;
}

static inline double avg_div(const struct pool *p, int64_t oh, int64_t ow)
{
	if (p->divisor)
		return (double)p->divisor;
	if (p->count_pad)
		return (double)(p->hpad[oh] * p->wpad[ow]);
	return (double)((p->hhi[oh] - p->hlo[oh]) * (p->whi[ow] - p->wlo[ow]));
}

/* One average-pooling output (scalar). */
static inline float avg_one(const struct pool *p, const float *xp, int64_t oh, int64_t ow)
{
	if (p->hlo[oh] >= p->hhi[oh] || p->wlo[ow] >= p->whi[ow])
		return 0;
	double sum = 0;
	size_t n = (size_t)(p->whi[ow] - p->wlo[ow]);
	for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h++) {
		const float *xr = xp + h * p->is[2] + p->wlo[ow] * p->is[3];
		if (p->is[3] == 1) {
			sum += sum_f32_dense(xr, n);
		} else {
			for (size_t w = 0; w < n; w++)
				sum += (double)xr[(ptrdiff_t)w * p->is[3]];
		}
	}
	return (float)(sum / avg_div(p, oh, ow));
}

static inline void avg_tap(float *restrict acc, const float *restrict xr, size_t m)
{
	INFD_VLOOP(m, j, acc[j] += xr[j];);
}

/* NCHW (any strides), as max_pool_planes: vectors over the interior columns. */
INFD_SIMD_CLONES static void avg_pool_planes(const struct pool *p, const float *x, float *y)
{
	float acc[BLK + 16];
	float ph[PH_MAX][PH_LEN];
	const int64_t s = p->s[1], kn = p->k[1];
	const int64_t qmax = (kn - 1) / s;
	const bool vec = p->is[3] == 1 && s <= PH_MAX && qmax <= PH_EXTRA && kn <= 64;
	const float *tapp[64];
	for (int64_t kw = 0; vec && kw < kn; kw++)
		tapp[kw] = ph[kw % s] + kw / s;
	for (int64_t nn = 0; nn < p->N; nn++)
		for (int64_t c = 0; c < p->C; c++) {
			const float *xp = x + nn * p->is[0] + c * p->is[1];
			float *yp = y + nn * p->os[0] + c * p->os[1];
			for (int64_t oh = 0; oh < p->OH; oh++) {
				float *yr = yp + oh * p->os[2];
				int64_t a = vec ? p->c0 : p->OW, b = vec ? p->c1 : p->OW;
				if (p->hlo[oh] >= p->hhi[oh])
					a = b = p->OW; /* empty windows: avg_one writes 0 */
				for (int64_t ow = 0; ow < a; ow++)
					yr[ow * p->os[3]] = avg_one(p, xp, oh, ow);
				const float dv = a < b ? (float)avg_div(p, oh, a) : 1.0f;
				for (int64_t ow0 = a; ow0 < b; ow0 += BLK) {
					size_t m = (size_t)(b - ow0 < BLK ? b - ow0 : BLK);
					size_t mr = round16(m);
					int64_t w0 = ow0 * s - p->pad[1];
					for (size_t j = 0; j < mr; j++)
						acc[j] = 0;
					for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h++) {
						fill_phases(ph, xp + h * p->is[2], w0, p->W, s, mr + (size_t)qmax);
						for (int64_t kw = 0; kw < kn; kw++)
							avg_tap(acc, tapp[kw], mr);
					}
					INFD_VLOOP(mr, j, acc[j] = acc[j] / dv;);
					for (size_t j = 0; j < m; j++)
						yr[(ow0 + (int64_t)j) * p->os[3]] = acc[j];
				}
				for (int64_t ow = b; ow < p->OW; ow++)
					yr[ow * p->os[3]] = avg_one(p, xp, oh, ow);
			}
		}
}

INFD_SIMD_CLONES static void avg_pool_cl(const struct pool *p, const float *x, float *y)
{
	float acc[BLK];
	for (int64_t nn = 0; nn < p->N; nn++)
		for (int64_t oh = 0; oh < p->OH; oh++)
			for (int64_t ow = 0; ow < p->OW; ow++) {
				float *yp = y + nn * p->os[0] + oh * p->os[2] + ow * p->os[3];
				bool empty = p->hlo[oh] >= p->hhi[oh] || p->wlo[ow] >= p->whi[ow];
				const float dv = empty ? 1.0f : (float)avg_div(p, oh, ow);
				for (int64_t c0 = 0; c0 < p->C; c0 += BLK) {
					size_t m = (size_t)(p->C - c0 < BLK ? p->C - c0 : BLK);
					for (size_t j = 0; j < m; j++)
						acc[j] = 0;
					for (int64_t h = p->hlo[oh]; h < p->hhi[oh]; h++)
						for (int64_t w = p->wlo[ow]; w < p->whi[ow]; w++) {
							const float *restrict xr =
							    x + nn * p->is[0] + h * p->is[2] + w * p->is[3] + c0;
							INFD_VLOOP(m, j, acc[j] += xr[j];);
						}
					float *restrict o = yp + c0;
					INFD_VLOOP(m, j, o[j] = acc[j] / dv;);
				}
			}
}

static void avg_pool_run(const struct pool *p, const struct infd_tensor *in, struct infd_tensor *out)
{
	if (p->is[1] == 1 && p->os[1] == 1 && p->C > 1)
		avg_pool_cl(p, in->data, out->data);
	else
		avg_pool_planes(p, in->data, out->data);
}

infd_status infd__k_avg_pool2d_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	bool ceil_mode;
	struct pool p = {.dil = {1, 1}};
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::avg_pool2d.out", 9)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &in)) || (st = pool_pair(&A, 1, "kernel_size", NULL, 1, p.k)) ||
	    (st = pool_pair(&A, 2, "stride", p.k, 1, p.s)) || (st = pool_pair(&A, 3, "padding", NULL, 0, p.pad)) ||
	    (st = infd__karg_bool(&A, 4, "ceil_mode", &ceil_mode)) ||
	    (st = infd__karg_bool(&A, 5, "count_include_pad", &p.count_pad)))
		return st;
	if (args[6]->kind != INFD_VALUE_NULL) {
		if ((st = infd__karg_int(&A, 6, "divisor_override", &p.divisor)))
			return st;
		if (p.divisor == 0)
			return infd__kfail(&A, INFD_BAD_INPUT, "divisor_override must not be zero");
	}
	if ((st = infd__karg_out(&A, 7, 8, &out)) || (st = pool_input(&A, in, &p)) || (st = need_f32(&A, out, "out")) ||
	    (st = pool_geometry(&A, &p, ceil_mode)) || (st = pool_output(&A, in, &p, out, p.os)))
		return st;
	if (out->numel == 0)
		return INFD_OK;
	if (!pool_windows(&p, true))
		return infd__kfail(&A, INFD_NO_MEMORY, "out of memory");
	avg_pool_run(&p, in, out);
	free(p.hlo);
	return INFD_OK;
}

infd_status infd__k_adaptive_avg_pool2d_out(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	infd_status st;
	const struct infd_tensor *in;
	struct infd_tensor *out;
	int64_t osz[INFD_MAX_RANK];
	int32_t cnt;
	struct pool p = {.count_pad = true, .k = {1, 1}, .s = {1, 1}, .dil = {1, 1}};
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::_adaptive_avg_pool2d.out", 4)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &in)) ||
	    (st = infd__karg_int_list(&A, 1, "output_size", false, osz, INFD_MAX_RANK, &cnt)) ||
	    (st = infd__karg_out(&A, 2, 3, &out)) || (st = pool_input(&A, in, &p)) || (st = need_f32(&A, out, "out")))
		return st;
	if (cnt != 2)
		return infd__kfail(&A, INFD_BAD_INPUT, "output_size must have 2 items, got %d", cnt);
	if (osz[0] < 0 || osz[1] < 0 || osz[0] > INT32_MAX || osz[1] > INT32_MAX)
		return infd__kfail(&A, INFD_BAD_INPUT, "output_size must be non-negative");
	p.OH = osz[0];
	p.OW = osz[1];
	if ((st = pool_output(&A, in, &p, out, p.os)))
		return st;
	if (out->numel == 0)
		return INFD_OK;
	int64_t *w = malloc(3 * (size_t)(p.OH + p.OW) * sizeof *w);
	if (!w)
		return infd__kfail(&A, INFD_NO_MEMORY, "out of memory");
	p.hlo = w;
	p.hhi = p.hlo + p.OH;
	p.hpad = p.hhi + p.OH;
	p.wlo = p.hpad + p.OH;
	p.whi = p.wlo + p.OW;
	p.wpad = p.whi + p.OW;
	/* windows floor(o * I / O) .. ceil((o + 1) * I / O); no interior vector run */
	for (int64_t o = 0; o < p.OH; o++) {
		p.hlo[o] = o * p.H / p.OH;
		p.hhi[o] = ((o + 1) * p.H + p.OH - 1) / p.OH;
		p.hpad[o] = p.hhi[o] - p.hlo[o];
	}
	for (int64_t o = 0; o < p.OW; o++) {
		p.wlo[o] = o * p.W / p.OW;
		p.whi[o] = ((o + 1) * p.W + p.OW - 1) / p.OW;
		p.wpad[o] = p.whi[o] - p.wlo[o];
	}
	p.c0 = p.c1 = p.OW;
	avg_pool_run(&p, in, out);
	free(w);
	return INFD_OK;
}
