/* The Vulkan backend's device context: loader (volk), instance, choice of the
 * physical device, compute queue, the shared descriptor-set and pipeline
 * layouts, the embedded SPIR-V pipelines (the fp32 or the fp16-storage set)
 * with their on-disk pipeline cache, and the backend ops table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/factories.h"
#include "vk_internal.h"

/* The embedded SPIR-V (generated from shaders/ by the build): infd__vk_spv_* with
 * fp32 tensors, infd__vk_spv16_* built with INFD_FP16. */
#define VK_SPV(n)                                                                                           \
	extern const unsigned char infd__vk_spv_##n[], infd__vk_spv16_##n[];                                \
	extern const size_t infd__vk_spv_##n##_size, infd__vk_spv16_##n##_size;
VK_SPV(ew)
VK_SPV(gemm)
VK_SPV(conv2d)
VK_SPV(pool)
VK_SPV(reduce)
VK_SPV(softmax)
VK_SPV(layernorm)
#undef VK_SPV

#define VK_SPV_SET(p)                                                                                       \
	{                                                                                                    \
		[VK_PIPE_EW] = {p##ew, &p##ew_size}, [VK_PIPE_GEMM] = {p##gemm, &p##gemm_size},              \
		[VK_PIPE_CONV2D] = {p##conv2d, &p##conv2d_size}, [VK_PIPE_POOL] = {p##pool, &p##pool_size},  \
		[VK_PIPE_REDUCE] = {p##reduce, &p##reduce_size},                                             \
		[VK_PIPE_SOFTMAX] = {p##softmax, &p##softmax_size},                                          \
		[VK_PIPE_LAYERNORM] = {p##layernorm, &p##layernorm_size},                                    \
	}
static const struct {
	const unsigned char *code;
	const size_t *size;
} spv[2][VK_N_PIPES] = {VK_SPV_SET(infd__vk_spv_), VK_SPV_SET(infd__vk_spv16_)}; /* [fp16][pipe] */
#undef VK_SPV_SET

/* Header of <cache_dir>/vulkan-pipelines.bin (fp32 shaders) or
 * vulkan-pipelines-fp16.bin (fp16 storage), followed by the driver's blob. Each
 * shader set has its own file, so daemons with either setting keep theirs
 * warm; `shaders` (a hash of the set's SPIR-V) makes a build with other shaders
 * replace the file. */
#define CACHE_MAGIC "INFDVKPC"
#define CACHE_VERSION 2u
struct cache_header {
	char magic[8];
	uint32_t version;
	uint32_t vendor_id, device_id, driver_version;
	uint8_t uuid[VK_UUID_SIZE];
	uint64_t shaders;
	uint64_t size;
};

/* FNV-1a over the SPIR-V of the shader set in use. */
static uint64_t shader_hash(bool fp16)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (int i = 0; i < VK_N_PIPES; i++)
		for (size_t k = 0; k < *spv[fp16][i].size; k++)
			h = (h ^ spv[fp16][i].code[k]) * 0x100000001b3ull;
	return h;
}

const char *infd__vk_result_name(VkResult r)
{
	switch (r) {
	case VK_SUCCESS: return "VK_SUCCESS";
	case VK_TIMEOUT: return "VK_TIMEOUT";
	case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
	case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
	case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
	case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
	case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
	case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
	case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
	case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
	default: return "VkResult error";
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *type_name(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
	case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
	default: return "other";
	}
}

/* Lower is better: discrete, integrated, virtual, CPU, anything else. */
static int type_rank(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
	case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
	default: return 4;
	}
}

static bool compute_family(VkPhysicalDevice pd, uint32_t *family)
{
	uint32_t n = 0;
	vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
	VkQueueFamilyProperties q[32];
	if (n > 32)
		n = 32;
	vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
	/* a compute-only family first (often an async queue), then any with compute */
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < n; i++)
			if ((q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) &&
			    (pass == 1 || !(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))) {
				*family = i;
				return true;
			}
	return false;
}

static infd_status pick_device(struct vk_ctx *c, const char *want, bool software_ok, struct infd_error *err)
{
	uint32_t n = 0;
	VkResult r = vkEnumeratePhysicalDevices(c->instance, &n, NULL);
	if (r != VK_SUCCESS || n == 0)
		return infd__fail(err, INFD_UNSUPPORTED, "no Vulkan device found (%s)",
				  r != VK_SUCCESS ? infd__vk_result_name(r) : "the loader lists none");
	VkPhysicalDevice pds[16];
	if (n > 16)
		n = 16;
	vkEnumeratePhysicalDevices(c->instance, &n, pds);
	int best = -1, best_rank = 99;
	char seen[512] = "";
	for (uint32_t i = 0; i < n; i++) {
		VkPhysicalDeviceProperties p;
		vkGetPhysicalDeviceProperties(pds[i], &p);
		size_t used = strlen(seen);
		snprintf(seen + used, sizeof seen - used, "%s'%s' (%s)", used ? ", " : "", p.deviceName,
			 type_name(p.deviceType));
		uint32_t fam;
		if (p.apiVersion < VK_API_VERSION_1_1 || !compute_family(pds[i], &fam))
			continue;
		if (want && !strstr(p.deviceName, want))
			continue;
		int rank = type_rank(p.deviceType);
		if (rank < best_rank) {
			best = (int)i;
			best_rank = rank;
		}
	}
	if (best < 0) {
		if (want)
			return infd__fail(err, INFD_NOT_FOUND,
					  "no Vulkan 1.1 compute device has '%s' in its name (devices: %s)", want, seen);
		return infd__fail(err, INFD_UNSUPPORTED, "no Vulkan 1.1 device with a compute queue (devices: %s)",
				  seen);
	}
	if (best_rank == type_rank(VK_PHYSICAL_DEVICE_TYPE_CPU) && !want && !software_ok) {
		/* Decided before a device is created: a software rasteriser on the same
		 * cores would only be slower than the CPU backends. */
		VkPhysicalDeviceProperties p;
		vkGetPhysicalDeviceProperties(pds[best], &p);
		return infd__fail(err, INFD_UNSUPPORTED,
				  "the only Vulkan device, '%s', is a software one (allow it with the vulkan 'software' "
				  "setting or name it as the device)",
				  p.deviceName);
	}
	c->phys = pds[best];
	vkGetPhysicalDeviceProperties(c->phys, &c->props);
	compute_family(c->phys, &c->queue_family);
	snprintf(c->name, sizeof c->name, "%s", c->props.deviceName);
	snprintf(c->stats.device, sizeof c->stats.device, "%s", c->props.deviceName);
	snprintf(c->stats.type, sizeof c->stats.type, "%s", type_name(c->props.deviceType));
	return INFD_OK;
}

/* Whether the device can hold shader-visible storage buffers of 16-bit floats
 * (VK_KHR_16bit_storage, core in Vulkan 1.1 but optional). Only storage is
 * needed: the shaders convert to fp32 for arithmetic (no shaderFloat16). */
static bool has_16bit_storage(struct vk_ctx *c)
{
	VkPhysicalDevice16BitStorageFeatures f16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
	VkPhysicalDeviceFeatures2 f = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f16};
	vkGetPhysicalDeviceFeatures2(c->phys, &f);
	return f16.storageBuffer16BitAccess;
}

/* Opens the device, with 16-bit storage enabled when fp16 was asked for and the
 * device has it (c->fp16 then set); otherwise the fp32 shaders are used. */
static infd_status make_device(struct vk_ctx *c, bool want_fp16, struct infd_error *err)
{
	c->stats.fp16_requested = want_fp16;
	c->fp16 = want_fp16 && has_16bit_storage(c);
	VkPhysicalDevice16BitStorageFeatures f16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
						    .storageBuffer16BitAccess = VK_TRUE};
	float prio = 1.0f;
	VkDeviceQueueCreateInfo qi = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
		.queueFamilyIndex = c->queue_family,
		.queueCount = 1,
		.pQueuePriorities = &prio,
	};
	VkDeviceCreateInfo di = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
		.pNext = c->fp16 ? &f16 : NULL,
		.queueCreateInfoCount = 1,
		.pQueueCreateInfos = &qi,
	};
	VkResult r = vkCreateDevice(c->phys, &di, NULL, &c->dev);
	if (r != VK_SUCCESS && c->fp16) {
		/* a driver that lists the feature yet refuses it: fp32 rather than nothing */
		c->fp16 = false;
		di.pNext = NULL;
		r = vkCreateDevice(c->phys, &di, NULL, &c->dev);
	}
	if (r != VK_SUCCESS)
		return infd__fail(err, INFD_UNSUPPORTED, "cannot open Vulkan device '%s': %s", c->name,
				  infd__vk_result_name(r));
	volkLoadDevice(c->dev);
	vkGetDeviceQueue(c->dev, c->queue_family, 0, &c->queue);
	c->stats.fp16 = c->fp16;
	if (c->fp16) {
		infd__vk_half_pick(&c->half);
		snprintf(c->stats.conversion, sizeof c->stats.conversion, "%s", c->half.name);
	}
	c->align = c->props.limits.minStorageBufferOffsetAlignment;
	if (c->align < c->props.limits.minUniformBufferOffsetAlignment)
		c->align = c->props.limits.minUniformBufferOffsetAlignment;
	if (c->align < 256)
		c->align = 256;
	return INFD_OK;
}

