/* Bundled programs (.bpte): the BP08 reader and the verifier that runs each test
 * case through a loaded method and compares outputs with their tolerances. */
#include "bundled.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fb.h"
#include "kernels/util.h"
#include "runtime.h"

#define TRY(expr)                                                                              \
	do {                                                                                   \
		infd_status st_ = (expr);                                                      \
		if (st_)                                                                       \
			return st_;                                                            \
	} while (0)

bool infd__is_bundled(const uint8_t *data, size_t size)
{
	return size >= 8 && memcmp(data + 4, "BP", 2) == 0;
}

static infd_status decode_value(const struct infd_fb *fb, const struct infd_fb_vec *vec, uint32_t i,
				const char *path, struct infd_bundled_value *out, struct infd_error *err)
{
	struct infd_fb_table vt, t;
	uint8_t tag;
	static const char *names[] = {NULL, "Tensor", "Int", "Bool", "Double"};
	TRY(infd__fb_vec_table(fb, vec, i, "Value", path, &vt, err));
	TRY(infd__fb_u8(fb, &vt, 0, "val_type", 0, &tag, err));
	if (tag < 1 || tag > 4)
		return infd__fail(err, INFD_BAD_FORMAT, "%s (Value): val_type %u is not a known kind", path, tag);
	TRY(infd__fb_table(fb, &vt, 1, "val", names[tag], true, &t, NULL, err));
	switch (tag) {
	case 1: {
		struct infd_fb_vec sizes, data, order;
		out->kind = INFD_VALUE_TENSOR;
		TRY(infd__fb_i8(fb, &t, 0, "scalar_type", 0, &out->dtype, err));
		TRY(infd__fb_vector(fb, &t, 1, "sizes", 4, 4, true, &sizes, err));
		TRY(infd__fb_vector(fb, &t, 2, "data", 1, 1, true, &data, err));
		TRY(infd__fb_vector(fb, &t, 3, "dim_order", 1, 1, false, &order, err));
		if (!infd_dtype_valid(out->dtype))
			return infd__fail(err, INFD_BAD_FORMAT, "%s (Tensor): scalar_type %d is not a supported dtype", path,
					  out->dtype);
		if (sizes.count > INFD_MAX_RANK)
			return infd__fail(err, INFD_BAD_FORMAT, "%s (Tensor): rank %u exceeds %d", path, sizes.count,
					  INFD_MAX_RANK);
		if (order.present && order.count != sizes.count)
			return infd__fail(err, INFD_BAD_FORMAT, "%s (Tensor): dim_order has %u entries for rank %u", path,
					  order.count, sizes.count);
		out->rank = (uint8_t)sizes.count;
		uint64_t numel = 1;
		for (uint32_t d = 0; d < sizes.count; d++) {
			out->sizes[d] = infd__fb_vec_i32(fb, &sizes, d);
			out->dim_order[d] = order.present ? infd__fb_vec_u8(fb, &order, d) : (uint8_t)d;
			if (out->sizes[d] < 0 || out->dim_order[d] != d)
				return infd__fail(err, INFD_BAD_FORMAT,
						  "%s (Tensor): negative size or non-contiguous dim order in dim %u", path, d);
			numel *= (uint64_t)out->sizes[d];
			if (numel > (UINT64_C(1) << 48))
				return infd__fail(err, INFD_BAD_FORMAT, "%s (Tensor): element count overflows", path);
		}
		out->nbytes = numel * infd_dtype_size(out->dtype);
		if (data.count != out->nbytes)
			return infd__fail(err, INFD_BAD_FORMAT, "%s (Tensor): %u data bytes for a tensor of %llu bytes",
					  path, data.count, (unsigned long long)out->nbytes);
		out->data = fb->buf + data.pos;
		return INFD_OK;
	}
	case 2:
		out->kind = INFD_VALUE_INT;
		return infd__fb_i64(fb, &t, 0, "int_val", 0, &out->i, err);
	case 3:
		out->kind = INFD_VALUE_BOOL;
		return infd__fb_bool(fb, &t, 0, "bool_val", false, &out->b, err);
	default:
		out->kind = INFD_VALUE_DOUBLE;
		return infd__fb_f64(fb, &t, 0, "double_val", 0.0, &out->d, err);
	}
}

