/* Tests of the reduce-family kernels (runtime/kernels/reduce.c, softmax.c, norm.c,
 * pool.c): reductions, softmax, normalizations and pooling against plain
 * double-precision reference loops written here. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opref.h"

TestSuite(ops_reduce, .init = op_setup, .fini = op_teardown);

static const uint8_t CL4[4] = {0, 2, 3, 1};

/* ---- Helpers ------------------------------------------------------------------ */

/* An out tensor of shape [1] with room for cap elements: kernels must resize it. */
static struct infd_tensor *out_t(int dtype, uint64_t cap)
{
	return op_tensor_cap(dtype, SHAPE(1), cap + 64);
}

static double *dbuf(size_t n)
{
	return op_track(calloc(n ? n : 1, sizeof(double)));
}

static struct infd_evalue *ev_dims(int n, const int64_t *d)
{
	return n < 0 ? op_ev_null() : op_ev_int_list((uint32_t)n, d);
}

/* Step a row-major multi-index over sizes; false after the last one. Only dims with
 * (mask >> d & 1) == want are stepped. */
static bool next_idx(int64_t *idx, const int32_t *sizes, uint32_t rank, uint32_t mask, int want)
{
	for (int d = (int)rank - 1; d >= 0; d--) {
		if ((int)(mask >> d & 1u) != want)
			continue;
		if (++idx[d] < sizes[d])
			return true;
		idx[d] = 0;
	}
	return false;
}

static uint32_t wrap(int64_t d, uint32_t rank)
{
	int64_t r = rank ? rank : 1;
	return (uint32_t)(d < 0 ? d + r : d);
}

static uint32_t mask_of(const struct infd_tensor *t, int nd, const int64_t *dims)
{
	if (nd <= 0)
		return t->rank ? (1u << t->rank) - 1 : 0;
	uint32_t m = 0;
	for (int k = 0; k < nd; k++)
		if (t->rank)
			m |= 1u << wrap(dims[k], t->rank);
	return m;
}

static uint32_t reduced_shape(const struct infd_tensor *t, uint32_t mask, bool keepdim, int32_t *sizes)
{
	uint32_t r = 0;
	for (uint32_t d = 0; d < t->rank; d++) {
		if (!(mask >> d & 1u))
			sizes[r++] = t->sizes[d];
		else if (keepdim)
			sizes[r++] = 1;
	}
	return r;
}

/* Reference reduction: for each output (row-major over the kept dims) gather the
 * reduced elements in row-major order and apply fn. Returns the output count. */
typedef double (*ref_fn)(const double *v, size_t n, double arg);

static size_t ref_reduce(const struct infd_tensor *t, uint32_t mask, ref_fn fn, double arg, double *out)
{
	int64_t idx[INFD_MAX_RANK] = {0};
	double *buf = dbuf(t->numel);
	size_t k = 0;
	bool empty_kept = false, empty_red = false;
	for (uint32_t d = 0; d < t->rank; d++) {
		if (t->sizes[d] == 0) {
			if (mask >> d & 1u)
				empty_red = true;
			else
				empty_kept = true;
		}
	}
	if (empty_kept)
		return 0;
	do {
		size_t n = 0;
		for (uint32_t d = 0; d < t->rank; d++)
			if (mask >> d & 1u)
				idx[d] = 0;
		if (!empty_red)
			do
				buf[n++] = op_get_at(t, idx);
			while (next_idx(idx, t->sizes, t->rank, mask, 1));
		out[k++] = fn(buf, n, arg);
	} while (next_idx(idx, t->sizes, t->rank, mask, 0));
	return k;
}

static double r_sum(const double *v, size_t n, double a)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

static double r_mean(const double *v, size_t n, double a)
{
	return r_sum(v, n, 0) / (double)n;
}

static double r_var(const double *v, size_t n, double correction)
{
	double mu = r_mean(v, n, 0), s = 0;
	for (size_t i = 0; i < n; i++)
		s += (v[i] - mu) * (v[i] - mu);
	double dof = (double)n - correction;
	return s / (dof > 0 ? dof : 0);
}

static double r_max(const double *v, size_t n, double a)
{
	double m = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i]))
			return NAN;
		if (v[i] > m)
			m = v[i];
	}
	return m;
}

static double r_min(const double *v, size_t n, double a)
{
	double m = INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i]))
			return NAN;
		if (v[i] < m)
			m = v[i];
	}
	return m;
}

static double r_argmax(const double *v, size_t n, double a)
{
	size_t best = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i]))
			return (double)i;
		if (v[i] > v[best])
			best = i;
	}
	return (double)best;
}

static double r_argmin(const double *v, size_t n, double a)
{
	size_t best = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(v[i]))
			return (double)i;
		if (v[i] < v[best])
			best = i;
	}
	return (double)best;
}

/* Input tensor with random contents, optionally with a dim order. */
static struct infd_tensor *rnd_tensor(int dtype, uint32_t rank, const int32_t *sizes, const uint8_t *order,
				      double scale)
{
	struct infd_tensor *t = op_tensor_order(dtype, rank, sizes, order);
	op_fill_random(t, scale);
	return t;
}

/* Shapes for the reduction tests: rank, sizes, dim order (or none), dims (-1 None). */
struct rcase {
	uint32_t rank;
	int32_t sizes[4];
	const uint8_t *order;
	int nd;
	int64_t dims[4];
};

static const struct rcase rcases[] = {
    {3, {2, 3, 4}, NULL, 1, {1}},
    {3, {2, 3, 4}, NULL, 2, {0, 2}},
    {3, {2, 3, 4}, NULL, 1, {-1}},
    {3, {2, 3, 4}, NULL, 0, {0}},
    {3, {2, 3, 4}, NULL, -1, {0}},
    {3, {5, 1, 7}, NULL, 1, {1}},
    {3, {5, 1, 7}, NULL, 2, {-3, 2}},
    {1, {1000}, NULL, 1, {0}},
    {2, {3, 600}, NULL, 1, {0}},
    {2, {600, 5}, NULL, 1, {1}},
    {2, {7, 300}, NULL, 1, {-1}},
    {4, {2, 3, 4, 5}, NULL, 2, {0, 2}},
    {4, {2, 3, 4, 5}, NULL, 2, {1, 3}},
    {4, {3, 5, 7, 2}, CL4, 1, {1}},
    {4, {3, 5, 7, 2}, CL4, 2, {2, 3}},
    {4, {3, 5, 7, 2}, CL4, 3, {0, 2, 3}},
    {4, {3, 5, 7, 2}, CL4, -1, {0}},
    {2, {0, 3}, NULL, 1, {0}},
    {2, {0, 3}, NULL, 1, {1}},
    {0, {0}, NULL, -1, {0}},
    {0, {0}, NULL, 1, {-1}},
};
#define N_RCASES (sizeof rcases / sizeof rcases[0])

/* Run a [self, dim, keepdim, (dtype,) out, ret] reduction and check it. */
static void check_reduction(const char *key, int in_dt, int out_dt, bool with_dtype, ref_fn fn, double rtol,
			    double atol)
{
	for (size_t c = 0; c < N_RCASES; c++)
		for (int kd = 0; kd < 2; kd++) {
			const struct rcase *rc = &rcases[c];
			struct infd_tensor *in = rnd_tensor(in_dt, rc->rank, rc->sizes, rc->order, 3.0);
			struct infd_tensor *out = out_t(out_dt, in->numel + 1);
			infd_status st;
			if (with_dtype)
				st = OP_CALL(key, op_ev_tensor(in), ev_dims(rc->nd, rc->dims), op_ev_bool(kd),
					     op_ev_null(), op_ev_tensor(out), op_ev_tensor(out));
			else
				st = OP_CALL(key, op_ev_tensor(in), ev_dims(rc->nd, rc->dims), op_ev_bool(kd),
					     op_ev_tensor(out), op_ev_tensor(out));
			cr_assert_eq(st, INFD_OK, "%s case %zu keepdim %d: %s", key, c, kd, op_err.msg);
			uint32_t mask = mask_of(in, rc->nd, rc->dims);
			int32_t sizes[INFD_MAX_RANK];
			uint32_t r = reduced_shape(in, mask, kd, sizes);
			op_check_shape(out, r, sizes);
			double *want = dbuf(out->numel);
			size_t n = ref_reduce(in, mask, fn, 0, want);
			cr_assert_eq(n, out->numel, "case %zu: %zu outputs, expected %llu", c, n,
				     (unsigned long long)out->numel);
			for (size_t k = 0; k < n; k++) {
				double g = op_get(out, k);
				if (isnan(want[k]) && isnan(g))
					continue;
				cr_assert(fabs(g - want[k]) <= atol + rtol * fabs(want[k]),
					  "%s case %zu keepdim %d element %zu: %.9g, expected %.9g", key, c, kd, k, g,
					  want[k]);
			}
		}
}

/* ---- sum / mean ----------------------------------------------------------------- */

Test(ops_reduce, sum_f32_shapes)
{
	check_reduction("aten::sum.IntList_out", F32, F32, true, r_sum, 1e-6, 1e-6);
}

Test(ops_reduce, sum_f64_and_mixed)
{
	check_reduction("aten::sum.IntList_out", F64, F64, true, r_sum, 1e-12, 1e-12);
	/* float32 input summed into a float64 out (no dtype: out decides) */
	check_reduction("aten::sum.IntList_out", F32, F64, true, r_sum, 1e-12, 1e-12);
}