static infd_status make_layouts(struct vk_ctx *c, struct infd_error *err)
{
	VkDescriptorSetLayoutBinding b[VK_N_BINDINGS];
	for (uint32_t i = 0; i < VK_N_BINDINGS; i++)
		b[i] = (VkDescriptorSetLayoutBinding){
			.binding = i,
			.descriptorType = i ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER,
			.descriptorCount = 1,
			.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
		};
	VkDescriptorSetLayoutCreateInfo li = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
		.bindingCount = VK_N_BINDINGS,
		.pBindings = b,
	};
	VkResult r = vkCreateDescriptorSetLayout(c->dev, &li, NULL, &c->set_layout);
	if (r == VK_SUCCESS) {
		VkPipelineLayoutCreateInfo pi = {
			.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
			.setLayoutCount = 1,
			.pSetLayouts = &c->set_layout,
		};
		r = vkCreatePipelineLayout(c->dev, &pi, NULL, &c->pipe_layout);
	}
	if (r != VK_SUCCESS)
		return infd__fail(err, INFD_UNSUPPORTED, "cannot create Vulkan layouts: %s", infd__vk_result_name(r));
	return INFD_OK;
}

/* Read the cache file when it was written for this very device and driver;
 * returns a malloc'd blob (or NULL) and its size. */
