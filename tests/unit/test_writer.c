/* Tests of the .pte / .bpte writers: byte-level container facts (identifier,
 * eh00 header, segment alignment, deduplication) and round trips through the
 * program and bundled readers that check every decoded field. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common.h"
#include "runtime/bundled.h"
#include "runtime/program.h"
#include "runtime/pte_writer.h"

#define LEAF "{\"type\": null, \"context\": null, \"children_spec\": []}"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static struct infd_pte_writer *new_writer(bool legacy, bool inline_delegates)
{
	struct infd_pte_writer_options o;
	infd__pte_writer_options_default(&o);
	o.legacy_inline_constants = legacy;
	o.inline_delegates = inline_delegates;
	struct infd_pte_writer *w = infd__pte_writer_create(&o);
	cr_assert_not_null(w);
	return w;
}

/* Finish (checking success) and destroy the writer. */
static uint8_t *finish(struct infd_pte_writer *w, size_t *size)
{
	uint8_t *data = NULL;
	struct infd_error err = {0};
	infd_status st = infd__pte_writer_finish(w, &data, size, &err);
	cr_assert_eq(st, INFD_OK, "finish failed: %s", err.msg);
	cr_assert_eq((uintptr_t)data % 16, 0);
	infd__pte_writer_destroy(w);
	return data;
}

static struct infd_program *parse(const uint8_t *data, size_t size)
{
	struct infd_program *p = NULL;
	struct infd_error err = {0};
	infd_status st = infd__program_parse(data, size, &p, &err);
	cr_assert_eq(st, INFD_OK, "reader rejected the writer's output: %s", err.msg);
	return p;
}

/* Expect finish to fail with INVALID_ARGUMENT and a message containing `needle`. */
static void expect_invalid(struct infd_pte_writer *w, const char *needle)
{
	uint8_t *data = NULL;
	size_t size = 0;
	struct infd_error err = {0};
	cr_assert_eq(infd__pte_writer_finish(w, &data, &size, &err), INFD_INVALID_ARGUMENT,
		     "expected INVALID_ARGUMENT (%s), got: %s", needle, err.msg);
	cr_assert_null(data);
	cr_assert(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
	infd__pte_writer_destroy(w);
}

/* Memory occurrences of `needle`. */
static int count_bytes(const uint8_t *hay, size_t n, const void *needle, size_t len)
{
	int c = 0;
	for (size_t i = 0; i + len <= n; i++)
		c += !memcmp(hay + i, needle, len);
	return c;
}

/* forward(x, y) = x + y on float [2], as add.pte does it. */
static struct infd_pte_method *add_method(struct infd_pte_writer *w, const char *name)
{
	struct infd_pte_method *m = infd__pte_method(w, name);
	int32_t sizes[] = {2};
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, sizes);
	int32_t y = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, sizes);
	int32_t z = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, sizes);
	int32_t alpha = infd__pte_int(m, 1);
	int32_t args[] = {x, y, alpha, z, z};
	cr_assert_eq(infd__pte_call(m, "aten::add", "out", 5, args), 0);
	int32_t in[] = {x, y};
	infd__pte_inputs(m, 2, in);
	infd__pte_outputs(m, 1, &z);
	return m;
}

static const struct infd_tensor_def *tensor_at(const struct infd_method_def *m, int32_t v)
{
	cr_assert(v >= 0 && (uint32_t)v < m->n_values);
	cr_assert_eq(m->values[v].kind, INFD_VALUE_TENSOR, "value %d is not a tensor", v);
	return m->values[v].u.tensor;
}

Test(writer, layout_a_without_constants)
{
	struct infd_pte_writer *w = new_writer(false, false);
	add_method(w, "forward");
	size_t size;
	uint8_t *data = finish(w, &size);

	cr_assert_eq(memcmp(data + 4, "ET12", 4), 0);
	cr_assert_neq(memcmp(data + 8, "eh00", 4), 0, "no segment data: no extended header");
	cr_assert(rd32(data) >= 8 && rd32(data) <= size - 4 && rd32(data) % 4 == 0);

	struct infd_program *p = parse(data, size);
	cr_assert_not(p->has_ext_header);
	cr_assert_eq(p->segment_base_offset, 0);
	cr_assert_eq(p->n_segments, 1, "the (empty) constant segment always exists");
	cr_assert_leq(p->n_constants, 1);
	cr_assert_eq(p->n_methods, 1);
	const struct infd_method_def *m = infd__program_method(p, "forward");
	cr_assert_not_null(m);
	cr_assert_str_eq(m->encoded_inp_str,
			 "[1, {\"type\": \"builtins.tuple\", \"context\": \"null\", \"children_spec\": "
			 "[{\"type\": \"builtins.tuple\", \"context\": \"null\", \"children_spec\": "
			 "[" LEAF ", " LEAF "]}, {\"type\": \"builtins.dict\", \"context\": \"[]\", "
			 "\"children_spec\": []}]}]");
	cr_assert_str_eq(m->encoded_out_str, "[1, " LEAF "]");
	cr_assert_eq(m->n_values, 4);
	for (int32_t v = 0; v < 3; v++) {
		const struct infd_tensor_def *t = tensor_at(m, v);
		cr_assert_eq(t->dtype, INFD_DTYPE_FLOAT32);
		cr_assert_eq(t->rank, 1);
		cr_assert_eq(t->sizes[0], 2);
		cr_assert_eq(t->dim_order[0], 0);
		cr_assert_eq(t->storage, INFD_STORAGE_PLANNED);
		cr_assert_eq(t->memory_id, 1);
		cr_assert_eq(t->memory_offset, 16 * (uint64_t)v);
		cr_assert_eq(t->nbytes, 8);
	}
	cr_assert_eq(m->values[3].kind, INFD_VALUE_INT);
	cr_assert_eq(m->values[3].u.i, 1);
	cr_assert_eq(m->n_buffers, 1);
	cr_assert_eq(m->buffer_sizes[0], 40);
	cr_assert_eq(m->n_inputs, 2);
	cr_assert_eq(m->inputs[0], 0);
	cr_assert_eq(m->inputs[1], 1);
	cr_assert_eq(m->n_outputs, 1);
	cr_assert_eq(m->outputs[0], 2);
	cr_assert_eq(m->n_operators, 1);
	cr_assert_str_eq(m->operators[0].name, "aten::add");
	cr_assert_str_eq(m->operators[0].overload, "out");
	cr_assert_str_eq(m->operators[0].key, "aten::add.out");
	cr_assert_eq(m->n_delegates, 0);
	cr_assert_eq(m->n_chains, 1);
	cr_assert_eq(m->chains[0].n_instrs, 1);
	const struct infd_instr_def *in = &m->chains[0].instrs[0];
	cr_assert_eq(in->kind, INFD_INSTR_KERNEL);
	cr_assert_eq(in->a, 0);
	int32_t want[] = {0, 1, 3, 2, 2};
	cr_assert_eq(in->n_args, 5);
	cr_assert_arr_eq(in->args, want, sizeof want);
	infd__program_close(p);
	free(data);
}

