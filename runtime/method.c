/* Loading and executing one method: the value table, planned arenas, placement
 * of instructions on backends (partitions), input binding and the interpreter
 * loop for moves, jumps and frees. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* The ExecuTorch runtime's guard against programs that loop forever. */
#define MAX_INSTRUCTIONS_PER_RUN 10000000u

static infd_status setup_arenas(struct infd_method *m, const struct infd_method_options *opt,
				struct infd_error *err)
{
	const struct infd_method_def *def = m->def;
	m->n_arenas = def->n_buffers;
	m->arenas = calloc(def->n_buffers ? def->n_buffers : 1, sizeof *m->arenas);
	m->arena_sizes = calloc(def->n_buffers ? def->n_buffers : 1, sizeof *m->arena_sizes);
	if (!m->arenas || !m->arena_sizes)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	if (opt && opt->buffers) {
		if (opt->n_buffers != def->n_buffers)
			return infd__fail(err, INFD_INVALID_ARGUMENT, "the plan has %u buffers, %u were supplied",
					  def->n_buffers, opt->n_buffers);
		for (uint32_t i = 0; i < def->n_buffers; i++) {
			uint64_t have = opt->buffer_sizes ? opt->buffer_sizes[i] : 0;
			if (have < def->buffer_sizes[i])
				return infd__fail(err, INFD_INVALID_ARGUMENT,
						  "supplied buffer %u has %llu bytes, the plan needs %llu", i + 1,
						  (unsigned long long)have, (unsigned long long)def->buffer_sizes[i]);
			if ((uintptr_t)opt->buffers[i] % 16)
				return infd__fail(err, INFD_INVALID_ARGUMENT, "supplied buffer %u is not 16-byte aligned",
						  i + 1);
			m->arenas[i] = opt->buffers[i];
			m->arena_sizes[i] = have;
		}
		return INFD_OK;
	}
	m->owns_arenas = true;
	for (uint32_t i = 0; i < def->n_buffers; i++) {
		uint64_t size = def->buffer_sizes[i];
		if (size == 0)
			continue;
		if (size > SIZE_MAX - 63)
			return infd__fail(err, INFD_NO_MEMORY, "planned buffer %u of %llu bytes is too large", i + 1,
					  (unsigned long long)size);
		m->arenas[i] = aligned_alloc(64, (size_t)((size + 63) & ~(uint64_t)63));
		if (!m->arenas[i])
			return infd__fail(err, INFD_NO_MEMORY, "cannot allocate planned buffer %u of %llu bytes", i + 1,
					  (unsigned long long)size);
		memset(m->arenas[i], 0, (size_t)size);
		m->arena_sizes[i] = size;
	}
	return INFD_OK;
}

