/* Kernels of linalg.c: INFD_KERNEL(key, argument count, function). */