Test(writer, constant_segment_layout_b)
{
	struct infd_pte_writer *w = new_writer(false, false);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t s1[] = {1}, s5[] = {5}, s2[] = {2};
	float a[1] = {3.0f}, b[5] = {1, 2, 3, 4, 5};
	int32_t c[2] = {-7, 9};
	int32_t ta = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 1, s1, a);
	int32_t tb = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 1, s5, b);
	int32_t tc = infd__pte_const_tensor(m, INFD_DTYPE_INT32, 1, s2, c);
	/* a second tensor over constant 2 with another shape */
	struct infd_pte_tensor shared = {.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s2, .constant = 2};
	int32_t td = infd__pte_tensor(m, &shared);
	infd__pte_outputs(m, 1, &tc);
	size_t size;
	uint8_t *data = finish(w, &size);

	/* eh00 header (pte-format §3.3) */
	cr_assert_eq(memcmp(data + 4, "ET12", 4), 0);
	cr_assert_eq(memcmp(data + 8, "eh00", 4), 0);
	cr_assert_eq(rd32(data + 12), 32);
	uint64_t program_size = rd64(data + 16), base = rd64(data + 24), seg_size = rd64(data + 32);
	cr_assert_eq(base % 128, 0);
	cr_assert(base >= program_size && base < program_size + 128);
	cr_assert_eq(size, base + seg_size, "file ends at the end of the segment data");
	/* constants at 0, 16, 48; the last one unpadded */
	cr_assert_eq(seg_size, 48 + 8);
	cr_assert_eq(memcmp(data + base, a, 4), 0);
	cr_assert_eq(memcmp(data + base + 16, b, 20), 0);
	cr_assert_eq(memcmp(data + base + 48, c, 8), 0);
	cr_assert(rd32(data) >= 40 && rd32(data) < program_size);

	struct infd_program *p = parse(data, size);
	cr_assert(p->has_ext_header);
	cr_assert_eq(p->program_size, program_size);
	cr_assert_eq(p->segment_base_offset, base);
	cr_assert_eq(p->segment_data_size, seg_size);
	cr_assert_not(p->constants_legacy);
	cr_assert_eq(p->n_constants, 4);
	cr_assert_eq(p->constants[1], data + base);
	cr_assert_eq(p->constants[2], data + base + 16);
	cr_assert_eq(p->constants[3], data + base + 48);
	const struct infd_method_def *md = &p->methods[0];
	const struct infd_tensor_def *t = tensor_at(md, ta);
	cr_assert_eq(t->storage, INFD_STORAGE_CONSTANT);
	cr_assert_eq(t->data_buffer_idx, 1);
	cr_assert_eq(memcmp(t->data, a, 4), 0);
	t = tensor_at(md, tb);
	cr_assert_eq(t->data_buffer_idx, 2);
	cr_assert_eq(t->nbytes, 20);
	cr_assert_eq(memcmp(t->data, b, 20), 0);
	t = tensor_at(md, tc);
	cr_assert_eq(t->dtype, INFD_DTYPE_INT32);
	cr_assert_eq(memcmp(t->data, c, 8), 0);
	t = tensor_at(md, td);
	cr_assert_eq(t->data_buffer_idx, 2);
	cr_assert_eq(memcmp(t->data, b, 8), 0);
	cr_assert_eq(md->n_buffers, 0);
	cr_assert_str_eq(md->encoded_inp_str, "");
	infd__program_close(p);
	free(data);
}

Test(writer, legacy_inline_constants_layout_a)
{
	struct infd_pte_writer *w = new_writer(true, false);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t s[] = {2, 2};
	float three[4] = {3, 3, 3, 3}, two[4] = {2, 2, 2, 2};
	int32_t c3 = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 2, s, three);
	int32_t c2 = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 2, s, two);
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s);
	int32_t t = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s);
	int32_t one = infd__pte_int(m, 1);
	int32_t mul[] = {c3, x, t, t}, add[] = {t, c2, one, x, x};
	infd__pte_call(m, "aten::mul", "out", 4, mul);
	infd__pte_call(m, "aten::add", "out", 5, add);
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &x);
	size_t size;
	uint8_t *data = finish(w, &size);

	cr_assert_neq(memcmp(data + 8, "eh00", 4), 0, "legacy constants need no header");
	struct infd_program *p = parse(data, size);
	cr_assert_not(p->has_ext_header);
	cr_assert(p->constants_legacy);
	cr_assert_eq(p->n_constants, 3);
	cr_assert_eq(p->n_segments, 0);
	for (int k = 1; k <= 2; k++) {
		cr_assert((p->constants[k] - data) % 16 == 0, "Buffer.storage is 16-aligned");
		cr_assert(p->constants[k] >= data && p->constants[k] + 16 <= data + size);
	}
	const struct infd_method_def *md = &p->methods[0];
	cr_assert_eq(memcmp(tensor_at(md, c3)->data, three, 16), 0);
	cr_assert_eq(memcmp(tensor_at(md, c2)->data, two, 16), 0);
	cr_assert_eq(tensor_at(md, c3)->storage, INFD_STORAGE_CONSTANT);
	cr_assert_eq(md->n_operators, 2);
	cr_assert_str_eq(md->operators[0].key, "aten::mul.out");
	cr_assert_str_eq(md->operators[1].key, "aten::add.out");
	cr_assert_eq(md->chains[0].instrs[1].a, 1);
	cr_assert_eq(md->buffer_sizes[0], 32);
	infd__program_close(p);
	free(data);
}