static infd_status build_values(struct infd_method *m, struct infd_error *err)
{
	const struct infd_method_def *def = m->def;
	size_t n_items = 0;
	for (uint32_t i = 0; i < def->n_values; i++) {
		int k = def->values[i].kind;
		if (k == INFD_VALUE_INT_LIST || k == INFD_VALUE_TENSOR_LIST || k == INFD_VALUE_OPT_TENSOR_LIST)
			n_items += def->values[i].u.list.count;
	}
	m->values = calloc(def->n_values ? def->n_values : 1, sizeof *m->values);
	m->tensors = calloc(def->n_tensors ? def->n_tensors : 1, sizeof *m->tensors);
	m->list_items = calloc(n_items ? n_items : 1, sizeof *m->list_items);
	if (!m->values || !m->tensors || !m->list_items)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	struct infd_evalue **items = m->list_items;
	for (uint32_t i = 0; i < def->n_values; i++) {
		const struct infd_value_def *vd = &def->values[i];
		struct infd_evalue *v = &m->values[i];
		v->kind = vd->kind;
		switch (vd->kind) {
		case INFD_VALUE_INT:
			v->u.i = vd->u.i;
			break;
		case INFD_VALUE_BOOL:
			v->u.b = vd->u.b;
			break;
		case INFD_VALUE_DOUBLE:
			v->u.d = vd->u.d;
			break;
		case INFD_VALUE_STRING:
			v->u.str.ptr = vd->u.str.ptr;
			v->u.str.len = vd->u.str.len;
			break;
		case INFD_VALUE_DOUBLE_LIST:
			v->u.dlist.count = vd->u.list.count;
			v->u.dlist.v = vd->u.list.doubles;
			break;
		case INFD_VALUE_BOOL_LIST:
			v->u.blist.count = vd->u.list.count;
			v->u.blist.v = vd->u.list.bools;
			break;
		case INFD_VALUE_INT_LIST:
		case INFD_VALUE_TENSOR_LIST:
		case INFD_VALUE_OPT_TENSOR_LIST:
			v->u.list.count = vd->u.list.count;
			v->u.list.items = items;
			for (uint32_t j = 0; j < vd->u.list.count; j++) {
				int32_t idx = vd->u.list.indices[j];
				bool none = idx < 0 || def->values[idx].kind == INFD_VALUE_NULL;
				*items++ = none ? NULL : &m->values[idx];
			}
			break;
		case INFD_VALUE_TENSOR: {
			const struct infd_tensor_def *td = vd->u.tensor;
			struct infd_tensor *t = &m->tensors[td - def->tensors];
			t->def = td;
			t->dtype = td->dtype;
			t->rank = td->rank;
			memcpy(t->sizes, td->sizes, sizeof t->sizes);
			memcpy(t->dim_order, td->dim_order, sizeof t->dim_order);
			infd__tensor_update_layout(t);
			if (td->storage == INFD_STORAGE_CONSTANT) {
				t->data = (void *)td->data;
				t->is_const = true;
				t->capacity = td->nbytes;
			} else if (td->storage == INFD_STORAGE_PLANNED) {
				uint8_t *arena = m->arenas[td->memory_id - 1];
				t->data = arena ? arena + td->memory_offset : NULL;
				t->capacity = td->nbytes;
				if (td->data && t->data)
					memcpy(t->data, td->data, td->nbytes);
			}
			v->u.t = t;
			break;
		}
		default:
			break;
		}
	}
	return INFD_OK;
}

/* Append "name" to a ", "-separated list unless it is already there; a list
 * that no longer fits ends in "...". */
static void list_add(char *buf, size_t n, const char *name)
{
	size_t len = strlen(name), used = strlen(buf);
	for (const char *p = buf; *p;) {
		const char *end = strstr(p, ", ");
		size_t tok = end ? (size_t)(end - p) : strlen(p);
		if (tok == len && memcmp(p, name, len) == 0)
			return;
		p += tok + (end ? 2 : 0);
	}
	if (used >= 3 && strcmp(buf + used - 3, "...") == 0)
		return;
	if (used + 2 + len + 4 >= n) {
		snprintf(buf + used, n - used, "%s...", used ? ", " : "");
		return;
	}
	snprintf(buf + used, n - used, "%s%s", used ? ", " : "", name);
}

bool infd__value_mentions(const struct infd_method_def *def, int32_t arg, int32_t v)
{
	if (arg == v)
		return true;
	const struct infd_value_def *vd = &def->values[arg];
	if (vd->kind != INFD_VALUE_TENSOR_LIST && vd->kind != INFD_VALUE_OPT_TENSOR_LIST)
		return false;
	for (uint32_t i = 0; i < vd->u.list.count; i++)
		if (vd->u.list.indices[i] == v)
			return true;
	return false;
}

bool infd__partition_value_escapes(const struct infd_partition_desc *part, int32_t v)
{
	const struct infd_method_def *def = part->method;
	for (uint32_t i = 0; i < def->n_outputs; i++)
		if (def->outputs[i] == v)
			return true;
	for (uint32_t c = 0; c < def->n_chains; c++) {
		const struct infd_chain_def *ch = &def->chains[c];
		for (uint32_t k = 0; k < ch->n_instrs; k++) {
			if (c == part->chain && k >= part->first && k < part->first + part->n_instrs)
				continue;
			const struct infd_instr_def *in = &ch->instrs[k];
			if (in->kind == INFD_INSTR_KERNEL || in->kind == INFD_INSTR_DELEGATE) {
				for (uint32_t a = 0; a < in->n_args; a++)
					if (infd__value_mentions(def, in->args[a], v))
						return true;
			} else if ((in->kind == INFD_INSTR_MOVE && in->a == v) ||
				   (in->kind == INFD_INSTR_JUMP_FALSE && in->a == v)) {
				return true;
			}
		}
	}
	return false;
}

