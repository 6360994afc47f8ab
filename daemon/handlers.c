/* Request handlers, run on the loop thread: decode, check permission, act, reply.
 * Every request gets a reply — a result, or a status with a message saying why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include "daemon.h"

enum perm { PERM_NONE = 0, PERM_RUN = 1, PERM_LOAD = 2, PERM_ADMIN = 3 };

static enum perm perm_of(const struct infd_daemon *d, uid_t uid, gid_t gid)
{
	if (infd__acl_allows(&d->cfg.admin, uid, gid))
		return PERM_ADMIN;
	if (infd__acl_allows(&d->cfg.load, uid, gid))
		return PERM_LOAD;
	if (infd__acl_allows(&d->cfg.run, uid, gid))
		return PERM_RUN;
	return PERM_NONE;
}

static const char *perm_name(enum perm p)
{
	static const char *names[] = {"none", "run", "load", "admin"};
	return names[p];
}

static json_t *perm_list(enum perm p)
{
	json_t *a = json_array();
	for (int k = PERM_RUN; k <= (int)p; k++)
		json_array_append_new(a, json_string(perm_name((enum perm)k)));
	return a;
}

static uint64_t elapsed_ns(const struct infd_daemon *d)
{
	return infd__now_ns() - d->started_ns;
}

static json_t *devices_json(const struct infd_daemon *d)
{
	json_t *a = json_array();
	for (uint32_t b = 0; b < d->rt->n_backends; b++) {
		const struct infd_backend *be = &d->rt->backends[b];
		struct infd_device_info info = {.available = true};
		snprintf(info.name, sizeof info.name, "%s", be->ops->name);
		snprintf(info.kind, sizeof info.kind, "cpu");
		if (be->ops->probe)
			be->ops->probe(be->ctx, &info);
		json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b}", "backend", be->ops->name, "name", info.name, "kind",
				      info.kind, "available", info.available, "software", info.software);
		if (d->rt->lanes[b]) {
			struct infd_lane_stats ls;
			infd__lane_stats(d->rt->lanes[b], &ls);
			json_object_set_new(o, "lane", json_pack("{s:I, s:f, s:i, s:i}", "runs", (json_int_t)ls.runs, "busy_ms",
								 (double)ls.busy_ns / 1e6, "queued", (int)ls.queued,
								 "max_queued", (int)ls.max_queued));
		}
		json_array_append_new(a, o);
	}
	return a;
}

static void handle_run(struct infd_daemon *d, struct infd_conn *c, const uint8_t *body, size_t len, enum perm p)
{
	struct infd_run_request rq;
	char why[256];
	infd_status st = infd__proto_get_run_request(body, len, &rq, why, sizeof why);
	if (st) {
		infd__reply_status(c, INFD_MSG_RUN, st, "%s", why);
		return;
	}
	struct infd_session *s = infd__session_find(d, rq.session);
	if (!s) {
		infd__reply_status(c, INFD_MSG_RUN, INFD_NOT_FOUND, "no session %llu", (unsigned long long)rq.session);
		return;
	}
	if (s->uid != c->uid && p != PERM_ADMIN) {
		infd__reply_status(c, INFD_MSG_RUN, INFD_PERMISSION_DENIED, "session %llu belongs to another user",
				   (unsigned long long)rq.session);
		return;
	}
	if (s->model->state != INFD_MODEL_READY || d->shutting_down) {
		infd__reply_status(c, INFD_MSG_RUN, INFD_SHUTTING_DOWN, "model '%s' is being unloaded", s->model->name);
		return;
	}
	bool idle = false;
	/* The doorbell's answer is published a moment before busy clears: when the
	 * last doorbell request is answered, wait out that moment. */
	for (int spin = 0; spin < 2000 && atomic_load(&s->busy) &&
			   atomic_load((_Atomic uint32_t *)&s->ctrl->done_seq) ==
				   atomic_load((_Atomic uint32_t *)&s->ctrl->req_seq);
	     spin++)
		sched_yield();
	if (!atomic_compare_exchange_strong(&s->busy, &idle, true)) {
		infd__stats_count_busy(&s->stats);
		infd__reply_status(c, INFD_MSG_RUN, INFD_BUSY, "session %llu is already running a request",
				   (unsigned long long)rq.session);
		return;
	}
	struct infd_job *job = calloc(1, sizeof *job);
	if (!job) {
		atomic_store(&s->busy, false);
		infd__reply_status(c, INFD_MSG_RUN, INFD_NO_MEMORY, "out of memory");
		return;
	}
	job->session = s;
	job->conn = c;
	job->priority = rq.priority;
	if (rq.timeout_ms)
		job->deadline_ns = infd__now_ns() + (uint64_t)rq.timeout_ms * 1000000u;
	c->deferred = true;
	st = infd__sched_submit(d, job);
	if (st) {
		free(job);
		atomic_store(&s->busy, false);
		c->deferred = false;
		if (st == INFD_BUSY)
			infd__stats_count_busy(&s->model->stats);
		if (st == INFD_BUSY)
			infd__reply_status(c, INFD_MSG_RUN, st, "the queue is full (queue_depth %u)", d->cfg.queue_depth);
		else
			infd__reply_status(c, INFD_MSG_RUN, st, "the daemon is shutting down");
	}
}