Test(ops_reduce, sum_accuracy_long_row)
{
	/* 2^20 elements of 0.1f: a float accumulator would drift by ~1e-3 relative. */
	int32_t n = 1 << 20;
	struct infd_tensor *in = op_tensor(F32, 1, &n), *out = out_t(F32, 1);
	for (int32_t i = 0; i < n; i++)
		((float *)in->data)[i] = 0.1f;
	CHECK_OK(OP_CALL("aten::sum.IntList_out", op_ev_tensor(in), op_ev_null(), op_ev_bool(false), op_ev_null(),
			 op_ev_tensor(out), op_ev_tensor(out)));
	double want = (double)0.1f * n;
	cr_assert_eq(out->rank, 0);
	cr_assert((float)want == op_get(out, 0), "%.9g vs %.9g", op_get(out, 0), want);
}

Test(ops_reduce, sum_integers)
{
	/* int32 into int64 out, int8 with dtype=int64, bool counts, uint8 wraps. */
	struct infd_tensor *a = rnd_tensor(I32, SHAPE(4, 9), NULL, 0);
	struct infd_tensor *o = out_t(I64, 16);
	CHECK_OK(OP_CALL("aten::sum.IntList_out", op_ev_tensor(a), op_ev_int_list(1, (int64_t[]){1}), op_ev_bool(false),
			 op_ev_null(), op_ev_tensor(o), op_ev_tensor(o)));
	op_check_shape(o, SHAPE(4));
	for (int i = 0; i < 4; i++) {
		int64_t s = 0;
		for (int j = 0; j < 9; j++)
			s += op_get_i(a, (uint64_t)(i * 9 + j));
		cr_assert_eq(op_get_i(o, (uint64_t)i), s);
	}

	struct infd_tensor *b = rnd_tensor(I8, SHAPE(3, 50), NULL, 0);
	o = out_t(I64, 4);
	CHECK_OK(OP_CALL("aten::sum.IntList_out", op_ev_tensor(b), op_ev_int_list(1, (int64_t[]){0}), op_ev_bool(true),
			 op_ev_int(I64), op_ev_tensor(o), op_ev_tensor(o)));
	op_check_shape(o, SHAPE(1, 50));
	for (int j = 0; j < 50; j++) {
		int64_t s = 0;
		for (int i = 0; i < 3; i++)
			s += op_get_i(b, (uint64_t)(i * 50 + j));
		cr_assert_eq(op_get_i(o, (uint64_t)j), s);
	}

	struct infd_tensor *m = rnd_tensor(B, SHAPE(7, 11), NULL, 0);
	o = out_t(I64, 1);
	CHECK_OK(OP_CALL("aten::sum.IntList_out", op_ev_tensor(m), op_ev_int_list(0, NULL), op_ev_bool(false),
			 op_ev_null(), op_ev_tensor(o), op_ev_tensor(o)));
	int64_t cnt = 0;
	for (uint64_t k = 0; k < m->numel; k++)
		cnt += op_get_i(m, k);
	cr_assert_eq(op_get_i(o, 0), cnt);

	struct infd_tensor *u = op_tensor(U8, SHAPE(300));
	for (int k = 0; k < 300; k++)
		op_set(u, (uint64_t)k, 200);
	o = out_t(U8, 1);
	CHECK_OK(OP_CALL("aten::sum.IntList_out", op_ev_tensor(u), op_ev_null(), op_ev_bool(false), op_ev_null(),
			 op_ev_tensor(o), op_ev_tensor(o)));
	cr_assert_eq(op_get_i(o, 0), (300 * 200) % 256);

	/* float input into an int64 out: each element is cast (truncated) first. */
	struct infd_tensor *f = op_tensor(F32, SHAPE(4));
	const double fv[4] = {1.7, -2.9, 3.5, 0.4};
	for (int k = 0; k < 4; k++)
		op_set(f, (uint64_t)k, fv[k]);
	o = out_t(I64, 1);
	CHECK_OK(OP_CALL("aten::sum.IntList_out", op_ev_tensor(f), op_ev_null(), op_ev_bool(false), op_ev_null(),
			 op_ev_tensor(o), op_ev_tensor(o)));
	cr_assert_eq(op_get_i(o, 0), 1 - 2 + 3 + 0);
}

Test(ops_reduce, sum_half_types)
{
	struct infd_tensor *h = rnd_tensor(F16, SHAPE(6, 40), NULL, 2.0);
	struct infd_tensor *o = out_t(F32, 8);
	CHECK_OK(OP_CALL("aten::sum.IntList_out", op_ev_tensor(h), op_ev_int_list(1, (int64_t[]){1}), op_ev_bool(false),
			 op_ev_int(F32), op_ev_tensor(o), op_ev_tensor(o)));
	double *want = dbuf(6);
	ref_reduce(h, 2, r_sum, 0, want);
	op_check_close(o, want, 1e-6, 1e-6);

	struct infd_tensor *bf = rnd_tensor(BF16, SHAPE(5, 3), NULL, 2.0);
	o = out_t(BF16, 8);
	CHECK_OK(OP_CALL("aten::sum.IntList_out", op_ev_tensor(bf), op_ev_int_list(1, (int64_t[]){0}),
			 op_ev_bool(false), op_ev_null(), op_ev_tensor(o), op_ev_tensor(o)));
	want = dbuf(3);
	ref_reduce(bf, 1, r_sum, 0, want);
	op_check_close(o, want, 1e-2, 1e-2);
}

Test(ops_reduce, sum_out_and_mean_dtype_out)
{
	struct infd_tensor *in = rnd_tensor(F32, SHAPE(3, 4, 5), NULL, 1.0);
	struct infd_tensor *o = out_t(F32, 1);
	CHECK_OK(OP_CALL("aten::sum.out", op_ev_tensor(in), op_ev_null(), op_ev_tensor(o), op_ev_tensor(o)));
	double want;
	ref_reduce(in, 7, r_sum, 0, &want);
	op_check_shape(o, SCALAR_SHAPE);
	op_check_close(o, &want, 1e-6, 1e-6);

	struct infd_tensor *od = out_t(F64, 1);
	CHECK_OK(OP_CALL("aten::mean.dtype_out", op_ev_tensor(in), op_ev_int(F64), op_ev_tensor(od), op_ev_tensor(od)));
	ref_reduce(in, 7, r_mean, 0, &want);
	op_check_close(od, &want, 1e-12, 1e-12);

	struct infd_tensor *ii = rnd_tensor(I32, SHAPE(10), NULL, 0);
	o = out_t(F32, 1);
	CHECK_OK(OP_CALL("aten::mean.dtype_out", op_ev_tensor(ii), op_ev_int(F32), op_ev_tensor(o), op_ev_tensor(o)));
	ref_reduce(ii, 1, r_mean, 0, &want);
	op_check_close(o, &want, 1e-6, 1e-6);
}

Test(ops_reduce, mean_f32_shapes)
{
	check_reduction("aten::mean.out", F32, F32, true, r_mean, 1e-6, 1e-6);
}

Test(ops_reduce, mean_semantics)
{
	/* dim=[] and dim=None both reduce everything. */
	struct infd_tensor *in = rnd_tensor(F32, SHAPE(3, 7), NULL, 1.0);
	struct infd_tensor *a = out_t(F32, 4), *b = out_t(F32, 4);
	CHECK_OK(OP_CALL("aten::mean.out", op_ev_tensor(in), op_ev_int_list(0, NULL), op_ev_bool(true), op_ev_null(),
			 op_ev_tensor(a), op_ev_tensor(a)));
	CHECK_OK(OP_CALL("aten::mean.out", op_ev_tensor(in), op_ev_null(), op_ev_bool(true), op_ev_null(),
			 op_ev_tensor(b), op_ev_tensor(b)));
	op_check_shape(a, SHAPE(1, 1));
	op_check_shape(b, SHAPE(1, 1));
	cr_assert_eq(op_get(a, 0), op_get(b, 0));

	/* mean over an empty dim is NaN; integer input needs a dtype; int32 with dtype. */
	struct infd_tensor *e = op_tensor(F32, SHAPE(2, 0));
	struct infd_tensor *o = out_t(F32, 4);
	CHECK_OK(OP_CALL("aten::mean.out", op_ev_tensor(e), op_ev_int_list(1, (int64_t[]){1}), op_ev_bool(false),
			 op_ev_null(), op_ev_tensor(o), op_ev_tensor(o)));
	op_check_shape(o, SHAPE(2));
	cr_assert(isnan(op_get(o, 0)) && isnan(op_get(o, 1)));

	struct infd_tensor *ii = rnd_tensor(I64, SHAPE(4, 6), NULL, 0);
	o = out_t(F32, 8);
	CHECK_FAIL(OP_CALL("aten::mean.out", op_ev_tensor(ii), op_ev_int_list(1, (int64_t[]){1}), op_ev_bool(false),
			   op_ev_null(), op_ev_tensor(o), op_ev_tensor(o)),
		   "could not infer the output dtype");
	CHECK_OK(OP_CALL("aten::mean.out", op_ev_tensor(ii), op_ev_int_list(1, (int64_t[]){1}), op_ev_bool(false),
			 op_ev_int(F32), op_ev_tensor(o), op_ev_tensor(o)));
	double want[4];
	ref_reduce(ii, 2, r_mean, 0, want);
	op_check_close(o, want, 1e-6, 0);

	struct infd_tensor *oi = out_t(I64, 8);
	CHECK_FAIL(OP_CALL("aten::mean.out", op_ev_tensor(in), op_ev_null(), op_ev_bool(false), op_ev_null(),
			   op_ev_tensor(oi), op_ev_tensor(oi)),
		   "floating dtype");
	CHECK_FAIL(OP_CALL("aten::mean.out", op_ev_tensor(in), op_ev_null(), op_ev_bool(false), op_ev_int(F64),
			   op_ev_tensor(o), op_ev_tensor(o)),
		   "dtype argument");
}

