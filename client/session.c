/* libinfd sessions: OPEN_SESSION, the arena hand-over over SOCKET.fd (a memfd
 * received with SCM_RIGHTS, mapped shared), tensor views checked against the
 * arena, and runs — the futex doorbell in the control block, or RUN over nng
 * (synchronous or with an nng aio). */
#include "client_internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DOORBELL_SLICE_MS 100 /* how often a doorbell wait checks the daemon is alive */
#define DOORBELL_SPINS    200 /* polls of done_seq before sleeping on the futex */

struct view {
	int dtype;
	uint32_t rank;
	int64_t shape[INFD_MAX_RANK];
	uint64_t offset;
	uint64_t nbytes;
};

enum async_state { ASYNC_IDLE, ASYNC_SENDING, ASYNC_RECEIVING, ASYNC_COMPLETING };

struct infd_session {
	infd_client *client;
	uint64_t id;
	char *model, *method;
	uint8_t *arena;
	size_t arena_bytes;
	struct infd_shm_control *ctl;
	uint32_t n_inputs, n_outputs;
	struct view *inputs, *outputs;

	infd_transport transport;
	bool no_doorbell_env;
	uint32_t priority;
	uint32_t doorbell_pending; /* a doorbell request we stopped waiting for */
	int64_t daemon_pid;        /* the daemon that opened the session */
	bool has_run_info;
	infd_run_info run_info;

	nng_ctx ctx;
	struct infd__waiter w; /* synchronous RUN */
	bool w_ready;
	nng_aio *aio_cb; /* run_async */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum async_state astate;
	bool agone; /* the wait abandoned the run: the daemon is gone */
	infd_status astatus;
	infd_done_fn adone;
	void *aud;
	uint64_t adeadline_ms;
	uint32_t atimeout_ms;
	uint8_t run_msg[INFD_PROTO_HEADER_SIZE + INFD_RUN_REQUEST_SIZE];

	char err[INFD__ERR_MAX];
};

