/* The program reader against real ExecuTorch files (decoded facts from pte-format.md
 * §13 and the models' JSON sheets) and against hostile input: every truncation,
 * thousands of corruptions, and hand-patched files whose errors must say where. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "infd/dtype.h"
#include "runtime/bundled.h"
#include "runtime/program.h"
#include "runtime/pte_writer.h"
#include "runtime/runtime.h"

/* ---- Buffers, parsing, invariants ------------------------------------------------ */

struct buf {
	uint8_t *p;
	size_t n;
};

static struct buf load(const char *path)
{
	struct buf b = {0};
	b.p = t_read_file(path, &b.n);
	cr_assert_not_null(b.p, "cannot read %s", path);
	return b;
}

static struct buf dup_buf(const void *p, size_t n)
{
	struct buf b = {.p = malloc(n ? n : 1), .n = n};
	cr_assert_not_null(b.p);
	memcpy(b.p, p, n);
	return b;
}

/* Parse a private copy of exactly `n` bytes, so that ASan sees any read past the end. */
static infd_status parse(const uint8_t *p, size_t n, struct infd_program **out, struct infd_error *e)
{
	memset(e, 0, sizeof *e);
	return infd__program_open_copy(p, n, out, e);
}

static bool inside(const struct infd_program *p, const void *ptr, uint64_t len)
{
	const uint8_t *q = ptr;
	return q >= p->data && q <= p->data + p->size && len <= (uint64_t)(p->data + p->size - q);
}

static bool c_string_inside(const struct infd_program *p, const char *s)
{
	return s && inside(p, s, strlen(s) + 1);
}

/* What program.h promises about a decoded program: every index in range, every
 * pointer inside the file. Returns NULL or a description of the first breach. */
static const char *invariant_breach(const struct infd_program *p)
{
	static char why[256];
#define BREACH(...) return (snprintf(why, sizeof why, __VA_ARGS__), why)
	if (p->program_size > p->size || p->segment_base_offset > p->size)
		BREACH("header sizes past the file");
	for (uint32_t k = 1; k < p->n_constants; k++)
		if (p->constants[k] && !inside(p, p->constants[k], p->constant_avail[k]))
			BREACH("constant %u outside the file", k);
	for (uint32_t k = 1; k < p->n_mutable; k++)
		if (!inside(p, p->mutable_data[k], p->mutable_avail[k]))
			BREACH("mutable entry %u outside the file", k);
	for (uint32_t i = 0; i < p->n_named; i++)
		if (!c_string_inside(p, p->named[i].key) || !inside(p, p->named[i].data, p->named[i].size))
			BREACH("named data %u outside the file", i);
	for (uint32_t mi = 0; mi < p->n_methods; mi++) {
		const struct infd_method_def *m = &p->methods[mi];
		if (!c_string_inside(p, m->name))
			BREACH("method %u: name", mi);
		for (uint32_t i = 0; i < m->n_operators; i++) {
			char key[256];
			const struct infd_operator_def *op = &m->operators[i];
			if (!c_string_inside(p, op->name) || (op->overload[0] && !c_string_inside(p, op->overload)))
				BREACH("method %u: operator %u strings", mi, i);
			snprintf(key, sizeof key, op->overload[0] ? "%s.%s" : "%s", op->name, op->overload);
			if (strcmp(key, op->key) != 0 || strlen(key) >= 100)
				BREACH("method %u: operator %u key '%s'", mi, i, op->key);
		}
		for (uint32_t i = 0; i < m->n_delegates; i++) {
			const struct infd_delegate_def *d = &m->delegates[i];
			if (!c_string_inside(p, d->id) || !inside(p, d->payload, d->payload_size))
				BREACH("method %u: delegate %u payload (%llu bytes at %p) outside the file", mi, i,
				       (unsigned long long)d->payload_size, (const void *)d->payload);
			for (uint32_t s = 0; s < d->n_specs; s++)
				if (!c_string_inside(p, d->specs[s].key) || !inside(p, d->specs[s].value, d->specs[s].size))
					BREACH("method %u: delegate %u spec %u", mi, i, s);
		}
		uint32_t n_tensors = 0;
		for (uint32_t v = 0; v < m->n_values; v++) {
			const struct infd_value_def *vd = &m->values[v];
			if (vd->kind < INFD_VALUE_NULL || vd->kind > INFD_VALUE_OPT_TENSOR_LIST)
				BREACH("method %u: value %u kind %u", mi, v, vd->kind);
			if (vd->kind == INFD_VALUE_STRING &&
			    (!inside(p, vd->u.str.ptr, (uint64_t)vd->u.str.len + 1) || vd->u.str.ptr[vd->u.str.len]))
				BREACH("method %u: value %u string", mi, v);
			if (vd->kind == INFD_VALUE_INT_LIST || vd->kind == INFD_VALUE_TENSOR_LIST ||
			    vd->kind == INFD_VALUE_OPT_TENSOR_LIST)
				for (uint32_t j = 0; j < vd->u.list.count; j++) {
					int32_t x = vd->u.list.indices[j];
					int want = vd->kind == INFD_VALUE_INT_LIST ? INFD_VALUE_INT : INFD_VALUE_TENSOR;
					if (x == -1 && vd->kind == INFD_VALUE_OPT_TENSOR_LIST)
						continue;
					if (x < 0 || (uint32_t)x >= v ||
					    (m->values[x].kind != want &&
					     !(vd->kind == INFD_VALUE_OPT_TENSOR_LIST && m->values[x].kind == INFD_VALUE_NULL)))
						BREACH("method %u: value %u item %u = %d", mi, v, j, x);
				}
			if (vd->kind != INFD_VALUE_TENSOR)
				continue;
			const struct infd_tensor_def *t = vd->u.tensor;
			if (t != &m->tensors[n_tensors++])
				BREACH("method %u: value %u tensor slot", mi, v);
			if (!infd_dtype_valid(t->dtype) || t->rank > INFD_MAX_RANK)
				BREACH("method %u: value %u dtype/rank", mi, v);
			uint64_t numel = 1;
			uint32_t seen = 0;
			for (uint32_t d = 0; d < t->rank; d++) {
				if (t->sizes[d] < 0 || t->dim_order[d] >= t->rank || (seen >> t->dim_order[d]) & 1)
					BREACH("method %u: value %u sizes/dim_order", mi, v);
				seen |= 1u << t->dim_order[d];
				numel *= (uint64_t)t->sizes[d];
			}
			if (numel != t->numel || t->nbytes != numel * infd_dtype_size(t->dtype))
				BREACH("method %u: value %u numel/nbytes", mi, v);
			if (t->storage == INFD_STORAGE_CONSTANT && t->data && !inside(p, t->data, t->nbytes))
				BREACH("method %u: value %u constant bytes outside the file", mi, v);
			if (t->storage == INFD_STORAGE_PLANNED) {
				if (t->memory_id < 1 || t->memory_id > m->n_buffers ||
				    t->memory_offset > m->buffer_sizes[t->memory_id - 1] ||
				    t->nbytes > m->buffer_sizes[t->memory_id - 1] - t->memory_offset)
					BREACH("method %u: value %u planned region", mi, v);
				if (t->data && !inside(p, t->data, t->nbytes))
					BREACH("method %u: value %u initial bytes outside the file", mi, v);
			}
		}
		if (n_tensors != m->n_tensors)
			BREACH("method %u: tensor count", mi);
		for (uint32_t i = 0; i < m->n_inputs; i++)
			if (m->inputs[i] < 0 || (uint32_t)m->inputs[i] >= m->n_values)
				BREACH("method %u: input %u", mi, i);
		for (uint32_t i = 0; i < m->n_outputs; i++)
			if (m->outputs[i] < 0 || (uint32_t)m->outputs[i] >= m->n_values)
				BREACH("method %u: output %u", mi, i);
		if (m->n_chains == 0)
			BREACH("method %u: no chains", mi);
		for (uint32_t c = 0; c < m->n_chains; c++)
			for (uint32_t k = 0; k < m->chains[c].n_instrs; k++) {
				const struct infd_instr_def *in = &m->chains[c].instrs[k];
				bool ok = true;
				if (in->kind == INFD_INSTR_KERNEL)
					ok = in->a >= 0 && (uint32_t)in->a < m->n_operators;
				else if (in->kind == INFD_INSTR_DELEGATE)
					ok = in->a >= 0 && (uint32_t)in->a < m->n_delegates;
				else if (in->kind == INFD_INSTR_MOVE)
					ok = in->a >= 0 && (uint32_t)in->a < m->n_values && in->b >= 0 &&
					     (uint32_t)in->b < m->n_values;
				else if (in->kind == INFD_INSTR_JUMP_FALSE)
					ok = in->a >= 0 && (uint32_t)in->a < m->n_values && in->b >= 0 &&
					     (uint32_t)in->b <= m->chains[c].n_instrs;
				else if (in->kind == INFD_INSTR_FREE)
					ok = in->a >= 0 && (uint32_t)in->a < m->n_values;
				else
					ok = false;
				for (uint32_t j = 0; ok && j < in->n_args; j++)
					ok = in->args[j] >= 0 && (uint32_t)in->args[j] < m->n_values;
				if (!ok)
					BREACH("method %u: chain %u instruction %u", mi, c, k);
			}
	}
	return NULL;
#undef BREACH
}

/* ---- Running what parses ----------------------------------------------------------- */

#define RUN_MAX_ARENA (8u << 20)  /* skip loading methods that plan more than this */
#define RUN_MAX_INPUT (1u << 20)  /* skip executing when an input is larger */

static struct infd_runtime *runtime(void)
{
	static struct infd_runtime *rt;
	if (!rt) {
		struct infd_error e = {0};
		cr_assert_eq(infd__runtime_create(NULL, &rt, &e), INFD_OK, "%s", e.msg);
	}
	return rt;
}

/* Load every method (small plans only), bind zero / baked inputs and, when `run`,
 * execute. Errors are fine; crashes and sanitizer reports are not. Returns the
 * number of methods that executed successfully. */
static uint32_t exercise(const struct infd_program *p, bool run)
{
	uint32_t ok = 0;
	for (uint32_t mi = 0; mi < p->n_methods && mi < 64; mi++) {
		const struct infd_method_def *def = &p->methods[mi];
		uint64_t planned = 0;
		for (uint32_t b = 0; b < def->n_buffers; b++)
			planned += def->buffer_sizes[b];
		if (planned > RUN_MAX_ARENA || infd__program_method(p, def->name) != def)
			continue;
		struct infd_method *m;
		struct infd_error e = {0};
		if (infd__method_load(runtime(), p, def->name, NULL, &m, &e) != INFD_OK)
			continue;
		/* Unplanned inputs adopt the caller's buffer: keep every one until the run is over. */
		uint32_t n_in = infd__method_n_inputs(m);
		void **zeros = calloc(n_in + 1, sizeof *zeros);
		cr_assert_not_null(zeros);
		bool bound = true;
		for (uint32_t i = 0; i < n_in && bound; i++) {
			struct infd_evalue *in = infd__method_input(m, i);
			if (in->kind != INFD_VALUE_TENSOR) {
				struct infd_evalue copy = *in;
				bound = infd__method_set_input(m, i, &copy, &e) == INFD_OK;
				continue;
			}
			const struct infd_tensor_def *td = in->u.t->def;
			if (td->nbytes > RUN_MAX_INPUT) {
				bound = false;
				break;
			}
			zeros[i] = calloc(1, td->nbytes + 1);
			cr_assert_not_null(zeros[i]);
			bound = infd__method_set_input_tensor(m, i, td->dtype, td->rank, td->sizes, zeros[i], td->nbytes,
							      &e) == INFD_OK;
		}
		if (bound && run && infd__method_execute(m, &e) == INFD_OK)
			ok++;
		infd__method_free(m);
		for (uint32_t i = 0; i < n_in; i++)
			free(zeros[i]);
		free(zeros);
	}
	return ok;
}