Test(ops_reduce, reduction_errors)
{
	struct infd_tensor *in = rnd_tensor(F32, SHAPE(3, 4), NULL, 1.0);
	struct infd_tensor *o = out_t(F32, 16);
	CHECK_FAIL(OP_CALL("aten::sum.IntList_out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){2}),
			   op_ev_bool(false), op_ev_null(), op_ev_tensor(o), op_ev_tensor(o)),
		   "out of range");
	CHECK_FAIL(OP_CALL("aten::sum.IntList_out", op_ev_tensor(in), op_ev_int_list(2, (int64_t[]){1, -1}),
			   op_ev_bool(false), op_ev_null(), op_ev_tensor(o), op_ev_tensor(o)),
		   "appears multiple times");
	CHECK_FAIL(OP_CALL("aten::sum.IntList_out", op_ev_tensor(in), op_ev_int(1), op_ev_bool(false), op_ev_null(),
			   op_ev_tensor(o), op_ev_tensor(o)),
		   "int list");
	CHECK_FAIL(OP_CALL("aten::sum.IntList_out", op_ev_tensor(in), op_ev_null(), op_ev_bool(false), op_ev_int(99),
			   op_ev_tensor(o), op_ev_tensor(o)),
		   "dtype 99");
	/* out too small for the result */
	struct infd_tensor *small = op_tensor(F32, SHAPE(1));
	CHECK_FAIL(OP_CALL("aten::sum.IntList_out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){0}),
			   op_ev_bool(false), op_ev_null(), op_ev_tensor(small), op_ev_tensor(small)),
		   "aten::sum.IntList_out: cannot resize");
	/* out aliasing self, wrong argument count, quantized dtype */
	CHECK_FAIL(OP_CALL("aten::sum.IntList_out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){0}),
			   op_ev_bool(false), op_ev_null(), op_ev_tensor(in), op_ev_tensor(in)),
		   "share memory");
	struct infd_kernel_ctx ctx = {.err = &op_err, .op_key = "aten::sum.IntList_out", .n_threads = 1};
	struct infd_evalue *args[2] = {op_ev_tensor(in), op_ev_null()};
	CHECK_FAIL(infd__registry_find(op_reg, "aten::sum.IntList_out")->fn(&ctx, args, 2), "expected 6 arguments");
	struct infd_tensor *q = op_tensor(INFD_DTYPE_QINT8, SHAPE(4));
	CHECK_FAIL(OP_CALL("aten::sum.IntList_out", op_ev_tensor(q), op_ev_null(), op_ev_bool(false), op_ev_null(),
			   op_ev_tensor(o), op_ev_tensor(o)),
		   "unsupported dtype");
	/* NULL data in a non-empty input */
	struct infd_tensor *nd = op_tensor(F32, SHAPE(2));
	nd->data = NULL;
	CHECK_FAIL(OP_CALL("aten::sum.IntList_out", op_ev_tensor(nd), op_ev_null(), op_ev_bool(false), op_ev_null(),
			   op_ev_tensor(o), op_ev_tensor(o)),
		   "no data");
}

/* ---- amax / amin / argmax / argmin / var ---------------------------------------- */

static void check_minmax(const char *key, ref_fn fn)
{
	for (size_t c = 0; c < N_RCASES; c++)
		for (int kd = 0; kd < 2; kd++) {
			const struct rcase *rc = &rcases[c];
			struct infd_tensor *in = rnd_tensor(F32, rc->rank, rc->sizes, rc->order, 5.0);
			struct infd_tensor *out = out_t(F32, in->numel + 1);
			uint32_t mask = mask_of(in, rc->nd, rc->dims);
			int64_t dims[4];
			int nd = rc->nd < 0 ? 0 : rc->nd; /* amax has no None */
			memcpy(dims, rc->dims, sizeof dims);
			bool empty_red = false;
			for (uint32_t d = 0; d < in->rank; d++)
				empty_red |= (mask >> d & 1u) && in->sizes[d] == 0;
			/* a NaN in some rows */
			if (in->numel > 10 && c % 2)
				op_set(in, in->numel / 3, NAN);
			infd_status st = OP_CALL(key, op_ev_tensor(in), op_ev_int_list((uint32_t)nd, dims),
						 op_ev_bool(kd), op_ev_tensor(out), op_ev_tensor(out));
			if (empty_red) {
				CHECK_FAIL(st, "non-zero size");
				continue;
			}
			cr_assert_eq(st, INFD_OK, "%s case %zu: %s", key, c, op_err.msg);
			int32_t sizes[INFD_MAX_RANK];
			uint32_t r = reduced_shape(in, mask, kd, sizes);
			op_check_shape(out, r, sizes);
			double *want = dbuf(out->numel);
			ref_reduce(in, mask, fn, 0, want);
			op_check_close(out, want, 0, 0);
		}
}

Test(ops_reduce, amax_amin_f32)
{
	check_minmax("aten::amax.out", r_max);
	check_minmax("aten::amin.out", r_min);
}

Test(ops_reduce, amax_other_dtypes)
{
	const int dts[] = {I32, I64, U8, I8, B, F64, F16};
	for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
		struct infd_tensor *in = rnd_tensor(dts[k], SHAPE(4, 5, 6), NULL, 4.0);
		struct infd_tensor *o = out_t(dts[k], 64);
		CHECK_OK(OP_CALL("aten::amax.out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){1}),
				 op_ev_bool(false), op_ev_tensor(o), op_ev_tensor(o)));
		double want[24];
		ref_reduce(in, 2, r_max, 0, want);
		op_check_close(o, want, 0, 0);
		CHECK_OK(OP_CALL("aten::amin.out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){0}),
				 op_ev_bool(false), op_ev_tensor(o), op_ev_tensor(o)));
		double want2[30];
		ref_reduce(in, 1, r_min, 0, want2);
		op_check_close(o, want2, 0, 0);
	}
	/* int64 extremes compare exactly (no detour through double) */
	struct infd_tensor *big = op_tensor(I64, SHAPE(2));
	((int64_t *)big->data)[0] = INT64_MAX - 1;
	((int64_t *)big->data)[1] = INT64_MAX;
	struct infd_tensor *o = out_t(I64, 1);
	CHECK_OK(OP_CALL("aten::amax.out", op_ev_tensor(big), op_ev_int_list(0, NULL), op_ev_bool(false),
			 op_ev_tensor(o), op_ev_tensor(o)));
	cr_assert_eq(((int64_t *)o->data)[0], INT64_MAX);

	struct infd_tensor *f = rnd_tensor(F32, SHAPE(3), NULL, 1.0);
	struct infd_tensor *of = out_t(F64, 1);
	CHECK_FAIL(OP_CALL("aten::amax.out", op_ev_tensor(f), op_ev_int_list(0, NULL), op_ev_bool(false),
			   op_ev_tensor(of), op_ev_tensor(of)),
		   "expected float32");
	CHECK_FAIL(OP_CALL("aten::amax.out", op_ev_tensor(f), op_ev_null(), op_ev_bool(false), op_ev_tensor(of),
			   op_ev_tensor(of)),
		   "int list");
	/* an all-empty input reduced over everything */
	struct infd_tensor *e = op_tensor(F32, SHAPE(0, 3));
	struct infd_tensor *oe = out_t(F32, 4);
	CHECK_FAIL(OP_CALL("aten::amin.out", op_ev_tensor(e), op_ev_int_list(0, NULL), op_ev_bool(false),
			   op_ev_tensor(oe), op_ev_tensor(oe)),
		   "non-zero size");
}

