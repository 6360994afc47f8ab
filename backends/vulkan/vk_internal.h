/* Internals of the Vulkan backend shared by its files: the device context
 * (vk_device.c), the memory suballocator (vk_mem.c), operator lowering into
 * dispatches (vk_ops.c, vk_ops_nn.c) and prepared partitions (vk_part.c). */
#ifndef INFD_BACKENDS_VULKAN_VK_INTERNAL_H
#define INFD_BACKENDS_VULKAN_VK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <volk.h>

#include "backends/vulkan/vk_half.h"
#include "backends/vulkan/vulkan_backend.h"
#include "runtime/backend.h"

/* ---- Memory (vk_mem.c) ------------------------------------------------------ */

/* A free range inside a block. */
struct vk_hole {
	VkDeviceSize off, size;
};

/* One VkDeviceMemory with one VkBuffer over all of it (storage + transfers),
 * mapped for good when host-visible; ranges are handed out first-fit. */
struct vk_block {
	VkDeviceMemory mem;
	VkBuffer buf;
	VkDeviceSize size;
	uint8_t *map;
	uint32_t n_holes, cap_holes;
	struct vk_hole *holes; /* sorted by offset, never adjacent */
	uint32_t n_live;       /* ranges handed out */
};

/* Blocks of one memory type (a fixed table, so ranges stay valid while other
 * threads allocate). */
#define VK_MAX_BLOCKS 64
struct vk_heap {
	uint32_t type;
	bool host_visible, coherent;
	VkDeviceSize block_size;
	uint32_t n_blocks;
	struct vk_block blocks[VK_MAX_BLOCKS];
};

/* A suballocated range: block index, offset and size. */
struct vk_range {
	struct vk_heap *heap;
	uint32_t block;
	VkDeviceSize off, size;
};

struct vk_ctx;

infd_status infd__vk_heap_init(struct vk_ctx *c, struct vk_heap *h, VkMemoryPropertyFlags want,
			       VkMemoryPropertyFlags nice, VkDeviceSize block_size, struct infd_error *err);
void infd__vk_heap_fini(struct vk_ctx *c, struct vk_heap *h);
/* Thread-safe (takes the context's lock). */
infd_status infd__vk_alloc(struct vk_ctx *c, struct vk_heap *h, VkDeviceSize size, struct vk_range *out,
			   struct infd_error *err);
void infd__vk_free(struct vk_ctx *c, struct vk_range *r);
static inline VkBuffer infd__vk_buf(const struct vk_range *r)
{
	return r->heap->blocks[r->block].buf;
}
static inline uint8_t *infd__vk_map(const struct vk_range *r)
{
	return r->heap->blocks[r->block].map + r->off;
}

/* ---- Device context (vk_device.c) ------------------------------------------- */

enum vk_pipe { VK_PIPE_EW, VK_PIPE_GEMM, VK_PIPE_CONV2D, VK_PIPE_POOL, VK_PIPE_REDUCE, VK_PIPE_SOFTMAX,
	       VK_PIPE_LAYERNORM, VK_N_PIPES };

#define VK_N_BINDINGS 7 /* params + six tensors */
#define VK_CONST_BUCKETS 256 /* hash buckets of the shared constant table */

struct vk_const;

struct vk_ctx {
	VkInstance instance;
	VkPhysicalDevice phys;
	VkDevice dev;
	VkQueue queue;
	uint32_t queue_family;
	VkPhysicalDeviceProperties props;
	VkDeviceSize align; /* offset alignment of storage ranges */
	VkDescriptorSetLayout set_layout;
	VkPipelineLayout pipe_layout;
	VkPipelineCache cache;
	VkPipeline pipes[VK_N_PIPES];
	bool fp16;                        /* float activations stored as binary16 (vk_part.c) */
	struct infd_vk_half_kernels half; /* host conversions, chosen at create */
	struct vk_heap dev_heap, host_heap;
	VkBuffer dummy_buf; /* bound to unused slots */
	struct vk_range dummy;
	pthread_mutex_t lock; /* heaps, the queue, the constant table and stats */
	pthread_cond_t const_cond; /* a shared constant became ready or failed */
	struct vk_const *consts[VK_CONST_BUCKETS];
	char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
	char cache_path[1024];
	struct infd_vulkan_stats stats;
};

/* ---- Shared constants (vk_const.c) ------------------------------------------- */

/* One constant tensor on the device, shared by every prepared partition that
 * reads the same host data (the program's memory, shared by all method
 * instances of it) with the same size and storage format. The partition that
 * makes it uploads it and publishes it; the others wait until it is ready.
 * Freed with its last user. Fields other than `dev` are under the lock. */
struct vk_const {
	struct vk_const *next; /* in its bucket */
	const void *data;      /* key: host data ... */
	uint64_t nbytes;       /* ... its size on the host ... */
	uint8_t fmt;           /* ... and how it is stored (enum vk_const_fmt) */
	uint64_t dev_bytes;
	struct vk_range dev; /* set before it is listed, then constant */
	uint32_t refs;       /* partitions (slots) using it */
	bool linked;         /* in the table: failed ones and dying ones are not */
	bool ready, failed;  /* uploaded / its upload failed */
};

/* Storage formats of constants on the device. Constants stay fp32 in fp16 mode
 * (README); the format is part of the key all the same, so data stored
 * another way never shares a range. */
enum vk_const_fmt { VK_CONST_AS_HOST, VK_CONST_AS_F16 };

