/* Decoding `XnnpackBackend` delegate payloads (pte-format.md section 8): the XH00
 * header, the XNNGraph flatbuffer (values, nodes, constants) and the binding of
 * external values to DelegateCall arguments, into a struct infd_xgraph. Every
 * offset, count, id and size is checked; errors name table.field[index]. */
#include "backends/xnnpack/payload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/fb.h"

#define TRY(expr)                                                                                                      \
	do {                                                                                                           \
		infd_status st_ = (expr);                                                                              \
		if (st_)                                                                                               \
			return st_;                                                                                    \
	} while (0)

#define HEADER_MIN 30            /* XH00 header bytes; also the smallest bare flatbuffer accepted */
#define MAX_EXTERNS 4096         /* XNNGraph.num_externs limit of the reference runtime */
#define MAX_VALUE_BYTES (1ull << 32) /* largest value (activation or constant) accepted */

/* XNNDatatype codes (section 8.2). */
enum { XDT_FP32 = 1, XDT_INT32 = 12 };

/* XValue union tags. */
enum { XV_TENSOR = 1, XV_QUANTIZED = 2 };

/* Shapes of node payload tables (section 8.3). */
enum form {
	F_NONE,  /* no table we decode: refused */
	F_1X1,   /* input_id, output_id, flags */
	F_2X1,   /* input1_id, input2_id, output_id, flags */
	F_FC,    /* input1_id, filter_id, bias_id, output_id, flags */
	F_CONV,  /* 15 parameters, input1_id, filter_id, bias_id, output_id, flags */
	F_POOL,  /* 10 parameters, input_id, output_id, flags */
	F_PERM,  /* num_dims, perm, input_id, output_id, flags */
	F_RESHAPE, /* num_dims, new_shape, input_id, output_id, flags */
	F_SLICE, /* num_dims, offsets, sizes, input_id, output_id, flags */
	F_RESIZE, /* new_height, new_width, input_id, output_id, flags */
	F_PAD,   /* pre_paddings, post_paddings, padding_value, input_id, output_id, flags */
	F_CAT,   /* axis, input1..4_id, output_id, flags, input5_id */
	F_ALPHA, /* alpha (f32), input_id, output_id, flags */
};

struct node_kind {
	const char *name;
	uint8_t op;        /* enum infd_xop, 0 = not supported */
	uint8_t form;      /* enum form */
	uint8_t n_in;      /* concatenate: inputs */
	bool clamps;       /* the reference runtime applies output_min_max */
	uint32_t flags_ok; /* node flags we understand */
};