static void check_arg(const char *key, ref_fn fn)
{
	static const struct {
		uint32_t rank;
		int32_t sizes[4];
		const uint8_t *order;
		int dim; /* 99: None */
	} cases[] = {
	    {2, {6, 9}, NULL, 1},       {2, {6, 9}, NULL, 0},  {2, {6, 9}, NULL, -2},     {3, {4, 300, 3}, NULL, 1},
	    {1, {700}, NULL, 0},        {2, {6, 9}, NULL, 99}, {4, {2, 3, 4, 5}, CL4, 1}, {4, {2, 3, 4, 5}, CL4, 3},
	    {4, {2, 3, 4, 5}, CL4, 99}, {0, {0}, NULL, 99},    {0, {0}, NULL, 0},         {2, {0, 4}, NULL, 1},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
		for (int kd = 0; kd < 2; kd++) {
			struct infd_tensor *in = op_tensor_order(F32, cases[c].rank, cases[c].sizes, cases[c].order);
			/* small integers: many ties, so the first occurrence matters */
			for (uint64_t k = 0; k < in->numel; k++)
				op_set(in, k, op_rnd_range(-3, 3));
			if (c == 1 || c == 4) {
				op_set(in, 7, NAN);
				op_set(in, 20, NAN);
			}
			struct infd_tensor *out = out_t(I64, in->numel + 1);
			int dim = cases[c].dim;
			CHECK_OK(OP_CALL(key, op_ev_tensor(in), dim == 99 ? op_ev_null() : op_ev_int(dim),
					 op_ev_bool(kd), op_ev_tensor(out), op_ev_tensor(out)));
			uint32_t mask = dim == 99 ? mask_of(in, -1, NULL) : in->rank ? 1u << wrap(dim, in->rank) : 0;
			int32_t sizes[INFD_MAX_RANK];
			uint32_t r = reduced_shape(in, mask, kd, sizes);
			op_check_shape(out, r, sizes);
			double *want = dbuf(out->numel);
			ref_reduce(in, mask, fn, 0, want);
			for (uint64_t k = 0; k < out->numel; k++)
				cr_assert_eq(op_get_i(out, k), (int64_t)want[k],
					     "%s case %zu kd %d element %llu: %lld, expected %g", key, c, kd,
					     (unsigned long long)k, (long long)op_get_i(out, k), want[k]);
		}
}

Test(ops_reduce, argmax_argmin)
{
	check_arg("aten::argmax.out", r_argmax);
	check_arg("aten::argmin.out", r_argmin);

	struct infd_tensor *ii = rnd_tensor(I32, SHAPE(5, 7), NULL, 0);
	struct infd_tensor *o = out_t(I64, 8);
	CHECK_OK(OP_CALL("aten::argmax.out", op_ev_tensor(ii), op_ev_int(0), op_ev_bool(false), op_ev_tensor(o),
			 op_ev_tensor(o)));
	double want[7];
	ref_reduce(ii, 1, r_argmax, 0, want);
	op_check_close(o, want, 0, 0);

	struct infd_tensor *b = rnd_tensor(B, SHAPE(5), NULL, 0);
	CHECK_FAIL(OP_CALL("aten::argmax.out", op_ev_tensor(b), op_ev_null(), op_ev_bool(false), op_ev_tensor(o),
			   op_ev_tensor(o)),
		   "unsupported dtype bool");
	struct infd_tensor *of = out_t(F32, 8);
	CHECK_FAIL(OP_CALL("aten::argmin.out", op_ev_tensor(ii), op_ev_int(0), op_ev_bool(false), op_ev_tensor(of),
			   op_ev_tensor(of)),
		   "int64");
	struct infd_tensor *e = op_tensor(F32, SHAPE(0, 4));
	CHECK_FAIL(OP_CALL("aten::argmax.out", op_ev_tensor(e), op_ev_null(), op_ev_bool(false), op_ev_tensor(o),
			   op_ev_tensor(o)),
		   "empty input");
	CHECK_FAIL(OP_CALL("aten::argmax.out", op_ev_tensor(e), op_ev_int(0), op_ev_bool(false), op_ev_tensor(o),
			   op_ev_tensor(o)),
		   "non-zero size");
	CHECK_FAIL(OP_CALL("aten::argmax.out", op_ev_tensor(ii), op_ev_int(-3), op_ev_bool(false), op_ev_tensor(o),
			   op_ev_tensor(o)),
		   "out of range");
}

Test(ops_reduce, var)
{
	const double corrections[] = {1, 0, 2.5};
	for (size_t c = 0; c < N_RCASES; c++)
		for (size_t q = 0; q < 3; q++) {
			const struct rcase *rc = &rcases[c];
			struct infd_tensor *in = rnd_tensor(F32, rc->rank, rc->sizes, rc->order, 2.0);
			for (uint64_t k = 0; k < in->numel; k++)
				op_set(in, k, op_get(in, k) + 100.0); /* an offset that naive sums mind */
			struct infd_tensor *out = out_t(F32, in->numel + 1);
			bool kd = q == 1;
			CHECK_OK(OP_CALL("aten::var.correction_out", op_ev_tensor(in), ev_dims(rc->nd, rc->dims),
					 q == 0 ? op_ev_null() : op_ev_double(corrections[q]), op_ev_bool(kd),
					 op_ev_tensor(out), op_ev_tensor(out)));
			uint32_t mask = mask_of(in, rc->nd, rc->dims);
			int32_t sizes[INFD_MAX_RANK];
			uint32_t r = reduced_shape(in, mask, kd, sizes);
			op_check_shape(out, r, sizes);
			double *want = dbuf(out->numel);
			ref_reduce(in, mask, r_var, corrections[q], want);
			for (uint64_t k = 0; k < out->numel; k++) {
				double g = op_get(out, k);
				if ((isnan(g) && isnan(want[k])) || (isinf(g) && g == want[k]))
					continue;
				cr_assert(fabs(g - want[k]) <= 1e-5 * fabs(want[k]) + 1e-6,
					  "case %zu q %zu element %llu: %.9g vs %.9g", c, q, (unsigned long long)k, g,
					  want[k]);
			}
		}
	/* var.out with unbiased=false; integer input refused */
	struct infd_tensor *in = rnd_tensor(F64, SHAPE(4, 6), NULL, 1.0);
	struct infd_tensor *o = out_t(F64, 8);
	CHECK_OK(OP_CALL("aten::var.out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){1}), op_ev_bool(false),
			 op_ev_bool(false), op_ev_tensor(o), op_ev_tensor(o)));
	double want[4];
	ref_reduce(in, 2, r_var, 0, want);
	op_check_close(o, want, 1e-12, 1e-14);
	struct infd_tensor *ii = rnd_tensor(I32, SHAPE(4), NULL, 0);
	CHECK_FAIL(OP_CALL("aten::var.out", op_ev_tensor(ii), op_ev_null(), op_ev_bool(true), op_ev_bool(false),
			   op_ev_tensor(o), op_ev_tensor(o)),
		   "floating dtype");
}

/* ---- softmax -------------------------------------------------------------------- */

static void ref_softmax(const struct infd_tensor *in, uint32_t dim, bool logsm, double *want)
{
	/* want is in logical row-major order */
	uint32_t r = in->rank;
	int64_t idx[INFD_MAX_RANK] = {0};
	int64_t L = r ? in->sizes[dim] : 1;
	uint32_t mask = r ? 1u << dim : 0;
	int64_t lstride = 1; /* logical stride of dim */
	for (uint32_t d = dim + 1; d < r; d++)
		lstride *= in->sizes[d];
	if (in->numel == 0)
		return;
	do {
		int64_t base = 0;
		for (uint32_t d = 0; d < r; d++)
			base = base * in->sizes[d] + idx[d];
		double mx = -INFINITY, s = 0;
		int64_t j[INFD_MAX_RANK];
		memcpy(j, idx, sizeof j);
		for (int64_t l = 0; l < L; l++) {
			if (r)
				j[dim] = l;
			double v = op_get_at(in, j);
			mx = isnan(v) || v > mx ? v : mx;
		}
		for (int64_t l = 0; l < L; l++) {
			if (r)
				j[dim] = l;
			s += exp(op_get_at(in, j) - mx);
		}
		for (int64_t l = 0; l < L; l++) {
			if (r)
				j[dim] = l;
			double v = op_get_at(in, j) - mx;
			want[base + l * lstride] = logsm ? v - log(s) : exp(v) / s;
		}
	} while (next_idx(idx, in->sizes, r, mask, 0));
}

/* Elements of t in logical row-major order (any dim order). */
static double *logical_values(const struct infd_tensor *t)
{
	double *v = dbuf(t->numel);
	int64_t idx[INFD_MAX_RANK] = {0};
	if (!t->numel)
		return v;
	uint64_t k = 0;
	do
		v[k++] = op_get_at(t, idx);
	while (next_idx(idx, t->sizes, t->rank, 0, 0));
	return v;
}

static void check_close_logical(const struct infd_tensor *t, const double *want, double rtol, double atol,
				const char *what)
{
	double *got = logical_values(t);
	for (uint64_t k = 0; k < t->numel; k++) {
		if ((isnan(got[k]) && isnan(want[k])) || got[k] == want[k])
			continue;
		cr_assert(fabs(got[k] - want[k]) <= atol + rtol * fabs(want[k]), "%s element %llu: %.9g, expected %.9g",
			  what, (unsigned long long)k, got[k], want[k]);
	}
}

Test(ops_reduce, softmax_and_log_softmax)
{
	static const struct {
		uint32_t rank;
		int32_t sizes[4];
		const uint8_t *in_order, *out_order;
		int dim;
	} cases[] = {
	    {2, {4, 16}, NULL, NULL, -1},     {2, {3, 1000}, NULL, NULL, 1},    {2, {37, 5}, NULL, NULL, 0},
	    {4, {2, 3, 5, 7}, NULL, NULL, 0}, {4, {2, 3, 5, 7}, NULL, NULL, 1}, {4, {2, 3, 5, 7}, NULL, NULL, 2},
	    {4, {2, 3, 5, 7}, NULL, NULL, 3}, {4, {2, 3, 5, 7}, CL4, NULL, 1},  {4, {2, 3, 5, 7}, CL4, CL4, 3},
	    {4, {2, 3, 5, 7}, CL4, CL4, 1},   {3, {2, 300, 3}, NULL, NULL, 1},  {3, {4, 1, 6}, NULL, NULL, 1},
	    {0, {0}, NULL, NULL, 0},          {2, {0, 5}, NULL, NULL, 1},       {3, {2, 600, 2}, NULL, NULL, 2},
	};
	for (int lg = 0; lg < 2; lg++) {
		const char *key = lg ? "aten::_log_softmax.out" : "aten::_softmax.out";
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
			struct infd_tensor *in = rnd_tensor(F32, cases[c].rank, cases[c].sizes, cases[c].in_order, 8.0);
			if (c == 1) { /* large magnitudes and -inf */
				for (uint64_t k = 0; k < in->numel; k++)
					op_set(in, k, op_get(in, k) * 100);
				op_set(in, 5, -INFINITY);
			}
			if (c == 2)
				op_set(in, 3, NAN); /* one column of NaN */
			struct infd_tensor *out =
			    op_tensor_order(F32, cases[c].rank, cases[c].sizes, cases[c].out_order);
			CHECK_OK(OP_CALL(key, op_ev_tensor(in), op_ev_int(cases[c].dim), op_ev_bool(false),
					 op_ev_tensor(out), op_ev_tensor(out)));
			double *want = dbuf(in->numel);
			ref_softmax(in, in->rank ? wrap(cases[c].dim, in->rank) : 0, lg, want);
			check_close_logical(out, want, 2e-6, 1e-7, key);
		}
	}
}

