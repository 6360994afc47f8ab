/* The .pte reader: checks the container (extended header, segments) and decodes
 * the Program flatbuffer into the structures of program.h, verifying every
 * offset, index, tag, size and alignment on the way (pte-format.md §3, §4, §6). */
#include "program.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fb.h"
#include "pool.h"

struct program_impl {
	struct infd_program pub;
	struct infd_pool pool; /* every decoded structure */
};

struct decoder {
	struct program_impl *impl;
	struct infd_fb fb;
	struct infd_error *err;
	uint32_t n_delegate_data;
	const uint8_t **delegate_data;
	uint64_t *delegate_data_size;
	const uint64_t *segment_offset;
	const uint64_t *segment_size;
};

#define ALLOC_OR_FAIL(ptr, d, count, type)                                                     \
	do {                                                                                   \
		(ptr) = infd__pool_array(&(d)->impl->pool, (count), sizeof(type));                          \
		if (!(ptr))                                                                    \
			return infd__fail((d)->err, INFD_NO_MEMORY, "out of memory while decoding"); \
	} while (0)

#define TRY(expr)                                                                              \
	do {                                                                                   \
		infd_status st_ = (expr);                                                      \
		if (st_)                                                                       \
			return st_;                                                            \
	} while (0)

const char *infd__value_kind_name(int kind)
{
	static const char *names[] = {
		[INFD_VALUE_NULL] = "null",          [INFD_VALUE_INT] = "int",
		[INFD_VALUE_BOOL] = "bool",          [INFD_VALUE_DOUBLE] = "double",
		[INFD_VALUE_TENSOR] = "tensor",      [INFD_VALUE_STRING] = "string",
		[INFD_VALUE_INT_LIST] = "int list",  [INFD_VALUE_DOUBLE_LIST] = "double list",
		[INFD_VALUE_BOOL_LIST] = "bool list", [INFD_VALUE_TENSOR_LIST] = "tensor list",
		[INFD_VALUE_OPT_TENSOR_LIST] = "optional tensor list",
	};
	if (kind >= INFD_VALUE_NULL && kind <= INFD_VALUE_OPT_TENSOR_LIST)
		return names[kind];
	return "invalid";
}

/* ---- container: extended header and segments ---------------------------------- */

static infd_status read_header(struct infd_program *p, struct infd_error *err)
{
	if (p->size < 64)
		return infd__fail(err, INFD_BAD_FORMAT, "file of %zu bytes is too small to be a program (minimum 64)",
				  p->size);
	const uint8_t *b = p->data;
	if (memcmp(b + 4, "ET12", 4) != 0) {
		if (memcmp(b + 4, "ET", 2) == 0)
			return infd__fail(err, INFD_UNSUPPORTED,
					  "program format version '%.4s' is not supported (expected ET12)",
					  (const char *)b + 4);
		if (memcmp(b + 4, "BP", 2) == 0)
			return infd__fail(err, INFD_BAD_FORMAT,
					  "this is a bundled program (.bpte, identifier '%.4s'), not a plain .pte",
					  (const char *)b + 4);
		return infd__fail(err, INFD_BAD_FORMAT,
				  "not an ExecuTorch program: identifier at bytes 4..7 is not 'ET12'");
	}
	p->program_size = p->size;
	if (memcmp(b + 8, "eh00", 4) != 0)
		return INFD_OK;
	uint32_t len = infd__le32(b + 12);
	if (len < 24)
		return infd__fail(err, INFD_BAD_FORMAT, "extended header: length %u is shorter than 24 bytes", len);
	p->has_ext_header = true;
	p->ext_header_len = len;
	p->program_size = infd__le64(b + 16);
	p->segment_base_offset = infd__le64(b + 24);
	p->segment_data_size = len >= 32 ? infd__le64(b + 32) : 0;
	if (p->program_size < 64 || p->program_size > p->size)
		return infd__fail(err, INFD_BAD_FORMAT,
				  "extended header: program_size %llu is outside the %zu-byte file",
				  (unsigned long long)p->program_size, p->size);
	if (p->segment_base_offset && p->segment_base_offset < p->program_size)
		return infd__fail(err, INFD_BAD_FORMAT,
				  "extended header: segment_base_offset %llu lies inside the flatbuffer (program_size %llu)",
				  (unsigned long long)p->segment_base_offset, (unsigned long long)p->program_size);
	if (p->segment_base_offset > p->size ||
	    p->segment_data_size > p->size - (p->segment_base_offset ? p->segment_base_offset : p->size))
		return infd__fail(err, INFD_BAD_FORMAT,
				  "extended header: segments (base %llu, %llu bytes) extend past the end of the %zu-byte file (truncated?)",
				  (unsigned long long)p->segment_base_offset, (unsigned long long)p->segment_data_size,
				  p->size);
	return INFD_OK;
}

/* Bytes [off, off+len) of segment `idx`, checked against the file. */
static infd_status segment_range(struct decoder *d, uint32_t idx, uint64_t off, uint64_t len, const char *who,
				 const uint8_t **out)
{
	struct infd_program *p = &d->impl->pub;
	if (idx >= p->n_segments)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: segment index %u out of range (%u segments)", who,
				  idx, p->n_segments);
	uint64_t seg_off = d->segment_offset[idx], seg_size = d->segment_size[idx];
	if (off > seg_size || len > seg_size - off)
		return infd__fail(d->err, INFD_BAD_FORMAT,
				  "%s: bytes [%llu, %llu) lie outside segment %u of %llu bytes", who,
				  (unsigned long long)off, (unsigned long long)(off + len), idx,
				  (unsigned long long)seg_size);
	*out = p->data + p->segment_base_offset + seg_off + off;
	return INFD_OK;
}

