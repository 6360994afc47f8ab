/* Sessions: a client's loaded method over its own shared-memory arena (a memfd,
 * sealed against shrinking, handed to the client over SOCKET.fd with SCM_RIGHTS
 * after checking its uid and the session token), and the futex doorbell thread
 * that turns a ring of `req_seq` into a scheduled request. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "futex.h"

#define ALIGN64(x) (((x) + 63) & ~(uint64_t)63)

/* ---- doorbell --------------------------------------------------------------------- */

static void bell_answer(struct infd_session *s, uint32_t seq, infd_status st)
{
	s->ctrl->status = (uint32_t)st;
	atomic_store_explicit((_Atomic uint32_t *)&s->ctrl->done_seq, seq, memory_order_release);
	infd__futex_wake(&s->ctrl->done_seq);
}

static void *bell_main(void *arg)
{
	struct infd_session *s = arg;
	uint32_t last = s->bell_last;
	while (!atomic_load(&s->bell_stop)) {
		uint32_t cur = atomic_load_explicit((_Atomic uint32_t *)&s->ctrl->req_seq, memory_order_acquire);
		if (cur == last) {
			infd__futex_wait(&s->ctrl->req_seq, last, 500000000u);
			continue;
		}
		last = cur;
		/* A client rings only after its previous answer was published. Busy
		 * then means a short internal hold: the worker's last bookkeeping, or
		 * a reload moving the session to the new instance. Wait it out (up to
		 * a second) rather than answer BUSY. */
		bool idle = false;
		for (int spin = 0; spin < 22000 && atomic_load(&s->busy) && !atomic_load(&s->bell_stop); spin++) {
			if (spin < 2000)
				sched_yield();
			else
				usleep(50);
		}
		if (!atomic_compare_exchange_strong(&s->busy, &idle, true)) {
			infd__stats_count_busy(&s->stats);
			bell_answer(s, cur, INFD_BUSY);
			continue;
		}
		if (atomic_load(&s->bell_stop)) { /* closing: take nothing new */
			atomic_store(&s->busy, false);
			bell_answer(s, cur, INFD_SHUTTING_DOWN);
			break;
		}
		struct infd_job *job = calloc(1, sizeof *job);
		if (!job) {
			atomic_store(&s->busy, false);
			bell_answer(s, cur, INFD_NO_MEMORY);
			continue;
		}
		uint32_t timeout_ms = s->ctrl->timeout_ms, prio = s->ctrl->priority;
		job->session = s;
		job->via_doorbell = true;
		job->doorbell_seq = cur;
		job->priority = (uint8_t)(prio > 3 ? 3 : prio);
		infd_status st = s->model->state == INFD_MODEL_READY ? INFD_OK : INFD_SHUTTING_DOWN;
		if (st == INFD_OK) {
			if (timeout_ms)
				job->deadline_ns = infd__now_ns() + (uint64_t)timeout_ms * 1000000u;
			st = infd__sched_run_or_submit(s->d, job);
		}
		if (st) {
			free(job);
			if (st == INFD_BUSY)
				infd__stats_count_busy(&s->stats);
			atomic_store(&s->busy, false);
			bell_answer(s, cur, st);
		}
	}
	return NULL;
}

/* ---- open / close ----------------------------------------------------------------- */

struct bind_ctx {
	struct infd_session *s;
	uint64_t next; /* next free byte of the arena for unplanned tensors */
};

static void *bind_unplanned(void *ud, int32_t value, uint64_t nbytes)
{
	struct bind_ctx *b = ud;
	if (b->next + nbytes > b->s->arena_size)
		return NULL;
	void *p = b->s->arena + b->next;
	b->next = ALIGN64(b->next + nbytes);
	return p;
}

/* Bytes the arena needs: control block, planned buffers, unplanned inputs/outputs. */
static uint64_t arena_bytes(const struct infd_method_def *md, uint64_t *planned_end)
{
	uint64_t off = INFD_SHM_CONTROL_SIZE;
	for (uint32_t i = 0; i < md->n_buffers; i++)
		off = ALIGN64(off + md->buffer_sizes[i]);
	*planned_end = off;
	for (int side = 0; side < 2; side++) {
		uint32_t n = side ? md->n_outputs : md->n_inputs;
		const int32_t *idx = side ? md->outputs : md->inputs;
		for (uint32_t k = 0; k < n; k++) {
			const struct infd_value_def *v = &md->values[idx[k]];
			if (v->kind == INFD_VALUE_TENSOR && v->u.tensor->storage == INFD_STORAGE_NONE)
				off = ALIGN64(off + v->u.tensor->nbytes);
		}
	}
	return off;
}

