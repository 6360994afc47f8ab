/* Writers for ExecuTorch programs (.pte, in pte_writer.c) and bundled programs
 * (.bpte, in bpte_writer.c). Tests, benchmarks and the build's sample-model
 * generator use them to build programs: values, memory-planned tensors,
 * constants (in a constant segment behind an `eh00` header, or in the legacy
 * inline constant_buffer), several methods, delegate payloads (inline or in
 * segments) and mutable data. What they write is what ExecuTorch accepts
 * (pte-format.md §3.7): the readers in program.h and bundled.h read it back. */
#ifndef INFD_RUNTIME_PTE_WRITER_H
#define INFD_RUNTIME_PTE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct infd_pte_writer;
struct infd_pte_method;

struct infd_pte_writer_options {
	bool legacy_inline_constants; /* constants in Program.constant_buffer (no segment) */
	bool inline_delegates;        /* delegate payloads in backend_delegate_data */
	uint32_t segment_alignment;   /* default 128 */
	uint32_t tensor_alignment;    /* constant alignment inside the segment; default 16 */
};

void infd__pte_writer_options_default(struct infd_pte_writer_options *opt);

/* opt may be NULL for defaults. Returns NULL when out of memory. */
struct infd_pte_writer *infd__pte_writer_create(const struct infd_pte_writer_options *opt);
void infd__pte_writer_destroy(struct infd_pte_writer *w);

/* Add constant bytes (copied); returns the constant buffer index (>= 1). */
uint32_t infd__pte_constant(struct infd_pte_writer *w, const void *data, size_t size);

/* Add a mutable-data blob (copied; initial value of a planned tensor); returns its
 * index (>= 1) in mutable_data_segments[0]. */
uint32_t infd__pte_mutable(struct infd_pte_writer *w, const void *data, size_t size);

/* Start a new method (execution plan). The method belongs to the writer. */
struct infd_pte_method *infd__pte_method(struct infd_pte_writer *w, const char *name);

/* Values. Each returns the new value's index in the method's value table. */
int32_t infd__pte_null(struct infd_pte_method *m);
int32_t infd__pte_int(struct infd_pte_method *m, int64_t v);
int32_t infd__pte_bool(struct infd_pte_method *m, bool v);
int32_t infd__pte_double(struct infd_pte_method *m, double v);
int32_t infd__pte_string(struct infd_pte_method *m, const char *s);
/* IntList of literal integers: adds one Int value per item, then the list (boxed). */
int32_t infd__pte_int_list(struct infd_pte_method *m, uint32_t n, const int64_t *items);
int32_t infd__pte_double_list(struct infd_pte_method *m, uint32_t n, const double *items);
int32_t infd__pte_bool_list(struct infd_pte_method *m, uint32_t n, const bool *items);
/* Lists of existing value indices (-1 = None for the optional form). */
int32_t infd__pte_tensor_list(struct infd_pte_method *m, uint32_t n, const int32_t *values);
int32_t infd__pte_opt_tensor_list(struct infd_pte_method *m, uint32_t n, const int32_t *values);

struct infd_pte_tensor {
	int dtype;
	uint32_t rank;
	const int32_t *sizes;
	const uint8_t *dim_order; /* NULL = contiguous */
	int dynamism;             /* enum infd_dynamism */
	uint32_t constant;        /* constant index from infd__pte_constant, or 0 */
	uint32_t mutable_data;    /* mutable-data index (planned tensors only), or 0 */
	uint32_t memory_id;       /* 0 = not planned */
	uint64_t memory_offset;
	const char *fqn;          /* optional fully qualified name */
};

/* A tensor value described by `t`. */
int32_t infd__pte_tensor(struct infd_pte_method *m, const struct infd_pte_tensor *t);

/* Convenience: a contiguous tensor planned automatically in arena 1 (memory_id
 * 1) at the next 16-byte-aligned offset; the arena grows to fit. */
int32_t infd__pte_planned(struct infd_pte_method *m, int dtype, uint32_t rank, const int32_t *sizes);

/* Convenience: a contiguous constant tensor whose bytes are copied in. */
int32_t infd__pte_const_tensor(struct infd_pte_method *m, int dtype, uint32_t rank, const int32_t *sizes,
			       const void *data);

/* Declare the size of arena `memory_id` (1-based) explicitly; arenas that
 * infd__pte_planned grows are sized automatically. */
void infd__pte_arena(struct infd_pte_method *m, uint32_t memory_id, uint64_t size);

void infd__pte_inputs(struct infd_pte_method *m, uint32_t n, const int32_t *values);
void infd__pte_outputs(struct infd_pte_method *m, uint32_t n, const int32_t *values);

/* Operator table entry (deduplicated); overload "" = none. Returns its index. */
int32_t infd__pte_operator(struct infd_pte_method *m, const char *name, const char *overload);

struct infd_pte_compile_spec {
	const char *key;
	const void *value;
	size_t size;
};

/* Delegate (payload copied; identical payloads are stored once). Returns its index. */
int32_t infd__pte_delegate(struct infd_pte_method *m, const char *id, const void *payload, size_t size,
			   uint32_t n_specs, const struct infd_pte_compile_spec *specs);

