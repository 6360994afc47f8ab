/* The .pte program writer: calls collect a program in memory, finish() lays it
 * out through the flatbuffer builder (fb_builder.h) followed by its segments
 * (pte-format §2.9, §3.7). Also the input helpers the bundled writer shares. */
#include "pte_writer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb_builder.h"
#include "infd/dtype.h"
#include "program.h"

#define MAX_ARENAS 4096

/* ---- Helpers shared with the bundled writer (declared in pte_writer.h) ---- */

void infd__pte_note(struct infd_error *e, infd_status st, const char *fmt, ...)
{
	if (e->status != INFD_OK)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->status = st;
}

bool infd__pte_grow(struct infd_error *e, void **arr, uint32_t *cap, size_t elem)
{
	uint32_t n = *cap ? *cap * 2 : 8;
	void *p = *cap >= UINT32_MAX / 2 ? NULL : realloc(*arr, (size_t)n * elem);
	if (!p) {
		infd__pte_note(e, INFD_NO_MEMORY, "out of memory");
		return false;
	}
	*arr = p;
	*cap = n;
	return true;
}

void *infd__pte_dup(struct infd_error *e, const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	if (!q)
		infd__pte_note(e, INFD_NO_MEMORY, "out of memory");
	else if (n)
		memcpy(q, p, n);
	return q;
}

char *infd__pte_strdup(struct infd_error *e, const char *s)
{
	return infd__pte_dup(e, s, strlen(s) + 1);
}

bool infd__pte_shape_bytes(struct infd_error *e, const char *what, int dtype, uint32_t rank, const int32_t *sizes,
			   uint64_t *nbytes)
{
	if (!infd_dtype_valid(dtype)) {
		infd__pte_note(e, INFD_INVALID_ARGUMENT, "%s: invalid dtype %d", what, dtype);
		return false;
	}
	if (rank > INFD_MAX_RANK || (rank && !sizes)) {
		infd__pte_note(e, INFD_INVALID_ARGUMENT, "%s: rank %u invalid (max %d, sizes required)", what, rank,
			       INFD_MAX_RANK);
		return false;
	}
	uint64_t numel = 1;
	for (uint32_t i = 0; i < rank; i++) {
		if (sizes[i] < 0) {
			infd__pte_note(e, INFD_INVALID_ARGUMENT, "%s: negative size %d in dim %u", what, sizes[i], i);
			return false;
		}
		numel *= (uint64_t)sizes[i];
		if (numel > (UINT64_C(1) << 48)) {
			infd__pte_note(e, INFD_INVALID_ARGUMENT, "%s: too many elements", what);
			return false;
		}
	}
	*nbytes = numel * infd_dtype_size(dtype);
	return true;
}

bool infd__pte_dim_order(struct infd_error *e, const char *what, uint32_t rank, const uint8_t *in, uint8_t *out)
{
	uint32_t seen = 0;
	for (uint32_t i = 0; i < rank; i++) {
		out[i] = in ? in[i] : (uint8_t)i;
		if (out[i] >= rank || (seen & (1u << out[i]))) {
			infd__pte_note(e, INFD_INVALID_ARGUMENT, "%s: dim_order is not a permutation of 0..%u", what,
				       rank - 1);
			return false;
		}
		seen |= 1u << out[i];
	}
	return true;
}

/* ---- The program being built ---- */

struct blob {
	uint8_t *data;
	size_t size;
};

struct ptensor {
	int8_t dtype;
	uint8_t rank, dynamism;
	int32_t sizes[INFD_MAX_RANK];
	uint8_t dim_order[INFD_MAX_RANK];
	uint32_t data_buffer_idx, memory_id;
	uint64_t offset;
	char *fqn;
};

struct pvalue {
	uint8_t kind; /* enum infd_value_kind */
	union {
		int64_t i;
		bool b;
		double d;
		char *s;
		struct ptensor t;
		struct {
			uint32_t n;
			void *items; /* int64 (IntList), double, bool, or int32 */
		} list;
	} u;
};

struct pop {
	char *name, *overload;
};

struct pspec {
	char *key;
	uint8_t *value;
	size_t size;
};

struct pdelegate {
	char *id;
	uint32_t blob, n_specs;
	struct pspec *specs;
};

struct pinstr {
	uint8_t kind; /* enum infd_instr_kind */
	int32_t a, b;
	uint32_t n_args;
	int32_t *args;
};

struct infd_pte_method {
	struct infd_pte_writer *w;
	char *name;
	struct pvalue *values;
	uint32_t n_values, cap_values;
	int32_t *inputs, *outputs;
	uint32_t n_inputs, n_outputs;
	struct pop *ops;
	uint32_t n_ops, cap_ops;
	struct pdelegate *dels;
	uint32_t n_dels, cap_dels;
	struct pinstr *instrs;
	uint32_t n_instrs, cap_instrs;
	uint64_t *arena_decl, *arena_used; /* [memory_id - 1] */
	uint32_t n_arenas;
};

struct infd_pte_writer {
	struct infd_pte_writer_options opt;
	struct infd_error err;               /* the first mistake */
	struct blob *consts, *muts, *dblobs; /* consts/muts: entry 0 is the placeholder */
	uint32_t n_consts, cap_consts, n_muts, cap_muts, n_dblobs, cap_dblobs;
	struct infd_pte_method **methods;
	uint32_t n_methods, cap_methods;
};

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

void infd__pte_writer_options_default(struct infd_pte_writer_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->segment_alignment = 128;
	opt->tensor_alignment = 16;
}

struct infd_pte_writer *infd__pte_writer_create(const struct infd_pte_writer_options *opt)
{
	struct infd_pte_writer *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	infd__pte_writer_options_default(&w->opt);
	if (opt) {
		w->opt = *opt;
		if (!w->opt.segment_alignment)
			w->opt.segment_alignment = 128;
		if (!w->opt.tensor_alignment)
			w->opt.tensor_alignment = 16;
	}
	if (!is_pow2(w->opt.segment_alignment) || !is_pow2(w->opt.tensor_alignment) ||
	    w->opt.segment_alignment > (1u << 20) || w->opt.tensor_alignment > (1u << 20))
		infd__pte_note(&w->err, INFD_INVALID_ARGUMENT,
			       "segment_alignment %u and tensor_alignment %u must be powers of two <= 2^20",
			       w->opt.segment_alignment, w->opt.tensor_alignment);
	/* index 0 of the constant and mutable tables is the reserved placeholder */
	if (!INFD_PTE_PUSH(&w->err, w->consts, w->n_consts, w->cap_consts) ||
	    !INFD_PTE_PUSH(&w->err, w->muts, w->n_muts, w->cap_muts)) {
		infd__pte_writer_destroy(w);
		return NULL;
	}
	return w;
}