/* XNodeUnion tags 1..47 (section 8.3). */
static const struct node_kind kinds[] = {
	[1] = {"XNNAdd", INFD_XOP_ADD, F_2X1, 2, true, 0},
	[2] = {"XNNFullyConnected", INFD_XOP_FULLY_CONNECTED, F_FC, 3, true, INFD_XFLAG_TRANSPOSE_WEIGHTS},
	[3] = {"XNNSoftmax", INFD_XOP_SOFTMAX, F_1X1, 1, false, 0},
	[4] = {"XNNSigmoid", INFD_XOP_SIGMOID, F_1X1, 1, false, 0},
	[5] = {"XNNStaticTranspose", INFD_XOP_STATIC_TRANSPOSE, F_PERM, 1, false, 0},
	[6] = {"XNNClamp", INFD_XOP_CLAMP, F_1X1, 1, true, 0},
	[7] = {"XNNConv2d", INFD_XOP_CONV2D, F_CONV, 3, true, 0},
	[8] = {"XNNDiv", INFD_XOP_DIVIDE, F_2X1, 2, true, 0},
	[9] = {"XNNStaticResizeBilinear2D", INFD_XOP_RESIZE_BILINEAR, F_RESIZE, 1, false, INFD_XFLAG_ALIGN_CORNERS},
	[10] = {"XNNStaticConstantPad", INFD_XOP_CONSTANT_PAD, F_PAD, 1, false, 0},
	[11] = {"XNNAvgPooling2d", INFD_XOP_AVG_POOL2D, F_POOL, 1, true, INFD_XFLAG_KEEP_DIMS},
	[12] = {"XNNMinimum", INFD_XOP_MINIMUM, F_2X1, 2, false, 0},
	[13] = {"XNNDepthwiseConv2d", INFD_XOP_DEPTHWISE_CONV2D, F_CONV, 3, true, 0},
	[14] = {"XNNMaxPooling2d", INFD_XOP_MAX_POOL2D, F_POOL, 1, true, INFD_XFLAG_KEEP_DIMS},
	[15] = {"XNNMultiply", INFD_XOP_MULTIPLY, F_2X1, 2, true, 0},
	[16] = {"XNNSubtract", INFD_XOP_SUBTRACT, F_2X1, 2, true, 0},
	[17] = {"XNNFloor", INFD_XOP_FLOOR, F_1X1, 1, false, 0},
	[18] = {"XNNConvert", INFD_XOP_CONVERT, F_1X1, 1, false, 0},
	[19] = {"XNNGlobalAvgPooling2d", INFD_XOP_GLOBAL_AVG_POOL2D, F_1X1, 1, true, INFD_XFLAG_KEEP_DIMS},
	[20] = {"XNNStaticReshape", INFD_XOP_STATIC_RESHAPE, F_RESHAPE, 1, false, 0},
	[21] = {"XNNArgMaxPooling2d", 0, F_NONE, 0, false, 0},
	[22] = {"XNNSquareRoot", INFD_XOP_SQUARE_ROOT, F_1X1, 1, false, 0},
	[23] = {"XNNCeiling", INFD_XOP_CEILING, F_1X1, 1, false, 0},
	[24] = {"XNNHardswish", INFD_XOP_HARDSWISH, F_1X1, 1, false, 0},
	[25] = {"XNNLeakyReLU", INFD_XOP_LEAKY_RELU, F_ALPHA, 1, false, 0},
	[26] = {"XNNMaximum", INFD_XOP_MAXIMUM, F_2X1, 2, false, 0},
	[27] = {"XNNNegate", INFD_XOP_NEGATE, F_1X1, 1, false, 0},
	[28] = {"XNNSquare", INFD_XOP_SQUARE, F_1X1, 1, false, 0},
	[29] = {"XNNELU", INFD_XOP_ELU, F_ALPHA, 1, false, 0},
	[30] = {"XNNAbs", INFD_XOP_ABS, F_1X1, 1, false, 0},
	[31] = {"XNNPReLU", INFD_XOP_PRELU, F_2X1, 2, false, 0},
	[32] = {"XNNConcatenate2", INFD_XOP_CONCATENATE, F_CAT, 2, false, 0},
	[33] = {"XNNConcatenate3", INFD_XOP_CONCATENATE, F_CAT, 3, false, 0},
	[34] = {"XNNConcatenate4", INFD_XOP_CONCATENATE, F_CAT, 4, false, 0},
	[35] = {"XNNStaticSlice", INFD_XOP_STATIC_SLICE, F_SLICE, 1, false, 0},
	[36] = {"XNNScaledDotProductAttention", 0, F_NONE, 0, false, 0},
	[37] = {"XNNBatchMatrixMultiply", INFD_XOP_BATCH_MATMUL, F_2X1, 2, false, 0},
	[38] = {"XNNConcatenate5", INFD_XOP_CONCATENATE, F_CAT, 5, false, 0},
	[39] = {"XNNConvTranspose2d", INFD_XOP_DECONV2D, F_CONV, 3, true, 0},
	[40] = {"XNNReciprocalSquareRoot", INFD_XOP_RSQRT, F_1X1, 1, false, 0},
	[41] = {"XNNLog", INFD_XOP_LOG, F_1X1, 1, false, 0},
	[42] = {"XNNGelu", INFD_XOP_GELU, F_1X1, 1, false, 0},
	[43] = {"XNNTanh", INFD_XOP_TANH, F_1X1, 1, false, 0},
	[44] = {"XNNExp", INFD_XOP_EXP, F_1X1, 1, false, 0},
	[45] = {"XNNSin", INFD_XOP_SIN, F_1X1, 1, false, 0},
	[46] = {"XNNCopy", INFD_XOP_COPY, F_1X1, 1, false, 0},
	[47] = {"XNNCos", INFD_XOP_COS, F_1X1, 1, false, 0},
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

/* One decoded XNNTensorValue before it joins the graph. */
struct pvalue {
	struct infd_xvalue v;
	uint32_t id_out;
	uint32_t external_id;
};

/* id_out -> graph value id, sorted by id_out. */
struct idmap {
	uint32_t id_out;
	uint32_t gid;
	uint32_t index; /* position in XNNGraph.xvalues */
};

struct dec {
	const struct infd_program *prog;
	struct infd_fb fb; /* the XNNGraph flatbuffer */
	bool has_header;
	const uint8_t *cdata; /* XH00 constant region */
	uint64_t csize;
	struct infd_fb_vec constant_data;   /* [ConstantDataOffset] (with the header) */
	struct infd_fb_vec constant_buffer; /* legacy [Buffer] (bare flatbuffers) */
	uint32_t num_externs;
	uint32_t n_values; /* decoded so far */
	uint32_t n_alloc;  /* entries of pv (their owned copies are freed at the end) */
	struct pvalue *pv;
	struct idmap *map;
	struct infd_xgraph *g;
	struct infd_error *err;
};

static const char *dtype_name(int dt)
{
	static const char *names[] = {"invalid", "fp32",  "fp16",  "qint8",  "quint8", "qint32", "qcint8", "qcint32",
				      "qcint4",  "qdint8", "qbint4", "qpint8", "int32",  "pfp32",  "bf16"};
	if (dt >= 0 && dt < (int)(sizeof names / sizeof names[0]))
		return names[dt];
	return "unknown";
}

/* Four identifier bytes, printable or escaped, for messages. */
static const char *ident_text(const uint8_t *p, char buf[20])
{
	char *o = buf;
	for (int i = 0; i < 4; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			*o++ = (char)p[i];
		else
			o += sprintf(o, "\\x%02x", p[i]);
	}
	*o = 0;
	return buf;
}

static int cmp_idmap(const void *a, const void *b)
{
	const struct idmap *x = a, *y = b;
	if (x->id_out != y->id_out)
		return x->id_out < y->id_out ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* ---- header ------------------------------------------------------------------- */

static infd_status read_header(struct dec *d, const uint8_t *payload, uint64_t size)
{
	if (!payload || size < 8)
		return infd__fail(d->err, INFD_BAD_FORMAT, "payload of %llu bytes is too small", (unsigned long long)size);
	const uint8_t *fbp = payload;
	uint64_t fbsize = size;
	if (memcmp(payload + 4, "XH00", 4) == 0) {
		if (size < HEADER_MIN)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "XH00 header: payload of %llu bytes is shorter than the %d-byte header",
					  (unsigned long long)size, HEADER_MIN);
		uint16_t hlen = infd__le16(payload + 8);
		uint32_t fb_off = infd__le32(payload + 10), fb_size = infd__le32(payload + 14);
		uint32_t c_off = infd__le32(payload + 18);
		uint64_t c_size = infd__le64(payload + 22);
		if (hlen < HEADER_MIN)
			return infd__fail(d->err, INFD_BAD_FORMAT, "XH00 header: header length %u is below %d", hlen,
					  HEADER_MIN);
		if (fb_size < 8)
			return infd__fail(d->err, INFD_BAD_FORMAT, "XH00 header: flatbuffer_size %u is below 8", fb_size);
		if (fb_off < HEADER_MIN || (uint64_t)fb_off + fb_size > size)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "XH00 header: flatbuffer region [%u, %llu) lies outside the %llu-byte payload "
					  "(or overlaps the header)",
					  fb_off, (unsigned long long)fb_off + fb_size, (unsigned long long)size);
		if (c_off < (uint64_t)fb_off + fb_size)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "XH00 header: constant data at %u starts before the end of the flatbuffer (%llu)",
					  c_off, (unsigned long long)fb_off + fb_size);
		if (c_off > size || c_size > size - c_off)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "XH00 header: constant region [%u, +%llu) lies outside the %llu-byte payload", c_off,
					  (unsigned long long)c_size, (unsigned long long)size);
		d->has_header = true;
		d->cdata = payload + c_off;
		d->csize = c_size;
		fbp = payload + fb_off;
		fbsize = fb_size;
	} else if (size < HEADER_MIN) {
		return infd__fail(d->err, INFD_BAD_FORMAT,
				  "payload of %llu bytes has no XH00 header and is too small for a bare flatbuffer "
				  "(minimum %d)",
				  (unsigned long long)size, HEADER_MIN);
	}
	if (fbsize > INT32_MAX)
		return infd__fail(d->err, INFD_BAD_FORMAT, "flatbuffer of %llu bytes exceeds 2 GiB",
				  (unsigned long long)fbsize);
	if (memcmp(fbp + 4, "XN01", 4) != 0 && memcmp(fbp + 4, "XN00", 4) != 0) {
		char buf[20];
		return infd__fail(d->err, INFD_BAD_FORMAT,
				  "flatbuffer identifier '%s' is not XN01 or XN00 (not an XNNPACK graph)",
				  ident_text(fbp + 4, buf));
	}
	d->fb.buf = fbp;
	d->fb.size = (size_t)fbsize;
	return INFD_OK;
}