static infd_status decode_segments(struct decoder *d, const struct infd_fb_table *root)
{
	struct infd_program *p = &d->impl->pub;
	struct infd_fb_vec v;
	TRY(infd__fb_vector(&d->fb, root, 4, "segments", 4, 4, false, &v, d->err));
	p->n_segments = v.count;
	uint64_t *offs, *sizes;
	ALLOC_OR_FAIL(offs, d, v.count, uint64_t);
	ALLOC_OR_FAIL(sizes, d, v.count, uint64_t);
	for (uint32_t i = 0; i < v.count; i++) {
		char path[64];
		struct infd_fb_table t;
		snprintf(path, sizeof path, "Program.segments[%u]", i);
		TRY(infd__fb_vec_table(&d->fb, &v, i, "DataSegment", path, &t, d->err));
		TRY(infd__fb_u64(&d->fb, &t, 0, "offset", 0, &offs[i], d->err));
		TRY(infd__fb_u64(&d->fb, &t, 1, "size", 0, &sizes[i], d->err));
		if (sizes[i] == 0) {
			/* Empty segments take no space, but their offset is still used to
			 * form pointers: it must stay inside the file too. */
			if (offs[i] > p->size - p->segment_base_offset)
				return infd__fail(d->err, INFD_BAD_FORMAT,
						  "%s: offset %llu of an empty segment lies past the end of the file", path,
						  (unsigned long long)offs[i]);
			continue;
		}
		if (!p->segment_base_offset)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s: segment of %llu bytes but the file has no extended header locating segment data",
					  path, (unsigned long long)sizes[i]);
		uint64_t avail = p->size - p->segment_base_offset;
		if (offs[i] > avail || sizes[i] > avail - offs[i])
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s: bytes [%llu, %llu) after the segment base run past the end of the file (%llu bytes of segment data; truncated?)",
					  path, (unsigned long long)offs[i], (unsigned long long)(offs[i] + sizes[i]),
					  (unsigned long long)avail);
	}
	d->segment_offset = offs;
	d->segment_size = sizes;
	return INFD_OK;
}

/* A SubsegmentOffsets table: blob k (k >= 1) starts at offsets[k] inside segment
 * `seg`; entry 0 is the reserved placeholder. Fills pointers and the bytes
 * available from each start, and the segment's size. */
static infd_status resolve_subsegments(struct decoder *d, const char *what, uint32_t seg, const struct infd_fb_vec *offs,
				       const uint8_t ***starts, uint64_t **avail, uint64_t *seg_bytes)
{
	struct infd_program *p = &d->impl->pub;
	const uint8_t *base;
	if (seg >= p->n_segments)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: segment_index %u out of range (%u segments)", what, seg,
				  p->n_segments);
	uint64_t size = d->segment_size[seg];
	TRY(segment_range(d, seg, 0, size, what, &base));
	*seg_bytes = size;
	ALLOC_OR_FAIL(*starts, d, offs->count, const uint8_t *);
	ALLOC_OR_FAIL(*avail, d, offs->count, uint64_t);
	for (uint32_t k = 1; k < offs->count; k++) {
		uint64_t o = infd__fb_vec_u64(&d->fb, offs, k);
		if (o > size)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s.offsets[%u] = %llu lies past the %llu-byte segment",
					  what, k, (unsigned long long)o, (unsigned long long)size);
		(*starts)[k] = base + o;
		(*avail)[k] = size - o;
	}
	return INFD_OK;
}

static infd_status decode_constants(struct decoder *d, const struct infd_fb_table *root)
{
	struct infd_program *p = &d->impl->pub;
	struct infd_fb_vec legacy, offs = {0};
	struct infd_fb_table cs;
	bool has_cs = false;
	uint32_t seg = 0;
	TRY(infd__fb_vector(&d->fb, root, 2, "constant_buffer", 4, 4, false, &legacy, d->err));
	TRY(infd__fb_table(&d->fb, root, 5, "constant_segment", "SubsegmentOffsets", false, &cs, &has_cs, d->err));
	if (has_cs) {
		TRY(infd__fb_u32(&d->fb, &cs, 0, "segment_index", 0, &seg, d->err));
		TRY(infd__fb_vector(&d->fb, &cs, 1, "offsets", 8, 8, false, &offs, d->err));
	}
	if (offs.count > 1) {
		if (legacy.count > 0)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "Program: both constant_buffer (%u entries) and constant_segment (%u offsets) hold constants",
					  legacy.count, offs.count);
		TRY(resolve_subsegments(d, "Program.constant_segment", seg, &offs, &p->constants, &p->constant_avail,
					&p->constant_segment_bytes));
		p->n_constants = offs.count;
		return INFD_OK;
	}
	p->constants_legacy = legacy.count > 0;
	p->n_constants = legacy.count;
	ALLOC_OR_FAIL(p->constants, d, legacy.count ? legacy.count : 1, const uint8_t *);
	ALLOC_OR_FAIL(p->constant_avail, d, legacy.count ? legacy.count : 1, uint64_t);
	for (uint32_t k = 0; k < legacy.count; k++) {
		char path[64];
		struct infd_fb_table t;
		struct infd_fb_vec storage;
		snprintf(path, sizeof path, "Program.constant_buffer[%u]", k);
		TRY(infd__fb_vec_table(&d->fb, &legacy, k, "Buffer", path, &t, d->err));
		TRY(infd__fb_vector(&d->fb, &t, 0, "storage", 1, 1, false, &storage, d->err));
		p->constants[k] = storage.present ? d->fb.buf + storage.pos : NULL;
		p->constant_avail[k] = storage.count;
		p->constant_segment_bytes += storage.count;
	}
	return INFD_OK;
}

static infd_status decode_mutable(struct decoder *d, const struct infd_fb_table *root)
{
	struct infd_program *p = &d->impl->pub;
	struct infd_fb_vec v, offs;
	struct infd_fb_table t;
	uint32_t seg;
	TRY(infd__fb_vector(&d->fb, root, 6, "mutable_data_segments", 4, 4, false, &v, d->err));
	if (v.count == 0)
		return INFD_OK;
	/* Only entry 0 is used, as the ExecuTorch runtime does. */
	TRY(infd__fb_vec_table(&d->fb, &v, 0, "SubsegmentOffsets", "Program.mutable_data_segments[0]", &t, d->err));
	TRY(infd__fb_u32(&d->fb, &t, 0, "segment_index", 0, &seg, d->err));
	TRY(infd__fb_vector(&d->fb, &t, 1, "offsets", 8, 8, true, &offs, d->err));
	if (offs.count <= 1)
		return INFD_OK;
	uint64_t size;
	TRY(resolve_subsegments(d, "Program.mutable_data_segments[0]", seg, &offs, &p->mutable_data, &p->mutable_avail,
				&size));
	p->n_mutable = offs.count;
	return INFD_OK;
}