/* Parse `n` bytes; when they parse, check the invariants and exercise them. */
static infd_status try_bytes(const uint8_t *d, size_t n, bool run, const char *what, size_t at)
{
	struct infd_program *p = NULL;
	struct infd_error e;
	infd_status st = parse(d, n, &p, &e);
	if (st == INFD_OK) {
		const char *why = invariant_breach(p);
		cr_assert_null(why, "%s (case %zu) parsed but breaks an invariant: %s", what, at, why);
		exercise(p, run);
		infd__program_close(p);
	} else {
		cr_assert(e.msg[0], "%s (case %zu): failure %d without a message", what, at, st);
	}
	return st;
}

static void expect_error(const uint8_t *d, size_t n, infd_status want, const char *needle1, const char *needle2)
{
	struct infd_program *p = NULL;
	struct infd_error e;
	infd_status st = parse(d, n, &p, &e);
	if (st == INFD_OK)
		infd__program_close(p);
	cr_assert_eq(st, want, "status %s (%s), expected %s", infd_status_name(st), e.msg, infd_status_name(want));
	cr_assert(strstr(e.msg, needle1), "message '%s' does not name '%s'", e.msg, needle1);
	if (needle2)
		cr_assert(strstr(e.msg, needle2), "message '%s' does not name '%s'", e.msg, needle2);
}

static struct infd_program *must_parse(const uint8_t *d, size_t n)
{
	struct infd_program *p = NULL;
	struct infd_error e;
	cr_assert_eq(parse(d, n, &p, &e), INFD_OK, "%s", e.msg);
	cr_assert_null(invariant_breach(p), "%s", invariant_breach(p));
	return p;
}

/* ---- Programs made with the writer -------------------------------------------------- */

static struct buf finish(struct infd_pte_writer *w)
{
	struct buf b = {0};
	struct infd_error e = {0};
	cr_assert_eq(infd__pte_writer_finish(w, &b.p, &b.n, &e), INFD_OK, "writer: %s", e.msg);
	infd__pte_writer_destroy(w);
	return b;
}

/* Value indices of the basic program's "forward" method. */
static struct basic_ids {
	int32_t x, c, t, y, one, int_list, tensor_list, null, opt_list, dbl, flag, str, dlist, blist, bias;
} ids;

static const float three[4] = {3, 3, 3, 3}, bias4[4] = {1, 2, 3, 4};

/* forward(x: f32[2,2]) = x * 3 + x, with one value of every kind on the side;
 * getter() = (512, "torch.uint8"). Constants in a segment behind eh00, unless
 * `legacy` (inline constant_buffer, Layout A). */
static struct buf basic_program(bool legacy)
{
	struct infd_pte_writer_options opt;
	infd__pte_writer_options_default(&opt);
	opt.legacy_inline_constants = legacy;
	struct infd_pte_writer *w = infd__pte_writer_create(&opt);
	cr_assert_not_null(w);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	const int32_t s22[2] = {2, 2}, s4[1] = {4};
	ids.x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s22);
	ids.c = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 2, s22, three);
	ids.t = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s22);
	ids.y = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s22);
	ids.one = infd__pte_int(m, 1);
	ids.int_list = infd__pte_int_list(m, 2, (const int64_t[]){2, 3});
	ids.tensor_list = infd__pte_tensor_list(m, 2, (const int32_t[]){ids.x, ids.c});
	ids.null = infd__pte_null(m);
	ids.opt_list = infd__pte_opt_tensor_list(m, 3, (const int32_t[]){ids.x, -1, ids.null});
	ids.dbl = infd__pte_double(m, 0.5);
	ids.flag = infd__pte_bool(m, true);
	ids.str = infd__pte_string(m, "hello");
	ids.dlist = infd__pte_double_list(m, 2, (const double[]){1.5, -2});
	ids.blist = infd__pte_bool_list(m, 2, (const bool[]){true, false});
	ids.bias = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 1, s4, bias4);
	infd__pte_inputs(m, 1, &ids.x);
	infd__pte_outputs(m, 1, &ids.y);
	infd__pte_call(m, "aten::mul", "out", 4, (const int32_t[]){ids.x, ids.c, ids.t, ids.t});
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){ids.t, ids.x, ids.one, ids.y, ids.y});
	m = infd__pte_method(w, "getter");
	int32_t a = infd__pte_int(m, 512), b = infd__pte_string(m, "torch.uint8");
	infd__pte_outputs(m, 2, (const int32_t[]){a, b});
	return finish(w);
}

/* Delegates (payload in a segment, or inline), mutable data, control flow and a
 * dynamically bounded input. */
static struct buf rich_program(bool inline_delegates)
{
	struct infd_pte_writer_options opt;
	infd__pte_writer_options_default(&opt);
	opt.inline_delegates = inline_delegates;
	struct infd_pte_writer *w = infd__pte_writer_create(&opt);
	cr_assert_not_null(w);
	uint8_t payload[300];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 7);
	const int32_t s4[1] = {4};
	const float init[4] = {1, 1, 1, 1};
	infd__pte_constant(w, three, sizeof three);

	struct infd_pte_method *m = infd__pte_method(w, "delegated");
	int32_t in = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4});
	int32_t out = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4});
	struct infd_pte_compile_spec spec = {.key = "opts", .value = "\x01\x02\x03", .size = 3};
	int32_t d = infd__pte_delegate(m, "XnnpackBackend", payload, sizeof payload, 1, &spec);
	infd__pte_inputs(m, 1, &in);
	infd__pte_outputs(m, 1, &out);
	infd__pte_delegate_call(m, d, 2, (const int32_t[]){in, out});

	m = infd__pte_method(w, "stateful");
	uint32_t mut = infd__pte_mutable(w, init, sizeof init);
	int32_t state = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1,
		.sizes = s4, .mutable_data = mut, .memory_id = 1, .memory_offset = 0});
	int32_t x = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1,
		.sizes = s4, .memory_id = 1, .memory_offset = 16, .dynamism = INFD_SHAPE_DYNAMIC_BOUND});
	int32_t one = infd__pte_int(m, 1);
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &state);
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){state, x, one, state, state});

	m = infd__pte_method(w, "control");
	int32_t a = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t b = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t no = infd__pte_bool(m, false);
	int32_t loose = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4});
	int32_t one2 = infd__pte_int(m, 1);
	infd__pte_inputs(m, 1, &a);
	infd__pte_outputs(m, 1, &b);
	infd__pte_jump_false(m, no, 2);                                      /* 0: skip 1 */
	infd__pte_move(m, a, b);                                             /* 1 */
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){a, a, one2, b, b}); /* 2 */
	infd__pte_free(m, loose);                                            /* 3 */
	return finish(w);
}

static struct buf bundled_program(void)
{
	struct buf pte = basic_program(false);
	struct infd_bpte_writer *bw = infd__bpte_writer_create(pte.p, pte.n);
	cr_assert_not_null(bw);
	const int32_t s22[2] = {2, 2};
	const float x[4] = {1, 2, 3, 4}, y[4] = {4, 8, 12, 16};
	struct infd_bpte_value in = {.kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 2, .sizes = s22,
				     .data = x, .nbytes = sizeof x};
	struct infd_bpte_value out = in;
	out.data = y;
	infd__bpte_test_case(bw, "forward", 1, &in, 1, &out);
	struct buf b = {0};
	struct infd_error e = {0};
	cr_assert_eq(infd__bpte_writer_finish(bw, &b.p, &b.n, &e), INFD_OK, "%s", e.msg);
	infd__bpte_writer_destroy(bw);
	free(pte.p);
	return b;
}

/* ---- A small flatbuffer walker to find the bytes to corrupt ------------------------- */

static size_t walk_size; /* size of the buffer being walked, for sanity checks */

static uint32_t rd16(const uint8_t *b, uint32_t p)
{
	cr_assert_leq((size_t)p + 2, walk_size, "walker: read at 0x%x", p);
	return (uint32_t)b[p] | (uint32_t)b[p + 1] << 8;
}

static uint32_t rd32(const uint8_t *b, uint32_t p)
{
	cr_assert_leq((size_t)p + 4, walk_size, "walker: read at 0x%x", p);
	return (uint32_t)b[p] | (uint32_t)b[p + 1] << 8 | (uint32_t)b[p + 2] << 16 | (uint32_t)b[p + 3] << 24;
}

static void wr32(uint8_t *b, uint32_t p, uint32_t v)
{
	cr_assert_leq((size_t)p + 4, walk_size, "walker: write at 0x%x", p);
	for (int i = 0; i < 4; i++)
		b[p + i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *b, uint32_t p, uint64_t v)
{
	wr32(b, p, (uint32_t)v);
	wr32(b, p + 4, (uint32_t)(v >> 32));
}

static uint32_t vtable_of(const uint8_t *b, uint32_t t)
{
	return t - (uint32_t)(int32_t)rd32(b, t);
}

/* Absolute position of field `slot` of the table at `t`; the field must be present. */
static uint32_t field(const uint8_t *b, uint32_t t, unsigned slot)
{
	uint32_t vt = vtable_of(b, t);
	cr_assert_lt(4 + 2 * slot, rd16(b, vt), "walker: slot %u beyond the vtable", slot);
	uint32_t off = rd16(b, vt + 4 + 2 * slot);
	cr_assert_neq(off, 0, "walker: slot %u of the table at 0x%x is absent", slot, t);
	return t + off;
}

/* Target of reference field `slot`: a table, or the length word of a vector/string. */
static uint32_t ref(const uint8_t *b, uint32_t t, unsigned slot)
{
	uint32_t p = field(b, t, slot);
	return p + rd32(b, p);
}

/* Element i of a vector of tables/strings whose length word is at `vec`. */
static uint32_t elem(const uint8_t *b, uint32_t vec, uint32_t i)
{
	cr_assert_lt(i, rd32(b, vec));
	uint32_t p = vec + 4 + 4 * i;
	return p + rd32(b, p);
}

static uint32_t root_of(const struct buf *f)
{
	walk_size = f->n;
	return rd32(f->p, 0);
}

static uint32_t plan(const struct buf *f, uint32_t i)
{
	return elem(f->p, ref(f->p, root_of(f), 1), i);
}

static uint32_t evalue(const struct buf *f, uint32_t mi, uint32_t v)
{
	return elem(f->p, ref(f->p, plan(f, mi), 2), v);
}

/* The payload table of value v (Tensor, Int, IntList, ...). */
static uint32_t value_table(const struct buf *f, uint32_t mi, uint32_t v)
{
	return ref(f->p, evalue(f, mi, v), 1);
}

static uint32_t instruction(const struct buf *f, uint32_t mi, uint32_t k)
{
	uint32_t chain = elem(f->p, ref(f->p, plan(f, mi), 5), 0);
	return elem(f->p, ref(f->p, chain, 2), k);
}

/* Element i of the vector held by reference field `slot` of table t. */
static uint32_t vec_item(const struct buf *f, uint32_t t, unsigned slot, uint32_t i, uint32_t esize)
{
	uint32_t v = ref(f->p, t, slot);
	cr_assert_lt(i, rd32(f->p, v));
	return v + 4 + esize * i;
}

/* ---- Real files: decoded facts ---------------------------------------------------------- */

static const struct infd_method_def *method(const struct infd_program *p, const char *name)
{
	const struct infd_method_def *m = infd__program_method(p, name);
	cr_assert_not_null(m, "no method '%s'", name);
	return m;
}

static const struct infd_tensor_def *tensor(const struct infd_method_def *m, uint32_t v)
{
	cr_assert_lt(v, m->n_values);
	cr_assert_eq(m->values[v].kind, INFD_VALUE_TENSOR, "value %u is a %s", v,
		     infd__value_kind_name(m->values[v].kind));
	return m->values[v].u.tensor;
}

static void expect_planned(const struct infd_method_def *m, uint32_t v, int dtype, uint32_t rank, const int32_t *sizes,
			   uint64_t offset)
{
	const struct infd_tensor_def *t = tensor(m, v);
	cr_assert_eq(t->dtype, dtype, "value %u dtype %d", v, t->dtype);
	cr_assert_eq(t->rank, rank, "value %u rank %u", v, t->rank);
	for (uint32_t d = 0; d < rank; d++) {
		cr_assert_eq(t->sizes[d], sizes[d], "value %u sizes[%u] = %d", v, d, t->sizes[d]);
		cr_assert_eq(t->dim_order[d], d, "value %u dim_order[%u]", v, d);
	}
	cr_assert_eq(t->storage, INFD_STORAGE_PLANNED, "value %u storage %u", v, t->storage);
	cr_assert_eq(t->memory_id, 1, "value %u memory_id %u", v, t->memory_id);
	cr_assert_eq(t->memory_offset, offset, "value %u offset %llu", v, (unsigned long long)t->memory_offset);
}

static void expect_instr(const struct infd_method_def *m, uint32_t k, int32_t op, uint32_t n, const int32_t *args)
{
	cr_assert_lt(k, m->chains[0].n_instrs);
	const struct infd_instr_def *in = &m->chains[0].instrs[k];
	cr_assert_eq(in->kind, INFD_INSTR_KERNEL, "instruction %u kind %u", k, in->kind);
	cr_assert_eq(in->a, op, "instruction %u op_index %d", k, in->a);
	cr_assert_eq(in->n_args, n, "instruction %u has %u args", k, in->n_args);
	for (uint32_t j = 0; j < n; j++)
		cr_assert_eq(in->args[j], args[j], "instruction %u args[%u] = %d", k, j, in->args[j]);
}

static void expect_op(const struct infd_method_def *m, uint32_t i, const char *name, const char *overload)
{
	cr_assert_lt(i, m->n_operators);
	cr_assert_str_eq(m->operators[i].name, name);
	cr_assert_str_eq(m->operators[i].overload, overload);
}

static void expect_floats(const uint8_t *p, uint32_t n, float v)
{
	for (uint32_t i = 0; i < n; i++) {
		float f;
		memcpy(&f, p + 4 * i, 4);
		cr_assert_float_eq(f, v, 0, "element %u is %g, expected %g", i, f, v);
	}
}

static void expect_int32s(const uint8_t *p, uint32_t n, int32_t v)
{
	for (uint32_t i = 0; i < n; i++) {
		int32_t x;
		memcpy(&x, p + 4 * i, 4);
		cr_assert_eq(x, v, "element %u is %d, expected %d", i, x, v);
	}
}

/* Bind float inputs, run, and return output 0's data. */
static void run_floats(const struct infd_program *p, const char *name, uint32_t n_in, const float *const *in,
		       const int32_t *sizes, uint32_t rank, const float *want, uint32_t n_out)
{
	struct infd_method *m;
	struct infd_error e = {0};
	cr_assert_eq(infd__method_load(runtime(), p, name, NULL, &m, &e), INFD_OK, "%s", e.msg);
	uint64_t numel = 1;
	for (uint32_t d = 0; d < rank; d++)
		numel *= (uint64_t)sizes[d];
	for (uint32_t i = 0; i < n_in; i++)
		cr_assert_eq(infd__method_set_input_tensor(m, i, INFD_DTYPE_FLOAT32, rank, sizes, in[i], numel * 4, &e),
			     INFD_OK, "%s", e.msg);
	cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "%s", e.msg);
	const struct infd_evalue *o = infd__method_output(m, 0);
	cr_assert_eq(o->kind, INFD_VALUE_TENSOR);
	cr_assert_eq(o->u.t->numel, n_out);
	for (uint32_t k = 0; k < n_out; k++)
		cr_assert_float_eq(((const float *)o->u.t->data)[k], want[k], 1e-6, "output element %u", k);
	infd__method_free(m);
}