/* ---- values ------------------------------------------------------------------- */

/* Bytes of value `v`; refuses sizes past MAX_VALUE_BYTES (overflow-safe). */
static infd_status value_bytes(struct dec *d, const char *path, const struct infd_xvalue *v, uint64_t *out)
{
	uint64_t n = 4; /* both dtypes we accept have 4-byte elements */
	for (uint32_t i = 0; i < v->rank; i++)
		if (v->dims[i] == 0) {
			*out = 0; /* empty, however large the other dims */
			return INFD_OK;
		}
	for (uint32_t i = 0; i < v->rank; i++) {
		if (n > MAX_VALUE_BYTES / v->dims[i])
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s: dims make a tensor larger than %llu bytes (dims[%u] = %u)", path,
					  (unsigned long long)MAX_VALUE_BYTES, i, v->dims[i]);
		n *= v->dims[i];
	}
	*out = n;
	return INFD_OK;
}

/* Point `v` at its constant bytes (copied when misaligned for 4-byte elements). */
static infd_status bind_constant(struct dec *d, const char *path, const uint8_t *bytes, uint64_t avail,
				 uint64_t need, struct infd_xvalue *v)
{
	if (avail != need)
		return infd__fail(d->err, INFD_BAD_FORMAT,
				  "%s: constant holds %llu bytes but dims and datatype need %llu", path,
				  (unsigned long long)avail, (unsigned long long)need);
	if (((uintptr_t)bytes % 4) == 0) {
		v->data = bytes;
		return INFD_OK;
	}
	void *copy = malloc(need ? (size_t)need : 1);
	if (!copy)
		return infd__fail(d->err, INFD_NO_MEMORY, "%s: out of memory copying %llu constant bytes", path,
				  (unsigned long long)need);
	memcpy(copy, bytes, (size_t)need);
	v->data = copy;
	v->owned = true;
	return INFD_OK;
}

