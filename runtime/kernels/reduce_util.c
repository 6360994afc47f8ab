/* Argument helpers shared by the reduction-family kernels (reduce.c, softmax.c, norm.c,
 * pool.c); declared in reduce_util.h. */
#include "reduce_util.h"

infd_status infd__reduce_need_aligned(const struct infd_kargs *A, const struct infd_tensor *t, const char *name)
{
	if (!t || !t->data || infd__reduce_aligned_for(t->data, t->dtype))
		return INFD_OK;
	return infd__kfail(A, INFD_BAD_INPUT, "%s data is not aligned to its element size", name);
}

infd_status infd__reduce_wrap_dim(const struct infd_kargs *A, int64_t dim, uint32_t rank, uint32_t *out)
{
	int64_t r = rank ? rank : 1;
	if (dim < -r || dim >= r)
		return infd__kfail(A, INFD_BAD_INPUT,
				   "dim %lld is out of range for a tensor of rank %u (expected %lld..%lld)",
				   (long long)dim, rank, (long long)-r, (long long)(r - 1));
	*out = (uint32_t)(dim < 0 ? dim + r : dim);
	return INFD_OK;
}
