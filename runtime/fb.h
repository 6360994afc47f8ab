/* Bounds-checked access to FlatBuffers data. Every read checks the offset, the
 * size and the alignment against the buffer before touching a byte, so a
 * hostile file can produce an error but never an out-of-bounds read. Used by the
 * program, bundled-program and delegate-payload readers. */
#ifndef INFD_RUNTIME_FB_H
#define INFD_RUNTIME_FB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct infd_fb {
	const uint8_t *buf;
	size_t size; /* < 2^32 */
};

/* A table whose header and vtable have been checked. `what` names the table type
 * and `path` where it was reached from, for messages. */
struct infd_fb_table {
	uint32_t pos;
	uint32_t vt;
	uint16_t vt_size;
	uint16_t inline_size;
	const char *what;
	const char *path;
};

/* A vector whose length word and element bytes lie inside the buffer. */
struct infd_fb_vec {
	uint32_t pos; /* first element */
	uint32_t count;
	uint32_t elem_size;
	bool present;
};

static inline uint16_t infd__le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t infd__le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t infd__le64(const uint8_t *p)
{
	return (uint64_t)infd__le32(p) | ((uint64_t)infd__le32(p + 4) << 32);
}

/* Check that `buf` can hold a flatbuffer (size, < 2 GiB) and read the root table. */
infd_status infd__fb_root(const struct infd_fb *fb, const char *what, struct infd_fb_table *out,
			  struct infd_error *err);

/* Check the table at absolute position `pos`. */
infd_status infd__fb_table_at(const struct infd_fb *fb, uint32_t pos, const char *what, const char *path,
			      struct infd_fb_table *out, struct infd_error *err);

/* Position of field `slot` inside the buffer, checked to hold `size` bytes aligned
 * to `align`; 0 when the field is absent. */
infd_status infd__fb_field(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			   const char *field, uint32_t size, uint32_t align, uint32_t *pos,
			   struct infd_error *err);

/* Scalars: absent fields give `def`. */
infd_status infd__fb_u8(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			const char *field, uint8_t def, uint8_t *out, struct infd_error *err);
infd_status infd__fb_i8(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			const char *field, int8_t def, int8_t *out, struct infd_error *err);
infd_status infd__fb_u16(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			 const char *field, uint16_t def, uint16_t *out, struct infd_error *err);
infd_status infd__fb_u32(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			 const char *field, uint32_t def, uint32_t *out, struct infd_error *err);
infd_status infd__fb_i32(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			 const char *field, int32_t def, int32_t *out, struct infd_error *err);
infd_status infd__fb_u64(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			 const char *field, uint64_t def, uint64_t *out, struct infd_error *err);
infd_status infd__fb_i64(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			 const char *field, int64_t def, int64_t *out, struct infd_error *err);
infd_status infd__fb_f32(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			 const char *field, float def, float *out, struct infd_error *err);
infd_status infd__fb_f64(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			 const char *field, double def, double *out, struct infd_error *err);
infd_status infd__fb_bool(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			  const char *field, bool def, bool *out, struct infd_error *err);

/* Sub-table field. When absent: an error if `required`, else *present = false. */
infd_status infd__fb_table(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			   const char *field, const char *what, bool required, struct infd_fb_table *out,
			   bool *present, struct infd_error *err);

/* Vector field with elements of `elem_size` bytes whose data must be aligned to
 * `align`. Absent: an error if `required`, else out->present = false, count 0. */
infd_status infd__fb_vector(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			    const char *field, uint32_t elem_size, uint32_t align, bool required,
			    struct infd_fb_vec *out, struct infd_error *err);

/* String field: NUL-terminated inside the buffer. Absent: error if `required`,
 * else *s = NULL. */
infd_status infd__fb_string(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			    const char *field, bool required, const char **s, uint32_t *len,
			    struct infd_error *err);

/* Element `i` (< count) of a vector of tables / strings. `path` names the element
 * for messages. */
infd_status infd__fb_vec_table(const struct infd_fb *fb, const struct infd_fb_vec *v, uint32_t i,
			       const char *what, const char *path, struct infd_fb_table *out,
			       struct infd_error *err);
infd_status infd__fb_vec_string(const struct infd_fb *fb, const struct infd_fb_vec *v, uint32_t i,
				const char *path, const char **s, uint32_t *len, struct infd_error *err);

/* Element reads of a checked vector (i < count). */
static inline const uint8_t *infd__fb_vec_ptr(const struct infd_fb *fb, const struct infd_fb_vec *v)
{
	return fb->buf + v->pos;
}
static inline uint8_t infd__fb_vec_u8(const struct infd_fb *fb, const struct infd_fb_vec *v, uint32_t i)
{
	return fb->buf[v->pos + i];
}
static inline uint32_t infd__fb_vec_u32(const struct infd_fb *fb, const struct infd_fb_vec *v, uint32_t i)
{
	return infd__le32(fb->buf + v->pos + 4 * (size_t)i);
}
static inline int32_t infd__fb_vec_i32(const struct infd_fb *fb, const struct infd_fb_vec *v, uint32_t i)
{
	return (int32_t)infd__fb_vec_u32(fb, v, i);
}
static inline uint64_t infd__fb_vec_u64(const struct infd_fb *fb, const struct infd_fb_vec *v, uint32_t i)
{
	return infd__le64(fb->buf + v->pos + 8 * (size_t)i);
}
static inline int64_t infd__fb_vec_i64(const struct infd_fb *fb, const struct infd_fb_vec *v, uint32_t i)
{
	return (int64_t)infd__fb_vec_u64(fb, v, i);
}

#endif
