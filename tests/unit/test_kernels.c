/* Unit tests for the kernel registry and the portable binary kernels (add, sub,
 * mul, div): results against a plain reference on random inputs, broadcasting,
 * PyTorch type promotion, alpha, dtype conversion helpers and error reporting. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "runtime/kernel.h"
#include "runtime/kernels/util.h"

/* ---- Fixture: a registry with the portable kernels; allocations freed at the end */

static struct infd_kernel_registry *reg;
static struct infd_error err;
static void *allocs[4096];
static size_t n_allocs;

static void *track(void *p)
{
	cr_assert_not_null(p, "out of memory");
	cr_assert_lt(n_allocs, sizeof allocs / sizeof allocs[0]);
	allocs[n_allocs++] = p;
	return p;
}

static void setup(void)
{
	cr_assert_eq(infd__registry_create(&reg), INFD_OK);
	cr_assert_eq(infd__registry_add(reg, infd__portable_kernels, infd__portable_kernel_count),
		     INFD_OK);
	n_allocs = 0;
}

static void teardown(void)
{
	infd__registry_destroy(reg);
	reg = NULL;
	while (n_allocs)
		free(allocs[--n_allocs]);
}

TestSuite(kernels, .init = setup, .fini = teardown);

/* ---- Values -------------------------------------------------------------------- */

enum { U8 = INFD_DTYPE_UINT8, I8 = INFD_DTYPE_INT8, I16 = INFD_DTYPE_INT16,
       I32 = INFD_DTYPE_INT32, I64 = INFD_DTYPE_INT64, F16 = INFD_DTYPE_FLOAT16,
       F32 = INFD_DTYPE_FLOAT32, F64 = INFD_DTYPE_FLOAT64, B = INFD_DTYPE_BOOL,
       BF16 = INFD_DTYPE_BFLOAT16 };

/* A contiguous tensor with room for `cap_elems` elements (at least its numel). */
static struct infd_tensor *tensor_cap(int dtype, uint32_t rank, const int32_t *sizes,
				      uint64_t cap_elems)
{
	struct infd_tensor *t = track(calloc(1, sizeof *t));
	t->dtype = (int8_t)dtype;
	t->rank = (uint8_t)rank;
	for (uint32_t i = 0; i < rank; i++) {
		t->sizes[i] = sizes[i];
		t->dim_order[i] = (uint8_t)i;
	}
	infd__tensor_update_layout(t);
	if (cap_elems < t->numel)
		cap_elems = t->numel;
	size_t bytes = (size_t)cap_elems * infd_dtype_size(dtype);
	t->data = track(calloc(1, bytes + 64));
	t->capacity = bytes;
	return t;
}

static struct infd_tensor *tensor(int dtype, uint32_t rank, const int32_t *sizes)
{
	return tensor_cap(dtype, rank, sizes, 0);
}

#define SHAPE(...) (sizeof((int32_t[]){__VA_ARGS__}) / sizeof(int32_t)), ((int32_t[]){__VA_ARGS__})
#define SCALAR_SHAPE 0, NULL

static struct infd_evalue *ev_tensor(struct infd_tensor *t)
{
	struct infd_evalue *v = track(calloc(1, sizeof *v));
	v->kind = INFD_VALUE_TENSOR;
	v->u.t = t;
	return v;
}

static struct infd_evalue *ev_int(int64_t i)
{
	struct infd_evalue *v = track(calloc(1, sizeof *v));
	v->kind = INFD_VALUE_INT;
	v->u.i = i;
	return v;
}

static struct infd_evalue *ev_double(double d)
{
	struct infd_evalue *v = track(calloc(1, sizeof *v));
	v->kind = INFD_VALUE_DOUBLE;
	v->u.d = d;
	return v;
}

static struct infd_evalue *ev_bool(bool b)
{
	struct infd_evalue *v = track(calloc(1, sizeof *v));
	v->kind = INFD_VALUE_BOOL;
	v->u.b = b;
	return v;
}

/* Element access written independently of the code under test (any alignment). */
#define LOAD(T, p) (*(const T *)memcpy(&(T){0}, (p), sizeof(T)))
#define STORE(T, p, v) memcpy((p), &(T){(T)(v)}, sizeof(T))

static double get_d(const struct infd_tensor *t, uint64_t k)
{
	const char *p = (const char *)t->data + k * infd_dtype_size(t->dtype);
	switch (t->dtype) {
	case U8: return LOAD(uint8_t, p);
	case I8: return LOAD(int8_t, p);
	case I16: return LOAD(int16_t, p);
	case I32: return LOAD(int32_t, p);
	case I64: return (double)LOAD(int64_t, p);
	case F32: return LOAD(float, p);
	case F64: return LOAD(double, p);
	case B: return LOAD(uint8_t, p) != 0;
	default: cr_assert_fail("get_d: dtype %d", t->dtype);
	}
	return 0;
}

static int64_t get_i(const struct infd_tensor *t, uint64_t k)
{
	const char *p = (const char *)t->data + k * infd_dtype_size(t->dtype);
	switch (t->dtype) {
	case U8: return LOAD(uint8_t, p);
	case I8: return LOAD(int8_t, p);
	case I16: return LOAD(int16_t, p);
	case I32: return LOAD(int32_t, p);
	case I64: return LOAD(int64_t, p);
	case B: return LOAD(uint8_t, p) != 0;
	default: return (int64_t)get_d(t, k);
	}
}

static void set_v(struct infd_tensor *t, uint64_t k, double v)
{
	char *p = (char *)t->data + k * infd_dtype_size(t->dtype);
	switch (t->dtype) {
	case U8: STORE(uint8_t, p, (int64_t)v); break;
	case I8: STORE(int8_t, p, (int64_t)v); break;
	case I16: STORE(int16_t, p, (int64_t)v); break;
	case I32: STORE(int32_t, p, (int64_t)v); break;
	case I64: STORE(int64_t, p, v); break;
	case F32: STORE(float, p, v); break;
	case F64: STORE(double, p, v); break;
	case B: STORE(uint8_t, p, v != 0); break;
	default: cr_assert_fail("set_v: dtype %d", t->dtype);
	}
}

