/* The private interface every execution backend implements (portable CPU
 * kernels, XNNPACK, Vulkan, NPU plugins): a const ops table plus a context, as
 * ggml-backend and nng transports do. The executor only talks to this. */
#ifndef INFD_RUNTIME_BACKEND_H
#define INFD_RUNTIME_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "program.h"
#include "value.h"

struct infd_device_info {
	char name[128];     /* "portable CPU kernels", "llvmpipe (LLVM 15.0.6, 256 bits)" */
	char kind[16];      /* "cpu", "gpu", "npu" */
	bool available;
	bool software;      /* a GPU emulated on the CPU (lavapipe, SwiftShader) */
};

/* A run of instructions given to one backend: either consecutive KERNEL calls, or
 * exactly one DELEGATE call (then `delegate` is set). The value table belongs to
 * the loaded method and keeps its addresses for the method's life, so a backend
 * may keep pointers to it from prepare to release. */
struct infd_partition_desc {
	const struct infd_method_def *method;
	const struct infd_program *program; /* owns the constant data and named data */
	struct infd_evalue *values;
	uint32_t chain, first; /* the partition is instructions [first, first + n_instrs) of chain */
	uint32_t n_instrs;
	const struct infd_instr_def *const *instrs;
	const struct infd_delegate_def *delegate;
	uint32_t n_threads;
	void *threadpool; /* pthreadpool_t of the runtime (NULL: single-threaded) */
};

struct infd_backend_ops {
	const char *name; /* short id used in config and placement: "portable", "xnnpack", "vulkan" */
	/* Describe the device. Optional (NULL: available, named after the backend). */
	infd_status (*probe)(void *ctx, struct infd_device_info *out);
	/* Can this backend run this KERNEL instruction with these argument values? */
	bool (*supports)(void *ctx, const struct infd_method_def *method, const struct infd_evalue *values,
			 const struct infd_instr_def *instr);
	/* Does this backend take delegate payloads with this id? Optional (NULL: none). */
	bool (*claims_delegate)(void *ctx, const char *delegate_id);
	/* Compile / pack / resolve a partition. On success *prepared is the handle. */
	infd_status (*prepare)(void *ctx, const struct infd_partition_desc *part, void **prepared,
			       struct infd_error *err);
	/* Run a prepared partition on the current values. */
	infd_status (*execute)(void *ctx, void *prepared, struct infd_error *err);
	/* Free a prepared partition. */
	void (*release)(void *ctx, void *prepared);
	/* Free the backend context. Optional. */
	void (*destroy)(void *ctx);
	/* Run this backend's partitions on a worker thread of its own, one at a
	 * time in arrival order (a GPU or NPU queue). false: on the caller's thread,
	 * concurrently (the CPU backends). */
	bool own_lane;
};

struct infd_backend {
	const struct infd_backend_ops *ops;
	void *ctx;
};

struct infd_kernel_registry;

/* Does instruction argument `arg` refer to value `v`: is it `v`, or a tensor list
 * with `v` among its items? */
bool infd__value_mentions(const struct infd_method_def *def, int32_t arg, int32_t v);

/* Does value `v` escape the partition: is it a method output, or read by an
 * instruction of any chain outside the partition? A backend that keeps data in
 * its own memory must hand such values back to host memory after it runs. */
bool infd__partition_value_escapes(const struct infd_partition_desc *part, int32_t v);

/* The portable CPU backend: runs every kernel found in `reg` (borrowed; must
 * outlive the backend). Supports exactly the registered operators. */
infd_status infd__backend_portable_create(const struct infd_kernel_registry *reg,
					  struct infd_backend *out);

#endif
