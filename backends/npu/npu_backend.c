/* One NPU plugin as an infd backend: delegate calls it claims and operator calls
 * it lists become plugin instances (init at load, execute per run, destroy at
 * release); arguments travel as struct infd_npu_tensor descriptors over the
 * method's own memory. */
#include "npu.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room the plugin gets for an error message (the ABI promises at least 256). */
#define PLUGIN_ERR_MAX 1024

/* A plugin instance shared by every method instance of one program (the daemon
 * loads a method per client session): keyed by where its instruction is. */
struct shared_handle {
	struct shared_handle *next;
	const void *program, *method;
	uint32_t chain, instr;
	void *handle;
	uint32_t n_outputs, refs;
};

struct npu_backend {
	struct infd_backend_ops ops; /* ops.name points at `name` */
	pthread_mutex_t cache_lock;
	struct shared_handle *shared;
	char name[INFD_NPU_NAME_MAX + 1];
	char file[256];
	void *dl;
	const struct infd_npu_plugin *desc;
	bool serial;
	pthread_mutex_t lock;
};

/* One plugin instance: a delegate call or one operator call. */
struct npu_call {
	void *handle;
	struct shared_handle *shared; /* where the handle is kept (NULL: not yet made) */
	const char *what_kind; /* "delegate" / "operator" */
	const char *what;      /* the delegate id or the operator key */
	uint32_t n_args, n_outputs;
	const int32_t *args;            /* value indices, borrowed from the program */
	struct infd_npu_tensor *descs;  /* n_args descriptors, refilled before every run */
	uint64_t *scratch;              /* storage of scalar and list arguments */
	uint32_t *scratch_at;           /* per argument: offset (in uint64_t) into scratch */
};

struct npu_prepared {
	struct infd_evalue *values;
	uint32_t n_calls;
	struct npu_call calls[];
};

static void plugin_lock(struct npu_backend *be)
{
	if (be->serial)
		pthread_mutex_lock(&be->lock);
}

static void plugin_unlock(struct npu_backend *be)
{
	if (be->serial)
		pthread_mutex_unlock(&be->lock);
}

/* The plugin's message, or a note that it gave none. */
static const char *plugin_msg(char *msg)
{
	msg[PLUGIN_ERR_MAX - 1] = '\0';
	return msg[0] ? msg : "(the plugin gave no reason)";
}

/* ---- arguments as descriptors ------------------------------------------------ */

/* uint64_t slots argument `v` needs in scratch; false when the plugin ABI cannot
 * carry its kind (strings, tensor lists). */
static bool arg_slots(const struct infd_evalue *v, uint32_t *slots)
{
	switch (v->kind) {
	case INFD_VALUE_NULL:
	case INFD_VALUE_TENSOR:
		*slots = 0;
		return true;
	case INFD_VALUE_INT:
	case INFD_VALUE_DOUBLE:
	case INFD_VALUE_BOOL:
		*slots = 1;
		return true;
	case INFD_VALUE_INT_LIST:
		*slots = v->u.list.count;
		return true;
	case INFD_VALUE_DOUBLE_LIST:
		*slots = v->u.dlist.count;
		return true;
	case INFD_VALUE_BOOL_LIST:
		*slots = (v->u.blist.count + 7) / 8;
		return true;
	default:
		return false;
	}
}

static void tensor_desc(const struct infd_tensor *t, struct infd_npu_tensor *d, bool with_data)
{
	d->dtype = t->dtype;
	d->rank = t->rank;
	memcpy(d->sizes, t->sizes, sizeof d->sizes);
	memcpy(d->dim_order, t->dim_order, sizeof d->dim_order);
	d->flags = t->is_const ? INFD_NPU_TENSOR_CONSTANT : 0;
	d->data = with_data || t->is_const ? t->data : NULL;
	d->nbytes = t->nbytes;
	d->capacity = t->capacity > t->nbytes ? t->capacity : t->nbytes;
}

/* Fill `d` for argument `v` (whose kind arg_slots accepted); scalar and list
 * values are copied into `slot`. */
