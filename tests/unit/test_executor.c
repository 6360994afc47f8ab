/* The executor as a user drives it: loading methods of real ExecuTorch files and
 * of writer-built programs, the memory plan, caller buffers, input binding, control
 * flow (moves, jumps, frees), the instruction limit and load-time refusals. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "runtime/kernel.h"
#include "runtime/pte_writer.h"
#include "runtime/runtime.h"

/* ---- helpers -------------------------------------------------------------------- */

static struct infd_runtime *rt_new(void)
{
	struct infd_runtime *rt = NULL;
	struct infd_error e = {0};
	cr_assert_eq(infd__runtime_create(NULL, &rt, &e), INFD_OK, "runtime: %s", e.msg);
	return rt;
}

static struct infd_program *open_prog(const char *path)
{
	struct infd_program *p = NULL;
	struct infd_error e = {0};
	cr_assert_eq(infd__program_open_file(path, &p, &e), INFD_OK, "%s: %s", path, e.msg);
	return p;
}

/* Serialize `w` (destroyed) and read the result back. */
static struct infd_program *finish(struct infd_pte_writer *w)
{
	uint8_t *data = NULL;
	size_t size = 0;
	struct infd_error e = {0};
	infd_status st = infd__pte_writer_finish(w, &data, &size, &e);
	infd__pte_writer_destroy(w);
	cr_assert_eq(st, INFD_OK, "writer: %s", e.msg);
	struct infd_program *p = NULL;
	st = infd__program_open_copy(data, size, &p, &e);
	free(data);
	cr_assert_eq(st, INFD_OK, "reader on writer output: %s", e.msg);
	return p;
}

static struct infd_method *load_ok(struct infd_runtime *rt, const struct infd_program *p, const char *name,
				   const struct infd_method_options *opt)
{
	struct infd_method *m = NULL;
	struct infd_error e = {0};
	infd_status st = infd__method_load(rt, p, name, opt, &m, &e);
	cr_assert_eq(st, INFD_OK, "load '%s': %s (%s)", name, e.msg, infd_status_name(st));
	cr_assert_not_null(m);
	return m;
}

/* Load that must fail; returns the status and leaves the message in *e. */
static infd_status load_fail(struct infd_runtime *rt, const struct infd_program *p, const char *name,
			     const struct infd_method_options *opt, struct infd_error *e)
{
	struct infd_method *m = NULL;
	infd_status st = infd__method_load(rt, p, name, opt, &m, e);
	cr_assert_neq(st, INFD_OK, "loading '%s' should have failed", name);
	cr_assert_null(m, "a failed load must not hand out a method");
	cr_assert_eq(e->status, st, "error status %d differs from the returned %d", e->status, st);
	cr_assert(e->msg[0], "a refusal needs a message");
	return st;
}

static void set_f32(struct infd_method *m, uint32_t i, uint32_t rank, const int32_t *sizes, const float *v, size_t n)
{
	struct infd_error e = {0};
	infd_status st = infd__method_set_input_tensor(m, i, INFD_DTYPE_FLOAT32, rank, sizes, v, n * sizeof *v, &e);
	cr_assert_eq(st, INFD_OK, "set input %u: %s", i, e.msg);
}

static void execute_ok(struct infd_method *m)
{
	struct infd_error e = {0};
	infd_status st = infd__method_execute(m, &e);
	cr_assert_eq(st, INFD_OK, "execute: %s (%s)", e.msg, infd_status_name(st));
}

static const struct infd_tensor *out_tensor(struct infd_method *m, uint32_t k)
{
	const struct infd_evalue *v = infd__method_output(m, k);
	cr_assert_not_null(v, "output %u missing", k);
	cr_assert_eq(v->kind, INFD_VALUE_TENSOR, "output %u is a %s", k, infd__value_kind_name(v->kind));
	cr_assert_not_null(v->u.t->data, "output %u has no data", k);
	return v->u.t;
}

static void expect_f32(const struct infd_tensor *t, const float *want, size_t n)
{
	cr_assert_eq(t->dtype, INFD_DTYPE_FLOAT32, "dtype %s", infd_dtype_name(t->dtype));
	cr_assert_eq(t->numel, n, "numel %llu, expected %zu", (unsigned long long)t->numel, n);
	const float *got = t->data;
	for (size_t k = 0; k < n; k++)
		cr_assert_float_eq(got[k], want[k], 1e-6, "element %zu: %g, expected %g", k, got[k], want[k]);
}

/* Every tensor of a loaded method sits exactly where the plan says: planned ones
 * at arena + offset, constants at their bytes in the file. Returns how many
 * planned tensors were checked. */
static uint32_t check_plan(const struct infd_method *m)
{
	const struct infd_method_def *def = m->def;
	uint32_t planned = 0;
	cr_assert_eq(m->n_arenas, def->n_buffers);
	for (uint32_t a = 0; a < def->n_buffers; a++)
		cr_assert_geq(m->arena_sizes[a], def->buffer_sizes[a], "arena %u is %llu bytes, plan says %llu", a,
			      (unsigned long long)m->arena_sizes[a], (unsigned long long)def->buffer_sizes[a]);
	for (uint32_t i = 0; i < def->n_values; i++) {
		if (def->values[i].kind != INFD_VALUE_TENSOR)
			continue;
		const struct infd_tensor_def *td = def->values[i].u.tensor;
		const struct infd_evalue *v = &m->values[i];
		cr_assert_eq(v->kind, INFD_VALUE_TENSOR, "value %u", i);
		cr_assert_eq(v->u.t, &m->tensors[td - def->tensors], "value %u does not use its own tensor slot", i);
		cr_assert_eq(v->u.t->def, td, "value %u has the wrong definition", i);
		if (td->storage == INFD_STORAGE_PLANNED) {
			cr_assert(td->memory_id >= 1 && td->memory_id <= m->n_arenas, "value %u memory_id %u", i,
				  td->memory_id);
			uint8_t *want = m->arenas[td->memory_id - 1] + td->memory_offset;
			cr_assert_eq((uint8_t *)v->u.t->data, want, "value %u: data %p, plan says arena %u + %llu = %p",
				     i, v->u.t->data, td->memory_id, (unsigned long long)td->memory_offset,
				     (void *)want);
			cr_assert_leq(td->memory_offset + td->nbytes, m->arena_sizes[td->memory_id - 1]);
			planned++;
		} else if (td->storage == INFD_STORAGE_CONSTANT) {
			cr_assert_eq(v->u.t->data, (void *)td->data, "constant value %u not at its file bytes", i);
			cr_assert(v->u.t->is_const, "constant value %u not marked constant", i);
		}
	}
	return planned;
}

/* ---- add.pte, module_linear.pte -------------------------------------------------------- */

Test(executor, add_pte_adds)
{
	T_REQUIRE_TESTDATA(path, "pte/add.pte");
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(path);
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_eq(infd__method_n_inputs(m), 2);
	cr_assert_eq(infd__method_n_outputs(m), 1);
	const int32_t one[1] = {1};
	set_f32(m, 0, 1, one, (const float[]){1.5f}, 1);
	set_f32(m, 1, 1, one, (const float[]){2.0f}, 1);
	execute_ok(m);
	const struct infd_tensor *y = out_tensor(m, 0);
	cr_assert_eq(y->rank, 1);
	cr_assert_eq(y->sizes[0], 1);
	expect_f32(y, (const float[]){3.5f}, 1);
	/* and again, with new inputs on the same loaded method */
	set_f32(m, 0, 1, one, (const float[]){-4.0f}, 1);
	set_f32(m, 1, 1, one, (const float[]){0.25f}, 1);
	execute_ok(m);
	expect_f32(out_tensor(m, 0), (const float[]){-3.75f}, 1);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, module_linear_output_aliases_input)
{
	T_REQUIRE_TESTDATA(path, "pte/module_linear.pte");
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(path);
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	const int32_t shape[2] = {2, 2};
	set_f32(m, 0, 2, shape, (const float[]){1, 2, 3, -4}, 4);
	struct infd_tensor *in = infd__method_input(m, 0)->u.t;
	const struct infd_tensor *out = out_tensor(m, 0);
	/* §13.2: input value 2 and output value 4 both live at offset 0 of arena 1 */
	cr_assert_eq(in->data, (void *)m->arenas[0]);
	cr_assert_eq(out->data, in->data, "output must reuse the input's planned bytes");
	execute_ok(m);
	expect_f32(out_tensor(m, 0), (const float[]){5, 8, 11, -10}, 4);
	cr_assert_eq(out_tensor(m, 0)->sizes[0], 2);
	cr_assert_eq(out_tensor(m, 0)->sizes[1], 2);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

/* ---- memory plan ---------------------------------------------------------------- */

Test(executor, plan_honoured_in_real_files)
{
	T_REQUIRE_TESTDATA(add, "pte/add.pte");
	T_REQUIRE_TESTDATA(lin, "pte/module_linear.pte");
	struct infd_runtime *rt = rt_new();

	struct infd_program *p = open_prog(add);
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_eq(m->n_arenas, 1);
	cr_assert_eq(m->def->buffer_sizes[0], 48);
	cr_assert_eq(check_plan(m), 3);
	/* §13.1: inputs at 0 and 16, output at 32 */
	cr_assert_eq((uint8_t *)infd__method_input(m, 0)->u.t->data, m->arenas[0] + 0);
	cr_assert_eq((uint8_t *)infd__method_input(m, 1)->u.t->data, m->arenas[0] + 16);
	cr_assert_eq((uint8_t *)infd__method_output(m, 0)->u.t->data, m->arenas[0] + 32);
	cr_assert_eq((uintptr_t)m->arenas[0] % 16, 0, "arenas must be 16-byte aligned");
	infd__method_free(m);
	infd__program_close(p);

	p = open_prog(lin);
	m = load_ok(rt, p, "forward", NULL);
	cr_assert_eq(check_plan(m), 3);
	cr_assert_eq(m->def->buffer_sizes[0], 32);
	/* value 3 (the mul result) at 16; constants 0 and 1 hold 3s and 2s */
	cr_assert_eq((uint8_t *)m->values[3].u.t->data, m->arenas[0] + 16);
	cr_assert_float_eq(((const float *)m->values[0].u.t->data)[3], 3.0f, 0);
	cr_assert_float_eq(((const float *)m->values[1].u.t->data)[0], 2.0f, 0);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

/* Two arenas, explicit offsets, an initial value from mutable data and a constant. */
static struct infd_program *two_arena_program(void)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	cr_assert_not_null(w);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	const int32_t s4[1] = {4};
	const float init[4] = {10, 20, 30, 40}, cst[4] = {1, 1, 1, 1};
	uint32_t mut = infd__pte_mutable(w, init, sizeof init);
	int32_t x = infd__pte_tensor(
	    m, &(struct infd_pte_tensor){
		   .dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4, .memory_id = 2, .memory_offset = 32});
	int32_t st = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32,
								   .rank = 1,
								   .sizes = s4,
								   .memory_id = 1,
								   .memory_offset = 48,
								   .mutable_data = mut});
	int32_t c = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 1, s4, cst);
	int32_t t = infd__pte_tensor(
	    m, &(struct infd_pte_tensor){
		   .dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4, .memory_id = 1, .memory_offset = 0});
	int32_t y = infd__pte_tensor(
	    m, &(struct infd_pte_tensor){
		   .dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4, .memory_id = 2, .memory_offset = 0});
	int32_t one = infd__pte_int(m, 1);
	infd__pte_arena(m, 1, 64);
	infd__pte_arena(m, 2, 48);
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &y);
	/* t = x + state; y = t + c */
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){x, st, one, t, t});
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){t, c, one, y, y});
	return finish(w);
}

