/* Prepared partitions of the Vulkan backend. Prepare lowers the instructions
 * into dispatches, gives every tensor they touch a device range (constants
 * share theirs with every partition reading the same data: vk_const.c),
 * uploads constants not yet on the device and parameter blocks once, and
 * records one command buffer: per-run
 * uploads (staging -> device), the dispatches with barriers, then downloads of
 * the tensors that escape the partition. Execute copies inputs into the
 * staging area, replays the command buffer and copies the escaping results out.
 * With fp16 storage, float tensors that are not constants live on the device
 * as binary16: converted on the way into staging and on the way out. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

/* One tensor the partition touches. */
struct vk_slot {
	int32_t value;
	uint64_t nbytes;    /* on the host */
	uint64_t dev_bytes; /* on the device (and in staging): half of nbytes when `half` */
	struct vk_range dev;
	bool half; /* stored as binary16 */
	bool read_first; /* its first use reads it: it comes from outside */
	bool written;
	bool upload;   /* copied in at every run */
	bool download; /* copied out after every run */
	bool once;     /* copied in at prepare: a constant this partition brings to the device */
	bool pending;  /* `shared` made here and not yet published (ready or failed) */
	struct vk_const *shared; /* a shared constant (dev is its range, not ours) */
	VkDeviceSize stage_off;
};

struct vk_part {
	struct vk_ctx *c;
	struct infd_evalue *values;
	const struct infd_method_def *def;
	uint32_t n_slots;
	struct vk_slot *slots;
	uint32_t n_dispatch;
	struct vk_range params, staging;
	VkDescriptorPool dpool;
	VkCommandPool cpool;
	VkCommandBuffer cb;
	VkFence fence;
};

bool infd__vk_supports(void *ctx, const struct infd_method_def *method, const struct infd_evalue *values,
		       const struct infd_instr_def *instr);
infd_status infd__vk_prepare(void *ctx, const struct infd_partition_desc *part, void **prepared,
			     struct infd_error *err);
infd_status infd__vk_execute(void *ctx, void *prepared, struct infd_error *err);
void infd__vk_release(void *ctx, void *prepared);

void infd__vk_release(void *ctx, void *prepared)
{
	struct vk_part *p = prepared;
	if (!p)
		return;
	struct vk_ctx *c = p->c;
	if (p->fence)
		vkDestroyFence(c->dev, p->fence, NULL);
	if (p->cpool)
		vkDestroyCommandPool(c->dev, p->cpool, NULL);
	if (p->dpool)
		vkDestroyDescriptorPool(c->dev, p->dpool, NULL);
	for (uint32_t i = 0; i < p->n_slots; i++) {
		struct vk_slot *s = &p->slots[i];
		if (s->pending) /* prepare failed before the upload: let waiters go */
			infd__vk_const_publish(c, s->shared, false);
		if (s->shared)
			infd__vk_const_put(c, s->shared);
		else
			infd__vk_free(c, &s->dev);
	}
	infd__vk_free(c, &p->params);
	infd__vk_free(c, &p->staging);
	free(p->slots);
	free(p);
}

static VkDeviceSize align_up(VkDeviceSize x, VkDeviceSize a)
{
	return (x + a - 1) / a * a;
}

/* What the one-time upload copies: constants and the parameter blocks. */
struct once_copy {
	struct vk_part *p;
	struct vk_range *src;
};

static void record_once(VkCommandBuffer cb, void *ud)
{
	struct once_copy *oc = ud;
	struct vk_part *p = oc->p;
	VkDeviceSize at = 0;
	for (uint32_t i = 0; i < p->n_slots; i++) {
		struct vk_slot *s = &p->slots[i];
		if (!s->once)
			continue;
		VkBufferCopy r = {.srcOffset = oc->src->off + at, .dstOffset = s->dev.off, .size = s->nbytes};
		vkCmdCopyBuffer(cb, infd__vk_buf(oc->src), infd__vk_buf(&s->dev), 1, &r);
		at = align_up(at + s->nbytes, 16);
	}
	VkBufferCopy r = {.srcOffset = oc->src->off + at, .dstOffset = p->params.off, .size = p->params.size};
	vkCmdCopyBuffer(cb, infd__vk_buf(oc->src), infd__vk_buf(&p->params), 1, &r);
	VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
			      .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
			      .dstAccessMask = VK_ACCESS_SHADER_READ_BIT};
	vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0,
			     NULL, 0, NULL);
}