Test(ops_reduce, softmax_special)
{
	/* in place, an all -inf row (NaN like PyTorch), +inf */
	struct infd_tensor *t = rnd_tensor(F32, SHAPE(3, 50), NULL, 3.0);
	double *want = dbuf(150);
	ref_softmax(t, 1, false, want);
	CHECK_OK(OP_CALL("aten::_softmax.out", op_ev_tensor(t), op_ev_int(1), op_ev_bool(false), op_ev_tensor(t),
			 op_ev_tensor(t)));
	op_check_close(t, want, 2e-6, 1e-7);

	struct infd_tensor *s = op_tensor(F32, SHAPE(2, 3));
	const float v[6] = {-INFINITY, -INFINITY, -INFINITY, INFINITY, 0, 1};
	memcpy(s->data, v, sizeof v);
	struct infd_tensor *o = out_t(F32, 6);
	CHECK_OK(OP_CALL("aten::_softmax.out", op_ev_tensor(s), op_ev_int(1), op_ev_bool(false), op_ev_tensor(o),
			 op_ev_tensor(o)));
	for (int k = 0; k < 3; k++)
		cr_assert(isnan(op_get(o, (uint64_t)k)));
	for (int k = 3; k < 6; k++) /* inf - inf poisons the sum, as in PyTorch */
		cr_assert(isnan(op_get(o, (uint64_t)k)));

	/* a big spread: exp underflows to exactly 0 for the small ones */
	struct infd_tensor *u = op_tensor(F32, SHAPE(3));
	const float uv[3] = {0, -200, -90};
	memcpy(u->data, uv, sizeof uv);
	CHECK_OK(OP_CALL("aten::_softmax.out", op_ev_tensor(u), op_ev_int(0), op_ev_bool(false), op_ev_tensor(o),
			 op_ev_tensor(o)));
	cr_assert_eq(op_get(o, 0), 1.0);
	cr_assert_eq(op_get(o, 1), 0.0);
	CHECK_OK(OP_CALL("aten::_log_softmax.out", op_ev_tensor(u), op_ev_int(0), op_ev_bool(false), op_ev_tensor(o),
			 op_ev_tensor(o)));
	cr_assert_eq(op_get(o, 1), -200.0);

	CHECK_FAIL(OP_CALL("aten::_softmax.out", op_ev_tensor(u), op_ev_int(0), op_ev_bool(true), op_ev_tensor(o),
			   op_ev_tensor(o)),
		   "half_to_float");
	CHECK_FAIL(OP_CALL("aten::_softmax.out", op_ev_tensor(u), op_ev_int(1), op_ev_bool(false), op_ev_tensor(o),
			   op_ev_tensor(o)),
		   "out of range");
	struct infd_tensor *d = rnd_tensor(F64, SHAPE(3), NULL, 1.0);
	CHECK_FAIL(OP_CALL("aten::_log_softmax.out", op_ev_tensor(d), op_ev_int(0), op_ev_bool(false), op_ev_tensor(o),
			   op_ev_tensor(o)),
		   "only float32");
	struct infd_tensor *oi = out_t(I64, 4);
	CHECK_FAIL(OP_CALL("aten::_softmax.out", op_ev_tensor(u), op_ev_int(0), op_ev_bool(false), op_ev_tensor(oi),
			   op_ev_tensor(oi)),
		   "out has dtype int64");
}

/* ---- normalizations ------------------------------------------------------------- */

static struct infd_evalue *ev_list3(struct infd_tensor *a, struct infd_tensor *b, struct infd_tensor *c)
{
	return op_ev_tensor_list(3, (struct infd_tensor *[]){a, b, c});
}

Test(ops_reduce, layer_norm)
{
	static const struct {
		uint32_t rank;
		int32_t sizes[4];
		int nn;
		bool w, b;
	} cases[] = {
	    {3, {2, 5, 64}, 1, true, true},    {3, {2, 5, 64}, 2, true, false}, {2, {7, 33}, 1, false, true},
	    {3, {1, 16, 64}, 1, false, false}, {1, {10}, 1, true, true},        {2, {0, 8}, 1, true, true},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint32_t rank = cases[c].rank;
		int nn = cases[c].nn;
		struct infd_tensor *in = rnd_tensor(F32, rank, cases[c].sizes, NULL, 3.0);
		for (uint64_t k = 0; k < in->numel; k++)
			op_set(in, k, op_get(in, k) + 10.0);
		const int32_t *ns = cases[c].sizes + rank - (uint32_t)nn;
		int64_t ns64[4];
		int64_t N = 1;
		for (int k = 0; k < nn; k++) {
			ns64[k] = ns[k];
			N *= ns[k];
		}
		int64_t M = N ? (int64_t)in->numel / N : 0;
		struct infd_tensor *w = cases[c].w ? rnd_tensor(F32, (uint32_t)nn, ns, NULL, 1.0) : NULL;
		struct infd_tensor *b = cases[c].b ? rnd_tensor(F32, (uint32_t)nn, ns, NULL, 1.0) : NULL;
		struct infd_tensor *out = out_t(F32, in->numel + 1), *mean = out_t(F32, 64), *rstd = out_t(F32, 64);
		CHECK_OK(OP_CALL("aten::native_layer_norm.out", op_ev_tensor(in), op_ev_int_list((uint32_t)nn, ns64),
				 w ? op_ev_tensor(w) : op_ev_null(), b ? op_ev_tensor(b) : op_ev_null(),
				 op_ev_double(1e-5), op_ev_tensor(out), op_ev_tensor(mean), op_ev_tensor(rstd),
				 ev_list3(out, mean, rstd)));
		op_check_shape(out, rank, cases[c].sizes);
		int32_t ss[4];
		for (uint32_t d = 0; d < rank; d++)
			ss[d] = d < rank - (uint32_t)nn ? cases[c].sizes[d] : 1;
		op_check_shape(mean, rank, ss);
		op_check_shape(rstd, rank, ss);
		double *wy = dbuf(in->numel), *wm = dbuf((size_t)M), *wr = dbuf((size_t)M);
		for (int64_t m = 0; m < M; m++) {
			double mu = 0, var = 0;
			for (int64_t i = 0; i < N; i++)
				mu += op_get(in, (uint64_t)(m * N + i));
			mu /= (double)N;
			for (int64_t i = 0; i < N; i++) {
				double dv = op_get(in, (uint64_t)(m * N + i)) - mu;
				var += dv * dv;
			}
			var /= (double)N;
			double rs = 1 / sqrt(var + 1e-5);
			wm[m] = mu;
			wr[m] = rs;
			for (int64_t i = 0; i < N; i++) {
				double y = (op_get(in, (uint64_t)(m * N + i)) - mu) * rs;
				if (w)
					y *= op_get(w, (uint64_t)i);
				if (b)
					y += op_get(b, (uint64_t)i);
				wy[m * N + i] = y;
			}
		}
		op_check_close(out, wy, 1e-5, 1e-5);
		op_check_close(mean, wm, 1e-6, 1e-6);
		op_check_close(rstd, wr, 1e-6, 1e-6);
	}
}

Test(ops_reduce, layer_norm_errors)
{
	struct infd_tensor *in = rnd_tensor(F32, SHAPE(2, 8), NULL, 1.0);
	struct infd_tensor *out = out_t(F32, 16), *mean = out_t(F32, 4), *rstd = out_t(F32, 4);
	struct infd_tensor *w = rnd_tensor(F32, SHAPE(7), NULL, 1.0);
	CHECK_FAIL(OP_CALL("aten::native_layer_norm.out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){7}),
			   op_ev_null(), op_ev_null(), op_ev_double(1e-5), op_ev_tensor(out), op_ev_tensor(mean),
			   op_ev_tensor(rstd), ev_list3(out, mean, rstd)),
		   "does not match");
	CHECK_FAIL(OP_CALL("aten::native_layer_norm.out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){8}),
			   op_ev_tensor(w), op_ev_null(), op_ev_double(1e-5), op_ev_tensor(out), op_ev_tensor(mean),
			   op_ev_tensor(rstd), ev_list3(out, mean, rstd)),
		   "weight must be");
	CHECK_FAIL(OP_CALL("aten::native_layer_norm.out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){8}),
			   op_ev_null(), op_ev_null(), op_ev_double(1e-5), op_ev_tensor(out), op_ev_tensor(mean),
			   op_ev_tensor(rstd), ev_list3(out, rstd, mean)),
		   "returned list");
	CHECK_FAIL(OP_CALL("aten::native_layer_norm.out", op_ev_tensor(in), op_ev_int_list(0, NULL), op_ev_null(),
			   op_ev_null(), op_ev_double(1e-5), op_ev_tensor(out), op_ev_tensor(mean), op_ev_tensor(rstd),
			   ev_list3(out, mean, rstd)),
		   "must not be empty");
	struct infd_tensor *cl = rnd_tensor(F32, SHAPE(2, 3, 4, 5), CL4, 1.0);
	struct infd_tensor *o2 = out_t(F32, 200);
	CHECK_FAIL(OP_CALL("aten::native_layer_norm.out", op_ev_tensor(cl), op_ev_int_list(1, (int64_t[]){5}),
			   op_ev_null(), op_ev_null(), op_ev_double(1e-5), op_ev_tensor(o2), op_ev_tensor(mean),
			   op_ev_tensor(rstd), ev_list3(o2, mean, rstd)),
		   "contiguous");
	struct infd_tensor *d = rnd_tensor(F64, SHAPE(2, 8), NULL, 1.0);
	CHECK_FAIL(OP_CALL("aten::native_layer_norm.out", op_ev_tensor(d), op_ev_int_list(1, (int64_t[]){8}),
			   op_ev_null(), op_ev_null(), op_ev_double(1e-5), op_ev_tensor(out), op_ev_tensor(mean),
			   op_ev_tensor(rstd), ev_list3(out, mean, rstd)),
		   "only float32");
}