Test(executor, plan_honoured_two_arenas_and_initial_values)
{
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = two_arena_program();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_eq(m->n_arenas, 2);
	cr_assert_eq(m->def->buffer_sizes[0], 64);
	cr_assert_eq(m->def->buffer_sizes[1], 48);
	cr_assert_eq(check_plan(m), 4);
	cr_assert_eq((uint8_t *)infd__method_input(m, 0)->u.t->data, m->arenas[1] + 32);
	cr_assert_eq((uint8_t *)infd__method_output(m, 0)->u.t->data, m->arenas[1] + 0);
	/* the mutable-data tensor starts out holding its initial value */
	const float *state = (const float *)(m->arenas[0] + 48);
	cr_assert_float_eq(state[0], 10.0f, 0);
	cr_assert_float_eq(state[3], 40.0f, 0);
	set_f32(m, 0, 1, (const int32_t[]){4}, (const float[]){1, 2, 3, 4}, 4);
	execute_ok(m);
	expect_f32(out_tensor(m, 0), (const float[]){12, 23, 34, 45}, 4);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, caller_buffers_used_in_place)
{
	T_REQUIRE_TESTDATA(path, "pte/add.pte");
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(path);
	uint8_t *buf = aligned_alloc(64, 64);
	cr_assert_not_null(buf);
	memset(buf, 0xA5, 64);
	void *bufs[1] = {buf};
	uint64_t sizes[1] = {48};
	struct infd_method_options opt = {.buffers = bufs, .buffer_sizes = sizes, .n_buffers = 1};
	struct infd_method *m = load_ok(rt, p, "forward", &opt);
	cr_assert_eq(m->arenas[0], buf, "the caller's buffer must be the arena");
	cr_assert_not(m->owns_arenas);
	cr_assert_eq(check_plan(m), 3);
	const int32_t one[1] = {1};
	set_f32(m, 0, 1, one, (const float[]){1.25f}, 1);
	set_f32(m, 1, 1, one, (const float[]){2.5f}, 1);
	float f;
	memcpy(&f, buf + 0, 4);
	cr_assert_float_eq(f, 1.25f, 0, "input 0 must be copied into the caller's buffer at offset 0");
	memcpy(&f, buf + 16, 4);
	cr_assert_float_eq(f, 2.5f, 0, "input 1 must be copied into the caller's buffer at offset 16");
	execute_ok(m);
	memcpy(&f, buf + 32, 4);
	cr_assert_float_eq(f, 3.75f, 0, "the output must appear in the caller's buffer at offset 32");
	cr_assert_eq(buf[48], 0xA5, "bytes past the plan must be left alone");
	infd__method_free(m);
	/* the method must not have freed our buffer: writing and freeing it is ours */
	buf[0] = 1;
	free(buf);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, caller_buffers_two_arenas)
{
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = two_arena_program();
	uint8_t *a = aligned_alloc(16, 64), *b = aligned_alloc(16, 48);
	cr_assert(a && b);
	void *bufs[2] = {a, b};
	uint64_t sizes[2] = {64, 48};
	struct infd_method_options opt = {.buffers = bufs, .buffer_sizes = sizes, .n_buffers = 2};
	struct infd_method *m = load_ok(rt, p, "forward", &opt);
	cr_assert_eq(m->arenas[0], a);
	cr_assert_eq(m->arenas[1], b);
	cr_assert_eq(check_plan(m), 4);
	float init;
	memcpy(&init, a + 48 + 4, 4);
	cr_assert_float_eq(init, 20.0f, 0, "initial value must be copied into the caller's arena");
	set_f32(m, 0, 1, (const int32_t[]){4}, (const float[]){1, 1, 1, 1}, 4);
	execute_ok(m);
	float y[4];
	memcpy(y, b, sizeof y);
	cr_assert_float_eq(y[0], 12.0f, 0);
	cr_assert_float_eq(y[3], 42.0f, 0);
	infd__method_free(m);
	free(a);
	free(b);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, caller_buffers_refused_when_wrong)
{
	T_REQUIRE_TESTDATA(path, "pte/add.pte");
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(path);
	uint8_t *buf = aligned_alloc(64, 128);
	cr_assert_not_null(buf);
	struct infd_error e = {0};

	void *small[1] = {buf};
	uint64_t small_size[1] = {47};
	struct infd_method_options opt = {.buffers = small, .buffer_sizes = small_size, .n_buffers = 1};
	cr_assert_eq(load_fail(rt, p, "forward", &opt, &e), INFD_INVALID_ARGUMENT, "too small: %s", e.msg);
	cr_assert(strstr(e.msg, "48"), "message should give the planned size: %s", e.msg);

	void *mis[1] = {buf + 8};
	uint64_t big[1] = {96};
	opt = (struct infd_method_options){.buffers = mis, .buffer_sizes = big, .n_buffers = 1};
	e = (struct infd_error){0};
	cr_assert_eq(load_fail(rt, p, "forward", &opt, &e), INFD_INVALID_ARGUMENT, "misaligned: %s", e.msg);
	cr_assert(strstr(e.msg, "align"), "message should say alignment: %s", e.msg);

	void *two[2] = {buf, buf + 64};
	uint64_t two_sizes[2] = {64, 64};
	opt = (struct infd_method_options){.buffers = two, .buffer_sizes = two_sizes, .n_buffers = 2};
	e = (struct infd_error){0};
	cr_assert_eq(load_fail(rt, p, "forward", &opt, &e), INFD_INVALID_ARGUMENT, "two for one: %s", e.msg);

	opt = (struct infd_method_options){.buffers = two, .buffer_sizes = two_sizes, .n_buffers = 0};
	e = (struct infd_error){0};
	cr_assert_eq(load_fail(rt, p, "forward", &opt, &e), INFD_INVALID_ARGUMENT, "none for one: %s", e.msg);

	opt = (struct infd_method_options){.buffers = small, .buffer_sizes = NULL, .n_buffers = 1};
	e = (struct infd_error){0};
	cr_assert_eq(load_fail(rt, p, "forward", &opt, &e), INFD_INVALID_ARGUMENT, "no sizes: %s", e.msg);

	/* the right buffer still works afterwards */
	opt = (struct infd_method_options){.buffers = small, .buffer_sizes = big, .n_buffers = 1};
	struct infd_method *m = load_ok(rt, p, "forward", &opt);
	infd__method_free(m);
	free(buf);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

/* ---- inputs and outputs ---------------------------------------------------------- */

Test(executor, inputs_and_outputs_by_index)
{
	T_REQUIRE_TESTDATA(add, "pte/add.pte");
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(add);
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_eq(infd__method_input(m, 0), &m->values[m->def->inputs[0]]);
	cr_assert_eq(infd__method_input(m, 1), &m->values[m->def->inputs[1]]);
	cr_assert_null(infd__method_input(m, 2));
	cr_assert_eq(infd__method_output(m, 0), &m->values[m->def->outputs[0]]);
	cr_assert_null(infd__method_output(m, 1));
	struct infd_error e = {0};
	float v = 1;
	infd_status st = infd__method_set_input_tensor(m, 2, INFD_DTYPE_FLOAT32, 1, (const int32_t[]){1}, &v, 4, &e);
	cr_assert_eq(st, INFD_INVALID_ARGUMENT, "input 2 of 2: %s", e.msg);
	cr_assert(e.msg[0]);
	/* x + y is symmetric, so check that each input's bytes landed in its own planned slot */
	set_f32(m, 0, 1, (const int32_t[]){1}, (const float[]){7.0f}, 1);
	set_f32(m, 1, 1, (const int32_t[]){1}, (const float[]){-1.0f}, 1);
	cr_assert_float_eq(*(const float *)(m->arenas[0] + 0), 7.0f, 0);
	cr_assert_float_eq(*(const float *)(m->arenas[0] + 16), -1.0f, 0);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, wrong_dtype_or_shape_is_bad_input)
{
	T_REQUIRE_TESTDATA(path, "pte/module_linear.pte");
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(path);
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	struct infd_error e = {0};
	const int32_t ok_shape[2] = {2, 2};
	int32_t ints[4] = {1, 2, 3, 4};
	infd_status st = infd__method_set_input_tensor(m, 0, INFD_DTYPE_INT32, 2, ok_shape, ints, sizeof ints, &e);
	cr_assert_eq(st, INFD_BAD_INPUT, "int32 into float32: %s", e.msg);
	cr_assert(strstr(e.msg, "float32") && strstr(e.msg, "int32"), "message should name both dtypes: %s", e.msg);

	float f[6] = {0};
	e = (struct infd_error){0};
	st = infd__method_set_input_tensor(m, 0, INFD_DTYPE_FLOAT32, 2, (const int32_t[]){2, 3}, f, sizeof f, &e);
	cr_assert_eq(st, INFD_BAD_INPUT, "[2,3] into static [2,2]: %s", e.msg);
	cr_assert(strstr(e.msg, "[2,2]") || strstr(e.msg, "static"), "message should say what was expected: %s", e.msg);

	e = (struct infd_error){0};
	st = infd__method_set_input_tensor(m, 0, INFD_DTYPE_FLOAT32, 1, (const int32_t[]){4}, f, 16, &e);
	cr_assert_eq(st, INFD_BAD_INPUT, "[4] into static [2,2]: %s", e.msg);
	cr_assert(e.msg[0]);

	e = (struct infd_error){0};
	st = infd__method_set_input_tensor(m, 0, INFD_DTYPE_FLOAT32, 2, ok_shape, f, 12, &e);
	cr_assert_eq(st, INFD_BAD_INPUT, "12 bytes for [2,2]: %s", e.msg);
	cr_assert(strstr(e.msg, "12"), "message should give the byte count: %s", e.msg);

	/* a scalar given for a tensor input */
	struct infd_evalue sv = {.kind = INFD_VALUE_INT, .u.i = 3};
	e = (struct infd_error){0};
	st = infd__method_set_input(m, 0, &sv, &e);
	cr_assert_eq(st, INFD_BAD_INPUT, "int for tensor: %s", e.msg);
	cr_assert(strstr(e.msg, "tensor"), "%s", e.msg);

	/* none of this bound the input */
	e = (struct infd_error){0};
	cr_assert_neq(infd__method_execute(m, &e), INFD_OK, "refused inputs must not count as set");
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, execute_needs_every_input)
{
	T_REQUIRE_TESTDATA(path, "pte/add.pte");
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(path);
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	struct infd_error e = {0};
	cr_assert_neq(infd__method_execute(m, &e), INFD_OK, "nothing bound");
	cr_assert(strstr(e.msg, "input 0"), "message should name the missing input: %s", e.msg);
	set_f32(m, 0, 1, (const int32_t[]){1}, (const float[]){1}, 1);
	e = (struct infd_error){0};
	cr_assert_neq(infd__method_execute(m, &e), INFD_OK, "input 1 unbound");
	cr_assert(strstr(e.msg, "input 1"), "message should name the missing input: %s", e.msg);
	cr_assert_eq(m->instructions_executed, 0, "nothing may run before the inputs are complete");
	set_f32(m, 1, 1, (const int32_t[]){1}, (const float[]){2}, 1);
	execute_ok(m);
	expect_f32(out_tensor(m, 0), (const float[]){3}, 1);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, scalar_inputs_must_equal_baked_value)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s2[1] = {2};
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t alpha = infd__pte_int(pm, 3);
	int32_t d = infd__pte_double(pm, 0.125);
	int32_t b = infd__pte_bool(pm, true);
	int32_t s = infd__pte_string(pm, "mode");
	int32_t n = infd__pte_null(pm);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	infd__pte_inputs(pm, 6, (const int32_t[]){x, alpha, d, b, s, n});
	infd__pte_outputs(pm, 1, &y);
	infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){x, x, alpha, y, y});
	struct infd_program *p = finish(w);
	struct infd_runtime *rt = rt_new();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_eq(infd__method_n_inputs(m), 6);
	struct infd_error e = {0};

	struct infd_evalue v = {.kind = INFD_VALUE_INT, .u.i = 4};
	cr_assert_eq(infd__method_set_input(m, 1, &v, &e), INFD_BAD_INPUT, "int 4 vs baked 3");
	cr_assert(e.msg[0]);
	v = (struct infd_evalue){.kind = INFD_VALUE_DOUBLE, .u.d = 3.0};
	cr_assert_eq(infd__method_set_input(m, 1, &v, &e), INFD_BAD_INPUT, "double for an int input");
	v = (struct infd_evalue){.kind = INFD_VALUE_INT, .u.i = 3};
	cr_assert_eq(infd__method_set_input(m, 1, &v, &e), INFD_OK, "%s", e.msg);

	v = (struct infd_evalue){.kind = INFD_VALUE_DOUBLE, .u.d = 0.5};
	cr_assert_eq(infd__method_set_input(m, 2, &v, &e), INFD_BAD_INPUT, "double 0.5 vs 0.125");
	v = (struct infd_evalue){.kind = INFD_VALUE_DOUBLE, .u.d = 0.125 + 5e-5};
	cr_assert_eq(infd__method_set_input(m, 2, &v, &e), INFD_OK, "within atol 1e-4: %s", e.msg);

	v = (struct infd_evalue){.kind = INFD_VALUE_BOOL, .u.b = false};
	cr_assert_eq(infd__method_set_input(m, 3, &v, &e), INFD_BAD_INPUT, "false vs true");
	v = (struct infd_evalue){.kind = INFD_VALUE_BOOL, .u.b = true};
	cr_assert_eq(infd__method_set_input(m, 3, &v, &e), INFD_OK, "%s", e.msg);

	v = (struct infd_evalue){.kind = INFD_VALUE_STRING, .u.str = {"mod", 3}};
	cr_assert_eq(infd__method_set_input(m, 4, &v, &e), INFD_BAD_INPUT, "'mod' vs 'mode'");
	v = (struct infd_evalue){.kind = INFD_VALUE_STRING, .u.str = {"mode", 4}};
	cr_assert_eq(infd__method_set_input(m, 4, &v, &e), INFD_OK, "%s", e.msg);

	v = (struct infd_evalue){.kind = INFD_VALUE_NULL};
	cr_assert_eq(infd__method_set_input(m, 5, &v, &e), INFD_OK, "%s", e.msg);

	set_f32(m, 0, 1, s2, (const float[]){1, 2}, 2);
	execute_ok(m);
	expect_f32(out_tensor(m, 0), (const float[]){4, 8}, 2); /* x + 3x */
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

