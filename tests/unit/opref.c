/* Shared helpers for the operator tests (see opref.h). */
#include "opref.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct infd_kernel_registry *op_reg;
struct infd_error op_err;

static void **allocs;
static size_t n_allocs, cap_allocs;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void *op_track(void *p)
{
	cr_assert_not_null(p, "out of memory");
	if (n_allocs == cap_allocs) {
		cap_allocs = cap_allocs ? cap_allocs * 2 : 256;
		allocs = realloc(allocs, cap_allocs * sizeof *allocs);
		cr_assert_not_null(allocs);
	}
	allocs[n_allocs++] = p;
	return p;
}

void op_setup(void)
{
	cr_assert_eq(infd__registry_create(&op_reg), INFD_OK);
	cr_assert_eq(infd__registry_add(op_reg, infd__portable_kernels, infd__portable_kernel_count), INFD_OK);
	rng_state = 0x9e3779b97f4a7c15ull;
}

void op_teardown(void)
{
	infd__registry_destroy(op_reg);
	op_reg = NULL;
	while (n_allocs)
		free(allocs[--n_allocs]);
	free(allocs);
	allocs = NULL;
	cap_allocs = 0;
}

struct infd_tensor *op_tensor_order(int dtype, uint32_t rank, const int32_t *sizes, const uint8_t *dim_order)
{
	struct infd_tensor *t = op_track(calloc(1, sizeof *t));
	t->dtype = (int8_t)dtype;
	t->rank = (uint8_t)rank;
	for (uint32_t i = 0; i < rank; i++) {
		t->sizes[i] = sizes[i];
		t->dim_order[i] = dim_order ? dim_order[i] : (uint8_t)i;
	}
	infd__tensor_update_layout(t);
	size_t bytes = (size_t)t->nbytes;
	t->data = op_track(calloc(1, bytes + 64));
	t->capacity = bytes;
	return t;
}

struct infd_tensor *op_tensor_cap(int dtype, uint32_t rank, const int32_t *sizes, uint64_t cap_elems)
{
	struct infd_tensor *t = op_tensor_order(dtype, rank, sizes, NULL);
	if (cap_elems > t->numel) {
		size_t bytes = (size_t)cap_elems * infd_dtype_size(dtype);
		t->data = op_track(calloc(1, bytes + 64));
		t->capacity = bytes;
	}
	return t;
}

struct infd_tensor *op_tensor(int dtype, uint32_t rank, const int32_t *sizes)
{
	return op_tensor_order(dtype, rank, sizes, NULL);
}

static struct infd_evalue *ev(int kind)
{
	struct infd_evalue *v = op_track(calloc(1, sizeof *v));
	v->kind = (uint8_t)kind;
	return v;
}

struct infd_evalue *op_ev_tensor(struct infd_tensor *t)
{
	struct infd_evalue *v = ev(INFD_VALUE_TENSOR);
	v->u.t = t;
	return v;
}

struct infd_evalue *op_ev_int(int64_t i)
{
	struct infd_evalue *v = ev(INFD_VALUE_INT);
	v->u.i = i;
	return v;
}

struct infd_evalue *op_ev_double(double d)
{
	struct infd_evalue *v = ev(INFD_VALUE_DOUBLE);
	v->u.d = d;
	return v;
}

struct infd_evalue *op_ev_bool(bool b)
{
	struct infd_evalue *v = ev(INFD_VALUE_BOOL);
	v->u.b = b;
	return v;
}

struct infd_evalue *op_ev_null(void)
{
	return ev(INFD_VALUE_NULL);
}

struct infd_evalue *op_ev_string(const char *s)
{
	struct infd_evalue *v = ev(INFD_VALUE_STRING);
	v->u.str.ptr = s;
	v->u.str.len = (uint32_t)strlen(s);
	return v;
}

struct infd_evalue *op_ev_int_list(uint32_t n, const int64_t *items)
{
	struct infd_evalue *v = ev(INFD_VALUE_INT_LIST);
	v->u.list.count = n;
	v->u.list.items = op_track(calloc(n ? n : 1, sizeof *v->u.list.items));
	for (uint32_t i = 0; i < n; i++)
		v->u.list.items[i] = op_ev_int(items[i]);
	return v;
}

