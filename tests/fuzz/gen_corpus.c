/* Writes the seed corpus for fuzz_pte: small programs made with the project's
 * writer that together use every value kind, instruction kind, constant and
 * delegate placement, mutable data and bundled test cases. Built on request:
 *   ninja -C build tests/fuzz/gen_corpus && build/tests/fuzz/gen_corpus tests/fuzz/corpus/pte */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infd/dtype.h"
#include "runtime/program.h"
#include "runtime/pte_writer.h"

static const char *out_dir;
static int failures;

static void save(const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/seed-%s", out_dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		failures++;
	}
}

/* Finish `w` into the file `name`; the bytes are returned when `keep`. */
static uint8_t *emit(struct infd_pte_writer *w, const char *name, size_t *size)
{
	uint8_t *p = NULL;
	size_t n = 0;
	struct infd_error e = {0};
	if (infd__pte_writer_finish(w, &p, &n, &e) != INFD_OK) {
		fprintf(stderr, "%s: %s\n", name, e.msg);
		failures++;
	} else {
		save(name, p, n);
	}
	infd__pte_writer_destroy(w);
	if (size)
		*size = n;
	return p;
}

static struct infd_pte_writer *writer(bool legacy, bool inline_delegates)
{
	struct infd_pte_writer_options o;
	infd__pte_writer_options_default(&o);
	o.legacy_inline_constants = legacy;
	o.inline_delegates = inline_delegates;
	return infd__pte_writer_create(&o);
}

static const float three[4] = {3, 3, 3, 3}, bias[4] = {1, 2, 3, 4};
static const int32_t s22[2] = {2, 2}, s4[1] = {4}, s1[1] = {1};

/* forward(x) = x * 3 + bias, plus one value of every kind. */
static void linear(struct infd_pte_writer *w)
{
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s22);
	int32_t c = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 2, s22, three);
	int32_t b = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 2, s22, bias);
	int32_t t = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s22);
	int32_t y = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s22);
	int32_t one = infd__pte_int(m, 1);
	int32_t nul = infd__pte_null(m);
	infd__pte_int_list(m, 2, (const int64_t[]){2, 2});
	infd__pte_tensor_list(m, 2, (const int32_t[]){x, c});
	infd__pte_opt_tensor_list(m, 3, (const int32_t[]){x, -1, nul});
	infd__pte_double_list(m, 2, (const double[]){0.5, -1});
	infd__pte_bool_list(m, 3, (const bool[]){true, false, true});
	infd__pte_string(m, "hello");
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &y);
	infd__pte_call(m, "aten::mul", "out", 4, (const int32_t[]){x, c, t, t});
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){t, b, one, y, y});
}

/* Every portable binary operator, tensor and scalar forms, float and int. */
static void arith(struct infd_pte_writer *w)
{
	static const char *const ops[4] = {"aten::add", "aten::sub", "aten::mul", "aten::div"};
	struct infd_pte_method *m = infd__pte_method(w, "arith");
	int32_t a = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s22);
	int32_t b = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s1);
	int32_t i = infd__pte_planned(m, INFD_DTYPE_INT32, 2, s22);
	int32_t one = infd__pte_int(m, 1), half = infd__pte_double(m, 0.5);
	infd__pte_bool(m, true);
	infd__pte_inputs(m, 3, (const int32_t[]){a, b, i});
	int32_t last = a;
	for (int k = 0; k < 4; k++) {
		bool has_alpha = k < 2;
		int32_t o = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s22);
		int32_t os = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s22);
		int32_t oi = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, s22);
		if (has_alpha) {
			infd__pte_call(m, ops[k], "out", 5, (const int32_t[]){last, b, one, o, o});
			infd__pte_call(m, ops[k], "Scalar_out", 5, (const int32_t[]){o, half, one, os, os});
			infd__pte_call(m, ops[k], "out", 5, (const int32_t[]){os, i, one, oi, oi});
		} else {
			infd__pte_call(m, ops[k], "out", 4, (const int32_t[]){last, b, o, o});
			infd__pte_call(m, ops[k], "Scalar_out", 4, (const int32_t[]){o, half, os, os});
			infd__pte_call(m, ops[k], "out", 4, (const int32_t[]){os, i, oi, oi});
		}
		last = oi;
	}
	infd__pte_outputs(m, 1, &last);
}

/* Delegate, mutable state, control flow, dynamic shapes, a second arena. */
static void rich(struct infd_pte_writer *w)
{
	uint8_t payload[64];
	for (size_t k = 0; k < sizeof payload; k++)
		payload[k] = (uint8_t)(k * 13);
	struct infd_pte_method *m = infd__pte_method(w, "delegated");
	int32_t in = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4});
	int32_t out = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4});
	struct infd_pte_compile_spec spec = {.key = "opts", .value = "\x01\x02", .size = 2};
	int32_t d = infd__pte_delegate(m, "XnnpackBackend", payload, sizeof payload, 1, &spec);
	infd__pte_inputs(m, 1, &in);
	infd__pte_outputs(m, 1, &out);
	infd__pte_delegate_call(m, d, 2, (const int32_t[]){in, out});

	m = infd__pte_method(w, "stateful");
	const float init[4] = {1, 1, 1, 1};
	uint32_t mut = infd__pte_mutable(w, init, sizeof init);
	int32_t state = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1,
		.sizes = s4, .mutable_data = mut, .memory_id = 1});
	int32_t x = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4,
		.memory_id = 2, .memory_offset = 16, .dynamism = INFD_SHAPE_DYNAMIC_BOUND});
	int32_t one = infd__pte_int(m, 1);
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &state);
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){state, x, one, state, state});

	m = infd__pte_method(w, "control");
	int32_t a = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t b = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, s4);
	int32_t no = infd__pte_bool(m, false);
	int32_t cond = infd__pte_planned(m, INFD_DTYPE_BOOL, 1, s1);
	int32_t loose = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = s4});
	int32_t one2 = infd__pte_int(m, 1);
	infd__pte_inputs(m, 2, (const int32_t[]){a, cond});
	infd__pte_outputs(m, 1, &b);
	infd__pte_jump_false(m, no, 2);
	infd__pte_move(m, a, b);
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){a, a, one2, b, b});
	infd__pte_jump_false(m, cond, 5);
	infd__pte_free(m, loose);
	infd__pte_move(m, b, loose);
}

