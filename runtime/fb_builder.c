/* The front-to-back flatbuffer builder shared by the .pte and .bpte writers:
 * a growable buffer, tables with their vtables, vectors and strings, linked by
 * uoffsets patched once their targets are written (pte-format §2). */
#include "fb_builder.h"

#include <stdlib.h>
#include <string.h>

void infd__fbb_put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

size_t infd__fbb_alloc(struct infd_fbb *b, size_t n, size_t align)
{
	if (b->oom)
		return 0;
	size_t at = infd__fbb_align_up(b->len, align);
	if (n > SIZE_MAX / 4 || at + n > SIZE_MAX / 4) {
		b->oom = true;
		return 0;
	}
	if (at + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < at + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return 0;
		}
		b->p = p;
		b->cap = cap;
	}
	memset(b->p + b->len, 0, at + n - b->len);
	b->len = at + n;
	return at;
}

void infd__fbb_put(struct infd_fbb *b, size_t at, uint64_t v, unsigned n)
{
	if (!b->oom)
		infd__fbb_put_le(b->p + at, v, n);
}

void infd__fbb_link(struct infd_fbb *b, size_t field, size_t target)
{
	infd__fbb_put(b, field, target - field, 4);
}

void infd__fbb_link_elem(struct infd_fbb *b, size_t vec, size_t i, size_t target)
{
	infd__fbb_link(b, vec + 4 + 4 * i, target);
}

void infd__fbb_start(struct infd_fbb *b, const char ident[4], size_t reserve)
{
	infd__fbb_alloc(b, 8 + reserve, 1);
	if (!b->oom)
		memcpy(b->p + 4, ident, 4);
}

void infd__fbb_set_root(struct infd_fbb *b, size_t root)
{
	infd__fbb_put(b, 0, root, 4);
}

void infd__fbb_table_init(struct infd_fbb_table *t)
{
	memset(t, 0, sizeof *t);
	t->size = 4;
	t->align = 4;
}

void infd__fbb_table_put(struct infd_fbb_table *t, unsigned slot, uint64_t v, unsigned n)
{
	unsigned at = (unsigned)infd__fbb_align_up(t->size, n);
	infd__fbb_put_le(t->body + at, v, n);
	t->slot[slot] = (uint16_t)at;
	t->size = at + n;
	if (n > t->align)
		t->align = n;
	if (slot + 1 > t->nslots)
		t->nslots = slot + 1;
}

void infd__fbb_table_ref(struct infd_fbb_table *t, unsigned slot)
{
	infd__fbb_table_put(t, slot, 0, 4);
}

size_t infd__fbb_table_emit(struct infd_fbb *b, const struct infd_fbb_table *t)
{
	unsigned vt = 4 + 2 * t->nslots, size = (unsigned)infd__fbb_align_up(t->size, 4);
	size_t pad = infd__fbb_align_up(b->len + vt, t->align) - vt - b->len;
	size_t v = infd__fbb_alloc(b, pad + vt + size, 1) + pad, at = v + vt;
	if (b->oom)
		return 0;
	infd__fbb_put_le(b->p + v, vt, 2);
	infd__fbb_put_le(b->p + v + 2, size, 2);
	for (unsigned i = 0; i < t->nslots; i++)
		infd__fbb_put_le(b->p + v + 4 + 2 * i, t->slot[i], 2);
	memcpy(b->p + at, t->body, size);
	infd__fbb_put_le(b->p + at, vt, 4); /* soffset: vtable = table - vt */
	return at;
}

size_t infd__fbb_refs(struct infd_fbb *b, unsigned first, unsigned n, size_t *f)
{
	struct infd_fbb_table t;
	infd__fbb_table_init(&t);
	for (unsigned i = 0; i < n; i++)
		infd__fbb_table_ref(&t, first + i);
	size_t at = infd__fbb_table_emit(b, &t);
	for (unsigned i = 0; i < n; i++)
		f[i] = at + t.slot[first + i];
	return at;
}

size_t infd__fbb_union(struct infd_fbb *b, uint8_t type, size_t *value_field)
{
	struct infd_fbb_table t;
	infd__fbb_table_init(&t);
	infd__fbb_table_ref(&t, 1);
	infd__fbb_table_put(&t, 0, type, 1);
	size_t at = infd__fbb_table_emit(b, &t);
	*value_field = at + t.slot[1];
	return at;
}

size_t infd__fbb_scalar(struct infd_fbb *b, unsigned esize, uint64_t bits)
{
	struct infd_fbb_table t;
	infd__fbb_table_init(&t);
	if (bits)
		infd__fbb_table_put(&t, 0, bits, esize);
	return infd__fbb_table_emit(b, &t);
}

uint64_t infd__fbb_double_bits(double d)
{
	uint64_t bits;
	memcpy(&bits, &d, 8);
	return bits;
}

size_t infd__fbb_vec(struct infd_fbb *b, size_t n, unsigned esize, size_t align)
{
	if (align < 4)
		align = 4;
	size_t pad = infd__fbb_align_up(b->len + 4, align) - 4 - b->len;
	size_t at = infd__fbb_alloc(b, pad + 4 + n * esize, 1) + pad;
	infd__fbb_put(b, at, n, 4);
	return at;
}

size_t infd__fbb_nums(struct infd_fbb *b, size_t n, unsigned esize, const void *items)
{
	size_t at = infd__fbb_vec(b, n, esize, esize);
	const uint8_t *src = items;
	for (size_t i = 0; i < n && !b->oom; i++) {
		uint64_t x8;
		uint32_t x4;
		uint64_t x = src[i];
		if (esize == 8) {
			memcpy(&x8, src + 8 * i, 8);
			x = x8;
		} else if (esize == 4) {
			memcpy(&x4, src + 4 * i, 4);
			x = x4;
		}
		infd__fbb_put_le(b->p + at + 4 + esize * i, x, esize);
	}
	return at;
}

size_t infd__fbb_bytes(struct infd_fbb *b, const void *data, size_t n, size_t align)
{
	size_t at = infd__fbb_vec(b, n, 1, align);
	if (!b->oom && n)
		memcpy(b->p + at + 4, data, n);
	return at;
}

size_t infd__fbb_str(struct infd_fbb *b, const char *s)
{
	size_t n = strlen(s), at = infd__fbb_alloc(b, 4 + n + 1, 4);
	infd__fbb_put(b, at, n, 4);
	if (!b->oom)
		memcpy(b->p + at + 4, s, n);
	return at;
}

infd_status infd__fbb_finish(struct infd_fbb *b, const struct infd_error *e, uint8_t **out, size_t *size,
			     struct infd_error *err)
{
	infd_status st = INFD_OK;
	if (e->status != INFD_OK)
		st = infd__fail(err, e->status, "%s", e->msg);
	else if (b->oom)
		st = infd__fail(err, INFD_NO_MEMORY, "out of memory while serializing");
	if (st != INFD_OK) {
		free(b->p);
		return st;
	}
	*out = b->p;
	*size = b->len;
	return INFD_OK;
}