struct infd_evalue *op_ev_double_list(uint32_t n, const double *items)
{
	struct infd_evalue *v = ev(INFD_VALUE_DOUBLE_LIST);
	double *copy = op_track(calloc(n ? n : 1, sizeof *copy));
	memcpy(copy, items, n * sizeof *copy);
	v->u.dlist.count = n;
	v->u.dlist.v = copy;
	return v;
}

struct infd_evalue *op_ev_bool_list(uint32_t n, const bool *items)
{
	struct infd_evalue *v = ev(INFD_VALUE_BOOL_LIST);
	bool *copy = op_track(calloc(n ? n : 1, sizeof *copy));
	memcpy(copy, items, n * sizeof *copy);
	v->u.blist.count = n;
	v->u.blist.v = copy;
	return v;
}

struct infd_evalue *op_ev_tensor_list(uint32_t n, struct infd_tensor *const *items)
{
	struct infd_evalue *v = ev(INFD_VALUE_TENSOR_LIST);
	v->u.list.count = n;
	v->u.list.items = op_track(calloc(n ? n : 1, sizeof *v->u.list.items));
	for (uint32_t i = 0; i < n; i++)
		v->u.list.items[i] = items[i] ? op_ev_tensor(items[i]) : NULL;
	return v;
}

#define LOAD(T, p) (*(const T *)memcpy(&(T){0}, (p), sizeof(T)))
#define STORE(T, p, v) memcpy((p), &(T){(T)(v)}, sizeof(T))

static double half_to_double(uint16_t h)
{
	int e = (h >> 10) & 31, m = h & 1023;
	double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
	return (h & 0x8000) ? -v : v;
}

static uint16_t double_to_half(double d)
{
	/* Nearest half by search over the ordered positive codes (tests only). */
	if (isnan(d))
		return 0x7e00;
	uint16_t sign = signbit(d) ? 0x8000 : 0;
	double a = fabs(d);
	uint16_t lo = 0, hi = 0x7c00;
	while (lo < hi) {
		uint16_t mid = (uint16_t)((lo + hi) / 2);
		if (half_to_double(mid) < a)
			lo = (uint16_t)(mid + 1);
		else
			hi = mid;
	}
	if (lo > 0 && a - half_to_double((uint16_t)(lo - 1)) <= half_to_double(lo) - a) {
		double below = a - half_to_double((uint16_t)(lo - 1)), above = half_to_double(lo) - a;
		if (below < above || ((lo - 1) & 1) == 0)
			lo = (uint16_t)(lo - 1);
	}
	return (uint16_t)(sign | lo);
}

