/* The BP08 reader of bundle.h: every offset, size and count is checked against
 * the buffer before it is used, so a hostile file gets an error, never a crash;
 * plus the output comparison `infctl verify` applies. */
#include "bundle.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A flatbuffer under decoding, with its first error. */
struct fb {
	const uint8_t *p;
	size_t size;
	char *why;
	size_t why_size;
	bool bad;
};

/* A table: its position and its vtable's slot count. */
struct tbl {
	size_t pos, vt;
	uint32_t n_slots, inline_size;
};

static bool fb_fail(struct fb *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fb_fail(struct fb *f, const char *fmt, ...)
{
	if (!f->bad) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(f->why, f->why_size, fmt, ap);
		va_end(ap);
		f->bad = true;
	}
	return false;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static bool in_bounds(const struct fb *f, size_t pos, size_t len)
{
	return pos <= f->size && len <= f->size - pos;
}

/* Open the table at `pos` (what: for messages). */
static bool fb_table(struct fb *f, size_t pos, const char *what, struct tbl *t)
{
	if (pos % 4 || !in_bounds(f, pos, 4))
		return fb_fail(f, "%s table at offset %zu is out of bounds or misaligned", what, pos);
	int32_t so = (int32_t)rd32(f->p + pos);
	int64_t vt = (int64_t)pos - so;
	if (vt < 0 || vt % 2 || !in_bounds(f, (size_t)vt, 4))
		return fb_fail(f, "%s table at offset %zu has a bad vtable offset %d", what, pos, so);
	uint16_t vsize = rd16(f->p + vt), isize = rd16(f->p + vt + 2);
	if (vsize < 4 || vsize % 2 || !in_bounds(f, (size_t)vt, vsize) || isize < 4 || !in_bounds(f, pos, isize))
		return fb_fail(f, "%s table at offset %zu has a bad vtable (size %u, table %u)", what, pos, vsize,
			       isize);
	t->pos = pos;
	t->vt = (size_t)vt;
	t->n_slots = (uint32_t)(vsize - 4) / 2;
	t->inline_size = isize;
	return true;
}

/* Position of field `slot` of `len` bytes, or 0 when absent (or bad). */
static size_t fb_field(struct fb *f, const struct tbl *t, uint32_t slot, size_t len, const char *what)
{
	if (slot >= t->n_slots)
		return 0;
	uint16_t off = rd16(f->p + t->vt + 4 + 2 * slot);
	if (!off)
		return 0;
	if (off < 4 || (size_t)off + len > t->inline_size || (t->pos + off) % (len < 8 ? len : 8)) {
		fb_fail(f, "field %s of the table at offset %zu is out of its table or misaligned", what, t->pos);
		return 0;
	}
	return t->pos + off;
}

static uint64_t fb_scalar(struct fb *f, const struct tbl *t, uint32_t slot, size_t len, const char *what)
{
	size_t at = fb_field(f, t, slot, len, what);
	if (!at)
		return 0;
	switch (len) {
	case 1:
		return f->p[at];
	case 2:
		return rd16(f->p + at);
	case 4:
		return rd32(f->p + at);
	default:
		return rd64(f->p + at);
	}
}

/* Follow the uoffset stored at `at` (a field or a vector element). 0 = bad. */
static size_t fb_deref(struct fb *f, size_t at, const char *what)
{
	uint32_t off = rd32(f->p + at);
	if (off == 0 || !in_bounds(f, at, (size_t)off + 4)) {
		fb_fail(f, "%s at offset %zu points outside the file", what, at);
		return 0;
	}
	return at + off;
}

/* A vector field: its element data position and count. Absent: returns true with
 * *n = 0 and *present = false. */
static bool fb_vector(struct fb *f, const struct tbl *t, uint32_t slot, size_t elem, size_t align, const char *what,
		      size_t *data, uint32_t *n, bool *present)
{
	*n = 0;
	*data = 0;
	if (present)
		*present = false;
	size_t at = fb_field(f, t, slot, 4, what);
	if (!at)
		return !f->bad;
	size_t v = fb_deref(f, at, what);
	if (!v)
		return false;
	if (v % 4)
		return fb_fail(f, "vector %s at offset %zu is misaligned", what, v);
	uint32_t count = rd32(f->p + v);
	if ((uint64_t)count * elem > f->size || !in_bounds(f, v + 4, (size_t)count * elem))
		return fb_fail(f, "vector %s at offset %zu (%u elements) runs past the end of the file", what, v,
			       count);
	if (align > 1 && count && (v + 4) % align)
		return fb_fail(f, "vector %s data at offset %zu is not %zu-aligned", what, v + 4, align);
	*data = v + 4;
	*n = count;
	if (present)
		*present = true;
	return true;
}

/* Element i of a vector of tables. */
static bool fb_vector_table(struct fb *f, size_t data, uint32_t i, const char *what, struct tbl *t)
{
	size_t at = fb_deref(f, data + (size_t)i * 4, what);
	return at && fb_table(f, at, what, t);
}

static const char *fb_string(struct fb *f, const struct tbl *t, uint32_t slot, const char *what)
{
	size_t data;
	uint32_t n;
	bool present;
	if (!fb_vector(f, t, slot, 1, 1, what, &data, &n, &present) || !present)
		return NULL;
	if (!in_bounds(f, data, (size_t)n + 1) || f->p[data + n] != '\0' || memchr(f->p + data, '\0', n))
		return fb_fail(f, "string %s at offset %zu is not NUL-terminated", what, data), NULL;
	return (const char *)f->p + data;
}

static bool read_value(struct fb *f, size_t data, uint32_t i, const char *what, struct infctl__bundle_value *v)
{
	struct tbl vt, t;
	if (!fb_vector_table(f, data, i, what, &vt))
		return false;
	memset(v, 0, sizeof *v);
	v->kind = (int)fb_scalar(f, &vt, 0, 1, "Value.val_type");
	size_t at = fb_field(f, &vt, 1, 4, "Value.val");
	if (f->bad)
		return false;
	if (v->kind == INFCTL_BUNDLE_NONE)
		return true;
	if (v->kind > INFCTL_BUNDLE_DOUBLE)
		return fb_fail(f, "%s %u has unknown value type %d", what, i, v->kind);
	if (!at)
		return fb_fail(f, "%s %u has a type but no value", what, i);
	size_t tp = fb_deref(f, at, what);
	if (!tp || !fb_table(f, tp, what, &t))
		return false;
	switch (v->kind) {
	case INFCTL_BUNDLE_INT:
		v->i = (int64_t)fb_scalar(f, &t, 0, 8, "Int.int_val");
		return !f->bad;
	case INFCTL_BUNDLE_BOOL:
		v->b = fb_scalar(f, &t, 0, 1, "Bool.bool_val") != 0;
		return !f->bad;
	case INFCTL_BUNDLE_DOUBLE: {
		uint64_t bits = fb_scalar(f, &t, 0, 8, "Double.double_val");
		memcpy(&v->d, &bits, sizeof v->d);
		return !f->bad;
	}
	default:
		break;
	}
	v->dtype = (int8_t)fb_scalar(f, &t, 0, 1, "Tensor.scalar_type");
	if (!infd_dtype_valid(v->dtype))
		return fb_fail(f, "%s %u: tensor has unknown scalar type %d", what, i, v->dtype);
	size_t sizes, bytes, order;
	uint32_t rank, nbytes, n_order;
	bool has_order;
	if (!fb_vector(f, &t, 1, 4, 4, "Tensor.sizes", &sizes, &rank, NULL) ||
	    !fb_vector(f, &t, 2, 1, 1, "Tensor.data", &bytes, &nbytes, NULL) ||
	    !fb_vector(f, &t, 3, 1, 1, "Tensor.dim_order", &order, &n_order, &has_order))
		return false;
	if (rank > INFD_MAX_RANK)
		return fb_fail(f, "%s %u: tensor rank %u exceeds %d", what, i, rank, INFD_MAX_RANK);
	v->rank = rank;
	uint64_t numel = 1;
	for (uint32_t d = 0; d < rank; d++) {
		int32_t s = (int32_t)rd32(f->p + sizes + 4 * d);
		if (s < 0)
			return fb_fail(f, "%s %u: tensor dimension %u is negative (%d)", what, i, d, s);
		v->shape[d] = s;
		numel *= (uint64_t)s;
		if (numel > f->size)
			return fb_fail(f, "%s %u: tensor has more elements than the file has bytes", what, i);
	}
	if (numel * infd_dtype_size(v->dtype) != nbytes)
		return fb_fail(f, "%s %u: tensor data has %u bytes, its %s shape needs %llu", what, i, nbytes,
			       infd_dtype_name(v->dtype), (unsigned long long)(numel * infd_dtype_size(v->dtype)));
	v->contiguous = true;
	if (has_order && n_order) {
		if (n_order != rank)
			return fb_fail(f, "%s %u: dim_order has %u entries for rank %u", what, i, n_order, rank);
		for (uint32_t d = 0; d < n_order; d++)
			if (f->p[order + d] != d)
				v->contiguous = false;
	}
	v->data = f->p + bytes;
	v->nbytes = nbytes;
	return true;
}

static bool read_values(struct fb *f, const struct tbl *t, uint32_t slot, const char *what,
			struct infctl__bundle_value **out, uint32_t *n_out)
{
	size_t data;
	uint32_t n;
	if (!fb_vector(f, t, slot, 4, 4, what, &data, &n, NULL))
		return false;
	*out = calloc(n ? n : 1, sizeof **out);
	if (!*out)
		return fb_fail(f, "out of memory");
	*n_out = n;
	for (uint32_t i = 0; i < n; i++)
		if (!read_value(f, data, i, what, &(*out)[i]))
			return false;
	return true;
}

void infctl__bundle_free(struct infctl__bundle *b)
{
	if (!b)
		return;
	for (uint32_t s = 0; s < b->n_suites; s++) {
		struct infctl__bundle_suite *su = &b->suites[s];
		for (uint32_t c = 0; su->cases && c < su->n_cases; c++) {
			free(su->cases[c].inputs);
			free(su->cases[c].outputs);
		}
		free(su->cases);
	}
	free(b->suites);
	free(b->owned);
	free(b);
}

infd_status infctl__bundle_read(const uint8_t *buf, size_t size, struct infctl__bundle **out, char *why,
				size_t why_size)
{
	struct fb f = {.p = buf, .size = size, .why = why, .why_size = why_size};
	*out = NULL;
	if (why_size)
		why[0] = '\0';
	if (!buf || size < 8 || size > 0x7fffffffu) {
		snprintf(why, why_size, "not a bundled program: %zu bytes", size);
		return INFD_BAD_FORMAT;
	}
	if (memcmp(buf + 4, "BP08", 4) != 0) {
		snprintf(why, why_size, "not a bundled program (identifier '%.4s', expected 'BP08')%s",
			 (const char *)buf + 4, memcmp(buf + 4, "ET12", 4) == 0 ? ": this is a plain .pte" : "");
		return INFD_BAD_FORMAT;
	}
	struct infctl__bundle *b = calloc(1, sizeof *b);
	if (!b) {
		snprintf(why, why_size, "out of memory");
		return INFD_NO_MEMORY;
	}
	struct tbl root, st, ct;
	size_t data, suites;
	uint32_t n;
	if (!fb_table(&f, rd32(buf), "BundledProgram", &root))
		goto fail;
	b->version = (uint32_t)fb_scalar(&f, &root, 0, 4, "BundledProgram.version");
	if (!fb_vector(&f, &root, 2, 1, 1, "BundledProgram.program", &data, &n, NULL))
		goto fail;
	if (!n) {
		fb_fail(&f, "the bundle carries no program");
		goto fail;
	}
	b->program = buf + data;
	b->program_size = n;
	if (!fb_vector(&f, &root, 1, 4, 4, "BundledProgram.method_test_suites", &suites, &n, NULL))
		goto fail;
	if (!(b->suites = calloc(n ? n : 1, sizeof *b->suites))) {
		fb_fail(&f, "out of memory");
		goto fail;
	}
	b->n_suites = n;
	for (uint32_t s = 0; s < b->n_suites; s++) {
		struct infctl__bundle_suite *su = &b->suites[s];
		size_t cases;
		if (!fb_vector_table(&f, suites, s, "BundledMethodTestSuite", &st))
			goto fail;
		su->method = fb_string(&f, &st, 0, "BundledMethodTestSuite.method_name");
		if (!su->method) {
			fb_fail(&f, "test suite %u has no method name", s);
			goto fail;
		}
		if (!fb_vector(&f, &st, 1, 4, 4, "BundledMethodTestSuite.test_cases", &cases, &n, NULL))
			goto fail;
		if (!(su->cases = calloc(n ? n : 1, sizeof *su->cases))) {
			fb_fail(&f, "out of memory");
			goto fail;
		}
		su->n_cases = n;
		for (uint32_t c = 0; c < su->n_cases; c++) {
			struct infctl__bundle_case *tc = &su->cases[c];
			if (!fb_vector_table(&f, cases, c, "BundledMethodTestCase", &ct) ||
			    !read_values(&f, &ct, 0, "input", &tc->inputs, &tc->n_inputs) ||
			    !read_values(&f, &ct, 1, "expected output", &tc->outputs, &tc->n_outputs)) {
				char inner[256];
				snprintf(inner, sizeof inner, "%s", why);
				snprintf(why, why_size, "method '%s' case %u: %s", su->method, c, inner);
				goto fail;
			}
		}
	}
	*out = b;
	return INFD_OK;
fail:
	infctl__bundle_free(b);
	return strcmp(why, "out of memory") == 0 ? INFD_NO_MEMORY : INFD_BAD_FORMAT;
}

infd_status infctl__bundle_load(const char *path, struct infctl__bundle **out, char *why, size_t why_size)
{
	*out = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		snprintf(why, why_size, "cannot open '%s': %s", path, strerror(errno));
		return INFD_IO;
	}
	uint8_t *buf = NULL;
	long len = -1;
	if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = malloc(len ? (size_t)len : 1)) && fread(buf, 1, (size_t)len, fp) == (size_t)len) {
		fclose(fp);
	} else {
		snprintf(why, why_size, "cannot read '%s': %s", path, buf ? strerror(errno) : "out of memory");
		fclose(fp);
		free(buf);
		return buf ? INFD_IO : INFD_NO_MEMORY;
	}
	char inner[512];
	infd_status st = infctl__bundle_read(buf, (size_t)len, out, inner, sizeof inner);
	if (st) {
		snprintf(why, why_size, "%s: %s", path, inner);
		free(buf);
		return st;
	}
	(*out)->owned = buf;
	return INFD_OK;
}