Test(ops_reduce, batch_norm_no_training)
{
	static const struct {
		uint32_t rank;
		int32_t sizes[4];
		const uint8_t *order;
		bool w, b;
	} cases[] = {
	    {4, {2, 3, 4, 5}, NULL, true, true},  {4, {2, 3, 4, 5}, CL4, true, true},
	    {4, {1, 1, 7, 9}, NULL, true, false}, {2, {4, 3}, NULL, false, true},
	    {3, {2, 3, 7}, NULL, false, false},   {4, {2, 300, 2, 2}, CL4, true, true},
	    {4, {0, 3, 2, 2}, NULL, true, true},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint32_t rank = cases[c].rank;
		int32_t C = cases[c].sizes[1];
		struct infd_tensor *in = rnd_tensor(F32, rank, cases[c].sizes, cases[c].order, 3.0);
		struct infd_tensor *w = cases[c].w ? rnd_tensor(F32, 1, &C, NULL, 1.0) : NULL;
		struct infd_tensor *b = cases[c].b ? rnd_tensor(F32, 1, &C, NULL, 1.0) : NULL;
		struct infd_tensor *rm = rnd_tensor(F32, 1, &C, NULL, 1.0);
		struct infd_tensor *rv = rnd_tensor(F32, 1, &C, NULL, 1.0);
		for (int32_t k = 0; k < C; k++)
			op_set(rv, (uint64_t)k, fabs(op_get(rv, (uint64_t)k)) + 0.1);
		struct infd_tensor *out = op_tensor_order(F32, rank, cases[c].sizes, cases[c].order);
		struct infd_tensor *sm = op_tensor(F32, SHAPE(0)), *si = op_tensor(F32, SHAPE(0));
		CHECK_OK(OP_CALL("aten::_native_batch_norm_legit_no_training.out", op_ev_tensor(in),
				 w ? op_ev_tensor(w) : op_ev_null(), b ? op_ev_tensor(b) : op_ev_null(),
				 op_ev_tensor(rm), op_ev_tensor(rv), op_ev_double(0.1), op_ev_double(1e-5),
				 op_ev_tensor(out), op_ev_tensor(sm), op_ev_tensor(si), ev_list3(out, sm, si)));
		op_check_shape(sm, SHAPE(0));
		op_check_shape(si, SHAPE(0));
		op_check_shape(out, rank, cases[c].sizes);
		double *want = dbuf(in->numel);
		int64_t idx[INFD_MAX_RANK] = {0};
		uint64_t k = 0;
		if (in->numel)
			do {
				int64_t ch = idx[1];
				double y = (op_get_at(in, idx) - op_get(rm, (uint64_t)ch)) /
					   sqrt(op_get(rv, (uint64_t)ch) + 1e-5);
				if (w)
					y *= op_get(w, (uint64_t)ch);
				if (b)
					y += op_get(b, (uint64_t)ch);
				want[k++] = y;
			} while (next_idx(idx, in->sizes, rank, 0, 0));
		check_close_logical(out, want, 1e-5, 1e-6, "batch norm");
	}
	/* wrong parameter size, rank-1 input */
	int32_t c3 = 3, c4 = 4;
	struct infd_tensor *in = rnd_tensor(F32, SHAPE(2, 3, 4), NULL, 1.0);
	struct infd_tensor *p3 = rnd_tensor(F32, 1, &c3, NULL, 1.0);
	struct infd_tensor *p4 = rnd_tensor(F32, 1, &c4, NULL, 1.0);
	struct infd_tensor *out = out_t(F32, 24), *sm = out_t(F32, 1), *si = out_t(F32, 1);
	CHECK_FAIL(OP_CALL("aten::_native_batch_norm_legit_no_training.out", op_ev_tensor(in), op_ev_null(),
			   op_ev_null(), op_ev_tensor(p4), op_ev_tensor(p3), op_ev_double(0.1), op_ev_double(1e-5),
			   op_ev_tensor(out), op_ev_tensor(sm), op_ev_tensor(si), ev_list3(out, sm, si)),
		   "running_mean must have shape [3]");
	struct infd_tensor *v1 = rnd_tensor(F32, SHAPE(3), NULL, 1.0);
	CHECK_FAIL(OP_CALL("aten::_native_batch_norm_legit_no_training.out", op_ev_tensor(v1), op_ev_null(),
			   op_ev_null(), op_ev_tensor(p3), op_ev_tensor(p3), op_ev_double(0.1), op_ev_double(1e-5),
			   op_ev_tensor(out), op_ev_tensor(sm), op_ev_tensor(si), ev_list3(out, sm, si)),
		   "at least 2 dims");
	CHECK_FAIL(OP_CALL("aten::_native_batch_norm_legit_no_training.out", op_ev_tensor(in), op_ev_null(),
			   op_ev_null(), op_ev_tensor(p3), op_ev_null(), op_ev_double(0.1), op_ev_double(1e-5),
			   op_ev_tensor(out), op_ev_tensor(sm), op_ev_tensor(si), ev_list3(out, sm, si)),
		   "running_var");
}

Test(ops_reduce, group_norm)
{
	static const struct {
		uint32_t rank;
		int32_t sizes[4];
		int G;
		bool w, b;
	} cases[] = {
	    {4, {2, 6, 4, 5}, 3, true, true},
	    {4, {2, 6, 4, 5}, 6, false, true},
	    {2, {3, 4}, 2, true, false},
	    {3, {1, 8, 33}, 1, true, true},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		uint32_t rank = cases[c].rank;
		int32_t N = cases[c].sizes[0], C = cases[c].sizes[1];
		int64_t HxW = 1;
		for (uint32_t d = 2; d < rank; d++)
			HxW *= cases[c].sizes[d];
		int G = cases[c].G;
		struct infd_tensor *in = rnd_tensor(F32, rank, cases[c].sizes, NULL, 3.0);
		struct infd_tensor *w = cases[c].w ? rnd_tensor(F32, 1, &C, NULL, 1.0) : NULL;
		struct infd_tensor *b = cases[c].b ? rnd_tensor(F32, 1, &C, NULL, 1.0) : NULL;
		struct infd_tensor *out = out_t(F32, in->numel), *mean = out_t(F32, 64), *rstd = out_t(F32, 64);
		CHECK_OK(OP_CALL("aten::native_group_norm.out", op_ev_tensor(in), w ? op_ev_tensor(w) : op_ev_null(),
				 b ? op_ev_tensor(b) : op_ev_null(), op_ev_int(N), op_ev_int(C), op_ev_int(HxW),
				 op_ev_int(G), op_ev_double(1e-5), op_ev_tensor(out), op_ev_tensor(mean),
				 op_ev_tensor(rstd), ev_list3(out, mean, rstd)));
		op_check_shape(out, rank, cases[c].sizes);
		op_check_shape(mean, SHAPE(N, G));
		op_check_shape(rstd, SHAPE(N, G));
		int64_t D = C / G, blk = D * HxW;
		double *wy = dbuf(in->numel), *wm = dbuf((size_t)(N * G)), *wr = dbuf((size_t)(N * G));
		for (int64_t i = 0; i < N * G; i++) {
			double mu = 0, var = 0;
			for (int64_t e = 0; e < blk; e++)
				mu += op_get(in, (uint64_t)(i * blk + e));
			mu /= (double)blk;
			for (int64_t e = 0; e < blk; e++) {
				double dv = op_get(in, (uint64_t)(i * blk + e)) - mu;
				var += dv * dv;
			}
			var /= (double)blk;
			double rs = 1 / sqrt(var + 1e-5);
			wm[i] = mu;
			wr[i] = rs;
			for (int64_t e = 0; e < blk; e++) {
				int64_t ch = (i % G) * D + e / HxW;
				double y = (op_get(in, (uint64_t)(i * blk + e)) - mu) * rs;
				if (w)
					y *= op_get(w, (uint64_t)ch);
				if (b)
					y += op_get(b, (uint64_t)ch);
				wy[i * blk + e] = y;
			}
		}
		op_check_close(out, wy, 1e-5, 1e-5);
		op_check_close(mean, wm, 1e-6, 1e-6);
		op_check_close(rstd, wr, 1e-5, 1e-6);
	}
	struct infd_tensor *in = rnd_tensor(F32, SHAPE(2, 6, 3), NULL, 1.0);
	struct infd_tensor *out = out_t(F32, 36), *mean = out_t(F32, 8), *rstd = out_t(F32, 8);
	CHECK_FAIL(OP_CALL("aten::native_group_norm.out", op_ev_tensor(in), op_ev_null(), op_ev_null(), op_ev_int(2),
			   op_ev_int(6), op_ev_int(3), op_ev_int(4), op_ev_double(1e-5), op_ev_tensor(out),
			   op_ev_tensor(mean), op_ev_tensor(rstd), ev_list3(out, mean, rstd)),
		   "divide C=6");
	CHECK_FAIL(OP_CALL("aten::native_group_norm.out", op_ev_tensor(in), op_ev_null(), op_ev_null(), op_ev_int(2),
			   op_ev_int(6), op_ev_int(4), op_ev_int(3), op_ev_double(1e-5), op_ev_tensor(out),
			   op_ev_tensor(mean), op_ev_tensor(rstd), ev_list3(out, mean, rstd)),
		   "does not have the shape");
}