Test(real, add_pte)
{
	T_REQUIRE_TESTDATA(path, "pte/add.pte");
	struct buf f = load(path);
	cr_assert_eq(f.n, 728);
	struct infd_program *p = must_parse(f.p, f.n);
	cr_assert_not(p->has_ext_header);
	cr_assert_eq(p->program_size, 728);
	cr_assert_eq(p->n_segments, 1);
	cr_assert_eq(p->n_methods, 1);
	const struct infd_method_def *m = method(p, "forward");
	cr_assert_str_eq(m->encoded_inp_str, "T2#2#0(T2#1#1($,$),D0())");
	cr_assert_str_eq(m->encoded_out_str, "$");
	cr_assert_eq(m->n_values, 4);
	const int32_t one[1] = {1};
	expect_planned(m, 0, INFD_DTYPE_FLOAT32, 1, one, 0);
	expect_planned(m, 1, INFD_DTYPE_FLOAT32, 1, one, 16);
	expect_planned(m, 2, INFD_DTYPE_FLOAT32, 1, one, 32);
	cr_assert_eq(m->values[3].kind, INFD_VALUE_INT);
	cr_assert_eq(m->values[3].u.i, 1);
	cr_assert_eq(m->n_inputs, 2);
	cr_assert_eq(m->inputs[0], 0);
	cr_assert_eq(m->inputs[1], 1);
	cr_assert_eq(m->n_outputs, 1);
	cr_assert_eq(m->outputs[0], 2);
	cr_assert_eq(m->n_buffers, 1);
	cr_assert_eq(m->buffer_sizes[0], 48);
	cr_assert_eq(m->n_operators, 1);
	expect_op(m, 0, "aten::add", "out");
	cr_assert_str_eq(m->operators[0].key, "aten::add.out");
	cr_assert_eq(m->n_delegates, 0);
	cr_assert_eq(m->n_chains, 1);
	cr_assert_eq(m->chains[0].n_instrs, 1);
	expect_instr(m, 0, 0, 5, (const int32_t[]){0, 1, 3, 2, 2});
	const float a[1] = {1.5f}, b[1] = {2.25f}, sum[1] = {3.75f};
	run_floats(p, "forward", 2, (const float *const[]){a, b}, one, 1, sum, 1);
	infd__program_close(p);
	free(f.p);
}

Test(real, module_linear_pte)
{
	T_REQUIRE_TESTDATA(path, "pte/module_linear.pte");
	struct buf f = load(path);
	cr_assert_eq(f.n, 1040);
	struct infd_program *p = must_parse(f.p, f.n);
	cr_assert_eq(f.p[0], 0x24);
	cr_assert_not(p->has_ext_header);
	cr_assert_eq(p->n_segments, 0);
	cr_assert(p->constants_legacy);
	cr_assert_eq(p->n_constants, 3);
	cr_assert_eq(p->constant_avail[0], 0);
	cr_assert_eq(p->constants[1] - p->data, 0x90);
	cr_assert_eq(p->constants[2] - p->data, 0x70);
	cr_assert_eq(p->constant_avail[1], 16);
	expect_floats(p->constants[1], 4, 3.0f);
	expect_floats(p->constants[2], 4, 2.0f);
	const struct infd_method_def *m = method(p, "forward");
	cr_assert_eq(m->n_values, 6);
	const int32_t s22[2] = {2, 2};
	for (uint32_t v = 0; v < 2; v++) {
		const struct infd_tensor_def *t = tensor(m, v);
		cr_assert_eq(t->storage, INFD_STORAGE_CONSTANT);
		cr_assert_eq(t->data_buffer_idx, v + 1);
		cr_assert_eq(t->nbytes, 16);
		cr_assert_eq(t->data, p->constants[v + 1]);
	}
	expect_planned(m, 2, INFD_DTYPE_FLOAT32, 2, s22, 0);
	expect_planned(m, 3, INFD_DTYPE_FLOAT32, 2, s22, 16);
	expect_planned(m, 4, INFD_DTYPE_FLOAT32, 2, s22, 0);
	cr_assert_eq(m->values[5].kind, INFD_VALUE_INT);
	cr_assert_eq(m->values[5].u.i, 1);
	cr_assert_eq(m->n_inputs, 1);
	cr_assert_eq(m->inputs[0], 2);
	cr_assert_eq(m->outputs[0], 4);
	cr_assert_eq(m->n_buffers, 1);
	cr_assert_eq(m->buffer_sizes[0], 32);
	cr_assert_eq(m->constant_bytes, 32);
	expect_op(m, 0, "aten::mul", "out");
	expect_op(m, 1, "aten::add", "out");
	expect_instr(m, 0, 0, 4, (const int32_t[]){0, 2, 3, 3});
	expect_instr(m, 1, 1, 5, (const int32_t[]){3, 1, 5, 4, 4});
	const float x[4] = {1, 2, 3, 4}, want[4] = {5, 8, 11, 14};
	run_floats(p, "forward", 1, (const float *const[]){x}, s22, 2, want, 4);
	infd__program_close(p);
	free(f.p);
}

static const char *const qnn_getters[27] = {
	"get_ar_len", "get_bos_id", "get_eos_id", "get_dim", "get_head_dim", "get_max_batch_size",
	"get_max_seq_len", "get_max_context_len", "get_n_bos", "get_n_eos", "get_n_kv_heads", "get_n_layers",
	"get_vocab_size", "get_use_kv_cache", "get_kv_io_bit_width", "get_logits_scale", "get_logits_zero_point",
	"get_kv_output_0_quant_attr", "get_kv_output_1_quant_attr", "get_kv_output_2_quant_attr",
	"get_kv_output_3_quant_attr", "get_kv_output_4_quant_attr", "get_kv_output_5_quant_attr",
	"get_kv_output_6_quant_attr", "get_kv_output_7_quant_attr", "get_kv_output_8_quant_attr",
	"get_kv_output_9_quant_attr",
};
static const int64_t qnn_getter_ints[17] = {1, 1, 2, 64, 8, 1, 128, 128, 1, 1, 4, 5, 512, -1, 8, -1, 31143};

static void expect_qnn_method(const struct infd_program *p, const char *name, int32_t tokens, int32_t cache)
{
	const struct infd_method_def *m = method(p, name);
	cr_assert_eq(m->n_values, 24);
	cr_assert_eq(m->n_tensors, 24);
	cr_assert_eq(m->n_inputs, 13);
	cr_assert_eq(m->n_outputs, 11);
	cr_assert_eq(m->n_operators, 0);
	cr_assert_eq(m->n_buffers, 1);
	cr_assert_eq(m->buffer_sizes[0], 0);
	for (uint32_t v = 0; v < 24; v++)
		cr_assert_eq(tensor(m, v)->storage, INFD_STORAGE_NONE, "value %u is not run-time supplied", v);
	const struct infd_tensor_def *t = tensor(m, 0);
	cr_assert_eq(t->dtype, INFD_DTYPE_INT32);
	cr_assert_eq(t->rank, 2);
	cr_assert_eq(t->sizes[1], tokens);
	t = tensor(m, 1);
	cr_assert_eq(t->dtype, INFD_DTYPE_UINT16);
	cr_assert_eq(t->rank, 4);
	cr_assert_eq(t->sizes[2], tokens);
	cr_assert_eq(t->sizes[3], 128);
	t = tensor(m, 3);
	cr_assert_eq(t->dtype, INFD_DTYPE_UINT8);
	cr_assert_eq(t->sizes[1], 4);
	cr_assert_eq(t->sizes[2], 8);
	cr_assert_eq(t->sizes[3], cache);
	t = tensor(m, 8);
	cr_assert_eq(t->sizes[2], cache);
	cr_assert_eq(t->sizes[3], 8);
	cr_assert_eq(m->outputs[0], 23);
	t = tensor(m, 23);
	cr_assert_eq(t->dtype, INFD_DTYPE_UINT16);
	cr_assert_eq(t->rank, 3);
	cr_assert_eq(t->sizes[1], tokens);
	cr_assert_eq(t->sizes[2], 512);
	cr_assert_eq(m->n_delegates, 1);
	const struct infd_delegate_def *d = &m->delegates[0];
	cr_assert_str_eq(d->id, "QnnBackend");
	cr_assert_not(d->inline_data);
	cr_assert_eq(d->data_index, 1);
	cr_assert_eq(d->payload_size, 1331456);
	cr_assert_eq(d->payload - p->data, 18688);
	cr_assert_eq(memcmp(d->payload, "\xcd\xab\x78\x56", 4), 0);
	cr_assert_eq(d->n_specs, 1);
	cr_assert_str_eq(d->specs[0].key, "qnn_compile_spec");
	cr_assert_eq(d->specs[0].size, 200);
	cr_assert_eq(m->chains[0].n_instrs, 1);
	const struct infd_instr_def *in = &m->chains[0].instrs[0];
	cr_assert_eq(in->kind, INFD_INSTR_DELEGATE);
	cr_assert_eq(in->a, 0);
	cr_assert_eq(in->n_args, 24);
	const int32_t order[13] = {2, 0, 3, 8, 1, 4, 9, 5, 10, 6, 11, 7, 12};
	for (uint32_t j = 0; j < 24; j++)
		cr_assert_eq(in->args[j], j < 13 ? order[j] : (int32_t)j, "delegate args[%u] = %d", j, in->args[j]);
}

