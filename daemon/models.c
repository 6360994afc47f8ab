/* The model registry: named models, each with one loaded instance of its
 * program shared by every session; load (every method is resolved up front, so
 * missing operators are refused at load), reload (swap the instance, sessions
 * follow once idle) and unload (refuse new work, wait for running requests,
 * give the memory back). Loop thread only, except where noted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "sample_data.h"

void infd__instance_unref(struct infd_instance *inst)
{
	if (inst && atomic_fetch_sub(&inst->refs, 1) == 1) {
		atomic_fetch_sub(inst->live, 1);
		for (uint32_t i = 0; inst->method_placement && i < inst->prog->n_methods; i++)
			free(inst->method_placement[i]);
		free(inst->method_placement);
		infd__program_close(inst->prog);
		free(inst);
	}
}

void infd__instance_method_options(const struct infd_instance *inst, struct infd_method_options *opt)
{
	opt->devices = inst->device_ptrs;
	opt->n_devices = inst->devices.n;
}

static char *placement_text(const struct infd_method *m)
{
	char buf[1024];
	size_t used = 0;
	buf[0] = '\0';
	for (uint32_t s = 0; s < m->n_steps && used < sizeof buf; s++) {
		const struct infd_step *st = &m->steps[s];
		const char *name = m->rt->backends[st->backend].ops->name;
		if (st->count == 1)
			used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s %u", s ? ", " : "", name, st->first);
		else
			used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s %u-%u", s ? ", " : "", name,
						 st->first, st->first + st->count - 1);
	}
	if (used >= sizeof buf)
		memcpy(buf + sizeof buf - 4, "...", 4);
	return strdup(m->n_steps ? buf : "(no instructions)");
}

static void note_placement(struct infd_instance *inst, const struct infd_method *m)
{
	for (uint32_t s = 0; s < m->n_steps; s++) {
		const char *name = m->rt->backends[m->steps[s].backend].ops->name;
		bool seen = false;
		for (uint32_t k = 0; k < inst->n_placement && !seen; k++)
			seen = strcmp(inst->placement[k], name) == 0;
		if (!seen && inst->n_placement < INFD_MAX_BACKENDS)
			snprintf(inst->placement[inst->n_placement++], sizeof inst->placement[0], "%s", name);
	}
}

/* Open and verify a program: every method must load on this daemon's backends,
 * placed with `devices` (NULL or empty: the configured default). */
static infd_status instance_open(struct infd_daemon *d, const char *path, const struct infd_devices *devices,
				 struct infd_instance **out, struct infd_error *err)
{
	struct infd_program *prog = NULL;
	infd_status st;
	if (strcmp(path, "builtin:sample") == 0)
		st = infd__program_open_copy(infd__sample_pte, infd__sample_pte_size, &prog, err);
	else if (path[0] != '/')
		return infd__fail(err, INFD_INVALID_ARGUMENT, "model path '%s' must be absolute (or builtin:sample)", path);
	else
		st = infd__program_read_file(path, &prog, err);
	if (st)
		return st;
	if (prog->n_methods == 0) {
		infd__program_close(prog);
		return infd__fail(err, INFD_BAD_FORMAT, "'%s' has no methods", path);
	}
	struct infd_instance *inst = calloc(1, sizeof *inst);
	if (!inst) {
		infd__program_close(prog);
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	}
	inst->devices = devices && devices->n ? *devices : d->cfg.devices;
	for (uint32_t i = 0; i < inst->devices.n; i++)
		inst->device_ptrs[i] = inst->devices.names[i];
	struct infd_method_options opt = {0};
	infd__instance_method_options(inst, &opt);
	inst->prog = prog;
	inst->method_placement = calloc(prog->n_methods, sizeof *inst->method_placement);
	if (!inst->method_placement) {
		infd__program_close(prog);
		free(inst);
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	}
	for (uint32_t i = 0; i < prog->n_methods; i++) {
		struct infd_method *m;
		st = infd__method_load(d->rt, prog, prog->methods[i].name, &opt, &m, err);
		if (st) {
			for (uint32_t k = 0; k < i; k++)
				free(inst->method_placement[k]);
			free(inst->method_placement);
			infd__program_close(prog);
			free(inst);
			return infd__fail_prefix(err, st, "'%s': ", path);
		}
		note_placement(inst, m);
		inst->method_placement[i] = placement_text(m);
		if (m->fallback_notes)
			fprintf(stderr, "infd: %s, method %s: %s", path, prog->methods[i].name, m->fallback_notes);
		infd__method_free(m);
	}
	atomic_init(&inst->refs, 1);
	inst->live = &d->live_instances;
	atomic_fetch_add(inst->live, 1);
	snprintf(inst->path, sizeof inst->path, "%s", path);
	*out = inst;
	return INFD_OK;
}