static infd_status decode_values(struct infd_bundled *b, const struct infd_fb *fb, const struct infd_fb_table *t,
				 uint32_t slot, const char *field, uint32_t *n, struct infd_bundled_value **out,
				 struct infd_error *err)
{
	struct infd_fb_vec v;
	TRY(infd__fb_vector(fb, t, slot, field, 4, 4, false, &v, err));
	*n = v.count;
	*out = infd__pool_array(&b->pool, v.count, sizeof **out);
	if (!*out)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	for (uint32_t i = 0; i < v.count; i++) {
		char path[160];
		snprintf(path, sizeof path, "%s.%s[%u]", t->path, field, i);
		TRY(decode_value(fb, &v, i, path, &(*out)[i], err));
	}
	return INFD_OK;
}

static infd_status decode(struct infd_bundled *b, struct infd_error *err)
{
	struct infd_fb fb = {.buf = b->data, .size = b->size};
	struct infd_fb_table root;
	struct infd_fb_vec suites, program;
	if (b->size < 8 || memcmp(b->data + 4, "BP08", 4) != 0)
		return infd__fail(err, INFD_BAD_FORMAT, "not a bundled program: identifier at bytes 4..7 is not 'BP08'");
	TRY(infd__fb_root(&fb, "BundledProgram", &root, err));
	TRY(infd__fb_u32(&fb, &root, 0, "version", 0, &b->version, err));
	TRY(infd__fb_vector(&fb, &root, 2, "program", 1, 1, true, &program, err));
	b->program = fb.buf + program.pos;
	b->program_size = program.count;
	TRY(infd__fb_vector(&fb, &root, 1, "method_test_suites", 4, 4, true, &suites, err));
	b->n_suites = suites.count;
	b->suites = infd__pool_array(&b->pool, suites.count, sizeof *b->suites);
	if (!b->suites)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	for (uint32_t s = 0; s < suites.count; s++) {
		char spath[64];
		struct infd_fb_table st;
		struct infd_fb_vec cases;
		struct infd_bundled_suite *suite = &b->suites[s];
		snprintf(spath, sizeof spath, "BundledProgram.method_test_suites[%u]", s);
		TRY(infd__fb_vec_table(&fb, &suites, s, "BundledMethodTestSuite", spath, &st, err));
		TRY(infd__fb_string(&fb, &st, 0, "method_name", true, &suite->method, NULL, err));
		TRY(infd__fb_vector(&fb, &st, 1, "test_cases", 4, 4, true, &cases, err));
		suite->n_cases = cases.count;
		suite->cases = infd__pool_array(&b->pool, cases.count, sizeof *suite->cases);
		if (!suite->cases)
			return infd__fail(err, INFD_NO_MEMORY, "out of memory");
		for (uint32_t c = 0; c < cases.count; c++) {
			char cpath[96];
			struct infd_fb_table ct;
			struct infd_bundled_case *tc = &suite->cases[c];
			snprintf(cpath, sizeof cpath, "%s.test_cases[%u]", spath, c);
			TRY(infd__fb_vec_table(&fb, &cases, c, "BundledMethodTestCase", cpath, &ct, err));
			TRY(decode_values(b, &fb, &ct, 0, "inputs", &tc->n_inputs, &tc->inputs, err));
			TRY(decode_values(b, &fb, &ct, 1, "expected_outputs", &tc->n_expected, &tc->expected, err));
		}
	}
	return INFD_OK;
}

infd_status infd__bundled_parse(const uint8_t *data, size_t size, struct infd_bundled **out, struct infd_error *err)
{
	struct infd_bundled *b = calloc(1, sizeof *b);
	if (!b)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	b->data = data;
	b->size = size;
	infd_status st = decode(b, err);
	if (st) {
		infd__bundled_close(b);
		return st;
	}
	*out = b;
	return INFD_OK;
}

