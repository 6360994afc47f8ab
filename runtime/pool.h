/* A grow-only allocation pool: many small allocations freed together. Used for
 * the decoded forms of program files, which live exactly as long as the file. */
#ifndef INFD_RUNTIME_POOL_H
#define INFD_RUNTIME_POOL_H

#include <stddef.h>

struct infd_pool_chunk;

struct infd_pool {
	struct infd_pool_chunk *chunks;
};

/* Zeroed, 16-byte aligned memory for count*size bytes; NULL when out of memory or
 * on overflow. */
void *infd__pool_array(struct infd_pool *pool, size_t count, size_t size);

/* Free every allocation; the pool can be used again afterwards. */
void infd__pool_free(struct infd_pool *pool);

#endif