static void barrier(VkCommandBuffer cb, VkPipelineStageFlags src, VkAccessFlags sa, VkPipelineStageFlags dst,
		    VkAccessFlags da)
{
	VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = sa, .dstAccessMask = da};
	vkCmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

static infd_status record(struct vk_part *p, const struct vk_dispatch *ds, const VkDescriptorSet *sets,
			  struct infd_error *err)
{
	struct vk_ctx *c = p->c;
	VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
	VkCommandBuffer cb = p->cb;
	vkBeginCommandBuffer(cb, &bi);
	/* the previous run's reads and writes come before this run's uploads */
	barrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
		VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
		VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
		VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_SHADER_READ_BIT |
			VK_ACCESS_SHADER_WRITE_BIT);
	for (uint32_t i = 0; i < p->n_slots; i++) {
		struct vk_slot *s = &p->slots[i];
		if (!s->upload)
			continue;
		VkBufferCopy r = {.srcOffset = p->staging.off + s->stage_off, .dstOffset = s->dev.off, .size = s->dev_bytes};
		vkCmdCopyBuffer(cb, infd__vk_buf(&p->staging), infd__vk_buf(&s->dev), 1, &r);
	}
	barrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
		VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
	int last = -1;
	for (uint32_t i = 0; i < p->n_dispatch; i++) {
		const struct vk_dispatch *d = &ds[i];
		if (i > 0)
			barrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
				VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
		if (d->pipe != last) {
			vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, c->pipes[d->pipe]);
			last = d->pipe;
		}
		vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, c->pipe_layout, 0, 1, &sets[i], 0, NULL);
		vkCmdDispatch(cb, d->groups[0], d->groups[1], d->groups[2]);
	}
	barrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
		VK_ACCESS_TRANSFER_READ_BIT);
	for (uint32_t i = 0; i < p->n_slots; i++) {
		struct vk_slot *s = &p->slots[i];
		if (!s->download)
			continue;
		VkBufferCopy r = {.srcOffset = s->dev.off, .dstOffset = p->staging.off + s->stage_off, .size = s->dev_bytes};
		vkCmdCopyBuffer(cb, infd__vk_buf(&s->dev), infd__vk_buf(&p->staging), 1, &r);
	}
	barrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
		VK_ACCESS_HOST_READ_BIT);
	VkResult r = vkEndCommandBuffer(cb);
	if (r != VK_SUCCESS)
		return infd__fail(err, INFD_NO_MEMORY, "cannot record the command buffer: %s", infd__vk_result_name(r));
	return INFD_OK;
}

/* Slot of value v, created on first sight. */
static struct vk_slot *slot_of(struct vk_part *p, int32_t *slot_at, int32_t v, uint32_t cap)
{
	if (slot_at[v] >= 0)
		return &p->slots[slot_at[v]];
	if (p->n_slots == cap)
		return NULL;
	struct vk_slot *s = &p->slots[p->n_slots];
	memset(s, 0, sizeof *s);
	s->value = v;
	s->nbytes = p->values[v].u.t->nbytes;
	slot_at[v] = (int32_t)p->n_slots++;
	return s;
}

