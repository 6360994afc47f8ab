/* Kernels of binary.c: INFD_KERNEL(key, argument count, function). */
INFD_KERNEL("aten::add.out", 5, infd__k_add_out)
INFD_KERNEL("aten::add.Scalar_out", 5, infd__k_add_scalar_out)
INFD_KERNEL("aten::sub.out", 5, infd__k_sub_out)
INFD_KERNEL("aten::sub.Scalar_out", 5, infd__k_sub_scalar_out)
INFD_KERNEL("aten::mul.out", 4, infd__k_mul_out)
INFD_KERNEL("aten::mul.Scalar_out", 4, infd__k_mul_scalar_out)
INFD_KERNEL("aten::div.out", 4, infd__k_div_out)
INFD_KERNEL("aten::div.Scalar_out", 4, infd__k_div_scalar_out)
