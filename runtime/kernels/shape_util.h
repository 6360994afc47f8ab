/* Helpers shared by the shape kernels (shape_copy.c, shape_join.c, shape_create.c,
 * shape_gather.c, prims.c), defined in shape_util.c: argument and dtype checks, dim
 * wrapping, aliasing checks, dim orders, view sizes and scalar fills. */
#ifndef INFD_RUNTIME_KERNELS_SHAPE_UTIL_H
#define INFD_RUNTIME_KERNELS_SHAPE_UTIL_H

#include "util.h"

/* Messages: `v` (count items) as "[a, b, c]", and t's sizes the same way, in buf
 * (n bytes, truncated). Return buf. */
const char *infd__shape_fmt_ints(char *buf, size_t n, const int64_t *v, uint32_t count);
const char *infd__shape_fmt_shape(char *buf, size_t n, const struct infd_tensor *t);

/* PyTorch's maybe_wrap_dim: dim in [-rank, rank-1], a rank-0 tensor counting as
 * rank 1. `name` is the argument's name in messages. */
infd_status infd__shape_wrap_dim(const struct infd_kargs *A, int64_t dim, uint32_t rank, const char *name,
				 uint32_t *out);

/* A size `v` of `what` (a name in messages) that a tensor dim can have:
 * 0..INT32_MAX. */
infd_status infd__shape_check_size(const struct infd_kargs *A, int64_t v, const char *what);

/* Copying between these dtypes: the same dtype moves bytes (any dtype), other
 * pairs convert like Tensor.copy_ (numeric dtypes only). */
infd_status infd__shape_check_copy(const struct infd_kargs *A, int sdt, int ddt);

/* out has a's dtype (a valid one). */
infd_status infd__shape_check_same_dtype(const struct infd_kargs *A, const struct infd_tensor *a,
					 const struct infd_tensor *out);

/* Byte ranges of two tensors overlap (an out that aliases its input). */
bool infd__shape_overlaps(const struct infd_tensor *a, const struct infd_tensor *b);

/* Refuse an out that overlaps an input (results would depend on the order of the
 * copy); with identity_ok, an out that is exactly the input with its layout is
 * fine. */
infd_status infd__shape_check_overlap(const struct infd_kargs *A, const struct infd_tensor *in,
				      const struct infd_tensor *out, bool identity_ok);

/* Memory format argument (`MemoryFormat?`) at i: None, or contiguous / preserve /
 * channels_last / channels_last_3d. The out tensor's own dim order is what the
 * kernels write; the program's planner has already settled it. */
infd_status infd__shape_karg_memory_format(const struct infd_kargs *A, uint32_t i);

/* Optional dim order argument at i: a permutation of 0..rank-1 copied into
 * `order` (room for INFD_MAX_RANK); *count = -1 for None. */
infd_status infd__shape_karg_dim_order(const struct infd_kargs *A, uint32_t i, uint32_t rank,
				       int64_t *order, int32_t *count);

/* The out tensor must be laid out as `order` asks (dims of size 1 aside); count
 * < 0 (no dim order given) accepts any layout. */
infd_status infd__shape_check_dim_order(const struct infd_kargs *A, const struct infd_tensor *out,
					const int64_t *order, int32_t count);

/* Shared start of the [self, ..., out, ret] kernels: `want` arguments, self at 0,
 * out at want-2 with its return slot at want-1. */
infd_status infd__shape_begin_unary(struct infd_kargs *A, struct infd_kernel_ctx *ctx,
				    struct infd_evalue **args, uint32_t n, const char *op, int32_t want,
				    const struct infd_tensor **self, struct infd_tensor **out);

/* PyTorch's infer_size for a reshape of `numel` elements into `in` (n sizes): one
 * -1 allowed, the rest non-negative. The sizes go to `out`. */
infd_status infd__shape_infer_size(const struct infd_kargs *A, const int64_t *in, int32_t n,
				   uint64_t numel, int32_t *out);

/* out[...] = s, after PyTorch's overflow check (a value the dtype cannot hold is an
 * error, except that a negative integer may wrap into an unsigned type and that
 * anything converts to bool). out is already resized. */
infd_status infd__shape_fill_scalar(const struct infd_kargs *A, struct infd_tensor *out,
				    const struct infd_scalar *s);

#endif