static void set_all(struct infd_tensor *t, const double *v)
{
	for (uint64_t k = 0; k < t->numel; k++)
		set_v(t, k, v[k]);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

static int rnd_range(int lo, int hi) /* inclusive */
{
	return lo + (int)(rnd() % (uint32_t)(hi - lo + 1));
}

/* Random contents by dtype; `nonzero` avoids zeros (divisors). */
static void fill_random(struct infd_tensor *t, bool nonzero)
{
	for (uint64_t k = 0; k < t->numel; k++) {
		double v;
		switch (t->dtype) {
		case B: v = rnd() & 1; break;
		case U8: v = rnd_range(0, 255); break;
		case I8: v = rnd_range(-128, 127); break;
		case I16: case I32: case I64: v = rnd_range(-100, 100); break;
		default: v = (double)rnd_range(-100000, 100000) / 1000.0; break;
		}
		if (nonzero && v == 0)
			v = t->dtype == B ? 1 : 3;
		set_v(t, k, v);
	}
}

/* ---- Calling kernels ----------------------------------------------------------- */

static infd_status call(const char *key, struct infd_evalue **args, uint32_t n)
{
	const struct infd_kernel_def *def = infd__registry_find(reg, key);
	cr_assert_not_null(def, "kernel %s is not registered", key);
	struct infd_kernel_ctx ctx = {.err = &err, .op_key = key, .n_threads = 1};
	infd__error_clear(&err);
	return def->fn(&ctx, args, n);
}

/* key(self, other, [alpha], out, out): `other` is a tensor or scalar value. */
static infd_status call_bin(const char *key, struct infd_evalue *self, struct infd_evalue *other,
			    struct infd_evalue *alpha, struct infd_tensor *out)
{
	struct infd_evalue *o = ev_tensor(out);
	struct infd_evalue *args[5];
	uint32_t n = 0;
	args[n++] = self;
	args[n++] = other;
	if (alpha)
		args[n++] = alpha;
	args[n++] = o;
	args[n++] = o;
	return call(key, args, n);
}

#define CHECK_OK(st) cr_assert_eq((st), INFD_OK, "kernel failed: %s", err.msg)
#define CHECK_FAIL(st, substr)                                                             \
	do {                                                                               \
		infd_status st_ = (st);                                                    \
		cr_assert_neq(st_, INFD_OK, "kernel should have failed");                  \
		cr_assert_eq(err.status, st_);                                             \
		cr_assert_not_null(strstr(err.msg, (substr)), "message '%s' lacks '%s'", err.msg, \
				   (substr));                                              \
	} while (0)

static void check_shape(const struct infd_tensor *t, uint32_t rank, const int32_t *sizes)
{
	cr_assert_eq(t->rank, rank, "rank %u, expected %u", t->rank, rank);
	for (uint32_t i = 0; i < rank; i++)
		cr_assert_eq(t->sizes[i], sizes[i], "dim %u: %d, expected %d", i, t->sizes[i], sizes[i]);
}

static void check_values(const struct infd_tensor *t, const double *want)
{
	for (uint64_t k = 0; k < t->numel; k++)
		cr_assert(fabs(get_d(t, k) - want[k]) <= 1e-6 * fmax(1, fabs(want[k])),
			  "element %llu: %.9g, expected %.9g", (unsigned long long)k, get_d(t, k),
			  want[k]);
}

/* ---- Reference ------------------------------------------------------------------- */

enum rop { R_ADD, R_SUB, R_MUL, R_DIV };

static const char *const tensor_keys[] = {"aten::add.out", "aten::sub.out", "aten::mul.out",
					  "aten::div.out"};
static const char *const scalar_keys[] = {"aten::add.Scalar_out", "aten::sub.Scalar_out",
					  "aten::mul.Scalar_out", "aten::div.Scalar_out"};

/* PyTorch's promoteTypes restricted to the dtypes below (c10/core/ScalarType.cpp). */
static const int dts[] = {U8, I8, I16, I32, I64, F32, F64, B};
static const int promo[8][8] = {
	/*         u8   i8   i16  i32  i64  f32  f64  b   */
	/* u8  */ {U8, I16, I16, I32, I64, F32, F64, U8},
	/* i8  */ {I16, I8, I16, I32, I64, F32, F64, I8},
	/* i16 */ {I16, I16, I16, I32, I64, F32, F64, I16},
	/* i32 */ {I32, I32, I32, I32, I64, F32, F64, I32},
	/* i64 */ {I64, I64, I64, I64, I64, F32, F64, I64},
	/* f32 */ {F32, F32, F32, F32, F32, F32, F64, F32},
	/* f64 */ {F64, F64, F64, F64, F64, F64, F64, F64},
	/* b   */ {U8, I8, I16, I32, I64, F32, F64, B},
};

static int dt_index(int dt)
{
	for (int i = 0; i < 8; i++)
		if (dts[i] == dt)
			return i;
	cr_assert_fail("dtype %d not in the table", dt);
	return 0;
}

static bool is_float(int dt)
{
	return dt == F32 || dt == F64 || dt == F16 || dt == BF16;
}

static int64_t wrap(int dt, uint64_t v)
{
	switch (dt) {
	case U8: return (uint8_t)v;
	case I8: return (int8_t)v;
	case I16: return (int16_t)v;
	case I32: return (int32_t)v;
	case B: return v != 0;
	default: return (int64_t)v;
	}
}

/* One element of op(x, y, alpha) computed in dtype p (after PyTorch's rules);
 * xi, yi are the same inputs as integers (exact for int64). */
static double ref_elem(enum rop op, int p, double x, double y, int64_t xi, int64_t yi, double alpha)
{
	if (p == F32) {
		float fx = (float)x, fy = (float)y, fa = (float)alpha, r;
		switch (op) {
		case R_ADD: r = alpha == 1 ? fx + fy : fx + fa * fy; break;
		case R_SUB: r = alpha == 1 ? fx - fy : fx - fa * fy; break;
		case R_MUL: r = fx * fy; break;
		default: r = fx / fy; break;
		}
		return r;
	}
	if (p == F64) {
		switch (op) {
		case R_ADD: return x + alpha * y;
		case R_SUB: return x - alpha * y;
		case R_MUL: return x * y;
		default: return x / y;
		}
	}
	if (p == B) {
		bool bx = x != 0, by = y != 0;
		return op == R_MUL ? (bx && by) : (bx || (by && alpha != 0));
	}
	uint64_t ux = (uint64_t)xi, uy = (uint64_t)yi;
	uint64_t ua = (uint64_t)(int64_t)alpha;
	switch (op) {
	case R_ADD: return (double)wrap(p, ux + ua * uy);
	case R_SUB: return (double)wrap(p, ux - ua * uy);
	default: return (double)wrap(p, ux * uy);
	}
}

/* Storage of value v (computed in dtype p) in dtype o. */
static double ref_store(int o, double v)
{
	if (o == F32)
		return (float)v;
	if (o == F64)
		return v;
	return (double)wrap(o, (uint64_t)(int64_t)v);
}

/* Element offset of `t` (broadcast into out's logical index `idx`). */
static uint64_t bcast_offset(const struct infd_tensor *t, uint32_t out_rank, const int64_t *idx)
{
	uint64_t off = 0;
	for (uint32_t d = 0; d < t->rank; d++) {
		uint32_t od = d + out_rank - t->rank;
		if (t->sizes[d] != 1)
			off += (uint64_t)idx[od] * (uint64_t)t->strides[d];
	}
	return off;
}

/* Check out == op(a, b or scalar, alpha) elementwise, computed in dtype p. */
static void check_ref(enum rop op, int p, const struct infd_tensor *a, const struct infd_tensor *b,
		      double scalar, double alpha, const struct infd_tensor *out)
{
	int64_t idx[INFD_MAX_RANK] = {0};
	for (uint64_t n = 0; n < out->numel; n++) {
		uint64_t ao = bcast_offset(a, out->rank, idx), bo = b ? bcast_offset(b, out->rank, idx) : 0;
		double x = get_d(a, ao), y = b ? get_d(b, bo) : scalar;
		int64_t xi = get_i(a, ao), yi = b ? get_i(b, bo) : (int64_t)scalar;
		double want = ref_store(out->dtype, ref_elem(op, p, x, y, xi, yi, alpha));
		uint64_t oo = 0;
		for (uint32_t d = 0; d < out->rank; d++)
			oo += (uint64_t)idx[d] * (uint64_t)out->strides[d];
		double got = get_d(out, oo);
		double tol = is_float(out->dtype) ? 1e-6 * fmax(1, fabs(want)) : 0;
		bool ok = fabs(got - want) <= tol;
		if (out->dtype == I64 && p == I64) /* doubles cannot hold every int64 */
			ok = get_i(out, oo) == (int64_t)ref_elem(op, p, x, y, xi, yi, alpha) ||
			     (fabs(got) > 1e15 && got == want);
		if (!ok) {
			char s[256] = "";
			for (uint32_t d = 0; d < out->rank; d++)
				snprintf(s + strlen(s), sizeof s - strlen(s), "%lld,", (long long)idx[d]);
			cr_assert_fail("%s: element [%s]: got %.9g, expected %.9g (x=%g y=%g alpha=%g)",
				       tensor_keys[op], s, got, want, x, y, alpha);
		}
		for (int d = (int)out->rank - 1; d >= 0; d--) {
			if (++idx[d] < out->sizes[d])
				break;
			idx[d] = 0;
		}
	}
}

/* ---- Registry -------------------------------------------------------------------- */

static infd_status dummy_fn(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	(void)ctx, (void)args, (void)n;
	return INFD_OK;
}

Test(kernels, registry_lookup)
{
	static const struct {
		const char *key;
		int32_t n;
	} want[] = {
		{"aten::add.out", 5}, {"aten::add.Scalar_out", 5}, {"aten::sub.out", 5},
		{"aten::sub.Scalar_out", 5}, {"aten::mul.out", 4}, {"aten::mul.Scalar_out", 4},
		{"aten::div.out", 4}, {"aten::div.Scalar_out", 4},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct infd_kernel_def *d = infd__registry_find(reg, want[i].key);
		cr_assert_not_null(d, "%s missing", want[i].key);
		cr_assert_str_eq(d->key, want[i].key);
		cr_assert_eq(d->n_args, want[i].n, "%s: n_args %d", want[i].key, d->n_args);
		cr_assert_not_null(d->fn);
	}
	cr_assert_eq(infd__registry_count(reg), infd__portable_kernel_count);
	cr_assert_null(infd__registry_find(reg, "aten::add"));
	cr_assert_null(infd__registry_find(reg, "aten::add.out2"));
	cr_assert_null(infd__registry_find(reg, ""));
	cr_assert_null(infd__registry_find(NULL, "aten::add.out"));
	for (uint32_t i = 0; i < infd__registry_count(reg); i++)
		cr_assert_eq(infd__registry_at(reg, i), &infd__portable_kernels[i]);
	cr_assert_null(infd__registry_at(reg, infd__registry_count(reg)));
}

Test(kernels, registry_replace_and_grow)
{
	static const struct infd_kernel_def over[] = {{"aten::add.out", 5, dummy_fn}};
	cr_assert_eq(infd__registry_add(reg, over, 1), INFD_OK);
	cr_assert_eq(infd__registry_find(reg, "aten::add.out"), &over[0], "later registration wins");
	cr_assert_eq(infd__registry_count(reg), infd__portable_kernel_count, "replaced, not added");
	cr_assert_eq(infd__registry_at(reg, 0), &over[0], "keeps its position");

	/* Many keys: the table grows and every key stays reachable. */
	enum { N = 1000 };
	static char names[N][32];
	static struct infd_kernel_def defs[N];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "test::op%d.out", i);
		defs[i] = (struct infd_kernel_def){names[i], -1, dummy_fn};
	}
	cr_assert_eq(infd__registry_add(reg, defs, N), INFD_OK);
	cr_assert_eq(infd__registry_count(reg), infd__portable_kernel_count + N);
	for (int i = 0; i < N; i++)
		cr_assert_eq(infd__registry_find(reg, names[i]), &defs[i], "%s", names[i]);
	cr_assert_not_null(infd__registry_find(reg, "aten::mul.out"));

	static const struct infd_kernel_def bad[] = {{NULL, 1, dummy_fn}};
	cr_assert_neq(infd__registry_add(reg, bad, 1), INFD_OK);
	infd__registry_destroy(NULL);
}

