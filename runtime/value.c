/* Tensor layout helpers (strides from dim order, resizing within bounds) and
 * scalar conversions of values. */
#include "value.h"

#include <stdio.h>
#include <string.h>

void infd__tensor_update_layout(struct infd_tensor *t)
{
	uint64_t numel = 1;
	for (uint32_t i = 0; i < t->rank; i++)
		numel *= (uint64_t)t->sizes[i];
	t->numel = numel;
	t->nbytes = numel * infd_dtype_size(t->dtype);
	if (t->rank == 0)
		return;
	/* pte-format §6.5: innermost dim in memory has stride 1; a zero-size dim
	 * passes its stride through unchanged. */
	uint32_t r = t->rank;
	t->strides[t->dim_order[r - 1]] = 1;
	for (int i = (int)r - 2; i >= 0; i--) {
		uint8_t inner = t->dim_order[i + 1];
		int64_t s = t->strides[inner];
		if (t->sizes[inner] != 0)
			s *= t->sizes[inner];
		t->strides[t->dim_order[i]] = s;
	}
}

bool infd__tensor_is_contiguous(const struct infd_tensor *t)
{
	for (uint32_t i = 0; i < t->rank; i++)
		if (t->dim_order[i] != i)
			return false;
	return true;
}

infd_status infd__tensor_resize(struct infd_tensor *t, uint32_t rank, const int32_t *sizes,
				struct infd_error *err)
{
	if (rank > INFD_MAX_RANK)
		return infd__fail(err, INFD_BAD_INPUT, "rank %u exceeds the maximum of %d", rank,
				  INFD_MAX_RANK);
	uint64_t numel = 1, extent = 1;
	for (uint32_t i = 0; i < rank; i++) {
		if (sizes[i] < 0)
			return infd__fail(err, INFD_BAD_INPUT, "negative size %d in dim %u", sizes[i], i);
		numel *= (uint64_t)sizes[i];
		if (sizes[i])
			extent *= (uint64_t)sizes[i];
		if (numel > (UINT64_C(1) << 48) || extent > (UINT64_C(1) << 48))
			return infd__fail(err, INFD_BAD_INPUT, "tensor too large");
	}
	uint64_t nbytes = numel * infd_dtype_size(t->dtype);
	const struct infd_tensor_def *def = t->def;
	if (def && def->dynamism == INFD_SHAPE_STATIC) {
		bool same = rank == def->rank;
		for (uint32_t i = 0; same && i < rank; i++)
			same = sizes[i] == def->sizes[i];
		if (!same)
			return infd__fail(err, INFD_BAD_INPUT, "cannot resize a tensor with a static shape");
	}
	if (def && def->dynamism == INFD_SHAPE_DYNAMIC_BOUND) {
		if (rank != def->rank)
			return infd__fail(err, INFD_BAD_INPUT, "rank %u differs from the bound's rank %u",
					  rank, def->rank);
		for (uint32_t i = 0; i < rank; i++)
			if (sizes[i] > def->sizes[i])
				return infd__fail(err, INFD_BAD_INPUT,
						  "size %d of dim %u exceeds its bound %d", sizes[i], i,
						  def->sizes[i]);
	}
	if (t->capacity && nbytes > t->capacity)
		return infd__fail(err, INFD_BAD_INPUT, "%llu bytes do not fit the %llu planned",
				  (unsigned long long)nbytes, (unsigned long long)t->capacity);
	if (rank != t->rank)
		for (uint32_t i = 0; i < rank; i++)
			t->dim_order[i] = (uint8_t)i;
	t->rank = (uint8_t)rank;
	memcpy(t->sizes, sizes, rank * sizeof sizes[0]);
	infd__tensor_update_layout(t);
	return INFD_OK;
}

char *infd__tensor_describe(const struct infd_tensor *t, char *buf, size_t n)
{
	size_t used = (size_t)snprintf(buf, n, "%s[", infd_dtype_name(t->dtype));
	for (uint32_t i = 0; i < t->rank && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%d", i ? "," : "", t->sizes[i]);
	if (used < n)
		snprintf(buf + used, n - used, "]");
	return buf;
}

bool infd__evalue_to_double(const struct infd_evalue *v, double *out)
{
	switch (v->kind) {
	case INFD_VALUE_INT:
		*out = (double)v->u.i;
		return true;
	case INFD_VALUE_DOUBLE:
		*out = v->u.d;
		return true;
	case INFD_VALUE_BOOL:
		*out = v->u.b ? 1.0 : 0.0;
		return true;
	default:
		return false;
	}
}

bool infd__evalue_to_int(const struct infd_evalue *v, int64_t *out)
{
	switch (v->kind) {
	case INFD_VALUE_INT:
		*out = v->u.i;
		return true;
	case INFD_VALUE_BOOL:
		*out = v->u.b;
		return true;
	case INFD_VALUE_DOUBLE:
		*out = (int64_t)v->u.d;
		return true;
	default:
		return false;
	}
}
