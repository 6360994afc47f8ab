/* Tests of the shape kernels (runtime/kernels/shape_{copy,join,create,gather}.c and
 * prims.c): every operator against index arithmetic written here, on random shapes
 * (rank 0..5, size-0 and size-1 dims), random dim orders on inputs and outputs, every
 * dtype class, plus error cases that must fail with a message instead of crashing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opref.h"

TestSuite(ops_shape, .init = op_setup, .fini = op_teardown);

static const int DTYPES[] = {F32, I64, B, U8, F16};
#define N_DTYPES 5

/* ---- Test helpers ----------------------------------------------------------- */

static void rnd_perm(uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)i;
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = op_rnd() % i;
		uint8_t t = p[i - 1];
		p[i - 1] = p[j];
		p[j] = t;
	}
}

/* Sizes mostly 1..4, sometimes 1, sometimes 0 (when `zero`). */
static void rnd_shape(uint32_t rank, int32_t *sizes, bool zero)
{
	for (uint32_t d = 0; d < rank; d++) {
		int r = op_rnd_range(0, 19);
		sizes[d] = zero && r == 0 ? 0 : r < 5 ? 1 : op_rnd_range(2, 4);
	}
}

/* A tensor with random contents, contiguous or in a random dim order. */
static struct infd_tensor *rnd_tensor(int dt, uint32_t rank, const int32_t *sizes, bool shuffle)
{
	uint8_t order[INFD_MAX_RANK];
	rnd_perm(order, rank);
	struct infd_tensor *t = op_tensor_order(dt, rank, sizes, shuffle ? order : NULL);
	op_fill_random(t, 10.0);
	return t;
}

/* An out tensor of this shape, in a random dim order half of the time. */
static struct infd_tensor *rnd_out(int dt, uint32_t rank, const int32_t *sizes)
{
	uint8_t order[INFD_MAX_RANK];
	rnd_perm(order, rank);
	return op_tensor_order(dt, rank, sizes, op_rnd() & 1 ? order : NULL);
}

static void unravel(uint64_t k, uint32_t rank, const int32_t *sizes, int64_t *idx)
{
	for (int d = (int)rank - 1; d >= 0; d--) {
		idx[d] = sizes[d] ? (int64_t)(k % (uint64_t)sizes[d]) : 0;
		k = sizes[d] ? k / (uint64_t)sizes[d] : 0;
	}
}

static uint64_t ravel(const int64_t *idx, uint32_t rank, const int32_t *sizes)
{
	uint64_t k = 0;
	for (uint32_t d = 0; d < rank; d++)
		k = k * (uint64_t)sizes[d] + (uint64_t)idx[d];
	return k;
}

static struct infd_evalue *ev_t(struct infd_tensor *t)
{
	return op_ev_tensor(t);
}

static struct infd_evalue *ev_ints(uint32_t n, const int64_t *v)
{
	return op_ev_int_list(n, v);
}

/* What a reference says about one out element: the self element it copies
 * (return true, index in s), or the fill value (return false). */
typedef bool (*map_fn)(const void *ctx, const int64_t *o, int64_t *s);

static void check_map(const struct infd_tensor *out, const struct infd_tensor *self, map_fn f,
		      const void *ctx, double fill, const char *what)
{
	for (uint64_t k = 0; k < out->numel; k++) {
		int64_t o[INFD_MAX_RANK] = {0}, s[INFD_MAX_RANK] = {0};
		unravel(k, out->rank, out->sizes, o);
		double want = f(ctx, o, s) ? op_get_at(self, s) : fill;
		double got = op_get_at(out, o);
		cr_assert(got == want || (isnan(got) && isnan(want)),
			  "%s: %s element %llu is %g, expected %g", what, infd_dtype_name(out->dtype),
			  (unsigned long long)k, got, want);
	}
}

/* Shared context of the map functions. */
struct mctx {
	const struct infd_tensor *self, *out;
	uint32_t rank;
	int64_t a[INFD_MAX_RANK], b[INFD_MAX_RANK], c[INFD_MAX_RANK];
	int64_t dim, start, step;
	const int64_t *idx;
};

/* ---- Reshapes ----------------------------------------------------------------- */

static bool map_reshape(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	unravel(ravel(o, m->out->rank, m->out->sizes), m->self->rank, m->self->sizes, s);
	return true;
}

Test(ops_shape, view_copy_random)
{
	for (int it = 0; it < 300; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(0, 5);
		int32_t sizes[8];
		rnd_shape(rank, sizes, true);
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		uint64_t numel = self->numel;
		int64_t target[8];
		int32_t tsz[8];
		uint32_t tr = 0;
		int mode = op_rnd_range(0, 3);
		if (mode == 0) {
			target[tr++] = (int64_t)numel;
		} else {
			for (int d = (int)rank - 1; d >= 0; d--)
				target[tr++] = sizes[d];
			if (mode == 2 && tr < 6)
				target[tr++] = 1;
		}
		for (uint32_t d = 0; d < tr; d++)
			tsz[d] = (int32_t)target[d];
		/* a -1 where the others are non-zero */
		if (mode == 3 && tr > 0) {
			uint32_t j = op_rnd() % tr;
			bool others_nonzero = true;
			for (uint32_t d = 0; d < tr; d++)
				others_nonzero = others_nonzero && (d == j || target[d] != 0);
			if (others_nonzero)
				target[j] = -1;
		}
		struct infd_tensor *out = rnd_out(dt, tr, tsz);
		CHECK_OK(OP_CALL("aten::view_copy.out", ev_t(self), ev_ints(tr, target), ev_t(out), ev_t(out)));
		op_check_shape(out, tr, tsz);
		struct mctx m = {.self = self, .out = out};
		check_map(out, self, map_reshape, &m, 0, "view_copy");
	}
}

Test(ops_shape, view_copy_both_noncontiguous_and_errors)
{
	/* self and out both channels-last: goes through a scratch copy */
	struct infd_tensor *self = op_tensor_order(F32, SHAPE(2, 3, 4, 5), (const uint8_t[]){0, 2, 3, 1});
	op_fill_random(self, 1.0);
	struct infd_tensor *out = op_tensor_order(F32, SHAPE(2, 5, 3, 4), (const uint8_t[]){0, 2, 3, 1});
	CHECK_OK(OP_CALL("aten::view_copy.out", ev_t(self), ev_ints(4, (int64_t[]){2, 5, 3, 4}), ev_t(out), ev_t(out)));
	struct mctx m = {.self = self, .out = out};
	check_map(out, self, map_reshape, &m, 0, "view_copy cl->cl");

	struct infd_tensor *o2 = op_tensor_cap(F32, SHAPE(1), 120);
	CHECK_FAIL(OP_CALL("aten::view_copy.out", ev_t(self), ev_ints(2, (int64_t[]){7, -1}), ev_t(o2), ev_t(o2)),
		   "is invalid for input of size 120");
	CHECK_FAIL(OP_CALL("aten::view_copy.out", ev_t(self), ev_ints(2, (int64_t[]){-1, -1}), ev_t(o2), ev_t(o2)),
		   "only one dimension can be inferred");
	CHECK_FAIL(OP_CALL("aten::view_copy.out", ev_t(self), ev_ints(2, (int64_t[]){-2, 60}), ev_t(o2), ev_t(o2)),
		   "invalid shape dimension -2");
	CHECK_FAIL(OP_CALL("aten::view_copy.out", ev_t(self), ev_ints(2, (int64_t[]){11, 11}), ev_t(o2), ev_t(o2)),
		   "is invalid for input of size 120");
	struct infd_tensor *empty = op_tensor(F32, SHAPE(0, 4));
	CHECK_FAIL(OP_CALL("aten::view_copy.out", ev_t(empty), ev_ints(2, (int64_t[]){0, -1}), ev_t(o2), ev_t(o2)),
		   "ambiguous");
	/* out too small */
	struct infd_tensor *small = op_tensor(F32, SHAPE(10));
	CHECK_FAIL(OP_CALL("aten::view_copy.out", ev_t(self), ev_ints(1, (int64_t[]){120}), ev_t(small), ev_t(small)),
		   "cannot resize");
	/* argument count and kinds */
	CHECK_FAIL(OP_CALL("aten::view_copy.out", op_ev_int(3), ev_ints(1, (int64_t[]){120}), ev_t(o2), ev_t(o2)),
		   "must be a tensor");
	CHECK_FAIL(OP_CALL("aten::view_copy.out", ev_t(self), ev_ints(1, (int64_t[]){120}), ev_t(o2), ev_t(self)),
		   "return slot");
}

static bool map_permute(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	for (uint32_t d = 0; d < m->rank; d++)
		s[m->a[d]] = o[d];
	return true;
}

Test(ops_shape, permute_random)
{
	for (int it = 0; it < 300; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(0, 5);
		int32_t sizes[8], osz[8];
		rnd_shape(rank, sizes, true);
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		uint8_t perm[8];
		rnd_perm(perm, rank);
		struct mctx m = {.self = self, .rank = rank};
		int64_t dims[8];
		for (uint32_t d = 0; d < rank; d++) {
			m.a[d] = perm[d];
			dims[d] = op_rnd() & 1 ? perm[d] : (int64_t)perm[d] - rank;
			osz[d] = sizes[perm[d]];
		}
		struct infd_tensor *out = rnd_out(dt, rank, osz);
		CHECK_OK(OP_CALL("aten::permute_copy.out", ev_t(self), ev_ints(rank, dims), ev_t(out), ev_t(out)));
		op_check_shape(out, rank, osz);
		check_map(out, self, map_permute, &m, 0, "permute");
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(2, 3, 4)), *o = op_tensor_cap(F32, SHAPE(1), 24);
	CHECK_FAIL(OP_CALL("aten::permute_copy.out", ev_t(x), ev_ints(3, (int64_t[]){0, 1, 1}), ev_t(o), ev_t(o)),
		   "appears multiple times");
	CHECK_FAIL(OP_CALL("aten::permute_copy.out", ev_t(x), ev_ints(2, (int64_t[]){0, 1}), ev_t(o), ev_t(o)),
		   "number of dims don't match");
	CHECK_FAIL(OP_CALL("aten::permute_copy.out", ev_t(x), ev_ints(3, (int64_t[]){0, 1, 3}), ev_t(o), ev_t(o)),
		   "out of range");
}

Test(ops_shape, permute_large_transposes)
{
	/* Tiled path: sizes that are not multiples of the tile, every element size. */
	const int dts[] = {U8, F16, F32, I64};
	for (int k = 0; k < 4; k++) {
		struct infd_tensor *x = rnd_tensor(dts[k], SHAPE(3, 37, 70), false);
		struct infd_tensor *o = op_tensor(dts[k], SHAPE(70, 3, 37));
		CHECK_OK(OP_CALL("aten::permute_copy.out", ev_t(x), ev_ints(3, (int64_t[]){2, 0, 1}), ev_t(o), ev_t(o)));
		struct mctx m = {.self = x, .rank = 3, .a = {2, 0, 1}};
		check_map(o, x, map_permute, &m, 0, "permute tiled");
	}
}

static bool map_transpose(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	for (uint32_t d = 0; d < m->rank; d++)
		s[d] = o[d];
	if (m->rank) {
		s[m->a[0]] = o[m->a[1]];
		s[m->a[1]] = o[m->a[0]];
	}
	return true;
}

Test(ops_shape, transpose_and_t)
{
	for (int it = 0; it < 200; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(0, 5);
		int32_t sizes[8], osz[8];
		rnd_shape(rank, sizes, true);
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		int r = rank ? (int)rank : 1;
		int64_t d0 = op_rnd_range(-r, r - 1), d1 = op_rnd_range(-r, r - 1);
		struct mctx m = {.self = self, .rank = rank, .a = {d0 < 0 ? d0 + r : d0, d1 < 0 ? d1 + r : d1}};
		memcpy(osz, sizes, sizeof osz);
		if (rank) {
			osz[m.a[0]] = sizes[m.a[1]];
			osz[m.a[1]] = sizes[m.a[0]];
		}
		struct infd_tensor *out = rnd_out(dt, rank, osz);
		CHECK_OK(OP_CALL("aten::transpose_copy.int_out", ev_t(self), op_ev_int(d0), op_ev_int(d1), ev_t(out), ev_t(out)));
		op_check_shape(out, rank, osz);
		check_map(out, self, map_transpose, &m, 0, "transpose");
		if (rank <= 2) {
			struct mctx mt = {.self = self, .rank = rank, .a = {0, rank == 2 ? 1 : 0}};
			int32_t tsz[2] = {rank == 2 ? sizes[1] : sizes[0], sizes[0]};
			struct infd_tensor *o2 = op_tensor_cap(dt, SHAPE(1), 64);
			CHECK_OK(OP_CALL("aten::t_copy.out", ev_t(self), ev_t(o2), ev_t(o2)));
			op_check_shape(o2, rank, tsz);
			check_map(o2, self, map_transpose, &mt, 0, "t");
		}
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(2, 3, 4)), *o = op_tensor_cap(F32, SHAPE(1), 24);
	CHECK_FAIL(OP_CALL("aten::t_copy.out", ev_t(x), ev_t(o), ev_t(o)), "<= 2 dimensions");
	CHECK_FAIL(OP_CALL("aten::transpose_copy.int_out", ev_t(x), op_ev_int(0), op_ev_int(-4), ev_t(o), ev_t(o)),
		   "dim1 -4 is out of range");
}

