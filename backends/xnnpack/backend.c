/* The XNNPACK backend: runs of supported ExecuTorch operators (lower.c) and
 * `XnnpackBackend` delegate payloads (payload.c) become backend graphs, compiled
 * into plans (plan.c). Plans are shared: every method instance of one program
 * (one per client session) uses the same packed weights, one execution at a
 * time; each instance binds its own tensors. */
#include <pthread.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "backends/factories.h"
#include "backends/xnnpack/lower.h"
#include "backends/xnnpack/payload.h"
#include "backends/xnnpack/xgraph.h"

/* One compiled partition, shared by the method instances of one program. */
struct xshared {
	struct xshared *next;
	/* key */
	const struct infd_program *prog;
	const struct infd_method_def *method;
	uint32_t chain, first, n_instrs;
	uint32_t refs; /* under the backend's lock */
	pthread_mutex_t run; /* one execution at a time: binding + invoke */
	struct infd_xgraph g;
	struct infd_xplan *plan;
	uint32_t n_ext;
	int32_t *ext;        /* method value bound to each external */
	uint64_t *ext_bytes; /* bytes each external must have */
	uint8_t *ext_dtype;  /* infd dtype each external must have */
	void **ptrs;         /* scratch for one execution's bindings */
};

/* What prepare hands back: a shared partition seen from one method instance.
 * (`sh` comes first: test_xgraph compares it across instances.) */
struct xprepared {
	struct xshared *sh;
	struct infd_evalue *values;
};

struct xbackend {
	struct infd_runtime *rt;
	pthread_mutex_t lock; /* the cache */
	struct xshared *cache;
};

static void shared_free(struct xshared *sh)
{
	infd__xplan_free(sh->plan);
	infd__xgraph_free(&sh->g);
	pthread_mutex_destroy(&sh->run);
	free(sh->ext);
	free(sh->ext_bytes);
	free(sh->ext_dtype);
	free(sh->ptrs);
	free(sh);
}

static const char *dtype_word(uint8_t dt)
{
	return dt == INFD_DTYPE_FLOAT32 ? "float32" : dt == INFD_DTYPE_INT32 ? "int32" : "other";
}

/* Build the graph of a partition and the method value bound to each external. */
static infd_status build_graph(const struct infd_partition_desc *part, struct xshared *sh, struct infd_error *err)
{
	infd_status st;
	if (part->delegate) {
		const struct infd_delegate_def *d = part->delegate;
		const struct infd_instr_def *in = part->instrs[0];
		if ((st = infd__xpayload_decode(part->program, d->payload, d->payload_size, &sh->g, err)))
			return st;
		if (sh->g.n_externals > in->n_args)
			return infd__fail(err, INFD_BAD_FORMAT,
					  "the XnnpackBackend payload has %u external values, the DelegateCall passes %u "
					  "arguments",
					  sh->g.n_externals, in->n_args);
		sh->ext = malloc((sh->g.n_externals ? sh->g.n_externals : 1) * sizeof *sh->ext);
		if (!sh->ext)
			return infd__fail(err, INFD_NO_MEMORY, "out of memory");
		for (uint32_t k = 0; k < sh->g.n_externals; k++)
			sh->ext[k] = in->args[k];
	} else {
		if ((st = infd__xlower_partition(part, &sh->g, &sh->ext, err)))
			return st;
	}
	sh->n_ext = sh->g.n_externals;
	return INFD_OK;
}