/* ---- stories260k_qnn.pte --------------------------------------------------------- */

Test(executor, qnn_program_parses_and_delegate_is_refused)
{
	T_REQUIRE_TESTDATA(path, "pte/stories260k_qnn.pte");
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(path);
	cr_assert_eq(p->n_methods, 29);
	cr_assert_str_eq(p->methods[0].name, "kv_forward");
	cr_assert_str_eq(p->methods[1].name, "prefill_forward");
	const char *names[2] = {"kv_forward", "prefill_forward"};
	for (int i = 0; i < 2; i++) {
		struct infd_error e = {0};
		cr_assert_eq(load_fail(rt, p, names[i], NULL, &e), INFD_MISSING_OPERATOR, "%s: %s", names[i], e.msg);
		cr_assert(strstr(e.msg, "QnnBackend"), "%s: message should name QnnBackend: %s", names[i], e.msg);
	}
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, qnn_constant_getters_run)
{
	T_REQUIRE_TESTDATA(path, "pte/stories260k_qnn.pte");
	static const struct {
		const char *name;
		int64_t v;
	} ints[] = {
	    {"get_ar_len", 1},
	    {"get_bos_id", 1},
	    {"get_eos_id", 2},
	    {"get_dim", 64},
	    {"get_head_dim", 8},
	    {"get_max_batch_size", 1},
	    {"get_max_seq_len", 128},
	    {"get_max_context_len", 128},
	    {"get_n_bos", 1},
	    {"get_n_eos", 1},
	    {"get_n_kv_heads", 4},
	    {"get_n_layers", 5},
	    {"get_vocab_size", 512},
	    {"get_kv_io_bit_width", 8},
	    {"get_logits_zero_point", 31143},
	};
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(path);
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		struct infd_method *m = load_ok(rt, p, ints[i].name, NULL);
		cr_assert_eq(infd__method_n_inputs(m), 0);
		cr_assert_eq(infd__method_n_outputs(m), 1);
		execute_ok(m);
		const struct infd_evalue *v = infd__method_output(m, 0);
		cr_assert_eq(v->kind, INFD_VALUE_INT, "%s returns a %s", ints[i].name, infd__value_kind_name(v->kind));
		cr_assert_eq(v->u.i, ints[i].v, "%s = %lld, expected %lld", ints[i].name, (long long)v->u.i,
			     (long long)ints[i].v);
		infd__method_free(m);
	}

	struct infd_method *m = load_ok(rt, p, "get_use_kv_cache", NULL);
	execute_ok(m);
	cr_assert_eq(infd__method_output(m, 0)->kind, INFD_VALUE_BOOL);
	cr_assert(infd__method_output(m, 0)->u.b);
	infd__method_free(m);

	m = load_ok(rt, p, "get_logits_scale", NULL);
	execute_ok(m);
	cr_assert_eq(infd__method_output(m, 0)->kind, INFD_VALUE_DOUBLE);
	cr_assert_float_eq(infd__method_output(m, 0)->u.d, 0.00067988, 1e-8, "%.10g", infd__method_output(m, 0)->u.d);
	infd__method_free(m);

	for (int k = 0; k < 10; k++) {
		char name[64];
		snprintf(name, sizeof name, "get_kv_output_%d_quant_attr", k);
		m = load_ok(rt, p, name, NULL);
		execute_ok(m);
		cr_assert_eq(infd__method_n_outputs(m), 5, "%s", name);
		const struct infd_evalue *o = infd__method_output(m, 0);
		cr_assert_eq(o->kind, INFD_VALUE_DOUBLE, "%s output 0", name);
		cr_assert(o->u.d > 0 && o->u.d < 1, "%s scale %g", name, o->u.d);
		static const int64_t want[3] = {128, 0, 255};
		for (int j = 0; j < 3; j++) {
			o = infd__method_output(m, (uint32_t)j + 1);
			cr_assert_eq(o->kind, INFD_VALUE_INT, "%s output %d", name, j + 1);
			cr_assert_eq(o->u.i, want[j], "%s output %d = %lld", name, j + 1, (long long)o->u.i);
		}
		o = infd__method_output(m, 4);
		cr_assert_eq(o->kind, INFD_VALUE_STRING, "%s output 4", name);
		cr_assert_eq(o->u.str.len, 11);
		cr_assert(memcmp(o->u.str.ptr, "torch.uint8", 11) == 0, "%s: '%.*s'", name, (int)o->u.str.len,
			  o->u.str.ptr);
		infd__method_free(m);
	}
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, unknown_method_message_lists_every_method)
{
	T_REQUIRE_TESTDATA(path, "pte/stories260k_qnn.pte");
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(path);
	struct infd_error e = {0};
	cr_assert_eq(load_fail(rt, p, "get_nothing", NULL, &e), INFD_NOT_FOUND, "%s", e.msg);
	cr_assert(strstr(e.msg, "'get_nothing'"), "message should name the wanted method: %s", e.msg);
	for (uint32_t i = 0; i < p->n_methods; i++) {
		const char *name = p->methods[i].name;
		const char *at = strstr(e.msg, name);
		size_t len = strlen(name);
		/* the whole name, not a prefix of it cut off by the message size */
		while (at && at[len] != ',' && at[len] != ')')
			at = strstr(at + 1, name);
		cr_assert_not_null(at, "method %s is not listed in: %s", name, e.msg);
	}
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

/* ---- programs whose operators are not implemented ------------------------------- */

/* Every model's operator list (from its .json) that the runtime lacks must be named
 * in the one message the refused load gives. */
static void check_model_refused(const char *name, const char *must1, const char *must2)
{
	char rel[128];
	snprintf(rel, sizeof rel, "models/%s.pte", name);
	const char *pte = t_testdata(rel);
	snprintf(rel, sizeof rel, "models/%s.json", name);
	const char *js = t_testdata(rel);
	if (!pte || !js)
		cr_skip_test("test data models/%s.{pte,json} not found", name);
	char pte_path[4096], json_path[4096];
	snprintf(pte_path, sizeof pte_path, "%s", pte);
	snprintf(json_path, sizeof json_path, "%s", js);
	json_error_t je;
	json_t *root = json_load_file(json_path, 0, &je);
	cr_assert_not_null(root, "%s: %s", json_path, je.text);
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(pte_path);
	const char *method = json_string_value(json_object_get(root, "method"));
	cr_assert_not_null(method);
	struct infd_error e = {0};
	cr_assert_eq(load_fail(rt, p, method, NULL, &e), INFD_MISSING_OPERATOR, "%s: %s", name, e.msg);
	json_t *ops = json_object_get(root, "operators");
	cr_assert(json_is_array(ops));
	size_t i;
	json_t *op;
	uint32_t missing = 0;
	json_array_foreach(ops, i, op)
	{
		const char *key = json_string_value(op);
		if (infd__registry_find(rt->registry, key)) {
			cr_assert_null(strstr(e.msg, key), "%s: %s is implemented but named missing: %s", name, key,
				       e.msg);
			continue;
		}
		missing++;
		cr_assert(strstr(e.msg, key), "%s: missing operator %s not named in: %s", name, key, e.msg);
	}
	if (must1)
		cr_assert(strstr(e.msg, must1), "%s: %s not named in: %s", name, must1, e.msg);
	if (must2)
		cr_assert(strstr(e.msg, must2), "%s: %s not named in: %s", name, must2, e.msg);
	cr_assert(missing >= 2 || must1, "%s: expected several missing operators", name);
	json_decref(root);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, cnn_small_xnnpack_refused_at_load_naming_delegate)
{
	check_model_refused("cnn_small_xnnpack", "XnnpackBackend", NULL);
}

/* ---- writer-built programs: values ------------------------------------------------ */

/* A kernel that records what it receives, registered as test::probe.out. */
#define PROBE_MAX_CALLS 4
#define PROBE_MAX_ARGS  16
static struct {
	uint32_t calls;
	uint32_t n_args[PROBE_MAX_CALLS];
	struct infd_evalue *args[PROBE_MAX_CALLS][PROBE_MAX_ARGS];
	int64_t list0[PROBE_MAX_CALLS][8]; /* items of the first IntList argument, at the call */
} probe;

static infd_status probe_fn(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n)
{
	uint32_t c = probe.calls++;
	if (c >= PROBE_MAX_CALLS || n > PROBE_MAX_ARGS)
		return infd__fail(ctx->err, INFD_KERNEL_FAILED, "probe: too many calls or args");
	probe.n_args[c] = n;
	for (uint32_t i = 0; i < n; i++)
		probe.args[c][i] = args[i];
	for (uint32_t i = 0; i < n; i++) {
		if (args[i]->kind != INFD_VALUE_INT_LIST)
			continue;
		for (uint32_t j = 0; j < args[i]->u.list.count && j < 8; j++)
			probe.list0[c][j] = args[i]->u.list.items[j] ? args[i]->u.list.items[j]->u.i : -999;
		break;
	}
	return INFD_OK;
}

static const struct infd_kernel_def probe_kernels[] = {{"test::probe.out", -1, probe_fn}};

static struct infd_runtime *rt_with_probe(void)
{
	struct infd_runtime *rt = rt_new();
	cr_assert_eq(infd__registry_add(rt->registry, probe_kernels, 1), INFD_OK);
	memset(&probe, 0, sizeof probe);
	return rt;
}

Test(executor, every_value_kind_reaches_kernels)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s2[1] = {2};
	const float cdata[2] = {1.5f, -2.5f};
	int32_t vn = infd__pte_null(pm);
	int32_t vi = infd__pte_int(pm, -5);
	int32_t vb = infd__pte_bool(pm, true);
	int32_t vd = infd__pte_double(pm, 2.5);
	int32_t vs = infd__pte_string(pm, "hello");
	int32_t vil = infd__pte_int_list(pm, 3, (const int64_t[]){4, -1, 9});
	int32_t vdl = infd__pte_double_list(pm, 2, (const double[]){0.5, -1.25});
	int32_t vbl = infd__pte_bool_list(pm, 3, (const bool[]){true, false, true});
	int32_t t1 = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t t2 = infd__pte_const_tensor(pm, INFD_DTYPE_FLOAT32, 1, s2, cdata);
	int32_t vtl = infd__pte_tensor_list(pm, 2, (const int32_t[]){t1, t2});
	int32_t votl = infd__pte_opt_tensor_list(pm, 3, (const int32_t[]){t2, -1, vn});
	int32_t args[12] = {vn, vi, vb, vd, vs, vil, vdl, vbl, vtl, votl, t1, t1};
	infd__pte_outputs(pm, 1, &vi);
	infd__pte_call(pm, "test::probe", "out", 12, args);
	struct infd_program *p = finish(w);
	struct infd_runtime *rt = rt_with_probe();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);

	/* the loaded value table */
	struct infd_evalue *V = m->values;
	cr_assert_eq(V[vn].kind, INFD_VALUE_NULL);
	cr_assert_eq(V[vi].kind, INFD_VALUE_INT);
	cr_assert_eq(V[vi].u.i, -5);
	cr_assert_eq(V[vb].kind, INFD_VALUE_BOOL);
	cr_assert(V[vb].u.b);
	cr_assert_eq(V[vd].kind, INFD_VALUE_DOUBLE);
	cr_assert_float_eq(V[vd].u.d, 2.5, 0);
	cr_assert_eq(V[vs].kind, INFD_VALUE_STRING);
	cr_assert_eq(V[vs].u.str.len, 5);
	cr_assert(memcmp(V[vs].u.str.ptr, "hello", 5) == 0);
	cr_assert_eq(V[vil].kind, INFD_VALUE_INT_LIST);
	cr_assert_eq(V[vil].u.list.count, 3);
	static const int64_t il[3] = {4, -1, 9};
	for (uint32_t j = 0; j < 3; j++) {
		struct infd_evalue *it = V[vil].u.list.items[j];
		cr_assert_not_null(it);
		cr_assert(it >= V && it < V + m->def->n_values, "IntList item %u must point into the value table", j);
		cr_assert_eq(it->kind, INFD_VALUE_INT);
		cr_assert_eq(it->u.i, il[j]);
	}
	cr_assert_eq(V[vdl].kind, INFD_VALUE_DOUBLE_LIST);
	cr_assert_eq(V[vdl].u.dlist.count, 2);
	cr_assert_float_eq(V[vdl].u.dlist.v[0], 0.5, 0);
	cr_assert_float_eq(V[vdl].u.dlist.v[1], -1.25, 0);
	cr_assert_eq(V[vbl].kind, INFD_VALUE_BOOL_LIST);
	cr_assert_eq(V[vbl].u.blist.count, 3);
	cr_assert(V[vbl].u.blist.v[0] && !V[vbl].u.blist.v[1] && V[vbl].u.blist.v[2]);
	cr_assert_eq(V[vtl].kind, INFD_VALUE_TENSOR_LIST);
	cr_assert_eq(V[vtl].u.list.count, 2);
	cr_assert_eq(V[vtl].u.list.items[0], &V[t1]);
	cr_assert_eq(V[vtl].u.list.items[1], &V[t2]);
	cr_assert_eq(V[votl].kind, INFD_VALUE_OPT_TENSOR_LIST);
	cr_assert_eq(V[votl].u.list.count, 3);
	cr_assert_eq(V[votl].u.list.items[0], &V[t2]);
	cr_assert_null(V[votl].u.list.items[1], "-1 must load as None (NULL)");
	cr_assert_null(V[votl].u.list.items[2], "a Null value must load as None (NULL)");
	cr_assert_float_eq(((const float *)V[t2].u.t->data)[1], -2.5f, 0);
	cr_assert_str_eq(infd__method_placement(m, 0, 0), "portable");

	/* what the kernel sees */
	execute_ok(m);
	cr_assert_eq(probe.calls, 1);
	cr_assert_eq(probe.n_args[0], 12);
	for (uint32_t i = 0; i < 12; i++)
		cr_assert_eq(probe.args[0][i], &V[args[i]], "argument %u is not value %d", i, args[i]);
	cr_assert_eq(probe.list0[0][0], 4);
	cr_assert_eq(probe.list0[0][1], -1);
	cr_assert_eq(probe.list0[0][2], 9);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, int_list_items_are_reread_after_a_move)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	int32_t il = infd__pte_int_list(pm, 2, (const int64_t[]){2, 3});
	int32_t seven = infd__pte_int(pm, 7);
	infd__pte_call(pm, "test::probe", "out", 1, &il);
	infd__pte_move(pm, seven, il - 2); /* the list's first boxed Int */
	infd__pte_call(pm, "test::probe", "out", 1, &il);
	struct infd_program *p = finish(w);
	cr_assert_eq(p->methods[0].values[il - 2].kind, INFD_VALUE_INT,
		     "writer must box IntList items before the list");
	struct infd_runtime *rt = rt_with_probe();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_null(infd__method_placement(m, 0, 1), "moves are the executor's own");
	execute_ok(m);
	cr_assert_eq(probe.calls, 2);
	cr_assert_eq(probe.list0[0][0], 2);
	cr_assert_eq(probe.list0[0][1], 3);
	cr_assert_eq(probe.list0[1][0], 7, "the IntList must see the moved Int, got %lld",
		     (long long)probe.list0[1][0]);
	cr_assert_eq(probe.list0[1][1], 3);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, scalar_kinds_reach_real_kernels)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s2[1] = {2};
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t y[4];
	for (int k = 0; k < 4; k++)
		y[k] = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t i2 = infd__pte_int(pm, 2), i1 = infd__pte_int(pm, 1), i3 = infd__pte_int(pm, 3);
	int32_t dh = infd__pte_double(pm, 0.5), d2 = infd__pte_double(pm, 2.0), dm = infd__pte_double(pm, -1.5);
	int32_t bt = infd__pte_bool(pm, true);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 4, y);
	infd__pte_call(pm, "aten::add", "Scalar_out", 5, (const int32_t[]){x, i2, i1, y[0], y[0]});
	infd__pte_call(pm, "aten::add", "Scalar_out", 5, (const int32_t[]){x, dh, d2, y[1], y[1]});
	infd__pte_call(pm, "aten::add", "Scalar_out", 5, (const int32_t[]){x, bt, i3, y[2], y[2]});
	infd__pte_call(pm, "aten::mul", "Scalar_out", 4, (const int32_t[]){x, dm, y[3], y[3]});
	struct infd_program *p = finish(w);
	struct infd_runtime *rt = rt_new();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	set_f32(m, 0, 1, s2, (const float[]){1, 2}, 2);
	execute_ok(m);
	expect_f32(out_tensor(m, 0), (const float[]){3, 4}, 2);      /* + Int 2 */
	expect_f32(out_tensor(m, 1), (const float[]){2, 3}, 2);      /* + 2.0 * Double 0.5 */
	expect_f32(out_tensor(m, 2), (const float[]){4, 5}, 2);      /* + 3 * Bool true */
	expect_f32(out_tensor(m, 3), (const float[]){-1.5f, -3}, 2); /* * Double -1.5 */
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

