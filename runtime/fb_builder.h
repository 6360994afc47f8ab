/* The flatbuffer builder the .pte and .bpte writers serialize with (pte-format
 * §2): one growable buffer written front to back, each uoffset patched forward
 * once its target is written, each table's vtable placed just before it. */
#ifndef INFD_RUNTIME_FB_BUILDER_H
#define INFD_RUNTIME_FB_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Flatbuffers address their contents with 32-bit offsets. */
#define INFD_FBB_MAX_SIZE ((size_t)INT32_MAX)

/* The buffer being built. Zero-initialize it; positions handed out are absolute
 * byte offsets into `p`. When an allocation fails `oom` is set, every later call
 * does nothing and returns position 0, and infd__fbb_finish reports it, so a
 * caller checks once at the end. The builder owns `p` until infd__fbb_finish. */
struct infd_fbb {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

/* Round `v` up to a multiple of `a` (a power of two). */
static inline size_t infd__fbb_align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Store the low `n` bytes of `v` at `p`, little-endian. */
void infd__fbb_put_le(uint8_t *p, uint64_t v, unsigned n);

/* Zero padding to `align`, then `n` zero bytes; returns where the n bytes start. */
size_t infd__fbb_alloc(struct infd_fbb *b, size_t n, size_t align);

/* Overwrite the n-byte (1, 2, 4 or 8) little-endian number at `at`, which must
 * lie inside the bytes already allocated. */
void infd__fbb_put(struct infd_fbb *b, size_t at, uint64_t v, unsigned n);

/* Point the uoffset at `field` to `target` (always later in the buffer). */
void infd__fbb_link(struct infd_fbb *b, size_t field, size_t target);

/* Point element `i` of the uoffset vector at `vec` (from infd__fbb_vec with
 * esize 4) to `target`. */
void infd__fbb_link_elem(struct infd_fbb *b, size_t vec, size_t i, size_t target);

/* Begin a file: the root uoffset, the 4-byte file identifier `ident`, then
 * `reserve` zero bytes the caller fills in later (an extended header). */
void infd__fbb_start(struct infd_fbb *b, const char ident[4], size_t reserve);

/* Point the root uoffset (byte 0) at table `root`. */
void infd__fbb_set_root(struct infd_fbb *b, size_t root);

/* A table under construction, on the caller's stack: body bytes (soffset first)
 * and the position of each field in the body. At most 10 slots and 64 body
 * bytes, enough for every table of both schemas. */
struct infd_fbb_table {
	uint16_t slot[10];
	uint8_t body[64];
	unsigned size, nslots, align;
};

/* Start an empty table. */
void infd__fbb_table_init(struct infd_fbb_table *t);

/* Add an n-byte scalar (n = 1, 2, 4, 8) in field `slot`, aligned to its size
 * within the table. Fields left out read as their default (zero). */
void infd__fbb_table_put(struct infd_fbb_table *t, unsigned slot, uint64_t v, unsigned n);

/* Reserve a uoffset in field `slot`; link it with infd__fbb_link(b, table +
 * t->slot[slot], child) once the child is written. */
void infd__fbb_table_ref(struct infd_fbb_table *t, unsigned slot);

/* Write the vtable and, right after it, the table; returns the table position. */
size_t infd__fbb_table_emit(struct infd_fbb *b, const struct infd_fbb_table *t);

/* A table whose slots first..first+n-1 are all uoffsets (to be linked); f[i]
 * receives the position of field first+i. Returns the table position. */
size_t infd__fbb_refs(struct infd_fbb *b, unsigned first, unsigned n, size_t *f);

/* A table holding a union (EValue, Instruction, BundledValue): its type tag, a
 * byte, in slot 0 and the value's uoffset in slot 1, whose position goes to
 * *value_field for linking. Returns the table position. */
size_t infd__fbb_union(struct infd_fbb *b, uint8_t type, size_t *value_field);

/* A table with one n-byte scalar in slot 0 (the Int, Bool and Double wrappers of
 * both schemas); a zero value is left out, as the reference writer does. */
size_t infd__fbb_scalar(struct infd_fbb *b, unsigned esize, uint64_t bits);

/* The IEEE-754 bits of `d`, for infd__fbb_scalar and infd__fbb_table_put. */
uint64_t infd__fbb_double_bits(double d);

/* A vector of n zeroed elements of esize bytes whose data is aligned to `align`
 * (at least 4); returns the position of its length word. */
size_t infd__fbb_vec(struct infd_fbb *b, size_t n, unsigned esize, size_t align);

/* A vector of numbers read from host memory (esize 1, 4 or 8; `items` borrowed),
 * written little-endian. */
size_t infd__fbb_nums(struct infd_fbb *b, size_t n, unsigned esize, const void *items);

/* A byte vector holding a copy of data[0..n) whose data is aligned to `align`. */
size_t infd__fbb_bytes(struct infd_fbb *b, const void *data, size_t n, size_t align);

/* A string (copied, NUL-terminated as the format requires). */
size_t infd__fbb_str(struct infd_fbb *b, const char *s);

/* Hand the buffer out: on success *out takes the malloc'd bytes (the caller
 * frees them) and *size their count. Fails, freeing the buffer, with the first
 * mistake `e` recorded while building (when not OK), or INFD_NO_MEMORY when the
 * builder ran out of memory; the message goes to `err` (may be NULL). */
infd_status infd__fbb_finish(struct infd_fbb *b, const struct infd_error *e, uint8_t **out, size_t *size,
			     struct infd_error *err);

#endif
