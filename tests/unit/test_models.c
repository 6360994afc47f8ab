/* Real networks exported by ExecuTorch (../shared/testdata/models): each program
 * runs on the runtime and its output matches PyTorch's reference within 1e-4
 * relative L2 error. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "runtime/runtime.h"

/* Load NAME.pte, feed NAME.input0.bin, compare with NAME.expected0.bin. */
static void run_model(const char *name, uint32_t n_threads)
{
	char rel[128];
	snprintf(rel, sizeof rel, "models/%s.pte", name);
	T_REQUIRE_TESTDATA(pte, rel);
	snprintf(rel, sizeof rel, "models/%s.input0.bin", name);
	T_REQUIRE_TESTDATA(in_path, rel);
	snprintf(rel, sizeof rel, "models/%s.expected0.bin", name);
	T_REQUIRE_TESTDATA(want_path, rel);

	struct infd_error e = {0};
	struct infd_runtime_options opt;
	infd__runtime_options_default(&opt);
	opt.n_threads = n_threads;
	struct infd_runtime *rt;
	cr_assert_eq(infd__runtime_create(&opt, &rt, &e), INFD_OK, "%s", e.msg);
	struct infd_program *prog;
	cr_assert_eq(infd__program_open_file(pte, &prog, &e), INFD_OK, "%s", e.msg);
	struct infd_method *m;
	cr_assert_eq(infd__method_load(rt, prog, "forward", NULL, &m, &e), INFD_OK, "%s: %s", name, e.msg);

	size_t in_size, want_size;
	uint8_t *input = t_read_file(in_path, &in_size);
	float *want = (float *)t_read_file(want_path, &want_size);
	cr_assert(input && want);
	const struct infd_tensor *in = infd__method_input(m, 0)->u.t;
	cr_assert_eq(in_size, in->nbytes, "input file holds %zu bytes, the input needs %llu", in_size,
		     (unsigned long long)in->nbytes);
	cr_assert_eq(infd__method_set_input_tensor(m, 0, in->dtype, in->rank, in->sizes, input, in_size, &e), INFD_OK,
		     "%s", e.msg);
	/* Twice: a second execute on the same loaded method must give the same answer. */
	for (int run = 0; run < 2; run++) {
		if (run == 1)
			cr_assert_eq(infd__method_set_input_tensor(m, 0, in->dtype, in->rank, in->sizes, input, in_size,
								   &e),
				     INFD_OK, "%s", e.msg);
		cr_assert_eq(infd__method_execute(m, &e), INFD_OK, "%s: %s", name, e.msg);
		const struct infd_tensor *out = infd__method_output(m, 0)->u.t;
		cr_assert_eq(out->dtype, INFD_DTYPE_FLOAT32);
		cr_assert_eq(out->nbytes, want_size, "output has %llu bytes, the reference %zu",
			     (unsigned long long)out->nbytes, want_size);
		double err = t_rel_l2(out->data, want, want_size / 4);
		cr_assert(err < 1e-4, "%s (run %d, %u threads): relative L2 error %.3g", name, run, n_threads, err);
	}
	free(input);
	free(want);
	infd__method_free(m);
	infd__program_close(prog);
	infd__runtime_destroy(rt);
}

Test(models, cnn_small)
{
	run_model("cnn_small", 1);
}

Test(models, cnn_small_two_threads)
{
	run_model("cnn_small", 2);
}

Test(models, transformer)
{
	run_model("transformer", 1);
}

Test(models, audio_conv1d)
{
	run_model("audio_conv1d", 1);
}