bool infd__handle_run_fast(struct infd_daemon *d, struct infd_conn *c)
{
	const uint8_t *data = nng_msg_body(c->msg);
	size_t size = nng_msg_len(c->msg);
	struct infd_msg_header h;
	struct infd_run_request rq;
	char why[256];
	if (d->shutting_down || infd__proto_get_header(data, size, &h, why, sizeof why) || h.type != INFD_MSG_RUN ||
	    infd__proto_get_run_request(data + INFD_PROTO_HEADER_SIZE, h.length, &rq, why, sizeof why))
		return false;
	struct infd_job *job = calloc(1, sizeof *job);
	if (!job)
		return false;
	bool taken = false;
	pthread_mutex_lock(&d->session_lock);
	struct infd_session *s = infd__session_find(d, rq.session);
	bool idle = false;
	if (s && s->uid == c->uid && s->model->state == INFD_MODEL_READY &&
	    atomic_compare_exchange_strong(&s->busy, &idle, true))
		taken = true;
	pthread_mutex_unlock(&d->session_lock);
	if (!taken) {
		free(job);
		return false;
	}
	/* busy now keeps the session alive until the job is done. */
	job->session = s;
	job->conn = c;
	job->priority = rq.priority;
	if (rq.timeout_ms)
		job->deadline_ns = infd__now_ns() + (uint64_t)rq.timeout_ms * 1000000u;
	if (infd__sched_submit(d, job) != INFD_OK) {
		atomic_store(&s->busy, false);
		free(job);
		return false; /* the loop answers BUSY or SHUTTING_DOWN */
	}
	nng_msg_free(c->msg);
	c->msg = NULL;
	return true;
}

void infd__handle_job_done(struct infd_daemon *d, struct infd_job *job)
{
	struct infd_conn *c = job->conn;
	if (job->status) {
		infd__reply_status(c, INFD_MSG_RUN, job->status, "%s", job->error);
	} else {
		uint8_t buf[INFD_PROTO_HEADER_SIZE + INFD_RUN_REPLY_SIZE];
		struct infd_run_reply r = {.exec_ns = job->finished_ns - job->started_ns,
					   .queue_ns = job->started_ns - job->enqueued_ns,
					   .sequence = job->sequence};
		infd__proto_put_header(buf, INFD_MSG_RUN, INFD_OK, INFD_RUN_REPLY_SIZE);
		infd__proto_put_run_reply(buf + INFD_PROTO_HEADER_SIZE, &r);
		nng_msg *msg;
		if (nng_msg_alloc(&msg, 0) == 0 && nng_msg_append(msg, buf, sizeof buf) == 0) {
			c->sending = true;
			nng_aio_set_msg(c->aio, msg);
			nng_ctx_send(c->ctx, c->aio);
		}
	}
	free(job);
}