infd_status infd__bundled_open_file(const char *path, struct infd_bundled **out, struct infd_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return infd__fail(err, INFD_IO, "cannot open '%s': %s", path, strerror(errno));
	struct stat sb;
	infd_status st;
	void *map = MAP_FAILED;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 8) {
		st = infd__fail(err, INFD_IO, "'%s' is not a readable bundled program file", path);
		goto out_close;
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		st = infd__fail(err, INFD_IO, "cannot map '%s': %s", path, strerror(errno));
		goto out_close;
	}
	st = infd__bundled_parse(map, (size_t)sb.st_size, out, err);
	if (st) {
		infd__fail_prefix(err, st, "'%s': ", path);
		munmap(map, (size_t)sb.st_size);
		goto out_close;
	}
	(*out)->map = map;
	(*out)->map_size = (size_t)sb.st_size;
out_close:
	close(fd);
	return st;
}

void infd__bundled_close(struct infd_bundled *b)
{
	if (!b)
		return;
	infd__pool_free(&b->pool);
	if (b->map)
		munmap(b->map, b->map_size);
	free(b);
}

static double load_as_double(const uint8_t *p, int dtype, uint64_t k)
{
	switch (dtype) {
	case INFD_DTYPE_FLOAT32: {
		float f;
		memcpy(&f, p + 4 * k, 4);
		return f;
	}
	case INFD_DTYPE_FLOAT64: {
		double d;
		memcpy(&d, p + 8 * k, 8);
		return d;
	}
	case INFD_DTYPE_FLOAT16:
	case INFD_DTYPE_BFLOAT16: {
		uint16_t h;
		memcpy(&h, p + 2 * k, 2);
		return dtype == INFD_DTYPE_FLOAT16 ? infd__f16_to_f32(h) : infd__bf16_to_f32(h);
	}
	default:
		return 0.0;
	}
}

infd_status infd__bundled_compare(const struct infd_evalue *got, const struct infd_bundled_value *want, double rtol,
				  double atol, double *max_abs_error, char *msg, size_t msg_size)
{
	*max_abs_error = 0.0;
	if (want->kind != INFD_VALUE_TENSOR) {
		bool same = got->kind == want->kind &&
			    ((want->kind == INFD_VALUE_INT && got->u.i == want->i) ||
			     (want->kind == INFD_VALUE_BOOL && got->u.b == want->b) ||
			     (want->kind == INFD_VALUE_DOUBLE &&
			      (fabs(got->u.d - want->d) <= atol + rtol * fabs(want->d) || (isnan(got->u.d) && isnan(want->d)))));
		if (!same)
			snprintf(msg, msg_size, "expected a %s equal to the bundled value", infd__value_kind_name(want->kind));
		return same ? INFD_OK : INFD_MISMATCH;
	}
	if (got->kind != INFD_VALUE_TENSOR) {
		snprintf(msg, msg_size, "expected a tensor, got a %s", infd__value_kind_name(got->kind));
		return INFD_MISMATCH;
	}
	const struct infd_tensor *t = got->u.t;
	bool shape_ok = t->dtype == want->dtype && t->rank == want->rank;
	for (uint32_t d = 0; shape_ok && d < t->rank; d++)
		shape_ok = t->sizes[d] == want->sizes[d];
	if (!shape_ok) {
		char have[128];
		snprintf(msg, msg_size, "expected %s with %u dims, got %s", infd_dtype_name(want->dtype), want->rank,
			 infd__tensor_describe(t, have, sizeof have));
		return INFD_MISMATCH;
	}
	if (t->nbytes && !t->data) {
		snprintf(msg, msg_size, "output has no data");
		return INFD_MISMATCH;
	}
	if (!infd__tensor_is_contiguous(t)) {
		snprintf(msg, msg_size, "output is not contiguous");
		return INFD_MISMATCH;
	}
	bool is_float = want->dtype == INFD_DTYPE_FLOAT32 || want->dtype == INFD_DTYPE_FLOAT64 ||
			want->dtype == INFD_DTYPE_FLOAT16 || want->dtype == INFD_DTYPE_BFLOAT16;
	if (!is_float) {
		if (memcmp(t->data, want->data, want->nbytes) != 0) {
			size_t es = infd_dtype_size(want->dtype);
			uint64_t k = 0;
			while (memcmp((const uint8_t *)t->data + k * es, want->data + k * es, es) == 0)
				k++;
			snprintf(msg, msg_size, "element %llu differs (exact comparison for %s)", (unsigned long long)k,
				 infd_dtype_name(want->dtype));
			return INFD_MISMATCH;
		}
		return INFD_OK;
	}
	infd_status st = INFD_OK;
	for (uint64_t k = 0; k < t->numel; k++) {
		double a = load_as_double(t->data, t->dtype, k), b = load_as_double(want->data, want->dtype, k);
		/* NaN equals NaN and an infinity equals itself, as ExecuTorch's
		 * bundled comparison has it; any other infinite difference fails. */
		if ((isnan(a) && isnan(b)) || (isinf(a) && a == b))
			continue;
		double diff = fabs(a - b);
		if (diff > *max_abs_error || isnan(diff))
			*max_abs_error = diff;
		if (!(diff <= atol + rtol * fabs(b) && isfinite(diff)) && st == INFD_OK) {
			snprintf(msg, msg_size, "element %llu is %.9g, expected %.9g (atol %g, rtol %g)",
				 (unsigned long long)k, a, b, atol, rtol);
			st = INFD_MISMATCH;
		}
	}
	return st;
}

