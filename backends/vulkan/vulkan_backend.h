/* What the Vulkan backend tells its tests and benchmarks beyond the backend ops
 * table: which device it chose and how long creating its pipelines took, with or
 * without a pipeline cache from an earlier start, whether it stores
 * activations as fp16, and how many constants (weights) are on the device. */
#ifndef INFD_BACKENDS_VULKAN_VULKAN_BACKEND_H
#define INFD_BACKENDS_VULKAN_VULKAN_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/backend.h"

struct infd_vulkan_stats {
	char device[256];        /* device name */
	char type[16];           /* "discrete", "integrated", "virtual", "cpu", "other" */
	uint64_t pipeline_ns;    /* time spent creating every compute pipeline at start */
	bool cache_loaded;       /* a valid pipeline cache file for this device was read */
	bool cache_saved;        /* the cache file was (re)written at start */
	uint32_t n_pipelines;
	bool fp16_requested;     /* the config asked for fp16 storage (vulkan_fp16) */
	bool fp16;               /* activations are stored as fp16: asked for and the device has
				    storageBuffer16BitAccess; false means the fp32 path */
	char conversion[16];     /* host fp32 <-> fp16 loops in use: "f16c", "portable"; "" without fp16 */
	/* Constants (weights) on the device now, each once per backend however
	 * many prepared partitions (sessions of the same program) read it */
	uint32_t n_consts;       /* constant tensors resident */
	uint64_t const_bytes;    /* their bytes on the device (before suballocator rounding) */
	uint64_t const_uses;     /* references to them from prepared partitions (>= n_consts) */
};

/* Stats of a backend made by infd__backend_vulkan_create; false when `be` is not
 * a Vulkan backend. Any thread; takes the backend's lock for the copy (held
 * only briefly by others: never across a GPU wait). */
bool infd__vulkan_stats(const struct infd_backend *be, struct infd_vulkan_stats *out);

#endif
