/* The XnnpackBackend payload decoder (backends/xnnpack/payload.c): the real
 * delegate of cnn_small_xnnpack.pte decodes into the expected graph and runs to
 * PyTorch's answer; payloads built here or mutated from the real one, truncated,
 * corrupted or naming what does not exist, are refused with a message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "backends/xnnpack/payload.h"
#include "common.h"
#include "runtime/fb.h"
#include "runtime/fb_builder.h"
#include "runtime/runtime.h"

#define CNN "models/cnn_small_xnnpack.pte"

/* ---- the real payload ----------------------------------------------------------- */

static struct infd_program *load_cnn(const uint8_t **payload, uint64_t *size)
{
	T_REQUIRE_TESTDATA(path, CNN);
	struct infd_error e = {0};
	struct infd_program *p;
	cr_assert_eq(infd__program_read_file(path, &p, &e), INFD_OK, "%s", e.msg);
	const struct infd_method_def *m = infd__program_method(p, "forward");
	cr_assert(m, "no method 'forward'");
	cr_assert_eq(m->n_delegates, 1);
	cr_assert_str_eq(m->delegates[0].id, "XnnpackBackend");
	*payload = m->delegates[0].payload;
	*size = m->delegates[0].payload_size;
	return p;
}

/* A private, 16-byte aligned copy of exactly `n` bytes (so a sanitizer sees reads past it). */
static uint8_t *copy_of(const uint8_t *src, size_t n)
{
	uint8_t *p = aligned_alloc(16, (n + 15) & ~(size_t)15);
	cr_assert(p);
	memcpy(p, src, n);
	return p;
}

/* Decode, expecting failure with `phrase` in the message. */
static void refused(const struct infd_program *prog, const uint8_t *payload, uint64_t size, const char *phrase)
{
	struct infd_xgraph g;
	struct infd_error e = {0};
	infd__xgraph_init(&g);
	infd_status st = infd__xpayload_decode(prog, payload, size, &g, &e);
	cr_assert_neq(st, INFD_OK, "payload accepted; expected a refusal mentioning '%s'", phrase);
	cr_assert_eq(e.status, st);
	cr_assert(strstr(e.msg, phrase), "message '%s' does not mention '%s'", e.msg, phrase);
	cr_assert_eq(g.n_values, 0, "a refused payload leaves values in the graph");
	cr_assert_eq(g.n_nodes, 0, "a refused payload leaves nodes in the graph");
	infd__xgraph_free(&g);
}

Test(xpayload, real_payload_structure)
{
	const uint8_t *payload;
	uint64_t size;
	struct infd_program *p = load_cnn(&payload, &size);
	struct infd_xgraph g;
	struct infd_error e = {0};
	infd__xgraph_init(&g);
	cr_assert_eq(infd__xpayload_decode(p, payload, size, &g, &e), INFD_OK, "%s", e.msg);

	/* The lowered CNN: NCHW->NHWC, 2 x (conv+relu, max-pool), NHWC->NCHW, flatten, linear. */
	static const uint8_t ops[] = {INFD_XOP_STATIC_TRANSPOSE, INFD_XOP_CONV2D,          INFD_XOP_MAX_POOL2D,
				      INFD_XOP_CONV2D,           INFD_XOP_MAX_POOL2D,      INFD_XOP_STATIC_TRANSPOSE,
				      INFD_XOP_STATIC_RESHAPE,   INFD_XOP_FULLY_CONNECTED};
	cr_assert_eq(g.n_nodes, sizeof ops);
	cr_assert_eq(g.n_values, 15);
	for (uint32_t i = 0; i < g.n_nodes; i++)
		cr_assert_eq(g.nodes[i].op, ops[i], "node %u is %s, expected %s", i, infd__xop_name(g.nodes[i].op),
			     infd__xop_name(ops[i]));

	/* Externals: argument 0 is the NCHW input, argument 1 the [1, 10] output. */
	cr_assert_eq(g.n_externals, 2);
	int in = -1, out = -1;
	for (uint32_t v = 0; v < g.n_values; v++) {
		const struct infd_xvalue *x = &g.values[v];
		cr_assert_eq(x->dtype, INFD_XDT_FP32);
		if (x->flags & INFD_XV_INPUT) {
			cr_assert_eq(in, -1, "one input");
			in = (int)v;
		}
		if (x->flags & INFD_XV_OUTPUT) {
			cr_assert_eq(out, -1, "one output");
			out = (int)v;
		}
		if (!x->flags)
			cr_assert_eq(x->external, INFD_XNONE);
	}
	cr_assert(in >= 0 && out >= 0);
	cr_assert_eq(g.values[in].external, 0);
	cr_assert_eq(g.values[out].external, 1);
	cr_assert_eq(g.values[in].rank, 4);
	cr_assert_arr_eq(g.values[in].dims, ((uint32_t[]){1, 3, 32, 32}), 4 * sizeof(uint32_t));
	cr_assert_eq(g.values[out].rank, 2);
	cr_assert_arr_eq(g.values[out].dims, ((uint32_t[]){1, 10}), 2 * sizeof(uint32_t));
	cr_assert_eq(g.nodes[0].in[0], (uint32_t)in, "the first transpose reads the input");
	cr_assert_eq(g.nodes[7].out[0], (uint32_t)out, "the linear layer writes the output");
	cr_assert_arr_eq(g.nodes[0].p.shape.perm, ((uint32_t[]){0, 2, 3, 1}), 4 * sizeof(uint32_t));

	/* Convolutions: 3x3, pad 1, stride 1, fused ReLU, filters [OC, KH, KW, IC] from named data. */
	for (int k = 1; k <= 3; k += 2) {
		const struct infd_xnode *c = &g.nodes[k];
		cr_assert_eq(c->n_in, 3);
		cr_assert_eq(c->p.conv.kernel_h, 3);
		cr_assert_eq(c->p.conv.kernel_w, 3);
		cr_assert_eq(c->p.conv.pad_top, 1);
		cr_assert_eq(c->p.conv.stride_h, 1);
		cr_assert_eq(c->p.conv.groups, 1);
		cr_assert_eq(c->out_min, 0.0f, "ReLU is fused as output_min 0");
		cr_assert(isinf(c->out_max) && c->out_max > 0);
		const struct infd_xvalue *f = &g.values[c->in[1]], *b = &g.values[c->in[2]];
		cr_assert(f->data && b->data, "filter and bias are static");
		cr_assert_eq(f->dims[0], c->p.conv.group_out);
		cr_assert_eq(f->dims[3], c->p.conv.group_in);
		bool found = false;
		for (uint32_t n = 0; n < p->n_named; n++)
			found |= p->named[n].data == f->data;
		cr_assert(found, "the filter points at the program's named data");
	}
	cr_assert_eq(g.nodes[1].p.conv.group_out, 8);
	cr_assert_eq(g.nodes[3].p.conv.group_out, 16);
	/* Max pooling 2x2 stride 2, carrying keep-dims. */
	cr_assert_eq(g.nodes[2].p.pool.pool_h, 2);
	cr_assert_eq(g.nodes[2].p.pool.stride_w, 2);
	cr_assert_eq(g.nodes[2].flags, INFD_XFLAG_KEEP_DIMS);
	/* Linear: [OC, IC] filter, no clamp. */
	const struct infd_xnode *fc = &g.nodes[7];
	cr_assert_eq(fc->flags, 0);
	cr_assert_arr_eq(g.values[fc->in[1]].dims, ((uint32_t[]){10, 1024}), 2 * sizeof(uint32_t));
	cr_assert(isinf(fc->out_min) && fc->out_min < 0);
	/* The graph is valid as decoded. */
	cr_assert_eq(infd__xgraph_validate(&g, &e), INFD_OK, "%s", e.msg);
	infd__xgraph_free(&g);
	infd__program_close(p);
}