static infd_status run_case(struct infd_method *m, const struct infd_bundled_case *tc, double rtol, double atol,
			    struct infd_bundled_result *r)
{
	struct infd_error e = {0};
	if (tc->n_inputs != infd__method_n_inputs(m)) {
		snprintf(r->msg, sizeof r->msg, "%u inputs given, the method takes %u", tc->n_inputs,
			 infd__method_n_inputs(m));
		return INFD_BAD_INPUT;
	}
	for (uint32_t i = 0; i < tc->n_inputs; i++) {
		const struct infd_bundled_value *in = &tc->inputs[i];
		infd_status st;
		if (in->kind == INFD_VALUE_TENSOR) {
			st = infd__method_set_input_tensor(m, i, in->dtype, in->rank, in->sizes, in->data, in->nbytes, &e);
		} else {
			struct infd_evalue v = {.kind = in->kind};
			if (in->kind == INFD_VALUE_INT)
				v.u.i = in->i;
			else if (in->kind == INFD_VALUE_BOOL)
				v.u.b = in->b;
			else
				v.u.d = in->d;
			st = infd__method_set_input(m, i, &v, &e);
		}
		if (st) {
			snprintf(r->msg, sizeof r->msg, "%s", e.msg);
			return st;
		}
	}
	infd_status st = infd__method_execute(m, &e);
	if (st) {
		snprintf(r->msg, sizeof r->msg, "%s", e.msg);
		return st;
	}
	if (tc->n_expected && tc->n_expected != infd__method_n_outputs(m)) {
		snprintf(r->msg, sizeof r->msg, "%u expected outputs, the method has %u", tc->n_expected,
			 infd__method_n_outputs(m));
		return INFD_MISMATCH;
	}
	for (uint32_t o = 0; o < tc->n_expected; o++) {
		double err_o;
		char msg[256];
		st = infd__bundled_compare(infd__method_output(m, o), &tc->expected[o], rtol, atol, &err_o, msg,
					   sizeof msg);
		if (err_o > r->max_abs_error)
			r->max_abs_error = err_o;
		if (st) {
			snprintf(r->msg, sizeof r->msg, "output %u: %s", o, msg);
			return st;
		}
	}
	return INFD_OK;
}

infd_status infd__bundled_verify(struct infd_runtime *rt, const struct infd_bundled *b, double rtol, double atol,
				 infd_bundled_report_fn report, void *ud, uint32_t *n_failed, struct infd_error *err)
{
	struct infd_program *prog;
	*n_failed = 0;
	infd_status st = infd__program_open_copy(b->program, (size_t)b->program_size, &prog, err);
	if (st)
		return infd__fail_prefix(err, st, "embedded program: ");
	for (uint32_t s = 0; s < b->n_suites && st == INFD_OK; s++) {
		const struct infd_bundled_suite *suite = &b->suites[s];
		struct infd_method *m;
		st = infd__method_load(rt, prog, suite->method, NULL, &m, err);
		if (st)
			break;
		for (uint32_t c = 0; c < suite->n_cases; c++) {
			struct infd_bundled_result r = {.method = suite->method, .case_index = c};
			r.status = run_case(m, &suite->cases[c], rtol, atol, &r);
			if (r.status)
				(*n_failed)++;
			if (report)
				report(ud, &r);
		}
		infd__method_free(m);
	}
	infd__program_close(prog);
	return st;
}