Test(real, stories260k_qnn_pte)
{
	T_REQUIRE_TESTDATA(path, "pte/stories260k_qnn.pte");
	struct infd_program *p;
	struct infd_error e = {0};
	cr_assert_eq(infd__program_open_file(path, &p, &e), INFD_OK, "%s", e.msg);
	cr_assert_null(invariant_breach(p), "%s", invariant_breach(p));
	cr_assert_eq(p->size, 1350144);
	cr_assert(p->has_ext_header);
	cr_assert_eq(p->ext_header_len, 32);
	cr_assert_eq(p->program_size, 18688);
	cr_assert_eq(p->segment_base_offset, 18688);
	cr_assert_eq(p->segment_data_size, 1331456);
	cr_assert_eq(p->n_segments, 2);
	cr_assert_eq(p->n_methods, 29);
	cr_assert_str_eq(p->methods[0].name, "kv_forward");
	cr_assert_str_eq(p->methods[1].name, "prefill_forward");
	expect_qnn_method(p, "kv_forward", 1, 127);
	expect_qnn_method(p, "prefill_forward", 32, 96);
	cr_assert_eq(p->methods[0].delegates[0].payload, p->methods[1].delegates[0].payload,
		     "both methods share the segment-1 payload");
	for (uint32_t g = 0; g < 27; g++) {
		const struct infd_method_def *m = &p->methods[2 + g];
		cr_assert_str_eq(m->name, qnn_getters[g]);
		cr_assert_eq(m->n_inputs, 0);
		cr_assert_eq(m->n_chains, 1);
		cr_assert_eq(m->chains[0].n_instrs, 0);
		cr_assert_eq(m->n_buffers, 0);
		if (g < 17) {
			cr_assert_eq(m->n_outputs, 1);
			const struct infd_value_def *v = &m->values[m->outputs[0]];
			if (g == 13) {
				cr_assert_eq(v->kind, INFD_VALUE_BOOL);
				cr_assert(v->u.b);
			} else if (g == 15) {
				cr_assert_eq(v->kind, INFD_VALUE_DOUBLE);
				cr_assert_float_eq(v->u.d, 0.00067988, 1e-8);
			} else {
				cr_assert_eq(v->kind, INFD_VALUE_INT, "%s", m->name);
				cr_assert_eq(v->u.i, qnn_getter_ints[g], "%s = %lld", m->name, (long long)v->u.i);
			}
			continue;
		}
		cr_assert_eq(m->n_outputs, 5);
		const struct infd_value_def *o[5];
		for (int k = 0; k < 5; k++)
			o[k] = &m->values[m->outputs[k]];
		cr_assert_eq(o[0]->kind, INFD_VALUE_DOUBLE);
		cr_assert_gt(o[0]->u.d, 0.0);
		cr_assert_eq(o[1]->kind, INFD_VALUE_INT);
		cr_assert_eq(o[1]->u.i, 128);
		cr_assert_eq(o[2]->u.i, 0);
		cr_assert_eq(o[3]->u.i, 255);
		cr_assert_eq(o[4]->kind, INFD_VALUE_STRING);
		cr_assert_eq(o[4]->u.str.len, 11);
		cr_assert_str_eq(o[4]->u.str.ptr, "torch.uint8");
	}
	/* A getter runs on the executor (no instructions) and yields its value. */
	struct infd_method *m;
	cr_assert_eq(infd__method_load(runtime(), p, "get_vocab_size", NULL, &m, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(infd__method_output(m, 0)->kind, INFD_VALUE_INT);
	cr_assert_eq(infd__method_output(m, 0)->u.i, 512);
	infd__method_free(m);
	/* The compute methods need QnnBackend, which nobody provides here. */
	cr_assert_eq(infd__method_load(runtime(), p, "kv_forward", NULL, &m, &e), INFD_MISSING_OPERATOR);
	cr_assert(strstr(e.msg, "QnnBackend"), "%s", e.msg);
	infd__program_close(p);
}

Test(real, bundled_add_mul)
{
	T_REQUIRE_TESTDATA(path, "pte/bundled_add_mul.bpte");
	struct buf f = load(path);
	cr_assert_eq(f.n, 4608);
	cr_assert(infd__is_bundled(f.p, f.n));
	struct infd_bundled *b;
	struct infd_error e = {0};
	cr_assert_eq(infd__bundled_parse(f.p, f.n, &b, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(b->version, 2);
	cr_assert_eq(b->program - f.p, 0x40);
	cr_assert_eq(b->program_size, 1696);
	cr_assert_eq(b->n_suites, 1);
	cr_assert_str_eq(b->suites[0].method, "forward");
	cr_assert_eq(b->suites[0].n_cases, 10);
	for (uint32_t c = 0; c < 10; c++) {
		const struct infd_bundled_case *tc = &b->suites[0].cases[c];
		cr_assert_eq(tc->n_inputs, 2);
		cr_assert_eq(tc->n_expected, 1);
		for (uint32_t i = 0; i < 2; i++) {
			cr_assert_eq(tc->inputs[i].kind, INFD_VALUE_TENSOR);
			cr_assert_eq(tc->inputs[i].dtype, INFD_DTYPE_INT32);
			cr_assert_eq(tc->inputs[i].rank, 2);
			expect_int32s(tc->inputs[i].data, 4, 0);
		}
		expect_int32s(tc->expected[0].data, 4, 2);
	}
	/* The embedded program: Layout B with the old 24-byte header. */
	struct infd_program *p = must_parse(b->program, (size_t)b->program_size);
	cr_assert(p->has_ext_header);
	cr_assert_eq(p->ext_header_len, 24);
	cr_assert_eq(p->program_size, 1584);
	cr_assert_eq(p->segment_base_offset, 1664);
	cr_assert_eq(p->segment_data_size, 0);
	cr_assert_eq(p->n_segments, 1);
	cr_assert_not(p->constants_legacy);
	cr_assert_eq(p->n_constants, 3);
	cr_assert_eq(p->constant_segment_bytes, 32);
	cr_assert_eq(p->constants[1] - p->data, 1664);
	cr_assert_eq(p->constants[2] - p->data, 1680);
	expect_int32s(p->constants[1], 4, 3);
	expect_int32s(p->constants[2], 4, 2);
	const struct infd_method_def *m = method(p, "forward");
	cr_assert_eq(m->n_values, 9);
	const int32_t s22[2] = {2, 2};
	cr_assert_eq(tensor(m, 0)->data, p->constants[1]);
	cr_assert_eq(tensor(m, 1)->data, p->constants[2]);
	expect_planned(m, 2, INFD_DTYPE_INT32, 2, s22, 16);
	expect_planned(m, 3, INFD_DTYPE_INT32, 2, s22, 32);
	expect_planned(m, 4, INFD_DTYPE_INT32, 2, s22, 0);
	expect_planned(m, 5, INFD_DTYPE_INT32, 2, s22, 16);
	expect_planned(m, 7, INFD_DTYPE_INT32, 2, s22, 0);
	cr_assert_eq(m->values[6].u.i, 1);
	cr_assert_eq(m->values[8].u.i, 1);
	cr_assert_eq(m->n_inputs, 2);
	cr_assert_eq(m->inputs[0], 2);
	cr_assert_eq(m->inputs[1], 3);
	cr_assert_eq(m->outputs[0], 7);
	cr_assert_eq(m->buffer_sizes[0], 48);
	expect_op(m, 0, "aten::mul", "out");
	expect_op(m, 1, "aten::add", "out");
	expect_instr(m, 0, 0, 4, (const int32_t[]){0, 2, 4, 4});
	expect_instr(m, 1, 1, 5, (const int32_t[]){4, 1, 6, 5, 5});
	expect_instr(m, 2, 1, 5, (const int32_t[]){5, 3, 8, 7, 7});
	infd__program_close(p);
	/* And the test cases pass on our runtime: 3*0 + 2 + 0 = 2. */
	uint32_t failed = 99;
	cr_assert_eq(infd__bundled_verify(runtime(), b, 1e-5, 1e-8, NULL, NULL, &failed, &e), INFD_OK, "%s", e.msg);
	cr_assert_eq(failed, 0);
	infd__bundled_close(b);
	free(f.p);
}

/* Facts from shared/testdata/models/NAME.json. */
struct model_facts {
	const char *file;
	uint64_t program_size, segment_base_offset, segment_data_size;
	uint32_t n_values, n_instrs, n_constants;
	uint64_t constant_bytes, planned;
	int32_t in_value;
	uint64_t in_offset;
	uint32_t in_rank;
	int32_t in_sizes[4];
	int32_t out_value;
	uint64_t out_offset;
	uint32_t out_rank;
	int32_t out_sizes[4];
	const char *ops[11];
};

static const struct model_facts models[] = {
	{"models/audio_conv1d.pte", 10872, 10880, 91632, 184, 27, 26, 91632, 256128, 0, 128064, 3, {1, 1, 8000}, 181,
	 0, 2, {1, 12},
	 {"aten::convolution.out", "aten::_native_batch_norm_legit_no_training.out", "aten::relu.out",
	  "aten::unsqueeze_copy.out", "aten::max_pool2d_with_indices.out", "aten::squeeze_copy.dims_out",
	  "aten::mean.out", "aten::permute_copy.out", "aten::addmm.out", "aten::_log_softmax.out"}},
	{"models/cnn_small.pte", 5936, 6016, 46952, 99, 10, 14, 46952, 65536, 0, 32768, 4, {1, 3, 32, 32}, 96, 45056,
	 2, {1, 10},
	 {"aten::convolution.out", "aten::_native_batch_norm_legit_no_training.out", "aten::relu.out",
	  "aten::max_pool2d_with_indices.out", "aten::permute_copy.out", "aten::addmm.out"}},
	{"models/cnn_small_xnnpack.pte", 1696, 1792, 49192, 2, 1, 0, 0, 12336, 0, 0, 4, {1, 3, 32, 32}, 1, 12288, 2,
	 {1, 10}, {NULL}},
	{"models/transformer.pte", 8832, 8832, 199936, 128, 29, 12, 199936, 102400, 0, 61440, 3, {1, 16, 64}, 121,
	 4096, 3, {1, 16, 64},
	 {"aten::permute_copy.out", "aten::addmm.out", "aten::split_copy.Tensor_out", "aten::clone.out",
	  "aten::div.Scalar_out", "aten::bmm.out", "aten::_softmax.out", "aten::add.out",
	  "aten::native_layer_norm.out", "aten::relu.out"}},
};

static void check_model(const struct model_facts *mf)
{
	T_REQUIRE_TESTDATA(path, mf->file);
	struct buf f = load(path);
	struct infd_program *p = must_parse(f.p, f.n);
	cr_assert(p->has_ext_header);
	cr_assert_eq(p->ext_header_len, 32);
	cr_assert_eq(p->program_size, mf->program_size);
	cr_assert_eq(p->segment_base_offset, mf->segment_base_offset);
	cr_assert_eq(p->segment_data_size, mf->segment_data_size);
	cr_assert_eq(f.n, mf->segment_base_offset + mf->segment_data_size);
	cr_assert_eq(p->n_methods, 1);
	const struct infd_method_def *m = method(p, "forward");
	cr_assert_eq(m->n_values, mf->n_values);
	cr_assert_eq(m->chains[0].n_instrs, mf->n_instrs);
	cr_assert_eq(p->n_constants, mf->n_constants ? mf->n_constants + 1 : 0, "%u constants", p->n_constants);
	cr_assert_eq(m->constant_bytes, mf->constant_bytes, "%llu constant bytes",
		     (unsigned long long)m->constant_bytes);
	cr_assert_eq(m->n_buffers, 1);
	cr_assert_eq(m->buffer_sizes[0], mf->planned);
	cr_assert_eq(m->n_inputs, 1);
	cr_assert_eq(m->inputs[0], mf->in_value);
	expect_planned(m, (uint32_t)mf->in_value, INFD_DTYPE_FLOAT32, mf->in_rank, mf->in_sizes, mf->in_offset);
	cr_assert_eq(m->n_outputs, 1);
	cr_assert_eq(m->outputs[0], mf->out_value);
	expect_planned(m, (uint32_t)mf->out_value, INFD_DTYPE_FLOAT32, mf->out_rank, mf->out_sizes, mf->out_offset);
	uint32_t n_ops = 0;
	while (n_ops < 11 && mf->ops[n_ops])
		n_ops++;
	cr_assert_eq(m->n_operators, n_ops);
	for (uint32_t i = 0; i < n_ops; i++)
		cr_assert_str_eq(m->operators[i].key, mf->ops[i]);
	/* Every KernelCall names an operator; every constant lies in the segment. */
	for (uint32_t k = 0; k < m->chains[0].n_instrs; k++)
		if (m->chains[0].instrs[k].kind == INFD_INSTR_KERNEL)
			cr_assert_lt(m->chains[0].instrs[k].a, (int32_t)n_ops);
	for (uint32_t t = 0; t < m->n_tensors; t++)
		if (m->tensors[t].storage == INFD_STORAGE_CONSTANT && m->tensors[t].nbytes)
			cr_assert_geq(m->tensors[t].data - p->data, (ptrdiff_t)mf->segment_base_offset);
	if (n_ops == 0) {
		/* The XNNPACK model: one delegate in a segment, weights in named data. */
		cr_assert_eq(m->n_delegates, 1);
		cr_assert_str_eq(m->delegates[0].id, "XnnpackBackend");
		cr_assert_not(m->delegates[0].inline_data);
		cr_assert_eq(m->delegates[0].payload_size, 2432);
		cr_assert_eq(memcmp(m->delegates[0].payload + 4, "XH00", 4), 0);
		cr_assert_eq(m->chains[0].instrs[0].kind, INFD_INSTR_DELEGATE);
		cr_assert_eq(p->n_named, 6);
		uint64_t named = 0;
		for (uint32_t i = 0; i < p->n_named; i++) {
			cr_assert_eq(strlen(p->named[i].key), 64, "sha-256 hex key");
			named += p->named[i].size;
		}
		cr_assert_eq(named, 46568);
	}
	infd__program_close(p);
	free(f.p);
}

Test(real, audio_conv1d) { check_model(&models[0]); }
Test(real, cnn_small) { check_model(&models[1]); }
Test(real, cnn_small_xnnpack) { check_model(&models[2]); }
Test(real, transformer) { check_model(&models[3]); }

/* ---- Truncation: every prefix (dense sample for big files) ---------------------------- */

/* Feed prefixes of `f`. When `all_fail`, every strict prefix must be refused
 * (Layout B files whose segment data runs to the end of the file, or files whose
 * last byte is referenced). Prefixes shorter than 64 bytes always fail. */
static void truncations(const struct buf *f, bool all_fail, const char *what)
{
	size_t dense = f->n < 4096 ? f->n : 4096, spread = f->n > dense ? (f->n - dense) / 300 + 1 : 1;
	uint32_t parsed = 0;
	for (size_t n = 0; n < f->n; n = n < dense ? n + 1 : n + spread) {
		infd_status st = try_bytes(f->p, n, true, what, n);
		if (st == INFD_OK)
			parsed++;
		cr_assert(st != INFD_OK || (!all_fail && n >= 64), "%s: the first %zu of %zu bytes parse", what, n, f->n);
		if (n >= dense && n + spread >= f->n && n != f->n - 1)
			n = f->n - 1 - spread; /* end with the longest prefix */
	}
	cr_assert_eq(try_bytes(f->p, f->n, true, what, f->n), INFD_OK, "%s: the whole file must parse", what);
	cr_log_info("%s: %u of the prefixes parse", what, parsed);
}

static void truncate_file(const char *rel, bool all_fail)
{
	T_REQUIRE_TESTDATA(path, rel);
	struct buf f = load(path);
	truncations(&f, all_fail, rel);
	free(f.p);
}

Test(truncate, add_pte) { truncate_file("pte/add.pte", true); /* ends with the method name's NUL */ }
Test(truncate, module_linear_pte) { truncate_file("pte/module_linear.pte", false); }
Test(truncate, stories260k_qnn_pte, .timeout = 120) { truncate_file("pte/stories260k_qnn.pte", true); }
Test(truncate, audio_conv1d) { truncate_file("models/audio_conv1d.pte", true); }
Test(truncate, cnn_small) { truncate_file("models/cnn_small.pte", true); }
Test(truncate, cnn_small_xnnpack) { truncate_file("models/cnn_small_xnnpack.pte", true); }
Test(truncate, transformer) { truncate_file("models/transformer.pte", true); }

Test(truncate, bundled_inner_pte)
{
	T_REQUIRE_TESTDATA(path, "pte/bundled_add_mul.bpte");
	struct buf f = load(path);
	struct buf inner = dup_buf(f.p + 0x40, 1696);
	truncations(&inner, true, "bundled_add_mul.bpte inner .pte");
	free(inner.p);
	free(f.p);
}

Test(truncate, bundled_bpte)
{
	T_REQUIRE_TESTDATA(path, "pte/bundled_add_mul.bpte");
	struct buf f = load(path);
	for (size_t n = 0; n <= f.n; n++) {
		struct buf c = dup_buf(f.p, n);
		struct infd_bundled *b;
		struct infd_error e = {0};
		infd_status st = infd__bundled_parse(c.p, c.n, &b, &e);
		if (n < 0x40 + 1696)
			cr_assert_neq(st, INFD_OK, "a %zu-byte prefix cut into the embedded program but parses", n);
		if (st == INFD_OK)
			infd__bundled_close(b);
		free(c.p);
	}
	free(f.p);
}

Test(truncate, writer_segment_program)
{
	struct buf f = basic_program(false);
	truncations(&f, true, "writer program (constant segment)");
	free(f.p);
}

Test(truncate, writer_legacy_program)
{
	struct buf f = basic_program(true);
	truncations(&f, false, "writer program (inline constants)");
	free(f.p);
}

Test(truncate, writer_rich_programs)
{
	struct buf f = rich_program(false), g = rich_program(true);
	truncations(&f, true, "writer program (delegate segment)");
	truncations(&g, true, "writer program (inline delegate, mutable segment)");
	free(f.p);
	free(g.p);
}

/* ---- Corruption: deterministic pseudo-random byte edits ----------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* 1..4 edits, mostly inside the first `hot` bytes (the flatbuffer). */
static void corrupt(uint8_t *p, size_t n, size_t hot)
{
	static const uint32_t words[] = {0, 1, 2, 4, 7, 8, 16, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff,
					 0x80000000, 0xfffffff0, 0xfffffffc, 0xffffffff};
	int edits = 1 + (int)(rnd() % 4);
	for (int k = 0; k < edits; k++) {
		size_t pos = (rnd() % 8 == 0 ? rnd() % n : rnd() % hot);
		size_t w = pos & ~(size_t)3;
		uint32_t v;
		switch (rnd() % 6) {
		case 0:
			p[pos] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1:
			p[pos] = (uint8_t)rnd();
			break;
		case 2:
			p[pos] = rnd() & 1 ? 0 : 0xff;
			break;
		case 3:
			if (w + 4 <= n) {
				v = rnd() % 4 == 0 ? (uint32_t)(n - w) + (uint32_t)(rnd() % 9) - 4u
						   : words[rnd() % (sizeof words / sizeof words[0])];
				memcpy(p + w, &v, 4);
			}
			break;
		case 4:
			if (w + 4 <= n) {
				memcpy(&v, p + w, 4);
				v += (uint32_t)(int32_t)((int)(rnd() % 33) - 16);
				memcpy(p + w, &v, 4);
			}
			break;
		default: {
			size_t src = (rnd() % hot) & ~(size_t)3;
			if (w + 4 <= n && src + 4 <= n)
				memmove(p + w, p + src, 4);
		}
		}
	}
}

static size_t hot_bytes(const struct buf *f)
{
	/* The flatbuffer (program_size) plus a little of the segment data. */
	if (f->n >= 24 && memcmp(f->p + 8, "eh00", 4) == 0) {
		uint64_t ps;
		memcpy(&ps, f->p + 16, 8);
		if (ps >= 64 && ps + 256 <= f->n)
			return (size_t)ps + 256;
	}
	return f->n;
}

static void corruptions(const struct buf *f, uint32_t rounds, const char *what)
{
	size_t hot = hot_bytes(f);
	uint8_t *work = malloc(f->n);
	cr_assert_not_null(work);
	uint32_t parsed = 0;
	rng = 0x9E3779B97F4A7C15u ^ f->n;
	for (uint32_t r = 0; r < rounds; r++) {
		memcpy(work, f->p, f->n);
		corrupt(work, f->n, hot);
		if (try_bytes(work, f->n, f->n < (1u << 20), what, r) == INFD_OK)
			parsed++;
	}
	cr_log_info("%s: %u of %u corrupted copies still parse", what, parsed, rounds);
	free(work);
}

static void corrupt_file(const char *rel, uint32_t rounds)
{
	T_REQUIRE_TESTDATA(path, rel);
	struct buf f = load(path);
	corruptions(&f, rounds, rel);
	free(f.p);
}

Test(corrupt, add_pte) { corrupt_file("pte/add.pte", 20000); }
Test(corrupt, module_linear_pte) { corrupt_file("pte/module_linear.pte", 20000); }
Test(corrupt, stories260k_qnn_pte, .timeout = 120) { corrupt_file("pte/stories260k_qnn.pte", 2000); }
Test(corrupt, audio_conv1d) { corrupt_file("models/audio_conv1d.pte", 5000); }
Test(corrupt, cnn_small) { corrupt_file("models/cnn_small.pte", 5000); }
Test(corrupt, cnn_small_xnnpack) { corrupt_file("models/cnn_small_xnnpack.pte", 5000); }
Test(corrupt, transformer) { corrupt_file("models/transformer.pte", 5000); }

Test(corrupt, bundled_inner_pte)
{
	T_REQUIRE_TESTDATA(path, "pte/bundled_add_mul.bpte");
	struct buf f = load(path);
	struct buf inner = dup_buf(f.p + 0x40, 1696);
	corruptions(&inner, 20000, "bundled_add_mul.bpte inner .pte");
	free(inner.p);
	free(f.p);
}

/* Largest planned-arena total over the methods of a program that parses. */
static uint64_t planned_bytes(const uint8_t *d, size_t n)
{
	struct infd_program *p;
	struct infd_error e;
	uint64_t most = 0;
	if (parse(d, n, &p, &e) != INFD_OK)
		return UINT64_MAX;
	for (uint32_t mi = 0; mi < p->n_methods; mi++) {
		uint64_t sum = 0;
		for (uint32_t b = 0; b < p->methods[mi].n_buffers; b++)
			sum += p->methods[mi].buffer_sizes[b];
		most = sum > most ? sum : most;
	}
	infd__program_close(p);
	return most;
}

/* Corrupt a whole .bpte; what parses is verified (which loads and runs the
 * embedded program with the bundled inputs). */
static void corrupt_bundled(const struct buf *f, uint32_t rounds, const char *what)
{
	uint8_t *work = malloc(f->n);
	cr_assert_not_null(work);
	rng = 0x2545F4914F6CDD1Du ^ f->n;
	for (uint32_t r = 0; r < rounds; r++) {
		memcpy(work, f->p, f->n);
		corrupt(work, f->n, f->n);
		struct buf c = dup_buf(work, f->n);
		struct infd_bundled *b;
		struct infd_error e = {0};
		if (infd__bundled_parse(c.p, c.n, &b, &e) == INFD_OK) {
			cr_assert(b->program >= c.p && b->program_size <= (uint64_t)(c.p + c.n - b->program),
				  "%s (case %u): embedded program outside the file", what, r);
			if (try_bytes(b->program, (size_t)b->program_size, true, what, r) == INFD_OK &&
			    planned_bytes(b->program, (size_t)b->program_size) <= RUN_MAX_ARENA) {
				uint32_t failed;
				infd__bundled_verify(runtime(), b, 1e-5, 1e-8, NULL, NULL, &failed, &e);
			}
			infd__bundled_close(b);
		} else {
			cr_assert(e.msg[0], "%s (case %u): failure without a message", what, r);
		}
		free(c.p);
	}
	free(work);
}

Test(corrupt, bundled_bpte)
{
	T_REQUIRE_TESTDATA(path, "pte/bundled_add_mul.bpte");
	struct buf f = load(path);
	corrupt_bundled(&f, 3000, "bundled_add_mul.bpte");
	free(f.p);
}

Test(corrupt, writer_bpte)
{
	struct buf f = bundled_program();
	corrupt_bundled(&f, 3000, "writer .bpte");
	free(f.p);
}

Test(corrupt, writer_programs)
{
	struct buf f[4] = {basic_program(false), basic_program(true), rich_program(false), rich_program(true)};
	static const char *const names[4] = {"writer segment program", "writer legacy program",
					     "writer delegate-segment program", "writer inline-delegate program"};
	for (int i = 0; i < 4; i++) {
		corruptions(&f[i], 10000, names[i]);
		free(f[i].p);
	}
}

/* ---- Hand-patched hostile files: the status and where the message points ------------- */

static char name_buf[8][96];
static unsigned name_next;

/* "values[N]", for needles. */
static const char *vname(long v)
{
	char *b = name_buf[name_next++ % 8];
	snprintf(b, sizeof name_buf[0], "values[%ld]", v);
	return b;
}

Test(hostile, writer_programs_are_sound)
{
	/* The base programs the other hostile tests patch must themselves be fine. */
	struct buf f = basic_program(false), g = basic_program(true), h = rich_program(false);
	struct infd_program *p = must_parse(f.p, f.n);
	cr_assert(p->has_ext_header);
	cr_assert_eq(p->n_methods, 2);
	const struct infd_method_def *m = method(p, "forward");
	cr_assert_eq(m->values[ids.int_list].kind, INFD_VALUE_INT_LIST);
	cr_assert_eq(m->values[ids.opt_list].u.list.indices[1], -1);
	cr_assert_str_eq(m->values[ids.str].u.str.ptr, "hello");
	expect_floats(tensor(m, ids.c)->data, 4, 3.0f);
	const int32_t s22[2] = {2, 2};
	const float x[4] = {1, 2, 3, 4}, want[4] = {4, 8, 12, 16};
	run_floats(p, "forward", 1, (const float *const[]){x}, s22, 2, want, 4);
	infd__program_close(p);
	p = must_parse(g.p, g.n);
	cr_assert_not(p->has_ext_header);
	cr_assert(p->constants_legacy);
	run_floats(p, "forward", 1, (const float *const[]){x}, s22, 2, want, 4);
	infd__program_close(p);
	p = must_parse(h.p, h.n);
	cr_assert_eq(exercise(p, true), 2, "stateful and control run");
	infd__program_close(p);
	free(f.p);
	free(g.p);
	free(h.p);
}

Test(hostile, small_files)
{
	struct buf f = basic_program(true);
	for (size_t n = 0; n < 64; n++)
		expect_error(f.p, n, INFD_BAD_FORMAT, "too small", "64");
	struct infd_program *p;
	struct infd_error e = {0};
	cr_assert_eq(infd__program_parse(NULL, 0, &p, &e), INFD_BAD_FORMAT);
	free(f.p);
}

Test(hostile, identifiers)
{
	struct buf f = basic_program(false);
	memcpy(f.p + 4, "ET13", 4);
	expect_error(f.p, f.n, INFD_UNSUPPORTED, "ET13", "not supported");
	memcpy(f.p + 4, "XY12", 4);
	expect_error(f.p, f.n, INFD_BAD_FORMAT, "not an ExecuTorch program", "ET12");
	free(f.p);
	struct buf b = bundled_program();
	expect_error(b.p, b.n, INFD_BAD_FORMAT, "bundled program", "BP08");
	free(b.p);
}

Test(hostile, extended_header)
{
	struct buf f = basic_program(false);
	uint64_t ps;
	memcpy(&ps, f.p + 16, 8);
	struct buf c = dup_buf(f.p, f.n);
	walk_size = c.n;
	wr32(c.p, 12, 16);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "extended header", "length 16");
	memcpy(c.p, f.p, f.n);
	wr64(c.p, 16, f.n + 1);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "program_size", "outside");
	memcpy(c.p, f.p, f.n);
	wr64(c.p, 16, 40);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "program_size", NULL);
	memcpy(c.p, f.p, f.n);
	wr64(c.p, 24, 64); /* segment base inside the flatbuffer */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "segment_base_offset", NULL);
	memcpy(c.p, f.p, f.n);
	wr64(c.p, 32, f.n); /* segment_data_size past the end */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "extended header", "past the end");
	/* Cutting into the segment data. */
	expect_error(f.p, f.n - 1, INFD_BAD_FORMAT, "past the end", NULL);
	free(c.p);
	free(f.p);
}

