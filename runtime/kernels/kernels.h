/* Prototypes of every portable kernel, generated from the per-family lists
 * (list_<family>.h: INFD_KERNEL(key, argument count, function)). */
#ifndef INFD_RUNTIME_KERNELS_KERNELS_H
#define INFD_RUNTIME_KERNELS_KERNELS_H

#include "runtime/kernel.h"

#define INFD_KERNEL(key, n_args, fn) infd_status fn(struct infd_kernel_ctx *ctx, struct infd_evalue **args, uint32_t n);
#include "list_binary.h"
#include "list_elementwise.h"
#include "list_linalg.h"
#include "list_reduce.h"
#include "list_shape.h"
#include "list_quant.h"
#undef INFD_KERNEL

#endif