/* Every proper prefix of the real payload is refused (the header's regions no
 * longer fit), and decoding never reads past the bytes it was given. */
Test(xpayload, truncated_everywhere)
{
	const uint8_t *payload;
	uint64_t size;
	struct infd_program *p = load_cnn(&payload, &size);
	for (uint64_t n = 0; n < size; n++) {
		uint8_t *cut = copy_of(payload, n ? n : 1);
		struct infd_xgraph g;
		struct infd_error e = {0};
		infd__xgraph_init(&g);
		cr_assert_neq(infd__xpayload_decode(p, cut, n, &g, &e), INFD_OK, "prefix of %llu bytes accepted",
			      (unsigned long long)n);
		cr_assert(e.msg[0], "prefix of %llu bytes refused without a message", (unsigned long long)n);
		infd__xgraph_free(&g);
		free(cut);
	}
	infd__program_close(p);
}

/* Each byte of the real payload replaced by a few values: the decoder accepts or
 * refuses with a message, never crashes (run under the sanitizers too). */
Test(xpayload, corrupted_bytes_never_crash)
{
	const uint8_t *payload;
	uint64_t size;
	struct infd_program *p = load_cnn(&payload, &size);
	uint8_t *buf = copy_of(payload, size);
	static const uint8_t with[] = {0x00, 0xff, 0x7f, 0x80, 0x01};
	unsigned refusals = 0;
	for (uint64_t k = 0; k < size; k++) {
		for (unsigned w = 0; w < sizeof with; w++) {
			if (payload[k] == with[w])
				continue;
			buf[k] = with[w];
			struct infd_xgraph g;
			struct infd_error e = {0};
			infd__xgraph_init(&g);
			if (infd__xpayload_decode(p, buf, size, &g, &e) != INFD_OK) {
				cr_assert(e.msg[0], "byte %llu = 0x%02x refused without a message", (unsigned long long)k,
					  with[w]);
				refusals++;
			}
			infd__xgraph_free(&g);
		}
		buf[k] = payload[k];
	}
	cr_assert_gt(refusals, 1000, "only %u corruptions were noticed", refusals);
	free(buf);
	infd__program_close(p);
}

/* ---- header and identifier, on the real payload -------------------------------------- */