Test(writer, every_value_kind)
{
	struct infd_pte_writer *w = new_writer(false, false);
	struct infd_pte_method *m = infd__pte_method(w, "kinds");
	int32_t s3[] = {3};
	int32_t vnull = infd__pte_null(m);
	int32_t vint = infd__pte_int(m, INT64_MIN + 5);
	int32_t vzero = infd__pte_int(m, 0);
	int32_t vtrue = infd__pte_bool(m, true);
	int32_t vfalse = infd__pte_bool(m, false);
	int32_t vdbl = infd__pte_double(m, -2.75e100);
	int32_t vnz = infd__pte_double(m, -0.0);
	int32_t vstr = infd__pte_string(m, "torch.uint8");
	int32_t vempty = infd__pte_string(m, "");
	int64_t ints[] = {2, -3, INT64_MAX};
	int32_t vil = infd__pte_int_list(m, 3, ints);
	double dbls[] = {1.5, NAN, -INFINITY};
	int32_t vdl = infd__pte_double_list(m, 3, dbls);
	bool bools[] = {true, false, true, true};
	int32_t vbl = infd__pte_bool_list(m, 4, bools);
	int32_t t0 = infd__pte_planned(m, INFD_DTYPE_INT64, 1, s3);
	int32_t t1 = infd__pte_planned(m, INFD_DTYPE_UINT8, 0, NULL);
	int32_t tl_items[] = {t0, t1, t0};
	int32_t vtl = infd__pte_tensor_list(m, 3, tl_items);
	int32_t otl_items[] = {t1, -1, vnull};
	int32_t votl = infd__pte_opt_tensor_list(m, 3, otl_items);
	int32_t vel = infd__pte_int_list(m, 0, NULL);
	int32_t outs[] = {vnull, vint, vtrue, vdbl, vstr};
	infd__pte_outputs(m, 5, outs);
	int32_t ins[] = {vstr, t0};
	infd__pte_inputs(m, 2, ins);
	size_t size;
	uint8_t *data = finish(w, &size);

	struct infd_program *p = parse(data, size);
	const struct infd_method_def *md = infd__program_method(p, "kinds");
	cr_assert_not_null(md);
	cr_assert_eq(md->n_values, (uint32_t)vel + 1);
	cr_assert_eq(md->values[vnull].kind, INFD_VALUE_NULL);
	cr_assert_eq(md->values[vint].kind, INFD_VALUE_INT);
	cr_assert_eq(md->values[vint].u.i, INT64_MIN + 5);
	cr_assert_eq(md->values[vzero].u.i, 0);
	cr_assert_eq(md->values[vtrue].kind, INFD_VALUE_BOOL);
	cr_assert(md->values[vtrue].u.b);
	cr_assert_not(md->values[vfalse].u.b);
	cr_assert_eq(md->values[vdbl].kind, INFD_VALUE_DOUBLE);
	cr_assert_eq(md->values[vdbl].u.d, -2.75e100);
	cr_assert(md->values[vnz].u.d == 0 && signbit(md->values[vnz].u.d), "-0.0 keeps its sign");
	cr_assert_eq(md->values[vstr].kind, INFD_VALUE_STRING);
	cr_assert_str_eq(md->values[vstr].u.str.ptr, "torch.uint8");
	cr_assert_eq(md->values[vstr].u.str.len, 11);
	cr_assert_str_eq(md->values[vempty].u.str.ptr, "");

	const struct infd_list_def *l = &md->values[vil].u.list;
	cr_assert_eq(md->values[vil].kind, INFD_VALUE_INT_LIST);
	cr_assert_eq(l->count, 3);
	for (uint32_t i = 0; i < 3; i++) {
		int32_t boxed = l->indices[i];
		cr_assert(boxed < vil, "list members precede the list");
		cr_assert_eq(md->values[boxed].kind, INFD_VALUE_INT);
		cr_assert_eq(md->values[boxed].u.i, ints[i]);
	}
	l = &md->values[vdl].u.list;
	cr_assert_eq(md->values[vdl].kind, INFD_VALUE_DOUBLE_LIST);
	cr_assert_eq(l->count, 3);
	cr_assert_eq(l->doubles[0], 1.5);
	cr_assert(isnan(l->doubles[1]));
	cr_assert(isinf(l->doubles[2]) && l->doubles[2] < 0);
	l = &md->values[vbl].u.list;
	cr_assert_eq(md->values[vbl].kind, INFD_VALUE_BOOL_LIST);
	cr_assert_eq(l->count, 4);
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(l->bools[i], bools[i]);
	l = &md->values[vtl].u.list;
	cr_assert_eq(md->values[vtl].kind, INFD_VALUE_TENSOR_LIST);
	cr_assert_eq(l->count, 3);
	cr_assert_arr_eq(l->indices, tl_items, sizeof tl_items);
	l = &md->values[votl].u.list;
	cr_assert_eq(md->values[votl].kind, INFD_VALUE_OPT_TENSOR_LIST);
	cr_assert_eq(l->count, 3);
	cr_assert_arr_eq(l->indices, otl_items, sizeof otl_items);
	cr_assert_eq(md->values[vel].kind, INFD_VALUE_INT_LIST);
	cr_assert_eq(md->values[vel].u.list.count, 0);

	const struct infd_tensor_def *t = tensor_at(md, t1);
	cr_assert_eq(t->rank, 0);
	cr_assert_eq(t->dtype, INFD_DTYPE_UINT8);
	cr_assert_eq(t->nbytes, 1);
	cr_assert_eq(t->memory_offset, 32, "24 bytes of int64 [3], then the next 16-byte slot");
	cr_assert_eq(md->buffer_sizes[0], 33);
	cr_assert_eq(md->n_outputs, 5);
	cr_assert_arr_eq(md->outputs, outs, sizeof outs);
	cr_assert_arr_eq(md->inputs, ins, sizeof ins);
	cr_assert_str_eq(md->encoded_out_str,
			 "[1, {\"type\": \"builtins.tuple\", \"context\": \"null\", \"children_spec\": [" LEAF ", " LEAF
			 ", " LEAF ", " LEAF ", " LEAF "]}]");
	cr_assert_eq(md->n_chains, 1);
	cr_assert_eq(md->chains[0].n_instrs, 0);
	cr_assert_eq(md->n_operators, 0);
	infd__program_close(p);
	free(data);
}

Test(writer, planned_tensors_and_64bit_offsets)
{
	struct infd_pte_writer *w = new_writer(false, false);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t s[] = {1, 3, 4, 2}, s2[] = {8};
	uint8_t nhwc[] = {0, 2, 3, 1};
	struct infd_pte_tensor far = {
	    .dtype = INFD_DTYPE_FLOAT16,
	    .rank = 4,
	    .sizes = s,
	    .dim_order = nhwc,
	    .dynamism = INFD_SHAPE_DYNAMIC_BOUND,
	    .memory_id = 2,
	    .memory_offset = UINT64_C(0x300000040),
	    .fqn = "layers.0.cache",
	};
	int32_t tf = infd__pte_tensor(m, &far);
	struct infd_pte_tensor unplanned = {.dtype = INFD_DTYPE_BOOL, .rank = 1, .sizes = s2};
	int32_t tu = infd__pte_tensor(m, &unplanned);
	infd__pte_arena(m, 1, 1000);
	int32_t tp = infd__pte_planned(m, INFD_DTYPE_INT32, 1, s2);
	infd__pte_arena(m, 4, 0);
	infd__pte_inputs(m, 1, &tu);
	infd__pte_outputs(m, 1, &tf);
	size_t size;
	uint8_t *data = finish(w, &size);

	struct infd_program *p = parse(data, size);
	const struct infd_method_def *md = &p->methods[0];
	cr_assert_eq(md->n_buffers, 4);
	cr_assert_eq(md->buffer_sizes[0], 1000, "declared size wins when larger");
	cr_assert_eq(md->buffer_sizes[1], UINT64_C(0x300000040) + 48);
	cr_assert_eq(md->buffer_sizes[2], 0);
	cr_assert_eq(md->buffer_sizes[3], 0);
	const struct infd_tensor_def *t = tensor_at(md, tf);
	cr_assert_eq(t->storage, INFD_STORAGE_PLANNED);
	cr_assert_eq(t->memory_id, 2);
	cr_assert_eq(t->memory_offset, UINT64_C(0x300000040));
	cr_assert_eq(t->dtype, INFD_DTYPE_FLOAT16);
	cr_assert_eq(t->dynamism, INFD_SHAPE_DYNAMIC_BOUND);
	cr_assert_eq(t->rank, 4);
	cr_assert_arr_eq(t->sizes, s, sizeof s);
	cr_assert_arr_eq(t->dim_order, nhwc, sizeof nhwc);
	cr_assert_eq(t->numel, 24);
	cr_assert_eq(t->nbytes, 48);
	cr_assert_not_null(t->fqn);
	cr_assert_str_eq(t->fqn, "layers.0.cache");
	t = tensor_at(md, tu);
	cr_assert_eq(t->storage, INFD_STORAGE_NONE);
	cr_assert_eq(t->dynamism, INFD_SHAPE_STATIC);
	cr_assert_null(t->fqn);
	t = tensor_at(md, tp);
	cr_assert_eq(t->memory_id, 1);
	cr_assert_eq(t->memory_offset, 0);
	infd__program_close(p);
	free(data);
}