static void *cache_read(struct vk_ctx *c, size_t *size)
{
	*size = 0;
	if (!c->cache_path[0])
		return NULL;
	FILE *f = fopen(c->cache_path, "rb");
	if (!f)
		return NULL;
	struct cache_header h;
	void *blob = NULL;
	if (fread(&h, sizeof h, 1, f) == 1 && memcmp(h.magic, CACHE_MAGIC, 8) == 0 && h.version == CACHE_VERSION &&
	    h.vendor_id == c->props.vendorID && h.device_id == c->props.deviceID &&
	    h.driver_version == c->props.driverVersion &&
	    memcmp(h.uuid, c->props.pipelineCacheUUID, VK_UUID_SIZE) == 0 && h.shaders == shader_hash(c->fp16) &&
	    h.size > 0 && h.size < (64u << 20)) {
		blob = malloc((size_t)h.size);
		if (blob && fread(blob, 1, (size_t)h.size, f) == h.size) {
			*size = (size_t)h.size;
		} else {
			free(blob);
			blob = NULL;
		}
	}
	fclose(f);
	return blob;
}

/* Write the cache atomically (temporary file + rename); false on failure. */
static bool cache_write(struct vk_ctx *c)
{
	size_t size = 0;
	if (!c->cache_path[0] || vkGetPipelineCacheData(c->dev, c->cache, &size, NULL) != VK_SUCCESS || !size)
		return false;
	void *blob = malloc(size);
	if (!blob)
		return false;
	bool ok = false;
	if (vkGetPipelineCacheData(c->dev, c->cache, &size, blob) == VK_SUCCESS) {
		struct cache_header h = {.version = CACHE_VERSION,
					 .vendor_id = c->props.vendorID,
					 .device_id = c->props.deviceID,
					 .driver_version = c->props.driverVersion,
					 .shaders = shader_hash(c->fp16),
					 .size = size};
		memcpy(h.magic, CACHE_MAGIC, 8);
		memcpy(h.uuid, c->props.pipelineCacheUUID, VK_UUID_SIZE);
		char tmp[sizeof c->cache_path + 16];
		snprintf(tmp, sizeof tmp, "%s.%ld", c->cache_path, (long)getpid());
		FILE *f = fopen(tmp, "wb");
		if (f) {
			ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(blob, 1, size, f) == size;
			ok = fclose(f) == 0 && ok;
			ok = ok && rename(tmp, c->cache_path) == 0;
			if (!ok)
				remove(tmp);
		}
	}
	free(blob);
	return ok;
}