/* The backends an instruction may go to, in order: the method's device
 * preference list (each entry names a backend or a device kind; backends of one
 * kind keep the runtime's order), or every backend in runtime order; the
 * portable kernels always come last. */
static uint32_t backend_order(const struct infd_runtime *rt, const struct infd_method_options *opt,
			      uint32_t order[INFD_MAX_BACKENDS])
{
	uint32_t n = 0;
	bool used[INFD_MAX_BACKENDS] = {false};
	if (opt && opt->devices) {
		for (uint32_t d = 0; d < opt->n_devices; d++)
			for (uint32_t b = 0; b < rt->n_backends; b++)
				if (!used[b] && infd__runtime_backend_is(rt, b, opt->devices[d])) {
					used[b] = true;
					order[n++] = b;
				}
	} else {
		for (uint32_t b = 0; b < rt->n_backends; b++) {
			used[b] = true;
			order[n++] = b;
		}
	}
	uint32_t portable = rt->n_backends - 1;
	if (!used[portable])
		order[n++] = portable;
	return n;
}

/* Does backend `b` take instruction `in`? */
static bool backend_takes(const struct infd_method *m, uint32_t b, const struct infd_instr_def *in)
{
	const struct infd_backend *be = &m->rt->backends[b];
	if (in->kind == INFD_INSTR_KERNEL)
		return be->ops->supports && be->ops->supports(be->ctx, m->def, m->values, in);
	if (in->kind == INFD_INSTR_DELEGATE)
		return be->ops->claims_delegate && be->ops->claims_delegate(be->ctx, m->def->delegates[in->a].id);
	return false;
}

static int backend_for(const struct infd_method *m, const struct infd_instr_def *in)
{
	for (uint32_t o = 0; o < m->n_order; o++)
		if (backend_takes(m, m->order[o], in))
			return (int)m->order[o];
	return -1;
}

/* Group instructions into steps, one backend each; report every missing operator
 * and delegate at once. */
static infd_status place(struct infd_method *m, struct infd_error *err)
{
	const struct infd_method_def *def = m->def;
	char missing_ops[INFD_ERROR_MSG_MAX * 3 / 4] = "", missing_dels[INFD_ERROR_MSG_MAX / 8] = "";
	uint32_t total = 0;
	for (uint32_t c = 0; c < def->n_chains; c++)
		total += def->chains[c].n_instrs;
	m->steps = calloc(total ? total : 1, sizeof *m->steps);
	m->step_at = calloc(def->n_chains, sizeof *m->step_at);
	if (!m->steps || !m->step_at)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	for (uint32_t c = 0; c < def->n_chains; c++) {
		const struct infd_chain_def *ch = &def->chains[c];
		m->step_at[c] = malloc((ch->n_instrs ? ch->n_instrs : 1) * sizeof(int32_t));
		bool *target = calloc(ch->n_instrs + 1, sizeof *target);
		if (!m->step_at[c] || !target) {
			free(target);
			return infd__fail(err, INFD_NO_MEMORY, "out of memory");
		}
		for (uint32_t k = 0; k < ch->n_instrs; k++) {
			m->step_at[c][k] = -1;
			if (ch->instrs[k].kind == INFD_INSTR_JUMP_FALSE)
				target[ch->instrs[k].b] = true;
		}
		struct infd_step *open = NULL;
		for (uint32_t k = 0; k < ch->n_instrs; k++) {
			const struct infd_instr_def *in = &ch->instrs[k];
			if (in->kind != INFD_INSTR_KERNEL && in->kind != INFD_INSTR_DELEGATE) {
				open = NULL;
				continue;
			}
			int b = backend_for(m, in);
			if (b < 0) {
				if (in->kind == INFD_INSTR_KERNEL)
					list_add(missing_ops, sizeof missing_ops, def->operators[in->a].key);
				else
					list_add(missing_dels, sizeof missing_dels, def->delegates[in->a].id);
				open = NULL;
				continue;
			}
			if (open && in->kind == INFD_INSTR_KERNEL && open->backend == (uint32_t)b && !target[k] &&
			    def->chains[c].instrs[open->first].kind == INFD_INSTR_KERNEL) {
				open->count++;
				continue;
			}
			open = &m->steps[m->n_steps];
			m->step_at[c][k] = (int32_t)m->n_steps++;
			*open = (struct infd_step){.chain = c, .first = k, .count = 1, .backend = (uint32_t)b};
			if (in->kind == INFD_INSTR_DELEGATE)
				open = NULL;
		}
		free(target);
	}
	if (missing_ops[0] || missing_dels[0])
		return infd__fail(err, INFD_MISSING_OPERATOR, "method '%s' needs what no backend provides:%s%s%s%s",
				  def->name, missing_ops[0] ? " operators " : "", missing_ops,
				  missing_dels[0] ? (missing_ops[0] ? "; delegates " : " delegates ") : "", missing_dels);
	return INFD_OK;
}

