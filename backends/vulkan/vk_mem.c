/* Device memory for the Vulkan backend: a few large VkDeviceMemory blocks per
 * memory type, each covered by one VkBuffer, with tensors, parameter blocks and
 * staging areas suballocated first-fit from their free ranges. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

infd_status infd__vk_heap_init(struct vk_ctx *c, struct vk_heap *h, VkMemoryPropertyFlags want,
			       VkMemoryPropertyFlags nice, VkDeviceSize block_size, struct infd_error *err)
{
	/* which memory types can back our buffers */
	VkBufferCreateInfo bi = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		.size = 4096,
		.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
			 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	VkBuffer probe;
	VkResult r = vkCreateBuffer(c->dev, &bi, NULL, &probe);
	if (r != VK_SUCCESS)
		return infd__fail(err, INFD_NO_MEMORY, "cannot create a Vulkan buffer: %s", infd__vk_result_name(r));
	VkMemoryRequirements req;
	vkGetBufferMemoryRequirements(c->dev, probe, &req);
	vkDestroyBuffer(c->dev, probe, NULL);
	VkPhysicalDeviceMemoryProperties mp;
	vkGetPhysicalDeviceMemoryProperties(c->phys, &mp);
	int best = -1;
	for (uint32_t i = 0; i < mp.memoryTypeCount; i++) {
		VkMemoryPropertyFlags f = mp.memoryTypes[i].propertyFlags;
		if (!(req.memoryTypeBits & (1u << i)) || (f & want) != want)
			continue;
		if (best < 0 || ((f & nice) == nice && (mp.memoryTypes[best].propertyFlags & nice) != nice))
			best = (int)i;
	}
	if (best < 0)
		return infd__fail(err, INFD_UNSUPPORTED, "device '%s' has no memory type with flags 0x%x", c->name,
				  (unsigned)want);
	memset(h, 0, sizeof *h);
	h->type = (uint32_t)best;
	VkMemoryPropertyFlags f = mp.memoryTypes[best].propertyFlags;
	h->host_visible = f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
	h->coherent = f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
	VkDeviceSize heap_size = mp.memoryHeaps[mp.memoryTypes[best].heapIndex].size;
	h->block_size = block_size < heap_size / 4 ? block_size : heap_size / 4;
	return INFD_OK;
}

void infd__vk_heap_fini(struct vk_ctx *c, struct vk_heap *h)
{
	for (uint32_t i = 0; i < h->n_blocks; i++) {
		struct vk_block *b = &h->blocks[i];
		if (b->buf)
			vkDestroyBuffer(c->dev, b->buf, NULL);
		if (b->mem)
			vkFreeMemory(c->dev, b->mem, NULL);
		free(b->holes);
	}
	h->n_blocks = 0;
}

static VkResult add_block(struct vk_ctx *c, struct vk_heap *h, VkDeviceSize size)
{
	if (h->n_blocks == VK_MAX_BLOCKS)
		return VK_ERROR_TOO_MANY_OBJECTS;
	struct vk_block b = {.size = size};
	VkBufferCreateInfo bi = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		.size = size,
		.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
			 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	VkResult r = vkCreateBuffer(c->dev, &bi, NULL, &b.buf);
	if (r != VK_SUCCESS)
		return r;
	VkMemoryRequirements req;
	vkGetBufferMemoryRequirements(c->dev, b.buf, &req);
	VkMemoryAllocateInfo ai = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
		.allocationSize = req.size,
		.memoryTypeIndex = h->type,
	};
	r = vkAllocateMemory(c->dev, &ai, NULL, &b.mem);
	if (r == VK_SUCCESS)
		r = vkBindBufferMemory(c->dev, b.buf, b.mem, 0);
	if (r == VK_SUCCESS && h->host_visible)
		r = vkMapMemory(c->dev, b.mem, 0, VK_WHOLE_SIZE, 0, (void **)&b.map);
	if (r == VK_SUCCESS) {
		b.holes = malloc(4 * sizeof *b.holes);
		if (!b.holes)
			r = VK_ERROR_OUT_OF_HOST_MEMORY;
	}
	if (r != VK_SUCCESS) {
		vkDestroyBuffer(c->dev, b.buf, NULL);
		if (b.mem)
			vkFreeMemory(c->dev, b.mem, NULL);
		return r;
	}
	b.cap_holes = 4;
	b.n_holes = 1;
	b.holes[0] = (struct vk_hole){0, size};
	h->blocks[h->n_blocks++] = b;
	return VK_SUCCESS;
}

