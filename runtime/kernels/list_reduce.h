/* Kernels of reduce.c: INFD_KERNEL(key, argument count, function). */