/* ---- Same-shape results over many lengths (vector bodies and tails) ------------------ */

Test(kernels, same_shape_float32_all_ops)
{
	static const int32_t lens[] = {1, 2, 7, 15, 16, 17, 33, 100, 1000, 4099};
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
		for (int op = R_ADD; op <= R_DIV; op++) {
			struct infd_tensor *a = tensor(F32, SHAPE(lens[li]));
			struct infd_tensor *b = tensor(F32, SHAPE(lens[li]));
			struct infd_tensor *out = tensor(F32, SHAPE(lens[li]));
			fill_random(a, false);
			fill_random(b, op == R_DIV);
			infd_status st = call_bin(tensor_keys[op], ev_tensor(a), ev_tensor(b),
						  op <= R_SUB ? ev_int(1) : NULL, out);
			CHECK_OK(st);
			check_ref(op, F32, a, b, 0, 1, out);
		}
	}
}

Test(kernels, same_shape_integers_wrap_around)
{
	static const int types[] = {U8, I8, I16, I32, I64};
	for (size_t ti = 0; ti < 5; ti++) {
		for (int op = R_ADD; op <= R_MUL; op++) {
			int dt = types[ti];
			struct infd_tensor *a = tensor(dt, SHAPE(3, 37));
			struct infd_tensor *b = tensor(dt, SHAPE(3, 37));
			struct infd_tensor *out = tensor(dt, SHAPE(3, 37));
			fill_random(a, false);
			fill_random(b, false);
			/* extremes that overflow in every op */
			if (dt == I32) {
				*(int32_t *)a->data = INT32_MAX;
				*(int32_t *)b->data = INT32_MAX;
			} else if (dt == I64) {
				*(int64_t *)a->data = INT64_MAX;
				*(int64_t *)b->data = INT64_MAX;
			}
			CHECK_OK(call_bin(tensor_keys[op], ev_tensor(a), ev_tensor(b),
					  op <= R_SUB ? ev_int(1) : NULL, out));
			check_ref(op, dt, a, b, 0, 1, out);
			if (dt == I32 && op == R_ADD)
				cr_assert_eq(*(int32_t *)out->data, -2, "INT32_MAX + INT32_MAX wraps");
		}
	}
}

Test(kernels, add_known_values)
{
	struct infd_tensor *a = tensor(F32, SHAPE(2, 2));
	struct infd_tensor *b = tensor(F32, SHAPE(2, 2));
	struct infd_tensor *out = tensor(F32, SHAPE(2, 2));
	set_all(a, (double[]){1, 2, 3, 4});
	set_all(b, (double[]){10, 20, 30, 40});
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), out));
	check_values(out, (double[]){11, 22, 33, 44});
	CHECK_OK(call_bin("aten::sub.out", ev_tensor(a), ev_tensor(b), ev_int(1), out));
	check_values(out, (double[]){-9, -18, -27, -36});
	CHECK_OK(call_bin("aten::mul.out", ev_tensor(a), ev_tensor(b), NULL, out));
	check_values(out, (double[]){10, 40, 90, 160});
	CHECK_OK(call_bin("aten::div.out", ev_tensor(b), ev_tensor(a), NULL, out));
	check_values(out, (double[]){10, 10, 10, 10});
}

/* ---- Broadcasting ------------------------------------------------------------------ */

