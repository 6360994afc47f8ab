/* A compact, bounds-checked reader for bundled programs (.bpte, flatbuffer
 * identifier BP08, pte-format.md §7), used by `infctl verify`: the embedded
 * program bytes and, per method, test cases of inputs and expected outputs.
 * Independent of the runtime (infctl only links libinfd). */
#ifndef INFD_CLIENT_BUNDLE_H
#define INFD_CLIENT_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infd/dtype.h>
#include <infd/status.h>

/* ValueUnion tags of the bundled schema. */
enum infctl__bundle_kind {
	INFCTL_BUNDLE_NONE = 0,
	INFCTL_BUNDLE_TENSOR = 1,
	INFCTL_BUNDLE_INT = 2,
	INFCTL_BUNDLE_BOOL = 3,
	INFCTL_BUNDLE_DOUBLE = 4,
};

struct infctl__bundle_value {
	int kind; /* enum infctl__bundle_kind */
	/* tensors: dtype, shape, raw element bytes (pointing into the file) */
	int dtype;
	uint32_t rank;
	int64_t shape[INFD_MAX_RANK];
	bool contiguous; /* dim_order absent or 0, 1, ..., rank-1 */
	const uint8_t *data;
	size_t nbytes;
	/* scalars */
	int64_t i;
	bool b;
	double d;
};

struct infctl__bundle_case {
	uint32_t n_inputs, n_outputs;
	struct infctl__bundle_value *inputs, *outputs;
};

struct infctl__bundle_suite {
	const char *method; /* points into the file (NUL-terminated there) */
	uint32_t n_cases;
	struct infctl__bundle_case *cases;
};

struct infctl__bundle {
	uint32_t version;
	const uint8_t *program; /* the embedded .pte, inside the file buffer */
	size_t program_size;
	uint32_t n_suites;
	struct infctl__bundle_suite *suites;
	uint8_t *owned; /* the file, when read by infctl__bundle_load */
};

/* Decode a bundle from buf[0..size) (borrowed: must outlive the result; 4-byte
 * alignment is not required). On failure returns INFD_BAD_FORMAT (or
 * INFD_NO_MEMORY) with why[] naming what was wrong and where. */
infd_status infctl__bundle_read(const uint8_t *buf, size_t size, struct infctl__bundle **out, char *why,
				size_t why_size);

/* Read and decode a file (INFD_IO when it cannot be read). */
infd_status infctl__bundle_load(const char *path, struct infctl__bundle **out, char *why, size_t why_size);

void infctl__bundle_free(struct infctl__bundle *b);

/* The suite of `method`, or NULL. */
const struct infctl__bundle_suite *infctl__bundle_suite(const struct infctl__bundle *b, const char *method);

/* Compare `nbytes` of actual vs expected elements of `dtype`: floating types with
 * |a - b| <= atol + rtol * |b| (NaN equals NaN, equal infinities are equal), others
 * exactly. Returns true when all match; otherwise *bad_index is the first
 * mismatching element. *max_err receives the largest |a - b| over finite pairs. */
bool infctl__bundle_compare(int dtype, const void *actual, const void *expected, size_t nbytes, double rtol,
			    double atol, size_t *bad_index, double *max_err);

/* Element k of a tensor of `dtype` as a double (float16/bfloat16 converted);
 * NaN for dtypes that are not numbers. */
double infctl__element(int dtype, const void *data, size_t k);

#endif