static infd_status decode_named_and_inline(struct decoder *d, const struct infd_fb_table *root)
{
	struct infd_program *p = &d->impl->pub;
	struct infd_fb_vec v;
	TRY(infd__fb_vector(&d->fb, root, 7, "named_data", 4, 4, false, &v, d->err));
	p->n_named = v.count;
	ALLOC_OR_FAIL(p->named, d, v.count, struct infd_named_data);
	for (uint32_t i = 0; i < v.count; i++) {
		char path[64];
		struct infd_fb_table t;
		uint32_t seg;
		snprintf(path, sizeof path, "Program.named_data[%u]", i);
		TRY(infd__fb_vec_table(&d->fb, &v, i, "NamedData", path, &t, d->err));
		TRY(infd__fb_string(&d->fb, &t, 0, "key", true, &p->named[i].key, NULL, d->err));
		TRY(infd__fb_u32(&d->fb, &t, 1, "segment_index", 0, &seg, d->err));
		if (seg >= p->n_segments)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s: segment_index %u out of range (%u segments)",
					  path, seg, p->n_segments);
		p->named[i].size = d->segment_size[seg];
		TRY(segment_range(d, seg, 0, p->named[i].size, path, &p->named[i].data));
	}
	TRY(infd__fb_vector(&d->fb, root, 3, "backend_delegate_data", 4, 4, false, &v, d->err));
	d->n_delegate_data = v.count;
	ALLOC_OR_FAIL(d->delegate_data, d, v.count, const uint8_t *);
	ALLOC_OR_FAIL(d->delegate_data_size, d, v.count, uint64_t);
	for (uint32_t i = 0; i < v.count; i++) {
		char path[64];
		struct infd_fb_table t;
		struct infd_fb_vec data;
		snprintf(path, sizeof path, "Program.backend_delegate_data[%u]", i);
		TRY(infd__fb_vec_table(&d->fb, &v, i, "BackendDelegateInlineData", path, &t, d->err));
		TRY(infd__fb_vector(&d->fb, &t, 0, "data", 1, 1, true, &data, d->err));
		d->delegate_data[i] = d->fb.buf + data.pos;
		d->delegate_data_size[i] = data.count;
	}
	return INFD_OK;
}

/* ---- methods ------------------------------------------------------------------------ */