Test(xpayload, header_fields_checked)
{
	const uint8_t *payload;
	uint64_t size;
	struct infd_program *p = load_cnn(&payload, &size);
	cr_assert_eq(memcmp(payload + 4, "XH00", 4), 0, "the real payload has an XH00 header");
	uint8_t *b = copy_of(payload, size);
	uint32_t fb_off = infd__le32(b + 10), fb_size = infd__le32(b + 14), c_off = infd__le32(b + 18);

	memcpy(b + 4, "XH01", 4); /* not a header: a bare flatbuffer with a wrong identifier */
	refused(p, b, size, "identifier 'XH01' is not XN01");
	memcpy(b + 4, "XH00", 4);

	infd__fbb_put_le(b + 8, 12, 2);
	refused(p, b, size, "header length 12");
	infd__fbb_put_le(b + 8, 30, 2);

	infd__fbb_put_le(b + 14, 4, 4);
	refused(p, b, size, "flatbuffer_size 4 is below 8");
	infd__fbb_put_le(b + 14, (uint32_t)size, 4);
	refused(p, b, size, "flatbuffer region");
	infd__fbb_put_le(b + 14, 0xfffffff0u, 4);
	refused(p, b, size, "flatbuffer region");
	infd__fbb_put_le(b + 14, fb_size, 4);

	infd__fbb_put_le(b + 10, 8, 4);
	refused(p, b, size, "overlaps the header");
	infd__fbb_put_le(b + 10, fb_off, 4);

	infd__fbb_put_le(b + 18, fb_off + fb_size - 4, 4);
	refused(p, b, size, "starts before the end of the flatbuffer");
	infd__fbb_put_le(b + 18, c_off, 4);

	infd__fbb_put_le(b + 22, 1ull << 40, 8);
	refused(p, b, size, "constant region");
	infd__fbb_put_le(b + 22, UINT64_MAX, 8);
	refused(p, b, size, "constant region");
	infd__fbb_put_le(b + 22, 0, 8);

	memcpy(b + fb_off + 4, "XN02", 4);
	refused(p, b, size, "identifier 'XN02' is not XN01 or XN00");
	memcpy(b + fb_off + 4, "\x01\xff\0X", 4);
	refused(p, b, size, "identifier '\\x01\\xff\\x00X'");
	memcpy(b + fb_off + 4, "XN00", 4); /* the runtime's schema identifier is accepted too */
	struct infd_xgraph g;
	struct infd_error e = {0};
	infd__xgraph_init(&g);
	cr_assert_eq(infd__xpayload_decode(p, b, size, &g, &e), INFD_OK, "%s", e.msg);
	infd__xgraph_free(&g);

	refused(p, b, 7, "too small");
	refused(p, b, 29, "shorter than the 30-byte header");
	refused(NULL, (const uint8_t *)"\0\0\0\0XN01\0\0", 12, "too small for a bare flatbuffer");
	/* Without the program, the named constants cannot be found. */
	refused(NULL, payload, size, "is not in the program's named data");
	free(b);
	infd__program_close(p);
}

/* ---- payloads built here ------------------------------------------------------------ */

#define NONE_ID 0xffffffffu

struct tv {
	uint8_t tag;      /* XValue type (1 tensor, 2 quantized) */
	uint16_t dtype;   /* XNNDatatype */
	uint32_t rank;
	uint32_t dims[8];
	uint32_t cbi, ext, flags, id;
	uint16_t dq;
};

struct tn {
	uint8_t tag;
	uint32_t n;      /* u32 fields in slot order */
	uint32_t f[20];
	uint32_t vec_slot[2], vec_n[2], vec[2][8]; /* up to two [u32] fields (vec_n = 0: none) */
	bool mm;
	float min, max;
};

struct tc {
	uint64_t off, size;
	const char *key; /* NULL: absent */
};

struct tg {
	bool bare;              /* no XH00 header */
	const char *ident;
	uint32_t num_externs;
	uint32_t nv, nn, nc;
	struct tv v[12];
	struct tn n[8];
	struct tc c[6];         /* constant_data[1..nc]; [0] is the placeholder */
	uint32_t nb;            /* bare: legacy constant_buffer[0..nb) */
	uint32_t bsize[4];
	uint8_t cdata[64];      /* constant region (XH00) / legacy buffer bytes */
	uint32_t csize;
};

/* A table of `n` 4-byte fields in slots 0..n-1 (the builder's table holds 10 at most). */
static size_t emit_u32s(struct infd_fbb *b, uint32_t n, const uint32_t *f, const bool *ref)
{
	size_t vt = infd__fbb_alloc(b, 4 + 2 * n, 4);
	size_t t = infd__fbb_alloc(b, 4 + 4 * n, 4);
	infd__fbb_put(b, vt, 4 + 2 * n, 2);
	infd__fbb_put(b, vt + 2, 4 + 4 * n, 2);
	for (uint32_t k = 0; k < n; k++) {
		infd__fbb_put(b, vt + 4 + 2 * k, 4 + 4 * k, 2);
		infd__fbb_put(b, t + 4 + 4 * k, ref && ref[k] ? 0 : f[k], 4);
	}
	infd__fbb_put(b, t, t - vt, 4);
	return t;
}

static uint32_t fbits(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	return u;
}

