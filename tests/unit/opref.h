/* Shared helpers for the operator tests: build tensors and values, fill them
 * with random data, call a kernel through the registry, compare with a
 * reference. Everything allocated here is freed by op_teardown(). */
#ifndef INFD_TESTS_OPREF_H
#define INFD_TESTS_OPREF_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/kernel.h"
#include "runtime/value.h"

enum {
	U8 = INFD_DTYPE_UINT8,
	I8 = INFD_DTYPE_INT8,
	I16 = INFD_DTYPE_INT16,
	I32 = INFD_DTYPE_INT32,
	I64 = INFD_DTYPE_INT64,
	F16 = INFD_DTYPE_FLOAT16,
	F32 = INFD_DTYPE_FLOAT32,
	F64 = INFD_DTYPE_FLOAT64,
	B = INFD_DTYPE_BOOL,
	BF16 = INFD_DTYPE_BFLOAT16,
};

/* Registry with every portable kernel, and the error the last call filled. */
extern struct infd_kernel_registry *op_reg;
extern struct infd_error op_err;

/* Criterion .init/.fini for suites that use these helpers. */
void op_setup(void);
void op_teardown(void);

/* Remember p (malloc'd) to free it at teardown; returns p. */
void *op_track(void *p);

/* SHAPE(2, 3) expands to "rank, sizes" arguments. */
#define SHAPE(...) (uint32_t)(sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)), ((const int32_t[]){__VA_ARGS__})
#define SCALAR_SHAPE 0, NULL

/* A contiguous zeroed tensor (capacity = its bytes, or cap_elems elements if larger). */
struct infd_tensor *op_tensor(int dtype, uint32_t rank, const int32_t *sizes);
struct infd_tensor *op_tensor_cap(int dtype, uint32_t rank, const int32_t *sizes, uint64_t cap_elems);
/* Same, with an explicit dim order (e.g. channels-last {0,2,3,1}). */
struct infd_tensor *op_tensor_order(int dtype, uint32_t rank, const int32_t *sizes, const uint8_t *dim_order);

struct infd_evalue *op_ev_tensor(struct infd_tensor *t);
struct infd_evalue *op_ev_int(int64_t i);
struct infd_evalue *op_ev_double(double d);
struct infd_evalue *op_ev_bool(bool b);
struct infd_evalue *op_ev_null(void);
struct infd_evalue *op_ev_string(const char *s);
/* IntList of literal values (boxed, as programs hold them). */
struct infd_evalue *op_ev_int_list(uint32_t n, const int64_t *items);
struct infd_evalue *op_ev_double_list(uint32_t n, const double *items);
struct infd_evalue *op_ev_bool_list(uint32_t n, const bool *items);
/* TensorList / optional TensorList (NULL entries = None). */
struct infd_evalue *op_ev_tensor_list(uint32_t n, struct infd_tensor *const *items);

/* Element k (in memory order of a contiguous tensor: logical index for contiguous
 * tensors) read as double / int64, or written from a double. float16/bfloat16 are
 * converted independently of the code under test. */
double op_get(const struct infd_tensor *t, uint64_t k);
int64_t op_get_i(const struct infd_tensor *t, uint64_t k);
void op_set(struct infd_tensor *t, uint64_t k, double v);
/* Element at a logical multi-index, honouring strides (any dim order). */
double op_get_at(const struct infd_tensor *t, const int64_t *idx);
void op_set_at(struct infd_tensor *t, const int64_t *idx, double v);

/* Deterministic random numbers. */
uint32_t op_rnd(void);
int op_rnd_range(int lo, int hi); /* inclusive */
double op_rnd_uniform(double lo, double hi);
/* Random contents suited to the dtype (floats in [-scale, scale]). */
void op_fill_random(struct infd_tensor *t, double scale);

/* Call kernel `key` with args; fails the test if the key is not registered. */
infd_status op_call(const char *key, struct infd_evalue **args, uint32_t n);
/* Shorthand: op_call with a compound literal argument list. */
#define OP_CALL(key, ...)                                                                          \
	op_call((key), (struct infd_evalue *[]){__VA_ARGS__},                                          \
		(uint32_t)(sizeof((struct infd_evalue *[]){__VA_ARGS__}) / sizeof(struct infd_evalue *)))

#define CHECK_OK(st) cr_assert_eq((st), INFD_OK, "kernel failed: %s", op_err.msg)
#define CHECK_FAIL(st, substr)                                                                     \
	do {                                                                                       \
		infd_status st_ = (st);                                                            \
		cr_assert_neq(st_, INFD_OK, "kernel should have failed");                          \
		cr_assert_not_null(strstr(op_err.msg, (substr)), "message '%s' lacks '%s'", op_err.msg, \
				   (substr));                                                      \
	} while (0)

/* Assert t has this shape. */
void op_check_shape(const struct infd_tensor *t, uint32_t rank, const int32_t *sizes);
/* Assert every element of t is within atol + rtol*|want| of want[k] (NaN == NaN). */
void op_check_close(const struct infd_tensor *t, const double *want, double rtol, double atol);
/* Relative L2 error between t and want. */
double op_rel_l2(const struct infd_tensor *t, const double *want);

#endif