/* ---- writer-built programs: control flow ------------------------------------------ */

Test(executor, move_call_copies_the_tensor_handle)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s2[1] = {2};
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t c = infd__pte_const_tensor(pm, INFD_DTYPE_FLOAT32, 1, s2, (const float[]){10, 20});
	int32_t r = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t o = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t one = infd__pte_int(pm, 1);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &o);
	infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){x, c, one, r, r});
	infd__pte_move(pm, r, o);
	struct infd_program *p = finish(w);
	struct infd_runtime *rt = rt_new();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	struct infd_tensor *r_t = m->values[r].u.t;
	void *o_data = m->values[o].u.t->data;
	cr_assert_neq(m->values[o].u.t, r_t, "before the move the output has its own tensor");
	cr_assert_neq(o_data, r_t->data);
	memset(o_data, 0, 8);
	set_f32(m, 0, 1, s2, (const float[]){1, 2}, 2);
	execute_ok(m);
	cr_assert_eq(m->values[o].kind, INFD_VALUE_TENSOR);
	cr_assert_eq(infd__method_output(m, 0)->u.t, r_t, "MoveCall must copy the handle");
	expect_f32(out_tensor(m, 0), (const float[]){11, 22}, 2);
	const float *old = o_data;
	cr_assert_float_eq(old[0], 0.0f, 0, "MoveCall must not copy bytes into the old output");
	cr_assert_eq(m->instructions_executed, 2);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