/* Constant getters: no inputs, no instructions. */
static void getters(struct infd_pte_writer *w)
{
	struct infd_pte_method *m = infd__pte_method(w, "get_vocab_size");
	int32_t v = infd__pte_int(m, 512);
	infd__pte_outputs(m, 1, &v);
	m = infd__pte_method(w, "get_quant_attr");
	int32_t o[5] = {infd__pte_double(m, 0.0125), infd__pte_int(m, 128), infd__pte_int(m, 0), infd__pte_int(m, 255),
			infd__pte_string(m, "torch.uint8")};
	infd__pte_outputs(m, 5, o);
	m = infd__pte_method(w, "get_flag");
	v = infd__pte_bool(m, true);
	infd__pte_outputs(m, 1, &v);
	m = infd__pte_method(w, "empty");
	(void)m;
}

/* Scalar inputs, rank-0 and zero-size tensors, a channels-last tensor. */
static void shapes(struct infd_pte_writer *w)
{
	struct infd_pte_method *m = infd__pte_method(w, "shapes");
	const int32_t nchw[4] = {1, 2, 2, 2}, zero[2] = {0, 3};
	const uint8_t cl[4] = {0, 2, 3, 1};
	int32_t s = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 0, NULL);
	int32_t z = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, zero);
	int32_t c = infd__pte_tensor(m, &(struct infd_pte_tensor){.dtype = INFD_DTYPE_FLOAT32, .rank = 4, .sizes = nchw,
		.dim_order = cl, .memory_id = 1, .memory_offset = 64});
	int32_t k = infd__pte_int(m, 7), f = infd__pte_double(m, 2.5), flag = infd__pte_bool(m, false);
	int32_t o = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 0, NULL);
	int32_t oz = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, zero);
	int32_t one = infd__pte_int(m, 1);
	infd__pte_inputs(m, 6, (const int32_t[]){s, z, c, k, f, flag});
	infd__pte_outputs(m, 2, (const int32_t[]){o, oz});
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){s, s, one, o, o});
	infd__pte_call(m, "aten::mul", "out", 4, (const int32_t[]){z, z, oz, oz});
	infd__pte_call(m, "aten::mul", "Scalar_out", 4, (const int32_t[]){c, f, c, c});
}

static void bundle(const uint8_t *pte, size_t n, const char *name)
{
	struct infd_bpte_writer *bw = infd__bpte_writer_create(pte, n);
	const float x[4] = {1, 2, 3, 4}, y[4] = {4, 8, 12, 16};
	struct infd_bpte_value in = {.kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 2, .sizes = s22,
				     .data = x, .nbytes = sizeof x};
	struct infd_bpte_value out = in;
	out.data = y;
	infd__bpte_test_case(bw, "forward", 1, &in, 1, &out);
	in.data = y;
	infd__bpte_test_case(bw, "forward", 1, &in, 0, NULL);
	struct infd_bpte_value g = {.kind = INFD_BPTE_INT, .i = 512};
	infd__bpte_test_case(bw, "get_vocab_size", 0, NULL, 1, &g);
	uint8_t *p = NULL;
	size_t size = 0;
	struct infd_error e = {0};
	if (infd__bpte_writer_finish(bw, &p, &size, &e) != INFD_OK) {
		fprintf(stderr, "%s: %s\n", name, e.msg);
		failures++;
	} else {
		save(name, p, size);
	}
	free(p);
	infd__bpte_writer_destroy(bw);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	struct infd_pte_writer *w = writer(false, false);
	linear(w);
	getters(w);
	size_t n;
	uint8_t *basic = emit(w, "linear-segment.pte", &n);
	if (basic)
		bundle(basic, n, "linear.bpte");
	free(basic);
	w = writer(true, false);
	linear(w);
	free(emit(w, "linear-legacy.pte", NULL));
	w = writer(false, false);
	arith(w);
	free(emit(w, "arith.pte", NULL));
	w = writer(false, false);
	rich(w);
	free(emit(w, "rich-segments.pte", NULL));
	w = writer(true, true);
	rich(w);
	free(emit(w, "rich-inline.pte", NULL));
	w = writer(false, false);
	getters(w);
	free(emit(w, "getters.pte", NULL));
	w = writer(false, false);
	shapes(w);
	free(emit(w, "shapes.pte", NULL));
	return failures ? 1 : 0;
}