static bool need(struct infd_conn *c, uint32_t type, enum perm have, enum perm want)
{
	if (have >= want)
		return true;
	infd__reply_status(c, type, INFD_PERMISSION_DENIED, "%s needs the '%s' permission; uid %d has '%s'",
			   infd__msg_name(type), perm_name(want), (int)c->uid, perm_name(have));
	return false;
}

static void handle_json(struct infd_daemon *d, struct infd_conn *c, uint32_t type, json_t *req, enum perm p)
{
	char why[512];
	const char *name = NULL, *path = NULL, *method = NULL;
	struct infd_error err = {0};
	struct infd_model *m = NULL;
	infd_status st;
	switch (type) {
	case INFD_MSG_HELLO: {
		int64_t ver = INFD_PROTO_VERSION;
		if (infd__proto_int(req, "version", false, 0, 65535, &ver, why, sizeof why)) {
			infd__reply_status(c, type, INFD_PROTOCOL, "%s", why);
			return;
		}
		if (ver != INFD_PROTO_VERSION) {
			infd__reply_status(c, type, INFD_VERSION_MISMATCH,
					   "client speaks protocol %lld, this daemon speaks %d", (long long)ver,
					   INFD_PROTO_VERSION);
			return;
		}
		infd__reply_json(c, type,
				 json_pack("{s:s, s:i, s:i, s:i, s:o}", "daemon", INFD_VERSION_STRING, "protocol",
					   INFD_PROTO_VERSION, "pid", (int)getpid(), "uid", (int)c->uid, "permissions",
					   perm_list(p)));
		return;
	}
	case INFD_MSG_STATUS:
		if (!need(c, type, p, PERM_RUN))
			return;
		{
			uint32_t n_models = 0;
			for (m = d->models; m; m = m->next)
				n_models++;
			infd__reply_json(c, type,
					 json_pack("{s:i, s:s, s:i, s:f, s:s, s:s, s:i, s:i, s:i, s:o, s:i, s:i, s:i}",
						   "listener_revivals", (int)d->listener_revivals, "daemon",
						   INFD_VERSION_STRING, "pid", (int)getpid(), "uptime_s",
						   (double)elapsed_ns(d) / 1e9, "socket", d->socket_path, "config",
						   d->cfg.source, "models", n_models, "instances",
						   atomic_load(&d->live_instances), "sessions", d->n_sessions, "devices",
						   devices_json(d), "workers", d->n_workers, "threads", d->cfg.threads,
						   "queue_depth", infd__sched_depth(d)));
		}
		return;
	case INFD_MSG_LIST_MODELS:
		if (!need(c, type, p, PERM_RUN))
			return;
		{
			json_t *a = json_array();
			for (m = d->models; m; m = m->next)
				json_array_append_new(a, infd__model_json(d, m, false));
			infd__reply_json(c, type, json_pack("{s:o}", "models", a));
		}
		return;
	case INFD_MSG_STATS:
		if (!need(c, type, p, PERM_RUN))
			return;
		if (infd__proto_str(req, "model", false, &name, why, sizeof why)) {
			infd__reply_status(c, type, INFD_PROTOCOL, "%s", why);
			return;
		}
		if (name && !infd__model_find(d, name)) {
			infd__reply_status(c, type, INFD_UNKNOWN_MODEL, "no model named '%s' is loaded", name);
			return;
		}
		{
			json_t *models = json_array(), *sessions = json_array();
			for (m = d->models; m; m = m->next)
				if (!name || strcmp(name, m->name) == 0)
					json_array_append_new(models, infd__model_json(d, m, false));
			for (struct infd_session *s = d->sessions; s; s = s->next)
				if (!name || strcmp(name, s->model->name) == 0)
					json_array_append_new(sessions, infd__session_json(s, false));
			infd__reply_json(c, type,
					 json_pack("{s:f, s:o, s:o, s:{s:i, s:i, s:I, s:I}}", "uptime_s",
						   (double)elapsed_ns(d) / 1e9, "models", models, "sessions", sessions,
						   "queue", "depth", infd__sched_depth(d), "max_depth", d->cfg.queue_depth,
						   "submitted", (json_int_t)d->queue.submitted, "rejected",
						   (json_int_t)d->queue.rejected));
		}
		return;
	case INFD_MSG_CONFIG_GET:
		if (!need(c, type, p, PERM_ADMIN))
			return;
		{
			char *text = infd__config_to_json(&d->cfg);
			json_t *cfg = text ? json_loads(text, 0, NULL) : NULL;
			free(text);
			infd__reply_json(c, type, json_pack("{s:o, s:s}", "config", cfg ? cfg : json_object(), "source",
							    d->cfg.source));
		}
		return;
	case INFD_MSG_CONFIG_CHECK:
		if (!need(c, type, p, PERM_ADMIN))
			return;
		if (infd__proto_str(req, "text", true, &path, why, sizeof why)) {
			infd__reply_status(c, type, INFD_PROTOCOL, "%s", why);
			return;
		}
		{
			struct infd_config *tmp = malloc(sizeof *tmp);
			if (!tmp) {
				infd__reply_status(c, type, INFD_NO_MEMORY, "out of memory");
				return;
			}
			st = infd__config_parse(path, "(checked text)", tmp, &err);
			free(tmp);
			if (st)
				infd__reply_status(c, type, st, "%s", err.msg);
			else
				infd__reply_json(c, type, json_pack("{s:b}", "ok", 1));
		}
		return;
	default:
		break;
	}

	/* The rest name a model. */
	if (type != INFD_MSG_CLOSE_SESSION &&
	    infd__proto_str(req, "model", true, &name, why, sizeof why)) {
		infd__reply_status(c, type, INFD_PROTOCOL, "%s", why);
		return;
	}
	if (name && type != INFD_MSG_LOAD) {
		m = infd__model_find(d, name);
		if (!m) {
			infd__reply_status(c, type, INFD_UNKNOWN_MODEL, "no model named '%s' is loaded", name);
			return;
		}
	}
	switch (type) {
	case INFD_MSG_MODEL_INFO:
		if (need(c, type, p, PERM_RUN))
			infd__reply_json(c, type, infd__model_json(d, m, true));
		return;
	case INFD_MSG_LOAD:
		if (!need(c, type, p, PERM_LOAD))
			return;
		if (infd__proto_str(req, "path", true, &path, why, sizeof why)) {
			infd__reply_status(c, type, INFD_PROTOCOL, "%s", why);
			return;
		}
		if (d->shutting_down) {
			infd__reply_status(c, type, INFD_SHUTTING_DOWN, "the daemon is shutting down");
			return;
		}
		struct infd_devices devs = {0};
		json_t *jd = json_object_get(req, "devices");
		if (jd) {
			size_t i;
			json_t *it;
			if (!json_is_array(jd) || json_array_size(jd) > INFD_CONFIG_MAX_DEVICES) {
				infd__reply_status(c, type, INFD_PROTOCOL, "'devices' must be a list of at most %d names",
						   INFD_CONFIG_MAX_DEVICES);
				return;
			}
			json_array_foreach(jd, i, it)
			{
				if (!json_is_string(it) || json_string_length(it) == 0 ||
				    json_string_length(it) >= sizeof devs.names[0]) {
					infd__reply_status(c, type, INFD_PROTOCOL, "'devices[%zu]' must be a backend name or device kind", i);
					return;
				}
				snprintf(devs.names[devs.n++], sizeof devs.names[0], "%s", json_string_value(it));
			}
		}
		st = infd__model_load(d, name, path, &devs, &m, &err);
		if (st)
			infd__reply_status(c, type, st, "%s", err.msg);
		else
			infd__reply_json(c, type, infd__model_json(d, m, true));
		return;
	case INFD_MSG_UNLOAD:
		if (!need(c, type, p, PERM_LOAD))
			return;
		if (m->state != INFD_MODEL_READY) {
			infd__reply_status(c, type, INFD_SHUTTING_DOWN, "model '%s' is already being unloaded", name);
			return;
		}
		c->deferred = true;
		m->pending_unload = c;
		infd__model_begin_unload(d, m); /* replies once running requests are done */
		return;
	case INFD_MSG_RELOAD:
		if (!need(c, type, p, PERM_LOAD))
			return;
		if (m->state != INFD_MODEL_READY) {
			infd__reply_status(c, type, INFD_SHUTTING_DOWN, "model '%s' is being unloaded", name);
			return;
		}
		st = infd__model_reload(d, m, &err);
		if (st)
			infd__reply_status(c, type, st, "reload of '%s' failed, the old instance stays: %s", name, err.msg);
		else
			infd__reply_json(c, type, infd__model_json(d, m, true));
		return;
	case INFD_MSG_OPEN_SESSION: {
		if (!need(c, type, p, PERM_RUN))
			return;
		if (infd__proto_str(req, "method", false, &method, why, sizeof why)) {
			infd__reply_status(c, type, INFD_PROTOCOL, "%s", why);
			return;
		}
		if (m->state != INFD_MODEL_READY || d->shutting_down) {
			infd__reply_status(c, type, INFD_SHUTTING_DOWN, "model '%s' is being unloaded", name);
			return;
		}
		struct infd_session *s;
		st = infd__session_open(d, m, method ? method : "forward", c, &s, &err);
		if (st)
			infd__reply_status(c, type, st, "%s", err.msg);
		else
			infd__reply_json(c, type, infd__session_json(s, true));
		return;
	}
	case INFD_MSG_CLOSE_SESSION: {
		int64_t id;
		if (infd__proto_int(req, "session", true, 1, INT64_MAX, &id, why, sizeof why)) {
			infd__reply_status(c, type, INFD_PROTOCOL, "%s", why);
			return;
		}
		struct infd_session *s = infd__session_find(d, (uint64_t)id);
		if (!s) {
			infd__reply_status(c, type, INFD_NOT_FOUND, "no session %lld", (long long)id);
			return;
		}
		if (s->uid != c->uid && p != PERM_ADMIN) {
			infd__reply_status(c, type, INFD_PERMISSION_DENIED, "session %lld belongs to another user",
					   (long long)id);
			return;
		}
		infd__session_close(d, s);
		infd__reply_json(c, type, json_object());
		return;
	}
	default:
		infd__reply_status(c, type, INFD_PROTOCOL, "message type %u is not a request", type);
	}
}