/* jump_false(cond) over "y = x + x": instr 0 jumps to 2 (the end) when cond is false. */
static struct infd_program *jump_program(bool cond_const, bool tensor_cond, int32_t *y_out)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s2[1] = {2}, s3[1] = {3};
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t cond = tensor_cond ? infd__pte_planned(pm, INFD_DTYPE_BOOL, 1, s3) : infd__pte_bool(pm, cond_const);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t one = infd__pte_int(pm, 1);
	if (tensor_cond)
		infd__pte_inputs(pm, 2, (const int32_t[]){x, cond});
	else
		infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	cr_assert_eq(infd__pte_jump_false(pm, cond, 2), 0);
	cr_assert_eq(infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){x, x, one, y, y}), 1);
	*y_out = y;
	return finish(w);
}

Test(executor, jump_false_bool_constant)
{
	struct infd_runtime *rt = rt_new();
	for (int c = 0; c < 2; c++) {
		int32_t y;
		struct infd_program *p = jump_program(c == 1, false, &y);
		struct infd_method *m = load_ok(rt, p, "forward", NULL);
		cr_assert_null(infd__method_placement(m, 0, 0), "jumps are the executor's own");
		cr_assert_str_eq(infd__method_placement(m, 0, 1), "portable");
		float *yd = m->values[y].u.t->data;
		yd[0] = yd[1] = -7.0f;
		set_f32(m, 0, 1, (const int32_t[]){2}, (const float[]){1.5f, 4}, 2);
		execute_ok(m);
		if (c == 0) {
			cr_assert_float_eq(yd[0], -7.0f, 0, "false must jump over the add");
			cr_assert_eq(m->instructions_executed, 1);
		} else {
			cr_assert_float_eq(yd[0], 3.0f, 0, "true must fall through into the add");
			cr_assert_float_eq(yd[1], 8.0f, 0);
			cr_assert_eq(m->instructions_executed, 2);
		}
		infd__method_free(m);
		infd__program_close(p);
	}
	infd__runtime_destroy(rt);
}

