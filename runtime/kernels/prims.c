/* Prim kernels exported programs use for symbolic sizes and Python scalar
 * arithmetic (executorch_prim::*, sym_size, sym_numel, _local_scalar_dense), and
 * et_view / et_copy_index, which alias or fill a tensor in place of a copy. */
#include "shape_util.h"

#include <math.h>
#include <string.h>

/* The value a prim op writes: an Int, Double or Bool value (or a None placeholder). */
static infd_status prim_result(const struct infd_kargs *A, uint32_t i, struct infd_evalue **res)
{
	struct infd_evalue *v = A->v[i];
	if (v->kind != INFD_VALUE_INT && v->kind != INFD_VALUE_DOUBLE && v->kind != INFD_VALUE_BOOL &&
	    v->kind != INFD_VALUE_NULL)
		return infd__kfail(A, INFD_KERNEL_FAILED, "argument %u (result) must be a scalar value", i);
	*res = v;
	return INFD_OK;
}

static void set_int(struct infd_evalue *v, int64_t i)
{
	v->kind = INFD_VALUE_INT;
	v->u.i = i;
}

static void set_double(struct infd_evalue *v, double d)
{
	v->kind = INFD_VALUE_DOUBLE;
	v->u.d = d;
}

static void set_bool(struct infd_evalue *v, bool b)
{
	v->kind = INFD_VALUE_BOOL;
	v->u.b = b;
}

infd_status infd__k_sym_size_int(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_evalue *res = NULL;
	int64_t dim;
	uint32_t d = 0;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::sym_size.int", 3)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) || (st = infd__karg_int(&A, 1, "dim", &dim)) ||
	    (st = prim_result(&A, 2, &res)))
		return st;
	if (self->rank == 0)
		return infd__kfail(&A, INFD_BAD_INPUT, "dimension specified as %lld but tensor has no dimensions",
				   (long long)dim);
	if ((st = infd__shape_wrap_dim(&A, dim, self->rank, "dim", &d)))
		return st;
	set_int(res, self->sizes[d]);
	return INFD_OK;
}

infd_status infd__k_sym_numel(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_evalue *res = NULL;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::sym_numel", 2)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) || (st = prim_result(&A, 1, &res)))
		return st;
	set_int(res, (int64_t)self->numel);
	return INFD_OK;
}

infd_status infd__k_local_scalar_dense(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				       uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	struct infd_evalue *res = NULL;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "aten::_local_scalar_dense", 2)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) || (st = prim_result(&A, 1, &res)))
		return st;
	if (self->numel != 1)
		return infd__kfail(&A, INFD_BAD_INPUT, "a tensor with %llu elements cannot be converted to a scalar",
				   (unsigned long long)self->numel);
	switch (infd__dtype_category(self->dtype)) {
	case INFD_CAT_BOOL: set_bool(res, *(const uint8_t *)self->data != 0); break;
	case INFD_CAT_INT: set_int(res, infd__load_int(self->data, self->dtype)); break;
	case INFD_CAT_FLOAT: set_double(res, infd__load_double(self->data, self->dtype)); break;
	default:
		return infd__kfail(&A, INFD_KERNEL_FAILED, "unsupported dtype %s", infd_dtype_name(self->dtype));
	}
	return INFD_OK;
}

enum prim_op {
	P_ADD, P_SUB, P_MUL, P_FLOORDIV, P_TRUEDIV, P_MOD, P_EQ, P_GT, P_LT, P_GE, P_LE, P_MAX, P_MIN,
};

/* Python's float floor division and modulo (floatobject.c's divmod). */
static void py_divmod(double a, double b, double *q, double *r)
{
	double mod = fmod(a, b), div = (a - mod) / b;
	if (mod != 0) {
		if ((b < 0) != (mod < 0)) {
			mod += b;
			div -= 1.0;
		}
	} else {
		mod = copysign(0.0, b);
	}
	double fd;
	if (div != 0) {
		fd = floor(div);
		if (div - fd > 0.5)
			fd += 1.0;
	} else {
		fd = copysign(0.0, a / b);
	}
	*q = fd;
	*r = mod;
}