static infd_status fail(infd_session *s, infd_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static infd_status fail(infd_session *s, infd_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	return st;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- Opening: the SESSION reply ----------------------------------------------------- */

/* Decode one VIEW of the SESSION reply and check it lies inside the arena. */
static infd_status parse_view(const infd_client *c, const json_t *v, const char *what, uint32_t i, uint64_t arena_bytes,
			      struct view *out)
{
	const char *dt = json_string_value(json_object_get(v, "dtype"));
	const json_t *shape = json_object_get(v, "shape");
	const json_t *off = json_object_get(v, "offset"), *nb = json_object_get(v, "nbytes");
	if (!json_is_object(v) || !dt || !json_is_array(shape) || !json_is_integer(off) || !json_is_integer(nb))
		return infd__client_fail(c, INFD_PROTOCOL,
					 "OPEN_SESSION reply: %s %u lacks dtype, shape, offset or nbytes", what, i);
	out->dtype = infd_dtype_from_name(dt);
	if (out->dtype < 0)
		return infd__client_fail(c, INFD_PROTOCOL, "OPEN_SESSION reply: %s %u has unknown dtype '%s'", what, i,
					 dt);
	size_t rank = json_array_size(shape);
	if (rank > INFD_MAX_RANK)
		return infd__client_fail(c, INFD_PROTOCOL, "OPEN_SESSION reply: %s %u has rank %zu (max %d)", what, i,
					 rank, INFD_MAX_RANK);
	out->rank = (uint32_t)rank;
	uint64_t numel = 1;
	for (size_t d = 0; d < rank; d++) {
		const json_t *dim = json_array_get(shape, d);
		if (!json_is_integer(dim) || json_integer_value(dim) < 0 || json_integer_value(dim) > INT32_MAX)
			return infd__client_fail(c, INFD_PROTOCOL, "OPEN_SESSION reply: %s %u has a bad dimension %zu",
						 what, i, d);
		out->shape[d] = json_integer_value(dim);
		numel *= (uint64_t)out->shape[d];
		if (numel > arena_bytes)
			numel = arena_bytes + 1; /* saturate: caught by the size check below */
	}
	if (json_integer_value(off) < 0 || json_integer_value(nb) < 0)
		return infd__client_fail(c, INFD_PROTOCOL, "OPEN_SESSION reply: %s %u has a negative offset or size",
					 what, i);
	out->offset = (uint64_t)json_integer_value(off);
	out->nbytes = (uint64_t)json_integer_value(nb);
	size_t esize = infd_dtype_size(out->dtype);
	if (out->nbytes != numel * esize)
		return infd__client_fail(c, INFD_PROTOCOL,
					 "OPEN_SESSION reply: %s %u: %llu bytes do not match its %s shape", what, i,
					 (unsigned long long)out->nbytes, dt);
	if (out->offset < INFD_SHM_CONTROL_SIZE || out->offset > arena_bytes || out->nbytes > arena_bytes - out->offset)
		return infd__client_fail(c, INFD_PROTOCOL,
					 "OPEN_SESSION reply: %s %u [%llu, +%llu) lies outside the %llu-byte arena",
					 what, i, (unsigned long long)out->offset, (unsigned long long)out->nbytes,
					 (unsigned long long)arena_bytes);
	if (esize && out->offset % esize)
		return infd__client_fail(c, INFD_PROTOCOL, "OPEN_SESSION reply: %s %u at offset %llu is misaligned",
					 what, i, (unsigned long long)out->offset);
	return INFD_OK;
}

static infd_status parse_views(const infd_client *c, const json_t *rep, const char *key, const char *what,
			       uint64_t arena_bytes, struct view **out, uint32_t *n_out)
{
	const json_t *arr = json_object_get(rep, key);
	if (!json_is_array(arr))
		return infd__client_fail(c, INFD_PROTOCOL, "OPEN_SESSION reply has no '%s' array", key);
	size_t n = json_array_size(arr);
	if (n > 65536)
		return infd__client_fail(c, INFD_PROTOCOL, "OPEN_SESSION reply lists %zu %ss", n, what);
	*out = calloc(n ? n : 1, sizeof **out);
	if (!*out)
		return infd__client_fail(c, INFD_NO_MEMORY, "out of memory");
	*n_out = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		infd_status st = parse_view(c, json_array_get(arr, i), what, (uint32_t)i, arena_bytes, &(*out)[i]);
		if (st)
			return st;
	}
	return INFD_OK;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool parse_token(const char *hex, uint8_t token[16])
{
	if (!hex || strlen(hex) != 32)
		return false;
	for (int i = 0; i < 16; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		token[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* ---- Opening: the arena hand-over ---------------------------------------------------- */

/* Connect to SOCKET.fd, present session id + token, receive the arena's fd. */
static infd_status receive_arena(const infd_client *c, uint64_t id, const uint8_t token[16], int *fd_out)
{
	*fd_out = -1;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	infd__fmt(sun.sun_path, sizeof sun.sun_path, "%s.fd", c->path);
	int sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return infd__client_fail(c, INFD_IO, "socket: %s", strerror(errno));
	/* The hand-over is a request like any other: the request timeout bounds it
	 * (a dead daemon closes the socket, so no timeout cannot hang). */
	if (c->request_timeout_ms) {
		struct timeval tv = {.tv_sec = c->request_timeout_ms / 1000,
				     .tv_usec = (c->request_timeout_ms % 1000) * 1000};
		setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(sk, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
	infd_status st = INFD_OK;
	if (connect(sk, (struct sockaddr *)&sun, sizeof sun) != 0) {
		int e = errno;
		st = infd__client_fail(c, e == EACCES || e == EPERM ? INFD_PERMISSION_DENIED : INFD_NOT_CONNECTED,
				       "cannot connect to the arena socket %s: %s", sun.sun_path, strerror(e));
		goto out;
	}
	uint8_t hello[24];
	for (int i = 0; i < 8; i++)
		hello[i] = (uint8_t)(id >> (8 * i));
	memcpy(hello + 8, token, 16);
	if (send(sk, hello, sizeof hello, MSG_NOSIGNAL) != (ssize_t)sizeof hello) {
		st = infd__client_fail(c, INFD_NOT_CONNECTED, "cannot send to the arena socket %s: %s", sun.sun_path,
				       strerror(errno));
		goto out;
	}

	uint8_t byte = 0xff;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} cm;
	memset(&cm, 0, sizeof cm);
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
	ssize_t got;
	do
		got = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);
	while (got < 0 && errno == EINTR);
	int fd = -1;
	for (struct cmsghdr *h = got > 0 ? CMSG_FIRSTHDR(&mh) : NULL; h; h = CMSG_NXTHDR(&mh, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t k = 0; k < nfd; k++) {
			int f;
			memcpy(&f, CMSG_DATA(h) + k * sizeof(int), sizeof f);
			if (fd < 0)
				fd = f;
			else
				close(f); /* only one is expected */
		}
	}
	if (got < 0) {
		int e = errno;
		bool slow = e == EAGAIN || e == EWOULDBLOCK;
		if (slow)
			st = infd__client_fail(c, INFD_TIMEOUT,
					       "no arena from %s: the daemon did not answer within %u ms", sun.sun_path,
					       c->request_timeout_ms);
		else
			st =
			    infd__client_fail(c, INFD_NOT_CONNECTED, "no arena from %s: %s", sun.sun_path, strerror(e));
	} else if (got == 0) {
		st = infd__client_fail(c, INFD_PERMISSION_DENIED,
				       "the daemon closed the arena socket without handing over session %llu's "
				       "arena (wrong user or token?)",
				       (unsigned long long)id);
	} else if (byte != 0) {
		st = infd__client_fail(c, byte == INFD_PERMISSION_DENIED ? INFD_PERMISSION_DENIED : INFD_PROTOCOL,
				       "the daemon refused to hand over session %llu's arena (code %u: %s)",
				       (unsigned long long)id, byte, infd_strerror((infd_status)byte));
	} else if (fd < 0) {
		st = infd__client_fail(c, INFD_PROTOCOL,
				       "the daemon's arena answer for session %llu carries no file "
				       "descriptor%s",
				       (unsigned long long)id, (mh.msg_flags & MSG_CTRUNC) ? " (truncated)" : "");
	}
	if (st && fd >= 0)
		close(fd);
	else
		*fd_out = fd;
out:
	close(sk);
	return st;
}

static infd_status map_arena(const infd_client *c, int fd, size_t bytes, uint8_t **out)
{
	struct stat stb;
	if (fstat(fd, &stb) != 0)
		return infd__client_fail(c, INFD_IO, "fstat on the session arena: %s", strerror(errno));
	if (!S_ISREG(stb.st_mode) || (uint64_t)stb.st_size < bytes)
		return infd__client_fail(c, INFD_PROTOCOL, "the session arena is %lld bytes, the daemon announced %zu",
					 (long long)stb.st_size, bytes);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return infd__client_fail(c, errno == ENOMEM ? INFD_NO_MEMORY : INFD_IO,
					 "cannot map the %zu-byte session arena: %s", bytes, strerror(errno));
	*out = p;
	return INFD_OK;
}

static void session_free(infd_session *s)
{
	if (s->aio_cb) {
		nng_aio_stop(s->aio_cb);
		nng_aio_free(s->aio_cb);
	}
	if (s->w_ready)
		infd__waiter_fini(&s->w);
	if (s->ctx.id > 0)
		nng_ctx_close(s->ctx);
	if (s->arena)
		munmap(s->arena, s->arena_bytes);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->inputs);
	free(s->outputs);
	free(s->model);
	free(s->method);
	free(s);
}

static void close_remote(infd_client *c, uint64_t id)
{
	if (infd__daemon_gone(c))
		return; /* its sessions went with it */
	json_t *req = json_pack("{s:I}", "session", (json_int_t)id);
	json_t *rep = NULL;
	char why[INFD__ERR_MAX];
	if (req)
		infd__request(c, INFD_MSG_CLOSE_SESSION, req, c->request_timeout_ms, &rep, why, sizeof why);
	json_decref(req);
	json_decref(rep);
}

static void async_cb(void *arg);

infd_status infd_session_open(infd_client *client, const char *model, const char *method, infd_session **out)
{
	if (!client)
		return INFD_INVALID_ARGUMENT;
	if (!out)
		return infd__client_fail(client, INFD_INVALID_ARGUMENT, "infd_session_open: out is NULL");
	*out = NULL;
	if (!model || !*model)
		return infd__client_fail(client, INFD_INVALID_ARGUMENT, "model name is empty");
	if (!method || !*method)
		method = "forward";

	infd_session *s = calloc(1, sizeof *s);
	if (!s)
		return infd__client_fail(client, INFD_NO_MEMORY, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->client = client;
	s->daemon_pid = infd_client_daemon_pid(client);
	s->model = strdup(model);
	s->method = strdup(method);
	const char *nd = getenv("INFD_NO_DOORBELL");
	s->no_doorbell_env = nd && strcmp(nd, "1") == 0;
	if (!s->model || !s->method) {
		session_free(s);
		return infd__client_fail(client, INFD_NO_MEMORY, "out of memory");
	}

	char why[INFD__ERR_MAX];
	json_t *req = json_pack("{s:s, s:s}", "model", model, "method", method);
	json_t *rep = NULL;
	infd_status st =
	    req ? infd__request(client, INFD_MSG_OPEN_SESSION, req, client->request_timeout_ms, &rep, why, sizeof why)
		: INFD_NO_MEMORY;
	json_decref(req);
	if (st) {
		infd__client_fail(client, st, "%s", st == INFD_NO_MEMORY && !req ? "out of memory" : why);
		json_decref(rep);
		session_free(s);
		return st;
	}

	bool opened = false;
	int fd = -1;
	const json_t *jid = json_object_get(rep, "session"), *jbytes = json_object_get(rep, "arena_bytes");
	uint8_t token[16];
	if (!json_is_integer(jid) || json_integer_value(jid) < 0 || !json_is_integer(jbytes) ||
	    json_integer_value(jbytes) < INFD_SHM_CONTROL_SIZE ||
	    (uint64_t)json_integer_value(jbytes) > (uint64_t)SIZE_MAX / 2) {
		if (json_is_integer(jid) && json_integer_value(jid) >= 0) {
			s->id = (uint64_t)json_integer_value(jid);
			opened = true;
		}
		st = infd__client_fail(client, INFD_PROTOCOL,
				       "OPEN_SESSION reply lacks a valid 'session' or 'arena_bytes' (>= %d)",
				       INFD_SHM_CONTROL_SIZE);
		goto out_fail;
	}
	s->id = (uint64_t)json_integer_value(jid);
	opened = true;
	s->arena_bytes = (size_t)json_integer_value(jbytes);
	if (!parse_token(json_string_value(json_object_get(rep, "token")), token)) {
		st = infd__client_fail(client, INFD_PROTOCOL, "OPEN_SESSION reply lacks a 32-hex-digit 'token'");
		goto out_fail;
	}
	if ((st = parse_views(client, rep, "inputs", "input", s->arena_bytes, &s->inputs, &s->n_inputs)) ||
	    (st = parse_views(client, rep, "outputs", "output", s->arena_bytes, &s->outputs, &s->n_outputs)))
		goto out_fail;

	if ((st = receive_arena(client, s->id, token, &fd)) != INFD_OK)
		goto out_fail;
	st = map_arena(client, fd, s->arena_bytes, &s->arena);
	close(fd);
	if (st)
		goto out_fail;
	s->ctl = (struct infd_shm_control *)s->arena;
	uint32_t magic = __atomic_load_n(&s->ctl->magic, __ATOMIC_ACQUIRE);
	if (magic != INFD_SHM_MAGIC) {
		st = infd__client_fail(client, INFD_PROTOCOL,
				       "the session arena does not start with an infd control block (magic 0x%08x)",
				       magic);
		goto out_fail;
	}
	uint32_t version = __atomic_load_n(&s->ctl->version, __ATOMIC_RELAXED);
	if (version != INFD_SHM_VERSION) {
		st = infd__client_fail(
		    client, INFD_VERSION_MISMATCH,
		    "the session arena's control block is version %u; this libinfd %s knows version %d", version,
		    INFD_VERSION_STRING, INFD_SHM_VERSION);
		goto out_fail;
	}

	int rv = nng_ctx_open(&s->ctx, client->sock);
	if (rv == 0 && (rv = infd__waiter_init(&s->w)) == 0)
		s->w_ready = true;
	if (rv == 0)
		rv = nng_aio_alloc(&s->aio_cb, async_cb, s);
	if (rv) {
		st = infd__nng_status(client, rv, 0, why, sizeof why);
		infd__client_fail(client, st, "%s", why);
		goto out_fail;
	}
	json_decref(rep);
	*out = s;
	return INFD_OK;

out_fail:
	json_decref(rep);
	if (opened)
		close_remote(client, s->id);
	session_free(s);
	return st;
}

void infd_session_close(infd_session *session)
{
	if (!session)
		return;
	infd_session_wait(session);
	close_remote(session->client, session->id);
	session_free(session);
}

/* ---- Accessors ---------------------------------------------------------------------- */

const char *infd_session_last_error(const infd_session *session)
{
	return session ? session->err : "";
}

uint32_t infd_session_input_count(const infd_session *session)
{
	return session ? session->n_inputs : 0;
}

uint32_t infd_session_output_count(const infd_session *session)
{
	return session ? session->n_outputs : 0;
}

static infd_status view_of(const infd_session *s, const struct view *v, uint32_t n, uint32_t i, const char *what,
			   infd_tensor_view *out)
{
	if (!s || !out)
		return INFD_INVALID_ARGUMENT;
	if (i >= n)
		return fail((infd_session *)s, INFD_INVALID_ARGUMENT, "%s %u out of range (the method has %u)", what, i,
			    n);
	memset(out, 0, sizeof *out);
	out->data = s->arena + v[i].offset;
	out->dtype = v[i].dtype;
	out->rank = v[i].rank;
	memcpy(out->shape, v[i].shape, sizeof out->shape);
	out->nbytes = (size_t)v[i].nbytes;
	return INFD_OK;
}

infd_status infd_session_input(const infd_session *session, uint32_t i, infd_tensor_view *out)
{
	return view_of(session, session ? session->inputs : NULL, session ? session->n_inputs : 0, i, "input", out);
}

infd_status infd_session_output(const infd_session *session, uint32_t i, infd_tensor_view *out)
{
	return view_of(session, session ? session->outputs : NULL, session ? session->n_outputs : 0, i, "output", out);
}

infd_status infd_session_set_transport(infd_session *session, infd_transport transport)
{
	if (!session)
		return INFD_INVALID_ARGUMENT;
	if (transport != INFD_TRANSPORT_AUTO && transport != INFD_TRANSPORT_NNG && transport != INFD_TRANSPORT_DOORBELL)
		return fail(session, INFD_INVALID_ARGUMENT, "unknown transport %d", (int)transport);
	session->transport = transport;
	return INFD_OK;
}

static bool doorbell_listening(const infd_session *s)
{
	return __atomic_load_n(&s->ctl->doorbell, __ATOMIC_ACQUIRE) == 1;
}

infd_transport infd_session_transport(const infd_session *session)
{
	if (!session)
		return INFD_TRANSPORT_NNG;
	switch (session->transport) {
	case INFD_TRANSPORT_NNG:
		return INFD_TRANSPORT_NNG;
	case INFD_TRANSPORT_DOORBELL:
		return INFD_TRANSPORT_DOORBELL;
	default:
		return !session->no_doorbell_env && doorbell_listening(session) ? INFD_TRANSPORT_DOORBELL
										: INFD_TRANSPORT_NNG;
	}
}

infd_status infd_session_set_priority(infd_session *session, uint32_t priority)
{
	if (!session)
		return INFD_INVALID_ARGUMENT;
	if (priority > 3)
		return fail(session, INFD_INVALID_ARGUMENT, "priority %u is outside 0..3", priority);
	session->priority = priority;
	return INFD_OK;
}

infd_status infd_session_run_info(const infd_session *session, infd_run_info *out)
{
	if (!session || !out)
		return INFD_INVALID_ARGUMENT;
	if (!session->has_run_info)
		return INFD_NOT_FOUND;
	*out = session->run_info;
	return INFD_OK;
}

const char *infd_session_model(const infd_session *session)
{
	return session ? session->model : "";
}

const char *infd_session_method(const infd_session *session)
{
	return session ? session->method : "";
}

uint64_t infd_session_id(const infd_session *session)
{
	return session ? session->id : 0;
}

size_t infd_session_arena_bytes(const infd_session *session)
{
	return session ? session->arena_bytes : 0;
}

/* ---- Runs over the doorbell ------------------------------------------------------------ */

static long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* The client reconnected to another daemon process: this session's is gone. */
static bool daemon_changed(const infd_session *s)
{
	int64_t now = infd_client_daemon_pid(s->client);
	return s->daemon_pid > 0 && now > 0 && now != s->daemon_pid;
}

static infd_status run_doorbell(infd_session *s, uint32_t timeout_ms)
{
	struct infd_shm_control *ctl = s->ctl;
	if (daemon_changed(s))
		return fail(s, INFD_NOT_CONNECTED,
			    "the infd daemon restarted (pid %lld, now %lld): this session is gone, open a new one",
			    (long long)s->daemon_pid, (long long)infd_client_daemon_pid(s->client));
	if (s->doorbell_pending) {
		uint32_t done = __atomic_load_n(&ctl->done_seq, __ATOMIC_ACQUIRE);
		if (done != s->doorbell_pending)
			return fail(s, INFD_BUSY,
				    "the previous request of this session (which timed out) is still "
				    "running");
		s->doorbell_pending = 0;
	}
	__atomic_store_n(&ctl->timeout_ms, timeout_ms, __ATOMIC_RELAXED);
	__atomic_store_n(&ctl->priority, s->priority, __ATOMIC_RELAXED);
	/* Release: the inputs and the request fields above are visible before the ring. */
	uint32_t seq = __atomic_add_fetch(&ctl->req_seq, 1, __ATOMIC_SEQ_CST);
	futex(&ctl->req_seq, FUTEX_WAKE, 1, NULL);

	uint64_t start = now_ms(), stopped_at = 0;
	uint32_t done;
	for (int i = 0; i < DOORBELL_SPINS; i++) {
		if ((done = __atomic_load_n(&ctl->done_seq, __ATOMIC_ACQUIRE)) == seq)
			goto finished;
		cpu_relax();
	}
	for (;;) {
		__atomic_store_n(&ctl->client_waiting, 1, __ATOMIC_SEQ_CST);
		done = __atomic_load_n(&ctl->done_seq, __ATOMIC_SEQ_CST);
		if (done == seq)
			break;
		uint64_t waited = now_ms() - start;
		if (timeout_ms && waited >= timeout_ms) {
			__atomic_store_n(&ctl->client_waiting, 0, __ATOMIC_RELAXED);
			s->doorbell_pending = seq;
			return fail(s, INFD_TIMEOUT, "no answer from the daemon within %u ms", timeout_ms);
		}
		uint64_t slice = DOORBELL_SLICE_MS;
		if (timeout_ms && timeout_ms - waited < slice)
			slice = timeout_ms - waited;
		struct timespec ts = {.tv_sec = (time_t)(slice / 1000), .tv_nsec = (long)(slice % 1000) * 1000000L};
		bool timed_out = futex(&ctl->done_seq, FUTEX_WAIT, done, &ts) != 0 && errno == ETIMEDOUT;
		if (__atomic_load_n(&ctl->done_seq, __ATOMIC_ACQUIRE) == seq)
			continue;
		if (timed_out && (infd__daemon_gone(s->client) || daemon_changed(s))) {
			s->doorbell_pending = seq;
			return fail(s, INFD_NOT_CONNECTED,
				    "lost the infd daemon (pid %lld) this session belonged to: did it "
				    "exit?",
				    (long long)s->daemon_pid);
		}
		/* The daemon stops listening (doorbell = 0) and wakes us when the session
		 * closes or it shuts down; a request it had taken still completes. */
		if (!doorbell_listening(s)) {
			if (!stopped_at)
				stopped_at = now_ms();
			else if (now_ms() - stopped_at >= DOORBELL_SLICE_MS) {
				s->doorbell_pending = seq;
				return fail(s, INFD_SHUTTING_DOWN,
					    "the daemon stopped listening on this session's doorbell (the session was "
					    "closed or the daemon is shutting down)");
			}
		}
	}
	__atomic_store_n(&ctl->client_waiting, 0, __ATOMIC_RELAXED);
finished:;
	uint32_t st = __atomic_load_n(&ctl->status, __ATOMIC_ACQUIRE);
	s->run_info = (infd_run_info){
	    .exec_ns = __atomic_load_n(&ctl->exec_ns, __ATOMIC_RELAXED),
	    .queue_ns = __atomic_load_n(&ctl->queue_ns, __ATOMIC_RELAXED),
	    .sequence = seq,
	    .transport = INFD_TRANSPORT_DOORBELL,
	};
	s->has_run_info = true;
	if (st != INFD_OK)
		return fail(s, (infd_status)st,
			    "the daemon answered %s: %s (the doorbell carries no details; the nng "
			    "transport does)",
			    infd_status_name((infd_status)st), infd_strerror((infd_status)st));
	return INFD_OK;
}

/* ---- Runs over nng ----------------------------------------------------------------------- */

static void put_run_msg(infd_session *s, uint32_t timeout_ms)
{
	struct infd_run_request r = {.session = s->id, .timeout_ms = timeout_ms, .priority = (uint8_t)s->priority};
	infd__proto_put_header(s->run_msg, INFD_MSG_RUN, 0, INFD_RUN_REQUEST_SIZE);
	infd__proto_put_run_request(s->run_msg + INFD_PROTO_HEADER_SIZE, &r);
}

/* Decode a RUN reply (header already checked); fills run_info or why[]. */
static infd_status decode_run_reply(infd_session *s, nng_msg *r, const struct infd_msg_header *h, char *why,
				    size_t why_size)
{
	const uint8_t *body = (const uint8_t *)nng_msg_body(r) + INFD_PROTO_HEADER_SIZE;
	if (h->status != INFD_OK) {
		char detail[256];
		json_t *obj = h->length ? infd__proto_get_json(body, h->length, detail, sizeof detail) : NULL;
		const char *e = json_string_value(json_object_get(obj, "error"));
		if (e)
			infd__fmt(why, why_size, "%s", e);
		else
			infd__fmt(why, why_size, "the daemon answered %s: %s", infd_status_name((infd_status)h->status),
				  infd_strerror((infd_status)h->status));
		json_decref(obj);
		return (infd_status)h->status;
	}
	struct infd_run_reply rr;
	if (infd__proto_get_run_reply(body, h->length, &rr) != INFD_OK) {
		infd__fmt(why, why_size, "RUN reply body has %u bytes, expected %d", h->length, INFD_RUN_REPLY_SIZE);
		return INFD_PROTOCOL;
	}
	s->run_info = (infd_run_info){
	    .exec_ns = rr.exec_ns,
	    .queue_ns = rr.queue_ns,
	    .sequence = rr.sequence,
	    .transport = INFD_TRANSPORT_NNG,
	};
	s->has_run_info = true;
	return INFD_OK;
}

static infd_status run_nng(infd_session *s, uint32_t timeout_ms)
{
	char why[INFD__ERR_MAX];
	put_run_msg(s, timeout_ms);
	nng_msg *r;
	struct infd_msg_header h;
	infd_status st = infd__exchange(s->client, s->ctx, &s->w, s->run_msg, sizeof s->run_msg, timeout_ms, &r, &h,
					why, sizeof why);
	if (st == INFD_OK) {
		st = decode_run_reply(s, r, &h, why, sizeof why);
		nng_msg_free(r);
	}
	if (st)
		fail(s, st, "%s", why);
	return st;
}

/* Wait until no async run is completing; answers BUSY while one is in flight. */
static infd_status check_idle(infd_session *s)
{
	pthread_mutex_lock(&s->mu);
	while (s->astate == ASYNC_COMPLETING)
		pthread_cond_wait(&s->cv, &s->mu);
	enum async_state a = s->astate;
	pthread_mutex_unlock(&s->mu);
	if (a != ASYNC_IDLE)
		return fail(s, INFD_BUSY, "an asynchronous run of this session is in flight");
	return INFD_OK;
}

infd_status infd_session_run(infd_session *session, uint32_t timeout_ms)
{
	if (!session)
		return INFD_INVALID_ARGUMENT;
	infd_status st = check_idle(session);
	if (st)
		return st;
	session->err[0] = '\0';
	switch (session->transport) {
	case INFD_TRANSPORT_NNG:
		return run_nng(session, timeout_ms);
	case INFD_TRANSPORT_DOORBELL:
		if (!doorbell_listening(session))
			return fail(session, INFD_UNSUPPORTED,
				    "the daemon does not listen on this session's doorbell (use the nng transport)");
		return run_doorbell(session, timeout_ms);
	default:
		if (!session->no_doorbell_env && doorbell_listening(session))
			return run_doorbell(session, timeout_ms);
		return run_nng(session, timeout_ms);
	}
}

/* ---- Asynchronous runs (nng aio; the callback runs on an nng thread) ------------------------- */

static void async_finish(infd_session *s, infd_status st)
{
	pthread_mutex_lock(&s->mu);
	s->astate = ASYNC_COMPLETING;
	s->astatus = st;
	infd_done_fn done = s->adone;
	void *ud = s->aud;
	pthread_mutex_unlock(&s->mu);
	if (done)
		done(ud, st);
	pthread_mutex_lock(&s->mu);
	s->astate = ASYNC_IDLE;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void async_cb(void *arg)
{
	infd_session *s = arg;
	char why[INFD__ERR_MAX];
	int rv = nng_aio_result(s->aio_cb);
	pthread_mutex_lock(&s->mu);
	bool sending = s->astate == ASYNC_SENDING;
	pthread_mutex_unlock(&s->mu);
	if (sending) {
		if (rv) {
			nng_msg_free(nng_aio_get_msg(s->aio_cb));
			infd_status st = infd__nng_status(s->client, rv, s->atimeout_ms, why, sizeof why);
			fail(s, st, "%s", why);
			async_finish(s, st);
			return;
		}
		pthread_mutex_lock(&s->mu);
		s->astate = ASYNC_RECEIVING;
		pthread_mutex_unlock(&s->mu);
		nng_duration left = NNG_DURATION_INFINITE;
		if (s->adeadline_ms) {
			uint64_t now = now_ms();
			left = now >= s->adeadline_ms ? 1 : (nng_duration)(s->adeadline_ms - now);
		}
		nng_aio_set_timeout(s->aio_cb, left);
		nng_ctx_recv(s->ctx, s->aio_cb);
		return;
	}
	infd_status st;
	pthread_mutex_lock(&s->mu);
	if (s->agone && rv)
		rv = NNG_ECONNRESET;
	pthread_mutex_unlock(&s->mu);
	if (rv) {
		st = infd__nng_status(s->client, rv, s->atimeout_ms, why, sizeof why);
	} else {
		nng_msg *r = nng_aio_get_msg(s->aio_cb);
		struct infd_msg_header h;
		char detail[256];
		st = infd__proto_get_header(nng_msg_body(r), nng_msg_len(r), &h, detail, sizeof detail);
		if (st)
			infd__fmt(why, sizeof why, "bad RUN reply from the infd daemon: %s", detail);
		else if (h.type != INFD_MSG_RUN) {
			st = INFD_PROTOCOL;
			infd__fmt(why, sizeof why, "the infd daemon answered RUN with a %s reply",
				  infd__msg_name(h.type));
		} else
			st = decode_run_reply(s, r, &h, why, sizeof why);
		nng_msg_free(r);
	}
	if (st)
		fail(s, st, "%s", why);
	async_finish(s, st);
}

infd_status infd_session_run_async(infd_session *session, uint32_t timeout_ms, infd_done_fn done, void *user_data)
{
	if (!session)
		return INFD_INVALID_ARGUMENT;
	infd_status st = check_idle(session);
	if (st)
		return st;
	nng_msg *m;
	int rv = nng_msg_alloc(&m, 0);
	put_run_msg(session, timeout_ms);
	if (rv == 0 && (rv = nng_msg_append(m, session->run_msg, sizeof session->run_msg)) != 0)
		nng_msg_free(m);
	if (rv) {
		char why[INFD__ERR_MAX];
		st = infd__nng_status(session->client, rv, timeout_ms, why, sizeof why);
		return fail(session, st, "%s", why);
	}
	session->err[0] = '\0';
	pthread_mutex_lock(&session->mu);
	session->astate = ASYNC_SENDING;
	session->astatus = INFD_OK;
	session->agone = false;
	session->adone = done;
	session->aud = user_data;
	session->atimeout_ms = timeout_ms;
	session->adeadline_ms = timeout_ms ? now_ms() + timeout_ms : 0;
	pthread_mutex_unlock(&session->mu);
	nng_aio_set_msg(session->aio_cb, m);
	nng_aio_set_timeout(session->aio_cb, timeout_ms ? (nng_duration)timeout_ms : NNG_DURATION_INFINITE);
	nng_ctx_send(session->ctx, session->aio_cb);
	return INFD_OK;
}

infd_status infd_session_wait(infd_session *session)
{
	if (!session)
		return INFD_INVALID_ARGUMENT;
	pthread_mutex_lock(&session->mu);
	bool cancelled = false;
	while (session->astate != ASYNC_IDLE) {
		/* Check every slice that the daemon is still there; abandon the run
		 * (the callback then reports NOT_CONNECTED) when it is not. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&session->cv, &session->mu, &ts) == ETIMEDOUT && !cancelled &&
		    (session->astate == ASYNC_SENDING || session->astate == ASYNC_RECEIVING) &&
		    infd__daemon_gone(session->client)) {
			cancelled = true;
			session->agone = true;
			pthread_mutex_unlock(&session->mu);
			nng_aio_cancel(session->aio_cb);
			pthread_mutex_lock(&session->mu);
		}
	}
	infd_status st = session->astatus;
	session->astatus = INFD_OK;
	pthread_mutex_unlock(&session->mu);
	return st;
}
