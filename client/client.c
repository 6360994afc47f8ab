/* libinfd's connection to the daemon: socket path resolution, connect + HELLO,
 * the request/reply exchange on per-call nng contexts, per-thread last-error
 * messages, and the control requests (models, status, stats, config). */
#include "client_internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <nng/protocol/reqrep0/req.h>

#define DEFAULT_SYSTEM_SOCKET "/run/infd/infd.sock"

/* ---- Per-thread, per-handle last-error messages --------------------------------- */

/* A thread keeps the messages of its last few handles; slot key 0 is the open
 * failure slot (infd_client_last_error(NULL)). */
#define ERR_SLOTS 4

struct err_slot {
	uint64_t id;
	bool used;
	char msg[INFD__ERR_MAX];
};

static _Thread_local struct err_slot err_slots[ERR_SLOTS];
static _Thread_local unsigned err_next;
static atomic_uint_fast64_t next_client_id = 1;

static struct err_slot *err_slot_for(uint64_t id, bool create)
{
	for (unsigned i = 0; i < ERR_SLOTS; i++)
		if (err_slots[i].used && err_slots[i].id == id)
			return &err_slots[i];
	if (!create)
		return NULL;
	struct err_slot *s = &err_slots[err_next++ % ERR_SLOTS];
	s->used = true;
	s->id = id;
	s->msg[0] = '\0';
	return s;
}

void infd__fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

infd_status infd__client_fail(const infd_client *c, infd_status st, const char *fmt, ...)
{
	struct err_slot *s = err_slot_for(c ? c->id : 0, true);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof s->msg, fmt, ap);
	va_end(ap);
	return st;
}

const char *infd_client_last_error(const infd_client *client)
{
	struct err_slot *s = err_slot_for(client ? client->id : 0, false);
	return s ? s->msg : "";
}

/* ---- Library -------------------------------------------------------------------- */

const char *infd_version(void)
{
	return INFD_VERSION_STRING;
}

void infd_free(void *p)
{
	free(p);
}

static bool socket_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

infd_status infd_socket_path(const char *socket_path, char **path_out)
{
	if (!path_out)
		return INFD_INVALID_ARGUMENT;
	*path_out = NULL;
	char buf[PATH_MAX];
	const char *env;
	if (socket_path && *socket_path)
		infd__fmt(buf, sizeof buf, "%s", socket_path);
	else if ((env = getenv("INFD_SOCKET")) && *env)
		infd__fmt(buf, sizeof buf, "%s", env);
	else {
		buf[0] = '\0';
		if ((env = getenv("XDG_RUNTIME_DIR")) && *env) {
			infd__fmt(buf, sizeof buf, "%s/infd/infd.sock", env);
			if (!socket_exists(buf))
				buf[0] = '\0';
		}
		if (!buf[0] && geteuid() != 0) {
			/* where a user's daemon listens without XDG_RUNTIME_DIR */
			infd__fmt(buf, sizeof buf, "/tmp/infd-%d/infd.sock", (int)geteuid());
			if (!socket_exists(buf))
				buf[0] = '\0';
		}
		if (!buf[0])
			infd__fmt(buf, sizeof buf, "%s", DEFAULT_SYSTEM_SOCKET);
	}
	/* The arena socket is PATH.fd: both must fit a sockaddr_un. */
	struct sockaddr_un sun;
	if (strlen(buf) + sizeof ".fd" > sizeof sun.sun_path)
		return INFD_INVALID_ARGUMENT;
	*path_out = strdup(buf);
	return *path_out ? INFD_OK : INFD_NO_MEMORY;
}

infd_client_options infd_client_options_default(void)
{
	return (infd_client_options){
	    .socket_path = NULL,
	    .client_name = NULL,
	    .connect_timeout_ms = 2000,
	    .request_timeout_ms = 10000,
	    .load_timeout_ms = 120000,
	};
}

/* ---- Exchanges -------------------------------------------------------------------- */