static infd_status setup_slots(struct vk_part *p, const struct infd_partition_desc *part, const struct vk_dispatch *ds,
			       struct infd_error *err)
{
	uint32_t cap = p->n_dispatch * (VK_N_BINDINGS - 1);
	int32_t *slot_at = malloc(p->def->n_values * sizeof *slot_at);
	p->slots = calloc(cap ? cap : 1, sizeof *p->slots);
	if (!slot_at || !p->slots) {
		free(slot_at);
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	}
	for (uint32_t v = 0; v < p->def->n_values; v++)
		slot_at[v] = -1;
	for (uint32_t i = 0; i < p->n_dispatch; i++) {
		const struct vk_dispatch *d = &ds[i];
		for (int pass = 0; pass < 2; pass++) /* reads before writes */
			for (int b = 0; b < VK_N_BINDINGS - 1; b++) {
				bool w = d->writes & (1u << b);
				if (d->bind[b] < 0 || w != (pass == 1))
					continue;
				bool fresh = slot_at[d->bind[b]] < 0;
				struct vk_slot *s = slot_of(p, slot_at, d->bind[b], cap);
				if (fresh)
					s->read_first = !w;
				if (w)
					s->written = true;
			}
	}
	free(slot_at);
	VkDeviceSize stage = 0;
	for (uint32_t i = 0; i < p->n_slots; i++) {
		struct vk_slot *s = &p->slots[i];
		const struct infd_tensor *t = p->values[s->value].u.t;
		s->upload = s->read_first && !t->is_const;
		s->download = s->written && infd__partition_value_escapes(part, s->value);
		/* activations in fp16; constants (weights) stay fp32: accuracy
		 * before memory there (README) */
		s->half = p->c->fp16 && t->dtype == INFD_DTYPE_FLOAT32 && !t->is_const;
		s->dev_bytes = s->half ? t->numel * 2 : s->nbytes;
		infd_status st;
		if (s->read_first && t->is_const && !s->written) {
			/* constants point into the program, shared by its method
			 * instances: one device copy for all of them */
			bool owner;
			uint8_t fmt = s->half ? VK_CONST_AS_F16 : VK_CONST_AS_HOST;
			if ((st = infd__vk_const_get(p->c, t->data, s->nbytes, fmt, s->dev_bytes, &s->shared, &owner,
						     err)))
				return st;
			s->dev = s->shared->dev;
			s->once = s->pending = owner;
			continue;
		}
		s->once = s->read_first && t->is_const; /* a constant written here: its own copy */
		if ((st = infd__vk_alloc(p->c, &p->c->dev_heap, s->dev_bytes, &s->dev, err)))
			return st;
		if (s->upload || s->download) {
			s->stage_off = stage;
			stage = align_up(stage + s->dev_bytes, 16);
		}
	}
	if (stage)
		return infd__vk_alloc(p->c, &p->c->host_heap, stage, &p->staging, err);
	return INFD_OK;
}

static const struct vk_slot *slot_find(const struct vk_part *p, int32_t v)
{
	for (uint32_t s = 0; v >= 0 && s < p->n_slots; s++)
		if (p->slots[s].value == v)
			return &p->slots[s];
	return NULL;
}

/* Upload the constants this partition brings and the parameter blocks (laid
 * out at c->align) once, then wait for shared constants others are uploading;
 * each block gets the bindings stored as fp16 in word VK_PARAM_HALF. */
