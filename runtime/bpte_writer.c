/* The bundled-program writer (.bpte, pte-format §7): a finished .pte plus test
 * cases per method, serialized with the flatbuffer builder (fb_builder.h) as a
 * BundledProgram. Declared in pte_writer.h, whose input helpers it shares. */
#include "pte_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb_builder.h"
#include "infd/dtype.h"

struct bvalue {
	int kind;
	int8_t dtype;
	uint8_t rank;
	int32_t sizes[INFD_MAX_RANK];
	uint8_t dim_order[INFD_MAX_RANK];
	uint8_t *data;
	size_t nbytes;
	int64_t i;
	bool b;
	double d;
};

struct bcase {
	char *method;
	uint32_t n_in, n_out;
	struct bvalue *in, *out;
};

struct infd_bpte_writer {
	uint8_t *pte;
	size_t size;
	struct bcase *cases;
	uint32_t n_cases, cap_cases;
	struct infd_error err;
};

struct infd_bpte_writer *infd__bpte_writer_create(const uint8_t *pte, size_t size)
{
	struct infd_bpte_writer *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	if (!pte && size)
		infd__pte_note(&w->err, INFD_INVALID_ARGUMENT, "NULL program with size %zu", size);
	else if (!(w->pte = infd__pte_dup(&w->err, pte, size))) {
		free(w);
		return NULL;
	}
	w->size = size;
	return w;
}

static void free_bvalues(struct bvalue *v, uint32_t n)
{
	for (uint32_t i = 0; v && i < n; i++)
		free(v[i].data);
	free(v);
}

void infd__bpte_writer_destroy(struct infd_bpte_writer *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; i < w->n_cases; i++) {
		free(w->cases[i].method);
		free_bvalues(w->cases[i].in, w->cases[i].n_in);
		free_bvalues(w->cases[i].out, w->cases[i].n_out);
	}
	free(w->cases);
	free(w->pte);
	free(w);
}

static struct bvalue *copy_bvalues(struct infd_error *e, const char *what, uint32_t n,
				   const struct infd_bpte_value *src)
{
	struct bvalue *v = calloc(n ? n : 1, sizeof *v);
	if (!v) {
		infd__pte_note(e, INFD_NO_MEMORY, "out of memory");
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct infd_bpte_value *s = &src[i];
		uint64_t nbytes = 0;
		char where[160];
		snprintf(where, sizeof where, "%s %u", what, i);
		v[i] = (struct bvalue){.kind = s->kind, .i = s->i, .b = s->b, .d = s->d};
		if (s->kind < INFD_BPTE_TENSOR || s->kind > INFD_BPTE_DOUBLE) {
			infd__pte_note(e, INFD_INVALID_ARGUMENT, "%s: invalid kind %d", where, s->kind);
			goto out_fail;
		}
		if (s->kind != INFD_BPTE_TENSOR)
			continue;
		if (!infd__pte_shape_bytes(e, where, s->dtype, s->rank, s->sizes, &nbytes) ||
		    !infd__pte_dim_order(e, where, s->rank, s->dim_order, v[i].dim_order))
			goto out_fail;
		if (nbytes != s->nbytes || (!s->data && nbytes)) {
			infd__pte_note(e, INFD_INVALID_ARGUMENT, "%s: %zu data bytes for a tensor of %llu bytes", where,
				       s->nbytes, (unsigned long long)nbytes);
			goto out_fail;
		}
		v[i].dtype = (int8_t)s->dtype;
		v[i].rank = (uint8_t)s->rank;
		if (s->rank)
			memcpy(v[i].sizes, s->sizes, s->rank * sizeof *s->sizes);
		v[i].nbytes = s->nbytes;
		if (!(v[i].data = infd__pte_dup(e, s->data, s->nbytes)))
			goto out_fail;
	}
	return v;
out_fail:
	free_bvalues(v, n);
	return NULL;
}

void infd__bpte_test_case(struct infd_bpte_writer *w, const char *method, uint32_t n_inputs,
			  const struct infd_bpte_value *inputs, uint32_t n_outputs,
			  const struct infd_bpte_value *expected)
{
	if (!w || w->err.status)
		return;
	if (!method || (n_inputs && !inputs) || (n_outputs && !expected)) {
		infd__pte_note(&w->err, INFD_INVALID_ARGUMENT, "test case %u: method name and values required",
			       w->n_cases);
		return;
	}
	char what[160];
	snprintf(what, sizeof what, "test case %u of '%.100s': input", w->n_cases, method);
	struct bvalue *in = copy_bvalues(&w->err, what, n_inputs, inputs);
	snprintf(what, sizeof what, "test case %u of '%.100s': expected output", w->n_cases, method);
	struct bvalue *out = in ? copy_bvalues(&w->err, what, n_outputs, expected) : NULL;
	char *name = out ? infd__pte_strdup(&w->err, method) : NULL;
	struct bcase *c = name ? INFD_PTE_PUSH(&w->err, w->cases, w->n_cases, w->cap_cases) : NULL;
	if (!c) {
		free_bvalues(in, n_inputs);
		free_bvalues(out, n_outputs);
		free(name);
		return;
	}
	*c = (struct bcase){.method = name, .n_in = n_inputs, .n_out = n_outputs, .in = in, .out = out};
}