bool infd__daemon_gone(const infd_client *c)
{
	/* No connection left (the kernel closes a dead daemon's sockets at once,
	 * even while it is a zombie), or its pid is gone. */
	if (__atomic_load_n(&c->pipes, __ATOMIC_ACQUIRE) <= 0)
		return true;
	int64_t pid = __atomic_load_n(&c->daemon_pid, __ATOMIC_RELAXED);
	return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

infd_status infd__nng_status(const infd_client *c, int rv, uint32_t timeout_ms, char *why, size_t why_size)
{
	switch (rv) {
	case NNG_ETIMEDOUT:
		if (infd__daemon_gone(c)) {
			infd__fmt(why, why_size,
				  "lost the connection to the infd daemon at %s (pid %lld): did it exit?", c->path,
				  (long long)infd_client_daemon_pid(c));
			return INFD_NOT_CONNECTED;
		}
		infd__fmt(why, why_size, "the infd daemon at %s did not answer within %u ms", c->path, timeout_ms);
		return INFD_TIMEOUT;
	case NNG_ENOMEM:
		infd__fmt(why, why_size, "out of memory");
		return INFD_NO_MEMORY;
	case NNG_EMSGSIZE:
		infd__fmt(why, why_size, "message too large for the infd protocol");
		return INFD_INVALID_ARGUMENT;
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
		infd__fmt(why, why_size, "lost the connection to the infd daemon at %s: did it exit?", c->path);
		return INFD_NOT_CONNECTED;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		infd__fmt(why, why_size, "the connection to the infd daemon at %s was closed", c->path);
		return INFD_NOT_CONNECTED;
	default:
		infd__fmt(why, why_size, "lost the infd daemon at %s: %s", c->path, nng_strerror(rv));
		return INFD_NOT_CONNECTED;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define WAIT_SLICE_MS 100 /* how often a waiting request checks the daemon is alive */

static void waiter_cb(void *arg)
{
	struct infd__waiter *w = arg;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int infd__waiter_init(struct infd__waiter *w)
{
	memset(w, 0, sizeof *w);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rv = nng_aio_alloc(&w->aio, waiter_cb, w);
	if (rv) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		w->aio = NULL;
	}
	return rv;
}

void infd__waiter_fini(struct infd__waiter *w)
{
	if (w->aio)
		nng_aio_free(w->aio);
	w->aio = NULL;
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

int infd__waiter_wait(const infd_client *c, struct infd__waiter *w)
{
	bool gone = false;
	pthread_mutex_lock(&w->mu);
	while (!w->done) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WAIT_SLICE_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT && !w->done && !gone &&
		    infd__daemon_gone(c)) {
			gone = true;
			pthread_mutex_unlock(&w->mu);
			nng_aio_cancel(w->aio); /* the callback follows */
			pthread_mutex_lock(&w->mu);
		}
	}
	w->done = false;
	pthread_mutex_unlock(&w->mu);
	nng_aio_wait(w->aio); /* the callback has returned */
	int rv = nng_aio_result(w->aio);
	return gone && rv ? NNG_ECONNRESET : rv;
}

infd_status infd__exchange(infd_client *c, nng_ctx ctx, struct infd__waiter *w, const uint8_t *msg, size_t size,
			   uint32_t timeout_ms, nng_msg **reply_out, struct infd_msg_header *h_out, char *why,
			   size_t why_size)
{
	*reply_out = NULL;
	/* A daemon that died does not answer: say so at once instead of waiting out
	 * the timeout, unless it comes back (a restart) within the connect timeout. */
	if (infd__daemon_gone(c)) {
		for (uint32_t waited = 0; waited < c->connect_timeout_ms && infd__daemon_gone(c); waited += 10)
			nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000L}, NULL);
		if (infd__daemon_gone(c)) {
			infd__fmt(why, why_size,
				  "lost the connection to the infd daemon at %s (pid %lld): did it exit?", c->path,
				  (long long)infd_client_daemon_pid(c));
			return INFD_NOT_CONNECTED;
		}
	}
	nng_msg *m;
	int rv = nng_msg_alloc(&m, 0);
	if (rv == 0 && (rv = nng_msg_append(m, msg, size)) != 0)
		nng_msg_free(m);
	if (rv)
		return infd__nng_status(c, rv, timeout_ms, why, why_size);

	uint64_t deadline = timeout_ms ? now_ms() + timeout_ms : 0;
	nng_aio_set_msg(w->aio, m);
	nng_aio_set_timeout(w->aio, timeout_ms ? (nng_duration)timeout_ms : NNG_DURATION_INFINITE);
	nng_ctx_send(ctx, w->aio);
	if ((rv = infd__waiter_wait(c, w)) != 0) {
		nng_msg_free(m);
		return infd__nng_status(c, rv, timeout_ms, why, why_size);
	}

	nng_duration left = NNG_DURATION_INFINITE;
	if (deadline) {
		uint64_t now = now_ms();
		left = now >= deadline ? 1 : (nng_duration)(deadline - now);
	}
	nng_aio_set_timeout(w->aio, left);
	nng_ctx_recv(ctx, w->aio);
	if ((rv = infd__waiter_wait(c, w)) != 0)
		return infd__nng_status(c, rv, timeout_ms, why, why_size);
	nng_msg *r = nng_aio_get_msg(w->aio);

	uint32_t type = (uint32_t)msg[6] | ((uint32_t)msg[7] << 8);
	char detail[256];
	infd_status st = infd__proto_get_header(nng_msg_body(r), nng_msg_len(r), h_out, detail, sizeof detail);
	if (st == INFD_VERSION_MISMATCH) {
		infd__fmt(why, why_size,
			  "the infd daemon at %s speaks protocol version %u; this libinfd %s speaks version %d",
			  c->path, h_out->version, INFD_VERSION_STRING, INFD_PROTO_VERSION);
	} else if (st) {
		infd__fmt(why, why_size, "bad reply from the infd daemon at %s: %s", c->path, detail);
	} else if (h_out->type != type) {
		st = INFD_PROTOCOL;
		infd__fmt(why, why_size, "the infd daemon answered a %s request with a %s reply", infd__msg_name(type),
			  infd__msg_name(h_out->type));
	}
	if (st) {
		nng_msg_free(r);
		return st;
	}
	*reply_out = r;
	return INFD_OK;
}

