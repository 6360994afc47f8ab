/* Helpers shared by the reduction-family kernels (reduce.c, softmax.c, norm.c, pool.c):
 * dtype shorthands, the lane block, dense-row folds written to vectorize (inlined into
 * their callers), and argument checks defined in reduce_util.c. */
#ifndef INFD_RUNTIME_KERNELS_REDUCE_UTIL_H
#define INFD_RUNTIME_KERNELS_REDUCE_UTIL_H

#include "util.h"

#define F32 INFD_DTYPE_FLOAT32
#define F64 INFD_DTYPE_FLOAT64
#define I64 INFD_DTYPE_INT64

/* Lanes processed together: stack buffers of accumulators hold this many. */
#define BLK 256

/* A typed load through a byte pointer; max and min where a NaN x wins (F*) or of
 * integers (I*). */
#define LD(T, p)   (*(const T *)(const void *)(p))
#define FMAX(a, x) (((x) > (a)) | ((x) != (x)) ? (x) : (a))
#define FMIN(a, x) (((x) < (a)) | ((x) != (x)) ? (x) : (a))
#define IMAX(a, x) ((x) > (a) ? (x) : (a))
#define IMIN(a, x) ((x) < (a) ? (x) : (a))

/* ---- Arguments ---------------------------------------------------------------- */

/* True when p is aligned to the element size of dtype. */
static inline bool infd__reduce_aligned_for(const void *p, int dtype)
{
	return ((uintptr_t)p & (infd_dtype_size(dtype) - 1)) == 0;
}

/* Typed loops dereference element pointers: refuse data that is not aligned to its
 * element size (planned memory always is). */
infd_status infd__reduce_need_aligned(const struct infd_kargs *A, const struct infd_tensor *t, const char *name);

/* Wrap a dim index like PyTorch (dim + rank when negative); a rank-0 tensor takes
 * 0 and -1. */
infd_status infd__reduce_wrap_dim(const struct infd_kargs *A, int64_t dim, uint32_t rank, uint32_t *out);

/* ---- Dense-row folds ---------------------------------------------------------- */

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

/* Max and min of a dense row, starting from a; floating NaN wins (PyTorch propagates it). */
#define MINMAX_DENSE(S, T, OP)                                        \
	static inline T S##_dense(T a, const T *restrict x, size_t n) \
	{                                                             \
		T l[16];                                              \
		for (size_t k = 0; k < 16; k++)                       \
			l[k] = a;                                     \
		size_t i = 0;                                         \
		for (; i + 16 <= n; i += 16)                          \
			for (size_t k = 0; k < 16; k++)               \
				l[k] = OP(l[k], x[i + k]);            \
		for (; i < n; i++)                                    \
			a = OP(a, x[i]);                              \
		for (size_t k = 0; k < 16; k++)                       \
			a = OP(a, l[k]);                              \
		return a;                                             \
	}
MINMAX_DENSE(max_f32, float, FMAX)
MINMAX_DENSE(min_f32, float, FMIN)
MINMAX_DENSE(max_f64, double, FMAX)
MINMAX_DENSE(min_f64, double, FMIN)
MINMAX_DENSE(max_i64, int64_t, IMAX)
MINMAX_DENSE(min_i64, int64_t, IMIN)

/* Squared deviations of a dense row from mu: the second pass of var, and of the
 * moments of the norms. */
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

#endif