static infd_status decode_constant(struct dec *d, const char *path, uint32_t c, uint64_t need,
				   struct infd_xvalue *v)
{
	char epath[96];
	struct infd_fb_table t;
	if (!d->has_header) {
		/* Bare flatbuffer: the legacy constant_buffer holds the bytes. */
		if (c >= d->constant_buffer.count)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s: constant_buffer_idx %u out of range (XNNGraph.constant_buffer has %u "
					  "entries; the payload has no XH00 header)",
					  path, c, d->constant_buffer.count);
		snprintf(epath, sizeof epath, "XNNGraph.constant_buffer[%u]", c);
		struct infd_fb_vec storage;
		TRY(infd__fb_vec_table(&d->fb, &d->constant_buffer, c, "Buffer", epath, &t, d->err));
		TRY(infd__fb_vector(&d->fb, &t, 0, "storage", 1, 1, true, &storage, d->err));
		return bind_constant(d, epath, d->fb.buf + storage.pos, storage.count, need, v);
	}
	if (c >= d->constant_data.count)
		return infd__fail(d->err, INFD_BAD_FORMAT,
				  "%s: constant_buffer_idx %u out of range (XNNGraph.constant_data has %u entries)", path,
				  c, d->constant_data.count);
	snprintf(epath, sizeof epath, "XNNGraph.constant_data[%u]", c);
	uint64_t off, csize;
	const char *key;
	uint32_t keylen;
	TRY(infd__fb_vec_table(&d->fb, &d->constant_data, c, "ConstantDataOffset", epath, &t, d->err));
	TRY(infd__fb_u64(&d->fb, &t, 0, "offset", 0, &off, d->err));
	TRY(infd__fb_u64(&d->fb, &t, 1, "size", 0, &csize, d->err));
	TRY(infd__fb_string(&d->fb, &t, 2, "named_key", false, &key, &keylen, d->err));
	if (!key) {
		if (off > d->csize || csize > d->csize - off)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s: bytes [%llu, +%llu) lie outside the %llu-byte constant region", epath,
					  (unsigned long long)off, (unsigned long long)csize,
					  (unsigned long long)d->csize);
		return bind_constant(d, epath, d->cdata + off, csize, need, v);
	}
	const struct infd_named_data *nd = NULL;
	for (uint32_t k = 0; d->prog && k < d->prog->n_named; k++)
		if (strcmp(d->prog->named[k].key, key) == 0) {
			nd = &d->prog->named[k];
			break;
		}
	if (!nd)
		return infd__fail(d->err, INFD_NOT_FOUND, "%s: named_key '%.80s%s' is not in the program's named data",
				  epath, key, keylen > 80 ? "..." : "");
	return bind_constant(d, epath, nd->data, nd->size, need, v);
}

static infd_status decode_value(struct dec *d, const struct infd_fb_vec *xvalues, uint32_t i, struct pvalue *out)
{
	char path[64], tpath[96];
	struct infd_fb_table xv, t;
	uint8_t tag;
	snprintf(path, sizeof path, "XNNGraph.xvalues[%u]", i);
	TRY(infd__fb_vec_table(&d->fb, xvalues, i, "XValue", path, &xv, d->err));
	TRY(infd__fb_u8(&d->fb, &xv, 0, "xvalue_union_type", 0, &tag, d->err));
	if (tag == XV_QUANTIZED)
		return infd__fail(d->err, INFD_UNSUPPORTED,
				  "%s: quantized XNNPACK payloads are not supported (XNNQuantizedTensorValue)", path);
	if (tag != XV_TENSOR)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: xvalue_union_type %u is not a known value type", path,
				  tag);
	snprintf(tpath, sizeof tpath, "%s.xvalue_union", path);
	TRY(infd__fb_table(&d->fb, &xv, 1, "xvalue_union", "XNNTensorValue", true, &t, NULL, d->err));
	t.path = tpath;

	uint16_t dt, dq;
	uint32_t c, flags;
	struct infd_fb_vec dims;
	TRY(infd__fb_u16(&d->fb, &t, 0, "datatype", 0, &dt, d->err));
	TRY(infd__fb_vector(&d->fb, &t, 2, "dims", 4, 4, true, &dims, d->err));
	TRY(infd__fb_u32(&d->fb, &t, 3, "constant_buffer_idx", 0, &c, d->err));
	TRY(infd__fb_u32(&d->fb, &t, 4, "external_id", 0, &out->external_id, d->err));
	TRY(infd__fb_u32(&d->fb, &t, 5, "flags", 0, &flags, d->err));
	TRY(infd__fb_u32(&d->fb, &t, 6, "id_out", 0, &out->id_out, d->err));
	TRY(infd__fb_u16(&d->fb, &t, 7, "dq_datatype", 0, &dq, d->err));

	struct infd_xvalue *v = &out->v;
	memset(v, 0, sizeof *v);
	if ((int16_t)dt == XDT_FP32)
		v->dtype = INFD_XDT_FP32;
	else if ((int16_t)dt == XDT_INT32)
		v->dtype = INFD_XDT_INT32;
	else
		return infd__fail(d->err, INFD_UNSUPPORTED, "%s: datatype %d (%s) is not supported (only fp32 and int32)",
				  tpath, (int16_t)dt, dtype_name((int16_t)dt));
	if (dq != 0)
		return infd__fail(d->err, INFD_UNSUPPORTED,
				  "%s: dq_datatype %d (%s): dynamically quantized inputs are not supported", tpath,
				  (int16_t)dq, dtype_name((int16_t)dq));
	if (dims.count > INFD_XMAX_RANK)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: %u dims exceed the maximum rank %d", tpath, dims.count,
				  INFD_XMAX_RANK);
	v->rank = (uint8_t)dims.count;
	for (uint32_t k = 0; k < dims.count; k++)
		v->dims[k] = infd__fb_vec_u32(&d->fb, &dims, k);
	uint64_t nbytes = 0;
	TRY(value_bytes(d, tpath, v, &nbytes));

	if (flags & ~(uint32_t)(INFD_XV_INPUT | INFD_XV_OUTPUT))
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: flags 0x%x hold bits other than input (1) and output (2)",
				  tpath, flags);
	if (flags == (INFD_XV_INPUT | INFD_XV_OUTPUT))
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: flags mark the value both external input and output",
				  tpath);
	v->flags = flags;
	v->external = INFD_XNONE;
	if (flags) {
		if (out->external_id == INFD_XNONE || out->external_id >= d->num_externs)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s: external %s has external_id %u, outside [0, num_externs = %u)", tpath,
					  flags & INFD_XV_INPUT ? "input" : "output", out->external_id, d->num_externs);
		if (c)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s: external value has constant data (constant_buffer_idx %u)", tpath, c);
		v->external = out->external_id; /* renumbered densely once all values are read */
	} else if (out->external_id != INFD_XNONE) {
		return infd__fail(d->err, INFD_BAD_FORMAT,
				  "%s: external_id %u on a value that is neither an external input nor output", tpath,
				  out->external_id);
	}
	if (c)
		TRY(decode_constant(d, tpath, c, nbytes, v));
	return INFD_OK;
}

