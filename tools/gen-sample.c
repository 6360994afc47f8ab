/* Builds the sample program that the main job serves, with the project's own
 * writer: `gen-sample OUT.pte [OUT.bpte]`. The program has two methods:
 *   forward(x: float32[2,4]) = x * scale + bias   (scale, bias: float32[4] constants)
 *   blend(a, b: float32[4])  = a + 0.5 * b
 * and the .bpte carries test cases computed here, independently of the runtime. */
#include <stdio.h>
#include <stdlib.h>

#include "infd/dtype.h"
#include "runtime/pte_writer.h"

static const float scale[4] = {0.5f, 1.0f, 2.0f, -1.0f};
static const float bias[4] = {1.0f, 0.0f, -1.0f, 0.25f};

static void build(struct infd_pte_writer *w)
{
	struct infd_pte_method *m = infd__pte_method(w, "forward");
	const int32_t x_shape[2] = {2, 4}, c_shape[1] = {4};
	int32_t x = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, x_shape);
	int32_t s = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 1, c_shape, scale);
	int32_t b = infd__pte_const_tensor(m, INFD_DTYPE_FLOAT32, 1, c_shape, bias);
	int32_t t = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, x_shape);
	int32_t y = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 2, x_shape);
	int32_t one = infd__pte_int(m, 1);
	infd__pte_inputs(m, 1, &x);
	infd__pte_outputs(m, 1, &y);
	infd__pte_call(m, "aten::mul", "out", 4, (const int32_t[]){x, s, t, t});
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){t, b, one, y, y});

	m = infd__pte_method(w, "blend");
	int32_t a = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, c_shape);
	int32_t bb = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, c_shape);
	int32_t out = infd__pte_planned(m, INFD_DTYPE_FLOAT32, 1, c_shape);
	int32_t half = infd__pte_double(m, 0.5);
	infd__pte_inputs(m, 2, (const int32_t[]){a, bb});
	infd__pte_outputs(m, 1, &out);
	infd__pte_call(m, "aten::add", "out", 5, (const int32_t[]){a, bb, half, out, out});
}

static int write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size) {
		perror(path);
		if (f)
			fclose(f);
		return 1;
	}
	return fclose(f) != 0;
}

static int write_bundle(const char *path, const uint8_t *pte, size_t size)
{
	struct infd_bpte_writer *bw = infd__bpte_writer_create(pte, size);
	if (!bw)
		return 1;
	const int32_t x_shape[2] = {2, 4}, v_shape[1] = {4};
	for (int c = 0; c < 3; c++) {
		float x[8], y[8], a[4], b[4], r[4];
		for (int k = 0; k < 8; k++) {
			x[k] = (float)(k - 3) * (float)(c + 1) * 0.5f;
			y[k] = x[k] * scale[k % 4] + bias[k % 4];
		}
		for (int k = 0; k < 4; k++) {
			a[k] = (float)(k + c);
			b[k] = (float)(2 * k - c);
			r[k] = a[k] + 0.5f * b[k];
		}
		struct infd_bpte_value in = {.kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 2,
					     .sizes = x_shape, .data = x, .nbytes = sizeof x};
		struct infd_bpte_value out = in;
		out.data = y;
		infd__bpte_test_case(bw, "forward", 1, &in, 1, &out);
		struct infd_bpte_value ins[2] = {
			{.kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = v_shape, .data = a,
			 .nbytes = sizeof a},
			{.kind = INFD_BPTE_TENSOR, .dtype = INFD_DTYPE_FLOAT32, .rank = 1, .sizes = v_shape, .data = b,
			 .nbytes = sizeof b},
		};
		struct infd_bpte_value res = ins[0];
		res.data = r;
		infd__bpte_test_case(bw, "blend", 2, ins, 1, &res);
	}
	uint8_t *data;
	size_t n;
	struct infd_error e = {0};
	int rc = 1;
	if (infd__bpte_writer_finish(bw, &data, &n, &e) == INFD_OK) {
		rc = write_file(path, data, n);
		free(data);
	} else {
		fprintf(stderr, "gen-sample: %s\n", e.msg);
	}
	infd__bpte_writer_destroy(bw);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: gen-sample OUT.pte [OUT.bpte]\n");
		return 2;
	}
	struct infd_pte_writer *w = infd__pte_writer_create(NULL);
	if (!w)
		return 1;
	build(w);
	uint8_t *data;
	size_t size;
	struct infd_error e = {0};
	if (infd__pte_writer_finish(w, &data, &size, &e) != INFD_OK) {
		fprintf(stderr, "gen-sample: %s\n", e.msg);
		infd__pte_writer_destroy(w);
		return 1;
	}
	int rc = write_file(argv[1], data, size);
	if (rc == 0 && argc == 3)
		rc = write_bundle(argv[2], data, size);
	free(data);
	infd__pte_writer_destroy(w);
	return rc;
}
