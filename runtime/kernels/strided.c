/* The strided copy engine of the portable CPU kernels (declared in util.h): views
 * with byte strides, and copies between two views of the same sizes that move
 * bytes or convert dtypes, walking the destination in memory order. */
#include "util.h"

#include <string.h>

void infd__view_of(struct infd_view *v, const struct infd_tensor *t)
{
	ptrdiff_t es = (ptrdiff_t)infd_dtype_size(t->dtype);
	v->rank = t->rank;
	v->base = t->data;
	for (uint32_t d = 0; d < t->rank; d++) {
		v->size[d] = t->sizes[d];
		v->stride[d] = (ptrdiff_t)t->strides[d] * es;
	}
}

/* Row-major view of `base` with the given shape (a reinterpretation of bytes). */
void infd__view_rowmajor(struct infd_view *v, void *base, size_t es, uint32_t rank, const int32_t *sizes)
{
	v->rank = rank;
	v->base = base;
	ptrdiff_t s = (ptrdiff_t)es;
	for (int d = (int)rank - 1; d >= 0; d--) {
		v->size[d] = sizes[d];
		v->stride[d] = s;
		if (sizes[d] > 1)
			s *= sizes[d];
	}
}

/* Keep `len` entries of dim d starting at `start`, every `step`-th. */
void infd__view_narrow(struct infd_view *v, uint32_t d, int64_t start, int64_t len, int64_t step)
{
	if (v->base && len > 0)
		v->base += start * v->stride[d];
	v->size[d] = len;
	v->stride[d] *= step;
}

/* Drop dim d after moving to entry `index` of it. */
void infd__view_select(struct infd_view *v, uint32_t d, int64_t index)
{
	if (v->base && index)
		v->base += index * v->stride[d];
	for (uint32_t k = d; k + 1 < v->rank; k++) {
		v->size[k] = v->size[k + 1];
		v->stride[k] = v->stride[k + 1];
	}
	v->rank--;
}

/* Insert a dim of `size` entries `stride` bytes apart before dim d. */
void infd__view_insert(struct infd_view *v, uint32_t d, int64_t size, ptrdiff_t stride)
{
	for (uint32_t k = v->rank; k > d; k--) {
		v->size[k] = v->size[k - 1];
		v->stride[k] = v->stride[k - 1];
	}
	v->size[d] = size;
	v->stride[d] = stride;
	v->rank++;
}

/* Split dim d (size a*b) into (a, b), row-major. */
void infd__view_split(struct infd_view *v, uint32_t d, int64_t a, int64_t b)
{
	ptrdiff_t s = v->stride[d];
	v->size[d] = b;
	infd__view_insert(v, d, a, s * b);
}

#define TILE 32

/* Fixed-size memcpy compiles to one load and one store, at any alignment. */
#define COPY_FNS(N)                                                                        \
	static void row_##N(char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss, size_t n)      \
	{                                                                                  \
		for (size_t i = 0; i < n; i++)                                             \
			memcpy(d + (ptrdiff_t)i * ds, s + (ptrdiff_t)i * ss, N);           \
	}                                                                                  \
	static void tile_##N(char *d, ptrdiff_t ds1, const char *s, ptrdiff_t ss0, size_t n1, \
			     size_t n0)                                                    \
	{                                                                                  \
		for (size_t i0 = 0; i0 < n1; i0 += TILE) {                                 \
			size_t i1 = n1 - i0 < TILE ? n1 : i0 + TILE;                       \
			for (size_t j0 = 0; j0 < n0; j0 += TILE) {                         \
				size_t j1 = n0 - j0 < TILE ? n0 : j0 + TILE;               \
				for (size_t i = i0; i < i1; i++) {                         \
					char *dr = d + (ptrdiff_t)i * ds1;                 \
					const char *sr = s + (ptrdiff_t)i * N;             \
					for (size_t j = j0; j < j1; j++)                   \
						memcpy(dr + j * N, sr + (ptrdiff_t)j * ss0, N); \
				}                                                          \
			}                                                                  \
		}                                                                          \
	}
COPY_FNS(1)
COPY_FNS(2)
COPY_FNS(4)
COPY_FNS(8)

void infd__copier_init(struct infd_copier *c, int ddt, int sdt)
{
	c->ddt = ddt;
	c->sdt = sdt;
	c->es = infd_dtype_size(ddt);
	c->convert = ddt != sdt;
	c->row = NULL;
	c->tile = NULL;
	switch (c->es) {
	case 1: c->row = row_1; c->tile = tile_1; break;
	case 2: c->row = row_2; c->tile = tile_2; break;
	case 4: c->row = row_4; c->tile = tile_4; break;
	case 8: c->row = row_8; c->tile = tile_8; break;
	default: c->convert = true; break; /* no such dtype today */
	}
}

void infd__copier_row(const struct infd_copier *c, char *d, ptrdiff_t ds, const char *s, ptrdiff_t ss,
		      size_t n)
{
	if (c->convert) {
		infd__convert(d, c->ddt, ds, s, c->sdt, ss, n);
	} else if (ds == (ptrdiff_t)c->es && ss == ds) {
		if (d != s)
			memmove(d, s, n * c->es);
	} else {
		c->row(d, ds, s, ss, n);
	}
}

