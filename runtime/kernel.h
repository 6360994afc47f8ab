/* Operator kernels and the registry that resolves them by "name.overload" once,
 * at method load. A kernel receives the instruction's argument values in the
 * ExecuTorch calling convention (schema arguments, out tensors, return slot). */
#ifndef INFD_RUNTIME_KERNEL_H
#define INFD_RUNTIME_KERNEL_H

#include <stdint.h>

#include "error.h"
#include "value.h"

struct infd_kernel_ctx {
	struct infd_error *err; /* where a failing kernel explains itself */
	const char *op_key;     /* "aten::add.out", for messages */
	uint32_t n_threads;     /* threads the caller allows (>= 1) */
	void *threadpool;       /* pthreadpool_t shared by the runtime, or NULL (run serially) */
};

typedef infd_status (*infd_kernel_fn)(struct infd_kernel_ctx *ctx, struct infd_evalue **args,
				      uint32_t n_args);

struct infd_kernel_def {
	const char *key;    /* "aten::add.out" */
	int32_t n_args;     /* exact argument count, or -1 when variable */
	infd_kernel_fn fn;
};

/* The portable CPU kernel library: a static table (runtime/kernels/table.c). */
extern const struct infd_kernel_def infd__portable_kernels[];
extern const uint32_t infd__portable_kernel_count;

struct infd_kernel_registry;

infd_status infd__registry_create(struct infd_kernel_registry **out);
void infd__registry_destroy(struct infd_kernel_registry *reg);

/* Register `n` kernels (borrowed: the table must outlive the registry). A key that
 * is already registered is replaced (later registrations win). */
infd_status infd__registry_add(struct infd_kernel_registry *reg, const struct infd_kernel_def *defs,
			       uint32_t n);

/* Kernel for "name.overload", or NULL. Thread-safe once registration is over. */
const struct infd_kernel_def *infd__registry_find(const struct infd_kernel_registry *reg,
						  const char *key);

uint32_t infd__registry_count(const struct infd_kernel_registry *reg);
const struct infd_kernel_def *infd__registry_at(const struct infd_kernel_registry *reg, uint32_t i);

#endif
