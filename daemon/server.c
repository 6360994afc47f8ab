/* The daemon's life: configuration, the nng listener (contexts whose callbacks
 * only queue work and wake the loop), the libuv loop with its signals and
 * timers, systemd notification, and an orderly shutdown that finishes every
 * accepted request. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backends/backends.h"
#include "daemon.h"
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#define N_CONNS 32

uint64_t infd__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- systemd ----------------------------------------------------------------------- */

void infd__notify(const char *fmt, ...)
{
	const char *path = getenv("NOTIFY_SOCKET");
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!path || !*path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path));
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

/* ---- replies (loop thread) --------------------------------------------------------- */

static void send_msg(struct infd_conn *c, const uint8_t *buf, size_t size)
{
	nng_msg *msg;
	if (nng_msg_alloc(&msg, 0) != 0 || nng_msg_append(msg, buf, size) != 0) {
		fprintf(stderr, "infd: out of memory replying\n");
		return;
	}
	c->sending = true;
	nng_aio_set_msg(c->aio, msg);
	nng_ctx_send(c->ctx, c->aio);
}

void infd__reply_json(struct infd_conn *c, uint32_t type, json_t *obj)
{
	size_t size;
	uint8_t *buf = infd__proto_encode_json(type, INFD_OK, obj, &size);
	json_decref(obj);
	if (!buf) {
		infd__reply_status(c, type, INFD_NO_MEMORY, "reply too large or out of memory");
		return;
	}
	send_msg(c, buf, size);
	free(buf);
}

void infd__reply_status(struct infd_conn *c, uint32_t type, infd_status st, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	json_t *o = json_pack("{s:s, s:s}", "error", text, "status", infd_status_name(st));
	size_t size;
	uint8_t *buf = infd__proto_encode_json(type, st, o, &size);
	json_decref(o);
	if (buf) {
		send_msg(c, buf, size);
		free(buf);
	}
}

/* ---- nng side (nng threads: queue and wake only) ----------------------------------- */

static void conn_recv(struct infd_conn *c)
{
	c->sending = false;
	nng_ctx_recv(c->ctx, c->aio);
}

static void conn_cb(void *arg)
{
	struct infd_conn *c = arg;
	struct infd_daemon *d = c->d;
	int rv = nng_aio_result(c->aio);
	if (c->sending) {
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(c->aio));
		if (rv != NNG_ECLOSED)
			conn_recv(c);
		return;
	}
	if (rv != 0) {
		if (rv != NNG_ECLOSED)
			conn_recv(c);
		return;
	}
	c->msg = nng_aio_get_msg(c->aio);
	nng_pipe p = nng_msg_get_pipe(c->msg);
	uint64_t v;
	c->uid = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &v) == 0 ? (uid_t)v : (uid_t)-1;
	c->gid = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_GID, &v) == 0 ? (gid_t)v : (gid_t)-1;
	c->pid = nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &v) == 0 ? (pid_t)v : 0;
	c->pipe_id = nng_pipe_id(p) > 0 ? (uint32_t)nng_pipe_id(p) : 0;
	if (infd__handle_run_fast(d, c))
		return; /* the worker replies */
	pthread_mutex_lock(&d->ready_lock);
	c->next_ready = NULL;
	if (d->ready_tail)
		d->ready_tail->next_ready = c;
	else
		d->ready_head = c;
	d->ready_tail = c;
	pthread_mutex_unlock(&d->ready_lock);
	uv_async_send(&d->ready_async);
}

static void pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct infd_daemon *d = arg;
	if (ev != NNG_PIPE_EV_REM_POST)
		return;
	pthread_mutex_lock(&d->gone_lock);
	if (d->n_gone < sizeof d->gone / sizeof d->gone[0])
		d->gone[d->n_gone++] = (uint32_t)nng_pipe_id(p);
	else
		d->gone_overflow = true;
	pthread_mutex_unlock(&d->gone_lock);
	uv_async_send(&d->gone_async);
}