/* Serialize `tg` as a payload (malloc'd, aligned); returns its size. */
static uint8_t *build(const struct tg *tg, size_t *size_out)
{
	struct infd_fbb b = {0};
	infd__fbb_start(&b, tg->ident ? tg->ident : "XN01", 0);
	struct infd_fbb_table root;
	infd__fbb_table_init(&root);
	infd__fbb_table_ref(&root, 1);
	infd__fbb_table_ref(&root, 2);
	infd__fbb_table_put(&root, 3, tg->num_externs, 4);
	if (tg->bare && tg->nb)
		infd__fbb_table_ref(&root, 6);
	if (!tg->bare)
		infd__fbb_table_ref(&root, 8);
	size_t r = infd__fbb_table_emit(&b, &root);
	infd__fbb_set_root(&b, r);

	size_t nodes = infd__fbb_vec(&b, tg->nn, 4, 4);
	infd__fbb_link(&b, r + root.slot[1], nodes);
	for (uint32_t i = 0; i < tg->nn; i++) {
		const struct tn *n = &tg->n[i];
		struct infd_fbb_table xn;
		infd__fbb_table_init(&xn);
		infd__fbb_table_put(&xn, 0, n->tag, 1);
		infd__fbb_table_ref(&xn, 1);
		infd__fbb_table_put(&xn, 2, i, 4);
		if (n->mm)
			infd__fbb_table_ref(&xn, 3);
		size_t x = infd__fbb_table_emit(&b, &xn);
		infd__fbb_link_elem(&b, nodes, i, x);
		bool ref[20] = {0};
		for (int k = 0; k < 2; k++)
			if (n->vec_n[k])
				ref[n->vec_slot[k]] = true;
		size_t body = emit_u32s(&b, n->n, n->f, ref);
		infd__fbb_link(&b, x + xn.slot[1], body);
		for (int k = 0; k < 2; k++)
			if (n->vec_n[k]) {
				size_t vec = infd__fbb_nums(&b, n->vec_n[k], 4, n->vec[k]);
				infd__fbb_link(&b, body + 4 + 4 * n->vec_slot[k], vec);
			}
		if (n->mm) {
			uint32_t mm[2] = {fbits(n->min), fbits(n->max)};
			infd__fbb_link(&b, x + xn.slot[3], emit_u32s(&b, 2, mm, NULL));
		}
	}

	size_t values = infd__fbb_vec(&b, tg->nv, 4, 4);
	infd__fbb_link(&b, r + root.slot[2], values);
	for (uint32_t i = 0; i < tg->nv; i++) {
		const struct tv *v = &tg->v[i];
		size_t field;
		size_t xv = infd__fbb_union(&b, v->tag ? v->tag : 1, &field);
		infd__fbb_link_elem(&b, values, i, xv);
		struct infd_fbb_table t;
		infd__fbb_table_init(&t);
		infd__fbb_table_put(&t, 0, v->dtype ? v->dtype : 1, 2);
		infd__fbb_table_put(&t, 1, v->rank, 4);
		infd__fbb_table_ref(&t, 2);
		infd__fbb_table_put(&t, 3, v->cbi, 4);
		infd__fbb_table_put(&t, 4, v->ext, 4);
		infd__fbb_table_put(&t, 5, v->flags, 4);
		infd__fbb_table_put(&t, 6, v->id, 4);
		if (v->dq)
			infd__fbb_table_put(&t, 7, v->dq, 2);
		size_t tt = infd__fbb_table_emit(&b, &t);
		infd__fbb_link(&b, field, tt);
		infd__fbb_link(&b, tt + t.slot[2], infd__fbb_nums(&b, v->rank, 4, v->dims));
	}

	if (!tg->bare) {
		size_t cv = infd__fbb_vec(&b, tg->nc + 1, 4, 4);
		infd__fbb_link(&b, r + root.slot[8], cv);
		for (uint32_t i = 0; i <= tg->nc; i++) {
			struct tc c = i ? tg->c[i - 1] : (struct tc){0};
			struct infd_fbb_table t;
			infd__fbb_table_init(&t);
			infd__fbb_table_put(&t, 0, c.off, 8);
			infd__fbb_table_put(&t, 1, c.size, 8);
			if (c.key)
				infd__fbb_table_ref(&t, 2);
			size_t tt = infd__fbb_table_emit(&b, &t);
			infd__fbb_link_elem(&b, cv, i, tt);
			if (c.key)
				infd__fbb_link(&b, tt + t.slot[2], infd__fbb_str(&b, c.key));
		}
	} else if (tg->nb) {
		size_t bv = infd__fbb_vec(&b, tg->nb, 4, 4);
		infd__fbb_link(&b, r + root.slot[6], bv);
		uint32_t at = 0;
		for (uint32_t i = 0; i < tg->nb; i++) {
			struct infd_fbb_table t;
			infd__fbb_table_init(&t);
			infd__fbb_table_ref(&t, 0);
			size_t tt = infd__fbb_table_emit(&b, &t);
			infd__fbb_link_elem(&b, bv, i, tt);
			infd__fbb_link(&b, tt + t.slot[0], infd__fbb_bytes(&b, tg->cdata + at, tg->bsize[i], 16));
			at += tg->bsize[i];
		}
	}
	infd__fbb_alloc(&b, 0, 16);
	struct infd_error none = {0}, e = {0};
	uint8_t *fb;
	size_t fb_size;
	cr_assert_eq(infd__fbb_finish(&b, &none, &fb, &fb_size, &e), INFD_OK, "%s", e.msg);
	if (tg->bare) {
		uint8_t *out = copy_of(fb, fb_size);
		free(fb);
		*size_out = fb_size;
		return out;
	}
	size_t total = 32 + fb_size + tg->csize;
	uint8_t *out = aligned_alloc(16, (total + 15) & ~(size_t)15);
	cr_assert(out);
	memset(out, 0, 32);
	memcpy(out + 4, "XH00", 4);
	infd__fbb_put_le(out + 8, 30, 2);
	infd__fbb_put_le(out + 10, 32, 4);
	infd__fbb_put_le(out + 14, fb_size, 4);
	infd__fbb_put_le(out + 18, 32 + fb_size, 4);
	infd__fbb_put_le(out + 22, tg->csize, 8);
	memcpy(out + 32, fb, fb_size);
	memcpy(out + 32 + fb_size, tg->cdata, tg->csize);
	free(fb);
	*size_out = total;
	return out;
}