static infd_status decode_tensor(struct decoder *d, struct infd_method_def *m, const struct infd_fb_table *t,
				 struct infd_tensor_def *td)
{
	const struct infd_fb *fb = &d->fb;
	struct infd_program *p = &d->impl->pub;
	const char *path = t->path;
	int32_t storage_offset;
	int8_t layout;
	uint8_t dyn;
	struct infd_fb_vec sizes, order;
	TRY(infd__fb_i8(fb, t, 0, "scalar_type", 0, &td->dtype, d->err));
	TRY(infd__fb_i32(fb, t, 1, "storage_offset", 0, &storage_offset, d->err));
	TRY(infd__fb_vector(fb, t, 2, "sizes", 4, 4, true, &sizes, d->err));
	TRY(infd__fb_vector(fb, t, 3, "dim_order", 1, 1, true, &order, d->err));
	TRY(infd__fb_u32(fb, t, 5, "data_buffer_idx", 0, &td->data_buffer_idx, d->err));
	TRY(infd__fb_i8(fb, t, 7, "layout", 0, &layout, d->err));
	TRY(infd__fb_u8(fb, t, 8, "shape_dynamism", 0, &dyn, d->err));
	if (!infd_dtype_valid(td->dtype))
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Tensor): scalar_type %d is not a supported dtype", path,
				  td->dtype);
	if (storage_offset != 0)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Tensor): storage_offset %d must be 0", path,
				  storage_offset);
	if (layout != 0)
		return infd__fail(d->err, INFD_UNSUPPORTED, "%s (Tensor): layout %d is not strided (0)", path, layout);
	if (dyn > INFD_SHAPE_DYNAMIC_UNBOUND)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Tensor): shape_dynamism %u is not a known value", path,
				  dyn);
	if (dyn == INFD_SHAPE_DYNAMIC_UNBOUND)
		return infd__fail(d->err, INFD_UNSUPPORTED, "%s (Tensor): DYNAMIC_UNBOUND shapes are not supported",
				  path);
	td->dynamism = dyn;
	if (sizes.count > INFD_MAX_RANK)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Tensor): rank %u exceeds %d", path, sizes.count,
				  INFD_MAX_RANK);
	if (order.count != sizes.count)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Tensor): dim_order has %u entries for rank %u", path,
				  order.count, sizes.count);
	td->rank = (uint8_t)sizes.count;
	uint32_t seen = 0;
	uint64_t numel = 1, extent = 1; /* extent: product of the non-zero sizes (bounds the strides) */
	for (uint32_t i = 0; i < sizes.count; i++) {
		td->sizes[i] = infd__fb_vec_i32(fb, &sizes, i);
		td->dim_order[i] = infd__fb_vec_u8(fb, &order, i);
		if (td->sizes[i] < 0)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Tensor): sizes[%u] = %d is negative", path, i,
					  td->sizes[i]);
		if (td->dim_order[i] >= sizes.count || (seen & (1u << td->dim_order[i])))
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Tensor): dim_order is not a permutation of 0..%u",
					  path, sizes.count - 1);
		seen |= 1u << td->dim_order[i];
		numel *= (uint64_t)td->sizes[i];
		if (td->sizes[i])
			extent *= (uint64_t)td->sizes[i];
		if (numel > (UINT64_C(1) << 48) || extent > (UINT64_C(1) << 48))
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Tensor): element count overflows", path);
	}
	td->numel = numel;
	td->nbytes = numel * infd_dtype_size(td->dtype);

	struct infd_fb_table alloc, extra;
	bool planned, has_extra;
	uint8_t location = 0;
	TRY(infd__fb_table(fb, t, 6, "allocation_info", "AllocationDetails", false, &alloc, &planned, d->err));
	TRY(infd__fb_table(fb, t, 9, "extra_tensor_info", "ExtraTensorInfo", false, &extra, &has_extra, d->err));
	if (has_extra) {
		TRY(infd__fb_string(fb, &extra, 1, "fully_qualified_name", false, &td->fqn, NULL, d->err));
		TRY(infd__fb_u8(fb, &extra, 2, "location", 0, &location, d->err));
		if (location > 1)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s (ExtraTensorInfo): location %u is not a known value",
					  path, location);
	}
	if (location == 1) {
		td->storage = INFD_STORAGE_EXTERNAL;
		return infd__fail(d->err, INFD_UNSUPPORTED,
				  "%s (Tensor): data lives in an external .ptd file (key '%s'), which is not supported yet",
				  path, td->fqn ? td->fqn : "");
	}
	size_t esize = infd_dtype_size(td->dtype);
	if (planned) {
		uint32_t lo, hi;
		td->storage = INFD_STORAGE_PLANNED;
		TRY(infd__fb_u32(fb, &alloc, 0, "memory_id", 0, &td->memory_id, d->err));
		TRY(infd__fb_u32(fb, &alloc, 1, "memory_offset_low", 0, &lo, d->err));
		TRY(infd__fb_u32(fb, &alloc, 2, "memory_offset_high", 0, &hi, d->err));
		td->memory_offset = (uint64_t)lo | ((uint64_t)hi << 32);
		if (td->memory_id == 0 || td->memory_id > m->n_buffers)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s (AllocationDetails): memory_id %u out of range (the plan has %u buffers, ids start at 1)",
					  path, td->memory_id, m->n_buffers);
		uint64_t arena = m->buffer_sizes[td->memory_id - 1];
		if (td->memory_offset > arena || td->nbytes > arena - td->memory_offset)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s (AllocationDetails): %llu bytes at offset %llu lie outside planned buffer %u of %llu bytes",
					  path, (unsigned long long)td->nbytes, (unsigned long long)td->memory_offset,
					  td->memory_id, (unsigned long long)arena);
		if (td->memory_offset % esize)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s (AllocationDetails): offset %llu is not aligned to the %zu-byte element size",
					  path, (unsigned long long)td->memory_offset, esize);
		if (td->data_buffer_idx) {
			uint32_t k = td->data_buffer_idx;
			if (k >= p->n_mutable)
				return infd__fail(d->err, INFD_BAD_FORMAT,
						  "%s (Tensor): data_buffer_idx %u out of range for mutable data (%u entries)",
						  path, k, p->n_mutable);
			if (td->nbytes > p->mutable_avail[k])
				return infd__fail(d->err, INFD_BAD_FORMAT,
						  "%s (Tensor): initial value of %llu bytes runs past mutable data entry %u",
						  path, (unsigned long long)td->nbytes, k);
			td->data = p->mutable_data[k];
		}
		return INFD_OK;
	}
	if (td->data_buffer_idx == 0) {
		td->storage = INFD_STORAGE_NONE;
		return INFD_OK;
	}
	uint32_t k = td->data_buffer_idx;
	td->storage = INFD_STORAGE_CONSTANT;
	if (k >= p->n_constants)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Tensor): data_buffer_idx %u out of range (%u constants)",
				  path, k, p->n_constants);
	if (td->nbytes > p->constant_avail[k])
		return infd__fail(d->err, INFD_BAD_FORMAT,
				  "%s (Tensor): %llu bytes of constant %u run past its storage (%llu bytes available)",
				  path, (unsigned long long)td->nbytes, k, (unsigned long long)p->constant_avail[k]);
	td->data = p->constants[k];
	if (td->data && (uintptr_t)td->data % esize)
		return infd__fail(d->err, INFD_BAD_FORMAT,
				  "%s (Tensor): constant %u is not aligned to its %zu-byte element size", path, k, esize);
	return INFD_OK;
}

/* Check list member `idx` (from the list at value `self`) against allowed kinds. */
static infd_status list_member(struct decoder *d, const struct infd_method_def *m, const char *path,
			       uint32_t self, uint32_t j, int64_t idx, bool allow_none, int kind_a, int kind_b)
{
	if (allow_none && idx == -1)
		return INFD_OK;
	if (idx < 0 || idx >= self)
		return infd__fail(d->err, INFD_BAD_FORMAT,
				  "%s: items[%u] = %lld must name an earlier value (0..%u)", path, j, (long long)idx,
				  self ? self - 1 : 0);
	int k = m->values[idx].kind;
	if (k != kind_a && k != kind_b)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: items[%u] = value %lld is a %s, expected a %s", path, j,
				  (long long)idx, infd__value_kind_name(k), infd__value_kind_name(kind_a));
	return INFD_OK;
}