Test(writer, mutable_data_segment)
{
	struct infd_pte_writer *w = new_writer(false, false);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	float k[3] = {1, 2, 3};
	int16_t v[5] = {-1, 2, -3, 4, -5};
	float c[1] = {42};
	uint32_t c1 = infd__pte_constant(w, c, sizeof c);
	uint32_t m1 = infd__pte_mutable(w, k, sizeof k);
	uint32_t m2 = infd__pte_mutable(w, v, sizeof v);
	cr_assert_eq(c1, 1);
	cr_assert_eq(m1, 1);
	cr_assert_eq(m2, 2);
	int32_t s3[] = {3}, s5[] = {5}, s1[] = {1};
	struct infd_pte_tensor tk = {.dtype = INFD_DTYPE_FLOAT32,
				     .rank = 1,
				     .sizes = s3,
				     .mutable_data = m1,
				     .memory_id = 1,
				     .memory_offset = 0};
	struct infd_pte_tensor tv = {
	    .dtype = INFD_DTYPE_INT16, .rank = 1, .sizes = s5, .mutable_data = m2, .memory_id = 1, .memory_offset = 16};
	struct infd_pte_tensor tc = {.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s1, .constant = c1};
	int32_t ik = infd__pte_tensor(m, &tk), iv = infd__pte_tensor(m, &tv), ic = infd__pte_tensor(m, &tc);
	infd__pte_outputs(m, 1, &ik);
	size_t size;
	uint8_t *data = finish(w, &size);

	uint64_t base = rd64(data + 24);
	cr_assert_eq(size, base + rd64(data + 32));
	/* segment 0 = constants (4 bytes) at 0, segment 1 = mutable data at 128, unpadded */
	cr_assert_eq(memcmp(data + base, c, 4), 0);
	cr_assert_eq(memcmp(data + base + 128, k, 12), 0);
	cr_assert_eq(memcmp(data + base + 140, v, 10), 0);
	cr_assert_eq(size, base + 150);

	struct infd_program *p = parse(data, size);
	cr_assert_eq(p->n_segments, 2);
	cr_assert_eq(p->n_mutable, 3);
	cr_assert_eq(p->mutable_data[1], data + base + 128);
	cr_assert_eq(p->mutable_data[2], data + base + 140);
	const struct infd_method_def *md = &p->methods[0];
	const struct infd_tensor_def *t = tensor_at(md, ik);
	cr_assert_eq(t->storage, INFD_STORAGE_PLANNED);
	cr_assert_eq(t->data_buffer_idx, 1);
	cr_assert_not_null(t->data);
	cr_assert_eq(memcmp(t->data, k, 12), 0);
	t = tensor_at(md, iv);
	cr_assert_eq(t->memory_offset, 16);
	cr_assert_eq(memcmp(t->data, v, 10), 0);
	t = tensor_at(md, ic);
	cr_assert_eq(t->storage, INFD_STORAGE_CONSTANT);
	cr_assert_eq(memcmp(t->data, c, 4), 0);
	cr_assert_eq(md->buffer_sizes[0], 26);
	infd__program_close(p);
	free(data);
}

Test(writer, mutable_data_with_legacy_constants_needs_header)
{
	struct infd_pte_writer *w = new_writer(true, false);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t s[] = {2};
	int32_t c[2] = {5, 6}, init[2] = {7, 8};
	int32_t tc = infd__pte_const_tensor(m, INFD_DTYPE_INT32, 1, s, c);
	struct infd_pte_tensor tm = {.dtype = INFD_DTYPE_INT32,
				     .rank = 1,
				     .sizes = s,
				     .memory_id = 1,
				     .mutable_data = infd__pte_mutable(w, init, sizeof init)};
	int32_t im = infd__pte_tensor(m, &tm);
	infd__pte_outputs(m, 1, &im);
	size_t size;
	uint8_t *data = finish(w, &size);

	cr_assert_eq(memcmp(data + 8, "eh00", 4), 0);
	struct infd_program *p = parse(data, size);
	cr_assert(p->constants_legacy);
	cr_assert_eq(p->n_segments, 1, "only the mutable-data segment");
	const struct infd_method_def *md = &p->methods[0];
	cr_assert_eq(memcmp(tensor_at(md, tc)->data, c, 8), 0);
	cr_assert_eq(memcmp(tensor_at(md, im)->data, init, 8), 0);
	cr_assert_eq(tensor_at(md, im)->data, data + p->segment_base_offset);
	infd__program_close(p);
	free(data);
}

/* Two methods using delegates; payload "AAAA..." is used three times. */
static void delegate_program(struct infd_pte_writer *w, const uint8_t *pa, size_t na, const uint8_t *pb, size_t nb)
{
	struct infd_pte_compile_spec specs[] = {
	    {.key = "qnn_compile_spec", .value = "\x01\x02\x03", .size = 3},
	    {.key = "empty", .value = NULL, .size = 0},
	};
	int32_t s[] = {4};
	for (int i = 0; i < 2; i++) {
		struct infd_pte_method *m = infd__pte_method(w, i ? "prefill" : "decode");
		int32_t x =
		    infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s});
		int32_t y =
		    infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s});
		int32_t d0 = infd__pte_delegate(m, "QnnBackend", pa, na, 2, specs);
		int32_t d1 = infd__pte_delegate(m, "XnnpackBackend", i ? pa : pb, i ? na : nb, 0, NULL);
		int32_t d2 = infd__pte_delegate(m, "EmptyBackend", NULL, 0, 0, NULL);
		cr_assert_eq(d0, 0);
		cr_assert_eq(d2, 2);
		int32_t args[] = {x, y};
		cr_assert_eq(infd__pte_delegate_call(m, d0, 2, args), 0);
		cr_assert_eq(infd__pte_delegate_call(m, d1, 2, args), 1);
		infd__pte_inputs(m, 1, &x);
		infd__pte_outputs(m, 1, &y);
	}
}