Test(executor, jump_false_bool_tensor_true_only_if_all_true)
{
	struct infd_runtime *rt = rt_new();
	int32_t y;
	struct infd_program *p = jump_program(false, true, &y);
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	float *yd = m->values[y].u.t->data;
	static const uint8_t conds[4][3] = {{1, 1, 1}, {1, 0, 1}, {0, 0, 0}, {1, 1, 0}};
	for (int k = 0; k < 4; k++) {
		struct infd_error e = {0};
		yd[0] = yd[1] = -7.0f;
		set_f32(m, 0, 1, (const int32_t[]){2}, (const float[]){2, 5}, 2);
		cr_assert_eq(
		    infd__method_set_input_tensor(m, 1, INFD_DTYPE_BOOL, 1, (const int32_t[]){3}, conds[k], 3, &e),
		    INFD_OK, "%s", e.msg);
		execute_ok(m);
		if (k == 0) {
			cr_assert_float_eq(yd[0], 4.0f, 0, "all true: the add must run");
			cr_assert_float_eq(yd[1], 10.0f, 0);
		} else {
			cr_assert_float_eq(yd[0], -7.0f, 0, "condition %d has a false element: must jump", k);
		}
	}
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

Test(executor, endless_loop_stops_at_the_instruction_limit, .timeout = 60)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	int32_t f = infd__pte_bool(pm, false);
	infd__pte_jump_false(pm, f, 0);
	struct infd_program *p = finish(w);
	struct infd_runtime *rt = rt_new();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	struct infd_error e = {0};
	double t0 = now_s();
	infd_status st = infd__method_execute(m, &e);
	double dt = now_s() - t0;
	cr_assert_neq(st, INFD_OK, "an endless loop must not succeed");
	cr_assert((strstr(e.msg, "10000000") || strstr(e.msg, "10,000,000")) && strstr(e.msg, "instruction"),
		  "message should mention the 10,000,000-instruction limit: %s", e.msg);
	cr_assert_eq(m->instructions_executed, 10000000u, "executed %llu",
		     (unsigned long long)m->instructions_executed);
	cr_assert_lt(dt, 5.0, "stopping took %.2f s", dt);
	/* the limit is per run: a second run stops the same way */
	e = (struct infd_error){0};
	cr_assert_neq(infd__method_execute(m, &e), INFD_OK);
	cr_assert_eq(m->instructions_executed, 20000000u);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, free_call_clears_an_unplanned_tensor)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s2[1] = {2};
	int32_t u =
	    infd__pte_tensor(pm, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s2});
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t one = infd__pte_int(pm, 1);
	infd__pte_inputs(pm, 1, &u);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){u, u, one, y, y});
	infd__pte_free(pm, u);
	struct infd_program *p = finish(w);
	cr_assert_eq(p->methods[0].values[u].u.tensor->storage, INFD_STORAGE_NONE);
	struct infd_runtime *rt = rt_new();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_null(m->values[u].u.t->data, "an unplanned tensor has no data at load");
	cr_assert_null(infd__method_placement(m, 0, 1), "frees are the executor's own");
	float mine[2] = {3, 4};
	set_f32(m, 0, 1, s2, mine, 2);
	cr_assert_eq(m->values[u].u.t->data, (void *)mine, "an unplanned input adopts the caller's pointer");
	execute_ok(m);
	expect_f32(out_tensor(m, 0), (const float[]){6, 8}, 2);
	cr_assert_null(m->values[u].u.t->data, "FreeCall must clear the data pointer");
	cr_assert_float_eq(mine[0], 3.0f, 0, "the caller's bytes are untouched");
	/* bind again and run again */
	float again[2] = {-1, 0.5f};
	set_f32(m, 0, 1, s2, again, 2);
	execute_ok(m);
	expect_f32(out_tensor(m, 0), (const float[]){-2, 1}, 2);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

/* ---- writer-built programs: methods, shapes, refusals --------------------------------- */