static void method_free(struct infd_pte_method *m)
{
	for (uint32_t i = 0; i < m->n_values; i++) {
		struct pvalue *v = &m->values[i];
		if (v->kind == INFD_VALUE_STRING)
			free(v->u.s);
		else if (v->kind == INFD_VALUE_TENSOR)
			free(v->u.t.fqn);
		else if (v->kind >= INFD_VALUE_INT_LIST)
			free(v->u.list.items);
	}
	for (uint32_t i = 0; i < m->n_ops; i++) {
		free(m->ops[i].name);
		free(m->ops[i].overload);
	}
	for (uint32_t i = 0; i < m->n_dels; i++) {
		for (uint32_t j = 0; j < m->dels[i].n_specs; j++) {
			free(m->dels[i].specs[j].key);
			free(m->dels[i].specs[j].value);
		}
		free(m->dels[i].specs);
		free(m->dels[i].id);
	}
	for (uint32_t i = 0; i < m->n_instrs; i++)
		free(m->instrs[i].args);
	free(m->values);
	free(m->inputs);
	free(m->outputs);
	free(m->ops);
	free(m->dels);
	free(m->instrs);
	free(m->arena_decl);
	free(m->arena_used);
	free(m->name);
	free(m);
}

void infd__pte_writer_destroy(struct infd_pte_writer *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; i < w->n_methods; i++)
		method_free(w->methods[i]);
	for (uint32_t i = 0; i < w->n_consts; i++)
		free(w->consts[i].data);
	for (uint32_t i = 0; i < w->n_muts; i++)
		free(w->muts[i].data);
	for (uint32_t i = 0; i < w->n_dblobs; i++)
		free(w->dblobs[i].data);
	free(w->consts);
	free(w->muts);
	free(w->dblobs);
	free(w->methods);
	free(w);
}

static uint32_t add_blob(struct infd_pte_writer *w, struct blob **arr, uint32_t *n, uint32_t *cap, const void *data,
			 size_t size, const char *what)
{
	if (!w || w->err.status)
		return 0;
	if (!data && size) {
		infd__pte_note(&w->err, INFD_INVALID_ARGUMENT, "%s: NULL data with size %zu", what, size);
		return 0;
	}
	uint8_t *copy = infd__pte_dup(&w->err, data, size);
	struct blob *bl = copy ? INFD_PTE_PUSH(&w->err, *arr, *n, *cap) : NULL;
	if (!bl) {
		free(copy);
		return 0;
	}
	bl->data = copy;
	bl->size = size;
	return *n - 1;
}

uint32_t infd__pte_constant(struct infd_pte_writer *w, const void *data, size_t size)
{
	return add_blob(w, &w->consts, &w->n_consts, &w->cap_consts, data, size, "constant");
}

uint32_t infd__pte_mutable(struct infd_pte_writer *w, const void *data, size_t size)
{
	return add_blob(w, &w->muts, &w->n_muts, &w->cap_muts, data, size, "mutable data");
}

struct infd_pte_method *infd__pte_method(struct infd_pte_writer *w, const char *name)
{
	if (!w || w->err.status)
		return NULL;
	if (!name || !*name) {
		infd__pte_note(&w->err, INFD_INVALID_ARGUMENT, "method %u: empty name", w->n_methods);
		return NULL;
	}
	struct infd_pte_method *m = calloc(1, sizeof *m);
	if (!m || !(m->name = infd__pte_strdup(&w->err, name)) ||
	    !INFD_PTE_PUSH(&w->err, w->methods, w->n_methods, w->cap_methods)) {
		infd__pte_note(&w->err, INFD_NO_MEMORY, "out of memory");
		if (m)
			method_free(m);
		return NULL;
	}
	m->w = w;
	w->methods[w->n_methods - 1] = m;
	return m;
}

