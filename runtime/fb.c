/* Bounds-checked FlatBuffers access (see fb.h). Messages name the table type,
 * the path it was reached by, the field and the byte offset at fault. */
#include "fb.h"

#include <string.h>

#define FB_MAX_SIZE ((size_t)INT32_MAX)

static infd_status bad(struct infd_error *err, const struct infd_fb_table *t, const char *field,
		       const char *problem, uint64_t at)
{
	return infd__fail(err, INFD_BAD_FORMAT, "%s (%s): field '%s': %s (at byte 0x%llx)", t->path,
			  t->what, field, problem, (unsigned long long)at);
}

infd_status infd__fb_table_at(const struct infd_fb *fb, uint32_t pos, const char *what, const char *path,
			      struct infd_fb_table *out, struct infd_error *err)
{
	if ((uint64_t)pos + 4 > fb->size)
		return infd__fail(err, INFD_BAD_FORMAT, "%s (%s): table at byte 0x%x lies outside the %zu-byte buffer",
				  path, what, pos, fb->size);
	if (pos % 4)
		return infd__fail(err, INFD_BAD_FORMAT, "%s (%s): table at byte 0x%x is not 4-byte aligned", path,
				  what, pos);
	int32_t soff = (int32_t)infd__le32(fb->buf + pos);
	int64_t vt = (int64_t)pos - soff;
	if (vt < 0 || vt + 4 > (int64_t)fb->size || vt % 2)
		return infd__fail(err, INFD_BAD_FORMAT,
				  "%s (%s): table at byte 0x%x has its vtable at %lld, outside the buffer or misaligned",
				  path, what, pos, (long long)vt);
	uint16_t vt_size = infd__le16(fb->buf + vt);
	uint16_t inline_size = infd__le16(fb->buf + vt + 2);
	if (vt_size < 4 || vt_size % 2 || (uint64_t)vt + vt_size > fb->size)
		return infd__fail(err, INFD_BAD_FORMAT, "%s (%s): vtable at byte 0x%llx has a bad size %u", path, what,
				  (unsigned long long)vt, vt_size);
	if (inline_size < 4 || (uint64_t)pos + inline_size > fb->size)
		return infd__fail(err, INFD_BAD_FORMAT,
				  "%s (%s): table at byte 0x%x claims %u inline bytes, past the buffer end", path,
				  what, pos, inline_size);
	out->pos = pos;
	out->vt = (uint32_t)vt;
	out->vt_size = vt_size;
	out->inline_size = inline_size;
	out->what = what;
	out->path = path;
	return INFD_OK;
}

infd_status infd__fb_root(const struct infd_fb *fb, const char *what, struct infd_fb_table *out,
			  struct infd_error *err)
{
	if (fb->size < 8)
		return infd__fail(err, INFD_BAD_FORMAT, "%s: buffer of %zu bytes is too small for a flatbuffer", what,
				  fb->size);
	if (fb->size > FB_MAX_SIZE)
		return infd__fail(err, INFD_BAD_FORMAT, "%s: flatbuffer of %zu bytes exceeds 2 GiB", what, fb->size);
	uint32_t root = infd__le32(fb->buf);
	if (root < 8 || (uint64_t)root + 4 > fb->size)
		return infd__fail(err, INFD_BAD_FORMAT, "%s: root table offset 0x%x lies outside [8, %zu)", what,
				  root, fb->size - 3);
	return infd__fb_table_at(fb, root, what, what, out, err);
}

infd_status infd__fb_field(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			   const char *field, uint32_t size, uint32_t align, uint32_t *pos,
			   struct infd_error *err)
{
	*pos = 0;
	uint32_t entry = 4 + 2 * slot;
	if (entry + 2 > t->vt_size)
		return INFD_OK; /* vtable shorter than the schema: absent */
	uint16_t off = infd__le16(fb->buf + t->vt + entry);
	if (off == 0)
		return INFD_OK;
	/* Like the FlatBuffers verifier, bound fields by the buffer, not by the
	 * table's inline size: the reference writer's inline sizes can stop short
	 * of the last field (seen in stories260k_qnn.pte). */
	if (off < 4 || (uint64_t)t->pos + off + size > fb->size)
		return bad(err, t, field, "field lies outside the buffer", (uint64_t)t->pos + off);
	uint32_t p = t->pos + off;
	if (align > 1 && p % align)
		return bad(err, t, field, "field is misaligned", p);
	*pos = p;
	return INFD_OK;
}