struct infd_model *infd__model_find(struct infd_daemon *d, const char *name)
{
	for (struct infd_model *m = d->models; m; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

infd_status infd__model_load(struct infd_daemon *d, const char *name, const char *path,
			     const struct infd_devices *devices, struct infd_model **out,
			     struct infd_error *err)
{
	if (!name[0] || strlen(name) >= sizeof((struct infd_model *)0)->name)
		return infd__fail(err, INFD_INVALID_ARGUMENT, "model names are 1 to 63 characters");
	struct infd_model *existing = infd__model_find(d, name);
	if (existing)
		return infd__fail(err, INFD_INVALID_ARGUMENT, "a model named '%s' is already loaded (from %s)", name,
				  existing->inst->path);
	struct infd_instance *inst;
	infd_status st = instance_open(d, path, devices, &inst, err);
	if (st)
		return st;
	struct infd_model *m = calloc(1, sizeof *m);
	if (!m) {
		infd__instance_unref(inst);
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	}
	snprintf(m->name, sizeof m->name, "%s", name);
	inst->generation = 1;
	m->inst = inst;
	atomic_init(&m->inflight, 0);
	infd__stats_init(&m->stats);
	m->next = d->models;
	d->models = m;
	if (out)
		*out = m;
	return INFD_OK;
}

infd_status infd__model_reload(struct infd_daemon *d, struct infd_model *m, struct infd_error *err)
{
	struct infd_instance *inst;
	infd_status st = instance_open(d, m->inst->path, &m->inst->devices, &inst, err);
	if (st)
		return st;
	pthread_mutex_lock(&d->session_lock);
	struct infd_instance *old = m->inst;
	inst->generation = old->generation + 1;
	m->inst = inst;
	for (struct infd_session *s = d->sessions; s; s = s->next) {
		if (s->model != m)
			continue;
		atomic_store(&s->migrate_pending, true);
		bool idle = false;
		if (atomic_compare_exchange_strong(&s->busy, &idle, true)) {
			infd__session_migrate(s);
			atomic_store(&s->busy, false);
		}
		/* else: the worker finishing its request migrates it */
	}
	pthread_mutex_unlock(&d->session_lock);
	infd__instance_unref(old);
	return INFD_OK;
}

void infd__model_begin_unload(struct infd_daemon *d, struct infd_model *m)
{
	m->state = INFD_MODEL_UNLOADING;
	infd__model_check_unloads(d);
}

static void model_free(struct infd_model *m)
{
	infd__instance_unref(m->inst);
	infd__stats_destroy(&m->stats);
	free(m);
}

static bool model_idle(struct infd_daemon *d, struct infd_model *m)
{
	if (atomic_load(&m->inflight) != 0)
		return false;
	for (struct infd_session *s = d->sessions; s; s = s->next)
		if (s->model == m && atomic_load(&s->busy))
			return false;
	return true;
}

void infd__model_check_unloads(struct infd_daemon *d)
{
	struct infd_model **pp = &d->models;
	while (*pp) {
		struct infd_model *m = *pp;
		if (m->state != INFD_MODEL_UNLOADING || !model_idle(d, m)) {
			pp = &m->next;
			continue;
		}
		struct infd_session *s = d->sessions, *next;
		for (; s; s = next) {
			next = s->next;
			if (s->model == m)
				infd__session_close(d, s);
		}
		*pp = m->next;
		if (m->pending_unload)
			infd__reply_json(m->pending_unload, INFD_MSG_UNLOAD, json_object());
		infd__notify("STATUS=unloaded model %s", m->name);
		model_free(m);
	}
}

json_t *infd__model_json(struct infd_daemon *d, const struct infd_model *m, bool methods)
{
	const struct infd_program *prog = m->inst->prog;
	uint64_t planned = 0;
	json_t *placement = json_array(), *devices = json_array();
	for (uint32_t b = 0; b < m->inst->n_placement; b++)
		json_array_append_new(placement, json_string(m->inst->placement[b]));
	for (uint32_t b = 0; b < m->inst->devices.n; b++)
		json_array_append_new(devices, json_string(m->inst->devices.names[b]));
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:I, s:o, s:o}", "name", m->name, "path", m->inst->path,
			      "state", m->state == INFD_MODEL_READY ? "ready" : "unloading", "file_bytes",
			      (json_int_t)prog->size, "constant_bytes", (json_int_t)prog->constant_segment_bytes,
			      "sessions", m->n_sessions, "generation", (json_int_t)m->inst->generation, "placement",
			      placement, "stats", infd__stats_json((struct infd_stats *)&m->stats));
	json_object_set_new(o, "devices", devices);
	json_t *ms = json_array();
	for (uint32_t i = 0; i < prog->n_methods; i++) {
		const struct infd_method_def *md = &prog->methods[i];
		for (uint32_t k = 0; k < md->n_buffers; k++)
			planned += md->buffer_sizes[k];
		if (!methods) {
			json_array_append_new(ms, json_string(md->name));
			continue;
		}
		json_t *io[2] = {json_array(), json_array()};
		for (int side = 0; side < 2; side++) {
			uint32_t n = side ? md->n_outputs : md->n_inputs;
			const int32_t *idx = side ? md->outputs : md->inputs;
			for (uint32_t k = 0; k < n; k++) {
				const struct infd_value_def *v = &md->values[idx[k]];
				if (v->kind != INFD_VALUE_TENSOR) {
					json_array_append_new(io[side], json_pack("{s:s}", "kind", infd__value_kind_name(v->kind)));
					continue;
				}
				json_t *shape = json_array();
				for (uint32_t r = 0; r < v->u.tensor->rank; r++)
					json_array_append_new(shape, json_integer(v->u.tensor->sizes[r]));
				json_array_append_new(io[side], json_pack("{s:s, s:o, s:I}", "dtype",
									  infd_dtype_name(v->u.tensor->dtype), "shape", shape,
									  "nbytes", (json_int_t)v->u.tensor->nbytes));
			}
		}
		json_array_append_new(ms, json_pack("{s:s, s:o, s:o, s:s}", "name", md->name, "inputs", io[0], "outputs",
						    io[1], "placement",
						    m->inst->method_placement[i] ? m->inst->method_placement[i] : "?"));
	}
	json_object_set_new(o, "methods", ms);
	json_object_set_new(o, "planned_bytes_per_session", json_integer((json_int_t)planned));
	return o;
}

void infd__models_free(struct infd_daemon *d)
{
	while (d->models) {
		struct infd_model *m = d->models;
		d->models = m->next;
		model_free(m);
	}
}
