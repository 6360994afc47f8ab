/* The XNNPACK backend's own kernels (xown.c): the graph nodes that Debian's
 * 2022 XNNPACK cannot run (transpose, batch matmul, gelu, tanh, exp, log,
 * sin, cos, rsqrt, layer norm, slice, concatenate, copy and convert), and
 * fallbacks for shapes it refuses (1x1 pooling, PReLU off 4-d). They work on
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

#endif