const struct infctl__bundle_suite *infctl__bundle_suite(const struct infctl__bundle *b, const char *method)
{
	for (uint32_t s = 0; b && s < b->n_suites; s++)
		if (strcmp(b->suites[s].method, method) == 0)
			return &b->suites[s];
	return NULL;
}

/* ---- Elements and comparison --------------------------------------------------------- */

static double half_to_double(uint16_t h)
{
	int e = (h >> 10) & 0x1f, m = h & 0x3ff;
	double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m | 0x400, e - 25);
	return (h & 0x8000) ? -v : v;
}

static double bf16_to_double(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

double infctl__element(int dtype, const void *data, size_t k)
{
	const uint8_t *p = data;
	switch (dtype) {
	case INFD_DTYPE_FLOAT32: {
		float v;
		memcpy(&v, p + 4 * k, 4);
		return v;
	}
	case INFD_DTYPE_FLOAT64: {
		double v;
		memcpy(&v, p + 8 * k, 8);
		return v;
	}
	case INFD_DTYPE_FLOAT16:
		return half_to_double(rd16(p + 2 * k));
	case INFD_DTYPE_BFLOAT16:
		return bf16_to_double(rd16(p + 2 * k));
	case INFD_DTYPE_UINT8:
	case INFD_DTYPE_BOOL:
	case INFD_DTYPE_QUINT8:
		return p[k];
	case INFD_DTYPE_INT8:
	case INFD_DTYPE_QINT8:
		return (int8_t)p[k];
	case INFD_DTYPE_INT16:
		return (int16_t)rd16(p + 2 * k);
	case INFD_DTYPE_UINT16:
		return rd16(p + 2 * k);
	case INFD_DTYPE_INT32:
	case INFD_DTYPE_QINT32:
		return (int32_t)rd32(p + 4 * k);
	case INFD_DTYPE_UINT32:
		return rd32(p + 4 * k);
	case INFD_DTYPE_INT64:
		return (double)(int64_t)rd64(p + 8 * k);
	case INFD_DTYPE_UINT64:
		return (double)rd64(p + 8 * k);
	default:
		return NAN;
	}
}

static bool is_float(int dtype)
{
	return dtype == INFD_DTYPE_FLOAT32 || dtype == INFD_DTYPE_FLOAT64 || dtype == INFD_DTYPE_FLOAT16 ||
	       dtype == INFD_DTYPE_BFLOAT16;
}

bool infctl__bundle_compare(int dtype, const void *actual, const void *expected, size_t nbytes, double rtol,
			    double atol, size_t *bad_index, double *max_err)
{
	*max_err = 0;
	*bad_index = 0;
	size_t es = infd_dtype_size(dtype);
	if (!es)
		return false;
	size_t n = nbytes / es;
	if (!is_float(dtype)) {
		for (size_t k = 0; k < n; k++) {
			if (memcmp((const uint8_t *)actual + k * es, (const uint8_t *)expected + k * es, es) != 0) {
				double d =
				    fabs(infctl__element(dtype, actual, k) - infctl__element(dtype, expected, k));
				if (d > *max_err)
					*max_err = d;
				*bad_index = k;
				return false;
			}
		}
		return true;
	}
	bool ok = true;
	for (size_t k = 0; k < n; k++) {
		double a = infctl__element(dtype, actual, k), b = infctl__element(dtype, expected, k);
		if (isnan(a) && isnan(b))
			continue;
		if (isinf(a) || isinf(b)) {
			if (a != b && ok) {
				ok = false;
				*bad_index = k;
			}
			continue;
		}
		double d = fabs(a - b);
		if (isnan(d) || d > atol + rtol * fabs(b)) {
			if (ok)
				*bad_index = k;
			ok = false;
		}
		if (d > *max_err)
			*max_err = d;
	}
	return ok;
}