/* Build s->method over the arena from instance `inst`. */
static infd_status build_method(struct infd_session *s, struct infd_instance *inst, struct infd_error *err)
{
	const struct infd_method_def *md = infd__program_method(inst->prog, s->method_name);
	if (!md)
		return infd__fail(err, INFD_NOT_FOUND, "model '%s' has no method '%s'", s->model->name, s->method_name);
	uint64_t planned_end, need = arena_bytes(md, &planned_end);
	if (need > s->arena_size)
		return infd__fail(err, INFD_BAD_INPUT, "method '%s' needs %llu arena bytes, the session has %zu",
				  s->method_name, (unsigned long long)need, s->arena_size);
	void *bufs[64];
	uint64_t sizes[64];
	if (md->n_buffers > 64)
		return infd__fail(err, INFD_UNSUPPORTED, "method '%s' plans %u buffers (at most 64)", s->method_name,
				  md->n_buffers);
	uint64_t off = INFD_SHM_CONTROL_SIZE;
	for (uint32_t i = 0; i < md->n_buffers; i++) {
		bufs[i] = s->arena + off;
		sizes[i] = md->buffer_sizes[i];
		off = ALIGN64(off + md->buffer_sizes[i]);
	}
	struct infd_method_options opt = {.buffers = bufs, .buffer_sizes = sizes, .n_buffers = md->n_buffers};
	infd__instance_method_options(inst, &opt);
	struct infd_method *m;
	infd_status st = infd__method_load(s->d->rt, inst->prog, s->method_name, &opt, &m, err);
	if (st)
		return st;
	struct bind_ctx b = {.s = s, .next = planned_end};
	st = infd__method_bind_in_place(m, bind_unplanned, &b, err);
	if (st) {
		infd__method_free(m);
		return st;
	}
	s->method = m;
	return INFD_OK;
}

void infd__session_migrate(struct infd_session *s)
{
	struct infd_instance *inst = s->model->inst;
	atomic_store(&s->migrate_pending, false);
	if (inst == s->inst)
		return;
	struct infd_method *old = s->method;
	struct infd_error err = {0};
	s->method = NULL;
	atomic_fetch_add(&inst->refs, 1);
	if (build_method(s, inst, &err) != INFD_OK) {
		fprintf(stderr, "infd: session %llu of model %s cannot follow the reload: %s\n", (unsigned long long)s->id,
			s->model->name, err.msg);
		s->method = NULL;
	}
	infd__method_free(old);
	infd__instance_unref(s->inst);
	s->inst = inst;
}