static infd_status decode_value(struct decoder *d, struct infd_method_def *m, uint32_t mi, uint32_t i,
				const struct infd_fb_vec *values)
{
	const struct infd_fb *fb = &d->fb;
	char path[96];
	struct infd_fb_table ev, t;
	uint8_t tag;
	bool present;
	struct infd_value_def *v = &m->values[i];
	snprintf(path, sizeof path, "Program.execution_plan[%u].values[%u]", mi, i);
	TRY(infd__fb_vec_table(fb, values, i, "EValue", path, &ev, d->err));
	TRY(infd__fb_u8(fb, &ev, 0, "val_type", 0, &tag, d->err));
	if (tag == 0 || tag > INFD_VALUE_OPT_TENSOR_LIST)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s (EValue): val_type %u is not a known value kind", path,
				  tag);
	v->kind = tag;
	static const char *table_names[] = {
		[INFD_VALUE_NULL] = "Null",          [INFD_VALUE_INT] = "Int",
		[INFD_VALUE_BOOL] = "Bool",          [INFD_VALUE_DOUBLE] = "Double",
		[INFD_VALUE_TENSOR] = "Tensor",      [INFD_VALUE_STRING] = "String",
		[INFD_VALUE_INT_LIST] = "IntList",   [INFD_VALUE_DOUBLE_LIST] = "DoubleList",
		[INFD_VALUE_BOOL_LIST] = "BoolList", [INFD_VALUE_TENSOR_LIST] = "TensorList",
		[INFD_VALUE_OPT_TENSOR_LIST] = "OptionalTensorList",
	};
	TRY(infd__fb_table(fb, &ev, 1, "val", table_names[tag], tag != INFD_VALUE_NULL, &t, &present, d->err));
	struct infd_fb_vec items;
	switch (tag) {
	case INFD_VALUE_NULL:
		return INFD_OK;
	case INFD_VALUE_INT:
		return infd__fb_i64(fb, &t, 0, "int_val", 0, &v->u.i, d->err);
	case INFD_VALUE_BOOL:
		return infd__fb_bool(fb, &t, 0, "bool_val", false, &v->u.b, d->err);
	case INFD_VALUE_DOUBLE:
		return infd__fb_f64(fb, &t, 0, "double_val", 0.0, &v->u.d, d->err);
	case INFD_VALUE_STRING:
		return infd__fb_string(fb, &t, 0, "string_val", true, &v->u.str.ptr, &v->u.str.len, d->err);
	case INFD_VALUE_TENSOR:
		v->u.tensor = &m->tensors[m->n_tensors++];
		return decode_tensor(d, m, &t, v->u.tensor);
	case INFD_VALUE_INT_LIST:
		TRY(infd__fb_vector(fb, &t, 0, "items", 8, 8, true, &items, d->err));
		v->u.list.count = items.count;
		ALLOC_OR_FAIL(v->u.list.indices, d, items.count, int32_t);
		for (uint32_t j = 0; j < items.count; j++) {
			int64_t idx = infd__fb_vec_i64(fb, &items, j);
			TRY(list_member(d, m, path, i, j, idx, false, INFD_VALUE_INT, INFD_VALUE_INT));
			v->u.list.indices[j] = (int32_t)idx;
		}
		return INFD_OK;
	case INFD_VALUE_TENSOR_LIST:
	case INFD_VALUE_OPT_TENSOR_LIST:
		TRY(infd__fb_vector(fb, &t, 0, "items", 4, 4, true, &items, d->err));
		v->u.list.count = items.count;
		ALLOC_OR_FAIL(v->u.list.indices, d, items.count, int32_t);
		for (uint32_t j = 0; j < items.count; j++) {
			int32_t idx = infd__fb_vec_i32(fb, &items, j);
			bool opt = tag == INFD_VALUE_OPT_TENSOR_LIST;
			TRY(list_member(d, m, path, i, j, idx, opt, INFD_VALUE_TENSOR,
					opt ? INFD_VALUE_NULL : INFD_VALUE_TENSOR));
			v->u.list.indices[j] = idx;
		}
		return INFD_OK;
	case INFD_VALUE_DOUBLE_LIST:
		TRY(infd__fb_vector(fb, &t, 0, "items", 8, 8, true, &items, d->err));
		v->u.list.count = items.count;
		ALLOC_OR_FAIL(v->u.list.doubles, d, items.count, double);
		for (uint32_t j = 0; j < items.count; j++) {
			uint64_t bits = infd__fb_vec_u64(fb, &items, j);
			memcpy(&v->u.list.doubles[j], &bits, 8);
		}
		return INFD_OK;
	case INFD_VALUE_BOOL_LIST:
		TRY(infd__fb_vector(fb, &t, 0, "items", 1, 1, true, &items, d->err));
		v->u.list.count = items.count;
		ALLOC_OR_FAIL(v->u.list.bools, d, items.count, bool);
		for (uint32_t j = 0; j < items.count; j++)
			v->u.list.bools[j] = infd__fb_vec_u8(fb, &items, j) != 0;
		return INFD_OK;
	}
	return INFD_OK;
}

static infd_status check_index(struct decoder *d, const char *path, const char *field, int64_t idx, uint32_t n,
			       const char *space)
{
	if (idx < 0 || idx >= n)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: %s = %lld is out of range (%u %s)", path, field,
				  (long long)idx, n, space);
	return INFD_OK;
}

/* A vector of i32 value indices, copied and range-checked. */
static infd_status index_vector(struct decoder *d, const struct infd_fb_table *t, uint32_t slot, const char *field,
				uint32_t n_values, uint32_t *count, int32_t **out)
{
	struct infd_fb_vec v;
	TRY(infd__fb_vector(&d->fb, t, slot, field, 4, 4, true, &v, d->err));
	ALLOC_OR_FAIL(*out, d, v.count, int32_t);
	*count = v.count;
	for (uint32_t j = 0; j < v.count; j++) {
		char what[64];
		(*out)[j] = infd__fb_vec_i32(&d->fb, &v, j);
		snprintf(what, sizeof what, "%s[%u]", field, j);
		TRY(check_index(d, t->path, what, (*out)[j], n_values, "values"));
	}
	return INFD_OK;
}