/* ---- pooling -------------------------------------------------------------------- */

static int64_t ref_pool_size(int64_t in, int64_t k, int64_t pad, int64_t s, int64_t dil, bool ceil_mode)
{
	double span = (double)(in + 2 * pad - dil * (k - 1) - 1) / (double)s;
	int64_t o = (int64_t)(ceil_mode ? ceil(span) : floor(span)) + 1;
	if (ceil_mode && (o - 1) * s >= in + pad)
		o--;
	return o;
}

struct pcase {
	uint32_t rank;
	int32_t sizes[4];
	const uint8_t *order;
	int64_t k[2], s[2], p[2], d[2];
	int ns; /* stride list length (0: default to kernel) */
	bool ceil;
};

static const struct pcase pcases[] = {
    {4, {1, 3, 9, 11}, NULL, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 2, false},
    {4, {1, 3, 9, 11}, NULL, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 2, true},
    {4, {2, 2, 8, 8}, NULL, {2, 2}, {2, 2}, {0, 0}, {1, 1}, 0, false},
    {4, {2, 2, 10, 9}, NULL, {3, 2}, {1, 2}, {1, 0}, {2, 1}, 2, true},
    {3, {4, 7, 6}, NULL, {2, 3}, {3, 2}, {1, 1}, {1, 1}, 2, true},
    {4, {2, 5, 9, 7}, CL4, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 1, true},
    {4, {1, 300, 5, 5}, CL4, {2, 2}, {2, 2}, {0, 0}, {1, 1}, 0, true},
    {4, {1, 1, 1, 8000}, NULL, {1, 4}, {1, 4}, {0, 0}, {1, 1}, 2, false},
    {4, {0, 3, 4, 4}, NULL, {2, 2}, {2, 2}, {0, 0}, {1, 1}, 0, false},
    {4, {1, 2, 5, 5}, NULL, {5, 5}, {1, 1}, {2, 2}, {1, 1}, 1, true},
    {4, {1, 2, 9, 13}, NULL, {2, 3}, {1, 1}, {0, 1}, {2, 2}, 2, false},
    {4, {2, 3, 6, 300}, NULL, {2, 3}, {2, 3}, {1, 1}, {1, 1}, 2, true},
};
#define N_PCASES (sizeof pcases / sizeof pcases[0])

static struct infd_evalue *ev_pair(int n, const int64_t *v)
{
	return op_ev_int_list((uint32_t)n, v);
}

/* Logical [N,C,H,W] access to a 3-d or 4-d tensor. */
static double get4(const struct infd_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w)
{
	int64_t idx[4] = {n, c, h, w};
	return op_get_at(t, t->rank == 4 ? idx : idx + 1);
}

Test(ops_reduce, max_pool2d_with_indices)
{
	for (size_t c = 0; c < N_PCASES; c++) {
		const struct pcase *pc = &pcases[c];
		struct infd_tensor *in = rnd_tensor(F32, pc->rank, pc->sizes, pc->order, 4.0);
		if (c == 0) {
			op_set(in, 10, NAN);
			op_set(in, 12, NAN);
			op_set(in, 30, -INFINITY);
		}
		if (c == 2) /* a window of ties and a window of -inf */
			for (int k = 0; k < 18; k++)
				op_set(in, (uint64_t)k, k < 9 ? 1.0 : -INFINITY);
		struct infd_tensor *out = out_t(F32, in->numel + 1), *ind = out_t(I64, in->numel + 1);
		CHECK_OK(OP_CALL("aten::max_pool2d_with_indices.out", op_ev_tensor(in), ev_pair(2, pc->k),
				 ev_pair(pc->ns, pc->s), ev_pair(2, pc->p), ev_pair(2, pc->d), op_ev_bool(pc->ceil),
				 op_ev_tensor(out), op_ev_tensor(ind),
				 op_ev_tensor_list(2, (struct infd_tensor *[]){out, ind})));
		uint32_t o = pc->rank - 3;
		int64_t N = o ? pc->sizes[0] : 1, C = pc->sizes[o], H = pc->sizes[o + 1], W = pc->sizes[o + 2];
		int64_t s0 = pc->ns ? pc->s[0] : pc->k[0], s1 = pc->ns ? pc->s[pc->ns - 1] : pc->k[1];
		int64_t OH = ref_pool_size(H, pc->k[0], pc->p[0], s0, pc->d[0], pc->ceil);
		int64_t OW = ref_pool_size(W, pc->k[1], pc->p[1], s1, pc->d[1], pc->ceil);
		int32_t osz[4] = {(int32_t)N, (int32_t)C, (int32_t)OH, (int32_t)OW};
		op_check_shape(out, pc->rank, osz + 1 - o);
		op_check_shape(ind, pc->rank, osz + 1 - o);
		uint64_t k = 0;
		for (int64_t n = 0; n < N; n++)
			for (int64_t ch = 0; ch < C; ch++)
				for (int64_t oh = 0; oh < OH; oh++)
					for (int64_t ow = 0; ow < OW; ow++, k++) {
						double best = -INFINITY;
						int64_t bi = -1;
						for (int64_t i = 0; i < pc->k[0]; i++)
							for (int64_t j = 0; j < pc->k[1]; j++) {
								int64_t h = oh * s0 - pc->p[0] + i * pc->d[0];
								int64_t w = ow * s1 - pc->p[1] + j * pc->d[1];
								if (h < 0 || h >= H || w < 0 || w >= W)
									continue;
								double v = get4(in, n, ch, h, w);
								if (bi < 0)
									bi = h * W + w;
								if (v > best || isnan(v)) {
									best = v;
									bi = h * W + w;
								}
							}
						double g = op_get(out, k);
						cr_assert(g == best || (isnan(g) && isnan(best)),
							  "case %zu element %llu: %g vs %g", c, (unsigned long long)k,
							  g, best);
						cr_assert_eq(op_get_i(ind, k), bi, "case %zu index %llu: %lld vs %lld",
							     c, (unsigned long long)k, (long long)op_get_i(ind, k),
							     (long long)bi);
					}
	}
}

Test(ops_reduce, max_pool2d_errors)
{
	struct infd_tensor *in = rnd_tensor(F32, SHAPE(1, 1, 4, 4), NULL, 1.0);
	struct infd_tensor *out = out_t(F32, 64), *ind = out_t(I64, 64);
	struct infd_evalue *ret = op_ev_tensor_list(2, (struct infd_tensor *[]){out, ind});
	CHECK_FAIL(OP_CALL("aten::max_pool2d_with_indices.out", op_ev_tensor(in), ev_pair(1, (int64_t[]){2}),
			   ev_pair(0, NULL), ev_pair(1, (int64_t[]){2}), ev_pair(1, (int64_t[]){1}), op_ev_bool(false),
			   op_ev_tensor(out), op_ev_tensor(ind), ret),
		   "pad should be at most half");
	CHECK_FAIL(OP_CALL("aten::max_pool2d_with_indices.out", op_ev_tensor(in), ev_pair(1, (int64_t[]){5}),
			   ev_pair(0, NULL), ev_pair(1, (int64_t[]){0}), ev_pair(1, (int64_t[]){1}), op_ev_bool(false),
			   op_ev_tensor(out), op_ev_tensor(ind), ret),
		   "too small");
	CHECK_FAIL(OP_CALL("aten::max_pool2d_with_indices.out", op_ev_tensor(in), ev_pair(3, (int64_t[]){2, 2, 2}),
			   ev_pair(0, NULL), ev_pair(1, (int64_t[]){0}), ev_pair(1, (int64_t[]){1}), op_ev_bool(false),
			   op_ev_tensor(out), op_ev_tensor(ind), ret),
		   "kernel_size must be a single int or two ints");
	CHECK_FAIL(OP_CALL("aten::max_pool2d_with_indices.out", op_ev_tensor(in), ev_pair(1, (int64_t[]){2}),
			   ev_pair(1, (int64_t[]){0}), ev_pair(1, (int64_t[]){0}), ev_pair(1, (int64_t[]){1}),
			   op_ev_bool(false), op_ev_tensor(out), op_ev_tensor(ind), ret),
		   "stride must be positive");
	struct infd_tensor *in2 = rnd_tensor(F32, SHAPE(4, 4), NULL, 1.0);
	CHECK_FAIL(OP_CALL("aten::max_pool2d_with_indices.out", op_ev_tensor(in2), ev_pair(1, (int64_t[]){2}),
			   ev_pair(0, NULL), ev_pair(1, (int64_t[]){0}), ev_pair(1, (int64_t[]){1}), op_ev_bool(false),
			   op_ev_tensor(out), op_ev_tensor(ind), ret),
		   "3-d or 4-d");
	struct infd_tensor *bad = out_t(I32, 64);
	CHECK_FAIL(OP_CALL("aten::max_pool2d_with_indices.out", op_ev_tensor(in), ev_pair(1, (int64_t[]){2}),
			   ev_pair(0, NULL), ev_pair(1, (int64_t[]){0}), ev_pair(1, (int64_t[]){1}), op_ev_bool(false),
			   op_ev_tensor(out), op_ev_tensor(bad),
			   op_ev_tensor_list(2, (struct infd_tensor *[]){out, bad})),
		   "indices must have dtype int64");
	struct infd_tensor *e = op_tensor(F32, SHAPE(1, 0, 4, 4));
	CHECK_FAIL(OP_CALL("aten::max_pool2d_with_indices.out", op_ev_tensor(e), ev_pair(1, (int64_t[]){2}),
			   ev_pair(0, NULL), ev_pair(1, (int64_t[]){0}), ev_pair(1, (int64_t[]){1}), op_ev_bool(false),
			   op_ev_tensor(out), op_ev_tensor(ind), ret),
		   "empty non-batch dim");
}