infd_status infd__session_open(struct infd_daemon *d, struct infd_model *m, const char *method,
			       const struct infd_conn *c, struct infd_session **out, struct infd_error *err)
{
	if (d->n_sessions >= d->cfg.max_sessions)
		return infd__fail(err, INFD_BUSY, "the daemon already serves %u sessions (max_sessions)", d->n_sessions);
	const struct infd_method_def *md = infd__program_method(m->inst->prog, method);
	if (!md)
		return infd__fail(err, INFD_NOT_FOUND, "model '%s' has no method '%s'", m->name, method);
	if (strlen(method) >= sizeof((struct infd_session *)0)->method_name)
		return infd__fail(err, INFD_INVALID_ARGUMENT, "method name too long");
	uint64_t planned_end, size = arena_bytes(md, &planned_end);
	struct infd_session *s = calloc(1, sizeof *s);
	if (!s)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	s->d = d;
	s->memfd = -1;
	s->model = m;
	s->uid = c->uid;
	s->gid = c->gid;
	s->pid = c->pid;
	s->pipe_id = c->pipe_id;
	snprintf(s->method_name, sizeof s->method_name, "%s", method);
	infd__stats_init(&s->stats);
	infd_status st;
	if (getrandom(s->token, sizeof s->token, 0) != sizeof s->token) {
		st = infd__fail(err, INFD_INTERNAL, "no randomness for the session token");
		goto out_free;
	}
	s->memfd = memfd_create("infd-session", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (s->memfd < 0 || ftruncate(s->memfd, (off_t)size) != 0 ||
	    fcntl(s->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		st = infd__fail(err, INFD_NO_MEMORY, "cannot create a %llu-byte session arena", (unsigned long long)size);
		goto out_free;
	}
	s->arena = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0);
	if (s->arena == MAP_FAILED) {
		s->arena = NULL;
		st = infd__fail(err, INFD_NO_MEMORY, "cannot map a %llu-byte session arena", (unsigned long long)size);
		goto out_free;
	}
	s->arena_size = size;
	s->ctrl = (struct infd_shm_control *)s->arena;
	s->ctrl->magic = INFD_SHM_MAGIC;
	s->ctrl->version = INFD_SHM_VERSION;
	s->inst = m->inst;
	atomic_fetch_add(&s->inst->refs, 1);
	st = build_method(s, s->inst, err);
	if (st)
		goto out_free;
	s->ctrl->doorbell = 1;
	if (pthread_create(&s->bell_thread, NULL, bell_main, s) != 0) {
		st = infd__fail(err, INFD_NO_MEMORY, "cannot start the session's doorbell thread");
		goto out_free;
	}
	s->bell_running = true;
	s->id = ++d->next_session_id;
	s->created_ns = infd__now_ns();
	pthread_mutex_lock(&d->session_lock);
	s->next = d->sessions;
	d->sessions = s;
	pthread_mutex_unlock(&d->session_lock);
	d->n_sessions++;
	m->n_sessions++;
	*out = s;
	return INFD_OK;
out_free:
	infd__method_free(s->method);
	if (s->inst)
		infd__instance_unref(s->inst);
	if (s->arena)
		munmap(s->arena, s->arena_size);
	if (s->memfd >= 0)
		close(s->memfd);
	infd__stats_destroy(&s->stats);
	free(s);
	return st;
}

struct infd_session *infd__session_find(struct infd_daemon *d, uint64_t id)
{
	for (struct infd_session *s = d->sessions; s; s = s->next)
		if (s->id == id && !atomic_load(&s->closing))
			return s;
	return NULL;
}

static void session_free(struct infd_daemon *d, struct infd_session *s)
{
	if (s->bell_running) {
		atomic_store(&s->bell_stop, true);
		infd__futex_wake(&s->ctrl->req_seq);
		pthread_join(s->bell_thread, NULL);
	}
	infd__method_free(s->method);
	infd__instance_unref(s->inst);
	munmap(s->arena, s->arena_size);
	close(s->memfd);
	infd__stats_destroy(&s->stats);
	s->model->n_sessions--;
	d->n_sessions--;
	free(s);
}

void infd__session_close(struct infd_daemon *d, struct infd_session *s)
{
	atomic_store(&s->closing, true);
	/* Stop taking doorbell requests first, so that busy can only fall; a request
	 * running now (possibly on the doorbell thread itself) is left to finish and
	 * the sweep comes back: the loop thread never waits for one. */
	atomic_store(&s->bell_stop, true);
	infd__futex_wake(&s->ctrl->req_seq);
	if (atomic_load(&s->busy))
		return;
	if (s->bell_running) {
		pthread_join(s->bell_thread, NULL);
		s->bell_running = false;
		/* Tell a client waiting on (or about to ring) the doorbell that nobody
		 * listens any more; a request already running still completes. */
		atomic_store((_Atomic uint32_t *)&s->ctrl->doorbell, 0);
		infd__futex_wake(&s->ctrl->done_seq);
	}
	pthread_mutex_lock(&d->session_lock);
	for (struct infd_session **pp = &d->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	pthread_mutex_unlock(&d->session_lock);
	session_free(d, s);
}

void infd__sessions_close_pipe(struct infd_daemon *d, uint32_t pipe_id)
{
	struct infd_session *s = d->sessions, *next;
	for (; s; s = next) {
		next = s->next;
		if (s->pipe_id == pipe_id && !atomic_load(&s->closing))
			infd__session_close(d, s);
	}
}

void infd__sessions_sweep(struct infd_daemon *d)
{
	uint64_t now = infd__now_ns(), limit = (uint64_t)d->cfg.session_timeout_s * 1000000000u;
	struct infd_session *s = d->sessions, *next;
	for (; s; s = next) {
		next = s->next;
		bool stale = !s->fd_claimed && now - s->created_ns > limit;
		if (stale && !atomic_load(&s->closing))
			fprintf(stderr, "infd: session %llu was never claimed by pid %d; dropped\n",
				(unsigned long long)s->id, (int)s->pid);
		if (atomic_load(&s->closing) || stale)
			infd__session_close(d, s);
	}
}

static json_t *view_json(const struct infd_session *s, const struct infd_evalue *v)
{
	if (v->kind != INFD_VALUE_TENSOR)
		return json_pack("{s:s}", "kind", infd__value_kind_name(v->kind));
	const struct infd_tensor *t = v->u.t;
	json_t *shape = json_array();
	for (uint32_t r = 0; r < t->rank; r++)
		json_array_append_new(shape, json_integer(t->sizes[r]));
	bool in_arena = t->data && (uint8_t *)t->data >= s->arena && (uint8_t *)t->data < s->arena + s->arena_size;
	return json_pack("{s:s, s:o, s:I, s:I}", "dtype", infd_dtype_name(t->dtype), "shape", shape, "nbytes",
			 (json_int_t)t->nbytes, "offset", in_arena ? (json_int_t)((uint8_t *)t->data - s->arena) : -1);
}

json_t *infd__session_json(const struct infd_session *s, bool layout)
{
	char token[33];
	for (int i = 0; i < 16; i++)
		snprintf(token + 2 * i, 3, "%02x", s->token[i]);
	json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:i}", "session", (json_int_t)s->id, "model", s->model->name,
			      "method", s->method_name, "uid", (int)s->uid, "pid", (int)s->pid);
	if (!layout) {
		json_object_set_new(o, "arena_bytes", json_integer((json_int_t)s->arena_size));
		json_object_set_new(o, "stats", infd__stats_json((struct infd_stats *)&s->stats));
		return o;
	}
	json_object_set_new(o, "token", json_string(token));
	json_object_set_new(o, "arena_bytes", json_integer((json_int_t)s->arena_size));
	json_t *ins = json_array(), *outs = json_array();
	struct infd_method *m = s->method;
	for (uint32_t i = 0; m && i < infd__method_n_inputs(m); i++)
		json_array_append_new(ins, view_json(s, infd__method_input(m, i)));
	for (uint32_t i = 0; m && i < infd__method_n_outputs(m); i++)
		json_array_append_new(outs, view_json(s, infd__method_output(m, i)));
	json_object_set_new(o, "inputs", ins);
	json_object_set_new(o, "outputs", outs);
	return o;
}