Test(executor, several_methods_in_one_program)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	const int32_t s2[1] = {2};
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	int32_t a = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t b = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t o = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t one = infd__pte_int(pm, 1);
	infd__pte_inputs(pm, 2, (const int32_t[]){a, b});
	infd__pte_outputs(pm, 1, &o);
	infd__pte_call(pm, "aten::sub", "out", 5, (const int32_t[]){a, b, one, o, o});

	pm = infd__pte_method(w, "scale");
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t c = infd__pte_const_tensor(pm, INFD_DTYPE_FLOAT32, 1, s2, (const float[]){3, -1});
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_call(pm, "aten::mul", "out", 4, (const int32_t[]){x, c, y, y});

	pm = infd__pte_method(w, "get_answer");
	int32_t ans = infd__pte_int(pm, 42);
	infd__pte_outputs(pm, 1, &ans);
	struct infd_program *p = finish(w);
	cr_assert_eq(p->n_methods, 3);

	struct infd_runtime *rt = rt_new();
	struct infd_method *m1 = load_ok(rt, p, "forward", NULL);
	struct infd_method *m2 = load_ok(rt, p, "scale", NULL);
	struct infd_method *m3 = load_ok(rt, p, "get_answer", NULL);
	cr_assert_neq(m1->arenas[0], m2->arenas[0], "methods have their own planned memory");
	set_f32(m1, 0, 1, s2, (const float[]){5, 1}, 2);
	set_f32(m1, 1, 1, s2, (const float[]){2, 4}, 2);
	set_f32(m2, 0, 1, s2, (const float[]){2, 7}, 2);
	execute_ok(m2);
	execute_ok(m1);
	execute_ok(m3);
	expect_f32(out_tensor(m1, 0), (const float[]){3, -3}, 2);
	expect_f32(out_tensor(m2, 0), (const float[]){6, -7}, 2);
	cr_assert_eq(infd__method_output(m3, 0)->kind, INFD_VALUE_INT);
	cr_assert_eq(infd__method_output(m3, 0)->u.i, 42);

	struct infd_error e = {0};
	cr_assert_eq(load_fail(rt, p, "nope", NULL, &e), INFD_NOT_FOUND);
	cr_assert(strstr(e.msg, "nope") && strstr(e.msg, "forward") && strstr(e.msg, "scale") &&
		      strstr(e.msg, "get_answer"),
		  "message should name the wanted and the existing methods: %s", e.msg);
	infd__method_free(m1);
	infd__method_free(m2);
	infd__method_free(m3);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, dynamic_bound_input_resizes_within_its_bound)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s4[1] = {4};
	int32_t x = infd__pte_tensor(pm, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32,
								   .rank = 1,
								   .sizes = s4,
								   .dynamism = INFD_SHAPE_DYNAMIC_BOUND,
								   .memory_id = 1,
								   .memory_offset = 0});
	int32_t y = infd__pte_tensor(pm, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32,
								   .rank = 1,
								   .sizes = s4,
								   .dynamism = INFD_SHAPE_DYNAMIC_BOUND,
								   .memory_id = 1,
								   .memory_offset = 16});
	int32_t one = infd__pte_int(pm, 1);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){x, x, one, y, y});
	struct infd_program *p = finish(w);
	struct infd_runtime *rt = rt_new();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_eq(check_plan(m), 2);

	set_f32(m, 0, 1, (const int32_t[]){3}, (const float[]){1, 2, 3}, 3);
	cr_assert_eq(infd__method_input(m, 0)->u.t->sizes[0], 3);
	execute_ok(m);
	const struct infd_tensor *o = out_tensor(m, 0);
	cr_assert_eq(o->rank, 1);
	cr_assert_eq(o->sizes[0], 3, "output must follow the input's shape, got %d", o->sizes[0]);
	expect_f32(o, (const float[]){2, 4, 6}, 3);

	struct infd_error e = {0};
	float five[5] = {0};
	infd_status st =
	    infd__method_set_input_tensor(m, 0, INFD_DTYPE_FLOAT32, 1, (const int32_t[]){5}, five, sizeof five, &e);
	cr_assert_eq(st, INFD_BAD_INPUT, "[5] beyond the bound [4]: %s", e.msg);
	cr_assert(strstr(e.msg, "bound") || strstr(e.msg, "4"), "message should give the bound: %s", e.msg);
	e = (struct infd_error){0};
	st = infd__method_set_input_tensor(m, 0, INFD_DTYPE_FLOAT32, 2, (const int32_t[]){2, 2}, five, 16, &e);
	cr_assert_eq(st, INFD_BAD_INPUT, "rank 2 for a rank-1 bound: %s", e.msg);

	set_f32(m, 0, 1, s4, (const float[]){1, 1, 1, 0.5f}, 4);
	execute_ok(m);
	expect_f32(out_tensor(m, 0), (const float[]){2, 2, 2, 1}, 4);
	set_f32(m, 0, 1, (const int32_t[]){0}, NULL, 0);
	execute_ok(m);
	cr_assert_eq(infd__method_output(m, 0)->u.t->numel, 0);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, wrong_argument_count_refused_at_load)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s2[1] = {2};
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	/* aten::add.out takes [self, other, alpha, out, out]: alpha left out */
	infd__pte_call(pm, "aten::add", "out", 4, (const int32_t[]){x, x, y, y});
	struct infd_program *p = finish(w);
	struct infd_runtime *rt = rt_new();
	struct infd_error e = {0};
	infd_status st = load_fail(rt, p, "forward", NULL, &e);
	cr_assert_neq(st, INFD_MISSING_OPERATOR, "the operator exists; its call is malformed: %s", e.msg);
	cr_assert(strstr(e.msg, "aten::add.out"), "message should name the operator: %s", e.msg);
	cr_assert(strstr(e.msg, "5") && strstr(e.msg, "4"), "message should give both counts: %s", e.msg);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, unknown_delegate_refused_naming_it)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s2[1] = {2};
	int32_t x =
	    infd__pte_tensor(pm, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s2});
	int32_t y =
	    infd__pte_tensor(pm, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s2});
	static const uint8_t payload[24] = {1, 2, 3, 4};
	struct infd_pte_compile_spec spec = {.key = "level", .value = "3", .size = 1};
	int32_t d = infd__pte_delegate(pm, "FancyNpuBackend", payload, sizeof payload, 1, &spec);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_delegate_call(pm, d, 2, (const int32_t[]){x, y});
	struct infd_program *p = finish(w);
	cr_assert_str_eq(p->methods[0].delegates[0].id, "FancyNpuBackend");
	struct infd_runtime *rt = rt_new();
	struct infd_error e = {0};
	cr_assert_eq(load_fail(rt, p, "forward", NULL, &e), INFD_MISSING_OPERATOR, "%s", e.msg);
	cr_assert(strstr(e.msg, "FancyNpuBackend"), "message should name the delegate id: %s", e.msg);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, all_missing_operators_and_delegates_in_one_message)
{
	/* ten operators nobody provides (vendor namespaces), plus two delegates */
	static const char *const ops[][2] = {
	    {"vendor::fused_convolution", "out"},
	    {"vendor::_native_batch_norm_fused", "out"},
	    {"vendor::relu_squared", "out"},
	    {"vendor::unsqueeze_copy", "out"},
	    {"vendor::max_pool2d_with_indices", "out"},
	    {"vendor::squeeze_copy", "dims_out"},
	    {"vendor::mean", "out"},
	    {"vendor::permute_copy", "out"},
	    {"vendor::addmm", "out"},
	    {"vendor::_log_softmax", "out"},
	};
	const size_t n_ops = sizeof ops / sizeof ops[0];
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s2[1] = {2};
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t one = infd__pte_int(pm, 1);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){x, x, one, y, y}); /* this one exists */
	for (size_t i = 0; i < n_ops; i++) {
		infd__pte_call(pm, ops[i][0], ops[i][1], 3, (const int32_t[]){x, y, y});
		infd__pte_call(pm, ops[i][0], ops[i][1], 3, (const int32_t[]){y, y, y}); /* used twice */
	}
	static const uint8_t blob_a[8] = {1}, blob_b[8] = {2};
	int32_t da = infd__pte_delegate(pm, "VulkanBackend", blob_a, sizeof blob_a, 0, NULL);
	int32_t db = infd__pte_delegate(pm, "MysteryBackend", blob_b, sizeof blob_b, 0, NULL);
	infd__pte_delegate_call(pm, da, 2, (const int32_t[]){x, y});
	infd__pte_delegate_call(pm, db, 2, (const int32_t[]){x, y});
	struct infd_program *p = finish(w);
	struct infd_runtime *rt = rt_new();
	struct infd_error e = {0};
	cr_assert_eq(load_fail(rt, p, "forward", NULL, &e), INFD_MISSING_OPERATOR, "%s", e.msg);
	for (size_t i = 0; i < n_ops; i++) {
		char key[128];
		snprintf(key, sizeof key, "%s.%s", ops[i][0], ops[i][1]);
		cr_assert(strstr(e.msg, key), "missing operator %s not named in: %s", key, e.msg);
		const char *first = strstr(e.msg, key);
		cr_assert_null(strstr(first + strlen(key), key), "%s named twice in: %s", key, e.msg);
	}
	cr_assert(strstr(e.msg, "VulkanBackend"), "delegate VulkanBackend not named in: %s", e.msg);
	cr_assert(strstr(e.msg, "MysteryBackend"), "delegate MysteryBackend not named in: %s", e.msg);
	cr_assert_null(strstr(e.msg, "aten::add.out"), "aten::add.out exists, yet named: %s", e.msg);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, placement_names_cpu_for_kernels)
{
	T_REQUIRE_TESTDATA(path, "pte/module_linear.pte");
	struct infd_runtime *rt = rt_new();
	struct infd_program *p = open_prog(path);
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_str_eq(infd__method_placement(m, 0, 0), "portable");
	cr_assert_str_eq(infd__method_placement(m, 0, 1), "portable");
	cr_assert_null(infd__method_placement(m, 0, 2), "past the last instruction");
	cr_assert_null(infd__method_placement(m, 1, 0), "no such chain");
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, bundled_program_forward_through_the_method_api)
{
	/* forward(x, q) = 3x + 2 + q on int32 [2,2] (pte-format §13.3): the bundled cases
	 * are all zeros, so check the arithmetic and the input order with other values */
	T_REQUIRE_TESTDATA(path, "pte/bundled_add_mul.bpte");
	size_t size = 0;
	uint8_t *bytes = t_read_file(path, &size);
	cr_assert_not_null(bytes);
	/* the embedded program starts at byte 64 and is 1696 bytes long (§13.3) */
	cr_assert_geq(size, 64 + 1696);
	struct infd_program *p = NULL;
	struct infd_error e = {0};
	cr_assert_eq(infd__program_open_copy(bytes + 64, 1696, &p, &e), INFD_OK, "%s", e.msg);
	free(bytes);
	struct infd_runtime *rt = rt_new();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_eq(check_plan(m), 5);
	const int32_t shape[2] = {2, 2};
	const int32_t x[4] = {1, 2, 3, -4}, q[4] = {10, 20, 30, 40};
	cr_assert_eq(infd__method_set_input_tensor(m, 0, INFD_DTYPE_INT32, 2, shape, x, sizeof x, &e), INFD_OK, "%s",
		     e.msg);
	cr_assert_eq(infd__method_set_input_tensor(m, 1, INFD_DTYPE_INT32, 2, shape, q, sizeof q, &e), INFD_OK, "%s",
		     e.msg);
	execute_ok(m);
	const struct infd_tensor *o = out_tensor(m, 0);
	cr_assert_eq(o->dtype, INFD_DTYPE_INT32);
	const int32_t *got = o->data;
	static const int32_t want[4] = {15, 28, 41, 30};
	for (int k = 0; k < 4; k++)
		cr_assert_eq(got[k], want[k], "element %d: %d, expected %d", k, got[k], want[k]);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

/* ---- delegates on a backend that claims them; kernel failures -------------------------- */

/* A backend that claims "FakeNpuBackend" payloads and runs them as out = 2 * in. */
struct fake_be {
	uint32_t prepared, executed, released;
	const struct infd_delegate_def *del;
	struct infd_evalue *in, *out;
};

static bool fake_claims(void *ctx, const char *id)
{
	return strcmp(id, "FakeNpuBackend") == 0;
}

static infd_status fake_prepare(void *ctx, const struct infd_partition_desc *part, void **prepared,
				struct infd_error *err)
{
	struct fake_be *f = ctx;
	if (!part->delegate || part->n_instrs != 1 || part->instrs[0]->n_args != 2)
		return infd__fail(err, INFD_INTERNAL, "fake backend: unexpected partition");
	f->del = part->delegate;
	f->in = &part->values[part->instrs[0]->args[0]];
	f->out = &part->values[part->instrs[0]->args[1]];
	f->prepared++;
	*prepared = f;
	return INFD_OK;
}

static infd_status fake_execute(void *ctx, void *prepared, struct infd_error *err)
{
	struct fake_be *f = prepared;
	const struct infd_tensor *in = f->in->u.t;
	struct infd_tensor *out = f->out->u.t;
	if (!in->data || !out->data || in->numel != out->numel)
		return infd__fail(err, INFD_KERNEL_FAILED, "fake backend: no data");
	for (uint64_t k = 0; k < in->numel; k++)
		((float *)out->data)[k] = 2.0f * ((const float *)in->data)[k];
	f->executed++;
	return INFD_OK;
}

static void fake_release(void *ctx, void *prepared)
{
	((struct fake_be *)ctx)->released++;
}

static const struct infd_backend_ops fake_ops = {
    .name = "fakenpu",
    .claims_delegate = fake_claims,
    .prepare = fake_prepare,
    .execute = fake_execute,
    .release = fake_release,
};

Test(executor, delegate_call_runs_on_the_backend_that_claims_it)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s3[1] = {3};
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s3);
	int32_t t = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s3);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s3);
	int32_t one = infd__pte_int(pm, 1);
	static const uint8_t payload[40] = {0xde, 0xad, 0xbe, 0xef, [39] = 7};
	struct infd_pte_compile_spec spec = {.key = "precision", .value = "fp32", .size = 4};
	int32_t d = infd__pte_delegate(pm, "FakeNpuBackend", payload, sizeof payload, 1, &spec);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_delegate_call(pm, d, 2, (const int32_t[]){x, t});
	infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){t, x, one, y, y});
	struct infd_program *p = finish(w);
	struct infd_runtime *rt = rt_new();
	struct fake_be fake = {0};
	cr_assert_eq(infd__runtime_add_backend(rt, (struct infd_backend){.ops = &fake_ops, .ctx = &fake}), INFD_OK);
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	cr_assert_eq(fake.prepared, 1);
	cr_assert_str_eq(fake.del->id, "FakeNpuBackend");
	cr_assert_eq(fake.del->payload_size, sizeof payload);
	cr_assert(memcmp(fake.del->payload, payload, sizeof payload) == 0, "the backend must see the payload bytes");
	cr_assert_eq(fake.del->n_specs, 1);
	cr_assert_str_eq(fake.del->specs[0].key, "precision");
	cr_assert_eq(fake.del->specs[0].size, 4);
	cr_assert(memcmp(fake.del->specs[0].value, "fp32", 4) == 0);
	cr_assert_eq(fake.in, &m->values[x], "delegate args must be the method's own values");
	cr_assert_eq(fake.out, &m->values[t]);
	cr_assert_str_eq(infd__method_placement(m, 0, 0), "fakenpu");
	cr_assert_str_eq(infd__method_placement(m, 0, 1), "portable");
	set_f32(m, 0, 1, s3, (const float[]){1, -2, 0.5f}, 3);
	execute_ok(m);
	cr_assert_eq(fake.executed, 1);
	expect_f32(out_tensor(m, 0), (const float[]){3, -6, 1.5f}, 3); /* 2x + x */
	infd__method_free(m);
	cr_assert_eq(fake.released, 1, "freeing the method must release its prepared partition");
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

