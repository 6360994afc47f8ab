/* The portable CPU backend: runs KERNEL instructions on the kernels of a
 * registry (the portable library, plus whatever else was registered). It is the
 * backend of last resort and the reference the others are compared with. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "kernel.h"

struct portable_call {
	const struct infd_kernel_def *kernel;
	uint32_t n_args;
	struct infd_evalue **args;
};

struct portable_part {
	uint32_t n_calls;
	uint32_t n_threads;
	void *threadpool;
	struct portable_call *calls;
	struct infd_evalue *arg_storage[]; /* all calls' argument pointers */
};

static bool portable_supports(void *ctx, const struct infd_method_def *method, const struct infd_evalue *values,
			      const struct infd_instr_def *instr)
{
	const struct infd_kernel_registry *reg = ctx;
	return instr->kind == INFD_INSTR_KERNEL && infd__registry_find(reg, method->operators[instr->a].key) != NULL;
}

static infd_status portable_prepare(void *ctx, const struct infd_partition_desc *part, void **prepared,
				    struct infd_error *err)
{
	const struct infd_kernel_registry *reg = ctx;
	if (part->delegate)
		return infd__fail(err, INFD_UNSUPPORTED, "the portable backend runs no delegate payloads");
	size_t n_ptrs = 0;
	for (uint32_t i = 0; i < part->n_instrs; i++)
		n_ptrs += part->instrs[i]->n_args;
	struct portable_part *pp = calloc(1, sizeof *pp + n_ptrs * sizeof(struct infd_evalue *));
	if (!pp)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	pp->calls = calloc(part->n_instrs ? part->n_instrs : 1, sizeof *pp->calls);
	if (!pp->calls) {
		free(pp);
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	}
	pp->n_calls = part->n_instrs;
	pp->n_threads = part->n_threads ? part->n_threads : 1;
	pp->threadpool = part->threadpool;
	struct infd_evalue **next = pp->arg_storage;
	for (uint32_t i = 0; i < part->n_instrs; i++) {
		const struct infd_instr_def *in = part->instrs[i];
		const char *key = part->method->operators[in->a].key;
		const struct infd_kernel_def *k = infd__registry_find(reg, key);
		if (!k || (k->n_args >= 0 && (uint32_t)k->n_args != in->n_args)) {
			infd_status st = k ? infd__fail(err, INFD_BAD_FORMAT,
							"operator %s takes %d arguments (schema + out + return), the instruction passes %u",
							key, k->n_args, in->n_args)
					   : infd__fail(err, INFD_MISSING_OPERATOR, "no portable kernel for %s", key);
			free(pp->calls);
			free(pp);
			return st;
		}
		pp->calls[i].kernel = k;
		pp->calls[i].n_args = in->n_args;
		pp->calls[i].args = next;
		for (uint32_t a = 0; a < in->n_args; a++)
			*next++ = &part->values[in->args[a]];
	}
	*prepared = pp;
	return INFD_OK;
}

static infd_status portable_execute(void *ctx, void *prepared, struct infd_error *err)
{
	struct portable_part *pp = prepared;
	for (uint32_t i = 0; i < pp->n_calls; i++) {
		const struct portable_call *c = &pp->calls[i];
		struct infd_kernel_ctx kctx = {.err = err, .op_key = c->kernel->key, .n_threads = pp->n_threads,
					       .threadpool = pp->threadpool};
		infd_status st = c->kernel->fn(&kctx, c->args, c->n_args);
		if (st)
			return st;
	}
	return INFD_OK;
}

static void portable_release(void *ctx, void *prepared)
{
	struct portable_part *pp = prepared;
	if (pp) {
		free(pp->calls);
		free(pp);
	}
}

static infd_status portable_probe(void *ctx, struct infd_device_info *out)
{
	memset(out, 0, sizeof *out);
	strcpy(out->name, "portable CPU kernels");
	strcpy(out->kind, "cpu");
	out->available = true;
	return INFD_OK;
}

static const struct infd_backend_ops portable_ops = {
	.name = "portable",
	.probe = portable_probe,
	.supports = portable_supports,
	.prepare = portable_prepare,
	.execute = portable_execute,
	.release = portable_release,
};

infd_status infd__backend_portable_create(const struct infd_kernel_registry *reg, struct infd_backend *out)
{
	out->ops = &portable_ops;
	out->ctx = (void *)reg;
	return INFD_OK;
}