/* Instructions, appended to the method's single chain. Each returns the
 * instruction's index in the chain. */
int32_t infd__pte_kernel_call(struct infd_pte_method *m, int32_t op, uint32_t n_args, const int32_t *args);
/* Shorthand: operator by name + kernel call. */
int32_t infd__pte_call(struct infd_pte_method *m, const char *name, const char *overload, uint32_t n_args,
		       const int32_t *args);
int32_t infd__pte_delegate_call(struct infd_pte_method *m, int32_t delegate, uint32_t n_args,
				const int32_t *args);
int32_t infd__pte_move(struct infd_pte_method *m, int32_t from, int32_t to);
int32_t infd__pte_jump_false(struct infd_pte_method *m, int32_t cond_value, int32_t destination);
int32_t infd__pte_free(struct infd_pte_method *m, int32_t value);

/* Serialize. On success *out is a malloc'd buffer of *size bytes (caller frees).
 * Fails with INFD_INVALID_ARGUMENT when something added was invalid (the first
 * such mistake is reported), or INFD_NO_MEMORY. */
infd_status infd__pte_writer_finish(struct infd_pte_writer *w, uint8_t **out, size_t *size,
				    struct infd_error *err);

/* Write the result of finish to a file. */
infd_status infd__pte_writer_save(struct infd_pte_writer *w, const char *path, struct infd_error *err);

/* Bundled programs (.bpte, pte-format.md §7): a finished .pte plus test cases
 * (inputs and expected outputs) per method. */
struct infd_bpte_writer;

/* Kinds of bundled values (the bundled schema's ValueUnion tags). */
enum infd_bpte_kind { INFD_BPTE_TENSOR = 1, INFD_BPTE_INT = 2, INFD_BPTE_BOOL = 3, INFD_BPTE_DOUBLE = 4 };

struct infd_bpte_value {
	int kind; /* enum infd_bpte_kind */
	/* INFD_BPTE_TENSOR: `nbytes` must equal numel x element size */
	int dtype;
	uint32_t rank;
	const int32_t *sizes;
	const uint8_t *dim_order; /* NULL = contiguous */
	const void *data;
	size_t nbytes;
	/* scalars */
	int64_t i;
	bool b;
	double d;
};

/* Start a bundled program around the program bytes `pte` (copied). Returns NULL
 * when out of memory. */
struct infd_bpte_writer *infd__bpte_writer_create(const uint8_t *pte, size_t size);
void infd__bpte_writer_destroy(struct infd_bpte_writer *w);

/* Add a test case for `method` (everything copied). Cases of one method form one
 * test suite; suites appear in order of their first case. Mistakes are recorded
 * and reported by finish. */
void infd__bpte_test_case(struct infd_bpte_writer *w, const char *method, uint32_t n_inputs,
			  const struct infd_bpte_value *inputs, uint32_t n_outputs,
			  const struct infd_bpte_value *expected);

/* Serialize (BundledProgram version 2, identifier BP08). On success *out is a
 * malloc'd buffer of *size bytes (caller frees). */
infd_status infd__bpte_writer_finish(struct infd_bpte_writer *w, uint8_t **out, size_t *size, struct infd_error *err);

/* ---- Internal to the two writers: input helpers pte_writer.c shares with
 * bpte_writer.c. Mistakes go to a writer's first-error record `e`. ---- */

/* Record a mistake in `e` unless one is recorded already (the first one wins). */
void infd__pte_note(struct infd_error *e, infd_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Double the capacity of the array *arr of *cap elements of `elem` bytes (8 when
 * empty); false (noted in `e`) when out of memory, *arr unchanged. */
bool infd__pte_grow(struct infd_error *e, void **arr, uint32_t *cap, size_t elem);

/* Pointer to a new zeroed element at the end of arr[n], or NULL (error noted). */
#define INFD_PTE_PUSH(e, arr, n, cap)                                                 \
	(((n) < (cap) || infd__pte_grow((e), (void **)&(arr), &(cap), sizeof *(arr))) \
	     ? memset(&(arr)[(n)++], 0, sizeof *(arr))                                \
	     : NULL)

/* A malloc'd copy (the caller frees it) of p[0..n), at least one byte long, or
 * of the string s; NULL (noted) when out of memory. */
void *infd__pte_dup(struct infd_error *e, const void *p, size_t n);
char *infd__pte_strdup(struct infd_error *e, const char *s);

/* Element count x element size of a tensor shape into *nbytes; false (noted,
 * with `what` naming the tensor) when the dtype, rank or a size is invalid. */
bool infd__pte_shape_bytes(struct infd_error *e, const char *what, int dtype, uint32_t rank, const int32_t *sizes,
			   uint64_t *nbytes);

/* Copy a dim order (`in` NULL = contiguous) into out[0..rank); false (noted)
 * when it is not a permutation of 0..rank-1. */
bool infd__pte_dim_order(struct infd_error *e, const char *what, uint32_t rank, const uint8_t *in, uint8_t *out);

#endif
