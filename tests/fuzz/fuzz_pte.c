/* libFuzzer harness for the program reader: parse the input as a .pte (or as a
 * .bpte plus its embedded program), check what program.h promises about the
 * result, then load every small method, bind zero inputs, execute and free. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/bundled.h"
#include "runtime/program.h"
#include "runtime/runtime.h"

#define MAX_METHODS 32          /* methods loaded per input */
#define MAX_PLANNED (4u << 20)  /* skip methods planning more arena bytes */
#define MAX_INPUT (1u << 20)    /* skip executing with bigger inputs */
#define MAX_CASES 16            /* bundled test cases run per input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok, const char *what, uint32_t a, uint32_t b)
{
	if (!ok) {
		fprintf(stderr, "fuzz_pte: decoded program breaks an invariant: %s (%u, %u)\n", what, a, b);
		abort();
	}
}

static bool inside(const struct infd_program *p, const void *ptr, uint64_t len)
{
	const uint8_t *q = ptr;
	return q >= p->data && q <= p->data + p->size && len <= (uint64_t)(p->data + p->size - q);
}

static bool str_inside(const struct infd_program *p, const char *s)
{
	return s && inside(p, s, strlen(s) + 1);
}

static bool index_ok(int32_t i, uint32_t n)
{
	return i >= 0 && (uint32_t)i < n;
}

/* Everything reachable is inside the file and every index is in range. */
static void check_program(const struct infd_program *p)
{
	for (uint32_t k = 1; k < p->n_constants; k++)
		require(!p->constants[k] || inside(p, p->constants[k], p->constant_avail[k]), "constant", k, 0);
	for (uint32_t k = 1; k < p->n_mutable; k++)
		require(inside(p, p->mutable_data[k], p->mutable_avail[k]), "mutable data", k, 0);
	for (uint32_t k = 0; k < p->n_named; k++)
		require(str_inside(p, p->named[k].key) && inside(p, p->named[k].data, p->named[k].size), "named data",
			k, 0);
	for (uint32_t mi = 0; mi < p->n_methods; mi++) {
		const struct infd_method_def *m = &p->methods[mi];
		require(str_inside(p, m->name) && m->n_chains > 0, "method", mi, 0);
		for (uint32_t i = 0; i < m->n_operators; i++)
			require(str_inside(p, m->operators[i].name) && strlen(m->operators[i].key) < 100, "operator", mi, i);
		for (uint32_t i = 0; i < m->n_delegates; i++) {
			const struct infd_delegate_def *d = &m->delegates[i];
			require(str_inside(p, d->id) && inside(p, d->payload, d->payload_size), "delegate", mi, i);
			for (uint32_t s = 0; s < d->n_specs; s++)
				require(str_inside(p, d->specs[s].key) && inside(p, d->specs[s].value, d->specs[s].size),
					"compile spec", mi, i);
		}
		for (uint32_t v = 0; v < m->n_values; v++) {
			const struct infd_value_def *vd = &m->values[v];
			require(vd->kind >= INFD_VALUE_NULL && vd->kind <= INFD_VALUE_OPT_TENSOR_LIST, "value kind", mi, v);
			if (vd->kind == INFD_VALUE_STRING)
				require(inside(p, vd->u.str.ptr, (uint64_t)vd->u.str.len + 1) && !vd->u.str.ptr[vd->u.str.len],
					"string", mi, v);
			if (vd->kind == INFD_VALUE_INT_LIST || vd->kind == INFD_VALUE_TENSOR_LIST ||
			    vd->kind == INFD_VALUE_OPT_TENSOR_LIST)
				for (uint32_t j = 0; j < vd->u.list.count; j++)
					require(vd->u.list.indices[j] == -1 ? vd->kind == INFD_VALUE_OPT_TENSOR_LIST
									    : index_ok(vd->u.list.indices[j], v),
						"list item", mi, v);
			if (vd->kind != INFD_VALUE_TENSOR)
				continue;
			const struct infd_tensor_def *t = vd->u.tensor;
			require(t->rank <= INFD_MAX_RANK && infd_dtype_valid(t->dtype), "tensor", mi, v);
			if (t->storage == INFD_STORAGE_CONSTANT && t->data)
				require(inside(p, t->data, t->nbytes), "constant tensor bytes", mi, v);
			if (t->storage == INFD_STORAGE_PLANNED)
				require(t->memory_id >= 1 && t->memory_id <= m->n_buffers &&
						t->memory_offset <= m->buffer_sizes[t->memory_id - 1] &&
						t->nbytes <= m->buffer_sizes[t->memory_id - 1] - t->memory_offset &&
						(!t->data || inside(p, t->data, t->nbytes)),
					"planned tensor", mi, v);
		}
		for (uint32_t i = 0; i < m->n_inputs; i++)
			require(index_ok(m->inputs[i], m->n_values), "input", mi, i);
		for (uint32_t i = 0; i < m->n_outputs; i++)
			require(index_ok(m->outputs[i], m->n_values), "output", mi, i);
		for (uint32_t c = 0; c < m->n_chains; c++)
			for (uint32_t k = 0; k < m->chains[c].n_instrs; k++) {
				const struct infd_instr_def *in = &m->chains[c].instrs[k];
				for (uint32_t j = 0; j < in->n_args; j++)
					require(index_ok(in->args[j], m->n_values), "instruction argument", mi, k);
				if (in->kind == INFD_INSTR_KERNEL)
					require(index_ok(in->a, m->n_operators), "op_index", mi, k);
				if (in->kind == INFD_INSTR_DELEGATE)
					require(index_ok(in->a, m->n_delegates), "delegate_index", mi, k);
				if (in->kind == INFD_INSTR_JUMP_FALSE)
					require(index_ok(in->b, m->chains[c].n_instrs + 1), "jump destination", mi, k);
			}
	}
}

