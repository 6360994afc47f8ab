/* Kernels of quant.c: INFD_KERNEL(key, argument count, function). */