/* Sort ids, refuse duplicates, and check the externals: their external_ids are
 * the DelegateCall argument positions, inputs first, numbered 0..n-1. */
static infd_status check_ids(struct dec *d)
{
	uint32_t n = d->n_values, n_in = 0, n_out = 0;
	for (uint32_t i = 0; i < n; i++) {
		d->map[i] = (struct idmap){.id_out = d->pv[i].id_out, .gid = i, .index = i};
		n_in += (d->pv[i].v.flags & INFD_XV_INPUT) != 0;
		n_out += (d->pv[i].v.flags & INFD_XV_OUTPUT) != 0;
	}
	qsort(d->map, n, sizeof *d->map, cmp_idmap);
	for (uint32_t i = 1; i < n; i++)
		if (d->map[i].id_out == d->map[i - 1].id_out)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "XNNGraph.xvalues[%u]: id_out %u is already used by XNNGraph.xvalues[%u]",
					  d->map[i].index, d->map[i].id_out, d->map[i - 1].index);
	uint32_t n_ext = n_in + n_out; /* <= num_externs <= MAX_EXTERNS */
	int32_t owner[MAX_EXTERNS];
	for (uint32_t k = 0; k < n_ext; k++)
		owner[k] = -1;
	for (uint32_t i = 0; i < n; i++) {
		const struct pvalue *p = &d->pv[i];
		if (!p->v.flags)
			continue;
		uint32_t e = p->external_id;
		bool input = p->v.flags & INFD_XV_INPUT;
		if (e >= n_ext)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "XNNGraph.xvalues[%u]: external_id %u leaves a gap: the graph has %u externals, "
					  "numbered 0..%u",
					  i, e, n_ext, n_ext - 1);
		if (owner[e] >= 0)
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "XNNGraph.xvalues[%u]: external_id %u is already used by XNNGraph.xvalues[%d]", i,
					  e, owner[e]);
		if (input != (e < n_in))
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "XNNGraph.xvalues[%u]: external %s has external_id %u, but inputs must take "
					  "0..%u and outputs the rest",
					  i, input ? "input" : "output", e, n_in ? n_in - 1 : 0);
		owner[e] = (int32_t)i;
	}
	d->g->n_externals = n_ext;
	return INFD_OK;
}

/* Graph id of the value whose id_out is `id`. */
static infd_status lookup(struct dec *d, const char *path, const char *field, uint32_t id, uint32_t *gid)
{
	uint32_t lo = 0, hi = d->n_values;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (d->map[mid].id_out < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == d->n_values || d->map[lo].id_out != id)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: %s %u names no value (no XNNTensorValue has this id_out)",
				  path, field, id);
	*gid = d->map[lo].gid;
	return INFD_OK;
}

/* ---- nodes -------------------------------------------------------------------- */

static infd_status get_id(struct dec *d, const struct infd_fb_table *t, uint32_t slot, const char *field,
			  bool optional, uint32_t *gid)
{
	uint32_t id;
	TRY(infd__fb_u32(&d->fb, t, slot, field, 0, &id, d->err));
	if (optional && id == INFD_XNONE) {
		*gid = INFD_XNONE;
		return INFD_OK;
	}
	return lookup(d, t->path, field, id, gid);
}

static infd_status get_u32s(struct dec *d, const struct infd_fb_table *t, uint32_t first, uint32_t n,
			    const char *const *fields, uint32_t *out)
{
	for (uint32_t k = 0; k < n; k++)
		TRY(infd__fb_u32(&d->fb, t, first + k, fields[k], 0, &out[k], d->err));
	return INFD_OK;
}