/* Decode the body of a reply: JSON (possibly empty = no body). For failures, the
 * daemon's "error" text goes into why[]. */
static infd_status decode_reply(const infd_client *c, nng_msg *r, const struct infd_msg_header *h, json_t **body_out,
				char *why, size_t why_size)
{
	const uint8_t *body = (const uint8_t *)nng_msg_body(r) + INFD_PROTO_HEADER_SIZE;
	json_t *obj = NULL;
	if (h->length) {
		char detail[256];
		obj = infd__proto_get_json(body, h->length, detail, sizeof detail);
		if (!obj) {
			infd__fmt(why, why_size, "bad %s reply from the infd daemon: %s", infd__msg_name(h->type),
				  detail);
			return INFD_PROTOCOL;
		}
	}
	infd_status st = (infd_status)h->status;
	if (st != INFD_OK) {
		json_t *e = obj ? json_object_get(obj, "error") : NULL;
		if (json_is_string(e))
			infd__fmt(why, why_size, "%s", json_string_value(e));
		else
			infd__fmt(why, why_size, "the infd daemon answered %s: %s", infd_status_name(st),
				  infd_strerror(st));
	}
	*body_out = obj;
	return st;
}

infd_status infd__request(infd_client *c, uint32_t type, const json_t *req, uint32_t timeout_ms, json_t **body_out,
			  char *why, size_t why_size)
{
	*body_out = NULL;
	json_t *empty = NULL;
	if (!req)
		req = empty = json_object();
	size_t size = 0;
	uint8_t *msg = req ? infd__proto_encode_json(type, 0, req, &size) : NULL;
	json_decref(empty);
	if (!msg) {
		infd__fmt(why, why_size, "cannot encode the %s request (out of memory or over 1 MiB)",
			  infd__msg_name(type));
		return INFD_NO_MEMORY;
	}

	nng_ctx ctx;
	struct infd__waiter w;
	int rv = nng_ctx_open(&ctx, c->sock);
	if (rv) {
		free(msg);
		return infd__nng_status(c, rv, timeout_ms, why, why_size);
	}
	if ((rv = infd__waiter_init(&w)) != 0) {
		infd_status st = infd__nng_status(c, rv, timeout_ms, why, why_size);
		nng_ctx_close(ctx);
		free(msg);
		return st;
	}
	nng_msg *r;
	struct infd_msg_header h;
	infd_status st = infd__exchange(c, ctx, &w, msg, size, timeout_ms, &r, &h, why, why_size);
	infd__waiter_fini(&w);
	nng_ctx_close(ctx);
	free(msg);
	if (st)
		return st;
	st = decode_reply(c, r, &h, body_out, why, why_size);
	nng_msg_free(r);
	return st;
}