static infd_status prim_binary(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
			       const char *op, enum prim_op p, bool ints_only)
{
	struct infd_kargs A;
	struct infd_scalar a, b;
	struct infd_evalue *res = NULL;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, op, 3)))
		return st;
	if (ints_only) {
		a.kind = b.kind = INFD_VALUE_INT;
		if ((st = infd__karg_int(&A, 0, "a", &a.i)) || (st = infd__karg_int(&A, 1, "b", &b.i)))
			return st;
		a.d = (double)a.i;
		b.d = (double)b.i;
	} else if ((st = infd__karg_scalar(&A, 0, "a", &a)) || (st = infd__karg_scalar(&A, 1, "b", &b))) {
		return st;
	}
	if ((st = prim_result(&A, 2, &res)))
		return st;
	bool ints = a.kind != INFD_VALUE_DOUBLE && b.kind != INFD_VALUE_DOUBLE;
	int64_t x = a.i, y = b.i, r;
	double u = a.d, v = b.d, q, m;
	switch (p) {
	case P_ADD:
	case P_SUB:
	case P_MUL:
		if (!ints) {
			set_double(res, p == P_ADD ? u + v : p == P_SUB ? u - v : u * v);
			return INFD_OK;
		}
		if (p == P_ADD ? __builtin_add_overflow(x, y, &r)
		    : p == P_SUB ? __builtin_sub_overflow(x, y, &r)
				 : __builtin_mul_overflow(x, y, &r))
			return infd__kfail(&A, INFD_BAD_INPUT, "integer overflow (%lld and %lld)", (long long)x,
					   (long long)y);
		set_int(res, r);
		return INFD_OK;
	case P_FLOORDIV:
	case P_MOD:
		if (ints) {
			if (y == 0)
				return infd__kfail(&A, INFD_BAD_INPUT, "integer division or modulo by zero");
			if (x == INT64_MIN && y == -1) {
				if (p == P_MOD) {
					set_int(res, 0);
					return INFD_OK;
				}
				return infd__kfail(&A, INFD_BAD_INPUT, "integer overflow");
			}
			int64_t qi = x / y, ri = x % y;
			if (ri != 0 && ((ri < 0) != (y < 0))) {
				qi--;
				ri += y;
			}
			set_int(res, p == P_FLOORDIV ? qi : ri);
			return INFD_OK;
		}
		if (v == 0)
			return infd__kfail(&A, INFD_BAD_INPUT, "float division or modulo by zero");
		py_divmod(u, v, &q, &m);
		set_double(res, p == P_FLOORDIV ? q : m);
		return INFD_OK;
	case P_TRUEDIV:
		if (v == 0)
			return infd__kfail(&A, INFD_BAD_INPUT, "division by zero");
		set_double(res, u / v);
		return INFD_OK;
	case P_MAX:
	case P_MIN:
		/* Python's max/min keep the first argument unless the second wins. */
		if (ints)
			set_int(res, p == P_MAX ? (y > x ? y : x) : (y < x ? y : x));
		else
			set_double(res, p == P_MAX ? (v > u ? v : u) : (v < u ? v : u));
		return INFD_OK;
	default:
		break;
	}
	bool c;
	if (ints) {
		c = p == P_EQ ? x == y : p == P_GT ? x > y : p == P_LT ? x < y : p == P_GE ? x >= y : x <= y;
	} else {
		c = p == P_EQ ? u == v : p == P_GT ? u > v : p == P_LT ? u < v : p == P_GE ? u >= v : u <= v;
	}
	set_bool(res, c);
	return INFD_OK;
}

#define PRIM_BINARY(NAME, KEY, P, INTS)                                                    \
	infd_status infd__k_prim_##NAME(struct infd_kernel_ctx *ctx, struct infd_evalue **args, \
					uint32_t n)                                        \
	{                                                                                  \
		return prim_binary(ctx, args, n, KEY, P, INTS);                            \
	}
PRIM_BINARY(add, "executorch_prim::add.Scalar", P_ADD, false)
PRIM_BINARY(sub, "executorch_prim::sub.Scalar", P_SUB, false)
PRIM_BINARY(mul, "executorch_prim::mul.Scalar", P_MUL, false)
PRIM_BINARY(floordiv, "executorch_prim::floordiv.Scalar", P_FLOORDIV, false)
PRIM_BINARY(truediv, "executorch_prim::truediv.Scalar", P_TRUEDIV, false)
PRIM_BINARY(mod, "executorch_prim::mod.Scalar", P_MOD, false)
PRIM_BINARY(eq, "executorch_prim::eq.Scalar", P_EQ, false)
PRIM_BINARY(gt, "executorch_prim::gt.Scalar", P_GT, false)
PRIM_BINARY(lt, "executorch_prim::lt.Scalar", P_LT, false)
PRIM_BINARY(ge, "executorch_prim::ge.Scalar", P_GE, false)
PRIM_BINARY(le, "executorch_prim::le.Scalar", P_LE, false)
PRIM_BINARY(sym_max, "executorch_prim::sym_max.Scalar", P_MAX, false)
PRIM_BINARY(sym_min, "executorch_prim::sym_min.Scalar", P_MIN, false)
PRIM_BINARY(floordiv_int, "executorch_prim::floordiv.int", P_FLOORDIV, true)
PRIM_BINARY(mod_int, "executorch_prim::mod.int", P_MOD, true)