/* Take a reference to the constant (data, nbytes, fmt), `dev_bytes` on the
 * device. *owner true: it was made now, with a device range but no contents;
 * the caller uploads it and calls infd__vk_const_publish. false: someone else
 * made it; infd__vk_const_wait before its contents are used. Thread-safe. */
infd_status infd__vk_const_get(struct vk_ctx *c, const void *data, uint64_t nbytes, uint8_t fmt,
			       uint64_t dev_bytes, struct vk_const **out, bool *owner, struct infd_error *err);
/* The owner's upload finished (ok) or failed: wakes the waiters. A failed
 * constant leaves the table at once (the owner still holds its reference). */
void infd__vk_const_publish(struct vk_ctx *c, struct vk_const *k, bool ok);
/* Block until `k` is uploaded; an error when its owner's upload failed. */
infd_status infd__vk_const_wait(struct vk_ctx *c, struct vk_const *k, struct infd_error *err);
/* Drop a reference (NULL: nothing); the last one frees the device range. */
void infd__vk_const_put(struct vk_ctx *c, struct vk_const *k);
/* Free whatever is left in the table (backend destruction). */
void infd__vk_const_fini(struct vk_ctx *c);

/* One-shot command buffer: record with `fn`, submit, wait. */
infd_status infd__vk_run_once(struct vk_ctx *c, void (*fn)(VkCommandBuffer cb, void *ud), void *ud,
			      struct infd_error *err);
/* Submit `cb` and wait for `fence` (reset after). Takes the lock for the submit. */
infd_status infd__vk_submit_wait(struct vk_ctx *c, VkCommandBuffer cb, VkFence fence, struct infd_error *err);
const char *infd__vk_result_name(VkResult r);

/* ---- Lowering (vk_ops.c, vk_ops_nn.c) --------------------------------------- */

#define VK_MAX_PARAMS 48
#define VK_PARAM_BYTES (VK_MAX_PARAMS * 4) /* the uniform block every shader declares */
/* Parameter word the fp16 shaders read (P_HALF in shaders/common.glsl): bit b set
 * when the tensor at binding b is stored as binary16. Filled in at prepare, so
 * the lowerers never use it. */
#define VK_PARAM_HALF 47

/* One compute dispatch: pipeline, parameter block, tensors bound at bindings
 * 1..6 (value indices, -1 = unused) and which of them it writes. */
struct vk_dispatch {
	uint8_t pipe;
	uint8_t writes; /* bit b-1 set: binding b is written */
	int32_t bind[VK_N_BINDINGS - 1];
	uint32_t groups[3];
	uint32_t n_params;
	uint32_t params[VK_MAX_PARAMS];
};

/* Dispatches of a partition being lowered (a growing malloc'd list), or with
 * emit false, only the check whether the instructions can be lowered. */
struct vk_lower {
	bool emit;
	const struct infd_method_def *def;
	const struct infd_evalue *values;
	uint64_t max_range; /* largest tensor one binding may hold */
	struct vk_dispatch *d;
	uint32_t n, cap;
	bool oom;
	struct vk_dispatch scratch;
};

/* Append a dispatch (no-op when only checking); returns it or NULL. */
struct vk_dispatch *infd__vk_emit(struct vk_lower *L, enum vk_pipe pipe);

/* Check (and with a list, lower) one KERNEL instruction. */
bool infd__vk_lower_instr(struct vk_lower *L, const struct infd_instr_def *in);

/* Per-operator lowerers: args are the instruction's value indices. */
typedef bool (*vk_lower_fn)(struct vk_lower *L, const int32_t *args, uint32_t n, int variant);
bool infd__vk_lower_mm(struct vk_lower *L, const int32_t *args, uint32_t n, int variant);
bool infd__vk_lower_conv(struct vk_lower *L, const int32_t *args, uint32_t n, int variant);
bool infd__vk_lower_pool(struct vk_lower *L, const int32_t *args, uint32_t n, int variant);
bool infd__vk_lower_mean(struct vk_lower *L, const int32_t *args, uint32_t n, int variant);
bool infd__vk_lower_softmax(struct vk_lower *L, const int32_t *args, uint32_t n, int variant);
bool infd__vk_lower_layer_norm(struct vk_lower *L, const int32_t *args, uint32_t n, int variant);

/* Argument helpers shared by the lowerers. */
const struct infd_tensor *infd__vk_f32(const struct vk_lower *L, int32_t v); /* usable fp32 tensor or NULL */
bool infd__vk_int(const struct vk_lower *L, int32_t v, int64_t *out);
bool infd__vk_bool(const struct vk_lower *L, int32_t v, bool *out);
bool infd__vk_num(const struct vk_lower *L, int32_t v, double *out); /* Int, Double or Bool */
bool infd__vk_is_null(const struct vk_lower *L, int32_t v);
/* Int list into out[max]; *count = length. */
bool infd__vk_int_list(const struct vk_lower *L, int32_t v, int64_t *out, uint32_t max, uint32_t *count);
/* The out tensor at `o` with return slot `r` (same value) has exactly this shape. */
bool infd__vk_out(const struct vk_lower *L, int32_t o, int32_t r, uint32_t rank, const int32_t *sizes);
/* Workgroup grid for n invocations of `local` threads (folded into y past 65535). */
void infd__vk_grid1(struct vk_dispatch *d, uint64_t n, uint32_t local);
static inline uint32_t infd__vk_fbits(float f)
{
	union {
		float f;
		uint32_t u;
	} x = {.f = f};
	return x.u;
}

#endif