/* A JSON request whose failure detail goes to the client's last error. */
static infd_status request(infd_client *c, uint32_t type, const json_t *req, uint32_t timeout_ms, json_t **body_out)
{
	char why[INFD__ERR_MAX];
	infd_status st = infd__request(c, type, req, timeout_ms, body_out, why, sizeof why);
	if (st)
		infd__client_fail(c, st, "%s", why);
	return st;
}

/* ---- Connect ---------------------------------------------------------------------- */

static uint32_t parse_perms(const json_t *arr)
{
	uint32_t p = 0;
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		const char *s = json_string_value(v);
		if (!s)
			continue;
		if (strcmp(s, "run") == 0)
			p |= INFD__PERM_RUN;
		else if (strcmp(s, "load") == 0)
			p |= INFD__PERM_LOAD;
		else if (strcmp(s, "admin") == 0)
			p |= INFD__PERM_ADMIN;
	}
	return p;
}

static infd_status dial_fail(infd_client *c, int rv)
{
	struct stat st;
	if ((rv == NNG_ECONNREFUSED || rv == NNG_ENOENT) && stat(c->path, &st) != 0 && errno == ENOENT)
		rv = NNG_ENOENT; /* nng reports a missing socket file as refused */
	switch (rv) {
	case NNG_ECONNREFUSED:
		return infd__client_fail(NULL, INFD_NOT_CONNECTED,
					 "cannot reach the infd daemon at %s: is it running? (connection refused)",
					 c->path);
	case NNG_ENOENT:
		return infd__client_fail(NULL, INFD_NOT_CONNECTED,
					 "cannot reach the infd daemon at %s: is it running? (no such socket)",
					 c->path);
	case NNG_EPERM:
		return infd__client_fail(NULL, INFD_PERMISSION_DENIED,
					 "permission denied connecting to the infd daemon at %s: this user may "
					 "not use it (ask for membership of the group that owns the socket)",
					 c->path);
	case NNG_EADDRINVAL:
		return infd__client_fail(NULL, INFD_INVALID_ARGUMENT, "'%s' is not a valid socket path", c->path);
	case NNG_ENOMEM:
		return infd__client_fail(NULL, INFD_NO_MEMORY, "out of memory");
	default:
		return infd__client_fail(NULL, INFD_NOT_CONNECTED, "cannot reach the infd daemon at %s: %s", c->path,
					 nng_strerror(rv));
	}
}