static void check_delegates(const struct infd_program *p, const uint8_t *pa, size_t na, const uint8_t *pb, size_t nb,
			    bool inline_data)
{
	const struct infd_method_def *dec = infd__program_method(p, "decode");
	const struct infd_method_def *pre = infd__program_method(p, "prefill");
	cr_assert(dec && pre);
	cr_assert_eq(dec->n_delegates, 3);
	const struct infd_delegate_def *d = &dec->delegates[0];
	cr_assert_str_eq(d->id, "QnnBackend");
	cr_assert_eq(d->inline_data, inline_data);
	cr_assert_eq(d->payload_size, na);
	cr_assert_eq(memcmp(d->payload, pa, na), 0);
	cr_assert_eq(d->n_specs, 2);
	cr_assert_str_eq(d->specs[0].key, "qnn_compile_spec");
	cr_assert_eq(d->specs[0].size, 3);
	cr_assert_eq(memcmp(d->specs[0].value, "\x01\x02\x03", 3), 0);
	cr_assert_str_eq(d->specs[1].key, "empty");
	cr_assert_eq(d->specs[1].size, 0);
	d = &dec->delegates[1];
	cr_assert_str_eq(d->id, "XnnpackBackend");
	cr_assert_eq(d->payload_size, nb);
	cr_assert_eq(memcmp(d->payload, pb, nb), 0);
	cr_assert_eq(d->n_specs, 0);
	cr_assert_eq(dec->delegates[2].payload_size, 0);
	cr_assert(dec->delegates[2].inline_data, "empty payloads stay inline");
	/* the same bytes everywhere payload A is used */
	cr_assert_eq(pre->delegates[0].payload, dec->delegates[0].payload);
	cr_assert_eq(pre->delegates[1].payload, dec->delegates[0].payload);
	cr_assert_eq(pre->delegates[1].data_index, dec->delegates[0].data_index);
	const struct infd_instr_def *in = &pre->chains[0].instrs[1];
	cr_assert_eq(in->kind, INFD_INSTR_DELEGATE);
	cr_assert_eq(in->a, 1);
	cr_assert_eq(in->n_args, 2);
	cr_assert_eq(in->args[0], 0);
	cr_assert_eq(in->args[1], 1);
	if (inline_data)
		cr_assert_eq((d->payload - p->data) % 16, 0, "inline payload data is 16-aligned");
}

Test(writer, delegates_in_segments_deduplicated)
{
	uint8_t pa[300], pb[17];
	for (size_t i = 0; i < sizeof pa; i++)
		pa[i] = (uint8_t)(i * 7 + 1);
	memset(pb, 0xb5, sizeof pb);
	struct infd_pte_writer *w = new_writer(false, false);
	delegate_program(w, pa, sizeof pa, pb, sizeof pb);
	size_t size;
	uint8_t *data = finish(w, &size);

	cr_assert_eq(count_bytes(data, size, pa, sizeof pa), 1, "identical payloads are stored once");
	cr_assert_eq(count_bytes(data, size, pb, sizeof pb), 1);
	uint64_t base = rd64(data + 24);
	cr_assert_eq(memcmp(data + base, pa, sizeof pa), 0, "empty constant segment, then payload A");
	cr_assert_eq(memcmp(data + base + 384, pb, sizeof pb), 0, "payload B at the next 128 boundary");
	cr_assert_eq(size, base + 384 + sizeof pb);

	struct infd_program *p = parse(data, size);
	cr_assert_eq(p->n_segments, 3);
	check_delegates(p, pa, sizeof pa, pb, sizeof pb, false);
	const struct infd_method_def *dec = infd__program_method(p, "decode");
	cr_assert_eq(dec->delegates[0].data_index, 1);
	cr_assert_eq(dec->delegates[1].data_index, 2);
	cr_assert_eq(dec->delegates[0].payload, data + base);
	infd__program_close(p);
	free(data);
}

Test(writer, delegates_inline)
{
	uint8_t pa[33], pb[5] = {9, 8, 7, 6, 5};
	memset(pa, 0x5a, sizeof pa);
	struct infd_pte_writer *w = new_writer(false, true);
	delegate_program(w, pa, sizeof pa, pb, sizeof pb);
	size_t size;
	uint8_t *data = finish(w, &size);

	cr_assert_neq(memcmp(data + 8, "eh00", 4), 0, "everything inline: Layout A");
	cr_assert_eq(count_bytes(data, size, pa, sizeof pa), 1);
	struct infd_program *p = parse(data, size);
	check_delegates(p, pa, sizeof pa, pb, sizeof pb, true);
	cr_assert_eq(p->n_segments, 1);
	infd__program_close(p);
	free(data);
}

Test(writer, control_flow_instructions)
{
	struct infd_pte_writer *w = new_writer(false, false);
	struct infd_pte_method *m = infd__pte_method(w, "loop");
	int32_t s[] = {2};
	int32_t a = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s);
	int32_t b = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s);
	int32_t cond = infd__pte_bool(m, false);
	int32_t one = infd__pte_int(m, 1);
	int32_t args[] = {a, a, one, b, b};
	cr_assert_eq(infd__pte_jump_false(m, cond, 3), 0);
	cr_assert_eq(infd__pte_call(m, "aten::add", "out", 5, args), 1);
	cr_assert_eq(infd__pte_move(m, b, a), 2);
	cr_assert_eq(infd__pte_free(m, b), 3);
	cr_assert_eq(infd__pte_jump_false(m, cond, 5), 4, "a jump to the end of the chain");
	cr_assert_eq(infd__pte_operator(m, "aten::add", "out"), 0, "operators are deduplicated");
	cr_assert_eq(infd__pte_operator(m, "aten::sym_size", "int"), 1);
	cr_assert_eq(infd__pte_operator(m, "aten::add", NULL), 2);
	infd__pte_inputs(m, 1, &a);
	infd__pte_outputs(m, 1, &a);
	size_t size;
	uint8_t *data = finish(w, &size);

	struct infd_program *p = parse(data, size);
	const struct infd_method_def *md = &p->methods[0];
	const struct infd_instr_def *in = md->chains[0].instrs;
	cr_assert_eq(md->chains[0].n_instrs, 5);
	cr_assert_eq(in[0].kind, INFD_INSTR_JUMP_FALSE);
	cr_assert_eq(in[0].a, cond);
	cr_assert_eq(in[0].b, 3);
	cr_assert_eq(in[1].kind, INFD_INSTR_KERNEL);
	cr_assert_eq(in[2].kind, INFD_INSTR_MOVE);
	cr_assert_eq(in[2].a, b);
	cr_assert_eq(in[2].b, a);
	cr_assert_eq(in[3].kind, INFD_INSTR_FREE);
	cr_assert_eq(in[3].a, b);
	cr_assert_eq(in[4].b, 5);
	cr_assert_eq(md->n_operators, 3);
	cr_assert_str_eq(md->operators[1].key, "aten::sym_size.int");
	cr_assert_str_eq(md->operators[2].overload, "");
	cr_assert_str_eq(md->operators[2].key, "aten::add");
	infd__program_close(p);
	free(data);
}