/* ---- listener health (nng 1.5.2 issue #1518) --------------------------------------- */

/* One HELLO round trip on a fresh REQ socket: true when the listener answers. */
static bool listener_answers(const struct infd_daemon *d)
{
	nng_socket s;
	char url[1100];
	bool ok = false;
	snprintf(url, sizeof url, "ipc://%s", d->socket_path);
	if (nng_req0_open(&s) != 0)
		return true; /* cannot tell: assume fine */
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 1000);
	uint8_t msg[INFD_PROTO_HEADER_SIZE];
	infd__proto_put_header(msg, INFD_MSG_HELLO, 0, 0);
	if (nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK) == 0 && nng_send(s, msg, sizeof msg, 0) == 0) {
		char *rep;
		size_t len;
		if (nng_recv(s, &rep, &len, NNG_FLAG_ALLOC) == 0) {
			ok = true;
			nng_free(rep, len);
		}
	}
	nng_close(s);
	return ok;
}

static void *health_main(void *arg)
{
	struct infd_daemon *d = arg;
	int misses = 0;
	while (!atomic_load(&d->health_stop)) {
		for (int i = 0; i < 20 && !atomic_load(&d->health_stop); i++)
			usleep(100 * 1000);
		if (atomic_load(&d->health_stop))
			break;
		misses = listener_answers(d) ? 0 : misses + 1;
		if (misses >= 2) {
			uv_async_send(&d->revive_async);
			misses = 0;
		}
	}
	return NULL;
}

/* A new listener on the same path; connections of the old one go on working. */
static void on_revive(uv_async_t *h)
{
	struct infd_daemon *d = h->data;
	char url[1100];
	nng_listener l;
	if (d->shutting_down)
		return;
	snprintf(url, sizeof url, "ipc://%s", d->socket_path);
	unlink(d->socket_path);
	int rv = nng_listener_create(&l, d->sock, url);
	if (rv == 0)
		rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0666);
	if (rv == 0)
		rv = nng_listener_start(l, 0);
	d->listener_revivals++;
	fprintf(stderr, "infd: the nng listener stopped accepting (nng bug #1518); %s a new one on %s\n",
		rv == 0 ? "started" : "could not start", d->socket_path);
	if (rv == 0)
		d->listener = l;
}

/* ---- loop side --------------------------------------------------------------------- */

static void on_ready(uv_async_t *h)
{
	struct infd_daemon *d = h->data;
	for (;;) {
		pthread_mutex_lock(&d->ready_lock);
		struct infd_conn *c = d->ready_head;
		if (c) {
			d->ready_head = c->next_ready;
			if (!d->ready_head)
				d->ready_tail = NULL;
		}
		pthread_mutex_unlock(&d->ready_lock);
		if (!c)
			return;
		if (d->shutting_down) {
			infd__reply_status(c, INFD_MSG_HELLO, INFD_SHUTTING_DOWN, "the daemon is shutting down");
		} else {
			infd__handle_request(d, c);
		}
		nng_msg_free(c->msg);
		c->msg = NULL;
	}
}

/* A request finished on a model being unloaded or a closing session. */
static void on_done(uv_async_t *h)
{
	struct infd_daemon *d = h->data;
	infd__model_check_unloads(d);
	infd__sessions_sweep(d);
}

static void on_gone(uv_async_t *h)
{
	struct infd_daemon *d = h->data;
	uint32_t ids[64], n;
	bool overflow;
	pthread_mutex_lock(&d->gone_lock);
	n = d->n_gone;
	memcpy(ids, d->gone, n * sizeof ids[0]);
	overflow = d->gone_overflow;
	d->n_gone = 0;
	d->gone_overflow = false;
	pthread_mutex_unlock(&d->gone_lock);
	for (uint32_t i = 0; i < n; i++)
		infd__sessions_close_pipe(d, ids[i]);
	if (overflow) {
		/* Too many at once: check every session's pipe. */
		for (struct infd_session *s = d->sessions, *next; s; s = next) {
			next = s->next;
			nng_pipe p = NNG_PIPE_INITIALIZER;
			(void)p;
			infd__sessions_close_pipe(d, s->pipe_id);
		}
	}
}