static void arg_desc(const struct infd_evalue *v, struct infd_npu_tensor *d, uint64_t *slot, bool with_data)
{
	memset(d, 0, sizeof *d);
	uint32_t n = 0;
	switch (v->kind) {
	case INFD_VALUE_NULL:
		d->dtype = INFD_NPU_DTYPE_NONE;
		return;
	case INFD_VALUE_TENSOR:
		tensor_desc(v->u.t, d, with_data);
		return;
	case INFD_VALUE_INT:
		d->dtype = INFD_DTYPE_INT64;
		memcpy(slot, &v->u.i, 8);
		break;
	case INFD_VALUE_DOUBLE:
		d->dtype = INFD_DTYPE_FLOAT64;
		memcpy(slot, &v->u.d, 8);
		break;
	case INFD_VALUE_BOOL:
		d->dtype = INFD_DTYPE_BOOL;
		*(bool *)slot = v->u.b;
		break;
	case INFD_VALUE_INT_LIST:
		d->dtype = INFD_DTYPE_INT64;
		n = v->u.list.count;
		for (uint32_t k = 0; k < n; k++) {
			int64_t x = 0;
			if (v->u.list.items[k])
				infd__evalue_to_int(v->u.list.items[k], &x);
			memcpy(&slot[k], &x, 8);
		}
		break;
	case INFD_VALUE_DOUBLE_LIST:
		d->dtype = INFD_DTYPE_FLOAT64;
		n = v->u.dlist.count;
		if (n)
			memcpy(slot, v->u.dlist.v, n * sizeof(double));
		break;
	case INFD_VALUE_BOOL_LIST:
		d->dtype = INFD_DTYPE_BOOL;
		n = v->u.blist.count;
		for (uint32_t k = 0; k < n; k++)
			((bool *)slot)[k] = v->u.blist.v[k];
		break;
	default:
		return;
	}
	bool list = v->kind == INFD_VALUE_INT_LIST || v->kind == INFD_VALUE_DOUBLE_LIST ||
		    v->kind == INFD_VALUE_BOOL_LIST;
	d->flags = INFD_NPU_TENSOR_CONSTANT | (list ? INFD_NPU_TENSOR_LIST : INFD_NPU_TENSOR_SCALAR);
	d->rank = list ? 1 : 0;
	d->sizes[0] = list ? (int32_t)n : 0;
	d->data = slot;
	d->nbytes = (list ? n : 1) * infd_dtype_size(d->dtype);
	d->capacity = d->nbytes;
}

static void call_free(struct npu_backend *be, struct npu_call *c)
{
	struct shared_handle *sh = c->shared;
	if (sh) {
		pthread_mutex_lock(&be->cache_lock);
		bool last = --sh->refs == 0;
		if (last)
			for (struct shared_handle **pp = &be->shared; *pp; pp = &(*pp)->next)
				if (*pp == sh) {
					*pp = sh->next;
					break;
				}
		pthread_mutex_unlock(&be->cache_lock);
		if (last) {
			plugin_lock(be);
			be->desc->destroy(sh->handle);
			plugin_unlock(be);
			free(sh);
		}
	} else if (c->handle) {
		plugin_lock(be);
		be->desc->destroy(c->handle);
		plugin_unlock(be);
	}
	free(c->descs);
	free(c->scratch);
	free(c->scratch_at);
}

/* Size the descriptor and scratch arrays of `c` for its arguments and fill them
 * with the load-time view. */
static infd_status call_setup(struct npu_call *c, const struct infd_evalue *values, struct infd_error *err)
{
	uint32_t total = 0;
	c->descs = calloc(c->n_args ? c->n_args : 1, sizeof *c->descs);
	c->scratch_at = calloc(c->n_args ? c->n_args : 1, sizeof *c->scratch_at);
	if (!c->descs || !c->scratch_at)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	for (uint32_t k = 0; k < c->n_args; k++) {
		uint32_t slots;
		const struct infd_evalue *v = &values[c->args[k]];
		if (!arg_slots(v, &slots))
			return infd__fail(err, INFD_UNSUPPORTED,
					  "%s '%s': argument %u (value %d) is a %s, which NPU plugins cannot take",
					  c->what_kind, c->what, k, c->args[k], infd__value_kind_name(v->kind));
		c->scratch_at[k] = total;
		total += slots;
	}
	c->scratch = calloc(total ? total : 1, sizeof *c->scratch);
	if (!c->scratch)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	for (uint32_t k = 0; k < c->n_args; k++)
		arg_desc(&values[c->args[k]], &c->descs[k], c->scratch + c->scratch_at[k], false);
	return INFD_OK;
}