static size_t emit_bvalue(struct infd_fbb *b, const struct bvalue *v)
{
	struct infd_fbb_table x;
	size_t field, val, at = infd__fbb_union(b, (uint8_t)v->kind, &field);
	if (v->kind == INFD_BPTE_INT) {
		val = infd__fbb_scalar(b, 8, (uint64_t)v->i);
	} else if (v->kind == INFD_BPTE_BOOL) {
		val = infd__fbb_scalar(b, 1, v->b);
	} else if (v->kind == INFD_BPTE_DOUBLE) {
		val = infd__fbb_scalar(b, 8, infd__fbb_double_bits(v->d));
	} else {
		infd__fbb_table_init(&x);
		infd__fbb_table_ref(&x, 1);
		infd__fbb_table_ref(&x, 2);
		infd__fbb_table_ref(&x, 3);
		if (v->dtype)
			infd__fbb_table_put(&x, 0, (uint8_t)v->dtype, 1);
		val = infd__fbb_table_emit(b, &x);
		infd__fbb_link(b, val + x.slot[1], infd__fbb_nums(b, v->rank, 4, v->sizes));
		infd__fbb_link(b, val + x.slot[2], infd__fbb_bytes(b, v->data, v->nbytes, 16));
		infd__fbb_link(b, val + x.slot[3], infd__fbb_nums(b, v->rank, 1, v->dim_order));
	}
	infd__fbb_link(b, field, val);
	return at;
}

static size_t emit_bvalues(struct infd_fbb *b, uint32_t n, const struct bvalue *v)
{
	size_t at = infd__fbb_vec(b, n, 4, 4);
	for (uint32_t i = 0; i < n; i++)
		infd__fbb_link_elem(b, at, i, emit_bvalue(b, &v[i]));
	return at;
}

/* One test suite: the cases of the method named by case `first`. */
static size_t emit_suite(struct infd_fbb *b, const struct infd_bpte_writer *w, uint32_t first)
{
	const char *name = w->cases[first].method;
	size_t f[2], g[2], v;
	uint32_t n = 0;
	size_t at = infd__fbb_refs(b, 0, 2, f);
	infd__fbb_link(b, f[0], infd__fbb_str(b, name));
	for (uint32_t i = first; i < w->n_cases; i++)
		n += !strcmp(w->cases[i].method, name);
	infd__fbb_link(b, f[1], v = infd__fbb_vec(b, n, 4, 4));
	for (uint32_t i = first, k = 0; i < w->n_cases; i++) {
		if (strcmp(w->cases[i].method, name))
			continue;
		infd__fbb_link_elem(b, v, k++, infd__fbb_refs(b, 0, 2, g));
		infd__fbb_link(b, g[0], emit_bvalues(b, w->cases[i].n_in, w->cases[i].in));
		infd__fbb_link(b, g[1], emit_bvalues(b, w->cases[i].n_out, w->cases[i].out));
	}
	return at;
}

static bool first_of_method(const struct infd_bpte_writer *w, uint32_t i)
{
	for (uint32_t j = 0; j < i; j++)
		if (!strcmp(w->cases[j].method, w->cases[i].method))
			return false;
	return true;
}

infd_status infd__bpte_writer_finish(struct infd_bpte_writer *w, uint8_t **out, size_t *size, struct infd_error *err)
{
	struct infd_fbb b = {0};
	struct infd_fbb_table t;
	if (!w)
		return infd__fail(err, INFD_INVALID_ARGUMENT, "NULL bundled-program writer");
	struct infd_error e = w->err;
	uint32_t n_suites = 0;
	if (e.status != INFD_OK)
		goto out;
	infd__fbb_start(&b, "BP08", 0);
	infd__fbb_table_init(&t);
	infd__fbb_table_put(&t, 0, 2, 4); /* version */
	infd__fbb_table_ref(&t, 1);
	infd__fbb_table_ref(&t, 2);
	size_t root = infd__fbb_table_emit(&b, &t);
	infd__fbb_set_root(&b, root);
	for (uint32_t i = 0; i < w->n_cases; i++)
		n_suites += first_of_method(w, i);
	size_t v = infd__fbb_vec(&b, n_suites, 4, 4);
	infd__fbb_link(&b, root + t.slot[1], v);
	for (uint32_t i = 0, k = 0; i < w->n_cases; i++)
		if (first_of_method(w, i))
			infd__fbb_link_elem(&b, v, k++, emit_suite(&b, w, i));
	infd__fbb_link(&b, root + t.slot[2], infd__fbb_bytes(&b, w->pte, w->size, 32));
	if (!b.oom && b.len > INFD_FBB_MAX_SIZE)
		infd__pte_note(&e, INFD_INVALID_ARGUMENT, "bundled program of %zu bytes exceeds 2 GiB", b.len);
out:
	return infd__fbb_finish(&b, &e, out, size, err);
}
