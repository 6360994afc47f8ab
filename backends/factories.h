/* The constructors of the optional backends (private to backends/). */
#ifndef INFD_BACKENDS_FACTORIES_H
#define INFD_BACKENDS_FACTORIES_H

#include "backends/backends.h"

/* XNNPACK (backends/xnnpack): lowers runs of supported operators and runs
 * `XnnpackBackend` delegate payloads. Uses rt->threadpool. */
infd_status infd__backend_xnnpack_create(struct infd_runtime *rt, struct infd_backend *out,
					 struct infd_error *err);

/* Vulkan (backends/vulkan): fails cleanly when there is no loader or device. */
infd_status infd__backend_vulkan_create(struct infd_runtime *rt, const struct infd_backends_config *cfg,
					struct infd_backend *out, struct infd_error *err);

/* Offer one started (or failed) backend to the runtime; logs the outcome. */
typedef void (*infd_backend_add_fn)(struct infd_runtime *rt, const struct infd_backends_config *cfg,
				    const char *what, infd_status rc, struct infd_backend be,
				    const struct infd_error *err);

/* NPU delegate plugins (backends/npu): load every plugin in cfg->plugin_dir and
 * offer each through `add` (what = "npu plugin <file>"). */
void infd__npu_plugins_load(struct infd_runtime *rt, const struct infd_backends_config *cfg,
			    infd_backend_add_fn add);

#endif
