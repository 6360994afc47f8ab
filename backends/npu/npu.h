/* Private to backends/npu: one loaded NPU plugin wrapped as an infd backend
 * (npu_backend.c), made by the directory loader (loader.c). */
#ifndef INFD_BACKENDS_NPU_NPU_H
#define INFD_BACKENDS_NPU_NPU_H

#include "infd/npu_plugin.h"
#include "runtime/backend.h"

/* Longest plugin name accepted (the ABI says at most 31 characters). */
#define INFD_NPU_NAME_MAX 31

/* Wrap the plugin `desc` from the shared object `dl` (opened from `file`) as a
 * backend named after the plugin, device kind "npu". On success the backend
 * takes `dl`: its destroy op calls the plugin's unload and closes it. On failure
 * nothing is taken. */
infd_status infd__npu_backend_create(void *dl, const struct infd_npu_plugin *desc, const char *file,
				     struct infd_backend *out, struct infd_error *err);

#endif
