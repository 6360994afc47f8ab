/* Run-time values of a loaded method: tensors with their data pointers and the
 * tagged values ("EValues") that instructions take as arguments. */
#ifndef INFD_RUNTIME_VALUE_H
#define INFD_RUNTIME_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "program.h"

struct infd_tensor {
	void *data;          /* NULL until bound (unplanned tensors) */
	int8_t dtype;
	uint8_t rank;
	bool is_const;       /* points into the program file: never written */
	int32_t sizes[INFD_MAX_RANK];
	uint8_t dim_order[INFD_MAX_RANK];
	int64_t strides[INFD_MAX_RANK]; /* in elements, derived from sizes and dim_order */
	uint64_t numel;
	uint64_t nbytes;     /* numel * element size */
	uint64_t capacity;   /* bytes available at data (planned size); 0 = unknown */
	const struct infd_tensor_def *def;
};

struct infd_evalue {
	uint8_t kind; /* enum infd_value_kind */
	union {
		int64_t i;
		bool b;
		double d;
		struct infd_tensor *t;
		struct {
			const char *ptr;
			uint32_t len;
		} str;
		/* INT_LIST: items are INT values (re-read at every use);
		 * TENSOR_LIST / OPT_TENSOR_LIST: items are TENSOR values, NULL = None. */
		struct {
			uint32_t count;
			struct infd_evalue **items;
		} list;
		struct {
			uint32_t count;
			const double *v;
		} dlist;
		struct {
			uint32_t count;
			const bool *v;
		} blist;
	} u;
};

/* Recompute strides, numel and nbytes from sizes/rank/dim_order/dtype. */
void infd__tensor_update_layout(struct infd_tensor *t);

/* True when the dim order is 0,1,...,rank-1. */
bool infd__tensor_is_contiguous(const struct infd_tensor *t);

/* Set a new shape (same rank or different) and recompute the layout. Fails with
 * INFD_BAD_INPUT when the new byte size exceeds the tensor's capacity (when known)
 * or its definition's bound for static tensors. */
infd_status infd__tensor_resize(struct infd_tensor *t, uint32_t rank, const int32_t *sizes,
				struct infd_error *err);

/* Format "float32[2,3]" into buf. Returns buf. */
char *infd__tensor_describe(const struct infd_tensor *t, char *buf, size_t n);

/* Scalar value of an INT, DOUBLE or BOOL evalue as double / int64. Return false
 * when the value is not a scalar. */
bool infd__evalue_to_double(const struct infd_evalue *v, double *out);
bool infd__evalue_to_int(const struct infd_evalue *v, int64_t *out);

#endif
