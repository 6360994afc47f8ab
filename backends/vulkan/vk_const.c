/* Constants shared by every prepared partition on one Vulkan device: a
 * refcounted table keyed by (host data, bytes, storage format), so the weights
 * of a model are on the device once however many sessions (method instances of
 * the same program) prepared partitions that read them. */
#include <stdint.h>
#include <stdlib.h>

#include "vk_internal.h"

static uint32_t bucket_of(const void *data, uint64_t nbytes, uint8_t fmt)
{
	uint64_t h = (uint64_t)(uintptr_t)data ^ (nbytes * 0x9e3779b97f4a7c15ull) ^ fmt;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (uint32_t)(h % VK_CONST_BUCKETS);
}

/* Unlink `k` from its bucket; the lock is held. */
static void unlink_entry(struct vk_ctx *c, struct vk_const *k)
{
	struct vk_const **at = &c->consts[bucket_of(k->data, k->nbytes, k->fmt)];
	while (*at && *at != k)
		at = &(*at)->next;
	if (*at)
		*at = k->next;
	k->next = NULL;
	k->linked = false;
}

infd_status infd__vk_const_get(struct vk_ctx *c, const void *data, uint64_t nbytes, uint8_t fmt, uint64_t dev_bytes,
			       struct vk_const **out, bool *owner, struct infd_error *err)
{
	uint32_t b = bucket_of(data, nbytes, fmt);
	pthread_mutex_lock(&c->lock);
	for (struct vk_const *k = c->consts[b]; k; k = k->next)
		if (k->data == data && k->nbytes == nbytes && k->fmt == fmt) {
			k->refs++;
			c->stats.const_uses++;
			pthread_mutex_unlock(&c->lock);
			*out = k;
			*owner = false;
			return INFD_OK;
		}
	pthread_mutex_unlock(&c->lock);
	/* not there: make it, with its range, before others can see it */
	struct vk_const *k = calloc(1, sizeof *k);
	if (!k)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	k->data = data;
	k->nbytes = nbytes;
	k->fmt = fmt;
	k->dev_bytes = dev_bytes;
	k->refs = 1;
	infd_status st = infd__vk_alloc(c, &c->dev_heap, dev_bytes, &k->dev, err);
	if (st) {
		free(k);
		return st;
	}
	pthread_mutex_lock(&c->lock);
	/* another preparer may have made the same one meanwhile: use theirs */
	for (struct vk_const *o = c->consts[b]; o; o = o->next)
		if (o->data == data && o->nbytes == nbytes && o->fmt == fmt) {
			o->refs++;
			c->stats.const_uses++;
			pthread_mutex_unlock(&c->lock);
			infd__vk_free(c, &k->dev);
			free(k);
			*out = o;
			*owner = false;
			return INFD_OK;
		}
	k->next = c->consts[b];
	k->linked = true;
	c->consts[b] = k;
	c->stats.n_consts++;
	c->stats.const_bytes += dev_bytes;
	c->stats.const_uses++;
	pthread_mutex_unlock(&c->lock);
	*out = k;
	*owner = true;
	return INFD_OK;
}

void infd__vk_const_publish(struct vk_ctx *c, struct vk_const *k, bool ok)
{
	pthread_mutex_lock(&c->lock);
	if (ok) {
		k->ready = true;
	} else {
		/* nobody may use what was not uploaded; later preparers make their own */
		k->failed = true;
		if (k->linked) {
			unlink_entry(c, k);
			c->stats.n_consts--;
			c->stats.const_bytes -= k->dev_bytes;
		}
	}
	pthread_cond_broadcast(&c->const_cond);
	pthread_mutex_unlock(&c->lock);
}

infd_status infd__vk_const_wait(struct vk_ctx *c, struct vk_const *k, struct infd_error *err)
{
	pthread_mutex_lock(&c->lock);
	while (!k->ready && !k->failed)
		pthread_cond_wait(&c->const_cond, &c->lock);
	bool failed = k->failed;
	pthread_mutex_unlock(&c->lock);
	if (failed)
		return infd__fail(err, INFD_NO_MEMORY,
				  "a constant of %llu bytes shared with another session could not be uploaded to '%s'",
				  (unsigned long long)k->nbytes, c->name);
	return INFD_OK;
}

void infd__vk_const_put(struct vk_ctx *c, struct vk_const *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&c->lock);
	c->stats.const_uses--;
	bool last = --k->refs == 0;
	if (last && k->linked) {
		unlink_entry(c, k);
		c->stats.n_consts--;
		c->stats.const_bytes -= k->dev_bytes;
	}
	pthread_mutex_unlock(&c->lock);
	if (!last)
		return;
	infd__vk_free(c, &k->dev);
	free(k);
}

void infd__vk_const_fini(struct vk_ctx *c)
{
	/* every partition is released before its backend; free what a caller leaked */
	for (uint32_t b = 0; b < VK_CONST_BUCKETS; b++)
		while (c->consts[b]) {
			struct vk_const *k = c->consts[b];
			c->consts[b] = k->next;
			infd__vk_free(c, &k->dev);
			free(k);
		}
}