Test(hostile, old_header_segment_past_eof)
{
	/* 24-byte headers have no segment_data_size: the segment table alone must
	 * catch segment bytes past the end of the file. */
	struct buf f = basic_program(false);
	walk_size = f.n;
	wr32(f.p, 12, 24);
	wr64(f.p, 32, 0);
	uint32_t seg0 = elem(f.p, ref(f.p, root_of(&f), 4), 0);
	uint64_t base;
	memcpy(&base, f.p + 24, 8);
	wr64(f.p, field(f.p, seg0, 1), f.n - base + 1);
	expect_error(f.p, f.n, INFD_BAD_FORMAT, "segments[0]", "past the end");
	free(f.p);
}

Test(hostile, root_and_vtables)
{
	struct buf f = basic_program(false);
	struct buf c = dup_buf(f.p, f.n);
	uint32_t root = root_of(&c), vt = vtable_of(c.p, root);
	wr32(c.p, 0, 0xFFFFFFF0);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "root table offset", NULL);
	wr32(c.p, 0, 4);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "root table offset", NULL);
	wr32(c.p, 0, root + 2);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "not 4-byte aligned", NULL);
	memcpy(c.p, f.p, f.n);
	wr32(c.p, root, 0x7FFFFFF0); /* vtable before the buffer */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "vtable", "outside the buffer");
	wr32(c.p, root, (uint32_t)-(int32_t)c.n); /* vtable after the end */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "vtable", "outside the buffer");
	memcpy(c.p, f.p, f.n);
	c.p[vt] = 7; /* odd vtable size */
	c.p[vt + 1] = 0;
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "vtable", "bad size 7");
	c.p[vt] = 0xFE; /* 65534 */
	c.p[vt + 1] = 0xFF;
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "vtable", "bad size 65534");
	memcpy(c.p, f.p, f.n);
	c.p[vt + 2] = 0xFF; /* inline size past the end */
	c.p[vt + 3] = 0xFF;
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "inline bytes", NULL);
	memcpy(c.p, f.p, f.n);
	c.p[vt + 4 + 2] = 0xF0; /* execution_plan field far outside the table */
	c.p[vt + 4 + 3] = 0xFF;
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "execution_plan", "outside the buffer");
	memcpy(c.p, f.p, f.n);
	c.p[vt + 4 + 2] = 0; /* execution_plan absent */
	c.p[vt + 4 + 3] = 0;
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "required field 'execution_plan'", NULL);
	free(c.p);
	free(f.p);
}