Test(ops_reduce, avg_pool2d)
{
	for (size_t c = 0; c < N_PCASES; c++)
		for (int variant = 0; variant < 4; variant++) {
			const struct pcase *pc = &pcases[c];
			if (pc->d[0] != 1 || pc->d[1] != 1)
				continue;
			bool count_pad = variant != 1;
			int64_t divisor = variant == 2 ? 3 : variant == 3 ? -2 : 0;
			struct infd_tensor *in = rnd_tensor(F32, pc->rank, pc->sizes, pc->order, 4.0);
			struct infd_tensor *out = out_t(F32, in->numel + 1);
			CHECK_OK(OP_CALL("aten::avg_pool2d.out", op_ev_tensor(in), ev_pair(2, pc->k),
					 ev_pair(pc->ns, pc->s), ev_pair(2, pc->p), op_ev_bool(pc->ceil),
					 op_ev_bool(count_pad), divisor ? op_ev_int(divisor) : op_ev_null(),
					 op_ev_tensor(out), op_ev_tensor(out)));
			uint32_t o = pc->rank - 3;
			int64_t N = o ? pc->sizes[0] : 1, C = pc->sizes[o], H = pc->sizes[o + 1], W = pc->sizes[o + 2];
			int64_t s0 = pc->ns ? pc->s[0] : pc->k[0], s1 = pc->ns ? pc->s[pc->ns - 1] : pc->k[1];
			int64_t OH = ref_pool_size(H, pc->k[0], pc->p[0], s0, 1, pc->ceil);
			int64_t OW = ref_pool_size(W, pc->k[1], pc->p[1], s1, 1, pc->ceil);
			int32_t osz[4] = {(int32_t)N, (int32_t)C, (int32_t)OH, (int32_t)OW};
			op_check_shape(out, pc->rank, osz + 1 - o);
			double *want = dbuf(out->numel);
			uint64_t k = 0;
			for (int64_t n = 0; n < N; n++)
				for (int64_t ch = 0; ch < C; ch++)
					for (int64_t oh = 0; oh < OH; oh++)
						for (int64_t ow = 0; ow < OW; ow++, k++) {
							double s = 0;
							int64_t inside = 0, padded = 0;
							for (int64_t i = 0; i < pc->k[0]; i++)
								for (int64_t j = 0; j < pc->k[1]; j++) {
									int64_t h = oh * s0 - pc->p[0] + i;
									int64_t w = ow * s1 - pc->p[1] + j;
									/* padding counts up to in + pad */
									if (h < H + pc->p[0] && w < W + pc->p[1])
										padded++;
									if (h < 0 || h >= H || w < 0 || w >= W)
										continue;
									s += get4(in, n, ch, h, w);
									inside++;
								}
							double dv = divisor     ? (double)divisor
								    : count_pad ? (double)padded
										: (double)inside;
							want[k] = inside ? s / dv : 0;
						}
			op_check_close(out, want, 1e-5, 1e-6);
		}
	struct infd_tensor *in = rnd_tensor(F32, SHAPE(1, 1, 4, 4), NULL, 1.0);
	struct infd_tensor *out = out_t(F32, 16);
	CHECK_FAIL(OP_CALL("aten::avg_pool2d.out", op_ev_tensor(in), ev_pair(1, (int64_t[]){2}), ev_pair(0, NULL),
			   ev_pair(1, (int64_t[]){0}), op_ev_bool(false), op_ev_bool(true), op_ev_int(0),
			   op_ev_tensor(out), op_ev_tensor(out)),
		   "divisor_override must not be zero");
	CHECK_FAIL(OP_CALL("aten::avg_pool2d.out", op_ev_tensor(in), ev_pair(1, (int64_t[]){0}), ev_pair(0, NULL),
			   ev_pair(1, (int64_t[]){0}), op_ev_bool(false), op_ev_bool(true), op_ev_null(),
			   op_ev_tensor(out), op_ev_tensor(out)),
		   "kernel_size must be positive");
}

Test(ops_reduce, adaptive_avg_pool2d)
{
	static const struct {
		uint32_t rank;
		int32_t sizes[4];
		const uint8_t *order;
		int64_t os[2];
	} cases[] = {
	    {4, {1, 3, 7, 9}, NULL, {3, 4}}, {4, {2, 2, 5, 5}, NULL, {1, 1}}, {3, {3, 6, 6}, NULL, {6, 6}},
	    {4, {2, 5, 7, 9}, CL4, {2, 5}},  {4, {1, 4, 3, 3}, NULL, {5, 7}}, {4, {1, 2, 4, 4}, NULL, {0, 2}},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct infd_tensor *in = rnd_tensor(F32, cases[c].rank, cases[c].sizes, cases[c].order, 4.0);
		struct infd_tensor *out = out_t(F32, 512);
		CHECK_OK(OP_CALL("aten::_adaptive_avg_pool2d.out", op_ev_tensor(in), ev_pair(2, cases[c].os),
				 op_ev_tensor(out), op_ev_tensor(out)));
		uint32_t o = cases[c].rank - 3;
		int64_t N = o ? cases[c].sizes[0] : 1, C = cases[c].sizes[o], H = cases[c].sizes[o + 1],
			W = cases[c].sizes[o + 2], OH = cases[c].os[0], OW = cases[c].os[1];
		int32_t osz[4] = {(int32_t)N, (int32_t)C, (int32_t)OH, (int32_t)OW};
		op_check_shape(out, cases[c].rank, osz + 1 - o);
		double *want = dbuf(out->numel);
		uint64_t k = 0;
		for (int64_t n = 0; n < N; n++)
			for (int64_t ch = 0; ch < C; ch++)
				for (int64_t oh = 0; oh < OH; oh++)
					for (int64_t ow = 0; ow < OW; ow++, k++) {
						int64_t h0 = (int64_t)floor((double)oh * H / OH);
						int64_t h1 = (int64_t)ceil((double)(oh + 1) * H / OH);
						int64_t w0 = (int64_t)floor((double)ow * W / OW);
						int64_t w1 = (int64_t)ceil((double)(ow + 1) * W / OW);
						double s = 0;
						for (int64_t h = h0; h < h1; h++)
							for (int64_t w = w0; w < w1; w++)
								s += get4(in, n, ch, h, w);
						want[k] = s / (double)((h1 - h0) * (w1 - w0));
					}
		op_check_close(out, want, 1e-5, 1e-6);
	}
	struct infd_tensor *in = rnd_tensor(F32, SHAPE(1, 1, 4, 4), NULL, 1.0);
	struct infd_tensor *out = out_t(F32, 16);
	CHECK_FAIL(OP_CALL("aten::_adaptive_avg_pool2d.out", op_ev_tensor(in), ev_pair(1, (int64_t[]){2}),
			   op_ev_tensor(out), op_ev_tensor(out)),
		   "2 items");
	CHECK_FAIL(OP_CALL("aten::_adaptive_avg_pool2d.out", op_ev_tensor(in), ev_pair(2, (int64_t[]){2, -1}),
			   op_ev_tensor(out), op_ev_tensor(out)),
		   "non-negative");
	CHECK_FAIL(OP_CALL("aten::_adaptive_avg_pool2d.out", op_ev_tensor(in), ev_pair(2, (int64_t[]){2, 2}),
			   op_ev_tensor(out), op_ev_tensor(in)),
		   "return slot");
}

Test(ops_reduce, misaligned_data)
{
	/* Reductions read misaligned data through a converted copy; the typed kernels
	 * refuse it cleanly. */
	struct infd_tensor *in = op_tensor_cap(F32, SHAPE(3, 5), 32);
	in->data = (char *)in->data + 2;
	for (uint64_t k = 0; k < in->numel; k++) {
		float v = (float)k * 0.5f;
		memcpy((char *)in->data + 4 * k, &v, 4);
	}
	struct infd_tensor *o = out_t(F32, 8);
	CHECK_OK(OP_CALL("aten::sum.IntList_out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){1}),
			 op_ev_bool(false), op_ev_null(), op_ev_tensor(o), op_ev_tensor(o)));
	for (int r = 0; r < 3; r++) {
		double want = 0;
		for (int c = 0; c < 5; c++)
			want += (r * 5 + c) * 0.5;
		cr_assert_eq(op_get(o, (uint64_t)r), want);
	}
	struct infd_tensor *out = out_t(F32, 16), *mean = out_t(F32, 4), *rstd = out_t(F32, 4);
	CHECK_FAIL(OP_CALL("aten::native_layer_norm.out", op_ev_tensor(in), op_ev_int_list(1, (int64_t[]){5}),
			   op_ev_null(), op_ev_null(), op_ev_double(1e-5), op_ev_tensor(out), op_ev_tensor(mean),
			   op_ev_tensor(rstd), ev_list3(out, mean, rstd)),
		   "not aligned");
	CHECK_FAIL(OP_CALL("aten::_softmax.out", op_ev_tensor(in), op_ev_int(1), op_ev_bool(false), op_ev_tensor(out),
			   op_ev_tensor(out)),
		   "not aligned");
}