#define FB_SCALAR(fn, type, size, expr)                                                            \
	infd_status fn(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,         \
		       const char *field, type def, type *out, struct infd_error *err)                 \
	{                                                                                          \
		uint32_t p;                                                                        \
		infd_status st = infd__fb_field(fb, t, slot, field, size, size, &p, err);          \
		if (st)                                                                            \
			return st;                                                                 \
		if (!p) {                                                                          \
			*out = def;                                                                \
			return INFD_OK;                                                            \
		}                                                                                  \
		const uint8_t *b = fb->buf + p;                                                    \
		*out = (expr);                                                                     \
		return INFD_OK;                                                                    \
	}

FB_SCALAR(infd__fb_u8, uint8_t, 1, b[0])
FB_SCALAR(infd__fb_i8, int8_t, 1, (int8_t)b[0])
FB_SCALAR(infd__fb_u16, uint16_t, 2, infd__le16(b))
FB_SCALAR(infd__fb_u32, uint32_t, 4, infd__le32(b))
FB_SCALAR(infd__fb_i32, int32_t, 4, (int32_t)infd__le32(b))
FB_SCALAR(infd__fb_u64, uint64_t, 8, infd__le64(b))
FB_SCALAR(infd__fb_i64, int64_t, 8, (int64_t)infd__le64(b))

infd_status infd__fb_f32(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			 const char *field, float def, float *out, struct infd_error *err)
{
	uint32_t bits;
	uint32_t defbits;
	memcpy(&defbits, &def, 4);
	infd_status st = infd__fb_u32(fb, t, slot, field, defbits, &bits, err);
	if (st == INFD_OK)
		memcpy(out, &bits, 4);
	return st;
}

infd_status infd__fb_f64(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			 const char *field, double def, double *out, struct infd_error *err)
{
	uint64_t bits;
	uint64_t defbits;
	memcpy(&defbits, &def, 8);
	infd_status st = infd__fb_u64(fb, t, slot, field, defbits, &bits, err);
	if (st == INFD_OK)
		memcpy(out, &bits, 8);
	return st;
}

infd_status infd__fb_bool(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			  const char *field, bool def, bool *out, struct infd_error *err)
{
	uint8_t v;
	infd_status st = infd__fb_u8(fb, t, slot, field, def, &v, err);
	if (st == INFD_OK)
		*out = v != 0;
	return st;
}

/* Follow the uoffset stored at `pos`; the target must leave room for `min` bytes. */
static infd_status follow(const struct infd_fb *fb, const struct infd_fb_table *t, const char *field,
			  uint32_t pos, uint32_t min, uint32_t *target, struct infd_error *err)
{
	uint32_t rel = infd__le32(fb->buf + pos);
	uint64_t tgt = (uint64_t)pos + rel;
	if (rel == 0 || tgt + min > fb->size)
		return bad(err, t, field, "offset points outside the buffer", pos);
	*target = (uint32_t)tgt;
	return INFD_OK;
}

infd_status infd__fb_table(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			   const char *field, const char *what, bool required, struct infd_fb_table *out,
			   bool *present, struct infd_error *err)
{
	uint32_t p, target;
	infd_status st = infd__fb_field(fb, t, slot, field, 4, 4, &p, err);
	if (st)
		return st;
	if (present)
		*present = p != 0;
	if (!p) {
		if (required)
			return infd__fail(err, INFD_BAD_FORMAT, "%s (%s): required field '%s' is missing", t->path,
					  t->what, field);
		return INFD_OK;
	}
	st = follow(fb, t, field, p, 4, &target, err);
	if (st)
		return st;
	return infd__fb_table_at(fb, target, what, t->path, out, err);
}