static infd_status decode_instruction(struct decoder *d, struct infd_method_def *m, const struct infd_fb_table *it,
				      struct infd_instr_def *in, uint32_t n_instrs)
{
	const struct infd_fb *fb = &d->fb;
	static const char *names[] = {NULL, "KernelCall", "DelegateCall", "MoveCall", "JumpFalseCall", "FreeCall"};
	uint8_t tag;
	struct infd_fb_table a;
	TRY(infd__fb_u8(fb, it, 0, "instr_args_type", 0, &tag, d->err));
	if (tag == 0 || tag > INFD_INSTR_FREE)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Instruction): instr_args_type %u is not a known kind",
				  it->path, tag);
	in->kind = tag;
	TRY(infd__fb_table(fb, it, 1, "instr_args", names[tag], true, &a, NULL, d->err));
	switch (tag) {
	case INFD_INSTR_KERNEL:
		TRY(infd__fb_i32(fb, &a, 0, "op_index", 0, &in->a, d->err));
		TRY(check_index(d, a.path, "KernelCall.op_index", in->a, m->n_operators, "operators"));
		return index_vector(d, &a, 1, "args", m->n_values, &in->n_args, &in->args);
	case INFD_INSTR_DELEGATE:
		TRY(infd__fb_i32(fb, &a, 0, "delegate_index", 0, &in->a, d->err));
		TRY(check_index(d, a.path, "DelegateCall.delegate_index", in->a, m->n_delegates, "delegates"));
		return index_vector(d, &a, 1, "args", m->n_values, &in->n_args, &in->args);
	case INFD_INSTR_MOVE:
		TRY(infd__fb_i32(fb, &a, 0, "move_from", 0, &in->a, d->err));
		TRY(infd__fb_i32(fb, &a, 1, "move_to", 0, &in->b, d->err));
		TRY(check_index(d, a.path, "MoveCall.move_from", in->a, m->n_values, "values"));
		return check_index(d, a.path, "MoveCall.move_to", in->b, m->n_values, "values");
	case INFD_INSTR_JUMP_FALSE:
		TRY(infd__fb_i32(fb, &a, 0, "cond_value_index", 0, &in->a, d->err));
		TRY(infd__fb_i32(fb, &a, 1, "destination_instruction", 0, &in->b, d->err));
		TRY(check_index(d, a.path, "JumpFalseCall.cond_value_index", in->a, m->n_values, "values"));
		if (m->values[in->a].kind != INFD_VALUE_BOOL && m->values[in->a].kind != INFD_VALUE_TENSOR)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s (JumpFalseCall): condition value %d is a %s, not a bool or a tensor", a.path,
					  in->a, infd__value_kind_name(m->values[in->a].kind));
		return check_index(d, a.path, "JumpFalseCall.destination_instruction", in->b, n_instrs + 1,
				   "instructions, plus the end");
	case INFD_INSTR_FREE:
		TRY(infd__fb_i32(fb, &a, 0, "value_index", 0, &in->a, d->err));
		TRY(check_index(d, a.path, "FreeCall.value_index", in->a, m->n_values, "values"));
		if (m->values[in->a].kind != INFD_VALUE_TENSOR)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s (FreeCall): value %d is a %s, not a tensor", a.path,
					  in->a, infd__value_kind_name(m->values[in->a].kind));
		return INFD_OK;
	}
	return INFD_OK;
}

static infd_status decode_delegate(struct decoder *d, const struct infd_fb_table *t, struct infd_delegate_def *dd)
{
	const struct infd_fb *fb = &d->fb;
	struct infd_program *p = &d->impl->pub;
	struct infd_fb_table ref;
	struct infd_fb_vec specs;
	int8_t loc;
	TRY(infd__fb_string(fb, t, 0, "id", true, &dd->id, NULL, d->err));
	TRY(infd__fb_table(fb, t, 1, "processed", "BackendDelegateDataReference", true, &ref, NULL, d->err));
	TRY(infd__fb_i8(fb, &ref, 0, "location", 0, &loc, d->err));
	TRY(infd__fb_u32(fb, &ref, 1, "index", 0, &dd->data_index, d->err));
	if (loc == 0) {
		dd->inline_data = true;
		if (dd->data_index >= d->n_delegate_data)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s (BackendDelegate '%s'): inline payload index %u out of range (%u entries in backend_delegate_data)",
					  t->path, dd->id, dd->data_index, d->n_delegate_data);
		dd->payload = d->delegate_data[dd->data_index];
		dd->payload_size = d->delegate_data_size[dd->data_index];
	} else if (loc == 1) {
		if (dd->data_index >= p->n_segments)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s (BackendDelegate '%s'): payload segment %u out of range (%u segments)", t->path,
					  dd->id, dd->data_index, p->n_segments);
		dd->payload_size = d->segment_size[dd->data_index];
		TRY(segment_range(d, dd->data_index, 0, dd->payload_size, t->path, &dd->payload));
	} else {
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s (BackendDelegate '%s'): data location %d is not known",
				  t->path, dd->id, loc);
	}
	TRY(infd__fb_vector(fb, t, 2, "compile_specs", 4, 4, false, &specs, d->err));
	dd->n_specs = specs.count;
	ALLOC_OR_FAIL(dd->specs, d, specs.count, struct infd_compile_spec);
	for (uint32_t i = 0; i < specs.count; i++) {
		char path[128];
		struct infd_fb_table cs;
		struct infd_fb_vec val;
		snprintf(path, sizeof path, "%s.compile_specs[%u]", t->path, i);
		TRY(infd__fb_vec_table(fb, &specs, i, "CompileSpec", path, &cs, d->err));
		TRY(infd__fb_string(fb, &cs, 0, "key", true, &dd->specs[i].key, NULL, d->err));
		TRY(infd__fb_vector(fb, &cs, 1, "value", 1, 1, true, &val, d->err));
		dd->specs[i].value = fb->buf + val.pos;
		dd->specs[i].size = val.count;
	}
	return INFD_OK;
}

