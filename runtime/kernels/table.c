/* The portable kernel library: every operator the portable CPU kernels implement,
 * keyed "name.overload", with its exact argument count (schema arguments, out
 * tensors, then the return slot). Each kernel family lists its kernels in its own
 * list_<family>.h, included twice: once for the prototypes, once for the table. */
#include "kernels.h"

const struct infd_kernel_def infd__portable_kernels[] = {
#define INFD_KERNEL(key, n_args, fn) {key, n_args, fn},
#include "list_binary.h"
#include "list_elementwise.h"
#include "list_linalg.h"
#include "list_reduce.h"
#include "list_shape.h"
#include "list_quant.h"
#undef INFD_KERNEL
};

const uint32_t infd__portable_kernel_count = sizeof infd__portable_kernels / sizeof infd__portable_kernels[0];