static infd_status upload_once(struct vk_part *p, const struct vk_dispatch *ds, VkDeviceSize *param_off,
			       struct infd_error *err)
{
	struct vk_ctx *c = p->c;
	VkDeviceSize consts = 0, params = 0;
	for (uint32_t i = 0; i < p->n_slots; i++)
		if (p->slots[i].once)
			consts = align_up(consts + p->slots[i].nbytes, 16);
	for (uint32_t i = 0; i < p->n_dispatch; i++) {
		param_off[i] = params;
		params = align_up(params + VK_PARAM_BYTES, c->align);
	}
	infd_status st = infd__vk_alloc(c, &c->dev_heap, params, &p->params, err);
	if (st)
		return st;
	struct vk_range tmp;
	if ((st = infd__vk_alloc(c, &c->host_heap, consts + params, &tmp, err)))
		return st;
	uint8_t *m = infd__vk_map(&tmp);
	VkDeviceSize at = 0;
	for (uint32_t i = 0; i < p->n_slots; i++) {
		const struct infd_tensor *t = p->values[p->slots[i].value].u.t;
		if (!p->slots[i].once)
			continue;
		memcpy(m + at, t->data, p->slots[i].nbytes);
		at = align_up(at + p->slots[i].nbytes, 16);
	}
	for (uint32_t i = 0; i < p->n_dispatch; i++) {
		uint32_t blk[VK_MAX_PARAMS];
		memcpy(blk, ds[i].params, VK_PARAM_BYTES);
		blk[VK_PARAM_HALF] = 0;
		for (int b = 0; b < VK_N_BINDINGS - 1; b++) {
			const struct vk_slot *s = slot_find(p, ds[i].bind[b]);
			if (s && s->half)
				blk[VK_PARAM_HALF] |= 1u << (b + 1);
		}
		memcpy(m + at + param_off[i], blk, VK_PARAM_BYTES);
	}
	struct once_copy oc = {.p = p, .src = &tmp};
	st = infd__vk_run_once(c, record_once, &oc, err);
	infd__vk_free(c, &tmp);
	/* publish ours before waiting for others': two partitions each waiting
	 * for the other's constants would otherwise wait for ever */
	for (uint32_t i = 0; i < p->n_slots; i++)
		if (p->slots[i].pending) {
			infd__vk_const_publish(c, p->slots[i].shared, st == INFD_OK);
			p->slots[i].pending = false;
		}
	for (uint32_t i = 0; i < p->n_slots && !st; i++)
		if (p->slots[i].shared)
			st = infd__vk_const_wait(c, p->slots[i].shared, err);
	return st;
}

static infd_status make_sets(struct vk_part *p, const struct vk_dispatch *ds, const VkDeviceSize *param_off,
			     VkDescriptorSet *sets, struct infd_error *err)
{
	struct vk_ctx *c = p->c;
	VkDescriptorPoolSize ps[2] = {
		{.type = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, .descriptorCount = p->n_dispatch},
		{.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = p->n_dispatch * (VK_N_BINDINGS - 1)},
	};
	VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
					 .maxSets = p->n_dispatch,
					 .poolSizeCount = 2,
					 .pPoolSizes = ps};
	VkResult r = vkCreateDescriptorPool(c->dev, &pi, NULL, &p->dpool);
	for (uint32_t i = 0; i < p->n_dispatch && r == VK_SUCCESS; i++) {
		VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
						  .descriptorPool = p->dpool,
						  .descriptorSetCount = 1,
						  .pSetLayouts = &c->set_layout};
		r = vkAllocateDescriptorSets(c->dev, &ai, &sets[i]);
	}
	if (r != VK_SUCCESS)
		return infd__fail(err, INFD_NO_MEMORY, "cannot allocate descriptor sets: %s", infd__vk_result_name(r));
	for (uint32_t i = 0; i < p->n_dispatch; i++) {
		VkDescriptorBufferInfo bi[VK_N_BINDINGS];
		VkWriteDescriptorSet w[VK_N_BINDINGS];
		bi[0] = (VkDescriptorBufferInfo){infd__vk_buf(&p->params), p->params.off + param_off[i],
						 VK_PARAM_BYTES};
		for (int b = 0; b < VK_N_BINDINGS - 1; b++) {
			const struct vk_slot *s = slot_find(p, ds[i].bind[b]);
			const struct vk_range *rg = s ? &s->dev : &c->dummy;
			bi[b + 1] = (VkDescriptorBufferInfo){infd__vk_buf(rg), rg->off, s ? s->dev_bytes : c->dummy.size};
		}
		for (int b = 0; b < VK_N_BINDINGS; b++)
			w[b] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
						      .dstSet = sets[i],
						      .dstBinding = (uint32_t)b,
						      .descriptorCount = 1,
						      .descriptorType = b ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
									  : VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER,
						      .pBufferInfo = &bi[b]};
		vkUpdateDescriptorSets(c->dev, VK_N_BINDINGS, w, 0, NULL);
	}
	return INFD_OK;
}