static void note_fallback(struct infd_method *m, const char *why, const char *to)
{
	size_t old = m->fallback_notes ? strlen(m->fallback_notes) : 0;
	size_t add = strlen(why) + strlen(to) + 32;
	char *n = realloc(m->fallback_notes, old + add);
	if (!n)
		return; /* only a note */
	snprintf(n + old, add, "%s; they run on '%s'\n", why, to);
	m->fallback_notes = n;
}

/* The step's backend refused to prepare it (a plugin's init failed, a shader
 * did not compile): try the later backends of the method's order that take
 * every instruction of the step. When none succeeds, `err` keeps the first
 * refusal with the others appended; when one does, `err` is cleared. */
static infd_status prepare_fallback(struct infd_method *m, struct infd_step *st,
				    const struct infd_partition_desc *desc, infd_status rc, struct infd_error *err)
{
	uint32_t o = 0;
	while (o < m->n_order && m->order[o] != st->backend)
		o++;
	for (o++; o < m->n_order; o++) {
		uint32_t b = m->order[o];
		bool takes = true;
		for (uint32_t k = 0; takes && k < desc->n_instrs; k++)
			takes = backend_takes(m, b, desc->instrs[k]);
		if (!takes)
			continue;
		const struct infd_backend *be = &m->rt->backends[b];
		struct infd_error e2;
		infd__error_clear(&e2);
		st->prepared = NULL;
		if (be->ops->prepare(be->ctx, desc, &st->prepared, &e2) == INFD_OK) {
			note_fallback(m, err ? err->msg : "refused", be->ops->name);
			st->backend = b;
			infd__error_clear(err);
			return INFD_OK;
		}
		st->prepared = NULL;
		if (err) {
			size_t used = strlen(err->msg);
			snprintf(err->msg + used, sizeof err->msg - used, "; backend '%s' also refused: %s", be->ops->name,
				 e2.msg);
		}
	}
	return rc;
}

static infd_status prepare_steps(struct infd_method *m, struct infd_error *err)
{
	const struct infd_method_def *def = m->def;
	for (uint32_t s = 0; s < m->n_steps; s++) {
		struct infd_step *st = &m->steps[s];
		const struct infd_chain_def *ch = &def->chains[st->chain];
		const struct infd_instr_def *first = &ch->instrs[st->first];
		const struct infd_instr_def **instrs = malloc(st->count * sizeof *instrs);
		if (!instrs)
			return infd__fail(err, INFD_NO_MEMORY, "out of memory");
		for (uint32_t k = 0; k < st->count; k++)
			instrs[k] = &ch->instrs[st->first + k];
		struct infd_partition_desc desc = {
			.method = def,
			.program = m->prog,
			.values = m->values,
			.chain = st->chain,
			.first = st->first,
			.n_instrs = st->count,
			.instrs = instrs,
			.delegate = first->kind == INFD_INSTR_DELEGATE ? &def->delegates[first->a] : NULL,
			.n_threads = m->rt->opt.n_threads,
			.threadpool = m->rt->threadpool,
		};
		const struct infd_backend *be = &m->rt->backends[st->backend];
		infd_status rc = be->ops->prepare(be->ctx, &desc, &st->prepared, err);
		if (rc)
			rc = infd__fail_prefix(err, rc, "method '%s', instructions %u..%u on backend '%s': ", def->name,
					       st->first, st->first + st->count - 1, be->ops->name);
		if (rc && rc != INFD_NO_MEMORY)
			rc = prepare_fallback(m, st, &desc, rc, err);
		free(instrs);
		if (rc)
			return rc;
	}
	return INFD_OK;
}

