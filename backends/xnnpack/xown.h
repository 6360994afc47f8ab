/* The XNNPACK backend's own kernels (xown.c): the graph nodes that Debian's
 * 2022 XNNPACK cannot run (transpose, batch matmul, gelu, tanh, exp, log,
 * sin, cos, rsqrt, layer norm, slice, concatenate, copy and convert), and
 * fallbacks for shapes it refuses (1x1 pooling, PReLU off 4-d), and GEMM-shaped
 * nodes of shapes where the runtime's SGEMM beats this XNNPACK. They work on
 * contiguous fp32 / int32 data of a validated graph and honour the node's
 * fused clamp. */
#ifndef INFD_BACKENDS_XNNPACK_XOWN_H
#define INFD_BACKENDS_XNNPACK_XOWN_H

#include <stdbool.h>
#include <stddef.h>

#include "backends/xnnpack/xgraph.h"

/* Does our own code implement this node kind? */
bool infd__xown_has(enum infd_xop op);

/* Scratch bytes infd__xown_run needs for node `n` with a pool of `threads`
 * threads (64-byte aligned memory). */
size_t infd__xown_scratch_bytes(const struct infd_xgraph *g, const struct infd_xnode *n, size_t threads);

/* Run node `n` of validated graph `g`. data[v] is the memory of value v
 * (dense, row-major; inputs read, the output written, never overlapping).
 * `pool` is a pthreadpool_t or NULL; any thread, one call per scratch. */
void infd__xown_run(const struct infd_xgraph *g, const struct infd_xnode *n, void *const *data, void *scratch,
		    void *pool);

/* ---- GEMM-shaped nodes on the runtime's SGEMM (runtime/kernels/gemm.h) ----
 * Fully connected (either filter layout) and 1x1, stride 1, unpadded, ungrouped
 * NHWC convolution are one GEMM, [rows, IC] x [OC, IC]ᵀ + bias, then the fused
 * clamp. Results do not depend on the thread count. */

/* Should our SGEMM run node `n` of validated graph `g` instead of XNNPACK? A
 * rule on its shape (K and N large enough, not a matrix-vector product),
 * measured on this XNNPACK; false for nodes that are not GEMM-shaped. */
bool infd__xown_gemm_wins(const struct infd_xgraph *g, const struct infd_xnode *n);

/* The rule alone, for a GEMM of m rows, depth k and n columns (bench_xnnpack
 * uses it to say how much of a network runs on the SGEMM). */
bool infd__xown_gemm_shape_wins(uint64_t m, uint64_t k, uint64_t n);

/* A node prepared for the SGEMM: its filter laid out once as the SGEMM reads it
 * fastest. */
struct infd_xgemm;

/* Prepare node `n` (one for which infd__xown_gemm_wins holds) at compile. `g`
 * and `n` are borrowed and must outlive *out (the filter is read in place when
 * it is already [OC, IC]). Free with infd__xown_gemm_free. */
infd_status infd__xown_gemm_prepare(const struct infd_xgraph *g, const struct infd_xnode *n, struct infd_xgemm **out,
				    struct infd_error *err);

/* Scratch bytes infd__xown_gemm_run needs (64-byte aligned memory). */
size_t infd__xown_gemm_scratch_bytes(const struct infd_xgemm *x);

/* Run the node: data[v] as for infd__xown_run; `pool` a pthreadpool_t or NULL. */
void infd__xown_gemm_run(const struct infd_xgemm *x, void *const *data, void *scratch, void *pool);

/* NULL does nothing. */
void infd__xown_gemm_free(struct infd_xgemm *x);

#endif