infd_status infd__vk_prepare(void *ctx, const struct infd_partition_desc *part, void **prepared,
			     struct infd_error *err)
{
	struct vk_ctx *c = ctx;
	if (part->delegate)
		return infd__fail(err, INFD_UNSUPPORTED, "the Vulkan backend runs no delegate payloads");
	struct vk_lower L = {.emit = true,
			     .def = part->method,
			     .values = part->values,
			     .max_range = c->props.limits.maxStorageBufferRange};
	for (uint32_t i = 0; i < part->n_instrs; i++)
		if (!infd__vk_lower_instr(&L, part->instrs[i])) {
			free(L.d);
			if (L.oom)
				return infd__fail(err, INFD_NO_MEMORY, "out of memory");
			return infd__fail(err, INFD_UNSUPPORTED, "instruction %u (%s) cannot run on Vulkan",
					  part->first + i, part->method->operators[part->instrs[i]->a].key);
		}
	struct vk_part *p = calloc(1, sizeof *p);
	VkDeviceSize *param_off = calloc(L.n ? L.n : 1, sizeof *param_off);
	VkDescriptorSet *sets = calloc(L.n ? L.n : 1, sizeof *sets);
	infd_status st = INFD_OK;
	if (!p || !param_off || !sets) {
		free(p);
		p = NULL;
		st = infd__fail(err, INFD_NO_MEMORY, "out of memory");
		goto out_free;
	}
	p->c = c;
	p->values = part->values;
	p->def = part->method;
	p->n_dispatch = L.n;
	if ((st = setup_slots(p, part, L.d, err)) || (st = upload_once(p, L.d, param_off, err)) ||
	    (st = make_sets(p, L.d, param_off, sets, err)))
		goto out_free;
	VkCommandPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
				      .queueFamilyIndex = c->queue_family};
	VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
	VkResult r = vkCreateCommandPool(c->dev, &pi, NULL, &p->cpool);
	if (r == VK_SUCCESS) {
		VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
						  .commandPool = p->cpool,
						  .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
						  .commandBufferCount = 1};
		r = vkAllocateCommandBuffers(c->dev, &ai, &p->cb);
	}
	if (r == VK_SUCCESS)
		r = vkCreateFence(c->dev, &fi, NULL, &p->fence);
	if (r != VK_SUCCESS) {
		st = infd__fail(err, INFD_NO_MEMORY, "cannot create a command buffer: %s", infd__vk_result_name(r));
		goto out_free;
	}
	st = record(p, L.d, sets, err);
out_free:
	free(L.d);
	free(param_off);
	free(sets);
	if (st) {
		infd__vk_release(c, p);
		return st;
	}
	*prepared = p;
	return INFD_OK;
}

infd_status infd__vk_execute(void *ctx, void *prepared, struct infd_error *err)
{
	struct vk_part *p = prepared;
	uint8_t *stage = p->staging.heap ? infd__vk_map(&p->staging) : NULL;
	for (uint32_t i = 0; i < p->n_slots; i++) {
		const struct vk_slot *s = &p->slots[i];
		const struct infd_tensor *t = p->values[s->value].u.t;
		if (!s->upload && !s->download)
			continue;
		if (t->nbytes != s->nbytes || !t->data) {
			char buf[128];
			return infd__fail(err, INFD_BAD_INPUT, "value %d (%s) %s; the Vulkan partition was prepared for %llu bytes",
					  s->value, infd__tensor_describe(t, buf, sizeof buf),
					  t->data ? "changed size" : "has no data", (unsigned long long)s->nbytes);
		}
		if (s->upload && s->half)
			p->c->half.to_f16((uint16_t *)(void *)(stage + s->stage_off), t->data, t->numel);
		else if (s->upload)
			memcpy(stage + s->stage_off, t->data, s->nbytes);
	}
	infd_status st = infd__vk_submit_wait(p->c, p->cb, p->fence, err);
	if (st)
		return st;
	for (uint32_t i = 0; i < p->n_slots; i++) {
		const struct vk_slot *s = &p->slots[i];
		struct infd_tensor *t = p->values[s->value].u.t;
		if (s->download && s->half)
			p->c->half.to_f32(t->data, (const uint16_t *)(const void *)(stage + s->stage_off), t->numel);
		else if (s->download)
			memcpy(t->data, stage + s->stage_off, s->nbytes);
	}
	return INFD_OK;
}