static infd_status hello(infd_client *c, const char *client_name)
{
	char why[INFD__ERR_MAX];
	json_t *req = json_pack("{s:s, s:i}", "client", client_name, "version", INFD_PROTO_VERSION);
	json_t *rep = NULL;
	if (!req)
		return infd__client_fail(NULL, INFD_NO_MEMORY, "out of memory");
	infd_status st = infd__request(c, INFD_MSG_HELLO, req, c->connect_timeout_ms, &rep, why, sizeof why);
	json_decref(req);
	if (st == INFD_TIMEOUT)
		st = infd__client_fail(NULL, INFD_NOT_CONNECTED,
				       "the infd daemon at %s accepted the connection but did not answer HELLO "
				       "within %u ms",
				       c->path, c->connect_timeout_ms);
	else if (st)
		st = infd__client_fail(NULL, st, "%s", why);
	if (st)
		goto out;

	json_t *proto = json_object_get(rep, "protocol");
	if (!json_is_integer(proto) || json_integer_value(proto) != INFD_PROTO_VERSION) {
		st = infd__client_fail(NULL, INFD_VERSION_MISMATCH,
				       "the infd daemon at %s speaks protocol version %lld; this libinfd %s speaks "
				       "version %d",
				       c->path, json_is_integer(proto) ? (long long)json_integer_value(proto) : -1LL,
				       INFD_VERSION_STRING, INFD_PROTO_VERSION);
		goto out;
	}
	const char *dv = json_string_value(json_object_get(rep, "daemon"));
	c->daemon_version = strdup(dv ? dv : "unknown");
	if (!c->daemon_version) {
		st = infd__client_fail(NULL, INFD_NO_MEMORY, "out of memory");
		goto out;
	}
	json_t *pid = json_object_get(rep, "pid");
	if (json_is_integer(pid) && infd_client_daemon_pid(c) <= 0)
		__atomic_store_n(&c->daemon_pid, (int64_t)json_integer_value(pid), __ATOMIC_RELAXED);
	c->perms = parse_perms(json_object_get(rep, "permissions"));
out:
	json_decref(rep);
	return st;
}

static void pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	/* Count live connections and remember the daemon's pid as this process
	 * sees it (pid namespaces), so that a daemon that died is told from a slow
	 * one. */
	infd_client *c = arg;
	if (ev == NNG_PIPE_EV_REM_POST) {
		__atomic_sub_fetch(&c->pipes, 1, __ATOMIC_ACQ_REL);
		return;
	}
	uint64_t pid = 0;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &pid) == 0 && pid > 0 && pid < INT32_MAX)
		__atomic_store_n(&c->daemon_pid, (int64_t)pid, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->pipes, 1, __ATOMIC_ACQ_REL);
}

infd_status infd_client_open(const char *socket_path, infd_client **out)
{
	infd_client_options o = infd_client_options_default();
	o.socket_path = socket_path;
	return infd_client_open_ex(&o, out);
}

infd_status infd_client_open_ex(const infd_client_options *opts, infd_client **out)
{
	if (!out)
		return infd__client_fail(NULL, INFD_INVALID_ARGUMENT, "infd_client_open: out is NULL");
	*out = NULL;
	infd_client_options o = opts ? *opts : infd_client_options_default();
	infd_client *c = calloc(1, sizeof *c);
	if (!c)
		return infd__client_fail(NULL, INFD_NO_MEMORY, "out of memory");
	c->id = atomic_fetch_add(&next_client_id, 1);
	c->connect_timeout_ms = o.connect_timeout_ms ? o.connect_timeout_ms : 2000;
	c->request_timeout_ms = o.request_timeout_ms;
	c->load_timeout_ms = o.load_timeout_ms;

	infd_status st = infd_socket_path(o.socket_path, &c->path);
	if (st == INFD_INVALID_ARGUMENT) {
		st = infd__client_fail(NULL, st, "socket path too long for a Unix socket (at most %zu bytes)",
				       sizeof(((struct sockaddr_un *)0)->sun_path) - sizeof ".fd");
		goto out_free;
	} else if (st) {
		st = infd__client_fail(NULL, st, "out of memory");
		goto out_free;
	}

	int rv = nng_req0_open(&c->sock);
	if (rv) {
		st = infd__client_fail(NULL, INFD_INTERNAL, "cannot open an nng req0 socket: %s", nng_strerror(rv));
		goto out_free;
	}
	/* Never resend a request on a timer: LOAD is not idempotent, and a slow
	 * request is the daemon's to finish or refuse. */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 1000);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, INFD_PROTO_MAX_MESSAGE);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_event, c);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_event, c);

	char url[sizeof "ipc://" + PATH_MAX];
	infd__fmt(url, sizeof url, "ipc://%s", c->path);
	if ((rv = nng_dial(c->sock, url, &c->dialer, 0)) != 0) {
		st = dial_fail(c, rv);
		goto out_close;
	}

	const char *name = o.client_name ? o.client_name : program_invocation_short_name;
	if ((st = hello(c, name && *name ? name : "libinfd")) != INFD_OK)
		goto out_close;
	*out = c;
	return INFD_OK;