infd_status infd__method_load(struct infd_runtime *rt, const struct infd_program *prog, const char *name,
			      const struct infd_method_options *opt, struct infd_method **out,
			      struct infd_error *err)
{
	const struct infd_method_def *def = infd__program_method(prog, name);
	if (!def) {
		char names[INFD_ERROR_MSG_MAX - 128] = "";
		for (uint32_t i = 0; i < prog->n_methods; i++)
			list_add(names, sizeof names, prog->methods[i].name);
		return infd__fail(err, INFD_NOT_FOUND, "the program has no method '%s' (it has: %s)", name,
				  names[0] ? names : "none");
	}
	struct infd_method *m = calloc(1, sizeof *m);
	if (!m)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	m->rt = rt;
	m->prog = prog;
	m->def = def;
	m->n_order = backend_order(rt, opt, m->order);
	infd_status st = setup_arenas(m, opt, err);
	if (st == INFD_OK)
		st = build_values(m, err);
	if (st == INFD_OK) {
		m->input_set = calloc(def->n_inputs ? def->n_inputs : 1, sizeof *m->input_set);
		if (!m->input_set)
			st = infd__fail(err, INFD_NO_MEMORY, "out of memory");
	}
	if (st == INFD_OK)
		st = place(m, err);
	if (st == INFD_OK)
		st = prepare_steps(m, err);
	if (st) {
		infd__method_free(m);
		return st;
	}
	*out = m;
	return INFD_OK;
}

void infd__method_free(struct infd_method *m)
{
	if (!m)
		return;
	for (uint32_t s = 0; s < m->n_steps; s++) {
		const struct infd_backend *be = &m->rt->backends[m->steps[s].backend];
		if (m->steps[s].prepared && be->ops->release)
			be->ops->release(be->ctx, m->steps[s].prepared);
	}
	if (m->step_at)
		for (uint32_t c = 0; c < m->def->n_chains; c++)
			free(m->step_at[c]);
	free(m->step_at);
	free(m->steps);
	if (m->owns_arenas && m->arenas)
		for (uint32_t i = 0; i < m->n_arenas; i++)
			free(m->arenas[i]);
	free(m->arenas);
	free(m->arena_sizes);
	free(m->input_set);
	free(m->list_items);
	free(m->tensors);
	free(m->values);
	free(m->fallback_notes);
	free(m);
}

uint32_t infd__method_n_inputs(const struct infd_method *m)
{
	return m->def->n_inputs;
}

uint32_t infd__method_n_outputs(const struct infd_method *m)
{
	return m->def->n_outputs;
}

struct infd_evalue *infd__method_input(struct infd_method *m, uint32_t i)
{
	return i < m->def->n_inputs ? &m->values[m->def->inputs[i]] : NULL;
}

struct infd_evalue *infd__method_output(struct infd_method *m, uint32_t i)
{
	return i < m->def->n_outputs ? &m->values[m->def->outputs[i]] : NULL;
}

static bool scalar_matches(const struct infd_evalue *have, const struct infd_evalue *src)
{
	switch (have->kind) {
	case INFD_VALUE_INT:
		return have->u.i == src->u.i;
	case INFD_VALUE_BOOL:
		return have->u.b == src->u.b;
	case INFD_VALUE_DOUBLE:
		return fabs(have->u.d - src->u.d) <= 1e-4 + 1e-5 * fabs(src->u.d) ||
		       (isnan(have->u.d) && isnan(src->u.d));
	case INFD_VALUE_STRING:
		return have->u.str.len == src->u.str.len && memcmp(have->u.str.ptr, src->u.str.ptr, src->u.str.len) == 0;
	case INFD_VALUE_NULL:
		return true;
	default:
		return false;
	}
}