static double bf16_to_double(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

static uint16_t double_to_bf16(double d)
{
	float f = (float)d;
	uint32_t bits;
	memcpy(&bits, &f, 4);
	if (isnan(f))
		return 0x7fc0;
	bits += 0x7fff + ((bits >> 16) & 1);
	return (uint16_t)(bits >> 16);
}

static double load_at(const struct infd_tensor *t, const char *p)
{
	switch (t->dtype) {
	case U8:
		return LOAD(uint8_t, p);
	case I8:
		return LOAD(int8_t, p);
	case I16:
		return LOAD(int16_t, p);
	case I32:
		return LOAD(int32_t, p);
	case I64:
		return (double)LOAD(int64_t, p);
	case F16:
		return half_to_double(LOAD(uint16_t, p));
	case BF16:
		return bf16_to_double(LOAD(uint16_t, p));
	case F32:
		return LOAD(float, p);
	case F64:
		return LOAD(double, p);
	case B:
		return LOAD(uint8_t, p) != 0;
	default:
		cr_assert_fail("op_get: dtype %d", t->dtype);
	}
	return 0;
}

static void store_at(struct infd_tensor *t, char *p, double v)
{
	switch (t->dtype) {
	case U8:
		STORE(uint8_t, p, (int64_t)v);
		break;
	case I8:
		STORE(int8_t, p, (int64_t)v);
		break;
	case I16:
		STORE(int16_t, p, (int64_t)v);
		break;
	case I32:
		STORE(int32_t, p, (int64_t)v);
		break;
	case I64:
		STORE(int64_t, p, v);
		break;
	case F16:
		STORE(uint16_t, p, double_to_half(v));
		break;
	case BF16:
		STORE(uint16_t, p, double_to_bf16(v));
		break;
	case F32:
		STORE(float, p, v);
		break;
	case F64:
		STORE(double, p, v);
		break;
	case B:
		STORE(uint8_t, p, v != 0);
		break;
	default:
		cr_assert_fail("op_set: dtype %d", t->dtype);
	}
}

double op_get(const struct infd_tensor *t, uint64_t k)
{
	return load_at(t, (const char *)t->data + k * infd_dtype_size(t->dtype));
}

int64_t op_get_i(const struct infd_tensor *t, uint64_t k)
{
	const char *p = (const char *)t->data + k * infd_dtype_size(t->dtype);
	if (t->dtype == I64)
		return LOAD(int64_t, p);
	return (int64_t)load_at(t, p);
}

void op_set(struct infd_tensor *t, uint64_t k, double v)
{
	store_at(t, (char *)t->data + k * infd_dtype_size(t->dtype), v);
}

static int64_t elem_offset(const struct infd_tensor *t, const int64_t *idx)
{
	int64_t off = 0;
	for (uint32_t d = 0; d < t->rank; d++)
		off += idx[d] * t->strides[d];
	return off;
}

double op_get_at(const struct infd_tensor *t, const int64_t *idx)
{
	return op_get(t, (uint64_t)elem_offset(t, idx));
}

void op_set_at(struct infd_tensor *t, const int64_t *idx, double v)
{
	op_set(t, (uint64_t)elem_offset(t, idx), v);
}

uint32_t op_rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

int op_rnd_range(int lo, int hi)
{
	return lo + (int)(op_rnd() % (uint32_t)(hi - lo + 1));
}

double op_rnd_uniform(double lo, double hi)
{
	return lo + (hi - lo) * ((double)op_rnd() / 4294967296.0);
}

void op_fill_random(struct infd_tensor *t, double scale)
{
	for (uint64_t k = 0; k < t->numel; k++) {
		double v;
		switch (t->dtype) {
		case B:
			v = op_rnd() & 1;
			break;
		case U8:
			v = op_rnd_range(0, 255);
			break;
		case I8:
			v = op_rnd_range(-128, 127);
			break;
		case I16:
		case I32:
		case I64:
			v = op_rnd_range(-100, 100);
			break;
		default:
			v = op_rnd_uniform(-scale, scale);
			break;
		}
		op_set(t, k, v);
	}
}

infd_status op_call(const char *key, struct infd_evalue **args, uint32_t n)
{
	const struct infd_kernel_def *def = infd__registry_find(op_reg, key);
	cr_assert_not_null(def, "kernel %s is not registered", key);
	if (def->n_args >= 0)
		cr_assert_eq((uint32_t)def->n_args, n, "%s takes %d arguments, the test passes %u", key, def->n_args, n);
	struct infd_kernel_ctx ctx = {.err = &op_err, .op_key = key, .n_threads = 1};
	infd__error_clear(&op_err);
	return def->fn(&ctx, args, n);
}

void op_check_shape(const struct infd_tensor *t, uint32_t rank, const int32_t *sizes)
{
	cr_assert_eq(t->rank, rank, "rank %u, expected %u", t->rank, rank);
	for (uint32_t i = 0; i < rank; i++)
		cr_assert_eq(t->sizes[i], sizes[i], "dim %u: %d, expected %d", i, t->sizes[i], sizes[i]);
}

void op_check_close(const struct infd_tensor *t, const double *want, double rtol, double atol)
{
	for (uint64_t k = 0; k < t->numel; k++) {
		double g = op_get(t, k);
		if (isnan(g) && isnan(want[k]))
			continue;
		cr_assert(fabs(g - want[k]) <= atol + rtol * fabs(want[k]), "element %llu: %.9g, expected %.9g",
			  (unsigned long long)k, g, want[k]);
	}
}

double op_rel_l2(const struct infd_tensor *t, const double *want)
{
	double num = 0, den = 0;
	for (uint64_t k = 0; k < t->numel; k++) {
		double d = op_get(t, k) - want[k];
		num += d * d;
		den += want[k] * want[k];
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}