static bool map_unsqueeze(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	for (uint32_t d = 0, j = 0; d < m->rank + 1; d++)
		if ((int64_t)d != m->dim)
			s[j++] = o[d];
	return true;
}

/* squeeze: out dims are self dims not removed; a[d] = 1 for removed self dims */
static bool map_squeeze(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	for (uint32_t d = 0, j = 0; d < m->rank; d++)
		s[d] = m->a[d] ? 0 : o[j++];
	return true;
}

Test(ops_shape, unsqueeze_squeeze)
{
	for (int it = 0; it < 200; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(0, 5);
		int32_t sizes[8], osz[8];
		rnd_shape(rank, sizes, true);
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		int64_t dim = op_rnd_range(-(int)rank - 1, (int)rank);
		struct mctx m = {.self = self, .rank = rank, .dim = dim < 0 ? dim + rank + 1 : dim};
		for (uint32_t d = 0, j = 0; d <= rank; d++)
			osz[d] = (int64_t)d == m.dim ? 1 : sizes[j++];
		struct infd_tensor *out = rnd_out(dt, rank + 1, osz);
		CHECK_OK(OP_CALL("aten::unsqueeze_copy.out", ev_t(self), op_ev_int(dim), ev_t(out), ev_t(out)));
		op_check_shape(out, rank + 1, osz);
		check_map(out, self, map_unsqueeze, &m, 0, "unsqueeze");

		/* squeeze.dims with a random subset (negative dims too) */
		int64_t dims[8];
		uint32_t nd = 0, orank = 0;
		struct mctx q = {.self = self, .rank = rank};
		for (uint32_t d = 0; d < rank; d++) {
			bool pick = op_rnd() & 1;
			if (pick)
				dims[nd++] = op_rnd() & 1 ? (int64_t)d : (int64_t)d - rank;
			q.a[d] = pick && sizes[d] == 1;
			if (!q.a[d])
				osz[orank++] = sizes[d];
		}
		struct infd_tensor *o2 = op_tensor_cap(dt, SHAPE(1), 1024);
		CHECK_OK(OP_CALL("aten::squeeze_copy.dims_out", ev_t(self), ev_ints(nd, dims), ev_t(o2), ev_t(o2)));
		op_check_shape(o2, orank, osz);
		check_map(o2, self, map_squeeze, &q, 0, "squeeze.dims");

		/* squeeze (all size-1 dims) */
		orank = 0;
		for (uint32_t d = 0; d < rank; d++) {
			q.a[d] = sizes[d] == 1;
			if (!q.a[d])
				osz[orank++] = sizes[d];
		}
		CHECK_OK(OP_CALL("aten::squeeze_copy.out", ev_t(self), ev_t(o2), ev_t(o2)));
		op_check_shape(o2, orank, osz);
		check_map(o2, self, map_squeeze, &q, 0, "squeeze");

		/* squeeze.dim */
		int r = rank ? (int)rank : 1;
		int64_t sd = op_rnd_range(-r, r - 1), w = sd < 0 ? sd + r : sd;
		orank = 0;
		for (uint32_t d = 0; d < rank; d++) {
			q.a[d] = (int64_t)d == w && sizes[d] == 1;
			if (!q.a[d])
				osz[orank++] = sizes[d];
		}
		CHECK_OK(OP_CALL("aten::squeeze_copy.dim_out", ev_t(self), op_ev_int(sd), ev_t(o2), ev_t(o2)));
		op_check_shape(o2, orank, osz);
		check_map(o2, self, map_squeeze, &q, 0, "squeeze.dim");
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(2, 1)), *o = op_tensor_cap(F32, SHAPE(1), 24);
	CHECK_FAIL(OP_CALL("aten::squeeze_copy.dims_out", ev_t(x), ev_ints(2, (int64_t[]){1, -1}), ev_t(o), ev_t(o)),
		   "appears multiple times");
	CHECK_FAIL(OP_CALL("aten::unsqueeze_copy.out", ev_t(x), op_ev_int(3), ev_t(o), ev_t(o)), "out of range");
	CHECK_FAIL(OP_CALL("aten::squeeze_copy.dim_out", ev_t(x), op_ev_int(2), ev_t(o), ev_t(o)), "out of range");
}

static bool map_expand(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	uint32_t lead = (uint32_t)m->dim;
	for (uint32_t d = 0; d < m->self->rank; d++)
		s[d] = m->self->sizes[d] == 1 ? 0 : o[d + lead];
	return true;
}

Test(ops_shape, expand_random)
{
	for (int it = 0; it < 200; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(0, 4), lead = (uint32_t)op_rnd_range(0, 2);
		int32_t sizes[8], osz[8];
		rnd_shape(rank, sizes, true);
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		int64_t want[8];
		for (uint32_t d = 0; d < lead; d++)
			want[d] = osz[d] = op_rnd_range(0, 3);
		for (uint32_t d = 0; d < rank; d++) {
			int c = op_rnd_range(0, 2);
			osz[lead + d] = sizes[d];
			want[lead + d] = c == 0 ? -1 : sizes[d];
			if (sizes[d] == 1 && c == 2)
				want[lead + d] = osz[lead + d] = op_rnd_range(0, 4);
		}
		struct infd_tensor *out = rnd_out(dt, lead + rank, osz);
		CHECK_OK(OP_CALL("aten::expand_copy.out", ev_t(self), ev_ints(lead + rank, want), op_ev_bool(false),
				 ev_t(out), ev_t(out)));
		op_check_shape(out, lead + rank, osz);
		struct mctx m = {.self = self, .dim = lead};
		check_map(out, self, map_expand, &m, 0, "expand");
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(2, 1)), *o = op_tensor_cap(F32, SHAPE(1), 64);
	CHECK_FAIL(OP_CALL("aten::expand_copy.out", ev_t(x), ev_ints(2, (int64_t[]){3, 4}), op_ev_bool(false), ev_t(o), ev_t(o)),
		   "must match the existing size (2) at non-singleton dimension 0");
	CHECK_FAIL(OP_CALL("aten::expand_copy.out", ev_t(x), ev_ints(3, (int64_t[]){-1, 2, 4}), op_ev_bool(false), ev_t(o), ev_t(o)),
		   "leading, non-existing dimension");
	CHECK_FAIL(OP_CALL("aten::expand_copy.out", ev_t(x), ev_ints(1, (int64_t[]){4}), op_ev_bool(false), ev_t(o), ev_t(o)),
		   "greater or equal");
}

/* ---- Slicing ------------------------------------------------------------------ */

static bool map_slice(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	for (uint32_t d = 0; d < m->rank; d++)
		s[d] = o[d];
	s[m->dim] = m->start + o[m->dim] * m->step;
	return true;
}

Test(ops_shape, slice_random)
{
	for (int it = 0; it < 300; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(1, 5);
		int32_t sizes[8], osz[8];
		rnd_shape(rank, sizes, true);
		if (op_rnd() & 1)
			sizes[op_rnd() % rank] = 7;
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		int64_t dim = op_rnd_range(-(int)rank, (int)rank - 1), d = dim < 0 ? dim + rank : dim;
		bool has_start = op_rnd() % 4, has_end = op_rnd() % 4;
		int64_t start = op_rnd_range(-9, 9), end = op_rnd() % 5 ? op_rnd_range(-9, 10) : INT64_MAX;
		int64_t step = op_rnd_range(1, 3), size = sizes[d];
		/* reference: PyTorch's slice() bounds */
		int64_t s0 = has_start ? start : 0, e0 = has_end ? end : INT64_MAX;
		if (s0 < 0)
			s0 += size;
		if (e0 < 0)
			e0 += size;
		s0 = s0 < 0 ? 0 : s0 > size ? size : s0;
		e0 = e0 < s0 ? s0 : e0 > size ? size : e0;
		int64_t len = (e0 - s0 + step - 1) / step;
		memcpy(osz, sizes, sizeof osz);
		osz[d] = (int32_t)len;
		struct infd_tensor *out = rnd_out(dt, rank, osz);
		CHECK_OK(OP_CALL("aten::slice_copy.Tensor_out", ev_t(self), op_ev_int(dim),
				 has_start ? op_ev_int(start) : op_ev_null(), has_end ? op_ev_int(end) : op_ev_null(),
				 op_ev_int(step), ev_t(out), ev_t(out)));
		op_check_shape(out, rank, osz);
		struct mctx m = {.self = self, .rank = rank, .dim = d, .start = s0, .step = step};
		check_map(out, self, map_slice, &m, 0, "slice");

		/* narrow_copy with a valid start/length */
		if (size > 0) {
			int64_t ns = op_rnd_range(0, (int)size - 1), nl = op_rnd_range(0, (int)(size - ns));
			osz[d] = (int32_t)nl;
			struct infd_tensor *o2 = rnd_out(dt, rank, osz);
			CHECK_OK(OP_CALL("aten::narrow_copy.out", ev_t(self), op_ev_int(dim),
					 op_ev_int(op_rnd() & 1 ? ns : ns - size), op_ev_int(nl), ev_t(o2), ev_t(o2)));
			struct mctx mn = {.self = self, .rank = rank, .dim = d, .start = ns, .step = 1};
			check_map(o2, self, map_slice, &mn, 0, "narrow");
		}
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(4)), *o = op_tensor_cap(F32, SHAPE(1), 64);
	struct infd_tensor *s0 = op_tensor(F32, SCALAR_SHAPE);
	CHECK_FAIL(OP_CALL("aten::slice_copy.Tensor_out", ev_t(x), op_ev_int(0), op_ev_null(), op_ev_null(), op_ev_int(0),
			   ev_t(o), ev_t(o)),
		   "slice step must be positive");
	CHECK_FAIL(OP_CALL("aten::slice_copy.Tensor_out", ev_t(s0), op_ev_int(0), op_ev_null(), op_ev_null(), op_ev_int(1),
			   ev_t(o), ev_t(o)),
		   "0-dim");
	CHECK_FAIL(OP_CALL("aten::slice_copy.Tensor_out", ev_t(x), op_ev_int(1), op_ev_null(), op_ev_null(), op_ev_int(1),
			   ev_t(o), ev_t(o)),
		   "out of range");
	CHECK_FAIL(OP_CALL("aten::narrow_copy.out", ev_t(x), op_ev_int(0), op_ev_int(2), op_ev_int(3), ev_t(o), ev_t(o)),
		   "exceeds dimension size");
}

static bool map_select(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	for (uint32_t d = 0, j = 0; d < m->rank; d++)
		s[d] = (int64_t)d == m->dim ? m->start : o[j++];
	return true;
}