static void bcast_case(int dt, uint32_t ra, const int32_t *sa, uint32_t rb, const int32_t *sb,
		       uint32_t rw, const int32_t *want)
{
	for (int op = R_ADD; op <= R_DIV; op++) {
		struct infd_tensor *a = tensor(dt, ra, sa);
		struct infd_tensor *b = tensor(dt, rb, sb);
		int p = op == R_DIV && !is_float(dt) ? F32 : dt;
		/* out starts with another shape and enough room: the kernel resizes it */
		struct infd_tensor *out = tensor_cap(p, SHAPE(1), 4096);
		fill_random(a, false);
		fill_random(b, op == R_DIV);
		CHECK_OK(call_bin(tensor_keys[op], ev_tensor(a), ev_tensor(b),
				  op <= R_SUB ? ev_int(1) : NULL, out));
		check_shape(out, rw, want);
		check_ref(op, p, a, b, 0, 1, out);
	}
}

Test(kernels, broadcast_edges)
{
	static const int types[] = {F32, I32, I64, F64};
	for (size_t i = 0; i < 4; i++) {
		int dt = types[i];
		bcast_case(dt, SHAPE(3, 1), SHAPE(1, 4), SHAPE(3, 4));
		bcast_case(dt, SHAPE(2, 3, 4), SHAPE(4), SHAPE(2, 3, 4));
		bcast_case(dt, SHAPE(4), SHAPE(2, 3, 4), SHAPE(2, 3, 4));
		bcast_case(dt, SHAPE(2, 3, 4), SHAPE(3, 1), SHAPE(2, 3, 4));
		bcast_case(dt, SHAPE(5, 1, 3), SHAPE(1, 4, 1), SHAPE(5, 4, 3));
		bcast_case(dt, SCALAR_SHAPE, SHAPE(2, 3), SHAPE(2, 3));
		bcast_case(dt, SHAPE(2, 3), SCALAR_SHAPE, SHAPE(2, 3));
		bcast_case(dt, SCALAR_SHAPE, SCALAR_SHAPE, SCALAR_SHAPE);
		bcast_case(dt, SHAPE(1), SHAPE(5), SHAPE(5));
		bcast_case(dt, SHAPE(7, 1), SHAPE(7, 40), SHAPE(7, 40));
		bcast_case(dt, SHAPE(1, 1, 1), SHAPE(3), SHAPE(1, 1, 3));
		bcast_case(dt, SHAPE(2, 1, 3, 1, 2), SHAPE(2, 1, 3, 1), SHAPE(2, 2, 3, 3, 2));
	}
}

Test(kernels, broadcast_high_rank)
{
	int32_t sa[16], sb[16], sw[16];
	for (int i = 0; i < 16; i++) {
		sa[i] = i % 3 == 0 ? 2 : 1;
		sb[i] = i % 3 == 0 ? 1 : (i % 5 == 0 ? 2 : 1);
		sw[i] = sa[i] > sb[i] ? sa[i] : sb[i];
	}
	bcast_case(F32, 16, sa, 16, sb, 16, sw);
	for (int i = 0; i < 16; i++)
		sw[i] = i < 13 ? sa[i] : (sa[i] > sb[i] ? sa[i] : sb[i]);
	bcast_case(I32, 16, sa, 3, sb + 13, 16, sw);
}

Test(kernels, empty_tensors)
{
	struct infd_tensor *a = tensor(F32, SHAPE(2, 0, 3));
	struct infd_tensor *b = tensor(F32, SHAPE(3));
	struct infd_tensor *out = tensor_cap(F32, SHAPE(4), 4);
	a->data = NULL; /* no data is fine when empty */
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), out));
	check_shape(out, SHAPE(2, 0, 3));
	cr_assert_eq(out->numel, 0);

	struct infd_tensor *c = tensor(F32, SHAPE(0));
	struct infd_tensor *d = tensor(F32, SHAPE(1));
	CHECK_OK(call_bin("aten::mul.out", ev_tensor(c), ev_tensor(d), NULL, out));
	check_shape(out, SHAPE(0));
	CHECK_OK(call_bin("aten::mul.Scalar_out", ev_tensor(c), ev_double(2), NULL, out));
	check_shape(out, SHAPE(0));
	/* size 0 against size 3 is not broadcastable */
	struct infd_tensor *e = tensor(F32, SHAPE(3));
	CHECK_FAIL(call_bin("aten::mul.out", ev_tensor(c), ev_tensor(e), NULL, out), "broadcast");
}

/* ---- Type promotion ------------------------------------------------------------------ */

static void promo_case(enum rop op, int da, int db, int want_dt)
{
	struct infd_tensor *a = tensor(da, SHAPE(3, 5));
	struct infd_tensor *b = tensor(db, SHAPE(5));
	struct infd_tensor *out = tensor(want_dt, SHAPE(3, 5));
	fill_random(a, false);
	fill_random(b, op == R_DIV);
	CHECK_OK(call_bin(tensor_keys[op], ev_tensor(a), ev_tensor(b),
			  op <= R_SUB ? ev_int(1) : NULL, out));
	check_ref(op, want_dt, a, b, 0, 1, out);
}

Test(kernels, promotion_tensor_tensor)
{
	promo_case(R_ADD, I32, F32, F32);
	promo_case(R_ADD, F32, I32, F32);
	promo_case(R_ADD, I8, U8, I16);
	promo_case(R_ADD, U8, I8, I16);
	promo_case(R_MUL, I16, I64, I64);
	promo_case(R_SUB, U8, I32, I32);
	promo_case(R_ADD, F32, F64, F64);
	promo_case(R_MUL, B, I32, I32);
	promo_case(R_ADD, B, F64, F64);
	promo_case(R_DIV, I32, I32, F32);
	promo_case(R_DIV, B, U8, F32);
	promo_case(R_DIV, I64, F64, F64);

	/* bool + bool: add is logical or, mul logical and */
	struct infd_tensor *a = tensor(B, SHAPE(4));
	struct infd_tensor *b = tensor(B, SHAPE(4));
	struct infd_tensor *out = tensor(B, SHAPE(4));
	set_all(a, (double[]){0, 0, 1, 1});
	set_all(b, (double[]){0, 1, 0, 1});
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), out));
	check_values(out, (double[]){0, 1, 1, 1});
	CHECK_OK(call_bin("aten::mul.out", ev_tensor(a), ev_tensor(b), NULL, out));
	check_values(out, (double[]){0, 0, 0, 1});
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_bool(false), out));
	check_values(out, (double[]){0, 0, 1, 1});
	for (uint64_t k = 0; k < 4; k++)
		cr_assert_leq(((uint8_t *)out->data)[k], 1, "bool results are 0 or 1");
}

Test(kernels, promotion_matches_pytorch_table)
{
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			cr_assert_eq(infd__promote_types(dts[i], dts[j]), promo[i][j], "%s + %s",
				     infd_dtype_name(dts[i]), infd_dtype_name(dts[j]));
	cr_assert_eq(infd__promote_types(F16, BF16), F32);
	cr_assert_eq(infd__promote_types(F16, I64), F16);
	cr_assert_eq(infd__promote_types(BF16, U8), BF16);
	cr_assert_eq(infd__promote_types(F16, F32), F32);
	cr_assert_eq(infd__promote_types(INFD_DTYPE_QINT8, F32), -1);
	cr_assert_eq(infd__promote_types(INFD_DTYPE_UINT16, I32), -1);
	cr_assert(infd__can_cast(I32, F32));
	cr_assert(infd__can_cast(B, I8));
	cr_assert(infd__can_cast(I64, I8));
	cr_assert_not(infd__can_cast(F32, I64));
	cr_assert_not(infd__can_cast(I32, B));
	cr_assert_not(infd__can_cast(INFD_DTYPE_QINT8, F32));
}