void infd__handle_request(struct infd_daemon *d, struct infd_conn *c)
{
	const uint8_t *data = nng_msg_body(c->msg);
	size_t size = nng_msg_len(c->msg);
	struct infd_msg_header h;
	char why[512];
	c->deferred = false;
	infd_status st = infd__proto_get_header(data, size, &h, why, sizeof why);
	if (st) {
		/* Answer in the client's own type when it is readable, else HELLO. */
		uint32_t type = size >= 8 ? (uint32_t)(data[6] | (data[7] << 8)) : INFD_MSG_HELLO;
		infd__reply_status(c, infd__msg_name(type) ? type : INFD_MSG_HELLO, st, "%s", why);
		return;
	}
	enum perm p = perm_of(d, c->uid, c->gid);
	if (p == PERM_NONE && h.type != INFD_MSG_HELLO) {
		infd__reply_status(c, h.type, INFD_PERMISSION_DENIED,
				   "permission denied: uid %d may not use this daemon (see \"access\" in the config)", (int)c->uid);
		return;
	}
	const uint8_t *body = data + INFD_PROTO_HEADER_SIZE;
	if (h.type == INFD_MSG_RUN) {
		handle_run(d, c, body, h.length, p);
		return;
	}
	json_t *req = h.length ? infd__proto_get_json(body, h.length, why, sizeof why) : json_object();
	if (!req) {
		infd__reply_status(c, h.type, INFD_PROTOCOL, "%s", why);
		return;
	}
	handle_json(d, c, h.type, req, p);
	json_decref(req);
}