static void on_sweep(uv_timer_t *t)
{
	struct infd_daemon *d = t->data;
	infd__sessions_sweep(d);
	infd__model_check_unloads(d);
}

static void on_watchdog(uv_timer_t *t)
{
	infd__notify("WATCHDOG=1");
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void begin_shutdown(struct infd_daemon *d, const char *why)
{
	if (d->shutting_down)
		return;
	d->shutting_down = true;
	fprintf(stderr, "infd: %s: finishing accepted requests, then exiting\n", why);
	if (d->health_running) {
		atomic_store(&d->health_stop, true);
		pthread_join(d->health_thread, NULL);
		d->health_running = false;
	}
	infd__notify("STOPPING=1\nSTATUS=shutting down (%s)", why);
	/* Workers finish every queued request; the replies go out below. */
	infd__sched_stop(d);
	on_done(&d->done_async);
	struct infd_session *s = d->sessions, *next;
	for (; s; s = next) {
		next = s->next;
		infd__session_close(d, s);
	}
	/* Give nng a moment to flush the last replies, then close everything. */
	struct timespec ts = {0, 50 * 1000000};
	nanosleep(&ts, NULL);
	nng_close(d->sock);
	infd__fd_server_stop(d);
	unlink(d->socket_path);
	uv_walk(&d->loop, close_walk, NULL);
}

static void apply_config(struct infd_daemon *d, const struct infd_config *cfg)
{
	if (cfg->threads != d->cfg.threads || cfg->workers != d->cfg.workers)
		fprintf(stderr, "infd: threads/workers changes take effect at the next start\n");
	if (strcmp(cfg->socket, d->cfg.socket) != 0)
		fprintf(stderr, "infd: a socket change takes effect at the next start\n");
	struct infd_config old = d->cfg;
	d->cfg = *cfg;
	d->cfg.threads = old.threads;
	d->cfg.workers = old.workers;
	snprintf(d->cfg.socket, sizeof d->cfg.socket, "%s", old.socket);
	pthread_mutex_lock(&d->queue.lock);
	d->queue.max_depth = cfg->queue_depth;
	pthread_mutex_unlock(&d->queue.lock);
	/* Models: unload those the new config dropped, load the new ones. */
	for (uint32_t i = 0; i < old.n_models; i++) {
		bool kept = false;
		for (uint32_t k = 0; k < cfg->n_models && !kept; k++)
			kept = strcmp(old.models[i].name, cfg->models[k].name) == 0;
		struct infd_model *m = infd__model_find(d, old.models[i].name);
		if (!kept && m && m->state == INFD_MODEL_READY)
			infd__model_begin_unload(d, m);
	}
	for (uint32_t k = 0; k < cfg->n_models; k++) {
		struct infd_model *m = infd__model_find(d, cfg->models[k].name);
		struct infd_error err = {0};
		if (m && strcmp(m->inst->path, cfg->models[k].path) != 0)
			fprintf(stderr, "infd: model %s: a new path takes effect after 'infctl unload' + reload of the config\n",
				m->name);
		if (!m && infd__model_load(d, cfg->models[k].name, cfg->models[k].path, &cfg->models[k].devices, NULL, &err) != INFD_OK)
			fprintf(stderr, "infd: model %s: %s\n", cfg->models[k].name, err.msg);
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct infd_daemon *d = h->data;
	if (signum != SIGHUP) {
		begin_shutdown(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
		return;
	}
	if (!d->config_path[0]) {
		fprintf(stderr, "infd: SIGHUP: running on the built-in default config; nothing to reload\n");
		return;
	}
	infd__notify("RELOADING=1");
	struct infd_config *cfg = malloc(sizeof *cfg);
	struct infd_error err = {0};
	if (cfg && infd__config_load_file(d->config_path, cfg, &err) == INFD_OK) {
		apply_config(d, cfg);
		fprintf(stderr, "infd: SIGHUP: configuration reloaded from %s\n", d->config_path);
	} else {
		fprintf(stderr, "infd: SIGHUP: %s; keeping the current configuration\n", cfg ? err.msg : "out of memory");
	}
	free(cfg);
	infd__notify("READY=1\nSTATUS=serving");
}

/* ---- start-up ---------------------------------------------------------------------- */

static infd_status default_socket(char *out, size_t n, struct infd_error *err)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[900];
	if (geteuid() == 0)
		snprintf(dir, sizeof dir, "/run/infd");
	else if (xdg && *xdg)
		snprintf(dir, sizeof dir, "%s/infd", xdg);
	else
		snprintf(dir, sizeof dir, "/tmp/infd-%d", (int)geteuid());
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return infd__fail(err, INFD_IO, "cannot create %s: %s", dir, strerror(errno));
	snprintf(out, n, "%s/infd.sock", dir);
	return INFD_OK;
}

/* Refuse to start over a live daemon; remove a socket file a dead one left. */
static void log_backend(void *ud, const char *line)
{
	(void)ud;
	fprintf(stderr, "infd: %s\n", line);
}

/* The pipeline-cache directory: the configured one, systemd's CacheDirectory=,
 * or the user's cache; created when missing. Empty when none can be had. */
static void resolve_cache_dir(const struct infd_config *cfg, char *out, size_t size)
{
	const char *env = getenv("CACHE_DIRECTORY"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	out[0] = '\0';
	if (cfg->cache_dir[0])
		snprintf(out, size, "%s", cfg->cache_dir);
	else if (env && env[0] == '/')
		snprintf(out, size, "%s", env);
	else if (xdg && xdg[0] == '/')
		snprintf(out, size, "%s/infd", xdg);
	else if (home && home[0] == '/' && geteuid() != 0)
		snprintf(out, size, "%s/.cache/infd", home);
	if (!out[0])
		return;
	/* mkdir -p, one level at a time */
	for (char *p = out + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(out, 0700) != 0 && errno != EEXIST) {
				fprintf(stderr, "infd: cache directory %s: %s (no pipeline cache)\n", out, strerror(errno));
				out[0] = '\0';
				return;
			}
			*p = c;
			if (!c)
				break;
		}
	}
}

static void setup_backends(struct infd_daemon *d)
{
	struct infd_backends_config bc;
	infd__backends_config_default(&bc);
	resolve_cache_dir(&d->cfg, d->cache_dir, sizeof d->cache_dir);
	bc.xnnpack = d->cfg.xnnpack;
	bc.vulkan = d->cfg.vulkan.enabled;
	bc.vulkan_software = d->cfg.vulkan.software;
	bc.vulkan_fp16 = d->cfg.vulkan.fp16;
	bc.vulkan_device = d->cfg.vulkan.device[0] ? d->cfg.vulkan.device : NULL;
	bc.cache_dir = d->cache_dir[0] ? d->cache_dir : NULL;
	bc.plugin_dir = d->cfg.plugin_dir[0] ? d->cfg.plugin_dir : NULL;
	bc.log = log_backend;
	infd__backends_setup(d->rt, &bc);
	/* A backend name that matches nothing present is worth a warning: a typo, or
	 * a plugin that did not load. (Kinds are generic: a machine without an NPU is
	 * normal.) */
	for (uint32_t i = 0; i < d->cfg.devices.n; i++) {
		const char *want = d->cfg.devices.names[i];
		bool found = strcmp(want, "npu") == 0 || strcmp(want, "gpu") == 0 || strcmp(want, "cpu") == 0;
		for (uint32_t b = 0; b < d->rt->n_backends && !found; b++)
			found = infd__runtime_backend_is(d->rt, b, want);
		if (!found)
			fprintf(stderr, "infd: devices: nothing here matches '%s'; it is skipped\n", want);
	}
}

static infd_status claim_socket(const char *path, struct infd_error *err)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return INFD_OK;
	if (!S_ISSOCK(st.st_mode))
		return infd__fail(err, INFD_IO, "%s exists and is not a socket", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path - 3) {
		if (fd >= 0)
			close(fd);
		return infd__fail(err, INFD_INVALID_ARGUMENT, "socket path %s is too long (at most %zu bytes)", path,
				  sizeof sa.sun_path - 4);
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int r = fd >= 0 ? connect(fd, (struct sockaddr *)&sa, sizeof sa) : -1;
	if (fd >= 0)
		close(fd);
	if (r == 0)
		return infd__fail(err, INFD_IO, "another infd is already listening on %s", path);
	unlink(path);
	return INFD_OK;
}

static infd_status start_listener(struct infd_daemon *d, struct infd_error *err)
{
	char url[1100];
	int rv;
	snprintf(url, sizeof url, "ipc://%s", d->socket_path);
	if ((rv = nng_rep0_open(&d->sock)) != 0)
		return infd__fail(err, INFD_IO, "nng: %s", nng_strerror(rv));
	nng_socket_set_size(d->sock, NNG_OPT_RECVMAXSZ, 16u << 20);
	nng_pipe_notify(d->sock, NNG_PIPE_EV_REM_POST, pipe_event, d);
	if ((rv = nng_listener_create(&d->listener, d->sock, url)) != 0 ||
	    (rv = nng_listener_set_int(d->listener, NNG_OPT_IPC_PERMISSIONS, 0666)) != 0 ||
	    (rv = nng_listener_start(d->listener, 0)) != 0)
		return infd__fail(err, INFD_IO, "cannot listen on %s: %s", d->socket_path, nng_strerror(rv));
	d->conns = calloc(N_CONNS, sizeof *d->conns);
	if (!d->conns)
		return infd__fail(err, INFD_NO_MEMORY, "out of memory");
	for (uint32_t i = 0; i < N_CONNS; i++) {
		struct infd_conn *c = &d->conns[i];
		c->d = d;
		if ((rv = nng_ctx_open(&c->ctx, d->sock)) != 0 || (rv = nng_aio_alloc(&c->aio, conn_cb, c)) != 0)
			return infd__fail(err, INFD_IO, "nng: %s", nng_strerror(rv));
		d->n_conns++;
		conn_recv(c);
	}
	return INFD_OK;
}

int infd__daemon_run(const char *config_path, const char *socket_override, bool check_only)
{
	struct infd_daemon *d = calloc(1, sizeof *d);
	struct infd_error err = {0};
	int rc = 1;
	if (!d)
		return 1;
	d->started_ns = infd__now_ns();
	infd_status st = config_path ? infd__config_load_file(config_path, &d->cfg, &err)
				     : infd__config_parse(infd__default_config(), "(built-in default)", &d->cfg, &err);
	if (st) {
		fprintf(stderr, "infd: %s\n", err.msg);
		free(d);
		return 2;
	}
	if (check_only) {
		printf("%s: configuration is valid (%u model%s)\n", d->cfg.source, d->cfg.n_models,
		       d->cfg.n_models == 1 ? "" : "s");
		free(d);
		return 0;
	}
	if (config_path)
		snprintf(d->config_path, sizeof d->config_path, "%s", config_path);
	if (socket_override)
		snprintf(d->socket_path, sizeof d->socket_path, "%s", socket_override);
	else if (d->cfg.socket[0])
		snprintf(d->socket_path, sizeof d->socket_path, "%s", d->cfg.socket);
	else if (default_socket(d->socket_path, sizeof d->socket_path, &err) != INFD_OK)
		goto out_print;
	if (claim_socket(d->socket_path, &err) != INFD_OK)
		goto out_print;

	struct infd_runtime_options ropt;
	infd__runtime_options_default(&ropt);
	ropt.n_threads = d->cfg.threads;
	if (infd__runtime_create(&ropt, &d->rt, &err) != INFD_OK)
		goto out_print;
	setup_backends(d);
	uv_loop_init(&d->loop);
	pthread_mutex_init(&d->ready_lock, NULL);
	pthread_mutex_init(&d->gone_lock, NULL);
	pthread_mutex_init(&d->session_lock, NULL);
	uv_async_init(&d->loop, &d->ready_async, on_ready);
	uv_async_init(&d->loop, &d->done_async, on_done);
	uv_async_init(&d->loop, &d->gone_async, on_gone);
	uv_async_init(&d->loop, &d->revive_async, on_revive);
	d->ready_async.data = d->done_async.data = d->gone_async.data = d->revive_async.data = d;

	/* Models first: READY means the configured models are loaded. */
	infd__notify("STATUS=loading %u model(s)", d->cfg.n_models);
	for (uint32_t i = 0; i < d->cfg.n_models; i++) {
		const struct infd_model_config *mc = &d->cfg.models[i];
		if (infd__model_load(d, mc->name, mc->path, &mc->devices, NULL, &err) != INFD_OK) {
			fprintf(stderr, "infd: model %s: %s\n", mc->name, err.msg);
			goto out_loop;
		}
	}
	if (infd__sched_start(d, &err) != INFD_OK || start_listener(d, &err) != INFD_OK ||
	    infd__fd_server_start(d, &err) != INFD_OK) {
		fprintf(stderr, "infd: %s\n", err.msg);
		goto out_loop;
	}
	uv_signal_init(&d->loop, &d->sig_term);
	uv_signal_init(&d->loop, &d->sig_int);
	uv_signal_init(&d->loop, &d->sig_hup);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	uv_signal_start(&d->sig_int, on_signal, SIGINT);
	uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	uv_timer_init(&d->loop, &d->sweep_timer);
	d->sweep_timer.data = d;
	uv_timer_start(&d->sweep_timer, on_sweep, 250, 250);
	const char *wd = getenv("WATCHDOG_USEC"), *wd_pid = getenv("WATCHDOG_PID");
	if (wd && (!wd_pid || atoi(wd_pid) == (int)getpid())) {
		d->watchdog_usec = strtoull(wd, NULL, 10);
		if (d->watchdog_usec) {
			uv_timer_init(&d->loop, &d->watchdog_timer);
			uint64_t ms = d->watchdog_usec / 2000u;
			uv_timer_start(&d->watchdog_timer, on_watchdog, ms ? ms : 1, ms ? ms : 1);
		}
	}
	if (pthread_create(&d->health_thread, NULL, health_main, d) == 0)
		d->health_running = true;
	fprintf(stderr, "infd %s: listening on %s (%u model%s, %u worker%s, config %s)\n", INFD_VERSION_STRING,
		d->socket_path, d->cfg.n_models, d->cfg.n_models == 1 ? "" : "s", d->n_workers,
		d->n_workers == 1 ? "" : "s", d->cfg.source);
	infd__notify("READY=1\nSTATUS=serving %u model(s) on %s", d->cfg.n_models, d->socket_path);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	rc = 0;
	goto out_free;
out_print:
	fprintf(stderr, "infd: %s\n", err.msg);
	infd__runtime_destroy(d->rt);
	free(d);
	return 1;
out_loop:
	if (d->health_running) {
		atomic_store(&d->health_stop, true);
		pthread_join(d->health_thread, NULL);
	}
	if (d->n_workers)
		infd__sched_stop(d);
	if (d->n_conns)
		nng_close(d->sock);
	uv_walk(&d->loop, close_walk, NULL);
	uv_run(&d->loop, UV_RUN_DEFAULT);
out_free:
	for (uint32_t i = 0; i < d->n_conns; i++)
		nng_aio_free(d->conns[i].aio);
	free(d->conns);
	uv_loop_close(&d->loop);
	infd__models_free(d);
	infd__runtime_destroy(d->rt);
	free(d);
	return rc;
}