/* Tensor op Scalar: promotion, result values and out dtype. */
static void scalar_case(enum rop op, int dt, struct infd_evalue *s, double sval,
			struct infd_evalue *alpha, double aval, int want_dt)
{
	struct infd_tensor *a = tensor(dt, SHAPE(2, 9));
	struct infd_tensor *out = tensor_cap(want_dt, SHAPE(1), 18);
	fill_random(a, false);
	CHECK_OK(call_bin(scalar_keys[op], ev_tensor(a), s, alpha, out));
	check_shape(out, SHAPE(2, 9));
	check_ref(op, want_dt, a, NULL, sval, aval, out);
}

Test(kernels, promotion_tensor_scalar)
{
	scalar_case(R_ADD, I32, ev_double(2.5), 2.5, ev_int(1), 1, F32);
	scalar_case(R_ADD, I32, ev_int(7), 7, ev_int(1), 1, I32);
	scalar_case(R_ADD, U8, ev_int(300), 300, ev_int(1), 1, U8); /* wraps in uint8 */
	scalar_case(R_ADD, I8, ev_int(1000), 1000, ev_int(3), 3, I8);
	scalar_case(R_ADD, B, ev_int(3), 3, ev_int(1), 1, I64);
	scalar_case(R_ADD, B, ev_double(0.5), 0.5, ev_int(1), 1, F32);
	scalar_case(R_ADD, B, ev_bool(true), 1, ev_int(1), 1, B);
	scalar_case(R_MUL, B, ev_bool(true), 1, NULL, 1, B);
	scalar_case(R_MUL, I64, ev_double(-1.5), -1.5, NULL, 1, F32);
	scalar_case(R_MUL, F64, ev_int(3), 3, NULL, 1, F64);
	scalar_case(R_MUL, I16, ev_bool(true), 1, NULL, 1, I16);
	scalar_case(R_SUB, F32, ev_double(0.25), 0.25, ev_double(4), 4, F32);
	scalar_case(R_SUB, I32, ev_int(5), 5, ev_int(-2), -2, I32);
	scalar_case(R_DIV, I32, ev_int(4), 4, NULL, 1, F32);
	scalar_case(R_DIV, F64, ev_double(3), 3, NULL, 1, F64);
	scalar_case(R_DIV, B, ev_int(2), 2, NULL, 1, F32);

	/* int tensor + double scalar gives float32; storing it in an int out fails */
	struct infd_tensor *a = tensor(I32, SHAPE(3));
	struct infd_tensor *out = tensor(I32, SHAPE(3));
	CHECK_FAIL(call_bin("aten::add.Scalar_out", ev_tensor(a), ev_double(2.5), ev_int(1), out),
		   "float32");
	/* a wider out is fine: computed in float32, stored as float64 */
	set_all(a, (double[]){1, 2, 3});
	struct infd_tensor *o64 = tensor(F64, SHAPE(3));
	CHECK_OK(call_bin("aten::add.Scalar_out", ev_tensor(a), ev_double(0.1), ev_int(1), o64));
	check_values(o64, (double[]){(float)1.1, (float)2.1, (float)3.1});
}

Test(kernels, out_dtype_differs_from_result)
{
	/* int32 result stored as int64 and float32; float32 result as float64 */
	struct infd_tensor *a = tensor(I32, SHAPE(4));
	struct infd_tensor *b = tensor(I32, SHAPE(4));
	set_all(a, (double[]){INT32_MAX, -5, 7, 100});
	set_all(b, (double[]){1, 5, -8, 23});
	struct infd_tensor *o64 = tensor(I64, SHAPE(4));
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), o64));
	cr_assert_eq(get_i(o64, 0), INT32_MIN, "computed in int32 (wraps), then widened");
	cr_assert_eq(get_i(o64, 3), 123);
	struct infd_tensor *of = tensor(F32, SHAPE(4));
	CHECK_OK(call_bin("aten::mul.out", ev_tensor(a), ev_tensor(b), NULL, of));
	check_values(of, (double[]){(float)INT32_MAX, -25, -56, 2300});
	struct infd_tensor *fa = tensor(F32, SHAPE(2));
	struct infd_tensor *fo = tensor(F64, SHAPE(2));
	set_all(fa, (double[]){0.1, 1.0 / 3});
	CHECK_OK(call_bin("aten::add.out", ev_tensor(fa), ev_tensor(fa), ev_int(1), fo));
	cr_assert_eq(get_d(fo, 0), (double)((float)0.1 + (float)0.1), "added in float32");
	/* bool result into an int8 out */
	struct infd_tensor *ba = tensor(B, SHAPE(2));
	struct infd_tensor *bo = tensor(I8, SHAPE(2));
	set_all(ba, (double[]){1, 0});
	CHECK_OK(call_bin("aten::add.out", ev_tensor(ba), ev_tensor(ba), ev_int(1), bo));
	check_values(bo, (double[]){1, 0});
}

/* ---- Alpha ------------------------------------------------------------------------ */

Test(kernels, alpha)
{
	struct infd_tensor *a = tensor(I32, SHAPE(3));
	struct infd_tensor *b = tensor(I32, SHAPE(3));
	struct infd_tensor *out = tensor(I32, SHAPE(3));
	set_all(a, (double[]){1, 2, 3});
	set_all(b, (double[]){10, 20, 30});
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(2), out));
	check_values(out, (double[]){21, 42, 63});
	CHECK_OK(call_bin("aten::sub.out", ev_tensor(a), ev_tensor(b), ev_int(3), out));
	check_values(out, (double[]){-29, -58, -87});
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(0), out));
	check_values(out, (double[]){1, 2, 3});
	CHECK_OK(call_bin("aten::add.Scalar_out", ev_tensor(a), ev_int(5), ev_int(-2), out));
	check_values(out, (double[]){-9, -8, -7});
	CHECK_OK(call_bin("aten::sub.Scalar_out", ev_tensor(a), ev_int(5), ev_int(2), out));
	check_values(out, (double[]){-9, -8, -7});

	struct infd_tensor *fa = tensor(F32, SHAPE(3));
	struct infd_tensor *fo = tensor(F32, SHAPE(3));
	set_all(fa, (double[]){1, 2, 3});
	CHECK_OK(call_bin("aten::add.out", ev_tensor(fa), ev_tensor(fa), ev_double(0.5), fo));
	check_values(fo, (double[]){1.5, 3, 4.5});
	CHECK_OK(call_bin("aten::sub.out", ev_tensor(fa), ev_tensor(fa), ev_double(-1), fo));
	check_values(fo, (double[]){2, 4, 6});
	CHECK_OK(call_bin("aten::add.Scalar_out", ev_tensor(fa), ev_double(2), ev_double(0.25), fo));
	check_values(fo, (double[]){1.5, 2.5, 3.5});
	/* int tensors with float result (int + float tensor) accept a double alpha */
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(fa), ev_double(0.5), fo));
	check_values(fo, (double[]){1.5, 3, 4.5});
	/* bool tensors accept an int alpha (as bool) */
	struct infd_tensor *ba = tensor(B, SHAPE(2));
	struct infd_tensor *bb = tensor(B, SHAPE(2));
	struct infd_tensor *bo = tensor(B, SHAPE(2));
	set_all(ba, (double[]){0, 0});
	set_all(bb, (double[]){1, 0});
	CHECK_OK(call_bin("aten::add.out", ev_tensor(ba), ev_tensor(bb), ev_int(2), bo));
	check_values(bo, (double[]){1, 0});
	CHECK_OK(call_bin("aten::add.out", ev_tensor(ba), ev_tensor(bb), ev_bool(true), bo));
	check_values(bo, (double[]){1, 0});
}

