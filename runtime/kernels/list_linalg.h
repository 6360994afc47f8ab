/* Matrix products (linalg.c) and convolution (conv.c): INFD_KERNEL(key, argument count,
 * function). */
INFD_KERNEL("aten::mm.out", 4, infd__k_mm_out)
INFD_KERNEL("aten::bmm.out", 4, infd__k_bmm_out)
INFD_KERNEL("aten::addmm.out", 7, infd__k_addmm_out)
INFD_KERNEL("aten::linear.out", 5, infd__k_linear_out)
INFD_KERNEL("aten::convolution.out", 11, infd__k_convolution_out)