/* ---- SOCKET.fd: hand arenas to their owners ---------------------------------------- */

struct fd_client {
	uv_pipe_t pipe;
	struct infd_daemon *d;
	uint8_t buf[24];
	size_t have;
};

static void fd_client_closed(uv_handle_t *h)
{
	free(h->data);
}

static void fd_answer(struct fd_client *fc, uint8_t code, int memfd)
{
	int fd;
	if (uv_fileno((uv_handle_t *)&fc->pipe, &fd) != 0)
		return;
	struct iovec iov = {.iov_base = &code, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (memfd >= 0) {
		memset(&cm, 0, sizeof cm);
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof cm.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &memfd, sizeof(int));
	}
	(void)sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void fd_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fd_client *fc = h->data;
	buf->base = (char *)fc->buf + fc->have;
	buf->len = sizeof fc->buf - fc->have;
}

static void fd_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct fd_client *fc = st->data;
	if (n < 0) {
		uv_close((uv_handle_t *)st, fd_client_closed);
		return;
	}
	fc->have += (size_t)n;
	if (fc->have < sizeof fc->buf)
		return;
	uv_read_stop(st);
	uint64_t id = 0;
	for (int i = 7; i >= 0; i--)
		id = (id << 8) | fc->buf[i];
	struct infd_session *s = infd__session_find(fc->d, id);
	int fd;
	struct ucred cred;
	socklen_t len = sizeof cred;
	uint8_t code = 1;
	if (s && uv_fileno((uv_handle_t *)st, &fd) == 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    cred.uid == s->uid && memcmp(fc->buf + 8, s->token, 16) == 0 && !s->fd_claimed) {
		code = 0;
		s->fd_claimed = true;
	}
	fd_answer(fc, code, code == 0 ? s->memfd : -1);
	uv_close((uv_handle_t *)st, fd_client_closed);
}

static void fd_connection(uv_stream_t *server, int status)
{
	struct infd_daemon *d = server->data;
	if (status < 0)
		return;
	struct fd_client *fc = calloc(1, sizeof *fc);
	if (!fc)
		return;
	fc->d = d;
	uv_pipe_init(&d->loop, &fc->pipe, 0);
	fc->pipe.data = fc;
	if (uv_accept(server, (uv_stream_t *)&fc->pipe) != 0 ||
	    uv_read_start((uv_stream_t *)&fc->pipe, fd_alloc, fd_read) != 0)
		uv_close((uv_handle_t *)&fc->pipe, fd_client_closed);
}

infd_status infd__fd_server_start(struct infd_daemon *d, struct infd_error *err)
{
	snprintf(d->fd_socket_path, sizeof d->fd_socket_path, "%s.fd", d->socket_path);
	unlink(d->fd_socket_path);
	uv_pipe_init(&d->loop, &d->fd_server, 0);
	d->fd_server.data = d;
	int r = uv_pipe_bind(&d->fd_server, d->fd_socket_path);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&d->fd_server, 64, fd_connection);
	if (r != 0)
		return infd__fail(err, INFD_IO, "cannot listen on %s: %s", d->fd_socket_path, uv_strerror(r));
	chmod(d->fd_socket_path, 0666); /* who may connect is decided per request (uid + token) */
	return INFD_OK;
}

void infd__fd_server_stop(struct infd_daemon *d)
{
	uv_close((uv_handle_t *)&d->fd_server, NULL);
	unlink(d->fd_socket_path);
}