/* y[2,3] = max(x[2,3] + c[1], 0): input, inline constant, output, one add. */
static void add_graph(struct tg *tg)
{
	memset(tg, 0, sizeof *tg);
	tg->num_externs = 2;
	tg->nv = 3;
	tg->v[0] = (struct tv){.rank = 2, .dims = {2, 3}, .ext = 0, .flags = 1, .id = 10};
	tg->v[1] = (struct tv){.rank = 1, .dims = {1}, .cbi = 1, .ext = NONE_ID, .id = 11};
	tg->v[2] = (struct tv){.rank = 2, .dims = {2, 3}, .ext = 1, .flags = 2, .id = 12};
	tg->nc = 1;
	tg->c[0] = (struct tc){.off = 0, .size = 4};
	float two = 2.0f;
	memcpy(tg->cdata, &two, 4);
	tg->csize = 16;
	tg->nn = 1;
	tg->n[0] = (struct tn){.tag = 1, .n = 4, .f = {10, 11, 12, 0}, .mm = true, .min = 0.0f, .max = INFINITY};
}

/* Decode `tg`, which must succeed. The graph may point into the returned payload:
 * free it after the graph. */
static uint8_t *expect_ok(const struct tg *tg, const struct infd_program *prog, struct infd_xgraph *g)
{
	size_t size;
	uint8_t *p = build(tg, &size);
	struct infd_error e = {0};
	infd__xgraph_init(g);
	cr_assert_eq(infd__xpayload_decode(prog, p, size, g, &e), INFD_OK, "%s", e.msg);
	return p;
}

static void expect_refused(const struct tg *tg, const struct infd_program *prog, const char *phrase)
{
	size_t size;
	uint8_t *p = build(tg, &size);
	refused(prog, p, size, phrase);
	free(p);
}

Test(xpayload, built_add_graph)
{
	struct tg tg;
	struct infd_xgraph g;
	add_graph(&tg);
	uint8_t *buf = expect_ok(&tg, NULL, &g);
	cr_assert_eq(g.n_values, 3);
	cr_assert_eq(g.n_nodes, 1);
	cr_assert_eq(g.n_externals, 2);
	const struct infd_xnode *n = &g.nodes[0];
	cr_assert_eq(n->op, INFD_XOP_ADD);
	cr_assert_eq(n->n_in, 2);
	cr_assert_eq(n->in[0], 0, "id_out 10 is graph value 0");
	cr_assert_eq(n->in[1], 1);
	cr_assert_eq(n->out[0], 2);
	cr_assert_eq(n->out_min, 0.0f);
	cr_assert(isinf(n->out_max));
	cr_assert(g.values[1].data);
	cr_assert_eq(*(const float *)g.values[1].data, 2.0f, "the constant's bytes come from the constant region");
	cr_assert_eq(g.values[0].external, 0);
	cr_assert_eq(g.values[2].external, 1);
	cr_assert_eq(g.values[1].external, INFD_XNONE);
	infd__xgraph_free(&g);
	free(buf);

	/* A node kind the reference runtime gives no clamp to ignores output_min_max. */
	tg.n[0].tag = 12; /* XNNMinimum */
	buf = expect_ok(&tg, NULL, &g);
	cr_assert_eq(g.nodes[0].op, INFD_XOP_MINIMUM);
	cr_assert(isinf(g.nodes[0].out_min) && g.nodes[0].out_min < 0);
	infd__xgraph_free(&g);
	free(buf);
}

Test(xpayload, bare_flatbuffer_with_legacy_constants)
{
	struct tg tg;
	struct infd_xgraph g;
	add_graph(&tg);
	tg.bare = true;
	tg.nc = 0;
	tg.nb = 2; /* entry 0 is unused, like constant_data's placeholder */
	tg.bsize[0] = 0;
	tg.bsize[1] = 4;
	uint8_t *buf = expect_ok(&tg, NULL, &g);
	cr_assert_eq(*(const float *)g.values[1].data, 2.0f);
	infd__xgraph_free(&g);
	free(buf);
	tg.bsize[1] = 3;
	expect_refused(&tg, NULL, "constant holds 3 bytes but dims and datatype need 4");
	tg.nb = 1;
	expect_refused(&tg, NULL, "constant_buffer_idx 1 out of range");
}

Test(xpayload, ids_checked)
{
	struct tg tg;
	add_graph(&tg);
	tg.n[0].f[1] = 99;
	expect_refused(&tg, NULL, "xnodes[0].xnode_union (XNNAdd): input2_id 99 names no value");
	add_graph(&tg);
	tg.n[0].f[2] = NONE_ID;
	expect_refused(&tg, NULL, "output_id 4294967295 names no value");
	add_graph(&tg);
	tg.v[1].id = 10;
	expect_refused(&tg, NULL, "xvalues[1]: id_out 10 is already used by XNNGraph.xvalues[0]");
}

Test(xpayload, externals_checked)
{
	struct tg tg;
	add_graph(&tg);
	tg.v[2].ext = 2;
	expect_refused(&tg, NULL, "outside [0, num_externs = 2)");
	add_graph(&tg);
	tg.v[2].ext = NONE_ID;
	expect_refused(&tg, NULL, "external_id 4294967295, outside");
	add_graph(&tg);
	tg.v[2].ext = 0;
	expect_refused(&tg, NULL, "external_id 0 is already used by XNNGraph.xvalues[0]");
	add_graph(&tg);
	tg.num_externs = 3;
	tg.v[2].ext = 2;
	expect_refused(&tg, NULL, "leaves a gap");
	add_graph(&tg);
	tg.v[0].ext = 1;
	tg.v[2].ext = 0;
	expect_refused(&tg, NULL, "inputs must take 0..0 and outputs the rest");
	add_graph(&tg);
	tg.v[1].ext = 0;
	expect_refused(&tg, NULL, "neither an external input nor output");
	add_graph(&tg);
	tg.v[0].flags = 3;
	expect_refused(&tg, NULL, "both external input and output");
	add_graph(&tg);
	tg.v[0].flags = 5;
	expect_refused(&tg, NULL, "flags 0x5 hold bits other than");
	add_graph(&tg);
	tg.v[1].flags = 1;
	tg.v[1].ext = 1;
	tg.num_externs = 3;
	tg.v[2].ext = 2;
	expect_refused(&tg, NULL, "external value has constant data");
	add_graph(&tg);
	tg.num_externs = 5000;
	expect_refused(&tg, NULL, "num_externs 5000 exceeds 4096");
}