Test(kernels, alpha_errors)
{
	struct infd_tensor *a = tensor(I32, SHAPE(3));
	struct infd_tensor *out = tensor(I32, SHAPE(3));
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(a), ev_tensor(a), ev_double(0.5), out),
		   "alpha");
	CHECK_FAIL(call_bin("aten::sub.Scalar_out", ev_tensor(a), ev_int(1), ev_double(1.5), out),
		   "alpha");
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(a), ev_tensor(a), ev_bool(true), out),
		   "bool alpha");
	struct infd_tensor *f = tensor(F32, SHAPE(3));
	struct infd_tensor *fo = tensor(F32, SHAPE(3));
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(f), ev_tensor(f), ev_bool(true), fo),
		   "bool alpha");
	struct infd_evalue *args[5] = {ev_tensor(f), ev_tensor(f), ev_tensor(f), ev_tensor(fo),
				       NULL};
	args[4] = args[3];
	CHECK_FAIL(call("aten::add.out", args, 5), "alpha");
}

/* ---- Layouts ----------------------------------------------------------------------- */

static void make_channels_last(struct infd_tensor *t)
{
	/* [N,C,H,W] stored as NHWC */
	t->dim_order[0] = 0;
	t->dim_order[1] = 2;
	t->dim_order[2] = 3;
	t->dim_order[3] = 1;
	infd__tensor_update_layout(t);
}

Test(kernels, channels_last_operands)
{
	for (int variant = 0; variant < 4; variant++) {
		struct infd_tensor *a = tensor(F32, SHAPE(2, 3, 4, 5));
		struct infd_tensor *b = tensor(F32, SHAPE(2, 3, 4, 5));
		struct infd_tensor *out = tensor(F32, SHAPE(2, 3, 4, 5));
		if (variant & 1)
			make_channels_last(a);
		if (variant & 2) {
			make_channels_last(out);
			make_channels_last(b);
		}
		fill_random(a, false);
		fill_random(b, false);
		CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), out));
		check_ref(R_ADD, F32, a, b, 0, 1, out);
		CHECK_OK(call_bin("aten::mul.Scalar_out", ev_tensor(a), ev_double(3), NULL, out));
		check_ref(R_MUL, F32, a, NULL, 3, 1, out);
	}
	/* channels-last activation plus a per-channel bias [C,1,1] */
	struct infd_tensor *x = tensor(F32, SHAPE(1, 3, 4, 4));
	struct infd_tensor *bias = tensor(F32, SHAPE(3, 1, 1));
	struct infd_tensor *y = tensor(F32, SHAPE(1, 3, 4, 4));
	make_channels_last(x);
	make_channels_last(y);
	fill_random(x, false);
	fill_random(bias, false);
	CHECK_OK(call_bin("aten::add.out", ev_tensor(x), ev_tensor(bias), ev_int(1), y));
	check_ref(R_ADD, F32, x, bias, 0, 1, y);
}

Test(kernels, misaligned_and_aliased_data)
{
	struct infd_tensor *a = tensor(F32, SHAPE(37));
	struct infd_tensor *b = tensor(I32, SHAPE(37));
	struct infd_tensor *out = tensor(F32, SHAPE(37));
	a->data = (char *)a->data + 1;
	out->data = (char *)out->data + 2;
	out->capacity -= 4;
	fill_random(a, false);
	fill_random(b, false);
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), out));
	check_ref(R_ADD, F32, a, b, 0, 1, out);
	/* in place: out is self */
	struct infd_tensor *c = tensor(F32, SHAPE(4, 8));
	struct infd_tensor *d = tensor(F32, SHAPE(8));
	struct infd_tensor *c0 = tensor(F32, SHAPE(4, 8));
	fill_random(c, false);
	fill_random(d, false);
	memcpy(c0->data, c->data, c->nbytes);
	CHECK_OK(call_bin("aten::mul.out", ev_tensor(c), ev_tensor(d), NULL, c));
	check_ref(R_MUL, F32, c0, d, 0, 1, c);
}

/* ---- Reduced floats and conversions --------------------------------------------------- */

Test(kernels, half_and_bfloat16)
{
	cr_assert_eq(infd__f32_to_f16(1.0f), 0x3c00);
	cr_assert_eq(infd__f32_to_f16(-2.0f), 0xc000);
	cr_assert_eq(infd__f32_to_f16(65504.0f), 0x7bff);
	cr_assert_eq(infd__f32_to_f16(65520.0f), 0x7c00, "rounds up to inf");
	cr_assert_eq(infd__f32_to_f16(6e-8f), 0x0001, "smallest subnormal");
	cr_assert_eq(infd__f32_to_f16(2e-8f), 0x0000);
	cr_assert_eq(infd__f32_to_f16(1.0f + 1.0f / 2048), 0x3c00, "tie to even");
	cr_assert_eq(infd__f32_to_f16(1.0f + 3.0f / 2048), 0x3c02, "tie to even (up)");
	cr_assert_eq(infd__f32_to_f16(NAN) & 0x7e00, 0x7e00);
	cr_assert_eq(infd__f16_to_f32(0x3c00), 1.0f);
	cr_assert_eq(infd__f16_to_f32(0x0001), ldexpf(1, -24));
	cr_assert_eq(infd__f16_to_f32(0x7bff), 65504.0f);
	cr_assert(isinf(infd__f16_to_f32(0x7c00)));
	for (uint32_t h = 0; h < 0x7c00; h++)
		cr_assert_eq(infd__f32_to_f16(infd__f16_to_f32((uint16_t)h)), h, "round trip %x", h);
	cr_assert_eq(infd__f32_to_bf16(1.0f), 0x3f80);
	cr_assert_eq(infd__f32_to_bf16(1.00390625f), 0x3f80, "tie to even");
	cr_assert_eq(infd__f32_to_bf16(1.01171875f), 0x3f82, "tie to even (up)");
	cr_assert_eq(infd__bf16_to_f32(0xc000), -2.0f);

	/* float16 + float16 -> float16, computed in float32 and rounded once */
	struct infd_tensor *a = tensor(F16, SHAPE(20));
	struct infd_tensor *b = tensor(F16, SHAPE(20));
	struct infd_tensor *out = tensor(F16, SHAPE(20));
	uint16_t *ha = a->data, *hb = b->data, *ho = out->data;
	for (int i = 0; i < 20; i++) {
		ha[i] = infd__f32_to_f16(0.1f * (float)i - 0.7f);
		hb[i] = infd__f32_to_f16(3.3f / (float)(i + 1));
	}
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), out));
	for (int i = 0; i < 20; i++)
		cr_assert_eq(ho[i], infd__f32_to_f16(infd__f16_to_f32(ha[i]) + infd__f16_to_f32(hb[i])),
			     "element %d", i);
	/* float16 tensor * double scalar stays float16 */
	CHECK_OK(call_bin("aten::mul.Scalar_out", ev_tensor(a), ev_double(2.5), NULL, out));
	for (int i = 0; i < 20; i++)
		cr_assert_eq(ho[i], infd__f32_to_f16(infd__f16_to_f32(ha[i]) * 2.5f), "element %d", i);
	/* int32 + float16 -> float16; bfloat16 + float16 -> float32 */
	struct infd_tensor *ia = tensor(I32, SHAPE(20));
	for (uint64_t i = 0; i < 20; i++) /* odd values above 2048 are not float16 numbers */
		set_v(ia, i, 2049 + 2 * (double)i);
	CHECK_OK(call_bin("aten::sub.out", ev_tensor(ia), ev_tensor(b), ev_int(1), out));
	for (int i = 0; i < 20; i++) {
		float x = infd__f16_to_f32(infd__f32_to_f16((float)get_d(ia, (uint64_t)i)));
		cr_assert_eq(ho[i], infd__f32_to_f16(x - infd__f16_to_f32(hb[i])), "element %d", i);
	}
	struct infd_tensor *bf = tensor(BF16, SHAPE(20));
	struct infd_tensor *fo = tensor(F32, SHAPE(20));
	uint16_t *hbf = bf->data;
	for (int i = 0; i < 20; i++)
		hbf[i] = infd__f32_to_bf16((float)i * 1.37f);
	CHECK_OK(call_bin("aten::mul.out", ev_tensor(bf), ev_tensor(a), NULL, fo));
	for (int i = 0; i < 20; i++)
		cr_assert_eq(((float *)fo->data)[i], infd__bf16_to_f32(hbf[i]) * infd__f16_to_f32(ha[i]));
	/* a float16 result stored in a float32 out is rounded to float16 first */
	CHECK_OK(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), fo));
	for (int i = 0; i < 20; i++)
		cr_assert_eq(((float *)fo->data)[i],
			     infd__f16_to_f32(infd__f32_to_f16(infd__f16_to_f32(ha[i]) +
							       infd__f16_to_f32(hb[i]))),
			     "element %d", i);
	/* a float16 result cannot go into an int32 out */
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), tensor(I32, SHAPE(20))),
		   "float16");
}

