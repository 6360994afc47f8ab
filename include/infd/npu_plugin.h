/* The stable C ABI between infd and vendor NPU delegate plugins. A plugin is a
 * shared object in the daemon's `plugin_dir` exporting one function,
 * infd_npu_plugin_entry(), that returns a versioned descriptor. Plain C, no infd
 * internals; docs/npu-plugins.md is the vendor's guide. */
#ifndef INFD_NPU_PLUGIN_H
#define INFD_NPU_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "infd/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. It changes only when an existing field
 * or call changes meaning; infd refuses a plugin whose descriptor carries another
 * version (it names the file, the plugin's version and its own in the log).
 * Fields may be appended to the end of the structs below without a version
 * change: each appendable struct starts with `struct_size`, and the reader never
 * looks past it. */
#define INFD_NPU_PLUGIN_ABI_VERSION 1u

/* Name of the one symbol infd looks up in a plugin (dlsym). */
#define INFD_NPU_PLUGIN_ENTRY_SYMBOL "infd_npu_plugin_entry"

/* Put this on the entry function so it stays visible under -fvisibility=hidden. */
#if defined(__GNUC__)
#define INFD_NPU_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define INFD_NPU_PLUGIN_EXPORT
#endif

/* dtype of an argument that is absent (an optional argument passed as None). */
#define INFD_NPU_DTYPE_NONE (-1)

/* infd_npu_tensor.flags */
#define INFD_NPU_TENSOR_CONSTANT (1u << 0) /* program constant in read-only memory: never write it */
#define INFD_NPU_TENSOR_SCALAR (1u << 1)   /* an int / float / bool argument, as a rank-0 tensor */
#define INFD_NPU_TENSOR_LIST (1u << 2)     /* an int / float / bool list, as a rank-1 tensor */

/* One argument of a call. Tensors are dense, `data` addresses the first element,
 * and elements are laid out in `dim_order` (0,1,...,rank-1 = contiguous). Scalars
 * come as rank-0 tensors (int64, float64 or bool); int / float / bool lists as
 * rank-1 int64 / float64 / bool tensors; None as dtype INFD_NPU_DTYPE_NONE with
 * data NULL.
 *
 * Memory: infd owns every descriptor and every byte `data` points to. They are
 * valid only during the call that receives them; a plugin must not keep the
 * pointers. Inputs are read-only. Outputs are written in place; a plugin that
 * produces an output of another shape (dynamic shapes) writes the new `rank` and
 * `sizes` into the output descriptor, and the result must fit in `capacity`
 * bytes, otherwise infd fails the run. */
struct infd_npu_tensor {
	int32_t dtype;                      /* enum infd_dtype (ExecuTorch ScalarType numbers) */
	uint32_t rank;                      /* 0 .. INFD_MAX_RANK */
	int32_t sizes[INFD_MAX_RANK];       /* sizes[0 .. rank) */
	uint8_t dim_order[INFD_MAX_RANK];   /* dim_order[0 .. rank) */
	uint32_t flags;                     /* INFD_NPU_TENSOR_* */
	void *data;                         /* NULL at init for values not known before the run */
	uint64_t nbytes;                    /* element count x element size */
	uint64_t capacity;                  /* bytes available at `data` (>= nbytes) */
};

/* A compile spec of the delegate, as the exporter wrote it: a key and raw bytes
 * (not NUL-terminated; the meaning is the vendor's). */
struct infd_npu_compile_spec {
	const char *key;
	const void *value;
	size_t size;
};

/* What infd passes to init() to make one executable instance: either a delegate
 * blob from the program (delegate_id set) or one operator call placed on the
 * plugin (operator_key set). */
struct infd_npu_init_info {
	uint32_t struct_size;            /* sizeof(struct infd_npu_init_info) infd was built with */
	const char *method_name;         /* "forward" */
	/* Delegate calls: the id, the processed payload and the compile specs. They
	 * live in the loaded program and stay valid until destroy() of the handle,
	 * so the plugin may use the payload in place instead of copying it. */
	const char *delegate_id;         /* NULL for an operator call */
	const void *payload;
	uint64_t payload_size;
	uint32_t n_specs;
	const struct infd_npu_compile_spec *specs;
	/* Operator calls: the operator key ("aten::mul.out"); NULL for a delegate. */
	const char *operator_key;
	/* The call's arguments in file order with their load-time dtypes and shapes.
	 * `data` is set for constants and NULL for everything else (activations are
	 * only placed in memory at run time). Valid during init only. */
	uint32_t n_args;
	const struct infd_npu_tensor *args;
	/* The program's named data (weights the exporter stored by key). Returns the
	 * bytes and their size, or NULL when the key is unknown. The bytes stay valid
	 * until destroy() of the handle. */
	const void *(*named_data)(void *ud, const char *key, uint64_t *size_out);
	void *named_data_ud;
};

/* infd_npu_plugin.flags */
/* infd calls this plugin from one thread at a time (it holds a lock around every
 * call). Without the flag, calls on different handles may come from different
 * threads at once; calls on one handle never overlap. */
#define INFD_NPU_PLUGIN_SERIAL (1u << 0)

/* The descriptor a plugin returns. It must stay valid until the plugin is
 * unloaded (a `static const` object in the plugin is the usual choice). Every
 * function returns 0 / true on success; on failure it writes a NUL-terminated,
 * human-readable reason into `err` (`err_size` bytes, at least 256), which infd
 * puts in its own error message (load failure, run failure, log). */
struct infd_npu_plugin {
	/* Must be first, in this order, in every ABI version. */
	uint32_t abi_version; /* INFD_NPU_PLUGIN_ABI_VERSION */
	uint32_t struct_size; /* sizeof(struct infd_npu_plugin) */

	/* Short unique name, [a-z0-9_-], at most 31 characters. It is the backend's
	 * name in placement and in a model's device list; the device kind is "npu". */
	const char *name;
	/* Human-readable device description for logs ("Acme NPU v3, 4 TOPS"); NULL =
	 * the name. */
	const char *device_name;
	uint32_t flags; /* INFD_NPU_PLUGIN_* */

	/* Delegate ids this plugin runs (BackendDelegate.id, exact match), ended by
	 * NULL. May be NULL when the plugin only runs operators. */
	const char *const *delegate_ids;
	/* Operator keys ("aten::mul.out") the plugin can run as single calls, ended
	 * by NULL; NULL = none. infd places a program's plain operator calls on the
	 * plugin when the model prefers it. Such a call's arguments are the ExecuTorch
	 * kernel arguments in schema order: the inputs are every argument but the last
	 * (they include the out tensor), the one output is the last argument (the
	 * return slot, which is the out tensor again). Operators with several
	 * outputs or with tensor-list arguments are never placed on a plugin. */
	const char *const *operators;

	/* Is the device present and usable? Called once, right after loading, on the
	 * loading thread. false (with a reason in `err`) makes infd skip the plugin
	 * with a log line. NULL = always available. */
	bool (*is_available)(char *err, size_t err_size);

	/* Optional finer check for one operator call listed in `operators` (dtypes,
	 * shapes; data of non-constants is NULL). NULL = every call of a listed
	 * operator is accepted. Must not block. */
	bool (*supports_operator)(const char *operator_key, const struct infd_npu_tensor *args,
				  uint32_t n_args);

	/* Make an executable instance for a delegate blob or an operator call (may
	 * compile, allocate device memory, block). On success stores the plugin's
	 * handle in *handle_out and, for a delegate, the number of trailing
	 * arguments that are outputs in *n_outputs_out (infd sets it to 1 before the
	 * call; ExecuTorch convention: inputs first, then outputs). Failing here
	 * affects that model only: infd offers the call to the next backend that
	 * takes it, and when there is none the load fails quoting `err`. */
	int (*init)(const struct infd_npu_init_info *info, void **handle_out, uint32_t *n_outputs_out, char *err,
		    size_t err_size);

	/* Run an instance once: read `inputs`, write `outputs` (both as described at
	 * struct infd_npu_tensor; inputs first, outputs last, exactly as the call's
	 * arguments are split). Blocks until the outputs are written. */
	int (*execute)(void *handle, const struct infd_npu_tensor *inputs, uint32_t n_inputs,
		       struct infd_npu_tensor *outputs, uint32_t n_outputs, char *err, size_t err_size);

	/* Free an instance (never NULL when called). */
	void (*destroy)(void *handle);

	/* Called once before infd unloads the plugin, after every instance was
	 * destroyed. NULL = nothing to do. */
	void (*unload)(void);
};

/* The one function a plugin exports. `host_abi_version` is the version infd
 * speaks (INFD_NPU_PLUGIN_ABI_VERSION of the infd build), so a plugin that knows
 * several versions can return the matching descriptor. Returns NULL when the
 * plugin cannot serve this host (infd then skips it, naming the file). Called
 * once, on the loading thread. */
typedef const struct infd_npu_plugin *(*infd_npu_plugin_entry_fn)(uint32_t host_abi_version);

INFD_NPU_PLUGIN_EXPORT const struct infd_npu_plugin *infd_npu_plugin_entry(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif
#endif