/* Note a mistake in method m, prefixed with the method's name. */
__attribute__((format(printf, 2, 3))) static void bad(struct infd_pte_method *m, const char *fmt, ...)
{
	char msg[INFD_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	infd__pte_note(&m->w->err, INFD_INVALID_ARGUMENT, "method '%s': %s", m->name, msg);
}

static bool usable(const struct infd_pte_method *m)
{
	return m && m->w->err.status == INFD_OK;
}

static struct pvalue *add_value(struct infd_pte_method *m, uint8_t kind, int32_t *index)
{
	if (!usable(m))
		return NULL;
	if (m->n_values >= INT32_MAX) {
		bad(m, "too many values");
		return NULL;
	}
	struct pvalue *v = INFD_PTE_PUSH(&m->w->err, m->values, m->n_values, m->cap_values);
	if (v) {
		v->kind = kind;
		*index = (int32_t)(m->n_values - 1);
	}
	return v;
}

/* Null, Int, Bool and Double values. */
static int32_t add_scalar(struct infd_pte_method *m, uint8_t kind, int64_t i, double d)
{
	int32_t idx = -1;
	struct pvalue *p = add_value(m, kind, &idx);
	if (p && kind == INFD_VALUE_DOUBLE)
		p->u.d = d;
	else if (p && kind == INFD_VALUE_BOOL)
		p->u.b = i != 0;
	else if (p)
		p->u.i = i;
	return idx;
}

int32_t infd__pte_null(struct infd_pte_method *m)
{
	return add_scalar(m, INFD_VALUE_NULL, 0, 0);
}

int32_t infd__pte_int(struct infd_pte_method *m, int64_t v)
{
	return add_scalar(m, INFD_VALUE_INT, v, 0);
}

int32_t infd__pte_bool(struct infd_pte_method *m, bool v)
{
	return add_scalar(m, INFD_VALUE_BOOL, v, 0);
}

int32_t infd__pte_double(struct infd_pte_method *m, double v)
{
	return add_scalar(m, INFD_VALUE_DOUBLE, 0, v);
}

int32_t infd__pte_string(struct infd_pte_method *m, const char *s)
{
	if (usable(m) && !s) {
		bad(m, "NULL string value");
		return -1;
	}
	int32_t idx = -1;
	char *copy = usable(m) ? infd__pte_strdup(&m->w->err, s) : NULL;
	struct pvalue *p = copy ? add_value(m, INFD_VALUE_STRING, &idx) : NULL;
	if (!p) {
		free(copy);
		return -1;
	}
	p->u.s = copy;
	return idx;
}

/* A list value whose items (n x esize bytes) are copied. */
static int32_t add_list(struct infd_pte_method *m, uint8_t kind, uint32_t n, const void *items, size_t esize)
{
	if (!usable(m))
		return -1;
	if (n && !items) {
		bad(m, "value %u: list of %u items without items", m->n_values, n);
		return -1;
	}
	int32_t idx = -1;
	void *copy = infd__pte_dup(&m->w->err, items, (size_t)n * esize);
	struct pvalue *p = copy ? add_value(m, kind, &idx) : NULL;
	if (!p) {
		free(copy);
		return -1;
	}
	p->u.list.n = n;
	p->u.list.items = copy;
	return idx;
}

int32_t infd__pte_int_list(struct infd_pte_method *m, uint32_t n, const int64_t *items)
{
	if (!usable(m) || (n && !items))
		return add_list(m, INFD_VALUE_INT_LIST, n, items, 8);
	int64_t *boxed = malloc(((size_t)n + 1) * sizeof *boxed);
	int32_t idx = -1;
	if (!boxed) {
		infd__pte_note(&m->w->err, INFD_NO_MEMORY, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		if ((boxed[i] = infd__pte_int(m, items[i])) < 0)
			goto out_free;
	idx = add_list(m, INFD_VALUE_INT_LIST, n, boxed, 8);
out_free:
	free(boxed);
	return idx;
}

int32_t infd__pte_double_list(struct infd_pte_method *m, uint32_t n, const double *items)
{
	return add_list(m, INFD_VALUE_DOUBLE_LIST, n, items, sizeof(double));
}

int32_t infd__pte_bool_list(struct infd_pte_method *m, uint32_t n, const bool *items)
{
	if (!usable(m) || (n && !items))
		return add_list(m, INFD_VALUE_BOOL_LIST, n, items, 1);
	uint8_t *bytes = malloc(n ? n : 1);
	if (!bytes) {
		infd__pte_note(&m->w->err, INFD_NO_MEMORY, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		bytes[i] = items[i] ? 1 : 0;
	int32_t idx = add_list(m, INFD_VALUE_BOOL_LIST, n, bytes, 1);
	free(bytes);
	return idx;
}

/* Lists of value indices: every member must precede the list (pte-format §6.2). */
static int32_t index_list(struct infd_pte_method *m, uint8_t kind, uint32_t n, const int32_t *values)
{
	for (uint32_t i = 0; usable(m) && values && i < n; i++) {
		int32_t v = values[i];
		bool none_ok = kind == INFD_VALUE_OPT_TENSOR_LIST;
		if (v == -1 && none_ok)
			continue;
		if (v < 0 || (uint32_t)v >= m->n_values) {
			bad(m, "value %u: list item %u refers to value %d, not an earlier value", m->n_values, i, v);
			return -1;
		}
		uint8_t k = m->values[v].kind;
		if (k != INFD_VALUE_TENSOR && !(none_ok && k == INFD_VALUE_NULL)) {
			bad(m, "value %u: list item %u (value %d) has kind %u, not a tensor", m->n_values, i, v, k);
			return -1;
		}
	}
	return add_list(m, kind, n, values, 4);
}

int32_t infd__pte_tensor_list(struct infd_pte_method *m, uint32_t n, const int32_t *values)
{
	return index_list(m, INFD_VALUE_TENSOR_LIST, n, values);
}

int32_t infd__pte_opt_tensor_list(struct infd_pte_method *m, uint32_t n, const int32_t *values)
{
	return index_list(m, INFD_VALUE_OPT_TENSOR_LIST, n, values);
}

/* Make arenas 1..id exist. */
static bool need_arena(struct infd_pte_method *m, uint32_t id)
{
	if (id == 0 || id > MAX_ARENAS) {
		bad(m, "memory_id %u out of range 1..%d", id, MAX_ARENAS);
		return false;
	}
	if (id <= m->n_arenas)
		return true;
	uint64_t *d = realloc(m->arena_decl, id * sizeof *d);
	if (d)
		m->arena_decl = d;
	uint64_t *u = d ? realloc(m->arena_used, id * sizeof *u) : NULL;
	if (!u) {
		infd__pte_note(&m->w->err, INFD_NO_MEMORY, "out of memory");
		return false;
	}
	m->arena_used = u;
	for (uint32_t i = m->n_arenas; i < id; i++)
		d[i] = u[i] = 0;
	m->n_arenas = id;
	return true;
}

void infd__pte_arena(struct infd_pte_method *m, uint32_t memory_id, uint64_t size)
{
	if (usable(m) && need_arena(m, memory_id))
		m->arena_decl[memory_id - 1] = size;
}

int32_t infd__pte_tensor(struct infd_pte_method *m, const struct infd_pte_tensor *t)
{
	if (!usable(m))
		return -1;
	char what[160];
	snprintf(what, sizeof what, "method '%.100s': value %u", m->name, m->n_values);
	struct infd_error *e = &m->w->err;
	struct ptensor pt = {0};
	uint64_t nbytes;
	if (!t) {
		bad(m, "value %u: NULL tensor", m->n_values);
		return -1;
	}
	if (!infd__pte_shape_bytes(e, what, t->dtype, t->rank, t->sizes, &nbytes) ||
	    !infd__pte_dim_order(e, what, t->rank, t->dim_order, pt.dim_order))
		return -1;
	if (t->dynamism < INFD_SHAPE_STATIC || t->dynamism > INFD_SHAPE_DYNAMIC_UNBOUND) {
		bad(m, "value %u: invalid shape dynamism %d", m->n_values, t->dynamism);
		return -1;
	}
	if (t->constant && (t->constant >= m->w->n_consts || t->memory_id || t->mutable_data ||
			    m->w->consts[t->constant].size < nbytes)) {
		bad(m, "value %u: constant %u must exist (1..%u), hold %llu bytes and not be planned", m->n_values,
		    t->constant, m->w->n_consts - 1, (unsigned long long)nbytes);
		return -1;
	}
	if (t->mutable_data &&
	    (t->mutable_data >= m->w->n_muts || !t->memory_id || m->w->muts[t->mutable_data].size < nbytes)) {
		bad(m, "value %u: mutable data %u must exist (1..%u), hold %llu bytes and be planned", m->n_values,
		    t->mutable_data, m->w->n_muts - 1, (unsigned long long)nbytes);
		return -1;
	}
	if (t->memory_id) {
		if (!need_arena(m, t->memory_id))
			return -1;
		if (t->memory_offset > UINT64_MAX - nbytes) {
			bad(m, "value %u: memory offset overflows", m->n_values);
			return -1;
		}
		uint64_t *used = &m->arena_used[t->memory_id - 1];
		if (*used < t->memory_offset + nbytes)
			*used = t->memory_offset + nbytes;
	}
	if (t->fqn && !(pt.fqn = infd__pte_strdup(e, t->fqn)))
		return -1;
	pt.dtype = (int8_t)t->dtype;
	pt.rank = (uint8_t)t->rank;
	pt.dynamism = (uint8_t)t->dynamism;
	if (t->rank)
		memcpy(pt.sizes, t->sizes, t->rank * sizeof *t->sizes);
	pt.data_buffer_idx = t->constant ? t->constant : t->mutable_data;
	pt.memory_id = t->memory_id;
	pt.offset = t->memory_offset;
	int32_t idx = -1;
	struct pvalue *p = add_value(m, INFD_VALUE_TENSOR, &idx);
	if (!p) {
		free(pt.fqn);
		return -1;
	}
	p->u.t = pt;
	return idx;
}

int32_t infd__pte_planned(struct infd_pte_method *m, int dtype, uint32_t rank, const int32_t *sizes)
{
	if (!usable(m) || !need_arena(m, 1))
		return -1;
	struct infd_pte_tensor t = {.dtype = dtype, .rank = rank, .sizes = sizes, .memory_id = 1};
	t.memory_offset = infd__fbb_align_up(m->arena_used[0], 16);
	return infd__pte_tensor(m, &t);
}

int32_t infd__pte_const_tensor(struct infd_pte_method *m, int dtype, uint32_t rank, const int32_t *sizes,
			       const void *data)
{
	if (!usable(m))
		return -1;
	char what[160];
	uint64_t nbytes;
	snprintf(what, sizeof what, "method '%.100s': value %u", m->name, m->n_values);
	if (!infd__pte_shape_bytes(&m->w->err, what, dtype, rank, sizes, &nbytes))
		return -1;
	struct infd_pte_tensor t = {.dtype = dtype, .rank = rank, .sizes = sizes};
	t.constant = infd__pte_constant(m->w, data, (size_t)nbytes);
	return t.constant ? infd__pte_tensor(m, &t) : -1;
}

static void set_io(struct infd_pte_method *m, int32_t **list, uint32_t *count, uint32_t n, const int32_t *values)
{
	if (n && !values) {
		bad(m, "%u inputs/outputs without indices", n);
		return;
	}
	int32_t *copy = infd__pte_dup(&m->w->err, values, (size_t)n * sizeof *values);
	if (!copy)
		return;
	free(*list);
	*list = copy;
	*count = n;
}

void infd__pte_inputs(struct infd_pte_method *m, uint32_t n, const int32_t *values)
{
	if (usable(m))
		set_io(m, &m->inputs, &m->n_inputs, n, values);
}

void infd__pte_outputs(struct infd_pte_method *m, uint32_t n, const int32_t *values)
{
	if (usable(m))
		set_io(m, &m->outputs, &m->n_outputs, n, values);
}

int32_t infd__pte_operator(struct infd_pte_method *m, const char *name, const char *overload)
{
	if (!usable(m))
		return -1;
	if (!overload)
		overload = "";
	if (!name || !*name || strlen(name) + 1 + strlen(overload) >= 100) {
		bad(m, "operator name '%s' + overload '%s' must be non-empty and under 100 bytes",
		    name ? name : "(null)", overload);
		return -1;
	}
	for (uint32_t i = 0; i < m->n_ops; i++)
		if (!strcmp(m->ops[i].name, name) && !strcmp(m->ops[i].overload, overload))
			return (int32_t)i;
	char *n = infd__pte_strdup(&m->w->err, name), *o = n ? infd__pte_strdup(&m->w->err, overload) : NULL;
	struct pop *op = o ? INFD_PTE_PUSH(&m->w->err, m->ops, m->n_ops, m->cap_ops) : NULL;
	if (!op) {
		free(n);
		free(o);
		return -1;
	}
	op->name = n;
	op->overload = o;
	return (int32_t)(m->n_ops - 1);
}

int32_t infd__pte_delegate(struct infd_pte_method *m, const char *id, const void *payload, size_t size,
			   uint32_t n_specs, const struct infd_pte_compile_spec *specs)
{
	if (!usable(m))
		return -1;
	struct infd_pte_writer *w = m->w;
	if (!id || !*id || (!payload && size) || (n_specs && !specs)) {
		bad(m, "delegate %u: backend id, payload and compile specs required", m->n_dels);
		return -1;
	}
	for (uint32_t i = 0; i < n_specs; i++)
		if (!specs[i].key || (!specs[i].value && specs[i].size)) {
			bad(m, "delegate %u: compile spec %u needs a key and a value", m->n_dels, i);
			return -1;
		}
	uint32_t blob = 0;
	while (blob < w->n_dblobs &&
	       !(w->dblobs[blob].size == size && (!size || !memcmp(w->dblobs[blob].data, payload, size))))
		blob++;
	if (blob == w->n_dblobs) {
		add_blob(w, &w->dblobs, &w->n_dblobs, &w->cap_dblobs, payload, size, "delegate");
		if (w->err.status)
			return -1;
	}
	struct pdelegate *d = INFD_PTE_PUSH(&w->err, m->dels, m->n_dels, m->cap_dels);
	if (!d)
		return -1;
	d->blob = blob;
	d->specs = calloc(n_specs ? n_specs : 1, sizeof *d->specs);
	if (!(d->id = infd__pte_strdup(&w->err, id)) || !d->specs)
		goto out_oom;
	for (uint32_t i = 0; i < n_specs; i++) {
		struct pspec *sp = &d->specs[d->n_specs++];
		sp->key = infd__pte_strdup(&w->err, specs[i].key);
		sp->value = infd__pte_dup(&w->err, specs[i].value, specs[i].size);
		sp->size = specs[i].size;
		if (!sp->key || !sp->value)
			goto out_oom;
	}
	return (int32_t)(m->n_dels - 1);
out_oom:
	infd__pte_note(&w->err, INFD_NO_MEMORY, "out of memory");
	return -1;
}

static int32_t add_instr(struct infd_pte_method *m, uint8_t kind, int32_t a, int32_t b, uint32_t n_args,
			 const int32_t *args)
{
	if (!usable(m))
		return -1;
	if (n_args && !args) {
		bad(m, "instruction %u: %u args without indices", m->n_instrs, n_args);
		return -1;
	}
	int32_t *copy = NULL;
	if ((kind == INFD_INSTR_KERNEL || kind == INFD_INSTR_DELEGATE) &&
	    !(copy = infd__pte_dup(&m->w->err, args, (size_t)n_args * sizeof *args)))
		return -1;
	struct pinstr *in = INFD_PTE_PUSH(&m->w->err, m->instrs, m->n_instrs, m->cap_instrs);
	if (!in) {
		free(copy);
		return -1;
	}
	*in = (struct pinstr){.kind = kind, .a = a, .b = b, .n_args = n_args, .args = copy};
	return (int32_t)(m->n_instrs - 1);
}

int32_t infd__pte_kernel_call(struct infd_pte_method *m, int32_t op, uint32_t n_args, const int32_t *args)
{
	if (usable(m) && (op < 0 || (uint32_t)op >= m->n_ops)) {
		bad(m, "instruction %u: operator %d out of range (%u operators)", m->n_instrs, op, m->n_ops);
		return -1;
	}
	return add_instr(m, INFD_INSTR_KERNEL, op, 0, n_args, args);
}

int32_t infd__pte_call(struct infd_pte_method *m, const char *name, const char *overload, uint32_t n_args,
		       const int32_t *args)
{
	int32_t op = infd__pte_operator(m, name, overload);
	return op < 0 ? -1 : infd__pte_kernel_call(m, op, n_args, args);
}

int32_t infd__pte_delegate_call(struct infd_pte_method *m, int32_t delegate, uint32_t n_args, const int32_t *args)
{
	if (usable(m) && (delegate < 0 || (uint32_t)delegate >= m->n_dels)) {
		bad(m, "instruction %u: delegate %d out of range (%u delegates)", m->n_instrs, delegate, m->n_dels);
		return -1;
	}
	return add_instr(m, INFD_INSTR_DELEGATE, delegate, 0, n_args, args);
}

int32_t infd__pte_move(struct infd_pte_method *m, int32_t from, int32_t to)
{
	return add_instr(m, INFD_INSTR_MOVE, from, to, 0, NULL);
}

int32_t infd__pte_jump_false(struct infd_pte_method *m, int32_t cond_value, int32_t destination)
{
	return add_instr(m, INFD_INSTR_JUMP_FALSE, cond_value, destination, 0, NULL);
}

int32_t infd__pte_free(struct infd_pte_method *m, int32_t value)
{
	return add_instr(m, INFD_INSTR_FREE, value, 0, 0, NULL);
}

/* ---- Checks that need the whole method (indices may refer forward when added) ---- */

static bool index_ok(const struct infd_pte_method *m, int32_t v)
{
	return v >= 0 && (uint32_t)v < m->n_values;
}

static bool check_method(struct infd_pte_method *m)
{
	for (uint32_t i = 0; i < m->n_inputs; i++) {
		uint8_t k = index_ok(m, m->inputs[i]) ? m->values[m->inputs[i]].kind : 0;
		if (k == 0 || k > INFD_VALUE_STRING) {
			bad(m, "input %u: value %d missing or not a tensor/scalar/string", i, m->inputs[i]);
			return false;
		}
	}
	for (uint32_t i = 0; i < m->n_outputs; i++)
		if (!index_ok(m, m->outputs[i])) {
			bad(m, "output %u: value %d out of range", i, m->outputs[i]);
			return false;
		}
	for (uint32_t i = 0; i < m->n_instrs; i++) {
		const struct pinstr *in = &m->instrs[i];
		bool ok = true;
		for (uint32_t j = 0; j < in->n_args; j++)
			ok = ok && index_ok(m, in->args[j]);
		if (in->kind == INFD_INSTR_MOVE)
			ok = index_ok(m, in->a) && index_ok(m, in->b);
		else if (in->kind == INFD_INSTR_JUMP_FALSE)
			ok = index_ok(m, in->a) && in->b >= 0 && (uint32_t)in->b <= m->n_instrs;
		else if (in->kind == INFD_INSTR_FREE)
			ok = index_ok(m, in->a);
		if (!ok) {
			bad(m, "instruction %u: value index or jump destination out of range", i);
			return false;
		}
	}
	return true;
}

/* ---- Layout (pte-format §3.4, §3.5) ---- */

struct layout {
	bool legacy; /* constants in Program.constant_buffer */
	uint32_t n_segs;
	uint64_t *seg_off, *seg_size;
	int64_t const_seg, mut_seg; /* segment index or -1 */
	uint64_t *const_off, *mut_off;
	uint32_t *blob_seg;    /* per delegate blob: segment index or UINT32_MAX (inline) */
	uint32_t *blob_inline; /* per delegate blob: backend_delegate_data index */
	uint32_t n_inline;
	uint64_t data_size;      /* bytes from segment_base_offset to the end */
	uint32_t falign, header; /* force_align of byte vectors; H */
};

static void layout_free(struct layout *L)
{
	free(L->seg_off);
	free(L->seg_size);
	free(L->const_off);
	free(L->mut_off);
	free(L->blob_seg);
	free(L->blob_inline);
}

static bool layout_plan(const struct infd_pte_writer *w, struct layout *L)
{
	uint32_t max_segs = 2 + w->n_dblobs;
	L->legacy = w->opt.legacy_inline_constants;
	L->falign = w->opt.tensor_alignment > 16 ? w->opt.tensor_alignment : 16;
	L->header = (uint32_t)infd__fbb_align_up(32, L->falign);
	L->seg_off = calloc(max_segs, sizeof *L->seg_off);
	L->seg_size = calloc(max_segs, sizeof *L->seg_size);
	L->const_off = calloc(w->n_consts, sizeof *L->const_off);
	L->mut_off = calloc(w->n_muts, sizeof *L->mut_off);
	L->blob_seg = calloc(w->n_dblobs + 1, sizeof *L->blob_seg);
	L->blob_inline = calloc(w->n_dblobs + 1, sizeof *L->blob_inline);
	if (!L->seg_off || !L->seg_size || !L->const_off || !L->mut_off || !L->blob_seg || !L->blob_inline)
		return false;
	L->const_seg = L->mut_seg = -1;
	if (!L->legacy) {
		uint64_t pos = 0;
		for (uint32_t k = 1; k < w->n_consts; k++) {
			pos = infd__fbb_align_up(pos, w->opt.tensor_alignment); /* pads all but the last */
			L->const_off[k] = pos;
			pos += w->consts[k].size;
		}
		L->const_seg = L->n_segs;
		L->seg_size[L->n_segs++] = pos;
	}
	if (w->n_muts > 1) {
		uint64_t pos = 0;
		for (uint32_t k = 1; k < w->n_muts; k++) {
			L->mut_off[k] = pos;
			pos += w->muts[k].size;
		}
		L->mut_seg = L->n_segs;
		L->seg_size[L->n_segs++] = pos;
	}
	for (uint32_t i = 0; i < w->n_dblobs; i++) {
		L->blob_seg[i] = UINT32_MAX;
		if (w->opt.inline_delegates || !w->dblobs[i].size) {
			L->blob_inline[i] = L->n_inline++;
		} else {
			L->blob_seg[i] = L->n_segs;
			L->seg_size[L->n_segs++] = w->dblobs[i].size;
		}
	}
	uint64_t end = 0;
	for (uint32_t i = 0; i < L->n_segs; i++) {
		L->seg_off[i] = infd__fbb_align_up(end, w->opt.segment_alignment);
		end = L->seg_off[i] + L->seg_size[i];
	}
	L->data_size = end;
	return true;
}

/* ---- Emitting the Program flatbuffer (pte-format §4) ---- */

static size_t emit_tensor(struct infd_fbb *b, const struct ptensor *t)
{
	struct infd_fbb_table tb;
	infd__fbb_table_init(&tb);
	infd__fbb_table_ref(&tb, 2);
	infd__fbb_table_ref(&tb, 3);
	if (t->data_buffer_idx)
		infd__fbb_table_put(&tb, 5, t->data_buffer_idx, 4);
	if (t->memory_id)
		infd__fbb_table_ref(&tb, 6);
	if (t->fqn)
		infd__fbb_table_ref(&tb, 9);
	if (t->dtype)
		infd__fbb_table_put(&tb, 0, (uint8_t)t->dtype, 1);
	if (t->dynamism)
		infd__fbb_table_put(&tb, 8, t->dynamism, 1);
	size_t at = infd__fbb_table_emit(b, &tb);
	infd__fbb_link(b, at + tb.slot[2], infd__fbb_nums(b, t->rank, 4, t->sizes));
	infd__fbb_link(b, at + tb.slot[3], infd__fbb_nums(b, t->rank, 1, t->dim_order));
	if (t->memory_id) {
		struct infd_fbb_table a;
		infd__fbb_table_init(&a);
		infd__fbb_table_put(&a, 0, t->memory_id, 4);
		if ((uint32_t)t->offset)
			infd__fbb_table_put(&a, 1, (uint32_t)t->offset, 4);
		if (t->offset >> 32)
			infd__fbb_table_put(&a, 2, t->offset >> 32, 4);
		infd__fbb_link(b, at + tb.slot[6], infd__fbb_table_emit(b, &a));
	}
	if (t->fqn) {
		size_t f, x = infd__fbb_refs(b, 1, 1, &f);
		infd__fbb_link(b, at + tb.slot[9], x);
		infd__fbb_link(b, f, infd__fbb_str(b, t->fqn));
	}
	return at;
}

static size_t emit_evalue(struct infd_fbb *b, const struct pvalue *v)
{
	static const uint8_t list_esize[] = {[INFD_VALUE_INT_LIST] = 8,
					     [INFD_VALUE_DOUBLE_LIST] = 8,
					     [INFD_VALUE_BOOL_LIST] = 1,
					     [INFD_VALUE_TENSOR_LIST] = 4,
					     [INFD_VALUE_OPT_TENSOR_LIST] = 4};
	size_t field, f, val;
	size_t at = infd__fbb_union(b, v->kind, &field);
	switch (v->kind) {
	case INFD_VALUE_INT:
		val = infd__fbb_scalar(b, 8, (uint64_t)v->u.i);
		break;
	case INFD_VALUE_BOOL:
		val = infd__fbb_scalar(b, 1, v->u.b);
		break;
	case INFD_VALUE_DOUBLE:
		val = infd__fbb_scalar(b, 8, infd__fbb_double_bits(v->u.d));
		break;
	case INFD_VALUE_TENSOR:
		val = emit_tensor(b, &v->u.t);
		break;
	case INFD_VALUE_STRING:
		val = infd__fbb_refs(b, 0, 1, &f);
		infd__fbb_link(b, f, infd__fbb_str(b, v->u.s));
		break;
	case INFD_VALUE_INT_LIST:
	case INFD_VALUE_DOUBLE_LIST:
	case INFD_VALUE_BOOL_LIST:
	case INFD_VALUE_TENSOR_LIST:
	case INFD_VALUE_OPT_TENSOR_LIST:
		val = infd__fbb_refs(b, 0, 1, &f);
		infd__fbb_link(b, f, infd__fbb_nums(b, v->u.list.n, list_esize[v->kind], v->u.list.items));
		break;
	default: /* Null: an empty table */
		val = infd__fbb_scalar(b, 1, 0);
		break;
	}
	infd__fbb_link(b, field, val);
	return at;
}

static size_t emit_instr(struct infd_fbb *b, const struct pinstr *in)
{
	struct infd_fbb_table a;
	size_t field, at = infd__fbb_union(b, in->kind, &field);
	infd__fbb_table_init(&a);
	bool has_args = in->kind == INFD_INSTR_KERNEL || in->kind == INFD_INSTR_DELEGATE;
	if (in->a)
		infd__fbb_table_put(&a, 0, (uint32_t)in->a, 4);
	if (has_args)
		infd__fbb_table_ref(&a, 1);
	else if (in->b)
		infd__fbb_table_put(&a, 1, (uint32_t)in->b, 4);
	size_t args = infd__fbb_table_emit(b, &a);
	infd__fbb_link(b, field, args);
	if (has_args)
		infd__fbb_link(b, args + a.slot[1], infd__fbb_nums(b, in->n_args, 4, in->args));
	return at;
}

/* ContainerMetadata pytree strings (pte-format §6.12), built from the I/O counts. */
#define LEAF  "{\"type\": null, \"context\": null, \"children_spec\": []}"
#define TUPLE "{\"type\": \"builtins.tuple\", \"context\": \"null\", \"children_spec\": ["

static char *pytree(uint32_t n, bool inputs)
{
	size_t cap = 512 + (size_t)n * (sizeof LEAF + 2);
	char *s = malloc(cap), *p = s;
	if (!s || (inputs && n == 0)) {
		if (s)
			*s = '\0';
		return s;
	}
	p += sprintf(p, "[1, %s", inputs ? TUPLE TUPLE : n == 1 ? "" : TUPLE);
	for (uint32_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? ", " : "", LEAF);
	if (inputs)
		sprintf(p, "]}, {\"type\": \"builtins.dict\", \"context\": \"[]\", \"children_spec\": []}]}]");
	else
		sprintf(p, "%s]", n == 1 ? "" : "]}");
	return s;
}

static size_t emit_delegate(struct infd_fbb *b, const struct pdelegate *d, const struct layout *L)
{
	size_t f[3], sf[2], v;
	size_t at = infd__fbb_refs(b, 0, 3, f);
	infd__fbb_link(b, f[0], infd__fbb_str(b, d->id));
	struct infd_fbb_table r;
	infd__fbb_table_init(&r);
	bool seg = L->blob_seg[d->blob] != UINT32_MAX;
	uint32_t index = seg ? L->blob_seg[d->blob] : L->blob_inline[d->blob];
	if (seg)
		infd__fbb_table_put(&r, 0, 1, 1); /* DataLocation SEGMENT */
	if (index)
		infd__fbb_table_put(&r, 1, index, 4);
	infd__fbb_link(b, f[1], infd__fbb_table_emit(b, &r));
	infd__fbb_link(b, f[2], v = infd__fbb_vec(b, d->n_specs, 4, 4));
	for (uint32_t i = 0; i < d->n_specs; i++) {
		infd__fbb_link_elem(b, v, i, infd__fbb_refs(b, 0, 2, sf));
		infd__fbb_link(b, sf[0], infd__fbb_str(b, d->specs[i].key));
		infd__fbb_link(b, sf[1], infd__fbb_bytes(b, d->specs[i].value, d->specs[i].size, 1));
	}
	return at;
}

static size_t emit_plan(struct infd_fbb *b, const struct infd_pte_method *m, const struct layout *L)
{
	size_t f[9], g[3], v;
	size_t at = infd__fbb_refs(b, 0, 9, f);
	infd__fbb_link(b, f[0], infd__fbb_str(b, m->name));

	char *in = pytree(m->n_inputs, true), *out = pytree(m->n_outputs, false);
	infd__fbb_link(b, f[1], infd__fbb_refs(b, 0, 2, g));
	if (in && out) {
		infd__fbb_link(b, g[0], infd__fbb_str(b, in));
		infd__fbb_link(b, g[1], infd__fbb_str(b, out));
	} else {
		b->oom = true;
	}
	free(in);
	free(out);

	infd__fbb_link(b, f[2], v = infd__fbb_vec(b, m->n_values, 4, 4));
	for (uint32_t i = 0; i < m->n_values; i++)
		infd__fbb_link_elem(b, v, i, emit_evalue(b, &m->values[i]));
	infd__fbb_link(b, f[3], infd__fbb_nums(b, m->n_inputs, 4, m->inputs));
	infd__fbb_link(b, f[4], infd__fbb_nums(b, m->n_outputs, 4, m->outputs));

	/* exactly one chain: inputs [], outputs [], the instructions */
	infd__fbb_link(b, f[5], v = infd__fbb_vec(b, 1, 4, 4));
	infd__fbb_link_elem(b, v, 0, infd__fbb_refs(b, 0, 3, g));
	infd__fbb_link(b, g[0], infd__fbb_vec(b, 0, 4, 4));
	infd__fbb_link(b, g[1], infd__fbb_vec(b, 0, 4, 4));
	infd__fbb_link(b, g[2], v = infd__fbb_vec(b, m->n_instrs, 4, 4));
	for (uint32_t i = 0; i < m->n_instrs; i++)
		infd__fbb_link_elem(b, v, i, emit_instr(b, &m->instrs[i]));

	infd__fbb_link(b, f[6], v = infd__fbb_vec(b, m->n_ops, 4, 4));
	for (uint32_t i = 0; i < m->n_ops; i++) {
		infd__fbb_link_elem(b, v, i, infd__fbb_refs(b, 0, 2, g));
		infd__fbb_link(b, g[0], infd__fbb_str(b, m->ops[i].name));
		infd__fbb_link(b, g[1], infd__fbb_str(b, m->ops[i].overload));
	}
	infd__fbb_link(b, f[7], v = infd__fbb_vec(b, m->n_dels, 4, 4));
	for (uint32_t i = 0; i < m->n_dels; i++)
		infd__fbb_link_elem(b, v, i, emit_delegate(b, &m->dels[i], L));

	/* non_const_buffer_sizes: [0 (reserved), arena 1, ...] */
	infd__fbb_link(b, f[8], v = infd__fbb_vec(b, m->n_arenas + 1, 8, 8));
	for (uint32_t i = 0; i < m->n_arenas; i++) {
		uint64_t size = m->arena_decl[i] > m->arena_used[i] ? m->arena_decl[i] : m->arena_used[i];
		infd__fbb_put(b, v + 4 + 8 * (i + 1), size, 8);
	}
	return at;
}

static size_t emit_subsegment(struct infd_fbb *b, uint32_t segment, uint32_t n, const uint64_t *offsets)
{
	struct infd_fbb_table t;
	infd__fbb_table_init(&t);
	infd__fbb_table_ref(&t, 1);
	if (segment)
		infd__fbb_table_put(&t, 0, segment, 4);
	size_t at = infd__fbb_table_emit(b, &t);
	infd__fbb_link(b, at + t.slot[1], infd__fbb_nums(b, n, 8, offsets));
	return at;
}

/* A vector of single-field tables holding byte vectors (Buffer, BackendDelegateInlineData). */
static size_t emit_byte_tables(struct infd_fbb *b, uint32_t n, const struct blob *const *blobs, size_t align)
{
	size_t v = infd__fbb_vec(b, n, 4, 4), f;
	for (uint32_t i = 0; i < n; i++) {
		infd__fbb_link_elem(b, v, i, infd__fbb_refs(b, 0, 1, &f));
		infd__fbb_link(b, f, infd__fbb_bytes(b, blobs[i]->data, blobs[i]->size, align));
	}
	return v;
}

static void emit_program(struct infd_fbb *b, const struct infd_pte_writer *w, const struct layout *L)
{
	size_t f[6], v; /* slots 1..6: execution_plan .. mutable_data_segments */
	const struct blob **list = calloc(w->n_consts + w->n_dblobs + 1, sizeof *list);
	if (!list) {
		b->oom = true;
		return;
	}
	infd__fbb_set_root(b, infd__fbb_refs(b, 1, L->mut_seg >= 0 ? 6 : 5, f));

	infd__fbb_link(b, f[0], v = infd__fbb_vec(b, w->n_methods, 4, 4));
	for (uint32_t i = 0; i < w->n_methods; i++)
		infd__fbb_link_elem(b, v, i, emit_plan(b, w->methods[i], L));

	uint32_t n = L->legacy && w->n_consts > 1 ? w->n_consts : 0;
	for (uint32_t k = 0; k < n; k++)
		list[k] = &w->consts[k];
	infd__fbb_link(b, f[1], emit_byte_tables(b, n, list, L->falign));
	for (uint32_t i = 0; i < w->n_dblobs; i++)
		if (L->blob_seg[i] == UINT32_MAX)
			list[L->blob_inline[i]] = &w->dblobs[i];
	infd__fbb_link(b, f[2], emit_byte_tables(b, L->n_inline, list, L->falign));
	free(list);

	infd__fbb_link(b, f[3], v = infd__fbb_vec(b, L->n_segs, 4, 4));
	for (uint32_t i = 0; i < L->n_segs; i++) {
		struct infd_fbb_table s;
		infd__fbb_table_init(&s);
		if (L->seg_off[i])
			infd__fbb_table_put(&s, 0, L->seg_off[i], 8);
		if (L->seg_size[i])
			infd__fbb_table_put(&s, 1, L->seg_size[i], 8);
		infd__fbb_link_elem(b, v, i, infd__fbb_table_emit(b, &s));
	}
	infd__fbb_link(b, f[4], emit_subsegment(b, 0, L->legacy ? 0 : w->n_consts, L->const_off));
	if (L->mut_seg >= 0) {
		infd__fbb_link(b, f[5], v = infd__fbb_vec(b, 1, 4, 4));
		infd__fbb_link_elem(b, v, 0, emit_subsegment(b, (uint32_t)L->mut_seg, w->n_muts, L->mut_off));
	}
}

/* Segment bytes after the flatbuffer (pte-format §3.2, §3.7 step 6). */
static void emit_segments(struct infd_fbb *b, const struct infd_pte_writer *w, const struct layout *L, uint64_t base)
{
	infd__fbb_alloc(b, base + L->data_size - b->len, 1);
	if (b->oom)
		return;
	for (uint32_t k = 1; L->const_seg >= 0 && k < w->n_consts; k++)
		if (w->consts[k].size)
			memcpy(b->p + base + L->seg_off[L->const_seg] + L->const_off[k], w->consts[k].data,
			       w->consts[k].size);
	for (uint32_t k = 1; L->mut_seg >= 0 && k < w->n_muts; k++)
		if (w->muts[k].size)
			memcpy(b->p + base + L->seg_off[L->mut_seg] + L->mut_off[k], w->muts[k].data, w->muts[k].size);
	for (uint32_t i = 0; i < w->n_dblobs; i++)
		if (L->blob_seg[i] != UINT32_MAX)
			memcpy(b->p + base + L->seg_off[L->blob_seg[i]], w->dblobs[i].data, w->dblobs[i].size);
}

infd_status infd__pte_writer_finish(struct infd_pte_writer *w, uint8_t **out, size_t *size, struct infd_error *err)
{
	struct infd_fbb b = {0};
	struct layout L = {0};
	if (!w)
		return infd__fail(err, INFD_INVALID_ARGUMENT, "NULL program writer");
	struct infd_error e = w->err; /* the first mistake made while building */
	if (e.status != INFD_OK)
		goto out;
	if (w->n_methods == 0) {
		infd__pte_note(&e, INFD_INVALID_ARGUMENT, "program has no methods");
		goto out;
	}
	for (uint32_t i = 0; i < w->n_methods; i++)
		if (!check_method(w->methods[i])) {
			e = w->err; /* check_method noted the mistake on the writer */
			goto out;
		}
	if (!layout_plan(w, &L)) {
		b.oom = true;
		goto out;
	}
	bool segmented = L.data_size > 0; /* any segment data => Layout B */
	infd__fbb_start(&b, "ET12", segmented ? L.header : 0);
	emit_program(&b, w, &L);
	if (b.oom)
		goto out;
	if (b.len > INFD_FBB_MAX_SIZE) {
		infd__pte_note(&e, INFD_INVALID_ARGUMENT, "program flatbuffer of %zu bytes exceeds 2 GiB", b.len);
		goto out;
	}
	if (segmented) {
		uint64_t program_size = b.len, base = infd__fbb_align_up(b.len, w->opt.segment_alignment);
		memcpy(b.p + 8, "eh00", 4);
		infd__fbb_put_le(b.p + 12, 32, 4);
		infd__fbb_put_le(b.p + 16, program_size, 8);
		infd__fbb_put_le(b.p + 24, base, 8);
		infd__fbb_put_le(b.p + 32, L.data_size, 8);
		emit_segments(&b, w, &L, base);
	}
out:
	layout_free(&L);
	return infd__fbb_finish(&b, &e, out, size, err);
}

infd_status infd__pte_writer_save(struct infd_pte_writer *w, const char *path, struct infd_error *err)
{
	uint8_t *data;
	size_t size;
	infd_status st = infd__pte_writer_finish(w, &data, &size, err);
	if (st != INFD_OK)
		return st;
	FILE *f = fopen(path, "wb");
	if (!f) {
		st = infd__fail(err, INFD_IO, "cannot create %s", path);
		goto out_free;
	}
	if (fwrite(data, 1, size, f) != size)
		st = infd__fail(err, INFD_IO, "cannot write %s", path);
	if (fclose(f) != 0 && st == INFD_OK)
		st = infd__fail(err, INFD_IO, "cannot write %s", path);
out_free:
	free(data);
	return st;
}