Test(kernels, convert_helper)
{
	double d[4];
	int8_t i8[4] = {-1, 127, -128, 5};
	cr_assert(infd__convert(d, F64, sizeof(double), i8, I8, 1, 4));
	cr_assert_eq(d[0], -1);
	cr_assert_eq(d[2], -128);
	float f[4] = {1e20f, -1e20f, NAN, -3.7f};
	int32_t i32[4];
	cr_assert(infd__convert(i32, I32, 4, f, F32, 4, 4));
	cr_assert_eq(i32[3], -3, "truncates toward zero");
	cr_assert_eq(i32[2], 0, "NaN becomes 0");
	uint8_t bo[4];
	cr_assert(infd__convert(bo, B, 1, f, F32, 4, 4));
	cr_assert(bo[0] == 1 && bo[3] == 1);
	/* stride 0 source broadcasts one element */
	int64_t seven = 7, o[3];
	cr_assert(infd__convert(o, I64, 8, &seven, I64, 0, 3));
	cr_assert(o[0] == 7 && o[1] == 7 && o[2] == 7);
	cr_assert_not(infd__convert(o, INFD_DTYPE_QINT8, 1, &seven, I64, 0, 1));
	cr_assert_eq(infd__load_double(&i8[1], I8), 127);
	cr_assert_eq(infd__load_int(&f[3], F32), -3);
}

/* ---- Errors --------------------------------------------------------------------------- */

Test(kernels, error_unbroadcastable)
{
	struct infd_tensor *a = tensor(F32, SHAPE(2, 3));
	struct infd_tensor *b = tensor(F32, SHAPE(4));
	struct infd_tensor *out = tensor(F32, SHAPE(2, 3));
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), out),
		   "aten::add.out");
	cr_assert_not_null(strstr(err.msg, "broadcast"), "%s", err.msg);
	cr_assert_not_null(strstr(err.msg, "[2,3]"), "%s", err.msg);
	struct infd_tensor *c = tensor(F32, SHAPE(3, 2));
	CHECK_FAIL(call_bin("aten::div.out", ev_tensor(a), ev_tensor(c), NULL, out), "broadcast");
	check_shape(out, SHAPE(2, 3)); /* untouched */
}

Test(kernels, error_result_into_int_out)
{
	struct infd_tensor *a = tensor(F32, SHAPE(3));
	struct infd_tensor *b = tensor(I32, SHAPE(3));
	struct infd_tensor *out = tensor(I32, SHAPE(3));
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), out), "int32");
	CHECK_FAIL(call_bin("aten::div.out", ev_tensor(b), ev_tensor(b), NULL, out), "float32");
	CHECK_FAIL(call_bin("aten::mul.out", ev_tensor(b), ev_tensor(b), NULL, tensor(B, SHAPE(3))),
		   "bool");
	CHECK_FAIL(call_bin("aten::sub.out", ev_tensor(tensor(B, SHAPE(3))), ev_tensor(b), ev_int(1),
			    out),
		   "bool");
	CHECK_FAIL(call_bin("aten::sub.Scalar_out", ev_tensor(b), ev_bool(true), ev_int(1), out),
		   "bool");
	struct infd_tensor *q = tensor(INFD_DTYPE_QINT8, SHAPE(3));
	CHECK_FAIL(call_bin("aten::mul.out", ev_tensor(q), ev_tensor(q), NULL, out), "qint8");
}

Test(kernels, error_argument_count_and_kinds)
{
	struct infd_tensor *a = tensor(F32, SHAPE(3));
	struct infd_tensor *out = tensor(F32, SHAPE(3));
	struct infd_evalue *ta = ev_tensor(a), *to = ev_tensor(out);
	struct infd_evalue *four[4] = {ta, ta, to, to};
	CHECK_FAIL(call("aten::add.out", four, 4), "5 arguments");
	struct infd_evalue *five[5] = {ta, ta, ev_int(1), to, to};
	CHECK_FAIL(call("aten::mul.out", five, 5), "4 arguments");
	CHECK_FAIL(call("aten::add.out", five, 3), "arguments");
	CHECK_FAIL(call("aten::add.out", NULL, 5), "argument");
	struct infd_evalue *holes[5] = {ta, NULL, ev_int(1), to, to};
	CHECK_FAIL(call("aten::add.out", holes, 5), "missing");
	struct infd_evalue *not_tensor[5] = {ev_int(3), ta, ev_int(1), to, to};
	CHECK_FAIL(call("aten::add.out", not_tensor, 5), "self");
	struct infd_evalue *scalar_other[5] = {ta, ev_double(1), ev_int(1), to, to};
	CHECK_FAIL(call("aten::add.out", scalar_other, 5), "other");
	struct infd_evalue *tensor_scalar[5] = {ta, ta, ev_int(1), to, to};
	CHECK_FAIL(call("aten::add.Scalar_out", tensor_scalar, 5), "scalar");
	struct infd_evalue *out_int[4] = {ta, ta, ev_int(0), ev_int(0)};
	CHECK_FAIL(call("aten::mul.out", out_int, 4), "out");
	struct infd_evalue *bad_ret[4] = {ta, ta, to, ev_tensor(a)};
	CHECK_FAIL(call("aten::mul.out", bad_ret, 4), "return slot");
	struct infd_evalue *ret_same_tensor[4] = {ta, ta, to, ev_tensor(out)};
	CHECK_OK(call("aten::mul.out", ret_same_tensor, 4));
	struct infd_evalue nt = {.kind = INFD_VALUE_TENSOR, .u.t = NULL};
	struct infd_evalue *null_t[4] = {&nt, ta, to, to};
	CHECK_FAIL(call("aten::mul.out", null_t, 4), "self");
	/* a kernel called without op_key names itself */
	const struct infd_kernel_def *def = infd__registry_find(reg, "aten::div.out");
	struct infd_kernel_ctx ctx = {.err = &err, .op_key = NULL, .n_threads = 1};
	infd__error_clear(&err);
	cr_assert_neq(def->fn(&ctx, four, 3), INFD_OK);
	cr_assert_not_null(strstr(err.msg, "aten::div.out"), "%s", err.msg);
	/* and without an error sink it still fails cleanly */
	ctx.err = NULL;
	cr_assert_neq(def->fn(&ctx, four, 3), INFD_OK);
}