Test(ops_shape, select_random)
{
	for (int it = 0; it < 300; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(1, 5);
		int32_t sizes[8], osz[8];
		rnd_shape(rank, sizes, true);
		int64_t dim = op_rnd_range(-(int)rank, (int)rank - 1), d = dim < 0 ? dim + rank : dim;
		if (sizes[d] == 0)
			sizes[d] = 3;
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		int64_t index = op_rnd_range(-sizes[d], sizes[d] - 1);
		for (uint32_t k = 0, j = 0; k < rank; k++)
			if ((int64_t)k != d)
				osz[j++] = sizes[k];
		struct infd_tensor *out = rnd_out(dt, rank - 1, osz);
		CHECK_OK(OP_CALL("aten::select_copy.int_out", ev_t(self), op_ev_int(dim), op_ev_int(index), ev_t(out), ev_t(out)));
		op_check_shape(out, rank - 1, osz);
		struct mctx m = {.self = self, .rank = rank, .dim = d, .start = index < 0 ? index + sizes[d] : index};
		check_map(out, self, map_select, &m, 0, "select");
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(2, 3)), *o = op_tensor_cap(F32, SHAPE(1), 64);
	CHECK_FAIL(OP_CALL("aten::select_copy.int_out", ev_t(x), op_ev_int(1), op_ev_int(3), ev_t(o), ev_t(o)),
		   "index 3 is out of range");
	CHECK_FAIL(OP_CALL("aten::select_copy.int_out", ev_t(x), op_ev_int(0), op_ev_int(-3), ev_t(o), ev_t(o)),
		   "out of range");
	CHECK_FAIL(OP_CALL("aten::select_copy.int_out", ev_t(x), op_ev_int(2), op_ev_int(0), ev_t(o), ev_t(o)),
		   "dim 2 is out of range");
	struct infd_tensor *s0 = op_tensor(F32, SCALAR_SHAPE);
	CHECK_FAIL(OP_CALL("aten::select_copy.int_out", ev_t(s0), op_ev_int(0), op_ev_int(0), ev_t(o), ev_t(o)), "0-dim");
}

static bool map_flip(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	for (uint32_t d = 0; d < m->rank; d++)
		s[d] = m->a[d] ? m->self->sizes[d] - 1 - o[d] : o[d];
	return true;
}

static bool map_repeat(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	uint32_t lead = (uint32_t)m->dim;
	for (uint32_t d = 0; d < m->self->rank; d++)
		s[d] = o[d + lead] % m->self->sizes[d];
	return true;
}

Test(ops_shape, flip_and_repeat)
{
	for (int it = 0; it < 200; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(0, 4);
		int32_t sizes[8], osz[8];
		rnd_shape(rank, sizes, true);
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		int64_t dims[8];
		uint32_t nd = 0;
		struct mctx m = {.self = self, .rank = rank};
		for (uint32_t d = 0; d < rank; d++)
			if ((m.a[d] = op_rnd() & 1))
				dims[nd++] = op_rnd() & 1 ? (int64_t)d : (int64_t)d - rank;
		struct infd_tensor *out = rnd_out(dt, rank, sizes);
		CHECK_OK(OP_CALL("aten::flip.out", ev_t(self), ev_ints(nd, dims), ev_t(out), ev_t(out)));
		check_map(out, self, map_flip, &m, 0, "flip");

		uint32_t lead = (uint32_t)op_rnd_range(0, 2);
		int64_t rep[8];
		for (uint32_t d = 0; d < lead + rank; d++) {
			rep[d] = op_rnd_range(0, 3);
			osz[d] = (int32_t)rep[d] * (d < lead ? 1 : sizes[d - lead]);
		}
		struct infd_tensor *o2 = rnd_out(dt, lead + rank, osz);
		CHECK_OK(OP_CALL("aten::repeat.out", ev_t(self), ev_ints(lead + rank, rep), ev_t(o2), ev_t(o2)));
		op_check_shape(o2, lead + rank, osz);
		struct mctx mr = {.self = self, .dim = lead};
		check_map(o2, self, map_repeat, &mr, 0, "repeat");
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(2, 3)), *o = op_tensor_cap(F32, SHAPE(1), 64);
	CHECK_FAIL(OP_CALL("aten::repeat.out", ev_t(x), ev_ints(1, (int64_t[]){2}), ev_t(o), ev_t(o)), "can not be smaller");
	CHECK_FAIL(OP_CALL("aten::repeat.out", ev_t(x), ev_ints(2, (int64_t[]){2, -1}), ev_t(o), ev_t(o)), "negative");
	CHECK_FAIL(OP_CALL("aten::flip.out", ev_t(x), ev_ints(2, (int64_t[]){0, -2}), ev_t(o), ev_t(o)),
		   "appears multiple times");
}

/* ---- Joining and splitting ------------------------------------------------- */

Test(ops_shape, cat_random)
{
	for (int it = 0; it < 200; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(1, 4), n = (uint32_t)op_rnd_range(1, 4);
		int32_t sizes[8];
		rnd_shape(rank, sizes, true);
		int64_t dim = op_rnd_range(-(int)rank, (int)rank - 1), d = dim < 0 ? dim + rank : dim;
		struct infd_tensor *ts[10];
		int64_t off[10], total = 0;
		uint32_t nt = 0;
		for (uint32_t k = 0; k < n; k++) {
			if (op_rnd() % 5 == 0)
				ts[nt++] = op_tensor(dt, SHAPE(0)); /* legacy: skipped */
			int32_t s[8];
			memcpy(s, sizes, sizeof s);
			s[d] = op_rnd_range(0, 3);
			off[nt] = total;
			total += s[d];
			ts[nt++] = rnd_tensor(dt, rank, s, op_rnd() & 1);
		}
		int32_t osz[8];
		memcpy(osz, sizes, sizeof osz);
		osz[d] = (int32_t)total;
		struct infd_tensor *out = rnd_out(dt, rank, osz);
		CHECK_OK(OP_CALL("aten::cat.out", op_ev_tensor_list(nt, ts), op_ev_int(dim), ev_t(out), ev_t(out)));
		op_check_shape(out, rank, osz);
		for (uint32_t k = 0; k < nt; k++) {
			const struct infd_tensor *t = ts[k];
			if (t->rank == 1 && t->sizes[0] == 0)
				continue;
			for (uint64_t e = 0; e < t->numel; e++) {
				int64_t i[8];
				unravel(e, rank, t->sizes, i);
				double want = op_get_at(t, i);
				i[d] += off[k];
				cr_assert_eq(op_get_at(out, i), want, "cat element %llu of tensor %u",
					     (unsigned long long)e, k);
			}
		}
	}
}

Test(ops_shape, cat_dtypes_and_errors)
{
	/* int32 + float32 -> float32 out; all-legacy-empty gives [0] */
	struct infd_tensor *a = op_tensor(I32, SHAPE(2)), *b = op_tensor(F32, SHAPE(1));
	op_set(a, 0, 3);
	op_set(a, 1, -4);
	op_set(b, 0, 2.5);
	struct infd_tensor *o = op_tensor_cap(F32, SHAPE(1), 16);
	CHECK_OK(OP_CALL("aten::cat.out", op_ev_tensor_list(2, (struct infd_tensor *[]){a, b}), op_ev_int(0), ev_t(o), ev_t(o)));
	op_check_close(o, (double[]){3, -4, 2.5}, 0, 0);
	struct infd_tensor *oi = op_tensor_cap(I32, SHAPE(1), 16);
	CHECK_FAIL(OP_CALL("aten::cat.out", op_ev_tensor_list(2, (struct infd_tensor *[]){a, b}), op_ev_int(0), ev_t(oi), ev_t(oi)),
		   "can't be cast");
	struct infd_tensor *e = op_tensor(F32, SHAPE(0));
	CHECK_OK(OP_CALL("aten::cat.out", op_ev_tensor_list(2, (struct infd_tensor *[]){e, e}), op_ev_int(5), ev_t(o), ev_t(o)));
	op_check_shape(o, SHAPE(0));

	struct infd_tensor *x = op_tensor(F32, SHAPE(2, 3)), *y = op_tensor(F32, SHAPE(3, 3)), *z = op_tensor(F32, SHAPE(2, 3, 1));
	CHECK_FAIL(OP_CALL("aten::cat.out", op_ev_tensor_list(2, (struct infd_tensor *[]){x, y}), op_ev_int(1), ev_t(o), ev_t(o)),
		   "sizes of tensors must match except in dimension 1");
	CHECK_FAIL(OP_CALL("aten::cat.out", op_ev_tensor_list(2, (struct infd_tensor *[]){x, z}), op_ev_int(0), ev_t(o), ev_t(o)),
		   "same number of dimensions");
	CHECK_FAIL(OP_CALL("aten::cat.out", op_ev_tensor_list(2, (struct infd_tensor *[]){x, y}), op_ev_int(2), ev_t(o), ev_t(o)),
		   "out of range");
	CHECK_FAIL(OP_CALL("aten::cat.out", op_ev_tensor_list(0, NULL), op_ev_int(0), ev_t(o), ev_t(o)), "non-empty");
	struct infd_tensor *s0 = op_tensor(F32, SCALAR_SHAPE);
	CHECK_FAIL(OP_CALL("aten::cat.out", op_ev_tensor_list(1, (struct infd_tensor *[]){s0}), op_ev_int(0), ev_t(o), ev_t(o)),
		   "zero-dimensional");
	/* out aliasing an input */
	struct infd_tensor *big = op_tensor_cap(F32, SHAPE(2, 3), 64);
	CHECK_FAIL(OP_CALL("aten::cat.out", op_ev_tensor_list(2, (struct infd_tensor *[]){big, x}), op_ev_int(0), ev_t(big), ev_t(big)),
		   "shares memory");
}

Test(ops_shape, stack_random)
{
	for (int it = 0; it < 150; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(0, 4), n = (uint32_t)op_rnd_range(1, 4);
		int32_t sizes[8], osz[8];
		rnd_shape(rank, sizes, true);
		int64_t dim = op_rnd_range(-(int)rank - 1, (int)rank), d = dim < 0 ? dim + rank + 1 : dim;
		struct infd_tensor *ts[4];
		for (uint32_t k = 0; k < n; k++)
			ts[k] = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		for (uint32_t k = 0, j = 0; k <= rank; k++)
			osz[k] = (int64_t)k == d ? (int32_t)n : sizes[j++];
		struct infd_tensor *out = rnd_out(dt, rank + 1, osz);
		CHECK_OK(OP_CALL("aten::stack.out", op_ev_tensor_list(n, ts), op_ev_int(dim), ev_t(out), ev_t(out)));
		op_check_shape(out, rank + 1, osz);
		for (uint32_t k = 0; k < n; k++)
			for (uint64_t e = 0; e < ts[k]->numel; e++) {
				int64_t i[8], j[8];
				unravel(e, rank, sizes, i);
				for (uint32_t q = 0, r = 0; q <= rank; q++)
					j[q] = (int64_t)q == d ? k : i[r++];
				cr_assert_eq(op_get_at(out, j), op_get_at(ts[k], i), "stack");
			}
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(2, 3)), *y = op_tensor(F32, SHAPE(3, 2)), *o = op_tensor_cap(F32, SHAPE(1), 64);
	CHECK_FAIL(OP_CALL("aten::stack.out", op_ev_tensor_list(2, (struct infd_tensor *[]){x, y}), op_ev_int(0), ev_t(o), ev_t(o)),
		   "stack expects each tensor to be equal size, but got [2, 3] at entry 0 and [3, 2] at entry 1");
	CHECK_FAIL(OP_CALL("aten::stack.out", op_ev_tensor_list(1, (struct infd_tensor *[]){x}), op_ev_int(3), ev_t(o), ev_t(o)),
		   "out of range");
}

/* Check pieces: out k equals self narrowed at [off_k, off_k + len_k) along d
 * (or selected at k when `unbind`). */
static void check_pieces(const struct infd_tensor *self, struct infd_tensor *const *outs, uint32_t n,
			 uint32_t d, const int64_t *lens, bool unbind)
{
	int64_t off = 0;
	for (uint32_t k = 0; k < n; k++) {
		const struct infd_tensor *o = outs[k];
		int32_t want[8];
		uint32_t wr = 0;
		for (uint32_t q = 0; q < self->rank; q++) {
			if (q == d && unbind)
				continue;
			want[wr++] = q == d ? (int32_t)lens[k] : self->sizes[q];
		}
		op_check_shape(o, wr, want);
		for (uint64_t e = 0; e < o->numel; e++) {
			int64_t i[8], j[8];
			unravel(e, wr, want, i);
			for (uint32_t q = 0, r = 0; q < self->rank; q++)
				j[q] = q == d ? (unbind ? (int64_t)k : off + i[r++]) : i[r++];
			cr_assert_eq(op_get_at(o, i), op_get_at(self, j), "piece %u element %llu", k,
				     (unsigned long long)e);
		}
		off += unbind ? 1 : lens[k];
	}
}