Test(writer, several_methods)
{
	struct infd_pte_writer *w = new_writer(false, false);
	add_method(w, "forward");
	struct infd_pte_method *g = infd__pte_method(w, "get_vocab_size");
	int32_t v = infd__pte_int(g, 512);
	infd__pte_outputs(g, 1, &v);
	struct infd_pte_method *h = infd__pte_method(w, "get_attrs");
	int32_t outs[] = {infd__pte_double(h, 0.25), infd__pte_int(h, 128), infd__pte_string(h, "torch.uint8")};
	infd__pte_outputs(h, 3, outs);
	add_method(w, "forward2");
	size_t size;
	uint8_t *data = finish(w, &size);

	struct infd_program *p = parse(data, size);
	cr_assert_eq(p->n_methods, 4);
	cr_assert_str_eq(p->methods[0].name, "forward");
	cr_assert_str_eq(p->methods[1].name, "get_vocab_size");
	cr_assert_str_eq(p->methods[2].name, "get_attrs");
	cr_assert_str_eq(p->methods[3].name, "forward2");
	const struct infd_method_def *md = infd__program_method(p, "get_vocab_size");
	cr_assert_eq(md->n_buffers, 0, "non_const_buffer_sizes = [0]");
	cr_assert_eq(md->n_inputs, 0);
	cr_assert_eq(md->values[md->outputs[0]].u.i, 512);
	cr_assert_eq(md->chains[0].n_instrs, 0);
	md = infd__program_method(p, "get_attrs");
	cr_assert_eq(md->values[md->outputs[0]].u.d, 0.25);
	cr_assert_str_eq(md->values[md->outputs[2]].u.str.ptr, "torch.uint8");
	cr_assert_null(infd__program_method(p, "missing"));
	cr_assert_eq(infd__program_method(p, "forward2")->n_values, 4);
	infd__program_close(p);
	free(data);
}

Test(writer, custom_alignments)
{
	struct infd_pte_writer_options o;
	infd__pte_writer_options_default(&o);
	o.tensor_alignment = 64;
	o.segment_alignment = 256;
	struct infd_pte_writer *w = infd__pte_writer_create(&o);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	uint8_t c1[3] = {1, 2, 3}, c2[70], c3[1] = {9};
	memset(c2, 0x77, sizeof c2);
	int32_t s3[] = {3}, s70[] = {70}, s1[] = {1};
	int32_t t1 = infd__pte_const_tensor(m, INFD_DTYPE_UINT8, 1, s3, c1);
	int32_t t2 = infd__pte_const_tensor(m, INFD_DTYPE_UINT8, 1, s70, c2);
	int32_t t3 = infd__pte_const_tensor(m, INFD_DTYPE_UINT8, 1, s1, c3);
	uint8_t payload[10] = {0};
	infd__pte_delegate(m, "X", payload, sizeof payload, 0, NULL);
	infd__pte_outputs(m, 1, &t3);
	size_t size;
	uint8_t *data = finish(w, &size);

	cr_assert_eq(memcmp(data + 8, "eh00", 4), 0);
	for (int i = 40; i < 8 + 64; i++)
		cr_assert_eq(data[i], 0, "header padded to H = 64");
	uint64_t base = rd64(data + 24);
	cr_assert_eq(base % 256, 0);
	cr_assert(base >= rd64(data + 16) && base < rd64(data + 16) + 256);
	cr_assert_eq(memcmp(data + base + 64, c2, 70), 0);
	cr_assert_eq(data[base + 192], 9);
	cr_assert_eq(memcmp(data + base + 256, payload, sizeof payload), 0);
	cr_assert_eq(size, base + 256 + sizeof payload);

	struct infd_program *p = parse(data, size);
	const struct infd_method_def *md = &p->methods[0];
	cr_assert_eq(memcmp(tensor_at(md, t1)->data, c1, 3), 0);
	cr_assert_eq(memcmp(tensor_at(md, t2)->data, c2, 70), 0);
	cr_assert_eq(tensor_at(md, t3)->data, data + base + 192);
	cr_assert_eq(md->delegates[0].payload, data + base + 256);
	infd__program_close(p);
	free(data);
}

Test(writer, save_matches_finish)
{
	struct infd_pte_writer *w = new_writer(false, false);
	add_method(w, "forward");
	char path[] = "/tmp/infd_writer_XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	struct infd_error err = {0};
	cr_assert_eq(infd__pte_writer_save(w, path, &err), INFD_OK, "%s", err.msg);
	size_t size, fsize;
	uint8_t *data = finish(w, &size);
	uint8_t *file = t_read_file(path, &fsize);
	unlink(path);
	cr_assert_not_null(file);
	cr_assert_eq(fsize, size);
	cr_assert_eq(memcmp(file, data, size), 0);
	struct infd_program *p = NULL;
	cr_assert_eq(infd__program_open_copy(file, fsize, &p, &err), INFD_OK, "%s", err.msg);
	infd__program_close(p);
	free(file);
	free(data);
}

Test(writer, invalid_uses_are_reported)
{
	int32_t s[] = {2}, s17[17] = {1}, neg[] = {-1};
	struct infd_pte_writer *w;
	struct infd_pte_method *m;

	w = new_writer(false, false);
	infd__pte_planned(infd__pte_method(w, "f"), 99, 1, s);
	expect_invalid(w, "dtype 99");

	w = new_writer(false, false);
	infd__pte_planned(infd__pte_method(w, "f"), INFD_DTYPE_FLOAT32, 17, s17);
	expect_invalid(w, "rank 17");

	w = new_writer(false, false);
	infd__pte_planned(infd__pte_method(w, "f"), INFD_DTYPE_FLOAT32, 1, neg);
	expect_invalid(w, "negative size");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	uint8_t bad_order[] = {0, 0};
	int32_t s22[] = {2, 2};
	infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = 6, .rank = 2, .sizes = s22, .dim_order = bad_order});
	expect_invalid(w, "dim_order");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	int32_t later[] = {5};
	cr_assert_eq(infd__pte_tensor_list(m, 1, later), -1);
	expect_invalid(w, "list item 0");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	int32_t not_tensor[] = {infd__pte_int(m, 3)};
	infd__pte_tensor_list(m, 1, not_tensor);
	expect_invalid(w, "not a tensor");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	int32_t none[] = {-1};
	infd__pte_tensor_list(m, 1, none);
	expect_invalid(w, "list item 0");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	infd__pte_kernel_call(m, 0, 0, NULL);
	expect_invalid(w, "operator 0 out of range");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	infd__pte_delegate_call(m, 2, 0, NULL);
	expect_invalid(w, "delegate 2 out of range");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	int32_t args[] = {0, 7};
	infd__pte_call(m, "aten::add", "out", 2, args);
	infd__pte_int(m, 1);
	expect_invalid(w, "instruction 0");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	infd__pte_jump_false(m, infd__pte_bool(m, false), 2);
	expect_invalid(w, "jump destination");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	int32_t out[] = {3};
	infd__pte_outputs(m, 1, out);
	expect_invalid(w, "output 0");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	int64_t items[] = {1};
	int32_t in[] = {infd__pte_int_list(m, 1, items)};
	infd__pte_inputs(m, 1, in);
	expect_invalid(w, "input 0");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = 6, .rank = 1, .sizes = s, .constant = 1});
	expect_invalid(w, "constant 1");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	float f1 = 1;
	uint32_t c = infd__pte_constant(w, &f1, sizeof f1);
	infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = 6, .rank = 1, .sizes = s, .constant = c});
	expect_invalid(w, "hold 8 bytes");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	uint32_t mu = infd__pte_mutable(w, s, sizeof s);
	infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = 6, .rank = 1, .sizes = s, .mutable_data = mu});
	expect_invalid(w, "be planned");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = 6, .rank = 1, .sizes = s, .memory_id = 5000});
	expect_invalid(w, "memory_id 5000");

	w = new_writer(false, false);
	m = infd__pte_method(w, "f");
	char longname[120];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	infd__pte_operator(m, longname, "out");
	expect_invalid(w, "under 100 bytes");

	w = new_writer(false, false);
	expect_invalid(w, "no methods");

	/* the first mistake is the one reported; later calls are refused */
	w = new_writer(false, false);
	m = infd__pte_method(w, "first");
	infd__pte_planned(m, 77, 1, s);
	cr_assert_eq(infd__pte_int(m, 1), -1);
	infd__pte_planned(m, INFD_DTYPE_FLOAT32, 18, s17);
	expect_invalid(w, "method 'first': value 0: invalid dtype 77");

	struct infd_pte_writer_options o;
	infd__pte_writer_options_default(&o);
	o.segment_alignment = 100;
	w = infd__pte_writer_create(&o);
	cr_assert_null(infd__pte_method(w, "forward"), "a writer with an error refuses more");
	expect_invalid(w, "powers of two");
}