static struct infd_runtime *runtime(void)
{
	static struct infd_runtime *rt;
	if (!rt && infd__runtime_create(NULL, &rt, NULL) != INFD_OK)
		abort();
	return rt;
}

/* Load, bind zeros (or the baked scalar), run and free every small method. */
static void run_methods(const struct infd_program *p)
{
	for (uint32_t mi = 0; mi < p->n_methods && mi < MAX_METHODS; mi++) {
		const struct infd_method_def *def = &p->methods[mi];
		uint64_t planned = 0;
		for (uint32_t b = 0; b < def->n_buffers; b++)
			planned += def->buffer_sizes[b];
		if (planned > MAX_PLANNED || infd__program_method(p, def->name) != def)
			continue;
		struct infd_method *m;
		if (infd__method_load(runtime(), p, def->name, NULL, &m, NULL) != INFD_OK)
			continue;
		/* Unplanned inputs adopt the caller's buffer: keep every one until the run is over. */
		uint32_t n_in = infd__method_n_inputs(m);
		void **zeros = calloc(n_in + 1, sizeof *zeros);
		bool bound = zeros != NULL;
		for (uint32_t i = 0; bound && i < n_in; i++) {
			struct infd_evalue *in = infd__method_input(m, i);
			if (in->kind != INFD_VALUE_TENSOR) {
				struct infd_evalue copy = *in;
				bound = infd__method_set_input(m, i, &copy, NULL) == INFD_OK;
				continue;
			}
			const struct infd_tensor_def *td = in->u.t->def;
			zeros[i] = td->nbytes <= MAX_INPUT ? calloc(1, (size_t)td->nbytes + 1) : NULL;
			bound = zeros[i] && infd__method_set_input_tensor(m, i, td->dtype, td->rank, td->sizes, zeros[i],
									  td->nbytes, NULL) == INFD_OK;
		}
		if (bound)
			(void)infd__method_execute(m, NULL);
		infd__method_free(m);
		for (uint32_t i = 0; zeros && i < n_in; i++)
			free(zeros[i]);
		free(zeros);
	}
}

static void fuzz_program(const uint8_t *data, size_t size)
{
	struct infd_program *p;
	struct infd_error err = {0};
	if (infd__program_parse(data, size, &p, &err) != INFD_OK) {
		require(err.status != INFD_OK && err.msg[0], "failure without a message", (uint32_t)err.status, 0);
		return;
	}
	check_program(p);
	run_methods(p);
	infd__program_close(p);
}

static void fuzz_bundled(const uint8_t *data, size_t size)
{
	struct infd_bundled *b;
	if (infd__bundled_parse(data, size, &b, NULL) != INFD_OK)
		return;
	require(b->program >= data && b->program_size <= (uint64_t)(data + size - b->program), "embedded program", 0,
		0);
	fuzz_program(b->program, (size_t)b->program_size);
	/* Verifying loads every suite's method: only when their plans are small. */
	struct infd_program *p = NULL;
	bool small = infd__program_parse(b->program, (size_t)b->program_size, &p, NULL) == INFD_OK;
	for (uint32_t mi = 0; small && mi < p->n_methods; mi++) {
		uint64_t planned = 0;
		for (uint32_t k = 0; k < p->methods[mi].n_buffers; k++)
			planned += p->methods[mi].buffer_sizes[k];
		small = planned <= MAX_PLANNED;
	}
	infd__program_close(p);
	uint32_t cases = 0;
	for (uint32_t s = 0; s < b->n_suites; s++)
		cases += b->suites[s].n_cases > MAX_CASES ? MAX_CASES + 1 : b->suites[s].n_cases;
	if (small && cases <= MAX_CASES) {
		uint32_t failed;
		(void)infd__bundled_verify(runtime(), b, 1e-5, 1e-8, NULL, NULL, &failed, NULL);
	}
	infd__bundled_close(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (infd__is_bundled(data, size))
		fuzz_bundled(data, size);
	else
		fuzz_program(data, size);
	return 0;
}