Test(hostile, vectors_and_strings)
{
	struct buf f = basic_program(false);
	struct buf c = dup_buf(f.p, f.n);
	uint32_t plans = ref(c.p, root_of(&c), 1);
	wr32(c.p, plans, 0xFFFFFFF0);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "execution_plan", "4294967280 elements");
	memcpy(c.p, f.p, f.n);
	uint32_t values = ref(c.p, plan(&c, 0), 2);
	wr32(c.p, values, 1000000);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "execution_plan[0]", "'values'");
	memcpy(c.p, f.p, f.n);
	uint32_t p0 = plan(&c, 0);
	wr32(c.p, field(c.p, p0, 2), 0x7FFFFFF0); /* values: uoffset out of the buffer */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "'values'", "offset points outside");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, plans + 4, rd32(c.p, plans + 4) + 2); /* execution_plan[0] misaligned */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "execution_plan[0]", "aligned");
	memcpy(c.p, f.p, f.n);
	uint32_t name = ref(c.p, p0, 0), len = rd32(c.p, name);
	cr_assert_eq(len, 7);
	c.p[name + 4 + len] = 'X';
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "'name'", "not NUL-terminated");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, name, 0x7FFFFFF0);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "'name'", "past the buffer end");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, name, (uint32_t)(c.n - name - 4)); /* the NUL would be the first byte past the end */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "'name'", "past the buffer end");
	free(c.p);
	free(f.p);
}

Test(hostile, evalue_tags)
{
	struct buf f = basic_program(false);
	uint32_t tag = field(f.p, evalue(&f, 0, (uint32_t)ids.one), 0);
	f.p[tag] = 0;
	expect_error(f.p, f.n, INFD_BAD_FORMAT, vname(ids.one), "val_type 0");
	f.p[tag] = 200;
	expect_error(f.p, f.n, INFD_BAD_FORMAT, vname(ids.one), "val_type 200");
	f.p[tag] = 12;
	expect_error(f.p, f.n, INFD_BAD_FORMAT, vname(ids.one), "val_type 12");
	free(f.p);
}

Test(hostile, instructions)
{
	struct buf f = basic_program(false);
	struct buf c = dup_buf(f.p, f.n);
	c.p[field(c.p, instruction(&c, 0, 0), 0)] = 9;
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[0]", "instr_args_type 9");
	c.p[field(c.p, instruction(&c, 0, 0), 0)] = 0;
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[0]", "instr_args_type 0");
	memcpy(c.p, f.p, f.n);
	uint32_t call = ref(c.p, instruction(&c, 0, 1), 1);
	wr32(c.p, field(c.p, call, 0), 7);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "chains[0].instructions[1]", "op_index = 7");
	wr32(c.p, field(c.p, call, 0), (uint32_t)-1);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[1]", "op_index = -1");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, vec_item(&c, call, 1, 1, 4), 999);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[1]", "args[1] = 999");
	wr32(c.p, vec_item(&c, call, 1, 1, 4), (uint32_t)-5);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[1]", "args[1] = -5");
	memcpy(c.p, f.p, f.n);
	uint32_t p0 = plan(&c, 0);
	wr32(c.p, vec_item(&c, p0, 3, 0, 4), 77);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "execution_plan[0]", "inputs[0] = 77");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, vec_item(&c, p0, 4, 0, 4), (uint32_t)-1);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "execution_plan[0]", "outputs[0] = -1");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, vec_item(&c, p0, 3, 0, 4), (uint32_t)ids.int_list);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "input 0", "int list");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, ref(c.p, p0, 5), 0); /* no chains */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "execution_plan[0]", "no chains");
	free(c.p);
	free(f.p);
}