out_close:
	nng_close(c->sock);
out_free:
	free(c->daemon_version);
	free(c->path);
	free(c);
	return st;
}

void infd_client_close(infd_client *client)
{
	if (!client)
		return;
	nng_close(client->sock);
	struct err_slot *s = err_slot_for(client->id, false);
	if (s)
		s->used = false;
	free(client->daemon_version);
	free(client->path);
	free(client);
}

const char *infd_client_socket_path(const infd_client *client)
{
	return client ? client->path : "";
}

const char *infd_client_daemon_version(const infd_client *client)
{
	return client && client->daemon_version ? client->daemon_version : "";
}

int64_t infd_client_daemon_pid(const infd_client *client)
{
	return client ? __atomic_load_n(&client->daemon_pid, __ATOMIC_RELAXED) : 0;
}

bool infd_client_has_permission(const infd_client *client, const char *permission)
{
	if (!client || !permission)
		return false;
	uint32_t bit = strcmp(permission, "run") == 0     ? INFD__PERM_RUN
		       : strcmp(permission, "load") == 0  ? INFD__PERM_LOAD
		       : strcmp(permission, "admin") == 0 ? INFD__PERM_ADMIN
							  : 0;
	return bit && (client->perms & bit);
}

/* ---- Control requests ------------------------------------------------------------- */

static infd_status check_client(const infd_client *c, const void *out)
{
	if (!c)
		return INFD_INVALID_ARGUMENT;
	if (!out)
		return infd__client_fail(c, INFD_INVALID_ARGUMENT, "output pointer is NULL");
	return INFD_OK;
}

/* Hand back a reply body (NULL: an empty body, i.e. {}) as malloc'd JSON text. */
static infd_status dump_out(infd_client *c, const json_t *obj, char **json_out)
{
	*json_out = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : strdup("{}");
	if (!*json_out)
		return infd__client_fail(c, INFD_NO_MEMORY, "out of memory");
	return INFD_OK;
}

/* Request `type` with body `req` (borrowed) and hand back the reply as text. */
static infd_status json_call(infd_client *c, uint32_t type, const json_t *req, uint32_t timeout_ms, char **json_out)
{
	json_t *rep = NULL;
	infd_status st = request(c, type, req, timeout_ms, &rep);
	if (st == INFD_OK)
		st = dump_out(c, rep, json_out);
	json_decref(rep);
	return st;
}

/* A request whose body names one model: {"model": name}. */
static infd_status model_call(infd_client *c, uint32_t type, const char *name, uint32_t timeout_ms, json_t **rep_out)
{
	if (!c)
		return INFD_INVALID_ARGUMENT;
	if (!name || !*name)
		return infd__client_fail(c, INFD_INVALID_ARGUMENT, "model name is empty");
	json_t *req = json_pack("{s:s}", "model", name);
	if (!req)
		return infd__client_fail(c, INFD_NO_MEMORY, "out of memory");
	json_t *rep = NULL;
	infd_status st = request(c, type, req, timeout_ms, &rep);
	json_decref(req);
	if (rep_out)
		*rep_out = rep;
	else
		json_decref(rep);
	return st;
}

struct infd_model_list {
	json_t *root;
	size_t n;
	infd_model_info *items;
};