static infd_status make_pipelines(struct vk_ctx *c, struct infd_error *err)
{
	size_t blob_size;
	void *blob = cache_read(c, &blob_size);
	VkPipelineCacheCreateInfo ci = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
		.initialDataSize = blob_size,
		.pInitialData = blob,
	};
	VkResult r = vkCreatePipelineCache(c->dev, &ci, NULL, &c->cache);
	if (r != VK_SUCCESS && blob) {
		/* a blob the driver refuses: start empty */
		ci.initialDataSize = 0;
		ci.pInitialData = NULL;
		blob_size = 0;
		r = vkCreatePipelineCache(c->dev, &ci, NULL, &c->cache);
	}
	free(blob);
	if (r != VK_SUCCESS)
		return infd__fail(err, INFD_UNSUPPORTED, "cannot create a pipeline cache: %s", infd__vk_result_name(r));
	c->stats.cache_loaded = blob_size > 0;
	uint64_t t0 = now_ns();
	for (int i = 0; i < VK_N_PIPES; i++) {
		VkShaderModuleCreateInfo mi = {
			.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
			.codeSize = *spv[c->fp16][i].size,
			.pCode = (const uint32_t *)(const void *)spv[c->fp16][i].code,
		};
		VkShaderModule mod;
		r = vkCreateShaderModule(c->dev, &mi, NULL, &mod);
		if (r != VK_SUCCESS)
			return infd__fail(err, INFD_UNSUPPORTED, "cannot load shader %d: %s", i, infd__vk_result_name(r));
		VkComputePipelineCreateInfo pi = {
			.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
			.stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
				  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
				  .module = mod,
				  .pName = "main"},
			.layout = c->pipe_layout,
		};
		r = vkCreateComputePipelines(c->dev, c->cache, 1, &pi, NULL, &c->pipes[i]);
		vkDestroyShaderModule(c->dev, mod, NULL);
		if (r != VK_SUCCESS)
			return infd__fail(err, INFD_UNSUPPORTED, "cannot create compute pipeline %d on '%s': %s", i,
					  c->name, infd__vk_result_name(r));
		c->stats.n_pipelines++;
	}
	c->stats.pipeline_ns = now_ns() - t0;
	if (!c->stats.cache_loaded)
		c->stats.cache_saved = cache_write(c);
	return INFD_OK;
}