/* ---- backend ops ------------------------------------------------------------- */

static infd_status npu_probe(void *ctx, struct infd_device_info *out)
{
	struct npu_backend *be = ctx;
	snprintf(out->name, sizeof out->name, "%s", be->desc->device_name ? be->desc->device_name : be->name);
	snprintf(out->kind, sizeof out->kind, "npu");
	out->available = true;
	return INFD_OK;
}

static bool listed(const char *const *list, const char *s)
{
	if (!list)
		return false;
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static bool npu_claims(void *ctx, const char *delegate_id)
{
	struct npu_backend *be = ctx;
	return listed(be->desc->delegate_ids, delegate_id);
}

static bool npu_supports(void *ctx, const struct infd_method_def *method, const struct infd_evalue *values,
			 const struct infd_instr_def *instr)
{
	struct npu_backend *be = ctx;
	const char *key = method->operators[instr->a].key;
	if (instr->n_args == 0 || !listed(be->desc->operators, key))
		return false;
	/* one output: the return slot must be a tensor that is not a constant */
	const struct infd_evalue *ret = &values[instr->args[instr->n_args - 1]];
	if (ret->kind != INFD_VALUE_TENSOR || ret->u.t->is_const)
		return false;
	struct npu_call c = {.what_kind = "operator", .what = key, .n_args = instr->n_args, .args = instr->args};
	bool ok = call_setup(&c, values, NULL) == INFD_OK;
	if (ok && be->desc->supports_operator) {
		plugin_lock(be);
		ok = be->desc->supports_operator(key, c.descs, c.n_args);
		plugin_unlock(be);
	}
	c.handle = NULL;
	call_free(be, &c);
	return ok;
}

static const void *named_data(void *ud, const char *key, uint64_t *size_out)
{
	const struct infd_program *prog = ud;
	for (uint32_t i = 0; key && i < prog->n_named; i++)
		if (strcmp(prog->named[i].key, key) == 0) {
			if (size_out)
				*size_out = prog->named[i].size;
			return prog->named[i].data;
		}
	return NULL;
}

static infd_status check_outputs(struct npu_backend *be, const struct infd_partition_desc *part,
				 struct npu_call *c, uint32_t n_outputs, struct infd_error *err);

/* The plugin instance for instruction `instr` of the partition's chain: the one
 * another method instance of the same program already made (the lane runs one
 * call at a time, and arguments travel with every execute, so sharing is safe),
 * or a new one from init. */
static infd_status call_init(struct npu_backend *be, const struct infd_partition_desc *part, uint32_t instr,
			     struct npu_call *c, struct infd_error *err)
{
	infd_status st = call_setup(c, part->values, err);
	if (st)
		return st;
	pthread_mutex_lock(&be->cache_lock);
	for (struct shared_handle *sh = be->shared; sh; sh = sh->next)
		if (sh->program == part->program && sh->method == part->method && sh->chain == part->chain &&
		    sh->instr == instr) {
			sh->refs++;
			c->shared = sh;
			c->handle = sh->handle;
			break;
		}
	pthread_mutex_unlock(&be->cache_lock);
	if (c->shared)
		return check_outputs(be, part, c, c->shared->n_outputs, err);
	const struct infd_delegate_def *del = part->delegate;
	struct infd_npu_compile_spec *specs = NULL;
	if (del && del->n_specs) {
		specs = calloc(del->n_specs, sizeof *specs);
		if (!specs)
			return infd__fail(err, INFD_NO_MEMORY, "out of memory");
		for (uint32_t k = 0; k < del->n_specs; k++)
			specs[k] = (struct infd_npu_compile_spec){
			    .key = del->specs[k].key, .value = del->specs[k].value, .size = del->specs[k].size};
	}
	struct infd_npu_init_info info = {
	    .struct_size = sizeof info,
	    .method_name = part->method->name,
	    .delegate_id = del ? del->id : NULL,
	    .payload = del ? del->payload : NULL,
	    .payload_size = del ? del->payload_size : 0,
	    .n_specs = del ? del->n_specs : 0,
	    .specs = specs,
	    .operator_key = del ? NULL : c->what,
	    .n_args = c->n_args,
	    .args = c->descs,
	    .named_data = named_data,
	    .named_data_ud = (void *)part->program,
	};
	char msg[PLUGIN_ERR_MAX] = "";
	uint32_t n_outputs = 1;
	void *handle = NULL;
	plugin_lock(be);
	int rc = be->desc->init(&info, &handle, &n_outputs, msg, sizeof msg);
	plugin_unlock(be);
	free(specs);
	if (rc != 0)
		return infd__fail(err, INFD_UNSUPPORTED, "NPU plugin '%s' (%s) refused %s '%s': %s", be->name, be->file,
				  c->what_kind, c->what, plugin_msg(msg));
	c->handle = handle;
	if (!del)
		n_outputs = 1;
	struct shared_handle *sh = calloc(1, sizeof *sh);
	if (!sh)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory"); /* call_free destroys the handle */
	*sh = (struct shared_handle){.program = part->program, .method = part->method, .chain = part->chain,
				     .instr = instr, .handle = handle, .n_outputs = n_outputs, .refs = 1};
	c->shared = sh;
	pthread_mutex_lock(&be->cache_lock);
	sh->next = be->shared;
	be->shared = sh;
	pthread_mutex_unlock(&be->cache_lock);
	return check_outputs(be, part, c, n_outputs, err);
}

static infd_status check_outputs(struct npu_backend *be, const struct infd_partition_desc *part,
				 struct npu_call *c, uint32_t n_outputs, struct infd_error *err)
{
	if (n_outputs > c->n_args)
		return infd__fail(err, INFD_UNSUPPORTED,
				  "NPU plugin '%s': %s '%s' has %u arguments but the plugin says %u are outputs",
				  be->name, c->what_kind, c->what, c->n_args, n_outputs);
	c->n_outputs = n_outputs;
	for (uint32_t k = c->n_args - n_outputs; k < c->n_args; k++) {
		const struct infd_evalue *v = &part->values[c->args[k]];
		if (v->kind != INFD_VALUE_TENSOR || v->u.t->is_const)
			return infd__fail(err, INFD_UNSUPPORTED,
					  "NPU plugin '%s': output %u of %s '%s' (value %d) is a %s, not a writable tensor",
					  be->name, k - (c->n_args - n_outputs), c->what_kind, c->what, c->args[k],
					  v->kind == INFD_VALUE_TENSOR ? "constant tensor" : infd__value_kind_name(v->kind));
	}
	return INFD_OK;
}

static void prepared_free(struct npu_backend *be, struct npu_prepared *p)
{
	for (uint32_t i = 0; i < p->n_calls; i++)
		call_free(be, &p->calls[i]);
	free(p);
}

static infd_status npu_prepare(void *ctx, const struct infd_partition_desc *part, void **prepared,
			       struct infd_error *err)
{
	struct npu_backend *be = ctx;
	struct npu_prepared *p = calloc(1, sizeof *p + part->n_instrs * sizeof p->calls[0]);
	if (!p)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	p->values = part->values;
	p->n_calls = part->n_instrs;
	for (uint32_t i = 0; i < part->n_instrs; i++) {
		const struct infd_instr_def *in = part->instrs[i];
		struct npu_call *c = &p->calls[i];
		c->args = in->args;
		c->n_args = in->n_args;
		if (in->kind == INFD_INSTR_DELEGATE) {
			c->what_kind = "delegate";
			c->what = part->delegate ? part->delegate->id : "?";
		} else {
			c->what_kind = "operator";
			c->what = part->method->operators[in->a].key;
		}
		infd_status st = call_init(be, part, part->first + i, c, err);
		if (st) {
			prepared_free(be, p);
			return st;
		}
	}
	*prepared = p;
	return INFD_OK;
}

/* Apply a shape the plugin wrote into an output descriptor. */
static infd_status take_output_shape(struct npu_backend *be, const struct npu_call *c, uint32_t k,
				     struct infd_tensor *t, const struct infd_npu_tensor *d, struct infd_error *err)
{
	if (d->rank == t->rank && memcmp(d->sizes, t->sizes, t->rank * sizeof t->sizes[0]) == 0)
		return INFD_OK;
	if (d->rank > INFD_MAX_RANK)
		return infd__fail(err, INFD_KERNEL_FAILED, "NPU plugin '%s', %s '%s': output %u has rank %u (at most %d)",
				  be->name, c->what_kind, c->what, k, d->rank, INFD_MAX_RANK);
	for (uint32_t r = 0; r < d->rank; r++)
		if (d->sizes[r] < 0)
			return infd__fail(err, INFD_KERNEL_FAILED, "NPU plugin '%s', %s '%s': output %u has size %d",
					  be->name, c->what_kind, c->what, k, d->sizes[r]);
	if (infd__tensor_resize(t, d->rank, d->sizes, err) == INFD_OK)
		return INFD_OK;
	infd__fail_prefix(err, INFD_KERNEL_FAILED, "NPU plugin '%s', %s '%s', output %u has a shape it cannot take: ",
			  be->name, c->what_kind, c->what, k);
	if (err)
		err->status = INFD_KERNEL_FAILED;
	return INFD_KERNEL_FAILED;
}

static infd_status call_execute(struct npu_backend *be, struct npu_call *c, const struct infd_evalue *values,
				struct infd_error *err)
{
	for (uint32_t k = 0; k < c->n_args; k++) {
		const struct infd_evalue *v = &values[c->args[k]];
		arg_desc(v, &c->descs[k], c->scratch + c->scratch_at[k], true);
		if (v->kind == INFD_VALUE_TENSOR && !v->u.t->data && v->u.t->nbytes)
			return infd__fail(err, INFD_BAD_INPUT, "%s '%s': argument %u (value %d) has no data", c->what_kind,
					  c->what, k, c->args[k]);
	}
	uint32_t n_in = c->n_args - c->n_outputs;
	char msg[PLUGIN_ERR_MAX] = "";
	plugin_lock(be);
	int rc = be->desc->execute(c->handle, c->descs, n_in, c->descs + n_in, c->n_outputs, msg, sizeof msg);
	plugin_unlock(be);
	if (rc != 0)
		return infd__fail(err, INFD_KERNEL_FAILED, "NPU plugin '%s' failed to run %s '%s': %s", be->name,
				  c->what_kind, c->what, plugin_msg(msg));
	for (uint32_t k = 0; k < c->n_outputs; k++) {
		struct infd_tensor *t = values[c->args[n_in + k]].u.t;
		infd_status st = take_output_shape(be, c, k, t, &c->descs[n_in + k], err);
		if (st)
			return st;
	}
	return INFD_OK;
}

static infd_status npu_execute(void *ctx, void *prepared, struct infd_error *err)
{
	struct npu_backend *be = ctx;
	struct npu_prepared *p = prepared;
	for (uint32_t i = 0; i < p->n_calls; i++) {
		infd_status st = call_execute(be, &p->calls[i], p->values, err);
		if (st)
			return st;
	}
	return INFD_OK;
}

static void npu_release(void *ctx, void *prepared)
{
	if (prepared)
		prepared_free(ctx, prepared);
}

static void npu_destroy(void *ctx)
{
	struct npu_backend *be = ctx;
	if (!be)
		return;
	if (be->desc->unload)
		be->desc->unload();
	dlclose(be->dl);
	pthread_mutex_destroy(&be->lock);
	pthread_mutex_destroy(&be->cache_lock);
	free(be);
}

infd_status infd__npu_backend_create(void *dl, const struct infd_npu_plugin *desc, const char *file,
				     struct infd_backend *out, struct infd_error *err)
{
	struct npu_backend *be = calloc(1, sizeof *be);
	if (!be)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	if (pthread_mutex_init(&be->lock, NULL) != 0 || pthread_mutex_init(&be->cache_lock, NULL) != 0) {
		free(be);
		return infd__fail(err, INFD_NO_MEMORY, "cannot create a mutex");
	}
	snprintf(be->name, sizeof be->name, "%s", desc->name);
	snprintf(be->file, sizeof be->file, "%s", file);
	be->dl = dl;
	be->desc = desc;
	be->serial = (desc->flags & INFD_NPU_PLUGIN_SERIAL) != 0;
	be->ops = (struct infd_backend_ops){
	    .name = be->name,
	    .probe = npu_probe,
	    .supports = npu_supports,
	    .claims_delegate = npu_claims,
	    .prepare = npu_prepare,
	    .execute = npu_execute,
	    .release = npu_release,
	    .destroy = npu_destroy,
	    .own_lane = true, /* one queue per NPU: runs reach the plugin one at a time, in order */
	};
	*out = (struct infd_backend){.ops = &be->ops, .ctx = be};
	return INFD_OK;
}