Test(ops_shape, split_unbind_random)
{
	for (int it = 0; it < 150; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(1, 4);
		int32_t sizes[8];
		rnd_shape(rank, sizes, true);
		int64_t dim = op_rnd_range(-(int)rank, (int)rank - 1), d = dim < 0 ? dim + rank : dim;
		sizes[d] = op_rnd_range(0, 7);
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		struct infd_tensor *outs[8];
		int64_t lens[8];
		/* split_copy.Tensor */
		int64_t split = sizes[d] ? op_rnd_range(1, 4) : op_rnd_range(0, 2);
		uint32_t n = split && sizes[d] ? (uint32_t)((sizes[d] + split - 1) / split) : 1;
		for (uint32_t k = 0; k < n; k++) {
			lens[k] = k + 1 < n ? split : sizes[d] - split * (int64_t)(n - 1);
			outs[k] = op_tensor_cap(dt, SHAPE(1), 256);
		}
		struct infd_evalue *ol = op_ev_tensor_list(n, outs);
		CHECK_OK(OP_CALL("aten::split_copy.Tensor_out", ev_t(self), op_ev_int(split), op_ev_int(dim), ol, ol));
		check_pieces(self, outs, n, (uint32_t)d, lens, false);

		/* split_with_sizes_copy */
		int64_t left = sizes[d];
		n = 0;
		while (left > 0 || n == 0) {
			lens[n] = op_rnd_range(0, (int)left);
			left -= lens[n];
			if (n == 5) {
				lens[n] += left;
				left = 0;
			}
			outs[n] = op_tensor_cap(dt, SHAPE(1), 256);
			n++;
		}
		struct infd_evalue *ol2 = op_ev_tensor_list(n, outs);
		CHECK_OK(OP_CALL("aten::split_with_sizes_copy.out", ev_t(self), ev_ints(n, lens), op_ev_int(dim), ol2,
				 op_ev_tensor_list(n, outs)));
		check_pieces(self, outs, n, (uint32_t)d, lens, false);

		/* unbind_copy */
		n = (uint32_t)sizes[d];
		for (uint32_t k = 0; k < n; k++)
			outs[k] = op_tensor_cap(dt, SHAPE(1), 256);
		struct infd_evalue *ol3 = op_ev_tensor_list(n, outs);
		CHECK_OK(OP_CALL("aten::unbind_copy.int_out", ev_t(self), op_ev_int(dim), ol3, ol3));
		check_pieces(self, outs, n, (uint32_t)d, lens, true);
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(5, 2)), *o1 = op_tensor_cap(F32, SHAPE(1), 16), *o2 = op_tensor_cap(F32, SHAPE(1), 16);
	struct infd_evalue *l2 = op_ev_tensor_list(2, (struct infd_tensor *[]){o1, o2});
	CHECK_FAIL(OP_CALL("aten::split_copy.Tensor_out", ev_t(x), op_ev_int(2), op_ev_int(0), l2, l2), "gives 3 tensors, but out has 2");
	CHECK_FAIL(OP_CALL("aten::split_copy.Tensor_out", ev_t(x), op_ev_int(-1), op_ev_int(0), l2, l2), "non-negative");
	CHECK_FAIL(OP_CALL("aten::split_with_sizes_copy.out", ev_t(x), ev_ints(2, (int64_t[]){2, 2}), op_ev_int(0), l2, l2),
		   "sum exactly to 5");
	CHECK_FAIL(OP_CALL("aten::split_with_sizes_copy.out", ev_t(x), ev_ints(2, (int64_t[]){6, -1}), op_ev_int(0), l2, l2),
		   "invalid");
	CHECK_FAIL(OP_CALL("aten::unbind_copy.int_out", ev_t(x), op_ev_int(0), l2, l2), "out has 2 tensors");
	CHECK_FAIL(OP_CALL("aten::split_with_sizes_copy.out", ev_t(x), ev_ints(2, (int64_t[]){3, 2}), op_ev_int(0), l2,
			   op_ev_tensor_list(2, (struct infd_tensor *[]){o2, o1})),
		   "return slot");
}

/* ---- Padding ------------------------------------------------------------------ */

static bool map_pad(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	for (uint32_t d = 0; d < m->rank; d++) {
		s[d] = o[d] - m->a[d];
		if (s[d] < 0 || s[d] >= m->self->sizes[d])
			return false;
	}
	return true;
}

Test(ops_shape, constant_pad_random)
{
	for (int it = 0; it < 200; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(0, 4);
		int32_t sizes[8], osz[8];
		rnd_shape(rank, sizes, true);
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		uint32_t np = (uint32_t)op_rnd_range(0, (int)rank);
		int64_t pad[16];
		struct mctx m = {.self = self, .rank = rank};
		memcpy(osz, sizes, sizeof osz);
		for (uint32_t k = 0; k < np; k++) {
			uint32_t d = rank - 1 - k;
			int64_t lo = op_rnd_range(-2, 3), hi = op_rnd_range(-2, 3);
			if (sizes[d] + lo + hi < 0)
				lo = hi = 1;
			pad[2 * k] = lo;
			pad[2 * k + 1] = hi;
			m.a[d] = lo;
			osz[d] = (int32_t)(sizes[d] + lo + hi);
		}
		double value = dt == B ? 1 : dt == U8 ? 7 : dt == I64 ? -5 : 0.5;
		struct infd_evalue *vev = dt == B ? op_ev_bool(true) : dt == F32 || dt == F16 ? op_ev_double(0.5) : op_ev_int((int64_t)value);
		struct infd_tensor *out = rnd_out(dt, rank, osz);
		CHECK_OK(OP_CALL("aten::constant_pad_nd.out", ev_t(self), ev_ints(2 * np, pad), vev, ev_t(out), ev_t(out)));
		op_check_shape(out, rank, osz);
		check_map(out, self, map_pad, &m, value, "constant_pad_nd");
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(2, 3)), *o = op_tensor_cap(F32, SHAPE(1), 64);
	CHECK_FAIL(OP_CALL("aten::constant_pad_nd.out", ev_t(x), ev_ints(3, (int64_t[]){1, 1, 1}), op_ev_int(0), ev_t(o), ev_t(o)),
		   "must be even");
	CHECK_FAIL(OP_CALL("aten::constant_pad_nd.out", ev_t(x), ev_ints(6, (int64_t[]){1, 1, 1, 1, 1, 1}), op_ev_int(0), ev_t(o), ev_t(o)),
		   "no more than twice");
	CHECK_FAIL(OP_CALL("aten::constant_pad_nd.out", ev_t(x), ev_ints(2, (int64_t[]){-2, -2}), op_ev_int(0), ev_t(o), ev_t(o)),
		   "negative output size");
	struct infd_tensor *u = op_tensor(U8, SHAPE(2)), *ou = op_tensor_cap(U8, SHAPE(1), 16);
	CHECK_FAIL(OP_CALL("aten::constant_pad_nd.out", ev_t(u), ev_ints(2, (int64_t[]){1, 1}), op_ev_int(300), ev_t(ou), ev_t(ou)),
		   "cannot be converted to type uint8 without overflow");
}

/* ---- Copies, dtype and dim order conversion ---------------------------------- */

static bool map_identity(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	for (uint32_t d = 0; d < m->rank; d++)
		s[d] = o[d];
	return true;
}

Test(ops_shape, identity_copies_random_layouts)
{
	static const char *const keys3[] = {"aten::alias_copy.out", "aten::detach_copy.out", "aten::lift_fresh_copy.out"};
	for (int it = 0; it < 200; it++) {
		int dt = DTYPES[it % N_DTYPES];
		uint32_t rank = (uint32_t)op_rnd_range(0, 5);
		int32_t sizes[8];
		rnd_shape(rank, sizes, true);
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		struct mctx m = {.self = self, .rank = rank};
		struct infd_tensor *out = rnd_out(dt, rank, sizes);
		switch (it % 6) {
		case 0:
			CHECK_OK(OP_CALL("aten::clone.out", ev_t(self), op_rnd() & 1 ? op_ev_null() : op_ev_int(1), ev_t(out), ev_t(out)));
			break;
		case 1:
			CHECK_OK(OP_CALL("aten::_to_copy.out", ev_t(self), op_ev_bool(false), op_ev_null(), ev_t(out), ev_t(out)));
			break;
		case 2: {
			int64_t order[8];
			for (uint32_t d = 0; d < rank; d++)
				order[d] = out->dim_order[d];
			CHECK_OK(OP_CALL("dim_order_ops::_clone_dim_order.out", ev_t(self), op_ev_bool(false),
					 ev_ints(rank, order), ev_t(out), ev_t(out)));
			break;
		}
		default:
			CHECK_OK(OP_CALL(keys3[it % 6 - 3], ev_t(self), ev_t(out), ev_t(out)));
			break;
		}
		op_check_shape(out, rank, sizes);
		check_map(out, self, map_identity, &m, 0, "identity copy");
	}
}

Test(ops_shape, channels_last_round_trip)
{
	const int dts[] = {F32, F16, U8, I64, B};
	for (int k = 0; k < 5; k++) {
		int dt = dts[k];
		int32_t N = 2, C = 5, H = 3, W = 4;
		struct infd_tensor *x = rnd_tensor(dt, SHAPE(2, 5, 3, 4), false);
		struct infd_tensor *cl = op_tensor_order(dt, SHAPE(2, 5, 3, 4), (const uint8_t[]){0, 2, 3, 1});
		CHECK_OK(OP_CALL("dim_order_ops::_to_dim_order_copy.out", ev_t(x), op_ev_bool(false),
				 ev_ints(4, (int64_t[]){0, 2, 3, 1}), ev_t(cl), ev_t(cl)));
		/* memory of cl is NHWC */
		for (int n = 0; n < N; n++)
			for (int c = 0; c < C; c++)
				for (int h = 0; h < H; h++)
					for (int w = 0; w < W; w++)
						cr_assert_eq(op_get(cl, (uint64_t)(((n * H + h) * W + w) * C + c)),
							     op_get(x, (uint64_t)(((n * C + c) * H + h) * W + w)), "NHWC memory");
		struct infd_tensor *back = op_tensor(dt, SHAPE(2, 5, 3, 4));
		CHECK_OK(OP_CALL("dim_order_ops::_to_dim_order_copy.out", ev_t(cl), op_ev_bool(false),
				 ev_ints(4, (int64_t[]){0, 1, 2, 3}), ev_t(back), ev_t(back)));
		cr_assert_eq(memcmp(back->data, x->data, x->nbytes), 0, "round trip %s", infd_dtype_name(dt));
		/* None: keep whatever order out has */
		struct infd_tensor *b2 = op_tensor(dt, SHAPE(2, 5, 3, 4));
		CHECK_OK(OP_CALL("dim_order_ops::_clone_dim_order.out", ev_t(cl), op_ev_bool(false), op_ev_null(), ev_t(b2), ev_t(b2)));
		cr_assert_eq(memcmp(b2->data, x->data, x->nbytes), 0);
	}
	/* 5-D channels-last [0,2,3,4,1], large enough for the tiled path */
	struct infd_tensor *x = rnd_tensor(F32, SHAPE(2, 40, 3, 5, 7), false);
	struct infd_tensor *cl = op_tensor_order(F32, SHAPE(2, 40, 3, 5, 7), (const uint8_t[]){0, 2, 3, 4, 1});
	CHECK_OK(OP_CALL("dim_order_ops::_to_dim_order_copy.out", ev_t(x), op_ev_bool(false),
			 ev_ints(5, (int64_t[]){0, 2, 3, 4, 1}), ev_t(cl), ev_t(cl)));
	struct mctx m = {.self = x, .rank = 5};
	check_map(cl, x, map_identity, &m, 0, "5-D channels-last");
	struct infd_tensor *back = op_tensor(F32, SHAPE(2, 40, 3, 5, 7));
	CHECK_OK(OP_CALL("dim_order_ops::_to_dim_order_copy.out", ev_t(cl), op_ev_bool(false), op_ev_null(), ev_t(back), ev_t(back)));
	cr_assert_eq(memcmp(back->data, x->data, x->nbytes), 0);

	/* the requested order must be the out tensor's */
	struct infd_tensor *plain = op_tensor(F32, SHAPE(2, 40, 3, 5, 7));
	CHECK_FAIL(OP_CALL("dim_order_ops::_to_dim_order_copy.out", ev_t(x), op_ev_bool(false),
			   ev_ints(5, (int64_t[]){0, 2, 3, 4, 1}), ev_t(plain), ev_t(plain)),
		   "dim order");
	CHECK_FAIL(OP_CALL("dim_order_ops::_to_dim_order_copy.out", ev_t(x), op_ev_bool(false),
			   ev_ints(5, (int64_t[]){0, 2, 2, 4, 1}), ev_t(plain), ev_t(plain)),
		   "not a permutation");
	CHECK_FAIL(OP_CALL("dim_order_ops::_to_dim_order_copy.out", ev_t(x), op_ev_bool(false),
			   ev_ints(4, (int64_t[]){0, 2, 3, 1}), ev_t(plain), ev_t(plain)),
		   "has 4 entries");
	/* size-1 dims make orders equivalent: [1,1,49,10] with [0,2,1,3] is contiguous */
	struct infd_tensor *kws = rnd_tensor(F32, SHAPE(1, 1, 49, 10), false);
	struct infd_tensor *ko = op_tensor_order(F32, SHAPE(1, 1, 49, 10), (const uint8_t[]){0, 2, 1, 3});
	CHECK_OK(OP_CALL("dim_order_ops::_to_dim_order_copy.out", ev_t(kws), op_ev_bool(false),
			 ev_ints(4, (int64_t[]){0, 1, 2, 3}), ev_t(ko), ev_t(ko)));
	cr_assert_eq(memcmp(ko->data, kws->data, kws->nbytes), 0);
}

