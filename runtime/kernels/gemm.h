/* The float32 SGEMM engine of the matrix-product and convolution kernels (gemm.c),
 * used by linalg.c and conv.c: the problem description, one-GEMM and many-GEMM
 * runners, and the float32 operand helpers both kernel files share. */
#ifndef INFD_RUNTIME_KERNELS_GEMM_H
#define INFD_RUNTIME_KERNELS_GEMM_H

#include "util.h"

#include <pthreadpool.h>
#include <string.h>

/* C[m,n] = alpha * sum_k A[m,k] B[k,n] + beta * bias[m,n]. Both operands are
 * described as "lane views": A's lanes are the rows of C, B's lanes the columns,
 * and element (lane, k) is at p[lane*ls + k*ks] -- or comes from an im2col view
 * of a convolution input.
 *
 * Every output element is summed in the same order whatever the thread count:
 * threads split M and N, never K. */

/* Geometry of a 2-d convolution (1-d runs as H = 1). */
struct conv_geom {
	int64_t n, c_in, h, w, c_out, oh, ow;
	int64_t kh, kw, sh, sw, ph, pw, dh, dw;
	int64_t groups;
};

/* A convolution input seen as a matrix: lane p = output position (oh*OW + ow),
 * k = (ci, kh, kw) of one group. */
struct im2col {
	const struct conv_geom *g;
	const float *in; /* first channel of the group, in one image */
	ptrdiff_t sc, sh, sw;
	bool hwc; /* k runs over (kh, kw, ci), ci fastest, instead of (ci, kh, kw) */
	/* per kernel row / column: the output rows / columns [lo, hi) whose input
	 * element lies inside the image */
	const int32_t *oh_lo, *oh_hi, *ow_lo, *ow_hi;
};

struct gemm_op {
	const float *p;
	ptrdiff_t ls, ks;
	const struct im2col *conv; /* non-NULL: lanes are output positions of this conv */
};

struct gemm {
	size_t m, n, k;
	struct gemm_op a, b;
	float *c;
	ptrdiff_t crs, ccs;
	const float *bias; /* NULL: none */
	ptrdiff_t brs, bcs;
	float alpha, beta;
};

/* Small helpers of the SGEMM and convolution loops. */
static inline size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

static inline size_t round_up(size_t x, size_t m)
{
	return (x + m - 1) / m * m;
}

static inline void zero_f(float *p, size_t n)
{
	if (n)
		memset(p, 0, n * sizeof *p);
}

/* Eight floats as one GCC vector (AVX in the avx2 clones, two SSE halves otherwise). */
typedef float v8f __attribute__((vector_size(32)));

/* Unaligned load / store of eight floats (macros: no vector-ABI function calls). */
#define load8(p) __extension__({ v8f v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store8(p, v) __extension__({ v8f v_ = (v); memcpy((p), &v_, sizeof v_); })

/* ---- Running GEMMs ---------------------------------------------------------- */

/* Scratch floats infd__gemm_run needs for a problem of this size. */
size_t infd__gemm_ws_floats(size_t m, size_t n, size_t k);

/* Run one GEMM with `ws` of infd__gemm_ws_floats() floats. The result does not
 * depend on `pool` (NULL: this thread only). */
void infd__gemm_run(const struct gemm *g, float *ws, pthreadpool_t pool);

/* Fill GEMM number idx; a convolution operand may point to *ic. */
typedef void (*gemm_item_fn)(const void *user, size_t idx, struct gemm *g, struct im2col *ic);

/* Run `count` GEMMs of the same shape, made by `make`, on A's thread pool. Small
 * ones run side by side on the pool (one serial GEMM per task), large ones one
 * after the other, each spread over the pool; either way each GEMM computes the
 * same numbers. Fails only when scratch memory cannot be had. */
infd_status infd__gemm_run_batch(const struct infd_kargs *A, size_t count, gemm_item_fn make,
				 const void *user);

/* ---- Float32 operands ------------------------------------------------------ */

/* t as "float32[2,3]" for messages, in buf (n bytes). */
static inline const char *describe(const struct infd_tensor *t, char *buf, size_t n)
{
	return infd__tensor_describe(t, buf, n);
}

/* A failure naming `name` unless t is float32. */
infd_status infd__gemm_need_f32(const struct infd_kargs *A, const struct infd_tensor *t,
				const char *name);

/* True when the memory of a and b intersects (either may be NULL). */
bool infd__gemm_overlaps(const struct infd_tensor *a, const struct infd_tensor *b);

/* One element stride that walks dims [d0, d1) of t as a single row-major dim
 * (size-1 dims do not matter), or false when their memory is not that regular. */
bool infd__gemm_flat_stride(const struct infd_tensor *t, uint32_t d0, uint32_t d1, ptrdiff_t *stride);

/* Per-call scratch of `floats` floats, 64-byte aligned; freed with free(). */
infd_status infd__gemm_scratch(const struct infd_kargs *A, size_t floats, float **out);

/* Copy the elements of a float32 tensor laid out like `src` at `sdata` into the
 * layout of `dst` at `ddata` (same sizes). */
void infd__gemm_copy_layout(const struct infd_tensor *dst, void *ddata, const struct infd_tensor *src,
			    const void *sdata);

/* The same sizes with the contiguous (row-major) layout. */
struct infd_tensor infd__gemm_contiguous_like(const struct infd_tensor *t);

#endif