/* A [u32] field of at most INFD_XMAX_RANK entries whose count must be `want`. */
static infd_status get_dims(struct dec *d, const struct infd_fb_table *t, uint32_t slot, const char *field,
			    uint32_t want, const char *against, uint32_t *out)
{
	struct infd_fb_vec v;
	TRY(infd__fb_vector(&d->fb, t, slot, field, 4, 4, true, &v, d->err));
	if (v.count != want)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: %s has %u entries but the %s has rank %u", t->path, field,
				  v.count, against, want);
	for (uint32_t k = 0; k < v.count; k++)
		out[k] = infd__fb_vec_u32(&d->fb, &v, k);
	return INFD_OK;
}

static const struct infd_xvalue *val(struct dec *d, uint32_t gid)
{
	return &d->pv[gid].v;
}

static infd_status nonzero(struct dec *d, const char *path, const char *const *names, const uint32_t *v,
			   uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		if (v[k] == 0)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s: %s is 0", path, names[k]);
	return INFD_OK;
}

static infd_status decode_conv(struct dec *d, const struct infd_fb_table *t, uint8_t tag, struct infd_xnode *n)
{
	static const char *const names[15] = {"padding_top",        "padding_right",      "padding_bottom",
					      "padding_left",       "kernel_height",      "kernel_width",
					      "subsampling_height", "subsampling_width",  "dilation_height",
					      "dilation_width",     "group_input_channels", "group_output_channels",
					      "groups",             "adjustment_height",  "adjustment_width"};
	uint32_t p[15];
	TRY(get_u32s(d, t, 0, 15, names, p));
	TRY(nonzero(d, t->path, names + 4, p + 4, 9));
	struct infd_xconv *c = &n->p.conv;
	c->pad_top = p[0], c->pad_right = p[1], c->pad_bottom = p[2], c->pad_left = p[3];
	c->kernel_h = p[4], c->kernel_w = p[5], c->stride_h = p[6], c->stride_w = p[7];
	c->dilation_h = p[8], c->dilation_w = p[9];
	c->group_in = p[10], c->group_out = p[11], c->groups = p[12];
	if (tag == 39) {
		c->adjustment_h = p[13], c->adjustment_w = p[14];
	} else if (p[13] || p[14]) {
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: adjustment %ux%u on a convolution that is not transposed",
				  t->path, p[13], p[14]);
	}
	if (tag == 13) {
		/* The reference runtime passes depth multiplier = group_output_channels /
		 * group_input_channels and input channels = groups. */
		if (p[11] % p[10])
			return infd__fail(d->err, INFD_BAD_FORMAT,
					  "%s: group_output_channels %u is not a multiple of group_input_channels %u", t->path,
					  p[11], p[10]);
		c->group_in = 1;
		c->group_out = p[11] / p[10];
	}
	TRY(get_id(d, t, 15, "input1_id", false, &n->in[0]));
	TRY(get_id(d, t, 16, "filter_id", false, &n->in[1]));
	TRY(get_id(d, t, 17, "bias_id", true, &n->in[2]));
	TRY(get_id(d, t, 18, "output_id", false, &n->out[0]));
	return infd__fb_u32(&d->fb, t, 19, "flags", 0, &n->flags, d->err);
}

static infd_status decode_pool(struct dec *d, const struct infd_fb_table *t, uint8_t tag, struct infd_xnode *n)
{
	static const char *const names[10] = {"padding_top",    "padding_right",  "padding_bottom", "padding_left",
					      "pooling_height", "pooling_width",  "stride_height",  "stride_width",
					      "dilation_height", "dilation_width"};
	uint32_t p[10];
	TRY(get_u32s(d, t, 0, 10, names, p));
	if (tag == 11)
		p[8] = p[9] = 1; /* the reference runtime gives average pooling no dilation */
	TRY(nonzero(d, t->path, names + 4, p + 4, 6));
	struct infd_xpool *q = &n->p.pool;
	q->pad_top = p[0], q->pad_right = p[1], q->pad_bottom = p[2], q->pad_left = p[3];
	q->pool_h = p[4], q->pool_w = p[5], q->stride_h = p[6], q->stride_w = p[7];
	q->dilation_h = p[8], q->dilation_w = p[9];
	TRY(get_id(d, t, 10, "input_id", false, &n->in[0]));
	TRY(get_id(d, t, 11, "output_id", false, &n->out[0]));
	return infd__fb_u32(&d->fb, t, 12, "flags", 0, &n->flags, d->err);
}

/* Operand ids at slots in_slot.., then output and flags. */
static infd_status decode_io(struct dec *d, const struct infd_fb_table *t, uint32_t in_slot, uint32_t n_in,
			     struct infd_xnode *n)
{
	static const char *const in1[] = {"input_id"}, *const in2[] = {"input1_id", "input2_id"};
	for (uint32_t k = 0; k < n_in; k++)
		TRY(get_id(d, t, in_slot + k, n_in == 1 ? in1[0] : in2[k], false, &n->in[k]));
	TRY(get_id(d, t, in_slot + n_in, "output_id", false, &n->out[0]));
	return infd__fb_u32(&d->fb, t, in_slot + n_in + 1, "flags", 0, &n->flags, d->err);
}