/* A counter of a MODEL object: at its top level (PROTOCOL.md) or in its "stats". */
static uint64_t u64_field(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		v = json_object_get(json_object_get(o, "stats"), key);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static const char *str_field(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

infd_status infd_list_models(infd_client *client, infd_model_list **out)
{
	infd_status st = check_client(client, out);
	if (st)
		return st;
	*out = NULL;
	json_t *rep = NULL;
	if ((st = request(client, INFD_MSG_LIST_MODELS, NULL, client->request_timeout_ms, &rep)) != INFD_OK) {
		json_decref(rep);
		return st;
	}
	json_t *models = json_object_get(rep, "models");
	if (!json_is_array(models)) {
		json_decref(rep);
		return infd__client_fail(client, INFD_PROTOCOL, "LIST_MODELS reply has no 'models' array");
	}
	infd_model_list *l = calloc(1, sizeof *l);
	size_t n = json_array_size(models);
	if (!l || !(l->items = calloc(n ? n : 1, sizeof *l->items))) {
		free(l);
		json_decref(rep);
		return infd__client_fail(client, INFD_NO_MEMORY, "out of memory");
	}
	l->root = rep;
	l->n = n;
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(models, i);
		l->items[i] = (infd_model_info){
		    .name = str_field(m, "name"),
		    .path = str_field(m, "path"),
		    .state = str_field(m, "state"),
		    .file_bytes = u64_field(m, "file_bytes"),
		    .constant_bytes = u64_field(m, "constant_bytes"),
		    .sessions = u64_field(m, "sessions"),
		    .requests = u64_field(m, "requests"),
		    .errors = u64_field(m, "errors"),
		    .generation = u64_field(m, "generation"),
		};
	}
	*out = l;
	return INFD_OK;
}

size_t infd_model_count(const infd_model_list *list)
{
	return list ? list->n : 0;
}

infd_status infd_model_info_at(const infd_model_list *list, size_t i, infd_model_info *out)
{
	if (!list || !out || i >= list->n)
		return INFD_INVALID_ARGUMENT;
	*out = list->items[i];
	return INFD_OK;
}

void infd_model_list_free(infd_model_list *list)
{
	if (!list)
		return;
	json_decref(list->root);
	free(list->items);
	free(list);
}

infd_status infd_list_models_json(infd_client *client, char **json_out)
{
	infd_status st = check_client(client, json_out);
	if (st)
		return st;
	*json_out = NULL;
	return json_call(client, INFD_MSG_LIST_MODELS, NULL, client->request_timeout_ms, json_out);
}

infd_status infd_model_info_json(infd_client *client, const char *model, char **json_out)
{
	infd_status st = check_client(client, json_out);
	if (st)
		return st;
	*json_out = NULL;
	json_t *rep = NULL;
	if ((st = model_call(client, INFD_MSG_MODEL_INFO, model, client->request_timeout_ms, &rep)) == INFD_OK)
		st = dump_out(client, rep, json_out);
	json_decref(rep);
	return st;
}

infd_status infd_load(infd_client *client, const char *name, const char *path)
{
	if (!client)
		return INFD_INVALID_ARGUMENT;
	if (!name || !*name || !path || !*path)
		return infd__client_fail(client, INFD_INVALID_ARGUMENT, "load needs a model name and a file path");
	/* Absolute paths and the daemon's built-in programs ("builtin:NAME") go as
	 * they are: the daemon, which may see another /tmp, judges them. A relative
	 * path is taken from our working directory. */
	char *abs = NULL;
	if (path[0] == '/' || strncmp(path, "builtin:", 8) == 0) {
		abs = strdup(path);
	} else {
		char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return infd__client_fail(client, INFD_IO, "cannot load '%s': no working directory (%s)", path,
						 strerror(errno));
		if (asprintf(&abs, "%s/%s", cwd, path) < 0)
			abs = NULL;
		free(cwd);
	}
	if (!abs)
		return infd__client_fail(client, INFD_NO_MEMORY, "out of memory");
	json_t *req = json_pack("{s:s, s:s}", "model", name, "path", abs);
	free(abs);
	if (!req)
		return infd__client_fail(client, INFD_NO_MEMORY, "out of memory");
	json_t *rep = NULL;
	infd_status st = request(client, INFD_MSG_LOAD, req, client->load_timeout_ms, &rep);
	json_decref(req);
	json_decref(rep);
	return st;
}

infd_status infd_unload(infd_client *client, const char *name)
{
	return model_call(client, INFD_MSG_UNLOAD, name, client ? client->load_timeout_ms : 0, NULL);
}

infd_status infd_reload(infd_client *client, const char *name)
{
	return model_call(client, INFD_MSG_RELOAD, name, client ? client->load_timeout_ms : 0, NULL);
}

infd_status infd_status_json(infd_client *client, char **json_out)
{
	infd_status st = check_client(client, json_out);
	if (st)
		return st;
	*json_out = NULL;
	return json_call(client, INFD_MSG_STATUS, NULL, client->request_timeout_ms, json_out);
}

infd_status infd_stats_json(infd_client *client, const char *model, char **json_out)
{
	infd_status st = check_client(client, json_out);
	if (st)
		return st;
	*json_out = NULL;
	json_t *req = model ? json_pack("{s:s}", "model", model) : json_object();
	if (!req)
		return infd__client_fail(client, INFD_NO_MEMORY, "out of memory");
	st = json_call(client, INFD_MSG_STATS, req, client->request_timeout_ms, json_out);
	json_decref(req);
	return st;
}

infd_status infd_config_json(infd_client *client, char **json_out)
{
	infd_status st = check_client(client, json_out);
	if (st)
		return st;
	*json_out = NULL;
	return json_call(client, INFD_MSG_CONFIG_GET, NULL, client->request_timeout_ms, json_out);
}

infd_status infd_config_check(infd_client *client, const char *text, char **error_out)
{
	if (error_out)
		*error_out = NULL;
	if (!client)
		return INFD_INVALID_ARGUMENT;
	if (!text)
		return infd__client_fail(client, INFD_INVALID_ARGUMENT, "config text is NULL");
	json_t *req = json_pack("{s:s}", "text", text);
	if (!req)
		return infd__client_fail(client, INFD_INVALID_ARGUMENT,
					 "config text is not valid UTF-8 (or out of memory)");
	json_t *rep = NULL;
	infd_status st = request(client, INFD_MSG_CONFIG_CHECK, req, client->request_timeout_ms, &rep);
	json_decref(req);
	json_decref(rep);
	if (st == INFD_BAD_CONFIG && error_out)
		*error_out = strdup(infd_client_last_error(client));
	return st;
}

static int type_from_name(const char *type)
{
	char *end;
	long n = strtol(type, &end, 10);
	if (*type && !*end)
		return n > 0 && n < 65536 && infd__msg_name((uint32_t)n) ? (int)n : -1;
	for (uint32_t t = 1; t < 256; t++) {
		const char *name = infd__msg_name(t);
		if (name && strcasecmp(name, type) == 0)
			return (int)t;
	}
	return -1;
}

infd_status infd_request_json(infd_client *client, const char *type, const char *body_json, char **reply_json_out)
{
	infd_status st = check_client(client, reply_json_out);
	if (st)
		return st;
	*reply_json_out = NULL;
	int t = type ? type_from_name(type) : -1;
	if (t < 0)
		return infd__client_fail(client, INFD_INVALID_ARGUMENT, "unknown message type '%s'",
					 type ? type : "(null)");
	if (t == INFD_MSG_RUN)
		return infd__client_fail(client, INFD_INVALID_ARGUMENT, "RUN is binary: use a session");
	json_t *req = NULL;
	if (body_json && *body_json) {
		json_error_t jerr;
		req = json_loads(body_json, JSON_REJECT_DUPLICATES, &jerr);
		if (!req || !json_is_object(req)) {
			json_decref(req);
			return infd__client_fail(client, INFD_INVALID_ARGUMENT,
						 "request body is not a JSON object (line %d: %s)", jerr.line,
						 req ? "not an object" : jerr.text);
		}
	}
	uint32_t timeout = t == INFD_MSG_LOAD || t == INFD_MSG_RELOAD || t == INFD_MSG_UNLOAD
			       ? client->load_timeout_ms
			       : client->request_timeout_ms;
	char why[INFD__ERR_MAX];
	json_t *rep = NULL;
	st = infd__request(client, (uint32_t)t, req, timeout, &rep, why, sizeof why);
	json_decref(req);
	if (st)
		infd__client_fail(client, st, "%s", why);
	if (rep || st == INFD_OK) {
		infd_status dst = dump_out(client, rep, reply_json_out);
		if (st == INFD_OK)
			st = dst;
	}
	json_decref(rep);
	return st;
}