infd_status infd__method_set_input(struct infd_method *m, uint32_t i, const struct infd_evalue *src,
				   struct infd_error *err)
{
	if (i >= m->def->n_inputs)
		return infd__fail(err, INFD_INVALID_ARGUMENT, "method '%s' has %u inputs; there is no input %u",
				  m->def->name, m->def->n_inputs, i);
	struct infd_evalue *dst = &m->values[m->def->inputs[i]];
	if (src->kind != dst->kind)
		return infd__fail(err, INFD_BAD_INPUT, "input %u of '%s' is a %s, got a %s", i, m->def->name,
				  infd__value_kind_name(dst->kind), infd__value_kind_name(src->kind));
	if (dst->kind != INFD_VALUE_TENSOR) {
		if (!scalar_matches(dst, src))
			return infd__fail(err, INFD_BAD_INPUT,
					  "input %u of '%s' is a %s baked into the program; the value given differs", i,
					  m->def->name, infd__value_kind_name(dst->kind));
		m->input_set[i] = true;
		return INFD_OK;
	}
	struct infd_tensor *t = dst->u.t;
	const struct infd_tensor *s = src->u.t;
	if (s->dtype != t->dtype)
		return infd__fail(err, INFD_BAD_INPUT, "input %u of '%s' is %s, got %s", i, m->def->name,
				  infd_dtype_name(t->dtype), infd_dtype_name(s->dtype));
	bool planned = t->def->storage == INFD_STORAGE_PLANNED || t->def->storage == INFD_STORAGE_CONSTANT;
	if (!planned)
		t->capacity = 0; /* adopting: the caller's buffer defines the size */
	infd_status st = infd__tensor_resize(t, s->rank, s->sizes, err);
	if (st) {
		char want[128];
		infd__fail_prefix(err, st, "input %u of '%s' (%s): ", i, m->def->name,
				  infd__tensor_describe(t, want, sizeof want));
		return st;
	}
	if (s->nbytes && !s->data)
		return infd__fail(err, INFD_BAD_INPUT, "input %u of '%s': no data given", i, m->def->name);
	if (planned) {
		if (t->is_const)
			return infd__fail(err, INFD_BAD_INPUT, "input %u of '%s' is a constant", i, m->def->name);
		if (s->data != t->data && s->nbytes)
			memmove(t->data, s->data, s->nbytes);
	} else {
		t->data = s->data;
		t->capacity = s->nbytes;
	}
	m->input_set[i] = true;
	return INFD_OK;
}

infd_status infd__method_set_input_tensor(struct infd_method *m, uint32_t i, int dtype, uint32_t rank,
					  const int32_t *sizes, const void *data, uint64_t nbytes,
					  struct infd_error *err)
{
	if (rank > INFD_MAX_RANK)
		return infd__fail(err, INFD_BAD_INPUT, "rank %u exceeds %d", rank, INFD_MAX_RANK);
	struct infd_tensor t = {.data = (void *)data, .dtype = (int8_t)dtype, .rank = (uint8_t)rank};
	for (uint32_t d = 0; d < rank; d++) {
		t.sizes[d] = sizes[d];
		t.dim_order[d] = (uint8_t)d;
	}
	infd__tensor_update_layout(&t);
	if (t.nbytes != nbytes)
		return infd__fail(err, INFD_BAD_INPUT, "input %u: %llu bytes given for a %s tensor of %llu bytes", i,
				  (unsigned long long)nbytes, infd_dtype_name(dtype), (unsigned long long)t.nbytes);
	struct infd_evalue v = {.kind = INFD_VALUE_TENSOR, .u.t = &t};
	return infd__method_set_input(m, i, &v, err);
}

static infd_status bind_one(struct infd_method *m, int32_t v, infd_bind_fn bind, void *ud, struct infd_error *err)
{
	struct infd_tensor *t = m->values[v].u.t;
	if (m->values[v].kind != INFD_VALUE_TENSOR || t->def->storage != INFD_STORAGE_NONE || t->data)
		return INFD_OK;
	void *buf = bind ? bind(ud, v, t->nbytes) : NULL;
	if (!buf && t->nbytes)
		return infd__fail(err, INFD_UNSUPPORTED, "method '%s': value %d has no planned memory and no buffer was given",
				  m->def->name, v);
	t->data = buf;
	t->capacity = t->nbytes;
	return INFD_OK;
}

infd_status infd__method_bind_in_place(struct infd_method *m, infd_bind_fn bind_unplanned, void *ud,
				       struct infd_error *err)
{
	const struct infd_method_def *def = m->def;
	for (uint32_t i = 0; i < def->n_inputs; i++) {
		infd_status st = bind_one(m, def->inputs[i], bind_unplanned, ud, err);
		if (st)
			return st;
		m->input_set[i] = true;
	}
	for (uint32_t i = 0; i < def->n_outputs; i++) {
		infd_status st = bind_one(m, def->outputs[i], bind_unplanned, ud, err);
		if (st)
			return st;
	}
	return INFD_OK;
}