static infd_status decode_node_body(struct dec *d, const struct infd_fb_table *t, uint8_t tag,
				    const struct node_kind *k, struct infd_xnode *n)
{
	switch (k->form) {
	case F_1X1:
		return decode_io(d, t, 0, 1, n);
	case F_2X1:
		return decode_io(d, t, 0, 2, n);
	case F_ALPHA:
		TRY(infd__fb_f32(&d->fb, t, 0, tag == 29 ? "alpha" : "negative_slope", 0.0f, &n->p.alpha, d->err));
		if (!isfinite(n->p.alpha))
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s: %s is not finite", t->path,
					  tag == 29 ? "alpha" : "negative_slope");
		return decode_io(d, t, 1, 1, n);
	case F_FC:
		TRY(get_id(d, t, 0, "input1_id", false, &n->in[0]));
		TRY(get_id(d, t, 1, "filter_id", false, &n->in[1]));
		TRY(get_id(d, t, 2, "bias_id", true, &n->in[2]));
		TRY(get_id(d, t, 3, "output_id", false, &n->out[0]));
		return infd__fb_u32(&d->fb, t, 4, "flags", 0, &n->flags, d->err);
	case F_CONV:
		return decode_conv(d, t, tag, n);
	case F_POOL:
		return decode_pool(d, t, tag, n);
	case F_PERM: {
		TRY(decode_io(d, t, 2, 1, n));
		uint32_t rank = val(d, n->in[0])->rank;
		TRY(get_dims(d, t, 1, "perm", rank, "input", n->p.shape.perm));
		uint32_t seen = 0;
		for (uint32_t k2 = 0; k2 < rank; k2++) {
			if (n->p.shape.perm[k2] >= rank || (seen >> n->p.shape.perm[k2]) & 1)
				return infd__fail(d->err, INFD_BAD_FORMAT, "%s: perm is not a permutation of 0..%u",
						  t->path, rank ? rank - 1 : 0);
			seen |= 1u << n->p.shape.perm[k2];
		}
		return INFD_OK;
	}
	case F_RESHAPE: {
		TRY(decode_io(d, t, 2, 1, n));
		const struct infd_xvalue *o = val(d, n->out[0]);
		uint32_t shape[INFD_XMAX_RANK];
		TRY(get_dims(d, t, 1, "new_shape", o->rank, "output", shape));
		for (uint32_t k2 = 0; k2 < o->rank; k2++)
			if (shape[k2] && shape[k2] != o->dims[k2])
				return infd__fail(d->err, INFD_BAD_FORMAT,
						  "%s: new_shape[%u] = %u but the output value's dims[%u] = %u", t->path, k2,
						  shape[k2], k2, o->dims[k2]);
		return INFD_OK;
	}
	case F_SLICE: {
		TRY(decode_io(d, t, 3, 1, n));
		uint32_t rank = val(d, n->in[0])->rank;
		TRY(get_dims(d, t, 1, "offsets", rank, "input", n->p.slice.offsets));
		return get_dims(d, t, 2, "sizes", rank, "input", n->p.slice.sizes);
	}
	case F_RESIZE:
		TRY(infd__fb_u32(&d->fb, t, 0, "new_height", 0, &n->p.resize.new_h, d->err));
		TRY(infd__fb_u32(&d->fb, t, 1, "new_width", 0, &n->p.resize.new_w, d->err));
		if (!n->p.resize.new_h || !n->p.resize.new_w)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s: new size %ux%u is empty", t->path,
					  n->p.resize.new_h, n->p.resize.new_w);
		return decode_io(d, t, 2, 1, n);
	case F_PAD: {
		TRY(decode_io(d, t, 3, 1, n));
		uint32_t rank = val(d, n->in[0])->rank;
		TRY(get_dims(d, t, 0, "pre_paddings", rank, "input", n->p.pad.pre));
		TRY(get_dims(d, t, 1, "post_paddings", rank, "input", n->p.pad.post));
		TRY(infd__fb_f32(&d->fb, t, 2, "padding_value", 0.0f, &n->p.pad.value, d->err));
		return INFD_OK;
	}
	case F_CAT: {
		static const char *const names[] = {"input1_id", "input2_id", "input3_id", "input4_id", "input5_id"};
		static const uint32_t slots[] = {1, 2, 3, 4, 7};
		TRY(infd__fb_u32(&d->fb, t, 0, "axis", 0, &n->p.axis, d->err));
		for (uint32_t k2 = 0; k2 < k->n_in; k2++)
			TRY(get_id(d, t, slots[k2], names[k2], false, &n->in[k2]));
		TRY(get_id(d, t, 5, "output_id", false, &n->out[0]));
		TRY(infd__fb_u32(&d->fb, t, 6, "flags", 0, &n->flags, d->err));
		if (n->p.axis >= val(d, n->out[0])->rank)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s: axis %u is outside the output's rank %u", t->path,
					  n->p.axis, val(d, n->out[0])->rank);
		return INFD_OK;
	}
	}
	return infd__fail(d->err, INFD_INTERNAL, "%s: no decoder for node form %u", t->path, k->form);
}