Test(executor, kernel_failure_is_reported_by_execute)
{
	/* float32 + float32 into an int32 out: PyTorch refuses to cast float results to int */
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s2[1] = {2};
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s2);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_INT32, 1, s2);
	int32_t one = infd__pte_int(pm, 1);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){x, x, one, y, y});
	struct infd_program *p = finish(w);
	struct infd_runtime *rt = rt_new();
	struct infd_method *m = load_ok(rt, p, "forward", NULL);
	set_f32(m, 0, 1, s2, (const float[]){1, 2}, 2);
	struct infd_error e = {0};
	infd_status st = infd__method_execute(m, &e);
	cr_assert_neq(st, INFD_OK, "the kernel must refuse a float32 result in an int32 out");
	cr_assert_eq(e.status, st);
	cr_assert(strstr(e.msg, "aten::add.out"), "message should name the operator: %s", e.msg);
	cr_assert(strstr(e.msg, "forward"), "message should name the method: %s", e.msg);
	/* the method stays usable */
	e = (struct infd_error){0};
	cr_assert_neq(infd__method_execute(m, &e), INFD_OK);
	infd__method_free(m);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

/* ---- device preference lists and device lanes ------------------------------------------ */

/* A "GPU" backend that runs aten::add.out (same-shape float32, alpha 1) on a lane of
 * its own, recording the thread each partition ran on. */
struct lane_be {
	pthread_mutex_t lock;
	pthread_t threads[4];
	uint32_t n_threads;
	uint64_t executed;
};

struct lane_part {
	struct infd_evalue *a, *b, *out;
};

static infd_status lane_probe(void *ctx, struct infd_device_info *out)
{
	snprintf(out->name, sizeof out->name, "test lane device");
	snprintf(out->kind, sizeof out->kind, "gpu");
	out->available = true;
	return INFD_OK;
}

static bool lane_supports(void *ctx, const struct infd_method_def *method, const struct infd_evalue *values,
			  const struct infd_instr_def *instr)
{
	return strcmp(method->operators[instr->a].key, "aten::add.out") == 0;
}

static infd_status lane_prepare(void *ctx, const struct infd_partition_desc *part, void **prepared,
				struct infd_error *err)
{
	struct lane_part *p = calloc(part->n_instrs, sizeof *p);
	cr_assert(p);
	cr_assert_eq(part->n_instrs, 1, "the add is alone between portable instructions");
	p->a = &part->values[part->instrs[0]->args[0]];
	p->b = &part->values[part->instrs[0]->args[1]];
	p->out = &part->values[part->instrs[0]->args[4]];
	*prepared = p;
	return INFD_OK;
}

static infd_status lane_execute(void *ctx, void *prepared, struct infd_error *err)
{
	struct lane_be *l = ctx;
	struct lane_part *p = prepared;
	const float *a = p->a->u.t->data, *b = p->b->u.t->data;
	float *o = p->out->u.t->data;
	for (uint64_t k = 0; k < p->out->u.t->numel; k++)
		o[k] = a[k] + b[k];
	pthread_mutex_lock(&l->lock);
	bool seen = false;
	for (uint32_t i = 0; i < l->n_threads; i++)
		seen |= pthread_equal(l->threads[i], pthread_self()) != 0;
	if (!seen && l->n_threads < 4)
		l->threads[l->n_threads++] = pthread_self();
	l->executed++;
	pthread_mutex_unlock(&l->lock);
	return INFD_OK;
}

static void lane_release(void *ctx, void *prepared)
{
	free(prepared);
}

static const struct infd_backend_ops lane_ops = {
    .name = "lanegpu",
    .probe = lane_probe,
    .supports = lane_supports,
    .prepare = lane_prepare,
    .execute = lane_execute,
    .release = lane_release,
    .own_lane = true,
};

/* y = (x + x) * x: the add may go to the GPU, the mul only to the portable kernels. */
static struct infd_program *add_mul_program(void)
{
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *pm = infd__pte_method(w, "forward");
	const int32_t s4[1] = {4};
	int32_t x = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t t = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t y = infd__pte_planned(pm, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t one = infd__pte_int(pm, 1);
	infd__pte_inputs(pm, 1, &x);
	infd__pte_outputs(pm, 1, &y);
	infd__pte_call(pm, "aten::add", "out", 5, (const int32_t[]){x, x, one, t, t});
	infd__pte_call(pm, "aten::mul", "out", 4, (const int32_t[]){t, x, y, y});
	return finish(w);
}

Test(executor, device_preference_lists_choose_the_backend)
{
	struct infd_program *p = add_mul_program();
	struct infd_runtime *rt = rt_new();
	struct lane_be lb = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cr_assert_eq(infd__runtime_add_backend(rt, (struct infd_backend){.ops = &lane_ops, .ctx = &lb}), INFD_OK);
	cr_assert_str_eq(rt->kinds[0], "gpu", "the kind comes from the backend's probe");
	static const struct {
		const char *devices[3];
		uint32_t n;
		const char *add_on;
	} cases[] = {
	    {{NULL}, 0, "lanegpu"},                  /* no list: runtime order */
	    {{"cpu"}, 1, "portable"},                /* by kind */
	    {{"gpu", "cpu"}, 2, "lanegpu"},          /* by kind, preferred first */
	    {{"portable", "lanegpu"}, 2, "portable"}, /* by name, order matters */
	    {{"npu"}, 1, "portable"},                /* nothing matches: portable remains */
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct infd_method_options opt = {.devices = cases[c].n ? cases[c].devices : NULL, .n_devices = cases[c].n};
		struct infd_method *m = load_ok(rt, p, "forward", &opt);
		cr_assert_str_eq(infd__method_placement(m, 0, 0), cases[c].add_on, "case %zu", c);
		cr_assert_str_eq(infd__method_placement(m, 0, 1), "portable", "case %zu", c);
		set_f32(m, 0, 1, (const int32_t[]){4}, (const float[]){1, 2, -3, 0.5f}, 4);
		execute_ok(m);
		expect_f32(out_tensor(m, 0), (const float[]){2, 8, 18, 0.5f}, 4);
		infd__method_free(m);
	}
	infd__program_close(p);
	infd__runtime_destroy(rt);
}

struct lane_caller {
	struct infd_runtime *rt;
	const struct infd_program *p;
	int runs;
	bool ok;
	pthread_t self;
};

static void *lane_caller_main(void *arg)
{
	struct lane_caller *c = arg;
	struct infd_error e = {0};
	struct infd_method *m;
	c->self = pthread_self();
	c->ok = infd__method_load(c->rt, c->p, "forward", NULL, &m, &e) == INFD_OK;
	for (int r = 0; r < c->runs && c->ok; r++) {
		float x[4] = {(float)r, 1, 2, 3};
		c->ok = infd__method_set_input_tensor(m, 0, INFD_DTYPE_FLOAT32, 1, (const int32_t[]){4}, x, sizeof x, &e) ==
				INFD_OK &&
			infd__method_execute(m, &e) == INFD_OK;
		const float *y = infd__method_output(m, 0)->u.t->data;
		for (int k = 0; k < 4 && c->ok; k++)
			c->ok = y[k] == 2 * x[k] * x[k];
	}
	if (c->ok)
		infd__method_free(m);
	return NULL;
}

Test(executor, a_lane_backend_runs_every_partition_on_its_own_thread)
{
	struct infd_program *p = add_mul_program();
	struct infd_runtime *rt = rt_new();
	struct lane_be lb = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cr_assert_eq(infd__runtime_add_backend(rt, (struct infd_backend){.ops = &lane_ops, .ctx = &lb}), INFD_OK);
	cr_assert_not_null(rt->lanes[0], "a backend with own_lane gets a worker");
	cr_assert_null(rt->lanes[1], "the portable kernels run on the caller's thread");
	struct lane_caller callers[4];
	for (int i = 0; i < 4; i++) {
		callers[i] = (struct lane_caller){.rt = rt, .p = p, .runs = 200};
		cr_assert_eq(pthread_create(&callers[i].self, NULL, lane_caller_main, &callers[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(callers[i].self, NULL);
		cr_assert(callers[i].ok, "caller %d got a wrong result or an error", i);
	}
	cr_assert_eq(lb.executed, 800);
	cr_assert_eq(lb.n_threads, 1, "every partition of the device ran on one thread, saw %u", lb.n_threads);
	for (int i = 0; i < 4; i++)
		cr_assert(!pthread_equal(lb.threads[0], callers[i].self), "the lane is not a caller's thread");
	struct infd_lane_stats st;
	infd__lane_stats(rt->lanes[0], &st);
	cr_assert_eq(st.runs, 800);
	cr_assert_eq(st.queued, 0);
	cr_assert(st.max_queued >= 1 && st.max_queued <= 4, "max queued %u", st.max_queued);
	infd__program_close(p);
	infd__runtime_destroy(rt);
}