static infd_status condition(const struct infd_evalue *v, bool *out, struct infd_error *err)
{
	if (v->kind == INFD_VALUE_BOOL) {
		*out = v->u.b;
		return INFD_OK;
	}
	if (v->kind != INFD_VALUE_TENSOR)
		return infd__fail(err, INFD_KERNEL_FAILED, "jump condition is a %s, not a bool", infd__value_kind_name(v->kind));
	const struct infd_tensor *t = v->u.t;
	if (t->dtype != INFD_DTYPE_BOOL || (t->numel && !t->data))
		return infd__fail(err, INFD_KERNEL_FAILED, "jump condition tensor is not a bool tensor with data");
	const uint8_t *p = t->data;
	*out = true;
	for (uint64_t k = 0; k < t->numel && *out; k++)
		*out = p[k] != 0;
	return INFD_OK;
}

infd_status infd__method_execute(struct infd_method *m, struct infd_error *err)
{
	const struct infd_method_def *def = m->def;
	for (uint32_t i = 0; i < def->n_inputs; i++)
		if (!m->input_set[i])
			return infd__fail(err, INFD_BAD_INPUT, "input %u of '%s' was not set", i, def->name);
	uint64_t budget = MAX_INSTRUCTIONS_PER_RUN;
	for (uint32_t c = 0; c < def->n_chains; c++) {
		const struct infd_chain_def *ch = &def->chains[c];
		uint32_t pc = 0;
		while (pc < ch->n_instrs) {
			if (budget-- == 0)
				return infd__fail(err, INFD_KERNEL_FAILED,
						  "method '%s' ran more than %u instructions; stopped (endless loop?)",
						  def->name, MAX_INSTRUCTIONS_PER_RUN);
			int32_t s = m->step_at[c][pc];
			if (s >= 0) {
				struct infd_step *step = &m->steps[s];
				const struct infd_backend *be = &m->rt->backends[step->backend];
				struct infd_lane *lane = m->rt->lanes[step->backend];
				infd_status st = lane ? infd__lane_run(lane, step->prepared, err)
						      : be->ops->execute(be->ctx, step->prepared, err);
				if (st)
					return infd__fail_prefix(err, st, "method '%s', chain %u, instructions %u..%u: ",
								 def->name, c, step->first, step->first + step->count - 1);
				m->instructions_executed += step->count;
				pc += step->count;
				continue;
			}
			const struct infd_instr_def *in = &ch->instrs[pc];
			m->instructions_executed++;
			switch (in->kind) {
			case INFD_INSTR_MOVE:
				m->values[in->b] = m->values[in->a];
				pc++;
				break;
			case INFD_INSTR_JUMP_FALSE: {
				bool cond;
				infd_status st = condition(&m->values[in->a], &cond, err);
				if (st)
					return infd__fail_prefix(err, st, "method '%s', instruction %u: ", def->name, pc);
				pc = cond ? pc + 1 : (uint32_t)in->b;
				break;
			}
			case INFD_INSTR_FREE: {
				struct infd_tensor *t = m->values[in->a].u.t;
				if (m->values[in->a].kind == INFD_VALUE_TENSOR && t->def &&
				    t->def->storage == INFD_STORAGE_NONE)
					t->data = NULL;
				pc++;
				break;
			}
			default:
				return infd__fail(err, INFD_INTERNAL, "method '%s', instruction %u was never placed",
						  def->name, pc);
			}
		}
	}
	return INFD_OK;
}

const char *infd__method_placement(const struct infd_method *m, uint32_t chain, uint32_t instr)
{
	if (chain >= m->def->n_chains || instr >= m->def->chains[chain].n_instrs)
		return NULL;
	for (uint32_t s = 0; s < m->n_steps; s++) {
		const struct infd_step *st = &m->steps[s];
		if (st->chain == chain && instr >= st->first && instr < st->first + st->count)
			return m->rt->backends[st->backend].ops->name;
	}
	return NULL;
}