Test(hostile, control_flow_instructions)
{
	struct buf f = rich_program(false);
	struct buf c = dup_buf(f.p, f.n);
	/* "control": 0 jump_false(no, 2), 1 move(a, b), 2 add, 3 free(loose); values
	 * a=0, b=1, no=2, loose=3, one=4. */
	uint32_t jump = ref(c.p, instruction(&c, 2, 0), 1);
	wr32(c.p, field(c.p, jump, 1), 9);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "execution_plan[2].chains[0].instructions[0]",
		     "destination_instruction = 9");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, field(c.p, jump, 0), 4);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[0]", "condition value 4 is a int");
	wr32(c.p, field(c.p, jump, 0), 40);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[0]", "cond_value_index = 40");
	memcpy(c.p, f.p, f.n);
	uint32_t move = ref(c.p, instruction(&c, 2, 1), 1);
	wr32(c.p, field(c.p, move, 1), 50);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[1]", "move_to = 50");
	memcpy(c.p, f.p, f.n);
	uint32_t fr = ref(c.p, instruction(&c, 2, 3), 1);
	wr32(c.p, field(c.p, fr, 0), 4);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[3]", "value 4 is a int");
	wr32(c.p, field(c.p, fr, 0), 0x7FFFFFFF);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[3]", "value_index = 2147483647");
	free(c.p);
	free(f.p);
}

Test(hostile, lists)
{
	struct buf f = basic_program(false);
	struct buf c = dup_buf(f.p, f.n);
	const char *where = vname(ids.int_list);
	uint32_t il = value_table(&c, 0, (uint32_t)ids.int_list);
	wr64(c.p, vec_item(&c, il, 0, 0, 8), (uint64_t)ids.int_list + 1); /* a later value */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "items[0]");
	wr64(c.p, vec_item(&c, il, 0, 0, 8), (uint64_t)ids.int_list); /* itself */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "earlier value");
	wr64(c.p, vec_item(&c, il, 0, 1, 8), UINT64_C(1) << 40);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "items");
	memcpy(c.p, f.p, f.n);
	wr64(c.p, vec_item(&c, il, 0, 1, 8), (uint64_t)ids.x); /* a tensor */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "items[1] = value 0 is a tensor");
	memcpy(c.p, f.p, f.n);
	where = vname(ids.tensor_list);
	uint32_t tl = value_table(&c, 0, (uint32_t)ids.tensor_list);
	wr32(c.p, vec_item(&c, tl, 0, 1, 4), (uint32_t)ids.one);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "is a int, expected a tensor");
	wr32(c.p, vec_item(&c, tl, 0, 1, 4), (uint32_t)-1); /* None only in optional lists */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "items[1] = -1");
	memcpy(c.p, f.p, f.n);
	where = vname(ids.opt_list);
	uint32_t ol = value_table(&c, 0, (uint32_t)ids.opt_list);
	wr32(c.p, vec_item(&c, ol, 0, 1, 4), (uint32_t)-2);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "items[1] = -2");
	wr32(c.p, vec_item(&c, ol, 0, 1, 4), (uint32_t)ids.dbl);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "items[1]");
	memcpy(c.p, f.p, f.n);
	uint32_t sv = value_table(&c, 0, (uint32_t)ids.str);
	wr32(c.p, field(c.p, sv, 0), 0x40000000);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, vname(ids.str), "string_val");
	free(c.p);
	free(f.p);
}

Test(hostile, tensors)
{
	struct buf f = basic_program(false);
	struct buf c = dup_buf(f.p, f.n);
	const char *where = vname(ids.x);
	uint32_t tx = value_table(&c, 0, (uint32_t)ids.x);
	wr32(c.p, ref(c.p, tx, 2), 17);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "rank 17");
	memcpy(c.p, f.p, f.n);
	uint32_t order = ref(c.p, tx, 3);
	c.p[order + 4] = 1; /* [1, 1] */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "dim_order is not a permutation");
	c.p[order + 4] = 5; /* [5, 1] */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "dim_order is not a permutation");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, order, 1); /* dim_order shorter than sizes */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "dim_order has 1 entries for rank 2");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, vec_item(&c, tx, 2, 1, 4), (uint32_t)-2);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "sizes[1] = -2");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, vec_item(&c, tx, 2, 0, 4), 0x7FFFFFFF);
	wr32(c.p, vec_item(&c, tx, 2, 1, 4), 0x7FFFFFFF);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, NULL); /* too big for its arena, or overflow */
	memcpy(c.p, f.p, f.n);
	c.p[field(c.p, tx, 0)] = 9; /* a complex dtype */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "scalar_type 9");
	c.p[field(c.p, tx, 0)] = 0x80;
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "scalar_type -128");
	free(c.p);
	free(f.p);
}

Test(hostile, planned_memory)
{
	struct buf f = basic_program(false);
	struct buf c = dup_buf(f.p, f.n);
	const char *where = vname(ids.x);
	uint32_t alloc = ref(c.p, value_table(&c, 0, (uint32_t)ids.x), 6);
	wr32(c.p, field(c.p, alloc, 0), 0);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "memory_id 0");
	wr32(c.p, field(c.p, alloc, 0), 2);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "memory_id 2");
	memcpy(c.p, f.p, f.n);
	uint32_t p0 = plan(&c, 0);
	wr64(c.p, vec_item(&c, p0, 8, 1, 8), 8); /* arena smaller than x */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, where, "outside planned buffer 1");
	wr64(c.p, vec_item(&c, p0, 8, 1, 8), (uint64_t)-16);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "non_const_buffer_sizes[1]", NULL);
	memcpy(c.p, f.p, f.n);
	uint32_t ay = ref(c.p, value_table(&c, 0, (uint32_t)ids.y), 6);
	wr32(c.p, field(c.p, ay, 1), 0xFFFFFFF0);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, vname(ids.y), "outside planned buffer");
	wr32(c.p, field(c.p, ay, 1), 2); /* not a multiple of 4 */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, vname(ids.y), "aligned");
	free(c.p);
	free(f.p);
}

Test(hostile, constants)
{
	struct buf f = basic_program(false);
	struct buf c = dup_buf(f.p, f.n);
	uint32_t tc = value_table(&c, 0, (uint32_t)ids.c);
	wr32(c.p, field(c.p, tc, 5), 99);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, vname(ids.c), "data_buffer_idx 99");
	memcpy(c.p, f.p, f.n);
	uint32_t root = root_of(&c), cs = ref(c.p, root, 5);
	uint32_t seg0 = elem(c.p, ref(c.p, root, 4), 0);
	uint64_t seg_size;
	memcpy(&seg_size, c.p + field(c.p, seg0, 1), 8);
	/* The bias constant (index 2, 16 bytes) starting 8 bytes before the segment end. */
	wr64(c.p, vec_item(&c, cs, 1, 2, 8), seg_size - 8);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, vname(ids.bias), "run past its storage");
	wr64(c.p, vec_item(&c, cs, 1, 2, 8), UINT64_C(1) << 40);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "constant_segment.offsets[2]", "lies past");
	memcpy(c.p, f.p, f.n);
	wr64(c.p, field(c.p, seg0, 1), 20); /* segment shorter than its constants */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, vname(ids.bias), "run past its storage");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, ref(c.p, root, 4), 0); /* no segments at all */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "constant_segment", "segment_index 0 out of range");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, ref(c.p, root, 2), 1); /* constant_buffer and constant_segment both */
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "constant_buffer", "constant_segment");
	free(c.p);
	free(f.p);

	struct buf g = basic_program(true);
	uint32_t tcl = value_table(&g, 0, (uint32_t)ids.c);
	wr32(g.p, field(g.p, tcl, 5), 7);
	expect_error(g.p, g.n, INFD_BAD_FORMAT, vname(ids.c), "data_buffer_idx 7");
	wr32(g.p, field(g.p, tcl, 5), 2); /* the 16-byte bias holds a [2,2] float tensor: fine */
	struct infd_program *p = must_parse(g.p, g.n);
	infd__program_close(p);
	free(g.p);
}

Test(hostile, delegates)
{
	struct buf f = rich_program(false);
	struct buf c = dup_buf(f.p, f.n);
	uint32_t del = elem(c.p, ref(c.p, plan(&c, 0), 7), 0);
	uint32_t processed = ref(c.p, del, 1);
	wr32(c.p, field(c.p, processed, 1), 9);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "delegates[0]", "segment 9 out of range");
	memcpy(c.p, f.p, f.n);
	c.p[field(c.p, processed, 0)] = 3;
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "delegates[0]", "data location 3");
	memcpy(c.p, f.p, f.n);
	uint32_t spec = elem(c.p, ref(c.p, del, 2), 0);
	wr32(c.p, ref(c.p, spec, 1), 0x10000000);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "compile_specs[0]", "'value'");
	free(c.p);
	free(f.p);

	struct buf g = rich_program(true);
	wr32(g.p, ref(g.p, root_of(&g), 3), 0); /* backend_delegate_data emptied */
	expect_error(g.p, g.n, INFD_BAD_FORMAT, "delegates[0]", "inline payload index 0 out of range");
	free(g.p);
}

Test(hostile, mutable_data)
{
	struct buf f = rich_program(true);
	uint32_t root = root_of(&f);
	uint32_t mds = elem(f.p, ref(f.p, root, 6), 0);
	/* The mutable blob (index 1, 16 bytes) moved to 8 bytes before the segment end. */
	uint32_t seg = rd32(f.p, field(f.p, mds, 0));
	uint32_t segt = elem(f.p, ref(f.p, root, 4), seg);
	uint64_t size;
	memcpy(&size, f.p + field(f.p, segt, 1), 8);
	struct buf c = dup_buf(f.p, f.n);
	wr64(c.p, vec_item(&c, mds, 1, 1, 8), size - 8);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "values[0]", "mutable data entry 1");
	wr64(c.p, vec_item(&c, mds, 1, 1, 8), size + 1);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "mutable_data_segments[0].offsets[1]", NULL);
	memcpy(c.p, f.p, f.n);
	wr32(c.p, field(c.p, mds, 0), 77);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "mutable_data_segments[0]", "segment_index 77");
	free(c.p);
	free(f.p);
}

Test(hostile, shape_dynamism)
{
	struct buf f = rich_program(false);
	/* "stateful" input x (value 1) is DYNAMIC_BOUND: the field is present. */
	uint32_t pos = field(f.p, value_table(&f, 1, 1), 8);
	cr_assert_eq(f.p[pos], 1);
	f.p[pos] = 2;
	expect_error(f.p, f.n, INFD_UNSUPPORTED, "execution_plan[1].values[1]", "DYNAMIC_UNBOUND");
	f.p[pos] = 7;
	expect_error(f.p, f.n, INFD_BAD_FORMAT, "execution_plan[1].values[1]", "shape_dynamism 7");
	free(f.p);

	/* The writer can state DYNAMIC_UNBOUND directly. */
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	const int32_t s4[1] = {4};
	int32_t x = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4,
		.dynamism = INFD_SHAPE_DYNAMIC_UNBOUND});
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &x);
	struct buf g = finish(w);
	expect_error(g.p, g.n, INFD_UNSUPPORTED, "values[0]", "DYNAMIC_UNBOUND");
	free(g.p);
}

Test(hostile, real_file_patches)
{
	/* The same checks on the real files' own layout (vtables shared across types,
	 * absent default fields, vtables after their tables). */
	T_REQUIRE_TESTDATA(path, "pte/add.pte");
	struct buf f = load(path);
	struct buf c = dup_buf(f.p, f.n);
	c.p[field(c.p, evalue(&c, 0, 3), 0)] = 0;
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "values[3]", "val_type 0");
	memcpy(c.p, f.p, f.n);
	uint32_t alloc0 = ref(c.p, value_table(&c, 0, 0), 6);
	wr32(c.p, field(c.p, alloc0, 0), 0);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "values[0]", "memory_id 0");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, vec_item(&c, ref(c.p, instruction(&c, 0, 0), 1), 1, 4, 4), 4);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "instructions[0]", "args[4] = 4");
	memcpy(c.p, f.p, f.n);
	wr32(c.p, ref(c.p, value_table(&c, 0, 2), 2), 17);
	expect_error(c.p, c.n, INFD_BAD_FORMAT, "values[2]", "rank 17");
	free(c.p);
	free(f.p);

	T_REQUIRE_TESTDATA(bpath, "pte/bundled_add_mul.bpte");
	struct buf b = load(bpath);
	struct buf inner = dup_buf(b.p + 0x40, 1696);
	walk_size = inner.n;
	wr32(inner.p, 12, 20);
	expect_error(inner.p, inner.n, INFD_BAD_FORMAT, "extended header", "length 20");
	memcpy(inner.p, b.p + 0x40, 1696);
	expect_error(inner.p, 1680, INFD_BAD_FORMAT, "segments[0]", "past the end");
	uint32_t cs = ref(inner.p, root_of(&inner), 5);
	wr64(inner.p, vec_item(&inner, cs, 1, 2, 8), 24);
	expect_error(inner.p, inner.n, INFD_BAD_FORMAT, "values[1]", "run past its storage");
	free(inner.p);
	free(b.p);
}