Test(xpayload, values_checked)
{
	struct tg tg;
	add_graph(&tg);
	tg.v[0].tag = 2;
	expect_refused(&tg, NULL, "quantized XNNPACK payloads are not supported");
	add_graph(&tg);
	tg.v[0].tag = 3;
	expect_refused(&tg, NULL, "xvalues[0]: xvalue_union_type 3 is not a known value type");
	add_graph(&tg);
	tg.v[2].dtype = 2;
	expect_refused(&tg, NULL, "datatype 2 (fp16) is not supported");
	add_graph(&tg);
	tg.v[2].dtype = 0x7fff;
	expect_refused(&tg, NULL, "datatype 32767 (unknown)");
	add_graph(&tg);
	tg.v[0].dq = 3;
	expect_refused(&tg, NULL, "dynamically quantized inputs are not supported");
	add_graph(&tg);
	tg.v[0].rank = 7;
	expect_refused(&tg, NULL, "7 dims exceed the maximum rank 6");
	add_graph(&tg);
	tg.v[2].rank = 3;
	tg.v[2].dims[0] = tg.v[2].dims[1] = tg.v[2].dims[2] = 0xffffffffu;
	expect_refused(&tg, NULL, "dims make a tensor larger than");
	add_graph(&tg);
	tg.v[2].rank = 2;
	tg.v[2].dims[0] = tg.v[2].dims[1] = 65536;
	expect_refused(&tg, NULL, "dims make a tensor larger than 4294967296 bytes (dims[1] = 65536)");
	/* Zero-sized dims are fine and stop an overflow from mattering. */
	add_graph(&tg);
	tg.v[0].rank = tg.v[2].rank = 4;
	tg.v[0].dims[2] = tg.v[0].dims[3] = tg.v[2].dims[2] = tg.v[2].dims[3] = 0;
	tg.v[0].dims[1] = tg.v[2].dims[1] = 0xffffffffu;
	struct infd_xgraph g;
	size_t size;
	uint8_t *p = build(&tg, &size);
	struct infd_error e = {0};
	infd__xgraph_init(&g);
	/* The graph validator may refuse the shapes; the decoder must not call it an overflow. */
	if (infd__xpayload_decode(NULL, p, size, &g, &e) != INFD_OK)
		cr_assert_null(strstr(e.msg, "larger than"), "%s", e.msg);
	infd__xgraph_free(&g);
	free(p);
}

Test(xpayload, constants_checked)
{
	struct tg tg;
	add_graph(&tg);
	tg.c[0].size = 8;
	expect_refused(&tg, NULL, "XNNGraph.constant_data[1]: constant holds 8 bytes but dims and datatype need 4");
	add_graph(&tg);
	tg.c[0].off = 16;
	expect_refused(&tg, NULL, "lie outside the 16-byte constant region");
	add_graph(&tg);
	tg.c[0].off = UINT64_MAX - 1;
	expect_refused(&tg, NULL, "constant region");
	add_graph(&tg);
	tg.v[1].cbi = 2;
	expect_refused(&tg, NULL, "constant_buffer_idx 2 out of range (XNNGraph.constant_data has 2 entries)");
	add_graph(&tg);
	tg.c[0].key = "no-such-key";
	expect_refused(&tg, NULL, "named_key 'no-such-key' is not in the program's named data");
	/* A constant whose bytes are not 4-byte aligned is copied, not referenced misaligned. */
	add_graph(&tg);
	tg.c[0].off = 1;
	float three = 3.0f;
	memcpy(tg.cdata + 1, &three, 4);
	struct infd_xgraph g;
	uint8_t *buf = expect_ok(&tg, NULL, &g);
	cr_assert_eq((uintptr_t)g.values[1].data % 4, 0);
	cr_assert(g.values[1].owned);
	float got;
	memcpy(&got, g.values[1].data, 4);
	cr_assert_eq(got, 3.0f);
	infd__xgraph_free(&g);
	free(buf);
}

/* Constants by key come from the program's named data, sized exactly. */
Test(xpayload, named_constants)
{
	const uint8_t *payload;
	uint64_t size;
	struct infd_program *p = load_cnn(&payload, &size);
	const struct infd_named_data *nd = NULL;
	for (uint32_t k = 0; k < p->n_named; k++)
		if (p->named[k].size == 40) /* the linear layer's bias, 10 floats */
			nd = &p->named[k];
	cr_assert(nd);
	struct tg tg;
	add_graph(&tg);
	tg.v[1].rank = 1;
	tg.v[1].dims[0] = 10;
	tg.v[0].dims[1] = tg.v[2].dims[1] = 10;
	tg.c[0] = (struct tc){.off = UINT64_MAX, .size = 40, .key = nd->key};
	struct infd_xgraph g;
	uint8_t *buf = expect_ok(&tg, p, &g);
	cr_assert_eq(g.values[1].data, nd->data, "the constant points at the named data");
	infd__xgraph_free(&g);
	free(buf);
	tg.v[1].dims[0] = 11;
	tg.v[0].dims[1] = tg.v[2].dims[1] = 11;
	expect_refused(&tg, p, "constant holds 40 bytes but dims and datatype need 44");
	infd__program_close(p);
}