Test(kernels, error_data_and_capacity)
{
	struct infd_tensor *a = tensor(F32, SHAPE(3));
	struct infd_tensor *b = tensor(F32, SHAPE(2, 3));
	struct infd_tensor *out = tensor(F32, SHAPE(3)); /* room for 3 elements only */
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(a), ev_tensor(b), ev_int(1), out),
		   "aten::add.out");
	cr_assert_not_null(strstr(err.msg, "[2,3]"), "%s", err.msg);
	check_shape(out, SHAPE(3));

	struct infd_tensor *nd = tensor(F32, SHAPE(3));
	nd->data = NULL;
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(nd), ev_tensor(a), ev_int(1), out), "data");
	CHECK_FAIL(call_bin("aten::mul.Scalar_out", ev_tensor(nd), ev_int(2), NULL, out), "data");
	struct infd_tensor *od = tensor(F32, SHAPE(3));
	od->data = NULL;
	od->capacity = 0;
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(a), ev_tensor(a), ev_int(1), od), "data");
	struct infd_tensor *co = tensor(F32, SHAPE(3));
	co->is_const = true;
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(a), ev_tensor(a), ev_int(1), co), "constant");
	struct infd_tensor *big = tensor(F32, SHAPE(3));
	big->rank = 200;
	CHECK_FAIL(call_bin("aten::add.out", ev_tensor(big), ev_tensor(a), ev_int(1), out), "rank");
}

/* ---- Randomized comparison against the reference -------------------------------------- */

static uint32_t random_shape(int32_t *sizes, uint32_t max_rank)
{
	uint32_t r = (uint32_t)rnd_range(0, (int)max_rank);
	for (uint32_t i = 0; i < r; i++)
		sizes[i] = rnd_range(0, 19) == 0 ? 0 : rnd_range(1, 5);
	return r;
}

/* A shape that broadcasts to `out`: a suffix of it with some dims set to 1. */
static uint32_t broadcastable(const int32_t *out, uint32_t r, int32_t *sizes)
{
	uint32_t k = (uint32_t)rnd_range(0, (int)r);
	for (uint32_t i = 0; i < k; i++)
		sizes[i] = rnd_range(0, 2) == 0 ? 1 : out[r - k + i];
	return k;
}

Test(kernels, random_against_reference)
{
	for (int iter = 0; iter < 1500; iter++) {
		size_t mark = n_allocs;
		enum rop op = (enum rop)rnd_range(0, 3);
		bool scalar = rnd_range(0, 2) == 0;
		int da = dts[rnd_range(0, 7)], db = dts[rnd_range(0, 7)];
		int32_t so[8], sa[8], sb[8];
		uint32_t ro = random_shape(so, 5);
		uint32_t ra = broadcastable(so, ro, sa), rb = broadcastable(so, ro, sb);
		/* make a or b carry the full rank so the result has shape `so` */
		if (rnd() & 1 || scalar) {
			ra = ro;
			memcpy(sa, so, sizeof so);
		} else {
			rb = ro;
			memcpy(sb, so, sizeof so);
		}
		struct infd_scalar sc = {0};
		double sval = 0;
		int p;
		if (scalar) {
			int kind = rnd_range(0, 2);
			if (kind == 0) {
				sc = (struct infd_scalar){.kind = INFD_VALUE_INT, .i = rnd_range(-9, 9)};
				sval = (double)sc.i;
			} else if (kind == 1) {
				sval = rnd_range(-400, 400) / 16.0;
				sc = (struct infd_scalar){.kind = INFD_VALUE_DOUBLE, .d = sval};
			} else {
				sc = (struct infd_scalar){.kind = INFD_VALUE_BOOL, .i = rnd() & 1};
				sval = (double)sc.i;
			}
			if (op == R_DIV && sval == 0)
				sval = sc.i = 1, sc.d = 1;
			/* PyTorch: a scalar only raises the category */
			int sdt = sc.kind == INFD_VALUE_BOOL ? B : sc.kind == INFD_VALUE_INT ? I64 : F32;
			int cat_t = da == B ? 0 : is_float(da) ? 2 : 1;
			int cat_s = sdt == B ? 0 : is_float(sdt) ? 2 : 1;
			p = cat_s > cat_t ? (cat_t == 0 ? sdt : F32) : da;
		} else {
			p = promo[dt_index(da)][dt_index(db)];
		}
		if (op == R_DIV && !is_float(p))
			p = F32;
		if (op == R_SUB && (da == B || (!scalar && db == B) ||
				    (scalar && sc.kind == INFD_VALUE_BOOL)))
			continue;
		double alpha = 1;
		struct infd_evalue *ev_alpha = NULL;
		if (op <= R_SUB) {
			if (p == B) {
				alpha = rnd() & 1;
				ev_alpha = rnd() & 1 ? ev_bool(alpha != 0) : ev_int((int64_t)alpha);
			} else if (is_float(p) && (rnd() & 1)) {
				alpha = rnd_range(-8, 8) / 4.0;
				ev_alpha = ev_double(alpha);
			} else {
				alpha = rnd_range(-3, 3);
				ev_alpha = ev_int((int64_t)alpha);
			}
		}
		/* out: the result dtype, or a wider castable one */
		int od = p;
		if (rnd_range(0, 3) == 0)
			od = p == B ? I32 : is_float(p) ? F64 : (rnd() & 1 ? I64 : F64);
		struct infd_tensor *a = tensor(da, ra, sa);
		struct infd_tensor *b = scalar ? NULL : tensor(db, rb, sb);
		struct infd_tensor *out = tensor_cap(od, SHAPE(2), 4096);
		fill_random(a, false);
		if (b)
			fill_random(b, op == R_DIV);
		struct infd_evalue *other;
		if (scalar)
			other = sc.kind == INFD_VALUE_INT ? ev_int(sc.i)
				: sc.kind == INFD_VALUE_BOOL ? ev_bool(sc.i != 0) : ev_double(sc.d);
		else
			other = ev_tensor(b);
		infd_status st = call_bin(scalar ? scalar_keys[op] : tensor_keys[op], ev_tensor(a),
					  other, ev_alpha, out);
		cr_assert_eq(st, INFD_OK, "iteration %d (%s %s %s -> %s): %s", iter,
			     infd_dtype_name(da), scalar ? scalar_keys[op] : tensor_keys[op],
			     scalar ? "scalar" : infd_dtype_name(db), infd_dtype_name(od), err.msg);
		check_shape(out, ro, so);
		check_ref(op, p, a, b, sval, alpha, out);
		while (n_allocs > mark) /* free this iteration's buffers */
			free(allocs[--n_allocs]);
	}
}
