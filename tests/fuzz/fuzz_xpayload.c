/* libFuzzer harness for the XnnpackBackend payload decoder: decode the input as
 * a delegate payload (against a small program whose named data holds keys "a",
 * "b" and "c"), then check what payload.h promises: a refusal has a message and
 * leaves the graph empty; an accepted graph has every id in range, static data
 * inside the input, the program or the graph's own copies, and validates. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/xnnpack/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok, const char *what, uint32_t a)
{
	if (!ok) {
		fprintf(stderr, "fuzz_xpayload: decoded graph breaks an invariant: %s (%u)\n", what, a);
		abort();
	}
}

static _Alignas(16) uint8_t named_bytes[64];
static struct infd_named_data named[] = {
	{"a", named_bytes, 4},
	{"b", named_bytes, 40},
	{"c", named_bytes + 1, 16},
};

static bool inside(const void *ptr, uint64_t len, const uint8_t *base, uint64_t size)
{
	const uint8_t *q = ptr;
	return q >= base && q <= base + size && len <= (uint64_t)(base + size - q);
}

static uint64_t value_bytes(const struct infd_xvalue *v)
{
	uint64_t n = 4;
	for (uint32_t k = 0; k < v->rank; k++)
		n *= v->dims[k];
	return n;
}

static void check_graph(const struct infd_xgraph *g, const uint8_t *data, size_t size)
{
	for (uint32_t i = 0; i < g->n_values; i++) {
		const struct infd_xvalue *v = &g->values[i];
		require(v->rank <= INFD_XMAX_RANK, "rank", i);
		require(v->dtype == INFD_XDT_FP32 || v->dtype == INFD_XDT_INT32, "dtype", i);
		require(v->flags ? v->external < g->n_externals : v->external == INFD_XNONE, "external", i);
		if (v->data && !v->owned)
			require(inside(v->data, value_bytes(v), data, size) ||
					inside(v->data, value_bytes(v), named_bytes, sizeof named_bytes),
				"static data", i);
	}
	for (uint32_t k = 0; k < g->n_nodes; k++) {
		const struct infd_xnode *n = &g->nodes[k];
		require(n->op > 0 && n->op < INFD_XOP_COUNT_ && n->n_in <= INFD_XMAX_INPUTS, "node kind", k);
		for (uint32_t j = 0; j < INFD_XMAX_INPUTS; j++)
			require(n->in[j] == INFD_XNONE || n->in[j] < g->n_values, "node input", k);
		require(n->out[0] < g->n_values, "node output", k);
	}
	require(infd__xgraph_validate(g, NULL) == INFD_OK, "validates", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct infd_program prog = {.n_named = sizeof named / sizeof named[0], .named = named};
	/* Exactly `size` bytes, so that a sanitizer sees any read past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	struct infd_xgraph g;
	struct infd_error err = {0};
	infd__xgraph_init(&g);
	if (infd__xpayload_decode(&prog, buf, size, &g, &err) != INFD_OK) {
		require(err.status != INFD_OK && err.msg[0], "failure without a message", (uint32_t)err.status);
		require(g.n_values == 0 && g.n_nodes == 0, "failure leaves a graph", g.n_values);
	} else {
		check_graph(&g, buf, size);
	}
	infd__xgraph_free(&g);
	free(buf);
	return 0;
}