Test(hostile, bundled_containers)
{
	struct buf f = bundled_program();
	struct infd_bundled *b;
	struct infd_error e = {0};
	struct buf c = dup_buf(f.p, f.n);
	uint32_t root = root_of(&c);
	wr32(c.p, ref(c.p, root, 2), 0x7FFFFFF0);
	cr_assert_eq(infd__bundled_parse(c.p, c.n, &b, &e), INFD_BAD_FORMAT);
	cr_assert(strstr(e.msg, "program"), "%s", e.msg);
	memcpy(c.p, f.p, f.n);
	uint32_t suite = elem(c.p, ref(c.p, root, 1), 0), tcase = elem(c.p, ref(c.p, suite, 1), 0);
	uint32_t val = elem(c.p, ref(c.p, tcase, 0), 0);
	c.p[field(c.p, val, 0)] = 9;
	cr_assert_eq(infd__bundled_parse(c.p, c.n, &b, &e), INFD_BAD_FORMAT);
	cr_assert(strstr(e.msg, "test_cases[0].inputs[0]") && strstr(e.msg, "val_type 9"), "%s", e.msg);
	memcpy(c.p, f.p, f.n);
	uint32_t t = ref(c.p, val, 1);
	wr32(c.p, ref(c.p, t, 2), 15); /* 15 data bytes for 16 */
	cr_assert_eq(infd__bundled_parse(c.p, c.n, &b, &e), INFD_BAD_FORMAT);
	cr_assert(strstr(e.msg, "inputs[0]") && strstr(e.msg, "15 data bytes"), "%s", e.msg);
	memcpy(c.p, f.p, f.n);
	memcpy(c.p + 4, "BP07", 4);
	cr_assert_eq(infd__bundled_parse(c.p, c.n, &b, &e), INFD_BAD_FORMAT);
	cr_assert(strstr(e.msg, "BP08"), "%s", e.msg);
	free(c.p);
	free(f.p);
}

/* ---- Huge claims: fail fast, or cost what the file size justifies ----------------------- */

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void put32(uint8_t *b, size_t p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[p + i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *b, size_t p, uint16_t v)
{
	b[p] = (uint8_t)v;
	b[p + 1] = (uint8_t)(v >> 8);
}

/* A hand-written flatbuffer: one method "forward" whose `n` values all point at a
 * single Null EValue table (legal: tables may be shared). */
static struct buf shared_null_program(uint32_t n)
{
	size_t e = 172 + 4 * (size_t)n, size = e + 16;
	struct buf b = {.p = calloc(1, size), .n = size};
	cr_assert_not_null(b.p);
	put32(b.p, 0, 16);
	memcpy(b.p + 4, "ET12", 4);
	put16(b.p, 8, 8);             /* Program vtable: 2 slots */
	put16(b.p, 10, 8);
	put16(b.p, 14, 4);            /* execution_plan at +4 */
	put32(b.p, 16, 8);            /* Program table, vtable 8 bytes before */
	put32(b.p, 20, 24 - 20);      /* -> plans vector at 24 */
	put32(b.p, 24, 1);
	put32(b.p, 28, 56 - 28);      /* -> plan table at 56 */
	static const uint16_t slots[9] = {4, 0, 8, 12, 16, 20, 24, 28, 32};
	put16(b.p, 32, 22);           /* plan vtable at 32: 9 slots */
	put16(b.p, 34, 40);
	for (int s = 0; s < 9; s++)
		put16(b.p, 36 + 2 * s, slots[s]);
	put32(b.p, 56, 56 - 32);
	static const uint32_t targets[9] = {96, 0, 168, 108, 112, 136, 116, 120, 124};
	for (int s = 0; s < 9; s++)
		if (slots[s])
			put32(b.p, 56 + slots[s], targets[s] - (56 + slots[s]));
	put32(b.p, 96, 7);
	memcpy(b.p + 100, "forward", 8);
	/* 108 inputs [], 112 outputs [], 116 operators [], 120 delegates [] (zeros) */
	put32(b.p, 124, 1);           /* non_const_buffer_sizes [0], data 8-aligned at 128 */
	put32(b.p, 136, 1);           /* chains: one */
	put32(b.p, 140, 156 - 140);
	put16(b.p, 144, 10);          /* chain vtable: instructions at +4 */
	put16(b.p, 146, 8);
	put16(b.p, 152, 4);
	put32(b.p, 156, 156 - 144);
	put32(b.p, 160, 164 - 160);   /* -> instructions [] at 164 */
	put32(b.p, 168, n);           /* values */
	for (uint32_t i = 0; i < n; i++)
		put32(b.p, 172 + 4 * (size_t)i, (uint32_t)(e + 8 - (172 + 4 * (size_t)i)));
	put16(b.p, e, 6);             /* EValue vtable: val_type at +4 */
	put16(b.p, e + 2, 8);
	put16(b.p, e + 4, 4);
	put32(b.p, e + 8, 8);
	b.p[e + 12] = INFD_VALUE_NULL;
	return b;
}

Test(huge, claimed_counts_fail_fast)
{
	struct buf f = basic_program(false);
	static const uint32_t counts[] = {1000000, 0x3FFFFFFF, 0x7FFFFFFF, 0xFFFFFFF0, 0xFFFFFFFF};
	uint32_t where[4];
	uint32_t p0 = plan(&f, 0);
	where[0] = ref(f.p, p0, 2);                              /* values */
	where[1] = ref(f.p, ref(f.p, instruction(&f, 0, 1), 1), 1); /* args */
	where[2] = ref(f.p, root_of(&f), 1);                     /* execution_plan */
	where[3] = ref(f.p, value_table(&f, 0, (uint32_t)ids.int_list), 0); /* IntList items */
	double t0 = seconds();
	for (int w = 0; w < 4; w++)
		for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
			struct buf c = dup_buf(f.p, f.n);
			wr32(c.p, where[w], counts[k]);
			expect_error(c.p, c.n, INFD_BAD_FORMAT, "runs past the buffer end", NULL);
			free(c.p);
		}
	cr_assert_lt(seconds() - t0, 1.0, "refusing impossible counts took %.2f s", seconds() - t0);
	free(f.p);
}

Test(huge, million_shared_values)
{
	/* 4 MB of file legitimately describing 1e6 values: decoding is linear. */
	struct buf f = shared_null_program(1000000);
	double t0 = seconds();
	struct infd_program *p = must_parse(f.p, f.n);
	cr_assert_eq(p->methods[0].n_values, 1000000);
	cr_assert_eq(p->methods[0].values[999999].kind, INFD_VALUE_NULL);
	cr_assert_eq(exercise(p, true), 1);
	double dt = seconds() - t0;
	cr_assert_lt(dt, 5.0, "1e6 values took %.2f s", dt);
	infd__program_close(p);
	struct buf small = shared_null_program(3);
	p = must_parse(small.p, small.n);
	cr_assert_eq(p->methods[0].n_values, 3);
	infd__program_close(p);
	free(small.p);
	free(f.p);
}

Test(huge, many_distinct_constants_decode_in_linear_time, .timeout = 60)
{
	/* 40,000 distinct 4-byte constant tensors (a few MB). Decoding should take a
	 * few milliseconds; a pairwise pass over the constants takes seconds (and
	 * minutes for 100,000). */
	const uint32_t n = 40000;
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	const int32_t one[1] = {1};
	int32_t first = -1;
	for (uint32_t i = 0; i < n; i++) {
		int32_t distinct = (int32_t)i; /* the writer stores equal constants once */
		int32_t v = infd__pte_const_tensor(m, INFD_DTYPE_INT32, 1, one, &distinct);
		if (first < 0)
			first = v;
	}
	infd__pte_outputs(m, 1, &first);
	struct buf f = finish(w);
	double t0 = seconds();
	struct infd_program *p = must_parse(f.p, f.n);
	double dt = seconds() - t0;
	cr_assert_eq(p->methods[0].n_tensors, n);
	cr_assert_eq(p->methods[0].constant_bytes, 4 * (uint64_t)n);
	cr_assert_lt(dt, 1.0, "decoding %u constant tensors took %.1f s (quadratic?)", n, dt);
	infd__program_close(p);
	free(f.p);
}

/* ---- Regressions for reader/executor bugs found while writing these tests --------------- */

Test(found, zero_size_segment_offset_is_checked)
{
	/* A zero-length segment's offset is not checked against the file, so a
	 * delegate payload (or named-data blob) pointer can land anywhere. */
	struct buf f = rich_program(false);
	uint32_t del = elem(f.p, ref(f.p, plan(&f, 0), 7), 0);
	uint32_t seg = rd32(f.p, field(f.p, ref(f.p, del, 1), 1));
	uint32_t st = elem(f.p, ref(f.p, root_of(&f), 4), seg);
	wr64(f.p, field(f.p, st, 1), 0);
	static const uint64_t offsets[] = {UINT64_C(1) << 40, UINT64_C(0xFFFFFFFFFFFFFF00)};
	for (int k = 0; k < 2; k++) {
		wr64(f.p, field(f.p, st, 0), offsets[k]);
		struct infd_program *p = NULL;
		struct infd_error e;
		if (parse(f.p, f.n, &p, &e) == INFD_OK) {
			const char *why = invariant_breach(p);
			infd__program_close(p);
			cr_assert_null(why, "segment %u {offset 0x%llx, size 0}: %s", seg, (unsigned long long)offsets[k],
				       why);
		} else {
			cr_assert(strstr(e.msg, "segments["), "%s", e.msg);
		}
	}
	free(f.p);
}

Test(found, zero_element_tensor_with_huge_dims)
{
	/* sizes [0, 2^31-1 x 15]: numel 0, but the strides of the other dimensions
	 * would overflow int64. The reader bounds the product of the non-zero sizes
	 * too, so such a tensor is refused at parse time, naming it. */
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t sizes[16];
	sizes[0] = 0;
	for (int d = 1; d < 16; d++)
		sizes[d] = 0x7FFFFFFF;
	int32_t v = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 16,
		.sizes = sizes});
	infd__pte_outputs(m, 1, &v);
	struct buf f = finish(w);
	expect_error(f.p, f.n, INFD_BAD_FORMAT, "values[0]", "overflows");
	free(f.p);
}

Test(found, unaligned_program_bytes)
{
	/* program.h: constants point into the bytes, so a program at an odd address
	 * is refused with a message naming the misaligned constant (no unaligned
	 * float access ever reaches a kernel); the same bytes copied in parse. */
	struct buf f = basic_program(true);
	uint8_t *odd = malloc(f.n + 1);
	cr_assert_not_null(odd);
	memcpy(odd + 1, f.p, f.n);
	struct infd_program *p;
	struct infd_error e = {0};
	cr_assert_eq(infd__program_parse(odd + 1, f.n, &p, &e), INFD_BAD_FORMAT);
	cr_assert(strstr(e.msg, "not aligned"), "%s", e.msg);
	cr_assert_eq(infd__program_open_copy(odd + 1, f.n, &p, &e), INFD_OK, "%s", e.msg);
	infd__program_close(p);
	free(odd);
	free(f.p);
}
