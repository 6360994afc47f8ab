/* Kernels of elementwise.c: INFD_KERNEL(key, argument count, function). */