Test(xpayload, node_types_checked)
{
	struct tg tg;
	add_graph(&tg);
	tg.n[0].tag = 0;
	expect_refused(&tg, NULL, "xnode_union_type 0 is not a known node type");
	tg.n[0].tag = 48;
	expect_refused(&tg, NULL, "xnode_union_type 48 is not a known node type");
	tg.n[0].tag = 255;
	expect_refused(&tg, NULL, "xnode_union_type 255 is not a known node type");
	tg.n[0].tag = 21;
	expect_refused(&tg, NULL, "node type XNNArgMaxPooling2d is not supported");
	tg.n[0].tag = 36;
	expect_refused(&tg, NULL, "node type XNNScaledDotProductAttention is not supported");
	add_graph(&tg);
	tg.n[0].f[3] = 1; /* flags */
	expect_refused(&tg, NULL, "(XNNAdd): flags 0x1 are not supported");
	add_graph(&tg);
	tg.n[0].min = NAN;
	expect_refused(&tg, NULL, "output_min_max: [nan, inf] is not a valid range");
	add_graph(&tg);
	tg.n[0].min = 2.0f;
	tg.n[0].max = 1.0f;
	expect_refused(&tg, NULL, "[2, 1] is not a valid range");
}

/* A table for each node form, decoded to the graph's fields. */
Test(xpayload, node_forms)
{
	struct tg tg;
	struct infd_xgraph g;
	add_graph(&tg);
	/* x [2,3] -> transpose [3,2] -> reshape [6] -> ... */
	tg.nv = 6;
	tg.v[2].dims[0] = 3, tg.v[2].dims[1] = 2; /* output [3, 2] */
	tg.v[3] = (struct tv){.rank = 2, .dims = {3, 2}, .ext = NONE_ID, .id = 13};
	tg.v[4] = (struct tv){.rank = 1, .dims = {6}, .ext = NONE_ID, .id = 14};
	tg.v[5] = (struct tv){.rank = 2, .dims = {3, 2}, .ext = NONE_ID, .id = 15};
	tg.nn = 4;
	tg.n[0] = (struct tn){.tag = 5, .n = 5, .f = {2, 0, 10, 13, 0}, .vec_n = {2}, .vec_slot = {1}, .vec = {{1, 0}}};
	tg.n[1] = (struct tn){.tag = 20, .n = 5, .f = {1, 0, 13, 14, 0}, .vec_n = {1}, .vec_slot = {1}, .vec = {{0}}};
	tg.n[2] = (struct tn){.tag = 20, .n = 5, .f = {2, 0, 14, 15, 0}, .vec_n = {2}, .vec_slot = {1}, .vec = {{3, 2}}};
	tg.n[3] = (struct tn){.tag = 25, .n = 4, .f = {fbits(0.25f), 15, 12, 0}}; /* LeakyReLU */
	tg.v[1].cbi = 0; /* value 11 is unused here */
	tg.nc = 0;
	uint8_t *buf = expect_ok(&tg, NULL, &g);
	cr_assert_eq(g.nodes[0].op, INFD_XOP_STATIC_TRANSPOSE);
	cr_assert_arr_eq(g.nodes[0].p.shape.perm, ((uint32_t[]){1, 0}), 2 * sizeof(uint32_t));
	cr_assert_eq(g.nodes[1].op, INFD_XOP_STATIC_RESHAPE);
	cr_assert_eq(g.nodes[3].op, INFD_XOP_LEAKY_RELU);
	cr_assert_eq(g.nodes[3].p.alpha, 0.25f);
	infd__xgraph_free(&g);
	free(buf);

	tg.n[0].vec[0][0] = 0; /* perm {0, 0} */
	expect_refused(&tg, NULL, "perm is not a permutation");
	tg.n[0].vec_n[0] = 3;
	expect_refused(&tg, NULL, "perm has 3 entries but the input has rank 2");
	tg.n[0].vec_n[0] = 0; /* perm written as a zero offset */
	expect_refused(&tg, NULL, "field 'perm': offset points outside the buffer");
	tg.n[0] = (struct tn){.tag = 5, .n = 5, .f = {2, 0, 10, 13, 0}, .vec_n = {2}, .vec_slot = {1}, .vec = {{1, 0}}};
	tg.n[2].vec[0][0] = 2;
	expect_refused(&tg, NULL, "new_shape[0] = 2 but the output value's dims[0] = 3");
	tg.n[2].vec[0][0] = 3;
	tg.n[3].f[0] = fbits(INFINITY);
	expect_refused(&tg, NULL, "negative_slope is not finite");
}

/* Convolutions: depthwise is its own node type with depth multiplier
 * group_output_channels / group_input_channels; bias 0xFFFFFFFF is none. */
