/* Grow-only allocation pool (see pool.h). */
#include "pool.h"

#include <stdint.h>
#include <stdlib.h>

struct infd_pool_chunk {
	struct infd_pool_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

void *infd__pool_array(struct infd_pool *pool, size_t count, size_t size)
{
	if (count && size > SIZE_MAX / count)
		return NULL;
	size_t n = count * size;
	if (n > SIZE_MAX - 16)
		return NULL;
	n = n ? (n + 15) & ~(size_t)15 : 16;
	struct infd_pool_chunk *c = pool->chunks;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		c = calloc(1, sizeof *c + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->next = pool->chunks;
		pool->chunks = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

void infd__pool_free(struct infd_pool *pool)
{
	struct infd_pool_chunk *c = pool->chunks;
	while (c) {
		struct infd_pool_chunk *next = c->next;
		free(c);
		c = next;
	}
	pool->chunks = NULL;
}
