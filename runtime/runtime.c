/* The runtime object: the kernel registry and the backends, in preference order,
 * that loaded methods are placed on. */
#include "runtime.h"

#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void infd__runtime_options_default(struct infd_runtime_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->n_threads = 1;
}

infd_status infd__runtime_create(const struct infd_runtime_options *opt, struct infd_runtime **out,
				 struct infd_error *err)
{
	struct infd_runtime *rt = calloc(1, sizeof *rt);
	if (!rt)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	if (opt)
		rt->opt = *opt;
	else
		infd__runtime_options_default(&rt->opt);
	if (rt->opt.n_threads == 0)
		rt->opt.n_threads = 1;
	infd_status st = INFD_OK;
	if (rt->opt.n_threads > 1) {
		rt->threadpool = pthreadpool_create(rt->opt.n_threads);
		if (!rt->threadpool)
			st = INFD_NO_MEMORY;
	}
	if (st == INFD_OK)
		st = infd__registry_create(&rt->registry);
	if (st == INFD_OK)
		st = infd__registry_add(rt->registry, infd__portable_kernels, infd__portable_kernel_count);
	if (st == INFD_OK)
		st = infd__backend_portable_create(rt->registry, &rt->backends[0]);
	if (st) {
		infd__runtime_destroy(rt);
		return infd__fail(err, st, "cannot set up the portable kernels: %s", infd_strerror(st));
	}
	rt->n_backends = 1;
	snprintf(rt->kinds[0], sizeof rt->kinds[0], "cpu");
	*out = rt;
	return INFD_OK;
}

infd_status infd__runtime_add_backend(struct infd_runtime *rt, struct infd_backend be)
{
	if (rt->n_backends >= INFD_MAX_BACKENDS)
		return INFD_NO_MEMORY;
	struct infd_lane *lane = NULL;
	memmove(&rt->backends[1], &rt->backends[0], rt->n_backends * sizeof rt->backends[0]);
	memmove(&rt->kinds[1], &rt->kinds[0], rt->n_backends * sizeof rt->kinds[0]);
	memmove(&rt->lanes[1], &rt->lanes[0], rt->n_backends * sizeof rt->lanes[0]);
	rt->backends[0] = be;
	rt->lanes[0] = NULL;
	if (be.ops->own_lane) {
		struct infd_error err;
		if (infd__lane_start(be, &lane, &err) != INFD_OK) {
			memmove(&rt->backends[0], &rt->backends[1], rt->n_backends * sizeof rt->backends[0]);
			memmove(&rt->kinds[0], &rt->kinds[1], rt->n_backends * sizeof rt->kinds[0]);
			memmove(&rt->lanes[0], &rt->lanes[1], rt->n_backends * sizeof rt->lanes[0]);
			return INFD_NO_MEMORY;
		}
		rt->lanes[0] = lane;
	}
	struct infd_device_info info = {.available = true};
	snprintf(info.kind, sizeof info.kind, "cpu");
	if (be.ops->probe)
		be.ops->probe(be.ctx, &info);
	snprintf(rt->kinds[0], sizeof rt->kinds[0], "%s", info.kind);
	rt->n_backends++;
	return INFD_OK;
}

bool infd__runtime_backend_is(const struct infd_runtime *rt, uint32_t b, const char *device)
{
	return strcmp(device, rt->backends[b].ops->name) == 0 || strcmp(device, rt->kinds[b]) == 0;
}

void infd__runtime_destroy(struct infd_runtime *rt)
{
	if (!rt)
		return;
	for (uint32_t i = 0; i < rt->n_backends; i++)
		infd__lane_stop(rt->lanes[i]);
	for (uint32_t i = 0; i < rt->n_backends; i++)
		if (rt->backends[i].ops->destroy)
			rt->backends[i].ops->destroy(rt->backends[i].ctx);
	infd__registry_destroy(rt->registry);
	if (rt->threadpool)
		pthreadpool_destroy(rt->threadpool);
	free(rt);
}