enum prim_unary { U_NEG, U_NOT, U_FLOAT, U_INT, U_CEIL, U_ROUND, U_TRUNC };

/* Python's round(): half to even. */
static double round_half_even(double x)
{
	double r = floor(x), diff = x - r;
	if (diff > 0.5 || (diff == 0.5 && fmod(r, 2.0) != 0))
		r += 1.0;
	return r;
}

static infd_status prim_unary(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n,
			      const char *op, enum prim_unary p)
{
	struct infd_kargs A;
	struct infd_scalar a;
	struct infd_evalue *res = NULL;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, op, 2)) || (st = infd__karg_scalar(&A, 0, "a", &a)) ||
	    (st = prim_result(&A, 1, &res)))
		return st;
	bool is_d = a.kind == INFD_VALUE_DOUBLE;
	switch (p) {
	case U_NEG:
		if (is_d) {
			set_double(res, -a.d);
		} else {
			if (a.i == INT64_MIN)
				return infd__kfail(&A, INFD_BAD_INPUT, "integer overflow");
			set_int(res, -a.i);
		}
		return INFD_OK;
	case U_NOT:
		set_bool(res, is_d ? a.d == 0 : a.i == 0);
		return INFD_OK;
	case U_FLOAT:
		set_double(res, a.d);
		return INFD_OK;
	default:
		break;
	}
	if (!is_d) {
		set_int(res, a.i);
		return INFD_OK;
	}
	double v = p == U_CEIL ? ceil(a.d) : p == U_ROUND ? round_half_even(a.d) : trunc(a.d);
	if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
		return infd__kfail(&A, INFD_BAD_INPUT, "cannot convert %g to an integer", a.d);
	set_int(res, (int64_t)v);
	return INFD_OK;
}

#define PRIM_UNARY(NAME, KEY, P)                                                           \
	infd_status infd__k_prim_##NAME(struct infd_kernel_ctx *ctx, struct infd_evalue **args, \
					uint32_t n)                                        \
	{                                                                                  \
		return prim_unary(ctx, args, n, KEY, P);                                   \
	}
PRIM_UNARY(neg, "executorch_prim::neg.Scalar", U_NEG)
PRIM_UNARY(sym_not, "executorch_prim::sym_not.Scalar", U_NOT)
PRIM_UNARY(sym_float, "executorch_prim::sym_float.Scalar", U_FLOAT)
PRIM_UNARY(sym_int, "executorch_prim::sym_int.Scalar", U_INT)
PRIM_UNARY(ceil, "executorch_prim::ceil.Scalar", U_CEIL)
PRIM_UNARY(round, "executorch_prim::round.Scalar", U_ROUND)
PRIM_UNARY(trunc, "executorch_prim::trunc.Scalar", U_TRUNC)

/* executorch_prim::sym_ite.Scalar [cond, a, b, result] */
infd_status infd__k_prim_sym_ite(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	struct infd_scalar a, b;
	struct infd_evalue *res = NULL;
	bool cond;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "executorch_prim::sym_ite.Scalar", 4)) ||
	    (st = infd__karg_bool(&A, 0, "cond", &cond)) || (st = infd__karg_scalar(&A, 1, "a", &a)) ||
	    (st = infd__karg_scalar(&A, 2, "b", &b)) || (st = prim_result(&A, 3, &res)))
		return st;
	const struct infd_scalar *s = cond ? &a : &b;
	if (s->kind == INFD_VALUE_DOUBLE)
		set_double(res, s->d);
	else if (s->kind == INFD_VALUE_BOOL)
		set_bool(res, s->i != 0);
	else
		set_int(res, s->i);
	return INFD_OK;
}

/* ---- et_view and et_copy_index: tensors in place of copies ------------------- */

/* executorch_prim::et_view.default [self, size, out]: out takes self's data with
 * the new shape; nothing is copied. */