static void ctx_destroy(struct vk_ctx *c)
{
	if (!c)
		return;
	if (c->dev) {
		vkDeviceWaitIdle(c->dev);
		for (int i = 0; i < VK_N_PIPES; i++)
			if (c->pipes[i])
				vkDestroyPipeline(c->dev, c->pipes[i], NULL);
		if (c->cache)
			vkDestroyPipelineCache(c->dev, c->cache, NULL);
		if (c->pipe_layout)
			vkDestroyPipelineLayout(c->dev, c->pipe_layout, NULL);
		if (c->set_layout)
			vkDestroyDescriptorSetLayout(c->dev, c->set_layout, NULL);
		if (c->dummy.heap)
			infd__vk_free(c, &c->dummy);
		infd__vk_const_fini(c);
		infd__vk_heap_fini(c, &c->dev_heap);
		infd__vk_heap_fini(c, &c->host_heap);
		vkDestroyDevice(c->dev, NULL);
	}
	/* The instance is the process's (shared_instance), never destroyed. */
	pthread_cond_destroy(&c->const_cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

infd_status infd__vk_submit_wait(struct vk_ctx *c, VkCommandBuffer cb, VkFence fence, struct infd_error *err)
{
	VkSubmitInfo si = {
		.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
		.commandBufferCount = 1,
		.pCommandBuffers = &cb,
	};
	pthread_mutex_lock(&c->lock);
	VkResult r = vkQueueSubmit(c->queue, 1, &si, fence);
	pthread_mutex_unlock(&c->lock);
	if (r == VK_SUCCESS)
		r = vkWaitForFences(c->dev, 1, &fence, VK_TRUE, 60ull * 1000000000ull);
	vkResetFences(c->dev, 1, &fence);
	if (r != VK_SUCCESS)
		return infd__fail(err, INFD_KERNEL_FAILED, "Vulkan device '%s' did not finish: %s", c->name,
				  infd__vk_result_name(r));
	return INFD_OK;
}

infd_status infd__vk_run_once(struct vk_ctx *c, void (*fn)(VkCommandBuffer cb, void *ud), void *ud,
			      struct infd_error *err)
{
	VkCommandPool pool = VK_NULL_HANDLE;
	VkCommandBuffer cb = VK_NULL_HANDLE;
	VkFence fence = VK_NULL_HANDLE;
	VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
				      .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
				      .queueFamilyIndex = c->queue_family};
	VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
	VkResult r = vkCreateCommandPool(c->dev, &pi, NULL, &pool);
	if (r == VK_SUCCESS) {
		VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
						  .commandPool = pool,
						  .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
						  .commandBufferCount = 1};
		r = vkAllocateCommandBuffers(c->dev, &ai, &cb);
	}
	if (r == VK_SUCCESS)
		r = vkCreateFence(c->dev, &fi, NULL, &fence);
	infd_status st;
	if (r == VK_SUCCESS) {
		VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
					       .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
		vkBeginCommandBuffer(cb, &bi);
		fn(cb, ud);
		r = vkEndCommandBuffer(cb);
	}
	if (r == VK_SUCCESS)
		st = infd__vk_submit_wait(c, cb, fence, err);
	else
		st = infd__fail(err, INFD_NO_MEMORY, "cannot record a Vulkan command buffer: %s", infd__vk_result_name(r));
	if (fence)
		vkDestroyFence(c->dev, fence, NULL);
	if (pool)
		vkDestroyCommandPool(c->dev, pool, NULL);
	return st;
}

/* ---- Backend ops ------------------------------------------------------------- */

bool infd__vk_supports(void *ctx, const struct infd_method_def *method, const struct infd_evalue *values,
		       const struct infd_instr_def *instr);
infd_status infd__vk_prepare(void *ctx, const struct infd_partition_desc *part, void **prepared,
			     struct infd_error *err);
infd_status infd__vk_execute(void *ctx, void *prepared, struct infd_error *err);
void infd__vk_release(void *ctx, void *prepared);