Test(ops_shape, to_copy_dtype_conversion)
{
	struct infd_tensor *x = op_tensor_order(F32, SHAPE(2, 3, 2, 2), (const uint8_t[]){0, 2, 3, 1});
	for (uint64_t k = 0; k < x->numel; k++)
		op_set(x, k, (double)k * 0.75 - 8.6);
	const int dts[] = {I64, I32, F16, F64, B, U8};
	for (int j = 0; j < 6; j++) {
		struct infd_tensor *o = op_tensor(dts[j], SHAPE(2, 3, 2, 2));
		CHECK_OK(OP_CALL("aten::_to_copy.out", ev_t(x), op_ev_bool(false), op_ev_int(0), ev_t(o), ev_t(o)));
		for (uint64_t k = 0; k < o->numel; k++) {
			int64_t i[4];
			unravel(k, 4, o->sizes, i);
			double v = op_get_at(x, i), want;
			switch (dts[j]) {
			case B: want = v != 0; break;
			case U8: want = v < 0 ? 0 : trunc(v); break; /* saturates */
			case I64:
			case I32: want = trunc(v); break;
			default: want = v; break;
			}
			if (dts[j] == U8 && v < 0)
				continue; /* negative float -> uint8 is undefined in C++ */
			double got = op_get_at(o, i);
			cr_assert(fabs(got - want) <= (dts[j] == F16 ? 0.01 : 0), "%s element %llu: %g vs %g",
				  infd_dtype_name(dts[j]), (unsigned long long)k, got, want);
		}
	}
	/* and back from int64 to float32 in channels-last */
	struct infd_tensor *xi = rnd_tensor(I64, SHAPE(2, 3, 2, 2), false);
	struct infd_tensor *of = op_tensor_order(F32, SHAPE(2, 3, 2, 2), (const uint8_t[]){0, 2, 3, 1});
	CHECK_OK(OP_CALL("dim_order_ops::_to_dim_order_copy.out", ev_t(xi), op_ev_bool(false),
			 ev_ints(4, (int64_t[]){0, 2, 3, 1}), ev_t(of), ev_t(of)));
	struct mctx m = {.self = xi, .rank = 4};
	check_map(of, xi, map_identity, &m, 0, "int64 -> float32 channels-last");
	/* a quantized dtype only copies to itself */
	struct infd_tensor *q = op_tensor(INFD_DTYPE_QINT8, SHAPE(4)), *qo = op_tensor(F32, SHAPE(4));
	CHECK_FAIL(OP_CALL("aten::_to_copy.out", ev_t(q), op_ev_bool(false), op_ev_null(), ev_t(qo), ev_t(qo)), "cannot convert");
	struct infd_tensor *qq = op_tensor(INFD_DTYPE_QINT8, SHAPE(4));
	memcpy(q->data, "\x01\x82\x03\xff", 4);
	CHECK_OK(OP_CALL("aten::clone.out", ev_t(q), op_ev_null(), ev_t(qq), ev_t(qq)));
	cr_assert_eq(memcmp(qq->data, q->data, 4), 0);
	CHECK_FAIL(OP_CALL("aten::clone.out", ev_t(x), op_ev_int(7), ev_t(of), ev_t(of)), "unknown memory format");
	/* out == self with the same layout is a no-op; overlapping otherwise is refused */
	CHECK_OK(OP_CALL("aten::clone.out", ev_t(x), op_ev_null(), ev_t(x), ev_t(x)));
	struct infd_tensor *alias = op_tensor(F32, SHAPE(2, 3, 2, 2));
	alias->data = x->data;
	CHECK_FAIL(OP_CALL("aten::clone.out", ev_t(x), op_ev_null(), ev_t(alias), ev_t(alias)), "shares memory");
}

/* ---- Creation ------------------------------------------------------------------ */

static bool is_float_dt(int dt)
{
	return dt == F32 || dt == F16 || dt == F64 || dt == BF16;
}

static void check_all(const struct infd_tensor *t, double want, const char *what)
{
	for (uint64_t k = 0; k < t->numel; k++)
		cr_assert_eq(op_get(t, k), want, "%s %s element %llu: %g, expected %g", what, infd_dtype_name(t->dtype),
			     (unsigned long long)k, op_get(t, k), want);
}

Test(ops_shape, full_zeros_ones_scalar_tensor)
{
	const int dts[] = {F32, I64, B, U8, F16, I32, F64, BF16, I8, I16};
	for (int j = 0; j < 10; j++) {
		int dt = dts[j];
		uint32_t rank = (uint32_t)op_rnd_range(0, 4);
		int32_t sizes[8];
		int64_t sz[8];
		rnd_shape(rank, sizes, true);
		for (uint32_t d = 0; d < rank; d++)
			sz[d] = sizes[d];
		struct infd_tensor *o = op_tensor_cap(dt, SHAPE(1), 256);
		bool fl = is_float_dt(dt);
		double v = dt == B ? 1 : dt == U8 ? 200 : fl ? -2.5 : -7;
		struct infd_evalue *vev = dt == B ? op_ev_bool(true) : fl ? op_ev_double(v) : op_ev_int((int64_t)v);
		CHECK_OK(OP_CALL("aten::full.out", ev_ints(rank, sz), vev, ev_t(o), ev_t(o)));
		op_check_shape(o, rank, sizes);
		check_all(o, v, "full");
		CHECK_OK(OP_CALL("aten::zeros.out", ev_ints(rank, sz), ev_t(o), ev_t(o)));
		check_all(o, 0, "zeros");
		CHECK_OK(OP_CALL("aten::ones.out", ev_ints(rank, sz), ev_t(o), ev_t(o)));
		check_all(o, 1, "ones");
		struct infd_tensor *like = rnd_tensor(F32, rank, sizes, true);
		struct infd_tensor *ol = rnd_out(dt, rank, sizes);
		CHECK_OK(OP_CALL("aten::full_like.out", ev_t(like), vev, op_ev_null(), ev_t(ol), ev_t(ol)));
		op_check_shape(ol, rank, sizes);
		check_all(ol, v, "full_like");
		CHECK_OK(OP_CALL("aten::scalar_tensor.out", vev, ev_t(o), ev_t(o)));
		op_check_shape(o, SCALAR_SHAPE);
		check_all(o, v, "scalar_tensor");
		cr_assert_eq(o->numel, 1);
	}
	/* Python values convert like Tensor.fill_: 2.7 -> 2 in int64, 2.5 -> True, -1 wraps in uint8 */
	struct infd_tensor *o = op_tensor(I64, SHAPE(3)), *b = op_tensor(B, SHAPE(3)), *u = op_tensor(U8, SHAPE(3));
	CHECK_OK(OP_CALL("aten::full.out", ev_ints(1, (int64_t[]){3}), op_ev_double(2.7), ev_t(o), ev_t(o)));
	check_all(o, 2, "full 2.7");
	CHECK_OK(OP_CALL("aten::full.out", ev_ints(1, (int64_t[]){3}), op_ev_double(2.5), ev_t(b), ev_t(b)));
	check_all(b, 1, "full bool");
	CHECK_OK(OP_CALL("aten::full.out", ev_ints(1, (int64_t[]){3}), op_ev_int(-1), ev_t(u), ev_t(u)));
	check_all(u, 255, "full uint8 -1");
	CHECK_FAIL(OP_CALL("aten::full.out", ev_ints(1, (int64_t[]){3}), op_ev_int(256), ev_t(u), ev_t(u)), "without overflow");
	CHECK_FAIL(OP_CALL("aten::full.out", ev_ints(1, (int64_t[]){3}), op_ev_double(-1.0), ev_t(u), ev_t(u)), "without overflow");
	struct infd_tensor *h = op_tensor(F16, SHAPE(3));
	CHECK_FAIL(OP_CALL("aten::full.out", ev_ints(1, (int64_t[]){3}), op_ev_double(1e6), ev_t(h), ev_t(h)), "float16 without overflow");
	CHECK_OK(OP_CALL("aten::full.out", ev_ints(1, (int64_t[]){3}), op_ev_double(INFINITY), ev_t(h), ev_t(h)));
	CHECK_FAIL(OP_CALL("aten::full.out", ev_ints(1, (int64_t[]){3}), op_ev_int(70000), ev_t(h), ev_t(h)), "float16 without overflow");
	CHECK_OK(OP_CALL("aten::full.out", ev_ints(1, (int64_t[]){3}), op_ev_int(65504), ev_t(h), ev_t(h)));
	check_all(h, 65504, "full half max");
	CHECK_FAIL(OP_CALL("aten::full.out", ev_ints(2, (int64_t[]){3, -1}), op_ev_int(0), ev_t(o), ev_t(o)), "negative dimension");
	CHECK_FAIL(OP_CALL("aten::zeros.out", ev_ints(1, (int64_t[]){4}), ev_t(o), ev_t(o)), "cannot resize");
	/* empty.out and _empty_dim_order.out only shape the out */
	struct infd_tensor *e = op_tensor_cap(F32, SHAPE(1), 64);
	CHECK_OK(OP_CALL("aten::empty.out", ev_ints(2, (int64_t[]){3, 4}), op_ev_null(), ev_t(e), ev_t(e)));
	op_check_shape(e, SHAPE(3, 4));
	struct infd_tensor *ec = op_tensor_order(F32, SHAPE(1, 2, 3, 2), (const uint8_t[]){0, 2, 3, 1});
	CHECK_OK(OP_CALL("dim_order_ops::_empty_dim_order.out", ev_ints(4, (int64_t[]){1, 2, 3, 2}),
			 ev_ints(4, (int64_t[]){0, 2, 3, 1}), ev_t(ec), ev_t(ec)));
	CHECK_FAIL(OP_CALL("dim_order_ops::_empty_dim_order.out", ev_ints(4, (int64_t[]){1, 2, 3, 2}),
			   ev_ints(4, (int64_t[]){0, 1, 2, 3}), ev_t(ec), ev_t(ec)),
		   "dim order");
}

/* arange reference: PyTorch's length rule and start + i*step */
static void check_arange(int dt, struct infd_evalue *s, struct infd_evalue *e, struct infd_evalue *st, int64_t want_len,
			 double start, double step)
{
	struct infd_tensor *o = op_tensor_cap(dt, SHAPE(1), 64);
	if (s)
		CHECK_OK(OP_CALL("aten::arange.start_out", s, e, st, ev_t(o), ev_t(o)));
	else
		CHECK_OK(OP_CALL("aten::arange.out", e, ev_t(o), ev_t(o)));
	cr_assert_eq(o->rank, 1);
	cr_assert_eq(o->sizes[0], want_len, "%s arange length %d, expected %lld", infd_dtype_name(dt), o->sizes[0],
		     (long long)want_len);
	for (int64_t i = 0; i < want_len; i++) {
		double want = start + (double)i * step, got = op_get(o, (uint64_t)i);
		double tol = dt == F16 ? 2e-3 * fabs(want) + 1e-3 : dt == F32 ? 1e-6 * fabs(want) + 1e-7 : 0;
		if (!is_float_dt(dt))
			want = (double)(int64_t)want;
		cr_assert(fabs(got - want) <= tol, "arange[%lld] = %g, expected %g", (long long)i, got, want);
	}
}

