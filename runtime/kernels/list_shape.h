/* Kernels of shape.c: INFD_KERNEL(key, argument count, function). */