/* Expected size and dtype of each external, checked against the method's tensors. */
static infd_status check_externals(const struct infd_partition_desc *part, struct xshared *sh, struct infd_error *err)
{
	size_t n = sh->n_ext ? sh->n_ext : 1;
	sh->ext_bytes = calloc(n, sizeof *sh->ext_bytes);
	sh->ext_dtype = calloc(n, sizeof *sh->ext_dtype);
	sh->ptrs = calloc(n, sizeof *sh->ptrs);
	if (!sh->ext_bytes || !sh->ext_dtype || !sh->ptrs)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	for (uint32_t v = 0; v < sh->g.n_values; v++) {
		const struct infd_xvalue *xv = &sh->g.values[v];
		if (!xv->flags)
			continue;
		uint64_t bytes = 4;
		for (uint32_t i = 0; i < xv->rank; i++)
			bytes *= xv->dims[i];
		sh->ext_bytes[xv->external] = bytes;
		sh->ext_dtype[xv->external] = xv->dtype == INFD_XDT_INT32 ? INFD_DTYPE_INT32 : INFD_DTYPE_FLOAT32;
	}
	for (uint32_t k = 0; k < sh->n_ext; k++) {
		int32_t mv = sh->ext[k];
		if (mv < 0 || (uint32_t)mv >= part->method->n_values || part->values[mv].kind != INFD_VALUE_TENSOR)
			return infd__fail(err, INFD_BAD_FORMAT, "external %u of the graph is bound to value %d, not a tensor", k,
					  mv);
		const struct infd_tensor *t = part->values[mv].u.t;
		if (t->dtype != sh->ext_dtype[k])
			return infd__fail(err, INFD_BAD_FORMAT, "external %u (value %d) is %s, the graph expects %s", k, mv,
					  dtype_word((uint8_t)t->dtype), dtype_word(sh->ext_dtype[k]));
		if (t->def && t->def->dynamism == INFD_SHAPE_STATIC && t->nbytes != sh->ext_bytes[k])
			return infd__fail(err, INFD_BAD_FORMAT,
					  "external %u (value %d) has %llu bytes, the graph expects %llu", k, mv,
					  (unsigned long long)t->nbytes, (unsigned long long)sh->ext_bytes[k]);
	}
	return INFD_OK;
}

static infd_status shared_create(const struct infd_partition_desc *part, struct xshared **out, struct infd_error *err)
{
	struct xshared *sh = calloc(1, sizeof *sh);
	if (!sh)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	infd__xgraph_init(&sh->g);
	if (pthread_mutex_init(&sh->run, NULL) != 0) {
		free(sh);
		return infd__fail(err, INFD_NO_MEMORY, "cannot create a mutex");
	}
	sh->prog = part->program;
	sh->method = part->method;
	sh->chain = part->chain;
	sh->first = part->first;
	sh->n_instrs = part->n_instrs;
	sh->refs = 1;
	infd_status st = build_graph(part, sh, err);
	if (!st)
		st = infd__xgraph_validate(&sh->g, err);
	if (!st)
		st = check_externals(part, sh, err);
	if (!st)
		st = infd__xplan_compile(&sh->g, part->threadpool, &sh->plan, err);
	if (st) {
		shared_free(sh);
		return st;
	}
	*out = sh;
	return INFD_OK;
}

static infd_status xnn_prepare(void *ctx, const struct infd_partition_desc *part, void **prepared,
			       struct infd_error *err)
{
	struct xbackend *be = ctx;
	struct xprepared *h = calloc(1, sizeof *h);
	if (!h)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	h->values = part->values;
	/* The lock is held while compiling, so that two sessions loading the same
	 * model at once pack its weights once. */
	pthread_mutex_lock(&be->lock);
	for (struct xshared *s = be->cache; s; s = s->next)
		if (s->prog == part->program && s->method == part->method && s->chain == part->chain &&
		    s->first == part->first && s->n_instrs == part->n_instrs) {
			s->refs++;
			h->sh = s;
			break;
		}
	infd_status st = INFD_OK;
	if (!h->sh) {
		st = shared_create(part, &h->sh, err);
		if (!st) {
			h->sh->next = be->cache;
			be->cache = h->sh;
		}
	}
	pthread_mutex_unlock(&be->lock);
	if (st) {
		free(h);
		return st;
	}
	*prepared = h;
	return INFD_OK;
}