static infd_status vk_probe(void *ctx, struct infd_device_info *out)
{
	const struct vk_ctx *c = ctx;
	memset(out, 0, sizeof *out);
	/* fp16 asked for: say whether it is in use or why not */
	const char *storage = c->fp16 ? ", fp16" : c->stats.fp16_requested ? ", fp32: no 16-bit storage" : "";
	snprintf(out->name, sizeof out->name, "%.80s (%s%s)", c->name, c->stats.type, storage);
	snprintf(out->kind, sizeof out->kind, "gpu");
	out->available = true;
	out->software = c->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
	return INFD_OK;
}

static void vk_destroy(void *ctx)
{
	ctx_destroy(ctx);
}

static const struct infd_backend_ops vk_ops = {
	.name = "vulkan",
	.probe = vk_probe,
	.supports = infd__vk_supports,
	.prepare = infd__vk_prepare,
	.execute = infd__vk_execute,
	.release = infd__vk_release,
	.destroy = vk_destroy,
	.own_lane = true, /* one queue: partitions reach the GPU one at a time, in order */
};

bool infd__vulkan_stats(const struct infd_backend *be, struct infd_vulkan_stats *out)
{
	if (!be || be->ops != &vk_ops)
		return false;
	struct vk_ctx *c = be->ctx;
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
	return true;
}

/* One Vulkan instance per process, made on first use and kept until exit: the
 * loader and drivers are loaded once, and destroying an instance unloads driver
 * code that leaves memory behind (seen with Mesa's lavapipe), so repeated
 * backend creation (tests, infd-pte, a daemon restart of its runtime) would
 * lose memory each time. Devices are still created and destroyed per backend. */
static pthread_once_t instance_once = PTHREAD_ONCE_INIT;
static VkInstance shared_instance;
static VkResult shared_result = VK_ERROR_INITIALIZATION_FAILED;

static void make_shared_instance(void)
{
	shared_result = volkInitialize();
	if (shared_result != VK_SUCCESS)
		return;
	VkApplicationInfo app = {
		.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
		.pApplicationName = "infd",
		.pEngineName = "infd",
		.apiVersion = VK_API_VERSION_1_1,
	};
	VkInstanceCreateInfo ii = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
	shared_result = vkCreateInstance(&ii, NULL, &shared_instance);
	if (shared_result == VK_SUCCESS)
		volkLoadInstanceOnly(shared_instance);
}

infd_status infd__backend_vulkan_create(struct infd_runtime *rt, const struct infd_backends_config *cfg,
					struct infd_backend *out, struct infd_error *err)
{
	(void)rt;
	pthread_once(&instance_once, make_shared_instance);
	if (!shared_instance) {
		if (!vkCreateInstance)
			return infd__fail(err, INFD_UNSUPPORTED, "no Vulkan loader (libvulkan.so.1) on this system");
		return infd__fail(err, INFD_UNSUPPORTED, "cannot create a Vulkan 1.1 instance: %s",
				  infd__vk_result_name(shared_result));
	}
	struct vk_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->const_cond, NULL);
	c->instance = shared_instance;
	infd_status st;
	if ((st = pick_device(c, cfg && cfg->vulkan_device && cfg->vulkan_device[0] ? cfg->vulkan_device : NULL,
			      cfg ? cfg->vulkan_software : true, err)) ||
	    (st = make_device(c, cfg && cfg->vulkan_fp16, err)))
		goto out_ctx;
	if (cfg && cfg->cache_dir && cfg->cache_dir[0])
		snprintf(c->cache_path, sizeof c->cache_path, "%s/vulkan-pipelines%s.bin", cfg->cache_dir,
			 c->fp16 ? "-fp16" : "");
	if ((st = infd__vk_heap_init(c, &c->dev_heap, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, 64u << 20, err)) ||
	    (st = infd__vk_heap_init(c, &c->host_heap,
				     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
				     VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 16u << 20, err)) ||
	    (st = infd__vk_alloc(c, &c->dev_heap, 256, &c->dummy, err)) || (st = make_layouts(c, err)) ||
	    (st = make_pipelines(c, err)))
		goto out_ctx;
	out->ops = &vk_ops;
	out->ctx = c;
	return INFD_OK;
out_ctx:
	ctx_destroy(c);
	return st;
}