Test(ops_shape, arange)
{
	check_arange(I64, NULL, op_ev_int(5), NULL, 5, 0, 1);
	check_arange(F32, NULL, op_ev_double(3.5), NULL, 4, 0, 1);
	check_arange(F32, op_ev_int(0), op_ev_int(1), op_ev_double(0.1), 10, 0, 0.1);
	check_arange(F32, op_ev_double(1), op_ev_double(2.5), op_ev_double(0.5), 3, 1, 0.5);
	check_arange(I64, op_ev_int(10), op_ev_int(0), op_ev_int(-3), 4, 10, -3);
	check_arange(I64, op_ev_int(0), op_ev_int(10), op_ev_int(3), 4, 0, 3);
	check_arange(I32, op_ev_int(-5), op_ev_int(5), op_ev_int(2), 5, -5, 2);
	check_arange(F16, op_ev_double(-1.5), op_ev_double(1), op_ev_double(0.5), 5, -1.5, 0.5);
	check_arange(F64, op_ev_double(0), op_ev_double(-1), op_ev_double(-0.25), 4, 0, -0.25);
	check_arange(U8, op_ev_int(3), op_ev_int(3), op_ev_int(1), 0, 0, 1);
	check_arange(I64, op_ev_int(INT64_MIN + 10), op_ev_int(INT64_MIN + 20), op_ev_int(4), 3, (double)(INT64_MIN + 10), 4);
	struct infd_tensor *o = op_tensor_cap(F32, SHAPE(1), 64);
	CHECK_FAIL(OP_CALL("aten::arange.start_out", op_ev_int(0), op_ev_int(5), op_ev_int(0), ev_t(o), ev_t(o)), "step must be nonzero");
	CHECK_FAIL(OP_CALL("aten::arange.start_out", op_ev_int(0), op_ev_int(5), op_ev_int(-1), ev_t(o), ev_t(o)), "inconsistent with step sign");
	CHECK_FAIL(OP_CALL("aten::arange.start_out", op_ev_double(NAN), op_ev_int(5), op_ev_int(1), ev_t(o), ev_t(o)), "unsupported range");
	CHECK_FAIL(OP_CALL("aten::arange.out", op_ev_int(100), ev_t(o), ev_t(o)), "cannot resize");
	struct infd_tensor *b = op_tensor_cap(B, SHAPE(1), 64);
	CHECK_FAIL(OP_CALL("aten::arange.out", op_ev_int(2), ev_t(b), ev_t(b)), "unsupported dtype bool");
	struct infd_tensor *oi = op_tensor_cap(I64, SHAPE(1), 64);
	CHECK_FAIL(OP_CALL("aten::arange.start_out", op_ev_int(0), op_ev_int(5), op_ev_double(0.5), ev_t(oi), ev_t(oi)),
		   "step must be nonzero");
}

/* ---- Gathers ------------------------------------------------------------------ */

Test(ops_shape, embedding_random)
{
	for (int it = 0; it < 100; it++) {
		int dt = DTYPES[it % N_DTYPES], idt = it & 1 ? I64 : I32;
		int32_t V = op_rnd_range(1, 9), D = op_rnd_range(0, 6);
		struct infd_tensor *w = rnd_tensor(dt, SHAPE(V, D), op_rnd() & 1);
		uint32_t rank = (uint32_t)op_rnd_range(0, 3);
		int32_t sizes[8];
		rnd_shape(rank, sizes, true);
		struct infd_tensor *idx = op_tensor_order(idt, rank, sizes, NULL);
		if (op_rnd() & 1) {
			uint8_t order[8];
			rnd_perm(order, rank);
			idx = op_tensor_order(idt, rank, sizes, order);
		}
		for (uint64_t k = 0; k < idx->numel; k++)
			op_set(idx, k, op_rnd_range(0, V - 1));
		sizes[rank] = D;
		struct infd_tensor *out = rnd_out(dt, rank + 1, sizes);
		CHECK_OK(OP_CALL("aten::embedding.out", ev_t(w), ev_t(idx), op_ev_int(-1), op_ev_bool(false), op_ev_bool(false),
				 ev_t(out), ev_t(out)));
		op_check_shape(out, rank + 1, sizes);
		for (uint64_t k = 0; k < out->numel; k++) {
			int64_t o[8];
			unravel(k, rank + 1, sizes, o);
			int64_t row = (int64_t)op_get_at(idx, o);
			int64_t wi[2] = {row, o[rank]};
			cr_assert_eq(op_get_at(out, o), op_get_at(w, wi), "embedding element %llu", (unsigned long long)k);
		}
	}
	struct infd_tensor *w = op_tensor(F32, SHAPE(4, 3)), *o = op_tensor_cap(F32, SHAPE(1), 64);
	struct infd_tensor *bad = op_tensor(I64, SHAPE(2));
	op_set(bad, 1, 4);
	CHECK_FAIL(OP_CALL("aten::embedding.out", ev_t(w), ev_t(bad), op_ev_int(-1), op_ev_bool(false), op_ev_bool(false), ev_t(o), ev_t(o)),
		   "index 4 is out of range");
	op_set(bad, 1, -1);
	CHECK_FAIL(OP_CALL("aten::embedding.out", ev_t(w), ev_t(bad), op_ev_int(-1), op_ev_bool(false), op_ev_bool(false), ev_t(o), ev_t(o)),
		   "index -1 is out of range");
	struct infd_tensor *fidx = op_tensor(F32, SHAPE(2));
	CHECK_FAIL(OP_CALL("aten::embedding.out", ev_t(w), ev_t(fidx), op_ev_int(-1), op_ev_bool(false), op_ev_bool(false), ev_t(o), ev_t(o)),
		   "must be int64 or int32");
	struct infd_tensor *w1 = op_tensor(F32, SHAPE(4));
	op_set(bad, 1, 0);
	CHECK_FAIL(OP_CALL("aten::embedding.out", ev_t(w1), ev_t(bad), op_ev_int(-1), op_ev_bool(false), op_ev_bool(false), ev_t(o), ev_t(o)),
		   "must be 2-D");
}

static bool map_index_select(const void *p, const int64_t *o, int64_t *s)
{
	const struct mctx *m = p;
	for (uint32_t d = 0; d < m->rank; d++)
		s[d] = o[d];
	if (m->rank)
		s[m->dim] = m->idx[o[m->dim]];
	return true;
}

Test(ops_shape, index_select_random)
{
	for (int it = 0; it < 200; it++) {
		int dt = DTYPES[it % N_DTYPES], idt = it & 1 ? I64 : I32;
		uint32_t rank = (uint32_t)op_rnd_range(0, 4);
		int32_t sizes[8], osz[8];
		rnd_shape(rank, sizes, true);
		int r = rank ? (int)rank : 1;
		int64_t dim = op_rnd_range(-r, r - 1), d = dim < 0 ? dim + r : dim;
		if (rank && sizes[d] == 0)
			sizes[d] = 2;
		struct infd_tensor *self = rnd_tensor(dt, rank, sizes, op_rnd() & 1);
		int64_t limit = rank ? sizes[d] : 1;
		int32_t m_len = rank ? op_rnd_range(0, 5) : 1;
		bool scalar_index = m_len == 1 && (op_rnd() & 1);
		struct infd_tensor *index = scalar_index ? op_tensor(idt, SCALAR_SHAPE) : op_tensor(idt, SHAPE(m_len));
		int64_t iv[8];
		for (int32_t k = 0; k < m_len; k++) {
			iv[k] = op_rnd_range(0, (int)limit - 1);
			op_set(index, (uint64_t)k, (double)iv[k]);
		}
		memcpy(osz, sizes, sizeof osz);
		if (rank)
			osz[d] = m_len;
		struct infd_tensor *out = rnd_out(dt, rank, osz);
		CHECK_OK(OP_CALL("aten::index_select.out", ev_t(self), op_ev_int(dim), ev_t(index), ev_t(out), ev_t(out)));
		op_check_shape(out, rank, osz);
		struct mctx m = {.self = self, .rank = rank, .dim = d, .idx = iv};
		check_map(out, self, map_index_select, &m, 0, "index_select");
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(3, 2)), *o = op_tensor_cap(F32, SHAPE(1), 64);
	struct infd_tensor *ix = op_tensor(I64, SHAPE(2));
	op_set(ix, 0, 3);
	CHECK_FAIL(OP_CALL("aten::index_select.out", ev_t(x), op_ev_int(0), ev_t(ix), ev_t(o), ev_t(o)), "index 3 is out of range");
	op_set(ix, 0, -1);
	CHECK_FAIL(OP_CALL("aten::index_select.out", ev_t(x), op_ev_int(0), ev_t(ix), ev_t(o), ev_t(o)), "out of range");
	struct infd_tensor *ix2 = op_tensor(I64, SHAPE(1, 2));
	CHECK_FAIL(OP_CALL("aten::index_select.out", ev_t(x), op_ev_int(0), ev_t(ix2), ev_t(o), ev_t(o)), "supposed to be a vector");
	CHECK_FAIL(OP_CALL("aten::index_select.out", ev_t(x), op_ev_int(2), ev_t(ix), ev_t(o), ev_t(o)), "out of range");
}

/* ---- Upsampling ------------------------------------------------------------- */

/* PyTorch's nearest source index, written out again. */
static int64_t ref_nearest(int64_t o, int64_t in, int64_t out, double scale)
{
	if (in == out)
		return o;
	if (out == 2 * in)
		return o / 2;
	float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
	int64_t i = (int64_t)floorf((float)o * s);
	return i < in - 1 ? i : in - 1;
}

static void ref_linear(int64_t o, int64_t in, int64_t out, bool align, double scale, int64_t *i0, int64_t *i1,
		       double *l0, double *l1)
{
	if (in == out) {
		*i0 = *i1 = o;
		*l0 = 1;
		*l1 = 0;
		return;
	}
	float r = align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f)
			: scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
	float src = align ? r * (float)o : r * ((float)o + 0.5f) - 0.5f;
	if (src < 0)
		src = 0;
	*i0 = (int64_t)floorf(src);
	if (*i0 > in - 1)
		*i0 = in - 1;
	*i1 = *i0 + (*i0 < in - 1);
	double l = (double)src - (double)*i0;
	*l1 = l < 0 ? 0 : l > 1 ? 1 : l;
	*l0 = 1 - *l1;
}

static const uint8_t CL4[4] = {0, 2, 3, 1};