static infd_status decode_node(struct dec *d, const struct infd_fb_vec *xnodes, uint32_t i)
{
	char path[64], tpath[128];
	struct infd_fb_table xn, t, mm;
	uint8_t tag;
	bool has_mm;
	snprintf(path, sizeof path, "XNNGraph.xnodes[%u]", i);
	TRY(infd__fb_vec_table(&d->fb, xnodes, i, "XNode", path, &xn, d->err));
	TRY(infd__fb_u8(&d->fb, &xn, 0, "xnode_union_type", 0, &tag, d->err));
	if (tag == 0 || tag >= N_KINDS || !kinds[tag].name)
		return infd__fail(d->err, INFD_BAD_FORMAT, "%s: xnode_union_type %u is not a known node type", path, tag);
	const struct node_kind *k = &kinds[tag];
	if (!k->op)
		return infd__fail(d->err, INFD_UNSUPPORTED, "%s: node type %s is not supported", path, k->name);
	snprintf(tpath, sizeof tpath, "%s.xnode_union (%s)", path, k->name);
	TRY(infd__fb_table(&d->fb, &xn, 1, "xnode_union", k->name, true, &t, NULL, d->err));
	t.path = tpath;

	struct infd_xnode n;
	memset(&n, 0, sizeof n);
	n.op = k->op;
	n.n_in = k->n_in;
	n.out_min = -INFINITY;
	n.out_max = INFINITY;
	for (uint32_t s = 0; s < INFD_XMAX_INPUTS; s++)
		n.in[s] = INFD_XNONE;
	TRY(decode_node_body(d, &t, tag, k, &n));
	if (n.flags & ~k->flags_ok)
		return infd__fail(d->err, INFD_UNSUPPORTED, "%s: flags 0x%x are not supported (this node allows 0x%x)",
				  tpath, n.flags, k->flags_ok);

	TRY(infd__fb_table(&d->fb, &xn, 3, "output_min_max", "OutputMinMax", false, &mm, &has_mm, d->err));
	if (has_mm && k->clamps) {
		TRY(infd__fb_f32(&d->fb, &mm, 0, "output_min", 0.0f, &n.out_min, d->err));
		TRY(infd__fb_f32(&d->fb, &mm, 1, "output_max", 0.0f, &n.out_max, d->err));
		if (isnan(n.out_min) || isnan(n.out_max) || n.out_min > n.out_max)
			return infd__fail(d->err, INFD_BAD_FORMAT, "%s.output_min_max: [%g, %g] is not a valid range", path,
					  (double)n.out_min, (double)n.out_max);
	}
	return infd__xgraph_add_node(d->g, &n, d->err);
}

/* ---- the graph ---------------------------------------------------------------- */

static infd_status decode_graph(struct dec *d)
{
	struct infd_fb_table root;
	struct infd_fb_vec xnodes, xvalues;
	TRY(infd__fb_root(&d->fb, "XNNGraph", &root, d->err));
	TRY(infd__fb_vector(&d->fb, &root, 1, "xnodes", 4, 4, true, &xnodes, d->err));
	TRY(infd__fb_vector(&d->fb, &root, 2, "xvalues", 4, 4, true, &xvalues, d->err));
	TRY(infd__fb_u32(&d->fb, &root, 3, "num_externs", 0, &d->num_externs, d->err));
	if (d->num_externs > MAX_EXTERNS)
		return infd__fail(d->err, INFD_BAD_FORMAT, "XNNGraph.num_externs %u exceeds %u", d->num_externs,
				  MAX_EXTERNS);
	if (d->has_header)
		TRY(infd__fb_vector(&d->fb, &root, 8, "constant_data", 4, 4, false, &d->constant_data, d->err));
	else
		TRY(infd__fb_vector(&d->fb, &root, 6, "constant_buffer", 4, 4, false, &d->constant_buffer, d->err));

	d->pv = calloc(xvalues.count ? xvalues.count : 1, sizeof *d->pv);
	d->map = calloc(xvalues.count ? xvalues.count : 1, sizeof *d->map);
	if (!d->pv || !d->map)
		return infd__fail(d->err, INFD_NO_MEMORY, "out of memory for %u values", xvalues.count);
	d->n_alloc = xvalues.count;
	for (uint32_t i = 0; i < xvalues.count; i++)
		TRY(decode_value(d, &xvalues, i, &d->pv[i]));
	d->n_values = xvalues.count;
	TRY(check_ids(d));
	for (uint32_t i = 0; i < d->n_values; i++) {
		uint32_t gid;
		TRY(infd__xgraph_add_value(d->g, &d->pv[i].v, &gid, d->err));
		d->pv[i].v.owned = false; /* the graph owns the copy now */
		if (gid != i)
			return infd__fail(d->err, INFD_INTERNAL, "graph gave value %u the id %u", i, gid);
	}
	for (uint32_t i = 0; i < xnodes.count; i++)
		TRY(decode_node(d, &xnodes, i));
	return infd__xgraph_validate(d->g, d->err);
}

infd_status infd__xpayload_decode(const struct infd_program *prog, const uint8_t *payload, uint64_t size,
				  struct infd_xgraph *g, struct infd_error *err)
{
	struct dec d = {.prog = prog, .g = g, .err = err};
	infd_status st = read_header(&d, payload, size);
	if (st == INFD_OK)
		st = decode_graph(&d);
	for (uint32_t i = 0; d.pv && i < d.n_alloc; i++)
		if (d.pv[i].v.owned)
			free((void *)d.pv[i].v.data);
	free(d.pv);
	free(d.map);
	if (st) {
		infd__xgraph_free(g);
		infd__xgraph_init(g);
		return infd__fail_prefix(err, st, "XNNPACK payload: ");
	}
	return INFD_OK;
}