static infd_status decode_method(struct decoder *d, const struct infd_fb_table *pt, uint32_t mi,
				 struct infd_method_def *m)
{
	const struct infd_fb *fb = &d->fb;
	const struct infd_program *p = &d->impl->pub;
	const char *path = pt->path;
	struct infd_fb_vec values, ops, delegates, chains, bufs;
	struct infd_fb_table meta;
	bool has_meta;
	TRY(infd__fb_string(fb, pt, 0, "name", true, &m->name, NULL, d->err));
	TRY(infd__fb_table(fb, pt, 1, "container_meta_type", "ContainerMetadata", false, &meta, &has_meta, d->err));
	if (has_meta) {
		TRY(infd__fb_string(fb, &meta, 0, "encoded_inp_str", false, &m->encoded_inp_str, NULL, d->err));
		TRY(infd__fb_string(fb, &meta, 1, "encoded_out_str", false, &m->encoded_out_str, NULL, d->err));
	}
	/* Planned buffer sizes first: tensors are checked against them. */
	TRY(infd__fb_vector(fb, pt, 8, "non_const_buffer_sizes", 8, 8, true, &bufs, d->err));
	m->n_buffers = bufs.count ? bufs.count - 1 : 0;
	ALLOC_OR_FAIL(m->buffer_sizes, d, m->n_buffers, uint64_t);
	for (uint32_t i = 0; i < m->n_buffers; i++) {
		int64_t s = infd__fb_vec_i64(fb, &bufs, i + 1);
		if (s < 0 || (uint64_t)s > (UINT64_C(1) << 48))
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s: non_const_buffer_sizes[%u] = %lld is not a valid size",
					  path, i + 1, (long long)s);
		m->buffer_sizes[i] = (uint64_t)s;
	}
	TRY(infd__fb_vector(fb, pt, 6, "operators", 4, 4, false, &ops, d->err));
	m->n_operators = ops.count;
	ALLOC_OR_FAIL(m->operators, d, ops.count, struct infd_operator_def);
	for (uint32_t i = 0; i < ops.count; i++) {
		char opath[96];
		struct infd_fb_table ot;
		struct infd_operator_def *op = &m->operators[i];
		snprintf(opath, sizeof opath, "%s.operators[%u]", path, i);
		TRY(infd__fb_vec_table(fb, &ops, i, "Operator", opath, &ot, d->err));
		TRY(infd__fb_string(fb, &ot, 0, "name", true, &op->name, NULL, d->err));
		TRY(infd__fb_string(fb, &ot, 1, "overload", false, &op->overload, NULL, d->err));
		if (!op->overload)
			op->overload = "";
		int n = snprintf(op->key, sizeof op->key, op->overload[0] ? "%s.%s" : "%s", op->name, op->overload);
		if (n < 0 || n >= 100)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s (Operator): name '%.60s...' is 100 bytes or longer",
					  opath, op->name);
	}
	TRY(infd__fb_vector(fb, pt, 7, "delegates", 4, 4, true, &delegates, d->err));
	m->n_delegates = delegates.count;
	ALLOC_OR_FAIL(m->delegates, d, delegates.count, struct infd_delegate_def);
	for (uint32_t i = 0; i < delegates.count; i++) {
		char dpath[96];
		struct infd_fb_table dt;
		snprintf(dpath, sizeof dpath, "%s.delegates[%u]", path, i);
		TRY(infd__fb_vec_table(fb, &delegates, i, "BackendDelegate", dpath, &dt, d->err));
		TRY(decode_delegate(d, &dt, &m->delegates[i]));
	}
	TRY(infd__fb_vector(fb, pt, 2, "values", 4, 4, true, &values, d->err));
	m->n_values = values.count;
	ALLOC_OR_FAIL(m->values, d, values.count, struct infd_value_def);
	ALLOC_OR_FAIL(m->tensors, d, values.count, struct infd_tensor_def);
	for (uint32_t i = 0; i < values.count; i++)
		TRY(decode_value(d, m, mi, i, &values));
	TRY(index_vector(d, pt, 3, "inputs", m->n_values, &m->n_inputs, &m->inputs));
	TRY(index_vector(d, pt, 4, "outputs", m->n_values, &m->n_outputs, &m->outputs));
	for (uint32_t i = 0; i < m->n_inputs; i++) {
		int k = m->values[m->inputs[i]].kind;
		if (k != INFD_VALUE_TENSOR && k != INFD_VALUE_INT && k != INFD_VALUE_DOUBLE && k != INFD_VALUE_BOOL &&
		    k != INFD_VALUE_STRING && k != INFD_VALUE_NULL)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s: input %u (value %d) is a %s, which cannot be an input",
					  path, i, m->inputs[i], infd__value_kind_name(k));
	}
	TRY(infd__fb_vector(fb, pt, 5, "chains", 4, 4, true, &chains, d->err));
	if (chains.count == 0)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s (ExecutionPlan): has no chains", path);
	m->n_chains = chains.count;
	ALLOC_OR_FAIL(m->chains, d, chains.count, struct infd_chain_def);
	for (uint32_t c = 0; c < chains.count; c++) {
		char cpath[96];
		struct infd_fb_table ct;
		struct infd_fb_vec instrs;
		snprintf(cpath, sizeof cpath, "%s.chains[%u]", path, c);
		TRY(infd__fb_vec_table(fb, &chains, c, "Chain", cpath, &ct, d->err));
		TRY(infd__fb_vector(fb, &ct, 2, "instructions", 4, 4, true, &instrs, d->err));
		struct infd_chain_def *ch = &m->chains[c];
		ch->n_instrs = instrs.count;
		ALLOC_OR_FAIL(ch->instrs, d, instrs.count, struct infd_instr_def);
		for (uint32_t k = 0; k < instrs.count; k++) {
			char ipath[128];
			struct infd_fb_table it;
			snprintf(ipath, sizeof ipath, "%s.instructions[%u]", cpath, k);
			TRY(infd__fb_vec_table(fb, &instrs, k, "Instruction", ipath, &it, d->err));
			TRY(decode_instruction(d, m, &it, &ch->instrs[k], instrs.count));
		}
	}
	/* Distinct constant bytes used by this method: the largest view of each
	 * constant entry, summed over the entries used. */
	uint64_t *largest = calloc(p->n_constants ? p->n_constants : 1, sizeof *largest);
	if (!largest)
		return infd__fail(d->err, INFD_NO_MEMORY, "out of memory while decoding");
	for (uint32_t i = 0; i < m->n_tensors; i++) {
		const struct infd_tensor_def *td = &m->tensors[i];
		if (td->storage == INFD_STORAGE_CONSTANT && td->nbytes > largest[td->data_buffer_idx])
			largest[td->data_buffer_idx] = td->nbytes;
	}
	for (uint32_t k = 0; k < p->n_constants; k++)
		m->constant_bytes += largest[k];
	free(largest);
	return INFD_OK;
}