Test(xpayload, convolutions)
{
	struct tg tg;
	struct infd_xgraph g;
	memset(&tg, 0, sizeof tg);
	tg.num_externs = 2;
	tg.nv = 3;
	/* depthwise 3x3 over 4 channels, multiplier 2: [1,5,5,4] -> [1,3,3,8], filter [1,3,3,8] */
	tg.v[0] = (struct tv){.rank = 4, .dims = {1, 5, 5, 4}, .ext = 0, .flags = 1, .id = 0};
	tg.v[1] = (struct tv){.rank = 4, .dims = {1, 1, 1, 8}, .cbi = 1, .ext = NONE_ID, .id = 1};
	tg.v[2] = (struct tv){.rank = 4, .dims = {1, 5, 5, 8}, .ext = 1, .flags = 2, .id = 2};
	tg.nc = 1;
	tg.c[0] = (struct tc){.off = 0, .size = 32};
	tg.csize = 32;
	tg.nn = 1;
	/* pads, kernel 1x1, subsampling 1, dilation 1, group_in 2 (written by some exporters), group_out 4,
	 * groups 4, adjustments, input, filter, bias none, output, flags */
	tg.n[0] = (struct tn){.tag = 13, .n = 20,
			      .f = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 4, 4, 0, 0, 0, 1, NONE_ID, 2, 0}};
	uint8_t *buf = expect_ok(&tg, NULL, &g);
	const struct infd_xnode *n = &g.nodes[0];
	cr_assert_eq(n->op, INFD_XOP_DEPTHWISE_CONV2D);
	cr_assert_eq(n->p.conv.groups, 4);
	cr_assert_eq(n->p.conv.group_in, 1);
	cr_assert_eq(n->p.conv.group_out, 2);
	cr_assert_eq(n->in[2], INFD_XNONE, "bias 0xFFFFFFFF is no bias");
	infd__xgraph_free(&g);
	free(buf);

	tg.n[0].f[10] = 3;
	expect_refused(&tg, NULL, "group_output_channels 4 is not a multiple of group_input_channels 3");
	tg.n[0].f[10] = 0;
	expect_refused(&tg, NULL, "group_input_channels is 0");
	tg.n[0].f[10] = 1;
	tg.n[0].f[6] = 0;
	expect_refused(&tg, NULL, "subsampling_height is 0");
	tg.n[0].f[6] = 1;
	tg.n[0].f[13] = 1;
	expect_refused(&tg, NULL, "adjustment 1x0 on a convolution that is not transposed");
	tg.n[0].f[13] = 0;
	tg.n[0].f[17] = 7;
	expect_refused(&tg, NULL, "bias_id 7 names no value");
	tg.n[0].f[17] = NONE_ID;
	tg.n[0].f[16] = NONE_ID;
	expect_refused(&tg, NULL, "filter_id 4294967295 names no value");
	tg.n[0].f[16] = 1;
	tg.n[0].n = 12; /* a table cut short: ids read as 0 (absent), output 0 is the input */
	size_t size;
	uint8_t *p = build(&tg, &size);
	struct infd_error e = {0};
	infd__xgraph_init(&g);
	cr_assert_neq(infd__xpayload_decode(NULL, p, size, &g, &e), INFD_OK);
	cr_assert(e.msg[0]);
	infd__xgraph_free(&g);
	free(p);
}

/* ---- the whole program on a runtime with the XNNPACK backend ------------------------- */

static void log_line(void *ud, const char *line)
{
	if (strncmp(line, "xnnpack: using", 14) == 0)
		*(bool *)ud = true;
}

Test(xpayload, cnn_small_runs_on_xnnpack)
{
	T_REQUIRE_TESTDATA(pte, CNN);
	T_REQUIRE_TESTDATA(in_path, "models/cnn_small_xnnpack.input0.bin");
	T_REQUIRE_TESTDATA(want_path, "models/cnn_small_xnnpack.expected0.bin");
	struct infd_error e = {0};
	struct infd_runtime *rt;
	cr_assert_eq(infd__runtime_create(NULL, &rt, &e), INFD_OK, "%s", e.msg);
	struct infd_backends_config cfg;
	infd__backends_config_default(&cfg);
	cfg.vulkan = false;
	bool have = false;
	cfg.log = log_line;
	cfg.log_ud = &have;
	infd__backends_setup(rt, &cfg);
	if (!have) {
		infd__runtime_destroy(rt);
		cr_skip_test("this build has no XNNPACK backend");
	}
	struct infd_program *prog;
	cr_assert_eq(infd__program_read_file(pte, &prog, &e), INFD_OK, "%s", e.msg);
	struct infd_method *m;
	cr_assert_eq(infd__method_load(rt, prog, "forward", NULL, &m, &e), INFD_OK, "%s", e.msg);
	size_t in_size, want_size;
	uint8_t *input = t_read_file(in_path, &in_size);
	float *want = (float *)t_read_file(want_path, &want_size);
	cr_assert(input && want);
	const struct infd_tensor *in = infd__method_input(m, 0)->u.t;
	cr_assert_eq(in_size, in->nbytes);
	for (int run = 0; run < 2; run++) {
		cr_assert_eq(infd__method_set_input_tensor(m, 0, in->dtype, in->rank, in->sizes, input, in_size, &e),
			     INFD_OK, "%s", e.msg);
		cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "%s", e.msg);
		const struct infd_tensor *out = infd__method_output(m, 0)->u.t;
		cr_assert_eq(out->nbytes, want_size);
		double err = t_rel_l2(out->data, want, want_size / 4);
		cr_assert(err < 1e-4, "run %d: relative L2 error %.3g", run, err);
	}
	free(input);
	free(want);
	infd__method_free(m);
	infd__program_close(prog);
	infd__runtime_destroy(rt);
}