infd_status infd__k_et_view(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *self;
	int64_t size[INFD_MAX_RANK];
	int32_t count, sizes[INFD_MAX_RANK];
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "executorch_prim::et_view.default", 3)) ||
	    (st = infd__karg_tensor(&A, 0, "self", &self)) ||
	    (st = infd__karg_int_list(&A, 1, "size", false, size, INFD_MAX_RANK, &count)))
		return st;
	if (args[2]->kind != INFD_VALUE_TENSOR || !args[2]->u.t)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "argument 2 (out) must be a tensor");
	struct infd_tensor *out = args[2]->u.t;
	if (out == self)
		return infd__kfail(&A, INFD_BAD_INPUT, "out is self");
	if ((st = infd__shape_check_same_dtype(&A, self, out)) ||
	    (st = infd__shape_infer_size(&A, size, count, self->numel, sizes)))
		return st;
	if (!infd__tensor_is_rowmajor(self))
		return infd__kfail(&A, INFD_BAD_INPUT,
				   "self is not contiguous (dim order); a view would reorder elements");
	uint64_t cap = out->capacity;
	out->capacity = 0; /* the data comes from self */
	st = infd__tensor_resize(out, (uint32_t)count, sizes, ctx ? ctx->err : NULL);
	if (st) {
		out->capacity = cap;
		if (ctx && ctx->err)
			return infd__fail_prefix(ctx->err, st, "%s: cannot resize out: ", A.op);
		return st;
	}
	if (!infd__tensor_is_rowmajor(out)) {
		out->capacity = cap;
		return infd__kfail(&A, INFD_BAD_INPUT, "out is not contiguous (dim order)");
	}
	out->data = self->data;
	out->capacity = self->capacity > self->nbytes ? self->capacity : self->nbytes;
	out->is_const = self->is_const;
	return INFD_OK;
}

/* executorch_prim::et_copy_index.tensor [copy_to, copy_from, index]: copy_to[index]
 * = copy_from, growing copy_to's first dim to index + 1 when needed (map loops). */
infd_status infd__k_et_copy_index(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				  uint32_t n)
{
	struct infd_kargs A;
	const struct infd_tensor *from;
	int64_t index;
	infd_status st;
	if ((st = infd__kargs_begin(&A, ctx, args, n, "executorch_prim::et_copy_index.tensor", 3)) ||
	    (st = infd__karg_tensor(&A, 1, "copy_from", &from)) ||
	    (st = infd__karg_int(&A, 2, "index", &index)))
		return st;
	if (args[0]->kind != INFD_VALUE_TENSOR || !args[0]->u.t)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "argument 0 (copy_to) must be a tensor");
	struct infd_tensor *to = args[0]->u.t;
	if (to->is_const)
		return infd__kfail(&A, INFD_KERNEL_FAILED, "copy_to is a read-only constant");
	if (to->rank != from->rank + 1u)
		return infd__kfail(&A, INFD_BAD_INPUT, "ranks of copy_to (%u) and copy_from (%u) should differ by 1",
				   to->rank, from->rank);
	if (index < 0 || index >= INT32_MAX)
		return infd__kfail(&A, INFD_BAD_INPUT, "index %lld is out of range", (long long)index);
	if ((st = infd__shape_check_copy(&A, from->dtype, to->dtype)))
		return st;
	if (to->sizes[0] <= index) {
		int32_t sizes[INFD_MAX_RANK];
		sizes[0] = (int32_t)index + 1;
		memcpy(sizes + 1, from->sizes, from->rank * sizeof sizes[0]);
		void *data = to->data;
		if ((st = infd__kout_resize(&A, to, to->rank, sizes)))
			return st;
		if (data && to->data != data)
			return infd__kfail(&A, INFD_BAD_INPUT, "copy_to moved while resizing");
	}
	if (!infd__tensor_has_shape(from, to->rank - 1u, to->sizes + 1)) {
		char b1[128], b2[128];
		return infd__kfail(&A, INFD_BAD_INPUT, "copy_to %s does not hold copy_from %s at its first dim",
				   infd__shape_fmt_shape(b1, sizeof b1, to),
				   infd__shape_fmt_shape(b2, sizeof b2, from));
	}
	if ((st = infd__shape_check_overlap(&A, from, to, false)))
		return st;
	if (!from->numel)
		return INFD_OK;
	struct infd_view dv, sv;
	infd__view_of(&dv, to);
	infd__view_select(&dv, 0, index);
	infd__view_of(&sv, from);
	infd__copy_view(&dv, to->dtype, &sv, from->dtype);
	return INFD_OK;
}
