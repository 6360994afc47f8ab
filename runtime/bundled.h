/* Bundled programs (.bpte, identifier BP08): a whole .pte plus test inputs and
 * expected outputs per method. The reader verifies the container like the .pte
 * reader does; the verifier runs every test case and compares the outputs. */
#ifndef INFD_RUNTIME_BUNDLED_H
#define INFD_RUNTIME_BUNDLED_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "pool.h"
#include "program.h"
#include "value.h"

struct infd_runtime;

struct infd_bundled_value {
	uint8_t kind; /* INFD_VALUE_TENSOR, _INT, _BOOL or _DOUBLE */
	int8_t dtype;
	uint8_t rank;
	int32_t sizes[INFD_MAX_RANK];
	uint8_t dim_order[INFD_MAX_RANK];
	const uint8_t *data; /* tensor bytes inside the file */
	uint64_t nbytes;
	int64_t i;
	bool b;
	double d;
};

struct infd_bundled_case {
	uint32_t n_inputs, n_expected;
	struct infd_bundled_value *inputs, *expected;
};

struct infd_bundled_suite {
	const char *method;
	uint32_t n_cases;
	struct infd_bundled_case *cases;
};

struct infd_bundled {
	const uint8_t *data;
	size_t size;
	void *map;
	size_t map_size;
	uint32_t version;
	const uint8_t *program; /* the embedded .pte */
	uint64_t program_size;
	uint32_t n_suites;
	struct infd_bundled_suite *suites;
	struct infd_pool pool;
};

/* True when the bytes look like a bundled program (identifier BP08). */
bool infd__is_bundled(const uint8_t *data, size_t size);

/* Decode `data` (borrowed, must outlive the result). */
infd_status infd__bundled_parse(const uint8_t *data, size_t size, struct infd_bundled **out,
				struct infd_error *err);
infd_status infd__bundled_open_file(const char *path, struct infd_bundled **out, struct infd_error *err);
void infd__bundled_close(struct infd_bundled *b);

/* Outcome of one test case. */
struct infd_bundled_result {
	const char *method;
	uint32_t case_index;
	infd_status status;   /* OK, MISMATCH, or the load/run error */
	double max_abs_error; /* over all compared elements */
	char msg[INFD_ERROR_MSG_MAX];
};

typedef void (*infd_bundled_report_fn)(void *ud, const struct infd_bundled_result *r);

/* Load the embedded program, run every test case of every suite on `rt` and
 * compare outputs: floats within |a-b| <= atol + rtol*|b| (NaN equals NaN),
 * everything else exactly; dtypes and shapes must match. `report` (may be NULL)
 * hears about each case. Returns OK when the program loads, with the number of
 * failing cases in *n_failed. */
infd_status infd__bundled_verify(struct infd_runtime *rt, const struct infd_bundled *b, double rtol, double atol,
				 infd_bundled_report_fn report, void *ud, uint32_t *n_failed, struct infd_error *err);

/* Compare one output value against an expected one; fills *max_abs_error and a
 * message naming the first differing element on mismatch. */
infd_status infd__bundled_compare(const struct infd_evalue *got, const struct infd_bundled_value *want, double rtol,
				  double atol, double *max_abs_error, char *msg, size_t msg_size);

#endif