/* First fit in block b; true with *off set when it fits. */
static bool fit(struct vk_block *b, VkDeviceSize size, VkDeviceSize align, VkDeviceSize *off)
{
	for (uint32_t i = 0; i < b->n_holes; i++) {
		struct vk_hole *hl = &b->holes[i];
		VkDeviceSize start = (hl->off + align - 1) / align * align;
		if (start + size > hl->off + hl->size)
			continue;
		VkDeviceSize end = start + size, hole_end = hl->off + hl->size;
		/* split the hole into [off, start) and [end, hole_end) */
		bool before = start > hl->off, after = end < hole_end;
		if (before && after) {
			if (b->n_holes == b->cap_holes) {
				struct vk_hole *nh = realloc(b->holes, 2 * b->cap_holes * sizeof *nh);
				if (!nh)
					return false;
				b->holes = nh;
				b->cap_holes *= 2;
				hl = &b->holes[i];
			}
			memmove(&b->holes[i + 2], &b->holes[i + 1], (b->n_holes - i - 1) * sizeof *hl);
			b->holes[i + 1] = (struct vk_hole){end, hole_end - end};
			hl->size = start - hl->off;
			b->n_holes++;
		} else if (before) {
			hl->size = start - hl->off;
		} else if (after) {
			hl->off = end;
			hl->size = hole_end - end;
		} else {
			memmove(hl, hl + 1, (b->n_holes - i - 1) * sizeof *hl);
			b->n_holes--;
		}
		*off = start;
		b->n_live++;
		return true;
	}
	return false;
}

infd_status infd__vk_alloc(struct vk_ctx *c, struct vk_heap *h, VkDeviceSize size, struct vk_range *out,
			   struct infd_error *err)
{
	VkDeviceSize align = c->align;
	size = (size ? size + 15 : 16) & ~(VkDeviceSize)15;
	pthread_mutex_lock(&c->lock);
	VkResult r = VK_SUCCESS;
	for (uint32_t i = 0;; i++) {
		bool fresh = i == h->n_blocks;
		if (fresh) {
			VkDeviceSize bs = size > h->block_size ? (size + align) : h->block_size;
			if ((r = add_block(c, h, bs)) != VK_SUCCESS)
				break;
		}
		VkDeviceSize off;
		if (fit(&h->blocks[i], size, align, &off)) {
			*out = (struct vk_range){.heap = h, .block = i, .off = off, .size = size};
			break;
		}
		if (fresh) {
			r = VK_ERROR_OUT_OF_HOST_MEMORY; /* a new block that cannot take it */
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (r != VK_SUCCESS)
		return infd__fail(err, INFD_NO_MEMORY, "cannot allocate %llu bytes of %s memory on '%s': %s",
				  (unsigned long long)size, h->host_visible && h == &c->host_heap ? "staging" : "device",
				  c->name, infd__vk_result_name(r));
	return INFD_OK;
}

void infd__vk_free(struct vk_ctx *c, struct vk_range *rg)
{
	if (!rg->heap)
		return;
	pthread_mutex_lock(&c->lock);
	struct vk_block *b = &rg->heap->blocks[rg->block];
	VkDeviceSize off = rg->off, end = rg->off + rg->size;
	uint32_t i = 0;
	while (i < b->n_holes && b->holes[i].off < off)
		i++;
	bool join_prev = i > 0 && b->holes[i - 1].off + b->holes[i - 1].size == off;
	bool join_next = i < b->n_holes && b->holes[i].off == end;
	if (join_prev && join_next) {
		b->holes[i - 1].size += rg->size + b->holes[i].size;
		memmove(&b->holes[i], &b->holes[i + 1], (b->n_holes - i - 1) * sizeof *b->holes);
		b->n_holes--;
	} else if (join_prev) {
		b->holes[i - 1].size += rg->size;
	} else if (join_next) {
		b->holes[i].off = off;
		b->holes[i].size += rg->size;
	} else {
		if (b->n_holes == b->cap_holes) {
			struct vk_hole *nh = realloc(b->holes, 2 * b->cap_holes * sizeof *nh);
			if (!nh) {
				/* leak the range rather than corrupt the list */
				pthread_mutex_unlock(&c->lock);
				return;
			}
			b->holes = nh;
			b->cap_holes *= 2;
		}
		memmove(&b->holes[i + 1], &b->holes[i], (b->n_holes - i) * sizeof *b->holes);
		b->holes[i] = (struct vk_hole){off, rg->size};
		b->n_holes++;
	}
	b->n_live--;
	pthread_mutex_unlock(&c->lock);
	rg->heap = NULL;
}