/* Plan the copy of src into dst (same sizes). False when there is nothing to copy. */
bool infd__walk_plan(struct infd_walk *w, const struct infd_view *dst, const struct infd_view *src, size_t es)
{
	uint32_t perm[INFD_VIEW_MAX_RANK], r = 0;
	for (uint32_t d = 0; d < dst->rank; d++) {
		if (dst->size[d] == 0)
			return false;
		if (dst->size[d] != 1)
			perm[r++] = d;
	}
	for (uint32_t i = 1; i < r; i++) {
		uint32_t p = perm[i], j = i;
		while (j > 0 && dst->stride[perm[j - 1]] < dst->stride[p]) {
			perm[j] = perm[j - 1];
			j--;
		}
		perm[j] = p;
	}
	uint32_t out = 0;
	for (uint32_t i = 0; i < r; i++) {
		int64_t n = dst->size[perm[i]];
		ptrdiff_t ds = dst->stride[perm[i]], ss = src->stride[perm[i]];
		if (out > 0 && w->ds[out - 1] == ds * n && w->ss[out - 1] == ss * n) {
			w->size[out - 1] *= n;
			w->ds[out - 1] = ds;
			w->ss[out - 1] = ss;
			continue;
		}
		w->size[out] = n;
		w->ds[out] = ds;
		w->ss[out] = ss;
		out++;
	}
	/* A transpose: bring the source's unit-stride dim next to the innermost one,
	 * so that the inner two dims can be copied in tiles. */
	if (out >= 3 && w->ds[out - 1] == (ptrdiff_t)es && w->ss[out - 1] != (ptrdiff_t)es &&
	    w->ss[out - 2] != (ptrdiff_t)es) {
		for (uint32_t k = 0; k + 2 < out; k++) {
			if (w->ss[k] != (ptrdiff_t)es)
				continue;
			int64_t n = w->size[k];
			ptrdiff_t ds = w->ds[k], ss = w->ss[k];
			for (uint32_t m = k; m + 2 < out; m++) {
				w->size[m] = w->size[m + 1];
				w->ds[m] = w->ds[m + 1];
				w->ss[m] = w->ss[m + 1];
			}
			w->size[out - 2] = n;
			w->ds[out - 2] = ds;
			w->ss[out - 2] = ss;
			break;
		}
	}
	w->rank = out;
	return true;
}

/* Copy the inner one or two dims of a walk at d/s. */
static void walk_inner(const struct infd_walk *w, const struct infd_copier *c, char *d, const char *s)
{
	uint32_t r = w->rank;
	size_t n0 = (size_t)w->size[r - 1];
	ptrdiff_t ds0 = w->ds[r - 1], ss0 = w->ss[r - 1], es = (ptrdiff_t)c->es;
	if (r == 1) {
		infd__copier_row(c, d, ds0, s, ss0, n0);
		return;
	}
	size_t n1 = (size_t)w->size[r - 2];
	ptrdiff_t ds1 = w->ds[r - 2], ss1 = w->ss[r - 2];
	if (!c->convert && ds0 == es && ss1 == es && ss0 != es) {
		c->tile(d, ds1, s, ss0, n1, n0);
		return;
	}
	for (size_t i = 0; i < n1; i++)
		infd__copier_row(c, d + (ptrdiff_t)i * ds1, ds0, s + (ptrdiff_t)i * ss1, ss0, n0);
}

void infd__walk_run(const struct infd_walk *w, const struct infd_copier *c, char *d, const char *s)
{
	uint32_t r = w->rank;
	if (r == 0) {
		infd__copier_row(c, d, 0, s, 0, 1);
		return;
	}
	int outer = (int)r - (r >= 2 ? 2 : 1);
	int64_t idx[INFD_VIEW_MAX_RANK] = {0};
	for (;;) {
		walk_inner(w, c, d, s);
		int k = outer - 1;
		for (; k >= 0; k--) {
			d += w->ds[k];
			s += w->ss[k];
			if (++idx[k] < w->size[k])
				break;
			d -= w->ds[k] * w->size[k];
			s -= w->ss[k] * w->size[k];
			idx[k] = 0;
		}
		if (k < 0)
			return;
	}
}

/* Copy src (dtype sdt) into dst (dtype ddt); both views have the same sizes. */
void infd__copy_view(const struct infd_view *dst, int ddt, const struct infd_view *src, int sdt)
{
	struct infd_copier c;
	struct infd_walk w;
	infd__copier_init(&c, ddt, sdt);
	if (infd__walk_plan(&w, dst, src, c.es))
		infd__walk_run(&w, &c, dst->base, src->base);
}

/* True when t's strides are the row-major ones (size-1 dims aside). */
bool infd__tensor_is_rowmajor(const struct infd_tensor *t)
{
	int64_t s = 1;
	for (int d = (int)t->rank - 1; d >= 0; d--) {
		if (t->sizes[d] == 0)
			return true;
		if (t->sizes[d] == 1)
			continue;
		if (t->strides[d] != s)
			return false;
		s *= t->sizes[d];
	}
	return true;
}
