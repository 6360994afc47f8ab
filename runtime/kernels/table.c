/* The portable kernel library: every operator the portable CPU kernels implement,
 * keyed "name.overload", with its exact argument count (schema arguments, out
 * tensors, then the return slot). */
#include "util.h"

const struct infd_kernel_def infd__portable_kernels[] = {
	{"aten::add.out", 5, infd__k_add_out},
	{"aten::add.Scalar_out", 5, infd__k_add_scalar_out},
	{"aten::sub.out", 5, infd__k_sub_out},
	{"aten::sub.Scalar_out", 5, infd__k_sub_scalar_out},
	{"aten::mul.out", 4, infd__k_mul_out},
	{"aten::mul.Scalar_out", 4, infd__k_mul_scalar_out},
	{"aten::div.out", 4, infd__k_div_out},
	{"aten::div.Scalar_out", 4, infd__k_div_scalar_out},
};

const uint32_t infd__portable_kernel_count =
	sizeof infd__portable_kernels / sizeof infd__portable_kernels[0];