static infd_status decode_program(struct decoder *d)
{
	struct infd_program *p = &d->impl->pub;
	struct infd_fb_table root;
	struct infd_fb_vec plans;
	TRY(infd__fb_root(&d->fb, "Program", &root, d->err));
	TRY(decode_segments(d, &root));
	TRY(decode_constants(d, &root));
	TRY(decode_mutable(d, &root));
	TRY(decode_named_and_inline(d, &root));
	TRY(infd__fb_vector(&d->fb, &root, 1, "execution_plan", 4, 4, true, &plans, d->err));
	p->n_methods = plans.count;
	ALLOC_OR_FAIL(p->methods, d, plans.count, struct infd_method_def);
	for (uint32_t i = 0; i < plans.count; i++) {
		char path[64];
		struct infd_fb_table pt;
		snprintf(path, sizeof path, "Program.execution_plan[%u]", i);
		TRY(infd__fb_vec_table(&d->fb, &plans, i, "ExecutionPlan", path, &pt, d->err));
		TRY(decode_method(d, &pt, i, &p->methods[i]));
	}
	return INFD_OK;
}

static infd_status parse_into(struct program_impl *impl, struct infd_error *err)
{
	struct infd_program *p = &impl->pub;
	TRY(read_header(p, err));
	if (p->program_size > INT32_MAX)
		return infd__fail(err, INFD_BAD_FORMAT, "flatbuffer of %llu bytes exceeds 2 GiB",
				  (unsigned long long)p->program_size);
	struct decoder d = {.impl = impl, .fb = {.buf = p->data, .size = (size_t)p->program_size}, .err = err};
	return decode_program(&d);
}

static struct program_impl *impl_new(void)
{
	return calloc(1, sizeof(struct program_impl));
}

static void impl_free(struct program_impl *impl)
{
	infd__pool_free(&impl->pool);
	if (impl->pub.map)
		munmap(impl->pub.map, impl->pub.map_size);
	free(impl->pub.owned);
	free(impl);
}

infd_status infd__program_parse(const uint8_t *data, size_t size, struct infd_program **out,
				struct infd_error *err)
{
	if (!data && size)
		return infd__fail(err, INFD_INVALID_ARGUMENT, "no program data");
	struct program_impl *impl = impl_new();
	if (!impl)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	impl->pub.data = data;
	impl->pub.size = size;
	infd_status st = parse_into(impl, err);
	if (st) {
		impl_free(impl);
		return st;
	}
	*out = &impl->pub;
	return INFD_OK;
}

infd_status infd__program_open_copy(const void *data, size_t size, struct infd_program **out,
				    struct infd_error *err)
{
	void *copy = NULL;
	if (posix_memalign(&copy, 64, size ? size : 1))
		return infd__fail(err, INFD_NO_MEMORY, "out of memory copying a %zu-byte program", size);
	memcpy(copy, data, size);
	struct infd_program *p;
	infd_status st = infd__program_parse(copy, size, &p, err);
	if (st) {
		free(copy);
		return st;
	}
	p->owned = copy;
	*out = p;
	return INFD_OK;
}

infd_status infd__program_open_file(const char *path, struct infd_program **out, struct infd_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return infd__fail(err, INFD_IO, "cannot open '%s': %s", path, strerror(errno));
	struct stat st;
	infd_status s;
	if (fstat(fd, &st) != 0) {
		s = infd__fail(err, INFD_IO, "cannot stat '%s': %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		s = infd__fail(err, INFD_IO, "'%s' is not a regular file", path);
		goto out_close;
	}
	if (st.st_size < 64) {
		s = infd__fail(err, INFD_BAD_FORMAT, "'%s': file of %lld bytes is too small to be a program (minimum 64)",
			       path, (long long)st.st_size);
		goto out_close;
	}
	size_t size = (size_t)st.st_size;
	void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		s = infd__fail(err, INFD_IO, "cannot map '%s': %s", path, strerror(errno));
		goto out_close;
	}
	struct program_impl *impl = impl_new();
	if (!impl) {
		munmap(map, size);
		s = infd__fail(err, INFD_NO_MEMORY, "out of memory");
		goto out_close;
	}
	impl->pub.data = map;
	impl->pub.size = size;
	impl->pub.map = map;
	impl->pub.map_size = size;
	s = parse_into(impl, err);
	if (s) {
		infd__fail_prefix(err, s, "'%s': ", path);
		impl_free(impl);
		goto out_close;
	}
	*out = &impl->pub;
out_close:
	close(fd);
	return s;
}

infd_status infd__program_read_file(const char *path, struct infd_program **out, struct infd_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return infd__fail(err, INFD_IO, "cannot open '%s': %s", path, strerror(errno));
	struct stat st;
	infd_status s;
	void *buf = NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		s = infd__fail(err, INFD_IO, "'%s' is not a readable regular file", path);
		goto out_close;
	}
	size_t size = (size_t)st.st_size;
	if (posix_memalign(&buf, 64, size ? size : 1)) {
		s = infd__fail(err, INFD_NO_MEMORY, "out of memory reading the %zu-byte '%s'", size, path);
		goto out_close;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, (uint8_t *)buf + got, size - got);
		if (n <= 0) {
			s = infd__fail(err, INFD_IO, "cannot read '%s': %s", path, n < 0 ? strerror(errno) : "file shrank");
			goto out_free;
		}
		got += (size_t)n;
	}
	s = infd__program_parse(buf, size, out, err);
	if (s) {
		infd__fail_prefix(err, s, "'%s': ", path);
		goto out_free;
	}
	(*out)->owned = buf;
	close(fd);
	return INFD_OK;
out_free:
	free(buf);
out_close:
	close(fd);
	return s;
}

void infd__program_close(struct infd_program *prog)
{
	if (prog)
		impl_free((struct program_impl *)prog);
}

const struct infd_method_def *infd__program_method(const struct infd_program *prog, const char *name)
{
	for (uint32_t i = 0; i < prog->n_methods; i++)
		if (strcmp(prog->methods[i].name, name) == 0)
			return &prog->methods[i];
	return NULL;
}