Test(ops_shape, upsample_known_values)
{
	struct infd_tensor *x = op_tensor(F32, SHAPE(1, 1, 2, 2));
	for (int k = 0; k < 4; k++)
		op_set(x, (uint64_t)k, k + 1);
	struct infd_tensor *o = op_tensor(F32, SHAPE(1, 1, 4, 4));
	CHECK_OK(OP_CALL("aten::upsample_bilinear2d.vec_out", ev_t(x), op_ev_null(), op_ev_bool(false),
			 op_ev_double_list(2, (double[]){2, 2}), ev_t(o), ev_t(o)));
	op_check_close(o, (double[]){1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}, 1e-6, 1e-6);
	CHECK_OK(OP_CALL("aten::upsample_bilinear2d.vec_out", ev_t(x), ev_ints(2, (int64_t[]){4, 4}), op_ev_bool(true),
			 op_ev_null(), ev_t(o), ev_t(o)));
	double t = 1.0 / 3;
	op_check_close(o, (double[]){1, 1 + t, 1 + 2 * t, 2, 1 + 2 * t, 2, 2 + t, 2 + 2 * t, 2 + t, 2 + 2 * t, 3, 3 + t, 3, 3 + t, 3 + 2 * t, 4},
		       1e-6, 1e-6);
	CHECK_OK(OP_CALL("aten::upsample_nearest2d.vec_out", ev_t(x), ev_ints(2, (int64_t[]){4, 4}), op_ev_null(), ev_t(o), ev_t(o)));
	op_check_close(o, (double[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0, 0);
	/* 3 -> 2 nearest: floor(o * 1.5) = 0, 1 */
	struct infd_tensor *y = op_tensor(F32, SHAPE(1, 1, 1, 3)), *oy = op_tensor(F32, SHAPE(1, 1, 1, 2));
	for (int k = 0; k < 3; k++)
		op_set(y, (uint64_t)k, 10 * k);
	CHECK_OK(OP_CALL("aten::upsample_nearest2d.vec_out", ev_t(y), ev_ints(2, (int64_t[]){1, 2}), op_ev_null(), ev_t(oy), ev_t(oy)));
	op_check_close(oy, (double[]){0, 10}, 0, 0);
}

Test(ops_shape, upsample_nearest_random)
{
	const int dts[] = {F32, U8, I64, F16, B};
	for (int it = 0; it < 120; it++) {
		int dt = dts[it % 5];
		int32_t N = op_rnd_range(0, 2), C = op_rnd_range(1, 5), H = op_rnd_range(1, 5), W = op_rnd_range(1, 6);
		struct infd_tensor *x = op_tensor_order(dt, SHAPE(N, C, H, W), op_rnd() & 1 ? CL4 : NULL);
		op_fill_random(x, 10);
		bool use_scale = op_rnd() & 1;
		double sc[2] = {op_rnd_range(1, 12) * 0.25, op_rnd_range(1, 12) * 0.25};
		int32_t OH, OW;
		if (use_scale) {
			OH = (int32_t)(H * sc[0]);
			OW = (int32_t)(W * sc[1]);
			if (OH < 1 || OW < 1)
				continue;
		} else {
			OH = op_rnd_range(1, 9);
			OW = op_rnd_range(1, 9);
			sc[0] = sc[1] = -1;
		}
		struct infd_tensor *o = op_tensor_order(dt, SHAPE(N, C, OH, OW), op_rnd() & 1 ? CL4 : NULL);
		CHECK_OK(OP_CALL("aten::upsample_nearest2d.vec_out", ev_t(x),
				 use_scale ? op_ev_null() : ev_ints(2, (int64_t[]){OH, OW}),
				 use_scale ? op_ev_double_list(2, sc) : op_ev_null(), ev_t(o), ev_t(o)));
		op_check_shape(o, SHAPE(N, C, OH, OW));
		for (uint64_t k = 0; k < o->numel; k++) {
			int64_t i[4], s[4];
			unravel(k, 4, o->sizes, i);
			s[0] = i[0];
			s[1] = i[1];
			s[2] = ref_nearest(i[2], H, OH, sc[0]);
			s[3] = ref_nearest(i[3], W, OW, sc[1]);
			cr_assert_eq(op_get_at(o, i), op_get_at(x, s), "nearest element %llu", (unsigned long long)k);
		}
	}
}

Test(ops_shape, upsample_bilinear_random)
{
	for (int it = 0; it < 120; it++) {
		int dt = it & 1 ? F32 : F64;
		bool align = op_rnd() & 1;
		int32_t N = op_rnd_range(1, 2), C = op_rnd_range(1, 19), H = op_rnd_range(1, 5), W = op_rnd_range(1, 6);
		struct infd_tensor *x = op_tensor_order(dt, SHAPE(N, C, H, W), op_rnd() & 1 ? CL4 : NULL);
		op_fill_random(x, 10);
		bool use_scale = op_rnd() & 1;
		double sc[2] = {op_rnd_range(2, 12) * 0.25, op_rnd_range(2, 12) * 0.25};
		int32_t OH, OW;
		if (use_scale) {
			OH = (int32_t)(H * sc[0]);
			OW = (int32_t)(W * sc[1]);
			if (OH < 1 || OW < 1)
				continue;
		} else {
			OH = op_rnd_range(1, 9);
			OW = op_rnd_range(1, 9);
			sc[0] = sc[1] = -1;
		}
		struct infd_tensor *o = op_tensor_order(dt, SHAPE(N, C, OH, OW), op_rnd() & 1 ? CL4 : NULL);
		CHECK_OK(OP_CALL("aten::upsample_bilinear2d.vec_out", ev_t(x),
				 use_scale ? op_ev_null() : ev_ints(2, (int64_t[]){OH, OW}), op_ev_bool(align),
				 use_scale ? op_ev_double_list(2, sc) : op_ev_null(), ev_t(o), ev_t(o)));
		op_check_shape(o, SHAPE(N, C, OH, OW));
		for (uint64_t k = 0; k < o->numel; k++) {
			int64_t i[4];
			unravel(k, 4, o->sizes, i);
			int64_t h0, h1, w0, w1;
			double lh0, lh1, lw0, lw1;
			ref_linear(i[2], H, OH, align, sc[0], &h0, &h1, &lh0, &lh1);
			ref_linear(i[3], W, OW, align, sc[1], &w0, &w1, &lw0, &lw1);
			int64_t a[4] = {i[0], i[1], h0, w0}, b[4] = {i[0], i[1], h0, w1}, c[4] = {i[0], i[1], h1, w0},
				d[4] = {i[0], i[1], h1, w1};
			double want = lh0 * (lw0 * op_get_at(x, a) + lw1 * op_get_at(x, b)) +
				      lh1 * (lw0 * op_get_at(x, c) + lw1 * op_get_at(x, d));
			double got = op_get_at(o, i);
			cr_assert(fabs(got - want) <= 1e-5 * (1 + fabs(want)), "bilinear element %llu: %.9g vs %.9g",
				  (unsigned long long)k, got, want);
		}
	}
}

Test(ops_shape, upsample_errors)
{
	struct infd_tensor *x = op_tensor(F32, SHAPE(1, 1, 2, 2)), *o = op_tensor_cap(F32, SHAPE(1), 256);
	CHECK_FAIL(OP_CALL("aten::upsample_nearest2d.vec_out", ev_t(x), op_ev_null(), op_ev_null(), ev_t(o), ev_t(o)), "exactly one");
	CHECK_FAIL(OP_CALL("aten::upsample_nearest2d.vec_out", ev_t(x), ev_ints(2, (int64_t[]){4, 4}),
			   op_ev_double_list(2, (double[]){2, 2}), ev_t(o), ev_t(o)),
		   "exactly one");
	CHECK_FAIL(OP_CALL("aten::upsample_nearest2d.vec_out", ev_t(x), ev_ints(1, (int64_t[]){4}), op_ev_null(), ev_t(o), ev_t(o)),
		   "2 elements");
	CHECK_FAIL(OP_CALL("aten::upsample_nearest2d.vec_out", ev_t(x), ev_ints(2, (int64_t[]){0, 4}), op_ev_null(), ev_t(o), ev_t(o)),
		   "invalid");
	struct infd_tensor *x3 = op_tensor(F32, SHAPE(1, 2, 2));
	CHECK_FAIL(OP_CALL("aten::upsample_nearest2d.vec_out", ev_t(x3), ev_ints(2, (int64_t[]){4, 4}), op_ev_null(), ev_t(o), ev_t(o)),
		   "4-D");
	struct infd_tensor *xi = op_tensor(I64, SHAPE(1, 1, 2, 2)), *oi = op_tensor_cap(I64, SHAPE(1), 64);
	CHECK_FAIL(OP_CALL("aten::upsample_bilinear2d.vec_out", ev_t(xi), ev_ints(2, (int64_t[]){4, 4}), op_ev_bool(false),
			   op_ev_null(), ev_t(oi), ev_t(oi)),
		   "unsupported dtype int64");
	CHECK_FAIL(OP_CALL("aten::upsample_nearest2d.vec_out", ev_t(x), ev_ints(2, (int64_t[]){4, 4}), op_ev_null(), ev_t(oi), ev_t(oi)),
		   "out has dtype int64");
}

/* ---- pixel_shuffle ---------------------------------------------------------- */

Test(ops_shape, pixel_shuffle_round_trip)
{
	for (int it = 0; it < 40; it++) {
		int dt = DTYPES[it % N_DTYPES];
		int32_t r = op_rnd_range(1, 3), B0 = op_rnd_range(1, 2), C = op_rnd_range(1, 3), H = op_rnd_range(1, 3),
			W = op_rnd_range(1, 4);
		struct infd_tensor *x = rnd_tensor(dt, SHAPE(B0, C * r * r, H, W), op_rnd() & 1);
		struct infd_tensor *o = rnd_out(dt, SHAPE(B0, C, H * r, W * r));
		CHECK_OK(OP_CALL("aten::pixel_shuffle.out", ev_t(x), op_ev_int(r), ev_t(o), ev_t(o)));
		for (uint64_t k = 0; k < o->numel; k++) {
			int64_t i[4], s[4];
			unravel(k, 4, o->sizes, i);
			s[0] = i[0];
			s[1] = i[1] * r * r + (i[2] % r) * r + i[3] % r;
			s[2] = i[2] / r;
			s[3] = i[3] / r;
			cr_assert_eq(op_get_at(o, i), op_get_at(x, s), "pixel_shuffle element %llu", (unsigned long long)k);
		}
		struct infd_tensor *back = op_tensor(dt, SHAPE(B0, C * r * r, H, W));
		CHECK_OK(OP_CALL("aten::pixel_unshuffle.out", ev_t(o), op_ev_int(r), ev_t(back), ev_t(back)));
		struct mctx m = {.self = x, .rank = 4};
		check_map(back, x, map_identity, &m, 0, "pixel_unshuffle");
	}
	struct infd_tensor *x = op_tensor(F32, SHAPE(1, 3, 2, 2)), *o = op_tensor_cap(F32, SHAPE(1), 64);
	CHECK_FAIL(OP_CALL("aten::pixel_shuffle.out", ev_t(x), op_ev_int(2), ev_t(o), ev_t(o)), "divisible");
	CHECK_FAIL(OP_CALL("aten::pixel_unshuffle.out", ev_t(x), op_ev_int(3), ev_t(o), ev_t(o)), "divisible");
}

/* ---- Prim ops ----------------------------------------------------------------- */

Test(ops_shape, sym_size_numel_et_view)
{
	struct infd_tensor *x = rnd_tensor(F32, SHAPE(2, 3, 4), false);
	struct infd_evalue *r = op_ev_int(0);
	CHECK_OK(OP_CALL("aten::sym_size.int", ev_t(x), op_ev_int(-1), r));
	cr_assert_eq(r->kind, INFD_VALUE_INT);
	cr_assert_eq(r->u.i, 4);
	CHECK_OK(OP_CALL("aten::sym_size.int", ev_t(x), op_ev_int(1), r));
	cr_assert_eq(r->u.i, 3);
	CHECK_FAIL(OP_CALL("aten::sym_size.int", ev_t(x), op_ev_int(3), r), "out of range");
	CHECK_OK(OP_CALL("aten::sym_numel", ev_t(x), r));
	cr_assert_eq(r->u.i, 24);
	CHECK_FAIL(OP_CALL("aten::sym_numel", ev_t(x), ev_t(x)), "must be a scalar value");

	/* et_view: out adopts self's data with the new shape */
	struct infd_tensor *v = op_tensor(F32, SHAPE(6, 4));
	v->data = NULL;
	v->capacity = 0;
	CHECK_OK(OP_CALL("executorch_prim::et_view.default", ev_t(x), ev_ints(2, (int64_t[]){-1, 4}), ev_t(v)));
	cr_assert_eq(v->data, x->data);
	op_check_shape(v, SHAPE(6, 4));
	CHECK_OK(OP_CALL("executorch_prim::et_view.default", ev_t(x), ev_ints(2, (int64_t[]){4, 6}), ev_t(v)));
	op_check_shape(v, SHAPE(4, 6));
	cr_assert_eq(v->data, x->data);
	CHECK_FAIL(OP_CALL("executorch_prim::et_view.default", ev_t(x), ev_ints(2, (int64_t[]){5, 5}), ev_t(v)), "invalid for input of size 24");
	struct infd_tensor *vi = op_tensor(I32, SHAPE(24));
	CHECK_FAIL(OP_CALL("executorch_prim::et_view.default", ev_t(x), ev_ints(1, (int64_t[]){24}), ev_t(vi)), "dtype");
	struct infd_tensor *cl = op_tensor_order(F32, SHAPE(1, 2, 3, 4), CL4);
	CHECK_FAIL(OP_CALL("executorch_prim::et_view.default", ev_t(cl), ev_ints(1, (int64_t[]){24}), ev_t(vi)), "dtype");
	struct infd_tensor *vf = op_tensor(F32, SHAPE(24));
	CHECK_FAIL(OP_CALL("executorch_prim::et_view.default", ev_t(cl), ev_ints(1, (int64_t[]){24}), ev_t(vf)), "not contiguous");

	/* _local_scalar_dense */
	struct infd_tensor *one = op_tensor(I64, SCALAR_SHAPE);
	op_set(one, 0, -42);
	CHECK_OK(OP_CALL("aten::_local_scalar_dense", ev_t(one), r));
	cr_assert_eq(r->kind, INFD_VALUE_INT);
	cr_assert_eq(r->u.i, -42);
	struct infd_tensor *half = op_tensor(F16, SHAPE(1));
	op_set(half, 0, 1.5);
	CHECK_OK(OP_CALL("aten::_local_scalar_dense", ev_t(half), r));
	cr_assert_eq(r->kind, INFD_VALUE_DOUBLE);
	cr_assert_eq(r->u.d, 1.5);
	CHECK_FAIL(OP_CALL("aten::_local_scalar_dense", ev_t(x), r), "24 elements");
}

static struct infd_evalue *prim2(const char *key, struct infd_evalue *a, struct infd_evalue *b)
{
	struct infd_evalue *r = op_ev_null();
	CHECK_OK(OP_CALL(key, a, b, r));
	return r;
}

static void want_int(struct infd_evalue *r, int64_t v)
{
	cr_assert_eq(r->kind, INFD_VALUE_INT, "kind %d, expected Int", r->kind);
	cr_assert_eq(r->u.i, v, "%lld, expected %lld", (long long)r->u.i, (long long)v);
}

static void want_double(struct infd_evalue *r, double v)
{
	cr_assert_eq(r->kind, INFD_VALUE_DOUBLE, "kind %d, expected Double", r->kind);
	cr_assert(r->u.d == v && signbit(r->u.d) == signbit(v), "%g, expected %g", r->u.d, v);
}

static void want_bool(struct infd_evalue *r, bool v)
{
	cr_assert_eq(r->kind, INFD_VALUE_BOOL, "kind %d, expected Bool", r->kind);
	cr_assert_eq(r->u.b, v);
}

Test(ops_shape, prim_scalar_arithmetic)
{
	struct infd_evalue *(*I)(int64_t) = op_ev_int;
	struct infd_evalue *(*D)(double) = op_ev_double;
	want_int(prim2("executorch_prim::add.Scalar", I(3), I(4)), 7);
	want_double(prim2("executorch_prim::add.Scalar", I(3), D(0.5)), 3.5);
	want_int(prim2("executorch_prim::add.Scalar", op_ev_bool(true), I(1)), 2);
	want_int(prim2("executorch_prim::sub.Scalar", I(3), I(10)), -7);
	want_int(prim2("executorch_prim::mul.Scalar", I(-3), I(7)), -21);
	want_double(prim2("executorch_prim::mul.Scalar", D(1.5), I(2)), 3.0);
	/* Python floor division and modulo */
	want_int(prim2("executorch_prim::floordiv.Scalar", I(-7), I(2)), -4);
	want_int(prim2("executorch_prim::floordiv.Scalar", I(7), I(-2)), -4);
	want_int(prim2("executorch_prim::floordiv.Scalar", I(7), I(2)), 3);
	want_int(prim2("executorch_prim::floordiv.int", I(-8), I(2)), -4);
	want_int(prim2("executorch_prim::mod.Scalar", I(-7), I(2)), 1);
	want_int(prim2("executorch_prim::mod.Scalar", I(7), I(-2)), -1);
	want_int(prim2("executorch_prim::mod.int", I(-6), I(3)), 0);
	want_int(prim2("executorch_prim::mod.int", I(INT64_MIN), I(-1)), 0);
	want_double(prim2("executorch_prim::floordiv.Scalar", D(-7.5), I(2)), -4.0);
	want_double(prim2("executorch_prim::mod.Scalar", D(7.5), I(-2)), -0.5);
	want_double(prim2("executorch_prim::mod.Scalar", D(-0.0), I(3)), 0.0);
	want_double(prim2("executorch_prim::truediv.Scalar", I(7), I(2)), 3.5);
	want_double(prim2("executorch_prim::truediv.Scalar", I(-1), D(4)), -0.25);
	want_bool(prim2("executorch_prim::eq.Scalar", I(3), D(3.0)), true);
	want_bool(prim2("executorch_prim::eq.Scalar", I(INT64_MAX), I(INT64_MAX - 1)), false);
	want_bool(prim2("executorch_prim::gt.Scalar", I(3), I(2)), true);
	want_bool(prim2("executorch_prim::lt.Scalar", D(2.5), I(2)), false);
	want_bool(prim2("executorch_prim::ge.Scalar", I(2), I(2)), true);
	want_bool(prim2("executorch_prim::le.Scalar", I(3), I(2)), false);
	want_int(prim2("executorch_prim::sym_max.Scalar", I(3), I(9)), 9);
	want_int(prim2("executorch_prim::sym_min.Scalar", I(3), I(9)), 3);
	want_double(prim2("executorch_prim::sym_max.Scalar", I(3), D(2.5)), 3.0);

	struct infd_evalue *r = op_ev_int(0);
	CHECK_FAIL(OP_CALL("executorch_prim::floordiv.Scalar", I(1), I(0), r), "by zero");
	CHECK_FAIL(OP_CALL("executorch_prim::mod.int", I(1), I(0), r), "by zero");
	CHECK_FAIL(OP_CALL("executorch_prim::truediv.Scalar", I(1), I(0), r), "by zero");
	CHECK_FAIL(OP_CALL("executorch_prim::add.Scalar", I(INT64_MAX), I(1), r), "overflow");
	CHECK_FAIL(OP_CALL("executorch_prim::floordiv.int", I(1), D(2.0), r), "must be an int");
	/* the result may be the same value as an input (loop counters) */
	struct infd_evalue *ctr = I(5);
	CHECK_OK(OP_CALL("executorch_prim::add.Scalar", ctr, I(1), ctr));
	want_int(ctr, 6);
}

static struct infd_evalue *prim1(const char *key, struct infd_evalue *a)
{
	struct infd_evalue *r = op_ev_null();
	CHECK_OK(OP_CALL(key, a, r));
	return r;
}

Test(ops_shape, prim_scalar_unary)
{
	want_int(prim1("executorch_prim::neg.Scalar", op_ev_int(5)), -5);
	want_double(prim1("executorch_prim::neg.Scalar", op_ev_double(2.5)), -2.5);
	want_int(prim1("executorch_prim::neg.Scalar", op_ev_bool(true)), -1);
	want_bool(prim1("executorch_prim::sym_not.Scalar", op_ev_bool(true)), false);
	want_bool(prim1("executorch_prim::sym_not.Scalar", op_ev_int(0)), true);
	want_double(prim1("executorch_prim::sym_float.Scalar", op_ev_int(7)), 7.0);
	want_int(prim1("executorch_prim::sym_int.Scalar", op_ev_double(-2.7)), -2);
	want_int(prim1("executorch_prim::sym_int.Scalar", op_ev_int(9)), 9);
	want_int(prim1("executorch_prim::ceil.Scalar", op_ev_double(2.1)), 3);
	want_int(prim1("executorch_prim::ceil.Scalar", op_ev_double(-2.1)), -2);
	want_int(prim1("executorch_prim::round.Scalar", op_ev_double(2.5)), 2);
	want_int(prim1("executorch_prim::round.Scalar", op_ev_double(3.5)), 4);
	want_int(prim1("executorch_prim::round.Scalar", op_ev_double(-2.5)), -2);
	want_int(prim1("executorch_prim::round.Scalar", op_ev_double(2.6)), 3);
	want_int(prim1("executorch_prim::trunc.Scalar", op_ev_double(-3.9)), -3);
	struct infd_evalue *r = op_ev_int(0);
	CHECK_FAIL(OP_CALL("executorch_prim::ceil.Scalar", op_ev_double(INFINITY), r), "cannot convert");
	CHECK_FAIL(OP_CALL("executorch_prim::sym_int.Scalar", op_ev_double(NAN), r), "cannot convert");
	CHECK_FAIL(OP_CALL("executorch_prim::neg.Scalar", op_ev_int(INT64_MIN), r), "overflow");
	struct infd_evalue *s = op_ev_null();
	CHECK_OK(OP_CALL("executorch_prim::sym_ite.Scalar", op_ev_bool(false), op_ev_int(1), op_ev_double(2.5), s));
	want_double(s, 2.5);
	CHECK_OK(OP_CALL("executorch_prim::sym_ite.Scalar", op_ev_bool(true), op_ev_int(1), op_ev_double(2.5), s));
	want_int(s, 1);
}

Test(ops_shape, et_copy_index_map_loop)
{
	struct infd_tensor *to = op_tensor_cap(F32, SHAPE(0, 3), 12);
	struct infd_tensor *from = op_tensor(F32, SHAPE(3));
	for (int i = 0; i < 4; i++) {
		for (int k = 0; k < 3; k++)
			op_set(from, (uint64_t)k, 10 * i + k);
		CHECK_OK(OP_CALL("executorch_prim::et_copy_index.tensor", ev_t(to), ev_t(from), op_ev_int(i)));
		op_check_shape(to, SHAPE(i + 1, 3));
	}
	op_check_close(to, (double[]){0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32}, 0, 0);
	CHECK_FAIL(OP_CALL("executorch_prim::et_copy_index.tensor", ev_t(to), ev_t(from), op_ev_int(4)), "cannot resize");
	struct infd_tensor *wrong = op_tensor(F32, SHAPE(4));
	CHECK_FAIL(OP_CALL("executorch_prim::et_copy_index.tensor", ev_t(to), ev_t(wrong), op_ev_int(1)), "does not hold");
	CHECK_FAIL(OP_CALL("executorch_prim::et_copy_index.tensor", ev_t(to), ev_t(to), op_ev_int(1)), "differ by 1");
	CHECK_FAIL(OP_CALL("executorch_prim::et_copy_index.tensor", ev_t(to), ev_t(from), op_ev_int(-1)), "out of range");
}

/* ---- Robustness --------------------------------------------------------------- */

Test(ops_shape, bad_arguments_never_crash)
{
	/* every registered shape kernel, called with too few arguments, with None
	 * everywhere, and with tensors without data, must fail cleanly */
	static const char *const keys[] = {
#define INFD_KERNEL(key, n_args, fn) key,
#include "runtime/kernels/list_shape.h"
#undef INFD_KERNEL
	};
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		const struct infd_kernel_def *def = infd__registry_find(op_reg, keys[k]);
		cr_assert_not_null(def, "%s not registered", keys[k]);
		struct infd_kernel_ctx ctx = {.err = &op_err, .op_key = keys[k], .n_threads = 1};
		struct infd_evalue *nulls[12], *nodata[12];
		struct infd_tensor *t = op_tensor(F32, SHAPE(2, 2));
		t->data = NULL;
		for (int i = 0; i < 12; i++) {
			nulls[i] = op_ev_null();
			nodata[i] = op_ev_tensor(t);
		}
		uint32_t n = (uint32_t)def->n_args;
		cr_assert_neq(def->fn(&ctx, nulls, n - 1), INFD_OK, "%s with too few arguments", keys[k]);
		cr_assert(strstr(op_err.msg, keys[k]) != NULL, "message names the op: %s", op_err.msg);
		cr_assert_neq(def->fn(&ctx, nulls, n), INFD_OK, "%s with None arguments", keys[k]);
		nulls[0] = NULL;
		cr_assert_neq(def->fn(&ctx, nulls, n), INFD_OK, "%s with a NULL argument", keys[k]);
		cr_assert_neq(def->fn(&ctx, NULL, n), INFD_OK, "%s with no argument array", keys[k]);
		cr_assert_neq(def->fn(&ctx, nodata, n), INFD_OK, "%s with tensors without data", keys[k]);
		cr_assert(strstr(op_err.msg, keys[k]) != NULL, "message names the op: %s", op_err.msg);
	}
	/* tensors without data */
	struct infd_tensor *t = op_tensor(F32, SHAPE(2, 2)), *o = op_tensor(F32, SHAPE(2, 2));
	t->data = NULL;
	CHECK_FAIL(OP_CALL("aten::clone.out", ev_t(t), op_ev_null(), ev_t(o), ev_t(o)), "no data");
	o->data = NULL;
	struct infd_tensor *x = op_tensor(F32, SHAPE(2, 2));
	CHECK_FAIL(OP_CALL("aten::clone.out", ev_t(x), op_ev_null(), ev_t(o), ev_t(o)), "no data");
	/* a constant out */
	struct infd_tensor *c = op_tensor(F32, SHAPE(2, 2));
	c->is_const = true;
	CHECK_FAIL(OP_CALL("aten::clone.out", ev_t(x), op_ev_null(), ev_t(c), ev_t(c)), "read-only");
}