static infd_status xnn_execute(void *ctx, void *prepared, struct infd_error *err)
{
	struct xprepared *h = prepared;
	struct xshared *sh = h->sh;
	infd_status st = INFD_OK;
	pthread_mutex_lock(&sh->run);
	for (uint32_t k = 0; k < sh->n_ext; k++) {
		const struct infd_tensor *t = h->values[sh->ext[k]].u.t;
		if (!t->data) {
			st = infd__fail(err, INFD_BAD_INPUT, "XNNPACK external %u (value %d) has no memory", k, sh->ext[k]);
			goto out_unlock;
		}
		if (t->nbytes != sh->ext_bytes[k]) {
			st = infd__fail(err, INFD_BAD_INPUT, "XNNPACK external %u (value %d) has %llu bytes, the graph expects %llu",
					k, sh->ext[k], (unsigned long long)t->nbytes, (unsigned long long)sh->ext_bytes[k]);
			goto out_unlock;
		}
		sh->ptrs[k] = t->data;
	}
	st = infd__xplan_execute(sh->plan, sh->ptrs, err);
out_unlock:
	pthread_mutex_unlock(&sh->run);
	return st;
}

static void xnn_release(void *ctx, void *prepared)
{
	struct xbackend *be = ctx;
	struct xprepared *h = prepared;
	if (!h)
		return;
	struct xshared *sh = h->sh, *dead = NULL;
	pthread_mutex_lock(&be->lock);
	if (--sh->refs == 0) {
		for (struct xshared **pp = &be->cache; *pp; pp = &(*pp)->next)
			if (*pp == sh) {
				*pp = sh->next;
				break;
			}
		dead = sh;
	}
	pthread_mutex_unlock(&be->lock);
	if (dead)
		shared_free(dead);
	free(h);
}

static bool xnn_supports(void *ctx, const struct infd_method_def *method, const struct infd_evalue *values,
			 const struct infd_instr_def *instr)
{
	return instr->kind == INFD_INSTR_KERNEL && infd__xlower_supports(method, values, instr);
}

static bool xnn_claims(void *ctx, const char *delegate_id)
{
	return delegate_id && strcmp(delegate_id, "XnnpackBackend") == 0;
}

static infd_status xnn_probe(void *ctx, struct infd_device_info *out)
{
	struct xbackend *be = ctx;
	size_t threads = be->rt->threadpool ? pthreadpool_get_threads_count(be->rt->threadpool) : 1;
	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "XNNPACK (2022 snapshot, %zu thread%s)", threads, threads == 1 ? "" : "s");
	snprintf(out->kind, sizeof out->kind, "cpu");
	out->available = true;
	return INFD_OK;
}

static void xnn_destroy(void *ctx)
{
	struct xbackend *be = ctx;
	if (!be)
		return;
	/* methods release their partitions before the runtime goes; anything left is freed */
	while (be->cache) {
		struct xshared *sh = be->cache;
		be->cache = sh->next;
		shared_free(sh);
	}
	pthread_mutex_destroy(&be->lock);
	free(be);
}

static const struct infd_backend_ops xnn_ops = {
	.name = "xnnpack",
	.probe = xnn_probe,
	.supports = xnn_supports,
	.claims_delegate = xnn_claims,
	.prepare = xnn_prepare,
	.execute = xnn_execute,
	.release = xnn_release,
	.destroy = xnn_destroy,
};

infd_status infd__backend_xnnpack_create(struct infd_runtime *rt, struct infd_backend *out, struct infd_error *err)
{
	/* XNNPACK refuses CPUs it has no kernels for: then the backend is skipped */
	enum xnn_status xs = xnn_initialize(NULL);
	if (xs != xnn_status_success)
		return infd__fail(err, INFD_UNSUPPORTED, "XNNPACK cannot run on this CPU (xnn_status %d)", (int)xs);
	struct xbackend *be = calloc(1, sizeof *be);
	if (!be)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	if (pthread_mutex_init(&be->lock, NULL) != 0) {
		free(be);
		return infd__fail(err, INFD_NO_MEMORY, "cannot create a mutex");
	}
	be->rt = rt;
	*out = (struct infd_backend){.ops = &xnn_ops, .ctx = be};
	return INFD_OK;
}
