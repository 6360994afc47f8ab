/* The kernel registry: an open-addressing hash table from "name.overload" to the
 * borrowed kernel definition, plus the definitions in registration order. Built
 * once at start-up; lookups only read, so they are safe from any thread. */
#include "kernel.h"

#include <stdlib.h>
#include <string.h>

struct infd_kernel_registry {
	const struct infd_kernel_def **defs; /* registration order (replaced in place) */
	uint32_t *hashes;                    /* hash of defs[i]->key */
	uint32_t count, cap;
	uint32_t *slots;                     /* index + 1 into defs, 0 = empty */
	uint32_t n_slots;                    /* power of two, kept at most half full */
};

/* FNV-1a over the key's bytes. */
static uint32_t key_hash(const char *key)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

/* Slot holding `key`, or the empty slot where it would go. */
static uint32_t find_slot(const struct infd_kernel_registry *reg, const char *key, uint32_t h)
{
	uint32_t mask = reg->n_slots - 1;
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t s = reg->slots[i];
		if (s == 0)
			return i;
		if (reg->hashes[s - 1] == h && strcmp(reg->defs[s - 1]->key, key) == 0)
			return i;
	}
}

static infd_status grow_slots(struct infd_kernel_registry *reg, uint32_t need)
{
	uint32_t n = reg->n_slots ? reg->n_slots : 64;
	while (n < need * 2) {
		if (n > UINT32_MAX / 4)
			return INFD_NO_MEMORY;
		n *= 2;
	}
	if (n == reg->n_slots)
		return INFD_OK;
	uint32_t *slots = calloc(n, sizeof *slots);
	if (!slots)
		return INFD_NO_MEMORY;
	free(reg->slots);
	reg->slots = slots;
	reg->n_slots = n;
	for (uint32_t i = 0; i < reg->count; i++)
		reg->slots[find_slot(reg, reg->defs[i]->key, reg->hashes[i])] = i + 1;
	return INFD_OK;
}

static infd_status grow_defs(struct infd_kernel_registry *reg, uint32_t need)
{
	if (need <= reg->cap)
		return INFD_OK;
	uint32_t cap = reg->cap ? reg->cap : 64;
	while (cap < need) {
		if (cap > UINT32_MAX / 4)
			return INFD_NO_MEMORY;
		cap *= 2;
	}
	const struct infd_kernel_def **defs = realloc(reg->defs, cap * sizeof *defs);
	if (!defs)
		return INFD_NO_MEMORY;
	reg->defs = defs;
	uint32_t *hashes = realloc(reg->hashes, cap * sizeof *hashes);
	if (!hashes)
		return INFD_NO_MEMORY;
	reg->hashes = hashes;
	reg->cap = cap;
	return INFD_OK;
}

infd_status infd__registry_create(struct infd_kernel_registry **out)
{
	if (!out)
		return INFD_INVALID_ARGUMENT;
	struct infd_kernel_registry *reg = calloc(1, sizeof *reg);
	if (!reg)
		return INFD_NO_MEMORY;
	infd_status st = grow_slots(reg, 1);
	if (st) {
		free(reg);
		return st;
	}
	*out = reg;
	return INFD_OK;
}

void infd__registry_destroy(struct infd_kernel_registry *reg)
{
	if (!reg)
		return;
	free(reg->slots);
	free(reg->hashes);
	free(reg->defs);
	free(reg);
}

infd_status infd__registry_add(struct infd_kernel_registry *reg, const struct infd_kernel_def *defs,
			       uint32_t n)
{
	if (!reg || (n && !defs))
		return INFD_INVALID_ARGUMENT;
	for (uint32_t i = 0; i < n; i++)
		if (!defs[i].key || !defs[i].key[0] || !defs[i].fn || defs[i].n_args < -1)
			return INFD_INVALID_ARGUMENT;
	/* Reserve for the worst case (all keys new) so a failure changes nothing. */
	if (n > UINT32_MAX / 4 - reg->count)
		return INFD_NO_MEMORY;
	infd_status st = grow_defs(reg, reg->count + n);
	if (st)
		return st;
	if ((st = grow_slots(reg, reg->count + n)))
		return st;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t h = key_hash(defs[i].key);
		uint32_t slot = find_slot(reg, defs[i].key, h);
		if (reg->slots[slot]) {
			reg->defs[reg->slots[slot] - 1] = &defs[i];
			continue;
		}
		reg->defs[reg->count] = &defs[i];
		reg->hashes[reg->count] = h;
		reg->slots[slot] = ++reg->count;
	}
	return INFD_OK;
}

const struct infd_kernel_def *infd__registry_find(const struct infd_kernel_registry *reg,
						  const char *key)
{
	if (!reg || !key)
		return NULL;
	uint32_t s = reg->slots[find_slot(reg, key, key_hash(key))];
	return s ? reg->defs[s - 1] : NULL;
}

uint32_t infd__registry_count(const struct infd_kernel_registry *reg)
{
	return reg ? reg->count : 0;
}

const struct infd_kernel_def *infd__registry_at(const struct infd_kernel_registry *reg, uint32_t i)
{
	if (!reg || i >= reg->count)
		return NULL;
	return reg->defs[i];
}