Test(writer, finish_twice_and_destroy_null)
{
	infd__pte_writer_destroy(NULL);
	infd__bpte_writer_destroy(NULL);
	struct infd_pte_writer *w = new_writer(false, false);
	add_method(w, "forward");
	uint8_t *a, *b;
	size_t na, nb;
	struct infd_error err = {0};
	cr_assert_eq(infd__pte_writer_finish(w, &a, &na, &err), INFD_OK);
	cr_assert_eq(infd__pte_writer_finish(w, &b, &nb, &err), INFD_OK);
	cr_assert_eq(na, nb);
	cr_assert_eq(memcmp(a, b, na), 0, "finish does not change the writer");
	free(a);
	free(b);
	infd__pte_writer_destroy(w);
}

/* The decoded methods of two programs agree (container strings aside). */
static void same_method(const struct infd_method_def *a, const struct infd_method_def *b)
{
	cr_assert_str_eq(a->name, b->name);
	cr_assert_eq(a->n_values, b->n_values);
	for (uint32_t i = 0; i < a->n_values; i++) {
		const struct infd_value_def *x = &a->values[i], *y = &b->values[i];
		cr_assert_eq(x->kind, y->kind, "value %u", i);
		if (x->kind == INFD_VALUE_INT)
			cr_assert_eq(x->u.i, y->u.i, "value %u", i);
		if (x->kind != INFD_VALUE_TENSOR)
			continue;
		const struct infd_tensor_def *t = x->u.tensor, *u = y->u.tensor;
		cr_assert_eq(t->dtype, u->dtype, "value %u", i);
		cr_assert_eq(t->rank, u->rank, "value %u", i);
		cr_assert_arr_eq(t->sizes, u->sizes, t->rank * sizeof *t->sizes, "value %u", i);
		cr_assert_arr_eq(t->dim_order, u->dim_order, t->rank, "value %u", i);
		cr_assert_eq(t->storage, u->storage, "value %u", i);
		cr_assert_eq(t->data_buffer_idx, u->data_buffer_idx, "value %u", i);
		cr_assert_eq(t->memory_id, u->memory_id, "value %u", i);
		cr_assert_eq(t->memory_offset, u->memory_offset, "value %u", i);
		if (t->storage == INFD_STORAGE_CONSTANT)
			cr_assert_eq(memcmp(t->data, u->data, t->nbytes), 0, "value %u", i);
	}
	cr_assert_eq(a->n_inputs, b->n_inputs);
	cr_assert_arr_eq(a->inputs, b->inputs, a->n_inputs * sizeof *a->inputs);
	cr_assert_eq(a->n_outputs, b->n_outputs);
	cr_assert_arr_eq(a->outputs, b->outputs, a->n_outputs * sizeof *a->outputs);
	cr_assert_eq(a->n_operators, b->n_operators);
	for (uint32_t i = 0; i < a->n_operators; i++)
		cr_assert_str_eq(a->operators[i].key, b->operators[i].key);
	cr_assert_eq(a->n_buffers, b->n_buffers);
	cr_assert_arr_eq(a->buffer_sizes, b->buffer_sizes, a->n_buffers * sizeof *a->buffer_sizes);
	cr_assert_eq(a->n_chains, b->n_chains);
	cr_assert_eq(a->chains[0].n_instrs, b->chains[0].n_instrs);
	for (uint32_t i = 0; i < a->chains[0].n_instrs; i++) {
		const struct infd_instr_def *x = &a->chains[0].instrs[i], *y = &b->chains[0].instrs[i];
		cr_assert_eq(x->kind, y->kind);
		cr_assert_eq(x->a, y->a);
		cr_assert_eq(x->n_args, y->n_args);
		cr_assert_arr_eq(x->args, y->args, x->n_args * sizeof *x->args);
	}
}

static void same_as_file(const char *path, uint8_t *data, size_t size)
{
	size_t ref_size;
	uint8_t *ref = t_read_file(path, &ref_size);
	cr_assert_not_null(ref, "cannot read %s", path);
	struct infd_program *a = parse(ref, ref_size), *b = parse(data, size);
	cr_assert_eq(a->n_methods, b->n_methods);
	cr_assert_eq(a->n_segments, b->n_segments);
	cr_assert_eq(a->has_ext_header, b->has_ext_header);
	cr_assert_eq(a->constants_legacy, b->constants_legacy);
	same_method(&a->methods[0], &b->methods[0]);
	infd__program_close(a);
	infd__program_close(b);
	free(ref);
	free(data);
}

/* add.pte (pte-format §13.1) rebuilt with the writer decodes to the same method. */
Test(writer, same_as_add_pte)
{
	T_REQUIRE_TESTDATA(path, "pte/add.pte");
	struct infd_pte_writer *w = new_writer(false, false);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t s[] = {1};
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s);
	int32_t y = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s);
	int32_t z = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s);
	int32_t args[] = {x, y, infd__pte_int(m, 1), z, z}, in[] = {x, y};
	infd__pte_call(m, "aten::add", "out", 5, args);
	infd__pte_arena(m, 1, 48);
	infd__pte_inputs(m, 2, in);
	infd__pte_outputs(m, 1, &z);
	size_t size;
	uint8_t *data = finish(w, &size);
	same_as_file(path, data, size);
}