static infd_status vector_at(const struct infd_fb *fb, const struct infd_fb_table *t, const char *field,
			     uint32_t len_pos, uint32_t elem_size, uint32_t align, struct infd_fb_vec *out,
			     struct infd_error *err)
{
	if (len_pos % 4)
		return bad(err, t, field, "vector length is misaligned", len_pos);
	uint32_t count = infd__le32(fb->buf + len_pos);
	uint64_t data = (uint64_t)len_pos + 4;
	if ((uint64_t)count * elem_size > fb->size - data)
		return infd__fail(err, INFD_BAD_FORMAT,
				  "%s (%s): field '%s': vector of %u elements at byte 0x%x runs past the buffer end",
				  t->path, t->what, field, count, len_pos);
	if (align > 1 && data % align)
		return bad(err, t, field, "vector data is misaligned", data);
	out->pos = (uint32_t)data;
	out->count = count;
	out->elem_size = elem_size;
	out->present = true;
	return INFD_OK;
}

infd_status infd__fb_vector(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			    const char *field, uint32_t elem_size, uint32_t align, bool required,
			    struct infd_fb_vec *out, struct infd_error *err)
{
	uint32_t p, target;
	memset(out, 0, sizeof *out);
	infd_status st = infd__fb_field(fb, t, slot, field, 4, 4, &p, err);
	if (st)
		return st;
	if (!p) {
		if (required)
			return infd__fail(err, INFD_BAD_FORMAT, "%s (%s): required field '%s' is missing", t->path,
					  t->what, field);
		return INFD_OK;
	}
	st = follow(fb, t, field, p, 4, &target, err);
	if (st)
		return st;
	return vector_at(fb, t, field, target, elem_size, align, out, err);
}

static infd_status string_at(const struct infd_fb *fb, const struct infd_fb_table *t, const char *field,
			     uint32_t pos, const char **s, uint32_t *len, struct infd_error *err)
{
	if (pos % 4)
		return bad(err, t, field, "string is misaligned", pos);
	uint32_t n = infd__le32(fb->buf + pos);
	uint64_t data = (uint64_t)pos + 4;
	if ((uint64_t)n + 1 > fb->size - data)
		return bad(err, t, field, "string runs past the buffer end", pos);
	if (fb->buf[data + n] != 0)
		return bad(err, t, field, "string is not NUL-terminated", data + n);
	*s = (const char *)fb->buf + data;
	if (len)
		*len = n;
	return INFD_OK;
}

infd_status infd__fb_string(const struct infd_fb *fb, const struct infd_fb_table *t, uint32_t slot,
			    const char *field, bool required, const char **s, uint32_t *len,
			    struct infd_error *err)
{
	uint32_t p, target;
	*s = NULL;
	if (len)
		*len = 0;
	infd_status st = infd__fb_field(fb, t, slot, field, 4, 4, &p, err);
	if (st)
		return st;
	if (!p) {
		if (required)
			return infd__fail(err, INFD_BAD_FORMAT, "%s (%s): required field '%s' is missing", t->path,
					  t->what, field);
		return INFD_OK;
	}
	st = follow(fb, t, field, p, 4, &target, err);
	if (st)
		return st;
	return string_at(fb, t, field, target, s, len, err);
}

infd_status infd__fb_vec_table(const struct infd_fb *fb, const struct infd_fb_vec *v, uint32_t i,
			       const char *what, const char *path, struct infd_fb_table *out,
			       struct infd_error *err)
{
	struct infd_fb_table ctx = {.what = what, .path = path};
	uint32_t p = v->pos + 4 * i, target = 0;
	infd_status st = follow(fb, &ctx, "element", p, 4, &target, err);
	if (st)
		return st;
	return infd__fb_table_at(fb, target, what, path, out, err);
}

infd_status infd__fb_vec_string(const struct infd_fb *fb, const struct infd_fb_vec *v, uint32_t i,
				const char *path, const char **s, uint32_t *len, struct infd_error *err)
{
	struct infd_fb_table ctx = {.what = "string", .path = path};
	uint32_t p = v->pos + 4 * i, target = 0;
	infd_status st = follow(fb, &ctx, "element", p, 4, &target, err);
	if (st)
		return st;
	return string_at(fb, &ctx, "element", target, s, len, err);
}