/* module_linear.pte (§13.2, legacy inline constants) rebuilt with the writer. */
Test(writer, same_as_module_linear_pte)
{
	T_REQUIRE_TESTDATA(path, "pte/module_linear.pte");
	struct infd_pte_writer *w = new_writer(true, false);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t s[] = {2, 2};
	float three[4] = {3, 3, 3, 3}, two[4] = {2, 2, 2, 2};
	int32_t a = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 2, s, three);
	int32_t b = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 2, s, two);
	struct infd_pte_tensor t = {.dtype = INFD_DTYPE_FLOAT32, .rank = 2, .sizes = s, .memory_id = 1};
	int32_t x = infd__pte_tensor(m, &t);
	t.memory_offset = 16;
	int32_t tmp = infd__pte_tensor(m, &t);
	t.memory_offset = 0;
	int32_t y = infd__pte_tensor(m, &t);
	int32_t mul[] = {a, x, tmp, tmp}, add[] = {tmp, b, infd__pte_int(m, 1), y, y};
	infd__pte_call(m, "aten::mul", "out", 4, mul);
	infd__pte_call(m, "aten::add", "out", 5, add);
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &y);
	size_t size;
	uint8_t *data = finish(w, &size);
	same_as_file(path, data, size);
}

/* ---- bundled programs ---- */

Test(writer, bundled_program)
{
	struct infd_pte_writer *w = new_writer(false, false);
	add_method(w, "forward");
	struct infd_pte_method *g = infd__pte_method(w, "get");
	int32_t v = infd__pte_int(g, 3);
	infd__pte_outputs(g, 1, &v);
	size_t pte_size;
	uint8_t *pte = finish(w, &pte_size);

	struct infd_bpte_writer *bw = infd__bpte_writer_create(pte, pte_size);
	cr_assert_not_null(bw);
	int32_t s[] = {2};
	float x[2] = {1, 2}, y[2] = {10, 20}, z[2] = {11, 22};
	uint8_t order[] = {0};
	struct infd_bpte_value in[] = {
	    {.kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s, .data = x, .nbytes = 8},
	    {.kind = INFD_BPTE_TENSOR,
	     .dtype = INFD_DTYPE_FLOAT32,
	     .rank = 1,
	     .sizes = s,
	     .dim_order = order,
	     .data = y,
	     .nbytes = 8},
	};
	struct infd_bpte_value out = {
	    .kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s, .data = z, .nbytes = 8};
	struct infd_bpte_value scalars[] = {
	    {.kind = INFD_BPTE_INT, .i = -3},
	    {.kind = INFD_BPTE_BOOL, .b = true},
	    {.kind = INFD_BPTE_DOUBLE, .d = 1.25},
	};
	infd__bpte_test_case(bw, "forward", 2, in, 1, &out);
	infd__bpte_test_case(bw, "get", 0, NULL, 3, scalars);
	infd__bpte_test_case(bw, "forward", 2, in, 0, NULL);
	uint8_t *data;
	size_t size;
	struct infd_error err = {0};
	cr_assert_eq(infd__bpte_writer_finish(bw, &data, &size, &err), INFD_OK, "%s", err.msg);
	infd__bpte_writer_destroy(bw);

	cr_assert_eq(memcmp(data + 4, "BP08", 4), 0);
	cr_assert(rd32(data) >= 8 && rd32(data) < size);
	cr_assert(infd__is_bundled(data, size));
	/* the embedded program: exactly once, 32-aligned, preceded by its length */
	size_t at = 0;
	for (size_t i = 0; i + pte_size <= size; i++)
		if (!memcmp(data + i, pte, pte_size)) {
			at = i;
			break;
		}
	cr_assert(at > 0);
	cr_assert_eq(at % 32, 0);
	cr_assert_eq(rd32(data + at - 4), pte_size);

	struct infd_bundled *b = NULL;
	cr_assert_eq(infd__bundled_parse(data, size, &b, &err), INFD_OK, "%s", err.msg);
	cr_assert_eq(b->version, 2);
	cr_assert_eq(b->program, data + at);
	cr_assert_eq(b->program_size, pte_size);
	cr_assert_eq(b->n_suites, 2);
	const struct infd_bundled_suite *su = &b->suites[0];
	cr_assert_str_eq(su->method, "forward");
	cr_assert_eq(su->n_cases, 2);
	cr_assert_eq(su->cases[0].n_inputs, 2);
	cr_assert_eq(su->cases[0].n_expected, 1);
	cr_assert_eq(su->cases[1].n_expected, 0);
	const struct infd_bundled_value *bv = &su->cases[0].inputs[1];
	cr_assert_eq(bv->kind, INFD_VALUE_TENSOR);
	cr_assert_eq(bv->dtype, INFD_DTYPE_FLOAT32);
	cr_assert_eq(bv->rank, 1);
	cr_assert_eq(bv->sizes[0], 2);
	cr_assert_eq(bv->dim_order[0], 0);
	cr_assert_eq(bv->nbytes, 8);
	cr_assert_eq(memcmp(bv->data, y, 8), 0);
	cr_assert_eq((bv->data - data) % 16, 0, "tensor data is 16-aligned");
	cr_assert_eq(memcmp(su->cases[0].expected[0].data, z, 8), 0);
	su = &b->suites[1];
	cr_assert_str_eq(su->method, "get");
	cr_assert_eq(su->n_cases, 1);
	cr_assert_eq(su->cases[0].n_inputs, 0);
	cr_assert_eq(su->cases[0].n_expected, 3);
	cr_assert_eq(su->cases[0].expected[0].kind, INFD_VALUE_INT);
	cr_assert_eq(su->cases[0].expected[0].i, -3);
	cr_assert_eq(su->cases[0].expected[1].kind, INFD_VALUE_BOOL);
	cr_assert(su->cases[0].expected[1].b);
	cr_assert_eq(su->cases[0].expected[2].kind, INFD_VALUE_DOUBLE);
	cr_assert_eq(su->cases[0].expected[2].d, 1.25);

	/* the embedded program still reads as a program */
	struct infd_program *p = NULL;
	cr_assert_eq(infd__program_open_copy(b->program, b->program_size, &p, &err), INFD_OK, "%s", err.msg);
	cr_assert_eq(p->n_methods, 2);
	infd__program_close(p);
	infd__bundled_close(b);
	free(data);
	free(pte);
}

Test(writer, bundled_invalid_values)
{
	uint8_t pte[64] = {0};
	int32_t s[] = {2};
	float x[2] = {0};
	struct infd_bpte_value bad = {
	    .kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s, .data = x, .nbytes = 4};
	struct infd_bpte_writer *bw = infd__bpte_writer_create(pte, sizeof pte);
	infd__bpte_test_case(bw, "forward", 1, &bad, 0, NULL);
	uint8_t *data = NULL;
	size_t size;
	struct infd_error err = {0};
	cr_assert_eq(infd__bpte_writer_finish(bw, &data, &size, &err), INFD_INVALID_ARGUMENT);
	cr_assert(strstr(err.msg, "input 0"), "%s", err.msg);
	cr_assert_null(data);
	infd__bpte_writer_destroy(bw);

	bw = infd__bpte_writer_create(pte, sizeof pte);
	struct infd_bpte_value kind = {.kind = 9};
	infd__bpte_test_case(bw, "forward", 0, NULL, 1, &kind);
	cr_assert_eq(infd__bpte_writer_finish(bw, &data, &size, &err), INFD_INVALID_ARGUMENT);
	cr_assert(strstr(err.msg, "invalid kind 9"), "%s", err.msg);
	infd__bpte_writer_destroy(bw);
}
